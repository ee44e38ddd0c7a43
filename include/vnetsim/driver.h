/* Bring your own driver: your virtio-net driver code against the simulated
 * device and its conformance checks.
 *
 * You fill a vns_driver_ops and pass it in vns_sim_opts.driver. The sim then
 * builds guest memory, the modelled virtio-net device and the host, and runs
 * your driver as the guest CPU, an actor of its own:
 *
 *   probe         once, inside vns_sim_new(): reset, negotiate features
 *                 through the transport, set up the queues, post RX buffers,
 *                 set DRIVER_OK (virtio 1.2 §3.1.1), then kick RX
 *                 (vns_transport_notify) once DRIVER_OK is set: a kick
 *                 before it breaks §3.1.1 and the device would not look;
 *   on_interrupt  each time the device's interrupt reaches the guest (after
 *                 vns_sim_opts.irq_latency): consume used entries, re-post
 *                 buffers, kick;
 *   on_timer      when a deadline set with vns_driver_timer_at() comes;
 *   remove        once, inside vns_sim_free() (or inside a vns_sim_new()
 *                 that fails after probe was called).
 *
 * Callbacks run inside vns_sim_new() or vns_sim_run(); they may use every
 * vns_ call on their sim except vns_sim_run(), vns_sim_finish() and
 * vns_sim_free().
 *
 * Your code may also be called directly between vns_sim_run() calls (to send
 * a frame, say): it then runs at vns_sim_now().
 *
 * Rings: either through the driver-half helpers below (vns_vq_*), which write
 * descriptors and the available ring and check what the device wrote in the
 * used ring, or by hand through vnetsim/memory.h and the addresses in
 * vnetsim/virtio.h. Whatever you write, the device validates before it trusts
 * it; a broken rule is logged (vns_sim_violation()), traced, and sets
 * DEVICE_NEEDS_RESET where the spec says so.
 *
 * Fates: when your driver reads an RX used entry, the sim must learn which
 * buffer it read to give the frame in it its fate. vns_vq_get_used() and
 * vns_vq_take_used_at() on the RX queue tell it; a driver reading the used
 * ring by hand calls vns_driver_rx_consumed(). An RX entry read makes its
 * frame "delivered" (or "driver_rejected"); entries pushed before it and
 * never read become "driver_skipped"; entries unread at vns_sim_finish()
 * "rx_not_consumed". The sim runs no guest stack above your driver, so a
 * frame's fate is final when the entry is read: "answered" and
 * "reply_unresolved" (what the modelled stack's replies earn) do not occur. */
#ifndef VNETSIM_PUBLIC_DRIVER_H
#define VNETSIM_PUBLIC_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "vnetsim/common.h"
#include "vnetsim/virtio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The driver's way to the device: configuration calls act at once (a register
 * access); a notify arrives after vns_sim_opts.kick_latency. Owned by the
 * sim; valid until vns_sim_free(). */
typedef struct vns_transport vns_transport;

typedef struct vns_driver_ops {
  /* Required. Returns 0, or a negative code that makes vns_sim_new() fail
   * with it. */
  int (*probe)(void *ctx, vns_sim *sim, vns_transport *t);
  /* Required. queue: the queue the device interrupted for. */
  void (*on_interrupt)(void *ctx, vns_sim *sim, uint16_t queue);
  /* Optional (NULL). */
  void (*on_timer)(void *ctx, vns_sim *sim, uint64_t now_ns);
  /* Optional (NULL): release what ctx holds. */
  void (*remove)(void *ctx, vns_sim *sim);
  /* Optional (NULL): the device sent a configuration change notification
   * (§3.2.1): its config space changed (the link status, say: read it
   * again), or it set DEVICE_NEEDS_RESET (§2.1.2). */
  void (*on_config_change)(void *ctx, vns_sim *sim);
} vns_driver_ops;

/* The transport of a sim built with a user driver; NULL otherwise. */
VNS_API vns_transport *vns_sim_transport(vns_sim *sim);

/* §3.1.1 feature negotiation and status. set_driver_features is valid
 * between DRIVER and FEATURES_OK (VNS_ESTATE otherwise); a device refusing
 * the features leaves FEATURES_OK unset in the status read back. */
VNS_API uint64_t vns_transport_device_features(vns_transport *t);
VNS_API int vns_transport_set_driver_features(vns_transport *t, uint64_t features);
VNS_API uint8_t vns_transport_status(vns_transport *t);
/* 0 resets the device. VNS_EINVAL for unknown bits, VNS_ESTATE for clearing
 * a bit without a reset or DRIVER_OK without FEATURES_OK. */
VNS_API int vns_transport_set_status(vns_transport *t, uint8_t status);
/* Reads the device config space (vnetsim/virtio.h VNS_CFG_*); VNS_ERANGE
 * past its end. */
VNS_API int vns_transport_read_config(vns_transport *t, uint32_t off, void *buf, uint32_t len);
/* Largest queue size the device takes for queue q; 0 for no such queue. */
VNS_API uint16_t vns_transport_queue_max_size(vns_transport *t, uint16_t q);
/* Hands queue q's ring to the device and enables it. Valid after
 * FEATURES_OK and before DRIVER_OK (VNS_ESTATE otherwise, and after
 * DRIVER_OK also a logged violation); VNS_EINVAL for a bad size or queue;
 * VNS_EPROTO when a ring part lies outside guest memory. */
VNS_API int vns_transport_queue_setup(vns_transport *t, uint16_t q, const vns_ring_layout *layout);
/* Notifies the device about queue q (a "kick", traced); the device acts on
 * it after kick_latency. VNS_EINVAL for a bad queue. */
VNS_API int vns_transport_notify(vns_transport *t, uint16_t q);

/* Calls ops->on_timer at virtual time at_ns (now when in the past). Several
 * deadlines may be pending; each fires once. VNS_ENOTSUP without a user
 * driver or without on_timer, VNS_ENOMEM. */
VNS_API int vns_driver_timer_at(vns_sim *sim, uint64_t at_ns);

/* Tells the sim your driver read the RX used entry for descriptor head
 * (only needed when reading the used ring by hand). accepted: nonzero when
 * the driver took the frame in it, 0 when it threw it away. Returns 0;
 * VNS_ENOENT when that buffer holds no frame the sim knows of (already
 * read, or empty); VNS_EINVAL for a bad head; VNS_ENOTSUP without a user
 * driver. */
VNS_API int vns_driver_rx_consumed(vns_sim *sim, uint16_t head, int accepted);

/* Tells the sim your driver put a frame in the TX chain with this head (on
 * a packed ring: the position of the chain's first descriptor), only needed
 * when writing the TX ring by hand: vns_vq_add() on the TX queue does it.
 * The frame enters the guest->host ledger now and gets its fate there: "sent" when it reaches the host, "tx_chain_rejected" when the
 * device refuses its chain, "tx_not_kicked" or "tx_not_taken" when it is
 * still in the ring at vns_sim_finish(), ... A chain the device takes
 * without it enters the ledger then. VNS_EINVAL for a bad head,
 * VNS_ENOTSUP without a user driver, VNS_ENOMEM. */
VNS_API int vns_driver_tx_queued(vns_sim *sim, uint16_t head);

/* --- driver half of a split virtqueue -------------------------------------
 * Owns the descriptor table and available ring, reads the used ring. Its
 * cursors are private (never reread from shared memory), and everything it
 * reads from the used ring is checked first (§2.7.8: the id must be a head in
 * flight, the length within the chain's writable bytes). */
typedef struct vns_vq vns_vq;

typedef struct vns_sg {
  uint64_t gpa;
  uint32_t len;
} vns_sg;

typedef struct vns_used {
  uint16_t head;
  uint32_t len;
  void *token; /* what vns_vq_add() was given; NULL when the entry was bad */
} vns_used;

#define VNS_VQ_EVENT_IDX 1u /* EVENT_IDX was negotiated (§2.7.7, §2.7.10) */
/* INDIRECT_DESC was negotiated: a buffer of 2 to VNS_VQ_INDIRECT_MAX
 * segments goes in an indirect table, one ring descriptor (§2.7.5.3) */
#define VNS_VQ_INDIRECT     2u
#define VNS_VQ_INDIRECT_MAX 16u
/* The packed layout (§2.8; negotiate VNS_F_RING_PACKED, which the modelled
 * device offers with vns_sim_opts.ring = VNS_RING_PACKED): one descriptor
 * ring and two event suppression areas, handed over through
 * vns_vq_layout() as desc = the ring, avail = the driver area, used = the
 * device area. Heads are buffer ids; vns_vq_publish() stores nothing (a
 * packed add is available at once) and only says whether to notify; the
 * size need not be a power of two; no indirect tables (yet);
 * vns_vq_used_idx(), vns_vq_set_last_used() and vns_vq_take_used_at() are
 * the split ring's (0, nothing, VNS_ENOTSUP), vns_vq_last_used() is the
 * used cursor with its wrap counter in bit 15. */
#define VNS_VQ_PACKED 4u

/* Allocates queue q's ring in guest memory (size: a power of two, at most
 * 32768; flags: VNS_VQ_*). Pass vns_vq_layout() to
 * vns_transport_queue_setup(). *out is owned by the caller: vns_vq_free(),
 * or vns_sim_free() frees what is left. VNS_EINVAL for bad arguments or a
 * sim without a user driver, VNS_ENOSPC when guest memory is short,
 * VNS_ENOMEM. */
VNS_API int vns_vq_new(vns_sim *sim, uint16_t q, uint16_t size, unsigned flags, vns_vq **out);
/* Frees the host side (guest memory stays allocated). NULL is a no-op. */
VNS_API void vns_vq_free(vns_vq *vq);
VNS_API vns_ring_layout vns_vq_layout(const vns_vq *vq);
/* Offers one buffer: n_out device-readable segments then n_in writable ones
 * (§2.7.4.2). Writes descriptors and the avail slot; does not publish.
 * token comes back in vns_used.token and must not be NULL (a NULL token there
 * means "a bad entry"). Returns the head (>= 0), VNS_ENOSPC when free
 * descriptors are short, VNS_EINVAL for a NULL token, an empty request or
 * one longer than the queue. */
VNS_API int vns_vq_add(vns_vq *vq, const vns_sg *sg, unsigned n_out, unsigned n_in, void *token);
/* Stores avail.idx (§2.7.13.3). Returns 1 when the device asked to be
 * notified for it (§2.7.10), 0 when not, or a negative code. It does not
 * notify: call vns_transport_notify(). */
VNS_API int vns_vq_publish(vns_vq *vq);
/* Takes the used entry at the cursor and advances it: 0 with *out,
 * VNS_EAGAIN when there is none, VNS_EPROTO when the device broke a rule (a
 * logged violation; out->token is non-NULL when the buffer can still be
 * recycled). After used_idx_jump (used.idx past everything in flight) the
 * cursor stays put: the entry is believed once the device takes it back. */
VNS_API int vns_vq_get_used(vns_vq *vq, vns_used *out);
/* used.idx as the device stored it (no checks). */
VNS_API uint16_t vns_vq_used_idx(const vns_vq *vq);
/* The private cursor: the next used index this driver will read. */
VNS_API uint16_t vns_vq_last_used(const vns_vq *vq);
/* Moves the private cursor. It does not store used_event: with EVENT_IDX,
 * the next vns_vq_enable_interrupts() does. */
VNS_API void vns_vq_set_last_used(vns_vq *vq, uint16_t idx);
/* Reads and checks the used entry at used index idx without moving the
 * cursor, then frees its descriptors (for drivers that keep their own
 * cursor). It does not store used_event either. Same returns as
 * vns_vq_get_used() but never VNS_EAGAIN. */
VNS_API int vns_vq_take_used_at(vns_vq *vq, uint16_t idx, vns_used *out);
/* Used-buffer notification suppression (§2.7.7). enable returns 1 when
 * entries are already pending (poll again: the interrupt for them may have
 * been decided before the request was visible), else 0. */
VNS_API void vns_vq_disable_interrupts(vns_vq *vq);
VNS_API int vns_vq_enable_interrupts(vns_vq *vq);
/* Free descriptors. */
VNS_API unsigned vns_vq_num_free(const vns_vq *vq);

#ifdef __cplusplus
}
#endif

#endif
