/* Guest memory: the one thing the device and the driver share.
 *
 * A contiguous guest-physical range [base, base + size) backed by host memory.
 * base is never 0, so a zero address written by a buggy driver is always out
 * of range. Every access is bounds-checked and returns EMU_ERANGE instead of
 * touching host memory outside the range, including when gpa + len overflows
 * 64 bits. Multi-byte values are little-endian in guest memory (virtio 1.2
 * §2.4: "le" fields), whatever the host's byte order. */
#ifndef VNETSIM_EMU_GMEM_H
#define VNETSIM_EMU_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include "emu/err.h"

#define GMEM_DEFAULT_BASE 0x40000000ull

typedef struct gmem {
  uint8_t *host; /* backing store, owned */
  uint64_t base; /* first guest-physical address */
  uint64_t size; /* bytes */
  /* How much of it the accessors below may touch in place: all of it, or
   * nothing while a memory model is attached. So the common access costs
   * the one range check it always had, and a model's accesses (or an out
   * of range one) take the slow path. */
  uint64_t direct_size;
  uint64_t brk; /* allocator cursor, an offset from base */
  /* The memory model (emu/mm.h), NULL for sequential consistency: then
   * every access is the plain copy below. */
  struct emu_mm *mm;
} gmem;

/* Reserves size bytes of zeroed guest memory starting at guest-physical base.
 * EMU_EINVAL when base is 0, size is 0 or base + size overflows;
 * EMU_ENOMEM when the host allocation fails. */
int gmem_init(gmem *m, uint64_t base, uint64_t size);
void gmem_close(gmem *m);

/* Allocates len bytes aligned to align (a power of two) from the bump
 * allocator and stores the guest-physical address in *gpa. Memory is never
 * freed individually: rings and buffers live as long as the guest does.
 * EMU_EINVAL for a bad alignment or len 0, EMU_ENOSPC when full. */
int gmem_alloc(gmem *m, uint64_t len, uint64_t align, uint64_t *gpa);

/* 1 when [gpa, gpa + len) lies inside guest memory, 0 otherwise (also on
 * 64-bit overflow). len 0 is in range at any address inside or at the end. */
static inline int gmem_in_range(const gmem *m, uint64_t gpa, uint64_t len) {
  if (gpa < m->base) return 0;
  uint64_t off = gpa - m->base;
  return off <= m->size && len <= m->size - off;
}

/* Where a guest-physical range lives in host memory, NULL when out of
 * range: for the accessors here only; the pointer is used for one access
 * and never handed out. */
static inline uint8_t *gmem_host_(const gmem *m, uint64_t gpa, uint64_t len) {
  return gmem_in_range(m, gpa, len) ? m->host + (gpa - m->base) : NULL;
}

/* Where an access may go in place, NULL when it must take the slow path
 * (a memory model's, or EMU_ERANGE). */
static inline uint8_t *gmem_direct_(const gmem *m, uint64_t gpa, uint64_t len) {
  if (gpa < m->base) return NULL;
  uint64_t off = gpa - m->base;
  return off <= m->direct_size && len <= m->direct_size - off ? m->host + off : NULL;
}

/* Copies between guest memory and a host buffer; EMU_ERANGE when out of
 * range, in which case nothing is copied. Under a memory model these are the
 * running actor's loads and stores. */
int gmem_read(const gmem *m, uint64_t gpa, void *dst, size_t len);
int gmem_write(gmem *m, uint64_t gpa, const void *src, size_t len);
int gmem_fill(gmem *m, uint64_t gpa, uint8_t byte, size_t len);
/* What guest memory holds for everyone now, read without being anyone's
 * load: for observers (teach, a ring view), which must not change the run. */
int gmem_peek(const gmem *m, uint64_t gpa, void *dst, size_t len);

/* The slow path of an access (emu/mm.c): the memory model's, or NULL and
 * EMU_ERANGE without one. A load fills buf and returns it, or NULL when
 * out of range; a store returns 0 or EMU_ERANGE. */
const uint8_t *gmem_mm_load(const gmem *m, uint64_t gpa, uint8_t *buf, size_t len);
int gmem_mm_store(gmem *m, uint64_t gpa, const uint8_t *src, size_t len);

/* The slow paths of the scalar accessors below, out of line (and marked
 * cold where the compiler knows the word) so that the inline fast path
 * stays as small and quick as it was before memory models. */
#if defined(__GNUC__)
#define GMEM_COLD __attribute__((cold))
#else
#define GMEM_COLD
#endif
/* out gets the n-byte (2, 4 or 8) value in host order, as a uint16_t,
 * uint32_t or uint64_t; v's low n bytes are stored little-endian. */
GMEM_COLD int gmem_slow_read_le(const gmem *m, uint64_t gpa, void *out, size_t n);
GMEM_COLD int gmem_slow_write_le(gmem *m, uint64_t gpa, uint64_t v, size_t n);

/* Barriers, as Linux's virtio_wmb() (stores before it become visible before
 * stores after it), virtio_rmb() (loads after it are not satisfied before
 * loads before it) and virtio_mb() (both, and the running actor's stores are
 * visible before any later load). Nothing to do without a memory model. */
typedef enum gmem_barrier_kind { GMEM_WMB, GMEM_RMB, GMEM_MB } gmem_barrier_kind;
void gmem_mm_barrier(gmem *m, gmem_barrier_kind kind);
static inline void gmem_barrier(gmem *m, gmem_barrier_kind kind) {
  if (m->mm) gmem_mm_barrier(m, kind);
}

/* Byte-order helpers for buffers in host memory. */
static inline uint16_t emu_get_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t emu_get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t emu_get_le64(const uint8_t *p) {
  return (uint64_t)emu_get_le32(p) | (uint64_t)emu_get_le32(p + 4) << 32;
}
static inline void emu_put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void emu_put_le32(uint8_t *p, uint32_t v) {
  emu_put_le16(p, (uint16_t)v);
  emu_put_le16(p + 2, (uint16_t)(v >> 16));
}
static inline void emu_put_le64(uint8_t *p, uint64_t v) {
  emu_put_le32(p, (uint32_t)v);
  emu_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* gmem_peek() for one little-endian scalar; *out untouched when out of range. */
static inline int gmem_peek_le16(const gmem *m, uint64_t gpa, uint16_t *out) {
  const uint8_t *p = gmem_host_(m, gpa, sizeof *out);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le16(p);
  return 0;
}
static inline int gmem_peek_le32(const gmem *m, uint64_t gpa, uint32_t *out) {
  const uint8_t *p = gmem_host_(m, gpa, sizeof *out);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le32(p);
  return 0;
}
static inline int gmem_peek_le64(const gmem *m, uint64_t gpa, uint64_t *out) {
  const uint8_t *p = gmem_host_(m, gpa, sizeof *out);
  if (!p) return EMU_ERANGE;
  *out = emu_get_le64(p);
  return 0;
}

/* Little-endian scalar access, bounds-checked; on EMU_ERANGE *out is left
 * untouched. Inline: the rings make several of these per frame, and a call
 * for each cost a quarter of the ring loop. */
static inline int gmem_read_le16(const gmem *m, uint64_t gpa, uint16_t *out) {
  const uint8_t *p = gmem_direct_(m, gpa, sizeof *out);
  if (!p) return gmem_slow_read_le(m, gpa, out, sizeof *out);
  *out = emu_get_le16(p);
  return 0;
}

static inline int gmem_read_le32(const gmem *m, uint64_t gpa, uint32_t *out) {
  const uint8_t *p = gmem_direct_(m, gpa, sizeof *out);
  if (!p) return gmem_slow_read_le(m, gpa, out, sizeof *out);
  *out = emu_get_le32(p);
  return 0;
}

static inline int gmem_read_le64(const gmem *m, uint64_t gpa, uint64_t *out) {
  const uint8_t *p = gmem_direct_(m, gpa, sizeof *out);
  if (!p) return gmem_slow_read_le(m, gpa, out, sizeof *out);
  *out = emu_get_le64(p);
  return 0;
}

static inline int gmem_write_le16(gmem *m, uint64_t gpa, uint16_t v) {
  uint8_t *p = gmem_direct_(m, gpa, sizeof v);
  if (!p) return gmem_slow_write_le(m, gpa, v, sizeof v);
  emu_put_le16(p, v);
  return 0;
}

static inline int gmem_write_le32(gmem *m, uint64_t gpa, uint32_t v) {
  uint8_t *p = gmem_direct_(m, gpa, sizeof v);
  if (!p) return gmem_slow_write_le(m, gpa, v, sizeof v);
  emu_put_le32(p, v);
  return 0;
}

static inline int gmem_write_le64(gmem *m, uint64_t gpa, uint64_t v) {
  uint8_t *p = gmem_direct_(m, gpa, sizeof v);
  if (!p) return gmem_slow_write_le(m, gpa, v, sizeof v);
  emu_put_le64(p, v);
  return 0;
}

#endif
