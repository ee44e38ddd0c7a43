#include "emu/trace.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include "emu/err.h"

/* The trace hash's constants (its definition is in trace.h): the start
 * value is FNV-1a's offset basis, the multiplier 2^64 / golden ratio. */
#define EMU_TR_HASH_BASIS 0xcbf29ce484222325ull
#define EMU_TR_MIX        0x9e3779b97f4a7c15ull
#define EMU_TR_MIX_SHIFT  32
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
    [EMU_TR_STORE_VISIBLE] = "store_visible",
    [EMU_TR_BARRIER] = "barrier",
    [EMU_TR_BACKLOGGED] = "backlogged",
};

const char *emu_trace_kind_name(emu_trace_kind kind) {
  return (unsigned)kind < EMU_TR_KIND_COUNT ? emu_trace_kind_names[kind] : "unknown";
}

void emu_trace_init(emu_trace *t, const uint64_t *clock) {
  memset(t, 0, sizeof *t);
  for (int k = 0; k <= EMU_TR_KIND_COUNT; k++)
    t->kind_value[k] = emu_trace_text_value(emu_trace_kind_name((emu_trace_kind)k));
  t->clock = clock;
  t->hash = EMU_TR_HASH_BASIS;
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
 * which is what the snprintf calls this replaces did, so the stored text
 * and the returned length stay the same. */
typedef struct emu_tr_out {
  char *buf;
  size_t cap, n; /* n: the length the whole line would have */
} emu_tr_out;

static inline void emu_tr_put(emu_tr_out *o, const char *s, size_t len) {
  size_t room = o->n + 1 < o->cap ? o->cap - 1 - o->n : 0;
  size_t k = len < room ? len : room;
  if (k) memcpy(o->buf + o->n, s, k);
  o->n += len;
}

/* What printf's %s prints: glibc spells a null pointer "(null)". */
static inline void emu_tr_puts(emu_tr_out *o, const char *s) {
  if (!s) s = "(null)";
  emu_tr_put(o, s, strlen(s));
}

/* Decimal, as %PRIu64 prints it. */
static inline void emu_tr_putu(emu_tr_out *o, uint64_t v) {
  char d[EMU_TR_U64_DIGITS];
  size_t i = sizeof d;
  do {
    d[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  emu_tr_put(o, d + i, sizeof d - i);
}

#define EMU_TR_LIT(o, lit) emu_tr_put((o), (lit), sizeof(lit) - 1)

/* An integer field as ,"name":N, present when N >= 0. */
static inline void emu_tr_field(emu_tr_out *o, const char *key, size_t klen, int64_t v) {
  if (v < 0) return;
  emu_tr_put(o, key, klen);
  emu_tr_putu(o, (uint64_t)v);
}
#define EMU_TR_FIELD(o, key, v) emu_tr_field((o), (key), sizeof(key) - 1, (v))

/* Builds rec's JSON line (see trace.h for its shape). */
static inline void emu_tr_build(emu_tr_out *o, const emu_trace_rec *r) {
  EMU_TR_LIT(o, "{\"t\":");
  emu_tr_putu(o, r->t_ns);
  EMU_TR_LIT(o, ",\"actor\":\"");
  emu_tr_puts(o, r->actor);
  EMU_TR_LIT(o, "\",\"ev\":\"");
  emu_tr_puts(o, emu_trace_kind_name(r->kind));
  EMU_TR_LIT(o, "\"");
  if (r->queue) {
    EMU_TR_LIT(o, ",\"q\":\"");
    emu_tr_puts(o, r->queue);
    EMU_TR_LIT(o, "\"");
  }
  EMU_TR_FIELD(o, ",\"head\":", r->head);
  EMU_TR_FIELD(o, ",\"idx\":", r->idx);
  EMU_TR_FIELD(o, ",\"len\":", r->len);
  EMU_TR_FIELD(o, ",\"frame\":", r->frame);
  /* details are fixed identifiers from vnetsim's own tables: no escaping needed */
  if (r->detail) {
    EMU_TR_LIT(o, ",\"detail\":\"");
    emu_tr_puts(o, r->detail);
    EMU_TR_LIT(o, "\"");
  }
  EMU_TR_LIT(o, "}");
  if (o->cap) o->buf[o->n < o->cap ? o->n : o->cap - 1] = '\0';
}

static inline int emu_tr_stored(const emu_tr_out *o) {
  return o->n < o->cap ? (int)o->n : (int)(o->cap ? o->cap - 1 : 0);
}

int emu_trace_format(const emu_trace_rec *r, char *buf, size_t cap) {
  emu_tr_out o = {buf, cap, 0};
  emu_tr_build(&o, r);
  return emu_tr_stored(&o);
}

/* The trace hash (its definition is in trace.h). Words, not bytes: each
 * step is one multiply, and the two halves of a record do not depend on the
 * running hash, so they are computed beside the previous record's steps. */
static inline uint64_t emu_tr_mix(uint64_t x, uint64_t w) {
  x = (x ^ w) * EMU_TR_MIX;
  return x ^ (x >> EMU_TR_MIX_SHIFT);
}

/* Byte by byte into words, without strlen or memcpy: trace texts are short
 * (most fit one word), where those calls cost more than the loop. */
uint64_t emu_trace_text_value(const char *s) {
  if (!s) return 0;
  uint64_t x = EMU_TR_HASH_BASIS, word = 0, len = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned at = (unsigned)(len++ % sizeof word);
    word |= (uint64_t)*p << (CHAR_BIT * at);
    if (at == sizeof word - 1) {
      x = emu_tr_mix(x, word);
      word = 0;
    }
  }
  if (len % sizeof word) x = emu_tr_mix(x, word);
  return emu_tr_mix(x, len);
}

static uint64_t emu_tr_hash_rec(const emu_trace *t, const emu_trace_rec *r, uint64_t h) {
  unsigned kind = (unsigned)r->kind < EMU_TR_KIND_COUNT ? (unsigned)r->kind : EMU_TR_KIND_COUNT;
  uint64_t names = EMU_TR_HASH_BASIS;
  names = emu_tr_mix(names, r->t_ns);
  names = emu_tr_mix(names, emu_trace_text_value(r->actor));
  names = emu_tr_mix(names, t->kind_value[kind]);
  names = emu_tr_mix(names, emu_trace_text_value(r->queue));
  uint64_t fields = EMU_TR_HASH_BASIS;
  fields = emu_tr_mix(fields, (uint64_t)r->head);
  fields = emu_tr_mix(fields, (uint64_t)r->idx);
  fields = emu_tr_mix(fields, (uint64_t)r->len);
  fields = emu_tr_mix(fields, (uint64_t)r->frame);
  fields = emu_tr_mix(fields, emu_trace_text_value(r->detail));
  return emu_tr_mix(emu_tr_mix(h, names), fields);
}

void emu_trace_emit(emu_trace *t, const emu_trace_rec *in) {
  if (!emu_trace_on(t)) return;
  emu_trace_rec rec = *in;
  rec.t_ns = t->clock ? *t->clock : 0;
  t->events++;
  if (t->observer) t->observer(t->observer_ctx, &rec);
  for (int i = 0; i < t->nextra; i++) t->extra[i].fn(t->extra[i].ctx, &rec);
  if (t->hashing) t->hash = emu_tr_hash_rec(t, &rec, t->hash);
  if (!t->sink) return;
  char line[EMU_TR_LINE_CAP];
  int n = emu_trace_format(&rec, line, sizeof line);
  line[n] = '\n';
  if (fwrite(line, 1, (size_t)n + 1, t->sink) != (size_t)n + 1) t->io_error = 1;
}
