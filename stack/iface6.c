/* The guest interface over IPv6 (RFC 8200): addresses (link-local from the
 * MAC, static or SLAAC global), Neighbor Discovery (RFC 4861: answering
 * solicitations, resolving neighbours, learning a default router and a
 * prefix from Router Advertisements), ICMPv6 echo (RFC 4443 §4), and the
 * IPv6 half of the transports' output. See iface.h for the contract. */
#include <string.h>

#include "emu/err.h"
#include "stack/iface_priv.h"

/* Offsets inside an outgoing frame: we never send extension headers. */
#define IP6_OFF NET_ETH_HEADER_LEN
#define L4_OFF6 (NET_ETH_HEADER_LEN + NET_IPV6_HEADER_LEN)
/* The fixed part of a Neighbor Solicitation or Advertisement: ICMPv6 header
 * and target address (RFC 4861 §4.3, §4.4). */
#define ND_TARGET_OFF NET_ICMP6_HEADER_LEN
/* RFC 4861 §10: RetransTimer 1 s, MAX_MULTICAST_SOLICIT 3, as ARP here. */
#define ND_RETRANS_NS NET_IFACE_ARP_RETRY_NS
#define ND_TRIES      NET_IFACE_ARP_TRIES
/* SLAAC forms addresses from /64 prefixes only (RFC 4862 §5.5.3(d) with the
 * 64-bit interface identifiers of RFC 4291 §2.5.1). */
#define SLAAC_PREFIX_LEN 64

static int addr_eq(const uint8_t *a, const uint8_t *b) {
  return memcmp(a, b, NET_IPV6_ADDR_LEN) == 0;
}

static int has_global(const net_iface *ifc) { return !net_ipv6_is_unspecified(ifc->ip6_global); }

/* 1 when a is one of our unicast addresses. */
static int is_ours(const net_iface *ifc, const uint8_t *a) {
  return addr_eq(a, ifc->ip6_ll) || (has_global(ifc) && addr_eq(a, ifc->ip6_global));
}

void net_iface_priv_ip6_init(net_iface *ifc) {
  net_ipv6_link_local_from_mac(ifc->cfg.mac, ifc->ip6_ll);
  memcpy(ifc->ip6_global, ifc->cfg.ip6, NET_IPV6_ADDR_LEN);
}

void net_iface_ip6_addrs(const net_iface *ifc, const uint8_t **ll, const uint8_t **global) {
  if (ll) *ll = ifc->ip6_ll;
  if (global) *global = has_global(ifc) ? ifc->ip6_global : NULL;
}

/* 1 when we listen on multicast group a: all-nodes (RFC 4291 §2.7.1) and
 * the solicited-node groups of our addresses (RFC 4861 §7.2.1). */
static int in_group(const net_iface *ifc, const uint8_t *a) {
  uint8_t sn[NET_IPV6_ADDR_LEN];
  if (addr_eq(a, net_ipv6_all_nodes)) return 1;
  net_ipv6_solicited_node(ifc->ip6_ll, sn);
  if (addr_eq(a, sn)) return 1;
  if (!has_global(ifc)) return 0;
  net_ipv6_solicited_node(ifc->ip6_global, sn);
  return addr_eq(a, sn);
}

int net_iface_priv_ip6_group_mac(const net_iface *ifc, const uint8_t *mac) {
  /* RFC 2464 §7: 33:33 and the group's last four bytes. Our groups are few:
   * compare with each one's MAC. */
  uint8_t g[NET_MAC_LEN], sn[NET_IPV6_ADDR_LEN];
  if (mac[0] != 0x33 || mac[1] != 0x33) return 0;
  net_ipv6_multicast_mac(net_ipv6_all_nodes, g);
  if (memcmp(mac, g, NET_MAC_LEN) == 0) return 1;
  net_ipv6_solicited_node(ifc->ip6_ll, sn);
  net_ipv6_multicast_mac(sn, g);
  if (memcmp(mac, g, NET_MAC_LEN) == 0) return 1;
  if (!has_global(ifc)) return 0;
  net_ipv6_solicited_node(ifc->ip6_global, sn);
  net_ipv6_multicast_mac(sn, g);
  return memcmp(mac, g, NET_MAC_LEN) == 0;
}

/* Our source address toward dst (RFC 6724 §5 rule 2, scope, reduced to our
 * two addresses): the link-local one for link-local destinations or when we
 * have no global one, else the global one. */
static const uint8_t *source_for(const net_iface *ifc, const uint8_t *dst) {
  if (net_ipv6_is_link_local(dst) || !has_global(ifc)) return ifc->ip6_ll;
  if (net_ipv6_is_multicast(dst) && (dst[1] & 0x0f) <= 2) return ifc->ip6_ll; /* link scope */
  return ifc->ip6_global;
}

/* ---- neighbour cache --------------------------------------------------------------- */

static net_iface_nd_entry *nd_find(net_iface *ifc, const uint8_t *ip6) {
  for (size_t i = 0; i < NET_IFACE_ND_CACHE_SIZE; i++)
    if (ifc->nd_cache[i].used && addr_eq(ifc->nd_cache[i].ip6, ip6)) return &ifc->nd_cache[i];
  return NULL;
}

int net_iface_nd_lookup(const net_iface *ifc, const uint8_t *ip6, uint8_t mac_out[NET_MAC_LEN]) {
  for (size_t i = 0; i < NET_IFACE_ND_CACHE_SIZE; i++) {
    const net_iface_nd_entry *e = &ifc->nd_cache[i];
    if (e->used && addr_eq(e->ip6, ip6)) {
      memcpy(mac_out, e->mac, NET_MAC_LEN);
      return 0;
    }
  }
  return EMU_EAGAIN;
}

/* Adds or updates ip6 -> mac (the least recently used entry goes when the
 * cache is full, as in the ARP cache) and sends what waited for it. */
static void nd_learn(net_iface *ifc, const uint8_t *ip6, const uint8_t *mac, uint64_t now_ns) {
  net_iface_nd_entry *e = nd_find(ifc, ip6);
  if (!e) {
    e = &ifc->nd_cache[0];
    for (size_t i = 0; i < NET_IFACE_ND_CACHE_SIZE; i++) {
      net_iface_nd_entry *c = &ifc->nd_cache[i];
      if (!c->used) {
        e = c;
        break;
      }
      if (c->last_used < e->last_used) e = c;
    }
    memcpy(e->ip6, ip6, NET_IPV6_ADDR_LEN);
    e->used = 1;
  }
  memcpy(e->mac, mac, NET_MAC_LEN);
  e->last_used = ++ifc->arp_use_tick;
  (void)net_iface_priv_pending_take(ifc, NET_IFACE_NEXT_HOP_IPV6, ip6, mac, now_ns);
}

static net_iface_nd_wait *nd_wait_find(net_iface *ifc, const uint8_t *ip6) {
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++) {
    net_iface_nd_wait *w = &ifc->nd_waits[i];
    if (ip6 ? w->used && addr_eq(w->ip6, ip6) : !w->used) return w;
  }
  return NULL;
}

/* ---- output ------------------------------------------------------------------------ */

/* Writes the IPv6 and Ethernet headers in front of the l4_len bytes at
 * L4_OFF6 in scratch and sends the frame to mac: a reply to the frame being
 * received, if any, unless it is a question of our own (NS, RS), as ARP
 * requests are not. */
static int send_frame(net_iface *ifc, const uint8_t *src, const uint8_t *dst, uint8_t nh,
                      uint8_t hop_limit, size_t l4_len, const uint8_t *mac, int reply,
                      uint64_t now_ns) {
  net_ipv6_repr ip = {.next_header = nh, .hop_limit = hop_limit, .payload_len = l4_len};
  memcpy(ip.src, src, NET_IPV6_ADDR_LEN);
  memcpy(ip.dst, dst, NET_IPV6_ADDR_LEN);
  int err = net_ipv6_emit(&ip, ifc->scratch + IP6_OFF, sizeof ifc->scratch - IP6_OFF);
  if (err < 0) return err;
  net_iface_priv_eth_header(ifc, ifc->scratch, mac, NET_ETHERTYPE_IPV6);
  if (!reply) return net_iface_priv_transmit(ifc, ifc->scratch, L4_OFF6 + l4_len, now_ns);
  return net_iface_priv_transmit_scratch(ifc, L4_OFF6 + l4_len, now_ns);
}

static int send_to_mac(net_iface *ifc, const uint8_t *src, const uint8_t *dst, uint8_t nh,
                       uint8_t hop_limit, size_t l4_len, const uint8_t *mac, uint64_t now_ns) {
  return send_frame(ifc, src, dst, nh, hop_limit, l4_len, mac, 1, now_ns);
}

/* Sends a Neighbor Solicitation for target (RFC 4861 §7.2.2): to its
 * solicited-node group, with our link-layer address as an option. The
 * message is built after the frame scratch may hold, so build it first. */
static int send_ns(net_iface *ifc, const uint8_t *target, uint64_t now_ns) {
  uint8_t *msg = ifc->scratch + L4_OFF6, dst[NET_IPV6_ADDR_LEN], mac[NET_MAC_LEN];
  const uint8_t *src = source_for(ifc, target);
  net_ipv6_solicited_node(target, dst);
  net_ipv6_multicast_mac(dst, mac);
  int n = net_nd_emit(NET_ICMP6_NEIGHBOR_SOLICIT, 0, target, ifc->cfg.mac, src, dst, msg,
                      (size_t)ifc->mtu - NET_IPV6_HEADER_LEN);
  if (n < 0) return n;
  int err =
      send_frame(ifc, src, dst, NET_IP_PROTO_ICMPV6, NET_ND_HOP_LIMIT, (size_t)n, mac, 0, now_ns);
  if (err == 0) ifc->stats.nd_solicits_sent++;
  return err;
}

void net_iface_priv_nd_wait_start(net_iface *ifc, const uint8_t *ip6, uint64_t now_ns) {
  if (nd_wait_find(ifc, ip6)) return;
  /* Each wait has a queued packet and the queue had room: a slot is free. */
  net_iface_nd_wait *w = nd_wait_find(ifc, NULL);
  if (!w) return;
  memcpy(w->ip6, ip6, NET_IPV6_ADDR_LEN);
  w->used = 1;
  w->tries = 1;
  w->deadline_ns = now_ns + ND_RETRANS_NS;
  (void)send_ns(ifc, ip6, now_ns); /* a refused solicitation is retried */
}

void net_iface_priv_nd_wait_clear(net_iface *ifc, const uint8_t *ip6) {
  net_iface_nd_wait *w = nd_wait_find(ifc, ip6);
  if (w) memset(w, 0, sizeof *w);
}

void net_iface_priv_nd_poll(net_iface *ifc, uint64_t now_ns) {
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++) {
    net_iface_nd_wait *w = &ifc->nd_waits[i];
    if (!w->used || now_ns < w->deadline_ns) continue;
    if (w->tries < ND_TRIES) {
      w->tries++;
      w->deadline_ns = now_ns + ND_RETRANS_NS;
      (void)send_ns(ifc, w->ip6, now_ns);
    } else {
      uint8_t ip6[NET_IPV6_ADDR_LEN];
      memcpy(ip6, w->ip6, sizeof ip6); /* the take clears w */
      ifc->stats.nd_unresolved +=
          net_iface_priv_pending_take(ifc, NET_IFACE_NEXT_HOP_IPV6, ip6, NULL, now_ns);
    }
  }
}

uint64_t net_iface_priv_nd_poll_at(const net_iface *ifc, uint64_t at) {
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++) {
    const net_iface_nd_wait *w = &ifc->nd_waits[i];
    if (w->used && w->deadline_ns < at) at = w->deadline_ns;
  }
  return at;
}

/* RFC 4861 §5.2 conceptual sending, reduced: link-local destinations and
 * those in an on-link /64 (our global address's, or one an RA named) are
 * neighbours; the rest go to the default router. Without one, the
 * destination is taken for a neighbour, as RFC 2461 §5.2 had it (RFC 4943
 * dropped that rule for hosts on real networks): on a simulated link whose
 * other side is a capture or a single peer, whoever answers the Neighbor
 * Solicitation (replay's proxy, with the MAC the packets came from) is the
 * way back. */
static const uint8_t *next_hop(const net_iface *ifc, const uint8_t *dst) {
  if (net_ipv6_is_link_local(dst)) return dst;
  if (has_global(ifc) && memcmp(dst, ifc->ip6_global, 8) == 0) return dst;
  if (ifc->ip6_onlink_set && memcmp(dst, ifc->ip6_onlink, 8) == 0) return dst;
  return net_ipv6_is_unspecified(ifc->ip6_router) ? dst : ifc->ip6_router;
}

/* Sends the l4_len bytes at L4_OFF6 in scratch from src to dst: to a group
 * MAC, to the next hop's cached MAC, or queued while it is resolved. */
static int ip6_output(net_iface *ifc, const uint8_t *src, const uint8_t *dst, uint8_t nh,
                      uint8_t hop_limit, size_t l4_len, uint64_t now_ns) {
  if (l4_len > (size_t)ifc->mtu - NET_IPV6_HEADER_LEN) return EMU_EINVAL;
  if (net_ipv6_is_unspecified(dst) || is_ours(ifc, dst)) return EMU_EINVAL; /* no loopback */
  uint8_t mac[NET_MAC_LEN];
  if (net_ipv6_is_multicast(dst)) {
    net_ipv6_multicast_mac(dst, mac);
    return send_to_mac(ifc, src, dst, nh, hop_limit, l4_len, mac, now_ns);
  }
  const uint8_t *hop = next_hop(ifc, dst);
  if (!hop) return EMU_EINVAL;
  net_iface_nd_entry *e = nd_find(ifc, hop);
  if (e) {
    e->last_used = ++ifc->arp_use_tick;
    return send_to_mac(ifc, src, dst, nh, hop_limit, l4_len, e->mac, now_ns);
  }
  /* The frame waits with a placeholder MAC, filled in on resolution. */
  uint8_t hop_copy[NET_IPV6_ADDR_LEN];
  memcpy(hop_copy, hop, sizeof hop_copy);
  net_ipv6_repr ip = {.next_header = nh, .hop_limit = hop_limit, .payload_len = l4_len};
  memcpy(ip.src, src, NET_IPV6_ADDR_LEN);
  memcpy(ip.dst, dst, NET_IPV6_ADDR_LEN);
  int err = net_ipv6_emit(&ip, ifc->scratch + IP6_OFF, sizeof ifc->scratch - IP6_OFF);
  if (err < 0) return err;
  net_iface_priv_eth_header(ifc, ifc->scratch, net_mac_broadcast, NET_ETHERTYPE_IPV6);
  return net_iface_priv_pending_add(ifc, NET_IFACE_NEXT_HOP_IPV6, hop_copy, L4_OFF6 + l4_len,
                                    now_ns);
}

/* ---- for the transports -------------------------------------------------------------- */

uint8_t *net_iface_l4_buf_ends(net_iface *ifc, const net_ip_ends *ends, size_t *cap) {
  if (!ends->v6) return net_iface_l4_buf(ifc, cap);
  if (cap) *cap = (size_t)ifc->mtu - NET_IPV6_HEADER_LEN;
  return ifc->scratch + L4_OFF6;
}

int net_iface_ends_send(net_iface *ifc, const net_ip_ends *ends, uint8_t protocol, size_t l4_len,
                        uint64_t now_ns) {
  if (!ends->v6) return net_iface_ip_send(ifc, ends->remote, protocol, l4_len, now_ns);
  uint8_t src[NET_IPV6_ADDR_LEN], dst[NET_IPV6_ADDR_LEN];
  /* the addresses may point into the received frame or a connection: copy
   * them before scratch is written */
  memcpy(src, ends->local6, sizeof src);
  memcpy(dst, ends->remote6, sizeof dst);
  if (!is_ours(ifc, src)) return EMU_EINVAL;
  return ip6_output(ifc, src, dst, protocol, NET_IFACE_HOP_LIMIT, l4_len, now_ns);
}

int net_iface_port_unreachable(net_iface *ifc, const net_ip_rx *rx, uint64_t now_ns) {
  if (!rx->ends.v6) return net_iface_icmp_unreachable(ifc, rx->pkt, 3 /* port */, now_ns);
  /* RFC 4443 §2.4(e): no error about a packet to a multicast address (bar
   * Packet Too Big and Parameter Problem code 2) or from an address that
   * does not identify one node. */
  if (!rx->to_unicast || net_ipv6_is_unspecified(rx->ends.remote6) ||
      net_ipv6_is_multicast(rx->ends.remote6))
    return EMU_EINVAL;
  uint8_t src[NET_IPV6_ADDR_LEN], dst[NET_IPV6_ADDR_LEN];
  memcpy(src, rx->ends.local6, sizeof src);
  memcpy(dst, rx->ends.remote6, sizeof dst);
  /* RFC 4443 §3.1: as much of the invoking packet as fits the minimum MTU
   * (1280) after the error's own headers. */
  size_t room = 1280 - NET_IPV6_HEADER_LEN - NET_ICMP6_HEADER_LEN;
  size_t pkt_len = NET_IPV6_HEADER_LEN + net_ipv6_payload_len(rx->pkt);
  size_t quote = pkt_len < room ? pkt_len : room;
  uint8_t *msg = ifc->scratch + L4_OFF6;
  memmove(msg + NET_ICMP6_HEADER_LEN, rx->pkt, quote);
  net_icmp_repr r = {.type = NET_ICMP6_DEST_UNREACHABLE,
                     .code = NET_ICMP6_PORT_UNREACHABLE,
                     .data = msg + NET_ICMP6_HEADER_LEN,
                     .data_len = quote};
  int n = net_icmp6_emit(&r, src, dst, msg, (size_t)ifc->mtu - NET_IPV6_HEADER_LEN);
  if (n < 0) return n;
  return ip6_output(ifc, src, dst, NET_IP_PROTO_ICMPV6, NET_IFACE_HOP_LIMIT, (size_t)n, now_ns);
}

/* ---- Neighbor Discovery input ------------------------------------------------------------ */

/* Sends a Neighbor Advertisement for our address target to dst (RFC 4861
 * §7.2.4): Solicited when it answers a unicast asker, Override always (the
 * address is not anycast), our MAC as the Target Link-Layer option. */
static int send_na(net_iface *ifc, const uint8_t *target, const uint8_t *dst, int solicited,
                   uint64_t now_ns) {
  uint8_t t[NET_IPV6_ADDR_LEN], d[NET_IPV6_ADDR_LEN];
  memcpy(t, target, sizeof t); /* both may point into the frame received */
  memcpy(d, dst, sizeof d);
  uint8_t flags = NET_ND_NA_OVERRIDE | (solicited ? NET_ND_NA_SOLICITED : 0);
  int n = net_nd_emit(NET_ICMP6_NEIGHBOR_ADVERT, flags, t, ifc->cfg.mac, t, d,
                      ifc->scratch + L4_OFF6, (size_t)ifc->mtu - NET_IPV6_HEADER_LEN);
  if (n < 0) return n;
  int err = ip6_output(ifc, t, d, NET_IP_PROTO_ICMPV6, NET_ND_HOP_LIMIT, (size_t)n, now_ns);
  if (err == 0) ifc->stats.nd_adverts_sent++;
  return err;
}

/* RFC 4861 §7.1.1 validation, §7.2.3 processing of a Neighbor Solicitation. */
static emu_fate input_ns(net_iface *ifc, const uint8_t *pkt, const uint8_t *msg, size_t len,
                         uint64_t now_ns) {
  if (len < NET_ND_NS_LEN) return EMU_FATE_MALFORMED;
  const uint8_t *target = msg + ND_TARGET_OFF, *src = net_ipv6_src(pkt);
  net_nd_opts o;
  if (net_ipv6_is_multicast(target) ||
      net_nd_options(msg + NET_ND_NS_LEN, len - NET_ND_NS_LEN, &o) != 0)
    return EMU_FATE_MALFORMED;
  int dad = net_ipv6_is_unspecified(src);
  /* A DAD probe goes to a solicited-node group and carries no link-layer
   * address (§7.1.1). */
  if (dad && (o.source_lladdr || !net_ipv6_is_multicast(net_ipv6_dst(pkt))))
    return EMU_FATE_MALFORMED;
  if (!is_ours(ifc, target)) return EMU_FATE_NOT_FOR_GUEST;
  if (o.source_lladdr && !net_mac_is_group(o.source_lladdr))
    nd_learn(ifc, src, o.source_lladdr, now_ns);
  /* §7.2.4: a probe from :: is answered to all-nodes, unsolicited; anyone
   * else is answered directly (resolved through the cache, or queued). */
  int err = dad ? send_na(ifc, target, net_ipv6_all_nodes, 0, now_ns)
                : send_na(ifc, target, src, 1, now_ns);
  return err == 0 ? EMU_FATE_ANSWERED : EMU_FATE_DELIVERED;
}

/* RFC 4861 §7.1.2 validation, §7.2.5 processing of a Neighbor Advertisement:
 * it updates an entry that exists or is being resolved; others are not
 * created from it. */
static emu_fate input_na(net_iface *ifc, const uint8_t *pkt, const uint8_t *msg, size_t len,
                         uint64_t now_ns) {
  if (len < NET_ND_NS_LEN) return EMU_FATE_MALFORMED;
  const uint8_t *target = msg + ND_TARGET_OFF;
  int solicited = (msg[4] & NET_ND_NA_SOLICITED) != 0;
  net_nd_opts o;
  if (net_ipv6_is_multicast(target) || (solicited && net_ipv6_is_multicast(net_ipv6_dst(pkt))) ||
      net_nd_options(msg + NET_ND_NS_LEN, len - NET_ND_NS_LEN, &o) != 0)
    return EMU_FATE_MALFORMED;
  if (is_ours(ifc, target)) return EMU_FATE_NOT_FOR_GUEST; /* a duplicate: DAD is not done */
  int known = nd_find(ifc, target) || nd_wait_find(ifc, target);
  if (!known || !o.target_lladdr || net_mac_is_group(o.target_lladdr))
    return EMU_FATE_NOT_FOR_GUEST;
  nd_learn(ifc, target, o.target_lladdr, now_ns);
  return EMU_FATE_DELIVERED;
}

/* SLAAC (RFC 4862 §5.5.3) from one Prefix Information option, reduced: no
 * lifetimes kept, no Duplicate Address Detection. */
static void ra_prefix(net_iface *ifc, const uint8_t *opt) {
  const uint8_t *prefix = net_nd_prefix(opt);
  if (net_nd_prefix_len(opt) != SLAAC_PREFIX_LEN || net_ipv6_is_link_local(prefix) ||
      net_ipv6_is_multicast(prefix))
    return;
  if (net_nd_prefix_flags(opt) & NET_ND_PREFIX_ONLINK) {
    memcpy(ifc->ip6_onlink, prefix, sizeof ifc->ip6_onlink);
    ifc->ip6_onlink_set = 1;
  }
  /* §5.5.3(a)-(c): autonomous, and valid lifetime at least the preferred */
  if (!(net_nd_prefix_flags(opt) & NET_ND_PREFIX_AUTONOMOUS) ||
      net_nd_prefix_preferred(opt) > net_nd_prefix_valid(opt) || net_nd_prefix_valid(opt) == 0)
    return;
  if (ifc->cfg.slaac && !has_global(ifc))
    net_ipv6_addr_from_prefix(prefix, ifc->cfg.mac, ifc->ip6_global);
}

/* RFC 4861 §6.1.2 validation, §6.3.4 processing of a Router Advertisement. */
static emu_fate input_ra(net_iface *ifc, const uint8_t *pkt, const uint8_t *msg, size_t len,
                         uint64_t now_ns) {
  const uint8_t *src = net_ipv6_src(pkt);
  net_nd_opts o;
  if (len < NET_ND_RA_LEN || !net_ipv6_is_link_local(src) ||
      net_nd_options(msg + NET_ND_RA_LEN, len - NET_ND_RA_LEN, &o) != 0)
    return EMU_FATE_MALFORMED;
  if (o.source_lladdr && !net_mac_is_group(o.source_lladdr))
    nd_learn(ifc, src, o.source_lladdr, now_ns);
  if (net_nd_ra_lifetime(msg) != 0)
    memcpy(ifc->ip6_router, src, NET_IPV6_ADDR_LEN);
  else if (addr_eq(ifc->ip6_router, src))
    memset(ifc->ip6_router, 0, NET_IPV6_ADDR_LEN);
  if (o.prefix) ra_prefix(ifc, o.prefix);
  return EMU_FATE_DELIVERED;
}

int net_iface_router_solicit(net_iface *ifc, uint64_t now_ns) {
  /* RFC 4861 §4.1: from our link-local address with our link-layer address
   * as an option, to all routers. */
  uint8_t *msg = ifc->scratch + L4_OFF6, *opt = msg + NET_ND_RS_LEN, mac[NET_MAC_LEN];
  opt[0] = NET_ND_OPT_SOURCE_LLADDR;
  opt[1] = 1;
  memcpy(opt + 2, ifc->cfg.mac, NET_MAC_LEN);
  net_icmp_repr r = {
      .type = NET_ICMP6_ROUTER_SOLICIT, .data = opt, .data_len = NET_ND_OPT_LLADDR_LEN};
  int n = net_icmp6_emit(&r, ifc->ip6_ll, net_ipv6_all_routers, msg,
                         (size_t)ifc->mtu - NET_IPV6_HEADER_LEN);
  if (n < 0) return n;
  net_ipv6_multicast_mac(net_ipv6_all_routers, mac);
  int err = send_frame(ifc, ifc->ip6_ll, net_ipv6_all_routers, NET_IP_PROTO_ICMPV6,
                       NET_ND_HOP_LIMIT, (size_t)n, mac, 0, now_ns);
  if (err == 0) ifc->stats.nd_router_solicits_sent++;
  return err;
}

/* ---- ICMPv6 input ---------------------------------------------------------------------- */

/* RFC 4443 §4.2: identifier, sequence and data returned unchanged; to a
 * multicast request (which RFC 4443 says SHOULD be answered) from a unicast
 * address of ours. */
static emu_fate input_echo6(net_iface *ifc, const uint8_t *pkt, const uint8_t *msg, size_t len,
                            uint64_t now_ns) {
  if (len < NET_ICMP6_HEADER_LEN) return EMU_FATE_MALFORMED;
  const uint8_t *peer = net_ipv6_src(pkt), *to = net_ipv6_dst(pkt);
  if (net_ipv6_is_unspecified(peer)) return EMU_FATE_MALFORMED; /* nobody to answer */
  if (len - NET_ICMP6_HEADER_LEN > (size_t)ifc->mtu - NET_IPV6_HEADER_LEN - NET_ICMP6_HEADER_LEN)
    return EMU_FATE_UNSUPPORTED; /* too large to answer without fragmenting */
  uint8_t src[NET_IPV6_ADDR_LEN], dst[NET_IPV6_ADDR_LEN];
  memcpy(src, net_ipv6_is_multicast(to) ? source_for(ifc, peer) : to, sizeof src);
  memcpy(dst, peer, sizeof dst);
  net_icmp_repr reply = {
      .type = NET_ICMP6_ECHO_REPLY,
      .ident = net_icmp_echo_ident(msg),
      .seq = net_icmp_echo_seq(msg),
      .data = msg + NET_ICMP6_HEADER_LEN,
      .data_len = len - NET_ICMP6_HEADER_LEN,
  };
  uint8_t *out = ifc->scratch + L4_OFF6;
  int n = net_icmp6_emit(&reply, src, dst, out, (size_t)ifc->mtu - NET_IPV6_HEADER_LEN);
  if (n < 0) return EMU_FATE_UNSUPPORTED;
  if (ip6_output(ifc, src, dst, NET_IP_PROTO_ICMPV6, NET_IFACE_HOP_LIMIT, (size_t)n, now_ns) != 0)
    return EMU_FATE_DELIVERED;
  ifc->stats.echo_replies_sent++;
  return EMU_FATE_ANSWERED;
}

static emu_fate input_icmp6(net_iface *ifc, const uint8_t *pkt, size_t off, uint64_t now_ns) {
  const uint8_t *msg = pkt + off;
  size_t len = NET_IPV6_HEADER_LEN + net_ipv6_payload_len(pkt) - off;
  if (net_icmp6_check(msg, len) != 0) return EMU_FATE_MALFORMED;
  if (!net_icmp6_checksum_ok(msg, len, net_ipv6_src(pkt), net_ipv6_dst(pkt)))
    return EMU_FATE_BAD_CHECKSUM;
  uint8_t type = net_icmp_type(msg);
  if (type == NET_ICMP6_ECHO_REQUEST) return input_echo6(ifc, pkt, msg, len, now_ns);
  if (type == NET_ICMP6_ECHO_REPLY) return EMU_FATE_NO_LISTENER; /* we send no IPv6 pings */
  if (type < NET_ICMP6_ROUTER_ADVERT || type > NET_ICMP6_NEIGHBOR_ADVERT)
    return EMU_FATE_UNSUPPORTED; /* errors, MLD, Router Solicitations (for routers), ... */
  /* RFC 4861 §6.1.2, §7.1.1, §7.1.2: Hop Limit 255 proves the message was
   * not forwarded; code 0 */
  if (net_ipv6_hop_limit(pkt) != NET_ND_HOP_LIMIT || net_icmp_code(msg) != 0)
    return EMU_FATE_MALFORMED;
  if (type == NET_ICMP6_NEIGHBOR_SOLICIT) return input_ns(ifc, pkt, msg, len, now_ns);
  if (type == NET_ICMP6_NEIGHBOR_ADVERT) return input_na(ifc, pkt, msg, len, now_ns);
  return input_ra(ifc, pkt, msg, len, now_ns);
}

/* ---- IPv6 input -------------------------------------------------------------------------- */

static emu_fate input_upper(net_iface *ifc, const uint8_t *pkt, uint8_t proto, size_t off,
                            uint64_t now_ns) {
  if (proto == NET_IP_PROTO_ICMPV6) return input_icmp6(ifc, pkt, off, now_ns);
  if (proto != NET_IP_PROTO_UDP && proto != NET_IP_PROTO_TCP) return EMU_FATE_UNSUPPORTED;
  const uint8_t *src = net_ipv6_src(pkt), *dst = net_ipv6_dst(pkt);
  /* RFC 8200 §8.1 needs a source to checksum and answer: :: sends no data */
  if (net_ipv6_is_unspecified(src)) return EMU_FATE_MALFORMED;
  net_ip_rx rx = {
      .ends = {.v6 = 1, .local6 = dst, .remote6 = src},
      .pkt = pkt,
      .l4 = pkt + off,
      .l4_len = NET_IPV6_HEADER_LEN + net_ipv6_payload_len(pkt) - off,
      .to_unicast = !net_ipv6_is_multicast(dst),
  };
  if (proto == NET_IP_PROTO_UDP) return net_udp_input(ifc, &rx, now_ns);
  return net_tcp_input(ifc, &rx, now_ns);
}

emu_fate net_iface_priv_input_ipv6(net_iface *ifc, const uint8_t *pkt, size_t len,
                                   uint64_t now_ns) {
  if (net_ipv6_check(pkt, len) != 0) return EMU_FATE_MALFORMED;
  const uint8_t *dst = net_ipv6_dst(pkt);
  if (!is_ours(ifc, dst) && !(net_ipv6_is_multicast(dst) && in_group(ifc, dst)))
    return EMU_FATE_NOT_FOR_GUEST;
  /* RFC 4291 §2.7: a multicast address is never a source */
  if (net_ipv6_is_multicast(net_ipv6_src(pkt))) return EMU_FATE_MALFORMED;
  uint8_t proto;
  size_t off;
  switch (net_ipv6_walk(pkt, &proto, &off)) {
    case NET_IPV6_WALK_OK:
      return input_upper(ifc, pkt, proto, off, now_ns);
    case NET_IPV6_WALK_MALFORMED:
    case NET_IPV6_WALK_HOP_BY_HOP:
      return EMU_FATE_MALFORMED;
    case NET_IPV6_WALK_NO_NEXT:
      return EMU_FATE_DELIVERED; /* RFC 8200 §4.7: nothing to process */
    default:
      /* Fragments (no reassembler, as for IPv4), Routing headers with
       * segments left, options we may not skip, ESP, AH, unknown headers */
      return EMU_FATE_UNSUPPORTED;
  }
}
