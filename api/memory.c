/* Guest memory for the user's half: the bounds-checked accessors of emu/gmem
 * with the sim's memory, whichever mode built it. */
#include "api/internal.h"

VNS_API int vns_mem_alloc(vns_sim *sim, uint64_t len, uint64_t align, uint64_t *gpa) {
  if (!sim || !gpa) return VNS_EINVAL;
  return gmem_alloc(sim->mem, len, align, gpa);
}

VNS_API int vns_mem_read(const vns_sim *sim, uint64_t gpa, void *dst, size_t len) {
  if (!sim || (!dst && len)) return VNS_EINVAL;
  return gmem_read(sim->mem, gpa, dst, len);
}

VNS_API int vns_mem_write(vns_sim *sim, uint64_t gpa, const void *src, size_t len) {
  if (!sim || (!src && len)) return VNS_EINVAL;
  return gmem_write(sim->mem, gpa, src, len);
}

VNS_API int vns_mem_read_le16(const vns_sim *sim, uint64_t gpa, uint16_t *out) {
  return sim && out ? gmem_read_le16(sim->mem, gpa, out) : VNS_EINVAL;
}

VNS_API int vns_mem_read_le32(const vns_sim *sim, uint64_t gpa, uint32_t *out) {
  return sim && out ? gmem_read_le32(sim->mem, gpa, out) : VNS_EINVAL;
}

VNS_API int vns_mem_read_le64(const vns_sim *sim, uint64_t gpa, uint64_t *out) {
  return sim && out ? gmem_read_le64(sim->mem, gpa, out) : VNS_EINVAL;
}

VNS_API int vns_mem_write_le16(vns_sim *sim, uint64_t gpa, uint16_t v) {
  return sim ? gmem_write_le16(sim->mem, gpa, v) : VNS_EINVAL;
}

VNS_API int vns_mem_write_le32(vns_sim *sim, uint64_t gpa, uint32_t v) {
  return sim ? gmem_write_le32(sim->mem, gpa, v) : VNS_EINVAL;
}

VNS_API int vns_mem_write_le64(vns_sim *sim, uint64_t gpa, uint64_t v) {
  return sim ? gmem_write_le64(sim->mem, gpa, v) : VNS_EINVAL;
}

VNS_API void vns_mem_wmb(vns_sim *sim) {
  if (sim) gmem_barrier(sim->mem, GMEM_WMB);
}

VNS_API void vns_mem_rmb(vns_sim *sim) {
  if (sim) gmem_barrier(sim->mem, GMEM_RMB);
}

VNS_API void vns_mem_mb(vns_sim *sim) {
  if (sim) gmem_barrier(sim->mem, GMEM_MB);
}
