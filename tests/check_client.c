/* Check suite for the guest as a client: stack/dhcp, stack/dns, stack/httpc,
 * stack/client and emu/sha256. Servers are played by the test: every reply
 * is built here byte by byte at the RFCs' offsets (not by the code under
 * test), hostile ones included, and sent from a second iface over an
 * instant test-only link. Time is virtual and advanced by the test. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "emu/sha256.h"
#include "stack/client.h"
#include "stack/dhcp.h"
#include "stack/dns.h"
#include "stack/httpc.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "stack/tcp.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define GUEST_IP        IP4(10, 0, 2, 15)
#define HOST_IP         IP4(10, 0, 2, 2)
#define SEC             1000000000ull

/* ---- an instant link: frames queue, pump() delivers them ----------------------------- */

#define MAXF 256
typedef struct end {
  emu_port port;
  size_t head, n;
  size_t len[MAXF];
  uint8_t data[MAXF][NET_IFACE_FRAME_MAX];
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
  net_udp_sock server; /* the test's server socket on the host */
  uint64_t now;
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
}

static void teardown(void) {
  net_iface_close(&fx->guest);
  net_iface_close(&fx->host);
  free(fx);
}

/* Delivers every queued frame, both ways, until none is left. */
static void pump(void) {
  for (;;) {
    end *from = fx->g.head < fx->g.n ? &fx->g : fx->h.head < fx->h.n ? &fx->h : NULL;
    if (!from) return;
    end *to = from == &fx->g ? &fx->h : &fx->g;
    size_t i = from->head++;
    emu_port_deliver(&to->port, from->data[i], from->len[i], fx->now);
  }
}

/* The UDP payload of guest frame i (IPv4 without options), its length in *n. */
static const uint8_t *guest_udp_payload(size_t i, size_t *n, uint32_t *src, uint32_t *dst) {
  const uint8_t *ip = fx->g.data[i] + NET_ETH_HEADER_LEN;
  ck_assert_uint_eq(net_eth_ethertype(fx->g.data[i]), NET_ETHERTYPE_IPV4);
  ck_assert_uint_eq(net_ipv4_protocol(ip), NET_IP_PROTO_UDP);
  if (src) *src = net_ipv4_src(ip);
  if (dst) *dst = net_ipv4_dst(ip);
  const uint8_t *udp = net_ipv4_payload(ip);
  *n = net_udp_length(udp) - NET_UDP_HEADER_LEN;
  return net_udp_payload(udp);
}

/* ---- SHA-256 (FIPS 180-2 appendix B vectors) ----------------------------------------- */

static void sha_hex(const void *d, size_t n, char out[EMU_SHA256_HEX_LEN]) {
  emu_sha256 c;
  uint8_t dg[EMU_SHA256_LEN];
  emu_sha256_init(&c);
  for (size_t i = 0; i < n; i++) emu_sha256_update(&c, (const uint8_t *)d + i, 1);
  emu_sha256_final(&c, dg);
  emu_sha256_hex(dg, out);
}

START_TEST(test_sha256_matches_the_fips_vectors_fed_byte_by_byte) {
  char h[EMU_SHA256_HEX_LEN];
  sha_hex("abc", 3, h);
  ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha_hex(two, strlen(two), h);
  ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sha_hex("", 0, h);
  ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* ---- DHCP: replies built here at RFC 2131's offsets ------------------------------------- */

/* A BOOTREPLY for xid and chaddr with the given options (code, len, value
 * triples already laid out), END appended. Returns its length. */
static size_t dhcp_reply(uint8_t *buf, uint32_t xid, const uint8_t *mac, uint32_t yiaddr,
                         const uint8_t *opts, size_t optlen) {
  memset(buf, 0, 576);
  buf[0] = 2; /* op BOOTREPLY */
  buf[1] = 1; /* htype Ethernet */
  buf[2] = 6; /* hlen */
  net_put_be32(buf + 4, xid);
  net_put_be32(buf + 16, yiaddr);
  memcpy(buf + 28, mac, 6);
  net_put_be32(buf + 236, 0x63825363u);
  memcpy(buf + 240, opts, optlen);
  buf[240 + optlen] = 255;
  return 241 + optlen;
}

/* slirp's options: type, server 10.0.2.2, lease 86400, mask /24, router
 * 10.0.2.2, DNS 10.0.2.3. */
static size_t dhcp_slirp_opts(uint8_t *o, uint8_t type) {
  const uint8_t v[] = {53,  1,   type, 54, 4, 10, 0,  2, 2, 51, 4, 0, 1,  0x51, 0x80, 1, 4,
                       255, 255, 255,  0,  3, 4,  10, 0, 2, 2,  6, 4, 10, 0,    2,    3};
  memcpy(o, v, sizeof v);
  return sizeof v;
}

START_TEST(test_dhcp_parse_reads_slirp_options_and_refuses_every_malformed_reply) {
  static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
  uint8_t m[600], o[64];
  size_t n = dhcp_reply(m, 77, mac, GUEST_IP, o, dhcp_slirp_opts(o, NET_DHCP_OFFER));
  net_dhcp_msg d;
  const char *why;
  ck_assert_int_eq(net_dhcp_parse(m, n, &d, &why), 0);
  ck_assert_uint_eq(d.type, NET_DHCP_OFFER);
  ck_assert_uint_eq(d.xid, 77);
  ck_assert_uint_eq(d.yiaddr, GUEST_IP);
  ck_assert_uint_eq(d.server_id, HOST_IP);
  ck_assert_uint_eq(d.lease_s, 86400);
  ck_assert_uint_eq(d.subnet_mask, 0xffffff00u);
  ck_assert_uint_eq(d.router, HOST_IP);
  ck_assert_uint_eq(d.dns, IP4(10, 0, 2, 3));
  /* each damage gets EMU_EFORMAT and a reason, never a crash */
  ck_assert_int_eq(net_dhcp_parse(m, 239, &d, &why), EMU_EFORMAT);
  ck_assert_ptr_nonnull(why);
  uint8_t bad[600];
  struct {
    size_t at;
    uint8_t v;
  } damage[] = {{0, 1}, {1, 6}, {2, 16}, {236, 0}};
  for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
    memcpy(bad, m, n);
    bad[damage[i].at] = damage[i].v;
    why = NULL;
    ck_assert_int_eq(net_dhcp_parse(bad, n, &d, &why), EMU_EFORMAT);
    ck_assert_ptr_nonnull(why);
  }
  static const uint8_t past_end[] = {53, 1, 2, 54, 200, 1, 2};
  static const uint8_t type_len[] = {53, 2, 2, 2};
  static const uint8_t router_len[] = {53, 1, 2, 3, 3, 10, 0, 2};
  static const uint8_t no_type[] = {1, 4, 255, 255, 255, 0};
  const uint8_t *cases[] = {past_end, type_len, router_len, no_type};
  size_t lens[] = {sizeof past_end, sizeof type_len, sizeof router_len, sizeof no_type};
  for (size_t i = 0; i < 4; i++) {
    size_t k = dhcp_reply(bad, 77, mac, GUEST_IP, cases[i], lens[i]);
    if (i == 0) k = 240 + lens[i]; /* no END either: the length runs out */
    ck_assert_msg(net_dhcp_parse(bad, k, &d, &why) == EMU_EFORMAT, "case %zu accepted", i);
    ck_assert_ptr_nonnull(why);
  }
  /* no END at all */
  n = dhcp_reply(bad, 77, mac, GUEST_IP, o, dhcp_slirp_opts(o, NET_DHCP_OFFER));
  ck_assert_int_eq(net_dhcp_parse(bad, n - 1, &d, &why), EMU_EFORMAT);
}
END_TEST

/* The server side: bound to 67 on the host iface, broadcasting replies. */
static void dhcp_server_send(const uint8_t *msg, size_t len) {
  ck_assert_int_eq(net_udp_sendto(&fx->server, NET_IPV4_BROADCAST, 68, msg, len, fx->now), 0);
  pump();
}

/* The xid and message type of the client's latest message. */
static uint32_t dhcp_last_sent(uint8_t *type) {
  size_t n;
  uint32_t src, dst;
  const uint8_t *p = guest_udp_payload(fx->g.n - 1, &n, &src, &dst);
  ck_assert_uint_eq(src, 0);
  ck_assert_uint_eq(dst, NET_IPV4_BROADCAST);
  ck_assert_uint_ge(n, 244);
  ck_assert_uint_eq(p[0], 1);
  ck_assert_uint_eq(net_get_be32(p + 236), 0x63825363u);
  ck_assert_mem_eq(p + 28, fx->guest.cfg.mac, 6);
  ck_assert_uint_eq(p[240], 53);
  *type = p[242];
  return net_get_be32(p + 4);
}

START_TEST(test_dhcp_binds_through_offer_and_ack_ignoring_a_wrong_xid) {
  net_dhcp d;
  ck_assert_int_eq(net_udp_bind(&fx->host, &fx->server, 67), 0);
  ck_assert_int_eq(net_dhcp_start(&d, &fx->guest, 5, fx->now), 0);
  ck_assert_uint_eq(fx->guest.cfg.ip, 0);
  uint8_t type;
  uint32_t xid = dhcp_last_sent(&type);
  ck_assert_uint_eq(type, NET_DHCP_DISCOVER);
  ck_assert(net_mac_is_broadcast(net_eth_dst(fx->g.data[fx->g.n - 1])));
  pump();
  uint8_t m[600], o[64];
  size_t n =
      dhcp_reply(m, xid + 1, fx->guest.cfg.mac, GUEST_IP, o, dhcp_slirp_opts(o, NET_DHCP_OFFER));
  dhcp_server_send(m, n);
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_SELECTING);
  ck_assert_uint_eq(net_dhcp_stats_get(&d)->ignored, 1);
  n = dhcp_reply(m, xid, fx->guest.cfg.mac, GUEST_IP, o, dhcp_slirp_opts(o, NET_DHCP_OFFER));
  dhcp_server_send(m, n);
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_REQUESTING);
  ck_assert_uint_eq(dhcp_last_sent(&type), xid);
  ck_assert_uint_eq(type, NET_DHCP_REQUEST);
  n = dhcp_reply(m, xid, fx->guest.cfg.mac, GUEST_IP, o, dhcp_slirp_opts(o, NET_DHCP_ACK));
  dhcp_server_send(m, n);
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_BOUND);
  const net_dhcp_lease *l = net_dhcp_get_lease(&d);
  ck_assert_uint_eq(l->ip, GUEST_IP);
  ck_assert_uint_eq(l->gateway, HOST_IP);
  ck_assert_uint_eq(l->dns, IP4(10, 0, 2, 3));
  ck_assert_uint_eq(l->lease_s, 86400);
  ck_assert_uint_eq(fx->guest.cfg.ip, GUEST_IP);
  ck_assert_uint_eq(fx->guest.cfg.netmask, 0xffffff00u);
  ck_assert_uint_eq(net_dhcp_poll_at(&d), EMU_TIME_NEVER);
  net_dhcp_close(&d);
}
END_TEST

/* A frame from the host to dst (host order) carrying an IPv4 packet of
 * protocol proto whose payload is l4 (built with the wire.h emitters). */
static size_t host_frame(uint8_t *f, uint32_t dst, uint8_t proto, const uint8_t *l4, size_t n) {
  net_eth_repr e = {.ethertype = NET_ETHERTYPE_IPV4};
  memcpy(e.dst, fx->guest.cfg.mac, 6);
  memcpy(e.src, fx->host.cfg.mac, 6);
  ck_assert_int_eq(net_eth_emit(&e, f, 64), NET_ETH_HEADER_LEN);
  net_ipv4_repr ip = {.src = HOST_IP, .dst = dst, .protocol = proto, .ttl = 64, .payload_len = n};
  ck_assert_int_eq(net_ipv4_emit(&ip, f + NET_ETH_HEADER_LEN, 1500), NET_IPV4_HEADER_LEN);
  memcpy(f + NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN, l4, n);
  return NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN + n;
}

/* RFC 2131 §4.1: a server may unicast its OFFER to the address it offers;
 * the iface without an address takes that UDP, and nothing else. */
START_TEST(test_unconfigured_iface_takes_a_unicast_offer_but_no_tcp) {
  net_dhcp d;
  ck_assert_int_eq(net_dhcp_start(&d, &fx->guest, 5, 0), 0);
  uint8_t type;
  uint32_t xid = dhcp_last_sent(&type);
  uint8_t m[600], o[64], dg[700], f[800];
  size_t n = dhcp_reply(m, xid, fx->guest.cfg.mac, GUEST_IP, o, dhcp_slirp_opts(o, 2));
  net_udp_repr u = {.src_port = 67, .dst_port = 68, .payload = m, .payload_len = n};
  int ul = net_udp_emit(&u, HOST_IP, GUEST_IP, dg, sizeof dg);
  ck_assert_int_gt(ul, 0);
  size_t fl = host_frame(f, GUEST_IP, NET_IP_PROTO_UDP, dg, (size_t)ul);
  ck_assert_int_eq(emu_port_deliver(&fx->g.port, f, fl, 0), EMU_FATE_DELIVERED);
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_REQUESTING);
  net_tcp_repr t = {
      .src_port = 4000, .dst_port = 8023, .seq = 1, .flags = NET_TCP_SYN, .window = 1000};
  ul = net_tcp_emit(&t, HOST_IP, GUEST_IP, dg, sizeof dg);
  ck_assert_int_gt(ul, 0);
  fl = host_frame(f, GUEST_IP, NET_IP_PROTO_TCP, dg, (size_t)ul);
  ck_assert_int_eq(emu_port_deliver(&fx->g.port, f, fl, 0), EMU_FATE_NOT_FOR_GUEST);
  net_dhcp_close(&d);
}
END_TEST

START_TEST(test_dhcp_without_a_server_backs_off_4_8_16_32_s_then_fails) {
  net_dhcp d;
  ck_assert_int_eq(net_dhcp_start(&d, &fx->guest, 9, 0), 0);
  uint64_t last = 0, expect = 4 * SEC;
  size_t sends = 1;
  while (net_dhcp_get_state(&d) == NET_DHCP_SELECTING) {
    uint64_t at = net_dhcp_poll_at(&d);
    ck_assert_uint_ge(at - last, expect - SEC);
    ck_assert_uint_le(at - last, expect + SEC);
    fx->now = last = at;
    size_t before = fx->g.n;
    net_dhcp_poll(&d, at);
    sends += fx->g.n - before;
    expect *= 2;
  }
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_FAILED);
  ck_assert_uint_eq(sends, NET_DHCP_TRIES);
  ck_assert_ptr_nonnull(strstr(net_dhcp_error(&d), "no DHCPOFFER"));
  ck_assert_uint_ge(last, 56 * SEC);
  ck_assert_uint_le(last, 64 * SEC);
  net_dhcp_close(&d);
}
END_TEST

START_TEST(test_dhcp_nak_starts_over_and_too_many_fail) {
  net_dhcp d;
  ck_assert_int_eq(net_udp_bind(&fx->host, &fx->server, 67), 0);
  ck_assert_int_eq(net_dhcp_start(&d, &fx->guest, 3, 0), 0);
  uint8_t m[600], o[64], type;
  for (int round = 0; round <= NET_DHCP_MAX_NAKS; round++) {
    uint32_t xid = dhcp_last_sent(&type);
    ck_assert_uint_eq(type, NET_DHCP_DISCOVER);
    size_t n = dhcp_reply(m, xid, fx->guest.cfg.mac, GUEST_IP, o, dhcp_slirp_opts(o, 2));
    dhcp_server_send(m, n);
    ck_assert_uint_eq(dhcp_last_sent(&type), xid);
    n = dhcp_reply(m, xid, fx->guest.cfg.mac, 0, o, dhcp_slirp_opts(o, NET_DHCP_NAK));
    dhcp_server_send(m, n);
  }
  ck_assert_int_eq(net_dhcp_get_state(&d), NET_DHCP_FAILED);
  ck_assert_ptr_nonnull(strstr(net_dhcp_error(&d), "DHCPNAK"));
  ck_assert_uint_eq(fx->guest.cfg.ip, 0);
  net_dhcp_close(&d);
}
END_TEST

/* ---- DNS: answers built here at RFC 1035's offsets ------------------------------------- */

static size_t dns_query(uint8_t *q, const char *name, uint16_t id) {
  const char *why;
  int n = net_dns_build_query(name, id, q, NET_DNS_UDP_MAX, &why);
  ck_assert_msg(n > 0, "query for %s: %s", name, why);
  return (size_t)n;
}

/* The response to query q: header with flags and ancount, the question
 * copied, then `answers` as given. */
static size_t dns_answer(uint8_t *m, const uint8_t *q, size_t qlen, uint16_t flags, uint16_t an,
                         const uint8_t *answers, size_t alen) {
  memcpy(m, q, qlen);
  net_put_be16(m + 2, flags);
  net_put_be16(m + 6, an);
  if (alen) memcpy(m + qlen, answers, alen);
  return qlen + alen;
}

/* An A record for the question's name (pointer to offset 12). */
static const uint8_t a_rec[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};

START_TEST(test_dns_answer_with_compression_and_a_cname_is_read) {
  uint8_t q[512], m[512];
  size_t ql = dns_query(q, "www.Example.test.", 0x1234);
  ck_assert_uint_eq(ql, 12 + 18 + 4);
  /* www.example.test CNAME srv.<example.test by pointer>; srv... A 127.0.0.2 */
  uint8_t ans[64];
  size_t at = 0;
  const uint8_t cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 6, 3, 's', 'r', 'v', 0xc0, 16};
  memcpy(ans, cname, sizeof cname);
  at += sizeof cname;
  size_t target = ql + 12; /* where "srv" starts in the message */
  const uint8_t arec[] = {0xc0, (uint8_t)target, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 127, 0, 0, 2};
  memcpy(ans + at, arec, sizeof arec);
  at += sizeof arec;
  size_t n = dns_answer(m, q, ql, 0x8180, 2, ans, at);
  /* the server echoes the name in another case: still our question */
  m[12 + 5] = 'E';
  net_dns_answer a;
  const char *why;
  ck_assert_msg(net_dns_parse_answer(q, ql, m, n, &a, &why) == 0, "%s", why);
  ck_assert_uint_eq(a.ip, IP4(127, 0, 0, 2));
  ck_assert_uint_eq(a.ttl, 256);
  ck_assert_uint_eq(a.cnames, 1);
}
END_TEST

START_TEST(test_dns_hostile_answers_each_get_their_error) {
  uint8_t q[512], m[512], bad[512];
  size_t ql = dns_query(q, "example.test", 0x4242);
  size_t n = dns_answer(m, q, ql, 0x8180, 1, a_rec, sizeof a_rec);
  net_dns_answer a;
  const char *why;
  ck_assert_int_eq(net_dns_parse_answer(q, ql, m, n, &a, &why), 0);
  ck_assert_uint_eq(a.ip, IP4(127, 0, 0, 1));
  ck_assert_int_eq(net_dns_parse_answer(q, ql, m, 11, &a, &why), EMU_EFORMAT);
  memcpy(bad, m, n);
  bad[1] ^= 1; /* another id: not ours, ignored */
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EAGAIN);
  memcpy(bad, m, n);
  bad[2] = 0x83; /* QR, TC, RD */
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_ENOTSUP);
  memcpy(bad, m, n);
  bad[3] = 0x83; /* NXDOMAIN */
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_ESTATE);
  ck_assert_ptr_nonnull(strstr(why, "NXDOMAIN"));
  memcpy(bad, m, n);
  bad[13] = 'x'; /* another question */
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EFORMAT);
  /* the answer's name points at itself: a compression loop */
  memcpy(bad, m, n);
  bad[ql + 1] = (uint8_t)ql;
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EFORMAT);
  ck_assert_ptr_nonnull(strstr(why, "loop"));
  /* a pointer forward, past the end, and a truncated pointer */
  bad[ql + 1] = 200;
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EFORMAT);
  ck_assert_int_eq(net_dns_parse_answer(q, ql, m, ql + 1, &a, &why), EMU_EFORMAT);
  /* RDLENGTH past the end; an A record of 5 bytes */
  ck_assert_int_eq(net_dns_parse_answer(q, ql, m, n - 1, &a, &why), EMU_EFORMAT);
  memcpy(bad, m, n);
  bad[n - 5] = 5;
  bad[n] = 0;
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n + 1, &a, &why), EMU_EFORMAT);
  /* no answer at all; a label type 01 */
  n = dns_answer(bad, q, ql, 0x8180, 0, NULL, 0);
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_ESTATE);
  n = dns_answer(bad, q, ql, 0x8180, 1, a_rec, sizeof a_rec);
  bad[ql] = 0x40;
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EFORMAT);
  /* a CNAME to itself, answered again and again: a CNAME loop */
  const uint8_t self[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 12};
  n = dns_answer(bad, q, ql, 0x8180, 1, self, sizeof self);
  ck_assert_int_eq(net_dns_parse_answer(q, ql, bad, n, &a, &why), EMU_EFORMAT);
}
END_TEST

START_TEST(test_dns_query_refuses_bad_names) {
  uint8_t q[512];
  const char *why;
  char big[300];
  memset(big, 'a', sizeof big);
  big[299] = '\0';
  const char *bad[] = {"", "a..b", "bad name", big, "x.-.\x01"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    ck_assert_int_eq(net_dns_build_query(bad[i], 1, q, sizeof q, &why), EMU_EINVAL);
    ck_assert_ptr_nonnull(why);
  }
  memset(big, 'a', 64);
  big[64] = '\0';
  ck_assert_int_eq(net_dns_build_query(big, 1, q, sizeof q, &why), EMU_EINVAL);
}
END_TEST

/* The resolver against a server that never answers, then one whose answer
 * comes from the wrong port first. */
START_TEST(test_dns_resolver_retries_then_fails_and_ignores_strangers) {
  emu_rng rng;
  emu_rng_init(&rng, 1);
  net_dns d;
  const char *why;
  ck_assert_int_eq(net_dns_start(&d, &fx->guest, HOST_IP, "example.test", &rng, 0, &why), 0);
  pump(); /* ARP, the query, and the host's port unreachable, which changes nothing */
  size_t sends = 1;
  while (net_dns_get_state(&d) == NET_DNS_WAITING) {
    fx->now = net_dns_poll_at(&d);
    size_t before = fx->g.n;
    net_dns_poll(&d, fx->now);
    sends += fx->g.n - before;
    pump();
  }
  ck_assert_int_eq(net_dns_get_state(&d), NET_DNS_FAILED);
  ck_assert_uint_eq(sends, NET_DNS_TRIES);
  ck_assert_uint_eq(fx->now, 14 * SEC); /* 2 + 4 + 8 */
  net_dns_close(&d, fx->now);

  ck_assert_int_eq(net_dns_start(&d, &fx->guest, HOST_IP, "example.test", &rng, fx->now, &why), 0);
  pump();
  size_t n;
  const uint8_t *q = guest_udp_payload(fx->g.n - 1, &n, NULL, NULL);
  uint8_t qq[512], m[512];
  memcpy(qq, q, n);
  uint16_t port = net_udp_src_port(net_ipv4_payload(fx->g.data[fx->g.n - 1] + 14));
  size_t mlen = dns_answer(m, qq, n, 0x8180, 1, a_rec, sizeof a_rec);
  net_udp_sock stranger;
  memset(&stranger, 0, sizeof stranger);
  ck_assert_int_eq(net_udp_bind(&fx->host, &stranger, 5353), 0);
  ck_assert_int_eq(net_udp_sendto(&stranger, GUEST_IP, port, m, mlen, fx->now), 0);
  pump();
  ck_assert_int_eq(net_dns_get_state(&d), NET_DNS_WAITING);
  ck_assert_uint_eq(d.ignored, 1);
  ck_assert_int_eq(net_udp_bind(&fx->host, &fx->server, 53), 0);
  ck_assert_int_eq(net_udp_sendto(&fx->server, GUEST_IP, port, m, mlen, fx->now), 0);
  pump();
  ck_assert_int_eq(net_dns_get_state(&d), NET_DNS_DONE);
  ck_assert_uint_eq(net_dns_get_answer(&d)->ip, IP4(127, 0, 0, 1));
  ck_assert_int_eq(net_dns_get_answer(&d)->over_tcp, 0);
  net_dns_close(&d, fx->now);
}
END_TEST

/* The host's DNS server over TCP (RFC 1035 §4.2.2): each query behind its
 * two-byte length, answered the same way with an A record for 10.9.8.7. */
typedef struct tcp_dns_server {
  uint8_t in[NET_DNS_TCP_LEN_PREFIX + NET_DNS_UDP_MAX];
  size_t got;
  unsigned queries;
} tcp_dns_server;

static const uint8_t a_rec_tcp[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 8, 7};

static void tcp_dns_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  tcp_dns_server *s = ctx;
  if (ev & NET_TCP_EV_READABLE) {
    int n = net_tcp_recv(c, s->in + s->got, sizeof s->in - s->got, now_ns);
    if (n > 0) s->got += (size_t)n;
    size_t qlen = s->got >= 2 ? net_get_be16(s->in) : SIZE_MAX;
    if (qlen != SIZE_MAX && s->got >= 2 + qlen) {
      uint8_t m[NET_DNS_TCP_LEN_PREFIX + NET_DNS_UDP_MAX];
      size_t len = dns_answer(m + 2, s->in + 2, qlen, 0x8180, 1, a_rec_tcp, sizeof a_rec_tcp);
      net_put_be16(m, (uint16_t)len);
      ck_assert_int_eq(net_tcp_send(c, m, 2 + len, now_ns), (int)(2 + len));
      s->queries++;
      s->got = 0;
    }
  }
  if (ev & (NET_TCP_EV_PEER_CLOSED | NET_TCP_EV_CLOSED)) net_tcp_release(c, now_ns);
}

/* The UDP server answers with TC set and no records: the resolver asks
 * again over TCP and believes that answer; with nobody listening on TCP
 * port 53, it fails saying so. */
START_TEST(test_dns_truncated_answer_asked_again_over_tcp) {
  emu_rng rng;
  emu_rng_init(&rng, 1);
  static tcp_dns_server srv;
  memset(&srv, 0, sizeof srv);
  int with_tcp = _i == 0;
  if (with_tcp) ck_assert_int_eq(net_tcp_listen(&fx->host, NET_DNS_PORT, tcp_dns_ev, &srv), 0);
  ck_assert_int_eq(net_udp_bind(&fx->host, &fx->server, NET_DNS_PORT), 0);
  net_dns d;
  const char *why;
  ck_assert_int_eq(net_dns_start(&d, &fx->guest, HOST_IP, "big.test", &rng, 0, &why), 0);
  pump();
  uint8_t q[NET_DNS_UDP_MAX], m[NET_DNS_UDP_MAX];
  uint32_t from;
  uint16_t port;
  int qlen = net_udp_recvfrom(&fx->server, q, sizeof q, &from, &port);
  ck_assert_int_gt(qlen, 0);
  size_t mlen = dns_answer(m, q, (size_t)qlen, 0x8380, 0, NULL, 0); /* QR RD RA TC */
  ck_assert_int_eq(net_udp_sendto(&fx->server, GUEST_IP, port, m, mlen, 0), 0);
  pump();
  if (with_tcp) {
    ck_assert_int_eq(net_dns_get_state(&d), NET_DNS_DONE);
    ck_assert_uint_eq(srv.queries, 1);
    ck_assert_uint_eq(net_dns_get_answer(&d)->ip, IP4(10, 9, 8, 7));
    ck_assert_int_eq(net_dns_get_answer(&d)->over_tcp, 1);
  } else {
    ck_assert_int_eq(net_dns_get_state(&d), NET_DNS_FAILED);
    ck_assert_str_eq(net_dns_error(&d),
                     "the answer was truncated (TC) and the server refused DNS over TCP");
  }
  ck_assert_uint_eq(net_dns_poll_at(&d), EMU_TIME_NEVER);
  net_dns_close(&d, 0);
}
END_TEST

/* ---- HTTP ------------------------------------------------------------------------------ */

START_TEST(test_url_parse_good_and_bad) {
  net_httpc_url u;
  const char *why;
  ck_assert_int_eq(net_httpc_parse_url("http://10.0.2.2:8000/f?x=1#frag", &u, &why), 0);
  ck_assert_uint_eq(u.ip, HOST_IP);
  ck_assert_uint_eq(u.port, 8000);
  ck_assert_str_eq(u.path, "/f?x=1");
  ck_assert_int_eq(net_httpc_parse_url("HTTP://example.test", &u, &why), 0);
  ck_assert_str_eq(u.host, "example.test");
  ck_assert_uint_eq(u.ip, 0);
  ck_assert_uint_eq(u.port, 80);
  ck_assert_str_eq(u.path, "/");
  const char *bad[] = {"https://x/",     "ftp://x/",      "http:///p",   "http://x:0/",
                       "http://x:65536", "http://u@x/",   "http://x y/", "http://[::1]/",
                       "http://x:8a/",   "http://a_b.c/", "http://x:/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    ck_assert_msg(net_httpc_parse_url(bad[i], &u, &why) == EMU_EINVAL && why, "%s", bad[i]);
  }
}
END_TEST

typedef struct sink {
  uint8_t data[4096];
  size_t n;
} sink;

static void sink_body(void *ctx, const uint8_t *d, size_t n) {
  sink *s = ctx;
  ck_assert_uint_le(s->n + n, sizeof s->data);
  memcpy(s->data + s->n, d, n);
  s->n += n;
}

/* Feeds text one byte at a time (every split a segment could make), then
 * the end of the connection when eof. Returns the first error. */
static int feed_bytes(net_httpc_resp *r, sink *s, const char *text, int eof) {
  memset(s, 0, sizeof *s);
  net_httpc_resp_init(r, sink_body, s);
  int rc = 0;
  for (size_t i = 0; text[i] && !rc; i++) rc = net_httpc_resp_feed(r, (const uint8_t *)text + i, 1);
  if (!rc && eof) rc = net_httpc_resp_eof(r);
  return rc;
}

START_TEST(test_response_bodies_by_length_chunks_and_close) {
  net_httpc_resp r;
  sink s;
  ck_assert_int_eq(
      feed_bytes(&r, &s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", 0), 0);
  ck_assert_int_eq(r.phase, NET_HTTPC_COMPLETE);
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(s.n, 5);
  ck_assert_mem_eq(s.data, "hello", 5);
  ck_assert_int_eq(
      feed_bytes(&r, &s,
                 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: "
                 "chunked\r\nContent-Length: 99\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n"
                 "0\r\nTrailer: x\r\n\r\n",
                 0),
      0);
  ck_assert_int_eq(r.phase, NET_HTTPC_COMPLETE);
  ck_assert_uint_eq(s.n, 9);
  ck_assert_mem_eq(s.data, "wikipedia", 9);
  ck_assert_int_eq(feed_bytes(&r, &s, "HTTP/1.0 404 Not Found\r\n\r\nnope", 1), 0);
  ck_assert_int_eq(r.status, 404);
  ck_assert_uint_eq(s.n, 4);
  ck_assert_int_eq(feed_bytes(&r, &s, "HTTP/1.1 204 No Content\r\n\r\n", 0), 0);
  ck_assert_int_eq(r.phase, NET_HTTPC_COMPLETE);
}
END_TEST

START_TEST(test_hostile_responses_each_get_an_error) {
  static const char *bad[] = {
      "HTTX/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 999 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
      "HTTP/1.1 200 OK\r\nContent-",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    net_httpc_resp r;
    sink s;
    ck_assert_msg(feed_bytes(&r, &s, bad[i], 1) == EMU_EFORMAT, "accepted: %s", bad[i]);
    ck_assert_msg(r.error[0], "no reason for: %s", bad[i]);
  }
  /* a head past the limit */
  static char big[NET_HTTPC_HEAD_MAX + 64];
  strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
  memset(big + strlen(big), 'a', NET_HTTPC_HEAD_MAX);
  net_httpc_resp r;
  sink s;
  ck_assert_int_eq(feed_bytes(&r, &s, big, 0), EMU_EFORMAT);
  ck_assert_ptr_nonnull(strstr(r.error, "longer"));
}
END_TEST

/* ---- the client's actions against the guest's own services --------------------------------
 * Here the host runs the client and the guest's services answer: the
 * machinery end to end, in virtual time. (check_live runs it against
 * slirp and a real HTTP server.) */

static void run_client(net_client *c) {
  for (int i = 0; i < 100000 && !net_client_done(c); i++) {
    net_client_poll(c, fx->now);
    net_iface_poll(&fx->host, fx->now);
    net_iface_poll(&fx->guest, fx->now);
    pump();
    fx->now += 1000000; /* 1 ms */
  }
}

START_TEST(test_client_actions_against_the_guest_services) {
  ck_assert_int_eq(net_services_start(&fx->svc, &fx->guest, NET_SVC_ALL), 0);
  net_client c;
  net_client_init(&c, &fx->host, 1, 0);
  char why[256];
  ck_assert_int_eq(net_client_add(&c, "get http://10.0.2.15/", 1, why, sizeof why), 0);
  ck_assert_int_eq(net_client_add(&c, "tcp 10.0.2.15:8023 hello\\x00\\n", 0, why, sizeof why), 1);
  ck_assert_int_eq(net_client_add(&c, "udp 10.0.2.15:7 ping", 0, why, sizeof why), 2);
  ck_assert_int_eq(net_client_add(&c, "tcp 10.0.2.15:4444 x", 0, why, sizeof why), 3);
  ck_assert_int_eq(net_client_add(&c, "resolve example.test", 0, why, sizeof why), 4);
  run_client(&c);
  ck_assert(net_client_done(&c));
  const net_client_action *a = net_client_get(&c, 0);
  ck_assert_msg(a->result.status == NET_CLIENT_OK, "get: %s", a->result.error);
  ck_assert_int_eq(a->result.http_status, 200);
  ck_assert_uint_eq(a->result.length, a->body_len);
  char h[EMU_SHA256_HEX_LEN];
  sha_hex(a->body, a->body_len, h);
  ck_assert_str_eq(h, a->result.sha256);
  a = net_client_get(&c, 1);
  ck_assert_msg(a->result.status == NET_CLIENT_OK, "tcp: %s", a->result.error);
  ck_assert_uint_eq(a->result.received, 7);
  ck_assert_mem_eq(a->result.data, "hello\0\n", 7);
  a = net_client_get(&c, 2);
  ck_assert_msg(a->result.status == NET_CLIENT_OK, "udp: %s", a->result.error);
  ck_assert_mem_eq(a->result.data, "ping", 4);
  a = net_client_get(&c, 3);
  ck_assert_int_eq(a->result.status, NET_CLIENT_FAILED);
  ck_assert_ptr_nonnull(strstr(a->result.error, "refused"));
  a = net_client_get(&c, 4);
  ck_assert_int_eq(a->result.status, NET_CLIENT_FAILED);
  ck_assert_ptr_nonnull(strstr(a->result.error, "no DNS server"));
  net_client_close(&c);
}
END_TEST

START_TEST(test_client_refuses_bad_actions_with_a_reason) {
  net_client c;
  net_client_init(&c, &fx->host, 1, 0);
  static const char *bad[] = {"fetch http://x/", "get https://x/",      "tcp 1.2.3:80 x",
                              "tcp 1.2.3.4:0 x", "udp 1.2.3.4:53",      "tcp 1.2.3.4:5 \\q",
                              "resolve a..b",    "get http://x:99999/", "tcp 256.1.1.1:5 x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[256] = "";
    ck_assert_msg(net_client_add(&c, bad[i], 0, why, sizeof why) == EMU_EINVAL && why[0],
                  "accepted: %s", bad[i]);
  }
  ck_assert_uint_eq(net_client_count(&c), 0);
  net_client_close(&c);
}
END_TEST

static Suite *client_suite(void) {
  Suite *s = suite_create("client");
  TCase *tc = tcase_create("client");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_sha256_matches_the_fips_vectors_fed_byte_by_byte);
  tcase_add_test(tc, test_dhcp_parse_reads_slirp_options_and_refuses_every_malformed_reply);
  tcase_add_test(tc, test_dhcp_binds_through_offer_and_ack_ignoring_a_wrong_xid);
  tcase_add_test(tc, test_unconfigured_iface_takes_a_unicast_offer_but_no_tcp);
  tcase_add_test(tc, test_dhcp_without_a_server_backs_off_4_8_16_32_s_then_fails);
  tcase_add_test(tc, test_dhcp_nak_starts_over_and_too_many_fail);
  tcase_add_test(tc, test_dns_answer_with_compression_and_a_cname_is_read);
  tcase_add_test(tc, test_dns_hostile_answers_each_get_their_error);
  tcase_add_test(tc, test_dns_query_refuses_bad_names);
  tcase_add_test(tc, test_dns_resolver_retries_then_fails_and_ignores_strangers);
  tcase_add_loop_test(tc, test_dns_truncated_answer_asked_again_over_tcp, 0, 2);
  tcase_add_test(tc, test_url_parse_good_and_bad);
  tcase_add_test(tc, test_response_bodies_by_length_chunks_and_close);
  tcase_add_test(tc, test_hostile_responses_each_get_an_error);
  tcase_add_test(tc, test_client_actions_against_the_guest_services);
  tcase_add_test(tc, test_client_refuses_bad_actions_with_a_reason);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(client_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
