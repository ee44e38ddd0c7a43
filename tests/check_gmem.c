/* Check suite for emu/gmem (and the error names of emu/err): guest memory is
 * the only thing the device and the driver share, so every access must be
 * bounds-checked, overflow-proof and little-endian. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"

#define BASE 0x10000ull
#define SIZE 4096ull

static gmem m;

static void setup(void) { ck_assert_int_eq(gmem_init(&m, BASE, SIZE), 0); }
static void teardown(void) { gmem_close(&m); }

/* ---- init ------------------------------------------------------------------------ */

START_TEST(test_init_rejects_base_zero_size_zero_and_overflowing_range) {
  gmem g;
  ck_assert_int_eq(gmem_init(&g, 0, SIZE), EMU_EINVAL);
  ck_assert_ptr_null(g.host);
  ck_assert_int_eq(gmem_init(&g, BASE, 0), EMU_EINVAL);
  ck_assert_ptr_null(g.host);
  ck_assert_int_eq(gmem_init(&g, UINT64_MAX - 15, 32), EMU_EINVAL);
  ck_assert_ptr_null(g.host);
}
END_TEST

START_TEST(test_init_zeroes_memory_and_records_base_and_size) {
  ck_assert_uint_eq(m.base, BASE);
  ck_assert_uint_eq(m.size, SIZE);
  ck_assert_uint_eq(m.brk, 0);
  uint8_t buf[SIZE];
  memset(buf, 0xa5, sizeof buf);
  ck_assert_int_eq(gmem_read(&m, BASE, buf, sizeof buf), 0);
  for (size_t i = 0; i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0);
}
END_TEST

START_TEST(test_close_forgets_everything) {
  gmem_close(&m);
  ck_assert_ptr_null(m.host);
  ck_assert_uint_eq(m.base, 0);
  ck_assert_uint_eq(m.size, 0);
  ck_assert_int_eq(gmem_init(&m, BASE, SIZE), 0); /* teardown closes again */
}
END_TEST

/* ---- bounds ---------------------------------------------------------------------- */

START_TEST(test_first_and_last_byte_read_and_write) {
  uint8_t b = 0x11;
  ck_assert_int_eq(gmem_write(&m, BASE, &b, 1), 0);
  b = 0x22;
  ck_assert_int_eq(gmem_write(&m, BASE + SIZE - 1, &b, 1), 0);
  ck_assert_uint_eq(m.host[0], 0x11);
  ck_assert_uint_eq(m.host[SIZE - 1], 0x22);
  b = 0;
  ck_assert_int_eq(gmem_read(&m, BASE, &b, 1), 0);
  ck_assert_uint_eq(b, 0x11);
  ck_assert_int_eq(gmem_read(&m, BASE + SIZE - 1, &b, 1), 0);
  ck_assert_uint_eq(b, 0x22);
  /* the whole range in one access */
  uint8_t all[SIZE];
  ck_assert_int_eq(gmem_read(&m, BASE, all, SIZE), 0);
  ck_assert_uint_eq(all[0], 0x11);
  ck_assert_uint_eq(all[SIZE - 1], 0x22);
}
END_TEST

START_TEST(test_one_past_end_is_erange_and_destination_untouched) {
  m.host[SIZE - 1] = 0x77;
  uint8_t dst[2] = {0xaa, 0xbb};
  ck_assert_int_eq(gmem_read(&m, BASE + SIZE, dst, 1), EMU_ERANGE);
  ck_assert_uint_eq(dst[0], 0xaa);
  /* straddling the end: not even the in-range byte is copied */
  ck_assert_int_eq(gmem_read(&m, BASE + SIZE - 1, dst, 2), EMU_ERANGE);
  ck_assert_uint_eq(dst[0], 0xaa);
  ck_assert_uint_eq(dst[1], 0xbb);
  uint8_t src[2] = {1, 2};
  ck_assert_int_eq(gmem_write(&m, BASE + SIZE - 1, src, 2), EMU_ERANGE);
  ck_assert_uint_eq(m.host[SIZE - 1], 0x77);
  ck_assert_int_eq(gmem_fill(&m, BASE + SIZE - 1, 0xee, 2), EMU_ERANGE);
  ck_assert_uint_eq(m.host[SIZE - 1], 0x77);
  ck_assert_int_eq(gmem_fill(&m, BASE + SIZE - 1, 0xee, 1), 0);
  ck_assert_uint_eq(m.host[SIZE - 1], 0xee);
}
END_TEST

START_TEST(test_before_base_and_address_zero_are_erange) {
  m.host[0] = 0x42;
  uint8_t dst = 0xaa;
  ck_assert_int_eq(gmem_read(&m, BASE - 1, &dst, 1), EMU_ERANGE);
  ck_assert_int_eq(gmem_read(&m, 0, &dst, 1), EMU_ERANGE);
  /* a read that starts before base and ends inside is still out */
  uint8_t two[2] = {0xaa, 0xaa};
  ck_assert_int_eq(gmem_read(&m, BASE - 1, two, 2), EMU_ERANGE);
  ck_assert_uint_eq(two[0], 0xaa);
  ck_assert_uint_eq(two[1], 0xaa);
  ck_assert_uint_eq(dst, 0xaa);
  uint8_t src[2] = {1, 2};
  ck_assert_int_eq(gmem_write(&m, BASE - 1, src, 2), EMU_ERANGE);
  ck_assert_uint_eq(m.host[0], 0x42);
}
END_TEST

START_TEST(test_gpa_plus_len_overflowing_64_bits_is_erange) {
  uint8_t dst[4] = {0xaa, 0xaa, 0xaa, 0xaa};
  ck_assert_int_eq(gmem_read(&m, UINT64_MAX, dst, 2), EMU_ERANGE);
  ck_assert_int_eq(gmem_read(&m, UINT64_MAX - 1, dst, 4), EMU_ERANGE);
  for (int i = 0; i < 4; i++) ck_assert_uint_eq(dst[i], 0xaa);
  uint16_t v16 = 0xbeef;
  ck_assert_int_eq(gmem_read_le16(&m, UINT64_MAX, &v16), EMU_ERANGE);
  ck_assert_uint_eq(v16, 0xbeef);
  uint64_t v64 = 0x0123456789abcdefull;
  ck_assert_int_eq(gmem_read_le64(&m, UINT64_MAX - 3, &v64), EMU_ERANGE);
  ck_assert_uint_eq(v64, 0x0123456789abcdefull);
  ck_assert_int_eq(gmem_write_le32(&m, UINT64_MAX - 1, 1), EMU_ERANGE);
  /* a length that would wrap from inside the range back to below it */
  ck_assert_int_eq(gmem_in_range(&m, BASE + 8, UINT64_MAX), 0);
  ck_assert_int_eq(gmem_in_range(&m, BASE + 8, UINT64_MAX - 7), 0);
}
END_TEST

START_TEST(test_in_range_edges) {
  ck_assert_int_eq(gmem_in_range(&m, BASE, SIZE), 1);
  ck_assert_int_eq(gmem_in_range(&m, BASE, SIZE + 1), 0);
  ck_assert_int_eq(gmem_in_range(&m, BASE + 1, SIZE), 0);
  ck_assert_int_eq(gmem_in_range(&m, BASE + SIZE - 1, 1), 1);
  ck_assert_int_eq(gmem_in_range(&m, BASE + SIZE - 1, 2), 0);
  ck_assert_int_eq(gmem_in_range(&m, BASE + SIZE, 1), 0);
  /* len 0: in range anywhere inside and exactly at the end, nowhere else */
  ck_assert_int_eq(gmem_in_range(&m, BASE, 0), 1);
  ck_assert_int_eq(gmem_in_range(&m, BASE + SIZE, 0), 1);
  ck_assert_int_eq(gmem_in_range(&m, BASE + SIZE + 1, 0), 0);
  ck_assert_int_eq(gmem_in_range(&m, BASE - 1, 0), 0);
  ck_assert_int_eq(gmem_in_range(&m, 0, 0), 0);
  ck_assert_int_eq(gmem_in_range(&m, UINT64_MAX, 0), 0);
  ck_assert_int_eq(gmem_in_range(&m, UINT64_MAX, 1), 0);
  /* zero-length copies follow the same rule */
  ck_assert_int_eq(gmem_read(&m, BASE + SIZE, NULL, 0), 0);
  ck_assert_int_eq(gmem_write(&m, BASE + SIZE + 1, NULL, 0), EMU_ERANGE);
}
END_TEST

/* ---- little-endian layout -------------------------------------------------------- */

START_TEST(test_le_writes_store_least_significant_byte_first) {
  ck_assert_int_eq(gmem_write_le16(&m, BASE + 0, 0x1234), 0);
  ck_assert_int_eq(gmem_write_le32(&m, BASE + 2, 0x89abcdefu), 0);
  ck_assert_int_eq(gmem_write_le64(&m, BASE + 6, 0x0102030405060708ull), 0);
  static const uint8_t want[14] = {0x34, 0x12, 0xef, 0xcd, 0xab, 0x89, 0x08,
                                   0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  uint8_t got[16];
  ck_assert_int_eq(gmem_read(&m, BASE, got, sizeof got), 0);
  for (size_t i = 0; i < sizeof want; i++) ck_assert_uint_eq(got[i], want[i]);
  ck_assert_uint_eq(got[14], 0); /* nothing written past the last field */
  ck_assert_uint_eq(got[15], 0);
}
END_TEST

START_TEST(test_le_reads_assemble_least_significant_byte_first) {
  static const uint8_t raw[8] = {0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88};
  ck_assert_int_eq(gmem_write(&m, BASE + 100, raw, sizeof raw), 0);
  uint16_t v16 = 0;
  uint32_t v32 = 0;
  uint64_t v64 = 0;
  ck_assert_int_eq(gmem_read_le16(&m, BASE + 100, &v16), 0);
  ck_assert_int_eq(gmem_read_le32(&m, BASE + 100, &v32), 0);
  ck_assert_int_eq(gmem_read_le64(&m, BASE + 100, &v64), 0);
  ck_assert_uint_eq(v16, 0xe2f1);
  ck_assert_uint_eq(v32, 0xc4d3e2f1u);
  ck_assert_uint_eq(v64, 0x8897a6b5c4d3e2f1ull);
  /* unaligned */
  ck_assert_int_eq(gmem_read_le16(&m, BASE + 101, &v16), 0);
  ck_assert_uint_eq(v16, 0xd3e2);
  /* the host-buffer helpers agree */
  ck_assert_uint_eq(emu_get_le16(raw), 0xe2f1);
  ck_assert_uint_eq(emu_get_le32(raw), 0xc4d3e2f1u);
  ck_assert_uint_eq(emu_get_le64(raw), 0x8897a6b5c4d3e2f1ull);
  uint8_t out[8] = {0};
  emu_put_le64(out, 0x8897a6b5c4d3e2f1ull);
  ck_assert_int_eq(memcmp(out, raw, 8), 0);
}
END_TEST

START_TEST(test_le_scalars_at_the_end_fit_exactly_or_fail_untouched) {
  ck_assert_int_eq(gmem_write_le16(&m, BASE + SIZE - 2, 0xabcd), 0);
  ck_assert_int_eq(gmem_write_le16(&m, BASE + SIZE - 1, 0x1111), EMU_ERANGE);
  ck_assert_uint_eq(m.host[SIZE - 1], 0xab);
  ck_assert_int_eq(gmem_write_le32(&m, BASE + SIZE - 4, 0x01020304), 0);
  ck_assert_int_eq(gmem_write_le32(&m, BASE + SIZE - 3, 0xffffffffu), EMU_ERANGE);
  ck_assert_int_eq(gmem_write_le64(&m, BASE + SIZE - 7, UINT64_MAX), EMU_ERANGE);
  ck_assert_uint_eq(m.host[SIZE - 4], 0x04);
  ck_assert_uint_eq(m.host[SIZE - 1], 0x01);
  uint64_t v64 = 7;
  ck_assert_int_eq(gmem_read_le64(&m, BASE + SIZE - 7, &v64), EMU_ERANGE);
  ck_assert_uint_eq(v64, 7);
  ck_assert_int_eq(gmem_read_le64(&m, BASE + SIZE - 8, &v64), 0);
  ck_assert_uint_eq(v64, 0x0102030400000000ull);
  uint32_t v32 = 9;
  ck_assert_int_eq(gmem_read_le32(&m, BASE + SIZE - 3, &v32), EMU_ERANGE);
  ck_assert_uint_eq(v32, 9);
  uint16_t v16 = 5;
  ck_assert_int_eq(gmem_read_le16(&m, BASE - 1, &v16), EMU_ERANGE);
  ck_assert_uint_eq(v16, 5);
}
END_TEST

/* ---- allocator ------------------------------------------------------------------- */

START_TEST(test_alloc_aligns_each_block_and_bumps) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  ck_assert_int_eq(gmem_alloc(&m, 3, 1, &a), 0);
  ck_assert_uint_eq(a, BASE);
  ck_assert_int_eq(gmem_alloc(&m, 10, 16, &b), 0);
  ck_assert_uint_eq(b, BASE + 16);
  ck_assert_int_eq(gmem_alloc(&m, 1, 2, &c), 0);
  ck_assert_uint_eq(c, BASE + 26);
  ck_assert_int_eq(gmem_alloc(&m, 8, 4096, &d), EMU_ENOSPC); /* next 4096 boundary is the end */
  ck_assert_int_eq(gmem_alloc(&m, 8, 256, &d), 0);
  ck_assert_uint_eq(d, BASE + 256);
  ck_assert_uint_eq(m.brk, 264);
}
END_TEST

START_TEST(test_alloc_aligns_the_guest_address_not_the_offset) {
  gmem g;
  ck_assert_int_eq(gmem_init(&g, 0x1008, 256), 0);
  uint64_t a = 0;
  ck_assert_int_eq(gmem_alloc(&g, 4, 16, &a), 0);
  ck_assert_uint_eq(a, 0x1010);
  ck_assert_int_eq(gmem_alloc(&g, 4, 8, &a), 0);
  ck_assert_uint_eq(a, 0x1018);
  gmem_close(&g);
}
END_TEST

START_TEST(test_alloc_enospc_when_full_and_cursor_unchanged) {
  uint64_t a = 0;
  ck_assert_int_eq(gmem_alloc(&m, SIZE - 16, 1, &a), 0);
  ck_assert_uint_eq(a, BASE);
  uint64_t untouched = 0x5555;
  ck_assert_int_eq(gmem_alloc(&m, 17, 1, &untouched), EMU_ENOSPC);
  /* cursor + len wrapping past 2^64 must not look like a small fit */
  ck_assert_int_eq(gmem_alloc(&m, UINT64_MAX, 1, &untouched), EMU_ENOSPC);
  ck_assert_int_eq(gmem_alloc(&m, UINT64_MAX - SIZE, 1, &untouched), EMU_ENOSPC);
  ck_assert_uint_eq(untouched, 0x5555);
  ck_assert_uint_eq(m.brk, SIZE - 16);
  /* exactly the rest still fits, then nothing does */
  ck_assert_int_eq(gmem_alloc(&m, 16, 16, &a), 0);
  ck_assert_uint_eq(a, BASE + SIZE - 16);
  ck_assert_int_eq(gmem_alloc(&m, 1, 1, &a), EMU_ENOSPC);
  ck_assert_uint_eq(m.brk, SIZE);
}
END_TEST

START_TEST(test_alloc_rejects_len_zero_and_non_power_of_two_alignment) {
  uint64_t a = 0x5555;
  ck_assert_int_eq(gmem_alloc(&m, 0, 8, &a), EMU_EINVAL);
  ck_assert_int_eq(gmem_alloc(&m, 8, 0, &a), EMU_EINVAL);
  ck_assert_int_eq(gmem_alloc(&m, 8, 3, &a), EMU_EINVAL);
  ck_assert_int_eq(gmem_alloc(&m, 8, 24, &a), EMU_EINVAL);
  ck_assert_uint_eq(a, 0x5555);
  ck_assert_uint_eq(m.brk, 0);
  ck_assert_int_eq(gmem_alloc(&m, SIZE + 1, 1, &a), EMU_ENOSPC);
  ck_assert_int_eq(gmem_alloc(&m, UINT64_MAX, 1, &a), EMU_ENOSPC);
}
END_TEST

START_TEST(test_alloc_alignment_wrapping_past_2_pow_64_is_enospc) {
  /* Near the top of the address space, rounding up to a large alignment
   * wraps to 0; that must not come back as a small in-range offset. */
  gmem g;
  ck_assert_int_eq(gmem_init(&g, UINT64_MAX - 0xfff, 0xf00), 0);
  uint64_t a = 0x5555;
  ck_assert_int_eq(gmem_alloc(&g, 1, 0x2000, &a), EMU_ENOSPC);
  ck_assert_int_eq(gmem_alloc(&g, 1, 1ull << 63, &a), EMU_ENOSPC);
  ck_assert_uint_eq(a, 0x5555);
  ck_assert_int_eq(gmem_alloc(&g, 1, 0x100, &a), 0);
  ck_assert_uint_eq(a, UINT64_MAX - 0xfff);
  gmem_close(&g);
}
END_TEST

/* ---- error names ----------------------------------------------------------------- */

START_TEST(test_error_names_and_texts) {
  ck_assert_str_eq(emu_errname(EMU_OK), "EMU_OK");
  ck_assert_str_eq(emu_errname(EMU_ERANGE), "EMU_ERANGE");
  ck_assert_str_eq(emu_errname(EMU_EPROTO), "EMU_EPROTO");
  ck_assert_str_eq(emu_errname(EMU_ESTATE), "EMU_ESTATE");
  ck_assert_str_eq(emu_strerror(EMU_ERANGE), "guest address out of range");
  ck_assert_str_eq(emu_strerror(EMU_ENOSPC), "no space left");
  ck_assert_str_eq(emu_errname(-99), "EMU_E?");
  ck_assert_str_eq(emu_strerror(1), "unknown error");
}
END_TEST

static Suite *gmem_suite(void) {
  Suite *s = suite_create("gmem");
  TCase *init = tcase_create("init");
  tcase_add_checked_fixture(init, setup, teardown);
  tcase_add_test(init, test_init_rejects_base_zero_size_zero_and_overflowing_range);
  tcase_add_test(init, test_init_zeroes_memory_and_records_base_and_size);
  tcase_add_test(init, test_close_forgets_everything);
  suite_add_tcase(s, init);

  TCase *bounds = tcase_create("bounds");
  tcase_add_checked_fixture(bounds, setup, teardown);
  tcase_add_test(bounds, test_first_and_last_byte_read_and_write);
  tcase_add_test(bounds, test_one_past_end_is_erange_and_destination_untouched);
  tcase_add_test(bounds, test_before_base_and_address_zero_are_erange);
  tcase_add_test(bounds, test_gpa_plus_len_overflowing_64_bits_is_erange);
  tcase_add_test(bounds, test_in_range_edges);
  suite_add_tcase(s, bounds);

  TCase *le = tcase_create("little_endian");
  tcase_add_checked_fixture(le, setup, teardown);
  tcase_add_test(le, test_le_writes_store_least_significant_byte_first);
  tcase_add_test(le, test_le_reads_assemble_least_significant_byte_first);
  tcase_add_test(le, test_le_scalars_at_the_end_fit_exactly_or_fail_untouched);
  suite_add_tcase(s, le);

  TCase *alloc = tcase_create("alloc");
  tcase_add_checked_fixture(alloc, setup, teardown);
  tcase_add_test(alloc, test_alloc_aligns_each_block_and_bumps);
  tcase_add_test(alloc, test_alloc_aligns_the_guest_address_not_the_offset);
  tcase_add_test(alloc, test_alloc_enospc_when_full_and_cursor_unchanged);
  tcase_add_test(alloc, test_alloc_rejects_len_zero_and_non_power_of_two_alignment);
  tcase_add_test(alloc, test_alloc_alignment_wrapping_past_2_pow_64_is_enospc);
  suite_add_tcase(s, alloc);

  TCase *err = tcase_create("errors");
  tcase_add_test(err, test_error_names_and_texts);
  suite_add_tcase(s, err);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(gmem_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
