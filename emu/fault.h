/* Link fault injection: a wrapper between two users of one link, like
 * smoltcp's FaultInjector.
 *
 * The wrapper takes an inner emu_port (for instance the host's end of the
 * host<->device link) and offers an outer port with the same contract. Whoever
 * used the inner port uses the outer one instead:
 *
 *   emu_fault_init(&f, &cfg, seed, inner);      // attaches itself to inner
 *   net_iface_init(&peer, &pcfg, emu_fault_port(&f));
 *   emu_port_attach(emu_fault_port(&f), net_iface_input, &peer);
 *
 * Frames sent into the outer port go to the inner port (direction SEND);
 * frames the inner port delivers go to the outer port's receiver (direction
 * RECV). Each direction the config enables gets, per frame and in this order:
 *   1. MTU cap     longer than 14 + mtu bytes: removed      (FAULT_MTU)
 *   2. rate limit  token bucket of rate_bps, burst_bytes:   (FAULT_RATE_LIMIT)
 *                  a frame finding too few tokens is removed
 *   3. drop        with probability drop: removed           (FAULT_DROP)
 *   4. corrupt     with probability corrupt: one byte at a  (FAULT_CORRUPT)
 *                  uniform offset past the Ethernet header is XORed with a
 *                  non-zero value (so an upper layer's checksum sees it)
 *   5. duplicate   with probability duplicate: a copy goes  (FAULT_DUPLICATE)
 *                  right after the frame
 *   6. delay       with probability delay: held for a time  (FAULT_DELAY)
 *                  uniform in [delay_min_ns, delay_max_ns]
 *   7. reorder     with probability reorder: held until     (FAULT_REORDER)
 *                  reorder_gap later frames went by (or reorder_max_ns
 *                  passed), so they overtake it
 * Every probability is drawn from the wrapper's own PRNG (seeded at init,
 * one draw per enabled probability per frame), so the same seed, config and
 * frames give the same faults, and the faults never disturb the scheduler's
 * draws.
 *
 * Time: held frames (delay, and reorder past its deadline) leave in
 * emu_fault_poll(now_ns); emu_fault_poll_at() says when. The embedder runs
 * that from its scheduler (a timer on the actor that owns the link).
 *
 * Reports: every fault is reported through the callback, with its fate value
 * as the reason. FAULT_MTU, FAULT_RATE_LIMIT and FAULT_DROP remove the frame
 * (their report is the frame's final fate). FAULT_CORRUPT, FAULT_DUPLICATE,
 * FAULT_DELAY and FAULT_REORDER name what was done to a frame that travels
 * on; its own fate comes later from the receiver. Released frames are
 * reported too (event RELEASED). */
#ifndef VNETSIM_EMU_FAULT_H
#define VNETSIM_EMU_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"
#include "emu/port.h"
#include "emu/rng.h"

typedef enum emu_fault_dir {
  EMU_FAULT_SEND = 1, /* outer -> inner */
  EMU_FAULT_RECV = 2, /* inner -> outer */
  EMU_FAULT_BOTH = 3,
} emu_fault_dir;

typedef struct emu_fault_config {
  unsigned dirs; /* EMU_FAULT_* bits the faults apply to; default BOTH */
  double drop, corrupt, duplicate, delay, reorder; /* probabilities in [0, 1] */
  uint64_t delay_min_ns, delay_max_ns;             /* default 1 ms .. 1 ms */
  unsigned reorder_gap;    /* later frames that overtake a reordered one; default 3 */
  uint64_t reorder_max_ns; /* held at most this long; default 10 ms */
  uint64_t rate_bps;       /* bytes per second; 0: no limit */
  uint64_t burst_bytes;    /* bucket depth; 0: 10 full-size frames (15140) */
  uint32_t mtu;            /* largest payload after the Ethernet header; 0: no cap */
  size_t max_held;         /* frames held at once; more are not held. default 1024 */
} emu_fault_config;

/* No faults, the defaults above. */
void emu_fault_config_default(emu_fault_config *cfg);
/* Parses "drop=0.01,reorder=0.05,..." into *cfg (which it first sets to the
 * default). Keys: drop, corrupt, duplicate (or dup), delay, reorder
 * (probabilities 0..1); delay_us, delay_max_us (delay_us alone sets both
 * ends), reorder_gap (frames, 1..1000), reorder_max_us; rate (bytes/s),
 * burst (bytes); mtu (68..65535); dir (send, recv or both). An empty string
 * is no faults. Returns 0, or EMU_EINVAL with a one-line reason in err (when
 * err is not NULL) naming the key or value at fault. */
int emu_fault_config_parse(const char *spec, emu_fault_config *cfg, char *err, size_t errlen);
/* 1 when cfg injects anything at all. */
int emu_fault_config_active(const emu_fault_config *cfg);

typedef enum emu_fault_event {
  EMU_FAULT_EV_APPLIED = 1, /* the fault was done to the frame now */
  EMU_FAULT_EV_RELEASED,    /* a held (delayed or reordered) frame went on now */
} emu_fault_event;

typedef struct emu_fault_report {
  emu_fault_event event;
  emu_fault_dir dir;
  emu_fate reason;      /* EMU_FATE_FAULT_* */
  int removed;          /* 1: the frame is gone; reason is its final fate */
  uint64_t frame_no;    /* 0, 1, ... per direction, in the order frames entered */
  const uint8_t *frame; /* as it is now (corrupted already), valid during the call */
  size_t len;
  size_t offset; /* FAULT_CORRUPT: the byte changed */
  uint64_t now_ns;
  uint64_t release_ns; /* FAULT_DELAY applied: when it will leave */
  emu_fate fate;       /* RECV direction: what the receiver did with a released
                          * frame or a duplicate copy; PENDING otherwise */
} emu_fault_report;

typedef void (*emu_fault_report_fn)(void *ctx, const emu_fault_report *r);

typedef struct emu_fault_stats {
  uint64_t frames_in[3], frames_out[3]; /* indexed by emu_fault_dir (1, 2) */
  uint64_t faults[EMU_FATE_COUNT];      /* by reason, both directions */
  uint64_t not_held;                    /* delay/reorder skipped: max_held reached */
} emu_fault_stats;

/* Internal; use the functions. */
typedef struct emu_fault_held {
  emu_fault_dir dir;
  emu_fate reason; /* FAULT_DELAY or FAULT_REORDER */
  uint64_t frame_no;
  uint64_t release_ns;
  uint64_t order;    /* tie-break: held earlier leaves first */
  unsigned gap_left; /* reorder: frames still to let by */
  uint8_t *data;
  size_t len;
} emu_fault_held;

typedef struct emu_fault {
  emu_fault_config cfg;
  emu_rng rng;
  emu_port *inner;
  emu_port outer;
  emu_fault_report_fn report;
  void *report_ctx;
  uint64_t tokens_last_ns;
  uint64_t tokens; /* bytes available, times 1e9 (fractions of a byte per ns) */
  int tokens_started;
  emu_fault_held *held;
  size_t nheld, held_cap;
  uint64_t held_order;
  uint64_t frame_no[3];
  emu_fault_stats stats;
  /* the frame being handed on right now (see emu_fault_passing) */
  uint64_t passing_no;
  int passing_copy;
} emu_fault;

/* Sets f up around inner (whose send must be set) and attaches f as inner's
 * receiver, replacing any earlier one. f->outer is then the port to use
 * (emu_fault_port). cfg is copied. Returns 0 or EMU_EINVAL (NULL arguments,
 * probabilities outside [0, 1], delay_min > delay_max, reorder_gap 0). */
int emu_fault_init(emu_fault *f, const emu_fault_config *cfg, uint64_t seed, emu_port *inner);
/* Frees held frames without sending them; each is reported (removed, reason
 * FAULT_DROP: a frame still on the wire when the run ended). */
void emu_fault_close(emu_fault *f, uint64_t now_ns);
/* The port to use instead of inner. */
emu_port *emu_fault_port(emu_fault *f);
void emu_fault_set_report(emu_fault *f, emu_fault_report_fn fn, void *ctx);

/* Sends on every held frame whose time has come (delay over, or reorder
 * held for reorder_max_ns), oldest release time first. */
void emu_fault_poll(emu_fault *f, uint64_t now_ns);
/* Earliest release time of a held frame; UINT64_MAX when none is held. */
uint64_t emu_fault_poll_at(const emu_fault *f);
/* Sends on every held frame now, in release order. */
void emu_fault_flush(emu_fault *f, uint64_t now_ns);
const emu_fault_stats *emu_fault_stats_get(const emu_fault *f);
/* While a frame is being handed on (inside the inner port's send, or the
 * outer receiver), names it: its frame_no in its direction, and whether it
 * is a copy the duplicate fault made. Lets the embedder keep per-frame
 * bookkeeping (a fate ledger) across held and duplicated frames. */
void emu_fault_passing(const emu_fault *f, uint64_t *frame_no, int *is_copy);
/* The oldest frame_no in direction dir (SEND or RECV) the injector may
 * still name: its oldest held frame's, else the next to enter's. An
 * embedder's per-frame bookkeeping may drop what is older. */
uint64_t emu_fault_oldest(const emu_fault *f, emu_fault_dir dir);

#endif
