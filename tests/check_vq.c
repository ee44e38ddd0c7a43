/* Check suite for the split virtqueue: the driver half (vq_drv) against the
 * device half (vq_dev), which meet only in guest memory. Driver mistakes are
 * written into guest memory by hand, never through vq_drv, and so are device
 * mistakes the driver half must catch. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "emu/trace.h"
#include "virtio/vq.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_drv.h"

#define MEM_BASE 0x100000ull
#define MEM_SIZE (1ull << 20)
#define TOK(n)   ((void *)(uintptr_t)(n))

static gmem mem;
static vq_drv drv;
static vq_dev dev;

static void setup(void) { ck_assert_int_eq(gmem_init(&mem, MEM_BASE, MEM_SIZE), 0); }

static void teardown(void) {
  vq_drv_close(&drv);
  vq_dev_close(&dev);
  gmem_close(&mem);
}

/* Both halves on one ring the driver allocated. */
static void pair(uint16_t size, int event_idx, int indirect) {
  ck_assert_int_eq(vq_drv_init(&drv, &mem, size, event_idx, indirect, indirect ? 4 : 0), 0);
  ck_assert_int_eq(vq_dev_init(&dev, &mem, &drv.layout, event_idx, indirect), 0);
}

static uint64_t buf(uint64_t len) {
  uint64_t gpa = 0;
  ck_assert_int_eq(gmem_alloc(&mem, len, 8, &gpa), 0);
  return gpa;
}

static uint16_t rd16(uint64_t gpa) {
  uint16_t v = 0;
  ck_assert_int_eq(gmem_read_le16(&mem, gpa, &v), 0);
  return v;
}

static uint32_t rd32(uint64_t gpa) {
  uint32_t v = 0;
  ck_assert_int_eq(gmem_read_le32(&mem, gpa, &v), 0);
  return v;
}

static uint64_t rd64(uint64_t gpa) {
  uint64_t v = 0;
  ck_assert_int_eq(gmem_read_le64(&mem, gpa, &v), 0);
  return v;
}

static void wr16(uint64_t gpa, uint16_t v) { ck_assert_int_eq(gmem_write_le16(&mem, gpa, v), 0); }

static void add_one(uint64_t gpa, uint32_t len, int writable, void *token) {
  vq_sg sg = {gpa, len};
  ck_assert_int_ge(vq_drv_add(&drv, &sg, writable ? 0 : 1, writable ? 1 : 0, token), 0);
}

/* Passes n single-buffer chains through both halves, batch at a time (at most
 * the queue size), checking avail.idx and used.idx in guest memory after each
 * step and that tokens come back in order. Returns the number of mismatches;
 * plain comparisons keep the 65536-round loops fast. */
static uint32_t drive(uint32_t n, unsigned batch, uint64_t b) {
  uint32_t bad = 0, added = 0, popped = 0, done = 0;
  uint16_t base_avail = drv.avail_idx_shadow;
  uintptr_t next_tok = 1, want_tok = 1;
  while (done < n) {
    for (unsigned k = 0; k < batch && added < n; k++) {
      vq_sg sg = {b, 64};
      if (vq_drv_add(&drv, &sg, 0, 1, TOK(next_tok++)) < 0) bad++;
      added++;
    }
    (void)vq_drv_publish(&drv);
    if (rd16(vq_avail_idx_addr(&drv.layout)) != (uint16_t)(base_avail + added)) bad++;
    vq_chain c;
    while (vq_dev_pop(&dev, &c) == 0) {
      if (c.avail_idx != (uint16_t)(base_avail + popped)) bad++;
      if (vq_dev_push(&dev, c.head, 7) != 0) bad++;
      popped++;
    }
    if (vq_dev_publish_used(&dev) != 0) bad++;
    (void)vq_dev_need_interrupt(&dev); /* keeps the "signalled" mark current */
    if (rd16(vq_used_idx_addr(&drv.layout)) != (uint16_t)(base_avail + popped)) bad++;
    vq_used_elem e;
    while (vq_drv_get_used(&drv, &e) == 0) {
      if (e.token != TOK(want_tok++) || e.len != 7) bad++;
      done++;
    }
    if (popped != added || done != added) return bad + 1;
  }
  return bad;
}

/* ---- chains ---------------------------------------------------------------------- */

START_TEST(test_single_readable_buffer_popped_with_one_segment) {
  pair(8, 0, 0);
  uint64_t b = buf(100);
  static const uint8_t msg[5] = {'h', 'e', 'l', 'l', 'o'};
  ck_assert_int_eq(gmem_write(&mem, b, msg, sizeof msg), 0);
  vq_sg sg = {b, 100};
  ck_assert_int_eq(vq_drv_add(&drv, &sg, 1, 0, TOK(42)), 0);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EAGAIN); /* added but not published */
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
  ck_assert_int_eq(vq_dev_has_avail(&dev), 1);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 0);
  ck_assert_uint_eq(c.avail_idx, 0);
  ck_assert_uint_eq(c.nseg, 1);
  ck_assert_uint_eq(c.seg[0].gpa, b);
  ck_assert_uint_eq(c.seg[0].len, 100);
  ck_assert_uint_eq(c.seg[0].writable, 0);
  ck_assert_uint_eq(c.readable_len, 100);
  ck_assert_uint_eq(c.writable_len, 0);
  uint8_t got[5] = {0};
  ck_assert_int_eq(vq_chain_read(&dev, &c, 0, got, sizeof got), 0);
  ck_assert_mem_eq(got, msg, sizeof msg);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EAGAIN);
  ck_assert_uint_eq(dev.last_avail_idx, 1);
}
END_TEST

START_TEST(test_multi_segment_chain_readable_then_writable) {
  pair(8, 0, 0);
  uint64_t g[5];
  const uint32_t len[5] = {10, 20, 5, 7, 9};
  vq_sg sg[5];
  for (int i = 0; i < 5; i++) sg[i] = (vq_sg){g[i] = buf(len[i]), len[i]};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 2, 3, TOK(1)), 0);
  ck_assert_uint_eq(drv.num_free, 3);
  /* the descriptors as the spec lays them out: NEXT on all but the last,
   * WRITE on the device-writable ones */
  for (uint16_t i = 0; i < 5; i++) {
    uint64_t d = vq_desc_addr(&drv.layout, i);
    ck_assert_uint_eq(rd64(d), g[i]);
    ck_assert_uint_eq(rd32(d + 8), len[i]);
    ck_assert_uint_eq(rd16(d + 12), (i < 4 ? VQ_DESC_F_NEXT : 0) | (i >= 2 ? VQ_DESC_F_WRITE : 0));
    ck_assert_uint_eq(rd16(d + 14), i < 4 ? i + 1 : 0);
  }
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 0);
  ck_assert_uint_eq(c.nseg, 5);
  for (int i = 0; i < 5; i++) {
    ck_assert_uint_eq(c.seg[i].gpa, g[i]);
    ck_assert_uint_eq(c.seg[i].len, len[i]);
    ck_assert_uint_eq(c.seg[i].writable, i >= 2);
  }
  ck_assert_uint_eq(c.readable_len, 30);
  ck_assert_uint_eq(c.writable_len, 21);
  ck_assert_int_eq(vq_dev_push(&dev, c.head, 21), 0);
  ck_assert_int_eq(vq_dev_publish_used(&dev), 0);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&drv.layout)), 1);
  ck_assert_uint_eq(rd32(vq_used_slot_addr(&drv.layout, 0)), 0);
  ck_assert_uint_eq(rd32(vq_used_slot_addr(&drv.layout, 0) + 4), 21);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_uint_eq(e.head, 0);
  ck_assert_uint_eq(e.len, 21);
  ck_assert_ptr_eq(e.token, TOK(1));
  ck_assert_uint_eq(drv.num_free, 8);
  ck_assert_uint_eq(drv.in_flight, 0);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EAGAIN);
}
END_TEST

START_TEST(test_chain_write_and_read_cross_segment_boundaries) {
  pair(8, 0, 0);
  uint64_t r0 = buf(10), r1 = buf(20), w0 = buf(5), w1 = buf(7), w2 = buf(9);
  vq_sg sg[5] = {{r0, 10}, {r1, 20}, {w0, 5}, {w1, 7}, {w2, 9}};
  uint8_t rd[30];
  for (int i = 0; i < 30; i++) rd[i] = (uint8_t)(0x80 + i);
  ck_assert_int_eq(gmem_write(&mem, r0, rd, 10), 0);
  ck_assert_int_eq(gmem_write(&mem, r1, rd + 10, 20), 0);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 2, 3, TOK(1)), 0);
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);

  /* write 11 bytes at offset 3: 2 in w0, 7 in w1, 2 in w2 */
  uint8_t src[11];
  for (int i = 0; i < 11; i++) src[i] = (uint8_t)(i + 1);
  ck_assert_int_eq(vq_chain_write(&dev, &c, 3, src, sizeof src), 0);
  uint8_t a[5], b[7], d[9];
  ck_assert_int_eq(gmem_read(&mem, w0, a, 5), 0);
  ck_assert_int_eq(gmem_read(&mem, w1, b, 7), 0);
  ck_assert_int_eq(gmem_read(&mem, w2, d, 9), 0);
  static const uint8_t wa[5] = {0, 0, 0, 1, 2};
  static const uint8_t wb[7] = {3, 4, 5, 6, 7, 8, 9};
  static const uint8_t wd[9] = {10, 11, 0, 0, 0, 0, 0, 0, 0};
  ck_assert_mem_eq(a, wa, 5);
  ck_assert_mem_eq(b, wb, 7);
  ck_assert_mem_eq(d, wd, 9);
  /* the readable buffers are not part of the writable space */
  uint8_t r0now[10];
  ck_assert_int_eq(gmem_read(&mem, r0, r0now, 10), 0);
  ck_assert_mem_eq(r0now, rd, 10);
  /* exactly to the end is fine, one byte more is not */
  uint8_t z[21] = {0};
  ck_assert_int_eq(vq_chain_write(&dev, &c, 0, z, 21), 0);
  ck_assert_int_eq(vq_chain_write(&dev, &c, 0, z, 22), EMU_ERANGE);
  ck_assert_int_eq(vq_chain_write(&dev, &c, 21, z, 1), EMU_ERANGE);
  ck_assert_int_eq(vq_chain_write(&dev, &c, 21, z, 0), 0);

  /* read 6 bytes across the r0|r1 boundary, then all 30 */
  uint8_t got[30];
  ck_assert_int_eq(vq_chain_read(&dev, &c, 7, got, 6), 0);
  ck_assert_mem_eq(got, rd + 7, 6);
  ck_assert_int_eq(vq_chain_read(&dev, &c, 0, got, 30), 0);
  ck_assert_mem_eq(got, rd, 30);
  ck_assert_int_eq(vq_chain_read(&dev, &c, 25, got, 6), EMU_ERANGE);
}
END_TEST

START_TEST(test_add_without_free_descriptors_is_enospc_and_empty_add_einval) {
  pair(4, 0, 0);
  uint64_t b = buf(64);
  vq_sg sg[5] = {{b, 8}, {b, 8}, {b, 8}, {b, 8}, {b, 8}};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 0, 0, TOK(1)), EMU_EINVAL);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 5, 0, TOK(1)), EMU_ENOSPC);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 3, 0, TOK(1)), 0);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(2)), EMU_ENOSPC);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 0, TOK(3)), 3);
  ck_assert_uint_eq(drv.num_free, 0);
  ck_assert_uint_eq(drv.avail_idx_shadow, 2);
  vq_drv_close(&drv);
  ck_assert_int_eq(vq_drv_init(&drv, &mem, 6, 0, 0, 0), EMU_EINVAL);
  ck_assert_int_eq(vq_drv_init(&drv, &mem, 0, 0, 0, 0), EMU_EINVAL);
}
END_TEST

/* A head belongs to the device only once its avail slot is written: when
 * that write fails, the descriptors go back to the free list unmarked. */
START_TEST(test_add_failing_avail_write_leaves_no_head_in_flight) {
  pair(4, 0, 0);
  uint64_t b = buf(64);
  vq_sg sg[2] = {{b, 8}, {b + 8, 8}};
  uint64_t avail = drv.layout.avail;
  drv.layout.avail = MEM_BASE + MEM_SIZE; /* the slot write now lands outside */
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(1)), EMU_ERANGE);
  ck_assert_uint_eq(drv.in_flight, 0);
  ck_assert_uint_eq(drv.num_free, 4);
  ck_assert_uint_eq(drv.free_head, 0);
  ck_assert_uint_eq(drv.heads[0].in_flight, 0);
  ck_assert_uint_eq(drv.avail_idx_shadow, 0);
  drv.layout.avail = avail;
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(1)), 0);
  ck_assert_uint_eq(drv.in_flight, 1);
  ck_assert_uint_eq(drv.num_free, 2);
}
END_TEST

START_TEST(test_buffer_index_token_round_trip_and_never_null) {
  ck_assert_ptr_nonnull(vq_token_from_index(0));
  ck_assert_uint_eq(vq_token_index(vq_token_from_index(0)), 0);
  ck_assert_uint_eq(vq_token_index(vq_token_from_index(32767)), 32767);
  pair(4, 0, 0);
  add_one(buf(64), 64, 1, vq_token_from_index(0));
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_push(&dev, c.head, 0), 0);
  ck_assert_int_eq(vq_dev_publish_used(&dev), 0);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_uint_eq(vq_token_index(e.token), 0);
}
END_TEST

/* ---- free-running indices -------------------------------------------------------- */

START_TEST(test_indices_wrap_past_65535_and_tokens_return_in_order) {
  pair(4, 0, 0);
  uint64_t b = buf(64);
  /* 65535 = 3 * 21845: the driver publishes exactly 65535 once */
  ck_assert_uint_eq(drive(65535, 3, b), 0);
  ck_assert_uint_eq(rd16(vq_avail_idx_addr(&drv.layout)), 65535);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&drv.layout)), 65535);
  ck_assert_uint_eq(drive(101, 3, b), 0);
  ck_assert_uint_eq(rd16(vq_avail_idx_addr(&drv.layout)), 100);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&drv.layout)), 100);
  ck_assert_uint_eq(dev.last_avail_idx, 100);
  ck_assert_uint_eq(dev.used_idx_published, 100);
  ck_assert_uint_eq(drv.last_used_idx, 100);
  ck_assert_uint_eq(drv.num_free, 4);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_NONE);
  ck_assert_int_eq(dev.broken, VQ_RULE_NONE);
}
END_TEST

START_TEST(test_full_ring_across_wrap_keeps_order) {
  /* every slot in use at the moment the indices wrap */
  pair(8, 0, 0);
  uint64_t b = buf(64);
  ck_assert_uint_eq(drive(65532, 8, b), 0);
  ck_assert_uint_eq(drive(8 * 10, 8, b), 0);
  ck_assert_uint_eq(rd16(vq_avail_idx_addr(&drv.layout)), (uint16_t)(65532 + 80));
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&drv.layout)), (uint16_t)(65532 + 80));
}
END_TEST

/* ---- notification suppression ---------------------------------------------------- */

START_TEST(test_need_event_known_triples) {
  /* (event, new, old): notify when event lies in [old, new) mod 2^16 */
  ck_assert_int_eq(vq_need_event(0, 1, 0), 1);
  ck_assert_int_eq(vq_need_event(1, 1, 0), 0);
  ck_assert_int_eq(vq_need_event(0, 0, 0), 0);
  ck_assert_int_eq(vq_need_event(3, 10, 3), 1);
  ck_assert_int_eq(vq_need_event(9, 10, 3), 1);
  ck_assert_int_eq(vq_need_event(10, 10, 3), 0);
  ck_assert_int_eq(vq_need_event(2, 10, 3), 0);
  ck_assert_int_eq(vq_need_event(11, 10, 3), 0);
  /* across the wrap */
  ck_assert_int_eq(vq_need_event(65534, 2, 65534), 1);
  ck_assert_int_eq(vq_need_event(65535, 2, 65534), 1);
  ck_assert_int_eq(vq_need_event(0, 2, 65534), 1);
  ck_assert_int_eq(vq_need_event(1, 2, 65534), 1);
  ck_assert_int_eq(vq_need_event(2, 2, 65534), 0);
  ck_assert_int_eq(vq_need_event(65533, 2, 65534), 0);
  ck_assert_int_eq(vq_need_event(65535, 0, 65535), 1);
  ck_assert_int_eq(vq_need_event(0, 0, 65535), 0);
}
END_TEST

START_TEST(test_publish_kicks_only_when_crossing_avail_event) {
  pair(8, 1, 0);
  uint64_t b = buf(64);
  const uint64_t ev = vq_avail_event_addr(&drv.layout);
  vq_chain c;
  add_one(b, 64, 1, TOK(1));
  ck_assert_int_eq(vq_drv_publish(&drv), 1); /* avail_event 0 in [0, 1) */
  add_one(b, 64, 1, TOK(2));
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* 0 not in [1, 2) */
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* nothing new */
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_enable_notify(&dev), 0);
  ck_assert_uint_eq(rd16(ev), 2);
  for (int i = 0; i < 3; i++) add_one(b, 64, 1, TOK(3 + i));
  ck_assert_int_eq(vq_drv_publish(&drv), 1); /* 2 in [2, 5) */
  add_one(b, 64, 1, TOK(6));
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* 2 not in [5, 6) */
  for (int i = 0; i < 4; i++) ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  add_one(b, 64, 1, TOK(7));
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* the device has not asked again */
  /* the device asks at 6 but 7 is already published: it must look again */
  ck_assert_int_eq(vq_dev_enable_notify(&dev), 1);
  ck_assert_uint_eq(rd16(ev), 6);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_enable_notify(&dev), 0);
  ck_assert_uint_eq(rd16(ev), 7);
  add_one(b, 64, 1, TOK(8));
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
}
END_TEST

START_TEST(test_publish_avail_event_across_wrap) {
  pair(8, 1, 0);
  uint64_t b = buf(64);
  const uint64_t ev = vq_avail_event_addr(&drv.layout);
  ck_assert_uint_eq(drive(65534, 8, b), 0);
  vq_chain c;
  wr16(ev, 65533); /* asked long ago: publishing 65534 -> 65535 does not cross it */
  add_one(b, 64, 1, TOK(1));
  ck_assert_int_eq(vq_drv_publish(&drv), 0);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_enable_notify(&dev), 0);
  ck_assert_uint_eq(rd16(ev), 65535);
  add_one(b, 64, 1, TOK(2));
  add_one(b, 64, 1, TOK(3));
  ck_assert_int_eq(vq_drv_publish(&drv), 1); /* 65535 in [65535, 1) */
  ck_assert_uint_eq(rd16(vq_avail_idx_addr(&drv.layout)), 1);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.avail_idx, 65535);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.avail_idx, 0);
  wr16(ev, 0); /* already passed by the publish above: no second kick for it */
  ck_assert_uint_eq(dev.last_avail_idx, 1);
  add_one(b, 64, 1, TOK(4));
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* 0 not in [1, 2) */
}
END_TEST

START_TEST(test_need_interrupt_only_when_crossing_used_event) {
  pair(8, 1, 0);
  uint64_t b = buf(64);
  const uint64_t ev = vq_used_event_addr(&drv.layout);
  vq_chain c;
  uint16_t heads[6];
  for (int i = 0; i < 6; i++) add_one(b, 64, 1, TOK(i + 1));
  vq_drv_publish(&drv);
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
    heads[i] = c.head;
  }
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0); /* nothing published */
  vq_dev_push(&dev, heads[0], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* used_event 0 in [0, 1) */
  vq_dev_push(&dev, heads[1], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0); /* 0 not in [1, 2) */
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_int_eq(vq_drv_enable_interrupts(&drv), 0);
  ck_assert_uint_eq(rd16(ev), 2);
  vq_dev_push(&dev, heads[2], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* 2 in [2, 3) */
  wr16(ev, 4);
  vq_dev_push(&dev, heads[3], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0); /* 4 not in [3, 4) */
  vq_dev_push(&dev, heads[4], 0);
  vq_dev_push(&dev, heads[5], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* 4 in [4, 6) */
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0);
  /* elements pending when the driver re-enables: it must poll again */
  ck_assert_int_eq(vq_drv_enable_interrupts(&drv), 1);
}
END_TEST

START_TEST(test_need_interrupt_used_event_across_wrap) {
  pair(8, 1, 0);
  uint64_t b = buf(64);
  const uint64_t ev = vq_used_event_addr(&drv.layout);
  ck_assert_uint_eq(drive(65534, 8, b), 0);
  vq_chain c;
  uint16_t heads[6];
  for (int i = 0; i < 6; i++) add_one(b, 64, 1, TOK(i + 1));
  vq_drv_publish(&drv);
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
    heads[i] = c.head;
  }
  ck_assert_int_eq(vq_drv_enable_interrupts(&drv), 0);
  ck_assert_uint_eq(rd16(ev), 65534);
  vq_dev_push(&dev, heads[0], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* 65534 in [65534, 65535) */
  wr16(ev, 0);
  vq_dev_push(&dev, heads[1], 0);
  vq_dev_push(&dev, heads[2], 0);
  vq_dev_publish_used(&dev);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&drv.layout)), 1);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* 0 in [65535, 1) */
  wr16(ev, 65535);                                  /* left behind by the wrap */
  vq_dev_push(&dev, heads[3], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0); /* 65535 not in [1, 2) */
  wr16(ev, 3);
  vq_dev_push(&dev, heads[4], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0); /* 3 not in [2, 3) */
  vq_dev_push(&dev, heads[5], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1); /* 3 in [3, 4) */
}
END_TEST

START_TEST(test_flags_suppress_kicks_and_interrupts_without_event_idx) {
  pair(8, 0, 0);
  uint64_t b = buf(64);
  const uint64_t used_flags = vq_used_flags_addr(&drv.layout);
  const uint64_t avail_flags = vq_avail_flags_addr(&drv.layout);
  add_one(b, 64, 1, TOK(1));
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
  vq_dev_disable_notify(&dev);
  ck_assert_uint_eq(rd16(used_flags), VQ_USED_F_NO_NOTIFY);
  add_one(b, 64, 1, TOK(2));
  ck_assert_int_eq(vq_drv_publish(&drv), 0);
  ck_assert_int_eq(vq_dev_enable_notify(&dev), 1); /* two heads not yet popped */
  ck_assert_uint_eq(rd16(used_flags), 0);
  add_one(b, 64, 1, TOK(3));
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
  ck_assert_int_eq(vq_drv_publish(&drv), 0); /* nothing new to announce */

  vq_chain c;
  uint16_t heads[3];
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
    heads[i] = c.head;
  }
  vq_dev_push(&dev, heads[0], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1);
  vq_drv_disable_interrupts(&drv);
  ck_assert_uint_eq(rd16(avail_flags), VQ_AVAIL_F_NO_INTERRUPT);
  vq_dev_push(&dev, heads[1], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0);
  ck_assert_int_eq(vq_drv_enable_interrupts(&drv), 1); /* two used, none consumed */
  ck_assert_uint_eq(rd16(avail_flags), 0);
  vq_dev_push(&dev, heads[2], 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 0);
}
END_TEST

START_TEST(test_flags_ignored_when_event_idx_negotiated) {
  pair(8, 1, 0);
  uint64_t b = buf(64);
  vq_dev_disable_notify(&dev);
  ck_assert_uint_eq(rd16(vq_used_flags_addr(&drv.layout)), 0);
  vq_drv_disable_interrupts(&drv);
  ck_assert_uint_eq(rd16(vq_avail_flags_addr(&drv.layout)), 0);
  /* flags written anyway are not what either side looks at (§2.7.7, §2.7.10) */
  wr16(vq_used_flags_addr(&drv.layout), VQ_USED_F_NO_NOTIFY);
  wr16(vq_avail_flags_addr(&drv.layout), VQ_AVAIL_F_NO_INTERRUPT);
  add_one(b, 64, 1, TOK(1));
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  vq_dev_push(&dev, c.head, 0);
  vq_dev_publish_used(&dev);
  ck_assert_int_eq(vq_dev_need_interrupt(&dev), 1);
}
END_TEST

/* ---- indirect descriptors -------------------------------------------------------- */

START_TEST(test_indirect_two_segments_use_one_table_descriptor) {
  pair(8, 0, 1);
  uint64_t out = buf(32), in = buf(64);
  vq_sg sg[2] = {{out, 32}, {in, 64}};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(9)), 0);
  ck_assert_uint_eq(drv.num_free, 7);
  uint64_t d = vq_desc_addr(&drv.layout, 0);
  uint64_t table = drv.indirect_base; /* head 0's table */
  ck_assert_uint_eq(rd64(d), table);
  ck_assert_uint_eq(rd32(d + 8), 2 * VQ_DESC_SIZE);
  ck_assert_uint_eq(rd16(d + 12), VQ_DESC_F_INDIRECT);
  ck_assert_uint_eq(rd64(table), out);
  ck_assert_uint_eq(rd32(table + 8), 32);
  ck_assert_uint_eq(rd16(table + 12), VQ_DESC_F_NEXT);
  ck_assert_uint_eq(rd16(table + 14), 1);
  ck_assert_uint_eq(rd64(table + 16), in);
  ck_assert_uint_eq(rd32(table + 24), 64);
  ck_assert_uint_eq(rd16(table + 28), VQ_DESC_F_WRITE);
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 0);
  ck_assert_uint_eq(c.nseg, 2);
  ck_assert_uint_eq(c.seg[0].gpa, out);
  ck_assert_uint_eq(c.seg[0].len, 32);
  ck_assert_uint_eq(c.seg[0].writable, 0);
  ck_assert_uint_eq(c.seg[1].gpa, in);
  ck_assert_uint_eq(c.seg[1].len, 64);
  ck_assert_uint_eq(c.seg[1].writable, 1);
  ck_assert_uint_eq(c.readable_len, 32);
  ck_assert_uint_eq(c.writable_len, 64);
  vq_dev_push(&dev, c.head, 64);
  vq_dev_publish_used(&dev);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(9));
  ck_assert_uint_eq(e.len, 64);
  ck_assert_uint_eq(drv.num_free, 8);
}
END_TEST

START_TEST(test_indirect_not_used_for_one_segment_or_more_than_max) {
  pair(8, 0, 1);
  uint64_t b = buf(64);
  vq_sg one = {b, 64};
  ck_assert_int_eq(vq_drv_add(&drv, &one, 1, 0, TOK(1)), 0);
  ck_assert_uint_eq(rd16(vq_desc_addr(&drv.layout, 0) + 12), 0);
  ck_assert_uint_eq(drv.num_free, 7);
  vq_sg five[5] = {{b, 1}, {b + 1, 2}, {b + 3, 3}, {b + 6, 4}, {b + 10, 5}};
  ck_assert_int_eq(vq_drv_add(&drv, five, 2, 3, TOK(2)), 1); /* max_indirect is 4 */
  ck_assert_uint_eq(drv.num_free, 2);
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.nseg, 1);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 1);
  ck_assert_uint_eq(c.nseg, 5);
  ck_assert_uint_eq(c.readable_len, 3);
  ck_assert_uint_eq(c.writable_len, 12);
}
END_TEST

/* ---- the driver half distrusts the device ---------------------------------------- */

static void put_used(uint16_t slot, uint32_t id, uint32_t len) {
  uint64_t at = vq_used_slot_addr(&drv.layout, slot);
  ck_assert_int_eq(gmem_write_le32(&mem, at, id), 0);
  ck_assert_int_eq(gmem_write_le32(&mem, at + 4, len), 0);
}

static uint64_t total_violations(const vq_drv *q) {
  uint64_t n = 0;
  for (int r = 0; r < VQ_RULE_COUNT; r++) n += q->violations[r];
  return n;
}

START_TEST(test_used_id_out_of_range_is_eproto) {
  pair(8, 0, 0);
  add_one(buf(100), 100, 1, TOK(1));
  vq_drv_publish(&drv);
  put_used(0, 8, 0);
  wr16(vq_used_idx_addr(&drv.layout), 1);
  vq_used_elem e = {0, 0, TOK(99)};
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_RANGE);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_ID_RANGE], 1);
  ck_assert_uint_eq(total_violations(&drv), 1);
  ck_assert_str_eq(vq_rule_name(drv.last_violation), "used_id_range");
  ck_assert_str_eq(vq_rule_section(drv.last_violation), "2.7.8");
  ck_assert_ptr_null(e.token);
  ck_assert_uint_eq(drv.last_used_idx, 1);
  ck_assert_uint_eq(drv.in_flight, 1);
  ck_assert_uint_eq(drv.num_free, 7);
}
END_TEST

START_TEST(test_used_id_is_checked_as_32_bits_not_truncated) {
  /* 0x10000 truncated to 16 bits would be head 0, which is in flight */
  pair(8, 0, 0);
  add_one(buf(100), 100, 1, TOK(1));
  vq_drv_publish(&drv);
  put_used(0, 0x10000, 0);
  wr16(vq_used_idx_addr(&drv.layout), 1);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_RANGE);
  ck_assert_ptr_null(e.token);
  ck_assert_uint_eq(drv.in_flight, 1);
  ck_assert_uint_eq(drv.heads[0].in_flight, 1);
}
END_TEST

/* avail.idx moving back over slots the device has read is a broken rule,
 * not a 65 000-slot rescan. */
START_TEST(test_avail_idx_moving_back_is_a_violation) {
  pair(8, 0, 0);
  uint64_t b = buf(64);
  for (int i = 0; i < 4; i++) add_one(b, 64, 1, TOK(i + 1));
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0); /* reads all four slots, takes one */
  wr16(vq_avail_idx_addr(&drv.layout), 2);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EPROTO);
  ck_assert_int_eq(dev.broken, VQ_RULE_AVAIL_IDX_BACKWARDS);
  ck_assert_str_eq(vq_rule_section(dev.broken), "2.7.6");
}
END_TEST

/* The device reads each avail slot once: a driver rewriting a published
 * slot cannot make it count one head and pop another, nor leave a stale
 * offer that refuses the head's next, legitimate, offer. */
START_TEST(test_avail_slot_is_read_once) {
  pair(8, 0, 0);
  uint64_t b = buf(64);
  add_one(b, 64, 1, TOK(1)); /* head 0 in slot 0 */
  add_one(b, 64, 1, TOK(2)); /* head 1 in slot 1 */
  vq_drv_publish(&drv);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 0);
  wr16(vq_avail_slot_addr(&drv.layout, 1), 5); /* rewritten after the device read it */
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 1);
  ck_assert_int_eq(vq_dev_push(&dev, 0, 0), 0);
  ck_assert_int_eq(vq_dev_push(&dev, 1, 0), 0);
  ck_assert_int_eq(vq_dev_publish_used(&dev), 0);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  add_one(b, 64, 1, TOK(3)); /* head 1 again, now free */
  add_one(b, 64, 1, TOK(4));
  vq_drv_publish(&drv);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(dev.broken, VQ_RULE_NONE);
}
END_TEST

/* Two 3 GiB writable buffers make a 6 GiB chain: a used length of 4 GiB - 1
 * fits it. Summed in 32 bits the chain would hold 2 GiB and the device be
 * blamed for a length it may write. */
START_TEST(test_writable_length_over_4_gib_does_not_wrap) {
  pair(8, 0, 0);
  const uint32_t three_gib = 3u << 30;
  vq_sg sg[2] = {{MEM_BASE, three_gib}, {MEM_BASE + three_gib, three_gib}};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 0, 2, TOK(1)), 0);
  vq_drv_publish(&drv);
  put_used(0, 0, UINT32_MAX);
  wr16(vq_used_idx_addr(&drv.layout), 1);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_uint_eq(e.len, UINT32_MAX);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_NONE);
}
END_TEST

START_TEST(test_used_id_not_in_flight_is_eproto) {
  pair(8, 0, 0);
  uint64_t b = buf(100);
  add_one(b, 100, 1, TOK(1)); /* head 0 */
  add_one(b, 100, 1, TOK(2)); /* head 1 */
  vq_drv_publish(&drv);
  put_used(0, 2, 0); /* in range, never offered */
  put_used(1, 0, 0);
  put_used(2, 0, 0); /* head 0 completed a second time */
  wr16(vq_used_idx_addr(&drv.layout), 1);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_NOT_IN_FLIGHT);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_ID_NOT_IN_FLIGHT], 1);
  ck_assert_uint_eq(total_violations(&drv), 1);
  ck_assert_str_eq(vq_rule_name(drv.last_violation), "used_id_not_in_flight");
  ck_assert_str_eq(vq_rule_section(drv.last_violation), "2.7.8");
  ck_assert_ptr_null(e.token);
  ck_assert_uint_eq(drv.in_flight, 2);
  wr16(vq_used_idx_addr(&drv.layout), 2);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(1));
  ck_assert_uint_eq(drv.in_flight, 1);
  wr16(vq_used_idx_addr(&drv.layout), 3);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_NOT_IN_FLIGHT);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_ID_NOT_IN_FLIGHT], 2);
  ck_assert_uint_eq(total_violations(&drv), 2);
  ck_assert_ptr_null(e.token);
  ck_assert_uint_eq(drv.in_flight, 1); /* head 1 is still out */
  ck_assert_uint_eq(drv.heads[1].in_flight, 1);
  ck_assert_uint_eq(drv.num_free, 7);
  ck_assert_uint_eq(drv.last_used_idx, 3);
}
END_TEST

/* The head a violation record names, as an observer of the trace sees it. */
static void last_violation_head(void *ctx, const emu_trace_rec *r) {
  if (r->kind == EMU_TR_VIOLATION) *(int64_t *)ctx = r->head;
}

/* A device author is told which used element was wrong: the violation
 * record carries its id. */
START_TEST(test_driver_violations_name_the_used_element) {
  pair(8, 0, 0);
  static uint64_t clock_ns;
  static emu_trace t;
  emu_trace_init(&t, &clock_ns);
  int64_t head = -2;
  emu_trace_set_observer(&t, last_violation_head, &head);
  vq_drv_set_trace(&drv, &t, "driver", "rx");
  uint64_t b = buf(100);
  vq_sg sg[1] = {{b, 60}};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 0, 1, TOK(1)), 0);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 0, 1, TOK(2)), 1);
  vq_drv_publish(&drv);
  put_used(0, 1, 61); /* head 1, one byte beyond its buffer */
  wr16(vq_used_idx_addr(&drv.layout), 1);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_LEN_TOO_BIG);
  ck_assert_int_eq(head, 1);
  put_used(1, 1, 10); /* head 1 again, no longer in flight */
  wr16(vq_used_idx_addr(&drv.layout), 2);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_NOT_IN_FLIGHT);
  ck_assert_int_eq(head, 1);
}
END_TEST

START_TEST(test_used_len_beyond_writable_bytes_is_eproto_but_buffer_recycled) {
  pair(8, 0, 0);
  uint64_t b = buf(100);
  vq_sg sg[2] = {{b, 40}, {b + 40, 60}}; /* 40 readable, 60 writable */
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(1)), 0);
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(2)), 2);
  vq_drv_publish(&drv);
  put_used(0, 0, 60); /* exactly the writable part: fine */
  put_used(1, 2, 61);
  wr16(vq_used_idx_addr(&drv.layout), 2);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_uint_eq(e.len, 60);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_NONE);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_LEN_TOO_BIG);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_LEN_TOO_BIG], 1);
  ck_assert_uint_eq(total_violations(&drv), 1);
  ck_assert_str_eq(vq_rule_section(drv.last_violation), "2.7.8.2");
  ck_assert_ptr_eq(e.token, TOK(2)); /* the head was real: give the buffer back */
  ck_assert_uint_eq(e.head, 2);
  ck_assert_uint_eq(e.len, 0);
  ck_assert_uint_eq(drv.in_flight, 0);
  ck_assert_uint_eq(drv.num_free, 8);
  ck_assert_uint_eq(drv.last_used_idx, 2);
}
END_TEST

START_TEST(test_used_idx_jump_is_eproto_and_cursor_stays) {
  pair(8, 0, 0);
  add_one(buf(100), 100, 1, TOK(1));
  vq_drv_publish(&drv);
  put_used(0, 0, 0);
  put_used(1, 0, 0);
  wr16(vq_used_idx_addr(&drv.layout), 2);
  vq_used_elem e = {0, 0, TOK(99)};
  /* nothing usable is offered (a driver re-arming on it would spin), but
   * asking says why */
  ck_assert_int_eq(vq_drv_has_used(&drv), 0);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_IDX_JUMP);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_IDX_JUMP], 1);
  ck_assert_uint_eq(total_violations(&drv), 1);
  ck_assert_str_eq(vq_rule_section(drv.last_violation), "2.7.8");
  ck_assert_ptr_null(e.token);
  ck_assert_uint_eq(drv.last_used_idx, 0);
  ck_assert_uint_eq(drv.in_flight, 1);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_uint_eq(drv.violations[VQ_RULE_USED_IDX_JUMP], 2);
  /* the device takes it back: the element is then believed */
  wr16(vq_used_idx_addr(&drv.layout), 1);
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(1));
}
END_TEST

/* ---- the device half distrusts the driver ---------------------------------------- */

#define RAW_SIZE 4u

static vq_layout raw;
static uint16_t raw_avail;
static uint64_t data;

/* A ring laid out by hand: nothing here goes through vq_drv. */
static void raw_ring(int indirect) {
  raw.size = RAW_SIZE;
  ck_assert_int_eq(gmem_alloc(&mem, vq_desc_table_bytes(RAW_SIZE), 16, &raw.desc), 0);
  ck_assert_int_eq(gmem_alloc(&mem, vq_avail_bytes(RAW_SIZE), 2, &raw.avail), 0);
  ck_assert_int_eq(gmem_alloc(&mem, vq_used_bytes(RAW_SIZE), 4, &raw.used), 0);
  ck_assert_int_eq(vq_dev_init(&dev, &mem, &raw, 0, indirect), 0);
  raw_avail = 0;
  data = buf(256);
}

static void put_desc(uint64_t at, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  ck_assert_int_eq(gmem_write_le64(&mem, at, addr), 0);
  ck_assert_int_eq(gmem_write_le32(&mem, at + 8, len), 0);
  ck_assert_int_eq(gmem_write_le16(&mem, at + 12, flags), 0);
  ck_assert_int_eq(gmem_write_le16(&mem, at + 14, next), 0);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  put_desc(vq_desc_addr(&raw, i), addr, len, flags, next);
}

static void offer(uint16_t head) {
  wr16(vq_avail_slot_addr(&raw, raw_avail), head);
  raw_avail++;
  wr16(vq_avail_idx_addr(&raw), raw_avail);
}

static void expect_broken(vq_rule rule, const char *name, const char *section) {
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EPROTO);
  ck_assert_int_eq(dev.broken, rule);
  ck_assert_str_eq(vq_rule_name(dev.broken), name);
  ck_assert_str_eq(vq_rule_section(dev.broken), section);
  ck_assert_uint_eq(dev.last_avail_idx, 0);
  /* broken stays broken, whatever the driver does next */
  ck_assert_int_eq(vq_dev_has_avail(&dev), 0);
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EPROTO);
  ck_assert_int_eq(dev.broken, rule);
}

START_TEST(test_dev_head_out_of_range) {
  raw_ring(0);
  offer(RAW_SIZE);
  expect_broken(VQ_RULE_DESC_INDEX_RANGE, "desc_index_range", "2.7.5");
  ck_assert_int_eq(dev.broken_head, RAW_SIZE);
}
END_TEST

START_TEST(test_dev_next_out_of_range) {
  raw_ring(0);
  desc(0, data, 16, VQ_DESC_F_NEXT, 9);
  offer(0);
  expect_broken(VQ_RULE_DESC_INDEX_RANGE, "desc_index_range", "2.7.5");
  ck_assert_int_eq(dev.broken_head, 0);
}
END_TEST

START_TEST(test_dev_buffer_outside_guest_memory) {
  raw_ring(0);
  desc(2, data, 16, VQ_DESC_F_NEXT, 3);
  desc(3, MEM_BASE + MEM_SIZE - 8, 16, 0, 0); /* straddles the end */
  offer(2);
  expect_broken(VQ_RULE_DESC_ADDR_RANGE, "desc_addr_range", "2.7.5");
  ck_assert_int_eq(dev.broken_head, 2);
}
END_TEST

START_TEST(test_dev_buffer_at_address_zero) {
  raw_ring(0);
  desc(0, 0, 16, 0, 0);
  offer(0);
  expect_broken(VQ_RULE_DESC_ADDR_RANGE, "desc_addr_range", "2.7.5");
}
END_TEST

START_TEST(test_dev_zero_length_buffer) {
  raw_ring(0);
  desc(0, data, 0, 0, 0);
  offer(0);
  expect_broken(VQ_RULE_DESC_LEN_ZERO, "desc_len_zero", "2.7.4.2");
}
END_TEST

START_TEST(test_dev_descriptor_loop_is_chain_too_long) {
  raw_ring(0);
  desc(0, data, 16, VQ_DESC_F_NEXT, 1);
  desc(1, data, 16, VQ_DESC_F_NEXT, 0);
  offer(0);
  expect_broken(VQ_RULE_CHAIN_TOO_LONG, "chain_too_long", "2.7.5.2");
}
END_TEST

START_TEST(test_dev_chain_as_long_as_queue_is_accepted) {
  raw_ring(0);
  for (uint16_t i = 0; i < RAW_SIZE; i++)
    desc(i, data + 16u * i, 16, i + 1u < RAW_SIZE ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
  offer(0);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.nseg, RAW_SIZE);
  ck_assert_uint_eq(c.readable_len, 16 * RAW_SIZE);
  ck_assert_int_eq(dev.broken, VQ_RULE_NONE);
}
END_TEST

START_TEST(test_dev_readable_after_writable) {
  raw_ring(0);
  desc(0, data, 16, VQ_DESC_F_NEXT, 1);
  desc(1, data + 16, 16, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 2);
  desc(2, data + 32, 16, 0, 0);
  offer(0);
  expect_broken(VQ_RULE_WRITE_BEFORE_READ, "write_before_read", "2.7.4.2");
}
END_TEST

START_TEST(test_dev_indirect_not_negotiated) {
  raw_ring(0);
  put_desc(data, data + 64, 16, 0, 0);
  desc(0, data, 16, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_INDIRECT_NOT_NEGOTIATED, "indirect_not_negotiated", "2.7.5.3.1");
}
END_TEST

START_TEST(test_dev_indirect_with_next) {
  raw_ring(1);
  put_desc(data, data + 64, 16, 0, 0);
  desc(0, data, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, 1);
  desc(1, data + 64, 16, 0, 0);
  offer(0);
  expect_broken(VQ_RULE_INDIRECT_WITH_NEXT, "indirect_with_next", "2.7.5.3.1");
}
END_TEST

START_TEST(test_dev_nested_indirect) {
  raw_ring(1);
  put_desc(data, data + 128, 16, VQ_DESC_F_INDIRECT, 0); /* a table inside the table */
  put_desc(data + 128, data + 192, 16, 0, 0);
  desc(0, data, 16, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_INDIRECT_NESTED, "indirect_nested", "2.7.5.3.1");
}
END_TEST

START_TEST(test_dev_indirect_len_not_multiple_of_16) {
  raw_ring(1);
  put_desc(data, data + 64, 16, VQ_DESC_F_NEXT, 1);
  put_desc(data + 16, data + 80, 16, 0, 0);
  desc(0, data, 24, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_INDIRECT_LEN, "indirect_len", "2.7.5.3");
}
END_TEST

START_TEST(test_dev_indirect_len_zero) {
  raw_ring(1);
  desc(0, data, 0, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_INDIRECT_LEN, "indirect_len", "2.7.5.3");
}
END_TEST

START_TEST(test_dev_indirect_table_loop) {
  raw_ring(1);
  put_desc(data, data + 64, 16, VQ_DESC_F_NEXT, 1);
  put_desc(data + 16, data + 80, 16, VQ_DESC_F_NEXT, 0);
  desc(0, data, 32, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_CHAIN_TOO_LONG, "chain_too_long", "2.7.5.2");
}
END_TEST

START_TEST(test_dev_indirect_next_out_of_table) {
  /* next indexes the table, not the queue: 5 is past a 2-entry table */
  raw_ring(1);
  put_desc(data, data + 64, 16, VQ_DESC_F_NEXT, 5);
  put_desc(data + 16, data + 80, 16, 0, 0);
  desc(0, data, 32, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  expect_broken(VQ_RULE_DESC_INDEX_RANGE, "desc_index_range", "2.7.5");
}
END_TEST

START_TEST(test_dev_direct_descriptors_then_indirect_table_accepted) {
  /* §2.7.5.3.2: zero or more chained descriptors, then one INDIRECT */
  raw_ring(1);
  put_desc(data, data + 64, 16, VQ_DESC_F_NEXT, 1);
  put_desc(data + 16, data + 80, 24, VQ_DESC_F_WRITE, 0);
  desc(0, data + 128, 8, VQ_DESC_F_NEXT, 1);
  desc(1, data, 32, VQ_DESC_F_INDIRECT, 0);
  offer(0);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.nseg, 3);
  ck_assert_uint_eq(c.seg[0].gpa, data + 128);
  ck_assert_uint_eq(c.seg[1].gpa, data + 64);
  ck_assert_uint_eq(c.seg[2].gpa, data + 80);
  ck_assert_uint_eq(c.seg[2].writable, 1);
  ck_assert_uint_eq(c.readable_len, 24);
  ck_assert_uint_eq(c.writable_len, 24);
}
END_TEST

START_TEST(test_dev_avail_idx_jump_beyond_queue_size) {
  raw_ring(0);
  desc(0, data, 16, 0, 0);
  wr16(vq_avail_idx_addr(&raw), RAW_SIZE + 1);
  expect_broken(VQ_RULE_AVAIL_IDX_JUMP, "avail_idx_jump", "2.7.6");
  ck_assert_int_eq(dev.broken_head, -1);
}
END_TEST

START_TEST(test_dev_avail_idx_exactly_queue_size_ahead_is_fine) {
  raw_ring(0);
  for (uint16_t i = 0; i < RAW_SIZE; i++) {
    desc(i, data + 16u * i, 16, 0, 0);
    offer(i);
  }
  vq_chain c;
  for (uint16_t i = 0; i < RAW_SIZE; i++) {
    ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
    ck_assert_uint_eq(c.head, i);
  }
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EAGAIN);
  ck_assert_int_eq(dev.broken, VQ_RULE_NONE);
}
END_TEST

START_TEST(test_dev_ring_outside_guest_memory_refused_at_init) {
  vq_layout l = {8, MEM_BASE + MEM_SIZE - 64, MEM_BASE, MEM_BASE + 4096};
  ck_assert_int_eq(vq_dev_init(&dev, &mem, &l, 0, 0), EMU_EPROTO);
  ck_assert_int_eq(dev.broken, VQ_RULE_RING_ADDR_RANGE);
  ck_assert_str_eq(vq_rule_section(dev.broken), "2.7");
  vq_dev_close(&dev);
  l = (vq_layout){6, MEM_BASE, MEM_BASE + 4096, MEM_BASE + 8192};
  ck_assert_int_eq(vq_dev_init(&dev, &mem, &l, 0, 0), EMU_EINVAL);
}
END_TEST

/* ---- trace ----------------------------------------------------------------------- */

#define MAX_RECS 16

typedef struct rec_log {
  int n;
  emu_trace_rec r[MAX_RECS];
} rec_log;

static void record(void *ctx, const emu_trace_rec *rec) {
  rec_log *log = ctx;
  ck_assert_int_lt(log->n, MAX_RECS);
  log->r[log->n++] = *rec;
}

static void expect_rec(const emu_trace_rec *r, const char *actor, emu_trace_kind kind, int64_t head,
                       int64_t idx, int64_t len) {
  ck_assert_str_eq(r->actor, actor);
  ck_assert_str_eq(emu_trace_kind_name(r->kind), emu_trace_kind_name(kind));
  ck_assert_str_eq(r->queue, "rx");
  ck_assert_int_eq(r->head, head);
  ck_assert_int_eq(r->idx, idx);
  ck_assert_int_eq(r->len, len);
  ck_assert_int_eq(r->frame, -1);
  ck_assert_ptr_null(r->detail);
  ck_assert_uint_eq(r->t_ns, 1234);
}

START_TEST(test_trace_observer_sees_one_round_in_order) {
  uint64_t clock = 1234;
  emu_trace t;
  emu_trace_init(&t, &clock);
  rec_log log = {0};
  emu_trace_set_observer(&t, record, &log);
  pair(8, 0, 0);
  vq_drv_set_trace(&drv, &t, "driver", "rx");
  vq_dev_set_trace(&dev, &t, "device", "rx");
  uint64_t b = buf(64);
  vq_sg sg[2] = {{b, 14}, {b + 16, 48}};
  ck_assert_int_eq(vq_drv_add(&drv, sg, 1, 1, TOK(1)), 0);
  ck_assert_int_eq(vq_drv_publish(&drv), 1);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vq_dev_push(&dev, c.head, 20), 0);
  ck_assert_int_eq(vq_dev_publish_used(&dev), 0);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&drv, &e), 0);

  ck_assert_int_eq(log.n, 8);
  ck_assert_uint_eq(t.events, 8);
  expect_rec(&log.r[0], "driver", EMU_TR_DESC_WRITTEN, 0, 0, 14);
  expect_rec(&log.r[1], "driver", EMU_TR_DESC_WRITTEN, 0, 1, 48);
  expect_rec(&log.r[2], "driver", EMU_TR_AVAIL_ADDED, 0, 0, -1);
  expect_rec(&log.r[3], "driver", EMU_TR_AVAIL_PUBLISHED, -1, 1, -1);
  expect_rec(&log.r[4], "device", EMU_TR_POP, 0, 0, 62);
  expect_rec(&log.r[5], "device", EMU_TR_USED_PUSHED, 0, 0, 20);
  expect_rec(&log.r[6], "device", EMU_TR_USED_PUBLISHED, -1, 1, -1);
  expect_rec(&log.r[7], "driver", EMU_TR_USED_CONSUMED, 0, 0, 20);
}
END_TEST

START_TEST(test_trace_observer_sees_violation_with_rule_and_section) {
  emu_trace t;
  emu_trace_init(&t, NULL);
  rec_log log = {0};
  emu_trace_set_observer(&t, record, &log);
  raw_ring(0);
  vq_dev_set_trace(&dev, &t, "device", "rx");
  offer(7);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&dev, &c), EMU_EPROTO);
  ck_assert_int_eq(log.n, 1);
  ck_assert_int_eq(log.r[0].kind, EMU_TR_VIOLATION);
  /* the rule and the clause it comes from */
  ck_assert_str_eq(log.r[0].detail, "desc_index_range \u00a72.7.5");
  ck_assert_int_eq(log.r[0].head, 7);
  ck_assert_uint_eq(log.r[0].t_ns, 0);
}
END_TEST

static Suite *vq_suite(void) {
  Suite *s = suite_create("vq");
  TCase *chains = tcase_create("chains");
  tcase_add_checked_fixture(chains, setup, teardown);
  tcase_add_test(chains, test_single_readable_buffer_popped_with_one_segment);
  tcase_add_test(chains, test_multi_segment_chain_readable_then_writable);
  tcase_add_test(chains, test_chain_write_and_read_cross_segment_boundaries);
  tcase_add_test(chains, test_add_without_free_descriptors_is_enospc_and_empty_add_einval);
  tcase_add_test(chains, test_add_failing_avail_write_leaves_no_head_in_flight);
  tcase_add_test(chains, test_buffer_index_token_round_trip_and_never_null);
  suite_add_tcase(s, chains);

  TCase *wrap = tcase_create("wrap");
  tcase_add_checked_fixture(wrap, setup, teardown);
  tcase_add_test(wrap, test_indices_wrap_past_65535_and_tokens_return_in_order);
  tcase_add_test(wrap, test_full_ring_across_wrap_keeps_order);
  suite_add_tcase(s, wrap);

  TCase *notify = tcase_create("suppression");
  tcase_add_checked_fixture(notify, setup, teardown);
  tcase_add_test(notify, test_need_event_known_triples);
  tcase_add_test(notify, test_publish_kicks_only_when_crossing_avail_event);
  tcase_add_test(notify, test_publish_avail_event_across_wrap);
  tcase_add_test(notify, test_need_interrupt_only_when_crossing_used_event);
  tcase_add_test(notify, test_need_interrupt_used_event_across_wrap);
  tcase_add_test(notify, test_flags_suppress_kicks_and_interrupts_without_event_idx);
  tcase_add_test(notify, test_flags_ignored_when_event_idx_negotiated);
  suite_add_tcase(s, notify);

  TCase *ind = tcase_create("indirect");
  tcase_add_checked_fixture(ind, setup, teardown);
  tcase_add_test(ind, test_indirect_two_segments_use_one_table_descriptor);
  tcase_add_test(ind, test_indirect_not_used_for_one_segment_or_more_than_max);
  suite_add_tcase(s, ind);

  TCase *drv_checks = tcase_create("driver_distrust");
  tcase_add_checked_fixture(drv_checks, setup, teardown);
  tcase_add_test(drv_checks, test_used_id_out_of_range_is_eproto);
  tcase_add_test(drv_checks, test_used_id_is_checked_as_32_bits_not_truncated);
  tcase_add_test(drv_checks, test_used_id_not_in_flight_is_eproto);
  tcase_add_test(drv_checks, test_writable_length_over_4_gib_does_not_wrap);
  tcase_add_test(drv_checks, test_avail_idx_moving_back_is_a_violation);
  tcase_add_test(drv_checks, test_avail_slot_is_read_once);
  tcase_add_test(drv_checks, test_used_len_beyond_writable_bytes_is_eproto_but_buffer_recycled);
  tcase_add_test(drv_checks, test_driver_violations_name_the_used_element);
  tcase_add_test(drv_checks, test_used_idx_jump_is_eproto_and_cursor_stays);
  suite_add_tcase(s, drv_checks);

  TCase *dev_checks = tcase_create("device_distrust");
  tcase_add_checked_fixture(dev_checks, setup, teardown);
  tcase_add_test(dev_checks, test_dev_head_out_of_range);
  tcase_add_test(dev_checks, test_dev_next_out_of_range);
  tcase_add_test(dev_checks, test_dev_buffer_outside_guest_memory);
  tcase_add_test(dev_checks, test_dev_buffer_at_address_zero);
  tcase_add_test(dev_checks, test_dev_zero_length_buffer);
  tcase_add_test(dev_checks, test_dev_descriptor_loop_is_chain_too_long);
  tcase_add_test(dev_checks, test_dev_chain_as_long_as_queue_is_accepted);
  tcase_add_test(dev_checks, test_dev_readable_after_writable);
  tcase_add_test(dev_checks, test_dev_indirect_not_negotiated);
  tcase_add_test(dev_checks, test_dev_indirect_with_next);
  tcase_add_test(dev_checks, test_dev_nested_indirect);
  tcase_add_test(dev_checks, test_dev_indirect_len_not_multiple_of_16);
  tcase_add_test(dev_checks, test_dev_indirect_len_zero);
  tcase_add_test(dev_checks, test_dev_indirect_table_loop);
  tcase_add_test(dev_checks, test_dev_indirect_next_out_of_table);
  tcase_add_test(dev_checks, test_dev_direct_descriptors_then_indirect_table_accepted);
  tcase_add_test(dev_checks, test_dev_avail_idx_jump_beyond_queue_size);
  tcase_add_test(dev_checks, test_dev_avail_idx_exactly_queue_size_ahead_is_fine);
  tcase_add_test(dev_checks, test_dev_ring_outside_guest_memory_refused_at_init);
  suite_add_tcase(s, dev_checks);

  TCase *trace = tcase_create("trace");
  tcase_add_checked_fixture(trace, setup, teardown);
  tcase_add_test(trace, test_trace_observer_sees_one_round_in_order);
  tcase_add_test(trace, test_trace_observer_sees_violation_with_rule_and_section);
  suite_add_tcase(s, trace);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(vq_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
