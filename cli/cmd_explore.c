#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"

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

/* What one run of the burst workload came to. */
typedef struct explore_outcome {
  size_t nframes;
  const char **fates; /* frame i's fate name */
  uint64_t counts[VNS_FATE_SLOTS];
  uint64_t frames_out, trace_hash;
} explore_outcome;

static void explore_outcome_free(explore_outcome *out) {
  free(out->fates);
  memset(out, 0, sizeof *out);
}

static int explore_collect(const vns_sim *sim, explore_outcome *out) {
  out->nframes = vns_sim_frame_count(sim);
  out->fates = calloc(out->nframes ? out->nframes : 1, sizeof *out->fates);
  if (!out->fates) return VNS_ENOMEM;
  for (size_t i = 0; i < out->nframes; i++) out->fates[i] = vns_sim_frame_fate(sim, i);
  for (size_t f = 0; vns_fate_name(f); f++)
    vns_sim_fate_count(sim, vns_fate_name(f), &out->counts[f]);
  out->frames_out = cli_counter(sim, "host.frames_received");
  out->trace_hash = vns_sim_trace_hash(sim);
  return 0;
}

static int explore_run(const vns_sim_opts *o, unsigned bursts, explore_outcome *out) {
  memset(out, 0, sizeof *out);
  vns_sim *sim;
  int rc = vns_sim_new(o, &sim);
  if (rc) return rc;
  rc = vns_sim_inject_bursts(sim, o->seed, bursts);
  int64_t ran = rc ? rc : vns_sim_run(sim, VNS_TIME_IDLE);
  if (ran < 0) rc = (int)ran;
  if (!rc) rc = vns_sim_finish(sim);
  if (!rc) rc = explore_collect(sim, out);
  vns_sim_free(sim);
  return rc;
}

/* The first frame whose fate differs, the shorter run's length when one run
 * has more frames, or -1 when they agree. */
static int64_t explore_first_difference(const explore_outcome *a, const explore_outcome *b) {
  size_t n = a->nframes < b->nframes ? a->nframes : b->nframes;
  for (size_t i = 0; i < n; i++)
    if (strcmp(a->fates[i], b->fates[i])) return (int64_t)i;
  return a->nframes == b->nframes ? -1 : (int64_t)n;
}

typedef struct explore_args {
  cli_sim_opts o;
  uint64_t first, last, bursts;
  char names[512];
} explore_args;

static int explore_parse(int argc, char **argv, explore_args *a) {
  static const struct option longopts[] = {{"seeds", required_argument, NULL, 's'},
                                           {"bursts", required_argument, NULL, 'n'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts_default(&a->o, "explore");
  a->bursts = 40;
  int have_seeds = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        printf(explore_usage, cli_sim_options_help);
        return -1;
      case 's':
        if (explore_parse_seeds(optarg, &a->first, &a->last))
          return cli_error("explore", CLI_EXIT_USAGE,
                           "--seeds: '%s' is not a range A..B of at most 100000 seeds", optarg);
        have_seeds = 1;
        break;
      case 'n':
        if (cli_parse_uint(optarg, 1, 10000, &a->bursts))
          return cli_error("explore", CLI_EXIT_USAGE,
                           "--bursts: '%s' is not a number from 1 to 10000", optarg);
        break;
      case CLI_OPT_TRACE:
      case CLI_OPT_SEED:
        return cli_error("explore", CLI_EXIT_USAGE,
                         "%s: explore chooses the seeds itself; use --seeds A..B",
                         c == CLI_OPT_SEED ? "--seed" : "--trace");
      default: {
        int rc = cli_sim_opt(&a->o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("explore", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!have_seeds) return cli_error("explore", CLI_EXIT_USAGE, "missing --seeds A..B");
  if (!a->o.sim.driver_bugs && !a->o.sim.device_bugs)
    return cli_error("explore", CLI_EXIT_USAGE, "missing --bug: which bug to look for?");
  if (vns_bug_names(a->o.sim.driver_bugs, a->o.sim.device_bugs, a->names, sizeof a->names) < 0)
    strcpy(a->names, "?");
  return cli_sim_opts_done(&a->o);
}

static void explore_print_found(const explore_args *a, uint64_t seed, int64_t diff,
                                const explore_outcome *of, const explore_outcome *ob, int exact) {
  if (a->o.json) {
    printf("{\"command\":\"explore\",\"bugs\":\"%s\",\"found\":true,\"seed\":%" PRIu64
           ",\"frame\":%" PRId64
           ",\"fixed_fate\":\"%s\",\"buggy_fate\":\"%s\","
           "\"frames_out_fixed\":%" PRIu64 ",\"frames_out_buggy\":%" PRIu64
           ",\"trace_hash\":\"%016" PRIx64 "\",\"reproduced\":%s}\n",
           a->names, seed, diff >= 0 ? diff + 1 : -1, diff >= 0 ? of->fates[diff] : "",
           diff >= 0 ? ob->fates[diff] : "", of->frames_out, ob->frames_out, ob->trace_hash,
           exact ? "true" : "false");
    return;
  }
  printf("vnetsim explore: %s shows at seed %" PRIu64 " (seeds %" PRIu64 "..%" PRIu64
         " tried up to it)\n",
         a->names, seed, a->first, seed);
  if (diff >= 0)
    printf("  frame %" PRId64 ": fixed driver %s, buggy %s\n", diff + 1, of->fates[diff],
           ob->fates[diff]);
  printf("  frames back at the host: fixed %" PRIu64 ", buggy %" PRIu64 "\n", of->frames_out,
         ob->frames_out);
  printf("  fates (fixed -> buggy):");
  for (size_t i = 1; vns_fate_name(i); i++)
    if (of->counts[i] != ob->counts[i])
      printf(" %s %" PRIu64 "->%" PRIu64, vns_fate_name(i), of->counts[i], ob->counts[i]);
  printf("\n  reproduced exactly from the seed: %s (trace hash %016" PRIx64 ")\n",
         exact ? "yes" : "NO", ob->trace_hash);
  printf("  again: vnetsim explore --bug %s --qsize %u --backlog %u --bursts %" PRIu64
         " --seeds %" PRIu64 "..%" PRIu64 "\n",
         a->names, a->o.sim.queue_size, a->o.sim.rx_backlog, a->bursts, seed, seed);
}

/* Runs one seed both ways: 1 when the bug shows (printed), 0 when not, or
 * a negative VNS_* error. */
static int explore_seed(const explore_args *a, uint64_t seed) {
  vns_sim_opts buggy = a->o.sim, fixed = a->o.sim;
  buggy.seed = fixed.seed = seed;
  fixed.driver_bugs = fixed.device_bugs = 0;
  unsigned bursts = (unsigned)a->bursts;
  explore_outcome ob, of, again;
  int rc = explore_run(&buggy, bursts, &ob);
  if (!rc) rc = explore_run(&fixed, bursts, &of);
  int64_t diff = rc ? -1 : explore_first_difference(&of, &ob);
  int shows = !rc && (diff >= 0 || ob.frames_out != of.frames_out);
  if (shows) {
    /* the seed is the whole reproduction: a second run must match exactly */
    int exact = explore_run(&buggy, bursts, &again) == 0 && again.trace_hash == ob.trace_hash;
    explore_outcome_free(&again);
    explore_print_found(a, seed, diff, &of, &ob, exact);
    rc = exact ? 1 : 2;
  }
  explore_outcome_free(&ob);
  explore_outcome_free(&of);
  return rc;
}

int cmd_explore(int argc, char **argv) {
  explore_args a;
  int rc = explore_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  for (uint64_t seed = a.first;; seed++) {
    rc = explore_seed(&a, seed);
    if (rc < 0)
      return cli_error("explore", CLI_EXIT_FAIL, "seed %" PRIu64 ": %s", seed, vns_strerror(rc));
    if (rc > 0) return rc == 1 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (seed == a.last) break;
  }
  if (a.o.json)
    printf("{\"command\":\"explore\",\"bugs\":\"%s\",\"found\":false,\"first\":%" PRIu64
           ",\"last\":%" PRIu64 "}\n",
           a.names, a.first, a.last);
  else
    printf("vnetsim explore: %s does not show in seeds %" PRIu64 "..%" PRIu64 "\n", a.names,
           a.first, a.last);
  return CLI_EXIT_FAIL;
}
