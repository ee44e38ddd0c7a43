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
#include "stack/reasm.h"
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
/* Hop Limit of the IPv6 packets sent other than Neighbor Discovery's (RFC
 * 4861 §6.3.2 leaves the default to the link; 64 as for IPv4). */
#define NET_IFACE_HOP_LIMIT 64
/* IPv6 neighbours cached (RFC 4861 §5.1 Neighbor Cache), bounded as ARP's. */
#define NET_IFACE_ND_CACHE_SIZE 16

typedef struct net_iface_config {
  uint8_t mac[NET_MAC_LEN];
  uint32_t ip;      /* host order */
  uint32_t netmask; /* host order, e.g. 0xffffff00 for /24 */
  uint32_t gateway; /* host order; 0 when there is none (off-subnet unreachable) */
  uint16_t mtu;     /* NET_IFACE_MTU_MIN..NET_IFACE_MTU_MAX; 0: NET_IFACE_MTU */
  /* IPv6: the link-local address comes from mac (modified EUI-64, RFC 4291
   * Appendix A) and is always there. ip6 is an optional static global
   * address, on link with its /64 (all zero: none). With slaac set, a
   * Router Advertisement's autonomous /64 prefix gives one (RFC 4862 §5.5.3)
   * when ip6 is not set. */
  uint8_t ip6[NET_IPV6_ADDR_LEN];
  uint8_t slaac;
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
  /* IPv6 Neighbor Discovery (RFC 4861); echo replies over IPv6 count in
   * echo_replies_sent */
  uint64_t nd_solicits_sent, nd_adverts_sent, nd_router_solicits_sent;
  uint64_t nd_unresolved;     /* IPv6 packets dropped: their next hop never answered */
  uint64_t ip_fragments_sent; /* IPv4 fragments of datagrams larger than the link */
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

/* An IPv6 neighbour (RFC 4861 §5.1): REACHABLE until replaced; no
 * reachability confirmation (NUD) is done. */
typedef struct net_iface_nd_entry {
  uint8_t ip6[NET_IPV6_ADDR_LEN];
  uint8_t used; /* 0: slot free */
  uint8_t mac[NET_MAC_LEN];
  uint64_t last_used;
} net_iface_nd_entry;

/* An IPv6 neighbour being resolved (RFC 4861 §7.2.2: the INCOMPLETE state). */
typedef struct net_iface_nd_wait {
  uint8_t ip6[NET_IPV6_ADDR_LEN];
  uint8_t used; /* 0: slot free */
  unsigned tries;
  uint64_t deadline_ns;
} net_iface_nd_wait;

/* net_iface_pending.next_hop of a packet that waits for an IPv6 neighbour
 * (next_hop6); never an IPv4 next hop, broadcasts are not queued. */
#define NET_IFACE_NEXT_HOP_IPV6 0xffffffffu

typedef struct net_iface_pending {
  uint32_t next_hop; /* 0: taken out of the queue; NET_IFACE_NEXT_HOP_IPV6: next_hop6 */
  uint8_t next_hop6[NET_IPV6_ADDR_LEN];
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
  net_reasm reasm;             /* IPv4 datagrams arriving in fragments */
  net_iface_rx_replies rx;
  uint16_t mtu; /* cfg.mtu, 0 resolved */
  /* IPv6 */
  uint8_t ip6_ll[NET_IPV6_ADDR_LEN];     /* link-local, from the MAC */
  uint8_t ip6_global[NET_IPV6_ADDR_LEN]; /* static or SLAAC; all zero: none */
  uint8_t ip6_router[NET_IPV6_ADDR_LEN]; /* default router from an RA; zero: none */
  uint8_t ip6_onlink[8];                 /* a /64 an RA said is on link */
  uint8_t ip6_onlink_set;
  net_iface_nd_entry nd_cache[NET_IFACE_ND_CACHE_SIZE];
  net_iface_nd_wait nd_waits[NET_IFACE_ARP_QUEUE_SIZE];
  struct net_udp_rx_ctx {       /* the datagram whose handler runs now */
    const struct net_ip_rx *rx; /* NULL outside a handler */
    uint16_t src_port;
  } udp_rx;
  uint8_t scratch[NET_IFACE_FRAME_BUF]; /* outgoing frames are built here */
  uint8_t *big; /* a datagram larger than the link, before its fragments; on first use */
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
 *   UNSUPPORTED   other ethertypes (VLAN, ...), non-Ethernet/IPv4 ARP or
 *                 other ARP operations, IPv4 fragments, other IP protocols,
 *                 ICMP types other than echo/echo reply, broadcast echo
 *                 requests, echo requests too large to answer
 *   NO_LISTENER   echo reply matching no pending ping; UDP to a closed port
 *                 (ICMP port unreachable sent unless broadcast); TCP to a
 *                 closed port (RST sent unless it was a RST)
 *   IPv6 (to our link-local or global address, all-nodes, or our
 *   solicited-node groups at 33:33:ff:xx:xx:xx; RFC 8200, RFC 4861):
 *     ANSWERED     Neighbor Solicitation for our address (NA sent, or
 *                  queued as above); echo request (RFC 4443 §4.2)
 *     DELIVERED    Neighbor Advertisement for an entry cached or being
 *                  resolved; Router Advertisement (router, prefix, SLAAC);
 *                  Next Header 59
 *     NOT_FOR_GUEST another IPv6 address or group; an NS for another target;
 *                  an NA nobody asked for
 *     MALFORMED    short header, Payload Length past the frame, version not
 *                  6, multicast source, bad extension header, ND message
 *                  without Hop Limit 255 or too short, bad ND options
 *     BAD_CHECKSUM ICMPv6, UDP (0 included, RFC 8200 §8.1) or TCP checksum
 *     UNSUPPORTED  fragments, Routing headers with segments left, options
 *                  that may not be skipped, ESP/AH/unknown Next Header,
 *                  ICMPv6 errors, MLD, Router Solicitations
 *   (UDP and TCP fates in full: net_udp_input(), net_tcp_input().)
 * The frame's fate is also counted in stats.rx_fates (a deferred one under
 * PENDING until it is reported, then under its fate). */
emu_fate net_iface_input(void *ifc, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Sends an ICMP echo request to dst_ip with payload_len deterministic payload
 * bytes (byte i is i & 0xff), and records it as a pending ping. When the next
 * hop's MAC is unknown the packet waits for ARP (see stats). Returns 0 when
 * the request was sent or queued (in fragments when larger than the link);
 * EMU_EINVAL when payload_len exceeds NET_ICMP_MAX_DATA4 (65,507), dst_ip
 * is our own address, 0 or multicast, or dst_ip is
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

/* IPv6 addresses of ifc: *ll receives the link-local one, *global the
 * global one (static or from SLAAC) or NULL when there is none. */
void net_iface_ip6_addrs(const net_iface *ifc, const uint8_t **ll, const uint8_t **global);
/* Sends a Router Solicitation (RFC 4861 §6.3.7) from the link-local address
 * to all routers, so that a router's answer (an RA) arrives now rather than
 * at its next periodic one; with cfg.slaac the RA's prefix gives an
 * address. Returns 0 or the port's error. */
int net_iface_router_solicit(net_iface *ifc, uint64_t now_ns);
/* Copies the cached MAC of IPv6 neighbour ip6; 0 or EMU_EAGAIN. */
int net_iface_nd_lookup(const net_iface *ifc, const uint8_t *ip6, uint8_t mac_out[NET_MAC_LEN]);

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

/* The two addresses of a transport's exchange, of either family: local is
 * ours, remote the peer's. The IPv6 pointers borrow 16 bytes each. */
typedef struct net_ip_ends {
  int v6;
  uint32_t local, remote; /* IPv4, host order */
  const uint8_t *local6, *remote6;
} net_ip_ends;

/* An IP packet to us, as the transports see it (net_udp_input,
 * net_tcp_input): local is the packet's destination, remote its source. */
typedef struct net_ip_rx {
  net_ip_ends ends;
  const uint8_t *pkt; /* the IP packet, its IPv4 or IPv6 header first */
  const uint8_t *l4;  /* the transport header */
  size_t l4_len;      /* from the IP length fields, link padding excluded */
  int to_unicast;     /* the destination is our unicast address */
} net_ip_rx;

/* Where a transport builds its packet for ends (IPv4 or IPv6 offsets);
 * *cap receives the room there. */
uint8_t *net_iface_l4_buf_ends(net_iface *ifc, const net_ip_ends *ends, size_t *cap);
/* Sends the l4_len bytes at net_iface_l4_buf_ends() from ends->local to
 * ends->remote, as net_iface_ip_send() does, in the family of ends. */
int net_iface_ends_send(net_iface *ifc, const net_ip_ends *ends, uint8_t protocol, size_t l4_len,
                        uint64_t now_ns);
/* Answers the packet rx with a port unreachable of its family (ICMP type 3
 * code 3, or ICMPv6 type 1 code 4 under RFC 4443 §2.4(e)'s exceptions). */
int net_iface_port_unreachable(net_iface *ifc, const net_ip_rx *rx, uint64_t now_ns);

/* Where a transport builds its packet (the IPv4 payload) before calling
 * net_iface_ip_send(); *cap receives the room there (NET_IFACE_MTU - 20). */
uint8_t *net_iface_l4_buf(net_iface *ifc, size_t *cap);
/* Where a transport builds an IPv4 payload of l4_len bytes: scratch when it
 * fits the link, else a buffer of up to 65,515 bytes that net_iface_ip_send
 * sends in fragments (allocated on first use: NULL when that fails). */
uint8_t *net_iface_l4_buf_big(net_iface *ifc, size_t l4_len, size_t *cap);
/* Sends the l4_len bytes at net_iface_l4_buf() (or net_iface_l4_buf_big())
 * to dst as an IPv4 packet of the given protocol, in fragments when larger
 * than the link (RFC 791 §3.2): to the next hop's MAC, or queued while ARP
 * resolves it. Returns 0, EMU_EINVAL (no route, unusable address, too long),
 * EMU_ENOSPC (ARP queue full) or the port's error. */
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
