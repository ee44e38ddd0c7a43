/* The live runtime: the simulated guest behind libslirp, in real time, driven
 * by real sockets on loopback. Each test starts the runtime on a thread of
 * its own (or the built binary as a child), asks the kernel for free ports,
 * and bounds every wait with a deadline: a test fails, it never hangs. */
#define _DEFAULT_SOURCE /* mkdtemp, kill */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "emu/sha256.h"
#include "host/clock.h"
#include "host/live.h"
#include "host/pcapio.h"
#include "host/scn_live.h"
#include "sim/scn.h"
#include "tests/tmpdir.h"

#define MS  1000000ull
#define SEC 1000000000ull

/* --- the runtime on a thread -------------------------------------------- */

typedef struct live_run {
  scn_live *sl;
  pthread_t thread;
  uint64_t duration_ns; /* 0: until live_stop() */
  uint16_t echo_port, http_port;
  int rc;
} live_run;

static void *live_thread(void *arg) {
  live_run *r = arg;
  r->rc = scn_live_run(r->sl, r->duration_ns);
  return NULL;
}

/* Starts a live guest (echo and HTTP forwarded from kernel-chosen ports). */
static void live_start_cfg(live_run *r, scn_live_config *cfg, uint64_t duration_ns) {
  memset(r, 0, sizeof *r);
  char why[256];
  ck_assert_int_eq(scn_hostfwd_parse("tcp:127.0.0.1:0-:8023", &cfg->fwds[0], why, sizeof why), 0);
  ck_assert_int_eq(scn_hostfwd_parse("tcp::0-:80", &cfg->fwds[1], why, sizeof why), 0);
  if (cfg->nfwds < 2) cfg->nfwds = 2; /* a test's own forwards from fwds[2] on */
  r->sl = malloc(sizeof *r->sl);
  ck_assert_ptr_nonnull(r->sl);
  char err[512];
  int rc = scn_live_init(r->sl, cfg, err, sizeof err);
  ck_assert_msg(rc == 0, "scn_live_init: %s", err);
  r->echo_port = r->sl->fwds[0].bound_port;
  r->http_port = r->sl->fwds[1].bound_port;
  ck_assert_uint_ne(r->echo_port, 0);
  ck_assert_uint_ne(r->http_port, 0);
  r->duration_ns = duration_ns;
  ck_assert_int_eq(pthread_create(&r->thread, NULL, live_thread, r), 0);
}

static void live_start(live_run *r, unsigned bugs, uint64_t duration_ns) {
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  cfg.scn.bugs = bugs;
  live_start_cfg(r, &cfg, duration_ns);
}

/* Stops the loop, joins, ends the run: the scenario may be read after. */
static void live_stop(live_run *r) {
  host_live_request_stop(r->sl->live);
  ck_assert_int_eq(pthread_join(r->thread, NULL), 0);
  ck_assert_int_eq(r->rc, 0);
  ck_assert_int_eq(scn_live_finish(r->sl), 0);
}

static void live_close(live_run *r) {
  scn_live_close(r->sl);
  free(r->sl);
  r->sl = NULL;
}

/* --- loopback clients ---------------------------------------------------- */

static uint64_t now_ns(void) { return host_wallclock_ns(); }

static int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect to %u: %s", port,
                strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* A deterministic byte pattern, different per stream. */
static uint8_t pattern_byte(size_t i, unsigned stream) {
  uint32_t x = (uint32_t)i * 2654435761u ^ (stream + 1) * 40503u;
  return (uint8_t)(x >> 13 ^ x);
}

typedef struct echo_stream {
  int fd;
  unsigned id;
  size_t len, sent, got;
  size_t mismatch_at; /* SIZE_MAX: none */
  int eof;
} echo_stream;

/* Drives every stream (send its pattern, read the echo, compare) until all
 * bytes came back, or nothing moved for stall_ns, or the deadline. Returns 1
 * when every stream completed. */
static int echo_streams(echo_stream *st, size_t n, uint64_t deadline_ns, uint64_t stall_ns) {
  struct pollfd *pfd = calloc(n, sizeof *pfd);
  ck_assert_ptr_nonnull(pfd);
  uint8_t buf[16384];
  uint64_t last_progress = now_ns();
  int done = 0;
  for (;;) {
    done = 1;
    for (size_t i = 0; i < n; i++) {
      pfd[i].fd = st[i].fd;
      pfd[i].events = 0;
      if (st[i].got < st[i].len && !st[i].eof && st[i].mismatch_at == SIZE_MAX) {
        done = 0;
        pfd[i].events = POLLIN | (st[i].sent < st[i].len ? POLLOUT : 0);
      }
    }
    uint64_t t = now_ns();
    if (done || t >= deadline_ns || t - last_progress >= stall_ns) break;
    if (poll(pfd, (nfds_t)n, 50) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < n; i++) {
      echo_stream *s = &st[i];
      if ((pfd[i].revents & POLLOUT) && s->sent < s->len) {
        size_t k = s->len - s->sent < sizeof buf ? s->len - s->sent : sizeof buf;
        for (size_t j = 0; j < k; j++) buf[j] = pattern_byte(s->sent + j, s->id);
        ssize_t w = send(s->fd, buf, k, 0);
        if (w > 0) {
          s->sent += (size_t)w;
          last_progress = now_ns();
        }
      }
      if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = recv(s->fd, buf, sizeof buf, 0);
        if (r == 0) s->eof = 1;
        for (ssize_t j = 0; j < r; j++)
          if (buf[j] != pattern_byte(s->got + (size_t)j, s->id) && s->mismatch_at == SIZE_MAX)
            s->mismatch_at = s->got + (size_t)j;
        if (r > 0) {
          s->got += (size_t)r;
          last_progress = now_ns();
        }
      }
    }
  }
  free(pfd);
  return done;
}

static echo_stream stream_open(uint16_t port, unsigned id, size_t len) {
  return (echo_stream){connect_loopback(port), id, len, 0, 0, SIZE_MAX, 0};
}

static size_t open_fds(void) {
  size_t n = 0;
  for (int fd = 0; fd < 4096; fd++) n += fcntl(fd, F_GETFD) != -1;
  return n;
}

/* --- hostfwd= syntax ------------------------------------------------------ */

START_TEST(test_hostfwd_parses_qemu_syntax_with_loopback_default) {
  scn_hostfwd f;
  char why[256];
  ck_assert_int_eq(scn_hostfwd_parse("tcp::8080-:80", &f, why, sizeof why), 0);
  ck_assert_int_eq(f.udp, 0);
  ck_assert_uint_eq(f.host_ip, 0x7f000001u);
  ck_assert_uint_eq(f.host_port, 8080);
  ck_assert_uint_eq(f.guest_ip, 0);
  ck_assert_uint_eq(f.guest_port, 80);
  ck_assert_int_eq(scn_hostfwd_parse("udp:127.0.0.2:0-10.0.2.15:7", &f, why, sizeof why), 0);
  ck_assert_int_eq(f.udp, 1);
  ck_assert_uint_eq(f.host_ip, 0x7f000002u);
  ck_assert_uint_eq(f.host_port, 0);
  ck_assert_uint_eq(f.guest_ip, 0x0a00020fu);
  ck_assert_uint_eq(f.guest_port, 7);
  static const char *bad[] = {"sctp::1-:2", "tcp:8080-:80",     "tcp::8080:80", "tcp::70000-:80",
                              "tcp::80-:0", "tcp:1.2.3:80-:80", "tcp::80-:8x",  "tcp::1-:2-:3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(scn_hostfwd_parse(bad[i], &f, why, sizeof why) == EMU_EINVAL && why[0],
                  "'%s' accepted", bad[i]);
}
END_TEST

/* --- through slirp, with real sockets -------------------------------------- */

START_TEST(test_guest_ping_to_gateway_answered_by_slirp) {
  live_run r;
  live_start(&r, 0, 0);
  usleep(300 * 1000);
  live_stop(&r);
  uint64_t rtt = 0;
  ck_assert_int_eq(scn_live_gateway_ping(r.sl, &rtt), NET_PING_REPLIED);
  ck_assert_uint_gt(rtt, 0);
  ck_assert_uint_lt(rtt, 200 * MS);
  /* slirp's ARP reply and its echo reply, both taken by the guest */
  ck_assert_uint_eq(r.sl->s->fates.nframes, 2);
  ck_assert_uint_eq(r.sl->s->fates.counts[EMU_FATE_DELIVERED], 2);
  live_close(&r);
}
END_TEST

/* One MiB through the echo service from a kernel socket, via slirp and the
 * rings (split or packed): byte for byte, both ledgers whole. jumbo: mtu
 * 9000 on slirp, device and guest, received in mergeable buffers. */
static void one_mib_echo(int packed, int jumbo) {
  live_run r;
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  cfg.scn.packed_ring = packed;
  cfg.scn.mtu = jumbo ? 9000 : 0;
  cfg.scn.mergeable = jumbo;
  live_start_cfg(&r, &cfg, 0);
  echo_stream st = stream_open(r.echo_port, 7 + (unsigned)packed, 1u << 20);
  int ok = echo_streams(&st, 1, now_ns() + 20 * SEC, 5 * SEC);
  close(st.fd);
  live_stop(&r);
  ck_assert_msg(st.mismatch_at == SIZE_MAX, "echo differs at byte %zu", st.mismatch_at);
  ck_assert_msg(ok, "echoed %zu of %zu bytes (sent %zu)", st.got, st.len, st.sent);
  ck_assert_uint_eq(st.got, 1u << 20);
  ck_assert_int_eq(r.sl->s->drv.packed, packed);
  const emu_fates *f = &r.sl->s->fates, *tx = &r.sl->s->tx_fates;
  ck_assert_uint_eq(emu_fates_total(f), f->nframes);
  ck_assert_uint_eq(f->counts[EMU_FATE_RX_NO_BUFFER], 0);
  ck_assert_uint_gt(r.sl->s->services.stats.tcp_echo_bytes, (1u << 20) - 1);
  /* every guest frame sent: a full TX ring holds the guest's frames back
   * (driver.tx_held) rather than dropping them */
  ck_assert_uint_eq(emu_fates_total(tx), tx->nframes);
  ck_assert_uint_eq(tx->counts[EMU_FATE_SENT], tx->nframes);
  /* 1 MiB each way in ~1.5 KiB frames, or ~9 KiB ones */
  ck_assert_uint_gt(tx->counts[EMU_FATE_SENT], jumbo ? 100 : 700);
  if (jumbo) { /* slirp's jumbo segments spread over several 1526-byte buffers */
    ck_assert_uint_gt(r.sl->s->dev.stats.rx_merged, 50);
    ck_assert_uint_eq(r.sl->s->drv.stats.rx_merged, r.sl->s->dev.stats.rx_merged);
  }
  live_close(&r);
}

START_TEST(test_one_mib_echoed_byte_for_byte) { one_mib_echo(0, 0); }
END_TEST

/* A session that forgets each frame once it is done: 16 MiB echoed, tens
 * of thousands of frames, and the ledgers and the id lists hold a few
 * thousand records at most, every count still exact. */
START_TEST(test_live_memory_bounded_by_the_frames_in_flight) {
  live_run r;
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  cfg.forget_done = 1;
  live_start_cfg(&r, &cfg, 0);
  echo_stream st = stream_open(r.echo_port, 3, 16u << 20);
  int ok = echo_streams(&st, 1, now_ns() + 60 * SEC, 5 * SEC);
  close(st.fd);
  live_stop(&r);
  ck_assert_msg(st.mismatch_at == SIZE_MAX, "echo differs at byte %zu", st.mismatch_at);
  ck_assert_msg(ok, "echoed %zu of %zu bytes (sent %zu)", st.got, st.len, st.sent);
  const scn *s = r.sl->s;
  const emu_fates *f = &s->fates, *tx = &s->tx_fates;
  ck_assert_uint_gt(f->nframes, 10000);
  ck_assert_uint_gt(tx->nframes, 10000);
  ck_assert_uint_eq(emu_fates_total(f), f->nframes);
  ck_assert_uint_eq(emu_fates_total(tx), tx->nframes);
  const size_t bound = 4 * EMU_GROW_COMPACT_MIN;
  ck_assert_uint_le(f->cap, bound);
  ck_assert_uint_le(tx->cap, bound);
  ck_assert_uint_le(s->sent.cap, bound);
  live_close(&r);
}
END_TEST

START_TEST(test_one_mib_echoed_through_packed_rings) { one_mib_echo(1, 0); }
END_TEST

START_TEST(test_one_mib_echoed_in_jumbo_frames_through_mergeable_buffers) { one_mib_echo(0, 1); }
END_TEST

/* A small JSON checker: value := object | array | string | number | literal. */
static const char *json_value(const char *p);
static const char *json_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}
static const char *json_string(const char *p) {
  if (*p++ != '"') return NULL;
  for (; *p && *p != '"'; p++)
    if (*p == '\\' && !*++p) return NULL;
  return *p == '"' ? p + 1 : NULL;
}
static const char *json_value(const char *p) {
  p = json_ws(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = json_string(json_ws(p));
        if (!p || *(p = json_ws(p)) != ':') return NULL;
        p++;
      }
      p = json_value(p);
      if (!p) return NULL;
      p = json_ws(p);
      if (*p == close) return p + 1;
      if (*p++ != ',') return NULL;
    }
  }
  if (*p == '"') return json_string(p);
  if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) return p + 4;
  if (!strncmp(p, "false", 5)) return p + 5;
  const char *q = p;
  if (*q == '-') q++;
  while ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+') q++;
  return q > p ? q : NULL;
}

START_TEST(test_http_get_stats_returns_json) {
  live_run r;
  live_start(&r, 0, 0);
  int fd = connect_loopback(r.http_port);
  const char req[] = "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: check_live\r\n\r\n";
  ck_assert_int_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
  static char resp[65536];
  size_t n = 0;
  int eof = 0;
  uint64_t deadline = now_ns() + 10 * SEC;
  while (!eof && n < sizeof resp - 1 && now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t k = recv(fd, resp + n, sizeof resp - 1 - n, 0);
    if (k == 0) eof = 1;
    if (k > 0) n += (size_t)k;
  }
  resp[n] = '\0';
  close(fd);
  live_stop(&r);
  ck_assert_msg(eof, "the server did not close the connection (got %zu bytes)", n);
  ck_assert_msg(!strncmp(resp, "HTTP/1.1 200", 12), "status line: %.40s", resp);
  const char *body = strstr(resp, "\r\n\r\n");
  ck_assert_ptr_nonnull(body);
  body += 4;
  const char *end = json_value(body);
  ck_assert_msg(end && *json_ws(end) == '\0', "body is not one JSON value: %s", body);
  ck_assert_ptr_nonnull(strstr(body, "\"rx_ring\":{"));
  ck_assert_ptr_nonnull(strstr(body, "\"stack\":{"));
  ck_assert_uint_eq(r.sl->s->services.stats.http_requests, 1);
  live_close(&r);
}
END_TEST

/* A UDP datagram larger than the link, through slirp both ways: slirp's IP
 * output sends it to the guest in fragments, the guest reassembles it, its
 * UDP echo goes back in fragments of its own, and slirp's reassembly gives
 * the host socket the whole datagram. */
START_TEST(test_udp_echo_larger_than_the_link_through_slirp_fragments) {
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  char why[256];
  ck_assert_int_eq(scn_hostfwd_parse("udp:127.0.0.1:0-:7", &cfg.fwds[2], why, sizeof why), 0);
  cfg.nfwds = 3;
  live_run r;
  live_start_cfg(&r, &cfg, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(r.sl->fwds[2].bound_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static uint8_t msg[20000], got[65536];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 13 + 5);
  ssize_t n = -1;
  /* UDP may lose the first while slirp and the guest learn each other's MAC */
  for (int attempt = 0; attempt < 5 && n != (ssize_t)sizeof msg; attempt++) {
    ck_assert_int_eq(sendto(fd, msg, sizeof msg, 0, (struct sockaddr *)&sa, sizeof sa),
                     (ssize_t)sizeof msg);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) == 1) n = recv(fd, got, sizeof got, 0);
  }
  close(fd);
  live_stop(&r);
  ck_assert_int_eq(n, (ssize_t)sizeof msg);
  ck_assert_int_eq(memcmp(got, msg, sizeof msg), 0);
  const net_iface_stats *st = net_iface_stats_get(&r.sl->s->guest);
  ck_assert_uint_ge(st->ip_fragments_sent, 14); /* 20,008 bytes in 1,480-byte pieces */
  ck_assert_uint_ge(r.sl->s->guest.reasm.completed, 1);
  live_close(&r);
}
END_TEST

/* slirp listens for a forward with a backlog of 1; a burst of connects then
 * overflows the kernel's accept queue and some are reset. The live runtime
 * widens it: ss shows a listening socket's backlog as its Send-Q. */
START_TEST(test_forward_listens_with_a_wide_backlog) {
  live_run r;
  live_start(&r, 0, 0);
  usleep(300000); /* a few loop rounds: slirp's sockets are watched by then */
  char cmd[128], line[256] = "";
  snprintf(cmd, sizeof cmd, "ss -ltnH 'sport = :%u'", r.echo_port);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
  pclose(p);
  char state[32];
  unsigned recvq = 0, backlog = 0;
  ck_assert_int_eq(sscanf(line, "%31s %u %u", state, &recvq, &backlog), 3);
  ck_assert_str_eq(state, "LISTEN");
  ck_assert_uint_ge(backlog, 128);
  live_stop(&r);
  live_close(&r);
}
END_TEST

#define NCONNS 50

START_TEST(test_fifty_concurrent_connections_each_echoed) {
  live_run r;
  live_start(&r, 0, 0);
  echo_stream st[NCONNS];
  for (unsigned i = 0; i < NCONNS; i++) st[i] = stream_open(r.echo_port, i, 2000 + 37 * i);
  int ok = echo_streams(st, NCONNS, now_ns() + 20 * SEC, 5 * SEC);
  for (unsigned i = 0; i < NCONNS; i++) close(st[i].fd);
  live_stop(&r);
  for (unsigned i = 0; i < NCONNS; i++) {
    ck_assert_msg(st[i].mismatch_at == SIZE_MAX, "conn %u: differs at %zu", i, st[i].mismatch_at);
    ck_assert_msg(st[i].got == st[i].len, "conn %u: %zu of %zu echoed", i, st[i].got, st[i].len);
  }
  ck_assert(ok);
  ck_assert_uint_eq(r.sl->s->guest.stats.tcp_conns_accepted, NCONNS);
  ck_assert_uint_eq(emu_fates_total(&r.sl->s->fates), r.sl->s->fates.nframes);
  live_close(&r);
}
END_TEST

/* The note's bug, live: RX buffers are never re-posted, so once the 256
 * buffers are used every inbound frame is dropped and the echo stops. */
START_TEST(test_rx_no_recycle_stalls_the_echo) {
  live_run r;
  live_start(&r, VBUG_RX_NO_RECYCLE, 0);
  echo_stream st = stream_open(r.echo_port, 3, 400 * 100);
  /* 100-byte messages, one at a time, so each costs a few inbound frames */
  size_t total = st.len;
  int stalled = 0;
  for (size_t target = 100; !stalled && target <= total; target += 100) {
    st.len = target;
    stalled = !echo_streams(&st, 1, now_ns() + 10 * SEC, 1500 * MS);
  }
  st.len = total;
  close(st.fd);
  usleep(200 * 1000); /* slirp's retransmissions meet the full ring too */
  live_stop(&r);
  ck_assert_msg(stalled, "all %zu bytes echoed: no stall", st.got);
  ck_assert(st.mismatch_at == SIZE_MAX);
  ck_assert_uint_gt(st.got, 0);
  ck_assert_uint_lt(st.got, st.len);
  const scn *s = r.sl->s;
  ck_assert_uint_eq(s->drv.stats.rx_reposted, 0);
  ck_assert_uint_eq(s->dev.stats.rx_frames, 256); /* exactly the ring's buffers */
  ck_assert_uint_gt(s->fates.counts[EMU_FATE_RX_NO_BUFFER], 0);
  ck_assert_uint_eq(emu_fates_total(&s->fates), s->fates.nframes);
  live_close(&r);
}
END_TEST

/* An idle runtime sleeps: no events, no socket ready, only slirp's own
 * timeout wakes the loop. */
START_TEST(test_idle_runtime_does_not_poll) {
  live_run r;
  live_start(&r, 0, 1500 * MS);
  ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
  host_live_stats ls;
  host_live_stats_get(r.sl->live, &ls);
  ck_assert_int_eq(scn_live_finish(r.sl), 0);
  /* the start (probe, gateway ping) takes a handful of rounds; then at most
   * a few per second */
  ck_assert_msg(ls.slirp_polls < 40, "%" PRIu64 " loop rounds in 1.5 s idle", ls.slirp_polls);
  live_close(&r);
}
END_TEST

/* Every socket the runtime opened (forward listeners, accepted connections,
 * the loop's own descriptors) is closed by scn_live_close, even with a
 * client still connected. Memory is the sanitizer build's to check. */
START_TEST(test_shutdown_closes_every_socket) {
  live_run r;
  /* libuv opens a few process-wide descriptors on first use (its signal
   * lock pipe), never to close them: count from after a first runtime. */
  live_start(&r, 0, 0);
  live_stop(&r);
  live_close(&r);
  size_t before = open_fds();
  live_start(&r, 0, 0);
  echo_stream st = stream_open(r.echo_port, 1, 1000);
  ck_assert(echo_streams(&st, 1, now_ns() + 10 * SEC, 5 * SEC));
  live_stop(&r); /* the client is still connected */
  live_close(&r);
  close(st.fd);
  ck_assert_uint_eq(open_fds(), before);
}
END_TEST

/* --- record and replay ---------------------------------------------------- */

/* A recorded session, injected at its recorded times into a scenario built
 * the way the live runtime builds one, gives every frame the same fate and
 * the run the same trace. */
START_TEST(test_recorded_session_replays_to_same_fates_and_trace) {
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  cfg.scn.seed = 42;
  cfg.scn.bugs = VBUG_RX_NO_RECYCLE;
  cfg.scn.queue_size = 64; /* the stall comes sooner */
  char rec[128];
  snprintf(rec, sizeof rec, "%s/rec.pcap", tmpdir);
  cfg.record_path = rec;
  live_run r;
  live_start_cfg(&r, &cfg, 0);
  echo_stream st[3];
  for (unsigned i = 0; i < 3; i++) st[i] = stream_open(r.echo_port, i, 40000);
  echo_streams(st, 3, now_ns() + 10 * SEC, 1 * SEC);
  for (unsigned i = 0; i < 3; i++) close(st[i].fd);
  usleep(100 * 1000);
  host_live_request_stop(r.sl->live);
  ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
  uint64_t end = scn_now(r.sl->s);
  ck_assert_int_eq(scn_live_finish(r.sl), 0);
  const scn *live = r.sl->s;
  ck_assert_uint_gt(live->fates.counts[EMU_FATE_RX_NO_BUFFER], 0);

  scn_capture in;
  char err[256];
  ck_assert_int_eq(host_pcap_load(rec, &in, err, sizeof err), 0);
  ck_assert_uint_eq(in.nframes, live->fates.nframes);
  static scn rp;
  ck_assert_int_eq(scn_live_sim_init(&rp, &cfg.scn, 1), 0);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(&rp, &in, &notes), 0);
  ck_assert_uint_eq(notes.out_of_order, 0);
  scn_run(&rp, end, UINT64_MAX);
  scn_finish(&rp);
  for (size_t i = 0; i < in.nframes; i++) {
    int64_t a = scn_sent_id(live, i), b = scn_sent_id(&rp, i);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_msg(live->fates.frames[a].fate == rp.fates.frames[b].fate,
                  "frame %zu: live %s, replay %s", i + 1, emu_fate_name(live->fates.frames[a].fate),
                  emu_fate_name(rp.fates.frames[b].fate));
  }
  ck_assert_uint_eq(rp.trace.events, live->trace.events);
  ck_assert_uint_eq(rp.trace.hash, live->trace.hash);

  /* 'vnetsim replay' of the same file: the same fates, except for slirp's
   * answer to the gateway ping the live guest sent at start (the replaying
   * guest sent none, so that reply finds no listener). */
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/replay.json", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' replay %s --seed 42 --qsize 64 --bug rx-no-recycle --json >%s",
           VNETSIM_BIN, rec, out);
  ck_assert_int_eq(system(cmd), 0);
  FILE *f = fopen(out, "r");
  ck_assert_ptr_nonnull(f);
  static char json[1 << 20];
  size_t n = fread(json, 1, sizeof json - 1, f);
  fclose(f);
  json[n] = '\0';
  size_t k = 0, differ = 0;
  for (const char *p = json; (p = strstr(p, "\"fate\":\"")) != NULL; k++) {
    p += 8;
    const char *q = strchr(p, '"');
    int64_t a = scn_sent_id(live, k);
    ck_assert_int_ge(a, 0);
    const char *lf = emu_fate_name(live->fates.frames[a].fate);
    if (strlen(lf) != (size_t)(q - p) || strncmp(lf, p, (size_t)(q - p))) {
      differ++;
      ck_assert_msg(!strncmp(p, "no_listener", 11) && !strcmp(lf, "delivered"),
                    "frame %zu: live %s, vnetsim replay %.20s", k + 1, lf, p);
    }
  }
  ck_assert_uint_eq(k, in.nframes);
  ck_assert_uint_eq(differ, 1);

  host_pcap_free(&in);
  scn_close(&rp);
  live_close(&r);
}
END_TEST

/* --- the command, as a child process ----------------------------------------- */

typedef struct child {
  pid_t pid;
  FILE *out; /* its stdout and stderr */
} child;

static child spawn(const char *args) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  child c;
  c.pid = fork();
  ck_assert_int_ge(c.pid, 0);
  if (c.pid == 0) {
    dup2(p[1], 1);
    dup2(p[1], 2);
    close(p[0]);
    close(p[1]);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "exec '%s' %s </dev/null", VNETSIM_BIN, args);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  c.out = fdopen(p[0], "r");
  return c;
}

/* Reads lines until one names the forward to guest_port; returns its host
 * port, or 0 after the deadline. Lines are kept in log. */
static uint16_t wait_forward(child *c, unsigned guest_port, char *log, size_t cap) {
  char line[512], want[32];
  snprintf(want, sizeof want, " -> guest :%u", guest_port);
  int fd = fileno(c->out);
  uint64_t deadline = now_ns() + 10 * SEC;
  while (now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (!fgets(line, sizeof line, c->out)) return 0;
    strncat(log, line, cap - strlen(log) - 1);
    const char *m = strstr(line, want);
    const char *colon = strstr(line, "127.0.0.1:");
    if (m && colon && (m[strlen(want)] == '\n' || m[strlen(want)] == ' '))
      return (uint16_t)atoi(colon + 10);
  }
  return 0;
}

static int finish_child(child *c, char *log, size_t cap, int *sig_out) {
  char line[512];
  uint64_t deadline = now_ns() + 15 * SEC;
  int fd = fileno(c->out);
  while (now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (!fgets(line, sizeof line, c->out)) break;
    strncat(log, line, cap - strlen(log) - 1);
  }
  if (now_ns() >= deadline) kill(c->pid, SIGKILL);
  fclose(c->out);
  int st;
  ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
  *sig_out = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_run_command_prints_ports_and_stops_on_sigterm) {
  static char log[1 << 16];
  log[0] = '\0';
  child c = spawn("run --hostfwd tcp::0-:8023 --hostfwd tcp:127.0.0.1:0-:80");
  uint16_t echo = wait_forward(&c, 8023, log, sizeof log);
  ck_assert_msg(echo != 0, "no forward line for 8023: %s", log);
  uint16_t http = wait_forward(&c, 80, log, sizeof log);
  ck_assert_msg(http != 0, "no forward line for 80: %s", log);
  echo_stream st = stream_open(echo, 9, 5000);
  ck_assert(echo_streams(&st, 1, now_ns() + 10 * SEC, 5 * SEC));
  ck_assert(st.mismatch_at == SIZE_MAX);
  close(st.fd);
  usleep(100 * 1000);
  ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
  int sig;
  int code = finish_child(&c, log, sizeof log, &sig);
  ck_assert_msg(code == 0 && sig == 0, "exit %d signal %d: %s", code, sig, log);
  ck_assert_ptr_nonnull(strstr(log, "guest ping 10.0.2.2: reply after"));
  ck_assert_ptr_nonnull(strstr(log, "stopped (SIGTERM)"));
  ck_assert_ptr_nonnull(strstr(log, "all accounted: yes"));
  ck_assert_ptr_nonnull(strstr(log, "trace: "));
}
END_TEST

/* --ipv6: the guest solicits slirp's Router Advertisement and takes
 * fec0::/64 by SLAAC; a client on ::1 reaches the guest's echo service
 * through slirp's IPv6 forward (slirp_add_hostxfwd), which only an address
 * the guest really took can answer (slirp resolves it with an NS). */
START_TEST(test_run_command_ipv6_slaac_and_echo_through_slirp) {
  static char log[1 << 16];
  log[0] = '\0';
  child c = spawn("run --ipv6 --hostfwd tcp::0-:8023");
  uint16_t port = wait_forward(&c, 8023, log, sizeof log);
  ck_assert_msg(port != 0, "no forward line for 8023: %s", log);
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  sa.sin6_addr = in6addr_loopback;
  ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect [::1]:%u", port);
  static const char msg[] = "over slirp's IPv6 and back";
  ck_assert_int_eq(write(fd, msg, sizeof msg - 1), (ssize_t)(sizeof msg - 1));
  char got[64] = "";
  size_t n = 0;
  uint64_t deadline = now_ns() + 5 * SEC;
  while (n < sizeof msg - 1 && now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = read(fd, got + n, sizeof got - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  ck_assert_str_eq(got, msg);
  usleep(100 * 1000);
  ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
  int sig;
  int code = finish_child(&c, log, sizeof log, &sig);
  ck_assert_msg(code == 0 && sig == 0, "exit %d signal %d: %s", code, sig, log);
  ck_assert_ptr_nonnull(strstr(log, "the guest takes fec0::5054:ff:fe12:3456"));
  ck_assert_ptr_nonnull(strstr(log, "forwarding tcp [::1]:"));
  ck_assert_ptr_nonnull(strstr(log, "all accounted: yes"));
}
END_TEST

START_TEST(test_run_command_duration_json_and_bad_usage) {
  static char log[1 << 16];
  log[0] = '\0';
  child c = spawn("run --duration-s 1 --hostfwd tcp::0-:8023 --json");
  ck_assert_uint_ne(wait_forward(&c, 8023, log, sizeof log), 0);
  int sig;
  ck_assert_int_eq(finish_child(&c, log, sizeof log, &sig), 0);
  const char *obj = strstr(log, "{\"command\":\"run\"");
  ck_assert_ptr_nonnull(obj);
  const char *end = json_value(obj);
  ck_assert_msg(end && *json_ws(end) == '\0', "not one JSON object: %s", obj);
  ck_assert_ptr_nonnull(strstr(obj, "\"stopped_by\":\"duration\""));
  ck_assert_ptr_nonnull(strstr(obj, "\"gateway_ping\":{\"state\":\"replied\""));

  static const char *bad[] = {"run --hostfwd tcp:8023", "run --duration-s 0", "run extra",
                              "run --hostfwd tcp::1-:0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    log[0] = '\0';
    child b = spawn(bad[i]);
    int code = finish_child(&b, log, sizeof log, &sig);
    ck_assert_msg(code == 2, "'%s' exited %d: %s", bad[i], code, log);
    ck_assert_msg(!strncmp(log, "vnetsim run: ", 13) && strchr(log, '\n') == log + strlen(log) - 1,
                  "'%s' did not give one line: %s", bad[i], log);
  }
}
END_TEST

/* --- the guest as a client, against slirp's and the host's real servers --------- */

/* slirp's own DHCP server, in process: the guest starts without an address,
 * takes slirp's lease, and the forwarded echo then reaches it there. */
START_TEST(test_dhcp_lease_from_slirps_server) {
  static scn_live_config cfg;
  scn_live_config_default(&cfg);
  cfg.scn.dhcp = 1;
  cfg.ping_gateway = 0;
  live_run r;
  live_start_cfg(&r, &cfg, 0);
  uint64_t deadline = now_ns() + 10 * SEC;
  /* the client's state is the loop thread's: wait on the echo instead */
  echo_stream st = stream_open(r.echo_port, 11, 3000);
  int ok = echo_streams(&st, 1, deadline, 5 * SEC);
  close(st.fd);
  live_stop(&r);
  ck_assert_msg(ok, "echo after DHCP: %zu of %zu bytes", st.got, st.len);
  const net_dhcp *d = net_client_dhcp(r.sl->s->client);
  ck_assert_ptr_nonnull(d);
  ck_assert_msg(net_dhcp_get_state(d) == NET_DHCP_BOUND, "dhcp: %s (last ignored: %s)",
                net_dhcp_error(d), d->last_ignored ? d->last_ignored : "none");
  const net_dhcp_lease *l = net_dhcp_get_lease(d);
  ck_assert_uint_eq(l->ip, 0x0a00020fu);
  ck_assert_uint_eq(l->netmask, 0xffffff00u);
  ck_assert_uint_eq(l->gateway, 0x0a000202u);
  ck_assert_uint_eq(l->dns, 0x0a000203u);
  ck_assert_uint_eq(l->server, 0x0a000202u);
  ck_assert_uint_gt(l->lease_s, 0);
  ck_assert_uint_eq(net_dhcp_stats_get(d)->discovers_sent, 1);
  ck_assert_uint_eq(net_dhcp_stats_get(d)->ignored, 0);
  ck_assert_uint_eq(r.sl->s->guest.cfg.ip, 0x0a00020fu);
  ck_assert_uint_eq(emu_fates_total(&r.sl->s->fates), r.sl->s->fates.nframes);
  live_close(&r);
}
END_TEST

/* python3's http.server on 127.0.0.1, serving dir on a kernel-chosen
 * port; returns its pid and port. */
static pid_t http_server_start(const char *dir, uint16_t *port) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(p[1], 1);
    dup2(p[1], 2);
    close(p[0]);
    close(p[1]);
    execlp("python3", "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
           dir, "0", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  FILE *f = fdopen(p[0], "r");
  char line[256] = "";
  *port = 0;
  /* "Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ..." */
  if (fgets(line, sizeof line, f)) {
    const char *at = strstr(line, " port ");
    if (at) *port = (uint16_t)atoi(at + 6);
  }
  ck_assert_msg(*port != 0, "python3 -m http.server did not start: %s", line);
  /* its later output (one line per request) must not block it */
  if (fork() == 0) {
    while (fgets(line, sizeof line, f)) {
    }
    _exit(0);
  }
  fclose(f);
  return pid;
}

static void http_server_stop(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* A port nothing listens on (bound, then released). */
static uint16_t closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static void file_write_pattern(const char *path, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  for (size_t i = 0; i < n; i++) fputc(pattern_byte(i, 42), f);
  ck_assert_int_eq(fclose(f), 0);
}

static int files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int x = fgetc(fa), y = fgetc(fb);
    if (x != y) same = 0;
    if (x == EOF || y == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

/* The command, end to end: DHCP from slirp, then the guest GETs 1 MiB from
 * python's HTTP server on the host's loopback (10.0.2.2 through slirp),
 * writes it byte for byte, reports its SHA-256, a 404 and a refused
 * connection; the failure makes the exit status 1, and the run stops by
 * itself once the actions are done. */
START_TEST(test_run_command_dhcp_and_get_from_a_host_http_server) {
  char dir[256], file[300], out[300], want[EMU_SHA256_HEX_LEN];
  snprintf(dir, sizeof dir, "%s/www", tmpdir);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(file, sizeof file, "%s/f", dir);
  snprintf(out, sizeof out, "%s/got", tmpdir);
  file_write_pattern(file, 1u << 20);
  emu_sha256 h;
  emu_sha256_init(&h);
  for (size_t i = 0; i < (1u << 20); i++) {
    uint8_t b = pattern_byte(i, 42);
    emu_sha256_update(&h, &b, 1);
  }
  uint8_t dg[EMU_SHA256_LEN];
  emu_sha256_final(&h, dg);
  emu_sha256_hex(dg, want);
  uint16_t port;
  pid_t server = http_server_start(dir, &port);
  char args[1024];
  snprintf(args, sizeof args,
           "run --dhcp --hostfwd tcp::0-:8023 --guest 'get http://10.0.2.2:%u/f' --guest-out %s "
           "--guest 'get http://10.0.2.2:%u/missing' --guest 'tcp 10.0.2.2:%u hello'",
           port, out, port, closed_port());
  static char log[1 << 16];
  log[0] = '\0';
  child c = spawn(args);
  int sig;
  int code = finish_child(&c, log, sizeof log, &sig);
  http_server_stop(server);
  ck_assert_msg(code == 1 && sig == 0, "exit %d signal %d: %s", code, sig, log);
  ck_assert_msg(strstr(log,
                       "guest dhcp: bound ip=10.0.2.15 netmask=255.255.255.0 "
                       "gateway=10.0.2.2 dns=10.0.2.3 lease_s="),
                "%s", log);
  char line[256];
  snprintf(line, sizeof line, "): ok status=200 length=1048576 sha256=%s server=10.0.2.2", want);
  ck_assert_msg(strstr(log, line), "no '%s' in: %s", line, log);
  ck_assert_msg(strstr(log, "missing): ok status=404"), "%s", log);
  ck_assert_msg(strstr(log, "hello): failed: connection refused"), "%s", log);
  ck_assert_msg(strstr(log, "stopped (the guest's actions are done)"), "%s", log);
  ck_assert_msg(strstr(log, "vnetsim run: 1 of 3 guest actions failed"), "%s", log);
  ck_assert_msg(strstr(log, "all accounted: yes"), "%s", log);
  ck_assert_msg(files_equal(file, out), "--guest-out differs from the served file");
}
END_TEST

/* Echo servers of the test's own on 127.0.0.1, one TCP connection (echoed
 * until the client closes, then closed) and one UDP datagram. */
typedef struct echo_srv {
  int tfd, ufd;
  uint16_t tport, uport;
  pthread_t tt, ut;
} echo_srv;

static void *echo_srv_tcp(void *arg) {
  echo_srv *e = arg;
  int c = accept(e->tfd, NULL, NULL);
  if (c < 0) return NULL;
  char buf[4096];
  ssize_t n;
  while ((n = recv(c, buf, sizeof buf, 0)) > 0) send(c, buf, (size_t)n, 0);
  close(c);
  return NULL;
}

static void *echo_srv_udp(void *arg) {
  echo_srv *e = arg;
  char buf[2048];
  struct sockaddr_in from;
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(e->ufd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
  if (n > 0) sendto(e->ufd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
  return NULL;
}

static int loopback_socket(int type, uint16_t *port) {
  int fd = socket(AF_INET, type, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  if (type == SOCK_STREAM) ck_assert_int_eq(listen(fd, 4), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* tcp and udp flows from the guest to servers on the host's loopback,
 * through 10.0.2.2, reported in lines and in --json. */
START_TEST(test_run_command_guest_flows_to_host_echo_servers) {
  echo_srv e;
  e.tfd = loopback_socket(SOCK_STREAM, &e.tport);
  e.ufd = loopback_socket(SOCK_DGRAM, &e.uport);
  ck_assert_int_eq(pthread_create(&e.tt, NULL, echo_srv_tcp, &e), 0);
  ck_assert_int_eq(pthread_create(&e.ut, NULL, echo_srv_udp, &e), 0);
  char args[512];
  snprintf(args, sizeof args,
           "run --json --hostfwd tcp::0-:8023 --guest 'tcp 10.0.2.2:%u hello\\x00\\n' "
           "--guest 'udp 10.0.2.2:%u ping \"q\"'",
           e.tport, e.uport);
  static char log[1 << 16];
  log[0] = '\0';
  child c = spawn(args);
  int sig;
  int code = finish_child(&c, log, sizeof log, &sig);
  pthread_join(e.tt, NULL);
  pthread_join(e.ut, NULL);
  close(e.tfd);
  close(e.ufd);
  ck_assert_msg(code == 0 && sig == 0, "exit %d signal %d: %s", code, sig, log);
  ck_assert_msg(strstr(log, "\\n): ok sent=7 received=7 data=\"hello\\x00\\x0a\""), "%s", log);
  ck_assert_msg(strstr(log, "\"q\"): ok sent=8 received=8 data=\"ping \\\"q\\\"\""), "%s", log);
  const char *obj = strstr(log, "{\"command\":\"run\"");
  ck_assert_ptr_nonnull(obj);
  const char *end = json_value(obj);
  ck_assert_msg(end && *json_ws(end) == '\0', "not one JSON object: %s", obj);
  ck_assert_ptr_nonnull(strstr(obj, "\"stopped_by\":\"guest_done\""));
  ck_assert_ptr_nonnull(strstr(obj, "\"data_hex\":\"68656c6c6f000a\""));
}
END_TEST

/* A client session recorded by the command replays: in process, from
 * virtual time 0 as the live run began, the same trace event for event
 * (the hash the command printed), and through 'vnetsim replay --dhcp
 * --guest' the same fate counts and the same download, SHA-256 and all,
 * with no server running any more. */
/* The recording carries its options (REC.vnetsim): replay takes the seed,
 * the DHCP and the action from there, and gets the same download and the
 * same fates (live's, the first n bytes of lf). */
static void replay_with_recorded_options(const char *rec, const char *action, const char *result,
                                         const char *lf, size_t n) {
  char side[320], args[1024];
  static char rp_log[1 << 20];
  snprintf(side, sizeof side, "%s.vnetsim", rec);
  FILE *f = fopen(side, "r");
  ck_assert_ptr_nonnull(f);
  static char opts[1 << 12];
  opts[fread(opts, 1, sizeof opts - 1, f)] = '\0';
  fclose(f);
  ck_assert_ptr_nonnull(strstr(opts, "\n--seed=5\n"));
  ck_assert_ptr_nonnull(strstr(opts, "\n--dhcp\n"));
  snprintf(args, sizeof args, "--guest=%s\n", action);
  ck_assert_ptr_nonnull(strstr(opts, args));
  snprintf(args, sizeof args, "replay %s --no-arp-proxy", rec);
  child c = spawn(args);
  int sig;
  int code = finish_child(&c, rp_log, sizeof rp_log, &sig);
  ck_assert_msg(code == 0 && sig == 0, "replay exit %d: %s", code, rp_log);
  ck_assert_msg(strstr(rp_log, result), "no '%s' in the replay of the recording alone", result);
  ck_assert_ptr_nonnull(strstr(rp_log, "the options vnetsim run --record wrote"));
  const char *rf = strstr(rp_log, "fates of ");
  ck_assert_ptr_nonnull(rf);
  ck_assert_msg(!strncmp(lf, rf, n), "fates differ with the recorded options:\n%.*s", (int)n, rf);
}

START_TEST(test_recorded_client_session_replays_to_the_same_download) {
  char dir[256], file[300], rec[300];
  snprintf(dir, sizeof dir, "%s/www", tmpdir);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  snprintf(file, sizeof file, "%s/f", dir);
  snprintf(rec, sizeof rec, "%s/rec.pcap", tmpdir);
  file_write_pattern(file, 200000);
  uint16_t port;
  pid_t server = http_server_start(dir, &port);
  char action[128], args[1024];
  snprintf(action, sizeof action, "get http://10.0.2.2:%u/f", port);
  snprintf(args, sizeof args, "run --dhcp --seed 5 --hostfwd tcp::0-:8023 --record %s --guest '%s'",
           rec, action);
  static char live_log[1 << 16], rp_log[1 << 20];
  live_log[0] = rp_log[0] = '\0';
  child c = spawn(args);
  int sig;
  int code = finish_child(&c, live_log, sizeof live_log, &sig);
  http_server_stop(server);
  ck_assert_msg(code == 0 && sig == 0, "exit %d: %s", code, live_log);
  const char *ok = strstr(live_log, "): ok status=200 length=200000 sha256=");
  ck_assert_msg(ok, "%s", live_log);
  char result[160];
  const char *sha = strstr(ok, "sha256=");
  snprintf(result, sizeof result, "%.71s", sha); /* "sha256=" and 64 hex digits */
  unsigned long long events = 0, hash = 0;
  double end_ms = 0;
  const char *t = strstr(live_log, "virtual time ");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(sscanf(t, "virtual time %lf ms", &end_ms), 1);
  t = strstr(live_log, "trace: ");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(sscanf(t, "trace: %llu events, hash %llx", &events, &hash), 2);

  scn_capture in;
  char err[256];
  ck_assert_int_eq(host_pcap_load(rec, &in, err, sizeof err), 0);
  static scn rp;
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = 5;
  cfg.dhcp = 1;
  ck_assert_int_eq(scn_live_sim_init(&rp, &cfg, 0), 0);
  ck_assert_int_eq(scn_client_add(&rp, action, 0, err, sizeof err), 0);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(&rp, &in, &notes), 0);
  scn_run(&rp, (uint64_t)(end_ms * 1e6 + 0.5), UINT64_MAX);
  scn_finish(&rp);
  const net_client_action *a = net_client_get(rp.client, 0);
  ck_assert_msg(a->result.status == NET_CLIENT_OK, "%s", a->result.error);
  ck_assert_str_eq(a->result.sha256, result + 7);
  ck_assert_uint_eq(rp.trace.events, events);
  ck_assert_uint_eq(rp.trace.hash, hash);
  scn_close(&rp);
  host_pcap_free(&in);

  snprintf(args, sizeof args, "replay %s --seed 5 --no-arp-proxy --dhcp --guest '%s'", rec, action);
  c = spawn(args);
  code = finish_child(&c, rp_log, sizeof rp_log, &sig);
  ck_assert_msg(code == 0 && sig == 0, "replay exit %d: %s", code, rp_log);
  ck_assert_msg(strstr(rp_log, result), "no '%s' in the replay", result);
  ck_assert_msg(strstr(rp_log, "guest dhcp: bound ip=10.0.2.15"), "%s", rp_log);
  const char *lf = strstr(live_log, "fates of "), *rf = strstr(rp_log, "fates of ");
  ck_assert_ptr_nonnull(lf);
  ck_assert_ptr_nonnull(rf);
  size_t n = (size_t)(strstr(lf, "device:") - lf);
  ck_assert_msg(!strncmp(lf, rf, n), "fates differ:\n%.*s\nreplay:\n%.*s", (int)n, lf, (int)n, rf);

  replay_with_recorded_options(rec, action, result, lf, n);
}
END_TEST

/* With nobody answering DHCP (the guest's frames go nowhere: a TAP would
 * need root, so the scenario runs in virtual time with no host at all),
 * the exchange ends in a clear failure after the RFC's backoff, and every
 * action fails with it. */
START_TEST(test_dhcp_with_no_server_fails_in_virtual_time) {
  static scn s;
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.dhcp = 1;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  char why[256];
  ck_assert_int_eq(scn_client_add(&s, "get http://10.0.2.2/", 0, why, sizeof why), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  ck_assert(net_client_done(s.client));
  const net_dhcp *d = net_client_dhcp(s.client);
  ck_assert_int_eq(net_dhcp_get_state(d), NET_DHCP_FAILED);
  ck_assert_uint_eq(net_dhcp_stats_get(d)->discovers_sent, NET_DHCP_TRIES);
  ck_assert_uint_ge(scn_now(&s), 56 * SEC);
  ck_assert_uint_le(scn_now(&s), 64 * SEC);
  const net_client_action *a = net_client_get(s.client, 0);
  ck_assert_int_eq(a->result.status, NET_CLIENT_FAILED);
  ck_assert_ptr_nonnull(strstr(a->result.error, "no DHCPOFFER"));
  scn_finish(&s);
  scn_close(&s);
}
END_TEST

static Suite *live_suite(void) {
  Suite *s = suite_create("live");
  TCase *parse = tcase_create("hostfwd");
  tcase_add_test(parse, test_hostfwd_parses_qemu_syntax_with_loopback_default);
  suite_add_tcase(s, parse);
  TCase *tc = tcase_create("slirp");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_guest_ping_to_gateway_answered_by_slirp);
  tcase_add_test(tc, test_one_mib_echoed_byte_for_byte);
  tcase_add_test(tc, test_live_memory_bounded_by_the_frames_in_flight);
  tcase_add_test(tc, test_one_mib_echoed_through_packed_rings);
  tcase_add_test(tc, test_one_mib_echoed_in_jumbo_frames_through_mergeable_buffers);
  tcase_add_test(tc, test_http_get_stats_returns_json);
  tcase_add_test(tc, test_udp_echo_larger_than_the_link_through_slirp_fragments);
  tcase_add_test(tc, test_fifty_concurrent_connections_each_echoed);
  tcase_add_test(tc, test_forward_listens_with_a_wide_backlog);
  tcase_add_test(tc, test_rx_no_recycle_stalls_the_echo);
  tcase_add_test(tc, test_idle_runtime_does_not_poll);
  tcase_add_test(tc, test_shutdown_closes_every_socket);
  tcase_add_test(tc, test_recorded_session_replays_to_same_fates_and_trace);
  tcase_add_test(tc, test_run_command_prints_ports_and_stops_on_sigterm);
  tcase_add_test(tc, test_run_command_ipv6_slaac_and_echo_through_slirp);
  tcase_add_test(tc, test_run_command_duration_json_and_bad_usage);
  tcase_add_test(tc, test_dhcp_lease_from_slirps_server);
  tcase_add_test(tc, test_run_command_dhcp_and_get_from_a_host_http_server);
  tcase_add_test(tc, test_dhcp_with_no_server_fails_in_virtual_time);
  tcase_add_test(tc, test_run_command_guest_flows_to_host_echo_servers);
  tcase_add_test(tc, test_recorded_client_session_replays_to_the_same_download);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  /* a peer closing first must not kill the test with SIGPIPE */
  signal(SIGPIPE, SIG_IGN);
  SRunner *sr = srunner_create(live_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
