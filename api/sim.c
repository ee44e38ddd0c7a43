/* The simulation handle: composition, runs, fates, counters, rings,
 * violations and the trace store.
 *
 * The composition is sim/'s (sim/scn.h), in every mode: with both halves
 * modelled the library runs exactly what the command runs, and a user's
 * driver or device takes the modelled one's place on an actor of its own,
 * whose events this file hands to the user's callbacks. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"
#include "emu/grow.h"
#include "sim/conv.h"
#include "virtio/vbug.h"

VNS_API void vns_sim_opts_init(vns_sim_opts *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  scn_config sc;
  scn_config_default(&sc);
  o->seed = sc.seed;
  o->queue_size = sc.queue_size;
  o->rx_backlog = sc.rx_backlog;
  o->kick_latency = (vns_latency){sc.kick_latency.min_ns, sc.kick_latency.max_ns};
  o->irq_latency = (vns_latency){sc.irq_latency.min_ns, sc.irq_latency.max_ns};
  o->link_latency = (vns_latency){sc.backend_latency.min_ns, sc.backend_latency.max_ns};
  o->rearm_delay = (vns_latency){sc.rearm_delay.min_ns, sc.rearm_delay.max_ns};
  o->store_delay = (vns_latency){sc.store_delay.min_ns, sc.store_delay.max_ns};
  o->tx_batch_min = sc.batch_min;
  o->tx_batch_max = sc.batch_max;
  o->guest_ip = sc.guest.ip;
  memcpy(o->guest_mac, sc.guest.mac, sizeof o->guest_mac);
  o->max_events = 100000000ull;
  o->keep_trace = 1;
  o->memory = VNS_MEMORY_SC;
  o->memory_delay_ns = sc.memory_delay_ns;
}

static emu_latency vns_lat(vns_latency l) { return (emu_latency){l.min_ns, l.max_ns}; }

/* --- the trace observer: store, log violations, pass on ------------------ */

static void vns_event_from_rec(const emu_trace_rec *r, vns_trace_event *ev) {
  *ev = (vns_trace_event){r->t_ns,  r->actor, emu_trace_kind_name(r->kind),
                          r->queue, r->head,  r->idx,
                          r->len,   r->frame, r->detail};
}

static void vns_log_violation(vns_sim *sim, const emu_trace_rec *r) {
  vns_violation *grown = emu_grow(sim->viols, &sim->capviols, sim->nviols + 1, sizeof *grown, 16);
  if (!grown) {
    sim->store_failed = 1;
    return;
  }
  sim->viols = grown;
  /* the detail may carry the section after the name ("rx_buf_too_small §5.1.6.3.1") */
  vq_rule rule = r->detail ? vq_rule_from_name(r->detail) : VQ_RULE_NONE;
  sim->viols[sim->nviols++] = (vns_violation){r->t_ns,
                                              r->actor,
                                              r->queue,
                                              rule != VQ_RULE_NONE ? vq_rule_name(rule)
                                              : r->detail          ? r->detail
                                                                   : "unknown",
                                              vq_rule_section(rule),
                                              vq_rule_text(rule),
                                              r->head};
}

static void vns_observe(void *ctx, const emu_trace_rec *r) {
  vns_sim *sim = ctx;
  if (r->kind == EMU_TR_VIOLATION) vns_log_violation(sim, r);
  if (sim->opts.keep_trace) {
    emu_trace_rec *grown =
        emu_grow(sim->recs, &sim->caprecs, sim->nrecs + 1, sizeof *sim->recs, 1024);
    if (grown) sim->recs = grown;
    /* The strings in a record are static (vnetsim's own name tables), so
     * keeping the record keeps them. */
    if (sim->nrecs < sim->caprecs)
      sim->recs[sim->nrecs++] = *r;
    else
      sim->store_failed = 1;
  }
  if (sim->opts.trace_fn) {
    vns_trace_event ev;
    vns_event_from_rec(r, &ev);
    sim->opts.trace_fn(sim->opts.trace_ctx, &ev);
  }
  if (sim->inner_observer) sim->inner_observer(sim->inner_observer_ctx, r);
}

/* --- the user's actor (user-half modes) ------------------------------------ */

static void vns_user_handle(emu_actor *self, const emu_event *ev) {
  vns_sim *sim = self->ctx;
  const vns_driver_ops *drv = sim->opts.driver;
  const vns_device_ops *dev = sim->opts.device;
  void *dctx = sim->opts.driver_ctx, *vctx = sim->opts.device_ctx;
  uint64_t now = sim->sched->now_ns;
  uint16_t q = (uint16_t)ev->arg;
  switch (ev->kind) {
    case SCN_USER_EV_IRQ:
      EMU_TRACE_EMIT(sim->trace, .actor = "driver", .kind = EMU_TR_INTERRUPT_RECEIVED,
                     .queue = vnet_queue_name(q));
      if (q != VNET_IRQ_CONFIG)
        drv->on_interrupt(dctx, sim, q);
      else if (drv->on_config_change)
        drv->on_config_change(dctx, sim);
      break;
    case SCN_USER_EV_TIMER:
      if (drv && drv->on_timer) drv->on_timer(dctx, sim, now);
      if (dev && dev->on_timer) dev->on_timer(vctx, sim, now);
      break;
    case SCN_USER_EV_KICK:
      EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_KICK_RECEIVED,
                     .queue = vnet_queue_name(q));
      dev->on_kick(vctx, sim, q);
      break;
    case SCN_USER_EV_FRAME:
      EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_FRAME_IN,
                     .len = (int64_t)ev->len, .frame = ev->frame_id);
      dev->on_frame(vctx, sim, ev->frame_id, ev->data, ev->len);
      break;
    default:
      break;
  }
}

/* --- the user's device as the modelled driver's transport ---------------- */

static uint64_t vns_ud_features(void *d) {
  vns_sim *sim = d;
  return sim->opts.device->device_features(sim->opts.device_ctx, sim);
}
static int vns_ud_set_features(void *d, uint64_t f) {
  vns_sim *sim = d;
  return sim->opts.device->set_driver_features(sim->opts.device_ctx, sim, f);
}
static uint8_t vns_ud_get_status(void *d) {
  vns_sim *sim = d;
  return sim->opts.device->get_status(sim->opts.device_ctx, sim);
}
static int vns_ud_set_status(void *d, uint8_t status) {
  vns_sim *sim = d;
  /* traced as the modelled device traces a status write */
  EMU_TRACE_EMIT(sim->trace, .actor = "device", .kind = EMU_TR_STATUS, .idx = status);
  int rc = sim->opts.device->set_status(sim->opts.device_ctx, sim, status);
  if (rc == 0 && status == 0) vns_watch_reset(sim);
  return rc;
}
static int vns_ud_read_config(void *d, uint32_t off, void *buf, uint32_t len) {
  vns_sim *sim = d;
  if (!sim->opts.device->read_config) return EMU_ERANGE;
  return sim->opts.device->read_config(sim->opts.device_ctx, sim, off, buf, len);
}
static uint16_t vns_ud_queue_max(void *d, uint16_t q) {
  vns_sim *sim = d;
  return sim->opts.device->queue_max_size(sim->opts.device_ctx, sim, q);
}
static int vns_ud_queue_setup(void *d, uint16_t q, const vq_layout *l) {
  vns_sim *sim = d;
  vns_ring_layout pl = {l->size, l->desc, l->avail, l->used};
  int rc = sim->opts.device->queue_setup(sim->opts.device_ctx, sim, q, &pl);
  if (rc == 0) vns_watch_queue(sim, q, l);
  return rc;
}
static void vns_ud_notify(void *d, uint16_t q) {
  vns_sim *sim = d;
  emu_channel_send(&sim->scn->user_kick, q, 0, NULL, 0);
}

/* --- building ------------------------------------------------------------ */

/* Bounds that keep every sum of an input time and the modelled delays below
 * the end of the clock (see VNS_TIME_MAX). */
#define VNS_LATENCY_MAX_NS    1000000000000ull /* 1000 s */
#define VNS_GUEST_POLL_MAX_NS 3600000000000ull /* 1 h */

static int vns_latency_ok(vns_latency l) {
  return l.min_ns <= l.max_ns && l.max_ns <= VNS_LATENCY_MAX_NS;
}

static int vns_check_times(const vns_sim_opts *o) {
  return o->start_ns <= VNS_TIME_MAX && o->guest_poll_ns <= VNS_GUEST_POLL_MAX_NS &&
         vns_latency_ok(o->kick_latency) && vns_latency_ok(o->irq_latency) &&
         vns_latency_ok(o->link_latency) && vns_latency_ok(o->rearm_delay) &&
         vns_latency_ok(o->store_delay) && o->memory_delay_ns <= VNS_LATENCY_MAX_NS;
}

/* ::1 (RFC 4291 §2.5.3) */
static int vns_ipv6_is_loopback(const uint8_t *a) {
  static const uint8_t loopback[16] = {[15] = 1};
  return memcmp(a, loopback, sizeof loopback) == 0;
}

/* The first thing wrong with o, in one line, or NULL. */
static const char *vns_opts_problem(const vns_sim_opts *o) {
  if (o->driver && o->device) return "both a driver and a device of your own: bring one half";
  if (!vns_check_times(o))
    return "a time out of range (start_ns past VNS_TIME_MAX, guest_poll_ns too long, or a "
           "latency with min above max or past VNS_LATENCY_MAX_NS)";
  if (o->memory < VNS_MEMORY_SC || o->memory > VNS_MEMORY_WEAK) return "no such memory model";
  /* the host sits on the guest's /24, at another address */
  if (o->host_ip && (o->host_ip == o->guest_ip || ((o->host_ip ^ o->guest_ip) >> 8) != 0))
    return "host_ip must be another address on guest_ip's /24";
  if (o->driver && (!o->driver->probe || !o->driver->on_interrupt))
    return "driver ops without probe or on_interrupt";
  const vns_device_ops *d = o->device;
  if (d && (!d->device_features || !d->set_driver_features || !d->get_status || !d->set_status ||
            !d->queue_max_size || !d->queue_setup || !d->on_kick || !d->on_frame))
    return "device ops without one of the required callbacks";
  if (!vq_size_valid(o->queue_size)) return "queue_size is not a power of two from 1 to 32768";
  if (o->max_events == 0 || o->tx_batch_min == 0 || o->tx_batch_max < o->tx_batch_min)
    return "max_events is 0, or tx_batch_min is 0 or above tx_batch_max";
  if (o->ring != VNS_RING_SPLIT && o->ring != VNS_RING_PACKED) return "no such ring format";
  if (!net_ipv6_is_unspecified(o->guest_ip6) &&
      (net_ipv6_is_multicast(o->guest_ip6) || net_ipv6_is_link_local(o->guest_ip6) ||
       vns_ipv6_is_loopback(o->guest_ip6)))
    return "guest_ip6 is multicast, link-local or loopback";
  if (o->mtu && (o->mtu < VNET_MTU_MIN || o->mtu > VNET_MTU_MAX))
    return "mtu is not from 68 to 9000 (0: none offered)";
  if (o->rx_buf_size && (o->rx_buf_size <= VNET_HDR_LEN || o->rx_buf_size > VNET_RX_BUF_MAX))
    return "rx_buf_size is not from 13 to 65536 (0: sized for the mtu)";
  if (o->rx_buf_size && o->driver)
    return "rx_buf_size is the modelled driver's: your driver posts its own";
  if (o->dhcp && o->driver) return "dhcp needs the guest stack: your driver has none above it";
  if (o->guest_max_conns > SCN_TCP_MAX_CONNS_MAX)
    return "guest_max_conns is not from 1 to 65536 (0: 1024)";
  for (size_t i = 0; i < sizeof o->sink_ports / sizeof o->sink_ports[0]; i++)
    if (o->sink_ports[i] && o->driver)
      return "sink_ports need the guest stack: your driver has none above it";
  if (o->play_conversations && o->driver)
    return "play_conversations needs the guest stack: your driver has none above it";
  return NULL;
}

/* The bug list and bits of o, checked against the halves it brings. */
static int vns_opts_bugs(const vns_sim_opts *o, unsigned *dbugs, unsigned *vbugs,
                         const char **why) {
  unsigned pd = 0, pv = 0;
  *why = "no such bug name in bugs (vns_bug_name() lists them)";
  if (o->bugs && vbug_parse(o->bugs, &pd, &pv)) return VNS_ENOENT;
  *dbugs = pd | o->driver_bugs;
  *vbugs = pv | o->device_bugs;
  *why = "driver_bugs or device_bugs has a bit no bug has";
  if ((*dbugs & ~VBUG_DRIVER_ALL) || (*vbugs & ~VBUG_DEVICE_ALL)) return VNS_EINVAL;
  *why = "a bug switch for the half you bring: bugs belong to the modelled halves";
  if ((o->driver && *dbugs) || (o->device && *vbugs)) return VNS_EINVAL;
  *why =
      "a bug of the split ring's own (its indices, arithmetic or barriers) with the "
      "packed ring";
  if (o->ring == VNS_RING_PACKED && ((*dbugs & VBUG_SPLIT_ONLY) || (*vbugs & VBUG_DEV_SPLIT_ONLY)))
    return VNS_EINVAL;
  *why = "a bug of the packed ring's own with the split ring (add --ring packed)";
  if (o->ring != VNS_RING_PACKED &&
      ((*dbugs & VBUG_PACKED_ONLY) || (*vbugs & VBUG_DEV_PACKED_ONLY)))
    return VNS_EINVAL;
  *why = "a bug of mergeable RX buffers without them (add --mergeable)";
  if (!o->mergeable && ((*dbugs & VBUG_MRG_ONLY) || (*vbugs & VBUG_DEV_MRG_ONLY)))
    return VNS_EINVAL;
  *why = NULL;
  return 0;
}

int vns_scn_config_why(const vns_sim_opts *o, scn_config *cfg, char *why, size_t cap) {
  scn_config_default(cfg);
  const char *problem = vns_opts_problem(o);
  int rc = problem ? VNS_EINVAL : vns_opts_bugs(o, &cfg->bugs, &cfg->dev_bugs, &problem);
  char fault_why[160] = "";
  if (!rc && o->faults &&
      emu_fault_config_parse(o->faults, &cfg->fault, fault_why, sizeof fault_why)) {
    rc = VNS_EINVAL;
    problem = fault_why;
  }
  if (rc && why) snprintf(why, cap, "%s", problem ? problem : vns_strerror(rc));
  return rc;
}

int vns_scn_config_from_opts(const vns_sim_opts *o, scn_config *cfg) {
  int rc = vns_scn_config_why(o, cfg, NULL, 0);
  if (rc) return rc;
  cfg->seed = o->seed;
  cfg->start_ns = o->start_ns;
  cfg->queue_size = o->queue_size;
  cfg->rx_backlog = o->rx_backlog;
  cfg->device_features = o->device_features;
  cfg->driver_features = o->driver_features;
  cfg->guest_poll_ns = o->guest_poll_ns;
  cfg->kick_latency = vns_lat(o->kick_latency);
  cfg->irq_latency = vns_lat(o->irq_latency);
  cfg->backend_latency = vns_lat(o->link_latency);
  cfg->rearm_delay = vns_lat(o->rearm_delay);
  cfg->store_delay = vns_lat(o->store_delay);
  cfg->batch_min = o->tx_batch_min;
  cfg->batch_max = o->tx_batch_max;
  cfg->guest.ip = o->guest_ip;
  /* slirp's host is .2 of the guest's /24 */
  cfg->guest.gateway = o->host_ip ? o->host_ip : (o->guest_ip & 0xffffff00u) | 2u;
  memcpy(cfg->guest.mac, o->guest_mac, sizeof cfg->guest.mac);
  memcpy(cfg->guest.ip6, o->guest_ip6, sizeof cfg->guest.ip6);
  cfg->guest.slaac = o->guest_slaac != 0;
  cfg->mem_size = o->mem_size;
  cfg->host_peer = o->host_peer;
  cfg->arp_proxy = o->arp_proxy != 0;
  cfg->memory = (emu_mm_kind)o->memory;
  cfg->memory_delay_ns = o->memory_delay_ns;
  cfg->packed_ring = o->ring == VNS_RING_PACKED;
  cfg->mtu = o->mtu;
  cfg->mergeable = o->mergeable != 0;
  cfg->rx_buf_len = o->rx_buf_size;
  cfg->dhcp = o->dhcp != 0;
  cfg->tcp_max_conns = o->guest_max_conns;
  cfg->play_conversations = o->play_conversations != 0;
  _Static_assert(sizeof o->sink_ports == sizeof cfg->sink_ports, "one list of sink ports");
  memcpy(cfg->sink_ports, o->sink_ports, sizeof cfg->sink_ports);
  cfg->conv_server_ip = o->play_server_ip;
  return 0;
}

static const char *vns_fault_name(const emu_fate_rec *r) {
  return !r || r->fault == EMU_FATE_PENDING ? NULL : emu_fate_name(r->fault);
}

/* The windowed ledger's report, as the user's frame_done sees it. */
static void vns_frame_done_report(void *ctx, uint32_t id, int64_t captured, const emu_fate_rec *r) {
  const vns_sim *sim = ctx;
  vns_frame_done done = {
      id, captured, emu_fate_name(r->fate), vns_fault_name(r), r->entered_ns, r->fated_ns};
  sim->opts.frame_done(sim->opts.frame_done_ctx, &done);
}

static int vns_build(vns_sim *sim) {
  sim->user_half = (scn_user_half){vns_user_handle, sim, NULL};
  if (sim->mode == VNS_MODE_USER_DEVICE) {
    sim->udev_transport = (virtio_transport){sim,
                                             vns_ud_features,
                                             vns_ud_set_features,
                                             vns_ud_get_status,
                                             vns_ud_set_status,
                                             vns_ud_read_config,
                                             vns_ud_queue_max,
                                             vns_ud_queue_setup,
                                             vns_ud_notify};
    sim->user_half.transport = &sim->udev_transport;
  }
  scn_config cfg;
  int rc = vns_scn_config_from_opts(&sim->opts, &cfg);
  if (rc) return rc;
  cfg.trace_hash = 1;
  cfg.conformance = 0; /* the API keeps its own, unbounded log */
  cfg.trace_observer = vns_observe;
  cfg.trace_observer_ctx = sim;
  if (sim->mode == VNS_MODE_USER_DRIVER) cfg.user_driver = &sim->user_half;
  if (sim->mode == VNS_MODE_USER_DEVICE) cfg.user_device = &sim->user_half;
  sim->scn = calloc(1, sizeof *sim->scn);
  if (!sim->scn) return VNS_ENOMEM;
  /* The views first: a user device's callbacks run inside scn_init (the
   * modelled driver probes it there) and reach the run through them. */
  scn *s = sim->scn;
  sim->mem = &s->mem;
  sim->sched = &s->sched;
  sim->trace = &s->trace;
  sim->fates = &s->fates;
  sim->dev = sim->mode == VNS_MODE_USER_DEVICE ? NULL : &s->dev;
  sim->drv = sim->mode == VNS_MODE_USER_DRIVER ? NULL : &s->drv;
  if (sim->hook) {
    sim->hook(sim->hook_ctx, s, &cfg);
    sim->inner_observer = cfg.trace_observer;
    sim->inner_observer_ctx = cfg.trace_observer_ctx;
    cfg.trace_observer = vns_observe;
    cfg.trace_observer_ctx = sim;
  }
  rc = scn_init(s, &cfg);
  if (rc) {
    free(s); /* scn_init closed it */
    sim->scn = NULL;
    return rc;
  }
  if (sim->opts.host_rx) scn_set_host_rx(s, sim->opts.host_rx, sim->opts.host_rx_ctx);
  if (sim->opts.host_tx) scn_set_host_tx(s, sim->opts.host_tx, sim->opts.host_tx_ctx);
  if (sim->opts.frame_done) scn_window(s, vns_frame_done_report, sim);
  if (sim->mode != VNS_MODE_USER_DRIVER) return 0;
  sim->transport = (vns_transport){sim, vnet_dev_transport(&s->dev)};
  sim->probed = 1;
  rc = sim->opts.driver->probe(sim->opts.driver_ctx, sim, &sim->transport);
  return rc < 0 ? rc : 0;
}

/* Why a build failed, and the rules broken on the way, kept for the caller
 * before the sim goes. */
static void vns_sim_failed(vns_sim *sim, int rc, vns_sim_failure *why) {
  if (!why) return;
  const char *stage = sim->mode == VNS_MODE_USER_DEVICE
                          ? "the modelled driver's probe of your device failed"
                          : "building the sim failed";
  if (sim->probed)
    snprintf(why->message, sizeof why->message, "your driver's probe returned %s (%s)",
             vns_errname(rc), vns_strerror(rc));
  else
    snprintf(why->message, sizeof why->message, "%s: %s (%s)", stage, vns_errname(rc),
             vns_strerror(rc));
  why->violation_count = sim->nviols;
  size_t keep = sizeof why->violations / sizeof why->violations[0];
  for (size_t i = 0; i < sim->nviols && i < keep; i++) why->violations[i] = sim->viols[i];
}

VNS_API int vns_sim_new(const vns_sim_opts *o, vns_sim **out) {
  return vns_sim_new_why(o, out, NULL);
}

VNS_API int vns_sim_new_why(const vns_sim_opts *o, vns_sim **out, vns_sim_failure *why) {
  return vns_sim_new_full(o, NULL, NULL, out, why);
}

int vns_sim_new_hooked(const vns_sim_opts *o, vns_scn_hook_fn hook, void *hook_ctx, vns_sim **out) {
  return vns_sim_new_full(o, hook, hook_ctx, out, NULL);
}

int vns_sim_new_full(const vns_sim_opts *o, vns_scn_hook_fn hook, void *hook_ctx, vns_sim **out,
                     vns_sim_failure *why) {
  if (why) memset(why, 0, sizeof *why);
  if (!out) {
    if (why) {
      why->code = VNS_EINVAL;
      snprintf(why->message, sizeof why->message, "no place for the sim (out is NULL)");
    }
    return VNS_EINVAL;
  }
  *out = NULL;
  vns_sim_opts defaults;
  if (!o) {
    vns_sim_opts_init(&defaults);
    o = &defaults;
  }
  scn_config checked;
  int rc =
      vns_scn_config_why(o, &checked, why ? why->message : NULL, why ? sizeof why->message : 0);
  if (why) why->code = rc;
  if (rc) return rc;
  vns_sim *sim = calloc(1, sizeof *sim);
  if (!sim) return why ? (why->code = VNS_ENOMEM) : VNS_ENOMEM;
  sim->opts = *o;
  sim->driver_bugs = checked.bugs;
  sim->device_bugs = checked.dev_bugs;
  sim->hook = hook;
  sim->hook_ctx = hook_ctx;
  sim->mode = o->driver   ? VNS_MODE_USER_DRIVER
              : o->device ? VNS_MODE_USER_DEVICE
                          : VNS_MODE_MODELLED;
  sim->busy = 1; /* the probe is the user's first callback */
  rc = vns_build(sim);
  sim->busy = 0;
  /* parsed: the caller's strings are not kept */
  sim->opts.bugs = NULL;
  sim->opts.faults = NULL;
  if (rc) {
    if (why) why->code = rc;
    vns_sim_failed(sim, rc, why);
    vns_sim_free(sim);
    return rc;
  }
  *out = sim;
  return 0;
}

scn *vns_sim_scn(vns_sim *sim) { return sim ? sim->scn : NULL; }

VNS_API int vns_sim_free(vns_sim *sim) {
  if (!sim) return 0;
  if (sim->busy) return VNS_ESTATE;
  sim->busy = 1;
  if (sim->probed && sim->opts.driver->remove) sim->opts.driver->remove(sim->opts.driver_ctx, sim);
  if (sim->mode == VNS_MODE_USER_DEVICE && sim->opts.device->remove)
    sim->opts.device->remove(sim->opts.device_ctx, sim);
  while (sim->vqs) vns_vq_free(sim->vqs);
  while (sim->dvqs) vns_dvq_free(sim->dvqs);
  if (sim->scn) {
    scn_close(sim->scn);
    free(sim->scn);
  }
  free(sim->recs);
  free(sim->viols);
  free(sim);
  return 0;
}

/* --- running ------------------------------------------------------------- */

VNS_API int vns_sim_inject(vns_sim *sim, uint64_t at_ns, const void *frame, size_t len) {
  if (!sim || !frame || len == 0 || at_ns > VNS_TIME_MAX) return VNS_EINVAL;
  if (sim->finished) return VNS_ESTATE;
  return scn_inject_at(sim->scn, at_ns, frame, len);
}

VNS_API int64_t vns_sim_run(vns_sim *sim, uint64_t until_ns) {
  if (!sim) return VNS_EINVAL;
  if (sim->finished || sim->busy) return VNS_ESTATE;
  sim->busy = 1;
  uint64_t n = emu_sched_run(sim->sched, until_ns, sim->opts.max_events);
  sim->busy = 0;
  if (sim->store_failed) return VNS_ENOMEM;
  uint64_t next = emu_sched_next_at(sim->sched);
  if (n == sim->opts.max_events && next != EMU_TIME_NEVER && next <= until_ns) return VNS_ELIMIT;
  return n > INT64_MAX ? INT64_MAX : (int64_t)n;
}

VNS_API uint64_t vns_sim_now(const vns_sim *sim) { return sim ? sim->sched->now_ns : 0; }

VNS_API int vns_sim_set_link(vns_sim *sim, int up) {
  if (!sim) return VNS_EINVAL;
  if (!sim->dev) return VNS_ENOTSUP;
  if (sim->finished) return VNS_ESTATE;
  vnet_dev_set_link(sim->dev, up);
  return 0;
}

VNS_API int vns_sim_finish(vns_sim *sim) {
  if (!sim) return VNS_EINVAL;
  if (sim->finished || sim->busy) return VNS_ESTATE;
  sim->finished = 1;
  sim->busy = 1;
  if (sim->mode == VNS_MODE_USER_DEVICE) {
    /* the device settles what it holds before the ledger closes */
    if (sim->opts.device->on_finish) sim->opts.device->on_finish(sim->opts.device_ctx, sim);
    for (vns_dvq *dq = sim->dvqs; dq; dq = dq->next)
      if (dq->q == VNET_TXQ) vns_dvq_tx_unsent(dq);
  }
  vns_watch_finish(sim);
  scn_finish(sim->scn);
  sim->busy = 0;
  return 0;
}

/* --- fates --------------------------------------------------------------- */

static int vns_fate_from_name(const char *name, emu_fate *out) {
  if (!name) return VNS_EINVAL;
  for (int f = 0; f < EMU_FATE_COUNT; f++)
    if (strcmp(emu_fate_name((emu_fate)f), name) == 0) {
      *out = (emu_fate)f;
      return 0;
    }
  return VNS_ENOENT;
}

VNS_API const char *vns_fate_name(size_t i) {
  return i < EMU_FATE_COUNT ? emu_fate_name((emu_fate)i) : NULL;
}

VNS_API const char *vns_sim_frame_fault(const vns_sim *sim, size_t i) {
  return sim ? vns_fault_name(emu_fates_get(sim->fates, i)) : NULL;
}

VNS_API int64_t vns_sim_sent_frame(const vns_sim *sim, size_t k) {
  return sim ? scn_sent_id(sim->scn, k) : -1;
}

VNS_API int64_t vns_sim_captured_frame(const vns_sim *sim, size_t k) {
  return sim ? scn_captured_id(sim->scn, k) : -1;
}

VNS_API unsigned vns_fate_directions(size_t i) {
  return i < EMU_FATE_COUNT ? emu_fate_directions((emu_fate)i) : 0;
}

/* The two ledgers answer the same questions. */
static const emu_fates *vns_ledger(const vns_sim *sim, int tx) {
  return tx ? &sim->scn->tx_fates : sim->fates;
}

static const char *vns_ledger_fate(const emu_fates *l, size_t i) {
  const emu_fate_rec *r = emu_fates_get(l, i);
  return r ? emu_fate_name(r->fate) : NULL;
}

static int vns_ledger_times(const emu_fates *l, size_t i, uint64_t *entered_ns,
                            uint64_t *fated_ns) {
  const emu_fate_rec *r = emu_fates_get(l, i);
  if (!r) return VNS_EINVAL;
  if (entered_ns) *entered_ns = r->entered_ns;
  if (fated_ns) *fated_ns = r->fate == EMU_FATE_PENDING ? 0 : r->fated_ns;
  return 0;
}

static int vns_ledger_count(const emu_fates *l, const char *fate, uint64_t *out) {
  if (!out) return VNS_EINVAL;
  emu_fate f;
  int rc = vns_fate_from_name(fate, &f);
  if (rc) return rc;
  if (f == EMU_FATE_PENDING) {
    /* the ledger counts final fates only */
    uint64_t n = 0;
    for (size_t i = l->base; i < l->nframes; i++) n += emu_fates_get(l, i)->fate == f;
    *out = n;
  } else {
    *out = l->counts[f];
  }
  return 0;
}

VNS_API size_t vns_sim_frame_count(const vns_sim *sim) { return sim ? sim->fates->nframes : 0; }

VNS_API const char *vns_sim_frame_fate(const vns_sim *sim, size_t i) {
  return sim ? vns_ledger_fate(vns_ledger(sim, 0), i) : NULL;
}

VNS_API int vns_sim_frame_times(const vns_sim *sim, size_t i, uint64_t *entered_ns,
                                uint64_t *fated_ns) {
  return sim ? vns_ledger_times(vns_ledger(sim, 0), i, entered_ns, fated_ns) : VNS_EINVAL;
}

VNS_API int vns_sim_fate_count(const vns_sim *sim, const char *fate, uint64_t *out) {
  return sim ? vns_ledger_count(vns_ledger(sim, 0), fate, out) : VNS_EINVAL;
}

VNS_API size_t vns_sim_tx_frame_count(const vns_sim *sim) {
  return sim ? vns_ledger(sim, 1)->nframes : 0;
}

VNS_API const char *vns_sim_tx_frame_fate(const vns_sim *sim, size_t i) {
  return sim ? vns_ledger_fate(vns_ledger(sim, 1), i) : NULL;
}

VNS_API int vns_sim_tx_frame_times(const vns_sim *sim, size_t i, uint64_t *entered_ns,
                                   uint64_t *fated_ns) {
  return sim ? vns_ledger_times(vns_ledger(sim, 1), i, entered_ns, fated_ns) : VNS_EINVAL;
}

VNS_API int vns_sim_tx_fate_count(const vns_sim *sim, const char *fate, uint64_t *out) {
  return sim ? vns_ledger_count(vns_ledger(sim, 1), fate, out) : VNS_EINVAL;
}

int vns_fate_lookup(const char *name, int *fate) {
  emu_fate f;
  int rc = vns_fate_from_name(name, &f);
  if (!rc) *fate = (int)f;
  return rc;
}

/* --- counters ------------------------------------------------------------ */

enum { VNS_CG_DEVICE, VNS_CG_DRIVER, VNS_CG_SIM, VNS_CG_LINK_FAULT, VNS_CG_MEMORY };
/* The run's own counters (group VNS_CG_SIM). */
enum {
  VNS_SC_SENT,
  VNS_SC_RECEIVED,
  VNS_SC_TRACE_EVENTS,
  VNS_SC_VIOLATIONS,
  VNS_SC_CAPTURE_OUT_OF_ORDER,
  VNS_SC_CAPTURE_TRUNCATED,
  VNS_SC_LINK_TO_GUEST,
  VNS_SC_LINK_TO_HOST,
  VNS_SC_DOUBLE_FATES,
  VNS_SC_UNSENT,
  VNS_SC_CAPTURE_BAD_TIMESTAMP,
  VNS_SC_CAPTURE_LINK_UNSUPPORTED,
  VNS_SC_ARP_PROXY_REPLIES,
  VNS_SC_TX_DOUBLE_FATES,
  VNS_SC_CAPTURE_SPREAD,
  VNS_SC_CONV_OVER_LIMIT,
};

#define VNS_DEV_C(name, field) \
  { "device." name, VNS_CG_DEVICE, offsetof(vnet_dev_stats, field) }
#define VNS_DRV_C(name, field) \
  { "driver." name, VNS_CG_DRIVER, offsetof(vnet_drv_stats, field) }
#define VNS_MEM_C(name, field) \
  { "memory." name, VNS_CG_MEMORY, offsetof(emu_mm_stats, field) }
static const struct {
  const char *name;
  int group;
  size_t off;
} vns_counters[] = {
    VNS_DEV_C("rx_frames", rx_frames),
    VNS_DEV_C("rx_bytes", rx_bytes),
    VNS_DEV_C("rx_backlogged", rx_backlogged),
    VNS_DEV_C("tx_frames", tx_frames),
    VNS_DEV_C("tx_bytes", tx_bytes),
    VNS_DEV_C("tx_bad_chains", tx_bad_chains),
    VNS_DEV_C("kicks_rx", kicks[VNET_RXQ]),
    VNS_DEV_C("kicks_tx", kicks[VNET_TXQ]),
    VNS_DEV_C("interrupts", interrupts),
    VNS_DEV_C("interrupts_suppressed", interrupts_suppressed),
    VNS_DEV_C("pops_rx", pops[VNET_RXQ]),
    VNS_DEV_C("pops_tx", pops[VNET_TXQ]),
    VNS_DRV_C("rx_frames", rx_frames),
    VNS_DRV_C("rx_bytes", rx_bytes),
    VNS_DRV_C("rx_empty", rx_empty),
    VNS_DRV_C("rx_reposted", rx_reposted),
    VNS_DRV_C("rx_bad_used", rx_bad_used),
    VNS_DRV_C("tx_frames", tx_frames),
    VNS_DRV_C("tx_bytes", tx_bytes),
    VNS_DRV_C("tx_ring_full", tx_ring_full),
    VNS_DRV_C("tx_reclaimed", tx_reclaimed),
    VNS_DRV_C("tx_bad_used", tx_bad_used),
    VNS_DRV_C("kicks_rx", kicks[VNET_RXQ]),
    VNS_DRV_C("kicks_tx", kicks[VNET_TXQ]),
    VNS_DRV_C("kicks_suppressed_rx", kicks_suppressed[VNET_RXQ]),
    VNS_DRV_C("kicks_suppressed_tx", kicks_suppressed[VNET_TXQ]),
    VNS_DRV_C("interrupts", interrupts),
    VNS_DRV_C("interrupts_spurious", interrupts_spurious),
    {"host.frames_sent", VNS_CG_SIM, VNS_SC_SENT},
    {"host.frames_received", VNS_CG_SIM, VNS_SC_RECEIVED},
    {"trace.events", VNS_CG_SIM, VNS_SC_TRACE_EVENTS},
    {"violations", VNS_CG_SIM, VNS_SC_VIOLATIONS},
    {"capture.out_of_order", VNS_CG_SIM, VNS_SC_CAPTURE_OUT_OF_ORDER},
    {"capture.truncated", VNS_CG_SIM, VNS_SC_CAPTURE_TRUNCATED},
    {"link.frames_to_guest", VNS_CG_SIM, VNS_SC_LINK_TO_GUEST},
    {"link.frames_to_host", VNS_CG_SIM, VNS_SC_LINK_TO_HOST},
    {"fates.double", VNS_CG_SIM, VNS_SC_DOUBLE_FATES},
    {"host.frames_unsent", VNS_CG_SIM, VNS_SC_UNSENT},
    {"capture.bad_timestamp", VNS_CG_SIM, VNS_SC_CAPTURE_BAD_TIMESTAMP},
    {"capture.link_unsupported", VNS_CG_SIM, VNS_SC_CAPTURE_LINK_UNSUPPORTED},
    {"capture.spread", VNS_CG_SIM, VNS_SC_CAPTURE_SPREAD},
    {"host.arp_proxy_replies", VNS_CG_SIM, VNS_SC_ARP_PROXY_REPLIES},
    {"link.fault_drop", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_DROP},
    {"link.fault_rate_limit", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_RATE_LIMIT},
    {"link.fault_mtu", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_MTU},
    {"link.fault_duplicate", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_DUPLICATE},
    {"link.fault_reorder", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_REORDER},
    {"link.fault_corrupt", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_CORRUPT},
    {"link.fault_delay", VNS_CG_LINK_FAULT, EMU_FATE_FAULT_DELAY},
    /* all 0 under sc, where there is no model */
    VNS_MEM_C("stores_buffered", stores_buffered),
    VNS_MEM_C("loads_forwarded", loads_forwarded),
    VNS_MEM_C("loads_early", loads_early),
    VNS_MEM_C("barriers_wmb", barriers[GMEM_WMB]),
    VNS_MEM_C("barriers_rmb", barriers[GMEM_RMB]),
    VNS_MEM_C("barriers_mb", barriers[GMEM_MB]),
    VNS_MEM_C("max_pending", max_pending),
    {"fates.tx_double", VNS_CG_SIM, VNS_SC_TX_DOUBLE_FATES},
    VNS_DRV_C("tx_held", tx_held),
    /* with mergeable RX buffers: frames spread over several, and joined */
    VNS_DEV_C("rx_merged", rx_merged),
    VNS_DRV_C("rx_merged", rx_merged),
    {"conversations.over_limit", VNS_CG_SIM, VNS_SC_CONV_OVER_LIMIT},
};

static uint64_t vns_sim_own_counter(const vns_sim *sim, size_t which) {
  const scn *s = sim->scn;
  const emu_fault_stats *fs = emu_fault_stats_get(&s->fault);
  switch (which) {
    case VNS_SC_SENT:
      return s->injected;
    case VNS_SC_RECEIVED:
      return s->guest_frames;
    case VNS_SC_TRACE_EVENTS:
      return sim->trace->events;
    case VNS_SC_VIOLATIONS:
      return sim->nviols;
    case VNS_SC_CAPTURE_OUT_OF_ORDER:
      return s->capture.out_of_order;
    case VNS_SC_CAPTURE_TRUNCATED:
      return s->capture.truncated;
    case VNS_SC_LINK_TO_GUEST:
      return fs->frames_in[EMU_FAULT_SEND];
    case VNS_SC_DOUBLE_FATES:
      return s->fates.double_fates;
    case VNS_SC_UNSENT:
      return s->inject_queued - s->inject_sent;
    case VNS_SC_CAPTURE_BAD_TIMESTAMP:
      return s->capture.bad_timestamp;
    case VNS_SC_CAPTURE_LINK_UNSUPPORTED:
      return s->capture.link_unsupported;
    case VNS_SC_ARP_PROXY_REPLIES:
      return s->proxy.replies;
    case VNS_SC_TX_DOUBLE_FATES:
      return s->tx_fates.double_fates;
    case VNS_SC_CAPTURE_SPREAD:
      return s->capture.spread;
    case VNS_SC_CONV_OVER_LIMIT:
      return scn_conv_over_limit(s);
    default:
      return fs->frames_in[EMU_FAULT_RECV];
  }
}

VNS_API const char *vns_counter_name(size_t i) {
  return i < sizeof vns_counters / sizeof vns_counters[0] ? vns_counters[i].name : NULL;
}

VNS_API int vns_sim_counter(const vns_sim *sim, const char *name, uint64_t *out) {
  if (!sim || !name || !out) return VNS_EINVAL;
  for (size_t i = 0; i < sizeof vns_counters / sizeof vns_counters[0]; i++) {
    if (strcmp(vns_counters[i].name, name) != 0) continue;
    const uint8_t *base;
    switch (vns_counters[i].group) {
      case VNS_CG_DEVICE:
        if (!sim->dev) return VNS_ENOTSUP;
        base = (const uint8_t *)&sim->dev->stats;
        break;
      case VNS_CG_DRIVER:
        if (!sim->drv) return VNS_ENOTSUP;
        base = (const uint8_t *)&sim->drv->stats;
        break;
      case VNS_CG_LINK_FAULT:
        *out = emu_fault_stats_get(&sim->scn->fault)->faults[vns_counters[i].off];
        return 0;
      case VNS_CG_MEMORY:
        base = (const uint8_t *)&sim->scn->mm.stats;
        break;
      default:
        *out = vns_sim_own_counter(sim, vns_counters[i].off);
        return 0;
    }
    memcpy(out, base + vns_counters[i].off, sizeof *out);
    return 0;
  }
  return VNS_ENOENT;
}

/* --- rings and status ---------------------------------------------------- */

/* vns_sim_ring() for a packed queue: the two areas in memory, the
 * cursors from the modelled halves. */
static void vns_sim_ring_packed(const vns_sim *sim, uint16_t q, const vq_layout *l,
                                vns_ring_state *out) {
  out->packed = 1;
  gmem_peek_le16(sim->mem, l->avail + VQP_EVENT_OFF_FLAGS, &out->avail_flags);
  gmem_peek_le16(sim->mem, l->avail + VQP_EVENT_OFF_DESC, &out->used_event);
  gmem_peek_le16(sim->mem, l->used + VQP_EVENT_OFF_FLAGS, &out->used_flags);
  gmem_peek_le16(sim->mem, l->used + VQP_EVENT_OFF_DESC, &out->avail_event);
  if (sim->dev) {
    out->device_last_avail = vqp_off_wrap(sim->dev->q[q].pvq.avail);
    out->device_next_used = vqp_off_wrap(sim->dev->q[q].pvq.used);
  }
  if (sim->drv) {
    const vqp_drv *pq = q == VNET_RXQ ? &sim->drv->prxq : &sim->drv->ptxq;
    out->driver_last_used = vqp_off_wrap(pq->used);
    out->driver_next_avail = vqp_off_wrap(pq->avail);
  }
}

VNS_API int vns_sim_ring(const vns_sim *sim, uint16_t q, vns_ring_state *out) {
  if (!sim || !out || q >= VNET_NUM_QUEUES) return VNS_EINVAL;
  memset(out, 0, sizeof *out);
  out->driver_last_used = out->device_last_avail = -1;
  out->driver_next_avail = out->device_next_used = -1;
  int packed = sim->dev ? sim->dev->q[q].packed : sim->drv && sim->drv->packed;
  if (packed) {
    const vq_layout *pl = sim->dev ? &sim->dev->q[q].layout : NULL;
    vq_layout from_drv;
    if (!pl) {
      const vqp_layout *d = &(q == VNET_RXQ ? &sim->drv->prxq : &sim->drv->ptxq)->layout;
      from_drv = (vq_layout){d->size, d->ring, d->driver, d->device};
      pl = &from_drv;
    }
    if (!pl->size) return VNS_ESTATE;
    out->layout = (vns_ring_layout){pl->size, pl->desc, pl->avail, pl->used};
    vns_sim_ring_packed(sim, q, pl, out);
    return 0;
  }
  const vq_layout *l = NULL;
  if (sim->dev) {
    if (sim->dev->q[q].enabled) {
      l = &sim->dev->q[q].layout;
      out->device_last_avail = sim->dev->q[q].vq.last_avail_idx;
    }
  } else if (sim->drv) {
    const vq_drv *dq = q == VNET_RXQ ? &sim->drv->rxq : &sim->drv->txq;
    if (dq->layout.size) l = &dq->layout;
  }
  if (!l) return VNS_ESTATE;
  if (sim->drv)
    out->driver_last_used = (q == VNET_RXQ ? &sim->drv->rxq : &sim->drv->txq)->last_used_idx;
  out->layout = (vns_ring_layout){l->size, l->desc, l->avail, l->used};
  /* The ring was accepted inside guest memory, so these reads are in range. */
  gmem_peek_le16(sim->mem, vq_avail_flags_addr(l), &out->avail_flags);
  gmem_peek_le16(sim->mem, vq_avail_idx_addr(l), &out->avail_idx);
  gmem_peek_le16(sim->mem, vq_used_event_addr(l), &out->used_event);
  gmem_peek_le16(sim->mem, vq_used_flags_addr(l), &out->used_flags);
  gmem_peek_le16(sim->mem, vq_used_idx_addr(l), &out->used_idx);
  gmem_peek_le16(sim->mem, vq_avail_event_addr(l), &out->avail_event);
  return 0;
}

VNS_API const char *vns_sim_needs_reset(const vns_sim *sim) {
  return sim && sim->dev && sim->dev->violation ? vq_rule_name(sim->dev->violation) : NULL;
}

VNS_API uint8_t vns_sim_device_status(const vns_sim *sim) {
  if (!sim) return 0;
  if (sim->dev) return sim->dev->status;
  return sim->opts.device->get_status(sim->opts.device_ctx, (vns_sim *)sim);
}

/* --- violations and the trace -------------------------------------------- */

VNS_API size_t vns_sim_violation_count(const vns_sim *sim) { return sim ? sim->nviols : 0; }

VNS_API int vns_sim_violation(const vns_sim *sim, size_t i, vns_violation *out) {
  if (!sim || !out || i >= sim->nviols) return VNS_EINVAL;
  *out = sim->viols[i];
  return 0;
}

VNS_API size_t vns_sim_trace_count(const vns_sim *sim) { return sim ? sim->nrecs : 0; }

VNS_API int vns_sim_trace_event(const vns_sim *sim, size_t i, vns_trace_event *out) {
  if (!sim || !out) return VNS_EINVAL;
  if (!sim->opts.keep_trace) return VNS_ENOTSUP;
  if (i >= sim->nrecs) return VNS_EINVAL;
  vns_event_from_rec(&sim->recs[i], out);
  return 0;
}

VNS_API uint64_t vns_sim_trace_hash(const vns_sim *sim) { return sim ? sim->trace->hash : 0; }

VNS_API int vns_trace_format(const vns_trace_event *ev, char *buf, size_t cap) {
  if (!ev || !buf || !ev->event || !ev->actor) return VNS_EINVAL;
  int kind = -1;
  for (int k = 0; k < EMU_TR_KIND_COUNT; k++)
    if (strcmp(emu_trace_kind_name((emu_trace_kind)k), ev->event) == 0) kind = k;
  if (kind < 0) return VNS_ENOENT;
  emu_trace_rec r = {ev->t_ns,  ev->actor, (emu_trace_kind)kind,
                     ev->queue, ev->head,  ev->idx,
                     ev->len,   ev->frame, ev->detail};
  /* Formatted in full first: emu_trace_format truncates silently, and a
   * caller comparing lines must know when its buffer was short. */
  char line[512];
  int n = emu_trace_format(&r, line, sizeof line);
  if (n < 0 || (size_t)n + 1 >= sizeof line) return VNS_ENOSPC;
  if ((size_t)n + 1 > cap) return VNS_ENOSPC;
  memcpy(buf, line, (size_t)n + 1);
  return n;
}
