/* The guest's client actions: see client.h. */
#include "stack/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "stack/iface.h"

#define NET_CLIENT_READ_CHUNK 2048
/* A kept body's first allocation; it doubles from there. */
#define NET_CLIENT_BODY_FIRST_CAP 65536u

/* The running action's phases. */
enum { NET_CLIENT_PHASE_RESOLVE = 1, NET_CLIENT_PHASE_TRANSFER };

/* ---- parsing an action -------------------------------------------------------------- */

static int net_client_why(char *why, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (why && cap) vsnprintf(why, cap, fmt, ap);
  va_end(ap);
  return EMU_EINVAL;
}

static int net_client_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* DATA with its escapes into a->payload. */
static int net_client_unescape(net_client_action *a, const char *s, char *why, size_t cap) {
  size_t n = 0;
  for (; *s; s++) {
    if (n == NET_CLIENT_DATA_MAX)
      return net_client_why(why, cap, "DATA is longer than %d bytes", NET_CLIENT_DATA_MAX);
    int c = (unsigned char)*s;
    if (c == '\\') {
      char e = *++s;
      if (e == 'n' || e == 'r' || e == 't' || e == '\\') {
        c = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : '\\';
      } else if (e == 'x' && net_client_hex(s[1]) >= 0 && net_client_hex(s[2]) >= 0) {
        c = net_client_hex(s[1]) << 4 | net_client_hex(s[2]);
        s += 2;
      } else {
        return net_client_why(why, cap, "DATA has an unknown escape (use \\n \\r \\t \\\\ \\xHH)");
      }
    }
    a->payload[n++] = (uint8_t)c;
  }
  a->payload_len = n;
  return 0;
}

/* "A.B.C.D:PORT" in s[0..n). */
static int net_client_ip_port(const char *s, size_t n, uint32_t *ip, uint16_t *port) {
  char buf[32];
  if (n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  unsigned a, b, c, d, p;
  char tail;
  if (sscanf(buf, "%3u.%3u.%3u.%3u:%5u%c", &a, &b, &c, &d, &p, &tail) != 5) return -1;
  if (a > 255 || b > 255 || c > 255 || d > 255 || p == 0 || p > 65535 || buf[0] < '0' ||
      buf[0] > '9' || strchr(buf, '+') || strchr(buf, '-') || strchr(buf, ' '))
    return -1;
  *ip = a << 24 | b << 16 | c << 8 | d;
  *port = (uint16_t)p;
  return 0;
}

static int net_client_parse_flow(net_client_action *a, const char *rest, char *why, size_t cap) {
  size_t n = strcspn(rest, " ");
  if (net_client_ip_port(rest, n, &a->ip, &a->port) || a->ip == 0)
    return net_client_why(why, cap, "'%.*s' is not A.B.C.D:PORT (port 1 to 65535)", (int)n, rest);
  const char *data = rest[n] ? rest + n + 1 : "";
  if (net_client_unescape(a, data, why, cap)) return EMU_EINVAL;
  if (a->kind == NET_CLIENT_UDP && a->payload_len == 0)
    return net_client_why(why, cap, "udp needs DATA to send");
  return 0;
}

static int net_client_check_name(const char *name, char *why, size_t cap) {
  uint8_t q[NET_DNS_UDP_MAX];
  const char *reason;
  if (net_dns_build_query(name, 0, q, sizeof q, &reason) < 0)
    return net_client_why(why, cap, "'%s': %s", name, reason ? reason : "not a name");
  return 0;
}

static int net_client_parse(net_client_action *a, const char *text, char *why, size_t cap) {
  size_t verb = strcspn(text, " ");
  const char *rest = text[verb] ? text + verb + 1 : "";
  if (verb == 3 && !strncmp(text, "get", 3)) {
    const char *reason;
    a->kind = NET_CLIENT_GET;
    if (net_httpc_parse_url(rest, &a->url, &reason))
      return net_client_why(why, cap, "get '%s': %s", rest, reason);
    if (a->url.ip) return 0;
    memcpy(a->name, a->url.host, strlen(a->url.host) + 1); /* both hold 253 characters */
    return net_client_check_name(a->name, why, cap);
  }
  if (verb == 7 && !strncmp(text, "resolve", 7)) {
    a->kind = NET_CLIENT_RESOLVE;
    if (strlen(rest) >= sizeof a->name) return net_client_why(why, cap, "the name is too long");
    snprintf(a->name, sizeof a->name, "%s", rest);
    return net_client_check_name(a->name, why, cap);
  }
  if (verb == 3 && (!strncmp(text, "tcp", 3) || !strncmp(text, "udp", 3))) {
    a->kind = text[0] == 't' ? NET_CLIENT_TCP : NET_CLIENT_UDP;
    return net_client_parse_flow(a, rest, why, cap);
  }
  return net_client_why(why, cap,
                        "'%.*s' is not an action: get URL, resolve NAME, tcp A.B.C.D:PORT DATA or "
                        "udp A.B.C.D:PORT DATA",
                        (int)verb, text);
}

int net_client_add(net_client *c, const char *text, int keep_body, char *why, size_t cap) {
  if (!c || !text) return net_client_why(why, cap, "no action");
  if (c->nactions == NET_CLIENT_MAX_ACTIONS)
    return net_client_why(why, cap, "at most %d actions", NET_CLIENT_MAX_ACTIONS), EMU_ENOSPC;
  if (strlen(text) > NET_CLIENT_TEXT_MAX)
    return net_client_why(why, cap, "an action is longer than %d characters", NET_CLIENT_TEXT_MAX);
  net_client_action *a = &c->actions[c->nactions];
  memset(a, 0, sizeof *a);
  snprintf(a->text, sizeof a->text, "%s", text);
  int rc = net_client_parse(a, text, why, cap);
  if (rc) return rc;
  a->keep_body = keep_body;
  return (int)c->nactions++;
}

/* ---- running ------------------------------------------------------------------------- */

void net_client_init(net_client *c, net_iface *ifc, uint64_t seed, uint32_t dns_server) {
  memset(c, 0, sizeof *c);
  c->ifc = ifc;
  emu_rng_init(&c->rng, seed);
  c->dns_server = dns_server;
}

int net_client_start_dhcp(net_client *c, uint64_t now_ns) {
  int rc = net_dhcp_start(&c->dhcp, c->ifc, emu_rng_next(&c->rng), now_ns);
  c->dhcp_on = rc == 0;
  return rc;
}

static void net_client_end(net_client_action *a, net_client_status st, uint64_t now_ns,
                           const char *fmt, ...) {
  if (a->result.status != NET_CLIENT_RUNNING && a->result.status != NET_CLIENT_QUEUED) return;
  a->result.status = st;
  a->result.ended_ns = now_ns;
  if (!fmt) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->result.error, sizeof a->result.error, fmt, ap);
  va_end(ap);
}

static void net_client_on_body(void *ctx, const uint8_t *data, size_t len) {
  net_client_action *a = ctx;
  emu_sha256_update(&a->hash, data, len);
  if (!a->keep_body || a->result.status != NET_CLIENT_RUNNING) return;
  if (a->body_len + len > NET_CLIENT_BODY_MAX) {
    net_client_end(a, NET_CLIENT_FAILED, a->result.started_ns, "the body is larger than %u bytes",
                   NET_CLIENT_BODY_MAX);
    return;
  }
  if (a->body_len + len > a->body_cap) {
    size_t cap = a->body_cap ? a->body_cap : NET_CLIENT_BODY_FIRST_CAP;
    while (cap < a->body_len + len) cap *= 2;
    uint8_t *grown = realloc(a->body, cap);
    if (!grown) {
      net_client_end(a, NET_CLIENT_FAILED, a->result.started_ns, "out of memory for the body");
      return;
    }
    a->body = grown;
    a->body_cap = cap;
  }
  memcpy(a->body + a->body_len, data, len);
  a->body_len += len;
}

/* The transfer, once the server's address is known. */
static void net_client_transfer(net_client *c, net_client_action *a, uint64_t now_ns) {
  c->phase = NET_CLIENT_PHASE_TRANSFER;
  a->result.ip = a->ip;
  int rc = 0;
  if (a->kind == NET_CLIENT_RESOLVE) {
    net_client_end(a, NET_CLIENT_OK, now_ns, NULL);
    return;
  }
  if (a->kind == NET_CLIENT_GET) {
    emu_sha256_init(&a->hash);
    rc = net_httpc_start(&c->http, c->ifc, &a->url, a->ip, net_client_on_body, a, c->deadline_ns,
                         now_ns);
  } else if (a->kind == NET_CLIENT_TCP) {
    rc = net_tcp_connect(c->ifc, a->ip, a->port, 0, now_ns, &c->conn);
    if (rc) c->conn = NULL;
  } else {
    rc = net_udp_bind(c->ifc, &c->usock, 0);
    c->retry_ns = now_ns; /* the first send is due now */
  }
  if (rc) net_client_end(a, NET_CLIENT_FAILED, now_ns, "cannot open: %s", emu_strerror(rc));
}

/* A resolve action's error is the resolver's; a get's names the lookup. */
static void net_client_resolve_failed(net_client_action *a, uint64_t now_ns, const char *why) {
  if (a->kind == NET_CLIENT_RESOLVE)
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "%s", why);
  else
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "resolving '%s': %s", a->name, why);
}

static void net_client_start(net_client *c, net_client_action *a, uint64_t now_ns) {
  a->result.status = NET_CLIENT_RUNNING;
  a->result.started_ns = now_ns;
  c->deadline_ns = now_ns + NET_CLIENT_ACTION_TIMEOUT_NS;
  c->tries = 0;
  if (a->kind == NET_CLIENT_GET) a->ip = a->url.ip;
  if (a->ip) {
    net_client_transfer(c, a, now_ns);
    return;
  }
  if (!c->dns_server) {
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "no DNS server to resolve '%s'", a->name);
    return;
  }
  c->phase = NET_CLIENT_PHASE_RESOLVE;
  const char *why = NULL;
  int rc = net_dns_start(&c->dns, c->ifc, c->dns_server, a->name, &c->rng, now_ns, &why);
  if (rc) net_client_resolve_failed(a, now_ns, why ? why : emu_strerror(rc));
}

static void net_client_step_resolve(net_client *c, net_client_action *a, uint64_t now_ns) {
  net_dns_poll(&c->dns, now_ns);
  if (net_dns_get_state(&c->dns) == NET_DNS_FAILED) {
    net_client_resolve_failed(a, now_ns, net_dns_error(&c->dns));
  } else if (net_dns_get_state(&c->dns) == NET_DNS_DONE) {
    a->ip = net_dns_get_answer(&c->dns)->ip;
    a->result.ttl = net_dns_get_answer(&c->dns)->ttl;
    net_dns_close(&c->dns, now_ns);
    net_client_transfer(c, a, now_ns);
  }
}

static void net_client_step_get(net_client *c, net_client_action *a, uint64_t now_ns) {
  net_httpc_poll(&c->http, now_ns);
  const net_httpc_resp *r = net_httpc_response(&c->http);
  a->result.http_status = r->status;
  a->result.length = r->body_len;
  if (net_httpc_get_state(&c->http) == NET_HTTPC_FAILED) {
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "%s", net_httpc_error(&c->http));
  } else if (net_httpc_get_state(&c->http) == NET_HTTPC_DONE) {
    uint8_t digest[EMU_SHA256_LEN];
    emu_sha256_final(&a->hash, digest);
    emu_sha256_hex(digest, a->result.sha256);
    net_client_end(a, NET_CLIENT_OK, now_ns, NULL);
  }
}

static void net_client_keep(net_client_action *a, const uint8_t *buf, size_t n) {
  size_t room = NET_CLIENT_KEEP_MAX - a->result.data_len;
  size_t k = n < room ? n : room;
  memcpy(a->result.data + a->result.data_len, buf, k);
  a->result.data_len += k;
  a->result.received += n;
}

/* tcp: send everything, then FIN; read until the server's FIN. */
static void net_client_step_tcp(net_client *c, net_client_action *a, uint64_t now_ns) {
  net_tcp_info info;
  net_tcp_get_info(c->conn, &info);
  if (info.state == NET_TCP_CLOSED && info.close_reason != NET_TCP_CLOSED_NORMAL) {
    int reset = info.close_reason == NET_TCP_CLOSED_RESET;
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "%s",
                   !reset                     ? "the connection timed out"
                   : info.snd_una == info.iss ? "connection refused (RST)"
                                              : "the server reset the connection");
    return;
  }
  if (info.state == NET_TCP_SYN_SENT || info.state == NET_TCP_SYN_RECEIVED) return;
  while (a->result.sent < a->payload_len) {
    int n =
        net_tcp_send(c->conn, a->payload + a->result.sent, a->payload_len - a->result.sent, now_ns);
    if (n <= 0) break;
    a->result.sent += (uint64_t)n;
  }
  if (a->result.sent == a->payload_len && net_tcp_get_state(c->conn) == NET_TCP_ESTABLISHED)
    net_tcp_close(c->conn, now_ns);
  uint8_t buf[NET_CLIENT_READ_CHUNK];
  int n;
  while ((n = net_tcp_recv(c->conn, buf, sizeof buf, now_ns)) > 0)
    net_client_keep(a, buf, (size_t)n);
  if (n == 0) net_client_end(a, NET_CLIENT_OK, now_ns, NULL);
}

/* udp: one datagram out, one back from the same address and port. */
static void net_client_step_udp(net_client *c, net_client_action *a, uint64_t now_ns) {
  uint8_t buf[NET_UDP_MAX_PAYLOAD];
  uint32_t src;
  uint16_t sport;
  int n;
  while ((n = net_udp_recvfrom(&c->usock, buf, sizeof buf, &src, &sport)) >= 0) {
    if (src != a->ip || sport != a->port) continue; /* not the server's answer */
    net_client_keep(a, buf, (size_t)n);
    net_client_end(a, NET_CLIENT_OK, now_ns, NULL);
    return;
  }
  if (now_ns < c->retry_ns) return;
  if (c->tries == NET_CLIENT_UDP_TRIES) {
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "no reply after %d datagrams",
                   NET_CLIENT_UDP_TRIES);
    return;
  }
  c->tries++;
  c->retry_ns = now_ns + NET_CLIENT_UDP_RETRY_NS;
  if (net_udp_sendto(&c->usock, a->ip, a->port, a->payload, a->payload_len, now_ns) == 0 &&
      c->tries == 1)
    a->result.sent = a->payload_len;
}

static void net_client_step(net_client *c, net_client_action *a, uint64_t now_ns) {
  if (c->phase == NET_CLIENT_PHASE_RESOLVE)
    net_client_step_resolve(c, a, now_ns);
  else if (a->kind == NET_CLIENT_GET)
    net_client_step_get(c, a, now_ns);
  else if (a->kind == NET_CLIENT_TCP)
    net_client_step_tcp(c, a, now_ns);
  else if (a->kind == NET_CLIENT_UDP)
    net_client_step_udp(c, a, now_ns);
  if (a->result.status == NET_CLIENT_RUNNING && now_ns >= c->deadline_ns)
    net_client_end(a, NET_CLIENT_FAILED, now_ns, "timed out after %.0f s",
                   NET_CLIENT_ACTION_TIMEOUT_NS / 1e9);
}

/* Gives back whatever the ended action held. */
static void net_client_cleanup(net_client *c, uint64_t now_ns) {
  net_dns_close(&c->dns, now_ns);
  net_httpc_close(&c->http, now_ns);
  if (c->conn) {
    if (net_tcp_get_state(c->conn) != NET_TCP_CLOSED &&
        c->actions[c->current].result.status == NET_CLIENT_FAILED)
      net_tcp_abort(c->conn, now_ns);
    net_tcp_release(c->conn, now_ns);
    c->conn = NULL;
  }
  net_udp_unbind(&c->usock);
  c->phase = 0;
}

/* 1 when the guest holds an address; fails every action when DHCP gave up. */
static int net_client_up(net_client *c, uint64_t now_ns) {
  if (!c->dhcp_on) return 1;
  net_dhcp_poll(&c->dhcp, now_ns);
  net_dhcp_state st = net_dhcp_get_state(&c->dhcp);
  if (st == NET_DHCP_BOUND) {
    const net_dhcp_lease *l = net_dhcp_get_lease(&c->dhcp);
    if (l->dns) c->dns_server = l->dns;
    return 1;
  }
  if (st == NET_DHCP_FAILED)
    for (; c->current < c->nactions; c->current++)
      net_client_end(&c->actions[c->current], NET_CLIENT_FAILED, now_ns,
                     "the guest has no address: %s", net_dhcp_error(&c->dhcp));
  return 0;
}

void net_client_poll(net_client *c, uint64_t now_ns) {
  if (!net_client_up(c, now_ns)) return;
  while (c->current < c->nactions) {
    net_client_action *a = &c->actions[c->current];
    if (a->result.status == NET_CLIENT_QUEUED) net_client_start(c, a, now_ns);
    if (a->result.status == NET_CLIENT_RUNNING) net_client_step(c, a, now_ns);
    if (a->result.status == NET_CLIENT_RUNNING) return;
    net_client_cleanup(c, now_ns);
    c->current++;
  }
}

static uint64_t net_client_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t net_client_poll_at(const net_client *c) {
  if (c->dhcp_on && net_dhcp_get_state(&c->dhcp) != NET_DHCP_BOUND)
    return net_dhcp_poll_at(&c->dhcp);
  if (c->current >= c->nactions) return EMU_TIME_NEVER;
  const net_client_action *a = &c->actions[c->current];
  if (a->result.status == NET_CLIENT_QUEUED) return 0; /* due now */
  uint64_t t = c->deadline_ns;
  if (c->phase == NET_CLIENT_PHASE_RESOLVE) t = net_client_min(t, net_dns_poll_at(&c->dns));
  if (c->phase == NET_CLIENT_PHASE_TRANSFER && a->kind == NET_CLIENT_UDP)
    t = net_client_min(t, c->retry_ns);
  return t;
}

int net_client_done(const net_client *c) {
  if (c->dhcp_on && net_dhcp_get_state(&c->dhcp) != NET_DHCP_BOUND &&
      net_dhcp_get_state(&c->dhcp) != NET_DHCP_FAILED)
    return 0;
  return c->current >= c->nactions;
}

size_t net_client_count(const net_client *c) { return c->nactions; }

const net_client_action *net_client_get(const net_client *c, size_t i) {
  return i < c->nactions ? &c->actions[i] : NULL;
}

const net_dhcp *net_client_dhcp(const net_client *c) { return c->dhcp_on ? &c->dhcp : NULL; }

void net_client_close(net_client *c) {
  /* Nothing is sent: the sockets leave the iface's list, connections stay
   * the iface's to free (net_iface_close), without a callback into c. */
  net_dns_forget(&c->dns);
  net_udp_unbind(&c->usock);
  if (c->dhcp_on) net_dhcp_close(&c->dhcp);
  if (c->http.conn) net_tcp_set_handler(c->http.conn, NULL, NULL);
  for (size_t i = 0; i < c->nactions; i++) free(c->actions[i].body);
  c->nactions = c->current = 0;
  c->dhcp_on = 0;
}
