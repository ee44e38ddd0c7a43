/* Wire formats as checked views: see wire.h. Every field goes through an
 * explicit big-endian accessor at a fixed offset, after a length check. */
#include "stack/wire.h"

#include <string.h>

#include "emu/err.h"

/* ---- Internet checksum ------------------------------------------------------ */

uint32_t net_inet_sum(uint32_t acc, const uint8_t *data, size_t len) {
  /* RFC 1071 §2(B): the ones'-complement sum does not depend on the word size
   * it is computed in, so add 32-bit big-endian words into a wide register
   * and fold the carries once at the end. */
  uint64_t sum = acc;
  while (len >= 4) {
    sum += net_get_be32(data);
    data += 4;
    len -= 4;
  }
  if (len >= 2) {
    sum += net_get_be16(data);
    data += 2;
    len -= 2;
  }
  if (len == 1) sum += (uint32_t)data[0] << 8; /* RFC 1071 §2(A): pad with zero */
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint32_t)sum;
}

uint16_t net_inet_fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

uint16_t net_inet_checksum(const uint8_t *data, size_t len) {
  return net_inet_fold(net_inet_sum(0, data, len));
}

/* ---- MAC addresses ---------------------------------------------------------- */

const uint8_t net_mac_broadcast[NET_MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int net_mac_is_broadcast(const uint8_t *mac) {
  return memcmp(mac, net_mac_broadcast, NET_MAC_LEN) == 0;
}

/* ---- Ethernet II -------------------------------------------------------------- */

int net_eth_check(const uint8_t *frame, size_t len) {
  (void)frame;
  return len < NET_ETH_HEADER_LEN ? EMU_EFORMAT : 0;
}

int net_eth_parse(const uint8_t *frame, size_t len, net_eth_repr *out) {
  int err = net_eth_check(frame, len);
  if (err) return err;
  memcpy(out->dst, net_eth_dst(frame), NET_MAC_LEN);
  memcpy(out->src, net_eth_src(frame), NET_MAC_LEN);
  out->ethertype = net_eth_ethertype(frame);
  return 0;
}

int net_eth_emit(const net_eth_repr *r, uint8_t *buf, size_t cap) {
  if (cap < NET_ETH_HEADER_LEN) return EMU_ENOSPC;
  memcpy(buf, r->dst, NET_MAC_LEN);
  memcpy(buf + 6, r->src, NET_MAC_LEN);
  net_put_be16(buf + 12, r->ethertype);
  return NET_ETH_HEADER_LEN;
}

/* ---- ARP ---------------------------------------------------------------------- */

int net_arp_check(const uint8_t *pkt, size_t len) {
  if (len < NET_ARP_LEN) return EMU_EFORMAT;
  /* RFC 826 "Packet format": the address lengths are carried in the packet so
   * that other link and protocol types fit; we only parse the 6/4 layout. */
  if (net_arp_htype(pkt) != NET_ARP_HTYPE_ETHERNET || net_arp_ptype(pkt) != NET_ETHERTYPE_IPV4 ||
      net_arp_hlen(pkt) != NET_MAC_LEN || net_arp_plen(pkt) != 4)
    return EMU_ENOTSUP;
  return 0;
}

int net_arp_parse(const uint8_t *pkt, size_t len, net_arp_repr *out) {
  int err = net_arp_check(pkt, len);
  if (err) return err;
  out->oper = net_arp_oper(pkt);
  memcpy(out->sha, net_arp_sha(pkt), NET_MAC_LEN);
  out->spa = net_arp_spa(pkt);
  memcpy(out->tha, net_arp_tha(pkt), NET_MAC_LEN);
  out->tpa = net_arp_tpa(pkt);
  return 0;
}

int net_arp_emit(const net_arp_repr *r, uint8_t *buf, size_t cap) {
  if (cap < NET_ARP_LEN) return EMU_ENOSPC;
  net_put_be16(buf, NET_ARP_HTYPE_ETHERNET);
  net_put_be16(buf + 2, NET_ETHERTYPE_IPV4);
  buf[4] = NET_MAC_LEN;
  buf[5] = 4;
  net_put_be16(buf + 6, r->oper);
  memcpy(buf + 8, r->sha, NET_MAC_LEN);
  net_put_be32(buf + 14, r->spa);
  memcpy(buf + 18, r->tha, NET_MAC_LEN);
  net_put_be32(buf + 24, r->tpa);
  return NET_ARP_LEN;
}

/* ---- IPv4 --------------------------------------------------------------------- */

int net_ipv4_check(const uint8_t *pkt, size_t len) {
  if (len < NET_IPV4_HEADER_LEN) return EMU_EFORMAT;
  if (net_ipv4_version(pkt) != 4) return EMU_EFORMAT;
  /* RFC 791 §3.1: IHL counts 32-bit words and "the minimum value for a correct
   * header is 5"; Total Length counts header and data, so it can be neither
   * shorter than the header nor longer than what arrived. */
  size_t header_len = net_ipv4_header_len(pkt);
  if (header_len < NET_IPV4_HEADER_LEN || header_len > len) return EMU_EFORMAT;
  size_t total_len = net_ipv4_total_len(pkt);
  if (total_len < header_len || total_len > len) return EMU_EFORMAT;
  return 0;
}

int net_ipv4_checksum_ok(const uint8_t *pkt) {
  /* RFC 791 §3.1: the checksum covers the header only, options included; a
   * header carrying a correct checksum sums to all ones, i.e. folds to 0. */
  return net_inet_checksum(pkt, net_ipv4_header_len(pkt)) == 0;
}

int net_ipv4_parse(const uint8_t *pkt, size_t len, net_ipv4_repr *out) {
  int err = net_ipv4_check(pkt, len);
  if (err) return err;
  out->src = net_ipv4_src(pkt);
  out->dst = net_ipv4_dst(pkt);
  out->protocol = net_ipv4_protocol(pkt);
  out->ttl = net_ipv4_ttl(pkt);
  out->tos = net_ipv4_tos(pkt);
  out->ident = net_ipv4_ident(pkt);
  out->dont_frag = (uint8_t)net_ipv4_dont_frag(pkt);
  out->more_frags = (uint8_t)net_ipv4_more_frags(pkt);
  out->frag_offset = net_ipv4_frag_offset(pkt);
  out->payload_len = net_ipv4_payload_len(pkt);
  return 0;
}

int net_ipv4_emit(const net_ipv4_repr *r, uint8_t *buf, size_t cap) {
  if (r->payload_len > NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN) return EMU_EINVAL;
  if (r->frag_offset % 8 != 0 || r->frag_offset / 8 > 0x1fff) return EMU_EINVAL;
  if (cap < NET_IPV4_HEADER_LEN + r->payload_len) return EMU_ENOSPC;
  buf[0] = 0x45; /* version 4, IHL 5: we never send options */
  buf[1] = r->tos;
  net_put_be16(buf + 2, (uint16_t)(NET_IPV4_HEADER_LEN + r->payload_len));
  net_put_be16(buf + 4, r->ident);
  uint16_t flags_offset = (uint16_t)(r->frag_offset / 8);
  if (r->dont_frag) flags_offset |= 0x4000;
  if (r->more_frags) flags_offset |= 0x2000;
  net_put_be16(buf + 6, flags_offset);
  buf[8] = r->ttl;
  buf[9] = r->protocol;
  net_put_be16(buf + 10, 0); /* RFC 791 §3.1: zero while computing the sum */
  net_put_be32(buf + 12, r->src);
  net_put_be32(buf + 16, r->dst);
  net_put_be16(buf + 10, net_inet_checksum(buf, NET_IPV4_HEADER_LEN));
  return NET_IPV4_HEADER_LEN;
}

/* ---- ICMP --------------------------------------------------------------------- */

int net_icmp_check(const uint8_t *msg, size_t len) {
  (void)msg;
  return len < NET_ICMP_HEADER_LEN ? EMU_EFORMAT : 0;
}

int net_icmp_checksum_ok(const uint8_t *msg, size_t len) {
  return net_inet_checksum(msg, len) == 0;
}

int net_icmp_parse(const uint8_t *msg, size_t len, net_icmp_repr *out) {
  int err = net_icmp_check(msg, len);
  if (err) return err;
  out->type = net_icmp_type(msg);
  out->code = net_icmp_code(msg);
  out->ident = net_icmp_echo_ident(msg);
  out->seq = net_icmp_echo_seq(msg);
  out->data = net_icmp_data(msg);
  out->data_len = len - NET_ICMP_HEADER_LEN;
  return 0;
}

int net_icmp_emit(const net_icmp_repr *r, uint8_t *buf, size_t cap) {
  if (r->data_len > NET_IPV4_MAX_LEN) return EMU_EINVAL; /* cannot fit any IPv4 packet */
  if (r->data_len > cap || cap - r->data_len < NET_ICMP_HEADER_LEN) return EMU_ENOSPC;
  /* memmove: a caller may build the data in place at buf + 8 */
  if (r->data_len && r->data != buf + NET_ICMP_HEADER_LEN)
    memmove(buf + NET_ICMP_HEADER_LEN, r->data, r->data_len);
  buf[0] = r->type;
  buf[1] = r->code;
  net_put_be16(buf + 2, 0); /* RFC 792: zero while computing the sum */
  net_put_be16(buf + 4, r->ident);
  net_put_be16(buf + 6, r->seq);
  size_t total = NET_ICMP_HEADER_LEN + r->data_len;
  net_put_be16(buf + 2, net_inet_checksum(buf, total));
  return (int)total;
}

/* ---- IPv6 --------------------------------------------------------------------- */

const uint8_t net_ipv6_unspecified[NET_IPV6_ADDR_LEN] = {0};
const uint8_t net_ipv6_all_nodes[NET_IPV6_ADDR_LEN] = {0xff, 0x02, [15] = 0x01};
const uint8_t net_ipv6_all_routers[NET_IPV6_ADDR_LEN] = {0xff, 0x02, [15] = 0x02};

int net_ipv6_check(const uint8_t *pkt, size_t len) {
  if (len < NET_IPV6_HEADER_LEN || net_ipv6_version(pkt) != 6) return EMU_EFORMAT;
  if (net_ipv6_payload_len(pkt) > len - NET_IPV6_HEADER_LEN) return EMU_EFORMAT;
  return 0;
}

int net_ipv6_parse(const uint8_t *pkt, size_t len, net_ipv6_repr *out) {
  int err = net_ipv6_check(pkt, len);
  if (err) return err;
  memcpy(out->src, net_ipv6_src(pkt), NET_IPV6_ADDR_LEN);
  memcpy(out->dst, net_ipv6_dst(pkt), NET_IPV6_ADDR_LEN);
  out->next_header = net_ipv6_next_header(pkt);
  out->hop_limit = net_ipv6_hop_limit(pkt);
  out->traffic_class = net_ipv6_traffic_class(pkt);
  out->flow_label = net_ipv6_flow_label(pkt);
  out->payload_len = net_ipv6_payload_len(pkt);
  return 0;
}

int net_ipv6_emit(const net_ipv6_repr *r, uint8_t *buf, size_t cap) {
  if (r->payload_len > 0xffff || r->flow_label > 0xfffff) return EMU_EINVAL;
  if (cap < NET_IPV6_HEADER_LEN || cap - NET_IPV6_HEADER_LEN < r->payload_len) return EMU_ENOSPC;
  /* RFC 8200 §3: version (4 bits), traffic class (8), flow label (20) */
  net_put_be32(buf, (uint32_t)6 << 28 | (uint32_t)r->traffic_class << 20 | r->flow_label);
  net_put_be16(buf + 4, (uint16_t)r->payload_len);
  buf[6] = r->next_header;
  buf[7] = r->hop_limit;
  memcpy(buf + 8, r->src, NET_IPV6_ADDR_LEN);
  memcpy(buf + 24, r->dst, NET_IPV6_ADDR_LEN);
  return NET_IPV6_HEADER_LEN;
}

/* RFC 8200 §4.2: the two high-order bits of an option type say what a node
 * that does not know it does; only 00 is "skip over this option". */
#define IPV6_OPT_PAD1        0
#define IPV6_OPT_ACTION(t)   ((t) >> 6)
#define IPV6_OPT_ACTION_SKIP 0

/* 1 when every option of the Hop-by-Hop or Destination Options header at h
 * (hlen bytes) may be skipped, 0 when one may not, -1 when malformed. */
static int ipv6_options_skippable(const uint8_t *h, size_t hlen) {
  for (size_t i = 2; i < hlen;) {
    if (h[i] == IPV6_OPT_PAD1) {
      i++;
      continue;
    }
    if (hlen - i < 2 || h[i + 1] > hlen - i - 2) return -1;
    if (IPV6_OPT_ACTION(h[i]) != IPV6_OPT_ACTION_SKIP) return 0;
    i += 2 + (size_t)h[i + 1];
  }
  return 1;
}

net_ipv6_walk_result net_ipv6_walk(const uint8_t *pkt, uint8_t *proto, size_t *off) {
  size_t end = NET_IPV6_HEADER_LEN + net_ipv6_payload_len(pkt), at = NET_IPV6_HEADER_LEN;
  uint8_t nh = net_ipv6_next_header(pkt);
  for (;;) {
    if (nh == NET_IPV6_NH_FRAGMENT) return NET_IPV6_WALK_FRAGMENT;
    if (nh == NET_IPV6_NH_NONE) return NET_IPV6_WALK_NO_NEXT;
    if (nh != NET_IPV6_NH_HOP_BY_HOP && nh != NET_IPV6_NH_DEST_OPTS && nh != NET_IPV6_NH_ROUTING)
      break;
    /* RFC 8200 §4.1: Hop-by-Hop Options only immediately after the header */
    if (nh == NET_IPV6_NH_HOP_BY_HOP && at != NET_IPV6_HEADER_LEN) return NET_IPV6_WALK_HOP_BY_HOP;
    /* RFC 8200 §4.3-4.6: Next Header, Hdr Ext Len in 8-octet units not
     * counting the first 8 */
    if (end - at < 8) return NET_IPV6_WALK_MALFORMED;
    const uint8_t *h = pkt + at;
    size_t hlen = 8 + (size_t)h[1] * 8;
    if (hlen > end - at) return NET_IPV6_WALK_MALFORMED;
    if (nh == NET_IPV6_NH_ROUTING) {
      /* §4.4: with Segments Left 0 the node ignores the header */
      if (h[3] != 0) return NET_IPV6_WALK_ROUTING;
    } else {
      int ok = ipv6_options_skippable(h, hlen);
      if (ok < 0) return NET_IPV6_WALK_MALFORMED;
      if (ok == 0) return NET_IPV6_WALK_OPTION;
    }
    nh = h[0];
    at += hlen;
  }
  *proto = nh;
  *off = at;
  return NET_IPV6_WALK_OK;
}

uint32_t net_ipv6_pseudo_sum(const uint8_t *src, const uint8_t *dst, uint8_t next_header,
                             size_t l4_len) {
  uint8_t tail[8];
  net_put_be32(tail, (uint32_t)l4_len);
  tail[4] = tail[5] = tail[6] = 0;
  tail[7] = next_header;
  uint32_t sum = net_inet_sum(0, src, NET_IPV6_ADDR_LEN);
  sum = net_inet_sum(sum, dst, NET_IPV6_ADDR_LEN);
  return net_inet_sum(sum, tail, sizeof tail);
}

int net_ipv6_is_unspecified(const uint8_t *a) {
  return memcmp(a, net_ipv6_unspecified, NET_IPV6_ADDR_LEN) == 0;
}

/* RFC 4291 Appendix A: a 48-bit MAC becomes an interface identifier by
 * inserting ff:fe between its halves and inverting the universal/local bit
 * (0x02 of the first byte). */
static void eui64_from_mac(const uint8_t *mac, uint8_t *iid) {
  iid[0] = mac[0] ^ 0x02;
  iid[1] = mac[1];
  iid[2] = mac[2];
  iid[3] = 0xff;
  iid[4] = 0xfe;
  iid[5] = mac[3];
  iid[6] = mac[4];
  iid[7] = mac[5];
}

void net_ipv6_addr_from_prefix(const uint8_t *prefix, const uint8_t *mac,
                               uint8_t out[NET_IPV6_ADDR_LEN]) {
  memmove(out, prefix, 8);
  eui64_from_mac(mac, out + 8);
}

void net_ipv6_link_local_from_mac(const uint8_t *mac, uint8_t out[NET_IPV6_ADDR_LEN]) {
  static const uint8_t link_local_prefix[8] = {0xfe, 0x80};
  net_ipv6_addr_from_prefix(link_local_prefix, mac, out);
}

void net_ipv6_solicited_node(const uint8_t *a, uint8_t out[NET_IPV6_ADDR_LEN]) {
  static const uint8_t head[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
  uint8_t low[3] = {a[13], a[14], a[15]}; /* a and out may be the same */
  memcpy(out, head, sizeof head);
  memcpy(out + 13, low, sizeof low);
}

void net_ipv6_multicast_mac(const uint8_t *a, uint8_t mac[NET_MAC_LEN]) {
  mac[0] = 0x33;
  mac[1] = 0x33;
  memcpy(mac + 2, a + 12, 4);
}

/* ---- ICMPv6 and Neighbor Discovery ---------------------------------------------- */

/* Type, code, checksum: the part every ICMPv6 message has (RFC 4443 §2.1). */
#define ICMP6_MIN_LEN 4

int net_icmp6_check(const uint8_t *msg, size_t len) {
  (void)msg;
  return len < ICMP6_MIN_LEN ? EMU_EFORMAT : 0;
}

int net_icmp6_checksum_ok(const uint8_t *msg, size_t len, const uint8_t *src, const uint8_t *dst) {
  uint32_t sum = net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_ICMPV6, len);
  return net_inet_fold(net_inet_sum(sum, msg, len)) == 0;
}

int net_icmp6_emit(const net_icmp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                   size_t cap) {
  /* The layout is ICMP's; only the checksum's coverage differs (RFC 4443
   * §2.3): emit as ICMP, then redo the sum with the pseudo-header. */
  int n = net_icmp_emit(r, buf, cap);
  if (n < 0) return n;
  net_put_be16(buf + 2, 0);
  uint32_t sum = net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_ICMPV6, (size_t)n);
  net_put_be16(buf + 2, net_inet_fold(net_inet_sum(sum, buf, (size_t)n)));
  return n;
}

int net_nd_emit(uint8_t type, uint8_t na_flags, const uint8_t *target, const uint8_t *mac,
                const uint8_t *src, const uint8_t *dst, uint8_t *buf, size_t cap) {
  if (cap < NET_ND_NS_LEN + NET_ND_OPT_LLADDR_LEN) return EMU_ENOSPC;
  uint8_t *body = buf + NET_ICMP6_HEADER_LEN, *opt = body + NET_IPV6_ADDR_LEN;
  memmove(body, target, NET_IPV6_ADDR_LEN); /* target may lie in buf */
  opt[0] = type == NET_ICMP6_NEIGHBOR_ADVERT ? NET_ND_OPT_TARGET_LLADDR : NET_ND_OPT_SOURCE_LLADDR;
  opt[1] = NET_ND_OPT_LLADDR_LEN / 8; /* §4.6: in units of 8 bytes */
  memcpy(opt + 2, mac, NET_MAC_LEN);
  net_icmp_repr r = {.type = type,
                     .ident = (uint16_t)(na_flags << 8), /* the flags lead the 32-bit field */
                     .data = body,
                     .data_len = NET_IPV6_ADDR_LEN + NET_ND_OPT_LLADDR_LEN};
  return net_icmp6_emit(&r, src, dst, buf, cap);
}

int net_nd_options(const uint8_t *opts, size_t len, net_nd_opts *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < len;) {
    /* RFC 4861 §4.6: Length in units of 8 octets; 0 is invalid */
    if (len - i < 2 || opts[i + 1] == 0) return EMU_EFORMAT;
    size_t olen = (size_t)opts[i + 1] * 8;
    if (olen > len - i) return EMU_EFORMAT;
    const uint8_t *o = opts + i;
    switch (o[0]) {
      case NET_ND_OPT_SOURCE_LLADDR:
      case NET_ND_OPT_TARGET_LLADDR:
        if (olen != NET_ND_OPT_LLADDR_LEN) return EMU_EFORMAT;
        if (o[0] == NET_ND_OPT_SOURCE_LLADDR)
          out->source_lladdr = o + 2;
        else
          out->target_lladdr = o + 2;
        break;
      case NET_ND_OPT_PREFIX_INFO:
        if (olen != NET_ND_OPT_PREFIX_LEN) return EMU_EFORMAT;
        if (!out->prefix) out->prefix = o;
        break;
      default: /* §4.6: unknown options are ignored */
        break;
    }
    i += olen;
  }
  return 0;
}

/* ---- pseudo-header -------------------------------------------------------------- */

uint32_t net_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t protocol, size_t l4_len) {
  uint8_t ph[12];
  net_put_be32(ph, src);
  net_put_be32(ph + 4, dst);
  ph[8] = 0;
  ph[9] = protocol;
  net_put_be16(ph + 10, (uint16_t)l4_len);
  return net_inet_sum(0, ph, sizeof ph);
}

/* ---- UDP -------------------------------------------------------------------------- */

int net_udp_check(const uint8_t *dgram, size_t len) {
  if (len < NET_UDP_HEADER_LEN) return EMU_EFORMAT;
  /* RFC 768 "Fields": Length counts header and data, so it is at least 8;
   * it cannot claim more than the IP layer carried. */
  size_t ulen = net_udp_length(dgram);
  if (ulen < NET_UDP_HEADER_LEN || ulen > len) return EMU_EFORMAT;
  return 0;
}

int net_udp_checksum_ok(const uint8_t *dgram, uint32_t src_ip, uint32_t dst_ip) {
  if (net_udp_checksum(dgram) == 0) return 1; /* RFC 768: the sender computed none */
  size_t ulen = net_udp_length(dgram);
  uint32_t sum = net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_UDP, ulen);
  return net_inet_fold(net_inet_sum(sum, dgram, ulen)) == 0;
}

int net_udp_parse(const uint8_t *dgram, size_t len, net_udp_repr *out) {
  int err = net_udp_check(dgram, len);
  if (err) return err;
  out->src_port = net_udp_src_port(dgram);
  out->dst_port = net_udp_dst_port(dgram);
  out->payload = net_udp_payload(dgram);
  out->payload_len = net_udp_length(dgram) - NET_UDP_HEADER_LEN;
  return 0;
}

/* Writes header and payload with a zero checksum; returns the length. */
static int udp_write(const net_udp_repr *r, uint8_t *buf, size_t cap) {
  if (r->payload_len > 65535 - NET_UDP_HEADER_LEN) return EMU_EINVAL;
  size_t total = NET_UDP_HEADER_LEN + r->payload_len;
  if (cap < total) return EMU_ENOSPC;
  if (r->payload_len && r->payload != buf + NET_UDP_HEADER_LEN)
    memmove(buf + NET_UDP_HEADER_LEN, r->payload, r->payload_len);
  net_put_be16(buf, r->src_port);
  net_put_be16(buf + 2, r->dst_port);
  net_put_be16(buf + 4, (uint16_t)total);
  net_put_be16(buf + 6, 0);
  return (int)total;
}

static void udp_put_checksum(uint8_t *buf, size_t total, uint32_t pseudo_sum) {
  uint16_t ck = net_inet_fold(net_inet_sum(pseudo_sum, buf, total));
  /* RFC 768 (and RFC 8200 §8.1): an all-zero computed checksum is
   * transmitted as all ones, since 0 means "no checksum". */
  net_put_be16(buf + 6, ck == 0 ? 0xffff : ck);
}

int net_udp_emit(const net_udp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf,
                 size_t cap) {
  int n = udp_write(r, buf, cap);
  if (n < 0) return n;
  udp_put_checksum(buf, (size_t)n,
                   net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_UDP, (size_t)n));
  return n;
}

int net_udp_emit6(const net_udp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                  size_t cap) {
  int n = udp_write(r, buf, cap);
  if (n < 0) return n;
  udp_put_checksum(buf, (size_t)n, net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_UDP, (size_t)n));
  return n;
}

int net_udp_checksum_ok6(const uint8_t *dgram, const uint8_t *src, const uint8_t *dst) {
  /* RFC 8200 §8.1: over IPv6 the UDP checksum is not optional */
  if (net_udp_checksum(dgram) == 0) return 0;
  size_t ulen = net_udp_length(dgram);
  uint32_t sum = net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_UDP, ulen);
  return net_inet_fold(net_inet_sum(sum, dgram, ulen)) == 0;
}

/* ---- TCP -------------------------------------------------------------------------- */

/* RFC 9293 §3.1 "Options": End of Option List and No-Operation are one
 * byte, every other option is kind, length (counting both), data. */
int net_tcp_options(const uint8_t *seg, net_tcp_opts *out) {
  const uint8_t *p = seg + NET_TCP_HEADER_LEN, *end = seg + net_tcp_header_len(seg);
  out->mss = 0;
  out->ws = -1;
  while (p < end) {
    if (p[0] == NET_TCP_OPT_END) break;
    if (p[0] == NET_TCP_OPT_NOP) {
      p++;
      continue;
    }
    if (end - p < 2 || p[1] < 2 || p[1] > end - p) return EMU_EFORMAT;
    if (p[0] == NET_TCP_OPT_MSS) {
      if (p[1] != 4) return EMU_EFORMAT;
      out->mss = net_get_be16(p + 2);
    } else if (p[0] == NET_TCP_OPT_WS && p[1] == 3) {
      out->ws = p[2] > NET_TCP_WS_MAX ? NET_TCP_WS_MAX : p[2];
    }
    p += p[1];
  }
  return 0;
}

int net_tcp_check(const uint8_t *seg, size_t len) {
  if (len < NET_TCP_HEADER_LEN) return EMU_EFORMAT;
  size_t hl = net_tcp_header_len(seg);
  if (hl < NET_TCP_HEADER_LEN || hl > len) return EMU_EFORMAT;
  net_tcp_opts o;
  return net_tcp_options(seg, &o);
}

int net_tcp_checksum_ok(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip) {
  uint32_t sum = net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_TCP, len);
  return net_inet_fold(net_inet_sum(sum, seg, len)) == 0;
}

int net_tcp_parse(const uint8_t *seg, size_t len, net_tcp_repr *out) {
  int err = net_tcp_check(seg, len);
  if (err) return err;
  out->src_port = net_tcp_src_port(seg);
  out->dst_port = net_tcp_dst_port(seg);
  out->seq = net_tcp_seq(seg);
  out->ack = net_tcp_ack(seg);
  out->flags = net_tcp_flags(seg);
  out->window = net_tcp_window(seg);
  net_tcp_opts o;
  (void)net_tcp_options(seg, &o);
  out->mss = o.mss;
  out->payload = net_tcp_payload(seg);
  out->payload_len = len - net_tcp_header_len(seg);
  return 0;
}

/* Writes header, MSS option and payload with a zero checksum; returns the
 * length. */
static int tcp_write(const net_tcp_repr *r, uint8_t *buf, size_t cap) {
  size_t hl = net_tcp_emit_header_len(r);
  if (r->payload_len > 65535 - hl) return EMU_EINVAL;
  size_t total = hl + r->payload_len;
  if (cap < total) return EMU_ENOSPC;
  if (r->payload_len && r->payload != buf + hl) memmove(buf + hl, r->payload, r->payload_len);
  net_put_be16(buf, r->src_port);
  net_put_be16(buf + 2, r->dst_port);
  net_put_be32(buf + 4, r->seq);
  net_put_be32(buf + 8, r->ack);
  buf[12] = (uint8_t)((hl / 4) << 4);
  buf[13] = r->flags & 0x3f;
  net_put_be16(buf + 14, r->window);
  net_put_be16(buf + 16, 0); /* RFC 9293 §3.1: zero while computing the sum */
  net_put_be16(buf + 18, 0); /* no urgent data is ever sent */
  if (r->mss) {
    buf[20] = NET_TCP_OPT_MSS;
    buf[21] = 4;
    net_put_be16(buf + 22, r->mss);
  }
  return (int)total;
}

int net_tcp_emit(const net_tcp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf,
                 size_t cap) {
  int n = tcp_write(r, buf, cap);
  if (n < 0) return n;
  uint32_t sum = net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_TCP, (size_t)n);
  net_put_be16(buf + 16, net_inet_fold(net_inet_sum(sum, buf, (size_t)n)));
  return n;
}

int net_tcp_emit6(const net_tcp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                  size_t cap) {
  int n = tcp_write(r, buf, cap);
  if (n < 0) return n;
  uint32_t sum = net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_TCP, (size_t)n);
  net_put_be16(buf + 16, net_inet_fold(net_inet_sum(sum, buf, (size_t)n)));
  return n;
}

int net_tcp_checksum_ok6(const uint8_t *seg, size_t len, const uint8_t *src, const uint8_t *dst) {
  uint32_t sum = net_ipv6_pseudo_sum(src, dst, NET_IP_PROTO_TCP, len);
  return net_inet_fold(net_inet_sum(sum, seg, len)) == 0;
}
