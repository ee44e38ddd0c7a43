/* Conformance: rules broken by a driver or a device written by hand into
 * guest memory, the reaction the spec asks for (or the counted drop chosen
 * where it is silent), and the run's log of every violation by rule and
 * spec section. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "sim/scn.h"
#include "stack/wire.h"

#define US 1000ull

/* --- a head offered twice ------------------------------------------------ */

typedef struct ring_rig {
  gmem mem;
  vq_layout l;
  vq_dev q;
  uint64_t buf;
} ring_rig;

static void ring_rig_init(ring_rig *r) {
  ck_assert_int_eq(gmem_init(&r->mem, GMEM_DEFAULT_BASE, 1u << 16), 0);
  r->l.size = 4;
  ck_assert_int_eq(gmem_alloc(&r->mem, vq_desc_table_bytes(4), VQ_DESC_ALIGN, &r->l.desc), 0);
  ck_assert_int_eq(gmem_alloc(&r->mem, vq_avail_bytes(4), VQ_AVAIL_ALIGN, &r->l.avail), 0);
  ck_assert_int_eq(gmem_alloc(&r->mem, vq_used_bytes(4), VQ_USED_ALIGN, &r->l.used), 0);
  ck_assert_int_eq(gmem_alloc(&r->mem, 4096, 64, &r->buf), 0);
  /* descriptor 0: one 64-byte device-writable buffer */
  gmem_write_le64(&r->mem, vq_desc_addr(&r->l, 0), r->buf);
  gmem_write_le32(&r->mem, vq_desc_addr(&r->l, 0) + 8, 64);
  gmem_write_le16(&r->mem, vq_desc_addr(&r->l, 0) + 12, VQ_DESC_F_WRITE);
  ck_assert_int_eq(vq_dev_init(&r->q, &r->mem, &r->l, 1, 0), 0);
}

static void offer(ring_rig *r, uint16_t slot, uint16_t head) {
  gmem_write_le16(&r->mem, vq_avail_slot_addr(&r->l, slot), head);
  gmem_write_le16(&r->mem, vq_avail_idx_addr(&r->l), (uint16_t)(slot + 1));
}

START_TEST(test_head_offered_twice_while_in_flight_needs_reset) {
  ring_rig r;
  ring_rig_init(&r);
  offer(&r, 0, 0);
  offer(&r, 1, 0); /* head 0 again, the first offer not yet used */
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&r.q, &c), EMU_EPROTO);
  ck_assert_int_eq(r.q.broken, VQ_RULE_HEAD_IN_FLIGHT);
  ck_assert_int_eq(r.q.broken_head, 0);
  ck_assert_str_eq(vq_rule_section(r.q.broken), "2.7.13");
  vq_dev_close(&r.q);
  gmem_close(&r.mem);
}
END_TEST

START_TEST(test_head_offered_again_after_its_used_element_is_fine) {
  ring_rig r;
  ring_rig_init(&r);
  offer(&r, 0, 0);
  vq_chain c;
  ck_assert_int_eq(vq_dev_pop(&r.q, &c), 0);
  ck_assert_int_eq(vq_dev_push(&r.q, c.head, 10), 0);
  ck_assert_int_eq(vq_dev_publish_used(&r.q), 0);
  offer(&r, 1, 0);
  ck_assert_int_eq(vq_dev_pop(&r.q, &c), 0);
  ck_assert_int_eq(c.head, 0);
  ck_assert_int_eq(r.q.broken, VQ_RULE_NONE);
  vq_dev_close(&r.q);
  gmem_close(&r.mem);
}
END_TEST

/* --- a scenario whose driver or device misbehaves by hand ---------------- */

static void start(scn *s) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.queue_size = 8;
  cfg.backend_latency = (emu_latency){10 * US, 10 * US};
  ck_assert_int_eq(scn_init(s, &cfg), 0);
}

static int logged(const scn *s, vq_rule rule, const char *actor, const char *queue) {
  for (size_t i = 0; i < s->nviolations; i++) {
    const scn_violation *v = &s->violations[i];
    if (v->rule == rule && !strcmp(v->actor, actor) &&
        (queue ? v->queue && !strcmp(v->queue, queue) : v->queue == NULL))
      return 1;
  }
  return 0;
}

/* Writes a TX chain by hand at descriptors 6 and 7 (free in an idle queue
 * of 8 with indirect tables), offers it and kicks. */
static void bad_tx_chain(scn *s, uint32_t hdr_len, uint32_t frame_len, uint16_t frame_flags) {
  const vq_layout *l = &s->drv.txq.layout;
  uint64_t buf = s->drv.tx_bufs;
  gmem_write_le64(&s->mem, vq_desc_addr(l, 6), buf);
  gmem_write_le32(&s->mem, vq_desc_addr(l, 6) + 8, hdr_len);
  gmem_write_le16(&s->mem, vq_desc_addr(l, 6) + 12, frame_len ? VQ_DESC_F_NEXT : 0);
  gmem_write_le16(&s->mem, vq_desc_addr(l, 6) + 14, 7);
  gmem_write_le64(&s->mem, vq_desc_addr(l, 7), buf + 64);
  gmem_write_le32(&s->mem, vq_desc_addr(l, 7) + 8, frame_len);
  gmem_write_le16(&s->mem, vq_desc_addr(l, 7) + 12, frame_flags);
  uint16_t idx = s->drv.txq.avail_idx_shadow;
  gmem_write_le16(&s->mem, vq_avail_slot_addr(l, idx), 6);
  gmem_write_le16(&s->mem, vq_avail_idx_addr(l), (uint16_t)(idx + 1));
  s->drv.txq.avail_idx_shadow = s->drv.txq.avail_idx_published = (uint16_t)(idx + 1);
  emu_actor_post(&s->dev.actor, scn_now(s), VNET_DEV_EV_KICK, VNET_TXQ, 0, NULL, 0);
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
}

START_TEST(test_bad_tx_chains_dropped_counted_and_logged) {
  static const struct {
    uint32_t hdr, frame;
    uint16_t flags;
    vq_rule rule;
  } cases[] = {
      {12, 64, VQ_DESC_F_WRITE, VQ_RULE_TX_CHAIN_WRITABLE},
      {12, 0, 0, VQ_RULE_TX_FRAME_SHORT},
      {12, 2000, 0, VQ_RULE_TX_FRAME_TOO_LONG},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    static scn s;
    start(&s);
    bad_tx_chain(&s, cases[i].hdr, cases[i].frame, cases[i].flags);
    ck_assert_msg(logged(&s, cases[i].rule, "device", "tx"), "case %zu: %s not logged", i,
                  vq_rule_name(cases[i].rule));
    ck_assert_uint_eq(s.dev.stats.tx_bad_chains, 1);
    ck_assert_uint_eq(s.guest_frames, 0);
    /* a dropped chain, not a broken device: the chain came back used */
    ck_assert_uint_eq(s.dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    ck_assert_uint_eq(s.dev.q[VNET_TXQ].vq.used_idx_published, 1);
    scn_close(&s);
  }
}
END_TEST

START_TEST(test_rx_buffer_too_small_logged_and_frame_dropped) {
  static scn s;
  start(&s);
  /* the driver shrinks every posted RX buffer to 20 bytes */
  for (uint16_t i = 0; i < 8; i++)
    gmem_write_le32(&s.mem, vq_desc_addr(&s.drv.rxq.layout, i) + 8, 20);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  uint8_t f[64];
  size_t len = scn_frame_arp_request(f, sizeof f, &host, s.cfg.guest.ip);
  ck_assert_int_eq(scn_inject_at(&s, 0, f, len), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_int_eq(s.fates.frames[0].fate, EMU_FATE_RX_BUFFER_TOO_SMALL);
  ck_assert(logged(&s, VQ_RULE_RX_BUF_TOO_SMALL, "device", "rx"));
  ck_assert_str_eq(vq_rule_section(VQ_RULE_RX_BUF_TOO_SMALL), "5.1.6.3.1");
  ck_assert_uint_eq(s.drv.stats.rx_empty, 1); /* the buffer came back empty */
  scn_close(&s);
}
END_TEST

START_TEST(test_queue_setup_after_driver_ok_refused_and_logged) {
  static scn s;
  start(&s);
  const virtio_transport *t = vnet_dev_transport(&s.dev);
  ck_assert_int_eq(t->queue_setup(t->dev, VNET_RXQ, &s.drv.rxq.layout), EMU_ESTATE);
  ck_assert(logged(&s, VQ_RULE_QUEUE_AFTER_DRIVER_OK, "device", "rx"));
  scn_close(&s);
}
END_TEST

START_TEST(test_feature_not_offered_refused_and_logged) {
  static scn s;
  start(&s);
  const virtio_transport *t = vnet_dev_transport(&s.dev);
  ck_assert_int_eq(t->set_status(t->dev, 0), 0);
  ck_assert_int_eq(t->set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER), 0);
  ck_assert_int_eq(t->set_driver_features(t->dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(40)),
                   0);
  ck_assert_int_eq(t->set_status(t->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                             VIRTIO_STATUS_FEATURES_OK),
                   0);
  ck_assert_uint_eq(t->get_status(t->dev) & VIRTIO_STATUS_FEATURES_OK, 0);
  ck_assert(logged(&s, VQ_RULE_FEATURE_NOT_OFFERED, "device", NULL));
  scn_close(&s);
}
END_TEST

START_TEST(test_device_written_bad_used_id_logged_by_driver) {
  static scn s;
  start(&s);
  const vq_layout *l = &s.drv.rxq.layout;
  gmem_write_le32(&s.mem, vq_used_slot_addr(l, 0), 99); /* no such head */
  gmem_write_le32(&s.mem, vq_used_slot_addr(l, 0) + 4, 60);
  gmem_write_le16(&s.mem, vq_used_idx_addr(l), 1);
  emu_actor_post(&s.drv.actor, 5 * US, VNET_DRV_EV_IRQ, VNET_RXQ, 0, NULL, 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  ck_assert(logged(&s, VQ_RULE_USED_ID_RANGE, "driver", "rx"));
  ck_assert_uint_eq(s.drv.stats.rx_bad_used, 1);
  ck_assert_uint_eq(s.violations_total, 1);
  scn_close(&s);
}
END_TEST

START_TEST(test_correct_run_logs_no_violation) {
  static scn s;
  start(&s);
  net_iface peer;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  ck_assert_int_eq(net_iface_init(&peer, &host, scn_host_port(&s)), 0);
  scn_attach_peer(&s, &peer);
  for (uint16_t i = 0; i < 20; i++) scn_peer_ping_at(&s, (1 + i) * 100 * US, s.cfg.guest.ip, i, 56);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_uint_eq(s.fates.counts[EMU_FATE_ANSWERED], 21);
  ck_assert_uint_eq(s.violations_total, 0);
  net_iface_close(&peer);
  scn_close(&s);
}
END_TEST

static Suite *conformance_suite(void) {
  Suite *su = suite_create("conformance");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, test_head_offered_twice_while_in_flight_needs_reset);
  tcase_add_test(tc, test_head_offered_again_after_its_used_element_is_fine);
  tcase_add_test(tc, test_bad_tx_chains_dropped_counted_and_logged);
  tcase_add_test(tc, test_rx_buffer_too_small_logged_and_frame_dropped);
  tcase_add_test(tc, test_queue_setup_after_driver_ok_refused_and_logged);
  tcase_add_test(tc, test_feature_not_offered_refused_and_logged);
  tcase_add_test(tc, test_device_written_bad_used_id_logged_by_driver);
  tcase_add_test(tc, test_correct_run_logs_no_violation);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  SRunner *sr = srunner_create(conformance_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
