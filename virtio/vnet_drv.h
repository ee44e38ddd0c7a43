/* The guest's virtio-net driver model, shaped like Redox's virtio-netd.
 *
 * probe: reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK, queue
 * setup, every RX buffer posted, DRIVER_OK. RX: on the interrupt, every used
 * element from the cursor to used.idx is read, handed to the guest stack and
 * its buffer posted again. TX: header + frame in one chain, kick unless the
 * device suppressed it, used TX buffers reclaimed before each send.
 *
 * The driver is an actor of its own (the guest CPU): interrupts arrive as
 * events, and the guest stack above it is run from the same actor through a
 * poll hook, so the stack's timers are the driver's timers.
 *
 * Bug switches reproduce the Redox try_recv() defects on demand; with none
 * set the driver is correct. */
#ifndef VNETSIM_VIRTIO_VNET_DRV_H
#define VNETSIM_VIRTIO_VNET_DRV_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"
#include "emu/frameq.h"
#include "emu/gmem.h"
#include "emu/port.h"
#include "emu/sched.h"
#include "emu/trace.h"
#include "virtio/vbug.h"
#include "virtio/vnet.h"
#include "virtio/vq_drv.h"
#include "virtio/vq_packed.h"

enum {
  VNET_DRV_EV_IRQ = 1,    /* the device's interrupt (arg = queue it was for) */
  VNET_DRV_EV_TIMER,      /* the guest stack's next deadline */
  VNET_DRV_EV_POLL,       /* an RX poll deferred from the transmit path */
  VNET_DRV_EV_REARM,      /* RX found empty: re-enable its interrupt now */
  VNET_DRV_EV_PUBLISH,    /* a delayed avail.idx store lands (arg = queue) */
  VNET_DRV_EV_KICK_CHECK, /* under a memory model: the kick decision after a
                           * publish, a moment later (gmem_mm_gap_ns) */
  VNET_DRV_EV_TX_WAKE,    /* TX buffers came back as the hold began: release */
};

typedef struct vnet_drv_opts {
  uint16_t queue_size; /* 0: the device's maximum */
  uint64_t features;   /* asked for; negotiated = asked & offered */
  /* Bytes per RX buffer, header included; 0: room for one frame of the
   * negotiated mtu (1526 without it), or 1526 with mergeable buffers. */
  uint32_t rx_buf_len;
  unsigned bugs;           /* VBUG_* driver bits (virtio/vbug.h) */
  emu_latency irq_latency; /* device interrupt to driver actor */
  /* From finding the RX ring empty to re-enabling its interrupt: the
   * instructions in between, during which the device can push unseen. */
  emu_latency rearm_delay;
  /* How long a delayed avail.idx store takes to land (kick-before-publish). */
  emu_latency store_delay;
} vnet_drv_opts;

/* queue_size 0, VERSION_1|MAC|STATUS|EVENT_IDX|INDIRECT_DESC, RX buffers
 * sized as rx_buf_len 0 says, no bugs, interrupt latency 1..3 us, re-arm 0..200 ns, store
 * delay 0..500 ns. */
void vnet_drv_opts_default(vnet_drv_opts *o);

/* Runs the guest stack's timers; returns its next deadline or EMU_TIME_NEVER. */
typedef uint64_t (*vnet_drv_poll_fn)(void *ctx, uint64_t now_ns);

typedef struct vnet_drv_stats {
  uint64_t rx_frames, rx_bytes, rx_empty, rx_reposted;
  uint64_t rx_bad_used; /* used elements rejected (vq_drv distrust) */
  uint64_t rx_merged;   /* frames joined from more than one buffer */
  uint64_t tx_frames, tx_bytes, tx_ring_full, tx_reclaimed, tx_bad_used;
  uint64_t tx_held; /* frames that waited for a TX buffer (back-pressure) */
  uint64_t kicks[VNET_NUM_QUEUES], kicks_suppressed[VNET_NUM_QUEUES];
  uint64_t interrupts, interrupts_spurious;
} vnet_drv_stats;

typedef struct vnet_drv {
  vnet_drv_opts opts;
  gmem *mem;
  const virtio_transport *t;
  emu_actor actor;
  emu_fates *fates;    /* host->guest frames, or NULL */
  emu_fates *tx_fates; /* guest->host frames, or NULL (vnet_drv_set_tx_ledger) */
  emu_trace *trace;
  uint64_t last_kick_ns[VNET_NUM_QUEUES]; /* EMU_TIME_NEVER before the first */
  uint64_t features;
  uint8_t mac[VNET_MAC_LEN];
  int link_up;
  int packed;          /* VIRTIO_F_RING_PACKED negotiated: prxq and ptxq, else rxq and txq */
  int mergeable;       /* VIRTIO_NET_F_MRG_RXBUF negotiated */
  uint32_t max_frame;  /* by the negotiated mtu, else 1518 */
  uint32_t rx_buf_len; /* as opts.rx_buf_len, 0 resolved at probe */
  vq_drv rxq, txq;
  vqp_drv prxq, ptxq;
  uint64_t rx_bufs, tx_bufs; /* guest-physical bases of the buffer pools */
  uint32_t tx_buf_len;
  uint16_t *tx_free; /* indices of free TX buffers (a stack) */
  uint32_t tx_nfree;
  /* Back-pressure: frames the stack handed over while the TX ring was full,
   * in order, sent as the ring takes them (VNET_DRV_TX_HOLD at most). */
  emu_frameq held;
  int tx_stopped;  /* holding: the TX interrupt is asked for */
  emu_port netdev; /* the guest stack's view of this driver */
  /* Fates the stack decides after its receive returned (a reply waiting
   * for ARP): tagged with the frame's ledger id during delivery. */
  emu_port_deferral deferral;
  vnet_drv_poll_fn poll;
  void *poll_ctx;
  uint64_t timer_at; /* earliest armed stack deadline */
  int rx_poll_queued, in_rx, rearm_queued;
  int publish_queued[VNET_NUM_QUEUES];
  int kick_check_queued[VNET_NUM_QUEUES];
  uint16_t kick_check_from[VNET_NUM_QUEUES]; /* avail.idx the queued decision starts from */
  uint32_t hdr_len;                          /* 12, or 10 for the legacy-header bug */
  vnet_drv_stats stats;
  uint8_t rx_scratch[VNET_RX_BUF_MAX];
} vnet_drv;

/* The RX buffer length the driver posts for opts.rx_buf_len `asked` (0:
 * one frame of the mtu, or 1526 with mergeable buffers), and its TX
 * buffers' length (a frame of the mtu and the header, aligned); mtu 0: no
 * VIRTIO_NET_F_MTU, Ethernet's 1500. */
uint32_t vnet_drv_rx_buf_len_for(uint32_t asked, uint16_t mtu, int mergeable);
uint32_t vnet_drv_tx_buf_len_for(uint16_t mtu);

/* Creates the driver and its actor on s; fates and trace may be NULL.
 * EMU_EINVAL for bad options, EMU_ENOSPC (actors). */
int vnet_drv_init(vnet_drv *drv, const vnet_drv_opts *opts, gmem *mem, emu_sched *s,
                  const virtio_transport *t, emu_fates *fates, emu_trace *trace);
void vnet_drv_close(vnet_drv *drv);
/* Initialises the device (§3.1.1) and posts the RX buffers. Returns 0, or
 * EMU_ENOTSUP when the device refuses FEATURES_OK, or the transport's error. */
int vnet_drv_probe(vnet_drv *drv);
/* The netdev port the guest stack sends through and attaches its receive to. */
emu_port *vnet_drv_netdev(vnet_drv *drv);
/* Where the stack above reports the fates it returned PENDING for; each
 * becomes the frame's fate in the ledger, traced as the driver's. */
emu_port_deferral *vnet_drv_deferral(vnet_drv *drv);
/* Installs the guest stack's timer hook and runs it once now. */
void vnet_drv_set_poll(vnet_drv *drv, vnet_drv_poll_fn fn, void *ctx);
/* Every frame the stack hands the driver enters tx (which traces as "tx")
 * and gets its fate there: in the ring until the device takes it, or a
 * drop the driver decides (tx_ring_full, frame_invalid, link_down). */
void vnet_drv_set_tx_ledger(vnet_drv *drv, emu_fates *tx);
/* Ends a run: frames still held for a TX buffer never got one
 * (tx_not_reclaimed). */
void vnet_drv_finish(vnet_drv *drv);
/* Runs the stack's poll hook now and re-arms its timer: for callers that
 * gave the stack new work from outside the driver's actor. */
void vnet_drv_wake_stack(vnet_drv *drv);
/* Looks at the RX used ring now, as the interrupt handler does. */
void vnet_drv_rx_poll(vnet_drv *drv);

#endif
