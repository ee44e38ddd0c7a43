/* Check suite for stack/tcp (and the TCP services): two ifaces wired back to
 * back through a test-only timed wire (fixed one-way latency, a filter that
 * can drop, delay or corrupt single frames, an optional emu_fault wrapper),
 * plus the full virtio scenario for the 50-seed echo and the rx-no-recycle
 * stall. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/fault.h"
#include "emu/sched.h"
#include "sim/scn.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "stack/tcp.h"
#include "stack/wire.h"
#include "virtio/vbug.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define US              1000ull
#define MS              1000000ull
#define SEC             1000000000ull
#define GUEST_IP        IP4(10, 0, 2, 15)
#define HOST_IP         IP4(10, 0, 2, 2)
#define LATENCY         (10 * US)
#define GUEST           0
#define HOST            1

/* ---- a timed wire between two ifaces ------------------------------------------------ */

typedef struct wframe {
  uint64_t at, order;
  int to;
  size_t len;
  uint8_t data[NET_IFACE_FRAME_MAX];
} wframe;

/* What the test saw leave each side: one record per TCP segment. */
typedef struct seglog {
  uint64_t t;
  int from;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t window, mss;
  size_t len;
} seglog;

typedef struct wire wire;
/* Decides the fate of the n-th TCP segment from `from` (n counts from 0):
 * returns an extra delay in ns, or UINT64_MAX to drop it; may change bytes. */
typedef uint64_t (*wire_filter_fn)(wire *w, int from, size_t n, uint8_t *frame, size_t len);

typedef struct wire_end {
  emu_port port;
  wire *w;
  int side;
  int stopped; /* the port says it is not ready (emu_port_ready) */
} wire_end;

struct wire {
  uint64_t now, order;
  wire_end ends[2];
  net_iface ifc[2];
  emu_fault *fault; /* wraps the host end when set */
  wframe *q;
  size_t nq, capq;
  seglog *log;
  size_t nlog, caplog;
  size_t tcp_sent[2];
  wire_filter_fn filter;
  size_t dropped;
};

static void log_segment(wire *w, int from, const uint8_t *frame, size_t len) {
  if (len < 34 || net_eth_ethertype(frame) != NET_ETHERTYPE_IPV4) return;
  const uint8_t *ip = frame + 14;
  if (net_ipv4_protocol(ip) != NET_IP_PROTO_TCP) return;
  net_tcp_repr r;
  /* a frame the fault injector corrupted may not parse: it is not logged */
  if (net_ipv4_check(ip, len - 14) != 0 ||
      net_tcp_parse(net_ipv4_payload(ip), net_ipv4_payload_len(ip), &r) != 0)
    return;
  if (w->nlog == w->caplog) {
    w->caplog = w->caplog ? 2 * w->caplog : 1024;
    w->log = realloc(w->log, w->caplog * sizeof *w->log);
    ck_assert_ptr_nonnull(w->log);
  }
  w->log[w->nlog++] = (seglog){w->now, from, r.seq, r.ack, r.flags, r.window, r.mss, r.payload_len};
}

static int wire_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  wire_end *e = impl;
  wire *w = e->w;
  ck_assert_uint_eq(now_ns, w->now);
  ck_assert_uint_le(len, NET_IFACE_FRAME_MAX);
  if (w->nq == w->capq) {
    w->capq = w->capq ? 2 * w->capq : 256;
    w->q = realloc(w->q, w->capq * sizeof *w->q);
    ck_assert_ptr_nonnull(w->q);
  }
  wframe *f = &w->q[w->nq];
  memcpy(f->data, frame, len);
  f->len = len;
  f->to = 1 - e->side;
  f->at = w->now + LATENCY;
  f->order = w->order++;
  int is_tcp = len >= 34 && net_eth_ethertype(frame) == NET_ETHERTYPE_IPV4 &&
               net_ipv4_protocol(frame + 14) == NET_IP_PROTO_TCP;
  if (is_tcp) log_segment(w, e->side, frame, len);
  if (is_tcp && w->filter) {
    uint64_t extra = w->filter(w, e->side, w->tcp_sent[e->side], f->data, len);
    w->tcp_sent[e->side]++;
    if (extra == UINT64_MAX) {
      w->dropped++;
      return 0;
    }
    f->at += extra;
  } else if (is_tcp) {
    w->tcp_sent[e->side]++;
  }
  w->nq++;
  return 0;
}

static int wire_ready(void *impl) { return !((wire_end *)impl)->stopped; }

static wire *wire_new(const net_tcp_config *guest_tcp, const net_tcp_config *host_tcp,
                      const emu_fault_config *faults, uint64_t fault_seed) {
  wire *w = calloc(1, sizeof *w);
  ck_assert_ptr_nonnull(w);
  w->now = 1 * SEC;
  for (int i = 0; i < 2; i++) {
    w->ends[i] = (wire_end){{.send = wire_send, .impl = &w->ends[i], .ready = wire_ready}, w, i, 0};
  }
  emu_port *host_port = &w->ends[HOST].port;
  if (faults) {
    w->fault = calloc(1, sizeof *w->fault);
    ck_assert_int_eq(emu_fault_init(w->fault, faults, fault_seed, host_port), 0);
    host_port = emu_fault_port(w->fault);
  }
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  ck_assert_int_eq(net_iface_init(&w->ifc[GUEST], &cfg, &w->ends[GUEST].port), 0);
  emu_port_attach(&w->ends[GUEST].port, net_iface_input, &w->ifc[GUEST]);
  net_iface_config_slirp_host(&cfg);
  ck_assert_int_eq(net_iface_init(&w->ifc[HOST], &cfg, host_port), 0);
  emu_port_attach(host_port, net_iface_input, &w->ifc[HOST]);
  if (guest_tcp) ck_assert_int_eq(net_tcp_configure(&w->ifc[GUEST], guest_tcp), 0);
  if (host_tcp) ck_assert_int_eq(net_tcp_configure(&w->ifc[HOST], host_tcp), 0);
  return w;
}

static void wire_free(wire *w) {
  net_iface_close(&w->ifc[GUEST]);
  net_iface_close(&w->ifc[HOST]);
  if (w->fault) {
    emu_fault_close(w->fault, w->now);
    free(w->fault);
  }
  free(w->q);
  free(w->log);
  free(w);
}

/* Runs frames and timers in time order until nothing is due at or before
 * until (or nothing at all). Frames due at the same time go in send order. */
static void wire_run(wire *w, uint64_t until) {
  for (int steps = 0; steps < 10000000; steps++) {
    size_t best = w->nq;
    for (size_t i = 0; i < w->nq; i++)
      if (best == w->nq || w->q[i].at < w->q[best].at ||
          (w->q[i].at == w->q[best].at && w->q[i].order < w->q[best].order))
        best = i;
    uint64_t t = best < w->nq ? w->q[best].at : EMU_TIME_NEVER;
    uint64_t tg = net_iface_poll_at(&w->ifc[GUEST]), th = net_iface_poll_at(&w->ifc[HOST]);
    uint64_t tf = w->fault ? emu_fault_poll_at(w->fault) : EMU_TIME_NEVER;
    uint64_t next = t;
    if (tg < next) next = tg;
    if (th < next) next = th;
    if (tf < next) next = tf;
    if (next == EMU_TIME_NEVER || next > until) return;
    if (next > w->now) w->now = next;
    if (next == t) {
      wframe f = w->q[best];
      memmove(&w->q[best], &w->q[best + 1], (w->nq - best - 1) * sizeof *w->q);
      w->nq--;
      emu_port_deliver(&w->ends[f.to].port, f.data, f.len, w->now);
    } else if (next == tf) {
      emu_fault_poll(w->fault, w->now);
    } else if (next == tg) {
      net_iface_poll(&w->ifc[GUEST], w->now);
    } else {
      net_iface_poll(&w->ifc[HOST], w->now);
    }
  }
  ck_abort_msg("wire_run did not settle");
}

/* TCP payload bytes of a frame the wire carries (0 for non-TCP). */
static size_t tcp_payload(const uint8_t *frame, size_t len) {
  if (len < 54 || net_eth_ethertype(frame) != NET_ETHERTYPE_IPV4) return 0;
  const uint8_t *ip = frame + 14;
  if (net_ipv4_protocol(ip) != NET_IP_PROTO_TCP) return 0;
  return net_ipv4_payload_len(ip) - net_tcp_header_len(net_ipv4_payload(ip));
}

static void default_tcp(net_tcp_config *c, uint32_t iss) {
  net_tcp_config_default(c);
  c->fixed_iss = 1;
  c->iss = iss;
}

/* ---- a client application: send a pattern, read it back ------------------------------- */

typedef struct client {
  net_tcp_conn *c;
  size_t total, sent, received;
  size_t mismatch_at; /* SIZE_MAX while all bytes matched */
  int eof, closed_sent, events_closed;
  uint64_t done_at;
} client;

static uint8_t pattern(size_t i) { return (uint8_t)((i * 7 + (i >> 11)) & 0xff); }

static void client_pump(client *cl, uint64_t now) {
  uint8_t buf[4096];
  while (cl->sent < cl->total) {
    size_t n = cl->total - cl->sent < sizeof buf ? cl->total - cl->sent : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = pattern(cl->sent + i);
    int k = net_tcp_send(cl->c, buf, n, now);
    if (k <= 0) break;
    cl->sent += (size_t)k;
  }
  if (cl->sent == cl->total && !cl->closed_sent) {
    ck_assert_int_eq(net_tcp_close(cl->c, now), 0);
    cl->closed_sent = 1;
  }
  int n;
  while ((n = net_tcp_recv(cl->c, buf, sizeof buf, now)) > 0) {
    for (int i = 0; i < n; i++)
      if (buf[i] != pattern(cl->received + (size_t)i) && cl->mismatch_at == SIZE_MAX)
        cl->mismatch_at = cl->received + (size_t)i;
    cl->received += (size_t)n;
  }
  if (n == 0 && !cl->eof) {
    cl->eof = 1;
    cl->done_at = now;
  }
}

static void client_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now) {
  client *cl = ctx;
  ck_assert_ptr_eq(c, cl->c);
  if (ev & NET_TCP_EV_CLOSED) cl->events_closed++;
  if (net_tcp_get_state(c) != NET_TCP_CLOSED) client_pump(cl, now);
}

static void client_start(client *cl, net_iface *ifc, uint32_t dst, uint16_t port, size_t total,
                         uint64_t now) {
  memset(cl, 0, sizeof *cl);
  cl->total = total;
  cl->mismatch_at = SIZE_MAX;
  ck_assert_int_eq(net_tcp_connect(ifc, dst, port, 0, now, &cl->c), 0);
  net_tcp_set_handler(cl->c, client_ev, cl);
}

/* Echo of `total` bytes from the host to the guest's port 8023 and back. */
static void run_echo(wire *w, net_services *svc, client *cl, size_t total) {
  ck_assert_int_eq(net_services_start(svc, &w->ifc[GUEST], NET_SVC_ALL), 0);
  client_start(cl, &w->ifc[HOST], GUEST_IP, NET_SVC_PORT_TCP_ECHO, total, w->now);
  wire_run(w, w->now + 600 * SEC);
}

/* ---- handshake --------------------------------------------------------------------------- */

START_TEST(test_handshake_exchanges_mss_and_both_sides_reach_established) {
  net_tcp_config g, h;
  default_tcp(&g, 5000);
  default_tcp(&h, 9000);
  h.mss = 1000; /* the host advertises a smaller MSS: the guest must honour it */
  wire *w = wire_new(&g, &h, NULL, 0);
  net_services svc;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_TCP_ECHO), 0);
  net_tcp_conn *c;
  uint64_t t0 = w->now;
  ck_assert_int_eq(net_tcp_connect(&w->ifc[HOST], GUEST_IP, 8023, 40000, t0, &c), 0);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_SYN_SENT);
  wire_run(w, t0 + 1 * MS);

  ck_assert_uint_eq(w->nlog, 3);
  /* SYN: seq = ISS, MSS option, no ACK flag */
  ck_assert_int_eq(w->log[0].from, HOST);
  ck_assert_uint_eq(w->log[0].flags, NET_TCP_SYN);
  ck_assert_uint_eq(w->log[0].seq, 9000);
  ck_assert_uint_eq(w->log[0].mss, 1000);
  ck_assert_uint_eq(w->log[0].window, 65535);
  /* SYN,ACK: the guest's ISS, acknowledging ISS+1, its own MSS */
  ck_assert_int_eq(w->log[1].from, GUEST);
  ck_assert_uint_eq(w->log[1].flags, NET_TCP_SYN | NET_TCP_ACK);
  ck_assert_uint_eq(w->log[1].seq, 5000);
  ck_assert_uint_eq(w->log[1].ack, 9001);
  ck_assert_uint_eq(w->log[1].mss, 1460);
  /* ACK: no option, sequence 9001, acknowledging 5001 */
  ck_assert_uint_eq(w->log[2].flags, NET_TCP_ACK);
  ck_assert_uint_eq(w->log[2].seq, 9001);
  ck_assert_uint_eq(w->log[2].ack, 5001);
  ck_assert_uint_eq(w->log[2].mss, 0);
  /* the host needed ARP first: SYN at t0 + 2 latencies (request and reply) */
  ck_assert_uint_eq(w->log[0].t, t0 + 2 * LATENCY);
  ck_assert_uint_eq(w->log[2].t, t0 + 4 * LATENCY);

  net_tcp_info hi;
  net_tcp_get_info(c, &hi);
  ck_assert_int_eq(hi.state, NET_TCP_ESTABLISHED);
  ck_assert_uint_eq(hi.snd_mss, 1000);  /* min(ours 1000, theirs 1460) */
  ck_assert_uint_eq(hi.cwnd, 4 * 1000); /* RFC 5681 IW for SMSS <= 1095 */
  /* the first sample is the SYN's round trip, counted from connect(): the
   * ARP exchange it waited for is part of it (RFC 6298 §2.2) */
  ck_assert_uint_eq(hi.srtt_ns, 4 * LATENCY);
  ck_assert_uint_eq(hi.rttvar_ns, 2 * LATENCY);
  ck_assert_uint_eq(hi.rto_ns, 200 * MS); /* srtt + 4 rttvar is below the 200 ms floor */
  ck_assert_uint_eq(svc.stats.tcp_conns, 1);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->tcp_conns_accepted, 1);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[HOST])->tcp_conns_opened, 1);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->rx_fates[EMU_FATE_ANSWERED],
                    2); /* ARP, SYN */
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->rx_fates[EMU_FATE_DELIVERED], 1); /* ACK */
  net_tcp_release(c, w->now);
  wire_free(w);
}
END_TEST

START_TEST(test_syn_to_closed_port_answered_by_rst_and_connect_refused) {
  net_tcp_config h;
  default_tcp(&h, 777);
  wire *w = wire_new(NULL, &h, NULL, 0);
  client cl;
  client_start(&cl, &w->ifc[HOST], GUEST_IP, 12345, 10, w->now);
  wire_run(w, w->now + 10 * MS);
  ck_assert_uint_eq(w->nlog, 2);
  /* RFC 9293 §3.10.7.1: no ACK in the SYN, so <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK> */
  ck_assert_int_eq(w->log[1].from, GUEST);
  ck_assert_uint_eq(w->log[1].flags, NET_TCP_RST | NET_TCP_ACK);
  ck_assert_uint_eq(w->log[1].seq, 0);
  ck_assert_uint_eq(w->log[1].ack, 778);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  ck_assert_int_eq(hi.state, NET_TCP_CLOSED);
  ck_assert_int_eq(hi.close_reason, NET_TCP_CLOSED_RESET);
  ck_assert_int_eq(cl.events_closed, 1);
  ck_assert_int_eq(net_tcp_recv(cl.c, NULL, 10, w->now), EMU_ESTATE);
  const net_iface_stats *gs = net_iface_stats_get(&w->ifc[GUEST]);
  ck_assert_uint_eq(gs->rx_fates[EMU_FATE_NO_LISTENER], 1);
  ck_assert_uint_eq(gs->tcp_rst_sent, 1);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[HOST])->tcp_conns_reset, 1);
  ck_assert_uint_eq(net_iface_poll_at(&w->ifc[HOST]), EMU_TIME_NEVER); /* no timer left */
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* Builds Ethernet + IPv4 + a TCP segment from the host to the guest. */
static size_t build_tcp(uint8_t *buf, const net_tcp_repr *r) {
  net_iface_config g, h;
  net_iface_config_slirp_guest(&g);
  net_iface_config_slirp_host(&h);
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_IPV4};
  memcpy(eth.dst, g.mac, 6);
  memcpy(eth.src, h.mac, 6);
  net_eth_emit(&eth, buf, 14);
  int n = net_tcp_emit(r, HOST_IP, GUEST_IP, buf + 34, 1500);
  ck_assert_int_gt(n, 0);
  net_ipv4_repr ip = {.src = HOST_IP,
                      .dst = GUEST_IP,
                      .protocol = NET_IP_PROTO_TCP,
                      .ttl = 64,
                      .payload_len = (size_t)n};
  ck_assert_int_eq(net_ipv4_emit(&ip, buf + 14, 1500), 20);
  return 34 + (size_t)n;
}

START_TEST(test_bad_checksum_counted_and_never_answered) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  net_services svc;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_TCP_ECHO), 0);
  uint8_t f[128];
  net_tcp_repr syn = {.src_port = 1234,
                      .dst_port = 8023,
                      .seq = 1,
                      .flags = NET_TCP_SYN,
                      .window = 1000,
                      .mss = 1460};
  size_t n = build_tcp(f, &syn);
  f[34 + 4] ^= 0x40; /* sequence number: the checksum no longer matches */
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_BAD_CHECKSUM);
  /* to a closed port too: a bad checksum is dropped before any RST */
  syn.dst_port = 4444;
  n = build_tcp(f, &syn);
  f[n - 1] ^= 1;
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_BAD_CHECKSUM);
  ck_assert_uint_eq(w->nq, 0);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->rx_fates[EMU_FATE_BAD_CHECKSUM], 2);
  /* the same SYN intact is answered (SYN,ACK queued behind ARP) */
  syn.dst_port = 8023;
  n = build_tcp(f, &syn);
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_ANSWERED);
  /* a header whose data offset runs past the segment is malformed */
  n = build_tcp(f, &syn);
  f[34 + 12] = 0xf0;
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_MALFORMED);
  wire_free(w);
}
END_TEST

START_TEST(test_ack_to_listening_port_without_connection_gets_rst_at_its_ack) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  net_services svc;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_TCP_ECHO), 0);
  /* teach the guest the host's MAC so the RST leaves at once */
  ck_assert_int_eq(net_iface_ping(&w->ifc[HOST], GUEST_IP, 1, 1, 0, w->now), 0);
  wire_run(w, w->now + MS);
  size_t before = w->nlog;
  uint8_t f[128];
  net_tcp_repr ack = {.src_port = 1234,
                      .dst_port = 8023,
                      .seq = 100,
                      .ack = 0xdeadbeef,
                      .flags = NET_TCP_ACK,
                      .window = 1000};
  size_t n = build_tcp(f, &ack);
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_REJECTED);
  ck_assert_uint_eq(w->nlog, before + 1);
  ck_assert_uint_eq(w->log[before].flags, NET_TCP_RST); /* §3.10.7.2: <SEQ=SEG.ACK><CTL=RST> */
  ck_assert_uint_eq(w->log[before].seq, 0xdeadbeef);
  /* a RST is never answered */
  ack.flags = NET_TCP_RST;
  n = build_tcp(f, &ack);
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_REJECTED);
  ack.dst_port = 5555;
  n = build_tcp(f, &ack);
  ck_assert_int_eq(net_iface_input(&w->ifc[GUEST], f, n, w->now), EMU_FATE_NO_LISTENER);
  ck_assert_uint_eq(w->nlog, before + 1);
  wire_free(w);
}
END_TEST

/* ---- data ------------------------------------------------------------------------------------ */

START_TEST(test_echo_of_1_mib_is_byte_exact_without_retransmission) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  net_services svc;
  client cl;
  run_echo(w, &svc, &cl, 1 << 20);
  ck_assert_uint_eq(cl.sent, 1 << 20);
  ck_assert_uint_eq(cl.received, 1 << 20);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  ck_assert_int_eq(cl.eof, 1);
  ck_assert_uint_eq(svc.stats.tcp_echo_bytes, 1 << 20);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  ck_assert_uint_eq(hi.stats.retransmits, 0);
  ck_assert_uint_eq(hi.stats.bytes_out, 1 << 20);
  ck_assert_uint_eq(hi.stats.bytes_in, 1 << 20);
  /* both closed: the host closed first, waited 2 MSL, then was CLOSED */
  ck_assert_int_eq(hi.state, NET_TCP_CLOSED);
  ck_assert_int_eq(hi.close_reason, NET_TCP_CLOSED_NORMAL);
  const net_iface_stats *gs = net_iface_stats_get(&w->ifc[GUEST]);
  ck_assert_uint_eq(gs->tcp_retransmits, 0);
  ck_assert_uint_eq(w->ifc[GUEST].tcp_nconns, 0); /* freed */
  /* every segment the guest received got a fate, none was dropped */
  ck_assert_uint_eq(gs->rx_fates[EMU_FATE_ANSWERED] + gs->rx_fates[EMU_FATE_DELIVERED],
                    gs->rx_frames);
  /* full segments: 1 MiB in 1460-byte segments needs at least 719 */
  size_t data_segs = 0;
  for (size_t i = 0; i < w->nlog; i++)
    if (w->log[i].from == HOST && w->log[i].len) {
      data_segs++;
      ck_assert_uint_le(w->log[i].len, 1460);
    }
  ck_assert_uint_ge(data_segs, 719);
  ck_assert_uint_le(data_segs, 760);
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* Drops the first host data segment once. */
static uint64_t drop_first_host_data(wire *w, int from, size_t n, uint8_t *frame, size_t len) {
  (void)w, (void)n;
  static int done;
  if (!frame) { /* reset */
    done = 0;
    return 0;
  }
  if (from == HOST && !done && tcp_payload(frame, len) > 0) {
    done = 1;
    return UINT64_MAX;
  }
  return 0;
}

START_TEST(test_dropped_segment_retransmitted_exactly_one_rto_later) {
  net_tcp_config h;
  default_tcp(&h, 1000);
  wire *w = wire_new(NULL, &h, NULL, 0);
  drop_first_host_data(w, 0, 0, NULL, 0);
  w->filter = drop_first_host_data;
  net_services svc;
  client cl;
  run_echo(w, &svc, &cl, 1000);
  ck_assert_uint_eq(w->dropped, 1);
  ck_assert_uint_eq(cl.received, 1000);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  /* find the two copies of seq 1001 */
  size_t first = SIZE_MAX, second = SIZE_MAX;
  for (size_t i = 0; i < w->nlog; i++)
    if (w->log[i].from == HOST && w->log[i].seq == 1001 && w->log[i].len == 1000)
      *(first == SIZE_MAX ? &first : &second) = i;
  ck_assert_uint_ne(second, SIZE_MAX);
  /* RTT sample from the SYN: 40 us, so RTO = max(40 + 4*20 us, 200 ms) = 200 ms */
  ck_assert_uint_eq(w->log[second].t - w->log[first].t, 200 * MS);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  ck_assert_uint_eq(hi.stats.timeouts, 1);
  ck_assert_uint_eq(hi.stats.retransmits, 1);
  ck_assert_uint_eq(hi.stats.fast_retransmits, 0);
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* Drops the host's SYN `syn_drops` times. */
static int syn_drops;
static uint64_t drop_syns(wire *w, int from, size_t n, uint8_t *frame, size_t len) {
  (void)w, (void)n, (void)len;
  if (from == HOST && (net_tcp_flags(frame + 34) & NET_TCP_SYN) && syn_drops > 0) {
    syn_drops--;
    return UINT64_MAX;
  }
  return 0;
}

START_TEST(test_lost_syns_repeated_with_exponential_backoff_from_1s) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  syn_drops = 2;
  w->filter = drop_syns;
  net_services svc;
  client cl;
  uint64_t t_connect = w->now;
  run_echo(w, &svc, &cl, 100);
  ck_assert_uint_eq(cl.received, 100);
  uint64_t t[3];
  size_t k = 0;
  for (size_t i = 0; i < w->nlog && k < 3; i++)
    if (w->log[i].from == HOST && w->log[i].flags == NET_TCP_SYN) t[k++] = w->log[i].t;
  ck_assert_uint_eq(k, 3);
  /* RFC 6298 §2.1: initial RTO 1 s, from when connect() handed the SYN
   * down (it then waited 20 us for ARP); §5.5: doubled on each expiry */
  ck_assert_uint_eq(t[0], t_connect + 2 * LATENCY);
  ck_assert_uint_eq(t[1], t_connect + 1 * SEC);
  ck_assert_uint_eq(t[2], t_connect + 3 * SEC);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  ck_assert_uint_eq(hi.stats.timeouts, 2);
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* Drops the host's drop_nth data segment (from 0), once; notes its seq. */
static uint32_t drop_seq;
static int drop_seq_done;
static size_t drop_nth, data_seen;
static uint64_t drop_one_seq(wire *w, int from, size_t n, uint8_t *frame, size_t len) {
  (void)w, (void)n;
  if (from != HOST || tcp_payload(frame, len) == 0 || drop_seq_done) return 0;
  if (data_seen++ != drop_nth) return 0;
  drop_seq = net_tcp_seq(frame + 34);
  drop_seq_done = 1;
  return UINT64_MAX;
}

START_TEST(test_third_duplicate_ack_triggers_fast_retransmit_before_rto) {
  net_tcp_config h;
  default_tcp(&h, 0);
  wire *w = wire_new(NULL, &h, NULL, 0);
  /* the 30th data segment: by then slow start has opened cwnd wide */
  drop_nth = 29;
  data_seen = 0;
  drop_seq_done = 0;
  w->filter = drop_one_seq;
  net_services svc;
  client cl;
  run_echo(w, &svc, &cl, 200000);
  ck_assert_int_eq(drop_seq_done, 1);
  ck_assert_uint_eq(cl.received, 200000);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  ck_assert_uint_eq(hi.stats.fast_retransmits, 1);
  ck_assert_uint_eq(hi.stats.timeouts, 0);
  ck_assert_uint_ge(hi.stats.dup_acks, 3);
  /* the retransmission follows the third duplicate ACK at once */
  size_t first = SIZE_MAX, second = SIZE_MAX, dups = 0;
  uint64_t third_dup_t = 0;
  for (size_t i = 0; i < w->nlog; i++) {
    const seglog *s = &w->log[i];
    if (s->from == HOST && s->seq == drop_seq && s->len)
      *(first == SIZE_MAX ? &first : &second) = i;
    if (first != SIZE_MAX && second == SIZE_MAX && s->from == GUEST && s->ack == drop_seq &&
        s->len == 0 && ++dups == 3)
      third_dup_t = s->t;
  }
  ck_assert_uint_ne(second, SIZE_MAX);
  ck_assert_uint_eq(w->log[second].t, third_dup_t + LATENCY);
  ck_assert_uint_lt(w->log[second].t - w->log[first].t, 1 * MS); /* far below the RTO */
  /* the guest held the segments after the hole instead of dropping them */
  ck_assert_uint_gt(svc.stats.tcp_echo_bytes, 0);
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* Delays the host's first data segment by 25 us: the next two overtake it. */
static uint64_t delay_first_data(wire *w, int from, size_t n, uint8_t *frame, size_t len) {
  (void)w, (void)n, (void)frame;
  static int done;
  if (!frame) {
    done = 0;
    return 0;
  }
  if (from == HOST && tcp_payload(frame, len) > 0 && !done) {
    done = 1;
    return 25 * US;
  }
  return 0;
}

START_TEST(test_out_of_order_segments_buffered_then_delivered_in_order) {
  net_tcp_config h;
  default_tcp(&h, 0);
  wire *w = wire_new(NULL, &h, NULL, 0);
  net_services svc;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_TCP_DISCARD), 0);
  net_tcp_conn *c;
  ck_assert_int_eq(net_tcp_connect(&w->ifc[HOST], GUEST_IP, 9, 0, w->now, &c), 0);
  wire_run(w, w->now + MS);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_ESTABLISHED);
  delay_first_data(w, 0, 0, NULL, 0);
  w->filter = delay_first_data;
  size_t log_start = w->nlog;
  /* three full segments, exactly the initial window of 3 * 1460 */
  uint8_t data[3 * 1460];
  for (size_t i = 0; i < sizeof data; i++) data[i] = pattern(i);
  ck_assert_int_eq(net_tcp_send(c, data, sizeof data, w->now), (int)sizeof data);
  ck_assert_uint_eq(w->nlog, log_start + 3);
  wire_run(w, w->now + 10 * SEC);
  ck_assert_uint_eq(svc.stats.tcp_discard_bytes, sizeof data);
  net_tcp_info hi;
  net_tcp_get_info(c, &hi);
  ck_assert_uint_eq(hi.stats.dup_acks, 2);    /* one per segment past the hole */
  ck_assert_uint_eq(hi.stats.retransmits, 0); /* the buffered ones were kept */
  ck_assert_uint_eq(hi.snd_una, 1 + sizeof data);
  /* the guest's ACKs: dup, dup (ack = 1), then one for all three at once */
  size_t k = 0;
  uint32_t acks[4];
  for (size_t i = log_start; i < w->nlog; i++)
    if (w->log[i].from == GUEST && k < 4) acks[k++] = w->log[i].ack;
  ck_assert_uint_eq(k, 3);
  ck_assert_uint_eq(acks[0], 1);
  ck_assert_uint_eq(acks[1], 1);
  ck_assert_uint_eq(acks[2], 1 + sizeof data);
  net_tcp_release(c, w->now);
  wire_free(w);
}
END_TEST

START_TEST(test_sequence_numbers_wrap_past_2_pow_32) {
  net_tcp_config g, h;
  default_tcp(&g, 0xfffffff0u);
  default_tcp(&h, 0xffff0000u);
  wire *w = wire_new(&g, &h, NULL, 0);
  net_services svc;
  client cl;
  run_echo(w, &svc, &cl, 200000);
  ck_assert_uint_eq(cl.received, 200000);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  /* both directions crossed 2^32: ISS + 1 + 200000 data + FIN */
  ck_assert_uint_eq(hi.snd_una, (uint32_t)(0xffff0000u + 200002u));
  ck_assert_uint_eq(hi.rcv_nxt, (uint32_t)(0xfffffff0u + 200002u));
  ck_assert_uint_lt(hi.snd_una, 0xffff0000u); /* wrapped */
  ck_assert_uint_eq(hi.stats.retransmits, 0);
  ck_assert(net_tcp_seq_lt(0xfffffff0u, 5));
  ck_assert(net_tcp_seq_gt(5, 0xfffffff0u));
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* A stopped port (a full TX hold) keeps the guest's data in its send
 * buffer: no data segment leaves and none is refused; once the port is
 * ready the driver's wake-up (the stack's poll) sends it, byte-exact,
 * without a retransmission. */
START_TEST(test_stopped_port_holds_data_until_ready) {
  net_tcp_config g, h;
  default_tcp(&g, 1000);
  default_tcp(&h, 5000);
  wire *w = wire_new(&g, &h, NULL, 0);
  net_services svc;
  client cl;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_ALL), 0);
  w->ends[GUEST].stopped = 1; /* the handshake is not data: it goes */
  client_start(&cl, &w->ifc[HOST], GUEST_IP, NET_SVC_PORT_TCP_ECHO, 32768, w->now);
  size_t before = w->nlog;
  wire_run(w, w->now + 5 * SEC);
  size_t guest_data = 0, host_data = 0;
  for (size_t i = before; i < w->nlog; i++) {
    if (w->log[i].from == GUEST) guest_data += w->log[i].len;
    if (w->log[i].from == HOST) host_data += w->log[i].len;
  }
  ck_assert_uint_gt(host_data, 0);  /* the host went on sending ... */
  ck_assert_uint_eq(guest_data, 0); /* ... and the guest's answer waited */
  ck_assert_uint_lt(cl.received, cl.total);
  w->ends[GUEST].stopped = 0;
  net_iface_poll(&w->ifc[GUEST], w->now);
  wire_run(w, w->now + 600 * SEC);
  ck_assert_uint_eq(cl.received, cl.total);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->tx_errors, 0);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->tcp_retransmits, 0);
  net_tcp_release(cl.c, w->now);
  net_services_stop(&svc);
  wire_free(w);
}
END_TEST

/* ---- closing -------------------------------------------------------------------------------- */

static void noop_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now) {
  (void)c, (void)now;
  net_tcp_conn **slot = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) *slot = c;
}

START_TEST(test_active_close_waits_two_msl_in_time_wait) {
  net_tcp_config g;
  default_tcp(&g, 0);
  g.time_wait_ns = 500 * MS;
  wire *w = wire_new(&g, NULL, NULL, 0);
  net_tcp_conn *server = NULL, *c;
  ck_assert_int_eq(net_tcp_listen(&w->ifc[HOST], 5000, noop_ev, &server), 0);
  ck_assert_int_eq(net_tcp_connect(&w->ifc[GUEST], HOST_IP, 5000, 0, w->now, &c), 0);
  wire_run(w, w->now + MS);
  ck_assert_ptr_nonnull(server);
  ck_assert_int_eq(net_tcp_close(c, w->now), 0);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_FIN_WAIT_1);
  wire_run(w, w->now + 2 * LATENCY);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_FIN_WAIT_2);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_CLOSE_WAIT);
  ck_assert_int_eq(net_tcp_recv(server, NULL, 10, w->now), 0); /* end of stream */
  ck_assert_int_eq(net_tcp_send(c, (const uint8_t *)"x", 1, w->now), EMU_ESTATE);
  ck_assert_int_eq(net_tcp_close(server, w->now), 0);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_LAST_ACK);
  uint64_t fin_at = w->now;
  wire_run(w, w->now + LATENCY);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_TIME_WAIT);
  ck_assert_uint_eq(net_iface_poll_at(&w->ifc[GUEST]), fin_at + LATENCY + 500 * MS);
  wire_run(w, w->now + LATENCY);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_CLOSED);
  wire_run(w, fin_at + LATENCY + 500 * MS - 1);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_TIME_WAIT);
  wire_run(w, fin_at + LATENCY + 500 * MS);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_CLOSED);
  net_tcp_info info;
  net_tcp_get_info(c, &info);
  ck_assert_int_eq(info.close_reason, NET_TCP_CLOSED_NORMAL);
  net_tcp_release(c, w->now);
  net_tcp_release(server, w->now);
  wire_free(w);
}
END_TEST

/* The guest closes first, so its side waits in TIME-WAIT; with the table
 * full of those, a new connection ends the one with least left to wait
 * rather than being refused (one still held by its owner is never ended). */
/* server: where the host's listener puts the connection it accepts, which
 * must outlive the listener (the test's own). */
static net_tcp_conn *closed_into_time_wait(wire *w, uint16_t port, net_tcp_conn **server) {
  net_tcp_conn *c;
  *server = NULL;
  ck_assert_int_eq(net_tcp_listen(&w->ifc[HOST], port, noop_ev, server), 0);
  ck_assert_int_eq(net_tcp_connect(&w->ifc[GUEST], HOST_IP, port, 0, w->now, &c), 0);
  wire_run(w, w->now + MS);
  ck_assert_ptr_nonnull(*server);
  ck_assert_int_eq(net_tcp_close(c, w->now), 0);
  wire_run(w, w->now + 2 * LATENCY);
  ck_assert_int_eq(net_tcp_close(*server, w->now), 0);
  wire_run(w, w->now + 2 * LATENCY);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_TIME_WAIT);
  net_tcp_release(*server, w->now);
  return c;
}

START_TEST(test_full_table_ends_the_oldest_released_time_wait) {
  net_tcp_config g;
  default_tcp(&g, 0);
  g.max_conns = 2;
  g.time_wait_ns = 60 * SEC;
  wire *w = wire_new(&g, NULL, NULL, 0);
  net_tcp_conn *servers[2];
  net_tcp_conn *first = closed_into_time_wait(w, 5000, &servers[0]);
  net_tcp_conn *second = closed_into_time_wait(w, 5001, &servers[1]);
  net_tcp_conn *c = NULL;
  /* both held by their owner: the table is full */
  ck_assert_int_eq(net_tcp_connect(&w->ifc[GUEST], HOST_IP, 5000, 0, w->now, &c), EMU_ENOSPC);
  net_tcp_release(second, w->now);
  net_tcp_release(first, w->now);
  ck_assert_int_eq(net_tcp_connect(&w->ifc[GUEST], HOST_IP, 5000, 0, w->now, &c), 0);
  ck_assert_uint_eq(net_iface_stats_get(&w->ifc[GUEST])->tcp_time_wait_recycled, 1);
  wire_run(w, w->now + MS);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_ESTABLISHED);
  net_tcp_release(c, w->now);
  wire_free(w);
}
END_TEST

START_TEST(test_simultaneous_close_passes_closing_on_both_sides) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  net_tcp_conn *server = NULL, *c;
  ck_assert_int_eq(net_tcp_listen(&w->ifc[HOST], 5000, noop_ev, &server), 0);
  ck_assert_int_eq(net_tcp_connect(&w->ifc[GUEST], HOST_IP, 5000, 0, w->now, &c), 0);
  wire_run(w, w->now + MS);
  ck_assert_int_eq(net_tcp_close(c, w->now), 0);
  ck_assert_int_eq(net_tcp_close(server, w->now), 0);
  wire_run(w, w->now + LATENCY); /* each FIN arrives before its ACK */
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_CLOSING);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_CLOSING);
  wire_run(w, w->now + LATENCY);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_TIME_WAIT);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_TIME_WAIT);
  wire_run(w, w->now + 2 * SEC);
  ck_assert_int_eq(net_tcp_get_state(c), NET_TCP_CLOSED);
  ck_assert_int_eq(net_tcp_get_state(server), NET_TCP_CLOSED);
  net_tcp_release(c, w->now);
  net_tcp_release(server, w->now);
  wire_free(w);
}
END_TEST

START_TEST(test_zero_window_probed_until_reader_drains) {
  net_tcp_config g;
  default_tcp(&g, 0);
  g.rcv_buf = 4096; /* a small receiver that does not read */
  wire *w = wire_new(&g, NULL, NULL, 0);
  net_tcp_conn *server = NULL;
  ck_assert_int_eq(net_tcp_listen(&w->ifc[GUEST], 5000, noop_ev, &server), 0);
  client cl;
  client_start(&cl, &w->ifc[HOST], GUEST_IP, 5000, 10000, w->now);
  wire_run(w, w->now + 3 * SEC);
  ck_assert_ptr_nonnull(server);
  net_tcp_info si, hi;
  net_tcp_get_info(server, &si);
  ck_assert_uint_eq(si.recv_ready, 4096);
  ck_assert_uint_eq(si.rcv_wnd, 0);
  net_tcp_get_info(cl.c, &hi);
  ck_assert_uint_eq(hi.snd_wnd, 0);
  ck_assert_int_eq(hi.state, NET_TCP_ESTABLISHED); /* probing never gives up */
  ck_assert_uint_eq(hi.stats.timeouts, 0);
  /* drain: the window update restarts the flow */
  uint8_t buf[10000];
  size_t got = 0;
  for (int round = 0; round < 20 && got < 10000; round++) {
    int n = net_tcp_recv(server, buf + got, sizeof buf - got, w->now);
    if (n > 0) got += (size_t)n;
    wire_run(w, w->now + 5 * SEC);
  }
  ck_assert_uint_eq(got, 10000);
  for (size_t i = 0; i < got; i++) ck_assert_uint_eq(buf[i], pattern(i));
  net_tcp_release(cl.c, w->now);
  net_tcp_release(server, w->now);
  wire_free(w);
}
END_TEST

/* ---- HTTP ------------------------------------------------------------------------------------ */

static size_t fake_stats(void *ctx, char *buf, size_t cap) {
  (void)ctx;
  return (size_t)snprintf(buf, cap, "{\"rx_avail\":261}");
}

static void http_get(wire *w, const char *req, char *out, size_t cap) {
  client cl;
  memset(&cl, 0, sizeof cl);
  ck_assert_int_eq(net_tcp_connect(&w->ifc[HOST], GUEST_IP, 80, 0, w->now, &cl.c), 0);
  wire_run(w, w->now + MS);
  ck_assert_int_eq(net_tcp_send(cl.c, (const uint8_t *)req, strlen(req), w->now), (int)strlen(req));
  wire_run(w, w->now + 10 * MS);
  int n = net_tcp_recv(cl.c, (uint8_t *)out, cap - 1, w->now);
  ck_assert_int_gt(n, 0);
  out[n] = '\0';
  ck_assert_int_eq(net_tcp_recv(cl.c, NULL, 1, w->now), 0); /* server closed */
  net_tcp_release(cl.c, w->now);
}

START_TEST(test_http_serves_index_stats_and_errors) {
  wire *w = wire_new(NULL, NULL, NULL, 0);
  net_services svc;
  ck_assert_int_eq(net_services_start(&svc, &w->ifc[GUEST], NET_SVC_HTTP), 0);
  char out[8192];
  http_get(w, "GET / HTTP/1.1\r\nHost: guest\r\n\r\n", out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "Content-Type: text/html\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "<h1>vnetsim guest</h1>"));
  /* default stats: the stack's own counters */
  http_get(w, "GET /stats HTTP/1.1\r\n\r\n", out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "Content-Type: application/json\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n{\"rx_frames\":"));
  ck_assert_ptr_nonnull(strstr(out, "\"tcp_segs_in\":"));
  /* the embedder's stats */
  net_iface_set_stats_fn(&w->ifc[GUEST], fake_stats, NULL);
  http_get(w, "GET /stats HTTP/1.0\r\n\r\n", out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "Content-Length: 17\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n{\"rx_avail\":261}\n"));
  http_get(w, "GET /nope HTTP/1.1\r\n\r\n", out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
  http_get(w, "POST / HTTP/1.1\r\n\r\n", out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 405 "));
  /* RFC 9110 §15.5.6: a 405 says which methods are allowed */
  ck_assert_ptr_nonnull(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
  /* RFC 9110 §9.3.2: HEAD has GET's headers, Content-Length included, and no body */
  char get[8192];
  http_get(w, "GET / HTTP/1.1\r\n\r\n", get, sizeof get);
  http_get(w, "HEAD / HTTP/1.1\r\n\r\n", out, sizeof out);
  const char *get_end = strstr(get, "\r\n\r\n");
  ck_assert_ptr_nonnull(get_end);
  ck_assert_uint_eq(strlen(out), (size_t)(get_end + 4 - get));
  ck_assert_int_eq(memcmp(out, get, strlen(out)), 0);
  ck_assert_uint_eq(svc.stats.http_requests, 5);
  ck_assert_uint_eq(svc.stats.http_errors, 2);
  wire_run(w, w->now + 5 * SEC);
  ck_assert_uint_eq(w->ifc[GUEST].tcp_nconns, 0);
  wire_free(w);
}
END_TEST

/* ---- link faults under TCP ------------------------------------------------------------------- */

START_TEST(test_echo_survives_drop_duplicate_reorder_corrupt_faults) {
  emu_fault_config fc;
  char err[200];
  ck_assert_int_eq(
      emu_fault_config_parse("drop=0.02,dup=0.02,reorder=0.03,corrupt=0.01,delay=0.01,delay_us=300",
                             &fc, err, sizeof err),
      0);
  wire *w = wire_new(NULL, NULL, &fc, 42);
  net_services svc;
  client cl;
  run_echo(w, &svc, &cl, 256 * 1024);
  ck_assert_uint_eq(cl.received, 256 * 1024);
  ck_assert_uint_eq(cl.mismatch_at, SIZE_MAX);
  ck_assert_int_eq(cl.eof, 1);
  net_tcp_info hi;
  net_tcp_get_info(cl.c, &hi);
  /* a duplicated final ACK draws a RST from the closed guest port: TIME-WAIT
   * ignores it (RFC 1337), so the close stays normal */
  ck_assert_int_eq(hi.state, NET_TCP_CLOSED);
  ck_assert_int_eq(hi.close_reason, NET_TCP_CLOSED_NORMAL);
  const emu_fault_stats *fs = emu_fault_stats_get(w->fault);
  ck_assert_uint_gt(fs->faults[EMU_FATE_FAULT_DROP], 0);
  ck_assert_uint_gt(fs->faults[EMU_FATE_FAULT_CORRUPT], 0);
  const net_iface_stats *gs = net_iface_stats_get(&w->ifc[GUEST]);
  const net_iface_stats *hs = net_iface_stats_get(&w->ifc[HOST]);
  ck_assert_uint_gt(gs->tcp_retransmits + hs->tcp_retransmits, 0);
  /* corruption is caught by a checksum (IPv4 or TCP) on whichever side */
  ck_assert_uint_gt(gs->rx_fates[EMU_FATE_BAD_CHECKSUM] + hs->rx_fates[EMU_FATE_BAD_CHECKSUM] +
                        gs->rx_fates[EMU_FATE_MALFORMED] + hs->rx_fates[EMU_FATE_MALFORMED],
                    0);
  net_tcp_release(cl.c, w->now);
  wire_free(w);
}
END_TEST

/* ---- the full scenario: 1 MiB echo through virtio under 50 seeds ------------------------ */

typedef struct scn_echo {
  size_t received, mismatch_at;
  int eof;
  uint64_t counts[EMU_FATE_COUNT];
  uint64_t nframes, guest_rx_fates[EMU_FATE_COUNT];
  net_tcp_state state;
  uint64_t rx_no_buffer_first; /* ledger index of the first rx_no_buffer, or UINT64_MAX */
} scn_echo;

static void run_scn_echo(uint64_t seed, unsigned bugs, size_t total, uint64_t until_ns,
                         scn_echo *out) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = seed;
  cfg.bugs = bugs;
  cfg.trace_hash = 0;
  scn *s = calloc(1, sizeof *s);
  net_iface *peer = calloc(1, sizeof *peer);
  ck_assert_int_eq(scn_init(s, &cfg), 0); /* the guest runs its services */
  net_tcp_config tc;
  net_tcp_config_default(&tc);
  tc.seed = seed;
  ck_assert_int_eq(net_tcp_configure(&s->guest, &tc), 0);
  net_iface_config pc;
  net_iface_config_slirp_host(&pc);
  ck_assert_int_eq(net_iface_init(peer, &pc, scn_host_port(s)), 0);
  tc.seed = seed + 1000;
  ck_assert_int_eq(net_tcp_configure(peer, &tc), 0);
  scn_attach_peer(s, peer);
  client cl;
  client_start(&cl, peer, cfg.guest.ip, NET_SVC_PORT_TCP_ECHO, total, scn_now(s));
  scn_run(s, until_ns, 50000000);
  scn_finish(s);
  memset(out, 0, sizeof *out);
  out->received = cl.received;
  out->mismatch_at = cl.mismatch_at;
  out->eof = cl.eof;
  out->state = net_tcp_get_state(cl.c);
  memcpy(out->counts, s->fates.counts, sizeof out->counts);
  memcpy(out->guest_rx_fates, s->guest.stats.rx_fates, sizeof out->guest_rx_fates);
  out->nframes = s->fates.nframes;
  out->rx_no_buffer_first = UINT64_MAX;
  for (size_t i = 0; i < s->fates.nframes; i++)
    if (s->fates.frames[i].fate == EMU_FATE_RX_NO_BUFFER) {
      out->rx_no_buffer_first = i;
      break;
    }
  ck_assert_uint_eq(emu_fates_total(&s->fates), s->fates.nframes);
  ck_assert_uint_eq(s->fates.double_fates, 0);
  net_tcp_release(cl.c, scn_now(s));
  net_iface_close(peer);
  scn_close(s);
  free(peer);
  free(s);
}

START_TEST(test_scenario_echo_1_mib_same_outcome_over_50_seeds) {
  scn_echo first;
  run_scn_echo(1, 0, 1 << 20, EMU_TIME_NEVER, &first);
  ck_assert_uint_eq(first.received, 1 << 20);
  ck_assert_uint_eq(first.mismatch_at, SIZE_MAX);
  ck_assert_int_eq(first.eof, 1);
  ck_assert_uint_eq(first.counts[EMU_FATE_RX_NO_BUFFER], 0);
  /* the same seed gives the same run, frame for frame */
  scn_echo again;
  run_scn_echo(1, 0, 1 << 20, EMU_TIME_NEVER, &again);
  ck_assert_uint_eq(again.nframes, first.nframes);
  ck_assert_mem_eq(again.counts, first.counts, sizeof first.counts);
  ck_assert_mem_eq(again.guest_rx_fates, first.guest_rx_fates, sizeof first.guest_rx_fates);
  ck_assert_uint_gt(first.nframes, 719); /* at least the data segments of 1 MiB */
  for (uint64_t seed = 2; seed <= 50; seed++) {
    scn_echo r;
    run_scn_echo(seed, 0, 1 << 20, EMU_TIME_NEVER, &r);
    ck_assert_msg(r.received == 1 << 20 && r.mismatch_at == SIZE_MAX && r.eof,
                  "seed %llu: received %zu", (unsigned long long)seed, r.received);
    /* every frame into the guest delivered or answered, none dropped */
    for (int f = EMU_FATE_PENDING + 1; f < EMU_FATE_COUNT; f++)
      if (!emu_fate_is_success((emu_fate)f))
        ck_assert_msg(r.counts[f] == 0, "seed %llu: %s %llu", (unsigned long long)seed,
                      emu_fate_name((emu_fate)f), (unsigned long long)r.counts[f]);
  }
}
END_TEST

START_TEST(test_rx_no_recycle_stalls_the_echo_at_frame_257) {
  scn_echo r;
  run_scn_echo(1, VBUG_RX_NO_RECYCLE, 1 << 20, 1 * SEC + 30 * SEC, &r);
  /* 256 RX buffers: ARP, the handshake and data fill them, and frame 257 is
   * the first the device cannot place. From then on the guest hears
   * nothing: the transfer stalls with most of the MiB unechoed. */
  ck_assert_uint_eq(r.rx_no_buffer_first, 256);
  ck_assert_uint_eq(r.counts[EMU_FATE_DELIVERED] + r.counts[EMU_FATE_ANSWERED], 256);
  ck_assert_uint_lt(r.received, 1 << 19);
  ck_assert_int_eq(r.eof, 0);
  ck_assert_int_eq(r.state, NET_TCP_ESTABLISHED);
}
END_TEST

static Suite *tcp_suite(void) {
  Suite *s = suite_create("tcp");
  TCase *open = tcase_create("open");
  tcase_add_test(open, test_handshake_exchanges_mss_and_both_sides_reach_established);
  tcase_add_test(open, test_syn_to_closed_port_answered_by_rst_and_connect_refused);
  tcase_add_test(open, test_bad_checksum_counted_and_never_answered);
  tcase_add_test(open, test_ack_to_listening_port_without_connection_gets_rst_at_its_ack);
  suite_add_tcase(s, open);
  TCase *data = tcase_create("data");
  tcase_add_test(data, test_echo_of_1_mib_is_byte_exact_without_retransmission);
  tcase_add_test(data, test_dropped_segment_retransmitted_exactly_one_rto_later);
  tcase_add_test(data, test_lost_syns_repeated_with_exponential_backoff_from_1s);
  tcase_add_test(data, test_third_duplicate_ack_triggers_fast_retransmit_before_rto);
  tcase_add_test(data, test_out_of_order_segments_buffered_then_delivered_in_order);
  tcase_add_test(data, test_sequence_numbers_wrap_past_2_pow_32);
  tcase_add_test(data, test_zero_window_probed_until_reader_drains);
  tcase_add_test(data, test_stopped_port_holds_data_until_ready);
  suite_add_tcase(s, data);
  TCase *close = tcase_create("close");
  tcase_add_test(close, test_active_close_waits_two_msl_in_time_wait);
  tcase_add_test(close, test_simultaneous_close_passes_closing_on_both_sides);
  tcase_add_test(close, test_full_table_ends_the_oldest_released_time_wait);
  suite_add_tcase(s, close);
  TCase *svc = tcase_create("services");
  tcase_add_test(svc, test_http_serves_index_stats_and_errors);
  suite_add_tcase(s, svc);
  TCase *faults = tcase_create("faults");
  tcase_add_test(faults, test_echo_survives_drop_duplicate_reorder_corrupt_faults);
  suite_add_tcase(s, faults);
  TCase *sc = tcase_create("scenario");
  tcase_set_timeout(sc, 240);
  tcase_add_test(sc, test_scenario_echo_1_mib_same_outcome_over_50_seeds);
  tcase_add_test(sc, test_rx_no_recycle_stalls_the_echo_at_frame_257);
  suite_add_tcase(s, sc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(tcp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
