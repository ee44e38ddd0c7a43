/* The live scenario: the simulated machine with libslirp as its host side.
 *
 * Glue only: host/live runs the scheduler in real time and owns slirp; this
 * file connects slirp's frames to the scenario's host actor (so they enter
 * the fate ledger like any host send) and the guest's frames to slirp, and
 * writes the capture files. */
#include "host/scn_live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "host/live.h"
#include "host/tap.h"

void scn_live_config_default(scn_live_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  scn_config_default(&cfg->scn);
  cfg->ping_gateway = 1;
}

/* --- hostfwd=, QEMU's syntax --------------------------------------------- */

/* A.B.C.D in s[0..n), each part 1 to 3 decimal digits: no sign and no
 * space, which sscanf's %u would skip or take. */
static int scn_parse_ip(const char *s, size_t n, uint32_t *ip) {
  uint32_t v = 0;
  size_t at = 0;
  for (int part = 0; part < 4; part++) {
    unsigned x = 0, digits = 0;
    for (; at < n && s[at] >= '0' && s[at] <= '9'; at++, digits++)
      x = x * 10 + (unsigned)(s[at] - '0');
    if (digits == 0 || digits > 3 || x > 255) return -1;
    if (part < 3 && (at == n || s[at++] != '.')) return -1;
    v = v << 8 | x;
  }
  if (at != n) return -1;
  *ip = v;
  return 0;
}

static int scn_parse_port(const char *s, size_t n, int allow_zero, uint16_t *port) {
  if (n == 0 || n > 5) return -1;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535 || (!allow_zero && v == 0)) return -1;
  *port = (uint16_t)v;
  return 0;
}

/* "[addr]:port" ending at end; addr may be empty. */
static int scn_parse_addr_port(const char *s, const char *end, uint32_t *ip, uint16_t *port,
                               int allow_zero_port) {
  const char *colon = NULL;
  for (const char *p = s; p < end; p++)
    if (*p == ':') colon = p;
  if (!colon) return -1;
  if (colon > s && scn_parse_ip(s, (size_t)(colon - s), ip)) return -1;
  return scn_parse_port(colon + 1, (size_t)(end - colon - 1), allow_zero_port, port);
}

int scn_hostfwd_parse(const char *spec, scn_hostfwd *out, char *why, size_t whycap) {
  memset(out, 0, sizeof *out);
  out->host_ip = 0x7f000001u; /* loopback unless the user names another address */
  const char *rest;
  if (!strncmp(spec, "tcp:", 4)) {
    rest = spec + 4;
  } else if (!strncmp(spec, "udp:", 4)) {
    out->udp = 1;
    rest = spec + 4;
  } else {
    snprintf(why, whycap, "'%s' does not start with tcp: or udp:", spec);
    return EMU_EINVAL;
  }
  const char *dash = strchr(rest, '-');
  if (!dash || strchr(dash + 1, '-')) {
    snprintf(why, whycap, "'%s' is not [hostaddr]:hostport-[guestaddr]:guestport", spec);
    return EMU_EINVAL;
  }
  if (scn_parse_addr_port(rest, dash, &out->host_ip, &out->host_port, 1)) {
    snprintf(why, whycap, "'%s': the host side is not [A.B.C.D]:PORT (0 to 65535)", spec);
    return EMU_EINVAL;
  }
  const char *g = dash + 1;
  if (scn_parse_addr_port(g, g + strlen(g), &out->guest_ip, &out->guest_port, 0)) {
    snprintf(why, whycap, "'%s': the guest side is not [A.B.C.D]:PORT (1 to 65535)", spec);
    return EMU_EINVAL;
  }
  return 0;
}

/* --- the two directions ------------------------------------------------ */

/* When a frame from slirp enters, chosen so that a replay of the recording
 * runs it in the same place among the host actor's events. A replay queues
 * every recorded frame before the run starts, so it runs each one first
 * among host events at the same nanosecond; live, the frame is queued late
 * and would run after them. So the frame never shares its nanosecond with a
 * host event that ran already or waits already: strictly after the last
 * event run, and past any host event queued at that time. */
static uint64_t scn_live_arrival_time(const scn *s, uint64_t now_ns) {
  uint64_t at = now_ns > s->sched.now_ns ? now_ns : s->sched.now_ns + 1;
  for (int clash = 1; clash;) {
    clash = 0;
    for (size_t i = 0; i < s->host.ninbox; i++)
      if (s->host.inbox[i].at_ns == at) {
        at++;
        clash = 1;
        break;
      }
  }
  return at;
}

/* slirp -> guest: the host actor sends it at its arrival time. */
static void scn_live_on_slirp_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn_live *sl = ctx;
  now_ns = scn_live_arrival_time(sl->s, now_ns);
  if (scn_inject_at(sl->s, now_ns, frame, len) != 0) return; /* out of memory: lost */
  if (sl->record_on) host_pcap_writer_write(&sl->record, now_ns, frame, len);
  if (sl->pcap_on) host_pcap_writer_write(&sl->pcap, now_ns, frame, len);
}

/* guest -> slirp, as it reaches the host's end of the link. */
static void scn_live_on_guest_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  scn_live *sl = ctx;
  if (sl->pcap_on) host_pcap_writer_write(&sl->pcap, now_ns, frame, len);
  host_live_input(sl->live, frame, len);
}

/* --- life cycle ---------------------------------------------------------- */

static const char *scn_ip_str(uint32_t ip, char buf[16]) {
  snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
  return buf;
}

/* The live runtime for lc, with the scenario's clock and frame callback. */
static int scn_live_start(scn_live *sl, host_live_config *lc, char *err, size_t errcap) {
  lc->sched = &sl->s->sched;
  lc->on_frame = scn_live_on_slirp_frame;
  lc->frame_ctx = sl;
  int rc = host_live_new(&sl->live, lc);
  if (rc)
    snprintf(err, errcap, "cannot start the live runtime (libuv%s): %s",
             lc->tap_fd >= 0 ? ", TAP" : ", libslirp", emu_strerror(rc));
  return rc;
}

/* The kernel behind a TAP is the host: it reaches the guest at the guest's
 * own address, so there is nothing to forward. */
static int scn_live_start_tap(scn_live *sl, const scn_live_config *cfg, char *err, size_t errcap) {
  if (cfg->nfwds) {
    snprintf(err, errcap,
             "--hostfwd forwards ports through slirp; with a TAP the host reaches the guest at its "
             "own address");
    return EMU_EINVAL;
  }
  host_live_config lc;
  host_live_config_default(&lc);
  lc.tap_fd = host_tap_open(cfg->tap_name, err, errcap);
  if (lc.tap_fd < 0) return EMU_EIO;
  return scn_live_start(sl, &lc, err, errcap);
}

/* The IPv6 twins of the forwards from 127.0.0.1: [::1] at the same port. */
static int scn_live_forward6(scn_live *sl, char *err, size_t errcap) {
  static const uint8_t loopback6[16] = {[15] = 1};
  for (size_t i = 0; i < sl->nfwds; i++) {
    const scn_hostfwd *f = &sl->fwds[i];
    if (f->host_ip != 0x7f000001u || f->guest_ip) continue;
    if (host_live_add_hostfwd6(sl->live, f->udp, loopback6, f->bound_port, sl->guest6,
                               f->guest_port)) {
      snprintf(err, errcap, "cannot forward %s [::1]:%u to the guest's IPv6 address (in use?)",
               f->udp ? "udp" : "tcp", f->bound_port);
      return EMU_EIO;
    }
  }
  return 0;
}

static int scn_live_start_slirp(scn_live *sl, const scn_live_config *cfg, char *err,
                                size_t errcap) {
  const net_iface_config *g = &sl->s->cfg.guest;
  host_live_config lc;
  host_live_config_default(&lc);
  /* slirp's network is the guest's /24: gateway .2, DNS .3, DHCP at the
   * guest's own address. */
  lc.network = g->ip & 0xffffff00u;
  lc.netmask = 0xffffff00u;
  lc.host = g->gateway;
  lc.nameserver = lc.network | 3u;
  lc.dhcp_start = g->ip;
  lc.mtu = sl->s->cfg.mtu;
  lc.ipv6 = cfg->ipv6;
  int rc = scn_live_start(sl, &lc, err, errcap);
  if (rc) return rc;
  if (cfg->ipv6) net_ipv6_addr_from_prefix(lc.prefix6, g->mac, sl->guest6);
  if (cfg->nfwds) {
    memcpy(sl->fwds, cfg->fwds, cfg->nfwds * sizeof cfg->fwds[0]);
    sl->nfwds = cfg->nfwds;
  } else {
    scn_hostfwd_parse("tcp:127.0.0.1:8023-:8023", &sl->fwds[0], err, errcap);
    scn_hostfwd_parse("tcp:127.0.0.1:8080-:80", &sl->fwds[1], err, errcap);
    sl->nfwds = 2;
  }
  for (size_t i = 0; i < sl->nfwds; i++) {
    scn_hostfwd *f = &sl->fwds[i];
    uint32_t gip = f->guest_ip ? f->guest_ip : g->ip;
    rc = host_live_add_hostfwd(sl->live, f->udp, f->host_ip, f->host_port, gip, f->guest_port,
                               &f->bound_port);
    if (rc) {
      char ip[16];
      snprintf(err, errcap, "cannot forward %s %s:%u (in use, or not an address of this host?)",
               f->udp ? "udp" : "tcp", scn_ip_str(f->host_ip, ip), f->host_port);
      return EMU_EIO;
    }
  }
  return cfg->ipv6 ? scn_live_forward6(sl, err, errcap) : 0;
}

/* The capture files, before anything listens: a path that cannot be
 * written is refused first, by the option that named it. */
static int scn_live_open_files(scn_live *sl, const scn_live_config *cfg, char *err, size_t errcap) {
  char why[512];
  if (cfg->pcap_path) {
    if (host_pcap_writer_open(&sl->pcap, cfg->pcap_path, why, sizeof why)) {
      snprintf(err, errcap, "--pcap: %s", why);
      return EMU_EIO;
    }
    sl->pcap_on = 1;
  }
  if (cfg->record_path) {
    if (host_pcap_writer_open(&sl->record, cfg->record_path, why, sizeof why)) {
      snprintf(err, errcap, "--record: %s", why);
      return EMU_EIO;
    }
    sl->record_on = 1;
  }
  return 0;
}

int scn_live_init(scn_live *sl, const scn_live_config *cfg, char *err, size_t errcap) {
  memset(sl, 0, sizeof *sl);
  int rc;
  if (cfg->sim) {
    sl->s = cfg->sim;
    /* A TAP's carrier comes up as we attach, and the kernel may miss what
     * arrives in that moment: the ping waits a little there. */
    uint64_t at = cfg->tap_name ? SCN_LIVE_TAP_SETTLE_NS : 0;
    rc = cfg->ping_gateway ? scn_live_guest_start(sl->s, at) : 0;
  } else {
    sl->s = &sl->own;
    scn_config sc = cfg->scn;
    if (cfg->ipv6) sc.guest.slaac = 1;
    rc = scn_live_sim_init(sl->s, &sc, cfg->ping_gateway);
    if (!rc && cfg->forget_done) scn_window(sl->s, NULL, NULL);
  }
  /* after the ping, which announces the guest's MAC to slirp */
  if (!rc && cfg->ipv6) rc = scn_guest_router_solicit_at(sl->s, sl->s->sched.now_ns);
  if (rc) {
    snprintf(err, errcap, "cannot build the simulation: %s", emu_strerror(rc));
    return rc;
  }
  const net_iface_config *g = &sl->s->cfg.guest;
  sl->gateway = g->gateway;
  scn_set_host_rx(sl->s, scn_live_on_guest_frame, sl);

  rc = scn_live_open_files(sl, cfg, err, errcap);
  if (!rc)
    rc = cfg->tap_name ? scn_live_start_tap(sl, cfg, err, errcap)
                       : scn_live_start_slirp(sl, cfg, err, errcap);
  if (rc) goto fail;
  return 0;
fail:
  scn_live_close(sl);
  return rc;
}

int scn_live_run(scn_live *sl, uint64_t duration_ns) {
  return host_live_run(sl->live, duration_ns);
}

net_ping_state scn_live_gateway_ping(const scn_live *sl, uint64_t *rtt_ns) {
  const net_ping_result *res;
  size_t n = net_iface_ping_results(&sl->s->guest, &res);
  for (size_t i = 0; i < n; i++)
    if (res[i].dst_ip == sl->gateway && res[i].seq == SCN_LIVE_GUEST_PING_SEQ) {
      if (rtt_ns) *rtt_ns = res[i].rtt_ns;
      return res[i].state;
    }
  return NET_PING_PENDING;
}

int scn_live_finish(scn_live *sl) {
  scn_finish(sl->s);
  int rc = 0;
  if (sl->pcap_on && host_pcap_writer_close(&sl->pcap)) rc = EMU_EIO;
  if (sl->record_on && host_pcap_writer_close(&sl->record)) rc = EMU_EIO;
  sl->pcap_on = sl->record_on = 0;
  return rc;
}

void scn_live_close(scn_live *sl) {
  /* slirp first: its last frames must not reach a closed scenario */
  host_live_free(sl->live);
  sl->live = NULL;
  /* still open: the run did not finish, so the files are not put in place */
  if (sl->pcap_on) host_pcap_writer_abort(&sl->pcap);
  if (sl->record_on) host_pcap_writer_abort(&sl->record);
  sl->pcap_on = sl->record_on = 0;
  if (sl->s == &sl->own) scn_close(&sl->own);
  sl->s = NULL;
}
