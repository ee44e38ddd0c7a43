/* libFuzzer target: the whole capture path of `vnetsim replay`. Arbitrary
 * bytes go through libpcap's pcap/pcapng reader into host_pcap_load_mem
 * (and, for a pcapng file whose interfaces differ in link type, through
 * the block reader of host/pcapng.c); whatever loads is replayed, every
 * frame of it, into a simulated guest with its services, run to the end
 * and finished: once queued whole, once fed frame by frame as `replay`
 * feeds it (scn_feed_captured). The block reader also walks the same bytes
 * directly, without libpcap's checks in front of it.
 *
 * Oracles, besides ASan and UBSan: a refusal says why; every record the
 * block reader hands out lies inside the input; and the ledger
 * equals the frames read: each frame read from the file entered the ledger
 * as the frame of the same number (scn_inject_capture's promise), and each
 * has exactly one final fate (a time no clock holds included: such a frame
 * is fated bad_timestamp in its place); and the fed run is the queued run:
 * the same trace hash, event count and fates. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/pcapio.h"
#include "host/pcapng.h"
#include "sim/scn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* The input the block reader walks, for its records to be checked against. */
typedef struct walk_bounds {
  const uint8_t *data;
  size_t size;
} walk_bounds;

static int record_inside(void *ctx, const host_pcapng_record *r) {
  const walk_bounds *b = ctx;
  if (!r->data) return 0; /* damaged: nothing to read */
  if (r->data < b->data || r->caplen > b->size - (size_t)(r->data - b->data)) abort();
  return 0;
}

/* The block reader on bare bytes: it stops with a reason or reads to the
 * end, every record inside the input. */
static void walk_blocks(const uint8_t *data, size_t size) {
  walk_bounds b = {data, size};
  char err[256] = "";
  int first_dlt;
  if (host_pcapng_read(data, size, "fuzz", record_inside, &b, &first_dlt, err, sizeof err) &&
      !err[0])
    abort();
  (void)host_pcapng_mixed(data, size);
}

/* One replay of in, queued whole (feed 0) or fed frame by frame. */
static void replay(scn *s, const scn_capture *in, int feed) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.queue_size = 8; /* a small ring: the backlog and drops are reached too */
  /* half the inputs (by their frame count) play the captured TCP
   * conversations with the guest (sim/conv.c), as replay --as does */
  cfg.play_conversations = in->nframes & 1;
  if (cfg.play_conversations) { /* in the place of the host replay --as auto picks */
    scn_endpoints e;
    scn_addr chosen;
    scn_endpoints_init(&e, cfg.guest.ip);
    for (size_t i = 0; i < in->nframes; i++)
      if (!in->frames[i].unconvertible)
        scn_endpoints_add(&e, in->frames[i].data, in->frames[i].caplen);
    scn_endpoint_why why = scn_endpoints_pick(&e, &chosen);
    if (why == SCN_ENDPOINT_LOOPBACK_SERVER) {
      cfg.conv_server_ip = chosen.ip; /* the guest keeps its own */
    } else if (why != SCN_ENDPOINT_NONE) {
      cfg.guest.ip = chosen.ip;
      cfg.guest.gateway = (chosen.ip & ~0xffu) | ((chosen.ip & 0xffu) == 1 ? 2u : 1u);
    }
    if (why != SCN_ENDPOINT_NONE) memcpy(cfg.sink_ports, chosen.served, sizeof cfg.sink_ports);
    scn_endpoints_free(&e);
  }
  /* as replay does: virtual time starts at the first frame's time the
   * clock can hold */
  cfg.start_ns = 0;
  for (size_t i = 0; i < in->nframes; i++)
    if (in->frames[i].ts_ns <= EMU_TIME_MAX) {
      cfg.start_ns = in->frames[i].ts_ns;
      break;
    }
  if (scn_init(s, &cfg)) abort();
  scn_capture_notes notes;
  uint64_t ran;
  if (!feed && scn_inject_capture(s, in, &notes)) abort();
  for (size_t i = 0; feed && i < in->nframes; i++)
    if (scn_feed_captured(s, &in->frames[i], UINT64_MAX, &ran)) abort();
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(s);
  if (!ledger_matches(s, in)) abort();
}

static int same_run(const scn *a, const scn *b) {
  if (a->trace.hash != b->trace.hash || a->trace.events != b->trace.events) return 0;
  for (size_t k = 0; k < a->fates.nframes; k++)
    if (a->fates.frames[k].fate != b->fates.frames[k].fate) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  scn_capture in;
  char err[256];
  walk_blocks(data, size);
  if (host_pcap_load_mem(data, size, "fuzz", &in, err, sizeof err)) {
    if (!err[0]) abort(); /* a refusal must say why */
    return 0;
  }
  scn whole, fed;
  replay(&whole, &in, 0);
  replay(&fed, &in, 1);
  if (!same_run(&whole, &fed)) abort();
  scn_close(&whole);
  scn_close(&fed);
  host_pcap_free(&in);
  return 0;
}
