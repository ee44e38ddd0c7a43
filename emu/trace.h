/* The trace: every ring and notification event of a run, one JSON line each.
 *
 * A line looks like
 *   {"t":1000250,"actor":"device","ev":"used_pushed","q":"rx","head":3,"idx":4,"len":110}
 * with "t" the virtual time in ns and the integer fields present only when
 * they apply. The trace hash folds every record's fields, in order, into 64
 * bits (include/vnetsim/trace.h defines it, so that a reader of the JSON
 * lines can recompute it): two runs have the same hash exactly when they
 * have the same trace. When no sink, hash or observer is enabled, emitting
 * costs one branch. */
#ifndef VNETSIM_EMU_TRACE_H
#define VNETSIM_EMU_TRACE_H

#include <stdint.h>
#include <stdio.h>

typedef enum emu_trace_kind {
  EMU_TR_DESC_WRITTEN,    /* driver wrote a descriptor (head, idx = descriptor, len) */
  EMU_TR_AVAIL_ADDED,     /* driver put a head in an avail slot (head, idx = slot index) */
  EMU_TR_AVAIL_PUBLISHED, /* driver stored avail.idx (idx) */
  EMU_TR_KICK,            /* driver notified the device (idx = avail.idx) */
  EMU_TR_KICK_SUPPRESSED, /* driver skipped a kick the device did not ask for */
  EMU_TR_KICK_RECEIVED,   /* the notification reached the device */
  EMU_TR_POP,             /* device took a chain (head, idx = its avail cursor, len) */
  EMU_TR_USED_PUSHED,     /* device wrote a used element (head, idx = used slot, len) */
  EMU_TR_USED_PUBLISHED,  /* device stored used.idx (idx) */
  EMU_TR_INTERRUPT,       /* device raised the interrupt */
  EMU_TR_INTERRUPT_SUPPRESSED,
  EMU_TR_INTERRUPT_RECEIVED,
  EMU_TR_USED_CONSUMED,   /* driver read a used element (head, idx = its cursor, len) */
  EMU_TR_BUFFER_REPOSTED, /* driver offered an RX buffer again (head) */
  EMU_TR_TX_RECLAIMED,    /* driver took back a TX buffer (head) */
  EMU_TR_FRAME_IN,        /* a frame reached the device from the host (frame, len) */
  EMU_TR_FRAME_OUT,       /* the device handed a guest frame to the host (len) */
  EMU_TR_FRAME_FATE,      /* a frame's one fate (frame, detail = fate) */
  EMU_TR_STATUS,          /* device status written (idx = status byte) */
  EMU_TR_VIOLATION,       /* a virtio rule broken (detail = rule and section) */
  EMU_TR_FAULT,           /* a link fault (q = direction, idx = frame_no, detail = fault) */
  /* Under a memory model only (emu/mm.h): */
  EMU_TR_STORE_VISIBLE, /* an actor's store reached the others (idx = guest address, len) */
  EMU_TR_BARRIER,       /* an actor's barrier (detail = "wmb", "rmb" or "mb") */
  /* The device holds a host frame for want of an RX buffer (frame, len, idx =
   * frames held with it); its fate comes when a buffer does or the run ends. */
  EMU_TR_BACKLOGGED,
  EMU_TR_KIND_COUNT
} emu_trace_kind;

typedef struct emu_trace_rec {
  uint64_t t_ns;
  const char *actor;
  emu_trace_kind kind;
  const char *queue;             /* NULL when not about one queue */
  int64_t head, idx, len, frame; /* -1 when absent */
  const char *detail;            /* NULL when absent */
} emu_trace_rec;

typedef void (*emu_trace_observer_fn)(void *ctx, const emu_trace_rec *rec);

typedef struct emu_trace {
  const uint64_t *clock; /* the virtual clock the records are stamped with */
  FILE *sink;            /* JSON lines, not owned; NULL for none */
  int hashing;
  uint64_t hash;
  uint64_t events;
  emu_trace_observer_fn observer; /* the user's observer */
  void *observer_ctx;
  /* observers vnetsim itself attaches (conformance log, ...) */
  struct {
    emu_trace_observer_fn fn;
    void *ctx;
  } extra[3];
  int nextra;
  int io_error;                               /* a write to the sink failed */
  uint64_t kind_value[EMU_TR_KIND_COUNT + 1]; /* each event name's text value; + 1: "unknown" */
} emu_trace;

/* A trace stamped from *clock; everything off until enabled below. */
void emu_trace_init(emu_trace *t, const uint64_t *clock);
void emu_trace_set_sink(emu_trace *t, FILE *sink);
void emu_trace_set_hashing(emu_trace *t, int on);
/* Sets (or with fn NULL clears) the user's observer: called with every
 * record, valid for the duration of the call. */
void emu_trace_set_observer(emu_trace *t, emu_trace_observer_fn fn, void *ctx);
/* Adds another observer beside the user's; EMU_ENOSPC past three. */
int emu_trace_add_observer(emu_trace *t, emu_trace_observer_fn fn, void *ctx);

static inline int emu_trace_on(const emu_trace *t) {
  return t && (t->sink || t->hashing || t->observer || t->nextra);
}

const char *emu_trace_kind_name(emu_trace_kind kind);
/* Records one event, stamped with the trace's clock (rec->t_ns is not
 * read); a no-op when the trace is off or t is NULL. Call it through
 * EMU_TRACE_EMIT. */
void emu_trace_emit(emu_trace *t, const emu_trace_rec *rec);

/* Records one event from the fields the caller names:
 *   EMU_TRACE_EMIT(t, .actor = "device", .kind = EMU_TR_POP, .queue = "rx",
 *                  .head = head, .len = len);
 * A field not named is absent (-1 or NULL). The absent values come first in
 * the initializer and a named field overrides them (C11 6.7.9 p19: the last
 * initializer of a member wins); the warning about that override is turned
 * off for this one statement, where it is the point. */
#define EMU_TRACE_ABSENT_ .head = -1, .idx = -1, .len = -1, .frame = -1
/* The on-check is made here, inline, so that with everything off an event
 * costs a test, not a call and a record built for nothing. */
#define EMU_TRACE_EMIT(t, ...)                                                              \
  do {                                                                                      \
    emu_trace *emu_trace_t_ = (t);                                                          \
    if (emu_trace_on(emu_trace_t_)) {                                                       \
      _Pragma("GCC diagnostic push");                                                       \
      _Pragma("GCC diagnostic ignored \"-Woverride-init\"");                                \
      emu_trace_emit(emu_trace_t_, &(const emu_trace_rec){EMU_TRACE_ABSENT_, __VA_ARGS__}); \
      _Pragma("GCC diagnostic pop");                                                        \
    }                                                                                       \
  } while (0)
/* A text's value in the trace hash (0 for NULL), as trace.h's public twin
 * defines it. */
uint64_t emu_trace_text_value(const char *s);
/* Formats rec as its JSON line (no newline) into buf; returns the length. */
int emu_trace_format(const emu_trace_rec *rec, char *buf, size_t cap);

#endif
