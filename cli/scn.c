#include "cli/scn.h"

#include <string.h>

#include "emu/err.h"

enum {
  SCN_HOST_EV_GUEST_FRAME = 1, /* a frame the guest sent */
  SCN_HOST_EV_INJECT,          /* a frame to send to the device */
  SCN_HOST_EV_PING,            /* the peer pings (arg = seq, frame_id = payload) */
  SCN_HOST_EV_TIMER,           /* the peer's next deadline */
};

#define SCN_PING_IDENT 0x7653
#define SCN_GUEST_PING_IDENT 0x6775
#define SCN_QUIET_NS 2000000000ull
#define SCN_GUEST_MEM_BASE GMEM_DEFAULT_BASE

void scn_config_default(scn_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  vnet_dev_config dc;
  vnet_drv_opts dopts;
  vnet_dev_config_default(&dc);
  vnet_drv_opts_default(&dopts);
  cfg->seed = 1;
  cfg->queue_size = dc.max_queue_size;
  cfg->rx_backlog = dc.rx_backlog;
  cfg->kick_latency = dc.kick_latency;
  cfg->irq_latency = dopts.irq_latency;
  cfg->rearm_delay = dopts.rearm_delay;
  cfg->store_delay = dopts.store_delay;
  cfg->backend_latency = (emu_latency){5000, 20000};
  cfg->batch_min = dc.batch_min;
  cfg->batch_max = dc.batch_max;
  net_iface_config_slirp_guest(&cfg->guest);
  cfg->trace_hash = 1;
  cfg->conformance = 1;
}

static void scn_log_violation(void *ctx, const emu_trace_rec *rec) {
  if (rec->kind != EMU_TR_VIOLATION) return;
  scn *s = ctx;
  s->violations_total++;
  if (s->nviolations == SCN_MAX_VIOLATIONS) return;
  s->violations[s->nviolations++] =
      (scn_violation){rec->t_ns, rec->actor, rec->queue, vq_rule_from_name(rec->detail), rec->head};
}

uint64_t scn_now(const scn *s) { return s->sched.now_ns; }

/* The host sends: the frame enters the system (and the ledger) now. */
static void scn_host_send_now(scn *s, const uint8_t *frame, size_t len) {
  int64_t id = emu_fates_enter(&s->fates, scn_now(s));
  if (id < 0) return;
  s->injected++;
  if (emu_channel_send(&s->host_to_device, 0, (uint32_t)id, frame, len) != 0)
    emu_fates_set(&s->fates, (uint32_t)id, EMU_FATE_RX_NO_BUFFER, scn_now(s));
}

static int scn_host_port_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  scn_host_send_now(impl, frame, len);
  return 0;
}

static void scn_peer_arm(scn *s) {
  if (!s->peer) return;
  uint64_t now = scn_now(s), next = net_iface_poll_at(s->peer);
  if (next == UINT64_MAX) return;
  if (s->peer_timer_at <= now || next < s->peer_timer_at) {
    s->peer_timer_at = next;
    emu_actor_post(&s->host, next, SCN_HOST_EV_TIMER, 0, 0, NULL, 0);
  }
}

static void scn_host_handle(emu_actor *self, const emu_event *ev) {
  scn *s = self->ctx;
  uint64_t now = scn_now(s);
  switch (ev->kind) {
    case SCN_HOST_EV_GUEST_FRAME:
      s->guest_frames++;
      if (s->peer) emu_port_deliver(&s->host_port, ev->data, ev->len, now);
      if (s->host_rx) s->host_rx(s->host_rx_ctx, ev->data, ev->len, now);
      break;
    case SCN_HOST_EV_INJECT:
      scn_host_send_now(s, ev->data, ev->len);
      break;
    case SCN_HOST_EV_PING: {
      uint32_t dst;
      memcpy(&dst, ev->data, sizeof dst);
      if (s->peer) net_iface_ping(s->peer, dst, SCN_PING_IDENT, (uint16_t)ev->arg, ev->frame_id, now);
      break;
    }
    case SCN_HOST_EV_TIMER:
      if (ev->at_ns < s->peer_timer_at) return;
      s->peer_timer_at = 0;
      if (s->peer) net_iface_poll(s->peer, now);
      break;
    default:
      break;
  }
  scn_peer_arm(s);
}

/* The guest's network loop, run on the driver's actor: its application
 * (scheduled pings), then the stack's timers. Returns the next wake-up. */
static uint64_t scn_guest_poll(void *ctx, uint64_t now_ns) {
  scn *s = ctx;
  while (s->next_guest_ping < s->nguest_pings &&
         s->guest_pings[s->next_guest_ping].at_ns <= now_ns) {
    const struct scn_guest_ping *p = &s->guest_pings[s->next_guest_ping++];
    net_iface_ping(&s->guest, p->dst_ip, SCN_GUEST_PING_IDENT, p->seq, 56, now_ns);
  }
  net_iface_poll(&s->guest, now_ns);
  uint64_t next = net_iface_poll_at(&s->guest);
  if (next == UINT64_MAX) next = EMU_TIME_NEVER;
  if (s->next_guest_ping < s->nguest_pings && s->guest_pings[s->next_guest_ping].at_ns < next)
    next = s->guest_pings[s->next_guest_ping].at_ns;
  /* A guest whose network loop also wakes on a period (as smoltcp users
   * often do) polls at every multiple of it. */
  uint64_t period = s->cfg.guest_poll_ns;
  if (period && now_ns < s->poll_horizon_ns) {
    uint64_t tick = (now_ns / period + 1) * period;
    if (tick < next) next = tick;
  }
  return next;
}

int scn_init(scn *s, const scn_config *cfg) {
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  s->poll_horizon_ns = cfg->start_ns + SCN_QUIET_NS;
  if (!vq_size_valid(cfg->queue_size)) return EMU_EINVAL;
  emu_rng_init(&s->rng, cfg->seed);
  emu_sched_init(&s->sched, &s->rng, cfg->start_ns);
  emu_trace_init(&s->trace, &s->sched.now_ns);
  emu_trace_set_sink(&s->trace, cfg->trace_sink);
  emu_trace_set_hashing(&s->trace, cfg->trace_hash);
  if (cfg->conformance) emu_trace_add_observer(&s->trace, scn_log_violation, s);
  if (cfg->trace_observer) emu_trace_set_observer(&s->trace, cfg->trace_observer, cfg->trace_observer_ctx);

  /* Rings, RX buffers and TX buffers of both queues, with room to spare. */
  uint64_t qs = cfg->queue_size;
  uint64_t mem_size = qs * (16 * 2 + 16 + 2 * VNET_MIN_RX_BUF + 2 * 2048 + 64) + (1u << 20);
  int rc = gmem_init(&s->mem, SCN_GUEST_MEM_BASE, mem_size);
  if (!rc) rc = emu_fates_init(&s->fates, cfg->queue_size);
  if (rc) goto fail;

  vnet_dev_config dc;
  vnet_dev_config_default(&dc);
  memcpy(dc.mac, cfg->guest.mac, sizeof dc.mac);
  dc.max_queue_size = cfg->queue_size;
  dc.rx_backlog = cfg->rx_backlog;
  dc.batch_min = cfg->batch_min;
  dc.batch_max = cfg->batch_max;
  dc.kick_latency = cfg->kick_latency;
  dc.bugs = cfg->dev_bugs;
  rc = vnet_dev_init(&s->dev, &dc, &s->mem, &s->sched, &s->fates, &s->trace);
  if (rc) goto fail;

  vnet_drv_opts dopts;
  vnet_drv_opts_default(&dopts);
  dopts.queue_size = cfg->queue_size;
  dopts.bugs = cfg->bugs;
  dopts.irq_latency = cfg->irq_latency;
  dopts.rearm_delay = cfg->rearm_delay;
  dopts.store_delay = cfg->store_delay;
  rc = vnet_drv_init(&s->drv, &dopts, &s->mem, &s->sched, vnet_dev_transport(&s->dev),
                     &s->fates, &s->trace);
  if (!rc) rc = emu_actor_init(&s->host, &s->sched, "host", scn_host_handle, s);
  if (rc) goto fail;

  emu_channel_init(&s->dev.irq, &s->drv.actor, VNET_DRV_EV_IRQ, cfg->irq_latency);
  emu_channel_init(&s->dev.to_host, &s->host, SCN_HOST_EV_GUEST_FRAME, cfg->backend_latency);
  emu_channel_init(&s->host_to_device, &s->dev.actor, VNET_DEV_EV_FRAME, cfg->backend_latency);
  s->host_port = (emu_port){scn_host_port_send, s, NULL, NULL};

  rc = vnet_drv_probe(&s->drv);
  s->probe_rc = rc;
  if (rc) goto fail;
  rc = net_iface_init(&s->guest, &cfg->guest, vnet_drv_netdev(&s->drv));
  if (rc) goto fail;
  emu_port_attach(vnet_drv_netdev(&s->drv), net_iface_input, &s->guest);
  vnet_drv_set_poll(&s->drv, scn_guest_poll, s);
  return 0;
fail:
  scn_close(s);
  return rc;
}

void scn_close(scn *s) {
  emu_sched_close(&s->sched);
  net_iface_close(&s->guest);
  vnet_drv_close(&s->drv);
  vnet_dev_close(&s->dev);
  emu_fates_close(&s->fates);
  gmem_close(&s->mem);
}

/* Inputs scheduled from outside keep a periodically polling guest awake
 * until 2 s after the last of them. */
static void scn_extend_horizon(scn *s, uint64_t at_ns) {
  if (at_ns + SCN_QUIET_NS > s->poll_horizon_ns) s->poll_horizon_ns = at_ns + SCN_QUIET_NS;
}

int scn_inject_at(scn *s, uint64_t at_ns, const uint8_t *frame, size_t len) {
  scn_extend_horizon(s, at_ns);
  return emu_actor_post(&s->host, at_ns, SCN_HOST_EV_INJECT, 0, 0, frame, len);
}

emu_port *scn_host_port(scn *s) { return &s->host_port; }

void scn_attach_peer(scn *s, net_iface *peer) {
  s->peer = peer;
  emu_port_attach(&s->host_port, net_iface_input, peer);
}

void scn_set_host_rx(scn *s, scn_host_rx_fn fn, void *ctx) {
  s->host_rx = fn;
  s->host_rx_ctx = ctx;
}

int scn_peer_ping_at(scn *s, uint64_t at_ns, uint32_t dst_ip, uint16_t seq, uint16_t payload) {
  scn_extend_horizon(s, at_ns);
  return emu_actor_post(&s->host, at_ns, SCN_HOST_EV_PING, seq, payload, &dst_ip,
                        sizeof dst_ip);
}

int scn_guest_ping_at(scn *s, uint64_t at_ns, uint32_t dst_ip, uint16_t seq) {
  size_t n = s->nguest_pings;
  if (n == sizeof s->guest_pings / sizeof s->guest_pings[0]) return EMU_ENOSPC;
  if (n && at_ns < s->guest_pings[n - 1].at_ns) return EMU_EINVAL;
  s->guest_pings[s->nguest_pings++] = (struct scn_guest_ping){at_ns, dst_ip, seq};
  scn_extend_horizon(s, at_ns);
  vnet_drv_wake_stack(&s->drv);
  return 0;
}

uint64_t scn_run(scn *s, uint64_t until_ns, uint64_t max_steps) {
  return emu_sched_run(&s->sched, until_ns, max_steps);
}

void scn_finish(scn *s) {
  uint64_t now = scn_now(s);
  vnet_dev_finish(&s->dev);
  emu_fates_finish(&s->fates, now);
}
