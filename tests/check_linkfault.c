/* Faults on the host<->device link inside a whole scenario: each fault's
 * effect, and every host->guest frame's fate naming the fault done to it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "sim/scn.h"
#include "stack/wire.h"

#define US 1000ull
#define MS 1000000ull

typedef struct lrun {
  scn s;
  size_t host_n;
} lrun;

static void count_host(void *ctx, const uint8_t *f, size_t len, uint64_t now) {
  (void)f;
  (void)len;
  (void)now;
  ((lrun *)ctx)->host_n++;
}

/* n ARP requests for the guest, 100 us apart, through a link with `spec`. */
static lrun *run_arps(const char *spec, unsigned n, uint64_t seed) {
  lrun *r = calloc(1, sizeof *r);
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = seed;
  cfg.backend_latency = (emu_latency){10 * US, 10 * US};
  cfg.irq_latency = (emu_latency){2 * US, 2 * US};
  char err[160];
  ck_assert_msg(emu_fault_config_parse(spec, &cfg.fault, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(scn_init(&r->s, &cfg), 0);
  scn_set_host_rx(&r->s, count_host, r);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  uint8_t f[64];
  size_t len = scn_frame_arp_request(f, sizeof f, &host, cfg.guest.ip);
  for (unsigned i = 0; i < n; i++) ck_assert_int_eq(scn_inject_at(&r->s, i * 100 * US, f, len), 0);
  scn_run(&r->s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&r->s);
  ck_assert_uint_eq(emu_fates_total(&r->s.fates), r->s.fates.nframes);
  ck_assert_uint_eq(r->s.fates.double_fates, 0);
  return r;
}

static void done(lrun *r) {
  scn_close(&r->s);
  free(r);
}

static const emu_fate_rec *input(const lrun *r, size_t k) {
  int64_t id = scn_sent_id(&r->s, k);
  ck_assert_int_ge(id, 0);
  return &r->s.fates.frames[id];
}

START_TEST(test_dropped_frames_get_fault_drop_and_never_reach_the_device) {
  lrun *r = run_arps("drop=1", 5, 1);
  for (size_t k = 0; k < 5; k++) ck_assert_int_eq(input(r, k)->fate, EMU_FATE_FAULT_DROP);
  ck_assert_uint_eq(r->s.dev.stats.rx_frames, 0);
  ck_assert_uint_eq(r->host_n, 0);
  done(r);
}
END_TEST

START_TEST(test_corrupted_frames_fail_their_checks_and_name_the_fault) {
  lrun *r = run_arps("corrupt=1", 5, 1);
  for (size_t k = 0; k < 5; k++) {
    const emu_fate_rec *f = input(r, k);
    ck_assert_int_eq(f->fault, EMU_FATE_FAULT_CORRUPT);
    /* ARP has no checksum: a flipped byte makes it someone else's or broken */
    ck_assert_int_ne(f->fate, EMU_FATE_PENDING);
  }
  done(r);
}
END_TEST

START_TEST(test_duplicates_are_frames_of_their_own) {
  lrun *r = run_arps("dup=1", 4, 1);
  ck_assert_uint_eq(r->s.fates.nframes, 8); /* each request and its copy */
  size_t copies = 0;
  for (size_t i = 0; i < r->s.fates.nframes; i++) {
    copies += r->s.fates.frames[i].fault == EMU_FATE_FAULT_DUPLICATE;
    ck_assert_int_eq(r->s.fates.frames[i].fate, EMU_FATE_ANSWERED);
  }
  ck_assert_uint_eq(copies, 4);
  for (size_t k = 0; k < 4; k++) ck_assert_int_eq(input(r, k)->fault, EMU_FATE_PENDING);
  /* the guest answered every copy, and the link doubled its answers too */
  ck_assert_uint_eq(r->host_n, 16);
  done(r);
  r = run_arps("dup=1,dir=send", 4, 1);
  ck_assert_uint_eq(r->s.fates.nframes, 8);
  ck_assert_uint_eq(r->host_n, 8); /* only host->guest frames were copied */
  done(r);
}
END_TEST

START_TEST(test_mtu_cap_removes_longer_frames) {
  lrun *r = run_arps("mtu=68", 2, 1); /* 42-byte ARP fits: 28 bytes of payload */
  ck_assert_int_eq(input(r, 0)->fate, EMU_FATE_ANSWERED);
  done(r);
  /* an echo request of 98 bytes has 84 past the Ethernet header */
  scn_config cfg;
  scn_config_default(&cfg);
  ck_assert_int_eq(emu_fault_config_parse("mtu=68", &cfg.fault, NULL, 0), 0);
  static scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  uint8_t f[128];
  size_t len = scn_frame_icmp_echo(f, sizeof f, NET_ICMP_ECHO_REQUEST, &host, cfg.guest.mac,
                                   cfg.guest.ip, 1, 1, 98);
  ck_assert_int_eq(scn_inject_at(&s, 0, f, len), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_int_eq(s.fates.frames[0].fate, EMU_FATE_FAULT_MTU);
  scn_close(&s);
}
END_TEST

START_TEST(test_delayed_frame_arrives_late_by_the_delay) {
  lrun *r = run_arps("delay=1,delay_us=500", 1, 1);
  const emu_fate_rec *f = input(r, 0);
  ck_assert_int_eq(f->fault, EMU_FATE_FAULT_DELAY);
  ck_assert_int_eq(f->fate, EMU_FATE_ANSWERED);
  /* 500 us on the wire's edge, then 10 us of link and 2 us of interrupt */
  ck_assert_uint_eq(f->fated_ns, 500 * US + 10 * US + 2 * US);
  done(r);
}
END_TEST

START_TEST(test_faults_repeat_exactly_for_a_seed) {
  lrun *a = run_arps("drop=0.3,corrupt=0.2,dup=0.2,reorder=0.2", 40, 7);
  lrun *b = run_arps("drop=0.3,corrupt=0.2,dup=0.2,reorder=0.2", 40, 7);
  lrun *c = run_arps("drop=0.3,corrupt=0.2,dup=0.2,reorder=0.2", 40, 8);
  ck_assert_uint_eq(a->s.trace.hash, b->s.trace.hash);
  ck_assert_uint_eq(a->s.fates.nframes, b->s.fates.nframes);
  ck_assert_mem_eq(a->s.fates.counts, b->s.fates.counts, sizeof a->s.fates.counts);
  ck_assert_uint_gt(a->s.fates.counts[EMU_FATE_FAULT_DROP], 0);
  ck_assert_uint_ne(a->s.trace.hash, c->s.trace.hash);
  done(a);
  done(b);
  done(c);
}
END_TEST

static Suite *linkfault_suite(void) {
  Suite *su = suite_create("linkfault");
  TCase *tc = tcase_create("faults");
  tcase_add_test(tc, test_dropped_frames_get_fault_drop_and_never_reach_the_device);
  tcase_add_test(tc, test_corrupted_frames_fail_their_checks_and_name_the_fault);
  tcase_add_test(tc, test_duplicates_are_frames_of_their_own);
  tcase_add_test(tc, test_mtu_cap_removes_longer_frames);
  tcase_add_test(tc, test_delayed_frame_arrives_late_by_the_delay);
  tcase_add_test(tc, test_faults_repeat_exactly_for_a_seed);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  SRunner *sr = srunner_create(linkfault_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
