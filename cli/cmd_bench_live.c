/* `vnetsim bench --live`: TCP echo throughput through libslirp and the
 * simulated guest, next to the same client against a plain echo server on
 * the same libuv loop, in the same run. The ratio is what the simulated
 * machine (device, rings, driver, guest TCP) costs on top of loopback. */
#define _POSIX_C_SOURCE 200809L /* uv.h, poll, sockets */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "host/clock.h"
#include "host/live.h"
#include "host/scn_live.h"

/* --- the client ---------------------------------------------------------- */

/* Sends `bytes` to 127.0.0.1:port and reads the echo, both at once; returns
 * the wall time from connect to the last byte, or 0 when the echo was short,
 * wrong or slower than 60 s. */
static uint64_t blive_client(uint16_t port, size_t bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  uint64_t t0 = host_wallclock_ns();
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return 0;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  static uint8_t out[65536], in[65536];
  for (size_t i = 0; i < sizeof out; i++) out[i] = (uint8_t)(i * 131 + 7);
  size_t sent = 0, got = 0;
  int ok = 1;
  uint64_t deadline = t0 + 60000000000ull;
  while (ok && got < bytes && host_wallclock_ns() < deadline) {
    struct pollfd p = {fd, (short)(POLLIN | (sent < bytes ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 100) < 0 && errno != EINTR) break;
    if ((p.revents & POLLOUT) && sent < bytes) {
      size_t off = sent % sizeof out, k = sizeof out - off;
      if (k > bytes - sent) k = bytes - sent;
      ssize_t w = send(fd, out + off, k, 0);
      if (w > 0) sent += (size_t)w;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = recv(fd, in, sizeof in, 0);
      if (r <= 0 && !(r < 0 && errno == EAGAIN)) ok = 0;
      for (ssize_t j = 0; j < r; j++)
        if (in[j] != out[(got + (size_t)j) % sizeof out]) ok = 0;
      if (r > 0) got += (size_t)r;
    }
  }
  uint64_t t = host_wallclock_ns() - t0;
  close(fd);
  return ok && got == bytes ? t : 0;
}

/* --- the run ----------------------------------------------------------------- */

typedef struct blive_thread {
  scn_live *sl;
  int rc;
} blive_thread;

static void *blive_loop_thread(void *arg) {
  blive_thread *t = arg;
  t->rc = scn_live_run(t->sl, 0);
  return NULL;
}

#define BLIVE_ROUNDS_MAX 99

/* Each round's figure (MB/s or requests/s), their median and spread. */
typedef struct blive_figure {
  double v[BLIVE_ROUNDS_MAX], median, lo, hi;
} blive_figure;

static int blive_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void blive_summarize(blive_figure *f, unsigned rounds) {
  double sorted[BLIVE_ROUNDS_MAX];
  memcpy(sorted, f->v, rounds * sizeof *sorted);
  qsort(sorted, rounds, sizeof *sorted, blive_cmp);
  f->lo = sorted[0];
  f->hi = sorted[rounds - 1];
  f->median = rounds % 2 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
}

/* The same clients against the guest and the plain servers, alternating,
 * so that both see the same machine load. */
typedef struct blive_run {
  const cli_bench_live_args *a;
  uint16_t sim_echo, plain_echo, sim_http, plain_http;
  bench_plain_server *echo_srv, *http_srv;
  bench_http_response response; /* the guest's, which the plain server sends too */
  blive_figure echo[2], req[2]; /* [0] through the guest, [1] plain */
  char why[128];                /* what failed, or "" */
} blive_run;

static int blive_echo_round(blive_run *r, unsigned k) {
  double mb = (double)r->a->bytes / 1e6;
  uint64_t t_sim = blive_client(r->sim_echo, r->a->bytes);
  uint64_t t_plain = t_sim ? blive_client(r->plain_echo, r->a->bytes) : 0;
  if (!t_sim || !t_plain) {
    snprintf(r->why, sizeof r->why, "the %s echo came back short or wrong",
             t_sim ? "loopback server's" : "simulated guest's");
    return -1;
  }
  r->echo[0].v[k] = mb / ((double)t_sim / 1e9);
  r->echo[1].v[k] = mb / ((double)t_plain / 1e9);
  return 0;
}

static int blive_http_round(blive_run *r, unsigned k) {
  const char *why = NULL;
  uint64_t t_sim =
      bench_http_client(r->sim_http, r->a->requests, r->a->concurrency, &r->response, &why);
  if (t_sim && k == 0) bench_plain_answer_with(r->http_srv, &r->response);
  uint64_t t_plain = t_sim ? bench_http_client(r->plain_http, r->a->requests, r->a->concurrency,
                                               &r->response, &why)
                           : 0;
  if (!t_sim || !t_plain) {
    snprintf(r->why, sizeof r->why, "HTTP through the %s: %s",
             t_sim ? "plain loopback server" : "simulated guest", why);
    return -1;
  }
  r->req[0].v[k] = r->a->requests / ((double)t_sim / 1e9);
  r->req[1].v[k] = r->a->requests / ((double)t_plain / 1e9);
  return 0;
}

static int blive_rounds(blive_run *r) {
  unsigned n = r->a->rounds;
  for (unsigned k = 0; k < n; k++)
    if (blive_echo_round(r, k) || (r->a->requests && blive_http_round(r, k))) return -1;
  for (int i = 0; i < 2; i++) {
    blive_summarize(&r->echo[i], n);
    if (r->a->requests) blive_summarize(&r->req[i], n);
  }
  return 0;
}

static int blive_print_json(FILE *out, const blive_run *r, const scn_live *sl) {
  const cli_bench_live_args *a = r->a;
  const blive_figure *e = r->echo, *q = r->req;
  fprintf(out,
          "{\"command\":\"bench\",\"live\":{\"bytes\":%zu,\"rounds\":%u,"
          "\"through_slirp_mb_s\":%.1f,\"through_slirp_spread\":[%.1f,%.1f],"
          "\"loopback_mb_s\":%.1f,\"loopback_spread\":[%.1f,%.1f],\"ratio\":%.4f,"
          "\"inbound_frames\":%zu",
          a->bytes, a->rounds, e[0].median, e[0].lo, e[0].hi, e[1].median, e[1].lo, e[1].hi,
          e[0].median / e[1].median, sl->s->fates.nframes);
  if (a->requests)
    fprintf(out,
            ",\"http\":{\"requests\":%u,\"concurrency\":%u,\"response_bytes\":%zu,"
            "\"through_slirp_req_s\":%.0f,\"through_slirp_spread\":[%.0f,%.0f],"
            "\"loopback_req_s\":%.0f,\"loopback_spread\":[%.0f,%.0f],\"ratio\":%.4f}",
            a->requests, a->concurrency, r->response.len, q[0].median, q[0].lo, q[0].hi,
            q[1].median, q[1].lo, q[1].hi, q[0].median / q[1].median);
  return fprintf(out, "}}\n") < 0 ? -1 : 0;
}

static int blive_print_text(FILE *out, const scn_config *cfg, const blive_run *r,
                            const scn_live *sl) {
  const cli_bench_live_args *a = r->a;
  const blive_figure *e = r->echo, *q = r->req;
  fprintf(out,
          "live TCP echo of %.1f MB (seed %" PRIu64
          ", queue %u), median of %u alternating rounds (min-max):\n",
          (double)a->bytes / 1e6, cfg->seed, cfg->queue_size, a->rounds);
  fprintf(out,
          "  through slirp + simulated guest  %8.1f MB/s (%.1f-%.1f)  (%zu frames in, %" PRIu64
          " out, HTTP included)\n",
          e[0].median, e[0].lo, e[0].hi, sl->s->fates.nframes, sl->s->guest_frames);
  fprintf(out, "  plain loopback echo (libuv)      %8.1f MB/s (%.1f-%.1f)\n", e[1].median, e[1].lo,
          e[1].hi);
  fprintf(out, "  ratio of the medians             %8.4f\n", e[0].median / e[1].median);
  if (a->requests) {
    fprintf(out,
            "HTTP GET / (%zu-byte response), %u requests %u at a time, each on its own "
            "connection:\n",
            r->response.len, a->requests, a->concurrency);
    fprintf(out, "  through slirp + simulated guest  %8.0f req/s (%.0f-%.0f)\n", q[0].median,
            q[0].lo, q[0].hi);
    fprintf(out, "  plain loopback server (libuv)    %8.0f req/s (%.0f-%.0f)\n", q[1].median,
            q[1].lo, q[1].hi);
    fprintf(out, "  ratio of the medians             %8.4f\n", q[0].median / q[1].median);
  }
  return fflush(out) || ferror(out) ? -1 : 0;
}

/* The guest's two services through slirp, as `run` forwards them. */
static int blive_init(scn_live *sl, const scn_config *cfg, char *err, size_t errlen) {
  static scn_live_config lc;
  scn_live_config_default(&lc);
  lc.scn = *cfg;
  if (scn_hostfwd_parse("tcp:127.0.0.1:0-:8023", &lc.fwds[0], err, errlen) ||
      scn_hostfwd_parse("tcp:127.0.0.1:0-:80", &lc.fwds[1], err, errlen))
    return -1;
  lc.nfwds = 2;
  return scn_live_init(sl, &lc, err, errlen) ? -1 : 0;
}

/* Runs the rounds with the live loop on its own thread; 0, or r->why set. */
static int blive_measure(scn_live *sl, blive_run *r) {
  blive_thread th = {sl, 0};
  pthread_t tid;
  if (pthread_create(&tid, NULL, blive_loop_thread, &th)) {
    snprintf(r->why, sizeof r->why, "cannot start the loop thread");
    return -1;
  }
  int rc = blive_rounds(r);
  host_live_request_stop(sl->live);
  pthread_join(tid, NULL);
  bench_plain_close(r->echo_srv);
  bench_plain_close(r->http_srv);
  scn_live_finish(sl);
  if (!rc && th.rc) snprintf(r->why, sizeof r->why, "the live loop failed");
  return rc || th.rc ? -1 : 0;
}

int cli_bench_live(FILE *out, const scn_config *cfg, const cli_bench_live_args *a) {
  static blive_run r;
  memset(&r, 0, sizeof r);
  r.a = a;
  char err[512];
  static scn_live sl;
  if (blive_init(&sl, cfg, err, sizeof err))
    return cli_error("bench", CLI_EXIT_FAIL, "--live: %s", err);
  signal(SIGPIPE, SIG_IGN);
  /* The servers on the one loop, set up before its thread starts: the loop
   * is touched by one thread at a time. */
  r.echo_srv = bench_plain_start(host_live_loop(sl.live), 0);
  r.http_srv = bench_plain_start(host_live_loop(sl.live), 1);
  if (!r.echo_srv || !r.http_srv) {
    if (r.echo_srv) bench_plain_close(r.echo_srv);
    if (r.http_srv) bench_plain_close(r.http_srv);
    scn_live_close(&sl);
    return cli_error("bench", CLI_EXIT_FAIL, "--live: cannot start the loopback servers");
  }
  r.sim_echo = sl.fwds[0].bound_port;
  r.sim_http = sl.fwds[1].bound_port;
  r.plain_echo = bench_plain_port(r.echo_srv);
  r.plain_http = bench_plain_port(r.http_srv);
  int rc = blive_measure(&sl, &r);
  if (!rc) rc = a->json ? blive_print_json(out, &r, &sl) : blive_print_text(out, cfg, &r, &sl);
  scn_live_close(&sl);
  if (rc && r.why[0]) return cli_error("bench", CLI_EXIT_FAIL, "--live: %s", r.why);
  if (rc) return cli_error("bench", CLI_EXIT_FAIL, "cannot write the results: %s", strerror(errno));
  return CLI_EXIT_OK;
}
