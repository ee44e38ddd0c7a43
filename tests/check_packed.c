/* Check suite for virtio/vq_packed: the packed virtqueue (virtio 1.2 §2.8),
 * both halves over one guest memory. Round trips across many laps of the
 * ring (odd sizes too: a packed ring need not be a power of two), the wrap
 * counters at the exact wrap (a chain as long as the ring), the order the
 * driver exposes a chain in, every rule either half checks, written by
 * hand, and event suppression both ways. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "virtio/vq_packed.h"

#define MEM_SIZE (1u << 22)
#define BUF      256u

static gmem mem;
static vqp_drv drv;
static vqp_dev dev;
static uint64_t bufs;

static void pair(uint16_t size, int event_idx, int indirect) {
  ck_assert_int_eq(gmem_init(&mem, GMEM_DEFAULT_BASE, MEM_SIZE), 0);
  ck_assert_int_eq(vqp_drv_init(&drv, &mem, size, event_idx), 0);
  ck_assert_int_eq(vqp_dev_init(&dev, &mem, &drv.layout, event_idx, indirect), 0);
  ck_assert_int_eq(gmem_alloc(&mem, (uint64_t)size * 4 * BUF, 64, &bufs), 0);
}

static void unpair(void) {
  vqp_dev_close(&dev);
  vqp_drv_close(&drv);
  gmem_close(&mem);
}

static uint64_t buf_at(unsigned k) { return bufs + (uint64_t)k * BUF; }

/* One request: n_out readable segments then n_in writable, BUF/2 bytes each. */
static int add(unsigned n_out, unsigned n_in, unsigned first_buf, void *token) {
  vq_sg sg[8];
  for (unsigned i = 0; i < n_out + n_in; i++) sg[i] = (vq_sg){buf_at(first_buf + i), BUF / 2};
  return vqp_drv_add(&drv, sg, n_out, n_in, token);
}

static uint16_t flags_at(uint16_t pos) {
  uint16_t f = 0;
  ck_assert_int_eq(gmem_read_le16(&mem, vqp_desc_addr(&drv.layout, pos) + VQP_DESC_OFF_FLAGS, &f),
                   0);
  return f;
}

static void put_flags(uint16_t pos, uint16_t f) {
  ck_assert_int_eq(gmem_write_le16(&mem, vqp_desc_addr(&drv.layout, pos) + VQP_DESC_OFF_FLAGS, f),
                   0);
}

/* Requests of 1 to 3 descriptors, each popped, written and pushed, then
 * taken back by the driver with its token and length, `laps` times round a
 * ring of `size`: the counters flip where they must and nothing is lost. */
static void round_trips(uint16_t size, unsigned requests) {
  pair(size, 1, 0);
  unsigned flips_drv = 0, flips_dev = 0;
  uint8_t last_drv = drv.avail.wrap, last_dev = dev.used.wrap;
  for (unsigned k = 0; k < requests; k++) {
    unsigned n_in = 1 + k % 3 < size ? 1 + k % 3 : size;
    int id = add(0, n_in, 0, (void *)(uintptr_t)(k + 1));
    ck_assert_int_ge(id, 0);
    flips_drv += drv.avail.wrap != last_drv;
    last_drv = drv.avail.wrap;
    vq_chain c;
    ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
    ck_assert_uint_eq(c.head, (unsigned)id);
    ck_assert_uint_eq(c.nseg, n_in);
    ck_assert_uint_eq(c.writable_len, (uint64_t)n_in * (BUF / 2));
    ck_assert_int_eq(vqp_dev_push(&dev, c.head, (uint32_t)(k % 100 + 1)), 0);
    flips_dev += dev.used.wrap != last_dev;
    last_dev = dev.used.wrap;
    vq_used_elem e;
    ck_assert_int_eq(vqp_drv_get_used(&drv, &e), 0);
    ck_assert_ptr_eq(e.token, (void *)(uintptr_t)(k + 1));
    ck_assert_uint_eq(e.len, k % 100 + 1);
    ck_assert_int_eq(vqp_drv_get_used(&drv, &e), EMU_EAGAIN);
  }
  ck_assert_uint_eq(drv.in_flight, 0);
  ck_assert_uint_eq(drv.num_free, size);
  ck_assert_uint_gt(flips_drv, 2);
  ck_assert_uint_eq(flips_drv, flips_dev);
  ck_assert_int_eq(dev.broken, VQ_RULE_NONE);
  unpair();
}

START_TEST(test_70000_requests_round_the_ring_all_answered) {
  round_trips(256, 70000);
  round_trips(5, 10000); /* not a power of two */
  round_trips(1, 1000);  /* one descriptor: a flip every request */
}
END_TEST

/* A chain as long as the ring lands back on the same position: the wrap
 * counters must flip anyway, or the next descriptor is invisible. */
START_TEST(test_a_chain_as_long_as_the_ring_flips_the_counters) {
  pair(4, 0, 0);
  ck_assert_int_ge(add(2, 2, 0, (void *)1), 0);
  ck_assert_uint_eq(drv.avail.pos, 0);
  ck_assert_uint_eq(drv.avail.wrap, 0);
  vq_chain c;
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.nseg, 4);
  ck_assert_uint_eq(dev.avail.pos, 0);
  ck_assert_uint_eq(dev.avail.wrap, 0);
  ck_assert_int_eq(vqp_dev_has_avail(&dev), 0); /* its own chain is not offered again */
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, 10), 0);
  ck_assert_uint_eq(dev.used.wrap, 0);
  vq_used_elem e;
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), 0);
  ck_assert_uint_eq(drv.used.wrap, 0);
  /* the next request is seen with the flipped counter */
  ck_assert_int_ge(add(0, 1, 0, (void *)2), 0);
  ck_assert_int_eq(vqp_dev_has_avail(&dev), 1);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, 1), 0);
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), 0);
  ck_assert_ptr_eq(e.token, (void *)2);
  unpair();
}
END_TEST

/* The first descriptor of a chain is exposed last (§2.8.17), and the
 * buffer id is in the last one (§2.8.6). */
START_TEST(test_the_driver_exposes_a_chain_by_its_first_descriptor_last) {
  pair(8, 0, 0);
  ck_assert_int_eq(add(0, 1, 0, (void *)1), 0); /* buffer 0 at position 0 */
  ck_assert_int_eq(add(1, 2, 1, (void *)2), 1); /* buffer 1 at positions 1..3 */
  uint16_t id_first = 9, id_last = 9;
  gmem_read_le16(&mem, vqp_desc_addr(&drv.layout, 1) + VQP_DESC_OFF_ID, &id_first);
  gmem_read_le16(&mem, vqp_desc_addr(&drv.layout, 3) + VQP_DESC_OFF_ID, &id_last);
  ck_assert_uint_eq(id_last, 1);
  ck_assert_uint_eq(id_first, 0); /* not the buffer's: a device reading it here is wrong */
  for (uint16_t pos = 0; pos < 4; pos++) ck_assert(flags_at(pos) & VQP_F_AVAIL);
  ck_assert_uint_eq(flags_at(1) & (VQP_F_NEXT | VQP_F_WRITE), VQP_F_NEXT);
  ck_assert_uint_eq(flags_at(3) & (VQP_F_NEXT | VQP_F_WRITE), VQP_F_WRITE);
  /* until its first descriptor is available, the chain is not there */
  vq_chain c;
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  uint16_t first = flags_at(1);
  put_flags(1, 0);
  ck_assert_int_eq(vqp_dev_has_avail(&dev), 0);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), EMU_EAGAIN);
  put_flags(1, first);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 1);
  ck_assert_uint_eq(c.readable_len, BUF / 2);
  ck_assert_uint_eq(c.writable_len, BUF);
  unpair();
}
END_TEST

static void expect_broken(vq_rule rule) {
  vq_chain c;
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), EMU_EPROTO);
  ck_assert_str_eq(vq_rule_name(dev.broken), vq_rule_name(rule));
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), EMU_EPROTO); /* broken stays broken */
}

/* Each rule the device half checks on what a driver wrote, planted by hand
 * in a well-formed two-descriptor chain. */
START_TEST(test_the_device_names_each_driver_mistake) {
  static const vq_rule rules[] = {VQ_RULE_PACKED_PARTIAL_CHAIN, VQ_RULE_PACKED_ID_RANGE,
                                  VQ_RULE_PACKED_ID_IN_FLIGHT,  VQ_RULE_DESC_LEN_ZERO,
                                  VQ_RULE_WRITE_BEFORE_READ,    VQ_RULE_INDIRECT_NOT_NEGOTIATED};
  for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
    pair(8, 0, 0);
    ck_assert_int_ge(add(1, 1, 0, (void *)1), 0);
    uint64_t second = vqp_desc_addr(&drv.layout, 1);
    switch (rules[k]) {
      case VQ_RULE_PACKED_PARTIAL_CHAIN:
        put_flags(1, 0);
        break;
      case VQ_RULE_PACKED_ID_RANGE:
        gmem_write_le16(&mem, second + VQP_DESC_OFF_ID, 8);
        break;
      case VQ_RULE_DESC_LEN_ZERO:
        gmem_write_le32(&mem, second + VQP_DESC_OFF_LEN, 0);
        break;
      case VQ_RULE_WRITE_BEFORE_READ: /* writable, then readable */
        put_flags(0, flags_at(0) | VQP_F_WRITE);
        put_flags(1, flags_at(1) & (uint16_t)~VQP_F_WRITE);
        break;
      case VQ_RULE_INDIRECT_NOT_NEGOTIATED:
        put_flags(0, (uint16_t)((flags_at(0) & ~VQP_F_NEXT) | VQP_F_INDIRECT));
        break;
      default: { /* the same id offered again while the device holds it */
        vq_chain c;
        ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
        drv.bufs[0].in_flight = 0; /* a driver that forgot */
        drv.free_ids[drv.nfree_ids++] = 0;
        ck_assert_int_ge(add(0, 1, 2, (void *)2), 0);
      }
    }
    expect_broken(rules[k]);
    unpair();
  }
}
END_TEST

/* The device's own mistakes are refused at its push; what a device writes
 * by hand is distrusted by the driver. */
START_TEST(test_each_half_distrusts_the_device) {
  pair(8, 0, 0);
  ck_assert_int_ge(add(0, 1, 0, (void *)1), 0);
  vq_chain c;
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vqp_dev_push(&dev, 5, 1), EMU_EPROTO);                /* not taken */
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, BUF / 2 + 1), EMU_EPROTO); /* too long */
  ck_assert_int_eq(vqp_dev_has_avail(&dev), 0);
  vq_used_elem e;
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), EMU_EAGAIN);
  /* a used descriptor written by hand: an id never offered */
  uint64_t at = vqp_desc_addr(&drv.layout, 0);
  gmem_write_le16(&mem, at + VQP_DESC_OFF_ID, 6);
  put_flags(0, VQP_F_AVAIL | VQP_F_USED | VQP_F_WRITE);
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_NOT_IN_FLIGHT);
  ck_assert_uint_eq(drv.used.pos, 0); /* the cursor stays */
  gmem_write_le16(&mem, at + VQP_DESC_OFF_ID, 9);
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_ID_RANGE);
  gmem_write_le16(&mem, at + VQP_DESC_OFF_ID, 0);
  gmem_write_le32(&mem, at + VQP_DESC_OFF_LEN, BUF);
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), EMU_EPROTO);
  ck_assert_int_eq(drv.last_violation, VQ_RULE_USED_LEN_TOO_BIG);
  ck_assert_ptr_eq(e.token, (void *)1); /* the buffer itself comes back */
  ck_assert_uint_eq(drv.in_flight, 0);
  unpair();
}
END_TEST

/* §2.8.10: the driver's structure steers the device's interrupts, the
 * device's the driver's kicks: disable, enable, and at one descriptor. */
START_TEST(test_event_suppression_both_ways) {
  pair(8, 1, 0);
  vq_chain c;
  /* kicks: the device asks for one at its next position */
  ck_assert_int_eq(vqp_dev_enable_notify(&dev), 0);
  ck_assert_int_ge(add(0, 1, 0, (void *)1), 0);
  ck_assert_int_eq(vqp_drv_kick_needed(&drv), 1);
  ck_assert_int_ge(add(0, 1, 1, (void *)2), 0);
  ck_assert_int_eq(vqp_drv_kick_needed(&drv), 0); /* past the one it asked about */
  vqp_dev_disable_notify(&dev);
  ck_assert_int_ge(add(0, 1, 2, (void *)3), 0);
  ck_assert_int_eq(vqp_drv_kick_needed(&drv), 0);
  /* interrupts: the driver disables, then asks at its next used position */
  vqp_drv_disable_interrupts(&drv);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, 1), 0);
  ck_assert_int_eq(vqp_dev_need_interrupt(&dev), 0);
  ck_assert_int_eq(vqp_drv_enable_interrupts(&drv), 1); /* one is already there */
  vq_used_elem e;
  ck_assert_int_eq(vqp_drv_get_used(&drv, &e), 0);
  ck_assert_int_eq(vqp_drv_enable_interrupts(&drv), 0);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, 1), 0);
  ck_assert_int_eq(vqp_dev_need_interrupt(&dev), 1);
  /* a reserved flags value is named, and treated as enabled */
  gmem_write_le16(&mem, drv.layout.driver + VQP_EVENT_OFF_FLAGS, VQP_EVENT_RESERVED);
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_int_eq(vqp_dev_push(&dev, c.head, 1), 0);
  ck_assert_int_eq(vqp_dev_need_interrupt(&dev), 1);
  unpair();
}
END_TEST

START_TEST(test_need_event_counts_a_lap_as_a_flip) {
  /* size 8: from (6, wrap 1) to (2, wrap 0) passes 6, 7, 0, 1 */
  vqp_cursor old = {6, 1}, now = {2, 0};
  ck_assert_int_eq(vqp_need_event(7 | 1u << 15, old, now, 8), 1);
  ck_assert_int_eq(vqp_need_event(1, old, now, 8), 1);
  ck_assert_int_eq(vqp_need_event(2, old, now, 8), 0);
  ck_assert_int_eq(vqp_need_event(1 | 1u << 15, old, now, 8), 0); /* a lap later */
  ck_assert_int_eq(vqp_need_event(5 | 1u << 15, old, now, 8), 0);
}
END_TEST

START_TEST(test_a_ring_is_refused_misaligned_overlapping_or_outside) {
  ck_assert_int_eq(gmem_init(&mem, GMEM_DEFAULT_BASE, MEM_SIZE), 0);
  vqp_layout good = {8, GMEM_DEFAULT_BASE + 4096, GMEM_DEFAULT_BASE + 8192,
                     GMEM_DEFAULT_BASE + 8196};
  static const struct {
    uint64_t ring, driver, device;
    vq_rule rule;
  } cases[] = {
      {8, 0, 0, VQ_RULE_RING_MISALIGNED}, {0, 2, 0, VQ_RULE_RING_MISALIGNED},
      {0, 0, 4092, VQ_RULE_RING_OVERLAP}, {0, 0, MEM_SIZE, VQ_RULE_RING_ADDR_RANGE},
      {0, 4, 0, VQ_RULE_RING_OVERLAP},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    vqp_layout l = good;
    l.ring += cases[k].ring;
    l.driver += cases[k].driver;
    l.device = cases[k].device == 4092 ? good.ring + 64 : l.device + cases[k].device;
    ck_assert_int_eq(vqp_dev_init(&dev, &mem, &l, 0, 0), EMU_EPROTO);
    ck_assert_str_eq(vq_rule_name(dev.broken), vq_rule_name(cases[k].rule));
    vqp_dev_close(&dev);
  }
  ck_assert_int_eq(vqp_dev_init(&dev, &mem, &good, 0, 0), 0);
  vqp_dev_close(&dev);
  gmem_close(&mem);
}
END_TEST

START_TEST(test_indirect_tables_are_one_descriptor_in_the_ring) {
  pair(4, 0, 1);
  /* a table of three at buffer 8: two readable, one writable */
  uint64_t table = buf_at(8);
  for (unsigned i = 0; i < 3; i++) {
    uint64_t at = table + (uint64_t)i * VQP_DESC_SIZE;
    gmem_write_le64(&mem, at + VQP_DESC_OFF_ADDR, buf_at(i));
    gmem_write_le32(&mem, at + VQP_DESC_OFF_LEN, 100);
    gmem_write_le16(&mem, at + VQP_DESC_OFF_FLAGS, i == 2 ? VQP_F_WRITE : 0);
  }
  uint64_t at = vqp_desc_addr(&drv.layout, 0);
  gmem_write_le64(&mem, at + VQP_DESC_OFF_ADDR, table);
  gmem_write_le32(&mem, at + VQP_DESC_OFF_LEN, 3 * VQP_DESC_SIZE);
  gmem_write_le16(&mem, at + VQP_DESC_OFF_ID, 2);
  put_flags(0, VQP_F_AVAIL | VQP_F_INDIRECT);
  vq_chain c;
  ck_assert_int_eq(vqp_dev_pop(&dev, &c), 0);
  ck_assert_uint_eq(c.head, 2);
  ck_assert_uint_eq(c.nseg, 3);
  ck_assert_uint_eq(c.readable_len, 200);
  ck_assert_uint_eq(c.writable_len, 100);
  ck_assert_uint_eq(dev.avail.pos, 1);
  unpair();
}
END_TEST

static Suite *packed_suite(void) {
  Suite *s = suite_create("packed");
  TCase *tc = tcase_create("ring");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_70000_requests_round_the_ring_all_answered);
  tcase_add_test(tc, test_a_chain_as_long_as_the_ring_flips_the_counters);
  tcase_add_test(tc, test_the_driver_exposes_a_chain_by_its_first_descriptor_last);
  tcase_add_test(tc, test_the_device_names_each_driver_mistake);
  tcase_add_test(tc, test_each_half_distrusts_the_device);
  tcase_add_test(tc, test_event_suppression_both_ways);
  tcase_add_test(tc, test_need_event_counts_a_lap_as_a_flip);
  tcase_add_test(tc, test_a_ring_is_refused_misaligned_overlapping_or_outside);
  tcase_add_test(tc, test_indirect_tables_are_one_descriptor_in_the_ring);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(packed_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
