/* Echo, discard and HTTP services: see services.h. */
#include "stack/services.h"

#include <stdio.h>
#include <string.h>

#include "emu/err.h"

#define HTTP_HEAD_MAX 2048
#define CHUNK         4096

/* ---- UDP ---------------------------------------------------------------------------- */

static emu_fate udp_echo_rx(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                            const uint8_t *data, size_t len, uint64_t now_ns) {
  net_services *svc = ctx;
  (void)src_ip; /* net_udp_reply answers the sender, IPv4 or IPv6 */
  /* RFC 862: send back the data as received. A datagram from port 0 cannot
   * be answered (RFC 768: no reply expected). */
  if (src_port == 0 || net_udp_reply(sock, data, len, now_ns) != 0) return EMU_FATE_DELIVERED;
  svc->stats.udp_echoed++;
  return EMU_FATE_ANSWERED;
}

static emu_fate udp_discard_rx(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                               const uint8_t *data, size_t len, uint64_t now_ns) {
  (void)sock, (void)src_ip, (void)src_port, (void)data, (void)len, (void)now_ns;
  net_services *svc = ctx;
  svc->stats.udp_discarded++;
  return EMU_FATE_DELIVERED;
}

/* ---- TCP echo and discard ---------------------------------------------------------------- */

static void tcp_echo_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  net_services *svc = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) svc->stats.tcp_conns++;
  if (ev & NET_TCP_EV_CLOSED) {
    net_tcp_release(c, now_ns);
    return;
  }
  /* Read only what can be sent back: a slow reader on the other side fills
   * our send buffer, then our receive window closes, and the sender waits
   * (flow control end to end, as with a real echo server). */
  uint8_t buf[CHUNK];
  for (;;) {
    size_t space = net_tcp_send_space(c);
    if (space == 0) return;
    int n = net_tcp_recv(c, buf, space < sizeof buf ? space : sizeof buf, now_ns);
    if (n == 0) { /* the peer closed and all was echoed: close too */
      net_tcp_release(c, now_ns);
      return;
    }
    if (n < 0) return;
    (void)net_tcp_send(c, buf, (size_t)n, now_ns);
    svc->stats.tcp_echo_bytes += (uint64_t)n;
  }
}

static void tcp_discard_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  net_services *svc = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) svc->stats.tcp_conns++;
  if (ev & NET_TCP_EV_CLOSED) {
    net_tcp_release(c, now_ns);
    return;
  }
  int n;
  while ((n = net_tcp_recv(c, NULL, SIZE_MAX, now_ns)) > 0)
    svc->stats.tcp_discard_bytes += (uint64_t)n;
  if (n == 0) net_tcp_release(c, now_ns);
}

/* ---- HTTP/1.1 ------------------------------------------------------------------------- */

static const char http_index[] =
    "<!DOCTYPE html>\n<html><head><title>vnetsim guest</title></head>\n"
    "<body><h1>vnetsim guest</h1><p>Served over the simulated virtio-net device. "
    "Counters: <a href=\"/stats\">/stats</a></p></body></html>\n";

/* What a response says besides its status. */
typedef struct http_reply {
  const char *type, *body;
  size_t body_len;
  int head_only; /* HEAD: the GET's headers, no body (RFC 9110 §9.3.2) */
} http_reply;

/* Writes status line, headers and (unless HEAD) body to the connection,
 * then closes it. No Date header: RFC 9110 §6.6.1 has a server without a
 * clock send none, and the guest's only clock is virtual. A 405 lists the
 * methods that are allowed (RFC 9110 §15.5.6: it MUST). */
static void http_respond(net_tcp_conn *c, int status, const char *reason, const http_reply *r,
                         uint64_t now_ns) {
  char head[256];
  int n =
      snprintf(head, sizeof head,
               "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n",
               status, reason, status == 405 ? "Allow: GET, HEAD\r\n" : "", r->type, r->body_len);
  if (n > 0) (void)net_tcp_send(c, (const uint8_t *)head, (size_t)n, now_ns);
  if (r->body_len && !r->head_only)
    (void)net_tcp_send(c, (const uint8_t *)r->body, r->body_len, now_ns);
  net_tcp_release(c, now_ns); /* closes after the queued response (FIN) */
}

static void http_error(net_services *svc, net_tcp_conn *c, int status, const char *reason,
                       const char *body, int head_only, uint64_t now_ns) {
  svc->stats.http_errors++;
  http_reply r = {"text/plain", body, strlen(body), head_only};
  http_respond(c, status, reason, &r, now_ns);
}

/* The end of the request head ("\r\n\r\n", RFC 9112 §2.1), or NULL. */
static const char *head_end(const char *buf, size_t len) {
  for (size_t i = 0; i + 4 <= len; i++)
    if (memcmp(buf + i, "\r\n\r\n", 4) == 0) return buf + i + 4;
  return NULL;
}

static void http_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  net_services *svc = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) svc->stats.tcp_conns++;
  if (ev & NET_TCP_EV_CLOSED) {
    net_tcp_release(c, now_ns);
    return;
  }
  char req[HTTP_HEAD_MAX + 1];
  size_t len = net_tcp_peek(c, (uint8_t *)req, HTTP_HEAD_MAX);
  req[len] = '\0';
  const char *end = head_end(req, len);
  if (!end) {
    if (len == HTTP_HEAD_MAX || (ev & NET_TCP_EV_PEER_CLOSED))
      http_error(svc, c, 400, "Bad Request", "bad request\n", 0, now_ns);
    return; /* wait for the rest of the head */
  }
  (void)net_tcp_recv(c, NULL, (size_t)(end - req), now_ns); /* consume the head */
  /* RFC 9112 §3: request-line = method SP request-target SP HTTP-version */
  char method[16], target[256], version[16];
  if (sscanf(req, "%15s %255s %15s", method, target, version) != 3 ||
      strncmp(version, "HTTP/1.", 7) != 0) {
    http_error(svc, c, 400, "Bad Request", "bad request\n", 0, now_ns);
    return;
  }
  /* RFC 9110 §9.1: a general-purpose server supports GET and HEAD */
  int head_only = strcmp(method, "HEAD") == 0;
  if (!head_only && strcmp(method, "GET") != 0) {
    http_error(svc, c, 405, "Method Not Allowed", "only GET and HEAD\n", 0, now_ns);
    return;
  }
  http_reply r = {"text/html", http_index, sizeof http_index - 1, head_only};
  char body[CHUNK];
  if (strcmp(target, "/stats") == 0) {
    size_t n = net_iface_stats_report(svc->ifc, body, sizeof body - 1);
    if (n < sizeof body - 1) body[n++] = '\n';
    r = (http_reply){"application/json", body, n, head_only};
  } else if (strcmp(target, "/") != 0) {
    http_error(svc, c, 404, "Not Found", "not found\n", head_only, now_ns);
    return;
  }
  svc->stats.http_requests++;
  http_respond(c, 200, "OK", &r, now_ns);
}

/* ---- start and stop ---------------------------------------------------------------------- */

int net_services_start(net_services *svc, net_iface *ifc, unsigned which) {
  if (!svc || !ifc || (which & NET_SVC_ALL) == 0 || (svc->ifc && svc->running)) return EMU_EINVAL;
  memset(svc, 0, sizeof *svc);
  svc->ifc = ifc;
  int err = 0;
  if (!err && (which & NET_SVC_UDP_ECHO)) {
    err = net_udp_bind(ifc, &svc->udp_echo, NET_SVC_PORT_ECHO);
    if (!err) {
      net_udp_set_handler(&svc->udp_echo, udp_echo_rx, svc);
      svc->running |= NET_SVC_UDP_ECHO;
    }
  }
  if (!err && (which & NET_SVC_UDP_DISCARD)) {
    err = net_udp_bind(ifc, &svc->udp_discard, NET_SVC_PORT_DISCARD);
    if (!err) {
      net_udp_set_handler(&svc->udp_discard, udp_discard_rx, svc);
      svc->running |= NET_SVC_UDP_DISCARD;
    }
  }
  if (!err && (which & NET_SVC_TCP_ECHO)) {
    err = net_tcp_listen(ifc, NET_SVC_PORT_TCP_ECHO, tcp_echo_ev, svc);
    if (!err) svc->running |= NET_SVC_TCP_ECHO;
  }
  if (!err && (which & NET_SVC_TCP_DISCARD)) {
    err = net_tcp_listen(ifc, NET_SVC_PORT_DISCARD, tcp_discard_ev, svc);
    if (!err) svc->running |= NET_SVC_TCP_DISCARD;
  }
  if (!err && (which & NET_SVC_HTTP)) {
    err = net_tcp_listen(ifc, NET_SVC_PORT_HTTP, http_ev, svc);
    if (!err) svc->running |= NET_SVC_HTTP;
  }
  if (err) net_services_stop(svc);
  return err;
}

void net_services_stop(net_services *svc) {
  if (!svc || !svc->ifc) return;
  if (svc->running & NET_SVC_UDP_ECHO) net_udp_unbind(&svc->udp_echo);
  if (svc->running & NET_SVC_UDP_DISCARD) net_udp_unbind(&svc->udp_discard);
  if (svc->running & NET_SVC_TCP_ECHO) net_tcp_unlisten(svc->ifc, NET_SVC_PORT_TCP_ECHO);
  if (svc->running & NET_SVC_TCP_DISCARD) net_tcp_unlisten(svc->ifc, NET_SVC_PORT_DISCARD);
  if (svc->running & NET_SVC_HTTP) net_tcp_unlisten(svc->ifc, NET_SVC_PORT_HTTP);
  svc->running = 0;
}
