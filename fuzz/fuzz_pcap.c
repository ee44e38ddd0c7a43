/* libFuzzer target: the capture input path. Arbitrary bytes go through
 * libpcap's pcap/pcapng reader into host_pcap_load_mem, and whatever loads is
 * replayed into a small simulated guest; every frame must end with exactly
 * one fate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "host/pcapio.h"
#include "sim/scn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  scn_capture in;
  char err[256];
  if (host_pcap_load_mem(data, size, "fuzz", &in, err, sizeof err)) {
    if (!err[0]) abort(); /* a refusal must say why */
    return 0;
  }
  scn_capture head = in; /* at most 64 frames per run keeps each run short */
  if (head.nframes > 64) head.nframes = 64;
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.queue_size = 8;
  cfg.trace_hash = 0;
  cfg.start_ns = head.nframes ? head.frames[0].ts_ns : 0;
  scn s;
  if (scn_init(&s, &cfg)) abort();
  scn_capture_notes notes;
  if (scn_inject_capture(&s, &head, &notes)) abort();
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  if (emu_fates_total(&s.fates) != s.fates.nframes || s.fates.double_fates) abort();
  scn_close(&s);
  host_pcap_free(&in);
  return 0;
}
