/* libFuzzer target: the whole capture path of `vnetsim replay`. Arbitrary
 * bytes go through libpcap's pcap/pcapng reader into host_pcap_load_mem;
 * whatever loads is replayed, every frame of it, into a simulated guest
 * with its services, run to the end and finished.
 *
 * Oracles, besides ASan and UBSan: a refusal says why; and the ledger
 * equals the frames read: each frame read from the file entered the ledger
 * as the frame of the same number (scn_inject_capture's promise), and each
 * has exactly one final fate. A capture with a timestamp within
 * TIME_END_MARGIN_NS of 2^64 ns breaks the second oracle today (issue 18
 * items 1 and 2: frames scheduled at "never" vanish); that case is a known
 * defect (fuzz/known.h), any other mismatch is new. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz/known.h"
#include "host/pcapio.h"
#include "sim/scn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Timestamps this close to the end of virtual time (2^64 - 1 ns) meet the
 * time arithmetic of issue 18 item 2 (now + latency, the 2 s poll horizon). */
#define TIME_END_MARGIN_NS (1ull << 40)

static int near_end_of_time(const scn_capture *in) {
  for (size_t i = 0; i < in->nframes; i++)
    if (in->frames[i].ts_ns > UINT64_MAX - TIME_END_MARGIN_NS) return 1;
  return 0;
}

/* The ledger equals the frames read: 1 when it does. */
static int ledger_matches(const scn *s, const scn_capture *in) {
  if (s->fates.nframes != in->nframes || s->fates.double_fates) return 0;
  if (emu_fates_total(&s->fates) != in->nframes) return 0;
  for (size_t k = 0; k < in->nframes; k++) {
    if (scn_sent_id(s, k) != (int64_t)k) return 0;
    emu_fate f = s->fates.frames[k].fate;
    if (f == EMU_FATE_PENDING || (unsigned)f >= EMU_FATE_COUNT) return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  scn_capture in;
  char err[256];
  if (host_pcap_load_mem(data, size, "fuzz", &in, err, sizeof err)) {
    if (!err[0]) abort(); /* a refusal must say why */
    return 0;
  }
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.queue_size = 8; /* a small ring: the backlog and drops are reached too */
  cfg.trace_hash = 0;
  /* as replay does: virtual time starts at the first frame's time */
  cfg.start_ns = in.nframes ? in.frames[0].ts_ns : 0;
  scn s;
  if (scn_init(&s, &cfg)) abort();
  scn_capture_notes notes;
  if (scn_inject_capture(&s, &in, &notes)) abort();
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  if (!ledger_matches(&s, &in)) {
    if (!near_end_of_time(&in)) abort();
    fuzz_known_defect(1);
  }
  scn_close(&s);
  host_pcap_free(&in);
  return 0;
}
