/* A capture fed frame by frame while the run goes on (vns_sim_feed_captured,
 * what `vnetsim replay` does so that it never holds the capture) makes the
 * same run as the capture queued whole before it: the same trace hash,
 * fates, times and counters. On every public capture under several option
 * sets, and on a generated capture made of the cases where the two could
 * part: frames at the same instant as each other, a clock that goes back,
 * times no clock holds, and gaps longer than the periodic poll's quiet
 * time. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/pcapio.h"
#include "vnetsim/vnetsim.h"

#ifndef VNETSIM_CAPTURES_DIR
#error "compile with -DVNETSIM_CAPTURES_DIR=\"/path/to/captures\""
#endif

#include "tests/tmpdir.h"

#define NS_PER_S       1000000000ull
#define GEN_START_S    1700000000u
#define GEN_FRAMES     40
#define GEN_FRAME_LEN  98
#define PCAP_NS_MAGIC  0xa1b23c4du
#define PCAP_HDR_WORDS 6
#define PCAP_REC_WORDS 4
#define DLT_ETHERNET   1

/* The option sets both ways are run under. The periodic poll is for the
 * generated capture only: a public one spans 16 years, a poll each ms. */
enum { OPTS_PROXY, OPTS_PACKED_FAULTS, OPTS_MERGEABLE, OPTS_POLL, OPTS_COUNT };

static void opts_for(int which, vns_sim_opts *o) {
  vns_sim_opts_init(o);
  o->arp_proxy = 1;
  o->keep_trace = 0;
  if (which == OPTS_PACKED_FAULTS) {
    o->ring = VNS_RING_PACKED;
    o->faults = "drop=0.05,dup=0.05,reorder=0.1,delay=0.1,corrupt=0.02";
  } else if (which == OPTS_POLL) {
    o->guest_poll_ns = 1000000;
  } else if (which == OPTS_MERGEABLE) {
    o->mergeable = 1;
    o->mtu = 9000;
    o->rx_buf_size = 512;
  }
}

/* Runs the capture at path queued whole, or fed frame by frame. */
typedef struct fed {
  vns_sim *sim;
  int rc;
} fed;

static int feed_one(void *ctx, const scn_capture_frame *f) {
  fed *d = ctx;
  int rc = f->unconvertible
               ? vns_sim_feed_link_unsupported(d->sim, f->ts_ns)
               : vns_sim_feed_captured(d->sim, f->ts_ns, f->data, f->caplen, f->origlen);
  if (rc) d->rc = rc;
  return rc;
}

/* The first time a clock holds, as `vnetsim replay` starts its run there. */
static uint64_t first_time(const scn_capture *in) {
  for (size_t i = 0; i < in->nframes; i++)
    if (in->frames[i].ts_ns <= VNS_TIME_MAX) return in->frames[i].ts_ns;
  return 0;
}

static vns_sim *run_capture(const char *path, int which, int feed) {
  char err[512];
  scn_capture in;
  ck_assert_msg(host_pcap_load(path, &in, err, sizeof err) == 0, "%s", err);
  vns_sim_opts o;
  opts_for(which, &o);
  o.start_ns = first_time(&in);
  vns_sim *sim = NULL;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  if (feed) {
    fed d = {sim, 0};
    scn_capture info;
    ck_assert_msg(host_pcap_each(path, 0, feed_one, &d, &info, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(info.nframes, in.nframes);
  } else {
    for (size_t i = 0; i < in.nframes; i++) {
      const scn_capture_frame *f = &in.frames[i];
      int rc = f->unconvertible
                   ? vns_sim_inject_link_unsupported(sim, f->ts_ns)
                   : vns_sim_inject_captured(sim, f->ts_ns, f->data, f->caplen, f->origlen);
      ck_assert_int_eq(rc, 0);
    }
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  host_pcap_free(&in);
  return sim;
}

static void assert_frames_equal(const vns_sim *a, const vns_sim *b, const char *what) {
  size_t n = vns_sim_frame_count(a);
  ck_assert_msg(vns_sim_frame_count(b) == n, "%s: %zu frames fed, %zu queued", what,
                vns_sim_frame_count(b), n);
  for (size_t i = 0; i < n; i++) {
    uint64_t ea, la, eb, lb;
    ck_assert_int_eq(vns_sim_frame_times(a, i, &ea, &la), 0);
    ck_assert_int_eq(vns_sim_frame_times(b, i, &eb, &lb), 0);
    ck_assert_msg(
        !strcmp(vns_sim_frame_fate(a, i), vns_sim_frame_fate(b, i)) && ea == eb && la == lb,
        "%s: frame %zu: %s at %llu queued whole, %s at %llu fed", what, i, vns_sim_frame_fate(a, i),
        (unsigned long long)la, vns_sim_frame_fate(b, i), (unsigned long long)lb);
    ck_assert_int_eq(vns_sim_captured_frame(a, i), vns_sim_captured_frame(b, i));
  }
  ck_assert_uint_eq(vns_sim_tx_frame_count(a), vns_sim_tx_frame_count(b));
}

static void assert_counters_equal(const vns_sim *a, const vns_sim *b, const char *what) {
  const char *name;
  for (size_t i = 0; (name = vns_counter_name(i)); i++) {
    uint64_t va = 0, vb = 0;
    int ra = vns_sim_counter(a, name, &va), rb = vns_sim_counter(b, name, &vb);
    ck_assert_int_eq(ra, rb);
    ck_assert_msg(va == vb, "%s: counter %s: %llu queued whole, %llu fed", what, name,
                  (unsigned long long)va, (unsigned long long)vb);
  }
}

/* Both ways under every option set; returns the frames the guest answered
 * or took, so that a caller can tell a run that did something. */
static uint64_t assert_same_run(const char *path, int nopts) {
  uint64_t worked = 0;
  for (int which = 0; which < nopts; which++) {
    char what[512];
    snprintf(what, sizeof what, "%s (options %d)", path, which);
    vns_sim *whole = run_capture(path, which, 0), *streamed = run_capture(path, which, 1);
    ck_assert_msg(vns_sim_trace_hash(whole) == vns_sim_trace_hash(streamed),
                  "%s: trace hash %016llx queued whole, %016llx fed", what,
                  (unsigned long long)vns_sim_trace_hash(whole),
                  (unsigned long long)vns_sim_trace_hash(streamed));
    assert_frames_equal(whole, streamed, what);
    assert_counters_equal(whole, streamed, what);
    uint64_t answered = 0, delivered = 0;
    vns_sim_fate_count(streamed, "answered", &answered);
    vns_sim_fate_count(streamed, "delivered", &delivered);
    worked += answered + delivered;
    vns_sim_free(whole);
    vns_sim_free(streamed);
  }
  return worked;
}

static int is_capture(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".pcap")) || (n > 7 && !strcmp(name + n - 7, ".pcapng"));
}

START_TEST(test_every_public_capture_fed_runs_as_queued) {
  DIR *d = opendir(VNETSIM_CAPTURES_DIR);
  ck_assert_ptr_nonnull(d);
  struct dirent *e;
  int captures = 0;
  while ((e = readdir(d))) {
    if (!is_capture(e->d_name)) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", VNETSIM_CAPTURES_DIR, e->d_name);
    assert_same_run(path, OPTS_POLL);
    captures++;
  }
  closedir(d);
  ck_assert_int_ge(captures, 20);
}
END_TEST

static void put_words(FILE *f, const uint32_t *w, size_t n) {
  ck_assert_uint_eq(fwrite(w, sizeof *w, n, f), n);
}

/* A nanosecond pcap of echo requests from the gateway to the guest, one
 * at each of times[0..n) (ns since GEN_START_S; UINT64_MAX: a time no clock
 * holds, written as a fraction of a second past 1e9). */
static void write_pings(const char *path, const uint64_t *times, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  const uint32_t hdr[PCAP_HDR_WORDS] = {PCAP_NS_MAGIC, 0x00040002u, 0, 0, 65535, DLT_ETHERNET};
  put_words(f, hdr, PCAP_HDR_WORDS);
  static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  for (size_t i = 0; i < n; i++) {
    uint8_t frame[GEN_FRAME_LEN];
    ck_assert_uint_eq(
        vns_frame_ping(frame, sizeof frame, guest_mac, VNS_GUEST_IP, (uint16_t)i, sizeof frame),
        sizeof frame);
    uint64_t at = times[i] == UINT64_MAX ? 0 : times[i];
    uint32_t frac = times[i] == UINT64_MAX ? (uint32_t)NS_PER_S + 5 : (uint32_t)(at % NS_PER_S);
    const uint32_t rec[PCAP_REC_WORDS] = {GEN_START_S + (uint32_t)(at / NS_PER_S), frac,
                                          sizeof frame, sizeof frame};
    put_words(f, rec, PCAP_REC_WORDS);
    ck_assert_uint_eq(fwrite(frame, 1, sizeof frame, f), sizeof frame);
  }
  ck_assert_int_eq(fclose(f), 0);
}

/* Times made to hit every case where feeding could part from queuing:
 * runs of equal times, a step back every 7th, a 3 s gap every 10th (past
 * the periodic poll's 2 s of quiet), a time no clock holds every 13th. */
static void write_generated(const char *path) {
  uint64_t times[GEN_FRAMES], t = 0;
  for (unsigned i = 0; i < GEN_FRAMES; i++) {
    if (i % 3) t += 40000u * (i % 5);
    if (i % 10 == 9) t += 3 * NS_PER_S;
    times[i] = i % 13 == 12 ? UINT64_MAX : i % 7 == 6 ? t - 50000u : t;
  }
  write_pings(path, times, GEN_FRAMES);
}

START_TEST(test_generated_ties_and_gaps_fed_run_as_queued) {
  char path[256];
  snprintf(path, sizeof path, "%s/gen.pcap", tmpdir);
  write_generated(path);
  /* and the run did something: the guest answered the pings */
  ck_assert_uint_gt(assert_same_run(path, OPTS_COUNT), GEN_FRAMES);
}
END_TEST

/* A frame due at the very instant the guest's reply to the one before it
 * reaches the host: queued whole, the captured frame goes first (it was
 * queued before the run made the reply's arrival); fed, it must too,
 * although the arrival was queued before it was. */
START_TEST(test_frame_at_the_instant_a_reply_arrives) {
  char path[256];
  snprintf(path, sizeof path, "%s/one.pcap", tmpdir);
  uint64_t times[2] = {0, 0};
  write_pings(path, times, 1);
  vns_sim *one = run_capture(path, OPTS_PROXY, 0);
  uint64_t entered = 0, arrived = 0;
  ck_assert_uint_ge(vns_sim_tx_frame_count(one), 1);
  ck_assert_int_eq(vns_sim_tx_frame_times(one, 0, &entered, &arrived), 0);
  ck_assert_str_eq(vns_sim_tx_frame_fate(one, 0), "sent");
  vns_sim_free(one);
  times[1] = arrived - (uint64_t)GEN_START_S * NS_PER_S;
  snprintf(path, sizeof path, "%s/two.pcap", tmpdir);
  write_pings(path, times, 2);
  ck_assert_uint_gt(assert_same_run(path, OPTS_PACKED_FAULTS), 0);
}
END_TEST

/* Feeding leaves the frame's bytes with the caller: the sim copies them. */
START_TEST(test_fed_frame_bytes_are_copied) {
  static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  vns_sim_opts o;
  opts_for(OPTS_PROXY, &o);
  vns_sim *sim = NULL;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  uint8_t frame[GEN_FRAME_LEN];
  for (uint16_t i = 0; i < 4; i++) {
    ck_assert_uint_gt(vns_frame_ping(frame, sizeof frame, guest_mac, VNS_GUEST_IP, i, sizeof frame),
                      0);
    ck_assert_int_eq(vns_sim_feed_captured(sim, i * 1000000ull, frame, sizeof frame, sizeof frame),
                     0);
    memset(frame, 0xee, sizeof frame); /* would make the queued frame garbage */
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  uint64_t answered = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "answered", &answered), 0);
  ck_assert_uint_eq(answered, 4);
  ck_assert_int_eq(vns_sim_feed_captured(sim, 9000000, frame, sizeof frame, sizeof frame),
                   VNS_ESTATE);
  ck_assert_int_eq(vns_sim_feed_captured(NULL, 0, frame, sizeof frame, sizeof frame), VNS_EINVAL);
  vns_sim_free(sim);
}
END_TEST

static Suite *feed_suite(void) {
  Suite *s = suite_create("feed");
  TCase *tc = tcase_create("feed");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_every_public_capture_fed_runs_as_queued);
  tcase_add_test(tc, test_generated_ties_and_gaps_fed_run_as_queued);
  tcase_add_test(tc, test_frame_at_the_instant_a_reply_arrives);
  tcase_add_test(tc, test_fed_frame_bytes_are_copied);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(feed_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
