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
};

/* From api/sim.c: sim/'s configuration for the options in o, every option
 * checked (bugs and faults parsed); no user half, observer or hashing set.
 * VNS_EINVAL, VNS_ENOENT (an unknown bug name). */
int vns_scn_config_from_opts(const vns_sim_opts *o, scn_config *cfg);
/* From api/sim.c: the fate with that name (VNS_ENOENT when none). */
int vns_fate_lookup(const char *name, int *fate);

#endif
