/* The teaching recorder: trace events merged into protocol steps, each with
 * the rings read back from guest memory and an explanation tied to the
 * virtio 1.2 section that rules it. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "teach/teach.h"
#include "virtio/vbug.h"

/* --- a growable string -------------------------------------------------- */

typedef struct teach_str {
  char *p;
  size_t n, cap;
} teach_str;

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

static void teach_str_add(teach_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void teach_str_add(teach_str *s, const char *fmt, ...) {
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

static const char *const teach_owner_names[TEACH_OWN_COUNT] = {"free", "avail", "device", "used",
                                                               "lost"};

const char *teach_owner_name(teach_owner o) {
  return (unsigned)o < TEACH_OWN_COUNT ? teach_owner_names[o] : "?";
}

int teach_step_queue(const teach_step *st) { return st->queue < 0 ? (int)VNET_RXQ : st->queue; }

/* What one side did to one queue within a step, in ring indices. */
typedef struct teach_span {
  uint32_t n;
  int64_t idx_first, idx_last; /* free-running ring index */
  int64_t head_first, head_last;
  uint32_t len_last;
} teach_span;

/* Everything a step's explanation needs, gathered from its events. */
typedef struct teach_facts {
  uint8_t status;
  uint64_t features;
  teach_span post[2], pop[2], push[2], consume[2];
  uint32_t reposts, reclaims;
  uint32_t kicks[2], kicks_supp[2], kicks_received[2];
  uint32_t irqs[2], irqs_supp[2], irqs_received[2];
  int avail_published[2];
  uint16_t avail_old[2], avail_new[2];
  int used_published[2];
  uint16_t used_old[2], used_new[2];
  uint32_t frames_in, frames_out;
  int64_t frame_first, frame_last;
  uint32_t frame_len, out_len;
  emu_fate fate;
  const char *detail, *actor;
  int64_t fate_frame;
  emu_fate stack_fate; /* what the guest stack did with this step's frame */
} teach_facts;

/* A kept array that halves itself (keeping every other entry) when full,
 * so memory stays bounded however long the run is. */
typedef struct teach_sampled {
  void *items;
  size_t n, max, size, stride;
  uint64_t total; /* items offered */
} teach_sampled;

/* A cursor the emitting code has not stored yet when its event fires: the
 * ring halves trace AVAIL_ADDED, USED_PUSHED and USED_CONSUMED just before
 * they move avail_idx_shadow, used_idx_shadow and last_used_idx by one.
 *
 * Why the recorder still reads the ring halves' cursors (and the driver's
 * per-head bookkeeping) from scn instead of rebuilding them from the trace:
 * some of that state has no trace record at all. The driver's free count
 * and which heads it still counts as in flight (what tells "lost" from
 * "free") live only in vq_drv, and a driver bug that jumps its used cursor
 * (vq_drv_set_last_used, rx-last-only) moves last_used_idx without an
 * event. Rebuilding them would change what the pages show. What would
 * remove this patch-up instead is each ring half emitting those three
 * events after its store (same record contents, so the same trace bytes):
 * a change in virtio/, not here. */
typedef enum teach_cursor {
  TEACH_CUR_NONE = 0,
  TEACH_CUR_DRV_AVAIL_SHADOW,
  TEACH_CUR_DEV_USED_SHADOW,
  TEACH_CUR_DRV_LAST_USED
} teach_cursor;

typedef struct teach_unstored {
  teach_cursor which;
  int q;
  uint16_t value;
} teach_unstored;

struct teach_rec {
  teach_opts opts;
  scn *s;
  int attached, coarse, finished;
  /* the step being built */
  int open;
  teach_step cur;
  int cur_keep;
  teach_facts f;
  teach_point cur_point;
  uint32_t nsteps_all;
  /* kept steps */
  teach_step *steps;
  size_t nsteps, step_stride;
  teach_sampled points, marks[TEACH_MARK_COUNT];
  /* recorder's own knowledge of the rings */
  uint8_t *held[2]; /* per head: popped by the device, not yet pushed */
  uint16_t held_size[2];
  uint16_t held_count[2];
  uint16_t avail_pub[2], used_pub[2]; /* last published indices, for "old -> new" */
  /* an RX head consumed and not yet offered again: the step that consumed it */
  int64_t *pending_repost;
  uint16_t pending_size;
  int wrap_told[2][2];  /* [queue][avail, used] */
  int wrap_explained;   /* the long explanation was given once */
  uint16_t lost_before; /* lost heads in both queues after the last step */
  teach_unstored unstored;
};

static void teach_sampled_init(teach_sampled *a, size_t max, size_t size) {
  memset(a, 0, sizeof *a);
  a->max = max < 2 ? 2 : max;
  a->size = size;
  a->stride = 1;
}

/* Offers one item; keeps it when its number is a multiple of the stride. */
static void teach_sampled_push(teach_sampled *a, const void *item) {
  uint64_t k = a->total++;
  if (k % a->stride) return;
  if (!a->items) {
    a->items = malloc(a->max * a->size);
    if (!a->items) return;
  }
  if (a->n == a->max) {
    char *p = a->items;
    size_t m = 0;
    for (size_t i = 0; i < a->n; i += 2) memmove(p + m++ * a->size, p + i * a->size, a->size);
    a->n = m;
    a->stride *= 2;
    if (k % a->stride) return;
  }
  memcpy((char *)a->items + a->n++ * a->size, item, a->size);
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
  teach_sampled_init(&r->points, r->opts.max_points, sizeof(teach_point));
  for (int i = 0; i < TEACH_MARK_COUNT; i++)
    teach_sampled_init(&r->marks[i], r->opts.max_marks, sizeof(teach_mark));
  return r;
}

static void teach_ring_free(teach_ring *g) {
  free(g->desc); /* one block: desc, avail, used, owner */
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
  free(r->held[0]);
  free(r->held[1]);
  free(r->pending_repost);
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

/* --- reading the rings back from guest memory --------------------------- */

static const vq_drv *teach_drv_q(const scn *s, int q) {
  return q == (int)VNET_RXQ ? &s->drv.rxq : &s->drv.txq;
}

/* Queue q's size as the driver set it up; 0 before. */
static uint16_t teach_qsize(const scn *s, int q) { return teach_drv_q(s, q)->layout.size; }

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
  teach_ring g;
  teach_cursors(r, q, &g);
  count[TEACH_OWN_AVAIL] = teach_window(g.dev_last_avail, g.drv_avail_shadow, size);
  count[TEACH_OWN_DEVICE] = r->held_size[q] == size ? r->held_count[q] : 0;
  count[TEACH_OWN_USED] = teach_window(g.drv_last_used, g.dev_used_shadow, size);
  count[TEACH_OWN_FREE] = g.drv_num_free;
  int rest = (int)size - count[TEACH_OWN_AVAIL] - count[TEACH_OWN_DEVICE] - count[TEACH_OWN_USED] -
             count[TEACH_OWN_FREE];
  count[TEACH_OWN_LOST] = rest > 0 ? (uint16_t)rest : 0;
}

static int teach_ring_alloc(teach_ring *g, uint16_t size) {
  if (g->size == size && g->desc) return 0;
  teach_ring_free(g);
  size_t bytes =
      (size_t)size * (sizeof *g->desc + sizeof *g->used + sizeof *g->avail + sizeof *g->owner);
  char *p = calloc(1, bytes);
  if (!p) return EMU_ENOMEM;
  g->size = size;
  g->desc = (teach_desc *)p;
  g->used = (teach_used_elem *)(p + (size_t)size * sizeof(teach_desc));
  g->avail = (uint16_t *)((char *)g->used + (size_t)size * sizeof(teach_used_elem));
  g->owner = (uint8_t *)(g->avail + size);
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
    (void)gmem_read_le64(m, a, &e->addr);
    (void)gmem_read_le32(m, a + 8, &e->len);
    (void)gmem_read_le16(m, a + 12, &e->flags);
    (void)gmem_read_le16(m, a + 14, &e->next);
    (void)gmem_read_le16(m, vq_avail_slot_addr(l, (uint16_t)i), &g->avail[i]);
    /* §2.7.8: le32 id, le32 len */
    uint64_t u = vq_used_slot_addr(l, (uint16_t)i);
    (void)gmem_read_le32(m, u, &g->used[i].id);
    (void)gmem_read_le32(m, u + 4, &g->used[i].len);
  }
  (void)gmem_read_le16(m, vq_avail_flags_addr(l), &g->avail_flags);
  (void)gmem_read_le16(m, vq_avail_idx_addr(l), &g->avail_idx);
  (void)gmem_read_le16(m, vq_used_event_addr(l), &g->used_event);
  (void)gmem_read_le16(m, vq_used_flags_addr(l), &g->used_flags);
  (void)gmem_read_le16(m, vq_used_idx_addr(l), &g->used_idx);
  (void)gmem_read_le16(m, vq_avail_event_addr(l), &g->avail_event);
}

/* Works out who owns each descriptor of queue q: heads in the avail window
 * belong to the device-to-be, heads the device popped and has not pushed
 * are in flight, heads in the used window wait for the driver; anything the
 * driver still counts as offered but that is in none of these was passed
 * over. A chain's descriptors share its head's owner. */
static void teach_owners(const teach_rec *r, int q, const vq_drv *d, teach_ring *g) {
  uint16_t size = g->size;
  uint8_t *head_owner = g->owner; /* first per head, then spread over chains */
  memset(head_owner, TEACH_OWN_FREE, size);
  for (uint32_t i = 0; i < size; i++)
    if (d->heads && d->heads[i].in_flight) head_owner[i] = TEACH_OWN_LOST;
  if (r->held_size[q] == size)
    for (uint32_t i = 0; i < size; i++)
      if (r->held[q][i] && head_owner[i] == TEACH_OWN_LOST) head_owner[i] = TEACH_OWN_DEVICE;
  uint16_t n = teach_window(g->dev_last_avail, g->drv_avail_shadow, size);
  for (uint16_t k = 0; k < n; k++) {
    uint16_t h = g->avail[(uint16_t)(g->dev_last_avail + k) & (size - 1)];
    if (h < size && head_owner[h] == TEACH_OWN_LOST) head_owner[h] = TEACH_OWN_AVAIL;
  }
  n = teach_window(g->drv_last_used, g->dev_used_shadow, size);
  for (uint16_t k = 0; k < n; k++) {
    uint32_t h = g->used[(uint16_t)(g->drv_last_used + k) & (size - 1)].id;
    if (h < size && head_owner[h] == TEACH_OWN_LOST) head_owner[h] = TEACH_OWN_USED;
  }
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
static void teach_snapshot(const teach_rec *r, int q, teach_ring *g) {
  const vq_drv *d = teach_drv_q(r->s, q);
  if (!d->layout.size) {
    teach_ring_free(g);
    return;
  }
  if (teach_ring_alloc(g, d->layout.size)) return;
  teach_read_rings(&r->s->mem, &d->layout, g);
  teach_cursors(r, q, g);
  teach_owners(r, q, d, g);
}

/* --- explaining a step -------------------------------------------------- */

static void teach_features(teach_str *t, uint64_t f) {
  static const struct {
    int bit;
    const char *name;
  } names[] = {{VIRTIO_F_VERSION_1, "VERSION_1"},
               {VIRTIO_NET_F_MAC, "MAC"},
               {VIRTIO_NET_F_STATUS, "STATUS"},
               {VIRTIO_F_EVENT_IDX, "EVENT_IDX"},
               {VIRTIO_F_INDIRECT_DESC, "INDIRECT_DESC"}};
  int any = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (f & VIRTIO_BIT(names[i].bit)) {
      teach_str_add(t, "%s%s", any ? " " : "", names[i].name);
      any = 1;
    }
  if (!any) teach_str_add(t, "none");
}

/* "slot 3" or, past the first lap, "slot 3 (index 11)". */
static void teach_slot(teach_str *t, int64_t idx, uint16_t size) {
  if (idx < 0 || !size) return;
  uint16_t i = (uint16_t)idx;
  if (i < size)
    teach_str_add(t, "slot %u", i);
  else
    teach_str_add(t, "slot %u (index %u)", i & (size - 1u), i);
}

static void teach_slots(teach_str *t, const teach_span *sp, uint16_t size) {
  if (sp->n <= 1 || sp->idx_first == sp->idx_last) {
    teach_slot(t, sp->idx_last, size);
    return;
  }
  uint16_t a = (uint16_t)sp->idx_first, b = (uint16_t)sp->idx_last;
  if (b < size)
    teach_str_add(t, "slots %u-%u", a, b);
  else
    teach_str_add(t, "indices %u-%u (slots %u-%u)", a, b, a & (size - 1u), b & (size - 1u));
}

static void teach_heads(teach_str *t, const teach_span *sp) {
  if (sp->n > 1 && sp->head_first != sp->head_last)
    teach_str_add(t, "heads %" PRId64 "-%" PRId64, sp->head_first, sp->head_last);
  else
    teach_str_add(t, "head %" PRId64, sp->head_last);
}

/* "heads 2-4 from avail slots 2-4": which heads, a joining phrase, where. */
static void teach_heads_at(teach_str *t, const teach_span *sp, const char *where, uint16_t size) {
  teach_heads(t, sp);
  teach_str_add(t, "%s", where);
  teach_slots(t, sp, size);
}

/* The first time a ring index runs past the queue size: explain the wrap
 * (at length the first time, in a clause after that). */
static void teach_wrap(teach_rec *r, teach_str *t, int q, int used, const teach_span *sp,
                       uint16_t size) {
  if (!sp->n || !size || r->wrap_told[q][used]) return;
  if ((uint16_t)sp->idx_last < size) return;
  r->wrap_told[q][used] = 1;
  uint16_t i = (uint16_t)sp->idx_last;
  teach_str_add(t, " Wrap-around: %s %s index %u lands in slot %u & %u = %u.",
                vnet_queue_name((uint16_t)q), used ? "used" : "avail", i, i, size - 1u,
                i & (size - 1u));
  if (r->wrap_explained) return;
  r->wrap_explained = 1;
  teach_str_add(t,
                " The indices are free-running 16-bit counters and only the slot is masked "
                "(§2.7.6, §2.7.8), so the same arithmetic carries on when a counter itself "
                "wraps from 65535 to 0; showing that would take 65536 buffers, so this "
                "walkthrough shows the slot wrap only.");
}

static const char *teach_fate_phrase(emu_fate f) {
  switch (f) {
    case EMU_FATE_ANSWERED:
      return "answered it";
    case EMU_FATE_DELIVERED:
      return "took it";
    default:
      return NULL;
  }
}

/* What an explainer works from: the step, the facts gathered from its
 * events, its queue's ring after it, and the text being written. */
typedef struct teach_expl {
  teach_rec *r;
  teach_step *st;
  const teach_facts *f;
  int q;               /* the step's queue (rx when it has none) */
  const teach_ring *g; /* that queue's ring after the step */
  uint16_t size;       /* that queue's size */
  int event_idx;       /* VIRTIO_F_EVENT_IDX negotiated on that queue */
  teach_str t;         /* the explanation */
} teach_expl;

static void teach_title(teach_expl *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void teach_title(teach_expl *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->st->title, sizeof e->st->title, fmt, ap);
  va_end(ap);
}

/* The status byte's steps, in the order of §3.1.1. */
static void teach_explain_status(teach_expl *e) {
  uint8_t b = e->f->status;
  teach_str *t = &e->t;
  if (b == 0) {
    teach_title(e, "Reset: the driver writes 0 to the device status");
    teach_str_add(t,
                  "The status byte is where driver and device agree on how far "
                  "initialisation got. Writing 0 resets the device: no features, no "
                  "queues, nothing offered. §3.1.1 step 1, §2.1.");
  } else if (b == VIRTIO_STATUS_ACKNOWLEDGE) {
    teach_title(e, "Status ACKNOWLEDGE (1): the guest has noticed the device");
    teach_str_add(t, "The guest found a virtio device and says so. §3.1.1 step 2.");
  } else if (!(b & VIRTIO_STATUS_FEATURES_OK) && (b & VIRTIO_STATUS_DRIVER)) {
    teach_title(e, "Status ACKNOWLEDGE|DRIVER (3): the guest can drive it");
    teach_str_add(t, "A driver for network devices claimed it. §3.1.1 step 3.");
  } else if (!(b & VIRTIO_STATUS_DRIVER_OK) && (b & VIRTIO_STATUS_FEATURES_OK)) {
    teach_title(e, "Features negotiated; status FEATURES_OK (%u)", b);
    teach_str_add(t,
                  "The driver read the device's feature bits, kept the ones it "
                  "understands and wrote them back: ");
    teach_features(t, e->f->features);
    teach_str_add(t,
                  ". FEATURES_OK asks the device to accept exactly these; a device "
                  "that cannot would leave the bit clear. EVENT_IDX lets each side say "
                  "at which index it wants the next notification (§2.7.7, §2.7.10). "
                  "§3.1.1 steps 4-6, §2.2. Next the driver allocates each queue's "
                  "descriptor table, available ring and used ring in guest memory and "
                  "gives the device their addresses (§3.1.1 step 7, §2.7).");
  } else if (b & VIRTIO_STATUS_DRIVER_OK) {
    teach_title(e, "Status DRIVER_OK (%u): the device is live", b);
    teach_str_add(t,
                  "Set-up is done and the device may use its queues. The RX buffers "
                  "are written, but avail.idx is still %u, so the device does not see "
                  "them yet. §3.1.1 step 8.",
                  e->g->avail_idx);
  } else {
    teach_title(e, "Status %u", b);
    teach_str_add(t, "The driver writes status %u (§2.1).", b);
  }
}

/* A TX frame: one indirect descriptor or a chain (§2.7.5.3, §5.1.6.2). */
static void teach_explain_tx_post(teach_expl *e, const teach_span *sp) {
  teach_str *t = &e->t;
  const teach_ring *g = e->g;
  teach_title(e, "The guest sends a frame: the driver fills a TX descriptor");
  int indirect = sp->n && g->size &&
                 (g->desc[(uint16_t)sp->head_last & (e->size - 1)].flags & VQ_DESC_F_INDIRECT);
  if (indirect)
    teach_str_add(t,
                  "The driver takes one descriptor, head %" PRId64
                  ", and points it "
                  "(flag I, INDIRECT) at a two-entry table elsewhere in guest memory: "
                  "the 12-byte header, then the frame, both device-readable. One "
                  "descriptor per frame however many pieces it has (§2.7.5.3). ",
                  sp->head_last);
  else
    teach_str_add(t,
                  "The driver writes a chain for the header and the frame, both "
                  "device-readable, starting at head %" PRId64 ". ",
                  sp->head_last);
  teach_str_add(t, "The head goes into avail ");
  teach_slots(t, sp, e->size);
  teach_str_add(t, ". §2.7.13.1-2, §5.1.6.2.");
}

/* The driver writes descriptors and avail slots (§2.7.13.1-2). */
static void teach_explain_post(teach_expl *e) {
  const teach_span *sp = &e->f->post[e->q];
  teach_str *t = &e->t;
  if (e->q == (int)VNET_RXQ && e->f->reposts) {
    teach_title(e, "The driver re-posts RX buffer head %" PRId64, sp->head_last);
    teach_str_add(t,
                  "Having read the frame out of it, the driver offers the same buffer "
                  "again: descriptor %" PRId64
                  " keeps its address and length, and its "
                  "index goes into avail ",
                  sp->head_last);
    teach_slots(t, sp, e->size);
    teach_str_add(t, ". avail.idx has not moved yet. §2.7.13.1-2.");
  } else if (e->q == (int)VNET_RXQ) {
    teach_title(e, "The driver posts %u RX buffer%s", sp->n, sp->n == 1 ? "" : "s");
    teach_str_add(t,
                  "For each buffer the driver takes a free descriptor, writes the "
                  "buffer's address and length with flag W (device-writable), and puts "
                  "the descriptor's index, its head, in the next available slot: ");
    teach_heads_at(t, sp, " in ", e->size);
    teach_str_add(t,
                  ". Each RX buffer holds the 12-byte virtio_net_hdr and a 1514-byte "
                  "frame (§5.1.6.3). avail.idx is still %u: the device cannot see "
                  "these yet. §2.7.13.1-2.",
                  e->g->avail_idx);
  } else {
    teach_explain_tx_post(e, sp);
  }
  teach_wrap(e->r, t, e->q, 0, sp, e->size);
}

/* Why the driver kicked or did not, after publishing (§2.7.10, §2.7.13.4). */
static void teach_explain_kick_decision(teach_expl *e, uint16_t old, uint16_t now) {
  const teach_facts *f = e->f;
  int q = e->q;
  teach_str *t = &e->t;
  if (f->kicks[q] && e->event_idx && f->avail_published[q])
    teach_str_add(t,
                  " With EVENT_IDX the driver notifies only when the new entries pass "
                  "the device's avail_event = %u, that is when it lies in [%u, %u): it "
                  "does, so the driver kicks (§2.7.10, §2.7.13.4).",
                  e->g->avail_event, old, now);
  else if (f->kicks[q] && f->avail_published[q])
    teach_str_add(t,
                  " The device has not set NO_NOTIFY in used.flags, so the driver "
                  "kicks (§2.7.10).");
  else if (f->kicks_supp[q] && e->event_idx)
    teach_str_add(t,
                  " Event-idx suppression: avail_event = %u is not in [%u, %u). The "
                  "device is still working through the ring and will read the new "
                  "index by itself, so the driver does not kick (§2.7.10).",
                  e->g->avail_event, old, now);
  else if (f->kicks_supp[q])
    teach_str_add(t, " The device set NO_NOTIFY in used.flags, so no kick (§2.7.10).");
  else if (f->avail_published[q]) {
    teach_str_add(t,
                  " The driver made no notification decision at all: a device that "
                  "went idle will never look at these entries (§2.7.13.4).");
    e->st->wrong = 1;
  }
}

/* The driver stores avail.idx, then kicks or not (§2.7.13.3-4). */
static void teach_explain_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  uint16_t old = f->avail_old[q], now = f->avail_new[q];
  if (f->avail_published[q]) {
    teach_title(e, "The driver publishes %s avail.idx = %u%s", vnet_queue_name((uint16_t)q), now,
                f->kicks[q]        ? " and kicks"
                : f->kicks_supp[q] ? "; no kick needed"
                                   : "");
    teach_str_add(&e->t,
                  "Storing avail.idx (%u -> %u) is what hands the new entries to the "
                  "device; a write barrier before it makes sure the device sees the "
                  "slots before the index that covers them (§2.7.13.3).",
                  old, now);
  } else {
    teach_title(e, "The driver kicks the %s queue before publishing", vnet_queue_name((uint16_t)q));
    teach_str_add(&e->t,
                  "The driver notified the device, but avail.idx in memory is still "
                  "%u: a device that looks now finds nothing new and goes back to "
                  "sleep. §2.7.13.4 says: update the index first, then notify.",
                  e->g->avail_idx);
    e->st->wrong = 1;
  }
  teach_explain_kick_decision(e, old, now);
}

/* What the device took, or why it took nothing (§2.7.6, §5.1.6). */
static void teach_explain_take_what(teach_expl *e, const teach_span *sp) {
  const teach_facts *f = e->f;
  const teach_ring *g = e->g;
  teach_str *t = &e->t;
  if (sp->n) {
    teach_str_add(t,
                  "The device reads avail.idx = %u, which is ahead of its "
                  "last_avail_idx, and takes ",
                  g->avail_idx);
    teach_heads_at(t, sp, " from avail ", e->size);
    teach_str_add(t,
                  "; its last_avail_idx is now %u (§2.7.6). The descriptor is in flight: "
                  "the device's until it returns it. ",
                  g->dev_last_avail);
    if (e->q == (int)VNET_RXQ)
      teach_str_add(t,
                    "It writes a virtio_net_hdr and the frame into the buffer "
                    "(§5.1.6.4).");
    else if (f->frames_out)
      teach_str_add(t,
                    "It reads header and frame and hands the %u-byte frame to the "
                    "host (§5.1.6.2).",
                    f->out_len);
  } else if (f->frames_in) {
    teach_str_add(t,
                  "No RX buffer is offered: avail.idx = %u equals the device's "
                  "last_avail_idx. The frame cannot be placed anywhere.",
                  g->avail_idx);
  } else if (e->q == (int)VNET_RXQ) {
    teach_str_add(t,
                  "The device takes an RX buffer only when a frame arrives; until then "
                  "the %u buffers it was offered stay where they are.",
                  (unsigned)(uint16_t)(g->avail_idx - g->dev_last_avail));
  } else {
    teach_str_add(t, "Nothing new to take: avail.idx = %u.", g->avail_idx);
  }
}

/* A kick or a frame reaches the device; it pops chains. */
static void teach_explain_dev_take(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  const teach_span *sp = &f->pop[q];
  if (f->frames_in) {
    teach_title(e, "Frame #%" PRId64 " (%u bytes) arrives%s", f->frame_last + 1, f->frame_len,
                sp->n ? "; the device takes an RX buffer" : "");
    teach_str_add(&e->t, "The host sends frame #%" PRId64 " (%u bytes) to the device. ",
                  f->frame_last + 1, f->frame_len);
  } else if (f->kicks_received[q]) {
    teach_title(e, "The %s kick reaches the device%s", vnet_queue_name((uint16_t)q),
                sp->n ? "; it takes what was offered" : "");
    teach_str_add(&e->t, "The notification (§2.7.13.4) arrives after its modelled latency. ");
  } else {
    teach_title(e, "The device takes %s %s", sp->n == 1 ? "a" : "more",
                q == (int)VNET_TXQ ? "TX chains" : "RX buffers");
  }
  teach_explain_take_what(e, sp);
}

/* The device writes used elements (§2.7.8). */
static void teach_explain_dev_push(teach_expl *e) {
  const teach_span *sp = &e->f->push[e->q];
  teach_str *t = &e->t;
  teach_title(e, "The device returns %s in the %s used ring", sp->n == 1 ? "the buffer" : "buffers",
              vnet_queue_name((uint16_t)e->q));
  teach_str_add(t, "It writes the used element {id %" PRId64 ", len %u} into used ", sp->head_last,
                sp->len_last);
  teach_slots(t, sp, e->size);
  if (e->q == (int)VNET_RXQ)
    teach_str_add(t,
                  ": len counts the bytes it wrote, the 12-byte header plus the frame "
                  "(§2.7.8).");
  else
    teach_str_add(t, ": len 0, since it wrote nothing into a TX buffer (§2.7.8).");
  teach_str_add(t, " used.idx is still %u, so the driver cannot see it yet.", e->g->used_idx);
  teach_wrap(e->r, t, e->q, 1, sp, e->size);
}

/* The device stores used.idx, then interrupts or not (§2.7.7, §2.7.8.2). */
static void teach_explain_dev_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  int q = e->q;
  teach_str *t = &e->t;
  uint16_t old = f->used_old[q], now = f->used_new[q], used_event = e->g->used_event;
  teach_title(e, "The device publishes %s used.idx = %u%s", vnet_queue_name((uint16_t)q), now,
              f->irqs[q]        ? " and interrupts"
              : f->irqs_supp[q] ? "; no interrupt"
                                : "");
  teach_str_add(t,
                "used.idx moves %u -> %u, after a write barrier so the element is "
                "visible first (§2.7.8.2).",
                old, now);
  if (f->irqs[q] && e->event_idx)
    teach_str_add(t,
                  " With EVENT_IDX the device interrupts only when the driver's "
                  "used_event = %u lies in [%u, %u): it does, so it raises the "
                  "interrupt (§2.7.7.2, §2.7.10).",
                  used_event, old, now);
  else if (f->irqs[q])
    teach_str_add(t, " avail.flags does not say NO_INTERRUPT, so it interrupts (§2.7.7).");
  else if (f->irqs_supp[q] && e->event_idx)
    teach_str_add(t,
                  " Interrupt suppressed: used_event = %u is not in [%u, %u), the "
                  "driver did not ask to hear about these (§2.7.7, §2.7.10).%s",
                  used_event, old, now,
                  q == (int)VNET_TXQ ? " This driver reaps TX buffers on its next send "
                                       "and leaves TX used_event where it was."
                                     : "");
  else if (f->irqs_supp[q])
    teach_str_add(t, " avail.flags says NO_INTERRUPT: no interrupt (§2.7.7).");
}

static void teach_explain_irq(teach_expl *e) {
  teach_title(e, "The interrupt reaches the driver");
  teach_str_add(&e->t,
                "After its modelled latency the interrupt runs the driver's handler "
                "on the guest CPU. It will compare used.idx with its own "
                "last_used_idx (§2.7.14).");
}

/* The driver reads used elements (§2.7.14). */
static void teach_explain_consume(teach_expl *e) {
  const teach_span *sp = &e->f->consume[e->q];
  teach_str *t = &e->t;
  teach_title(e, "The driver takes %s from the %s used ring",
              sp->n == 1 ? "a used element" : "used elements", vnet_queue_name((uint16_t)e->q));
  teach_str_add(t, "used.idx = %u is ahead of the driver's cursor, so it reads used ",
                e->g->used_idx);
  teach_slots(t, sp, e->size);
  teach_str_add(t, ": ");
  teach_heads(t, sp);
  teach_str_add(t,
                ", len %u. Its last_used_idx moves to %u and the descriptor is free "
                "again (§2.7.14).",
                sp->len_last, e->g->drv_last_used);
  if (e->q == (int)VNET_RXQ && sp->len_last > VNET_HDR_LEN)
    teach_str_add(t,
                  " It hands the %u-byte frame (len minus the header) to the guest "
                  "stack.",
                  sp->len_last - VNET_HDR_LEN);
  else if (e->q == (int)VNET_TXQ)
    teach_str_add(t, " The TX buffer can carry the next frame.");
  teach_wrap(e->r, t, e->q, 1, sp, e->size);
}

static void teach_explain_drop(teach_expl *e) {
  const teach_facts *f = e->f;
  const teach_ring *rx = &e->st->ring[VNET_RXQ];
  teach_title(e, "Frame #%" PRId64 " is dropped: %s", f->fate_frame + 1, emu_fate_name(f->fate));
  if (f->fate == EMU_FATE_RX_NO_BUFFER)
    teach_str_add(&e->t,
                  "The device has no RX buffer to put it in: avail.idx = %u equals its "
                  "last_avail_idx = %u, and it keeps no backlog. A NIC drops the frame "
                  "the same way (§5.1.6.4 needs a buffer from the receive queue).",
                  rx->avail_idx, rx->dev_last_avail);
  else
    teach_str_add(&e->t, "Its fate, decided by the %s: %s.", f->actor ? f->actor : "?",
                  emu_fate_name(f->fate));
  e->st->wrong = 1;
}

static void teach_explain_violation(teach_expl *e) {
  const teach_facts *f = e->f;
  const char *name = f->detail ? f->detail : "?";
  vq_rule rule = vq_rule_from_name(name);
  teach_title(e, "The %s breaks a ring rule: %s", f->actor ? f->actor : "?", name);
  if (rule != VQ_RULE_NONE)
    teach_str_add(&e->t, "%s (virtio 1.2 §%s).", vq_rule_text(rule), vq_rule_section(rule));
  e->st->wrong = 1;
}

/* ", kicked" / ", kick suppressed" in a fast-forward list, when either happened. */
static void teach_fast_notified(teach_str *t, uint32_t sent, uint32_t suppressed, const char *yes,
                                const char *no) {
  if (sent + suppressed) teach_str_add(t, ", %s", sent ? yes : no);
}

/* The RX half of a fast-forwarded frame, in one sentence. */
static void teach_fast_rx(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  const teach_span *sp = &f->pop[VNET_RXQ];
  uint16_t sz = teach_qsize(e->r->s, VNET_RXQ);
  if (!sp->n) return;
  teach_str_add(t, "rx: the device took ");
  teach_heads_at(t, sp, " from avail ", sz);
  if (f->push[VNET_RXQ].n) {
    teach_str_add(t, " and returned it in used ");
    teach_slots(t, &f->push[VNET_RXQ], sz);
  }
  teach_fast_notified(t, f->irqs[VNET_RXQ], f->irqs_supp[VNET_RXQ], "interrupted",
                      "interrupt suppressed");
  if (f->consume[VNET_RXQ].n) teach_str_add(t, "; the driver read it");
  if ((sp = &f->post[VNET_RXQ])->n) {
    teach_str_add(t, ", re-posted ");
    teach_heads_at(t, sp, " in avail ", sz);
  }
  teach_fast_notified(t, f->kicks[VNET_RXQ], f->kicks_supp[VNET_RXQ], "kicked", "kick suppressed");
  teach_str_add(t, ". ");
}

/* The TX half of a fast-forwarded frame (the guest's answer), in one sentence. */
static void teach_fast_tx(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  const teach_span *sp = &f->post[VNET_TXQ];
  uint16_t sz = teach_qsize(e->r->s, VNET_TXQ);
  if (!sp->n) return;
  teach_str_add(t, "tx: the answer went into ");
  teach_heads_at(t, sp, " at avail ", sz);
  teach_fast_notified(t, f->kicks[VNET_TXQ], f->kicks_supp[VNET_TXQ], "kicked", "kick suppressed");
  if (f->pop[VNET_TXQ].n) {
    teach_str_add(t, "; the device sent it and returned it in used ");
    teach_slots(t, &f->push[VNET_TXQ], sz);
  }
  teach_fast_notified(t, f->irqs[VNET_TXQ], f->irqs_supp[VNET_TXQ], "interrupted",
                      "interrupt suppressed");
  if (f->consume[VNET_TXQ].n)
    teach_str_add(t, "; the driver reclaimed %u used TX buffer%s", f->consume[VNET_TXQ].n,
                  f->consume[VNET_TXQ].n == 1 ? "" : "s");
  teach_str_add(t, ". ");
}

/* Several frames' worth of steps in one (§2.7.13, §2.7.8, §2.7.14). */
static void teach_explain_fast(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  const char *outcome = !f->pop[VNET_RXQ].n && f->frames_in   ? "finds no RX buffer"
                        : f->stack_fate == EMU_FATE_ANSWERED  ? "in and answered"
                        : f->stack_fate == EMU_FATE_DELIVERED ? "in and delivered"
                        : f->stack_fate != EMU_FATE_PENDING   ? emu_fate_name(f->stack_fate)
                                                              : "in";
  if (f->frames_in)
    teach_title(e, "Fast-forward: frame #%" PRId64 " (%u bytes), %s", f->frame_first + 1,
                f->frame_len, outcome);
  else
    teach_title(e, "Fast-forward: the rest of the run");
  teach_str_add(t, "The same steps as above, in one (§2.7.13, §2.7.8, §2.7.14). ");
  if (f->frames_in && !f->pop[VNET_RXQ].n)
    teach_str_add(t,
                  "The device finds no RX buffer to take: avail.idx = %u equals its "
                  "last_avail_idx. ",
                  e->st->ring[VNET_RXQ].avail_idx);
  teach_fast_rx(e);
  teach_fast_tx(e);
  for (int k = 0; k < 2; k++) {
    uint16_t sz = teach_qsize(e->r->s, k);
    teach_wrap(e->r, t, k, 0, &f->post[k], sz);
    teach_wrap(e->r, t, k, 1, &f->push[k], sz);
  }
}

typedef void (*teach_explainer)(teach_expl *e);

/* One explainer per step kind. */
static const teach_explainer teach_explainers[TEACH_K_COUNT] = {
    [TEACH_K_STATUS] = teach_explain_status,     [TEACH_K_POST] = teach_explain_post,
    [TEACH_K_PUBLISH] = teach_explain_publish,   [TEACH_K_DEV_TAKE] = teach_explain_dev_take,
    [TEACH_K_DEV_PUSH] = teach_explain_dev_push, [TEACH_K_DEV_PUBLISH] = teach_explain_dev_publish,
    [TEACH_K_IRQ] = teach_explain_irq,           [TEACH_K_CONSUME] = teach_explain_consume,
    [TEACH_K_DROP] = teach_explain_drop,         [TEACH_K_VIOLATION] = teach_explain_violation,
    [TEACH_K_FAST] = teach_explain_fast,
};

/* The suppression fields are stored without an event of their own: say so
 * when one moved since the last kept step of the same queue. */
static void teach_explain_event_fields(teach_expl *e) {
  const teach_rec *r = e->r;
  const teach_ring *g = e->g, *pg = NULL;
  for (size_t j = r->nsteps; j-- > 0 && !pg;)
    if (teach_step_queue(&r->steps[j]) == e->q) pg = &r->steps[j].ring[e->q];
  if (e->st->kind == TEACH_K_FAST || !pg || !pg->size || g->size != pg->size || !e->event_idx)
    return;
  if (g->avail_event != pg->avail_event)
    teach_str_add(&e->t,
                  " Meanwhile the device, finding nothing more to take, set avail_event = "
                  "%u: kick me when avail.idx moves past %u (§2.7.10).",
                  g->avail_event, g->avail_event);
  if (g->used_event != pg->used_event)
    teach_str_add(&e->t,
                  " Meanwhile the driver, done with the ring, set used_event = %u: "
                  "interrupt me when used.idx moves past %u (§2.7.7).",
                  g->used_event, g->used_event);
}

/* Writes the step's title and text from the facts of its events. */
static void teach_explain(teach_rec *r, teach_step *st) {
  int q = teach_step_queue(st);
  const vq_drv *d = teach_drv_q(r->s, q);
  teach_expl e = {r, st, &r->f, q, &st->ring[q], d->layout.size, d->event_idx, {0}};
  if ((unsigned)st->kind < TEACH_K_COUNT && teach_explainers[st->kind])
    teach_explainers[st->kind](&e);
  teach_explain_event_fields(&e);
  /* Drop a trailing space left by the fast-forward list. */
  while (e.t.n && e.t.p[e.t.n - 1] == ' ') e.t.p[--e.t.n] = '\0';
  free(st->text);
  st->text = e.t.p;
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
    if (newly_lost) {
      st->wrong = 1;
      teach_text_append(&st->text,
                        " Lost: the driver's cursor moved past used element(s) it never "
                        "read, so their buffers are neither free nor offered, and nothing "
                        "will give them back (§2.7.14: read every used element in order).");
    }
  }
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
  r->f.frame_first = r->f.frame_last = r->f.fate_frame = -1;
  r->cur_keep = r->cur.index % r->step_stride == 0;
  r->open = 1;
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

static void teach_ensure_held(teach_rec *r, int q) {
  uint16_t size = teach_qsize(r->s, q);
  if (!size || r->held_size[q] == size) return;
  free(r->held[q]);
  r->held[q] = calloc(size, 1);
  r->held_size[q] = r->held[q] ? size : 0;
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
    if ((st->kind == TEACH_K_CONSUME || st->kind == TEACH_K_FAST) && st->head == rec->head) {
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

static void teach_on_frame_in(teach_facts *f, const emu_trace_rec *rec) {
  if (!f->frames_in++) f->frame_first = rec->frame;
  f->frame_last = rec->frame;
  if (f->frames_in == 1) f->frame_len = (uint32_t)rec->len;
}

static void teach_on_used_pushed(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_span_add(&r->f.push[q], rec->idx, rec->head, rec->len);
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
  teach_set_unstored(r, TEACH_CUR_DRV_LAST_USED, q, rec->idx);
  if (q == (int)VNET_RXQ && rec->head >= 0) teach_await_repost(r, rec->head);
}

static void teach_on_device_fate(teach_rec *r, const emu_trace_rec *rec, int q) {
  r->f.fate = teach_rec_fate(rec);
  r->f.fate_frame = rec->frame;
  r->f.actor = rec->actor;
  teach_mark_add(r, TEACH_MARK_DROP, rec, q, r->f.fate);
}

/* Adds one event to the facts of the open step. */
static void teach_note_event(teach_rec *r, const emu_trace_rec *rec, int q) {
  teach_facts *f = &r->f;
  int qq = q < 0 ? 0 : q;
  switch (rec->kind) {
    case EMU_TR_STATUS:
      teach_on_status(r, rec, q);
      break;
    case EMU_TR_AVAIL_ADDED:
      teach_on_avail_added(r, rec, qq);
      break;
    case EMU_TR_BUFFER_REPOSTED:
      f->reposts++;
      break;
    case EMU_TR_AVAIL_PUBLISHED:
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
      teach_on_frame_in(f, rec);
      break;
    case EMU_TR_POP:
      teach_span_add(&f->pop[qq], rec->idx, rec->head, rec->len);
      teach_hold(r, qq, rec->head, 1);
      break;
    case EMU_TR_FRAME_OUT:
      f->frames_out++;
      f->out_len = (uint32_t)rec->len;
      break;
    case EMU_TR_USED_PUSHED:
      teach_on_used_pushed(r, rec, qq);
      break;
    case EMU_TR_USED_PUBLISHED:
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
    default: /* EMU_TR_DESC_WRITTEN: the AVAIL_ADDED after it tells the step */
      break;
  }
}

/* The state after this event; the step keeps the one after its last. */
static void teach_record_state(teach_rec *r, uint64_t t) {
  r->cur_point.t_ns = t;
  r->cur_point.step = r->cur.index;
  for (int k = 0; k < 2; k++) teach_count(r, k, r->cur_point.count[k]);
  if (r->cur_keep)
    for (int k = 0; k < 2; k++) teach_snapshot(r, k, &r->cur.ring[k]);
}

static void teach_on_event(teach_rec *r, const emu_trace_rec *rec) {
  if (r->finished || !r->s) return;
  int starts_new;
  teach_kind kind = teach_classify(rec, &starts_new);
  if (kind == TEACH_K_COUNT) return;
  int q = teach_queue_of(rec);
  if (rec->kind == EMU_TR_FRAME_FATE && teach_fate_told_with_consume(r, rec, q)) return;
  uint64_t t = rec->t_ns - r->s->cfg.start_ns;
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
    if (r->pending_repost[h] == first)
      teach_text_append(&st->text,
                        " Head %u is never posted again: the available ring does not grow "
                        "back, and the driver has one buffer fewer for every frame (§2.7.13: "
                        "buffers are supplied by the driver, and only it can re-supply them).",
                        h);
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
