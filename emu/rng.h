/* The run's one source of randomness: seeded, portable, documented.
 *
 * Algorithm: xoshiro256** (Blackman & Vigna, 2018), state seeded by four
 * outputs of splitmix64 from the 64-bit seed. The same seed gives the same
 * sequence on every platform, which is what makes a trace reproducible. */
#ifndef VNETSIM_EMU_RNG_H
#define VNETSIM_EMU_RNG_H

#include <stdint.h>

typedef struct emu_rng {
  uint64_t s[4];
} emu_rng;

void emu_rng_init(emu_rng *r, uint64_t seed);
uint64_t emu_rng_next(emu_rng *r);
/* Uniform in [lo, hi] (inclusive, unbiased); lo when hi <= lo. */
uint64_t emu_rng_range(emu_rng *r, uint64_t lo, uint64_t hi);

#endif
