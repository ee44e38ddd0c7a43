/* A fresh temporary directory per test, for the suites that write files:
 * setup() makes it, teardown() removes it. A suite defines _DEFAULT_SOURCE
 * (for mkdtemp) before any include. */
#ifndef VNETSIM_TESTS_TMPDIR_H
#define VNETSIM_TESTS_TMPDIR_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static void setup(void) {
  strcpy(tmpdir, "/tmp/vnetsim-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

#endif
