/* Teaching under a memory model: which ring field a buffered store is
 * about, both sides' store buffers after a step, and what became visible
 * and which barriers ran during it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "emu/mm.h"
#include "teach/internal.h"
#include "teach/teach.h"

static const char *const teach_barrier_names[] = {"wmb", "rmb", "mb"};

/* Names a field at off inside one of the rings (§2.7.6, §2.7.8): le16
 * flags, le16 idx, the slots, then the event word. *elem_field names a
 * part of a slot (NULL for a plain slot). */
static void teach_ring_part(char *buf, size_t cap, const char *q, const char *ring, uint64_t off,
                            uint64_t slots_end, const char *event, uint32_t slot_size,
                            const char *const elem_field[2]) {
  if (off < VQ_RING_OFF_SLOTS) {
    snprintf(buf, cap, "%s %s.%s", q, ring, off < VQ_RING_OFF_IDX ? "flags" : "idx");
  } else if (off >= slots_end) {
    snprintf(buf, cap, "%s %s", q, event);
  } else {
    uint64_t slot = (off - VQ_RING_OFF_SLOTS) / slot_size,
             in = (off - VQ_RING_OFF_SLOTS) % slot_size;
    snprintf(buf, cap, "%s %s.ring[%" PRIu64 "]%s%s", q, ring, slot, elem_field ? "." : "",
             elem_field ? elem_field[in >= VQ_USED_ELEM_OFF_LEN] : "");
  }
}

/* Names gpa inside one queue's ring parts (§2.7.5, §2.7.6, §2.7.8); 0 when
 * it lies in none of them. */
static int teach_ring_field(const vq_drv *d, const char *q, uint64_t gpa, char *buf, size_t cap) {
  static const char *const desc_fields[] = {"addr", "addr", "len", "flags", "next"};
  static const char *const used_fields[2] = {"id", "len"};
  const vq_layout *l = &d->layout;
  if (!l->size) return 0;
  uint64_t off;
  if (gpa >= l->desc && (off = gpa - l->desc) < vq_desc_table_bytes(l->size)) {
    uint64_t in = off % VQ_DESC_SIZE;
    int f = in < VQ_DESC_OFF_LEN ? 0 : in < VQ_DESC_OFF_FLAGS ? 2 : in < VQ_DESC_OFF_NEXT ? 3 : 4;
    snprintf(buf, cap, "%s desc[%" PRIu64 "].%s", q, off / VQ_DESC_SIZE, desc_fields[f]);
  } else if (gpa >= l->avail && (off = gpa - l->avail) < vq_avail_bytes(l->size)) {
    teach_ring_part(buf, cap, q, "avail", off, vq_used_event_addr(l) - l->avail, "used_event",
                    VQ_AVAIL_SLOT_SIZE, NULL);
  } else if (gpa >= l->used && (off = gpa - l->used) < vq_used_bytes(l->size)) {
    teach_ring_part(buf, cap, q, "used", off, vq_avail_event_addr(l) - l->used, "avail_event",
                    VQ_USED_ELEM_SIZE, used_fields);
  } else {
    return 0;
  }
  return 1;
}

/* Names gpa inside one of the driver's buffer pools: "rx buffer 3" for its
 * start (the virtio_net_hdr), "rx buffer 3 +12" further in (the frame). */
static int teach_pool_field(const char *q, uint64_t base, uint32_t each, uint16_t count,
                            uint64_t gpa, char *buf, size_t cap) {
  if (!each || gpa < base || gpa - base >= (uint64_t)each * count) return 0;
  uint64_t off = gpa - base;
  if (off % each)
    snprintf(buf, cap, "%s buffer %" PRIu64 " +%" PRIu64, q, off / each, off % each);
  else
    snprintf(buf, cap, "%s buffer %" PRIu64, q, off / each);
  return 1;
}

void teach_field_name(const scn *s, uint64_t gpa, char *buf, size_t cap) {
  const vnet_drv *d = &s->drv;
  if (!teach_ring_field(&d->rxq, "rx", gpa, buf, cap) &&
      !teach_ring_field(&d->txq, "tx", gpa, buf, cap) &&
      !teach_pool_field("rx", d->rx_bufs, d->rx_buf_len, d->rxq.layout.size, gpa, buf, cap) &&
      !teach_pool_field("tx", d->tx_bufs, d->tx_buf_len, d->txq.layout.size, gpa, buf, cap))
    snprintf(buf, cap, "buffer 0x%" PRIx64, gpa);
}

const char *teach_memory_name(const scn *s) {
  return s->mem.mm ? emu_mm_kind_name(s->mm.kind) : NULL;
}

/* 0 for the driver, 1 for the device, -1 for any other actor. */
static int teach_side_of(const scn *s, int cpu) {
  return cpu == s->drv.actor.index ? 0 : cpu == s->dev.actor.index ? 1 : -1;
}

void teach_mem_snapshot(const scn *s, teach_buffer out[2]) {
  memset(out, 0, 2 * sizeof *out);
  if (!s->mem.mm) return;
  uint64_t now = s->sched.now_ns;
  for (int cpu = 0; cpu < s->sched.nactors; cpu++) {
    int side = teach_side_of(s, cpu);
    if (side < 0) continue;
    const emu_mm_store *st;
    size_t n = emu_mm_pending(&s->mm, cpu, &st);
    teach_buffer *b = &out[side];
    b->n = (uint32_t)n;
    for (size_t i = 0; i < n && i < TEACH_BUF_SHOWN; i++) {
      teach_pending *p = &b->shown[i];
      teach_field_name(s, st[i].gpa, p->field, sizeof p->field);
      p->len = st[i].len;
      uint8_t v[8] = {0};
      memcpy(v, emu_mm_store_bytes(&st[i]), st[i].len < sizeof v ? st[i].len : sizeof v);
      p->value = emu_get_le64(v);
      p->lands_in_ns = st[i].visible_at > now ? st[i].visible_at - now : 0;
    }
  }
}

const char *teach_buffer_line(const teach_buffer *b, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "%s", b->n ? "" : "empty");
  for (uint32_t i = 0; i < b->n && i < TEACH_BUF_SHOWN && used < cap; i++) {
    const teach_pending *p = &b->shown[i];
    if (p->len <= 8)
      used += (size_t)snprintf(buf + used, cap - used,
                               "%s%s=%" PRIu64 " in %" PRIu64 ".%03" PRIu64 " us", i ? ", " : "",
                               p->field, p->value, p->lands_in_ns / 1000, p->lands_in_ns % 1000);
    else
      used += (size_t)snprintf(
          buf + used, cap - used, "%s%s (%" PRIu32 " bytes) in %" PRIu64 ".%03" PRIu64 " us",
          i ? ", " : "", p->field, p->len, p->lands_in_ns / 1000, p->lands_in_ns % 1000);
  }
  if (b->n > TEACH_BUF_SHOWN && used < cap)
    snprintf(buf + used, cap - used, " and %" PRIu32 " more", b->n - TEACH_BUF_SHOWN);
  return buf;
}

void teach_mem_note(teach_rec *r, const emu_trace_rec *rec) {
  if (!r->open || !rec->actor) return;
  int side = !strcmp(rec->actor, "driver") ? 0 : !strcmp(rec->actor, "device") ? 1 : -1;
  if (side < 0) return;
  teach_facts *f = &r->f;
  if (rec->kind == EMU_TR_BARRIER) {
    for (int k = 0; k < 3; k++)
      if (rec->detail && !strcmp(rec->detail, teach_barrier_names[k])) f->barriers[side][k]++;
    return;
  }
  if (f->visible[side]++ >= 3) return; /* the first three are named */
  char name[40];
  teach_field_name(r->s, (uint64_t)rec->idx, name, sizeof name);
  size_t used = strlen(f->visible_fields[side]);
  snprintf(f->visible_fields[side] + used, sizeof f->visible_fields[side] - used, "%s%s",
           used ? ", " : "", name);
}

/* "wmb, mb" for one side's barriers in the step. */
static void teach_barrier_list(const uint32_t counts[3], char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; k < 3 && used < cap; k++)
    if (counts[k])
      used += (size_t)snprintf(buf + used, cap - used, "%s%s%s", used ? ", " : "",
                               teach_barrier_names[k], counts[k] > 1 ? " (more than once)" : "");
}

size_t teach_mem_explain(const teach_rec *r, char *buf, size_t cap) {
  static const char *const side_names[] = {"driver", "device"};
  const char *model = teach_memory_name(r->s);
  if (!model || !cap) return 0;
  size_t used = 0;
  buf[0] = '\0';
  for (int side = 0; side < 2 && used < cap; side++) {
    const teach_facts *f = &r->f;
    char bars[64];
    teach_barrier_list(f->barriers[side], bars, sizeof bars);
    if (f->visible[side])
      used += (size_t)snprintf(buf + used, cap - used,
                               " Under %s, the %s's store%s to %s%s became visible to the other "
                               "side only now.",
                               model, side_names[side], f->visible[side] == 1 ? "" : "s",
                               f->visible_fields[side], f->visible[side] > 3 ? " and more" : "");
    if (bars[0] && used < cap)
      used += (size_t)snprintf(buf + used, cap - used, " The %s's barriers: %s.", side_names[side],
                               bars);
  }
  return used < cap ? used : cap - 1;
}
