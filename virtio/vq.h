/* Split virtqueue layout and the protocol rules both halves share
 * (virtio 1.2 §2.7).
 *
 * The ring lives in guest memory only; the driver half (vq_drv.h) and the
 * device half (vq_dev.h) each keep their own private cursors and never look at
 * each other's. Indices are free-running uint16_t and are masked only when a
 * slot is addressed, so wrap-around past 65535 needs no special case. */
#ifndef VNETSIM_VIRTIO_VQ_H
#define VNETSIM_VIRTIO_VQ_H

#include <assert.h>
#include <stdint.h>

#include "emu/gmem.h"
#include "emu/trace.h"

/* §2.7: a split queue's size is a power of 2, at most 32768. */
#define VQ_MAX_SIZE 32768u

/* §2.7.5 descriptor: le64 addr, le32 len, le16 flags, le16 next */
#define VQ_DESC_SIZE       16u
#define VQ_DESC_OFF_ADDR   0u
#define VQ_DESC_OFF_LEN    8u
#define VQ_DESC_OFF_FLAGS  12u
#define VQ_DESC_OFF_NEXT   14u
#define VQ_DESC_F_NEXT     1u
#define VQ_DESC_F_WRITE    2u
#define VQ_DESC_F_INDIRECT 4u

/* §2.7.6, §2.7.8: both rings start with le16 flags, le16 idx, then their
 * slots, then one le16 event word (used_event in the available ring,
 * avail_event in the used ring). */
#define VQ_RING_OFF_FLAGS  0u
#define VQ_RING_OFF_IDX    2u
#define VQ_RING_OFF_SLOTS  4u
#define VQ_RING_EVENT_SIZE 2u

/* §2.7.6 available ring: le16 flags, le16 idx, le16 ring[size], le16 used_event */
#define VQ_AVAIL_F_NO_INTERRUPT 1u
#define VQ_AVAIL_SLOT_SIZE      2u
/* §2.7.8 used ring: le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event */
#define VQ_USED_F_NO_NOTIFY  1u
#define VQ_USED_ELEM_SIZE    8u
#define VQ_USED_ELEM_OFF_ID  0u
#define VQ_USED_ELEM_OFF_LEN 4u

/* Alignments from §2.7 table "Virtqueue Part Alignment". */
#define VQ_DESC_ALIGN  16u
#define VQ_AVAIL_ALIGN 2u
#define VQ_USED_ALIGN  4u

/* Feature bits the ring itself depends on (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

typedef struct vq_layout {
  uint16_t size;              /* 32768 fits; 0 means not configured */
  uint64_t desc, avail, used; /* guest-physical addresses */
} vq_layout;

static inline uint64_t vq_desc_table_bytes(uint32_t size) { return (uint64_t)VQ_DESC_SIZE * size; }
static inline uint64_t vq_avail_bytes(uint32_t size) {
  return VQ_RING_OFF_SLOTS + (uint64_t)VQ_AVAIL_SLOT_SIZE * size + VQ_RING_EVENT_SIZE;
}
static inline uint64_t vq_used_bytes(uint32_t size) {
  return VQ_RING_OFF_SLOTS + (uint64_t)VQ_USED_ELEM_SIZE * size + VQ_RING_EVENT_SIZE;
}

static inline uint64_t vq_desc_addr(const vq_layout *l, uint32_t i) {
  return l->desc + (uint64_t)VQ_DESC_SIZE * i;
}
static inline uint64_t vq_avail_flags_addr(const vq_layout *l) {
  return l->avail + VQ_RING_OFF_FLAGS;
}
static inline uint64_t vq_avail_idx_addr(const vq_layout *l) { return l->avail + VQ_RING_OFF_IDX; }
static inline uint64_t vq_avail_slot_addr(const vq_layout *l, uint16_t idx) {
  return l->avail + VQ_RING_OFF_SLOTS + (uint64_t)VQ_AVAIL_SLOT_SIZE * (idx & (l->size - 1u));
}
static inline uint64_t vq_used_event_addr(const vq_layout *l) {
  return l->avail + VQ_RING_OFF_SLOTS + (uint64_t)VQ_AVAIL_SLOT_SIZE * l->size;
}
static inline uint64_t vq_used_flags_addr(const vq_layout *l) {
  return l->used + VQ_RING_OFF_FLAGS;
}
static inline uint64_t vq_used_idx_addr(const vq_layout *l) { return l->used + VQ_RING_OFF_IDX; }
/* Element number `elem` of the used ring, unmasked: the slot an index maps
 * to goes through vq_used_slot_addr(); elem == size is where avail_event
 * lies. */
static inline uint64_t vq_used_elem_addr(const vq_layout *l, uint32_t elem) {
  return l->used + VQ_RING_OFF_SLOTS + (uint64_t)VQ_USED_ELEM_SIZE * elem;
}
static inline uint64_t vq_used_slot_addr(const vq_layout *l, uint16_t idx) {
  return vq_used_elem_addr(l, idx & (l->size - 1u));
}
static inline uint64_t vq_avail_event_addr(const vq_layout *l) {
  return vq_used_elem_addr(l, l->size);
}

/* The ring's own 16-bit words (flags, idx, used_event, avail_event) for a
 * queue that is set up. They cannot be out of range: the device half checks
 * every ring part against guest memory in vq_dev_init() and the driver half
 * allocated them there, and guest memory never shrinks. So these give the
 * value rather than an error no caller could meet, and assert the invariant. */
static inline uint16_t vq_ring_get16(const gmem *m, uint64_t at) {
  uint16_t v = 0;
  int rc = gmem_read_le16(m, at, &v);
  assert(rc == 0);
  (void)rc;
  return v;
}
static inline void vq_ring_put16(gmem *m, uint64_t at, uint16_t v) {
  int rc = gmem_write_le16(m, at, v);
  assert(rc == 0);
  (void)rc;
}

/* The barriers the two halves make, where the spec and Linux's
 * virtio_ring.c and vhost put them. Under sequential consistency they cost
 * nothing; under a weaker memory model (emu/mm.h) each one matters. A bit
 * set in a half's `omit_barriers` leaves that barrier out, as a buggy
 * driver or device would. */
typedef enum vq_barrier {
  /* driver */
  VQ_BAR_AVAIL_WMB = 1u << 0, /* descriptors and slots before avail.idx (§2.7.13.3.1) */
  VQ_BAR_KICK_MB = 1u << 1,   /* avail.idx before reading avail_event or flags (§2.7.13.4.1) */
  VQ_BAR_USED_RMB = 1u << 2,  /* used.idx before the element it covers (§2.7.14) */
  VQ_BAR_IRQ_ON_MB = 1u << 3, /* used_event or flags before looking at used.idx again (§2.7.14) */
  /* device */
  VQ_BAR_AVAIL_RMB = 1u << 4,    /* avail.idx before the slots it covers (§2.7.13.3) */
  VQ_BAR_USED_WMB = 1u << 5,     /* elements and buffers before used.idx (§2.7.8.2) */
  VQ_BAR_IRQ_MB = 1u << 6,       /* used.idx before reading used_event or flags (§2.7.7.2) */
  VQ_BAR_NOTIFY_ON_MB = 1u << 7, /* avail_event or flags before avail.idx again (§2.7.10.2) */
} vq_barrier;

/* The barrier `which` of a half that omits those in `omit`. */
static inline void vq_barrier_make(gmem *m, unsigned omit, vq_barrier which,
                                   gmem_barrier_kind kind) {
  if (m->mm && !(omit & which)) gmem_mm_barrier(m, kind); /* sc: one test */
}

static inline int vq_size_valid(uint32_t size) {
  return size > 0 && size <= VQ_MAX_SIZE && (size & (size - 1)) == 0;
}

/* §2.7.10 (and §2.7.7): with VIRTIO_F_EVENT_IDX, notify when the index moved
 * from old_idx to new_idx across the other side's event index, that is when
 * event_idx lies in [old_idx, new_idx) in 16-bit modular arithmetic. */
static inline int vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* The rules a driver or device can break, each with the spec clause it
 * comes from. The device half checks the DEV rules on what the driver wrote;
 * the driver half checks the DRV rules on what the device wrote. */
typedef enum vq_rule {
  VQ_RULE_NONE = 0,
  VQ_RULE_DESC_INDEX_RANGE,  /* head or next >= queue size */
  VQ_RULE_DESC_ADDR_RANGE,   /* buffer outside guest memory */
  VQ_RULE_DESC_LEN_ZERO,     /* zero-length buffer */
  VQ_RULE_CHAIN_TOO_LONG,    /* longer than the queue size: a loop */
  VQ_RULE_WRITE_BEFORE_READ, /* device-readable after device-writable */
  VQ_RULE_INDIRECT_NOT_NEGOTIATED,
  VQ_RULE_INDIRECT_WITH_NEXT,
  VQ_RULE_INDIRECT_NESTED,
  VQ_RULE_INDIRECT_LEN,
  VQ_RULE_AVAIL_IDX_JUMP,        /* avail.idx more than size ahead of the device */
  VQ_RULE_AVAIL_IDX_BACKWARDS,   /* avail.idx moved back over slots already offered */
  VQ_RULE_RING_ADDR_RANGE,       /* ring parts not inside guest memory */
  VQ_RULE_USED_ID_RANGE,         /* used id >= queue size */
  VQ_RULE_USED_ID_NOT_IN_FLIGHT, /* used id not a head the driver made available */
  VQ_RULE_USED_LEN_TOO_BIG,      /* used len beyond the writable part of the chain */
  VQ_RULE_USED_IDX_JUMP,         /* used.idx ahead of what is in flight */
  VQ_RULE_HEAD_IN_FLIGHT,        /* a head offered again before the device used it */
  /* virtio-net's own rules (§5.1.6) and the device status protocol (§3.1.1) */
  VQ_RULE_RX_BUF_TOO_SMALL,      /* RX chain cannot hold header + frame */
  VQ_RULE_TX_CHAIN_WRITABLE,     /* a TX chain with a device-writable part */
  VQ_RULE_TX_FRAME_SHORT,        /* TX chain no longer than the header */
  VQ_RULE_TX_FRAME_TOO_LONG,     /* TX frame longer than the device takes */
  VQ_RULE_QUEUE_AFTER_DRIVER_OK, /* queue configured after DRIVER_OK */
  VQ_RULE_FEATURE_NOT_OFFERED,   /* driver accepted a feature the device lacks */
  VQ_RULE_RING_MISALIGNED,       /* a ring part not aligned as §2.7's table asks */
  VQ_RULE_RING_OVERLAP,          /* two ring parts share bytes */
  VQ_RULE_KICK_BEFORE_DRIVER_OK, /* a notification before DRIVER_OK */
  VQ_RULE_RX_BUF_SHORT,          /* an RX buffer below 1526 bytes (a SHOULD: a warning) */
  VQ_RULE_PUSH_NOT_TAKEN,        /* the device returned a head it does not hold */
  VQ_RULE_PUSH_LEN_TOO_BIG,      /* the device claims more bytes than the chain can take */
  /* the packed ring's own (§2.8) */
  VQ_RULE_PACKED_PARTIAL_CHAIN,      /* a chain's first descriptor available before the rest */
  VQ_RULE_PACKED_ID_RANGE,           /* a buffer id not below the queue size */
  VQ_RULE_PACKED_ID_IN_FLIGHT,       /* a buffer id offered again while the device holds it */
  VQ_RULE_EVENT_FLAGS_RESERVED,      /* event suppression flags 3 */
  VQ_RULE_EVENT_DESC_NOT_NEGOTIATED, /* descriptor-specific events without EVENT_IDX */
  /* checked on a user half's own stores and calls (api/watch.c) */
  VQ_RULE_KICK_MISSING,       /* the device asked for a notification and never got it */
  VQ_RULE_INTERRUPT_MISSING,  /* the driver asked for an interrupt and never got it */
  VQ_RULE_QUEUE_SIZE_INVALID, /* a queue size above the device's maximum, or not 2^n */
  /* mergeable RX buffers and the mtu (§5.1.4, §5.1.6.3, §5.1.6.4) */
  VQ_RULE_MRG_BUF_TOO_SMALL,   /* a mergeable RX buffer shorter than the header */
  VQ_RULE_TX_FRAME_OVER_MTU,   /* a TX frame above the negotiated mtu */
  VQ_RULE_NUM_BUFFERS_INVALID, /* num_buffers 0, or not 1 without MRG_RXBUF */
  VQ_RULE_MRG_BUFFER_NOT_FULL, /* a merged frame's buffer before the last not filled */
  VQ_RULE_MRG_BUFFERS_APART,   /* fewer used buffers visible than num_buffers says */
  VQ_RULE_RX_FRAME_OVER_MTU,   /* a received frame above the negotiated mtu */
  VQ_RULE_COUNT
} vq_rule;

const char *vq_rule_name(vq_rule rule);    /* "desc_index_range" */
const char *vq_rule_section(vq_rule rule); /* "2.7.5.2" */
const char *vq_rule_text(vq_rule rule);    /* one line for a driver author */
/* Whose rule it is, the side that breaks it: "driver" or "device". */
const char *vq_rule_side(vq_rule rule);
/* "name §section", what a violation's trace line carries. */
const char *vq_rule_tag(vq_rule rule);
/* The rule with that name (or tag), VQ_RULE_NONE when there is none. */
vq_rule vq_rule_from_name(const char *name);
/* A violation trace record: who noticed, on which queue (NULL: none), the
 * rule's tag, the head or buffer id it is about (-1: none). */
void vq_trace_rule(emu_trace *t, const char *actor, const char *queue, vq_rule rule, int64_t head);

/* A queue's three parts (split: descriptor table, available ring, used
 * ring; packed: descriptor ring and the two event suppression structures)
 * as the driver laid them out: each inside guest memory, aligned, and an
 * area of its own (§2.7, §2.8.10.1). VQ_RULE_NONE, or the rule broken. */
vq_rule vq_parts_problem(const gmem *m, const uint64_t addr[3], const uint64_t len[3],
                         const uint64_t align[3]);

#endif
