/* The runs a per-bug test loops over (tcase_add_loop_test from 0 to
 * bug_runs()): _i == 0 is the fixed driver, _i == k the k-th bug of the
 * catalogue. */
#ifndef VNETSIM_TESTS_BUG_RUNS_H
#define VNETSIM_TESTS_BUG_RUNS_H

#include <stddef.h>

#include "virtio/vbug.h"

/* The bug of run i, NULL for the fixed driver. */
static inline const vbug_info *bug_of(int i) {
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  return i > 0 && (size_t)i <= n ? &cat[i - 1] : NULL;
}

static inline int runs(void) {
  size_t n;
  vbug_catalogue(&n);
  return (int)n + 1;
}

#endif
