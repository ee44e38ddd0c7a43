#include "virtio/vnet_dev.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "emu/mm.h"
#include "virtio/vbug.h"

/* Defaults: modelling choices, not spec values. A queue of 256 is what
 * QEMU's virtio-net offers by default; a notify reaches the device a few
 * hundred ns after the driver's write; the device handles up to 16 TX
 * chains before it yields. */
#define VNET_DEV_DEFAULT_QUEUE_SIZE  256u
#define VNET_DEV_DEFAULT_RX_BACKLOG  8u
#define VNET_DEV_DEFAULT_BATCH_MIN   1u
#define VNET_DEV_DEFAULT_BATCH_MAX   16u
#define VNET_DEV_DEFAULT_KICK_MIN_NS 200u
#define VNET_DEV_DEFAULT_KICK_MAX_NS 800u

void vnet_dev_config_default(vnet_dev_config *cfg) {
  static const uint8_t slirp_guest_mac[VNET_MAC_LEN] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  memset(cfg, 0, sizeof *cfg);
  memcpy(cfg->mac, slirp_guest_mac, sizeof cfg->mac);
  cfg->max_queue_size = VNET_DEV_DEFAULT_QUEUE_SIZE;
  cfg->features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                  VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                  VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
  cfg->rx_backlog = VNET_DEV_DEFAULT_RX_BACKLOG;
  cfg->batch_min = VNET_DEV_DEFAULT_BATCH_MIN;
  cfg->batch_max = VNET_DEV_DEFAULT_BATCH_MAX;
  cfg->kick_latency = (emu_latency){VNET_DEV_DEFAULT_KICK_MIN_NS, VNET_DEV_DEFAULT_KICK_MAX_NS};
  cfg->link_up = 1;
}

static void vnet_dev_fate(vnet_dev *d, uint32_t id, emu_fate fate) {
  if (d->fates) emu_fates_set(d->fates, id, fate, d->actor.sched->now_ns, "device", -1);
}

/* --- the queue's ring, split (§2.7) or packed (§2.8) ----------------------
 * One branch per call on the format the driver chose at setup. */

static int vnet_dev_q_pop(vnet_dev *d, uint16_t q, vq_chain *c) {
  return d->q[q].packed ? vqp_dev_pop(&d->q[q].pvq, c) : vq_dev_pop(&d->q[q].vq, c);
}

static int vnet_dev_q_push(vnet_dev *d, uint16_t q, uint16_t head, uint32_t len) {
  int rc =
      d->q[q].packed ? vqp_dev_push(&d->q[q].pvq, head, len) : vq_dev_push(&d->q[q].vq, head, len);
  d->q[q].unflushed += rc == 0;
  return rc;
}

/* Makes the pushes visible (a packed push is visible as it is made). */
static void vnet_dev_q_publish(vnet_dev *d, uint16_t q) {
  d->q[q].unflushed = 0;
  if (!d->q[q].packed) vq_dev_publish_used(&d->q[q].vq);
}

static int vnet_dev_q_need_interrupt(vnet_dev *d, uint16_t q) {
  return d->q[q].packed ? vqp_dev_need_interrupt(&d->q[q].pvq) : vq_dev_need_interrupt(&d->q[q].vq);
}

static int vnet_dev_q_has_avail(const vnet_dev *d, uint16_t q) {
  return d->q[q].packed ? vqp_dev_has_avail(&d->q[q].pvq) : vq_dev_has_avail(&d->q[q].vq);
}

static int vnet_dev_q_enable_notify(vnet_dev *d, uint16_t q) {
  return d->q[q].packed ? vqp_dev_enable_notify(&d->q[q].pvq) : vq_dev_enable_notify(&d->q[q].vq);
}

static void vnet_dev_q_disable_notify(vnet_dev *d, uint16_t q) {
  if (d->q[q].packed)
    vqp_dev_disable_notify(&d->q[q].pvq);
  else
    vq_dev_disable_notify(&d->q[q].vq);
}

static void vnet_dev_q_report(vnet_dev *d, uint16_t q, vq_rule rule, int64_t head) {
  vq_trace_rule(d->trace, "device", vnet_queue_name(q), rule, head);
}

static vq_rule vnet_dev_q_broken(const vnet_dev *d, uint16_t q) {
  return d->q[q].packed ? d->q[q].pvq.broken : d->q[q].vq.broken;
}

/* Where the device's used side stands, for the trace: used.idx, or the
 * packed ring's used position and wrap counter as in off_wrap. */
static int64_t vnet_dev_q_used_mark(const vnet_dev *d, uint16_t q) {
  return d->q[q].packed ? vqp_off_wrap(d->q[q].pvq.used) : d->q[q].vq.used_idx_published;
}

static void vnet_dev_q_close(vnet_dev *d, uint16_t q) {
  if (d->q[q].packed)
    vqp_dev_close(&d->q[q].pvq);
  else
    vq_dev_close(&d->q[q].vq);
}

/* §3.2.1: a configuration change notification, sent once the driver is
 * running (before DRIVER_OK the driver reads the configuration anyway). */
static void vnet_dev_config_notify(vnet_dev *d) {
  if (!(d->status & VIRTIO_STATUS_DRIVER_OK)) return;
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_INTERRUPT,
                 .queue = vnet_queue_name(VNET_IRQ_CONFIG));
  emu_channel_send(&d->irq, VNET_IRQ_CONFIG, 0, NULL, 0);
}

/* §2.1.2: on a driver error the device sets DEVICE_NEEDS_RESET and stops
 * using its queues until reset. */
static void vnet_dev_needs_reset(vnet_dev *d, uint16_t q, vq_rule rule) {
  if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
  d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
  d->violation = rule;
  d->violation_queue = vnet_queue_name(q);
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_STATUS, .queue = vnet_queue_name(q),
                 .idx = d->status, .detail = vq_rule_name(rule));
  /* §2.1.2: after DRIVER_OK, setting DEVICE_NEEDS_RESET is told */
  vnet_dev_config_notify(d);
}

static void vnet_dev_interrupt_now(vnet_dev *d, uint16_t q) {
  if (vnet_dev_q_need_interrupt(d, q)) {
    d->stats.interrupts++;
    EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_INTERRUPT,
                   .queue = vnet_queue_name(q), .idx = vnet_dev_q_used_mark(d, q));
    emu_channel_send(&d->irq, q, 0, NULL, 0);
  } else {
    d->stats.interrupts_suppressed++;
    EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_INTERRUPT_SUPPRESSED,
                   .queue = vnet_queue_name(q), .idx = vnet_dev_q_used_mark(d, q));
  }
}

/* After a publish. Under a memory model the decision comes a moment later,
 * as on a real device thread, so the driver can look in between. */
static void vnet_dev_interrupt(vnet_dev *d, uint16_t q) {
  if (!d->mem->mm) {
    vnet_dev_interrupt_now(d, q);
    return;
  }
  if (d->q[q].irq_check_queued) return;
  d->q[q].irq_check_queued = 1;
  emu_actor_post(&d->actor, d->actor.sched->now_ns + gmem_mm_gap_ns(d->mem), VNET_DEV_EV_IRQ_CHECK,
                 q, 0, NULL, 0);
}

static int vnet_dev_queue_live(const vnet_dev *d, uint16_t q) {
  return (d->status & VIRTIO_STATUS_DRIVER_OK) && d->q[q].enabled &&
         !(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* §5.1.6.3.1: without mergeable buffers a driver SHOULD post RX buffers of
 * at least 1526 bytes. A SHOULD, and a short buffer still takes short
 * frames, so it is a warning, given once per queue: the frame that will
 * not fit is reported when it comes (rx_buf_too_small). */
static void vnet_dev_check_rx_size(vnet_dev *d, const vq_chain *c) {
  /* With mergeable buffers the header is the only size a MUST sets: that
   * one is checked where the buffer is used (vnet_dev_mrg_take). */
  if (d->mergeable) return;
  uint64_t enough = VNET_HDR_LEN + (uint64_t)d->max_frame - VNET_VLAN_TAG_LEN;
  if (enough < VNET_MIN_RX_BUF) enough = VNET_MIN_RX_BUF;
  if (c->writable_len >= enough || d->rx_short_told) return;
  d->rx_short_told = 1;
  vnet_dev_q_report(d, VNET_RXQ, VQ_RULE_RX_BUF_SHORT, c->head);
}

/* Pops the next RX chain, asking for a kick when there is none (§2.7.10.2)
 * and rechecking once for the race. 0, EMU_EAGAIN or EMU_EPROTO. */
static int vnet_dev_pop_rx(vnet_dev *d, vq_chain *c) {
  int rc = vnet_dev_q_pop(d, VNET_RXQ, c);
  if (rc == EMU_EAGAIN && vnet_dev_q_enable_notify(d, VNET_RXQ))
    rc = vnet_dev_q_pop(d, VNET_RXQ, c);
  if (rc == 0) {
    d->stats.pops[VNET_RXQ]++;
    vnet_dev_check_rx_size(d, c);
  }
  if (rc == EMU_EPROTO) vnet_dev_needs_reset(d, VNET_RXQ, vnet_dev_q_broken(d, VNET_RXQ));
  return rc;
}

/* Writes one frame into the next RX chain and pushes its used element; the
 * caller publishes (vnet_dev_flush_rx). Returns EMU_EAGAIN when no chain is
 * posted (the caller keeps or drops the frame), 0 when the frame got a
 * buffer or a fate. */
static int vnet_dev_write_rx_merged(vnet_dev *d, uint32_t id, const uint8_t *frame, uint32_t len);

static int vnet_dev_write_rx(vnet_dev *d, uint32_t id, const uint8_t *frame, uint32_t len) {
  if (d->mergeable) return vnet_dev_write_rx_merged(d, id, frame, len);
  vq_chain c;
  int rc = vnet_dev_pop_rx(d, &c);
  if (rc == EMU_EAGAIN) return rc;
  if (rc) {
    vnet_dev_fate(d, id, EMU_FATE_DEVICE_BROKEN);
    return 0;
  }
  uint32_t used_len = 0;
  if (c.writable_len < VNET_HDR_LEN + (uint64_t)len) {
    /* §5.1.6.3.1 is the driver's duty and the device's reaction is not
     * defined: give the buffer back empty, so a driver can recover, and lose
     * only this frame (counted) rather than the whole device. */
    vnet_dev_q_report(d, VNET_RXQ, VQ_RULE_RX_BUF_TOO_SMALL, c.head);
    vnet_dev_fate(d, id, EMU_FATE_RX_BUFFER_TOO_SMALL);
  } else {
    uint8_t hdr[VNET_HDR_LEN] = {0};
    /* §5.1.6.4: with VERSION_1, num_buffers is 1 when MRG_RXBUF is off. */
    emu_put_le16(hdr + VNET_HDR_NUM_BUFFERS, 1);
    rc = vq_chain_copy_to(d->mem, &c, 0, hdr, sizeof hdr);
    if (!rc) rc = vq_chain_copy_to(d->mem, &c, VNET_HDR_LEN, frame, len);
    if (rc) {
      vnet_dev_fate(d, id, EMU_FATE_DEVICE_BROKEN);
    } else {
      used_len = VNET_HDR_LEN + len;
      d->stats.rx_frames++;
      d->stats.rx_bytes += len;
    }
  }
  if (vnet_dev_q_push(d, VNET_RXQ, c.head, used_len) == 0 && used_len && d->fates)
    emu_fates_in_buffer(d->fates, c.head, id, d->actor.sched->now_ns, "device");
  return 0;
}

/* --- mergeable RX buffers (§5.1.6.4) --------------------------------------
 * A frame takes buffers until they hold the header and the frame; all but
 * the last are filled to their end, num_buffers in the first one's header
 * counts them, and all are pushed before the one publish that shows them
 * (§5.1.6.4.1: used together). Buffers popped for a frame the ring cannot
 * hold yet stay with the device for the next try, as a device may hold
 * buffers as long as it likes: giving them back empty would cost the
 * driver a round trip for nothing. */

/* Keeps popped chain c for the frame being gathered. */
static int vnet_dev_mrg_keep(vnet_dev *d, const vq_chain *c) {
  struct vnet_dev_mrg *m = &d->mrg;
  struct vnet_dev_rx_part *part =
      emu_grow(m->part, &m->part_cap, (size_t)m->nparts + 1, sizeof *part, 8);
  if (!part) return EMU_ENOMEM;
  m->part = part;
  vq_seg *seg = emu_grow(m->seg, &m->seg_cap, (size_t)m->nseg + c->nseg, sizeof *seg, 16);
  if (!seg) return EMU_ENOMEM;
  m->seg = seg;
  memcpy(seg + m->nseg, c->seg, sizeof *seg * c->nseg);
  part[m->nparts++] = (struct vnet_dev_rx_part){c->head, m->nseg, c->nseg, c->writable_len};
  m->nseg += c->nseg;
  m->room += c->writable_len;
  return 0;
}

/* Kept part i as a chain (its segments are the device's copies). */
static vq_chain vnet_dev_mrg_part(const vnet_dev *d, uint32_t i) {
  const struct vnet_dev_rx_part *p = &d->mrg.part[i];
  return (vq_chain){p->head, 0, p->nseg, d->mrg.seg + p->seg_first, 0, p->room};
}

/* Forgets the kept buffers (pushed, given back, or gone with their ring). */
static void vnet_dev_mrg_forget(vnet_dev *d) {
  d->mrg.nparts = d->mrg.nseg = 0;
  d->mrg.room = 0;
}

/* Gives every kept buffer back unused (len 0) and forgets them. */
static void vnet_dev_mrg_return(vnet_dev *d) {
  for (uint32_t i = 0; i < d->mrg.nparts; i++) vnet_dev_q_push(d, VNET_RXQ, d->mrg.part[i].head, 0);
  vnet_dev_mrg_forget(d);
}

/* Pops buffers until the kept ones hold `need` bytes. 0 when they do;
 * EMU_EAGAIN when the ring has no more now (the kept ones wait); EMU_ERANGE
 * when every buffer of the ring is kept and still too small; EMU_EPROTO or
 * EMU_ENOMEM when the device cannot go on. */
static int vnet_dev_mrg_take(vnet_dev *d, uint64_t need) {
  while (d->mrg.room < need) {
    if (d->mrg.nparts >= d->q[VNET_RXQ].layout.size) return EMU_ERANGE;
    vq_chain c;
    int rc = vnet_dev_pop_rx(d, &c);
    if (rc) return rc;
    if (c.writable_len < VNET_MRG_MIN_RX_BUF) {
      /* §5.1.6.3.1: a MUST the driver broke; the buffer goes back unused */
      vnet_dev_q_report(d, VNET_RXQ, VQ_RULE_MRG_BUF_TOO_SMALL, c.head);
      vnet_dev_q_push(d, VNET_RXQ, c.head, 0);
      continue;
    }
    rc = vnet_dev_mrg_keep(d, &c);
    if (rc) {
      vnet_dev_q_push(d, VNET_RXQ, c.head, 0);
      return rc;
    }
  }
  return 0;
}

/* Writes header and frame, as one stream of bytes, across the kept buffers
 * and pushes each with the bytes it got. */
static int vnet_dev_mrg_fill(vnet_dev *d, const uint8_t *hdr, const uint8_t *frame, uint32_t len) {
  uint64_t at = 0, total = VNET_HDR_LEN + (uint64_t)len;
  for (uint32_t i = 0; i < d->mrg.nparts; i++) {
    vq_chain c = vnet_dev_mrg_part(d, i);
    uint64_t n = total - at < c.writable_len ? total - at : c.writable_len;
    uint64_t off = 0;
    int rc = 0;
    if (at < VNET_HDR_LEN) { /* the header: in the first buffer, which holds it whole */
      rc = vq_chain_copy_to(d->mem, &c, 0, hdr, VNET_HDR_LEN);
      off = VNET_HDR_LEN;
    }
    if (!rc && n > off)
      rc = vq_chain_copy_to(d->mem, &c, off, frame + (at + off - VNET_HDR_LEN), (size_t)(n - off));
    if (rc) return rc;
    vnet_dev_q_push(d, VNET_RXQ, c.head, (uint32_t)n);
    at += n;
  }
  return 0;
}

static int vnet_dev_write_rx_merged(vnet_dev *d, uint32_t id, const uint8_t *frame, uint32_t len) {
  int rc = vnet_dev_mrg_take(d, VNET_HDR_LEN + (uint64_t)len);
  if (rc == EMU_EAGAIN) return rc;
  if (rc == EMU_ERANGE) {
    /* The whole ring cannot hold it: §5.1.4.2 asks the driver for room for
     * an mtu-sized frame; this frame alone is lost, the buffers come back. */
    vnet_dev_q_report(d, VNET_RXQ, VQ_RULE_RX_BUF_TOO_SMALL, d->mrg.part[0].head);
    vnet_dev_fate(d, id, EMU_FATE_RX_BUFFER_TOO_SMALL);
    vnet_dev_mrg_return(d);
    return 0;
  }
  if (rc) {
    vnet_dev_fate(d, id, rc == EMU_ENOMEM ? EMU_FATE_NO_MEMORY : EMU_FATE_DEVICE_BROKEN);
    return 0;
  }
  uint8_t hdr[VNET_HDR_LEN] = {0};
  uint32_t used = d->mrg.nparts;
  int miscount = (d->cfg.bugs & VBUG_DEV_MRG_NUM_BUFFERS_ONE) != 0;
  emu_put_le16(hdr + VNET_HDR_NUM_BUFFERS, (uint16_t)(miscount ? 1 : used));
  uint16_t first = d->mrg.part[0].head;
  if (vnet_dev_mrg_fill(d, hdr, frame, len)) {
    vnet_dev_fate(d, id, EMU_FATE_DEVICE_BROKEN);
    vnet_dev_mrg_return(d);
    return 0;
  }
  vnet_dev_mrg_forget(d);
  d->stats.rx_frames++;
  d->stats.rx_bytes += len;
  d->stats.rx_merged += used > 1;
  if (d->fates) emu_fates_in_buffer(d->fates, first, id, d->actor.sched->now_ns, "device");
  return 0;
}

/* Makes what was pushed visible and decides on one interrupt for all of it. */
static void vnet_dev_flush_rx(vnet_dev *d) {
  if (!d->q[VNET_RXQ].unflushed) return;
  vnet_dev_q_publish(d, VNET_RXQ);
  vnet_dev_interrupt(d, VNET_RXQ);
}

/* --- the RX backlog: frames waiting for a buffer, cfg.rx_backlog at most -- */

static int vnet_dev_backlog_push(vnet_dev *d, uint32_t id, const uint8_t *frame, uint32_t len) {
  int rc = emu_frameq_push(&d->backlog, id, frame, len);
  if (rc) return rc;
  d->stats.rx_backlogged++;
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_BACKLOGGED, .queue = "rx",
                 .idx = d->backlog.len, .len = len, .frame = id);
  return 0;
}

/* Empties the backlog oldest first. With fate EMU_FATE_PENDING each frame
 * goes into the next posted RX buffer, stopping at the first that finds
 * none; any other fate is given to every waiting frame. */
static void vnet_dev_backlog_drain(vnet_dev *d, emu_fate fate) {
  while (d->backlog.len) {
    const emu_frame *f = emu_frameq_front(&d->backlog);
    if (fate != EMU_FATE_PENDING)
      vnet_dev_fate(d, (uint32_t)f->id, fate);
    else if (vnet_dev_write_rx(d, (uint32_t)f->id, f->data, f->len) == EMU_EAGAIN)
      break;
    emu_frameq_pop(&d->backlog);
  }
}

/* Moves waiting frames into newly posted buffers, publishing them as one
 * batch, as a device flushing its queue does. */
static void vnet_dev_drain_backlog(vnet_dev *d) {
  vnet_dev_backlog_drain(d, EMU_FATE_PENDING);
  vnet_dev_flush_rx(d);
}

void vnet_dev_rx_frame(vnet_dev *d, uint32_t id, const uint8_t *frame, size_t len) {
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_FRAME_IN, .len = (int64_t)len,
                 .frame = id);
  if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
    vnet_dev_fate(d, id, EMU_FATE_DEVICE_BROKEN);
    return;
  }
  if (!vnet_dev_queue_live(d, VNET_RXQ)) {
    vnet_dev_fate(d, id, EMU_FATE_DEVICE_NOT_READY);
    return;
  }
  if (!d->cfg.link_up) {
    vnet_dev_fate(d, id, EMU_FATE_LINK_DOWN);
    return;
  }
  if (len == 0 || len > d->max_frame) {
    vnet_dev_fate(d, id, EMU_FATE_FRAME_INVALID);
    return;
  }
  /* Frames keep their order: while older ones wait, a new one waits too. */
  if (d->backlog.len == 0 && vnet_dev_write_rx(d, id, frame, (uint32_t)len) == 0) {
    vnet_dev_flush_rx(d);
    return;
  }
  if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
    vnet_dev_fate(d, id, EMU_FATE_DEVICE_BROKEN);
    return;
  }
  if (vnet_dev_backlog_push(d, id, frame, (uint32_t)len) != 0)
    vnet_dev_fate(d, id, EMU_FATE_RX_NO_BUFFER);
}

/* The ledger id of the frame in TX chain c, entered now when the driver
 * did not enter it (a driver of the user's writing its ring by hand); -1
 * without a TX ledger. The ledger knows a chain by its head (split) or the
 * position of its first descriptor (packed). */
static int64_t vnet_dev_tx_frame(vnet_dev *d, const vq_chain *c) {
  if (!d->tx_fates) return -1;
  uint64_t now = d->actor.sched->now_ns;
  uint16_t slot = d->q[VNET_TXQ].packed ? c->avail_idx : c->head;
  int64_t id = emu_fates_take_buffer(d->tx_fates, slot, now, "device");
  return id >= 0 ? id : emu_fates_enter(d->tx_fates, now);
}

static void vnet_dev_tx_fate(vnet_dev *d, int64_t id, emu_fate fate, uint16_t head) {
  if (id >= 0)
    emu_fates_set(d->tx_fates, (uint32_t)id, fate, d->actor.sched->now_ns, "device", head);
}

/* One popped TX chain: checked (§5.1.6.2: device-readable, header then
 * frame), then handed to the host with its ledger id. A bad one costs only
 * that frame (counted, reported, returned with len 0): one malformed packet
 * should not take the link down. */
static void vnet_dev_tx_one(vnet_dev *d, const vq_chain *c) {
  int64_t id = vnet_dev_tx_frame(d, c);
  uint64_t frame_len = c->readable_len > VNET_HDR_LEN ? c->readable_len - VNET_HDR_LEN : 0;
  int mtu = (d->features & VIRTIO_BIT(VIRTIO_NET_F_MTU)) != 0;
  vq_rule bad = c->writable_len  ? VQ_RULE_TX_CHAIN_WRITABLE
                : frame_len == 0 ? VQ_RULE_TX_FRAME_SHORT
                : frame_len > d->max_frame
                    ? (mtu ? VQ_RULE_TX_FRAME_OVER_MTU : VQ_RULE_TX_FRAME_TOO_LONG)
                    : VQ_RULE_NONE;
  if (bad == VQ_RULE_NONE && vq_chain_copy_from(d->mem, c, 0, d->scratch, (size_t)c->readable_len))
    bad = VQ_RULE_DESC_ADDR_RANGE;
  if (bad != VQ_RULE_NONE) {
    vnet_dev_q_report(d, VNET_TXQ, bad, c->head);
    d->stats.tx_bad_chains++;
    vnet_dev_tx_fate(d, id, EMU_FATE_TX_CHAIN_REJECTED, c->head);
    return;
  }
  if (!d->cfg.link_up) {
    /* as a NIC with its cable out: the frame is taken and goes nowhere */
    vnet_dev_tx_fate(d, id, EMU_FATE_LINK_DOWN, c->head);
    return;
  }
  d->stats.tx_frames++;
  d->stats.tx_bytes += frame_len;
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_FRAME_OUT, .queue = "tx",
                 .head = c->head, .len = (int64_t)frame_len, .frame = id);
  if (emu_channel_send(&d->to_host, 0, id >= 0 ? (uint32_t)id : 0, d->scratch + VNET_HDR_LEN,
                       (size_t)frame_len))
    vnet_dev_tx_fate(d, id, EMU_FATE_NO_MEMORY, c->head);
}

/* Handles up to one batch of TX chains; returns 1 when more are waiting. */
static int vnet_dev_process_tx(vnet_dev *d) {
  uint64_t batch = emu_rng_range(d->actor.sched->rng, d->cfg.batch_min, d->cfg.batch_max);
  /* No kicks while the device is busy on this queue anyway (§2.7.10). */
  vnet_dev_q_disable_notify(d, VNET_TXQ);
  for (uint64_t done = 0; done < batch; done++) {
    vq_chain c;
    int rc = vnet_dev_q_pop(d, VNET_TXQ, &c);
    if (rc == EMU_EAGAIN) break;
    if (rc) {
      vnet_dev_needs_reset(d, VNET_TXQ, vnet_dev_q_broken(d, VNET_TXQ));
      return 0;
    }
    d->stats.pops[VNET_TXQ]++;
    vnet_dev_tx_one(d, &c);
    vnet_dev_q_push(d, VNET_TXQ, c.head, 0);
  }
  vnet_dev_q_publish(d, VNET_TXQ);
  vnet_dev_interrupt(d, VNET_TXQ);
  if (vnet_dev_q_has_avail(d, VNET_TXQ)) return 1;
  /* Going idle: ask for the next kick, and look once more in case the driver
   * published before it could see the request. */
  return vnet_dev_q_enable_notify(d, VNET_TXQ);
}

static void vnet_dev_handle(emu_actor *self, const emu_event *ev) {
  vnet_dev *d = self->ctx;
  switch (ev->kind) {
    case VNET_DEV_EV_FRAME:
      vnet_dev_rx_frame(d, ev->frame_id, ev->data, ev->len);
      break;
    case VNET_DEV_EV_IRQ_CHECK:
      if (ev->arg >= VNET_NUM_QUEUES) break;
      d->q[ev->arg].irq_check_queued = 0;
      vnet_dev_interrupt_now(d, (uint16_t)ev->arg);
      break;
    case VNET_DEV_EV_KICK:
    case VNET_DEV_EV_CONTINUE:
      if (ev->arg >= VNET_NUM_QUEUES) break;
      if (ev->kind == VNET_DEV_EV_KICK) {
        d->stats.kicks[ev->arg]++;
        EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_KICK_RECEIVED,
                       .queue = vnet_queue_name((uint16_t)ev->arg));
      }
      if (!vnet_dev_queue_live(d, (uint16_t)ev->arg)) break;
      if (ev->arg == VNET_RXQ) {
        vnet_dev_drain_backlog(d);
      } else if (vnet_dev_process_tx(d)) {
        /* Yield between batches so other actors' events at this instant run. */
        emu_actor_post(&d->actor, self->sched->now_ns, VNET_DEV_EV_CONTINUE, VNET_TXQ, 0, NULL, 0);
      }
      break;
    default:
      break;
  }
}

void vnet_dev_set_tx_ledger(vnet_dev *d, emu_fates *tx) { d->tx_fates = tx; }

void vnet_dev_set_link(vnet_dev *d, int up) {
  if (d->cfg.link_up == (up != 0)) return;
  d->cfg.link_up = up != 0;
  /* §5.1.4: status is in the config space only with VIRTIO_NET_F_STATUS */
  if (d->features & VIRTIO_BIT(VIRTIO_NET_F_STATUS)) vnet_dev_config_notify(d);
}

/* --- transport: what the driver can reach ------------------------------- */

static uint64_t vnet_dev_t_features(void *dev) { return ((vnet_dev *)dev)->cfg.features; }

static int vnet_dev_t_set_features(void *dev, uint64_t features) {
  vnet_dev *d = dev;
  /* §3.1.1: features are written after DRIVER and before FEATURES_OK. */
  if (!(d->status & VIRTIO_STATUS_DRIVER) || (d->status & VIRTIO_STATUS_FEATURES_OK))
    return EMU_ESTATE;
  d->driver_features = features;
  return 0;
}

static uint8_t vnet_dev_t_get_status(void *dev) { return ((vnet_dev *)dev)->status; }

/* §2.1.1: a reset returns the device to its initial state; frames it held
 * for the old driver's rings go with them. */
static void vnet_dev_reset(vnet_dev *d) {
  vnet_dev_backlog_drain(d, EMU_FATE_DEVICE_NOT_READY);
  for (uint16_t q = 0; q < VNET_NUM_QUEUES; q++) {
    if (d->q[q].enabled) vnet_dev_q_close(d, q);
    memset(&d->q[q], 0, sizeof d->q[q]);
  }
  d->status = 0;
  d->driver_features = d->features = 0;
  d->violation = VQ_RULE_NONE;
  vnet_dev_mrg_forget(d);
  d->mergeable = 0;
  d->max_frame = VNET_MAX_FRAME;
}

/* FEATURES_OK accepted: what the negotiated features change. */
static void vnet_dev_take_features(vnet_dev *d) {
  d->features = d->driver_features;
  d->mergeable = (d->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)) != 0;
  /* §5.1.4.1: no received frame above mtu; §5.1.4.1 again: transmitted ones
   * up to it are forwarded */
  if (d->features & VIRTIO_BIT(VIRTIO_NET_F_MTU)) d->max_frame = VNET_FRAME_MAX_FOR(d->cfg.mtu);
}

static int vnet_dev_t_set_status(void *dev, uint8_t status) {
  vnet_dev *d = dev;
  EMU_TRACE_EMIT(d->trace, .actor = "device", .kind = EMU_TR_STATUS, .idx = status);
  if (status == 0) {
    vnet_dev_reset(d);
    return 0;
  }
  uint8_t added = (uint8_t)(status & ~d->status);
  if (status & ~d->status &
      ~(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
        VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED))
    return EMU_EINVAL;
  if ((d->status & ~status) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET)
    return EMU_ESTATE; /* bits are only cleared by a reset (§2.1) */
  if (added & VIRTIO_STATUS_FEATURES_OK) {
    /* §3.1.1 step 5-6: refuse features we did not offer, or a modern device
     * driven without VERSION_1; the driver sees FEATURES_OK unset. */
    if ((d->driver_features & ~d->cfg.features) ||
        !(d->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
      if (d->driver_features & ~d->cfg.features)
        vq_trace_rule(d->trace, "device", NULL, VQ_RULE_FEATURE_NOT_OFFERED, -1);
      status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    } else {
      vnet_dev_take_features(d);
    }
  }
  if ((added & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK)) return EMU_ESTATE;
  d->status = (uint8_t)(status | (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
  return 0;
}

static int vnet_dev_t_read_config(void *dev, uint32_t off, void *buf, uint32_t len) {
  vnet_dev *d = dev;
  uint8_t cfg[VNET_CFG_SIZE] = {0};
  memcpy(cfg + VNET_CFG_MAC, d->cfg.mac, VNET_MAC_LEN);
  emu_put_le16(cfg + VNET_CFG_STATUS, d->cfg.link_up ? VIRTIO_NET_S_LINK_UP : 0);
  emu_put_le16(cfg + VNET_CFG_MTU, d->cfg.mtu);
  if (off > sizeof cfg || len > sizeof cfg - off) return EMU_ERANGE;
  memcpy(buf, cfg + off, len);
  return 0;
}

static uint16_t vnet_dev_t_queue_max(void *dev, uint16_t q) {
  return q < VNET_NUM_QUEUES ? ((vnet_dev *)dev)->cfg.max_queue_size : 0;
}

/* VBUG_DEV_USED_EVENT_EQUAL (lkl's virtio before its fix): interrupt only
 * when used_event is the last index pushed, so a batch that moves used.idx
 * across used_event without stopping on it raises none (§2.7.7.2 asks for
 * the crossing test of vq_need_event()). */
static int vnet_dev_used_event_equal(uint16_t used_event, uint16_t new_idx, uint16_t old_idx) {
  (void)old_idx;
  return used_event == (uint16_t)(new_idx - 1);
}

static int vnet_dev_t_queue_setup(void *dev, uint16_t q, const vq_layout *layout) {
  vnet_dev *d = dev;
  if (q >= VNET_NUM_QUEUES) return EMU_EINVAL;
  /* §4.1.4.3.2 (and the MMIO equivalent): queues are configured before DRIVER_OK. */
  if (d->status & VIRTIO_STATUS_DRIVER_OK) {
    vq_trace_rule(d->trace, "device", vnet_queue_name(q), VQ_RULE_QUEUE_AFTER_DRIVER_OK, -1);
    return EMU_ESTATE;
  }
  if (!(d->status & VIRTIO_STATUS_FEATURES_OK) || d->q[q].enabled) return EMU_ESTATE;
  int packed = (d->features & VIRTIO_BIT(VIRTIO_F_RING_PACKED)) != 0;
  /* §2.7: a split queue's size is a power of 2; §2.8.10.1: a packed one's
   * need not be */
  if (!(packed ? vqp_size_valid(layout->size) : vq_size_valid(layout->size)) ||
      layout->size > d->cfg.max_queue_size) {
    vq_trace_rule(d->trace, "device", vnet_queue_name(q), VQ_RULE_QUEUE_SIZE_INVALID, -1);
    return EMU_EINVAL;
  }
  int event_idx = (d->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
  int indirect = (d->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) != 0;
  struct vnet_dev_queue *dq = &d->q[q];
  /* packed: the transport's three addresses are the ring and the driver's
   * and the device's event suppression areas (as virtio-pci's queue_desc,
   * queue_driver, queue_device) */
  vqp_layout pl = {layout->size, layout->desc, layout->avail, layout->used};
  int rc = packed ? vqp_dev_init(&dq->pvq, d->mem, &pl, event_idx, indirect)
                  : vq_dev_init(&dq->vq, d->mem, layout, event_idx, indirect);
  dq->packed = packed;
  if (rc == EMU_EPROTO) /* a ring the device refuses: say which rule, then refuse */
    vq_trace_rule(d->trace, "device", vnet_queue_name(q), vnet_dev_q_broken(d, q), -1);
  if (rc) {
    vnet_dev_q_close(d, q);
    return rc;
  }
  if (packed) {
    dq->pvq.trace = d->trace;
    dq->pvq.name = vnet_queue_name(q);
    if (d->cfg.bugs & VBUG_DEV_PACKED_WRAP_EXACT) dq->pvq.bugs |= VQP_BUG_WRAP_EXACT;
    if (d->cfg.bugs & VBUG_DEV_PACKED_ID_FIRST) dq->pvq.bugs |= VQP_BUG_ID_FIRST;
    dq->pvq.omit_barriers =
        vbug_omitted_barriers(VBUG_SIDE_DEVICE, d->cfg.bugs & VBUG_DEV_PACKED_ONLY);
  } else {
    vq_dev_set_trace(&dq->vq, d->trace, "device", vnet_queue_name(q));
    if (d->cfg.bugs & VBUG_DEV_USED_EVENT_EQUAL) dq->vq.need_event = vnet_dev_used_event_equal;
    dq->vq.omit_barriers = vbug_omitted_barriers(VBUG_SIDE_DEVICE, d->cfg.bugs);
  }
  dq->layout = *layout;
  dq->enabled = 1;
  return 0;
}

static void vnet_dev_t_notify(void *dev, uint16_t q) {
  vnet_dev *d = dev;
  /* §3.1.1: no notification before DRIVER_OK. The device sees the write
   * when it is made (the transport's register), and says so then. */
  if (!(d->status & VIRTIO_STATUS_DRIVER_OK))
    vq_trace_rule(d->trace, "device", q < VNET_NUM_QUEUES ? vnet_queue_name(q) : NULL,
                  VQ_RULE_KICK_BEFORE_DRIVER_OK, -1);
  emu_channel_send(&d->kick, q, 0, NULL, 0);
}

int vnet_dev_init(vnet_dev *d, const vnet_dev_config *cfg, gmem *mem, emu_sched *s,
                  emu_fates *fates, emu_trace *trace) {
  memset(d, 0, sizeof *d);
  if (!vq_size_valid(cfg->max_queue_size) || cfg->batch_min == 0 ||
      cfg->batch_max < cfg->batch_min || (cfg->bugs & ~VBUG_DEVICE_ALL))
    return EMU_EINVAL;
  /* §5.1.4.1: an offered mtu is 68 or more (and here 9000 at most) */
  int offers_mtu = (cfg->features & VIRTIO_BIT(VIRTIO_NET_F_MTU)) != 0;
  if (offers_mtu != (cfg->mtu != 0) ||
      (offers_mtu && (cfg->mtu < VNET_MTU_MIN || cfg->mtu > VNET_MTU_MAX)))
    return EMU_EINVAL;
  d->cfg = *cfg;
  d->max_frame = VNET_MAX_FRAME;
  d->mem = mem;
  d->fates = fates;
  d->trace = trace;
  int rc = emu_frameq_init(&d->backlog, cfg->rx_backlog);
  if (rc) return rc;
  rc = emu_actor_init(&d->actor, s, "device", vnet_dev_handle, d);
  if (rc) {
    vnet_dev_close(d);
    return rc;
  }
  emu_channel_init(&d->kick, &d->actor, VNET_DEV_EV_KICK, cfg->kick_latency);
  d->transport = (virtio_transport){d,
                                    vnet_dev_t_features,
                                    vnet_dev_t_set_features,
                                    vnet_dev_t_get_status,
                                    vnet_dev_t_set_status,
                                    vnet_dev_t_read_config,
                                    vnet_dev_t_queue_max,
                                    vnet_dev_t_queue_setup,
                                    vnet_dev_t_notify};
  return 0;
}

void vnet_dev_close(vnet_dev *d) {
  emu_frameq_close(&d->backlog); /* no fates: the run is over */
  free(d->mrg.part);
  free(d->mrg.seg);
  for (uint16_t q = 0; q < VNET_NUM_QUEUES; q++)
    if (d->q[q].enabled) vnet_dev_q_close(d, q);
  memset(d, 0, sizeof *d);
}

const virtio_transport *vnet_dev_transport(vnet_dev *d) { return &d->transport; }

void vnet_dev_finish(vnet_dev *d) { vnet_dev_backlog_drain(d, EMU_FATE_RX_NO_BUFFER); }

uint32_t vnet_dev_backlog_len(const vnet_dev *d) { return d->backlog.len; }
