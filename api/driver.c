/* Bring your own driver: the transport onto the modelled device, the
 * driver-half ring helpers, and what the fate ledger needs to know. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"

VNS_API vns_transport *vns_sim_transport(vns_sim *sim) {
  return sim && sim->mode == VNS_MODE_USER_DRIVER ? &sim->transport : NULL;
}

VNS_API uint64_t vns_transport_device_features(vns_transport *t) {
  return t ? t->t->device_features(t->t->dev) : 0;
}

VNS_API int vns_transport_set_driver_features(vns_transport *t, uint64_t features) {
  return t ? t->t->set_driver_features(t->t->dev, features) : VNS_EINVAL;
}

VNS_API uint8_t vns_transport_status(vns_transport *t) {
  return t ? t->t->get_status(t->t->dev) : 0;
}

VNS_API int vns_transport_set_status(vns_transport *t, uint8_t status) {
  if (!t) return VNS_EINVAL;
  int rc = t->t->set_status(t->t->dev, status);
  if (rc == 0 && status == 0) vns_watch_reset(t->sim);
  return rc;
}

VNS_API int vns_transport_read_config(vns_transport *t, uint32_t off, void *buf, uint32_t len) {
  if (!t || (!buf && len)) return VNS_EINVAL;
  return t->t->read_config(t->t->dev, off, buf, len);
}

VNS_API uint16_t vns_transport_queue_max_size(vns_transport *t, uint16_t q) {
  return t ? t->t->queue_max_size(t->t->dev, q) : 0;
}

VNS_API int vns_transport_queue_setup(vns_transport *t, uint16_t q, const vns_ring_layout *layout) {
  if (!t || !layout) return VNS_EINVAL;
  vq_layout l = {layout->size, layout->desc, layout->avail, layout->used};
  int rc = t->t->queue_setup(t->t->dev, q, &l);
  if (rc == 0) vns_watch_queue(t->sim, q, &l);
  return rc;
}

VNS_API int vns_transport_notify(vns_transport *t, uint16_t q) {
  if (!t || q >= VNET_NUM_QUEUES) return VNS_EINVAL;
  /* Traced here, as the modelled driver traces its own kicks, so a user
   * driver's trace reads the same; the index is the driver's to know. */
  EMU_TRACE_EMIT(t->sim->trace, .actor = "driver", .kind = EMU_TR_KICK,
                 .queue = vnet_queue_name(q));
  t->sim->scn->user_kick_ns[q] = t->sim->sched->now_ns;
  vns_watch_notified(t->sim, q);
  t->t->notify(t->t->dev, q);
  return 0;
}

VNS_API int vns_driver_timer_at(vns_sim *sim, uint64_t at_ns) {
  if (!sim) return VNS_EINVAL;
  if (sim->mode != VNS_MODE_USER_DRIVER || !sim->opts.driver->on_timer) return VNS_ENOTSUP;
  return emu_actor_post(&sim->scn->user, at_ns, SCN_USER_EV_TIMER, 0, 0, NULL, 0);
}

VNS_API int vns_driver_rx_consumed(vns_sim *sim, uint16_t head, int accepted) {
  if (!sim) return VNS_EINVAL;
  if (sim->mode != VNS_MODE_USER_DRIVER) return VNS_ENOTSUP;
  if (head >= sim->fates->nslots) return VNS_EINVAL;
  uint64_t now = sim->sched->now_ns;
  /* The ledger also gives every older unread entry its "driver_skipped". */
  int64_t id = emu_fates_take_buffer(sim->fates, head, now, "driver");
  if (id < 0) return VNS_ENOENT;
  emu_fate fate = accepted ? EMU_FATE_DELIVERED : EMU_FATE_DRIVER_REJECTED;
  emu_fates_set(sim->fates, (uint32_t)id, fate, now, "driver", head);
  return 0;
}

VNS_API int vns_driver_tx_queued(vns_sim *sim, uint16_t head) {
  if (!sim) return VNS_EINVAL;
  if (sim->mode != VNS_MODE_USER_DRIVER) return VNS_ENOTSUP;
  emu_fates *tx = &sim->scn->tx_fates;
  if (head >= tx->nslots) return VNS_EINVAL;
  uint64_t now = sim->sched->now_ns;
  int64_t id = emu_fates_enter(tx, now);
  if (id < 0) return (int)id;
  emu_fates_in_buffer(tx, head, (uint32_t)id, now, "driver");
  return 0;
}

/* --- the driver half ------------------------------------------------------ */

/* The ring of either format, set up for flags. */
static int vns_vq_init(vns_vq *vq, vns_sim *sim, uint16_t q, uint16_t size, unsigned flags) {
  int event_idx = (flags & VNS_VQ_EVENT_IDX) != 0, indirect = (flags & VNS_VQ_INDIRECT) != 0;
  if (vq->packed) {
    int rc = vqp_drv_init(&vq->pvq, sim->mem, size, event_idx);
    vq->pvq.trace = sim->trace;
    vq->pvq.name = vnet_queue_name(q);
    return rc;
  }
  int rc =
      vq_drv_init(&vq->vq, sim->mem, size, event_idx, indirect, indirect ? VNS_VQ_INDIRECT_MAX : 0);
  vq_drv_set_trace(&vq->vq, sim->trace, "driver", vnet_queue_name(q));
  return rc;
}

static void vns_vq_close(vns_vq *vq) {
  if (vq->packed)
    vqp_drv_close(&vq->pvq);
  else
    vq_drv_close(&vq->vq);
}

VNS_API int vns_vq_new(vns_sim *sim, uint16_t q, uint16_t size, unsigned flags, vns_vq **out) {
  if (!out) return VNS_EINVAL;
  *out = NULL;
  int packed = (flags & VNS_VQ_PACKED) != 0;
  if (!sim || sim->mode != VNS_MODE_USER_DRIVER || q >= VNET_NUM_QUEUES ||
      (flags & ~(VNS_VQ_EVENT_IDX | VNS_VQ_INDIRECT | VNS_VQ_PACKED)) ||
      (packed && (flags & VNS_VQ_INDIRECT)) ||
      !(packed ? vqp_size_valid(size) : vq_size_valid(size)))
    return VNS_EINVAL;
  vns_vq *vq = calloc(1, sizeof *vq);
  if (!vq) return VNS_ENOMEM;
  vq->packed = packed;
  int rc = vns_vq_init(vq, sim, q, size, flags);
  if (rc) {
    vns_vq_close(vq);
    free(vq);
    return rc;
  }
  vq->sim = sim;
  vq->q = q;
  vq->next = sim->vqs;
  sim->vqs = vq;
  *out = vq;
  return 0;
}

VNS_API void vns_vq_free(vns_vq *vq) {
  if (!vq) return;
  for (vns_vq **p = &vq->sim->vqs; *p; p = &(*p)->next)
    if (*p == vq) {
      *p = vq->next;
      break;
    }
  vns_vq_close(vq);
  free(vq);
}

VNS_API vns_ring_layout vns_vq_layout(const vns_vq *vq) {
  if (!vq) return (vns_ring_layout){0, 0, 0, 0};
  if (vq->packed) {
    const vqp_layout *p = &vq->pvq.layout;
    return (vns_ring_layout){p->size, p->ring, p->driver, p->device};
  }
  const vq_layout *l = &vq->vq.layout;
  return (vns_ring_layout){l->size, l->desc, l->avail, l->used};
}

VNS_API int vns_vq_add(vns_vq *vq, const vns_sg *sg, unsigned n_out, unsigned n_in, void *token) {
  if (!vq || !sg || !token || n_out + n_in == 0 ||
      n_out + n_in > (vq->packed ? vq->pvq.layout.size : vq->vq.layout.size))
    return VNS_EINVAL;
  vq_sg local[16];
  vq_sg *v = n_out + n_in <= 16 ? local : malloc((n_out + n_in) * sizeof *v);
  if (!v) return VNS_ENOMEM;
  for (unsigned i = 0; i < n_out + n_in; i++) v[i] = (vq_sg){sg[i].gpa, sg[i].len};
  uint16_t first_pos = vq->pvq.avail.pos;
  int rc = vq->packed ? vqp_drv_add(&vq->pvq, v, n_out, n_in, token)
                      : vq_drv_add(&vq->vq, v, n_out, n_in, token);
  if (v != local) free(v);
  if (rc >= 0 && vq->q == VNET_RXQ) vns_watch_rx_offer(vq->sim, (uint16_t)rc);
  if (rc >= 0 && vq->q == VNET_TXQ) {
    /* a TX buffer is a frame for the TX ledger, known by its slot */
    int led = vns_driver_tx_queued(vq->sim, vq->packed ? first_pos : (uint16_t)rc);
    if (led) return led;
  }
  return rc;
}

VNS_API int vns_vq_publish(vns_vq *vq) {
  if (!vq) return VNS_EINVAL;
  /* packed: the adds are visible already (§2.8.17); only the decision */
  int rc = vq->packed ? vqp_drv_kick_needed(&vq->pvq) : vq_drv_publish(&vq->vq);
  if (rc == 1) vns_watch_owe(vq->sim, vq->q);
  return rc;
}

/* Whatever the helper read from the RX used ring, the ledger learns. */
static void vns_vq_note_rx(vns_vq *vq, int rc, const vq_used_elem *e) {
  if (vq->q != VNET_RXQ || !e->token) return;
  (void)vns_driver_rx_consumed(vq->sim, e->head, rc == 0 && e->len > VNET_HDR_LEN);
}

static void vns_used_out(const vq_used_elem *e, vns_used *out) {
  *out = (vns_used){e->head, e->len, e->token};
}

VNS_API int vns_vq_get_used(vns_vq *vq, vns_used *out) {
  if (!vq || !out) return VNS_EINVAL;
  vq_used_elem e = {0};
  int rc = vq->packed ? vqp_drv_get_used(&vq->pvq, &e) : vq_drv_get_used(&vq->vq, &e);
  if (rc == VNS_EAGAIN) return rc;
  vns_vq_note_rx(vq, rc, &e);
  vns_used_out(&e, out);
  return rc;
}

VNS_API int vns_vq_take_used_at(vns_vq *vq, uint16_t idx, vns_used *out) {
  if (!vq || !out) return VNS_EINVAL;
  if (vq->packed) return VNS_ENOTSUP;
  vq_used_elem e = {0};
  int rc = vq_drv_take_used_at(&vq->vq, idx, &e);
  vns_vq_note_rx(vq, rc, &e);
  vns_used_out(&e, out);
  return rc;
}

VNS_API uint16_t vns_vq_used_idx(const vns_vq *vq) {
  return vq && !vq->packed ? vq_drv_read_used_idx(&vq->vq) : 0;
}

VNS_API uint16_t vns_vq_last_used(const vns_vq *vq) {
  if (!vq) return 0;
  return vq->packed ? vqp_off_wrap(vq->pvq.used) : vq->vq.last_used_idx;
}

VNS_API void vns_vq_set_last_used(vns_vq *vq, uint16_t idx) {
  if (vq && !vq->packed) vq_drv_set_last_used(&vq->vq, idx);
}

VNS_API void vns_vq_disable_interrupts(vns_vq *vq) {
  if (!vq) return;
  if (vq->packed)
    vqp_drv_disable_interrupts(&vq->pvq);
  else
    vq_drv_disable_interrupts(&vq->vq);
}

VNS_API int vns_vq_enable_interrupts(vns_vq *vq) {
  if (!vq) return VNS_EINVAL;
  return vq->packed ? vqp_drv_enable_interrupts(&vq->pvq) : vq_drv_enable_interrupts(&vq->vq);
}

VNS_API unsigned vns_vq_num_free(const vns_vq *vq) {
  if (!vq) return 0;
  return vq->packed ? vq->pvq.num_free : vq->vq.num_free;
}
