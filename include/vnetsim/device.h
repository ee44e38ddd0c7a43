/* Bring your own device: your virtio-net device half against the modelled
 * driver (with or without its bug switches) and the guest's network stack.
 *
 * You fill a vns_device_ops and pass it in vns_sim_opts.device. The modelled
 * driver reaches your device only through these callbacks, which stand for
 * register accesses and act at once, except on_kick, which arrives after
 * vns_sim_opts.kick_latency on your device's own actor. Frames the host sends
 * arrive through on_frame after vns_sim_opts.link_latency.
 *
 * What your device owes the run: for each frame from on_frame, exactly one of
 * vns_device_frame_placed() (it went into an RX buffer whose used entry you
 * pushed) or vns_device_frame_dropped() (with a fate name such as
 * "rx_no_buffer"), so every frame's fate adds up; a frame with neither stays
 * "pending", which tests can detect. Interrupts are raised with
 * vns_device_interrupt(), guest frames go to the host with vns_device_send().
 *
 * Rings: through the device-half helpers below (vns_dvq_*), which validate
 * everything the driver wrote before it is used, or by hand through
 * vnetsim/memory.h. */
#ifndef VNETSIM_PUBLIC_DEVICE_H
#define VNETSIM_PUBLIC_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "vnetsim/common.h"
#include "vnetsim/virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every callback gets the ctx given in vns_sim_opts.device_ctx and the sim.
 * All are required except read_config, on_timer, remove and on_finish. Return codes
 * go back to the modelled driver as the transport's answer. Callbacks run
 * inside vns_sim_new() (the driver's probe) or vns_sim_run(); they may use
 * every vns_ call on their sim except vns_sim_run(), vns_sim_finish() and
 * vns_sim_free(). remove runs once, inside vns_sim_free() or a failing
 * vns_sim_new(). */
typedef struct vns_device_ops {
  uint64_t (*device_features)(void *ctx, vns_sim *sim);
  int (*set_driver_features)(void *ctx, vns_sim *sim, uint64_t features);
  uint8_t (*get_status)(void *ctx, vns_sim *sim);
  int (*set_status)(void *ctx, vns_sim *sim, uint8_t status);
  /* NULL: no config space (the driver reads VNS_ERANGE). */
  int (*read_config)(void *ctx, vns_sim *sim, uint32_t off, void *buf, uint32_t len);
  uint16_t (*queue_max_size)(void *ctx, vns_sim *sim, uint16_t q);
  int (*queue_setup)(void *ctx, vns_sim *sim, uint16_t q, const vns_ring_layout *layout);
  /* The driver notified queue q. */
  void (*on_kick)(void *ctx, vns_sim *sim, uint16_t q);
  /* A frame from the host, valid during the call; frame_id numbers it in
   * the fate ledger (vns_sim_frame_fate()). */
  void (*on_frame)(void *ctx, vns_sim *sim, uint32_t frame_id, const uint8_t *frame, size_t len);
  void (*on_timer)(void *ctx, vns_sim *sim, uint64_t now_ns);
  void (*remove)(void *ctx, vns_sim *sim);
  /* Optional: inside vns_sim_finish(), before the ledgers close. A device
   * that holds host frames (a backlog) gives each its fate here with
   * vns_device_frame_dropped(); what it leaves pending stays pending. */
  void (*on_finish)(void *ctx, vns_sim *sim);
} vns_device_ops;

/* Raises the interrupt for queue q (traced); the driver sees it after
 * vns_sim_opts.irq_latency. VNS_EINVAL for a bad queue or a sim without a
 * user device, VNS_ENOMEM. */
VNS_API int vns_device_interrupt(vns_sim *sim, uint16_t q);
/* Sends a configuration change notification (§3.2.1): after your config
 * space changed, or after setting DEVICE_NEEDS_RESET once DRIVER_OK was
 * set (§2.1.2 says you must). The modelled driver reads the link status
 * again. VNS_EINVAL for a sim without a user device, VNS_ENOMEM. */
VNS_API int vns_device_config_changed(vns_sim *sim);
/* Hands a frame the guest sent to the host (copied; traced as frame_out).
 * VNS_EINVAL for NULL, len 0 or a sim without a user device, VNS_ENOMEM. */
VNS_API int vns_device_send(vns_sim *sim, const void *frame, size_t len);
/* Frame frame_id went into the RX chain with this head, whose used entry the
 * device pushed: its fate is decided when the driver reads it. VNS_EINVAL
 * for an unknown frame or a head beyond the queue size. */
VNS_API int vns_device_frame_placed(vns_sim *sim, uint32_t frame_id, uint16_t head);
/* Frame frame_id was dropped by the device with that fate ("rx_no_buffer",
 * "rx_buffer_too_small", "device_not_ready", "device_broken", "link_down",
 * "frame_invalid"; any fate name is accepted). VNS_ENOENT for an unknown
 * fate name, VNS_EINVAL for an unknown frame, VNS_ESTATE when the frame
 * already has a fate. */
VNS_API int vns_device_frame_dropped(vns_sim *sim, uint32_t frame_id, const char *fate);
/* Calls ops->on_timer at at_ns. VNS_ENOTSUP without on_timer. */
VNS_API int vns_device_timer_at(vns_sim *sim, uint64_t at_ns);

/* --- device half of a split virtqueue -------------------------------------
 * Reads the descriptor table and available ring, writes the used ring. The
 * driver's writes are validated first (descriptor index and address range,
 * loops, chain length, readable before writable, indirect rules, avail.idx
 * not jumping, a head not offered twice): the first broken rule breaks the
 * queue (vns_dvq_broken()), is logged and traced; your device should then
 * set DEVICE_NEEDS_RESET (§2.1.2). */
typedef struct vns_dvq vns_dvq;

typedef struct vns_chain {
  uint16_t head;
  uint16_t avail_idx; /* the avail index it was taken from */
  uint32_t nseg;
  uint64_t readable_len; /* bytes the device may read */
  uint64_t writable_len; /* bytes the device may write */
} vns_chain;

#define VNS_DVQ_EVENT_IDX 1u /* EVENT_IDX negotiated */
#define VNS_DVQ_INDIRECT  2u /* INDIRECT_DESC negotiated */
/* RING_PACKED negotiated (§2.8): layout is the descriptor ring (desc), the
 * driver area (avail) and the device area (used); heads are buffer ids; a
 * push is visible as it is made, so vns_dvq_publish() only decides on the
 * interrupt. */
#define VNS_DVQ_PACKED 4u

/* Takes over the ring the driver set up for queue q (call from
 * queue_setup). *out is the caller's: vns_dvq_free() (on reset, say), or
 * vns_sim_free() frees what is left. VNS_EINVAL for bad arguments or a sim
 * without a user device, VNS_EPROTO when a ring part lies outside guest
 * memory, VNS_ENOMEM. */
VNS_API int vns_dvq_new(vns_sim *sim, uint16_t q, const vns_ring_layout *layout, unsigned flags,
                        vns_dvq **out);
VNS_API void vns_dvq_free(vns_dvq *dq);
/* Takes and validates the next available chain: 0 with *out, VNS_EAGAIN when
 * the ring is empty, VNS_EPROTO when the driver broke a rule. */
VNS_API int vns_dvq_pop(vns_dvq *dq, vns_chain *out);
/* Copy from the readable part / into the writable part of the chain last
 * popped, off counting from the start of that part. VNS_ERANGE past its end
 * (nothing copied), VNS_ESTATE when no chain was popped. */
VNS_API int vns_dvq_read(const vns_dvq *dq, uint64_t off, void *dst, size_t len);
VNS_API int vns_dvq_write(vns_dvq *dq, uint64_t off, const void *src, size_t len);
/* Writes a used entry (not yet visible) for a head this queue popped and
 * has not pushed yet, with len at most the chain's device-writable bytes.
 * Anything else is your device's mistake: refused with VNS_EPROTO, nothing
 * written, and logged as a violation (push_not_taken, push_len_too_big,
 * with the head). VNS_EINVAL for NULL. */
VNS_API int vns_dvq_push(vns_dvq *dq, uint16_t head, uint32_t len);
/* Stores used.idx and decides on an interrupt (§2.7.7.2): returns 1 when
 * the driver wants one for what was published since the last call, 0 when
 * not, or a negative code. It does not interrupt: call
 * vns_device_interrupt(). */
VNS_API int vns_dvq_publish(vns_dvq *dq);
/* §2.7.10.2: ask for (or stop asking for) kicks. enable returns 1 when
 * buffers arrived meanwhile (pop again). */
VNS_API int vns_dvq_enable_notify(vns_dvq *dq);
VNS_API void vns_dvq_disable_notify(vns_dvq *dq);
/* The rule that broke the queue ("desc_index_range", ...), NULL while
 * healthy. */
VNS_API const char *vns_dvq_broken(const vns_dvq *dq);

#ifdef __cplusplus
}
#endif

#endif
