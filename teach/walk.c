/* The walkthrough: a small scenario run under the recorder. The host (the
 * scenario's own host peer, slirp's gateway) ARPs for the guest and pings
 * it; the first frames are recorded action by action, the rest one step
 * per frame. */
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "stack/wire.h"
#include "teach/teach.h"
#include "virtio/vbug.h"
#include "virtio/vnet_drv.h"

#define TEACH_FIRST_FRAME_NS 10000ull
#define TEACH_INTERVAL_NS    200000ull
#define TEACH_WALK_MAX_QSIZE 64u     /* the terminal draws every slot */
#define TEACH_WALK_MAX_STEPS 100000u /* kept with their rings: the whole walkthrough */
#define TEACH_PING_PAYLOAD   56u     /* bytes of echo data, as ping(8) sends */
#define TEACH_RUN_MAX_EVENTS 10000000u

void teach_walk_opts_default(teach_walk_opts *o) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->queue_size = 8;
  o->frames = 10;
  o->detailed = 2;
}

uint32_t teach_walk_ping_payload(const teach_walk_opts *o) {
  uint32_t want = o->mergeable ? TEACH_MRG_PING_PAYLOAD : TEACH_PING_PAYLOAD;
  uint32_t mtu = o->mtu ? o->mtu : o->mergeable ? TEACH_MRG_MTU : VNET_MTU_DEFAULT;
  uint32_t fits = mtu - NET_IPV4_HEADER_LEN - NET_ICMP_HEADER_LEN; /* mtu >= 68: no underflow */
  return fits < want ? fits : want;
}

uint32_t teach_walk_buffers_per_frame(const teach_walk_opts *o) {
  if (!o->mergeable) return 1;
  uint16_t mtu = o->mtu ? o->mtu : (uint16_t)TEACH_MRG_MTU;
  uint32_t buf = vnet_drv_rx_buf_len_for(o->rx_buf_size, mtu, 1);
  uint32_t frame =
      NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN + NET_ICMP_HEADER_LEN + teach_walk_ping_payload(o);
  return (VNET_HDR_LEN + frame + buf - 1) / buf;
}

_Static_assert(TEACH_ETH_IP_ICMP_LEN ==
                   NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN + NET_ICMP_HEADER_LEN,
               "the headers around an echo request's data");

unsigned teach_walk_default_burst(unsigned bugs, unsigned dev_bugs) {
  /* dev-packed-id-first: a second TX chain must be in flight, or the id
   * the driver leaves in a first descriptor (0) is the right one */
  if (dev_bugs & VBUG_DEV_PACKED_ID_FIRST) return 2u;
  return bugs & (VBUG_RX_LAST_ONLY | VBUG_TX_LAST_ONLY) ? 2u : 1u;
}

uint16_t teach_walk_default_qsize(unsigned bugs, unsigned dev_bugs) {
  (void)bugs;
  return dev_bugs & VBUG_DEV_PACKED_WRAP_EXACT ? 2u : 8u;
}

unsigned teach_walk_detailed_frames(const teach_walk_opts *o) {
  if (o->detailed < 1) return o->frames;
  /* with bursts, whole bursts: the ARP request and `detailed` bursts */
  unsigned n = o->burst > 1 ? 1 + o->detailed * o->burst : o->detailed;
  return n < o->frames ? n : o->frames;
}

void teach_walk_free(teach_walk *w) {
  if (w->s) scn_close(w->s);
  free(w->s);
  teach_rec_free(w->rec);
  memset(w, 0, sizeof *w);
}

static void teach_walk_config(const teach_walk_opts *o, scn_config *cfg) {
  scn_config_default(cfg);
  cfg->seed = o->seed;
  cfg->queue_size = o->queue_size;
  cfg->bugs = o->bugs;
  cfg->dev_bugs = o->dev_bugs;
  /* No backlog: a frame that finds no buffer is dropped at that moment,
   * where the walkthrough can show it. */
  cfg->rx_backlog = 0;
  cfg->trace_sink = o->trace_sink;
  cfg->host_peer = 1;
  cfg->memory = o->memory;
  cfg->packed_ring = o->packed;
  cfg->mergeable = o->mergeable;
  cfg->mtu = o->mergeable && !o->mtu ? (uint16_t)TEACH_MRG_MTU : o->mtu;
  cfg->rx_buf_len = o->rx_buf_size;
  if (o->no_event_idx) {
    vnet_drv_opts d;
    vnet_drv_opts_default(&d);
    cfg->driver_features = d.features & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
  }
}

/* The recorder first, so what the second observer compares with is what
 * the recorder just recorded. */
static void teach_walk_observe(void *ctx, const emu_trace_rec *rec) {
  teach_walk *w = ctx;
  w->rec_observer(w->rec_observer_ctx, rec);
  w->opts.observer(w->opts.observer_ctx, rec);
}

/* Frame 1 is the peer's ARP request, sent with its first ping; frame
 * k >= 2 is echo request k - 1. */
static int teach_walk_pings(teach_walk *w, uint64_t t0) {
  const teach_walk_opts *o = &w->opts;
  unsigned pings = o->frames > 1 ? o->frames - 1 : 1;
  for (unsigned i = 0; i < pings; i++) {
    unsigned burst = o->burst > 1 ? o->burst : 1;
    int rc = scn_peer_ping_at(w->s, t0 + (i / burst) * TEACH_INTERVAL_NS, w->s->cfg.guest.ip,
                              (uint16_t)(i + 1), (uint16_t)teach_walk_ping_payload(o));
    if (rc) return rc;
  }
  return 0;
}

int teach_walk_run(const teach_walk_opts *o, teach_walk *w) {
  memset(w, 0, sizeof *w);
  w->opts = *o;
  if (!vq_size_valid(o->queue_size) || o->queue_size > TEACH_WALK_MAX_QSIZE || o->frames < 1 ||
      o->frames > NET_IFACE_PING_MAX || teach_walk_buffers_per_frame(o) > o->queue_size)
    return EMU_EINVAL;
  scn_config cfg;
  teach_walk_config(o, &cfg);
  teach_opts to = {.max_steps = TEACH_WALK_MAX_STEPS};
  w->s = calloc(1, sizeof *w->s);
  w->rec = teach_rec_new(&to);
  int rc = w->s && w->rec ? 0 : EMU_ENOMEM;
  if (!rc) rc = teach_rec_hook(w->rec, w->s, &cfg);
  if (!rc && o->observer) {
    w->rec_observer = cfg.trace_observer;
    w->rec_observer_ctx = cfg.trace_observer_ctx;
    cfg.trace_observer = teach_walk_observe;
    cfg.trace_observer_ctx = w;
  }
  if (!rc) rc = scn_init(w->s, &cfg);
  if (rc) {
    free(w->s); /* never initialised, or scn_init closed it */
    w->s = NULL;
    teach_walk_free(w);
    return rc;
  }
  teach_rec_attach(w->rec);
  uint64_t t0 = scn_now(w->s) + TEACH_FIRST_FRAME_NS;
  rc = teach_walk_pings(w, t0);
  if (rc) {
    teach_walk_free(w);
    return rc;
  }
  unsigned shown = teach_walk_detailed_frames(o);
  if (shown < o->frames) {
    /* frame 1 (the ARP request) goes with the first echo request: the
     * detailed part ends just before the next frame's moment */
    unsigned bursts = o->burst > 1 ? (shown - 1) / o->burst : shown - 1;
    scn_run(w->s, t0 + (uint64_t)bursts * TEACH_INTERVAL_NS - 1, UINT64_MAX);
    teach_rec_set_coarse(w->rec, 1);
  }
  scn_run(w->s, EMU_TIME_NEVER, TEACH_RUN_MAX_EVENTS);
  scn_finish(w->s);
  teach_rec_finish(w->rec);
  return 0;
}
