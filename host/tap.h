/* A TAP interface as the host side of the link: the Linux kernel's own
 * network stack is then the guest's peer (ARP, ping, TCP), not slirp.
 *
 * Linux only (/dev/net/tun); elsewhere host_tap_open says so. */
#ifndef VNETSIM_HOST_TAP_H
#define VNETSIM_HOST_TAP_H

#include <stddef.h>

/* Attaches to the TAP interface `name` (created if it does not exist; it
 * persists only if someone made it persistent), Ethernet frames without a
 * packet-information prefix, non-blocking. Returns the descriptor, or -1
 * with a one-line reason in err (no /dev/net/tun, no CAP_NET_ADMIN, a name
 * that is not a TAP device). */
int host_tap_open(const char *name, char *err, size_t errcap);

#endif
