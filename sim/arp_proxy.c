/* The host's proxy ARP (scn_config.arp_proxy): in a replay nobody on the
 * host's side of the link is alive to answer the guest's ARP requests, so
 * every reply the guest makes to a captured frame would wait for ARP and be
 * dropped. The host answers instead, for the addresses the frames it sent
 * use, with the MAC those frames showed for them; and likewise the guest's
 * IPv6 Neighbor Solicitations (RFC 4861 §7.2.4: as a proxy would, with the
 * Override flag clear, §7.2.8). */
#include <stdlib.h>
#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"

static int scn_proxy_usable(const scn *s, uint32_t ip) {
  /* never 0.0.0.0, a broadcast or multicast address, or the guest's own */
  return ip != 0 && ip != NET_IPV4_BROADCAST && (ip >> 28) != 0xe && ip != s->cfg.guest.ip;
}

/* Notes that the host's frames use ip, at mac when given (the latest wins). */
static void scn_proxy_note(scn *s, uint32_t ip, const uint8_t *mac) {
  if (!scn_proxy_usable(s, ip)) return;
  scn_addr *a = scn_addrs_get(&s->proxy.addrs, ip);
  if (!a)
    s->proxy.not_learned++;
  else
    scn_addr_note_mac(a, mac, 1);
}

static scn_proxy_nd *scn_proxy_nd_find(scn *s, const uint8_t *ip6) {
  for (size_t i = 0; i < SCN_PROXY_ND_MAX; i++)
    if (s->proxy.nd[i].used && memcmp(s->proxy.nd[i].ip6, ip6, 16) == 0) return &s->proxy.nd[i];
  return NULL;
}

/* Notes that the host's frames use the unicast ip6, at mac when given (a
 * source's MAC, the latest wins). */
static void scn_proxy_note6(scn *s, const uint8_t *ip6, const uint8_t *mac) {
  if (net_ipv6_is_unspecified(ip6) || net_ipv6_is_multicast(ip6)) return;
  if (mac && net_mac_is_group(mac)) mac = NULL;
  scn_proxy_nd *e = scn_proxy_nd_find(s, ip6);
  if (!e) {
    e = &s->proxy.nd[s->proxy.nd_next];
    s->proxy.nd_next = (s->proxy.nd_next + 1) % SCN_PROXY_ND_MAX;
    memset(e, 0, sizeof *e);
    memcpy(e->ip6, ip6, 16);
    e->used = 1;
  }
  if (mac) {
    memcpy(e->mac, mac, NET_MAC_LEN);
    e->has_mac = 1;
  }
}

void scn_proxy_learn(scn *s, const uint8_t *frame, size_t len) {
  if (len < NET_ETH_HEADER_LEN) return;
  const uint8_t *pkt = net_eth_payload(frame);
  size_t plen = len - NET_ETH_HEADER_LEN;
  switch (net_eth_ethertype(frame)) {
    case NET_ETHERTYPE_ARP:
      if (net_arp_check(pkt, plen) != 0) return;
      scn_proxy_note(s, net_arp_spa(pkt), net_arp_sha(pkt));
      scn_proxy_note(s, net_arp_tpa(pkt), NULL);
      return;
    case NET_ETHERTYPE_IPV4:
      /* Only the addresses are read: a truncated or damaged capture frame
       * still shows who talks. */
      if (plen < NET_IPV4_HEADER_LEN || (pkt[0] >> 4) != 4) return;
      scn_proxy_note(s, net_ipv4_src(pkt), net_eth_src(frame));
      scn_proxy_note(s, net_ipv4_dst(pkt), NULL);
      return;
    case NET_ETHERTYPE_IPV6:
      if (plen < NET_IPV6_HEADER_LEN || net_ipv6_version(pkt) != 6) return;
      scn_proxy_note6(s, net_ipv6_src(pkt), net_eth_src(frame));
      scn_proxy_note6(s, net_ipv6_dst(pkt), NULL);
      return;
    default:
      return;
  }
}

/* The MAC the host answers for ip with: the one its frames showed, else its
 * own (the gateway's). NULL when it does not answer for ip. */
static const uint8_t *scn_proxy_mac(const scn *s, uint32_t ip, const uint8_t *own) {
  if (s->peer && ip == s->peer->cfg.ip) return NULL; /* the peer answers for itself */
  const scn_addr *a = scn_addrs_find(&s->proxy.addrs, ip);
  if (a) return a->has_mac ? a->mac : own;
  return ip == s->cfg.guest.gateway && ip != 0 ? own : NULL;
}

/* The guest's Neighbor Solicitation for an address the host's frames used
 * gets an Advertisement from that address with the MAC they showed (else
 * the host's own): solicited, not overriding (RFC 4861 §7.2.8). */
static int scn_proxy_answer_ns(scn *s, const uint8_t *frame, size_t len, uint8_t *reply,
                               size_t cap) {
  const uint8_t *pkt = net_eth_payload(frame), *msg = pkt + NET_IPV6_HEADER_LEN;
  if (net_ipv6_check(pkt, len - NET_ETH_HEADER_LEN) != 0 ||
      net_ipv6_next_header(pkt) != NET_IP_PROTO_ICMPV6 ||
      net_ipv6_payload_len(pkt) < NET_ND_NS_LEN ||
      net_icmp_type(msg) != NET_ICMP6_NEIGHBOR_SOLICIT ||
      net_ipv6_is_unspecified(net_ipv6_src(pkt)))
    return 0; /* not an NS, or a DAD probe, which asks nobody */
  const uint8_t *target = msg + NET_ICMP6_HEADER_LEN;
  const scn_proxy_nd *e = scn_proxy_nd_find(s, target);
  if (!e || cap < SCN_PROXY_REPLY_MAX) return 0;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  const uint8_t *mac = e->has_mac ? e->mac : host.mac;
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_IPV6};
  memcpy(eth.dst, net_eth_src(frame), NET_MAC_LEN);
  memcpy(eth.src, mac, NET_MAC_LEN);
  net_ipv6_repr ip = {.next_header = NET_IP_PROTO_ICMPV6,
                      .hop_limit = NET_ND_HOP_LIMIT,
                      .payload_len = NET_ND_NS_LEN + NET_ND_OPT_LLADDR_LEN};
  memcpy(ip.src, target, 16);
  memcpy(ip.dst, net_ipv6_src(pkt), 16);
  if (net_eth_emit(&eth, reply, cap) < 0 ||
      net_ipv6_emit(&ip, reply + NET_ETH_HEADER_LEN, cap - NET_ETH_HEADER_LEN) < 0 ||
      net_nd_emit(NET_ICMP6_NEIGHBOR_ADVERT, NET_ND_NA_SOLICITED, target, mac, ip.src, ip.dst,
                  reply + NET_ETH_HEADER_LEN + NET_IPV6_HEADER_LEN, ip.payload_len) < 0)
    return 0;
  return SCN_PROXY_REPLY_MAX;
}

int scn_proxy_answer(scn *s, const uint8_t *frame, size_t len, uint8_t *reply, size_t cap) {
  if (len >= NET_ETH_HEADER_LEN && net_eth_ethertype(frame) == NET_ETHERTYPE_IPV6)
    return scn_proxy_answer_ns(s, frame, len, reply, cap);
  if (len < NET_ETH_HEADER_LEN || net_eth_ethertype(frame) != NET_ETHERTYPE_ARP) return 0;
  const uint8_t *req = net_eth_payload(frame);
  if (net_arp_check(req, len - NET_ETH_HEADER_LEN) != 0) return 0;
  if (net_arp_oper(req) != NET_ARP_OPER_REQUEST) return 0;
  uint32_t target = net_arp_tpa(req);
  /* an announcement or a probe (RFC 5227) asks nobody */
  if (target == net_arp_spa(req) || net_arp_spa(req) == 0) return 0;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  const uint8_t *mac = scn_proxy_mac(s, target, host.mac);
  if (!mac || cap < NET_ETH_HEADER_LEN + NET_ARP_LEN) return 0;
  /* RFC 826: the reply goes to the asker, from the address asked about. */
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_ARP};
  memcpy(eth.dst, net_arp_sha(req), NET_MAC_LEN);
  memcpy(eth.src, mac, NET_MAC_LEN);
  net_arp_repr arp = {.oper = NET_ARP_OPER_REPLY, .spa = target, .tpa = net_arp_spa(req)};
  memcpy(arp.sha, mac, NET_MAC_LEN);
  memcpy(arp.tha, net_arp_sha(req), NET_MAC_LEN);
  if (net_eth_emit(&eth, reply, cap) < 0 ||
      net_arp_emit(&arp, reply + NET_ETH_HEADER_LEN, cap - NET_ETH_HEADER_LEN) < 0)
    return 0;
  return NET_ETH_HEADER_LEN + NET_ARP_LEN;
}

void scn_proxy_free(scn *s) {
  scn_addrs_free(&s->proxy.addrs);
  memset(&s->proxy, 0, sizeof s->proxy);
}
