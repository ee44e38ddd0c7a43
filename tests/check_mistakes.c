/* Mistakes a driver or device author makes, each written by hand against
 * the public API, and the rule vnetsim names for it: the exact rule, whose
 * rule it is (driver or device), the head it is about and the virtio 1.2
 * section. The same toy driver and toy device without a planted mistake
 * break no rule over 100 seeds.
 *
 * The toy driver writes its rings with vns_mem_* as a driver author would:
 * descriptor i is RX buffer i (one device-writable segment), TX frames go
 * out as one chain of header + frame. The toy device uses the device-half
 * helpers (vns_dvq_*). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vnetsim/vnetsim.h>

#define US     1000ull
#define T0     1000000000ull
#define QSIZE  16u
#define RX_BUF VNS_NET_MIN_RX_BUF

typedef enum mistake {
  M_NONE,
  M_KICK_BEFORE_DRIVER_OK,
  M_DESC_MISALIGNED,
  M_AVAIL_MISALIGNED,
  M_USED_MISALIGNED,
  M_AVAIL_OVER_DESC,
  M_USED_OVER_AVAIL,
  M_RING_OUTSIDE,
  M_RX_BUF_1000,
  M_HEAD_TWICE_FULL,
  M_HEAD_TWICE,
  M_NEXT_RANGE,
  M_LEN_ZERO,
  M_ADDR_OUTSIDE,
  M_CHAIN_LOOP,
  M_READ_AFTER_WRITE,
  M_INDIRECT_UNNEGOTIATED,
  M_AVAIL_JUMP,
  M_AVAIL_BACKWARDS,
  M_QUEUE_AFTER_DRIVER_OK,
  M_TX_WRITABLE,
  M_TX_HEADER_ONLY,
  M_TX_NO_KICK,
  M_RX_UNREPORTED,
  M_USED_SLOT_WRAP_2X, /* the used slot as idx % (2 * size): past the ring on every other lap */
  M_COUNT
} mistake;

typedef struct toy {
  vns_sim *sim;
  vns_transport *t;
  mistake m;
  vns_ring_layout rx, tx;
  uint64_t bufs, spare;
  uint16_t avail_idx, last_used;
  int config_changes; /* configuration change notifications heard */
} toy;

/* --- the toy driver ------------------------------------------------------- */

static int toy_alloc(vns_sim *sim, uint64_t len, uint64_t align, uint64_t *gpa) {
  return vns_mem_alloc(sim, len, align, gpa);
}

/* Queue q's three parts, laid out right or with the planted mistake. */
static int toy_rings(toy *d, vns_ring_layout *l, int planted) {
  l->size = QSIZE;
  uint64_t base;
  int rc = toy_alloc(d->sim, 4096, 4096, &base);
  if (rc) return rc;
  l->desc = base;
  l->avail = base + 1024;
  l->used = base + 2048;
  if (!planted) return 0;
  switch (d->m) {
    case M_DESC_MISALIGNED:
      l->desc += 8;
      break;
    case M_AVAIL_MISALIGNED:
      l->avail += 1;
      break;
    case M_USED_MISALIGNED:
      l->used += 2;
      break;
    case M_AVAIL_OVER_DESC:
      l->avail = l->desc + 64;
      break;
    case M_USED_OVER_AVAIL:
      l->used = l->avail + 8;
      break;
    case M_RING_OUTSIDE:
      l->used = 0x10;
      break;
    default:
      break;
  }
  return 0;
}

static void toy_desc(toy *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
  uint64_t at = VNS_DESC_ADDR(&d->rx, i);
  vns_mem_write_le64(d->sim, at, addr);
  vns_mem_write_le32(d->sim, at + 8, len);
  vns_mem_write_le16(d->sim, at + 12, flags);
  vns_mem_write_le16(d->sim, at + 14, next);
}

/* RX buffer i as descriptor i, in the next avail slot; mistakes about a
 * chain are planted in buffer 0. */
static void toy_post(toy *d, uint16_t i) {
  uint32_t len = d->m == M_RX_BUF_1000 ? 1000 : RX_BUF;
  uint64_t addr = d->bufs + (uint64_t)i * RX_BUF;
  uint16_t flags = VNS_DESC_F_WRITE, next = 0;
  if (i == 0) switch (d->m) {
      case M_NEXT_RANGE:
        flags |= VNS_DESC_F_NEXT, next = 200;
        break;
      case M_LEN_ZERO:
        len = 0;
        break;
      case M_ADDR_OUTSIDE:
        addr = 0x10;
        break;
      case M_CHAIN_LOOP:
        flags |= VNS_DESC_F_NEXT, next = 0;
        break;
      case M_READ_AFTER_WRITE:
        flags |= VNS_DESC_F_NEXT, next = QSIZE - 1;
        toy_desc(d, QSIZE - 1, d->spare, 64, 0, 0); /* device-readable after the writable head */
        break;
      case M_INDIRECT_UNNEGOTIATED:
        flags = VNS_DESC_F_INDIRECT, len = 32;
        break;
      default:
        break;
    }
  toy_desc(d, i, addr, len, flags, next);
  vns_mem_write_le16(d->sim, VNS_AVAIL_SLOT_ADDR(&d->rx, d->avail_idx), i);
  d->avail_idx++;
}

static void toy_publish(toy *d) {
  vns_mem_write_le16(d->sim, VNS_AVAIL_IDX_ADDR(&d->rx), d->avail_idx);
  vns_transport_notify(d->t, VNS_QUEUE_RX);
}

static int toy_negotiate(toy *d) {
  vns_transport *t = d->t;
  int rc = vns_transport_set_status(t, 0);
  if (!rc) rc = vns_transport_set_status(t, VNS_STATUS_ACKNOWLEDGE);
  if (!rc) rc = vns_transport_set_status(t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER);
  if (!rc) rc = vns_transport_set_driver_features(t, VNS_BIT(VNS_F_VERSION_1));
  if (!rc)
    rc = vns_transport_set_status(
        t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER | VNS_STATUS_FEATURES_OK);
  return rc;
}

static int toy_driver_ok(toy *d) {
  return vns_transport_set_status(d->t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER |
                                            VNS_STATUS_FEATURES_OK | VNS_STATUS_DRIVER_OK);
}

/* The RX offers after DRIVER_OK, with the index mistakes. */
static void toy_offer_rx(toy *d) {
  uint16_t n = d->m == M_HEAD_TWICE_FULL ? QSIZE : QSIZE / 2;
  for (uint16_t i = 0; i < n; i++) toy_post(d, i);
  if (d->m == M_HEAD_TWICE_FULL || d->m == M_HEAD_TWICE) {
    /* head 3 once more, while the device may hold it */
    vns_mem_write_le16(d->sim, VNS_AVAIL_SLOT_ADDR(&d->rx, d->avail_idx), 3);
    d->avail_idx++;
  }
  if (d->m == M_AVAIL_JUMP) d->avail_idx = (uint16_t)(d->avail_idx + 1000);
  toy_publish(d);
}

static int toy_probe(void *ctx, vns_sim *sim, vns_transport *t) {
  toy *d = ctx;
  d->sim = sim;
  d->t = t;
  int rc = toy_negotiate(d);
  if (!rc) rc = toy_rings(d, &d->rx, 1);
  if (!rc) rc = toy_rings(d, &d->tx, 0);
  if (!rc) rc = toy_alloc(sim, (uint64_t)QSIZE * RX_BUF, 64, &d->bufs);
  if (!rc) rc = toy_alloc(sim, 4096, 64, &d->spare);
  if (rc) return rc;
  int rx_rc = vns_transport_queue_setup(t, VNS_QUEUE_RX, &d->rx);
  rc = vns_transport_queue_setup(t, VNS_QUEUE_TX, &d->tx);
  if (rx_rc) return 0; /* a ring the device refused: the rule is in the log */
  if (rc) return rc;
  if (d->m == M_KICK_BEFORE_DRIVER_OK) vns_transport_notify(t, VNS_QUEUE_RX);
  rc = toy_driver_ok(d);
  if (rc) return rc;
  if (d->m == M_QUEUE_AFTER_DRIVER_OK) vns_transport_queue_setup(t, VNS_QUEUE_TX, &d->tx);
  toy_offer_rx(d);
  return 0;
}

/* A TX chain at head 0 of the TX ring: header + frame, or the mistake. */
static void toy_send(toy *d) {
  vns_ring_layout *l = &d->tx;
  uint64_t hdr = d->spare + 1024, frame = hdr + VNS_NET_HDR_LEN;
  uint8_t arp[64];
  size_t len = vns_frame_arp_request(arp, sizeof arp, VNS_HOST_IP);
  vns_mem_write(d->sim, hdr, "\0\0\0\0\0\0\0\0\0\0\0\0", VNS_NET_HDR_LEN);
  vns_mem_write(d->sim, frame, arp, len);
  int header_only = d->m == M_TX_HEADER_ONLY;
  uint16_t second = d->m == M_TX_WRITABLE ? VNS_DESC_F_WRITE : 0;
  vns_mem_write_le64(d->sim, VNS_DESC_ADDR(l, 0), hdr);
  vns_mem_write_le32(d->sim, VNS_DESC_ADDR(l, 0) + 8, VNS_NET_HDR_LEN);
  vns_mem_write_le16(d->sim, VNS_DESC_ADDR(l, 0) + 12, header_only ? 0 : VNS_DESC_F_NEXT);
  vns_mem_write_le16(d->sim, VNS_DESC_ADDR(l, 0) + 14, 1);
  vns_mem_write_le64(d->sim, VNS_DESC_ADDR(l, 1), frame);
  vns_mem_write_le32(d->sim, VNS_DESC_ADDR(l, 1) + 8, (uint32_t)len);
  vns_mem_write_le16(d->sim, VNS_DESC_ADDR(l, 1) + 12, second);
  vns_mem_write_le16(d->sim, VNS_AVAIL_SLOT_ADDR(l, 0), 0);
  vns_driver_tx_queued(d->sim, 0); /* a ring written by hand: the ledger learns of it */
  vns_mem_write_le16(d->sim, VNS_AVAIL_IDX_ADDR(l), 1);
  if (d->m != M_TX_NO_KICK) vns_transport_notify(d->t, VNS_QUEUE_TX);
}

/* Reads the RX used ring by hand and offers each buffer read again; tells
 * the ledger of each read unless that is the mistake. */
static void toy_consume_rx(toy *d) {
  uint16_t used = 0;
  vns_mem_read_le16(d->sim, VNS_USED_IDX_ADDR(&d->rx), &used);
  vns_mem_rmb(d->sim);
  while (d->last_used != used) {
    uint32_t head = 0;
    uint64_t slot = VNS_USED_SLOT_ADDR(&d->rx, d->last_used);
    if (d->m == M_USED_SLOT_WRAP_2X) slot = d->rx.used + 4 + 8ull * (d->last_used % (2 * QSIZE));
    vns_mem_read_le32(d->sim, slot, &head);
    d->last_used++;
    if (d->m != M_RX_UNREPORTED) vns_driver_rx_consumed(d->sim, (uint16_t)head, 1);
    toy_post(d, (uint16_t)head);
  }
  vns_mem_wmb(d->sim);
  toy_publish(d);
}

static void toy_on_interrupt(void *ctx, vns_sim *sim, uint16_t q) {
  toy *d = ctx;
  (void)sim;
  if (q != VNS_QUEUE_RX) return;
  if (d->m == M_NONE || d->m == M_RX_UNREPORTED || d->m == M_USED_SLOT_WRAP_2X) toy_consume_rx(d);
  if (d->m == M_AVAIL_BACKWARDS) {
    d->avail_idx = (uint16_t)(d->avail_idx - 4); /* back over slots the device took */
    toy_publish(d);
  }
}

static void toy_on_timer(void *ctx, vns_sim *sim, uint64_t now) {
  (void)sim;
  (void)now;
  toy_send(ctx);
}

static void toy_on_config_change(void *ctx, vns_sim *sim) {
  (void)sim;
  ((toy *)ctx)->config_changes++;
}

static const vns_driver_ops toy_ops = {toy_probe, toy_on_interrupt, toy_on_timer, NULL,
                                       toy_on_config_change};

/* --- running one --------------------------------------------------------- */

/* A sim with one half of ours (driver or device, as o says), and three
 * ARP requests for the guest on their way, 100 us apart. */
static vns_sim *start_with(vns_sim_opts *o, uint64_t seed) {
  o->seed = seed;
  o->queue_size = QSIZE;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(o, &sim), 0);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(vns_sim_inject(sim, T0 + i * 100 * US, f, len), 0);
  return sim;
}

static vns_sim *toy_run(toy *d, mistake m, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->m = m;
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.driver = &toy_ops;
  o.driver_ctx = d;
  vns_sim *sim = start_with(&o, seed);
  /* and a full-size frame, which a short RX buffer cannot take */
  uint8_t f[1514];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  memset(f + len, 0, sizeof f - len);
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 400 * US, f, sizeof f), 0);
  /* and, for the mistakes that need laps of the ring, more small frames */
  if (m == M_USED_SLOT_WRAP_2X)
    for (unsigned i = 0; i < 3 * QSIZE; i++)
      ck_assert_int_eq(vns_sim_inject(sim, T0 + (600 + i * 50) * US, f, 64), 0);
  if (m == M_TX_WRITABLE || m == M_TX_HEADER_ONLY || m == M_TX_NO_KICK || m == M_NONE)
    ck_assert_int_eq(vns_driver_timer_at(sim, T0 + 500 * US), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  return sim;
}

/* The first violation names `rule`: its section and side from the rule
 * table, its head as given (-1: not about one head). */
static void expect_rule(const vns_sim *sim, const char *rule, const char *side, int64_t head) {
  ck_assert_msg(vns_sim_violation_count(sim) > 0, "no violation, expected %s", rule);
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, rule);
  vns_rule_info info;
  size_t i = 0;
  while (vns_rule_describe(i, &info) == 0 && strcmp(info.name, rule)) i++;
  ck_assert_str_eq(info.name, rule);
  ck_assert_str_eq(info.side, side);
  ck_assert_str_eq(v.section, info.section);
  ck_assert_int_eq(v.head, head);
}

static const struct {
  mistake m;
  const char *rule, *section;
  int64_t head;
} driver_mistakes[] = {
    {M_KICK_BEFORE_DRIVER_OK, "kick_before_driver_ok", "3.1.1", -1},
    {M_DESC_MISALIGNED, "ring_misaligned", "2.7", -1},
    {M_AVAIL_MISALIGNED, "ring_misaligned", "2.7", -1},
    {M_USED_MISALIGNED, "ring_misaligned", "2.7", -1},
    {M_AVAIL_OVER_DESC, "ring_overlap", "2.7", -1},
    {M_USED_OVER_AVAIL, "ring_overlap", "2.7", -1},
    {M_RING_OUTSIDE, "ring_addr_range", "2.7", -1},
    {M_RX_BUF_1000, "rx_buf_short", "5.1.6.3.1", 0},
    {M_HEAD_TWICE_FULL, "head_in_flight", "2.7.13", 3},
    {M_HEAD_TWICE, "head_in_flight", "2.7.13", 3},
    {M_NEXT_RANGE, "desc_index_range", "2.7.5", 0},
    {M_LEN_ZERO, "desc_len_zero", "2.7.4.2", 0},
    {M_ADDR_OUTSIDE, "desc_addr_range", "2.7.5", 0},
    {M_CHAIN_LOOP, "chain_too_long", "2.7.5.2", 0},
    {M_READ_AFTER_WRITE, "write_before_read", "2.7.4.2", 0},
    {M_INDIRECT_UNNEGOTIATED, "indirect_not_negotiated", "2.7.5.3.1", 0},
    {M_AVAIL_JUMP, "avail_idx_jump", "2.7.6", -1},
    {M_AVAIL_BACKWARDS, "avail_idx_backwards", "2.7.6", -1},
    {M_QUEUE_AFTER_DRIVER_OK, "queue_after_driver_ok", "3.1.1", -1},
    {M_TX_WRITABLE, "tx_chain_writable", "5.1.6.2", 0},
    {M_TX_HEADER_ONLY, "tx_frame_short", "5.1.6.2", 0},
    {M_TX_NO_KICK, "kick_missing", "2.7.10.1", -1},
    /* on its second lap it reads past the used ring (head 0, where nothing
     * was pushed) and offers head 0 again while the device holds it */
    {M_USED_SLOT_WRAP_2X, "head_in_flight", "2.7.13", 0},
};

START_TEST(test_each_driver_mistake_is_named) {
  toy d;
  vns_sim *sim = toy_run(&d, driver_mistakes[_i].m, 1);
  /* an owed notification is owed until the end */
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  expect_rule(sim, driver_mistakes[_i].rule, "driver", driver_mistakes[_i].head);
  vns_violation v;
  vns_sim_violation(sim, 0, &v);
  ck_assert_str_eq(v.section, driver_mistakes[_i].section);
  ck_assert_str_eq(v.actor, "device"); /* the device noticed the driver's mistake */
  vns_sim_free(sim);
}
END_TEST

/* §2.1.2: a device that sets DEVICE_NEEDS_RESET after DRIVER_OK tells the
 * driver with a configuration change notification. */
START_TEST(test_needs_reset_is_told_by_a_config_change) {
  toy d;
  vns_sim *sim = toy_run(&d, M_NEXT_RANGE, 1);
  ck_assert_uint_ne(vns_sim_device_status(sim) & VNS_STATUS_DEVICE_NEEDS_RESET, 0);
  ck_assert_int_eq(d.config_changes, 1);
  vns_sim_free(sim);
  sim = toy_run(&d, M_NONE, 1);
  ck_assert_int_eq(d.config_changes, 0);
  vns_sim_free(sim);
}
END_TEST

/* The frame the driver never kicked for is still in the ring, and says so. */
START_TEST(test_a_tx_frame_never_kicked_is_tx_not_kicked) {
  toy d;
  vns_sim *sim = toy_run(&d, M_TX_NO_KICK, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_uint_eq(vns_sim_tx_frame_count(sim), 1);
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 0), "tx_not_kicked");
  vns_sim_free(sim);
}
END_TEST

/* A driver reading the used ring by hand that never tells the sim what it
 * read: its frames would all look lost. Said once, as a note, not as a
 * virtio rule (the ring itself is used correctly). */
START_TEST(test_unreported_rx_reads_are_noted_once) {
  toy d;
  vns_sim *sim = toy_run(&d, M_RX_UNREPORTED, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  ck_assert_uint_eq(vns_sim_note_count(sim), 1);
  ck_assert_ptr_nonnull(strstr(vns_sim_note(sim, 0), "vns_driver_rx_consumed()"));
  ck_assert_ptr_null(vns_sim_note(sim, 1));
  vns_sim_free(sim);
  /* the same driver telling the sim: no note, and the frames delivered */
  sim = toy_run(&d, M_NONE, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_uint_eq(vns_sim_note_count(sim), 0);
  for (size_t i = 0; i < 3; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "delivered");
  vns_sim_free(sim);
}
END_TEST

/* rx_buf_short is a warning: the short frames still arrive, and the
 * full-size one is then refused by its own rule. */
START_TEST(test_a_short_rx_buffer_warns_once_and_takes_short_frames) {
  toy d;
  vns_sim *sim = toy_run(&d, M_RX_BUF_1000, 1);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 2);
  vns_violation v;
  vns_sim_violation(sim, 1, &v);
  ck_assert_str_eq(v.rule, "rx_buf_too_small");
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  /* placed in its buffer (the toy driver reads no used ring) */
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "rx_not_consumed");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 3), "rx_buffer_too_small");
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_the_toy_driver_without_mistakes_breaks_no_rule_over_100_seeds) {
  for (uint64_t seed = 1; seed <= 100; seed++) {
    toy d;
    vns_sim *sim = toy_run(&d, M_NONE, seed);
    ck_assert_msg(vns_sim_violation_count(sim) == 0, "seed %llu", (unsigned long long)seed);
    ck_assert_uint_eq(vns_sim_device_status(sim) & VNS_STATUS_DEVICE_NEEDS_RESET, 0);
    /* its one hand-written TX frame, told to the ledger, reached the host */
    ck_assert_int_eq(vns_sim_finish(sim), 0);
    ck_assert_uint_eq(vns_sim_tx_frame_count(sim), 1);
    ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 0), "sent");
    vns_sim_free(sim);
  }
}
END_TEST

/* --- the toy device: a user device half against the modelled driver ------- */

typedef enum dev_mistake {
  DM_NONE,
  DM_PUSH_NOT_POPPED, /* pushes head (popped + 1) instead */
  DM_PUSH_TWICE,      /* pushes the same head twice */
  DM_LEN_TOO_BIG,     /* claims more bytes than the chain holds */
  DM_USED_ID_RANGE,   /* writes the used ring by hand: an id past the queue */
  DM_USED_IDX_JUMP,   /* writes used.idx by hand, 100 past what it pushed */
  DM_TX_NOT_SENT,     /* takes TX chains and returns them without sending the frame */
  DM_NO_INTERRUPT,    /* never interrupts, though the driver asks for it */
  DM_COUNT
} dev_mistake;

typedef struct toy_dev {
  dev_mistake m;
  int link_down;  /* what the config space's status says */
  int hold_third; /* keeps the third host frame in a backlog of its own */
  int64_t held;   /* the frame it holds, or -1 */
  int finish_calls;
  int offer_packed; /* offers RING_PACKED; its queues are packed when taken */
  uint8_t status;
  uint64_t features;
  vns_ring_layout layout[2];
  vns_dvq *q[2];
} toy_dev;

static uint64_t td_features(void *ctx, vns_sim *sim) {
  (void)sim;
  return VNS_BIT(VNS_F_VERSION_1) | VNS_BIT(VNS_F_NET_MAC) | VNS_BIT(VNS_F_NET_STATUS) |
         (((toy_dev *)ctx)->offer_packed ? VNS_BIT(VNS_F_RING_PACKED) : 0);
}

/* mac, then the status word (§5.1.4) */
static int td_read_config(void *ctx, vns_sim *sim, uint32_t off, void *buf, uint32_t len) {
  (void)sim;
  uint8_t cfg[8] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0};
  cfg[6] = ((toy_dev *)ctx)->link_down ? 0 : VNS_NET_S_LINK_UP;
  if (off > sizeof cfg || len > sizeof cfg - off) return VNS_ERANGE;
  memcpy(buf, cfg + off, len);
  return 0;
}

static int td_set_features(void *ctx, vns_sim *sim, uint64_t f) {
  (void)sim;
  ((toy_dev *)ctx)->features = f;
  return 0;
}

static uint8_t td_get_status(void *ctx, vns_sim *sim) {
  (void)sim;
  return ((toy_dev *)ctx)->status;
}

static int td_set_status(void *ctx, vns_sim *sim, uint8_t s) {
  toy_dev *d = ctx;
  (void)sim;
  if (s == 0)
    for (int q = 0; q < 2; q++) {
      vns_dvq_free(d->q[q]);
      d->q[q] = NULL;
    }
  d->status = s;
  return 0;
}

static uint16_t td_queue_max(void *ctx, vns_sim *sim, uint16_t q) {
  (void)ctx;
  (void)sim;
  return q < 2 ? QSIZE : 0;
}

static int td_queue_setup(void *ctx, vns_sim *sim, uint16_t q, const vns_ring_layout *l) {
  toy_dev *d = ctx;
  if (q >= 2 || d->q[q]) return VNS_EINVAL;
  d->layout[q] = *l;
  unsigned packed = d->features & VNS_BIT(VNS_F_RING_PACKED) ? VNS_DVQ_PACKED : 0;
  return vns_dvq_new(sim, q, l, packed, &d->q[q]);
}

/* Returns a chain the way this device does it, mistake included. */
static void td_return(toy_dev *d, vns_sim *sim, const vns_chain *c, uint32_t len) {
  vns_dvq *rx = d->q[VNS_QUEUE_RX];
  const vns_ring_layout *l = &d->layout[VNS_QUEUE_RX];
  switch (d->m) {
    case DM_PUSH_NOT_POPPED:
      vns_dvq_push(rx, (uint16_t)((c->head + 1) % QSIZE), len);
      break;
    case DM_PUSH_TWICE:
      vns_dvq_push(rx, c->head, len);
      vns_dvq_push(rx, c->head, len);
      break;
    case DM_LEN_TOO_BIG:
      vns_dvq_push(rx, c->head, c->writable_len + 1);
      break;
    case DM_USED_ID_RANGE:
    case DM_USED_IDX_JUMP: {
      uint16_t idx = 0;
      vns_mem_read_le16(sim, VNS_USED_IDX_ADDR(l), &idx);
      vns_mem_write_le32(sim, VNS_USED_SLOT_ADDR(l, idx), d->m == DM_USED_ID_RANGE ? 999 : c->head);
      vns_mem_write_le32(sim, VNS_USED_SLOT_ADDR(l, idx) + 4, len);
      vns_mem_write_le16(sim, VNS_USED_IDX_ADDR(l),
                         (uint16_t)(idx + (d->m == DM_USED_IDX_JUMP ? 100 : 1)));
      vns_device_interrupt(sim, VNS_QUEUE_RX);
      return;
    }
    default:
      vns_dvq_push(rx, c->head, len);
      break;
  }
  if (vns_dvq_publish(rx) == 1 && d->m != DM_NO_INTERRUPT) vns_device_interrupt(sim, VNS_QUEUE_RX);
}

static void td_on_frame(void *ctx, vns_sim *sim, uint32_t id, const uint8_t *frame, size_t len) {
  toy_dev *d = ctx;
  if (d->hold_third && id == 2) {
    d->held = id;
    return;
  }
  vns_dvq *rx = d->q[VNS_QUEUE_RX];
  vns_chain c;
  if (!rx || !(d->status & VNS_STATUS_DRIVER_OK) || vns_dvq_pop(rx, &c) ||
      c.writable_len < VNS_NET_HDR_LEN + len) {
    vns_device_frame_dropped(sim, id, "rx_no_buffer");
    return;
  }
  uint8_t hdr[VNS_NET_HDR_LEN] = {0};
  hdr[10] = 1; /* num_buffers (§5.1.6.4) */
  vns_dvq_write(rx, 0, hdr, sizeof hdr);
  vns_dvq_write(rx, VNS_NET_HDR_LEN, frame, len);
  vns_device_frame_placed(sim, id, c.head);
  td_return(d, sim, &c, (uint32_t)(VNS_NET_HDR_LEN + len));
}

static void td_on_kick(void *ctx, vns_sim *sim, uint16_t q) {
  toy_dev *d = ctx;
  vns_dvq *tx = d->q[VNS_QUEUE_TX];
  if (q != VNS_QUEUE_TX || !tx) return;
  vns_chain c;
  while (vns_dvq_pop(tx, &c) == 0) {
    uint8_t frame[1514];
    uint64_t len = c.readable_len - VNS_NET_HDR_LEN;
    if (d->m != DM_TX_NOT_SENT && c.readable_len > VNS_NET_HDR_LEN && len <= sizeof frame &&
        vns_dvq_read(tx, VNS_NET_HDR_LEN, frame, (size_t)len) == 0)
      vns_device_send(sim, frame, (size_t)len);
    vns_dvq_push(tx, c.head, 0);
  }
  if (vns_dvq_publish(tx) == 1) vns_device_interrupt(sim, VNS_QUEUE_TX);
}

static void td_remove(void *ctx, vns_sim *sim) { td_set_status(ctx, sim, 0); }

/* What it still holds when the run ends never found a buffer. */
static void td_on_finish(void *ctx, vns_sim *sim) {
  toy_dev *d = ctx;
  d->finish_calls++;
  if (d->held >= 0) vns_device_frame_dropped(sim, (uint32_t)d->held, "rx_no_buffer");
  d->held = -1;
}

static const vns_device_ops toy_dev_ops = {
    .device_features = td_features,
    .set_driver_features = td_set_features,
    .get_status = td_get_status,
    .set_status = td_set_status,
    .read_config = td_read_config,
    .queue_max_size = td_queue_max,
    .queue_setup = td_queue_setup,
    .on_kick = td_on_kick,
    .on_frame = td_on_frame,
    .remove = td_remove,
    .on_finish = td_on_finish,
};

/* A toy device with no mistake and nothing held, its options still to set. */
static void toy_dev_reset(toy_dev *d) {
  memset(d, 0, sizeof *d);
  d->held = -1;
}

/* A sim with the toy device d on rings of that format, the ARPs queued. */
static vns_sim *toy_dev_start(toy_dev *d, int ring, uint64_t seed) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.device = &toy_dev_ops;
  o.device_ctx = d;
  o.ring = ring;
  return start_with(&o, seed);
}

static vns_sim *toy_dev_run(toy_dev *d, dev_mistake m, uint64_t seed) {
  toy_dev_reset(d);
  d->m = m;
  vns_sim *sim = toy_dev_start(d, VNS_RING_SPLIT, seed);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  return sim;
}

static const struct {
  dev_mistake m;
  const char *rule, *section, *noticed_by;
  int head_of_chain; /* 1: the violation names the chain's head (0, the first popped) */
} device_mistakes[] = {
    {DM_PUSH_NOT_POPPED, "push_not_taken", "2.7.8", "device", 0},
    {DM_PUSH_TWICE, "push_not_taken", "2.7.8", "device", 1},
    {DM_LEN_TOO_BIG, "push_len_too_big", "2.7.8.2", "device", 1},
    {DM_USED_ID_RANGE, "used_id_range", "2.7.8", "driver", 0},
    {DM_USED_IDX_JUMP, "used_idx_jump", "2.7.8", "driver", 0},
    {DM_NO_INTERRUPT, "interrupt_missing", "2.7.7.2", "driver", 0},
};

/* The heads the two halves name: the modelled driver posts its RX buffers
 * from head 0, so the first chain popped is head 0; a push of head + 1
 * names head 1; a used id of 999 names 999; a jump names none. */
static int64_t device_mistake_head(dev_mistake m) {
  switch (m) {
    case DM_PUSH_NOT_POPPED:
      return 1;
    case DM_USED_ID_RANGE:
      return 999;
    case DM_USED_IDX_JUMP:
    case DM_NO_INTERRUPT:
      return -1;
    default:
      return 0;
  }
}

START_TEST(test_each_device_mistake_is_named) {
  toy_dev d;
  vns_sim *sim = toy_dev_run(&d, device_mistakes[_i].m, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  expect_rule(sim, device_mistakes[_i].rule, "device", device_mistake_head(device_mistakes[_i].m));
  vns_violation v;
  vns_sim_violation(sim, 0, &v);
  ck_assert_str_eq(v.section, device_mistakes[_i].section);
  ck_assert_str_eq(v.actor, device_mistakes[_i].noticed_by);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_the_toy_device_without_mistakes_breaks_no_rule_over_100_seeds) {
  for (uint64_t seed = 1; seed <= 100; seed++) {
    toy_dev d;
    vns_sim *sim = toy_dev_run(&d, DM_NONE, seed);
    ck_assert_msg(vns_sim_violation_count(sim) == 0, "seed %llu", (unsigned long long)seed);
    ck_assert_int_eq(vns_sim_finish(sim), 0);
    ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered");
    /* the guest's ARP replies went through the toy's TX queue to the host */
    size_t n = vns_sim_tx_frame_count(sim);
    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(vns_sim_tx_frame_fate(sim, i), "sent");
    vns_sim_free(sim);
  }
}
END_TEST

/* Not a ring rule, but no frame lost silently: the guest frames the device
 * took and never sent are the device's drops, each with its fate. */
START_TEST(test_tx_chains_the_device_never_sends_are_rejected) {
  toy_dev d;
  vns_sim *sim = toy_dev_run(&d, DM_TX_NOT_SENT, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  uint64_t rejected = 0, sent = 1;
  ck_assert_int_eq(vns_sim_tx_fate_count(sim, "tx_chain_rejected", &rejected), 0);
  ck_assert_int_eq(vns_sim_tx_fate_count(sim, "sent", &sent), 0);
  ck_assert_uint_eq(sent, 0);
  ck_assert_uint_gt(rejected, 0);
  ck_assert_uint_eq(rejected, vns_sim_tx_frame_count(sim));
  vns_sim_free(sim);
}
END_TEST

/* The device's link goes down and it says so (§3.2.1): the modelled
 * driver reads the status again and sends nothing more; the guest's
 * replies stop there, each with its fate. */
START_TEST(test_a_device_telling_of_its_link_down_stops_the_drivers_sends) {
  toy_dev d;
  toy_dev_reset(&d);
  vns_sim *sim = toy_dev_start(&d, VNS_RING_SPLIT, 1);
  ck_assert_int_ge(vns_sim_run(sim, T0 + 50 * US), 0);
  d.link_down = 1;
  ck_assert_int_eq(vns_device_config_changed(sim), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  size_t n = vns_sim_tx_frame_count(sim);
  ck_assert_uint_eq(n, 3); /* a reply to each ARP request */
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 0), "sent");
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 1), "link_down");
  ck_assert_str_eq(vns_sim_tx_frame_fate(sim, 2), "link_down");
  uint64_t told = 0;
  vns_trace_event ev;
  for (size_t i = 0; vns_sim_trace_event(sim, i, &ev) == 0; i++)
    told += !strcmp(ev.event, "interrupt_received") && !strcmp(ev.queue, "config");
  ck_assert_uint_eq(told, 1);
  ck_assert_int_eq(vns_device_config_changed(NULL), VNS_EINVAL);
  vns_sim_free(sim);
}
END_TEST

/* A device that holds a frame settles its fate in on_finish, inside
 * vns_sim_finish(), stamped with the time the run ended. */
START_TEST(test_a_device_settles_what_it_holds_in_on_finish) {
  toy_dev d;
  toy_dev_reset(&d);
  d.hold_third = 1;
  vns_sim *sim = toy_dev_start(&d, VNS_RING_SPLIT, 1);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 2), "pending");
  ck_assert_int_eq(d.finish_calls, 0);
  uint64_t end = vns_sim_now(sim), fated = 0;
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_int_eq(d.finish_calls, 1);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 2), "rx_no_buffer");
  ck_assert_int_eq(vns_sim_frame_times(sim, 2, NULL, &fated), 0);
  ck_assert_uint_eq(fated, end);
  ck_assert_int_eq(vns_sim_finish(sim), VNS_ESTATE);
  ck_assert_int_eq(d.finish_calls, 1);
  vns_sim_free(sim);
}
END_TEST

/* The same device on packed rings, with the modelled driver choosing them:
 * it serves the guest as it does on split ones, breaking no rule. */
START_TEST(test_the_toy_device_serves_packed_rings) {
  toy_dev d;
  toy_dev_reset(&d);
  d.offer_packed = 1;
  vns_sim *sim = toy_dev_start(&d, VNS_RING_PACKED, 1);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_uint_ne(d.features & VNS_BIT(VNS_F_RING_PACKED), 0);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  for (size_t i = 0; i < 3; i++) ck_assert_str_eq(vns_sim_frame_fate(sim, i), "answered");
  ck_assert_uint_eq(vns_sim_tx_frame_count(sim), 3);
  for (size_t i = 0; i < 3; i++) ck_assert_str_eq(vns_sim_tx_frame_fate(sim, i), "sent");
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_int_eq(r.packed, 1);
  ck_assert_int_eq(r.device_next_used, -1); /* the device is ours */
  ck_assert_int_eq(r.driver_last_used, 3 | 1 << 15);
  vns_sim_free(sim);
}
END_TEST

static Suite *mistakes_suite(void) {
  Suite *s = suite_create("mistakes");
  TCase *drv = tcase_create("driver");
  tcase_add_loop_test(drv, test_each_driver_mistake_is_named, 0,
                      (int)(sizeof driver_mistakes / sizeof driver_mistakes[0]));
  tcase_add_test(drv, test_a_short_rx_buffer_warns_once_and_takes_short_frames);
  tcase_add_test(drv, test_a_tx_frame_never_kicked_is_tx_not_kicked);
  tcase_add_test(drv, test_needs_reset_is_told_by_a_config_change);
  tcase_add_test(drv, test_unreported_rx_reads_are_noted_once);
  tcase_add_test(drv, test_the_toy_driver_without_mistakes_breaks_no_rule_over_100_seeds);
  suite_add_tcase(s, drv);
  TCase *dev = tcase_create("device");
  tcase_add_loop_test(dev, test_each_device_mistake_is_named, 0,
                      (int)(sizeof device_mistakes / sizeof device_mistakes[0]));
  tcase_add_test(dev, test_the_toy_device_without_mistakes_breaks_no_rule_over_100_seeds);
  tcase_add_test(dev, test_tx_chains_the_device_never_sends_are_rejected);
  tcase_add_test(dev, test_a_device_telling_of_its_link_down_stops_the_drivers_sends);
  tcase_add_test(dev, test_a_device_settles_what_it_holds_in_on_finish);
  tcase_add_test(dev, test_the_toy_device_serves_packed_rings);
  suite_add_tcase(s, dev);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(mistakes_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
