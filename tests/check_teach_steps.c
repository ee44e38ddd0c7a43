/* Every step of the walkthrough, with the fixed driver and with each bug
 * switch, checked against the ring memory it recorded: who owns each
 * descriptor follows from the indices stored in memory (ownership changes
 * hands only at an index store), every slot the step wrote is marked and
 * nothing else is, and each bug shows at the step its own note names, or
 * the walkthrough says plainly that it cannot show it. */
#define _DEFAULT_SOURCE /* open_memstream */

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teach/teach.h"
#include "tests/bug_runs.h"
#include "virtio/vbug.h"
#include "virtio/vq_packed.h"

/* The walkthrough as 'vnetsim teach --bug NAME' runs it, with the burst
 * that bug's scenario uses (also for the fixed driver compared with it:
 * burst_of names the bug whose scenario to use). */
/* 1 when bug b needs mergeable RX buffers (then its walkthrough, and the
 * fixed one compared with it, runs with them, as 'teach --mergeable'). */
static int mrg_bug(const vbug_info *b) {
  return b && (b->bit & (b->side == VBUG_SIDE_DRIVER ? VBUG_MRG_ONLY : VBUG_DEV_MRG_ONLY));
}

static void walk_in(const vbug_info *b, const vbug_info *burst_of, teach_walk *w) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  if (b && b->side == VBUG_SIDE_DRIVER) o.bugs = b->bit;
  if (b && b->side == VBUG_SIDE_DEVICE) o.dev_bugs = b->bit;
  o.mergeable = mrg_bug(burst_of);
  if (burst_of)
    o.burst = teach_walk_default_burst(burst_of->side == VBUG_SIDE_DRIVER ? burst_of->bit : 0,
                                       burst_of->side == VBUG_SIDE_DEVICE ? burst_of->bit : 0);
  ck_assert_int_eq(teach_walk_run(&o, w), 0);
}

/* 1 when free-running index k lies in [from, to) (at most size entries). */
static int in_window(uint16_t k, uint16_t from, uint16_t to, uint16_t size) {
  uint16_t n = (uint16_t)(to - from);
  if (n > size) n = size;
  return (uint16_t)(k - from) < n;
}

/* Which window of ring memory holds head h, as an owner: the avail slots
 * the device has not taken yet split at the avail.idx stored in memory,
 * the used slots the driver has not read yet split at the stored used.idx.
 * TEACH_OWN_COUNT when h is in none. */
static int owner_from_memory(const teach_ring *g, uint16_t h) {
  uint16_t m = (uint16_t)(g->size - 1);
  for (uint16_t k = g->dev_last_avail;
       in_window(k, g->dev_last_avail, g->drv_avail_shadow, g->size); k++)
    if (g->avail[k & m] == h)
      return in_window(k, g->dev_last_avail, g->avail_idx, g->size) ? TEACH_OWN_AVAIL
                                                                    : TEACH_OWN_POSTED;
  for (uint16_t k = g->drv_last_used; in_window(k, g->drv_last_used, g->dev_used_shadow, g->size);
       k++)
    if (g->used[k & m].id == h)
      return in_window(k, g->drv_last_used, g->used_idx, g->size) ? TEACH_OWN_USED
                                                                  : TEACH_OWN_PUSHED;
  return TEACH_OWN_COUNT;
}

/* The side that holds a descriptor: the driver's (0) or the device's (1). */
static int side(int owner) {
  return owner == TEACH_OWN_AVAIL || owner == TEACH_OWN_DEVICE || owner == TEACH_OWN_PUSHED;
}

/* Owners agree with ring memory: a head in a window has that window's
 * owner, and a head shown as avail, posted, used or pushed is in it. */
static void check_owners(const teach_step *st, int q, const teach_ring *g, const char *run) {
  unsigned sum = 0;
  for (int o = 0; o < TEACH_OWN_COUNT; o++) sum += g->count[o];
  ck_assert_msg(sum == g->size, "%s step %u: owners count %u of %u", run, st->index + 1, sum,
                g->size);
  for (uint16_t h = 0; h < g->size; h++) {
    int want = owner_from_memory(g, h), got = g->owner[h];
    int windowed = got == TEACH_OWN_AVAIL || got == TEACH_OWN_POSTED || got == TEACH_OWN_USED ||
                   got == TEACH_OWN_PUSHED;
    /* used-slot-mod-256: the driver took an element through the wrong
     * slot and freed its head; memory still has the real element waiting.
     * Both are the driver's side: the picture shows the driver's state. */
    if (got == TEACH_OWN_FREE && want == TEACH_OWN_USED && (g->size < 256) &&
        strstr(run, "used-slot-mod-256"))
      continue;
    if (want != TEACH_OWN_COUNT || windowed)
      ck_assert_msg(got == want, "%s step %u (%s), %s head %u: shown %s, ring memory says %s", run,
                    st->index + 1, st->title, q ? "tx" : "rx", h, teach_owner_name(got),
                    want == TEACH_OWN_COUNT ? "in no window" : teach_owner_name(want));
  }
}

/* Ownership crosses between driver and device only in a step that stored
 * the index handing it over: avail.idx towards the device, used.idx back. */
static void check_handover(const teach_step *st, int q, const teach_ring *g, const teach_ring *p,
                           const char *run) {
  for (uint16_t d = 0; d < g->size; d++) {
    int was = side(p->owner[d]), now = side(g->owner[d]);
    if (was == now) continue;
    uint8_t need = now ? TEACH_H_AVAIL_IDX : TEACH_H_USED_IDX;
    ck_assert_msg(g->hdr_wrote & need,
                  "%s step %u (%s), %s descriptor %u: %s -> %s without storing %s", run,
                  st->index + 1, st->title, q ? "tx" : "rx", d, teach_owner_name(p->owner[d]),
                  teach_owner_name(g->owner[d]), now ? "avail.idx" : "used.idx");
  }
}

/* Every slot the step wrote is marked (the private cursors tell which
 * slots a side filled; a value that differs was written too), and no
 * slot outside what it filled is. Returns how many marked slots kept the
 * value memory held (written with the same value). */
static int check_marks(const teach_step *st, int q, const teach_ring *g, const teach_ring *p,
                       const char *run) {
  int same = 0;
  uint16_t m = (uint16_t)(g->size - 1);
  for (uint16_t i = 0; i < g->size; i++) {
    int filled_avail = 0, filled_used = 0;
    for (uint16_t k = p->drv_avail_shadow;
         in_window(k, p->drv_avail_shadow, g->drv_avail_shadow, g->size); k++)
      filled_avail |= (k & m) == i;
    for (uint16_t k = p->dev_used_shadow;
         in_window(k, p->dev_used_shadow, g->dev_used_shadow, g->size); k++)
      filled_used |= (k & m) == i;
    int wa = (g->wrote[i] & TEACH_W_AVAIL) != 0, wu = (g->wrote[i] & TEACH_W_USED) != 0;
    int wd = (g->wrote[i] & TEACH_W_DESC) != 0;
    ck_assert_msg(wa == filled_avail || (g->avail[i] != p->avail[i] && wa),
                  "%s step %u (%s): %s avail slot %u marked %d, filled %d", run, st->index + 1,
                  st->title, q ? "tx" : "rx", i, wa, filled_avail);
    ck_assert_msg(wu == filled_used, "%s step %u (%s): %s used slot %u marked %d, filled %d", run,
                  st->index + 1, st->title, q ? "tx" : "rx", i, wu, filled_used);
    if (g->avail[i] != p->avail[i]) ck_assert(wa);
    if (g->used[i].id != p->used[i].id || g->used[i].len != p->used[i].len) ck_assert(wu);
    if (memcmp(&g->desc[i], &p->desc[i], sizeof g->desc[i]))
      ck_assert_msg(wd, "%s step %u: %s descriptor %u changed unmarked", run, st->index + 1,
                    q ? "tx" : "rx", i);
    same += wa && g->avail[i] == p->avail[i];
    same += wu && g->used[i].id == p->used[i].id && g->used[i].len == p->used[i].len;
  }
  static const struct {
    uint8_t bit;
    size_t off;
  } hdr[] = {{TEACH_H_AVAIL_FLAGS, offsetof(teach_ring, avail_flags)},
             {TEACH_H_AVAIL_IDX, offsetof(teach_ring, avail_idx)},
             {TEACH_H_USED_EVENT, offsetof(teach_ring, used_event)},
             {TEACH_H_USED_FLAGS, offsetof(teach_ring, used_flags)},
             {TEACH_H_USED_IDX, offsetof(teach_ring, used_idx)},
             {TEACH_H_AVAIL_EVENT, offsetof(teach_ring, avail_event)}};
  for (size_t k = 0; k < sizeof hdr / sizeof hdr[0]; k++) {
    uint16_t now, was;
    memcpy(&now, (const char *)g + hdr[k].off, sizeof now);
    memcpy(&was, (const char *)p + hdr[k].off, sizeof was);
    if (now != was)
      ck_assert_msg(g->hdr_wrote & hdr[k].bit,
                    "%s step %u (%s): %s header field %zu moved unmarked", run, st->index + 1,
                    st->title, q ? "tx" : "rx", k);
  }
  return same;
}

/* Every step of a split walkthrough against its ring memory: owners,
 * hand-overs at index stores, marks. Returns how many marked slots kept
 * the value memory held. */
static int check_split_steps(const teach_walk *w, const char *run) {
  size_t n;
  const teach_step *st = teach_rec_steps(w->rec, &n);
  ck_assert_uint_eq(n, teach_rec_total_steps(w->rec)); /* every step kept */
  int same = 0, checked = 0;
  for (size_t i = 0; i < n; i++)
    for (int q = 0; q < 2; q++) {
      const teach_ring *g = &st[i].ring[q];
      if (!g->size) continue;
      check_owners(&st[i], q, g, run);
      checked++;
      const teach_ring *p = i ? &st[i - 1].ring[q] : NULL;
      if (!p || p->size != g->size) continue;
      check_handover(&st[i], q, g, p, run);
      same += check_marks(&st[i], q, g, p, run);
    }
  ck_assert_int_gt(checked, 10);
  return same;
}

/* The guest's answers in the walkthrough: an ARP reply, and echo replies
 * with ping(8)'s 56 bytes of data (14 + 20 + 8 + 56). */
#define ARP_REPLY_LEN  42u
#define ECHO_REPLY_LEN 98u

START_TEST(test_every_step_owner_and_marks_follow_ring_memory) {
  const vbug_info *b = bug_of(_i);
  const char *run = b ? b->name : "fixed";
  teach_walk w;
  walk_in(b, b, &w);
  int same = check_split_steps(&w, run);
  /* every step that returns an RX buffer draws the header the device wrote
   * at its start: the buffer's address from its descriptor, num_buffers 1 */
  size_t n, headers = 0;
  const teach_step *st = teach_rec_steps(w.rec, &n);
  for (size_t i = 0; i < n && !b; i++) {
    if (st[i].kind != TEACH_K_DEV_PUSH || st[i].queue != (int)VNET_RXQ) continue;
    const teach_ring *g = &st[i].ring[VNET_RXQ];
    ck_assert_int_eq(st[i].hdr_shown, TEACH_HDR_WRITTEN);
    ck_assert_uint_eq(st[i].hdr.num_buffers, 1);
    ck_assert_uint_eq(st[i].hdr_addr, g->desc[st[i].hdr_head].addr);
    headers++;
  }
  if (!b) ck_assert_uint_ge(headers, 2);
  /* every TX frame goes in one descriptor pointing at an indirect table:
   * the step that posts it draws the table as memory holds it, the 12-byte
   * header chained (NEXT, next 1) to the frame */
  size_t tables = 0;
  for (size_t i = 0; i < n && !b; i++) {
    if (st[i].kind != TEACH_K_POST || st[i].queue != (int)VNET_TXQ) continue;
    const teach_desc *d = &st[i].ring[VNET_TXQ].desc[st[i].ind_head];
    ck_assert(d->flags & VQ_DESC_F_INDIRECT);
    ck_assert_uint_eq(st[i].ind_addr, d->addr);
    ck_assert_uint_eq(st[i].ind_total, d->len / VQ_DESC_SIZE);
    ck_assert_uint_eq(st[i].nind, 2);
    /* (the table is the head's and later frames write it again: what it
     * held at this step is the frame this step sent, an ARP or echo reply) */
    ck_assert(st[i].ind[0].addr && st[i].ind[1].addr);
    ck_assert(st[i].ind[1].len == ARP_REPLY_LEN || st[i].ind[1].len == ECHO_REPLY_LEN);
    ck_assert_uint_eq(st[i].ind[0].len, VNET_HDR_LEN);
    ck_assert_uint_eq(st[i].ind[0].flags, VQ_DESC_F_NEXT);
    ck_assert_uint_eq(st[i].ind[0].next, 1);
    ck_assert_uint_eq(st[i].ind[1].flags & VQ_DESC_F_NEXT, 0);
    tables++;
  }
  if (!b) ck_assert_uint_ge(tables, 2);
  /* the fixed run re-posts head 0 into slot 0 and returns TX {id 0, len 0}
   * over a slot that held them: written, so marked, though nothing differs */
  if (!b) ck_assert_int_gt(same, 0);
  teach_walk_free(&w);
}
END_TEST

/* The step where each bug shows, as the note in teach describes it. */
static const struct {
  const char *bug;
  teach_kind kind;
  int queue;
} bug_moments[] = {
    {"rx-no-recycle", TEACH_K_CONSUME, 0},
    {"rx-no-irq-wake", TEACH_K_IRQ, 0},
    {"tx-no-reclaim", TEACH_K_POST, 1},
    {"tx-no-kick", TEACH_K_PUBLISH, 1},
    {"kick-before-publish", TEACH_K_PUBLISH, 0},
    {"legacy-hdr-10", TEACH_K_CONSUME, 0},
    {"used-event-stale", TEACH_K_DEV_PUBLISH, 0},
    {"used-slot-mod-256", TEACH_K_VIOLATION, 0},
    /* mergeable RX buffers: where the device writes num_buffers, where the
     * driver reads it, where it takes a buffer it will not post again */
    {"dev-mrg-num-buffers-one", TEACH_K_DEV_PUSH, 0},
    {"drv-mrg-first-only", TEACH_K_CONSUME, 0},
    {"drv-mrg-repost-first", TEACH_K_CONSUME, 0},
};

static char *render_intro(const teach_walk *w) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  teach_render_opts ro = {0};
  teach_render_intro(f, w, &ro);
  fclose(f);
  return buf;
}

START_TEST(test_each_bug_shows_where_its_note_says_or_says_it_cannot) {
  const vbug_info *b = bug_of(_i + 1);
  const teach_bug_note *note = teach_bug_note_find(b->name);
  ck_assert_msg(note != NULL, "bug %s has no note in teach", b->name);
  teach_walk fixed, w;
  walk_in(NULL, b, &fixed);
  walk_in(b, b, &w);
  size_t nf, n;
  const teach_step *sf = teach_rec_steps(fixed.rec, &nf), *st = teach_rec_steps(w.rec, &n);
  char *intro = render_intro(&w);
  char tag[64];
  snprintf(tag, sizeof tag, "bug %s", b->name);
  if (note->unseen) {
    ck_assert_msg(strstr(intro, "This walkthrough cannot show it"), "%s: %s", b->name, intro);
  } else {
    size_t moment = n;
    for (size_t i = 0; i < n && moment == n; i++)
      if (st[i].wrong == 1) moment = i;
    ck_assert_msg(moment < n, "%s: no step is marked where it goes wrong", b->name);
    ck_assert_msg(strstr(st[moment].text, tag) || strstr(st[moment].title, tag),
                  "%s: the step that goes wrong does not name the bug: %s", b->name,
                  st[moment].text);
    for (size_t k = 0; k < sizeof bug_moments / sizeof bug_moments[0]; k++)
      if (!strcmp(bug_moments[k].bug, b->name)) {
        ck_assert_int_eq(st[moment].kind, bug_moments[k].kind);
        ck_assert_int_eq(teach_step_queue(&st[moment]), bug_moments[k].queue);
      }
    /* the run departs from the fixed driver's at that step or before */
    size_t differ = 0;
    while (differ < n && differ < nf && !strcmp(st[differ].title, sf[differ].title) &&
           !strcmp(st[differ].text, sf[differ].text))
      differ++;
    ck_assert_msg(differ <= moment, "%s: first differs at step %zu, marked at %zu", b->name,
                  differ + 1, moment + 1);
  }
  free(intro);
  teach_walk_free(&fixed);
  teach_walk_free(&w);
}
END_TEST

/* --- packed rings -------------------------------------------------------- */

/* Guest memory of one packed queue: the ring and both event suppression
 * structures, as raw bytes. */
typedef struct pk_mem {
  uint16_t size;
  uint8_t ring[64 * VQP_DESC_SIZE];
  uint8_t drv_event[VQP_EVENT_SIZE], dev_event[VQP_EVENT_SIZE];
} pk_mem;

/* What memory held at the end of each step: the observer overwrites the
 * open step's entry at every record, so the last one stays. */
typedef struct pk_capture {
  teach_walk *w;
  pk_mem (*at)[2];
  size_t cap;
} pk_capture;

static void pk_read(const scn *s, int q, pk_mem *m) {
  const vqp_layout *l = q ? &s->drv.ptxq.layout : &s->drv.prxq.layout;
  m->size = l->size;
  if (!l->size) return;
  ck_assert_int_eq(gmem_peek(&s->mem, l->ring, m->ring, (size_t)l->size * VQP_DESC_SIZE), 0);
  ck_assert_int_eq(gmem_peek(&s->mem, l->driver, m->drv_event, VQP_EVENT_SIZE), 0);
  ck_assert_int_eq(gmem_peek(&s->mem, l->device, m->dev_event, VQP_EVENT_SIZE), 0);
}

static void pk_observe(void *ctx, const emu_trace_rec *rec) {
  (void)rec;
  pk_capture *c = ctx;
  size_t total = teach_rec_total_steps(c->w->rec);
  if (!total) return;
  if (total > c->cap) {
    c->at = realloc(c->at, total * 2 * sizeof *c->at);
    ck_assert_ptr_nonnull(c->at);
    memset(c->at + c->cap, 0, (total * 2 - c->cap) * sizeof *c->at);
    c->cap = total * 2;
  }
  for (int q = 0; q < 2; q++) pk_read(c->w->s, q, &c->at[total - 1][q]);
}

/* The packed walkthrough as 'teach --ring packed --bug NAME' runs it. */
static void walk_packed(const vbug_info *b, teach_walk *w, pk_capture *cap) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  if (b && b->side == VBUG_SIDE_DRIVER) o.bugs = b->bit;
  if (b && b->side == VBUG_SIDE_DEVICE) o.dev_bugs = b->bit;
  o.burst = teach_walk_default_burst(o.bugs, o.dev_bugs);
  o.queue_size = teach_walk_default_qsize(o.bugs, o.dev_bugs);
  o.packed = 1;
  o.mergeable = mrg_bug(b);
  if (cap) {
    memset(cap, 0, sizeof *cap);
    cap->w = w;
    o.observer = pk_observe;
    o.observer_ctx = cap;
  }
  ck_assert_int_eq(teach_walk_run(&o, w), 0);
}

/* The wrap counter the device reads position p with: its own for the
 * positions ahead of its cursor, the next lap's behind it. */
static unsigned reader_wrap(teach_wpos c, uint16_t p) { return p >= c.pos ? c.wrap : !c.wrap; }

/* Every drawn field equals guest memory at the end of the step. */
static void pk_check_memory(const teach_step *st, int q, const teach_ring *g, const pk_mem *m,
                            const char *run) {
  ck_assert_uint_eq(m->size, g->size);
  for (uint16_t i = 0; i < g->size; i++) {
    const uint8_t *raw = m->ring + (size_t)i * VQP_DESC_SIZE;
    const teach_desc *d = &g->desc[i];
    ck_assert_msg(d->addr == emu_get_le64(raw + VQP_DESC_OFF_ADDR) &&
                      d->len == emu_get_le32(raw + VQP_DESC_OFF_LEN) &&
                      d->id == emu_get_le16(raw + VQP_DESC_OFF_ID) &&
                      d->flags == emu_get_le16(raw + VQP_DESC_OFF_FLAGS),
                  "%s step %u (%s): %s position %u drawn unlike memory", run, st->index + 1,
                  st->title, q ? "tx" : "rx", i);
  }
  ck_assert_uint_eq(g->drv_event_desc, emu_get_le16(m->drv_event + VQP_EVENT_OFF_DESC));
  ck_assert_uint_eq(g->drv_event_flags, emu_get_le16(m->drv_event + VQP_EVENT_OFF_FLAGS));
  ck_assert_uint_eq(g->dev_event_desc, emu_get_le16(m->dev_event + VQP_EVENT_OFF_DESC));
  ck_assert_uint_eq(g->dev_event_flags, emu_get_le16(m->dev_event + VQP_EVENT_OFF_FLAGS));
}

/* Owners as §2.8.1 defines them: a position shown available has AVAIL
 * equal to the device's wrap counter for it and USED not; the position
 * the driver reads next is shown used exactly when both bits equal its
 * used wrap counter (and it has something outstanding). */
static void pk_check_owners(const teach_step *st, int q, const teach_ring *g, const char *run) {
  unsigned sum = 0;
  for (int o = 0; o < TEACH_OWN_COUNT; o++) sum += g->count[o];
  ck_assert_msg(sum == g->size, "%s step %u: owners count %u of %u", run, st->index + 1, sum,
                g->size);
  for (uint16_t p = 0; p < g->size; p++) {
    unsigned a = (g->desc[p].flags & VQP_F_AVAIL) != 0, u = (g->desc[p].flags & VQP_F_USED) != 0;
    unsigned w = reader_wrap(g->dev_next_avail, p);
    if (g->owner[p] == TEACH_OWN_AVAIL)
      ck_assert_msg(a == w && u != w, "%s step %u (%s): %s position %u shown avail, bits %u %u",
                    run, st->index + 1, st->title, q ? "tx" : "rx", p, a, u);
    ck_assert(g->owner[p] != TEACH_OWN_POSTED && g->owner[p] != TEACH_OWN_PUSHED);
  }
  teach_wpos c = g->drv_next_used;
  unsigned a = (g->desc[c.pos].flags & VQP_F_AVAIL) != 0;
  unsigned u = (g->desc[c.pos].flags & VQP_F_USED) != 0;
  if (g->drv_num_free < g->size)
    ck_assert_msg((g->owner[c.pos] == TEACH_OWN_USED) == (a == c.wrap && u == c.wrap),
                  "%s step %u (%s): %s next used position %u shown %s, bits %u %u wrap %u", run,
                  st->index + 1, st->title, q ? "tx" : "rx", c.pos,
                  teach_owner_name(g->owner[c.pos]), a, u, c.wrap);
}

/* 1 when position p lies in [from, to) going round a ring of size (a
 * whole lap when they are equal and the step moved the cursor). */
static int pk_in(uint16_t from, uint16_t to, uint16_t p, uint16_t size, int lap) {
  uint16_t n = (uint16_t)((to + size - from) % size);
  if (!n && lap) return 1;
  return (uint16_t)((p + size - from) % size) < n;
}

/* Marks: a position whose memory changed is marked; a position marked as
 * made available lies where the driver's cursor moved, one marked used
 * where the device's used cursor moved. Ownership crosses to the device
 * only in a step that made something available, and back only in one that
 * marked something used. */
static void pk_check_marks(const teach_step *st, int q, const teach_ring *g, const teach_ring *p,
                           const char *run) {
  int posted = (st->evmask >> EMU_TR_AVAIL_PUBLISHED) & 1;
  int pushed = (st->evmask >> EMU_TR_USED_PUBLISHED) & 1;
  for (uint16_t i = 0; i < g->size; i++) {
    if (memcmp(&g->desc[i], &p->desc[i], sizeof g->desc[i]))
      ck_assert_msg(g->wrote[i], "%s step %u (%s): %s position %u changed unmarked", run,
                    st->index + 1, st->title, q ? "tx" : "rx", i);
    if (g->wrote[i] & TEACH_W_AVAIL)
      ck_assert(pk_in(p->drv_next_avail.pos, g->drv_next_avail.pos, i, g->size, 1));
    if (g->wrote[i] & TEACH_W_USED)
      ck_assert(pk_in(p->dev_next_used.pos, g->dev_next_used.pos, i, g->size, 1));
    int was = side(p->owner[i]) && p->owner[i] != TEACH_OWN_PUSHED;
    int now = side(g->owner[i]) && g->owner[i] != TEACH_OWN_PUSHED;
    if (was != now)
      ck_assert_msg(now ? posted : pushed, "%s step %u (%s), %s position %u: %s -> %s without %s",
                    run, st->index + 1, st->title, q ? "tx" : "rx", i,
                    teach_owner_name(p->owner[i]), teach_owner_name(g->owner[i]),
                    now ? "making it available" : "marking used");
  }
}

/* Every step of a packed walkthrough against memory captured at its end:
 * fields, owners by §2.8.1's tests, marks and hand-overs. */
static void check_packed_steps(const teach_walk *w, const pk_capture *cap, const char *run) {
  size_t n;
  const teach_step *st = teach_rec_steps(w->rec, &n);
  ck_assert_uint_eq(n, teach_rec_total_steps(w->rec));
  ck_assert_uint_ge(cap->cap, n);
  int checked = 0;
  for (size_t i = 0; i < n; i++)
    for (int q = 0; q < 2; q++) {
      const teach_ring *g = &st[i].ring[q];
      if (!g->size) continue;
      ck_assert(g->packed);
      pk_check_memory(&st[i], q, g, &cap->at[st[i].index][q], run);
      pk_check_owners(&st[i], q, g, run);
      checked++;
      const teach_ring *p = i ? &st[i - 1].ring[q] : NULL;
      if (p && p->size == g->size) pk_check_marks(&st[i], q, g, p, run);
    }
  ck_assert_int_gt(checked, 10);
}

START_TEST(test_packed_every_step_follows_ring_memory) {
  const vbug_info *b = bug_of(_i);
  const char *run = b ? b->name : "fixed";
  teach_walk w;
  pk_capture cap;
  walk_packed(b, &w, &cap);
  check_packed_steps(&w, &cap, run);
  free(cap.at);
  teach_walk_free(&w);
}
END_TEST

/* On packed rings every bug with a packed form shows at a step that names
 * it, the five of the packed ring's own among them; the others say why
 * they cannot. */
START_TEST(test_packed_bug_shows_where_it_happens_or_says_it_cannot) {
  const vbug_info *b = bug_of(_i + 1);
  const teach_bug_note *note = teach_bug_note_find(b->name);
  ck_assert_ptr_nonnull(note);
  teach_walk w;
  walk_packed(b, &w, NULL);
  char *intro = render_intro(&w);
  char tag[64];
  snprintf(tag, sizeof tag, "bug %s", b->name);
  int own = (b->side == VBUG_SIDE_DRIVER ? VBUG_PACKED_ONLY : VBUG_DEV_PACKED_ONLY) & b->bit;
  int split_only = (b->side == VBUG_SIDE_DRIVER ? VBUG_SPLIT_ONLY : VBUG_DEV_SPLIT_ONLY) & b->bit;
  if (split_only) ck_assert_ptr_nonnull(note->unseen_packed);
  if (own && !b->memory) ck_assert_msg(note->unseen_packed == NULL, "%s", b->name);
  if (note->unseen_packed) {
    ck_assert_msg(strstr(intro, "This walkthrough cannot show it"), "%s: %s", b->name, intro);
  } else {
    size_t n;
    const teach_step *st = teach_rec_steps(w.rec, &n);
    size_t moment = n;
    for (size_t i = 0; i < n && moment == n; i++)
      if (st[i].wrong == 1) moment = i;
    ck_assert_msg(moment < n, "%s: no step is marked where it goes wrong", b->name);
    ck_assert_msg(strstr(st[moment].text, tag) || strstr(st[moment].title, tag),
                  "%s: the step that goes wrong does not name the bug: %s", b->name,
                  st[moment].text);
    ck_assert_ptr_null(strstr(intro, "cannot show"));
  }
  free(intro);
  teach_walk_free(&w);
}
END_TEST

/* --- mergeable RX buffers ------------------------------------------------- */

/* 'teach --mergeable [--ring packed] [--bug NAME]': memory captured at
 * each step's end on a packed ring (cap, or NULL). */
static void walk_mergeable(const vbug_info *b, int packed, teach_walk *w, pk_capture *cap) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  if (b && b->side == VBUG_SIDE_DRIVER) o.bugs = b->bit;
  if (b && b->side == VBUG_SIDE_DEVICE) o.dev_bugs = b->bit;
  o.mergeable = 1;
  o.packed = packed;
  if (cap) {
    memset(cap, 0, sizeof *cap);
    cap->w = w;
    o.observer = pk_observe;
    o.observer_ctx = cap;
  }
  ck_assert_int_eq(teach_walk_run(&o, w), 0);
}

/* RX slots (split) or positions (packed) a step marked as used. */
static unsigned marked_used(const teach_ring *g) {
  unsigned n = 0;
  for (uint16_t i = 0; i < g->size; i++) n += (g->wrote[i] & TEACH_W_USED) != 0;
  return n;
}

/* A frame's buffers as the device returns them: the step that writes the
 * header writes num_buffers used elements; on a split ring they stay the
 * device's (pushed) until the next step stores used.idx over all of them,
 * on a packed ring each is used once its flags are stored. Returns the
 * frame's num_buffers. */
static unsigned check_device_frame(const teach_step *st, const teach_step *next, int packed) {
  const teach_ring *g = &st->ring[VNET_RXQ];
  unsigned nb = st->hdr.num_buffers;
  ck_assert_msg(marked_used(g) == nb, "step %u (%s): num_buffers %u, %u used elements written",
                st->index + 1, st->title, nb, marked_used(g));
  if (packed) {
    ck_assert_uint_eq(st->kind, TEACH_K_DEV_PUBLISH);
    return nb;
  }
  ck_assert_uint_eq(st->kind, TEACH_K_DEV_PUSH);
  ck_assert_uint_eq(g->count[TEACH_OWN_PUSHED], nb);
  ck_assert(!(g->hdr_wrote & TEACH_H_USED_IDX));
  const teach_ring *after = &next->ring[VNET_RXQ];
  ck_assert(after->hdr_wrote & TEACH_H_USED_IDX);
  ck_assert_uint_eq(after->count[TEACH_OWN_PUSHED], 0);
  ck_assert_uint_eq(after->count[TEACH_OWN_USED], g->count[TEACH_OWN_USED] + nb);
  return nb;
}

/* The driver's side of a frame of nb buffers whose first it read at step
 * i: the next nb - 1 RX buffers it takes carry no header, the last joins
 * the frame (its fate is told there), and each is posted again. Returns
 * the step after the frame's last buffer. */
static size_t check_driver_frame(const teach_step *st, size_t n, size_t i, unsigned nb) {
  int64_t first = st[i].hdr_head;
  unsigned took = 1, reposted = 0;
  size_t k = i + 1;
  for (; k < n && took < nb; k++) {
    if (teach_step_queue(&st[k]) != (int)VNET_RXQ) continue;
    if (st[k].kind == TEACH_K_POST || st[k].kind == TEACH_K_PUBLISH) reposted++;
    if (st[k].kind != TEACH_K_CONSUME) continue;
    ck_assert_int_eq(st[k].hdr_shown, TEACH_HDR_NONE);
    took++;
  }
  ck_assert_uint_eq(took, nb);
  ck_assert_int_eq(st[k - 1].frame_head, first);
  ck_assert_ptr_nonnull(strstr(st[k - 1].title, "joins the frame"));
  ck_assert_uint_ge(reposted, nb - 1);
  return k;
}

/* The fixed mergeable walkthrough on split (_i 0) and packed (_i 1) rings:
 * every step follows memory, and every frame spans the buffers its header
 * says, the 4042-byte pings three. */
START_TEST(test_mergeable_frames_span_buffers_and_change_hands_at_stores) {
  int packed = _i;
  teach_walk w;
  pk_capture cap;
  walk_mergeable(NULL, packed, &w, packed ? &cap : NULL);
  if (packed)
    check_packed_steps(&w, &cap, "mergeable");
  else
    check_split_steps(&w, "mergeable");
  size_t n;
  const teach_step *st = teach_rec_steps(w.rec, &n);
  unsigned frames = 0, three = 0, joined = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (st[i].kind == TEACH_K_FAST) continue; /* one step per frame: nothing to follow */
    if (st[i].hdr_shown == TEACH_HDR_WRITTEN) {
      unsigned nb = check_device_frame(&st[i], &st[i + 1], packed);
      frames++;
      three += nb == 3;
    } else if (st[i].hdr_shown == TEACH_HDR_READ && st[i].hdr.num_buffers > 1) {
      check_driver_frame(st, n, i, st[i].hdr.num_buffers);
      joined++;
    }
  }
  ck_assert_uint_ge(frames, 2); /* the ARP request in one buffer, a ping in three */
  ck_assert_uint_ge(three, 1);
  ck_assert_uint_ge(joined, 1);
  if (packed) free(cap.at);
  teach_walk_free(&w);
}
END_TEST

/* Under a memory model the header is drawn as the device wrote it, though
 * its stores may not have reached the driver yet: num_buffers counts the
 * used elements the step wrote, on both rings, under tso (_i < 2) and weak. */
START_TEST(test_mergeable_header_as_the_device_wrote_it_under_a_memory_model) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  o.mergeable = 1;
  o.packed = _i % 2;
  o.memory = _i < 2 ? EMU_MM_TSO : EMU_MM_WEAK;
  teach_walk w;
  ck_assert_int_eq(teach_walk_run(&o, &w), 0);
  size_t n;
  const teach_step *st = teach_rec_steps(w.rec, &n);
  unsigned three = 0;
  for (size_t i = 0; i < n; i++) {
    if (st[i].kind == TEACH_K_FAST || st[i].hdr_shown != TEACH_HDR_WRITTEN) continue;
    ck_assert_uint_eq(st[i].hdr.num_buffers, marked_used(&st[i].ring[VNET_RXQ]));
    ck_assert_ptr_null(strstr(st[i].text, "But the frame went into"));
    three += st[i].hdr.num_buffers == 3;
  }
  ck_assert_uint_ge(three, 1);
  teach_walk_free(&w);
}
END_TEST

/* Each mergeable bug, on split (_i < 3) and packed rings: its run is the
 * fixed one's up to the step its note names, which is marked, names the
 * bug and is the first that differs. */
START_TEST(test_mergeable_bug_goes_wrong_where_the_fixed_run_parts) {
  static const struct {
    const char *bug;
    teach_kind split_kind, packed_kind;
  } moments[] = {{"dev-mrg-num-buffers-one", TEACH_K_DEV_PUSH, TEACH_K_DEV_PUBLISH},
                 {"drv-mrg-first-only", TEACH_K_CONSUME, TEACH_K_CONSUME},
                 {"drv-mrg-repost-first", TEACH_K_CONSUME, TEACH_K_CONSUME}};
  int packed = _i >= 3;
  const char *name = moments[_i % 3].bug;
  const vbug_info *b = vbug_find(name, strlen(name));
  ck_assert_ptr_nonnull(b);
  teach_walk fixed, w;
  walk_mergeable(NULL, packed, &fixed, NULL);
  walk_mergeable(b, packed, &w, NULL);
  size_t nf, n, moment;
  const teach_step *sf = teach_rec_steps(fixed.rec, &nf), *st = teach_rec_steps(w.rec, &n);
  for (moment = 0; moment < n && st[moment].wrong != 1; moment++) continue;
  ck_assert_msg(moment < n, "%s: no step is marked where it goes wrong", name);
  char tag[64];
  snprintf(tag, sizeof tag, "bug %s", name);
  ck_assert_ptr_nonnull(strstr(st[moment].text, tag));
  ck_assert_int_eq(st[moment].kind,
                   packed ? moments[_i % 3].packed_kind : moments[_i % 3].split_kind);
  ck_assert_int_eq(teach_step_queue(&st[moment]), VNET_RXQ);
  size_t differ = 0;
  while (differ < n && differ < nf && !strcmp(st[differ].title, sf[differ].title) &&
         !strcmp(st[differ].text, sf[differ].text))
    differ++;
  /* drv-mrg-first-only re-posts a buffer after handing its frame on, not
   * before: its run parts from the fixed one's earlier, at the ARP request,
   * in order only */
  if (strcmp(name, "drv-mrg-first-only"))
    ck_assert_msg(differ == moment, "%s: first differs at step %zu, marked at %zu", name,
                  differ + 1, moment + 1);
  else
    ck_assert_uint_le(differ, moment);
  /* the fixed run's step at that moment: the same action on the same
   * buffer, told differently */
  size_t same = 0;
  while (same < nf && !(sf[same].t_ns == st[moment].t_ns && sf[same].kind == st[moment].kind &&
                        sf[same].head == st[moment].head))
    same++;
  ck_assert_msg(same < nf, "%s: the fixed run has no step like step %zu", name, moment + 1);
  ck_assert_int_eq(sf[same].wrong, 0);
  ck_assert(strcmp(sf[same].text, st[moment].text) != 0);
  teach_walk_free(&fixed);
  teach_walk_free(&w);
}
END_TEST

/* --- without EVENT_IDX ---------------------------------------------------- */

/* 'teach --no-event-idx': every step follows ring memory; used_event and
 * avail_event are never written; both flags are set and cleared; a
 * notification goes out only when the other side's flag is 0, and one is
 * held back only when it is 1 (the TX interrupts, NO_INTERRUPT). */
START_TEST(test_without_event_idx_the_flags_suppress_notifications) {
  teach_walk_opts o;
  teach_walk_opts_default(&o);
  o.no_event_idx = 1;
  teach_walk w;
  ck_assert_int_eq(teach_walk_run(&o, &w), 0);
  ck_assert(!(w.s->drv.features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)));
  check_split_steps(&w, "no-event-idx");
  size_t n;
  const teach_step *st = teach_rec_steps(w.rec, &n);
  unsigned set[2] = {0, 0}, cleared[2] = {0, 0}, irq_held = 0;
  for (size_t i = 0; i < n; i++) {
    for (int q = 0; q < 2; q++) {
      const teach_ring *g = &st[i].ring[q];
      if (!g->size) continue;
      ck_assert(!(g->hdr_wrote & (TEACH_H_USED_EVENT | TEACH_H_AVAIL_EVENT)));
      ck_assert_uint_eq(g->used_event | g->avail_event, 0);
      if (g->hdr_wrote & TEACH_H_AVAIL_FLAGS) (g->avail_flags ? set : cleared)[0]++;
      if (g->hdr_wrote & TEACH_H_USED_FLAGS) (g->used_flags ? set : cleared)[1]++;
    }
    if (st[i].kind == TEACH_K_FAST || st[i].queue < 0) continue;
    const teach_ring *g = &st[i].ring[st[i].queue];
    if (st[i].evmask & (1u << EMU_TR_INTERRUPT)) ck_assert_uint_eq(g->avail_flags, 0);
    if (st[i].evmask & (1u << EMU_TR_KICK)) ck_assert_uint_eq(g->used_flags, 0);
    if (st[i].evmask & (1u << EMU_TR_KICK_SUPPRESSED)) ck_assert_uint_eq(g->used_flags, 1);
    if (st[i].evmask & (1u << EMU_TR_INTERRUPT_SUPPRESSED)) {
      ck_assert_uint_eq(g->avail_flags, 1);
      ck_assert_ptr_nonnull(strstr(st[i].text, "VIRTQ_AVAIL_F_NO_INTERRUPT"));
      irq_held++;
    }
  }
  for (int k = 0; k < 2; k++) {
    ck_assert_uint_gt(set[k], 0);
    ck_assert_uint_gt(cleared[k], 0);
  }
  ck_assert_uint_gt(irq_held, 0);
  teach_walk_free(&w);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("teach_steps");
  TCase *tc = tcase_create("steps");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_every_step_owner_and_marks_follow_ring_memory, 0, runs());
  tcase_add_loop_test(tc, test_each_bug_shows_where_its_note_says_or_says_it_cannot, 0, runs() - 1);
  tcase_add_loop_test(tc, test_packed_every_step_follows_ring_memory, 0, runs());
  tcase_add_loop_test(tc, test_packed_bug_shows_where_it_happens_or_says_it_cannot, 0, runs() - 1);
  tcase_add_loop_test(tc, test_mergeable_frames_span_buffers_and_change_hands_at_stores, 0, 2);
  tcase_add_loop_test(tc, test_mergeable_bug_goes_wrong_where_the_fixed_run_parts, 0, 6);
  tcase_add_test(tc, test_without_event_idx_the_flags_suppress_notifications);
  tcase_add_loop_test(tc, test_mergeable_header_as_the_device_wrote_it_under_a_memory_model, 0, 4);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
