/* Check suite for emu's small helpers: the growing array, an actor's
 * earliest-deadline timer and the trace's line formatter and hash. */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/grow.h"
#include "emu/rng.h"
#include "emu/sched.h"
#include "emu/trace.h"

/* ---- growing arrays ------------------------------------------------------------- */

START_TEST(test_grow_doubles_from_first_and_keeps_contents) {
  size_t cap = 0;
  int *a = emu_grow(NULL, &cap, 5, sizeof *a, 4);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(cap, 8);
  for (int i = 0; i < 8; i++) a[i] = i;
  int *b = emu_grow(a, &cap, 8, sizeof *b, 4);
  ck_assert_ptr_eq(b, a); /* already large enough: nothing changes */
  ck_assert_uint_eq(cap, 8);
  b = emu_grow(a, &cap, 9, sizeof *b, 4);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(cap, 16);
  for (int i = 0; i < 8; i++) ck_assert_int_eq(b[i], i);
  free(b);
}
END_TEST

START_TEST(test_grow_without_first_starts_at_one) {
  size_t cap = 0;
  char *a = emu_grow(NULL, &cap, 3, 1, 0);
  ck_assert_ptr_nonnull(a);
  ck_assert_uint_eq(cap, 4);
  free(a);
}
END_TEST

START_TEST(test_grow_overflow_fails_and_leaves_array_untouched) {
  size_t cap = 4;
  int *a = malloc(cap * sizeof *a);
  ck_assert_ptr_nonnull(a);
  a[3] = 7;
  ck_assert_ptr_null(emu_grow(a, &cap, SIZE_MAX, sizeof *a, 4)); /* count doubling overflows */
  ck_assert_uint_eq(cap, 4);
  ck_assert_ptr_null(emu_grow(a, &cap, 5, SIZE_MAX / 4, 4)); /* bytes overflow */
  ck_assert_uint_eq(cap, 4);
  ck_assert_int_eq(a[3], 7);
  free(a);
}
END_TEST

/* ---- earliest-deadline timer ------------------------------------------------------ */

#define EV_TIMER 1
#define EV_WORK  2 /* arms the timer at ev->arg */

static emu_rng rng;
static emu_sched sched;
static emu_actor actor;
static uint64_t armed_at;
static uint64_t fired[8], stale[8];
static int nfired, nstale;

static void on_timer(emu_actor *self, const emu_event *ev) {
  if (ev->kind == EV_WORK)
    emu_actor_arm(self, &armed_at, ev->arg, EV_TIMER);
  else if (emu_actor_timer_due(&armed_at, ev))
    fired[nfired++] = ev->at_ns;
  else
    stale[nstale++] = ev->at_ns;
}

static void timer_setup(void) {
  emu_rng_init(&rng, 1);
  emu_sched_init(&sched, &rng, 0);
  ck_assert_int_eq(emu_actor_init(&actor, &sched, "timer", on_timer, NULL), 0);
  armed_at = 0;
  nfired = nstale = 0;
}

static void timer_teardown(void) { emu_sched_close(&sched); }

START_TEST(test_arm_posts_only_an_earlier_deadline) {
  ck_assert_int_eq(emu_actor_arm(&actor, &armed_at, 100, EV_TIMER), 0);
  ck_assert_uint_eq(actor.ninbox, 1);
  ck_assert_int_eq(emu_actor_arm(&actor, &armed_at, 200, EV_TIMER), 0);
  ck_assert_int_eq(emu_actor_arm(&actor, &armed_at, 100, EV_TIMER), 0);
  ck_assert_int_eq(emu_actor_arm(&actor, &armed_at, EMU_TIME_NEVER, EV_TIMER), 0);
  ck_assert_uint_eq(actor.ninbox, 1);
  ck_assert_uint_eq(armed_at, 100);
  ck_assert_int_eq(emu_actor_arm(&actor, &armed_at, 50, EV_TIMER), 0);
  ck_assert_uint_eq(actor.ninbox, 2);
  ck_assert_uint_eq(armed_at, 50);
}
END_TEST

START_TEST(test_superseded_timer_wakes_early_once_disarmed) {
  emu_actor_arm(&actor, &armed_at, 100, EV_TIMER);
  emu_actor_arm(&actor, &armed_at, 50, EV_TIMER);
  emu_sched_run(&sched, EMU_TIME_NEVER, 10);
  ck_assert_int_eq(nfired, 2); /* 100 is an early wake-up: nothing armed */
  ck_assert_uint_eq(fired[0], 50);
  ck_assert_uint_eq(fired[1], 100);
  ck_assert_int_eq(nstale, 0);
  ck_assert_uint_eq(armed_at, 0);
}
END_TEST

/* A deadline that is due now counts as nothing pending: arming a later one
 * before its event ran posts another, and the due one is then stale. */
START_TEST(test_timer_older_than_a_rearm_is_stale) {
  ck_assert_int_eq(emu_actor_post(&actor, 50, EV_WORK, 80, 0, NULL, 0), 0);
  emu_actor_arm(&actor, &armed_at, 50, EV_TIMER);
  emu_sched_run(&sched, EMU_TIME_NEVER, 10);
  ck_assert_int_eq(nstale, 1);
  ck_assert_uint_eq(stale[0], 50);
  ck_assert_int_eq(nfired, 1);
  ck_assert_uint_eq(fired[0], 80);
}
END_TEST

/* ---- trace lines ------------------------------------------------------------------ */

/* The formatter as it was written with snprintf, kept here as the reference
 * the stdio-free one must match byte for byte, truncation included. */
static int ref_trace_format(const emu_trace_rec *r, char *buf, size_t cap) {
  size_t n = 0;
#define REF_PUT(...)                                               \
  do {                                                             \
    int w = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
    if (w > 0) n += (size_t)w;                                     \
  } while (0)
  REF_PUT("{\"t\":%" PRIu64 ",\"actor\":\"%s\",\"ev\":\"%s\"", r->t_ns, r->actor,
          emu_trace_kind_name(r->kind));
  if (r->queue) REF_PUT(",\"q\":\"%s\"", r->queue);
  if (r->head >= 0) REF_PUT(",\"head\":%" PRId64, r->head);
  if (r->idx >= 0) REF_PUT(",\"idx\":%" PRId64, r->idx);
  if (r->len >= 0) REF_PUT(",\"len\":%" PRId64, r->len);
  if (r->frame >= 0) REF_PUT(",\"frame\":%" PRId64, r->frame);
  if (r->detail) REF_PUT(",\"detail\":\"%s\"", r->detail);
  REF_PUT("}");
#undef REF_PUT
  return n < cap ? (int)n : (int)(cap ? cap - 1 : 0);
}

#define TR_RANDOM_RECORDS 200000
#define TR_BUF_MAX        400 /* past the longest line below, so some calls do not truncate */
#define TR_LONG_NAME      300

static char tr_long_name[TR_LONG_NAME + 1];

/* Any 64-bit value, but mostly the short and edge ones traces carry. */
static int64_t tr_random_field(emu_rng *g) {
  switch (emu_rng_range(g, 0, 5)) {
    case 0:
      return -1;
    case 1:
      return (int64_t)emu_rng_range(g, 0, 9);
    case 2:
      return (int64_t)emu_rng_range(g, 0, 65535);
    case 3:
      return INT64_MAX;
    case 4:
      return -(int64_t)emu_rng_range(g, 2, 1000);
    default:
      return (int64_t)(emu_rng_next(g) >> 1);
  }
}

/* A name whose text changes under the same pointer, as a caller's buffer
 * may: nothing may be remembered by address alone. */
static char tr_mutable_name[16];

static const char *tr_random_name(emu_rng *g, int may_be_null) {
  if (emu_rng_range(g, 0, 7) == 0) {
    static const char *const texts[] = {"device", "driver", "rx", "tx", "r"};
    strcpy(tr_mutable_name, texts[emu_rng_range(g, 0, 4)]);
    return tr_mutable_name;
  }
  static const char *const names[] = {
      "device", "driver", "rx", "tx", "", "rx_no_buffer", "avail_idx_backwards (2.7.6)"};
  uint64_t k = emu_rng_range(g, 0, sizeof names / sizeof names[0] + 1);
  if (k < sizeof names / sizeof names[0]) return names[k];
  if (k == sizeof names / sizeof names[0]) return tr_long_name;
  return may_be_null ? NULL : "x";
}

static void tr_random_rec(emu_rng *g, emu_trace_rec *r) {
  static const uint64_t times[] = {0, 9, 10, 99, 100, 999999999, UINT64_MAX};
  uint64_t pick = emu_rng_range(g, 0, sizeof times / sizeof times[0]);
  r->t_ns = pick < sizeof times / sizeof times[0] ? times[pick] : emu_rng_next(g);
  r->actor = tr_random_name(g, 1);
  r->kind = (emu_trace_kind)emu_rng_range(g, 0, EMU_TR_KIND_COUNT); /* one past: "unknown" */
  r->queue = tr_random_name(g, 1);
  r->head = tr_random_field(g);
  r->idx = tr_random_field(g);
  r->len = tr_random_field(g);
  r->frame = tr_random_field(g);
  r->detail = tr_random_name(g, 1);
}

START_TEST(test_trace_format_matches_snprintf) {
  memset(tr_long_name, 'n', TR_LONG_NAME);
  emu_rng g;
  emu_rng_init(&g, 19);
  for (int i = 0; i < TR_RANDOM_RECORDS; i++) {
    emu_trace_rec r;
    tr_random_rec(&g, &r);
    size_t cap = (size_t)emu_rng_range(&g, 0, TR_BUF_MAX);
    char want[TR_BUF_MAX + 1], got[TR_BUF_MAX + 1];
    memset(want, 0x55, sizeof want);
    memset(got, 0x55, sizeof got);
    int nw = ref_trace_format(&r, want, cap), ng = emu_trace_format(&r, got, cap);
    ck_assert_int_eq(ng, nw);
    ck_assert_msg(memcmp(got, want, sizeof got) == 0, "record %d (cap %zu): '%s' vs '%s'", i, cap,
                  got, want);
  }
}
END_TEST

/* The hash as include/vnetsim/trace.h defines it, read a second time:
 * texts byte by byte through their length, not the emitter's loop. */
#define REF_B 0xcbf29ce484222325ull
static uint64_t ref_mix(uint64_t x, uint64_t w) {
  uint64_t y = (x ^ w) * 0x9e3779b97f4a7c15ull;
  return y ^ (y >> 32);
}

static uint64_t ref_text(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  uint64_t x = REF_B;
  for (size_t at = 0; at < n; at += 8) {
    uint64_t w = 0;
    for (size_t k = 0; k < 8 && at + k < n; k++) w |= (uint64_t)(uint8_t)s[at + k] << (8 * k);
    x = ref_mix(x, w);
  }
  return ref_mix(x, n);
}

static uint64_t ref_hash_event(uint64_t h, const emu_trace_rec *r) {
  uint64_t names = REF_B, fields = REF_B;
  names = ref_mix(names, r->t_ns);
  names = ref_mix(names, ref_text(r->actor));
  names = ref_mix(names, ref_text(emu_trace_kind_name(r->kind)));
  names = ref_mix(names, ref_text(r->queue));
  const int64_t ints[] = {r->head, r->idx, r->len, r->frame};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    fields = ref_mix(fields, (uint64_t)ints[i]);
  fields = ref_mix(fields, ref_text(r->detail));
  return ref_mix(ref_mix(h, names), fields);
}

START_TEST(test_trace_hash_follows_its_definition) {
  memset(tr_long_name, 'n', TR_LONG_NAME);
  emu_rng g;
  emu_rng_init(&g, 7);
  uint64_t clock = 0, want = REF_B;
  emu_trace t;
  emu_trace_init(&t, &clock);
  emu_trace_set_hashing(&t, 1);
  ck_assert_uint_eq(t.hash, want);
  for (int i = 0; i < TR_RANDOM_RECORDS / 4; i++) {
    emu_trace_rec r;
    tr_random_rec(&g, &r);
    clock = r.t_ns;
    want = ref_hash_event(want, &r);
    emu_trace_emit(&t, &r);
    ck_assert_uint_eq(t.hash, want);
  }
}
END_TEST

/* Near records hash apart (a value moved to the next field, an absent text
 * and an empty one), and the same text hashes alike wherever it is stored
 * (a text is read up to its NUL, not by its array's size). */
START_TEST(test_trace_hash_separates_near_traces) {
  const emu_trace_rec base = {.actor = "device",
                              .kind = EMU_TR_POP,
                              .queue = "rx",
                              .head = 3,
                              .idx = -1,
                              .len = 110,
                              .frame = -1,
                              .detail = NULL};
  emu_trace_rec variants[6];
  for (int i = 0; i < 6; i++) variants[i] = base;
  variants[1].head = -1, variants[1].idx = 3; /* the value moved to the next field */
  variants[2].queue = "";                     /* empty, not absent */
  variants[3].queue = "rx\0";                 /* the same text */
  variants[4].actor = "device\0\0";           /* the same text */
  variants[5].detail = "";
  uint64_t hashes[6];
  for (int i = 0; i < 6; i++) {
    uint64_t clock = 5;
    emu_trace t;
    emu_trace_init(&t, &clock);
    emu_trace_set_hashing(&t, 1);
    emu_trace_emit(&t, &variants[i]);
    hashes[i] = t.hash;
  }
  ck_assert_uint_ne(hashes[0], hashes[1]);
  ck_assert_uint_ne(hashes[0], hashes[2]);
  ck_assert_uint_eq(hashes[0], hashes[3]);
  ck_assert_uint_eq(hashes[0], hashes[4]);
  ck_assert_uint_ne(hashes[0], hashes[5]);
  ck_assert_uint_ne(hashes[2], hashes[5]);
}
END_TEST

static Suite *emu_suite(void) {
  Suite *s = suite_create("emu");
  TCase *grow = tcase_create("grow");
  tcase_add_test(grow, test_grow_doubles_from_first_and_keeps_contents);
  tcase_add_test(grow, test_grow_without_first_starts_at_one);
  tcase_add_test(grow, test_grow_overflow_fails_and_leaves_array_untouched);
  suite_add_tcase(s, grow);
  TCase *timer = tcase_create("timer");
  tcase_add_checked_fixture(timer, timer_setup, timer_teardown);
  tcase_add_test(timer, test_arm_posts_only_an_earlier_deadline);
  tcase_add_test(timer, test_superseded_timer_wakes_early_once_disarmed);
  tcase_add_test(timer, test_timer_older_than_a_rearm_is_stale);
  suite_add_tcase(s, timer);
  TCase *trace = tcase_create("trace");
  tcase_set_timeout(trace, 60);
  tcase_add_test(trace, test_trace_format_matches_snprintf);
  tcase_add_test(trace, test_trace_hash_follows_its_definition);
  tcase_add_test(trace, test_trace_hash_separates_near_traces);
  suite_add_tcase(s, trace);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(emu_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
