/* Check suite for IPv6 in the guest stack (stack/iface6.c, the IPv6 halves of
 * stack/wire, udp, tcp): frames built byte by byte here, from the RFCs, not
 * with the stack's own emitters, and the guest's answers checked field by
 * field, their checksums with a sum computed here (RFC 1071 over RFC 8200
 * §8.1's pseudo-header). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/fate.h"
#include "emu/port.h"
#include "emu/sched.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "stack/wire.h"

#define MAX_FRAMES 16

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
/* fe80::5054:ff:fe12:3456: RFC 4291 Appendix A on 52:54:00:12:34:56 (what
 * Linux gives a QEMU guest with that MAC) */
static const uint8_t guest_ll[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
                                     0xff, 0xfe, 0x12,       0x34, 0x56};
static const uint8_t peer_ll[16] = {0xfe, 0x80, [15] = 0x02};
static const uint8_t guest_sn[16] = {0xff, 0x02, [11] = 0x01, 0xff, 0x12, 0x34, 0x56};
static const uint8_t sn_mac[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};
static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
static const uint8_t global[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x15};
static const uint8_t peer_global[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x02};

typedef struct fixture {
  emu_port port;
  size_t n;
  size_t len[MAX_FRAMES];
  uint8_t data[MAX_FRAMES][NET_IFACE_FRAME_MAX];
  net_iface guest;
  net_services svc;
} fixture;

static fixture *fx;

static int record(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  fixture *f = impl;
  ck_assert_uint_lt(f->n, MAX_FRAMES);
  memcpy(f->data[f->n], frame, len);
  f->len[f->n++] = len;
  return 0;
}

static void start_guest(const uint8_t *ip6, int slaac) {
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  if (ip6) memcpy(cfg.ip6, ip6, 16);
  cfg.slaac = (uint8_t)slaac;
  ck_assert_int_eq(net_iface_init(&fx->guest, &cfg, &fx->port), 0);
  net_tcp_config tcfg;
  net_tcp_config_default(&tcfg);
  tcfg.fixed_iss = 1;
  tcfg.iss = 1000;
  ck_assert_int_eq(net_tcp_configure(&fx->guest, &tcfg), 0);
  ck_assert_int_eq(net_services_start(&fx->svc, &fx->guest, NET_SVC_ALL), 0);
}

static void setup(void) {
  fx = calloc(1, sizeof *fx);
  ck_assert_ptr_nonnull(fx);
  fx->port.send = record;
  fx->port.impl = fx;
  start_guest(NULL, 0);
}

static void teardown(void) {
  net_services_stop(&fx->svc);
  net_iface_close(&fx->guest);
  free(fx);
  fx = NULL;
}

/* ---- frames by hand ------------------------------------------------------------ */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* RFC 1071 sum of the pseudo-header (RFC 8200 §8.1) and data, byte by byte:
 * a correct checksum field makes it 0xffff, so this returns 0 then. */
static uint16_t sum6(const uint8_t *src, const uint8_t *dst, uint8_t nh, const uint8_t *d,
                     size_t len) {
  uint32_t s = 0;
  for (int i = 0; i < 16; i += 2) s += (uint32_t)(src[i] << 8 | src[i + 1]);
  for (int i = 0; i < 16; i += 2) s += (uint32_t)(dst[i] << 8 | dst[i + 1]);
  s += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + nh;
  for (size_t i = 0; i < len; i++) s += i % 2 ? d[i] : (uint32_t)d[i] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* Ethernet + IPv6 header (no extension headers) + l4 into buf; the l4
 * checksum at ck_off (or none: ck_off 0) is filled in. Returns the length. */
static size_t frame6(uint8_t *buf, const uint8_t *eth_dst, const uint8_t *src, const uint8_t *dst,
                     uint8_t nh, uint8_t hop, const uint8_t *l4, size_t l4_len, size_t ck_off) {
  memcpy(buf, eth_dst, 6);
  memcpy(buf + 6, peer_mac, 6);
  put16(buf + 12, 0x86dd);
  uint8_t *ip = buf + 14;
  memset(ip, 0, 40);
  ip[0] = 0x60;
  put16(ip + 4, (unsigned)l4_len);
  ip[6] = nh;
  ip[7] = hop;
  memcpy(ip + 8, src, 16);
  memcpy(ip + 24, dst, 16);
  memcpy(ip + 40, l4, l4_len);
  if (ck_off) {
    put16(ip + 40 + ck_off, 0);
    put16(ip + 40 + ck_off, sum6(src, dst, nh, ip + 40, l4_len));
  }
  return 14 + 40 + l4_len;
}

static emu_fate input(const uint8_t *f, size_t len) {
  return net_iface_input(&fx->guest, f, len, 0);
}

/* A Neighbor Solicitation for target from src (SLLA option unless src is ::). */
static size_t ns_frame(uint8_t *buf, const uint8_t *src, const uint8_t *dst, const uint8_t *eth_dst,
                       const uint8_t *target, uint8_t hop) {
  uint8_t m[32] = {135};
  memcpy(m + 8, target, 16);
  size_t len = 24;
  if (memcmp(src, net_ipv6_unspecified, 16) != 0) {
    m[24] = 1; /* Source Link-Layer Address */
    m[25] = 1;
    memcpy(m + 26, peer_mac, 6);
    len = 32;
  }
  return frame6(buf, eth_dst, src, dst, 58, hop, m, len, 2);
}

/* The IPv6 packet of sent frame i, checked up to its header: from our MAC
 * to eth_dst, version 6, Next Header nh, the payload inside the frame. */
static const uint8_t *sent6(size_t i, const uint8_t *eth_dst, uint8_t nh) {
  ck_assert_uint_lt(i, fx->n);
  const uint8_t *f = fx->data[i];
  ck_assert_mem_eq(f, eth_dst, 6);
  ck_assert_mem_eq(f + 6, guest_mac, 6);
  ck_assert_uint_eq(be16(f + 12), 0x86dd);
  const uint8_t *ip = f + 14;
  ck_assert_uint_eq(ip[0] >> 4, 6);
  ck_assert_uint_eq(ip[6], nh);
  ck_assert_uint_eq(fx->len[i], 14 + 40 + (size_t)be16(ip + 4));
  ck_assert_uint_eq(sum6(ip + 8, ip + 24, nh, ip + 40, be16(ip + 4)), 0);
  return ip;
}

/* Teaches the guest the peer's link-local address through an NS. */
static void introduce_peer(void) {
  uint8_t f[128];
  size_t n = ns_frame(f, peer_ll, guest_sn, sn_mac, guest_ll, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  fx->n = 0;
}

/* ---- addresses and Neighbor Discovery --------------------------------------------- */

START_TEST(test_link_local_address_is_modified_eui64_of_the_mac) {
  const uint8_t *ll, *g;
  net_iface_ip6_addrs(&fx->guest, &ll, &g);
  ck_assert_mem_eq(ll, guest_ll, 16);
  ck_assert_ptr_null(g);
  uint8_t sn[16], mac[6];
  net_ipv6_solicited_node(guest_ll, sn);
  ck_assert_mem_eq(sn, guest_sn, 16);
  net_ipv6_multicast_mac(sn, mac);
  ck_assert_mem_eq(mac, sn_mac, 6);
}
END_TEST

START_TEST(test_ns_to_solicited_node_answered_with_na_field_by_field) {
  uint8_t f[128];
  size_t n = ns_frame(f, peer_ll, guest_sn, sn_mac, guest_ll, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  ck_assert_uint_eq(fx->n, 1);
  const uint8_t *ip = sent6(0, peer_mac, 58);
  ck_assert_uint_eq(be16(ip + 4), 32); /* NA 24 + Target Link-Layer option 8 */
  ck_assert_uint_eq(ip[7], 255);       /* RFC 4861 §7.1.2 */
  ck_assert_mem_eq(ip + 8, guest_ll, 16);
  ck_assert_mem_eq(ip + 24, peer_ll, 16);
  const uint8_t *m = ip + 40;
  ck_assert_uint_eq(m[0], 136);
  ck_assert_uint_eq(m[1], 0);
  ck_assert_uint_eq(m[4], 0x60); /* Solicited and Override, not Router */
  ck_assert_uint_eq(m[5] | m[6] | m[7], 0);
  ck_assert_mem_eq(m + 8, guest_ll, 16);
  ck_assert_uint_eq(m[24], 2); /* Target Link-Layer Address */
  ck_assert_uint_eq(m[25], 1);
  ck_assert_mem_eq(m + 26, guest_mac, 6);
  /* the solicitation's source link-layer option taught the cache */
  uint8_t mac[6];
  ck_assert_int_eq(net_iface_nd_lookup(&fx->guest, peer_ll, mac), 0);
  ck_assert_mem_eq(mac, peer_mac, 6);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->nd_adverts_sent, 1);
}
END_TEST

START_TEST(test_dad_probe_answered_to_all_nodes_unsolicited) {
  uint8_t f[128];
  size_t n = ns_frame(f, net_ipv6_unspecified, guest_sn, sn_mac, guest_ll, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, all_nodes_mac, 58);
  ck_assert_mem_eq(ip + 24, all_nodes, 16);
  ck_assert_uint_eq(ip[40 + 4], 0x20); /* Override only: RFC 4861 §7.2.4 */
}
END_TEST

START_TEST(test_bad_ns_and_other_groups_get_named_fates) {
  uint8_t f[128];
  size_t n = ns_frame(f, peer_ll, guest_sn, sn_mac, guest_ll, 254); /* forwarded */
  ck_assert_int_eq(input(f, n), EMU_FATE_MALFORMED);
  static const uint8_t other[16] = {0xfe, 0x80, [15] = 0x99};
  static const uint8_t other_sn[16] = {0xff, 0x02, [11] = 1, 0xff, 0, 0, 0x99};
  static const uint8_t other_mac[6] = {0x33, 0x33, 0xff, 0, 0, 0x99};
  n = ns_frame(f, peer_ll, other_sn, other_mac, other, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_NOT_FOR_GUEST); /* the group's MAC is not ours */
  n = ns_frame(f, peer_ll, guest_sn, sn_mac, other, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_NOT_FOR_GUEST); /* our group, another target */
  n = ns_frame(f, peer_ll, guest_sn, sn_mac, guest_ll, 255);
  f[14 + 40 + 2] ^= 1;
  ck_assert_int_eq(input(f, n), EMU_FATE_BAD_CHECKSUM);
  ck_assert_uint_eq(fx->n, 0);
}
END_TEST

/* The guest must resolve the asker first: its echo reply waits for an NS
 * to be answered, as IPv4's waits for ARP. */
START_TEST(test_echo_to_unknown_neighbour_waits_for_neighbor_solicitation) {
  uint8_t f[128], echo[12] = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 64, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED); /* no deferral: queued counts */
  ck_assert_uint_eq(fx->n, 1);
  static const uint8_t peer_sn_mac[6] = {0x33, 0x33, 0xff, 0, 0, 0x02};
  const uint8_t *ns = sent6(0, peer_sn_mac, 58);
  ck_assert_uint_eq(ns[7], 255);
  ck_assert_uint_eq(ns[40], 135);
  ck_assert_mem_eq(ns + 40 + 8, peer_ll, 16);
  ck_assert_mem_eq(ns + 40 + 26, guest_mac, 6); /* its Source Link-Layer option */
  /* the NA: solicited, with the target's MAC */
  uint8_t na[32] = {136, 0, 0, 0, 0x60};
  memcpy(na + 8, peer_ll, 16);
  na[24] = 2;
  na[25] = 1;
  memcpy(na + 26, peer_mac, 6);
  n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 255, na, sizeof na, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_DELIVERED);
  ck_assert_uint_eq(fx->n, 2);
  const uint8_t *ip = sent6(1, peer_mac, 58);
  ck_assert_mem_eq(ip + 24, peer_ll, 16);
  ck_assert_uint_eq(ip[40], 129);
  ck_assert_mem_eq(ip + 40 + 4, echo + 4, 8); /* identifier, sequence, data */
  /* an NA nobody asked for teaches nothing */
  static const uint8_t stranger[16] = {0xfe, 0x80, [15] = 0x77};
  memcpy(na + 8, stranger, 16);
  n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 255, na, sizeof na, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_NOT_FOR_GUEST);
}
END_TEST

START_TEST(test_unanswered_solicitation_given_up_after_three_tries) {
  uint8_t f[128], echo[8] = {128, 0, 0, 0, 0, 1, 0, 1};
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 64, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  for (uint64_t t = 1; t <= 3; t++) net_iface_poll(&fx->guest, t * NET_IFACE_ARP_RETRY_NS);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->nd_solicits_sent, 3);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->nd_unresolved, 1);
  ck_assert_uint_eq(net_iface_poll_at(&fx->guest), EMU_TIME_NEVER);
}
END_TEST

/* ---- echo --------------------------------------------------------------------------- */

START_TEST(test_echo_request_answered_and_counted) {
  introduce_peer();
  uint8_t f[256], echo[8 + 100] = {128, 0, 0, 0, 0xbe, 0xef, 0, 7};
  for (int i = 0; i < 100; i++) echo[8 + i] = (uint8_t)i;
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 64, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, peer_mac, 58);
  ck_assert_uint_eq(ip[7], 64);
  ck_assert_mem_eq(ip + 8, guest_ll, 16);
  ck_assert_mem_eq(ip + 24, peer_ll, 16);
  ck_assert_uint_eq(be16(ip + 4), sizeof echo);
  ck_assert_uint_eq(ip[40], 129);
  ck_assert_uint_eq(ip[41], 0);
  ck_assert_mem_eq(ip + 44, echo + 4, sizeof echo - 4);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->echo_replies_sent, 1);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_ANSWERED], 2);
}
END_TEST

START_TEST(test_static_global_address_answers_echo_from_itself) {
  net_services_stop(&fx->svc);
  net_iface_close(&fx->guest);
  start_guest(global, 0);
  uint8_t f[128], sn[16], mac[6];
  net_ipv6_solicited_node(global, sn);
  net_ipv6_multicast_mac(sn, mac);
  size_t n = ns_frame(f, peer_global, sn, mac, global, 255);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, peer_mac, 58);
  ck_assert_mem_eq(ip + 8, global, 16);
  uint8_t echo[8] = {128, 0, 0, 0, 0, 2, 0, 3};
  n = frame6(f, guest_mac, peer_global, global, 58, 64, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  ip = sent6(1, peer_mac, 58);
  ck_assert_mem_eq(ip + 8, global, 16);
  ck_assert_mem_eq(ip + 24, peer_global, 16);
}
END_TEST

/* ---- SLAAC ---------------------------------------------------------------------------- */

START_TEST(test_router_advertisement_gives_slaac_address_and_router) {
  net_services_stop(&fx->svc);
  net_iface_close(&fx->guest);
  start_guest(NULL, 1);
  ck_assert_int_eq(net_iface_router_solicit(&fx->guest, 0), 0);
  static const uint8_t routers_mac[6] = {0x33, 0x33, 0, 0, 0, 2};
  const uint8_t *rs = sent6(0, routers_mac, 58);
  ck_assert_uint_eq(rs[7], 255);
  ck_assert_uint_eq(rs[40], 133);
  ck_assert_mem_eq(rs + 8, guest_ll, 16);
  /* RFC 4861 §4.2: an RA with a Source Link-Layer and a Prefix Information
   * option, prefix 2001:db8:1::/64, on link and autonomous */
  uint8_t ra[16 + 8 + 32] = {134, 0, 0, 0, 64, 0, 0x07, 0x08};
  uint8_t *o = ra + 16;
  o[0] = 1, o[1] = 1;
  memcpy(o + 2, peer_mac, 6);
  o += 8;
  o[0] = 3, o[1] = 4, o[2] = 64, o[3] = 0xc0;
  o[7] = 0x80, o[11] = 0x40; /* valid 128 s, preferred 64 s */
  static const uint8_t prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
  memcpy(o + 16, prefix, 8);
  uint8_t f[128];
  size_t n = frame6(f, all_nodes_mac, peer_ll, all_nodes, 58, 255, ra, sizeof ra, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_DELIVERED);
  const uint8_t *ll, *g;
  net_iface_ip6_addrs(&fx->guest, &ll, &g);
  ck_assert_ptr_nonnull(g);
  static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0,    1,    0,    0,
                                   0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
  ck_assert_mem_eq(g, want, 16);
  /* off-link destinations go to the router, whose MAC the RA gave */
  static const uint8_t far[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 1};
  uint8_t echo[8] = {128, 0, 0, 0, 0, 9, 0, 9};
  fx->n = 0;
  n = frame6(f, guest_mac, far, want, 58, 60, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, peer_mac, 58);
  ck_assert_mem_eq(ip + 8, want, 16);
  ck_assert_mem_eq(ip + 24, far, 16);
}
END_TEST

/* ---- UDP and TCP ------------------------------------------------------------------------ */

START_TEST(test_udp_echo_over_ipv6_answered) {
  introduce_peer();
  uint8_t f[128], u[8 + 5] = {0xc0, 0x00, 0x00, 0x07, 0, 13, 0, 0, 'h', 'e', 'l', 'l', 'o'};
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 17, 64, u, sizeof u, 6);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, peer_mac, 17);
  ck_assert_mem_eq(ip + 8, guest_ll, 16);
  ck_assert_mem_eq(ip + 24, peer_ll, 16);
  const uint8_t *r = ip + 40;
  ck_assert_uint_eq(be16(r), 7);
  ck_assert_uint_eq(be16(r + 2), 0xc000);
  ck_assert_uint_eq(be16(r + 4), 13);
  ck_assert_uint_ne(be16(r + 6), 0); /* mandatory over IPv6 */
  ck_assert_mem_eq(r + 8, "hello", 5);
  ck_assert_uint_eq(fx->svc.stats.udp_echoed, 1);
}
END_TEST

START_TEST(test_udp_zero_checksum_and_closed_port) {
  introduce_peer();
  uint8_t f[128], u[8 + 2] = {0xc0, 0x00, 0x00, 0x07, 0, 10, 0, 0, 'h', 'i'};
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 17, 64, u, sizeof u, 0);
  ck_assert_int_eq(input(f, n), EMU_FATE_BAD_CHECKSUM); /* RFC 8200 §8.1 */
  u[3] = 99;                                            /* nobody listens on 99 */
  n = frame6(f, guest_mac, peer_ll, guest_ll, 17, 64, u, sizeof u, 6);
  ck_assert_int_eq(input(f, n), EMU_FATE_NO_LISTENER);
  const uint8_t *ip = sent6(0, peer_mac, 58);
  ck_assert_uint_eq(ip[40], 1);                     /* destination unreachable */
  ck_assert_uint_eq(ip[41], 4);                     /* port unreachable, RFC 4443 §3.1 */
  ck_assert_mem_eq(ip + 48, f + 14, 40 + sizeof u); /* the invoking packet */
}
END_TEST

/* A TCP segment from the peer to the guest's TCP echo service (8023). */
static size_t tcp_frame(uint8_t *f, uint32_t seq, uint32_t ack, uint8_t flags, const char *data) {
  uint8_t t[20 + 64] = {0xc0, 0x01, 0x1f, 0x57};
  size_t dlen = data ? strlen(data) : 0;
  t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8);
  t[7] = (uint8_t)seq;
  t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16), t[10] = (uint8_t)(ack >> 8);
  t[11] = (uint8_t)ack;
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t + 14, 65535);
  if (dlen) memcpy(t + 20, data, dlen);
  return frame6(f, guest_mac, peer_ll, guest_ll, 6, 64, t, 20 + dlen, 16);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

START_TEST(test_tcp_echo_over_ipv6_handshake_and_data) {
  introduce_peer();
  uint8_t f[256];
  size_t n = tcp_frame(f, 5000, 0, NET_TCP_SYN, NULL);
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  const uint8_t *ip = sent6(0, peer_mac, 6), *t = ip + 40;
  ck_assert_mem_eq(ip + 8, guest_ll, 16);
  ck_assert_uint_eq(be16(t), 8023);
  ck_assert_uint_eq(be16(t + 2), 0xc001);
  ck_assert_uint_eq(t[13], NET_TCP_SYN | NET_TCP_ACK);
  ck_assert_uint_eq(be32(t + 4), 1000); /* the fixed ISS */
  ck_assert_uint_eq(be32(t + 8), 5001);
  /* MSS option: 1500 - 40 - 20 (RFC 8200 §8.3) */
  ck_assert_uint_eq(t[12] >> 4, 6);
  ck_assert_uint_eq(t[20], 2);
  ck_assert_uint_eq(be16(t + 22), 1440);
  n = tcp_frame(f, 5001, 1001, NET_TCP_ACK, NULL);
  ck_assert_int_eq(input(f, n), EMU_FATE_DELIVERED);
  n = tcp_frame(f, 5001, 1001, NET_TCP_ACK | NET_TCP_PSH, "hello v6");
  ck_assert_int_eq(input(f, n), EMU_FATE_ANSWERED);
  ip = sent6(fx->n - 1, peer_mac, 6);
  t = ip + 40;
  ck_assert_uint_eq(be32(t + 4), 1001);
  ck_assert_uint_eq(be32(t + 8), 5009);
  ck_assert_uint_eq(be16(ip + 4), 20 + 8);
  ck_assert_mem_eq(t + 20, "hello v6", 8);
  ck_assert_uint_eq(fx->svc.stats.tcp_echo_bytes, 8);
  /* the connection is the IPv6 peer's, keyed on its 128-bit address */
  ck_assert_uint_eq(fx->guest.tcp_nconns, 1);
  net_tcp_info info;
  net_tcp_get_info(fx->guest.tcp_conns, &info);
  ck_assert_int_eq(info.v6, 1);
  ck_assert_mem_eq(info.remote_ip6, peer_ll, 16);
  ck_assert_uint_eq(info.state, NET_TCP_ESTABLISHED);
}
END_TEST

START_TEST(test_tcp_to_closed_port_over_ipv6_gets_rst) {
  introduce_peer();
  uint8_t f[256];
  size_t n = tcp_frame(f, 7000, 0, NET_TCP_SYN, NULL);
  f[14 + 40 + 3] = 0x58; /* port 8024: closed (checksum no longer verifies) */
  ck_assert_int_eq(input(f, n), EMU_FATE_BAD_CHECKSUM);
  put16(f + 14 + 40 + 16, 0);
  put16(f + 14 + 40 + 16, sum6(peer_ll, guest_ll, 6, f + 14 + 40, 20));
  ck_assert_int_eq(input(f, n), EMU_FATE_NO_LISTENER);
  const uint8_t *t = sent6(0, peer_mac, 6) + 40;
  ck_assert_uint_eq(t[13], NET_TCP_RST | NET_TCP_ACK);
  ck_assert_uint_eq(be32(t + 8), 7001);
}
END_TEST

/* ---- extension headers and malformed packets ------------------------------------------- */

/* An echo request behind one extension header of type nh (8 bytes: next
 * header 58, length 0, then six bytes of body). */
static size_t echo_behind(uint8_t *f, uint8_t nh, const uint8_t body[6]) {
  uint8_t p[8 + 8] = {58, 0};
  memcpy(p + 2, body, 6);
  uint8_t *e = p + 8;
  e[0] = 128;
  e[5] = 1;
  put16(e + 2, sum6(peer_ll, guest_ll, 58, e, 8));
  return frame6(f, guest_mac, peer_ll, guest_ll, nh, 64, p, sizeof p, 0);
}

START_TEST(test_extension_headers_skipped_or_refused_by_name) {
  introduce_peer();
  uint8_t f[128];
  static const uint8_t padn[6] = {1, 4, 0, 0, 0, 0};         /* PadN: skipped */
  static const uint8_t must_drop[6] = {0xc2, 4, 0, 0, 0, 0}; /* action 11 */
  static const uint8_t routing_left[6] = {0, 1, 0, 0, 0, 0}; /* segments left 1 */
  static const uint8_t routing_done[6] = {0, 0, 0, 0, 0, 0}; /* segments left 0 */
  ck_assert_int_eq(input(f, echo_behind(f, 0, padn)), EMU_FATE_ANSWERED);
  ck_assert_int_eq(input(f, echo_behind(f, 60, padn)), EMU_FATE_ANSWERED);
  ck_assert_int_eq(input(f, echo_behind(f, 43, routing_done)), EMU_FATE_ANSWERED);
  ck_assert_int_eq(input(f, echo_behind(f, 0, must_drop)), EMU_FATE_UNSUPPORTED);
  ck_assert_int_eq(input(f, echo_behind(f, 43, routing_left)), EMU_FATE_UNSUPPORTED);
  ck_assert_int_eq(input(f, echo_behind(f, 44, padn)), EMU_FATE_UNSUPPORTED);  /* fragment */
  ck_assert_int_eq(input(f, echo_behind(f, 253, padn)), EMU_FATE_UNSUPPORTED); /* unknown */
  uint8_t proto;
  size_t off;
  echo_behind(f, 44, padn);
  ck_assert_int_eq(net_ipv6_walk(f + 14, &proto, &off), NET_IPV6_WALK_FRAGMENT);
  echo_behind(f, 0, must_drop);
  ck_assert_int_eq(net_ipv6_walk(f + 14, &proto, &off), NET_IPV6_WALK_OPTION);
  echo_behind(f, 60, padn);
  ck_assert_int_eq(net_ipv6_walk(f + 14, &proto, &off), NET_IPV6_WALK_OK);
  ck_assert_uint_eq(proto, 58);
  ck_assert_uint_eq(off, 48);
  /* an option running past its header */
  static const uint8_t overrun[6] = {1, 9, 0, 0, 0, 0};
  ck_assert_int_eq(input(f, echo_behind(f, 60, overrun)), EMU_FATE_MALFORMED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_UNSUPPORTED], 4);
}
END_TEST

START_TEST(test_malformed_ipv6_counted) {
  uint8_t f[128], echo[8] = {128, 0, 0, 0, 0, 1, 0, 1};
  size_t n = frame6(f, guest_mac, peer_ll, guest_ll, 58, 64, echo, sizeof echo, 2);
  ck_assert_int_eq(input(f, 14 + 30), EMU_FATE_MALFORMED); /* short header */
  put16(f + 14 + 4, 200);                                  /* past the frame */
  ck_assert_int_eq(input(f, n), EMU_FATE_MALFORMED);
  put16(f + 14 + 4, 8);
  f[14] = 0x40; /* version 4 under the IPv6 ethertype */
  ck_assert_int_eq(input(f, n), EMU_FATE_MALFORMED);
  f[14] = 0x60;
  f[14 + 8] = 0xff; /* multicast source */
  ck_assert_int_eq(input(f, n), EMU_FATE_MALFORMED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_MALFORMED], 4);
  ck_assert_uint_eq(fx->n, 0);
}
END_TEST

/* ---- the wire views ---------------------------------------------------------------- */

START_TEST(test_ipv6_header_emit_parse_and_check) {
  net_ipv6_repr r = {.next_header = 17,
                     .hop_limit = 9,
                     .traffic_class = 0xb8,
                     .flow_label = 0x12345,
                     .payload_len = 3};
  memcpy(r.src, peer_ll, 16);
  memcpy(r.dst, global, 16);
  uint8_t b[64] = {0};
  ck_assert_int_eq(net_ipv6_emit(&r, b, 43), 40);
  /* RFC 8200 §3: 0110 | traffic class | flow label */
  ck_assert_uint_eq(b[0], 0x6b);
  ck_assert_uint_eq(b[1], 0x81);
  ck_assert_uint_eq(b[2], 0x23);
  ck_assert_uint_eq(b[3], 0x45);
  ck_assert_uint_eq(be16(b + 4), 3);
  net_ipv6_repr p;
  ck_assert_int_eq(net_ipv6_parse(b, 43, &p), 0);
  ck_assert_uint_eq(p.traffic_class, 0xb8);
  ck_assert_uint_eq(p.flow_label, 0x12345);
  ck_assert_mem_eq(p.dst, global, 16);
  ck_assert_int_eq(net_ipv6_check(b, 42), EMU_EFORMAT); /* payload past the buffer */
  ck_assert_int_eq(net_ipv6_check(b, 39), EMU_EFORMAT);
  ck_assert_int_eq(net_ipv6_emit(&r, b, 42), EMU_ENOSPC);
  r.flow_label = 0x100000;
  ck_assert_int_eq(net_ipv6_emit(&r, b, 64), EMU_EINVAL);
}
END_TEST

/* The stack's pseudo-header sum agrees with the one summed here, and the
 * transports' emitters leave checksums that verify by it. */
START_TEST(test_pseudo_header_and_transport_checksums) {
  uint8_t seg[64];
  net_tcp_repr t = {.src_port = 1, .dst_port = 2, .seq = 3, .flags = NET_TCP_SYN, .mss = 1440};
  int n = net_tcp_emit6(&t, peer_global, global, seg, sizeof seg);
  ck_assert_int_eq(n, 24);
  ck_assert_uint_eq(sum6(peer_global, global, 6, seg, (size_t)n), 0);
  ck_assert(net_tcp_checksum_ok6(seg, (size_t)n, peer_global, global));
  seg[5] ^= 1;
  ck_assert(!net_tcp_checksum_ok6(seg, (size_t)n, peer_global, global));
  net_udp_repr u = {
      .src_port = 5, .dst_port = 7, .payload = (const uint8_t *)"x", .payload_len = 1};
  n = net_udp_emit6(&u, peer_global, global, seg, sizeof seg);
  ck_assert_uint_eq(sum6(peer_global, global, 17, seg, (size_t)n), 0);
  ck_assert(net_udp_checksum_ok6(seg, peer_global, global));
  /* the pseudo-header alone, against the definition of RFC 8200 §8.1 */
  uint8_t zero[1] = {0};
  uint16_t mine = sum6(peer_global, global, 58, zero, 0);
  ck_assert_uint_eq(net_inet_fold(net_ipv6_pseudo_sum(peer_global, global, 58, 0)), mine);
}
END_TEST

static Suite *ipv6_suite(void) {
  Suite *s = suite_create("ipv6");
  TCase *wire = tcase_create("wire");
  tcase_add_test(wire, test_ipv6_header_emit_parse_and_check);
  tcase_add_test(wire, test_pseudo_header_and_transport_checksums);
  suite_add_tcase(s, wire);
  TCase *nd = tcase_create("nd");
  tcase_add_checked_fixture(nd, setup, teardown);
  tcase_add_test(nd, test_link_local_address_is_modified_eui64_of_the_mac);
  tcase_add_test(nd, test_ns_to_solicited_node_answered_with_na_field_by_field);
  tcase_add_test(nd, test_dad_probe_answered_to_all_nodes_unsolicited);
  tcase_add_test(nd, test_bad_ns_and_other_groups_get_named_fates);
  tcase_add_test(nd, test_echo_to_unknown_neighbour_waits_for_neighbor_solicitation);
  tcase_add_test(nd, test_unanswered_solicitation_given_up_after_three_tries);
  tcase_add_test(nd, test_router_advertisement_gives_slaac_address_and_router);
  suite_add_tcase(s, nd);
  TCase *up = tcase_create("upper");
  tcase_add_checked_fixture(up, setup, teardown);
  tcase_add_test(up, test_echo_request_answered_and_counted);
  tcase_add_test(up, test_static_global_address_answers_echo_from_itself);
  tcase_add_test(up, test_udp_echo_over_ipv6_answered);
  tcase_add_test(up, test_udp_zero_checksum_and_closed_port);
  tcase_add_test(up, test_tcp_echo_over_ipv6_handshake_and_data);
  tcase_add_test(up, test_tcp_to_closed_port_over_ipv6_gets_rst);
  suite_add_tcase(s, up);
  TCase *bad = tcase_create("bad");
  tcase_add_checked_fixture(bad, setup, teardown);
  tcase_add_test(bad, test_extension_headers_skipped_or_refused_by_name);
  tcase_add_test(bad, test_malformed_ipv6_counted);
  suite_add_tcase(s, bad);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ipv6_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
