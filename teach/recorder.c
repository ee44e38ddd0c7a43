/* The teaching recorder: trace events merged into protocol steps, each with
 * the rings read back from guest memory and an explanation (explain.c) tied
 * to the virtio 1.2 section that rules it. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "teach/internal.h"
#include "teach/teach.h"
#include "virtio/vbug.h"

/* --- a growable string -------------------------------------------------- */

static void teach_str_vadd(teach_str *s, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int w = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (w < 0) return;
  char *p = emu_grow(s->p, &s->cap, s->n + (size_t)w + 1, 1, 256);
  if (!p) return; /* the explanation is shorter; the recording goes on */
  s->p = p;
  vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
  s->n += (size_t)w;
}

void teach_str_add(teach_str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  teach_str_vadd(s, fmt, ap);
  va_end(ap);
}

/* Appends to a step's malloc'd text. */
static void teach_text_append(char **text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void teach_text_append(char **text, const char *fmt, ...) {
  teach_str s = {*text, *text ? strlen(*text) : 0, *text ? strlen(*text) + 1 : 0};
  va_list ap;
  va_start(ap, fmt);
  teach_str_vadd(&s, fmt, ap);
  va_end(ap);
  *text = s.p;
}

/* --- the recorder ------------------------------------------------------- */

static const char *const teach_owner_names[TEACH_OWN_COUNT] = {"free", "avail",  "device", "used",
                                                               "lost", "posted", "pushed"};

const char *teach_owner_name(teach_owner o) {
  return (unsigned)o < TEACH_OWN_COUNT ? teach_owner_names[o] : "?";
}

int teach_step_queue(const teach_step *st) { return st->queue < 0 ? (int)VNET_RXQ : st->queue; }

int teach_run_packed(const scn *s) { return s->drv.packed; }

uint16_t teach_queue_size(const scn *s, int q) { return teach_qsize(s, q); }

static void teach_sampled_init(teach_sampled *a, size_t max, size_t size) {
  memset(a, 0, sizeof *a);
  a->max = max < 2 ? 2 : max;
  a->size = size;
  a->stride = 1;
}

/* Folds `dropped` into the carry, to be folded into the next kept item. */
static void teach_sampled_carry(teach_sampled *a, const void *dropped) {
  if (!a->fold) return;
  if (!a->carrying) {
    memcpy(a->carry, dropped, a->size);
    a->carrying = 1;
  } else {
    a->fold(a->carry, dropped);
  }
}

/* Keeps every other item; a dropped one is folded into the one after it. */
static void teach_sampled_halve(teach_sampled *a) {
  char *p = a->items;
  size_t m = 0;
  for (size_t i = 0; i < a->n; i += 2) {
    if (i > 0 && a->fold) a->fold(p + i * a->size, p + (i - 1) * a->size);
    memmove(p + m++ * a->size, p + i * a->size, a->size);
  }
  if (a->n % 2 == 0) teach_sampled_carry(a, p + (a->n - 1) * a->size);
  a->n = m;
  a->stride *= 2;
}

/* Offers one item; keeps it when its number is a multiple of the stride. */
static void teach_sampled_push(teach_sampled *a, const void *item) {
  uint64_t k = a->total++;
  if (k % a->stride) {
    teach_sampled_carry(a, item);
    return;
  }
  if (!a->items) {
    a->items = malloc(a->max * a->size);
    if (!a->items) return;
  }
  if (a->n == a->max) {
    teach_sampled_halve(a);
    if (k % a->stride) {
      teach_sampled_carry(a, item);
      return;
    }
  }
  char *dst = (char *)a->items + a->n++ * a->size;
  memcpy(dst, item, a->size);
  if (a->carrying) a->fold(dst, a->carry);
  a->carrying = 0;
}

/* A timeline point not kept: its idle time goes to the next kept one. */
static void teach_point_fold(void *into, const void *dropped) {
  teach_point *p = into;
  const teach_point *d = dropped;
  if (d->idle_ns > p->idle_ns) p->idle_ns = d->idle_ns;
}

/* teach_opts' defaults (see teach.h). */
#define TEACH_DEFAULT_MAX_STEPS  1000u
#define TEACH_DEFAULT_MAX_POINTS 4000u
#define TEACH_DEFAULT_MAX_MARKS  4000u

teach_rec *teach_rec_new(const teach_opts *opts) {
  teach_rec *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (opts) r->opts = *opts;
  if (!r->opts.max_steps) r->opts.max_steps = TEACH_DEFAULT_MAX_STEPS;
  if (!r->opts.max_points) r->opts.max_points = TEACH_DEFAULT_MAX_POINTS;
  if (!r->opts.max_marks) r->opts.max_marks = TEACH_DEFAULT_MAX_MARKS;
  if (r->opts.max_steps < 2) r->opts.max_steps = 2;
  r->steps = calloc(r->opts.max_steps, sizeof *r->steps);
  if (!r->steps) {
    free(r);
    return NULL;
  }
  r->step_stride = 1;
  for (int q = 0; q < 2; q++) { /* where both halves' counters start (§2.8.1) */
    r->pk_decided[q][0] = r->pk_decided[q][1] = (teach_wpos){0, 1};
    for (int k = 0; k < 4; k++) r->pk_now[q][k] = (teach_wpos){0, 1};
  }
  teach_sampled_init(&r->points, r->opts.max_points, sizeof(teach_point));
  r->points.fold = teach_point_fold;
  for (int i = 0; i < TEACH_MARK_COUNT; i++)
    teach_sampled_init(&r->marks[i], r->opts.max_marks, sizeof(teach_mark));
  return r;
}

static void teach_ring_free(teach_ring *g) {
  free(g->desc); /* one block: desc, avail, used, owner, wrote */
  memset(g, 0, sizeof *g);
}

static void teach_step_free(teach_step *st) {
  free(st->text);
  teach_ring_free(&st->ring[0]);
  teach_ring_free(&st->ring[1]);
}

void teach_rec_free(teach_rec *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nsteps; i++) teach_step_free(&r->steps[i]);
  if (r->open) teach_step_free(&r->cur);
  free(r->steps);
  free(r->points.items);
  for (int i = 0; i < TEACH_MARK_COUNT; i++) free(r->marks[i].items);
  for (int q = 0; q < 2; q++) {
    free(r->held[q]);
    free(r->held_pos[q]);
    free(r->wrote[q]);
  }
  free(r->pk_owner);
  free(r->pending_repost);
  teach_mrg_free(r);
  free(r);
}

const teach_step *teach_rec_steps(const teach_rec *r, size_t *n) {
  *n = r->nsteps;
  return r->steps;
}
size_t teach_rec_total_steps(const teach_rec *r) { return r->nsteps_all; }
size_t teach_rec_step_stride(const teach_rec *r) { return r->step_stride; }

const teach_point *teach_rec_points(const teach_rec *r, size_t *n, size_t *stride) {
  *n = r->points.n;
  if (stride) *stride = r->points.stride;
  return r->points.items;
}

const teach_mark *teach_rec_marks(const teach_rec *r, int what, size_t *n, uint64_t *total) {
  if (what < 0 || what >= TEACH_MARK_COUNT) {
    *n = 0;
    if (total) *total = 0;
    return NULL;
  }
  *n = r->marks[what].n;
  if (total) *total = r->marks[what].total;
  return r->marks[what].items;
}

void teach_rec_set_coarse(teach_rec *r, int on) { r->coarse = on; }

uint64_t teach_rec_idle_gaps(const teach_rec *r, uint64_t *longest_ns) {
  if (longest_ns) *longest_ns = r->idle_longest;
  return r->idle_gaps;
}

int teach_rec_rings_capped(const teach_rec *r) { return r->rings_capped; }

/* --- reading the rings back from guest memory --------------------------- */

static int teach_dev_live(const scn *s, int q) { return s->dev.q[q].enabled; }

/* The cursors of queue q as they are once the current event's own update
 * has landed (some events fire just before their code stores the cursor). */
static void teach_cursors(const teach_rec *r, int q, teach_ring *g) {
  const scn *s = r->s;
  const vq_drv *d = teach_drv_q(s, q);
  g->drv_avail_shadow = d->avail_idx_shadow;
  g->drv_avail_published = d->avail_idx_published;
  g->drv_last_used = d->last_used_idx;
  g->drv_num_free = d->num_free;
  g->dev_last_avail = teach_dev_live(s, q) ? s->dev.q[q].vq.last_avail_idx : 0;
  g->dev_used_shadow = teach_dev_live(s, q) ? s->dev.q[q].vq.used_idx_shadow : 0;
  if (r->unstored.q != q) return;
  switch (r->unstored.which) {
    case TEACH_CUR_DRV_AVAIL_SHADOW:
      g->drv_avail_shadow = r->unstored.value;
      break;
    case TEACH_CUR_DEV_USED_SHADOW:
      g->dev_used_shadow = r->unstored.value;
      break;
    case TEACH_CUR_DRV_LAST_USED:
      g->drv_last_used = r->unstored.value;
      break;
    case TEACH_CUR_NONE:
      break;
  }
}

static uint16_t teach_window(uint16_t from, uint16_t to, uint16_t size) {
  uint16_t n = (uint16_t)(to - from);
  return n > size ? size : n;
}

/* Heads per owner from the cursors alone: what the timeline needs, cheap
 * enough for every event of a long capture. */
static void teach_count(const teach_rec *r, int q, uint16_t count[TEACH_OWN_COUNT]) {
  memset(count, 0, sizeof count[0] * TEACH_OWN_COUNT);
  uint16_t size = teach_qsize(r->s, q);
  if (!size) return;
  if (teach_run_packed(r->s)) {
    teach_pk_count((teach_rec *)r, q, count);
    return;
  }
  teach_ring g;
  teach_cursors(r, q, &g);
  /* The indices each side has stored in memory: the drivers' and the
   * device's own record of their last store, set before their events. */
  uint16_t avail_pub = teach_drv_q(r->s, q)->avail_idx_published;
  uint16_t used_pub = teach_dev_live(r->s, q) ? r->s->dev.q[q].vq.used_idx_published : 0;
  count[TEACH_OWN_AVAIL] = teach_window(g.dev_last_avail, avail_pub, size);
  count[TEACH_OWN_POSTED] = teach_window(avail_pub, g.drv_avail_shadow, size);
  count[TEACH_OWN_DEVICE] = r->held_size[q] == size ? r->held_count[q] : 0;
  count[TEACH_OWN_USED] = teach_window(g.drv_last_used, used_pub, size);
  count[TEACH_OWN_PUSHED] = teach_window(used_pub, g.dev_used_shadow, size);
  count[TEACH_OWN_FREE] = g.drv_num_free;
  int rest = (int)size - count[TEACH_OWN_FREE];
  for (int o = TEACH_OWN_AVAIL; o < TEACH_OWN_COUNT; o++)
    if (o != TEACH_OWN_LOST) rest -= count[o];
  count[TEACH_OWN_LOST] = rest > 0 ? (uint16_t)rest : 0;
}

static int teach_ring_alloc(teach_ring *g, uint16_t size) {
  if (g->size == size && g->desc) return 0;
  teach_ring_free(g);
  size_t bytes = (size_t)size * (sizeof *g->desc + sizeof *g->used + sizeof *g->avail +
                                 sizeof *g->owner + sizeof *g->wrote);
  char *p = calloc(1, bytes);
  if (!p) return EMU_ENOMEM;
  g->size = size;
  g->desc = (teach_desc *)p;
  g->used = (teach_used_elem *)(p + (size_t)size * sizeof(teach_desc));
  g->avail = (uint16_t *)((char *)g->used + (size_t)size * sizeof(teach_used_elem));
  g->owner = (uint8_t *)(g->avail + size);
  g->wrote = g->owner + size;
  return 0;
}

/* Reads the three ring areas of layout l. The driver placed them in guest
 * memory and the device checked them when it enabled the queue
 * (VQ_RULE_RING_ADDR_RANGE), so these reads do not fail; if one did, the
 * picture would keep an old value, which misleads no check: the ring
 * halves validate what they read themselves. */
static void teach_read_rings(const gmem *m, const vq_layout *l, teach_ring *g) {
  for (uint32_t i = 0; i < l->size; i++) {
    /* §2.7.5: le64 addr, le32 len, le16 flags, le16 next */
    uint64_t a = vq_desc_addr(l, i);
    teach_desc *e = &g->desc[i];
    (void)gmem_peek_le64(m, a, &e->addr);
    (void)gmem_peek_le32(m, a + 8, &e->len);
    (void)gmem_peek_le16(m, a + 12, &e->flags);
    (void)gmem_peek_le16(m, a + 14, &e->next);
    (void)gmem_peek_le16(m, vq_avail_slot_addr(l, (uint16_t)i), &g->avail[i]);
    /* §2.7.8: le32 id, le32 len */
    uint64_t u = vq_used_slot_addr(l, (uint16_t)i);
    (void)gmem_peek_le32(m, u, &g->used[i].id);
    (void)gmem_peek_le32(m, u + 4, &g->used[i].len);
  }
  (void)gmem_peek_le16(m, vq_avail_flags_addr(l), &g->avail_flags);
  (void)gmem_peek_le16(m, vq_avail_idx_addr(l), &g->avail_idx);
  (void)gmem_peek_le16(m, vq_used_event_addr(l), &g->used_event);
  (void)gmem_peek_le16(m, vq_used_flags_addr(l), &g->used_flags);
  (void)gmem_peek_le16(m, vq_used_idx_addr(l), &g->used_idx);
  (void)gmem_peek_le16(m, vq_avail_event_addr(l), &g->avail_event);
}

/* Heads in the ring slots from index `from` (n of them) get owner `o`,
 * unless something else already claimed them. */
static void teach_claim(uint8_t *head_owner, uint16_t size, const uint16_t *heads16,
                        const teach_used_elem *heads32, uint16_t from, uint16_t n, teach_owner o) {
  for (uint16_t k = 0; k < n; k++) {
    uint16_t slot = (uint16_t)(from + k) & (size - 1);
    uint32_t h = heads16 ? heads16[slot] : heads32[slot].id;
    if (h < size && head_owner[h] == TEACH_OWN_LOST) head_owner[h] = (uint8_t)o;
  }
}

/* Works out who owns each descriptor of queue q from the indices stored in
 * ring memory: heads the driver wrote into avail slots are the device's
 * only once avail.idx covers them (before, posted: still the driver's);
 * heads the device popped and has not pushed are in flight; a used element
 * is the driver's once used.idx covers it (before, pushed: still the
 * device's). Anything the driver still counts as offered but that is in
 * none of these was passed over. A chain's descriptors share its head's
 * owner. */
static void teach_owners(const teach_rec *r, int q, const vq_drv *d, teach_ring *g) {
  uint16_t size = g->size;
  uint8_t *head_owner = g->owner; /* first per head, then spread over chains */
  memset(head_owner, TEACH_OWN_FREE, size);
  for (uint32_t i = 0; i < size; i++)
    if (d->heads && d->heads[i].in_flight) head_owner[i] = TEACH_OWN_LOST;
  if (r->held_size[q] == size)
    for (uint32_t i = 0; i < size; i++)
      if (r->held[q][i] && head_owner[i] == TEACH_OWN_LOST) head_owner[i] = TEACH_OWN_DEVICE;
  teach_claim(head_owner, size, g->avail, NULL, g->dev_last_avail,
              teach_window(g->dev_last_avail, g->avail_idx, size), TEACH_OWN_AVAIL);
  teach_claim(head_owner, size, g->avail, NULL, g->avail_idx,
              teach_window(g->avail_idx, g->drv_avail_shadow, size), TEACH_OWN_POSTED);
  teach_claim(head_owner, size, NULL, g->used, g->drv_last_used,
              teach_window(g->drv_last_used, g->used_idx, size), TEACH_OWN_USED);
  teach_claim(head_owner, size, NULL, g->used, g->used_idx,
              teach_window(g->used_idx, g->dev_used_shadow, size), TEACH_OWN_PUSHED);
  /* Chains: the descriptors after a head (NEXT) are the head's too. Heads
   * come first in the loop order only by chance, so walk from each head. */
  for (uint32_t h = 0; h < size; h++) {
    if (!d->heads || !d->heads[h].in_flight) continue;
    uint16_t i = (uint16_t)h;
    for (uint32_t steps = 0; steps < d->heads[h].ndesc && steps < size; steps++) {
      if (i != h) head_owner[i] = head_owner[h];
      if (!(g->desc[i].flags & VQ_DESC_F_NEXT) || g->desc[i].next >= size) break;
      i = g->desc[i].next;
    }
  }
  memset(g->count, 0, sizeof g->count);
  for (uint32_t i = 0; i < size; i++) g->count[g->owner[i] < TEACH_OWN_COUNT ? g->owner[i] : 0]++;
}

/* Queue q's rings and cursors as they are after the current event. */
static void teach_snapshot(teach_rec *r, int q, teach_ring *g) {
  const vq_drv *d = teach_drv_q(r->s, q);
  uint16_t size = teach_qsize(r->s, q);
  if (!size) {
    teach_ring_free(g);
    return;
  }
  if (r->opts.max_ring_size && size > r->opts.max_ring_size) {
    r->rings_capped = 1; /* counts and timeline only: see teach_opts */
    teach_ring_free(g);
    return;
  }
  if (teach_ring_alloc(g, size)) return;
  if (teach_run_packed(r->s)) {
    teach_pk_snapshot(r, q, g);
    return;
  }
  teach_read_rings(&r->s->mem, &d->layout, g);
  teach_cursors(r, q, g);
  teach_owners(r, q, d, g);
  if (r->wrote_size[q] == g->size)
    memcpy(g->wrote, r->wrote[q], g->size);
  else
    memset(g->wrote, 0, g->size);
  g->hdr_wrote = r->hdr_wrote[q];
}

/* --- steps -------------------------------------------------------------- */

static teach_kind teach_classify(const emu_trace_rec *rec, int *starts_new) {
  *starts_new = 0;
  switch (rec->kind) {
    case EMU_TR_STATUS:
      *starts_new = 1;
      return rec->detail ? TEACH_K_VIOLATION : TEACH_K_STATUS;
    case EMU_TR_DESC_WRITTEN:
    case EMU_TR_AVAIL_ADDED:
    case EMU_TR_BUFFER_REPOSTED:
      return TEACH_K_POST;
    case EMU_TR_AVAIL_PUBLISHED:
      *starts_new = 1;
      return TEACH_K_PUBLISH;
    case EMU_TR_KICK:
    case EMU_TR_KICK_SUPPRESSED:
      return TEACH_K_PUBLISH;
    case EMU_TR_KICK_RECEIVED:
    case EMU_TR_FRAME_IN:
      *starts_new = 1;
      return TEACH_K_DEV_TAKE;
    case EMU_TR_POP:
    case EMU_TR_FRAME_OUT:
      return TEACH_K_DEV_TAKE;
    case EMU_TR_USED_PUSHED:
      return TEACH_K_DEV_PUSH;
    case EMU_TR_USED_PUBLISHED:
      *starts_new = 1;
      return TEACH_K_DEV_PUBLISH;
    case EMU_TR_INTERRUPT:
    case EMU_TR_INTERRUPT_SUPPRESSED:
      return TEACH_K_DEV_PUBLISH;
    case EMU_TR_INTERRUPT_RECEIVED:
      *starts_new = 1;
      return TEACH_K_IRQ;
    case EMU_TR_USED_CONSUMED:
    case EMU_TR_TX_RECLAIMED:
      return TEACH_K_CONSUME;
    case EMU_TR_FRAME_FATE:
      *starts_new = 1;
      return TEACH_K_DROP;
    case EMU_TR_VIOLATION:
      *starts_new = 1;
      return TEACH_K_VIOLATION;
    default:
      return TEACH_K_COUNT;
  }
}

/* On a packed ring storing a descriptor's flags hands it over (§2.8.21.1),
 * so there is no separate publish: the buffers the driver makes available
 * are one step with the kick decision after them, the descriptors the
 * device marks used one with the interrupt decision. A new one starts once
 * the step's decision was made. */
static teach_kind teach_classify_packed(const teach_rec *r, const emu_trace_rec *rec,
                                        int *starts_new) {
  teach_kind kind = teach_classify(rec, starts_new);
  uint32_t decided;
  switch (rec->kind) {
    case EMU_TR_AVAIL_PUBLISHED:
      decided = (1u << EMU_TR_KICK) | (1u << EMU_TR_KICK_SUPPRESSED);
      *starts_new = r->open && (r->cur.evmask & decided);
      return TEACH_K_PUBLISH;
    case EMU_TR_BUFFER_REPOSTED:
      *starts_new = 0;
      return TEACH_K_PUBLISH;
    case EMU_TR_USED_PUBLISHED:
      decided = (1u << EMU_TR_INTERRUPT) | (1u << EMU_TR_INTERRUPT_SUPPRESSED);
      *starts_new = r->open && (r->cur.evmask & decided);
      return TEACH_K_DEV_PUBLISH;
    default:
      return kind;
  }
}

static int teach_queue_of(const emu_trace_rec *rec) {
  /* Frames in and their fates are about host->guest traffic: the RX queue. */
  if (!rec->queue)
    return rec->kind == EMU_TR_FRAME_IN || rec->kind == EMU_TR_FRAME_FATE ? (int)VNET_RXQ : -1;
  return !strcmp(rec->queue, "tx") ? (int)VNET_TXQ : (int)VNET_RXQ;
}

static teach_step *teach_find_kept(teach_rec *r, uint32_t index) {
  if (r->open && r->cur.index == index) return r->cur_keep ? &r->cur : NULL;
  size_t lo = 0, hi = r->nsteps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r->steps[mid].index < index)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->nsteps && r->steps[lo].index == index ? &r->steps[lo] : NULL;
}

/* Frees a step that is not kept and clears the slot for the next one. */
static void teach_step_drop(teach_step *st) {
  teach_step_free(st);
  memset(st, 0, sizeof *st);
}

/* Keeps the closed step st, first halving the kept steps when they fill
 * the array (every other one goes and the stride doubles: bounded memory
 * for any run); st itself may then fall between two kept ones. */
static void teach_keep_step(teach_rec *r, teach_step *st) {
  if (r->nsteps == r->opts.max_steps) {
    size_t m = 0;
    for (size_t i = 0; i < r->nsteps; i++) {
      if ((r->steps[i].index / r->step_stride) % 2 == 0)
        r->steps[m++] = r->steps[i];
      else
        teach_step_free(&r->steps[i]);
    }
    r->nsteps = m;
    r->step_stride *= 2;
    if (st->index % r->step_stride) {
      teach_step_drop(st);
      return;
    }
  }
  r->steps[r->nsteps++] = *st;
  memset(st, 0, sizeof *st);
}

/* " (bug NAME)" naming the run's bugs, or "" for the fixed driver. */
const char *teach_bug_tag(const teach_rec *r, char *buf, size_t cap) {
  char names[256];
  if (!r->s->drv.opts.bugs && !r->s->dev.cfg.bugs) return "";
  vbug_names(r->s->drv.opts.bugs, r->s->dev.cfg.bugs, names, sizeof names);
  snprintf(buf, cap, " (bug %s)", names);
  return buf;
}

static void teach_close_step(teach_rec *r) {
  if (!r->open) return;
  r->open = 0;
  teach_step *st = &r->cur;
  /* Heads the driver passed over appear: the moment a cursor bug bites. */
  uint16_t lost =
      r->cur_point.count[VNET_RXQ][TEACH_OWN_LOST] + r->cur_point.count[VNET_TXQ][TEACH_OWN_LOST];
  int newly_lost = lost > r->lost_before;
  r->lost_before = lost;
  if (r->cur_keep) {
    teach_explain(r, st);
    char mem[640];
    if (teach_mem_explain(r, mem, sizeof mem)) teach_text_append(&st->text, "%s", mem);
    if (newly_lost && teach_run_packed(r->s)) {
      char tag[300];
      st->wrong = 1;
      teach_text_append(&st->text,
                        " Lost: the driver counts these descriptors as made available, yet "
                        "their flags do not say so under the device's wrap counter, so the "
                        "device will never take them and nothing will give them back "
                        "(§2.8.1)%s.",
                        teach_bug_tag(r, tag, sizeof tag));
    } else if (newly_lost) {
      char tag[300];
      st->wrong = 1;
      teach_text_append(&st->text,
                        " Lost: the driver's cursor moved past used element(s) it never "
                        "read, so their buffers are neither free nor offered, and nothing "
                        "will give them back. The loop of §2.7.14 reads every used element "
                        "in order%s.",
                        teach_bug_tag(r, tag, sizeof tag));
    }
  }
  r->cur_point.idle_ns = r->idle_since_point;
  r->idle_since_point = 0;
  teach_sampled_push(&r->points, &r->cur_point);
  if (r->cur_keep)
    teach_keep_step(r, st);
  else
    teach_step_drop(st);
}

static void teach_open_step(teach_rec *r, teach_kind kind, int q, uint64_t t_ns) {
  teach_close_step(r);
  memset(&r->cur, 0, sizeof r->cur);
  memset(&r->f, 0, sizeof r->f);
  r->cur.index = r->nsteps_all++;
  r->cur.t_ns = t_ns;
  r->cur.kind = kind;
  r->cur.queue = q;
  r->cur.head = -1;
  r->cur.frame_head = -1;
  r->f.frame_first = r->f.frame_last = r->f.fate_frame = -1;
  r->cur_keep = r->cur.index % r->step_stride == 0;
  r->open = 1;
  memcpy(r->f.pk_before, r->pk_now, sizeof r->f.pk_before);
  for (int k = 0; k < 2; k++) {
    if (r->wrote[k]) memset(r->wrote[k], 0, r->wrote_size[k]);
    r->hdr_wrote[k] = 0;
  }
}

static void teach_span_add(teach_span *sp, int64_t idx, int64_t head, int64_t len) {
  if (!sp->n++) {
    sp->idx_first = idx;
    sp->head_first = head;
  }
  sp->idx_last = idx;
  sp->head_last = head;
  if (len >= 0) sp->len_last = (uint32_t)len;
}

static void teach_mark_add(teach_rec *r, int what, const emu_trace_rec *rec, int q, emu_fate f) {
  teach_mark m = {rec->t_ns - r->s->cfg.start_ns, r->cur.index, (uint8_t)what,
                  (uint8_t)(q < 0 ? 0 : q),       (uint16_t)f,  rec->frame};
  teach_sampled_push(&r->marks[what], &m);
}

static int teach_fate_of(const char *name, emu_fate *out) {
  if (!name) return 0;
  for (int i = 0; i < EMU_FATE_COUNT; i++)
    if (!strcmp(emu_fate_name((emu_fate)i), name)) {
      *out = (emu_fate)i;
      return 1;
    }
  return 0;
}

/* Slot idx (a free-running ring index or a descriptor index) of queue q
 * was written in the open step. */
static void teach_wrote(teach_rec *r, int q, int64_t idx, uint8_t what) {
  uint16_t size = teach_qsize(r->s, q);
  if (!size || idx < 0) return;
  if (r->wrote_size[q] != size) {
    free(r->wrote[q]);
    r->wrote[q] = calloc(size, 1);
    r->wrote_size[q] = r->wrote[q] ? size : 0;
    if (!r->wrote[q]) return;
  }
  r->wrote[q][(uint16_t)idx % size] |= what; /* a power of two divides 65536: the slot */
}

/* The header fields stored without a trace record of their own (the
 * suppression fields and flags): marked written when their value moved
 * since the last event, the only sign of the store there is. */
static void teach_watch_quiet(teach_rec *r, int q) {
  const vq_drv *d = teach_drv_q(r->s, q);
  const vq_layout *l = &d->layout;
  if (!l->size) return;
  static const uint8_t bit[4] = {TEACH_H_AVAIL_FLAGS, TEACH_H_USED_EVENT, TEACH_H_USED_FLAGS,
                                 TEACH_H_AVAIL_EVENT};
  uint64_t addr[4] = {vq_avail_flags_addr(l), vq_used_event_addr(l), vq_used_flags_addr(l),
                      vq_avail_event_addr(l)};
  for (int k = 0; k < 4; k++) {
    uint16_t v = 0;
    (void)gmem_peek_le16(&r->s->mem, addr[k], &v); /* in range: see teach_read_rings */
    if (r->quiet_size[q] == l->size && v != r->quiet_seen[q][k]) r->hdr_wrote[q] |= bit[k];
    r->quiet_seen[q][k] = v;
  }
  r->quiet_size[q] = l->size;
}

static void teach_ensure_held(teach_rec *r, int q) {
  uint16_t size = teach_qsize(r->s, q);
  if (!size || r->held_size[q] == size) return;
  free(r->held[q]);
  free(r->held_pos[q]);
  r->held[q] = calloc(size, 1);
  r->held_pos[q] = calloc(size, sizeof *r->held_pos[q]);
  r->held_size[q] = r->held[q] && r->held_pos[q] ? size : 0;
  r->held_count[q] = 0;
}

/* How many steps back a stack fate looks for the step that consumed its
 * frame: the answer's TX steps come in between, a handful at most. */
#define TEACH_FATE_LOOKBACK 24u

/* A driver fate after its consume step (the stack answered, inside the
 * same call that reads the used ring, so the TX steps of the answer come
 * in between): told on the consume step, not as a step of its own. */
static void teach_note_fate(teach_rec *r, const emu_trace_rec *rec, emu_fate fate) {
  if (r->open && r->cur.kind == TEACH_K_FAST) {
    r->f.stack_fate = fate;
    return;
  }
  for (uint32_t back = 0; back < TEACH_FATE_LOOKBACK && back <= r->cur.index; back++) {
    teach_step *st = teach_find_kept(r, r->cur.index - back);
    if (!st) continue;
    int64_t head = st->frame_head == -1 ? st->head : st->frame_head;
    if ((st->kind == TEACH_K_CONSUME || st->kind == TEACH_K_FAST) && head == rec->head) {
      if (st == &r->cur) {
        r->f.stack_fate = fate; /* told when the step is explained */
        return;
      }
      const char *phrase = teach_fate_phrase(fate);
      if (phrase)
        teach_text_append(&st->text, " The guest stack %s (frame #%" PRId64 ").", phrase,
                          rec->frame + 1);
      else
        teach_text_append(&st->text, " The guest stack dropped frame #%" PRId64 ": %s.",
                          rec->frame + 1, emu_fate_name(fate));
      return;
    }
  }
}

static emu_fate teach_rec_fate(const emu_trace_rec *rec) {
  emu_fate fate = EMU_FATE_PENDING;
  teach_fate_of(rec->detail, &fate);
  return fate;
}

/* A frame's fate. A drop by the device (or on the link) is a step of its
 * own; what the guest stack did with a frame, a success or a drop, is told
 * with the step that consumed it. Returns 1 when told that way. */
static int teach_fate_told_with_consume(teach_rec *r, const emu_trace_rec *rec, int q) {
  emu_fate fate = teach_rec_fate(rec);
  int is_drop = !emu_fate_is_success(fate) && fate != EMU_FATE_PENDING;
  if (is_drop && strcmp(rec->actor, "driver")) return 0;
  if (is_drop) teach_mark_add(r, TEACH_MARK_DROP, rec, q, fate);
  teach_note_fate(r, rec, fate);
  return 1;
}

/* Opens a new step for this event unless it continues the current one. */
static void teach_step_for(teach_rec *r, const emu_trace_rec *rec, teach_kind kind, int starts_new,
                           int q, uint64_t t) {
  if (r->coarse && kind != TEACH_K_DROP && kind != TEACH_K_VIOLATION) {
    if (rec->kind == EMU_TR_FRAME_IN || !r->open || r->cur.kind != TEACH_K_FAST)
      teach_open_step(r, TEACH_K_FAST, -1, t);
  } else if (starts_new || !r->open || r->cur.kind != kind || r->cur.queue != q ||
             kind == TEACH_K_STATUS || kind == TEACH_K_DROP || kind == TEACH_K_VIOLATION) {
    /* A kick merges into the publish step before it; a lone kick (kick
     * before publish) opens its own. */
    teach_open_step(r, kind, q, t);
  }
}

static void teach_set_unstored(teach_rec *r, teach_cursor which, int q, int64_t idx) {
  r->unstored = (teach_unstored){which, q, (uint16_t)(idx + 1)};
}

/* The device took head (on) or gave it back (off). */
static void teach_hold(teach_rec *r, int q, int64_t head, int on) {
  if (!r->held_size[q] || head < 0 || head >= r->held_size[q] || r->held[q][head] == on) return;
  r->held[q][head] = (uint8_t)on;
  if (on)
    r->held_count[q]++;
  else
    r->held_count[q]--;
}

/* An index stored for the other side to see: "old -> new" for the step. */
static void teach_published(int *published, uint16_t *old, uint16_t *now, uint16_t *last,
                            int64_t idx) {
  *published = 1;
  *old = *last;
  *now = *last = (uint16_t)idx;
}

/* A side broke a ring rule (or the device set NEEDS_RESET for one). */
static void teach_on_violation(teach_rec *r, const emu_trace_rec *rec, int q) {
  r->f.detail = rec->detail;
  r->f.actor = rec->actor;
  if (rec->actor && !strcmp(rec->actor, "driver")) teach_mrg_on_violation(r, rec->detail);
  teach_mark_add(r, TEACH_MARK_VIOLATION, rec, q, EMU_FATE_PENDING);
}

static void teach_on_status(teach_rec *r, const emu_trace_rec *rec, int q) {
  r->f.status = (uint8_t)rec->idx;
  r->f.features = r->s->drv.features;
  if (rec->idx == 0) { /* a reset: the device holds nothing any more */
    for (int k = 0; k < 2; k++) {
      if (r->held[k]) memset(r->held[k], 0, r->held_size[k]);
      r->held_count[k] = 0;
    }
  }
  if (rec->detail) teach_on_violation(r, rec, q);
}

static void teach_on_avail_added(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_span_add(&r->f.post[q], rec->idx, rec->head, -1);
  teach_set_unstored(r, TEACH_CUR_DRV_AVAIL_SHADOW, q, rec->idx);
  if (q == (int)VNET_RXQ && r->pending_repost && rec->head >= 0 && rec->head < r->pending_size)
    r->pending_repost[rec->head] = -1;
}

static void teach_on_frame_in(teach_rec *r, const emu_trace_rec *rec) {
  teach_facts *f = &r->f;
  teach_mrg_on_frame_in(r);
  if (!f->frames_in++) f->frame_first = rec->frame;
  f->frame_last = rec->frame;
  if (f->frames_in == 1) f->frame_len = (uint32_t)rec->len;
}

static void teach_on_used_pushed(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_span_add(&r->f.push[q], rec->idx, rec->head, rec->len);
  if (q == (int)VNET_RXQ) teach_mrg_on_push(r, rec->head, rec->len);
  teach_hold(r, q, rec->head, 0);
  teach_set_unstored(r, TEACH_CUR_DEV_USED_SHADOW, q, rec->idx);
}

/* An RX head consumed: remember the step, until the head is offered again. */
static void teach_await_repost(teach_rec *r, int64_t head) {
  uint16_t size = teach_qsize(r->s, VNET_RXQ);
  if (r->pending_size != size) {
    free(r->pending_repost);
    r->pending_repost = malloc(sizeof *r->pending_repost * size);
    r->pending_size = r->pending_repost ? size : 0;
    for (uint16_t i = 0; i < r->pending_size; i++) r->pending_repost[i] = -1;
  }
  if (head < r->pending_size) r->pending_repost[head] = r->cur.index;
}

static void teach_on_used_consumed(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_span_add(&r->f.consume[q], rec->idx, rec->head, rec->len);
  r->last_consumed[q] = rec->idx;
  teach_set_unstored(r, TEACH_CUR_DRV_LAST_USED, q, rec->idx);
  if (q == (int)VNET_RXQ) teach_mrg_on_consume(r, rec->head, rec->len);
  if (q == (int)VNET_RXQ && rec->head >= 0) teach_await_repost(r, rec->head);
}

static void teach_on_device_fate(teach_rec *r, const emu_trace_rec *rec, int q) {
  r->f.fate = teach_rec_fate(rec);
  r->f.fate_frame = rec->frame;
  r->f.actor = rec->actor;
  teach_mark_add(r, TEACH_MARK_DROP, rec, q, r->f.fate);
}

/* A packed ring's record (see teach_classify_packed): the halves trace it
 * after their cursors moved, so no cursor is left unstored. */
static void teach_pk_note(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_facts *f = &r->f;
  const vqp_drv *d = teach_pdrv_q(r->s, q);
  uint16_t size = d->layout.size;
  int64_t id = rec->head;
  switch (rec->kind) {
    case EMU_TR_AVAIL_PUBLISHED:
      teach_span_add(&f->post[q], rec->idx, id, rec->len);
      for (int64_t k = 0; k < rec->len && k < size; k++)
        teach_wrote(r, q, (rec->idx + k) % size, TEACH_W_AVAIL);
      if (q == (int)VNET_RXQ && r->pending_repost && id >= 0 && id < r->pending_size)
        r->pending_repost[id] = -1;
      break;
    case EMU_TR_BUFFER_REPOSTED:
      f->reposts++;
      break;
    case EMU_TR_POP:
      teach_span_add(&f->pop[q], rec->idx, id, rec->len);
      teach_hold(r, q, id, 1);
      if (q == (int)VNET_RXQ) teach_mrg_on_pop(r, id);
      if (r->held_size[q] == size && id >= 0 && id < size) r->held_pos[q][id] = (uint16_t)rec->idx;
      break;
    case EMU_TR_USED_PUBLISHED:
      f->used_published[q] = 1;
      teach_span_add(&f->push[q], rec->idx, id, rec->len);
      teach_wrote(r, q, rec->idx, TEACH_W_USED);
      teach_hold(r, q, id, 0);
      if (q == (int)VNET_RXQ) teach_mrg_on_push(r, id, rec->len);
      break;
    case EMU_TR_USED_CONSUMED:
      teach_span_add(&f->consume[q], rec->idx, id, rec->len);
      r->last_consumed[q] = rec->idx;
      if (q == (int)VNET_RXQ) teach_mrg_on_consume(r, id, rec->len);
      if (q == (int)VNET_RXQ && id >= 0) teach_await_repost(r, id);
      break;
    default:
      break;
  }
}

/* A packed ring's notification decision compares the cursor now with the
 * one at the last decision: kept here, the halves keep no record of it
 * that outlives the decision. */
static void teach_pk_decision(teach_rec *r, const emu_trace_rec *rec, int q) {
  int avail = rec->kind == EMU_TR_KICK || rec->kind == EMU_TR_KICK_SUPPRESSED;
  int used = rec->kind == EMU_TR_INTERRUPT || rec->kind == EMU_TR_INTERRUPT_SUPPRESSED;
  if (!avail && !used) return;
  teach_wpos now[4];
  teach_pk_cursors(r->s, q, NULL, now);
  if (avail) {
    r->f.pk_kick_from[q] = r->pk_decided[q][0];
    r->pk_decided[q][0] = now[TEACH_PK_DRV_AVAIL];
  } else {
    r->f.pk_signalled[q] = r->pk_decided[q][1];
    r->pk_decided[q][1] = now[TEACH_PK_DEV_USED];
  }
}

/* On a packed ring: a record whose meaning differs from the split ring's
 * is noted here (1); the notification decisions are noted here too, then
 * counted as on a split ring (0). */
static int teach_pk_handled(teach_rec *r, const emu_trace_rec *rec, int q) {
  if (!teach_run_packed(r->s) || q < 0) return 0;
  switch (rec->kind) {
    case EMU_TR_AVAIL_PUBLISHED:
    case EMU_TR_USED_PUBLISHED:
    case EMU_TR_USED_CONSUMED:
    case EMU_TR_POP:
    case EMU_TR_BUFFER_REPOSTED:
      teach_pk_note(r, rec, q);
      return 1;
    default:
      teach_pk_decision(r, rec, q);
      return 0;
  }
}

/* Adds one event to the facts of the open step. */
static void teach_note_event(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_facts *f = &r->f;
  int qq = q < 0 ? 0 : q;
  if (teach_pk_handled(r, rec, q)) return;
  switch (rec->kind) {
    case EMU_TR_STATUS:
      teach_on_status(r, rec, q);
      break;
    case EMU_TR_DESC_WRITTEN:
      teach_wrote(r, qq, rec->idx, TEACH_W_DESC);
      break;
    case EMU_TR_AVAIL_ADDED:
      teach_wrote(r, qq, rec->idx, TEACH_W_AVAIL);
      teach_on_avail_added(r, rec, qq);
      break;
    case EMU_TR_BUFFER_REPOSTED:
      f->reposts++;
      break;
    case EMU_TR_AVAIL_PUBLISHED:
      r->hdr_wrote[qq] |= TEACH_H_AVAIL_IDX;
      teach_published(&f->avail_published[qq], &f->avail_old[qq], &f->avail_new[qq],
                      &r->avail_pub[qq], rec->idx);
      break;
    case EMU_TR_KICK:
      f->kicks[qq]++;
      teach_mark_add(r, TEACH_MARK_KICK, rec, qq, EMU_FATE_PENDING);
      break;
    case EMU_TR_KICK_SUPPRESSED:
      f->kicks_supp[qq]++;
      break;
    case EMU_TR_KICK_RECEIVED:
      f->kicks_received[qq]++;
      break;
    case EMU_TR_FRAME_IN:
      teach_on_frame_in(r, rec);
      break;
    case EMU_TR_POP:
      teach_span_add(&f->pop[qq], rec->idx, rec->head, rec->len);
      teach_hold(r, qq, rec->head, 1);
      if (qq == (int)VNET_RXQ) teach_mrg_on_pop(r, rec->head);
      break;
    case EMU_TR_FRAME_OUT:
      f->frames_out++;
      f->out_len = (uint32_t)rec->len;
      break;
    case EMU_TR_USED_PUSHED:
      teach_wrote(r, qq, rec->idx, TEACH_W_USED);
      teach_on_used_pushed(r, rec, qq);
      break;
    case EMU_TR_USED_PUBLISHED:
      r->hdr_wrote[qq] |= TEACH_H_USED_IDX;
      teach_published(&f->used_published[qq], &f->used_old[qq], &f->used_new[qq], &r->used_pub[qq],
                      rec->idx);
      break;
    case EMU_TR_INTERRUPT:
      f->irqs[qq]++;
      teach_mark_add(r, TEACH_MARK_IRQ, rec, qq, EMU_FATE_PENDING);
      break;
    case EMU_TR_INTERRUPT_SUPPRESSED:
      f->irqs_supp[qq]++;
      break;
    case EMU_TR_INTERRUPT_RECEIVED:
      f->irqs_received[qq]++;
      break;
    case EMU_TR_USED_CONSUMED:
      teach_on_used_consumed(r, rec, qq);
      break;
    case EMU_TR_TX_RECLAIMED:
      f->reclaims++;
      break;
    case EMU_TR_FRAME_FATE:
      teach_on_device_fate(r, rec, q);
      break;
    case EMU_TR_VIOLATION:
      teach_on_violation(r, rec, q);
      break;
    default:
      break;
  }
}

/* The state after this event; the step keeps the one after its last. */
static void teach_record_state(teach_rec *r, uint64_t t) {
  if (r->seen_event) {
    uint64_t dt = t - r->last_event_t;
    if (dt > r->idle_since_point) r->idle_since_point = dt;
    if (dt > r->idle_longest) r->idle_longest = dt;
    r->idle_gaps += dt >= TEACH_IDLE_GAP_NS;
  }
  r->seen_event = 1;
  r->last_event_t = t;
  r->cur_point.t_ns = t;
  r->cur_point.step = r->cur.index;
  for (int k = 0; k < 2; k++) {
    if (teach_run_packed(r->s)) {
      teach_pk_watch_quiet(r, k);
      /* before set-up the halves are all zero: the counters start at 1 */
      if (teach_qsize(r->s, k)) teach_pk_cursors(r->s, k, NULL, r->pk_now[k]);
    } else {
      teach_watch_quiet(r, k);
    }
    teach_count(r, k, r->cur_point.count[k]);
  }
  if (r->cur_keep) {
    for (int k = 0; k < 2; k++) teach_snapshot(r, k, &r->cur.ring[k]);
    if (r->s->mem.mm) teach_mem_snapshot(r->s, r->cur.buffers);
  }
}

/* A packed ring's step is drawn as memory holds it at the step's end: the
 * event suppression stores a side made after the step's last record (no
 * record of their own) are caught up at any record that opens no step. */
static void teach_pk_catch_up(teach_rec *r) {
  if (!r->open || !teach_run_packed(r->s)) return;
  for (int k = 0; k < 2; k++) {
    teach_pk_watch_quiet(r, k);
    if (r->cur_keep) teach_snapshot(r, k, &r->cur.ring[k]);
  }
}

/* Queue q's ring in a set-up step: as the driver left memory, three
 * zeroed areas and every descriptor free (the event that revealed the
 * queue may already have written a descriptor). */
static void teach_fresh_ring(teach_ring *g) {
  uint16_t size = g->size;
  if (!size) return;
  teach_ring fresh = {.size = size,
                      .desc = g->desc,
                      .avail = g->avail,
                      .used = g->used,
                      .owner = g->owner,
                      .wrote = g->wrote,
                      .drv_num_free = size};
  memset(g->desc, 0, sizeof *g->desc * size);
  memset(g->avail, 0, sizeof *g->avail * size);
  memset(g->used, 0, sizeof *g->used * size);
  memset(g->owner, TEACH_OWN_FREE, size);
  memset(g->wrote, 0, size);
  fresh.count[TEACH_OWN_FREE] = size;
  *g = fresh;
}

/* A split queue the driver has set up since the last event (it gives the
 * device the addresses with no trace record: the size appearing is the
 * sign) gets a step of its own before the event, with every queue set up
 * at that moment drawn fresh. */
static void teach_setup_steps(teach_rec *r, uint64_t t) {
  if (teach_run_packed(r->s) || r->coarse) return;
  int fresh[2] = {0, 0};
  for (int q = 0; q < 2; q++) fresh[q] = teach_qsize(r->s, q) && !r->setup_step[q];
  for (int q = 0; q < 2; q++) {
    if (!fresh[q]) continue;
    r->setup_step[q] = 1;
    teach_open_step(r, TEACH_K_SETUP, q, t);
    teach_record_state(r, t);
    for (int k = 0; k < 2 && r->cur_keep; k++)
      if (fresh[k]) teach_fresh_ring(&r->cur.ring[k]);
  }
}

static void teach_on_event(teach_rec *r, const emu_trace_rec *rec) {
  if (r->finished || !r->s) return;
  /* The walkthrough follows host->guest frames; a guest frame's fate in the
   * TX ledger (sent, or a TX drop) is not a step of its own. */
  if (rec->kind == EMU_TR_FRAME_FATE && rec->queue && !strcmp(rec->queue, "tx")) {
    teach_pk_catch_up(r);
    return;
  }
  if (rec->kind == EMU_TR_STORE_VISIBLE || rec->kind == EMU_TR_BARRIER) {
    /* memory-model events join the step they happen in */
    teach_mem_note(r, rec);
    if (r->open) teach_record_state(r, rec->t_ns - r->s->cfg.start_ns);
    return;
  }
  int starts_new;
  teach_kind kind = teach_run_packed(r->s) ? teach_classify_packed(r, rec, &starts_new)
                                           : teach_classify(rec, &starts_new);
  if (kind == TEACH_K_COUNT) {
    teach_pk_catch_up(r);
    return;
  }
  int q = teach_queue_of(rec);
  if (rec->kind == EMU_TR_FRAME_FATE && teach_fate_told_with_consume(r, rec, q)) return;
  /* With mergeable buffers each RX buffer the driver takes is a step of
   * its own: which of the frame's buffers it is, and what it holds. */
  if (rec->kind == EMU_TR_USED_CONSUMED && q == (int)VNET_RXQ && r->s->drv.mergeable)
    starts_new = 1;
  uint64_t t = rec->t_ns - r->s->cfg.start_ns;
  teach_setup_steps(r, t);
  teach_step_for(r, rec, kind, starts_new, q, t);
  teach_step *st = &r->cur;
  st->events++;
  st->evmask |= 1u << rec->kind;
  if (rec->head >= 0) st->head = rec->head;
  if (q >= 0) teach_ensure_held(r, q);
  r->unstored.which = TEACH_CUR_NONE;
  teach_note_event(r, rec, q);
  teach_record_state(r, t);
  r->unstored.which = TEACH_CUR_NONE;
}

static void teach_observer(void *ctx, const emu_trace_rec *rec) { teach_on_event(ctx, rec); }

int teach_rec_hook(teach_rec *r, scn *s, scn_config *cfg) {
  r->s = s;
  cfg->trace_observer = teach_observer;
  cfg->trace_observer_ctx = r;
  return 0;
}

void teach_rec_attach(teach_rec *r) { r->attached = 1; }

void teach_rec_finish(teach_rec *r) {
  if (r->finished) return;
  /* RX buffers consumed and never offered again: the buffer that does not
   * come back (Redox's try_recv) shows here, at the step that took it. */
  int64_t first = -1;
  for (uint16_t h = 0; h < r->pending_size; h++)
    if (r->pending_repost[h] >= 0 && (first < 0 || r->pending_repost[h] < first))
      first = r->pending_repost[h];
  for (uint16_t h = 0; h < r->pending_size; h++) {
    if (r->pending_repost[h] < 0) continue;
    teach_step *st = teach_find_kept(r, (uint32_t)r->pending_repost[h]);
    if (!st) continue;
    st->wrong = 1;
    if (st == &r->cur) continue;
    char tag[300];
    if (r->pending_repost[h] == first && teach_run_packed(r->s))
      teach_text_append(&st->text,
                        " Buffer id %u is never made available again%s: no descriptor "
                        "carries it back to the device, and the driver has one buffer fewer "
                        "for every frame (§5.1.6.3, §2.8.21: buffers are supplied by the "
                        "driver, and only it can re-supply them).",
                        h, teach_bug_tag(r, tag, sizeof tag));
    else if (r->pending_repost[h] == first)
      teach_text_append(&st->text,
                        " Head %u is never posted again%s: the available ring does not grow "
                        "back, and the driver has one buffer fewer for every frame (§5.1.6.3, "
                        "§2.7.13: buffers are supplied by the driver, and only it can "
                        "re-supply them).",
                        h, teach_bug_tag(r, tag, sizeof tag));
    else if (teach_run_packed(r->s))
      teach_text_append(&st->text,
                        " Buffer id %u is not made available again either: %u RX "
                        "descriptor%s left on offer.",
                        h, st->ring[VNET_RXQ].count[TEACH_OWN_AVAIL],
                        st->ring[VNET_RXQ].count[TEACH_OWN_AVAIL] == 1 ? "" : "s");
    else
      teach_text_append(&st->text,
                        " Head %u is not posted again either: %u RX buffer%s left on offer.", h,
                        st->ring[VNET_RXQ].count[TEACH_OWN_AVAIL],
                        st->ring[VNET_RXQ].count[TEACH_OWN_AVAIL] == 1 ? "" : "s");
  }
  teach_close_step(r);
  if (r->s && r->attached) emu_trace_set_observer(&r->s->trace, NULL, NULL);
  /* Only the first wrong step is "the moment"; later ones are consequences. */
  int seen = 0;
  for (size_t i = 0; i < r->nsteps; i++) {
    if (!r->steps[i].wrong) continue;
    r->steps[i].wrong = seen ? 2 : 1;
    seen = 1;
  }
  r->finished = 1;
}
