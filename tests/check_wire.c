/* Check suite for stack/wire: views over real captured frames, checksum
 * vectors, truncation at every layer, emit -> parse round trips. */
/* pcap.h uses the BSD u_char/u_int types, which strict C11 hides. */
#define _DEFAULT_SOURCE
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "stack/wire.h"

#ifndef VNETSIM_CAPTURES_DIR
#error "compile with -DVNETSIM_CAPTURES_DIR=\"/path/to/captures\""
#endif

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* ---- capture loading ------------------------------------------------------------- */

#define CAP_MAX_FRAMES 64
#define CAP_MAX_LEN    2048

typedef struct capture {
  size_t n;
  size_t len[CAP_MAX_FRAMES];
  uint8_t data[CAP_MAX_FRAMES][CAP_MAX_LEN];
} capture;

/* Loads every frame of a public capture (pcap or pcapng); a missing or
 * unreadable file fails the test: these inputs are part of the suite. */
static capture *load_capture(const char *name) {
  char path[1024], errbuf[PCAP_ERRBUF_SIZE] = "";
  snprintf(path, sizeof path, "%s/%s", VNETSIM_CAPTURES_DIR, name);
  pcap_t *p = pcap_open_offline(path, errbuf);
  ck_assert_msg(p != NULL, "capture %s missing or unreadable: %s", path, errbuf);
  ck_assert_int_eq(pcap_datalink(p), DLT_EN10MB);
  capture *c = calloc(1, sizeof *c);
  ck_assert_ptr_nonnull(c);
  struct pcap_pkthdr *h;
  const u_char *bytes;
  while (pcap_next_ex(p, &h, &bytes) == 1) {
    ck_assert_msg(c->n < CAP_MAX_FRAMES, "%s: more frames than the test expects", name);
    ck_assert_msg(h->caplen == h->len && h->caplen <= CAP_MAX_LEN, "%s: frame %zu cut", name, c->n);
    memcpy(c->data[c->n], bytes, h->caplen);
    c->len[c->n++] = h->caplen;
  }
  pcap_close(p);
  return c;
}

static const uint8_t mac_6cf049[6] = {0x6c, 0xf0, 0x49, 0xb2, 0xde, 0x6e};
static const uint8_t mac_30469a[6] = {0x30, 0x46, 0x9a, 0x23, 0xfb, 0xfa};
static const uint8_t mac_zero[6] = {0};

/* ---- checksum -------------------------------------------------------------------- */

START_TEST(test_checksum_rfc1071_section3_example_sums_to_ddf2) {
  /* RFC 1071 §3, "Numerical Examples": these eight bytes sum to 0xddf2. */
  const uint8_t bytes[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  ck_assert_uint_eq(net_inet_sum(0, bytes, 8), 0xddf2);
  ck_assert_uint_eq(net_inet_checksum(bytes, 8), 0x220d);
}
END_TEST

START_TEST(test_checksum_odd_length_pads_last_byte_with_zero) {
  const uint8_t one[1] = {0x01};
  ck_assert_uint_eq(net_inet_checksum(one, 1), 0xfeff);
  const uint8_t three[3] = {0x12, 0x34, 0x56};
  ck_assert_uint_eq(net_inet_sum(0, three, 3), 0x1234 + 0x5600);
  ck_assert_uint_eq(net_inet_checksum(three, 3), (uint16_t) ~(0x1234 + 0x5600));
}
END_TEST

START_TEST(test_checksum_incremental_over_even_chunks_equals_one_pass) {
  uint8_t buf[301];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 37 + 11);
  uint32_t acc = net_inet_sum(0, buf, 100);
  acc = net_inet_sum(acc, buf + 100, 2);
  acc = net_inet_sum(acc, buf + 102, 199);
  ck_assert_uint_eq(net_inet_fold(acc), net_inet_checksum(buf, sizeof buf));
}
END_TEST

START_TEST(test_checksum_folds_carries_of_all_ones_words) {
  /* 0xffff + 0xffff = 0x1fffe folds to 0xffff, whose complement is 0. */
  const uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff};
  ck_assert_uint_eq(net_inet_checksum(ones, 4), 0x0000);
  const uint8_t zeros[4] = {0};
  ck_assert_uint_eq(net_inet_checksum(zeros, 4), 0xffff);
}
END_TEST

START_TEST(test_checksum_of_captured_ipv4_header_is_57f9) {
  /* pcpp_IcmpPackets frame 9, 192.168.43.9 > 8.8.8.8, checksum field zeroed. */
  uint8_t hdr[20] = {0x45, 0x00, 0x00, 0x54, 0x26, 0xef, 0x00, 0x00, 0x40, 0x01,
                     0x00, 0x00, 0xc0, 0xa8, 0x2b, 0x09, 0x08, 0x08, 0x08, 0x08};
  ck_assert_uint_eq(net_inet_checksum(hdr, 20), 0x57f9);
  net_put_be16(hdr + 10, 0x57f9);
  ck_assert_uint_eq(net_inet_checksum(hdr, 20), 0);
}
END_TEST

/* ---- ARP from captures ----------------------------------------------------------- */

START_TEST(test_arp_request_capture_is_who_has_10_0_0_138_tell_10_0_0_1) {
  capture *c = load_capture("pcpp_ArpRequestPacket.pcap");
  ck_assert_uint_eq(c->n, 1);
  const uint8_t *f = c->data[0];
  ck_assert_uint_eq(c->len[0], 42);
  net_eth_repr eth;
  ck_assert_int_eq(net_eth_parse(f, c->len[0], &eth), 0);
  ck_assert_mem_eq(eth.dst, net_mac_broadcast, 6);
  ck_assert_mem_eq(eth.src, mac_6cf049, 6);
  ck_assert_uint_eq(eth.ethertype, NET_ETHERTYPE_ARP);
  ck_assert(net_mac_is_broadcast(net_eth_dst(f)));

  const uint8_t *a = net_eth_payload(f);
  ck_assert_int_eq(net_arp_check(a, 28), 0);
  ck_assert_uint_eq(net_arp_htype(a), 1);
  ck_assert_uint_eq(net_arp_ptype(a), 0x0800);
  net_arp_repr arp;
  ck_assert_int_eq(net_arp_parse(a, c->len[0] - 14, &arp), 0);
  ck_assert_uint_eq(arp.oper, NET_ARP_OPER_REQUEST);
  ck_assert_mem_eq(arp.sha, mac_6cf049, 6);
  ck_assert_uint_eq(arp.spa, IP4(10, 0, 0, 1));
  ck_assert_mem_eq(arp.tha, mac_zero, 6);
  ck_assert_uint_eq(arp.tpa, IP4(10, 0, 0, 138));
  free(c);
}
END_TEST

START_TEST(test_arp_reply_capture_is_10_0_0_138_at_30_46_9a_in_padded_60_byte_frame) {
  capture *c = load_capture("pcpp_ArpResponsePacket.pcap");
  ck_assert_uint_eq(c->n, 1);
  ck_assert_uint_eq(c->len[0], 60);
  const uint8_t *f = c->data[0];
  ck_assert_mem_eq(net_eth_dst(f), mac_6cf049, 6);
  ck_assert_mem_eq(net_eth_src(f), mac_30469a, 6);
  net_arp_repr arp;
  /* 46 bytes after the Ethernet header: 28 of ARP, 18 of padding. */
  ck_assert_int_eq(net_arp_parse(net_eth_payload(f), 46, &arp), 0);
  ck_assert_uint_eq(arp.oper, NET_ARP_OPER_REPLY);
  ck_assert_mem_eq(arp.sha, mac_30469a, 6);
  ck_assert_uint_eq(arp.spa, IP4(10, 0, 0, 138));
  ck_assert_mem_eq(arp.tha, mac_6cf049, 6);
  ck_assert_uint_eq(arp.tpa, IP4(10, 0, 0, 1));
  free(c);
}
END_TEST

START_TEST(test_arp_request_reemitted_from_repr_matches_capture_bytes) {
  capture *c = load_capture("pcpp_ArpRequestPacket.pcap");
  const uint8_t *f = c->data[0];
  net_eth_repr eth;
  net_arp_repr arp;
  ck_assert_int_eq(net_eth_parse(f, 42, &eth), 0);
  ck_assert_int_eq(net_arp_parse(f + 14, 28, &arp), 0);
  uint8_t out[42];
  ck_assert_int_eq(net_eth_emit(&eth, out, sizeof out), 14);
  ck_assert_int_eq(net_arp_emit(&arp, out + 14, sizeof out - 14), 28);
  ck_assert_mem_eq(out, f, 42);
  free(c);
}
END_TEST

/* ---- IPv4 and ICMP from captures ------------------------------------------------- */

START_TEST(test_gateway_capture_ethertypes_in_order) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  static const uint16_t expected[14] = {0x0800, 0x0800, 0x0800, 0x0800, 0x86dd, 0x86dd, 0x86dd,
                                        0x86dd, 0x0806, 0x0800, 0x0806, 0x0800, 0x86dd, 0x86dd};
  ck_assert_uint_eq(c->n, 14);
  for (size_t i = 0; i < 14; i++) {
    ck_assert_int_eq(net_eth_check(c->data[i], c->len[i]), 0);
    ck_assert_uint_eq(net_eth_ethertype(c->data[i]), expected[i]);
  }
  free(c);
}
END_TEST

START_TEST(test_gateway_capture_echo_request_id7_seq317_fields) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  ck_assert_uint_eq(c->len[0], 98);
  const uint8_t *ip = net_eth_payload(c->data[0]);
  size_t ip_len = c->len[0] - 14;
  ck_assert_int_eq(net_ipv4_check(ip, ip_len), 0);
  ck_assert(net_ipv4_checksum_ok(ip));
  ck_assert_uint_eq(net_ipv4_checksum(ip), 0x1830);
  net_ipv4_repr r;
  ck_assert_int_eq(net_ipv4_parse(ip, ip_len, &r), 0);
  ck_assert_uint_eq(r.src, IP4(10, 20, 30, 41));
  ck_assert_uint_eq(r.dst, IP4(10, 20, 30, 40));
  ck_assert_uint_eq(r.protocol, NET_IP_PROTO_ICMP);
  ck_assert_uint_eq(r.ttl, 64);
  ck_assert_uint_eq(r.tos, 0);
  ck_assert_uint_eq(r.ident, 0xd200);
  ck_assert_uint_eq(r.dont_frag, 1);
  ck_assert_uint_eq(r.more_frags, 0);
  ck_assert_uint_eq(r.frag_offset, 0);
  ck_assert_uint_eq(r.payload_len, 64);
  ck_assert_uint_eq(net_ipv4_header_len(ip), 20);
  ck_assert_uint_eq(net_ipv4_total_len(ip), 84);
  ck_assert(!net_ipv4_is_fragment(ip));

  const uint8_t *m = net_ipv4_payload(ip);
  ck_assert_int_eq(net_icmp_check(m, 64), 0);
  ck_assert(net_icmp_checksum_ok(m, 64));
  net_icmp_repr icmp;
  ck_assert_int_eq(net_icmp_parse(m, 64, &icmp), 0);
  ck_assert_uint_eq(icmp.type, NET_ICMP_ECHO_REQUEST);
  ck_assert_uint_eq(icmp.code, 0);
  ck_assert_uint_eq(icmp.ident, 7);
  ck_assert_uint_eq(icmp.seq, 317);
  ck_assert_uint_eq(net_icmp_checksum(m), 0x3fac);
  ck_assert_uint_eq(icmp.data_len, 56);
  ck_assert_ptr_eq(icmp.data, m + 8);
  ck_assert_uint_eq(icmp.data[55], 0x37);

  /* frame 1 is the reply: DF clear, its own ident, same id/seq */
  const uint8_t *ip1 = net_eth_payload(c->data[1]);
  ck_assert_int_eq(net_ipv4_parse(ip1, c->len[1] - 14, &r), 0);
  ck_assert(net_ipv4_checksum_ok(ip1));
  ck_assert_uint_eq(r.src, IP4(10, 20, 30, 40));
  ck_assert_uint_eq(r.ident, 0x4327);
  ck_assert_uint_eq(r.dont_frag, 0);
  const uint8_t *m1 = net_ipv4_payload(ip1);
  ck_assert(net_icmp_checksum_ok(m1, 64));
  ck_assert_uint_eq(net_icmp_type(m1), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(net_icmp_echo_ident(m1), 7);
  ck_assert_uint_eq(net_icmp_echo_seq(m1), 317);
  free(c);
}
END_TEST

START_TEST(test_echo_request_reemitted_from_reprs_matches_capture_bytes) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  const uint8_t *ip = net_eth_payload(c->data[0]);
  net_ipv4_repr ipr;
  net_icmp_repr icmp;
  ck_assert_int_eq(net_ipv4_parse(ip, 84, &ipr), 0);
  ck_assert_int_eq(net_icmp_parse(ip + 20, ipr.payload_len, &icmp), 0);
  uint8_t out[84];
  ck_assert_int_eq(net_ipv4_emit(&ipr, out, sizeof out), 20);
  ck_assert_int_eq(net_icmp_emit(&icmp, out + 20, sizeof out - 20), 64);
  ck_assert_mem_eq(out, ip, 84); /* both checksums recomputed identically */
  free(c);
}
END_TEST

START_TEST(test_icmp_pcapng_capture_types_and_checksums_all_verify) {
  capture *c = load_capture("pcpp_IcmpPackets.pcap");
  static const uint8_t types[15] = {10, 5, 9, 9, 11, 3, 13, 14, 8, 0, 11, 3, 4, 17, 18};
  static const size_t msg_lens[15] = {8, 36, 50, 16, 148, 36, 20, 20, 64, 64, 92, 92, 36, 12, 12};
  ck_assert_uint_eq(c->n, 15);
  for (size_t i = 0; i < 15; i++) {
    const uint8_t *ip = net_eth_payload(c->data[i]);
    size_t ip_len = c->len[i] - 14;
    ck_assert_uint_eq(net_eth_ethertype(c->data[i]), NET_ETHERTYPE_IPV4);
    ck_assert_int_eq(net_ipv4_check(ip, ip_len), 0);
    ck_assert_msg(net_ipv4_checksum_ok(ip), "frame %zu: IPv4 checksum", i);
    ck_assert_uint_eq(net_ipv4_protocol(ip), NET_IP_PROTO_ICMP);
    size_t mlen = net_ipv4_payload_len(ip);
    ck_assert_uint_eq(mlen, msg_lens[i]);
    const uint8_t *m = net_ipv4_payload(ip);
    ck_assert_int_eq(net_icmp_check(m, mlen), 0);
    ck_assert_msg(net_icmp_checksum_ok(m, mlen), "frame %zu: ICMP checksum", i);
    ck_assert_uint_eq(net_icmp_type(m), types[i]);
  }
  free(c);
}
END_TEST

START_TEST(test_router_solicitation_in_64_byte_frame_ignores_22_bytes_of_padding) {
  capture *c = load_capture("pcpp_IcmpPackets.pcap");
  ck_assert_uint_eq(c->len[0], 64);
  const uint8_t *ip = net_eth_payload(c->data[0]);
  net_ipv4_repr r;
  ck_assert_int_eq(net_ipv4_parse(ip, 50, &r), 0);
  ck_assert_uint_eq(net_ipv4_total_len(ip), 28);
  ck_assert_uint_eq(r.payload_len, 8);
  ck_assert_uint_eq(r.src, IP4(10, 1, 22, 2));
  ck_assert_uint_eq(r.dst, IP4(224, 0, 0, 2));
  ck_assert_uint_eq(r.ttl, 128);
  /* The checksum covers the 8 ICMP bytes only; with the padding it fails. */
  ck_assert(net_icmp_checksum_ok(net_ipv4_payload(ip), 8));
  ck_assert(!net_icmp_checksum_ok(net_ipv4_payload(ip), 50 - 20));
  free(c);
}
END_TEST

START_TEST(test_redirect_keeps_gateway_10_2_99_98_in_rest_of_header) {
  capture *c = load_capture("pcpp_IcmpPackets.pcap");
  const uint8_t *ip = net_eth_payload(c->data[1]);
  net_icmp_repr icmp;
  ck_assert_int_eq(net_icmp_parse(net_ipv4_payload(ip), net_ipv4_payload_len(ip), &icmp), 0);
  ck_assert_uint_eq(icmp.type, NET_ICMP_REDIRECT);
  ck_assert_uint_eq(icmp.code, 1);
  ck_assert_uint_eq((uint32_t)icmp.ident << 16 | icmp.seq, IP4(10, 2, 99, 98));
  ck_assert_uint_eq(icmp.data_len, 28);
  uint8_t out[36];
  ck_assert_int_eq(net_icmp_emit(&icmp, out, sizeof out), 36);
  ck_assert_mem_eq(out, net_ipv4_payload(ip), 36);
  free(c);
}
END_TEST

START_TEST(test_echo_request_to_8_8_8_8_id55099_seq0) {
  capture *c = load_capture("pcpp_IcmpPackets.pcap");
  const uint8_t *ip = net_eth_payload(c->data[8]);
  ck_assert_uint_eq(net_ipv4_src(ip), IP4(192, 168, 43, 9));
  ck_assert_uint_eq(net_ipv4_dst(ip), IP4(8, 8, 8, 8));
  ck_assert_uint_eq(net_ipv4_ident(ip), 9967);
  const uint8_t *m = net_ipv4_payload(ip);
  ck_assert_uint_eq(net_icmp_echo_ident(m), 55099);
  ck_assert_uint_eq(net_icmp_echo_seq(m), 0);
  free(c);
}
END_TEST

START_TEST(test_fragment_capture_flags_and_offsets) {
  capture *c = load_capture("pcpp_ip4_fragments.pcap");
  ck_assert_uint_eq(c->n, 53);
  const uint8_t *first = net_eth_payload(c->data[0]);
  ck_assert_int_eq(net_ipv4_check(first, c->len[0] - 14), 0);
  ck_assert(net_ipv4_checksum_ok(first));
  ck_assert_uint_eq(net_ipv4_ident(first), 7840);
  ck_assert_uint_eq(net_ipv4_protocol(first), NET_IP_PROTO_UDP);
  ck_assert_int_eq(net_ipv4_more_frags(first), 1);
  ck_assert_int_eq(net_ipv4_dont_frag(first), 0);
  ck_assert_uint_eq(net_ipv4_frag_offset(first), 0);
  ck_assert(net_ipv4_is_fragment(first));

  const uint8_t *second = net_eth_payload(c->data[1]);
  ck_assert_uint_eq(net_ipv4_frag_offset(second), 1480);
  ck_assert_int_eq(net_ipv4_more_frags(second), 1);

  /* the datagram's last fragment: offset 7400, MF clear, 940 bytes */
  const uint8_t *last = net_eth_payload(c->data[5]);
  ck_assert_uint_eq(c->len[5], 954);
  net_ipv4_repr r;
  ck_assert_int_eq(net_ipv4_parse(last, c->len[5] - 14, &r), 0);
  ck_assert_uint_eq(r.frag_offset, 7400);
  ck_assert_uint_eq(r.more_frags, 0);
  ck_assert_uint_eq(r.payload_len, 920);
  ck_assert(net_ipv4_is_fragment(last));
  free(c);
}
END_TEST

/* ---- truncation and inconsistency ------------------------------------------------ */

START_TEST(test_truncated_ethernet_header_rejected) {
  uint8_t f[14] = {0};
  ck_assert_int_eq(net_eth_check(f, 13), EMU_EFORMAT);
  ck_assert_int_eq(net_eth_check(f, 0), EMU_EFORMAT);
  net_eth_repr r;
  ck_assert_int_eq(net_eth_parse(f, 13, &r), EMU_EFORMAT);
  ck_assert_int_eq(net_eth_check(f, 14), 0);
}
END_TEST

START_TEST(test_truncated_or_foreign_arp_rejected) {
  capture *c = load_capture("pcpp_ArpRequestPacket.pcap");
  uint8_t a[28];
  memcpy(a, c->data[0] + 14, 28);
  net_arp_repr r;
  ck_assert_int_eq(net_arp_check(a, 27), EMU_EFORMAT);
  ck_assert_int_eq(net_arp_parse(a, 27, &r), EMU_EFORMAT);
  ck_assert_int_eq(net_arp_check(a, 28), 0);
  a[1] = 6; /* htype IEEE 802 */
  ck_assert_int_eq(net_arp_check(a, 28), EMU_ENOTSUP);
  a[1] = 1;
  a[2] = 0x86, a[3] = 0xdd; /* ptype IPv6 */
  ck_assert_int_eq(net_arp_check(a, 28), EMU_ENOTSUP);
  a[2] = 0x08, a[3] = 0x00;
  a[5] = 16; /* plen */
  ck_assert_int_eq(net_arp_check(a, 28), EMU_ENOTSUP);
  free(c);
}
END_TEST

START_TEST(test_truncated_or_inconsistent_ipv4_rejected) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  uint8_t ip[84];
  memcpy(ip, c->data[0] + 14, 84);
  ck_assert_int_eq(net_ipv4_check(ip, 84), 0);
  ck_assert_int_eq(net_ipv4_check(ip, 19), EMU_EFORMAT); /* shorter than a header */
  ck_assert_int_eq(net_ipv4_check(ip, 83), EMU_EFORMAT); /* total length 84 > 83 */
  ip[0] = 0x65;                                          /* version 6 */
  ck_assert_int_eq(net_ipv4_check(ip, 84), EMU_EFORMAT);
  ip[0] = 0x44; /* IHL 4 < 5 */
  ck_assert_int_eq(net_ipv4_check(ip, 84), EMU_EFORMAT);
  ip[0] = 0x46; /* IHL 6: 24 bytes */
  ck_assert_int_eq(net_ipv4_check(ip, 84), 0);
  ck_assert_int_eq(net_ipv4_check(ip, 22), EMU_EFORMAT); /* header beyond buffer */
  ip[0] = 0x45;
  net_put_be16(ip + 2, 19); /* total < header */
  ck_assert_int_eq(net_ipv4_check(ip, 84), EMU_EFORMAT);
  net_put_be16(ip + 2, 84);
  net_ipv4_repr r;
  ck_assert_int_eq(net_ipv4_parse(ip, 40, &r), EMU_EFORMAT);
  free(c);
}
END_TEST

START_TEST(test_corrupted_ipv4_header_fails_checksum_but_passes_check) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  uint8_t ip[84];
  memcpy(ip, c->data[0] + 14, 84);
  ip[8] = 63; /* TTL changed without fixing the checksum */
  ck_assert_int_eq(net_ipv4_check(ip, 84), 0);
  ck_assert(!net_ipv4_checksum_ok(ip));
  free(c);
}
END_TEST

START_TEST(test_truncated_icmp_rejected_and_corrupted_data_fails_checksum) {
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  uint8_t m[64];
  memcpy(m, c->data[0] + 34, 64);
  net_icmp_repr r;
  ck_assert_int_eq(net_icmp_check(m, 7), EMU_EFORMAT);
  ck_assert_int_eq(net_icmp_parse(m, 7, &r), EMU_EFORMAT);
  ck_assert_int_eq(net_icmp_check(m, 8), 0);
  ck_assert(net_icmp_checksum_ok(m, 64));
  m[63] ^= 0x01; /* the checksum covers the data too (RFC 792) */
  ck_assert(!net_icmp_checksum_ok(m, 64));
  free(c);
}
END_TEST

/* ---- round trips and emit limits ------------------------------------------------- */

START_TEST(test_eth_emit_parse_round_trip_and_enospc) {
  net_eth_repr in = {.dst = {0x52, 0x54, 0, 0x12, 0x34, 0x56},
                     .src = {0x52, 0x55, 0x0a, 0, 2, 2},
                     .ethertype = NET_ETHERTYPE_IPV6};
  uint8_t buf[14];
  ck_assert_int_eq(net_eth_emit(&in, buf, 13), EMU_ENOSPC);
  ck_assert_int_eq(net_eth_emit(&in, buf, 14), 14);
  ck_assert_uint_eq(buf[12], 0x86);
  ck_assert_uint_eq(buf[13], 0xdd);
  net_eth_repr out;
  ck_assert_int_eq(net_eth_parse(buf, 14, &out), 0);
  ck_assert_mem_eq(&out.dst, in.dst, 6);
  ck_assert_mem_eq(&out.src, in.src, 6);
  ck_assert_uint_eq(out.ethertype, NET_ETHERTYPE_IPV6);
}
END_TEST

START_TEST(test_arp_emit_parse_round_trip_and_enospc) {
  net_arp_repr in = {.oper = NET_ARP_OPER_REPLY,
                     .sha = {0x52, 0x55, 0x0a, 0, 2, 2},
                     .spa = IP4(10, 0, 2, 2),
                     .tha = {0x52, 0x54, 0, 0x12, 0x34, 0x56},
                     .tpa = IP4(10, 0, 2, 15)};
  uint8_t buf[28];
  ck_assert_int_eq(net_arp_emit(&in, buf, 27), EMU_ENOSPC);
  ck_assert_int_eq(net_arp_emit(&in, buf, 28), 28);
  net_arp_repr out;
  ck_assert_int_eq(net_arp_parse(buf, 28, &out), 0);
  ck_assert_uint_eq(out.oper, NET_ARP_OPER_REPLY);
  ck_assert_mem_eq(out.sha, in.sha, 6);
  ck_assert_uint_eq(out.spa, IP4(10, 0, 2, 2));
  ck_assert_mem_eq(out.tha, in.tha, 6);
  ck_assert_uint_eq(out.tpa, IP4(10, 0, 2, 15));
}
END_TEST

START_TEST(test_ipv4_emit_parse_round_trip_with_fragment_fields) {
  net_ipv4_repr in = {.src = IP4(10, 0, 2, 15),
                      .dst = IP4(10, 0, 2, 2),
                      .protocol = NET_IP_PROTO_UDP,
                      .ttl = 64,
                      .tos = 0x10,
                      .ident = 0xbeef,
                      .dont_frag = 0,
                      .more_frags = 1,
                      .frag_offset = 1480,
                      .payload_len = 12};
  uint8_t buf[32] = {0};
  ck_assert_int_eq(net_ipv4_emit(&in, buf, 31), EMU_ENOSPC); /* 20 + 12 needed */
  ck_assert_int_eq(net_ipv4_emit(&in, buf, 32), 20);
  ck_assert_uint_eq(buf[0], 0x45);
  ck_assert_uint_eq(net_get_be16(buf + 6), 0x2000 | 185); /* MF, 1480 / 8 */
  ck_assert_int_eq(net_ipv4_check(buf, 32), 0);
  ck_assert(net_ipv4_checksum_ok(buf));
  net_ipv4_repr out;
  ck_assert_int_eq(net_ipv4_parse(buf, 32, &out), 0);
  ck_assert_uint_eq(out.src, in.src);
  ck_assert_uint_eq(out.dst, in.dst);
  ck_assert_uint_eq(out.protocol, NET_IP_PROTO_UDP);
  ck_assert_uint_eq(out.ttl, 64);
  ck_assert_uint_eq(out.tos, 0x10);
  ck_assert_uint_eq(out.ident, 0xbeef);
  ck_assert_uint_eq(out.dont_frag, 0);
  ck_assert_uint_eq(out.more_frags, 1);
  ck_assert_uint_eq(out.frag_offset, 1480);
  ck_assert_uint_eq(out.payload_len, 12);
}
END_TEST

START_TEST(test_ipv4_emit_rejects_oversize_and_unaligned_offset) {
  uint8_t buf[64];
  net_ipv4_repr r = {.src = 1, .dst = 2, .ttl = 64, .payload_len = 65516};
  ck_assert_int_eq(net_ipv4_emit(&r, buf, sizeof buf), EMU_EINVAL);
  r.payload_len = 0;
  r.frag_offset = 12;
  ck_assert_int_eq(net_ipv4_emit(&r, buf, sizeof buf), EMU_EINVAL);
}
END_TEST

START_TEST(test_icmp_echo_emit_parse_round_trip_in_place_data) {
  uint8_t buf[8 + 5];
  for (int i = 0; i < 5; i++) buf[8 + i] = (uint8_t)(0xa0 + i);
  net_icmp_repr in = {
      .type = NET_ICMP_ECHO_REQUEST, .ident = 0x1234, .seq = 9, .data = buf + 8, .data_len = 5};
  ck_assert_int_eq(net_icmp_emit(&in, buf, 12), EMU_ENOSPC);
  ck_assert_int_eq(net_icmp_emit(&in, buf, sizeof buf), 13);
  ck_assert(net_icmp_checksum_ok(buf, 13));
  net_icmp_repr out;
  ck_assert_int_eq(net_icmp_parse(buf, 13, &out), 0);
  ck_assert_uint_eq(out.type, NET_ICMP_ECHO_REQUEST);
  ck_assert_uint_eq(out.code, 0);
  ck_assert_uint_eq(out.ident, 0x1234);
  ck_assert_uint_eq(out.seq, 9);
  ck_assert_uint_eq(out.data_len, 5);
  const uint8_t expect[5] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4};
  ck_assert_mem_eq(out.data, expect, 5);
}
END_TEST

START_TEST(test_mac_group_and_broadcast_classification) {
  const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x02};
  const uint8_t ucast[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  ck_assert(net_mac_is_group(mcast));
  ck_assert(!net_mac_is_broadcast(mcast));
  ck_assert(net_mac_is_group(net_mac_broadcast));
  ck_assert(net_mac_is_broadcast(net_mac_broadcast));
  ck_assert(!net_mac_is_group(ucast));
}
END_TEST

static Suite *wire_suite(void) {
  Suite *s = suite_create("wire");
  TCase *sum = tcase_create("checksum");
  tcase_add_test(sum, test_checksum_rfc1071_section3_example_sums_to_ddf2);
  tcase_add_test(sum, test_checksum_odd_length_pads_last_byte_with_zero);
  tcase_add_test(sum, test_checksum_incremental_over_even_chunks_equals_one_pass);
  tcase_add_test(sum, test_checksum_folds_carries_of_all_ones_words);
  tcase_add_test(sum, test_checksum_of_captured_ipv4_header_is_57f9);
  suite_add_tcase(s, sum);

  TCase *cap = tcase_create("captures");
  tcase_add_test(cap, test_arp_request_capture_is_who_has_10_0_0_138_tell_10_0_0_1);
  tcase_add_test(cap, test_arp_reply_capture_is_10_0_0_138_at_30_46_9a_in_padded_60_byte_frame);
  tcase_add_test(cap, test_arp_request_reemitted_from_repr_matches_capture_bytes);
  tcase_add_test(cap, test_gateway_capture_ethertypes_in_order);
  tcase_add_test(cap, test_gateway_capture_echo_request_id7_seq317_fields);
  tcase_add_test(cap, test_echo_request_reemitted_from_reprs_matches_capture_bytes);
  tcase_add_test(cap, test_icmp_pcapng_capture_types_and_checksums_all_verify);
  tcase_add_test(cap, test_router_solicitation_in_64_byte_frame_ignores_22_bytes_of_padding);
  tcase_add_test(cap, test_redirect_keeps_gateway_10_2_99_98_in_rest_of_header);
  tcase_add_test(cap, test_echo_request_to_8_8_8_8_id55099_seq0);
  tcase_add_test(cap, test_fragment_capture_flags_and_offsets);
  suite_add_tcase(s, cap);

  TCase *bad = tcase_create("truncated");
  tcase_add_test(bad, test_truncated_ethernet_header_rejected);
  tcase_add_test(bad, test_truncated_or_foreign_arp_rejected);
  tcase_add_test(bad, test_truncated_or_inconsistent_ipv4_rejected);
  tcase_add_test(bad, test_corrupted_ipv4_header_fails_checksum_but_passes_check);
  tcase_add_test(bad, test_truncated_icmp_rejected_and_corrupted_data_fails_checksum);
  suite_add_tcase(s, bad);

  TCase *rt = tcase_create("round_trip");
  tcase_add_test(rt, test_eth_emit_parse_round_trip_and_enospc);
  tcase_add_test(rt, test_arp_emit_parse_round_trip_and_enospc);
  tcase_add_test(rt, test_ipv4_emit_parse_round_trip_with_fragment_fields);
  tcase_add_test(rt, test_ipv4_emit_rejects_oversize_and_unaligned_offset);
  tcase_add_test(rt, test_icmp_echo_emit_parse_round_trip_in_place_data);
  tcase_add_test(rt, test_mac_group_and_broadcast_classification);
  suite_add_tcase(s, rt);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(wire_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
