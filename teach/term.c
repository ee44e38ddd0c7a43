/* The teaching view for a terminal: each step as the three ring tables of
 * one queue side by side, what changed marked, and the explanation. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "teach/teach.h"
#include "virtio/vbug.h"

/* Everything fits an 80-column terminal: the three tables take 79. */
#define TEACH_WIDTH 80
/* the largest queue whose marks are gathered across steps (teach's own
 * limit: the walkthrough draws every slot) */
#define TEACH_TERM_MAX_QSIZE 64
#define TEACH_DESC_W         39
#define TEACH_AVAIL_W        16
#define TEACH_USED_W         22
/* the smallest used len that does not fit the len column in brackets */
#define TEACH_STALE_LEN_MAX 1000u
/* where the available and the used ring start */
#define TEACH_AVAIL_COL (TEACH_DESC_W + 1)
#define TEACH_USED_COL  (TEACH_AVAIL_COL + TEACH_AVAIL_W + 1)

#define SGR_RESET   "\033[0m"
#define SGR_CHANGED "\033[1;33m"
#define SGR_DIM     "\033[2m"
#define SGR_BOLD    "\033[1m"
#define SGR_WRONG   "\033[1;31m"

/* One output line under construction; w counts visible columns, which
 * differ from bytes by colour codes and UTF-8. */
typedef struct tline {
  char b[1024];
  size_t n;
  int w;
} tline;

static int teach_visible(const char *s) {
  int w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) w += (*p & 0xc0) != 0x80;
  return w;
}

static void tl_raw(tline *l, const char *s, int visible) {
  if (l->n >= sizeof l->b - 1) return; /* full: the line is cut here */
  size_t n = strlen(s), room = sizeof l->b - 1 - l->n;
  if (n > room) n = room;
  memcpy(l->b + l->n, s, n);
  l->n += n;
  l->b[l->n] = '\0';
  l->w += visible;
}

static void tl_add(tline *l, const char *s) { tl_raw(l, s, teach_visible(s)); }

static void tl_addf(tline *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tl_addf(tline *l, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  tl_add(l, tmp);
}

static void tl_pad(tline *l, int to) {
  while (l->w < to) tl_raw(l, " ", 1);
}

/* A value in a column of `width`, then one marker column: '*' when it
 * changed since the last step (without colour), else a space. sgr colours
 * the value; a changed value is drawn bold yellow instead. */
static void tl_cell(tline *l, const teach_render_opts *ro, int changed, const char *sgr, int width,
                    int left, const char *value) {
  char pad[64];
  int vw = teach_visible(value);
  int np = width > vw ? width - vw : 0;
  if (np > (int)sizeof pad - 1) np = (int)sizeof pad - 1;
  memset(pad, ' ', (size_t)np);
  pad[np] = '\0';
  if (!left) tl_add(l, pad);
  const char *colour = ro->colour ? (changed ? SGR_CHANGED : sgr) : NULL;
  if (colour) tl_raw(l, colour, 0);
  tl_add(l, value);
  if (colour) tl_raw(l, SGR_RESET, 0);
  if (left) tl_add(l, pad);
  tl_add(l, changed && !ro->colour ? "*" : " ");
}

static void tl_cellf(tline *l, const teach_render_opts *ro, int changed, const char *sgr, int width,
                     int left, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void tl_cellf(tline *l, const teach_render_opts *ro, int changed, const char *sgr, int width,
                     int left, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  tl_cell(l, ro, changed, sgr, width, left, tmp);
}

static void tl_put(FILE *out, tline *l) {
  /* no trailing blanks: they make golden files fragile */
  while (l->n && l->b[l->n - 1] == ' ') l->b[--l->n] = '\0';
  fputs(l->b, out);
  fputc('\n', out);
  l->n = 0;
  l->w = 0;
  l->b[0] = '\0';
}

/* Prints text wrapped to the page width with an indent. */
static void teach_wrap_text(FILE *out, const char *text, int indent) {
  if (!text) return;
  int col = 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if (e == p) break;
    char word[256];
    size_t n = (size_t)(e - p) < sizeof word - 1 ? (size_t)(e - p) : sizeof word - 1;
    memcpy(word, p, n);
    word[n] = '\0';
    int w = teach_visible(word);
    if (col && col + 1 + w > TEACH_WIDTH - 2) {
      fputc('\n', out);
      col = 0;
    }
    if (!col) {
      fprintf(out, "%*s", indent, "");
      col = indent;
    } else {
      fputc(' ', out);
      col++;
    }
    fputs(word, out);
    col += w;
    p = e;
  }
  if (col) fputc('\n', out);
}

static const char *teach_owner_sgr(int o) {
  switch (o) {
    case TEACH_OWN_AVAIL:
      return "\033[36m";
    case TEACH_OWN_DEVICE:
      return "\033[35m";
    case TEACH_OWN_USED:
      return "\033[32m";
    case TEACH_OWN_LOST:
      return "\033[1;31m";
    case TEACH_OWN_POSTED:
      return "\033[2;36m";
    case TEACH_OWN_PUSHED:
      return "\033[2;32m";
    default:
      return NULL;
  }
}

static void teach_flags(char *buf, size_t cap, uint16_t f) {
  snprintf(buf, cap, "%s%s%s%s", f & VQ_DESC_F_NEXT ? "N" : "", f & VQ_DESC_F_WRITE ? "W" : "",
           f & VQ_DESC_F_INDIRECT ? "I" : "", f ? "" : "-");
}

static int teach_in_window(uint16_t idx_from, uint16_t idx_to, uint16_t slot, uint16_t size) {
  uint16_t n = (uint16_t)(idx_to - idx_from);
  if (n > size) n = size;
  return (uint16_t)((slot - idx_from) & (size - 1u)) < n;
}

static void teach_tag(char *buf, size_t cap, int drv, int dev) {
  snprintf(buf, cap, "%s", drv && dev ? "<-drv,dev" : drv ? "<-drv" : dev ? "<-dev" : "");
}

/* "label value" with the value marked when it changed. */
static void tl_field(tline *l, const teach_render_opts *ro, const char *label, unsigned value,
                     int changed) {
  tl_add(l, label);
  tl_cellf(l, ro, changed, NULL, 1, 1, "%u", value);
}

/* prev is the all-zero ring when there is nothing to compare with, so a
 * field counts as changed when it was written at all. */
#define TEACH_FIELD(l, ro, label, g, prev, field) \
  tl_field(l, ro, label, (g)->field, (g)->field != (prev)->field)
/* A ring header field, marked when the step wrote it. */
#define TEACH_HDR(l, ro, label, g, field, bit) \
  tl_field(l, ro, label, (g)->field, ((g)->hdr_wrote & (bit)) != 0)

/* The three tables' titles, the two rings' header fields and the column
 * heads. */
static void teach_draw_heads(FILE *out, tline *l, const teach_ring *g, int q,
                             const teach_render_opts *ro) {
  tl_addf(l, "  descriptor table (%s)", vnet_queue_name((uint16_t)q));
  tl_pad(l, TEACH_AVAIL_COL);
  tl_add(l, "available ring");
  tl_pad(l, TEACH_USED_COL);
  tl_add(l, "used ring");
  tl_put(out, l);

  tl_pad(l, TEACH_AVAIL_COL);
  TEACH_HDR(l, ro, "flags ", g, avail_flags, TEACH_H_AVAIL_FLAGS);
  TEACH_HDR(l, ro, " idx ", g, avail_idx, TEACH_H_AVAIL_IDX);
  tl_pad(l, TEACH_USED_COL);
  TEACH_HDR(l, ro, "flags ", g, used_flags, TEACH_H_USED_FLAGS);
  TEACH_HDR(l, ro, " idx ", g, used_idx, TEACH_H_USED_IDX);
  tl_put(out, l);

  tl_pad(l, TEACH_AVAIL_COL);
  TEACH_HDR(l, ro, "used_event ", g, used_event, TEACH_H_USED_EVENT);
  tl_pad(l, TEACH_USED_COL);
  TEACH_HDR(l, ro, "avail_event ", g, avail_event, TEACH_H_AVAIL_EVENT);
  tl_put(out, l);

  tl_add(l, "  # ");
  tl_cell(l, ro, 0, NULL, 10, 1, "addr");
  tl_add(l, " ");
  tl_cell(l, ro, 0, NULL, 5, 0, "len");
  tl_add(l, " ");
  tl_cell(l, ro, 0, NULL, 3, 1, "flg");
  tl_cell(l, ro, 0, NULL, 2, 0, "nx");
  tl_add(l, " owner");
  tl_pad(l, TEACH_AVAIL_COL);
  tl_add(l, "slot head");
  tl_pad(l, TEACH_USED_COL);
  tl_add(l, "slot  id   len");
  tl_put(out, l);
}

/* A descriptor's address and length cells, blank for one never written. */
static void teach_draw_addr_len(tline *l, const teach_desc *d, int blank, int w,
                                const teach_render_opts *ro) {
  if (blank)
    tl_cell(l, ro, w, NULL, 10, 1, "-");
  else
    tl_cellf(l, ro, w, NULL, 10, 1, "0x%08" PRIx64, d->addr);
  tl_add(l, " ");
  if (blank)
    tl_cell(l, ro, w, NULL, 5, 0, "");
  else
    tl_cellf(l, ro, w, NULL, 5, 0, "%u", d->len);
}

/* Descriptor i, every field marked when the step wrote the descriptor. */
static void teach_draw_desc(tline *l, const teach_ring *g, uint16_t i,
                            const teach_render_opts *ro) {
  const teach_desc *d = &g->desc[i];
  int blank = !d->addr && !d->len && !d->flags && !d->next;
  int w = (g->wrote[i] & TEACH_W_DESC) != 0;
  char v[8];
  tl_addf(l, "%3u ", i);
  teach_draw_addr_len(l, d, blank, w, ro);
  teach_flags(v, sizeof v, d->flags);
  tl_add(l, " ");
  tl_cell(l, ro, w, NULL, 3, 1, blank ? "" : v);
  if (blank)
    tl_cell(l, ro, w, NULL, 2, 0, "");
  else
    tl_cellf(l, ro, w, NULL, 2, 0, "%u", d->next);
  tl_add(l, " ");
}

/* Avail slot i: live between the device's cursor and the driver's. */
static void teach_draw_avail_slot(tline *l, const teach_ring *g, uint16_t i,
                                  const teach_render_opts *ro) {
  char v[16];
  uint16_t mask = (uint16_t)(g->size - 1u);
  tl_pad(l, TEACH_AVAIL_COL);
  tl_addf(l, " %2u", i);
  int live = teach_in_window(g->dev_last_avail, g->drv_avail_shadow, i, g->size);
  int written = g->drv_avail_shadow >= g->size || i < g->drv_avail_shadow;
  if (!written)
    snprintf(v, sizeof v, "-");
  else
    snprintf(v, sizeof v, live ? "%u" : "(%u)", g->avail[i]);
  tl_cell(l, ro, (g->wrote[i] & TEACH_W_AVAIL) != 0, live || !ro->colour ? NULL : SGR_DIM, 4, 0, v);
  teach_tag(v, sizeof v, i == (g->drv_avail_shadow & mask), i == (g->dev_last_avail & mask));
  tl_add(l, v);
}

/* Used slot i: live between the driver's cursor and the device's. */
static void teach_draw_used_slot(tline *l, const teach_ring *g, uint16_t i,
                                 const teach_render_opts *ro) {
  char v[16];
  uint16_t mask = (uint16_t)(g->size - 1u);
  tl_pad(l, TEACH_USED_COL);
  tl_addf(l, " %2u", i);
  int live = teach_in_window(g->drv_last_used, g->dev_used_shadow, i, g->size);
  int written = g->dev_used_shadow >= g->size || i < g->dev_used_shadow;
  const teach_used_elem *u = &g->used[i];
  int uch = (g->wrote[i] & TEACH_W_USED) != 0;
  if (!written) {
    tl_cell(l, ro, 0, NULL, 4, 0, "-");
    tl_cell(l, ro, 0, NULL, 5, 0, "-");
  } else {
    const char *sgr = live || !ro->colour ? NULL : SGR_DIM;
    tl_cellf(l, ro, uch, sgr, 4, 0, live ? "%u" : "(%u)", u->id);
    /* a stale len of four digits or more would not fit with its brackets:
     * the id's brackets mark the element */
    tl_cellf(l, ro, uch, sgr, 5, 0, live || u->len >= TEACH_STALE_LEN_MAX ? "%u" : "(%u)", u->len);
  }
  teach_tag(v, sizeof v, i == (g->drv_last_used & mask), i == (g->dev_used_shadow & mask));
  tl_add(l, v);
}

/* Both sides' private cursors. */
static void teach_draw_cursors(FILE *out, tline *l, const teach_ring *g, const teach_ring *prev,
                               const teach_render_opts *ro) {
  TEACH_FIELD(l, ro, "  driver: avail_idx_shadow ", g, prev, drv_avail_shadow);
  TEACH_FIELD(l, ro, " last_used_idx ", g, prev, drv_last_used);
  TEACH_FIELD(l, ro, " free descriptors ", g, prev, drv_num_free);
  tl_put(out, l);
  TEACH_FIELD(l, ro, "  device: last_avail_idx ", g, prev, dev_last_avail);
  TEACH_FIELD(l, ro, " used_idx_shadow ", g, prev, dev_used_shadow);
  tl_put(out, l);
}

/* Draws queue q's rings after a step, marking what differs from prev (the
 * same queue's rings when it was last on screen, or NULL). */
static void teach_draw_rings(FILE *out, const teach_ring *g, const teach_ring *prev, int q,
                             const teach_render_opts *ro) {
  static const teach_ring zero;
  if (!prev || prev->size != g->size) prev = &zero;
  const teach_ring *pg = prev->size ? prev : NULL; /* per-slot comparisons */
  tline l = {0};
  teach_draw_heads(out, &l, g, q, ro);
  for (uint16_t i = 0; i < g->size; i++) {
    teach_draw_desc(&l, g, i, ro);
    tl_cell(&l, ro, pg ? g->owner[i] != pg->owner[i] : g->owner[i] != 0,
            teach_owner_sgr(g->owner[i]), 6, 1, teach_owner_name((teach_owner)g->owner[i]));
    teach_draw_avail_slot(&l, g, i, ro);
    teach_draw_used_slot(&l, g, i, ro);
    tl_put(out, &l);
  }
  teach_draw_cursors(out, &l, g, prev, ro);
}

/* --- a packed ring (§2.8) ------------------------------------------------ */

/* where the event suppression fields start, right of the ring's title */
#define TEACH_PK_EVENT_COL 32
/* where the cursor tags start, right of the owner */
#define TEACH_PK_TAG_COL 46

static const char *teach_pk_event_name(uint16_t flags) {
  static const char *const names[4] = {"ENABLE", "DISABLE", "DESC", "RESERVED"};
  return names[flags & VQP_EVENT_FLAGS_MASK];
}

/* "driver event: flags DESC off 3 wrap 1", marked when the step wrote it. */
static void teach_pk_event(tline *l, const teach_render_opts *ro, const char *who, uint16_t flags,
                           uint16_t desc, int flags_w, int desc_w) {
  tl_pad(l, TEACH_PK_EVENT_COL);
  tl_addf(l, "%s event: flags ", who);
  tl_cell(l, ro, flags_w, NULL, 1, 1, teach_pk_event_name(flags));
  tl_field(l, ro, " off ", desc & 0x7fffu, desc_w);
  tl_field(l, ro, " wrap ", desc >> VQP_EVENT_WRAP_BIT, desc_w);
}

static void teach_pk_heads(FILE *out, tline *l, const teach_ring *g, int q,
                           const teach_render_opts *ro) {
  tl_addf(l, "  descriptor ring (%s)", vnet_queue_name((uint16_t)q));
  teach_pk_event(l, ro, "driver", g->drv_event_flags, g->drv_event_desc,
                 (g->hdr_wrote & TEACH_H_DRV_EVENT_FLAGS) != 0,
                 (g->hdr_wrote & TEACH_H_DRV_EVENT_DESC) != 0);
  tl_put(out, l);
  teach_pk_event(l, ro, "device", g->dev_event_flags, g->dev_event_desc,
                 (g->hdr_wrote & TEACH_H_DEV_EVENT_FLAGS) != 0,
                 (g->hdr_wrote & TEACH_H_DEV_EVENT_DESC) != 0);
  tl_put(out, l);
  tl_add(l, "pos ");
  tl_cell(l, ro, 0, NULL, 10, 1, "addr");
  tl_add(l, " ");
  tl_cell(l, ro, 0, NULL, 5, 0, "len");
  tl_add(l, " ");
  tl_cell(l, ro, 0, NULL, 3, 0, "id");
  tl_add(l, " ");
  tl_cell(l, ro, 0, NULL, 3, 1, "flg");
  tl_add(l, "A U  owner");
  tl_put(out, l);
}

/* "<-avail:drv,dev used:drv": the cursors that point at position i. */
static void teach_pk_tags(tline *l, const teach_ring *g, uint16_t i) {
  int da = g->drv_next_avail.pos == i, va = g->dev_next_avail.pos == i;
  int du = g->drv_next_used.pos == i, vu = g->dev_next_used.pos == i;
  if (!(da | va | du | vu)) return;
  tl_pad(l, TEACH_PK_TAG_COL);
  tl_add(l, "<-");
  if (da | va) tl_addf(l, "avail:%s%s%s", da ? "drv" : "", da && va ? "," : "", va ? "dev" : "");
  if (du | vu)
    tl_addf(l, "%sused:%s%s%s", da | va ? " " : "", du ? "drv" : "", du && vu ? "," : "",
            vu ? "dev" : "");
}

/* Position i: its fields, its AVAIL and USED bits, who owns it. */
static void teach_pk_row(tline *l, const teach_ring *g, const teach_ring *pg, uint16_t i,
                         const teach_render_opts *ro) {
  const teach_desc *d = &g->desc[i];
  int blank = !d->addr && !d->len && !d->flags && !d->id;
  int w = g->wrote[i] != 0;
  char v[8];
  tl_addf(l, "%3u ", i);
  teach_draw_addr_len(l, d, blank, w, ro);
  tl_add(l, " ");
  if (blank)
    tl_cell(l, ro, w, NULL, 3, 0, "");
  else
    tl_cellf(l, ro, w, NULL, 3, 0, "%u", d->id);
  tl_add(l, " ");
  teach_flags(v, sizeof v, d->flags & (VQ_DESC_F_NEXT | VQ_DESC_F_WRITE | VQ_DESC_F_INDIRECT));
  tl_cell(l, ro, w, NULL, 3, 1, blank ? "" : v);
  tl_cellf(l, ro, w, NULL, 1, 0, "%d", (d->flags & VQP_F_AVAIL) != 0);
  tl_cellf(l, ro, w, NULL, 1, 0, "%d", (d->flags & VQP_F_USED) != 0);
  tl_add(l, " ");
  tl_cell(l, ro, pg ? g->owner[i] != pg->owner[i] : g->owner[i] != 0, teach_owner_sgr(g->owner[i]),
          6, 1, teach_owner_name((teach_owner)g->owner[i]));
  teach_pk_tags(l, g, i);
}

/* "the device reads position 1 next: ...": ownership as §2.8.1 tests it,
 * with the values the next reader will see. */
static void teach_pk_test(FILE *out, tline *l, const teach_ring *g, int device) {
  teach_wpos c = device ? g->dev_next_avail : g->drv_next_used;
  uint16_t f = c.pos < g->size ? g->desc[c.pos].flags : 0;
  int a = (f & VQP_F_AVAIL) != 0, u = (f & VQP_F_USED) != 0;
  int yes = device ? a == c.wrap && u != c.wrap : a == c.wrap && u == c.wrap;
  tl_addf(l, "  next for the %s: position %u, AVAIL %d USED %d, wrap %u: %s",
          device ? "device" : "driver", c.pos, a, u, c.wrap,
          device ? (yes ? "available" : "not available") : (yes ? "used" : "not used"));
  tl_put(out, l);
}

/* Both sides' cursors, each a position and a wrap counter. */
static void teach_pk_cursors_lines(FILE *out, tline *l, const teach_ring *g, const teach_ring *p,
                                   const teach_render_opts *ro) {
  TEACH_FIELD(l, ro, "  driver: next_avail ", g, p, drv_next_avail.pos);
  TEACH_FIELD(l, ro, " wrap ", g, p, drv_next_avail.wrap);
  TEACH_FIELD(l, ro, "  next_used ", g, p, drv_next_used.pos);
  TEACH_FIELD(l, ro, " wrap ", g, p, drv_next_used.wrap);
  TEACH_FIELD(l, ro, "  free descriptors ", g, p, drv_num_free);
  tl_put(out, l);
  TEACH_FIELD(l, ro, "  device: next_avail ", g, p, dev_next_avail.pos);
  TEACH_FIELD(l, ro, " wrap ", g, p, dev_next_avail.wrap);
  TEACH_FIELD(l, ro, "  next_used ", g, p, dev_next_used.pos);
  TEACH_FIELD(l, ro, " wrap ", g, p, dev_next_used.wrap);
  tl_put(out, l);
  teach_pk_test(out, l, g, 1);
  teach_pk_test(out, l, g, 0);
}

static void teach_draw_packed(FILE *out, const teach_ring *g, const teach_ring *prev, int q,
                              const teach_render_opts *ro) {
  static const teach_ring zero;
  if (!prev || prev->size != g->size) prev = &zero;
  const teach_ring *pg = prev->size ? prev : NULL;
  tline l = {0};
  teach_pk_heads(out, &l, g, q, ro);
  for (uint16_t i = 0; i < g->size; i++) {
    teach_pk_row(&l, g, pg, i, ro);
    tl_put(out, &l);
  }
  teach_pk_cursors_lines(out, &l, g, prev, ro);
}

/* "8 avail, 1 device, 2 LOST": the owners that hold any descriptor. */
static void teach_owner_line(tline *l, const char *what, const teach_ring *g) {
  static const int order[] = {TEACH_OWN_POSTED, TEACH_OWN_AVAIL, TEACH_OWN_DEVICE,
                              TEACH_OWN_PUSHED, TEACH_OWN_USED,  TEACH_OWN_FREE};
  tl_add(l, what);
  const char *sep = "";
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
    if (!g->count[order[k]]) continue;
    tl_addf(l, "%s%u %s", sep, g->count[order[k]], teach_owner_name((teach_owner)order[k]));
    sep = ", ";
  }
  if (g->count[TEACH_OWN_LOST]) tl_addf(l, "%s%u LOST", sep, g->count[TEACH_OWN_LOST]);
}

/* Starts (or with SGR_RESET ends) a styled span, when colour is on. */
static void teach_sgr(FILE *out, const teach_render_opts *ro, const char *sgr) {
  if (ro->colour) fputs(sgr, out);
}

/* One line in style sgr (the style ends before the newline). */
static void teach_styled_line(FILE *out, const teach_render_opts *ro, const char *sgr,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void teach_styled_line(FILE *out, const teach_render_opts *ro, const char *sgr,
                              const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  teach_sgr(out, ro, sgr);
  vfprintf(out, fmt, ap);
  teach_sgr(out, ro, SGR_RESET);
  fputc('\n', out);
  va_end(ap);
}

/* A bold heading across the page: head, then '=' up to the page width. */
static void teach_heading(FILE *out, const teach_render_opts *ro, const char *head) {
  tline l = {0};
  if (ro->colour) tl_raw(&l, SGR_BOLD, 0);
  tl_add(&l, head);
  while (l.w < TEACH_WIDTH) tl_raw(&l, "=", 1);
  if (ro->colour) tl_raw(&l, SGR_RESET, 0);
  tl_put(out, &l);
}

static const vbug_info *teach_first_bug(const teach_walk *w) {
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  for (size_t i = 0; i < n; i++) {
    unsigned set = cat[i].side == VBUG_SIDE_DRIVER ? w->opts.bugs : w->opts.dev_bugs;
    if (set & cat[i].bit) return &cat[i];
  }
  return NULL;
}

/* 1 when some step of the run is marked as where it goes wrong. */
static int teach_shows_wrong(const teach_walk *w) {
  size_t n;
  const teach_step *st = teach_rec_steps(w->rec, &n);
  for (size_t i = 0; i < n; i++)
    if (st[i].wrong) return 1;
  return 0;
}

/* The bug: what it does, what it breaks (or that it is a liveness bug),
 * and, when this walkthrough cannot show it, that plainly. */
static void teach_render_bug(FILE *out, const teach_walk *w, const vbug_info *b,
                             const teach_render_opts *ro) {
  const teach_bug_note *note = teach_bug_note_find(b->name);
  char line[1024];
  teach_styled_line(out, ro, SGR_WRONG, "  bug %s:", b->name);
  snprintf(line, sizeof line, "%s. %s.", b->cause, note ? note->claim : "");
  if (line[0] >= 'a' && line[0] <= 'z') line[0] = (char)(line[0] - 'a' + 'A');
  teach_wrap_text(out, line, 4);
  const char *unseen = note ? (w->opts.packed ? note->unseen_packed : note->unseen) : NULL;
  unsigned mrg_only = b->side == VBUG_SIDE_DRIVER ? VBUG_MRG_ONLY : VBUG_DEV_MRG_ONLY;
  /* a missing barrier, under a model that can show it: the walkthrough may */
  int model_shows = b->memory && w->opts.memory != EMU_MM_SC &&
                    (strcmp(b->memory, "weak") || w->opts.memory == EMU_MM_WEAK);
  if (model_shows && !teach_shows_wrong(w)) {
    snprintf(line, sizeof line,
             "This run under %s does not show it: the missing barrier changed nothing in this "
             "interleaving; 'vnetsim explore --bug %s --memory %s' finds one that shows it.",
             emu_mm_kind_name(w->opts.memory), b->name, emu_mm_kind_name(w->opts.memory));
    teach_wrap_text(out, line, 4);
  } else if (model_shows) {
    /* its steps say where */
  } else if (unseen) {
    snprintf(line, sizeof line, "This walkthrough cannot show it: %s.", unseen);
    teach_wrap_text(out, line, 4);
  } else if ((b->bit & mrg_only) && !w->opts.mergeable) {
    snprintf(line, sizeof line,
             "This walkthrough shows it only with mergeable RX buffers, where a frame spreads "
             "over several: 'vnetsim teach --mergeable --bug %s'.",
             b->name);
    teach_wrap_text(out, line, 4);
  } else if (!teach_shows_wrong(w)) {
    teach_wrap_text(out,
                    "This run of the walkthrough does not show it: no step goes wrong; try "
                    "another --seed, more --frames or --burst 2.",
                    4);
  }
}

/* How to read a packed ring's step. */
static void teach_pk_legend(FILE *out, const teach_render_opts *ro) {
  teach_wrap_text(out,
                  "how to read a step: a packed ring (§2.8) is one descriptor ring that both "
                  "sides write, by position. Each side keeps a private cursor and a wrap counter "
                  "that starts at 1 and flips each time its cursor passes the end of the ring "
                  "(§2.8.1). The driver makes a descriptor available by storing its flags with "
                  "AVAIL equal to its wrap counter and USED the inverse; the device marks one "
                  "used by storing AVAIL and USED both equal to its own. So a descriptor is "
                  "available when AVAIL equals the reader's wrap counter and USED differs, and "
                  "used when both equal it: the two 'next for' lines apply that test, with live "
                  "values, where the device and the driver look next. owner = who holds each "
                  "position: free (the driver's), avail (made available, not yet taken), device "
                  "(taken: in flight), used (marked used, waiting for the driver), LOST (the "
                  "driver counts it as made available, but its flags do not say so to the "
                  "device). <-avail:drv and <-avail:dev: where the driver makes the next "
                  "descriptor available and where the device looks for it; <-used:dev and "
                  "<-used:drv: where the device marks the next one used and where the driver "
                  "looks for it. The driver and device event suppression structures (§2.8.10, "
                  "§2.8.14) ask the other side for notifications: ENABLE (all), DISABLE (none) "
                  "or DESC (only when the descriptor at off and wrap is made available or "
                  "used).",
                  2);
  char line[512];
  snprintf(line, sizeof line,
           "%s: ring memory written in this step (or, for the queue shown, since it was last "
           "shown), even with the value it already held; an owner or cursor that changed.",
           ro->colour ? "Yellow" : "*");
  teach_wrap_text(out, line, 2);
}

/* Prints a paragraph wrapped to the page, after formatting it. */
static void teach_para(FILE *out, int indent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void teach_para(FILE *out, int indent, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  teach_wrap_text(out, buf, indent);
}

/* The intro's paragraphs on what --mergeable and --no-event-idx change. */
static void teach_intro_options(FILE *out, const teach_walk *w) {
  if (w->opts.mergeable) {
    uint32_t nbuf = teach_walk_buffers_per_frame(&w->opts);
    char span[96] = "fit one buffer: raise the mtu or lower --rx-buf-size to see a frame spread";
    if (nbuf > 1) snprintf(span, sizeof span, "span %u buffers", nbuf);
    teach_para(out, 2,
               "mergeable RX buffers (VIRTIO_NET_F_MRG_RXBUF, §5.1.6.4): the driver posts RX "
               "buffers of %u bytes; the device's mtu is %u (VIRTIO_NET_F_MTU, §5.1.4) and each "
               "echo request carries %u bytes of data, so a %u-byte frame and its 12-byte "
               "header %s",
               w->s->drv.rx_buf_len, w->s->cfg.mtu, teach_walk_ping_payload(&w->opts),
               teach_walk_ping_payload(&w->opts) + TEACH_ETH_IP_ICMP_LEN, span);
  }
  if (w->opts.no_event_idx)
    teach_para(out, 2, "%s",
               w->opts.packed
                   ? "without EVENT_IDX: each side's event suppression structure says ENABLE "
                     "or DISABLE, never DESC (§2.8.10)"
                   : "without EVENT_IDX: used_event and avail_event are never written; the "
                     "driver sets avail.flags to VIRTQ_AVAIL_F_NO_INTERRUPT (1) while it "
                     "needs no interrupt, the device used.flags to VIRTQ_USED_F_NO_NOTIFY (1) "
                     "while it needs no kick (§2.7.7, §2.7.10). In this "
                     "scenario the device has cleared NO_NOTIFY again by the time the driver "
                     "publishes, so every kick is sent; NO_INTERRUPT spares the TX "
                     "interrupts");
}

void teach_render_intro(FILE *out, const teach_walk *w, const teach_render_opts *ro) {
  char bugs[256];
  vbug_names(w->opts.bugs, w->opts.dev_bugs, bugs, sizeof bugs);
  teach_styled_line(out, ro, SGR_BOLD,
                    "vnetsim teach: virtio-net device and driver, step by step (virtio 1.2)");
  char spacing[64] = "200 us apart";
  if (w->opts.burst > 1)
    snprintf(spacing, sizeof spacing, "echo requests in bursts of %u, 200 us apart", w->opts.burst);
  teach_para(out, 2,
             "scenario: the host (10.0.2.2) ARPs for the guest (10.0.2.15), then pings it: %u "
             "frames, %s; %s rings of %u entries; seed %" PRIu64
             "; the device keeps no backlog; bugs: %s",
             w->opts.frames, spacing, w->opts.packed ? "packed" : "split", w->opts.queue_size,
             w->opts.seed, bugs);
  /* before any paragraph that uses the short names (a bug's, the flags') */
  teach_para(out, 2, "%s",
             "names: a kick is what the spec calls an available buffer notification (driver "
             "to device), an interrupt a used buffer notification (device to driver) (§2.3)");
  teach_intro_options(out, w);
  unsigned shown = teach_walk_detailed_frames(&w->opts);
  if (shown < w->opts.frames)
    teach_para(out, 2,
               "frames 1-%u are shown action by action, later ones fast-forwarded (one step "
               "per frame)",
               shown);
  const char *model = teach_memory_name(w->s);
  if (model)
    teach_para(out, 2,
               "memory model: %s: a store one side makes reaches the other 0..%" PRIu64
               " ns later (a full barrier waits for its own; %s). The rings drawn are guest "
               "memory as both sides see it; each step ends with what is still in each side's "
               "store buffer. Ownership moves when a side stores its index; the other side can "
               "act on it once that store is visible.",
               model, w->s->mm.max_delay_ns,
               strcmp(model, "tso") ? "stores also land out of order, and loads may see memory "
                                      "as it was a little earlier, except across barriers"
                                    : "each side's stores land in the order made");
  const vbug_info *b = teach_first_bug(w);
  if (b) teach_render_bug(out, w, b, ro);
  if (w->opts.packed) {
    teach_pk_legend(out, ro);
    return;
  }
  teach_para(out, 2, "%s",
             "how to read a step: owner = who holds each descriptor: free (the driver's free "
             "list), posted (in the available ring, but avail.idx does not cover it yet: still "
             "the driver's), avail (offered: avail.idx covers it, not yet taken), device (taken "
             "by the device: in flight), pushed (its used element is written, but used.idx does "
             "not cover it yet: still the device's), used (returned, waiting for the driver). "
             "Ownership moves only when a side stores its index (§2.7.13.3, §2.7.8.2). <-drv "
             "and <-dev: where each side's private cursor points. (n): an old ring entry the "
             "reader has passed; -: never written.");
  teach_para(out, 2,
             "%s: ring memory written in this step (or, for the queue shown, since it was "
             "last shown), even with the value it already held; an owner or cursor that "
             "changed.",
             ro->colour ? "Yellow" : "*");
}

/* The virtio_net_hdr the step is about (§5.1.6),
 * every field marked when the device wrote it in this step. */
static void teach_draw_hdr(FILE *out, const teach_step *st, int packed,
                           const teach_render_opts *ro) {
  /* a fast-forward covers a whole frame: the detailed steps drew its header */
  if (!st->hdr_shown || st->kind == TEACH_K_FAST) return;
  const teach_net_hdr *h = &st->hdr;
  int w = st->hdr_shown == TEACH_HDR_WRITTEN;
  tline l = {0};
  tl_addf(&l, "  virtio_net_hdr at 0x%08" PRIx64 " (%s %" PRId64 "), as the %s:", st->hdr_addr,
          packed ? "buffer id" : "head", st->hdr_head, w ? "device wrote it" : "driver read it");
  tl_put(out, &l);
  tl_field(&l, ro, "    flags ", h->flags, w);
  tl_field(&l, ro, " gso_type ", h->gso_type, w);
  tl_field(&l, ro, " hdr_len ", h->hdr_len, w);
  tl_field(&l, ro, " gso_size ", h->gso_size, w);
  tl_field(&l, ro, " csum_start ", h->csum_start, w);
  tl_put(out, &l);
  tl_field(&l, ro, "    csum_offset ", h->csum_offset, w);
  tl_field(&l, ro, " num_buffers ", h->num_buffers, w);
  tl_put(out, &l);
}

/* The indirect table a TX head points at (§2.7.5.3), in the descriptor
 * table's columns; written with the step that wrote its head. */
static void teach_draw_indirect(FILE *out, const teach_step *st, const teach_render_opts *ro) {
  if (!st->nind || st->kind == TEACH_K_FAST) return;
  tline l = {0};
  char v[8];
  tl_addf(&l, "  indirect table at 0x%08" PRIx64 " (head %" PRId64 " points at it, %u entries):",
          st->ind_addr, st->ind_head, st->ind_total);
  tl_put(out, &l);
  tl_add(&l, "  # ");
  tl_cell(&l, ro, 0, NULL, 10, 1, "addr");
  tl_add(&l, " ");
  tl_cell(&l, ro, 0, NULL, 5, 0, "len");
  tl_add(&l, " ");
  tl_cell(&l, ro, 0, NULL, 3, 1, "flg");
  tl_cell(&l, ro, 0, NULL, 2, 0, "nx");
  tl_put(out, &l);
  for (uint16_t i = 0; i < st->nind; i++) {
    const teach_desc *d = &st->ind[i];
    tl_addf(&l, "%3u ", i);
    teach_draw_addr_len(&l, d, 0, 1, ro);
    teach_flags(v, sizeof v, d->flags);
    tl_add(&l, " ");
    tl_cell(&l, ro, 1, NULL, 3, 1, v);
    tl_cellf(&l, ro, 1, NULL, 2, 0, "%u", d->next);
    tl_put(out, &l);
  }
  if (st->ind_total > st->nind) {
    tl_addf(&l, "    ... and %u more", st->ind_total - st->nind);
    tl_put(out, &l);
  }
}

/* Under a memory model: the stores each side made that the other cannot
 * see yet; the rings above are memory as both see it. */
static void teach_term_buffers(FILE *out, const teach_walk *w, const teach_step *st) {
  const char *model = teach_memory_name(w->s);
  if (!model) return;
  static const char *const who[2] = {"driver", "device"};
  for (int side = 0; side < 2; side++) {
    char line[1024];
    teach_para(out, 2, "%s store buffer (%s): %s", who[side], model,
               teach_buffer_line(&st->buffers[side], line, sizeof line));
  }
}

void teach_render_step(FILE *out, const teach_walk *w, size_t i, const teach_render_opts *ro) {
  size_t n;
  const teach_step *steps = teach_rec_steps(w->rec, &n);
  if (i >= n) return;
  const teach_step *st = &steps[i];
  int q = teach_step_queue(st);
  tline l = {0};
  char head[160];
  snprintf(head, sizeof head, "== step %zu of %zu == t = %" PRIu64 ".%03" PRIu64 " us == %s ",
           i + 1, n, st->t_ns / 1000, st->t_ns % 1000,
           st->queue < 0 ? (st->kind == TEACH_K_FAST ? "both queues" : "device status")
                         : (q == (int)VNET_TXQ ? "tx queue" : "rx queue"));
  fputc('\n', out);
  teach_heading(out, ro, head);
  if (st->wrong) {
    const vbug_info *b = teach_first_bug(w);
    teach_sgr(out, ro, SGR_WRONG);
    fprintf(out, "%s%s%s%s\n", st->wrong == 1 ? "!! HERE IT GOES WRONG" : "!  this goes wrong too",
            b ? " (bug " : "", b ? b->name : "", b ? ")" : "");
    teach_sgr(out, ro, SGR_RESET);
  }
  teach_styled_line(out, ro, SGR_BOLD, "%s", st->title);
  teach_wrap_text(out, st->text, 2);
  fputc('\n', out);
  const teach_ring *g = &st->ring[q];
  if (!g->size) {
    fputs("  (the queues are not set up yet)\n", out);
    return;
  }
  /* Changes since this queue was last on screen, so nothing that happened
   * while the other queue was shown goes unmarked: owners and cursors that
   * differ, and what the steps in between wrote into this queue. */
  const teach_ring *prev = i > 0 ? &steps[i - 1].ring[q] : NULL;
  size_t from = 0;
  for (size_t j = i; j-- > 0;)
    if (teach_step_queue(&steps[j]) == q && steps[j].ring[q].size) {
      prev = &steps[j].ring[q];
      from = j + 1;
      break;
    }
  teach_ring shown = *g;
  uint8_t wrote[TEACH_TERM_MAX_QSIZE];
  if (g->size <= TEACH_TERM_MAX_QSIZE) {
    memcpy(wrote, g->wrote, g->size);
    for (size_t j = from; j < i; j++) {
      const teach_ring *o = &steps[j].ring[q];
      if (o->size != g->size) continue;
      for (uint16_t k = 0; k < g->size; k++) wrote[k] |= o->wrote[k];
      shown.hdr_wrote |= o->hdr_wrote;
    }
    shown.wrote = wrote;
  }
  if (g->packed)
    teach_draw_packed(out, &shown, prev, q, ro);
  else
    teach_draw_rings(out, &shown, prev, q, ro);
  teach_owner_line(&l, "  owners: ", g);
  tl_put(out, &l);
  const teach_ring *o = &st->ring[1 - q];
  if (o->size && o->packed) {
    tline owners = {0};
    teach_owner_line(&owners, "", o);
    tl_addf(&l, "  meanwhile %s: next_avail %u (wrap %u), next_used %u (wrap %u);",
            vnet_queue_name((uint16_t)(1 - q)), o->drv_next_avail.pos, o->drv_next_avail.wrap,
            o->dev_next_used.pos, o->dev_next_used.wrap);
    if (l.w + 1 + owners.w > TEACH_WIDTH) tl_put(out, &l); /* the owners on a line of their own */
    tl_add(&l, l.w ? " " : "    ");
    tl_add(&l, owners.b);
    tl_put(out, &l);
  } else if (o->size) {
    tl_addf(&l, "  meanwhile %s: avail.idx %u, used.idx %u; ", vnet_queue_name((uint16_t)(1 - q)),
            o->avail_idx, o->used_idx);
    teach_owner_line(&l, "", o);
    tl_put(out, &l);
  }
  teach_draw_hdr(out, st, g->packed, ro);
  teach_draw_indirect(out, st, ro);
  teach_term_buffers(out, w, st);
}

void teach_render_outro(FILE *out, const teach_walk *w, const teach_render_opts *ro) {
  const scn *s = w->s;
  const emu_fates *f = &s->fates;
  fputc('\n', out);
  teach_heading(out, ro, "== the run in numbers ");
  char fates[512] = "";
  size_t used = 0;
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT && used < sizeof fates; i++)
    if (f->counts[i])
      used += (size_t)snprintf(fates + used, sizeof fates - used, " %s %" PRIu64,
                               emu_fate_name((emu_fate)i), f->counts[i]);
  teach_para(out, 2, "fates of %zu frames host->guest:%s", f->nframes, fates);
  const vnet_drv_stats *dr = &s->drv.stats;
  const vnet_dev_stats *dv = &s->dev.stats;
  teach_para(out, 2,
             "kicks sent: rx %" PRIu64 " (suppressed %" PRIu64 "), tx %" PRIu64
             " (suppressed %" PRIu64 "); interrupts raised %" PRIu64 " (suppressed %" PRIu64 ")",
             dr->kicks[VNET_RXQ], dr->kicks_suppressed[VNET_RXQ], dr->kicks[VNET_TXQ],
             dr->kicks_suppressed[VNET_TXQ], dv->interrupts, dv->interrupts_suppressed);
  if (w->opts.packed) {
    const vqp_drv *rx = &s->drv.prxq, *tx = &s->drv.ptxq;
    teach_para(out, 2,
               "guest->host frames %" PRIu64
               "; rx next_avail %u (wrap %u) next_used %u (wrap %u); tx next_avail %u (wrap %u) "
               "next_used %u (wrap %u); %zu steps",
               s->guest_frames, rx->avail.pos, rx->avail.wrap, rx->used.pos, rx->used.wrap,
               tx->avail.pos, tx->avail.wrap, tx->used.pos, tx->used.wrap,
               teach_rec_total_steps(w->rec));
  } else {
    teach_para(out, 2,
               "guest->host frames %" PRIu64
               "; rx avail.idx %u used.idx %u; tx avail.idx %u used.idx %u; %zu steps",
               s->guest_frames, s->drv.rxq.avail_idx_published,
               s->dev.q[VNET_RXQ].vq.used_idx_published, s->drv.txq.avail_idx_published,
               s->dev.q[VNET_TXQ].vq.used_idx_published, teach_rec_total_steps(w->rec));
  }
  /* "answered" is the guest stack's doing; whether the answer left the
   * guest is the TX path's, which a bug may break. */
  if (f->counts[EMU_FATE_ANSWERED] > s->guest_frames)
    teach_para(out, 2,
               "the guest answered %" PRIu64 " frame%s; %" PRIu64
               " reached the host (the rest never left the TX ring)",
               f->counts[EMU_FATE_ANSWERED], f->counts[EMU_FATE_ANSWERED] == 1 ? "" : "s",
               s->guest_frames);
}
