#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"

static const char usage[] =
    "usage: vnetsim [COMMAND] [OPTIONS]\n"
    "\n"
    "A virtio-net device and the guest driver that talks to it, simulated in one\n"
    "process over shared guest memory, deterministically from a seed.\n"
    "\n"
    "commands:\n"
    "  demo      (the default) the host ARPs for and pings the guest through the\n"
    "            device's RX ring; the guest answers through TX; prints what happened\n"
    "  replay    inject a pcap/pcapng capture into the guest; write what it sends\n"
    "  bench     frames per second through the RX path against a bare ring loop\n"
    "  story     the Redox virtio-netd bugs against the fixed driver, side by side\n"
    "  bugs      every ring bug switch: cause, symptom, fix, spec section\n"
    "  rules     every rule the device and driver halves check: name, section, side\n"
    "  explore   run many seeds with a bug; report the first seed that shows it\n"
    "  teach     step through the rings as they change, each step tied to the spec\n"
    "  run       the guest live behind libslirp: nc/curl it through forwarded ports\n"
    "\n"
    "'vnetsim COMMAND --help' explains a command's options.\n"
    "Exit status: 0 success, 1 the run failed, 2 bad usage or input.\n";

static int dispatch(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      fputs(usage, stdout);
      return CLI_EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
      puts("vnetsim 0.1.0");
      return CLI_EXIT_OK;
    }
    return cmd_demo(argc, argv);
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "demo")) return cmd_demo(argc - 1, argv + 1);
  if (!strcmp(cmd, "replay")) return cmd_replay(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "story")) return cmd_story(argc - 1, argv + 1);
  if (!strcmp(cmd, "bugs")) return cmd_bugs(argc - 1, argv + 1);
  if (!strcmp(cmd, "rules")) return cmd_rules(argc - 1, argv + 1);
  if (!strcmp(cmd, "explore")) return cmd_explore(argc - 1, argv + 1);
  if (!strcmp(cmd, "teach")) return cmd_teach(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return CLI_EXIT_OK;
  }
  return cli_error(NULL, CLI_EXIT_USAGE, "unknown command '%s' (try 'vnetsim --help')", cmd);
}

/* Every line the command printed must have reached its reader: a full disk
 * or a closed pipe is a failed run, not a silent truncation. */
int main(int argc, char **argv) {
  int rc = dispatch(argc, argv);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "vnetsim: writing the output failed\n");
    return rc ? rc : CLI_EXIT_FAIL;
  }
  return rc;
}
