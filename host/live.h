/* The live runtime: the deterministic scheduler's actors, run in real time on
 * a libuv loop, with libslirp (user-mode NAT) as the host side.
 *
 * Virtual time is wall time since host_live_new() (plus the scheduler's start
 * time): a uv_timer is armed for the scheduler's earliest event and, when it
 * fires, every event due by then runs through emu_sched_step(). Modelled
 * latencies shorter than the timer's millisecond resolution are not slept
 * through: events due within HOST_LIVE_LEAD_NS of the wall clock run at once,
 * so virtual time may run ahead of the wall clock by at most that much (and
 * behind it by however late the loop wakes). Nothing polls: with no event due
 * and no socket ready, the loop sleeps.
 *
 * libslirp lives on the same loop: its sockets are watched with one uv_poll
 * per descriptor (filled in a uv_prepare, dispatched in a uv_check), its
 * timers are uv_timers. A frame slirp sends to the guest is queued and handed
 * to the embedder's frame callback outside any slirp call, stamped with the
 * virtual time it arrives at; the embedder gives frames the guest sent to
 * host_live_input().
 *
 * Instead of slirp, the host side can be a TAP interface (host/tap.h,
 * host_live_config.tap_fd): its descriptor is watched on the same loop, each
 * frame the kernel sends is handed to the frame callback the same way, and
 * host_live_input() writes to it. There are no forwards then: the kernel
 * reaches the guest directly.
 *
 * Everything here runs on the thread that calls host_live_run(), except
 * host_live_request_stop(), which any thread may call. */
#ifndef VNETSIM_HOST_LIVE_H
#define VNETSIM_HOST_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "emu/sched.h"

/* How far ahead of the wall clock events may run (see above). */
#define HOST_LIVE_LEAD_NS 1000000ull
/* Events run per pass before the loop gets a turn at its sockets. */
#define HOST_LIVE_MAX_STEPS_PER_PASS 65536u

typedef struct host_live host_live;

/* A frame slirp sends towards the guest, valid for the duration of the call.
 * now_ns is the virtual time to deliver it at: never earlier than the
 * scheduler's current time. */
typedef void (*host_live_frame_fn)(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns);
/* Called after a pass of events ran (at most once per tick period; see
 * host_live_set_tick) and once more when the run ends. */
typedef void (*host_live_tick_fn)(void *ctx, uint64_t now_ns);

typedef struct host_live_config {
  emu_sched *sched; /* run in real time; its now_ns is the start */
  /* slirp's network, IPv4, host byte order (defaults: QEMU's user network) */
  uint32_t network, netmask; /* 10.0.2.0/24 */
  uint32_t host;             /* slirp's gateway address: 10.0.2.2 */
  uint32_t nameserver;       /* 10.0.2.3 */
  uint32_t dhcp_start;       /* 10.0.2.15 */
  int restricted;            /* 1: the guest may not reach the outside (default 0) */
  uint16_t mtu;              /* slirp's interface MTU and MRU (0: slirp's 1500) */
  int tap_fd;                /* >= 0: the host side is this TAP descriptor (taken over and
               * closed by host_live_free), not slirp (default -1) */
  /* slirp's IPv6 (default 0: off): the prefix it advertises in its Router
   * Advertisements, its own address and its DNS server's, QEMU's defaults
   * fec0::/64, fec0::2 and fec0::3 (wire order) */
  int ipv6;
  uint8_t prefix6[16];
  uint8_t prefix6_len;
  uint8_t host6[16], nameserver6[16];
  host_live_frame_fn on_frame;
  void *frame_ctx;
} host_live_config;

/* QEMU's user-network addresses, no scheduler, no callback. */
void host_live_config_default(host_live_config *cfg);

typedef struct host_live_stats {
  uint64_t passes;                          /* timer wake-ups that ran events */
  uint64_t steps;                           /* scheduler events run */
  uint64_t frames_to_guest, bytes_to_guest; /* from slirp */
  uint64_t frames_to_host, bytes_to_host;   /* into slirp */
  uint64_t slirp_polls;                     /* slirp_pollfds_poll rounds */
  uint64_t guest_errors;                    /* slirp's complaints about guest frames */
  uint64_t frames_lost_nomem;               /* from slirp, dropped: out of host memory */
  uint64_t frames_lost_tap;                 /* to a TAP that would not take them now */
  size_t poll_fds;                          /* descriptors watched now */
  uint64_t max_lag_ns;                      /* worst lateness of an event behind the wall clock */
} host_live_stats;

/* Creates the loop and the slirp instance. EMU_EINVAL without a scheduler or
 * frame callback, EMU_ENOMEM, or EMU_EIO when libuv or slirp cannot start. */
int host_live_new(host_live **out, const host_live_config *cfg);
/* Closes slirp (its sockets) and every handle, and frees l. Not while
 * host_live_run() runs. */
void host_live_free(host_live *l);

/* Forwards host_ip:host_port (TCP, or UDP when udp is 1) to
 * guest_ip:guest_port. host_port 0 picks a free port: the runtime binds
 * host_ip:0, reads the port the kernel chose, releases it and hands it to
 * slirp (retrying on the rare clash); *bound_port gets the port used.
 * EMU_EINVAL, or EMU_EIO when the port cannot be bound. */
int host_live_add_hostfwd(host_live *l, int udp, uint32_t host_ip, uint16_t host_port,
                          uint32_t guest_ip, uint16_t guest_port, uint16_t *bound_port);
/* The same from the host's IPv6 address host6 to the guest's IPv6 address
 * guest6 (both wire order), through slirp_add_hostxfwd; host_port must be
 * given. Needs cfg.ipv6. */
int host_live_add_hostfwd6(host_live *l, int udp, const uint8_t *host6, uint16_t host_port,
                           const uint8_t *guest6, uint16_t guest_port);

/* A frame the guest sent, into slirp now. Call from an actor's handler (the
 * frame is copied by slirp before this returns). */
void host_live_input(host_live *l, const uint8_t *frame, size_t len);

/* Virtual now: the scheduler's start plus wall time since host_live_new(). */
uint64_t host_live_now(const host_live *l);
/* Calls fn after passes of events, at most every period_ns of virtual time;
 * a pass that comes too soon arms one trailing call, so the last state is
 * always reported. fn NULL turns it off. */
void host_live_set_tick(host_live *l, host_live_tick_fn fn, void *ctx, uint64_t period_ns);
/* SIGINT and SIGTERM end host_live_run() (which then returns 0). Not for
 * runtimes on threads other than the main one. */
int host_live_catch_signals(host_live *l);
/* The signal that ended the run, or 0. */
int host_live_stop_signal(const host_live *l);

/* Runs the loop until host_live_stop(), a caught signal, or duration_ns of
 * virtual time (0: no limit). Returns 0 or EMU_EIO. */
int host_live_run(host_live *l, uint64_t duration_ns);
/* Ends host_live_run() after the current callback (loop thread only). */
void host_live_stop(host_live *l);
/* Ends host_live_run() from any thread. */
void host_live_request_stop(host_live *l);

void host_live_stats_get(const host_live *l, host_live_stats *out);

/* The libuv loop, for embedders and tests that add their own handles (a
 * benchmark's loopback server). Opaque here so that this header does not
 * pull in uv.h; it is a uv_loop_t *. */
void *host_live_loop(host_live *l);

#endif
