/* libFuzzer target: the driver half of a split virtqueue against a hostile
 * device. The input is a program: the driver adds buffers, publishes, takes
 * used elements and switches interrupts on and off, while the device writes
 * used elements at any slot, moves used.idx on its own (forwards, backwards,
 * anywhere) and sets its suppression fields; an honest device step returns
 * a real head, so well-formed traffic is easy to reach. Both sides start
 * 0..255 below 65536, so the 16-bit indices wrap in most runs.
 *
 * Oracles, besides ASan and UBSan: a refusal names its rule; what the driver
 * accepts is a head this target offered and has not had back, with its own
 * token, and a length within that chain's writable bytes counted in 64 bits
 * (§2.7.8: the device writes at most that much); a length within them is
 * never refused as too big; the driver's books (free descriptors plus those
 * in flight) make the whole table and agree with the heads outstanding here.
 *
 * Input: byte 0 = size code (2..64) | indirect << 3 | event_idx << 4,
 * byte 1 = how far below 65536 both sides start, then operations: an opcode
 * byte and that operation's arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "fuzz/input.h"
#include "virtio/vq_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE     (1u << 16)
#define QSIZE_MAX    64u
#define MAX_INDIRECT 4u
#define SEG_BYTES    16u
/* Segment lengths an ADD can ask for beside SEG_BYTES: big enough that two
 * writable ones pass 4 GiB together (descriptors are not checked against
 * guest memory by the driver that writes them). */
#define SEG_HUGE 0xc0000000u

enum {
  OP_ADD,       /* shape: n_out (bits 0-1), n_in (bits 2-3), huge lengths (bit 4) */
  OP_PUBLISH,   /* (none) */
  OP_GET,       /* how many gets to try */
  OP_ELEM,      /* slot offset from the device's used.idx (s8), id le16, len le32 */
  OP_IDX_STEP,  /* used.idx += s8 */
  OP_IDX_RAW,   /* used.idx = le16 */
  OP_HONEST,    /* which head in flight, len fraction: a correct used element */
  OP_INTERRUPT, /* bit 0: enable, else disable */
  OP_SUPPRESS,  /* avail_event or used flags (bit 0 of the first byte), value le16 */
  OP_TAKE_AT,   /* used index offset from the driver's cursor (s8) */
  OP_COUNT
};

typedef struct rig {
  gmem mem;
  vq_drv q;
  uint64_t bufs;
  uint16_t dev_used; /* the used.idx the device last wrote */
  uintptr_t next_token;
  /* per head, what this target offered and has not had back */
  uintptr_t token[QSIZE_MAX];
  uint64_t writable[QSIZE_MAX];
  uint32_t outstanding;
} rig;

/* Witnesses for the coverage report (and feedback for the fuzzer): each
 * block runs only when that cursor crossed 65535 -> 0 in one operation. */
static volatile unsigned wraps_seen[2];

static void note_wraps(const vq_drv *q, uint16_t avail, uint16_t used) {
  if (q->avail_idx_shadow < avail) {
    wraps_seen[0]++; /* the avail index wrapped */
  }
  if (q->last_used_idx < used) {
    wraps_seen[1]++; /* the used cursor wrapped */
  }
}

static void rig_init(rig *r, uint8_t shape, uint16_t start) {
  /* Guest memory is made once and zeroed per run: a fresh large allocation
   * each run costs more than the run (ASan maps and unmaps it). */
  if (!r->mem.host && gmem_init(&r->mem, GMEM_DEFAULT_BASE, MEM_SIZE)) abort();
  memset(r->mem.host, 0, r->mem.size);
  r->mem.brk = 0;
  uint16_t qsize = (uint16_t)(2u << (shape % 6));
  if (vq_drv_init(&r->q, &r->mem, qsize, (shape >> 4) & 1, (shape >> 3) & 1, MAX_INDIRECT)) abort();
  if (gmem_alloc(&r->mem, (uint64_t)qsize * MAX_INDIRECT * SEG_BYTES, 8, &r->bufs)) abort();
  /* As after 65536 - distance buffers went round: both sides agree. */
  r->q.avail_idx_shadow = r->q.avail_idx_published = start;
  vq_drv_set_last_used(&r->q, start);
  r->dev_used = start;
  gmem_write_le16(&r->mem, vq_avail_idx_addr(&r->q.layout), start);
  gmem_write_le16(&r->mem, vq_used_idx_addr(&r->q.layout), start);
  r->next_token = 1;
  memset(r->token, 0, sizeof r->token);
  r->outstanding = 0;
}

static void op_add(rig *r, uint8_t shape) {
  unsigned n_out = shape & 3u, n_in = (shape >> 2) & 3u;
  uint32_t len = (shape >> 4) & 1 ? SEG_HUGE : SEG_BYTES;
  vq_sg sg[6];
  uint64_t writable = 0;
  for (unsigned i = 0; i < n_out + n_in; i++) {
    sg[i] = (vq_sg){r->bufs + (uint64_t)(r->next_token % QSIZE_MAX) * MAX_INDIRECT * SEG_BYTES +
                        (uint64_t)(i % MAX_INDIRECT) * SEG_BYTES,
                    len};
    if (i >= n_out) writable += len;
  }
  int head = vq_drv_add(&r->q, sg, n_out, n_in, (void *)r->next_token);
  if (head < 0) return;
  if (r->token[head]) abort(); /* handed out a head still in flight */
  r->token[head] = r->next_token++;
  r->writable[head] = writable;
  r->outstanding++;
}

/* Checks what the driver made of one used element and updates the books. */
static void check_taken(rig *r, int rc, const vq_used_elem *e) {
  if (rc == EMU_EPROTO && r->q.last_violation == VQ_RULE_NONE) abort();
  if (rc && rc != EMU_EPROTO) return;
  if (!e->token) {
    if (rc == 0) abort(); /* accepted without a buffer */
    return;
  }
  /* A token means the driver freed that head: it must be ours, in flight. */
  if (e->head >= QSIZE_MAX || r->token[e->head] != (uintptr_t)e->token) abort();
  uint64_t writable = r->writable[e->head];
  if (rc == 0 && e->len > writable) abort();
  if (rc == EMU_EPROTO && r->q.last_violation == VQ_RULE_USED_LEN_TOO_BIG) {
    /* refused as too long: the element's length must really exceed it */
    uint32_t written = 0;
    uint16_t slot = (uint16_t)(r->q.last_used_idx - 1);
    gmem_read_le32(&r->mem, vq_used_slot_addr(&r->q.layout, slot) + 4, &written);
    if (written <= writable) abort();
  }
  r->token[e->head] = 0;
  r->outstanding--;
}

static void op_get(rig *r, uint8_t tries) {
  for (unsigned i = 0; i < 1u + tries % 8u; i++) {
    vq_used_elem e = {0, 0, NULL};
    int rc = vq_drv_get_used(&r->q, &e);
    if (rc == EMU_EAGAIN) return;
    check_taken(r, rc, &e);
  }
}

static void op_elem(rig *r, const uint8_t a[7]) {
  uint64_t slot = vq_used_slot_addr(&r->q.layout, (uint16_t)(r->dev_used + (int8_t)a[0]));
  gmem_write_le32(&r->mem, slot, (uint32_t)(a[1] | a[2] << 8));
  gmem_write_le32(&r->mem, slot + 4, emu_get_le32(a + 3));
}

static void set_used_idx(rig *r, uint16_t idx) {
  r->dev_used = idx;
  gmem_write_le16(&r->mem, vq_used_idx_addr(&r->q.layout), idx);
}

/* A correct device returns the which-th head in flight with a length it may
 * write (§2.7.8), then publishes. */
static void op_honest(rig *r, uint8_t which, uint8_t frac) {
  if (!r->outstanding) return;
  unsigned n = which % r->outstanding;
  for (uint16_t h = 0; h < r->q.layout.size; h++) {
    if (!r->token[h] || n--) continue;
    uint64_t slot = vq_used_slot_addr(&r->q.layout, r->dev_used);
    uint64_t most = r->writable[h] < UINT32_MAX ? r->writable[h] : UINT32_MAX;
    gmem_write_le32(&r->mem, slot, h);
    gmem_write_le32(&r->mem, slot + 4, (uint32_t)(most * frac / 255u));
    set_used_idx(r, (uint16_t)(r->dev_used + 1));
    return;
  }
}

static void op_take_at(rig *r, uint8_t off) {
  vq_used_elem e = {0, 0, NULL};
  int rc = vq_drv_take_used_at(&r->q, (uint16_t)(r->q.last_used_idx + (int8_t)off), &e);
  if (rc == EMU_EPROTO && r->q.last_violation == VQ_RULE_USED_LEN_TOO_BIG) rc = 0;
  if (rc == 0 && e.token) {
    if (e.head >= QSIZE_MAX || r->token[e.head] != (uintptr_t)e.token) abort();
    r->token[e.head] = 0;
    r->outstanding--;
  }
}

static void step(rig *r, uint8_t op, fuzz_in *in) {
  uint8_t a[7];
  const vq_layout *l = &r->q.layout;
  switch (op % OP_COUNT) {
    case OP_ADD:
      if (take(in, a, 1)) op_add(r, a[0]);
      break;
    case OP_PUBLISH:
      vq_drv_kick_needed_unpublished(&r->q);
      vq_drv_publish(&r->q);
      break;
    case OP_GET:
      if (take(in, a, 1)) op_get(r, a[0]);
      break;
    case OP_ELEM:
      if (take(in, a, 7)) op_elem(r, a);
      break;
    case OP_IDX_STEP:
      if (take(in, a, 1)) set_used_idx(r, (uint16_t)(r->dev_used + (int8_t)a[0]));
      break;
    case OP_IDX_RAW:
      if (take(in, a, 2)) set_used_idx(r, (uint16_t)(a[0] | a[1] << 8));
      break;
    case OP_HONEST:
      if (take(in, a, 2)) op_honest(r, a[0], a[1]);
      break;
    case OP_INTERRUPT:
      if (!take(in, a, 1)) break;
      if (a[0] & 1)
        vq_drv_enable_interrupts(&r->q);
      else
        vq_drv_disable_interrupts(&r->q);
      break;
    case OP_SUPPRESS:
      if (take(in, a, 3))
        gmem_write_le16(&r->mem, a[0] & 1 ? vq_avail_event_addr(l) : vq_used_flags_addr(l),
                        (uint16_t)(a[1] | a[2] << 8));
      break;
    case OP_TAKE_AT:
      if (take(in, a, 1)) op_take_at(r, a[0]);
      break;
  }
}

/* The driver's books: free descriptors plus those held by heads in flight
 * make the whole table, and the heads in flight are the ones out here. */
static void check_books(const rig *r) {
  uint32_t held = 0, heads = 0;
  for (uint32_t h = 0; h < r->q.layout.size; h++) {
    if (!r->q.heads[h].in_flight != !r->token[h]) abort();
    if (!r->q.heads[h].in_flight) continue;
    held += r->q.heads[h].ndesc;
    heads++;
  }
  if (held + r->q.num_free != r->q.layout.size || heads != r->q.in_flight) abort();
  if (heads != r->outstanding) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static rig r;
  rig_init(&r, data[0], (uint16_t)(0u - data[1]));
  fuzz_in in = {data + 2, size - 2};
  uint8_t op;
  while (take(&in, &op, 1)) {
    uint16_t avail = r.q.avail_idx_shadow, used = r.q.last_used_idx;
    step(&r, op, &in);
    note_wraps(&r.q, avail, used);
    check_books(&r);
  }
  vq_drv_close(&r.q);
  return 0;
}
