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

#include "emu/grow.h"
#include "host/pcapio.h"
#include "sim/scn.h"
#include "vnetsim/vnetsim.h"

#ifndef VNETSIM_CAPTURES_DIR
#error "compile with -DVNETSIM_CAPTURES_DIR=\"/path/to/captures\""
#endif

#include "tests/tmpdir.h"

#define NS_PER_S        1000000000ull
#define GEN_START_S     1700000000u
#define GEN_FRAMES      40
#define GEN_LONG_FRAMES 400
#define GEN_FRAME_LEN   98
#define PCAP_NS_MAGIC   0xa1b23c4du
#define PCAP_HDR_WORDS  6
#define PCAP_REC_WORDS  4
#define DLT_ETHERNET    1

/* The option sets both ways are run under. The periodic poll is for the
 * generated capture only: a public one spans 16 years, a poll each ms. */
enum { OPTS_PROXY, OPTS_PACKED_FAULTS, OPTS_MERGEABLE, OPTS_POLL, OPTS_HEAVY_FAULTS, OPTS_COUNT };
/* Faults that keep frames and their copies on the wire long after the
 * originals are done, both ways. */
#define HEAVY_FAULTS "dup=0.5,delay=0.5,delay_us=5000,delay_max_us=20000,reorder=0.3,reorder_gap=5"

static void opts_for(int which, vns_sim_opts *o) {
  vns_sim_opts_init(o);
  o->arp_proxy = 1;
  o->keep_trace = 0;
  if (which == OPTS_PACKED_FAULTS) {
    o->ring = VNS_RING_PACKED;
    o->faults = "drop=0.05,dup=0.05,reorder=0.1,delay=0.1,corrupt=0.02";
  } else if (which == OPTS_HEAVY_FAULTS) {
    o->faults = HEAVY_FAULTS;
  } else if (which == OPTS_POLL) {
    o->guest_poll_ns = 1000000;
  } else if (which == OPTS_MERGEABLE) {
    o->mergeable = 1;
    o->mtu = 9000;
    o->rx_buf_size = 512;
  }
}

/* What frame_done reported, in order. */
typedef struct reports {
  vns_frame_done *done;
  char (*fates)[32];
  size_t n, cap;
} reports;

static void note_done(void *ctx, const vns_frame_done *d) {
  reports *r = ctx;
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    r->done = realloc(r->done, r->cap * sizeof *r->done);
    r->fates = realloc(r->fates, r->cap * sizeof *r->fates);
    ck_assert(r->done && r->fates);
  }
  r->done[r->n] = *d;
  snprintf(r->fates[r->n], sizeof r->fates[0], "%s%s%s", d->fate, d->fault ? "/" : "",
           d->fault ? d->fault : "");
  r->n++;
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

/* reported: the frames go to it as they are done, and are forgotten. */
static vns_sim *run_capture(const char *path, int which, int feed, reports *reported) {
  char err[512];
  scn_capture in;
  ck_assert_msg(host_pcap_load(path, &in, err, sizeof err) == 0, "%s", err);
  vns_sim_opts o;
  opts_for(which, &o);
  o.start_ns = first_time(&in);
  o.frame_done = reported ? note_done : NULL;
  o.frame_done_ctx = reported;
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

/* scn_window's report, counted only. */
static void count_done(void *ctx, uint32_t id, int64_t captured, const emu_fate_rec *rec) {
  reports *r = ctx;
  ck_assert_uint_eq(id, r->n + r->cap); /* cap counts the host's own frames here */
  if (captured < 0)
    r->cap++; /* a proxy ARP reply: the only frames here not captured */
  else
    ck_assert_int_eq(captured, (int64_t)r->n++);
  ck_assert_int_ne(rec->fate, EMU_FATE_PENDING);
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

/* Every frame has one final fate, in both ledgers. */
static void assert_accounted(const vns_sim *sim, const char *what) {
  uint64_t pending = 1, tx_pending = 1, doubles = 1, tx_doubles = 1;
  ck_assert_int_eq(vns_sim_fate_count(sim, "pending", &pending), 0);
  ck_assert_int_eq(vns_sim_tx_fate_count(sim, "pending", &tx_pending), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "fates.double", &doubles), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "fates.tx_double", &tx_doubles), 0);
  ck_assert_msg(!pending && !tx_pending && !doubles && !tx_doubles,
                "%s: pending %llu/%llu, two fates %llu/%llu (host->guest/guest->host)", what,
                (unsigned long long)pending, (unsigned long long)tx_pending,
                (unsigned long long)doubles, (unsigned long long)tx_doubles);
}

/* Both ways under every option set; returns the frames the guest answered
 * or took, so that a caller can tell a run that did something. */
static uint64_t assert_same_run(const char *path, int nopts) {
  uint64_t worked = 0;
  for (int which = 0; which < nopts; which++) {
    char what[512];
    snprintf(what, sizeof what, "%s (options %d)", path, which);
    vns_sim *whole = run_capture(path, which, 0, NULL),
            *streamed = run_capture(path, which, 1, NULL);
    ck_assert_msg(vns_sim_trace_hash(whole) == vns_sim_trace_hash(streamed),
                  "%s: trace hash %016llx queued whole, %016llx fed", what,
                  (unsigned long long)vns_sim_trace_hash(whole),
                  (unsigned long long)vns_sim_trace_hash(streamed));
    assert_frames_equal(whole, streamed, what);
    assert_counters_equal(whole, streamed, what);
    assert_accounted(streamed, what);
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
  vns_sim *one = run_capture(path, OPTS_PROXY, 0, NULL);
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

/* A run whose frames are reported and forgotten tells, frame by frame and
 * in ledger order, what a run that keeps every record holds at its end;
 * the forgotten frames are gone from the lookups, the counts are not. */
START_TEST(test_frames_reported_once_in_order_then_forgotten) {
  char path[256];
  snprintf(path, sizeof path, "%s/gen.pcap", tmpdir);
  if (_i == 0) {
    write_generated(path);
  } else { /* long enough for copies to outlive their originals */
    uint64_t times[GEN_LONG_FRAMES];
    for (size_t i = 0; i < GEN_LONG_FRAMES; i++) times[i] = i * 20000u;
    write_pings(path, times, GEN_LONG_FRAMES);
  }
  for (int which = 0; which < OPTS_COUNT; which++) {
    vns_sim *kept = run_capture(path, which, 1, NULL);
    reports r = {0};
    vns_sim *forgot = run_capture(path, which, 1, &r);
    ck_assert_msg(vns_sim_trace_hash(kept) == vns_sim_trace_hash(forgot),
                  "options %d: trace hash %016llx kept, %016llx forgotten", which,
                  (unsigned long long)vns_sim_trace_hash(kept),
                  (unsigned long long)vns_sim_trace_hash(forgot));
    ck_assert_uint_eq(r.n, vns_sim_frame_count(kept));
    int64_t next_captured = 0;
    for (size_t i = 0; i < r.n; i++) {
      const vns_frame_done *d = &r.done[i];
      uint64_t entered, fated;
      ck_assert_uint_eq(d->frame, i);
      ck_assert_int_eq(vns_sim_frame_times(kept, i, &entered, &fated), 0);
      const char *fault = vns_sim_frame_fault(kept, i);
      char want[32];
      snprintf(want, sizeof want, "%s%s%s", vns_sim_frame_fate(kept, i), fault ? "/" : "",
               fault ? fault : "");
      ck_assert_str_eq(r.fates[i], want);
      ck_assert_uint_eq(d->entered_ns, entered);
      ck_assert_uint_eq(d->fated_ns, fated);
      ck_assert_int_eq(
          d->captured,
          vns_sim_captured_frame(kept, (size_t)next_captured) == (int64_t)i ? next_captured : -1);
      if (d->captured >= 0) next_captured++;
      ck_assert_ptr_null(vns_sim_frame_fate(forgot, i));
    }
    ck_assert_int_eq(next_captured, _i == 0 ? GEN_FRAMES : GEN_LONG_FRAMES);
    const char *name;
    for (size_t c = 0; (name = vns_counter_name(c)); c++) {
      uint64_t va = 0, vb = 0;
      vns_sim_counter(kept, name, &va);
      vns_sim_counter(forgot, name, &vb);
      ck_assert_msg(va == vb, "counter %s: %llu kept, %llu forgotten", name, (unsigned long long)va,
                    (unsigned long long)vb);
    }
    free(r.done);
    free(r.fates);
    vns_sim_free(kept);
    vns_sim_free(forgot);
  }
}
END_TEST

/* The windowed ledger's memory is the frames in flight: after 100,000
 * echo requests the ledgers and the id lists hold a few thousand records
 * at most, where they would hold every frame. */
START_TEST(test_windowed_ledger_stays_bounded) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.arp_proxy = 1;
  cfg.trace_hash = 0;
  char err[128];
  if (_i) ck_assert_int_eq(emu_fault_config_parse(HEAVY_FAULTS, &cfg.fault, err, sizeof err), 0);
  scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  reports r = {0};
  scn_window(&s, count_done, &r);
  static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint8_t frame[GEN_FRAME_LEN];
  const size_t frames = 100000;
  for (size_t i = 0; i < frames; i++) {
    ck_assert_uint_gt(
        vns_frame_ping(frame, sizeof frame, guest_mac, VNS_GUEST_IP, (uint16_t)i, sizeof frame), 0);
    scn_capture_frame f = {
        .ts_ns = i * 10000u, .caplen = sizeof frame, .origlen = sizeof frame, .data = frame};
    uint64_t ran;
    ck_assert_int_eq(scn_feed_captured(&s, &f, UINT64_MAX, &ran), 0);
  }
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_uint_eq(r.n, frames); /* every captured frame reported, in order */
  ck_assert_uint_eq(emu_fates_total(&s.fates), s.fates.nframes);
  ck_assert_uint_eq(emu_fates_total(&s.tx_fates), s.tx_fates.nframes);
  ck_assert_uint_eq(s.fates.double_fates + s.tx_fates.double_fates, 0);
  if (!_i) ck_assert_uint_eq(s.fates.counts[EMU_FATE_ANSWERED], frames);
  ck_assert_uint_ge(s.tx_fates.counts[EMU_FATE_SENT], _i ? frames / 2 : frames);
  /* with faults, frames held up to 20 ms, 10 us apart: 2,000 in flight */
  const size_t bound = (_i ? 16 : 4) * EMU_GROW_COMPACT_MIN;
  ck_assert_uint_le(s.fates.cap, bound);
  ck_assert_uint_le(s.tx_fates.cap, bound);
  ck_assert_uint_le(s.sent.cap, bound);
  ck_assert_uint_le(s.captured.cap, bound);
  ck_assert_uint_le(s.on_link.cap, bound);
  ck_assert_uint_le(s.recv.cap, bound);
  scn_close(&s);
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
  tcase_add_loop_test(tc, test_frames_reported_once_in_order_then_forgotten, 0, 2);
  tcase_add_loop_test(tc, test_windowed_ledger_stays_bounded, 0, 2);
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
