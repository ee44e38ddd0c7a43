/* TCP (RFC 9293) on a net_iface, poll-style: driven only by the frames it is
 * given and the `now_ns` passed with them, never by a clock of its own.
 *
 * What it does
 *   - passive open (net_tcp_listen) and active open (net_tcp_connect), the
 *     three-way handshake and simultaneous open, the MSS option (RFC 9293
 *     §3.7.1; 536 when the peer sends none);
 *   - data both ways over ring buffers, sequence arithmetic modulo 2^32
 *     (net_tcp_seq_lt and friends), the receive window (no window scaling, at
 *     most 65535), window updates when the application reads, zero-window
 *     probes;
 *   - out-of-order segments inside the window are BUFFERED (up to
 *     NET_TCP_OOO_RANGES holes) and answered at once with a duplicate ACK
 *     (RFC 5681 §4.2); a FIN beyond a hole is not kept (the peer repeats it);
 *   - retransmission with the RFC 6298 estimator, Karn's rule and exponential
 *     backoff; fast retransmit on the third duplicate ACK with NewReno fast
 *     recovery (RFC 5681 §3.2, RFC 6582); slow start and congestion avoidance
 *     (RFC 5681 §3.1); go-back-N from snd_una after a timeout;
 *   - FIN in both directions, simultaneous close, TIME-WAIT for a
 *     configurable 2*MSL; RST to segments for closed ports (RFC 9293
 *     §3.10.7.1) and for unacceptable ACKs; RFC 5961 challenge ACKs for
 *     in-window RSTs and SYNs;
 *   - checksums computed on send and verified on receive.
 * What it does not: urgent data, window scaling, SACK, timestamps, delayed
 * ACKs (every segment that occupies sequence space is acknowledged at once),
 * Nagle, keep-alives, ICMP-driven aborts.
 *
 * Ownership: connections live on the heap, one allocation for the TCB and
 * its two buffers. A connection from net_tcp_connect(), or handed to a
 * listener's callback with NET_TCP_EV_ESTABLISHED, belongs to the
 * application until it calls net_tcp_release(); the stack then finishes the
 * connection on its own (FIN, TIME-WAIT) and frees it once CLOSED. Half-open
 * connections (SYN received, handshake not finished) belong to the stack.
 * net_iface_close() frees everything. Randomness (the ISS) comes from a PRNG
 * seeded by net_tcp_config.seed.
 *
 * Callbacks run from net_iface_input() / net_iface_poll() after the segment
 * or timer has been processed, and may call any function here, including
 * net_tcp_release() on the connection they were called for. */
#ifndef VNETSIM_STACK_TCP_H
#define VNETSIM_STACK_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"

typedef struct net_iface net_iface;
typedef struct net_tcp_conn net_tcp_conn;

/* ---- sequence arithmetic (RFC 9293 §3.4: modulo 2^32) ------------------------ */

/* a < b in sequence space: true when b is less than 2^31 ahead of a. */
static inline int net_tcp_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int net_tcp_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int net_tcp_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int net_tcp_seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* ---- configuration ------------------------------------------------------------- */

#define NET_TCP_MAX_LISTENERS   8
#define NET_TCP_OOO_RANGES      8
#define NET_TCP_DEFAULT_MSS     536 /* RFC 9293 §3.7.1: assumed when no MSS option */
#define NET_TCP_EPHEMERAL_FIRST 49152
/* Connections in any state, TIME-WAIT included (a full table ends the
 * TIME-WAIT with least left to wait for a new one): a busy server's load,
 * 200 concurrent clients and the TIME-WAITs of a few thousand requests a
 * second. Each takes its send and receive buffers. */
#define NET_TCP_DEFAULT_MAX_CONNS 1024

typedef struct net_tcp_config {
  uint64_t seed; /* seeds the ISS draws */
  int fixed_iss; /* tests: when set, every connection's ISS is iss */
  uint32_t iss;
  uint16_t mss;            /* MSS we advertise and send at most: 1..8960, lowered to the MTU's */
  uint32_t snd_buf;        /* bytes of send buffer per connection, >= 1 */
  uint32_t rcv_buf;        /* bytes of receive buffer; the window is min(free, 65535) */
  uint64_t rto_initial_ns; /* before any RTT sample (RFC 6298 §2.1: 1 s) */
  uint64_t rto_min_ns;     /* RFC 6298 §2.4 says 1 s; Linux uses 200 ms */
  uint64_t rto_max_ns;     /* RFC 6298 §2.5: at least 60 s */
  uint64_t time_wait_ns;   /* 2*MSL (RFC 9293 §3.4.2 suggests MSL = 2 min; simulations
                           * shorten it) */
  unsigned max_retries;    /* consecutive timeouts before the connection is dropped */
  unsigned max_conns;      /* connections in any state, listeners excluded */
} net_tcp_config;

/* seed 0, random ISS, MSS the largest the MTU allows (1460 at 1500), 64 KiB
 * buffers, RTO 1 s initial / 200 ms min / 60 s max, TIME-WAIT 1 s, 8
 * retries, NET_TCP_DEFAULT_MAX_CONNS connections. */
void net_tcp_config_default(net_tcp_config *cfg);
/* Replaces ifc's TCP configuration (net_iface_init installs the default with
 * a seed taken from the iface's address). Returns 0, EMU_EINVAL for values
 * out of range, or EMU_ESTATE while connections exist. */
int net_tcp_configure(net_iface *ifc, const net_tcp_config *cfg);

/* ---- connections ----------------------------------------------------------------- */

typedef enum net_tcp_state {
  NET_TCP_CLOSED = 0,
  NET_TCP_SYN_SENT,
  NET_TCP_SYN_RECEIVED,
  NET_TCP_ESTABLISHED,
  NET_TCP_FIN_WAIT_1,
  NET_TCP_FIN_WAIT_2,
  NET_TCP_CLOSE_WAIT,
  NET_TCP_CLOSING,
  NET_TCP_LAST_ACK,
  NET_TCP_TIME_WAIT,
} net_tcp_state;

typedef enum net_tcp_close_reason {
  NET_TCP_OPEN = 0,       /* not closed */
  NET_TCP_CLOSED_NORMAL,  /* both FINs exchanged and acknowledged */
  NET_TCP_CLOSED_RESET,   /* the peer sent a RST */
  NET_TCP_CLOSED_TIMEOUT, /* max_retries timeouts in a row */
  NET_TCP_CLOSED_ABORTED, /* net_tcp_abort(), or closed before the SYN was answered */
} net_tcp_close_reason;

/* Events passed to a connection's callback (a bit set). */
enum {
  NET_TCP_EV_ESTABLISHED = 1, /* handshake complete (for a listener: a new connection) */
  NET_TCP_EV_READABLE = 2,    /* new in-order data to net_tcp_recv() */
  NET_TCP_EV_WRITABLE = 4,    /* acknowledged data freed send buffer space */
  NET_TCP_EV_PEER_CLOSED = 8, /* the peer's FIN arrived: recv returns 0 once drained */
  NET_TCP_EV_CLOSED = 16,     /* the connection is CLOSED: see net_tcp_info.close_reason */
};

typedef void (*net_tcp_event_fn)(void *ctx, net_tcp_conn *c, unsigned events, uint64_t now_ns);

typedef struct net_tcp_conn_stats {
  uint64_t segs_in, segs_out, bytes_in, bytes_out; /* bytes: payload, first copies only */
  uint64_t retransmits;                            /* segments sent again, for any reason */
  uint64_t timeouts;                               /* RTO expiries */
  uint64_t fast_retransmits;                       /* third duplicate ACKs acted on */
  uint64_t dup_acks;                               /* duplicate ACKs received (RFC 5681 §2) */
  uint64_t ooo_segments;                           /* segments buffered out of order */
  uint64_t rejected; /* segments not acceptable (answered with ACK/RST or dropped) */
} net_tcp_conn_stats;

typedef struct net_tcp_info {
  net_tcp_state state;
  net_tcp_close_reason close_reason;
  uint32_t local_ip, remote_ip;
  uint16_t local_port, remote_port;
  uint32_t iss, irs, snd_una, snd_nxt, rcv_nxt;
  uint32_t snd_wnd, rcv_wnd, cwnd, ssthresh;
  uint16_t snd_mss;                    /* what we send: min(peer's MSS, ours) */
  uint64_t srtt_ns, rttvar_ns, rto_ns; /* srtt/rttvar 0 before the first sample */
  size_t send_queued;                  /* bytes in the send buffer (unacknowledged or unsent) */
  size_t recv_ready;                   /* bytes net_tcp_recv() can return now */
  net_tcp_conn_stats stats;
} net_tcp_info;

/* Listens on port: each SYN creates a connection; when its handshake
 * completes fn(ctx, conn, NET_TCP_EV_ESTABLISHED, now) hands it to the
 * application, and later events of that connection go to the same fn/ctx.
 * Returns 0, EMU_EINVAL (port 0 or fn NULL), EMU_ESTATE (port taken) or
 * EMU_ENOSPC (NET_TCP_MAX_LISTENERS reached). */
int net_tcp_listen(net_iface *ifc, uint16_t port, net_tcp_event_fn fn, void *ctx);
/* Stops listening; established connections are not affected. EMU_EINVAL when
 * nobody listens on port. */
int net_tcp_unlisten(net_iface *ifc, uint16_t port);

/* Active open to dst_ip:dst_port from src_port (0: the next free ephemeral
 * port). Sends the SYN now (or queues it behind ARP) and stores the
 * connection in *out. Returns 0, EMU_EINVAL (bad address or port 0),
 * EMU_ESTATE (that 4-tuple is in use), EMU_ENOSPC (max_conns reached or no
 * free port) or EMU_ENOMEM. */
int net_tcp_connect(net_iface *ifc, uint32_t dst_ip, uint16_t dst_port, uint16_t src_port,
                    uint64_t now_ns, net_tcp_conn **out);
/* Sets the callback for c's events (NULL: none; poll with net_tcp_info). */
void net_tcp_set_handler(net_tcp_conn *c, net_tcp_event_fn fn, void *ctx);

/* Copies up to len bytes into the send buffer and sends what the windows
 * allow. Returns the bytes taken (0 when the buffer is full), or EMU_ESTATE
 * once the connection is closed for sending (after net_tcp_close, or not
 * open). Data given before the handshake completes waits for it. */
int net_tcp_send(net_tcp_conn *c, const uint8_t *data, size_t len, uint64_t now_ns);
/* Moves up to cap in-order bytes to buf (buf NULL: discards them). Returns
 * the count; 0 at end of stream (the peer's FIN and all data read);
 * EMU_EAGAIN when nothing is ready yet; EMU_ESTATE after a reset or abort.
 * Reading opens the window: a window update is sent when it grew by at
 * least an MSS or half the buffer (RFC 9293 §3.8.6.2.2). */
int net_tcp_recv(net_tcp_conn *c, uint8_t *buf, size_t cap, uint64_t now_ns);
/* Copies up to cap ready bytes without consuming them; returns the count. */
size_t net_tcp_peek(const net_tcp_conn *c, uint8_t *buf, size_t cap);
/* Free space in the send buffer. */
size_t net_tcp_send_space(const net_tcp_conn *c);
/* Closes the sending direction: a FIN follows the queued data. Receiving
 * goes on until the peer's FIN. Before the SYN is answered the connection
 * is simply dropped (RFC 9293 §3.10.4). Returns 0 or EMU_ESTATE when already
 * closed for sending. */
int net_tcp_close(net_tcp_conn *c, uint64_t now_ns);
/* Sends a RST (when synchronized) and drops the connection at once. */
void net_tcp_abort(net_tcp_conn *c, uint64_t now_ns);
/* Gives c back to the stack: the handle is invalid afterwards. An open
 * connection is closed as by net_tcp_close(); data arriving later is
 * acknowledged and discarded. */
void net_tcp_release(net_tcp_conn *c, uint64_t now_ns);
net_tcp_state net_tcp_get_state(const net_tcp_conn *c);
void net_tcp_get_info(const net_tcp_conn *c, net_tcp_info *out);

/* ---- for stack/iface only -------------------------------------------------------- */

/* The TCP demux for an IPv4 packet net_ipv4_check() accepted. Fates:
 * ANSWERED (the stack sent a segment while handling it: SYN-ACK, ACK, echoed
 * data, ...), DELIVERED (accepted, nothing sent), REJECTED (not acceptable in
 * the connection's state), NO_LISTENER (no connection or listener: RST sent
 * unless it was a RST), SOCKET_FULL (a SYN over max_conns), MALFORMED,
 * BAD_CHECKSUM, UNSUPPORTED (to a broadcast address). */
emu_fate net_tcp_input(net_iface *ifc, const uint8_t *ip_pkt, uint64_t now_ns);
/* Runs the retransmission and TIME-WAIT timers due at now_ns. */
void net_tcp_poll(net_iface *ifc, uint64_t now_ns);
/* Earliest timer, EMU_TIME_NEVER when none is armed. */
uint64_t net_tcp_poll_at(const net_iface *ifc);
/* Frees every connection and forgets every listener of ifc. */
void net_tcp_free_all(net_iface *ifc);

#endif
