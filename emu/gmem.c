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
  m->direct_size = size;
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

int gmem_peek(const gmem *m, uint64_t gpa, void *dst, size_t len) {
  const uint8_t *p = gmem_host_(m, gpa, len);
  if (!p) return EMU_ERANGE;
  if (len) memcpy(dst, p, len);
  return 0;
}

int gmem_read(const gmem *m, uint64_t gpa, void *dst, size_t len) {
  const uint8_t *p = gmem_direct_(m, gpa, len);
  if (!p) return gmem_mm_load(m, gpa, dst, len) ? 0 : EMU_ERANGE;
  if (len) memcpy(dst, p, len);
  return 0;
}

int gmem_write(gmem *m, uint64_t gpa, const void *src, size_t len) {
  uint8_t *p = gmem_direct_(m, gpa, len);
  if (!p) return gmem_mm_store(m, gpa, src, len);
  if (len) memcpy(p, src, len);
  return 0;
}

int gmem_fill(gmem *m, uint64_t gpa, uint8_t byte, size_t len) {
  uint8_t *p = gmem_direct_(m, gpa, len);
  if (p) {
    if (len) memset(p, byte, len);
    return 0;
  }
  if (!m->mm || !gmem_in_range(m, gpa, len)) return EMU_ERANGE;
  /* One store of len bytes, made from a buffer of them. */
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return EMU_ENOMEM;
  memset(buf, byte, len);
  int rc = gmem_mm_store(m, gpa, buf, len);
  free(buf);
  return rc;
}

int gmem_slow_read_le(const gmem *m, uint64_t gpa, void *out, size_t n) {
  uint8_t buf[sizeof(uint64_t)] = {0};
  if (n > sizeof buf || !gmem_mm_load(m, gpa, buf, n)) return EMU_ERANGE;
  uint64_t v = emu_get_le64(buf);
  uint16_t v16 = (uint16_t)v;
  uint32_t v32 = (uint32_t)v;
  memcpy(out, n == sizeof v16 ? (void *)&v16 : n == sizeof v32 ? (void *)&v32 : (void *)&v, n);
  return 0;
}

int gmem_slow_write_le(gmem *m, uint64_t gpa, uint64_t v, size_t n) {
  uint8_t buf[sizeof v];
  emu_put_le64(buf, v);
  return n > sizeof buf ? EMU_ERANGE : gmem_mm_store(m, gpa, buf, n);
}
