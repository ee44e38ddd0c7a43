/* Actors and the deterministic scheduler (virtual time).
 *
 * An actor is a handler plus an inbox: a queue of events ordered by (time,
 * sequence), which holds both messages from other actors and the actor's own
 * timers. Actors share nothing but guest memory; they talk only by posting
 * events. The scheduler owns the virtual clock: it repeatedly takes the
 * earliest due event over all inboxes, advances the clock to its time and
 * runs the owner's handler. When several actors have an event due at the same
 * instant, the seeded PRNG chooses which runs first, so interleavings vary by
 * seed and repeat exactly for the same seed. Within one inbox, events at the
 * same time run in posting order. */
#ifndef VNETSIM_EMU_SCHED_H
#define VNETSIM_EMU_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "emu/rng.h"

#define EMU_SCHED_MAX_ACTORS 8
#define EMU_TIME_NEVER       UINT64_MAX
/* The latest time an input may be scheduled at: 2^63 - 1 ns, 292 years.
 * Far past any capture's clock (classic pcap's 32-bit seconds end in 2106,
 * 4.3e18 ns), and half the clock's range below EMU_TIME_NEVER, so that no
 * latency, timeout or horizon added to an input's time can wrap. */
#define EMU_TIME_MAX ((uint64_t)INT64_MAX)

typedef struct emu_event {
  uint64_t at_ns;
  uint64_t seq;      /* set by the scheduler: posting order */
  int kind;          /* meaning chosen by the receiving actor */
  uint32_t arg;      /* e.g. a queue index */
  uint32_t frame_id; /* the frame ledger id a payload carries */
  uint32_t pooled;   /* set by the scheduler: data is a block of its payload pool */
  uint8_t *data;     /* payload, owned by the inbox; freed after the handler */
  size_t len;
} emu_event;

typedef struct emu_actor emu_actor;
typedef struct emu_sched emu_sched;
/* Handles one event; ev->data is valid until the handler returns. */
typedef void (*emu_actor_fn)(emu_actor *self, const emu_event *ev);

struct emu_actor {
  const char *name;
  emu_actor_fn handle;
  void *ctx;
  emu_sched *sched;
  int index;        /* its place in sched->actors */
  emu_event *inbox; /* binary min-heap on (at_ns, seq) */
  size_t ninbox, cap;
  uint64_t handled;
};

/* Event payloads up to this many bytes (any Ethernet frame with its
 * virtio-net header) come from a free list of blocks, not from malloc. */
#define EMU_SCHED_POOL_BLOCK 2048u

struct emu_sched {
  uint64_t now_ns;
  uint64_t next_seq;
  emu_rng *rng;
  emu_actor *actors[EMU_SCHED_MAX_ACTORS];
  int nactors;
  uint64_t steps;
  int running; /* the index of the actor whose handler runs, -1 between */
  /* Sequence numbers of the run's inputs (emu_actor_post_input): a range
   * opened at the first input, EMU_SCHED_INPUT_SEQS wide, below every
   * sequence number handed out after it. */
  uint64_t input_seq, input_end;
  void *pool;      /* free payload blocks, linked through their first bytes */
  size_t pool_out; /* pool blocks in queued events */
};

/* The scheduler draws tie-breaks from rng, which the caller owns. */
void emu_sched_init(emu_sched *s, emu_rng *rng, uint64_t start_ns);
/* Frees every event still queued in the actors' inboxes. */
void emu_sched_close(emu_sched *s);
/* Registers an actor (owned by the caller); EMU_ENOSPC past
 * EMU_SCHED_MAX_ACTORS. */
int emu_actor_init(emu_actor *a, emu_sched *s, const char *name, emu_actor_fn handle, void *ctx);

/* Queues an event for actor `to` at time at_ns (not earlier than now: an
 * event in the past runs now). When data is non-NULL, len bytes are copied.
 * EMU_ENOMEM on allocation failure. */
int emu_actor_post(emu_actor *to, uint64_t at_ns, int kind, uint32_t arg, uint32_t frame_id,
                   const void *data, size_t len);

/* The same for one of the run's inputs (a captured frame, say): at equal
 * times it comes after what was posted before the first input, and before
 * everything posted after it, whenever it is posted. So inputs fed one by
 * one while the run goes on, each before the clock reaches its time, make
 * the same run, event for event, as inputs all queued before it began. */
int emu_actor_post_input(emu_actor *to, uint64_t at_ns, int kind, uint32_t arg, uint32_t frame_id,
                         const void *data, size_t len);
/* How many inputs one run may post (2^48): the room their range keeps. */
#define EMU_SCHED_INPUT_SEQS (1ull << 48)
/* A timer an actor keeps at its earliest deadline, as one event of `kind`
 * in its own inbox; *armed_at is the deadline posted last (0 for none).
 * Arming posts an event only for a deadline earlier than the one pending
 * (or when none is pending: not yet in the future), and nothing for
 * EMU_TIME_NEVER. Events are never withdrawn: one for a later deadline
 * still fires, as an early wake-up that finds nothing due, which costs one
 * handler call. 0, or emu_actor_post()'s error. */
int emu_actor_arm(emu_actor *a, uint64_t *armed_at, uint64_t at_ns, int kind);
/* In the handler, for the timer's event: 1 when it is due (and disarms the
 * timer), 0 when it is older than the deadline armed since. */
int emu_actor_timer_due(uint64_t *armed_at, const emu_event *ev);

/* A modelled latency: each use draws uniformly from [min_ns, max_ns]. */
typedef struct emu_latency {
  uint64_t min_ns, max_ns;
} emu_latency;

uint64_t emu_latency_draw(emu_sched *s, emu_latency lat);

/* A one-way notification channel to an actor (a kick, an interrupt, a link).
 * Every send arrives after a latency drawn from the scheduler's PRNG, and
 * never before an earlier send on the same channel: a channel does not
 * reorder, whatever the draws. */
typedef struct emu_channel {
  emu_actor *to;
  int kind;
  emu_latency latency;
  uint64_t last_at;
  uint64_t sent;
} emu_channel;

void emu_channel_init(emu_channel *c, emu_actor *to, int kind, emu_latency latency);
/* Posts kind/arg/frame_id/payload to c->to; EMU_ESTATE when unconnected. */
int emu_channel_send(emu_channel *c, uint32_t arg, uint32_t frame_id, const void *data, size_t len);

/* Runs the earliest due event. Returns 1 when one ran, 0 when every inbox is
 * empty or the earliest event lies after `until_ns`. */
int emu_sched_step(emu_sched *s, uint64_t until_ns);
/* Runs events until none is due at or before until_ns or max_steps ran.
 * Returns the number of events run. */
uint64_t emu_sched_run(emu_sched *s, uint64_t until_ns, uint64_t max_steps);
/* Time of the earliest queued event, EMU_TIME_NEVER when idle. */
uint64_t emu_sched_next_at(const emu_sched *s);

#endif
