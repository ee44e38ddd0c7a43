/* Runs the built vnetsim command as a user does, for the suites that test
 * it: each test gets a fresh temporary directory; run() leaves the
 * command's standard output and error in out_buf and err_buf. A suite
 * defines _DEFAULT_SOURCE (for mkdtemp) before any include. */
#ifndef VNETSIM_TESTS_CLI_RUN_H
#define VNETSIM_TESTS_CLI_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/tmpdir.h"

static char out_buf[1 << 16], err_buf[1 << 12];

static size_t slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = 0;
  if (f) {
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  return n;
}

/* Runs "vnetsim ARGS" with stdin closed; returns its exit status and leaves
 * stdout and stderr in out_buf and err_buf. */
static int run(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cd %s && '%s' %s >%s/out 2>%s/err </dev/null", VNETSIM_CAPTURES_DIR,
           VNETSIM_BIN, args, tmpdir, tmpdir);
  int st = system(cmd);
  char path[128];
  snprintf(path, sizeof path, "%s/out", tmpdir);
  slurp(path, out_buf, sizeof out_buf);
  snprintf(path, sizeof path, "%s/err", tmpdir);
  slurp(path, err_buf, sizeof err_buf);
  ck_assert_msg(WIFEXITED(st), "'%s' did not exit normally", args);
  return WEXITSTATUS(st);
}

#endif
