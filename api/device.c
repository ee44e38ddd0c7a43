/* Bring your own device: the device-half ring helpers and the calls a user
 * device makes to the rest of the run (interrupt, host, fate ledger). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"

static int vns_is_user_device(const vns_sim *sim) {
  return sim && sim->mode == VNS_MODE_USER_DEVICE;
}

VNS_API int vns_device_config_changed(vns_sim *sim) {
  if (!vns_is_user_device(sim)) return VNS_EINVAL;
  EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_INTERRUPT,
                 .queue = vnet_queue_name(VNET_IRQ_CONFIG));
  return emu_channel_send(&sim->scn->user_irq, VNET_IRQ_CONFIG, 0, NULL, 0);
}

VNS_API int vns_device_interrupt(vns_sim *sim, uint16_t q) {
  if (!vns_is_user_device(sim) || q >= VNET_NUM_QUEUES) return VNS_EINVAL;
  EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_INTERRUPT,
                 .queue = vnet_queue_name(q));
  vns_watch_notified(sim, q);
  return emu_channel_send(&sim->scn->user_irq, q, 0, NULL, 0);
}

/* The TX ledger id of the frame the device sends now: the one in the TX
 * chain it popped last through vns_dvq_pop(), or a new one. */
static int64_t vns_device_tx_frame(vns_sim *sim) {
  for (vns_dvq *dq = sim->dvqs; dq; dq = dq->next)
    if (dq->q == VNET_TXQ && dq->last_frame >= 0) {
      int64_t id = dq->last_frame;
      dq->last_frame = -1;
      return id;
    }
  return emu_fates_enter(&sim->scn->tx_fates, sim->sched->now_ns);
}

VNS_API int vns_device_send(vns_sim *sim, const void *frame, size_t len) {
  if (!vns_is_user_device(sim) || !frame || len == 0) return VNS_EINVAL;
  int64_t id = vns_device_tx_frame(sim);
  if (id < 0) return (int)id;
  EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_FRAME_OUT, .queue = "tx",
                 .len = (int64_t)len, .frame = id);
  int rc = emu_channel_send(&sim->scn->user_to_host, 0, (uint32_t)id, frame, len);
  if (rc)
    emu_fates_set(&sim->scn->tx_fates, (uint32_t)id, EMU_FATE_NO_MEMORY, sim->sched->now_ns,
                  "device", -1);
  return rc;
}

VNS_API int vns_device_frame_placed(vns_sim *sim, uint32_t frame_id, uint16_t head) {
  if (!vns_is_user_device(sim) || frame_id >= sim->fates->nframes || head >= sim->fates->nslots)
    return VNS_EINVAL;
  emu_fates_in_buffer(sim->fates, head, frame_id, sim->sched->now_ns, "device");
  return 0;
}

VNS_API int vns_device_frame_dropped(vns_sim *sim, uint32_t frame_id, const char *fate) {
  if (!vns_is_user_device(sim) || !fate) return VNS_EINVAL;
  int f;
  int rc = vns_fate_lookup(fate, &f);
  if (rc) return rc;
  if (frame_id >= sim->fates->nframes || f == EMU_FATE_PENDING) return VNS_EINVAL;
  return emu_fates_set(sim->fates, frame_id, (emu_fate)f, sim->sched->now_ns, "device", -1);
}

VNS_API int vns_device_timer_at(vns_sim *sim, uint64_t at_ns) {
  if (!vns_is_user_device(sim)) return VNS_EINVAL;
  if (!sim->opts.device->on_timer) return VNS_ENOTSUP;
  return emu_actor_post(&sim->scn->user, at_ns, SCN_USER_EV_TIMER, 0, 0, NULL, 0);
}

/* --- the device half ------------------------------------------------------ */

/* The ring of either format, taken over for flags: EMU_EPROTO when the
 * layout breaks a rule, which vns_dvq_rule() then names. */
static int vns_dvq_init(vns_dvq *dq, vns_sim *sim, uint16_t q, const vns_ring_layout *layout,
                        unsigned flags) {
  int event_idx = (flags & VNS_DVQ_EVENT_IDX) != 0, indirect = (flags & VNS_DVQ_INDIRECT) != 0;
  if (dq->packed) {
    vqp_layout l = {layout->size, layout->desc, layout->avail, layout->used};
    int rc = vqp_dev_init(&dq->pvq, sim->mem, &l, event_idx, indirect);
    dq->pvq.trace = sim->trace;
    dq->pvq.name = vnet_queue_name(q);
    return rc;
  }
  vq_layout l = {layout->size, layout->desc, layout->avail, layout->used};
  int rc = vq_dev_init(&dq->vq, sim->mem, &l, event_idx, indirect);
  vq_dev_set_trace(&dq->vq, sim->trace, "device", vnet_queue_name(q));
  return rc;
}

static void vns_dvq_close(vns_dvq *dq) {
  if (dq->packed)
    vqp_dev_close(&dq->pvq);
  else
    vq_dev_close(&dq->vq);
}

static vq_rule vns_dvq_rule(const vns_dvq *dq) {
  return dq->packed ? dq->pvq.broken : dq->vq.broken;
}

VNS_API int vns_dvq_new(vns_sim *sim, uint16_t q, const vns_ring_layout *layout, unsigned flags,
                        vns_dvq **out) {
  if (!out) return VNS_EINVAL;
  *out = NULL;
  if (!vns_is_user_device(sim) || !layout || q >= VNET_NUM_QUEUES ||
      (flags & ~(VNS_DVQ_EVENT_IDX | VNS_DVQ_INDIRECT | VNS_DVQ_PACKED)))
    return VNS_EINVAL;
  vns_dvq *dq = calloc(1, sizeof *dq);
  if (!dq) return VNS_ENOMEM;
  dq->packed = (flags & VNS_DVQ_PACKED) != 0;
  int rc = vns_dvq_init(dq, sim, q, layout, flags);
  if (rc == VNS_EPROTO) /* the init only records the rule; log it, as the queue's own checks do */
    vq_trace_rule(sim->trace, "device", vnet_queue_name(q), vns_dvq_rule(dq), -1);
  if (rc) {
    vns_dvq_close(dq);
    free(dq);
    return rc;
  }
  dq->sim = sim;
  dq->q = q;
  dq->last_frame = -1;
  dq->next = sim->dvqs;
  sim->dvqs = dq;
  *out = dq;
  return 0;
}

VNS_API void vns_dvq_free(vns_dvq *dq) {
  if (!dq) return;
  for (vns_dvq **p = &dq->sim->dvqs; *p; p = &(*p)->next)
    if (*p == dq) {
      *p = dq->next;
      break;
    }
  vns_dvq_close(dq);
  free(dq);
}

/* A TX chain popped and not sent by the next pop or the end: the device
 * dropped its frame. */
void vns_dvq_tx_unsent(vns_dvq *dq) {
  if (dq->last_frame < 0) return;
  emu_fates_set(&dq->sim->scn->tx_fates, (uint32_t)dq->last_frame, EMU_FATE_TX_CHAIN_REJECTED,
                dq->sim->sched->now_ns, "device", dq->last.head);
  dq->last_frame = -1;
}

VNS_API int vns_dvq_pop(vns_dvq *dq, vns_chain *out) {
  if (!dq || !out) return VNS_EINVAL;
  vq_chain c;
  int rc = dq->packed ? vqp_dev_pop(&dq->pvq, &c) : vq_dev_pop(&dq->vq, &c);
  if (rc) return rc;
  if (dq->q == VNET_TXQ) {
    vns_dvq_tx_unsent(dq);
    emu_fates *tx = &dq->sim->scn->tx_fates;
    uint64_t now = dq->sim->sched->now_ns;
    int64_t id = emu_fates_take_buffer(tx, dq->packed ? c.avail_idx : c.head, now, "device");
    dq->last_frame = id >= 0 ? id : emu_fates_enter(tx, now);
  }
  dq->last = c;
  dq->has_chain = 1;
  *out = (vns_chain){c.head, c.avail_idx, c.nseg, c.readable_len, c.writable_len};
  return 0;
}

VNS_API int vns_dvq_read(const vns_dvq *dq, uint64_t off, void *dst, size_t len) {
  if (!dq || (!dst && len)) return VNS_EINVAL;
  if (!dq->has_chain) return VNS_ESTATE;
  return vq_chain_copy_from(dq->sim->mem, &dq->last, off, dst, len);
}

VNS_API int vns_dvq_write(vns_dvq *dq, uint64_t off, const void *src, size_t len) {
  if (!dq || (!src && len)) return VNS_EINVAL;
  if (!dq->has_chain) return VNS_ESTATE;
  return vq_chain_copy_to(dq->sim->mem, &dq->last, off, src, len);
}

VNS_API int vns_dvq_push(vns_dvq *dq, uint16_t head, uint32_t len) {
  if (!dq) return VNS_EINVAL;
  /* a head not taken or a length past the chain: refused, and logged as
   * the device's violation */
  return dq->packed ? vqp_dev_push(&dq->pvq, head, len) : vq_dev_push(&dq->vq, head, len);
}

VNS_API int vns_dvq_publish(vns_dvq *dq) {
  if (!dq) return VNS_EINVAL;
  /* packed: a push is visible as it is made (§2.8.1); only the decision */
  int rc = dq->packed ? 0 : vq_dev_publish_used(&dq->vq);
  if (!rc) rc = dq->packed ? vqp_dev_need_interrupt(&dq->pvq) : vq_dev_need_interrupt(&dq->vq);
  if (rc == 1) vns_watch_owe(dq->sim, dq->q);
  return rc;
}

VNS_API int vns_dvq_enable_notify(vns_dvq *dq) {
  if (!dq) return VNS_EINVAL;
  return dq->packed ? vqp_dev_enable_notify(&dq->pvq) : vq_dev_enable_notify(&dq->vq);
}

VNS_API void vns_dvq_disable_notify(vns_dvq *dq) {
  if (!dq) return;
  if (dq->packed)
    vqp_dev_disable_notify(&dq->pvq);
  else
    vq_dev_disable_notify(&dq->vq);
}

VNS_API const char *vns_dvq_broken(const vns_dvq *dq) {
  if (!dq || vns_dvq_rule(dq) == VQ_RULE_NONE) return NULL;
  return vq_rule_name(vns_dvq_rule(dq));
}
