/* libFuzzer target: the memory models (emu/mm.h). The input is a program for
 * two actors over one small region of guest memory: stores, loads and the
 * three barriers, each by one actor at the current virtual time, and steps
 * of time, during which stores become visible on the model's own timer.
 * Each actor stores only into its own half of the region, and the bytes of
 * its k-th store are all k: so what the other actor reads tells whose store,
 * and which, it saw.
 *
 * Oracles, besides ASan and UBSan:
 *  - an actor reads back its own last store at every byte of its half, at
 *    once and ever after (store forwarding; a store is never undone);
 *  - what an actor reads at a byte of the other half never goes back to an
 *    older store (coherence: one location's stores are seen in order);
 *  - after both actors' full barriers, in that order, the second reads the
 *    first's stores from before its barrier, or newer ones;
 *  - when the model closes, memory holds each byte's last store.
 *
 * Input: byte 0 = model (bit 0: tso or weak) and delay code (bits 1-3: the
 * largest delay is 2^code * 64 ns), then operations: an opcode byte whose
 * bit 7 names the actor, and that operation's arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/gmem.h"
#include "emu/mm.h"
#include "emu/sched.h"
#include "fuzz/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HALF       256u /* each actor's half of the region */
#define MAX_STORES 250u /* per actor: store k writes bytes of value k (1..250) */
#define MAX_LEN    24u  /* a store or load is 1..24 bytes */

enum { OP_STORE, OP_LOAD, OP_WMB, OP_RMB, OP_MB, OP_WAIT, OP_COUNT };

typedef struct actor_view {
  uint8_t stores;      /* stores made so far */
  uint8_t own[HALF];   /* its last store at each byte of its half */
  uint8_t seen[HALF];  /* the newest store it saw at each byte of the other half */
  uint8_t at_mb[HALF]; /* own[] when it last made a full barrier */
  uint64_t mb_at;      /* when; 0 for never (time starts at 1) */
} actor_view;

typedef struct rig {
  gmem mem;
  emu_rng rng;
  emu_sched sched;
  emu_actor actor[2];
  emu_mm mm;
  actor_view v[2];
} rig;

static void no_events(emu_actor *self, const emu_event *ev) {
  (void)self;
  (void)ev;
}

static uint64_t half_base(const rig *r, int a) { return r->mem.base + (uint64_t)a * HALF; }

/* The scheduler has the actor's handler running while it acts. */
static void as_actor(rig *r, int a) { r->sched.running = a; }

static void do_store(rig *r, int a, uint8_t off, uint8_t len_code) {
  actor_view *v = &r->v[a];
  if (v->stores == MAX_STORES) return;
  unsigned len = 1u + len_code % MAX_LEN;
  if (off + len > HALF) len = HALF - off;
  uint8_t bytes[MAX_LEN];
  memset(bytes, ++v->stores, len);
  as_actor(r, a);
  if (gmem_write(&r->mem, half_base(r, a) + off, bytes, len)) abort();
  memset(v->own + off, v->stores, len);
}

static void do_load(rig *r, int a, int other, uint8_t off, uint8_t len_code) {
  unsigned len = 1u + len_code % MAX_LEN;
  if (off + len > HALF) len = HALF - off;
  int half = other ? 1 - a : a;
  uint8_t got[MAX_LEN];
  as_actor(r, a);
  if (gmem_read(&r->mem, half_base(r, half) + off, got, len)) abort();
  actor_view *v = &r->v[a];
  const actor_view *w = &r->v[half];
  for (unsigned i = 0; i < len; i++) {
    if (!other) {
      if (got[i] != v->own[off + i]) abort(); /* lost its own store */
      continue;
    }
    if (got[i] > w->stores) abort();        /* a store that was never made */
    if (got[i] < v->seen[off + i]) abort(); /* went back to an older store */
    /* both full barriers, the other's first: its earlier stores are here */
    if (w->mb_at && v->mb_at >= w->mb_at && got[i] < w->at_mb[off + i]) abort();
    v->seen[off + i] = got[i];
  }
}

static void do_barrier(rig *r, int a, gmem_barrier_kind kind) {
  as_actor(r, a);
  gmem_barrier(&r->mem, kind);
  if (kind != GMEM_MB) return;
  actor_view *v = &r->v[a];
  memcpy(v->at_mb, v->own, HALF);
  v->mb_at = r->sched.now_ns;
}

/* Time passes; the model's timer makes stores visible meanwhile. The clock
 * stops at the end of the wait, never past it: an event still queued is
 * later, so time never goes back when it runs (it did when the wait was
 * added again after the events, from the last event's time). */
static void do_wait(rig *r, uint8_t steps) {
  uint64_t until = r->sched.now_ns + (uint64_t)steps * 37u;
  r->sched.running = -1;
  if (emu_sched_next_at(&r->sched) < r->sched.now_ns) abort(); /* an event left in the past */
  emu_sched_run(&r->sched, until, UINT64_MAX);
  r->sched.now_ns = until;
}

static void run_program(rig *r, fuzz_in *in) {
  uint8_t op, arg[2];
  while (take(in, &op, 1)) {
    int a = op >> 7;
    switch ((op & 0x7f) % OP_COUNT) {
      case OP_STORE:
        if (!take(in, arg, 2)) return;
        do_store(r, a, arg[0], arg[1]);
        break;
      case OP_LOAD:
        if (!take(in, arg, 2)) return;
        do_load(r, a, arg[1] >> 7, arg[0], arg[1] & 0x7f);
        break;
      case OP_WMB:
        do_barrier(r, a, GMEM_WMB);
        break;
      case OP_RMB:
        do_barrier(r, a, GMEM_RMB);
        break;
      case OP_MB:
        do_barrier(r, a, GMEM_MB);
        break;
      default:
        if (!take(in, arg, 1)) return;
        do_wait(r, arg[0]);
        break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rig r;
  fuzz_in in = {data, size};
  uint8_t shape;
  if (!take(&in, &shape, 1)) return 0;
  memset(r.v, 0, sizeof r.v);
  if (gmem_init(&r.mem, GMEM_DEFAULT_BASE, 2 * HALF)) abort();
  emu_rng_init(&r.rng, 1);
  emu_sched_init(&r.sched, &r.rng, 1);
  for (int a = 0; a < 2; a++)
    if (emu_actor_init(&r.actor[a], &r.sched, a ? "device" : "driver", no_events, NULL)) abort();
  emu_mm_kind kind = shape & 1 ? EMU_MM_WEAK : EMU_MM_TSO;
  if (emu_mm_init(&r.mm, kind, shape, 64u << ((shape >> 1) & 7), &r.mem, &r.sched, NULL)) abort();
  run_program(&r, &in);
  r.sched.running = -1;
  emu_mm_close(&r.mm);
  for (int a = 0; a < 2; a++)
    if (memcmp(r.mem.host + (size_t)a * HALF, r.v[a].own, HALF)) abort(); /* a store lost */
  emu_sched_close(&r.sched);
  gmem_close(&r.mem);
  return 0;
}
