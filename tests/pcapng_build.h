/* pcapng files written by hand for the tests, in either byte order, block
 * by block as the specification lays them out (independently of
 * host/pcapng.c), and an independent count of a file's packet records. */
#ifndef VNETSIM_TESTS_PCAPNG_BUILD_H
#define VNETSIM_TESTS_PCAPNG_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NG_SHB 0x0a0d0d0au
#define NG_IDB 1u
#define NG_PB  2u
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1a2b3c4du
/* if_tsresol, if_tsoffset; a resolution of 2^-n is 0x80 | n */
#define NG_OPT_TSRESOL  9
#define NG_OPT_TSOFFSET 14
#define NG_NO_TSRESOL   (-1)

typedef struct ng_buf {
  uint8_t b[1 << 15];
  size_t n;
  int be; /* write big-endian */
} ng_buf;

static void ng_u8(ng_buf *w, uint8_t v) { w->b[w->n++] = v; }

static void ng_u16(ng_buf *w, uint32_t v) {
  uint8_t hi = (uint8_t)(v >> 8), lo = (uint8_t)v;
  ng_u8(w, w->be ? hi : lo);
  ng_u8(w, w->be ? lo : hi);
}

static void ng_u32(ng_buf *w, uint32_t v) {
  ng_u16(w, w->be ? v >> 16 : v & 0xffff);
  ng_u16(w, w->be ? v & 0xffff : v >> 16);
}

static void ng_u64(ng_buf *w, uint64_t v) {
  ng_u32(w, (uint32_t)(w->be ? v >> 32 : v));
  ng_u32(w, (uint32_t)(w->be ? v : v >> 32));
}

static void ng_bytes(ng_buf *w, const uint8_t *p, size_t len) {
  memcpy(w->b + w->n, p, len);
  w->n += len;
  while (w->n % 4) ng_u8(w, 0);
}

/* A block's type and a length to be filled in by ng_end. */
static size_t ng_begin(ng_buf *w, uint32_t type) {
  size_t at = w->n;
  ng_u32(w, type);
  ng_u32(w, 0);
  return at;
}

static void ng_end(ng_buf *w, size_t at) {
  uint32_t total = (uint32_t)(w->n - at + 4);
  ng_u32(w, total);
  size_t end = w->n;
  w->n = at + 4;
  ng_u32(w, total);
  w->n = end;
}

static void ng_shb(ng_buf *w) {
  size_t at = ng_begin(w, NG_SHB);
  ng_u32(w, NG_BOM);
  ng_u16(w, 1);
  ng_u16(w, 0);
  ng_u64(w, UINT64_MAX); /* section length: not given */
  ng_end(w, at);
}

/* An interface; tsresol NG_NO_TSRESOL leaves microseconds, the default. */
static void ng_idb(ng_buf *w, uint16_t linktype, uint32_t snaplen, int tsresol, int64_t tsoffset) {
  size_t at = ng_begin(w, NG_IDB);
  ng_u16(w, linktype);
  ng_u16(w, 0);
  ng_u32(w, snaplen);
  if (tsresol != NG_NO_TSRESOL) {
    ng_u16(w, NG_OPT_TSRESOL);
    ng_u16(w, 1);
    uint8_t v = (uint8_t)tsresol;
    ng_bytes(w, &v, 1);
  }
  if (tsoffset) {
    ng_u16(w, NG_OPT_TSOFFSET);
    ng_u16(w, 8);
    ng_u64(w, (uint64_t)tsoffset);
  }
  ng_u32(w, 0); /* opt_endofopt */
  ng_end(w, at);
}

/* An Enhanced Packet block; caplen may lie about the bytes that follow. */
static void ng_epb_lying(ng_buf *w, uint32_t iface, uint64_t ticks, const uint8_t *data, size_t len,
                         uint32_t caplen) {
  size_t at = ng_begin(w, NG_EPB);
  ng_u32(w, iface);
  ng_u32(w, (uint32_t)(ticks >> 32));
  ng_u32(w, (uint32_t)ticks);
  ng_u32(w, caplen);
  ng_u32(w, (uint32_t)len);
  ng_bytes(w, data, len);
  ng_end(w, at);
}

static void ng_epb(ng_buf *w, uint32_t iface, uint64_t ticks, const uint8_t *data, size_t len) {
  ng_epb_lying(w, iface, ticks, data, len, (uint32_t)len);
}

static void ng_spb(ng_buf *w, const uint8_t *data, size_t len) {
  size_t at = ng_begin(w, NG_SPB);
  ng_u32(w, (uint32_t)len);
  ng_bytes(w, data, len);
  ng_end(w, at);
}

/* The obsolete Packet block: a 2-byte interface and a drops count. */
static void ng_pb(ng_buf *w, uint16_t iface, uint64_t ticks, const uint8_t *data, size_t len) {
  size_t at = ng_begin(w, NG_PB);
  ng_u16(w, iface);
  ng_u16(w, 0);
  ng_u32(w, (uint32_t)(ticks >> 32));
  ng_u32(w, (uint32_t)ticks);
  ng_u32(w, (uint32_t)len);
  ng_u32(w, (uint32_t)len);
  ng_bytes(w, data, len);
  ng_end(w, at);
}

/* A block of a type no reader knows, with a body of len bytes. */
static void ng_unknown(ng_buf *w, uint32_t type, size_t len) {
  size_t at = ng_begin(w, type);
  for (size_t i = 0; i < len; i++) ng_u8(w, (uint8_t)i);
  while (w->n % 4) ng_u8(w, 0);
  ng_end(w, at);
}

/* A 32-bit field of a file in its section's byte order. */
static uint32_t ng_read32(const uint8_t *p, int be) {
  return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
            : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The packet records (EPB, SPB, PB) of a well-formed file; (size_t)-1 when
 * a block does not fit it. */
static size_t ng_count_records(const uint8_t *d, size_t len) {
  size_t at = 0, n = 0;
  int be = 0;
  while (at + 12 <= len) {
    if (ng_read32(d + at, 0) == NG_SHB) be = ng_read32(d + at + 8, 1) == NG_BOM;
    uint32_t type = ng_read32(d + at, be), total = ng_read32(d + at + 4, be);
    if (total < 12 || total > len - at) return (size_t)-1;
    n += type == NG_EPB || type == NG_SPB || type == NG_PB;
    at += total;
  }
  return at == len ? n : (size_t)-1;
}

#endif
