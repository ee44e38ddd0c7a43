/* Captures of other link types, replayed as Ethernet (what tcprewrite's
 * --dlt=enet does): the device only ever sees Ethernet frames.
 *
 * Converted: Linux cooked capture v1 and v2 (what `tcpdump -i any` writes),
 * raw IPv4/IPv6, BSD loopback (DLT_NULL, DLT_LOOP), and Ethernet with 802.1Q
 * or QinQ tags (the tags are taken off: the guest has no VLANs). Where the
 * original has no MAC addresses, they are synthesized, stably: 02:00 (a
 * locally administered prefix) followed by the IPv4 address, or by the last
 * four bytes of the IPv6 address; an ARP frame keeps its own addresses. */
#ifndef VNETSIM_HOST_LINKTYPE_H
#define VNETSIM_HOST_LINKTYPE_H

#include <stddef.h>
#include <stdint.h>

/* 1 when frames of libpcap link type dlt can be replayed. */
int host_link_supported(int dlt);
/* 1 when frames of link type dlt get synthesized MACs (it has none). */
int host_link_synthesizes_macs(int dlt);
/* 1 when a record of link type dlt must be converted: not Ethernet, or
 * Ethernet with a VLAN tag. */
int host_link_needs_conversion(int dlt, const uint8_t *in, size_t caplen);
/* One record of link type dlt as an Ethernet frame, in a new buffer (*out,
 * freed by the caller) of *outlen bytes; *grew is the header's change in
 * length (negative when it shrank), to apply to the frame's original length
 * too. -1 when the record cannot be converted (too short for its header, a
 * protocol Ethernet has no type for), 0 otherwise. */
int host_link_to_ethernet(int dlt, const uint8_t *in, size_t caplen, uint8_t **out, size_t *outlen,
                          long *grew);
/* The MAC synthesized for an IPv4 address: 02:00:a:b:c:d. */
void host_link_mac_for_ipv4(uint32_t ip, uint8_t mac[6]);

#endif
