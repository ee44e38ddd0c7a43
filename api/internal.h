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
#include "vnetsim/vnetsim.h"

enum vns_mode {
  VNS_MODE_MODELLED,    /* scn: modelled driver, device and guest stack */
  VNS_MODE_USER_DRIVER, /* the user's driver against the modelled device */
  VNS_MODE_USER_DEVICE, /* the user's device against the modelled driver */
};

/* Events of the actor that runs the user's half, and of the host actor. */
enum {
  VNS_UEV_IRQ = 1, /* the device interrupted (arg = queue) */
  VNS_UEV_TIMER,   /* a deadline from vns_driver_timer_at / vns_device_timer_at */
  VNS_UEV_KICK,    /* the driver notified (arg = queue) */
  VNS_UEV_FRAME,   /* a frame from the host (frame_id, data) */
};
enum {
  VNS_HEV_INJECT = 1,  /* a frame to send to the device */
  VNS_HEV_GUEST_FRAME, /* a frame the guest sent */
};

struct vns_transport {
  vns_sim *sim;
  const virtio_transport *t;
};

struct vns_vq {
  vns_sim *sim;
  uint16_t q;
  vq_drv vq;
  struct vns_vq *next;
};

struct vns_dvq {
  vns_sim *sim;
  uint16_t q;
  vq_dev vq;
  vq_chain last; /* the chain last popped; its segments live in vq */
  int has_chain;
  struct vns_dvq *next;
};

struct vns_sim {
  vns_sim_opts opts;
  enum vns_mode mode;
  int finished;
  int probed;       /* the user driver's probe ran: remove is owed */
  int store_failed; /* a trace record or violation could not be stored */
  unsigned driver_bugs, device_bugs;

  /* Views of the run, pointing into the scenario or into the composition
   * below, so that every reader works the same way in every mode. */
  gmem *mem;
  emu_sched *sched;
  emu_trace *trace;
  emu_fates *fates;
  vnet_dev *dev; /* the modelled device, NULL for the user's */
  vnet_drv *drv; /* the modelled driver, NULL for the user's */

  scn *scn; /* VNS_MODE_MODELLED */

  /* The composition for a user half (the modes scn cannot express). */
  gmem own_mem;
  emu_rng rng;
  emu_sched own_sched;
  emu_trace own_trace;
  emu_fates own_fates;
  int fates_up, sched_up, mem_up, dev_up, drv_up, guest_up;
  vnet_dev own_dev;
  vnet_drv own_drv;
  net_iface guest;
  net_services services;
  uint64_t poll_horizon_ns;
  emu_actor host, user;
  emu_channel host_to_device;
  emu_channel kick, irq, to_host;  /* the user device's notification channels */
  virtio_transport udev_transport; /* the user device as the modelled driver sees it */
  vns_transport transport;         /* the modelled device as the user driver sees it */
  uint64_t host_sent, host_received;

  /* What the API keeps of the trace. */
  emu_trace_rec *recs;
  size_t nrecs, caprecs;
  vns_violation *viols;
  size_t nviols, capviols;

  struct vns_vq *vqs;
  struct vns_dvq *dvqs;
};

/* From api/sim.c: the fate with that name (VNS_ENOENT when none). */
int vns_fate_lookup(const char *name, int *fate);

#endif
