#include "emu/trace.h"

#include <stddef.h>
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
    [EMU_TR_STORE_VISIBLE] = "store_visible",
    [EMU_TR_BARRIER] = "barrier",
    [EMU_TR_BACKLOGGED] = "backlogged",
};

const char *emu_trace_kind_name(emu_trace_kind kind) {
  return (unsigned)kind < EMU_TR_KIND_COUNT ? emu_trace_kind_names[kind] : "unknown";
}

void emu_trace_init(emu_trace *t, const uint64_t *clock) {
  memset(t, 0, offsetof(emu_trace, memo));
  for (int k = 0; k <= EMU_TR_KIND_COUNT; k++)
    for (int w = 0; w < EMU_TRACE_MEMO_WAYS; w++) t->memo[k][w].len = 0;
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

/* Numbers in a line: "t" and the four integer fields. */
#define EMU_TR_MAX_NUMBERS 5

/* A line being built: bytes beyond cap - 1 are counted but not stored,
 * which is what the snprintf calls this replaces did, so the stored text,
 * the returned length and the hash (over the stored bytes) stay the same. */
typedef struct emu_tr_out {
  char *buf;
  size_t cap, n; /* n: the length the whole line would have */
  int nnum;      /* where each number's digits start, and how many */
  size_t num_at[EMU_TR_MAX_NUMBERS], num_len[EMU_TR_MAX_NUMBERS];
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
  o->num_at[o->nnum] = o->n;
  o->num_len[o->nnum++] = sizeof d - i;
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
  emu_tr_out o = {buf, cap, 0, 0, {0}, {0}};
  emu_tr_build(&o, r);
  return emu_tr_stored(&o);
}

static uint64_t emu_tr_fnv(const char *p, size_t len, uint64_t h) {
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)p[i]) * EMU_TR_FNV_PRIME;
  return h;
}

/* Why the memo works: with l = h & 0xff and a byte b, h ^ b = h - l + (l ^ b),
 * so (h ^ b) * P = h * P + ((l ^ b) - l) * P (mod 2^64), and the new low
 * byte, ((l ^ b) * P) & 0xff, again depends on l alone. Over a whole text,
 * FNV(h) = h * P^len + S(l), where S(l) = FNV(l) - l * P^len: a table of 256
 * values per text, filled here as the low bytes turn up. */
static uint64_t emu_tr_memo_hash(emu_trace *t, unsigned kind, const char *p, size_t len,
                                 uint64_t h) {
  if (len > EMU_TRACE_MEMO_TEXT) return emu_tr_fnv(p, len, h);
  /* the kind only picks where to look; the text itself decides a hit */
  emu_trace_memo *m = t->memo[kind];
  int way = -1;
  for (int w = 0; w < EMU_TRACE_MEMO_WAYS && way < 0; w++)
    if (m[w].len == len && memcmp(m[w].text, p, len) == 0) way = w;
  if (way < 0) {
    way = t->memo_victim[kind];
    emu_trace_memo *e = &m[way];
    e->len = (uint16_t)len;
    memcpy(e->text, p, len);
    memset(e->filled, 0, sizeof e->filled);
    e->mul = 1;
    for (size_t i = 0; i < len; i++) e->mul *= EMU_TR_FNV_PRIME;
  }
  t->memo_victim[kind] = (uint8_t)((way + 1) % EMU_TRACE_MEMO_WAYS);
  emu_trace_memo *e = &m[way];
  unsigned l = (unsigned)(h & 0xff);
  uint64_t bit = 1ull << (l & 63);
  if (!(e->filled[l >> 6] & bit)) {
    e->add[l] = emu_tr_fnv(p, len, l) - (uint64_t)l * e->mul;
    e->filled[l >> 6] |= bit;
  }
  return h * e->mul + e->add[l];
}

/* The hash of a whole line (buf[n] is its newline): through the memo for
 * the piece after "t", byte by byte for the rest. */
static uint64_t emu_tr_hash_line(emu_trace *t, const emu_tr_out *o, const emu_trace_rec *r,
                                 uint64_t h) {
  size_t t_end = o->num_at[0] + o->num_len[0];
  size_t end = o->nnum > 1 ? o->num_at[1] : o->n + 1;
  unsigned kind = (unsigned)r->kind < EMU_TR_KIND_COUNT ? (unsigned)r->kind : EMU_TR_KIND_COUNT;
  h = emu_tr_fnv(o->buf, t_end, h);
  h = emu_tr_memo_hash(t, kind, o->buf + t_end, end - t_end, h);
  return emu_tr_fnv(o->buf + end, o->n + 1 - end, h);
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
  emu_tr_out o = {line, sizeof line, 0, 0, {0}, {0}};
  emu_tr_build(&o, &rec);
  int n = emu_tr_stored(&o);
  line[n] = '\n';
  if (t->hashing) {
    /* a line cut at the buffer is hashed as stored, byte by byte */
    if (o.n < sizeof line)
      t->hash = emu_tr_hash_line(t, &o, &rec, t->hash);
    else
      t->hash = emu_tr_fnv(line, (size_t)n + 1, t->hash);
  }
  if (t->sink && fwrite(line, 1, (size_t)n + 1, t->sink) != (size_t)n + 1) t->io_error = 1;
}
