/* The guest network interface: one Ethernet port, one IPv4 address, an ARP
 * cache, ICMP echo (both answering and pinging).
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
 * timers (ARP retries, ping timeouts) run in net_iface_poll(), and
 * net_iface_poll_at() says when that is next needed. The iface never reads a
 * clock, never draws a random number, never allocates, never prints.
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
#include "stack/wire.h"

/* IP MTU: the largest IPv4 packet sent, and queued while ARP resolves. */
#define NET_IFACE_MTU 1500
#define NET_IFACE_FRAME_MAX (NET_ETH_HEADER_LEN + NET_IFACE_MTU)
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
  uint32_t ip;       /* host order */
  uint32_t netmask;  /* host order, e.g. 0xffffff00 for /24 */
  uint32_t gateway;  /* host order; 0 when there is none (off-subnet unreachable) */
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
  uint64_t tx_frames, tx_bytes;      /* accepted by the port */
  uint64_t tx_errors;                /* frames the port refused */
  uint64_t arp_requests_sent, arp_replies_sent;
  uint64_t echo_requests_sent, echo_replies_sent; /* sent, or queued behind ARP */
  uint64_t arp_queue_full;  /* packets dropped: the pending queue was full */
  uint64_t arp_unresolved;  /* packets dropped: their next hop never answered */
} net_iface_stats;

typedef enum net_ping_state {
  NET_PING_PENDING = 0,
  NET_PING_REPLIED,
  NET_PING_LOST,
} net_ping_state;

typedef struct net_ping_result {
  uint32_t dst_ip;
  uint16_t ident, seq;
  size_t payload_len;
  uint64_t sent_ns;  /* when net_iface_ping() was called (ARP time counts in the RTT) */
  uint64_t rtt_ns;   /* valid when state is NET_PING_REPLIED */
  net_ping_state state;
} net_ping_result;

/* Internal state below; read it through the functions, not the fields. */
typedef struct net_iface_arp_entry {
  uint32_t ip;          /* 0: slot free */
  uint8_t mac[NET_MAC_LEN];
  uint64_t last_used;   /* use tick for least-recently-used replacement */
} net_iface_arp_entry;

typedef struct net_iface_arp_wait {
  uint32_t ip;          /* 0: slot free */
  unsigned tries;       /* requests sent so far */
  uint64_t deadline_ns; /* when to retry, or give up after the last try */
} net_iface_arp_wait;

typedef struct net_iface_pending {
  uint32_t next_hop;
  size_t len;           /* whole frame; its destination MAC is filled on resolve */
  uint8_t frame[NET_IFACE_FRAME_MAX];
} net_iface_pending;

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
  uint8_t scratch[NET_IFACE_FRAME_MAX]; /* outgoing frames are built here */
} net_iface;

/* Sets ifc up with cfg's identity, sending through port (which must outlive
 * ifc). Does not attach to the port: the caller does that, with
 * net_iface_input as the callback and ifc as its context. Returns 0, or
 * EMU_EINVAL when an argument is NULL, cfg->ip is 0, the MAC is a group
 * address, or the netmask is not contiguous. Holds no heap memory. */
int net_iface_init(net_iface *ifc, const net_iface_config *cfg, emu_port *port);
/* Forgets all state (queued packets are dropped uncounted). ifc may be
 * initialised again afterwards. Does not detach from the port. */
void net_iface_close(net_iface *ifc);

/* The receive callback (an emu_port_rx_fn; ifc is the net_iface). Handles one
 * Ethernet frame, valid only during the call, and returns its fate:
 *   ANSWERED      ARP request for our IP (reply sent); echo request to our IP
 *                 (echo reply sent or queued behind ARP)
 *   DELIVERED     ARP that taught the cache something; echo reply matching a
 *                 pending ping (RTT recorded); an ARP request or echo request
 *                 for us whose answer could be neither sent nor queued (port
 *                 refused it, ARP queue full, no route to the asker)
 *   NOT_FOR_GUEST another unicast or a multicast MAC; another IPv4 address;
 *                 an ARP for another target whose sender we do not cache
 *   MALFORMED     truncated or inconsistent at any layer; an IPv4 source that
 *                 is a broadcast or multicast address (RFC 1122 §3.2.1.3)
 *   BAD_CHECKSUM  IPv4 header or ICMP checksum does not verify
 *   UNSUPPORTED   other ethertypes (IPv6, VLAN, ...), non-Ethernet/IPv4 ARP or
 *                 other ARP operations, IPv4 fragments, other IP protocols,
 *                 ICMP types other than echo/echo reply, broadcast echo
 *                 requests, echo requests too large to answer
 *   NO_LISTENER   echo reply matching no pending ping; UDP and TCP (no
 *                 sockets yet)
 * The frame's fate is also counted in stats.rx_fates. */
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

/* Runs the timers due at now_ns: repeats ARP requests every
 * NET_IFACE_ARP_RETRY_NS, and after NET_IFACE_ARP_TRIES unanswered ones drops
 * the packets waiting for that address (counted in arp_unresolved); marks
 * pings LOST once NET_IFACE_PING_TIMEOUT_NS passed without a reply. */
void net_iface_poll(net_iface *ifc, uint64_t now_ns);
/* The earliest virtual time at which net_iface_poll() has work, or UINT64_MAX
 * when no timer is armed. */
uint64_t net_iface_poll_at(const net_iface *ifc);

/* Copies the cached MAC of ip to mac_out; 0, or EMU_EAGAIN when ip is not in
 * the ARP cache. Does not count as a use for the replacement order. */
int net_iface_arp_lookup(const net_iface *ifc, uint32_t ip, uint8_t mac_out[NET_MAC_LEN]);
/* The iface's counters; the pointer stays valid as long as ifc. */
const net_iface_stats *net_iface_stats_get(const net_iface *ifc);

#endif
