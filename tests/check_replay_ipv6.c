/* `vnetsim replay` of IPv6 frames to the guest: an echo request to its
 * link-local address, a TCP SYN to its echo service and a UDP datagram to
 * its echo port at a static global address (--guest-ip6). Each is
 * answered: the guest resolves the peer with a Neighbor Solicitation, which
 * the host's proxy answers (as proxy ARP does for IPv4), and its replies
 * reach the -o capture, where tshark reads them. Runs the built binary. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "host/pcapio.h"
#include "sim/scn.h"

#define CAPTURE_START_NS 1600000000000000000ull

static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x50};
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t guest_ll[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
                                     0xff, 0xfe, 0x12,       0x34, 0x56};
static const uint8_t peer_ll[16] = {0xfe, 0x80, [15] = 0x50};
static const uint8_t guest_global[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x15};
static const uint8_t peer_global[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x50};

#include "tests/tmpdir.h"

static char out_buf[1 << 16];

/* Ethernet and IPv6 headers in front of the l4_len bytes at f + 54. */
static size_t wrap6(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t l4_len) {
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_IPV6};
  memcpy(eth.dst, guest_mac, 6);
  memcpy(eth.src, peer_mac, 6);
  ck_assert_int_eq(net_eth_emit(&eth, f, 14), 14);
  net_ipv6_repr ip = {.next_header = nh, .hop_limit = 64, .payload_len = l4_len};
  memcpy(ip.src, src, 16);
  memcpy(ip.dst, dst, 16);
  ck_assert_int_eq(net_ipv6_emit(&ip, f + 14, 40 + l4_len), 40);
  return 54 + l4_len;
}

static void write_capture(const char *path) {
  char err[256];
  host_pcap_writer w;
  ck_assert_msg(host_pcap_writer_open(&w, path, err, sizeof err) == 0, "%s", err);
  uint8_t f[256];
  static const uint8_t ping[4] = {'p', 'i', 'n', 'g'};
  net_icmp_repr echo = {
      .type = NET_ICMP6_ECHO_REQUEST, .ident = 0x66, .seq = 1, .data = ping, .data_len = 4};
  int n = net_icmp6_emit(&echo, peer_ll, guest_ll, f + 54, 64);
  ck_assert_int_gt(n, 0);
  host_pcap_writer_write(&w, CAPTURE_START_NS, f, wrap6(f, peer_ll, guest_ll, 58, (size_t)n));
  net_tcp_repr syn = {.src_port = 40001,
                      .dst_port = 8023,
                      .seq = 7,
                      .flags = NET_TCP_SYN,
                      .window = 65535,
                      .mss = 1440};
  n = net_tcp_emit6(&syn, peer_global, guest_global, f + 54, 64);
  ck_assert_int_gt(n, 0);
  host_pcap_writer_write(&w, CAPTURE_START_NS + 10000000ull, f,
                         wrap6(f, peer_global, guest_global, 6, (size_t)n));
  net_udp_repr u = {.src_port = 40002, .dst_port = 7, .payload = ping, .payload_len = 4};
  n = net_udp_emit6(&u, peer_global, guest_global, f + 54, 64);
  ck_assert_int_gt(n, 0);
  host_pcap_writer_write(&w, CAPTURE_START_NS + 20000000ull, f,
                         wrap6(f, peer_global, guest_global, 17, (size_t)n));
  ck_assert_int_eq(host_pcap_writer_close(&w), 0);
}

static int replay(const char *args) {
  char in[128], cmd[1024];
  snprintf(in, sizeof in, "%s/in.pcap", tmpdir);
  write_capture(in);
  snprintf(cmd, sizeof cmd, "'%s' replay %s -o %s/out.pcap %s >%s/stdout 2>&1 </dev/null",
           VNETSIM_BIN, in, tmpdir, args, tmpdir);
  int st = system(cmd);
  ck_assert(WIFEXITED(st));
  char path[128];
  snprintf(path, sizeof path, "%s/stdout", tmpdir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t len = fread(out_buf, 1, sizeof out_buf - 1, f);
  out_buf[len] = '\0';
  fclose(f);
  return WEXITSTATUS(st);
}

/* How many frames of out.pcap tshark's display filter matches; -1 without
 * tshark. */
static int tshark_count(const char *filter) {
  if (system("command -v tshark >/dev/null 2>&1") != 0) return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "tshark -r '%s/out.pcap' -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -Y '%s' "
           "2>/dev/null | wc -l",
           tmpdir, filter);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  int n = -1;
  ck_assert_int_eq(fscanf(p, "%d", &n), 1);
  pclose(p);
  return n;
}

START_TEST(test_ipv6_echo_tcp_and_udp_answered_in_replay) {
  ck_assert_int_eq(replay("--guest-mac 52:54:00:12:34:56 --guest-ip6 2001:db8::15"), 0);
  ck_assert_msg(strstr(out_buf, "answered             3") != NULL, "%s", out_buf);
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
  if (tshark_count("frame") < 0) return; /* the fates said it; tshark checks the frames */
  ck_assert_int_eq(tshark_count("icmpv6.type == 135"), 2); /* the guest asked for both */
  ck_assert_int_eq(tshark_count("icmpv6.type == 129 && icmpv6.echo.identifier == 0x66"), 1);
  ck_assert_int_eq(tshark_count("tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.ack_raw == 8 && "
                                "ipv6.src == 2001:db8::15 && !tcp.analysis.retransmission"),
                   1);
  ck_assert_int_eq(tshark_count("udp.srcport == 7 && udp.dstport == 40002 && udp.length == 12"), 1);
  /* every checksum good (tshark told to verify TCP's and UDP's), nothing
   * malformed; the RST the guest ends its unanswered SYN-ACKs with is the
   * only warning */
  ck_assert_int_eq(tshark_count("tcp.checksum.status == 1 || udp.checksum.status == 1 || "
                                "icmpv6.checksum.status == 1"),
                   14);
  ck_assert_int_eq(tshark_count("_ws.malformed || _ws.expert.severity >= error"), 0);
}
END_TEST

START_TEST(test_without_the_proxy_the_replies_wait_for_neighbours) {
  ck_assert_int_eq(replay("--guest-mac 52:54:00:12:34:56 --guest-ip6 2001:db8::15 "
                          "--no-arp-proxy"),
                   0);
  ck_assert_msg(strstr(out_buf, "reply_unresolved     3") != NULL, "%s", out_buf);
}
END_TEST

/* A public capture's IPv6 HTTP conversation, the guest in its server's
 * place: the client's SYN is answered (the SYN-ACK to an off-link client
 * leaves through the proxy's answer for it, with the MAC its frames came
 * from), and the GET whose TCP checksum the capturing host never filled in
 * (offloaded; tshark says Bad too) is bad_checksum. */
START_TEST(test_public_capture_ipv6_syn_answered_by_the_guest_as_its_server) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "'%s' replay %s/tcpreplay_test.pcap --guest-ip6 2606:4700::6812:69c "
           "--guest-mac 94:3f:c2:d3:52:bd -o %s/out.pcap >%s/stdout 2>&1 </dev/null",
           VNETSIM_BIN, VNETSIM_CAPTURES_DIR, tmpdir, tmpdir);
  int st = system(cmd);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char path[128];
  snprintf(path, sizeof path, "%s/stdout", tmpdir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t len = fread(out_buf, 1, sizeof out_buf - 1, f);
  out_buf[len] = '\0';
  fclose(f);
  ck_assert_msg(strstr(out_buf, "frame   29  t=1278472580.966743000  len    94  answered") != NULL,
                "%s", out_buf);
  ck_assert_ptr_nonnull(
      strstr(out_buf, "frame   32  t=1278472580.971576000  len   219  bad_checksum"));
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
  if (tshark_count("frame") < 0) return;
  /* to the client's sequence number + 1, at the MAC the client's frames came from */
  ck_assert_int_eq(tshark_count("tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.ack_raw == "
                                "1847659768 && eth.dst == ac:1f:6b:ac:27:da && "
                                "!tcp.analysis.retransmission"),
                   1);
}
END_TEST

START_TEST(test_bad_guest_ip6_refused) {
  ck_assert_int_eq(replay("--guest-ip6 fe80::1"), 2);
  ck_assert_ptr_nonnull(strstr(out_buf, "--guest-ip6: 'fe80::1' is not a global unicast"));
  ck_assert_int_eq(replay("--guest-ip6 nonsense"), 2);
}
END_TEST

static Suite *replay_ipv6_suite(void) {
  Suite *s = suite_create("replay_ipv6");
  TCase *tc = tcase_create("replay");
  tcase_set_timeout(tc, 60); /* tshark starts slowly */
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_ipv6_echo_tcp_and_udp_answered_in_replay);
  tcase_add_test(tc, test_without_the_proxy_the_replies_wait_for_neighbours);
  tcase_add_test(tc, test_public_capture_ipv6_syn_answered_by_the_guest_as_its_server);
  tcase_add_test(tc, test_bad_guest_ip6_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(replay_ipv6_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
