/* The recorder's view of a packed ring (virtio 1.2 §2.8): one descriptor
 * ring both sides write, read back position by position, and who owns each
 * position worked out the way the spec defines it: by the AVAIL and USED
 * bits of its flags, read with the wrap counter of the side that looks. */
#include <stdlib.h>
#include <string.h>

#include "teach/internal.h"
#include "teach/teach.h"

int teach_pk_avail_bit(uint16_t flags) { return (flags & VQP_F_AVAIL) != 0; }
int teach_pk_used_bit(uint16_t flags) { return (flags & VQP_F_USED) != 0; }

static teach_wpos teach_wp(vqp_cursor c) { return (teach_wpos){c.pos, c.wrap}; }

/* The device half of queue q, or NULL before the device took the queue. */
static const vqp_dev *teach_pdev_q(const scn *s, int q) {
  return s->dev.q[q].enabled && s->dev.q[q].packed ? &s->dev.q[q].pvq : NULL;
}

void teach_pk_cursors(const scn *s, int q, teach_ring *g, teach_wpos now[4]) {
  const vqp_drv *d = teach_pdrv_q(s, q);
  const vqp_dev *v = teach_pdev_q(s, q);
  /* before the device takes the queue its counters are where it will start */
  const teach_wpos start = {0, 1};
  teach_wpos c[4] = {teach_wp(d->avail), teach_wp(d->used), v ? teach_wp(v->avail) : start,
                     v ? teach_wp(v->used) : start};
  if (now) memcpy(now, c, sizeof c);
  if (!g) return;
  g->drv_next_avail = c[TEACH_PK_DRV_AVAIL];
  g->drv_next_used = c[TEACH_PK_DRV_USED];
  g->dev_next_avail = c[TEACH_PK_DEV_AVAIL];
  g->dev_next_used = c[TEACH_PK_DEV_USED];
  g->drv_num_free = d->num_free;
}

/* The ring and both event suppression structures. The driver placed them
 * in guest memory and the device checked them when it took the queue, so
 * these reads do not fail (as for the split ring: teach_read_rings). */
static void teach_pk_read(const gmem *m, const vqp_layout *l, teach_ring *g) {
  for (uint32_t i = 0; i < l->size; i++) {
    /* §2.8.13: le64 addr, le32 len, le16 id, le16 flags */
    uint64_t a = vqp_desc_addr(l, i);
    teach_desc *e = &g->desc[i];
    (void)gmem_peek_le64(m, a + VQP_DESC_OFF_ADDR, &e->addr);
    (void)gmem_peek_le32(m, a + VQP_DESC_OFF_LEN, &e->len);
    (void)gmem_peek_le16(m, a + VQP_DESC_OFF_ID, &e->id);
    (void)gmem_peek_le16(m, a + VQP_DESC_OFF_FLAGS, &e->flags);
    e->next = 0;
  }
  /* §2.8.14: le16 desc (offset : 15, wrap : 1), le16 flags */
  (void)gmem_peek_le16(m, l->driver + VQP_EVENT_OFF_FLAGS, &g->drv_event_flags);
  (void)gmem_peek_le16(m, l->driver + VQP_EVENT_OFF_DESC, &g->drv_event_desc);
  (void)gmem_peek_le16(m, l->device + VQP_EVENT_OFF_FLAGS, &g->dev_event_flags);
  (void)gmem_peek_le16(m, l->device + VQP_EVENT_OFF_DESC, &g->dev_event_desc);
}

static uint16_t teach_pk_peek16(const gmem *m, const vqp_layout *l, uint16_t pos, uint64_t off) {
  uint16_t v = 0;
  (void)gmem_peek_le16(m, vqp_desc_addr(l, pos) + off, &v);
  return v;
}

static void teach_pk_advance(teach_wpos *c, uint32_t n, uint16_t size) {
  uint32_t pos = c->pos + n;
  while (pos >= size) {
    pos -= size;
    c->wrap ^= 1u;
  }
  c->pos = (uint16_t)pos;
}

/* A position the driver counts as outstanding goes to owner o. */
static void teach_pk_claim(uint8_t *owner, uint16_t size, teach_wpos from, uint32_t n,
                           teach_owner o) {
  for (uint32_t k = 0; k < n && k < size; k++) {
    uint16_t pos = (uint16_t)((from.pos + k) % size);
    if (owner[pos] == TEACH_OWN_LOST) owner[pos] = (uint8_t)o;
  }
}

/* Used descriptors the driver has not read, from its used cursor on: both
 * bits equal to its used wrap counter (§2.8.1); each buffer spans as many
 * positions as the driver gave it (§2.8.6). */
static void teach_pk_claim_used(const scn *s, int q, uint8_t *owner, teach_wpos p) {
  const vqp_drv *d = teach_pdrv_q(s, q);
  uint16_t size = d->layout.size;
  for (uint32_t n = 0; n < size;) {
    uint16_t f = teach_pk_peek16(&s->mem, &d->layout, p.pos, VQP_DESC_OFF_FLAGS);
    if (teach_pk_avail_bit(f) != p.wrap || teach_pk_used_bit(f) != p.wrap) return;
    uint16_t id = teach_pk_peek16(&s->mem, &d->layout, p.pos, VQP_DESC_OFF_ID);
    uint32_t len = id < size && d->bufs[id].in_flight && d->bufs[id].ndesc ? d->bufs[id].ndesc : 1u;
    teach_pk_claim(owner, size, p, len, TEACH_OWN_USED);
    teach_pk_advance(&p, len, size);
    n += len;
  }
}

/* Available descriptors the device has not taken, from its avail cursor
 * on: AVAIL equal to its wrap counter and USED not (§2.8.1). */
static void teach_pk_claim_avail(const scn *s, int q, uint8_t *owner, teach_wpos p) {
  const vqp_drv *d = teach_pdrv_q(s, q);
  uint16_t size = d->layout.size;
  for (uint32_t n = 0; n < size; n++) {
    uint16_t f = teach_pk_peek16(&s->mem, &d->layout, p.pos, VQP_DESC_OFF_FLAGS);
    if (teach_pk_avail_bit(f) != p.wrap || teach_pk_used_bit(f) == p.wrap) return;
    teach_pk_claim(owner, size, p, 1, TEACH_OWN_AVAIL);
    teach_pk_advance(&p, 1, size);
  }
}

/* Who owns each position of queue q. The driver's outstanding positions
 * (from its used cursor, as many as it does not count free) are lost until
 * claimed: used as the driver will read them, in flight where the device
 * holds a chain, available as the device will read them. Everything else
 * is the driver's, free. */
static void teach_pk_owners(const teach_rec *r, int q, uint8_t *owner,
                            uint16_t count[TEACH_OWN_COUNT]) {
  const scn *s = r->s;
  const vqp_drv *d = teach_pdrv_q(s, q);
  uint16_t size = d->layout.size;
  teach_wpos c[4];
  teach_pk_cursors(s, q, NULL, c);
  memset(owner, TEACH_OWN_FREE, size);
  uint32_t outstanding = d->num_free < size ? (uint32_t)(size - d->num_free) : 0u;
  for (uint32_t k = 0; k < outstanding; k++)
    owner[(c[TEACH_PK_DRV_USED].pos + k) % size] = TEACH_OWN_LOST;
  teach_pk_claim_used(s, q, owner, c[TEACH_PK_DRV_USED]);
  const vqp_dev *v = teach_pdev_q(s, q);
  if (v && r->held_size[q] == size)
    for (uint32_t id = 0; id < size; id++)
      if (r->held[q][id])
        teach_pk_claim(owner, size, (teach_wpos){r->held_pos[q][id], 0},
                       v->chain_len[id] ? (uint32_t)v->chain_len[id] : 1u, TEACH_OWN_DEVICE);
  teach_pk_claim_avail(s, q, owner, c[TEACH_PK_DEV_AVAIL]);
  memset(count, 0, sizeof count[0] * TEACH_OWN_COUNT);
  for (uint32_t i = 0; i < size; i++) count[owner[i] < TEACH_OWN_COUNT ? owner[i] : 0]++;
}

void teach_pk_count(teach_rec *r, int q, uint16_t count[TEACH_OWN_COUNT]) {
  uint16_t size = teach_qsize(r->s, q);
  if (r->pk_owner_size < size) {
    uint8_t *p = realloc(r->pk_owner, size);
    if (!p) return;
    r->pk_owner = p;
    r->pk_owner_size = size;
  }
  teach_pk_owners(r, q, r->pk_owner, count);
}

void teach_pk_snapshot(teach_rec *r, int q, teach_ring *g) {
  const vqp_layout *l = &teach_pdrv_q(r->s, q)->layout;
  g->packed = 1;
  teach_pk_read(&r->s->mem, l, g);
  teach_pk_cursors(r->s, q, g, NULL);
  teach_pk_owners(r, q, g->owner, g->count);
  if (r->wrote_size[q] == g->size)
    memcpy(g->wrote, r->wrote[q], g->size);
  else
    memset(g->wrote, 0, g->size);
  g->hdr_wrote = r->hdr_wrote[q];
}

void teach_pk_watch_quiet(teach_rec *r, int q) {
  const vqp_layout *l = &teach_pdrv_q(r->s, q)->layout;
  if (!l->size) return;
  static const uint8_t bit[4] = {TEACH_H_DRV_EVENT_FLAGS, TEACH_H_DRV_EVENT_DESC,
                                 TEACH_H_DEV_EVENT_FLAGS, TEACH_H_DEV_EVENT_DESC};
  const uint64_t addr[4] = {l->driver + VQP_EVENT_OFF_FLAGS, l->driver + VQP_EVENT_OFF_DESC,
                            l->device + VQP_EVENT_OFF_FLAGS, l->device + VQP_EVENT_OFF_DESC};
  for (int k = 0; k < 4; k++) {
    uint16_t v = 0;
    (void)gmem_peek_le16(&r->s->mem, addr[k], &v);
    if (r->quiet_size[q] == l->size && v != r->quiet_seen[q][k]) r->hdr_wrote[q] |= bit[k];
    r->quiet_seen[q][k] = v;
  }
  r->quiet_size[q] = l->size;
}
