#include "virtio/vq_dev.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"

/* What is wrong with a ring the driver set up (§2.7, table "Virtqueue Part
 * Alignment"), or VQ_RULE_NONE. */
static vq_rule vq_layout_problem(const gmem *mem, const vq_layout *l) {
  const uint64_t addr[3] = {l->desc, l->avail, l->used};
  const uint64_t len[3] = {vq_desc_table_bytes(l->size), vq_avail_bytes(l->size),
                           vq_used_bytes(l->size)};
  const uint64_t align[3] = {VQ_DESC_ALIGN, VQ_AVAIL_ALIGN, VQ_USED_ALIGN};
  return vq_parts_problem(mem, addr, len, align);
}

int vq_dev_init(vq_dev *q, gmem *mem, const vq_layout *layout, int event_idx, int indirect) {
  memset(q, 0, sizeof *q);
  q->broken_head = -1;
  q->actor = "device";
  q->name = "vq";
  if (!vq_size_valid(layout->size)) return EMU_EINVAL;
  q->mem = mem;
  q->layout = *layout;
  q->event_idx = event_idx;
  q->indirect = indirect;
  q->broken = vq_layout_problem(mem, layout);
  if (q->broken) return EMU_EPROTO;
  q->segs = malloc(sizeof *q->segs * layout->size);
  q->head_offers = calloc(layout->size, 1);
  q->slot_head = calloc(layout->size, sizeof *q->slot_head);
  q->taken = calloc(layout->size, 1);
  q->taken_writable = calloc(layout->size, sizeof *q->taken_writable);
  if (!q->segs || !q->head_offers || !q->slot_head || !q->taken || !q->taken_writable)
    return EMU_ENOMEM;
  return 0;
}

void vq_dev_close(vq_dev *q) {
  free(q->segs);
  free(q->head_offers);
  free(q->slot_head);
  free(q->taken);
  free(q->taken_writable);
  memset(q, 0, sizeof *q);
}

void vq_dev_set_trace(vq_dev *q, emu_trace *t, const char *actor, const char *name) {
  q->trace = t;
  q->actor = actor;
  q->name = name;
}

static int vq_dev_break(vq_dev *q, vq_rule rule, int64_t head) {
  if (q->broken == VQ_RULE_NONE) {
    q->broken = rule;
    q->broken_head = head;
  }
  vq_dev_report(q, rule, head);
  return EMU_EPROTO;
}

void vq_dev_report(vq_dev *q, vq_rule rule, int64_t head) {
  vq_trace_rule(q->trace, q->actor, q->name, rule, head);
}

static int vq_dev_read_avail_idx(const vq_dev *q, uint16_t *idx) {
  return gmem_read_le16(q->mem, vq_avail_idx_addr(&q->layout), idx);
}

int vq_dev_has_avail(const vq_dev *q) {
  uint16_t idx;
  if (q->broken || vq_dev_read_avail_idx(q, &idx)) return 0;
  return idx != q->last_avail_idx;
}

typedef struct vq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
} vq_desc;

static int vq_read_desc(const gmem *m, uint64_t at, vq_desc *d) {
  uint8_t raw[VQ_DESC_SIZE];
  int rc = gmem_read(m, at, raw, sizeof raw);
  if (rc) return rc;
  d->addr = emu_get_le64(raw + VQ_DESC_OFF_ADDR);
  d->len = emu_get_le32(raw + VQ_DESC_OFF_LEN);
  d->flags = emu_get_le16(raw + VQ_DESC_OFF_FLAGS);
  d->next = emu_get_le16(raw + VQ_DESC_OFF_NEXT);
  return 0;
}

vq_rule vq_chain_add_seg(vq_chain *c, vq_seg *segs, uint32_t max, const gmem *m, uint64_t addr,
                         uint32_t len, int writable, int *seen_writable) {
  if (c->nseg >= max) return VQ_RULE_CHAIN_TOO_LONG;
  if (len == 0) return VQ_RULE_DESC_LEN_ZERO;
  if (!gmem_in_range(m, addr, len)) return VQ_RULE_DESC_ADDR_RANGE;
  if (!writable && *seen_writable) return VQ_RULE_WRITE_BEFORE_READ;
  *seen_writable |= writable;
  segs[c->nseg++] = (vq_seg){addr, len, (uint8_t)writable};
  if (writable)
    c->writable_len += len;
  else
    c->readable_len += len;
  return VQ_RULE_NONE;
}

/* Appends one buffer descriptor to the chain being collected. */
static inline int vq_dev_take_buffer(vq_dev *q, vq_chain *c, const vq_desc *d, int *seen_writable) {
  vq_rule r = vq_chain_add_seg(c, q->segs, q->layout.size, q->mem, d->addr, d->len,
                               (d->flags & VQ_DESC_F_WRITE) != 0, seen_writable);
  return r == VQ_RULE_NONE ? 0 : vq_dev_break(q, r, c->head);
}

/* §2.7.5.3: an indirect table is a descriptor chain of its own, indexed from
 * its start, which must not itself contain indirect descriptors. */
static int vq_dev_walk_indirect(vq_dev *q, vq_chain *c, const vq_desc *d, int *seen_writable) {
  if (!q->indirect) return vq_dev_break(q, VQ_RULE_INDIRECT_NOT_NEGOTIATED, c->head);
  if (d->flags & VQ_DESC_F_NEXT) return vq_dev_break(q, VQ_RULE_INDIRECT_WITH_NEXT, c->head);
  if (d->len == 0 || d->len % VQ_DESC_SIZE) return vq_dev_break(q, VQ_RULE_INDIRECT_LEN, c->head);
  if (!gmem_in_range(q->mem, d->addr, d->len))
    return vq_dev_break(q, VQ_RULE_DESC_ADDR_RANGE, c->head);
  uint32_t n = d->len / VQ_DESC_SIZE;
  uint32_t i = 0;
  for (uint32_t steps = 0;; steps++) {
    if (steps >= n) return vq_dev_break(q, VQ_RULE_CHAIN_TOO_LONG, c->head);
    vq_desc e;
    int rc = vq_read_desc(q->mem, d->addr + (uint64_t)i * VQ_DESC_SIZE, &e);
    if (rc) return rc;
    if (e.flags & VQ_DESC_F_INDIRECT) return vq_dev_break(q, VQ_RULE_INDIRECT_NESTED, c->head);
    rc = vq_dev_take_buffer(q, c, &e, seen_writable);
    if (rc) return rc;
    if (!(e.flags & VQ_DESC_F_NEXT)) return 0;
    if (e.next >= n) return vq_dev_break(q, VQ_RULE_DESC_INDEX_RANGE, c->head);
    i = e.next;
  }
}

/* A head belongs to the device from its offer until its used element: the
 * same head offered again meanwhile makes two owners of one set of buffers.
 * Each avail slot is looked at once, so this costs one read per offer. */
static int vq_dev_count_offers(vq_dev *q, uint16_t avail_idx) {
  for (; q->avail_scanned != avail_idx; q->avail_scanned++) {
    uint16_t head;
    int rc = gmem_read_le16(q->mem, vq_avail_slot_addr(&q->layout, q->avail_scanned), &head);
    if (rc) return rc;
    q->slot_head[q->avail_scanned & (q->layout.size - 1)] = head;
    if (head >= q->layout.size) continue; /* reported when popped */
    if (q->head_offers[head]) return vq_dev_break(q, VQ_RULE_HEAD_IN_FLIGHT, head);
    q->head_offers[head] = 1;
  }
  return 0;
}

/* avail.idx ran k (up to a queue) more than a queue past the device. A driver that posted
 * k offers into a full ring overwrote k slots with heads offered again, so
 * the ring then names k heads twice and every other once: report the first
 * such head (head_in_flight). Anything else, unwritten slots included, is
 * a scribbled index (avail_idx_jump). */
static int vq_dev_overrun(vq_dev *q, uint16_t avail_idx) {
  uint32_t ahead = (uint16_t)(avail_idx - q->last_avail_idx), repeats = 0;
  if (ahead > 2u * q->layout.size) return vq_dev_break(q, VQ_RULE_AVAIL_IDX_JUMP, -1);
  uint8_t *seen = calloc(q->layout.size, 1);
  if (!seen) return EMU_ENOMEM;
  int64_t twice = -1;
  for (uint32_t slot = 0; slot < q->layout.size; slot++) {
    uint16_t head;
    if (gmem_read_le16(q->mem, vq_avail_slot_addr(&q->layout, (uint16_t)slot), &head) ||
        head >= q->layout.size || seen[head] > 1) {
      repeats = 0; /* a bad head, or a head three times: not re-offers */
      break;
    }
    if (seen[head]++) {
      repeats++;
      if (twice < 0) twice = head;
    }
  }
  free(seen);
  return repeats && repeats == ahead - q->layout.size
             ? vq_dev_break(q, VQ_RULE_HEAD_IN_FLIGHT, twice)
             : vq_dev_break(q, VQ_RULE_AVAIL_IDX_JUMP, -1);
}

int vq_dev_pop(vq_dev *q, vq_chain *c) {
  if (q->broken) return EMU_EPROTO;
  uint16_t avail_idx;
  int rc = vq_dev_read_avail_idx(q, &avail_idx);
  if (rc) return rc;
  /* §2.7.6: idx only ever increases; one that moved back below slots the
   * device has read would have it read them again as new offers. */
  if ((uint16_t)(avail_idx - q->last_avail_idx) < (uint16_t)(q->avail_scanned - q->last_avail_idx))
    return vq_dev_break(q, VQ_RULE_AVAIL_IDX_BACKWARDS, -1);
  if (avail_idx == q->last_avail_idx) return EMU_EAGAIN;
  /* A driver can have at most `size` heads outstanding; a larger step means
   * it offered a head twice, or scribbled on avail.idx (QEMU reports the
   * latter as "moved avail index"). */
  if ((uint16_t)(avail_idx - q->last_avail_idx) > q->layout.size)
    return vq_dev_overrun(q, avail_idx);
  /* avail.idx before the slots and descriptors it exposes (§2.7.13.3) */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_AVAIL_RMB, GMEM_RMB);
  rc = vq_dev_count_offers(q, avail_idx);
  if (rc) return rc;
  uint16_t head = q->slot_head[q->last_avail_idx & (q->layout.size - 1)];
  memset(c, 0, sizeof *c);
  c->head = head;
  c->avail_idx = q->last_avail_idx;
  c->seg = q->segs;
  if (head >= q->layout.size) return vq_dev_break(q, VQ_RULE_DESC_INDEX_RANGE, head);

  int seen_writable = 0;
  uint16_t i = head;
  for (uint32_t steps = 0;; steps++) {
    /* §2.7.5.2: no chain is longer than the queue; a longer walk is a loop. */
    if (steps >= q->layout.size) return vq_dev_break(q, VQ_RULE_CHAIN_TOO_LONG, head);
    vq_desc d;
    rc = vq_read_desc(q->mem, vq_desc_addr(&q->layout, i), &d);
    if (rc) return rc;
    if (d.flags & VQ_DESC_F_INDIRECT) {
      rc = vq_dev_walk_indirect(q, c, &d, &seen_writable);
      if (rc) return rc;
      break;
    }
    rc = vq_dev_take_buffer(q, c, &d, &seen_writable);
    if (rc) return rc;
    if (!(d.flags & VQ_DESC_F_NEXT)) break;
    if (d.next >= q->layout.size) return vq_dev_break(q, VQ_RULE_DESC_INDEX_RANGE, head);
    i = d.next;
  }
  q->last_avail_idx++;
  q->taken[head] = 1;
  q->taken_writable[head] = c->writable_len;
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_POP, .queue = q->name, .head = head,
                 .idx = c->avail_idx, .len = (int64_t)(c->readable_len + c->writable_len));
  return 0;
}

int vq_dev_push(vq_dev *q, uint16_t head, uint32_t len) {
  /* The device's own mistakes, refused before the driver can see them:
   * a head it does not hold, or more bytes than the chain can take. */
  if (head >= q->layout.size || !q->taken[head]) {
    vq_dev_report(q, VQ_RULE_PUSH_NOT_TAKEN, head);
    return EMU_EPROTO;
  }
  if (len > q->taken_writable[head]) {
    vq_dev_report(q, VQ_RULE_PUSH_LEN_TOO_BIG, head);
    return EMU_EPROTO;
  }
  q->taken[head] = 0;
  q->head_offers[head] = 0;
  uint64_t slot = vq_used_slot_addr(&q->layout, q->used_idx_shadow);
  int rc = gmem_write_le32(q->mem, slot + VQ_USED_ELEM_OFF_ID, head);
  if (!rc) rc = gmem_write_le32(q->mem, slot + VQ_USED_ELEM_OFF_LEN, len);
  if (rc) return rc;
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_USED_PUSHED, .queue = q->name,
                 .head = head, .idx = q->used_idx_shadow, .len = len);
  q->used_idx_shadow++;
  return 0;
}

int vq_dev_publish_used(vq_dev *q) {
  if (q->used_idx_published == q->used_idx_shadow) return 0;
  /* Elements and the buffers' bytes before the index (§2.7.8.2: len set
   * before idx). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_USED_WMB, GMEM_WMB);
  int rc = gmem_write_le16(q->mem, vq_used_idx_addr(&q->layout), q->used_idx_shadow);
  if (rc) return rc;
  q->used_idx_published = q->used_idx_shadow;
  EMU_TRACE_EMIT(q->trace, .actor = q->actor, .kind = EMU_TR_USED_PUBLISHED, .queue = q->name,
                 .idx = q->used_idx_shadow);
  return 0;
}

int vq_dev_need_interrupt(vq_dev *q) {
  uint16_t old = q->signalled_used, now = q->used_idx_published;
  if (old == now) return 0;
  q->signalled_used = now;
  /* used.idx visible before the driver's suppression is read, or a driver
   * re-enabling meanwhile sleeps through the new elements (Linux vhost's
   * smp_mb() in vhost_notify; §2.7.7.2). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_IRQ_MB, GMEM_MB);
  if (q->event_idx) {
    uint16_t used_event = vq_ring_get16(q->mem, vq_used_event_addr(&q->layout));
    return q->need_event ? q->need_event(used_event, now, old)
                         : vq_need_event(used_event, now, old);
  }
  uint16_t flags = vq_ring_get16(q->mem, vq_avail_flags_addr(&q->layout));
  return !(flags & VQ_AVAIL_F_NO_INTERRUPT);
}

int vq_dev_enable_notify(vq_dev *q) {
  if (q->event_idx)
    vq_ring_put16(q->mem, vq_avail_event_addr(&q->layout), q->last_avail_idx);
  else
    vq_ring_put16(q->mem, vq_used_flags_addr(&q->layout), 0);
  /* The driver may have published just before it could see the request and
   * so not kick: the store visible, then look again (§2.7.10.2). */
  vq_barrier_make(q->mem, q->omit_barriers, VQ_BAR_NOTIFY_ON_MB, GMEM_MB);
  return vq_dev_has_avail(q);
}

void vq_dev_disable_notify(vq_dev *q) {
  /* With EVENT_IDX the flag is not used (§2.7.10.2); avail_event stays put and
   * suppresses kicks until the driver crosses it. */
  if (!q->event_idx) vq_ring_put16(q->mem, vq_used_flags_addr(&q->layout), VQ_USED_F_NO_NOTIFY);
}

/* Walks the segments of one direction, calling copy for each piece that
 * overlaps [off, off + len). */
static int vq_chain_copy(const vq_chain *c, int writable, uint64_t off, size_t len,
                         int (*copy)(void *ctx, uint64_t gpa, size_t done, size_t n), void *ctx) {
  /* Refuse before copying anything, as gmem does: no half-written buffers. */
  uint64_t part = writable ? c->writable_len : c->readable_len;
  if (off > part || len > part - off) return EMU_ERANGE;
  size_t done = 0;
  for (uint32_t i = 0; i < c->nseg && done < len; i++) {
    const vq_seg *s = &c->seg[i];
    if (s->writable != writable) continue;
    if (off >= s->len) {
      off -= s->len;
      continue;
    }
    size_t n = s->len - off;
    if (n > len - done) n = len - done;
    int rc = copy(ctx, s->gpa + off, done, n);
    if (rc) return rc;
    done += n;
    off = 0;
  }
  return done == len ? 0 : EMU_ERANGE;
}

struct vq_copy_ctx {
  gmem *mem;
  uint8_t *host;
};

static int vq_copy_out(void *ctx, uint64_t gpa, size_t done, size_t n) {
  struct vq_copy_ctx *x = ctx;
  return gmem_read(x->mem, gpa, x->host + done, n);
}

static int vq_copy_in(void *ctx, uint64_t gpa, size_t done, size_t n) {
  struct vq_copy_ctx *x = ctx;
  return gmem_write(x->mem, gpa, x->host + done, n);
}

int vq_chain_copy_from(gmem *m, const vq_chain *c, uint64_t off, void *dst, size_t len) {
  struct vq_copy_ctx x = {m, dst};
  return vq_chain_copy(c, 0, off, len, vq_copy_out, &x);
}

int vq_chain_copy_to(gmem *m, const vq_chain *c, uint64_t off, const void *src, size_t len) {
  struct vq_copy_ctx x = {m, (uint8_t *)src};
  return vq_chain_copy(c, 1, off, len, vq_copy_in, &x);
}

int vq_chain_read(const vq_dev *q, const vq_chain *c, uint64_t off, void *dst, size_t len) {
  return vq_chain_copy_from(q->mem, c, off, dst, len);
}

int vq_chain_write(vq_dev *q, const vq_chain *c, uint64_t off, const void *src, size_t len) {
  return vq_chain_copy_to(q->mem, c, off, src, len);
}
