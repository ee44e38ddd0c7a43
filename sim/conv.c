#include "sim/conv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "stack/tcp.h"
#include "stack/wire.h"

/* A client segment waiting to leave: its ledger id, its place among the
 * captured frames, since when it waits, and its bytes. */
typedef struct scn_conv_held {
  struct scn_conv_held *next;
  uint32_t id;
  uint64_t k;
  uint64_t since_ns;
  size_t len;
  uint8_t data[];
} scn_conv_held;

typedef struct scn_conv {
  scn_conv_report r;
  uint32_t client_isn, client_nxt, client_data_end;
  /* window scale shifts (RFC 7323 §2): the client's SYN offered one, the
   * recorded server's SYN-ACK and the guest's took it or not (-1) */
  int client_ws, rec_ws, guest_ws;
  int rec_syn_ack; /* the capture holds the recorded server's SYN-ACK */
  int rec_isn_known, guest_isn_known, guest_acked_known;
  uint32_t rec_isn, guest_isn, guest_nxt, guest_acked;
  scn_conv_held *head, *tail;
  int superseded;   /* a later SYN of the same ports started another conversation */
  uint32_t wire_ip; /* the client's address as the guest sees it (the host's, when mapped) */
  /* the side running ahead in the comparison (cmp_guest: the guest), and
   * its segments not compared yet */
  scn_conv_seg cmp[SCN_CONV_CMP_MAX];
  unsigned cmp_first, cmp_n;
  int cmp_guest;
} scn_conv;

struct scn_conv_player {
  scn_conv *convs;
  size_t n, cap;
  uint64_t over_limit;
  size_t held_bytes;
};

/* The flags a comparison looks at: those that change a connection's state
 * (RFC 9293 §3.1); PSH is a sender's choice. */
#define SCN_CONV_CMP_FLAGS (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_FIN | NET_TCP_RST)
#define SCN_CONV_SHOWN     (SCN_CONV_CMP_FLAGS | NET_TCP_PSH)
#define SCN_CONV_TCP_CSUM  16 /* the checksum's offset in the TCP header */
#define SCN_CONV_TCP_ACK   8  /* the acknowledgement number's */
#define SCN_CONV_TCP_WIN   14 /* the window's */
#define SCN_CONV_IP_CSUM   10 /* the IPv4 header's checksum, source and destination */
#define SCN_CONV_IP_SRC    12
#define SCN_CONV_IP_DST    16

static const char *const scn_conv_stop_names[SCN_CONV_STOP_COUNT] = {
    [SCN_CONV_RUNNING] = "running",
    [SCN_CONV_STOP_NO_SYN_ACK] = "no_syn_ack",
    [SCN_CONV_STOP_NO_DATA] = "no_data",
    [SCN_CONV_STOP_GUEST_RESET] = "guest_reset",
    [SCN_CONV_STOP_MISSING] = "client_segment_missing",
    [SCN_CONV_STOP_HOLD_FULL] = "hold_full",
    [SCN_CONV_STOP_RUN_ENDED] = "run_ended",
};

const char *scn_conv_stop_name(scn_conv_stop why) {
  return (unsigned)why < SCN_CONV_STOP_COUNT ? scn_conv_stop_names[why] : "invalid";
}

/* The TCP segment in an Ethernet frame, as far as the player reads it. */
typedef struct scn_conv_pkt {
  uint32_t src, dst, seq, ack, plen;
  uint16_t sport, dport;
  uint8_t flags;
  size_t ip_off, tcp_off, tcp_len;
  int whole; /* the captured bytes hold the whole segment */
} scn_conv_pkt;

static int scn_conv_parse(const uint8_t *f, size_t len, scn_conv_pkt *p) {
  if (len < NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN || net_eth_ethertype(f) != NET_ETHERTYPE_IPV4)
    return 0;
  const uint8_t *ip = f + NET_ETH_HEADER_LEN;
  size_t avail = len - NET_ETH_HEADER_LEN, hl = net_ipv4_header_len(ip);
  if (net_ipv4_version(ip) != 4 || net_ipv4_protocol(ip) != NET_IP_PROTO_TCP ||
      hl < NET_IPV4_HEADER_LEN || avail < hl + NET_TCP_HEADER_LEN || net_ipv4_is_fragment(ip))
    return 0;
  const uint8_t *t = ip + hl;
  size_t thl = net_tcp_header_len(t), total = net_ipv4_total_len(ip);
  /* the whole TCP header captured: its options are read from the frame */
  if (thl < NET_TCP_HEADER_LEN || total < hl + thl || avail < hl + thl) return 0;
  p->src = net_ipv4_src(ip);
  p->dst = net_ipv4_dst(ip);
  p->sport = net_tcp_src_port(t);
  p->dport = net_tcp_dst_port(t);
  p->seq = net_tcp_seq(t);
  p->ack = net_tcp_ack(t);
  p->flags = net_tcp_flags(t);
  p->plen = (uint32_t)(total - hl - thl);
  p->ip_off = NET_ETH_HEADER_LEN;
  p->tcp_off = NET_ETH_HEADER_LEN + hl;
  p->tcp_len = total - hl;
  p->whole = total <= avail;
  return 1;
}

/* The window scale shift a SYN segment offers, or -1 without the option
 * (or with a malformed option list). */
static int scn_conv_ws(const uint8_t *frame, const scn_conv_pkt *p) {
  net_tcp_opts o;
  return net_tcp_options(frame + p->tcp_off, &o) == 0 ? o.ws : -1;
}

/* The sequence space a segment takes: its data, SYN and FIN. */
static uint32_t scn_conv_seg_end(const scn_conv_pkt *p) {
  return p->seq + p->plen + !!(p->flags & NET_TCP_SYN) + !!(p->flags & NET_TCP_FIN);
}

/* A sink: reads whatever comes, sends nothing, closes when the peer has. */
static void scn_conv_sink_event(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  (void)ctx;
  if (ev & NET_TCP_EV_CLOSED) {
    net_tcp_release(c, now_ns);
    return;
  }
  int n;
  while ((n = net_tcp_recv(c, NULL, SIZE_MAX, now_ns)) > 0) continue;
  if (n == 0) net_tcp_release(c, now_ns);
}

int scn_conv_open_sinks(scn *s) {
  for (unsigned i = 0; i < SCN_ADDR_SERVED_MAX; i++) {
    uint16_t port = s->cfg.sink_ports[i];
    int rc = port ? net_tcp_listen(&s->guest, port, scn_conv_sink_event, s) : 0;
    if (rc && rc != EMU_ESTATE) return rc; /* EMU_ESTATE: a service of its own is there */
  }
  return 0;
}

int scn_conv_open(scn *s) {
  s->conv = calloc(1, sizeof *s->conv);
  return s->conv ? 0 : EMU_ENOMEM;
}

static void scn_conv_free_held(scn_conv_player *pl, scn_conv *c) {
  while (c->head) {
    scn_conv_held *h = c->head;
    c->head = h->next;
    pl->held_bytes -= h->len;
    free(h);
  }
  c->tail = NULL;
}

void scn_conv_close(scn *s) {
  scn_conv_player *pl = s->conv;
  if (!pl) return;
  for (size_t i = 0; i < pl->n; i++) scn_conv_free_held(pl, &pl->convs[i]);
  free(pl->convs);
  free(pl);
  s->conv = NULL;
}

/* The conversation of client cip:cport with the guest's port sport; wire:
 * cip is the address the guest sees for the client. */
static scn_conv *scn_conv_find(scn_conv_player *pl, uint32_t cip, uint16_t cport, uint16_t sport,
                               int wire) {
  for (size_t i = 0; i < pl->n; i++) {
    scn_conv *c = &pl->convs[i];
    if ((wire ? c->wire_ip : c->r.client_ip) == cip && c->r.client_port == cport &&
        c->r.server_port == sport && !c->superseded)
      return c;
  }
  return NULL;
}

/* The captured server's address: the guest's, or the one it stands in for
 * (scn_config.conv_server_ip). */
static uint32_t scn_conv_server(const scn *s) {
  return s->cfg.conv_server_ip ? s->cfg.conv_server_ip : s->cfg.guest.ip;
}

/* A segment of a server the guest cannot be in its place: to the guest's
 * address and MAC, from the host's. */
static void scn_conv_map(const scn *s, uint8_t *frame, const scn_conv_pkt *p) {
  net_iface_config host;
  scn_host_peer_config(&s->cfg, &host);
  memcpy(frame, s->cfg.guest.mac, NET_MAC_LEN);
  memcpy(frame + NET_MAC_LEN, host.mac, NET_MAC_LEN);
  uint8_t *ip = frame + p->ip_off;
  net_put_be32(ip + SCN_CONV_IP_SRC, s->cfg.guest.gateway);
  net_put_be32(ip + SCN_CONV_IP_DST, s->cfg.guest.ip);
  net_put_be16(ip + SCN_CONV_IP_CSUM, 0);
  net_put_be16(ip + SCN_CONV_IP_CSUM, net_inet_checksum(ip, net_ipv4_header_len(ip)));
}

static scn_conv *scn_conv_add(scn_conv_player *pl, const scn_conv_pkt *p, uint64_t k) {
  if (pl->n == SCN_CONV_MAX) return NULL;
  scn_conv *grown = emu_grow(pl->convs, &pl->cap, pl->n + 1, sizeof *grown, 8);
  if (!grown) return NULL;
  pl->convs = grown;
  scn_conv *c = &pl->convs[pl->n++];
  memset(c, 0, sizeof *c);
  c->r.client_ip = p->src;
  c->r.server_ip = p->dst;
  c->r.client_port = p->sport;
  c->r.server_port = p->dport;
  c->r.syn_frame = k + 1;
  c->client_isn = p->seq;
  c->client_nxt = c->client_data_end = p->seq + 1;
  c->rec_ws = c->guest_ws = -1;
  c->wire_ip = p->src;
  return c;
}

/* One side's segment into the comparison: matched with the other side's
 * segment of the same rank when that one came first, else queued. */
static void scn_conv_compare(scn_conv *c, int guest, const scn_conv_pkt *p) {
  if (!(p->flags & (NET_TCP_SYN | NET_TCP_FIN | NET_TCP_RST)) && !p->plen) return;
  if (c->r.differs || c->r.compare_cut) return;
  scn_conv_seg seg = {(uint8_t)(p->flags & SCN_CONV_SHOWN), 0, p->plen};
  if (c->cmp_n && c->cmp_guest != guest) {
    scn_conv_seg front = c->cmp[c->cmp_first];
    c->cmp_first = (c->cmp_first + 1) % SCN_CONV_CMP_MAX;
    c->cmp_n--;
    const scn_conv_seg *rec = guest ? &front : &seg, *gst = guest ? &seg : &front;
    if (((rec->flags ^ gst->flags) & SCN_CONV_CMP_FLAGS) || rec->len != gst->len) {
      c->r.differs = 1;
      c->r.diff_at = c->r.compared + 1;
      c->r.diff_recorded = *rec;
      c->r.diff_guest = *gst;
    } else {
      c->r.compared++;
    }
    return;
  }
  if (c->cmp_n == SCN_CONV_CMP_MAX) {
    c->r.compare_cut = 1;
    return;
  }
  c->cmp[(c->cmp_first + c->cmp_n++) % SCN_CONV_CMP_MAX] = seg;
  c->cmp_guest = guest;
}

/* The conversation stops: what still waits is never sent. */
static void scn_conv_halt(scn *s, scn_conv *c, scn_conv_stop why, uint64_t now_ns) {
  if (c->r.stop) return;
  c->r.stop = why;
  c->r.stop_ns = now_ns;
  if (!c->r.stop_frame && c->head) c->r.stop_frame = c->head->k + 1;
  for (scn_conv_held *h = c->head; h; h = h->next)
    emu_fates_set(&s->fates, h->id, EMU_FATE_CONVERSATION_STOPPED, now_ns, "host", -1);
  scn_conv_free_held(s->conv, c);
}

/* The client's window in the units the guest reads it in: the recorded
 * server took the client's window scale and the guest may not have
 * (RFC 7323 §2.2: scaling needs both SYNs to carry the option). Without
 * the server's SYN-ACK in the capture, the server is taken to have taken
 * it, as every common stack does. */
static void scn_conv_window(const scn_conv *c, uint8_t *t) {
  int taken = c->rec_syn_ack ? c->rec_ws >= 0 : 1;
  int recorded = c->client_ws >= 0 && taken ? c->client_ws : 0;
  int guest = c->client_ws >= 0 && c->guest_ws >= 0 ? c->client_ws : 0;
  if (recorded == guest) return;
  uint64_t bytes = (uint64_t)net_get_be16(t + SCN_CONV_TCP_WIN) << recorded;
  bytes >>= guest;
  net_put_be16(t + SCN_CONV_TCP_WIN, bytes > UINT16_MAX ? UINT16_MAX : (uint16_t)bytes);
}

/* Sends held segment h with its acknowledgement number ack and its
 * checksum computed again. */
static void scn_conv_send(scn *s, scn_conv *c, scn_conv_held *h, uint32_t ack) {
  scn_conv_pkt p;
  scn_conv_parse(h->data, h->len, &p);
  if (c->wire_ip != c->r.client_ip) {
    scn_conv_map(s, h->data, &p);
    scn_conv_parse(h->data, h->len, &p);
  }
  uint8_t *t = h->data + p.tcp_off;
  if (!(p.flags & NET_TCP_SYN)) scn_conv_window(c, t);
  if (p.flags & NET_TCP_ACK) {
    net_put_be32(t + SCN_CONV_TCP_ACK, ack);
    if (c->guest_isn_known && net_tcp_seq_ge(ack, c->guest_isn + 1)) c->r.established = 1;
  }
  if (p.whole) {
    net_put_be16(t + SCN_CONV_TCP_CSUM, 0);
    uint32_t sum = net_ipv4_pseudo_sum(p.src, p.dst, NET_IP_PROTO_TCP, p.tcp_len);
    net_put_be16(t + SCN_CONV_TCP_CSUM, net_inet_fold(net_inet_sum(sum, t, p.tcp_len)));
  }
  c->r.client_sent++;
  scn_extend_horizon(s, scn_now(s));
  scn_host_put(s, h->id, h->data, h->len);
}

/* 1 when the front segment p may leave, with *ack its acknowledgement
 * number; 0 when it must wait for the guest. */
static int scn_conv_ready(scn_conv *c, const scn_conv_pkt *p, uint32_t *ack) {
  *ack = p->ack;
  if (!(p->flags & NET_TCP_ACK)) return 1;
  if (!c->guest_isn_known) return 0;
  if (!c->rec_isn_known) { /* no SYN-ACK captured: the client's first ACK says it */
    c->rec_isn = p->ack - 1;
    c->rec_isn_known = 1;
  }
  uint32_t rebased = p->ack - c->rec_isn + c->guest_isn;
  if (net_tcp_seq_gt(rebased, c->guest_nxt)) {
    if (!c->r.guest_fin) return 0;
    rebased = c->guest_nxt; /* the guest's answer ended sooner than the server's */
    c->r.acks_clamped++;
  }
  *ack = rebased;
  return 1;
}

/* Sends what may leave of c's waiting segments, in order. */
static void scn_conv_release(scn *s, scn_conv *c) {
  while (c->head && !c->r.stop) {
    scn_conv_held *h = c->head;
    scn_conv_pkt p;
    uint32_t ack;
    scn_conv_parse(h->data, h->len, &p);
    if (!scn_conv_ready(c, &p, &ack)) return;
    c->head = h->next;
    if (!c->head) c->tail = NULL;
    s->conv->held_bytes -= h->len;
    scn_conv_send(s, c, h, ack);
    free(h);
  }
}

/* When the player next needs to look: the earliest end of a wait. */
static uint64_t scn_conv_next_deadline(const scn_conv_player *pl) {
  uint64_t next = EMU_TIME_NEVER;
  for (size_t i = 0; i < pl->n; i++) {
    const scn_conv_held *h = pl->convs[i].head;
    if (h && h->since_ns + SCN_CONV_WAIT_NS < next) next = h->since_ns + SCN_CONV_WAIT_NS;
  }
  return next;
}

/* Why c's front segment waited in vain. */
static void scn_conv_expire(scn *s, scn_conv *c, uint64_t now_ns) {
  scn_conv_pkt p;
  scn_conv_parse(c->head->data, c->head->len, &p);
  if (!c->guest_isn_known) {
    scn_conv_halt(s, c, SCN_CONV_STOP_NO_SYN_ACK, now_ns);
    return;
  }
  c->r.stop_a = (uint32_t)(p.ack - c->rec_isn - 1);
  c->r.stop_b = (uint32_t)(c->guest_nxt - c->guest_isn - 1);
  scn_conv_halt(s, c, SCN_CONV_STOP_NO_DATA, now_ns);
}

void scn_conv_poll(scn *s, uint64_t now_ns) {
  scn_conv_player *pl = s->conv;
  if (!pl) return;
  for (size_t i = 0; i < pl->n; i++) {
    scn_conv *c = &pl->convs[i];
    scn_conv_release(s, c);
    if (c->head && now_ns >= c->head->since_ns + SCN_CONV_WAIT_NS) scn_conv_expire(s, c, now_ns);
  }
  scn_conv_arm(s, scn_conv_next_deadline(pl));
}

/* A segment the recorded server sent: compared, not sent. */
static void scn_conv_recorded(scn *s, scn_conv *c, const scn_conv_pkt *p, const uint8_t *frame,
                              uint64_t now_ns) {
  int64_t id = scn_host_enter(s, 1);
  if (id >= 0) emu_fates_set(&s->fates, (uint32_t)id, EMU_FATE_COMPARED, now_ns, "host", -1);
  c->r.recorded_segments++;
  c->r.recorded_bytes += p->plen;
  if ((p->flags & (NET_TCP_SYN | NET_TCP_ACK)) == (NET_TCP_SYN | NET_TCP_ACK) &&
      !c->rec_isn_known) {
    c->rec_isn = p->seq;
    c->rec_isn_known = 1;
    c->rec_syn_ack = 1;
    c->rec_ws = scn_conv_ws(frame, p);
  }
  scn_conv_compare(c, 0, p);
}

/* Queues client segment p (frame f) behind those waiting, unless the
 * capture lacks client bytes before it or the player is full. */
static void scn_conv_hold(scn *s, scn_conv *c, const scn_conv_pkt *p, const uint8_t *f, size_t len,
                          uint32_t id, uint64_t now_ns) {
  uint64_t k = s->captured.n - 1;
  if (!(p->flags & NET_TCP_SYN) && net_tcp_seq_gt(p->seq, c->client_nxt)) {
    c->r.stop_a = (uint32_t)(c->client_nxt - c->client_isn);
    c->r.stop_b = (uint32_t)(p->seq - c->client_isn - 1);
    c->r.stop_frame = k + 1;
    scn_conv_halt(s, c, SCN_CONV_STOP_MISSING, now_ns);
    emu_fates_set(&s->fates, id, EMU_FATE_CONVERSATION_STOPPED, now_ns, "host", -1);
    return;
  }
  uint32_t end = scn_conv_seg_end(p), data_end = p->seq + p->plen;
  if (net_tcp_seq_gt(end, c->client_nxt)) c->client_nxt = end;
  if (p->plen && net_tcp_seq_gt(data_end, c->client_data_end)) c->client_data_end = data_end;
  c->r.client_bytes = (uint32_t)(c->client_data_end - c->client_isn - 1);
  scn_conv_held *h = NULL;
  if (s->conv->held_bytes + len <= SCN_CONV_HELD_BYTES) h = malloc(sizeof *h + len);
  if (!h) {
    c->r.stop_frame = k + 1;
    scn_conv_halt(s, c, SCN_CONV_STOP_HOLD_FULL, now_ns);
    emu_fates_set(&s->fates, id, EMU_FATE_CONVERSATION_STOPPED, now_ns, "host", -1);
    return;
  }
  *h = (scn_conv_held){NULL, id, k, now_ns, len};
  memcpy(h->data, f, len);
  s->conv->held_bytes += len;
  if (c->tail)
    c->tail->next = h;
  else
    c->head = h;
  c->tail = h;
  scn_conv_release(s, c);
  scn_conv_arm(s, scn_conv_next_deadline(s->conv));
}

int scn_conv_take(scn *s, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn_conv_player *pl = s->conv;
  scn_conv_pkt p;
  if (!pl || !scn_conv_parse(frame, len, &p)) return 0;
  uint32_t server = scn_conv_server(s);
  scn_conv *c;
  if (p.src == server) {
    c = scn_conv_find(pl, p.dst, p.dport, p.sport, 0);
    if (c) scn_conv_recorded(s, c, &p, frame, now_ns);
    /* (a host talking to itself: to the server too, from its client) */
    if (c || p.dst != server) return c != NULL;
  }
  if (p.dst != server) return 0;
  c = scn_conv_find(pl, p.src, p.sport, p.dport, 0);
  /* a SYN of another ISN on the same ports, nothing waiting: a new
   * conversation (the client reused its port) */
  if (c && (p.flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN && p.seq != c->client_isn &&
      !c->head) {
    c->superseded = 1;
    c = NULL;
  }
  if (!c) {
    if ((p.flags & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) != NET_TCP_SYN) return 0;
    c = scn_conv_add(pl, &p, s->captured.n);
    if (!c) {
      pl->over_limit++;
      return 0;
    }
    c->client_ws = p.whole ? scn_conv_ws(frame, &p) : -1;
    if (server != s->cfg.guest.ip) c->wire_ip = s->cfg.guest.gateway;
  }
  int64_t id = scn_host_enter(s, 1);
  c->r.client_segments++;
  if (id < 0) return 1;               /* out of host memory: fated so */
  if (!c->r.stop && c->r.guest_rst) { /* the guest reset it before this segment */
    c->r.stop_frame = s->captured.n;
    scn_conv_halt(s, c, SCN_CONV_STOP_GUEST_RESET, now_ns);
  }
  if (c->r.stop)
    emu_fates_set(&s->fates, (uint32_t)id, EMU_FATE_CONVERSATION_STOPPED, now_ns, "host", -1);
  else
    scn_conv_hold(s, c, &p, frame, len, (uint32_t)id, now_ns);
  return 1;
}

void scn_conv_guest_frame(scn *s, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn_conv_player *pl = s->conv;
  scn_conv_pkt p;
  if (!pl || !scn_conv_parse(frame, len, &p) || p.src != s->cfg.guest.ip) return;
  scn_conv *c = scn_conv_find(pl, p.dst, p.dport, p.sport, 1);
  if (!c) return;
  c->r.guest_segments++;
  c->r.guest_bytes += p.plen;
  if ((p.flags & (NET_TCP_SYN | NET_TCP_ACK)) == (NET_TCP_SYN | NET_TCP_ACK) &&
      !c->guest_isn_known) {
    c->guest_isn = p.seq;
    c->guest_nxt = p.seq + 1;
    c->guest_isn_known = 1;
    c->guest_ws = scn_conv_ws(frame, &p);
  }
  uint32_t end = scn_conv_seg_end(&p);
  if (c->guest_isn_known && net_tcp_seq_gt(end, c->guest_nxt)) c->guest_nxt = end;
  c->r.guest_fin |= (p.flags & NET_TCP_FIN) != 0;
  if ((p.flags & NET_TCP_ACK) && (!c->guest_acked_known || net_tcp_seq_gt(p.ack, c->guest_acked))) {
    c->guest_acked = p.ack;
    c->guest_acked_known = 1;
    uint32_t acked = p.ack - c->client_isn - 1, held = c->client_data_end - c->client_isn - 1;
    c->r.client_delivered = net_tcp_seq_lt(acked, held) ? acked : held;
  }
  scn_conv_compare(c, 1, &p);
  if (p.flags & NET_TCP_RST) {
    /* the client's segments from now on are not sent: those waiting now,
     * and any that come later (scn_conv_take) */
    c->r.guest_rst = 1;
    c->r.refused |= !c->guest_isn_known; /* a RST for its SYN */
    if (c->head) scn_conv_halt(s, c, SCN_CONV_STOP_GUEST_RESET, now_ns);
  }
  if (c->head) scn_conv_arm(s, now_ns);
}

void scn_conv_finish(scn *s, uint64_t now_ns) {
  scn_conv_player *pl = s->conv;
  if (!pl) return;
  for (size_t i = 0; i < pl->n; i++) {
    scn_conv *c = &pl->convs[i];
    if (c->head) scn_conv_halt(s, c, SCN_CONV_STOP_RUN_ENDED, now_ns);
    /* a side that sent more than the other differs at the first extra */
    if (c->r.differs || c->r.compare_cut || !c->cmp_n) continue;
    scn_conv_seg extra = c->cmp[c->cmp_first], none = {0, 1, 0};
    c->r.differs = 1;
    c->r.diff_at = c->r.compared + 1;
    c->r.diff_recorded = c->cmp_guest ? none : extra;
    c->r.diff_guest = c->cmp_guest ? extra : none;
  }
}

size_t scn_conv_count(const scn *s) { return s->conv ? s->conv->n : 0; }

const scn_conv_report *scn_conv_report_at(const scn *s, size_t i) {
  return i < scn_conv_count(s) ? &s->conv->convs[i].r : NULL;
}

uint64_t scn_conv_over_limit(const scn *s) { return s->conv ? s->conv->over_limit : 0; }
