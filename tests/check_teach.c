/* The teaching view: the recorder's steps and ring snapshots, the terminal
 * rendering against a reviewed golden file, and the HTML page loaded in
 * headless Chromium with its embedded data checked against the run. */
#define _DEFAULT_SOURCE     /* mkdtemp */
#define _XOPEN_SOURCE   600 /* posix_openpt */

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "emu/err.h"
#include "host/pcapio.h"
#include "teach/teach.h"
#include "virtio/vbug.h"

#define CHROMIUM      "/usr/bin/chromium"
#define GOLDEN        VNETSIM_TEST_DATA_DIR "/teach_seed1.txt"
#define GOLDEN_PACKED VNETSIM_TEST_DATA_DIR "/teach_packed_seed1.txt"
#define GOLDEN_MRG    VNETSIM_TEST_DATA_DIR "/teach_mergeable_seed1.txt"
#define GOLDEN_MRG_PK VNETSIM_TEST_DATA_DIR "/teach_mergeable_packed_seed1.txt"
#define GOLDEN_NO_EVI VNETSIM_TEST_DATA_DIR "/teach_no_event_idx_seed1.txt"

#include "tests/tmpdir.h"

/* The whole file, NUL-terminated, in a malloc'd buffer (NULL if unreadable). */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (cap - n - 1 == 0) {
      char *p = realloc(buf, cap * 2);
      if (!p) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = p;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf) buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* Runs a shell command line; returns its exit status. */
static int sh(const char *cmd) {
  int st = system(cmd);
  ck_assert_msg(WIFEXITED(st), "'%s' did not exit normally", cmd);
  return WEXITSTATUS(st);
}

/* --- the recorder, through the library ----------------------------------- */

static teach_walk walk;

static void run_walk(unsigned bugs) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  o.bugs = bugs;
  ck_assert_int_eq(teach_walk_run(&o, &walk), 0);
}

static int has_kind(teach_kind k, const char *text_part) {
  size_t n;
  const teach_step *st = teach_rec_steps(walk.rec, &n);
  for (size_t i = 0; i < n; i++)
    if (st[i].kind == k && (!text_part || (st[i].text && strstr(st[i].text, text_part)) ||
                            strstr(st[i].title, text_part)))
      return 1;
  return 0;
}

START_TEST(test_walkthrough_shows_every_part_of_the_protocol) {
  run_walk(0);
  ck_assert(has_kind(TEACH_K_STATUS, "FEATURES_OK"));
  ck_assert(has_kind(TEACH_K_STATUS, "DRIVER_OK"));
  ck_assert(has_kind(TEACH_K_POST, "The driver posts 8 RX buffers"));
  ck_assert(has_kind(TEACH_K_PUBLISH, "and kicks"));
  ck_assert(has_kind(TEACH_K_PUBLISH, "Event-idx suppression"));
  ck_assert(has_kind(TEACH_K_DEV_TAKE, "Frame #1 (42 bytes) arrives"));
  ck_assert(has_kind(TEACH_K_DEV_PUSH, "used element {id 0, len 54}"));
  ck_assert(has_kind(TEACH_K_DEV_PUBLISH, "and interrupts"));
  ck_assert(has_kind(TEACH_K_DEV_PUBLISH, "Interrupt suppressed"));
  ck_assert(has_kind(TEACH_K_IRQ, NULL));
  ck_assert(has_kind(TEACH_K_CONSUME, "The guest stack answered it (frame #1)"));
  ck_assert(has_kind(TEACH_K_POST, "The guest sends a frame"));
  ck_assert(has_kind(TEACH_K_POST, "Wrap-around: rx avail index 8 lands in slot 8 & 7 = 0"));
  ck_assert(has_kind(TEACH_K_FAST, "Wrap-around: rx used index 8"));
  /* every step but the status ones names a spec section */
  size_t n;
  const teach_step *st = teach_rec_steps(walk.rec, &n);
  ck_assert_uint_eq(n, teach_rec_total_steps(walk.rec));
  for (size_t i = 0; i < n; i++) {
    ck_assert_msg(st[i].text && strstr(st[i].text, "§"), "step %zu (%s) cites no section", i + 1,
                  st[i].title);
    ck_assert_int_eq(st[i].wrong, 0);
  }
  ck_assert_uint_eq(walk.s->fates.counts[EMU_FATE_ANSWERED], 10);
  teach_walk_free(&walk);
}
END_TEST

/* The snapshots agree with the protocol at every step: owners account for
 * every descriptor, the published avail.idx in memory is the driver's, and
 * what the driver sees as used never runs ahead of what the device pushed. */
START_TEST(test_every_snapshot_is_consistent) {
  run_walk(0);
  size_t n;
  const teach_step *st = teach_rec_steps(walk.rec, &n);
  size_t with_rings = 0;
  for (size_t i = 0; i < n; i++) {
    for (int q = 0; q < 2; q++) {
      const teach_ring *g = &st[i].ring[q];
      if (!g->size) continue;
      with_rings++;
      unsigned sum = 0;
      for (int o = 0; o < TEACH_OWN_COUNT; o++) sum += g->count[o];
      ck_assert_uint_eq(sum, g->size);
      ck_assert_uint_eq(g->count[TEACH_OWN_LOST], 0);
      ck_assert_uint_eq(g->avail_idx, g->drv_avail_published);
      ck_assert_uint_le((uint16_t)(g->used_idx - g->drv_last_used),
                        (uint16_t)(g->dev_used_shadow - g->drv_last_used));
      ck_assert_uint_eq(g->count[TEACH_OWN_FREE], g->drv_num_free);
    }
  }
  ck_assert_uint_gt(with_rings, 60);
  /* after the first frame's round trip the device held head 0 and gave it back */
  ck_assert(has_kind(TEACH_K_DEV_TAKE, "takes head 0 from avail slot 0"));
  teach_walk_free(&walk);
}
END_TEST

START_TEST(test_rx_no_recycle_shows_the_moment_it_goes_wrong) {
  run_walk(VBUG_RX_NO_RECYCLE);
  size_t n;
  const teach_step *st = teach_rec_steps(walk.rec, &n);
  ssize_t first = -1, drop = -1;
  int moments = 0;
  for (size_t i = 0; i < n; i++) {
    if (st[i].wrong == 1) {
      moments++;
      if (first < 0) first = (ssize_t)i;
    }
    if (st[i].kind == TEACH_K_DROP && drop < 0) drop = (ssize_t)i;
  }
  ck_assert_int_eq(moments, 1);
  ck_assert_int_ge(first, 0);
  ck_assert_int_eq(st[first].kind, TEACH_K_CONSUME);
  ck_assert_ptr_nonnull(strstr(st[first].text, "Head 0 is never posted again"));
  /* 8 buffers, never returned: frame 9 is the first with nowhere to go */
  ck_assert_int_gt(drop, first);
  ck_assert_str_eq(st[drop].title, "Frame #9 is dropped: rx_no_buffer");
  ck_assert_uint_eq(st[drop].ring[0].count[TEACH_OWN_AVAIL], 0);
  ck_assert_uint_eq(walk.s->fates.counts[EMU_FATE_RX_NO_BUFFER], 2);
  teach_walk_free(&walk);
}
END_TEST

START_TEST(test_sampled_recording_keeps_memory_bounded) {
  /* a long replay keeps at most max_steps steps, evenly strided */
  scn_config cfg;
  scn_config_default(&cfg);
  teach_opts to = {.max_steps = 16, .max_points = 32, .max_marks = 8};
  teach_rec *r = teach_rec_new(&to);
  ck_assert_ptr_nonnull(r);
  static scn s;
  ck_assert_int_eq(teach_rec_hook(r, &s, &cfg), 0);
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  teach_rec_attach(r);
  ck_assert_int_eq(scn_workload_bursts(&s, 7, 20), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  teach_rec_finish(r);
  size_t n, np, stride;
  const teach_step *st = teach_rec_steps(r, &n);
  ck_assert_uint_le(n, 16);
  ck_assert_uint_gt(teach_rec_total_steps(r), 16);
  for (size_t i = 0; i < n; i++) ck_assert_uint_eq(st[i].index % teach_rec_step_stride(r), 0);
  teach_rec_points(r, &np, &stride);
  ck_assert_uint_le(np, 32);
  uint64_t kicks;
  size_t nk;
  teach_rec_marks(r, TEACH_MARK_KICK, &nk, &kicks);
  ck_assert_uint_le(nk, 8);
  ck_assert_uint_eq(kicks, s.drv.stats.kicks[0] + s.drv.stats.kicks[1]);
  scn_close(&s);
  teach_rec_free(r);
}
END_TEST

/* --- the terminal rendering --------------------------------------------- */

/* Fits an 80-column terminal: no line wraps into noise. */
static void assert_fits_80(const char *got, const char *args) {
  int col = 0, line = 1;
  for (const unsigned char *p = (const unsigned char *)got; *p; p++) {
    if (*p == '\n') {
      col = 0;
      line++;
    } else if ((*p & 0xc0) != 0x80 && ++col > 80) {
      ck_abort_msg("line %d of the walkthrough (%s) is wider than 80 columns", line, args);
    }
  }
}

/* The walkthrough (with args) against the golden file golden, in 80 columns. */
static void check_golden(const char *args, const char *golden) {
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/teach.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "NO_COLOR=1 '%s' teach --no-pause --seed 1%s >%s </dev/null",
           VNETSIM_BIN, args, out);
  ck_assert_int_eq(sh(cmd), 0);
  size_t n_got, n_want;
  char *got = slurp(out, &n_got);
  ck_assert_ptr_nonnull(got);
  if (getenv("VNETSIM_UPDATE_GOLDEN")) {
    /* Regenerate deliberately, then review the diff before committing it. */
    FILE *f = fopen(golden, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(got, 1, n_got, f);
    fclose(f);
  }
  char *want = slurp(golden, &n_want);
  ck_assert_msg(want != NULL, "golden file %s is missing", golden);
  if (n_got != n_want || memcmp(got, want, n_got)) {
    size_t i = 0, line = 1;
    while (i < n_got && i < n_want && got[i] == want[i]) line += got[i++] == '\n';
    ck_abort_msg(
        "teach output differs from %s from line %zu (run with VNETSIM_UPDATE_GOLDEN=1 "
        "to regenerate, then review); got %zu bytes, want %zu",
        golden, line, n_got, n_want);
  }
  ck_assert(!strstr(got, "\033[")); /* no colour into a pipe */
  assert_fits_80(got, args);
  free(got);
  free(want);
}

START_TEST(test_terminal_rendering_matches_golden_file) { check_golden("", GOLDEN); }
END_TEST

START_TEST(test_packed_terminal_rendering_matches_golden_file) {
  check_golden(" --ring packed", GOLDEN_PACKED);
}
END_TEST

START_TEST(test_mergeable_terminal_rendering_matches_golden_files) {
  check_golden(" --mergeable", GOLDEN_MRG);
  check_golden(" --mergeable --ring packed", GOLDEN_MRG_PK);
}
END_TEST

START_TEST(test_no_event_idx_terminal_rendering_matches_golden_file) {
  check_golden(" --no-event-idx", GOLDEN_NO_EVI);
}
END_TEST

/* teach --mergeable at every queue size a ping's three buffers fit, with
 * one echo request at a time and with the largest burst, on both rings:
 * 80 columns, the header drawn with num_buffers 3, a frame joined. */
START_TEST(test_mergeable_fits_80_columns_at_every_size) {
  static const unsigned qsizes[] = {4, 8, 16, 32, 64};
  unsigned q = qsizes[_i % 5], burst = (_i / 5) % 2 ? 8 : 1;
  const char *ring = _i >= 10 ? "packed" : "split";
  char cmd[512], out[128], args[96];
  snprintf(out, sizeof out, "%s/mrg.txt", tmpdir);
  snprintf(args, sizeof args, "--mergeable --qsize %u --burst %u --ring %s", q, burst, ring);
  snprintf(cmd, sizeof cmd, "NO_COLOR=1 '%s' teach --no-pause %s >%s </dev/null", VNETSIM_BIN, args,
           out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  assert_fits_80(got, args);
  ck_assert_msg(strstr(got, "    csum_offset 0* num_buffers 3*") != NULL, "%s: no header", args);
  ck_assert_msg(strstr(got, "of 3 buffers and joins the frame\n") != NULL, "%s: no frame joined",
                args);
  /* a burst of 8 frames of 3 buffers overflows a small ring: drops */
  if (burst == 1) ck_assert_ptr_null(strstr(got, "!! HERE"));
  free(got);
}
END_TEST

/* A small --mtu, with mergeable buffers or not: the pings shrink to fit
 * it and every frame is answered. */
START_TEST(test_small_mtu_pings_fit_and_are_answered) {
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/mtu.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --no-pause --mtu 68%s >%s </dev/null", VNETSIM_BIN,
           _i ? " --mergeable --rx-buf-size 13" : "", out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  ck_assert_ptr_nonnull(strstr(got, "fates of 10 frames host->guest: answered 10"));
  free(got);
}
END_TEST

/* Each mergeable bug through the command, on both rings: shown once, at
 * the step where it goes wrong. */
START_TEST(test_mergeable_bugs_shown_by_the_command) {
  static const struct {
    const char *bug, *split_title, *packed_title;
  } bugs[] = {
      {"dev-mrg-num-buffers-one", "The device returns the frame's 3 buffers in the rx used ring",
       "The device marks the frame's 3 buffers used"},
      {"drv-mrg-first-only", "The driver takes a used element alone, though num_buffers = 3",
       "The driver takes a used element alone, though num_buffers = 3"},
      {"drv-mrg-repost-first", "The driver takes buffer 2 of the frame's 3",
       "The driver takes buffer 2 of the frame's 3"}};
  int packed = _i >= 3;
  const char *bug = bugs[_i % 3].bug;
  char cmd[512], out[128], want[128];
  snprintf(out, sizeof out, "%s/mbug.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --mergeable --ring %s --no-pause --bug %s >%s </dev/null",
           VNETSIM_BIN, packed ? "packed" : "split", bug, out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  snprintf(want, sizeof want, "!! HERE IT GOES WRONG (bug %s)\n%s", bug,
           packed ? bugs[_i % 3].packed_title : bugs[_i % 3].split_title);
  const char *moment = strstr(got, want);
  ck_assert_msg(moment != NULL, "%s is not shown where it goes wrong", bug);
  ck_assert_ptr_null(strstr(moment + 1, "!! HERE"));
  ck_assert_ptr_null(strstr(got, "cannot show"));
  free(got);
}
END_TEST

/* The spec's names for a kick and an interrupt are given before the text
 * first uses the short ones, whatever paragraphs the intro has (a bug's,
 * the flags' without EVENT_IDX, the mergeable buffers'). */
START_TEST(test_spec_names_come_before_kick_and_interrupt) {
  static const char *const runs[] = {"",
                                     " --ring packed",
                                     " --no-event-idx",
                                     " --bug rx-no-irq-wake",
                                     " --ring packed --bug irq-enable-no-recheck",
                                     " --mergeable --bug dev-mrg-num-buffers-one"};
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/names.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "NO_COLOR=1 '%s' teach --no-pause%s >%s </dev/null", VNETSIM_BIN,
           runs[_i], out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  const char *names = strstr(got, "names: a kick is what the spec calls an available buffer");
  ck_assert_msg(names != NULL, "%s: the spec's names are not given", runs[_i]);
  ck_assert_ptr_nonnull(strstr(names, "an interrupt a used buffer notification"));
  static const char *const words[] = {"kick", "Kick", "interrupt", "Interrupt"};
  for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
    const char *p = strstr(got, words[k]);
    ck_assert_msg(!p || p >= names, "%s: '%s' before the spec's names: %.60s", runs[_i], words[k],
                  p);
  }
  free(got);
}
END_TEST

/* The default packed walkthrough goes round both rings: each side's wrap
 * counter is seen flipping, told in a step and drawn in the cursors. */
START_TEST(test_packed_walkthrough_wraps_and_both_counters_flip) {
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/packed.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --ring packed --no-pause >%s </dev/null", VNETSIM_BIN, out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  ck_assert_ptr_nonnull(strstr(got, "packed rings of 8 entries"));
  ck_assert_ptr_nonnull(strstr(got, "descriptor ring (rx)"));
  ck_assert_ptr_nonnull(strstr(got, "driver event: flags"));
  static const char *const flips[] = {
      "the driver's next_avail on rx goes from position 0 (wrap 1) to 0 (wrap 0)",
      "the device's next_avail on rx goes from position 7 (wrap 1) to 0 (wrap 0)",
      "the device's next_used on rx goes from position 7 (wrap 1) to 0 (wrap 0)",
      "the driver's next_used on rx goes from position 7 (wrap 1) to 0 (wrap 0)"};
  /* the explanations as running text: wrapped lines joined */
  char *text = strdup(got);
  ck_assert_ptr_nonnull(text);
  size_t k = 0;
  for (const char *p = got; *p; p++) {
    if (*p != '\n') {
      text[k++] = *p;
      continue;
    }
    text[k++] = ' ';
    while (p[1] == ' ') p++;
  }
  text[k] = '\0';
  for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++)
    ck_assert_msg(strstr(text, flips[i]) != NULL, "no '%s'", flips[i]);
  free(text);
  /* drawn too: both sides' counters at 0 after the wrap, marked as changed */
  ck_assert_ptr_nonnull(strstr(got, "  driver: next_avail 0* wrap 1*  next_used 0* wrap 0*"));
  ck_assert_ptr_nonnull(strstr(got, "  device: next_avail 0* wrap 0*  next_used 0* wrap 0*"));
  ck_assert_ptr_nonnull(
      strstr(got, "next for the device: position 0, AVAIL 0 USED 1, wrap 0: available"));
  ck_assert_ptr_null(strstr(got, "!! HERE"));
  ck_assert_ptr_nonnull(strstr(got, "fates of 10 frames host->guest: answered 10"));
  free(got);
}
END_TEST

/* Each of the packed ring's own bugs, through the command: shown where it
 * happens, or (a missing barrier) said plainly that it cannot be. */
START_TEST(test_packed_bugs_shown_by_the_command) {
  static const char *const bugs[] = {"drv-packed-no-wrap-toggle", "drv-packed-used-avail-counter",
                                     "dev-packed-wrap-exact", "dev-packed-id-first",
                                     "dev-packed-used-no-wmb"};
  const char *bug = bugs[_i];
  char cmd[512], out[128], want[128];
  snprintf(out, sizeof out, "%s/pbug.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --ring packed --no-pause --bug %s >%s </dev/null",
           VNETSIM_BIN, bug, out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  snprintf(want, sizeof want, "!! HERE IT GOES WRONG (bug %s)", bug);
  if (!strcmp(bug, "dev-packed-used-no-wmb"))
    ck_assert_ptr_nonnull(strstr(got, "This walkthrough cannot show it"));
  else
    ck_assert_msg(strstr(got, want) != NULL, "%s is not shown", bug);
  free(got);
}
END_TEST

START_TEST(test_bug_walkthrough_says_where_it_goes_wrong) {
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/bug.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --no-pause --bug rx-no-recycle >%s </dev/null", VNETSIM_BIN,
           out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(got);
  const char *moment = strstr(got, "!! HERE IT GOES WRONG (bug rx-no-recycle)");
  ck_assert_ptr_nonnull(moment);
  ck_assert_ptr_null(strstr(moment + 1, "!! HERE"));
  const char *drop = strstr(got, "Frame #9 is dropped: rx_no_buffer");
  ck_assert_ptr_nonnull(drop);
  ck_assert(moment < drop);
  /* a liveness bug is called that, not a broken section */
  ck_assert_ptr_nonnull(strstr(got, "bug rx-no-recycle:"));
  ck_assert_ptr_nonnull(strstr(got, "liveness"));
  ck_assert_ptr_null(strstr(got, "(breaks virtio 1.2"));
  free(got);
}
END_TEST

static const struct {
  const char *args, *names;
} bad_calls[] = {
    {"teach --qsize 128", "--qsize"},
    {"teach --qsize 6", "power of two"},
    {"teach --frames 0", "--frames"},
    {"teach --burst 9", "--burst"},
    {"teach --bug nonsense", "nonsense"},
    {"teach --bogus", "--bogus"},
    {"teach extra", "extra"},
    {"teach --json", "--json"},
    {"teach --no-pause --html /nonexistent/t.html", "/nonexistent/t.html"},
    {"replay pcpp_ArpRequestPacket.pcap --html /nonexistent/r.html", "/nonexistent/r.html"},
    {"replay pcpp_microsecs.pcap --compare rx-no-recycle --html x.html", "--html"},
    {"teach --ring packed --bug used-slot-mod-256", "split ring"},
    {"teach --bug drv-mrg-first-only", "add --mergeable"},
    {"teach --ring packed --bug dev-mrg-num-buffers-one", "add --mergeable"},
    {"teach --mergeable --qsize 2", "more than the queue's 2"},
    {"teach --mergeable --rx-buf-size 100", "raise --rx-buf-size"},
};

START_TEST(test_bad_input_exits_2_with_one_line) {
  char cmd[512], err[128];
  snprintf(err, sizeof err, "%s/err", tmpdir);
  snprintf(cmd, sizeof cmd, "cd %s && '%s' %s >/dev/null 2>%s </dev/null", VNETSIM_CAPTURES_DIR,
           VNETSIM_BIN, bad_calls[_i].args, err);
  int rc = sh(cmd);
  ck_assert_msg(rc == 2, "'%s' exited %d", bad_calls[_i].args, rc);
  char *e = slurp(err, NULL);
  ck_assert_ptr_nonnull(e);
  int lines = 0;
  for (const char *p = e; *p; p++) lines += *p == '\n';
  ck_assert_msg(lines == 1, "'%s' printed %d lines: %s", bad_calls[_i].args, lines, e);
  ck_assert_msg(strstr(e, bad_calls[_i].names) != NULL, "'%s': '%s' lacks '%s'", bad_calls[_i].args,
                e, bad_calls[_i].names);
  free(e);
}
END_TEST

START_TEST(test_help_explains_the_keys) {
  char cmd[512], out[128];
  snprintf(out, sizeof out, "%s/help", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --help >%s", VNETSIM_BIN, out);
  ck_assert_int_eq(sh(cmd), 0);
  char *got = slurp(out, NULL);
  ck_assert_ptr_nonnull(strstr(got, "usage: vnetsim teach"));
  ck_assert_ptr_nonnull(strstr(got, "single key (no Enter needed)"));
  ck_assert_ptr_nonnull(strstr(got, "b to go back, q to quit"));
  ck_assert_ptr_nonnull(strstr(got, "NO_COLOR"));
  free(got);
}
END_TEST

/* --- single keys on a terminal ------------------------------------------ */

/* Runs 'vnetsim teach' on a new pseudo-terminal; *slave stays open so the
 * terminal's mode can be read after the child is gone. Returns its pid. */
static pid_t teach_on_pty(int *master, int *slave) {
  *master = posix_openpt(O_RDWR | O_NOCTTY);
  ck_assert_int_ge(*master, 0);
  ck_assert_int_eq(grantpt(*master), 0);
  ck_assert_int_eq(unlockpt(*master), 0);
  const char *name = ptsname(*master);
  ck_assert_ptr_nonnull(name);
  *slave = open(name, O_RDWR | O_NOCTTY);
  ck_assert_int_ge(*slave, 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    setsid();
    int fd = open(name, O_RDWR); /* becomes the controlling terminal */
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("NO_COLOR", "1", 1);
    execl(VNETSIM_BIN, VNETSIM_BIN, "teach", (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Reads from the terminal until text has appeared count times (or 10 s). */
static int pty_wait_for(int master, const char *text, int count) {
  static char seen[1 << 20];
  size_t n = 0;
  seen[0] = '\0';
  for (int tries = 0; tries < 1000; tries++) {
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, 10) > 0) {
      ssize_t got = read(master, seen + n, sizeof seen - 1 - n);
      if (got <= 0) return 0;
      n += (size_t)got;
      seen[n] = '\0';
    }
    int k = 0;
    for (const char *q = strstr(seen, text); q; q = strstr(q + 1, text)) k++;
    if (k >= count) return 1;
  }
  return 0;
}

/* Waits up to 10 s for pid; returns its wait status, or -1. */
static int wait_child(pid_t pid) {
  for (int tries = 0; tries < 1000; tries++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return st;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static int tty_canonical(int fd) {
  struct termios t;
  ck_assert_int_eq(tcgetattr(fd, &t), 0);
  return (t.c_lflag & ICANON) && (t.c_lflag & ECHO);
}

/* b and q act at once, without Enter, and the terminal is put back, on q
 * and on Ctrl-C (SIGINT) alike. */
START_TEST(test_single_keys_and_the_terminal_restored) {
  int master, slave;
  pid_t pid = teach_on_pty(&master, &slave);
  ck_assert_msg(pty_wait_for(master, "[Enter] next", 1), "no first prompt");
  ck_assert(!tty_canonical(slave)); /* single keys while it waits */
  ck_assert_int_eq(write(master, " ", 1), 1);
  ck_assert_msg(pty_wait_for(master, "== step 2 of", 1), "space did not move on");
  ck_assert_int_eq(write(master, "b", 1), 1);
  ck_assert_msg(pty_wait_for(master, "== step 1 of", 1), "b did not go back");
  ck_assert_int_eq(write(master, "q", 1), 1);
  int st = wait_child(pid);
  ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "q did not quit: %d", st);
  ck_assert_msg(tty_canonical(slave), "the terminal was left without line mode and echo");
  close(master);
  close(slave);

  pid = teach_on_pty(&master, &slave);
  ck_assert(pty_wait_for(master, "[Enter] next", 1));
  ck_assert(!tty_canonical(slave));
  kill(pid, SIGINT);
  st = wait_child(pid);
  ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "status %d", st);
  ck_assert_msg(tty_canonical(slave), "Ctrl-C left the terminal without line mode and echo");
  close(master);
  close(slave);
}
END_TEST

/* --- the HTML page ------------------------------------------------------- */

#define GW_CAPTURE "libpcap_gateway_or_not.pcap"
#define GW_ARGS    "--guest-ip 10.20.30.40 --guest-mac aa:00:04:00:14:0e"

/* The value after "key": inside json (searched from json), or -1. */
static int64_t json_int(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* The run the page describes, computed here through sim/scn.h. */
static void reference_run(scn *s) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.guest.ip = 10u << 24 | 20u << 16 | 30u << 8 | 40u;
  cfg.guest.gateway = (cfg.guest.ip & 0xffffff00u) | 2u;
  static const uint8_t mac[6] = {0xaa, 0x00, 0x04, 0x00, 0x14, 0x0e};
  memcpy(cfg.guest.mac, mac, 6);
  cfg.arp_proxy = 1; /* as `vnetsim replay` runs it */
  scn_capture in;
  char err[256];
  ck_assert_int_eq(host_pcap_load(VNETSIM_CAPTURES_DIR "/" GW_CAPTURE, &in, err, sizeof err), 0);
  cfg.start_ns = in.nframes ? in.frames[0].ts_ns : 0;
  ck_assert_int_eq(scn_init(s, &cfg), 0);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(s, &in, &notes), 0);
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(s);
  host_pcap_free(&in);
}

static char *write_replay_page(char *path, size_t cap) {
  snprintf(path, cap, "%s/replay.html", tmpdir);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cd %s && '%s' replay %s %s --html %s >/dev/null </dev/null",
           VNETSIM_CAPTURES_DIR, VNETSIM_BIN, GW_CAPTURE, GW_ARGS, path);
  ck_assert_int_eq(sh(cmd), 0);
  char *html = slurp(path, NULL);
  ck_assert_ptr_nonnull(html);
  return html;
}

START_TEST(test_html_data_matches_the_runs_counters) {
  char path[128];
  char *html = write_replay_page(path, sizeof path);
  /* self-contained: nothing fetched from elsewhere */
  ck_assert_ptr_null(strstr(html, "src=\"http"));
  ck_assert_ptr_null(strstr(html, "href=\"http"));
  ck_assert_ptr_null(strstr(html, "@import"));
  ck_assert_ptr_null(strstr(html, "url("));
  const char *data = strstr(html, "<script type=\"application/json\" id=\"vnetsim-data\">");
  ck_assert_ptr_nonnull(data);
  const char *end = strstr(data, "</script>");
  ck_assert_ptr_nonnull(end);
  const char *counters = strstr(data, "\"counters\":{");
  ck_assert(counters && counters < end);
  const char *fates = strstr(counters, "\"fates\":{");
  ck_assert_ptr_nonnull(fates);

  static scn s;
  reference_run(&s);
  ck_assert_int_eq(json_int(counters, "frames_in"), (int64_t)s.fates.nframes);
  /* each ledger's fates, and only those it can hold */
  const char *tx_fates = strstr(counters, "\"tx_fates\":{");
  ck_assert_ptr_nonnull(tx_fates);
  ck_assert_int_eq(json_int(counters, "tx_frames"), (int64_t)s.tx_fates.nframes);
  uint64_t sum = 0, tx_sum = 0;
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++) {
    const char *name = emu_fate_name((emu_fate)i);
    unsigned dirs = emu_fate_directions((emu_fate)i);
    if (dirs & EMU_FATE_TO_GUEST) {
      int64_t v = json_int(fates, name);
      ck_assert_msg(v == (int64_t)s.fates.counts[i], "fate %s: page %" PRId64 ", run %" PRIu64,
                    name, v, s.fates.counts[i]);
      sum += (uint64_t)v;
    }
    if (dirs & EMU_FATE_TO_HOST) {
      int64_t v = json_int(tx_fates, name);
      ck_assert_msg(v == (int64_t)s.tx_fates.counts[i],
                    "tx fate %s: page %" PRId64 ", run %" PRIu64, name, v, s.tx_fates.counts[i]);
      tx_sum += (uint64_t)v;
    }
  }
  ck_assert_uint_eq(sum, s.fates.nframes);
  ck_assert_uint_eq(tx_sum, s.tx_fates.nframes);
  ck_assert_uint_gt(s.tx_fates.counts[EMU_FATE_SENT], 0);
  ck_assert_uint_gt(s.fates.counts[EMU_FATE_ANSWERED], 0); /* a run with something to show */
  const char *kicks = strstr(counters, "\"kicks\":{");
  ck_assert_int_eq(json_int(kicks, "rx"), (int64_t)s.drv.stats.kicks[0]);
  ck_assert_int_eq(json_int(kicks, "tx"), (int64_t)s.drv.stats.kicks[1]);
  const char *supp = strstr(counters, "\"kicks_suppressed\":{");
  ck_assert_int_eq(json_int(supp, "rx"), (int64_t)s.drv.stats.kicks_suppressed[0]);
  ck_assert_int_eq(json_int(supp, "tx"), (int64_t)s.drv.stats.kicks_suppressed[1]);
  ck_assert_int_eq(json_int(counters, "interrupts"), (int64_t)s.dev.stats.interrupts);
  ck_assert_int_eq(json_int(counters, "interrupts_suppressed"),
                   (int64_t)s.dev.stats.interrupts_suppressed);
  ck_assert_int_eq(json_int(counters, "frames_out"), (int64_t)s.guest_frames);
  /* every kick and interrupt of the run is a mark on the timeline */
  const char *marks = strstr(data, "\"marks_total\":{");
  ck_assert_int_eq(json_int(marks, "kick"), (int64_t)(s.drv.stats.kicks[0] + s.drv.stats.kicks[1]));
  ck_assert_int_eq(json_int(marks, "irq"), (int64_t)s.dev.stats.interrupts);
  ck_assert_int_gt(json_int(data, "steps_stored"), 10);
  scn_close(&s);
  free(html);
}
END_TEST

/* Runs headless Chromium on url with a fresh profile; "screenshot" or
 * "dump-dom" (to out). Returns its exit status. */
static int chromium(const char *mode, const char *url, const char *out, const char *profile) {
  char cmd[1024];
  if (!strcmp(mode, "dump-dom"))
    snprintf(cmd, sizeof cmd,
             "timeout 90 %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--user-data-dir=%s --dump-dom '%s' >%s 2>/dev/null",
             CHROMIUM, profile, url, out);
  else
    snprintf(cmd, sizeof cmd,
             "timeout 90 %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--user-data-dir=%s --screenshot=%s --window-size=1200,800 '%s' >/dev/null 2>&1",
             CHROMIUM, profile, out, url);
  return sh(cmd);
}

/* Width and height from a PNG's IHDR; 0 when it is not a PNG. */
static int png_size(const char *buf, size_t n, uint32_t *w, uint32_t *h) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n < 24 || memcmp(buf, sig, 8) || memcmp(buf + 12, "IHDR", 4)) return 0;
  const unsigned char *p = (const unsigned char *)buf + 16;
  *w = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  *h = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
  return 1;
}

START_TEST(test_html_renders_in_headless_chromium) {
  ck_assert_msg(access(CHROMIUM, X_OK) == 0,
                "%s is not installed: this test needs Debian's chromium package "
                "(apt-get install -y chromium, as scripts/install-deps.sh does); it does not "
                "pass without it",
                CHROMIUM);
  char path[128], url[256], png[128], blank_png[128], dom[128], profile[128];
  char *html = write_replay_page(path, sizeof path);
  free(html);
  snprintf(url, sizeof url, "file://%s", path);
  snprintf(png, sizeof png, "%s/page.png", tmpdir);
  snprintf(blank_png, sizeof blank_png, "%s/blank.png", tmpdir);
  snprintf(dom, sizeof dom, "%s/dom.html", tmpdir);

  /* The script ran and parsed the data: the step panel it fills is there. */
  snprintf(profile, sizeof profile, "%s/profile-dom", tmpdir);
  ck_assert_int_eq(chromium("dump-dom", url, dom, profile), 0);
  char *d = slurp(dom, NULL);
  ck_assert_ptr_nonnull(d);
  ck_assert_msg(strstr(d, "step 1 of ") != NULL, "the page's script did not draw a step");
  ck_assert_ptr_nonnull(strstr(d, "descriptor table"));
  ck_assert_ptr_nonnull(strstr(d, "<polygon"));
  free(d);

  /* The screenshot is a real picture: far more detail than a blank page's
   * at the same size (a blank 1200x800 PNG compresses to a few KB). */
  snprintf(profile, sizeof profile, "%s/profile-shot", tmpdir);
  ck_assert_int_eq(chromium("screenshot", url, png, profile), 0);
  snprintf(profile, sizeof profile, "%s/profile-blank", tmpdir);
  ck_assert_int_eq(chromium("screenshot", "about:blank", blank_png, profile), 0);
  size_t n, nb;
  char *shot = slurp(png, &n), *blank = slurp(blank_png, &nb);
  ck_assert_ptr_nonnull(shot);
  ck_assert_ptr_nonnull(blank);
  uint32_t w = 0, h = 0, bw = 0, bh = 0;
  ck_assert_msg(png_size(shot, n, &w, &h), "the screenshot is not a PNG");
  ck_assert(png_size(blank, nb, &bw, &bh));
  ck_assert_uint_eq(w, 1200);
  ck_assert_uint_eq(h, 800);
  ck_assert_uint_eq(bw, w);
  ck_assert_msg(n > 20000 && n > 4 * nb, "screenshot looks blank: %zu bytes, a blank page %zu", n,
                nb);
  free(shot);
  free(blank);
}
END_TEST

/* Writes a capture of n ARP requests for the guest from slirp's gateway,
 * gap_us apart: a long, busy trace with no idle time. */
static void write_arp_capture(const char *path, unsigned n, unsigned gap_us) {
  static const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x35,
                                  0x02, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
                                  0x52, 0x54, 0x00, 0x12, 0x35, 0x02, 10,   0,    2,    2,    0,
                                  0,    0,    0,    0,    0,    10,   0,    2,    15};
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  const uint32_t hdr[6] = {0xa1b2c3d4u, 2u | 4u << 16, 0, 0, 65535, 1};
  ck_assert_uint_eq(fwrite(hdr, sizeof hdr, 1, f), 1);
  uint64_t t_us = 1000000;
  for (unsigned i = 0; i < n; i++, t_us += gap_us) {
    const uint32_t rec[4] = {(uint32_t)(t_us / 1000000), (uint32_t)(t_us % 1000000), 42, 42};
    ck_assert_uint_eq(fwrite(rec, sizeof rec, 1, f), 1);
    ck_assert_uint_eq(fwrite(arp, sizeof arp, 1, f), 1);
  }
  ck_assert_int_eq(fclose(f), 0);
}

/* Loads page#walk in Chromium: the page steps through every kept step by
 * its step axis and writes what it reached and how long each took. Returns
 * the DOM (malloc'd) and the page's size in *bytes. */
static char *walk_page(const char *path, const char *name, size_t *bytes) {
  char url[256], dom[160], profile[160];
  char *html = slurp(path, bytes);
  ck_assert_ptr_nonnull(html);
  free(html);
  snprintf(url, sizeof url, "file://%s#walk", path);
  snprintf(dom, sizeof dom, "%s/%s.dom", tmpdir, name);
  snprintf(profile, sizeof profile, "%s/profile-%s", tmpdir, name);
  ck_assert_int_eq(chromium("dump-dom", url, dom, profile), 0);
  char *d = slurp(dom, NULL);
  ck_assert_ptr_nonnull(d);
  return d;
}

/* "reached N of N steps; bad []", with N the page's kept steps. */
static void assert_walked(const char *d, const char *name, int64_t steps) {
  const char *r = strstr(d, "id=\"walk-result\">");
  ck_assert_msg(r != NULL, "%s: the page did not walk its steps", name);
  char want[96];
  snprintf(want, sizeof want, "reached %" PRId64 " of %" PRId64 " steps; bad []", steps, steps);
  ck_assert_msg(strncmp(r + strlen("id=\"walk-result\">"), want, strlen(want)) == 0, "%s: %.200s",
                name, r);
  const char *ms = strstr(r, "render ms");
  /* reported, not asserted: the machine's load decides */
  printf("%s page: %.*s\n", name, ms ? (int)strcspn(ms, "<") : 1, ms ? ms : "?");
}

START_TEST(test_html_pages_reach_every_step_and_stay_small) {
  ck_assert_msg(access(CHROMIUM, X_OK) == 0, "%s is not installed", CHROMIUM);
  char path[160], cmd[768], cap[160];
  size_t bytes;
  /* teach: every step reachable, the legends there, per-queue counts right */
  snprintf(path, sizeof path, "%s/teach.html", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --no-pause --bug rx-no-recycle --html %s >/dev/null",
           VNETSIM_BIN, path);
  ck_assert_int_eq(sh(cmd), 0);
  char *d = walk_page(path, "teach", &bytes);
  assert_walked(d, "teach", 42); /* the two queues' set-up steps among them */
  ck_assert_ptr_nonnull(strstr(d, "id=\"legend\""));
  ck_assert_ptr_nonnull(strstr(d, "id=\"owner-legend\""));
  ck_assert_ptr_nonnull(strstr(d, ">posted<"));
  ck_assert_ptr_nonnull(strstr(d, ">pushed<"));
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  o.bugs = VBUG_RX_NO_RECYCLE;
  teach_walk w;
  ck_assert_int_eq(teach_walk_run(&o, &w), 0);
  const vnet_drv_stats *dr = &w.s->drv.stats;
  char counts[256];
  snprintf(counts, sizeof counts,
           "sent: rx %" PRIu64 " (suppressed %" PRIu64 "), tx %" PRIu64 " (suppressed %" PRIu64
           "); interrupts (used buffer notifications) raised %" PRIu64 " (suppressed %" PRIu64 ")",
           dr->kicks[VNET_RXQ], dr->kicks_suppressed[VNET_RXQ], dr->kicks[VNET_TXQ],
           dr->kicks_suppressed[VNET_TXQ], w.s->dev.stats.interrupts,
           w.s->dev.stats.interrupts_suppressed);
  ck_assert_msg(strstr(d, counts) != NULL, "the page's counts are not the run's: %s", counts);
  teach_walk_free(&w);
  free(d);

  /* a 70,000-frame replay: small, every kept step reachable, no invented gaps */
  snprintf(cap, sizeof cap, "%s/arp70k.pcap", tmpdir);
  write_arp_capture(cap, 70000, 100);
  snprintf(path, sizeof path, "%s/big.html", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' replay %s --html %s >/dev/null 2>&1", VNETSIM_BIN, cap, path);
  ck_assert_int_eq(sh(cmd), 0);
  d = walk_page(path, "replay-70k", &bytes);
  printf("replay-70k page: %zu bytes\n", bytes);
  ck_assert_uint_lt(bytes, 2u << 20);
  const char *data = strstr(d, "\"steps_stored\":");
  ck_assert_ptr_nonnull(data);
  assert_walked(d, "replay-70k", json_int(data, "steps_stored"));
  ck_assert_ptr_nonnull(strstr(d, "The run had 0 idle gaps of 1 ms or more"));
  free(d);

  /* a 32768-entry queue: capped, with a clear message, and still small */
  write_arp_capture(cap, 300, 100);
  snprintf(path, sizeof path, "%s/q32k.html", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' replay %s --qsize 32768 --html %s >/dev/null 2>&1", VNETSIM_BIN,
           cap, path);
  ck_assert_int_eq(sh(cmd), 0);
  d = walk_page(path, "qsize-32768", &bytes);
  printf("qsize-32768 page: %zu bytes\n", bytes);
  ck_assert_uint_lt(bytes, 2u << 20);
  ck_assert_ptr_nonnull(strstr(d, "id=\"rings-capped\""));
  data = strstr(d, "\"steps_stored\":");
  ck_assert_ptr_nonnull(data);
  assert_walked(d, "qsize-32768", json_int(data, "steps_stored"));
  free(d);
}
END_TEST

/* A public capture replayed on packed rings into a page: the packed
 * tables, every kept step reachable in Chromium. */
START_TEST(test_replay_html_on_packed_rings) {
  ck_assert_msg(access(CHROMIUM, X_OK) == 0, "%s is not installed", CHROMIUM);
  char path[160], cmd[768];
  snprintf(path, sizeof path, "%s/packed.html", tmpdir);
  snprintf(cmd, sizeof cmd,
           "cd %s && '%s' replay pcpp_one_http_stream_fin.pcap --ring packed --html %s "
           ">/dev/null </dev/null",
           VNETSIM_CAPTURES_DIR, VNETSIM_BIN, path);
  ck_assert_int_eq(sh(cmd), 0);
  char *html = slurp(path, NULL);
  ck_assert_ptr_nonnull(html);
  ck_assert_ptr_nonnull(strstr(html, "\"source\":\"replay\""));
  ck_assert_ptr_nonnull(strstr(html, "{\"n\":256,\"p\":1,\"h\":["));
  ck_assert_ptr_nonnull(strstr(html, "descriptor ring</th>"));
  ck_assert_ptr_null(strstr(html, ">posted<")); /* nothing is posted on a packed ring */
  ck_assert_ptr_nonnull(strstr(html, "'next for the '"));
  ck_assert_ptr_nonnull(strstr(html, " event suppression'"));
  free(html);
  size_t bytes;
  char *d = walk_page(path, "replay-packed", &bytes);
  const char *data = strstr(d, "\"steps_stored\":");
  ck_assert_ptr_nonnull(data);
  assert_walked(d, "replay-packed", json_int(data, "steps_stored"));
  free(d);
}
END_TEST

START_TEST(test_teach_html_carries_the_walkthrough) {
  char path[128], cmd[512];
  snprintf(path, sizeof path, "%s/teach.html", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' teach --no-pause --bug rx-no-recycle --html %s >/dev/null",
           VNETSIM_BIN, path);
  ck_assert_int_eq(sh(cmd), 0);
  char *html = slurp(path, NULL);
  ck_assert_ptr_nonnull(html);
  ck_assert_ptr_nonnull(strstr(html, "\"source\":\"teach\""));
  ck_assert_ptr_nonnull(strstr(html, "\"rx_no_buffer\":2"));
  ck_assert_ptr_nonnull(strstr(html, "\"wrong\":1"));
  ck_assert_ptr_nonnull(strstr(html, "frame 9: rx_no_buffer"));
  /* the first TX frame's indirect table: head 0's, two entries, the
   * 12-byte header chained (NEXT, next 1) to the 42-byte ARP reply */
  const char *ind = strstr(html, "\"ind\":{\"at\":\"0x400001c0\",\"head\":0,\"n\":2,\"d\":[[");
  ck_assert_ptr_nonnull(ind);
  ck_assert_ptr_nonnull(strstr(ind, ",12,1,1],["));
  ck_assert_ptr_nonnull(strstr(ind, ",42,0,0]]}"));
  free(html);
}
END_TEST

/* The position in the page's step list of the first step whose data has
 * key (a header, "\"hdr\":[", or an indirect table), from 1. */
static int first_step_with(const char *html, const char *key) {
  const char *steps = strstr(html, "\"steps\":["), *hdr = strstr(html, key);
  ck_assert_ptr_nonnull(steps);
  ck_assert_ptr_nonnull(hdr);
  int k = 0;
  for (const char *p = steps; (p = strstr(p, "{\"i\":")) && p < hdr; p++) k++;
  return k;
}

/* teach --mergeable --html: each step's header in the data; in Chromium
 * every step is reachable, the step that writes the first frame's header
 * draws its fields, and (split ring) the first TX step its indirect table. */
START_TEST(test_mergeable_html_draws_the_header) {
  ck_assert_msg(access(CHROMIUM, X_OK) == 0, "%s is not installed", CHROMIUM);
  for (int packed = 0; packed < 2; packed++) {
    char path[160], cmd[512], url[256], dom[160], profile[160];
    snprintf(path, sizeof path, "%s/mrg%d.html", tmpdir, packed);
    snprintf(cmd, sizeof cmd, "'%s' teach --no-pause --mergeable --ring %s --html %s >/dev/null",
             VNETSIM_BIN, packed ? "packed" : "split", path);
    ck_assert_int_eq(sh(cmd), 0);
    char *html = slurp(path, NULL);
    ck_assert_ptr_nonnull(html);
    ck_assert_ptr_nonnull(
        strstr(html, packed ? "\"hdr\":[0,0,0,0,0,0,3,\"device wrote it\",\"buffer id 1\""
                            : "\"hdr\":[0,0,0,0,0,0,3,\"device wrote it\",\"head 1\""));
    int at = first_step_with(html, "\"hdr\":[");
    /* no indirect tables on the packed ring's driver side */
    int ind = packed ? 0 : first_step_with(html, "\"ind\":{");
    free(html);
    char *d = walk_page(path, packed ? "mrg-packed" : "mrg-split", NULL);
    const char *data = strstr(d, "\"steps_stored\":");
    ck_assert_ptr_nonnull(data);
    assert_walked(d, "mrg", json_int(data, "steps_stored"));
    free(d);
    snprintf(url, sizeof url, "file://%s#step=%d", path, at);
    snprintf(dom, sizeof dom, "%s/mrg%d.dom", tmpdir, packed);
    snprintf(profile, sizeof profile, "%s/profile-mrg%d", tmpdir, packed);
    ck_assert_int_eq(chromium("dump-dom", url, dom, profile), 0);
    d = slurp(dom, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(strstr(d, "id=\"net-hdr\"") != NULL, "step %d draws no header", at);
    ck_assert_ptr_nonnull(strstr(d, "num_buffers 1"));
    free(d);
    if (packed) continue;
    snprintf(url, sizeof url, "file://%s#step=%d", path, ind);
    snprintf(profile, sizeof profile, "%s/profile-ind", tmpdir);
    ck_assert_int_eq(chromium("dump-dom", url, dom, profile), 0);
    d = slurp(dom, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(strstr(d, "id=\"indirect\"") != NULL, "step %d draws no indirect table", ind);
    free(d);
  }
}
END_TEST

/* The fixed driver goes wrong nowhere, under any model: where a model's
 * full barrier puts the kick decision in a step after the publish, that
 * step says so, and the publish step does not call it a missing decision
 * (or the decision a kick before publishing). */
START_TEST(test_fixed_walkthrough_never_wrong_under_a_memory_model) {
  for (int model = EMU_MM_SC; model <= EMU_MM_WEAK; model++) {
    teach_walk_opts o;
    teach_walk_opts_default(&o);
    o.memory = (emu_mm_kind)model;
    ck_assert_int_eq(teach_walk_run(&o, &walk), 0);
    size_t n, late = 0;
    const teach_step *st = teach_rec_steps(walk.rec, &n);
    for (size_t i = 0; i < n; i++) {
      ck_assert_msg(!st[i].wrong, "model %d, step %zu marked wrong: %s", model, i + 1, st[i].title);
      ck_assert_msg(!st[i].text || !strstr(st[i].text, "no notification decision at all"),
                    "model %d, step %zu: %s", model, i + 1, st[i].text);
      late += strstr(st[i].title, "past its barrier, decides about") != NULL;
    }
    if (model == EMU_MM_SC)
      ck_assert_uint_eq(late, 0);
    else
      ck_assert_uint_gt(late, 0);
    teach_walk_free(&walk);
  }
}
END_TEST

/* Under a memory model each step carries both store buffers: some step
 * shows a store the other side cannot see yet, named by its ring field,
 * and says when stores became visible; under sc every buffer is empty and
 * nothing is said about memory. */
START_TEST(test_store_buffers_are_shown_under_a_memory_model_only) {
  for (int model = EMU_MM_SC; model <= EMU_MM_WEAK; model++) {
    teach_walk_opts o;
    teach_walk_opts_default(&o);
    o.memory = (emu_mm_kind)model;
    ck_assert_int_eq(teach_walk_run(&o, &walk), 0);
    size_t n, buffered = 0, named_ring = 0, told = 0;
    const teach_step *st = teach_rec_steps(walk.rec, &n);
    for (size_t i = 0; i < n; i++) {
      for (int side = 0; side < 2; side++) {
        const teach_buffer *b = &st[i].buffers[side];
        buffered += b->n;
        for (uint32_t k = 0; k < b->n && k < TEACH_BUF_SHOWN; k++) {
          named_ring += strstr(b->shown[k].field, "used.ring[") != NULL ||
                        strstr(b->shown[k].field, "avail.idx") != NULL;
          ck_assert_uint_le(b->shown[k].lands_in_ns, walk.s->mm.max_delay_ns);
        }
      }
      told += st[i].text && strstr(st[i].text, "became visible to the other side") != NULL;
    }
    if (model == EMU_MM_SC) {
      ck_assert_uint_eq(buffered + told, 0);
      ck_assert_ptr_null(teach_memory_name(walk.s));
    } else {
      ck_assert_uint_gt(buffered, 0);
      ck_assert_uint_gt(named_ring, 0);
      ck_assert_uint_gt(told, 0);
    }
    teach_walk_free(&walk);
  }
  /* the names of ring fields and buffers, from the layout */
  run_walk(0);
  const vq_layout *l = &walk.s->drv.rxq.layout;
  char name[40];
  teach_field_name(walk.s, vq_avail_idx_addr(l), name, sizeof name);
  ck_assert_str_eq(name, "rx avail.idx");
  teach_field_name(walk.s, vq_desc_addr(l, 3) + VQ_DESC_OFF_LEN, name, sizeof name);
  ck_assert_str_eq(name, "rx desc[3].len");
  teach_field_name(walk.s, vq_used_slot_addr(l, 2) + VQ_USED_ELEM_OFF_LEN, name, sizeof name);
  ck_assert_str_eq(name, "rx used.ring[2].len");
  teach_field_name(walk.s, vq_avail_event_addr(&walk.s->drv.txq.layout), name, sizeof name);
  ck_assert_str_eq(name, "tx avail_event");
  teach_field_name(walk.s, walk.s->drv.rx_bufs + walk.s->drv.rx_buf_len + 12, name, sizeof name);
  ck_assert_str_eq(name, "rx buffer 1 +12");
  teach_walk_free(&walk);
}
END_TEST

static Suite *teach_suite(void) {
  Suite *s = suite_create("teach");
  TCase *tc = tcase_create("recorder");
  tcase_add_test(tc, test_walkthrough_shows_every_part_of_the_protocol);
  tcase_add_test(tc, test_every_snapshot_is_consistent);
  tcase_add_test(tc, test_rx_no_recycle_shows_the_moment_it_goes_wrong);
  tcase_add_test(tc, test_sampled_recording_keeps_memory_bounded);
  tcase_add_test(tc, test_store_buffers_are_shown_under_a_memory_model_only);
  tcase_add_test(tc, test_fixed_walkthrough_never_wrong_under_a_memory_model);
  suite_add_tcase(s, tc);

  tc = tcase_create("command");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_terminal_rendering_matches_golden_file);
  tcase_add_test(tc, test_packed_terminal_rendering_matches_golden_file);
  tcase_add_test(tc, test_packed_walkthrough_wraps_and_both_counters_flip);
  tcase_add_test(tc, test_mergeable_terminal_rendering_matches_golden_files);
  tcase_add_test(tc, test_no_event_idx_terminal_rendering_matches_golden_file);
  tcase_add_loop_test(tc, test_spec_names_come_before_kick_and_interrupt, 0, 6);
  tcase_add_loop_test(tc, test_mergeable_fits_80_columns_at_every_size, 0, 20);
  tcase_add_loop_test(tc, test_mergeable_bugs_shown_by_the_command, 0, 6);
  tcase_add_loop_test(tc, test_small_mtu_pings_fit_and_are_answered, 0, 2);
  tcase_add_loop_test(tc, test_packed_bugs_shown_by_the_command, 0, 5);
  tcase_add_test(tc, test_bug_walkthrough_says_where_it_goes_wrong);
  tcase_add_loop_test(tc, test_bad_input_exits_2_with_one_line, 0,
                      (int)(sizeof bad_calls / sizeof bad_calls[0]));
  tcase_add_test(tc, test_help_explains_the_keys);
  tcase_add_test(tc, test_single_keys_and_the_terminal_restored);
  tcase_add_test(tc, test_html_data_matches_the_runs_counters);
  tcase_add_test(tc, test_teach_html_carries_the_walkthrough);
  suite_add_tcase(s, tc);

  /* tagged, so that a build can leave them out (CK_EXCLUDE_TAGS=browser:
   * the sanitized pass of CI, where the 70,000-frame page alone takes a
   * minute; the release pass runs them) */
  tc = tcase_create("browser");
  tcase_set_tags(tc, "browser");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 280);
  tcase_add_test(tc, test_html_renders_in_headless_chromium);
  tcase_add_test(tc, test_html_pages_reach_every_step_and_stay_small);
  tcase_add_test(tc, test_replay_html_on_packed_rings);
  tcase_add_test(tc, test_mergeable_html_draws_the_header);
  suite_add_tcase(s, tc);
  const char *excluded = getenv("CK_EXCLUDE_TAGS");
  if (excluded && strstr(excluded, "browser"))
    printf("check_teach: the browser tests are left out here (CK_EXCLUDE_TAGS=%s)\n", excluded);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(teach_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
