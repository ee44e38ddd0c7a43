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

int net_udp_emit(const net_udp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf,
                 size_t cap) {
  if (r->payload_len > 65535 - NET_UDP_HEADER_LEN) return EMU_EINVAL;
  size_t total = NET_UDP_HEADER_LEN + r->payload_len;
  if (cap < total) return EMU_ENOSPC;
  if (r->payload_len && r->payload != buf + NET_UDP_HEADER_LEN)
    memmove(buf + NET_UDP_HEADER_LEN, r->payload, r->payload_len);
  net_put_be16(buf, r->src_port);
  net_put_be16(buf + 2, r->dst_port);
  net_put_be16(buf + 4, (uint16_t)total);
  net_put_be16(buf + 6, 0);
  uint32_t sum = net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_UDP, total);
  uint16_t ck = net_inet_fold(net_inet_sum(sum, buf, total));
  /* RFC 768: an all-zero computed checksum is transmitted as all ones, since
   * 0 means "no checksum". */
  net_put_be16(buf + 6, ck == 0 ? 0xffff : ck);
  return (int)total;
}

/* ---- TCP -------------------------------------------------------------------------- */

/* Walks the options of a header already known to lie inside its buffer.
 * Returns 0 and the MSS (0 when absent), or EMU_EFORMAT. RFC 9293 §3.1
 * "Options": End of Option List and No-Operation are one byte, every other
 * option is kind, length (counting both), data. */
static int tcp_options(const uint8_t *seg, uint16_t *mss) {
  const uint8_t *p = seg + NET_TCP_HEADER_LEN, *end = seg + net_tcp_header_len(seg);
  *mss = 0;
  while (p < end) {
    if (p[0] == NET_TCP_OPT_END) break;
    if (p[0] == NET_TCP_OPT_NOP) {
      p++;
      continue;
    }
    if (end - p < 2 || p[1] < 2 || p[1] > end - p) return EMU_EFORMAT;
    if (p[0] == NET_TCP_OPT_MSS) {
      if (p[1] != 4) return EMU_EFORMAT;
      *mss = net_get_be16(p + 2);
    }
    p += p[1];
  }
  return 0;
}

int net_tcp_check(const uint8_t *seg, size_t len) {
  if (len < NET_TCP_HEADER_LEN) return EMU_EFORMAT;
  size_t hl = net_tcp_header_len(seg);
  if (hl < NET_TCP_HEADER_LEN || hl > len) return EMU_EFORMAT;
  uint16_t mss;
  return tcp_options(seg, &mss);
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
  (void)tcp_options(seg, &out->mss);
  out->payload = net_tcp_payload(seg);
  out->payload_len = len - net_tcp_header_len(seg);
  return 0;
}

int net_tcp_emit(const net_tcp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf,
                 size_t cap) {
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
  uint32_t sum = net_ipv4_pseudo_sum(src_ip, dst_ip, NET_IP_PROTO_TCP, total);
  net_put_be16(buf + 16, net_inet_fold(net_inet_sum(sum, buf, total)));
  return (int)total;
}
