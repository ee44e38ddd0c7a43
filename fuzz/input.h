/* The fuzz targets read their input as a sequence of operations: each takes
 * the bytes it needs from the front, and the run ends when too few are left. */
#ifndef VNETSIM_FUZZ_INPUT_H
#define VNETSIM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

/* The next n bytes into out; 0 (nothing taken) when fewer are left. */
static inline int take(fuzz_in *in, void *out, size_t n) {
  if (in->n < n) return 0;
  memcpy(out, in->p, n);
  in->p += n;
  in->n -= n;
  return 1;
}

#endif
