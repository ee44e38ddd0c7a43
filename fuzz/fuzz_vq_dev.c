/* libFuzzer target: the device half of a split virtqueue against a hostile
 * driver. The input is a program: each operation is either something the
 * driver writes in guest memory (a descriptor, an avail slot, avail.idx, a
 * buffer or indirect table, the suppression fields) or something the device
 * does (pop, push, publish, the notification decisions). So the driver
 * writes between pops and the device meets a ring that changes under it.
 * Both sides start at an index just below 65536, so an input that pops a few
 * chains crosses the wrap of the free-running 16-bit indices (virtio 1.2
 * §2.7.6, §2.7.8: idx wraps naturally at 65536).
 *
 * Oracles, besides ASan and UBSan: a refusal names its rule; a chain that
 * pops has 1..size segments inside guest memory whose lengths add up; the
 * device never pops a head it holds (popped, not yet pushed: §2.7.13 gives
 * each head one owner); the scan cursor never runs ahead of the avail.idx
 * the device last read by more than a queue while the queue is healthy.
 *
 * Input: byte 0 = size code (2..256) | event_idx << 3 | indirect << 4,
 * byte 1 = how far below 65536 both sides start (0: at 0), then operations:
 * an opcode byte and that operation's arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "fuzz/input.h"
#include "virtio/vq_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE  (1u << 18)
#define SEG_BYTES 64u     /* each buffer segment an OFFER writes */
#define SEGS_MAX  4u      /* segments per offered chain */
#define COPY_MAX  4096    /* bytes copied per chain */
#define ADDR_UNIT 16u     /* OP_DESC addresses count in these from the buffer area */
#define ADDR_RAW  0x8000u /* OP_DESC address units from here on mean gpa 0 */
#define QSIZE_MAX 256u

enum {
  OP_DESC,       /* idx, addr units le16, len le16, flags, next */
  OP_AVAIL_SLOT, /* slot offset from the driver's avail.idx (s8), head le16 */
  OP_OFFER,      /* head, shape: a well-formed chain, published */
  OP_AVAIL_STEP, /* avail.idx += s8 */
  OP_AVAIL_RAW,  /* avail.idx = le16 */
  OP_POP,        /* mode: bit 0 push at once */
  OP_PUSH,       /* which held head, len le16 */
  OP_PUBLISH,    /* bit 0: enable notifications, else disable */
  OP_BYTES,      /* offset le16, n, then n bytes into the buffer area */
  OP_SUPPRESS,   /* used_event or avail flags (bit 0 of the first byte), value le16 */
  OP_COUNT
};

typedef struct rig {
  gmem mem;
  vq_layout l;
  vq_dev q;
  uint64_t indirect_area, bufs, bufs_end;
  uint16_t drv_avail; /* the avail.idx the driver last wrote */
  uint16_t nheld;
  uint16_t held[QSIZE_MAX];          /* heads popped and not yet pushed, in pop order */
  uint8_t holds[QSIZE_MAX];          /* the same, by head */
  uint64_t held_writable[QSIZE_MAX]; /* the popped chain's device-writable bytes */
  uint8_t copy[COPY_MAX];
} rig;

/* Witnesses for the coverage report (and feedback for the fuzzer): each
 * block runs only when that cursor crossed 65535 -> 0 in one operation. */
static volatile unsigned wraps_seen[3];

static void note_wraps(const vq_dev *q, uint16_t last_avail, uint16_t used, uint16_t scanned) {
  if (q->last_avail_idx < last_avail) {
    wraps_seen[0]++; /* the pop cursor wrapped */
  }
  if (q->used_idx_shadow < used) {
    wraps_seen[1]++; /* the used index wrapped */
  }
  if (q->avail_scanned < scanned) {
    wraps_seen[2]++; /* the scan cursor wrapped */
  }
}

static int rig_init(rig *r, uint8_t shape, uint16_t start) {
  uint16_t qsize = (uint16_t)(2u << (shape % 8));
  /* Guest memory is made once and zeroed per run: a fresh large allocation
   * each run costs more than the run (ASan maps and unmaps it). */
  if (!r->mem.host && gmem_init(&r->mem, GMEM_DEFAULT_BASE, MEM_SIZE)) abort();
  memset(r->mem.host, 0, r->mem.size);
  r->mem.brk = 0;
  r->l = (vq_layout){qsize, 0, 0, 0};
  if (gmem_alloc(&r->mem, vq_desc_table_bytes(qsize), VQ_DESC_ALIGN, &r->l.desc) ||
      gmem_alloc(&r->mem, vq_avail_bytes(qsize), VQ_AVAIL_ALIGN, &r->l.avail) ||
      gmem_alloc(&r->mem, vq_used_bytes(qsize), VQ_USED_ALIGN, &r->l.used) ||
      gmem_alloc(&r->mem, (uint64_t)qsize * SEGS_MAX * VQ_DESC_SIZE, VQ_DESC_ALIGN,
                 &r->indirect_area) ||
      gmem_alloc(&r->mem, (uint64_t)qsize * SEGS_MAX * SEG_BYTES, 8, &r->bufs))
    abort();
  r->bufs_end = r->mem.base + r->mem.size;
  if (vq_dev_init(&r->q, &r->mem, &r->l, (shape >> 3) & 1, (shape >> 4) & 1)) abort();
  /* As after 65536 - distance chains went round: both sides agree on every
   * index (the device's cursors are its own, set as its history left them). */
  r->q.last_avail_idx = r->q.avail_scanned = start;
  r->q.used_idx_shadow = r->q.used_idx_published = r->q.signalled_used = start;
  r->drv_avail = start;
  gmem_write_le16(&r->mem, vq_avail_idx_addr(&r->l), start);
  gmem_write_le16(&r->mem, vq_used_idx_addr(&r->l), start);
  return 0;
}

static void write_desc(rig *r, uint64_t at, uint64_t addr, uint32_t len, uint16_t flags,
                       uint16_t next) {
  gmem_write_le64(&r->mem, at, addr);
  gmem_write_le32(&r->mem, at + 8, len);
  gmem_write_le16(&r->mem, at + 12, flags);
  gmem_write_le16(&r->mem, at + 14, next);
}

static void publish_avail(rig *r, uint16_t idx) {
  r->drv_avail = idx;
  gmem_write_le16(&r->mem, vq_avail_idx_addr(&r->l), idx);
}

/* What a correct driver writes for one buffer: readable segments, then
 * optionally one writable, directly or through an indirect table (§2.7.5). */
static void op_offer(rig *r, uint8_t head_arg, uint8_t shape) {
  uint16_t qsize = r->l.size, head = head_arg % qsize;
  unsigned nseg = 1u + (shape & 3u);
  int last_writable = (shape >> 2) & 1, indirect = (shape >> 3) & 1;
  uint64_t buf = r->bufs + (uint64_t)head * SEGS_MAX * SEG_BYTES;
  uint64_t table = r->indirect_area + (uint64_t)head * SEGS_MAX * VQ_DESC_SIZE;
  for (unsigned i = 0; i < nseg; i++) {
    uint16_t flags = (uint16_t)((i + 1 < nseg ? VQ_DESC_F_NEXT : 0) |
                                (last_writable && i + 1 == nseg ? VQ_DESC_F_WRITE : 0));
    uint16_t d = indirect ? (uint16_t)i : (uint16_t)((head + i) % qsize);
    uint16_t next = indirect ? (uint16_t)(i + 1) : (uint16_t)((head + i + 1) % qsize);
    uint64_t at = indirect ? table + (uint64_t)i * VQ_DESC_SIZE : vq_desc_addr(&r->l, d);
    write_desc(r, at, buf + (uint64_t)i * SEG_BYTES, SEG_BYTES, flags, i + 1 < nseg ? next : 0);
  }
  if (indirect)
    write_desc(r, vq_desc_addr(&r->l, head), table, nseg * VQ_DESC_SIZE, VQ_DESC_F_INDIRECT, 0);
  gmem_write_le16(&r->mem, vq_avail_slot_addr(&r->l, r->drv_avail), head);
  publish_avail(r, (uint16_t)(r->drv_avail + 1));
}

static void check_chain(const rig *r, const vq_chain *c) {
  if (c->nseg == 0 || c->nseg > r->l.size || c->head >= r->l.size) abort();
  uint64_t readable = 0, writable = 0;
  for (uint32_t i = 0; i < c->nseg; i++) {
    if (c->seg[i].len == 0 || !gmem_in_range(&r->mem, c->seg[i].gpa, c->seg[i].len)) abort();
    if (c->seg[i].writable)
      writable += c->seg[i].len;
    else
      readable += c->seg[i].len;
  }
  if (readable != c->readable_len || writable != c->writable_len) abort();
  /* §2.7.13: the head is the device's from its pop to its push, so a pop
   * never returns a head the device holds */
  if (r->holds[c->head]) abort();
}

/* A push of a held head is taken exactly when len fits the chain's
 * device-writable part; a refused one leaves the head with the device. */
static void push_held(rig *r, uint16_t which, uint32_t len) {
  uint16_t head = r->held[which];
  int rc = vq_dev_push(&r->q, head, len);
  if ((rc == 0) != (len <= r->held_writable[head])) abort();
  if (rc) return;
  r->held[which] = r->held[--r->nheld];
  r->holds[head] = 0;
}

static void op_pop(rig *r, uint8_t mode) {
  vq_chain c;
  int rc = vq_dev_pop(&r->q, &c);
  if (rc == EMU_EPROTO && r->q.broken == VQ_RULE_NONE) abort(); /* a refusal names its rule */
  if (rc) return;
  check_chain(r, &c);
  size_t n = c.readable_len < COPY_MAX ? (size_t)c.readable_len : COPY_MAX;
  if (vq_chain_read(&r->q, &c, 0, r->copy, n)) abort();
  n = c.writable_len < COPY_MAX ? (size_t)c.writable_len : COPY_MAX;
  if (vq_chain_write(&r->q, &c, 0, r->copy, n)) abort();
  if (r->nheld == QSIZE_MAX) push_held(r, 0, 0); /* only past a known defect */
  r->holds[c.head] = 1;
  r->held_writable[c.head] = c.writable_len;
  r->held[r->nheld++] = c.head;
  if (mode & 1) push_held(r, (uint16_t)(r->nheld - 1), (uint32_t)n);
}

static void op_bytes(rig *r, fuzz_in *in) {
  uint8_t a[3];
  if (!take(in, a, sizeof a)) return;
  uint64_t at = r->indirect_area + (uint64_t)(a[0] | a[1] << 8) * 4u;
  size_t n = a[2] < in->n ? a[2] : in->n;
  if (at + n <= r->bufs_end) gmem_write(&r->mem, at, in->p, n);
  in->p += n;
  in->n -= n;
}

static void op_desc(rig *r, const uint8_t a[7]) {
  unsigned units = (unsigned)(a[1] | a[2] << 8);
  uint64_t addr = units >= ADDR_RAW ? 0 : r->indirect_area + (uint64_t)units * ADDR_UNIT;
  write_desc(r, vq_desc_addr(&r->l, a[0] % r->l.size), addr, (uint32_t)(a[3] | a[4] << 8), a[5],
             a[6]);
}

static void step(rig *r, uint8_t op, fuzz_in *in) {
  uint8_t a[7];
  switch (op % OP_COUNT) {
    case OP_DESC:
      if (take(in, a, 7)) op_desc(r, a);
      break;
    case OP_AVAIL_SLOT:
      if (take(in, a, 3))
        gmem_write_le16(&r->mem, vq_avail_slot_addr(&r->l, (uint16_t)(r->drv_avail + (int8_t)a[0])),
                        (uint16_t)(a[1] | a[2] << 8));
      break;
    case OP_OFFER:
      if (take(in, a, 2)) op_offer(r, a[0], a[1]);
      break;
    case OP_AVAIL_STEP:
      if (take(in, a, 1)) publish_avail(r, (uint16_t)(r->drv_avail + (int8_t)a[0]));
      break;
    case OP_AVAIL_RAW:
      if (take(in, a, 2)) publish_avail(r, (uint16_t)(a[0] | a[1] << 8));
      break;
    case OP_POP:
      if (take(in, a, 1)) op_pop(r, a[0]);
      break;
    case OP_PUSH:
      if (take(in, a, 3) && r->nheld) push_held(r, a[0] % r->nheld, (uint32_t)(a[1] | a[2] << 8));
      break;
    case OP_PUBLISH:
      if (!take(in, a, 1)) break;
      vq_dev_publish_used(&r->q);
      vq_dev_need_interrupt(&r->q);
      if (a[0] & 1)
        vq_dev_enable_notify(&r->q);
      else
        vq_dev_disable_notify(&r->q);
      break;
    case OP_BYTES:
      op_bytes(r, in);
      break;
    case OP_SUPPRESS:
      if (take(in, a, 3))
        gmem_write_le16(&r->mem, a[0] & 1 ? vq_used_event_addr(&r->l) : vq_avail_flags_addr(&r->l),
                        (uint16_t)(a[1] | a[2] << 8));
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static rig r;
  r.nheld = 0;
  memset(r.holds, 0, sizeof r.holds);
  rig_init(&r, data[0], (uint16_t)(0u - data[1]));
  fuzz_in in = {data + 2, size - 2};
  uint8_t op;
  while (take(&in, &op, 1)) {
    uint16_t last_avail = r.q.last_avail_idx, used = r.q.used_idx_shadow;
    uint16_t scanned = r.q.avail_scanned;
    step(&r, op, &in);
    note_wraps(&r.q, last_avail, used, scanned);
    /* The scan cursor covers slots up to the avail.idx the device read: it
     * is never more than a queue ahead of the pop cursor. */
    if (!r.q.broken && (uint16_t)(r.q.avail_scanned - r.q.last_avail_idx) > r.l.size) abort();
  }
  vq_dev_close(&r.q);
  return 0;
}
