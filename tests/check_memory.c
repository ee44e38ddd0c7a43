/* The missing-barrier bugs as a user finds them with the command: each
 * switch found by explore under the weakest memory model that allows it,
 * with its symptom, reproduced from the seed, and never under the stronger
 * model; the correct models under tso and weak against sc over 10,000
 * seeds. Under the sanitizers, where every run is several times slower,
 * the sweeps are shorter, and the output says so. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/cli_run.h"

#if defined(__SANITIZE_ADDRESS__)
#define VNETSIM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VNETSIM_SANITIZED 1
#endif
#endif
#ifdef VNETSIM_SANITIZED
#define FIXED_SEEDS    300u
#define STRONGER_SEEDS 100u
#else
#define FIXED_SEEDS    10000u
#define STRONGER_SEEDS 300u
#endif

/* Each missing-barrier switch: explore finds it under the weakest memory
 * model that allows it, within the seeds named here, with its symptom (fewer
 * frames back at the host; a lost wakeup leaves a frame rx_not_consumed),
 * and reproduces it from the seed; under the next stronger model it never
 * shows. The seed found is printed: docs/MEMORY.md lists them. */
static const struct {
  const char *bug, *model, *stronger;
  unsigned seeds;
  const char *symptom; /* in the JSON answer, or NULL */
  unsigned delay_ns;   /* --latency memory=N, 0: the default (2000) */
  const char *ring;    /* "packed" for the packed ring's own, NULL: split */
} memory_bugs[] = {
    /* rare at the default delay (seed 1603): stores landing later show it
     * sooner (seed 259 at 4000 ns) */
    {"avail-idx-no-wmb", "weak", "tso", 1000, NULL, 4000, NULL},
    {"kick-check-no-mb", "tso", "sc", 1000, NULL, 0, NULL},
    {"used-idx-no-rmb", "weak", "tso", 100, NULL, 0, NULL},
    {"irq-enable-no-mb", "tso", "sc", 100, "\"buggy_fate\":\"rx_not_consumed\"", 0, NULL},
    {"dev-used-idx-no-wmb", "weak", "tso", 100, NULL, 0, NULL},
    {"dev-irq-check-no-mb", "tso", "sc", 100, "\"buggy_fate\":\"rx_not_consumed\"", 0, NULL},
    {"dev-avail-event-no-mb", "tso", "sc", 100, NULL, 0, NULL},
    {"dev-avail-idx-no-rmb", "weak", "tso", 100, NULL, 0, NULL},
    {"dev-packed-used-no-wmb", "weak", "tso", 100, NULL, 0, "packed"},
};

static uint64_t json_number(const char *key) {
  const char *p = strstr(out_buf, key);
  ck_assert_msg(p != NULL, "no %s in %s", key, out_buf);
  return strtoull(p + strlen(key), NULL, 10);
}

START_TEST(test_explore_finds_each_missing_barrier_under_its_model_only) {
  char args[256];
  char delay[64] = "";
  if (memory_bugs[_i].delay_ns)
    snprintf(delay, sizeof delay, " --latency memory=%u", memory_bugs[_i].delay_ns);
  if (memory_bugs[_i].ring)
    snprintf(delay + strlen(delay), sizeof delay - strlen(delay), " --ring %s",
             memory_bugs[_i].ring);
  snprintf(args, sizeof args, "explore --bug %s --memory %s --seeds 1..%u --json --jobs 2%s",
           memory_bugs[_i].bug, memory_bugs[_i].model, memory_bugs[_i].seeds, delay);
  ck_assert_msg(run(args) == 0, "%s: %s%s", args, out_buf, err_buf);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"found\":true"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"reproduced\":true"));
  ck_assert_uint_lt(json_number("\"frames_out_buggy\":"), json_number("\"frames_out_fixed\":"));
  if (memory_bugs[_i].symptom) ck_assert_ptr_nonnull(strstr(out_buf, memory_bugs[_i].symptom));
  printf("%s under --memory %s%s: seed %" PRIu64 "\n", memory_bugs[_i].bug, memory_bugs[_i].model,
         delay, json_number("\"seed\":"));
  snprintf(args, sizeof args, "explore --bug %s --memory %s --seeds 1..%u --jobs 2%s",
           memory_bugs[_i].bug, memory_bugs[_i].stronger, STRONGER_SEEDS, delay);
  ck_assert_msg(run(args) == 1, "%s: %s", args, out_buf);
}
END_TEST

/* The correct driver and device under tso and weak give every frame the
 * fate it has under sc, on split rings and on packed ones: vnetsim's own
 * barriers are all there. */
START_TEST(test_the_fixed_models_show_nothing_over_10000_seeds) {
  const char *model = _i % 2 ? "weak" : "tso", *ring = _i / 2 ? "packed" : "split";
  char args[160], want[64];
  snprintf(args, sizeof args, "explore --bug none --memory %s --ring %s --seeds 1..%u --bursts 8",
           model, ring, FIXED_SEEDS);
  ck_assert_msg(run(args) == 1, "%s: %s", args, out_buf);
  snprintf(want, sizeof want, "does not show in seeds 1..%u", FIXED_SEEDS);
  ck_assert_ptr_nonnull(strstr(out_buf, want));
  printf("the correct models under %s on %s rings: no seed of 1..%u differs from sc%s\n", model,
         ring, FIXED_SEEDS, FIXED_SEEDS < 10000 ? " (10,000 in the build without sanitizers)" : "");
  ck_assert_int_eq(run("explore --bug none --seeds 1..2"), 2); /* nothing to compare under sc */
}
END_TEST

static Suite *memory_suite(void) {
  Suite *s = suite_create("memory");
  TCase *tc = tcase_create("explore");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 280);
  tcase_add_loop_test(tc, test_explore_finds_each_missing_barrier_under_its_model_only, 0,
                      (int)(sizeof memory_bugs / sizeof memory_bugs[0]));
  tcase_add_loop_test(tc, test_the_fixed_models_show_nothing_over_10000_seeds, 0, 4);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(memory_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
