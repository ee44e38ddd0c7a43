/* libvnetsim: what every public header shares.
 *
 * Conventions of the whole public API (prefix vns_):
 * - Handles are opaque and come in _new/_free pairs; the library never keeps
 *   a pointer to caller memory beyond the call unless a function says so.
 * - Calls that can fail return 0 (or a non-negative count) on success and a
 *   negative VNS_E* code on failure; vns_strerror() names it. The library
 *   never prints and never exits.
 * - Strings the library returns (fate names, rule names, trace fields) are
 *   static: valid for as long as the library is loaded, never freed.
 * - Time is virtual: nanoseconds on the simulation's own clock. Nothing
 *   reads a wall clock or an unseeded random source, so the same options and
 *   inputs give the same run, event for event.
 * - ABI: until 1.0 the library's soname carries major.minor, so a struct
 *   layout may change with the minor version and never within it. */
#ifndef VNETSIM_PUBLIC_COMMON_H
#define VNETSIM_PUBLIC_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Marks the functions the shared library exports. The library is built with
 * -fvisibility=hidden, so everything without this mark stays internal. */
#if defined(__GNUC__) || defined(__clang__)
#define VNS_API __attribute__((visibility("default")))
#else
#define VNS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: always negative, stable across versions. */
enum vns_err {
  VNS_OK = 0,
  VNS_EINVAL = -1,  /* an argument is out of its documented range */
  VNS_ENOMEM = -2,  /* host allocation failed */
  VNS_ERANGE = -3,  /* a guest-physical access falls outside guest memory */
  VNS_EAGAIN = -4,  /* nothing to do now (empty ring, no buffer) */
  VNS_ENOSPC = -5,  /* no room (ring full, guest memory exhausted) */
  VNS_EPROTO = -6,  /* the other side broke a virtio rule */
  VNS_EIO = -7,     /* a file could not be read or written */
  VNS_ENOTSUP = -8, /* valid, but not available in this configuration */
  VNS_EFORMAT = -9, /* malformed input */
  VNS_ESTATE = -10, /* not valid in the object's current state */
  VNS_ENOENT = -11, /* no such name (counter, fate, bug, event) */
  VNS_ELIMIT = -12  /* a run stopped at its event limit with events still due */
  /* no comma after the last: C++98 -pedantic refuses one */
};

/* A one-line explanation of an error code; never NULL ("unknown error"). */
VNS_API const char *vns_strerror(int err);
/* The code's symbolic name ("VNS_EINVAL"); never NULL ("VNS_E?"). */
VNS_API const char *vns_errname(int err);

/* run "until idle": no time limit */
#define VNS_TIME_IDLE UINT64_MAX
/* The latest virtual time an input may be scheduled at (2^63 - 1 ns, 292
 * years): past it, vns_sim_inject() refuses the frame and a captured frame
 * gets the fate "bad_timestamp". Latencies and timeouts added to any time
 * up to it cannot wrap the clock. */
#define VNS_TIME_MAX ((uint64_t)INT64_MAX)

/* A modelled latency: every use draws uniformly from [min_ns, max_ns] with
 * the run's seeded PRNG; min_ns == max_ns makes it fixed. */
typedef struct vns_latency {
  uint64_t min_ns, max_ns;
} vns_latency;

/* The simulation: one guest (memory, a virtio-net device, its driver) and the
 * host beside it. Defined in vnetsim/sim.h. */
typedef struct vns_sim vns_sim;

#ifdef __cplusplus
}
#endif

#endif
