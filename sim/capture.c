#include <string.h>

#include "sim/scn.h"

int scn_inject_capture(scn *s, const scn_capture *in, scn_capture_notes *notes) {
  memset(notes, 0, sizeof *notes);
  uint64_t at = scn_now(s);
  for (size_t i = 0; i < in->nframes; i++) {
    const scn_capture_frame *f = &in->frames[i];
    /* A link delivers in order: a frame stamped before its predecessor (a
     * capture artefact) leaves right after it rather than reordering. */
    if (f->ts_ns < at)
      notes->out_of_order++;
    else
      at = f->ts_ns;
    notes->truncated += f->caplen < f->origlen;
    int rc = scn_inject_at(s, at, f->data, f->caplen);
    if (rc) return rc;
  }
  return 0;
}
