/* What the public API layer's files share: the definition of the opaque
 * handles. Never installed; users see only include/vnetsim/. */
#ifndef VNETSIM_API_INTERNAL_H
#define VNETSIM_API_INTERNAL_H

#include "emu/fate.h"
#include "emu/gmem.h"
#include "emu/sched.h"
#include "emu/trace.h"
#include "sim/scn.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "virtio/vnet_dev.h"
#include "virtio/vnet_drv.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_drv.h"
#include "virtio/vq_packed.h"
#include "vnetsim/vnetsim.h"

enum vns_mode {
  VNS_MODE_MODELLED,    /* scn: modelled driver, device and guest stack */
  VNS_MODE_USER_DRIVER, /* the user's driver against the modelled device */
  VNS_MODE_USER_DEVICE, /* the user's device against the modelled driver */
};

struct vns_transport {
  vns_sim *sim;
  const virtio_transport *t;
};

struct vns_vq {
  vns_sim *sim;
  uint16_t q;
  int packed; /* VNS_VQ_PACKED: pvq, else vq */
  vq_drv vq;
  vqp_drv pvq;
  struct vns_vq *next;
};

struct vns_dvq {
  vns_sim *sim;
  uint16_t q;
  int packed; /* VNS_DVQ_PACKED: pvq, else vq */
  vq_dev vq;
  vqp_dev pvq;
  vq_chain last; /* the chain last popped; its segments live in vq */
  int has_chain;
  int64_t last_frame; /* TX: the ledger id of the frame in that chain, until sent; or -1 */
  struct vns_dvq *next;
};

/* What api/watch.c keeps of a user half's rings and stores. */
#define VNS_WATCH_MAX_NOTES          8
#define VNS_WATCH_NOTE_RX_UNREPORTED 1u
typedef struct vns_watch {
  vq_layout ring[VNET_NUM_QUEUES];
  int ring_set[VNET_NUM_QUEUES];
  uint16_t idx_stored[VNET_NUM_QUEUES]; /* the index the user's half last stored */
  int owed[VNET_NUM_QUEUES];            /* a notification the other side asked for */
  unsigned noted;                       /* VNS_WATCH_NOTE_* said already */
  char notes[VNS_WATCH_MAX_NOTES][320];
  size_t nnotes;
} vns_watch;

/* Called with the composition and its configuration just before scn_init. */
typedef void (*vns_scn_hook_fn)(void *ctx, scn *s, scn_config *cfg);

struct vns_sim {
  vns_sim_opts opts;
  enum vns_mode mode;
  int finished;
  /* Inside vns_sim_new's probe, a run, finish or free: the user's callbacks
   * run only then, and must not re-enter those. */
  int busy;
  int probed;       /* the user driver's probe ran: remove is owed */
  int store_failed; /* a trace record or violation could not be stored */
  unsigned driver_bugs, device_bugs;

  /* The composition (sim/), the same in every mode; a user half runs on
   * its user actor. The pointers below are views into it. */
  scn *scn;
  gmem *mem;
  emu_sched *sched;
  emu_trace *trace;
  emu_fates *fates;
  vnet_dev *dev; /* the modelled device, NULL for the user's */
  vnet_drv *drv; /* the modelled driver, NULL for the user's */

  scn_user_half user_half;         /* the user's driver or device, for sim/ */
  virtio_transport udev_transport; /* the user device as the modelled driver sees it */
  vns_transport transport;         /* the modelled device as the user driver sees it */

  /* What the API keeps of the trace. */
  emu_trace_rec *recs;
  size_t nrecs, caprecs;
  vns_violation *viols;
  size_t nviols, capviols;

  struct vns_vq *vqs;
  struct vns_dvq *dvqs;
  vns_watch watch;
  /* The command's extras (see vns_sim_new_hooked). */
  vns_scn_hook_fn hook;
  void *hook_ctx;
  emu_trace_observer_fn inner_observer;
  void *inner_observer_ctx;
};

/* From api/sim.c: sim/'s configuration for the options in o, every option
 * checked (bugs and faults parsed); no user half, observer or hashing set.
 * VNS_EINVAL, VNS_ENOENT (an unknown bug name). */
int vns_scn_config_from_opts(const vns_sim_opts *o, scn_config *cfg);
/* The same, with what is wrong in why (cap bytes; why may be NULL). */
int vns_scn_config_why(const vns_sim_opts *o, scn_config *cfg, char *why, size_t cap);
/* From api/sim.c: the fate with that name (VNS_ENOENT when none). */
int vns_fate_lookup(const char *name, int *fate);

/* From api/watch.c: the user's half set up queue q (its notifications are
 * watched from now), stored len bytes at gpa, was told by a
 * ring helper that the other side wants a notification for q (owe), sent
 * one (notified), offered RX buffer head; and the run's end, where an owed
 * notification is a violation. */
void vns_watch_queue(vns_sim *sim, uint16_t q, const vq_layout *l);
void vns_watch_store(vns_sim *sim, uint64_t gpa, const void *src, size_t len);
void vns_watch_reset(vns_sim *sim);
void vns_watch_owe(vns_sim *sim, uint16_t q);
void vns_watch_notified(vns_sim *sim, uint16_t q);
void vns_watch_rx_offer(vns_sim *sim, uint16_t head);
void vns_watch_finish(vns_sim *sim);

/* From api/device.c: a TX chain the user's device popped and never sent
 * (vns_device_send) gets tx_chain_rejected; at the next pop and at the end. */
void vns_dvq_tx_unsent(vns_dvq *dq);

/* The command's extras that the library does not offer (the teaching
 * recorder behind replay --html, live mode behind run) run on the very
 * composition a vns_sim built, so that the command still reads every result
 * through the public API. vns_sim_new() with a hook: hook(ctx, s, cfg) runs
 * just before scn_init, so it can watch the driver's probe; an observer it
 * puts in cfg sees every trace record after the library's own. */
int vns_sim_new_hooked(const vns_sim_opts *o, vns_scn_hook_fn hook, void *hook_ctx, vns_sim **out);
/* Both: the hook, and the reasons of a failure in *why (NULL: none). */
int vns_sim_new_full(const vns_sim_opts *o, vns_scn_hook_fn hook, void *hook_ctx, vns_sim **out,
                     vns_sim_failure *why);
/* The composition under a vns_sim. */
scn *vns_sim_scn(vns_sim *sim);

#endif
