/* Check suite for stack/iface: two interfaces (slirp's guest and host
 * identities) wired back to back through a test-only queueing link, plus real
 * captured frames replayed into an iface that takes the capture's identity. */
/* pcap.h uses the BSD u_char/u_int types, which strict C11 hides. */
#define _DEFAULT_SOURCE
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/fate.h"
#include "emu/port.h"
#include "emu/sched.h"
#include "stack/iface.h"
#include "stack/wire.h"

#ifndef VNETSIM_CAPTURES_DIR
#error "compile with -DVNETSIM_CAPTURES_DIR=\"/path/to/captures\""
#endif

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define SEC             1000000000ull
#define GUEST_IP        IP4(10, 0, 2, 15)
#define HOST_IP         IP4(10, 0, 2, 2)

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t host_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

/* ---- a test-only link: each end queues what its iface sends ---------------------- */

#define END_MAX_FRAMES 64

typedef struct link_end {
  emu_port port;  /* the iface on this end sends into it */
  int refuse;     /* when set, send fails with EMU_ENOSPC */
  size_t head, n; /* frames [head, n) not yet delivered to the other end */
  size_t len[END_MAX_FRAMES];
  uint64_t sent_ns[END_MAX_FRAMES];
  uint8_t data[END_MAX_FRAMES][NET_IFACE_FRAME_MAX];
  emu_fate fate[END_MAX_FRAMES]; /* fate at the other end, once delivered */
} link_end;

static int link_end_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  link_end *e = impl;
  if (e->refuse) return EMU_ENOSPC;
  ck_assert_uint_lt(e->n, END_MAX_FRAMES);
  ck_assert_uint_le(len, NET_IFACE_FRAME_MAX);
  memcpy(e->data[e->n], frame, len);
  e->len[e->n] = len;
  e->sent_ns[e->n] = now_ns;
  e->fate[e->n] = EMU_FATE_PENDING;
  e->n++;
  return 0;
}

/* Delivers queued frames both ways at now_ns until neither end has any. */
static void link_pump(link_end *a, link_end *b, uint64_t now_ns) {
  for (;;) {
    link_end *from = a->head < a->n ? a : b->head < b->n ? b : NULL;
    if (!from) return;
    link_end *to = from == a ? b : a;
    size_t i = from->head++;
    from->fate[i] = emu_port_deliver(&to->port, from->data[i], from->len[i], now_ns);
  }
}

typedef struct fixture {
  link_end guest_end, host_end;
  net_iface guest, host;
} fixture;

static fixture *fx;

static void setup(void) {
  fx = calloc(1, sizeof *fx);
  ck_assert_ptr_nonnull(fx);
  fx->guest_end.port.send = link_end_send;
  fx->guest_end.port.impl = &fx->guest_end;
  fx->host_end.port.send = link_end_send;
  fx->host_end.port.impl = &fx->host_end;
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  ck_assert_int_eq(net_iface_init(&fx->guest, &cfg, &fx->guest_end.port), 0);
  emu_port_attach(&fx->guest_end.port, net_iface_input, &fx->guest);
  net_iface_config_slirp_host(&cfg);
  ck_assert_int_eq(net_iface_init(&fx->host, &cfg, &fx->host_end.port), 0);
  emu_port_attach(&fx->host_end.port, net_iface_input, &fx->host);
}

static void teardown(void) {
  net_iface_close(&fx->guest);
  net_iface_close(&fx->host);
  free(fx);
  fx = NULL;
}

static void pump(uint64_t now_ns) { link_pump(&fx->guest_end, &fx->host_end, now_ns); }

/* Every received frame got exactly one fate. */
static void assert_fates_add_up(const net_iface *ifc) {
  const net_iface_stats *s = net_iface_stats_get(ifc);
  uint64_t total = 0;
  for (int f = 0; f < EMU_FATE_COUNT; f++) total += s->rx_fates[f];
  ck_assert_uint_eq(total, s->rx_frames);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_PENDING], 0);
}

/* Builds Ethernet + IPv4 + payload into buf and returns the frame length. */
static size_t build_ipv4(uint8_t *buf, const uint8_t *dst_mac, uint32_t src, uint32_t dst,
                         uint8_t protocol, const uint8_t *l4, size_t l4_len) {
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_IPV4};
  memcpy(eth.dst, dst_mac, 6);
  memcpy(eth.src, host_mac, 6);
  ck_assert_int_eq(net_eth_emit(&eth, buf, 14), 14);
  net_ipv4_repr ip = {
      .src = src, .dst = dst, .protocol = protocol, .ttl = 64, .payload_len = l4_len};
  ck_assert_int_eq(net_ipv4_emit(&ip, buf + 14, 20 + l4_len), 20);
  memcpy(buf + 34, l4, l4_len);
  return 34 + l4_len;
}

static size_t build_echo(uint8_t *buf, const uint8_t *dst_mac, uint32_t src, uint32_t dst,
                         uint8_t type, uint16_t ident, uint16_t seq) {
  uint8_t icmp[8 + 4] = {0};
  net_icmp_repr r = {.type = type, .ident = ident, .seq = seq, .data = icmp + 8, .data_len = 4};
  ck_assert_int_eq(net_icmp_emit(&r, icmp, sizeof icmp), 12);
  return build_ipv4(buf, dst_mac, src, dst, NET_IP_PROTO_ICMP, icmp, sizeof icmp);
}

static size_t build_arp(uint8_t *buf, const uint8_t *eth_dst, uint16_t oper, const uint8_t *sha,
                        uint32_t spa, const uint8_t *tha, uint32_t tpa) {
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_ARP};
  memcpy(eth.dst, eth_dst, 6);
  memcpy(eth.src, sha, 6);
  ck_assert_int_eq(net_eth_emit(&eth, buf, 14), 14);
  net_arp_repr arp = {.oper = oper, .spa = spa, .tpa = tpa};
  memcpy(arp.sha, sha, 6);
  memcpy(arp.tha, tha, 6);
  ck_assert_int_eq(net_arp_emit(&arp, buf + 14, 28), 28);
  return 42;
}

static const uint8_t zero_mac[6] = {0};

/* ---- ARP ------------------------------------------------------------------------- */

START_TEST(test_guest_answers_arp_request_with_exact_reply_and_learns_asker) {
  uint8_t f[42];
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, host_mac, HOST_IP, zero_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 7), EMU_FATE_ANSWERED);

  ck_assert_uint_eq(fx->guest_end.n, 1);
  ck_assert_uint_eq(fx->guest_end.len[0], 42); /* exact length: no padding to 60 */
  ck_assert_uint_eq(fx->guest_end.sent_ns[0], 7);
  uint8_t expect[42];
  build_arp(expect, host_mac, NET_ARP_OPER_REPLY, guest_mac, GUEST_IP, host_mac, HOST_IP);
  ck_assert_mem_eq(fx->guest_end.data[0], expect, 42);

  uint8_t mac[6];
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, HOST_IP, mac), 0);
  ck_assert_mem_eq(mac, host_mac, 6);
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->arp_replies_sent, 1);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_ANSWERED], 1);
  ck_assert_uint_eq(s->rx_frames, 1);
  ck_assert_uint_eq(s->rx_bytes, 42);
  ck_assert_uint_eq(s->tx_frames, 1);
  ck_assert_uint_eq(s->tx_bytes, 42);
}
END_TEST

START_TEST(test_arp_for_other_target_learns_only_already_cached_sender) {
  const uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 3};
  const uint8_t new_host_mac[6] = {0x02, 0, 0, 0, 0, 2};
  uint8_t f[42];
  uint8_t mac[6];
  /* 10.0.2.3 asks for 10.0.2.4: not for us, and 10.0.2.3 is not cached */
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, other_mac, IP4(10, 0, 2, 3), zero_mac,
            IP4(10, 0, 2, 4));
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_NOT_FOR_GUEST);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, IP4(10, 0, 2, 3), mac), EMU_EAGAIN);

  /* the host becomes cached by asking for us ... */
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, host_mac, HOST_IP, zero_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_ANSWERED);
  /* ... so its gratuitous ARP with a new MAC updates the entry (RFC 826 merge) */
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, new_host_mac, HOST_IP, zero_mac, HOST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, HOST_IP, mac), 0);
  ck_assert_mem_eq(mac, new_host_mac, 6);
  ck_assert_uint_eq(fx->guest_end.n, 1); /* only the one reply */
  assert_fates_add_up(&fx->guest);
}
END_TEST

START_TEST(test_arp_reply_to_us_is_delivered_and_cached) {
  uint8_t f[42];
  build_arp(f, guest_mac, NET_ARP_OPER_REPLY, host_mac, HOST_IP, guest_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  uint8_t mac[6];
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, HOST_IP, mac), 0);
  ck_assert_mem_eq(mac, host_mac, 6);
  ck_assert_uint_eq(fx->guest_end.n, 0);
}
END_TEST

START_TEST(test_arp_other_operations_and_hardware_types_unsupported) {
  uint8_t f[42];
  build_arp(f, net_mac_broadcast, 3 /* RARP request */, host_mac, HOST_IP, zero_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_UNSUPPORTED);
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, host_mac, HOST_IP, zero_mac, GUEST_IP);
  f[15] = 6; /* htype IEEE 802 */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_UNSUPPORTED);
  ck_assert_uint_eq(fx->guest_end.n, 0);
}
END_TEST

START_TEST(test_arp_cache_replaces_least_recently_used_entry) {
  uint8_t f[42];
  uint8_t mac[6];
  /* fill all 16 entries: replies to us from 10.0.2.100 .. 10.0.2.115 */
  for (uint8_t i = 0; i < NET_IFACE_ARP_CACHE_SIZE; i++) {
    const uint8_t m[6] = {0x02, 0, 0, 0, 0, (uint8_t)(100 + i)};
    build_arp(f, guest_mac, NET_ARP_OPER_REPLY, m, IP4(10, 0, 2, 100 + i), guest_mac, GUEST_IP);
    ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  }
  /* sending to 10.0.2.100 makes it recently used: .101 is now the oldest */
  ck_assert_int_eq(net_iface_ping(&fx->guest, IP4(10, 0, 2, 100), 1, 1, 0, 0), 0);
  const uint8_t m17[6] = {0x02, 0, 0, 0, 0, 200};
  build_arp(f, guest_mac, NET_ARP_OPER_REPLY, m17, IP4(10, 0, 2, 200), guest_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, IP4(10, 0, 2, 101), mac), EMU_EAGAIN);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, IP4(10, 0, 2, 100), mac), 0);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, IP4(10, 0, 2, 102), mac), 0);
  ck_assert_int_eq(net_iface_arp_lookup(&fx->guest, IP4(10, 0, 2, 200), mac), 0);
  ck_assert_mem_eq(mac, m17, 6);
}
END_TEST

START_TEST(test_arp_retries_at_1s_intervals_then_drops_as_unresolved) {
  const uint64_t t = 5 * SEC + 123;
  const uint32_t nobody = IP4(10, 0, 2, 99);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), EMU_TIME_NEVER);
  ck_assert_int_eq(net_iface_ping(&fx->host, nobody, 1, 1, 8, t), 0);
  ck_assert_uint_eq(fx->host_end.n, 1);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), t + SEC);

  net_iface_poll(&fx->host, t + SEC - 1); /* not yet */
  ck_assert_uint_eq(fx->host_end.n, 1);
  net_iface_poll(&fx->host, t + SEC);
  ck_assert_uint_eq(fx->host_end.n, 2);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), t + 2 * SEC);
  net_iface_poll(&fx->host, t + 2 * SEC);
  ck_assert_uint_eq(fx->host_end.n, 3);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), t + 3 * SEC);
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->arp_unresolved, 0);
  net_iface_poll(&fx->host, t + 3 * SEC);
  ck_assert_uint_eq(fx->host_end.n, 3); /* no fourth request */
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), EMU_TIME_NEVER);

  const uint64_t expect_ns[3] = {t, t + SEC, t + 2 * SEC};
  for (size_t i = 0; i < 3; i++) {
    const uint8_t *fr = fx->host_end.data[i];
    ck_assert_uint_eq(fx->host_end.sent_ns[i], expect_ns[i]);
    ck_assert_uint_eq(fx->host_end.len[i], 42);
    ck_assert_mem_eq(net_eth_dst(fr), net_mac_broadcast, 6);
    ck_assert_uint_eq(net_eth_ethertype(fr), NET_ETHERTYPE_ARP);
    ck_assert_uint_eq(net_arp_oper(fr + 14), NET_ARP_OPER_REQUEST);
    ck_assert_uint_eq(net_arp_spa(fr + 14), HOST_IP);
    ck_assert_uint_eq(net_arp_tpa(fr + 14), nobody);
  }
  const net_iface_stats *s = net_iface_stats_get(&fx->host);
  ck_assert_uint_eq(s->arp_requests_sent, 3);
  ck_assert_uint_eq(s->arp_unresolved, 1);
  ck_assert_uint_eq(s->echo_requests_sent, 1);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->host, &r), 1);
  ck_assert_int_eq(r[0].state, NET_PING_LOST); /* decided at t + 1 s */
}
END_TEST

START_TEST(test_pending_queue_flushed_in_order_on_arp_reply_and_overflow_counted) {
  const uint64_t t = 1000;
  for (uint16_t seq = 1; seq <= 4; seq++)
    ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 0x77, seq, 16, t), 0);
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 0x77, 5, 16, t), EMU_ENOSPC);
  const net_iface_stats *hs = net_iface_stats_get(&fx->host);
  ck_assert_uint_eq(hs->arp_queue_full, 1);
  ck_assert_uint_eq(hs->arp_requests_sent, 1); /* one request for all four */
  ck_assert_uint_eq(fx->host_end.n, 1);

  pump(t + 500);
  /* host sent: ARP request, then the four echo requests in order */
  ck_assert_uint_eq(fx->host_end.n, 5);
  for (uint16_t i = 1; i <= 4; i++) {
    const uint8_t *fr = fx->host_end.data[i];
    ck_assert_mem_eq(net_eth_dst(fr), guest_mac, 6);
    ck_assert_uint_eq(net_icmp_type(fr + 34), NET_ICMP_ECHO_REQUEST);
    ck_assert_uint_eq(net_icmp_echo_seq(fr + 34), i);
    ck_assert_int_eq(fx->host_end.fate[i], EMU_FATE_ANSWERED);
  }
  ck_assert_int_eq(fx->host_end.fate[0], EMU_FATE_ANSWERED); /* the ARP request */
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->host, &r), 4);
  for (size_t i = 0; i < 4; i++) {
    ck_assert_int_eq(r[i].state, NET_PING_REPLIED);
    ck_assert_uint_eq(r[i].seq, i + 1);
    ck_assert_uint_eq(r[i].rtt_ns, 500);
  }
  ck_assert_uint_eq(hs->arp_unresolved, 0);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), EMU_TIME_NEVER);
  assert_fates_add_up(&fx->host);
  assert_fates_add_up(&fx->guest);
}
END_TEST

/* ---- ping ------------------------------------------------------------------------ */

START_TEST(test_host_pings_guest_and_records_rtt_from_virtual_times) {
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 0x1234, 1, 56, 5000000), 0);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), 5000000 + SEC);
  pump(5100000);
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 0x1234, 2, 56, 6000000), 0);
  pump(6000250);

  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->host, &r), 2);
  ck_assert_int_eq(r[0].state, NET_PING_REPLIED);
  ck_assert_uint_eq(r[0].rtt_ns, 100000);
  ck_assert_uint_eq(r[0].sent_ns, 5000000);
  ck_assert_uint_eq(r[0].dst_ip, GUEST_IP);
  ck_assert_uint_eq(r[0].ident, 0x1234);
  ck_assert_uint_eq(r[0].seq, 1);
  ck_assert_uint_eq(r[0].payload_len, 56);
  ck_assert_int_eq(r[1].state, NET_PING_REPLIED);
  ck_assert_uint_eq(r[1].rtt_ns, 250);
  ck_assert_uint_eq(net_iface_poll_at(&fx->host), EMU_TIME_NEVER);

  /* host: ARP request, echo 1, echo 2; guest: ARP reply, reply 1, reply 2 */
  ck_assert_uint_eq(fx->host_end.n, 3);
  ck_assert_uint_eq(fx->guest_end.n, 3);
  ck_assert_int_eq(fx->guest_end.fate[0], EMU_FATE_DELIVERED);
  ck_assert_int_eq(fx->guest_end.fate[1], EMU_FATE_DELIVERED);
  ck_assert_int_eq(fx->guest_end.fate[2], EMU_FATE_DELIVERED);

  /* the guest's first echo reply, byte by byte where it matters */
  const uint8_t *fr = fx->guest_end.data[1];
  ck_assert_uint_eq(fx->guest_end.len[1], 14 + 20 + 8 + 56);
  ck_assert_mem_eq(net_eth_dst(fr), host_mac, 6);
  ck_assert_mem_eq(net_eth_src(fr), guest_mac, 6);
  const uint8_t *ip = fr + 14;
  ck_assert_int_eq(net_ipv4_check(ip, 84), 0);
  ck_assert(net_ipv4_checksum_ok(ip));
  ck_assert_uint_eq(net_ipv4_src(ip), GUEST_IP);
  ck_assert_uint_eq(net_ipv4_dst(ip), HOST_IP);
  ck_assert_uint_eq(net_ipv4_ttl(ip), 64);
  ck_assert_int_eq(net_ipv4_dont_frag(ip), 1);
  ck_assert_uint_eq(net_ipv4_ident(ip), 0); /* the guest's first IPv4 packet */
  const uint8_t *m = ip + 20;
  ck_assert(net_icmp_checksum_ok(m, 64));
  ck_assert_uint_eq(net_icmp_type(m), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(net_icmp_echo_ident(m), 0x1234);
  ck_assert_uint_eq(net_icmp_echo_seq(m), 1);
  for (size_t i = 0; i < 56; i++) ck_assert_uint_eq(m[8 + i], i & 0xff);
  /* the second reply carries the next IP identification */
  ck_assert_uint_eq(net_ipv4_ident(fx->guest_end.data[2] + 14), 1);

  const net_iface_stats *gs = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(gs->echo_replies_sent, 2);
  ck_assert_uint_eq(gs->rx_fates[EMU_FATE_ANSWERED], 3);
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->echo_requests_sent, 2);
  assert_fates_add_up(&fx->guest);
  assert_fates_add_up(&fx->host);
}
END_TEST

START_TEST(test_guest_pings_off_subnet_through_gateway_mac) {
  const uint32_t google_dns = IP4(8, 8, 8, 8);
  ck_assert_int_eq(net_iface_ping(&fx->guest, google_dns, 9, 1, 0, 0), 0);
  /* ARP asks for the gateway, not for 8.8.8.8 (RFC 1122 §3.3.1.1) */
  ck_assert_uint_eq(net_arp_tpa(fx->guest_end.data[0] + 14), HOST_IP);
  pump(10);
  ck_assert_uint_eq(fx->guest_end.n, 2);
  const uint8_t *fr = fx->guest_end.data[1];
  ck_assert_mem_eq(net_eth_dst(fr), host_mac, 6);
  ck_assert_uint_eq(net_ipv4_dst(fr + 14), google_dns);
  /* the host stack is not a router: 8.8.8.8 is not its address */
  ck_assert_int_eq(fx->guest_end.fate[1], EMU_FATE_NOT_FOR_GUEST);
}
END_TEST

START_TEST(test_unmatched_and_late_echo_replies_have_no_listener) {
  uint8_t f[64];
  size_t n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REPLY, 5, 5);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NO_LISTENER);

  /* a reply exactly at the 1 s timeout is late even before poll runs */
  build_arp(f, guest_mac, NET_ARP_OPER_REPLY, host_mac, HOST_IP, guest_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 5, 6, 4, 100), 0);
  ck_assert_uint_eq(net_iface_poll_at(&fx->guest), 100 + SEC);
  n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REPLY, 5, 6);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 100 + SEC), EMU_FATE_NO_LISTENER);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 1);
  ck_assert_int_eq(r[0].state, NET_PING_LOST);

  /* a reply from another address does not match the ping either */
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 5, 7, 4, 200), 0);
  n = build_echo(f, guest_mac, IP4(10, 0, 2, 3), GUEST_IP, NET_ICMP_ECHO_REPLY, 5, 7);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 300), EMU_FATE_NO_LISTENER);
  n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REPLY, 5, 7);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 300), EMU_FATE_DELIVERED);
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 2);
  ck_assert_uint_eq(r[1].rtt_ns, 100);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_NO_LISTENER], 3);
}
END_TEST

START_TEST(test_ping_rejects_bad_arguments) {
  /* more than one IPv4 datagram holds (less goes in fragments) */
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 1, 1, NET_ICMP_MAX_DATA4 + 1, 0),
                   EMU_EINVAL);
  ck_assert_int_eq(net_iface_ping(&fx->guest, GUEST_IP, 1, 1, 0, 0), EMU_EINVAL);
  ck_assert_int_eq(net_iface_ping(&fx->guest, 0, 1, 1, 0, 0), EMU_EINVAL);
  ck_assert_int_eq(net_iface_ping(&fx->guest, IP4(224, 0, 0, 1), 1, 1, 0, 0), EMU_EINVAL);
  /* slirp's host identity has no gateway: off-subnet has no route */
  ck_assert_int_eq(net_iface_ping(&fx->host, IP4(8, 8, 8, 8), 1, 1, 0, 0), EMU_EINVAL);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 0);
  ck_assert_uint_eq(fx->guest_end.n, 0);
  /* the largest payload that fits the MTU is accepted */
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 1, 1, NET_IFACE_MTU - 28, 0), 0);
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 1);
  net_iface_ping_reset(&fx->guest);
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 0);
}
END_TEST

/* ---- drops ----------------------------------------------------------------------- */

START_TEST(test_bad_ipv4_and_icmp_checksums_counted_and_not_answered) {
  uint8_t f[64];
  size_t n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 1, 1);
  f[14 + 8] ^= 0x01; /* TTL: header checksum no longer verifies */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_BAD_CHECKSUM);
  n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 1, 1);
  f[n - 1] ^= 0x80; /* ICMP data */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_BAD_CHECKSUM);
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_BAD_CHECKSUM], 2);
  ck_assert_uint_eq(s->rx_frames, 2);
  ck_assert_uint_eq(fx->guest_end.n, 0);
}
END_TEST

START_TEST(test_frames_for_other_macs_and_addresses_are_not_for_guest) {
  const uint8_t other_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
  const uint8_t mcast_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
  uint8_t f[64];
  size_t n = build_echo(f, other_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NOT_FOR_GUEST);
  n = build_echo(f, mcast_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NOT_FOR_GUEST);
  n = build_echo(f, guest_mac, HOST_IP, IP4(10, 0, 2, 16), NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NOT_FOR_GUEST);
  /* broadcast addresses pass the IP filter; a broadcast echo is then ignored
   * (RFC 1122 §3.2.2.6) */
  n = build_echo(f, net_mac_broadcast, HOST_IP, NET_IPV4_BROADCAST, NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_UNSUPPORTED);
  n = build_echo(f, net_mac_broadcast, HOST_IP, IP4(10, 0, 2, 255), NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_UNSUPPORTED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_NOT_FOR_GUEST], 3);
  ck_assert_uint_eq(fx->guest_end.n, 0);
}
END_TEST

START_TEST(test_truncated_frames_malformed_at_each_layer) {
  uint8_t f[64];
  size_t n = build_echo(f, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 1, 1);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 13, 0), EMU_FATE_MALFORMED);    /* Ethernet */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 33, 0), EMU_FATE_MALFORMED);    /* IPv4 hdr */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n - 1, 0), EMU_FATE_MALFORMED); /* total */
  /* an IPv4 packet whose ICMP part is only 4 bytes long */
  const uint8_t short_icmp[4] = {8, 0, 0xf7, 0xff};
  n = build_ipv4(f, guest_mac, HOST_IP, GUEST_IP, NET_IP_PROTO_ICMP, short_icmp, 4);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_MALFORMED);
  /* ARP cut to 27 bytes */
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, host_mac, HOST_IP, zero_mac, GUEST_IP);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 41, 0), EMU_FATE_MALFORMED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_MALFORMED], 5);
  ck_assert_uint_eq(fx->guest_end.n, 0);
}
END_TEST

START_TEST(test_udp_and_tcp_to_closed_ports_refused_other_protocols_unsupported) {
  uint8_t f[64];
  const uint8_t udp[8] = {0x30, 0x39, 0x00, 0x07, 0x00, 0x08, 0x00, 0x00};
  size_t n = build_ipv4(f, guest_mac, HOST_IP, GUEST_IP, NET_IP_PROTO_UDP, udp, 8);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NO_LISTENER);
  /* a SYN to port 23, checksum over the pseudo-header filled in */
  uint8_t tcp[20];
  net_tcp_repr syn = {.src_port = 12345, .dst_port = 0x17, .flags = NET_TCP_SYN};
  ck_assert_int_eq(net_tcp_emit(&syn, HOST_IP, GUEST_IP, tcp, sizeof tcp), 20);
  n = build_ipv4(f, guest_mac, HOST_IP, GUEST_IP, NET_IP_PROTO_TCP, tcp, 20);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_NO_LISTENER);
  n = build_ipv4(f, guest_mac, HOST_IP, GUEST_IP, 2 /* IGMP */, udp, 8);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_UNSUPPORTED);
  /* ICMP types other than echo: a timestamp request (type 13) */
  uint8_t ts[20] = {0};
  net_icmp_repr r = {.type = 13, .data = ts + 8, .data_len = 12};
  ck_assert_int_eq(net_icmp_emit(&r, ts, sizeof ts), 20);
  n = build_ipv4(f, guest_mac, HOST_IP, GUEST_IP, NET_IP_PROTO_ICMP, ts, 20);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, n, 0), EMU_FATE_UNSUPPORTED);
  /* the closed UDP port got an ICMP port unreachable and the closed TCP port
   * a RST; both wait behind one ARP request for the host */
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->icmp_unreachable_sent, 1);
  ck_assert_uint_eq(s->tcp_rst_sent, 1);
  ck_assert_uint_eq(fx->guest_end.n, 1);
  ck_assert_uint_eq(net_eth_ethertype(fx->guest_end.data[0]), NET_ETHERTYPE_ARP);
  pump(0);
  ck_assert_uint_eq(fx->guest_end.n, 3);
  const uint8_t *icmp = fx->guest_end.data[1] + 34;
  ck_assert_uint_eq(net_icmp_type(icmp), NET_ICMP_DEST_UNREACHABLE);
  ck_assert_uint_eq(net_icmp_code(icmp), 3);
  const uint8_t *rst = fx->guest_end.data[2] + 34;
  ck_assert_uint_eq(net_tcp_flags(rst), NET_TCP_RST | NET_TCP_ACK);
  ck_assert_uint_eq(net_tcp_src_port(rst), 0x17);
}
END_TEST

START_TEST(test_ipv6_zeros_malformed_and_vlan_ethertype_unsupported) {
  uint8_t f[64] = {0};
  memcpy(f, guest_mac, 6);
  memcpy(f + 6, host_mac, 6);
  net_put_be16(f + 12, NET_ETHERTYPE_IPV6); /* version 0: not an IPv6 header */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 60, 0), EMU_FATE_MALFORMED);
  net_put_be16(f + 12, NET_ETHERTYPE_VLAN);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 60, 0), EMU_FATE_UNSUPPORTED);
}
END_TEST

START_TEST(test_refused_send_counted_as_tx_error_and_frame_delivered) {
  fx->guest_end.refuse = 1;
  uint8_t f[42];
  build_arp(f, net_mac_broadcast, NET_ARP_OPER_REQUEST, host_mac, HOST_IP, zero_mac, GUEST_IP);
  /* learned the asker, but could not answer */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, 42, 0), EMU_FATE_DELIVERED);
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->tx_errors, 1);
  ck_assert_uint_eq(s->arp_replies_sent, 0);
  ck_assert_uint_eq(s->tx_frames, 0);
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 1, 1, 0, 0), EMU_ENOSPC);
  ck_assert_uint_eq(s->tx_errors, 2);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->guest, &r), 0);
}
END_TEST

START_TEST(test_init_rejects_bad_configs) {
  net_iface ifc;
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  ck_assert_mem_eq(cfg.mac, guest_mac, 6);
  ck_assert_uint_eq(cfg.ip, GUEST_IP);
  ck_assert_uint_eq(cfg.netmask, 0xffffff00);
  ck_assert_uint_eq(cfg.gateway, HOST_IP);
  net_iface_config_slirp_host(&cfg);
  ck_assert_mem_eq(cfg.mac, host_mac, 6);
  ck_assert_uint_eq(cfg.ip, HOST_IP);
  ck_assert_uint_eq(cfg.netmask, 0xffffff00);
  ck_assert_uint_eq(cfg.gateway, 0);
  ck_assert_int_eq(net_iface_init(&ifc, &cfg, NULL), EMU_EINVAL);
  cfg.netmask = 0xff00ff00;
  ck_assert_int_eq(net_iface_init(&ifc, &cfg, &fx->guest_end.port), EMU_EINVAL);
  cfg.netmask = 0xffffff00;
  cfg.mac[0] = 0x01;
  ck_assert_int_eq(net_iface_init(&ifc, &cfg, &fx->guest_end.port), EMU_EINVAL);
  cfg.mac[0] = 0x52;
  cfg.ip = 0;
  ck_assert_int_eq(net_iface_init(&ifc, &cfg, &fx->guest_end.port), EMU_EINVAL);
}
END_TEST

/* ---- fates decided after input: replies waiting for ARP ------------------------ */

#define LATE_MAX 16

/* A deliverer's side of the deferral: what the stack reported later. */
typedef struct late_fates {
  emu_port_deferral d;
  size_t n;
  uint64_t tag[LATE_MAX], at_ns[LATE_MAX];
  emu_fate fate[LATE_MAX];
} late_fates;

static void late_record(void *ctx, uint64_t tag, emu_fate fate, uint64_t now_ns) {
  late_fates *l = ctx;
  ck_assert_uint_lt(l->n, LATE_MAX);
  l->tag[l->n] = tag;
  l->fate[l->n] = fate;
  l->at_ns[l->n++] = now_ns;
}

static late_fates *late_attach(void) {
  late_fates *l = calloc(1, sizeof *l);
  ck_assert_ptr_nonnull(l);
  l->d = (emu_port_deferral){late_record, l, EMU_PORT_NO_TAG};
  net_iface_set_deferral(&fx->guest, &l->d);
  return l;
}

/* The host pings the guest with a frame of its own making: the guest has
 * never heard the host's ARP, so its echo reply must wait for it. */
static emu_fate guest_gets_echo(late_fates *l, uint64_t tag, uint16_t seq, uint64_t now_ns) {
  uint8_t buf[128];
  size_t len = build_echo(buf, guest_mac, HOST_IP, GUEST_IP, NET_ICMP_ECHO_REQUEST, 9, seq);
  if (l) l->d.tag = tag;
  emu_fate f = net_iface_input(&fx->guest, buf, len, now_ns);
  if (l) l->d.tag = EMU_PORT_NO_TAG;
  return f;
}

START_TEST(test_reply_waiting_for_arp_answers_its_frame_when_sent) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_echo(l, 41, 1, 1000), EMU_FATE_PENDING);
  ck_assert_uint_eq(l->n, 0);
  ck_assert_uint_eq(fx->guest_end.n, 1); /* only the ARP request so far */
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_PENDING], 1);
  pump(3000); /* the host answers the ARP; the echo reply leaves */
  ck_assert_uint_eq(fx->guest_end.n, 2);
  ck_assert_uint_eq(net_icmp_type(fx->guest_end.data[1] + 34), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(l->n, 1);
  ck_assert_uint_eq(l->tag[0], 41);
  ck_assert_int_eq(l->fate[0], EMU_FATE_ANSWERED);
  ck_assert_uint_eq(l->at_ns[0], 3000);
  /* the host is known now: the next one is answered at once */
  ck_assert_int_eq(guest_gets_echo(l, 42, 2, 4000), EMU_FATE_ANSWERED);
  ck_assert_uint_eq(l->n, 1);
  assert_fates_add_up(&fx->guest);
  net_iface_finish(&fx->guest, 5000); /* nothing left to settle */
  ck_assert_uint_eq(l->n, 1);
  free(l);
}
END_TEST

START_TEST(test_reply_dropped_when_arp_gives_up_is_unresolved) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_echo(l, 7, 1, 0), EMU_FATE_PENDING);
  ck_assert_int_eq(guest_gets_echo(l, 8, 2, 10), EMU_FATE_PENDING);
  /* nobody answers: the ARP requests are never delivered */
  for (uint64_t t = SEC; t <= 3 * SEC; t += SEC) net_iface_poll(&fx->guest, t);
  ck_assert_uint_eq(l->n, 2);
  ck_assert_uint_eq(l->tag[0], 7);
  ck_assert_uint_eq(l->tag[1], 8);
  ck_assert_int_eq(l->fate[0], EMU_FATE_REPLY_UNRESOLVED);
  ck_assert_int_eq(l->fate[1], EMU_FATE_REPLY_UNRESOLVED);
  ck_assert_uint_eq(l->at_ns[0], 3 * SEC);
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->arp_unresolved, 2);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_REPLY_UNRESOLVED], 2);
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

START_TEST(test_reply_with_arp_queue_full_is_unresolved_at_once) {
  late_fates *l = late_attach();
  for (uint16_t seq = 1; seq <= NET_IFACE_ARP_QUEUE_SIZE; seq++)
    ck_assert_int_eq(guest_gets_echo(l, seq, seq, seq), EMU_FATE_PENDING);
  ck_assert_int_eq(guest_gets_echo(l, 99, 99, 99), EMU_FATE_REPLY_UNRESOLVED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->arp_queue_full, 1);
  ck_assert_uint_eq(l->n, 0);
  /* without a deferral the full queue is the same fate (it used to be
   * "delivered"), and a queued reply counts as answered */
  net_iface_set_deferral(&fx->guest, NULL);
  ck_assert_int_eq(guest_gets_echo(NULL, 0, 100, 100), EMU_FATE_REPLY_UNRESOLVED);
  net_iface_set_deferral(&fx->guest, &l->d);
  pump(200); /* resolves: the four queued replies leave and answer their frames */
  ck_assert_uint_eq(l->n, NET_IFACE_ARP_QUEUE_SIZE);
  for (size_t i = 0; i < l->n; i++) {
    ck_assert_uint_eq(l->tag[i], i + 1);
    ck_assert_int_eq(l->fate[i], EMU_FATE_ANSWERED);
  }
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

START_TEST(test_without_deferral_queued_reply_counts_as_answered) {
  ck_assert_int_eq(guest_gets_echo(NULL, 0, 1, 0), EMU_FATE_ANSWERED);
  assert_fates_add_up(&fx->guest);
}
END_TEST

START_TEST(test_finish_settles_replies_still_queued) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_echo(l, 5, 1, 100), EMU_FATE_PENDING);
  ck_assert_int_eq(net_iface_ping(&fx->guest, HOST_IP, 1, 1, 8, 200), 0); /* owned by no frame */
  net_iface_finish(&fx->guest, 500);
  ck_assert_uint_eq(l->n, 1);
  ck_assert_uint_eq(l->tag[0], 5);
  ck_assert_int_eq(l->fate[0], EMU_FATE_REPLY_UNRESOLVED);
  ck_assert_uint_eq(l->at_ns[0], 500);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->arp_unresolved, 2);
  /* no ARP retry armed (it was due at 100 + 1 s): only the ping's timeout */
  ck_assert_uint_eq(net_iface_poll_at(&fx->guest), 200 + NET_IFACE_PING_TIMEOUT_NS);
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

START_TEST(test_queued_reply_refused_by_port_leaves_frame_delivered) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_echo(l, 3, 1, 0), EMU_FATE_PENDING);
  /* the host's ARP reply arrives while the guest's port refuses everything */
  uint8_t arp[64];
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_ARP};
  memcpy(eth.dst, guest_mac, 6);
  memcpy(eth.src, host_mac, 6);
  net_arp_repr r = {.oper = NET_ARP_OPER_REPLY, .spa = HOST_IP, .tpa = GUEST_IP};
  memcpy(r.sha, host_mac, 6);
  memcpy(r.tha, guest_mac, 6);
  ck_assert_int_eq(net_eth_emit(&eth, arp, 14), 14);
  ck_assert_int_eq(net_arp_emit(&r, arp + 14, NET_ARP_LEN), NET_ARP_LEN);
  fx->guest_end.refuse = 1;
  ck_assert_int_eq(net_iface_input(&fx->guest, arp, 14 + NET_ARP_LEN, 50), EMU_FATE_DELIVERED);
  ck_assert_uint_eq(l->n, 1);
  ck_assert_int_eq(l->fate[0], EMU_FATE_DELIVERED);
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

/* ---- real captures replayed into an iface with the capture's identity ------------ */

typedef struct capture {
  size_t n;
  size_t len[64];
  uint8_t data[64][2048];
} capture;

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
    ck_assert_uint_lt(c->n, 64);
    ck_assert_uint_eq(h->caplen, h->len);
    ck_assert_uint_le(h->caplen, 2048);
    memcpy(c->data[c->n], bytes, h->caplen);
    c->len[c->n++] = h->caplen;
  }
  pcap_close(p);
  return c;
}

/* Re-initialises the fixture's guest with another identity. */
#define NFS_CALLS 6 /* complete datagrams in pcpp_ip4_fragments.pcap (tshark: 6 NFS calls) */

static void become(const uint8_t mac[6], uint32_t ip) {
  net_iface_config cfg = {.ip = ip, .netmask = 0xffffff00, .gateway = 0};
  memcpy(cfg.mac, mac, 6);
  net_iface_close(&fx->guest);
  ck_assert_int_eq(net_iface_init(&fx->guest, &cfg, &fx->guest_end.port), 0);
}

START_TEST(test_gateway_capture_replayed_as_10_20_30_40_gets_exact_fates) {
  const uint8_t mac_40[6] = {0xaa, 0x00, 0x04, 0x00, 0x14, 0x0e};
  const uint8_t mac_41[6] = {0x08, 0x00, 0x27, 0xe5, 0x28, 0xd1};
  become(mac_40, IP4(10, 20, 30, 40));
  capture *c = load_capture("libpcap_gateway_or_not.pcap");
  static const emu_fate expect[14] = {
      EMU_FATE_ANSWERED,      /* echo request to .40: reply waits for ARP */
      EMU_FATE_NOT_FOR_GUEST, /* the capture's own reply, to .41's MAC */
      EMU_FATE_NOT_FOR_GUEST, EMU_FATE_NOT_FOR_GUEST,
      EMU_FATE_NOT_FOR_GUEST, /* ICMPv6 to our MAC, another IPv6 address */
      EMU_FATE_NOT_FOR_GUEST, EMU_FATE_NOT_FOR_GUEST,
      EMU_FATE_NOT_FOR_GUEST, EMU_FATE_ANSWERED, /* ARP who-has .40 tell .41 */
      EMU_FATE_NOT_FOR_GUEST,                    /* our MAC, but 10.20.230.243: we do not route */
      EMU_FATE_NOT_FOR_GUEST, EMU_FATE_NOT_FOR_GUEST,
      EMU_FATE_NOT_FOR_GUEST, /* ICMPv6 to our MAC, another IPv6 address */
      EMU_FATE_NOT_FOR_GUEST,
  };
  ck_assert_uint_eq(c->n, 14);
  for (size_t i = 0; i < 14; i++)
    ck_assert_int_eq(net_iface_input(&fx->guest, c->data[i], c->len[i], i * 1000), expect[i]);

  /* sent: our ARP request for .41, then (after frame 8) the ARP reply and
   * the queued echo reply */
  ck_assert_uint_eq(fx->guest_end.n, 3);
  ck_assert_uint_eq(net_arp_oper(fx->guest_end.data[0] + 14), NET_ARP_OPER_REQUEST);
  ck_assert_uint_eq(net_arp_tpa(fx->guest_end.data[0] + 14), IP4(10, 20, 30, 41));
  ck_assert_uint_eq(net_arp_oper(fx->guest_end.data[1] + 14), NET_ARP_OPER_REPLY);
  const uint8_t *reply = fx->guest_end.data[2];
  ck_assert_uint_eq(fx->guest_end.sent_ns[2], 8000);
  ck_assert_mem_eq(net_eth_dst(reply), mac_41, 6);
  const uint8_t *m = reply + 34;
  ck_assert_uint_eq(net_icmp_type(m), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(net_icmp_echo_ident(m), 7);
  ck_assert_uint_eq(net_icmp_echo_seq(m), 317);
  /* same ICMP body as the capture's own reply (frame 1): data echoed as-is */
  ck_assert_mem_eq(m, c->data[1] + 34, 64);
  assert_fates_add_up(&fx->guest);
  free(c);
}
END_TEST

/* NFS writes over UDP in 1514-byte fragments: reassembled, each datagram
 * finds no NFS server (no_listener); without
 * a way to report later the fragments that waited count as delivered, and
 * the ones that never completed too. */
START_TEST(test_fragment_capture_replayed_as_receiver_is_reassembled) {
  const uint8_t mac_211[6] = {0x00, 0x0b, 0xdb, 0x94, 0x14, 0x70};
  become(mac_211, IP4(10, 118, 213, 211));
  capture *c = load_capture("pcpp_ip4_fragments.pcap");
  ck_assert_uint_eq(c->n, 53);
  for (size_t i = 0; i < c->n; i++) net_iface_input(&fx->guest, c->data[i], c->len[i], 0);
  const net_iface_stats *s = net_iface_stats_get(&fx->guest);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_UNSUPPORTED], 0);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_NO_LISTENER], NFS_CALLS);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_DELIVERED], 50 - NFS_CALLS);
  ck_assert_uint_eq(s->rx_fates[EMU_FATE_NOT_FOR_GUEST], 3); /* the other direction */
  ck_assert_uint_eq(fx->guest.reasm.completed, NFS_CALLS);
  free(c);
}
END_TEST

START_TEST(test_double_tagged_vlan_frame_from_capture_is_unsupported) {
  const uint8_t mac[6] = {0x00, 0x1b, 0xd4, 0x1b, 0xa4, 0xd8};
  become(mac, IP4(10, 118, 10, 2));
  capture *c = load_capture("pcpp_VlanPackets.pcap");
  ck_assert_uint_eq(c->len[0], 122);
  ck_assert_uint_eq(net_eth_ethertype(c->data[0]), NET_ETHERTYPE_VLAN);
  ck_assert_int_eq(net_iface_input(&fx->guest, c->data[0], c->len[0], 0), EMU_FATE_UNSUPPORTED);
  free(c);
}
END_TEST

/* ---- IPv4 reassembly (RFC 791 §3.2) ---------------------------------------------- */

/* The fragments a link end sent from frame `first` on: each checked as RFC
 * 791 §3.2 has them (one identification, whole 8-byte blocks in order, More
 * Fragments on all but the last, Don't Fragment clear, a valid header sum);
 * their data joined into out. Returns the number of fragments. */
static size_t join_fragments(const link_end *e, size_t first, uint8_t *out, size_t *out_len) {
  size_t n = 0, off = 0;
  uint16_t ident = 0;
  for (size_t i = first; i < e->n; i++, n++) {
    const uint8_t *ip = e->data[i] + NET_ETH_HEADER_LEN;
    net_ipv4_repr r;
    ck_assert_int_eq(net_ipv4_parse(ip, e->len[i] - NET_ETH_HEADER_LEN, &r), 0);
    ck_assert(net_ipv4_checksum_ok(ip));
    if (n == 0) ident = r.ident;
    ck_assert_uint_eq(r.ident, ident);
    ck_assert_uint_eq(r.frag_offset, off);
    ck_assert_int_eq(r.dont_frag, 0);
    ck_assert_int_eq(r.more_frags, i + 1 < e->n);
    ck_assert_uint_le(NET_IPV4_HEADER_LEN + r.payload_len, NET_IFACE_MTU);
    if (r.more_frags) ck_assert_uint_eq(r.payload_len % NET_IPV4_FRAG_BLOCK, 0);
    memcpy(out + off, net_ipv4_payload(ip), r.payload_len);
    off += r.payload_len;
  }
  *out_len = off;
  return n;
}

/* A ping larger than the link (ping -s 4000, and the largest IPv4 allows)
 * leaves in fragments; the guest reassembles it and its reply leaves in
 * fragments too, which the host reassembles: the ping is answered, and the
 * reply's data is the request's. The fragment that completes the request
 * is answered; the ones that waited for it, with no deferred fates here,
 * are delivered. */
static const struct {
  size_t data, fragments;
} large_pings[] = {{4000, 3}, {NET_ICMP_MAX_DATA4, 45}};

START_TEST(test_large_ping_leaves_and_returns_in_fragments) {
  size_t data = large_pings[_i].data, fragments = large_pings[_i].fragments;
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 7, 1, 0, 0), 0); /* both learn the other */
  pump(500);
  size_t host_first = fx->host_end.n, guest_first = fx->guest_end.n;
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 7, 2, data, 1000), 0);
  pump(1000);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->host, &r), 2);
  ck_assert_int_eq(r[1].state, NET_PING_REPLIED);
  static uint8_t request[NET_IPV4_MAX_LEN], reply[NET_IPV4_MAX_LEN];
  size_t request_len, reply_len;
  ck_assert_uint_eq(join_fragments(&fx->host_end, host_first, request, &request_len), fragments);
  ck_assert_uint_eq(join_fragments(&fx->guest_end, guest_first, reply, &reply_len), fragments);
  ck_assert_uint_eq(request_len, NET_ICMP_HEADER_LEN + data);
  ck_assert_uint_eq(reply_len, request_len);
  ck_assert_uint_eq(net_icmp_type(reply), NET_ICMP_ECHO_REPLY);
  ck_assert(net_icmp_checksum_ok(reply, reply_len));
  ck_assert_int_eq(memcmp(reply + 4, request + 4, request_len - 4), 0); /* ident, seq, data */
  for (size_t i = host_first; i < fx->host_end.n; i++)
    ck_assert_int_eq(fx->host_end.fate[i],
                     i + 1 < fx->host_end.n ? EMU_FATE_DELIVERED : EMU_FATE_ANSWERED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->ip_fragments_sent, fragments);
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->ip_fragments_sent, fragments);
  assert_fates_add_up(&fx->guest);
  /* one byte more than an IPv4 datagram holds */
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 7, 3, NET_ICMP_MAX_DATA4 + 1, 2000),
                   EMU_EINVAL);
}
END_TEST

/* To a next hop not resolved yet, fragments wait in the ARP queue (four
 * frames): a datagram of more fragments than that is refused whole, and the
 * next hop asked, so the same ping goes once it answered. */
START_TEST(test_fragments_to_unresolved_next_hop_refused_whole_and_next_hop_asked) {
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 7, 1, 8000, 0), EMU_ENOSPC);
  ck_assert_uint_eq(fx->host_end.n, 1); /* the ARP request, and no fragment */
  ck_assert_uint_eq(net_eth_ethertype(fx->host_end.data[0]), NET_ETHERTYPE_ARP);
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->arp_queue_full, 1);
  pump(100);
  ck_assert_int_eq(net_iface_ping(&fx->host, GUEST_IP, 7, 2, 8000, 200), 0);
  pump(300);
  const net_ping_result *r;
  ck_assert_uint_eq(net_iface_ping_results(&fx->host, &r), 1);
  ck_assert_int_eq(r[0].state, NET_PING_REPLIED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->ip_fragments_sent, 6);
}
END_TEST

#define FRAG_PART 16 /* bytes of the echo message per fragment, a multiple of 8 */

/* Fragment k (of 3) of a 48-byte echo request from the host: offset
 * 16 * k, MF on all but the last; the IPv4 checksum made again. */
static size_t build_echo_fragment(uint8_t *buf, uint16_t seq, int k, size_t part_len) {
  uint8_t icmp[3 * FRAG_PART] = {0};
  net_icmp_repr r = {.type = NET_ICMP_ECHO_REQUEST,
                     .ident = 9,
                     .seq = seq,
                     .data = icmp + 8,
                     .data_len = sizeof icmp - 8};
  ck_assert_int_eq(net_icmp_emit(&r, icmp, sizeof icmp), (int)sizeof icmp);
  size_t len = build_ipv4(buf, guest_mac, HOST_IP, GUEST_IP, NET_IP_PROTO_ICMP,
                          icmp + FRAG_PART * k, part_len);
  uint8_t *ip = buf + 14;
  uint16_t flags_off = (uint16_t)((k < 2 ? 0x2000 : 0) | (FRAG_PART * k / 8));
  ip[4] = 0x12, ip[5] = 0x34; /* one identification for the three */
  ip[6] = (uint8_t)(flags_off >> 8), ip[7] = (uint8_t)flags_off;
  ip[10] = ip[11] = 0;
  uint16_t sum = net_inet_checksum(ip, 20);
  ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
  return len;
}

static emu_fate guest_gets_fragment(late_fates *l, uint64_t tag, int k, uint64_t now_ns) {
  uint8_t buf[128];
  size_t len = build_echo_fragment(buf, 5, k, FRAG_PART);
  l->d.tag = tag;
  emu_fate f = net_iface_input(&fx->guest, buf, len, now_ns);
  l->d.tag = EMU_PORT_NO_TAG;
  return f;
}

/* Out of order, the fragments wait; the one that completes the datagram is
 * answered, and so, reported later, are the two that waited. */
START_TEST(test_fragmented_echo_reassembled_and_every_fragment_answered) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_echo(l, 1, 1, 1000), EMU_FATE_PENDING);
  pump(2000); /* the guest knows the host now */
  size_t sent = fx->guest_end.n;
  ck_assert_int_eq(guest_gets_fragment(l, 11, 1, 3000), EMU_FATE_PENDING);
  ck_assert_int_eq(guest_gets_fragment(l, 12, 2, 3100), EMU_FATE_PENDING);
  ck_assert_uint_eq(fx->guest_end.n, sent);
  ck_assert_int_eq(guest_gets_fragment(l, 10, 0, 3200), EMU_FATE_ANSWERED);
  ck_assert_uint_eq(fx->guest_end.n, sent + 1);
  const uint8_t *reply = fx->guest_end.data[sent] + 14;
  ck_assert_uint_eq(net_icmp_type(reply + 20), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(net_ipv4_payload_len(reply), 3 * FRAG_PART);
  ck_assert_uint_eq(l->n, 3); /* the first ping's, then the two fragments' */
  ck_assert_uint_eq(l->tag[1] + l->tag[2], 11 + 12);
  ck_assert_int_eq(l->fate[1], EMU_FATE_ANSWERED);
  ck_assert_int_eq(l->fate[2], EMU_FATE_ANSWERED);
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

/* A datagram whose last fragment never comes: its fragments are given up
 * after 30 s, named, and the run's end gives up what is left. */
START_TEST(test_incomplete_datagram_times_out_named) {
  late_fates *l = late_attach();
  ck_assert_int_eq(guest_gets_fragment(l, 20, 0, 1000), EMU_FATE_PENDING);
  ck_assert_int_eq(guest_gets_fragment(l, 21, 1, 2000), EMU_FATE_PENDING);
  ck_assert_uint_eq(net_iface_poll_at(&fx->guest), 1000 + NET_REASM_TIMEOUT_NS);
  net_iface_poll(&fx->guest, 1000 + NET_REASM_TIMEOUT_NS - 1);
  ck_assert_uint_eq(l->n, 0);
  net_iface_poll(&fx->guest, 1000 + NET_REASM_TIMEOUT_NS);
  ck_assert_uint_eq(l->n, 2);
  ck_assert_int_eq(l->fate[0], EMU_FATE_REASSEMBLY_TIMEOUT);
  ck_assert_int_eq(l->fate[1], EMU_FATE_REASSEMBLY_TIMEOUT);
  ck_assert_uint_eq(fx->guest_end.n, 0); /* nothing answered */
  ck_assert_int_eq(guest_gets_fragment(l, 22, 2, 40 * SEC), EMU_FATE_PENDING);
  net_iface_finish(&fx->guest, 41 * SEC);
  ck_assert_uint_eq(l->n, 3);
  ck_assert_int_eq(l->fate[2], EMU_FATE_REASSEMBLY_TIMEOUT);
  assert_fates_add_up(&fx->guest);
  free(l);
}
END_TEST

/* RFC 791 §3.2: a fragment with more to follow carries whole 8-byte blocks. */
START_TEST(test_fragment_of_odd_length_before_the_last_is_malformed) {
  uint8_t buf[128];
  size_t len = build_echo_fragment(buf, 5, 0, FRAG_PART - 3);
  ck_assert_int_eq(net_iface_input(&fx->guest, buf, len, 1000), EMU_FATE_MALFORMED);
  assert_fates_add_up(&fx->guest);
}
END_TEST

static Suite *iface_suite(void) {
  Suite *s = suite_create("iface");
  TCase *arp = tcase_create("arp");
  tcase_add_checked_fixture(arp, setup, teardown);
  tcase_add_test(arp, test_guest_answers_arp_request_with_exact_reply_and_learns_asker);
  tcase_add_test(arp, test_arp_for_other_target_learns_only_already_cached_sender);
  tcase_add_test(arp, test_arp_reply_to_us_is_delivered_and_cached);
  tcase_add_test(arp, test_arp_other_operations_and_hardware_types_unsupported);
  tcase_add_test(arp, test_arp_cache_replaces_least_recently_used_entry);
  tcase_add_test(arp, test_arp_retries_at_1s_intervals_then_drops_as_unresolved);
  tcase_add_test(arp, test_pending_queue_flushed_in_order_on_arp_reply_and_overflow_counted);
  suite_add_tcase(s, arp);

  TCase *ping = tcase_create("ping");
  tcase_add_checked_fixture(ping, setup, teardown);
  tcase_add_test(ping, test_host_pings_guest_and_records_rtt_from_virtual_times);
  tcase_add_test(ping, test_guest_pings_off_subnet_through_gateway_mac);
  tcase_add_test(ping, test_unmatched_and_late_echo_replies_have_no_listener);
  tcase_add_test(ping, test_ping_rejects_bad_arguments);
  suite_add_tcase(s, ping);

  TCase *drops = tcase_create("drops");
  tcase_add_checked_fixture(drops, setup, teardown);
  tcase_add_test(drops, test_bad_ipv4_and_icmp_checksums_counted_and_not_answered);
  tcase_add_test(drops, test_frames_for_other_macs_and_addresses_are_not_for_guest);
  tcase_add_test(drops, test_truncated_frames_malformed_at_each_layer);
  tcase_add_test(drops, test_udp_and_tcp_to_closed_ports_refused_other_protocols_unsupported);
  tcase_add_test(drops, test_ipv6_zeros_malformed_and_vlan_ethertype_unsupported);
  tcase_add_test(drops, test_refused_send_counted_as_tx_error_and_frame_delivered);
  tcase_add_test(drops, test_init_rejects_bad_configs);
  suite_add_tcase(s, drops);

  TCase *late = tcase_create("deferred");
  tcase_add_checked_fixture(late, setup, teardown);
  tcase_add_test(late, test_reply_waiting_for_arp_answers_its_frame_when_sent);
  tcase_add_test(late, test_reply_dropped_when_arp_gives_up_is_unresolved);
  tcase_add_test(late, test_reply_with_arp_queue_full_is_unresolved_at_once);
  tcase_add_test(late, test_without_deferral_queued_reply_counts_as_answered);
  tcase_add_test(late, test_fragmented_echo_reassembled_and_every_fragment_answered);
  tcase_add_test(late, test_fragments_to_unresolved_next_hop_refused_whole_and_next_hop_asked);
  tcase_add_loop_test(late, test_large_ping_leaves_and_returns_in_fragments, 0,
                      (int)(sizeof large_pings / sizeof large_pings[0]));
  tcase_add_test(late, test_incomplete_datagram_times_out_named);
  tcase_add_test(late, test_fragment_of_odd_length_before_the_last_is_malformed);
  tcase_add_test(late, test_finish_settles_replies_still_queued);
  tcase_add_test(late, test_queued_reply_refused_by_port_leaves_frame_delivered);
  suite_add_tcase(s, late);

  TCase *cap = tcase_create("captures");
  tcase_add_checked_fixture(cap, setup, teardown);
  tcase_add_test(cap, test_gateway_capture_replayed_as_10_20_30_40_gets_exact_fates);
  tcase_add_test(cap, test_fragment_capture_replayed_as_receiver_is_reassembled);
  tcase_add_test(cap, test_double_tagged_vlan_frame_from_capture_is_unsupported);
  suite_add_tcase(s, cap);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(iface_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
