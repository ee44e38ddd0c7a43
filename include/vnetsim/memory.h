/* Guest memory: the only thing a driver and a device share.
 *
 * A contiguous guest-physical range whose base is never 0 (so a zero address
 * a buggy driver writes is always out of range). Every access is
 * bounds-checked: an access outside the range returns VNS_ERANGE and copies
 * nothing. Multi-byte values are little-endian in guest memory (virtio 1.2
 * §2.4), whatever the host's byte order. No host pointer into guest memory
 * is ever handed out. Memory belongs to the sim and goes with vns_sim_free().
 * A driver or device you bring uses these to write rings by hand; the ring
 * helpers in vnetsim/driver.h and vnetsim/device.h use them too. */
#ifndef VNETSIM_PUBLIC_MEMORY_H
#define VNETSIM_PUBLIC_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "vnetsim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates len zeroed bytes aligned to align (a power of two) and stores the
 * guest-physical address in *gpa. There is no free: rings and buffers live
 * as long as the guest. VNS_EINVAL for a NULL argument, len 0 or a bad
 * alignment; VNS_ENOSPC when guest memory is exhausted (vns_sim_opts
 * mem_size sets its size). */
VNS_API int vns_mem_alloc(vns_sim *sim, uint64_t len, uint64_t align, uint64_t *gpa);
/* Copies between guest memory and a host buffer. VNS_ERANGE when any byte
 * of [gpa, gpa + len) is outside guest memory, VNS_EINVAL for NULL. */
VNS_API int vns_mem_read(const vns_sim *sim, uint64_t gpa, void *dst, size_t len);
VNS_API int vns_mem_write(vns_sim *sim, uint64_t gpa, const void *src, size_t len);
/* Little-endian scalars; on error *out is left untouched. */
VNS_API int vns_mem_read_le16(const vns_sim *sim, uint64_t gpa, uint16_t *out);
VNS_API int vns_mem_read_le32(const vns_sim *sim, uint64_t gpa, uint32_t *out);
VNS_API int vns_mem_read_le64(const vns_sim *sim, uint64_t gpa, uint64_t *out);
VNS_API int vns_mem_write_le16(vns_sim *sim, uint64_t gpa, uint16_t v);
VNS_API int vns_mem_write_le32(vns_sim *sim, uint64_t gpa, uint32_t v);
VNS_API int vns_mem_write_le64(vns_sim *sim, uint64_t gpa, uint64_t v);

/* Memory models (vns_sim_opts.memory). Under tso and weak, a store the
 * driver or device makes inside one of its callbacks becomes visible to the
 * other side at a time drawn from the seed, and under weak a load may see
 * memory as it was a little earlier: what a driver without the right
 * barriers meets on real CPUs. Each store's becoming visible is a trace
 * event ("store_visible"); calls made outside any callback (set-up, between
 * runs) see and change memory as everyone sees it. */
#define VNS_MEMORY_SC   0
#define VNS_MEMORY_TSO  1
#define VNS_MEMORY_WEAK 2

/* Barriers for a ring written by hand, as Linux's virtio_wmb() (stores
 * before it are visible before stores after it), virtio_rmb() (loads after
 * it are not satisfied before loads before it) and virtio_mb() (both; and
 * every earlier store is visible before any later load). The ring helpers
 * of driver.h and device.h make them where the spec needs them. No-ops
 * under VNS_MEMORY_SC or outside a callback; NULL is ignored. */
VNS_API void vns_mem_wmb(vns_sim *sim);
VNS_API void vns_mem_rmb(vns_sim *sim);
VNS_API void vns_mem_mb(vns_sim *sim);

#ifdef __cplusplus
}
#endif

#endif
