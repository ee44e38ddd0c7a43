/* Small services a guest runs on its iface: echo (RFC 862), discard (RFC 863)
 * and a tiny HTTP/1.1 server (RFC 9112).
 *
 *   UDP 7     echo: every datagram is sent back to its sender (fate ANSWERED)
 *   UDP 9     discard: every datagram is consumed (DELIVERED)
 *   TCP 8023  echo: every byte is sent back; the service closes when the peer
 *             has closed and everything was echoed (port from the Redox note)
 *   TCP 9     discard
 *   TCP 80    HTTP/1.1: "GET /" gets a short HTML page, "GET /stats" the
 *             iface's stats report (net_iface_stats_report: JSON from the
 *             embedder's callback, or the stack's own counters); HEAD gets
 *             the same headers without the body; anything else 404 (unknown
 *             path), 405 (other method, with "Allow: GET, HEAD") or 400
 *             (unparsable or over 2 KiB of request head). One request per
 *             connection: the response says "Connection: close" and the
 *             server closes. No Date header: the guest has no real clock.
 *
 * A net_services struct is caller-owned and must stay put while started (its
 * UDP sockets are linked into the iface). Nothing here allocates; the TCP
 * connections are the stack's. */
#ifndef VNETSIM_STACK_SERVICES_H
#define VNETSIM_STACK_SERVICES_H

#include <stdint.h>

#include "stack/iface.h"

#define NET_SVC_PORT_ECHO     7
#define NET_SVC_PORT_DISCARD  9
#define NET_SVC_PORT_TCP_ECHO 8023
#define NET_SVC_PORT_HTTP     80

enum {
  NET_SVC_UDP_ECHO = 1,
  NET_SVC_UDP_DISCARD = 2,
  NET_SVC_TCP_ECHO = 4,
  NET_SVC_TCP_DISCARD = 8,
  NET_SVC_HTTP = 16,
  NET_SVC_ALL = 31,
};

typedef struct net_services_stats {
  uint64_t udp_echoed, udp_discarded;         /* datagrams */
  uint64_t tcp_echo_bytes, tcp_discard_bytes; /* bytes */
  uint64_t tcp_conns;                         /* connections accepted by any service */
  uint64_t http_requests;                     /* answered with 200 */
  uint64_t http_errors;                       /* answered with 4xx */
} net_services_stats;

typedef struct net_services {
  net_iface *ifc;
  unsigned running; /* NET_SVC_* bits */
  net_udp_sock udp_echo, udp_discard;
  net_services_stats stats;
} net_services;

/* Starts the services in `which` (NET_SVC_* bits) on ifc. Returns 0, or
 * EMU_EINVAL (NULL, no bits, svc already started) or the error of the first
 * bind/listen that failed (EMU_ESTATE when a port is taken), in which case
 * nothing stays started. */
int net_services_start(net_services *svc, net_iface *ifc, unsigned which);
/* Stops listening and unbinds. Connections already accepted run to their
 * end and still report to svc, so svc must stay valid until they are gone
 * (at the latest net_iface_close()). Safe on a stopped svc. */
void net_services_stop(net_services *svc);

#endif
