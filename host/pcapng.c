#include "host/pcapng.h"

#include <pcap/dlt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"

/* Block types (pcapng §4) and the byte-order magic of a Section Header;
 * the Section Header's type reads the same in both byte orders. */
#define BT_SHB           0x0a0d0d0au
#define BT_IDB           0x00000001u
#define BT_PB            0x00000002u /* obsolete Packet Block (Appendix) */
#define BT_SPB           0x00000003u
#define BT_EPB           0x00000006u
#define BYTE_ORDER_MAGIC 0x1a2b3c4du
/* Every block: type (4), total length (4), body, total length again (4). */
#define BLOCK_HDR_LEN     8
#define BLOCK_TRAILER_LEN 4
#define BLOCK_MIN_LEN     (BLOCK_HDR_LEN + BLOCK_TRAILER_LEN)
#define BLOCK_ALIGN       4
/* Section Header body: byte-order magic, major, minor, section length. */
#define SHB_BOM_AT    0 /* in the body */
#define SHB_MAJOR_AT  4
#define SHB_MINOR_AT  6
#define SHB_FIXED_LEN 16
#define PCAPNG_MAJOR  1
/* Interface Description body: link type (2), reserved (2), snaplen (4), options. */
#define IDB_LINKTYPE_AT 0
#define IDB_SNAPLEN_AT  4
#define IDB_FIXED_LEN   8
/* Enhanced Packet body: interface (4), time high (4), time low (4),
 * captured length (4), original length (4), data; the obsolete Packet
 * Block has the same layout with a 2-byte interface and a drops count. */
#define EPB_IFACE_AT   0
#define EPB_TS_HIGH_AT 4
#define EPB_TS_LOW_AT  8
#define EPB_CAPLEN_AT  12
#define EPB_ORIGLEN_AT 16
#define EPB_FIXED_LEN  20
/* Simple Packet body: original length (4), data; interface 0, no time. */
#define SPB_ORIGLEN_AT 0
#define SPB_FIXED_LEN  4
/* Options: code (2), length (2), value padded to 4 bytes. */
#define OPT_HDR_LEN         4
#define OPT_ENDOFOPT        0
#define IF_TSRESOL          9
#define IF_TSOFFSET         14
#define TSRESOL_BINARY      0x80u /* the rest is a power of 2, else of 10 */
#define TSRESOL_MASK        0x7fu
#define TSRESOL_DEFAULT_DEC 6  /* microseconds, when an interface says nothing */
#define TSRESOL_MAX_DEC     19 /* 10^19: the largest power of 10 in 64 bits */
#define TSRESOL_MAX_BIN     63
/* A binary fraction of at most 2^34 ticks times 10^9 fits 64 bits; finer
 * ones drop their lowest bits first (the nanosecond they round to may then
 * be one lower than exact; libpcap's product overflows there). */
#define TSRESOL_EXACT_BIN 34
#define NS_PER_S          1000000000ull
/* libpcap's largest snapshot length, what 0 and anything larger mean (the
 * link types replayed here have no other). */
#define SNAPLEN_MAX 262144u
/* The one link type whose LINKTYPE_ value in a file is not its DLT_ value
 * on this system (libpcap's linktype_to_dlt). */
#define LINKTYPE_RAW 101

typedef struct host_pcapng_if {
  int dlt;                /* HOST_PCAPNG_NO_LINK: its block was too short to say */
  uint32_t snaplen;       /* 0: none */
  uint64_t tsresol;       /* ticks per second; 0: if_tsresol out of range, times unknown */
  unsigned tsresol_shift; /* for a binary resolution: tsresol is 1 << this */
  int tsresol_binary;
  uint64_t tsoffset_s; /* if_tsoffset, signed seconds, added modulo 2^64 as libpcap does */
} host_pcapng_if;

typedef struct host_pcapng_rd {
  const uint8_t *data;
  size_t len, at;      /* the file; where the next block starts */
  int big_endian;      /* the current section's byte order */
  host_pcapng_if *ifs; /* the current section's interfaces, by id */
  size_t nifs, ifs_cap;
  size_t records; /* packet records met so far */
  const char *name;
  char *err;
  size_t errcap;
} host_pcapng_rd;

typedef struct host_pcapng_block {
  uint32_t type;
  size_t at;           /* its offset in the file */
  const uint8_t *body; /* after type and length, before the trailer */
  size_t body_len;
} host_pcapng_block;

static uint16_t host_pcapng_u16(const host_pcapng_rd *rd, const uint8_t *p) {
  return rd->big_endian ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t host_pcapng_u32(const host_pcapng_rd *rd, const uint8_t *p) {
  uint32_t hi = host_pcapng_u16(rd, p + (rd->big_endian ? 0 : 2));
  uint32_t lo = host_pcapng_u16(rd, p + (rd->big_endian ? 2 : 0));
  return hi << 16 | lo;
}

static uint64_t host_pcapng_u64(const host_pcapng_rd *rd, const uint8_t *p) {
  uint64_t hi = host_pcapng_u32(rd, p + (rd->big_endian ? 0 : 4));
  uint64_t lo = host_pcapng_u32(rd, p + (rd->big_endian ? 4 : 0));
  return hi << 32 | lo;
}

/* EMU_EFORMAT, with the reason in the message's one shape. */
static int host_pcapng_fail(const host_pcapng_rd *rd, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(rd->err, rd->errcap, "%s: frame %zu: %s (the %zu frames before it were read)", rd->name,
           rd->records + 1, why, rd->records);
  return EMU_EFORMAT;
}

/* A Section Header's byte order, from its magic at p: 0, or EMU_EFORMAT. */
static int host_pcapng_byte_order(host_pcapng_rd *rd, const uint8_t *p, size_t at) {
  rd->big_endian = 1;
  uint32_t magic = host_pcapng_u32(rd, p);
  if (magic == BYTE_ORDER_MAGIC) return 0;
  rd->big_endian = 0;
  if (host_pcapng_u32(rd, p) == BYTE_ORDER_MAGIC) return 0;
  return host_pcapng_fail(rd, "the Section Header at offset %zu has a bad byte-order magic", at);
}

/* The block at rd->at, checked against the file and its trailer: 1 with
 * blk filled and rd->at past it, 0 at the end of the file, or EMU_EFORMAT. */
static int host_pcapng_next_block(host_pcapng_rd *rd, host_pcapng_block *blk) {
  size_t at = rd->at, left = rd->len - rd->at;
  const uint8_t *p = rd->data + at;
  if (left == 0) return 0;
  if (left < BLOCK_MIN_LEN)
    return host_pcapng_fail(rd, "truncated pcapng file: %zu bytes at offset %zu, a block needs %d",
                            left, at, BLOCK_MIN_LEN);
  /* a Section Header says its own byte order, after its length */
  if (host_pcapng_u32(rd, p) == BT_SHB) {
    if (left < BLOCK_HDR_LEN + SHB_FIXED_LEN)
      return host_pcapng_fail(rd, "truncated pcapng file: a Section Header at offset %zu", at);
    int rc = host_pcapng_byte_order(rd, p + BLOCK_HDR_LEN + SHB_BOM_AT, at);
    if (rc) return rc;
  } else if (at == 0) {
    return host_pcapng_fail(rd, "not a pcapng file: no Section Header first");
  }
  uint32_t total = host_pcapng_u32(rd, p + 4);
  if (total < BLOCK_MIN_LEN || total % BLOCK_ALIGN)
    return host_pcapng_fail(
        rd, "the block at offset %zu has a length of %u (at least %d, a multiple of %d)", at, total,
        BLOCK_MIN_LEN, BLOCK_ALIGN);
  if (total > left)
    return host_pcapng_fail(
        rd, "truncated pcapng file: the block at offset %zu has %u bytes, only %zu are left", at,
        total, left);
  if (host_pcapng_u32(rd, p + total - BLOCK_TRAILER_LEN) != total)
    return host_pcapng_fail(rd, "the block at offset %zu: lengths in header and trailer differ",
                            at);
  blk->type = host_pcapng_u32(rd, p);
  blk->at = at;
  blk->body = p + BLOCK_HDR_LEN;
  blk->body_len = total - BLOCK_MIN_LEN;
  rd->at += total;
  return 1;
}

/* A new section: its version checked, no interfaces yet. 0 or EMU_EFORMAT. */
static int host_pcapng_section(host_pcapng_rd *rd, const host_pcapng_block *b) {
  if (b->body_len < SHB_FIXED_LEN)
    return host_pcapng_fail(rd, "the Section Header at offset %zu is too short", b->at);
  unsigned major = host_pcapng_u16(rd, b->body + SHB_MAJOR_AT);
  unsigned minor = host_pcapng_u16(rd, b->body + SHB_MINOR_AT);
  if (major != PCAPNG_MAJOR)
    return host_pcapng_fail(rd,
                            "the Section Header at offset %zu: unsupported pcapng version %u.%u",
                            b->at, major, minor);
  rd->nifs = 0;
  return 0;
}

/* if_tsresol's byte: ticks per second; 0 when 64 bits do not hold them. */
static void host_pcapng_tsresol(host_pcapng_if *ifc, unsigned v) {
  unsigned e = v & TSRESOL_MASK;
  ifc->tsresol_binary = (v & TSRESOL_BINARY) != 0;
  ifc->tsresol = 0;
  if (ifc->tsresol_binary) {
    if (e > TSRESOL_MAX_BIN) return;
    ifc->tsresol_shift = e;
    ifc->tsresol = (uint64_t)1 << e;
    return;
  }
  if (v > TSRESOL_MAX_DEC) return;
  ifc->tsresol = 1;
  for (unsigned i = 0; i < v; i++) ifc->tsresol *= 10;
}

/* An Interface Description's options: if_tsresol and if_tsoffset (each of
 * its own length; the first of each counts). An option cut short by the
 * block ends them. */
static void host_pcapng_if_options(const host_pcapng_rd *rd, const uint8_t *p, size_t n,
                                   host_pcapng_if *ifc) {
  int saw_tsresol = 0, saw_tsoffset = 0;
  while (n >= OPT_HDR_LEN) {
    unsigned code = host_pcapng_u16(rd, p), len = host_pcapng_u16(rd, p + 2);
    size_t padded = ((size_t)len + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    if (code == OPT_ENDOFOPT || padded > n - OPT_HDR_LEN) return;
    const uint8_t *v = p + OPT_HDR_LEN;
    if (code == IF_TSRESOL && len == 1 && !saw_tsresol++) host_pcapng_tsresol(ifc, v[0]);
    if (code == IF_TSOFFSET && len == 8 && !saw_tsoffset++)
      ifc->tsoffset_s = host_pcapng_u64(rd, v);
    p += OPT_HDR_LEN + padded;
    n -= OPT_HDR_LEN + padded;
  }
}

/* libpcap's DLT_ value for a file's LINKTYPE_ value (linktype_to_dlt). */
static int host_pcapng_dlt(unsigned linktype) {
  return linktype == LINKTYPE_RAW ? DLT_RAW : (int)linktype;
}

/* One more interface in the section, described by b (a block too short to
 * say what it is still takes its id). 0 or EMU_ENOMEM. */
static int host_pcapng_interface(host_pcapng_rd *rd, const host_pcapng_block *b) {
  host_pcapng_if *grown = emu_grow(rd->ifs, &rd->ifs_cap, rd->nifs + 1, sizeof *grown, 4);
  if (!grown) {
    snprintf(rd->err, rd->errcap, "%s: out of memory", rd->name);
    return EMU_ENOMEM;
  }
  rd->ifs = grown;
  host_pcapng_if *ifc = &rd->ifs[rd->nifs++];
  memset(ifc, 0, sizeof *ifc);
  host_pcapng_tsresol(ifc, TSRESOL_DEFAULT_DEC);
  ifc->dlt = HOST_PCAPNG_NO_LINK;
  if (b->body_len < IDB_FIXED_LEN) return 0;
  ifc->dlt = host_pcapng_dlt(host_pcapng_u16(rd, b->body + IDB_LINKTYPE_AT));
  ifc->snaplen = host_pcapng_u32(rd, b->body + IDB_SNAPLEN_AT);
  host_pcapng_if_options(rd, b->body + IDB_FIXED_LEN, b->body_len - IDB_FIXED_LEN, ifc);
  return 0;
}

/* A tick count of interface ifc in ns, as libpcap computes it at nanosecond
 * precision; UINT64_MAX where no clock holds it. */
static uint64_t host_pcapng_ts_ns(const host_pcapng_if *ifc, uint64_t ticks) {
  if (!ifc->tsresol) return UINT64_MAX;
  uint64_t sec = ticks / ifc->tsresol + ifc->tsoffset_s;
  uint64_t frac = ticks % ifc->tsresol, ns;
  if (ifc->tsresol_binary) {
    unsigned shift = ifc->tsresol_shift;
    if (shift > TSRESOL_EXACT_BIN) {
      frac >>= shift - TSRESOL_EXACT_BIN;
      shift = TSRESOL_EXACT_BIN;
    }
    ns = frac * NS_PER_S >> shift;
  } else if (ifc->tsresol <= NS_PER_S) {
    ns = frac * (NS_PER_S / ifc->tsresol);
  } else {
    ns = frac / (ifc->tsresol / NS_PER_S);
  }
  /* libpcap's seconds are a signed time_t: past 2^63 they are negative */
  if (sec > (UINT64_MAX - ns) / NS_PER_S) return UINT64_MAX;
  return sec * NS_PER_S + ns;
}

/* The interface a record names, or NULL when the section has no such
 * interface. */
static const host_pcapng_if *host_pcapng_iface(const host_pcapng_rd *rd, uint32_t id) {
  return id < rd->nifs ? &rd->ifs[id] : NULL;
}

/* An Enhanced Packet (or, pb set, an obsolete Packet) block as a record. */
static void host_pcapng_epb(const host_pcapng_rd *rd, const host_pcapng_block *b, int pb,
                            host_pcapng_record *r) {
  memset(r, 0, sizeof *r);
  r->dlt = HOST_PCAPNG_NO_LINK;
  r->ts_ns = UINT64_MAX;
  if (b->body_len < EPB_FIXED_LEN) return; /* damaged: not even its fixed part */
  const uint8_t *p = b->body;
  uint32_t id = pb ? host_pcapng_u16(rd, p + EPB_IFACE_AT) : host_pcapng_u32(rd, p + EPB_IFACE_AT);
  uint64_t ticks = (uint64_t)host_pcapng_u32(rd, p + EPB_TS_HIGH_AT) << 32 |
                   host_pcapng_u32(rd, p + EPB_TS_LOW_AT);
  uint32_t caplen = host_pcapng_u32(rd, p + EPB_CAPLEN_AT);
  r->origlen = host_pcapng_u32(rd, p + EPB_ORIGLEN_AT);
  const host_pcapng_if *ifc = host_pcapng_iface(rd, id);
  if (ifc) {
    r->dlt = ifc->dlt;
    r->ts_ns = host_pcapng_ts_ns(ifc, ticks);
  }
  if (caplen > b->body_len - EPB_FIXED_LEN) return; /* damaged: data past its block */
  r->data = p + EPB_FIXED_LEN;
  r->caplen = caplen;
}

/* A Simple Packet block as a record: interface 0, time 0 (as libpcap gives
 * it: no time but the interface's offset); captured as much as the block
 * holds, the snapshot length allows and the wire had. */
static void host_pcapng_spb(const host_pcapng_rd *rd, const host_pcapng_block *b,
                            host_pcapng_record *r) {
  memset(r, 0, sizeof *r);
  r->dlt = HOST_PCAPNG_NO_LINK;
  r->ts_ns = UINT64_MAX;
  if (b->body_len < SPB_FIXED_LEN) return;
  r->origlen = host_pcapng_u32(rd, b->body + SPB_ORIGLEN_AT);
  const host_pcapng_if *ifc = host_pcapng_iface(rd, 0);
  size_t room = b->body_len - SPB_FIXED_LEN, caplen = r->origlen < room ? r->origlen : room;
  if (ifc) {
    r->dlt = ifc->dlt;
    r->ts_ns = host_pcapng_ts_ns(ifc, 0);
    if (ifc->snaplen && ifc->snaplen < caplen) caplen = ifc->snaplen;
  }
  r->data = b->body + SPB_FIXED_LEN;
  r->caplen = (uint32_t)caplen;
}

/* One block: a section, an interface, a record for fn, or nothing. 0,
 * HOST_PCAPNG_STOP, or an error. */
static int host_pcapng_block_do(host_pcapng_rd *rd, const host_pcapng_block *b,
                                host_pcapng_record_fn fn, void *ctx, int *first_dlt) {
  host_pcapng_record r;
  switch (b->type) {
    case BT_SHB:
      return host_pcapng_section(rd, b);
    case BT_IDB: {
      int rc = host_pcapng_interface(rd, b);
      if (!rc && *first_dlt == HOST_PCAPNG_NO_LINK) *first_dlt = rd->ifs[rd->nifs - 1].dlt;
      return rc;
    }
    case BT_EPB:
    case BT_PB:
      host_pcapng_epb(rd, b, b->type == BT_PB, &r);
      break;
    case BT_SPB:
      host_pcapng_spb(rd, b, &r);
      break;
    default:
      return 0; /* a block this reader has no use for */
  }
  int rc = fn(ctx, &r);
  rd->records += rc == 0;
  return rc;
}

int host_pcapng_read(const uint8_t *data, size_t len, const char *name, host_pcapng_record_fn fn,
                     void *ctx, int *first_dlt, char *err, size_t errcap) {
  host_pcapng_rd rd = {.data = data, .len = len, .name = name, .err = err, .errcap = errcap};
  host_pcapng_block b;
  int rc;
  *first_dlt = HOST_PCAPNG_NO_LINK;
  while ((rc = host_pcapng_next_block(&rd, &b)) == 1) {
    rc = host_pcapng_block_do(&rd, &b, fn, ctx, first_dlt);
    if (rc) break;
  }
  free(rd.ifs);
  return rc == HOST_PCAPNG_STOP ? 0 : rc;
}

/* libpcap's view of a snapshot length (pcap_adjust_snapshot). */
static uint32_t host_pcapng_snaplen(uint32_t snaplen) {
  return snaplen == 0 || snaplen > SNAPLEN_MAX ? SNAPLEN_MAX : snaplen;
}

int host_pcapng_mixed(const uint8_t *data, size_t len) {
  char err[8];
  host_pcapng_rd rd = {.data = data, .len = len, .name = "", .err = err, .errcap = sizeof err};
  host_pcapng_block b;
  int have_first = 0, first_big_endian = 0, first_dlt = 0;
  uint32_t first_snaplen = 0;
  while (host_pcapng_next_block(&rd, &b) == 1) {
    if (b.type == BT_SHB && b.at == 0) first_big_endian = rd.big_endian;
    if (b.type == BT_SHB && rd.big_endian != first_big_endian) return 1;
    if (b.type != BT_IDB || b.body_len < IDB_FIXED_LEN) continue;
    int dlt = host_pcapng_dlt(host_pcapng_u16(&rd, b.body + IDB_LINKTYPE_AT));
    uint32_t snaplen = host_pcapng_snaplen(host_pcapng_u32(&rd, b.body + IDB_SNAPLEN_AT));
    if (!have_first) {
      have_first = 1;
      first_dlt = dlt;
      first_snaplen = snaplen;
    } else if (dlt != first_dlt || snaplen != first_snaplen) {
      return 1;
    }
  }
  return 0;
}

/* --- writing --------------------------------------------------------------- */

#define LINKTYPE_ETHERNET   1
#define IF_NAME             2
#define IF_TSRESOL_NS       9 /* 10^-9 s */
#define SECTION_LEN_UNKNOWN UINT64_MAX
#define SHB_SECTION_LEN_AT  8  /* in the body: 64 bits, after the versions */
#define IF_NAME_MAX         64 /* bytes of an interface name written */
#define OPT_TSRESOL_LEN     1

static void host_pcapng_put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void host_pcapng_put_le32(uint8_t *p, uint32_t v) {
  host_pcapng_put_le16(p, (uint16_t)v);
  host_pcapng_put_le16(p + 2, (uint16_t)(v >> 16));
}

static size_t host_pcapng_padded(size_t len) {
  return (len + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1);
}

/* Writes a block of type with body[0..len) (padded with zeros to 32 bits)
 * and its two lengths. */
static void host_pcapng_put_block(host_pcapng_writer *w, uint32_t type, const uint8_t *body,
                                  size_t len, const uint8_t *tail, size_t tail_len) {
  static const uint8_t zeros[BLOCK_ALIGN];
  size_t data = len + tail_len, total = BLOCK_MIN_LEN + host_pcapng_padded(data);
  uint8_t hdr[BLOCK_HDR_LEN], trailer[BLOCK_TRAILER_LEN];
  host_pcapng_put_le32(hdr, type);
  host_pcapng_put_le32(hdr + 4, (uint32_t)total);
  host_pcapng_put_le32(trailer, (uint32_t)total);
  FILE *f = w->out.f;
  size_t pad = host_pcapng_padded(data) - data;
  w->failed |= fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fwrite(body, 1, len, f) != len ||
               (tail_len && fwrite(tail, 1, tail_len, f) != tail_len) ||
               (pad && fwrite(zeros, 1, pad, f) != pad) ||
               fwrite(trailer, 1, sizeof trailer, f) != sizeof trailer;
}

/* An option of code with value[0..len), padded, at p; its length. */
static size_t host_pcapng_put_option(uint8_t *p, uint16_t code, const void *value, size_t len) {
  host_pcapng_put_le16(p, code);
  host_pcapng_put_le16(p + 2, (uint16_t)len);
  memset(p + OPT_HDR_LEN, 0, host_pcapng_padded(len));
  if (len) memcpy(p + OPT_HDR_LEN, value, len); /* opt_endofopt has no value */
  return OPT_HDR_LEN + host_pcapng_padded(len);
}

static void host_pcapng_put_headers(host_pcapng_writer *w, const char *const *names, unsigned n) {
  uint8_t shb[SHB_FIXED_LEN];
  host_pcapng_put_le32(shb + SHB_BOM_AT, BYTE_ORDER_MAGIC);
  host_pcapng_put_le16(shb + SHB_MAJOR_AT, PCAPNG_MAJOR);
  host_pcapng_put_le16(shb + SHB_MINOR_AT, 0);
  host_pcapng_put_le32(shb + SHB_SECTION_LEN_AT, (uint32_t)SECTION_LEN_UNKNOWN);
  host_pcapng_put_le32(shb + SHB_SECTION_LEN_AT + 4, (uint32_t)(SECTION_LEN_UNKNOWN >> 32));
  host_pcapng_put_block(w, BT_SHB, shb, sizeof shb, NULL, 0);
  for (unsigned i = 0; i < n; i++) {
    uint8_t idb[IDB_FIXED_LEN + 3 * OPT_HDR_LEN + IF_NAME_MAX + BLOCK_ALIGN];
    size_t name_len = strlen(names[i]) < IF_NAME_MAX ? strlen(names[i]) : IF_NAME_MAX;
    uint8_t resol = IF_TSRESOL_NS;
    memset(idb, 0, IDB_FIXED_LEN);
    host_pcapng_put_le16(idb + IDB_LINKTYPE_AT, LINKTYPE_ETHERNET);
    size_t at = IDB_FIXED_LEN; /* snaplen 0: no limit */
    at += host_pcapng_put_option(idb + at, IF_NAME, names[i], name_len);
    at += host_pcapng_put_option(idb + at, IF_TSRESOL, &resol, OPT_TSRESOL_LEN);
    at += host_pcapng_put_option(idb + at, OPT_ENDOFOPT, NULL, 0);
    host_pcapng_put_block(w, BT_IDB, idb, at, NULL, 0);
  }
}

int host_pcapng_writer_open(host_pcapng_writer *w, const char *path, const char *const *names,
                            unsigned n, char *err, size_t errcap) {
  memset(w, 0, sizeof *w);
  if (n == 0 || n > HOST_PCAPNG_MAX_IFACES) {
    snprintf(err, errcap, "%s: %u interfaces, a pcapng writer takes 1 to %d", path, n,
             HOST_PCAPNG_MAX_IFACES);
    return EMU_EIO;
  }
  if (host_outfile_open(&w->out, path, err, errcap)) return EMU_EIO;
  w->nifaces = n;
  host_pcapng_put_headers(w, names, n);
  return 0;
}

void host_pcapng_writer_write(host_pcapng_writer *w, unsigned iface, uint64_t ts_ns,
                              const uint8_t *frame, size_t len) {
  if (iface >= w->nifaces || len > UINT32_MAX - BLOCK_MIN_LEN - EPB_FIXED_LEN - BLOCK_ALIGN) {
    w->failed = 1;
    return;
  }
  uint8_t epb[EPB_FIXED_LEN];
  host_pcapng_put_le32(epb + EPB_IFACE_AT, iface);
  host_pcapng_put_le32(epb + EPB_TS_HIGH_AT, (uint32_t)(ts_ns >> 32));
  host_pcapng_put_le32(epb + EPB_TS_LOW_AT, (uint32_t)ts_ns);
  host_pcapng_put_le32(epb + EPB_CAPLEN_AT, (uint32_t)len);
  host_pcapng_put_le32(epb + EPB_ORIGLEN_AT, (uint32_t)len);
  host_pcapng_put_block(w, BT_EPB, epb, sizeof epb, frame, len);
  w->frames[iface]++;
}

int host_pcapng_writer_close(host_pcapng_writer *w) {
  if (w->failed) {
    host_outfile_abort(&w->out);
    return EMU_EIO;
  }
  return host_outfile_commit(&w->out) ? EMU_EIO : 0;
}

void host_pcapng_writer_abort(host_pcapng_writer *w) { host_outfile_abort(&w->out); }
