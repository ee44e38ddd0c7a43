/* The device half of a split virtqueue (virtio 1.2 §2.7).
 *
 * Reads the descriptor table and the available ring, writes the used ring.
 * Everything the driver wrote is validated before it is used: the first
 * broken rule marks the queue broken (the caller then sets
 * DEVICE_NEEDS_RESET, §2.1.2) and is reported by rule and spec section. */
#ifndef VNETSIM_VIRTIO_VQ_DEV_H
#define VNETSIM_VIRTIO_VQ_DEV_H

#include <stdint.h>

#include "emu/gmem.h"
#include "emu/trace.h"
#include "virtio/vq.h"

typedef struct vq_seg {
  uint64_t gpa;
  uint32_t len;
  uint8_t writable;
} vq_seg;

/* A chain as the device sees it; seg points into the queue's own array and is
 * valid until the next vq_dev_pop(). */
typedef struct vq_chain {
  uint16_t head;
  uint16_t avail_idx; /* the avail index it was taken from */
  uint32_t nseg;
  const vq_seg *seg;
  uint64_t readable_len, writable_len;
} vq_chain;

typedef struct vq_dev {
  gmem *mem;
  vq_layout layout;
  int event_idx, indirect;
  uint16_t last_avail_idx;  /* device cursor into the avail ring */
  uint16_t used_idx_shadow; /* next used slot */
  uint16_t used_idx_published;
  uint16_t signalled_used; /* used.idx when the last interrupt decision was made */
  vq_seg *segs;            /* size entries: a valid chain is never longer */
  /* Per head: offers seen in the avail ring and not yet returned through
   * the used ring. Slots are read once each, up to avail_scanned, and the
   * head read is kept per slot: a pop takes that one, so a driver rewriting
   * a slot it had published cannot make the device count one head and pop
   * another. */
  uint8_t *head_offers;
  uint16_t *slot_head;
  /* Per head: popped and not yet pushed, and how many device-writable
   * bytes its chain had: what a push is checked against. */
  uint8_t *taken;
  uint64_t *taken_writable;
  uint16_t avail_scanned;
  /* The EVENT_IDX interrupt decision for used.idx moving from old to new
   * past used_event: NULL for the spec's vq_need_event() (§2.7.7.2); a
   * device model that reproduces a bug puts its own rule here. */
  int (*need_event)(uint16_t used_event, uint16_t new_idx, uint16_t old_idx);
  unsigned omit_barriers; /* VQ_BAR_* left out: 0 for a correct device */
  vq_rule broken;         /* first rule broken, VQ_RULE_NONE while healthy */
  int64_t broken_head;
  emu_trace *trace;
  const char *actor, *name;
} vq_dev;

/* Appends one buffer segment to a chain being collected into segs (room
 * for max), checking the rules every buffer keeps (§2.7.4.2, §2.7.5, and
 * their packed forms §2.8.17): VQ_RULE_NONE, or the rule it breaks. */
vq_rule vq_chain_add_seg(vq_chain *c, vq_seg *segs, uint32_t max, const gmem *m, uint64_t addr,
                         uint32_t len, int writable, int *seen_writable);

/* Validates that the layout lies inside guest memory and takes it over.
 * EMU_EINVAL for a bad size, EMU_EPROTO (broken = RING_ADDR_RANGE) when a
 * ring part is outside guest memory, EMU_ENOMEM. */
int vq_dev_init(vq_dev *q, gmem *mem, const vq_layout *layout, int event_idx, int indirect);
void vq_dev_close(vq_dev *q);
void vq_dev_set_trace(vq_dev *q, emu_trace *t, const char *actor, const char *name);

/* 1 when the driver published heads the device has not taken. */
int vq_dev_has_avail(const vq_dev *q);
/* Records a rule the driver broke that the caller handles itself (dropping
 * a chain rather than breaking the queue): traced, not fatal. */
void vq_dev_report(vq_dev *q, vq_rule rule, int64_t head);
/* Takes the next available chain and validates every descriptor in it.
 * 0 on success, EMU_EAGAIN when the ring is empty, EMU_EPROTO when the driver
 * broke a rule (q->broken names it; the queue stays broken). */
int vq_dev_pop(vq_dev *q, vq_chain *chain);
/* Returns a chain to the driver: writes the used element and advances the
 * private used index; vq_dev_publish_used() makes it visible. A head this
 * half did not pop (or already pushed), or a len past the chain's
 * device-writable bytes, is the device's own mistake: reported
 * (push_not_taken, push_len_too_big), nothing written, EMU_EPROTO. */
int vq_dev_push(vq_dev *q, uint16_t head, uint32_t len);
int vq_dev_publish_used(vq_dev *q);
/* §2.7.7.2: 1 when the driver wants an interrupt for what was published
 * since the last call. Updates the "signalled" mark. */
int vq_dev_need_interrupt(vq_dev *q);
/* §2.7.10.2: ask for (or stop asking for) a notification when the driver
 * adds buffers. Returns 1 when buffers arrived meanwhile (the race the
 * caller must handle by popping again). */
int vq_dev_enable_notify(vq_dev *q);
void vq_dev_disable_notify(vq_dev *q);

/* Copy between a chain's buffers and host memory, honouring direction:
 * reads cover the device-readable part, writes the device-writable part.
 * off counts from the start of that part. EMU_ERANGE past its end, in
 * which case nothing is copied. */
int vq_chain_read(const vq_dev *q, const vq_chain *c, uint64_t off, void *dst, size_t len);
int vq_chain_write(vq_dev *q, const vq_chain *c, uint64_t off, const void *src, size_t len);
/* The same for a chain of either ring format, in guest memory m. */
int vq_chain_copy_from(gmem *m, const vq_chain *c, uint64_t off, void *dst, size_t len);
int vq_chain_copy_to(gmem *m, const vq_chain *c, uint64_t off, const void *src, size_t len);

#endif
