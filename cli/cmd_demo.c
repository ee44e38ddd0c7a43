#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"

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
    "%s"
    "  -h, --help       this text\n";

int cmd_demo(int argc, char **argv) {
  static const struct option longopts[] = {{"pings", required_argument, NULL, 'p'},
                                           {"interval-us", required_argument, NULL, 'i'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts o;
  cli_sim_opts_default(&o, "demo");
  uint64_t pings = 4, interval_us = 1000;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        printf(demo_usage, cli_sim_options_help);
        return CLI_EXIT_OK;
      case 'p':
        if (cli_parse_uint(optarg, 1, NET_IFACE_PING_MAX, &pings))
          return cli_error("demo", CLI_EXIT_USAGE, "--pings: '%s' is not a number from 1 to %d",
                           optarg, NET_IFACE_PING_MAX);
        break;
      case 'i':
        if (cli_parse_uint(optarg, 1, 10000000, &interval_us))
          return cli_error("demo", CLI_EXIT_USAGE,
                           "--interval-us: '%s' is not a number from 1 to 10000000", optarg);
        break;
      default: {
        int rc = cli_sim_opt(&o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("demo", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);

  FILE *trace = NULL;
  int rc = cli_open_trace("demo", &o, &trace);
  if (rc) return rc;
  scn s;
  rc = scn_init(&s, &o.cfg);
  if (rc) {
    if (trace) fclose(trace);
    return cli_error("demo", CLI_EXIT_FAIL, "cannot build the simulation: %s", emu_strerror(rc));
  }
  net_iface peer;
  net_iface_config peer_cfg;
  net_iface_config_slirp_host(&peer_cfg);
  peer_cfg.ip = (o.cfg.guest.ip & 0xffffff00u) | 2u;
  rc = net_iface_init(&peer, &peer_cfg, scn_host_port(&s));
  if (rc) {
    scn_close(&s);
    if (trace) fclose(trace);
    return cli_error("demo", CLI_EXIT_FAIL, "cannot set up the host peer: %s", emu_strerror(rc));
  }
  scn_attach_peer(&s, &peer);
  uint64_t t0 = scn_now(&s) + 10000;
  for (uint64_t i = 0; i < pings; i++)
    scn_peer_ping_at(&s, t0 + i * interval_us * 1000, o.cfg.guest.ip, (uint16_t)(i + 1), 56);
  scn_run(&s, EMU_TIME_NEVER, 10000000);
  scn_finish(&s);

  const net_ping_result *res;
  size_t nres = net_iface_ping_results(&peer, &res);
  size_t replied = 0;
  for (size_t i = 0; i < nres; i++) replied += res[i].state == NET_PING_REPLIED;
  if (o.json) {
    printf("{\"command\":\"demo\",\"pings\":[");
    for (size_t i = 0; i < nres; i++)
      printf("%s{\"seq\":%u,\"state\":\"%s\",\"rtt_ns\":%" PRIu64 "}", i ? "," : "", res[i].seq,
             res[i].state == NET_PING_REPLIED ? "replied"
             : res[i].state == NET_PING_LOST  ? "lost"
                                              : "pending",
             res[i].state == NET_PING_REPLIED ? res[i].rtt_ns : 0);
    printf("],\"replied\":%zu,", replied);
    cli_print_summary_json(stdout, &s);
    printf("}\n");
  } else {
    uint32_t ip = o.cfg.guest.ip;
    printf("vnetsim demo: host 10.0.2.2 pings guest %u.%u.%u.%u %" PRIu64
           " times through virtio-net (queue %u, seed %" PRIu64 ")\n",
           ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, pings, o.cfg.queue_size,
           o.cfg.seed);
    for (size_t i = 0; i < nres; i++) {
      if (res[i].state == NET_PING_REPLIED)
        printf("  ping seq=%-3u reply after %.3f us (virtual)\n", res[i].seq,
               (double)res[i].rtt_ns / 1e3);
      else
        printf("  ping seq=%-3u %s\n", res[i].seq,
               res[i].state == NET_PING_LOST ? "LOST (no reply within 1 s)" : "no reply yet");
    }
    printf("%zu of %zu pings answered\n", replied, nres);
    cli_print_summary(stdout, &s);
  }
  net_iface_close(&peer);
  rc = cli_close_trace("demo", o.trace_path, trace, &s);
  scn_close(&s);
  return rc;
}
