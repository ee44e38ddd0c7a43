/* Check suite for emu's small helpers: the growing array and an actor's
 * earliest-deadline timer. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "emu/grow.h"
#include "emu/rng.h"
#include "emu/sched.h"

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
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(emu_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
