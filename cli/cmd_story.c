#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"

static const char story_usage[] =
    "usage: vnetsim story [--bug LIST] [OPTIONS]\n"
    "\n"
    "Replays the Redox virtio-netd story twice, with the buggy driver (default:\n"
    "--bug redox, its three RX bugs) and with the fixed one, and prints the\n"
    "symptoms side by side: the guest pings its gateway; a busy LAN sends 300\n"
    "broadcasts meant for other hosts; then the host ARPs for the guest and pings\n"
    "it; a TCP connection to the guest's echo port 8023, opened before the noise,\n"
    "carries 4 KiB after it. The guest's network loop also wakes every 10 ms\n"
    "(--guest-poll-ms).\n"
    "\n"
    "%s"
    "  -h, --help       this text\n";

/* What the story sends through its TCP connection after the noise (4 KiB,
 * as vns_story_run's documentation says). */
#define STORY_TCP_BYTES 4096
/* The guest's network loop also wakes this often, as Redox's does. */
#define STORY_GUEST_POLL_NS 10000000

static void story_print_json(const char *name, const vns_story *st) {
  printf(
      "\"%s\":{\"guest_pings_replied\":%zu,\"host_arp\":\"%s\","
      "\"host_pings_replied\":%zu,\"tcp_established\":%s,\"tcp_echoed\":%zu,"
      "\"frames_in\":%" PRIu64 ",\"first_rx_no_buffer\":%" PRId64 ",\"fates\":{",
      name, st->guest_pings_replied, st->host_arp_fate, st->host_pings_replied,
      st->tcp_established ? "true" : "false", st->tcp_echoed, st->frames_in,
      st->first_rx_no_buffer >= 0 ? st->first_rx_no_buffer + 1 : -1);
  for (size_t i = 1; vns_fate_name(i); i++)
    printf("%s\"%s\":%" PRIu64, i > 1 ? "," : "", vns_fate_name(i), st->fate_counts[i]);
  printf("}}");
}

static int story_parse(int argc, char **argv, cli_sim_opts *o) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'}, CLI_SIM_LONG_OPTIONS, {NULL, 0, NULL, 0}};
  cli_sim_opts_default(o, "story");
  o->sim.driver_bugs = VNS_BUG_REDOX;
  o->sim.guest_poll_ns = STORY_GUEST_POLL_NS;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') {
      printf(story_usage, cli_sim_options_help);
      return -1;
    }
    if (c == CLI_OPT_TRACE)
      return cli_error("story", CLI_EXIT_USAGE,
                       "--trace: story runs twice; trace one run with "
                       "'vnetsim demo' or 'replay' instead");
    int rc = cli_sim_opt(o, c, optarg, argv[optind - 1]);
    if (rc) return rc;
  }
  if (optind < argc)
    return cli_error("story", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
  return cli_sim_opts_done(o);
}

static void story_row(const char *symptom, const char *buggy, const char *fixed) {
  printf("%-40s %-22s %s\n", symptom, buggy, fixed);
}

static void story_row_ratio(const char *symptom, const char *unit, size_t buggy_n, size_t buggy_of,
                            size_t fixed_n, size_t fixed_of) {
  char a[64], b[64];
  snprintf(a, sizeof a, "%zu/%zu %s", buggy_n, buggy_of, unit);
  snprintf(b, sizeof b, "%zu/%zu %s", fixed_n, fixed_of, unit);
  story_row(symptom, a, b);
}

static void story_print_text(const cli_sim_opts *o, const char *bugs, const vns_story *buggy,
                             const vns_story *fixed) {
  printf("vnetsim story: the driver with %s against the fixed driver (seed %" PRIu64
         ", queue %u%s)\n\n",
         bugs, o->sim.seed, o->sim.queue_size, cli_ring_note(&o->sim));
  story_row("symptom in the note", "buggy driver", "fixed driver");
  story_row_ratio("guest -> gateway ping works", "replied", buggy->guest_pings_replied,
                  buggy->guest_pings, fixed->guest_pings_replied, fixed->guest_pings);
  story_row("host ARP request for the guest", buggy->host_arp_fate, fixed->host_arp_fate);
  story_row_ratio("host -> guest ping", "replied", buggy->host_pings_replied, buggy->host_pings,
                  fixed->host_pings_replied, fixed->host_pings);
  story_row("TCP handshake to guest port 8023", buggy->tcp_established ? "completes" : "FAILS",
            fixed->tcp_established ? "completes" : "FAILS");
  story_row_ratio("TCP data echoed by the guest", "bytes", buggy->tcp_echoed, STORY_TCP_BYTES,
                  fixed->tcp_echoed, STORY_TCP_BYTES);
  printf("\nfates of the %" PRIu64 " frames host->guest:\n", buggy->frames_in);
  for (size_t i = 1; vns_fate_name(i); i++)
    if (buggy->fate_counts[i] || fixed->fate_counts[i])
      printf("  %-24s %-22" PRIu64 " %" PRIu64 "\n", vns_fate_name(i), buggy->fate_counts[i],
             fixed->fate_counts[i]);
  if (buggy->first_rx_no_buffer >= 0)
    printf("\nbuggy driver: frame %" PRId64
           " (sent at +%.3f ms) is the first that never found an "
           "RX buffer:\nthe ring's %u buffers were used once and never posted again\n",
           buggy->first_rx_no_buffer + 1, (double)buggy->first_rx_no_buffer_sent_ns / 1e6,
           o->sim.queue_size);
}

int cmd_story(int argc, char **argv) {
  cli_sim_opts o;
  int rc = story_parse(argc, argv, &o);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  vns_sim_opts fixed = o.sim;
  fixed.driver_bugs = fixed.device_bugs = 0;
  vns_story buggy_st, fixed_st;
  rc = vns_story_run(&o.sim, &buggy_st);
  if (!rc) rc = vns_story_run(&fixed, &fixed_st);
  if (rc) return cli_error("story", CLI_EXIT_FAIL, "the story did not run: %s", vns_strerror(rc));
  char bugs[512];
  if (vns_bug_names(o.sim.driver_bugs, o.sim.device_bugs, bugs, sizeof bugs) < 0) strcpy(bugs, "?");
  if (o.json) {
    printf("{\"command\":\"story\",\"bugs\":\"%s\",\"seed\":%" PRIu64 ",", bugs, o.sim.seed);
    story_print_json("buggy", &buggy_st);
    printf(",");
    story_print_json("fixed", &fixed_st);
    printf("}\n");
  } else {
    story_print_text(&o, bugs, &buggy_st, &fixed_st);
  }
  return CLI_EXIT_OK;
}
