#include "emu/trace.h"

#include <string.h>
#include "emu/err.h"

/* FNV-1a 64 (the trace hash's definition, see trace.h) */
#define EMU_TR_FNV_BASIS 0xcbf29ce484222325ull
#define EMU_TR_FNV_PRIME 0x100000001b3ull
/* Digits of the largest uint64_t, 18446744073709551615. */
#define EMU_TR_U64_DIGITS 20
/* Room for a whole line in emit; a longer one is cut there, as ever. */
#define EMU_TR_LINE_CAP 320

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
  t->hash = EMU_TR_FNV_BASIS;
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

/* A line being built: bytes beyond cap - 1 are counted but not stored,
 * which is what the snprintf calls this replaces did, so the stored text,
 * the returned length and the hash (over the stored bytes) stay the same. */
typedef struct emu_tr_out {
  char *buf;
  size_t cap, n; /* n: the length the whole line would have */
  uint64_t hash;
} emu_tr_out;

static inline void emu_tr_put(emu_tr_out *o, const char *s, size_t len, int hashing) {
  size_t room = o->n + 1 < o->cap ? o->cap - 1 - o->n : 0;
  size_t k = len < room ? len : room;
  if (k) {
    char *d = o->buf + o->n;
    memcpy(d, s, k);
    if (hashing) {
      uint64_t h = o->hash;
      for (size_t i = 0; i < k; i++) h = (h ^ (uint8_t)d[i]) * EMU_TR_FNV_PRIME;
      o->hash = h;
    }
  }
  o->n += len;
}

/* What printf's %s prints: glibc spells a null pointer "(null)". */
static inline void emu_tr_puts(emu_tr_out *o, const char *s, int hashing) {
  if (!s) s = "(null)";
  emu_tr_put(o, s, strlen(s), hashing);
}

/* Decimal, as %PRIu64 prints it. */
static inline void emu_tr_putu(emu_tr_out *o, uint64_t v, int hashing) {
  char d[EMU_TR_U64_DIGITS];
  size_t i = sizeof d;
  do {
    d[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  emu_tr_put(o, d + i, sizeof d - i, hashing);
}

#define EMU_TR_LIT(o, lit, hashing) emu_tr_put((o), (lit), sizeof(lit) - 1, (hashing))

/* An integer field as ,"name":N, present when N >= 0. */
static inline void emu_tr_field(emu_tr_out *o, const char *key, size_t klen, int64_t v,
                                int hashing) {
  if (v < 0) return;
  emu_tr_put(o, key, klen, hashing);
  emu_tr_putu(o, (uint64_t)v, hashing);
}
#define EMU_TR_FIELD(o, key, v, hashing) emu_tr_field((o), (key), sizeof(key) - 1, (v), (hashing))

/* Builds rec's JSON line (see trace.h for its shape); inlined twice, with
 * and without hashing, so neither pays for the other. */
static inline void emu_tr_build(emu_tr_out *o, const emu_trace_rec *r, int hashing) {
  EMU_TR_LIT(o, "{\"t\":", hashing);
  emu_tr_putu(o, r->t_ns, hashing);
  EMU_TR_LIT(o, ",\"actor\":\"", hashing);
  emu_tr_puts(o, r->actor, hashing);
  EMU_TR_LIT(o, "\",\"ev\":\"", hashing);
  emu_tr_puts(o, emu_trace_kind_name(r->kind), hashing);
  EMU_TR_LIT(o, "\"", hashing);
  if (r->queue) {
    EMU_TR_LIT(o, ",\"q\":\"", hashing);
    emu_tr_puts(o, r->queue, hashing);
    EMU_TR_LIT(o, "\"", hashing);
  }
  EMU_TR_FIELD(o, ",\"head\":", r->head, hashing);
  EMU_TR_FIELD(o, ",\"idx\":", r->idx, hashing);
  EMU_TR_FIELD(o, ",\"len\":", r->len, hashing);
  EMU_TR_FIELD(o, ",\"frame\":", r->frame, hashing);
  /* details are fixed identifiers from vnetsim's own tables: no escaping needed */
  if (r->detail) {
    EMU_TR_LIT(o, ",\"detail\":\"", hashing);
    emu_tr_puts(o, r->detail, hashing);
    EMU_TR_LIT(o, "\"", hashing);
  }
  EMU_TR_LIT(o, "}", hashing);
  if (o->cap) o->buf[o->n < o->cap ? o->n : o->cap - 1] = '\0';
}

static inline int emu_tr_stored(const emu_tr_out *o) {
  return o->n < o->cap ? (int)o->n : (int)(o->cap ? o->cap - 1 : 0);
}

int emu_trace_format(const emu_trace_rec *r, char *buf, size_t cap) {
  emu_tr_out o = {buf, cap, 0, 0};
  emu_tr_build(&o, r, 0);
  return emu_tr_stored(&o);
}

void emu_trace_emit(emu_trace *t, const emu_trace_rec *in) {
  if (!emu_trace_on(t)) return;
  emu_trace_rec rec = *in;
  rec.t_ns = t->clock ? *t->clock : 0;
  t->events++;
  if (t->observer) t->observer(t->observer_ctx, &rec);
  for (int i = 0; i < t->nextra; i++) t->extra[i].fn(t->extra[i].ctx, &rec);
  if (!t->sink && !t->hashing) return;
  char line[EMU_TR_LINE_CAP];
  emu_tr_out o = {line, sizeof line, 0, t->hash};
  /* the hash is taken while the line is built: one pass over its bytes */
  if (t->hashing) {
    emu_tr_build(&o, &rec, 1);
    t->hash = (o.hash ^ '\n') * EMU_TR_FNV_PRIME;
  } else {
    emu_tr_build(&o, &rec, 0);
  }
  int n = emu_tr_stored(&o);
  if (t->sink) {
    line[n] = '\n';
    if (fwrite(line, 1, (size_t)n + 1, t->sink) != (size_t)n + 1) t->io_error = 1;
  }
}
