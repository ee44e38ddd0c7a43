/* RX buffers and their headers in the walkthrough, and mergeable RX
 * buffers (VIRTIO_NET_F_MRG_RXBUF, virtio 1.2 §5.1.6.3-4): what the
 * recorder learns about each RX buffer (where it lies, whether the device
 * began a frame in it, the virtio_net_hdr it holds, in every run) and the
 * sentences that tell a frame spread over several buffers, on either ring
 * format. The trace says which buffers moved; only guest memory says what
 * num_buffers the device wrote, so the header is read back from the
 * buffer: as the device sees it where it wrote it, as the driver sees it
 * where it reads it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "teach/internal.h"
#include "virtio/vbug.h"

/* §5.1.6 struct virtio_net_hdr: u8 flags, u8 gso_type, le16 hdr_len,
 * le16 gso_size, le16 csum_start, le16 csum_offset, le16 num_buffers. */
enum {
  TEACH_HDR_OFF_FLAGS = 0,
  TEACH_HDR_OFF_GSO_TYPE = 1,
  TEACH_HDR_OFF_HDR_LEN = 2,
  TEACH_HDR_OFF_GSO_SIZE = 4,
  TEACH_HDR_OFF_CSUM_START = 6,
  TEACH_HDR_OFF_CSUM_OFFSET = 8
};

/* Under a memory model: the stores the device made to [addr, addr + len)
 * that only it sees yet, laid over raw, oldest first: the header as the
 * device wrote it, before it reaches the driver. */
static void teach_mrg_device_view(const scn *s, uint64_t addr, uint8_t *raw, size_t len) {
  if (!s->mem.mm) return;
  const emu_mm_store *st;
  size_t n = emu_mm_pending(&s->mm, s->dev.actor.index, &st);
  for (size_t i = 0; i < n; i++) {
    uint64_t from = st[i].gpa > addr ? st[i].gpa : addr;
    uint64_t to = st[i].gpa + st[i].len < addr + len ? st[i].gpa + st[i].len : addr + len;
    if (from < to)
      memcpy(raw + (from - addr), emu_mm_store_bytes(&st[i]) + (from - st[i].gpa), to - from);
  }
}

void teach_mrg_read_hdr(const scn *s, uint64_t addr, int device, teach_net_hdr *h) {
  uint8_t raw[VNET_HDR_LEN] = {0};
  memset(h, 0, sizeof *h);
  /* the buffer lies in guest memory the driver allocated: a read that
   * failed would show a zero header, and the checks read memory themselves */
  if (gmem_peek(&s->mem, addr, raw, sizeof raw)) return;
  if (device) teach_mrg_device_view(s, addr, raw, sizeof raw);
  h->flags = raw[TEACH_HDR_OFF_FLAGS];
  h->gso_type = raw[TEACH_HDR_OFF_GSO_TYPE];
  h->hdr_len = emu_get_le16(raw + TEACH_HDR_OFF_HDR_LEN);
  h->gso_size = emu_get_le16(raw + TEACH_HDR_OFF_GSO_SIZE);
  h->csum_start = emu_get_le16(raw + TEACH_HDR_OFF_CSUM_START);
  h->csum_offset = emu_get_le16(raw + TEACH_HDR_OFF_CSUM_OFFSET);
  h->num_buffers = emu_get_le16(raw + VNET_HDR_NUM_BUFFERS);
}

uint64_t teach_mrg_buf_addr(const scn *s, int64_t head) {
  const vnet_drv *d = &s->drv;
  uint16_t size = teach_qsize(s, VNET_RXQ);
  if (head < 0 || head >= size) return 0;
  const void *token = d->packed ? d->prxq.bufs[head].token : d->rxq.heads[head].token;
  return token ? d->rx_bufs + (uint64_t)vq_token_index(token) * d->rx_buf_len : 0;
}

/* --- recording ------------------------------------------------------------ */

/* 1 when the recorder follows the driver joining a frame's buffers
 * (mergeable runs only: without them every frame is one buffer, and the
 * driver reads no num_buffers). The device's side, and the header it
 * writes, it follows in every run. */
static int teach_mrg_run(const teach_rec *r) { return r->s->drv.mergeable; }

static int teach_mrg_ensure(teach_rec *r) {
  uint16_t size = teach_qsize(r->s, VNET_RXQ);
  if (!size) return 0;
  if (r->rx_size == size) return 1;
  free(r->rx_addr);
  free(r->rx_first);
  free(r->rx_nbuf);
  r->rx_addr = calloc(size, sizeof *r->rx_addr);
  r->rx_first = calloc(size, sizeof *r->rx_first);
  r->rx_nbuf = calloc(size, sizeof *r->rx_nbuf);
  r->rx_size = r->rx_addr && r->rx_first && r->rx_nbuf ? size : 0;
  return r->rx_size != 0;
}

void teach_mrg_free(teach_rec *r) {
  free(r->rx_addr);
  free(r->rx_first);
  free(r->rx_nbuf);
}

void teach_mrg_on_frame_in(teach_rec *r) {
  r->dev_frame_new = 1;
  r->dev_frame_bufs = 0;
}

void teach_mrg_on_pop(teach_rec *r, int64_t head) {
  if (!teach_mrg_ensure(r) || head < 0 || head >= r->rx_size) return;
  r->rx_addr[head] = teach_mrg_buf_addr(r->s, head);
  r->dev_frame_bufs++;
}

/* The device wrote a used element: the first one of a frame (with some
 * bytes) is where it wrote the header. */
void teach_mrg_on_push(teach_rec *r, int64_t head, int64_t len) {
  if (!teach_mrg_ensure(r) || head < 0 || head >= r->rx_size) return;
  teach_facts *f = &r->f;
  if (f->rx_npushed < TEACH_MRG_LISTED)
    f->rx_pushed[f->rx_npushed] = (teach_used_elem){(uint32_t)head, (uint32_t)len};
  f->rx_npushed++;
  r->rx_first[head] = r->dev_frame_new && len >= VNET_HDR_LEN;
  r->rx_nbuf[head] = r->dev_frame_bufs;
  if (!r->rx_first[head]) return;
  r->dev_frame_new = 0;
  teach_step *st = &r->cur;
  st->hdr_shown = TEACH_HDR_WRITTEN;
  st->hdr_head = head;
  st->hdr_addr = r->rx_addr[head];
  teach_mrg_read_hdr(r->s, st->hdr_addr, 1, &st->hdr);
}

/* The driver took a used element: as it counts, the first buffer of a
 * frame (it reads num_buffers there) or the next one of the frame it is
 * joining. The buffer stays where it was: the address learnt at the pop. */
void teach_mrg_on_consume(teach_rec *r, int64_t head, int64_t len) {
  if (!teach_mrg_run(r) || !teach_mrg_ensure(r) || head < 0 || head >= r->rx_size) return;
  teach_facts *f = &r->f;
  teach_step *st = &r->cur;
  uint32_t bytes = len > 0 ? (uint32_t)len : 0;
  if (!r->drv_left) {
    st->hdr_shown = TEACH_HDR_READ;
    st->hdr_head = head;
    st->hdr_addr = r->rx_addr[head];
    teach_mrg_read_hdr(r->s, st->hdr_addr, 0, &st->hdr);
    uint16_t n = st->hdr.num_buffers;
    /* the driver takes this buffer alone when it ignores num_buffers, or
     * when the value cannot be right (num_buffers_invalid) */
    if ((r->s->drv.opts.bugs & VBUG_MRG_FIRST_ONLY) || !n || n > r->rx_size) n = 1;
    r->drv_nbuf = n;
    r->drv_part = 0;
    r->drv_left = n;
    r->drv_joined = 0;
    r->drv_first_head = head;
    bytes = bytes > VNET_HDR_LEN ? bytes - VNET_HDR_LEN : 0;
  }
  r->drv_part++;
  r->drv_left--;
  r->drv_joined += bytes;
  f->mrg_part = r->drv_part;
  f->mrg_nbuf = r->drv_nbuf;
  f->mrg_joined = r->drv_joined;
  f->mrg_has_hdr = r->rx_first[head];
  f->mrg_dev_nbuf = r->rx_nbuf[head];
  f->mrg_first_head = r->drv_first_head;
  st->frame_head = r->drv_left ? -2 : r->drv_first_head;
}

/* The driver found the next buffer of the frame missing (mrg_buffers_apart)
 * and gave up on the frame; other rules it reports as it goes on joining. */
void teach_mrg_on_violation(teach_rec *r, const char *detail) {
  const char *apart = vq_rule_name(VQ_RULE_MRG_BUFFERS_APART);
  if (detail && !strncmp(detail, apart, strlen(apart))) r->drv_left = 0;
}

/* --- explaining ----------------------------------------------------------- */

int teach_mrg_on(const teach_expl *e) { return e->q == (int)VNET_RXQ && e->r->s->drv.mergeable; }

void teach_mrg_features(teach_expl *e) {
  if (!(e->f->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF))) return;
  teach_str_add(&e->t,
                " MRG_RXBUF lets the device spread a received frame over several RX buffers, "
                "the first one's header saying how many (§5.1.6.4)");
  if (e->f->features & VIRTIO_BIT(VIRTIO_NET_F_MTU))
    teach_str_add(&e->t,
                  "; MTU gives the driver the device's mtu, %u, in its configuration "
                  "space (§5.1.4)",
                  e->r->s->cfg.mtu);
  teach_str_add(&e->t, ".");
}

/* "head 3" on a split ring, "buffer id 3" on a packed one. */
static const char *teach_mrg_head_word(const teach_expl *e) {
  return teach_run_packed(e->r->s) ? "buffer id" : "head";
}

/* The device took the buffers a frame needs (§5.1.6.4). */
void teach_mrg_take(teach_expl *e, const teach_span *sp) {
  uint32_t buf = e->r->s->drv.rx_buf_len, need = VNET_HDR_LEN + e->f->frame_len;
  teach_str *t = &e->t;
  if (!e->f->frames_in || !sp->n) return;
  teach_str_add(t,
                " With mergeable RX buffers (MRG_RXBUF) a frame may spread over several "
                "buffers: the device takes as many as the 12-byte virtio_net_hdr and the "
                "frame need, %u bytes, in buffers of %u bytes: ",
                need, buf);
  if (sp->n == 1)
    teach_str_add(t, "one holds it all (§5.1.6.4).");
  else
    teach_str_add(t,
                  "%u (§5.1.6.4). It writes header and frame across them as one stream of "
                  "bytes, every buffer but the last filled to its end (§5.1.6.4.1).",
                  sp->n);
}

/* The title of the step where the device returns a frame's buffers. */
void teach_mrg_push_title(teach_expl *e, const char *verb, const char *where) {
  uint32_t n = e->f->rx_npushed;
  if (n == 1)
    teach_title(e, "The device %s the frame's one buffer %s", verb, where);
  else
    teach_title(e, "The device %s the frame's %u buffers %s", verb, n, where);
}

/* {id 1, len 1526}, {id 2, len 1526}, {id 3, len 1002} */
static void teach_mrg_elems(teach_str *t, const teach_facts *f) {
  uint32_t shown = f->rx_npushed < TEACH_MRG_LISTED ? f->rx_npushed : TEACH_MRG_LISTED;
  for (uint32_t k = 0; k < shown; k++)
    teach_str_add(t, "%s{id %u, len %u}", k ? ", " : "", f->rx_pushed[k].id, f->rx_pushed[k].len);
  if (f->rx_npushed > shown) teach_str_add(t, " and %u more", f->rx_npushed - shown);
}

/* The header the device wrote, and what num_buffers says (§5.1.6.3.2,
 * §5.1.6.4.1); with dev-mrg-num-buffers-one, where that goes wrong. */
void teach_mrg_push(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_step *st = e->st;
  teach_str *t = &e->t;
  if (st->hdr_shown != TEACH_HDR_WRITTEN) return;
  teach_str_add(t,
                " At the start of the first buffer, %s %" PRId64
                ", it wrote the 12-byte virtio_net_hdr (shown below): flags 0 and gso_type 0 "
                "(GSO_NONE), as no checksum or segmentation offload was negotiated "
                "(§5.1.6.4.1), and num_buffers = %u. ",
                teach_mrg_head_word(e), st->hdr_head, st->hdr.num_buffers);
  if (st->hdr.num_buffers != f->rx_npushed) {
    char tag[300];
    teach_str_add(t,
                  "But the frame went into %u buffers%s: num_buffers must be the number of "
                  "buffers the packet is spread over (§5.1.6.4.1, §5.1.6.3.2), and the driver "
                  "will take the first one for the whole frame. ",
                  f->rx_npushed, teach_bug_tag(e->r, tag, sizeof tag));
    st->wrong = 1;
  } else if (f->rx_npushed > 1) {
    teach_str_add(t,
                  "That counts the buffers this frame is spread over, this one included; the "
                  "others hold frame bytes only, no header (§5.1.6.4, §5.1.6.3.2). ");
  } else {
    teach_str_add(t, "The whole frame follows the header in this one buffer (§5.1.6.4). ");
  }
  teach_str_add(t, "Used %s%s ", teach_run_packed(e->r->s) ? "descriptor" : "element",
                f->rx_npushed == 1 ? "" : "s");
  teach_mrg_elems(t, f);
  teach_str_add(t, ": len counts the bytes written into each buffer (%s).",
                teach_run_packed(e->r->s) ? "§2.8.4" : "§2.7.8");
}

/* Without mergeable buffers: the header the device wrote before the frame
 * (§5.1.6.4.1), drawn under the step. */
void teach_hdr_written(teach_expl *e) {
  const teach_step *st = e->st;
  if (st->hdr_shown != TEACH_HDR_WRITTEN || e->q != (int)VNET_RXQ) return;
  teach_str_add(&e->t,
                " Before the frame it wrote the 12-byte virtio_net_hdr (drawn below): flags 0 "
                "and gso_type 0 (GSO_NONE), as no checksum or segmentation offload was "
                "negotiated, and num_buffers = %u: without MRG_RXBUF a frame is always in "
                "one buffer (§5.1.6.4.1, §5.1.6.3.2).",
                st->hdr.num_buffers);
}

/* Split ring: the one used.idx store that shows all of a frame's buffers. */
void teach_mrg_publish(teach_expl *e) {
  const teach_facts *f = e->f;
  uint16_t n = (uint16_t)(f->used_new[e->q] - f->used_old[e->q]);
  if (!f->used_published[e->q] || n < 2) return;
  teach_str_add(&e->t,
                " This one store makes all %u elements used at once: the driver sees a "
                "frame's buffers together or not at all, as §5.1.6.4.1 requires (at least "
                "num_buffers of them observed as used together).",
                n);
}

/* The title of a step where the driver took an RX buffer. */
void teach_mrg_consume_title(teach_expl *e) {
  const teach_facts *f = e->f;
  if (f->mrg_part == 1 && !f->mrg_has_hdr)
    teach_title(e, "The driver reads a header where there is none");
  else if (f->mrg_nbuf <= 1 && e->st->hdr.num_buffers > 1)
    teach_title(e, "The driver takes a used element alone, though num_buffers = %u",
                e->st->hdr.num_buffers);
  else if (f->mrg_nbuf <= 1)
    teach_title(e, "The driver takes a used element: num_buffers = %u, a whole frame",
                e->st->hdr.num_buffers);
  else if (f->mrg_part == 1)
    teach_title(e, "The driver reads num_buffers = %u: a frame in %u buffers", f->mrg_nbuf,
                f->mrg_nbuf);
  else if (f->mrg_part < f->mrg_nbuf)
    teach_title(e, "The driver takes buffer %u of the frame's %u", f->mrg_part, f->mrg_nbuf);
  else
    teach_title(e, "The driver takes the last of %u buffers and joins the frame", f->mrg_nbuf);
}

/* A buffer the driver reads as a frame's first that holds no header. */
static void teach_mrg_no_header(teach_expl *e) {
  char tag[300];
  teach_str_add(&e->t,
                " But the device did not begin a frame in this buffer: it holds frame bytes "
                "only, no header (§5.1.6.4). The driver reads its first 12 bytes as a "
                "virtio_net_hdr all the same, num_buffers = %u, and the rest as a frame%s.",
                e->st->hdr.num_buffers, teach_bug_tag(e->r, tag, sizeof tag));
  e->st->wrong = 1;
}

/* What the driver does with the buffer it took (§5.1.6.4), after the
 * sentence on the used element itself. */
void teach_mrg_consume(teach_expl *e) {
  const teach_facts *f = e->f;
  teach_str *t = &e->t;
  char tag[300];
  if (f->mrg_part == 1 && !f->mrg_has_hdr) {
    teach_mrg_no_header(e);
  } else if (f->mrg_part == 1) {
    teach_str_add(t, " The buffer begins with the virtio_net_hdr (shown below), num_buffers = %u",
                  e->st->hdr.num_buffers);
    if (teach_expl_bug(e, VBUG_MRG_FIRST_ONLY) && e->st->hdr.num_buffers > 1) {
      teach_str_add(t,
                    ". This driver ignores it%s and takes this buffer alone for the frame, "
                    "%u of its bytes; the next %u buffers, which hold no header, it will read "
                    "as frames of their own (§5.1.6.4).",
                    teach_bug_tag(e->r, tag, sizeof tag), f->mrg_joined,
                    e->st->hdr.num_buffers - 1u);
      e->st->wrong = 1;
    } else if (f->mrg_nbuf > 1) {
      teach_str_add(t,
                    ": the frame is spread over %u buffers, this one and the next %u it "
                    "finds used, which the device made used together (§5.1.6.4). It keeps the "
                    "%u frame bytes after the header and goes on to the next element.",
                    f->mrg_nbuf, f->mrg_nbuf - 1u, f->mrg_joined);
    } else {
      teach_str_add(t, ": the whole frame is in this buffer, after the header (§5.1.6.4).");
      if (f->mrg_dev_nbuf > 1) {
        teach_str_add(t,
                      " Yet the device took %u buffers for this frame: the driver hands on "
                      "only its first %u bytes, and the rest waits in the next used elements.",
                      f->mrg_dev_nbuf, f->mrg_joined);
        e->st->wrong = 1;
      }
    }
  } else {
    teach_str_add(t,
                  " Buffer %u of %u holds frame bytes only, no header (§5.1.6.4)%s; %u bytes "
                  "of the frame so far.",
                  f->mrg_part, f->mrg_nbuf,
                  f->mrg_part < f->mrg_nbuf ? ", and is full, as every buffer but the last "
                                              "must be (§5.1.6.4.1)"
                                            : "",
                  f->mrg_joined);
  }
  if (f->mrg_part > 1 && teach_expl_bug(e, VBUG_MRG_REPOST_FIRST)) {
    teach_str_add(t,
                  " It will not post this buffer again: this driver re-posts only a frame's "
                  "first buffer%s, and only the driver can supply buffers (§5.1.6.3), so each "
                  "frame of %u buffers costs the ring %u.",
                  teach_bug_tag(e->r, tag, sizeof tag), f->mrg_nbuf, f->mrg_nbuf - 1u);
    e->st->wrong = 1;
  }
  if (f->mrg_part == f->mrg_nbuf && f->mrg_nbuf > 1)
    teach_str_add(t, " Joined: one %u-byte frame, which it hands to the guest stack.",
                  f->mrg_joined);
  else if (f->mrg_part == f->mrg_nbuf && f->mrg_joined)
    teach_str_add(t, " It hands the %u-byte frame to the guest stack.", f->mrg_joined);
}
