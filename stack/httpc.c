/* The HTTP/1.1 client: see httpc.h. */
#include "stack/httpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "stack/iface.h"

#define NET_HTTPC_SCHEME     "http://"
#define NET_HTTPC_SCHEME_LEN 7
#define NET_HTTPC_READ_CHUNK 4096
/* RFC 9110 §15: status codes are three digits, 100 to 599. */
#define NET_HTTPC_STATUS_MIN 100
#define NET_HTTPC_STATUS_MAX 599
/* RFC 9110 §15.3.5 and §15.4.5: 204 and 304 never carry a body. */
#define NET_HTTPC_NO_CONTENT   204
#define NET_HTTPC_NOT_MODIFIED 304
/* RFC 9112 §4: "HTTP/1.x" SP 3DIGIT, and where each part sits. */
#define NET_HTTPC_VERSION_PREFIX     "HTTP/1."
#define NET_HTTPC_VERSION_PREFIX_LEN 7
#define NET_HTTPC_MINOR_OFF          7
#define NET_HTTPC_STATUS_OFF         9
#define NET_HTTPC_STATUS_END         12 /* just past the three digits */
/* Decimal digits of the longest Content-Length taken (below 2^63), and hex
 * digits of the longest chunk size (below 2^60). */
#define NET_HTTPC_LENGTH_DIGITS_MAX 18
#define NET_HTTPC_CHUNK_DIGITS_MAX  15

/* ---- URLs (RFC 3986) ------------------------------------------------------------------ */

static int net_httpc_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c; }

static int net_httpc_prefix_ci(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++)
    if (net_httpc_lower((unsigned char)*s) != *prefix) return 0;
  return 1;
}

/* A dotted quad of four decimal parts up to 255, nothing else. */
static int net_httpc_parse_ipv4(const char *s, uint32_t *ip) {
  uint32_t v = 0;
  for (int part = 0; part < 4; part++) {
    unsigned x = 0, digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) x = x * 10 + (unsigned)(*s - '0');
    if (digits == 0 || digits > 3 || x > 255) return -1;
    if (part < 3 && *s++ != '.') return -1;
    v = v << 8 | x;
  }
  if (*s) return -1;
  *ip = v;
  return 0;
}

/* host[:port] in s[0..n). RFC 3986 §3.2.2 reg-name, kept to the letters,
 * digits, dots and hyphens a DNS name uses (RFC 1123 §2.1). */
static const char *net_httpc_parse_authority(const char *s, size_t n, net_httpc_url *out) {
  if (memchr(s, '@', n)) return "user information in a URL is not supported";
  if (n && s[0] == '[') return "IPv6 literals are not supported (the guest speaks IPv4)";
  const char *colon = memchr(s, ':', n);
  size_t hlen = colon ? (size_t)(colon - s) : n;
  if (hlen == 0) return "the URL has no host";
  if (hlen > NET_HTTPC_HOST_MAX) return "the host is longer than 253 characters";
  for (size_t i = 0; i < hlen; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-';
    if (!ok) return "the host has a character a DNS name cannot have";
  }
  memcpy(out->host, s, hlen);
  out->host[hlen] = '\0';
  if (net_httpc_parse_ipv4(out->host, &out->ip) != 0) out->ip = 0;
  out->port = NET_HTTPC_DEFAULT_PORT;
  if (!colon) return NULL;
  size_t plen = n - hlen - 1;
  unsigned v = 0;
  if (plen == 0 || plen > 5) return "the port is not a number from 1 to 65535";
  for (size_t i = 0; i < plen; i++) {
    if (colon[1 + i] < '0' || colon[1 + i] > '9') return "the port is not a number from 1 to 65535";
    v = v * 10 + (unsigned)(colon[1 + i] - '0');
  }
  if (v == 0 || v > 65535) return "the port is not a number from 1 to 65535";
  out->port = (uint16_t)v;
  return NULL;
}

int net_httpc_parse_url(const char *url, net_httpc_url *out, const char **why) {
  static const char *unused;
  if (!why) why = &unused;
  memset(out, 0, sizeof *out);
  *why = NULL;
  if (!url || !net_httpc_prefix_ci(url, NET_HTTPC_SCHEME)) {
    *why = url && net_httpc_prefix_ci(url, "https://")
               ? "https needs TLS, which the guest does not speak: use http://"
               : "the URL does not start with http://";
    return EMU_EINVAL;
  }
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f) {
      *why = "the URL has a space or a control character (percent-encode it)";
      return EMU_EINVAL;
    }
  const char *auth = url + NET_HTTPC_SCHEME_LEN;
  size_t alen = strcspn(auth, "/?#");
  *why = net_httpc_parse_authority(auth, alen, out);
  if (*why) return EMU_EINVAL;
  /* RFC 3986 §3.5: the fragment is the client's, never sent */
  const char *path = auth + alen;
  size_t plen = strcspn(path, "#");
  int slash = plen == 0 || path[0] != '/';
  if (plen + (size_t)slash > NET_HTTPC_PATH_MAX) {
    *why = "the path is longer than 1024 characters";
    return EMU_EINVAL;
  }
  snprintf(out->path, sizeof out->path, "%s%.*s", slash ? "/" : "", (int)plen, path);
  return 0;
}

/* ---- the response ---------------------------------------------------------------------- */

static int net_httpc_broken(net_httpc_resp *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->phase = NET_HTTPC_BROKEN;
  return EMU_EFORMAT;
}

void net_httpc_resp_init(net_httpc_resp *r, net_httpc_body_fn on_body, void *ctx) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  r->on_body = on_body;
  r->body_ctx = ctx;
}

/* RFC 9112 §4: HTTP-version SP 3DIGIT SP reason-phrase. */
static int net_httpc_status_line(net_httpc_resp *r, const char *line, size_t n) {
  if (n < NET_HTTPC_STATUS_END ||
      memcmp(line, NET_HTTPC_VERSION_PREFIX, NET_HTTPC_VERSION_PREFIX_LEN) != 0 ||
      line[NET_HTTPC_MINOR_OFF] < '0' || line[NET_HTTPC_MINOR_OFF] > '9' ||
      line[NET_HTTPC_MINOR_OFF + 1] != ' ')
    return net_httpc_broken(r, "the status line is not 'HTTP/1.x NNN ...'");
  int st = 0;
  for (int i = NET_HTTPC_STATUS_OFF; i < NET_HTTPC_STATUS_END; i++) {
    if (line[i] < '0' || line[i] > '9')
      return net_httpc_broken(r, "the status code is not three digits");
    st = st * 10 + (line[i] - '0');
  }
  if (st < NET_HTTPC_STATUS_MIN || st > NET_HTTPC_STATUS_MAX ||
      (n > NET_HTTPC_STATUS_END && line[NET_HTTPC_STATUS_END] != ' '))
    return net_httpc_broken(r, "the status code is not three digits from 100 to 599");
  r->status = st;
  return 0;
}

/* RFC 9110 §8.6: 1*DIGIT; RFC 9112 §6.3: two differing values are an error. */
static int net_httpc_content_length(net_httpc_resp *r, const char *v, size_t n) {
  int64_t len = 0;
  if (n == 0 || n > NET_HTTPC_LENGTH_DIGITS_MAX)
    return net_httpc_broken(r, "Content-Length is not a number");
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return net_httpc_broken(r, "Content-Length is not a number");
    len = len * 10 + (v[i] - '0');
  }
  if (r->content_length >= 0 && r->content_length != len)
    return net_httpc_broken(r, "two Content-Length fields differ");
  r->content_length = len;
  return 0;
}

/* One field line (RFC 9112 §5: name ":" OWS value OWS). *chunked is set
 * when the last transfer coding is chunked (§6.1). */
static int net_httpc_field(net_httpc_resp *r, const char *line, size_t n, int *te, int *chunked) {
  const char *colon = memchr(line, ':', n);
  if (!colon || colon == line) return net_httpc_broken(r, "a header line has no field name");
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  size_t vlen = (size_t)(end - v);
  if (nlen == 14 && net_httpc_prefix_ci(line, "content-length"))
    return net_httpc_content_length(r, v, vlen);
  if (nlen == 17 && net_httpc_prefix_ci(line, "transfer-encoding")) {
    *te = 1;
    *chunked = vlen >= 7 && net_httpc_prefix_ci(end - 7, "chunked");
  }
  return 0;
}

/* The whole head is in r->head: read it and choose how the body ends
 * (RFC 9112 §6.3, in its order). */
static int net_httpc_head_done(net_httpc_resp *r) {
  const char *p = r->head, *end = r->head + r->head_len;
  const char *eol = strstr(p, "\r\n");
  if (net_httpc_status_line(r, p, (size_t)(eol - p))) return EMU_EFORMAT;
  int te = 0, chunked = 0;
  for (p = eol + 2; p < end; p = eol + 2) {
    eol = strstr(p, "\r\n");
    if (eol == p) break; /* the empty line */
    if (net_httpc_field(r, p, (size_t)(eol - p), &te, &chunked)) return EMU_EFORMAT;
  }
  if (r->status < 200) { /* RFC 9110 §15.2: an interim response; the real one follows */
    r->head_len = 0;
    r->content_length = -1;
    return 0;
  }
  if (r->head_request || r->status == NET_HTTPC_NO_CONTENT || r->status == NET_HTTPC_NOT_MODIFIED)
    r->phase = NET_HTTPC_COMPLETE;
  else if (te) /* §6.3 item 3: Transfer-Encoding overrides Content-Length */
    r->phase = chunked ? NET_HTTPC_CHUNK_SIZE : NET_HTTPC_BODY_CLOSE;
  else if (r->content_length >= 0)
    r->phase = r->content_length ? NET_HTTPC_BODY_LENGTH : NET_HTTPC_COMPLETE;
  else
    r->phase = NET_HTTPC_BODY_CLOSE;
  if (te) r->content_length = -1;
  return 0;
}

/* Head bytes, up to and including the empty line. */
static int net_httpc_feed_head(net_httpc_resp *r, const uint8_t *d, size_t n, size_t *used) {
  size_t i = 0;
  while (i < n && r->phase == NET_HTTPC_HEAD) {
    if (r->head_len + 1 >= sizeof r->head)
      return net_httpc_broken(r, "the response head is longer than %d bytes", NET_HTTPC_HEAD_MAX);
    char c = (char)d[i++];
    if (c == '\0') return net_httpc_broken(r, "the response head holds a NUL byte");
    r->head[r->head_len++] = c;
    r->head[r->head_len] = '\0';
    if (r->head_len >= 4 && !memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4) &&
        net_httpc_head_done(r))
      return EMU_EFORMAT;
  }
  *used = i;
  return 0;
}

static void net_httpc_deliver(net_httpc_resp *r, const uint8_t *d, size_t n) {
  r->body_len += n;
  if (n && r->on_body) r->on_body(r->body_ctx, d, n);
}

/* A chunk-size line (RFC 9112 §7.1: 1*HEXDIG, extensions after ';') or a
 * trailer line, gathered in r->line; 1 when the line is complete. */
static int net_httpc_gather_line(net_httpc_resp *r, uint8_t c, int *err) {
  if (c == '\n') {
    if (r->line_len == 0 || r->line[r->line_len - 1] != '\r')
      *err = net_httpc_broken(r, "a chunk line does not end in CRLF");
    else
      r->line[--r->line_len] = '\0';
    return !*err;
  }
  if (r->line_len + 1 >= sizeof r->line && r->phase == NET_HTTPC_CHUNK_SIZE) {
    *err = net_httpc_broken(r, "a chunk-size line is too long");
    return 0;
  }
  if (r->line_len + 1 < sizeof r->line) r->line[r->line_len++] = (char)c;
  return 0;
}

static int net_httpc_chunk_size(net_httpc_resp *r) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < r->line_len; i++) {
    char c = (char)net_httpc_lower((unsigned char)r->line[i]);
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) break;
    if (i >= NET_HTTPC_CHUNK_DIGITS_MAX) return net_httpc_broken(r, "a chunk size is too large");
    v = v << 4 | (uint64_t)digit;
  }
  if (i == 0 || (i < r->line_len && r->line[i] != ';' && r->line[i] != ' ' && r->line[i] != '\t'))
    return net_httpc_broken(r, "a chunk size is not hexadecimal");
  r->line_len = 0;
  r->chunk_left = v;
  r->phase = v ? NET_HTTPC_CHUNK_DATA : NET_HTTPC_TRAILER;
  return 0;
}

/* One step of the chunked body; returns the bytes it used. */
static size_t net_httpc_feed_chunked(net_httpc_resp *r, const uint8_t *d, size_t n, int *err) {
  if (r->phase == NET_HTTPC_CHUNK_DATA) {
    size_t k = n < r->chunk_left ? n : (size_t)r->chunk_left;
    net_httpc_deliver(r, d, k);
    r->chunk_left -= k;
    if (r->chunk_left == 0) r->phase = NET_HTTPC_CHUNK_CRLF;
    return k;
  }
  if (!net_httpc_gather_line(r, d[0], err)) return 1;
  if (r->phase == NET_HTTPC_CHUNK_SIZE) {
    *err = net_httpc_chunk_size(r);
  } else if (r->phase == NET_HTTPC_CHUNK_CRLF) {
    if (r->line_len) *err = net_httpc_broken(r, "a chunk's data is longer than its size");
    r->phase = NET_HTTPC_CHUNK_SIZE;
  } else if (r->line_len == 0) { /* TRAILER: the empty line ends the message */
    r->phase = NET_HTTPC_COMPLETE;
  }
  r->line_len = 0;
  return 1;
}

int net_httpc_resp_feed(net_httpc_resp *r, const uint8_t *data, size_t len) {
  size_t at = 0;
  int err = 0;
  while (at < len && !err) {
    size_t used = 0;
    switch (r->phase) {
      case NET_HTTPC_HEAD:
        err = net_httpc_feed_head(r, data + at, len - at, &used);
        break;
      case NET_HTTPC_BODY_LENGTH: {
        uint64_t left = (uint64_t)r->content_length - r->body_len;
        used = len - at < left ? len - at : (size_t)left;
        net_httpc_deliver(r, data + at, used);
        if (r->body_len == (uint64_t)r->content_length) r->phase = NET_HTTPC_COMPLETE;
        break;
      }
      case NET_HTTPC_BODY_CLOSE:
        used = len - at;
        net_httpc_deliver(r, data + at, used);
        break;
      case NET_HTTPC_COMPLETE:
        return net_httpc_broken(r, "the server sent %zu bytes after the response's end", len - at);
      case NET_HTTPC_BROKEN:
        return EMU_EFORMAT;
      default:
        used = net_httpc_feed_chunked(r, data + at, len - at, &err);
        break;
    }
    at += used;
  }
  return err ? EMU_EFORMAT : 0;
}

int net_httpc_resp_eof(net_httpc_resp *r) {
  switch (r->phase) {
    case NET_HTTPC_COMPLETE:
      return 0;
    case NET_HTTPC_BODY_CLOSE:
      r->phase = NET_HTTPC_COMPLETE;
      return 0;
    case NET_HTTPC_HEAD:
      return net_httpc_broken(r, r->head_len ? "the connection closed inside the response head"
                                             : "the connection closed with no response");
    case NET_HTTPC_BODY_LENGTH:
      return net_httpc_broken(r, "the connection closed after %llu of %lld body bytes",
                              (unsigned long long)r->body_len, (long long)r->content_length);
    case NET_HTTPC_BROKEN:
      return EMU_EFORMAT;
    default:
      return net_httpc_broken(r, "the connection closed inside the chunked body");
  }
}

/* ---- one GET over TCP ------------------------------------------------------------------ */

static void net_httpc_fail(net_httpc *h, const char *why, uint64_t now_ns) {
  if (h->state == NET_HTTPC_FAILED || h->state == NET_HTTPC_DONE) return;
  snprintf(h->error, sizeof h->error, "%s", why);
  h->state = NET_HTTPC_FAILED;
  net_httpc_close(h, now_ns);
}

static void net_httpc_finish(net_httpc *h, uint64_t now_ns) {
  h->state = NET_HTTPC_DONE;
  net_httpc_close(h, now_ns);
}

static void net_httpc_push_request(net_httpc *h, uint64_t now_ns) {
  while (h->request_sent < h->request_len) {
    int n = net_tcp_send(h->conn, (const uint8_t *)h->request + h->request_sent,
                         h->request_len - h->request_sent, now_ns);
    if (n <= 0) return;
    h->request_sent += (size_t)n;
  }
}

static void net_httpc_read(net_httpc *h, uint64_t now_ns) {
  uint8_t buf[NET_HTTPC_READ_CHUNK];
  for (;;) {
    int n = net_tcp_recv(h->conn, buf, sizeof buf, now_ns);
    if (n == EMU_EAGAIN) return;
    if (n < 0) { /* reset or aborted: the close event says which */
      return;
    }
    if (n == 0) {
      if (net_httpc_resp_eof(&h->resp) != 0) {
        net_httpc_fail(h, h->resp.error, now_ns);
        return;
      }
      net_httpc_finish(h, now_ns);
      return;
    }
    if (net_httpc_resp_feed(&h->resp, buf, (size_t)n) != 0) {
      net_httpc_fail(h, h->resp.error, now_ns);
      return;
    }
    if (h->resp.phase == NET_HTTPC_COMPLETE) {
      net_httpc_finish(h, now_ns);
      return;
    }
  }
}

static void net_httpc_closed(net_httpc *h, uint64_t now_ns) {
  net_tcp_info info;
  net_tcp_get_info(h->conn, &info);
  const char *why = "the connection closed";
  if (info.close_reason == NET_TCP_CLOSED_RESET)
    why = h->established ? "the server reset the connection"
                         : "connection refused (the server answered the SYN with a RST)";
  else if (info.close_reason == NET_TCP_CLOSED_TIMEOUT)
    why = h->established ? "the connection timed out (retransmissions unanswered)"
                         : "no answer to the SYN (connection timed out)";
  net_httpc_fail(h, why, now_ns);
}

static void net_httpc_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  (void)c;
  net_httpc *h = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) {
    h->established = 1;
    h->state = NET_HTTPC_RECEIVING;
  }
  if (ev & (NET_TCP_EV_ESTABLISHED | NET_TCP_EV_WRITABLE)) net_httpc_push_request(h, now_ns);
  if (h->conn && (ev & (NET_TCP_EV_READABLE | NET_TCP_EV_PEER_CLOSED))) net_httpc_read(h, now_ns);
  if (h->conn && (ev & NET_TCP_EV_CLOSED)) net_httpc_closed(h, now_ns);
}

int net_httpc_start(net_httpc *h, net_iface *ifc, const net_httpc_url *u, uint32_t ip,
                    net_httpc_body_fn on_body, void *ctx, uint64_t deadline_ns, uint64_t now_ns) {
  memset(h, 0, sizeof *h);
  h->ifc = ifc;
  net_httpc_resp_init(&h->resp, on_body, ctx);
  /* RFC 9112 §3.2: Host names the authority, with the port when not 80 */
  char port[8] = "";
  if (u->port != NET_HTTPC_DEFAULT_PORT) snprintf(port, sizeof port, ":%u", u->port);
  int n = snprintf(h->request, sizeof h->request,
                   "GET %s HTTP/1.1\r\nHost: %s%s\r\nUser-Agent: vnetsim-guest\r\nAccept: */*\r\n"
                   "Connection: close\r\n\r\n",
                   u->path, u->host, port);
  h->request_len = (size_t)n;
  h->deadline_ns = deadline_ns;
  int rc = net_tcp_connect(ifc, ip, u->port, 0, now_ns, &h->conn);
  if (rc) {
    h->conn = NULL;
    return rc;
  }
  net_tcp_set_handler(h->conn, net_httpc_ev, h);
  h->state = NET_HTTPC_CONNECTING;
  return 0;
}

void net_httpc_poll(net_httpc *h, uint64_t now_ns) {
  if ((h->state == NET_HTTPC_CONNECTING || h->state == NET_HTTPC_RECEIVING) &&
      now_ns >= h->deadline_ns)
    net_httpc_fail(h,
                   h->state == NET_HTTPC_CONNECTING ? "timed out connecting"
                                                    : "timed out waiting for the response",
                   now_ns);
}

uint64_t net_httpc_poll_at(const net_httpc *h) {
  return h->state == NET_HTTPC_CONNECTING || h->state == NET_HTTPC_RECEIVING ? h->deadline_ns
                                                                             : EMU_TIME_NEVER;
}

net_httpc_state net_httpc_get_state(const net_httpc *h) { return h->state; }

const net_httpc_resp *net_httpc_response(const net_httpc *h) { return &h->resp; }

const char *net_httpc_error(const net_httpc *h) { return h->error; }

void net_httpc_close(net_httpc *h, uint64_t now_ns) {
  if (!h->conn) return;
  net_tcp_conn *c = h->conn;
  h->conn = NULL;
  net_tcp_set_handler(c, NULL, NULL);
  if (h->state == NET_HTTPC_FAILED && net_tcp_get_state(c) != NET_TCP_CLOSED)
    net_tcp_abort(c, now_ns);
  net_tcp_release(c, now_ns);
}
