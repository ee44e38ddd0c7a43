#include "emu/sched.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"

static int emu_event_before(const emu_event *a, const emu_event *b) {
  return a->at_ns < b->at_ns || (a->at_ns == b->at_ns && a->seq < b->seq);
}

/* Both sifts move a hole rather than swapping: the same comparisons as
 * swapping, so the same layout, with one copy of an event per level. */
static void emu_heap_push(emu_actor *a, const emu_event *ev) {
  size_t i = a->ninbox++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!emu_event_before(ev, &a->inbox[parent])) break;
    a->inbox[i] = a->inbox[parent];
    i = parent;
  }
  a->inbox[i] = *ev;
}

static emu_event emu_heap_pop(emu_actor *a) {
  emu_event top = a->inbox[0];
  emu_event last = a->inbox[--a->ninbox];
  size_t i = 0, n = a->ninbox;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1;
    const emu_event *m = &last;
    size_t mi = i;
    if (l < n && emu_event_before(&a->inbox[l], m)) m = &a->inbox[mi = l];
    if (r < n && emu_event_before(&a->inbox[r], m)) m = &a->inbox[mi = r];
    if (mi == i) break;
    a->inbox[i] = *m;
    i = mi;
  }
  if (n) a->inbox[i] = last;
  return top;
}

/* Pool blocks at most, free and in queued events together: enough for the
 * payloads in flight at a busy moment (2 MB), while a run that queues far
 * more at once (a replay queues its whole capture) gets exact-size
 * allocations for the rest instead of a block each. None under
 * AddressSanitizer, so that a handler keeping a payload past its call is
 * still caught. */
#define EMU_SCHED_POOL_MAX 1024u
#if defined(__has_feature) /* clang's way of saying it */
#if __has_feature(address_sanitizer)
#define EMU_SCHED_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(EMU_SCHED_UNDER_ASAN)
static int emu_pool_has_room(const emu_sched *s) {
  (void)s;
  return 0;
}
#else
static int emu_pool_has_room(const emu_sched *s) { return s->pool_out < EMU_SCHED_POOL_MAX; }
#endif

/* Gives ev a copy of len bytes of data: a pool block when len fits one and
 * the pool has or may add one, else an allocation of its own. */
static int emu_payload_alloc(emu_sched *s, emu_event *ev, const void *data, size_t len) {
  size_t size = len ? len : 1;
  ev->pooled = size <= EMU_SCHED_POOL_BLOCK && (s->pool || emu_pool_has_room(s));
  if (ev->pooled && s->pool) {
    ev->data = s->pool;
    memcpy(&s->pool, ev->data, sizeof s->pool);
  } else {
    ev->data = malloc(ev->pooled ? EMU_SCHED_POOL_BLOCK : size);
    if (!ev->data) return EMU_ENOMEM;
  }
  s->pool_out += ev->pooled;
  memcpy(ev->data, data, len);
  ev->len = len;
  return 0;
}

static void emu_payload_free(emu_sched *s, const emu_event *ev) {
  if (!ev->pooled) {
    free(ev->data);
    return;
  }
  memcpy(ev->data, &s->pool, sizeof s->pool);
  s->pool = ev->data;
  s->pool_out--;
}

void emu_sched_init(emu_sched *s, emu_rng *rng, uint64_t start_ns) {
  memset(s, 0, sizeof *s);
  s->rng = rng;
  s->now_ns = start_ns;
  s->running = -1;
}

void emu_sched_close(emu_sched *s) {
  for (int i = 0; i < s->nactors; i++) {
    emu_actor *a = s->actors[i];
    for (size_t j = 0; j < a->ninbox; j++) emu_payload_free(s, &a->inbox[j]);
    free(a->inbox);
    a->inbox = NULL;
    a->ninbox = a->cap = 0;
  }
  s->nactors = 0;
  while (s->pool) {
    void *b = s->pool;
    memcpy(&s->pool, b, sizeof s->pool);
    free(b);
  }
  s->pool_out = 0;
}

int emu_actor_init(emu_actor *a, emu_sched *s, const char *name, emu_actor_fn handle, void *ctx) {
  memset(a, 0, sizeof *a);
  if (s->nactors == EMU_SCHED_MAX_ACTORS) return EMU_ENOSPC;
  a->name = name;
  a->handle = handle;
  a->ctx = ctx;
  a->sched = s;
  a->index = s->nactors;
  s->actors[s->nactors++] = a;
  return 0;
}

static int emu_actor_post_seq(emu_actor *to, uint64_t seq, uint64_t at_ns, int kind, uint32_t arg,
                              uint32_t frame_id, const void *data, size_t len) {
  emu_sched *s = to->sched;
  emu_event *inbox = emu_grow(to->inbox, &to->cap, to->ninbox + 1, sizeof *inbox, 64);
  if (!inbox) return EMU_ENOMEM;
  to->inbox = inbox;
  emu_event ev = {.at_ns = at_ns < s->now_ns ? s->now_ns : at_ns,
                  .seq = seq,
                  .kind = kind,
                  .arg = arg,
                  .frame_id = frame_id};
  if (data) {
    int rc = emu_payload_alloc(s, &ev, data, len);
    if (rc) return rc;
  }
  emu_heap_push(to, &ev);
  return 0;
}

int emu_actor_post(emu_actor *to, uint64_t at_ns, int kind, uint32_t arg, uint32_t frame_id,
                   const void *data, size_t len) {
  emu_sched *s = to->sched;
  int rc = emu_actor_post_seq(to, s->next_seq, at_ns, kind, arg, frame_id, data, len);
  s->next_seq += rc == 0;
  return rc;
}

int emu_actor_post_input(emu_actor *to, uint64_t at_ns, int kind, uint32_t arg, uint32_t frame_id,
                         const void *data, size_t len) {
  emu_sched *s = to->sched;
  if (s->input_seq == s->input_end) {
    if (s->input_end) return EMU_ENOSPC;
    s->input_seq = s->next_seq;
    s->input_end = s->next_seq += EMU_SCHED_INPUT_SEQS;
  }
  int rc = emu_actor_post_seq(to, s->input_seq, at_ns, kind, arg, frame_id, data, len);
  s->input_seq += rc == 0;
  return rc;
}

int emu_actor_arm(emu_actor *a, uint64_t *armed_at, uint64_t at_ns, int kind) {
  if (at_ns == EMU_TIME_NEVER) return 0;
  if (*armed_at > a->sched->now_ns && at_ns >= *armed_at) return 0;
  *armed_at = at_ns;
  return emu_actor_post(a, at_ns, kind, 0, 0, NULL, 0);
}

int emu_actor_timer_due(uint64_t *armed_at, const emu_event *ev) {
  if (ev->at_ns < *armed_at) return 0;
  *armed_at = 0;
  return 1;
}

uint64_t emu_sched_next_at(const emu_sched *s) {
  uint64_t next = EMU_TIME_NEVER;
  for (int i = 0; i < s->nactors; i++)
    if (s->actors[i]->ninbox && s->actors[i]->inbox[0].at_ns < next)
      next = s->actors[i]->inbox[0].at_ns;
  return next;
}

int emu_sched_step(emu_sched *s, uint64_t until_ns) {
  uint64_t next = emu_sched_next_at(s);
  if (next == EMU_TIME_NEVER || next > until_ns) return 0;
  emu_actor *due[EMU_SCHED_MAX_ACTORS];
  int ndue = 0;
  for (int i = 0; i < s->nactors; i++)
    if (s->actors[i]->ninbox && s->actors[i]->inbox[0].at_ns == next) due[ndue++] = s->actors[i];
  /* Simultaneous events in different actors have no natural order: the seed
   * picks one, so each seed explores one interleaving, reproducibly. */
  emu_actor *a = ndue == 1 ? due[0] : due[emu_rng_range(s->rng, 0, (uint64_t)ndue - 1)];
  emu_event ev = emu_heap_pop(a);
  s->now_ns = ev.at_ns;
  s->steps++;
  a->handled++;
  int outer = s->running; /* a handler that runs the scheduler itself */
  s->running = a->index;
  a->handle(a, &ev);
  s->running = outer;
  emu_payload_free(s, &ev);
  return 1;
}

uint64_t emu_sched_run(emu_sched *s, uint64_t until_ns, uint64_t max_steps) {
  uint64_t ran = 0;
  while (ran < max_steps && emu_sched_step(s, until_ns)) ran++;
  return ran;
}

uint64_t emu_latency_draw(emu_sched *s, emu_latency lat) {
  return lat.max_ns > lat.min_ns ? emu_rng_range(s->rng, lat.min_ns, lat.max_ns) : lat.min_ns;
}

void emu_channel_init(emu_channel *c, emu_actor *to, int kind, emu_latency latency) {
  c->to = to;
  c->kind = kind;
  c->latency = latency;
  c->last_at = 0;
  c->sent = 0;
}

int emu_channel_send(emu_channel *c, uint32_t arg, uint32_t frame_id, const void *data,
                     size_t len) {
  if (!c->to) return EMU_ESTATE;
  emu_sched *s = c->to->sched;
  uint64_t at = s->now_ns + emu_latency_draw(s, c->latency);
  if (at < c->last_at) at = c->last_at;
  c->last_at = at;
  c->sent++;
  return emu_actor_post(c->to, at, c->kind, arg, frame_id, data, len);
}
