/* Memory models for guest memory: when a store one actor makes becomes
 * visible to the others, and how early a load may be satisfied.
 *
 *   sc    Sequential consistency: every store is visible the moment it is
 *         made. No model is attached to guest memory at all (gmem's own
 *         path), so sc costs nothing.
 *   tso   Total store order, as x86 has it: each actor has a FIFO store
 *         buffer. A store becomes visible to the others at a seeded later
 *         time, never before a store the same actor made earlier; a load
 *         reads the actor's own buffered stores first. A full barrier
 *         empties the buffer. So a load can pass an earlier store (the
 *         store->load reordering behind lost wakeups), nothing else.
 *   weak  As Arm, RISC-V or POWER allow: stores become visible out of order
 *         (but one location's stores stay in order), and a load may be
 *         satisfied early, from memory as it was at a seeded earlier time,
 *         never older than what the same actor read at the same place
 *         before. A write barrier orders the stores before it ahead of those
 *         after it; a read barrier keeps later loads from being satisfied
 *         earlier than the loads before it; a full barrier does both and
 *         empties the buffer.
 *
 * The barriers are Linux's virtio_wmb(), virtio_rmb() and virtio_mb().
 * Everything is deterministic: the model's own PRNG, seeded from the run's
 * seed, decides every delay and every early load, and each store's becoming
 * visible is a trace event (store_visible: idx = guest address, len).
 *
 * Who is storing or loading is the actor whose handler the scheduler is
 * running (emu_sched.running). An access made outside any handler (set-up,
 * an embedder between runs) sees and changes memory as it is globally
 * visible now. Observers that must not disturb the run read with
 * gmem_peek(). */
#ifndef VNETSIM_EMU_MM_H
#define VNETSIM_EMU_MM_H

#include <stddef.h>
#include <stdint.h>

#include "emu/gmem.h"
#include "emu/rng.h"
#include "emu/sched.h"
#include "emu/trace.h"

typedef enum emu_mm_kind { EMU_MM_SC, EMU_MM_TSO, EMU_MM_WEAK, EMU_MM_KIND_COUNT } emu_mm_kind;

const char *emu_mm_kind_name(emu_mm_kind kind); /* "sc", "tso", "weak" */
/* EMU_EINVAL for a name that is none of them. */
int emu_mm_kind_parse(const char *name, emu_mm_kind *out);

/* The default for how late a store may become visible: a few times the
 * modelled kick and rearm latencies, so that a missing barrier shows within
 * the time the other side takes to look. */
#define EMU_MM_DEFAULT_DELAY_NS 2000u

/* One buffered store, in its actor's program order. A ring's own stores
 * (at most a descriptor, 16 bytes) are kept in place; a buffer's bytes in
 * an allocation of their own. */
#define EMU_MM_SMALL 16u
typedef struct emu_mm_store {
  uint64_t gpa, visible_at, seq;
  uint32_t len;
  uint8_t *big; /* len bytes, owned, when len > EMU_MM_SMALL */
  uint8_t small[EMU_MM_SMALL];
} emu_mm_store;

static inline const uint8_t *emu_mm_store_bytes(const emu_mm_store *st) {
  return st->len > EMU_MM_SMALL ? st->big : st->small;
}

/* Locations an actor has loaded since its last read barrier, with the time
 * each load was satisfied at: a later load of the same place must not be
 * satisfied earlier (coherence). Tracked per 64-byte line. */
#define EMU_MM_SEEN_LINES 64u
#define EMU_MM_LINE       64u

typedef struct emu_mm_cpu {
  emu_mm_store *pending; /* program order */
  size_t npending, cap;
  uint64_t last_visible;  /* tso: the buffer drains in order */
  uint64_t release_floor; /* weak: stores after a wmb are not visible before this */
  uint64_t load_floor;    /* weak: loads are not satisfied before this */
  uint64_t max_load_at;   /* weak: the latest time a load was satisfied at since a barrier */
  uint64_t seen_line[EMU_MM_SEEN_LINES], seen_at[EMU_MM_SEEN_LINES];
  unsigned nseen;
} emu_mm_cpu;

/* A store that became visible, kept (weak only) while a load may still be
 * satisfied from before it. */
typedef struct emu_mm_undo {
  uint64_t gpa, visible_at;
  uint32_t len;
  int cpu;
  uint8_t *old; /* the bytes it replaced, owned */
} emu_mm_undo;

/* A store due to become visible, while the model settles: in its buffer
 * (st), then landed (what its trace record and release need). */
typedef struct emu_mm_due {
  const emu_mm_store *st;
  int cpu;
  uint64_t gpa;
  uint32_t len;
  uint8_t *big;
} emu_mm_due;

typedef struct emu_mm_stats {
  /* stores that waited in a buffer; loads that read (some of) their
   * actor's own buffered stores; weak loads satisfied before now */
  uint64_t stores_buffered, loads_forwarded, loads_early, barriers[3];
  uint64_t max_pending;    /* the most stores buffered at once, all actors */
  uint64_t alloc_failures; /* stores made visible at once for want of memory */
} emu_mm_stats;

typedef struct emu_mm {
  emu_mm_kind kind;
  uint64_t max_delay_ns;
  emu_rng rng;
  gmem *mem;
  emu_sched *sched; /* the clock and who is running */
  /* Stores become visible on time as this actor's timer fires, so the trace
   * stamps store_visible with the exact time. */
  emu_actor actor;
  uint64_t timer_at;
  emu_trace *trace;
  uint64_t next_due; /* earliest visible_at over every buffer */
  uint64_t seq;
  emu_mm_cpu cpu[EMU_SCHED_MAX_ACTORS];
  emu_mm_undo *hist; /* commit order */
  size_t nhist, hist_cap, hist_first;
  uint64_t undo_gap; /* no load is satisfied before this: history was lost here */
  emu_mm_due *due;   /* scratch for emu_mm_settle */
  size_t due_cap;
  emu_mm_stats stats;
} emu_mm;

/* A model of `kind` (tso or weak) over m, on s's clock (an actor of its own,
 * "memory", joins s), tracing into t (may be NULL); attaches itself to m.
 * Stores become visible 0..max_delay_ns after they are made. EMU_EINVAL for
 * sc, which is no model; emu_actor_init()'s errors. */
int emu_mm_init(emu_mm *mm, emu_mm_kind kind, uint64_t seed, uint64_t max_delay_ns, gmem *m,
                emu_sched *s, emu_trace *t);
/* Makes every buffered store visible, detaches from guest memory and frees.
 * Call it once the scheduler runs no more events; the timer events the
 * model's actor has queued stay the scheduler's, freed by emu_sched_close()
 * before or after this. */
void emu_mm_close(emu_mm *mm);

/* On a real CPU the instructions between a publishing store and the
 * barrier after it take time, and the other side can look in between. A
 * modelled half runs such a path in two steps this many ns apart (drawn
 * from the model's PRNG, 0..max_delay_ns); 0 without a model, where the
 * path runs in one step as before. */
uint64_t gmem_mm_gap_ns(const gmem *m);

/* The stores buffered for actor `cpu` (its index in the scheduler), oldest
 * first: what teach draws. */
size_t emu_mm_pending(const emu_mm *mm, int cpu, const emu_mm_store **out);
/* The actor an index names ("driver", "device", ...), NULL past the end. */
const char *emu_mm_cpu_name(const emu_mm *mm, int cpu);

#endif
