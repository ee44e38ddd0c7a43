/* The step explanations: one explainer per step kind, in a table indexed
 * by the kind. Each writes the step's title and a few sentences from the
 * facts the recorder gathered from the step's events and the rings after
 * it, naming the virtio 1.2 section that rules what happened. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "teach/internal.h"
#include "virtio/vbug.h"

void teach_features(teach_str *t, uint64_t f) {
  static const struct {
    int bit;
    const char *name;
  } names[] = {{VIRTIO_F_VERSION_1, "VERSION_1"},
               {VIRTIO_NET_F_MAC, "MAC"},
               {VIRTIO_NET_F_STATUS, "STATUS"},
               {VIRTIO_F_EVENT_IDX, "EVENT_IDX"},
               {VIRTIO_F_INDIRECT_DESC, "INDIRECT_DESC"},
               {VIRTIO_F_RING_PACKED, "RING_PACKED"},
               {VIRTIO_NET_F_MTU, "MTU"},
               {VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"}};
  int any = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (f & VIRTIO_BIT(names[i].bit)) {
      teach_str_add(t, "%s%s", any ? " " : "", names[i].name);
      any = 1;
    }
  if (!any) teach_str_add(t, "none");
}

/* "slot 3" or, past the first lap, "slot 3 (index 11)". */
static void teach_slot(teach_str *t, int64_t idx, uint16_t size) {
  if (idx < 0 || !size) return;
  uint16_t i = (uint16_t)idx;
  if (i < size)
    teach_str_add(t, "slot %u", i);
  else
    teach_str_add(t, "slot %u (index %u)", i & (size - 1u), i);
}

static void teach_slots(teach_str *t, const teach_span *sp, uint16_t size) {
  if (sp->n <= 1 || sp->idx_first == sp->idx_last) {
    teach_slot(t, sp->idx_last, size);
    return;
  }
  uint16_t a = (uint16_t)sp->idx_first, b = (uint16_t)sp->idx_last;
  if (b < size)
    teach_str_add(t, "slots %u-%u", a, b);
  else
    teach_str_add(t, "indices %u-%u (slots %u-%u)", a, b, a & (size - 1u), b & (size - 1u));
}

static void teach_heads(teach_str *t, const teach_span *sp) {
  if (sp->n > 1 && sp->head_last - sp->head_first + 1 != (int64_t)sp->n)
    teach_str_add(t, "%u heads, %" PRId64 " first and %" PRId64 " last", sp->n, sp->head_first,
                  sp->head_last);
  else if (sp->n > 1 && sp->head_first != sp->head_last)
    teach_str_add(t, "heads %" PRId64 "-%" PRId64, sp->head_first, sp->head_last);
  else
    teach_str_add(t, "head %" PRId64, sp->head_last);
}

/* "heads 2-4 from avail slots 2-4": which heads, a joining phrase, where. */
static void teach_heads_at(teach_str *t, const teach_span *sp, const char *where, uint16_t size) {
  teach_heads(t, sp);
  teach_str_add(t, "%s", where);
  teach_slots(t, sp, size);
}

/* The first time a ring index runs past the queue size: explain the wrap
 * (at length the first time, in a clause after that). */
static void teach_wrap(teach_rec *r, teach_str *t, int q, int used, const teach_span *sp,
                       uint16_t size) {
  if (!sp->n || !size || r->wrap_told[q][used]) return;
  if ((uint16_t)sp->idx_last < size) return;
  r->wrap_told[q][used] = 1;
  uint16_t i = (uint16_t)sp->idx_last;
  teach_str_add(t, " Wrap-around: %s %s index %u lands in slot %u & %u = %u.",
                vnet_queue_name((uint16_t)q), used ? "used" : "avail", i, i, size - 1u,
                i & (size - 1u));
  if (r->wrap_explained) return;
  r->wrap_explained = 1;
  teach_str_add(t,
                " The indices are free-running 16-bit counters and only the slot is masked "
                "(§2.7.6, §2.7.8), so the same arithmetic carries on when a counter itself "
                "wraps from 65535 to 0; showing that would take 65536 buffers, so this "
                "walkthrough shows the slot wrap only.");
}

const char *teach_fate_phrase(emu_fate f) {
  switch (f) {
    case EMU_FATE_ANSWERED:
      return "answered it";
    case EMU_FATE_DELIVERED:
      return "took it";
    default:
      return NULL;
  }
}

/* The driver bugs of the run. */
static int teach_bug(const teach_expl *e, unsigned bug) {
  return (e->r->s->drv.opts.bugs & bug) != 0;
}

int teach_expl_bug(const teach_expl *e, unsigned bug) { return teach_bug(e, bug); }

void teach_title(teach_expl *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->st->title, sizeof e->st->title, fmt, ap);
  va_end(ap);
}

/* The status byte's steps, in the order of §3.1.1. */
void teach_explain_status(teach_expl *e) {
  uint8_t b = e->f->status;
  teach_str *t = &e->t;
  if (b == 0) {
    teach_title(e, "Reset: the driver writes 0 to the device status");
    teach_str_add(t,
                  "The status byte is where driver and device agree on how far "
                  "initialisation got. Writing 0 resets the device: no features, no "
                  "queues, nothing offered (§2.4). A driver takes the reset as done only "
                  "when it reads the status back as 0 (§2.4.2). §3.1.1 step 1.");
  } else if (b == VIRTIO_STATUS_ACKNOWLEDGE) {
    teach_title(e, "Status ACKNOWLEDGE (1): the guest has noticed the device");
    teach_str_add(t, "The guest found a virtio device and says so. §3.1.1 step 2.");
  } else if (!(b & VIRTIO_STATUS_FEATURES_OK) && (b & VIRTIO_STATUS_DRIVER)) {
    teach_title(e, "Status ACKNOWLEDGE|DRIVER (3): the guest can drive it");
    teach_str_add(t, "A driver for network devices claimed it. §3.1.1 step 3.");
  } else if (!(b & VIRTIO_STATUS_DRIVER_OK) && (b & VIRTIO_STATUS_FEATURES_OK)) {
    teach_title(e, "Features negotiated; status FEATURES_OK (%u)", b);
    teach_str_add(t,
                  "The driver read the device's feature bits, kept the ones it "
                  "understands and wrote them back: ");
    teach_features(t, e->f->features);
    teach_str_add(t,
                  ". FEATURES_OK asks the device to accept exactly these; a device "
                  "that cannot would leave the bit clear. %s "
                  "§3.1.1 steps 4-6, §2.2. Next the driver allocates each queue's "
                  "descriptor table, available ring and used ring in guest memory and "
                  "gives the device their addresses (§3.1.1 step 7, §2.7).",
                  e->f->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
                      ? "EVENT_IDX lets each side say at which index it wants the next "
                        "notification (§2.7.7, §2.7.10)."
                      : "Without EVENT_IDX each side has one flag to turn the other's "
                        "notifications off: the driver's avail.flags NO_INTERRUPT for "
                        "interrupts, the device's used.flags NO_NOTIFY for kicks (§2.7.7, "
                        "§2.7.10).");
    teach_mrg_features(e);
  } else if (b & VIRTIO_STATUS_DRIVER_OK) {
    teach_title(e, "Status DRIVER_OK (%u): the device is live", b);
    teach_str_add(t,
                  "Set-up is done and the device may use its queues. The RX buffers "
                  "are written, but avail.idx is still %u, so the device does not see "
                  "them yet. §3.1.1 step 8.",
                  e->g->avail_idx);
  } else {
    teach_title(e, "Status %u", b);
    teach_str_add(t, "The driver writes status %u (§2.1).", b);
  }
}

/* A split queue set up: where its three parts sit in guest memory, as the
 * C structures of §2.7.5, §2.7.6 and §2.7.8 with their sizes and
 * alignments (§2.7), and why each event field sits where it does. */
static void teach_explain_setup(teach_expl *e) {
  const vq_layout *l = &teach_drv_q(e->r->s, e->q)->layout;
  unsigned n = l->size;
  e->r->setup_told[e->q] = 1;
  teach_title(e, "The driver sets up the %s queue: %u entries in guest memory",
              vnet_queue_name((uint16_t)e->q), n);
  teach_str_add(&e->t,
                "It allocates the queue's three parts, zeroed, and gives the device their "
                "addresses (§3.1.1 step 7). The descriptor table at 0x%" PRIx64
                ": %u x struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } "
                "(16 bytes each, 16-aligned, §2.7.5). The available ring at 0x%" PRIx64
                ": struct virtq_avail { le16 flags; le16 idx; le16 ring[%u]; le16 used_event; } "
                "(%u bytes, 2-aligned, §2.7.6). The used ring at 0x%" PRIx64
                ": struct virtq_used { le16 flags; le16 idx; struct virtq_used_elem { le32 id; "
                "le32 len; } ring[%u]; le16 avail_event; } (%u bytes, 4-aligned, §2.7.8). "
                "The alignments are §2.7's, for the three parts as a whole. used_event ends "
                "the available ring and avail_event the used ring because each side writes "
                "only its own area: the driver writes the available ring, the device the "
                "used ring, so a side's request (interrupt me after this used index; kick "
                "me after this available index) goes where it writes anyway, and no memory "
                "is written by both (§2.7). Placed after ring[], they leave every other "
                "field where it is whether or not EVENT_IDX is negotiated (§2.7.7, "
                "§2.7.10). Nothing is offered yet: every descriptor is on the driver's free "
                "list.",
                l->desc, n, l->avail, n, 6 + 2 * n, l->used, n, 6 + 8 * n);
}

/* The indirect table head points at (§2.7.5.3: le64 addr, le32 len, le16
 * flags, le16 next per entry, as in the descriptor table), read into the
 * step to be drawn. Returns 1 when its first entry chains the next. */
static int teach_read_indirect(teach_expl *e, int64_t head, const teach_desc *d) {
  teach_step *st = e->st;
  const gmem *m = &e->r->s->mem;
  st->ind_head = head;
  st->ind_addr = d->addr;
  st->ind_total = (uint16_t)(d->len / VQ_DESC_SIZE);
  st->nind = st->ind_total < TEACH_IND_SHOWN ? st->ind_total : TEACH_IND_SHOWN;
  for (uint16_t i = 0; i < st->nind; i++) {
    /* the driver placed the table in guest memory and the device checked it
     * when it read it: a read that failed would draw zeros, misleading no
     * check (the halves read memory themselves) */
    uint64_t a = d->addr + (uint64_t)i * VQ_DESC_SIZE;
    teach_desc *x = &st->ind[i];
    (void)gmem_peek_le64(m, a + VQ_DESC_OFF_ADDR, &x->addr);
    (void)gmem_peek_le32(m, a + VQ_DESC_OFF_LEN, &x->len);
    (void)gmem_peek_le16(m, a + VQ_DESC_OFF_FLAGS, &x->flags);
    (void)gmem_peek_le16(m, a + VQ_DESC_OFF_NEXT, &x->next);
  }
  return st->nind > 1 && (st->ind[0].flags & VQ_DESC_F_NEXT) && st->ind[0].next == 1;
}

/* A TX frame: one indirect descriptor or a chain (§2.7.5.3, §5.1.6.2). */
static void teach_explain_tx_post(teach_expl *e, const teach_span *sp) {
  teach_str *t = &e->t;
  const teach_ring *g = e->g;
  teach_title(e, "The guest sends a frame: the driver fills a TX descriptor");
  if (teach_bug(e, VBUG_LEGACY_HDR)) e->st->wrong = 1;
  int indirect = sp->n && g->size &&
                 (g->desc[(uint16_t)sp->head_last & (e->size - 1)].flags & VQ_DESC_F_INDIRECT);
  if (indirect)
    teach_str_add(t,
                  "The driver takes one descriptor, head %" PRId64
                  ", and points it "
                  "(flag I, INDIRECT) at a two-entry table elsewhere in guest memory: "
                  "the 12-byte header, then the frame, both device-readable. One "
                  "descriptor per frame however many pieces it has (§2.7.5.3). ",
                  sp->head_last);
  if (indirect &&
      teach_read_indirect(e, sp->head_last, &g->desc[(uint16_t)sp->head_last & (e->size - 1)]))
    teach_str_add(t,
                  "The table is drawn below: its entry 0, the header, carries flag N "
                  "(NEXT) and next = 1, so the frame in entry 1 follows it: inside a table "
                  "the descriptors start at index 0 and are chained by next (§2.7.5.3). ");
  else
    teach_str_add(t,
                  "The driver writes a chain for the header and the frame, both "
                  "device-readable, starting at head %" PRId64 ". ",
                  sp->head_last);
  if (teach_bug(e, VBUG_LEGACY_HDR))
    teach_str_add(t,
                  "But its header is the 10-byte legacy one (bug legacy-hdr-10): the "
                  "device, which negotiated VERSION_1, reads 12 bytes of header and "
                  "loses the frame's first 2 bytes (§5.1.6). ");
  if (teach_bug(e, VBUG_TX_NO_RECLAIM) && g->used_idx != g->drv_last_used) {
    teach_str_add(t,
                  "Before this send it should have taken back the used TX buffers "
                  "(used.idx = %u, its last_used_idx = %u); it never does (bug "
                  "tx-no-reclaim, §2.7.14), so the TX ring only fills. ",
                  g->used_idx, g->drv_last_used);
    e->st->wrong = 1;
  }
  teach_str_add(t, "The head goes into avail ");
  teach_slots(t, sp, e->size);
  teach_str_add(t,
                "; until avail.idx covers it, it is posted, still the driver's. "
                "§2.7.13.1-2, §5.1.6.2.");
}

/* The driver writes descriptors and avail slots (§2.7.13.1-2). */
static void teach_explain_post(teach_expl *e) {
  const teach_span *sp = &e->f->post[e->q];
  teach_str *t = &e->t;
  if (e->q == (int)VNET_RXQ && e->f->reposts) {
    teach_title(e, "The driver re-posts RX buffer head %" PRId64, sp->head_last);
    teach_str_add(t,
                  "Having read %s out of it, the driver offers the same buffer "
                  "again: descriptor %" PRId64
                  " keeps its address and length, and its "
                  "index goes into avail ",
                  teach_mrg_on(e) ? "its part of the frame" : "the frame", sp->head_last);
    teach_slots(t, sp, e->size);
    teach_str_add(t,
                  ". avail.idx has not moved yet: the buffer is posted, still the "
                  "driver's. §2.7.13.1-2.");
  } else if (e->q == (int)VNET_RXQ) {
    teach_title(e, "The driver posts %u RX buffer%s", sp->n, sp->n == 1 ? "" : "s");
    teach_str_add(t,
                  "For each buffer the driver takes a free descriptor, writes the "
                  "buffer's address and length with flag W (device-writable), and puts "
                  "the descriptor's index, its head, in the next available slot: ");
    teach_heads_at(t, sp, " in ", e->size);
    if (teach_mrg_on(e))
      teach_str_add(t,
                    ". Each RX buffer has %u bytes: with MRG_RXBUF a buffer need only hold the "
                    "12-byte virtio_net_hdr (§5.1.6.3.1), and a frame larger than one spreads "
                    "over several (§5.1.6.4)",
                    e->r->s->drv.rx_buf_len);
    else
      teach_str_add(t,
                    ". Each RX buffer holds the 12-byte virtio_net_hdr and a 1514-byte "
                    "frame (§5.1.6.3)");
    teach_str_add(t,
                  ". avail.idx is still %u: the device cannot see "
                  "these yet, so they are posted, still the driver's. §2.7.13.1-2.",
                  e->g->avail_idx);
  } else {
    teach_explain_tx_post(e, sp);
  }
  teach_wrap(e->r, t, e->q, 0, sp, e->size);
}

/* Why the driver kicked or did not, after publishing (§2.7.10, §2.7.13.4);
 * old and now bound the entries the decision was about. */
static void teach_explain_kick_decision(teach_expl *e, uint16_t old, uint16_t now) {
  const teach_facts *f = e->f;
  int q = e->q;
  teach_str *t = &e->t;
  if (f->kicks[q] && e->event_idx)
    teach_str_add(t,
                  " With EVENT_IDX the driver notifies only when the new entries pass "
                  "the device's avail_event = %u, that is when it lies in [%u, %u): it "
                  "does, so the driver kicks: an available buffer notification "
                  "(§2.7.10.1, §2.7.13.4).",
                  e->g->avail_event, old, now);
  else if (f->kicks[q])
    teach_str_add(t,
                  " used.flags = 0: the device has not set VIRTQ_USED_F_NO_NOTIFY, so the "
                  "driver must kick: an available buffer notification (§2.7.10.1).");
  else if (f->kicks_supp[q] && e->event_idx)
    teach_str_add(t,
                  " Event-idx suppression: avail_event = %u is not in [%u, %u). The "
                  "device is still working through the ring and will read the new "
                  "index by itself, so the driver does not kick (§2.7.10).",
                  e->g->avail_event, old, now);
  else if (f->kicks_supp[q])
    teach_str_add(t,
                  " used.flags = 1, VIRTQ_USED_F_NO_NOTIFY: the device is working through the "
                  "ring and will see the new index by itself, so the driver does not kick "
                  "(§2.7.10.1).");
  else if (teach_bug(e, VBUG_KICK_BEFORE_PUBLISH))
    teach_str_add(t,
                  " It decided about the kick before this store, on the old index "
                  "(the step before): the order is reversed (bug kick-before-publish).");
  else if (q == (int)VNET_TXQ && teach_bug(e, VBUG_TX_NO_KICK)) {
    teach_str_add(t,
                  " And then nothing: it never asks whether the device wants a kick, "
                  "and never kicks the TX queue. The device, asleep, will not see "
                  "this frame (bug tx-no-kick; §2.7.10.1 says it must notify).");
    e->st->wrong = 1;
  } else if (teach_memory_name(e->r->s)) {
    /* the full barrier before the driver reads the device's suppression
     * field takes time under a memory model: the decision is a step of its
     * own, later */
    teach_str_add(t,
                  " Under the %s memory model the full barrier the driver needs before it "
                  "reads the device's %s takes time: its notification decision comes in a "
                  "later step (§2.7.13.4).",
                  teach_memory_name(e->r->s), e->event_idx ? "avail_event" : "used.flags");
  } else {
    teach_str_add(t,
                  " The driver made no notification decision at all: a device that "
                  "went idle will never look at these entries (§2.7.13.4).");
    e->st->wrong = 1;
  }
}

/* The decision after a publish of an earlier step: under a memory model
 * the full barrier before it takes time (the publish step says so). */
static void teach_explain_late_decision(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  teach_title(e, "The driver, past its barrier, decides about a %s kick%s",
              vnet_queue_name((uint16_t)q), f->kicks[q] ? ", and kicks" : ": no kick");
  teach_str_add(&e->t,
                "Under the %s memory model the full barrier before the driver reads %s "
                "took time (§2.7.13.4.1): only now does it decide about the entries it "
                "published before, avail.idx = %u.",
                teach_memory_name(e->r->s), e->event_idx ? "avail_event" : "used.flags",
                e->g->drv_avail_published);
  if (e->event_idx)
    teach_str_add(&e->t,
                  f->kicks[q] ? " avail_event = %u lies among the new entries: the device asked "
                                "to be told, so the driver kicks (§2.7.10.1)."
                              : " avail_event = %u does not lie among the new entries: the "
                                "device will read the new index by itself, no kick (§2.7.10).",
                  e->g->avail_event);
  else
    teach_str_add(&e->t, " used.flags = %u: %s (§2.7.10.1).", e->g->used_flags,
                  f->kicks[q] ? "the device wants a notification, so the driver kicks"
                              : "VIRTQ_USED_F_NO_NOTIFY, so the driver does not kick");
}

/* The driver stores avail.idx, then kicks or not (§2.7.13.3-4). */
static void teach_explain_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  uint16_t old = f->avail_old[q], now = f->avail_new[q];
  if (f->avail_published[q]) {
    teach_title(e, "The driver publishes %s avail.idx = %u%s", vnet_queue_name((uint16_t)q), now,
                f->kicks[q]        ? " and kicks"
                : f->kicks_supp[q] ? "; no kick needed"
                                   : "");
    teach_str_add(&e->t,
                  "Storing avail.idx (%u -> %u) is what hands the new entries to the "
                  "device: from this store on they are the device's (avail). A write "
                  "barrier before it makes sure the device sees the slots before the "
                  "index that covers them (§2.7.13.3.1).",
                  old, now);
    if (f->kicks[q] || f->kicks_supp[q])
      teach_str_add(&e->t,
                    " Then a full memory barrier, before the driver reads %s: otherwise "
                    "it could read an old value and miss a notification the device asked "
                    "for (§2.7.13.4.1).",
                    e->event_idx ? "avail_event" : "used.flags");
  } else if (e->g->drv_avail_published == e->g->drv_avail_shadow &&
             !teach_bug(e, VBUG_KICK_BEFORE_PUBLISH)) {
    teach_explain_late_decision(e);
    return;
  } else {
    /* kick-before-publish: the decision on entries memory does not hold yet */
    old = e->g->drv_avail_published;
    now = e->g->drv_avail_shadow;
    teach_title(e, "The driver decides about a %s kick before publishing%s",
                vnet_queue_name((uint16_t)q), f->kicks[q] ? ", and kicks" : ": no kick");
    teach_str_add(&e->t,
                  "avail.idx in memory is still %u: the new entries are posted, not yet "
                  "the device's, yet the driver decides about the kick now (bug "
                  "kick-before-publish). §2.7.13.4 says: expose the new index first, then (after "
                  "a full barrier, §2.7.13.4.1) read the suppression fields and notify.%s",
                  e->g->avail_idx,
                  f->kicks[q] ? " A device that looks now, on this kick, finds nothing new and "
                                "goes back to sleep."
                              : "");
    e->st->wrong = 1;
  }
  teach_explain_kick_decision(e, old, now);
}

/* What the device took, or why it took nothing (§2.7.6, §5.1.6). */
static void teach_explain_take_what(teach_expl *e, const teach_span *sp) {
  const teach_facts *f = e->f;
  const teach_ring *g = e->g;
  teach_str *t = &e->t;
  if (sp->n) {
    teach_str_add(t,
                  "The device reads avail.idx = %u, which is ahead of its "
                  "last_avail_idx, and takes ",
                  g->avail_idx);
    teach_heads_at(t, sp, " from avail ", e->size);
    teach_str_add(t,
                  "; its last_avail_idx is now %u (§2.7.6). %s in flight: "
                  "the device's until it returns %s. ",
                  g->dev_last_avail, sp->n > 1 ? "The descriptors are" : "The descriptor is",
                  sp->n > 1 ? "them" : "it");
    if (teach_mrg_on(e))
      teach_mrg_take(e, sp);
    else if (e->q == (int)VNET_RXQ)
      teach_str_add(t,
                    "It writes a virtio_net_hdr and the frame into the buffer "
                    "(§5.1.6.4).");
    else if (f->frames_out)
      teach_str_add(t,
                    "It reads header and frame and hands the %u-byte frame to the "
                    "host (§5.1.6.2).",
                    f->out_len);
  } else if (f->frames_in) {
    teach_str_add(t,
                  "No RX buffer is offered: avail.idx = %u equals the device's "
                  "last_avail_idx. The frame cannot be placed anywhere.",
                  g->avail_idx);
  } else if (e->q == (int)VNET_RXQ) {
    teach_str_add(t,
                  "The device takes an RX buffer only when a frame arrives; until then "
                  "the %u buffers it was offered stay where they are.",
                  (unsigned)(uint16_t)(g->avail_idx - g->dev_last_avail));
  } else {
    teach_str_add(t, "Nothing new to take: avail.idx = %u.", g->avail_idx);
  }
}

/* A kick or a frame reaches the device; it pops chains. */
static void teach_explain_dev_take(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_span *sp = &f->pop[q];
  if (f->frames_in) {
    if (sp->n > 1)
      teach_title(e, "Frame #%" PRId64 " (%u bytes) arrives; the device takes %u RX buffers",
                  f->frame_last + 1, f->frame_len, sp->n);
    else
      teach_title(e, "Frame #%" PRId64 " (%u bytes) arrives%s", f->frame_last + 1, f->frame_len,
                  sp->n ? "; the device takes an RX buffer" : "");
    teach_str_add(&e->t, "The host sends frame #%" PRId64 " (%u bytes) to the device. ",
                  f->frame_last + 1, f->frame_len);
  } else if (f->kicks_received[q]) {
    teach_title(e, "The %s kick reaches the device%s", vnet_queue_name((uint16_t)q),
                sp->n ? "; it takes what was offered" : "");
    teach_str_add(&e->t, "The notification (§2.7.13.4) arrives after its modelled latency. ");
  } else {
    teach_title(e, "The device takes %s %s", sp->n == 1 ? "a" : "more",
                q == (int)VNET_TXQ ? "TX chains" : "RX buffers");
  }
  teach_explain_take_what(e, sp);
}

/* The device writes used elements (§2.7.8). */
/* The device writes a mergeable frame's used elements (§5.1.6.4). */
static void teach_explain_mrg_push(teach_expl *e) {
  const teach_span *sp = &e->f->push[e->q];
  teach_mrg_push_title(e, "returns", "in the rx used ring");
  teach_str_add(&e->t, "It writes %s into used ", sp->n == 1 ? "a used element" : "used elements");
  teach_slots(&e->t, sp, e->size);
  teach_str_add(&e->t, ".");
  teach_mrg_push(e);
  teach_str_add(&e->t,
                " used.idx is still %u, so the driver cannot see %s yet: pushed, still the "
                "device's until it stores used.idx.",
                e->g->used_idx, sp->n == 1 ? "it" : "them");
  teach_wrap(e->r, &e->t, e->q, 1, sp, e->size);
}

static void teach_explain_dev_push(teach_expl *e) {
  const teach_span *sp = &e->f->push[e->q];
  teach_str *t = &e->t;
  if (teach_mrg_on(e) && e->st->hdr_shown) {
    teach_explain_mrg_push(e);
    return;
  }
  teach_title(e, "The device returns %s in the %s used ring", sp->n == 1 ? "the buffer" : "buffers",
              vnet_queue_name((uint16_t)e->q));
  teach_str_add(t, "It writes the used element {id %" PRId64 ", len %u} into used ", sp->head_last,
                sp->len_last);
  teach_slots(t, sp, e->size);
  if (e->q == (int)VNET_RXQ)
    teach_str_add(t,
                  ": len counts the bytes it wrote, the 12-byte header plus the frame "
                  "(§2.7.8).");
  else
    teach_str_add(t, ": len 0, since it wrote nothing into a TX buffer (§2.7.8).");
  teach_hdr_written(e);
  teach_str_add(t,
                " used.idx is still %u, so the driver cannot see it yet: the buffer "
                "is pushed, still the device's until it stores used.idx.",
                e->g->used_idx);
  teach_wrap(e->r, t, e->q, 1, sp, e->size);
}

/* An interrupt the device suppressed because of used_event (§2.7.7.2). */
static void teach_explain_irq_suppressed(teach_expl *e, uint16_t old, uint16_t now) {
  uint16_t used_event = e->g->used_event;
  teach_str_add(&e->t,
                " Interrupt suppressed: used_event = %u is not in [%u, %u), the "
                "driver did not ask to hear about these (§2.7.7.2).",
                used_event, old, now);
  if (e->q == (int)VNET_TXQ) {
    teach_str_add(&e->t,
                  " This driver reaps TX buffers on its next send and leaves TX "
                  "used_event where it was.");
  } else if (teach_bug(e, VBUG_USED_EVENT_STALE)) {
    teach_str_add(&e->t,
                  " The device is right: used_event is still %u because this driver "
                  "never writes it after start (bug used-event-stale), and it relies "
                  "on the interrupt it has turned off. The frame waits in the used ring.",
                  used_event);
    e->st->wrong = 1;
  }
}

/* The device stores used.idx, then interrupts or not (§2.7.7, §2.7.8.2). */
static void teach_explain_dev_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  teach_str *t = &e->t;
  uint16_t old = f->used_old[q], now = f->used_new[q], used_event = e->g->used_event;
  if (!f->used_published[q]) {
    teach_title(e, "The device has nothing to return on the %s queue; no interrupt",
                vnet_queue_name((uint16_t)q));
    teach_str_add(t,
                  "It took nothing, so used.idx stays %u and there is no used buffer "
                  "notification to send (§2.7.7).",
                  e->g->used_idx);
    return;
  }
  teach_title(e, "The device publishes %s used.idx = %u%s", vnet_queue_name((uint16_t)q), now,
              f->irqs[q]        ? " and interrupts"
              : f->irqs_supp[q] ? "; no interrupt"
                                : "");
  teach_str_add(t,
                "used.idx moves %u -> %u, after a write barrier so the element is "
                "visible first (§2.7.8.2); from this store on the returned buffers "
                "are the driver's (used).",
                old, now);
  if (f->irqs[q] && e->event_idx)
    teach_str_add(t,
                  " With EVENT_IDX the device interrupts only when the driver's "
                  "used_event = %u lies in [%u, %u): it does, so it raises the "
                  "interrupt: a used buffer notification (§2.7.7.2).",
                  used_event, old, now);
  else if (f->irqs[q])
    teach_str_add(t,
                  " avail.flags = 0: the driver has not set VIRTQ_AVAIL_F_NO_INTERRUPT, so "
                  "the device must interrupt: a used buffer notification (§2.7.7.2).");
  else if (f->irqs_supp[q] && e->event_idx)
    teach_explain_irq_suppressed(e, old, now);
  else if (f->irqs_supp[q])
    teach_str_add(t,
                  " avail.flags = 1, VIRTQ_AVAIL_F_NO_INTERRUPT: the driver does not want "
                  "to hear about these, so no interrupt (§2.7.7.2).");
  if (teach_mrg_on(e)) teach_mrg_publish(e);
}

static void teach_explain_irq(teach_expl *e) {
  const teach_ring *g = e->g;
  teach_title(e, "The interrupt reaches the driver");
  teach_str_add(&e->t,
                "After its modelled latency the used buffer notification runs the driver's "
                "interrupt handler on the guest CPU. It will compare used.idx with its own "
                "last_used_idx (§2.7.14).");
  if (e->q == (int)VNET_RXQ && teach_bug(e, VBUG_RX_NO_IRQ_WAKE) &&
      g->used_idx != g->drv_last_used) {
    teach_str_add(&e->t,
                  " But this handler does not run the RX path (bug rx-no-irq-wake): "
                  "used.idx = %u is ahead of last_used_idx = %u, and the frame waits in "
                  "the used ring until something else makes the driver poll.",
                  g->used_idx, g->drv_last_used);
    e->st->wrong = 1;
  }
}

/* With used-slot-mod-256 the driver reads used index i from slot i % 256:
 * say where it really read when that is not the ring's slot. */
static void teach_mod256_note(teach_expl *e, const teach_span *sp) {
  if (!teach_bug(e, VBUG_USED_SLOT_MOD_256) || !sp->n || !e->size) return;
  uint16_t idx = (uint16_t)sp->idx_last;
  unsigned bad = idx % 256u, good = idx & (e->size - 1u);
  if (bad == good) return;
  teach_str_add(&e->t,
                " But it read used index %u from slot %u, which %s, not from slot %u "
                "where §2.7.8 puts it (bug used-slot-mod-256).",
                idx, bad, bad >= e->size ? "lies past the end of the ring" : "is another element",
                good);
}

/* With a last-only bug the driver reads only the newest used element and
 * jumps its cursor: say which elements it passed over. */
static void teach_last_only_note(teach_expl *e, const teach_span *sp) {
  unsigned bug = e->q == (int)VNET_RXQ ? VBUG_RX_LAST_ONLY : VBUG_TX_LAST_ONLY;
  const teach_rec *r = e->r;
  if (!teach_bug(e, bug) || !sp->n || !r->nsteps) return;
  const teach_ring *pg = &r->steps[r->nsteps - 1].ring[e->q];
  uint16_t from = pg->size ? pg->drv_last_used : 0, newest = (uint16_t)sp->idx_last;
  if (!pg->size || newest == from) return;
  teach_str_add(&e->t,
                " This driver reads only the newest element, at used.idx - 1 = %u, and "
                "jumps its cursor from %u to used.idx (bug %s): used ",
                newest, from, e->q == (int)VNET_RXQ ? "rx-last-only" : "tx-last-only");
  if ((uint16_t)(newest - from) == 1)
    teach_str_add(&e->t, "index %u is passed over, never read.", from);
  else
    teach_str_add(&e->t, "indices %u-%u are passed over, never read.", from,
                  (uint16_t)(newest - 1));
}

/* The driver reads used elements (§2.7.14). */
static void teach_explain_consume(teach_expl *e) {
  const teach_span *sp = &e->f->consume[e->q];
  teach_str *t = &e->t;
  int mrg = teach_mrg_on(e) && e->f->mrg_part;
  if (mrg)
    teach_mrg_consume_title(e);
  else
    teach_title(e, "The driver takes %s from the %s used ring",
                sp->n == 1 ? "a used element" : "used elements", vnet_queue_name((uint16_t)e->q));
  teach_str_add(t, "used.idx = %u is ahead of the driver's cursor, so it reads used ",
                e->g->used_idx);
  teach_slots(t, sp, e->size);
  teach_str_add(t, ": ");
  teach_heads(t, sp);
  teach_str_add(t,
                ", len %u. Its last_used_idx moves to %u and the descriptor is free "
                "again (§2.7.14).",
                sp->len_last, e->g->drv_last_used);
  teach_mod256_note(e, sp);
  teach_last_only_note(e, sp);
  if (mrg)
    teach_mrg_consume(e);
  else if (e->q == (int)VNET_RXQ && teach_bug(e, VBUG_LEGACY_HDR) &&
           sp->len_last > VNET_HDR_LEN - 2) {
    teach_str_add(t,
                  " It takes the header as 10 bytes, the legacy layout (bug legacy-hdr-10), "
                  "so it hands len - 10 = %u bytes to the guest stack, starting 2 bytes "
                  "early: the frame it passes on begins with the header's num_buffers "
                  "(§5.1.6).",
                  sp->len_last - (VNET_HDR_LEN - 2));
    e->st->wrong = 1;
  } else if (e->q == (int)VNET_RXQ && sp->len_last > VNET_HDR_LEN) {
    teach_str_add(t,
                  " It hands the %u-byte frame (len minus the header) to the guest "
                  "stack.",
                  sp->len_last - VNET_HDR_LEN);
  } else if (e->q == (int)VNET_TXQ) {
    teach_str_add(t, " The TX buffer can carry the next frame.");
  }
  teach_wrap(e->r, t, e->q, 1, sp, e->size);
}

static void teach_explain_drop(teach_expl *e) {
  const teach_facts *f = e->f;
  const teach_ring *rx = &e->st->ring[VNET_RXQ];
  teach_title(e, "Frame #%" PRId64 " is dropped: %s", f->fate_frame + 1, emu_fate_name(f->fate));
  if (f->fate == EMU_FATE_RX_NO_BUFFER)
    teach_str_add(&e->t,
                  "The device has no RX buffer to put it in: avail.idx = %u equals its "
                  "last_avail_idx = %u, and it keeps no backlog. A NIC drops the frame "
                  "the same way (§5.1.6.4 needs a buffer from the receive queue).",
                  rx->avail_idx, rx->dev_last_avail);
  else
    teach_str_add(&e->t, "Its fate, decided by the %s: %s.", f->actor ? f->actor : "?",
                  emu_fate_name(f->fate));
  e->st->wrong = 1;
}

/* The indirect table's length rule is in the description of §2.7.5.3, not
 * in the device requirements of §2.7.5.3.2 that the rule table names. */
const char *teach_rule_section(vq_rule rule) {
  if (rule == VQ_RULE_INDIRECT_LEN) return "2.7.5.3";
  return vq_rule_section(rule);
}

void teach_explain_violation(teach_expl *e) {
  const teach_facts *f = e->f;
  const char *name = f->detail ? f->detail : "?";
  vq_rule rule = vq_rule_from_name(name);
  const char *rname = rule != VQ_RULE_NONE ? vq_rule_name(rule) : name;
  int by_driver = f->actor && !strcmp(f->actor, "driver");
  e->st->wrong = 1;
  if (!by_driver) {
    teach_title(e, "The %s breaks a ring rule: %s", f->actor ? f->actor : "?", rname);
    if (rule != VQ_RULE_NONE)
      teach_str_add(&e->t, "%s (virtio 1.2 §%s).", vq_rule_text(rule), teach_rule_section(rule));
    return;
  }
  /* The driver checks what the device wrote: the rule is the device's. */
  teach_title(e, "The driver rejects what it read from the used ring: %s", rname);
  if (rule != VQ_RULE_NONE)
    teach_str_add(&e->t,
                  "The driver does not trust the device: it checks each used element "
                  "and finds that %s, which a device must not do (virtio 1.2 §%s).",
                  vq_rule_text(rule), teach_rule_section(rule));
  int q = e->q;
  uint16_t idx = (uint16_t)e->r->last_consumed[q];
  if (teach_bug(e, VBUG_USED_SLOT_MOD_256) && e->size && idx % 256u != (idx & (e->size - 1u)))
    teach_str_add(&e->t,
                  " But the device did nothing wrong: for used index %u the driver read "
                  "slot %u, %s, instead of slot %u (bug used-slot-mod-256, §2.7.8).",
                  idx, idx % 256u,
                  idx % 256u >= e->size ? "past the end of the ring" : "a stale element",
                  idx & (e->size - 1u));
}

/* ", kicked" / ", kick suppressed" in a fast-forward list, when either happened. */
static void teach_fast_notified(teach_str *t, uint32_t sent, uint32_t suppressed, const char *yes,
                                const char *no) {
  if (sent + suppressed) teach_str_add(t, ", %s", sent ? yes : no);
}

/* The RX half of a fast-forwarded frame, in one sentence. */
static void teach_fast_rx(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  const teach_span *sp = &f->pop[VNET_RXQ];
  uint16_t sz = teach_qsize(e->r->s, VNET_RXQ);
  if (!sp->n) return;
  teach_str_add(t, "rx: the device took ");
  teach_heads_at(t, sp, " from avail ", sz);
  if (f->push[VNET_RXQ].n) {
    teach_str_add(t, " and returned %s in used ", f->push[VNET_RXQ].n > 1 ? "them" : "it");
    teach_slots(t, &f->push[VNET_RXQ], sz);
  }
  teach_fast_notified(t, f->irqs[VNET_RXQ], f->irqs_supp[VNET_RXQ], "interrupted",
                      "interrupt suppressed");
  if (f->consume[VNET_RXQ].n)
    teach_str_add(t, "; the driver read %s", f->consume[VNET_RXQ].n > 1 ? "them" : "it");
  if ((sp = &f->post[VNET_RXQ])->n) {
    teach_str_add(t, ", re-posted ");
    teach_heads_at(t, sp, " in avail ", sz);
  }
  teach_fast_notified(t, f->kicks[VNET_RXQ], f->kicks_supp[VNET_RXQ], "kicked", "kick suppressed");
  teach_str_add(t, ". ");
}

/* The TX half of a fast-forwarded frame (the guest's answer), in one sentence. */
static void teach_fast_tx(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  const teach_span *sp = &f->post[VNET_TXQ];
  uint16_t sz = teach_qsize(e->r->s, VNET_TXQ);
  if (!sp->n) return;
  teach_str_add(t, "tx: the answer went into ");
  teach_heads_at(t, sp, " at avail ", sz);
  teach_fast_notified(t, f->kicks[VNET_TXQ], f->kicks_supp[VNET_TXQ], "kicked", "kick suppressed");
  if (f->pop[VNET_TXQ].n) {
    teach_str_add(t, "; the device sent it and returned it in used ");
    teach_slots(t, &f->push[VNET_TXQ], sz);
  }
  teach_fast_notified(t, f->irqs[VNET_TXQ], f->irqs_supp[VNET_TXQ], "interrupted",
                      "interrupt suppressed");
  if (f->consume[VNET_TXQ].n)
    teach_str_add(t, "; the driver reclaimed %u used TX buffer%s", f->consume[VNET_TXQ].n,
                  f->consume[VNET_TXQ].n == 1 ? "" : "s");
  teach_str_add(t, ". ");
}

void teach_fast_title(teach_expl *e) {
  const teach_facts *f = e->f;
  const char *outcome = !f->pop[VNET_RXQ].n && f->frames_in   ? "finds no RX buffer"
                        : f->stack_fate == EMU_FATE_ANSWERED  ? "in and answered"
                        : f->stack_fate == EMU_FATE_DELIVERED ? "in and delivered"
                        : f->stack_fate != EMU_FATE_PENDING   ? emu_fate_name(f->stack_fate)
                                                              : "in";
  if (f->frames_in)
    teach_title(e, "Fast-forward: frame #%" PRId64 " (%u bytes), %s", f->frame_first + 1,
                f->frame_len, outcome);
  else
    teach_title(e, "Fast-forward: the rest of the run");
}

/* Several frames' worth of steps in one (§2.7.13, §2.7.8, §2.7.14). */
static void teach_explain_fast(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  teach_fast_title(e);
  teach_str_add(t, "The same steps as above, in one (§2.7.13, §2.7.8, §2.7.14). ");
  if (f->frames_in && !f->pop[VNET_RXQ].n)
    teach_str_add(t,
                  "The device finds no RX buffer to take: avail.idx = %u equals its "
                  "last_avail_idx. ",
                  e->st->ring[VNET_RXQ].avail_idx);
  teach_fast_rx(e);
  teach_fast_tx(e);
  for (int k = 0; k < 2; k++) {
    uint16_t sz = teach_qsize(e->r->s, k);
    teach_wrap(e->r, t, k, 0, &f->post[k], sz);
    teach_wrap(e->r, t, k, 1, &f->push[k], sz);
  }
}

typedef void (*teach_explainer)(teach_expl *e);

/* One explainer per step kind. */
static const teach_explainer teach_explainers[TEACH_K_COUNT] = {
    [TEACH_K_STATUS] = teach_explain_status,     [TEACH_K_POST] = teach_explain_post,
    [TEACH_K_PUBLISH] = teach_explain_publish,   [TEACH_K_DEV_TAKE] = teach_explain_dev_take,
    [TEACH_K_DEV_PUSH] = teach_explain_dev_push, [TEACH_K_DEV_PUBLISH] = teach_explain_dev_publish,
    [TEACH_K_IRQ] = teach_explain_irq,           [TEACH_K_CONSUME] = teach_explain_consume,
    [TEACH_K_DROP] = teach_explain_drop,         [TEACH_K_VIOLATION] = teach_explain_violation,
    [TEACH_K_FAST] = teach_explain_fast,         [TEACH_K_SETUP] = teach_explain_setup,
};

/* The driver re-enabled interrupts by moving used_event (§2.7.7), and
 * re-checked the used ring after it, or (with the bug) did not. */
static void teach_explain_used_event(teach_expl *e, const teach_ring *g, const char *on) {
  teach_str_add(&e->t,
                " Meanwhile%s the driver, done with the ring, set used_event = %u: "
                "interrupt me when used.idx moves past %u (§2.7.7).",
                on, g->used_event, g->used_event);
  if (teach_bug(e, VBUG_IRQ_NO_RECHECK))
    teach_str_add(&e->t,
                  " It did not read used.idx again after that: an element the device "
                  "pushed before it saw the new used_event raises no interrupt and waits "
                  "(bug irq-enable-no-recheck; the note in §2.7.14).");
  else
    teach_str_add(&e->t,
                  " After a full barrier it reads used.idx once more and polls again if "
                  "it moved: an element the device pushed before it could see the new "
                  "used_event raises no interrupt, so the loop of §2.7.14 re-checks "
                  "after re-enabling.");
}

/* Without EVENT_IDX: a side stored its flags field, turning the other's
 * notifications off while it works through the ring, or on again once it
 * is done (then it looks at the ring once more: a store the other side
 * made before it could see the change is not notified). */
static void teach_explain_flags(teach_expl *e, int q, const teach_ring *g, const char *on) {
  if (g->hdr_wrote & TEACH_H_AVAIL_FLAGS) {
    if (g->avail_flags && q == (int)VNET_TXQ)
      teach_str_add(&e->t,
                    " Meanwhile%s the driver set avail.flags = 1, VIRTQ_AVAIL_F_NO_INTERRUPT: "
                    "it takes back used TX buffers on its next send and wants no interrupt "
                    "for them (§2.7.7.1).",
                    on);
    else if (g->avail_flags)
      teach_str_add(&e->t,
                    " Meanwhile%s the driver set avail.flags = 1, VIRTQ_AVAIL_F_NO_INTERRUPT: "
                    "no interrupts while it works through the used ring (§2.7.7.1).",
                    on);
    else
      teach_str_add(&e->t,
                    " Meanwhile%s the driver, done with the used ring, cleared avail.flags: "
                    "interrupt me again (§2.7.7.1). %s",
                    on,
                    teach_bug(e, VBUG_IRQ_NO_RECHECK)
                        ? "It did not read used.idx again after that (bug "
                          "irq-enable-no-recheck; the note in §2.7.14)."
                        : "After a full barrier it reads used.idx once more, as the loop of "
                          "§2.7.14 does: an element pushed before the device could see the "
                          "cleared flag raises no interrupt.");
  }
  if (g->hdr_wrote & TEACH_H_USED_FLAGS) {
    if (g->used_flags)
      teach_str_add(&e->t,
                    " Meanwhile%s the device set used.flags = 1, VIRTQ_USED_F_NO_NOTIFY: it is "
                    "working through the available ring and needs no kick (§2.7.10.2).",
                    on);
    else
      teach_str_add(&e->t,
                    " Meanwhile%s the device, finding nothing more to take, cleared used.flags: "
                    "kick me (§2.7.10.2). Then it looked at avail.idx once more, in case the "
                    "driver published before it could see the change.",
                    on);
  }
}

/* The suppression fields are stored without an event of their own: say so
 * when the step saw one written, on its own queue or (as "on the rx
 * queue") on the other. */
static void teach_explain_event_fields(teach_expl *e) {
  if (e->st->kind == TEACH_K_FAST) return;
  for (int k = 0; k < 2; k++) {
    int q = k ? 1 - e->q : e->q;
    const teach_ring *g = &e->st->ring[q];
    char on[32] = "";
    if (q != e->q) snprintf(on, sizeof on, " on the %s queue", vnet_queue_name((uint16_t)q));
    if (!g->size) continue;
    if (!e->event_idx) {
      teach_explain_flags(e, q, g, on);
      continue;
    }
    if (g->hdr_wrote & TEACH_H_AVAIL_EVENT)
      teach_str_add(&e->t,
                    " Meanwhile%s the device, finding nothing more to take, set avail_event = "
                    "%u: kick me when avail.idx moves past %u (§2.7.10). Then it looked at "
                    "avail.idx once more, in case the driver published before it could see "
                    "the request.",
                    on, g->avail_event, g->avail_event);
    if (g->hdr_wrote & TEACH_H_USED_EVENT) teach_explain_used_event(e, g, on);
  }
}

void teach_explain(teach_rec *r, teach_step *st) {
  int q = teach_step_queue(st);
  const vq_drv *d = teach_drv_q(r->s, q);
  teach_expl e = {r, st, &r->f, q, &st->ring[q], d->layout.size, d->event_idx, {0}};
  if (teach_run_packed(r->s)) {
    e.size = teach_qsize(r->s, q);
    e.event_idx = teach_pdrv_q(r->s, q)->event_idx;
    teach_explain_packed(&e);
  } else {
    if ((unsigned)st->kind < TEACH_K_COUNT && teach_explainers[st->kind])
      teach_explainers[st->kind](&e);
    teach_explain_event_fields(&e);
  }
  /* Drop a trailing space left by the fast-forward list. */
  while (e.t.n && e.t.p[e.t.n - 1] == ' ') e.t.p[--e.t.n] = '\0';
  free(st->text);
  st->text = e.t.p;
}

/* --- what each bug switch breaks ------------------------------------------
 * Checked against the virtio 1.2 text: a bug is said to break a section
 * only when it breaks a requirement there (or the ring layout it defines);
 * a driver that follows every rule and still starves itself is called a
 * liveness bug, so that 'replay --check' finding no violation agrees. */

/* The missing-barrier bugs change nothing under sequential consistency,
 * which is what the walkthrough runs under. */
#define TEACH_UNSEEN_UNDER_SC(name, model)                                                     \
  "the walkthrough runs under sequential consistency, where every store is visible at once, "  \
  "so a missing barrier changes nothing here: 'vnetsim explore --bug " name " --memory " model \
  "' finds the interleaving that shows it"

/* The packed ring's own bugs: the walkthrough draws split rings. */
#define TEACH_UNSEEN_PACKED(name, qsize)                                                     \
  "the walkthrough draws split rings, and this is a bug of the packed ring's own: 'vnetsim " \
  "demo --ring packed --qsize " qsize " --bug " name "' shows it, and 'vnetsim bugs' says how"

/* The split ring's own bugs have no form on a packed ring (virtio/vbug.h). */
#define TEACH_UNSEEN_SPLIT_ONLY                                                               \
  "it is a bug of the split ring's own (its indices, arithmetic or barriers), with no form "  \
  "on a packed ring: 'vnetsim teach --ring packed' refuses it, and the walkthrough on split " \
  "rings is where to look"

static const teach_bug_note teach_bug_table[] = {
    {"rx-no-recycle", TEACH_BUG_LIVENESS, "5.1.6.3",
     "A liveness bug: every ring rule is kept, but buffers taken from the RX used ring are never "
     "offered again, and only the driver can supply buffers (§5.1.6.3, §2.7.13), so it starves "
     "itself",
     NULL, NULL},
    {"rx-last-only", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug: no requirement forbids it, but unlike the loop of §2.7.14 it reads only the "
     "newest used element, so in a burst the older frames are lost and their buffers never come "
     "back",
     NULL, NULL},
    {"rx-no-irq-wake", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug: every ring rule is kept, but the used buffer notification does not make "
     "the driver read the used ring (§2.7.14), so frames wait there until something else polls",
     NULL, NULL},
    {"tx-no-reclaim", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug: every ring rule is kept, but used TX buffers are never taken back "
     "(§2.7.14), so the TX ring fills and the guest can no longer send",
     NULL, NULL},
    {"tx-no-kick", TEACH_BUG_BREAKS_RULE, "2.7.10.1",
     "It breaks §2.7.10.1: when avail.idx moves past avail_event (or used.flags is 0), the driver "
     "must send an available buffer notification; this one never notifies for TX",
     NULL, NULL},
    {"kick-before-publish", TEACH_BUG_BREAKS_RULE, "2.7.13.4.1",
     "It breaks §2.7.13.4.1 and the order it protects (§2.7.13.4): expose the new avail.idx, "
     "a full barrier, then read the suppression fields and notify; this driver decides and "
     "notifies first and stores avail.idx later",
     NULL, TEACH_UNSEEN_SPLIT_ONLY},
    {"legacy-hdr-10", TEACH_BUG_BREAKS_RULE, "5.1.6",
     "It breaks §5.1.6, the header layout: with VIRTIO_F_VERSION_1 the virtio_net_hdr ends "
     "with num_buffers and is 12 bytes; the 10-byte header is the legacy one (§5.1.6.1)",
     NULL, NULL},
    {"used-event-stale", TEACH_BUG_LIVENESS, "2.7.7",
     "A liveness bug: a driver may leave used_event alone (§2.7.7), but then the device "
     "rightly stops notifying, and this driver waits for notifications it turned off",
     NULL, TEACH_UNSEEN_SPLIT_ONLY},
    {"irq-enable-no-recheck", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug (a lost wakeup): the note in §2.7.14 says to read used.idx again after "
     "re-enabling notifications; without it, an element pushed just before the device saw the "
     "new used_event is never noticed",
     "the window is the moment between the driver's last read of used.idx and its store of "
     "used_event; no frame of this scenario lands in it: 'vnetsim explore --bug "
     "irq-enable-no-recheck' searches the interleavings that do",
     "the window is the moment between the driver's last look at its next used descriptor and "
     "its store of the driver event suppression structure; no frame of this scenario lands in "
     "it: 'vnetsim explore --ring packed --bug irq-enable-no-recheck' searches the "
     "interleavings that do"},
    {"used-slot-mod-256", TEACH_BUG_BREAKS_RULE, "2.7.8",
     "It breaks §2.7.8, the ring layout: used element i lives in ring[i % Queue Size]; this "
     "driver reads slot i % 256, past the end of a smaller ring",
     NULL, TEACH_UNSEEN_SPLIT_ONLY},
    {"tx-last-only", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug: unlike the loop of §2.7.14 it reclaims only the newest used TX element, so "
     "TX buffers completed together leak until the TX ring is full",
     NULL, NULL},
    {"dev-used-event-equal", TEACH_BUG_BREAKS_RULE, "2.7.7.2",
     "It breaks §2.7.7.2: the device must notify when used.idx moves past used_event; this one "
     "notifies only when used_event is exactly the last index, so a batch that steps over it "
     "raises no notification",
     "the device here returns one buffer at a time, and a single step never steps over "
     "used_event; it takes a batch of used elements that steps over used_event, which this "
     "scenario never forms (and the burst workload of 'vnetsim explore' rarely does)",
     TEACH_UNSEEN_SPLIT_ONLY},
    {"avail-idx-no-wmb", TEACH_BUG_BREAKS_RULE, "2.7.13.3.1",
     "It breaks §2.7.13.3.1: the driver must make a suitable memory barrier before the idx "
     "update; without it the device can see the new avail.idx before the slot and descriptors "
     "it exposes",
     TEACH_UNSEEN_UNDER_SC("avail-idx-no-wmb", "weak"), TEACH_UNSEEN_SPLIT_ONLY},
    {"kick-check-no-mb", TEACH_BUG_BREAKS_RULE, "2.7.13.4.1",
     "It breaks §2.7.13.4.1: the driver must make a suitable memory barrier before reading "
     "flags or avail_event; without it that read can pass its own avail.idx store and miss a "
     "device going idle",
     TEACH_UNSEEN_UNDER_SC("kick-check-no-mb", "tso"), TEACH_UNSEEN_SPLIT_ONLY},
    {"used-idx-no-rmb", TEACH_BUG_BREAKS_RULE, "2.7.14",
     "It breaks §2.7.14's order: the used element is the device's answer only once used.idx "
     "covers it; read without a read barrier after used.idx, it can be read from before",
     TEACH_UNSEEN_UNDER_SC("used-idx-no-rmb", "weak"), TEACH_UNSEEN_SPLIT_ONLY},
    {"irq-enable-no-mb", TEACH_BUG_LIVENESS, "2.7.14",
     "A liveness bug (a lost wakeup): the loop of §2.7.14 re-reads used.idx after re-enabling "
     "notifications, and that read must not pass the store that re-enables them",
     TEACH_UNSEEN_UNDER_SC("irq-enable-no-mb", "tso"), TEACH_UNSEEN_SPLIT_ONLY},
    {"dev-used-idx-no-wmb", TEACH_BUG_BREAKS_RULE, "2.7.8.2",
     "It breaks §2.7.8.2: the device must set len before it updates used.idx; a store of len "
     "that becomes visible after the index is, to the driver, set after it",
     TEACH_UNSEEN_UNDER_SC("dev-used-idx-no-wmb", "weak"), TEACH_UNSEEN_SPLIT_ONLY},
    {"dev-irq-check-no-mb", TEACH_BUG_BREAKS_RULE, "2.7.7.2",
     "It breaks §2.7.7.2: the device must notify when used.idx moves past used_event, and it "
     "decides on a used_event read before its own used.idx store was visible",
     TEACH_UNSEEN_UNDER_SC("dev-irq-check-no-mb", "tso"), TEACH_UNSEEN_SPLIT_ONLY},
    {"dev-avail-event-no-mb", TEACH_BUG_LIVENESS, "2.7.10.2",
     "A liveness bug: the device asks for the next notification (§2.7.10.2) and re-reads "
     "avail.idx, but the re-read can pass the request, so a driver publishing meanwhile neither "
     "notifies nor is seen",
     TEACH_UNSEEN_UNDER_SC("dev-avail-event-no-mb", "tso"), TEACH_UNSEEN_SPLIT_ONLY},
    {"dev-avail-idx-no-rmb", TEACH_BUG_BREAKS_RULE, "2.7.13.3",
     "It breaks §2.7.13.3's order: the available idx is what exposes the descriptors and their "
     "contents; read without a read barrier after it, they can be read from before",
     TEACH_UNSEEN_UNDER_SC("dev-avail-idx-no-rmb", "weak"), TEACH_UNSEEN_SPLIT_ONLY},
    {"drv-packed-no-wrap-toggle", TEACH_BUG_BREAKS_RULE, "2.8.1",
     "It breaks §2.8.1: the driver's wrap counter changes each time it makes the last descriptor "
     "of the ring available, and the AVAIL and USED bits it writes follow it; this one never "
     "changes it",
     TEACH_UNSEEN_PACKED("drv-packed-no-wrap-toggle", "16"), NULL},
    {"drv-packed-used-avail-counter", TEACH_BUG_BREAKS_RULE, "2.8.1",
     "It breaks §2.8.1: a descriptor is used when both bits match the counter of the side that "
     "reads it back; this driver compares them with its avail counter, not its used one",
     TEACH_UNSEEN_PACKED("drv-packed-used-avail-counter", "16"), NULL},
    {"dev-packed-wrap-exact", TEACH_BUG_BREAKS_RULE, "2.8.1",
     "It breaks §2.8.1: the device's wrap counter changes each time it passes the last descriptor "
     "of the ring, also when one chain takes it the whole way round to the same position",
     TEACH_UNSEEN_PACKED("dev-packed-wrap-exact", "2"), NULL},
    {"dev-packed-id-first", TEACH_BUG_BREAKS_RULE, "2.8.6",
     "It breaks §2.8.6: the buffer id is in the last descriptor of a chain; this device takes "
     "the first one's",
     TEACH_UNSEEN_PACKED("dev-packed-id-first", "256"), NULL},
    {"dev-packed-used-no-wmb", TEACH_BUG_BREAKS_RULE, "2.8.15",
     "It breaks §2.8.15: the device must not change a descriptor after changing its USED bit; "
     "without a barrier between them, its id and length can become visible after the flags",
     TEACH_UNSEEN_PACKED("dev-packed-used-no-wmb --memory weak", "256"),
     TEACH_UNSEEN_UNDER_SC("dev-packed-used-no-wmb --ring packed", "weak")},
    {"drv-mrg-first-only", TEACH_BUG_BREAKS_RULE, "5.1.6.4",
     "It breaks §5.1.6.4's format: num_buffers says over how many buffers a frame is spread and "
     "only the first begins with a header; this driver reads every buffer as a frame of its own",
     NULL, NULL},
    {"drv-mrg-repost-first", TEACH_BUG_LIVENESS, "5.1.6.3",
     "A liveness bug: every ring rule is kept, but of the num_buffers buffers a frame took only "
     "the first is offered again, and only the driver can supply buffers (§5.1.6.3), so the ring "
     "drains",
     NULL, NULL},
    {"dev-mrg-num-buffers-one", TEACH_BUG_BREAKS_RULE, "5.1.6.4.1",
     "It breaks §5.1.6.4.1: the device must set num_buffers to the number of buffers the packet "
     "is spread over; this one always writes 1",
     NULL, NULL},
};

const teach_bug_note *teach_bug_notes(size_t *n) {
  *n = sizeof teach_bug_table / sizeof teach_bug_table[0];
  return teach_bug_table;
}

const teach_bug_note *teach_bug_note_find(const char *name) {
  for (size_t i = 0; i < sizeof teach_bug_table / sizeof teach_bug_table[0]; i++)
    if (!strcmp(teach_bug_table[i].name, name)) return &teach_bug_table[i];
  return NULL;
}
