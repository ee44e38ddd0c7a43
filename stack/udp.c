/* UDP sockets: bind, demux, queue or handler, send. See udp.h. */
#include "stack/udp.h"

#include <string.h>

#include "emu/err.h"
#include "stack/iface.h"

static net_udp_sock *find_bound(net_iface *ifc, uint16_t port) {
  for (net_udp_sock *s = ifc->udp_socks; s; s = s->next)
    if (s->port == port) return s;
  return NULL;
}

int net_udp_bind(net_iface *ifc, net_udp_sock *sock, uint16_t port) {
  if (!ifc || !sock || sock->ifc) return EMU_EINVAL;
  if (port == 0) {
    /* The dynamic range, searched from the first port each time: the
     * choice depends only on which sockets are bound, never on history. */
    for (uint32_t p = NET_UDP_EPHEMERAL_FIRST; p <= 0xffff; p++) {
      if (!find_bound(ifc, (uint16_t)p)) {
        port = (uint16_t)p;
        break;
      }
    }
    if (port == 0) return EMU_ENOSPC;
  } else if (find_bound(ifc, port)) {
    return EMU_ESTATE;
  }
  memset(sock, 0, sizeof *sock);
  sock->ifc = ifc;
  sock->port = port;
  sock->next = ifc->udp_socks;
  ifc->udp_socks = sock;
  return 0;
}

void net_udp_unbind(net_udp_sock *sock) {
  if (!sock || !sock->ifc) return;
  for (net_udp_sock **pp = &sock->ifc->udp_socks; *pp; pp = &(*pp)->next) {
    if (*pp == sock) {
      *pp = sock->next;
      break;
    }
  }
  sock->ifc = NULL;
  sock->next = NULL;
  sock->qhead = sock->qlen = 0;
}

void net_udp_unbind_all(net_iface *ifc) {
  while (ifc->udp_socks) net_udp_unbind(ifc->udp_socks);
}

void net_udp_set_handler(net_udp_sock *sock, net_udp_rx_fn fn, void *ctx) {
  sock->on_rx = fn;
  sock->rx_ctx = ctx;
}

uint16_t net_udp_local_port(const net_udp_sock *sock) { return sock->port; }

int net_udp_sendto(net_udp_sock *sock, uint32_t dst_ip, uint16_t dst_port, const uint8_t *data,
                   size_t len, uint64_t now_ns) {
  if (!sock || !sock->ifc) return EMU_ESTATE;
  if (len > NET_UDP_MAX_DGRAM4 || dst_port == 0 || (len && !data)) return EMU_EINVAL;
  net_iface *ifc = sock->ifc;
  size_t cap;
  uint8_t *buf = net_iface_l4_buf_big(ifc, NET_UDP_HEADER_LEN + len, &cap);
  if (!buf) return EMU_ENOMEM;
  net_udp_repr r = {
      .src_port = sock->port, .dst_port = dst_port, .payload = data, .payload_len = len};
  int n = net_udp_emit(&r, ifc->cfg.ip, dst_ip, buf, cap);
  if (n < 0) return n;
  int err = net_iface_ip_send(ifc, dst_ip, NET_IP_PROTO_UDP, (size_t)n, now_ns);
  if (err) return err;
  sock->tx_dgrams++;
  ifc->stats.udp_tx++;
  return 0;
}

int net_udp_recvfrom(net_udp_sock *sock, uint8_t *buf, size_t cap, uint32_t *src_ip,
                     uint16_t *src_port) {
  if (!sock || !sock->ifc) return EMU_ESTATE;
  if (sock->qlen == 0) return EMU_EAGAIN;
  const net_udp_dgram *d = &sock->q[sock->qhead];
  size_t n = d->len < cap ? d->len : cap;
  if (n && buf) memcpy(buf, d->data, n);
  if (src_ip) *src_ip = d->src_ip;
  if (src_port) *src_port = d->src_port;
  int len = d->len;
  sock->qhead = (sock->qhead + 1) % NET_UDP_RX_SLOTS;
  sock->qlen--;
  return len;
}

int net_udp_reply(net_udp_sock *sock, const uint8_t *data, size_t len, uint64_t now_ns) {
  if (!sock || !sock->ifc) return EMU_ESTATE;
  net_iface *ifc = sock->ifc;
  const net_ip_rx *rx = ifc->udp_rx.rx;
  if (!rx) return EMU_ESTATE;
  uint16_t dst_port = ifc->udp_rx.src_port;
  if (!rx->ends.v6) return net_udp_sendto(sock, rx->ends.remote, dst_port, data, len, now_ns);
  if (len > NET_UDP_MAX_PAYLOAD || dst_port == 0 || (len && !data)) return EMU_EINVAL;
  /* Our address: the one the datagram was sent to when unicast (RFC 1122
   * §4.1.3.5 for IPv4 says so too); for a multicast one the iface picks. */
  const uint8_t *ll, *global;
  net_iface_ip6_addrs(ifc, &ll, &global);
  net_ip_ends ends = rx->ends;
  if (!rx->to_unicast) ends.local6 = net_ipv6_is_link_local(ends.remote6) || !global ? ll : global;
  size_t cap;
  uint8_t *buf = net_iface_l4_buf_ends(ifc, &ends, &cap);
  net_udp_repr r = {
      .src_port = sock->port, .dst_port = dst_port, .payload = data, .payload_len = len};
  int n = net_udp_emit6(&r, ends.local6, ends.remote6, buf, cap);
  if (n < 0) return n;
  int err = net_iface_ends_send(ifc, &ends, NET_IP_PROTO_UDP, (size_t)n, now_ns);
  if (err) return err;
  sock->tx_dgrams++;
  ifc->stats.udp_tx++;
  return 0;
}

static int udp_checksum_ok(const net_ip_rx *rx) {
  if (rx->ends.v6) return net_udp_checksum_ok6(rx->l4, rx->ends.remote6, rx->ends.local6);
  return net_udp_checksum_ok(rx->l4, rx->ends.remote, rx->ends.local);
}

/* Runs the socket's handler with rx as the datagram net_udp_reply answers. */
static emu_fate run_handler(net_iface *ifc, net_udp_sock *s, const net_ip_rx *rx,
                            const net_udp_repr *u, uint64_t now_ns) {
  struct net_udp_rx_ctx saved = ifc->udp_rx;
  ifc->udp_rx.rx = rx;
  ifc->udp_rx.src_port = u->src_port;
  /* IPv6 senders have no IPv4 address: 0, and net_udp_reply answers them */
  uint32_t src = rx->ends.v6 ? 0 : rx->ends.remote;
  emu_fate fate = s->on_rx(s->rx_ctx, s, src, u->src_port, u->payload, u->payload_len, now_ns);
  ifc->udp_rx = saved;
  return fate;
}

emu_fate net_udp_input(net_iface *ifc, const net_ip_rx *rx, uint64_t now_ns) {
  net_udp_repr u;
  if (net_udp_parse(rx->l4, rx->l4_len, &u) != 0) return EMU_FATE_MALFORMED;
  if (!udp_checksum_ok(rx)) return EMU_FATE_BAD_CHECKSUM;
  uint32_t src = rx->ends.v6 ? 0 : rx->ends.remote;
  /* RFC 768: source port 0 means "no reply expected"; destination port 0 is
   * reserved and nobody can bind it, so it falls through to NO_LISTENER. */
  net_udp_sock *s = u.dst_port ? find_bound(ifc, u.dst_port) : NULL;
  if (!s) {
    /* RFC 1122 §4.1.3.1: a datagram for a port with no listener SHOULD be
     * answered with port unreachable; net_iface_icmp_unreachable applies the
     * §3.2.2 exceptions (broadcast destination and so on). */
    if (net_iface_port_unreachable(ifc, rx, now_ns) == 0) ifc->stats.icmp_unreachable_sent++;
    return EMU_FATE_NO_LISTENER;
  }
  if (s->on_rx) {
    s->rx_dgrams++;
    ifc->stats.udp_rx++;
    return run_handler(ifc, s, rx, &u, now_ns);
  }
  if (s->qlen == NET_UDP_RX_SLOTS || u.payload_len > NET_UDP_MAX_PAYLOAD) {
    s->rx_queue_full++;
    return EMU_FATE_SOCKET_FULL;
  }
  net_udp_dgram *d = &s->q[(s->qhead + s->qlen++) % NET_UDP_RX_SLOTS];
  d->src_ip = src;
  d->src_port = u.src_port;
  d->len = (uint16_t)u.payload_len;
  memcpy(d->data, u.payload, u.payload_len);
  s->rx_dgrams++;
  ifc->stats.udp_rx++;
  return EMU_FATE_DELIVERED;
}
