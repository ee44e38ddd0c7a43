#include <string.h>

#include "emu/err.h"
#include "sim/scn.h"

/* When the next captured frame leaves the host: at its capture time, or
 * right after its predecessor when the capture's clock went back (a link
 * delivers in order; counted). UINT64_MAX for a time the clock cannot hold. */
static uint64_t scn_capture_slot(scn *s, uint64_t ts_ns) {
  if (s->capture_at < scn_now(s)) s->capture_at = scn_now(s);
  if (ts_ns > EMU_TIME_MAX) return UINT64_MAX;
  if (ts_ns < s->capture_at)
    s->capture.out_of_order++;
  else
    s->capture_at = ts_ns;
  return s->capture_at;
}

/* The host puts at most SCN_CAPTURE_BURST frames on the link in one
 * nanosecond (a 100 Gb/s link takes 5 ns for the smallest frame, so this is
 * generous): a capture whose records share one time beyond that (a damaged
 * or made-up one, like a sparse file's zeroed records) sends the rest a
 * nanosecond apart, counted, so that the frames in flight stay bounded by
 * the link's latency rather than by the file. */
static uint64_t scn_capture_send_at(scn *s, uint64_t given) {
  uint64_t slot = given < s->capture_send_at ? s->capture_send_at : given;
  if (slot != s->capture_send_at) {
    s->capture_burst = 0;
  } else if (s->capture_burst == SCN_CAPTURE_BURST) {
    slot++;
    s->capture_burst = 0;
  }
  s->capture_burst++;
  s->capture.spread += slot > given;
  return s->capture_send_at = slot;
}

/* Where captured frame f goes, counted in s->capture: it leaves at the
 * returned time with *fate PENDING, or takes its place there among the sent
 * frames with the fate it gets at once. A time the clock cannot hold is the
 * frame's fate: it must neither vanish nor drag the frames after it past
 * the end of time. */
static uint64_t scn_capture_place(scn *s, const scn_capture_frame *f, emu_fate *fate) {
  int bad_time = scn_capture_slot(s, f->ts_ns) == UINT64_MAX;
  s->capture.bad_timestamp += bad_time;
  if (f->unconvertible) {
    s->capture.link_unsupported++;
    *fate = EMU_FATE_LINK_UNSUPPORTED;
  } else if (bad_time) {
    *fate = EMU_FATE_BAD_TIMESTAMP;
  } else {
    s->capture.truncated += f->caplen < f->origlen;
    *fate = EMU_FATE_PENDING;
    return scn_capture_send_at(s, s->capture_at);
  }
  /* not on the link: it takes its place among the frames sent */
  return s->capture_at > s->capture_send_at ? s->capture_at : s->capture_send_at;
}

static int scn_capture_queue(scn *s, const scn_capture_frame *f, uint64_t at, emu_fate fate) {
  int sent = fate == EMU_FATE_PENDING;
  return scn_host_queue(s, at, sent ? f->data : NULL, sent ? f->caplen : 0, fate, 1);
}

int scn_inject_captured_frame(scn *s, const scn_capture_frame *f) {
  emu_fate fate;
  uint64_t at = scn_capture_place(s, f, &fate);
  return scn_capture_queue(s, f, at, fate);
}

int scn_feed_captured(scn *s, const scn_capture_frame *f, uint64_t max_steps, uint64_t *ran) {
  emu_fate fate;
  uint64_t at = scn_capture_place(s, f, &fate);
  /* as queuing it would: the periodic guest poll goes on until it is quiet
   * after this frame (the only state queuing touches before the run) */
  if (fate == EMU_FATE_PENDING) scn_extend_horizon(s, at);
  *ran = at > scn_now(s) ? emu_sched_run(&s->sched, at - 1, max_steps) : 0;
  return scn_capture_queue(s, f, at, fate);
}

int scn_inject_captured(scn *s, uint64_t ts_ns, const uint8_t *data, size_t caplen,
                        size_t origlen) {
  if (caplen > UINT32_MAX) return EMU_EINVAL;
  scn_capture_frame f = {.ts_ns = ts_ns, .caplen = (uint32_t)caplen, .data = (uint8_t *)data};
  f.origlen = origlen > UINT32_MAX ? UINT32_MAX : (uint32_t)origlen;
  return scn_inject_captured_frame(s, &f);
}

int scn_inject_captured_unsupported(scn *s, uint64_t ts_ns) {
  scn_capture_frame f = {.ts_ns = ts_ns, .unconvertible = 1};
  return scn_inject_captured_frame(s, &f);
}

int scn_inject_capture(scn *s, const scn_capture *in, scn_capture_notes *notes) {
  scn_capture_notes before = s->capture;
  int rc = 0;
  for (size_t i = 0; i < in->nframes && !rc; i++) rc = scn_inject_captured_frame(s, &in->frames[i]);
  notes->out_of_order = s->capture.out_of_order - before.out_of_order;
  notes->truncated = s->capture.truncated - before.truncated;
  notes->bad_timestamp = s->capture.bad_timestamp - before.bad_timestamp;
  notes->link_unsupported = s->capture.link_unsupported - before.link_unsupported;
  notes->spread = s->capture.spread - before.spread;
  return rc;
}
