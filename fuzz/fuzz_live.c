/* libFuzzer target: the live host path's frame input, without slirp.
 *
 * In `vnetsim run`, every frame libslirp sends to the guest enters through
 * host/scn_live.c's scn_live_on_slirp_frame: it picks the frame's arrival
 * time (scn_live_arrival_time) and queues it on the host actor, which
 * enters it in the ledger when it leaves. This target compiles that file in
 * (to reach its static functions) and calls the same entry with fuzzed
 * frames, at fuzzed wall-clock times, pumping the scheduler between them as
 * host/live.c's live_pump does (events due up to HOST_LIVE_LEAD_NS ahead of
 * the clock). No slirp, no sockets, no files: what the guest sends goes
 * nowhere, and the capture files are off.
 *
 * Oracles, besides ASan and UBSan:
 *   - the ledger equals the frames that came in: each frame handed to the
 *     entry entered the ledger and has exactly one final fate;
 *   - a replay of what `--record` would hold (each frame with its arrival
 *     time) into a scenario built as replay builds it (scn_live_sim_init)
 *     gives every frame the same fate and the same trace (hash and event
 *     count), the promise README's `--record` makes.
 *
 * Input: byte 0 = queue size (8 << (bits 0-1)) | seed (bits 2-7), then
 * operations: an opcode byte and its arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/input.h"
/* The live glue itself, static functions included; its external symbols
 * replace those of the library's copy, which is then not linked. */
#include "host/scn_live.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES   256u
#define FRAME_MAX    1600u
#define WAIT_UNIT_NS 1000u      /* OP_WAIT: microseconds */
#define LONG_UNIT_NS 100000000u /* OP_WAIT_LONG: 100 ms steps */
#define BURST_MAX    16u
#define STEP_GUARD   (1u << 20) /* events per pump, far above any input's need */
#define QUEUE_SIZE_0 8u

enum {
  OP_FRAME,     /* len le16, bytes: slirp sends a frame now */
  OP_WAIT,      /* le16 microseconds pass */
  OP_WAIT_LONG, /* steps of 100 ms pass */
  OP_BURST,     /* count, len le16, bytes: the same frame several times at once */
  OP_COUNT
};

typedef struct recorded {
  uint64_t at_ns;
  size_t len;
  uint8_t data[FRAME_MAX];
} recorded;

typedef struct rig {
  scn_config cfg;
  scn live, replay;
  scn_live sl;
  uint64_t wall; /* the wall clock, in virtual ns since the start */
  size_t nrec;
  recorded rec[MAX_FRAMES];
} rig;

static void to_slirp(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)ctx, (void)frame, (void)len, (void)now_ns; /* slirp is not there */
}

/* live_pump's turn: frames at max(clock, scheduler time), then every event
 * due within HOST_LIVE_LEAD_NS of the clock. */
static void pump(rig *r) {
  uint64_t now = r->wall > r->live.sched.now_ns ? r->wall : r->live.sched.now_ns;
  for (unsigned n = 0; n < STEP_GUARD && emu_sched_step(&r->live.sched, now + HOST_LIVE_LEAD_NS);)
    n++;
}

static void from_slirp(rig *r, const uint8_t *frame, size_t len) {
  if (r->nrec == MAX_FRAMES) return;
  uint64_t now = r->wall > r->live.sched.now_ns ? r->wall : r->live.sched.now_ns;
  recorded *rc = &r->rec[r->nrec++];
  /* what the --record writer gets: the time the entry picks (pure) */
  rc->at_ns = scn_live_arrival_time(&r->live, now);
  rc->len = len;
  memcpy(rc->data, frame, len);
  scn_live_on_slirp_frame(&r->sl, frame, len, now);
}

static void op_frames(rig *r, fuzz_in *in, unsigned count) {
  uint8_t a[2];
  if (!take(in, a, sizeof a)) return;
  size_t len = (size_t)(a[0] | a[1] << 8) % FRAME_MAX;
  if (len > in->n) len = in->n;
  uint8_t frame[FRAME_MAX];
  memcpy(frame, in->p, len);
  in->p += len;
  in->n -= len;
  for (unsigned i = 0; i < count; i++) from_slirp(r, frame, len);
  pump(r);
}

static void step(rig *r, uint8_t op, fuzz_in *in) {
  uint8_t a[2];
  switch (op % OP_COUNT) {
    case OP_FRAME:
      op_frames(r, in, 1);
      break;
    case OP_WAIT:
      if (!take(in, a, 2)) break;
      r->wall += (uint64_t)(a[0] | a[1] << 8) * WAIT_UNIT_NS;
      pump(r);
      break;
    case OP_WAIT_LONG:
      if (!take(in, a, 1)) break;
      r->wall += (uint64_t)(1u + a[0]) * LONG_UNIT_NS;
      pump(r);
      break;
    case OP_BURST:
      if (take(in, a, 1)) op_frames(r, in, 1u + a[0] % BURST_MAX);
      break;
  }
}

/* The ledger equals the frames that came in, each with one final fate. */
static void check_ledger(const scn *s, size_t nframes) {
  if (s->fates.nframes != nframes || s->fates.double_fates) abort();
  if (emu_fates_total(&s->fates) != nframes) abort();
  for (size_t k = 0; k < nframes; k++)
    if (scn_sent_id(s, k) != (int64_t)k || s->fates.frames[k].fate == EMU_FATE_PENDING) abort();
}

/* The replay of the recording: same fates, same trace. */
static void check_replay(rig *r, uint64_t end) {
  if (scn_live_sim_init(&r->replay, &r->cfg, 1)) abort();
  for (size_t k = 0; k < r->nrec; k++)
    if (scn_inject_captured(&r->replay, r->rec[k].at_ns, r->rec[k].data, r->rec[k].len,
                            r->rec[k].len))
      abort();
  if (r->replay.capture.out_of_order) abort(); /* arrival times never go back */
  scn_run(&r->replay, end, UINT64_MAX);
  scn_finish(&r->replay);
  for (size_t k = 0; k < r->nrec; k++)
    if (r->replay.fates.frames[k].fate != r->live.fates.frames[k].fate) abort();
  if (r->replay.trace.events != r->live.trace.events || r->replay.trace.hash != r->live.trace.hash)
    abort();
  scn_close(&r->replay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static rig r;
  scn_config_default(&r.cfg);
  r.cfg.queue_size = (uint16_t)(QUEUE_SIZE_0 << (data[0] & 3));
  r.cfg.seed = data[0] >> 2;
  /* as scn_live_init builds it: virtual time from 0, the gateway ping at 0 */
  if (scn_live_sim_init(&r.live, &r.cfg, 1)) abort();
  memset(&r.sl, 0, sizeof r.sl);
  r.sl.s = &r.live;
  r.sl.gateway = r.live.cfg.guest.gateway;
  scn_set_host_rx(&r.live, to_slirp, NULL);
  r.wall = 0;
  r.nrec = 0;
  pump(&r);
  fuzz_in in = {data + 1, size - 1};
  uint8_t op;
  while (take(&in, &op, 1)) step(&r, op, &in);
  uint64_t end = scn_now(&r.live);
  scn_finish(&r.live);
  check_ledger(&r.live, r.nrec);
  check_replay(&r, end);
  scn_close(&r.live);
  return 0;
}
