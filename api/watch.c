/* What the sim watches of a user half's own stores and calls, for mistakes
 * no ring helper can see: a notification owed and never sent (the driver's
 * kick, §2.7.10.1; the device's interrupt, §2.7.7.2), and a driver that
 * re-offers an RX buffer whose frame it never reported consumed (then every
 * frame would read as lost: said once, as a note).
 *
 * A notification is owed from the index store that asks for it, as the
 * other side's suppression field (flags, or the event index with
 * VIRTIO_F_EVENT_IDX) reads at that moment, and settled by the next
 * notification on that queue; one still owed when the run ends is the
 * violation. */
#include <stdio.h>

#include "api/internal.h"
#include "virtio/vnet.h"

static int vns_watch_event_idx(const vns_sim *sim) {
  uint64_t negotiated =
      sim->mode == VNS_MODE_USER_DRIVER ? sim->dev->driver_features : sim->drv->features;
  return (negotiated & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
}

/* The format the queue was set up in, as the modelled half took it. */
static int vns_watch_packed(const vns_sim *sim, uint16_t q) {
  return sim->mode == VNS_MODE_USER_DRIVER ? sim->dev->q[q].packed : sim->drv->packed;
}

void vns_watch_queue(vns_sim *sim, uint16_t q, const vq_layout *l) {
  /* a packed ring stores no index to watch: its helpers' publish and
   * vns_dvq_publish() still say when a notification is owed */
  if (q >= VNET_NUM_QUEUES || vns_watch_packed(sim, q)) return;
  vns_watch *w = &sim->watch;
  w->ring[q] = *l;
  w->ring_set[q] = 1;
  w->idx_stored[q] = 0;
  w->owed[q] = 0;
}

/* Index old -> new was stored on queue q by the user's half: does the other
 * side want to hear of it? */
static int vns_watch_wanted(const vns_sim *sim, uint16_t q, uint16_t old_idx, uint16_t new_idx) {
  const vq_layout *l = &sim->watch.ring[q];
  int driver = sim->mode == VNS_MODE_USER_DRIVER;
  uint16_t v = 0;
  if (old_idx == new_idx) return 0;
  if (vns_watch_event_idx(sim)) {
    gmem_peek_le16(sim->mem, driver ? vq_avail_event_addr(l) : vq_used_event_addr(l), &v);
    return vq_need_event(v, new_idx, old_idx);
  }
  gmem_peek_le16(sim->mem, driver ? vq_used_flags_addr(l) : vq_avail_flags_addr(l), &v);
  return !(v & (driver ? VQ_USED_F_NO_NOTIFY : VQ_AVAIL_F_NO_INTERRUPT));
}

void vns_watch_reset(vns_sim *sim) {
  /* §2.4: a reset ends what the queues owed each other */
  for (uint16_t q = 0; q < VNET_NUM_QUEUES; q++) sim->watch.ring_set[q] = sim->watch.owed[q] = 0;
}

void vns_watch_owe(vns_sim *sim, uint16_t q) {
  if (q < VNET_NUM_QUEUES) sim->watch.owed[q] = 1;
}

void vns_watch_notified(vns_sim *sim, uint16_t q) {
  if (q < VNET_NUM_QUEUES) sim->watch.owed[q] = 0;
}

/* Says something once, in the sim's notes. */
static void vns_watch_note(vns_sim *sim, unsigned kind, const char *text) {
  vns_watch *w = &sim->watch;
  if ((w->noted & kind) || w->nnotes == VNS_WATCH_MAX_NOTES) return;
  w->noted |= kind;
  snprintf(w->notes[w->nnotes++], sizeof w->notes[0], "%s", text);
}

/* The user's driver offers RX buffer head: the frame the device put in it
 * last time should have been reported before. */
void vns_watch_rx_offer(vns_sim *sim, uint16_t head) {
  if (sim->mode != VNS_MODE_USER_DRIVER || head >= sim->fates->nslots) return;
  if (!emu_fates_holds(sim->fates, head)) return;
  char text[sizeof sim->watch.notes[0]];
  snprintf(text, sizeof text,
           "the driver offered RX head %u again while the frame the device put in it was never "
           "reported read: call vns_driver_rx_consumed() for each used entry read by hand (or "
           "read them with vns_vq_get_used()), or every frame reads as driver_skipped",
           head);
  vns_watch_note(sim, VNS_WATCH_NOTE_RX_UNREPORTED, text);
}

/* The 16-bit fields of queue q the user's half stores to that are watched:
 * the driver's avail.idx (and, on RX, the avail slots right after it), the
 * device's used.idx; [*from, *to). */
static void vns_watch_span(const vns_sim *sim, uint16_t q, uint64_t *from, uint64_t *to) {
  const vq_layout *l = &sim->watch.ring[q];
  int driver = sim->mode == VNS_MODE_USER_DRIVER;
  *from = driver ? vq_avail_idx_addr(l) : vq_used_idx_addr(l);
  *to = driver && q == VNET_RXQ ? vq_avail_slot_addr(l, 0) + 2u * l->size : *from + 2u;
}

/* The user's half stored v at gpa, a watched field of queue q. */
static void vns_watch_field(vns_sim *sim, uint16_t q, uint64_t gpa, uint16_t v) {
  vns_watch *w = &sim->watch;
  uint64_t idx_at, end;
  vns_watch_span(sim, q, &idx_at, &end);
  if (gpa != idx_at) {
    vns_watch_rx_offer(sim, v); /* an RX avail slot */
    return;
  }
  if (vns_watch_wanted(sim, q, w->idx_stored[q], v)) vns_watch_owe(sim, q);
  w->idx_stored[q] = v;
}

void vns_watch_store(vns_sim *sim, uint64_t gpa, const void *src, size_t len) {
  const uint8_t *b = src;
  for (uint16_t q = 0; q < VNET_NUM_QUEUES; q++) {
    if (!sim->watch.ring_set[q]) continue;
    uint64_t from, to;
    vns_watch_span(sim, q, &from, &to);
    /* only the watched fields the write covers whole (they are 2-aligned,
     * §2.7's alignment), each as if stored on its own */
    uint64_t lo = gpa > from ? gpa + (gpa - from) % 2 : from, hi = gpa + len < to ? gpa + len : to;
    for (uint64_t at = lo; at + 2 <= hi; at += 2)
      vns_watch_field(sim, q, at, (uint16_t)(b[at - gpa] | b[at - gpa + 1] << 8));
  }
}

void vns_watch_finish(vns_sim *sim) {
  if (sim->mode == VNS_MODE_MODELLED) return;
  int driver = sim->mode == VNS_MODE_USER_DRIVER;
  for (uint16_t q = 0; q < VNET_NUM_QUEUES; q++)
    if (sim->watch.owed[q])
      vq_trace_rule(sim->trace, driver ? "device" : "driver", vnet_queue_name(q),
                    driver ? VQ_RULE_KICK_MISSING : VQ_RULE_INTERRUPT_MISSING, -1);
}

VNS_API size_t vns_sim_note_count(const vns_sim *sim) { return sim ? sim->watch.nnotes : 0; }

VNS_API const char *vns_sim_note(const vns_sim *sim, size_t i) {
  return sim && i < sim->watch.nnotes ? sim->watch.notes[i] : NULL;
}
