#include "sim/scn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "sim/conv.h"

enum {
  SCN_HOST_EV_GUEST_FRAME = 1,     /* a frame the guest sent */
  SCN_HOST_EV_INJECT,              /* a frame to send to the device */
  SCN_HOST_EV_UNSENDABLE,          /* a frame the host cannot send; arg: its fate */
  SCN_HOST_EV_PING,                /* the peer pings (arg = seq, frame_id = payload) */
  SCN_HOST_EV_TIMER,               /* the peer's next deadline */
  SCN_HOST_EV_FAULT,               /* a frame the fault injector held is due */
  SCN_HOST_EV_CALL,                /* a host-side script: data holds fn and ctx */
  SCN_HOST_EV_CAPTURED,            /* a captured frame to send to the device */
  SCN_HOST_EV_CAPTURED_UNSENDABLE, /* a captured frame the host cannot send; arg: its fate */
  SCN_HOST_EV_CONV,                /* the conversation player's timer */
};

struct scn_host_call {
  scn_host_fn fn;
  void *ctx;
};

#define SCN_QUIET_NS       2000000000ull
#define SCN_GUEST_MEM_BASE GMEM_DEFAULT_BASE
/* Guest memory per queue slot: both queues' descriptor entries, 16 bytes
 * toward their avail and used entries (20 a slot: the alignment allowance
 * covers the rest), an RX buffer for the largest frame and a 2 KiB TX buffer
 * for each queue, 64 bytes of alignment; then 1 MiB to spare. */
#define SCN_TX_BUF_LEN    2048u
#define SCN_MEM_ALIGN_LEN 64u
#define SCN_MEM_PER_SLOT \
  (2 * VQ_DESC_SIZE + 16u + 2 * VNET_MIN_RX_BUF + 2 * SCN_TX_BUF_LEN + SCN_MEM_ALIGN_LEN)
#define SCN_MEM_SPARE (1u << 20)
/* Independent PRNG streams derived from the run's seed. */
#define SCN_FAULT_SEED     0x6661756c74ull
#define SCN_GUEST_TCP_SEED 0x6775657374ull
#define SCN_PEER_TCP_SEED  0x70656572ull
#define SCN_CLIENT_SEED    0x636c69656e74ull
/* slirp's convention: the DNS server is the guest network's .3 (a DHCP
 * lease's server replaces it). */
#define SCN_DNS_HOST 3u

/* /stats in the guest's HTTP service: the rings and the device beside the
 * stack's own counters. */
static size_t scn_stats_json(void *ctx, char *buf, size_t cap) {
  const scn *s = ctx;
  const vnet_dev_stats *dv = &s->dev.stats;
  const vnet_drv_stats *dr = &s->drv.stats;
  int n = snprintf(buf, cap,
                   "{\"rx_ring\":{\"avail_idx\":%u,\"used_idx\":%u,\"size\":%u},"
                   "\"tx_ring\":{\"avail_idx\":%u,\"used_idx\":%u},"
                   "\"device\":{\"rx_frames\":%" PRIu64 ",\"tx_frames\":%" PRIu64
                   ",\"interrupts\":%" PRIu64 ",\"kicks_rx\":%" PRIu64 ",\"kicks_tx\":%" PRIu64
                   "},\"driver\":{\"rx_frames\":%" PRIu64 ",\"rx_reposted\":%" PRIu64
                   ",\"tx_frames\":%" PRIu64 ",\"tx_ring_full\":%" PRIu64 "},",
                   s->drv.rxq.avail_idx_published, s->dev.q[VNET_RXQ].vq.used_idx_published,
                   s->drv.rxq.layout.size, s->drv.txq.avail_idx_published,
                   s->dev.q[VNET_TXQ].vq.used_idx_published, dv->rx_frames, dv->tx_frames,
                   dv->interrupts, dv->kicks[VNET_RXQ], dv->kicks[VNET_TXQ], dr->rx_frames,
                   dr->rx_reposted, dr->tx_frames, dr->tx_ring_full);
  if (n < 0 || (size_t)n >= cap) return 0;
  /* both ledgers: frames entered, and those with their fate decided */
  int m = snprintf(buf + n, cap - (size_t)n,
                   "\"ledgers\":{\"host_to_guest\":{\"frames\":%zu,\"fated\":%" PRIu64
                   "},\"guest_to_host\":{\"frames\":%zu,\"fated\":%" PRIu64 "}},\"stack\":",
                   s->fates.nframes, emu_fates_total(&s->fates), s->tx_fates.nframes,
                   emu_fates_total(&s->tx_fates));
  if (m < 0 || (size_t)m >= cap - (size_t)n) return 0;
  n += m;
  size_t used = (size_t)n + net_iface_stats_json(&s->guest, buf + n, cap - (size_t)n);
  if (used + 2 > cap) return 0;
  buf[used++] = '}';
  buf[used] = '\0';
  return used;
}

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
  emu_fault_config_default(&cfg->fault);
  cfg->services = 1;
  cfg->memory = EMU_MM_SC;
  cfg->memory_delay_ns = EMU_MM_DEFAULT_DELAY_NS;
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

static int scn_ids_push(scn_ids *l, uint32_t id) {
  size_t held = l->n - l->first;
  uint32_t *grown = emu_grow(l->ids, &l->cap, l->at + held + 1, sizeof *grown, 1024);
  if (!grown) return EMU_ENOMEM;
  l->ids = grown;
  l->ids[l->at + held] = id;
  l->n++;
  return 0;
}

static int64_t scn_ids_get(const scn_ids *l, size_t k) {
  return k >= l->first && k < l->n ? (int64_t)l->ids[l->at + (k - l->first)] : -1;
}

/* Drops the ids before the k-th from the front. */
static void scn_ids_forget_before(scn_ids *l, size_t k) {
  if (k > l->n) k = l->n;
  if (k <= l->first) return;
  l->at += k - l->first;
  l->first = k;
  emu_grow_compact(l->ids, sizeof *l->ids, &l->at, l->n - l->first);
}

/* Drops the ids below `below` from the front (the ids rise with k). */
static void scn_ids_forget_below(scn_ids *l, uint64_t below) {
  size_t k = l->first;
  while (k < l->n && l->ids[l->at + (k - l->first)] < below) k++;
  scn_ids_forget_before(l, k);
}

int64_t scn_sent_id(const scn *s, size_t k) { return scn_ids_get(&s->sent, k); }

int64_t scn_captured_id(const scn *s, size_t k) { return scn_ids_get(&s->captured, k); }

static void scn_rx_retire(void *ctx, uint32_t id, const emu_fate_rec *r) {
  scn *s = ctx;
  int64_t k = -1;
  if (scn_ids_get(&s->captured, s->captured_reported) == (int64_t)id)
    k = (int64_t)s->captured_reported++;
  if (s->frame_done) s->frame_done(s->frame_done_ctx, id, k, r);
  scn_ids_forget_below(&s->sent, (uint64_t)id + 1);
  scn_ids_forget_below(&s->captured, (uint64_t)id + 1);
}

static void scn_tx_retire(void *ctx, uint32_t id, const emu_fate_rec *r) {
  (void)ctx, (void)id, (void)r;
}

void scn_window(scn *s, scn_frame_done_fn done, void *ctx) {
  s->frame_done = done;
  s->frame_done_ctx = ctx;
  emu_fates_window(&s->fates, scn_rx_retire, s);
  emu_fates_window(&s->tx_fates, scn_tx_retire, s);
}

/* The fault injector names frames by their place on the link, as long as
 * it holds them (a copy of a frame long delivered included): the ids of
 * those it can no longer name go, when the ledger is windowed. Called once
 * a frame has gone by in that direction, never while one is passing (a
 * proxy ARP reply is sent while the guest's frame is being delivered). */
static void scn_forget_off_link(scn *s, emu_fault_dir dir) {
  if (s->fates.retire && s->fault_on)
    scn_ids_forget_before(dir == EMU_FAULT_SEND ? &s->on_link : &s->recv,
                          emu_fault_oldest(&s->fault, dir));
}

/* The wire itself: whatever reaches the host's end goes to the device, as
 * the ledger frame it is. With faults, the injector names which frame is
 * passing (a copy it made is a new frame entering the system). */
static int scn_link_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn *s = impl;
  uint32_t id = s->sending_id;
  if (s->fault_on) {
    uint64_t no;
    int copy;
    emu_fault_passing(&s->fault, &no, &copy);
    if (copy) {
      int64_t cid = emu_fates_enter(&s->fates, now_ns);
      if (cid < 0) return (int)cid;
      emu_fates_note_fault(&s->fates, (uint32_t)cid, EMU_FATE_FAULT_DUPLICATE);
      id = (uint32_t)cid;
    } else {
      int64_t on_link = scn_ids_get(&s->on_link, no);
      if (on_link >= 0) id = (uint32_t)on_link;
    }
  }
  if (emu_channel_send(&s->host_to_device, 0, id, frame, len) != 0)
    /* out of host memory: the frame never reached the device */
    emu_fates_set(&s->fates, id, EMU_FATE_RX_NO_BUFFER, now_ns, "host", -1);
  return 0;
}

static void scn_fault_arm(scn *s) {
  if (s->fault_on)
    emu_actor_arm(&s->host, &s->fault_timer_at, emu_fault_poll_at(&s->fault), SCN_HOST_EV_FAULT);
}

/* The frame enters the system (and the ledger) now, as the host's next sent
 * frame; its ledger id, or -1 when out of host memory. */
int64_t scn_host_enter(scn *s, int captured) {
  int64_t id = emu_fates_enter(&s->fates, scn_now(s));
  if (id < 0) return -1;
  s->injected++;
  if (scn_ids_push(&s->sent, (uint32_t)id) ||
      (captured && scn_ids_push(&s->captured, (uint32_t)id))) {
    /* out of host memory: the frame never left the host */
    emu_fates_set(&s->fates, (uint32_t)id, EMU_FATE_RX_NO_BUFFER, scn_now(s), "host", -1);
    return -1;
  }
  return id;
}

/* The host sends: the frame enters the system (and the ledger) now. */
static void scn_host_send_now(scn *s, const uint8_t *frame, size_t len, int captured) {
  int64_t id = scn_host_enter(s, captured);
  if (id >= 0) scn_host_put(s, (uint32_t)id, frame, len);
}

/* The frame that entered as id goes onto the link now. */
void scn_host_put(scn *s, uint32_t id, const uint8_t *frame, size_t len) {
  if (s->host_tx) s->host_tx(s->host_tx_ctx, frame, len, scn_now(s));
  if (s->fault_on && scn_ids_push(&s->on_link, id)) {
    /* out of host memory: the frame never left the host */
    emu_fates_set(&s->fates, id, EMU_FATE_RX_NO_BUFFER, scn_now(s), "host", -1);
    return;
  }
  s->sending_id = id;
  emu_port_send(s->host_out, frame, len, scn_now(s));
  scn_fault_arm(s);
  scn_forget_off_link(s, EMU_FAULT_SEND);
}

/* Every fault is traced; one that removes a frame is its fate, one that
 * only changes it is noted beside the fate it gets later. */
static void scn_on_fault(void *ctx, const emu_fault_report *r) {
  scn *s = ctx;
  int to_guest = r->dir == EMU_FAULT_SEND;
  const char *dir = to_guest ? "to_guest" : "to_host";
  emu_fates *ledger = to_guest ? &s->fates : &s->tx_fates;
  int64_t id = scn_ids_get(to_guest ? &s->on_link : &s->recv, r->frame_no);
  if (r->event == EMU_FAULT_EV_APPLIED)
    EMU_TRACE_EMIT(&s->trace, .actor = "link", .kind = EMU_TR_FAULT, .queue = dir,
                   .idx = (int64_t)r->frame_no, .len = (int64_t)r->len, .frame = id,
                   .detail = emu_fate_name(r->reason));
  if (id < 0 || r->event != EMU_FAULT_EV_APPLIED) return;
  if (r->removed)
    emu_fates_set(ledger, (uint32_t)id, r->reason, r->now_ns, "link", -1);
  else if (r->reason != EMU_FATE_FAULT_DUPLICATE) /* the copy carries that one */
    emu_fates_note_fault(ledger, (uint32_t)id, r->reason);
}

/* The TX ledger id of the guest frame reaching the host now: with faults,
 * the injector names which one is passing (a copy it made is a new frame). */
static int64_t scn_host_arriving(scn *s, uint64_t now_ns) {
  if (!s->fault_on) return s->receiving_id;
  uint64_t no;
  int copy;
  emu_fault_passing(&s->fault, &no, &copy);
  if (!copy) return scn_ids_get(&s->recv, no);
  int64_t id = emu_fates_enter(&s->tx_fates, now_ns);
  if (id >= 0) emu_fates_note_fault(&s->tx_fates, (uint32_t)id, EMU_FATE_FAULT_DUPLICATE);
  return id;
}

/* Guest frames that made it to the host's side of the link. */
static emu_fate scn_host_deliver(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn *s = ctx;
  s->guest_frames++;
  int64_t id = scn_host_arriving(s, now_ns);
  if (id >= 0) emu_fates_set(&s->tx_fates, (uint32_t)id, EMU_FATE_SENT, now_ns, "host", -1);
  emu_fate fate = s->peer ? net_iface_input(s->peer, frame, len, now_ns) : EMU_FATE_DELIVERED;
  if (s->host_rx) s->host_rx(s->host_rx_ctx, frame, len, now_ns);
  if (s->conv) scn_conv_guest_frame(s, frame, len, now_ns);
  uint8_t reply[SCN_PROXY_REPLY_MAX];
  int n = s->cfg.arp_proxy ? scn_proxy_answer(s, frame, len, reply, sizeof reply) : 0;
  if (n > 0) {
    /* answered at once, as a host on the wire would, after the guest's
     * frame was seen (and written out) */
    s->proxy.replies++;
    scn_host_send_now(s, reply, (size_t)n, 0);
  }
  return fate;
}

static int scn_host_port_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  scn_host_send_now(impl, frame, len, 0);
  return 0;
}

static void scn_peer_arm(scn *s) {
  if (s->peer)
    emu_actor_arm(&s->host, &s->peer_timer_at, net_iface_poll_at(s->peer), SCN_HOST_EV_TIMER);
}

/* A guest frame arrives at the host's end, its TX ledger id with it. */
static void scn_host_receive(scn *s, const emu_event *ev, uint64_t now) {
  s->receiving_id = ev->frame_id;
  if (s->fault_on) {
    if (scn_ids_push(&s->recv, ev->frame_id)) {
      emu_fates_set(&s->tx_fates, ev->frame_id, EMU_FATE_NO_MEMORY, now, "host", -1);
      return;
    }
  }
  emu_port_deliver(&s->link, ev->data, ev->len, now);
  scn_forget_off_link(s, EMU_FAULT_RECV);
}

static void scn_host_handle(emu_actor *self, const emu_event *ev) {
  scn *s = self->ctx;
  uint64_t now = scn_now(s);
  switch (ev->kind) {
    case SCN_HOST_EV_GUEST_FRAME:
      scn_host_receive(s, ev, now);
      break;
    case SCN_HOST_EV_INJECT:
    case SCN_HOST_EV_CAPTURED:
      s->inject_sent++;
      if (s->cfg.arp_proxy) scn_proxy_learn(s, ev->data, ev->len);
      /* a captured conversation's segment is the player's to send */
      if (ev->kind == SCN_HOST_EV_CAPTURED && s->conv && scn_conv_take(s, ev->data, ev->len, now))
        break;
      scn_host_send_now(s, ev->data, ev->len, ev->kind == SCN_HOST_EV_CAPTURED);
      break;
    case SCN_HOST_EV_CONV:
      if (!emu_actor_timer_due(&s->conv_timer_at, ev)) return;
      scn_conv_poll(s, now);
      break;
    case SCN_HOST_EV_UNSENDABLE:
    case SCN_HOST_EV_CAPTURED_UNSENDABLE: {
      /* in the ledger in its place among the sent frames, fated at once */
      s->inject_sent++;
      int64_t id = scn_host_enter(s, ev->kind == SCN_HOST_EV_CAPTURED_UNSENDABLE);
      if (id >= 0) emu_fates_set(&s->fates, (uint32_t)id, (emu_fate)ev->arg, now, "host", -1);
      break;
    }
    case SCN_HOST_EV_PING: {
      uint32_t dst;
      memcpy(&dst, ev->data, sizeof dst);
      if (s->peer)
        net_iface_ping(s->peer, dst, SCN_PING_IDENT, (uint16_t)ev->arg, ev->frame_id, now);
      break;
    }
    case SCN_HOST_EV_TIMER:
      if (!emu_actor_timer_due(&s->peer_timer_at, ev)) return;
      if (s->peer) net_iface_poll(s->peer, now);
      break;
    case SCN_HOST_EV_CALL: {
      struct scn_host_call call;
      memcpy(&call, ev->data, sizeof call);
      call.fn(call.ctx, now);
      break;
    }
    case SCN_HOST_EV_FAULT:
      if (!emu_actor_timer_due(&s->fault_timer_at, ev)) return;
      emu_fault_poll(&s->fault, now);
      break;
    default:
      break;
  }
  scn_peer_arm(s);
  scn_fault_arm(s);
}

/* The guest's network loop, run on the driver's actor: its application
 * (scheduled pings), then the stack's timers. Returns the next wake-up. */
static uint64_t scn_guest_poll(void *ctx, uint64_t now_ns) {
  scn *s = ctx;
  while (s->next_guest_ping < s->nguest_pings &&
         s->guest_pings[s->next_guest_ping].at_ns <= now_ns) {
    const struct scn_guest_ping *p = &s->guest_pings[s->next_guest_ping++];
    if (p->dst_ip == 0)
      (void)net_iface_router_solicit(&s->guest, now_ns);
    else
      net_iface_ping(&s->guest, p->dst_ip, SCN_GUEST_PING_IDENT, p->seq, 56, now_ns);
  }
  if (s->client) net_client_poll(s->client, now_ns);
  net_iface_poll(&s->guest, now_ns);
  uint64_t next = net_iface_poll_at(&s->guest);
  if (next == UINT64_MAX) next = EMU_TIME_NEVER;
  if (s->client) {
    uint64_t at = net_client_poll_at(s->client);
    if (at < next) next = at > now_ns ? at : now_ns + 1; /* never this very instant again */
  }
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

uint64_t scn_guest_mem_size(uint16_t queue_size) {
  return queue_size * SCN_MEM_PER_SLOT + SCN_MEM_SPARE;
}

uint64_t scn_guest_mem_size_for(const scn_config *cfg) {
  /* what the driver will post, beyond the slot's room for a 1526-byte RX
   * and a 2048-byte TX buffer on each queue */
  uint32_t rx = vnet_drv_rx_buf_len_for(cfg->rx_buf_len, cfg->mtu, cfg->mergeable);
  uint32_t tx = vnet_drv_tx_buf_len_for(cfg->mtu);
  uint64_t grown = (rx > VNET_MIN_RX_BUF ? rx - VNET_MIN_RX_BUF : 0) +
                   (tx > SCN_TX_BUF_LEN ? tx - SCN_TX_BUF_LEN : 0);
  return scn_guest_mem_size(cfg->queue_size) + (uint64_t)cfg->queue_size * 2 * grown;
}

/* The deterministic kernel: clock, PRNG, trace, guest memory, ledger. */
static int scn_init_kernel(scn *s, const scn_config *cfg) {
  emu_rng_init(&s->rng, cfg->seed);
  emu_sched_init(&s->sched, &s->rng, cfg->start_ns);
  emu_trace_init(&s->trace, &s->sched.now_ns);
  emu_trace_set_sink(&s->trace, cfg->trace_sink);
  emu_trace_set_hashing(&s->trace, cfg->trace_hash);
  if (cfg->conformance) emu_trace_add_observer(&s->trace, scn_log_violation, s);
  if (cfg->trace_observer)
    emu_trace_set_observer(&s->trace, cfg->trace_observer, cfg->trace_observer_ctx);
  uint64_t mem_size = cfg->mem_size ? cfg->mem_size : scn_guest_mem_size_for(cfg);
  int rc = gmem_init(&s->mem, SCN_GUEST_MEM_BASE, mem_size);
  if (!rc) rc = emu_fates_init(&s->fates, cfg->queue_size);
  if (!rc) emu_fates_trace(&s->fates, &s->trace, "rx");
  if (!rc) rc = emu_fates_init(&s->tx_fates, cfg->queue_size);
  if (!rc) {
    emu_fates_trace(&s->tx_fates, &s->trace, "tx");
    s->tx_fates.overtaken = s->tx_fates.left_over = EMU_FATE_TX_NOT_TAKEN;
  }
  for (unsigned q = 0; q < VNET_NUM_QUEUES; q++) s->user_kick_ns[q] = EMU_TIME_NEVER;
  return rc;
}

/* The device side: the modelled device, or an actor for the user's. Its
 * actor is registered first, the driver side's second, the host's third:
 * the order in which simultaneous events are offered to the PRNG. */
static int scn_init_device(scn *s, const scn_config *cfg) {
  if (cfg->user_device)
    return emu_actor_init(&s->user, &s->sched, "device", cfg->user_device->handle,
                          cfg->user_device->ctx);
  vnet_dev_config dc;
  vnet_dev_config_default(&dc);
  if (cfg->device_features) dc.features = cfg->device_features;
  memcpy(dc.mac, cfg->guest.mac, sizeof dc.mac);
  dc.max_queue_size = cfg->queue_size;
  dc.rx_backlog = cfg->rx_backlog;
  dc.batch_min = cfg->batch_min;
  dc.batch_max = cfg->batch_max;
  dc.kick_latency = cfg->kick_latency;
  dc.bugs = cfg->dev_bugs;
  if (cfg->packed_ring) dc.features |= VIRTIO_BIT(VIRTIO_F_RING_PACKED);
  if (cfg->mergeable) dc.features |= VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
  if (cfg->mtu) dc.features |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
  dc.mtu = cfg->mtu;
  int rc = vnet_dev_init(&s->dev, &dc, &s->mem, &s->sched, &s->fates, &s->trace);
  if (!rc) vnet_dev_set_tx_ledger(&s->dev, &s->tx_fates);
  return rc;
}

static int scn_init_driver(scn *s, const scn_config *cfg) {
  if (cfg->user_driver)
    return emu_actor_init(&s->user, &s->sched, "driver", cfg->user_driver->handle,
                          cfg->user_driver->ctx);
  vnet_drv_opts dopts;
  vnet_drv_opts_default(&dopts);
  if (cfg->driver_features) dopts.features = cfg->driver_features;
  dopts.queue_size = cfg->queue_size;
  dopts.bugs = cfg->bugs;
  dopts.irq_latency = cfg->irq_latency;
  dopts.rearm_delay = cfg->rearm_delay;
  dopts.store_delay = cfg->store_delay;
  if (cfg->packed_ring) dopts.features |= VIRTIO_BIT(VIRTIO_F_RING_PACKED);
  if (cfg->mergeable) dopts.features |= VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
  if (cfg->mtu) dopts.features |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
  dopts.rx_buf_len = cfg->rx_buf_len;
  const virtio_transport *t =
      cfg->user_device ? cfg->user_device->transport : vnet_dev_transport(&s->dev);
  int rc = vnet_drv_init(&s->drv, &dopts, &s->mem, &s->sched, t, &s->fates, &s->trace);
  if (!rc) vnet_drv_set_tx_ledger(&s->drv, &s->tx_fates);
  return rc;
}

/* The notification channels and the wire between host and device. */
static int scn_init_links(scn *s, const scn_config *cfg) {
  emu_actor *driver = cfg->user_driver ? &s->user : &s->drv.actor;
  int driver_irq = cfg->user_driver ? SCN_USER_EV_IRQ : VNET_DRV_EV_IRQ;
  if (cfg->user_device) {
    emu_channel_init(&s->user_kick, &s->user, SCN_USER_EV_KICK, cfg->kick_latency);
    emu_channel_init(&s->user_irq, driver, driver_irq, cfg->irq_latency);
    emu_channel_init(&s->user_to_host, &s->host, SCN_HOST_EV_GUEST_FRAME, cfg->backend_latency);
    emu_channel_init(&s->host_to_device, &s->user, SCN_USER_EV_FRAME, cfg->backend_latency);
  } else {
    emu_channel_init(&s->dev.irq, driver, driver_irq, cfg->irq_latency);
    emu_channel_init(&s->dev.to_host, &s->host, SCN_HOST_EV_GUEST_FRAME, cfg->backend_latency);
    emu_channel_init(&s->host_to_device, &s->dev.actor, VNET_DEV_EV_FRAME, cfg->backend_latency);
  }
  s->host_port = (emu_port){.send = scn_host_port_send, .impl = s};
  s->link = (emu_port){.send = scn_link_send, .impl = s};
  s->host_out = &s->link;
  if (emu_fault_config_active(&cfg->fault)) {
    int rc = emu_fault_init(&s->fault, &cfg->fault, cfg->seed ^ SCN_FAULT_SEED, &s->link);
    if (rc) return rc;
    emu_fault_set_report(&s->fault, scn_on_fault, s);
    s->fault_on = 1;
    s->host_out = emu_fault_port(&s->fault);
  }
  emu_port_attach(s->host_out, scn_host_deliver, s);
  return 0;
}

/* The guest's network stack above the modelled driver, and its services. */
/* The guest's client (actions, DHCP), created on first use. */
static int scn_client_open(scn *s) {
  if (s->client) return 0;
  s->client = malloc(sizeof *s->client);
  if (!s->client) return EMU_ENOMEM;
  const net_iface_config *g = &s->cfg.guest;
  net_client_init(s->client, &s->guest, s->cfg.seed ^ SCN_CLIENT_SEED,
                  (g->ip & g->netmask) | SCN_DNS_HOST);
  return 0;
}

static int scn_init_guest(scn *s, const scn_config *cfg) {
  net_iface_config guest = cfg->guest;
  if (cfg->mtu) guest.mtu = cfg->mtu; /* as Linux takes the device's mtu for its interface */
  int rc = net_iface_init(&s->guest, &guest, vnet_drv_netdev(&s->drv));
  if (rc) return rc;
  emu_port_attach(vnet_drv_netdev(&s->drv), net_iface_input, &s->guest);
  /* a reply waiting for ARP decides its frame's fate when it leaves */
  net_iface_set_deferral(&s->guest, vnet_drv_deferral(&s->drv));
  net_tcp_config tcp;
  net_tcp_config_default(&tcp);
  tcp.seed = cfg->seed ^ SCN_GUEST_TCP_SEED;
  if (cfg->tcp_max_conns) tcp.max_conns = cfg->tcp_max_conns;
  rc = net_tcp_configure(&s->guest, &tcp);
  if (!rc && cfg->services) rc = net_services_start(&s->services, &s->guest, NET_SVC_ALL);
  if (!rc) rc = scn_conv_open_sinks(s);
  if (rc) return rc;
  /* /stats reads the modelled device's counters too */
  if (!cfg->user_device) net_iface_set_stats_fn(&s->guest, scn_stats_json, s);
  if (cfg->dhcp) {
    rc = scn_client_open(s);
    if (!rc) rc = net_client_start_dhcp(s->client, cfg->start_ns);
    if (rc) return rc;
  }
  vnet_drv_set_poll(&s->drv, scn_guest_poll, s);
  return 0;
}

void scn_host_peer_config(const scn_config *cfg, net_iface_config *out) {
  net_iface_config_slirp_host(out);
  out->ip = cfg->guest.gateway; /* the host is the guest's gateway */
  out->mtu = cfg->mtu;          /* one link, one mtu */
}

static int scn_init_host_peer(scn *s, const scn_config *cfg) {
  net_iface_config pc;
  scn_host_peer_config(cfg, &pc);
  int rc = net_iface_init(&s->own_peer, &pc, scn_host_port(s));
  if (rc) return rc;
  s->own_peer_up = 1;
  scn_attach_peer(s, &s->own_peer);
  return 0;
}

int scn_init(scn *s, const scn_config *cfg) {
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  s->poll_horizon_ns = cfg->start_ns + SCN_QUIET_NS;
  if (!vq_size_valid(cfg->queue_size) || (cfg->user_driver && cfg->user_device)) return EMU_EINVAL;
  int rc = scn_init_kernel(s, cfg);
  if (!rc) rc = scn_init_device(s, cfg);
  if (!rc) rc = scn_init_driver(s, cfg);
  if (!rc) rc = emu_actor_init(&s->host, &s->sched, "host", scn_host_handle, s);
  /* the model's actor last: under sc none, and the others keep their order */
  if (!rc && cfg->memory != EMU_MM_SC)
    rc = emu_mm_init(&s->mm, cfg->memory, cfg->seed, cfg->memory_delay_ns, &s->mem, &s->sched,
                     &s->trace);
  if (!rc) rc = scn_init_links(s, cfg);
  if (!rc && !cfg->user_driver) {
    rc = vnet_drv_probe(&s->drv);
    s->probe_rc = rc;
    if (!rc) rc = scn_init_guest(s, cfg);
  }
  /* (a user's driver probes when the embedder asks, after this) */
  if (!rc && cfg->host_peer) rc = scn_init_host_peer(s, cfg);
  if (!rc && cfg->play_conversations) rc = scn_conv_open(s);
  if (rc) scn_close(s);
  return rc;
}

void scn_close(scn *s) {
  if (s->fault_on) emu_fault_close(&s->fault, scn_now(s));
  free(s->sent.ids);
  free(s->on_link.ids);
  free(s->captured.ids);
  free(s->recv.ids);
  scn_conv_close(s);
  scn_proxy_free(s);
  if (s->own_peer_up) net_iface_close(&s->own_peer);
  if (s->services.running) net_services_stop(&s->services);
  if (s->client) {
    net_client_close(s->client);
    free(s->client);
    s->client = NULL;
  }
  emu_sched_close(&s->sched);
  net_iface_close(&s->guest);
  vnet_drv_close(&s->drv);
  vnet_dev_close(&s->dev);
  emu_fates_close(&s->fates);
  emu_fates_close(&s->tx_fates);
  emu_mm_close(&s->mm);
  gmem_close(&s->mem);
}

/* Inputs scheduled from outside keep a periodically polling guest awake
 * until 2 s after the last of them. */
void scn_extend_horizon(scn *s, uint64_t at_ns) {
  if (at_ns + SCN_QUIET_NS > s->poll_horizon_ns) s->poll_horizon_ns = at_ns + SCN_QUIET_NS;
}

/* A captured frame is one of the run's inputs (emu_actor_post_input): fed
 * while the run goes on (scn_feed_captured) it takes the place it would
 * have taken queued before the run. */
static int scn_host_post(scn *s, int captured, uint64_t at_ns, int kind, uint32_t arg,
                         const uint8_t *frame, size_t len) {
  return captured ? emu_actor_post_input(&s->host, at_ns, kind, arg, 0, frame, len)
                  : emu_actor_post(&s->host, at_ns, kind, arg, 0, frame, len);
}

int scn_host_queue(scn *s, uint64_t at_ns, const uint8_t *frame, size_t len, emu_fate fate,
                   int captured) {
  if (at_ns > EMU_TIME_MAX) return EMU_EINVAL;
  int rc;
  if (fate != EMU_FATE_PENDING) {
    int kind = captured ? SCN_HOST_EV_CAPTURED_UNSENDABLE : SCN_HOST_EV_UNSENDABLE;
    rc = scn_host_post(s, captured, at_ns, kind, (uint32_t)fate, NULL, 0);
  } else {
    scn_extend_horizon(s, at_ns);
    int kind = captured ? SCN_HOST_EV_CAPTURED : SCN_HOST_EV_INJECT;
    rc = scn_host_post(s, captured, at_ns, kind, 0, frame, len);
  }
  s->inject_queued += rc == 0;
  return rc;
}

int scn_inject_unsendable(scn *s, uint64_t at_ns, emu_fate fate) {
  if (fate == EMU_FATE_PENDING) return EMU_EINVAL;
  return scn_host_queue(s, at_ns, NULL, 0, fate, 0);
}

int scn_inject_at(scn *s, uint64_t at_ns, const uint8_t *frame, size_t len) {
  return scn_host_queue(s, at_ns, frame, len, EMU_FATE_PENDING, 0);
}

emu_port *scn_host_port(scn *s) { return &s->host_port; }

void scn_attach_peer(scn *s, net_iface *peer) {
  s->peer = peer;
  net_tcp_config tcp;
  net_tcp_config_default(&tcp);
  tcp.seed = s->cfg.seed ^ SCN_PEER_TCP_SEED;
  net_tcp_configure(peer, &tcp); /* EMU_ESTATE only with connections open: keep theirs */
}

void scn_set_host_rx(scn *s, scn_host_rx_fn fn, void *ctx) {
  s->host_rx = fn;
  s->host_rx_ctx = ctx;
}

void scn_set_host_tx(scn *s, scn_host_rx_fn fn, void *ctx) {
  s->host_tx = fn;
  s->host_tx_ctx = ctx;
}

int scn_peer_ping_at(scn *s, uint64_t at_ns, uint32_t dst_ip, uint16_t seq, uint16_t payload) {
  if (at_ns > EMU_TIME_MAX) return EMU_EINVAL;
  scn_extend_horizon(s, at_ns);
  return emu_actor_post(&s->host, at_ns, SCN_HOST_EV_PING, seq, payload, &dst_ip, sizeof dst_ip);
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

int scn_guest_router_solicit_at(scn *s, uint64_t at_ns) {
  return scn_guest_ping_at(s, at_ns, 0 /* a solicitation */, 0);
}

int scn_client_add(scn *s, const char *text, int keep_body, char *why, size_t cap) {
  if (s->cfg.user_driver) {
    snprintf(why, cap, "the guest has no network stack with a driver of your own");
    return EMU_ENOTSUP;
  }
  int rc = scn_client_open(s);
  if (rc) return rc;
  rc = net_client_add(s->client, text, keep_body, why, cap);
  if (rc >= 0) {
    scn_extend_horizon(s, scn_now(s));
    vnet_drv_wake_stack(&s->drv);
  }
  return rc;
}

void scn_conv_arm(scn *s, uint64_t at_ns) {
  emu_actor_arm(&s->host, &s->conv_timer_at, at_ns, SCN_HOST_EV_CONV);
}

int scn_host_call_at(scn *s, uint64_t at_ns, scn_host_fn fn, void *ctx) {
  struct scn_host_call call = {fn, ctx};
  scn_extend_horizon(s, at_ns);
  return emu_actor_post(&s->host, at_ns, SCN_HOST_EV_CALL, 0, 0, &call, sizeof call);
}

uint64_t scn_run(scn *s, uint64_t until_ns, uint64_t max_steps) {
  return emu_sched_run(&s->sched, until_ns, max_steps);
}

/* A guest frame still in the TX ring at the end: the device could not take
 * it, was never told to, or was told and did not. */
static emu_fate scn_tx_left_over(void *ctx, const emu_fate_rec *r) {
  const scn *s = ctx;
  if (!s->cfg.user_device) {
    if (s->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return EMU_FATE_DEVICE_BROKEN;
    if (!(s->dev.status & VIRTIO_STATUS_DRIVER_OK)) return EMU_FATE_DEVICE_NOT_READY;
  }
  uint64_t kicked = s->cfg.user_driver ? s->user_kick_ns[VNET_TXQ] : s->drv.last_kick_ns[VNET_TXQ];
  return kicked == EMU_TIME_NEVER || kicked < r->entered_ns ? EMU_FATE_TX_NOT_KICKED
                                                            : EMU_FATE_TX_NOT_TAKEN;
}

void scn_finish(scn *s) {
  uint64_t now = scn_now(s);
  /* Frames still held on the wire never arrive. */
  if (s->fault_on) {
    emu_fault_close(&s->fault, now);
    s->fault_on = 0;
  }
  /* Client segments still waiting for the guest are never sent. */
  scn_conv_finish(s, now);
  if (!s->cfg.user_device) vnet_dev_finish(&s->dev);
  /* Replies still waiting for ARP never leave: their frames are settled
   * before the ledger closes. */
  if (!s->cfg.user_driver) {
    net_iface_finish(&s->guest, now);
    vnet_drv_finish(&s->drv); /* after the stack's last replies */
  }
  emu_fates_finish(&s->fates, now);
  emu_fates_finish_each(&s->tx_fates, now, scn_tx_left_over, s);
}

int scn_live_sim_init(scn *s, const scn_config *cfg, int ping_gateway) {
  scn_config c = *cfg;
  c.start_ns = 0;
  int rc = scn_init(s, &c);
  if (rc) return rc;
  if (ping_gateway) {
    rc = scn_live_guest_start(s, 0);
    if (rc) scn_close(s);
  }
  return rc;
}

int scn_live_guest_start(scn *s, uint64_t at_ns) {
  /* The ping also announces the guest: its ARP request teaches slirp the
   * guest's MAC, so the first forwarded connection does not wait for
   * slirp's own ARP. */
  return scn_guest_ping_at(s, at_ns, s->cfg.guest.gateway, SCN_LIVE_GUEST_PING_SEQ);
}
