/* The bug catalogue: each switch shows its symptom at the frame and virtual
 * time the model predicts, and the fixed driver (or device) shows the
 * healthy outcome under the same configuration.
 *
 * Unless a test says otherwise: seed 1, fixed latencies (link 10 us each
 * way, kick 1 us, interrupt 2 us, re-arm 0, store 0), TX batch 16, no device
 * backlog, the host sending from slirp's gateway identity. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "sim/scn.h"
#include "stack/wire.h"

#define US 1000ull
#define MS 1000000ull
#define T0 1000000000ull /* the first frame leaves the host at 1 s */

static void config(scn_config *cfg, uint16_t qsize, unsigned bugs) {
  scn_config_default(cfg);
  cfg->queue_size = qsize;
  cfg->rx_backlog = 0;
  cfg->bugs = bugs;
  cfg->backend_latency = (emu_latency){10 * US, 10 * US};
  cfg->kick_latency = (emu_latency){1 * US, 1 * US};
  cfg->irq_latency = (emu_latency){2 * US, 2 * US};
  cfg->rearm_delay = (emu_latency){0, 0};
  cfg->store_delay = (emu_latency){0, 0};
  cfg->batch_min = cfg->batch_max = 16;
}

typedef struct run {
  scn s;
  net_iface peer;
  int has_peer;
  size_t host_n;
  uint64_t host_at[64];
  size_t host_len[64];
  uint8_t host_data[64][128];
} run;

static void host_rx(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  run *r = ctx;
  if (r->host_n < 64) {
    r->host_at[r->host_n] = now;
    r->host_len[r->host_n] = len;
    memcpy(r->host_data[r->host_n], frame, len < 128 ? len : 128);
  }
  r->host_n++;
}

static run *start(const scn_config *cfg, int with_peer) {
  run *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(scn_init(&r->s, cfg), 0);
  scn_set_host_rx(&r->s, host_rx, r);
  if (with_peer) {
    net_iface_config host;
    net_iface_config_slirp_host(&host);
    ck_assert_int_eq(net_iface_init(&r->peer, &host, scn_host_port(&r->s)), 0);
    scn_attach_peer(&r->s, &r->peer);
    r->has_peer = 1;
  }
  return r;
}

static void finish(run *r) {
  scn_run(&r->s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&r->s);
  ck_assert_uint_eq(emu_fates_total(&r->s.fates), r->s.fates.nframes);
  ck_assert_uint_eq(r->s.fates.double_fates, 0);
}

static void stop(run *r) {
  if (r->has_peer) net_iface_close(&r->peer);
  scn_close(&r->s);
  free(r);
}

static emu_fate fate(const run *r, size_t i) { return r->s.fates.frames[i].fate; }
static uint64_t fated_at(const run *r, size_t i) { return r->s.fates.frames[i].fated_ns; }

/* Who-has for the guest, from the host, at `at`. */
static void arp_at(run *r, uint64_t at) {
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  uint8_t f[64];
  size_t len = scn_frame_arp_request(f, sizeof f, &host, r->s.cfg.guest.ip);
  ck_assert_int_eq(scn_inject_at(&r->s, at, f, len), 0);
}

/* --- Redox bug 1: rx-no-recycle ------------------------------------------ */

static void rx_no_recycle_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 256, bugs);
  cfg.start_ns = T0;
  run *r = start(&cfg, 0);
  for (uint64_t i = 0; i < 300; i++) arp_at(r, T0 + i * 100 * US);
  finish(r);
  for (size_t i = 0; i < 256; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
  if (bugs) {
    /* frame 257 reaches the device at 1 s + 25.6 ms + 10 us and finds the
     * 256 buffers posted at start all used */
    ck_assert_int_eq(fate(r, 256), EMU_FATE_RX_NO_BUFFER);
    ck_assert_uint_eq(fated_at(r, 256), T0 + 256 * 100 * US + 10 * US);
    for (size_t i = 257; i < 300; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_RX_NO_BUFFER);
    ck_assert_uint_eq(r->s.drv.stats.rx_reposted, 0);
    ck_assert_uint_eq(r->host_n, 256);
  } else {
    for (size_t i = 256; i < 300; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
    /* delivered one interrupt latency after it reached the device */
    ck_assert_uint_eq(fated_at(r, 256), T0 + 256 * 100 * US + 12 * US);
    ck_assert_uint_eq(r->s.drv.stats.rx_reposted, 300);
    ck_assert_uint_eq(r->host_n, 300);
  }
  stop(r);
}

START_TEST(test_rx_no_recycle_frame_257_is_first_rx_no_buffer) {
  rx_no_recycle_case(VBUG_RX_NO_RECYCLE);
}
END_TEST
START_TEST(test_fixed_driver_answers_all_300) { rx_no_recycle_case(0); }
END_TEST

/* --- Redox bug 2: rx-last-only -------------------------------------------- */

static void rx_last_only_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 256, bugs);
  cfg.start_ns = T0;
  run *r = start(&cfg, 0);
  /* a burst of 5 reaches the device at T0 + 10 us, before the interrupt
   * it raises reaches the driver at T0 + 12 us */
  for (int i = 0; i < 5; i++) arp_at(r, T0);
  finish(r);
  if (bugs) {
    for (size_t i = 0; i < 4; i++) {
      ck_assert_int_eq(fate(r, i), EMU_FATE_DRIVER_SKIPPED);
      ck_assert_uint_eq(fated_at(r, i), T0 + 12 * US);
    }
    ck_assert_int_eq(fate(r, 4), EMU_FATE_ANSWERED); /* the newest only */
    /* only its buffer came back: the device has 252 left, not 256 */
    ck_assert_uint_eq(r->s.drv.rxq.avail_idx_published, 256 + 1);
    ck_assert_uint_eq(
        (uint16_t)(r->s.drv.rxq.avail_idx_published - r->s.dev.q[VNET_RXQ].vq.last_avail_idx), 252);
  } else {
    for (size_t i = 0; i < 5; i++) {
      ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
      ck_assert_uint_eq(fated_at(r, i), T0 + 12 * US);
    }
    ck_assert_uint_eq(r->s.drv.rxq.avail_idx_published, 256 + 5);
    ck_assert_uint_eq(
        (uint16_t)(r->s.drv.rxq.avail_idx_published - r->s.dev.q[VNET_RXQ].vq.last_avail_idx), 256);
  }
  stop(r);
}

START_TEST(test_rx_last_only_burst_of_5_delivers_1_skips_4) {
  rx_last_only_case(VBUG_RX_LAST_ONLY);
}
END_TEST
START_TEST(test_fixed_driver_delivers_the_whole_burst) { rx_last_only_case(0); }
END_TEST

/* used.idx - 1 when used.idx has wrapped to 0: 16-bit arithmetic gives
 * 65535, whose slot is the last one, which holds the newest element. */
START_TEST(test_rx_last_only_reads_newest_across_used_idx_wrap) {
  scn_config cfg;
  config(&cfg, 8, VBUG_RX_LAST_ONLY);
  cfg.trace_hash = 0;
  cfg.start_ns = T0;
  run *r = start(&cfg, 0);
  const uint64_t singles = 65533;
  for (uint64_t i = 0; i < singles; i++) {
    arp_at(r, T0 + i * 50 * US);
    if (i % 4096 == 4095) scn_run(&r->s, T0 + i * 50 * US, UINT64_MAX);
  }
  uint64_t burst_at = T0 + singles * 50 * US;
  for (int i = 0; i < 3; i++) arp_at(r, burst_at);
  finish(r);
  for (size_t i = 0; i < singles; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
  ck_assert_uint_eq(r->s.dev.q[VNET_RXQ].vq.used_idx_published, 0); /* 65536 */
  ck_assert_int_eq(fate(r, singles), EMU_FATE_DRIVER_SKIPPED);
  ck_assert_int_eq(fate(r, singles + 1), EMU_FATE_DRIVER_SKIPPED);
  ck_assert_int_eq(fate(r, singles + 2), EMU_FATE_ANSWERED);
  stop(r);
}
END_TEST

/* --- Redox bug 3: rx-no-irq-wake ----------------------------------------- */

static void rx_no_irq_wake_case(unsigned bugs, uint64_t guest_poll_ns) {
  scn_config cfg;
  config(&cfg, 256, bugs);
  cfg.guest_poll_ns = guest_poll_ns;
  run *r = start(&cfg, 1);
  ck_assert_int_eq(scn_peer_ping_at(&r->s, 10 * US, cfg.guest.ip, 1, 56), 0);
  finish(r);
  const net_ping_result *res;
  ck_assert_uint_eq(net_iface_ping_results(&r->peer, &res), 1);
  if (!bugs) {
    /* the ARP request reaches the device at 20 us and the driver at 22 us */
    ck_assert_int_eq(fate(r, 0), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(fated_at(r, 0), 22 * US);
    ck_assert_int_eq(res[0].state, NET_PING_REPLIED);
  } else if (guest_poll_ns) {
    /* the interrupt at 22 us changes nothing: the ARP request waits for the
     * guest's own poll at 100 ms, the echo request for the one at 200 ms */
    ck_assert_int_eq(fate(r, 0), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(fated_at(r, 0), 100 * MS);
    ck_assert_int_eq(fate(r, 1), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(fated_at(r, 1), 200 * MS);
    ck_assert_int_eq(res[0].state, NET_PING_REPLIED);
    ck_assert_uint_eq(res[0].rtt_ns, 200 * MS + 1 * US + 10 * US - 10 * US);
  } else {
    /* an idle guest never polls: the request is still in the used ring */
    ck_assert_uint_eq(r->s.fates.nframes, 3); /* the peer's ARP tries */
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_RX_NOT_CONSUMED);
    ck_assert_int_eq(res[0].state, NET_PING_LOST);
    /* and since the driver never re-armed, used_event stayed 0: only the
     * first of the three raised an interrupt */
    ck_assert_uint_eq(r->s.drv.stats.interrupts, 1);
  }
  stop(r);
}

START_TEST(test_rx_no_irq_wake_answers_only_at_the_guests_own_poll) {
  rx_no_irq_wake_case(VBUG_RX_NO_IRQ_WAKE, 100 * MS);
}
END_TEST
START_TEST(test_rx_no_irq_wake_idle_guest_never_answers) {
  rx_no_irq_wake_case(VBUG_RX_NO_IRQ_WAKE, 0);
}
END_TEST
START_TEST(test_fixed_driver_answers_on_the_interrupt) { rx_no_irq_wake_case(0, 100 * MS); }
END_TEST

/* --- the catalogue -------------------------------------------------------- */

static void tx_no_reclaim_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 8, bugs); /* indirect descriptors: one per TX frame, 8 in all */
  run *r = start(&cfg, 0);
  for (uint64_t i = 0; i < 10; i++) arp_at(r, i * 100 * US);
  finish(r);
  for (size_t i = 0; i < 8; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
  if (bugs) {
    /* the 9th answer finds all 8 TX buffers still in the used ring: the
     * driver holds it, and the 10th, for buffers that never come back */
    ck_assert_int_eq(fate(r, 8), EMU_FATE_ANSWERED);
    ck_assert_int_eq(fate(r, 9), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(r->s.drv.stats.tx_held, 2);
    ck_assert_uint_eq(r->s.tx_fates.counts[EMU_FATE_TX_NOT_RECLAIMED], 2);
    ck_assert_uint_eq(r->s.tx_fates.frames[8].fate, EMU_FATE_TX_NOT_RECLAIMED);
    ck_assert_uint_eq(r->host_n, 8);
  } else {
    ck_assert_int_eq(fate(r, 9), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(r->s.drv.stats.tx_ring_full, 0);
    ck_assert_uint_eq(r->host_n, 10);
  }
  stop(r);
}

START_TEST(test_tx_no_reclaim_ring_full_at_the_9th_send) { tx_no_reclaim_case(VBUG_TX_NO_RECLAIM); }
END_TEST
START_TEST(test_fixed_driver_reclaims_tx) { tx_no_reclaim_case(0); }
END_TEST

static void tx_no_kick_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 8, bugs);
  run *r = start(&cfg, 0);
  arp_at(r, 0);
  finish(r);
  ck_assert_int_eq(fate(r, 0), EMU_FATE_ANSWERED); /* the stack did its part */
  ck_assert_uint_eq(r->s.drv.txq.avail_idx_published, 1);
  if (bugs) {
    ck_assert_uint_eq(r->s.dev.stats.kicks[VNET_TXQ], 0);
    ck_assert_uint_eq(r->host_n, 0); /* published, never noticed */
  } else {
    ck_assert_uint_eq(r->s.dev.stats.kicks[VNET_TXQ], 1);
    ck_assert_uint_eq(r->host_n, 1);
    /* 10 us there, 2 us interrupt, 1 us kick, 10 us back */
    ck_assert_uint_eq(r->host_at[0], 23 * US);
  }
  stop(r);
}

START_TEST(test_tx_no_kick_reply_never_leaves) { tx_no_kick_case(VBUG_TX_NO_KICK); }
END_TEST
START_TEST(test_fixed_driver_kicks_tx) { tx_no_kick_case(0); }
END_TEST

/* The kick takes 1 us; the avail.idx store lands after `store_ns`. */
static size_t kick_before_publish_frames_out(unsigned bugs, uint64_t store_ns) {
  scn_config cfg;
  config(&cfg, 8, bugs);
  cfg.store_delay = (emu_latency){store_ns, store_ns};
  run *r = start(&cfg, 0);
  arp_at(r, 0);
  arp_at(r, 100 * US);
  finish(r);
  size_t n = r->host_n;
  stop(r);
  return n;
}

START_TEST(test_kick_before_publish_loses_the_race_when_the_store_is_slower) {
  /* store after the kick arrives: the device finds nothing, asks for a kick
   * at index 0 and sleeps; the driver, past 0, never kicks again */
  ck_assert_uint_eq(kick_before_publish_frames_out(VBUG_KICK_BEFORE_PUBLISH, 2 * US), 0);
  /* store first: the same bug does no harm */
  ck_assert_uint_eq(kick_before_publish_frames_out(VBUG_KICK_BEFORE_PUBLISH, 500), 2);
  ck_assert_uint_eq(kick_before_publish_frames_out(0, 2 * US), 2);
}
END_TEST

/* Back-pressure in the correct driver: the guest sends 8 pings at once on
 * a 4-entry TX ring; the 4 that find no buffer wait in the driver's hold,
 * which asks for the TX interrupt and sends them as buffers come back.
 * Nothing is dropped. */
START_TEST(test_a_send_beyond_the_tx_ring_waits_and_goes_out) {
  scn_config cfg;
  config(&cfg, 4, 0);
  run *r = start(&cfg, 1);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  /* one ping first, so ARP is resolved before the eight */
  ck_assert_int_eq(scn_guest_ping_at(&r->s, 1 * MS, host.ip, 1), 0);
  for (uint16_t seq = 2; seq < 10; seq++)
    ck_assert_int_eq(scn_guest_ping_at(&r->s, 2 * MS, host.ip, seq), 0);
  finish(r);
  ck_assert_uint_eq(r->s.drv.stats.tx_held, 4);
  ck_assert_uint_eq(r->s.drv.stats.tx_ring_full, 0);
  const emu_fates *tx = &r->s.tx_fates;
  ck_assert_uint_eq(emu_fates_total(tx), tx->nframes);
  ck_assert_uint_eq(tx->counts[EMU_FATE_SENT], tx->nframes);
  ck_assert_uint_eq(r->host_n, tx->nframes); /* ARP request, 9 pings */
  ck_assert_uint_eq(r->host_n, 10);
  stop(r);
}
END_TEST

START_TEST(test_legacy_header_shifts_frames_both_ways) {
  scn_config cfg;
  config(&cfg, 8, VBUG_LEGACY_HDR);
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  run *bad = start(&cfg, 0);
  cfg.bugs = 0;
  run *good = start(&cfg, 0);
  run *both[2] = {bad, good};
  for (int k = 0; k < 2; k++) {
    arp_at(both[k], 0);
    ck_assert_int_eq(scn_guest_ping_at(&both[k]->s, 1 * MS, host.ip, 1), 0);
    finish(both[k]);
  }
  /* RX: the guest reads 2 bytes early, so the destination it sees starts
   * with num_buffers (01 00): a group address, not its own */
  ck_assert_int_eq(fate(bad, 0), EMU_FATE_NOT_FOR_GUEST);
  ck_assert_int_eq(fate(good, 0), EMU_FATE_ANSWERED);
  /* TX: the buggy guest, having understood nothing, asks who has the
   * gateway; the device takes 2 bytes of that frame as header, and the host
   * gets the ARP request minus its first 2 bytes */
  ck_assert_uint_eq(good->host_n, 2); /* ARP reply, echo request */
  ck_assert_uint_eq(bad->host_n, 3);  /* three tries, 1 s apart, unanswered */
  uint8_t expected[64];
  size_t len = scn_frame_arp_request(expected, sizeof expected, &cfg.guest, host.ip);
  for (size_t i = 0; i < 3; i++) {
    ck_assert_uint_eq(bad->host_len[i], len - 2);
    ck_assert_mem_eq(bad->host_data[i], expected + 2, len - 2);
  }
  stop(bad);
  stop(good);
}
END_TEST

static void used_event_stale_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 8, bugs);
  run *r = start(&cfg, 0);
  for (uint64_t i = 0; i < 4; i++) arp_at(r, i * MS);
  finish(r);
  ck_assert_int_eq(fate(r, 0), EMU_FATE_ANSWERED);
  if (bugs) {
    /* used_event stays 0: the first element interrupts, none after it */
    for (size_t i = 1; i < 4; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_RX_NOT_CONSUMED);
    ck_assert_uint_eq(r->s.drv.stats.interrupts, 2); /* RX once, TX once */
  } else {
    for (size_t i = 1; i < 4; i++) {
      ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
      ck_assert_uint_eq(fated_at(r, i), i * MS + 12 * US);
    }
  }
  stop(r);
}

START_TEST(test_used_event_stale_only_first_frame_interrupts) {
  used_event_stale_case(VBUG_USED_EVENT_STALE);
}
END_TEST
START_TEST(test_fixed_driver_advances_used_event) { used_event_stale_case(0); }
END_TEST

/* Frame A (a broadcast for another host, so no answer and no TX interrupt
 * to rescue the driver) reaches the device at 10 us, the driver at 12 us,
 * which finds the ring empty after it and re-enables its interrupt 1 us
 * later. Frame B reaches the device at 12.5 us, inside that gap, and raises
 * nothing. */
static void irq_no_recheck_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 8, bugs);
  cfg.rearm_delay = (emu_latency){1 * US, 1 * US};
  run *r = start(&cfg, 0);
  net_iface_config neighbour;
  net_iface_config_slirp_host(&neighbour);
  neighbour.ip += 98; /* 10.0.2.100 asks for 10.0.2.101 */
  uint8_t f[64];
  size_t len = scn_frame_arp_request(f, sizeof f, &neighbour, neighbour.ip + 1);
  ck_assert_int_eq(scn_inject_at(&r->s, 0, f, len), 0);
  arp_at(r, 2500);
  finish(r);
  ck_assert_int_eq(fate(r, 0), EMU_FATE_NOT_FOR_GUEST);
  if (bugs) {
    ck_assert_int_eq(fate(r, 1), EMU_FATE_RX_NOT_CONSUMED); /* the lost wakeup */
  } else {
    ck_assert_int_eq(fate(r, 1), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(fated_at(r, 1), 13 * US); /* found by the second look */
  }
  stop(r);
}

START_TEST(test_irq_enable_no_recheck_loses_frame_in_the_gap) {
  irq_no_recheck_case(VBUG_IRQ_NO_RECHECK);
}
END_TEST
START_TEST(test_fixed_driver_rechecks_after_enabling) { irq_no_recheck_case(0); }
END_TEST

static void used_slot_case(unsigned bugs, uint16_t qsize) {
  scn_config cfg;
  config(&cfg, qsize, bugs);
  run *r = start(&cfg, 0);
  for (uint64_t i = 0; i < 140; i++) arp_at(r, i * 100 * US);
  finish(r);
  size_t answered = r->s.fates.counts[EMU_FATE_ANSWERED];
  if (bugs && qsize != 256) {
    for (size_t i = 0; i < 128; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
    /* index 128 sits in slot 0 of a 128-entry ring; the driver reads
     * "slot 128", past the ring's end */
    ck_assert_int_ne(fate(r, 128), EMU_FATE_ANSWERED);
    ck_assert_uint_gt(r->s.drv.stats.rx_bad_used, 0);
    ck_assert_uint_lt(answered, 140);
  } else {
    ck_assert_uint_eq(answered, 140);
  }
  stop(r);
}

START_TEST(test_used_slot_mod_256_breaks_at_queue_128) {
  used_slot_case(VBUG_USED_SLOT_MOD_256, 128);
}
END_TEST
START_TEST(test_used_slot_mod_256_harmless_at_queue_256) {
  used_slot_case(VBUG_USED_SLOT_MOD_256, 256);
}
END_TEST
START_TEST(test_fixed_driver_masks_slots_at_queue_128) { used_slot_case(0, 128); }
END_TEST

static void tx_last_only_case(unsigned bugs) {
  scn_config cfg;
  config(&cfg, 8, bugs);
  run *r = start(&cfg, 0);
  /* three bursts of 4: each burst's 4 answers complete together */
  for (uint64_t b = 0; b < 3; b++)
    for (int i = 0; i < 4; i++) arp_at(r, b * 100 * US);
  finish(r);
  if (bugs) {
    /* each reclaim takes back 1 of the 4: burst 3's last two answers find
     * the TX ring full and wait in the driver's hold; one gets a buffer
     * back, the other never does */
    for (size_t i = 0; i < 12; i++) ck_assert_int_eq(fate(r, i), EMU_FATE_ANSWERED);
    ck_assert_uint_eq(r->s.drv.stats.tx_held, 2);
    ck_assert_uint_eq(r->s.tx_fates.counts[EMU_FATE_SENT], 11);
    ck_assert_uint_eq(r->s.tx_fates.counts[EMU_FATE_TX_NOT_RECLAIMED], 1);
    ck_assert_uint_eq(r->s.drv.stats.tx_ring_full, 0);
  } else {
    ck_assert_uint_eq(r->s.fates.counts[EMU_FATE_ANSWERED], 12);
    ck_assert_uint_eq(r->s.drv.stats.tx_ring_full, 0);
  }
  stop(r);
}

START_TEST(test_tx_last_only_leaks_tx_buffers) { tx_last_only_case(VBUG_TX_LAST_ONLY); }
END_TEST
START_TEST(test_fixed_driver_reclaims_every_tx_completion) { tx_last_only_case(0); }
END_TEST

/* --- seed-dependent bugs: the same run hangs under one seed only --------- */

static int bursts_differ(unsigned bugs, unsigned dev_bugs, uint16_t qsize, uint64_t seed,
                         unsigned bursts, uint64_t *hash) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = seed;
  cfg.queue_size = qsize;
  scn_outcome fixed, buggy;
  ck_assert_int_eq(scn_run_bursts(&cfg, bursts, &fixed), 0);
  cfg.bugs = bugs;
  cfg.dev_bugs = dev_bugs;
  ck_assert_int_eq(scn_run_bursts(&cfg, bursts, &buggy), 0);
  int differ =
      scn_outcome_first_difference(&fixed, &buggy) >= 0 || fixed.frames_out != buggy.frames_out;
  if (hash) *hash = buggy.trace_hash;
  scn_outcome_free(&fixed);
  scn_outcome_free(&buggy);
  return differ;
}

START_TEST(test_dev_used_event_equal_hangs_under_seed_2_not_seed_1) {
  /* queue 4, backlog 8, two bursts: when a backlog drain publishes several
   * elements at once past used_event, the buggy device stays silent */
  ck_assert_int_eq(bursts_differ(0, VBUG_DEV_USED_EVENT_EQUAL, 4, 1, 2, NULL), 0);
  ck_assert_int_eq(bursts_differ(0, VBUG_DEV_USED_EVENT_EQUAL, 4, 2, 2, NULL), 1);
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = 2;
  cfg.queue_size = 4;
  cfg.dev_bugs = VBUG_DEV_USED_EVENT_EQUAL;
  scn_outcome o;
  ck_assert_int_eq(scn_run_bursts(&cfg, 2, &o), 0);
  ck_assert_uint_gt(o.counts[EMU_FATE_RX_NOT_CONSUMED], 0); /* frames the driver never saw */
  scn_outcome_free(&o);
}
END_TEST

START_TEST(test_lost_wakeup_shows_in_some_seeds_and_reproduces) {
  int shown = 0;
  uint64_t first_hash = 0, first_seed = 0;
  for (uint64_t seed = 1; seed <= 12; seed++) {
    uint64_t h;
    if (bursts_differ(VBUG_IRQ_NO_RECHECK, 0, 256, seed, 40, &h)) {
      if (!shown++) {
        first_hash = h;
        first_seed = seed;
      }
    }
  }
  ck_assert_int_gt(shown, 0);
  ck_assert_int_lt(shown, 12);
  uint64_t again;
  ck_assert_int_eq(bursts_differ(VBUG_IRQ_NO_RECHECK, 0, 256, first_seed, 40, &again), 1);
  ck_assert_uint_eq(again, first_hash);
}
END_TEST

START_TEST(test_catalogue_names_parse_and_round_trip) {
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  ck_assert_uint_ge(n, 12);
  unsigned all_drv = 0, all_dev = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned drv, dev;
    ck_assert_int_eq(vbug_parse(cat[i].name, &drv, &dev), 0);
    ck_assert_uint_eq(cat[i].side == VBUG_SIDE_DRIVER ? drv : dev, cat[i].bit);
    ck_assert_ptr_nonnull(cat[i].section);
    all_drv |= drv;
    all_dev |= dev;
  }
  ck_assert_uint_eq(all_drv, VBUG_DRIVER_ALL);
  ck_assert_uint_eq(all_dev, VBUG_DEVICE_ALL);
  unsigned drv, dev;
  ck_assert_int_eq(vbug_parse("redox", &drv, &dev), 0);
  ck_assert_uint_eq(drv, VBUG_RX_NO_RECYCLE | VBUG_RX_LAST_ONLY | VBUG_RX_NO_IRQ_WAKE);
  char buf[256];
  ck_assert_str_eq(vbug_names(drv, dev, buf, sizeof buf),
                   "rx-no-recycle,rx-last-only,rx-no-irq-wake");
  ck_assert_int_eq(vbug_parse("rx-no-recycle,bogus", &drv, &dev), EMU_EINVAL);
}
END_TEST

START_TEST(test_story_buggy_against_fixed) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.guest_poll_ns = 10 * MS;
  cfg.bugs = VBUG_REDOX;
  scn_story bad, good;
  ck_assert_int_eq(scn_story_run(&cfg, &bad), 0);
  cfg.bugs = 0;
  ck_assert_int_eq(scn_story_run(&cfg, &good), 0);
  ck_assert_uint_eq(good.guest_pings_replied, 3);
  ck_assert_uint_eq(good.host_pings_replied, 3);
  ck_assert_int_eq(good.host_arp_fate, EMU_FATE_ANSWERED);
  ck_assert_int_eq(good.first_rx_no_buffer, -1);
  ck_assert_uint_eq(good.tcp_echoed, 4096);
  /* the note's symptoms: outbound ping works, the TCP handshake completes,
   * but inbound data, host pings and host ARP never get through */
  ck_assert_uint_eq(bad.guest_pings_replied, 3);
  ck_assert_int_eq(bad.tcp_established, 1);
  ck_assert_uint_eq(bad.tcp_echoed, 0);
  ck_assert_uint_eq(bad.host_pings_replied, 0);
  ck_assert_int_eq(bad.host_arp_fate, EMU_FATE_RX_NO_BUFFER);
  /* the 257th frame of the story is the first with no buffer */
  ck_assert_int_eq(bad.first_rx_no_buffer, 256);
}
END_TEST

static Suite *bugs_suite(void) {
  Suite *s = suite_create("bugs");
  TCase *redox = tcase_create("redox");
  tcase_set_timeout(redox, 120);
  tcase_add_test(redox, test_rx_no_recycle_frame_257_is_first_rx_no_buffer);
  tcase_add_test(redox, test_fixed_driver_answers_all_300);
  tcase_add_test(redox, test_rx_last_only_burst_of_5_delivers_1_skips_4);
  tcase_add_test(redox, test_fixed_driver_delivers_the_whole_burst);
  tcase_add_test(redox, test_rx_last_only_reads_newest_across_used_idx_wrap);
  tcase_add_test(redox, test_rx_no_irq_wake_answers_only_at_the_guests_own_poll);
  tcase_add_test(redox, test_rx_no_irq_wake_idle_guest_never_answers);
  tcase_add_test(redox, test_fixed_driver_answers_on_the_interrupt);
  tcase_add_test(redox, test_story_buggy_against_fixed);
  suite_add_tcase(s, redox);
  TCase *cat = tcase_create("catalogue");
  tcase_set_timeout(cat, 120);
  tcase_add_test(cat, test_tx_no_reclaim_ring_full_at_the_9th_send);
  tcase_add_test(cat, test_a_send_beyond_the_tx_ring_waits_and_goes_out);
  tcase_add_test(cat, test_fixed_driver_reclaims_tx);
  tcase_add_test(cat, test_tx_no_kick_reply_never_leaves);
  tcase_add_test(cat, test_fixed_driver_kicks_tx);
  tcase_add_test(cat, test_kick_before_publish_loses_the_race_when_the_store_is_slower);
  tcase_add_test(cat, test_legacy_header_shifts_frames_both_ways);
  tcase_add_test(cat, test_used_event_stale_only_first_frame_interrupts);
  tcase_add_test(cat, test_fixed_driver_advances_used_event);
  tcase_add_test(cat, test_irq_enable_no_recheck_loses_frame_in_the_gap);
  tcase_add_test(cat, test_fixed_driver_rechecks_after_enabling);
  tcase_add_test(cat, test_used_slot_mod_256_breaks_at_queue_128);
  tcase_add_test(cat, test_used_slot_mod_256_harmless_at_queue_256);
  tcase_add_test(cat, test_fixed_driver_masks_slots_at_queue_128);
  tcase_add_test(cat, test_tx_last_only_leaks_tx_buffers);
  tcase_add_test(cat, test_fixed_driver_reclaims_every_tx_completion);
  tcase_add_test(cat, test_dev_used_event_equal_hangs_under_seed_2_not_seed_1);
  tcase_add_test(cat, test_lost_wakeup_shows_in_some_seeds_and_reproduces);
  tcase_add_test(cat, test_catalogue_names_parse_and_round_trip);
  suite_add_tcase(s, cat);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(bugs_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
