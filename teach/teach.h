/* The teaching view: a run recorded as steps of the virtqueue protocol.
 *
 * A recorder watches a scenario through the trace (every ring and
 * notification event), merges consecutive events that make up one action
 * ("the driver posts 8 buffers", "the device publishes used.idx and
 * interrupts") into a step, and at the end of each step reads the three ring
 * areas of both queues back from guest memory, together with the driver's
 * and the device's private cursors and who owns each descriptor. Each step
 * is explained in a sentence or two and tied to the virtio 1.2 section that
 * rules it. Renderers draw the steps for a terminal or as one self-contained
 * HTML page.
 *
 * The recorder sees the driver's initialisation (which happens inside
 * scn_init) through the trace sink, the only part of the trace scn_init
 * installs before it probes; after scn_init it switches to the observer.
 * Nothing here prints: errors are returned, the command decides. */
#ifndef VNETSIM_TEACH_TEACH_H
#define VNETSIM_TEACH_TEACH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/scn.h"

/* Who holds a descriptor at a given moment. */
typedef enum teach_owner {
  TEACH_OWN_FREE = 0, /* on the driver's free list */
  TEACH_OWN_AVAIL,    /* offered in the available ring, not yet taken by the device */
  TEACH_OWN_DEVICE,   /* taken by the device (popped), not yet returned: in flight */
  TEACH_OWN_USED,     /* returned in the used ring, waiting for the driver */
  TEACH_OWN_LOST,     /* the driver still counts it as offered, but its used element
                       * was passed over: no one will ever give it back */
  /* Ownership changes hands only when an index is stored (§2.7.13.3: storing
   * avail.idx "exposes the descriptor and its contents"; §2.7.8.2: used.idx
   * after the element). Until then a written entry is still its writer's: */
  TEACH_OWN_POSTED, /* in the available ring, but avail.idx not stored over it yet */
  TEACH_OWN_PUSHED, /* its used element written, but used.idx not stored over it yet */
  TEACH_OWN_COUNT
} teach_owner;

/* "free", "avail", "device", "used", "lost", "posted", "pushed" */
const char *teach_owner_name(teach_owner o);

/* What a step wrote into one slot of a queue (teach_ring.wrote). */
enum { TEACH_W_DESC = 1, TEACH_W_AVAIL = 2, TEACH_W_USED = 4 };
/* What a step wrote into a ring's header fields (teach_ring.hdr_wrote). */
enum {
  TEACH_H_AVAIL_FLAGS = 1,
  TEACH_H_AVAIL_IDX = 2,
  TEACH_H_USED_EVENT = 4,
  TEACH_H_USED_FLAGS = 8,
  TEACH_H_USED_IDX = 16,
  TEACH_H_AVAIL_EVENT = 32
};
/* A packed ring's event suppression structures (§2.8.10) carry the requests
 * the split ring's header fields do, so they share the bits: the driver's
 * area says what avail.flags and used_event say, the device's what
 * used.flags and avail_event say. */
enum {
  TEACH_H_DRV_EVENT_FLAGS = TEACH_H_AVAIL_FLAGS,
  TEACH_H_DRV_EVENT_DESC = TEACH_H_USED_EVENT,
  TEACH_H_DEV_EVENT_FLAGS = TEACH_H_USED_FLAGS,
  TEACH_H_DEV_EVENT_DESC = TEACH_H_AVAIL_EVENT
};

typedef struct teach_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
  uint16_t id; /* packed rings: the buffer id (§2.8.13); split rings: 0 */
} teach_desc;

/* A packed ring's cursor: a position and the wrap counter that goes with
 * it (§2.8.1). */
typedef struct teach_wpos {
  uint16_t pos;
  uint8_t wrap;
} teach_wpos;

typedef struct teach_used_elem {
  uint32_t id, len;
} teach_used_elem;

/* One queue's ring as guest memory held it, plus both sides' cursors. */
typedef struct teach_ring {
  uint16_t size; /* 0: the queue was not set up yet */
  uint16_t avail_flags, avail_idx, used_event;
  uint16_t used_flags, used_idx, avail_event;
  /* the driver's private cursors (vq_drv) */
  uint16_t drv_avail_shadow, drv_avail_published, drv_last_used, drv_num_free;
  /* the device's private cursors (vq_dev) */
  uint16_t dev_last_avail, dev_used_shadow;
  teach_desc *desc;      /* size entries */
  uint16_t *avail;       /* size entries */
  teach_used_elem *used; /* size entries */
  uint8_t *owner;        /* size entries, teach_owner */
  uint8_t *wrote;        /* size entries, TEACH_W_*: written during the step, even with the
                          * value memory already held */
  uint8_t hdr_wrote;     /* TEACH_H_*: header fields written during the step; the
                          * suppression fields and flags, stored without a trace record
                          * of their own, count as written when their value changed */
  uint16_t count[TEACH_OWN_COUNT];
  /* A packed ring (§2.8): desc[] is the descriptor ring itself, indexed by
   * position (next unused, id the buffer id); avail[] and used[] and the
   * split ring's header fields and cursors stay 0. owner[] and wrote[] are
   * by position; a step that made descriptors available marks them
   * TEACH_W_AVAIL, one that marked a descriptor used TEACH_W_USED. */
  int packed;
  teach_wpos drv_next_avail, drv_next_used; /* the driver's private cursors */
  teach_wpos dev_next_avail, dev_next_used; /* the device's */
  uint16_t drv_event_flags, drv_event_desc; /* driver event suppression (§2.8.14) */
  uint16_t dev_event_flags, dev_event_desc; /* device event suppression */
} teach_ring;

/* Under a memory model (emu/mm.h): a store one side made that the other
 * cannot see yet. */
#define TEACH_BUF_SHOWN 6
typedef struct teach_pending {
  char field[40];       /* "rx avail.idx", "tx desc[3].len", "buffer 0x40012340" */
  uint32_t len;         /* bytes */
  uint64_t value;       /* its first 8 bytes, little-endian */
  uint64_t lands_in_ns; /* after the step's last event */
} teach_pending;

/* One side's store buffer after a step: how many stores, the oldest shown. */
typedef struct teach_buffer {
  uint32_t n;
  teach_pending shown[TEACH_BUF_SHOWN];
} teach_buffer;

/* What a step is about. */
typedef enum teach_kind {
  TEACH_K_STATUS,      /* the driver wrote the device status byte */
  TEACH_K_POST,        /* the driver wrote descriptors and avail slots */
  TEACH_K_PUBLISH,     /* the driver stored avail.idx, then kicked or not */
  TEACH_K_DEV_TAKE,    /* a kick or a frame reached the device; it popped chains */
  TEACH_K_DEV_PUSH,    /* the device wrote used elements */
  TEACH_K_DEV_PUBLISH, /* the device stored used.idx, then interrupted or not */
  TEACH_K_IRQ,         /* the interrupt reached the driver */
  TEACH_K_CONSUME,     /* the driver read used elements */
  TEACH_K_DROP,        /* a frame was dropped (its fate names why) */
  TEACH_K_VIOLATION,   /* a side broke a ring rule */
  TEACH_K_FAST,        /* several frames fast-forwarded into one step */
  TEACH_K_SETUP,       /* split rings: the driver set a queue up in guest memory */
  TEACH_K_COUNT
} teach_kind;

/* §5.1.6: struct virtio_net_hdr with VERSION_1 (12 bytes), as one RX
 * buffer held it. */
typedef struct teach_net_hdr {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} teach_net_hdr;

/* Whose view of a buffer's header a step shows (teach_step.hdr_shown). */
enum {
  TEACH_HDR_NONE = 0,
  TEACH_HDR_WRITTEN, /* the device wrote it in this step */
  TEACH_HDR_READ     /* the driver read it in this step */
};

/* The entries of an indirect table a step draws. */
#define TEACH_IND_SHOWN 8

/* One step: the merged events, what they did, and (for kept steps) the
 * rings after it. */
typedef struct teach_step {
  uint32_t index; /* among every step of the run, from 0 */
  uint64_t t_ns;  /* virtual time of its first event, from the run's start */
  teach_kind kind;
  int queue;       /* VNET_RXQ, VNET_TXQ, or -1 */
  uint32_t events; /* trace events merged into it */
  uint32_t evmask; /* 1 << emu_trace_kind of each */
  int64_t head;    /* the last descriptor head it concerns, or -1 */
  int wrong;       /* 1: the moment a bug shows; 2: a later consequence */
  char title[120];
  char *text;         /* the explanation, with its spec section(s) */
  teach_ring ring[2]; /* rx and tx after the step (size 0 when not kept or not set up) */
  /* Under a memory model: the driver's [0] and the device's [1] store
   * buffers after the step (all empty under sc). The rings above are
   * memory as both sides see it; these are what only their maker sees. */
  teach_buffer buffers[2];
  /* With mergeable RX buffers (§5.1.6.4): the virtio_net_hdr at the start
   * of the RX buffer the step is about (TEACH_HDR_*), which head (split) or
   * buffer id (packed) holds it, and where. */
  int hdr_shown;
  teach_net_hdr hdr;
  int64_t hdr_head;
  uint64_t hdr_addr;
  /* A TX step whose head points at an indirect table (§2.7.5.3): the
   * table's address and its first entries, as guest memory held them. */
  uint16_t nind; /* entries drawn (0: none), at most TEACH_IND_SHOWN */
  uint16_t ind_total;
  uint64_t ind_addr;
  int64_t ind_head;
  teach_desc ind[TEACH_IND_SHOWN];
  /* The host frame's first buffer, when the driver finished joining that
   * frame in this step; -2 when the step took a frame's buffer but not
   * its last; -1: as head (one buffer per frame). */
  int64_t frame_head;
} teach_step;

/* Queue q's size as the driver set it up, on either ring format; 0 before. */
uint16_t teach_queue_size(const scn *s, int q);
/* 1 when the run's queues are packed rings (negotiated at probe). */
int teach_run_packed(const scn *s);

/* The queue a step is drawn with: its own, or rx for a step about both
 * queues or neither (status, fast-forward). */
int teach_step_queue(const teach_step *st);

/* One point of the occupancy timeline: heads per owner in each queue. */
typedef struct teach_point {
  uint64_t t_ns;
  uint64_t idle_ns; /* the longest time without any event since the point before it
                     * (the kept one: what lies between two kept points is covered) */
  uint32_t step;
  uint16_t count[2][TEACH_OWN_COUNT];
} teach_point;

/* A notification or a drop, for the timeline's marks. */
typedef struct teach_mark {
  uint64_t t_ns;
  uint32_t step;
  uint8_t what;  /* TEACH_MARK_* */
  uint8_t queue; /* VNET_RXQ / VNET_TXQ */
  uint16_t fate; /* emu_fate, for drops */
  int64_t frame;
} teach_mark;

enum { TEACH_MARK_KICK, TEACH_MARK_IRQ, TEACH_MARK_DROP, TEACH_MARK_VIOLATION, TEACH_MARK_COUNT };

/* An idle gap: this long without any ring or notification event. */
#define TEACH_IDLE_GAP_NS 1000000ull

typedef struct teach_opts {
  size_t max_steps;       /* steps kept with their rings; beyond, every other one is
                      * dropped and the stride doubles (0: 1000) */
  size_t max_points;      /* timeline points kept the same way (0: 4000) */
  size_t max_marks;       /* per mark kind (0: 4000) */
  uint16_t max_ring_size; /* queues larger than this keep no ring snapshots, only
                           * counts and timeline (0: no limit) */
} teach_opts;

typedef struct teach_rec teach_rec;

/* A new recorder; NULL when out of memory. */
teach_rec *teach_rec_new(const teach_opts *opts);
void teach_rec_free(teach_rec *r);

/* Before scn_init(s, cfg): makes the recorder cfg's trace observer, so the
 * probe inside scn_init is recorded too. Returns 0. */
int teach_rec_hook(teach_rec *r, scn *s, scn_config *cfg);
/* After scn_init succeeded: records from the trace observer from now on. */
void teach_rec_attach(teach_rec *r);
/* Closes the last step and releases the hook; call after the run (and after
 * scn_finish, so the last fates are recorded). */
void teach_rec_finish(teach_rec *r);
/* From now on, one step per host frame (plus drops and violations on their
 * own), instead of one per action: a fast-forward. */
void teach_rec_set_coarse(teach_rec *r, int on);

/* Kept steps in order, and how many steps the run had in all. */
const teach_step *teach_rec_steps(const teach_rec *r, size_t *n);
size_t teach_rec_total_steps(const teach_rec *r);
size_t teach_rec_step_stride(const teach_rec *r);
const teach_point *teach_rec_points(const teach_rec *r, size_t *n, size_t *stride);
const teach_mark *teach_rec_marks(const teach_rec *r, int what, size_t *n, uint64_t *total);
/* Idle gaps (TEACH_IDLE_GAP_NS or longer) between consecutive events of the
 * whole run, and the longest time between two events. */
uint64_t teach_rec_idle_gaps(const teach_rec *r, uint64_t *longest_ns);
/* 1 when the queues were too large to keep ring snapshots (max_ring_size). */
int teach_rec_rings_capped(const teach_rec *r);

/* --- the walkthrough ---------------------------------------------------- */

typedef struct teach_walk_opts {
  uint64_t seed;
  uint16_t queue_size; /* 2..64 */
  unsigned bugs, dev_bugs;
  unsigned frames;    /* host frames: an ARP request, then echo requests */
  unsigned detailed;  /* frames shown action by action; later ones fast-forward */
  unsigned burst;     /* echo requests sent at the same moment, 200 us between bursts
                      * (0 or 1: one at a time); bursts show the last-only bugs */
  FILE *trace_sink;   /* or NULL */
  emu_mm_kind memory; /* the memory model (sc: none) */
  int packed;         /* packed rings (§2.8) instead of split ones */
  /* Mergeable RX buffers (VIRTIO_NET_F_MRG_RXBUF, §5.1.6.4): the device
   * offers them and the driver takes them. With them the walkthrough's
   * pings carry TEACH_MRG_PING_PAYLOAD bytes (less when the mtu is
   * smaller), so each spans several RX buffers. */
  int mergeable;
  uint16_t mtu;         /* VIRTIO_NET_F_MTU offered with this mtu; 0: not offered (with
                         * mergeable buffers: TEACH_MRG_MTU) */
  uint32_t rx_buf_size; /* bytes per RX buffer, header included; 0: the driver's default */
  /* The driver does not take VIRTIO_F_EVENT_IDX: the flags fields suppress
   * notifications instead (VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY,
   * §2.7.7, §2.7.10; on a packed ring ENABLE and DISABLE, §2.8.10). */
  int no_event_idx;
  /* Sees every trace record after the recorder, or NULL: a test compares
   * what was recorded with guest memory at that moment. */
  emu_trace_observer_fn observer;
  void *observer_ctx;
} teach_walk_opts;

/* queue 8, seed 1, no bugs, 10 frames, the first 2 detailed. */
void teach_walk_opts_default(teach_walk_opts *o);

/* With mergeable RX buffers and no --mtu: a jumbo mtu, so that the pings
 * below fit one frame, as Linux uses mergeable buffers for such frames. */
#define TEACH_MRG_MTU 9000u
/* With mergeable RX buffers: bytes of echo data in each ping, so that a
 * frame (12-byte header, 14 + 20 + 8 bytes of Ethernet, IP and ICMP
 * headers, the data) spans three of the driver's default 1526-byte
 * buffers. */
#define TEACH_MRG_PING_PAYLOAD 4000u
/* The Ethernet, IPv4 and ICMP headers around an echo request's data. */
#define TEACH_ETH_IP_ICMP_LEN 42u
/* The echo data each ping of the walkthrough carries: 56 bytes as ping(8)
 * sends, or with mergeable buffers TEACH_MRG_PING_PAYLOAD, either cut to
 * fit the mtu (a host does not send a ping larger than its link's). */
uint32_t teach_walk_ping_payload(const teach_walk_opts *o);
/* How many RX buffers the largest frame of the walkthrough takes (1
 * without mergeable buffers). A walkthrough whose frame needs more than
 * the queue holds is refused by teach_walk_run. */
uint32_t teach_walk_buffers_per_frame(const teach_walk_opts *o);
/* The burst a walkthrough with these bugs uses unless told: 2 for the bugs
 * that show only when used elements pile up (the last-only bugs), else 1. */
unsigned teach_walk_default_burst(unsigned bugs, unsigned dev_bugs);
/* The queue size a walkthrough with these bugs uses unless told: 2 for the
 * bug that shows only when one chain spans the whole ring
 * (dev-packed-wrap-exact: a TX chain is two descriptors), else 8. */
uint16_t teach_walk_default_qsize(unsigned bugs, unsigned dev_bugs);
/* How many frames the walkthrough shows action by action (frames 1 to n);
 * later ones are fast-forwarded. */
unsigned teach_walk_detailed_frames(const teach_walk_opts *o);

/* A finished walkthrough: the scenario's counters and the recording. */
typedef struct teach_walk {
  teach_walk_opts opts;
  /* the recorder's observer, which teach_walk_run chains before opts.observer */
  emu_trace_observer_fn rec_observer;
  void *rec_observer_ctx;
  scn *s; /* finished scenario (with its host peer), owned */
  teach_rec *rec;
} teach_walk;

/* Runs the walkthrough scenario: the host (slirp's gateway) ARPs for the
 * guest and pings it, each frame 200 us after the last, with a device that
 * keeps no backlog, so a frame with no buffer is dropped at once. Returns 0
 * or a negative emu_err code. */
int teach_walk_run(const teach_walk_opts *o, teach_walk *w);
void teach_walk_free(teach_walk *w);

/* --- what each bug switch breaks ---------------------------------------- */

typedef enum teach_bug_kind {
  TEACH_BUG_BREAKS_RULE, /* breaks a requirement or the layout of its section */
  TEACH_BUG_LIVENESS     /* follows the protocol, but starves or stalls itself */
} teach_bug_kind;

typedef struct teach_bug_note {
  const char *name; /* as 'vnetsim bugs' lists it */
  teach_bug_kind kind;
  const char *section;       /* the virtio 1.2 section the claim is about */
  const char *claim;         /* one sentence: what it breaks, or why it is a liveness bug */
  const char *unseen;        /* NULL when the walkthrough shows it; else why it cannot, and
                        * where to see it instead */
  const char *unseen_packed; /* the same for the walkthrough on packed rings */
} teach_bug_note;

/* The note on the bug with that name, or NULL. */
const teach_bug_note *teach_bug_note_find(const char *name);
/* Every note, in the bug catalogue's order. */
const teach_bug_note *teach_bug_notes(size_t *n);
/* The virtio 1.2 section teach cites for a ring rule: the rule table's,
 * except where that one is known to be wrong. */
const char *teach_rule_section(vq_rule rule);

/* --- memory models (teach/memory.c) ------------------------------------- */

/* The ring field or buffer a guest address lies in: "rx avail.idx",
 * "tx desc[3].len", "rx used.ring[2].id", "buffer 0x40012340". */
void teach_field_name(const scn *s, uint64_t gpa, char *buf, size_t cap);
/* One side's store buffer as one line ("empty", or "rx avail.idx=3 in
 * 1.2 us, ... and 4 more"); returns buf. */
const char *teach_buffer_line(const teach_buffer *b, char *buf, size_t cap);
/* "tso" or "weak" when the walk ran under a memory model, else NULL. */
const char *teach_memory_name(const scn *s);

/* --- renderers ---------------------------------------------------------- */

typedef struct teach_render_opts {
  int colour; /* ANSI colour; otherwise changes are marked with '*' */
} teach_render_opts;

/* The header of the walkthrough (scenario, features, bug). */
void teach_render_intro(FILE *out, const teach_walk *w, const teach_render_opts *ro);
/* Step i of the kept steps (i < n), with what changed since step i - 1. */
void teach_render_step(FILE *out, const teach_walk *w, size_t i, const teach_render_opts *ro);
/* The run's counters at the end. */
void teach_render_outro(FILE *out, const teach_walk *w, const teach_render_opts *ro);

/* Writes the HTML page for a recorded, finished scenario. title is shown
 * in the page; source names where the run came from ("teach", "replay"). 0,
 * or EMU_EIO when writing failed. */
int teach_write_html(FILE *out, const scn *s, const teach_rec *r, const char *title,
                     const char *source);

/* The recorder options a replay page uses: at most 300 steps with their
 * rings, 4000 timeline points and 2000 marks of each kind. */
void teach_opts_for_replay(teach_opts *o);

#endif
