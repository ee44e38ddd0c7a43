/* Check suite for stack/udp, the UDP services, and the UDP/TCP wire views:
 * two ifaces on an instant test-only link, plus real captures whose UDP and
 * TCP checksums must verify with our pseudo-header sums. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "host/pcapio.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "stack/udp.h"
#include "stack/wire.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define GUEST_IP        IP4(10, 0, 2, 15)
#define HOST_IP         IP4(10, 0, 2, 2)

/* ---- an instant link: frames queue, pump() delivers them ---------------------------- */

#define MAXF 64
typedef struct end {
  emu_port port;
  size_t head, n;
  size_t len[MAXF];
  uint8_t data[MAXF][NET_IFACE_FRAME_MAX];
  emu_fate fate[MAXF];
} end;

static int end_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  end *e = impl;
  ck_assert_uint_lt(e->n, MAXF);
  memcpy(e->data[e->n], frame, len);
  e->len[e->n++] = len;
  return 0;
}

typedef struct fixture {
  end g, h;
  net_iface guest, host;
  net_services svc;
  net_udp_sock sock;
} fixture;
static fixture *fx;

static void setup(void) {
  fx = calloc(1, sizeof *fx);
  fx->g.port = (emu_port){.send = end_send, .impl = &fx->g};
  fx->h.port = (emu_port){.send = end_send, .impl = &fx->h};
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  ck_assert_int_eq(net_iface_init(&fx->guest, &cfg, &fx->g.port), 0);
  emu_port_attach(&fx->g.port, net_iface_input, &fx->guest);
  net_iface_config_slirp_host(&cfg);
  ck_assert_int_eq(net_iface_init(&fx->host, &cfg, &fx->h.port), 0);
  emu_port_attach(&fx->h.port, net_iface_input, &fx->host);
  ck_assert_int_eq(net_services_start(&fx->svc, &fx->guest, NET_SVC_ALL), 0);
  ck_assert_int_eq(net_udp_bind(&fx->host, &fx->sock, 5000), 0);
}

static void teardown(void) {
  net_iface_close(&fx->guest);
  net_iface_close(&fx->host);
  free(fx);
}

static void pump(void) {
  for (;;) {
    end *from = fx->g.head < fx->g.n ? &fx->g : fx->h.head < fx->h.n ? &fx->h : NULL;
    if (!from) return;
    end *to = from == &fx->g ? &fx->h : &fx->g;
    size_t i = from->head++;
    from->fate[i] = emu_port_deliver(&to->port, from->data[i], from->len[i], 0);
  }
}

/* ---- services ---------------------------------------------------------------------- */

START_TEST(test_udp_echo_service_returns_the_datagram_to_its_sender) {
  const uint8_t msg[] = "hello, port 7";
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 7, msg, sizeof msg, 0), 0);
  pump();
  /* host: ARP request, then the datagram; the guest answered both */
  ck_assert_uint_eq(fx->h.n, 2);
  ck_assert_int_eq(fx->h.fate[1], EMU_FATE_ANSWERED);
  uint8_t buf[64];
  uint32_t ip;
  uint16_t port;
  ck_assert_int_eq(net_udp_recvfrom(&fx->sock, buf, sizeof buf, &ip, &port), (int)sizeof msg);
  ck_assert_mem_eq(buf, msg, sizeof msg);
  ck_assert_uint_eq(ip, GUEST_IP);
  ck_assert_uint_eq(port, 7);
  ck_assert_int_eq(net_udp_recvfrom(&fx->sock, buf, sizeof buf, &ip, &port), EMU_EAGAIN);
  /* the reply on the wire: ports swapped, checksum valid */
  const uint8_t *ipp = fx->g.data[1] + 14;
  const uint8_t *u = net_ipv4_payload(ipp);
  ck_assert_uint_eq(net_udp_src_port(u), 7);
  ck_assert_uint_eq(net_udp_dst_port(u), 5000);
  ck_assert_uint_eq(net_udp_length(u), 8 + sizeof msg);
  ck_assert_uint_ne(net_udp_checksum(u), 0);
  ck_assert(net_udp_checksum_ok(u, GUEST_IP, HOST_IP));
  ck_assert_uint_eq(fx->svc.stats.udp_echoed, 1);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->udp_rx, 1);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->udp_tx, 1);
}
END_TEST

/* What the host's handler got: a datagram too large for a socket's queue. */
typedef struct big_rx {
  size_t len, count;
  uint8_t data[NET_UDP_MAX_DGRAM4];
} big_rx;

static emu_fate big_rx_fn(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                          const uint8_t *data, size_t len, uint64_t now_ns) {
  (void)sock, (void)src_ip, (void)src_port, (void)now_ns;
  big_rx *b = ctx;
  memcpy(b->data, data, len);
  b->len = len;
  b->count++;
  return EMU_FATE_DELIVERED;
}

/* A datagram larger than the link goes out in IPv4 fragments; the guest
 * reassembles it, and its echo, as large, goes back in fragments too. */
START_TEST(test_udp_echo_of_a_datagram_larger_than_the_link_goes_both_ways_in_fragments) {
  static big_rx got;
  static uint8_t msg[20000];
  memset(&got, 0, sizeof got);
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + 3);
  net_udp_set_handler(&fx->sock, big_rx_fn, &got);
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 7, msg, 1, 0), 0); /* ARP both ways */
  pump();
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 7, msg, sizeof msg, 0), 0);
  pump();
  ck_assert_uint_eq(got.count, 2);
  ck_assert_uint_eq(got.len, sizeof msg);
  ck_assert_int_eq(memcmp(got.data, msg, sizeof msg), 0);
  /* 20,008 bytes of UDP in 1,480-byte pieces: 14 fragments each way */
  size_t per = NET_IFACE_MTU - NET_IPV4_HEADER_LEN, frags = (8 + sizeof msg + per - 1) / per;
  ck_assert_uint_eq(net_iface_stats_get(&fx->host)->ip_fragments_sent, frags);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->ip_fragments_sent, frags);
  ck_assert_uint_eq(fx->svc.stats.udp_echoed, 2);
  ck_assert_int_eq(fx->h.fate[fx->h.n - 1], EMU_FATE_ANSWERED); /* the one that completed it */
}
END_TEST

START_TEST(test_udp_discard_service_consumes_without_reply) {
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 9, (const uint8_t *)"gone", 4, 0), 0);
  pump();
  ck_assert_int_eq(fx->h.fate[1], EMU_FATE_DELIVERED);
  ck_assert_uint_eq(fx->g.n, 1); /* only the ARP reply */
  ck_assert_uint_eq(fx->svc.stats.udp_discarded, 1);
}
END_TEST

START_TEST(test_closed_port_answered_with_port_unreachable_quoting_header_and_8_bytes) {
  uint8_t payload[20];
  for (int i = 0; i < 20; i++) payload[i] = (uint8_t)(0xa0 + i);
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 4444, payload, 20, 0), 0);
  pump();
  ck_assert_int_eq(fx->h.fate[1], EMU_FATE_NO_LISTENER);
  ck_assert_uint_eq(fx->g.n, 2); /* ARP reply, ICMP error */
  const uint8_t *sent_ip = fx->h.data[1] + 14, *ipp = fx->g.data[1] + 14;
  ck_assert_uint_eq(net_ipv4_protocol(ipp), NET_IP_PROTO_ICMP);
  ck_assert_uint_eq(net_ipv4_dst(ipp), HOST_IP);
  const uint8_t *icmp = net_ipv4_payload(ipp);
  /* RFC 792: type 3, code 3, 4 unused bytes, the IP header + 64 bits */
  ck_assert_uint_eq(net_ipv4_payload_len(ipp), 8 + 20 + 8);
  ck_assert_uint_eq(net_icmp_type(icmp), NET_ICMP_DEST_UNREACHABLE);
  ck_assert_uint_eq(net_icmp_code(icmp), 3);
  ck_assert_uint_eq(net_get_be32(icmp + 4), 0);
  ck_assert_mem_eq(icmp + 8, sent_ip, 28);
  ck_assert(net_icmp_checksum_ok(icmp, 36));
  /* the host stack has no handler for ICMP errors yet */
  ck_assert_int_eq(fx->g.fate[1], EMU_FATE_UNSUPPORTED);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->icmp_unreachable_sent, 1);

  /* to the broadcast address: RFC 1122 §3.2.2 forbids the error */
  ck_assert_int_eq(net_udp_sendto(&fx->sock, IP4(10, 0, 2, 255), 4444, payload, 20, 0), 0);
  pump();
  ck_assert_int_eq(fx->h.fate[2], EMU_FATE_NO_LISTENER);
  ck_assert_uint_eq(fx->g.n, 2);
}
END_TEST

START_TEST(test_bad_udp_checksum_dropped_and_zero_checksum_accepted) {
  ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 7, (const uint8_t *)"abcd", 4, 0), 0);
  pump();
  size_t echoed = fx->svc.stats.udp_echoed;
  ck_assert_uint_eq(echoed, 1);
  uint8_t f[NET_IFACE_FRAME_MAX];
  size_t len = fx->h.len[1];
  memcpy(f, fx->h.data[1], len);
  f[len - 1] ^= 0x20; /* payload byte */
  ck_assert_int_eq(net_iface_input(&fx->guest, f, len, 0), EMU_FATE_BAD_CHECKSUM);
  /* RFC 768: a zero checksum means none was computed */
  net_put_be16(f + 34 + 6, 0);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, len, 0), EMU_FATE_ANSWERED);
  /* a Length field larger than the IP payload is malformed */
  net_put_be16(f + 34 + 4, 200);
  ck_assert_int_eq(net_iface_input(&fx->guest, f, len, 0), EMU_FATE_MALFORMED);
  ck_assert_uint_eq(fx->svc.stats.udp_echoed, 2);
  ck_assert_uint_eq(net_iface_stats_get(&fx->guest)->rx_fates[EMU_FATE_BAD_CHECKSUM], 1);
}
END_TEST

/* ---- sockets ----------------------------------------------------------------------- */

START_TEST(test_socket_queues_four_then_reports_socket_full_and_reads_in_order) {
  net_udp_sock g;
  memset(&g, 0, sizeof g);
  ck_assert_int_eq(net_udp_bind(&fx->guest, &g, 6000), 0);
  for (uint8_t i = 0; i < 5; i++) {
    ck_assert_int_eq(net_udp_sendto(&fx->sock, GUEST_IP, 6000, &i, 1, 0), 0);
    pump();
  }
  for (int i = 1; i <= 4; i++) ck_assert_int_eq(fx->h.fate[i], EMU_FATE_DELIVERED);
  ck_assert_int_eq(fx->h.fate[5], EMU_FATE_SOCKET_FULL);
  for (uint8_t i = 0; i < 4; i++) {
    uint8_t b = 0xff;
    uint16_t port = 0;
    ck_assert_int_eq(net_udp_recvfrom(&g, &b, 1, NULL, &port), 1);
    ck_assert_uint_eq(b, i);
    ck_assert_uint_eq(port, 5000);
  }
  ck_assert_int_eq(net_udp_recvfrom(&g, NULL, 0, NULL, NULL), EMU_EAGAIN);
  /* the guest replies from its socket */
  ck_assert_int_eq(net_udp_sendto(&g, HOST_IP, 5000, (const uint8_t *)"ok", 2, 0), 0);
  pump();
  uint8_t buf[4];
  uint16_t port;
  ck_assert_int_eq(net_udp_recvfrom(&fx->sock, buf, sizeof buf, NULL, &port), 2);
  ck_assert_uint_eq(port, 6000);
  /* truncation: the datagram's length is returned, the rest lost */
  ck_assert_int_eq(net_udp_sendto(&g, HOST_IP, 5000, (const uint8_t *)"abcdef", 6, 0), 0);
  pump();
  ck_assert_int_eq(net_udp_recvfrom(&fx->sock, buf, 3, NULL, NULL), 6);
  ck_assert_mem_eq(buf, "abc", 3);
  ck_assert_int_eq(net_udp_recvfrom(&fx->sock, buf, 3, NULL, NULL), EMU_EAGAIN);
  net_udp_unbind(&g);
}
END_TEST

START_TEST(test_bind_rejects_taken_ports_and_picks_ephemeral_ones) {
  net_udp_sock a, b, c;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&c, 0, sizeof c);
  ck_assert_int_eq(net_udp_bind(&fx->guest, &a, 7), EMU_ESTATE); /* the echo service */
  ck_assert_int_eq(net_udp_bind(&fx->guest, &a, 0), 0);
  ck_assert_uint_eq(net_udp_local_port(&a), NET_UDP_EPHEMERAL_FIRST);
  ck_assert_int_eq(net_udp_bind(&fx->guest, &b, 0), 0);
  ck_assert_uint_eq(net_udp_local_port(&b), NET_UDP_EPHEMERAL_FIRST + 1);
  ck_assert_int_eq(net_udp_bind(&fx->guest, &a, 100), EMU_EINVAL); /* already bound */
  net_udp_unbind(&a);
  ck_assert_int_eq(net_udp_sendto(&a, HOST_IP, 1, NULL, 0, 0), EMU_ESTATE);
  ck_assert_int_eq(net_udp_bind(&fx->guest, &c, 0), 0);
  ck_assert_uint_eq(net_udp_local_port(&c), NET_UDP_EPHEMERAL_FIRST); /* free again */
  /* the most one IPv4 datagram holds, in fragments, and one byte more */
  static uint8_t big[NET_UDP_MAX_DGRAM4 + 1];
  ck_assert_int_eq(net_udp_sendto(&c, HOST_IP, 9, big, sizeof big, 0), EMU_EINVAL);
  ck_assert_int_eq(net_udp_sendto(&c, HOST_IP, 9, big, NET_IFACE_MTU - 28, 0), 0);
  ck_assert_int_eq(net_udp_sendto(&c, HOST_IP, 0, big, 1, 0), EMU_EINVAL);
  /* services cannot start twice on the same ports */
  net_services again;
  memset(&again, 0, sizeof again);
  ck_assert_int_eq(net_services_start(&again, &fx->guest, NET_SVC_UDP_DISCARD), EMU_ESTATE);
  ck_assert_uint_eq(again.running, 0);
  net_services_stop(&fx->svc);
  ck_assert_int_eq(net_services_start(&again, &fx->guest, NET_SVC_ALL), 0);
  net_services_stop(&again);
}
END_TEST

/* ---- wire formats on real captures ---------------------------------------------------- */

static void count_checksums(const char *name, size_t *udp_ok, size_t *tcp_ok, size_t *bad) {
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/%s", VNETSIM_CAPTURES_DIR, name);
  scn_capture in;
  ck_assert_msg(host_pcap_load(path, &in, err, sizeof err) == 0, "%s", err);
  for (size_t i = 0; i < in.nframes; i++) {
    const uint8_t *fr = in.frames[i].data;
    size_t len = in.frames[i].caplen;
    if (net_eth_check(fr, len) || net_eth_ethertype(fr) != NET_ETHERTYPE_IPV4) continue;
    const uint8_t *ip = fr + 14;
    if (net_ipv4_check(ip, len - 14) || net_ipv4_is_fragment(ip)) continue;
    const uint8_t *l4 = net_ipv4_payload(ip);
    size_t l4len = net_ipv4_payload_len(ip);
    uint32_t src = net_ipv4_src(ip), dst = net_ipv4_dst(ip);
    if (net_ipv4_protocol(ip) == NET_IP_PROTO_UDP && net_udp_check(l4, l4len) == 0) {
      if (net_udp_checksum_ok(l4, src, dst))
        (*udp_ok)++;
      else
        (*bad)++;
    } else if (net_ipv4_protocol(ip) == NET_IP_PROTO_TCP && net_tcp_check(l4, l4len) == 0) {
      if (net_tcp_checksum_ok(l4, l4len, src, dst))
        (*tcp_ok)++;
      else
        (*bad)++;
    }
  }
  host_pcap_free(&in);
}

START_TEST(test_checksums_of_captured_udp_and_tcp_verify) {
  size_t udp = 0, tcp = 0, bad = 0;
  count_checksums("tcpdump_dns_udp.pcap", &udp, &tcp, &bad);
  count_checksums("pcpp_one_tcp_stream.pcap", &udp, &tcp, &bad);
  ck_assert_uint_gt(udp, 0);
  ck_assert_uint_gt(tcp, 10);
  ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_tcp_emit_parse_round_trip_with_mss_option) {
  uint8_t buf[64];
  const uint8_t data[3] = {1, 2, 3};
  net_tcp_repr r = {.src_port = 80,
                    .dst_port = 40000,
                    .seq = 0xfffffffe,
                    .ack = 7,
                    .flags = NET_TCP_SYN | NET_TCP_ACK,
                    .window = 512,
                    .mss = 1460,
                    .payload = data,
                    .payload_len = 3};
  ck_assert_int_eq(net_tcp_emit(&r, HOST_IP, GUEST_IP, buf, sizeof buf), 27);
  ck_assert_uint_eq(net_tcp_header_len(buf), 24);
  ck_assert(net_tcp_checksum_ok(buf, 27, HOST_IP, GUEST_IP));
  ck_assert(!net_tcp_checksum_ok(buf, 27, HOST_IP, GUEST_IP + 1)); /* pseudo-header counts */
  net_tcp_repr p;
  ck_assert_int_eq(net_tcp_parse(buf, 27, &p), 0);
  ck_assert_uint_eq(p.seq, 0xfffffffe);
  ck_assert_uint_eq(p.ack, 7);
  ck_assert_uint_eq(p.flags, NET_TCP_SYN | NET_TCP_ACK);
  ck_assert_uint_eq(p.window, 512);
  ck_assert_uint_eq(p.mss, 1460);
  ck_assert_uint_eq(p.payload_len, 3);
  ck_assert_mem_eq(p.payload, data, 3);
  ck_assert_int_eq(net_tcp_emit(&r, HOST_IP, GUEST_IP, buf, 26), EMU_ENOSPC);
  /* an option whose length runs past the header is malformed */
  buf[21] = 8;
  ck_assert_int_eq(net_tcp_check(buf, 27), EMU_EFORMAT);
  buf[21] = 4;
  buf[20] = 30; /* unknown kind, length 4: skipped */
  ck_assert_int_eq(net_tcp_parse(buf, 27, &p), 0);
  ck_assert_uint_eq(p.mss, 0);
}
END_TEST

static Suite *udp_suite(void) {
  Suite *s = suite_create("udp");
  TCase *tc = tcase_create("udp");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_udp_echo_service_returns_the_datagram_to_its_sender);
  tcase_add_test(tc, test_udp_echo_of_a_datagram_larger_than_the_link_goes_both_ways_in_fragments);
  tcase_add_test(tc, test_udp_discard_service_consumes_without_reply);
  tcase_add_test(tc, test_closed_port_answered_with_port_unreachable_quoting_header_and_8_bytes);
  tcase_add_test(tc, test_bad_udp_checksum_dropped_and_zero_checksum_accepted);
  tcase_add_test(tc, test_socket_queues_four_then_reports_socket_full_and_reads_in_order);
  tcase_add_test(tc, test_bind_rejects_taken_ports_and_picks_ephemeral_ones);
  suite_add_tcase(s, tc);
  TCase *w = tcase_create("wire");
  tcase_add_test(w, test_checksums_of_captured_udp_and_tcp_verify);
  tcase_add_test(w, test_tcp_emit_parse_round_trip_with_mss_option);
  suite_add_tcase(s, w);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(udp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
