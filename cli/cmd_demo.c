#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"

static const char demo_usage[] =
    "usage: vnetsim [demo] [--pings N] [--interval-us N] [OPTIONS]\n"
    "\n"
    "The host side (slirp's gateway, 10.0.2.2) ARPs for the guest and pings it N\n"
    "times; every frame crosses the device, the RX ring, the driver and the guest\n"
    "stack, and every reply comes back through the TX ring. Prints each ping's\n"
    "round trip in virtual time, every frame's fate and the ring counters.\n"
    "\n"
    "  --pings N        echo requests to send (1..64, default 4)\n"
    "  --interval-us N  virtual microseconds between them (default 1000)\n"
    "  --ping-size N    bytes of data in each (0..8972, default 56, as ping(8)); above\n"
    "                   1472 the frame needs --mtu, and a larger RX buffer or --mergeable\n"
    "%s"
    "  -h, --help       this text\n";

/* The host's pings, NET_IFACE_PING_MAX of the guest stack's ping table. */
#define DEMO_PINGS_MAX     64
#define DEMO_PING_PAYLOAD  56    /* bytes, as ping(8) sends by default */
#define DEMO_PING_SIZE_MAX 8972  /* a 9000-byte IP packet's ICMP data */
#define DEMO_IP_ICMP_HDRS  28    /* IPv4 and ICMP headers around the data */
#define DEMO_DEFAULT_MTU   1500  /* Ethernet's, without --mtu */
#define DEMO_FIRST_PING_NS 10000 /* after the driver's probe has settled */
/* Events per run: far more than the longest demo needs, so a runaway
 * schedule ends instead of spinning. */
#define DEMO_MAX_EVENTS 10000000

typedef struct demo_args {
  cli_sim_opts o;
  uint64_t pings, interval_us, ping_size;
} demo_args;

static int demo_parse(int argc, char **argv, demo_args *a) {
  static const struct option longopts[] = {{"pings", required_argument, NULL, 'p'},
                                           {"interval-us", required_argument, NULL, 'i'},
                                           {"ping-size", required_argument, NULL, 's'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts_default(&a->o, "demo");
  a->pings = 4;
  a->interval_us = 1000;
  a->ping_size = DEMO_PING_PAYLOAD;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        printf(demo_usage, cli_sim_options_help);
        return -1;
      case 'p':
        if (cli_parse_uint(optarg, 1, DEMO_PINGS_MAX, &a->pings))
          return cli_error("demo", CLI_EXIT_USAGE, "--pings: '%s' is not a number from 1 to %d",
                           optarg, DEMO_PINGS_MAX);
        break;
      case 'i':
        if (cli_parse_uint(optarg, 1, 10000000, &a->interval_us))
          return cli_error("demo", CLI_EXIT_USAGE,
                           "--interval-us: '%s' is not a number from 1 to 10000000", optarg);
        break;
      case 's':
        if (cli_parse_uint(optarg, 0, DEMO_PING_SIZE_MAX, &a->ping_size))
          return cli_error("demo", CLI_EXIT_USAGE,
                           "--ping-size: '%s' is not a number from 0 to %d (a 9000-byte "
                           "packet's ICMP data)",
                           optarg, DEMO_PING_SIZE_MAX);
        break;
      default: {
        int rc = cli_sim_opt(&a->o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("demo", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
  unsigned mtu = a->o.sim.mtu ? a->o.sim.mtu : DEMO_DEFAULT_MTU;
  if (a->ping_size + DEMO_IP_ICMP_HDRS > mtu)
    return cli_error("demo", CLI_EXIT_USAGE,
                     "--ping-size: %" PRIu64 " bytes of data make a %" PRIu64
                     "-byte IP packet, above the mtu %u (raise --mtu)",
                     a->ping_size, a->ping_size + DEMO_IP_ICMP_HDRS, mtu);
  return cli_sim_opts_done(&a->o);
}

static size_t demo_replied(const vns_sim *sim) {
  size_t replied = 0;
  vns_ping p;
  for (size_t i = 0; vns_host_ping(sim, i, &p) == 0; i++) replied += !strcmp(p.state, "replied");
  return replied;
}

static void demo_print_json(const vns_sim *sim, const vns_sim_opts *so) {
  printf("{\"command\":\"demo\",\"pings\":[");
  vns_ping p;
  for (size_t i = 0; vns_host_ping(sim, i, &p) == 0; i++)
    printf("%s{\"seq\":%u,\"state\":\"%s\",\"rtt_ns\":%" PRIu64 "}", i ? "," : "", p.seq, p.state,
           p.rtt_ns);
  printf("],\"replied\":%zu,", demo_replied(sim));
  cli_print_summary_json(stdout, sim, so);
  printf("}\n");
}

static void demo_print_text(const vns_sim *sim, const demo_args *a) {
  const vns_sim_opts *so = &a->o.sim;
  uint32_t ip = so->guest_ip;
  printf("vnetsim demo: host 10.0.2.2 pings guest %u.%u.%u.%u %" PRIu64
         " times through virtio-net (queue %u%s, seed %" PRIu64 ")\n",
         ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, a->pings, so->queue_size,
         cli_ring_note(so), so->seed);
  vns_ping p;
  for (size_t i = 0; vns_host_ping(sim, i, &p) == 0; i++) {
    if (!strcmp(p.state, "replied"))
      printf("  ping seq=%-3u reply after %.3f us (virtual)\n", p.seq, (double)p.rtt_ns / 1e3);
    else
      printf("  ping seq=%-3u %s\n", p.seq,
             !strcmp(p.state, "lost") ? "LOST (no reply within 1 s)" : "no reply yet");
  }
  printf("%zu of %zu pings answered\n", demo_replied(sim), vns_host_ping_count(sim));
  cli_print_summary(stdout, sim, so);
}

int cmd_demo(int argc, char **argv) {
  demo_args a;
  int rc = demo_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  a.o.sim.host_peer = 1;
  a.o.sim.max_events = DEMO_MAX_EVENTS;
  cli_trace trace;
  rc = cli_open_trace(&a.o, &trace);
  if (rc) return rc;
  vns_sim *sim;
  rc = cli_sim_new(&a.o, &sim);
  if (rc) {
    cli_abort_trace(&trace);
    return rc;
  }
  uint64_t t0 = vns_sim_now(sim) + DEMO_FIRST_PING_NS;
  for (uint64_t i = 0; i < a.pings && !rc; i++)
    rc = vns_host_ping_at(sim, t0 + i * a.interval_us * 1000, a.o.sim.guest_ip, (uint16_t)(i + 1),
                          (uint16_t)a.ping_size);
  int64_t ran = rc ? rc : vns_sim_run(sim, VNS_TIME_IDLE);
  if (ran < 0 && ran != VNS_ELIMIT) {
    rc = cli_error("demo", CLI_EXIT_FAIL, "the run failed: %s", vns_strerror((int)ran));
  } else {
    vns_sim_finish(sim);
    if (a.o.json)
      demo_print_json(sim, &a.o.sim);
    else
      demo_print_text(sim, &a);
    rc = cli_check_accounted("demo", sim);
  }
  int trc = 0;
  if (rc)
    cli_abort_trace(&trace);
  else
    trc = cli_close_trace("demo", &trace, 0);
  vns_sim_free(sim);
  return rc ? rc : trc;
}
