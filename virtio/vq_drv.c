#include "virtio/vq_drv.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"

/* An event on this queue, with the fields named as for EMU_TRACE_EMIT. */
#define VQ_DRV_TRACE(q, ...) \
  EMU_TRACE_EMIT((q)->trace, .actor = (q)->actor, .queue = (q)->name, __VA_ARGS__)

int vq_drv_init(vq_drv *q, gmem *mem, uint16_t size, int event_idx, int indirect,
                uint16_t max_indirect) {
  memset(q, 0, sizeof *q);
  if (!vq_size_valid(size) || (indirect && max_indirect == 0)) return EMU_EINVAL;
  q->mem = mem;
  q->layout.size = size;
  q->event_idx = event_idx;
  q->indirect = indirect;
  q->max_indirect = indirect ? max_indirect : 0;
  q->actor = "driver";
  q->name = "vq";
  int rc = gmem_alloc(mem, vq_desc_table_bytes(size), VQ_DESC_ALIGN, &q->layout.desc);
  if (!rc) rc = gmem_alloc(mem, vq_avail_bytes(size), VQ_AVAIL_ALIGN, &q->layout.avail);
  if (!rc) rc = gmem_alloc(mem, vq_used_bytes(size), VQ_USED_ALIGN, &q->layout.used);
  if (!rc && indirect)
    rc = gmem_alloc(mem, (uint64_t)size * max_indirect * VQ_DESC_SIZE, VQ_DESC_ALIGN,
                    &q->indirect_base);
  if (rc) return rc;
  q->free_next = malloc(sizeof *q->free_next * size);
  q->heads = calloc(size, sizeof *q->heads);
  if (!q->free_next || !q->heads) {
    vq_drv_close(q);
    return EMU_ENOMEM;
  }
  for (uint32_t i = 0; i < size; i++) q->free_next[i] = (uint16_t)(i + 1);
  q->num_free = size;
  /* The device's ring parts start zeroed (§2.7: the driver zeroes used ring
   * memory before handing it over); gmem_alloc'd memory already is. */
  return 0;
}

void vq_drv_close(vq_drv *q) {
  free(q->free_next);
  free(q->heads);
  memset(q, 0, sizeof *q);
}

void vq_drv_set_trace(vq_drv *q, emu_trace *t, const char *actor, const char *name) {
  q->trace = t;
  q->actor = actor;
  q->name = name;
}

static inline int vq_drv_write_desc(vq_drv *q, uint64_t at, uint64_t addr, uint32_t len,
                                    uint16_t flags, uint16_t next) {
  int rc = gmem_write_le64(q->mem, at + VQ_DESC_OFF_ADDR, addr);
  if (!rc) rc = gmem_write_le32(q->mem, at + VQ_DESC_OFF_LEN, len);
  if (!rc) rc = gmem_write_le16(q->mem, at + VQ_DESC_OFF_FLAGS, flags);
  if (!rc) rc = gmem_write_le16(q->mem, at + VQ_DESC_OFF_NEXT, next);
  return rc;
}

static uint16_t vq_drv_desc_flags(unsigned i, unsigned n_out, unsigned total) {
  return (uint16_t)((i + 1 < total ? VQ_DESC_F_NEXT : 0) | (i >= n_out ? VQ_DESC_F_WRITE : 0));
}

/* §2.7.5.3: the whole request in the head's indirect table (a chain of its
 * own, indices relative to it) and one table descriptor at head. */
static int vq_drv_write_indirect(vq_drv *q, uint16_t head, const vq_sg *sg, unsigned n_out,
                                 unsigned total, uint64_t *writable) {
  uint64_t table = q->indirect_base + (uint64_t)head * q->max_indirect * VQ_DESC_SIZE;
  int rc = 0;
  for (unsigned i = 0; i < total && !rc; i++) {
    rc = vq_drv_write_desc(q, table + (uint64_t)i * VQ_DESC_SIZE, sg[i].gpa, sg[i].len,
                           vq_drv_desc_flags(i, n_out, total),
                           (uint16_t)(i + 1 < total ? i + 1 : 0));
    if (i >= n_out) *writable += sg[i].len;
  }
  if (!rc)
    rc = vq_drv_write_desc(q, vq_desc_addr(&q->layout, head), table, total * VQ_DESC_SIZE,
                           VQ_DESC_F_INDIRECT, 0);
  if (rc) return rc;
  VQ_DRV_TRACE(q, .kind = EMU_TR_DESC_WRITTEN, .head = head, .idx = head,
               .len = total * VQ_DESC_SIZE);
  return 0;
}

/* One descriptor per segment, taken from the free list starting at head;
 * *tail is the chain's last descriptor, *rest the free list after it. The
 * free list itself is not changed: the caller commits once all is written. */
static int vq_drv_write_chain(vq_drv *q, uint16_t head, const vq_sg *sg, unsigned n_out,
                              unsigned total, uint64_t *writable, uint16_t *tail, uint16_t *rest) {
  uint16_t d = head;
  for (unsigned i = 0; i < total; i++) {
    uint16_t next = q->free_next[d];
    int rc = vq_drv_write_desc(q, vq_desc_addr(&q->layout, d), sg[i].gpa, sg[i].len,
                               vq_drv_desc_flags(i, n_out, total), i + 1 < total ? next : 0);
    if (rc) return rc;
    if (i >= n_out) *writable += sg[i].len;
    VQ_DRV_TRACE(q, .kind = EMU_TR_DESC_WRITTEN, .head = head, .idx = d, .len = sg[i].len);
    *tail = d;
    d = next;
  }
  *rest = d;
  return 0;
}

int vq_drv_add(vq_drv *q, const vq_sg *sg, unsigned n_out, unsigned n_in, void *token) {
  unsigned total = n_out + n_in;
  if (total == 0) return EMU_EINVAL;
  int use_indirect = q->indirect && total > 1 && total <= q->max_indirect;
  unsigned needed = use_indirect ? 1 : total;
  if (needed > q->num_free) return EMU_ENOSPC;

  uint16_t head = q->free_head, tail = head, rest = q->free_next[head];
  uint64_t writable = 0; /* up to 32768 lengths of 32 bits: 47 bits */
  int rc = use_indirect ? vq_drv_write_indirect(q, head, sg, n_out, total, &writable)
                        : vq_drv_write_chain(q, head, sg, n_out, total, &writable, &tail, &rest);
  if (rc) return rc;
  uint16_t slot = q->avail_idx_shadow;
  rc = gmem_write_le16(q->mem, vq_avail_slot_addr(&q->layout, slot), head);
  if (rc) return rc;
  /* Only now is the head the device's: a write that failed above left the
   * free list, the head and the in-flight count as they were. */
  q->free_head = rest;
  q->num_free = (uint16_t)(q->num_free - needed);
  q->heads[head] = (vq_drv_head){token, writable, (uint16_t)needed, tail, 1};
  q->in_flight++;
  VQ_DRV_TRACE(q, .kind = EMU_TR_AVAIL_ADDED, .head = head, .idx = slot);
  q->avail_idx_shadow = (uint16_t)(slot + 1);
  return head;
}

/* §2.7.10: does moving avail.idx from old to new need a notification? */
static int vq_drv_kick_decision(const vq_drv *q, uint16_t old, uint16_t now) {
  int rc;
  if (q->event_idx) {
    uint16_t avail_event = 0;
    rc = gmem_read_le16(q->mem, vq_avail_event_addr(&q->layout), &avail_event);
    return rc ? rc : vq_need_event(avail_event, now, old);
  }
  uint16_t used_flags = 0;
  rc = gmem_read_le16(q->mem, vq_used_flags_addr(&q->layout), &used_flags);
  return rc ? rc : !(used_flags & VQ_USED_F_NO_NOTIFY);
}

int vq_drv_publish_idx(vq_drv *q) {
  uint16_t old = q->avail_idx_published, now = q->avail_idx_shadow;
  if (old == now) return 0;
  /* The descriptors and ring slots must be visible before the index that
   * exposes them (§2.7.13.3.1)... */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_AVAIL_WMB, GMEM_WMB);
  int rc = gmem_write_le16(q->mem, vq_avail_idx_addr(&q->layout), now);
  if (rc) return rc;
  q->avail_idx_published = now;
  VQ_DRV_TRACE(q, .kind = EMU_TR_AVAIL_PUBLISHED, .idx = now);
  return 0;
}

int vq_drv_kick_check(vq_drv *q, uint16_t old) {
  if (old == q->avail_idx_published) return 0;
  /* The index before the suppression fields are read, or a device going
   * idle meanwhile is missed (§2.7.13.4.1). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_KICK_MB, GMEM_MB);
  return vq_drv_kick_decision(q, old, q->avail_idx_published);
}

int vq_drv_publish(vq_drv *q) {
  uint16_t old = q->avail_idx_published;
  int rc = vq_drv_publish_idx(q);
  return rc ? rc : vq_drv_kick_check(q, old);
}

int vq_drv_kick_needed_unpublished(const vq_drv *q) {
  if (q->avail_idx_published == q->avail_idx_shadow) return 0;
  return vq_drv_kick_decision(q, q->avail_idx_published, q->avail_idx_shadow);
}

uint16_t vq_drv_read_used_idx(const vq_drv *q) {
  return vq_ring_get16(q->mem, vq_used_idx_addr(&q->layout));
}

int vq_drv_has_used(const vq_drv *q) {
  /* An index past everything in flight offers nothing usable (get_used
   * says why when asked): a driver re-arming on it would poll forever. */
  uint16_t ready = (uint16_t)(vq_drv_read_used_idx(q) - q->last_used_idx);
  return ready != 0 && ready <= q->in_flight;
}

/* head: the used element's id the rule is about, or -1. */
static int vq_drv_violation(vq_drv *q, vq_rule rule, int64_t head) {
  q->last_violation = rule;
  q->violations[rule]++;
  vq_trace_rule(q->trace, q->actor, q->name, rule, head);
  return EMU_EPROTO;
}

static void vq_drv_free_head(vq_drv *q, uint16_t head) {
  vq_drv_head *h = &q->heads[head];
  q->free_next[h->tail] = q->free_head;
  q->free_head = head;
  q->num_free = (uint16_t)(q->num_free + h->ndesc);
  h->in_flight = 0;
  h->token = NULL;
  q->in_flight--;
}

/* vq_drv_take_used_at(), inline here: it is the receive loop's body. */
static inline int vq_drv_take_(vq_drv *q, uint16_t used_idx, vq_used_elem *elem) {
  uint64_t slot =
      q->used_slot ? q->used_slot(&q->layout, used_idx) : vq_used_slot_addr(&q->layout, used_idx);
  uint32_t id = 0, len = 0;
  int rc = gmem_read_le32(q->mem, slot + VQ_USED_ELEM_OFF_ID, &id);
  if (!rc) rc = gmem_read_le32(q->mem, slot + VQ_USED_ELEM_OFF_LEN, &len);
  if (rc) return rc;
  elem->head = (uint16_t)id;
  elem->len = len;
  elem->token = NULL;
  /* Distrust the device (like Linux's BAD_RING): an id that is not a head in
   * flight would make us free or reuse a buffer we never offered. */
  if (id >= q->layout.size) return vq_drv_violation(q, VQ_RULE_USED_ID_RANGE, id);
  if (!q->heads[id].in_flight) return vq_drv_violation(q, VQ_RULE_USED_ID_NOT_IN_FLIGHT, id);
  elem->token = q->heads[id].token;
  uint64_t writable = q->heads[id].writable_len;
  vq_drv_free_head(q, (uint16_t)id);
  VQ_DRV_TRACE(q, .kind = EMU_TR_USED_CONSUMED, .head = id, .idx = used_idx, .len = len);
  if (len > writable) {
    elem->len = 0;
    return vq_drv_violation(q, VQ_RULE_USED_LEN_TOO_BIG, id);
  }
  return 0;
}

int vq_drv_take_used_at(vq_drv *q, uint16_t used_idx, vq_used_elem *elem) {
  return vq_drv_take_(q, used_idx, elem);
}

void vq_drv_set_last_used(vq_drv *q, uint16_t idx) { q->last_used_idx = idx; }

int vq_drv_get_used(vq_drv *q, vq_used_elem *elem) {
  uint16_t used_idx = vq_drv_read_used_idx(q);
  if (used_idx == q->last_used_idx) return EMU_EAGAIN;
  /* used.idx before the element it covers (§2.7.14) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_USED_RMB, GMEM_RMB);
  if ((uint16_t)(used_idx - q->last_used_idx) > q->in_flight) {
    /* More elements than buffers offered: nothing past the cursor can be
     * trusted, so do not advance it. */
    elem->token = NULL;
    return vq_drv_violation(q, VQ_RULE_USED_IDX_JUMP, -1);
  }
  int rc = vq_drv_take_(q, q->last_used_idx, elem);
  q->last_used_idx++;
  return rc;
}

void vq_drv_disable_interrupts(vq_drv *q) {
  /* With EVENT_IDX the flag is ignored by the device (§2.7.7.2), so leave
   * used_event where it is: the device interrupts only when crossing it. */
  if (q->event_idx) return;
  q->avail_flags_shadow |= VQ_AVAIL_F_NO_INTERRUPT;
  vq_ring_put16(q->mem, vq_avail_flags_addr(&q->layout), q->avail_flags_shadow);
}

int vq_drv_enable_interrupts(vq_drv *q) {
  if (q->event_idx) {
    vq_ring_put16(q->mem, vq_used_event_addr(&q->layout), q->last_used_idx);
  } else {
    q->avail_flags_shadow &= (uint16_t)~VQ_AVAIL_F_NO_INTERRUPT;
    vq_ring_put16(q->mem, vq_avail_flags_addr(&q->layout), q->avail_flags_shadow);
  }
  /* The device may have pushed an element just before seeing the new
   * used_event or flags, and would then not interrupt: the store must be
   * visible before used.idx is looked at again (§2.7.14's loop). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_IRQ_ON_MB, GMEM_MB);
  return vq_drv_has_used(q);
}
