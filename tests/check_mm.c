/* Check suite for emu/mm: the memory models, shown with the classic litmus
 * tests (store buffering, message passing, coherence) run by two actors on
 * the deterministic scheduler. Each outcome a model allows must be found for
 * some seed, and each it forbids must never show, over every seed tried. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "emu/mm.h"
#include "emu/rng.h"
#include "emu/sched.h"
#include "emu/trace.h"

#define BASE  0x10000ull
#define SIZE  4096ull
#define X     (BASE + 0x100)
#define Y     (BASE + 0x200) /* another line */
#define DELAY 1000u
#define SEEDS 300u

/* What an actor does when an event of a kind reaches it. */
typedef enum {
  OP_STORE_X,
  OP_STORE_Y,
  OP_STORE_X2, /* X = 2 */
  OP_LOAD_X,
  OP_LOAD_Y,
  OP_STORE_X_MB_LOAD_Y,
  OP_STORE_Y_MB_LOAD_X,
  OP_STORE_X_LOAD_Y,
  OP_STORE_Y_LOAD_X,
  OP_STORE_X_WMB_Y,
  OP_STORE_X_Y,
  OP_LOAD_Y_RMB_X,
  OP_LOAD_Y_X,
} op;

typedef struct world {
  gmem mem;
  emu_rng rng;
  emu_sched sched;
  emu_trace trace;
  emu_mm mm;
  emu_actor a, b;
  uint32_t loads[64];
  unsigned nloads;
  uint64_t visible_at_x; /* from the trace */
} world;

static void load(world *w, uint64_t gpa) {
  uint32_t v = 0;
  ck_assert_int_eq(gmem_read_le32(&w->mem, gpa, &v), 0);
  if (w->nloads < 64) w->loads[w->nloads++] = v;
}

static void store(world *w, uint64_t gpa, uint32_t v) {
  ck_assert_int_eq(gmem_write_le32(&w->mem, gpa, v), 0);
}

static void run_op(emu_actor *self, const emu_event *ev) {
  world *w = self->ctx;
  switch ((op)ev->kind) {
    case OP_STORE_X:
      store(w, X, 1);
      break;
    case OP_STORE_Y:
      store(w, Y, 1);
      break;
    case OP_STORE_X2:
      store(w, X, 2);
      break;
    case OP_LOAD_X:
      load(w, X);
      break;
    case OP_LOAD_Y:
      load(w, Y);
      break;
    case OP_STORE_X_MB_LOAD_Y:
      store(w, X, 1), gmem_barrier(&w->mem, GMEM_MB), load(w, Y);
      break;
    case OP_STORE_Y_MB_LOAD_X:
      store(w, Y, 1), gmem_barrier(&w->mem, GMEM_MB), load(w, X);
      break;
    case OP_STORE_X_LOAD_Y:
      store(w, X, 1), load(w, Y);
      break;
    case OP_STORE_Y_LOAD_X:
      store(w, Y, 1), load(w, X);
      break;
    case OP_STORE_X_WMB_Y:
      store(w, X, 1), gmem_barrier(&w->mem, GMEM_WMB), store(w, Y, 1);
      break;
    case OP_STORE_X_Y:
      store(w, X, 1), store(w, Y, 1);
      break;
    case OP_LOAD_Y_RMB_X:
      load(w, Y), gmem_barrier(&w->mem, GMEM_RMB), load(w, X);
      break;
    case OP_LOAD_Y_X:
      load(w, Y), load(w, X);
      break;
  }
}

static void note_visible(void *ctx, const emu_trace_rec *r) {
  world *w = ctx;
  if (r->kind == EMU_TR_STORE_VISIBLE && (uint64_t)r->idx == X) w->visible_at_x = r->t_ns;
}

/* kind EMU_MM_SC: no model attached. */
static world *world_new(emu_mm_kind kind, uint64_t seed) {
  world *w = calloc(1, sizeof *w);
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(gmem_init(&w->mem, BASE, SIZE), 0);
  emu_rng_init(&w->rng, seed);
  emu_sched_init(&w->sched, &w->rng, 0);
  emu_trace_init(&w->trace, &w->sched.now_ns);
  emu_trace_set_observer(&w->trace, note_visible, w);
  w->visible_at_x = UINT64_MAX;
  ck_assert_int_eq(emu_actor_init(&w->a, &w->sched, "a", run_op, w), 0);
  ck_assert_int_eq(emu_actor_init(&w->b, &w->sched, "b", run_op, w), 0);
  if (kind != EMU_MM_SC)
    ck_assert_int_eq(emu_mm_init(&w->mm, kind, seed, DELAY, &w->mem, &w->sched, &w->trace), 0);
  return w;
}

static void world_free(world *w) {
  emu_mm_close(&w->mm);
  emu_sched_close(&w->sched);
  gmem_close(&w->mem);
  free(w);
}

static void post(emu_actor *to, uint64_t at, op o) {
  ck_assert_int_eq(emu_actor_post(to, at, (int)o, 0, 0, NULL, 0), 0);
}

/* Store buffering: a stores X then loads Y, b stores Y then loads X, at the
 * same instant. Both loads 0 means each load passed the other's store. */
static unsigned sb_both_zero(emu_mm_kind kind, op opa, op opb) {
  unsigned found = 0;
  for (uint64_t seed = 1; seed <= SEEDS; seed++) {
    world *w = world_new(kind, seed);
    post(&w->a, 10, opa);
    post(&w->b, 10, opb);
    emu_sched_run(&w->sched, EMU_TIME_NEVER, 1000);
    ck_assert_uint_eq(w->nloads, 2);
    found += w->loads[0] == 0 && w->loads[1] == 0;
    world_free(w);
  }
  return found;
}

START_TEST(test_store_buffering_shows_under_tso_and_weak_only_without_a_full_barrier) {
  ck_assert_uint_eq(sb_both_zero(EMU_MM_SC, OP_STORE_X_LOAD_Y, OP_STORE_Y_LOAD_X), 0);
  ck_assert_uint_gt(sb_both_zero(EMU_MM_TSO, OP_STORE_X_LOAD_Y, OP_STORE_Y_LOAD_X), 0);
  ck_assert_uint_gt(sb_both_zero(EMU_MM_WEAK, OP_STORE_X_LOAD_Y, OP_STORE_Y_LOAD_X), 0);
  ck_assert_uint_eq(sb_both_zero(EMU_MM_TSO, OP_STORE_X_MB_LOAD_Y, OP_STORE_Y_MB_LOAD_X), 0);
  ck_assert_uint_eq(sb_both_zero(EMU_MM_WEAK, OP_STORE_X_MB_LOAD_Y, OP_STORE_Y_MB_LOAD_X), 0);
}
END_TEST

/* Message passing: a writes data X then flag Y; b reads the flag, then the
 * data, at several later times. Flag 1 with data 0 is the stale read. */
static unsigned mp_stale(emu_mm_kind kind, op writer, op reader) {
  unsigned found = 0;
  for (uint64_t seed = 1; seed <= SEEDS; seed++) {
    world *w = world_new(kind, seed);
    post(&w->a, 10, writer);
    for (uint64_t t = 10; t <= 10 + 2 * DELAY; t += DELAY / 8) post(&w->b, t, reader);
    emu_sched_run(&w->sched, EMU_TIME_NEVER, 1000);
    for (unsigned i = 0; i + 1 < w->nloads; i += 2)
      found += w->loads[i] == 1 && w->loads[i + 1] == 0;
    world_free(w);
  }
  return found;
}

START_TEST(test_message_passing_needs_both_barriers_under_weak_and_none_under_tso) {
  ck_assert_uint_eq(mp_stale(EMU_MM_SC, OP_STORE_X_Y, OP_LOAD_Y_X), 0);
  ck_assert_uint_eq(mp_stale(EMU_MM_TSO, OP_STORE_X_Y, OP_LOAD_Y_X), 0);
  ck_assert_uint_gt(mp_stale(EMU_MM_WEAK, OP_STORE_X_Y, OP_LOAD_Y_RMB_X), 0);
  ck_assert_uint_gt(mp_stale(EMU_MM_WEAK, OP_STORE_X_WMB_Y, OP_LOAD_Y_X), 0);
  ck_assert_uint_eq(mp_stale(EMU_MM_WEAK, OP_STORE_X_WMB_Y, OP_LOAD_Y_RMB_X), 0);
}
END_TEST

START_TEST(test_a_store_reaches_the_other_actor_at_the_traced_time_and_its_own_loads_at_once) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    world *w = world_new(EMU_MM_TSO, seed);
    post(&w->a, 10, OP_STORE_X);
    post(&w->a, 10, OP_LOAD_X); /* its own store, forwarded */
    emu_sched_run(&w->sched, 10, 100);
    const emu_mm_store *st;
    ck_assert_uint_eq(emu_mm_pending(&w->mm, 0, &st), w->visible_at_x == UINT64_MAX ? 1 : 0);
    uint64_t due = w->visible_at_x == UINT64_MAX ? st[0].visible_at : w->visible_at_x;
    ck_assert_uint_le(due, 10 + DELAY);
    if (due > 10) post(&w->b, due - 1, OP_LOAD_X);
    post(&w->b, due, OP_LOAD_X);
    emu_sched_run(&w->sched, EMU_TIME_NEVER, 100);
    ck_assert_uint_eq(w->loads[0], 1);
    /* read back from its own buffer exactly when it was still there */
    ck_assert_uint_eq(w->mm.stats.loads_forwarded, due > 10 ? 1 : 0);
    if (due > 10) ck_assert_uint_eq(w->loads[1], 0);
    ck_assert_uint_eq(w->loads[w->nloads - 1], 1);
    ck_assert_uint_eq(w->visible_at_x, due);
    world_free(w);
  }
}
END_TEST

START_TEST(test_one_location_is_seen_in_store_order_under_weak) {
  for (uint64_t seed = 1; seed <= SEEDS; seed++) {
    world *w = world_new(EMU_MM_WEAK, seed);
    post(&w->a, 10, OP_STORE_X);
    post(&w->a, 10, OP_STORE_X2);
    for (uint64_t t = 10; t <= 10 + 2 * DELAY; t += DELAY / 16) post(&w->b, t, OP_LOAD_X);
    emu_sched_run(&w->sched, EMU_TIME_NEVER, 1000);
    for (unsigned i = 1; i < w->nloads; i++) ck_assert_uint_ge(w->loads[i], w->loads[i - 1]);
    ck_assert_uint_eq(w->loads[w->nloads - 1], 2);
    world_free(w);
  }
}
END_TEST

START_TEST(test_access_outside_any_actor_is_global_and_close_lands_what_is_buffered) {
  world *w = world_new(EMU_MM_WEAK, 7);
  store(w, X, 5); /* no handler running: visible at once */
  uint32_t v = 0;
  ck_assert_int_eq(gmem_peek_le32(&w->mem, X, &v), 0);
  ck_assert_uint_eq(v, 5);
  /* a seed whose store is still buffered after its handler */
  post(&w->a, 10, OP_STORE_Y);
  emu_sched_run(&w->sched, 10, 10);
  const emu_mm_store *st;
  ck_assert_uint_eq(emu_mm_pending(&w->mm, 0, &st), 1);
  ck_assert_uint_gt(st[0].visible_at, 10);
  ck_assert_int_eq(gmem_peek_le32(&w->mem, Y, &v), 0);
  ck_assert_uint_eq(v, 0);
  emu_mm_close(&w->mm);
  ck_assert_int_eq(gmem_peek_le32(&w->mem, Y, &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_ptr_null(w->mem.mm);
  world_free(w);
}
END_TEST

START_TEST(test_out_of_range_is_refused_as_without_a_model) {
  world *w = world_new(EMU_MM_TSO, 1);
  uint16_t v16 = 9;
  ck_assert_int_eq(gmem_read_le16(&w->mem, BASE + SIZE - 1, &v16), EMU_ERANGE);
  ck_assert_uint_eq(v16, 9);
  ck_assert_int_eq(gmem_write_le64(&w->mem, BASE + SIZE - 4, 1), EMU_ERANGE);
  ck_assert_int_eq(gmem_write(&w->mem, UINT64_MAX, "x", 1), EMU_ERANGE);
  ck_assert_int_eq(gmem_fill(&w->mem, BASE - 1, 0, 2), EMU_ERANGE);
  world_free(w);
}
END_TEST

START_TEST(test_kind_names_parse_back) {
  for (int k = 0; k < EMU_MM_KIND_COUNT; k++) {
    emu_mm_kind back;
    ck_assert_int_eq(emu_mm_kind_parse(emu_mm_kind_name((emu_mm_kind)k), &back), 0);
    ck_assert_int_eq(back, k);
  }
  emu_mm_kind out;
  ck_assert_int_eq(emu_mm_kind_parse("arm", &out), EMU_EINVAL);
  ck_assert_int_eq(emu_mm_kind_parse(NULL, &out), EMU_EINVAL);
  emu_mm mm;
  gmem g;
  emu_sched s;
  emu_rng r;
  emu_rng_init(&r, 1);
  emu_sched_init(&s, &r, 0);
  ck_assert_int_eq(gmem_init(&g, BASE, SIZE), 0);
  ck_assert_int_eq(emu_mm_init(&mm, EMU_MM_SC, 1, DELAY, &g, &s, NULL), EMU_EINVAL);
  ck_assert_ptr_null(g.mm);
  gmem_close(&g);
}
END_TEST

static Suite *mm_suite(void) {
  Suite *s = suite_create("mm");
  TCase *lit = tcase_create("litmus");
  tcase_set_timeout(lit, 60);
  tcase_add_test(lit, test_store_buffering_shows_under_tso_and_weak_only_without_a_full_barrier);
  tcase_add_test(lit, test_message_passing_needs_both_barriers_under_weak_and_none_under_tso);
  tcase_add_test(lit, test_one_location_is_seen_in_store_order_under_weak);
  suite_add_tcase(s, lit);
  TCase *basic = tcase_create("basic");
  tcase_add_test(basic,
                 test_a_store_reaches_the_other_actor_at_the_traced_time_and_its_own_loads_at_once);
  tcase_add_test(basic, test_access_outside_any_actor_is_global_and_close_lands_what_is_buffered);
  tcase_add_test(basic, test_out_of_range_is_refused_as_without_a_model);
  tcase_add_test(basic, test_kind_names_parse_back);
  suite_add_tcase(s, basic);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(mm_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
