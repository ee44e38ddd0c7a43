/* Which endpoint of a capture the guest stands in for (replay --as auto).
 * A capture of other hosts addresses none of its frames to the guest, so
 * nothing it sends is answered. Taking a real host's place makes its half
 * of the conversation the guest's: the server side of its TCP
 * conversations (the host that answered SYNs, as tcpprep's server mode
 * picks it), else its busiest unicast destination. */
#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"

#define SCN_LOOPBACK_NET 127u /* 127/8 (RFC 1122 §3.2.1.3) */

/* An address a guest can take: not 0/8, loopback, multicast or reserved,
 * nor the network or broadcast address of its /24. */
static int scn_endpoint_usable(uint32_t ip) {
  uint32_t first = ip >> 24, last = ip & 0xffu;
  return first != 0 && first != SCN_LOOPBACK_NET && first < 224 && last != 0 && last != 255;
}

void scn_endpoints_init(scn_endpoints *e, uint32_t guest_ip) {
  memset(e, 0, sizeof *e);
  e->guest_ip = guest_ip;
}

static scn_addr *scn_endpoint(scn_endpoints *e, uint32_t ip) {
  if (!scn_endpoint_usable(ip)) return NULL;
  scn_addr *a = scn_addrs_get(&e->addrs, ip);
  e->out_of_memory |= a == NULL;
  return a;
}

/* The TCP flags SYN, ACK and RST of an IPv4 packet, or 0 when it is no
 * TCP segment with a whole header. */
static uint8_t scn_tcp_syn_flags(const uint8_t *ip_pkt, size_t len) {
  size_t hl = net_ipv4_header_len(ip_pkt);
  if (net_ipv4_protocol(ip_pkt) != NET_IP_PROTO_TCP || hl < NET_IPV4_HEADER_LEN ||
      len < hl + NET_TCP_HEADER_LEN)
    return 0;
  return net_tcp_flags(ip_pkt + hl) & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST);
}

/* A request its destination answers: a connection request (RFC 9293
 * §3.5) or an echo request (RFC 792). */
static int scn_is_request(const uint8_t *ip_pkt, size_t len) {
  size_t hl = net_ipv4_header_len(ip_pkt);
  if (net_ipv4_protocol(ip_pkt) == NET_IP_PROTO_ICMP)
    return hl >= NET_IPV4_HEADER_LEN && len > hl && ip_pkt[hl] == NET_ICMP_ECHO_REQUEST;
  return scn_tcp_syn_flags(ip_pkt, len) == NET_TCP_SYN;
}

/* Notes a port a server answered SYNs on (the first few). */
static void scn_endpoint_served(scn_addr *a, uint16_t port) {
  for (unsigned i = 0; i < a->nserved; i++)
    if (a->served[i] == port) return;
  if (a->nserved < SCN_ADDR_SERVED_MAX) a->served[a->nserved++] = port;
}

static void scn_endpoints_ipv4(scn_endpoints *e, const uint8_t *frame, const uint8_t *pkt,
                               size_t len) {
  uint32_t src = net_ipv4_src(pkt), dst = net_ipv4_dst(pkt);
  e->to_guest += dst == e->guest_ip;
  if ((src >> 24) == SCN_LOOPBACK_NET && (!e->loopback.ip || e->loopback.ip == src) &&
      scn_tcp_syn_flags(pkt, len) == (NET_TCP_SYN | NET_TCP_ACK)) {
    e->loopback.ip = src;
    e->loopback.syn_acks++;
    scn_endpoint_served(&e->loopback, net_tcp_src_port(pkt + net_ipv4_header_len(pkt)));
  }
  scn_addr *from = scn_endpoint(e, src);
  if (from) {
    scn_addr_note_mac(from, net_eth_src(frame), 1);
    /* a SYN-ACK: its sender served a connection, from this port */
    if (scn_tcp_syn_flags(pkt, len) == (NET_TCP_SYN | NET_TCP_ACK)) {
      from->syn_acks++;
      scn_endpoint_served(from, net_tcp_src_port(pkt + net_ipv4_header_len(pkt)));
    }
  }
  /* a unicast frame: to one host, at its MAC */
  if (net_mac_is_group(net_eth_dst(frame))) return;
  scn_addr *to = scn_endpoint(e, dst);
  if (!to) return;
  scn_addr_note_mac(to, net_eth_dst(frame), 0);
  to->frames_to++;
  to->asks += scn_is_request(pkt, len);
}

void scn_endpoints_add(scn_endpoints *e, const uint8_t *frame, size_t len) {
  if (len < NET_ETH_HEADER_LEN) return;
  const uint8_t *pkt = net_eth_payload(frame);
  size_t plen = len - NET_ETH_HEADER_LEN;
  if (net_eth_ethertype(frame) == NET_ETHERTYPE_ARP) {
    if (net_arp_check(pkt, plen) != 0) return;
    e->to_guest += net_arp_tpa(pkt) == e->guest_ip;
    scn_addr *from = scn_endpoint(e, net_arp_spa(pkt));
    if (from) scn_addr_note_mac(from, net_arp_sha(pkt), 1);
    /* a request asks one host: it counts as a frame to it */
    scn_addr *asked =
        net_arp_oper(pkt) == NET_ARP_OPER_REQUEST && net_arp_tpa(pkt) != net_arp_spa(pkt)
            ? scn_endpoint(e, net_arp_tpa(pkt))
            : NULL;
    if (asked) {
      asked->frames_to++;
      asked->asks++;
    }
    return;
  }
  /* only the addresses and flags are read: a truncated or damaged frame
   * still shows who talks */
  if (net_eth_ethertype(frame) == NET_ETHERTYPE_IPV4 && plen >= NET_IPV4_HEADER_LEN &&
      (pkt[0] >> 4) == 4)
    scn_endpoints_ipv4(e, frame, pkt, plen);
}

/* 1 when a ranks above b: more SYN-ACKs (for a TCP server), else more
 * requests to it, else more frames, else the lower address. */
static int scn_endpoint_above(const scn_addr *a, const scn_addr *b, int by_syn_acks) {
  if (by_syn_acks && a->syn_acks != b->syn_acks) return a->syn_acks > b->syn_acks;
  if (a->asks != b->asks) return a->asks > b->asks;
  if (a->frames_to != b->frames_to) return a->frames_to > b->frames_to;
  return a->ip < b->ip;
}

scn_endpoint_why scn_endpoints_pick(const scn_endpoints *e, scn_addr *out) {
  const scn_addr *best = NULL;
  int servers = 0;
  for (size_t i = 0; i < e->addrs.cap; i++)
    servers |= e->addrs.slots[i].ip && e->addrs.slots[i].syn_acks;
  /* a server the guest can play, at an address it keeps its own in */
  if (!servers && e->loopback.syn_acks) {
    *out = e->loopback;
    return SCN_ENDPOINT_LOOPBACK_SERVER;
  }
  for (size_t i = 0; i < e->addrs.cap; i++) {
    const scn_addr *a = &e->addrs.slots[i];
    if (!a->ip || (servers ? !a->syn_acks : !a->frames_to)) continue;
    if (!best || scn_endpoint_above(a, best, servers)) best = a;
  }
  if (!best) return SCN_ENDPOINT_NONE;
  *out = *best;
  return servers ? SCN_ENDPOINT_TCP_SERVER : SCN_ENDPOINT_DESTINATION;
}

void scn_endpoints_free(scn_endpoints *e) { scn_addrs_free(&e->addrs); }
