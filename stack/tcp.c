/* TCP connections: see tcp.h for what is and is not implemented. Section
 * numbers are RFC 9293's unless another RFC is named. */
#include "stack/tcp.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "stack/iface.h"

#define MAX_WINDOW 65535u /* no window scaling (RFC 7323) */
/* The largest any MTU allows; an iface's own MTU lowers it (configure), so
 * the default is as large as the iface's MTU lets it be. */
#define MAX_MSS (NET_IFACE_MTU_MAX - NET_IPV4_HEADER_LEN - NET_TCP_HEADER_LEN)

struct net_tcp_conn {
  net_iface *ifc;
  net_tcp_conn *next;
  net_tcp_state state;
  net_tcp_close_reason close_reason;
  uint32_t local_ip, remote_ip;
  uint16_t local_port, remote_port;

  /* Send sequence space (§3.3.1). snd_max is the highest sequence number
   * ever sent: after a timeout snd_nxt goes back to snd_una (go-back-N) and
   * ACKs up to snd_max stay acceptable. */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2, snd_wnd;
  uint16_t snd_mss;
  /* Send buffer: a ring of scap bytes; sbuf[shead] holds the byte with
   * sequence number sbuf_seq (= snd_una once the SYN is acknowledged). */
  uint8_t *sbuf;
  size_t scap, shead, slen;
  uint32_t sbuf_seq;
  int fin_queued;   /* the application closed: a FIN follows the data */
  uint32_t fin_seq; /* its sequence number, sbuf_seq + slen, fixed once queued */

  /* Receive sequence space. rbuf holds rlen in-order bytes from rhead, then
   * room for out-of-order bytes at their offset from rcv_nxt. */
  uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right window edge last advertised */
  uint8_t *rbuf;
  size_t rcap, rhead, rlen;
  struct {
    uint32_t start, end;
  } ooo[NET_TCP_OOO_RANGES]; /* sorted, disjoint */
  size_t nooo;
  int fin_rcvd;

  /* Timers (absolute virtual times, EMU_TIME_NEVER when off). */
  uint64_t rto_at, tw_at;
  /* RFC 6298 estimator */
  uint64_t srtt_ns, rttvar_ns, rto_ns;
  int have_rtt;
  int rtt_timing;   /* one segment is being timed (Karn: never a retransmitted one) */
  uint32_t rtt_seq; /* an ACK at or past this ends the measurement */
  uint64_t rtt_start;
  unsigned backoffs; /* consecutive timeouts */
  int probe;         /* the persist timer fired: send one byte past a zero window */
  int tx_blocked;    /* output stopped because the port was not ready (emu_port_ready) */

  /* RFC 5681 congestion control, RFC 6582 recovery point */
  uint32_t cwnd, ssthresh, recover;
  unsigned dupacks;
  int in_recovery;

  /* the application */
  net_tcp_event_fn fn;
  void *ctx;
  unsigned events; /* to dispatch after the current input or timer */
  int released;    /* the stack owns it (half-open, or given back) */
  int ack_pending; /* an ACK must go out before the input returns */
  net_tcp_conn_stats stats;
};

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ---- configuration -------------------------------------------------------------- */

void net_tcp_config_default(net_tcp_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->mss = MAX_MSS;
  cfg->snd_buf = 65536;
  cfg->rcv_buf = 65536;
  cfg->rto_initial_ns = 1000000000ull;
  cfg->rto_min_ns = 200000000ull;
  cfg->rto_max_ns = 60000000000ull;
  cfg->time_wait_ns = 1000000000ull;
  cfg->max_retries = 8;
  cfg->max_conns = NET_TCP_DEFAULT_MAX_CONNS;
}

int net_tcp_configure(net_iface *ifc, const net_tcp_config *cfg) {
  if (!ifc || !cfg) return EMU_EINVAL;
  if (cfg->mss == 0 || cfg->mss > MAX_MSS || cfg->snd_buf == 0 || cfg->rcv_buf == 0 ||
      cfg->snd_buf > (1u << 30) || cfg->rcv_buf > (1u << 30) || cfg->rto_min_ns == 0 ||
      cfg->rto_initial_ns < cfg->rto_min_ns || cfg->rto_max_ns < cfg->rto_initial_ns ||
      cfg->max_retries == 0 || cfg->max_conns == 0)
    return EMU_EINVAL;
  if (ifc->tcp_conns) return EMU_ESTATE;
  ifc->tcp_cfg = *cfg;
  /* RFC 9293 §3.7.1: no segment larger than the MTU allows */
  uint32_t mtu_mss = (uint32_t)ifc->mtu - NET_IPV4_HEADER_LEN - NET_TCP_HEADER_LEN;
  if (ifc->mtu && ifc->tcp_cfg.mss > mtu_mss) ifc->tcp_cfg.mss = (uint16_t)mtu_mss;
  emu_rng_init(&ifc->tcp_rng, cfg->seed);
  return 0;
}

/* ---- connection table ------------------------------------------------------------ */

static net_tcp_conn *conn_find(net_iface *ifc, uint32_t remote_ip, uint16_t remote_port,
                               uint16_t local_port) {
  for (net_tcp_conn *c = ifc->tcp_conns; c; c = c->next)
    if (c->state != NET_TCP_CLOSED && c->remote_ip == remote_ip && c->remote_port == remote_port &&
        c->local_port == local_port)
      return c;
  return NULL;
}

static struct net_tcp_listener *listener_find(net_iface *ifc, uint16_t port) {
  for (size_t i = 0; i < NET_TCP_MAX_LISTENERS; i++)
    if (ifc->tcp_listeners[i].port == port) return &ifc->tcp_listeners[i];
  return NULL;
}

static int port_in_use(net_iface *ifc, uint16_t port) {
  if (listener_find(ifc, port)) return 1;
  for (net_tcp_conn *c = ifc->tcp_conns; c; c = c->next)
    if (c->local_port == port && c->state != NET_TCP_CLOSED) return 1;
  return 0;
}

static void sweep(net_iface *ifc);
static void enter_closed(net_tcp_conn *c, net_tcp_close_reason why);

/* Ends the TIME-WAIT that has least left to wait, of a connection its
 * owner let go: a full table takes a new connection rather than refuse it,
 * as Linux drops a TIME-WAIT bucket past tcp_max_tw_buckets. 0 when there
 * is none. */
static int recycle_time_wait(net_iface *ifc) {
  net_tcp_conn *oldest = NULL;
  for (net_tcp_conn *c = ifc->tcp_conns; c; c = c->next)
    if (c->state == NET_TCP_TIME_WAIT && c->released && (!oldest || c->tw_at < oldest->tw_at))
      oldest = c;
  if (!oldest) return 0;
  enter_closed(oldest, NET_TCP_CLOSED_NORMAL);
  sweep(ifc);
  ifc->stats.tcp_time_wait_recycled++;
  return 1;
}

/* One allocation: the TCB, then the send ring, then the receive ring. */
static net_tcp_conn *conn_new(net_iface *ifc, uint32_t remote_ip, uint16_t remote_port,
                              uint16_t local_port) {
  const net_tcp_config *cfg = &ifc->tcp_cfg;
  if (ifc->tcp_nconns >= cfg->max_conns && !recycle_time_wait(ifc)) return NULL;
  net_tcp_conn *c = calloc(1, sizeof *c + cfg->snd_buf + cfg->rcv_buf);
  if (!c) return NULL;
  c->ifc = ifc;
  c->local_ip = ifc->cfg.ip;
  c->remote_ip = remote_ip;
  c->remote_port = remote_port;
  c->local_port = local_port;
  c->sbuf = (uint8_t *)(c + 1);
  c->scap = cfg->snd_buf;
  c->rbuf = c->sbuf + cfg->snd_buf;
  c->rcap = cfg->rcv_buf;
  /* §3.4.1 asks for a clock-driven ISS with a keyed hash; here the run's
   * seed stands in for both, so that a replay draws the same numbers. */
  c->iss = cfg->fixed_iss ? cfg->iss : (uint32_t)emu_rng_next(&ifc->tcp_rng);
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->sbuf_seq = c->iss + 1; /* the SYN occupies iss */
  c->snd_mss = NET_TCP_DEFAULT_MSS;
  c->rto_ns = cfg->rto_initial_ns;
  c->rto_at = c->tw_at = EMU_TIME_NEVER;
  c->ssthresh = 0xffffffffu; /* RFC 5681 §3.1: "arbitrarily high" at first */
  c->next = ifc->tcp_conns;
  ifc->tcp_conns = c;
  ifc->tcp_nconns++;
  return c;
}

/* Frees the connections that are CLOSED and owned by the stack. Runs only at
 * the end of an input or poll, so no caller still holds a pointer. */
static void sweep(net_iface *ifc) {
  for (net_tcp_conn **pp = &ifc->tcp_conns; *pp;) {
    net_tcp_conn *c = *pp;
    if (c->state == NET_TCP_CLOSED && c->released) {
      *pp = c->next;
      ifc->tcp_nconns--;
      free(c);
    } else {
      pp = &c->next;
    }
  }
}

void net_tcp_free_all(net_iface *ifc) {
  while (ifc->tcp_conns) {
    net_tcp_conn *c = ifc->tcp_conns;
    ifc->tcp_conns = c->next;
    free(c);
  }
  ifc->tcp_nconns = 0;
  memset(ifc->tcp_listeners, 0, sizeof ifc->tcp_listeners);
}

/* ---- windows ------------------------------------------------------------------------ */

/* The receive window: free buffer space, at most 65535 without scaling. The
 * right edge never moves left (§3.8.6.2.2 "shrinking the window" is
 * discouraged): each byte taken into rlen advances rcv_nxt by one too. */
static uint32_t rcv_wnd(const net_tcp_conn *c) {
  size_t free_space = c->rcap - c->rlen;
  return free_space > MAX_WINDOW ? MAX_WINDOW : (uint32_t)free_space;
}

static uint32_t flight_size(const net_tcp_conn *c) { return c->snd_max - c->snd_una; }

/* ---- output ---------------------------------------------------------------------------- */

/* Builds and sends one segment. Data bytes are copied from the send ring at
 * the offset of seq; SYN and FIN take no data room. Every segment after the
 * SYN carries an ACK of rcv_nxt and advertises the current window. */
static int send_segment(net_tcp_conn *c, uint32_t seq, size_t len, uint8_t flags, uint64_t now_ns) {
  net_iface *ifc = c->ifc;
  size_t cap;
  uint8_t *buf = net_iface_l4_buf(ifc, &cap);
  net_tcp_repr r = {
      .src_port = c->local_port,
      .dst_port = c->remote_port,
      .seq = seq,
      .flags = flags,
      .payload_len = len,
  };
  if (c->state != NET_TCP_SYN_SENT) {
    r.flags |= NET_TCP_ACK;
    r.ack = c->rcv_nxt;
  }
  uint32_t wnd = rcv_wnd(c);
  r.window = (uint16_t)wnd;
  if (flags & NET_TCP_SYN) r.mss = ifc->tcp_cfg.mss; /* §3.7.1: MSS only on a SYN */
  size_t hl = net_tcp_emit_header_len(&r);
  if (len) {
    uint8_t *dst = buf + hl;
    size_t off = (c->shead + (seq - c->sbuf_seq)) % c->scap;
    size_t first = c->scap - off < len ? c->scap - off : len;
    memcpy(dst, c->sbuf + off, first);
    memcpy(dst + first, c->sbuf, len - first);
    r.payload = dst;
  }
  int n = net_tcp_emit(&r, c->local_ip, c->remote_ip, buf, cap);
  if (n < 0) return n;
  int err = net_iface_ip_send(ifc, c->remote_ip, NET_IP_PROTO_TCP, (size_t)n, now_ns);
  /* A segment the port refused is lost like one dropped on the wire: the
   * retransmission timer recovers it. */
  if (err) return err;
  c->stats.segs_out++;
  ifc->stats.tcp_segs_out++;
  if (r.flags & NET_TCP_ACK) {
    c->ack_pending = 0;
    c->rcv_adv = c->rcv_nxt + wnd;
  }
  return 0;
}

static void send_ack(net_tcp_conn *c, uint64_t now_ns) {
  (void)send_segment(c, c->snd_nxt, 0, 0, now_ns);
}

/* An ACK that can wait for a stopped port (see tcp_output): it goes with
 * the data, or alone, when net_tcp_poll finds the port ready, one ACK for
 * everything received meanwhile, as a delayed ACK would be. */
static void send_ack_when_ready(net_tcp_conn *c, uint64_t now_ns) {
  if (emu_port_ready(c->ifc->port)) {
    send_ack(c, now_ns);
    return;
  }
  c->ack_pending = 1;
  c->tx_blocked = 1;
}

/* A RST for a segment that has no connection, or one the connection refuses
 * (§3.10.7.1): answer the ACK field if it had one, else acknowledge it. */
static void send_rst_for(net_iface *ifc, uint32_t dst_ip, const net_tcp_repr *in, size_t seg_len,
                         uint64_t now_ns) {
  if (in->flags & NET_TCP_RST) return; /* never answer a RST */
  size_t cap;
  uint8_t *buf = net_iface_l4_buf(ifc, &cap);
  net_tcp_repr r = {.src_port = in->dst_port, .dst_port = in->src_port, .flags = NET_TCP_RST};
  if (in->flags & NET_TCP_ACK) {
    r.seq = in->ack;
  } else {
    r.seq = 0;
    r.ack = in->seq + (uint32_t)seg_len;
    r.flags |= NET_TCP_ACK;
  }
  int n = net_tcp_emit(&r, ifc->cfg.ip, dst_ip, buf, cap);
  if (n < 0) return;
  if (net_iface_ip_send(ifc, dst_ip, NET_IP_PROTO_TCP, (size_t)n, now_ns) == 0) {
    ifc->stats.tcp_segs_out++;
    ifc->stats.tcp_rst_sent++;
  }
}

static void arm_rto(net_tcp_conn *c, uint64_t now_ns) { c->rto_at = now_ns + c->rto_ns; }

static int can_send_data(const net_tcp_conn *c) {
  switch (c->state) {
    case NET_TCP_ESTABLISHED:
    case NET_TCP_CLOSE_WAIT:
    case NET_TCP_FIN_WAIT_1:
    case NET_TCP_CLOSING:
    case NET_TCP_LAST_ACK:
      return 1;
    default:
      return 0;
  }
}

/* Sends what the windows allow from snd_nxt on: the SYN while opening, then
 * data and the FIN. The usable window is min(snd_wnd, cwnd) minus what is in
 * flight (RFC 5681 §2 "FlightSize"). */
static void tcp_output(net_tcp_conn *c, uint64_t now_ns) {
  if (c->state == NET_TCP_SYN_SENT || c->state == NET_TCP_SYN_RECEIVED) {
    if (c->snd_nxt != c->iss) return;
    if (c->snd_max != c->iss) {
      c->stats.retransmits++;
      c->ifc->stats.tcp_retransmits++;
    } else { /* the SYN's round trip gives the first RTT sample */
      c->rtt_timing = 1;
      c->rtt_seq = c->iss + 1;
      c->rtt_start = now_ns;
    }
    /* A SYN the port refused counts as sent: the timer repeats it. */
    (void)send_segment(c, c->iss, 0, NET_TCP_SYN, now_ns);
    c->snd_nxt = c->iss + 1;
    c->snd_max = c->iss + 1;
    if (c->rto_at == EMU_TIME_NEVER) arm_rto(c, now_ns);
    return;
  }
  if (!can_send_data(c)) return;
  for (;;) {
    if (c->fin_queued && net_tcp_seq_gt(c->snd_nxt, c->fin_seq)) break; /* all sent */
    size_t off = c->snd_nxt - c->sbuf_seq;
    size_t avail = c->slen - off;
    uint32_t flight = c->snd_nxt - c->snd_una;
    uint32_t wnd = min_u32(c->snd_wnd, c->cwnd);
    size_t usable = wnd > flight ? wnd - flight : 0;
    if (c->probe && usable == 0 && avail > 0 && flight == 0) usable = 1; /* §3.8.6.1 */
    size_t n = avail < usable ? avail : usable;
    if (n > c->snd_mss) n = c->snd_mss;
    /* Sender-side silly window avoidance (§3.8.6.2.1), simplified: with
     * data in flight, wait for room for a full segment rather than send a
     * runt that only the window limited. */
    if (n < avail && n < c->snd_mss && flight > 0 && !c->probe) break;
    int fin = c->fin_queued && n == avail;
    if (n == 0 && !fin) break;
    /* a stopped queue: the data waits here, and net_tcp_poll goes on
     * once the port is ready again */
    if (!emu_port_ready(c->ifc->port)) {
      c->tx_blocked = 1;
      break;
    }
    int retransmit = net_tcp_seq_lt(c->snd_nxt, c->snd_max);
    uint8_t flags = (uint8_t)((fin ? NET_TCP_FIN : 0) | (n && n == avail ? NET_TCP_PSH : 0));
    (void)send_segment(c, c->snd_nxt, n, flags, now_ns);
    c->probe = 0;
    if (retransmit) {
      c->stats.retransmits++;
      c->ifc->stats.tcp_retransmits++;
    } else {
      c->stats.bytes_out += n;
      if (!c->rtt_timing) { /* RFC 6298 §3: time one segment per round trip */
        c->rtt_timing = 1;
        c->rtt_seq = c->snd_nxt + (uint32_t)n + (uint32_t)fin;
        c->rtt_start = now_ns;
      }
    }
    c->snd_nxt += (uint32_t)n + (uint32_t)fin;
    if (net_tcp_seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    if (fin) {
      if (c->state == NET_TCP_ESTABLISHED)
        c->state = NET_TCP_FIN_WAIT_1;
      else if (c->state == NET_TCP_CLOSE_WAIT)
        c->state = NET_TCP_LAST_ACK;
    }
    /* RFC 6298 §5.1: the timer runs whenever data is outstanding. */
    if (c->rto_at == EMU_TIME_NEVER) arm_rto(c, now_ns);
    if (fin) break;
  }
  /* Persist: unsent data, nothing in flight, and the peer's window is shut.
   * Probing uses the RTO and its backoff (§3.8.6.1). */
  if (c->rto_at == EMU_TIME_NEVER && c->snd_wnd == 0 &&
      c->slen > (size_t)(c->snd_nxt - c->sbuf_seq))
    arm_rto(c, now_ns);
}

/* ---- state changes ------------------------------------------------------------------------ */

static void enter_closed(net_tcp_conn *c, net_tcp_close_reason why) {
  c->state = NET_TCP_CLOSED;
  c->close_reason = why;
  c->rto_at = c->tw_at = EMU_TIME_NEVER;
  c->events |= NET_TCP_EV_CLOSED;
  if (why == NET_TCP_CLOSED_RESET) c->ifc->stats.tcp_conns_reset++;
}

static void enter_time_wait(net_tcp_conn *c, uint64_t now_ns) {
  c->state = NET_TCP_TIME_WAIT;
  c->rto_at = EMU_TIME_NEVER;
  c->tw_at = now_ns + c->ifc->tcp_cfg.time_wait_ns; /* §3.6: wait 2*MSL */
}

static void enter_established(net_tcp_conn *c) {
  c->state = NET_TCP_ESTABLISHED;
  /* RFC 5681 §3.1: the initial window by SMSS. */
  uint32_t mss = c->snd_mss;
  c->cwnd = mss > 2190 ? 2 * mss : mss > 1095 ? 3 * mss : 4 * mss;
  c->events |= NET_TCP_EV_ESTABLISHED;
  if (c->released) { /* a passive open: the application takes it now */
    c->released = 0;
    c->ifc->stats.tcp_conns_accepted++;
  }
}

/* ---- RTT estimation (RFC 6298 §2) ----------------------------------------------------------- */

static void rtt_sample(net_tcp_conn *c, uint64_t r) {
  const net_tcp_config *cfg = &c->ifc->tcp_cfg;
  if (!c->have_rtt) {
    c->srtt_ns = r; /* §2.2 */
    c->rttvar_ns = r / 2;
    c->have_rtt = 1;
  } else {
    uint64_t diff = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;
    c->rttvar_ns = (3 * c->rttvar_ns + diff) / 4; /* §2.3, beta = 1/4 */
    c->srtt_ns = (7 * c->srtt_ns + r) / 8;        /* alpha = 1/8 */
  }
  /* RTO = SRTT + max(G, 4*RTTVAR); virtual time has 1 ns granularity. */
  uint64_t rto = c->srtt_ns + max_u64(1, 4 * c->rttvar_ns);
  c->rto_ns = min_u64(max_u64(rto, cfg->rto_min_ns), cfg->rto_max_ns); /* §2.4, §2.5 */
}

/* ---- ACK processing (§3.10.7.4 "fifth, check the ACK field") -------------------------------- */

/* Frees acknowledged data and moves snd_una; returns the data bytes newly
 * acknowledged (a SYN or FIN does not count). */
static uint32_t take_ack(net_tcp_conn *c, uint32_t ack) {
  uint32_t acked = 0;
  if (net_tcp_seq_gt(ack, c->sbuf_seq)) {
    size_t data = ack - c->sbuf_seq;
    if (data > c->slen) data = c->slen; /* the rest was our FIN */
    c->shead = (c->shead + data) % c->scap;
    c->slen -= data;
    c->sbuf_seq += (uint32_t)data;
    acked = (uint32_t)data;
    if (data) c->events |= NET_TCP_EV_WRITABLE;
  }
  c->snd_una = ack;
  if (net_tcp_seq_lt(c->snd_nxt, ack)) c->snd_nxt = ack;
  return acked;
}

static void retransmit_first(net_tcp_conn *c, uint64_t now_ns) {
  size_t avail = c->slen;
  size_t n = avail < c->snd_mss ? avail : c->snd_mss;
  int fin = c->fin_queued && n == avail && net_tcp_seq_gt(c->snd_max, c->fin_seq);
  if (n == 0 && !fin) return;
  c->rtt_timing = 0; /* Karn */
  (void)send_segment(c, c->snd_una, n, (uint8_t)(fin ? NET_TCP_FIN : 0), now_ns);
  c->stats.retransmits++;
  c->ifc->stats.tcp_retransmits++;
}

/* A new ACK (snd_una < ack <= snd_max): RTT sample, congestion window,
 * recovery, timer. */
static void on_new_ack(net_tcp_conn *c, uint32_t ack, uint64_t now_ns) {
  uint32_t mss = c->snd_mss;
  if (c->rtt_timing && net_tcp_seq_ge(ack, c->rtt_seq)) {
    c->rtt_timing = 0;
    rtt_sample(c, now_ns - c->rtt_start);
  }
  uint32_t acked = take_ack(c, ack);
  c->backoffs = 0;
  if (c->in_recovery) {
    if (net_tcp_seq_ge(ack, c->recover)) {
      /* RFC 6582 §3.2 step 3: full acknowledgment, deflate the window. */
      c->cwnd = min_u32(c->ssthresh, flight_size(c) + mss);
      c->in_recovery = 0;
    } else {
      /* Step 4, partial acknowledgment: the next hole is lost too. */
      retransmit_first(c, now_ns);
      c->cwnd = c->cwnd > acked ? c->cwnd - acked + mss : mss;
    }
  } else if (c->cwnd < c->ssthresh) {
    c->cwnd += min_u32(acked, mss); /* RFC 5681 §3.1 slow start, eq. (2) */
  } else {
    uint32_t inc = (uint32_t)((uint64_t)mss * mss / c->cwnd); /* eq. (3) */
    c->cwnd += inc ? inc : 1;
  }
  c->dupacks = 0;
  /* RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart. */
  if (c->snd_una == c->snd_max)
    c->rto_at = EMU_TIME_NEVER;
  else
    arm_rto(c, now_ns);
}

/* RFC 5681 §3.2: the third duplicate ACK starts fast retransmit. */
static void on_dup_ack(net_tcp_conn *c, uint64_t now_ns) {
  uint32_t mss = c->snd_mss;
  c->stats.dup_acks++;
  c->dupacks++;
  if (c->in_recovery) {
    c->cwnd += mss; /* step 4: each further duplicate means a segment left the network */
    return;
  }
  if (c->dupacks != 3) return;
  /* RFC 6582 §3.2 step 2: only when this loss is past the last recovery point. */
  if (net_tcp_seq_lt(c->snd_una, c->recover)) return;
  uint32_t half = flight_size(c) / 2;
  c->ssthresh = half > 2 * mss ? half : 2 * mss; /* eq. (4) */
  c->recover = c->snd_max;
  c->in_recovery = 1;
  c->stats.fast_retransmits++;
  c->ifc->stats.tcp_fast_retransmits++;
  retransmit_first(c, now_ns);
  c->cwnd = c->ssthresh + 3 * mss;
  arm_rto(c, now_ns);
}

/* ---- receiving data (§3.10.7.4 "seventh, process the segment text") ------------------------ */

static void rbuf_write(net_tcp_conn *c, size_t off, const uint8_t *data, size_t len) {
  size_t pos = (c->rhead + c->rlen + off) % c->rcap;
  size_t first = c->rcap - pos < len ? c->rcap - pos : len;
  memcpy(c->rbuf + pos, data, first);
  memcpy(c->rbuf, data + first, len - first);
}

/* Records [start, end) as held out of order; merges neighbours. Returns 0
 * when there is no free range slot (the data is then not kept). */
static int ooo_add(net_tcp_conn *c, uint32_t start, uint32_t end) {
  size_t i = 0;
  while (i < c->nooo && net_tcp_seq_lt(c->ooo[i].end, start)) i++;
  if (i < c->nooo && net_tcp_seq_le(c->ooo[i].start, end)) {
    /* overlaps or touches range i: widen it, then swallow followers */
    if (net_tcp_seq_lt(start, c->ooo[i].start)) c->ooo[i].start = start;
    if (net_tcp_seq_gt(end, c->ooo[i].end)) c->ooo[i].end = end;
    while (i + 1 < c->nooo && net_tcp_seq_le(c->ooo[i + 1].start, c->ooo[i].end)) {
      if (net_tcp_seq_gt(c->ooo[i + 1].end, c->ooo[i].end)) c->ooo[i].end = c->ooo[i + 1].end;
      memmove(&c->ooo[i + 1], &c->ooo[i + 2], (c->nooo - i - 2) * sizeof c->ooo[0]);
      c->nooo--;
    }
    return 1;
  }
  if (c->nooo == NET_TCP_OOO_RANGES) return 0;
  memmove(&c->ooo[i + 1], &c->ooo[i], (c->nooo - i) * sizeof c->ooo[0]);
  c->ooo[i].start = start;
  c->ooo[i].end = end;
  c->nooo++;
  return 1;
}

/* Takes the in-window part [seq, seq+len) of a segment's data. */
static void take_data(net_tcp_conn *c, uint32_t seq, const uint8_t *data, size_t len) {
  if (len == 0) return;
  if (seq == c->rcv_nxt) {
    rbuf_write(c, 0, data, len);
    c->rlen += len;
    c->rcv_nxt += (uint32_t)len;
    c->stats.bytes_in += len;
    /* Held ranges that now touch rcv_nxt become in-order data. */
    while (c->nooo && net_tcp_seq_le(c->ooo[0].start, c->rcv_nxt)) {
      if (net_tcp_seq_gt(c->ooo[0].end, c->rcv_nxt)) {
        uint32_t more = c->ooo[0].end - c->rcv_nxt;
        c->rlen += more;
        c->rcv_nxt += more;
        c->stats.bytes_in += more;
      }
      memmove(&c->ooo[0], &c->ooo[1], (c->nooo - 1) * sizeof c->ooo[0]);
      c->nooo--;
    }
    if (c->released) { /* nobody will read: acknowledge and discard */
      c->rhead = (c->rhead + c->rlen) % c->rcap;
      c->rlen = 0;
    } else {
      c->events |= NET_TCP_EV_READABLE;
    }
  } else if (ooo_add(c, seq, seq + (uint32_t)len)) {
    rbuf_write(c, seq - c->rcv_nxt, data, len);
    c->stats.ooo_segments++;
  }
}

/* ---- segment arrival ------------------------------------------------------------------------ */

/* §3.10.7.4 "first, check sequence number": the four acceptability cases. */
static int seq_acceptable(const net_tcp_conn *c, uint32_t seq, uint32_t seg_len) {
  uint32_t wnd = rcv_wnd(c);
  /* A segment may reach up to the edge we advertised even if the window
   * we would compute now is smaller. */
  uint32_t edge = c->rcv_nxt + wnd;
  if (net_tcp_seq_gt(c->rcv_adv, edge)) edge = c->rcv_adv;
  wnd = edge - c->rcv_nxt;
  if (seg_len == 0) {
    if (wnd == 0) return seq == c->rcv_nxt;
    return net_tcp_seq_le(c->rcv_nxt, seq) && net_tcp_seq_lt(seq, edge);
  }
  if (wnd == 0) return 0;
  uint32_t last = seq + seg_len - 1;
  return (net_tcp_seq_le(c->rcv_nxt, seq) && net_tcp_seq_lt(seq, edge)) ||
         (net_tcp_seq_le(c->rcv_nxt, last) && net_tcp_seq_lt(last, edge));
}

/* §3.10.7.3 SYN-SENT: the answer to our SYN, or the peer's own SYN. */
static emu_fate input_syn_sent(net_tcp_conn *c, const net_tcp_repr *s, size_t seg_len,
                               uint64_t now_ns) {
  int ack_ok = 0;
  if (s->flags & NET_TCP_ACK) {
    /* §3.10.7.3: an ACK outside (ISS, SND.NXT] gets a RST (unless it is one). */
    if (net_tcp_seq_le(s->ack, c->iss) || net_tcp_seq_gt(s->ack, c->snd_max)) {
      send_rst_for(c->ifc, c->remote_ip, s, seg_len, now_ns);
      return EMU_FATE_REJECTED;
    }
    ack_ok = 1;
  }
  if (s->flags & NET_TCP_RST) {
    if (!ack_ok) return EMU_FATE_REJECTED;
    enter_closed(c, NET_TCP_CLOSED_RESET); /* "connection refused" */
    return EMU_FATE_DELIVERED;
  }
  if (!(s->flags & NET_TCP_SYN)) return EMU_FATE_REJECTED;
  c->irs = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->rcv_adv = c->rcv_nxt + rcv_wnd(c);
  c->snd_mss = (uint16_t)min_u32(s->mss ? s->mss : NET_TCP_DEFAULT_MSS, c->ifc->tcp_cfg.mss);
  c->snd_wnd = s->window;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  if (ack_ok) {
    if (c->rtt_timing) { /* the SYN's round trip is the first sample */
      c->rtt_timing = 0;
      rtt_sample(c, now_ns - c->rtt_start);
    }
    take_ack(c, s->ack);
    c->rto_at = EMU_TIME_NEVER;
    c->backoffs = 0;
    enter_established(c);
    c->ack_pending = 1;
    /* Data on the SYN-ACK is not taken; the peer sends it again. */
    return EMU_FATE_DELIVERED;
  }
  /* Simultaneous open (§3.5 figure 8): answer with SYN,ACK from our ISS. */
  c->state = NET_TCP_SYN_RECEIVED;
  c->snd_nxt = c->iss;
  c->rtt_timing = 0;
  tcp_output(c, now_ns);
  return EMU_FATE_DELIVERED;
}

/* A segment for a connection past SYN-SENT, as the steps of §3.10.7.4 see
 * it. After the first step it is the "idealized segment" that begins at
 * RCV.NXT and does not exceed the window; s stays as it was received. */
typedef struct tcp_seg {
  const net_tcp_repr *s;
  uint32_t seq;
  const uint8_t *data;
  size_t len;
  int fin;
  uint32_t seg_len; /* SEG.LEN as received; 0 when only the ACK field is taken */
  int refused;      /* the zero-window allowance dropped its data or FIN */
} tcp_seg;

/* What a step returns when it has not decided the segment's fate: the next
 * step runs. */
#define TCP_SEG_NEXT_STEP EMU_FATE_PENDING

/* With a zero window nothing is acceptable, "but special allowance should be
 * made to accept valid ACKs" (§3.10.7.4): the peer's pure ACK after a probe
 * byte has SEQ = RCV.NXT + 1. Without this two stacks that both shut their
 * windows deadlock. */
static int tcp_seg_zero_window_ack(const net_tcp_conn *c, const tcp_seg *g) {
  const net_tcp_repr *s = g->s;
  return rcv_wnd(c) == 0 && (s->flags & NET_TCP_ACK) && !(s->flags & (NET_TCP_RST | NET_TCP_SYN)) &&
         net_tcp_seq_ge(g->seq, c->rcv_nxt) && net_tcp_seq_le(g->seq, c->rcv_nxt + 1);
}

/* Trims an acceptable segment to the window: drops what we already have,
 * then what does not fit. */
static void tcp_seg_trim(const net_tcp_conn *c, tcp_seg *g) {
  if (g->s->flags & NET_TCP_SYN) g->seq++; /* only a SYN at irs is acceptable, and it is old */
  if (net_tcp_seq_lt(g->seq, c->rcv_nxt)) {
    uint32_t dup = c->rcv_nxt - g->seq;
    if (dup > g->len) dup = (uint32_t)g->len;
    g->data += dup;
    g->len -= dup;
    g->seq += dup;
  }
  uint32_t room = rcv_wnd(c) - (g->seq - c->rcv_nxt);
  if (net_tcp_seq_gt(g->seq, c->rcv_nxt + rcv_wnd(c))) room = 0;
  if (g->len > room) {
    g->len = room;
    g->fin = 0; /* the FIN lies beyond what we keep */
  }
}

/* §3.10.7.4 "first, check sequence number" */
static emu_fate tcp_seg_check_sequence(net_tcp_conn *c, tcp_seg *g, uint64_t now_ns) {
  if (!seq_acceptable(c, g->seq, g->seg_len)) {
    if (!tcp_seg_zero_window_ack(c, g)) {
      /* An unacceptable segment gets an ACK (unless it is a RST) and is
       * dropped. In TIME-WAIT that ACK answers a repeated FIN, and the
       * 2*MSL wait starts again (§3.10.7.4 eighth). */
      if (!(g->s->flags & NET_TCP_RST)) {
        c->ack_pending = 1;
        if (c->state == NET_TCP_TIME_WAIT && g->fin) enter_time_wait(c, now_ns);
      }
      c->stats.rejected++;
      return EMU_FATE_REJECTED;
    }
    /* Take the ACK field, drop data and FIN, answer with our (zero) window. */
    g->refused = g->len > 0 || g->fin;
    g->len = 0;
    g->fin = 0;
    g->seg_len = 0;
    g->seq = c->rcv_nxt;
    c->ack_pending = 1;
  }
  tcp_seg_trim(c, g);
  return TCP_SEG_NEXT_STEP;
}

/* §3.10.7.4 "second, check the RST bit", as RFC 5961 §3.2 narrows it: only
 * an exact match resets; another in-window RST gets a challenge ACK. */
static emu_fate tcp_seg_check_rst(net_tcp_conn *c, const tcp_seg *g) {
  const net_tcp_repr *s = g->s;
  if (!(s->flags & NET_TCP_RST)) return TCP_SEG_NEXT_STEP;
  /* RFC 1337 §3: a RST in TIME-WAIT is ignored, so that a stray one (an
   * answer to a duplicated final ACK, say) cannot cut the wait short. */
  if (c->state == NET_TCP_TIME_WAIT) {
    c->stats.rejected++;
    return EMU_FATE_REJECTED;
  }
  if (s->seq != c->rcv_nxt) {
    c->ack_pending = 1;
    c->stats.rejected++;
    return EMU_FATE_REJECTED;
  }
  enter_closed(c, NET_TCP_CLOSED_RESET);
  return EMU_FATE_DELIVERED;
}

/* §3.10.7.4 "fourth, check the SYN bit": a SYN in a synchronized state gets
 * a challenge ACK (RFC 5961 §4). */
static emu_fate tcp_seg_check_syn(net_tcp_conn *c, const tcp_seg *g) {
  if (!(g->s->flags & NET_TCP_SYN)) return TCP_SEG_NEXT_STEP;
  c->ack_pending = 1;
  c->stats.rejected++;
  return EMU_FATE_REJECTED;
}

/* The fifth step for an acceptable ACK (SND.UNA <= SEG.ACK <= SND.MAX): a
 * new or duplicate ACK, then the send window update (§3.10.7.4 "If SND.UNA
 * =< SEG.ACK =< SND.NXT, the send window should be updated"). */
static void tcp_seg_take_ack(net_tcp_conn *c, const net_tcp_repr *s, uint64_t now_ns) {
  uint32_t ack = s->ack;
  uint32_t old_wnd = c->snd_wnd;
  int window_update = net_tcp_seq_lt(c->snd_wl1, s->seq) ||
                      (c->snd_wl1 == s->seq && net_tcp_seq_le(c->snd_wl2, ack));
  if (net_tcp_seq_gt(ack, c->snd_una)) {
    on_new_ack(c, ack, now_ns);
  } else if (ack == c->snd_una && c->snd_una != c->snd_max && s->payload_len == 0 &&
             !(s->flags & (NET_TCP_SYN | NET_TCP_FIN)) && s->window == old_wnd &&
             old_wnd != 0 /* answers to zero-window probes are not losses */) {
    on_dup_ack(c, now_ns); /* RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT" */
  }
  if (window_update && net_tcp_seq_ge(ack, c->snd_una)) {
    c->snd_wnd = s->window;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = ack;
    if (c->snd_wnd > old_wnd) c->events |= NET_TCP_EV_WRITABLE;
  }
}

/* The fifth step's per-state part once our FIN is acknowledged: FIN-WAIT-1
 * goes to FIN-WAIT-2, CLOSING to TIME-WAIT, LAST-ACK to CLOSED (which ends
 * the segment's processing). */
static emu_fate tcp_seg_fin_acked(net_tcp_conn *c, uint64_t now_ns) {
  if (!c->fin_queued || !net_tcp_seq_gt(c->snd_una, c->fin_seq)) return TCP_SEG_NEXT_STEP;
  switch (c->state) {
    case NET_TCP_FIN_WAIT_1:
      c->state = NET_TCP_FIN_WAIT_2;
      break;
    case NET_TCP_CLOSING:
      enter_time_wait(c, now_ns);
      break;
    case NET_TCP_LAST_ACK:
      enter_closed(c, NET_TCP_CLOSED_NORMAL);
      return EMU_FATE_DELIVERED;
    default:
      break;
  }
  return TCP_SEG_NEXT_STEP;
}

/* §3.10.7.4 "fifth, check the ACK field" */
static emu_fate tcp_seg_check_ack(net_tcp_conn *c, const tcp_seg *g, uint64_t now_ns) {
  const net_tcp_repr *s = g->s;
  if (!(s->flags & NET_TCP_ACK)) {
    c->stats.rejected++;
    return EMU_FATE_REJECTED;
  }
  uint32_t ack = s->ack;
  if (c->state == NET_TCP_SYN_RECEIVED) {
    if (net_tcp_seq_le(ack, c->snd_una) || net_tcp_seq_gt(ack, c->snd_max)) {
      send_rst_for(c->ifc, c->remote_ip, s, g->seg_len, now_ns);
      c->stats.rejected++;
      return EMU_FATE_REJECTED;
    }
    c->snd_wnd = s->window;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = ack;
    enter_established(c);
  }
  if (net_tcp_seq_gt(ack, c->snd_max)) {
    /* It acknowledges something not yet sent: ACK and drop. */
    c->ack_pending = 1;
    c->stats.rejected++;
    return EMU_FATE_REJECTED;
  }
  tcp_seg_take_ack(c, s, now_ns);
  return tcp_seg_fin_acked(c, now_ns);
}

/* The states that still take the peer's data and FIN. */
static int tcp_receives_text(const net_tcp_conn *c) {
  return c->state == NET_TCP_ESTABLISHED || c->state == NET_TCP_FIN_WAIT_1 ||
         c->state == NET_TCP_FIN_WAIT_2;
}

/* §3.10.7.4 "seventh, process the segment text" */
static void tcp_seg_process_text(net_tcp_conn *c, const tcp_seg *g) {
  if (!tcp_receives_text(c) || g->len == 0) return;
  take_data(c, g->seq, g->data, g->len);
  /* Every segment with data is acknowledged at once: an out-of-order one so
   * the sender sees a duplicate ACK (RFC 5681 §4.2). */
  c->ack_pending = 1;
}

/* §3.10.7.4 "eighth, check the FIN bit": taken only when everything before
 * it has arrived. */
static void tcp_seg_check_fin(net_tcp_conn *c, const tcp_seg *g, uint64_t now_ns) {
  if (!g->fin) return;
  if (tcp_receives_text(c) && g->seq + (uint32_t)g->len == c->rcv_nxt) {
    c->rcv_nxt++;
    c->fin_rcvd = 1;
    c->ack_pending = 1;
    c->events |= NET_TCP_EV_PEER_CLOSED;
    if (c->state == NET_TCP_ESTABLISHED) {
      c->state = NET_TCP_CLOSE_WAIT;
    } else if (c->state == NET_TCP_FIN_WAIT_1) {
      if (net_tcp_seq_gt(c->snd_una, c->fin_seq))
        enter_time_wait(c, now_ns);
      else
        c->state = NET_TCP_CLOSING; /* simultaneous close (§3.6 figure 13) */
    } else {
      enter_time_wait(c, now_ns);
    }
  } else if (c->state == NET_TCP_TIME_WAIT) {
    c->ack_pending = 1;
    enter_time_wait(c, now_ns);
  }
}

/* A segment for a connection past SYN-SENT: the steps of §3.10.7.4 in the
 * RFC's order, each either deciding the segment's fate or passing it on. */
static emu_fate input_synchronized(net_tcp_conn *c, const net_tcp_repr *s, uint64_t now_ns) {
  int syn = (s->flags & NET_TCP_SYN) != 0, fin = (s->flags & NET_TCP_FIN) != 0;
  /* Our SYN,ACK was lost and the peer repeats its SYN: answer it again. */
  if (c->state == NET_TCP_SYN_RECEIVED && syn && !(s->flags & NET_TCP_ACK) && s->seq == c->irs) {
    c->snd_nxt = c->iss;
    tcp_output(c, now_ns);
    return EMU_FATE_DELIVERED;
  }
  tcp_seg g = {
      .s = s,
      .seq = s->seq,
      .data = s->payload,
      .len = s->payload_len,
      .fin = fin,
      .seg_len = (uint32_t)s->payload_len + (uint32_t)syn + (uint32_t)fin,
  };
  emu_fate fate = tcp_seg_check_sequence(c, &g, now_ns);
  if (fate == TCP_SEG_NEXT_STEP) fate = tcp_seg_check_rst(c, &g);
  /* third, check security: there are no security compartments here */
  if (fate == TCP_SEG_NEXT_STEP) fate = tcp_seg_check_syn(c, &g);
  if (fate == TCP_SEG_NEXT_STEP) fate = tcp_seg_check_ack(c, &g, now_ns);
  if (fate != TCP_SEG_NEXT_STEP) return fate;
  /* sixth, check the URG bit: urgent data is not implemented (tcp.h) */
  tcp_seg_process_text(c, &g);
  tcp_seg_check_fin(c, &g, now_ns);
  if (g.refused) {
    c->stats.rejected++;
    return EMU_FATE_REJECTED;
  }
  return EMU_FATE_DELIVERED;
}

/* Calls the application for what happened; the callback may send, read,
 * close or release. */
static void dispatch(net_tcp_conn *c, uint64_t now_ns) {
  for (int round = 0; round < 4 && c->events && !c->released; round++) {
    unsigned ev = c->events;
    c->events = 0;
    if (c->fn) c->fn(c->ctx, c, ev, now_ns);
  }
  c->events = 0;
}

/* After an input or a timer: data the ACK clock allows, the pending ACK, the
 * application's callback (which may send more), then anything still owed. */
static void finish(net_tcp_conn *c, uint64_t now_ns) {
  if (c->state != NET_TCP_CLOSED) tcp_output(c, now_ns);
  dispatch(c, now_ns);
  if (c->state == NET_TCP_CLOSED || !c->ack_pending) {
    c->ack_pending = 0;
    return;
  }
  send_ack_when_ready(c, now_ns);
  if (!c->tx_blocked) c->ack_pending = 0; /* sent, or refused: lost as on a wire */
}

/* RFC 9293 §3.10.7.4 (and RFC 6191): a new SYN for a 4-tuple in TIME-WAIT,
 * past everything the old connection received, may open a new connection
 * at once, as the clients of a busy server reuse their ports. */
static int syn_ends_time_wait(const net_tcp_conn *c, const net_tcp_repr *s) {
  return c->state == NET_TCP_TIME_WAIT && c->released && (s->flags & NET_TCP_SYN) &&
         !(s->flags & (NET_TCP_ACK | NET_TCP_RST)) && net_tcp_seq_gt(s->seq, c->rcv_nxt);
}

static emu_fate input_listen(net_iface *ifc, struct net_tcp_listener *l, uint32_t src,
                             const net_tcp_repr *s, size_t seg_len, uint64_t now_ns) {
  /* §3.10.7.2: ignore a RST, answer an ACK with a RST, take a SYN. */
  if (s->flags & NET_TCP_RST) return EMU_FATE_REJECTED;
  if (s->flags & NET_TCP_ACK) {
    send_rst_for(ifc, src, s, seg_len, now_ns);
    return EMU_FATE_REJECTED;
  }
  if (!(s->flags & NET_TCP_SYN)) return EMU_FATE_REJECTED;
  net_tcp_conn *c = conn_new(ifc, src, s->src_port, s->dst_port);
  if (!c) return EMU_FATE_SOCKET_FULL;
  c->released = 1; /* the stack's until the handshake completes */
  c->fn = l->fn;
  c->ctx = l->ctx;
  c->state = NET_TCP_SYN_RECEIVED;
  c->irs = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->rcv_adv = c->rcv_nxt + rcv_wnd(c);
  c->snd_mss = (uint16_t)min_u32(s->mss ? s->mss : NET_TCP_DEFAULT_MSS, ifc->tcp_cfg.mss);
  c->snd_wnd = s->window;
  c->snd_wl1 = s->seq;
  c->recover = c->iss;
  c->stats.segs_in++;
  tcp_output(c, now_ns); /* SYN,ACK */
  return EMU_FATE_DELIVERED;
}

emu_fate net_tcp_input(net_iface *ifc, const uint8_t *ip_pkt, uint64_t now_ns) {
  const uint8_t *seg = net_ipv4_payload(ip_pkt);
  size_t seg_len = net_ipv4_payload_len(ip_pkt);
  net_tcp_repr s;
  if (net_tcp_parse(seg, seg_len, &s) != 0) return EMU_FATE_MALFORMED;
  uint32_t src = net_ipv4_src(ip_pkt), dst = net_ipv4_dst(ip_pkt);
  if (!net_tcp_checksum_ok(seg, seg_len, src, dst)) return EMU_FATE_BAD_CHECKSUM;
  /* RFC 1122 §4.2.3.10: TCP is unicast only; a SYN to a broadcast address
   * MUST be ignored, and so is everything else sent there. */
  if (dst != ifc->cfg.ip) return EMU_FATE_UNSUPPORTED;
  uint32_t l4_seq_len =
      (uint32_t)s.payload_len + !!(s.flags & NET_TCP_SYN) + !!(s.flags & NET_TCP_FIN);
  uint64_t out_before = ifc->stats.tcp_segs_out;
  emu_fate fate;
  net_tcp_conn *c = conn_find(ifc, src, s.src_port, s.dst_port);
  if (c && syn_ends_time_wait(c, &s)) {
    enter_closed(c, NET_TCP_CLOSED_NORMAL);
    sweep(ifc);
    c = NULL; /* the listener takes the SYN */
  }
  if (c) {
    ifc->stats.tcp_segs_in++;
    c->stats.segs_in++;
    if (c->state == NET_TCP_SYN_SENT)
      fate = input_syn_sent(c, &s, l4_seq_len, now_ns);
    else
      fate = input_synchronized(c, &s, now_ns);
    finish(c, now_ns);
  } else {
    struct net_tcp_listener *l = s.dst_port ? listener_find(ifc, s.dst_port) : NULL;
    if (l) {
      ifc->stats.tcp_segs_in++;
      fate = input_listen(ifc, l, src, &s, l4_seq_len, now_ns);
    } else {
      /* §3.10.7.1: CLOSED. Everything is dropped; anything but a RST is
       * answered with a RST. */
      send_rst_for(ifc, src, &s, l4_seq_len, now_ns);
      fate = EMU_FATE_NO_LISTENER;
    }
  }
  sweep(ifc);
  /* Accepted and replied to: the conversation went on because of it. */
  if (fate == EMU_FATE_DELIVERED && ifc->stats.tcp_segs_out != out_before) fate = EMU_FATE_ANSWERED;
  return fate;
}

/* ---- timers ---------------------------------------------------------------------------------- */

/* RFC 6298 §5.4-5.7 and RFC 5681 §3.1 on a retransmission timeout. */
static void on_rto(net_tcp_conn *c, uint64_t now_ns) {
  const net_tcp_config *cfg = &c->ifc->tcp_cfg;
  c->rto_at = EMU_TIME_NEVER;
  /* A shut window is not a loss: probe it (§3.8.6.1) with the backed-off
   * timer, for as long as the peer keeps answering with its zero window. */
  int persist = c->snd_wnd == 0 && can_send_data(c);
  if (!persist && ++c->backoffs > cfg->max_retries) {
    if (c->state != NET_TCP_SYN_SENT) {
      net_tcp_repr fake = {.src_port = c->remote_port,
                           .dst_port = c->local_port,
                           .flags = NET_TCP_ACK,
                           .ack = c->snd_nxt};
      send_rst_for(c->ifc, c->remote_ip, &fake, 0, now_ns);
    }
    enter_closed(c, NET_TCP_CLOSED_TIMEOUT);
    return;
  }
  c->rto_ns = min_u64(c->rto_ns * 2, cfg->rto_max_ns); /* §5.5: back off */
  if (persist) {
    c->probe = 1;
    c->rtt_timing = 0;
    c->snd_nxt = c->snd_una; /* the probe byte is the first unacknowledged one */
    tcp_output(c, now_ns);
    if (c->rto_at == EMU_TIME_NEVER) arm_rto(c, now_ns);
    return;
  }
  c->stats.timeouts++;
  c->ifc->stats.tcp_timeouts++;
  if (c->state != NET_TCP_SYN_SENT && c->state != NET_TCP_SYN_RECEIVED) {
    if (c->backoffs == 1) { /* eq. (4), once per loss */
      uint32_t half = flight_size(c) / 2;
      c->ssthresh = half > 2u * c->snd_mss ? half : 2u * c->snd_mss;
    }
    c->cwnd = c->snd_mss; /* the loss window */
  }
  c->in_recovery = 0;
  c->recover = c->snd_max;
  c->dupacks = 0;
  c->rtt_timing = 0;       /* Karn: no sample from a retransmitted segment */
  c->snd_nxt = c->snd_una; /* go back and resend from the first hole */
  if (c->state == NET_TCP_SYN_SENT || c->state == NET_TCP_SYN_RECEIVED) c->snd_nxt = c->iss;
  tcp_output(c, now_ns);
  arm_rto(c, now_ns); /* §5.6 */
}

void net_tcp_poll(net_iface *ifc, uint64_t now_ns) {
  for (net_tcp_conn *c = ifc->tcp_conns; c; c = c->next) {
    if (c->state == NET_TCP_CLOSED) continue;
    if (c->tw_at <= now_ns) {
      enter_closed(c, NET_TCP_CLOSED_NORMAL);
    } else if (c->rto_at <= now_ns) {
      on_rto(c, now_ns);
    } else if (c->tx_blocked && emu_port_ready(ifc->port)) {
      c->tx_blocked = 0; /* finish() sends what waited */
    } else {
      continue;
    }
    finish(c, now_ns);
  }
  sweep(ifc);
}

uint64_t net_tcp_poll_at(const net_iface *ifc) {
  uint64_t at = EMU_TIME_NEVER;
  for (const net_tcp_conn *c = ifc->tcp_conns; c; c = c->next) {
    if (c->state == NET_TCP_CLOSED) continue;
    at = min_u64(at, min_u64(c->rto_at, c->tw_at));
  }
  return at;
}

/* ---- the application's side ------------------------------------------------------------------ */

int net_tcp_listen(net_iface *ifc, uint16_t port, net_tcp_event_fn fn, void *ctx) {
  if (!ifc || port == 0 || !fn) return EMU_EINVAL;
  if (listener_find(ifc, port)) return EMU_ESTATE;
  struct net_tcp_listener *l = listener_find(ifc, 0);
  if (!l) return EMU_ENOSPC;
  l->port = port;
  l->fn = fn;
  l->ctx = ctx;
  return 0;
}

int net_tcp_unlisten(net_iface *ifc, uint16_t port) {
  struct net_tcp_listener *l = port ? listener_find(ifc, port) : NULL;
  if (!l) return EMU_EINVAL;
  memset(l, 0, sizeof *l);
  return 0;
}

int net_tcp_connect(net_iface *ifc, uint32_t dst_ip, uint16_t dst_port, uint16_t src_port,
                    uint64_t now_ns, net_tcp_conn **out) {
  if (!ifc || !out || dst_port == 0 || dst_ip == 0 || dst_ip == ifc->cfg.ip ||
      net_iface_is_broadcast(ifc, dst_ip) || (dst_ip >> 28) == 0xe)
    return EMU_EINVAL;
  if (src_port == 0) {
    /* The dynamic range, round robin, so that a new connection does not
     * reuse the port of one that just ended (its segments may linger). */
    for (uint32_t tries = 0; tries < 65536 - NET_TCP_EPHEMERAL_FIRST; tries++) {
      uint16_t p = ifc->next_ephemeral;
      ifc->next_ephemeral = p == 0xffff ? NET_TCP_EPHEMERAL_FIRST : (uint16_t)(p + 1);
      if (!port_in_use(ifc, p)) {
        src_port = p;
        break;
      }
    }
    if (src_port == 0) return EMU_ENOSPC;
  } else if (conn_find(ifc, dst_ip, dst_port, src_port)) {
    return EMU_ESTATE;
  }
  if (ifc->tcp_nconns >= ifc->tcp_cfg.max_conns && !recycle_time_wait(ifc)) return EMU_ENOSPC;
  net_tcp_conn *c = conn_new(ifc, dst_ip, dst_port, src_port);
  if (!c) return EMU_ENOMEM;
  c->state = NET_TCP_SYN_SENT;
  c->recover = c->iss;
  ifc->stats.tcp_conns_opened++;
  tcp_output(c, now_ns); /* SYN */
  *out = c;
  return 0;
}

void net_tcp_set_handler(net_tcp_conn *c, net_tcp_event_fn fn, void *ctx) {
  c->fn = fn;
  c->ctx = ctx;
}

int net_tcp_send(net_tcp_conn *c, const uint8_t *data, size_t len, uint64_t now_ns) {
  switch (c->state) {
    case NET_TCP_SYN_SENT:
    case NET_TCP_SYN_RECEIVED:
    case NET_TCP_ESTABLISHED:
    case NET_TCP_CLOSE_WAIT:
      break;
    default:
      return EMU_ESTATE;
  }
  if (c->fin_queued) return EMU_ESTATE;
  size_t room = c->scap - c->slen;
  size_t n = len < room ? len : room;
  if (n > INT32_MAX) n = INT32_MAX;
  size_t pos = (c->shead + c->slen) % c->scap;
  size_t first = c->scap - pos < n ? c->scap - pos : n;
  memcpy(c->sbuf + pos, data, first);
  memcpy(c->sbuf, data + first, n - first);
  c->slen += n;
  tcp_output(c, now_ns);
  return (int)n;
}

size_t net_tcp_peek(const net_tcp_conn *c, uint8_t *buf, size_t cap) {
  size_t n = c->rlen < cap ? c->rlen : cap;
  size_t first = c->rcap - c->rhead < n ? c->rcap - c->rhead : n;
  memcpy(buf, c->rbuf + c->rhead, first);
  memcpy(buf + first, c->rbuf, n - first);
  return n;
}

int net_tcp_recv(net_tcp_conn *c, uint8_t *buf, size_t cap, uint64_t now_ns) {
  if (c->rlen == 0) {
    if (c->fin_rcvd) return 0;
    if (c->state == NET_TCP_CLOSED) return EMU_ESTATE;
    return EMU_EAGAIN;
  }
  size_t n = c->rlen < cap ? c->rlen : cap;
  if (n > INT32_MAX) n = INT32_MAX;
  if (buf) {
    size_t first = c->rcap - c->rhead < n ? c->rcap - c->rhead : n;
    memcpy(buf, c->rbuf + c->rhead, first);
    memcpy(buf + first, c->rbuf, n - first);
  }
  c->rhead = (c->rhead + n) % c->rcap;
  c->rlen -= n;
  /* §3.8.6.2.2: announce the opened window once it grew by min(RCV.BUFF/2,
   * Eff.snd.MSS) beyond what the peer was last told. */
  if (c->state != NET_TCP_CLOSED && c->state != NET_TCP_SYN_SENT && !c->fin_rcvd) {
    uint32_t edge = c->rcv_nxt + rcv_wnd(c);
    uint32_t grown = net_tcp_seq_gt(edge, c->rcv_adv) ? edge - c->rcv_adv : 0;
    uint32_t threshold = min_u32((uint32_t)(c->rcap / 2), c->ifc->tcp_cfg.mss);
    if (grown >= threshold) send_ack_when_ready(c, now_ns);
  }
  return (int)n;
}

size_t net_tcp_send_space(const net_tcp_conn *c) { return c->scap - c->slen; }

int net_tcp_close(net_tcp_conn *c, uint64_t now_ns) {
  switch (c->state) {
    case NET_TCP_SYN_SENT:
      enter_closed(c, NET_TCP_CLOSED_ABORTED);
      c->events = 0;
      return 0;
    case NET_TCP_SYN_RECEIVED:
    case NET_TCP_ESTABLISHED:
    case NET_TCP_CLOSE_WAIT:
      if (c->fin_queued) return EMU_ESTATE;
      c->fin_queued = 1;
      c->fin_seq = c->sbuf_seq + (uint32_t)c->slen;
      tcp_output(c, now_ns);
      return 0;
    default:
      return EMU_ESTATE;
  }
}

void net_tcp_abort(net_tcp_conn *c, uint64_t now_ns) {
  if (c->state == NET_TCP_CLOSED) return;
  if (c->state != NET_TCP_SYN_SENT) {
    /* §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> */
    net_tcp_repr fake = {.src_port = c->remote_port,
                         .dst_port = c->local_port,
                         .flags = NET_TCP_ACK,
                         .ack = c->snd_nxt};
    send_rst_for(c->ifc, c->remote_ip, &fake, 0, now_ns);
  }
  enter_closed(c, NET_TCP_CLOSED_ABORTED);
  c->events = 0;
}

void net_tcp_release(net_tcp_conn *c, uint64_t now_ns) {
  if (!c || c->released) return;
  if (c->state != NET_TCP_CLOSED && !c->fin_queued) (void)net_tcp_close(c, now_ns);
  c->released = 1;
  c->events = 0;
  /* Unread data will never be read: let it go so the window reopens. */
  c->rhead = (c->rhead + c->rlen) % c->rcap;
  c->rlen = 0;
  /* A closed connection is freed at the next input or poll. */
}

net_tcp_state net_tcp_get_state(const net_tcp_conn *c) { return c->state; }

void net_tcp_get_info(const net_tcp_conn *c, net_tcp_info *out) {
  memset(out, 0, sizeof *out);
  out->state = c->state;
  out->close_reason = c->close_reason;
  out->local_ip = c->local_ip;
  out->remote_ip = c->remote_ip;
  out->local_port = c->local_port;
  out->remote_port = c->remote_port;
  out->iss = c->iss;
  out->irs = c->irs;
  out->snd_una = c->snd_una;
  out->snd_nxt = c->snd_nxt;
  out->rcv_nxt = c->rcv_nxt;
  out->snd_wnd = c->snd_wnd;
  out->rcv_wnd = rcv_wnd(c);
  out->cwnd = c->cwnd;
  out->ssthresh = c->ssthresh;
  out->snd_mss = c->snd_mss;
  out->srtt_ns = c->srtt_ns;
  out->rttvar_ns = c->rttvar_ns;
  out->rto_ns = c->rto_ns;
  out->send_queued = c->slen;
  out->recv_ready = c->rlen;
  out->stats = c->stats;
}
