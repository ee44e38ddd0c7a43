/* An HTTP/1.1 client (RFC 9110, RFC 9112) for the guest: GET one URL over
 * the stack's TCP and hand the body to the caller as it arrives.
 *
 * Three parts, each usable alone:
 *   - net_httpc_parse_url(): "http://host[:port][/path]" (RFC 3986 §3), host
 *     a dotted IPv4 address or a DNS name (which the caller resolves);
 *   - net_httpc_resp: an incremental response reader, fed bytes as they come:
 *     the status line (RFC 9112 §4), header fields (§5) up to
 *     NET_HTTPC_HEAD_MAX bytes, then a body delimited as §6.3 says: by
 *     Transfer-Encoding: chunked (§7.1), by Content-Length, or by the end of
 *     the connection;
 *   - net_httpc: one GET on a net_iface: connect, send the request with
 *     "Connection: close", read the response, time out after a deadline.
 *
 * Every fault in the server's reply is an error with a one-line reason,
 * never a guess: a status line that is not "HTTP/1.x NNN", a header line
 * without a colon, a head past the limit, a Content-Length that is not a
 * number or differs between two fields, a chunk size that is not hex, the
 * connection closed before the length it promised. Time is only ever an
 * argument; nothing here reads a clock, allocates or prints. */
#ifndef VNETSIM_STACK_HTTPC_H
#define VNETSIM_STACK_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "stack/tcp.h"

#define NET_HTTPC_DEFAULT_PORT 80
#define NET_HTTPC_HOST_MAX     253 /* a DNS name's longest text form (RFC 1035 §2.3.4) */
#define NET_HTTPC_PATH_MAX     1024
#define NET_HTTPC_HEAD_MAX     8192 /* status line and header fields */
#define NET_HTTPC_ERROR_MAX    160

typedef struct net_httpc_url {
  char host[NET_HTTPC_HOST_MAX + 1];
  uint32_t ip; /* host order; 0 when host is a name */
  uint16_t port;
  char path[NET_HTTPC_PATH_MAX + 1]; /* "/" when the URL has none */
} net_httpc_url;

/* Parses url. Returns 0, or EMU_EINVAL with a one-line reason in *why (a
 * static string): not http:// (https needs TLS, which the guest lacks), user
 * information, an empty or over-long host, a bad port, a fragment, spaces or
 * control characters, a path too long. */
int net_httpc_parse_url(const char *url, net_httpc_url *out, const char **why);

/* Receives body bytes as they are decoded. */
typedef void (*net_httpc_body_fn)(void *ctx, const uint8_t *data, size_t len);

typedef enum net_httpc_resp_phase {
  NET_HTTPC_HEAD = 0,
  NET_HTTPC_BODY_LENGTH, /* Content-Length bytes */
  NET_HTTPC_BODY_CLOSE,  /* until the connection ends */
  NET_HTTPC_CHUNK_SIZE,  /* a chunk-size line */
  NET_HTTPC_CHUNK_DATA,
  NET_HTTPC_CHUNK_CRLF, /* the CRLF after a chunk's data */
  NET_HTTPC_TRAILER,    /* trailer fields up to the empty line */
  NET_HTTPC_COMPLETE,
  NET_HTTPC_BROKEN, /* see error */
} net_httpc_resp_phase;

typedef struct net_httpc_resp {
  net_httpc_resp_phase phase;
  int status;             /* 100..599 */
  int64_t content_length; /* -1 when the response has none */
  uint64_t body_len;      /* body bytes delivered so far */
  uint64_t chunk_left;    /* in CHUNK_DATA */
  int head_request;       /* no body follows (a HEAD request's response) */
  char head[NET_HTTPC_HEAD_MAX];
  size_t head_len;
  char line[64]; /* a chunk-size or trailer line being gathered */
  size_t line_len;
  net_httpc_body_fn on_body;
  void *body_ctx;
  char error[NET_HTTPC_ERROR_MAX];
} net_httpc_resp;

void net_httpc_resp_init(net_httpc_resp *r, net_httpc_body_fn on_body, void *ctx);
/* Takes the next len bytes of the response. Returns 0 (COMPLETE or waiting
 * for more), or EMU_EFORMAT with the reason in r->error (phase BROKEN);
 * bytes after a complete response are an error too. */
int net_httpc_resp_feed(net_httpc_resp *r, const uint8_t *data, size_t len);
/* The connection ended: 0 when that completes the response (a body
 * delimited by the close), EMU_EFORMAT when it cuts it short. */
int net_httpc_resp_eof(net_httpc_resp *r);

typedef enum net_httpc_state {
  NET_HTTPC_IDLE = 0,
  NET_HTTPC_CONNECTING,
  NET_HTTPC_RECEIVING,
  NET_HTTPC_DONE,
  NET_HTTPC_FAILED,
} net_httpc_state;

/* Fields are private: use the functions. */
typedef struct net_httpc {
  net_iface *ifc;
  net_tcp_conn *conn;
  net_httpc_state state;
  net_httpc_resp resp;
  uint64_t deadline_ns;
  int established;
  char request[NET_HTTPC_PATH_MAX + NET_HTTPC_HOST_MAX + 128];
  size_t request_len, request_sent;
  char error[NET_HTTPC_ERROR_MAX];
} net_httpc;

/* GETs u from ip (u->ip when it is an address; the name's address
 * otherwise), giving up at deadline_ns. on_body receives the body. Returns
 * 0 or net_tcp_connect()'s error. h must stay put until net_httpc_close(). */
int net_httpc_start(net_httpc *h, net_iface *ifc, const net_httpc_url *u, uint32_t ip,
                    net_httpc_body_fn on_body, void *ctx, uint64_t deadline_ns, uint64_t now_ns);
/* Gives up once the deadline has passed. */
void net_httpc_poll(net_httpc *h, uint64_t now_ns);
uint64_t net_httpc_poll_at(const net_httpc *h);
net_httpc_state net_httpc_get_state(const net_httpc *h);
/* The response so far (status, length...). */
const net_httpc_resp *net_httpc_response(const net_httpc *h);
/* Why it FAILED, else "". */
const char *net_httpc_error(const net_httpc *h);
/* Gives the connection back to the stack (closed or reset). */
void net_httpc_close(net_httpc *h, uint64_t now_ns);

#endif
