/* The guest as a client: actions the guest's own application runs, in
 * order, on its net_iface, once the guest is up (holds an address: at once
 * with a static one, after the DHCP exchange with net_client_start_dhcp()).
 *
 *   get URL               HTTP/1.1 GET (stack/httpc.h); a host name is
 *                         resolved first (stack/dns.h). Result: status,
 *                         body length and its SHA-256; the body itself when
 *                         kept (net_client_add's keep_body)
 *   resolve NAME          an A query to the DNS server. Result: the address
 *                         and its TTL
 *   tcp A.B.C.D:PORT DATA connect, send DATA, close the sending side, read
 *                         until the server closes. Result: bytes each way and
 *                         the first NET_CLIENT_KEEP_MAX bytes received
 *   udp A.B.C.D:PORT DATA send DATA in one datagram and wait for one reply
 *                         (resent up to NET_CLIENT_UDP_TRIES times)
 *
 * DATA may use the escapes \n \r \t \\ \xHH. Each action has a deadline
 * (NET_CLIENT_ACTION_TIMEOUT_NS of virtual time, on top of the stack's own
 * timers) and ends OK or FAILED with a one-line reason; a failed action
 * does not stop the ones after it. Everything runs from net_client_poll(),
 * called from the guest's network loop with the virtual time: nothing reads
 * a clock, and the xid, query ids and TCP ISSs come from seeded PRNGs, so a
 * simulated run of the same actions is the same run. The only heap memory
 * is a kept body (freed by net_client_close()). */
#ifndef VNETSIM_STACK_CLIENT_H
#define VNETSIM_STACK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "emu/rng.h"
#include "emu/sha256.h"
#include "stack/dhcp.h"
#include "stack/dns.h"
#include "stack/httpc.h"

#define NET_CLIENT_MAX_ACTIONS 32
#define NET_CLIENT_TEXT_MAX    1200 /* an action as the user wrote it */
#define NET_CLIENT_DATA_MAX    1024 /* DATA of a flow, unescaped */
#define NET_CLIENT_KEEP_MAX    256  /* bytes of a flow's answer kept for the report */
#define NET_CLIENT_ERROR_MAX   200
/* A kept body larger than this fails the action rather than the host. */
#define NET_CLIENT_BODY_MAX (64u << 20)
/* Virtual time an action may take at most. */
#define NET_CLIENT_ACTION_TIMEOUT_NS 30000000000ull
/* A UDP flow resends its datagram after 1 s, 3 sends in all. */
#define NET_CLIENT_UDP_RETRY_NS 1000000000ull
#define NET_CLIENT_UDP_TRIES    3

typedef enum net_client_kind {
  NET_CLIENT_GET = 0,
  NET_CLIENT_RESOLVE,
  NET_CLIENT_TCP,
  NET_CLIENT_UDP,
} net_client_kind;

typedef enum net_client_status {
  NET_CLIENT_QUEUED = 0,
  NET_CLIENT_RUNNING,
  NET_CLIENT_OK,
  NET_CLIENT_FAILED,
} net_client_status;

typedef struct net_client_result {
  net_client_status status;
  char error[NET_CLIENT_ERROR_MAX]; /* FAILED: why */
  uint64_t started_ns, ended_ns;
  uint32_t ip;  /* resolve: the address; get, tcp, udp: the server's */
  uint32_t ttl; /* resolve */
  int http_status;
  uint64_t length;                   /* get: body bytes */
  char sha256[EMU_SHA256_HEX_LEN];   /* get: of the body */
  uint64_t sent, received;           /* tcp, udp: payload bytes */
  uint8_t data[NET_CLIENT_KEEP_MAX]; /* tcp, udp: the first bytes received */
  size_t data_len;
} net_client_result;

typedef struct net_client_action {
  net_client_kind kind;
  char text[NET_CLIENT_TEXT_MAX + 1];
  net_httpc_url url;               /* get */
  char name[NET_DNS_NAME_MAX + 1]; /* resolve, or get's host name */
  uint32_t ip;
  uint16_t port;
  uint8_t payload[NET_CLIENT_DATA_MAX];
  size_t payload_len;
  int keep_body;
  uint8_t *body; /* kept body (heap), body_len bytes */
  size_t body_len, body_cap;
  emu_sha256 hash;
  net_client_result result;
} net_client_action;

typedef struct net_client {
  net_iface *ifc;
  emu_rng rng;
  uint32_t dns_server; /* 0: none configured */
  int dhcp_on;
  net_dhcp dhcp;
  net_client_action actions[NET_CLIENT_MAX_ACTIONS];
  size_t nactions, current;
  /* the running action's machinery */
  int phase; /* per kind: resolving, then the transfer */
  uint64_t deadline_ns, retry_ns;
  unsigned tries;
  net_dns dns;
  net_httpc http;
  net_tcp_conn *conn;
  net_udp_sock usock;
} net_client;

/* Sets c up on ifc; seed seeds every draw (xid, DNS ids). dns_server (host
 * order) answers name lookups; 0: none (a DHCP lease's replaces it). */
void net_client_init(net_client *c, net_iface *ifc, uint64_t seed, uint32_t dns_server);
/* Takes the address by DHCP (stack/dhcp.h) before any action runs. 0 or
 * net_dhcp_start()'s error. */
int net_client_start_dhcp(net_client *c, uint64_t now_ns);
/* Parses text and queues it; returns its index, or EMU_EINVAL with a
 * one-line reason in why (an unknown action, a bad URL, name, address,
 * port or escape), EMU_ENOSPC past NET_CLIENT_MAX_ACTIONS. keep_body keeps
 * a get's body (net_client_body). */
int net_client_add(net_client *c, const char *text, int keep_body, char *why, size_t cap);
/* Runs what is due at now_ns: the DHCP exchange, then the actions in order. */
void net_client_poll(net_client *c, uint64_t now_ns);
/* When net_client_poll() has work next (EMU_TIME_NEVER: none). */
uint64_t net_client_poll_at(const net_client *c);
/* 1 when every queued action has ended (or DHCP failed, which ends them). */
int net_client_done(const net_client *c);
size_t net_client_count(const net_client *c);
/* Action i, NULL past the last. */
const net_client_action *net_client_get(const net_client *c, size_t i);
/* The DHCP client, or NULL when the address is static. */
const net_dhcp *net_client_dhcp(const net_client *c);
/* Frees kept bodies and unbinds the client's UDP sockets. Sends nothing:
 * connections still open are left to net_iface_close(), which must follow
 * (c's memory may go before it). */
void net_client_close(net_client *c);

#endif
