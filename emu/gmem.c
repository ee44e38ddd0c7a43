#include "emu/gmem.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"

int gmem_init(gmem *m, uint64_t base, uint64_t size) {
  memset(m, 0, sizeof *m);
  if (base == 0 || size == 0 || base + size < base || size > SIZE_MAX) return EMU_EINVAL;
  m->host = calloc(1, (size_t)size);
  if (!m->host) return EMU_ENOMEM;
  m->base = base;
  m->size = size;
  return 0;
}

void gmem_close(gmem *m) {
  free(m->host);
  memset(m, 0, sizeof *m);
}

int gmem_alloc(gmem *m, uint64_t len, uint64_t align, uint64_t *gpa) {
  if (len == 0 || align == 0 || (align & (align - 1)) != 0) return EMU_EINVAL;
  uint64_t start = (m->base + m->brk + align - 1) & ~(align - 1);
  uint64_t off = start - m->base;
  if (off > m->size || len > m->size - off) return EMU_ENOSPC;
  m->brk = off + len;
  *gpa = start;
  return 0;
}

int gmem_in_range(const gmem *m, uint64_t gpa, uint64_t len) {
  if (gpa < m->base) return 0;
  uint64_t off = gpa - m->base;
  return off <= m->size && len <= m->size - off;
}

/* The only place a guest-physical address becomes a host pointer; the
 * pointer is used for one copy and never returned. */
static uint8_t *gmem_at(const gmem *m, uint64_t gpa, uint64_t len) {
  return gmem_in_range(m, gpa, len) ? m->host + (gpa - m->base) : NULL;
}

int gmem_read(const gmem *m, uint64_t gpa, void *dst, size_t len) {
  const uint8_t *p = gmem_at(m, gpa, len);
  if (!p) return EMU_ERANGE;
  if (len) memcpy(dst, p, len);
  return 0;
}

int gmem_write(gmem *m, uint64_t gpa, const void *src, size_t len) {
  uint8_t *p = gmem_at(m, gpa, len);
  if (!p) return EMU_ERANGE;
  if (len) memcpy(p, src, len);
  return 0;
}

int gmem_fill(gmem *m, uint64_t gpa, uint8_t byte, size_t len) {
  uint8_t *p = gmem_at(m, gpa, len);
  if (!p) return EMU_ERANGE;
  if (len) memset(p, byte, len);
  return 0;
}

int gmem_read_le16(const gmem *m, uint64_t gpa, uint16_t *out) {
  const uint8_t *p = gmem_at(m, gpa, 2);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le16(p);
  return 0;
}

int gmem_read_le32(const gmem *m, uint64_t gpa, uint32_t *out) {
  const uint8_t *p = gmem_at(m, gpa, 4);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le32(p);
  return 0;
}

int gmem_read_le64(const gmem *m, uint64_t gpa, uint64_t *out) {
  const uint8_t *p = gmem_at(m, gpa, 8);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le64(p);
  return 0;
}

int gmem_write_le16(gmem *m, uint64_t gpa, uint16_t v) {
  uint8_t *p = gmem_at(m, gpa, 2);
  if (!p) return EMU_ERANGE;
  emu_put_le16(p, v);
  return 0;
}

int gmem_write_le32(gmem *m, uint64_t gpa, uint32_t v) {
  uint8_t *p = gmem_at(m, gpa, 4);
  if (!p) return EMU_ERANGE;
  emu_put_le32(p, v);
  return 0;
}

int gmem_write_le64(gmem *m, uint64_t gpa, uint64_t v) {
  uint8_t *p = gmem_at(m, gpa, 8);
  if (!p) return EMU_ERANGE;
  emu_put_le64(p, v);
  return 0;
}
