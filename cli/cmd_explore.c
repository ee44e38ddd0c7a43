#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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
    "dev-used-event-equal) show in some seeds only; the missing-barrier bugs need\n"
    "--memory tso or weak as well ('vnetsim bugs' says which). --bug none with\n"
    "--memory tso or weak runs the correct models under that model against sc:\n"
    "a seed that differs would be a barrier missing from vnetsim itself.\n"
    "Exit status 0 when a seed shows the bug, 1 when none in the range does.\n"
    "\n"
    "Seeds run in parallel worker processes; the answer is still the first seed\n"
    "in order, and the output the same as with --jobs 1.\n"
    "\n"
    "  --seeds A..B     the seeds to try, inclusive (at most 100000 of them)\n"
    "  --bursts N       bursts per run (1..10000, default 40)\n"
    "  --jobs N         worker processes (1..1024, default: the online CPUs)\n"
    "  --shard K/N      only the seeds S with (S - A) %% N == K - 1, for one of N machines;\n"
    "                   prints one JSON line (the --json answer with \"shard\":\"K/N\"):\n"
    "                   of the lines of all N shards, the found one with the lowest seed\n"
    "                   is the answer for A..B, and none found means none shows\n"
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
  uint64_t tx_counts[VNS_FATE_SLOTS]; /* the guest->host ledger's */
  uint64_t frames_out, trace_hash, violations;
  vns_violation first; /* the first rule broken, when violations */
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
  for (size_t f = 0; vns_fate_name(f); f++) {
    vns_sim_fate_count(sim, vns_fate_name(f), &out->counts[f]);
    vns_sim_tx_fate_count(sim, vns_fate_name(f), &out->tx_counts[f]);
  }
  out->frames_out = cli_counter(sim, "host.frames_received");
  out->violations = cli_counter(sim, "violations");
  if (out->violations) vns_sim_violation(sim, 0, &out->first);
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

#define EXPLORE_MAX_JOBS 1024

typedef struct explore_args {
  cli_sim_opts o;
  uint64_t first, last, bursts, jobs;
  uint64_t shard_k, shard_n; /* 1/1 when not sharded */
  char names[512];
} explore_args;

/* The seeds this run tries: start, start + step, ... up to last. */
static uint64_t explore_seed_count(const explore_args *a) {
  uint64_t start = a->first + (a->shard_k - 1);
  return start > a->last ? 0 : (a->last - start) / a->shard_n + 1;
}

static uint64_t explore_seed_at(const explore_args *a, uint64_t i) {
  return a->first + (a->shard_k - 1) + i * a->shard_n;
}

static int explore_parse_shard(const char *s, uint64_t *k, uint64_t *n) {
  const char *slash = strchr(s, '/');
  char num[32];
  size_t len = slash ? (size_t)(slash - s) : 0;
  if (len == 0 || len >= sizeof num) return -1;
  memcpy(num, s, len);
  num[len] = '\0';
  if (cli_parse_uint(slash + 1, 1, 100000, n) || cli_parse_uint(num, 1, *n, k)) return -1;
  return 0;
}

static int explore_parse(int argc, char **argv, explore_args *a) {
  static const struct option longopts[] = {{"seeds", required_argument, NULL, 's'},
                                           {"bursts", required_argument, NULL, 'n'},
                                           {"jobs", required_argument, NULL, 'j'},
                                           {"shard", required_argument, NULL, 'k'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts_default(&a->o, "explore");
  a->bursts = 40;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  a->jobs = cpus < 1 ? 1 : cpus > EXPLORE_MAX_JOBS ? EXPLORE_MAX_JOBS : (uint64_t)cpus;
  a->shard_k = a->shard_n = 1;
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
      case 'j':
        if (cli_parse_uint(optarg, 1, EXPLORE_MAX_JOBS, &a->jobs))
          return cli_error("explore", CLI_EXIT_USAGE, "--jobs: '%s' is not a number from 1 to %d",
                           optarg, EXPLORE_MAX_JOBS);
        break;
      case 'k':
        if (explore_parse_shard(optarg, &a->shard_k, &a->shard_n))
          return cli_error("explore", CLI_EXIT_USAGE,
                           "--shard: '%s' is not K/N with 1 <= K <= N <= 100000", optarg);
        a->o.json = 1; /* a shard's answer is a line for the merge */
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
  if (!a->o.sim.driver_bugs && !a->o.sim.device_bugs && a->o.sim.memory == VNS_MEMORY_SC)
    return cli_error("explore", CLI_EXIT_USAGE,
                     "missing --bug: which bug to look for? (--bug none needs --memory tso or "
                     "weak: the correct models under it against sc)");
  if (vns_bug_names(a->o.sim.driver_bugs, a->o.sim.device_bugs, a->names, sizeof a->names) < 0)
    strcpy(a->names, "?");
  return cli_sim_opts_done(&a->o);
}

/* A JSON answer's start; a shard's carries which shard it is. */
static void explore_print_json_head(const explore_args *a) {
  printf("{\"command\":\"explore\",");
  if (a->shard_n > 1) printf("\"shard\":\"%" PRIu64 "/%" PRIu64 "\",", a->shard_k, a->shard_n);
}

/* Whose rule the named one is ("driver" or "device"). */
static const char *explore_rule_side(const char *rule) {
  vns_rule_info r;
  for (size_t i = 0; vns_rule_describe(i, &r) == 0; i++)
    if (!strcmp(r.name, rule)) return r.side;
  return "?";
}

static void explore_print_found(const explore_args *a, uint64_t seed, int64_t diff,
                                const explore_outcome *of, const explore_outcome *ob, int exact) {
  if (a->o.json) {
    explore_print_json_head(a);
    printf("\"bugs\":\"%s\",\"found\":true,\"seed\":%" PRIu64 ",\"frame\":%" PRId64
           ",\"fixed_fate\":\"%s\",\"buggy_fate\":\"%s\","
           "\"frames_out_fixed\":%" PRIu64 ",\"frames_out_buggy\":%" PRIu64
           ",\"trace_hash\":\"%016" PRIx64 "\",\"reproduced\":%s",
           a->names, seed, diff >= 0 ? diff + 1 : -1, diff >= 0 ? of->fates[diff] : "",
           diff >= 0 ? ob->fates[diff] : "", of->frames_out, ob->frames_out, ob->trace_hash,
           exact ? "true" : "false");
    if (a->o.sim.memory != VNS_MEMORY_SC)
      printf(",\"memory\":\"%s\"", cli_memory_name(a->o.sim.memory));
    printf("}\n");
    return;
  }
  printf("vnetsim explore: %s shows at seed %" PRIu64 " (seeds %" PRIu64 "..%" PRIu64
         " tried up to it)\n",
         a->names, seed, a->first, seed);
  /* --bug none compares the correct models under the memory model with sc */
  int vs_sc = !a->o.sim.driver_bugs && !a->o.sim.device_bugs;
  const char *model = cli_memory_name(a->o.sim.memory);
  if (diff >= 0 && vs_sc)
    printf("  frame %" PRId64 ": under sc %s, under %s %s\n", diff + 1, of->fates[diff], model,
           ob->fates[diff]);
  else if (diff >= 0)
    printf("  frame %" PRId64 ": fixed driver %s, buggy %s\n", diff + 1, of->fates[diff],
           ob->fates[diff]);
  printf("  frames back at the host: fixed %" PRIu64 ", buggy %" PRIu64
         "; rules broken: fixed %" PRIu64 ", buggy %" PRIu64 "\n",
         of->frames_out, ob->frames_out, of->violations, ob->violations);
  if (ob->violations)
    printf("  first rule broken: %s (\u00a7%s, the %s's), noticed by the %s, head %" PRId64 "\n",
           ob->first.rule, ob->first.section, explore_rule_side(ob->first.rule), ob->first.actor,
           ob->first.head);
  printf("  guest->host fates (fixed -> buggy):");
  for (size_t i = 1; vns_fate_name(i); i++)
    if (of->tx_counts[i] != ob->tx_counts[i])
      printf(" %s %" PRIu64 "->%" PRIu64, vns_fate_name(i), of->tx_counts[i], ob->tx_counts[i]);
  printf("\n");
  printf("  fates (fixed -> buggy):");
  for (size_t i = 1; vns_fate_name(i); i++)
    if (of->counts[i] != ob->counts[i])
      printf(" %s %" PRIu64 "->%" PRIu64, vns_fate_name(i), of->counts[i], ob->counts[i]);
  printf("\n  reproduced exactly from the seed: %s (trace hash %016" PRIx64 ")\n",
         exact ? "yes" : "NO", ob->trace_hash);
  printf("  again: vnetsim explore --bug %s --qsize %u --backlog %u --bursts %" PRIu64
         " --seeds %" PRIu64 "..%" PRIu64 "%s%s%s\n",
         a->names, a->o.sim.queue_size, a->o.sim.rx_backlog, a->bursts, seed, seed,
         a->o.sim.memory != VNS_MEMORY_SC ? " --memory " : "",
         a->o.sim.memory != VNS_MEMORY_SC ? model : "",
         a->o.sim.ring == VNS_RING_PACKED ? " --ring packed" : "");
}

/* Runs one seed both ways: 1 when the bug shows, 0 when not, or a negative
 * VNS_* error. With report, a seed that shows is run once more to check it
 * reproduces, and printed (2 instead of 1 when it did not reproduce). */
static int explore_seed(const explore_args *a, uint64_t seed, int report) {
  vns_sim_opts buggy = a->o.sim, fixed = a->o.sim;
  buggy.seed = fixed.seed = seed;
  fixed.driver_bugs = fixed.device_bugs = 0;
  /* --bug none: the correct models under tso or weak against sc, which must
   * not differ */
  if (!buggy.driver_bugs && !buggy.device_bugs) fixed.memory = VNS_MEMORY_SC;
  unsigned bursts = (unsigned)a->bursts;
  explore_outcome ob, of, again;
  int rc = explore_run(&buggy, bursts, &ob);
  if (!rc) rc = explore_run(&fixed, bursts, &of);
  int64_t diff = rc ? -1 : explore_first_difference(&of, &ob);
  /* a host->guest frame's fate, the frames out, a guest->host fate count, or
   * a broken rule: any of them tells the two apart */
  int shows =
      !rc && (diff >= 0 || ob.frames_out != of.frames_out || ob.violations != of.violations ||
              memcmp(ob.tx_counts, of.tx_counts, sizeof ob.tx_counts));
  if (shows && !report) {
    rc = 1;
  } else if (shows) {
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

/* What a scan of the seeds came to: the first seed, in order, that shows
 * the bug or fails, if any. */
typedef struct explore_scan {
  int found; /* 1: seed shows the bug, or failed with rc */
  uint64_t seed;
  int rc; /* explore_seed's answer for seed */
} explore_scan;

static void explore_scan_serial(const explore_args *a, explore_scan *sc) {
  uint64_t n = explore_seed_count(a);
  for (uint64_t i = 0; i < n; i++) {
    int rc = explore_seed(a, explore_seed_at(a, i), 0);
    if (rc) {
      *sc = (explore_scan){1, explore_seed_at(a, i), rc};
      return;
    }
  }
}

/* A worker's report on a run of its seeds, indices from, from + jobs, ...
 * up to last: all clean but the last, whose answer is rc. Smaller than
 * PIPE_BUF, so the reports of all workers on the one pipe never interleave. */
typedef struct explore_msg {
  uint64_t from, last;
  int64_t rc;
} explore_msg;

/* Seeds per report: fewer wake-ups of the collector, and a worker is at
 * most this many seeds late in telling it that an earlier answer stands. */
#define EXPLORE_BATCH 16

/* A worker takes every jobs-th seed from its own, in order, and stops at
 * the first that shows or fails: nothing after it can be the answer. */
static void explore_worker(const explore_args *a, uint64_t w, uint64_t jobs, int fd) {
  uint64_t n = explore_seed_count(a);
  explore_msg m = {w, w, 0};
  for (uint64_t i = w, k = 1; i < n; i += jobs, k++) {
    m.last = i;
    m.rc = explore_seed(a, explore_seed_at(a, i), 0);
    if (m.rc || k % EXPLORE_BATCH == 0 || i + jobs >= n) {
      if (write(fd, &m, sizeof m) != (ssize_t)sizeof m || m.rc) break;
      m.from = i + jobs;
    }
  }
  _exit(0);
}

#define EXPLORE_UNKNOWN INT64_MIN

/* Reads reports until the first unresolved seed in order is resolved and
 * not clean, or every seed is clean. VNS_EIO when the workers ended (a
 * crash) with a seed unreported. */
static int explore_collect_reports(const explore_args *a, uint64_t jobs, int fd, int64_t *rcs,
                                   explore_scan *sc) {
  uint64_t n = explore_seed_count(a), next = 0;
  while (next < n) {
    if (rcs[next] == 0) {
      next++;
      continue;
    }
    if (rcs[next] != EXPLORE_UNKNOWN) {
      *sc = (explore_scan){1, explore_seed_at(a, next), (int)rcs[next]};
      return 0;
    }
    explore_msg m;
    ssize_t got = read(fd, &m, sizeof m);
    if (got < 0 && errno == EINTR) continue;
    if (got != (ssize_t)sizeof m || m.last >= n || m.from > m.last) return VNS_EIO;
    for (uint64_t i = m.from; i < m.last; i += jobs) rcs[i] = 0;
    rcs[m.last] = m.rc;
  }
  return 0;
}

/* Forks the workers, collects their reports into sc, then stops the ones
 * still running (those this call started, by pid) and reaps them all. */
static int explore_scan_parallel(const explore_args *a, uint64_t jobs, explore_scan *sc) {
  uint64_t n = explore_seed_count(a);
  int64_t *rcs = malloc(n * sizeof *rcs);
  pid_t *pids = calloc(jobs, sizeof *pids);
  int fds[2] = {-1, -1}, rc = 0;
  if (!rcs || !pids || pipe(fds)) rc = VNS_ENOMEM;
  for (uint64_t i = 0; !rc && i < n; i++) rcs[i] = EXPLORE_UNKNOWN;
  fflush(NULL); /* nothing buffered may be written twice */
  uint64_t started = 0;
  for (; !rc && started < jobs; started++) {
    pids[started] = fork();
    if (pids[started] < 0) rc = VNS_ENOMEM;
    if (pids[started] == 0) {
      close(fds[0]);
      explore_worker(a, started, jobs, fds[1]);
    }
  }
  if (fds[1] >= 0) close(fds[1]);
  if (!rc) rc = explore_collect_reports(a, jobs, fds[0], rcs, sc);
  for (uint64_t w = 0; w < started; w++)
    if (pids[w] > 0) kill(pids[w], SIGKILL);
  for (uint64_t w = 0; w < started; w++)
    if (pids[w] > 0) waitpid(pids[w], NULL, 0);
  if (fds[0] >= 0) close(fds[0]);
  free(rcs);
  free(pids);
  return rc;
}

int cmd_explore(int argc, char **argv) {
  explore_args a;
  int rc = explore_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  explore_scan sc = {0, 0, 0};
  uint64_t n = explore_seed_count(&a), jobs = a.jobs < n ? a.jobs : n;
  if (jobs > 1) {
    rc = explore_scan_parallel(&a, jobs, &sc);
    if (rc)
      return cli_error("explore", CLI_EXIT_FAIL, "parallel workers failed: %s", vns_strerror(rc));
  } else {
    explore_scan_serial(&a, &sc);
  }
  /* the answer is run again here, as a serial run would have, to report it */
  if (sc.found && sc.rc > 0) rc = explore_seed(&a, sc.seed, 1);
  if (sc.found && sc.rc < 0) rc = sc.rc;
  if (rc < 0)
    return cli_error("explore", CLI_EXIT_FAIL, "seed %" PRIu64 ": %s", sc.seed, vns_strerror(rc));
  if (sc.found) return rc == 1 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
  if (a.o.json) {
    explore_print_json_head(&a);
    printf("\"bugs\":\"%s\",\"found\":false,\"first\":%" PRIu64 ",\"last\":%" PRIu64 "}\n", a.names,
           a.first, a.last);
  } else {
    printf("vnetsim explore: %s does not show in seeds %" PRIu64 "..%" PRIu64 "\n", a.names,
           a.first, a.last);
  }
  return CLI_EXIT_FAIL;
}
