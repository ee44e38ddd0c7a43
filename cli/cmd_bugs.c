#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"

static const char bugs_usage[] =
    "usage: vnetsim bugs [--json]\n"
    "\n"
    "Lists every ring bug vnetsim can switch on with --bug: its name, whether it\n"
    "lives in the driver or the device, its cause, its symptom, the fix, and the\n"
    "virtio 1.2 section it breaks. 'redox' names the original Redox driver's\n"
    "three: rx-no-recycle, rx-last-only, rx-no-irq-wake. A missing barrier shows\n"
    "only under a weaker memory model (--memory tso or weak): its entry says\n"
    "which, and in which project it was found. With --json, \"memory\" is the\n"
    "weakest model that shows each (\"sc\": any).\n";

static void bugs_print_one(const vns_bug_info *b, size_t i, int json) {
  if (json) {
    printf("%s{\"name\":\"%s\",\"side\":\"%s\",\"cause\":", i ? "," : "", b->name, b->side);
    cli_print_json_string(stdout, b->cause);
    printf(",\"symptom\":");
    cli_print_json_string(stdout, b->symptom);
    printf(",\"fix\":");
    cli_print_json_string(stdout, b->fix);
    /* "memory": the weakest model that shows it ("sc": any) */
    printf(",\"section\":\"%s\",\"redox\":%s,\"memory\":\"%s\"", b->section,
           b->redox ? "true" : "false", b->memory ? b->memory : "sc");
    if (b->found_in) {
      printf(",\"found_in\":");
      cli_print_json_string(stdout, b->found_in);
    }
    printf(",\"packed\":");
    cli_print_json_string(stdout, b->packed);
    printf("}");
  } else {
    printf("%s%s (%s%s, virtio 1.2 §%s)\n  cause:   %s\n  symptom: %s\n  fix:     %s\n",
           i ? "\n" : "", b->name, b->side, b->redox ? ", Redox virtio-netd" : "", b->section,
           b->cause, b->symptom, b->fix);
    if (b->memory)
      printf("  shows:   under --memory %s%s only (a missing barrier)\n", b->memory,
             strcmp(b->memory, "tso") ? "" : " or weak");
    if (b->found_in) printf("  origin:  %s\n", b->found_in);
    printf("  packed:  %s\n", b->packed);
  }
}

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
  if (json) printf("[");
  vns_bug_info b;
  for (size_t i = 0; vns_bug_describe(i, &b) == 0; i++) bugs_print_one(&b, i, json);
  if (json) printf("]\n");
  return CLI_EXIT_OK;
}

static const char rules_usage[] =
    "usage: vnetsim rules [--json | --markdown]\n"
    "\n"
    "Lists every virtio rule vnetsim checks, from its rule table: the name a\n"
    "violation carries, the virtio 1.2 section it comes from, whose rule it is\n"
    "(the driver's, checked by the device half; or the device's, checked by the\n"
    "driver half or by the device helpers on the device's own pushes), and one\n"
    "line on what breaks it. --markdown prints the table the README carries.\n";

static void rules_print_one(const vns_rule_info *r, size_t i, int json, int markdown) {
  if (json) {
    printf("%s{\"name\":\"%s\",\"section\":\"%s\",\"side\":\"%s\",\"text\":", i ? "," : "", r->name,
           r->section, r->side);
    cli_print_json_string(stdout, r->text);
    printf("}");
  } else if (markdown) {
    printf("| `%s` | §%s | %s | %s |\n", r->name, r->section, r->side, r->text);
  } else {
    printf("%-24s §%-10s %-7s %s\n", r->name, r->section, r->side, r->text);
  }
}

int cmd_rules(int argc, char **argv) {
  int json = 0, markdown = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (!strcmp(argv[i], "--markdown")) {
      markdown = 1;
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(rules_usage, stdout);
      return CLI_EXIT_OK;
    } else {
      return cli_error("rules", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[i]);
    }
  }
  if (json && markdown) return cli_error("rules", CLI_EXIT_USAGE, "--json or --markdown, not both");
  if (json) printf("[");
  if (markdown) printf("| rule | section | whose | broken when |\n| --- | --- | --- | --- |\n");
  vns_rule_info r;
  for (size_t i = 0; vns_rule_describe(i, &r) == 0; i++) rules_print_one(&r, i, json, markdown);
  if (json) printf("]\n");
  return fflush(stdout) || ferror(stdout) ? cli_error("rules", CLI_EXIT_FAIL, "writing: failed")
                                          : CLI_EXIT_OK;
}
