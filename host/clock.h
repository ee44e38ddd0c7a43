/* The wall clock, for benchmarks only. Simulation code uses virtual time
 * (emu_sched.now_ns); this is the one place vnetsim reads real time. */
#ifndef VNETSIM_HOST_CLOCK_H
#define VNETSIM_HOST_CLOCK_H

#include <stdint.h>

/* Monotonic wall-clock nanoseconds, from an arbitrary origin. */
uint64_t host_wallclock_ns(void);

#endif
