/* ioctl, TUNSETIFF: Linux declarations. */
#define _GNU_SOURCE

#include "host/tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef __linux__
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

int host_tap_open(const char *name, char *err, size_t errcap) {
  struct ifreq ifr;
  if (!name || !*name || strlen(name) >= sizeof ifr.ifr_name) {
    snprintf(err, errcap, "'%s' is not an interface name (1 to %zu characters)", name ? name : "",
             sizeof ifr.ifr_name - 1);
    return -1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errcap, "cannot open /dev/net/tun: %s", strerror(errno));
    return -1;
  }
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: plain Ethernet frames, as the device's backend moves them */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    snprintf(err, errcap, "cannot attach to TAP '%s': %s%s", name, strerror(errno),
             errno == EPERM ? " (needs CAP_NET_ADMIN)" : "");
    close(fd);
    return -1;
  }
  return fd;
}

#else

int host_tap_open(const char *name, char *err, size_t errcap) {
  (void)name;
  snprintf(err, errcap, "TAP interfaces are Linux-only in this build");
  return -1;
}

#endif
