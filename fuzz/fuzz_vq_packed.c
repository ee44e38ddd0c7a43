/* libFuzzer target: both halves of a packed virtqueue (virtio 1.2 §2.8)
 * over one guest memory, with a hostile third party scribbling on the ring
 * and the event suppression structures between their operations. The
 * input is a program: well-formed offers by the driver half, raw
 * descriptor and suppression writes, device pops and pushes (of held ids,
 * with any length), and the driver taking used buffers back.
 *
 * Oracles, besides ASan and UBSan: a refusal names its rule; a popped chain
 * has 1..size segments inside guest memory whose lengths add up; the device
 * never pops an id it holds; a push of a held id is taken exactly when its
 * length fits; the driver's books balance (ids in flight plus free ids make
 * the queue size, free descriptors never exceed it) and a buffer it takes
 * back carries the token it was offered with.
 *
 * Input: byte 0 = size (1..64) | event_idx << 6 | indirect << 7, then
 * operations: an opcode byte and that operation's arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "fuzz/input.h"
#include "virtio/vq_packed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE  (1u << 18)
#define QSIZE_MAX 64u
#define SEG_BYTES 64u

enum { OP_OFFER, OP_RAW_DESC, OP_RAW_EVENT, OP_POP, OP_PUSH, OP_TAKE, OP_NOTIFY, OP_COUNT };

typedef struct rig {
  gmem mem;
  vqp_drv drv;
  vqp_dev dev;
  uint64_t bufs;
  uint16_t nheld, held[QSIZE_MAX];
  uint8_t holds[QSIZE_MAX];
  uint64_t held_writable[QSIZE_MAX];
} rig;

static void check_books(const rig *r) {
  if (r->drv.in_flight + r->drv.nfree_ids != r->drv.layout.size) abort();
  if (r->drv.num_free > r->drv.layout.size) abort();
}

static void op_offer(rig *r, const uint8_t a[2]) {
  unsigned n_out = a[0] % 3, n_in = a[1] % 3;
  vq_sg sg[4];
  for (unsigned i = 0; i < n_out + n_in; i++)
    sg[i] = (vq_sg){r->bufs + (uint64_t)(a[0] + i) % 128 * SEG_BYTES, SEG_BYTES};
  int id = vqp_drv_add(&r->drv, sg, n_out, n_in, (void *)(uintptr_t)(a[1] + 1u));
  if (id >= 0 && (unsigned)id >= r->drv.layout.size) abort();
}

/* The third party: any descriptor, at any position, with any flags. */
static void op_raw_desc(rig *r, const uint8_t a[6]) {
  uint64_t at = vqp_desc_addr(&r->drv.layout, a[0] % r->drv.layout.size);
  uint64_t addr = a[1] == 0xff ? 0 : r->bufs + (uint64_t)a[1] * 16;
  gmem_write_le64(&r->mem, at + VQP_DESC_OFF_ADDR, addr);
  gmem_write_le32(&r->mem, at + VQP_DESC_OFF_LEN, a[2]);
  gmem_write_le16(&r->mem, at + VQP_DESC_OFF_ID, a[3]);
  gmem_write_le16(&r->mem, at + VQP_DESC_OFF_FLAGS, (uint16_t)(a[4] | a[5] << 8));
}

static void op_raw_event(rig *r, const uint8_t a[3]) {
  uint64_t base = a[0] & 1 ? r->drv.layout.device : r->drv.layout.driver;
  gmem_write_le16(&r->mem, base + (a[0] & 2 ? VQP_EVENT_OFF_FLAGS : VQP_EVENT_OFF_DESC),
                  (uint16_t)(a[1] | a[2] << 8));
}

static void op_pop(rig *r) {
  vq_chain c;
  int rc = vqp_dev_pop(&r->dev, &c);
  if (rc == EMU_EPROTO && r->dev.broken == VQ_RULE_NONE) abort(); /* a refusal names its rule */
  if (rc) return;
  if (c.nseg == 0 || c.nseg > r->dev.layout.size || c.head >= r->dev.layout.size) abort();
  uint64_t readable = 0, writable = 0;
  for (uint32_t i = 0; i < c.nseg; i++) {
    if (!gmem_in_range(&r->mem, c.seg[i].gpa, c.seg[i].len)) abort();
    *(c.seg[i].writable ? &writable : &readable) += c.seg[i].len;
  }
  if (readable != c.readable_len || writable != c.writable_len) abort();
  if (r->holds[c.head]) abort(); /* §2.8.13: one owner per buffer id */
  r->holds[c.head] = 1;
  r->held_writable[c.head] = c.writable_len;
  r->held[r->nheld++] = c.head;
}

static void op_push(rig *r, const uint8_t a[2]) {
  if (!r->nheld) return;
  uint16_t which = a[0] % r->nheld, id = r->held[which];
  uint32_t len = a[1] * 2u;
  int rc = vqp_dev_push(&r->dev, id, len);
  if ((rc == 0) != (len <= r->held_writable[id])) abort();
  if (rc) return;
  r->held[which] = r->held[--r->nheld];
  r->holds[id] = 0;
}

static void op_take(rig *r) {
  vq_used_elem e;
  int rc = vqp_drv_get_used(&r->drv, &e);
  if (rc == EMU_EPROTO && r->drv.last_violation == VQ_RULE_NONE) abort();
  if (rc == 0 && !e.token) abort(); /* a buffer taken back has the token it went with */
}

static void op_notify(rig *r, uint8_t how) {
  switch (how % 6) {
    case 0:
      vqp_drv_kick_needed(&r->drv);
      break;
    case 1:
      vqp_drv_enable_interrupts(&r->drv);
      break;
    case 2:
      vqp_drv_disable_interrupts(&r->drv);
      break;
    case 3:
      vqp_dev_need_interrupt(&r->dev);
      break;
    case 4:
      vqp_dev_enable_notify(&r->dev);
      break;
    default:
      vqp_dev_disable_notify(&r->dev);
      break;
  }
}

static void run_program(rig *r, fuzz_in *in) {
  uint8_t op, a[6];
  static const uint8_t nargs[OP_COUNT] = {2, 6, 3, 0, 2, 0, 1};
  while (take(in, &op, 1)) {
    op %= OP_COUNT;
    if (!take(in, a, nargs[op])) return;
    switch (op) {
      case OP_OFFER:
        op_offer(r, a);
        break;
      case OP_RAW_DESC:
        op_raw_desc(r, a);
        break;
      case OP_RAW_EVENT:
        op_raw_event(r, a);
        break;
      case OP_POP:
        op_pop(r);
        break;
      case OP_PUSH:
        op_push(r, a);
        break;
      case OP_TAKE:
        op_take(r);
        break;
      default:
        op_notify(r, a[0]);
        break;
    }
    check_books(r);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rig r;
  fuzz_in in = {data, size};
  uint8_t shape;
  if (!take(&in, &shape, 1)) return 0;
  uint16_t qsize = (uint16_t)(1 + shape % QSIZE_MAX);
  /* Guest memory is made once and zeroed per run (see fuzz_vq_dev.c). */
  if (!r.mem.host && gmem_init(&r.mem, GMEM_DEFAULT_BASE, MEM_SIZE)) abort();
  memset(r.mem.host, 0, r.mem.size);
  r.mem.brk = 0;
  r.nheld = 0;
  memset(r.holds, 0, sizeof r.holds);
  if (vqp_drv_init(&r.drv, &r.mem, qsize, (shape >> 6) & 1)) abort();
  if (vqp_dev_init(&r.dev, &r.mem, &r.drv.layout, (shape >> 6) & 1, shape >> 7)) abort();
  if (gmem_alloc(&r.mem, 128u * SEG_BYTES, 64, &r.bufs)) abort();
  run_program(&r, &in);
  vqp_dev_close(&r.dev);
  vqp_drv_close(&r.drv);
  return 0;
}
