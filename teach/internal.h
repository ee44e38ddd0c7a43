/* The recorder's own state, shared by the recorder (recorder.c) and the
 * step explanations (explain.c). Not part of the teaching API (teach.h). */
#ifndef VNETSIM_TEACH_INTERNAL_H
#define VNETSIM_TEACH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "teach/teach.h"

/* A growable string: an explanation being written. */
typedef struct teach_str {
  char *p;
  size_t n, cap;
} teach_str;

void teach_str_add(teach_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The RX used elements a step lists by id and len (a frame spans at most
 * the queue, and the walkthrough's frames a few buffers). */
#define TEACH_MRG_LISTED 8

/* What one side did to one queue within a step, in ring indices. */
typedef struct teach_span {
  uint32_t n;
  int64_t idx_first, idx_last; /* free-running ring index */
  int64_t head_first, head_last;
  uint32_t len_last;
} teach_span;

/* Everything a step's explanation needs, gathered from its events. */
typedef struct teach_facts {
  uint8_t status;
  uint64_t features;
  teach_span post[2], pop[2], push[2], consume[2];
  uint32_t reposts, reclaims;
  uint32_t kicks[2], kicks_supp[2], kicks_received[2];
  uint32_t irqs[2], irqs_supp[2], irqs_received[2];
  int avail_published[2];
  uint16_t avail_old[2], avail_new[2];
  int used_published[2];
  uint16_t used_old[2], used_new[2];
  uint32_t frames_in, frames_out;
  int64_t frame_first, frame_last;
  uint32_t frame_len, out_len;
  emu_fate fate;
  const char *detail, *actor;
  int64_t fate_frame;
  emu_fate stack_fate; /* what the guest stack did with this step's frame */
  /* under a memory model, per side (0 driver, 1 device): stores of its
   * that became visible during the step (the first few named) and its
   * barriers by kind (gmem_barrier_kind) */
  uint32_t visible[2], barriers[2][3];
  char visible_fields[2][128];
  /* packed rings, per queue: both sides' cursors before the step
   * (TEACH_PK_*), the driver's avail cursor at its last kick decision and
   * the device's used cursor at its last interrupt decision, before this
   * step's (what the decisions compare against) */
  teach_wpos pk_before[2][4];
  teach_wpos pk_kick_from[2], pk_signalled[2];
  /* mergeable RX buffers (teach/explain_mrg.c): the RX used elements the
   * device wrote in the step (the first TEACH_MRG_LISTED, rx_npushed of
   * them in all); for a buffer the driver took, which of the frame's
   * buffers it is as the driver counts (from 1), of how many, the frame
   * bytes joined so far, whether the device began a frame in it (only
   * such a buffer has a header, §5.1.6.4), how many buffers the device
   * really used for that frame, and the frame's first head */
  teach_used_elem rx_pushed[TEACH_MRG_LISTED];
  uint32_t rx_npushed;
  uint16_t mrg_part, mrg_nbuf, mrg_dev_nbuf;
  uint32_t mrg_joined;
  int mrg_has_hdr;
  int64_t mrg_first_head;
} teach_facts;

/* The four cursors of a packed queue, in teach_facts.pk_before. */
enum { TEACH_PK_DRV_AVAIL, TEACH_PK_DRV_USED, TEACH_PK_DEV_AVAIL, TEACH_PK_DEV_USED };

/* A kept array that halves itself (keeping every other entry) when full,
 * so memory stays bounded however long the run is. */
typedef struct teach_sampled {
  void *items;
  size_t n, max, size, stride;
  uint64_t total; /* items offered */
  /* When set: folds an item that is not kept into the next one kept, so
   * what it said is not lost (the timeline's idle times). */
  void (*fold)(void *into, const void *dropped);
  char carry[sizeof(teach_point)]; /* folded items waiting for the next kept one */
  int carrying;
} teach_sampled;

/* A cursor the emitting code has not stored yet when its event fires: the
 * ring halves trace AVAIL_ADDED, USED_PUSHED and USED_CONSUMED just before
 * they move avail_idx_shadow, used_idx_shadow and last_used_idx by one.
 *
 * Why the recorder still reads the ring halves' cursors (and the driver's
 * per-head bookkeeping) from scn instead of rebuilding them from the trace:
 * some of that state has no trace record at all. The driver's free count
 * and which heads it still counts as in flight (what tells "lost" from
 * "free": the used elements rx-last-only passes over get no event) live
 * only in vq_drv, and a head's chain length only in its bookkeeping.
 * Rebuilding them would change what the pages show. What would
 * remove this patch-up instead is each ring half emitting those three
 * events after its store (same record contents, so the same trace bytes):
 * a change in virtio/, not here. The packed ring's half does so already
 * (virtio/vq_packed.c), so a packed queue needs none of this. */
typedef enum teach_cursor {
  TEACH_CUR_NONE = 0,
  TEACH_CUR_DRV_AVAIL_SHADOW,
  TEACH_CUR_DEV_USED_SHADOW,
  TEACH_CUR_DRV_LAST_USED
} teach_cursor;

typedef struct teach_unstored {
  teach_cursor which;
  int q;
  uint16_t value;
} teach_unstored;

struct teach_rec {
  teach_opts opts;
  scn *s;
  int attached, coarse, finished;
  /* the step being built */
  int open;
  teach_step cur;
  int cur_keep;
  teach_facts f;
  teach_point cur_point;
  uint32_t nsteps_all;
  /* kept steps */
  teach_step *steps;
  size_t nsteps, step_stride;
  teach_sampled points, marks[TEACH_MARK_COUNT];
  /* recorder's own knowledge of the rings */
  uint8_t *held[2]; /* per head: popped by the device, not yet pushed */
  uint16_t held_size[2];
  uint16_t held_count[2];
  uint16_t avail_pub[2], used_pub[2]; /* last published indices, for "old -> new" */
  /* an RX head consumed and not yet offered again: the step that consumed it */
  int64_t *pending_repost;
  uint16_t pending_size;
  int wrap_told[2][2];  /* [queue][avail, used] */
  int wrap_explained;   /* the long explanation was given once */
  uint16_t lost_before; /* lost heads in both queues after the last step */
  teach_unstored unstored;
  /* what the open step wrote, per queue: TEACH_W_* per slot, TEACH_H_* */
  uint8_t *wrote[2];
  uint16_t wrote_size[2];
  uint8_t hdr_wrote[2];
  /* the fields stored without a trace record, as last read: avail.flags,
   * used_event, used.flags, avail_event */
  uint16_t quiet_seen[2][4];
  uint16_t quiet_size[2];   /* the queue size they were read at; 0: not yet */
  int64_t last_consumed[2]; /* the ring index of the last used element the driver read */
  /* the run's idle time, from every event */
  uint64_t last_event_t, idle_since_point, idle_gaps, idle_longest;
  int seen_event, rings_capped;
  int setup_told[2]; /* the queue's layout in memory was explained */
  int setup_step[2]; /* split rings: the queue's set-up step was recorded */
  /* packed rings: where each chain the device holds starts, by buffer id
   * (the device knows its length, not where it was); both queues' cursors
   * after the last event; a scratch array of owners for the timeline */
  uint16_t *held_pos[2];
  teach_wpos pk_now[2][4];
  uint8_t *pk_owner;
  uint16_t pk_owner_size;
  /* [queue][TEACH_PK_*]: a wrap counter's flip was explained */
  int pk_flip_told[2][4];
  /* [queue][avail, used]: the cursor at the last notification decision */
  teach_wpos pk_decided[2][2];
  /* RX buffers, by head (split) or buffer id (packed), rx_size of each:
   * where the buffer lies (learnt when the device takes it), whether the
   * device began a frame in it, and over how many buffers that frame
   * went. The device's side: a frame came and its first buffer is not
   * written yet; buffers taken since it came. The driver's side, as it
   * counts: buffers of the frame it is joining still to take, which one
   * it took last (from 1), of how many, bytes joined, the first head. */
  uint64_t *rx_addr;
  uint8_t *rx_first;
  uint16_t *rx_nbuf;
  uint16_t rx_size;
  int dev_frame_new;
  uint16_t dev_frame_bufs;
  uint16_t drv_left, drv_part, drv_nbuf;
  uint32_t drv_joined;
  int64_t drv_first_head;
};

/* The driver half of queue q. */
static inline const vq_drv *teach_drv_q(const scn *s, int q) {
  return q == (int)VNET_RXQ ? &s->drv.rxq : &s->drv.txq;
}

/* The packed driver half of queue q. */
static inline const vqp_drv *teach_pdrv_q(const scn *s, int q) {
  return q == (int)VNET_RXQ ? &s->drv.prxq : &s->drv.ptxq;
}

/* Queue q's size as the driver set it up; 0 before. */
static inline uint16_t teach_qsize(const scn *s, int q) {
  return s->drv.packed ? teach_pdrv_q(s, q)->layout.size : teach_drv_q(s, q)->layout.size;
}

/* --- packed rings (teach/packed.c) -------------------------------------- */

/* Queue q's packed cursors now, into g and into TEACH_PK_* order. */
void teach_pk_cursors(const scn *s, int q, teach_ring *g, teach_wpos now[4]);
/* Queue q's descriptor ring, event suppression structures, cursors and
 * owners, as guest memory and both halves hold them now. */
void teach_pk_snapshot(teach_rec *r, int q, teach_ring *g);
/* Positions per owner, from memory and cursors (the timeline's counts). */
void teach_pk_count(teach_rec *r, int q, uint16_t count[TEACH_OWN_COUNT]);
/* Marks the event suppression fields a step stored (no trace record of
 * their own: a change of value is the sign). */
void teach_pk_watch_quiet(teach_rec *r, int q);
/* "avail"/"used"/"-" decoding of a descriptor's AVAIL and USED bits. */
int teach_pk_avail_bit(uint16_t flags);
int teach_pk_used_bit(uint16_t flags);

/* --- mergeable RX buffers (teach/explain_mrg.c) ------------------------- */

/* The header in the RX buffer at addr, read from guest memory; with
 * device set, as the device sees it (under a memory model its own stores
 * may not have reached the driver yet). */
void teach_mrg_read_hdr(const scn *s, uint64_t addr, int device, teach_net_hdr *h);
/* Where the RX buffer of head (split) or buffer id (packed) lies, from the
 * driver's bookkeeping while the buffer is in flight; 0 when unknown. */
uint64_t teach_mrg_buf_addr(const scn *s, int64_t head);
/* What the recorder learns from the RX queue's records (all do nothing
 * without mergeable buffers): a frame came, the device took a buffer,
 * wrote a used element, the driver took one, or rejected what it read. */
void teach_mrg_on_frame_in(teach_rec *r);
void teach_mrg_on_pop(teach_rec *r, int64_t head);
void teach_mrg_on_push(teach_rec *r, int64_t head, int64_t len);
void teach_mrg_on_consume(teach_rec *r, int64_t head, int64_t len);
void teach_mrg_on_violation(teach_rec *r, const char *detail);
void teach_mrg_free(teach_rec *r);

/* --- explanations ------------------------------------------------------- */

/* What an explainer works from: the step, the facts gathered from its
 * events, its queue's ring after it, and the text being written. */
typedef struct teach_expl {
  teach_rec *r;
  teach_step *st;
  const teach_facts *f;
  int q;               /* the step's queue (rx when it has none) */
  const teach_ring *g; /* that queue's ring after the step */
  uint16_t size;       /* that queue's size */
  int event_idx;       /* VIRTIO_F_EVENT_IDX negotiated on that queue */
  teach_str t;         /* the explanation */
} teach_expl;

void teach_title(teach_expl *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A fast-forward step's title: the frame it covers and what became of it. */
void teach_fast_title(teach_expl *e);
/* 1 when the run's driver has bug (VBUG_* driver bits). */
int teach_expl_bug(const teach_expl *e, unsigned bug);
/* The negotiated feature bits by name ("VERSION_1 MAC ..."). */
void teach_features(teach_str *t, uint64_t f);
/* The status byte's steps, and a broken rule: the same on both formats. */
void teach_explain_status(teach_expl *e);
void teach_explain_violation(teach_expl *e);
/* A packed ring's step (explain_packed.c). */
void teach_explain_packed(teach_expl *e);
/* " (bug NAME)" naming the run's bugs, or "" for the fixed halves. */
const char *teach_bug_tag(const teach_rec *r, char *buf, size_t cap);

/* Memory models (teach/memory.c): a store_visible or barrier event into
 * the open step's facts; both sides' store buffers now; the step's
 * sentence about them, appended to its text. */
void teach_mem_note(teach_rec *r, const emu_trace_rec *rec);
void teach_mem_snapshot(const scn *s, teach_buffer out[2]);
size_t teach_mem_explain(const teach_rec *r, char *buf, size_t cap);

/* Mergeable RX buffers' sentences (teach/mergeable.c), on either ring
 * format: 1 when the step is about the RX queue of a mergeable run; the
 * device taking a frame's buffers; the title and text of its returning
 * them (verb "returns"/"marks", where "in the rx used ring"); the one
 * used.idx store; the driver taking one buffer. */
int teach_mrg_on(const teach_expl *e);
/* After the negotiated features: what MRG_RXBUF and MTU are for. */
void teach_mrg_features(teach_expl *e);
void teach_mrg_take(teach_expl *e, const teach_span *sp);
void teach_mrg_push_title(teach_expl *e, const char *verb, const char *where);
void teach_mrg_push(teach_expl *e);
void teach_mrg_publish(teach_expl *e);
/* Without mergeable buffers: the header the device wrote, in a sentence. */
void teach_hdr_written(teach_expl *e);
void teach_mrg_consume_title(teach_expl *e);
void teach_mrg_consume(teach_expl *e);

/* Writes the step's title and text from the facts of its events (r->f). */
void teach_explain(teach_rec *r, teach_step *st);
/* What the guest stack did with a frame, as a phrase ("answered it"), or
 * NULL for a drop. */
const char *teach_fate_phrase(emu_fate f);

#endif
