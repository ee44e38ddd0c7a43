#include <string.h>

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

int scn_inject_captured(scn *s, uint64_t ts_ns, const uint8_t *data, size_t caplen,
                        size_t origlen) {
  if (scn_capture_slot(s, ts_ns) == UINT64_MAX) {
    /* A time the clock cannot hold is the frame's fate: it must neither
     * vanish nor drag the frames after it past the end of time. */
    s->capture.bad_timestamp++;
    return scn_host_queue(s, s->capture_at, NULL, 0, EMU_FATE_BAD_TIMESTAMP, 1);
  }
  s->capture.truncated += caplen < origlen;
  return scn_host_queue(s, s->capture_at, data, caplen, EMU_FATE_PENDING, 1);
}

int scn_inject_captured_unsupported(scn *s, uint64_t ts_ns) {
  if (scn_capture_slot(s, ts_ns) == UINT64_MAX) s->capture.bad_timestamp++;
  s->capture.link_unsupported++;
  /* a captured frame: it takes its place among scn_captured_id() */
  return scn_host_queue(s, s->capture_at, NULL, 0, EMU_FATE_LINK_UNSUPPORTED, 1);
}

int scn_inject_capture(scn *s, const scn_capture *in, scn_capture_notes *notes) {
  scn_capture_notes before = s->capture;
  int rc = 0;
  for (size_t i = 0; i < in->nframes && !rc; i++) {
    const scn_capture_frame *f = &in->frames[i];
    rc = f->unconvertible ? scn_inject_captured_unsupported(s, f->ts_ns)
                          : scn_inject_captured(s, f->ts_ns, f->data, f->caplen, f->origlen);
  }
  notes->out_of_order = s->capture.out_of_order - before.out_of_order;
  notes->truncated = s->capture.truncated - before.truncated;
  notes->bad_timestamp = s->capture.bad_timestamp - before.bad_timestamp;
  notes->link_unsupported = s->capture.link_unsupported - before.link_unsupported;
  return rc;
}
