/* What stack/iface.c and stack/iface6.c share inside the interface: the
 * frame output and the queue of packets waiting for their next hop's MAC
 * (ARP for IPv4, Neighbor Discovery for IPv6). Not for other modules. */
#ifndef VNETSIM_STACK_IFACE_PRIV_H
#define VNETSIM_STACK_IFACE_PRIV_H

#include "stack/iface.h"

/* ---- iface.c ---- */

/* Writes the Ethernet header from our MAC to dst_mac at frame. */
void net_iface_priv_eth_header(const net_iface *ifc, uint8_t *frame, const uint8_t *dst_mac,
                               uint16_t ethertype);
/* Hands a frame to the port, counted in tx_frames; not a reply to the
 * frame being received (ARP requests, Neighbor Solicitations). */
int net_iface_priv_transmit(net_iface *ifc, const uint8_t *frame, size_t len, uint64_t now_ns);
/* Sends the len-byte frame in scratch; counted as a reply to the frame
 * being received, if any. */
int net_iface_priv_transmit_scratch(net_iface *ifc, size_t len, uint64_t now_ns);
/* Queues the frame in scratch for next_hop (IPv4), or, with hop6, for that
 * IPv6 neighbour (next_hop then NET_IFACE_NEXT_HOP_IPV6). */
int net_iface_priv_pending_add(net_iface *ifc, uint32_t next_hop, const uint8_t *hop6, size_t len,
                               uint64_t now_ns);
/* Sends (mac given) or drops the frames queued for next_hop / hop6 and ends
 * its resolution; returns how many. */
uint64_t net_iface_priv_pending_take(net_iface *ifc, uint32_t next_hop, const uint8_t *hop6,
                                     const uint8_t *mac, uint64_t now_ns);

/* ---- iface6.c ---- */

/* Sets the link-local address from the MAC and the static global one. */
void net_iface_priv_ip6_init(net_iface *ifc);
/* 1 when mac is the group address of an IPv6 multicast group we are in. */
int net_iface_priv_ip6_group_mac(const net_iface *ifc, const uint8_t *mac);
/* Handles an IPv6 packet (the Ethernet payload); returns its fate. */
emu_fate net_iface_priv_input_ipv6(net_iface *ifc, const uint8_t *pkt, size_t len, uint64_t now_ns);
/* Starts resolving ip6 (first Neighbor Solicitation) unless under way. */
void net_iface_priv_nd_wait_start(net_iface *ifc, const uint8_t *ip6, uint64_t now_ns);
void net_iface_priv_nd_wait_clear(net_iface *ifc, const uint8_t *ip6);
/* Repeats or gives up Neighbor Solicitations due at now_ns. */
void net_iface_priv_nd_poll(net_iface *ifc, uint64_t now_ns);
/* The earlier of at and the next resolution deadline. */
uint64_t net_iface_priv_nd_poll_at(const net_iface *ifc, uint64_t at);

#endif
