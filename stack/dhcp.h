/* A DHCP client (RFC 2131, options of RFC 2132) on a net_iface: it takes the
 * iface's address from a server instead of a static one.
 *
 *   INIT --DISCOVER--> SELECTING --OFFER / REQUEST--> REQUESTING --ACK--> BOUND
 *                                                         |--NAK--> INIT again
 *
 * RFC 2131 §3.1's exchange, one message at a time: the client broadcasts a
 * DHCPDISCOVER from 0.0.0.0, takes the first valid DHCPOFFER, asks for it
 * with a DHCPREQUEST naming the server (option 54) and the address (option
 * 50), and on the DHCPACK configures the iface (net_iface_set_address) with
 * the address, the subnet mask (option 1) and the first router (option 3);
 * the first DNS server (option 6) and the lease time (option 51) are kept in
 * the lease for the embedder. A DHCPNAK starts over (§3.1 step 5), at most
 * NET_DHCP_MAX_NAKS times.
 *
 * Retransmission (§4.1): an unanswered message is sent again after 4 s,
 * then 8, 16, 32 and at most 64 s, each randomized by -1..+1 s; after
 * NET_DHCP_TRIES sends without a valid answer the client gives up (state
 * FAILED, with the reason). Time is only ever an argument (virtual ns), and
 * the xid and the jitter come from a PRNG seeded by the caller.
 *
 * Every reply is checked before it is believed (net_dhcp_parse): length,
 * op, hardware type and length, the magic cookie, every option's length
 * inside the message, the xid, our hardware address, the message type.
 * One that fails is counted and ignored, as §4.1 says of a wrong xid: the
 * exchange goes on and only the timeout ends it.
 *
 * Not done: renewing the lease (T1/T2, §4.4.5), DHCPDECLINE after an ARP
 * check, DHCPRELEASE, the overloaded sname/file fields (option 52). */
#ifndef VNETSIM_STACK_DHCP_H
#define VNETSIM_STACK_DHCP_H

#include <stddef.h>
#include <stdint.h>

#include "emu/rng.h"
#include "stack/udp.h"

/* RFC 2131 §4.1: the ports. */
#define NET_DHCP_SERVER_PORT 67
#define NET_DHCP_CLIENT_PORT 68

/* RFC 2131 §2 "Protocol Summary": the fixed fields, the magic cookie of §3
 * (99.130.83.99) after them, then the options. */
#define NET_DHCP_OFF_OP         0
#define NET_DHCP_OFF_HTYPE      1
#define NET_DHCP_OFF_HLEN       2
#define NET_DHCP_OFF_HOPS       3
#define NET_DHCP_OFF_XID        4
#define NET_DHCP_OFF_SECS       8
#define NET_DHCP_OFF_FLAGS      10
#define NET_DHCP_OFF_CIADDR     12
#define NET_DHCP_OFF_YIADDR     16
#define NET_DHCP_OFF_SIADDR     20
#define NET_DHCP_OFF_GIADDR     24
#define NET_DHCP_OFF_CHADDR     28
#define NET_DHCP_CHADDR_LEN     16
#define NET_DHCP_OFF_COOKIE     236
#define NET_DHCP_OFF_OPTIONS    240
#define NET_DHCP_COOKIE         0x63825363u
#define NET_DHCP_OP_REQUEST     1 /* BOOTREQUEST */
#define NET_DHCP_OP_REPLY       2 /* BOOTREPLY */
#define NET_DHCP_HTYPE_ETHERNET 1
/* RFC 2131 §2 "flags": ask the server to broadcast its reply, for a client
 * that cannot take unicast before it has an address. */
#define NET_DHCP_FLAG_BROADCAST 0x8000u

/* RFC 2132 option codes used here. */
#define NET_DHCP_OPT_PAD          0
#define NET_DHCP_OPT_SUBNET_MASK  1
#define NET_DHCP_OPT_ROUTER       3
#define NET_DHCP_OPT_DNS          6
#define NET_DHCP_OPT_REQUESTED_IP 50
#define NET_DHCP_OPT_LEASE_TIME   51
#define NET_DHCP_OPT_MSG_TYPE     53
#define NET_DHCP_OPT_SERVER_ID    54
#define NET_DHCP_OPT_PARAM_LIST   55
#define NET_DHCP_OPT_END          255

/* RFC 2132 §9.6: DHCP message types. */
#define NET_DHCP_DISCOVER 1
#define NET_DHCP_OFFER    2
#define NET_DHCP_REQUEST  3
#define NET_DHCP_ACK      5
#define NET_DHCP_NAK      6

/* RFC 2131 §4.1: the first retransmission after 4 s, doubled up to 64 s,
 * each randomized by up to 1 s either way. */
#define NET_DHCP_RETRY_FIRST_NS 4000000000ull
#define NET_DHCP_RETRY_MAX_NS   64000000000ull
#define NET_DHCP_JITTER_NS      1000000000ull
/* Sends of one message before the client gives up (4 + 8 + 16 + 32 s). */
#define NET_DHCP_TRIES 4
/* DHCPNAKs taken (each a fresh start) before the client gives up. */
#define NET_DHCP_MAX_NAKS 3
/* What the client builds: the fixed part, the cookie and its few options. */
#define NET_DHCP_MSG_MAX 300

/* A reply, as net_dhcp_parse() reads it. Addresses in host order; 0 when the
 * message did not carry the option. */
typedef struct net_dhcp_msg {
  uint8_t type; /* option 53 */
  uint32_t xid;
  uint32_t yiaddr;
  uint32_t server_id;
  uint32_t subnet_mask;
  uint32_t router;  /* the first of option 3 */
  uint32_t dns;     /* the first of option 6 */
  uint32_t lease_s; /* option 51; 0 when absent */
  int has_lease;
  uint8_t chaddr[6];
} net_dhcp_msg;

/* Reads a DHCP message from a server (the UDP payload). Returns 0, or
 * EMU_EFORMAT with a one-line reason in *why (a static string): shorter than
 * the fixed part, not a BOOTREPLY, not Ethernet, no magic cookie, an option
 * running past the end or of the wrong length, no END, no message type. */
int net_dhcp_parse(const uint8_t *msg, size_t len, net_dhcp_msg *out, const char **why);

typedef enum net_dhcp_state {
  NET_DHCP_IDLE = 0,
  NET_DHCP_SELECTING,  /* DISCOVER sent, waiting for an OFFER */
  NET_DHCP_REQUESTING, /* REQUEST sent, waiting for the ACK */
  NET_DHCP_BOUND,      /* the lease is ours, the iface configured */
  NET_DHCP_FAILED,     /* gave up: see net_dhcp.error */
} net_dhcp_state;

typedef struct net_dhcp_lease {
  uint32_t ip, netmask, gateway, dns, server;
  uint32_t lease_s; /* 0xffffffff: infinite (RFC 2132 §9.2) */
  uint64_t bound_ns;
} net_dhcp_lease;

typedef struct net_dhcp_stats {
  uint64_t discovers_sent, requests_sent;
  uint64_t offers, acks, naks;
  uint64_t ignored; /* replies that failed a check (last_ignored says which) */
} net_dhcp_stats;

/* Fields are private: use the functions. */
typedef struct net_dhcp {
  net_iface *ifc;
  net_udp_sock sock;
  emu_rng rng;
  net_dhcp_state state;
  uint32_t xid;
  uint32_t offered_ip, offered_server;
  unsigned tries; /* sends of the current message */
  unsigned naks;
  uint64_t retry_wait_ns; /* the wait before the current send's timeout, before jitter */
  uint64_t deadline_ns;   /* when to send again or give up */
  uint64_t start_ns;
  net_dhcp_lease lease;
  net_dhcp_stats stats;
  const char *last_ignored;
  char error[160];
} net_dhcp;

/* Binds port 68 on ifc, takes its address away (RFC 2131 §4.1: the client
 * has none) and broadcasts the first DHCPDISCOVER. seed seeds the xid and
 * the jitter. Returns 0, EMU_EINVAL, EMU_ESTATE (port 68 taken), or the
 * error of the first send. d must stay put until net_dhcp_close(). */
int net_dhcp_start(net_dhcp *d, net_iface *ifc, uint64_t seed, uint64_t now_ns);
/* Unbinds; the iface keeps whatever address it has. */
void net_dhcp_close(net_dhcp *d);
/* Runs the retransmission timer due at now_ns. */
void net_dhcp_poll(net_dhcp *d, uint64_t now_ns);
/* When net_dhcp_poll() has work next; EMU_TIME_NEVER once BOUND or FAILED. */
uint64_t net_dhcp_poll_at(const net_dhcp *d);
net_dhcp_state net_dhcp_get_state(const net_dhcp *d);
/* The lease once BOUND (NULL before). */
const net_dhcp_lease *net_dhcp_get_lease(const net_dhcp *d);
/* Why the client gave up (FAILED), else "". */
const char *net_dhcp_error(const net_dhcp *d);
const net_dhcp_stats *net_dhcp_stats_get(const net_dhcp *d);

#endif
