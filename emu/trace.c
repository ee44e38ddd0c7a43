#include "emu/trace.h"

#include <inttypes.h>

#include <string.h>
#include "emu/err.h"

static const char *const emu_trace_kind_names[EMU_TR_KIND_COUNT] = {
    [EMU_TR_DESC_WRITTEN] = "desc_written",
    [EMU_TR_AVAIL_ADDED] = "avail_added",
    [EMU_TR_AVAIL_PUBLISHED] = "avail_published",
    [EMU_TR_KICK] = "kick",
    [EMU_TR_KICK_SUPPRESSED] = "kick_suppressed",
    [EMU_TR_KICK_RECEIVED] = "kick_received",
    [EMU_TR_POP] = "pop",
    [EMU_TR_USED_PUSHED] = "used_pushed",
    [EMU_TR_USED_PUBLISHED] = "used_published",
    [EMU_TR_INTERRUPT] = "interrupt",
    [EMU_TR_INTERRUPT_SUPPRESSED] = "interrupt_suppressed",
    [EMU_TR_INTERRUPT_RECEIVED] = "interrupt_received",
    [EMU_TR_USED_CONSUMED] = "used_consumed",
    [EMU_TR_BUFFER_REPOSTED] = "buffer_reposted",
    [EMU_TR_TX_RECLAIMED] = "tx_reclaimed",
    [EMU_TR_FRAME_IN] = "frame_in",
    [EMU_TR_FRAME_OUT] = "frame_out",
    [EMU_TR_FRAME_FATE] = "frame_fate",
    [EMU_TR_STATUS] = "status",
    [EMU_TR_VIOLATION] = "violation",
    [EMU_TR_FAULT] = "fault",
};

const char *emu_trace_kind_name(emu_trace_kind kind) {
  return (unsigned)kind < EMU_TR_KIND_COUNT ? emu_trace_kind_names[kind] : "unknown";
}

void emu_trace_init(emu_trace *t, const uint64_t *clock) {
  memset(t, 0, sizeof *t);
  t->clock = clock;
  t->hash = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
}

void emu_trace_set_sink(emu_trace *t, FILE *sink) { t->sink = sink; }
void emu_trace_set_hashing(emu_trace *t, int on) { t->hashing = on; }
void emu_trace_set_observer(emu_trace *t, emu_trace_observer_fn fn, void *ctx) {
  t->observer = fn;
  t->observer_ctx = ctx;
}

int emu_trace_add_observer(emu_trace *t, emu_trace_observer_fn fn, void *ctx) {
  if (t->nextra == (int)(sizeof t->extra / sizeof t->extra[0])) return EMU_ENOSPC;
  t->extra[t->nextra].fn = fn;
  t->extra[t->nextra++].ctx = ctx;
  return 0;
}

int emu_trace_format(const emu_trace_rec *r, char *buf, size_t cap) {
  size_t n = 0;
#define EMU_TR_PUT(...)                                            \
  do {                                                             \
    int w = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
    if (w > 0) n += (size_t)w;                                     \
  } while (0)
  EMU_TR_PUT("{\"t\":%" PRIu64 ",\"actor\":\"%s\",\"ev\":\"%s\"", r->t_ns, r->actor,
             emu_trace_kind_name(r->kind));
  if (r->queue) EMU_TR_PUT(",\"q\":\"%s\"", r->queue);
  if (r->head >= 0) EMU_TR_PUT(",\"head\":%" PRId64, r->head);
  if (r->idx >= 0) EMU_TR_PUT(",\"idx\":%" PRId64, r->idx);
  if (r->len >= 0) EMU_TR_PUT(",\"len\":%" PRId64, r->len);
  if (r->frame >= 0) EMU_TR_PUT(",\"frame\":%" PRId64, r->frame);
  /* details are fixed identifiers from vnetsim's own tables: no escaping needed */
  if (r->detail) EMU_TR_PUT(",\"detail\":\"%s\"", r->detail);
  EMU_TR_PUT("}");
#undef EMU_TR_PUT
  return n < cap ? (int)n : (int)(cap ? cap - 1 : 0);
}

void emu_trace_emit(emu_trace *t, const emu_trace_rec *in) {
  if (!emu_trace_on(t)) return;
  emu_trace_rec rec = *in;
  rec.t_ns = t->clock ? *t->clock : 0;
  t->events++;
  if (t->observer) t->observer(t->observer_ctx, &rec);
  for (int i = 0; i < t->nextra; i++) t->extra[i].fn(t->extra[i].ctx, &rec);
  if (!t->sink && !t->hashing) return;
  char line[320];
  int n = emu_trace_format(&rec, line, sizeof line);
  if (t->hashing) {
    uint64_t h = t->hash;
    for (int i = 0; i < n; i++) {
      h ^= (uint8_t)line[i];
      h *= 0x100000001b3ull; /* FNV-1a 64 prime */
    }
    h ^= '\n';
    t->hash = h * 0x100000001b3ull;
  }
  if (t->sink) {
    line[n] = '\n';
    if (fwrite(line, 1, (size_t)n + 1, t->sink) != (size_t)n + 1) t->io_error = 1;
  }
}
