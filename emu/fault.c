/* Link fault injection: see fault.h for the order of faults and the reports. */
#include "emu/fault.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"

#define ETH_HEADER 14
#define NS_PER_S   1000000000ull

void emu_fault_config_default(emu_fault_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->dirs = EMU_FAULT_BOTH;
  cfg->delay_min_ns = cfg->delay_max_ns = 1000000;
  cfg->reorder_gap = 3;
  cfg->reorder_max_ns = 10000000;
  cfg->max_held = 1024;
}

int emu_fault_config_active(const emu_fault_config *cfg) {
  return cfg->drop > 0 || cfg->corrupt > 0 || cfg->duplicate > 0 || cfg->delay > 0 ||
         cfg->reorder > 0 || cfg->rate_bps > 0 || cfg->mtu > 0;
}

/* ---- parsing -------------------------------------------------------------------------- */

static int parse_error(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return EMU_EINVAL;
}

static int parse_prob(const char *v, double *out) {
  char *end;
  /* a decimal number, as every number on the command line: strtod would
   * also take a sign, leading spaces and hexadecimal */
  if (!(*v >= '0' && *v <= '9') && *v != '.') return -1;
  if (v[strspn(v, "0123456789.eE+-")]) return -1;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(d) || d < 0 || d > 1) return -1;
  *out = d;
  return 0;
}

static int parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end;
  if (*v < '0' || *v > '9') return -1;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end || x < lo || x > hi) return -1;
  *out = x;
  return 0;
}

/* The keys of a fault specification: what each value must be and which
 * field of emu_fault_config it goes to. */
typedef enum fault_key_kind {
  FK_PROB,     /* a probability, into a double */
  FK_U64,      /* an integer in [lo, hi] times scale, into a uint64_t */
  FK_U32,      /* the same into a uint32_t */
  FK_UNSIGNED, /* the same into an unsigned */
  FK_DIR,      /* send, recv or both, into the dirs bits */
} fault_key_kind;

typedef struct fault_key {
  const char *name;
  fault_key_kind kind;
  size_t field; /* offset in emu_fault_config */
  uint64_t lo, hi, scale;
  const char *what; /* what a value must be, for the error */
} fault_key;

#define NS_PER_US 1000u
#define FAULT_KEY(name, kind, field, lo, hi, scale, what) \
  { name, kind, offsetof(emu_fault_config, field), lo, hi, scale, what }
#define FAULT_PROB(name, field) \
  FAULT_KEY(name, FK_PROB, field, 0, 0, 1, "a probability from 0 to 1")

static const fault_key fault_keys[] = {
    FAULT_PROB("drop", drop),
    FAULT_PROB("corrupt", corrupt),
    FAULT_PROB("duplicate", duplicate),
    FAULT_PROB("dup", duplicate),
    FAULT_PROB("delay", delay),
    FAULT_PROB("reorder", reorder),
    FAULT_KEY("delay_us", FK_U64, delay_min_ns, 0, 60000000, NS_PER_US,
              "microseconds from 0 to 60000000"),
    FAULT_KEY("delay_max_us", FK_U64, delay_max_ns, 0, 60000000, NS_PER_US,
              "microseconds from 0 to 60000000"),
    FAULT_KEY("reorder_gap", FK_UNSIGNED, reorder_gap, 1, 1000, 1, "a count from 1 to 1000"),
    FAULT_KEY("reorder_max_us", FK_U64, reorder_max_ns, 1, 60000000, NS_PER_US,
              "microseconds from 1 to 60000000"),
    FAULT_KEY("rate", FK_U64, rate_bps, 1, 100000000000ull, 1, "bytes per second from 1 to 1e11"),
    FAULT_KEY("burst", FK_U64, burst_bytes, 64, 1000000000ull, 1, "bytes from 64 to 1e9"),
    /* RFC 791: every host takes 68-byte datagrams */
    FAULT_KEY("mtu", FK_U32, mtu, 68, 65535, 1, "bytes from 68 to 65535"),
    FAULT_KEY("dir", FK_DIR, dirs, 0, 0, 1, "send, recv or both"),
};

static const fault_key *fault_key_find(const char *name) {
  for (size_t i = 0; i < sizeof fault_keys / sizeof fault_keys[0]; i++)
    if (!strcmp(fault_keys[i].name, name)) return &fault_keys[i];
  return NULL;
}

static unsigned parse_dir(const char *v) {
  return !strcmp(v, "send")   ? EMU_FAULT_SEND
         : !strcmp(v, "recv") ? EMU_FAULT_RECV
         : !strcmp(v, "both") ? EMU_FAULT_BOTH
                              : 0;
}

/* Stores val in k's field; -1 (field untouched) when it is not what k takes. */
static int fault_key_set(const fault_key *k, const char *val, emu_fault_config *cfg) {
  char *at = (char *)cfg + k->field;
  double d;
  uint64_t u;
  if (k->kind == FK_PROB) {
    if (parse_prob(val, &d)) return -1;
    memcpy(at, &d, sizeof d);
  } else if (k->kind == FK_DIR) {
    unsigned dirs = parse_dir(val);
    if (!dirs) return -1;
    memcpy(at, &dirs, sizeof dirs);
  } else {
    if (parse_u64(val, k->lo, k->hi, &u)) return -1;
    u *= k->scale;
    uint32_t u32 = (uint32_t)u;
    unsigned un = (unsigned)u;
    if (k->kind == FK_U64) memcpy(at, &u, sizeof u);
    if (k->kind == FK_U32) memcpy(at, &u32, sizeof u32);
    if (k->kind == FK_UNSIGNED) memcpy(at, &un, sizeof un);
  }
  return 0;
}

int emu_fault_config_parse(const char *spec, emu_fault_config *cfg, char *err, size_t errlen) {
  emu_fault_config_default(cfg);
  if (!spec) return parse_error(err, errlen, "no fault specification");
  char buf[512];
  if (strlen(spec) >= sizeof buf) return parse_error(err, errlen, "fault specification too long");
  strcpy(buf, spec);
  int delay_set = 0, delay_max_set = 0;
  for (char *item = buf, *next; item; item = next) {
    next = strchr(item, ',');
    if (next) *next++ = '\0';
    if (*item == '\0') {
      if (next || item != buf) return parse_error(err, errlen, "empty fault in '%s'", spec);
      break; /* the empty specification */
    }
    char *eq = strchr(item, '=');
    if (!eq) return parse_error(err, errlen, "fault '%s': expected key=value", item);
    *eq = '\0';
    const char *key = item, *val = eq + 1;
    const fault_key *k = fault_key_find(key);
    if (!k)
      return parse_error(err, errlen,
                         "unknown fault '%s' (known: drop, corrupt, duplicate, delay, reorder, "
                         "delay_us, delay_max_us, reorder_gap, reorder_max_us, rate, burst, mtu, "
                         "dir)",
                         key);
    if (fault_key_set(k, val, cfg))
      return parse_error(err, errlen, "fault %s: '%s' is not %s", key, val, k->what);
    delay_set |= k->field == offsetof(emu_fault_config, delay_min_ns);
    delay_max_set |= k->field == offsetof(emu_fault_config, delay_max_ns);
  }
  /* delay_us alone sets both ends of the delay */
  if (delay_set && !delay_max_set) cfg->delay_max_ns = cfg->delay_min_ns;
  if (cfg->delay_min_ns > cfg->delay_max_ns)
    return parse_error(err, errlen, "fault delay_max_us is below delay_us");
  return 0;
}

/* ---- the wrapper ------------------------------------------------------------------------- */

static void report(emu_fault *f, emu_fault_event ev, emu_fault_dir dir, emu_fate reason,
                   int removed, uint64_t frame_no, const uint8_t *frame, size_t len,
                   uint64_t now_ns, size_t offset, uint64_t release_ns, emu_fate fate) {
  if (ev == EMU_FAULT_EV_APPLIED) f->stats.faults[reason]++;
  if (!f->report) return;
  emu_fault_report r = {ev,  dir,    reason, removed,    frame_no, frame,
                        len, offset, now_ns, release_ns, fate};
  f->report(f->report_ctx, &r);
}

/* Moves one frame on in its direction; returns the receiver's fate (RECV) or
 * PENDING (SEND: the far side decides later). */
static emu_fate pass_on(emu_fault *f, emu_fault_dir dir, uint64_t frame_no, int copy,
                        const uint8_t *frame, size_t len, uint64_t now_ns) {
  f->stats.frames_out[dir]++;
  f->passing_no = frame_no;
  f->passing_copy = copy;
  if (dir == EMU_FAULT_SEND) {
    (void)emu_port_send(f->inner, frame, len, now_ns);
    return EMU_FATE_PENDING;
  }
  return emu_port_deliver(&f->outer, frame, len, now_ns);
}

/* One uniform draw in [0, 1) compared with p; no draw when p is 0, so that
 * a fault switched off leaves the others' draws where they were. */
static int chance(emu_fault *f, double p) {
  if (p <= 0) return 0;
  double u = (double)(emu_rng_next(&f->rng) >> 11) * (1.0 / 9007199254740992.0);
  return u < p;
}

static uint64_t burst_of(const emu_fault *f) {
  return f->cfg.burst_bytes ? f->cfg.burst_bytes : 15140;
}

/* Token bucket: refills at rate_bps; 1 when len bytes may pass now. */
static int rate_ok(emu_fault *f, size_t len, uint64_t now_ns) {
  uint64_t cap = burst_of(f) * NS_PER_S;
  if (!f->tokens_started) {
    f->tokens_started = 1;
    f->tokens = cap;
  } else if (now_ns > f->tokens_last_ns) {
    uint64_t dt = now_ns - f->tokens_last_ns;
    /* Refill without overflow: past the time to fill the bucket it is full. */
    if (dt >= cap / f->cfg.rate_bps)
      f->tokens = cap;
    else
      f->tokens = f->tokens + dt * f->cfg.rate_bps > cap ? cap : f->tokens + dt * f->cfg.rate_bps;
  }
  f->tokens_last_ns = now_ns > f->tokens_last_ns ? now_ns : f->tokens_last_ns;
  uint64_t need = (uint64_t)len * NS_PER_S;
  if (f->tokens < need) return 0;
  f->tokens -= need;
  return 1;
}

static int hold(emu_fault *f, emu_fault_dir dir, emu_fate reason, uint64_t frame_no,
                const uint8_t *frame, size_t len, uint64_t release_ns) {
  if (f->nheld >= f->cfg.max_held) {
    f->stats.not_held++;
    return 0;
  }
  emu_fault_held *held = emu_grow(f->held, &f->held_cap, f->nheld + 1, sizeof *held, 16);
  if (!held) return 0;
  f->held = held;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return 0;
  memcpy(copy, frame, len);
  f->held[f->nheld++] = (emu_fault_held){
      dir, reason, frame_no, release_ns, f->held_order++, f->cfg.reorder_gap, copy, len};
  return 1;
}

/* Takes held frame i out and sends it on. */
static void release(emu_fault *f, size_t i, uint64_t now_ns) {
  emu_fault_held h = f->held[i];
  memmove(&f->held[i], &f->held[i + 1], (f->nheld - i - 1) * sizeof *f->held);
  f->nheld--;
  emu_fate fate = pass_on(f, h.dir, h.frame_no, 0, h.data, h.len, now_ns);
  report(f, EMU_FAULT_EV_RELEASED, h.dir, h.reason, 0, h.frame_no, h.data, h.len, now_ns, 0,
         h.release_ns, fate);
  free(h.data);
}

/* A frame went by in dir: reordered frames waiting for gap_left more frames
 * leave once it reaches 0, right after the frame that overtook them. */
static void count_overtake(emu_fault *f, emu_fault_dir dir, uint64_t now_ns) {
  for (size_t i = 0; i < f->nheld;) {
    emu_fault_held *h = &f->held[i];
    if (h->dir == dir && h->reason == EMU_FATE_FAULT_REORDER && --h->gap_left == 0) {
      release(f, i, now_ns);
      continue;
    }
    i++;
  }
}

static emu_fate fault_frame(emu_fault *f, emu_fault_dir dir, const uint8_t *frame, size_t len,
                            uint64_t now_ns) {
  uint64_t no = f->frame_no[dir]++;
  f->stats.frames_in[dir]++;
  if (!(f->cfg.dirs & dir)) {
    emu_fate fate = pass_on(f, dir, no, 0, frame, len, now_ns);
    count_overtake(f, dir, now_ns);
    return fate;
  }
  const emu_fault_config *c = &f->cfg;
  emu_fate removed = EMU_FATE_PENDING;
  if (c->mtu && len > ETH_HEADER + (size_t)c->mtu)
    removed = EMU_FATE_FAULT_MTU;
  else if (c->rate_bps && !rate_ok(f, len, now_ns))
    removed = EMU_FATE_FAULT_RATE_LIMIT;
  else if (chance(f, c->drop))
    removed = EMU_FATE_FAULT_DROP;
  if (removed != EMU_FATE_PENDING) {
    report(f, EMU_FAULT_EV_APPLIED, dir, removed, 1, no, frame, len, now_ns, 0, 0,
           EMU_FATE_PENDING);
    return removed;
  }
  uint8_t *corrupted = NULL;
  if (chance(f, c->corrupt) && len > ETH_HEADER) {
    corrupted = malloc(len);
    if (corrupted) {
      memcpy(corrupted, frame, len);
      size_t off = (size_t)emu_rng_range(&f->rng, ETH_HEADER, len - 1);
      corrupted[off] ^= (uint8_t)emu_rng_range(&f->rng, 1, 255);
      frame = corrupted;
      report(f, EMU_FAULT_EV_APPLIED, dir, EMU_FATE_FAULT_CORRUPT, 0, no, frame, len, now_ns, off,
             0, EMU_FATE_PENDING);
    }
  }
  int dup = chance(f, c->duplicate);
  emu_fate fate = EMU_FATE_PENDING;
  int held = 0;
  if (chance(f, c->delay)) {
    uint64_t at = now_ns + emu_rng_range(&f->rng, c->delay_min_ns, c->delay_max_ns);
    held = hold(f, dir, EMU_FATE_FAULT_DELAY, no, frame, len, at);
    if (held)
      report(f, EMU_FAULT_EV_APPLIED, dir, EMU_FATE_FAULT_DELAY, 0, no, frame, len, now_ns, 0, at,
             EMU_FATE_PENDING);
  }
  if (!held && chance(f, c->reorder)) {
    held = hold(f, dir, EMU_FATE_FAULT_REORDER, no, frame, len, now_ns + c->reorder_max_ns);
    if (held)
      report(f, EMU_FAULT_EV_APPLIED, dir, EMU_FATE_FAULT_REORDER, 0, no, frame, len, now_ns, 0,
             now_ns + c->reorder_max_ns, EMU_FATE_PENDING);
  }
  if (!held) {
    fate = pass_on(f, dir, no, 0, frame, len, now_ns);
    /* count_overtake before the copy: the copy is not a new frame that
     * overtakes anything. */
    count_overtake(f, dir, now_ns);
  }
  if (dup) {
    emu_fate copy_fate = pass_on(f, dir, no, 1, frame, len, now_ns);
    report(f, EMU_FAULT_EV_APPLIED, dir, EMU_FATE_FAULT_DUPLICATE, 0, no, frame, len, now_ns, 0, 0,
           copy_fate);
  }
  free(corrupted);
  return fate;
}

static int fault_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)fault_frame(impl, EMU_FAULT_SEND, frame, len, now_ns);
  return 0; /* a wire loses frames silently: the sender never hears of it */
}

static emu_fate fault_rx(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  return fault_frame(ctx, EMU_FAULT_RECV, frame, len, now_ns);
}

int emu_fault_init(emu_fault *f, const emu_fault_config *cfg, uint64_t seed, emu_port *inner) {
  if (!f || !cfg || !inner || !inner->send) return EMU_EINVAL;
  const double p[] = {cfg->drop, cfg->corrupt, cfg->duplicate, cfg->delay, cfg->reorder};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
    if (!(p[i] >= 0 && p[i] <= 1)) return EMU_EINVAL;
  if (cfg->delay_min_ns > cfg->delay_max_ns || cfg->reorder_gap == 0) return EMU_EINVAL;
  memset(f, 0, sizeof *f);
  f->cfg = *cfg;
  emu_rng_init(&f->rng, seed);
  f->inner = inner;
  f->outer = (emu_port){.send = fault_send, .impl = f};
  emu_port_attach(inner, fault_rx, f);
  return 0;
}

void emu_fault_close(emu_fault *f, uint64_t now_ns) {
  for (size_t i = 0; i < f->nheld; i++) {
    emu_fault_held *h = &f->held[i];
    report(f, EMU_FAULT_EV_APPLIED, h->dir, EMU_FATE_FAULT_DROP, 1, h->frame_no, h->data, h->len,
           now_ns, 0, 0, EMU_FATE_PENDING);
    free(h->data);
  }
  free(f->held);
  f->held = NULL;
  f->nheld = f->held_cap = 0;
}

emu_port *emu_fault_port(emu_fault *f) { return &f->outer; }

void emu_fault_set_report(emu_fault *f, emu_fault_report_fn fn, void *ctx) {
  f->report = fn;
  f->report_ctx = ctx;
}

/* Index of the held frame to leave first (earliest release, then earliest
 * held), or nheld when there is none due at until_ns. */
static size_t next_due(const emu_fault *f, uint64_t until_ns) {
  size_t best = f->nheld;
  for (size_t i = 0; i < f->nheld; i++) {
    const emu_fault_held *h = &f->held[i];
    if (h->release_ns > until_ns) continue;
    if (best == f->nheld || h->release_ns < f->held[best].release_ns ||
        (h->release_ns == f->held[best].release_ns && h->order < f->held[best].order))
      best = i;
  }
  return best;
}

void emu_fault_poll(emu_fault *f, uint64_t now_ns) {
  size_t i;
  while ((i = next_due(f, now_ns)) < f->nheld) release(f, i, now_ns);
}

void emu_fault_flush(emu_fault *f, uint64_t now_ns) {
  size_t i;
  while ((i = next_due(f, UINT64_MAX)) < f->nheld) release(f, i, now_ns);
}

uint64_t emu_fault_poll_at(const emu_fault *f) {
  uint64_t at = UINT64_MAX;
  for (size_t i = 0; i < f->nheld; i++)
    if (f->held[i].release_ns < at) at = f->held[i].release_ns;
  return at;
}

const emu_fault_stats *emu_fault_stats_get(const emu_fault *f) { return &f->stats; }

uint64_t emu_fault_oldest(const emu_fault *f, emu_fault_dir dir) {
  uint64_t oldest = f->frame_no[dir];
  for (size_t i = 0; i < f->nheld; i++)
    if (f->held[i].dir == dir && f->held[i].frame_no < oldest) oldest = f->held[i].frame_no;
  return oldest;
}

void emu_fault_passing(const emu_fault *f, uint64_t *frame_no, int *is_copy) {
  *frame_no = f->passing_no;
  *is_copy = f->passing_copy;
}
