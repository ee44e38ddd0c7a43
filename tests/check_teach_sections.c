/* Every virtio section teach cites exists in virtio 1.2 and is the right
 * kind, checked against a table of section numbers and titles kept here
 * (data/virtio-1.2-sections.tsv, taken from the specification's own
 * sources). A wrong number fails: interrupt decisions must cite used
 * buffer notification sections (§2.7.7), kick decisions available buffer
 * ones (§2.7.10), a reset §2.4; a bug called a liveness bug claims to break
 * nothing, and one that breaks a rule cites a section of the side that
 * broke it.
 *
 * The same checks run over the bug catalogue, the ring rule table and the
 * § citations in virtio/'s sources, and fail the same way. */
#define _DEFAULT_SOURCE /* open_memstream */

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "teach/teach.h"
#include "tests/bug_runs.h"
#include "virtio/vbug.h"
#include "virtio/vq.h"

#define SECTIONS VNETSIM_TEST_DATA_DIR "/virtio-1.2-sections.tsv"
#define SRC_ROOT VNETSIM_TEST_DATA_DIR "/../.."

typedef struct spec_section {
  char num[24];
  char title[120];
} spec_section;

static spec_section *secs;
static size_t nsecs;

static void load_sections(void) {
  if (secs) return;
  FILE *f = fopen(SECTIONS, "r");
  ck_assert_msg(f != NULL, "%s is missing", SECTIONS);
  char line[256];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    tab[strcspn(tab + 1, "\n") + 1] = '\0';
    if (nsecs == cap) {
      cap = cap ? cap * 2 : 256;
      secs = realloc(secs, cap * sizeof *secs);
      ck_assert_ptr_nonnull(secs);
    }
    snprintf(secs[nsecs].num, sizeof secs[nsecs].num, "%.23s", line);
    snprintf(secs[nsecs].title, sizeof secs[nsecs].title, "%.119s", tab + 1);
    nsecs++;
  }
  fclose(f);
  ck_assert_uint_gt(nsecs, 100);
}

/* The title of section num, or NULL when virtio 1.2 has no such section. */
static const char *title_of(const char *num) {
  load_sections();
  for (size_t i = 0; i < nsecs; i++)
    if (!strcmp(secs[i].num, num)) return secs[i].title;
  return NULL;
}

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* Calls fn for every section cited in text as "§N" (and for both ends of
 * "§N-M", M replacing N's last number), with the sentence around it. */
typedef void (*cite_fn)(const char *num, const char *sentence, void *ctx);

static void each_cite(const char *text, cite_fn fn, void *ctx) {
  static const char mark[] = "\xc2\xa7"; /* § in UTF-8 */
  for (const char *p = strstr(text, mark); p; p = strstr(p + 1, mark)) {
    const char *q = p + 2;
    size_t n = 0;
    char num[24];
    while ((q[n] >= '0' && q[n] <= '9') || (q[n] == '.' && q[n + 1] >= '0' && q[n + 1] <= '9')) n++;
    if (!n || n >= sizeof num) continue;
    memcpy(num, q, n);
    num[n] = '\0';
    /* the sentence: from after the last ". " before it to the next ". " */
    const char *s = p;
    while (s > text && !(s[-1] == ' ' && s - 2 >= text && s[-2] == '.')) s--;
    const char *e = strstr(q + n, ". ");
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char sentence[1024];
    snprintf(sentence, sizeof sentence, "%.*s", (int)(len < sizeof sentence ? len : 1023), s);
    fn(num, sentence, ctx);
    if (q[n] == '-' && q[n + 1] >= '0' && q[n + 1] <= '9') {
      char *last = strrchr(num, '.');
      if (last) snprintf(last + 1, sizeof num - (size_t)(last + 1 - num), "%d", atoi(q + n + 1));
      fn(num, sentence, ctx);
    }
  }
}

/* Problems found, one per line. */
typedef struct findings {
  char *buf;
  size_t len;
  FILE *f;
  int n;
  const char *where;
} findings;

static void finding(findings *fd, const char *fmt, const char *a, const char *b) {
  fprintf(fd->f, "%s: ", fd->where);
  fprintf(fd->f, fmt, a, b);
  fputc('\n', fd->f);
  fd->n++;
}

/* The section exists, and the sentence citing it is about what the section
 * rules. */
static void check_cite(const char *num, const char *sentence, void *ctx) {
  findings *fd = ctx;
  const char *title = title_of(num);
  if (!title) {
    finding(fd, "§%s does not exist in virtio 1.2 (in: %s)", num, sentence);
    return;
  }
  int interrupt = (strstr(sentence, "interrupt") || strstr(sentence, "used buffer notification")) &&
                  (strstr(sentence, "used_event") || strstr(sentence, "NO_INTERRUPT"));
  int kick = (strstr(sentence, "kick") || strstr(sentence, "available buffer notification")) &&
             (strstr(sentence, "avail_event") || strstr(sentence, "NO_NOTIFY"));
  if (interrupt && !kick && starts(num, "2.7.10"))
    finding(fd, "an interrupt decision cites §%s (%s), not used buffer notifications", num, title);
  if (kick && !interrupt && starts(num, "2.7.7"))
    finding(fd, "a kick decision cites §%s (%s), not available buffer notifications", num, title);
  if (strstr(sentence, "resets the device") && !starts(num, "2.4") && !starts(num, "3.1"))
    finding(fd, "a reset cites §%s (%s), not §2.4", num, title);
  if (strstr(sentence, "liveness") && strstr(sentence, "breaks"))
    finding(fd, "a liveness bug is said to break something: %s%s", sentence, "");
}

static void check_text(findings *fd, const char *text) {
  if (text) each_cite(text, check_cite, fd);
}

static void findings_open(findings *fd, const char *where) {
  memset(fd, 0, sizeof *fd);
  fd->f = open_memstream(&fd->buf, &fd->len);
  ck_assert_ptr_nonnull(fd->f);
  fd->where = where;
}

static void findings_close(findings *fd) {
  fclose(fd->f);
  fd->f = NULL;
}

/* Every step and the intro of the walkthrough, fixed (_i 0) and per bug,
 * on split rings or (packed) on packed ones. */
static void check_walk_cites(int run, int packed, int mergeable, int no_event_idx) {
  const vbug_info *b = bug_of(run);
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  if (b && b->side == VBUG_SIDE_DRIVER) o.bugs = b->bit;
  if (b && b->side == VBUG_SIDE_DEVICE) o.dev_bugs = b->bit;
  /* the mergeable bugs run as 'teach --mergeable --bug NAME' */
  o.mergeable = mergeable ||
                (b && (b->bit & (b->side == VBUG_SIDE_DRIVER ? VBUG_MRG_ONLY : VBUG_DEV_MRG_ONLY)));
  o.burst = teach_walk_default_burst(o.bugs, o.dev_bugs);
  o.packed = packed;
  o.no_event_idx = no_event_idx;
  if (packed) o.queue_size = teach_walk_default_qsize(o.bugs, o.dev_bugs);
  teach_walk w;
  if (teach_walk_buffers_per_frame(&o) > o.queue_size) {
    /* dev-packed-wrap-exact's ring of 2 cannot hold a frame of 3 buffers */
    ck_assert_int_eq(teach_walk_run(&o, &w), EMU_EINVAL);
    return;
  }
  ck_assert_int_eq(teach_walk_run(&o, &w), 0);
  findings fd;
  findings_open(&fd, b ? b->name : "fixed");
  size_t n;
  const teach_step *st = teach_rec_steps(w.rec, &n);
  int cited = 0;
  for (size_t i = 0; i < n; i++) {
    check_text(&fd, st[i].title);
    check_text(&fd, st[i].text);
    cited += st[i].text && strstr(st[i].text, "\xc2\xa7") != NULL;
    if (!(st[i].title[0] == 'R' && starts(st[i].title, "Reset"))) continue;
    ck_assert_msg(strstr(st[i].text,
                         "\xc2\xa7"
                         "2.4"),
                  "the reset step does not cite §2.4");
  }
  char *intro = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&intro, &len);
  teach_render_opts ro = {0};
  teach_render_intro(f, &w, &ro);
  teach_render_outro(f, &w, &ro);
  fclose(f);
  check_text(&fd, intro);
  findings_close(&fd);
  ck_assert_msg(fd.n == 0, "%s", fd.buf);
  ck_assert_int_gt(cited, 10);
  free(fd.buf);
  free(intro);
  teach_walk_free(&w);
}

START_TEST(test_every_section_teach_cites_exists_and_fits) { check_walk_cites(_i, 0, 0, 0); }
END_TEST

START_TEST(test_every_section_the_packed_walkthrough_cites_exists_and_fits) {
  check_walk_cites(_i, 1, 0, 0);
}
END_TEST

/* 'teach --mergeable', fixed and with every bug, on split (_i even) and
 * packed rings. */
START_TEST(test_every_section_the_mergeable_walkthrough_cites_exists_and_fits) {
  check_walk_cites(_i / 2, _i % 2, 1, 0);
}
END_TEST

/* A bug's claim: a liveness bug breaks nothing; one that breaks a rule
 * cites a section that is not the other side's requirements. */
static void check_bug_claim(findings *fd, const char *name, int device_side, int liveness,
                            const char *section, const char *claim) {
  const char *title = title_of(section);
  if (!title) {
    finding(fd, "bug %s: §%s does not exist", name, section);
    return;
  }
  if (device_side && starts(title, "Driver Requirements"))
    finding(fd, "device bug %s cites the driver's requirements §%s", name, section);
  if (!device_side && starts(title, "Device Requirements"))
    finding(fd, "driver bug %s cites the device's requirements §%s", name, section);
  if (claim && liveness && strstr(claim, "breaks"))
    finding(fd, "liveness bug %s: the claim says it breaks something%s", name, "");
  if (claim) check_text(fd, claim);
}

START_TEST(test_bug_notes_and_rule_sections_in_teach_fit) {
  findings fd;
  findings_open(&fd, "teach");
  size_t n, ncat;
  const teach_bug_note *notes = teach_bug_notes(&n);
  vbug_catalogue(&ncat);
  ck_assert_uint_eq(n, ncat); /* a note for every bug switch */
  for (size_t i = 0; i < n; i++) {
    const vbug_info *b = vbug_find(notes[i].name, strlen(notes[i].name));
    ck_assert_msg(b != NULL, "note for an unknown bug %s", notes[i].name);
    int liveness = notes[i].kind == TEACH_BUG_LIVENESS;
    check_bug_claim(&fd, notes[i].name, b->side == VBUG_SIDE_DEVICE, liveness, notes[i].section,
                    notes[i].claim);
    if (!liveness) {
      char want[64];
      snprintf(want, sizeof want, "breaks \xc2\xa7%s", notes[i].section);
      if (!strstr(notes[i].claim, want))
        finding(&fd, "bug %s: the claim does not say it breaks §%s", notes[i].name,
                notes[i].section);
    }
    if (notes[i].unseen) check_text(&fd, notes[i].unseen);
    if (notes[i].unseen_packed) check_text(&fd, notes[i].unseen_packed);
  }
  /* what the driver checks is the device's to keep, and the other way round */
  for (int r = VQ_RULE_NONE + 1; r < VQ_RULE_COUNT; r++) {
    const char *num = teach_rule_section((vq_rule)r), *title = title_of(num);
    int device_keeps = !strcmp(vq_rule_side((vq_rule)r), "device");
    if (!title)
      finding(&fd, "rule %s: §%s does not exist", vq_rule_name((vq_rule)r), num);
    else if (starts(title, device_keeps ? "Driver Requirements" : "Device Requirements"))
      finding(&fd, "rule %s cites the other side's requirements §%s", vq_rule_name((vq_rule)r),
              num);
  }
  findings_close(&fd);
  ck_assert_msg(fd.n == 0, "%s", fd.buf);
  free(fd.buf);
}
END_TEST

/* Every "§N" in one source file. */
static void scan_file(findings *fd, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) each_cite(line, check_cite, fd);
  fclose(f);
}

/* The same checks over virtio/: the bug catalogue, the rule table and the
 * sources' comments. Reported; strict only when asked (see the top). */
START_TEST(test_virtio_sections_are_right) {
  findings fd;
  findings_open(&fd, "virtio");
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  for (size_t i = 0; i < n; i++) {
    check_bug_claim(&fd, cat[i].name, cat[i].side == VBUG_SIDE_DEVICE, 0, cat[i].section, NULL);
    /* the catalogue's section should be one teach's checked note cites */
    const teach_bug_note *note = teach_bug_note_find(cat[i].name);
    char want[32];
    snprintf(want, sizeof want, "\xc2\xa7%s", cat[i].section);
    const char *hit = note ? strstr(note->claim, want) : NULL;
    if (note && (!hit || (hit[strlen(want)] >= '0' && hit[strlen(want)] <= '9') ||
                 (hit[strlen(want)] == '.' && hit[strlen(want) + 1] >= '0')))
      finding(&fd, "bug %s: vbug.c cites §%s, the rule it breaks is elsewhere", cat[i].name,
              cat[i].section);
  }
  for (int r = VQ_RULE_NONE + 1; r < VQ_RULE_COUNT; r++) {
    const char *num = vq_rule_section((vq_rule)r);
    if (strcmp(num, teach_rule_section((vq_rule)r)))
      finding(&fd, "rule %s: vq.c cites §%s", vq_rule_name((vq_rule)r), num);
  }
  DIR *d = opendir(SRC_ROOT "/virtio");
  ck_assert_ptr_nonnull(d);
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 3 || (strcmp(e->d_name + len - 2, ".c") && strcmp(e->d_name + len - 2, ".h")))
      continue;
    char path[512];
    snprintf(path, sizeof path, "%s/virtio/%s", SRC_ROOT, e->d_name);
    fd.where = e->d_name;
    scan_file(&fd, path);
  }
  closedir(d);
  findings_close(&fd);
  ck_assert_msg(fd.n == 0, "virtio sections to fix (%d):\n%s", fd.n, fd.buf);
  free(fd.buf);
}
END_TEST

/* 'teach --no-event-idx' (with --mergeable or not), fixed, on both rings. */
START_TEST(test_every_section_the_walkthrough_without_event_idx_cites_exists_and_fits) {
  check_walk_cites(0, _i % 2, _i / 2, 1);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("teach_sections");
  TCase *tc = tcase_create("sections");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_every_section_teach_cites_exists_and_fits, 0, runs());
  tcase_add_loop_test(tc, test_every_section_the_packed_walkthrough_cites_exists_and_fits, 0,
                      runs());
  tcase_add_loop_test(tc, test_every_section_the_mergeable_walkthrough_cites_exists_and_fits, 0,
                      2 * runs());
  tcase_add_loop_test(
      tc, test_every_section_the_walkthrough_without_event_idx_cites_exists_and_fits, 0, 4);
  tcase_add_test(tc, test_bug_notes_and_rule_sections_in_teach_fit);
  tcase_add_test(tc, test_virtio_sections_are_right);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  free(secs);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
