/* The guest in a real host's place (replay --as): which endpoint of a
 * capture the scan picks (sim/endpoints.c) from crafted frames, and the
 * command on the public captures, where it makes the guest answer what the
 * capture's own host answered. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"
#include "tests/cli_run.h"

#define IP4(a, b, c, d)  ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define GUEST_IP         IP4(10, 0, 2, 15)
#define FRAME_LEN        (NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN + NET_TCP_HEADER_LEN)
#define IPV4_PROTO_AT    9
#define IPV4_SRC_AT      12
#define IPV4_DST_AT      16
#define TCP_FLAGS_AT     13
#define IPV4_VERSION_IHL 0x45

/* A frame from src to dst (MACs made from the addresses, dst's a group one
 * when group): an IPv4 packet of protocol proto whose first transport byte
 * (ICMP type) or TCP flags are `what`. Only what the scan reads is set. */
static size_t frame(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint8_t what,
                    int group) {
  memset(f, 0, FRAME_LEN);
  f[0] = group ? 0x01 : 0x02;
  net_put_be32(f + 2, dst);
  f[6] = 0x02;
  net_put_be32(f + 8, src);
  net_put_be16(f + 12, NET_ETHERTYPE_IPV4);
  uint8_t *ip = f + NET_ETH_HEADER_LEN, *l4 = ip + NET_IPV4_HEADER_LEN;
  ip[0] = IPV4_VERSION_IHL;
  ip[IPV4_PROTO_AT] = proto;
  net_put_be32(ip + IPV4_SRC_AT, src);
  net_put_be32(ip + IPV4_DST_AT, dst);
  if (proto == NET_IP_PROTO_TCP)
    l4[TCP_FLAGS_AT] = what;
  else
    l4[0] = what;
  return FRAME_LEN;
}

static void add(scn_endpoints *e, uint32_t src, uint32_t dst, uint8_t proto, uint8_t what,
                int times) {
  uint8_t f[FRAME_LEN];
  for (int i = 0; i < times; i++) scn_endpoints_add(e, f, frame(f, src, dst, proto, what, 0));
}

START_TEST(test_the_server_of_a_tcp_conversation_wins) {
  scn_endpoints e;
  scn_endpoints_init(&e, GUEST_IP);
  uint32_t client = IP4(192, 168, 1, 9), server = IP4(93, 184, 216, 34);
  add(&e, client, server, NET_IP_PROTO_TCP, NET_TCP_SYN, 1);
  add(&e, server, client, NET_IP_PROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 1);
  /* the client receives far more, and is pinged: the server still wins */
  add(&e, server, client, NET_IP_PROTO_TCP, NET_TCP_ACK, 20);
  add(&e, IP4(192, 168, 1, 1), client, NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 3);
  scn_addr got;
  ck_assert_int_eq(scn_endpoints_pick(&e, &got), SCN_ENDPOINT_TCP_SERVER);
  ck_assert_uint_eq(got.ip, server);
  ck_assert_uint_eq(got.syn_acks, 1);
  /* its MAC as the frames it sent showed it */
  ck_assert(got.has_mac && got.mac_from_source && got.mac[0] == 0x02);
  ck_assert_uint_eq(net_get_be32(got.mac + 2), server);
  ck_assert_uint_eq(e.to_guest, 0);
  scn_endpoints_free(&e);
}
END_TEST

START_TEST(test_without_a_server_the_most_asked_then_the_busiest) {
  scn_endpoints e;
  scn_endpoints_init(&e, GUEST_IP);
  uint32_t asked = IP4(8, 8, 8, 8), busy = IP4(10, 1, 1, 1), from = IP4(10, 1, 1, 9);
  add(&e, from, busy, NET_IP_PROTO_UDP, 0, 9);
  add(&e, from, asked, NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 2);
  add(&e, asked, from, NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REPLY, 2);
  scn_addr got;
  ck_assert_int_eq(scn_endpoints_pick(&e, &got), SCN_ENDPOINT_DESTINATION);
  ck_assert_uint_eq(got.ip, asked);
  ck_assert_uint_eq(got.asks, 2);
  /* no requests at all: the busiest destination, then the lower address */
  scn_endpoints_free(&e);
  scn_endpoints_init(&e, GUEST_IP);
  add(&e, from, IP4(10, 1, 1, 7), NET_IP_PROTO_UDP, 0, 3);
  add(&e, from, IP4(10, 1, 1, 5), NET_IP_PROTO_UDP, 0, 3);
  add(&e, from, IP4(10, 1, 1, 6), NET_IP_PROTO_UDP, 0, 2);
  ck_assert_int_eq(scn_endpoints_pick(&e, &got), SCN_ENDPOINT_DESTINATION);
  ck_assert_uint_eq(got.ip, IP4(10, 1, 1, 5));
  scn_endpoints_free(&e);
}
END_TEST

START_TEST(test_no_address_a_guest_cannot_have) {
  scn_endpoints e;
  scn_endpoints_init(&e, GUEST_IP);
  uint32_t from = IP4(10, 1, 1, 9);
  uint8_t f[FRAME_LEN];
  /* to a group MAC, to the broadcast, network and loopback addresses, to multicast */
  scn_endpoints_add(&e, f, frame(f, from, IP4(10, 1, 1, 4), NET_IP_PROTO_ICMP, 8, 1));
  add(&e, from, NET_IPV4_BROADCAST, NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 1);
  add(&e, from, IP4(10, 1, 1, 255), NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 1);
  add(&e, from, IP4(10, 1, 1, 0), NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 1);
  add(&e, from, IP4(127, 0, 0, 1), NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 1);
  add(&e, from, IP4(224, 0, 0, 251), NET_IP_PROTO_UDP, 0, 1);
  scn_addr got = {0};
  ck_assert_int_eq(scn_endpoints_pick(&e, &got), SCN_ENDPOINT_NONE);
  ck_assert_uint_eq(got.ip, 0);
  /* a frame to the guest's own address is counted */
  add(&e, from, GUEST_IP, NET_IP_PROTO_ICMP, NET_ICMP_ECHO_REQUEST, 2);
  ck_assert_uint_eq(e.to_guest, 2);
  /* a truncated frame is not read past its end */
  scn_endpoints_add(&e, f, NET_ETH_HEADER_LEN + 4);
  scn_endpoints_free(&e);
}
END_TEST

/* The public captures each hold a conversation or an echo; replayed as
 * they are, the guest answers in the place of the host the scan chose. */
static const struct {
  const char *file, *why, *ip;
} answered_by_default[] = {
    {"libpcap_gateway_or_not.pcap", "busiest_destination", "10.20.30.40"},
    {"pcpp_ArpRequestPacket.pcap", "busiest_destination", "10.0.0.138"},
    {"pcpp_IcmpPackets.pcap", "busiest_destination", "8.8.8.8"},
    {"pcpp_VlanPackets.pcap", "busiest_destination", "10.118.10.2"},
    {"pcpp_one_http_stream_fin.pcap", "tcp_server", "77.67.44.206"},
    {"pcpp_one_tcp_stream.pcap", "tcp_server", "81.218.72.15"},
    {"pcpp_three_http_streams.pcap", "tcp_server", "98.138.19.88"},
    {"pcpp_unidirectional_tcp_stream_with_missing_packet.pcap", "busiest_destination",
     "81.218.72.15"},
    {"tcpdump_tcp-handshake-nano.pcap", "tcp_server", "137.116.81.94"},
    /* a host talking to itself: the guest keeps its address */
    {"tcpdump_print-flags.pcap", "tcp_server_loopback", "127.0.0.1"},
    {"tcpreplay_test.pcap", "tcp_server", "96.17.211.172"},
};

START_TEST(test_public_captures_answered_in_a_hosts_place) {
  const char *file = answered_by_default[_i].file;
  char args[512], want[256];
  snprintf(args, sizeof args, "replay --json %s", file);
  ck_assert_int_eq(run(args), 0);
  snprintf(want, sizeof want, "\"as\":{\"ip\":\"%s\",", answered_by_default[_i].ip);
  ck_assert_msg(strstr(out_buf, want), "%s: no %s in %.300s", file, want, out_buf);
  snprintf(want, sizeof want, "\"why\":\"%s\"", answered_by_default[_i].why);
  ck_assert_msg(strstr(out_buf, want), "%s: not chosen as %s", file, want);
  const char *answered = strstr(out_buf, "\"answered\":");
  ck_assert_ptr_nonnull(answered);
  ck_assert_msg(atoi(answered + strlen("\"answered\":")) >= 1, "%s: nothing answered", file);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"fates_accounted\":true"));
}
END_TEST

START_TEST(test_as_given_and_refused) {
  /* given: the capture's MAC for it */
  ck_assert_int_eq(run("replay --as 8.8.8.8 pcpp_IcmpPackets.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "as: the guest stands in for the capture's 8.8.8.8 at "
                               "02:1a:11:f0:c8:3b, as --as asked;"));
  ck_assert_ptr_nonnull(strstr(out_buf, "answered             1"));
  /* --guest-ip says who the guest is: no scan, no stand-in */
  ck_assert_int_eq(run("replay --guest-ip 10.9.9.9 pcpp_IcmpPackets.pcap"), 0);
  ck_assert_ptr_null(strstr(out_buf, "as:"));
  /* refused, each with one line and nothing run */
  static const struct {
    const char *args, *says;
  } refused[] = {
      {"replay --as auto - < pcpp_IcmpPackets.pcap", "not a regular file"},
      {"replay --as 10.1.1.255 pcpp_IcmpPackets.pcap", "network or broadcast"},
      {"replay --as nobody pcpp_IcmpPackets.pcap", "not an IPv4 address"},
      {"replay --as auto --guest-ip 10.1.1.1 pcpp_IcmpPackets.pcap", "use one"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s", refused[i].args);
    ck_assert_int_eq(run(cmd), 2);
    ck_assert_msg(strstr(err_buf, refused[i].says), "%s: %s", cmd, err_buf);
    ck_assert_ptr_null(strchr(err_buf, '\n') ? strchr(strchr(err_buf, '\n') + 1, '\n') : NULL);
    ck_assert_str_eq(out_buf, "");
  }
}
END_TEST

static Suite *as_suite(void) {
  Suite *s = suite_create("replay_as");
  TCase *scan = tcase_create("scan");
  tcase_add_test(scan, test_the_server_of_a_tcp_conversation_wins);
  tcase_add_test(scan, test_without_a_server_the_most_asked_then_the_busiest);
  tcase_add_test(scan, test_no_address_a_guest_cannot_have);
  suite_add_tcase(s, scan);
  TCase *cli = tcase_create("command");
  tcase_add_checked_fixture(cli, setup, teardown);
  tcase_add_loop_test(cli, test_public_captures_answered_in_a_hosts_place, 0,
                      (int)(sizeof answered_by_default / sizeof answered_by_default[0]));
  tcase_add_test(cli, test_as_given_and_refused);
  suite_add_tcase(s, cli);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(as_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
