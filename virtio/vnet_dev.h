/* The virtio-net device model: one RX and one TX queue, an actor of its own.
 *
 * Frames from the host arrive as events on the device's actor; each is
 * written into the next RX chain the driver offered, or waits in a small
 * backlog (as a real device's queue does), or is dropped with a fate. Guest
 * frames leave through the TX queue to the host channel. The driver reaches
 * the device only through vnet_dev_transport(): configuration calls are
 * synchronous, notifications (kicks) arrive after the modelled latency. */
#ifndef VNETSIM_VIRTIO_VNET_DEV_H
#define VNETSIM_VIRTIO_VNET_DEV_H

#include <stdint.h>

#include "emu/fate.h"
#include "emu/frameq.h"
#include "emu/gmem.h"
#include "emu/sched.h"
#include "emu/trace.h"
#include "virtio/vnet.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_packed.h"

/* Event kinds the device actor understands. */
enum {
  VNET_DEV_EV_FRAME = 1, /* a frame from the host: data, frame_id */
  VNET_DEV_EV_KICK,      /* the driver notified queue arg */
  VNET_DEV_EV_CONTINUE,  /* more TX work after a batch */
  VNET_DEV_EV_IRQ_CHECK, /* under a memory model: the interrupt decision after a
                          * publish, a moment later (gmem_mm_gap_ns) */
};

typedef struct vnet_dev_config {
  uint8_t mac[VNET_MAC_LEN];
  uint16_t max_queue_size; /* offered per queue; a power of two <= 32768 */
  uint64_t features;       /* offered feature bits */
  /* The config space's mtu (§5.1.4), VNET_MTU_MIN..VNET_MTU_MAX; offered
   * when features has VIRTIO_NET_F_MTU, and then the largest frame the
   * device passes either way. 0 without the feature. */
  uint16_t mtu;
  uint32_t rx_backlog;           /* frames held while no RX buffer is posted */
  uint32_t batch_min, batch_max; /* TX chains handled per run, drawn each run */
  emu_latency kick_latency;      /* driver notify -> device actor */
  int link_up;
  unsigned bugs; /* VBUG_DEV_* bits (virtio/vbug.h) */
} vnet_dev_config;

/* slirp's guest MAC, queue size 256, VERSION_1|MAC|STATUS|EVENT_IDX|
 * INDIRECT_DESC, backlog 8, batch 1..16, kick latency 200..800 ns, link up. */
void vnet_dev_config_default(vnet_dev_config *cfg);

typedef struct vnet_dev_stats {
  uint64_t rx_frames, rx_bytes; /* written into RX buffers */
  uint64_t rx_merged;           /* frames spread over more than one buffer */
  uint64_t rx_backlogged;       /* frames that waited in the backlog */
  uint64_t tx_frames, tx_bytes; /* handed to the host */
  uint64_t tx_bad_chains;       /* TX chains too short, too long or writable */
  uint64_t kicks[VNET_NUM_QUEUES];
  uint64_t interrupts, interrupts_suppressed;
  uint64_t pops[VNET_NUM_QUEUES];
} vnet_dev_stats;

typedef struct vnet_dev {
  vnet_dev_config cfg;
  gmem *mem;
  emu_actor actor;
  emu_channel kick;    /* from the driver's notify to this actor */
  emu_channel irq;     /* to the driver */
  emu_channel to_host; /* guest frames, to whoever plays the host */
  emu_fates *fates;    /* host->guest frames, or NULL */
  emu_fates *tx_fates; /* guest->host frames, or NULL (vnet_dev_set_tx_ledger) */
  emu_trace *trace;
  uint8_t status;
  uint64_t driver_features, features;
  struct vnet_dev_queue {
    vq_layout layout; /* packed: desc = the ring, avail = driver area, used = device area */
    int enabled;
    int irq_check_queued; /* a VNET_DEV_EV_IRQ_CHECK is on its way */
    int packed;           /* VIRTIO_F_RING_PACKED negotiated: pvq, else vq */
    uint32_t unflushed;   /* pushed since the last publish */
    vq_dev vq;
    vqp_dev pvq;
  } q[VNET_NUM_QUEUES];
  emu_frameq backlog; /* frames waiting for an RX buffer, cfg.rx_backlog at most */
  uint32_t max_frame; /* the largest frame either way: by the negotiated mtu, else 1518 */
  int mergeable;      /* VIRTIO_NET_F_MRG_RXBUF negotiated */
  /* Mergeable RX buffers popped for the frame at the head of the line and
   * not yet enough for it (§5.1.6.4): kept, with copies of their segments
   * (a pop's segments last only until the next pop), for the next try. */
  struct vnet_dev_mrg {
    struct vnet_dev_rx_part {
      uint16_t head;
      uint32_t seg_first, nseg;
      uint64_t room;
    } * part;
    vq_seg *seg;
    size_t part_cap, seg_cap;
    uint32_t nparts, nseg;
    uint64_t room; /* bytes the kept buffers can take */
  } mrg;
  uint8_t scratch[VNET_HDR_LEN + VNET_MAX_JUMBO_FRAME]; /* one TX frame being handed out */
  int rx_short_told;                                    /* rx_buf_short was reported */
  vq_rule violation;                                    /* what made the device need a reset */
  const char *violation_queue;
  vnet_dev_stats stats;
  virtio_transport transport;
} vnet_dev;

/* Creates the device and its actor on s. fates and trace may be NULL.
 * EMU_EINVAL for a bad configuration, EMU_ENOMEM, EMU_ENOSPC (actors). */
int vnet_dev_init(vnet_dev *d, const vnet_dev_config *cfg, gmem *mem, emu_sched *s,
                  emu_fates *fates, emu_trace *trace);
void vnet_dev_close(vnet_dev *d);
/* The transport a driver uses to reach this device. */
const virtio_transport *vnet_dev_transport(vnet_dev *d);
/* Handles a host frame right now (what a VNET_DEV_EV_FRAME event does);
 * the frame must already have an id in the fate ledger. */
void vnet_dev_rx_frame(vnet_dev *d, uint32_t frame_id, const uint8_t *frame, size_t len);
/* TX chains the device pops are taken from tx (their frames entered by the
 * driver, or entered here when it did not), and get their fates: handed
 * to the host (the host decides "sent"), tx_chain_rejected, link_down. The
 * frame's ledger id travels with it to the host (emu_event.frame_id). */
void vnet_dev_set_tx_ledger(vnet_dev *d, emu_fates *tx);
/* The link goes up or down (VIRTIO_NET_S_LINK_UP in the config space): RX
 * and TX frames meet link_down while it is down; with VIRTIO_NET_F_STATUS
 * the driver is told by a configuration change notification. */
void vnet_dev_set_link(vnet_dev *d, int up);
/* Ends a run: frames still in the backlog never found a buffer. */
void vnet_dev_finish(vnet_dev *d);
/* Frames waiting in the backlog. */
uint32_t vnet_dev_backlog_len(const vnet_dev *d);

#endif
