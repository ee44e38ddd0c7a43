/* getopt_long, isatty, fileno: POSIX and GNU declarations. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"
#include "cli/cmd.h"
#include "emu/err.h"
#include "host/live.h"
#include "host/outfile.h"
#include "host/scn_live.h"

static const char run_usage[] =
    "usage: vnetsim run [--hostfwd SPEC]... [--pcap FILE] [--record FILE] [--duration-s N]\n"
    "                   [--dhcp] [--guest ACTION [--guest-out FILE]]... [OPTIONS]\n"
    "\n"
    "Runs the simulated guest in real time behind libslirp (user-mode NAT, no\n"
    "privileges): what you send to a forwarded port crosses slirp, the device, the\n"
    "RX ring, the driver and the guest's TCP stack, and comes back through the TX\n"
    "ring. The guest is 10.0.2.15, its gateway 10.0.2.2, DNS 10.0.2.3; at start it\n"
    "pings the gateway and prints the round trip. Ctrl-C (SIGTERM, SIGHUP) prints the\n"
    "summary and exits 0. While stderr is a terminal a status line shows frames,\n"
    "drops and RX ring occupancy.\n"
    "\n"
    "The guest serves TCP echo on 8023, HTTP on 80 (GET /stats: its counters as\n"
    "JSON), discard on 9, UDP echo on 7.\n"
    "\n"
    "  --hostfwd SPEC   forward a host port to the guest, as QEMU's hostfwd=:\n"
    "                   tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport; hostaddr\n"
    "                   defaults to 127.0.0.1, hostport 0 lets the kernel choose (the\n"
    "                   port is printed). Repeatable. Default: tcp:127.0.0.1:8023-:8023\n"
    "                   and tcp:127.0.0.1:8080-:80\n"
    "  --pcap FILE      write both directions as seen on the link (virtual ns since start)\n"
    "  --record FILE    write the host->guest frames with their arrival times, and beside\n"
    "                   them FILE.vnetsim, the run's options (seed, model, guest, --dhcp,\n"
    "                   --guest): 'vnetsim replay FILE' takes those and replays the\n"
    "                   inbound side, a guest that was a client included\n"
    "  --duration-s N   stop after N seconds (default: run until Ctrl-C)\n"
    "  --backend tap --tap NAME\n"
    "                   the host side is the TAP interface NAME (Linux only; needs\n"
    "                   CAP_NET_ADMIN): the Linux kernel is the guest's peer. The guest\n"
    "                   is then 172.16.0.2/24 and its gateway 172.16.0.1 (give the TAP\n"
    "                   that address): ping 172.16.0.2, nc 172.16.0.2 8023 and curl\n"
    "                   172.16.0.2/stats work from the host; no --hostfwd\n"
    "  --backend slirp  (the default) libslirp, as above\n"
    "  --ipv6           slirp's IPv6 too: the guest solicits slirp's Router Advertisement\n"
    "                   and takes fec0::/64 with its MAC's interface identifier (SLAAC,\n"
    "                   RFC 4862); each forward from 127.0.0.1 gets a twin from [::1] at\n"
    "                   the same port to that address (slirp only)\n"
    "\n"
    "The guest as a client:\n"
    "  --dhcp           the guest takes its address by DHCP (RFC 2131) from slirp's\n"
    "                   server instead of using 10.0.2.15, and prints one line:\n"
    "                   guest dhcp: bound ip=A netmask=M gateway=G dns=D lease_s=S ...\n"
    "                   No answer after 4 tries (4+8+16+32 s, RFC 2131 backoff) ends\n"
    "                   the run with exit 1. No gateway ping at start then\n"
    "  --guest ACTION   the guest runs ACTION once it is up; repeatable, run in order,\n"
    "                   each result printed as one line 'guest action N (ACTION): ok\n"
    "                   key=value...' or '...: failed: why', and in --json. ACTION is:\n"
    "                     get URL        HTTP/1.1 GET of http://HOST[:PORT]/PATH;\n"
    "                                    prints status, length and the body's sha256\n"
    "                                    (10.0.2.2 is the host's loopback, through slirp)\n"
    "                     resolve NAME   an A query to the DNS server (10.0.2.3:\n"
    "                                    slirp asks the host's resolver)\n"
    "                     tcp A.B.C.D:PORT DATA   connect, send DATA, close the sending\n"
    "                                    side, print what comes back until the server\n"
    "                                    closes\n"
    "                     udp A.B.C.D:PORT DATA   one datagram, one reply\n"
    "                   DATA takes the escapes \\n \\r \\t \\\\ \\xHH. Each action has\n"
    "                   30 s. An HTTP status such as 404 is reported, not a failure\n"
    "                   (as with curl); a failed action (no answer, refused, reset,\n"
    "                   a malformed reply, a name that does not resolve) makes the\n"
    "                   exit status 1. With actions and no --duration-s, run stops\n"
    "                   once they are all done\n"
    "  --guest-out FILE write the body of the --guest get just before it to FILE\n"
    "%s"
    "                   run's --backlog default is 4096: while the guest has no RX\n"
    "                   buffer, the host's frames wait, as QEMU's net queue holds a\n"
    "                   backend's, instead of being dropped as rx_no_buffer\n"
    "  -h, --help       this text\n";

enum {
  RUN_OPT_HOSTFWD = CLI_OPT_SHARED_END + 1,
  RUN_OPT_PCAP,
  RUN_OPT_RECORD,
  RUN_OPT_DURATION,
  RUN_OPT_BACKEND,
  RUN_OPT_TAP,
  RUN_OPT_IPV6,
};

/* The note's addresses for a TAP network: the guest .2, the host .1. */
#define RUN_TAP_GUEST_IP VNS_IP(172, 16, 0, 2)
#define RUN_TAP_HOST_IP  VNS_IP(172, 16, 0, 1)

#define RUN_STATUS_PERIOD_NS 250000000ull

typedef struct run_ui {
  scn_live *sl;
  const vns_sim *sim;
  int tap;
  int status; /* stderr is a terminal: keep a status line */
  int status_shown;
  int ping_reported;
  int json;
  cli_guest *guest;
  int stop_when_done; /* the guest's actions end the run */
  int guest_done;     /* they did */
} run_ui;

static const char *run_ping_state(net_ping_state st) {
  return st == NET_PING_REPLIED ? "replied" : st == NET_PING_LOST ? "lost" : "pending";
}

static void run_report_ping(run_ui *ui) {
  if (ui->ping_reported || ui->json) return;
  uint64_t rtt = 0;
  net_ping_state st = scn_live_gateway_ping(ui->sl, &rtt);
  if (st == NET_PING_PENDING) return;
  ui->ping_reported = 1;
  if (ui->status_shown) fputs("\r\033[K", stderr);
  uint32_t gw = ui->sl->gateway;
  if (st == NET_PING_REPLIED)
    printf("guest ping %u.%u.%u.%u: reply after %.3f ms (guest -> %s -> guest)\n", gw >> 24,
           (gw >> 16) & 255, (gw >> 8) & 255, gw & 255, (double)rtt / 1e6,
           ui->tap ? "kernel" : "slirp");
  else
    printf("guest ping %u.%u.%u.%u: no reply within 1 s\n", gw >> 24, (gw >> 16) & 255,
           (gw >> 8) & 255, gw & 255);
  fflush(stdout);
}

static uint64_t run_fate(const vns_sim *sim, const char *fate) {
  uint64_t n = 0;
  vns_sim_fate_count(sim, fate, &n);
  return n;
}

static void run_on_tick(void *ctx, uint64_t now_ns) {
  (void)now_ns;
  run_ui *ui = ctx;
  run_report_ping(ui);
  if (ui->status_shown && !ui->guest_done) fputs("\r\033[K", stderr);
  if (!ui->guest_done && cli_guest_report(ui->guest, ui->sim)) {
    ui->guest_done = 1;
    vns_dhcp_lease l;
    int dhcp_failed =
        ui->guest->dhcp && vns_guest_dhcp(ui->sim, &l) == 0 && strcmp(l.state, "bound") != 0;
    if (ui->stop_when_done || dhcp_failed) host_live_stop(ui->sl->live);
  }
  if (!ui->status) return;
  const vns_sim *sim = ui->sim;
  size_t frames = vns_sim_frame_count(sim);
  uint64_t settled = frames - run_fate(sim, "pending");
  uint64_t drops = settled - run_fate(sim, "delivered") - run_fate(sim, "answered");
  vns_ring_state rx;
  if (vns_sim_ring(sim, VNS_QUEUE_RX, &rx)) return;
  /* Buffers the driver has offered and the device has not used yet. */
  uint16_t offered = (uint16_t)(rx.avail_idx - rx.used_idx);
  fprintf(stderr,
          "\r\033[Kframes in %zu out %" PRIu64 "  drops %" PRIu64 " (rx_no_buffer %" PRIu64
          ")  rx ring %u/%u buffers posted",
          frames, cli_counter(sim, "host.frames_received"), drops, run_fate(sim, "rx_no_buffer"),
          (unsigned)offered, rx.layout.size);
  ui->status_shown = 1;
}

typedef struct run_args {
  cli_sim_opts o;
  scn_live_config lc;
  uint64_t duration_s;
  int tap;
  cli_guest guest;
} run_args;

static int run_parse_opt(run_args *a, int c, char **argv) {
  char why[256];
  switch (c) {
    case 'h':
      printf(run_usage, cli_sim_options_help);
      return -1;
    case RUN_OPT_HOSTFWD:
      if (a->lc.nfwds == SCN_LIVE_MAX_FWDS)
        return cli_error("run", CLI_EXIT_USAGE, "--hostfwd: at most %d forwards",
                         SCN_LIVE_MAX_FWDS);
      if (scn_hostfwd_parse(optarg, &a->lc.fwds[a->lc.nfwds], why, sizeof why))
        return cli_error("run", CLI_EXIT_USAGE, "--hostfwd: %s", why);
      a->lc.nfwds++;
      return 0;
    case RUN_OPT_PCAP:
      a->lc.pcap_path = optarg;
      return 0;
    case RUN_OPT_RECORD:
      a->lc.record_path = optarg;
      return 0;
    case RUN_OPT_DURATION:
      if (cli_parse_uint(optarg, 1, 86400 * 365, &a->duration_s))
        return cli_error("run", CLI_EXIT_USAGE,
                         "--duration-s: '%s' is not a number of seconds from 1", optarg);
      return 0;
    case RUN_OPT_BACKEND:
      if (strcmp(optarg, "slirp") && strcmp(optarg, "tap"))
        return cli_error("run", CLI_EXIT_USAGE, "--backend: '%s' is not slirp or tap", optarg);
      a->tap = !strcmp(optarg, "tap");
      return 0;
    case RUN_OPT_TAP:
      a->lc.tap_name = optarg;
      return 0;
    case RUN_OPT_IPV6:
      a->lc.ipv6 = 1;
      a->o.sim.guest_slaac = 1;
      return 0;
    case CLI_OPT_DHCP:
    case CLI_OPT_GUEST:
    case CLI_OPT_GUEST_OUT:
      return cli_guest_opt(&a->guest, c, optarg);
    default:
      return cli_sim_opt(&a->o, c, optarg, argv[optind - 1]);
  }
}

/* The TAP backend's network is the note's: the guest .2, the host .1. */
static int run_check_backend(run_args *a) {
  if (!a->tap != !a->lc.tap_name)
    return cli_error("run", CLI_EXIT_USAGE,
                     a->tap ? "--backend tap needs --tap NAME" : "--tap NAME needs --backend tap");
  if (!a->tap) {
    a->lc.tap_name = NULL;
    return cli_sim_opts_done(&a->o);
  }
  if (a->lc.nfwds)
    return cli_error("run", CLI_EXIT_USAGE,
                     "--hostfwd forwards ports through slirp; with --backend tap the host reaches "
                     "the guest at its own address");
  if (a->lc.ipv6)
    return cli_error("run", CLI_EXIT_USAGE,
                     "--ipv6 turns on slirp's IPv6; with --backend tap the kernel reaches the "
                     "guest's link-local address (and --guest-ip6) itself");
  if (!a->o.guest_ip_given) a->o.sim.guest_ip = RUN_TAP_GUEST_IP;
  a->o.sim.host_ip = (a->o.sim.guest_ip & 0xffffff00u) | (RUN_TAP_HOST_IP & 0xffu);
  return cli_sim_opts_done(&a->o);
}

static int run_parse(int argc, char **argv, run_args *a) {
  static const struct option longopts[] = {
      {"hostfwd", required_argument, NULL, RUN_OPT_HOSTFWD},
      {"pcap", required_argument, NULL, RUN_OPT_PCAP},
      {"record", required_argument, NULL, RUN_OPT_RECORD},
      {"duration-s", required_argument, NULL, RUN_OPT_DURATION},
      {"backend", required_argument, NULL, RUN_OPT_BACKEND},
      {"tap", required_argument, NULL, RUN_OPT_TAP},
      {"ipv6", no_argument, NULL, RUN_OPT_IPV6},
      CLI_GUEST_LONG_OPTIONS,
      {"help", no_argument, NULL, 'h'},
      CLI_SIM_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  cli_sim_opts_default(&a->o, "run");
  a->o.sim.rx_backlog = CLI_RUN_BACKLOG;
  a->guest.cmd = "run";
  scn_live_config_default(&a->lc);
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    int rc = run_parse_opt(a, c, argv);
    if (rc) return rc;
  }
  if (optind < argc)
    return cli_error("run", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
  const char *paths[3 + CLI_GUEST_MAX] = {a->lc.pcap_path, a->lc.record_path, a->o.trace_path};
  const char *names[3 + CLI_GUEST_MAX] = {"--pcap", "--record", "--trace"};
  int rc = cli_check_distinct("run", paths, names, cli_guest_out_paths(&a->guest, paths, names, 3));
  a->o.sim.dhcp = a->guest.dhcp;
  /* the gateway ping would leave before the guest has an address */
  if (a->guest.dhcp) a->lc.ping_gateway = 0;
  a->guest.info = a->o.json ? stderr : stdout;
  return rc ? rc : run_check_backend(a);
}

static void run_print_forward(FILE *info, const scn_hostfwd *f) {
  unsigned ip = f->host_ip;
  char hint[96] = "";
  if (!f->udp && f->guest_port == NET_SVC_PORT_TCP_ECHO)
    snprintf(hint, sizeof hint, "   try: nc %u.%u.%u.%u %u", ip >> 24, (ip >> 16) & 255,
             (ip >> 8) & 255, ip & 255, f->bound_port);
  else if (!f->udp && f->guest_port == NET_SVC_PORT_HTTP)
    snprintf(hint, sizeof hint, "   try: curl http://%u.%u.%u.%u:%u/stats", ip >> 24,
             (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, f->bound_port);
  char guest[24] = "guest ";
  unsigned g = f->guest_ip; /* 0: the guest's own address */
  if (g)
    snprintf(guest, sizeof guest, "%u.%u.%u.%u", g >> 24, (g >> 16) & 255, (g >> 8) & 255, g & 255);
  fprintf(info, "  forwarding %s %u.%u.%u.%u:%u -> %s:%u%s\n", f->udp ? "udp" : "tcp", ip >> 24,
          (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, f->bound_port, guest, f->guest_port, hint);
}

/* The IPv6 twins of the forwards from 127.0.0.1 (scn_live_config.ipv6). */
static void run_print_forward6(FILE *info, const scn_live *sl) {
  char g6[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, sl->guest6, g6, sizeof g6)) return;
  fprintf(info, "  IPv6: slirp advertises fec0::/64 (host fec0::2); the guest takes %s\n", g6);
  for (size_t i = 0; i < sl->nfwds; i++) {
    const scn_hostfwd *f = &sl->fwds[i];
    if (f->host_ip != 0x7f000001u || f->guest_ip) continue;
    fprintf(info, "  forwarding %s [::1]:%u -> [%s]:%u\n", f->udp ? "udp" : "tcp", f->bound_port,
            g6, f->guest_port);
  }
}

/* With --json stdout carries one object at the end; where to connect goes to
 * stderr, so that a script can still find a kernel-chosen port. */
static void run_print_banner(const run_args *a, const scn_live *sl) {
  FILE *info = a->o.json ? stderr : stdout;
  const vns_sim_opts *so = &a->o.sim;
  uint32_t ip = so->guest_ip;
  char bugs[512] = "";
  int buggy = so->driver_bugs || so->device_bugs;
  if (buggy && vns_bug_names(so->driver_bugs, so->device_bugs, bugs, sizeof bugs) < 0)
    strcpy(bugs, "?");
  char where[128];
  if (a->tap)
    snprintf(where, sizeof where, "on TAP %s (the kernel is the host, .%u)", a->lc.tap_name,
             so->host_ip & 255u);
  else
    snprintf(where, sizeof where, "behind libslirp (gateway .2, DNS .3)");
  char guest[48];
  snprintf(guest, sizeof guest, "%u.%u.%u.%u%s", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
           ip & 255, so->dhcp ? " (asked for by DHCP)" : "");
  fprintf(info, "vnetsim run: guest %s %s, queue %u%s, seed %" PRIu64 "%s%s\n", guest, where,
          so->queue_size, cli_ring_note(so), so->seed, buggy ? ", bugs: " : "", bugs);
  for (size_t i = 0; i < sl->nfwds; i++) run_print_forward(info, &sl->fwds[i]);
  if (a->lc.ipv6) run_print_forward6(info, sl);
  if (a->lc.nfwds)
    fprintf(info, "  (your --hostfwd replaces the default forwards of 8023 and 8080)\n");
  fprintf(info, "%s\n",
          a->duration_s ? "running (Ctrl-C to stop early)"
          : a->guest.n  ? "running until the guest's actions are done (Ctrl-C to stop early)"
                        : "running; Ctrl-C to stop");
  fflush(info);
}

static const char *run_stopped_by(int sig, int json, int guest_done) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  if (sig == SIGHUP) return "SIGHUP";
  if (guest_done) return json ? "guest_done" : "the guest's actions are done";
  return json ? "duration" : "--duration-s elapsed";
}

static void run_print_end(const run_args *a, run_ui *ui, const vns_sim *sim) {
  int sig = host_live_stop_signal(ui->sl->live);
  if (!a->o.json) {
    run_report_ping(ui);
    cli_guest_report(ui->guest, sim);
    printf("stopped (%s)\n", run_stopped_by(sig, 0, ui->guest_done && !a->duration_s));
    cli_print_summary(stdout, sim, &a->o.sim);
    return;
  }
  const scn_live *sl = ui->sl;
  uint64_t rtt = 0;
  net_ping_state st = scn_live_gateway_ping(sl, &rtt);
  printf("{\"command\":\"run\",\"forwards\":[");
  for (size_t i = 0; i < sl->nfwds; i++)
    printf("%s{\"proto\":\"%s\",\"host_port\":%u,\"guest_port\":%u}", i ? "," : "",
           sl->fwds[i].udp ? "udp" : "tcp", sl->fwds[i].bound_port, sl->fwds[i].guest_port);
  printf("],\"gateway_ping\":{\"state\":\"%s\",\"rtt_ns\":%" PRIu64 "},\"stopped_by\":\"%s\",",
         run_ping_state(st), st == NET_PING_REPLIED ? rtt : 0,
         run_stopped_by(sig, 1, ui->guest_done && !a->duration_s));
  cli_print_summary_json(stdout, sim, &a->o.sim);
  cli_guest_json(ui->guest, sim, stdout);
  printf("}\n");
}

/* Beside the recording, the options that make 'vnetsim replay REC' replay
 * it as it ran: the model, the seed, the guest and its client actions. */
static int run_write_recorded_options(const run_args *a) {
  char path[4096], err[512];
  /* only beside a file: not beside standard output, /dev/null or a FIFO */
  struct stat st;
  if (!strcmp(a->lc.record_path, "-") || stat(a->lc.record_path, &st) != 0 || !S_ISREG(st.st_mode))
    return 0;
  snprintf(path, sizeof path, "%s%s", a->lc.record_path, CLI_RECORDED_OPTIONS_SUFFIX);
  host_outfile out;
  if (host_outfile_open(&out, path, err, sizeof err))
    return cli_error("run", CLI_EXIT_FAIL, "--record: %s", err);
  int bad = fprintf(out.f,
                    "# vnetsim run --record: the options vnetsim replay takes from here for "
                    "the recording beside it (its command line's win)\n") < 0;
  bad |= cli_write_sim_args(out.f, &a->o) != 0;
  if (a->guest.dhcp) bad |= fprintf(out.f, "--dhcp\n") < 0;
  for (size_t i = 0; i < a->guest.n; i++)
    bad |= fprintf(out.f, "--guest=%s\n", a->guest.actions[i]) < 0;
  if (bad) {
    host_outfile_abort(&out);
  } else if (host_outfile_commit(&out) == 0) {
    return 0;
  }
  return cli_error("run", CLI_EXIT_FAIL, "--record: writing '%s' failed", path);
}

/* Runs the live session on a built simulation; returns a CLI exit code. */
static int run_live(run_args *a, vns_sim *sim) {
  /* A live run has no end of its own to hash towards; the trace file is
   * the record, the hash is still printed. */
  static scn_live sl;
  char err[512];
  a->lc.sim = vns_sim_scn(sim);
  int rc = scn_live_init(&sl, &a->lc, err, sizeof err);
  if (rc) return cli_error("run", rc == EMU_EIO ? CLI_EXIT_USAGE : CLI_EXIT_FAIL, "%s", err);
  /* slirp writes to sockets whose peer may be gone: an EPIPE, not a death */
  signal(SIGPIPE, SIG_IGN);
  rc = host_live_catch_signals(sl.live);
  if (rc) {
    scn_live_close(&sl);
    return cli_error("run", CLI_EXIT_FAIL, "cannot catch SIGINT/SIGTERM/SIGHUP: %s",
                     emu_strerror(rc));
  }
  run_ui ui = {.sl = &sl,
               .sim = sim,
               .tap = a->tap,
               .status = isatty(fileno(stderr)),
               .json = a->o.json,
               .guest = &a->guest,
               .stop_when_done = a->guest.n > 0 && !a->duration_s};
  run_print_banner(a, &sl);
  host_live_set_tick(sl.live, run_on_tick, &ui, RUN_STATUS_PERIOD_NS);
  rc = scn_live_run(&sl, a->duration_s * 1000000000ull);
  if (ui.status_shown) fputs("\r\033[K", stderr);
  int frc = scn_live_finish(&sl);
  run_print_end(a, &ui, sim);
  if (rc)
    rc = cli_error("run", CLI_EXIT_FAIL, "the event loop failed: %s", emu_strerror(rc));
  else if (frc)
    rc = cli_error("run", CLI_EXIT_FAIL, "writing --pcap or --record failed");
  else
    rc = cli_check_accounted("run", sim);
  if (!rc && a->lc.record_path) rc = run_write_recorded_options(a);
  int grc = cli_guest_finish(&a->guest, sim);
  if (!rc) rc = grc;
  scn_live_close(&sl);
  return rc;
}

/* A live session may run for days: each frame's record goes once it is
 * done (the summary and /stats need only the counts), so that memory stays
 * bounded by the frames in flight. */
static void run_frame_done(void *ctx, const vns_frame_done *done) { (void)ctx, (void)done; }

int cmd_run(int argc, char **argv) {
  static run_args a;
  int rc = run_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  a.o.sim.frame_done = run_frame_done;
  cli_trace trace;
  rc = cli_open_trace(&a.o, &trace);
  if (rc) return rc;
  vns_sim *sim;
  rc = cli_sim_new(&a.o, &sim);
  if (!rc) rc = cli_guest_start(&a.guest, sim);
  if (!rc) rc = run_live(&a, sim);
  cli_guest_abort_outs(&a.guest);
  if (rc)
    cli_abort_trace(&trace);
  else
    rc = cli_close_trace("run", &trace, 0);
  vns_sim_free(sim);
  return rc;
}
