/* Check suite for the virtio-net device model, reached only through its
 * transport and guest memory. The driver side is played by hand: a bare
 * vq_drv per queue and explicit status writes, so each test controls exactly
 * what the device sees, including what no well-behaved driver would write. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/fate.h"
#include "emu/gmem.h"
#include "emu/rng.h"
#include "emu/sched.h"
#include "virtio/vnet.h"
#include "virtio/vnet_dev.h"
#include "virtio/vq_drv.h"

#define QSIZE         8u
#define DEV_MAX_QSIZE 16u
#define RX_BUF        (VNET_HDR_LEN + 1514u)
#define TOK(n)        ((void *)(uintptr_t)(n))
#define MAX_HOST      8

enum { HOST_EV_FRAME = 100, HOST_EV_IRQ };

static const uint64_t base_features =
    VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);

static const uint8_t test_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

typedef struct rig {
  gmem mem;
  emu_rng rng;
  emu_sched s;
  emu_fates fates;
  vnet_dev dev;
  const virtio_transport *t;
  vq_drv rx, tx;
  emu_actor host;
  size_t host_n;
  size_t host_len[MAX_HOST];
  uint8_t host_data[MAX_HOST][1600];
  uint64_t irqs[VNET_NUM_QUEUES];
  uint64_t rx_gpa[QSIZE + 1]; /* by token */
} rig;

static rig *r;

/* The test's host: records guest frames and counts interrupts. */
static void host_handle(emu_actor *self, const emu_event *ev) {
  rig *x = self->ctx;
  if (ev->kind == HOST_EV_IRQ) {
    if (ev->arg < VNET_NUM_QUEUES) x->irqs[ev->arg]++;
    return;
  }
  ck_assert_int_eq(ev->kind, HOST_EV_FRAME);
  ck_assert_uint_lt(x->host_n, MAX_HOST);
  ck_assert_uint_le(ev->len, sizeof x->host_data[0]);
  memcpy(x->host_data[x->host_n], ev->data, ev->len);
  x->host_len[x->host_n++] = ev->len;
}

static void setup(void) {
  r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(gmem_init(&r->mem, GMEM_DEFAULT_BASE, 4u << 20), 0);
  emu_rng_init(&r->rng, 7);
  emu_sched_init(&r->s, &r->rng, 1000);
  ck_assert_int_eq(emu_fates_init(&r->fates, QSIZE), 0);
}

static void teardown(void) {
  emu_sched_close(&r->s);
  vq_drv_close(&r->rx);
  vq_drv_close(&r->tx);
  vnet_dev_close(&r->dev);
  emu_fates_close(&r->fates);
  gmem_close(&r->mem);
  free(r);
  r = NULL;
}

static void dev_start_cfg(const vnet_dev_config *cfg) {
  ck_assert_int_eq(vnet_dev_init(&r->dev, cfg, &r->mem, &r->s, &r->fates, NULL), 0);
  ck_assert_int_eq(emu_actor_init(&r->host, &r->s, "host", host_handle, r), 0);
  emu_channel_init(&r->dev.to_host, &r->host, HOST_EV_FRAME, (emu_latency){0, 0});
  emu_channel_init(&r->dev.irq, &r->host, HOST_EV_IRQ, (emu_latency){0, 0});
  r->t = vnet_dev_transport(&r->dev);
}

static void dev_start(uint32_t backlog) {
  vnet_dev_config cfg;
  vnet_dev_config_default(&cfg);
  memcpy(cfg.mac, test_mac, 6);
  cfg.max_queue_size = DEV_MAX_QSIZE;
  cfg.rx_backlog = backlog;
  dev_start_cfg(&cfg);
}

static uint8_t status(void) { return r->t->get_status(r->t->dev); }
static int set_status(uint8_t s) { return r->t->set_status(r->t->dev, s); }

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)
#define S_FOK  (S_DRV | VIRTIO_STATUS_FEATURES_OK)
#define S_LIVE (S_FOK | VIRTIO_STATUS_DRIVER_OK)

/* §3.1.1 steps 1-5; returns the status read back after FEATURES_OK. */
static uint8_t negotiate(uint64_t features) {
  ck_assert_int_eq(set_status(S_ACK), 0);
  ck_assert_int_eq(set_status(S_DRV), 0);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, features), 0);
  ck_assert_int_eq(set_status(S_FOK), 0);
  return status();
}

static void setup_queues(void) {
  ck_assert_int_eq(vq_drv_init(&r->rx, &r->mem, QSIZE, 0, 0, 0), 0);
  ck_assert_int_eq(vq_drv_init(&r->tx, &r->mem, QSIZE, 0, 0, 0), 0);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &r->rx.layout), 0);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_TXQ, &r->tx.layout), 0);
}

/* Device with the given backlog, features negotiated, queues set up, DRIVER_OK. */
static void bring_up(uint32_t backlog) {
  dev_start(backlog);
  ck_assert_uint_eq(negotiate(base_features), S_FOK);
  setup_queues();
  ck_assert_int_eq(set_status(S_LIVE), 0);
  ck_assert_uint_eq(status(), S_LIVE);
}

static uint64_t galloc(uint64_t len) {
  uint64_t gpa = 0;
  ck_assert_int_eq(gmem_alloc(&r->mem, len, 16, &gpa), 0);
  return gpa;
}

static uint16_t rd16(uint64_t gpa) {
  uint16_t v = 0;
  ck_assert_int_eq(gmem_read_le16(&r->mem, gpa, &v), 0);
  return v;
}

static void wr16(uint64_t gpa, uint16_t v) {
  ck_assert_int_eq(gmem_write_le16(&r->mem, gpa, v), 0);
}

/* Offers one writable RX buffer of len bytes, filled with 0xee; token n. */
static void post_rx(unsigned n, uint32_t len) {
  uint64_t gpa = galloc(len);
  ck_assert_int_eq(gmem_fill(&r->mem, gpa, 0xee, len), 0);
  r->rx_gpa[n] = gpa;
  vq_sg sg = {gpa, len};
  ck_assert_int_ge(vq_drv_add(&r->rx, &sg, 0, 1, TOK(n)), 0);
}

static uint32_t inject(const uint8_t *frame, size_t len) {
  int64_t id = emu_fates_enter(&r->fates, r->s.now_ns);
  ck_assert_int_ge(id, 0);
  vnet_dev_rx_frame(&r->dev, (uint32_t)id, frame, len);
  return (uint32_t)id;
}

static emu_fate fate(uint32_t id) { return r->fates.frames[id].fate; }

/* A kick for queue q delivered as an event on the device's actor, then run
 * everything to idle. */
static void kick(uint16_t q) {
  ck_assert_int_eq(emu_actor_post(&r->dev.actor, r->s.now_ns, VNET_DEV_EV_KICK, q, 0, NULL, 0), 0);
  emu_sched_run(&r->s, EMU_TIME_NEVER, 10000);
}

static void make_frame(uint8_t *f, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; i++) f[i] = (uint8_t)(seed ^ (i * 13));
}

/* ---- status handshake (§3.1.1) --------------------------------------------------- */

START_TEST(test_features_and_queue_max_readable_before_anything) {
  dev_start(0);
  ck_assert_uint_eq(r->t->device_features(r->t->dev), base_features |
                                                          VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                                                          VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
  ck_assert_uint_eq(status(), 0);
  ck_assert_uint_eq(r->t->queue_max_size(r->t->dev, VNET_RXQ), DEV_MAX_QSIZE);
  ck_assert_uint_eq(r->t->queue_max_size(r->t->dev, VNET_TXQ), DEV_MAX_QSIZE);
  ck_assert_uint_eq(r->t->queue_max_size(r->t->dev, 2), 0);
}
END_TEST

START_TEST(test_set_driver_features_only_between_driver_and_features_ok) {
  dev_start(0);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, base_features), EMU_ESTATE);
  ck_assert_int_eq(set_status(S_ACK), 0);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, base_features), EMU_ESTATE);
  ck_assert_uint_eq(r->dev.driver_features, 0);
  ck_assert_int_eq(set_status(S_DRV), 0);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, base_features), 0);
  ck_assert_int_eq(set_status(S_FOK), 0);
  ck_assert_uint_eq(status(), S_FOK);
  ck_assert_uint_eq(r->dev.features, base_features);
  /* frozen once FEATURES_OK is accepted */
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1)),
                   EMU_ESTATE);
  ck_assert_uint_eq(r->dev.features, base_features);
}
END_TEST

START_TEST(test_features_ok_refused_for_feature_not_offered) {
  dev_start(0);
  const uint64_t mrg_rxbuf = VIRTIO_BIT(15); /* VIRTIO_NET_F_MRG_RXBUF, not offered */
  ck_assert_uint_eq(negotiate(base_features | mrg_rxbuf), S_DRV);
  ck_assert_uint_eq(r->dev.features, 0);
  /* and the driver cannot go live on a refused set */
  ck_assert_int_eq(set_status(S_LIVE), EMU_ESTATE);
  ck_assert_uint_eq(status(), S_DRV);
}
END_TEST

START_TEST(test_features_ok_refused_without_version_1) {
  dev_start(0);
  ck_assert_uint_eq(negotiate(VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS)),
                    S_DRV);
  ck_assert_uint_eq(r->dev.features, 0);
}
END_TEST

START_TEST(test_features_ok_accepts_offered_subset) {
  dev_start(0);
  uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
  ck_assert_uint_eq(negotiate(want), S_FOK);
  ck_assert_uint_eq(r->dev.features, want);
}
END_TEST

START_TEST(test_driver_ok_without_features_ok_is_estate) {
  dev_start(0);
  ck_assert_int_eq(set_status(S_ACK), 0);
  ck_assert_int_eq(set_status(S_DRV), 0);
  ck_assert_int_eq(set_status(S_DRV | VIRTIO_STATUS_DRIVER_OK), EMU_ESTATE);
  ck_assert_uint_eq(status(), S_DRV);
  ck_assert_int_eq(set_status(VIRTIO_STATUS_DRIVER_OK), EMU_ESTATE); /* also drops bits */
  ck_assert_uint_eq(status(), S_DRV);
}
END_TEST

START_TEST(test_status_bits_cleared_only_by_reset_and_driver_cannot_set_needs_reset) {
  dev_start(0);
  ck_assert_int_eq(set_status(S_DRV), 0);
  ck_assert_int_eq(set_status(S_ACK), EMU_ESTATE);
  ck_assert_uint_eq(status(), S_DRV);
  ck_assert_int_eq(set_status(S_DRV | VIRTIO_STATUS_DEVICE_NEEDS_RESET), EMU_EINVAL);
  ck_assert_uint_eq(status(), S_DRV);
  ck_assert_int_eq(set_status(S_DRV | VIRTIO_STATUS_FAILED), 0);
  ck_assert_uint_eq(status(), S_DRV | VIRTIO_STATUS_FAILED);
}
END_TEST

START_TEST(test_reset_clears_status_features_and_queues) {
  bring_up(0);
  ck_assert_int_eq(set_status(0), 0);
  ck_assert_uint_eq(status(), 0);
  ck_assert_uint_eq(r->dev.features, 0);
  ck_assert_uint_eq(r->dev.driver_features, 0);
  ck_assert_int_eq(r->dev.q[VNET_RXQ].enabled, 0);
  ck_assert_int_eq(r->dev.q[VNET_TXQ].enabled, 0);
  ck_assert_uint_eq(r->dev.q[VNET_RXQ].layout.size, 0);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, base_features), EMU_ESTATE);
  uint8_t f[60] = {0};
  uint32_t id = inject(f, sizeof f);
  ck_assert_int_eq(fate(id), EMU_FATE_DEVICE_NOT_READY);
  /* a fresh handshake may set the queues up again */
  ck_assert_uint_eq(negotiate(base_features), S_FOK);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &r->rx.layout), 0);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_TXQ, &r->tx.layout), 0);
  ck_assert_int_eq(set_status(S_LIVE), 0);
}
END_TEST

START_TEST(test_queue_setup_rules) {
  dev_start(0);
  ck_assert_int_eq(vq_drv_init(&r->rx, &r->mem, QSIZE, 0, 0, 0), 0);
  ck_assert_int_eq(vq_drv_init(&r->tx, &r->mem, QSIZE, 0, 0, 0), 0);
  ck_assert_int_eq(set_status(S_DRV), 0);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &r->rx.layout), EMU_ESTATE);
  ck_assert_int_eq(r->t->set_driver_features(r->t->dev, base_features), 0);
  ck_assert_int_eq(set_status(S_FOK), 0);

  vq_layout l = r->rx.layout;
  l.size = 6;
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &l), EMU_EINVAL);
  l.size = 0;
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &l), EMU_EINVAL);
  l.size = 2 * DEV_MAX_QSIZE; /* a valid virtio size, above what the device offers */
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &l), EMU_EINVAL);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, 2, &r->rx.layout), EMU_EINVAL);
  l = r->rx.layout;
  l.used = r->mem.base + r->mem.size - 8; /* ring outside guest memory */
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &l), EMU_EPROTO);
  ck_assert_int_eq(r->dev.q[VNET_RXQ].enabled, 0);

  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &r->rx.layout), 0);
  ck_assert_int_eq(r->dev.q[VNET_RXQ].enabled, 1);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_RXQ, &r->rx.layout), EMU_ESTATE);
  ck_assert_int_eq(set_status(S_LIVE), 0);
  ck_assert_int_eq(r->t->queue_setup(r->t->dev, VNET_TXQ, &r->tx.layout), EMU_ESTATE);
  ck_assert_int_eq(r->dev.q[VNET_TXQ].enabled, 0);
}
END_TEST

START_TEST(test_config_space_mac_and_little_endian_link_status) {
  dev_start(0);
  uint8_t cfg[VNET_CFG_SIZE];
  memset(cfg, 0xaa, sizeof cfg);
  ck_assert_int_eq(r->t->read_config(r->t->dev, 0, cfg, sizeof cfg), 0);
  ck_assert_mem_eq(cfg + VNET_CFG_MAC, test_mac, 6);
  ck_assert_uint_eq(cfg[VNET_CFG_STATUS], VIRTIO_NET_S_LINK_UP);
  ck_assert_uint_eq(cfg[VNET_CFG_STATUS + 1], 0);
  uint8_t st[2] = {0xaa, 0xaa};
  ck_assert_int_eq(r->t->read_config(r->t->dev, VNET_CFG_STATUS, st, 2), 0);
  ck_assert_uint_eq(emu_get_le16(st), 1);
  uint8_t one = 0;
  ck_assert_int_eq(r->t->read_config(r->t->dev, 3, &one, 1), 0);
  ck_assert_uint_eq(one, test_mac[3]);
  st[0] = st[1] = 0xaa;
  ck_assert_int_eq(r->t->read_config(r->t->dev, VNET_CFG_SIZE - 1, st, 2), EMU_ERANGE);
  ck_assert_int_eq(r->t->read_config(r->t->dev, VNET_CFG_SIZE + 1, st, 0), EMU_ERANGE);
  ck_assert_uint_eq(st[0], 0xaa);
}
END_TEST

START_TEST(test_config_link_down_reads_status_zero_and_drops_frames) {
  vnet_dev_config cfg;
  vnet_dev_config_default(&cfg);
  cfg.max_queue_size = DEV_MAX_QSIZE;
  cfg.link_up = 0;
  dev_start_cfg(&cfg);
  uint8_t cfgb[VNET_CFG_SIZE];
  ck_assert_int_eq(r->t->read_config(r->t->dev, 0, cfgb, sizeof cfgb), 0);
  static const uint8_t slirp_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  ck_assert_mem_eq(cfgb, slirp_mac, 6);
  ck_assert_uint_eq(emu_get_le16(cfgb + VNET_CFG_STATUS), 0);
  ck_assert_uint_eq(negotiate(base_features), S_FOK);
  setup_queues();
  ck_assert_int_eq(set_status(S_LIVE), 0);
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  uint8_t f[60] = {0};
  ck_assert_int_eq(fate(inject(f, sizeof f)), EMU_FATE_LINK_DOWN);
  ck_assert_uint_eq(r->dev.q[VNET_RXQ].vq.last_avail_idx, 0);
}
END_TEST

/* ---- RX -------------------------------------------------------------------------- */

START_TEST(test_rx_without_buffer_and_no_backlog_is_rx_no_buffer) {
  bring_up(0);
  wr16(vq_used_flags_addr(&r->rx.layout), VQ_USED_F_NO_NOTIFY); /* as if it had said "busy" */
  uint8_t f[60];
  make_frame(f, sizeof f, 1);
  uint32_t id = inject(f, sizeof f);
  ck_assert_int_eq(fate(id), EMU_FATE_RX_NO_BUFFER);
  ck_assert_uint_eq(r->fates.counts[EMU_FATE_RX_NO_BUFFER], 1);
  ck_assert_uint_eq(emu_fates_total(&r->fates), 1);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  ck_assert_uint_eq(r->dev.stats.rx_frames, 0);
  ck_assert_uint_eq(r->dev.stats.rx_backlogged, 0);
  /* having found the ring empty, the device asked to be kicked */
  ck_assert_uint_eq(rd16(vq_used_flags_addr(&r->rx.layout)), 0);
}
END_TEST

START_TEST(test_rx_backlog_holds_n_then_drops_then_drains_in_order_on_kick) {
  bring_up(3);
  uint8_t f[4][64];
  const size_t len[4] = {60, 61, 62, 63};
  uint32_t id[4];
  for (int i = 0; i < 4; i++) {
    make_frame(f[i], len[i], (uint8_t)(0x10 * (i + 1)));
    id[i] = inject(f[i], len[i]);
  }
  for (int i = 0; i < 3; i++) ck_assert_int_eq(fate(id[i]), EMU_FATE_PENDING);
  ck_assert_int_eq(fate(id[3]), EMU_FATE_RX_NO_BUFFER);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 3);
  ck_assert_uint_eq(r->dev.stats.rx_backlogged, 3);

  for (unsigned n = 1; n <= 4; n++) post_rx(n, RX_BUF);
  ck_assert_int_eq(vq_drv_publish(&r->rx), 1);
  /* posting alone moves nothing: the device waits for the kick */
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 3);
  kick(VNET_RXQ);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  ck_assert_uint_eq(r->dev.stats.kicks[VNET_RXQ], 1);
  ck_assert_uint_eq(r->dev.stats.rx_frames, 3);
  ck_assert_uint_eq(r->dev.stats.rx_bytes, 60 + 61 + 62);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&r->rx.layout)), 3);
  ck_assert_uint_eq(r->dev.q[VNET_RXQ].vq.last_avail_idx, 3);
  /* the drain is one batch: one publish, one interrupt decision */
  ck_assert_uint_eq(r->dev.stats.interrupts, 1);
  ck_assert_uint_eq(r->irqs[VNET_RXQ], 1);
  for (int i = 0; i < 3; i++) {
    vq_used_elem e;
    ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
    ck_assert_ptr_eq(e.token, TOK(i + 1)); /* oldest frame into the oldest buffer */
    ck_assert_uint_eq(e.len, VNET_HDR_LEN + len[i]);
    uint8_t got[64];
    ck_assert_int_eq(gmem_read(&r->mem, r->rx_gpa[i + 1] + VNET_HDR_LEN, got, len[i]), 0);
    ck_assert_mem_eq(got, f[i], len[i]);
    ck_assert_uint_eq(r->fates.slot_frame[e.head], id[i]);
    ck_assert_int_eq(fate(id[i]), EMU_FATE_PENDING); /* the stack decides the rest */
  }
  /* with the backlog empty, the next frame goes straight into buffer 4 */
  uint32_t late = inject(f[0], 60);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&r->rx.layout)), 4);
  ck_assert_uint_eq(r->fates.slot_frame[3], late);
}
END_TEST

START_TEST(test_rx_new_frame_waits_behind_backlog_even_with_buffer_posted) {
  bring_up(2);
  uint8_t a[60], b[60];
  make_frame(a, 60, 0xa0);
  make_frame(b, 60, 0xb0);
  uint32_t ida = inject(a, 60);
  post_rx(1, RX_BUF);
  post_rx(2, RX_BUF);
  vq_drv_publish(&r->rx);
  uint32_t idb = inject(b, 60); /* must not overtake a */
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 2);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&r->rx.layout)), 0);
  kick(VNET_RXQ);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_uint_eq(r->fates.slot_frame[e.head], ida);
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_uint_eq(r->fates.slot_frame[e.head], idb);
}
END_TEST

START_TEST(test_rx_header_is_12_bytes_with_num_buffers_1) {
  bring_up(0);
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  uint8_t f[60];
  make_frame(f, sizeof f, 0x42);
  uint32_t id = inject(f, sizeof f);
  ck_assert_int_eq(fate(id), EMU_FATE_PENDING);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_uint_eq(e.len, 72);
  uint8_t got[74];
  ck_assert_int_eq(gmem_read(&r->mem, r->rx_gpa[1], got, sizeof got), 0);
  static const uint8_t hdr[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  ck_assert_mem_eq(got, hdr, 12);
  ck_assert_uint_eq(emu_get_le16(got + VNET_HDR_NUM_BUFFERS), 1);
  ck_assert_mem_eq(got + 12, f, 60);
  ck_assert_uint_eq(got[72], 0xee); /* nothing written past header + frame */
  ck_assert_uint_eq(got[73], 0xee);
  ck_assert_uint_eq(r->dev.stats.rx_frames, 1);
  ck_assert_uint_eq(r->dev.stats.rx_bytes, 60);
  ck_assert_uint_eq(r->dev.stats.pops[VNET_RXQ], 1);
}
END_TEST

START_TEST(test_rx_header_and_frame_split_over_two_writable_segments) {
  bring_up(0);
  uint64_t h = galloc(VNET_HDR_LEN), d = galloc(1514);
  vq_sg sg[2] = {{h, VNET_HDR_LEN}, {d, 1514}};
  ck_assert_int_ge(vq_drv_add(&r->rx, sg, 0, 2, TOK(1)), 0);
  vq_drv_publish(&r->rx);
  uint8_t f[1514];
  make_frame(f, sizeof f, 0x33);
  inject(f, sizeof f);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_uint_eq(e.len, VNET_HDR_LEN + 1514);
  uint8_t got[1514];
  ck_assert_int_eq(gmem_read(&r->mem, d, got, sizeof got), 0);
  ck_assert_mem_eq(got, f, sizeof f);
  ck_assert_uint_eq(rd16(h + VNET_HDR_NUM_BUFFERS), 1);
}
END_TEST

START_TEST(test_rx_buffer_too_small_returned_with_used_len_0) {
  bring_up(0);
  post_rx(1, VNET_HDR_LEN + 60 - 1);
  post_rx(2, VNET_HDR_LEN + 60); /* exactly enough */
  vq_drv_publish(&r->rx);
  uint8_t f[60];
  make_frame(f, sizeof f, 0x77);
  uint32_t small = inject(f, sizeof f);
  ck_assert_int_eq(fate(small), EMU_FATE_RX_BUFFER_TOO_SMALL);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(1));
  ck_assert_uint_eq(e.len, 0);
  uint8_t first;
  ck_assert_int_eq(gmem_read(&r->mem, r->rx_gpa[1], &first, 1), 0);
  ck_assert_uint_eq(first, 0xee); /* not even the header was written */
  ck_assert_uint_eq(r->fates.slot_frame[e.head], UINT32_MAX);
  uint32_t fits = inject(f, sizeof f);
  ck_assert_int_eq(fate(fits), EMU_FATE_PENDING);
  ck_assert_int_eq(vq_drv_get_used(&r->rx, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(2));
  ck_assert_uint_eq(e.len, VNET_HDR_LEN + 60);
  ck_assert_uint_eq(r->dev.stats.rx_frames, 1);
}
END_TEST

START_TEST(test_rx_before_driver_ok_is_device_not_ready) {
  dev_start(4);
  uint8_t f[60] = {0};
  ck_assert_int_eq(fate(inject(f, sizeof f)), EMU_FATE_DEVICE_NOT_READY);
  ck_assert_uint_eq(negotiate(base_features), S_FOK);
  setup_queues();
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  uint32_t id = inject(f, sizeof f);
  ck_assert_int_eq(fate(id), EMU_FATE_DEVICE_NOT_READY);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  ck_assert_uint_eq(r->dev.q[VNET_RXQ].vq.last_avail_idx, 0);
  ck_assert_int_eq(set_status(S_LIVE), 0);
  ck_assert_int_eq(fate(inject(f, sizeof f)), EMU_FATE_PENDING);
  ck_assert_uint_eq(r->fates.counts[EMU_FATE_DEVICE_NOT_READY], 2);
}
END_TEST

START_TEST(test_rx_empty_and_oversized_frames_are_invalid) {
  bring_up(0);
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  static uint8_t f[VNET_MAX_FRAME + 1];
  ck_assert_int_eq(fate(inject(f, 0)), EMU_FATE_FRAME_INVALID);
  ck_assert_int_eq(fate(inject(f, VNET_MAX_FRAME + 1)), EMU_FATE_FRAME_INVALID);
  ck_assert_uint_eq(r->dev.q[VNET_RXQ].vq.last_avail_idx, 0);
  /* 1518 (a tagged frame) is accepted, but this 1526-byte buffer is 4 short */
  ck_assert_int_eq(fate(inject(f, VNET_MAX_FRAME)), EMU_FATE_RX_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(test_rx_driver_violation_needs_reset_and_later_frames_broken) {
  bring_up(0);
  /* written by hand: an avail entry naming head 99 in a queue of 8 */
  wr16(vq_avail_slot_addr(&r->rx.layout, 0), 99);
  wr16(vq_avail_idx_addr(&r->rx.layout), 1);
  uint8_t f[60] = {0};
  uint32_t first = inject(f, sizeof f);
  ck_assert_int_eq(fate(first), EMU_FATE_DEVICE_BROKEN);
  ck_assert_uint_eq(status(), S_LIVE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  ck_assert_int_eq(r->dev.violation, VQ_RULE_DESC_INDEX_RANGE);
  ck_assert_str_eq(r->dev.violation_queue, "rx");
  ck_assert_int_eq(r->dev.q[VNET_RXQ].vq.broken, VQ_RULE_DESC_INDEX_RANGE);
  ck_assert_int_eq(r->dev.q[VNET_RXQ].vq.broken_head, 99);
  /* a proper buffer afterwards changes nothing until a reset */
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  kick(VNET_RXQ);
  uint32_t later = inject(f, sizeof f);
  ck_assert_int_eq(fate(later), EMU_FATE_DEVICE_BROKEN);
  ck_assert_uint_eq(r->fates.counts[EMU_FATE_DEVICE_BROKEN], 2);
  ck_assert_uint_eq(rd16(vq_used_idx_addr(&r->rx.layout)), 0);
  /* the driver rewriting its status does not clear the bit; a reset does */
  ck_assert_int_eq(set_status(S_LIVE), 0);
  ck_assert_uint_eq(status(), S_LIVE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  ck_assert_int_eq(set_status(0), 0);
  ck_assert_uint_eq(status(), 0);
  ck_assert_int_eq(r->dev.violation, VQ_RULE_NONE);
  ck_assert_int_eq(fate(inject(f, sizeof f)), EMU_FATE_DEVICE_NOT_READY);
}
END_TEST

START_TEST(test_backlogged_frames_get_device_broken_when_kick_meets_violation) {
  bring_up(2);
  uint8_t f[60] = {0};
  uint32_t a = inject(f, sizeof f);
  uint32_t b = inject(f, sizeof f);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 2);
  /* a chain whose only descriptor points outside guest memory */
  ck_assert_int_eq(gmem_write_le64(&r->mem, vq_desc_addr(&r->rx.layout, 0), 0x10), 0);
  ck_assert_int_eq(gmem_write_le32(&r->mem, vq_desc_addr(&r->rx.layout, 0) + 8, RX_BUF), 0);
  wr16(vq_desc_addr(&r->rx.layout, 0) + 12, VQ_DESC_F_WRITE);
  wr16(vq_avail_slot_addr(&r->rx.layout, 0), 0);
  wr16(vq_avail_idx_addr(&r->rx.layout), 1);
  kick(VNET_RXQ);
  ck_assert_int_eq(fate(a), EMU_FATE_DEVICE_BROKEN);
  ck_assert_int_eq(fate(b), EMU_FATE_DEVICE_BROKEN);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  ck_assert_int_eq(r->dev.violation, VQ_RULE_DESC_ADDR_RANGE);
  ck_assert_str_eq(vq_rule_section(r->dev.violation), "2.7.5");
  ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

START_TEST(test_finish_gives_backlogged_frames_rx_no_buffer) {
  bring_up(4);
  uint8_t f[60] = {0};
  uint32_t a = inject(f, sizeof f);
  uint32_t b = inject(f, sizeof f);
  vnet_dev_finish(&r->dev);
  ck_assert_int_eq(fate(a), EMU_FATE_RX_NO_BUFFER);
  ck_assert_int_eq(fate(b), EMU_FATE_RX_NO_BUFFER);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  ck_assert_uint_eq(r->fates.double_fates, 0);
}
END_TEST

START_TEST(test_reset_drops_backlog_as_device_not_ready) {
  bring_up(4);
  uint8_t f[60] = {0};
  uint32_t a = inject(f, sizeof f);
  uint32_t b = inject(f, sizeof f);
  ck_assert_int_eq(set_status(0), 0);
  /* the frames were for the old driver's rings: they go with the reset */
  ck_assert_int_eq(fate(a), EMU_FATE_DEVICE_NOT_READY);
  ck_assert_int_eq(fate(b), EMU_FATE_DEVICE_NOT_READY);
  ck_assert_uint_eq(vnet_dev_backlog_len(&r->dev), 0);
  vnet_dev_finish(&r->dev);
  ck_assert_uint_eq(r->fates.double_fates, 0);
}
END_TEST

/* ---- TX -------------------------------------------------------------------------- */

/* Adds a TX chain: the 12-byte header and the frame in separate descriptors,
 * or together in one when split is 0. */
static void add_tx(const uint8_t *frame, uint32_t len, int split, unsigned tok) {
  uint64_t g = galloc(VNET_HDR_LEN + len);
  ck_assert_int_eq(gmem_fill(&r->mem, g, 0, VNET_HDR_LEN), 0);
  ck_assert_int_eq(gmem_write(&r->mem, g + VNET_HDR_LEN, frame, len), 0);
  vq_sg sg[2] = {{g, VNET_HDR_LEN}, {g + VNET_HDR_LEN, len}};
  vq_sg one = {g, VNET_HDR_LEN + len};
  ck_assert_int_ge(vq_drv_add(&r->tx, split ? sg : &one, split ? 2 : 1, 0, TOK(tok)), 0);
}

START_TEST(test_tx_frame_reaches_host_byte_exact) {
  bring_up(0);
  uint8_t f1[98], f2[1514];
  make_frame(f1, sizeof f1, 0x5a);
  make_frame(f2, sizeof f2, 0xc3);
  add_tx(f1, sizeof f1, 1, 1);
  add_tx(f2, sizeof f2, 0, 2);
  ck_assert_int_eq(vq_drv_publish(&r->tx), 1);
  r->t->notify(r->t->dev, VNET_TXQ); /* through the kick channel and its latency */
  ck_assert_uint_eq(r->host_n, 0);
  emu_sched_run(&r->s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r->host_n, 2);
  ck_assert_uint_eq(r->host_len[0], sizeof f1);
  ck_assert_mem_eq(r->host_data[0], f1, sizeof f1);
  ck_assert_uint_eq(r->host_len[1], sizeof f2);
  ck_assert_mem_eq(r->host_data[1], f2, sizeof f2);
  ck_assert_uint_eq(r->dev.stats.kicks[VNET_TXQ], 1);
  ck_assert_uint_eq(r->dev.stats.pops[VNET_TXQ], 2);
  ck_assert_uint_eq(r->dev.stats.tx_frames, 2);
  ck_assert_uint_eq(r->dev.stats.tx_bytes, sizeof f1 + sizeof f2);
  ck_assert_uint_eq(r->dev.stats.tx_bad_chains, 0);
  vq_used_elem e;
  ck_assert_int_eq(vq_drv_get_used(&r->tx, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(1));
  ck_assert_uint_eq(e.len, 0);
  ck_assert_int_eq(vq_drv_get_used(&r->tx, &e), 0);
  ck_assert_ptr_eq(e.token, TOK(2));
  ck_assert_int_eq(vq_drv_get_used(&r->tx, &e), EMU_EAGAIN);
  ck_assert_uint_ge(r->irqs[VNET_TXQ], 1);
}
END_TEST

START_TEST(test_tx_short_writable_or_oversized_chains_are_bad) {
  bring_up(0);
  uint64_t g = galloc(2048);
  vq_sg hdr_only = {g, VNET_HDR_LEN};
  vq_sg tiny = {g, 8};
  vq_sg with_writable[2] = {{g, VNET_HDR_LEN + 60}, {g + 512, 16}};
  vq_sg oversized = {g, VNET_HDR_LEN + VNET_MAX_FRAME + 1};
  ck_assert_int_ge(vq_drv_add(&r->tx, &hdr_only, 1, 0, TOK(1)), 0);
  ck_assert_int_ge(vq_drv_add(&r->tx, &tiny, 1, 0, TOK(2)), 0);
  ck_assert_int_ge(vq_drv_add(&r->tx, with_writable, 1, 1, TOK(3)), 0);
  ck_assert_int_ge(vq_drv_add(&r->tx, &oversized, 1, 0, TOK(4)), 0);
  uint8_t ok[60];
  make_frame(ok, sizeof ok, 9);
  add_tx(ok, sizeof ok, 1, 5);
  vq_drv_publish(&r->tx);
  kick(VNET_TXQ);
  ck_assert_uint_eq(r->dev.stats.tx_bad_chains, 4);
  ck_assert_uint_eq(r->dev.stats.tx_frames, 1);
  ck_assert_uint_eq(r->dev.stats.tx_bytes, 60);
  ck_assert_uint_eq(r->host_n, 1);
  ck_assert_mem_eq(r->host_data[0], ok, 60);
  /* every chain, bad or not, comes back to the driver */
  for (unsigned i = 1; i <= 5; i++) {
    vq_used_elem e;
    ck_assert_int_eq(vq_drv_get_used(&r->tx, &e), 0);
    ck_assert_ptr_eq(e.token, TOK(i));
    ck_assert_uint_eq(e.len, 0);
  }
  ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}
END_TEST

START_TEST(test_tx_device_asks_for_next_kick_after_a_batch_that_emptied_the_ring) {
  /* One chain per run: when the batch ends exactly at the last chain the
   * device must still re-enable notifications, or the next frame stalls. */
  vnet_dev_config cfg;
  vnet_dev_config_default(&cfg);
  cfg.max_queue_size = DEV_MAX_QSIZE;
  cfg.batch_min = cfg.batch_max = 1;
  dev_start_cfg(&cfg);
  ck_assert_uint_eq(negotiate(base_features), S_FOK);
  setup_queues();
  ck_assert_int_eq(set_status(S_LIVE), 0);
  uint8_t f[60];
  make_frame(f, sizeof f, 1);
  add_tx(f, sizeof f, 1, 1);
  ck_assert_int_eq(vq_drv_publish(&r->tx), 1);
  kick(VNET_TXQ);
  ck_assert_uint_eq(r->host_n, 1);
  ck_assert_uint_eq(rd16(vq_used_flags_addr(&r->tx.layout)), 0);
  add_tx(f, sizeof f, 1, 2);
  ck_assert_int_eq(vq_drv_publish(&r->tx), 1);
  /* and several chains with batch 1 are all sent from one kick */
  add_tx(f, sizeof f, 0, 3);
  add_tx(f, sizeof f, 0, 4);
  ck_assert_int_eq(vq_drv_publish(&r->tx), 1);
  kick(VNET_TXQ);
  ck_assert_uint_eq(r->host_n, 4);
  ck_assert_uint_eq(r->dev.stats.kicks[VNET_TXQ], 2);
}
END_TEST

START_TEST(test_tx_driver_violation_needs_reset_on_tx_queue) {
  bring_up(0);
  ck_assert_int_eq(gmem_write_le64(&r->mem, vq_desc_addr(&r->tx.layout, 0), r->mem.base), 0);
  ck_assert_int_eq(gmem_write_le32(&r->mem, vq_desc_addr(&r->tx.layout, 0) + 8, 64), 0);
  wr16(vq_desc_addr(&r->tx.layout, 0) + 12, VQ_DESC_F_NEXT);
  wr16(vq_desc_addr(&r->tx.layout, 0) + 14, 0); /* a descriptor that chains to itself */
  wr16(vq_avail_slot_addr(&r->tx.layout, 0), 0);
  wr16(vq_avail_idx_addr(&r->tx.layout), 1);
  kick(VNET_TXQ);
  ck_assert_uint_eq(status(), S_LIVE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  ck_assert_int_eq(r->dev.violation, VQ_RULE_CHAIN_TOO_LONG);
  ck_assert_str_eq(r->dev.violation_queue, "tx");
  ck_assert_uint_eq(r->host_n, 0);
  ck_assert_uint_eq(r->dev.stats.tx_frames, 0);
  /* RX stops too: the whole device needs the reset */
  post_rx(1, RX_BUF);
  vq_drv_publish(&r->rx);
  uint8_t f[60] = {0};
  ck_assert_int_eq(fate(inject(f, sizeof f)), EMU_FATE_DEVICE_BROKEN);
}
END_TEST

static Suite *vnet_dev_suite(void) {
  Suite *s = suite_create("vnet_dev");
  TCase *st = tcase_create("status");
  tcase_add_checked_fixture(st, setup, teardown);
  tcase_add_test(st, test_features_and_queue_max_readable_before_anything);
  tcase_add_test(st, test_set_driver_features_only_between_driver_and_features_ok);
  tcase_add_test(st, test_features_ok_refused_for_feature_not_offered);
  tcase_add_test(st, test_features_ok_refused_without_version_1);
  tcase_add_test(st, test_features_ok_accepts_offered_subset);
  tcase_add_test(st, test_driver_ok_without_features_ok_is_estate);
  tcase_add_test(st, test_status_bits_cleared_only_by_reset_and_driver_cannot_set_needs_reset);
  tcase_add_test(st, test_reset_clears_status_features_and_queues);
  tcase_add_test(st, test_queue_setup_rules);
  tcase_add_test(st, test_config_space_mac_and_little_endian_link_status);
  tcase_add_test(st, test_config_link_down_reads_status_zero_and_drops_frames);
  suite_add_tcase(s, st);

  TCase *rx = tcase_create("rx");
  tcase_add_checked_fixture(rx, setup, teardown);
  tcase_add_test(rx, test_rx_without_buffer_and_no_backlog_is_rx_no_buffer);
  tcase_add_test(rx, test_rx_backlog_holds_n_then_drops_then_drains_in_order_on_kick);
  tcase_add_test(rx, test_rx_new_frame_waits_behind_backlog_even_with_buffer_posted);
  tcase_add_test(rx, test_rx_header_is_12_bytes_with_num_buffers_1);
  tcase_add_test(rx, test_rx_header_and_frame_split_over_two_writable_segments);
  tcase_add_test(rx, test_rx_buffer_too_small_returned_with_used_len_0);
  tcase_add_test(rx, test_rx_before_driver_ok_is_device_not_ready);
  tcase_add_test(rx, test_rx_empty_and_oversized_frames_are_invalid);
  tcase_add_test(rx, test_rx_driver_violation_needs_reset_and_later_frames_broken);
  tcase_add_test(rx, test_backlogged_frames_get_device_broken_when_kick_meets_violation);
  tcase_add_test(rx, test_finish_gives_backlogged_frames_rx_no_buffer);
  tcase_add_test(rx, test_reset_drops_backlog_as_device_not_ready);
  suite_add_tcase(s, rx);

  TCase *tx = tcase_create("tx");
  tcase_add_checked_fixture(tx, setup, teardown);
  tcase_add_test(tx, test_tx_frame_reaches_host_byte_exact);
  tcase_add_test(tx, test_tx_short_writable_or_oversized_chains_are_bad);
  tcase_add_test(tx, test_tx_device_asks_for_next_kick_after_a_batch_that_emptied_the_ring);
  tcase_add_test(tx, test_tx_driver_violation_needs_reset_on_tx_queue);
  suite_add_tcase(s, tx);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(vnet_dev_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
