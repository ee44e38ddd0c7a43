/* The guest interface: addresses, ARP cache and resolution queue, ICMP echo.
 * See iface.h for the contract; comments here say which rule a branch follows. */
#include "stack/iface.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "stack/iface_priv.h"

/* Offsets inside an outgoing frame: we never send IPv4 options. */
#define IP_OFF NET_ETH_HEADER_LEN
#define L4_OFF (NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN)

/* ---- identities --------------------------------------------------------------- */

void net_iface_config_slirp_guest(net_iface_config *cfg) {
  memset(cfg, 0, sizeof *cfg); /* no IPv6 global address, no SLAAC */
  static const uint8_t mac[NET_MAC_LEN] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  memcpy(cfg->mac, mac, NET_MAC_LEN);
  cfg->ip = 0x0a00020f;      /* 10.0.2.15 */
  cfg->netmask = 0xffffff00; /* /24 */
  cfg->gateway = 0x0a000202; /* 10.0.2.2 */
  cfg->mtu = 0;              /* Ethernet's 1500 */
}

void net_iface_config_slirp_host(net_iface_config *cfg) {
  memset(cfg, 0, sizeof *cfg); /* no IPv6 global address, no SLAAC */
  static const uint8_t mac[NET_MAC_LEN] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
  memcpy(cfg->mac, mac, NET_MAC_LEN);
  cfg->ip = 0x0a000202;      /* 10.0.2.2 */
  cfg->netmask = 0xffffff00; /* /24 */
  cfg->gateway = 0;          /* it is the gateway */
  cfg->mtu = 0;
}

static void report_fate(net_iface *ifc, uint64_t tag, emu_fate fate, uint64_t now_ns);

/* A held fragment's fate, decided with its datagram's. */
static void reasm_report(void *ctx, uint64_t tag, emu_fate fate, uint64_t now_ns) {
  report_fate(ctx, tag, fate, now_ns);
}

int net_iface_init(net_iface *ifc, const net_iface_config *cfg, emu_port *port) {
  if (!ifc || !cfg || !port || !port->send) return EMU_EINVAL;
  if (cfg->ip == 0 || net_mac_is_group(cfg->mac)) return EMU_EINVAL;
  uint32_t host_bits = ~cfg->netmask;
  if ((host_bits & (host_bits + 1)) != 0) return EMU_EINVAL; /* ones, then zeros */
  if (cfg->mtu && (cfg->mtu < NET_IFACE_MTU_MIN || cfg->mtu > NET_IFACE_MTU_MAX)) return EMU_EINVAL;
  memset(ifc, 0, sizeof *ifc);
  ifc->cfg = *cfg;
  ifc->mtu = cfg->mtu ? cfg->mtu : NET_IFACE_MTU;
  ifc->port = port;
  ifc->next_ephemeral = NET_TCP_EPHEMERAL_FIRST;
  net_reasm_init(&ifc->reasm, reasm_report, ifc);
  net_iface_priv_ip6_init(ifc);
  /* A deterministic default seed, different for each address, so that two
   * ifaces that were never configured still draw different ISSs. */
  net_tcp_config tcfg;
  net_tcp_config_default(&tcfg);
  tcfg.seed = (uint64_t)cfg->ip << 16 ^ (uint64_t)cfg->mac[4] << 8 ^ cfg->mac[5];
  return net_tcp_configure(ifc, &tcfg);
}

int net_iface_set_address(net_iface *ifc, uint32_t ip, uint32_t netmask, uint32_t gateway) {
  uint32_t host_bits = ~netmask;
  if (!ifc || (host_bits & (host_bits + 1)) != 0) return EMU_EINVAL;
  ifc->cfg.ip = ip;
  ifc->cfg.netmask = netmask;
  ifc->cfg.gateway = gateway;
  return 0;
}

void net_iface_close(net_iface *ifc) {
  if (!ifc) return;
  net_tcp_free_all(ifc);
  net_udp_unbind_all(ifc);
  ifc->reasm.report = NULL; /* freed, not reported: the run's ledger may be gone */
  net_reasm_close(&ifc->reasm, EMU_FATE_REASSEMBLY_TIMEOUT, 0);
  free(ifc->big);
  memset(ifc, 0, sizeof *ifc);
}

const net_iface_stats *net_iface_stats_get(const net_iface *ifc) { return &ifc->stats; }

/* ---- addressing ------------------------------------------------------------------ */

static uint32_t subnet_broadcast(const net_iface *ifc) { return ifc->cfg.ip | ~ifc->cfg.netmask; }

static int is_broadcast_ip(const net_iface *ifc, uint32_t ip) {
  if (ip == NET_IPV4_BROADCAST) return 1;
  /* A /32 has no subnet broadcast: its only address is ours. */
  return ifc->cfg.netmask != 0xffffffff && ip == subnet_broadcast(ifc);
}

static int is_multicast_ip(uint32_t ip) { return (ip >> 28) == 0xe; } /* 224.0.0.0/4 */

/* Virtual time never runs backwards inside one run, but a replayed capture's
 * timestamps may: treat "earlier" as no time elapsed rather than wrapping. */
static uint64_t elapsed_ns(uint64_t now_ns, uint64_t since_ns) {
  return now_ns >= since_ns ? now_ns - since_ns : 0;
}

static int on_subnet(const net_iface *ifc, uint32_t ip) {
  return ((ip ^ ifc->cfg.ip) & ifc->cfg.netmask) == 0;
}

/* ---- transmit ------------------------------------------------------------------ */

/* Hands a finished frame to the port; the port copies it (emu_port_send). */
int net_iface_priv_transmit(net_iface *ifc, const uint8_t *frame, size_t len, uint64_t now_ns) {
  int err = emu_port_send(ifc->port, frame, len, now_ns);
  if (err < 0) {
    ifc->stats.tx_errors++;
    return err;
  }
  ifc->stats.tx_frames++;
  ifc->stats.tx_bytes += len;
  return 0;
}

void net_iface_priv_eth_header(const net_iface *ifc, uint8_t *frame, const uint8_t *dst_mac,
                               uint16_t ethertype) {
  net_eth_repr eth = {.ethertype = ethertype};
  memcpy(eth.dst, dst_mac, NET_MAC_LEN);
  memcpy(eth.src, ifc->cfg.mac, NET_MAC_LEN);
  (void)net_eth_emit(&eth, frame, NET_ETH_HEADER_LEN);
}

/* Builds and sends one Ethernet/IPv4 ARP packet in the scratch buffer. */
static int send_arp(net_iface *ifc, uint16_t oper, const uint8_t *eth_dst,
                    const uint8_t *target_mac, uint32_t target_ip, uint64_t now_ns) {
  uint8_t *frame = ifc->scratch;
  net_iface_priv_eth_header(ifc, frame, eth_dst, NET_ETHERTYPE_ARP);
  net_arp_repr arp = {.oper = oper, .spa = ifc->cfg.ip, .tpa = target_ip};
  memcpy(arp.sha, ifc->cfg.mac, NET_MAC_LEN);
  memcpy(arp.tha, target_mac, NET_MAC_LEN);
  (void)net_arp_emit(&arp, frame + NET_ETH_HEADER_LEN, NET_ARP_LEN);
  int err = net_iface_priv_transmit(ifc, frame, NET_ETH_HEADER_LEN + NET_ARP_LEN, now_ns);
  if (err == 0) {
    if (oper == NET_ARP_OPER_REQUEST)
      ifc->stats.arp_requests_sent++;
    else
      ifc->stats.arp_replies_sent++;
  }
  return err;
}

/* RFC 826 "Packet Generation": a request goes to the broadcast address with
 * the target hardware address left unknown (zero). */
static int send_arp_request(net_iface *ifc, uint32_t target_ip, uint64_t now_ns) {
  static const uint8_t unknown[NET_MAC_LEN] = {0};
  return send_arp(ifc, NET_ARP_OPER_REQUEST, net_mac_broadcast, unknown, target_ip, now_ns);
}

/* ---- ARP cache ------------------------------------------------------------------- */

static net_iface_arp_entry *arp_find(net_iface *ifc, uint32_t ip) {
  for (size_t i = 0; i < NET_IFACE_ARP_CACHE_SIZE; i++)
    if (ifc->arp_cache[i].ip == ip) return &ifc->arp_cache[i];
  return NULL;
}

int net_iface_arp_lookup(const net_iface *ifc, uint32_t ip, uint8_t mac_out[NET_MAC_LEN]) {
  if (ip == 0) return EMU_EAGAIN;
  for (size_t i = 0; i < NET_IFACE_ARP_CACHE_SIZE; i++) {
    if (ifc->arp_cache[i].ip == ip) {
      memcpy(mac_out, ifc->arp_cache[i].mac, NET_MAC_LEN);
      return 0;
    }
  }
  return EMU_EAGAIN;
}

static void arp_touch(net_iface *ifc, net_iface_arp_entry *e) {
  e->last_used = ++ifc->arp_use_tick;
}

/* Adds ip -> mac, taking a free slot or else the least recently used one. */
static net_iface_arp_entry *arp_insert(net_iface *ifc, uint32_t ip, const uint8_t *mac) {
  net_iface_arp_entry *victim = &ifc->arp_cache[0];
  for (size_t i = 0; i < NET_IFACE_ARP_CACHE_SIZE; i++) {
    net_iface_arp_entry *e = &ifc->arp_cache[i];
    if (e->ip == 0) {
      victim = e;
      break;
    }
    if (e->last_used < victim->last_used) victim = e;
  }
  victim->ip = ip;
  memcpy(victim->mac, mac, NET_MAC_LEN);
  arp_touch(ifc, victim);
  return victim;
}

/* ---- packets waiting for ARP ----------------------------------------------------- */

static net_iface_arp_wait *arp_wait_find(net_iface *ifc, uint32_t ip) {
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++)
    if (ifc->arp_waits[i].ip == ip) return &ifc->arp_waits[i];
  return NULL;
}

/* A deferred frame's fate is decided: counted where PENDING was, and
 * reported to the deliverer. */
static void report_fate(net_iface *ifc, uint64_t tag, emu_fate fate, uint64_t now_ns) {
  if (ifc->stats.rx_fates[EMU_FATE_PENDING] > 0) ifc->stats.rx_fates[EMU_FATE_PENDING]--;
  ifc->stats.rx_fates[fate]++;
  emu_port_report(ifc->deferral, tag, fate, now_ns);
}

/* Packet p (already out of the queue: next_hop 0) was sent (ANSWERED),
 * refused by the port (DELIVERED) or dropped (REPLY_UNRESOLVED). The first
 * reply sent answers its frame; a frame whose replies all failed takes the
 * fate of the last one to leave. */
static void pending_settle(net_iface *ifc, net_iface_pending *p, emu_fate fate, uint64_t now_ns) {
  uint64_t tag = p->tag;
  if (tag == EMU_PORT_NO_TAG) return;
  p->tag = EMU_PORT_NO_TAG;
  for (size_t i = 0; i < ifc->npending; i++) {
    net_iface_pending *o = &ifc->pending[i];
    if (o->next_hop == 0 || o->tag != tag) continue;
    if (fate != EMU_FATE_ANSWERED) return; /* another reply may still leave */
    o->tag = EMU_PORT_NO_TAG;
  }
  report_fate(ifc, tag, fate, now_ns);
}

/* Drops the packets taken out of the queue, keeping the others in order. */
static void pending_compact(net_iface *ifc) {
  size_t kept = 0;
  for (size_t i = 0; i < ifc->npending; i++) {
    if (ifc->pending[i].next_hop == 0) continue;
    if (kept != i) ifc->pending[kept] = ifc->pending[i];
    kept++;
  }
  ifc->npending = kept;
}

/* Removes the packets queued for next_hop, keeping the others in order. When
 * mac is given they are sent to it first; otherwise they are dropped.
 * Returns how many were removed. */
uint64_t net_iface_priv_pending_take(net_iface *ifc, uint32_t next_hop, const uint8_t *hop6,
                                     const uint8_t *mac, uint64_t now_ns) {
  uint64_t taken = 0;
  for (size_t i = 0; i < ifc->npending; i++) {
    net_iface_pending *p = &ifc->pending[i];
    if (p->next_hop != next_hop) continue;
    if (hop6 && memcmp(p->next_hop6, hop6, NET_IPV6_ADDR_LEN) != 0) continue;
    emu_fate fate = EMU_FATE_REPLY_UNRESOLVED;
    if (mac) {
      memcpy(p->frame, mac, NET_MAC_LEN);
      /* failures are in tx_errors */
      fate = net_iface_priv_transmit(ifc, p->frame, p->len, now_ns) == 0 ? EMU_FATE_ANSWERED
                                                                         : EMU_FATE_DELIVERED;
    }
    p->next_hop = 0;
    pending_settle(ifc, p, fate, now_ns);
    taken++;
  }
  pending_compact(ifc);
  if (hop6) {
    net_iface_priv_nd_wait_clear(ifc, hop6);
    return taken;
  }
  net_iface_arp_wait *w = arp_wait_find(ifc, next_hop);
  if (w) memset(w, 0, sizeof *w);
  return taken;
}

static uint64_t pending_take(net_iface *ifc, uint32_t next_hop, const uint8_t *mac,
                             uint64_t now_ns) {
  return net_iface_priv_pending_take(ifc, next_hop, NULL, mac, now_ns);
}

/* Holds the IPv4 frame in scratch until next_hop answers ARP, asking for it
 * if nobody is asking yet; with hop6, the IPv6 frame until that neighbour
 * answers a Neighbor Solicitation. */
int net_iface_priv_pending_add(net_iface *ifc, uint32_t next_hop, const uint8_t *hop6, size_t len,
                               uint64_t now_ns) {
  if (ifc->npending == NET_IFACE_ARP_QUEUE_SIZE) {
    ifc->stats.arp_queue_full++;
    if (ifc->rx.no) ifc->rx.queue_full++;
    return EMU_ENOSPC;
  }
  net_iface_pending *p = &ifc->pending[ifc->npending++];
  p->next_hop = next_hop;
  p->tag = EMU_PORT_NO_TAG;
  p->input_no = ifc->rx.no; /* tagged after the input if its fate waits for it */
  if (ifc->rx.no) ifc->rx.queued++;
  p->len = len;
  memcpy(p->frame, ifc->scratch, len);
  if (hop6) {
    memcpy(p->next_hop6, hop6, NET_IPV6_ADDR_LEN);
    net_iface_priv_nd_wait_start(ifc, hop6, now_ns);
    return 0;
  }
  if (arp_wait_find(ifc, next_hop)) return 0;
  /* Each wait has at least one queued packet, so with the queue not full
   * before this packet a free wait slot exists. */
  net_iface_arp_wait *w = arp_wait_find(ifc, 0);
  w->ip = next_hop;
  w->tries = 1;
  w->deadline_ns = now_ns + NET_IFACE_ARP_RETRY_NS;
  (void)send_arp_request(ifc, next_hop, now_ns); /* a refused request is retried */
  return 0;
}

/* Sends the frame built in scratch now. One sent while a frame is being
 * received is a reply to it: that frame is answered. */
int net_iface_priv_transmit_scratch(net_iface *ifc, size_t len, uint64_t now_ns) {
  int err = net_iface_priv_transmit(ifc, ifc->scratch, len, now_ns);
  if (err == 0 && ifc->rx.no) ifc->rx.sent++;
  return err;
}

/* Sends the IPv4 packet ip describes, whose payload is already in scratch at
 * L4_OFF: writes the IPv4 and Ethernet headers, then sends it, or queues it
 * while the next hop is resolved. */
static int ipv4_route(net_iface *ifc, const net_ipv4_repr *ip, uint64_t now_ns) {
  uint32_t dst = ip->dst;
  /* No loopback, and no multicast: we would have no group MAC to send to. */
  if (dst == 0 || dst == ifc->cfg.ip || is_multicast_ip(dst)) return EMU_EINVAL;
  int err = net_ipv4_emit(ip, ifc->scratch + IP_OFF, ifc->mtu);
  if (err < 0) return err;
  size_t len = L4_OFF + ip->payload_len;

  if (is_broadcast_ip(ifc, dst)) {
    net_iface_priv_eth_header(ifc, ifc->scratch, net_mac_broadcast, NET_ETHERTYPE_IPV4);
    return net_iface_priv_transmit_scratch(ifc, len, now_ns);
  }
  /* RFC 1122 §3.3.1.1: on-subnet destinations are reached directly, the rest
   * through the gateway. */
  uint32_t next_hop = on_subnet(ifc, dst) ? dst : ifc->cfg.gateway;
  if (next_hop == 0) return EMU_EINVAL; /* no route */
  net_iface_arp_entry *e = arp_find(ifc, next_hop);
  if (!e) {
    net_iface_priv_eth_header(ifc, ifc->scratch, net_mac_broadcast, NET_ETHERTYPE_IPV4);
    return net_iface_priv_pending_add(ifc, next_hop, NULL, len, now_ns);
  }
  arp_touch(ifc, e);
  net_iface_priv_eth_header(ifc, ifc->scratch, e->mac, NET_ETHERTYPE_IPV4);
  return net_iface_priv_transmit_scratch(ifc, len, now_ns);
}

static int ipv4_output(net_iface *ifc, uint32_t dst, uint8_t protocol, size_t l4_len,
                       uint64_t now_ns) {
  if (l4_len > (size_t)ifc->mtu - NET_IPV4_HEADER_LEN) return EMU_EINVAL;
  net_ipv4_repr ip = {
      .src = ifc->cfg.ip,
      .dst = dst,
      .protocol = protocol,
      .ttl = NET_IFACE_TTL,
      .ident = ifc->next_ip_ident++,
      .dont_frag = 1, /* it fits our link: path MTU discovery (RFC 1191) for the rest */
      .payload_len = l4_len,
  };
  return ipv4_route(ifc, &ip, now_ns);
}

/* Fragments wait for an unresolved next hop in the ARP queue, a frame each:
 * when they would not all fit, none is queued (half a datagram is of no use
 * to the peer) and the next hop is asked now, so that a datagram sent after
 * its answer leaves whole. */
static int fragments_fit(net_iface *ifc, uint32_t dst, size_t count, uint64_t now_ns) {
  if (dst == 0 || dst == ifc->cfg.ip || is_multicast_ip(dst) || is_broadcast_ip(ifc, dst)) return 0;
  uint32_t next_hop = on_subnet(ifc, dst) ? dst : ifc->cfg.gateway;
  if (next_hop == 0 || arp_find(ifc, next_hop)) return 0; /* no route: ipv4_route says so */
  if (ifc->npending + count <= NET_IFACE_ARP_QUEUE_SIZE) return 0;
  ifc->stats.arp_queue_full++;
  if (ifc->rx.no) ifc->rx.queue_full++;
  if (!arp_wait_find(ifc, next_hop)) (void)send_arp_request(ifc, next_hop, now_ns);
  return EMU_ENOSPC;
}

/* RFC 791 §3.2 "Fragmentation": a datagram larger than the link's MTU (built
 * in the big buffer) leaves as fragments of one identification, each
 * carrying whole 8-byte blocks except the last, More Fragments set on all but
 * the last; Don't Fragment clear, for routers may fragment them further. A
 * fragment the port refuses ends the datagram: the peer's reassembly times
 * out, as on a lossy link. */
static int ipv4_output_fragments(net_iface *ifc, uint32_t dst, uint8_t protocol, size_t l4_len,
                                 uint64_t now_ns) {
  if (l4_len > NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN) return EMU_EINVAL;
  size_t per = ((size_t)ifc->mtu - NET_IPV4_HEADER_LEN) & ~(size_t)(NET_IPV4_FRAG_BLOCK - 1);
  net_ipv4_repr ip = {
      .src = ifc->cfg.ip,
      .dst = dst,
      .protocol = protocol,
      .ttl = NET_IFACE_TTL,
      .ident = ifc->next_ip_ident,
  };
  int err = fragments_fit(ifc, dst, (l4_len + per - 1) / per, now_ns);
  if (err) return err;
  ifc->next_ip_ident++;
  for (size_t off = 0; off < l4_len; off += per) {
    ip.frag_offset = (uint32_t)off;
    ip.payload_len = l4_len - off < per ? l4_len - off : per;
    ip.more_frags = off + ip.payload_len < l4_len;
    memcpy(ifc->scratch + L4_OFF, ifc->big + off, ip.payload_len);
    err = ipv4_route(ifc, &ip, now_ns);
    if (err) return err;
    ifc->stats.ip_fragments_sent++;
  }
  return 0;
}

/* ---- receive: ARP ---------------------------------------------------------------- */

/* RFC 826 "Packet Reception", in its order: merge the sender into an existing
 * entry; only if we are the target add a new one; only then answer a request. */
static emu_fate input_arp(net_iface *ifc, const uint8_t *pkt, size_t len, uint64_t now_ns) {
  int err = net_arp_check(pkt, len);
  if (err == EMU_ENOTSUP) return EMU_FATE_UNSUPPORTED;
  if (err) return EMU_FATE_MALFORMED;
  uint16_t oper = net_arp_oper(pkt);
  if (oper != NET_ARP_OPER_REQUEST && oper != NET_ARP_OPER_REPLY) return EMU_FATE_UNSUPPORTED;

  uint32_t spa = net_arp_spa(pkt);
  const uint8_t *sha = net_arp_sha(pkt);
  /* Never learn an unusable mapping: 0.0.0.0 is an RFC 5227 probe's sender,
   * our own address would be a conflict, a group MAC cannot own an address. */
  int learnable =
      spa != 0 && spa != ifc->cfg.ip && !net_mac_is_group(sha) && !is_broadcast_ip(ifc, spa);
  int merged = 0;
  net_iface_arp_entry *e = learnable ? arp_find(ifc, spa) : NULL;
  if (e) {
    memcpy(e->mac, sha, NET_MAC_LEN);
    arp_touch(ifc, e);
    merged = 1;
  }
  /* Without an address nobody can be asking for ours (a probe's target 0
   * is not an address). */
  if (net_arp_tpa(pkt) != ifc->cfg.ip || ifc->cfg.ip == 0) {
    if (merged) pending_take(ifc, spa, sha, now_ns);
    return merged ? EMU_FATE_DELIVERED : EMU_FATE_NOT_FOR_GUEST;
  }
  if (learnable && !merged) arp_insert(ifc, spa, sha);

  emu_fate fate = EMU_FATE_DELIVERED;
  if (oper == NET_ARP_OPER_REQUEST) {
    /* RFC 826: swap sender and target, put in our addresses, send it back to
     * the asker's hardware address. A refused reply leaves the frame merely
     * delivered (the cache learned from it). */
    if (send_arp(ifc, NET_ARP_OPER_REPLY, sha, sha, spa, now_ns) == 0) {
      fate = EMU_FATE_ANSWERED;
      ifc->rx.sent++;
    }
  }
  /* The sender is resolved now: whatever waited for it can go, after the
   * answer to its question. */
  if (learnable) pending_take(ifc, spa, sha, now_ns);
  return fate;
}

/* ---- receive: ICMP --------------------------------------------------------------- */

static net_ping_result *ping_find_pending(net_iface *ifc, uint32_t from, uint16_t ident,
                                          uint16_t seq) {
  for (size_t i = 0; i < ifc->npings; i++) {
    net_ping_result *r = &ifc->pings[i];
    if (r->state == NET_PING_PENDING && r->dst_ip == from && r->ident == ident && r->seq == seq)
      return r;
  }
  return NULL;
}

static emu_fate input_echo_request(net_iface *ifc, const uint8_t *ip_pkt, const uint8_t *msg,
                                   size_t msg_len, uint64_t now_ns) {
  /* RFC 1122 §3.2.2.6: an echo request to a broadcast address MAY be silently
   * discarded; like most hosts we do. */
  if (net_ipv4_dst(ip_pkt) != ifc->cfg.ip) return EMU_FATE_UNSUPPORTED;
  /* RFC 792 "Echo or Echo Reply Message": swap the addresses, type 0, and
   * return identifier, sequence number and data unchanged. */
  net_icmp_repr reply = {
      .type = NET_ICMP_ECHO_REPLY,
      .code = 0,
      .ident = net_icmp_echo_ident(msg),
      .seq = net_icmp_echo_seq(msg),
      .data = net_icmp_data(msg),
      .data_len = msg_len - NET_ICMP_HEADER_LEN,
  };
  /* a reassembled request may be larger than our link: the reply leaves
   * in fragments */
  size_t cap;
  uint8_t *buf = net_iface_l4_buf_big(ifc, msg_len, &cap);
  int n = buf ? net_icmp_emit(&reply, buf, cap) : EMU_ENOMEM;
  if (n < 0) return EMU_FATE_UNSUPPORTED;
  if (net_iface_ip_send(ifc, net_ipv4_src(ip_pkt), NET_IP_PROTO_ICMP, (size_t)n, now_ns) != 0)
    return EMU_FATE_DELIVERED;
  ifc->stats.echo_replies_sent++;
  return EMU_FATE_ANSWERED;
}

static emu_fate input_echo_reply(net_iface *ifc, const uint8_t *ip_pkt, const uint8_t *msg,
                                 uint64_t now_ns) {
  net_ping_result *r = ping_find_pending(ifc, net_ipv4_src(ip_pkt), net_icmp_echo_ident(msg),
                                         net_icmp_echo_seq(msg));
  if (!r) return EMU_FATE_NO_LISTENER;
  /* The timeout is decided by time alone, not by whether poll ran first: a
   * reply at or after the deadline finds the ping lost either way. */
  uint64_t rtt_ns = elapsed_ns(now_ns, r->sent_ns);
  if (rtt_ns >= NET_IFACE_PING_TIMEOUT_NS) {
    r->state = NET_PING_LOST;
    return EMU_FATE_NO_LISTENER;
  }
  r->state = NET_PING_REPLIED;
  r->rtt_ns = rtt_ns;
  return EMU_FATE_DELIVERED;
}

static emu_fate input_icmp(net_iface *ifc, const uint8_t *ip_pkt, uint64_t now_ns) {
  const uint8_t *msg = net_ipv4_payload(ip_pkt);
  size_t msg_len = net_ipv4_payload_len(ip_pkt);
  if (net_icmp_check(msg, msg_len) != 0) return EMU_FATE_MALFORMED;
  if (!net_icmp_checksum_ok(msg, msg_len)) return EMU_FATE_BAD_CHECKSUM;
  switch (net_icmp_type(msg)) {
    case NET_ICMP_ECHO_REQUEST:
      return input_echo_request(ifc, ip_pkt, msg, msg_len, now_ns);
    case NET_ICMP_ECHO_REPLY:
      return input_echo_reply(ifc, ip_pkt, msg, now_ns);
    default:
      return EMU_FATE_UNSUPPORTED;
  }
}

/* ---- for the transports ------------------------------------------------------------ */

uint8_t *net_iface_l4_buf(net_iface *ifc, size_t *cap) {
  if (cap) *cap = (size_t)ifc->mtu - NET_IPV4_HEADER_LEN;
  return ifc->scratch + L4_OFF;
}

uint8_t *net_iface_l4_buf_big(net_iface *ifc, size_t l4_len, size_t *cap) {
  if (l4_len <= (size_t)ifc->mtu - NET_IPV4_HEADER_LEN) return net_iface_l4_buf(ifc, cap);
  if (!ifc->big && !(ifc->big = malloc(NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN))) return NULL;
  if (cap) *cap = NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN;
  return ifc->big;
}

int net_iface_ip_send(net_iface *ifc, uint32_t dst, uint8_t protocol, size_t l4_len,
                      uint64_t now_ns) {
  if (l4_len > (size_t)ifc->mtu - NET_IPV4_HEADER_LEN && ifc->big)
    return ipv4_output_fragments(ifc, dst, protocol, l4_len, now_ns);
  return ipv4_output(ifc, dst, protocol, l4_len, now_ns);
}

int net_iface_is_broadcast(const net_iface *ifc, uint32_t ip) { return is_broadcast_ip(ifc, ip); }

int net_iface_icmp_unreachable(net_iface *ifc, const uint8_t *ip_pkt, uint8_t code,
                               uint64_t now_ns) {
  /* RFC 1122 §3.2.2: no ICMP error about a datagram sent to a broadcast or
   * multicast address, about a non-initial fragment, or about an ICMP error
   * message (only echo may be answered with an error). */
  if (net_ipv4_dst(ip_pkt) != ifc->cfg.ip) return EMU_EINVAL;
  if (net_ipv4_frag_offset(ip_pkt) != 0) return EMU_EINVAL;
  size_t hl = net_ipv4_header_len(ip_pkt), plen = net_ipv4_payload_len(ip_pkt);
  if (net_ipv4_protocol(ip_pkt) == NET_IP_PROTO_ICMP) {
    if (plen < 1) return EMU_EINVAL;
    uint8_t type = net_ipv4_payload(ip_pkt)[0];
    if (type != NET_ICMP_ECHO_REQUEST && type != NET_ICMP_ECHO_REPLY) return EMU_EINVAL;
  }
  /* RFC 792 "Destination Unreachable Message": the internet header plus the
   * first 64 bits of the original datagram's data; bytes 4-7 unused (zero). */
  size_t quote = hl + (plen < 8 ? plen : 8);
  uint8_t *msg = ifc->scratch + L4_OFF;
  memcpy(msg + NET_ICMP_HEADER_LEN, ip_pkt, quote);
  net_icmp_repr r = {.type = NET_ICMP_DEST_UNREACHABLE,
                     .code = code,
                     .data = msg + NET_ICMP_HEADER_LEN,
                     .data_len = quote};
  int n = net_icmp_emit(&r, msg, (size_t)ifc->mtu - NET_IPV4_HEADER_LEN);
  if (n < 0) return n;
  return ipv4_output(ifc, net_ipv4_src(ip_pkt), NET_IP_PROTO_ICMP, (size_t)n, now_ns);
}

void net_iface_set_stats_fn(net_iface *ifc, net_iface_stats_fn fn, void *ctx) {
  ifc->stats_fn = fn;
  ifc->stats_ctx = ctx;
}

size_t net_iface_stats_report(const net_iface *ifc, char *buf, size_t cap) {
  if (ifc->stats_fn) return ifc->stats_fn(ifc->stats_ctx, buf, cap);
  return net_iface_stats_json(ifc, buf, cap);
}

/* Appends to buf like snprintf, keeping *len at most cap - 1. */
static void json_add(char *buf, size_t cap, size_t *len, const char *key, uint64_t v) {
  if (*len + 1 >= cap) return;
  int n = snprintf(buf + *len, cap - *len, "%s\"%s\":%" PRIu64, *len > 1 ? "," : "", key, v);
  if (n < 0) return;
  *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

size_t net_iface_stats_json(const net_iface *ifc, char *buf, size_t cap) {
  if (!buf || cap == 0) return 0;
  const net_iface_stats *s = &ifc->stats;
  size_t len = 0;
  buf[0] = '\0';
  if (cap > 1) buf[len++] = '{', buf[len] = '\0';
  json_add(buf, cap, &len, "rx_frames", s->rx_frames);
  json_add(buf, cap, &len, "rx_bytes", s->rx_bytes);
  json_add(buf, cap, &len, "tx_frames", s->tx_frames);
  json_add(buf, cap, &len, "tx_bytes", s->tx_bytes);
  json_add(buf, cap, &len, "tx_errors", s->tx_errors);
  for (int f = EMU_FATE_PENDING + 1; f < EMU_FATE_COUNT; f++)
    if (s->rx_fates[f]) json_add(buf, cap, &len, emu_fate_name((emu_fate)f), s->rx_fates[f]);
  json_add(buf, cap, &len, "udp_rx", s->udp_rx);
  json_add(buf, cap, &len, "udp_tx", s->udp_tx);
  json_add(buf, cap, &len, "tcp_segs_in", s->tcp_segs_in);
  json_add(buf, cap, &len, "tcp_segs_out", s->tcp_segs_out);
  json_add(buf, cap, &len, "tcp_retransmits", s->tcp_retransmits);
  json_add(buf, cap, &len, "tcp_conns", ifc->tcp_nconns);
  if (len + 1 < cap) buf[len++] = '}', buf[len] = '\0';
  return len;
}

/* ---- receive: IPv4 --------------------------------------------------------------- */

static emu_fate input_ipv4_transport(net_iface *ifc, const uint8_t *pkt, uint64_t now_ns);
static emu_fate input_settle(net_iface *ifc, emu_fate fate);

/* RFC 791 §3.2 "Fragmentation and Reassembly": a fragment waits in the
 * reassembly table (its fate deferred when the driver can take one later);
 * the one that completes the datagram hands the whole of it on, and every
 * fragment gets the datagram's fate. */
static emu_fate input_fragment(net_iface *ifc, const uint8_t *pkt, size_t len, uint64_t now_ns) {
  uint64_t tag = emu_port_can_defer(ifc->deferral) ? ifc->deferral->tag : EMU_PORT_NO_TAG;
  const uint8_t *whole;
  size_t whole_len;
  emu_fate fate = net_reasm_add(&ifc->reasm, pkt, len, tag, now_ns, &whole, &whole_len);
  if (!whole) return fate;
  fate = input_ipv4_transport(ifc, whole, now_ns);
  /* the others' fate: what this input will settle to, as far as it is
   * known now (a reply still waiting for ARP counts as given) */
  emu_fate settled = input_settle(ifc, fate);
  net_reasm_settle(&ifc->reasm, settled == EMU_FATE_PENDING ? EMU_FATE_ANSWERED : settled, now_ns);
  return fate;
}

static emu_fate input_ipv4(net_iface *ifc, const uint8_t *pkt, size_t len, uint64_t now_ns) {
  if (net_ipv4_check(pkt, len) != 0) return EMU_FATE_MALFORMED;
  if (!net_ipv4_checksum_ok(pkt)) return EMU_FATE_BAD_CHECKSUM;
  uint32_t dst = net_ipv4_dst(pkt);
  /* Without an address (ip 0) a DHCP server's unicast to the address it
   * offers must still get in (RFC 2131 §4.1): the MAC said it is ours. Only
   * UDP, which DHCP is: nothing else may talk to an address not yet ours. */
  int unconfigured = ifc->cfg.ip == 0 && net_ipv4_protocol(pkt) == NET_IP_PROTO_UDP;
  if (dst != ifc->cfg.ip && !is_broadcast_ip(ifc, dst) && !unconfigured)
    return EMU_FATE_NOT_FOR_GUEST;
  /* RFC 1122 §3.2.1.3: a datagram whose source is a broadcast or multicast
   * address MUST be silently discarded. */
  uint32_t src = net_ipv4_src(pkt);
  if (is_broadcast_ip(ifc, src) || is_multicast_ip(src)) return EMU_FATE_MALFORMED;
  if (net_ipv4_is_fragment(pkt)) return input_fragment(ifc, pkt, len, now_ns);
  return input_ipv4_transport(ifc, pkt, now_ns);
}

static emu_fate input_ipv4_transport(net_iface *ifc, const uint8_t *pkt, uint64_t now_ns) {
  uint32_t dst = net_ipv4_dst(pkt), src = net_ipv4_src(pkt);
  switch (net_ipv4_protocol(pkt)) {
    case NET_IP_PROTO_ICMP:
      return input_icmp(ifc, pkt, now_ns);
    case NET_IP_PROTO_UDP:
    case NET_IP_PROTO_TCP:
      break;
    default:
      return EMU_FATE_UNSUPPORTED;
  }
  net_ip_rx rx = {
      .ends = {.local = dst, .remote = src},
      .pkt = pkt,
      .l4 = net_ipv4_payload(pkt),
      .l4_len = net_ipv4_payload_len(pkt),
      .to_unicast = dst == ifc->cfg.ip,
  };
  if (net_ipv4_protocol(pkt) == NET_IP_PROTO_UDP) return net_udp_input(ifc, &rx, now_ns);
  return net_tcp_input(ifc, &rx, now_ns);
}

/* ---- receive: Ethernet ----------------------------------------------------------- */

static emu_fate input_ethernet(net_iface *ifc, const uint8_t *frame, size_t len, uint64_t now_ns) {
  if (!frame || net_eth_check(frame, len) != 0) return EMU_FATE_MALFORMED;
  const uint8_t *dst = net_eth_dst(frame);
  /* Our unicast address, broadcast, and the groups of the IPv6 multicast
   * addresses we listen on (all-nodes, our solicited-node groups). */
  if (memcmp(dst, ifc->cfg.mac, NET_MAC_LEN) != 0 && !net_mac_is_broadcast(dst) &&
      !net_iface_priv_ip6_group_mac(ifc, dst))
    return EMU_FATE_NOT_FOR_GUEST;
  const uint8_t *payload = net_eth_payload(frame);
  size_t payload_len = len - NET_ETH_HEADER_LEN;
  switch (net_eth_ethertype(frame)) {
    case NET_ETHERTYPE_ARP:
      return input_arp(ifc, payload, payload_len, now_ns);
    case NET_ETHERTYPE_IPV4:
      return input_ipv4(ifc, payload, payload_len, now_ns);
    case NET_ETHERTYPE_IPV6:
      return net_iface_priv_input_ipv6(ifc, payload, payload_len, now_ns);
    default:
      return EMU_FATE_UNSUPPORTED; /* 802.1Q VLAN tags, LLDP, ... */
  }
}

/* A frame is answered only when a reply to it reached the port: what the
 * handlers returned is checked against what this input really sent. */
static emu_fate input_settle(net_iface *ifc, emu_fate fate) {
  const net_iface_rx_replies *rx = &ifc->rx;
  /* DELIVERED with a reply lost to a full queue: the handler meant to answer */
  int replied = fate == EMU_FATE_ANSWERED || (fate == EMU_FATE_DELIVERED && rx->queue_full);
  if (!replied || rx->sent) return replied ? EMU_FATE_ANSWERED : fate;
  if (rx->queued) {
    /* Without a way to report later, queued is the best that can be said. */
    if (!emu_port_can_defer(ifc->deferral)) return EMU_FATE_ANSWERED;
    for (size_t i = 0; i < ifc->npending; i++) {
      net_iface_pending *p = &ifc->pending[i];
      if (p->input_no == rx->no) p->tag = rx->tag;
    }
    return EMU_FATE_PENDING;
  }
  if (rx->queue_full) return EMU_FATE_REPLY_UNRESOLVED;
  return EMU_FATE_DELIVERED; /* its reply was refused by the port */
}

emu_fate net_iface_input(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  net_iface *ifc = ctx;
  ifc->stats.rx_frames++;
  ifc->stats.rx_bytes += len;
  ifc->rx = (net_iface_rx_replies){.no = ++ifc->inputs,
                                   .tag = ifc->deferral ? ifc->deferral->tag : EMU_PORT_NO_TAG};
  emu_fate fate = input_settle(ifc, input_ethernet(ifc, frame, len, now_ns));
  ifc->rx = (net_iface_rx_replies){0};
  ifc->stats.rx_fates[fate]++;
  return fate;
}

void net_iface_set_deferral(net_iface *ifc, emu_port_deferral *d) { ifc->deferral = d; }

void net_iface_finish(net_iface *ifc, uint64_t now_ns) {
  for (size_t i = 0; i < ifc->npending; i++) {
    net_iface_pending *p = &ifc->pending[i];
    p->next_hop = 0;
    pending_settle(ifc, p, EMU_FATE_REPLY_UNRESOLVED, now_ns);
  }
  ifc->stats.arp_unresolved += ifc->npending;
  ifc->npending = 0;
  memset(ifc->arp_waits, 0, sizeof ifc->arp_waits);
  memset(ifc->nd_waits, 0, sizeof ifc->nd_waits);
  net_reasm_close(&ifc->reasm, EMU_FATE_REASSEMBLY_TIMEOUT, now_ns); /* never completed */
}

/* ---- ping ------------------------------------------------------------------------ */

int net_iface_ping(net_iface *ifc, uint32_t dst_ip, uint16_t ident, uint16_t seq,
                   size_t payload_len, uint64_t now_ns) {
  if (payload_len > NET_ICMP_MAX_DATA4) return EMU_EINVAL;
  if (ifc->npings == NET_IFACE_PING_MAX) return EMU_ENOSPC;
  size_t cap;
  uint8_t *buf = net_iface_l4_buf_big(ifc, NET_ICMP_HEADER_LEN + payload_len, &cap);
  if (!buf) return EMU_ENOMEM;
  uint8_t *data = buf + NET_ICMP_HEADER_LEN; /* built in place */
  for (size_t i = 0; i < payload_len; i++) data[i] = (uint8_t)(i & 0xff);
  net_icmp_repr echo = {
      .type = NET_ICMP_ECHO_REQUEST,
      .ident = ident,
      .seq = seq,
      .data = data,
      .data_len = payload_len,
  };
  int n = net_icmp_emit(&echo, buf, cap);
  if (n < 0) return n;
  int err = net_iface_ip_send(ifc, dst_ip, NET_IP_PROTO_ICMP, (size_t)n, now_ns);
  if (err) return err;
  ifc->stats.echo_requests_sent++;
  ifc->pings[ifc->npings++] = (net_ping_result){
      .dst_ip = dst_ip,
      .ident = ident,
      .seq = seq,
      .payload_len = payload_len,
      .sent_ns = now_ns,
      .state = NET_PING_PENDING,
  };
  return 0;
}

size_t net_iface_ping_results(const net_iface *ifc, const net_ping_result **out) {
  *out = ifc->pings;
  return ifc->npings;
}

void net_iface_ping_reset(net_iface *ifc) { ifc->npings = 0; }

/* ---- timers ---------------------------------------------------------------------- */

void net_iface_poll(net_iface *ifc, uint64_t now_ns) {
  net_tcp_poll(ifc, now_ns);
  net_reasm_poll(&ifc->reasm, now_ns);
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++) {
    net_iface_arp_wait *w = &ifc->arp_waits[i];
    if (w->ip == 0 || now_ns < w->deadline_ns) continue;
    if (w->tries < NET_IFACE_ARP_TRIES) {
      w->tries++;
      w->deadline_ns = now_ns + NET_IFACE_ARP_RETRY_NS;
      (void)send_arp_request(ifc, w->ip, now_ns);
    } else {
      ifc->stats.arp_unresolved += pending_take(ifc, w->ip, NULL, now_ns);
    }
  }
  net_iface_priv_nd_poll(ifc, now_ns);
  for (size_t i = 0; i < ifc->npings; i++) {
    net_ping_result *r = &ifc->pings[i];
    if (r->state == NET_PING_PENDING && elapsed_ns(now_ns, r->sent_ns) >= NET_IFACE_PING_TIMEOUT_NS)
      r->state = NET_PING_LOST;
  }
}

uint64_t net_iface_poll_at(const net_iface *ifc) {
  uint64_t at = net_tcp_poll_at(ifc);
  uint64_t reasm_at = net_reasm_poll_at(&ifc->reasm);
  if (reasm_at < at) at = reasm_at;
  for (size_t i = 0; i < NET_IFACE_ARP_QUEUE_SIZE; i++) {
    const net_iface_arp_wait *w = &ifc->arp_waits[i];
    if (w->ip != 0 && w->deadline_ns < at) at = w->deadline_ns;
  }
  at = net_iface_priv_nd_poll_at(ifc, at);
  for (size_t i = 0; i < ifc->npings; i++) {
    const net_ping_result *r = &ifc->pings[i];
    if (r->state == NET_PING_PENDING && r->sent_ns + NET_IFACE_PING_TIMEOUT_NS < at)
      at = r->sent_ns + NET_IFACE_PING_TIMEOUT_NS;
  }
  return at;
}
