/* Mergeable RX buffers (virtio 1.2 §5.1.6.4) and the device's mtu
 * (§5.1.4) through the public API: frames of 1 to 7 buffers echoed byte for
 * byte on both ring formats, the buffers each took counted, the mtu's limit
 * both ways, a ring too small for a frame, and each mergeable-buffer bug
 * against the fixed models, its symptom pinned to the frame. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <vnetsim/vnetsim.h>

#define US          1000ull
#define T0          1000000000ull
#define RX_BUF      1300u /* a frame of k buffers: up to k * 1300 - 12 bytes */
#define MTU         9000u
#define ETH_IP_ICMP 42u /* where an echo's data starts in its frame */
#define MAX_FRAME   (MTU + 14u)
#define VLAN_TAG    4u
#define MAX_ECHOES  24

typedef struct echoes {
  size_t n;
  size_t len[MAX_ECHOES];
  uint8_t data[MAX_ECHOES][MAX_FRAME];
} echoes;

/* Keeps each ICMP echo reply the guest sends (IPv4, protocol 1, type 0). */
static void keep_replies(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  echoes *e = ctx;
  (void)now_ns;
  if (len < ETH_IP_ICMP || frame[12] != 0x08 || frame[13] != 0x00 || frame[23] != 1 ||
      frame[34] != 0 || e->n == MAX_ECHOES || len > MAX_FRAME)
    return;
  memcpy(e->data[e->n], frame, len);
  e->len[e->n++] = len;
}

static vns_sim *start(int ring, uint32_t rx_buf, uint16_t mtu, const char *bugs, uint16_t qsize,
                      echoes *e) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.ring = ring;
  o.mergeable = 1;
  o.mtu = mtu;
  o.rx_buf_size = rx_buf;
  o.bugs = bugs;
  o.queue_size = qsize;
  o.host_peer = 1; /* answers the guest's ARP for the host */
  o.host_rx = keep_replies;
  o.host_rx_ctx = e;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  return sim;
}

static uint64_t counter(const vns_sim *sim, const char *name) {
  uint64_t v = 0;
  ck_assert_int_eq(vns_sim_counter(sim, name, &v), 0);
  return v;
}

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* An echo request of len bytes, seq, injected at `at`. */
static void ping(vns_sim *sim, uint64_t at, uint16_t seq, size_t len) {
  static uint8_t f[MAX_FRAME];
  ck_assert_uint_eq(vns_frame_ping(f, sizeof f, guest_mac, VNS_GUEST_IP, seq, len), len);
  ck_assert_int_eq(vns_sim_inject(sim, at, f, len), 0);
}

/* The fate of the frame the host sent at `at` (the ledger numbers frames
 * as they are sent, the host's own ARP replies among them). */
static const char *fate_at(const vns_sim *sim, uint64_t at) {
  for (size_t i = 0; i < vns_sim_frame_count(sim); i++) {
    uint64_t sent = 0;
    ck_assert_int_eq(vns_sim_frame_times(sim, i, &sent, NULL), 0);
    if (sent == at) return vns_sim_frame_fate(sim, i);
  }
  ck_abort_msg("no frame sent at %llu", (unsigned long long)at);
  return NULL;
}

/* The request's data, as vns_frame_ping() writes it, equals the reply's. */
static void expect_echoed(const echoes *e, size_t i, uint16_t seq, size_t len) {
  static uint8_t f[MAX_FRAME];
  ck_assert_uint_eq(vns_frame_ping(f, sizeof f, guest_mac, VNS_GUEST_IP, seq, len), len);
  ck_assert_uint_eq(e->len[i], len);
  ck_assert_msg(!memcmp(e->data[i] + ETH_IP_ICMP, f + ETH_IP_ICMP, len - ETH_IP_ICMP),
                "echo %zu of %zu bytes differs", i, len);
}

/* Frames needing 1..7 buffers, the edges included: exactly k buffers full,
 * and one byte more. */
static const struct {
  size_t len;
  unsigned buffers;
} sizes[] = {{RX_BUF - 12, 1},     {RX_BUF - 12 + 1, 2}, {2 * RX_BUF - 12, 2}, {3 * RX_BUF - 12, 3},
             {4 * RX_BUF - 12, 4}, {5 * RX_BUF - 12, 5}, {6 * RX_BUF - 12, 6}, {MAX_FRAME, 7}};
#define NSIZES (sizeof sizes / sizeof sizes[0])

START_TEST(test_frames_of_1_to_7_buffers_echo_byte_exact) {
  int ring = _i ? VNS_RING_PACKED : VNS_RING_SPLIT;
  static echoes e;
  memset(&e, 0, sizeof e);
  vns_sim *sim = start(ring, RX_BUF, MTU, NULL, 256, &e);
  unsigned buffers = 0, merged = 0;
  for (size_t i = 0; i < NSIZES; i++) {
    ping(sim, T0 + i * 100 * US, (uint16_t)(i + 1), sizes[i].len);
    buffers += sizes[i].buffers;
    merged += sizes[i].buffers > 1;
  }
  vns_sim_run(sim, VNS_TIME_IDLE);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_uint_eq(e.n, NSIZES);
  for (size_t i = 0; i < NSIZES; i++) {
    ck_assert_str_eq(fate_at(sim, T0 + i * 100 * US), "answered");
    expect_echoed(&e, i, (uint16_t)(i + 1), sizes[i].len);
  }
  ck_assert_uint_eq(counter(sim, "device.rx_merged"), merged);
  ck_assert_uint_eq(counter(sim, "driver.rx_merged"), merged);
  /* every other frame the host sent (its ARP reply) took one buffer */
  uint64_t others = vns_sim_frame_count(sim) - NSIZES;
  ck_assert_uint_eq(counter(sim, "device.pops_rx"), buffers + others);
  ck_assert_uint_eq(counter(sim, "driver.rx_reposted"), buffers + others);
  ck_assert_uint_eq(counter(sim, "violations"), 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_the_mtu_bounds_frames_and_sizes_buffers_without_merging) {
  static echoes e;
  memset(&e, 0, sizeof e);
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.mtu = MTU;
  o.host_peer = 1;
  o.host_rx = keep_replies;
  o.host_rx_ctx = &e;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  ping(sim, T0, 1, MAX_FRAME);
  static uint8_t big[MAX_FRAME + VLAN_TAG + 1];
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 100 * US, big, sizeof big), 0);
  vns_sim_run(sim, VNS_TIME_IDLE);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  /* one buffer of 9026 bytes holds it: §5.1.4.2 asks room for the mtu */
  ck_assert_str_eq(fate_at(sim, T0), "answered");
  expect_echoed(&e, 0, 1, MAX_FRAME);
  ck_assert_uint_eq(counter(sim, "device.rx_merged"), 0);
  /* 9000 + 14 + a VLAN tag is the most; one byte more is refused */
  ck_assert_str_eq(fate_at(sim, T0 + 100 * US), "frame_invalid");
  vns_sim_free(sim);
  /* without the mtu 1514 bytes (1518 with a VLAN tag) is the most */
  sim = start(VNS_RING_SPLIT, 0, 0, NULL, 256, &e);
  static uint8_t f[MAX_FRAME];
  ck_assert_uint_eq(vns_frame_ping(f, sizeof f, guest_mac, VNS_GUEST_IP, 1, 1519), 1519);
  ck_assert_int_eq(vns_sim_inject(sim, T0, f, 1519), 0);
  vns_sim_run(sim, VNS_TIME_IDLE);
  ck_assert_str_eq(fate_at(sim, T0), "frame_invalid");
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_a_frame_larger_than_the_whole_ring_is_lost_alone) {
  static echoes e;
  memset(&e, 0, sizeof e);
  /* 4 buffers of 1300 bytes cannot hold a 7-buffer frame */
  vns_sim *sim = start(VNS_RING_SPLIT, RX_BUF, MTU, NULL, 4, &e);
  ping(sim, T0, 1, MAX_FRAME);
  ping(sim, T0 + 100 * US, 2, 2 * RX_BUF - 12);
  vns_sim_run(sim, VNS_TIME_IDLE);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_str_eq(fate_at(sim, T0), "rx_buffer_too_small");
  ck_assert_str_eq(fate_at(sim, T0 + 100 * US), "answered");
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, "rx_buf_too_small");
  vns_sim_free(sim);
}
END_TEST

/* ECHOES echoes of two buffers each (64-byte buffers), 200 us apart. */
#define ECHOES     20
#define ECHO_AT(i) (T0 + (i)*200 * US)
static vns_sim *two_buffer_pings(const char *bugs, uint16_t qsize, echoes *e) {
  vns_sim *sim = start(VNS_RING_SPLIT, 64, 0, bugs, qsize, e);
  for (unsigned i = 0; i < ECHOES; i++) ping(sim, ECHO_AT(i), (uint16_t)(i + 1), 98);
  vns_sim_run(sim, VNS_TIME_IDLE);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  return sim;
}

/* The fixed models answer every echo of two buffers, breaking no rule. */
static void expect_fixed_answers(uint16_t qsize) {
  static echoes e;
  memset(&e, 0, sizeof e);
  vns_sim *fixed = two_buffer_pings(NULL, qsize, &e);
  ck_assert_uint_eq(e.n, ECHOES);
  for (size_t i = 0; i < ECHOES; i++) ck_assert_str_eq(fate_at(fixed, ECHO_AT(i)), "answered");
  ck_assert_uint_eq(counter(fixed, "violations"), 0);
  ck_assert_uint_eq(counter(fixed, "driver.rx_merged"), ECHOES);
  vns_sim_free(fixed);
}

START_TEST(test_drv_mrg_first_only_cuts_every_merged_frame) {
  expect_fixed_answers(256);
  static echoes e;
  memset(&e, 0, sizeof e);
  vns_sim *bug = two_buffer_pings("drv-mrg-first-only", 256, &e);
  ck_assert_uint_eq(e.n, 0);
  /* the first buffer holds 52 of the 98 bytes: an IP packet cut short */
  for (size_t i = 0; i < ECHOES; i++) ck_assert_str_eq(fate_at(bug, ECHO_AT(i)), "malformed");
  /* the second buffers were read as frames of their own */
  ck_assert_uint_eq(counter(bug, "driver.rx_frames"), counter(bug, "device.rx_frames") + ECHOES);
  vns_sim_free(bug);
}
END_TEST

START_TEST(test_drv_mrg_repost_first_drains_the_ring) {
  expect_fixed_answers(16);
  static echoes e;
  vns_sim *bug = two_buffer_pings("drv-mrg-repost-first", 16, &e);
  /* 16 buffers; each echo takes two and gives one back, so echo k finds
   * 17 - k: the 15th is the last to find two, the rest never find them */
  for (size_t i = 0; i < ECHOES; i++)
    ck_assert_str_eq(fate_at(bug, ECHO_AT(i)), i < 15 ? "answered" : "rx_no_buffer");
  ck_assert_uint_eq(counter(bug, "driver.rx_reposted"), counter(bug, "device.rx_frames"));
  vns_sim_free(bug);
}
END_TEST

START_TEST(test_dev_mrg_num_buffers_one_is_named_by_the_driver) {
  expect_fixed_answers(256);
  static echoes e;
  vns_sim *bug = two_buffer_pings("dev-mrg-num-buffers-one", 256, &e);
  for (size_t i = 0; i < ECHOES; i++) ck_assert_str_eq(fate_at(bug, ECHO_AT(i)), "malformed");
  /* each second buffer's "header" is frame bytes: num_buffers_invalid, the
   * device's rule, named by the driver */
  ck_assert_uint_eq(counter(bug, "violations"), ECHOES);
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(bug, 0, &v), 0);
  ck_assert_str_eq(v.rule, "num_buffers_invalid");
  ck_assert_str_eq(v.actor, "driver"); /* who noticed: the device broke it */
  ck_assert_str_eq(v.section, "5.1.6.4.1");
  vns_sim_free(bug);
}
END_TEST

START_TEST(test_mergeable_bugs_need_mergeable_buffers) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.bugs = "drv-mrg-first-only";
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
  o.bugs = NULL;
  o.mtu = 67;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
  o.mtu = 9001;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
  o.mtu = 0;
  o.rx_buf_size = 12;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
}
END_TEST

static Suite *mergeable_suite(void) {
  Suite *s = suite_create("mergeable");
  TCase *tc = tcase_create("rx");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_frames_of_1_to_7_buffers_echo_byte_exact, 0, 2);
  tcase_add_test(tc, test_the_mtu_bounds_frames_and_sizes_buffers_without_merging);
  tcase_add_test(tc, test_a_frame_larger_than_the_whole_ring_is_lost_alone);
  tcase_add_test(tc, test_drv_mrg_first_only_cuts_every_merged_frame);
  tcase_add_test(tc, test_drv_mrg_repost_first_drains_the_ring);
  tcase_add_test(tc, test_dev_mrg_num_buffers_one_is_named_by_the_driver);
  tcase_add_test(tc, test_mergeable_bugs_need_mergeable_buffers);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(mergeable_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
