/* The host's proxy ARP (scn_config.arp_proxy): in a replay nobody on the
 * host's side of the link is alive to answer the guest's ARP requests, so
 * every reply the guest makes to a captured frame would wait for ARP and be
 * dropped. The host answers instead, for the addresses the frames it sent
 * use, with the MAC those frames showed for them. */
#include <stdlib.h>
#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"

/* First table size (a power of two); it doubles at half full. */
#define SCN_PROXY_FIRST_SLOTS 64u
/* Fibonacci hashing of an IPv4 address into the table. */
#define SCN_PROXY_HASH_MUL 0x9e3779b1u

static int scn_proxy_usable(const scn *s, uint32_t ip) {
  /* never 0.0.0.0, a broadcast or multicast address, or the guest's own */
  return ip != 0 && ip != NET_IPV4_BROADCAST && (ip >> 28) != 0xe && ip != s->cfg.guest.ip;
}

/* The slot of ip, or the free slot where it would go. */
static scn_proxy_addr *scn_proxy_slot(scn_proxy_addr *slots, size_t cap, uint32_t ip) {
  size_t i = (size_t)(ip * SCN_PROXY_HASH_MUL) & (cap - 1);
  while (slots[i].ip != 0 && slots[i].ip != ip) i = (i + 1) & (cap - 1);
  return &slots[i];
}

/* Doubles the table; 0, or -1 when out of memory (the table stays). */
static int scn_proxy_grow(scn_arp_proxy *p) {
  size_t cap = p->cap ? p->cap * 2 : SCN_PROXY_FIRST_SLOTS;
  if (cap < p->cap) return -1;
  scn_proxy_addr *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < p->cap; i++)
    if (p->slots[i].ip) *scn_proxy_slot(slots, cap, p->slots[i].ip) = p->slots[i];
  free(p->slots);
  p->slots = slots;
  p->cap = cap;
  return 0;
}

/* Notes that the host's frames use ip, at mac when given (the latest wins). */
static void scn_proxy_note(scn *s, uint32_t ip, const uint8_t *mac) {
  scn_arp_proxy *p = &s->proxy;
  if (!scn_proxy_usable(s, ip)) return;
  if (mac && net_mac_is_group(mac)) mac = NULL; /* no group owns an address */
  if ((p->n + 1) * 2 > p->cap && scn_proxy_grow(p) != 0) {
    p->not_learned++;
    return;
  }
  scn_proxy_addr *a = scn_proxy_slot(p->slots, p->cap, ip);
  if (a->ip == 0) {
    a->ip = ip;
    p->n++;
  }
  if (mac) {
    memcpy(a->mac, mac, NET_MAC_LEN);
    a->has_mac = 1;
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
    default:
      return;
  }
}

/* The MAC the host answers for ip with: the one its frames showed, else its
 * own (the gateway's). NULL when it does not answer for ip. */
static const uint8_t *scn_proxy_mac(const scn *s, uint32_t ip, const uint8_t *own) {
  if (s->peer && ip == s->peer->cfg.ip) return NULL; /* the peer answers for itself */
  const scn_arp_proxy *p = &s->proxy;
  const scn_proxy_addr *a = p->cap ? scn_proxy_slot(p->slots, p->cap, ip) : NULL;
  if (a && a->ip == ip) return a->has_mac ? a->mac : own;
  return ip == s->cfg.guest.gateway && ip != 0 ? own : NULL;
}

int scn_proxy_answer(scn *s, const uint8_t *frame, size_t len, uint8_t *reply, size_t cap) {
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
  free(s->proxy.slots);
  memset(&s->proxy, 0, sizeof s->proxy);
}
