/* The virtio-net driver model against the device model, on the scheduler:
 * probe, RX to the stack's port, TX to the host, kicks and suppression, and
 * distrust of a device that writes nonsense into the used ring. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "virtio/vnet_dev.h"
#include "virtio/vnet_drv.h"

#define US 1000ull

enum { HOST_EV_FRAME = 1 };

typedef struct rig {
  gmem mem;
  emu_rng rng;
  emu_sched s;
  emu_trace trace;
  emu_fates fates;
  vnet_dev dev;
  vnet_drv drv;
  emu_actor host;
  /* what the host received */
  size_t host_n;
  size_t host_len[16];
  uint8_t host_data[16][1600];
  /* what the stack received */
  size_t stack_n;
  size_t stack_len[16];
  uint8_t stack_data[16][1600];
  uint64_t stack_at[16];
} rig;

static void host_handle(emu_actor *self, const emu_event *ev) {
  rig *r = self->ctx;
  if (ev->kind != HOST_EV_FRAME || r->host_n >= 16) return;
  memcpy(r->host_data[r->host_n], ev->data, ev->len);
  r->host_len[r->host_n++] = ev->len;
}

static emu_fate stack_rx(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  rig *r = ctx;
  if (r->stack_n < 16) {
    memcpy(r->stack_data[r->stack_n], frame, len);
    r->stack_len[r->stack_n] = len;
    r->stack_at[r->stack_n++] = now;
  }
  return EMU_FATE_DELIVERED;
}

static const uint64_t all_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                                     VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                                     VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                                     VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);

/* Builds device and driver with fixed latencies (kick 1 us, interrupt 2 us),
 * batch 16, backlog 0, the device's mtu when it offers VIRTIO_NET_F_MTU;
 * returns vnet_drv_probe()'s result. */
static int rig_init_full(rig *r, uint16_t qsize, uint64_t dev_features, uint64_t drv_features,
                         uint16_t mtu) {
  memset(r, 0, sizeof *r);
  ck_assert_int_eq(gmem_init(&r->mem, GMEM_DEFAULT_BASE, 16u << 20), 0);
  emu_rng_init(&r->rng, 1);
  emu_sched_init(&r->s, &r->rng, 0);
  emu_trace_init(&r->trace, &r->s.now_ns);
  ck_assert_int_eq(emu_fates_init(&r->fates, qsize), 0);
  vnet_dev_config dc;
  vnet_dev_config_default(&dc);
  dc.max_queue_size = qsize;
  dc.features = dev_features;
  dc.mtu = mtu;
  dc.rx_backlog = 0;
  dc.batch_min = dc.batch_max = 16;
  dc.kick_latency = (emu_latency){1 * US, 1 * US};
  ck_assert_int_eq(vnet_dev_init(&r->dev, &dc, &r->mem, &r->s, &r->fates, &r->trace), 0);
  vnet_drv_opts o;
  vnet_drv_opts_default(&o);
  o.features = drv_features;
  o.irq_latency = (emu_latency){2 * US, 2 * US};
  ck_assert_int_eq(
      vnet_drv_init(&r->drv, &o, &r->mem, &r->s, vnet_dev_transport(&r->dev), &r->fates, &r->trace),
      0);
  ck_assert_int_eq(emu_actor_init(&r->host, &r->s, "host", host_handle, r), 0);
  emu_channel_init(&r->dev.irq, &r->drv.actor, VNET_DRV_EV_IRQ, o.irq_latency);
  emu_channel_init(&r->dev.to_host, &r->host, HOST_EV_FRAME, (emu_latency){0, 0});
  emu_port_attach(vnet_drv_netdev(&r->drv), stack_rx, r);
  return vnet_drv_probe(&r->drv);
}

static int rig_init(rig *r, uint16_t qsize, uint64_t dev_features, uint64_t drv_features) {
  return rig_init_full(r, qsize, dev_features, drv_features, 0);
}

static int rig_init_mtu(rig *r, uint16_t qsize, uint64_t features, uint16_t mtu) {
  return rig_init_full(r, qsize, features, features, mtu);
}

static void rig_close(rig *r) {
  emu_sched_close(&r->s);
  vnet_drv_close(&r->drv);
  vnet_dev_close(&r->dev);
  emu_fates_close(&r->fates);
  gmem_close(&r->mem);
}

static uint32_t rig_inject(rig *r, uint64_t at, const uint8_t *frame, size_t len) {
  int64_t id = emu_fates_enter(&r->fates, at);
  ck_assert_int_ge(id, 0);
  ck_assert_int_eq(
      emu_actor_post(&r->dev.actor, at, VNET_DEV_EV_FRAME, 0, (uint32_t)id, frame, len), 0);
  return (uint32_t)id;
}

static void fill_frame(uint8_t *f, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; i++) f[i] = (uint8_t)(seed + i * 7);
}

static uint16_t ring_u16(rig *r, uint64_t gpa) {
  uint16_t v = 0;
  ck_assert_int_eq(gmem_read_le16(&r->mem, gpa, &v), 0);
  return v;
}

START_TEST(test_probe_negotiates_and_posts_every_rx_buffer) {
  rig r;
  uint64_t wanted = all_features & ~VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
  ck_assert_int_eq(rig_init(&r, 16, all_features, wanted), 0);
  ck_assert_uint_eq(r.drv.features, wanted);
  ck_assert_uint_eq(r.dev.features, wanted);
  ck_assert_uint_eq(r.dev.status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
  static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  ck_assert_mem_eq(r.drv.mac, mac, 6);
  ck_assert_int_eq(r.drv.link_up, 1);
  /* all 16 RX buffers offered at once: avail.idx is 16 in guest memory, and
   * every descriptor is one device-writable 1526-byte buffer */
  const vq_layout *l = &r.drv.rxq.layout;
  ck_assert_uint_eq(ring_u16(&r, vq_avail_idx_addr(l)), 16);
  for (uint16_t i = 0; i < 16; i++) {
    uint32_t len = 0;
    gmem_read_le32(&r.mem, vq_desc_addr(l, i) + 8, &len);
    ck_assert_uint_eq(len, VNET_MIN_RX_BUF);
    ck_assert_uint_eq(ring_u16(&r, vq_desc_addr(l, i) + 12), VQ_DESC_F_WRITE);
  }
  rig_close(&r);
}
END_TEST

START_TEST(test_probe_fails_without_version_1) {
  rig r;
  int rc = rig_init(&r, 16, all_features & ~VIRTIO_BIT(VIRTIO_F_VERSION_1), all_features);
  /* the device refused FEATURES_OK (§3.1.1): the driver gives up and says so */
  ck_assert_int_eq(rc, EMU_ENOTSUP);
  ck_assert_uint_eq(r.dev.status & VIRTIO_STATUS_FAILED, VIRTIO_STATUS_FAILED);
  ck_assert_uint_eq(r.dev.status & VIRTIO_STATUS_DRIVER_OK, 0);
  rig_close(&r);
}
END_TEST

START_TEST(test_rx_frames_reach_stack_byte_exact_and_buffers_return) {
  rig r;
  ck_assert_int_eq(rig_init(&r, 8, all_features, all_features), 0);
  uint8_t f1[60], f2[1514];
  fill_frame(f1, sizeof f1, 1);
  fill_frame(f2, sizeof f2, 2);
  uint32_t id1 = rig_inject(&r, 10 * US, f1, sizeof f1);
  uint32_t id2 = rig_inject(&r, 20 * US, f2, sizeof f2);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.stack_n, 2);
  ck_assert_uint_eq(r.stack_len[0], sizeof f1);
  ck_assert_mem_eq(r.stack_data[0], f1, sizeof f1);
  ck_assert_uint_eq(r.stack_len[1], sizeof f2);
  ck_assert_mem_eq(r.stack_data[1], f2, sizeof f2);
  /* each reached the stack one interrupt latency after it arrived */
  ck_assert_uint_eq(r.stack_at[0], 12 * US);
  ck_assert_uint_eq(r.stack_at[1], 22 * US);
  ck_assert_int_eq(r.fates.frames[id1].fate, EMU_FATE_DELIVERED);
  ck_assert_int_eq(r.fates.frames[id2].fate, EMU_FATE_DELIVERED);
  ck_assert_uint_eq(r.drv.stats.rx_reposted, 2);
  ck_assert_uint_eq(ring_u16(&r, vq_avail_idx_addr(&r.drv.rxq.layout)), 8 + 2);
  /* the device never ran dry, so under EVENT_IDX re-posting asked for no kick */
  ck_assert_uint_eq(r.drv.stats.kicks[VNET_RXQ], 1);
  ck_assert_uint_eq(r.drv.stats.kicks_suppressed[VNET_RXQ], 2);
  rig_close(&r);
}
END_TEST

START_TEST(test_tx_frame_reaches_host_through_indirect_table) {
  rig r;
  ck_assert_int_eq(rig_init(&r, 8, all_features, all_features), 0);
  uint8_t f[100];
  fill_frame(f, sizeof f, 3);
  ck_assert_int_eq(emu_port_send(vnet_drv_netdev(&r.drv), f, sizeof f, 0), 0);
  /* one table descriptor: INDIRECT, 2 entries of 16 bytes (header, frame) */
  const vq_layout *l = &r.drv.txq.layout;
  uint16_t head = ring_u16(&r, vq_avail_slot_addr(l, 0));
  uint32_t len = 0;
  gmem_read_le32(&r.mem, vq_desc_addr(l, head) + 8, &len);
  ck_assert_uint_eq(ring_u16(&r, vq_desc_addr(l, head) + 12), VQ_DESC_F_INDIRECT);
  ck_assert_uint_eq(len, 2 * VQ_DESC_SIZE);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.host_n, 1);
  ck_assert_uint_eq(r.host_len[0], sizeof f);
  ck_assert_mem_eq(r.host_data[0], f, sizeof f);
  ck_assert_uint_eq(r.dev.stats.tx_frames, 1);
  rig_close(&r);
}
END_TEST

START_TEST(test_tx_without_indirect_uses_header_and_frame_chain) {
  rig r;
  uint64_t f_no_ind = all_features & ~VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
  ck_assert_int_eq(rig_init(&r, 8, all_features, f_no_ind), 0);
  uint8_t f[64];
  fill_frame(f, sizeof f, 4);
  ck_assert_int_eq(emu_port_send(vnet_drv_netdev(&r.drv), f, sizeof f, 0), 0);
  const vq_layout *l = &r.drv.txq.layout;
  uint16_t head = ring_u16(&r, vq_avail_slot_addr(l, 0));
  uint32_t len = 0;
  gmem_read_le32(&r.mem, vq_desc_addr(l, head) + 8, &len);
  ck_assert_uint_eq(len, VNET_HDR_LEN);
  ck_assert_uint_eq(ring_u16(&r, vq_desc_addr(l, head) + 12), VQ_DESC_F_NEXT);
  uint16_t next = ring_u16(&r, vq_desc_addr(l, head) + 14);
  gmem_read_le32(&r.mem, vq_desc_addr(l, next) + 8, &len);
  ck_assert_uint_eq(len, sizeof f);
  ck_assert_uint_eq(ring_u16(&r, vq_desc_addr(l, next) + 12), 0);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.host_n, 1);
  ck_assert_mem_eq(r.host_data[0], f, sizeof f);
  rig_close(&r);
}
END_TEST

START_TEST(test_tx_ring_full_holds_the_frame_until_a_buffer_returns) {
  rig r;
  /* queue of 2 without indirect: one frame takes both descriptors */
  ck_assert_int_eq(
      rig_init(&r, 2, all_features, all_features & ~VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)), 0);
  uint8_t f[64];
  fill_frame(f, sizeof f, 5);
  emu_port *nd = vnet_drv_netdev(&r.drv);
  ck_assert_int_eq(emu_port_send(nd, f, sizeof f, 0), 0);
  /* no room in the ring: held, as behind a stopped queue, not refused */
  ck_assert_int_eq(emu_port_send(nd, f, sizeof f, 0), 0);
  ck_assert_uint_eq(r.drv.stats.tx_held, 1);
  ck_assert_uint_eq(r.drv.stats.tx_ring_full, 0);
  /* the device uses the first; its TX interrupt lets the held one out */
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.host_n, 2);
  ck_assert_uint_eq(r.drv.held.len, 0);
  ck_assert_int_eq(emu_port_send(nd, f, sizeof f, 0), 0);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.host_n, 3);
  ck_assert_uint_ge(r.drv.stats.tx_reclaimed, 2);
  rig_close(&r);
}
END_TEST

START_TEST(test_without_event_idx_device_flag_silences_kicks) {
  rig r;
  uint64_t f = all_features & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
  ck_assert_int_eq(rig_init(&r, 8, f, f), 0);
  ck_assert_uint_eq(r.drv.stats.kicks[VNET_RXQ], 1); /* used.flags is 0 at start */
  uint8_t fr[64];
  fill_frame(fr, sizeof fr, 6);
  emu_port *nd = vnet_drv_netdev(&r.drv);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(emu_port_send(nd, fr, sizeof fr, 0), 0);
  /* the first send kicks; the device has not run yet, so the flag is still
   * clear and every send kicks: without EVENT_IDX nothing else can stop it */
  ck_assert_uint_eq(r.drv.stats.kicks[VNET_TXQ], 3);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.host_n, 3);
  /* the device handled all three on the first kick, then saw two more */
  ck_assert_uint_eq(r.dev.stats.kicks[VNET_TXQ], 3);
  ck_assert_uint_eq(r.dev.stats.pops[VNET_TXQ], 3);
  /* idle again: NO_NOTIFY cleared, so the next send kicks */
  ck_assert_uint_eq(ring_u16(&r, vq_used_flags_addr(&r.drv.txq.layout)), 0);
  rig_close(&r);
}
END_TEST

START_TEST(test_bad_used_length_rejected_buffer_recycled) {
  rig r;
  ck_assert_int_eq(rig_init(&r, 8, all_features, all_features), 0);
  /* play a broken device by hand: head 0 used with 5000 bytes, more than
   * its 1526-byte buffer, then an interrupt */
  const vq_layout *l = &r.drv.rxq.layout;
  gmem_write_le32(&r.mem, vq_used_slot_addr(l, 0), 0);
  gmem_write_le32(&r.mem, vq_used_slot_addr(l, 0) + 4, 5000);
  gmem_write_le16(&r.mem, vq_used_idx_addr(l), 1);
  emu_actor_post(&r.drv.actor, 5 * US, VNET_DRV_EV_IRQ, VNET_RXQ, 0, NULL, 0);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_uint_eq(r.drv.stats.rx_bad_used, 1);
  ck_assert_uint_eq(r.drv.rxq.violations[VQ_RULE_USED_LEN_TOO_BIG], 1);
  ck_assert_uint_eq(r.stack_n, 0);               /* nothing reached the stack */
  ck_assert_uint_eq(r.drv.stats.rx_reposted, 1); /* but the buffer came back */
  ck_assert_uint_eq(ring_u16(&r, vq_avail_idx_addr(l)), 9);
  rig_close(&r);
}
END_TEST

/* --- a device that gets mergeable RX buffers wrong, played by hand ------- */

static const uint64_t mrg_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                                     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);

/* Buffer `head` used with len bytes, its header saying num_buffers (when it
 * is a frame's first: num_buffers > 0), at used slot `slot`. */
static void play_used(rig *r, uint16_t slot, uint16_t head, uint32_t len, uint16_t num_buffers) {
  const vq_layout *l = &r->drv.rxq.layout;
  uint64_t buf = r->drv.rx_bufs + (uint64_t)head * r->drv.rx_buf_len;
  if (num_buffers) gmem_write_le16(&r->mem, buf + VNET_HDR_NUM_BUFFERS, num_buffers);
  gmem_write_le32(&r->mem, vq_used_slot_addr(l, slot), head);
  gmem_write_le32(&r->mem, vq_used_slot_addr(l, slot) + 4, len);
}

static void play_publish(rig *r, uint16_t used_idx) {
  gmem_write_le16(&r->mem, vq_used_idx_addr(&r->drv.rxq.layout), used_idx);
  emu_actor_post(&r->drv.actor, 5 * US, VNET_DRV_EV_IRQ, VNET_RXQ, 0, NULL, 0);
  emu_sched_run(&r->s, EMU_TIME_NEVER, 10000);
}

START_TEST(test_mergeable_frames_join_and_bad_num_buffers_are_named) {
  rig r;
  ck_assert_int_eq(rig_init(&r, 8, mrg_features, mrg_features), 0);
  ck_assert(r.drv.mergeable);
  uint32_t full = r.drv.rx_buf_len;
  /* one frame over two buffers, the first full: joined, both reposted */
  play_used(&r, 0, 0, full, 2);
  play_used(&r, 1, 1, 100, 0);
  play_publish(&r, 2);
  ck_assert_uint_eq(r.stack_n, 1);
  ck_assert_uint_eq(r.stack_len[0], full - VNET_HDR_LEN + 100);
  ck_assert_uint_eq(r.drv.stats.rx_merged, 1);
  ck_assert_uint_eq(r.drv.stats.rx_reposted, 2);
  /* num_buffers 0 (§5.1.6.4.1): named, dropped, the buffer back */
  play_used(&r, 2, 2, 200, 0);
  gmem_write_le16(&r.mem, r.drv.rx_bufs + 2ull * full + VNET_HDR_NUM_BUFFERS, 0);
  play_publish(&r, 3);
  ck_assert_uint_eq(r.drv.rxq.violations[VQ_RULE_NUM_BUFFERS_INVALID], 1);
  ck_assert_uint_eq(r.stack_n, 1);
  ck_assert_uint_eq(r.drv.stats.rx_reposted, 3);
  rig_close(&r);
}
END_TEST

START_TEST(test_a_mergeable_buffer_left_short_or_alone_is_named) {
  rig r;
  ck_assert_int_eq(rig_init(&r, 8, mrg_features, mrg_features), 0);
  /* two buffers, the first not filled: §5.1.6.4.1 fills all but the last */
  play_used(&r, 0, 0, 500, 2);
  play_used(&r, 1, 1, 100, 0);
  play_publish(&r, 2);
  ck_assert_uint_eq(r.drv.rxq.violations[VQ_RULE_MRG_BUFFER_NOT_FULL], 1);
  ck_assert_uint_eq(r.stack_n, 0);
  ck_assert_uint_eq(r.drv.stats.rx_reposted, 2); /* both taken, both back */
  /* three buffers said, one published: not used together */
  play_used(&r, 2, 2, r.drv.rx_buf_len, 3);
  play_publish(&r, 3);
  ck_assert_uint_eq(r.drv.rxq.violations[VQ_RULE_MRG_BUFFERS_APART], 1);
  ck_assert_uint_eq(r.stack_n, 0);
  rig_close(&r);
}
END_TEST

START_TEST(test_a_frame_above_the_negotiated_mtu_is_named_both_ways) {
  rig r;
  uint64_t f = mrg_features | VIRTIO_BIT(VIRTIO_NET_F_MTU);
  ck_assert_int_eq(rig_init_mtu(&r, 8, f, 1000), 0); /* the device offers mtu 1000 */
  ck_assert_uint_eq(r.drv.max_frame, 1000 + 14 + 4);
  play_used(&r, 0, 0, 12 + 1100, 1);
  play_publish(&r, 1);
  ck_assert_uint_eq(r.drv.rxq.violations[VQ_RULE_RX_FRAME_OVER_MTU], 1);
  ck_assert_uint_eq(r.stack_n, 0);
  /* and the device refuses one of its own larger than the mtu allows */
  static uint8_t big[1100];
  fill_frame(big, sizeof big, 3);
  uint32_t id = rig_inject(&r, 20 * US, big, sizeof big);
  emu_sched_run(&r.s, EMU_TIME_NEVER, 10000);
  ck_assert_int_eq(r.fates.frames[id].fate, EMU_FATE_FRAME_INVALID);
  rig_close(&r);
}
END_TEST

static Suite *drv_suite(void) {
  Suite *s = suite_create("vnet_drv");
  TCase *tc = tcase_create("driver");
  tcase_add_test(tc, test_probe_negotiates_and_posts_every_rx_buffer);
  tcase_add_test(tc, test_probe_fails_without_version_1);
  tcase_add_test(tc, test_rx_frames_reach_stack_byte_exact_and_buffers_return);
  tcase_add_test(tc, test_tx_frame_reaches_host_through_indirect_table);
  tcase_add_test(tc, test_tx_without_indirect_uses_header_and_frame_chain);
  tcase_add_test(tc, test_tx_ring_full_holds_the_frame_until_a_buffer_returns);
  tcase_add_test(tc, test_without_event_idx_device_flag_silences_kicks);
  tcase_add_test(tc, test_bad_used_length_rejected_buffer_recycled);
  tcase_add_test(tc, test_mergeable_frames_join_and_bad_num_buffers_are_named);
  tcase_add_test(tc, test_a_mergeable_buffer_left_short_or_alone_is_named);
  tcase_add_test(tc, test_a_frame_above_the_negotiated_mtu_is_named_both_ways);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(drv_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
