/* The trace: every ring and notification event of a run, in order.
 *
 * Each event is what the command's --trace writes as one JSON line:
 *   {"t":56245,"actor":"device","ev":"used_pushed","q":"rx","head":1,"idx":1,"len":110}
 * The trace hash folds every event's fields, in order, into 64 bits: two runs
 * have the same hash exactly when they have the same trace. Its definition,
 * enough to recompute it from the JSON lines (scripts/trace-hash.py does),
 * with all arithmetic modulo 2^64:
 *   mix(x, w)  = y ^ (y >> 32), where y = (x ^ w) * 0x9e3779b97f4a7c15
 *   text(s)    = 0 for an absent (NULL) text; else, from x = B, x = mix(x, w)
 *                for each 8 bytes w of s, read little-endian (the last ones
 *                padded with zero bytes), then mix(x, strlen(s))
 *   names(ev)  = mix(mix(mix(mix(B, t_ns), text(actor)), text(event)), text(queue))
 *   fields(ev) = mix(mix(mix(mix(mix(B, head), idx), len), frame), text(detail))
 *                (head, idx, len and frame as 64-bit two's complement: -1 absent)
 *   hash       = B, then hash = mix(mix(hash, names(ev)), fields(ev)) per event
 * with B = 0xcbf29ce484222325.
 *
 * Two ways in: a callback (vns_sim_opts.trace_fn) sees each event as it
 * happens, from the very first (the driver's probe runs inside
 * vns_sim_new()); and, with vns_sim_opts.keep_trace (the default), a cursor
 * over the stored events: vns_sim_trace_count() and vns_sim_trace_event(). */
#ifndef VNETSIM_PUBLIC_TRACE_H
#define VNETSIM_PUBLIC_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "vnetsim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vns_trace_event {
  uint64_t t_ns;                 /* virtual time */
  const char *actor;             /* "device", "driver", "host", "link", or "end" (a fate
                                  * given when the run ended) */
  const char *event;             /* "desc_written", "avail_added", "avail_published", "kick",
                       * "kick_suppressed", "kick_received", "pop", "used_pushed",
                       * "used_published", "interrupt", "interrupt_suppressed",
                       * "interrupt_received", "used_consumed", "buffer_reposted",
                       * "tx_reclaimed", "frame_in", "frame_out", "frame_fate",
                       * "status", "violation", "fault", "backlogged" (the device
                       * holds a host frame for want of an RX buffer); under a
                       * memory model
                       * also "store_visible" (idx = guest address, len) and
                       * "barrier" (detail = "wmb", "rmb" or "mb") */
  const char *queue;             /* "rx", "tx", "config" (a configuration change
                                  * notification), or NULL when not about one queue;
                                  * a frame_fate's queue names its ledger: "rx" for
                                  * host->guest frames, "tx" for guest->host ones */
  int64_t head, idx, len, frame; /* -1 when absent */
  const char *detail;            /* a fate or rule name, a barrier, or NULL */
} vns_trace_event;

/* Called with each event as it is recorded; ev is valid during the call
 * only (its strings are static). It must not call back into the sim. */
typedef void (*vns_trace_fn)(void *ctx, const vns_trace_event *ev);

/* Events recorded so far (0 when keep_trace is off). */
VNS_API size_t vns_sim_trace_count(const vns_sim *sim);
/* Copies stored event i (0-based, in order) into *out. VNS_EINVAL for NULL
 * or i >= vns_sim_trace_count(), VNS_ENOTSUP when keep_trace is off. */
VNS_API int vns_sim_trace_event(const vns_sim *sim, size_t i, vns_trace_event *out);
/* The hash of every event so far (kept whether or not events are stored);
 * 0 for NULL. */
VNS_API uint64_t vns_sim_trace_hash(const vns_sim *sim);
/* Writes ev as its JSON line (no newline, NUL-terminated) into buf. Returns
 * the line's length, VNS_ENOSPC when cap is too small (buf then holds
 * nothing useful), VNS_ENOENT for an unknown ev->event, VNS_EINVAL for NULL. */
VNS_API int vns_trace_format(const vns_trace_event *ev, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
