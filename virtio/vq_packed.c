#include "virtio/vq_packed.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"

int vqp_need_event(uint16_t off_wrap, vqp_cursor old, vqp_cursor now, uint16_t size) {
  /* Positions made linear over two laps: a flip of the counter is a lap. */
  uint32_t lap = 2u * size;
  uint32_t event = (off_wrap & ~(1u << VQP_EVENT_WRAP_BIT)) +
                   ((off_wrap >> VQP_EVENT_WRAP_BIT) & 1u ? size : 0u);
  uint32_t o = old.pos + (old.wrap ? size : 0u), n = now.pos + (now.wrap ? size : 0u);
  if (event >= lap) return 1; /* an offset past the ring: no descriptor to wait for */
  return (n + lap - event - 1) % lap < (n + lap - o) % lap;
}

/* The flag bits that make a descriptor available under wrap counter w
 * (§2.8.1: AVAIL equal to the counter, USED its inverse), and used. */
static uint16_t vqp_avail_bits(uint8_t w) { return w ? VQP_F_AVAIL : VQP_F_USED; }
static uint16_t vqp_used_bits(uint8_t w) { return w ? VQP_F_AVAIL | VQP_F_USED : 0; }

static int vqp_is_avail(uint16_t flags, uint8_t w) {
  return ((flags & VQP_F_AVAIL) != 0) == w && ((flags & VQP_F_USED) != 0) != w;
}
static int vqp_is_used(uint16_t flags, uint8_t w) {
  return ((flags & VQP_F_AVAIL) != 0) == w && ((flags & VQP_F_USED) != 0) == w;
}

static uint16_t vqp_flags_at(const gmem *m, const vqp_layout *l, uint16_t pos) {
  return vq_ring_get16(m, vqp_desc_addr(l, pos) + VQP_DESC_OFF_FLAGS);
}

/* --- driver half --------------------------------------------------------- */

int vqp_drv_init(vqp_drv *q, gmem *mem, uint16_t size, int event_idx) {
  memset(q, 0, sizeof *q);
  if (!vqp_size_valid(size)) return EMU_EINVAL;
  q->mem = mem;
  q->layout.size = size;
  q->event_idx = event_idx;
  q->actor = "driver";
  q->name = "vq";
  q->avail = q->used = q->kick_from = (vqp_cursor){0, 1};
  int rc = gmem_alloc(mem, vqp_ring_bytes(size), VQP_RING_ALIGN, &q->layout.ring);
  if (!rc) rc = gmem_alloc(mem, VQP_EVENT_SIZE, VQP_EVENT_ALIGN, &q->layout.driver);
  if (!rc) rc = gmem_alloc(mem, VQP_EVENT_SIZE, VQP_EVENT_ALIGN, &q->layout.device);
  if (rc) return rc;
  q->free_ids = malloc(sizeof *q->free_ids * size);
  q->bufs = calloc(size, sizeof *q->bufs);
  if (!q->free_ids || !q->bufs) {
    vqp_drv_close(q);
    return EMU_ENOMEM;
  }
  for (uint32_t i = 0; i < size; i++) q->free_ids[i] = (uint16_t)(size - 1 - i); /* id 0 first */
  q->nfree_ids = q->num_free = size;
  return 0;
}

void vqp_drv_close(vqp_drv *q) {
  free(q->free_ids);
  free(q->bufs);
  memset(q, 0, sizeof *q);
}

static int vqp_write_desc(gmem *m, uint64_t at, uint64_t addr, uint32_t len, uint16_t id) {
  int rc = gmem_write_le64(m, at + VQP_DESC_OFF_ADDR, addr);
  if (!rc) rc = gmem_write_le32(m, at + VQP_DESC_OFF_LEN, len);
  if (!rc) rc = gmem_write_le16(m, at + VQP_DESC_OFF_ID, id);
  return rc;
}

int vqp_drv_add(vqp_drv *q, const vq_sg *sg, unsigned n_out, unsigned n_in, void *token) {
  unsigned total = n_out + n_in;
  if (total == 0) return EMU_EINVAL;
  if (total > q->num_free || q->nfree_ids == 0) return EMU_ENOSPC;
  uint16_t id = q->free_ids[q->nfree_ids - 1];
  uint64_t writable = 0;
  vqp_cursor c = q->avail;
  uint16_t first_flags = 0;
  for (unsigned i = 0; i < total; i++) {
    uint16_t flags = (uint16_t)(vqp_avail_bits(c.wrap) | (i + 1 < total ? VQP_F_NEXT : 0) |
                                (i >= n_out ? VQP_F_WRITE : 0));
    uint64_t at = vqp_desc_addr(&q->layout, c.pos);
    /* §2.8.6: the buffer id goes in the last descriptor of the chain */
    int rc = vqp_write_desc(q->mem, at, sg[i].gpa, sg[i].len, i + 1 == total ? id : 0);
    if (!rc && i) rc = gmem_write_le16(q->mem, at + VQP_DESC_OFF_FLAGS, flags);
    if (rc) return rc;
    if (i == 0) first_flags = flags;
    if (i >= n_out) writable += sg[i].len;
    vqp_advance(&c, 1, q->layout.size);
    if (q->bugs & VQP_BUG_NO_WRAP_TOGGLE) c.wrap = q->avail.wrap;
  }
  /* The first descriptor last, after a barrier: the device never sees part
   * of a chain (§2.8.17, §2.8.21.1.1). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_AVAIL_WMB, GMEM_WMB);
  uint16_t first = q->avail.pos;
  vq_ring_put16(q->mem, vqp_desc_addr(&q->layout, first) + VQP_DESC_OFF_FLAGS, first_flags);
  q->avail = c;
  q->nfree_ids--;
  q->num_free = (uint16_t)(q->num_free - total);
  q->bufs[id] = (vqp_buf){token, writable, (uint16_t)total, 1};
  q->in_flight++;
  /* traced once the cursors moved, so an observer reads them as they now are */
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_AVAIL_PUBLISHED, .queue = q->name,
                 .head = id, .idx = first, .len = total);
  return id;
}

int vqp_drv_kick_needed(vqp_drv *q) {
  vqp_cursor old = q->kick_from;
  q->kick_from = q->avail;
  if (old.pos == q->avail.pos && old.wrap == q->avail.wrap) return 0;
  /* The new flags visible before the device's wish is read (§2.8.21.3.1). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_KICK_MB, GMEM_MB);
  uint16_t flags = vq_ring_get16(q->mem, q->layout.device + VQP_EVENT_OFF_FLAGS);
  switch (flags & VQP_EVENT_FLAGS_MASK) {
    case VQP_EVENT_DISABLE:
      return 0;
    case VQP_EVENT_DESC:
      if (q->event_idx)
        return vqp_need_event(vq_ring_get16(q->mem, q->layout.device + VQP_EVENT_OFF_DESC), old,
                              q->avail, q->layout.size);
      return 1; /* not negotiated: the device's mistake; notify to be safe */
    default:
      return 1;
  }
}

int vqp_drv_has_used(const vqp_drv *q) {
  uint8_t w = q->bugs & VQP_BUG_USED_AVAIL_COUNTER ? q->avail.wrap : q->used.wrap;
  return q->in_flight && vqp_is_used(vqp_flags_at(q->mem, &q->layout, q->used.pos), w);
}

static int vqp_drv_violation(vqp_drv *q, vq_rule rule, int64_t id) {
  q->last_violation = rule;
  q->violations[rule]++;
  vq_trace_rule(q->trace, q->actor, q->name, rule, id);
  return EMU_EPROTO;
}

int vqp_drv_get_used(vqp_drv *q, vq_used_elem *elem) {
  if (!vqp_drv_has_used(q)) return EMU_EAGAIN;
  /* the flags before the id and length they hand over (§2.8.22) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_USED_RMB, GMEM_RMB);
  uint64_t at = vqp_desc_addr(&q->layout, q->used.pos);
  uint16_t flags = vqp_flags_at(q->mem, &q->layout, q->used.pos);
  uint16_t id = vq_ring_get16(q->mem, at + VQP_DESC_OFF_ID);
  uint32_t len = 0;
  if (gmem_read_le32(q->mem, at + VQP_DESC_OFF_LEN, &len)) return EMU_ERANGE;
  if (!(flags & VQP_F_WRITE)) len = 0; /* §2.8.4: reserved without WRITE */
  *elem = (vq_used_elem){id, len, NULL};
  /* Distrust the device: without a valid id the chain's length, and so the
   * next used position, is unknown; the cursor stays. */
  if (id >= q->layout.size) return vqp_drv_violation(q, VQ_RULE_USED_ID_RANGE, id);
  vqp_buf *b = &q->bufs[id];
  if (!b->in_flight) return vqp_drv_violation(q, VQ_RULE_USED_ID_NOT_IN_FLIGHT, id);
  elem->token = b->token;
  uint16_t pos = q->used.pos;
  vqp_advance(&q->used, b->ndesc, q->layout.size);
  q->num_free = (uint16_t)(q->num_free + b->ndesc);
  q->free_ids[q->nfree_ids++] = id;
  q->in_flight--;
  uint64_t writable = b->writable;
  *b = (vqp_buf){0};
  /* traced once the cursor moved and the id is free (see vqp_drv_add) */
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_USED_CONSUMED, .queue = q->name,
                 .head = id, .idx = pos, .len = len);
  if (len > writable) {
    elem->len = 0;
    return vqp_drv_violation(q, VQ_RULE_USED_LEN_TOO_BIG, id);
  }
  return 0;
}

void vqp_drv_disable_interrupts(vqp_drv *q) {
  vq_ring_put16(q->mem, q->layout.driver + VQP_EVENT_OFF_FLAGS, VQP_EVENT_DISABLE);
}

int vqp_drv_enable_interrupts(vqp_drv *q) {
  if (q->event_idx) {
    vq_ring_put16(q->mem, q->layout.driver + VQP_EVENT_OFF_DESC, vqp_off_wrap(q->used));
    vq_ring_put16(q->mem, q->layout.driver + VQP_EVENT_OFF_FLAGS, VQP_EVENT_DESC);
  } else {
    vq_ring_put16(q->mem, q->layout.driver + VQP_EVENT_OFF_FLAGS, VQP_EVENT_ENABLE);
  }
  /* the request visible before the used ring is looked at again */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_IRQ_ON_MB, GMEM_MB);
  return vqp_drv_has_used(q);
}

/* --- device half ---------------------------------------------------------- */

/* §2.8.10.1: the ring and the two structures, each inside guest memory,
 * aligned, an area of its own. */
static vq_rule vqp_layout_problem(const gmem *m, const vqp_layout *l) {
  const uint64_t addr[3] = {l->ring, l->driver, l->device};
  const uint64_t len[3] = {vqp_ring_bytes(l->size), VQP_EVENT_SIZE, VQP_EVENT_SIZE};
  const uint64_t align[3] = {VQP_RING_ALIGN, VQP_EVENT_ALIGN, VQP_EVENT_ALIGN};
  return vq_parts_problem(m, addr, len, align);
}

int vqp_dev_init(vqp_dev *q, gmem *mem, const vqp_layout *layout, int event_idx, int indirect) {
  memset(q, 0, sizeof *q);
  q->broken_head = -1;
  q->actor = "device";
  q->name = "vq";
  if (!vqp_size_valid(layout->size)) return EMU_EINVAL;
  q->mem = mem;
  q->layout = *layout;
  q->event_idx = event_idx;
  q->indirect = indirect;
  q->avail = q->used = q->signalled = (vqp_cursor){0, 1};
  q->broken = vqp_layout_problem(mem, layout);
  if (q->broken) return EMU_EPROTO;
  q->chain_len = calloc(layout->size, sizeof *q->chain_len);
  q->writable = calloc(layout->size, sizeof *q->writable);
  q->segs = malloc(sizeof *q->segs * layout->size);
  if (!q->chain_len || !q->writable || !q->segs) return EMU_ENOMEM;
  return 0;
}

void vqp_dev_close(vqp_dev *q) {
  free(q->chain_len);
  free(q->writable);
  free(q->segs);
  memset(q, 0, sizeof *q);
}

static void vqp_dev_report(vqp_dev *q, vq_rule rule, int64_t id) {
  vq_trace_rule(q->trace, q->actor, q->name, rule, id);
}

static int vqp_dev_break(vqp_dev *q, vq_rule rule, int64_t id) {
  if (q->broken == VQ_RULE_NONE) {
    q->broken = rule;
    q->broken_head = id;
  }
  vqp_dev_report(q, rule, id);
  return EMU_EPROTO;
}

int vqp_dev_has_avail(const vqp_dev *q) {
  return !q->broken && vqp_is_avail(vqp_flags_at(q->mem, &q->layout, q->avail.pos), q->avail.wrap);
}

typedef struct vqp_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t id, flags;
} vqp_desc;

static void vqp_read_desc(const gmem *m, uint64_t at, vqp_desc *d) {
  uint8_t raw[VQP_DESC_SIZE] = {0};
  (void)gmem_read(m, at, raw, sizeof raw); /* inside the ring, checked at init */
  d->addr = emu_get_le64(raw + VQP_DESC_OFF_ADDR);
  d->len = emu_get_le32(raw + VQP_DESC_OFF_LEN);
  d->id = emu_get_le16(raw + VQP_DESC_OFF_ID);
  d->flags = emu_get_le16(raw + VQP_DESC_OFF_FLAGS);
}

/* §2.8.7, §2.8.19: an indirect table, a list of its own whose entries carry
 * only WRITE; it ends the chain (a direct descriptor in a NEXT list must
 * not be INDIRECT). */
static vq_rule vqp_dev_walk_indirect(vqp_dev *q, vq_chain *c, const vqp_desc *d, int *seen_w) {
  if (!q->indirect) return VQ_RULE_INDIRECT_NOT_NEGOTIATED;
  if (d->flags & VQP_F_NEXT) return VQ_RULE_INDIRECT_WITH_NEXT;
  if (d->len == 0 || d->len % VQP_DESC_SIZE) return VQ_RULE_INDIRECT_LEN;
  if (!gmem_in_range(q->mem, d->addr, d->len)) return VQ_RULE_DESC_ADDR_RANGE;
  for (uint32_t i = 0; i < d->len / VQP_DESC_SIZE; i++) {
    vqp_desc e;
    vqp_read_desc(q->mem, d->addr + (uint64_t)i * VQP_DESC_SIZE, &e);
    vq_rule r = vq_chain_add_seg(c, q->segs, q->layout.size, q->mem, e.addr, e.len,
                                 (e.flags & VQP_F_WRITE) != 0, seen_w);
    if (r != VQ_RULE_NONE) return r;
  }
  return VQ_RULE_NONE;
}

/* Collects the chain that starts at the avail cursor into c; *id and *n get
 * its buffer id (from its last descriptor, §2.8.6) and length in ring
 * descriptors. */
static vq_rule vqp_dev_collect(vqp_dev *q, vq_chain *c, uint16_t *id, uint32_t *n) {
  vqp_cursor p = q->avail;
  int seen_writable = 0;
  for (*n = 1;; (*n)++) {
    vqp_desc d;
    vqp_read_desc(q->mem, vqp_desc_addr(&q->layout, p.pos), &d);
    /* every descriptor of the chain is available before its first is */
    if (*n > 1 && !vqp_is_avail(d.flags, p.wrap)) return VQ_RULE_PACKED_PARTIAL_CHAIN;
    /* §2.8.19: no INDIRECT descriptor inside a NEXT list */
    if (*n > 1 && (d.flags & VQP_F_INDIRECT)) return VQ_RULE_INDIRECT_WITH_NEXT;
    vq_rule r = d.flags & VQP_F_INDIRECT
                    ? vqp_dev_walk_indirect(q, c, &d, &seen_writable)
                    : vq_chain_add_seg(c, q->segs, q->layout.size, q->mem, d.addr, d.len,
                                       (d.flags & VQP_F_WRITE) != 0, &seen_writable);
    if (r != VQ_RULE_NONE) return r;
    if (*n == 1 && (q->bugs & VQP_BUG_ID_FIRST)) *id = d.id;
    if ((d.flags & VQP_F_INDIRECT) || !(d.flags & VQP_F_NEXT)) {
      if (!(q->bugs & VQP_BUG_ID_FIRST)) *id = d.id;
      return VQ_RULE_NONE;
    }
    if (*n >= q->layout.size) return VQ_RULE_CHAIN_TOO_LONG; /* §2.8.17: no longer than the ring */
    vqp_advance(&p, 1, q->layout.size);
  }
}

int vqp_dev_pop(vqp_dev *q, vq_chain *c) {
  if (q->broken) return EMU_EPROTO;
  if (!vqp_dev_has_avail(q)) return EMU_EAGAIN;
  /* the first descriptor's flags before the rest of the chain (§2.8.21.1) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_AVAIL_RMB, GMEM_RMB);
  memset(c, 0, sizeof *c);
  c->seg = q->segs;
  c->avail_idx = q->avail.pos;
  uint16_t id = 0;
  uint32_t n = 0;
  vq_rule r = vqp_dev_collect(q, c, &id, &n);
  if (r != VQ_RULE_NONE) return vqp_dev_break(q, r, -1);
  if (id >= q->layout.size) return vqp_dev_break(q, VQ_RULE_PACKED_ID_RANGE, id);
  if (q->chain_len[id]) return vqp_dev_break(q, VQ_RULE_PACKED_ID_IN_FLIGHT, id);
  c->head = id;
  q->chain_len[id] = (uint16_t)n;
  q->writable[id] = c->writable_len;
  uint16_t before = q->avail.pos;
  vqp_advance(&q->avail, n, q->layout.size);
  /* the bug's test: "wrapped" when the position came out smaller */
  if ((q->bugs & VQP_BUG_WRAP_EXACT) && q->avail.pos == before) q->avail.wrap ^= 1u;
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_POP, .queue = q->name, .head = id,
                 .idx = c->avail_idx, .len = (int64_t)(c->readable_len + c->writable_len));
  return 0;
}

int vqp_dev_push(vqp_dev *q, uint16_t id, uint32_t len) {
  if (id >= q->layout.size || !q->chain_len[id]) {
    vqp_dev_report(q, VQ_RULE_PUSH_NOT_TAKEN, id);
    return EMU_EPROTO;
  }
  if (len > q->writable[id]) {
    vqp_dev_report(q, VQ_RULE_PUSH_LEN_TOO_BIG, id);
    return EMU_EPROTO;
  }
  uint64_t at = vqp_desc_addr(&q->layout, q->used.pos);
  vq_ring_put16(q->mem, at + VQP_DESC_OFF_ID, id);
  int rc = gmem_write_le32(q->mem, at + VQP_DESC_OFF_LEN, len);
  if (rc) return rc;
  /* id and len visible before the flags that hand the buffer back (§2.8.1) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_USED_WMB, GMEM_WMB);
  vq_ring_put16(q->mem, at + VQP_DESC_OFF_FLAGS,
                (uint16_t)(vqp_used_bits(q->used.wrap) | (len ? VQP_F_WRITE : 0)));
  uint16_t pos = q->used.pos;
  vqp_advance(&q->used, q->chain_len[id], q->layout.size);
  q->chain_len[id] = 0;
  /* traced once the cursor moved (see vqp_drv_add) */
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_USED_PUBLISHED, .queue = q->name,
                 .head = id, .idx = pos, .len = len);
  return 0;
}

int vqp_dev_need_interrupt(vqp_dev *q) {
  vqp_cursor old = q->signalled;
  q->signalled = q->used;
  if (old.pos == q->used.pos && old.wrap == q->used.wrap) return 0;
  /* the used flags visible before the driver's wish is read (§2.8.10) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_IRQ_MB, GMEM_MB);
  uint16_t flags = vq_ring_get16(q->mem, q->layout.driver + VQP_EVENT_OFF_FLAGS);
  switch (flags & VQP_EVENT_FLAGS_MASK) {
    case VQP_EVENT_DISABLE:
      return 0;
    case VQP_EVENT_DESC:
      if (!q->event_idx) {
        vqp_dev_report(q, VQ_RULE_EVENT_DESC_NOT_NEGOTIATED, -1);
        return 1;
      }
      return vqp_need_event(vq_ring_get16(q->mem, q->layout.driver + VQP_EVENT_OFF_DESC), old,
                            q->used, q->layout.size);
    case VQP_EVENT_RESERVED:
      vqp_dev_report(q, VQ_RULE_EVENT_FLAGS_RESERVED, -1);
      return 1;
    default:
      return 1;
  }
}

void vqp_dev_disable_notify(vqp_dev *q) {
  vq_ring_put16(q->mem, q->layout.device + VQP_EVENT_OFF_FLAGS, VQP_EVENT_DISABLE);
}

int vqp_dev_enable_notify(vqp_dev *q) {
  if (q->event_idx) {
    vq_ring_put16(q->mem, q->layout.device + VQP_EVENT_OFF_DESC, vqp_off_wrap(q->avail));
    vq_ring_put16(q->mem, q->layout.device + VQP_EVENT_OFF_FLAGS, VQP_EVENT_DESC);
  } else {
    vq_ring_put16(q->mem, q->layout.device + VQP_EVENT_OFF_FLAGS, VQP_EVENT_ENABLE);
  }
  /* the request visible before the ring is looked at again */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_NOTIFY_ON_MB, GMEM_MB);
  return vqp_dev_has_avail(q);
}
