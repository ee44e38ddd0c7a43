/* The vnetsim command: subcommands and what they share. */
#ifndef VNETSIM_CLI_CMD_H
#define VNETSIM_CLI_CMD_H

#include <stdint.h>
#include <stdio.h>

#include <vnetsim/vnetsim.h>

#include "host/outfile.h"
#include "sim/scn.h"

/* Exit codes: 0 success, 1 the run itself failed, 2 bad usage or input. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

int cmd_demo(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_story(int argc, char **argv);
int cmd_bugs(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_explore(int argc, char **argv);
int cmd_teach(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* Frames the device holds for want of an RX buffer in a live run: real
 * senders' windows put thousands of frames in flight at once (200
 * connections' 64 KiB windows are ~9,000 frames), which a run should queue,
 * as QEMU's net queue does for a backend, and not drop. */
#define CLI_RUN_BACKLOG 4096u

/* bench --live (cli/cmd_bench_live.c): `rounds` alternating rounds through
 * the guest (as `run` runs it) and through plain loopback servers, each an
 * echo of `bytes` and `requests` HTTP requests `concurrency` at a time; the
 * medians, spreads and ratios. Returns a CLI exit code. */
#define BENCH_HTTP_MAX_CONCURRENCY 256
typedef struct cli_bench_live_args {
  size_t bytes;
  unsigned rounds, requests, concurrency;
  int json;
} cli_bench_live_args;
int cli_bench_live(FILE *out, const scn_config *cfg, const cli_bench_live_args *a);

/* The response the plain HTTP server sends, the guest's. */
#define BENCH_HTTP_RESPONSE_MAX 4096
typedef struct bench_http_response {
  size_t len;
  char bytes[BENCH_HTTP_RESPONSE_MAX];
} bench_http_response;
/* The plain loopback servers (cli/cmd_bench_plain.c), on the live loop:
 * echo, or HTTP answering every request head with the response it was
 * given, then closing, as the guest does. NULL: could not listen. */
typedef struct uv_loop_s uv_loop_t;
typedef struct bench_plain_server bench_plain_server;
bench_plain_server *bench_plain_start(uv_loop_t *loop, int http);
uint16_t bench_plain_port(const bench_plain_server *srv);
void bench_plain_answer_with(bench_plain_server *srv, const bench_http_response *r);
void bench_plain_close(bench_plain_server *srv); /* with the loop stopped */
/* The request rate's client (cli/cmd_bench_http.c): `requests` GETs of / to 127.0.0.1:port, each on its own connection,
 * `concurrency` at a time; each response must be a 200 and equal `expect`
 * (when expect->len is 0, the first response becomes it). The wall time
 * taken, or 0 with *why said. */
uint64_t bench_http_client(uint16_t port, unsigned requests, unsigned concurrency,
                           bench_http_response *expect, const char **why);

/* Options every simulating subcommand takes, as the library's options: the
 * command drives its simulations through the public API (include/vnetsim/). */
typedef struct cli_sim_opts {
  const char *cmd; /* subcommand name, for messages */
  vns_sim_opts sim;
  const char *trace_path;
  int json;
  int guest_ip_given, guest_mac_given; /* on the command line */
} cli_sim_opts;

/* getopt_long ids for the shared options, above any single-letter option. */
enum {
  CLI_OPT_SEED = 0x100,
  CLI_OPT_QSIZE,
  CLI_OPT_BUG,
  CLI_OPT_TRACE,
  CLI_OPT_JSON,
  CLI_OPT_BACKLOG,
  CLI_OPT_GUEST_IP,
  CLI_OPT_GUEST_MAC,
  CLI_OPT_LATENCY,
  CLI_OPT_GUEST_POLL,
  CLI_OPT_FAULT,
  CLI_OPT_MEMORY,
  CLI_OPT_RING,
  CLI_OPT_MTU,
  CLI_OPT_MERGEABLE,
  CLI_OPT_RX_BUF_SIZE,
  CLI_OPT_MAX_CONNS,
  CLI_OPT_GUEST_IP6,
  CLI_OPT_SHARED_END
};

/* The shared long options, to splice into a subcommand's table. */
#define CLI_SIM_LONG_OPTIONS                                           \
  {"seed", required_argument, NULL, CLI_OPT_SEED},                     \
      {"qsize", required_argument, NULL, CLI_OPT_QSIZE},               \
      {"bug", required_argument, NULL, CLI_OPT_BUG},                   \
      {"trace", required_argument, NULL, CLI_OPT_TRACE},               \
      {"json", no_argument, NULL, CLI_OPT_JSON},                       \
      {"backlog", required_argument, NULL, CLI_OPT_BACKLOG},           \
      {"guest-ip", required_argument, NULL, CLI_OPT_GUEST_IP},         \
      {"guest-mac", required_argument, NULL, CLI_OPT_GUEST_MAC},       \
      {"guest-ip6", required_argument, NULL, CLI_OPT_GUEST_IP6},       \
      {"latency", required_argument, NULL, CLI_OPT_LATENCY},           \
      {"guest-poll-ms", required_argument, NULL, CLI_OPT_GUEST_POLL},  \
      {"fault", required_argument, NULL, CLI_OPT_FAULT},               \
      {"memory", required_argument, NULL, CLI_OPT_MEMORY},             \
      {"ring", required_argument, NULL, CLI_OPT_RING},                 \
      {"mtu", required_argument, NULL, CLI_OPT_MTU},                   \
      {"mergeable", no_argument, NULL, CLI_OPT_MERGEABLE},             \
      {"rx-buf-size", required_argument, NULL, CLI_OPT_RX_BUF_SIZE}, { \
    "max-conns", required_argument, NULL, CLI_OPT_MAX_CONNS            \
  }

/* ", packed ring", ", mtu N", ", mergeable RX buffers of N bytes" for what
 * a run changes from the defaults ("" for none), for a command's first
 * line. */
const char *cli_ring_note(const vns_sim_opts *o);

/* "sc", "tso" or "weak" for a VNS_MEMORY_* value. */
const char *cli_memory_name(int memory);

/* Help text for the shared options. */
extern const char cli_sim_options_help[];

void cli_sim_opts_default(cli_sim_opts *o, const char *cmd);
/* After parsing: what no single option shows (the guest on the host's own
 * address). 0 or CLI_EXIT_USAGE after a one-line error. */
int cli_sim_opts_done(const cli_sim_opts *o);
/* The composition's configuration for the same options, for what the library
 * does not offer and the command runs on sim/ directly: live mode (host/), the
 * teaching walk (teach/) and the ring benchmark. Returns CLI_EXIT_USAGE after
 * a one-line error when the library refuses the options. */
int cli_scn_config(const cli_sim_opts *o, scn_config *cfg);
/* Applies one shared option as getopt_long returned it (given: the word on
 * the command line, for messages). Returns 0, or CLI_EXIT_USAGE after a
 * one-line error: a bad value, or an option that is unknown ('?') or not
 * one of the shared ones. */
int cli_sim_opt(cli_sim_opts *o, int opt, const char *arg, const char *given);

/* One-line error on stderr, "vnetsim CMD: message" ("vnetsim: message"
 * when cmd is NULL). Returns code. */
int cli_error(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parses an unsigned decimal in [min, max]; 0 or -1 when malformed. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* An address the guest can have (not 0/8, loopback, multicast, or its /24's
 * network or broadcast address), given with option opt; 0, or the usage
 * error said. */
int cli_parse_guest_ip(const char *cmd, const char *opt, const char *arg, uint32_t *ip);
/* Writes o's simulation options, one per line as --name=value, so that a
 * command given them (replay reads a recording's) runs the same model: 0,
 * or -1 when a write failed. */
int cli_write_sim_args(FILE *out, const cli_sim_opts *o);
/* What 'run --record REC' writes beside REC for replay to read: REC plus
 * this suffix. */
#define CLI_RECORDED_OPTIONS_SUFFIX ".vnetsim"
/* The longest line of such a file, and the most lines replay takes. */
#define CLI_RECORDED_LINE_MAX  1100
#define CLI_RECORDED_LINES_MAX 64

/* The --trace file: every trace event as its JSON line. */
typedef struct cli_trace {
  FILE *f; /* NULL without --trace */
  host_outfile out;
  int io_error;
} cli_trace;

/* Opens the trace file if asked and makes it the options' trace callback
 * (o->sim.trace_fn), so it sees the run from the driver's probe on. t must
 * outlive the run. 0 or CLI_EXIT_USAGE. */
int cli_open_trace(cli_sim_opts *o, cli_trace *t);
/* The same for a run on sim/ directly: fills cfg.trace_sink. */
int cli_open_trace_scn(cli_sim_opts *o, scn_config *cfg, cli_trace *t);
/* Closes it and puts it in place, reporting a write error. 0 or
 * CLI_EXIT_FAIL. */
int cli_close_trace(const char *cmd, cli_trace *t, int sink_error);
/* Closes it without putting it in place (the run did not happen): an
 * existing file of that name is left as it was. */
void cli_abort_trace(cli_trace *t);
/* A usage error unless every path given (NULL: not given) names a different
 * file: an output never overwrites the input or another output. names[i]
 * is the option that gave paths[i]. */
int cli_check_distinct(const char *cmd, const char *const *paths, const char *const *names,
                       size_t n);

/* Builds the simulation for o; 0 or CLI_EXIT_FAIL after a one-line error. */
int cli_sim_new(const cli_sim_opts *o, vns_sim **sim);
/* One counter by name (0 when the library does not know it). */
uint64_t cli_counter(const vns_sim *sim, const char *name);
/* After a finished run: 0 when every frame is accounted for, else
 * CLI_EXIT_FAIL after a one-line error saying what does not add up. */
int cli_check_accounted(const char *cmd, const vns_sim *sim);

/* A JSON string literal, quotes and escapes included. */
void cli_print_json_string(FILE *out, const char *s);

/* The conformance report: every rule broken in the run, with its spec
 * section and a one-line explanation; "no violations" when there were none. */
void cli_print_violations(FILE *out, const vns_sim *sim, const vns_sim_opts *o);
/* The same as a JSON array member value (no leading comma). */
void cli_print_violations_json(FILE *out, const vns_sim *sim);

/* The run's counters: fates, device, driver, trace; o are the options the
 * run was built with. */
void cli_print_summary(FILE *out, const vns_sim *sim, const vns_sim_opts *o);
/* The same as members of an open JSON object (no braces). */
void cli_print_summary_json(FILE *out, const vns_sim *sim, const vns_sim_opts *o);
/* "name count" for every fate some frame has, space-separated, after a space. */
void cli_print_fate_counts(FILE *out, const vns_sim *sim);

/* --- the guest as a client (cli/cmd_run_guest.c, for run and replay) ---- */

#define CLI_GUEST_MAX 32

typedef struct cli_guest {
  const char *cmd;                      /* "run" or "replay", for messages */
  const char *actions[CLI_GUEST_MAX];   /* --guest, in order */
  const char *out_paths[CLI_GUEST_MAX]; /* --guest-out for that action, or NULL */
  host_outfile outs[CLI_GUEST_MAX];
  int out_open[CLI_GUEST_MAX];
  size_t n;
  int dhcp;
  int dhcp_reported;
  size_t reported; /* actions whose result line is out */
  FILE *info;      /* where result lines go: stdout, or stderr with --json */
} cli_guest;

/* --guest ACTION and --guest-out FILE as given: 0, or CLI_EXIT_USAGE. */
/* getopt_long ids of the client options run and replay share, clear of
 * either command's own. */
enum { CLI_OPT_DHCP = CLI_OPT_SHARED_END + 0x40, CLI_OPT_GUEST, CLI_OPT_GUEST_OUT };
#define CLI_GUEST_LONG_OPTIONS                                                                    \
  {"dhcp", no_argument, NULL, CLI_OPT_DHCP}, {"guest", required_argument, NULL, CLI_OPT_GUEST}, { \
    "guest-out", required_argument, NULL, CLI_OPT_GUEST_OUT                                       \
  }
/* One of CLI_OPT_DHCP, _GUEST, _GUEST_OUT with its argument: 0, or the
 * usage error said. */
int cli_guest_opt(cli_guest *g, int opt, const char *arg);
/* Appends each --guest-out path after the first n of paths[] (names[]
 * naming them), for cli_check_distinct; the new count. */
size_t cli_guest_out_paths(const cli_guest *g, const char **paths, const char **names, size_t n);
/* Queues every action on sim through the public API and creates the
 * --guest-out files. 0, or CLI_EXIT_USAGE after a one-line error. */
int cli_guest_start(cli_guest *g, vns_sim *sim);
/* Prints the DHCP result and each action's result as they end (one line
 * each, in order). Returns 1 once there is nothing left to wait for. */
int cli_guest_report(cli_guest *g, const vns_sim *sim);
/* After the run: writes the kept bodies, and turns a failed exchange or
 * action into the exit code (0, or CLI_EXIT_FAIL after a one-line error). */
int cli_guest_finish(cli_guest *g, const vns_sim *sim);
/* Removes the --guest-out files not written (the run never happened). */
void cli_guest_abort_outs(cli_guest *g);
/* ,"dhcp":{...},"guest_actions":[...] for run's JSON object. */
void cli_guest_json(const cli_guest *g, const vns_sim *sim, FILE *out);

#endif
