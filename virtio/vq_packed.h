/* Packed virtqueue (virtio 1.2 §2.8): one descriptor ring that both sides
 * write, ownership carried by two flag bits and a wrap counter on each side,
 * and two event suppression structures.
 *
 * Like the split ring, the driver half (vqp_drv) and the device half
 * (vqp_dev) keep their own cursors and never look at each other's; they
 * share only guest memory. Each half validates what the other wrote, with
 * named rules (vq.h). Positions in the ring run 0..size-1 and wrap; each
 * side's wrap counter starts at 1 and flips every time its position passes
 * the end of the ring (§2.8.1), however far a single step takes it: a chain
 * as long as the ring lands back on the same position with the counter
 * flipped. */
#ifndef VNETSIM_VIRTIO_VQ_PACKED_H
#define VNETSIM_VIRTIO_VQ_PACKED_H

#include <stdint.h>

#include "emu/gmem.h"
#include "emu/trace.h"
#include "virtio/vq.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_drv.h"

/* §2.8.13: le64 addr, le32 len, le16 id, le16 flags */
#define VQP_DESC_SIZE      16u
#define VQP_DESC_OFF_ADDR  0u
#define VQP_DESC_OFF_LEN   8u
#define VQP_DESC_OFF_ID    12u
#define VQP_DESC_OFF_FLAGS 14u
/* §2.8.1, §2.8.3, §2.8.6, §2.8.7 */
#define VQP_F_NEXT     1u
#define VQP_F_WRITE    2u
#define VQP_F_INDIRECT 4u
#define VQP_F_AVAIL    (1u << 7)
#define VQP_F_USED     (1u << 15)

/* §2.8.14: le16 desc (offset : 15, wrap : 1), le16 flags (2 bits used) */
#define VQP_EVENT_SIZE       4u
#define VQP_EVENT_OFF_DESC   0u
#define VQP_EVENT_OFF_FLAGS  2u
#define VQP_EVENT_WRAP_BIT   15u
#define VQP_EVENT_ENABLE     0u
#define VQP_EVENT_DISABLE    1u
#define VQP_EVENT_DESC       2u /* only with VIRTIO_F_EVENT_IDX */
#define VQP_EVENT_RESERVED   3u
#define VQP_EVENT_FLAGS_MASK 3u

/* §2.8.10.1: alignments; the queue size need not be a power of two */
#define VQP_RING_ALIGN  16u
#define VQP_EVENT_ALIGN 4u
#define VQP_MAX_SIZE    32768u

#define VIRTIO_F_RING_PACKED 34

/* Bugs a half can be made to have (their catalogue entries: virtio/vbug.c);
 * 0 for a correct ring. */
#define VQP_BUG_NO_WRAP_TOGGLE     1u /* driver: the avail counter never flips */
#define VQP_BUG_USED_AVAIL_COUNTER 2u /* driver: used tested with the avail counter */
#define VQP_BUG_WRAP_EXACT         4u /* device: no flip for a chain as long as the ring */
#define VQP_BUG_ID_FIRST           8u /* device: the id read from the first descriptor */

typedef struct vqp_layout {
  uint16_t size;
  uint64_t ring;   /* the descriptor ring */
  uint64_t driver; /* driver event suppression: written by the driver */
  uint64_t device; /* device event suppression: written by the device */
} vqp_layout;

static inline uint64_t vqp_ring_bytes(uint32_t size) { return (uint64_t)VQP_DESC_SIZE * size; }
static inline uint64_t vqp_desc_addr(const vqp_layout *l, uint32_t pos) {
  return l->ring + (uint64_t)VQP_DESC_SIZE * pos;
}
static inline int vqp_size_valid(uint32_t size) { return size > 0 && size <= VQP_MAX_SIZE; }

/* A position in the ring and the wrap counter that goes with it. */
typedef struct vqp_cursor {
  uint16_t pos;
  uint8_t wrap;
} vqp_cursor;

/* c moved n descriptors on: the counter flips each time the end is passed
 * (n may be the whole ring: back at the same position, counter flipped). */
static inline void vqp_advance(vqp_cursor *c, uint32_t n, uint16_t size) {
  uint32_t pos = c->pos + n;
  while (pos >= size) {
    pos -= size;
    c->wrap ^= 1u;
  }
  c->pos = (uint16_t)pos;
}

/* The event suppression word for a cursor (§2.8.14). */
static inline uint16_t vqp_off_wrap(vqp_cursor c) {
  return (uint16_t)(c.pos | (unsigned)c.wrap << VQP_EVENT_WRAP_BIT);
}

/* Does moving from old to now (now ahead of old by at most the ring) pass
 * the position and wrap in off_wrap? The packed form of vq_need_event():
 * positions are made linear by counting a wrap as size positions. */
int vqp_need_event(uint16_t off_wrap, vqp_cursor old, vqp_cursor now, uint16_t size);

/* --- driver half --------------------------------------------------------- */

typedef struct vqp_buf {
  void *token;
  uint64_t writable;
  uint16_t ndesc;
  uint8_t in_flight;
} vqp_buf;

typedef struct vqp_drv {
  gmem *mem;
  vqp_layout layout;
  int event_idx;
  vqp_cursor avail; /* the next position to make available */
  vqp_cursor used;  /* the next position the device writes a used descriptor */
  uint16_t num_free;
  uint16_t *free_ids; /* stack of buffer ids not in flight */
  uint16_t nfree_ids;
  vqp_buf *bufs; /* by buffer id */
  uint32_t in_flight;
  vqp_cursor kick_from; /* avail when the device was last told */
  unsigned omit_barriers;
  unsigned bugs; /* VQP_BUG_* */
  emu_trace *trace;
  const char *actor, *name;
  vq_rule last_violation;
  uint64_t violations[VQ_RULE_COUNT];
} vqp_drv;

/* Allocates the ring and both suppression structures for a queue of size
 * (1..32768). EMU_EINVAL, EMU_ENOSPC, EMU_ENOMEM. */
int vqp_drv_init(vqp_drv *q, gmem *mem, uint16_t size, int event_idx);
void vqp_drv_close(vqp_drv *q);
/* Makes one buffer available: n_out device-readable segments, then n_in
 * device-writable ones, as a chain of n_out + n_in descriptors whose last
 * carries the buffer id; the first descriptor's flags are written last
 * (§2.8.17). Returns the buffer id, EMU_ENOSPC when the ring lacks room,
 * EMU_EINVAL for an empty request. */
int vqp_drv_add(vqp_drv *q, const vq_sg *sg, unsigned n_out, unsigned n_in, void *token);
/* After adds: 1 when the device asked to be notified of them (§2.8.21.2),
 * 0 when not, or an error. */
int vqp_drv_kick_needed(vqp_drv *q);
/* 1 when the descriptor at the used cursor is used (§2.8.1). */
int vqp_drv_has_used(const vqp_drv *q);
/* Takes the next used buffer: 0 with *elem (head = buffer id), EMU_EAGAIN,
 * or EMU_EPROTO when the device wrote an id or length it must not. */
int vqp_drv_get_used(vqp_drv *q, vq_used_elem *elem);
void vqp_drv_disable_interrupts(vqp_drv *q);
/* Asks for the next used buffer notification, then looks once more:
 * 1 when a used buffer is already there. */
int vqp_drv_enable_interrupts(vqp_drv *q);

/* --- device half ---------------------------------------------------------- */

typedef struct vqp_dev {
  gmem *mem;
  vqp_layout layout;
  int event_idx, indirect;
  vqp_cursor avail;     /* the next position the driver makes available */
  vqp_cursor used;      /* the next position to write a used descriptor */
  vqp_cursor signalled; /* used when the last interrupt decision was made */
  uint16_t *chain_len;  /* by buffer id: descriptors of the chain popped, 0 when not held */
  uint64_t *writable;   /* by buffer id */
  vq_seg *segs;
  unsigned omit_barriers;
  unsigned bugs; /* VQP_BUG_* */
  vq_rule broken;
  int64_t broken_head;
  emu_trace *trace;
  const char *actor, *name;
} vqp_dev;

/* Takes over a layout the driver set up: inside guest memory, aligned and
 * not overlapping (else EMU_EPROTO, broken names the rule). */
int vqp_dev_init(vqp_dev *q, gmem *mem, const vqp_layout *layout, int event_idx, int indirect);
void vqp_dev_close(vqp_dev *q);
int vqp_dev_has_avail(const vqp_dev *q);
/* Takes the next available chain and validates it; c->head is its buffer
 * id. 0, EMU_EAGAIN, or EMU_EPROTO (the queue is broken from then on). */
int vqp_dev_pop(vqp_dev *q, vq_chain *c);
/* Writes the used descriptor for buffer id: id and len first, then the
 * flags that hand it back (§2.8.1). EMU_EPROTO (reported) for an id the
 * device does not hold or len past the chain's writable bytes. */
int vqp_dev_push(vqp_dev *q, uint16_t id, uint32_t len);
/* After pushes: 1 when the driver asked for a notification (§2.8.10). */
int vqp_dev_need_interrupt(vqp_dev *q);
void vqp_dev_disable_notify(vqp_dev *q);
int vqp_dev_enable_notify(vqp_dev *q);

#endif
