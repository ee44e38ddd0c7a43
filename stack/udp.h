/* UDP sockets on a net_iface (RFC 768).
 *
 * A socket is a caller-owned struct bound to one local port of one iface. A
 * datagram for that port either goes to the socket's handler (when one is
 * set: services use this) or waits in the socket's small receive queue for
 * net_udp_recvfrom(). A datagram to a port nobody bound is answered with an
 * ICMP port unreachable (RFC 1122 §4.1.3.1) unless it was broadcast, and its
 * fate is NO_LISTENER.
 *
 * Nothing allocates; a socket's storage is its struct. Sending builds the
 * datagram in the iface's scratch buffer and goes out through the iface (or
 * waits for ARP there), so the same rules as net_iface_ping() apply. */
#ifndef VNETSIM_STACK_UDP_H
#define VNETSIM_STACK_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"
#include "stack/wire.h"

typedef struct net_iface net_iface;
typedef struct net_udp_sock net_udp_sock;

/* Datagrams a socket without a handler holds until read. */
#define NET_UDP_RX_SLOTS 4
/* First port handed out by net_udp_bind(..., 0) (RFC 6335 §6 dynamic range). */
#define NET_UDP_EPHEMERAL_FIRST 49152

/* Called with a datagram for the socket, valid only during the call. Returns
 * its fate: DELIVERED when consumed, ANSWERED when the handler replied. The
 * handler may send on any socket of the iface. */
typedef emu_fate (*net_udp_rx_fn)(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                                  const uint8_t *data, size_t len, uint64_t now_ns);

typedef struct net_udp_dgram {
  uint32_t src_ip;
  uint16_t src_port;
  uint16_t len;
  uint8_t data[NET_UDP_MAX_PAYLOAD];
} net_udp_dgram;

/* Fields are private: use the functions. */
struct net_udp_sock {
  net_iface *ifc;     /* NULL when unbound */
  net_udp_sock *next; /* the iface's list of bound sockets */
  uint16_t port;
  net_udp_rx_fn on_rx;
  void *rx_ctx;
  size_t qhead, qlen;
  net_udp_dgram q[NET_UDP_RX_SLOTS];
  uint64_t rx_dgrams, rx_queue_full, tx_dgrams;
};

/* Binds sock (zeroed or unbound) to port on ifc; port 0 picks the next free
 * port from NET_UDP_EPHEMERAL_FIRST up. Returns 0, EMU_EINVAL for NULL
 * arguments or an already bound sock, EMU_ESTATE when the port is taken, or
 * EMU_ENOSPC when no ephemeral port is free. sock must stay put (it is linked
 * into the iface) until net_udp_unbind() or net_iface_close(). */
int net_udp_bind(net_iface *ifc, net_udp_sock *sock, uint16_t port);
/* Unlinks sock from its iface; queued datagrams are discarded. Safe on an
 * unbound socket. */
void net_udp_unbind(net_udp_sock *sock);
/* Routes every datagram for sock to fn instead of the queue; NULL restores
 * the queue. */
void net_udp_set_handler(net_udp_sock *sock, net_udp_rx_fn fn, void *ctx);
uint16_t net_udp_local_port(const net_udp_sock *sock);

/* Sends len bytes from sock's port to dst_ip:dst_port, in IPv4 fragments
 * when the datagram is larger than the link. Returns 0 when sent or queued
 * behind ARP; EMU_ESTATE when sock is unbound; EMU_EINVAL when len exceeds
 * NET_UDP_MAX_DGRAM4 or dst_port is 0 or the address is unusable (see
 * net_iface_ping); EMU_ENOMEM; or the port's or ARP queue's error. */
int net_udp_sendto(net_udp_sock *sock, uint32_t dst_ip, uint16_t dst_port, const uint8_t *data,
                   size_t len, uint64_t now_ns);
/* From inside sock's handler: sends len bytes back to the sender of the
 * datagram being handled, over its family (IPv4 or IPv6), from the address
 * it was sent to. Returns as net_udp_sendto(), or EMU_ESTATE outside a
 * handler. A handler gets src_ip 0 for an IPv6 sender: this is how it
 * answers one. */
int net_udp_reply(net_udp_sock *sock, const uint8_t *data, size_t len, uint64_t now_ns);
/* Takes the oldest queued datagram: copies up to cap bytes to buf (the rest of
 * a longer datagram is lost, as with recvfrom(2)), fills the sender when
 * src_ip / src_port are not NULL and returns the datagram's whole length.
 * EMU_EAGAIN when the queue is empty, EMU_ESTATE when unbound. */
int net_udp_recvfrom(net_udp_sock *sock, uint8_t *buf, size_t cap, uint32_t *src_ip,
                     uint16_t *src_port);

/* For stack/iface only: the UDP demux for an IPv4 or IPv6 packet to us
 * (src_ip 0 in the queue for an IPv6 sender). Returns the datagram's fate: a handler's fate;
 * DELIVERED (queued); SOCKET_FULL (queue full); NO_LISTENER (closed port,
 * ICMP port unreachable sent unless broadcast); MALFORMED; BAD_CHECKSUM. */
typedef struct net_ip_rx net_ip_rx;
emu_fate net_udp_input(net_iface *ifc, const net_ip_rx *rx, uint64_t now_ns);
/* For stack/iface only: unbinds every socket of ifc. */
void net_udp_unbind_all(net_iface *ifc);

#endif
