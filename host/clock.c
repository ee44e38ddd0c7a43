/* libuv's headers need POSIX types that strict C11 hides. */
#define _POSIX_C_SOURCE 200809L

#include "host/clock.h"

#include <uv.h>

/* libuv's portable monotonic clock (the same one the live runtime runs on). */
uint64_t host_wallclock_ns(void) { return uv_hrtime(); }
