/* The step explanations on a packed ring (virtio 1.2 §2.8): one explainer
 * per step kind, as for the split ring (explain.c), told in the packed
 * ring's terms: positions and wrap counters instead of indices, the AVAIL
 * and USED bits instead of avail.idx and used.idx, the event suppression
 * structures instead of the split ring's event fields. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "teach/internal.h"
#include "virtio/vbug.h"

static const char *teach_pk_side_name[4] = {"driver's next_avail", "driver's next_used",
                                            "device's next_avail", "device's next_used"};

static int teach_dev_bug(const teach_expl *e, unsigned bug) {
  return (e->r->s->dev.cfg.bugs & bug) != 0;
}

static teach_wpos teach_pk_cur(const teach_ring *g, int which) {
  switch (which) {
    case TEACH_PK_DRV_AVAIL:
      return g->drv_next_avail;
    case TEACH_PK_DRV_USED:
      return g->drv_next_used;
    case TEACH_PK_DEV_AVAIL:
      return g->dev_next_avail;
    default:
      return g->dev_next_used;
  }
}

/* "position 3 (wrap 1)" */
static void teach_pk_at(teach_str *t, teach_wpos c) {
  teach_str_add(t, "position %u (wrap %u)", c.pos, c.wrap);
}

/* "AVAIL 1, USED 0" of the descriptor at pos. */
static void teach_pk_bits(teach_str *t, const teach_ring *g, uint16_t pos) {
  uint16_t f = pos < g->size ? g->desc[pos].flags : 0;
  teach_str_add(t, "AVAIL %d, USED %d", teach_pk_avail_bit(f), teach_pk_used_bit(f));
}

/* "positions 2-3" or "position 2" for n descriptors from pos. */
static void teach_pk_span(teach_str *t, int64_t pos, uint32_t n, uint16_t size) {
  if (n <= 1 || !size) {
    teach_str_add(t, "position %" PRId64, pos);
    return;
  }
  teach_str_add(t, "positions %" PRId64 "-%" PRId64, pos, (pos + n - 1) % size);
}

static const char *teach_pk_event_flags(uint16_t flags) {
  switch (flags & VQP_EVENT_FLAGS_MASK) {
    case VQP_EVENT_ENABLE:
      return "ENABLE";
    case VQP_EVENT_DISABLE:
      return "DISABLE";
    case VQP_EVENT_DESC:
      return "DESC";
    default:
      return "reserved (3)";
  }
}

/* A wrap counter that flipped during the step, at length the first time
 * on this queue, or one that should have and did not (a bug's moment). */
static void teach_pk_flips(teach_expl *e, int q) {
  const teach_ring *g = &e->st->ring[q];
  if (!g->size || !g->packed) return;
  static const char *const what[4] = {"making the last descriptor of the ring available",
                                      "reading the used descriptor that ends the ring",
                                      "taking the last descriptor of the ring",
                                      "marking the last descriptor of the ring used"};
  for (int k = 0; k < 4; k++) {
    teach_wpos was = e->f->pk_before[q][k], now = teach_pk_cur(g, k);
    if (was.wrap == now.wrap) continue;
    int first = !e->r->pk_flip_told[q][k];
    e->r->pk_flip_told[q][k] = 1;
    teach_str_add(
        &e->t, " Wrap-around: the %s on %s goes from position %u (wrap %u) to %u (wrap %u)",
        teach_pk_side_name[k], vnet_queue_name((uint16_t)q), was.pos, was.wrap, now.pos, now.wrap);
    if (first)
      teach_str_add(&e->t,
                    ": %s flips its wrap counter from %u to %u (§2.8.1), so from now on %s "
                    "AVAIL %u, USED %u.",
                    what[k], was.wrap, now.wrap,
                    k == TEACH_PK_DRV_AVAIL   ? "it makes descriptors available with"
                    : k == TEACH_PK_DEV_USED  ? "it marks descriptors used with"
                    : k == TEACH_PK_DEV_AVAIL ? "it takes as available a descriptor with"
                                              : "it takes as used a descriptor with",
                    now.wrap,
                    k == TEACH_PK_DRV_AVAIL || k == TEACH_PK_DEV_AVAIL ? !now.wrap : now.wrap);
    else
      teach_str_add(&e->t, ", its wrap counter flipped again (§2.8.1).");
  }
}

/* Where the queue lives in guest memory, the first time it is used. */
static void teach_pk_setup_note(teach_expl *e) {
  teach_rec *r = e->r;
  const vqp_layout *l = &teach_pdrv_q(r->s, e->q)->layout;
  if (r->setup_told[e->q] || !l->size) return;
  r->setup_told[e->q] = 1;
  teach_str_add(&e->t,
                " Where the %s queue lives in guest memory: the descriptor ring at 0x%" PRIx64
                ", %u x struct pvirtq_desc { le64 addr; le32 len; le16 id; le16 flags; } (16 "
                "bytes each, 16-aligned, §2.8.13, §2.8.10.1); the driver event suppression "
                "structure at 0x%" PRIx64 " and the device's at 0x%" PRIx64
                ", each a struct pvirtq_event_suppress { le16 desc; le16 flags; } (4 bytes, "
                "4-aligned, §2.8.14). Both sides write the ring; each writes only its own "
                "event suppression structure (§2.8).",
                vnet_queue_name((uint16_t)e->q), l->ring, l->size, l->driver, l->device);
}

static void teach_pk_status(teach_expl *e) {
  uint8_t b = e->f->status;
  teach_str *t = &e->t;
  if (!(b & VIRTIO_STATUS_DRIVER_OK) && (b & VIRTIO_STATUS_FEATURES_OK)) {
    teach_title(e, "Features negotiated; status FEATURES_OK (%u)", b);
    teach_str_add(t,
                  "The driver read the device's feature bits, kept the ones it "
                  "understands and wrote them back: ");
    teach_features(t, e->f->features);
    teach_str_add(t,
                  ". FEATURES_OK asks the device to accept exactly these. RING_PACKED "
                  "chooses the packed layout (§2.8): one descriptor ring that both sides "
                  "write, instead of a descriptor table and two rings. %s "
                  "§3.1.1 steps 4-6, §2.2. Next the driver allocates each queue's descriptor "
                  "ring and its two event suppression structures in guest memory and gives "
                  "the device their addresses (§3.1.1 step 7, §2.8.10.1).",
                  e->f->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
                      ? "EVENT_IDX lets each side ask for a notification at one descriptor "
                        "position and wrap (§2.8.10)."
                      : "Without EVENT_IDX each side can only turn the other's notifications "
                        "on or off (ENABLE, DISABLE), never ask for one descriptor (DESC, "
                        "§2.8.10).");
    teach_mrg_features(e);
  } else if (b & VIRTIO_STATUS_DRIVER_OK) {
    teach_title(e, "Status DRIVER_OK (%u): the device is live", b);
    teach_str_add(t,
                  "Set-up is done and the device may use its queues. The RX buffers "
                  "are already available: their flags say so (%u of them), and on a packed "
                  "ring nothing else has to be stored (§2.8.21.1). §3.1.1 step 8.",
                  e->g->count[TEACH_OWN_AVAIL]);
  } else {
    teach_explain_status(e);
  }
}

/* The kick decision after making buffers available (§2.8.21.2). */
static void teach_pk_kick(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_ring *g = e->g;
  teach_str *t = &e->t;
  if (!f->kicks[q] && !f->kicks_supp[q]) {
    if (q == (int)VNET_TXQ && teach_expl_bug(e, VBUG_TX_NO_KICK)) {
      teach_str_add(t,
                    " And then nothing: it never reads the device event suppression "
                    "structure and never notifies the TX queue. The device, asleep, will not "
                    "see this frame (bug tx-no-kick; §2.8.21 says to notify unless "
                    "notifications are suppressed).");
      e->st->wrong = 1;
    } else if (f->post[q].n) {
      teach_str_add(t, " Whether to notify, it decides once it has made them all available.");
    }
    return;
  }
  teach_wpos from = f->pk_kick_from[q], to = g->drv_next_avail;
  uint16_t ev = g->dev_event_desc;
  teach_str_add(t,
                " After a full barrier (§2.8.21.3.1) it reads the device event suppression "
                "structure: flags %s",
                teach_pk_event_flags(g->dev_event_flags));
  if ((g->dev_event_flags & VQP_EVENT_FLAGS_MASK) == VQP_EVENT_DESC && e->event_idx) {
    teach_str_add(t,
                  ", off_wrap = position %u (wrap %u): notify me when that descriptor is "
                  "made available. The descriptors made available since the last decision "
                  "run from ",
                  ev & 0x7fffu, ev >> VQP_EVENT_WRAP_BIT);
    teach_pk_at(t, from);
    teach_str_add(t, " up to ");
    teach_pk_at(t, to);
    teach_str_add(t, f->kicks[q] ? " and include it, so the driver kicks: an available buffer "
                                   "notification (§2.8.10, §2.8.21.2)."
                                 : " and do not include it: the device is still working "
                                   "through the ring and will find them by itself, so no "
                                   "kick (§2.8.10).");
  } else if (f->kicks[q]) {
    teach_str_add(t,
                  ": the device wants every notification, so the driver kicks: an available "
                  "buffer notification (§2.8.10, §2.8.21.2).");
  } else {
    teach_str_add(t, ": the device asked for no notifications, so no kick (§2.8.10).");
  }
}

/* The driver's wrap counter should have flipped and did not. */
static void teach_pk_no_toggle(teach_expl *e, const teach_span *sp) {
  const teach_ring *g = e->g;
  teach_wpos was = e->f->pk_before[e->q][TEACH_PK_DRV_AVAIL];
  /* back at or before where it started: it went past the end */
  int passed = sp->n && g->drv_next_avail.pos <= was.pos;
  if (!teach_expl_bug(e, VBUG_PACKED_NO_WRAP_TOGGLE) || !passed ||
      g->drv_next_avail.wrap != was.wrap)
    return;
  teach_str_add(&e->t,
                " But its next_avail went past the end of the ring and its wrap counter stayed "
                "%u (bug drv-packed-no-wrap-toggle): on the next lap it will mark descriptors "
                "AVAIL %u, USED %u, which the device, whose counter will have flipped, reads as "
                "not available (§2.8.1).",
                was.wrap, was.wrap, !was.wrap);
  e->st->wrong = 1;
}

/* A TX chain: the header and the frame (§2.8.6, §2.8.17). */
static void teach_pk_tx_post(teach_expl *e, const teach_span *sp) {
  teach_str *t = &e->t;
  teach_title(e, "The guest sends a frame: the driver makes a TX chain available%s",
              e->f->kicks[e->q]        ? " and kicks"
              : e->f->kicks_supp[e->q] ? "; no kick needed"
                                       : "");
  if (teach_expl_bug(e, VBUG_LEGACY_HDR)) e->st->wrong = 1;
  teach_str_add(t,
                "The driver writes the 12-byte header and the frame as a chain of %u "
                "device-readable descriptors at ",
                sp->len_last);
  teach_pk_span(t, sp->idx_last, sp->len_last, e->size);
  teach_str_add(t,
                ": every one but the last carries NEXT, and the last the buffer id %" PRId64
                " (§2.8.6). It stores the first one's flags last, after a write barrier, so "
                "the device never sees half a chain (§2.8.17, §2.8.21.1.1).",
                sp->head_last);
  if (teach_expl_bug(e, VBUG_LEGACY_HDR))
    teach_str_add(t,
                  " But its header is the 10-byte legacy one (bug legacy-hdr-10): the "
                  "device, which negotiated VERSION_1, reads 12 bytes of header and "
                  "loses the frame's first 2 bytes (§5.1.6).");
  if (teach_expl_bug(e, VBUG_TX_NO_RECLAIM) && e->g->count[TEACH_OWN_USED]) {
    teach_str_add(t,
                  " Before this send it should have taken back the used TX buffers: %u "
                  "descriptor%s at its next_used position on are used; it never does (bug "
                  "tx-no-reclaim, §2.8.22), so the TX ring only fills.",
                  e->g->count[TEACH_OWN_USED], e->g->count[TEACH_OWN_USED] == 1 ? "" : "s");
    e->st->wrong = 1;
  }
}

/* The driver makes buffers available, then kicks or not (§2.8.21). */
static void teach_pk_publish(teach_expl *e) {
  const teach_span *sp = &e->f->post[e->q];
  teach_str *t = &e->t;
  uint8_t w = e->f->pk_before[e->q][TEACH_PK_DRV_AVAIL].wrap;
  const char *kick = e->f->kicks[e->q] ? " and kicks" : e->f->kicks_supp[e->q] ? "; no kick" : "";
  if (!sp->n) {
    teach_title(e, "The driver decides whether to notify the device of the %s queue%s",
                vnet_queue_name((uint16_t)e->q), kick);
    teach_str_add(t, "Its next_avail is ");
    teach_pk_at(t, e->g->drv_next_avail);
    teach_str_add(t,
                  "; nothing new since, but the decision covers what it made available "
                  "before (§2.8.21).");
  } else if (e->q == (int)VNET_TXQ) {
    teach_pk_tx_post(e, sp);
  } else if (e->f->reposts) {
    teach_title(e, "The driver makes RX buffer id %" PRId64 " available again%s", sp->head_last,
                kick);
    teach_str_add(t,
                  "Having read %s out of it, the driver offers the same buffer again, "
                  "at its next_avail ",
                  teach_mrg_on(e) ? "its part of the frame" : "the frame");
    teach_pk_span(t, sp->idx_last, 1, e->size);
    teach_str_add(t, ": address, length and id, then flags W, ");
    teach_pk_bits(t, e->g, (uint16_t)sp->idx_last);
    teach_str_add(t, " (its wrap counter was %u; §2.8.1, §2.8.21.1).", w);
  } else {
    teach_title(e, "The driver makes %u RX buffer%s available%s", sp->n, sp->n == 1 ? "" : "s",
                kick);
    teach_str_add(t,
                  "For each buffer the driver writes the descriptor at its next_avail "
                  "position: the buffer's address, length and id, then flags W "
                  "(device-writable) with AVAIL %u, equal to its wrap counter, and USED %u, its "
                  "inverse (§2.8.1, §2.8.21.1): ids %" PRId64 "-%" PRId64 " at ",
                  w, !w, sp->head_first, sp->head_last);
    teach_pk_span(t, sp->idx_first, sp->n, e->size);
    if (teach_mrg_on(e))
      teach_str_add(t,
                    ". Each has %u bytes: with MRG_RXBUF a buffer need only hold the 12-byte "
                    "virtio_net_hdr (§5.1.6.3.1), and a larger frame spreads over several "
                    "(§5.1.6.4). ",
                    e->r->s->drv.rx_buf_len);
    else
      teach_str_add(t,
                    ". Each holds the 12-byte virtio_net_hdr and a 1514-byte frame (§5.1.6.3). ");
    teach_str_add(t,
                  "Storing the flags is what makes a descriptor available: there is no index "
                  "to publish, and a write barrier before each flags store makes sure the "
                  "device sees address, length and id first (§2.8.21.1.1).");
  }
  teach_pk_no_toggle(e, sp);
  teach_pk_kick(e);
  teach_pk_setup_note(e);
}

/* The device's test at its next_avail: available or not (§2.8.1). */
static void teach_pk_avail_test(teach_str *t, const teach_ring *g, teach_wpos c) {
  uint16_t f = c.pos < g->size ? g->desc[c.pos].flags : 0;
  int ok = teach_pk_avail_bit(f) == c.wrap && teach_pk_used_bit(f) != c.wrap;
  teach_str_add(t, "at position %u the flags say ", c.pos);
  teach_pk_bits(t, g, c.pos);
  teach_str_add(t, " and the device's wrap counter is %u: %s (§2.8.1)", c.wrap,
                ok ? "available, AVAIL equal to it and USED not" : "not available");
}

/* With dev-packed-wrap-exact: a chain as long as the ring left the
 * device's counter where it was. */
static void teach_pk_wrap_exact(teach_expl *e, const teach_span *sp) {
  teach_wpos was = e->f->pk_before[e->q][TEACH_PK_DEV_AVAIL], now = e->g->dev_next_avail;
  if (!teach_dev_bug(e, VBUG_DEV_PACKED_WRAP_EXACT) || sp->n != 1 || was.pos != now.pos ||
      was.wrap != now.wrap)
    return;
  teach_str_add(&e->t,
                " But the chain took the device's next_avail the whole way round the ring to "
                "the same position, and its wrap counter stayed %u (bug dev-packed-wrap-exact): "
                "it flips only when the position comes out smaller, where §2.8.1 has it flip "
                "each time it passes the last descriptor. The next chain, marked with the "
                "flipped counter, will look unavailable.",
                now.wrap);
  e->st->wrong = 1;
}

/* With dev-packed-id-first: 1 when the id the device took from the
 * chain's first descriptor is not the one in its last; *last gets that. */
static int teach_pk_id_first(const teach_expl *e, const teach_span *sp, uint16_t *last_id) {
  const teach_ring *g = e->g;
  if (!teach_dev_bug(e, VBUG_DEV_PACKED_ID_FIRST) || !sp->n || !g->size) return 0;
  uint32_t first = (uint16_t)sp->idx_last, last = first;
  while (last < first + g->size && (g->desc[last % g->size].flags & VQP_F_NEXT)) last++;
  *last_id = g->desc[last % g->size].id;
  return *last_id != g->desc[first].id;
}

/* A kick or a frame reaches the device; it takes chains (§2.8.1). */
/* Which buffer ids the device took: one chain's (its id in the last
 * descriptor, §2.8.6, or with dev-packed-id-first the first's), or a
 * mergeable frame's several one-descriptor buffers. */
static void teach_pk_take_ids(teach_expl *e, const teach_span *sp, int wrong_id, uint16_t last_id) {
  teach_str *t = &e->t;
  if (sp->n > 1 && !wrong_id) {
    teach_str_add(t,
                  "It takes %u buffers, one descriptor each, ids %" PRId64 "-%" PRId64
                  ", each id where §2.8.6 puts it",
                  sp->n, sp->head_first, sp->head_last);
    return;
  }
  teach_str_add(t, "It takes buffer id %" PRId64, sp->head_last);
  if (wrong_id) {
    teach_str_add(t,
                  ", which it read from the chain's first descriptor: the id is in the last, "
                  "%u, where §2.8.6 puts it, and the driver leaves the others 0 (bug "
                  "dev-packed-id-first)",
                  last_id);
    e->st->wrong = 1;
  } else {
    teach_str_add(t, ", the id in the chain's last descriptor (§2.8.6)");
  }
}

static void teach_pk_dev_take(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_span *sp = &f->pop[q];
  teach_str *t = &e->t;
  if (f->frames_in) {
    if (sp->n > 1)
      teach_title(e, "Frame #%" PRId64 " (%u bytes) arrives; the device takes %u RX buffers",
                  f->frame_last + 1, f->frame_len, sp->n);
    else
      teach_title(e, "Frame #%" PRId64 " (%u bytes) arrives%s", f->frame_last + 1, f->frame_len,
                  sp->n ? "; the device takes an RX buffer" : "");
    teach_str_add(t, "The host sends frame #%" PRId64 " (%u bytes) to the device. ",
                  f->frame_last + 1, f->frame_len);
  } else if (f->kicks_received[q]) {
    teach_title(e, "The %s kick reaches the device%s", vnet_queue_name((uint16_t)q),
                sp->n ? "; it takes what was made available" : "");
    teach_str_add(t, "The notification (§2.8.21.2) arrives after its modelled latency. ");
  } else {
    teach_title(e, "The device takes %s",
                q == (int)VNET_TXQ ? (sp->n == 1 ? "a TX chain" : "TX chains")
                                   : (sp->n == 1 ? "an RX buffer" : "RX buffers"));
  }
  uint16_t last_id = 0;
  int wrong_id = teach_pk_id_first(e, sp, &last_id);
  if (sp->n) {
    teach_str_add(t, "Its next_avail was ");
    teach_pk_at(t, f->pk_before[q][TEACH_PK_DEV_AVAIL]);
    teach_str_add(t,
                  ": there the flags said AVAIL equal to its wrap counter and USED not, so "
                  "the descriptor is available (§2.8.1). ");
    teach_pk_take_ids(e, sp, wrong_id, last_id);
    teach_str_add(t, ", and moves next_avail to ");
    teach_pk_at(t, e->g->dev_next_avail);
    teach_str_add(t, ". %s",
                  sp->n > 1 ? "The buffers are in flight: the device's until it marks them used."
                            : "The buffer is in flight: the device's until it marks it used. ");
    if (teach_mrg_on(e))
      teach_mrg_take(e, sp);
    else if (q == (int)VNET_RXQ)
      teach_str_add(t, "It writes a virtio_net_hdr and the frame into the buffer (§5.1.6.4).");
    else if (f->frames_out)
      teach_str_add(t,
                    "It reads header and frame and hands the %u-byte frame to the host "
                    "(§5.1.6.2).",
                    f->out_len);
    teach_pk_wrap_exact(e, sp);
  } else if (q == (int)VNET_RXQ && !f->frames_in) {
    teach_str_add(t,
                  "The device takes an RX buffer only when a frame arrives; until then the %u "
                  "buffers made available stay where they are: ",
                  e->g->count[TEACH_OWN_AVAIL]);
    teach_pk_avail_test(t, e->g, e->g->dev_next_avail);
    teach_str_add(t, ".");
  } else {
    teach_str_add(t, "Nothing to take: ");
    teach_pk_avail_test(t, e->g, e->g->dev_next_avail);
    teach_str_add(t, f->frames_in ? ". The frame cannot be placed anywhere." : ".");
  }
}

/* The interrupt decision after marking used (§2.8.10). */
static void teach_pk_irq_decision(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_ring *g = e->g;
  teach_str *t = &e->t;
  if (!f->irqs[q] && !f->irqs_supp[q]) return;
  uint16_t ev = g->drv_event_desc;
  teach_str_add(t,
                " After a full barrier it reads the driver event suppression structure: "
                "flags %s",
                teach_pk_event_flags(g->drv_event_flags));
  if ((g->drv_event_flags & VQP_EVENT_FLAGS_MASK) == VQP_EVENT_DESC && e->event_idx) {
    teach_str_add(t,
                  ", off_wrap = position %u (wrap %u): interrupt me when that descriptor is "
                  "used. The descriptors marked used since the last decision run from ",
                  ev & 0x7fffu, ev >> VQP_EVENT_WRAP_BIT);
    teach_pk_at(t, f->pk_signalled[q]);
    teach_str_add(t, " up to ");
    teach_pk_at(t, g->dev_next_used);
    teach_str_add(t, f->irqs[q] ? " and include it, so the device interrupts: a used buffer "
                                  "notification (§2.8.10, §2.8.22)."
                                : " and do not include it, so no interrupt (§2.8.10).");
  } else if (f->irqs[q]) {
    teach_str_add(t,
                  ": the driver wants every notification, so the device interrupts: a used "
                  "buffer notification (§2.8.10, §2.8.22).");
  } else {
    teach_str_add(t,
                  ": the driver turned notifications off while it works through the ring, so "
                  "no interrupt (§2.8.10).");
  }
}

/* The device marks a mergeable frame's buffers used (§2.8.1, §5.1.6.4). */
static void teach_pk_mrg_publish(teach_expl *e, const char *irq) {
  const teach_facts *f = e->f;
  const teach_span *sp = &f->push[e->q];
  teach_wpos was = f->pk_before[e->q][TEACH_PK_DEV_USED];
  char where[64];
  snprintf(where, sizeof where, "used%s", irq);
  teach_mrg_push_title(e, "marks", where);
  teach_str_add(&e->t, "From its next_used ");
  teach_pk_at(&e->t, was);
  teach_str_add(&e->t,
                " on, for each buffer in turn it writes the id and len, then, after a write "
                "barrier, the flags with AVAIL and USED both equal to its wrap counter %u "
                "(§2.8.1, §2.8.15): each flags store hands that buffer to the driver (used). "
                "There is no index to store; the device marks all %u in one go, before it "
                "decides on the interrupt, so the driver, woken once, finds the frame's "
                "buffers used together (§5.1.6.4.1).",
                was.wrap, sp->n);
  teach_mrg_push(e);
  teach_pk_irq_decision(e);
}

/* The device marks buffers used, then interrupts or not (§2.8.1). */
static void teach_pk_dev_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_span *sp = &f->push[q];
  teach_str *t = &e->t;
  if (!sp->n) {
    teach_title(e, "The device has nothing to return on the %s queue; no interrupt",
                vnet_queue_name((uint16_t)q));
    teach_str_add(t,
                  "It took nothing, so there is no used buffer notification to send "
                  "(§2.8.10).");
    return;
  }
  const char *irq = f->irqs[q] ? " and interrupts" : f->irqs_supp[q] ? "; no interrupt" : "";
  teach_wpos was = f->pk_before[q][TEACH_PK_DEV_USED];
  if (teach_mrg_on(e) && e->st->hdr_shown) {
    teach_pk_mrg_publish(e, irq);
    return;
  }
  teach_title(e, "The device marks the %s buffer%s used%s", vnet_queue_name((uint16_t)q),
              sp->n == 1 ? "" : "s", irq);
  teach_str_add(t, "At its next_used ");
  teach_pk_at(t, was);
  teach_str_add(t,
                " it writes id %" PRId64
                " and len %u first, then, after a write barrier, the "
                "flags with AVAIL and USED both equal to its wrap counter %u (§2.8.1, "
                "§2.8.15): from this store on the buffer is the driver's (used). ",
                sp->head_last, sp->len_last, was.wrap);
  if (q == (int)VNET_RXQ) {
    teach_str_add(t,
                  "len counts the bytes it wrote, the 12-byte header plus the frame, and W "
                  "says it wrote some (§2.8.3, §2.8.4).");
    teach_hdr_written(e);
  } else
    teach_str_add(t, "No W and len 0: it wrote nothing into a TX buffer (§2.8.3, §2.8.4).");
  uint16_t span = (uint16_t)((e->g->dev_next_used.pos + e->size - was.pos) % e->size);
  if (sp->n == 1 && span > 1)
    teach_str_add(t,
                  " The chain took %u positions: one used descriptor stands for all of "
                  "them, over the chain's first, and next_used skips the rest (§2.8.6).",
                  span);
  teach_pk_irq_decision(e);
}

static void teach_pk_irq(teach_expl *e) {
  const teach_ring *g = e->g;
  teach_str *t = &e->t;
  teach_wpos c = g->drv_next_used;
  uint16_t fl = c.pos < g->size ? g->desc[c.pos].flags : 0;
  int used = teach_pk_avail_bit(fl) == c.wrap && teach_pk_used_bit(fl) == c.wrap;
  teach_title(e, "The interrupt reaches the driver");
  teach_str_add(t,
                "After its modelled latency the used buffer notification runs the driver's "
                "interrupt handler on the guest CPU. It will look at its next_used position "
                "%u: used when AVAIL and USED both equal its used wrap counter, %u; there they "
                "are ",
                c.pos, c.wrap);
  teach_pk_bits(t, g, c.pos);
  teach_str_add(t, ": %s (§2.8.1, §2.8.22).", used ? "used" : "not used");
  uint8_t aw = g->drv_next_avail.wrap;
  if (used && teach_expl_bug(e, VBUG_PACKED_USED_AVAIL_COUNTER) && aw != c.wrap) {
    teach_str_add(t,
                  " But this driver tests them against its avail wrap counter, %u (bug "
                  "drv-packed-used-avail-counter): to it the descriptor does not look used, and "
                  "the buffer waits in the ring.",
                  aw);
    e->st->wrong = 1;
  }
  if (e->q == (int)VNET_RXQ && teach_expl_bug(e, VBUG_RX_NO_IRQ_WAKE) && used) {
    teach_str_add(t,
                  " But this handler does not run the RX path (bug rx-no-irq-wake): the used "
                  "descriptor at position %u waits in the ring until something else makes the "
                  "driver poll.",
                  c.pos);
    e->st->wrong = 1;
  }
}

/* A last-only bug's packed form: every used descriptor taken, the newest
 * kept. */
static void teach_pk_last_only(teach_expl *e, int q, const teach_span *sp) {
  unsigned bug = q == (int)VNET_RXQ ? VBUG_RX_LAST_ONLY : VBUG_TX_LAST_ONLY;
  if (!teach_expl_bug(e, bug) || sp->n < 2) return;
  teach_str_add(
      &e->t,
      " This driver takes every used descriptor but keeps only the newest, id "
      "%" PRId64
      " (bug %s): %u older buffer%s back to its free list with their "
      "%s, where the loop of §2.8.22 handles each one.",
      sp->head_last, q == (int)VNET_RXQ ? "rx-last-only" : "tx-last-only", sp->n - 1,
      sp->n == 2 ? " goes" : "s go",
      q == (int)VNET_RXQ ? "frames unread and are never offered again" : "completions never seen");
  e->st->wrong = 1;
}

/* The driver reads used descriptors (§2.8.22). */
static void teach_pk_consume(teach_expl *e) {
  const teach_span *sp = &e->f->consume[e->q];
  teach_str *t = &e->t;
  teach_wpos was = e->f->pk_before[e->q][TEACH_PK_DRV_USED];
  int mrg = teach_mrg_on(e) && e->f->mrg_part;
  if (mrg)
    teach_mrg_consume_title(e);
  else
    teach_title(e, "The driver takes %s from the %s ring",
                sp->n == 1 ? "a used buffer" : "used buffers", vnet_queue_name((uint16_t)e->q));
  teach_str_add(t, "At its next_used ");
  teach_pk_at(t, was);
  teach_str_add(t, " the flags say ");
  teach_pk_bits(t, e->g, was.pos);
  teach_str_add(t,
                ", both equal to its used wrap counter: used (§2.8.1). After a read barrier it "
                "reads the id and len (§2.8.22): ");
  if (sp->n > 1)
    teach_str_add(t, "%u buffers, ids %" PRId64 "-%" PRId64 ", the last with len %u", sp->n,
                  sp->head_first, sp->head_last, sp->len_last);
  else
    teach_str_add(t, "id %" PRId64 ", len %u", sp->head_last, sp->len_last);
  teach_str_add(t, ". It skips each buffer's descriptors (§2.8.6): next_used moves to ");
  teach_pk_at(t, e->g->drv_next_used);
  teach_str_add(t, ", and the positions it passed are the driver's again.");
  teach_pk_last_only(e, e->q, sp);
  if (mrg)
    teach_mrg_consume(e);
  else if (e->q == (int)VNET_RXQ && teach_expl_bug(e, VBUG_LEGACY_HDR) &&
           sp->len_last > VNET_HDR_LEN - 2) {
    teach_str_add(t,
                  " It takes the header as 10 bytes, the legacy layout (bug legacy-hdr-10), "
                  "so it hands len - 10 = %u bytes to the guest stack, starting 2 bytes "
                  "early: the frame it passes on begins with the header's num_buffers "
                  "(§5.1.6).",
                  sp->len_last - (VNET_HDR_LEN - 2));
    e->st->wrong = 1;
  } else if (e->q == (int)VNET_RXQ && sp->len_last > VNET_HDR_LEN) {
    teach_str_add(t, " It hands the %u-byte frame (len minus the header) to the guest stack.",
                  sp->len_last - VNET_HDR_LEN);
  } else if (e->q == (int)VNET_TXQ) {
    teach_str_add(t, " The TX buffer can carry the next frame.");
  }
}

static void teach_pk_drop(teach_expl *e) {
  const teach_facts *f = e->f;
  const teach_ring *rx = &e->st->ring[VNET_RXQ];
  teach_title(e, "Frame #%" PRId64 " is dropped: %s", f->fate_frame + 1, emu_fate_name(f->fate));
  if (f->fate == EMU_FATE_RX_NO_BUFFER && rx->size) {
    teach_str_add(&e->t, "The device has no RX buffer to put it in: ");
    teach_pk_avail_test(&e->t, rx, rx->dev_next_avail);
    teach_str_add(&e->t,
                  "; it keeps no backlog. A NIC drops the frame the same way (§5.1.6.4 needs "
                  "a buffer from the receive queue).");
  } else {
    teach_str_add(&e->t, "Its fate, decided by the %s: %s.", f->actor ? f->actor : "?",
                  emu_fate_name(f->fate));
  }
  e->st->wrong = 1;
}

static void teach_pk_violation(teach_expl *e) {
  teach_explain_violation(e);
  if (teach_dev_bug(e, VBUG_DEV_PACKED_ID_FIRST))
    teach_str_add(&e->t,
                  " The device read the buffer id from the chain's first descriptor, where "
                  "the driver leaves it 0, not from the last, where §2.8.6 puts it (bug "
                  "dev-packed-id-first).");
}

/* ", kicked" / ", kick suppressed" in a fast-forward list. */
static void teach_pk_fast_notified(teach_str *t, uint32_t sent, uint32_t suppressed,
                                   const char *yes, const char *no) {
  if (sent + suppressed) teach_str_add(t, ", %s", sent ? yes : no);
}

/* One queue's part of a fast-forwarded frame, in one sentence. */
static void teach_pk_fast_q(teach_expl *e, int q) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  uint16_t sz = teach_qsize(e->r->s, q);
  int rx = q == (int)VNET_RXQ;
  const teach_span *sp = rx ? &f->pop[q] : &f->post[q];
  if (!sp->n) return;
  if (rx) {
    teach_str_add(t, "rx: the device took id %" PRId64 " at ", sp->head_last);
    teach_pk_span(t, sp->idx_last, 1, sz);
  } else {
    teach_str_add(t, "tx: the answer went into id %" PRId64 " at ", sp->head_last);
    teach_pk_span(t, sp->idx_last, sp->len_last, sz);
    teach_pk_fast_notified(t, f->kicks[q], f->kicks_supp[q], "kicked", "kick suppressed");
    if (f->pop[q].n) teach_str_add(t, "; the device sent it");
  }
  if (f->push[q].n) {
    teach_str_add(t, " and marked it used at ");
    teach_pk_span(t, f->push[q].idx_last, 1, sz);
  }
  teach_pk_fast_notified(t, f->irqs[q], f->irqs_supp[q], "interrupted", "interrupt suppressed");
  if (f->consume[q].n)
    teach_str_add(t, rx ? "; the driver read it" : "; the driver reclaimed %u used TX buffer%s",
                  f->consume[q].n, f->consume[q].n == 1 ? "" : "s");
  if (rx && f->post[q].n) {
    teach_str_add(t, ", made id %" PRId64 " available again at ", f->post[q].head_last);
    teach_pk_span(t, f->post[q].idx_last, 1, sz);
    teach_pk_fast_notified(t, f->kicks[q], f->kicks_supp[q], "kicked", "kick suppressed");
  }
  teach_str_add(t, ". ");
}

static void teach_pk_fast(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  teach_fast_title(e);
  teach_str_add(t, "The same steps as above, in one (§2.8.21, §2.8.22). ");
  const teach_ring *rx = &e->st->ring[VNET_RXQ];
  if (f->frames_in && !f->pop[VNET_RXQ].n && rx->size) {
    teach_str_add(t, "The device finds no RX buffer: ");
    teach_pk_avail_test(t, rx, rx->dev_next_avail);
    teach_str_add(t, ". ");
  }
  teach_pk_fast_q(e, VNET_RXQ);
  teach_pk_fast_q(e, VNET_TXQ);
  for (int q = 0; q < 2; q++) teach_pk_last_only(e, q, &f->consume[q]);
}

/* The event suppression structures are stored without a record of their
 * own: say so when the step saw one written, on its own queue or (as "on
 * the rx queue") on the other. */
static void teach_pk_event_fields(teach_expl *e) {
  if (e->st->kind == TEACH_K_FAST) return;
  for (int k = 0; k < 2; k++) {
    int q = k ? 1 - e->q : e->q;
    const teach_ring *g = &e->st->ring[q];
    if (!g->size || !g->packed) continue;
    char on[32] = "";
    if (q != e->q) snprintf(on, sizeof on, " on the %s queue", vnet_queue_name((uint16_t)q));
    uint16_t dv = g->dev_event_desc, dr = g->drv_event_desc;
    if (g->hdr_wrote & (TEACH_H_DEV_EVENT_FLAGS | TEACH_H_DEV_EVENT_DESC)) {
      if ((g->dev_event_flags & VQP_EVENT_FLAGS_MASK) == VQP_EVENT_DESC)
        teach_str_add(&e->t,
                      " Meanwhile%s the device, finding nothing more to take, set its event "
                      "suppression structure to DESC at position %u (wrap %u): notify me when "
                      "that descriptor is made available (§2.8.10, §2.8.14). Then it looked at "
                      "that position once more, in case the driver got there first.",
                      on, dv & 0x7fffu, dv >> VQP_EVENT_WRAP_BIT);
      else
        teach_str_add(&e->t,
                      " Meanwhile%s the device set its event suppression flags to %s "
                      "(§2.8.10, §2.8.14).",
                      on, teach_pk_event_flags(g->dev_event_flags));
    }
    if (g->hdr_wrote & (TEACH_H_DRV_EVENT_FLAGS | TEACH_H_DRV_EVENT_DESC)) {
      if ((g->drv_event_flags & VQP_EVENT_FLAGS_MASK) == VQP_EVENT_DESC)
        teach_str_add(&e->t,
                      " Meanwhile%s the driver, done with the ring, set its event suppression "
                      "structure to DESC at position %u (wrap %u): interrupt me when that "
                      "descriptor is used (§2.8.10, §2.8.14). After a full barrier it looks "
                      "there once more, in case the device used it first (§2.8.22).",
                      on, dr & 0x7fffu, dr >> VQP_EVENT_WRAP_BIT);
      else
        teach_str_add(&e->t,
                      " Meanwhile%s the driver set its event suppression flags to %s "
                      "(§2.8.10, §2.8.14).",
                      on, teach_pk_event_flags(g->drv_event_flags));
    }
  }
}

void teach_explain_packed(teach_expl *e) {
  switch (e->st->kind) {
    case TEACH_K_STATUS:
      teach_pk_status(e);
      break;
    case TEACH_K_POST: /* a packed ring's driver posts and publishes in one store */
    case TEACH_K_PUBLISH:
      teach_pk_publish(e);
      break;
    case TEACH_K_DEV_TAKE:
      teach_pk_dev_take(e);
      break;
    case TEACH_K_DEV_PUSH: /* likewise the device's used descriptor */
    case TEACH_K_DEV_PUBLISH:
      teach_pk_dev_publish(e);
      break;
    case TEACH_K_IRQ:
      teach_pk_irq(e);
      break;
    case TEACH_K_CONSUME:
      teach_pk_consume(e);
      break;
    case TEACH_K_DROP:
      teach_pk_drop(e);
      break;
    case TEACH_K_VIOLATION:
      teach_pk_violation(e);
      break;
    default:
      teach_pk_fast(e);
      break;
  }
  for (int q = 0; q < 2; q++) teach_pk_flips(e, q);
  teach_pk_event_fields(e);
}
