#include "virtio/vbug.h"

#include <stdio.h>
#include <string.h>

#include "emu/err.h"
#include "virtio/vq.h"

static const vbug_info vbug_table[] = {

    {"rx-no-recycle", VBUG_SIDE_DRIVER, VBUG_RX_NO_RECYCLE,
     "a buffer read from the RX used ring is never added to the available ring again",
     "after queue-size frames the device has no buffer: every later frame is rx_no_buffer",
     "post each RX buffer again once its frame is handed to the stack", "5.1.6.3", NULL, 0, NULL},
    {"rx-last-only", VBUG_SIDE_DRIVER, VBUG_RX_LAST_ONLY,
     "each receive reads only the used element at used.idx - 1 and sets the cursor to used.idx",
     "of k frames that arrive between two polls, 1 is delivered and k-1 are driver_skipped; "
     "their buffers never return",
     "read every element from the cursor up to used.idx, one by one", "2.7.14", NULL, 0, NULL},
    {"rx-no-irq-wake", VBUG_SIDE_DRIVER, VBUG_RX_NO_IRQ_WAKE,
     "the RX interrupt does not wake the driver; RX is looked at only when the stack sends or "
     "a stack timer fires",
     "an idle guest never answers: ARP and pings time out, inbound frames wait in the used ring",
     "run the RX path from the interrupt handler", "2.7.14", NULL, 0, NULL},
    {"tx-no-reclaim", VBUG_SIDE_DRIVER, VBUG_TX_NO_RECLAIM,
     "used TX buffers are never taken back from the used ring",
     "after queue-size sends the TX ring is full and the guest cannot send at all",
     "reclaim used TX buffers before each send (or on the TX interrupt)", "2.7.14", NULL, 0, NULL},
    {"tx-no-kick", VBUG_SIDE_DRIVER, VBUG_TX_NO_KICK,
     "the driver publishes TX buffers but never notifies the device",
     "the device never looks at the TX ring: the guest's frames never leave",
     "notify after publishing unless the device suppressed it (vq_need_event)", "2.7.10.1", NULL, 0,
     NULL},
    {"kick-before-publish", VBUG_SIDE_DRIVER, VBUG_KICK_BEFORE_PUBLISH,
     "the driver notifies the device before the store to avail.idx is visible",
     "when the kick outruns the store, the device finds nothing, goes idle, and the frame waits "
     "for the next kick (seed-dependent)",
     "store avail.idx, full barrier, then decide and notify", "2.7.13.4.1", NULL, 0, NULL},
    {"legacy-hdr-10", VBUG_SIDE_DRIVER, VBUG_LEGACY_HDR,
     "the driver uses the 10-byte legacy virtio_net_hdr although VERSION_1 makes it 12 bytes",
     "every frame is shifted by 2 bytes both ways: the guest sees malformed or foreign frames, "
     "the host receives corrupted ones",
     "with VIRTIO_F_VERSION_1 the header always has num_buffers: 12 bytes", "5.1.6", NULL, 0, NULL},
    {"used-event-stale", VBUG_SIDE_DRIVER, VBUG_USED_EVENT_STALE,
     "under VIRTIO_F_EVENT_IDX the driver never writes used_event after start",
     "the device interrupts once, then never again until the index wraps: RX stalls",
     "write used_event = last seen used index when re-enabling interrupts", "2.7.7", NULL, 0, NULL},
    {"irq-enable-no-recheck", VBUG_SIDE_DRIVER, VBUG_IRQ_NO_RECHECK,
     "the driver re-enables interrupts and sleeps without looking at the used ring again",
     "a frame pushed while interrupts were being re-enabled raises no interrupt: the driver "
     "sleeps forever (a lost wakeup; only some interleavings, see 'vnetsim explore')",
     "after enabling, check used.idx once more and poll again if it moved", "2.7.14", NULL, 0,
     NULL},
    {"used-slot-mod-256", VBUG_SIDE_DRIVER, VBUG_USED_SLOT_MOD_256,
     "the used-ring slot is computed as index % 256 whatever the queue size",
     "correct at queue size 256 only: smaller queues read past the ring, larger ones reread "
     "stale slots; bad ids are rejected and frames lost",
     "mask the free-running index with queue size - 1", "2.7.8", NULL, 0, NULL},
    {"tx-last-only", VBUG_SIDE_DRIVER, VBUG_TX_LAST_ONLY,
     "TX completion reads only the newest used element and jumps the cursor",
     "TX buffers completed together leak one by one until the TX ring is full",
     "reclaim every used element from the cursor to used.idx", "2.7.14", NULL, 0, NULL},
    {"dev-used-event-equal", VBUG_SIDE_DEVICE, VBUG_DEV_USED_EVENT_EQUAL,
     "the device interrupts only when used_event equals the index of the last element it "
     "pushed, instead of when a batch crosses used_event",
     "a batch that steps over used_event raises no interrupt and the driver hangs; whether a "
     "batch does depends on timing, so some seeds hang and others do not",
     "interrupt when used_event lies in [old, new): vq_need_event()", "2.7.7.2", NULL, 0, NULL},
    {"avail-idx-no-wmb", VBUG_SIDE_DRIVER, VBUG_AVAIL_IDX_NO_WMB,
     "the driver stores avail.idx with no write barrier after writing the descriptors and the "
     "ring slot",
     "the device can see the new index before the slot or a descriptor: it pops a stale head or "
     "reads an old descriptor (a head_in_flight or desc_* violation, a frame in the wrong "
     "buffer); only stores that drain out of order show it (--memory weak)",
     "virtio_wmb() before the avail.idx store", "2.7.13.3.1", "weak", VQ_BAR_AVAIL_WMB,
     "hobby-OS drivers written on x86, where stores drain in order and hide it"},
    {"kick-check-no-mb", VBUG_SIDE_DRIVER, VBUG_KICK_CHECK_NO_MB,
     "after storing avail.idx the driver reads avail_event (or the used ring's NO_NOTIFY flag) "
     "with no full barrier between",
     "the load passes the store: a device going idle at that moment re-reads the old avail.idx "
     "while the driver reads the old avail_event and skips the kick; the buffers wait for the "
     "next kick (--memory tso)",
     "virtio_mb() between the avail.idx store and reading the suppression field", "2.7.13.4.1",
     "tso", VQ_BAR_KICK_MB,
     "no public fix of its own known here; Linux's virtqueue_kick_prepare() has the barrier"},
    {"used-idx-no-rmb", VBUG_SIDE_DRIVER, VBUG_USED_IDX_NO_RMB,
     "the driver reads the used element with no read barrier after reading used.idx",
     "the element's load is satisfied before the index's: for a new index the driver reads the "
     "old id or len (used_id_not_in_flight or a wrong length, a frame lost) (--memory weak)",
     "virtio_rmb() between reading used.idx and the element", "2.7.14", "weak", VQ_BAR_USED_RMB,
     "no public fix of its own known here; Linux's virtqueue_get_buf() has the barrier"},
    {"irq-enable-no-mb", VBUG_SIDE_DRIVER, VBUG_IRQ_ON_NO_MB,
     "the driver re-enables interrupts (stores used_event or clears NO_INTERRUPT) and re-reads "
     "used.idx with no full barrier between",
     "the re-read passes the store: the device reads the old suppression and does not "
     "interrupt, the driver reads the old used.idx and sleeps; a lost wakeup, frames stay in "
     "the used ring (--memory tso)",
     "virtio_mb() between re-enabling and the re-check", "2.7.14", "tso", VQ_BAR_IRQ_ON_MB,
     "the ordering form of the lost wakeup; Linux's virtqueue_poll() has the barrier"},
    {"dev-used-idx-no-wmb", VBUG_SIDE_DEVICE, VBUG_DEV_USED_IDX_NO_WMB,
     "the device stores used.idx with no write barrier after writing the used element and the "
     "packet bytes",
     "the driver can see the new index before the element: it reads an old id or len "
     "(used_id_not_in_flight, used_len_too_big, a wrong length) and frames are lost "
     "(--memory weak)",
     "a write barrier before the used.idx store", "2.7.8.2", "weak", VQ_BAR_USED_WMB,
     "lkl, the Linux kernel library's virtio device (fixed 2016)"},
    {"dev-irq-check-no-mb", VBUG_SIDE_DEVICE, VBUG_DEV_IRQ_CHECK_NO_MB,
     "after storing used.idx the device reads used_event (or the NO_INTERRUPT flag) with no full "
     "barrier between",
     "the load passes the store: a driver re-enabling interrupts at that moment reads the old "
     "used.idx and sleeps while the device reads the old suppression and does not interrupt; "
     "the guest hangs (--memory tso)",
     "a full barrier between publishing used.idx and reading the suppression field (Linux "
     "vhost's smp_mb() in vhost_notify())",
     "2.7.7.2", "tso", VQ_BAR_IRQ_MB, "the ACRN device model (fixed 2019) and SPDK vhost (2023)"},
    {"dev-avail-event-no-mb", VBUG_SIDE_DEVICE, VBUG_DEV_AVAIL_EVENT_NO_MB,
     "the device writes avail_event (or clears NO_NOTIFY) and re-reads avail.idx with no full "
     "barrier between",
     "the re-read passes the store: a driver publishing at that moment reads the old "
     "avail_event and does not kick while the device reads the old avail.idx and goes idle; "
     "TX stalls until the next kick (--memory tso)",
     "a full barrier between the store and the re-read (Linux vhost_enable_notify())", "2.7.10.2",
     "tso", VQ_BAR_NOTIFY_ON_MB,
     "Cloud Hypervisor's update_avail_event (fixed 2021: virtio-net with EVENT_IDX hung under "
     "iperf)"},
    {"dev-avail-idx-no-rmb", VBUG_SIDE_DEVICE, VBUG_DEV_AVAIL_IDX_NO_RMB,
     "the device reads the avail slot and the descriptors with no read barrier after reading "
     "avail.idx",
     "the slot's load is satisfied before the index's: the device pops a stale head (a "
     "head_in_flight or desc_* violation, a buffer used twice) (--memory weak)",
     "a read barrier after reading avail.idx", "2.7.13.3", "weak", VQ_BAR_AVAIL_RMB,
     "no public fix of its own known here; Linux vhost's vhost_get_vq_desc() has the barrier"},
    {"drv-packed-no-wrap-toggle", VBUG_SIDE_DRIVER, VBUG_PACKED_NO_WRAP_TOGGLE,
     "the driver never flips its avail wrap counter when its position passes the end of the ring",
     "after the first lap every descriptor it makes available carries the old counter's flags, "
     "which the device reads as not available: from the (size+1)-th RX buffer on the device has "
     "none (rx_no_buffer), and TX stops",
     "flip the counter each time the position wraps", "2.8.1", NULL, 0, NULL},
    {"drv-packed-used-avail-counter", VBUG_SIDE_DRIVER, VBUG_PACKED_USED_AVAIL_COUNTER,
     "the driver tests a descriptor for used with its avail wrap counter instead of its used one",
     "right only while both counters agree: a driver that fills the ring at start has already "
     "flipped its avail counter, so it never sees a used descriptor; frames stay in the ring "
     "(rx_not_consumed) and the guest never answers",
     "test AVAIL and USED against the used wrap counter", "2.8.1", NULL, 0, NULL},
    {"dev-packed-wrap-exact", VBUG_SIDE_DEVICE, VBUG_DEV_PACKED_WRAP_EXACT,
     "the device flips its avail wrap counter only when its position comes out smaller than "
     "before, so a chain as long as the ring, which lands back on the same position, leaves the "
     "counter stale",
     "the next descriptor looks unavailable and the queue stalls: with a 2-entry queue every TX "
     "chain (header and frame) spans the ring, so the guest's frames after the first never leave: "
     "the next waits in the ring unkicked (the stale event offset asks for no notification, "
     "tx_not_kicked) and the rest find the ring full (tx_ring_full)",
     "flip once for every full lap passed, however long the chain", "2.8.1", NULL, 0,
     "openvmm's packed queue (fixed 2026)"},
    {"dev-packed-id-first", VBUG_SIDE_DEVICE, VBUG_DEV_PACKED_ID_FIRST,
     "the device takes a chain's buffer id from its first descriptor instead of its last",
     "one-descriptor chains work; on a TX chain of two it returns the id the driver left in the "
     "first (0): the driver gets back a buffer it did not offer (used_id_not_in_flight) or the "
     "wrong one, and TX buffers leak",
     "read the buffer id in the last descriptor of the chain", "2.8.6", NULL, 0,
     "sysprog21/kvm-host's packed queue (fixed 2026)"},
    {"dev-packed-used-no-wmb", VBUG_SIDE_DEVICE, VBUG_DEV_PACKED_USED_NO_WMB,
     "the device stores a used descriptor's flags with no write barrier after its id and length",
     "the driver can see the descriptor used before its id or length: it takes an old id "
     "(used_id_not_in_flight, a buffer lost) or an old length, so a frame arrives cut or with "
     "another's bytes (not_for_guest, malformed) (--memory weak)",
     "a write barrier between the id and length and the flags", "2.8.15", "weak", VQ_BAR_USED_WMB,
     "no public fix of its own known here; QEMU's packed ring stores the flags last, after a "
     "write barrier"},
    {"drv-mrg-first-only", VBUG_SIDE_DRIVER, VBUG_MRG_FIRST_ONLY,
     "with mergeable RX buffers the driver ignores num_buffers: it reads each used buffer as a "
     "whole frame behind a header of its own",
     "a frame that took k > 1 buffers arrives cut to its first buffer (the stack drops it as "
     "malformed) and its other k-1 buffers are read as frames of their own, their first 12 "
     "bytes, the frame's, taken for a header",
     "read num_buffers from the first buffer's header and join that many buffers into one frame",
     "5.1.6.4", NULL, 0, NULL},
    {"drv-mrg-repost-first", VBUG_SIDE_DRIVER, VBUG_MRG_REPOST_FIRST,
     "with mergeable RX buffers the driver posts only a frame's first buffer again, not the "
     "other num_buffers - 1",
     "every frame spread over k buffers costs the ring k-1 buffers for good: after enough large "
     "frames none is left and every later frame is rx_no_buffer",
     "post every buffer a frame took again, num_buffers of them", "5.1.6.3", NULL, 0, NULL},
    {"dev-mrg-num-buffers-one", VBUG_SIDE_DEVICE, VBUG_DEV_MRG_NUM_BUFFERS_ONE,
     "with mergeable RX buffers the device writes num_buffers 1 whatever number of buffers the "
     "frame took",
     "the driver takes a frame's first buffer for the whole frame (cut: the stack drops it) and "
     "each further buffer for a frame of its own, whose header is the frame's bytes: "
     "num_buffers_invalid, or more frames dropped",
     "count the buffers the frame is spread over and write that count", "5.1.6.4.1", NULL, 0, NULL},
};

const char *vbug_packed_form(const vbug_info *b) {
  if (b->side == VBUG_SIDE_DEVICE ? (b->bit & VBUG_DEV_MRG_ONLY) : (b->bit & VBUG_MRG_ONLY))
    return "the same: mergeable RX buffers work alike on both rings";
  if (b->side == VBUG_SIDE_DEVICE ? (b->bit & VBUG_DEV_PACKED_ONLY) : (b->bit & VBUG_PACKED_ONLY))
    return "the packed ring's own: it shows with --ring packed only (refused on the split ring)";
  if (b->side == VBUG_SIDE_DEVICE || (b->bit & VBUG_SPLIT_ONLY))
    return "none: it is the split ring's own (its indices, arithmetic or barriers); refused "
           "with --ring packed";
  if (b->bit & (VBUG_RX_LAST_ONLY | VBUG_TX_LAST_ONLY))
    return "takes every used descriptor and keeps only the newest: the older ones are passed "
           "over as the split ring's jumping cursor passes them";
  return "the same: it is the driver's, whatever the ring";
}

const vbug_info *vbug_catalogue(size_t *count) {
  *count = sizeof vbug_table / sizeof vbug_table[0];
  return vbug_table;
}

const vbug_info *vbug_find(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof vbug_table / sizeof vbug_table[0]; i++)
    if (strlen(vbug_table[i].name) == len && !strncmp(vbug_table[i].name, name, len))
      return &vbug_table[i];
  return NULL;
}

int vbug_parse(const char *list, unsigned *driver_bugs, unsigned *device_bugs) {
  unsigned drv = 0, dev = 0;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    const vbug_info *b = vbug_find(p, n);
    if (b && b->side == VBUG_SIDE_DRIVER)
      drv |= b->bit;
    else if (b)
      dev |= b->bit;
    else if (n == 5 && !strncmp(p, "redox", 5))
      drv |= VBUG_REDOX;
    else if (!(n == 4 && !strncmp(p, "none", 4)))
      return EMU_EINVAL;
    p += n;
    if (*p == ',') p++;
  }
  *driver_bugs = drv;
  *device_bugs = dev;
  return 0;
}

const char *vbug_names(unsigned driver_bugs, unsigned device_bugs, char *buf, size_t cap) {
  size_t used = 0;
  if (cap) buf[0] = '\0';
  for (size_t i = 0; i < sizeof vbug_table / sizeof vbug_table[0]; i++) {
    const vbug_info *b = &vbug_table[i];
    unsigned set = b->side == VBUG_SIDE_DRIVER ? driver_bugs : device_bugs;
    if (!(set & b->bit)) continue;
    int w = snprintf(buf + used, cap > used ? cap - used : 0, "%s%s", used ? "," : "", b->name);
    if (w > 0) used += (size_t)w;
  }
  if (!used) snprintf(buf, cap, "none");
  return buf;
}

unsigned vbug_omitted_barriers(vbug_side side, unsigned bugs) {
  unsigned omit = 0;
  for (size_t i = 0; i < sizeof vbug_table / sizeof vbug_table[0]; i++)
    if (vbug_table[i].side == side && (bugs & vbug_table[i].bit)) omit |= vbug_table[i].omits;
  return omit;
}
