/* The plain loopback servers `vnetsim bench --live` measures the guest
 * against, on the live loop: libuv only, no simulation. The echo server
 * sends back what it reads; the HTTP server answers every request head with
 * the response it was given (the guest's, so both send the same bytes),
 * then closes, as the guest's server does. */
#define _POSIX_C_SOURCE 200809L /* uv.h */

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cmd.h"

#define BPLAIN_HEAD_MAX 2048u /* a request head the HTTP server reads */

typedef struct bplain_conn {
  uv_tcp_t h;
  bench_plain_server *srv;
  struct bplain_conn *next, **prev; /* the server's open connections */
  uv_write_t write;                 /* HTTP: the response */
  size_t head_len;
  char head[BPLAIN_HEAD_MAX]; /* HTTP: the request head so far */
} bplain_conn;

struct bench_plain_server {
  uv_tcp_t listener;
  bplain_conn *conns;
  uint16_t port;
  int http;
  pthread_mutex_t lock; /* the response is set by the client's thread */
  size_t response_len;
  char response[BENCH_HTTP_RESPONSE_MAX];
};

static void bplain_conn_closed(uv_handle_t *h) {
  bplain_conn *c = h->data;
  if (c->next) c->next->prev = c->prev;
  *c->prev = c->next;
  free(c);
}

static void bplain_close(bplain_conn *c) {
  uv_read_stop((uv_stream_t *)&c->h);
  if (!uv_is_closing((uv_handle_t *)&c->h)) uv_close((uv_handle_t *)&c->h, bplain_conn_closed);
}

/* --- echo ------------------------------------------------------------------ */

typedef struct bplain_echo_write {
  uv_write_t req;
  char *data;
} bplain_echo_write;

static void bplain_echo_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(hint);
  buf->len = buf->base ? hint : 0;
}

static void bplain_echo_written(uv_write_t *req, int status) {
  (void)status;
  bplain_echo_write *w = (bplain_echo_write *)req;
  free(w->data);
  free(w);
}

static void bplain_echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    bplain_echo_write *w = malloc(sizeof *w);
    if (w) {
      w->data = buf->base; /* the write takes the buffer over */
      uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
      if (uv_write(&w->req, s, &out, 1, bplain_echo_written) == 0) return;
      free(w);
    }
  } else if (n < 0) {
    bplain_close(s->data); /* EOF or error */
  }
  free(buf->base);
}

/* --- HTTP ------------------------------------------------------------------- */

static void bplain_http_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  bplain_conn *c = h->data;
  buf->base = c->head + c->head_len;
  buf->len = sizeof c->head - c->head_len;
}

/* The response is written, then the connection closed ("Connection:
 * close"). */
static void bplain_http_written(uv_write_t *req, int status) {
  (void)status;
  bplain_close(req->data);
}

static void bplain_http_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  bplain_conn *c = s->data;
  if (n < 0) {
    bplain_close(c);
    return;
  }
  size_t scan_from = c->head_len > 3 ? c->head_len - 3 : 0;
  c->head_len += (size_t)n;
  int whole = 0;
  for (size_t i = scan_from; i + 4 <= c->head_len && !whole; i++)
    whole = memcmp(c->head + i, "\r\n\r\n", 4) == 0; /* RFC 9112 §2.1 */
  if (!whole) {
    if (c->head_len == sizeof c->head) bplain_close(c);
    return;
  }
  uv_read_stop(s);
  bench_plain_server *srv = c->srv;
  pthread_mutex_lock(&srv->lock);
  uv_buf_t out = uv_buf_init(srv->response, (unsigned)srv->response_len);
  pthread_mutex_unlock(&srv->lock);
  c->write.data = c;
  if (out.len == 0 || uv_write(&c->write, s, &out, 1, bplain_http_written) != 0) bplain_close(c);
}

/* --- both --------------------------------------------------------------------- */

static void bplain_accept(uv_stream_t *listener, int status) {
  if (status < 0) return;
  bplain_conn *c = calloc(1, sizeof *c);
  if (!c) return;
  bench_plain_server *srv = c->srv = listener->data;
  uv_tcp_init(listener->loop, &c->h);
  c->h.data = c;
  c->next = srv->conns;
  c->prev = &srv->conns;
  if (srv->conns) srv->conns->prev = &c->next;
  srv->conns = c;
  if (uv_accept(listener, (uv_stream_t *)&c->h) != 0)
    bplain_close(c);
  else if (srv->http)
    uv_read_start((uv_stream_t *)&c->h, bplain_http_alloc, bplain_http_read);
  else
    uv_read_start((uv_stream_t *)&c->h, bplain_echo_alloc, bplain_echo_read);
}

bench_plain_server *bench_plain_start(uv_loop_t *loop, int http) {
  bench_plain_server *srv = calloc(1, sizeof *srv);
  if (!srv) return NULL;
  if (pthread_mutex_init(&srv->lock, NULL)) {
    free(srv);
    return NULL;
  }
  srv->http = http;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_tcp_init(loop, &srv->listener);
  srv->listener.data = srv;
  int len = sizeof sa;
  /* the HTTP client's concurrency is at most BENCH_HTTP_MAX_CONCURRENCY */
  if (uv_tcp_bind(&srv->listener, (const struct sockaddr *)&sa, 0) ||
      uv_listen((uv_stream_t *)&srv->listener, BENCH_HTTP_MAX_CONCURRENCY, bplain_accept) ||
      uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&sa, &len)) {
    bench_plain_close(srv);
    return NULL;
  }
  srv->port = ntohs(sa.sin_port);
  return srv;
}

uint16_t bench_plain_port(const bench_plain_server *srv) { return srv->port; }

void bench_plain_answer_with(bench_plain_server *srv, const bench_http_response *r) {
  pthread_mutex_lock(&srv->lock);
  memcpy(srv->response, r->bytes, r->len);
  srv->response_len = r->len;
  pthread_mutex_unlock(&srv->lock);
}

static void bplain_server_closed(uv_handle_t *h) {
  bench_plain_server *srv = h->data;
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}

/* With the loop stopped: what is left is closed, and freed when the loop's
 * owner runs it once more (host_live_free). */
void bench_plain_close(bench_plain_server *srv) {
  for (bplain_conn *c = srv->conns; c; c = c->next)
    if (!uv_is_closing((uv_handle_t *)&c->h)) uv_close((uv_handle_t *)&c->h, bplain_conn_closed);
  uv_close((uv_handle_t *)&srv->listener, bplain_server_closed);
}
