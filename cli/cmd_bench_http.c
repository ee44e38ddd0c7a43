/* `vnetsim bench --live`'s request rate: the client of short HTTP requests,
 * each on its own connection, the same for the guest's HTTP server through
 * slirp and for the plain server (cli/cmd_bench_plain.c). */
#define _POSIX_C_SOURCE 200809L /* uv.h, poll, sockets */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "host/clock.h"

static const char bhttp_request[] = "GET / HTTP/1.1\r\nHost: guest\r\nConnection: close\r\n\r\n";

#define BHTTP_TIMEOUT_NS (60u * 1000000000ull) /* a whole round, as the echo's */
#define BHTTP_POLL_MS    100                   /* the client's poll, for the deadline */
#define BHTTP_STATUS_OK  "HTTP/1.1 200 "       /* RFC 9112 §4: status-line of a 200 */

/* --- the client ------------------------------------------------------------ */

typedef enum { SLOT_IDLE, SLOT_CONNECTING, SLOT_SENDING, SLOT_READING } bhttp_slot_state;

typedef struct bhttp_slot {
  int fd;
  bhttp_slot_state state;
  size_t sent, got;
  char in[BENCH_HTTP_RESPONSE_MAX];
} bhttp_slot;

typedef struct bhttp_client {
  uint16_t port;
  unsigned started, done, total;
  bench_http_response *expect; /* len 0: the first response sets it */
  const char *failed;          /* why the round failed, or NULL */
  bhttp_slot slot[BENCH_HTTP_MAX_CONCURRENCY];
} bhttp_client;

static void bhttp_slot_end(bhttp_slot *s) {
  close(s->fd);
  s->fd = -1;
  s->state = SLOT_IDLE;
}

static int bhttp_slot_open(bhttp_client *cl, bhttp_slot *s) {
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (s->fd < 0) return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(cl->port);
  if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
    bhttp_slot_end(s);
    return -1;
  }
  s->state = SLOT_CONNECTING;
  s->sent = s->got = 0;
  cl->started++;
  return 0;
}

/* The whole response came (the server closed): it must be a 200 and, after
 * the first, byte for byte the first. */
static void bhttp_response_done(bhttp_client *cl, bhttp_slot *s) {
  bench_http_response *e = cl->expect;
  if (s->got < sizeof BHTTP_STATUS_OK - 1 ||
      memcmp(s->in, BHTTP_STATUS_OK, sizeof BHTTP_STATUS_OK - 1))
    cl->failed = "a response was not '200'";
  else if (e->len == 0) {
    memcpy(e->bytes, s->in, s->got);
    e->len = s->got;
  } else if (s->got != e->len || memcmp(s->in, e->bytes, e->len))
    cl->failed = "a response differed from the first";
  cl->done++;
  bhttp_slot_end(s);
}

static void bhttp_slot_step(bhttp_client *cl, bhttp_slot *s, short revents) {
  if (s->state == SLOT_CONNECTING && (revents & (POLLOUT | POLLERR | POLLHUP))) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
      cl->failed = "a connection was refused or reset";
      return;
    }
    s->state = SLOT_SENDING;
  }
  if (s->state == SLOT_SENDING) {
    ssize_t w = send(s->fd, bhttp_request + s->sent, sizeof bhttp_request - 1 - s->sent, 0);
    if (w < 0 && errno != EAGAIN) cl->failed = "a request could not be sent";
    if (w > 0 && (s->sent += (size_t)w) == sizeof bhttp_request - 1) s->state = SLOT_READING;
    return;
  }
  if (s->state != SLOT_READING || !(revents & (POLLIN | POLLHUP | POLLERR))) return;
  ssize_t r = recv(s->fd, s->in + s->got, sizeof s->in - s->got, 0);
  if (r > 0 && (s->got += (size_t)r) == sizeof s->in) cl->failed = "a response was too long";
  if (r == 0) bhttp_response_done(cl, s);
  if (r < 0 && errno != EAGAIN) cl->failed = "a connection was reset";
}

/* One poll over the open slots; every idle slot first opens the next
 * request's connection while any are left. */
static void bhttp_client_pass(bhttp_client *cl, unsigned concurrency) {
  struct pollfd p[BENCH_HTTP_MAX_CONCURRENCY];
  for (unsigned i = 0; i < concurrency; i++) {
    bhttp_slot *s = &cl->slot[i];
    if (s->state == SLOT_IDLE && cl->started < cl->total && bhttp_slot_open(cl, s))
      cl->failed = "cannot open a socket";
    p[i] = (struct pollfd){s->fd, s->state == SLOT_READING ? POLLIN : POLLOUT, 0};
  }
  if (cl->failed || poll(p, concurrency, BHTTP_POLL_MS) < 0) {
    if (!cl->failed && errno != EINTR) cl->failed = "poll failed";
    return;
  }
  for (unsigned i = 0; i < concurrency && !cl->failed; i++)
    if (cl->slot[i].state != SLOT_IDLE && p[i].revents)
      bhttp_slot_step(cl, &cl->slot[i], p[i].revents);
}

uint64_t bench_http_client(uint16_t port, unsigned requests, unsigned concurrency,
                           bench_http_response *expect, const char **why) {
  static bhttp_client cl;
  if (concurrency > BENCH_HTTP_MAX_CONCURRENCY) concurrency = BENCH_HTTP_MAX_CONCURRENCY;
  cl.port = port;
  cl.started = cl.done = 0;
  cl.total = requests;
  cl.expect = expect;
  cl.failed = NULL;
  for (unsigned i = 0; i < concurrency; i++) cl.slot[i] = (bhttp_slot){.fd = -1};
  uint64_t t0 = host_wallclock_ns();
  while (!cl.failed && cl.done < cl.total) {
    if (host_wallclock_ns() - t0 > BHTTP_TIMEOUT_NS) cl.failed = "the round took over 60 s";
    bhttp_client_pass(&cl, concurrency);
  }
  uint64_t t = host_wallclock_ns() - t0;
  for (unsigned i = 0; i < concurrency; i++)
    if (cl.slot[i].state != SLOT_IDLE) bhttp_slot_end(&cl.slot[i]);
  *why = cl.failed;
  return cl.failed ? 0 : t;
}
