/* The two fate ledgers through the public API: every frame in either
 * direction gets exactly one fate, the trace carries each of them once
 * (with the fate the ledger holds), guest frames lost in the driver, at the
 * device or on the link are named, and the link going down and up is told
 * to the driver by configuration change notifications. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <vnetsim/vnetsim.h>

#define US 1000ull
#define T0 1000000000ull

static vns_sim *start(const char *bugs, const char *faults, uint16_t qsize, uint64_t seed) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.seed = seed;
  o.bugs = bugs;
  o.faults = faults;
  o.queue_size = qsize;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  return sim;
}

static uint64_t tx_count(const vns_sim *sim, const char *fate) {
  uint64_t n = 0;
  ck_assert_int_eq(vns_sim_tx_fate_count(sim, fate, &n), 0);
  return n;
}

/* Each ledger's fates add up to its frames, none pending, none twice. */
static void expect_accounted(const vns_sim *sim) {
  uint64_t rx = 0, tx = 0, v;
  for (size_t i = 1; vns_fate_name(i); i++) {
    ck_assert_int_eq(vns_sim_fate_count(sim, vns_fate_name(i), &v), 0);
    rx += v;
    tx += tx_count(sim, vns_fate_name(i));
  }
  ck_assert_uint_eq(rx, vns_sim_frame_count(sim));
  ck_assert_uint_eq(tx, vns_sim_tx_frame_count(sim));
  ck_assert_int_eq(vns_sim_counter(sim, "fates.double", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(vns_sim_counter(sim, "fates.tx_double", &v), 0);
  ck_assert_uint_eq(v, 0);
}

/* Every frame of both ledgers has exactly one frame_fate event, naming the
 * fate the ledger holds and stamped with the time the ledger has. */
static void expect_every_fate_traced_once(const vns_sim *sim) {
  size_t n[2] = {vns_sim_frame_count(sim), vns_sim_tx_frame_count(sim)};
  unsigned char *seen[2] = {calloc(n[0] + 1, 1), calloc(n[1] + 1, 1)};
  ck_assert(seen[0] && seen[1]);
  vns_trace_event ev;
  for (size_t i = 0; vns_sim_trace_event(sim, i, &ev) == 0; i++) {
    if (strcmp(ev.event, "frame_fate")) continue;
    int tx = !strcmp(ev.queue, "tx");
    ck_assert(tx || !strcmp(ev.queue, "rx"));
    ck_assert_int_ge(ev.frame, 0);
    ck_assert_uint_lt((size_t)ev.frame, n[tx]);
    ck_assert_msg(!seen[tx][ev.frame]++, "%s frame %lld traced twice", ev.queue,
                  (long long)ev.frame);
    const char *fate = tx ? vns_sim_tx_frame_fate(sim, (size_t)ev.frame)
                          : vns_sim_frame_fate(sim, (size_t)ev.frame);
    ck_assert_str_eq(ev.detail, fate);
    uint64_t fated = 0;
    if (tx)
      vns_sim_tx_frame_times(sim, (size_t)ev.frame, NULL, &fated);
    else
      vns_sim_frame_times(sim, (size_t)ev.frame, NULL, &fated);
    ck_assert_uint_eq(ev.t_ns, fated);
  }
  for (int d = 0; d < 2; d++)
    for (size_t i = 0; i < n[d]; i++)
      ck_assert_msg(seen[d][i], "frame %zu of ledger %d untraced", i, d);
  free(seen[0]);
  free(seen[1]);
}

/* A seeded burst workload to the end, both ledgers checked. */
static vns_sim *run_bursts(vns_sim *sim, uint64_t seed, unsigned bursts) {
  ck_assert_int_eq(vns_sim_inject_bursts(sim, seed, bursts), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  expect_accounted(sim);
  return sim;
}

/* The Redox driver loses frames in every way the RX side has; with faults
 * both ways, guest frames are lost on the link too. */
START_TEST(test_every_fate_of_both_ledgers_is_traced_once) {
  static const struct {
    const char *bugs, *faults;
  } runs[] = {
      {NULL, NULL},
      {"redox", NULL},
      {"rx-last-only", "drop=0.2,dup=0.1,delay=0.2,reorder=0.1,delay_us=40"},
      {"tx-no-reclaim", "drop=0.1,dir=recv"},
  };
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    vns_sim *sim = run_bursts(start(runs[r].bugs, runs[r].faults, 16, 5 + r), 5 + r, 60);
    expect_every_fate_traced_once(sim);
    vns_sim_free(sim);
  }
}
END_TEST

/* A driver that never takes back its TX buffers runs out: a ring's worth
 * of the guest's replies is sent, the rest wait in the driver's hold for
 * buffers that never come back (tx_not_reclaimed), and past the hold's 256
 * are dropped (tx_ring_full). */
START_TEST(test_a_full_tx_ring_fates_the_guests_frames) {
  vns_sim *sim = run_bursts(start("tx-no-reclaim", NULL, 16, 1), 1, 60);
  ck_assert_uint_eq(tx_count(sim, "sent"), 16); /* one ring's worth */
  ck_assert_uint_eq(tx_count(sim, "tx_not_reclaimed"), 256);
  ck_assert_uint_gt(tx_count(sim, "tx_ring_full"), 0);
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 0), "sent");
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 16), "tx_not_reclaimed");
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, vns_sim_tx_frame_count(sim) - 1), "tx_ring_full");
  vns_sim_free(sim);
}
END_TEST

/* A driver that never kicks TX: every frame it queued is still in the ring. */
START_TEST(test_frames_never_kicked_are_tx_not_kicked) {
  vns_sim *sim = run_bursts(start("tx-no-kick", NULL, 256, 1), 1, 5);
  ck_assert_uint_gt(vns_sim_tx_frame_count(sim), 0);
  ck_assert_uint_eq(tx_count(sim, "tx_not_kicked"), vns_sim_tx_frame_count(sim));
  vns_sim_free(sim);
}
END_TEST

/* Faults toward the host take guest frames: each such frame's fate is the
 * fault, a duplicate is a frame of its own, and the rest are sent. */
START_TEST(test_link_faults_toward_the_host_fate_guest_frames) {
  vns_sim *sim = run_bursts(start(NULL, "drop=0.3,dup=0.2,dir=recv", 256, 3), 3, 40);
  uint64_t dropped = tx_count(sim, "fault_drop"), sent = tx_count(sim, "sent"), drops = 0, dups = 0;
  ck_assert_uint_gt(dropped, 0);
  ck_assert_int_eq(vns_sim_counter(sim, "link.fault_drop", &drops), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "link.fault_duplicate", &dups), 0);
  ck_assert_uint_eq(dropped, drops); /* only guest frames meet faults here */
  ck_assert_uint_gt(dups, 0);
  ck_assert_uint_eq(dropped + sent, vns_sim_tx_frame_count(sim));
  vns_sim_free(sim);
}
END_TEST

/* A frame the device holds is traced as backlogged when it is held, and
 * its fate comes later: a buffer, or the end of the run. */
START_TEST(test_a_held_frame_is_backlogged_before_its_fate) {
  vns_sim *sim = run_bursts(start("rx-no-recycle", NULL, 16, 1), 1, 20);
  size_t n = vns_sim_frame_count(sim), held = 0;
  uint64_t *held_at = calloc(n + 1, sizeof *held_at);
  ck_assert_ptr_nonnull(held_at);
  vns_trace_event ev;
  for (size_t i = 0; vns_sim_trace_event(sim, i, &ev) == 0; i++) {
    if (!strcmp(ev.event, "backlogged")) {
      held_at[ev.frame] = ev.t_ns + 1;
      held++;
    } else if (!strcmp(ev.event, "frame_fate") && !strcmp(ev.queue, "rx") && held_at[ev.frame]) {
      ck_assert_uint_ge(ev.t_ns + 1, held_at[ev.frame]);
      ck_assert_str_eq(ev.detail, "rx_no_buffer"); /* this driver never gives one back */
    }
  }
  ck_assert_uint_gt(held, 0);
  uint64_t backlogged = 0;
  ck_assert_int_eq(vns_sim_counter(sim, "device.rx_backlogged", &backlogged), 0);
  ck_assert_uint_eq(held, backlogged);
  free(held_at);
  vns_sim_free(sim);
}
END_TEST

/* Counts configuration change events of one kind in the trace. */
static size_t config_events(const vns_sim *sim, const char *event) {
  size_t n = 0;
  vns_trace_event ev;
  for (size_t i = 0; vns_sim_trace_event(sim, i, &ev) == 0; i++)
    n += !strcmp(ev.event, event) && ev.queue && !strcmp(ev.queue, "config");
  return n;
}

/* The link goes down and comes back: the driver hears of each change by a
 * configuration change notification; while down, the host's frames and the
 * guest's own are link_down; after, the guest answers again. */
START_TEST(test_link_down_and_up_is_told_and_fates_frames_both_ways) {
  vns_sim *sim = start(NULL, NULL, 256, 1);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  ck_assert_int_eq(vns_sim_inject(sim, T0, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, T0 + 500 * US), 0);
  ck_assert_int_eq(vns_sim_set_link(sim, 0), 0);
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 1000 * US, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, T0 + 1500 * US), 0);
  ck_assert_int_eq(vns_sim_set_link(sim, 1), 0);
  ck_assert_int_eq(vns_sim_set_link(sim, 1), 0); /* no change: nothing told */
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 2000 * US, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 1), "link_down");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 2), "answered");
  ck_assert_uint_eq(config_events(sim, "interrupt"), 2);
  ck_assert_uint_eq(config_events(sim, "interrupt_received"), 2);
  ck_assert_int_eq(vns_sim_set_link(sim, 0), VNS_ESTATE);
  expect_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

/* --- the packed ring on the full path ------------------------------------ */

static vns_sim *start_packed(const char *bugs, uint16_t qsize) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.bugs = bugs;
  o.queue_size = qsize;
  o.ring = VNS_RING_PACKED;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  return sim;
}

/* 70,000 ARP requests round a 256-entry packed ring 273 times (each side's
 * wrap counter flips at every lap): every one answered, both ledgers whole. */
START_TEST(test_the_packed_ring_answers_70000_frames) {
  vns_sim *sim = start_packed(NULL, 256);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  for (uint64_t i = 0; i < 70000; i++)
    ck_assert_int_eq(vns_sim_inject(sim, T0 + i * 20 * US, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  expect_accounted(sim);
  uint64_t answered = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "answered", &answered), 0);
  ck_assert_uint_eq(answered, 70000);
  ck_assert_uint_eq(tx_count(sim, "sent"), 70000);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_int_eq(r.packed, 1);
  /* 256 buffers posted, then one more for each frame: 70,256 = 274 laps + 112 */
  ck_assert_int_eq(r.driver_next_avail, (70256 % 256) | ((70256 / 256) % 2 == 0) << 15);
  ck_assert_int_eq(r.device_next_used & 0x7fff, 70000 % 256);
  vns_sim_free(sim);
}
END_TEST

/* The Redox driver on a packed ring loses frames the way it does on a
 * split ring: never re-posting, the 257th frame and after find no buffer
 * (the 8-frame backlog aside); reading only the newest used buffer, a
 * burst's older frames are skipped. */
START_TEST(test_the_redox_bugs_show_on_the_packed_ring_too) {
  for (int packed = 0; packed < 2; packed++) {
    vns_sim_opts o;
    vns_sim_opts_init(&o);
    o.bugs = "rx-no-recycle";
    o.ring = packed ? VNS_RING_PACKED : VNS_RING_SPLIT;
    vns_sim *sim;
    ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
    uint8_t f[64];
    size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
    for (uint64_t i = 0; i < 300; i++)
      ck_assert_int_eq(vns_sim_inject(sim, T0 + i * 100 * US, f, len), 0);
    ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
    ck_assert_int_eq(vns_sim_finish(sim), 0);
    vns_ring_state r;
    ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
    ck_assert_int_eq(r.packed, packed);
    for (size_t i = 0; i < 256; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "answered");
    ck_assert_str_eq(vns_sim_frame_fate(sim, 256), "rx_no_buffer");
    expect_accounted(sim);
    vns_sim_free(sim);
  }
  vns_sim *sim = run_bursts(start_packed("rx-last-only", 256), 1, 30);
  uint64_t skipped = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "driver_skipped", &skipped), 0);
  ck_assert_uint_gt(skipped, 0);
  vns_sim_free(sim);
}
END_TEST

/* What has no packed form here is refused with the reason. */
START_TEST(test_the_packed_ring_refuses_what_it_lacks) {
  vns_sim_opts o;
  vns_sim_failure why;
  vns_sim *sim = NULL;
  vns_sim_opts_init(&o);
  o.ring = VNS_RING_PACKED;
  o.bugs = "used-slot-mod-256";
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "split ring"));
  o.bugs = "dev-avail-idx-no-rmb"; /* the device's split-ring barrier bug */
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "split ring"));
  o.bugs = NULL;
  o.ring = 7;
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_null(sim);
}
END_TEST

/* --- the packed ring's own bugs, each against the correct model ---------- */

static vns_sim *run_packed_arps(const char *bugs, uint16_t qsize, int n) {
  vns_sim *sim = start_packed(bugs, qsize);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  for (int i = 0; i < n; i++)
    ck_assert_int_eq(vns_sim_inject(sim, T0 + (uint64_t)i * 100 * US, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  expect_accounted(sim);
  return sim;
}

/* A driver that never flips its avail counter: its first lap of 16 RX
 * buffers works, the buffers it gives back after that look unavailable. */
START_TEST(test_drv_packed_no_wrap_toggle_starves_rx_after_one_lap) {
  vns_sim *sim = run_packed_arps("drv-packed-no-wrap-toggle", 16, 30);
  for (size_t i = 0; i < 16; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "answered");
  for (size_t i = 16; i < 30; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "rx_no_buffer");
  vns_sim_free(sim);
  sim = run_packed_arps(NULL, 16, 30); /* fixed: every one answered */
  for (size_t i = 0; i < 30; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "answered");
  vns_sim_free(sim);
}
END_TEST

/* A driver that tests used with its avail counter, which flipped when it
 * filled the ring at start: it never sees a used buffer. */
START_TEST(test_drv_packed_used_avail_counter_never_reads_a_frame) {
  vns_sim *sim = run_packed_arps("drv-packed-used-avail-counter", 16, 5);
  for (size_t i = 0; i < 5; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "rx_not_consumed");
  ck_assert_uint_eq(vns_sim_tx_frame_count(sim), 0);
  vns_sim_free(sim);
}
END_TEST

/* A device that misses the flip for a chain as long as the ring: on a
 * 2-entry queue the first TX chain (header and frame) is the whole ring, so
 * only the guest's first reply leaves. */
START_TEST(test_dev_packed_wrap_exact_stalls_tx_after_a_whole_ring_chain) {
  vns_sim *sim = run_packed_arps("dev-packed-wrap-exact", 2, 5);
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 0), "sent");
  ck_assert_uint_eq(tx_count(sim, "sent"), 1);
  ck_assert_uint_gt(vns_sim_tx_frame_count(sim), 1);
  vns_sim_free(sim);
  sim = run_packed_arps(NULL, 2, 5); /* fixed: every reply leaves */
  ck_assert_uint_eq(tx_count(sim, "sent"), 5);
  vns_sim_free(sim);
}
END_TEST

/* A device that reads the buffer id from a chain's first descriptor: TX
 * chains of two come back under the id the driver left there, which the
 * driver refuses as not in flight; its TX buffers leak. */
START_TEST(test_dev_packed_id_first_returns_buffers_the_driver_did_not_offer) {
  vns_sim *sim = run_bursts(start_packed("dev-packed-id-first", 256), 1, 40);
  vns_violation v;
  ck_assert_uint_gt(vns_sim_violation_count(sim), 0);
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, "used_id_not_in_flight");
  ck_assert_str_eq(v.actor, "driver"); /* the driver noticed the device's mistake */
  ck_assert_uint_eq(tx_count(sim, "sent"), vns_sim_tx_frame_count(sim)); /* it did send them */
  vns_sim_free(sim);
  sim = run_bursts(start_packed(NULL, 256), 1, 40);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  vns_sim_free(sim);
  /* the packed ring's bugs need the packed ring */
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.bugs = "dev-packed-id-first";
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
}
END_TEST

static Suite *ledgers_suite(void) {
  Suite *s = suite_create("ledgers");
  TCase *tc = tcase_create("both");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_every_fate_of_both_ledgers_is_traced_once);
  tcase_add_test(tc, test_a_full_tx_ring_fates_the_guests_frames);
  tcase_add_test(tc, test_frames_never_kicked_are_tx_not_kicked);
  tcase_add_test(tc, test_link_faults_toward_the_host_fate_guest_frames);
  tcase_add_test(tc, test_a_held_frame_is_backlogged_before_its_fate);
  tcase_add_test(tc, test_link_down_and_up_is_told_and_fates_frames_both_ways);
  TCase *pk = tcase_create("packed");
  tcase_set_timeout(pk, 120);
  tcase_add_test(pk, test_the_packed_ring_answers_70000_frames);
  tcase_add_test(pk, test_the_redox_bugs_show_on_the_packed_ring_too);
  tcase_add_test(pk, test_the_packed_ring_refuses_what_it_lacks);
  tcase_add_test(pk, test_drv_packed_no_wrap_toggle_starves_rx_after_one_lap);
  tcase_add_test(pk, test_drv_packed_used_avail_counter_never_reads_a_frame);
  tcase_add_test(pk, test_dev_packed_wrap_exact_stalls_tx_after_a_whole_ring_chain);
  tcase_add_test(pk, test_dev_packed_id_first_returns_buffers_the_driver_did_not_offer);
  suite_add_tcase(s, pk);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ledgers_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
