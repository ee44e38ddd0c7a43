#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "sim/scn.h"
#include "stack/services.h"
#include "stack/tcp.h"
#include "stack/wire.h"

#define US 1000ull
#define MS 1000000ull

int scn_workload_bursts(scn *s, uint64_t seed, unsigned bursts) {
  /* The traffic has its own PRNG so that it depends on the seed but not on
   * how many draws the simulation itself makes. */
  emu_rng traffic;
  emu_rng_init(&traffic, seed ^ 0x7a11c0ffee5eedull);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  uint8_t frame[128];
  uint64_t t = scn_now(s) + 100 * US;
  uint16_t seq = 0;
  for (unsigned b = 0; b < bursts; b++) {
    uint64_t n = emu_rng_range(&traffic, 1, 8);
    for (uint64_t i = 0; i < n; i++) {
      /* The first frame of the run is an ARP request, so the guest knows
       * the host before any echo request needs a reply. */
      size_t len = (b == 0 && i == 0) || emu_rng_range(&traffic, 0, 3) == 0
                       ? scn_frame_arp_request(frame, sizeof frame, &host, s->cfg.guest.ip)
                       : scn_frame_icmp_echo(frame, sizeof frame, NET_ICMP_ECHO_REQUEST, &host,
                                             s->cfg.guest.mac, s->cfg.guest.ip, 0x6270, ++seq, 98);
      int rc = scn_inject_at(s, t, frame, len);
      if (rc) return rc;
    }
    t += emu_rng_range(&traffic, 20 * US, 400 * US);
  }
  return 0;
}

static void scn_count_frame_out(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  (void)frame;
  (void)len;
  (void)now;
  (*(uint64_t *)ctx)++;
}

int scn_run_bursts(const scn_config *cfg, unsigned bursts, scn_outcome *out) {
  memset(out, 0, sizeof *out);
  scn s;
  int rc = scn_init(&s, cfg);
  if (rc) return rc;
  scn_set_host_rx(&s, scn_count_frame_out, &out->frames_out);
  rc = scn_workload_bursts(&s, cfg->seed, bursts);
  if (!rc) {
    scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
    scn_finish(&s);
    out->nframes = s.fates.nframes;
    out->fates = malloc(sizeof *out->fates * (out->nframes ? out->nframes : 1));
    if (!out->fates) rc = EMU_ENOMEM;
  }
  if (!rc) {
    for (size_t i = 0; i < out->nframes; i++) out->fates[i] = s.fates.frames[i].fate;
    memcpy(out->counts, s.fates.counts, sizeof out->counts);
    out->trace_hash = s.trace.hash;
  }
  scn_close(&s);
  return rc;
}

void scn_outcome_free(scn_outcome *out) {
  free(out->fates);
  memset(out, 0, sizeof *out);
}

int64_t scn_outcome_first_difference(const scn_outcome *a, const scn_outcome *b) {
  size_t n = a->nframes < b->nframes ? a->nframes : b->nframes;
  for (size_t i = 0; i < n; i++)
    if (a->fates[i] != b->fates[i]) return (int64_t)i;
  return a->nframes == b->nframes ? -1 : (int64_t)n;
}

static uint8_t scn_echo_pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 11)); }

static void scn_echo_pump(scn_echo_client *cl, uint64_t now) {
  uint8_t buf[4096];
  while (cl->sent < cl->total) {
    size_t n = cl->total - cl->sent < sizeof buf ? cl->total - cl->sent : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = scn_echo_pattern(cl->sent + i);
    int k = net_tcp_send(cl->c, buf, n, now);
    if (k <= 0) break;
    cl->sent += (size_t)k;
  }
  int n;
  while ((n = net_tcp_recv(cl->c, buf, sizeof buf, now)) > 0) {
    for (int i = 0; i < n; i++)
      if (buf[i] != scn_echo_pattern(cl->received + (size_t)i) && cl->mismatch_at == SIZE_MAX)
        cl->mismatch_at = cl->received + (size_t)i;
    cl->received += (size_t)n;
    if (cl->received == cl->to_send) cl->done_ns = now;
  }
  if (n == 0) cl->eof = 1;
}

static void scn_echo_event(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now) {
  scn_echo_client *cl = ctx;
  if ((ev & NET_TCP_EV_ESTABLISHED) && !cl->established) {
    cl->established = 1;
    cl->established_ns = now;
  }
  if (ev & NET_TCP_EV_CLOSED) {
    cl->failed = cl->received < cl->to_send;
    return;
  }
  if (net_tcp_get_state(c) != NET_TCP_CLOSED) scn_echo_pump(cl, now);
}

static void scn_echo_connect(void *ctx, uint64_t now) {
  scn_echo_client *cl = ctx;
  if (net_tcp_connect(cl->s->peer, cl->ip, cl->port, 0, now, &cl->c) != 0) {
    cl->failed = 1;
    return;
  }
  net_tcp_set_handler(cl->c, scn_echo_event, cl);
}

static void scn_echo_go(void *ctx, uint64_t now) {
  scn_echo_client *cl = ctx;
  cl->total = cl->to_send;
  if (cl->c && net_tcp_get_state(cl->c) != NET_TCP_CLOSED) scn_echo_pump(cl, now);
}

int scn_echo_client_start(scn *s, scn_echo_client *cl, uint32_t ip, uint16_t port,
                          uint64_t connect_ns, uint64_t send_ns, size_t bytes) {
  memset(cl, 0, sizeof *cl);
  if (!s->peer) return EMU_ESTATE;
  cl->s = s;
  cl->ip = ip;
  cl->port = port;
  cl->mismatch_at = SIZE_MAX;
  cl->to_send = bytes;
  int rc = scn_host_call_at(s, connect_ns, scn_echo_connect, cl);
  if (!rc) rc = scn_host_call_at(s, send_ns > connect_ns ? send_ns : connect_ns, scn_echo_go, cl);
  return rc;
}

void scn_echo_client_release(scn_echo_client *cl) {
  if (cl->c) net_tcp_release(cl->c, scn_now(cl->s));
  cl->c = NULL;
}

int scn_story_run(const scn_config *cfg, scn_story *out) {
  memset(out, 0, sizeof *out);
  out->first_rx_no_buffer = -1;
  scn_config c = *cfg;
  c.host_peer = 1;
  scn s;
  int rc = scn_init(&s, &c);
  if (rc) return rc;
  net_iface *peer = s.peer;
  net_iface_config host = peer->cfg;
  uint64_t t0 = scn_now(&s);
  /* 1. the guest pings its gateway: outbound works even with the bugs */
  out->guest_pings = 3;
  /* 20 ms apart, so that even a driver that reads only the newest used
   * element sees each reply (its poll comes every 10 ms) */
  for (uint16_t i = 0; i < 3 && !rc; i++)
    rc = scn_guest_ping_at(&s, t0 + (1 + 20 * i) * MS, host.ip, i + 1);
  /* 2. a busy LAN: 300 broadcasts for another host, one every 100 us */
  net_iface_config neighbour = host;
  neighbour.mac[5] = 0x64;
  neighbour.ip = (cfg->guest.ip & 0xffffff00u) | 100u;
  uint8_t frame[64];
  size_t len = scn_frame_arp_request(frame, sizeof frame, &neighbour, neighbour.ip + 1);
  for (int i = 0; i < 300 && !rc; i++)
    rc = scn_inject_at(&s, t0 + 80 * MS + (uint64_t)i * 100 * US, frame, len);
  /* the host opens a TCP connection to the guest's echo port early, and
   * sends through it only after the LAN noise */
  scn_echo_client tcp;
  memset(&tcp, 0, sizeof tcp);
  if (!rc)
    rc = scn_echo_client_start(&s, &tcp, cfg->guest.ip, NET_SVC_PORT_TCP_ECHO, t0 + 52 * MS,
                               t0 + 200 * MS, 4096);
  /* 3. the host asks who has the guest's address, then pings it */
  len = scn_frame_arp_request(frame, sizeof frame, &host, cfg->guest.ip);
  if (!rc) rc = scn_inject_at(&s, t0 + 150 * MS, frame, len);
  out->host_pings = 3;
  for (uint16_t i = 0; i < 3 && !rc; i++)
    rc = scn_peer_ping_at(&s, t0 + 151 * MS + i * 10 * MS, cfg->guest.ip, i + 1, 56);
  if (!rc) {
    /* Everything before the host's ARP request has left the host by then,
     * so the ledger's next id is that request's. */
    scn_run(&s, t0 + 150 * MS - 1, UINT64_MAX);
    uint64_t arp_id = s.fates.nframes;
    scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
    scn_finish(&s);
    const net_ping_result *res;
    size_t n = net_iface_ping_results(&s.guest, &res);
    for (size_t i = 0; i < n; i++) out->guest_pings_replied += res[i].state == NET_PING_REPLIED;
    n = net_iface_ping_results(peer, &res);
    for (size_t i = 0; i < n; i++) out->host_pings_replied += res[i].state == NET_PING_REPLIED;
    out->host_arp_fate = arp_id < s.fates.nframes ? s.fates.frames[arp_id].fate : EMU_FATE_PENDING;
    out->tcp_established = tcp.established;
    out->tcp_sent = tcp.sent;
    out->tcp_echoed = tcp.received;
    memcpy(out->counts, s.fates.counts, sizeof out->counts);
    out->frames_in = s.fates.nframes;
    for (size_t i = 0; i < s.fates.nframes; i++) {
      if (s.fates.frames[i].fate == EMU_FATE_RX_NO_BUFFER) {
        out->first_rx_no_buffer = (int64_t)i;
        out->first_rx_no_buffer_sent_ns = s.fates.frames[i].entered_ns - t0;
        break;
      }
    }
  }
  scn_echo_client_release(&tcp);
  scn_close(&s);
  return rc;
}
