/* The guest network interface: one Ethernet port, one IPv4 address, an ARP
 * cache, ICMP echo (both answering and pinging), and the demux to the UDP
 * sockets (stack/udp.h) and TCP connections (stack/tcp.h) bound to it.
 *
 * The iface sends through an emu_port it is given and receives through
 * net_iface_input(), which the caller attaches as that port's receive
 * callback:
 *
 *   net_iface_init(&ifc, &cfg, port);
 *   emu_port_attach(port, net_iface_input, &ifc);
 *
 * Every received frame gets exactly one emu_fate, returned and counted in the
 * iface's stats. Time is only ever a parameter (now_ns, virtual nanoseconds):
 * timers (ARP retries, ping timeouts, TCP retransmission and TIME-WAIT) run
 * in net_iface_poll(), and net_iface_poll_at() says when that is next needed.
 * The iface never reads a clock and never prints; its only randomness is the
 * TCP ISS, drawn from a PRNG seeded through net_tcp_configure(); its only heap
 * memory is TCP connections (freed by net_iface_close()).
 *
 * The port's send must copy the frame and return before delivering anything
 * back to this iface (queue, do not call net_iface_input from inside send):
 * outgoing frames are built in one scratch buffer.
 *
 * The same code serves as the guest's stack and as the scripted host-side
 * peer (slirp's gateway identity) in tests and in the demo. */
#ifndef VNETSIM_STACK_IFACE_H
#define VNETSIM_STACK_IFACE_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"
#include "emu/port.h"
#include "emu/rng.h"
#include "stack/tcp.h"
#include "stack/udp.h"
#include "stack/wire.h"

/* IP MTU: the largest IPv4 packet sent, and queued while ARP resolves;
 * net_iface_config.mtu sets it from 68 (RFC 791's minimum) up to the jumbo
 * 9000, which sizes the frame buffers. */
#define NET_IFACE_MTU            1500
#define NET_IFACE_MTU_MIN        68
#define NET_IFACE_MTU_MAX        9000
#define NET_IFACE_FRAME_MAX      (NET_ETH_HEADER_LEN + NET_IFACE_MTU)
#define NET_IFACE_FRAME_BUF      (NET_ETH_HEADER_LEN + NET_IFACE_MTU_MAX)
#define NET_IFACE_ARP_CACHE_SIZE 16
/* IPv4 packets held while their next hop is being resolved. */
#define NET_IFACE_ARP_QUEUE_SIZE 4
/* An unanswered ARP request is repeated after this long ... */
#define NET_IFACE_ARP_RETRY_NS 1000000000ull
/* ... and given up after this many requests in all. */
#define NET_IFACE_ARP_TRIES 3
/* A ping without a reply strictly before sent_ns + this is lost. */
#define NET_IFACE_PING_TIMEOUT_NS 1000000000ull
/* Ping results kept until net_iface_ping_reset(). */
#define NET_IFACE_PING_MAX 64
/* Time to live of every IPv4 packet sent (RFC 1700's recommended default). */
#define NET_IFACE_TTL 64

typedef struct net_iface_config {
  uint8_t mac[NET_MAC_LEN];
  uint32_t ip;      /* host order */
  uint32_t netmask; /* host order, e.g. 0xffffff00 for /24 */
  uint32_t gateway; /* host order; 0 when there is none (off-subnet unreachable) */
  uint16_t mtu;     /* NET_IFACE_MTU_MIN..NET_IFACE_MTU_MAX; 0: NET_IFACE_MTU */
} net_iface_config;

/* Fills cfg with the identity libslirp gives its guest by default: MAC
 * 52:54:00:12:34:56, 10.0.2.15/24, gateway 10.0.2.2. */
void net_iface_config_slirp_guest(net_iface_config *cfg);
/* Fills cfg with slirp's own (host/gateway) identity: MAC 52:55:0a:00:02:02,
 * 10.0.2.2/24, no gateway. */
void net_iface_config_slirp_host(net_iface_config *cfg);

typedef struct net_iface_stats {
  uint64_t rx_fates[EMU_FATE_COUNT]; /* each received frame, by its fate */
  uint64_t rx_frames, rx_bytes;
  uint64_t tx_frames, tx_bytes; /* accepted by the port */
  uint64_t tx_errors;           /* frames the port refused */
  uint64_t arp_requests_sent, arp_replies_sent;
  uint64_t echo_requests_sent, echo_replies_sent; /* sent, or queued behind ARP */
  uint64_t arp_queue_full;                        /* packets dropped: the pending queue was full */
  uint64_t arp_unresolved;            /* packets dropped: their next hop never answered */
  uint64_t icmp_unreachable_sent;     /* port unreachable for closed UDP ports */
  uint64_t udp_rx, udp_tx;            /* datagrams delivered to a socket / sent */
  uint64_t tcp_segs_in, tcp_segs_out; /* segments to a connection or listener / sent */
  uint64_t tcp_rst_sent;
  uint64_t tcp_retransmits, tcp_fast_retransmits, tcp_timeouts;
  uint64_t tcp_conns_opened;       /* active opens */
  uint64_t tcp_conns_accepted;     /* passive opens that completed the handshake */
  uint64_t tcp_conns_reset;        /* closed by a RST from the peer */
  uint64_t tcp_time_wait_recycled; /* TIME-WAITs ended early for a new connection */
} net_iface_stats;

/* Writes a JSON object describing the machine (ring and stack counters) to buf,
 * at most cap - 1 bytes plus a NUL, and returns its length (truncated output
 * is cut short, not repaired). Used by the HTTP service's GET /stats. */
typedef size_t (*net_iface_stats_fn)(void *ctx, char *buf, size_t cap);

typedef enum net_ping_state {
  NET_PING_PENDING = 0,
  NET_PING_REPLIED,
  NET_PING_LOST,
} net_ping_state;

typedef struct net_ping_result {
  uint32_t dst_ip;
  uint16_t ident, seq;
  size_t payload_len;
  uint64_t sent_ns; /* when net_iface_ping() was called (ARP time counts in the RTT) */
  uint64_t rtt_ns;  /* valid when state is NET_PING_REPLIED */
  net_ping_state state;
} net_ping_result;

/* Internal state below; read it through the functions, not the fields. */
typedef struct net_iface_arp_entry {
  uint32_t ip; /* 0: slot free */
  uint8_t mac[NET_MAC_LEN];
  uint64_t last_used; /* use tick for least-recently-used replacement */
} net_iface_arp_entry;

typedef struct net_iface_arp_wait {
  uint32_t ip;          /* 0: slot free */
  unsigned tries;       /* requests sent so far */
  uint64_t deadline_ns; /* when to retry, or give up after the last try */
} net_iface_arp_wait;

typedef struct net_iface_pending {
  uint32_t next_hop; /* 0: taken out of the queue */
  /* The tag of the received frame whose fate waits for this packet
   * (net_iface_set_deferral), or EMU_PORT_NO_TAG. */
  uint64_t tag;
  uint64_t input_no; /* the net_iface_input call that queued it; 0: none */
  size_t len;        /* whole frame; its destination MAC is filled on resolve */
  uint8_t frame[NET_IFACE_FRAME_BUF];
} net_iface_pending;

/* What the frame being received now made the stack send (net_iface_input). */
typedef struct net_iface_rx_replies {
  uint64_t no;         /* numbers the inputs, from 1; 0 between inputs */
  uint64_t tag;        /* the deferral's tag for this frame */
  unsigned sent;       /* replies handed to the port */
  unsigned queued;     /* replies queued behind ARP */
  unsigned queue_full; /* replies dropped: the ARP queue was full */
} net_iface_rx_replies;

typedef struct net_iface {
  net_iface_config cfg;
  emu_port *port;
  uint16_t next_ip_ident;
  uint64_t arp_use_tick;
  net_iface_arp_entry arp_cache[NET_IFACE_ARP_CACHE_SIZE];
  net_iface_arp_wait arp_waits[NET_IFACE_ARP_QUEUE_SIZE];
  net_iface_pending pending[NET_IFACE_ARP_QUEUE_SIZE]; /* FIFO, oldest first */
  size_t npending;
  net_ping_result pings[NET_IFACE_PING_MAX];
  size_t npings;
  net_iface_stats stats;
  /* transports */
  net_udp_sock *udp_socks;
  struct net_tcp_listener {
    uint16_t port; /* 0: slot free */
    net_tcp_event_fn fn;
    void *ctx;
  } tcp_listeners[NET_TCP_MAX_LISTENERS];
  net_tcp_conn *tcp_conns;
  size_t tcp_nconns;
  net_tcp_config tcp_cfg;
  emu_rng tcp_rng;
  uint16_t next_ephemeral;
  net_iface_stats_fn stats_fn;
  void *stats_ctx;
  emu_port_deferral *deferral; /* NULL: every fate is decided during input */
  uint64_t inputs;             /* net_iface_input calls so far */
  net_iface_rx_replies rx;
  uint16_t mtu;                         /* cfg.mtu, 0 resolved */
  uint8_t scratch[NET_IFACE_FRAME_BUF]; /* outgoing frames are built here */
} net_iface;

/* Sets ifc up with cfg's identity, sending through port (which must outlive
 * ifc). Does not attach to the port: the caller does that, with
 * net_iface_input as the callback and ifc as its context. Returns 0, or
 * EMU_EINVAL when an argument is NULL, cfg->ip is 0, the MAC is a group
 * address, or the netmask is not contiguous. Holds no heap memory. */
int net_iface_init(net_iface *ifc, const net_iface_config *cfg, emu_port *port);
/* Changes the address, netmask and gateway (host order), as a DHCP client
 * does once it holds a lease (stack/dhcp.h). ip 0 leaves the iface without
 * an address: it then sends from 0.0.0.0 and takes UDP to any destination
 * at its MAC, as RFC 2131 §4.1 has a client do before its address is
 * configured. The ARP cache is kept. Returns 0, or EMU_EINVAL for a
 * netmask that is not contiguous. */
int net_iface_set_address(net_iface *ifc, uint32_t ip, uint32_t netmask, uint32_t gateway);
/* Lets a received frame's fate wait for its reply (the driver's deferral,
 * vnet_drv_deferral): net_iface_input then returns PENDING for a frame whose
 * only reply waits for ARP and reports its fate through d when that reply
 * leaves the queue. NULL (the default) decides every fate during input: a
 * reply queued behind ARP then counts as ANSWERED. d must outlive ifc. */
void net_iface_set_deferral(net_iface *ifc, emu_port_deferral *d);
/* Ends a run: every packet still waiting for ARP is dropped (counted in
 * arp_unresolved), and each frame whose fate waited for one of them gets
 * REPLY_UNRESOLVED through the deferral. Timers stay as they are. */
void net_iface_finish(net_iface *ifc, uint64_t now_ns);
/* Forgets all state (queued packets are dropped uncounted), frees every TCP
 * connection (handles become invalid) and unbinds every UDP socket. ifc may be
 * initialised again afterwards. Does not detach from the port. */
void net_iface_close(net_iface *ifc);

/* The receive callback (an emu_port_rx_fn; ifc is the net_iface). Handles one
 * Ethernet frame, valid only during the call, and returns its fate:
 *   ANSWERED      a reply to it was handed to the port during the call: ARP
 *                 request for our IP; echo request to our IP; a TCP segment
 *                 or UDP datagram a service answered (see below). Without a
 *                 deferral (net_iface_set_deferral) also a reply queued
 *                 behind ARP.
 *   PENDING       with a deferral: its replies all wait for ARP. The fate
 *                 comes later through the deferral: ANSWERED when one is
 *                 sent, REPLY_UNRESOLVED when ARP gives up on it or
 *                 net_iface_finish() drops it, DELIVERED when the port
 *                 refuses it.
 *   REPLY_UNRESOLVED its reply could not even wait for ARP: the queue was full
 *   DELIVERED     ARP that taught the cache something; echo reply matching a
 *                 pending ping (RTT recorded); an ARP request or echo request
 *                 for us whose answer could not be sent (port refused it, no
 *                 route to the asker)
 *   NOT_FOR_GUEST another unicast or a multicast MAC; another IPv4 address;
 *                 an ARP for another target whose sender we do not cache
 *   MALFORMED     truncated or inconsistent at any layer; an IPv4 source that
 *                 is a broadcast or multicast address (RFC 1122 §3.2.1.3)
 *   BAD_CHECKSUM  IPv4 header or ICMP checksum does not verify
 *   UNSUPPORTED   other ethertypes (IPv6, VLAN, ...), non-Ethernet/IPv4 ARP or
 *                 other ARP operations, IPv4 fragments, other IP protocols,
 *                 ICMP types other than echo/echo reply, broadcast echo
 *                 requests, echo requests too large to answer
 *   NO_LISTENER   echo reply matching no pending ping; UDP to a closed port
 *                 (ICMP port unreachable sent unless broadcast); TCP to a
 *                 closed port (RST sent unless it was a RST)
 *   (UDP and TCP fates in full: net_udp_input(), net_tcp_input().)
 * The frame's fate is also counted in stats.rx_fates (a deferred one under
 * PENDING until it is reported, then under its fate). */
emu_fate net_iface_input(void *ifc, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Sends an ICMP echo request to dst_ip with payload_len deterministic payload
 * bytes (byte i is i & 0xff), and records it as a pending ping. When the next
 * hop's MAC is unknown the packet waits for ARP (see stats). Returns 0 when
 * the request was sent or queued; EMU_EINVAL when payload_len exceeds
 * NET_IFACE_MTU - 28, dst_ip is our own address, 0 or multicast, or dst_ip is
 * off-subnet with no gateway; EMU_ENOSPC when NET_IFACE_PING_MAX results are held or the
 * ARP queue is full (counted in arp_queue_full); or the port's error (counted
 * in tx_errors). A ping is recorded only when 0 is returned. */
int net_iface_ping(net_iface *ifc, uint32_t dst_ip, uint16_t ident, uint16_t seq,
                   size_t payload_len, uint64_t now_ns);
/* Sets *out to the ping results in the order the pings were sent and returns
 * how many there are. The array belongs to ifc and changes with it. */
size_t net_iface_ping_results(const net_iface *ifc, const net_ping_result **out);
/* Forgets every ping result, pending ones included (their replies will then
 * count as NO_LISTENER). */
void net_iface_ping_reset(net_iface *ifc);

/* Runs the timers due at now_ns: TCP retransmissions and TIME-WAIT ends
 * (net_tcp_poll); repeats ARP requests every
 * NET_IFACE_ARP_RETRY_NS, and after NET_IFACE_ARP_TRIES unanswered ones drops
 * the packets waiting for that address (counted in arp_unresolved); marks
 * pings LOST once NET_IFACE_PING_TIMEOUT_NS passed without a reply. */
void net_iface_poll(net_iface *ifc, uint64_t now_ns);
/* The earliest virtual time at which net_iface_poll() has work, or
 * EMU_TIME_NEVER when no timer is armed. */
uint64_t net_iface_poll_at(const net_iface *ifc);

/* Copies the cached MAC of ip to mac_out; 0, or EMU_EAGAIN when ip is not in
 * the ARP cache. Does not count as a use for the replacement order. */
int net_iface_arp_lookup(const net_iface *ifc, uint32_t ip, uint8_t mac_out[NET_MAC_LEN]);
/* The iface's counters; the pointer stays valid as long as ifc. */
const net_iface_stats *net_iface_stats_get(const net_iface *ifc);

/* Sets what the HTTP service's GET /stats returns (the stack cannot see the
 * driver or the device: the embedder can). fn NULL restores the default,
 * net_iface_stats_json(). */
void net_iface_set_stats_fn(net_iface *ifc, net_iface_stats_fn fn, void *ctx);
/* Calls the registered stats function (or the default). */
size_t net_iface_stats_report(const net_iface *ifc, char *buf, size_t cap);
/* The default report: this iface's counters and fates as one JSON object. */
size_t net_iface_stats_json(const net_iface *ifc, char *buf, size_t cap);

/* ---- for the stack's transports (stack/udp.c, stack/tcp.c) ------------------ */

/* Where a transport builds its packet (the IPv4 payload) before calling
 * net_iface_ip_send(); *cap receives the room there (NET_IFACE_MTU - 20). */
uint8_t *net_iface_l4_buf(net_iface *ifc, size_t *cap);
/* Sends the l4_len bytes at net_iface_l4_buf() to dst as an IPv4 packet of
 * the given protocol: to the next hop's MAC, or queued while ARP resolves
 * it. Returns 0, EMU_EINVAL (no route, unusable address, too long), EMU_ENOSPC
 * (ARP queue full) or the port's error. */
int net_iface_ip_send(net_iface *ifc, uint32_t dst, uint8_t protocol, size_t l4_len,
                      uint64_t now_ns);
/* 1 when ip is a broadcast address on ifc's subnet (or 255.255.255.255). */
int net_iface_is_broadcast(const net_iface *ifc, uint32_t ip);
/* Answers the IPv4 packet ip_pkt (accepted by net_ipv4_check, addressed to
 * us) with ICMP destination unreachable of the given code, quoting its
 * header and first 8 payload bytes (RFC 792; RFC 1122 §3.2.2). Returns 0 when
 * sent or queued, EMU_EINVAL when RFC 1122 §3.2.2 forbids an error about it
 * (not to our unicast address, an ICMP error itself, a non-first fragment),
 * or a send error. */
int net_iface_icmp_unreachable(net_iface *ifc, const uint8_t *ip_pkt, uint8_t code,
                               uint64_t now_ns);

#endif
