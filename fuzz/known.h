/* Oracles that a defect already on file trips.
 *
 * They abort like any oracle, so run.sh and CI report the defect until it is
 * fixed. To measure a target or look for other defects meanwhile, set
 * VNETSIM_FUZZ_KNOWN=ignore: the run then goes on past these (and only
 * these) checks. The inputs that trip them are in fuzz/crashes-found/. */
#ifndef VNETSIM_FUZZ_KNOWN_H
#define VNETSIM_FUZZ_KNOWN_H

#include <stdlib.h>
#include <string.h>

/* Aborts when broken, unless known defects are to be ignored. */
static inline void fuzz_known_defect(int broken) {
  static int ignore = -1;
  if (!broken) return;
  if (ignore < 0) {
    const char *v = getenv("VNETSIM_FUZZ_KNOWN");
    ignore = v && strcmp(v, "ignore") == 0;
  }
  if (!ignore) abort();
}

#endif
