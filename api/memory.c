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

/* A user half's stores are watched for the notifications they owe
 * (api/watch.c). */
static int vns_mem_watched(vns_sim *sim, int rc, uint64_t gpa, const void *src, size_t len) {
  if (rc == 0 && sim->mode != VNS_MODE_MODELLED) vns_watch_store(sim, gpa, src, len);
  return rc;
}

VNS_API int vns_mem_write(vns_sim *sim, uint64_t gpa, const void *src, size_t len) {
  if (!sim || (!src && len)) return VNS_EINVAL;
  return vns_mem_watched(sim, gmem_write(sim->mem, gpa, src, len), gpa, src, len);
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
  if (!sim) return VNS_EINVAL;
  uint8_t b[2];
  emu_put_le16(b, v);
  return vns_mem_watched(sim, gmem_write_le16(sim->mem, gpa, v), gpa, b, sizeof b);
}

VNS_API int vns_mem_write_le32(vns_sim *sim, uint64_t gpa, uint32_t v) {
  if (!sim) return VNS_EINVAL;
  uint8_t b[4];
  emu_put_le32(b, v);
  return vns_mem_watched(sim, gmem_write_le32(sim->mem, gpa, v), gpa, b, sizeof b);
}

VNS_API int vns_mem_write_le64(vns_sim *sim, uint64_t gpa, uint64_t v) {
  if (!sim) return VNS_EINVAL;
  uint8_t b[8];
  emu_put_le64(b, v);
  return vns_mem_watched(sim, gmem_write_le64(sim->mem, gpa, v), gpa, b, sizeof b);
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
