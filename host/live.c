/* libuv's and libslirp's headers need POSIX types (ssize_t, sockaddr) that
 * strict C11 hides. */
#define _POSIX_C_SOURCE 200809L

#include "host/live.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <slirp/libslirp.h>
#include <uv.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "host/clock.h"

/* libslirp 4.9 deprecates the int-fd poll API in favour of slirp_os_socket
 * variants; config version 4 still selects the old one there, so the same
 * calls build against 4.7 and newer, with the deprecation warnings
 * silenced. */
#if defined(SLIRP_CHECK_VERSION)
#if SLIRP_CHECK_VERSION(4, 9, 0)
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
#endif

#define LIVE_SLIRP_CONFIG_VERSION 4
#define LIVE_HOSTFWD_TRIES        8

/* One watched slirp descriptor. Heap-allocated on its own so that the
 * uv_poll_t never moves; freed from its close callback, so a pointer held in
 * this round's index table stays valid until the loop's closing phase. */
typedef struct live_pollh {
  uv_poll_t h;
  host_live *l;
  int fd;
  int wanted;    /* SLIRP_POLL_* asked for in this round */
  int armed;     /* UV_* events the handle is started with, 0 when stopped */
  int revents;   /* SLIRP_POLL_* seen since the last dispatch */
  uint64_t seen; /* the fill round that last asked for it */
  int dead;      /* unregistered: closing, never dispatched again */
} live_pollh;

/* One slirp timer. */
typedef struct live_stimer {
  uv_timer_t t;
  host_live *l;
  SlirpTimerId id;
  SlirpTimerCb cb; /* the pre-version-4 style; NULL with timer_new_opaque */
  void *cb_opaque;
} live_stimer;

typedef struct live_frame {
  uint8_t *data;
  size_t len;
} live_frame;

struct host_live {
  uv_loop_t loop;
  host_live_config cfg;
  emu_sched *sched;
  uint64_t start_wall, start_virt;
  Slirp *slirp;
  uv_poll_t tap_poll; /* the TAP descriptor, when it is the host side */
  int tap_fd, tap_poll_on;

  uv_timer_t sched_timer; /* the scheduler's earliest event */
  uv_timer_t slirp_timer; /* slirp's own TCP timers (its poll timeout) */
  uv_timer_t duration_timer, tick_timer;
  uv_prepare_t prepare; /* fills slirp's poll set before the loop sleeps */
  uv_check_t check;     /* dispatches what the sleep found */
  uv_idle_t idle;       /* while active, the loop does not sleep: one more round */
  uv_async_t stop_async;
  uv_signal_t sig_int, sig_term, sig_hup;
  int signals_on, stop_signal, stopping, pumping;

  live_frame *q; /* frames from slirp, not yet handed to the guest side */
  size_t nq, capq;

  live_pollh **polls; /* watched descriptors */
  size_t npolls, cap_polls;
  live_pollh **round; /* this fill round's index -> descriptor */
  size_t nround, cap_round;
  uint64_t round_no;

  host_live_tick_fn tick;
  void *tick_ctx;
  uint64_t tick_period, last_tick;

  host_live_stats stats;
};

void host_live_config_default(host_live_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->network = 0x0a000200u;
  cfg->netmask = 0xffffff00u;
  cfg->host = 0x0a000202u;
  cfg->nameserver = 0x0a000203u;
  cfg->dhcp_start = 0x0a00020fu;
  cfg->tap_fd = -1;
  static const uint8_t prefix6[16] = {0xfe, 0xc0}, host6[16] = {0xfe, 0xc0, [15] = 2},
                       dns6[16] = {0xfe, 0xc0, [15] = 3};
  memcpy(cfg->prefix6, prefix6, sizeof prefix6);
  cfg->prefix6_len = 64;
  memcpy(cfg->host6, host6, sizeof host6);
  memcpy(cfg->nameserver6, dns6, sizeof dns6);
}

uint64_t host_live_now(const host_live *l) {
  return l->start_virt + (host_wallclock_ns() - l->start_wall);
}

static struct in_addr live_in_addr(uint32_t host_order) {
  struct in_addr a;
  a.s_addr = htonl(host_order);
  return a;
}

/* --- the scheduler, in real time ---------------------------------------- */

static void live_arm_sched_timer(host_live *l, int again_now);
static void live_tick(host_live *l, uint64_t now, int force);

/* Hands queued slirp frames to the guest side and runs every event due, until
 * neither is left. Frames slirp sends while the actors run (an answer from
 * inside slirp_input) are queued and picked up by the next turn here. */
static void live_pump(host_live *l) {
  if (l->pumping) return; /* a frame callback poked: the running pass sees it */
  l->pumping = 1;
  uint64_t ran = 0;
  int ran_any = 0;
  for (;;) {
    uint64_t now = host_live_now(l);
    if (now < l->sched->now_ns) now = l->sched->now_ns;
    for (size_t i = 0; i < l->nq; i++) {
      l->cfg.on_frame(l->cfg.frame_ctx, l->q[i].data, l->q[i].len, now);
      free(l->q[i].data);
    }
    l->nq = 0;
    uint64_t next = emu_sched_next_at(l->sched);
    if (next != EMU_TIME_NEVER && next < now && now - next > l->stats.max_lag_ns)
      l->stats.max_lag_ns = now - next;
    uint64_t until = now + HOST_LIVE_LEAD_NS;
    while (ran < HOST_LIVE_MAX_STEPS_PER_PASS && emu_sched_step(l->sched, until)) ran++;
    ran_any |= ran > 0;
    if (l->nq == 0 || ran >= HOST_LIVE_MAX_STEPS_PER_PASS) break;
  }
  l->pumping = 0;
  l->stats.steps += ran;
  if (ran_any) {
    l->stats.passes++;
    live_tick(l, host_live_now(l), 0);
  }
  /* Out of step budget: let the loop see its sockets, then carry on. */
  live_arm_sched_timer(l, ran >= HOST_LIVE_MAX_STEPS_PER_PASS || l->nq > 0);
}

static void live_on_sched_timer(uv_timer_t *t) { live_pump(t->data); }

static void live_arm_sched_timer(host_live *l, int again_now) {
  uint64_t next = emu_sched_next_at(l->sched);
  if (!again_now && next == EMU_TIME_NEVER) {
    uv_timer_stop(&l->sched_timer);
    return;
  }
  uint64_t ms = 0;
  if (!again_now) {
    uint64_t now = host_live_now(l);
    /* Wake when the event enters the lead window; never sleep less than a
     * whole millisecond for it, or the loop would spin until then. */
    if (next > now + HOST_LIVE_LEAD_NS) ms = (next - HOST_LIVE_LEAD_NS - now + 999999u) / 1000000u;
  }
  /* The loop's cached time may be stale after a long pass. */
  uv_update_time(&l->loop);
  uv_timer_start(&l->sched_timer, live_on_sched_timer, ms, 0);
}

static void live_on_tick_timer(uv_timer_t *t) {
  host_live *l = t->data;
  live_tick(l, host_live_now(l), 1);
}

static void live_tick(host_live *l, uint64_t now, int force) {
  if (!l->tick) return;
  if (force || now - l->last_tick >= l->tick_period) {
    uv_timer_stop(&l->tick_timer);
    l->last_tick = now;
    l->tick(l->tick_ctx, now);
  } else if (!uv_is_active((uv_handle_t *)&l->tick_timer)) {
    uint64_t ms = (l->tick_period - (now - l->last_tick) + 999999u) / 1000000u;
    uv_timer_start(&l->tick_timer, live_on_tick_timer, ms, 0);
  }
}

void host_live_set_tick(host_live *l, host_live_tick_fn fn, void *ctx, uint64_t period_ns) {
  l->tick = fn;
  l->tick_ctx = ctx;
  l->tick_period = period_ns;
  l->last_tick = 0;
  if (!fn) uv_timer_stop(&l->tick_timer);
}

/* --- slirp's callbacks -------------------------------------------------- */

/* slirp -> guest. Never runs the actors from here (slirp may be in the middle
 * of slirp_input, called by an actor): queue and deliver from the pump. */
static ssize_t live_cb_send_packet(const void *buf, size_t len, void *opaque) {
  host_live *l = opaque;
  live_frame *grown = emu_grow(l->q, &l->capq, l->nq + 1, sizeof *grown, 64);
  uint8_t *copy = grown ? malloc(len ? len : 1) : NULL;
  if (grown) l->q = grown;
  if (!copy) {
    /* lost on the wire, as a full NIC queue loses it (slirp's TCP resends),
     * but counted: it never reached the ledger */
    l->stats.frames_lost_nomem++;
    return (ssize_t)len;
  }
  memcpy(copy, buf, len);
  l->q[l->nq++] = (live_frame){copy, len};
  l->stats.frames_to_guest++;
  l->stats.bytes_to_guest += len;
  return (ssize_t)len;
}

static void live_cb_guest_error(const char *msg, void *opaque) {
  (void)msg; /* a library does not print; the count is in the stats */
  host_live *l = opaque;
  l->stats.guest_errors++;
}

/* slirp's clock: wall time since the start, the same clock as the actors'. */
static int64_t live_cb_clock_get_ns(void *opaque) {
  host_live *l = opaque;
  return (int64_t)(host_live_now(l) - l->start_virt);
}

static void live_on_slirp_timer(uv_timer_t *t) {
  live_stimer *st = t->data;
  host_live *l = st->l;
  if (st->cb)
    st->cb(st->cb_opaque);
  else
    slirp_handle_timer(l->slirp, st->id, st->cb_opaque);
  live_pump(l);
}

static live_stimer *live_stimer_new(host_live *l) {
  live_stimer *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->l = l;
  uv_timer_init(&l->loop, &st->t);
  st->t.data = st;
  return st;
}

static void *live_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque) {
  live_stimer *st = live_stimer_new(opaque);
  if (st) {
    st->id = id;
    st->cb_opaque = cb_opaque;
  }
  return st;
}

static void *live_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque) {
  live_stimer *st = live_stimer_new(opaque);
  if (st) {
    st->cb = cb;
    st->cb_opaque = cb_opaque;
  }
  return st;
}

static void live_free_on_close(uv_handle_t *h) { free(h->data); }

static void live_cb_timer_free(void *timer, void *opaque) {
  (void)opaque;
  live_stimer *st = timer;
  if (st) uv_close((uv_handle_t *)&st->t, live_free_on_close);
}

/* expire_ms is on slirp's clock (live_cb_clock_get_ns, in ms). */
static void live_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque) {
  host_live *l = opaque;
  live_stimer *st = timer;
  if (!st) return;
  int64_t now_ms = live_cb_clock_get_ns(l) / 1000000;
  uint64_t delay = expire_ms > now_ms ? (uint64_t)(expire_ms - now_ms) : 0;
  uv_update_time(&l->loop);
  uv_timer_start(&st->t, live_on_slirp_timer, delay, 0);
}

static live_pollh *live_poll_find(host_live *l, int fd, size_t *at) {
  for (size_t i = 0; i < l->npolls; i++)
    if (l->polls[i]->fd == fd) {
      if (at) *at = i;
      return l->polls[i];
    }
  return NULL;
}

/* Stops watching the descriptor at index i (slirp closed it, or stopped
 * asking): the handle closes now, its memory goes in the close callback. */
static void live_poll_drop(host_live *l, size_t i) {
  live_pollh *p = l->polls[i];
  p->dead = 1;
  p->revents = 0;
  uv_close((uv_handle_t *)&p->h, live_free_on_close);
  l->polls[i] = l->polls[--l->npolls];
}

static void live_cb_register_poll_fd(int fd, void *opaque) {
  (void)fd; /* watched once slirp asks for events on it in a fill round */
  (void)opaque;
}

/* slirp is about to close fd: its number may come back for another socket,
 * which must get a fresh registration. */
static void live_cb_unregister_poll_fd(int fd, void *opaque) {
  host_live *l = opaque;
  size_t i;
  if (live_poll_find(l, fd, &i)) live_poll_drop(l, i);
}

static void live_on_idle(uv_idle_t *h) { (void)h; }

/* An active idle handle keeps the loop from sleeping: the next prepare/check
 * round comes at once. Stopped again in the check. */
static void live_round_soon(host_live *l) { uv_idle_start(&l->idle, live_on_idle); }

static void live_cb_notify(void *opaque) {
  /* a socket can take more data: give slirp a round without sleeping */
  live_round_soon(opaque);
}

/* --- slirp's sockets on the loop ---------------------------------------- */

/* Only wakes the loop: slirp runs its TCP timers in slirp_pollfds_poll. */
static void live_on_wake(uv_timer_t *t) { (void)t; }

static void live_on_poll(uv_poll_t *h, int status, int events) {
  live_pollh *p = h->data;
  if (p->dead) return;
  if (status < 0) {
    p->revents |= SLIRP_POLL_ERR;
    return;
  }
  if (events & UV_READABLE) p->revents |= SLIRP_POLL_IN;
  if (events & UV_WRITABLE) p->revents |= SLIRP_POLL_OUT;
  if (events & UV_DISCONNECT) p->revents |= SLIRP_POLL_HUP;
}

/* slirp listens for a forward with a backlog of 1, so a burst of concurrent
 * connects is reset by the kernel (ListenOverflows). Listening again on the
 * same socket only changes the backlog. */
static void live_widen_backlog(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
    listen(fd, SOMAXCONN);
}

static int live_cb_add_poll(int fd, int events, void *opaque) {
  host_live *l = opaque;
  live_pollh **round = emu_grow(l->round, &l->cap_round, l->nround + 1, sizeof *round, 64);
  if (!round) return -1;
  l->round = round;
  live_pollh *p = live_poll_find(l, fd, NULL);
  if (!p) {
    live_pollh **polls = emu_grow(l->polls, &l->cap_polls, l->npolls + 1, sizeof *polls, 64);
    if (!polls) return -1;
    l->polls = polls;
    p = calloc(1, sizeof *p);
    if (!p) return -1;
    /* Created lazily here: hostfwd listeners never pass through
     * register_poll_fd, so this is the one place every descriptor shows. */
    if (uv_poll_init(&l->loop, &p->h, fd) != 0) {
      free(p);
      return -1;
    }
    p->h.data = p;
    p->l = l;
    p->fd = fd;
    l->polls[l->npolls++] = p;
    live_widen_backlog(fd);
  }
  if (p->seen != l->round_no) p->wanted = 0;
  p->seen = l->round_no;
  p->wanted |= events;
  l->round[l->nround] = p;
  return (int)l->nround++;
}

static int live_cb_get_revents(int idx, void *opaque) {
  host_live *l = opaque;
  if (idx < 0 || (size_t)idx >= l->nround) return 0;
  live_pollh *p = l->round[idx];
  return p->dead ? 0 : p->revents;
}

/* Before the loop sleeps: what slirp wants watched, and for how long it may
 * sleep before its TCP timers need a look. */
static void live_on_prepare(uv_prepare_t *h) {
  host_live *l = h->data;
  l->round_no++;
  l->nround = 0;
  uint32_t timeout = UINT32_MAX;
  slirp_pollfds_fill(l->slirp, &timeout, live_cb_add_poll, l);
  for (size_t i = 0; i < l->npolls;) {
    live_pollh *p = l->polls[i];
    if (p->seen != l->round_no) {
      live_poll_drop(l, i); /* a closed socket slirp no longer lists */
      continue;
    }
    int ev = (p->wanted & SLIRP_POLL_IN ? UV_READABLE : 0) |
             (p->wanted & SLIRP_POLL_OUT ? UV_WRITABLE : 0);
    /* Restart a handle only when its mask changes: every restart is a
     * system call or two. */
    if (ev != p->armed) {
      if (ev)
        uv_poll_start(&p->h, ev, live_on_poll);
      else
        uv_poll_stop(&p->h);
      p->armed = ev;
    }
    i++;
  }
  l->stats.poll_fds = l->npolls;
  if (timeout == UINT32_MAX)
    uv_timer_stop(&l->slirp_timer);
  else
    uv_timer_start(&l->slirp_timer, live_on_wake, timeout, 0);
}

/* After the sleep: slirp reads, writes, accepts and runs its timers; then
 * whatever it sent the guest goes in. */
static void live_on_check(uv_check_t *h) {
  host_live *l = h->data;
  uv_idle_stop(&l->idle);
  slirp_pollfds_poll(l->slirp, 0, live_cb_get_revents, l);
  l->stats.slirp_polls++;
  for (size_t i = 0; i < l->npolls; i++) l->polls[i]->revents = 0;
  if (l->nq) live_pump(l);
}

void host_live_input(host_live *l, const uint8_t *frame, size_t len) {
  if (len > INT32_MAX) return;
  l->stats.frames_to_host++;
  l->stats.bytes_to_host += len;
  if (l->tap_fd >= 0) {
    /* a full TAP queue drops the frame, as a NIC's full ring does */
    if (write(l->tap_fd, frame, len) != (ssize_t)len) l->stats.frames_lost_tap++;
    return;
  }
  slirp_input(l->slirp, frame, (int)len);
  /* Frames slirp holds while it resolves the guest's MAC, and data for its
   * sockets, move on at its next poll round: have one now, not at the next
   * timeout. */
  live_round_soon(l);
}

/* --- forwarding --------------------------------------------------------- */

/* A port the kernel has free on ip now (released again before returning). */
static int live_free_port(int udp, uint32_t ip, uint16_t *port) {
  int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (fd < 0) return EMU_EIO;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr = live_in_addr(ip);
  sa.sin_port = 0;
  socklen_t slen = sizeof sa;
  int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                   getsockname(fd, (struct sockaddr *)&sa, &slen) == 0
               ? 0
               : EMU_EIO;
  close(fd);
  if (!rc) *port = ntohs(sa.sin_port);
  return rc;
}

int host_live_add_hostfwd(host_live *l, int udp, uint32_t host_ip, uint16_t host_port,
                          uint32_t guest_ip, uint16_t guest_port, uint16_t *bound_port) {
  if (!l || guest_port == 0 || (udp != 0 && udp != 1)) return EMU_EINVAL;
  if (!l->slirp) return EMU_ENOTSUP; /* a TAP host reaches the guest itself */
  /* slirp cannot tell which port it bound for port 0: choose one ourselves.
   * Another process may take it between our probe and slirp's bind, hence
   * the retries. */
  int tries = host_port ? 1 : LIVE_HOSTFWD_TRIES;
  for (int i = 0; i < tries; i++) {
    uint16_t port = host_port;
    if (!port && live_free_port(udp, host_ip, &port)) return EMU_EIO;
    if (slirp_add_hostfwd(l->slirp, udp, live_in_addr(host_ip), port, live_in_addr(guest_ip),
                          guest_port) == 0) {
      if (bound_port) *bound_port = port;
      live_round_soon(l); /* its listener joins the poll set */
      return 0;
    }
  }
  return EMU_EIO;
}

int host_live_add_hostfwd6(host_live *l, int udp, const uint8_t *host6, uint16_t host_port,
                           const uint8_t *guest6, uint16_t guest_port) {
  if (!l || !host6 || !guest6 || host_port == 0 || guest_port == 0 || (udp != 0 && udp != 1))
    return EMU_EINVAL;
  if (!l->slirp) return EMU_ENOTSUP;
  struct sockaddr_in6 h = {.sin6_family = AF_INET6, .sin6_port = htons(host_port)};
  struct sockaddr_in6 g = {.sin6_family = AF_INET6, .sin6_port = htons(guest_port)};
  memcpy(&h.sin6_addr, host6, sizeof h.sin6_addr);
  memcpy(&g.sin6_addr, guest6, sizeof g.sin6_addr);
  /* V6ONLY: the host side listens on IPv6 alone, beside an IPv4 forward of
   * the same port */
  int flags = SLIRP_HOSTFWD_V6ONLY | (udp ? SLIRP_HOSTFWD_UDP : 0);
  if (slirp_add_hostxfwd(l->slirp, (const struct sockaddr *)&h, sizeof h,
                         (const struct sockaddr *)&g, sizeof g, flags) != 0)
    return EMU_EIO;
  live_round_soon(l);
  return 0;
}

/* --- life cycle --------------------------------------------------------- */

static void live_on_stop_async(uv_async_t *h) { host_live_stop(h->data); }

static void live_on_duration(uv_timer_t *t) { host_live_stop(t->data); }

static void live_on_signal(uv_signal_t *h, int signum) {
  host_live *l = h->data;
  l->stop_signal = signum;
  host_live_stop(l);
}

/* --- a TAP as the host side --------------------------------------------- */

/* Largest frame a TAP hands over: the interface MTU is the kernel's to set,
 * so take anything up to a jumbo frame and let the device judge its size. */
#define LIVE_TAP_FRAME_MAX 65536

static void live_on_tap(uv_poll_t *h, int status, int events) {
  host_live *l = h->data;
  if (status < 0 || !(events & UV_READABLE)) return;
  static uint8_t buf[LIVE_TAP_FRAME_MAX];
  ssize_t n;
  while ((n = read(l->tap_fd, buf, sizeof buf)) > 0) live_cb_send_packet(buf, (size_t)n, l);
  if (l->nq) live_pump(l);
}

static int live_start_tap(host_live *l, int fd) {
  l->tap_fd = fd; /* ours from here, failure or not */
  if (uv_poll_init(&l->loop, &l->tap_poll, fd) != 0) return EMU_EIO;
  l->tap_poll_on = 1;
  l->tap_poll.data = l;
  return uv_poll_start(&l->tap_poll, UV_READABLE, live_on_tap) == 0 ? 0 : EMU_EIO;
}

static int live_start_slirp(host_live *l, const host_live_config *cfg);

int host_live_new(host_live **out, const host_live_config *cfg) {
  *out = NULL;
  if (!cfg || !cfg->sched || !cfg->on_frame) return EMU_EINVAL;
  host_live *l = calloc(1, sizeof *l);
  if (!l) return EMU_ENOMEM;
  l->cfg = *cfg;
  l->sched = cfg->sched;
  if (uv_loop_init(&l->loop) != 0) {
    free(l);
    return EMU_EIO;
  }
  uv_timer_init(&l->loop, &l->sched_timer);
  uv_timer_init(&l->loop, &l->slirp_timer);
  uv_timer_init(&l->loop, &l->duration_timer);
  uv_timer_init(&l->loop, &l->tick_timer);
  uv_prepare_init(&l->loop, &l->prepare);
  uv_check_init(&l->loop, &l->check);
  uv_idle_init(&l->loop, &l->idle);
  uv_async_init(&l->loop, &l->stop_async, live_on_stop_async);
  uv_handle_t *mine[] = {(uv_handle_t *)&l->sched_timer,    (uv_handle_t *)&l->slirp_timer,
                         (uv_handle_t *)&l->duration_timer, (uv_handle_t *)&l->tick_timer,
                         (uv_handle_t *)&l->prepare,        (uv_handle_t *)&l->check,
                         (uv_handle_t *)&l->idle,           (uv_handle_t *)&l->stop_async};
  for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) mine[i]->data = l;

  l->start_wall = host_wallclock_ns();
  l->start_virt = l->sched->now_ns;
  l->tap_fd = -1;
  int rc = cfg->tap_fd >= 0 ? live_start_tap(l, cfg->tap_fd) : live_start_slirp(l, cfg);
  if (rc) {
    host_live_free(l);
    return rc;
  }
  /* Nothing may keep a finished loop alive but what is running. */
  uv_unref((uv_handle_t *)&l->stop_async);
  *out = l;
  return 0;
}

static int live_start_slirp(host_live *l, const host_live_config *cfg) {
  SlirpConfig sc;
  memset(&sc, 0, sizeof sc);
  sc.version = LIVE_SLIRP_CONFIG_VERSION;
  sc.restricted = cfg->restricted;
  sc.in_enabled = true;
  sc.vnetwork = live_in_addr(cfg->network);
  sc.vnetmask = live_in_addr(cfg->netmask);
  sc.vhost = live_in_addr(cfg->host);
  sc.vdhcp_start = live_in_addr(cfg->dhcp_start);
  sc.vnameserver = live_in_addr(cfg->nameserver);
  /* slirp's IPv6: Router Advertisements of the prefix (the guest's SLAAC),
   * and forwards to the guest's IPv6 address */
  sc.in6_enabled = cfg->ipv6 != 0;
  if (cfg->ipv6) {
    memcpy(&sc.vprefix_addr6, cfg->prefix6, sizeof sc.vprefix_addr6);
    sc.vprefix_len = cfg->prefix6_len;
    memcpy(&sc.vhost6, cfg->host6, sizeof sc.vhost6);
    memcpy(&sc.vnameserver6, cfg->nameserver6, sizeof sc.vnameserver6);
  }
  /* one link, one MTU: slirp segments TCP and sizes what it accepts by it */
  sc.if_mtu = cfg->mtu;
  sc.if_mru = cfg->mtu;
  static const SlirpCb cbs = {
      .send_packet = live_cb_send_packet,
      .guest_error = live_cb_guest_error,
      .clock_get_ns = live_cb_clock_get_ns,
      .timer_new = live_cb_timer_new,
      .timer_free = live_cb_timer_free,
      .timer_mod = live_cb_timer_mod,
      .register_poll_fd = live_cb_register_poll_fd,
      .unregister_poll_fd = live_cb_unregister_poll_fd,
      .notify = live_cb_notify,
      .timer_new_opaque = live_cb_timer_new_opaque,
  };
  l->slirp = slirp_new(&sc, &cbs, l);
  if (!l->slirp) return EMU_EIO;
  uv_prepare_start(&l->prepare, live_on_prepare);
  uv_check_start(&l->check, live_on_check);
  return 0;
}

int host_live_catch_signals(host_live *l) {
  if (l->signals_on) return 0;
  /* SIGHUP too: a closed terminal ends the run as Ctrl-C does, with the
   * summary and every output file put in place, not by killing it */
  uv_signal_init(&l->loop, &l->sig_int);
  uv_signal_init(&l->loop, &l->sig_term);
  uv_signal_init(&l->loop, &l->sig_hup);
  l->sig_int.data = l->sig_term.data = l->sig_hup.data = l;
  l->signals_on = 1;
  if (uv_signal_start(&l->sig_int, live_on_signal, SIGINT) != 0 ||
      uv_signal_start(&l->sig_term, live_on_signal, SIGTERM) != 0 ||
      uv_signal_start(&l->sig_hup, live_on_signal, SIGHUP) != 0)
    return EMU_EIO;
  return 0;
}

int host_live_stop_signal(const host_live *l) { return l->stop_signal; }

int host_live_run(host_live *l, uint64_t duration_ns) {
  l->stopping = 0;
  if (duration_ns) {
    uv_update_time(&l->loop);
    uv_timer_start(&l->duration_timer, live_on_duration, (duration_ns + 999999u) / 1000000u, 0);
  }
  live_pump(l);
  /* The prepare and check handles keep the loop running: it ends only
   * through uv_stop(). */
  while (!l->stopping) uv_run(&l->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&l->duration_timer);
  if (l->tick) live_tick(l, host_live_now(l), 1);
  return 0;
}

void host_live_stop(host_live *l) {
  l->stopping = 1;
  uv_stop(&l->loop);
}

void host_live_request_stop(host_live *l) { uv_async_send(&l->stop_async); }

static void live_close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void host_live_free(host_live *l) {
  if (!l) return;
  /* Poll handles first, while their descriptors are still open; then slirp,
   * which closes its sockets and frees its timers (through our callbacks). */
  while (l->npolls) live_poll_drop(l, l->npolls - 1);
  if (l->slirp) slirp_cleanup(l->slirp);
  l->slirp = NULL;
  if (l->tap_poll_on && !uv_is_closing((uv_handle_t *)&l->tap_poll))
    uv_close((uv_handle_t *)&l->tap_poll, NULL);
  uv_handle_t *mine[] = {(uv_handle_t *)&l->sched_timer,    (uv_handle_t *)&l->slirp_timer,
                         (uv_handle_t *)&l->duration_timer, (uv_handle_t *)&l->tick_timer,
                         (uv_handle_t *)&l->prepare,        (uv_handle_t *)&l->check,
                         (uv_handle_t *)&l->idle,           (uv_handle_t *)&l->stop_async};
  for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
    if (!uv_is_closing(mine[i])) uv_close(mine[i], NULL);
  if (l->signals_on) {
    uv_close((uv_handle_t *)&l->sig_int, NULL);
    uv_close((uv_handle_t *)&l->sig_term, NULL);
    uv_close((uv_handle_t *)&l->sig_hup, NULL);
  }
  /* Anything an embedder left open on our loop is closed too, or the loop
   * could not be. */
  uv_walk(&l->loop, live_close_any, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
  uv_loop_close(&l->loop);
  for (size_t i = 0; i < l->nq; i++) free(l->q[i].data);
  free(l->q);
  free(l->polls);
  free(l->round);
  if (l->tap_fd >= 0) close(l->tap_fd);
  free(l);
}

void host_live_stats_get(const host_live *l, host_live_stats *out) { *out = l->stats; }

void *host_live_loop(host_live *l) { return &l->loop; }
