/* Fates: every frame that enters the system gets exactly one, counted.
 *
 * The ledger is an observer, not a channel between actors: the device and the
 * driver report to it what they did with a frame (which RX buffer it was
 * written into, which used position it took, what the guest stack did with
 * it), and the ledger keeps one fate per inbound frame. Neither actor's
 * behaviour depends on what the ledger holds. */
#ifndef VNETSIM_EMU_FATE_H
#define VNETSIM_EMU_FATE_H

#include <stddef.h>
#include <stdint.h>

#include "emu/trace.h"

/* One enum for every layer's fates, here in the lowest layer, although the
 * stack's and the fault injector's drop reasons belong above it. It stays
 * one list because the numbers are used as they are: the HTML view colours
 * a fate by its number, the JSON counters loop 1..EMU_FATE_COUNT-1 in this
 * order, that order is also the display order and interleaves the layers
 * (device, driver, stack, link faults), and the ledger itself assigns the
 * virtio fates DRIVER_SKIPPED and RX_NOT_CONSUMED. A split would give each
 * layer its own range of numbers and keep a separate display-order table,
 * so that adding a stack drop reason no longer edits emu/. */
typedef enum emu_fate {
  EMU_FATE_PENDING = 0, /* still travelling: not a final fate */
  EMU_FATE_DELIVERED,   /* consumed by the guest stack (ARP cache, socket, ping) */
  EMU_FATE_ANSWERED,    /* the guest stack's reply to it left the stack (handed to the
                         * driver), at once or once ARP resolved the asker */
  /* drops at the device */
  EMU_FATE_RX_NO_BUFFER,        /* no RX buffer posted, backlog full or never drained */
  EMU_FATE_RX_BUFFER_TOO_SMALL, /* the posted chain cannot hold header + frame */
  EMU_FATE_DEVICE_NOT_READY,    /* DRIVER_OK not set, or the queue not enabled */
  EMU_FATE_DEVICE_BROKEN,       /* the device needs a reset after a driver violation */
  EMU_FATE_LINK_DOWN,           /* link status is down */
  EMU_FATE_FRAME_INVALID,       /* empty or longer than the device accepts */
  /* drops in the guest driver */
  EMU_FATE_DRIVER_SKIPPED,  /* the driver's used cursor moved past it unread */
  EMU_FATE_RX_NOT_CONSUMED, /* in the used ring when the run ended, never read */
  EMU_FATE_DRIVER_REJECTED, /* the driver discarded the used element that held it */
  /* drops in the guest stack */
  EMU_FATE_NOT_FOR_GUEST, /* another MAC or IP address */
  EMU_FATE_MALFORMED,     /* truncated or inconsistent headers */
  EMU_FATE_BAD_CHECKSUM,  /* a header checksum did not verify */
  EMU_FATE_UNSUPPORTED,   /* an ethertype, protocol or message the stack does not handle */
  EMU_FATE_NO_LISTENER,   /* no socket or service for it */
  /* drops in the guest stack's transports (stack/udp, stack/tcp) */
  EMU_FATE_REJECTED,    /* a TCP segment its connection could not accept in its
                             * state (outside the window, unacceptable ACK, stray RST);
                             * RFC 9293 may have it answered by an ACK or a RST */
  EMU_FATE_SOCKET_FULL, /* the socket had no room: UDP receive queue full */
  /* link faults (emu/fault): the first three remove the frame; the other four
   * name a fault done to a frame that travels on and gets its own fate later */
  EMU_FATE_FAULT_DROP,       /* dropped by the fault injector's drop probability */
  EMU_FATE_FAULT_RATE_LIMIT, /* over the link's rate limit (token bucket empty) */
  EMU_FATE_FAULT_MTU,        /* longer than the link's MTU cap */
  EMU_FATE_FAULT_DUPLICATE,  /* a copy the fault injector added */
  EMU_FATE_FAULT_REORDER,    /* held back and released after later frames */
  EMU_FATE_FAULT_CORRUPT,    /* one byte changed */
  EMU_FATE_FAULT_DELAY,      /* held for an extra delay */
  /* input the host could not send */
  EMU_FATE_BAD_TIMESTAMP,    /* a capture time the virtual clock cannot hold (EMU_TIME_MAX) */
  EMU_FATE_LINK_UNSUPPORTED, /* a captured record that cannot be made an Ethernet frame */
  /* a reply the guest stack made that never left it (after the others so
   * that no fate's number changes) */
  EMU_FATE_REPLY_UNRESOLVED, /* the guest's reply waited for ARP and was dropped: ARP gave up,
                              * the ARP queue was full, or the run ended first */
  /* guest->host frames (the TX ledger); the TX queue also takes the device's
   * DEVICE_NOT_READY, DEVICE_BROKEN, LINK_DOWN and FRAME_INVALID and the
   * link's FAULT_* */
  EMU_FATE_SENT,              /* reached the host's end of the link */
  EMU_FATE_TX_RING_FULL,      /* the driver had no free TX descriptor or buffer for it */
  EMU_FATE_TX_NOT_KICKED,     /* in the TX ring when the run ended, no kick sent after it */
  EMU_FATE_TX_NOT_TAKEN,      /* in the TX ring when the run ended although kicked, or
                               * passed over by the device */
  EMU_FATE_TX_CHAIN_REJECTED, /* the device refused its chain (a broken TX rule) */
  EMU_FATE_NO_MEMORY,         /* vnetsim ran out of host memory carrying it */
  EMU_FATE_TX_NOT_RECLAIMED,  /* held by the driver for a TX buffer that never came back */
  /* captured TCP conversations the host plays the client of (sim/conv.h) */
  EMU_FATE_COMPARED,             /* a segment the recorded server sent: the guest answers in its
                                  * place, so it is compared with the guest's, never sent */
  EMU_FATE_CONVERSATION_STOPPED, /* a client segment of a conversation that had stopped (its
                                  * reason in the conversation's report): not sent */
  /* an IPv4 fragment whose datagram the guest never completed (stack/reasm.h):
   * the rest did not come in time, the run ended first, or the table was
   * full */
  EMU_FATE_REASSEMBLY_TIMEOUT,
  EMU_FATE_COUNT
} emu_fate;

/* The stable snake_case name used in traces and summaries ("rx_no_buffer"). */
const char *emu_fate_name(emu_fate fate);
/* 1 for DELIVERED, ANSWERED and SENT, 0 for a drop or PENDING. */
int emu_fate_is_success(emu_fate fate);

/* The directions a fate can be given in: host->guest frames (the RX
 * ledger), guest->host frames (the TX ledger), or both. */
#define EMU_FATE_TO_GUEST 1u
#define EMU_FATE_TO_HOST  2u
unsigned emu_fate_directions(emu_fate fate);

typedef struct emu_fate_rec {
  emu_fate fate;
  emu_fate fault;      /* a link fault done to it on the way (FAULT_*), or PENDING */
  uint64_t entered_ns; /* virtual time the frame entered the system */
  uint64_t fated_ns;   /* virtual time its fate was decided */
} emu_fate_rec;

/* Sees a record the ledger is about to forget (emu_fates_window). */
typedef void (*emu_fates_retire_fn)(void *ctx, uint32_t id, const emu_fate_rec *r);

typedef struct emu_fates {
  /* The records of ids base .. nframes-1, that of base at frames[head]:
   * without a window, base and head stay 0 and frames[id] is id's. */
  emu_fate_rec *frames;
  size_t nframes, cap; /* nframes: every frame that entered, forgotten ones too */
  size_t base, head;
  emu_fates_retire_fn retire; /* with a window: sees each record before it goes */
  void *retire_ctx;
  uint64_t counts[EMU_FATE_COUNT];
  uint64_t double_fates; /* a second fate for one frame: a bug in vnetsim */
  /* RX buffers holding a frame, indexed by descriptor head */
  uint32_t *slot_frame; /* UINT32_MAX when the buffer holds no tracked frame */
  uint32_t nslots;
  /* Heads in the order their used elements were pushed: the driver reads the
   * used ring in that order, so anything older than what it reads was skipped. */
  uint32_t *order;
  uint32_t order_first, order_len;
  /* Every fate is traced (frame_fate, queue = this ledger's queue) as it is
   * decided, so the trace carries all of them. */
  emu_trace *trace;
  const char *queue;
  /* What a frame gets when a later one is taken from the queue before it
   * (RX: DRIVER_SKIPPED), and when it is still in a buffer at the end (RX:
   * RX_NOT_CONSUMED). */
  emu_fate overtaken, left_over;
} emu_fates;

/* queue_size: number of descriptor heads in the queue (buffers tracked). An
 * RX ledger, untraced until emu_fates_trace(). */
int emu_fates_init(emu_fates *f, uint32_t queue_size);
/* Traces every fate decided from now on into t, naming queue ("rx", "tx"). */
void emu_fates_trace(emu_fates *f, emu_trace *t, const char *queue);
void emu_fates_close(emu_fates *f);
/* Keeps the ledger bounded by what is in flight, not by the frames that
 * ever entered: from now on, once a frame and every frame before it have
 * their fates, retire sees its record (in id order) and the ledger forgets
 * it. Counts stay exact; emu_fates_get() then finds only the frames not yet
 * forgotten. */
void emu_fates_window(emu_fates *f, emu_fates_retire_fn retire, void *ctx);
/* Frame id's record, or NULL when it never entered or was forgotten. */
const emu_fate_rec *emu_fates_get(const emu_fates *f, uint64_t id);
/* Registers a new inbound frame; returns its id (0, 1, ...) or a negative error. */
int64_t emu_fates_enter(emu_fates *f, uint64_t now_ns);
/* Notes a fault done to frame id that did not remove it (corrupt, delay,
 * reorder, duplicate): its fate will name both. The first fault noted stays. */
void emu_fates_note_fault(emu_fates *f, uint32_t id, emu_fate fault);
/* Gives frame id its one fate, decided by actor ("device", "driver",
 * "host", ...) about the chain at head (-1: none), and traces it. A second
 * call for the same frame (forgotten or not) is counted in double_fates and
 * ignored; returns EMU_ESTATE then. */
int emu_fates_set(emu_fates *f, uint32_t id, emu_fate fate, uint64_t now_ns, const char *actor,
                  int64_t head);
/* Frame id went into the chain with this head, put there by actor: RX, the
 * device wrote it and pushed the used element; TX, the driver made it
 * available. A frame the buffer still held is overtaken now (its buffer was
 * reused before the other side read it). */
void emu_fates_in_buffer(emu_fates *f, uint32_t head, uint32_t id, uint64_t now_ns,
                         const char *actor);
/* The other side took the chain at head (RX: the driver read its used
 * element; TX: the device popped it); returns the frame it holds, or -1
 * when it holds no tracked frame. Frames put in buffers before this one and
 * still there are overtaken now, decided by actor. */
int64_t emu_fates_take_buffer(emu_fates *f, uint32_t head, uint64_t now_ns, const char *actor);
/* 1 when the chain at head holds a frame its other side has not taken. */
int emu_fates_holds(const emu_fates *f, uint32_t head);
/* The fate a frame still in a buffer at the end gets (emu_fates_finish_each). */
typedef emu_fate (*emu_fates_left_fn)(void *ctx, const emu_fate_rec *r);
/* Ends a run: frames still in buffers get left_over (RX_NOT_CONSUMED). */
void emu_fates_finish(emu_fates *f, uint64_t now_ns);
/* Ends a run, asking pick for each frame still in a buffer. */
void emu_fates_finish_each(emu_fates *f, uint64_t now_ns, emu_fates_left_fn pick, void *ctx);
/* Frames with a final fate; equal to nframes after emu_fates_finish() unless
 * some are still pending (a bug the tests look for). */
uint64_t emu_fates_total(const emu_fates *f);

#endif
