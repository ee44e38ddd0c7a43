#include "emu/mm.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"

/* The model's PRNG is its own, so that under tso or weak the scheduler's
 * draws stay those of the sc run with the same seed. */
#define EMU_MM_SEED_SALT 0x6d656d6f72790001ull

static const char *const emu_mm_names[EMU_MM_KIND_COUNT] = {"sc", "tso", "weak"};
static const char *const emu_mm_barrier_names[] = {"wmb", "rmb", "mb"};

enum { EMU_MM_EV_DUE = 1 };

const char *emu_mm_kind_name(emu_mm_kind kind) {
  return (unsigned)kind < EMU_MM_KIND_COUNT ? emu_mm_names[kind] : "unknown";
}

int emu_mm_kind_parse(const char *name, emu_mm_kind *out) {
  for (int k = 0; k < EMU_MM_KIND_COUNT; k++)
    if (name && !strcmp(name, emu_mm_names[k])) {
      *out = (emu_mm_kind)k;
      return 0;
    }
  return EMU_EINVAL;
}

static uint64_t emu_mm_now(const emu_mm *mm) { return mm->sched->now_ns; }

const char *emu_mm_cpu_name(const emu_mm *mm, int cpu) {
  return cpu >= 0 && cpu < mm->sched->nactors ? mm->sched->actors[cpu]->name : NULL;
}

static int emu_mm_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

/* --- stores becoming visible ------------------------------------------ */

/* Keeps what a visible store replaced while a weak load may still be
 * satisfied from before it; a failed allocation only makes loads less
 * early (they cannot go back past a store whose old bytes are gone). */
static void emu_mm_keep_undo(emu_mm *mm, const emu_mm_store *st, int cpu) {
  uint8_t *old = malloc(st->len);
  emu_mm_undo *grown =
      old ? emu_grow(mm->hist, &mm->hist_cap, mm->nhist + 1, sizeof *grown, 64) : NULL;
  if (!grown) {
    free(old);
    mm->stats.alloc_failures++;
    mm->undo_gap = emu_mm_now(mm);
    return;
  }
  mm->hist = grown;
  memcpy(old, mm->mem->host + (st->gpa - mm->mem->base), st->len);
  mm->hist[mm->nhist++] = (emu_mm_undo){st->gpa, st->visible_at, st->len, cpu, old};
}

/* Forgets stores no load can be satisfied from before any more: a load is
 * never earlier than now - max_delay_ns. */
static void emu_mm_prune_undo(emu_mm *mm) {
  uint64_t now = emu_mm_now(mm);
  uint64_t horizon = now > mm->max_delay_ns ? now - mm->max_delay_ns : 0;
  size_t drop = mm->hist_first;
  while (drop < mm->nhist && mm->hist[drop].visible_at < horizon) free(mm->hist[drop++].old);
  mm->hist_first = drop;
  if (drop > 64 && drop * 2 > mm->nhist) {
    memmove(mm->hist, mm->hist + drop, (mm->nhist - drop) * sizeof *mm->hist);
    mm->nhist -= drop;
    mm->hist_first = 0;
  }
}

/* A store becomes visible in two halves: it lands in memory (and leaves
 * its buffer), then it is traced and its bytes freed. Between the two every
 * store due has landed and left: an observer of the trace sees memory and
 * the buffers as they are after all of them. */
static void emu_mm_land(emu_mm *mm, emu_mm_due *d) {
  const emu_mm_store *st = d->st;
  if (mm->kind == EMU_MM_WEAK) emu_mm_keep_undo(mm, st, d->cpu);
  memcpy(mm->mem->host + (st->gpa - mm->mem->base), emu_mm_store_bytes(st), st->len);
  d->gpa = st->gpa;
  d->len = st->len;
  d->big = st->big;
  d->st = NULL; /* it leaves its buffer next */
}

static void emu_mm_announce(emu_mm *mm, const emu_mm_due *d) {
  EMU_TRACE_EMIT(mm->trace, .actor = emu_mm_cpu_name(mm, d->cpu), .kind = EMU_TR_STORE_VISIBLE,
                 .idx = (int64_t)d->gpa, .len = d->len);
  free(d->big);
}

static void emu_mm_arm(emu_mm *mm) {
  if (emu_actor_arm(&mm->actor, &mm->timer_at, mm->next_due, EMU_MM_EV_DUE))
    mm->stats.alloc_failures++; /* the next access still makes them visible */
}

/* The buffered store due first, by (visible_at, seq): the order the
 * memory system takes them in. */
static int emu_mm_first_due(const emu_mm *mm, uint64_t now, int *cpu, size_t *at) {
  const emu_mm_store *best = NULL;
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++)
    for (size_t i = 0; i < mm->cpu[c].npending; i++) {
      const emu_mm_store *st = &mm->cpu[c].pending[i];
      if (st->visible_at > now) continue;
      if (!best || st->visible_at < best->visible_at ||
          (st->visible_at == best->visible_at && st->seq < best->seq)) {
        best = st;
        *cpu = c;
        *at = i;
      }
    }
  return best != NULL;
}

/* Lands the store due first by `now` and takes it out of its buffer; 0
 * when none is due. */
static int emu_mm_land_first(emu_mm *mm, uint64_t now, emu_mm_due *d) {
  int cpu;
  size_t at;
  if (!emu_mm_first_due(mm, now, &cpu, &at)) return 0;
  emu_mm_cpu *c = &mm->cpu[cpu];
  *d = (emu_mm_due){&c->pending[at], cpu, 0, 0, NULL};
  emu_mm_land(mm, d);
  memmove(c->pending + at, c->pending + at + 1, (c->npending - at - 1) * sizeof *c->pending);
  c->npending--;
  return 1;
}

static void emu_mm_recompute_due(emu_mm *mm) {
  mm->next_due = EMU_TIME_NEVER;
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++)
    for (size_t i = 0; i < mm->cpu[c].npending; i++)
      if (mm->cpu[c].pending[i].visible_at < mm->next_due)
        mm->next_due = mm->cpu[c].pending[i].visible_at;
}

static int emu_mm_due_cmp(const void *x, const void *y) {
  const emu_mm_due *a = x, *b = y;
  if (a->st->visible_at != b->st->visible_at) return a->st->visible_at < b->st->visible_at ? -1 : 1;
  return (a->st->seq > b->st->seq) - (a->st->seq < b->st->seq);
}

/* Gathers the stores due by now in the model's scratch list, in the order
 * they become visible. 0, or EMU_ENOMEM (nothing gathered). */
static int emu_mm_gather_due(emu_mm *mm, uint64_t now, size_t *n) {
  *n = 0;
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++)
    for (size_t i = 0; i < mm->cpu[c].npending; i++) *n += mm->cpu[c].pending[i].visible_at <= now;
  emu_mm_due *grown = emu_grow(mm->due, &mm->due_cap, *n, sizeof *grown, 64);
  if (!grown) return EMU_ENOMEM;
  mm->due = grown;
  size_t k = 0;
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++)
    for (size_t i = 0; i < mm->cpu[c].npending; i++)
      if (mm->cpu[c].pending[i].visible_at <= now)
        mm->due[k++] = (emu_mm_due){&mm->cpu[c].pending[i], c, 0, 0, NULL};
  qsort(mm->due, k, sizeof *mm->due, emu_mm_due_cmp);
  return 0;
}

/* Drops the stores made visible (due by now) from every buffer. */
static void emu_mm_compact(emu_mm *mm, uint64_t now) {
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++) {
    emu_mm_cpu *cp = &mm->cpu[c];
    size_t keep = 0;
    for (size_t i = 0; i < cp->npending; i++)
      if (cp->pending[i].visible_at > now) cp->pending[keep++] = cp->pending[i];
    cp->npending = keep;
  }
}

/* Makes every store due by now visible, in order. */
static void emu_mm_settle(emu_mm *mm) {
  uint64_t now = emu_mm_now(mm);
  if (now < mm->next_due) return;
  size_t n;
  if (!emu_mm_gather_due(mm, now, &n)) {
    for (size_t k = 0; k < n; k++) emu_mm_land(mm, &mm->due[k]);
    emu_mm_compact(mm, now);
    for (size_t k = 0; k < n; k++) emu_mm_announce(mm, &mm->due[k]);
  } else {
    /* no memory for the list: one at a time, slower, the same order */
    emu_mm_due d;
    while (emu_mm_land_first(mm, now, &d)) emu_mm_announce(mm, &d);
  }
  emu_mm_recompute_due(mm);
  if (mm->kind == EMU_MM_WEAK) emu_mm_prune_undo(mm);
  emu_mm_arm(mm);
}

static void emu_mm_on_due(emu_actor *self, const emu_event *ev) {
  emu_mm *mm = self->ctx;
  if (!emu_actor_timer_due(&mm->timer_at, ev)) return;
  emu_mm_settle(mm);
}

/* Every store of cpu's buffer becomes visible now, in program order. */
static void emu_mm_drain_cpu(emu_mm *mm, int cpu) {
  uint64_t now = emu_mm_now(mm);
  emu_mm_cpu *c = &mm->cpu[cpu];
  for (size_t i = 0; i < c->npending; i++) c->pending[i].visible_at = now;
  if (c->npending) mm->next_due = now;
  emu_mm_settle(mm);
}

/* --- the running actor's accesses --------------------------------------- */

static uint64_t emu_mm_visible_at(emu_mm *mm, emu_mm_cpu *c, uint64_t gpa, size_t len) {
  uint64_t at = emu_mm_now(mm) + emu_rng_range(&mm->rng, 0, mm->max_delay_ns);
  if (mm->kind == EMU_MM_TSO) {
    if (at < c->last_visible) at = c->last_visible;
    c->last_visible = at;
    return at;
  }
  if (at < c->release_floor) at = c->release_floor;
  /* one location's stores stay in program order (coherence) */
  for (size_t i = 0; i < c->npending; i++)
    if (emu_mm_overlap(gpa, len, c->pending[i].gpa, c->pending[i].len) &&
        c->pending[i].visible_at > at)
      at = c->pending[i].visible_at;
  return at;
}

static int emu_mm_buffer(emu_mm *mm, int cpu, uint64_t gpa, const uint8_t *src, size_t len) {
  emu_mm_cpu *c = &mm->cpu[cpu];
  uint8_t *big = len > EMU_MM_SMALL ? malloc(len) : NULL;
  emu_mm_store *grown = len <= EMU_MM_SMALL || big
                            ? emu_grow(c->pending, &c->cap, c->npending + 1, sizeof *grown, 16)
                            : NULL;
  if (!grown) {
    free(big);
    return EMU_ENOMEM;
  }
  c->pending = grown;
  emu_mm_store *st = &c->pending[c->npending];
  *st = (emu_mm_store){gpa, emu_mm_visible_at(mm, c, gpa, len), mm->seq++, (uint32_t)len, big, {0}};
  memcpy(big ? big : st->small, src, len);
  c->npending++;
  uint64_t at = st->visible_at;
  mm->stats.stores_buffered++;
  uint64_t total = 0;
  for (int i = 0; i < EMU_SCHED_MAX_ACTORS; i++) total += mm->cpu[i].npending;
  if (total > mm->stats.max_pending) mm->stats.max_pending = total;
  if (at < mm->next_due) {
    mm->next_due = at;
    emu_mm_arm(mm);
  }
  return 0;
}

int gmem_mm_store(gmem *m, uint64_t gpa, const uint8_t *src, size_t len) {
  if (!m->mm || !gmem_in_range(m, gpa, len)) return EMU_ERANGE;
  if (len == 0) return 0;
  emu_mm *mm = m->mm;
  int cpu = mm->sched->running;
  emu_mm_settle(mm);
  /* A store larger than a descriptor's length field allows is never one
   * access; and a store outside any actor is the world's, visible at once. */
  if (cpu >= 0 && len <= UINT32_MAX && !emu_mm_buffer(mm, cpu, gpa, src, len)) return 0;
  if (cpu >= 0) {
    /* No memory for the buffer: keep the order by making everything this
     * actor stored visible first, then this store. */
    mm->stats.alloc_failures++;
    emu_mm_drain_cpu(mm, cpu);
  }
  emu_mm_store now = {gpa, emu_mm_now(mm), mm->seq++, (uint32_t)len, NULL, {0}};
  if (mm->kind == EMU_MM_WEAK && len <= UINT32_MAX) emu_mm_keep_undo(mm, &now, cpu);
  memcpy(m->host + (gpa - m->base), src, len);
  return 0;
}

/* The earliest time a weak load of [gpa, gpa + len) may be satisfied at:
 * not before the last read barrier, not before max_delay_ns ago, and not
 * before an earlier load of the same lines. */
static uint64_t emu_mm_load_floor(const emu_mm *mm, const emu_mm_cpu *c, uint64_t gpa, size_t len) {
  uint64_t now = emu_mm_now(mm);
  uint64_t lo = now > mm->max_delay_ns ? now - mm->max_delay_ns : 0;
  if (lo < c->load_floor) lo = c->load_floor;
  if (lo < mm->undo_gap) lo = mm->undo_gap;
  uint64_t first = gpa / EMU_MM_LINE, last = (gpa + len - 1) / EMU_MM_LINE;
  for (unsigned i = 0; i < c->nseen; i++)
    if (c->seen_line[i] >= first && c->seen_line[i] <= last && c->seen_at[i] > lo)
      lo = c->seen_at[i];
  return lo;
}

static void emu_mm_read_barrier(emu_mm_cpu *c) {
  if (c->max_load_at > c->load_floor) c->load_floor = c->max_load_at;
  c->nseen = 0;
}

/* Remembers that [gpa, gpa + len) was read as of `at`. A full table acts as
 * a read barrier: fewer early loads, never an incoherent one. */
static void emu_mm_note_load(emu_mm_cpu *c, uint64_t gpa, size_t len, uint64_t at) {
  if (at > c->max_load_at) c->max_load_at = at;
  uint64_t first = gpa / EMU_MM_LINE, last = (gpa + len - 1) / EMU_MM_LINE;
  for (uint64_t line = first; line <= last; line++) {
    unsigned i = 0;
    while (i < c->nseen && c->seen_line[i] != line) i++;
    if (i == c->nseen) {
      if (c->nseen == EMU_MM_SEEN_LINES) {
        emu_mm_read_barrier(c);
        return;
      }
      c->seen_line[c->nseen] = line;
      c->seen_at[c->nseen++] = at;
    } else if (at > c->seen_at[i]) {
      c->seen_at[i] = at;
    }
  }
}

/* Turns buf (memory as it is now) into memory as cpu may see it at `at`:
 * undoes, newest first, the other actors' stores that became visible after
 * `at`. A byte this actor stored itself since then stays: it sees its own
 * stores. */
static void emu_mm_rewind(const emu_mm *mm, int cpu, uint64_t gpa, uint8_t *buf, size_t len,
                          uint64_t at) {
  uint8_t *pinned = NULL;
  for (size_t i = mm->nhist; i-- > mm->hist_first && mm->hist[i].visible_at > at;) {
    const emu_mm_undo *u = &mm->hist[i];
    if (!emu_mm_overlap(gpa, len, u->gpa, u->len)) continue;
    if (!pinned && !(pinned = calloc(1, len))) return; /* no memory: not early */
    uint64_t lo = u->gpa > gpa ? u->gpa : gpa;
    uint64_t hi = u->gpa + u->len < gpa + len ? u->gpa + u->len : gpa + len;
    for (uint64_t a = lo; a < hi; a++) {
      if (pinned[a - gpa]) continue;
      if (u->cpu == cpu)
        pinned[a - gpa] = 1;
      else
        buf[a - gpa] = u->old[a - u->gpa];
    }
  }
  free(pinned);
}

/* The running actor's own buffered stores, oldest first, over buf: a load
 * that finds any is counted once. */
static void emu_mm_forward(emu_mm *mm, const emu_mm_cpu *c, uint64_t gpa, uint8_t *buf,
                           size_t len) {
  int forwarded = 0;
  for (size_t i = 0; i < c->npending; i++) {
    const emu_mm_store *st = &c->pending[i];
    if (!emu_mm_overlap(gpa, len, st->gpa, st->len)) continue;
    uint64_t lo = st->gpa > gpa ? st->gpa : gpa;
    uint64_t hi = st->gpa + st->len < gpa + len ? st->gpa + st->len : gpa + len;
    memcpy(buf + (lo - gpa), emu_mm_store_bytes(st) + (lo - st->gpa), hi - lo);
    forwarded = 1;
  }
  mm->stats.loads_forwarded += (uint64_t)forwarded;
}

const uint8_t *gmem_mm_load(const gmem *m, uint64_t gpa, uint8_t *buf, size_t len) {
  if (!m->mm || !gmem_in_range(m, gpa, len)) return NULL;
  if (len == 0) return buf;
  emu_mm *mm = m->mm;
  emu_mm_settle(mm);
  memcpy(buf, m->host + (gpa - m->base), len);
  int cpu = mm->sched->running;
  if (cpu < 0) return buf;
  emu_mm_cpu *c = &mm->cpu[cpu];
  if (mm->kind == EMU_MM_WEAK) {
    uint64_t now = emu_mm_now(mm);
    uint64_t at = emu_rng_range(&mm->rng, emu_mm_load_floor(mm, c, gpa, len), now);
    if (at < now) {
      mm->stats.loads_early++;
      emu_mm_rewind(mm, cpu, gpa, buf, len, at);
    }
    emu_mm_note_load(c, gpa, len, at);
  }
  emu_mm_forward(mm, c, gpa, buf, len);
  return buf;
}

void gmem_mm_barrier(gmem *m, gmem_barrier_kind kind) {
  emu_mm *mm = m->mm;
  int cpu = mm->sched->running;
  if (cpu < 0) return;
  emu_mm_cpu *c = &mm->cpu[cpu];
  mm->stats.barriers[kind]++;
  EMU_TRACE_EMIT(mm->trace, .actor = emu_mm_cpu_name(mm, cpu), .kind = EMU_TR_BARRIER,
                 .detail = emu_mm_barrier_names[kind]);
  if (kind == GMEM_WMB) {
    for (size_t i = 0; i < c->npending; i++)
      if (c->pending[i].visible_at > c->release_floor) c->release_floor = c->pending[i].visible_at;
  } else if (kind == GMEM_RMB) {
    emu_mm_read_barrier(c);
  } else {
    emu_mm_drain_cpu(mm, cpu);
    uint64_t now = emu_mm_now(mm);
    c->load_floor = c->max_load_at = c->last_visible = c->release_floor = now;
    c->nseen = 0;
  }
}

/* --- life cycle ---------------------------------------------------------- */

int emu_mm_init(emu_mm *mm, emu_mm_kind kind, uint64_t seed, uint64_t max_delay_ns, gmem *m,
                emu_sched *s, emu_trace *t) {
  memset(mm, 0, sizeof *mm);
  if (kind != EMU_MM_TSO && kind != EMU_MM_WEAK) return EMU_EINVAL;
  int rc = emu_actor_init(&mm->actor, s, "memory", emu_mm_on_due, mm);
  if (rc) return rc;
  mm->kind = kind;
  mm->max_delay_ns = max_delay_ns;
  emu_rng_init(&mm->rng, seed ^ EMU_MM_SEED_SALT);
  mm->mem = m;
  mm->sched = s;
  mm->trace = t;
  mm->next_due = EMU_TIME_NEVER;
  m->mm = mm;
  m->direct_size = 0; /* every access through the model */
  return 0;
}

void emu_mm_close(emu_mm *mm) {
  if (!mm->mem) return;
  /* What is still buffered lands, in order, without a trace: the run is
   * over and nobody is looking. */
  emu_mm_due d;
  while (emu_mm_land_first(mm, EMU_TIME_NEVER, &d)) free(d.big);
  for (int c = 0; c < EMU_SCHED_MAX_ACTORS; c++) free(mm->cpu[c].pending);
  for (size_t i = mm->hist_first; i < mm->nhist; i++) free(mm->hist[i].old);
  free(mm->hist);
  free(mm->due);
  mm->mem->mm = NULL;
  mm->mem->direct_size = mm->mem->size;
  /* the actor's queued timer events are the scheduler's to free */
  emu_actor actor = mm->actor;
  memset(mm, 0, sizeof *mm);
  mm->actor = actor;
}

uint64_t gmem_mm_gap_ns(const gmem *m) {
  return m->mm ? emu_rng_range(&m->mm->rng, 0, m->mm->max_delay_ns) : 0;
}

size_t emu_mm_pending(const emu_mm *mm, int cpu, const emu_mm_store **out) {
  if (cpu < 0 || cpu >= EMU_SCHED_MAX_ACTORS) return 0;
  *out = mm->cpu[cpu].pending;
  return mm->cpu[cpu].npending;
}
