#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"

static const char bugs_usage[] =
    "usage: vnetsim bugs [--json]\n"
    "\n"
    "Lists every ring bug vnetsim can switch on with --bug: its name, whether it\n"
    "lives in the driver or the device, its cause, its symptom, the fix, and the\n"
    "virtio 1.2 section it breaks. 'redox' names the original Redox driver's\n"
    "three: rx-no-recycle, rx-last-only, rx-no-irq-wake.\n";

int cmd_bugs(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(bugs_usage, stdout);
      return CLI_EXIT_OK;
    } else {
      return cli_error("bugs", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[i]);
    }
  }
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  if (json) printf("[");
  for (size_t i = 0; i < n; i++) {
    const vbug_info *b = &cat[i];
    const char *side = b->side == VBUG_SIDE_DRIVER ? "driver" : "device";
    if (json) {
      printf("%s{\"name\":\"%s\",\"side\":\"%s\",\"cause\":", i ? "," : "", b->name, side);
      cli_print_json_string(stdout, b->cause);
      printf(",\"symptom\":");
      cli_print_json_string(stdout, b->symptom);
      printf(",\"fix\":");
      cli_print_json_string(stdout, b->fix);
      printf(",\"section\":\"%s\",\"redox\":%s}", b->section,
             b->side == VBUG_SIDE_DRIVER && (b->bit & VBUG_REDOX) ? "true" : "false");
    } else {
      printf("%s%s (%s%s, virtio 1.2 §%s)\n  cause:   %s\n  symptom: %s\n  fix:     %s\n",
             i ? "\n" : "", b->name, side,
             b->side == VBUG_SIDE_DRIVER && (b->bit & VBUG_REDOX) ? ", Redox virtio-netd" : "",
             b->section, b->cause, b->symptom, b->fix);
    }
  }
  if (json) printf("]\n");
  return CLI_EXIT_OK;
}

static const char explore_usage[] =
    "usage: vnetsim explore --bug LIST --seeds A..B [--bursts N] [OPTIONS]\n"
    "\n"
    "Runs a seeded burst workload (N bursts of 1..8 ARP and echo requests from the\n"
    "host, default 40) once per seed from A to B, with the bug switched on and with\n"
    "the fixed driver, and reports the first seed where the two differ: a frame\n"
    "with another fate, or fewer frames back at the host. That seed reproduces\n"
    "the run exactly (the same trace hash, checked). Bugs that need a particular\n"
    "interleaving (irq-enable-no-recheck, kick-before-publish,\n"
    "dev-used-event-equal) show in some seeds only.\n"
    "Exit status 0 when a seed shows the bug, 1 when none in the range does.\n"
    "\n"
    "  --seeds A..B     the seeds to try, inclusive (at most 100000 of them)\n"
    "  --bursts N       bursts per run (1..10000, default 40)\n"
    "%s"
    "  -h, --help       this text\n";

static int explore_parse_seeds(const char *s, uint64_t *a, uint64_t *b) {
  const char *dots = strstr(s, "..");
  if (!dots) return -1;
  char first[32];
  size_t n = (size_t)(dots - s);
  if (n == 0 || n >= sizeof first) return -1;
  memcpy(first, s, n);
  first[n] = '\0';
  if (cli_parse_uint(first, 0, UINT64_MAX, a) || cli_parse_uint(dots + 2, *a, UINT64_MAX, b))
    return -1;
  return *b - *a < 100000 ? 0 : -1;
}

int cmd_explore(int argc, char **argv) {
  static const struct option longopts[] = {{"seeds", required_argument, NULL, 's'},
                                           {"bursts", required_argument, NULL, 'n'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts o;
  cli_sim_opts_default(&o, "explore");
  uint64_t first = 0, last = 0, bursts = 40;
  int have_seeds = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        printf(explore_usage, cli_sim_options_help);
        return CLI_EXIT_OK;
      case 's':
        if (explore_parse_seeds(optarg, &first, &last))
          return cli_error("explore", CLI_EXIT_USAGE,
                           "--seeds: '%s' is not a range A..B of at most 100000 seeds", optarg);
        have_seeds = 1;
        break;
      case 'n':
        if (cli_parse_uint(optarg, 1, 10000, &bursts))
          return cli_error("explore", CLI_EXIT_USAGE,
                           "--bursts: '%s' is not a number from 1 to 10000", optarg);
        break;
      case CLI_OPT_TRACE:
      case CLI_OPT_SEED:
        return cli_error("explore", CLI_EXIT_USAGE,
                         "%s: explore chooses the seeds itself; use "
                         "--seeds A..B",
                         argv[optind - 1]);
      default: {
        int rc = cli_sim_opt(&o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("explore", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!have_seeds) return cli_error("explore", CLI_EXIT_USAGE, "missing --seeds A..B");
  if (!o.cfg.bugs && !o.cfg.dev_bugs)
    return cli_error("explore", CLI_EXIT_USAGE, "missing --bug: which bug to look for?");

  char names[512];
  vbug_names(o.cfg.bugs, o.cfg.dev_bugs, names, sizeof names);
  o.cfg.trace_hash = 1;
  for (uint64_t seed = first;; seed++) {
    scn_config buggy = o.cfg, fixed = o.cfg;
    buggy.seed = fixed.seed = seed;
    fixed.bugs = fixed.dev_bugs = 0;
    scn_outcome ob, of;
    int rc = scn_run_bursts(&buggy, (unsigned)bursts, &ob);
    if (!rc) rc = scn_run_bursts(&fixed, (unsigned)bursts, &of);
    if (rc)
      return cli_error("explore", CLI_EXIT_FAIL, "seed %" PRIu64 ": %s", seed, emu_strerror(rc));
    int64_t diff = scn_outcome_first_difference(&of, &ob);
    if (diff >= 0 || ob.frames_out != of.frames_out) {
      scn_outcome again;
      rc = scn_run_bursts(&buggy, (unsigned)bursts, &again);
      int exact = !rc && again.trace_hash == ob.trace_hash;
      scn_outcome_free(&again);
      if (o.json) {
        printf("{\"command\":\"explore\",\"bugs\":\"%s\",\"found\":true,\"seed\":%" PRIu64
               ",\"frame\":%" PRId64
               ",\"fixed_fate\":\"%s\",\"buggy_fate\":\"%s\","
               "\"frames_out_fixed\":%" PRIu64 ",\"frames_out_buggy\":%" PRIu64
               ",\"trace_hash\":\"%016" PRIx64 "\",\"reproduced\":%s}\n",
               names, seed, diff >= 0 ? diff + 1 : -1,
               diff >= 0 ? emu_fate_name(of.fates[diff]) : "",
               diff >= 0 ? emu_fate_name(ob.fates[diff]) : "", of.frames_out, ob.frames_out,
               ob.trace_hash, exact ? "true" : "false");
      } else {
        printf("vnetsim explore: %s shows at seed %" PRIu64 " (seeds %" PRIu64 "..%" PRIu64
               " tried up to it)\n",
               names, seed, first, seed);
        if (diff >= 0)
          printf("  frame %" PRId64 ": fixed driver %s, buggy %s\n", diff + 1,
                 emu_fate_name(of.fates[diff]), emu_fate_name(ob.fates[diff]));
        printf("  frames back at the host: fixed %" PRIu64 ", buggy %" PRIu64 "\n", of.frames_out,
               ob.frames_out);
        printf("  fates (fixed -> buggy):");
        for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++)
          if (of.counts[i] != ob.counts[i])
            printf(" %s %" PRIu64 "->%" PRIu64, emu_fate_name((emu_fate)i), of.counts[i],
                   ob.counts[i]);
        printf("\n  reproduced exactly from the seed: %s (trace hash %016" PRIx64 ")\n",
               exact ? "yes" : "NO", ob.trace_hash);
        printf("  again: vnetsim explore --bug %s --qsize %u --backlog %u --bursts %" PRIu64
               " --seeds %" PRIu64 "..%" PRIu64 "\n",
               names, o.cfg.queue_size, o.cfg.rx_backlog, bursts, seed, seed);
      }
      scn_outcome_free(&ob);
      scn_outcome_free(&of);
      return exact ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    scn_outcome_free(&ob);
    scn_outcome_free(&of);
    if (seed == last) break;
  }
  if (o.json)
    printf("{\"command\":\"explore\",\"bugs\":\"%s\",\"found\":false,\"first\":%" PRIu64
           ",\"last\":%" PRIu64 "}\n",
           names, first, last);
  else
    printf("vnetsim explore: %s does not show in seeds %" PRIu64 "..%" PRIu64 "\n", names, first,
           last);
  return CLI_EXIT_FAIL;
}
