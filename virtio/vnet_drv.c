#include "virtio/vnet_drv.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/mm.h"

/* Defaults: modelling choices, not spec values. An injected interrupt
 * reaches the guest a microsecond or more after the device raised it; the
 * instructions between finding RX empty and re-enabling its interrupt, and
 * a delayed store, take at most a few hundred ns. */
#define VNET_DRV_DEFAULT_IRQ_MIN_NS   1000u
#define VNET_DRV_DEFAULT_IRQ_MAX_NS   3000u
#define VNET_DRV_DEFAULT_REARM_MAX_NS 200u
#define VNET_DRV_DEFAULT_STORE_MAX_NS 500u
/* Buffers start on a cache line of their own, as a driver's DMA pools do. */
#define VNET_DRV_BUF_ALIGN 64u
/* A TX chain is the header and the frame: two descriptors, or one indirect
 * table of two (§2.7.5.3). */
#define VNET_DRV_TX_SEGS 2u
/* Frames held while the TX ring is full: a queue's worth, as a qdisc would
 * hold (Linux's txqueuelen defaults to 1000); small enough that a device
 * that never returns TX buffers shows as tx_ring_full soon. */
#define VNET_DRV_TX_HOLD 256u

void vnet_drv_opts_default(vnet_drv_opts *o) {
  memset(o, 0, sizeof *o);
  o->features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
  o->irq_latency = (emu_latency){VNET_DRV_DEFAULT_IRQ_MIN_NS, VNET_DRV_DEFAULT_IRQ_MAX_NS};
  o->rearm_delay = (emu_latency){0, VNET_DRV_DEFAULT_REARM_MAX_NS};
  o->store_delay = (emu_latency){0, VNET_DRV_DEFAULT_STORE_MAX_NS};
}

static int vnet_drv_bug(const vnet_drv *drv, unsigned bug) { return (drv->opts.bugs & bug) != 0; }

static uint64_t vnet_drv_now(const vnet_drv *drv) { return drv->actor.sched->now_ns; }

/* --- queue q's ring, split (§2.7) or packed (§2.8) -----------------------
 * One branch per call on the format negotiated at probe. */

static vq_drv *vnet_drv_sq(vnet_drv *drv, uint16_t q) {
  return q == VNET_RXQ ? &drv->rxq : &drv->txq;
}

static vqp_drv *vnet_drv_pq(vnet_drv *drv, uint16_t q) {
  return q == VNET_RXQ ? &drv->prxq : &drv->ptxq;
}

static int vnet_drv_q_add(vnet_drv *drv, uint16_t q, const vq_sg *sg, unsigned n_out, unsigned n_in,
                          void *token) {
  return drv->packed ? vqp_drv_add(vnet_drv_pq(drv, q), sg, n_out, n_in, token)
                     : vq_drv_add(vnet_drv_sq(drv, q), sg, n_out, n_in, token);
}

static int vnet_drv_q_has_used(vnet_drv *drv, uint16_t q) {
  return drv->packed ? vqp_drv_has_used(vnet_drv_pq(drv, q)) : vq_drv_has_used(vnet_drv_sq(drv, q));
}

static void vnet_drv_q_disable_interrupts(vnet_drv *drv, uint16_t q) {
  if (drv->packed)
    vqp_drv_disable_interrupts(vnet_drv_pq(drv, q));
  else
    vq_drv_disable_interrupts(vnet_drv_sq(drv, q));
}

static int vnet_drv_q_enable_interrupts(vnet_drv *drv, uint16_t q) {
  return drv->packed ? vqp_drv_enable_interrupts(vnet_drv_pq(drv, q))
                     : vq_drv_enable_interrupts(vnet_drv_sq(drv, q));
}

/* Where the driver's avail side stands, for the trace: the next avail
 * index, or the packed ring's position and wrap counter as in off_wrap. */
static int64_t vnet_drv_q_avail_mark(vnet_drv *drv, uint16_t q) {
  return drv->packed ? vqp_off_wrap(vnet_drv_pq(drv, q)->avail)
                     : vnet_drv_sq(drv, q)->avail_idx_shadow;
}

static inline void vnet_drv_notify(vnet_drv *drv, uint16_t q, int need) {
  if (need) {
    drv->stats.kicks[q]++;
    drv->last_kick_ns[q] = vnet_drv_now(drv);
    EMU_TRACE_EMIT(drv->trace, .actor = "driver", .kind = EMU_TR_KICK, .queue = vnet_queue_name(q),
                   .idx = vnet_drv_q_avail_mark(drv, q));
    drv->t->notify(drv->t->dev, q);
  } else {
    drv->stats.kicks_suppressed[q]++;
    EMU_TRACE_EMIT(drv->trace, .actor = "driver", .kind = EMU_TR_KICK_SUPPRESSED,
                   .queue = vnet_queue_name(q), .idx = vnet_drv_q_avail_mark(drv, q));
  }
}

static void vnet_drv_kick_decided(vnet_drv *drv, uint16_t q, int need) {
  if (need < 0) return;
  if (q == VNET_TXQ && vnet_drv_bug(drv, VBUG_TX_NO_KICK)) return;
  vnet_drv_notify(drv, q, need);
}

/* Packed: an added buffer is available the moment its first flags are
 * stored (§2.8.17), so there is nothing to publish; decide on the kick for
 * what was added since the last decision. */
static void vnet_drv_kick_if_needed_packed(vnet_drv *drv, uint16_t q) {
  vqp_drv *pq = vnet_drv_pq(drv, q);
  if (pq->kick_from.pos == pq->avail.pos && pq->kick_from.wrap == pq->avail.wrap) return;
  vnet_drv_kick_decided(drv, q, vqp_drv_kick_needed(pq));
}

/* Publishes what was added to queue q and notifies the device if it asked. */
static void vnet_drv_kick_if_needed(vnet_drv *drv, uint16_t q) {
  if (drv->packed) {
    vnet_drv_kick_if_needed_packed(drv, q);
    return;
  }
  vq_drv *vq = vnet_drv_sq(drv, q);
  if (vq->avail_idx_shadow == vq->avail_idx_published) return;
  if (vnet_drv_bug(drv, VBUG_KICK_BEFORE_PUBLISH)) {
    /* Decide and notify first; the store lands later, and a device quick
     * enough to look in between finds nothing new. */
    int need = vq_drv_kick_needed_unpublished(vq);
    if (need >= 0) vnet_drv_notify(drv, q, need);
    if (!drv->publish_queued[q]) {
      drv->publish_queued[q] = 1;
      emu_actor_post(&drv->actor,
                     vnet_drv_now(drv) + emu_latency_draw(drv->actor.sched, drv->opts.store_delay),
                     VNET_DRV_EV_PUBLISH, q, 0, NULL, 0);
    }
    return;
  }
  if (drv->mem->mm) {
    /* Under a memory model the decision comes a moment after the store, as
     * on a real CPU, so the device can look in between. */
    if (!drv->kick_check_queued[q]) {
      drv->kick_check_queued[q] = 1;
      drv->kick_check_from[q] = vq->avail_idx_published;
      emu_actor_post(&drv->actor, vnet_drv_now(drv) + gmem_mm_gap_ns(drv->mem),
                     VNET_DRV_EV_KICK_CHECK, q, 0, NULL, 0);
    }
    vq_drv_publish_idx(vq);
    return;
  }
  vnet_drv_kick_decided(drv, q, vq_drv_publish(vq));
}

static int vnet_drv_post_rx(vnet_drv *drv, uint32_t buf) {
  vq_sg sg = {drv->rx_bufs + (uint64_t)buf * drv->rx_buf_len, drv->rx_buf_len};
  return vnet_drv_q_add(drv, VNET_RXQ, &sg, 0, 1, vq_token_from_index(buf));
}

/* Frame id's fate into the ledger (which traces it); head names the used
 * element it came in (-1 for a fate decided after it was gone). */
static void vnet_drv_fate(vnet_drv *drv, uint32_t id, emu_fate fate, uint64_t now_ns,
                          int64_t head) {
  emu_fates_set(drv->fates, id, fate, now_ns, "driver", head);
}

/* A fate the stack decided after delivery: the frame's reply left, or
 * never will. */
static void vnet_drv_late_fate(void *ctx, uint64_t tag, emu_fate fate, uint64_t now_ns) {
  vnet_drv *drv = ctx;
  if (!drv->fates || tag > UINT32_MAX || fate == EMU_FATE_PENDING) return;
  vnet_drv_fate(drv, (uint32_t)tag, fate, now_ns, -1);
}

/* Gives RX buffer buf back to the device. */
static void vnet_drv_rx_repost(vnet_drv *drv, uint32_t buf) {
  if (vnet_drv_bug(drv, VBUG_RX_NO_RECYCLE)) return;
  if (vnet_drv_post_rx(drv, buf) >= 0) {
    drv->stats.rx_reposted++;
    EMU_TRACE_EMIT(
        drv->trace, .actor = "driver", .kind = EMU_TR_BUFFER_REPOSTED, .queue = "rx",
        .idx = drv->packed ? vnet_drv_q_avail_mark(drv, VNET_RXQ) : drv->rxq.avail_idx_shadow - 1);
  }
}

/* Copies len bytes from offset off of RX buffer buf to rx_scratch + at. */
static int vnet_drv_rx_copy(vnet_drv *drv, uint32_t buf, uint32_t off, uint32_t at, uint32_t len) {
  if (at > sizeof drv->rx_scratch || len > sizeof drv->rx_scratch - at) return EMU_ERANGE;
  uint64_t gpa = drv->rx_bufs + (uint64_t)buf * drv->rx_buf_len + off;
  return gmem_read(drv->mem, gpa, drv->rx_scratch + at, len);
}

/* Hands the len bytes in rx_scratch to the stack as frame id's: its fate. */
static emu_fate vnet_drv_rx_deliver(vnet_drv *drv, int64_t id, uint32_t len, uint64_t now) {
  drv->stats.rx_frames++;
  drv->stats.rx_bytes += len;
  drv->deferral.tag = id >= 0 ? (uint64_t)id : EMU_PORT_NO_TAG;
  emu_fate fate = emu_port_deliver(&drv->netdev, drv->rx_scratch, len, now);
  drv->deferral.tag = EMU_PORT_NO_TAG;
  return fate;
}

/* Hands one used RX element to the stack and gives its buffer back. */
static void vnet_drv_rx_one(vnet_drv *drv, const vq_used_elem *e) {
  uint64_t now = vnet_drv_now(drv);
  uint32_t buf = vq_token_index(e->token);
  int64_t id = drv->fates ? emu_fates_take_buffer(drv->fates, e->head, now, "driver") : -1;
  emu_fate fate = EMU_FATE_DRIVER_REJECTED;
  if (e->len > drv->hdr_len) {
    uint32_t len = e->len - drv->hdr_len;
    if (vnet_drv_rx_copy(drv, buf, drv->hdr_len, 0, len) == 0)
      fate = vnet_drv_rx_deliver(drv, id, len, now);
  } else {
    /* No frame in it (a length the device got wrong, or a header-only
     * element): whatever the buffer held is discarded. */
    drv->stats.rx_empty++;
  }
  /* PENDING: the stack reports the fate later (vnet_drv_late_fate). */
  if (id >= 0 && fate != EMU_FATE_PENDING) vnet_drv_fate(drv, (uint32_t)id, fate, now, e->head);
  vnet_drv_rx_repost(drv, buf);
}

/* Redox's try_recv(): reads the newest used element only and moves the
 * cursor to used.idx, so older elements are passed over. uint16_t arithmetic
 * keeps "used.idx - 1" right when used.idx has wrapped to 0. Returns 1 when
 * it took an element, 0 when there was none, or vq_drv's error when the
 * element was rejected. */
static int vnet_drv_take_newest(vq_drv *vq, vq_used_elem *elem) {
  uint16_t used_idx = vq_drv_read_used_idx(vq);
  if (used_idx == vq->last_used_idx) return 0;
  vq_barrier_make(vq->mem, vq->omit_barriers, VQ_BAR_USED_RMB, GMEM_RMB);
  int rc = vq_drv_take_used_at(vq, (uint16_t)(used_idx - 1), elem);
  vq_drv_set_last_used(vq, used_idx);
  return rc ? rc : 1;
}

/* The packed form of Redox's try_recv(): everything used is taken and
 * only the newest is kept; the older buffers are passed over. 1 with
 * *elem, 0 when there was none, or the error of a bad one. */
static int vnet_drv_take_newest_packed(vqp_drv *pq, vq_used_elem *elem) {
  int took = 0;
  vq_used_elem e;
  for (;;) {
    int rc = vqp_drv_get_used(pq, &e);
    if (rc == EMU_EAGAIN) return took;
    if (rc && !e.token) return took ? took : rc; /* the cursor cannot pass a bad id */
    *elem = e;
    took = 1;
  }
}

/* vnet_drv_next_used() on a packed ring. */
static int vnet_drv_next_used_packed(vqp_drv *pq, int last_only, vq_used_elem *elem,
                                     uint64_t *bad) {
  int rc = last_only ? vnet_drv_take_newest_packed(pq, elem) : vqp_drv_get_used(pq, elem);
  if (last_only && rc >= 0) return rc;
  if (rc == 0) return 1;
  if (rc == EMU_EAGAIN) return 0;
  (*bad)++;
  if (!elem->token) return 0; /* an id the device got wrong: no way past it */
  elem->len = 0;
  return 1;
}

/* Takes the next used element the way this driver does: 1 with *elem, 0
 * when there is none. An element the device got wrong is counted in *bad
 * and comes back with len 0 (its buffer, if the id was good, is recycled). */
static int vnet_drv_next_used(vnet_drv *drv, uint16_t q, int last_only, vq_used_elem *elem,
                              uint64_t *bad) {
  if (drv->packed) return vnet_drv_next_used_packed(vnet_drv_pq(drv, q), last_only, elem, bad);
  vq_drv *vq = vnet_drv_sq(drv, q);
  int rc;
  if (last_only) {
    rc = vnet_drv_take_newest(vq, elem);
    if (rc >= 0) return rc;
  } else {
    rc = vq_drv_get_used(vq, elem);
    if (rc == 0) return 1;
    if (rc == EMU_EAGAIN) return 0;
  }
  (*bad)++;
  /* No progress is possible past an index that jumped: stop here. */
  if (vq->last_violation == VQ_RULE_USED_IDX_JUMP) return 0;
  elem->len = 0;
  return 1;
}

static void vnet_drv_schedule_rearm(vnet_drv *drv) {
  if (drv->rearm_queued) return;
  drv->rearm_queued = 1;
  emu_actor_post(&drv->actor,
                 vnet_drv_now(drv) + emu_latency_draw(drv->actor.sched, drv->opts.rearm_delay),
                 VNET_DRV_EV_REARM, VNET_RXQ, 0, NULL, 0);
}

/* --- mergeable RX buffers (§5.1.6.4) --------------------------------------
 * The first buffer's header says over how many buffers the frame is spread
 * (num_buffers); the others follow it in the used ring, hold frame bytes
 * only, and every one but the last is full. The driver checks what the
 * device wrote, as it checks ids and lengths. */

static void vnet_drv_rx_rule(vnet_drv *drv, vq_rule rule, int64_t head) {
  drv->stats.rx_bad_used++;
  (drv->packed ? drv->prxq.violations : drv->rxq.violations)[rule]++;
  vq_trace_rule(drv->trace, "driver", vnet_queue_name(VNET_RXQ), rule, head);
}

/* num_buffers of the frame whose first buffer is e, checked: 0 when the
 * value cannot be right (then only this buffer is taken). */
static uint32_t vnet_drv_rx_num_buffers(vnet_drv *drv, const vq_used_elem *e) {
  uint8_t raw[2];
  if (e->len < VNET_HDR_LEN ||
      vnet_drv_rx_copy(drv, vq_token_index(e->token), VNET_HDR_NUM_BUFFERS, 0, sizeof raw))
    return 1; /* no header to read: an empty element, counted as such */
  uint32_t n = emu_get_le16(drv->rx_scratch);
  uint16_t size = drv->packed ? drv->prxq.layout.size : drv->rxq.layout.size;
  if (n == 0 || n > size) {
    vnet_drv_rx_rule(drv, VQ_RULE_NUM_BUFFERS_INVALID, e->head);
    return 0;
  }
  return n;
}

/* The next buffer of a frame spread over several: 1 with *e, 0 when the
 * device did not make it used with the first (§5.1.6.4.1). */
static int vnet_drv_rx_next_part(vnet_drv *drv, vq_used_elem *e, uint16_t first) {
  if (vnet_drv_next_used(drv, VNET_RXQ, 0, e, &drv->stats.rx_bad_used) && e->token) return 1;
  vnet_drv_rx_rule(drv, VQ_RULE_MRG_BUFFERS_APART, first);
  return 0;
}

/* Joins the num_buffers buffers of the frame starting at e, hands the frame
 * to the stack and posts every buffer again. A frame the device got wrong
 * is dropped (driver_rejected), its buffers still taken and posted. */
static void vnet_drv_rx_merged(vnet_drv *drv, const vq_used_elem *e) {
  uint64_t now = vnet_drv_now(drv);
  int64_t id = drv->fates ? emu_fates_take_buffer(drv->fates, e->head, now, "driver") : -1;
  uint32_t nbuf = vnet_drv_rx_num_buffers(drv, e), len = 0;
  int ok = nbuf != 0;
  vq_used_elem part = *e;
  for (uint32_t k = 0; k < (nbuf ? nbuf : 1); k++) {
    if (k && !vnet_drv_rx_next_part(drv, &part, e->head)) {
      ok = 0;
      break;
    }
    uint32_t off = k ? 0 : drv->hdr_len;
    if (k + 1 < nbuf && part.len != drv->rx_buf_len) {
      vnet_drv_rx_rule(drv, VQ_RULE_MRG_BUFFER_NOT_FULL, part.head);
      ok = 0;
    }
    if (ok && part.len > off) {
      ok = vnet_drv_rx_copy(drv, vq_token_index(part.token), off, len, part.len - off) == 0;
      len += part.len - off;
    }
    if (k == 0 || !vnet_drv_bug(drv, VBUG_MRG_REPOST_FIRST))
      vnet_drv_rx_repost(drv, vq_token_index(part.token));
  }
  if (ok && len > drv->max_frame && (drv->features & VIRTIO_BIT(VIRTIO_NET_F_MTU))) {
    vnet_drv_rx_rule(drv, VQ_RULE_RX_FRAME_OVER_MTU, e->head);
    ok = 0;
  }
  drv->stats.rx_empty += ok && len == 0;
  drv->stats.rx_merged += ok && nbuf > 1;
  emu_fate fate = ok && len ? vnet_drv_rx_deliver(drv, id, len, now) : EMU_FATE_DRIVER_REJECTED;
  if (id >= 0 && fate != EMU_FATE_PENDING) vnet_drv_fate(drv, (uint32_t)id, fate, now, e->head);
}

void vnet_drv_rx_poll(vnet_drv *drv) {
  if (drv->in_rx) return; /* a frame handed to the stack made it poll again */
  drv->in_rx = 1;
  vnet_drv_q_disable_interrupts(drv, VNET_RXQ);
  vq_used_elem e;
  int last_only = vnet_drv_bug(drv, VBUG_RX_LAST_ONLY);
  int merge = drv->mergeable && !vnet_drv_bug(drv, VBUG_MRG_FIRST_ONLY);
  while (vnet_drv_next_used(drv, VNET_RXQ, last_only, &e, &drv->stats.rx_bad_used)) {
    if (!e.token) continue;
    if (merge)
      vnet_drv_rx_merged(drv, &e);
    else
      vnet_drv_rx_one(drv, &e);
  }
  vnet_drv_kick_if_needed(drv, VNET_RXQ);
  drv->in_rx = 0;
  vnet_drv_schedule_rearm(drv);
}

/* Ring empty a moment ago: ask for the interrupt again, then look once more,
 * since an element pushed before the request was visible raises none
 * (§2.7.7.1). */
static void vnet_drv_rearm(vnet_drv *drv) {
  drv->rearm_queued = 0;
  int more;
  if (!drv->packed && drv->rxq.event_idx && vnet_drv_bug(drv, VBUG_USED_EVENT_STALE))
    more = vq_drv_has_used(&drv->rxq);
  else
    more = vnet_drv_q_enable_interrupts(drv, VNET_RXQ);
  if (vnet_drv_bug(drv, VBUG_IRQ_NO_RECHECK)) more = 0;
  if (more) vnet_drv_rx_poll(drv);
}

static void vnet_drv_tx_reclaim(vnet_drv *drv) {
  if (vnet_drv_bug(drv, VBUG_TX_NO_RECLAIM)) return;
  vq_used_elem e;
  while (vnet_drv_next_used(drv, VNET_TXQ, vnet_drv_bug(drv, VBUG_TX_LAST_ONLY), &e,
                            &drv->stats.tx_bad_used)) {
    if (!e.token) continue;
    drv->tx_free[drv->tx_nfree++] = (uint16_t)vq_token_index(e.token);
    drv->stats.tx_reclaimed++;
    EMU_TRACE_EMIT(drv->trace, .actor = "driver", .kind = EMU_TR_TX_RECLAIMED, .queue = "tx",
                   .head = e.head);
  }
}

static void vnet_drv_run_stack(vnet_drv *drv) {
  if (!drv->poll) return;
  uint64_t next = drv->poll(drv->poll_ctx, vnet_drv_now(drv));
  emu_actor_arm(&drv->actor, &drv->timer_at, next, VNET_DRV_EV_TIMER);
}

/* A frame the driver could not put in the ring: its fate, and the stack's
 * answer. */
static int vnet_drv_tx_drop(vnet_drv *drv, int64_t id, emu_fate fate, int rc) {
  if (fate == EMU_FATE_TX_RING_FULL) drv->stats.tx_ring_full++;
  if (id >= 0) emu_fates_set(drv->tx_fates, (uint32_t)id, fate, vnet_drv_now(drv), "driver", -1);
  return rc;
}

/* Puts frame id into a free TX buffer and the ring (a buffer is free).
 * EMU_ENOSPC, with nothing used, when the ring lacks the descriptors (a
 * packed ring without indirect tables takes two per frame). */
static int vnet_drv_tx_put(vnet_drv *drv, int64_t id, const uint8_t *frame, size_t len) {
  uint16_t buf = drv->tx_free[drv->tx_nfree - 1];
  uint64_t gpa = drv->tx_bufs + (uint64_t)buf * drv->tx_buf_len;
  /* No offloads negotiated: an all-zero header (§5.1.6.2). */
  int rc = gmem_fill(drv->mem, gpa, 0, drv->hdr_len);
  if (!rc) rc = gmem_write(drv->mem, gpa + drv->hdr_len, frame, len);
  if (rc) return vnet_drv_tx_drop(drv, id, EMU_FATE_FRAME_INVALID, rc);
  vq_sg sg[VNET_DRV_TX_SEGS] = {{gpa, drv->hdr_len}, {gpa + drv->hdr_len, (uint32_t)len}};
  /* The ledger knows a chain by where the device will find it: its head
   * (split), or the position of its first descriptor (packed, where the id
   * is the device's to read right or wrong). */
  uint16_t slot = drv->ptxq.avail.pos;
  rc = vnet_drv_q_add(drv, VNET_TXQ, sg, VNET_DRV_TX_SEGS, 0, vq_token_from_index(buf));
  if (rc == EMU_ENOSPC) return rc;
  if (rc < 0) return vnet_drv_tx_drop(drv, id, EMU_FATE_FRAME_INVALID, rc);
  if (!drv->packed) slot = (uint16_t)rc;
  if (id >= 0) emu_fates_in_buffer(drv->tx_fates, slot, (uint32_t)id, vnet_drv_now(drv), "driver");
  drv->tx_nfree--;
  drv->stats.tx_frames++;
  drv->stats.tx_bytes += len;
  return 0;
}

/* --- back-pressure: frames held while the TX ring is full ----------------- */

/* Holds a frame until the ring can take it, as a stopped queue does
 * (Linux's netif_stop_queue): asks for the TX interrupt meanwhile, so the
 * completion wakes the driver. EMU_ENOSPC when the hold is full too. */
static int vnet_drv_tx_hold(vnet_drv *drv, int64_t id, const uint8_t *frame, size_t len) {
  int rc = emu_frameq_push(&drv->held, id, frame, (uint32_t)len);
  if (rc) return rc;
  drv->stats.tx_held++;
  if (!drv->tx_stopped) {
    drv->tx_stopped = 1;
    if (vnet_drv_q_enable_interrupts(drv, VNET_TXQ))
      emu_actor_post(&drv->actor, vnet_drv_now(drv), VNET_DRV_EV_TX_WAKE, 0, 0, NULL, 0);
  }
  return 0;
}

/* Ready for a bulk sender while the hold is under half full: the other
 * half is for the frames that cannot wait (ACKs, replies), which are
 * refused only when it is full. */
static int vnet_drv_tx_ready(void *impl) {
  const vnet_drv *drv = impl;
  return drv->held.len < VNET_DRV_TX_HOLD / 2;
}

/* Sends held frames, oldest first, while the ring takes them. */
static void vnet_drv_tx_release(vnet_drv *drv) {
  while (drv->held.len && drv->tx_nfree) {
    const emu_frame *h = emu_frameq_front(&drv->held);
    if (vnet_drv_tx_put(drv, h->id, h->data, h->len) == EMU_ENOSPC) break;
    emu_frameq_pop(&drv->held);
  }
  if (drv->tx_stopped && !drv->held.len) {
    /* the queue runs again: TX completions are reaped on the next send */
    drv->tx_stopped = 0;
    vnet_drv_q_disable_interrupts(drv, VNET_TXQ);
  }
}

/* TX completions: buffers back, held frames out, the device told. */
static void vnet_drv_tx_complete(vnet_drv *drv) {
  vnet_drv_tx_reclaim(drv);
  if (!drv->held.len) return;
  vnet_drv_tx_release(drv);
  vnet_drv_kick_if_needed(drv, VNET_TXQ);
}

void vnet_drv_finish(vnet_drv *drv) {
  for (; drv->held.len; emu_frameq_pop(&drv->held)) {
    int64_t id = emu_frameq_front(&drv->held)->id;
    if (id >= 0 && drv->tx_fates)
      emu_fates_set(drv->tx_fates, (uint32_t)id, EMU_FATE_TX_NOT_RECLAIMED, vnet_drv_now(drv),
                    "end", -1);
  }
}

static int vnet_drv_transmit(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  vnet_drv *drv = impl;
  /* The frame enters the TX ledger as the stack hands it over; -1 without
   * one (or out of host memory: then the stack's error says it). */
  int64_t id = drv->tx_fates ? emu_fates_enter(drv->tx_fates, now_ns) : -1;
  if (len == 0 || len > drv->max_frame)
    return vnet_drv_tx_drop(drv, id, EMU_FATE_FRAME_INVALID, EMU_EINVAL);
  if (!drv->link_up) {
    /* carrier off: the stack's frame goes no further than the driver */
    return vnet_drv_tx_drop(drv, id, EMU_FATE_LINK_DOWN, EMU_EAGAIN);
  }
  vnet_drv_tx_reclaim(drv);
  vnet_drv_tx_release(drv);
  /* in order behind the held ones, or held itself when the ring is full */
  int rc = drv->held.len || !drv->tx_nfree ? EMU_ENOSPC : vnet_drv_tx_put(drv, id, frame, len);
  if (rc == EMU_ENOSPC) {
    rc = vnet_drv_tx_hold(drv, id, frame, len);
    if (rc) return vnet_drv_tx_drop(drv, id, EMU_FATE_TX_RING_FULL, rc);
  }
  if (rc) return rc;
  vnet_drv_kick_if_needed(drv, VNET_TXQ);
  /* The buggy driver only looks at RX when the stack calls it for its own
   * reasons, such as this send; defer it so the stack is not re-entered. */
  if (vnet_drv_bug(drv, VBUG_RX_NO_IRQ_WAKE) && !drv->rx_poll_queued) {
    drv->rx_poll_queued = 1;
    emu_actor_post(&drv->actor, vnet_drv_now(drv), VNET_DRV_EV_POLL, 0, 0, NULL, 0);
  }
  return 0;
}

/* The link status as the device's config space has it (up without
 * VIRTIO_NET_F_STATUS: the field is not there, §5.1.4). */
static int vnet_drv_read_link(vnet_drv *drv) {
  uint8_t raw[VNET_CFG_STATUS_LEN];
  if (!(drv->features & VIRTIO_BIT(VIRTIO_NET_F_STATUS)) ||
      drv->t->read_config(drv->t->dev, VNET_CFG_STATUS, raw, sizeof raw) != 0)
    return 1;
  return (emu_get_le16(raw) & VIRTIO_NET_S_LINK_UP) != 0;
}

/* §3.2.1: the device says its configuration changed: read the link again,
 * as Linux's virtnet_config_changed_work does (a device that needs a reset
 * says so here too, §2.1.2; this driver does not reset). */
static void vnet_drv_config_changed(vnet_drv *drv) {
  EMU_TRACE_EMIT(drv->trace, .actor = "driver", .kind = EMU_TR_INTERRUPT_RECEIVED,
                 .queue = vnet_queue_name(VNET_IRQ_CONFIG));
  drv->link_up = vnet_drv_read_link(drv);
}

static void vnet_drv_handle(emu_actor *self, const emu_event *ev) {
  vnet_drv *drv = self->ctx;
  switch (ev->kind) {
    case VNET_DRV_EV_IRQ: {
      if (ev->arg == VNET_IRQ_CONFIG) {
        vnet_drv_config_changed(drv);
        break;
      }
      drv->stats.interrupts++;
      EMU_TRACE_EMIT(drv->trace, .actor = "driver", .kind = EMU_TR_INTERRUPT_RECEIVED,
                     .queue = vnet_queue_name((uint16_t)ev->arg));
      int pending = vnet_drv_q_has_used(drv, VNET_RXQ) || vnet_drv_q_has_used(drv, VNET_TXQ);
      if (!pending) drv->stats.interrupts_spurious++;
      if (!vnet_drv_bug(drv, VBUG_RX_NO_IRQ_WAKE)) vnet_drv_rx_poll(drv);
      vnet_drv_tx_complete(drv);
      break;
    }
    case VNET_DRV_EV_TX_WAKE:
      vnet_drv_tx_complete(drv);
      break;
    case VNET_DRV_EV_TIMER:
      if (!emu_actor_timer_due(&drv->timer_at, ev)) return; /* superseded */
      vnet_drv_rx_poll(drv);
      break;
    case VNET_DRV_EV_POLL:
      drv->rx_poll_queued = 0;
      vnet_drv_rx_poll(drv);
      break;
    case VNET_DRV_EV_REARM:
      vnet_drv_rearm(drv);
      break;
    case VNET_DRV_EV_KICK_CHECK: {
      if (ev->arg >= VNET_NUM_QUEUES) return;
      vq_drv *vq = vnet_drv_sq(drv, (uint16_t)ev->arg);
      drv->kick_check_queued[ev->arg] = 0;
      vnet_drv_kick_decided(drv, (uint16_t)ev->arg,
                            vq_drv_kick_check(vq, drv->kick_check_from[ev->arg]));
      break;
    }
    case VNET_DRV_EV_PUBLISH:
      if (ev->arg >= VNET_NUM_QUEUES) return;
      drv->publish_queued[ev->arg] = 0;
      vq_drv_publish(ev->arg == VNET_RXQ ? &drv->rxq : &drv->txq);
      break;
    default:
      return;
  }
  vnet_drv_run_stack(drv);
}

int vnet_drv_init(vnet_drv *drv, const vnet_drv_opts *opts, gmem *mem, emu_sched *s,
                  const virtio_transport *t, emu_fates *fates, emu_trace *trace) {
  memset(drv, 0, sizeof *drv);
  if ((opts->queue_size && !vq_size_valid(opts->queue_size)) ||
      (opts->rx_buf_len && opts->rx_buf_len < VNET_HDR_LEN + 1) ||
      opts->rx_buf_len > sizeof drv->rx_scratch || (opts->bugs & ~VBUG_DRIVER_ALL))
    return EMU_EINVAL;
  drv->opts = *opts;
  drv->mem = mem;
  drv->t = t;
  drv->fates = fates;
  drv->trace = trace;
  for (unsigned q = 0; q < VNET_NUM_QUEUES; q++) drv->last_kick_ns[q] = EMU_TIME_NEVER;
  drv->netdev = (emu_port){.send = vnet_drv_transmit, .impl = drv, .ready = vnet_drv_tx_ready};
  drv->deferral = (emu_port_deferral){vnet_drv_late_fate, drv, EMU_PORT_NO_TAG};
  drv->hdr_len = vnet_drv_bug(drv, VBUG_LEGACY_HDR) ? VNET_LEGACY_HDR_LEN : VNET_HDR_LEN;
  drv->max_frame = VNET_MAX_FRAME;
  return emu_actor_init(&drv->actor, s, "driver", vnet_drv_handle, drv);
}

void vnet_drv_close(vnet_drv *drv) {
  emu_frameq_close(&drv->held);
  vq_drv_close(&drv->rxq);
  vq_drv_close(&drv->txq);
  vqp_drv_close(&drv->prxq);
  vqp_drv_close(&drv->ptxq);
  free(drv->tx_free);
  drv->tx_free = NULL;
}

/* VBUG_USED_SLOT_MOD_256 (Redox's slot arithmetic): the used element for an
 * index is taken from slot index % 256 whatever the queue size, where §2.7.8
 * has index & (size - 1): right only for a queue of 256. */
#define VNET_DRV_BUG_SLOT_MODULUS 256u
static uint64_t vnet_drv_used_slot_mod_256(const vq_layout *l, uint16_t used_idx) {
  return vq_used_elem_addr(l, used_idx % VNET_DRV_BUG_SLOT_MODULUS);
}

/* Packed: the ring and its two areas, handed over as the transport's three
 * addresses (desc = ring, avail = driver area, used = device area). */
static int vnet_drv_setup_packed(vnet_drv *drv, uint16_t q, uint16_t size) {
  vqp_drv *pq = vnet_drv_pq(drv, q);
  int rc = vqp_drv_init(pq, drv->mem, size, (drv->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0);
  if (rc) return rc;
  pq->trace = drv->trace;
  pq->name = vnet_queue_name(q);
  if (vnet_drv_bug(drv, VBUG_PACKED_NO_WRAP_TOGGLE)) pq->bugs |= VQP_BUG_NO_WRAP_TOGGLE;
  if (vnet_drv_bug(drv, VBUG_PACKED_USED_AVAIL_COUNTER)) pq->bugs |= VQP_BUG_USED_AVAIL_COUNTER;
  pq->omit_barriers = vbug_omitted_barriers(VBUG_SIDE_DRIVER, drv->opts.bugs & VBUG_PACKED_ONLY);
  vq_layout l = {pq->layout.size, pq->layout.ring, pq->layout.driver, pq->layout.device};
  return drv->t->queue_setup(drv->t->dev, q, &l);
}

static int vnet_drv_setup_queue(vnet_drv *drv, uint16_t q, uint16_t size) {
  if (drv->packed) return vnet_drv_setup_packed(drv, q, size);
  vq_drv *vq = vnet_drv_sq(drv, q);
  int indirect = (drv->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) != 0;
  int rc = vq_drv_init(vq, drv->mem, size, (drv->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0,
                       indirect && q == VNET_TXQ, VNET_DRV_TX_SEGS);
  if (rc) return rc;
  if (vnet_drv_bug(drv, VBUG_USED_SLOT_MOD_256)) vq->used_slot = vnet_drv_used_slot_mod_256;
  vq->omit_barriers = vbug_omitted_barriers(VBUG_SIDE_DRIVER, drv->opts.bugs);
  vq_drv_set_trace(vq, drv->trace, "driver", vnet_queue_name(q));
  return drv->t->queue_setup(drv->t->dev, q, &vq->layout);
}

uint32_t vnet_drv_rx_buf_len_for(uint32_t asked, uint16_t mtu, int mergeable) {
  if (asked) return asked;
  uint32_t len = VNET_HDR_LEN + VNET_ETH_HDR_LEN + (mtu ? mtu : VNET_MTU_DEFAULT);
  return mergeable || len < VNET_MIN_RX_BUF ? VNET_MIN_RX_BUF : len;
}

uint32_t vnet_drv_tx_buf_len_for(uint16_t mtu) {
  uint32_t len = VNET_HDR_LEN + VNET_FRAME_MAX_FOR(mtu ? mtu : VNET_MTU_DEFAULT);
  return (len + VNET_DRV_BUF_ALIGN - 1) & ~(VNET_DRV_BUF_ALIGN - 1);
}

/* The largest frame either way and the RX buffers' size, from the
 * negotiated features: the mtu (§5.1.4.2: room for one frame of it, and
 * none larger sent), mergeable buffers (§5.1.6.3.1). */
static void vnet_drv_size_frames(vnet_drv *drv) {
  drv->mergeable = (drv->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)) != 0;
  uint32_t mtu = VNET_MTU_DEFAULT;
  uint8_t raw[VNET_CFG_MTU_LEN];
  if ((drv->features & VIRTIO_BIT(VIRTIO_NET_F_MTU)) &&
      drv->t->read_config(drv->t->dev, VNET_CFG_MTU, raw, sizeof raw) == 0) {
    /* a device's mtu outside 68..65535 breaks §5.1.4.1; this driver's
     * buffers stop at 9000 either way */
    mtu = emu_get_le16(raw);
    if (mtu < VNET_MTU_MIN) mtu = VNET_MTU_MIN;
    if (mtu > VNET_MTU_MAX) mtu = VNET_MTU_MAX;
    drv->max_frame = VNET_FRAME_MAX_FOR(mtu);
  }
  drv->rx_buf_len = vnet_drv_rx_buf_len_for(drv->opts.rx_buf_len, (uint16_t)mtu, drv->mergeable);
  drv->tx_buf_len = vnet_drv_tx_buf_len_for((uint16_t)mtu);
}

int vnet_drv_probe(vnet_drv *drv) {
  const virtio_transport *t = drv->t;
  void *dev = t->dev;
  /* §3.1.1 driver initialisation, in order. */
  int rc = t->set_status(dev, 0);
  if (!rc) rc = t->set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
  if (!rc) rc = t->set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  if (rc) return rc;
  drv->features = t->device_features(dev) & drv->opts.features;
  rc = t->set_driver_features(dev, drv->features);
  if (rc) return rc;
  /* §2.8: the driver chooses the packed ring by accepting the feature */
  drv->packed = (drv->features & VIRTIO_BIT(VIRTIO_F_RING_PACKED)) != 0;
  uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
  rc = t->set_status(dev, st);
  if (rc) return rc;
  if (!(t->get_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
    t->set_status(dev, st | VIRTIO_STATUS_FAILED);
    return EMU_ENOTSUP;
  }
  if (drv->features & VIRTIO_BIT(VIRTIO_NET_F_MAC))
    t->read_config(dev, VNET_CFG_MAC, drv->mac, VNET_MAC_LEN);
  drv->link_up = vnet_drv_read_link(drv);
  vnet_drv_size_frames(drv);
  uint16_t size = drv->opts.queue_size;
  uint16_t rx_max = t->queue_max_size(dev, VNET_RXQ), tx_max = t->queue_max_size(dev, VNET_TXQ);
  uint16_t dev_max = rx_max < tx_max ? rx_max : tx_max;
  /* §4.1.4.3: the device's queue_size is its maximum, which a driver may
   * lower but not raise; asked for more, a driver takes what is offered */
  if (size == 0 || size > dev_max) size = dev_max;
  if (!vq_size_valid(size)) return EMU_EINVAL;
  rc = vnet_drv_setup_queue(drv, VNET_RXQ, size);
  if (!rc) rc = vnet_drv_setup_queue(drv, VNET_TXQ, size);
  if (!rc)
    rc = gmem_alloc(drv->mem, (uint64_t)size * drv->rx_buf_len, VNET_DRV_BUF_ALIGN, &drv->rx_bufs);
  if (!rc)
    rc = gmem_alloc(drv->mem, (uint64_t)size * drv->tx_buf_len, VNET_DRV_BUF_ALIGN, &drv->tx_bufs);
  if (rc) return rc;
  drv->tx_free = malloc(sizeof *drv->tx_free * size);
  if (!drv->tx_free) return EMU_ENOMEM;
  rc = emu_frameq_init(&drv->held, VNET_DRV_TX_HOLD);
  if (rc) return rc;
  for (uint32_t i = 0; i < size; i++) drv->tx_free[i] = (uint16_t)(size - 1 - i);
  drv->tx_nfree = size;
  /* Redox posts every RX buffer once, at start. */
  for (uint32_t i = 0; i < size; i++) {
    rc = vnet_drv_post_rx(drv, i);
    if (rc < 0) return rc;
  }
  /* TX completions are reaped on the send path; their interrupt is not needed. */
  vnet_drv_q_disable_interrupts(drv, VNET_TXQ);
  rc = t->set_status(dev, st | VIRTIO_STATUS_DRIVER_OK);
  if (rc) return rc;
  vnet_drv_kick_if_needed(drv, VNET_RXQ);
  return 0;
}

emu_port *vnet_drv_netdev(vnet_drv *drv) { return &drv->netdev; }

emu_port_deferral *vnet_drv_deferral(vnet_drv *drv) { return &drv->deferral; }

void vnet_drv_set_tx_ledger(vnet_drv *drv, emu_fates *tx) { drv->tx_fates = tx; }

void vnet_drv_set_poll(vnet_drv *drv, vnet_drv_poll_fn fn, void *ctx) {
  drv->poll = fn;
  drv->poll_ctx = ctx;
  vnet_drv_run_stack(drv);
}

void vnet_drv_wake_stack(vnet_drv *drv) { vnet_drv_run_stack(drv); }
