/* libFuzzer target: the guest stack as `vnetsim run` exposes it, with its
 * services listening (TCP echo 8023, discard 9, HTTP 80; UDP echo 7 and
 * discard 9), driven by a host that speaks TCP.
 *
 * The input is a program for the host side. Its TCP operations keep up to
 * four connections' sequence state (the host's next sequence number and
 * what the guest sent, read from the guest's own segments), so that a SYN
 * followed by an ACK completes a handshake and later segments land in the
 * window: data, HTTP requests, FIN, RST, and segments with any flags,
 * options and offsets from the expected numbers. Raw frames, UDP datagrams
 * and the passing of time (retransmission, TIME-WAIT) come in between.
 *
 * Oracles, besides ASan and UBSan: every frame gets exactly one fate and
 * the iface counts it once; every frame the guest sends is a well-formed
 * Ethernet frame, and its IPv4 packets carry correct header and transport
 * checksums, its IPv6 packets correct transport checksums.
 *
 * Input: byte 0 bit 0 = small connection buffers (else the default 64 KiB
 * of `vnetsim run`), then operations: an opcode byte and its arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/port.h"
#include "fuzz/input.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "stack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONN        4u
#define HOST_PORT0   40000u /* the host's ports: HOST_PORT0 + conn * 16 + generation */
#define HOST_ISS     0x10000000u
#define OP_TICK_NS   1000u         /* time between two operations */
#define TIME_UNIT_NS 10000000u     /* OP_TIME: 10 ms steps ... */
#define TIME_LONG_NS 1000000000ull /* ... or 1 s steps (retransmission, TIME-WAIT) */
#define IP4_HDR      20u
#define IP6_HDR      40u
#define ETH_HDR      14u
#define OPT_MAX      40u
#define FRAME_MAX    1600u
/* Buffers per connection when byte 0 asks for small ones: a full window
 * in a few segments, and an allocation ASan serves without a mapping of
 * its own (the default 2 x 64 KiB costs more than the rest of a run). */
#define SMALL_BUF 4096u

enum {
  OP_SYN,    /* conn, port choice, MSS option choice */
  OP_ACK,    /* conn: acknowledge all the guest sent */
  OP_DATA,   /* conn, bit 0: FIN too, len, bytes */
  OP_HTTP,   /* conn, which request */
  OP_SEG,    /* conn, flags, seq offset s16, ack offset s16, window le16, optlen, len, bytes */
  OP_FIN,    /* conn */
  OP_RST,    /* conn, seq offset s8 */
  OP_TIME,   /* steps: bit 7 for 1 s steps, else 10 ms */
  OP_RAW,    /* len le16, bytes: any frame */
  OP_WINDOW, /* conn, window le16 the host advertises from now on */
  OP_UDP,    /* port choice, len, bytes */
  OP_COUNT
};

static const uint16_t guest_ports[] = {NET_SVC_PORT_HTTP, NET_SVC_PORT_TCP_ECHO,
                                       NET_SVC_PORT_DISCARD, 7 /* no TCP listener */};

static const char *const http_requests[] = {
    "GET / HTTP/1.1\r\nHost: guest\r\n\r\n",
    "GET /stats HTTP/1.1\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "GET /nothing HTTP/1.0\r\n\r\n",
    "GET / SPDY/3\r\n\r\n",
    "GET /",
};

typedef struct host_conn {
  uint16_t port, guest_port;
  uint8_t generation;
  uint32_t snd_nxt; /* the host's next sequence number */
  uint32_t rcv_nxt; /* the guest's: past everything it sent */
  uint16_t window;
  int synced; /* the guest answered our SYN */
} host_conn;

typedef struct rig {
  net_iface ifc;
  net_services svc;
  emu_port port;
  net_iface_config guest, host;
  host_conn conn[NCONN];
  uint64_t now, frames_in;
  uint8_t frame[FRAME_MAX];
} rig;

/* ---- what the guest sends: checked, and read for sequence numbers ------- */

/* RFC 1071: a region with a correct checksum sums to 0xffff. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += (uint32_t)p[n - 1] << 8;
  return acc;
}

static int sum_ok(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc == 0xffff;
}

static void learn(rig *r, const uint8_t *tcp, size_t len) {
  uint16_t sport = net_get_be16(tcp), dport = net_get_be16(tcp + 2);
  for (unsigned k = 0; k < NCONN; k++) {
    host_conn *c = &r->conn[k];
    if (c->port != dport || c->guest_port != sport) continue;
    uint8_t flags = tcp[13];
    size_t hl = (size_t)(tcp[12] >> 4) * 4;
    uint32_t end = net_get_be32(tcp + 4) + (uint32_t)(len - hl) + (flags & NET_TCP_SYN ? 1 : 0) +
                   (flags & NET_TCP_FIN ? 1 : 0);
    if (flags & NET_TCP_SYN) c->synced = 1;
    if (flags & NET_TCP_SYN || net_tcp_seq_gt(end, c->rcv_nxt)) c->rcv_nxt = end;
  }
}

static void check_ipv4(rig *r, const uint8_t *ip, size_t len) {
  if (len < IP4_HDR || ip[0] != 0x45) abort(); /* the stack sends no options */
  size_t total = net_get_be16(ip + 2);
  if (total < IP4_HDR || total > len || !sum_ok(sum16(0, ip, IP4_HDR))) abort();
  const uint8_t *l4 = ip + IP4_HDR;
  size_t l4len = total - IP4_HDR;
  uint8_t proto = ip[9];
  if (proto == NET_IP_PROTO_ICMP) {
    if (!sum_ok(sum16(0, l4, l4len))) abort();
    return;
  }
  if (proto != NET_IP_PROTO_TCP && proto != NET_IP_PROTO_UDP) abort();
  /* pseudo-header: source, destination, protocol, length (RFC 9293 §3.1) */
  uint32_t acc = sum16(0, ip + 12, 8) + proto + (uint32_t)l4len;
  if (!sum_ok(sum16(acc, l4, l4len))) abort();
  if (proto == NET_IP_PROTO_TCP) {
    if (l4len < NET_TCP_HEADER_LEN || (size_t)(l4[12] >> 4) * 4 > l4len) abort();
    learn(r, l4, l4len);
  }
}

/* IPv6: no extension headers, and the transport's checksum over the
 * pseudo-header of RFC 8200 §8.1 (ICMPv6's too, RFC 4443 §2.3). */
static void check_ipv6(const uint8_t *ip, size_t len) {
  if (len < IP6_HDR || ip[0] >> 4 != 6) abort();
  size_t plen = net_get_be16(ip + 4);
  uint8_t nh = ip[6];
  if (plen > len - IP6_HDR) abort();
  if (nh != NET_IP_PROTO_ICMPV6 && nh != NET_IP_PROTO_TCP && nh != NET_IP_PROTO_UDP) abort();
  uint32_t acc = sum16(0, ip + 8, 32) + (uint32_t)plen + nh;
  if (!sum_ok(sum16(acc, ip + IP6_HDR, plen))) abort();
}

static int sink_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  rig *r = impl;
  if (len < ETH_HDR || len > NET_IFACE_FRAME_MAX) abort();
  if (net_get_be16(frame + 12) == NET_ETHERTYPE_IPV4) check_ipv4(r, frame + ETH_HDR, len - ETH_HDR);
  if (net_get_be16(frame + 12) == NET_ETHERTYPE_IPV6) check_ipv6(frame + ETH_HDR, len - ETH_HDR);
  return 0;
}

/* ---- what the host sends ------------------------------------------------ */

static void deliver(rig *r, const uint8_t *frame, size_t len) {
  emu_fate f = net_iface_input(&r->ifc, frame, len, r->now);
  if (f == EMU_FATE_PENDING || (unsigned)f >= EMU_FATE_COUNT) abort();
  r->frames_in++;
}

/* An IPv4 packet from the host to the guest around the l4 bytes already at
 * r->frame + ETH_HDR + IP4_HDR; fills in the transport checksum at csum_at. */
static void send_ipv4(rig *r, uint8_t proto, size_t l4len, size_t csum_at) {
  uint8_t *eth = r->frame, *ip = eth + ETH_HDR, *l4 = ip + IP4_HDR;
  memcpy(eth, r->guest.mac, NET_MAC_LEN);
  memcpy(eth + 6, r->host.mac, NET_MAC_LEN);
  net_put_be16(eth + 12, NET_ETHERTYPE_IPV4);
  memset(ip, 0, IP4_HDR);
  ip[0] = 0x45;
  net_put_be16(ip + 2, (uint16_t)(IP4_HDR + l4len));
  ip[8] = NET_IFACE_TTL;
  ip[9] = proto;
  net_put_be32(ip + 12, r->host.ip);
  net_put_be32(ip + 16, r->guest.ip);
  net_put_be16(ip + 10, net_inet_checksum(ip, IP4_HDR));
  uint32_t acc = net_inet_sum(0, ip + 12, 8) + proto + (uint32_t)l4len;
  net_put_be16(l4 + csum_at, net_inet_fold(net_inet_sum(acc, l4, l4len)));
  deliver(r, eth, ETH_HDR + IP4_HDR + l4len);
}

typedef struct seg {
  uint8_t flags;
  uint32_t seq, ack;
  uint16_t window;
  const uint8_t *opts, *data;
  size_t optlen, len;
} seg;

static void send_tcp(rig *r, const host_conn *c, const seg *s) {
  uint8_t *tcp = r->frame + ETH_HDR + IP4_HDR;
  size_t optlen = s->optlen, hl = NET_TCP_HEADER_LEN + optlen; /* a multiple of 4 */
  memset(tcp, 0, NET_TCP_HEADER_LEN);
  net_put_be16(tcp, c->port);
  net_put_be16(tcp + 2, c->guest_port);
  net_put_be32(tcp + 4, s->seq);
  net_put_be32(tcp + 8, s->ack);
  tcp[12] = (uint8_t)(hl / 4 << 4);
  tcp[13] = s->flags;
  net_put_be16(tcp + 14, s->window);
  if (optlen) memcpy(tcp + NET_TCP_HEADER_LEN, s->opts, optlen);
  if (s->len) memcpy(tcp + hl, s->data, s->len);
  send_ipv4(r, NET_IP_PROTO_TCP, hl + s->len, 16);
}

/* The host's segment with the expected numbers; moves snd_nxt past it. */
static void send_next(rig *r, host_conn *c, uint8_t flags, const void *data, size_t len) {
  seg s = {flags, c->snd_nxt, c->rcv_nxt, c->window, NULL, data, 0, len};
  c->snd_nxt += (uint32_t)len + (flags & NET_TCP_FIN ? 1 : 0);
  send_tcp(r, c, &s);
}

static void op_syn(rig *r, host_conn *c, unsigned k, uint8_t port_sel, uint8_t mss_sel) {
  static const uint8_t mss[][4] = {{2, 4, 0x05, 0xb4}, {2, 4, 0, 1}, {1, 1, 1, 0}};
  c->generation = (uint8_t)((c->generation + 1) % 16);
  c->port = (uint16_t)(HOST_PORT0 + k * 16 + c->generation);
  c->guest_port = guest_ports[port_sel % (sizeof guest_ports / sizeof guest_ports[0])];
  c->synced = 0;
  c->rcv_nxt = 0;
  c->snd_nxt = HOST_ISS * (k + 1);
  unsigned m = mss_sel % 4u;
  seg s = {NET_TCP_SYN, c->snd_nxt, 0, c->window, m < 3 ? mss[m] : NULL, NULL, m < 3 ? 4 : 0, 0};
  c->snd_nxt++;
  send_tcp(r, c, &s);
}

/* OP_SEG: any flags, numbers offset from the expected, options, payload. */
static void op_seg(rig *r, host_conn *c, fuzz_in *in) {
  uint8_t a[9];
  if (!take(in, a, sizeof a)) return;
  size_t optlen = (size_t)(a[7] % (OPT_MAX + 1)) & ~(size_t)3;
  if (optlen > in->n) optlen = in->n & ~(size_t)3;
  const uint8_t *opts = in->p;
  in->p += optlen;
  in->n -= optlen;
  size_t len = a[8] < in->n ? a[8] : in->n;
  seg s = {a[0],
           c->snd_nxt + (uint32_t)(int16_t)(a[1] | a[2] << 8),
           c->rcv_nxt + (uint32_t)(int16_t)(a[3] | a[4] << 8),
           (uint16_t)(a[5] | a[6] << 8),
           opts,
           in->p,
           optlen,
           len};
  in->p += len;
  in->n -= len;
  send_tcp(r, c, &s);
}

static void op_data(rig *r, host_conn *c, fuzz_in *in) {
  uint8_t a[2];
  if (!take(in, a, sizeof a)) return;
  size_t len = a[1] < in->n ? a[1] : in->n;
  send_next(r, c, NET_TCP_ACK | NET_TCP_PSH | (a[0] & 1 ? NET_TCP_FIN : 0), in->p, len);
  in->p += len;
  in->n -= len;
}

static void op_udp(rig *r, fuzz_in *in) {
  uint8_t a[2];
  if (!take(in, a, sizeof a)) return;
  size_t len = a[1] < in->n ? a[1] : in->n;
  uint8_t *udp = r->frame + ETH_HDR + IP4_HDR;
  net_put_be16(udp, (uint16_t)HOST_PORT0);
  net_put_be16(udp + 2, a[0] & 1 ? NET_SVC_PORT_ECHO : NET_SVC_PORT_DISCARD);
  net_put_be16(udp + 4, (uint16_t)(8 + len));
  net_put_be16(udp + 6, 0);
  memcpy(udp + 8, in->p, len);
  in->p += len;
  in->n -= len;
  send_ipv4(r, NET_IP_PROTO_UDP, 8 + len, 6);
}

static void op_raw(rig *r, fuzz_in *in) {
  uint8_t a[2];
  if (!take(in, a, sizeof a)) return;
  size_t len = (size_t)(a[0] | a[1] << 8) % FRAME_MAX;
  if (len > in->n) len = in->n;
  memcpy(r->frame, in->p, len); /* a copy: the stack may not keep the input */
  in->p += len;
  in->n -= len;
  deliver(r, r->frame, len);
}

static void op_time(rig *r, uint8_t steps) {
  uint64_t unit = steps & 0x80 ? TIME_LONG_NS : TIME_UNIT_NS;
  r->now += unit * (1u + (steps & 0x7f));
}

static void step(rig *r, uint8_t op, fuzz_in *in) {
  uint8_t a[3];
  switch (op % OP_COUNT) {
    case OP_SYN:
      if (take(in, a, 3)) op_syn(r, &r->conn[a[0] % NCONN], a[0] % NCONN, a[1], a[2]);
      break;
    case OP_ACK:
      if (take(in, a, 1)) send_next(r, &r->conn[a[0] % NCONN], NET_TCP_ACK, NULL, 0);
      break;
    case OP_DATA:
      if (take(in, a, 1)) op_data(r, &r->conn[a[0] % NCONN], in);
      break;
    case OP_HTTP:
      if (!take(in, a, 2)) break;
      a[1] %= sizeof http_requests / sizeof http_requests[0];
      send_next(r, &r->conn[a[0] % NCONN], NET_TCP_ACK | NET_TCP_PSH, http_requests[a[1]],
                strlen(http_requests[a[1]]));
      break;
    case OP_SEG:
      if (take(in, a, 1)) op_seg(r, &r->conn[a[0] % NCONN], in);
      break;
    case OP_FIN:
      if (take(in, a, 1)) send_next(r, &r->conn[a[0] % NCONN], NET_TCP_ACK | NET_TCP_FIN, NULL, 0);
      break;
    case OP_RST:
      if (take(in, a, 2)) {
        host_conn *c = &r->conn[a[0] % NCONN];
        seg s = {NET_TCP_RST, c->snd_nxt + (uint32_t)(int8_t)a[1], 0, 0, NULL, NULL, 0, 0};
        send_tcp(r, c, &s);
      }
      break;
    case OP_TIME:
      if (take(in, a, 1)) op_time(r, a[0]);
      break;
    case OP_RAW:
      op_raw(r, in);
      break;
    case OP_WINDOW:
      if (take(in, a, 3)) r->conn[a[0] % NCONN].window = (uint16_t)(a[1] | a[2] << 8);
      break;
    case OP_UDP:
      op_udp(r, in);
      break;
  }
}

/* The host announces itself first, as slirp's gateway does when the guest
 * asks: the guest's replies then need no ARP round of their own. */
static void announce_host(rig *r) {
  uint8_t *eth = r->frame, *arp = eth + ETH_HDR;
  memset(eth, 0xff, NET_MAC_LEN);
  memcpy(eth + 6, r->host.mac, NET_MAC_LEN);
  net_put_be16(eth + 12, NET_ETHERTYPE_ARP);
  static const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 1}; /* Ethernet/IPv4 request */
  memcpy(arp, head, sizeof head);
  memcpy(arp + 8, r->host.mac, NET_MAC_LEN);
  net_put_be32(arp + 14, r->host.ip);
  memset(arp + 18, 0, NET_MAC_LEN);
  net_put_be32(arp + 24, r->guest.ip);
  deliver(r, eth, ETH_HDR + 28);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rig r;
  memset(&r.conn, 0, sizeof r.conn);
  for (unsigned k = 0; k < NCONN; k++) r.conn[k].window = UINT16_MAX;
  r.port = (emu_port){.send = sink_send, .impl = &r};
  net_iface_config_slirp_guest(&r.guest);
  net_iface_config_slirp_host(&r.host);
  if (net_iface_init(&r.ifc, &r.guest, &r.port)) abort();
  /* as sim/scn.c sets up the guest of `vnetsim run` */
  net_tcp_config tcp;
  net_tcp_config_default(&tcp);
  tcp.seed = 1;
  if (size && (data[0] & 1)) tcp.snd_buf = tcp.rcv_buf = SMALL_BUF;
  if (net_tcp_configure(&r.ifc, &tcp) || net_services_start(&r.svc, &r.ifc, NET_SVC_ALL)) abort();
  r.now = 1000;
  r.frames_in = 0;
  announce_host(&r);
  fuzz_in in = {data + (size > 0), size - (size > 0)};
  uint8_t op;
  while (take(&in, &op, 1)) {
    step(&r, op, &in);
    r.now += OP_TICK_NS;
    net_iface_poll(&r.ifc, r.now);
  }
  /* every frame counted once, with one fate */
  const net_iface_stats *st = net_iface_stats_get(&r.ifc);
  uint64_t fated = 0;
  for (unsigned f = 0; f < EMU_FATE_COUNT; f++) fated += st->rx_fates[f];
  if (st->rx_frames != r.frames_in || fated != r.frames_in) abort();
  net_services_stop(&r.svc);
  net_iface_close(&r.ifc);
  return 0;
}
