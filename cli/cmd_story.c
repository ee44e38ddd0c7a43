#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"

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

static void story_print_json(const char *name, const scn_story *st) {
  printf(
      "\"%s\":{\"guest_pings_replied\":%zu,\"host_arp\":\"%s\","
      "\"host_pings_replied\":%zu,\"tcp_established\":%s,\"tcp_echoed\":%zu,"
      "\"frames_in\":%" PRIu64 ",\"first_rx_no_buffer\":%" PRId64 ",\"fates\":{",
      name, st->guest_pings_replied, emu_fate_name(st->host_arp_fate), st->host_pings_replied,
      st->tcp_established ? "true" : "false", st->tcp_echoed, st->frames_in,
      st->first_rx_no_buffer >= 0 ? st->first_rx_no_buffer + 1 : -1);
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++)
    printf("%s\"%s\":%" PRIu64, i > 1 ? "," : "", emu_fate_name((emu_fate)i), st->counts[i]);
  printf("}}");
}

int cmd_story(int argc, char **argv) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'}, CLI_SIM_LONG_OPTIONS, {NULL, 0, NULL, 0}};
  cli_sim_opts o;
  cli_sim_opts_default(&o, "story");
  o.cfg.bugs = VBUG_REDOX;
  o.cfg.guest_poll_ns = 10000000;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') {
      printf(story_usage, cli_sim_options_help);
      return CLI_EXIT_OK;
    }
    if (c == CLI_OPT_TRACE)
      return cli_error("story", CLI_EXIT_USAGE,
                       "--trace: story runs twice; trace one run with "
                       "'vnetsim demo' or 'replay' instead");
    int rc = cli_sim_opt(&o, c, optarg, argv[optind - 1]);
    if (rc) return rc;
  }
  if (optind < argc)
    return cli_error("story", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);

  scn_config fixed = o.cfg;
  fixed.bugs = 0;
  fixed.dev_bugs = 0;
  scn_story buggy_st, fixed_st;
  int rc = scn_story_run(&o.cfg, &buggy_st);
  if (!rc) rc = scn_story_run(&fixed, &fixed_st);
  if (rc) return cli_error("story", CLI_EXIT_FAIL, "the story did not run: %s", emu_strerror(rc));

  char bugs[512];
  vbug_names(o.cfg.bugs, o.cfg.dev_bugs, bugs, sizeof bugs);
  if (o.json) {
    printf("{\"command\":\"story\",\"bugs\":\"%s\",\"seed\":%" PRIu64 ",", bugs, o.cfg.seed);
    story_print_json("buggy", &buggy_st);
    printf(",");
    story_print_json("fixed", &fixed_st);
    printf("}\n");
    return CLI_EXIT_OK;
  }
  printf("vnetsim story: the driver with %s against the fixed driver (seed %" PRIu64
         ", queue %u)\n\n",
         bugs, o.cfg.seed, o.cfg.queue_size);
  printf("%-40s %-22s %s\n", "symptom in the note", "buggy driver", "fixed driver");
  char a[64], b[64];
  snprintf(a, sizeof a, "%zu/%zu replied", buggy_st.guest_pings_replied, buggy_st.guest_pings);
  snprintf(b, sizeof b, "%zu/%zu replied", fixed_st.guest_pings_replied, fixed_st.guest_pings);
  printf("%-40s %-22s %s\n", "guest -> gateway ping works", a, b);
  printf("%-40s %-22s %s\n", "host ARP request for the guest",
         emu_fate_name(buggy_st.host_arp_fate), emu_fate_name(fixed_st.host_arp_fate));
  snprintf(a, sizeof a, "%zu/%zu replied", buggy_st.host_pings_replied, buggy_st.host_pings);
  snprintf(b, sizeof b, "%zu/%zu replied", fixed_st.host_pings_replied, fixed_st.host_pings);
  printf("%-40s %-22s %s\n", "host -> guest ping", a, b);
  printf("%-40s %-22s %s\n", "TCP handshake to guest port 8023",
         buggy_st.tcp_established ? "completes" : "FAILS",
         fixed_st.tcp_established ? "completes" : "FAILS");
  snprintf(a, sizeof a, "%zu/%zu bytes", buggy_st.tcp_echoed, (size_t)4096);
  snprintf(b, sizeof b, "%zu/%zu bytes", fixed_st.tcp_echoed, (size_t)4096);
  printf("%-40s %-22s %s\n", "TCP data echoed by the guest", a, b);
  printf("\nfates of the %" PRIu64 " frames host->guest:\n", buggy_st.frames_in);
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++)
    if (buggy_st.counts[i] || fixed_st.counts[i])
      printf("  %-24s %-22" PRIu64 " %" PRIu64 "\n", emu_fate_name((emu_fate)i), buggy_st.counts[i],
             fixed_st.counts[i]);
  if (buggy_st.first_rx_no_buffer >= 0)
    printf("\nbuggy driver: frame %" PRId64
           " (sent at +%.3f ms) is the first that never found an "
           "RX buffer:\nthe ring's %u buffers were used once and never posted again\n",
           buggy_st.first_rx_no_buffer + 1, (double)buggy_st.first_rx_no_buffer_sent_ns / 1e6,
           o.cfg.queue_size);
  return CLI_EXIT_OK;
}
