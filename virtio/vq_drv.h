/* The driver half of a split virtqueue (virtio 1.2 §2.7.13, §2.7.14).
 *
 * Owns the descriptor table and the available ring, reads the used ring.
 * Its cursors (next avail index, last used index, free descriptors) are kept
 * privately, never reread from shared memory, and everything it reads from
 * the used ring is checked before it is believed (§2.7.8: the id must be a
 * head in flight, the length within the chain's writable bytes). */
#ifndef VNETSIM_VIRTIO_VQ_DRV_H
#define VNETSIM_VIRTIO_VQ_DRV_H

#include <stdint.h>

#include "emu/gmem.h"
#include "emu/trace.h"
#include "virtio/vq.h"

typedef struct vq_sg {
  uint64_t gpa;
  uint32_t len;
} vq_sg;

typedef struct vq_used_elem {
  uint16_t head;
  uint32_t len;
  void *token; /* what was passed to vq_drv_add(); NULL when the id was bad */
} vq_used_elem;

typedef struct vq_drv_head {
  void *token;
  uint64_t writable_len; /* bytes the device may write into this chain (a sum of
                          * up to 32768 32-bit lengths: past 4 GiB) */
  uint16_t ndesc;        /* descriptors taken from the table */
  uint16_t tail;         /* last descriptor of the chain, to splice the free list */
  uint8_t in_flight;
} vq_drv_head;

typedef struct vq_drv {
  gmem *mem;
  vq_layout layout;
  int event_idx, indirect;
  uint16_t max_indirect;     /* entries per indirect table; 0 when unused */
  uint64_t indirect_base;    /* one table per head, max_indirect * 16 bytes each */
  uint16_t avail_idx_shadow; /* next avail index to fill */
  uint16_t avail_idx_published;
  uint16_t avail_flags_shadow;
  uint16_t last_used_idx;
  uint16_t free_head, num_free;
  uint16_t *free_next; /* private free list: the device never sees it */
  /* Where the used element for an index is read: NULL for the spec's
   * vq_used_slot_addr() (§2.7.8); a driver model that reproduces a bug puts
   * its own slot arithmetic here. */
  uint64_t (*used_slot)(const vq_layout *l, uint16_t used_idx);
  vq_drv_head *heads;
  uint32_t in_flight;
  unsigned omit_barriers; /* VQ_BAR_* left out: 0 for a correct driver */
  /* tracing */
  emu_trace *trace;
  const char *actor, *name;
  /* distrust */
  vq_rule last_violation;
  uint64_t violations[VQ_RULE_COUNT];
} vq_drv;

/* A buffer number as a token and back, for drivers that keep their
 * buffers in an array. NULL is the token of an element whose id was bad
 * (vq_used_elem), so buffer i travels as i + 1 and buffer 0 has one too. */
static inline void *vq_token_from_index(uint32_t i) { return (void *)(uintptr_t)(i + 1u); }
static inline uint32_t vq_token_index(const void *token) {
  return (uint32_t)((uintptr_t)token - 1u);
}

/* Allocates the ring in guest memory for a queue of `size` (a power of two,
 * at most 32768). With `indirect`, chains of more than one buffer use an
 * indirect table of up to max_indirect entries. EMU_EINVAL on a bad size,
 * EMU_ENOSPC when guest memory is short, EMU_ENOMEM. */
int vq_drv_init(vq_drv *q, gmem *mem, uint16_t size, int event_idx, int indirect,
                uint16_t max_indirect);
void vq_drv_close(vq_drv *q);
void vq_drv_set_trace(vq_drv *q, emu_trace *t, const char *actor, const char *name);

/* Offers one buffer: n_out device-readable segments followed by n_in
 * device-writable ones (§2.7.4.2 order). Writes the descriptors and the avail
 * slot but does not publish avail.idx. Returns the head (>= 0), EMU_ENOSPC
 * when not enough descriptors are free, EMU_EINVAL for an empty request. */
int vq_drv_add(vq_drv *q, const vq_sg *sg, unsigned n_out, unsigned n_in, void *token);
/* Stores avail.idx so the device sees what was added. Returns 1 when the
 * device wants a notification for it (§2.7.10), 0 when it does not, or a
 * negative error. */
int vq_drv_publish(vq_drv *q);
/* vq_drv_publish() in its two steps: the avail.idx store (0 or EMU_ERANGE),
 * then, given avail.idx as it was before, the kick decision. */
int vq_drv_publish_idx(vq_drv *q);
int vq_drv_kick_check(vq_drv *q, uint16_t old);
/* The notification decision for what is added but not yet published, made
 * without storing avail.idx: what a driver that kicks before it publishes
 * decides (1, 0 or a negative error). */
int vq_drv_kick_needed_unpublished(const vq_drv *q);

/* 1 when the device published used elements past the driver's cursor. */
int vq_drv_has_used(const vq_drv *q);
/* The device's current used.idx as stored in guest memory (no checks). */
uint16_t vq_drv_read_used_idx(const vq_drv *q);
/* Takes the used element at the cursor and advances it. 0 on success,
 * EMU_EAGAIN when there is none, EMU_EPROTO when the device broke a rule
 * (last_violation says which; elem->token is then NULL unless the head was
 * valid, so the buffer can still be recycled). */
int vq_drv_get_used(vq_drv *q, vq_used_elem *elem);
/* Reads and checks the used element at any used index without moving the
 * cursor, then frees its head. Used by driver models that manage their own
 * cursor (including buggy ones); vq_drv_get_used() is this at the cursor. */
int vq_drv_take_used_at(vq_drv *q, uint16_t used_idx, vq_used_elem *elem);
/* Sets the private used cursor (the driver's own record of what it has seen). */
void vq_drv_set_last_used(vq_drv *q, uint16_t idx);

/* Used-buffer notification suppression (§2.7.7). disable asks the device not
 * to interrupt; enable asks for an interrupt at the next used element and
 * returns 1 when elements are already pending (the race the caller must
 * handle by polling again). */
void vq_drv_disable_interrupts(vq_drv *q);
int vq_drv_enable_interrupts(vq_drv *q);

#endif
