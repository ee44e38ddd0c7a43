/* Check suite for emu/fault: each fault kind's effect and its reported fate,
 * the receive direction, the parser, and seeded determinism. The wrapper sits
 * on a test-only inner port that records what reaches it; a test-only
 * receiver records what comes out of the outer port. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/fault.h"

#define MS 1000000ull

typedef struct sink {
  size_t n;
  size_t len[512];
  uint8_t data[512][128];
  uint64_t t[512];
} sink;

static int sink_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  sink *s = impl;
  ck_assert_uint_lt(s->n, 512);
  ck_assert_uint_le(len, 128);
  memcpy(s->data[s->n], frame, len);
  s->len[s->n] = len;
  s->t[s->n++] = now_ns;
  return 0;
}

static emu_fate sink_rx(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  sink_send(ctx, frame, len, now_ns);
  return EMU_FATE_DELIVERED;
}

typedef struct reports {
  size_t n;
  emu_fault_report r[512];
} reports;

static void on_report(void *ctx, const emu_fault_report *r) {
  reports *rs = ctx;
  ck_assert_uint_lt(rs->n, 512);
  rs->r[rs->n] = *r;
  rs->r[rs->n].frame = NULL; /* only valid during the call */
  rs->n++;
}

typedef struct rig {
  sink inner_got, outer_got;
  emu_port inner;
  emu_fault f;
  reports rep;
} rig;

static rig *rig_new(const char *spec, uint64_t seed) {
  rig *g = calloc(1, sizeof *g);
  g->inner = (emu_port){.send = sink_send, .impl = &g->inner_got};
  emu_fault_config cfg;
  char err[256];
  ck_assert_msg(emu_fault_config_parse(spec, &cfg, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(emu_fault_init(&g->f, &cfg, seed, &g->inner), 0);
  emu_port_attach(emu_fault_port(&g->f), sink_rx, &g->outer_got);
  emu_fault_set_report(&g->f, on_report, &g->rep);
  return g;
}

static void rig_free(rig *g) {
  emu_fault_close(&g->f, 0);
  free(g);
}

/* A 60-byte frame whose byte 14 onwards carries its number. */
static void send_frame(rig *g, uint8_t no, size_t len, uint64_t t) {
  uint8_t f[128] = {0};
  memset(f + 14, no, len - 14);
  ck_assert_int_eq(emu_port_send(emu_fault_port(&g->f), f, len, t), 0);
}

START_TEST(test_no_faults_passes_every_frame_unchanged_both_ways) {
  rig *g = rig_new("", 1);
  for (uint8_t i = 0; i < 10; i++) send_frame(g, i, 60, i);
  ck_assert_uint_eq(g->inner_got.n, 10);
  for (uint8_t i = 0; i < 10; i++) ck_assert_uint_eq(g->inner_got.data[i][20], i);
  uint8_t f[60] = {0};
  ck_assert_int_eq(emu_port_deliver(&g->inner, f, 60, 0), EMU_FATE_DELIVERED);
  ck_assert_uint_eq(g->outer_got.n, 1);
  ck_assert_uint_eq(g->rep.n, 0);
  ck_assert_uint_eq(emu_fault_poll_at(&g->f), UINT64_MAX);
  rig_free(g);
}
END_TEST

START_TEST(test_drop_removes_the_frame_and_reports_fault_drop) {
  rig *g = rig_new("drop=1", 1);
  send_frame(g, 1, 60, 5);
  ck_assert_uint_eq(g->inner_got.n, 0);
  ck_assert_uint_eq(g->rep.n, 1);
  ck_assert_int_eq(g->rep.r[0].reason, EMU_FATE_FAULT_DROP);
  ck_assert_int_eq(g->rep.r[0].removed, 1);
  ck_assert_int_eq(g->rep.r[0].dir, EMU_FAULT_SEND);
  ck_assert_uint_eq(g->rep.r[0].now_ns, 5);
  /* the receive direction returns the fault as the frame's fate */
  uint8_t f[60] = {0};
  ck_assert_int_eq(emu_port_deliver(&g->inner, f, 60, 6), EMU_FATE_FAULT_DROP);
  ck_assert_uint_eq(g->outer_got.n, 0);
  ck_assert_uint_eq(emu_fault_stats_get(&g->f)->faults[EMU_FATE_FAULT_DROP], 2);
  ck_assert_str_eq(emu_fate_name(EMU_FATE_FAULT_DROP), "fault_drop");
  rig_free(g);
}
END_TEST

START_TEST(test_mtu_cap_removes_only_longer_frames) {
  rig *g = rig_new("mtu=68", 1);
  send_frame(g, 1, 14 + 68, 0);
  send_frame(g, 2, 14 + 69, 0);
  ck_assert_uint_eq(g->inner_got.n, 1);
  ck_assert_uint_eq(g->inner_got.len[0], 82);
  ck_assert_uint_eq(g->rep.n, 1);
  ck_assert_int_eq(g->rep.r[0].reason, EMU_FATE_FAULT_MTU);
  ck_assert_uint_eq(g->rep.r[0].frame_no, 1);
  rig_free(g);
}
END_TEST

START_TEST(test_rate_limit_token_bucket_refills_with_time) {
  rig *g = rig_new("rate=1000,burst=100", 1);
  send_frame(g, 1, 50, 0);
  send_frame(g, 2, 50, 0);
  send_frame(g, 3, 50, 0); /* bucket empty */
  ck_assert_uint_eq(g->inner_got.n, 2);
  ck_assert_int_eq(g->rep.r[0].reason, EMU_FATE_FAULT_RATE_LIMIT);
  send_frame(g, 4, 50, 49 * MS); /* 49 bytes refilled: not enough */
  ck_assert_uint_eq(g->inner_got.n, 2);
  send_frame(g, 5, 50, 99 * MS); /* 99 - 49 = 50 more: enough for 50 */
  ck_assert_uint_eq(g->inner_got.n, 3);
  ck_assert_uint_eq(g->inner_got.data[2][20], 5);
  ck_assert_uint_eq(emu_fault_stats_get(&g->f)->faults[EMU_FATE_FAULT_RATE_LIMIT], 2);
  rig_free(g);
}
END_TEST

START_TEST(test_corrupt_changes_exactly_one_byte_past_the_ethernet_header) {
  rig *g = rig_new("corrupt=1", 7);
  for (uint8_t i = 0; i < 50; i++) {
    send_frame(g, 0x55, 60, i);
    const uint8_t *got = g->inner_got.data[i];
    size_t diffs = 0, at = 0;
    for (size_t k = 0; k < 60; k++)
      if (got[k] != (k < 14 ? 0 : 0x55)) diffs++, at = k;
    ck_assert_uint_eq(diffs, 1);
    ck_assert_uint_ge(at, 14);
    ck_assert_uint_eq(g->rep.r[i].offset, at);
    ck_assert_int_eq(g->rep.r[i].reason, EMU_FATE_FAULT_CORRUPT);
    ck_assert_int_eq(g->rep.r[i].removed, 0);
  }
  rig_free(g);
}
END_TEST

START_TEST(test_duplicate_sends_a_copy_right_after) {
  rig *g = rig_new("duplicate=1", 1);
  send_frame(g, 1, 60, 0);
  send_frame(g, 2, 60, 0);
  ck_assert_uint_eq(g->inner_got.n, 4);
  ck_assert_uint_eq(g->inner_got.data[0][20], 1);
  ck_assert_uint_eq(g->inner_got.data[1][20], 1);
  ck_assert_uint_eq(g->inner_got.data[2][20], 2);
  ck_assert_uint_eq(g->rep.n, 2);
  ck_assert_int_eq(g->rep.r[1].reason, EMU_FATE_FAULT_DUPLICATE);
  /* receive direction: the copy's fate is in the report */
  uint8_t f[60] = {0};
  ck_assert_int_eq(emu_port_deliver(&g->inner, f, 60, 0), EMU_FATE_DELIVERED);
  ck_assert_uint_eq(g->outer_got.n, 2);
  ck_assert_int_eq(g->rep.r[2].fate, EMU_FATE_DELIVERED);
  rig_free(g);
}
END_TEST

START_TEST(test_delay_holds_the_frame_until_poll_at_its_release_time) {
  rig *g = rig_new("delay=1,delay_us=1500", 1);
  send_frame(g, 1, 60, 10 * MS);
  ck_assert_uint_eq(g->inner_got.n, 0);
  ck_assert_uint_eq(emu_fault_poll_at(&g->f), 10 * MS + 1500000);
  emu_fault_poll(&g->f, 10 * MS + 1499999);
  ck_assert_uint_eq(g->inner_got.n, 0);
  emu_fault_poll(&g->f, 10 * MS + 1500000);
  ck_assert_uint_eq(g->inner_got.n, 1);
  ck_assert_uint_eq(g->inner_got.t[0], 10 * MS + 1500000);
  ck_assert_uint_eq(g->rep.n, 2);
  ck_assert_int_eq(g->rep.r[0].event, EMU_FAULT_EV_APPLIED);
  ck_assert_uint_eq(g->rep.r[0].release_ns, 10 * MS + 1500000);
  ck_assert_int_eq(g->rep.r[1].event, EMU_FAULT_EV_RELEASED);
  ck_assert_int_eq(g->rep.r[1].reason, EMU_FATE_FAULT_DELAY);
  ck_assert_uint_eq(emu_fault_poll_at(&g->f), UINT64_MAX);
  rig_free(g);
}
END_TEST

START_TEST(test_reorder_lets_gap_frames_overtake_the_held_one) {
  /* max_held 1: with reorder=1 only one frame is held at a time, so the
   * pattern is exact: 0 held, 1 and 2 pass, 0 follows; 3 held, ... */
  rig *g = rig_new("reorder=1,reorder_gap=2", 1);
  g->f.cfg.max_held = 1;
  for (uint8_t i = 0; i < 6; i++) send_frame(g, i, 60, 0);
  static const uint8_t expect[6] = {1, 2, 0, 4, 5, 3};
  ck_assert_uint_eq(g->inner_got.n, 6);
  for (int i = 0; i < 6; i++) ck_assert_uint_eq(g->inner_got.data[i][20], expect[i]);
  ck_assert_uint_eq(emu_fault_stats_get(&g->f)->faults[EMU_FATE_FAULT_REORDER], 2);
  ck_assert_uint_eq(emu_fault_stats_get(&g->f)->not_held, 4);
  /* a held frame with nothing behind it leaves at reorder_max_ns (10 ms) */
  send_frame(g, 6, 60, 1 * MS);
  ck_assert_uint_eq(emu_fault_poll_at(&g->f), 11 * MS);
  emu_fault_poll(&g->f, 11 * MS);
  ck_assert_uint_eq(g->inner_got.n, 7);
  rig_free(g);
}
END_TEST

START_TEST(test_close_reports_frames_still_held_as_dropped) {
  rig *g = rig_new("delay=1,delay_us=1000", 1);
  send_frame(g, 1, 60, 0);
  emu_fault_close(&g->f, 5);
  ck_assert_uint_eq(g->rep.n, 2);
  ck_assert_int_eq(g->rep.r[1].reason, EMU_FATE_FAULT_DROP);
  ck_assert_int_eq(g->rep.r[1].removed, 1);
  ck_assert_uint_eq(g->inner_got.n, 0);
  free(g);
}
END_TEST

static void run_mix(uint64_t seed, sink *out, reports *rep) {
  rig *g = rig_new("drop=0.2,corrupt=0.2,duplicate=0.2,reorder=0.2,delay=0.1,delay_us=50", seed);
  for (int i = 0; i < 200; i++) {
    send_frame(g, (uint8_t)i, 40 + i % 60, (uint64_t)i * 10000);
    emu_fault_poll(&g->f, (uint64_t)i * 10000);
  }
  emu_fault_flush(&g->f, 3000000);
  *out = g->inner_got;
  *rep = g->rep;
  rig_free(g);
}

START_TEST(test_same_seed_same_faults_other_seed_other_faults) {
  static sink a, b, c;
  static reports ra, rb, rc;
  run_mix(11, &a, &ra);
  run_mix(11, &b, &rb);
  run_mix(12, &c, &rc);
  ck_assert_uint_eq(a.n, b.n);
  ck_assert_mem_eq(a.data, b.data, sizeof a.data);
  ck_assert_mem_eq(a.t, b.t, sizeof a.t);
  ck_assert_uint_eq(ra.n, rb.n);
  for (size_t i = 0; i < ra.n; i++) {
    ck_assert_int_eq(ra.r[i].reason, rb.r[i].reason);
    ck_assert_uint_eq(ra.r[i].frame_no, rb.r[i].frame_no);
  }
  /* roughly the configured share of each fault (200 frames, p = 0.2) */
  size_t drops = 0;
  for (size_t i = 0; i < ra.n; i++) drops += ra.r[i].reason == EMU_FATE_FAULT_DROP;
  ck_assert_uint_gt(drops, 20);
  ck_assert_uint_lt(drops, 65);
  ck_assert(a.n != c.n || memcmp(a.data, c.data, sizeof a.data) != 0);
}
END_TEST

START_TEST(test_dir_restricts_faults_to_one_direction) {
  rig *g = rig_new("drop=1,dir=recv", 1);
  send_frame(g, 1, 60, 0);
  ck_assert_uint_eq(g->inner_got.n, 1);
  uint8_t f[60] = {0};
  ck_assert_int_eq(emu_port_deliver(&g->inner, f, 60, 0), EMU_FATE_FAULT_DROP);
  rig_free(g);
}
END_TEST

START_TEST(test_parser_reads_every_key_and_names_the_bad_one) {
  emu_fault_config c;
  char err[256];
  ck_assert_int_eq(emu_fault_config_parse("drop=0.01,reorder=0.05,reorder_gap=4,dup=0.5,corrupt=0."
                                          "001,delay=0.1,delay_us=200,delay_max_us=900,rate=125000,"
                                          "burst=3000,mtu=1400,dir=send,reorder_max_us=50",
                                          &c, err, sizeof err),
                   0);
  /* The casts round each literal to double: where FLT_EVAL_METHOD is 2 (x87,
   * i386) a bare 0.01 keeps long double precision and equals no double. */
  ck_assert(c.drop == (double)0.01 && c.reorder == (double)0.05 && c.duplicate == (double)0.5 &&
            c.corrupt == (double)0.001 && c.delay == (double)0.1);
  ck_assert_uint_eq(c.reorder_gap, 4);
  ck_assert_uint_eq(c.delay_min_ns, 200000);
  ck_assert_uint_eq(c.delay_max_ns, 900000);
  ck_assert_uint_eq(c.rate_bps, 125000);
  ck_assert_uint_eq(c.burst_bytes, 3000);
  ck_assert_uint_eq(c.mtu, 1400);
  ck_assert_uint_eq(c.dirs, EMU_FAULT_SEND);
  ck_assert_uint_eq(c.reorder_max_ns, 50000);
  ck_assert(emu_fault_config_active(&c));
  ck_assert_int_eq(emu_fault_config_parse("", &c, err, sizeof err), 0);
  ck_assert(!emu_fault_config_active(&c));

  ck_assert_int_eq(emu_fault_config_parse("drop=1.5", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_str_eq(err, "fault drop: '1.5' is not a probability from 0 to 1");
  ck_assert_int_eq(emu_fault_config_parse("jitter=3", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "unknown fault 'jitter'"));
  ck_assert_int_eq(emu_fault_config_parse("mtu=10", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "mtu"));
  ck_assert_int_eq(emu_fault_config_parse("drop", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "key=value"));
  ck_assert_int_eq(emu_fault_config_parse("drop=0.1,,dup=0.1", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_int_eq(emu_fault_config_parse("drop=nan", &c, err, sizeof err), EMU_EINVAL);
  ck_assert_int_eq(emu_fault_config_parse("delay_us=900,delay_max_us=100", &c, err, sizeof err),
                   EMU_EINVAL);
  /* init distrusts a config built by hand too */
  emu_fault f;
  emu_port p = {.send = sink_send};
  emu_fault_config_default(&c);
  c.drop = -0.1;
  ck_assert_int_eq(emu_fault_init(&f, &c, 1, &p), EMU_EINVAL);
}
END_TEST

static Suite *fault_suite(void) {
  Suite *s = suite_create("fault");
  TCase *tc = tcase_create("kinds");
  tcase_add_test(tc, test_no_faults_passes_every_frame_unchanged_both_ways);
  tcase_add_test(tc, test_drop_removes_the_frame_and_reports_fault_drop);
  tcase_add_test(tc, test_mtu_cap_removes_only_longer_frames);
  tcase_add_test(tc, test_rate_limit_token_bucket_refills_with_time);
  tcase_add_test(tc, test_corrupt_changes_exactly_one_byte_past_the_ethernet_header);
  tcase_add_test(tc, test_duplicate_sends_a_copy_right_after);
  tcase_add_test(tc, test_delay_holds_the_frame_until_poll_at_its_release_time);
  tcase_add_test(tc, test_reorder_lets_gap_frames_overtake_the_held_one);
  tcase_add_test(tc, test_close_reports_frames_still_held_as_dropped);
  tcase_add_test(tc, test_dir_restricts_faults_to_one_direction);
  suite_add_tcase(s, tc);
  TCase *det = tcase_create("determinism");
  tcase_add_test(det, test_same_seed_same_faults_other_seed_other_faults);
  tcase_add_test(det, test_parser_reads_every_key_and_names_the_bad_one);
  suite_add_tcase(s, det);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(fault_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
