/* `vnetsim replay` of a capture whose frames need replies to a host the
 * guest has never heard from: with the host's proxy ARP (the default) the
 * replies leave and reach the -o capture, and the frames are answered;
 * with --no-arp-proxy they wait for ARP in vain and the frames are
 * reply_unresolved, the ledger still adding up. Runs the built binary. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "host/pcapio.h"
#include "sim/scn.h"

#define PEER_IP          ((uint32_t)10 << 24 | 2 << 8 | 50) /* 10.0.2.50, on the guest's /24 */
#define FRAMES           3
#define FRAME_LEN        98
#define CAPTURE_START_NS 1600000000000000000ull

static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x50};
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

#include "tests/tmpdir.h"

static char out_buf[1 << 16];

/* Writes in.pcap: FRAMES echo requests from 10.0.2.50 to the guest's
 * default identity, 10 ms apart. */
static void write_capture(const char *path) {
  char err[256];
  host_pcap_writer w;
  ck_assert_msg(host_pcap_writer_open(&w, path, err, sizeof err) == 0, "%s", err);
  net_iface_config from = {.ip = PEER_IP, .netmask = 0xffffff00};
  memcpy(from.mac, peer_mac, 6);
  for (uint16_t i = 0; i < FRAMES; i++) {
    uint8_t frame[FRAME_LEN];
    ck_assert_uint_eq(scn_frame_icmp_echo(frame, sizeof frame, NET_ICMP_ECHO_REQUEST, &from,
                                          guest_mac, 0x0a00020f, 0x77, i, FRAME_LEN),
                      FRAME_LEN);
    host_pcap_writer_write(&w, CAPTURE_START_NS + i * 10000000ull, frame, FRAME_LEN);
  }
  ck_assert_int_eq(host_pcap_writer_close(&w), 0);
}

/* Runs vnetsim replay on a fresh capture with extra args; stdout in out_buf. */
static int replay(const char *args) {
  char in[128], cmd[1024];
  snprintf(in, sizeof in, "%s/in.pcap", tmpdir);
  write_capture(in);
  snprintf(cmd, sizeof cmd, "'%s' replay %s -o %s/out.pcap %s >%s/stdout 2>/dev/null </dev/null",
           VNETSIM_BIN, in, tmpdir, args, tmpdir);
  int st = system(cmd);
  ck_assert(WIFEXITED(st));
  char path[128];
  snprintf(path, sizeof path, "%s/stdout", tmpdir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(out_buf, 1, sizeof out_buf - 1, f);
  out_buf[n] = '\0';
  fclose(f);
  return WEXITSTATUS(st);
}

/* The guest's frames in out.pcap: echo replies to the peer's MAC, ARP
 * requests. */
static void count_out(size_t *echo_replies, size_t *arp_requests) {
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/out.pcap", tmpdir);
  scn_capture out;
  ck_assert_msg(host_pcap_load(path, &out, err, sizeof err) == 0, "%s", err);
  *echo_replies = *arp_requests = 0;
  for (size_t k = 0; k < out.nframes; k++) {
    const uint8_t *fr = out.frames[k].data;
    if (out.frames[k].caplen < 42) continue;
    uint16_t type = (uint16_t)(fr[12] << 8 | fr[13]);
    if (type == NET_ETHERTYPE_ARP && fr[21] == NET_ARP_OPER_REQUEST) ++*arp_requests;
    if (type == NET_ETHERTYPE_IPV4 && fr[23] == NET_IP_PROTO_ICMP && fr[34] == 0 &&
        memcmp(fr, peer_mac, 6) == 0)
      ++*echo_replies;
  }
  host_pcap_free(&out);
}

START_TEST(test_proxy_arp_lets_the_replies_reach_the_host) {
  ck_assert_int_eq(replay(""), 0);
  for (int i = 1; i <= FRAMES; i++) {
    char line[64];
    snprintf(line, sizeof line, "frame    %d  ", i);
    const char *at = strstr(out_buf, line);
    ck_assert_ptr_nonnull(at);
    const char *fate = strstr(at, "answered");
    ck_assert(fate && fate < strchr(at, '\n'));
  }
  ck_assert_ptr_nonnull(strstr(
      out_buf,
      "+ 1 ARP or Neighbor Advertisement replies the host sent for the guest (proxy ARP/ND)"));
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
  ck_assert_ptr_nonnull(strstr(out_buf, "answered             3"));
  size_t replies, requests;
  count_out(&replies, &requests);
  ck_assert_uint_eq(replies, FRAMES);
  ck_assert_uint_eq(requests, 1);
}
END_TEST

START_TEST(test_proxy_arp_replies_counted_apart_in_json) {
  ck_assert_int_eq(replay("--json"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"arp_proxy_replies\":1,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"fates_accounted\":true"));
  /* the listing is the capture's frames only: the proxy's reply is not one */
  ck_assert_ptr_nonnull(strstr(out_buf, "{\"frame\":3,"));
  ck_assert_ptr_null(strstr(out_buf, "{\"frame\":4,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"answered\":3,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"delivered\":1,")); /* the proxy's reply */
}
END_TEST

START_TEST(test_without_proxy_the_frames_are_reply_unresolved) {
  ck_assert_int_eq(replay("--no-arp-proxy"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "fates of 3 frames host->guest (all accounted: yes)"));
  ck_assert_ptr_nonnull(strstr(out_buf, "reply_unresolved     3"));
  ck_assert_ptr_null(strstr(out_buf, "answered"));
  ck_assert_ptr_null(strstr(out_buf, "proxy ARP"));
  size_t replies, requests;
  count_out(&replies, &requests);
  ck_assert_uint_eq(replies, 0);
  ck_assert_uint_eq(requests, 3); /* asked three times, a second apart, then gave up */
}
END_TEST

START_TEST(test_help_tells_of_the_proxy_and_its_switch) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "'%s' replay --help", VNETSIM_BIN);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out_buf, 1, sizeof out_buf - 1, p);
  out_buf[n] = '\0';
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "(proxy ARP)"));
  ck_assert_ptr_nonnull(strstr(out_buf, "--no-arp-proxy"));
  ck_assert_ptr_nonnull(strstr(out_buf, "reply_unresolved"));
}
END_TEST

static Suite *replay_arp_suite(void) {
  Suite *s = suite_create("replay_arp");
  TCase *tc = tcase_create("replay");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_proxy_arp_lets_the_replies_reach_the_host);
  tcase_add_test(tc, test_proxy_arp_replies_counted_apart_in_json);
  tcase_add_test(tc, test_without_proxy_the_frames_are_reply_unresolved);
  tcase_add_test(tc, test_help_tells_of_the_proxy_and_its_switch);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(replay_arp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
