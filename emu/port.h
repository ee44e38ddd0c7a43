/* A frame port: the one seam between a frame producer and a frame consumer.
 *
 * The guest driver offers a port to the guest stack (the stack's netdev), the
 * device offers one to the host side (its backend), and wrappers such as a
 * pcap writer sit between two ports. The owner of the port fills send/impl;
 * the user attaches its receive callback with emu_port_attach(). */
#ifndef VNETSIM_EMU_PORT_H
#define VNETSIM_EMU_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"

typedef struct emu_port emu_port;

/* Called with a received frame, valid for the duration of the call only.
 * Returns what became of it (DELIVERED, ANSWERED or a drop reason), or
 * PENDING when that is decided later (see emu_port_deferral). */
typedef emu_fate (*emu_port_rx_fn)(void *rx_ctx, const uint8_t *frame, size_t len, uint64_t now_ns);
/* Sends a frame through the port; the port copies it before returning.
 * Returns 0 or a negative emu_err code (EMU_ENOSPC when the ring is full). */
typedef int (*emu_port_send_fn)(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Whether the port would take a bulk sender's next frame without holding
 * it past the point where others' frames would be refused: a stopped queue
 * (Linux's netif_queue_stopped) tells TCP to keep its data in its own send
 * buffer until the port has room, as a real stack's qdisc back-pressure
 * does, instead of having it dropped and sent again. */
typedef int (*emu_port_ready_fn)(void *impl);

struct emu_port {
  emu_port_send_fn send;
  void *impl;
  emu_port_rx_fn on_rx;
  void *rx_ctx;
  emu_port_ready_fn ready; /* NULL: always ready */
};

static inline void emu_port_attach(emu_port *p, emu_port_rx_fn on_rx, void *rx_ctx) {
  p->on_rx = on_rx;
  p->rx_ctx = rx_ctx;
}

static inline int emu_port_send(emu_port *p, const uint8_t *frame, size_t len, uint64_t now_ns) {
  return p->send(p->impl, frame, len, now_ns);
}

/* 1 when a bulk sender may send now (see emu_port_ready_fn). The owner
 * wakes its user when it becomes ready again (the driver runs the stack's
 * poll after every TX completion). */
static inline int emu_port_ready(const emu_port *p) { return !p->ready || p->ready(p->impl); }

/* Hands a frame to whoever attached; NO_LISTENER when nobody did. */
static inline emu_fate emu_port_deliver(emu_port *p, const uint8_t *frame, size_t len,
                                        uint64_t now_ns) {
  return p->on_rx ? p->on_rx(p->rx_ctx, frame, len, now_ns) : EMU_FATE_NO_LISTENER;
}

/* Fates decided after the receive callback returned. A receiver that cannot
 * tell at once what becomes of a frame (the guest stack, whose reply waits
 * for ARP) returns EMU_FATE_PENDING for it and reports the fate later,
 * naming the frame by the tag that was current while it was delivered. The
 * deliverer (the driver) owns this beside its port and hands it to the
 * receiver; it is not a field of emu_port so that every port, wrappers
 * included, stays as it is. */
#define EMU_PORT_NO_TAG UINT64_MAX

typedef void (*emu_port_fate_fn)(void *ctx, uint64_t tag, emu_fate fate, uint64_t now_ns);

typedef struct emu_port_deferral {
  emu_port_fate_fn report; /* called once per deferred frame, with its final fate */
  void *ctx;
  /* The frame being delivered now (the driver's ledger id), set before
   * emu_port_deliver and reset to EMU_PORT_NO_TAG after; a receiver returns
   * PENDING only while it is a real tag. */
  uint64_t tag;
} emu_port_deferral;

/* 1 when the frame being delivered may get its fate later. */
static inline int emu_port_can_defer(const emu_port_deferral *d) {
  return d && d->report && d->tag != EMU_PORT_NO_TAG;
}

static inline void emu_port_report(const emu_port_deferral *d, uint64_t tag, emu_fate fate,
                                   uint64_t now_ns) {
  if (d && d->report && tag != EMU_PORT_NO_TAG) d->report(d->ctx, tag, fate, now_ns);
}

#endif
