/* End-to-end scenarios: host peer, device, rings, driver and guest stack
 * together, on virtual time. Replay of real and generated captures, fates
 * that always add up, and determinism across seeds. */
#define _DEFAULT_SOURCE /* mkstemp, unlink */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/err.h"
#include "host/pcapio.h"
#include "sim/scn.h"
#include "stack/wire.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define US              1000ull
#define MS              1000000ull

static char capture_path[512];
static const char *capture(const char *name) {
  snprintf(capture_path, sizeof capture_path, "%s/%s", VNETSIM_CAPTURES_DIR, name);
  return capture_path;
}

/* --- the demo: host peer pings the guest ------------------------------- */

typedef struct ping_run {
  uint64_t hash;
  uint64_t counts[EMU_FATE_COUNT];
  size_t replied;
  uint64_t rtt[8];
  vnet_dev_stats dev;
  vnet_drv_stats drv;
  uint16_t rx_avail, rx_used;
} ping_run;

static void run_pings(uint64_t seed, unsigned bugs, int npings, ping_run *out) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = seed;
  cfg.bugs = bugs;
  scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  net_iface peer;
  net_iface_config pc;
  net_iface_config_slirp_host(&pc);
  ck_assert_int_eq(net_iface_init(&peer, &pc, scn_host_port(&s)), 0);
  scn_attach_peer(&s, &peer);
  for (int i = 0; i < npings; i++)
    ck_assert_int_eq(
        scn_peer_ping_at(&s, 10 * US + (uint64_t)i * MS, cfg.guest.ip, (uint16_t)(i + 1), 56), 0);
  scn_run(&s, EMU_TIME_NEVER, 1000000);
  scn_finish(&s);
  memset(out, 0, sizeof *out);
  out->hash = s.trace.hash;
  memcpy(out->counts, s.fates.counts, sizeof out->counts);
  const net_ping_result *res;
  size_t n = net_iface_ping_results(&peer, &res);
  ck_assert_uint_eq(n, (size_t)npings);
  for (size_t i = 0; i < n; i++) {
    if (res[i].state == NET_PING_REPLIED) out->replied++;
    if (i < 8) out->rtt[i] = res[i].rtt_ns;
  }
  out->dev = s.dev.stats;
  out->drv = s.drv.stats;
  out->rx_avail = s.drv.rxq.avail_idx_published;
  out->rx_used = s.dev.q[VNET_RXQ].vq.used_idx_published;
  ck_assert_uint_eq(emu_fates_total(&s.fates), s.fates.nframes);
  ck_assert_uint_eq(s.fates.double_fates, 0);
  net_iface_close(&peer);
  scn_close(&s);
}

START_TEST(test_host_ping_answered_through_both_rings) {
  ping_run r;
  run_pings(1, 0, 4, &r);
  ck_assert_uint_eq(r.replied, 4);
  /* the ARP request plus four echo requests, each answered by the guest */
  ck_assert_uint_eq(r.counts[EMU_FATE_ANSWERED], 5);
  ck_assert_uint_eq(r.dev.rx_frames, 5);
  ck_assert_uint_eq(r.dev.tx_frames, 5);
  ck_assert_uint_eq(r.drv.rx_reposted, 5);
  /* 256 buffers posted at start, each consumed one posted again */
  ck_assert_uint_eq(r.rx_avail, 256 + 5);
  ck_assert_uint_eq(r.rx_used, 5);
  /* a round trip crosses the link twice (>= 5 us each) plus a kick and an
   * interrupt; nothing in the model takes a millisecond */
  for (int i = 0; i < 4; i++) {
    ck_assert_uint_ge(r.rtt[i], 2 * 5 * US);
    ck_assert_uint_lt(r.rtt[i], 1 * MS);
  }
}
END_TEST

START_TEST(test_same_seed_same_trace_and_timings) {
  ping_run a, b, c;
  run_pings(7, 0, 4, &a);
  run_pings(7, 0, 4, &b);
  run_pings(8, 0, 4, &c);
  ck_assert_uint_eq(a.hash, b.hash);
  ck_assert_mem_eq(a.rtt, b.rtt, sizeof a.rtt);
  /* a different seed draws other latencies, so the trace differs */
  ck_assert_uint_ne(a.hash, c.hash);
}
END_TEST

START_TEST(test_correct_driver_fates_identical_over_50_seeds) {
  ping_run first;
  run_pings(1000, 0, 6, &first);
  for (uint64_t seed = 1001; seed < 1050; seed++) {
    ping_run r;
    run_pings(seed, 0, 6, &r);
    ck_assert_mem_eq(r.counts, first.counts, sizeof r.counts);
    ck_assert_uint_eq(r.replied, 6);
  }
  ck_assert_uint_eq(first.counts[EMU_FATE_ANSWERED], 7);
}
END_TEST

/* --- replay ------------------------------------------------------------- */

typedef struct host_capture {
  size_t n;
  uint64_t t[32];
  size_t len[32];
  uint8_t data[32][1514];
} host_capture;

static void record_guest_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  host_capture *hc = ctx;
  if (hc->n >= 32) return;
  hc->t[hc->n] = now;
  hc->len[hc->n] = len;
  memcpy(hc->data[hc->n], frame, len < 1514 ? len : 1514);
  hc->n++;
}

/* Loads path, replays it with cfg (start time set from the capture) and
 * leaves the finished scenario in s. */
static void replay_file(const char *path, scn_config *cfg, scn *s, scn_capture *in,
                        host_capture *hc) {
  char err[512];
  int rc = host_pcap_load(path, in, err, sizeof err);
  ck_assert_msg(rc == 0, "cannot load %s: %s", path, err);
  cfg->start_ns = in->nframes ? in->frames[0].ts_ns : 0;
  ck_assert_int_eq(scn_init(s, cfg), 0);
  if (hc) scn_set_host_rx(s, record_guest_frame, hc);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(s, in, &notes), 0);
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(s);
}

/* libpcap's gateway capture, with the guest taking 10.20.30.40 and the MAC
 * the capture's peer used for it. */
static void config_gateway_guest(scn_config *cfg, uint64_t seed) {
  static const uint8_t mac[6] = {0xaa, 0x00, 0x04, 0x00, 0x14, 0x0e};
  scn_config_default(cfg);
  cfg->seed = seed;
  memcpy(cfg->guest.mac, mac, 6);
  cfg->guest.ip = IP4(10, 20, 30, 40);
  cfg->guest.gateway = IP4(10, 20, 30, 1);
}

static const emu_fate gateway_expected[14] = {
    EMU_FATE_ANSWERED,      /* 1 echo request to .40 */
    EMU_FATE_NOT_FOR_GUEST, /* 2 .40's reply, to the other host's MAC */
    EMU_FATE_NOT_FOR_GUEST, /* 3 echo request to .42's MAC */
    EMU_FATE_NOT_FOR_GUEST, /* 4 */
    EMU_FATE_NOT_FOR_GUEST, /* 5 ICMPv6 to our MAC, another IPv6 address */
    EMU_FATE_NOT_FOR_GUEST, /* 6 */
    EMU_FATE_NOT_FOR_GUEST, /* 7 */
    EMU_FATE_NOT_FOR_GUEST, /* 8 */
    EMU_FATE_ANSWERED,      /* 9 ARP who-has 10.20.30.40 */
    EMU_FATE_NOT_FOR_GUEST, /* 10 to our MAC, routed to 10.20.230.243: not our IP */
    EMU_FATE_NOT_FOR_GUEST, /* 11 */
    EMU_FATE_NOT_FOR_GUEST, /* 12 */
    EMU_FATE_NOT_FOR_GUEST, /* 13 ICMPv6 to our MAC, another IPv6 address */
    EMU_FATE_NOT_FOR_GUEST, /* 14 */
};

START_TEST(test_replay_gateway_capture_fate_per_frame) {
  scn_config cfg;
  config_gateway_guest(&cfg, 1);
  scn s;
  scn_capture in;
  static host_capture hc;
  memset(&hc, 0, sizeof hc);
  replay_file(capture("libpcap_gateway_or_not.pcap"), &cfg, &s, &in, &hc);
  ck_assert_uint_eq(s.fates.nframes, 14);
  for (int i = 0; i < 14; i++)
    ck_assert_msg(s.fates.frames[i].fate == gateway_expected[i], "frame %d: %s, expected %s", i + 1,
                  emu_fate_name(s.fates.frames[i].fate), emu_fate_name(gateway_expected[i]));
  /* The guest does not know 10.20.30.41's MAC, so it asks first and holds
   * the echo reply; the capture's ARP request from .41 (frame 9) teaches it,
   * and the ARP reply and the held echo reply leave together. */
  ck_assert_uint_eq(hc.n, 3);
  const uint8_t *who_has = hc.data[0], *arp = hc.data[1], *echo = hc.data[2];
  ck_assert_uint_eq(net_eth_ethertype(who_has), NET_ETHERTYPE_ARP);
  ck_assert_uint_eq(net_arp_oper(net_eth_payload(who_has)), 1);
  ck_assert_uint_eq(net_arp_tpa(net_eth_payload(who_has)), IP4(10, 20, 30, 41));
  ck_assert_uint_eq(net_eth_ethertype(arp), NET_ETHERTYPE_ARP);
  ck_assert_uint_eq(net_arp_oper(net_eth_payload(arp)), 2);
  static const uint8_t requester[6] = {0x08, 0x00, 0x27, 0xe5, 0x28, 0xd1};
  ck_assert_mem_eq(echo, requester, 6);
  ck_assert_uint_eq(net_eth_ethertype(echo), NET_ETHERTYPE_IPV4);
  const uint8_t *ip = net_eth_payload(echo);
  ck_assert_uint_eq(net_ipv4_src(ip), IP4(10, 20, 30, 40));
  ck_assert_uint_eq(net_ipv4_dst(ip), IP4(10, 20, 30, 41));
  const uint8_t *icmp = net_ipv4_payload(ip);
  ck_assert_uint_eq(net_icmp_type(icmp), NET_ICMP_ECHO_REPLY);
  ck_assert_uint_eq(net_icmp_echo_ident(icmp), 7);
  ck_assert_uint_eq(net_icmp_echo_seq(icmp), 317);
  /* Stamped on the capture's own time base: reply minus request is the
   * modelled latency, positive and well under a millisecond. */
  ck_assert_uint_gt(hc.t[0], in.frames[0].ts_ns);
  ck_assert_uint_lt(hc.t[0] - in.frames[0].ts_ns, 1 * MS);
  ck_assert_uint_gt(hc.t[1], in.frames[8].ts_ns);
  ck_assert_uint_lt(hc.t[1] - in.frames[8].ts_ns, 1 * MS);
  ck_assert_uint_ge(hc.t[2], hc.t[1]); /* the link never reorders */
  ck_assert_uint_lt(hc.t[2] - hc.t[1], 1 * MS);
  scn_close(&s);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_replay_fates_identical_over_50_seeds) {
  for (uint64_t seed = 1; seed <= 50; seed++) {
    scn_config cfg;
    config_gateway_guest(&cfg, seed);
    scn s;
    scn_capture in;
    replay_file(capture("libpcap_gateway_or_not.pcap"), &cfg, &s, &in, NULL);
    for (int i = 0; i < 14; i++)
      ck_assert_msg(s.fates.frames[i].fate == gateway_expected[i], "seed %llu frame %d: %s",
                    (unsigned long long)seed, i + 1, emu_fate_name(s.fates.frames[i].fate));
    scn_close(&s);
    host_pcap_free(&in);
  }
}
END_TEST

static const char *const ethernet_captures[] = {
    "libpcap_gateway_or_not.pcap",
    "pcpp_ArpRequestPacket.pcap",
    "pcpp_ArpResponsePacket.pcap",
    "pcpp_IcmpPackets.pcap",
    "pcpp_VlanPackets.pcap",
    "pcpp_ip4_fragments.pcap",
    "pcpp_microsecs.pcap",
    "pcpp_nanosecs.pcap",
    "pcpp_one_http_stream_fin.pcap",
    "pcpp_one_tcp_rst.pcap",
    "pcpp_one_tcp_stream.pcap",
    "pcpp_one_tcp_stream_fin_rst_close_packet.pcap",
    "pcpp_three_http_streams.pcap",
    "pcpp_unidirectional_tcp_stream_with_missing_packet.pcap",
    "tcpdump_dns_udp.pcap",
    "tcpdump_print-flags.pcap",
    "tcpdump_tftp.pcap",
    "tcpreplay_test.pcap",
};

START_TEST(test_every_capture_gets_one_fate_per_frame) {
  const char *name = ethernet_captures[_i];
  scn_config cfg;
  scn_config_default(&cfg);
  scn s;
  scn_capture in;
  replay_file(capture(name), &cfg, &s, &in, NULL);
  ck_assert_uint_gt(in.nframes, 0);
  ck_assert_uint_eq(s.fates.nframes, in.nframes);
  ck_assert_msg(emu_fates_total(&s.fates) == in.nframes, "%s: %llu of %zu frames have a fate", name,
                (unsigned long long)emu_fates_total(&s.fates), in.nframes);
  ck_assert_uint_eq(s.fates.double_fates, 0);
  for (size_t i = 0; i < in.nframes; i++)
    ck_assert_int_ne(s.fates.frames[i].fate, EMU_FATE_PENDING);
  scn_close(&s);
  host_pcap_free(&in);
}
END_TEST

/* A one-record classic pcap of link type dlt, in buf: the record is rec. */
static size_t one_record_pcap(uint8_t *buf, uint32_t dlt, const uint8_t *rec, uint32_t len) {
  const uint32_t hdr[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, dlt};
  memcpy(buf, hdr, sizeof hdr); /* host order: libpcap reads either */
  const uint32_t rh[4] = {1, 0, len, len};
  memcpy(buf + 24, rh, sizeof rh);
  memcpy(buf + 40, rec, len);
  return 40 + len;
}

/* Every link type the replay takes becomes the same Ethernet frame: an
 * IPv4 packet from 10.1.2.3 to 10.0.2.15, between MACs 02:00:<ip>. */
START_TEST(test_link_types_become_ethernet) {
  uint8_t ip[20] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 2, 3, 10, 0, 2, 15};
  uint8_t rec[64], buf[256];
  static const struct {
    uint32_t dlt;
    uint8_t pre[20];
    uint32_t prelen;
  } kinds[] = {
      {113, {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, 16},       /* Linux SLL */
      {276, {0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6}, 20}, /* SLL2 */
      {101, {0}, 0},                                                           /* raw IP */
      {0, {2, 0, 0, 0}, 4},                                                    /* BSD loopback */
      {1, {2, 0, 10, 0, 2, 15, 2, 0, 10, 1, 2, 3, 0x81, 0, 0, 5, 0x81, 0, 0, 7}, 20}, /* QinQ */
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    uint32_t pre = kinds[k].prelen + (kinds[k].dlt == 1 ? 2 : 0);
    memcpy(rec, kinds[k].pre, kinds[k].prelen);
    if (kinds[k].dlt == 1) rec[20] = 0x08, rec[21] = 0x00; /* the inner type after the tags */
    memcpy(rec + pre, ip, sizeof ip);
    size_t n = one_record_pcap(buf, kinds[k].dlt, rec, pre + (uint32_t)sizeof ip);
    scn_capture in;
    char err[512];
    ck_assert_msg(host_pcap_load_mem(buf, n, "crafted", &in, err, sizeof err) == 0, "%u: %s",
                  kinds[k].dlt, err);
    ck_assert_uint_eq(in.nframes, 1);
    const scn_capture_frame *f = &in.frames[0];
    ck_assert_int_eq(f->unconvertible, 0);
    ck_assert_uint_eq(f->caplen, 14 + 20);
    static const uint8_t eth[14] = {2, 0, 10, 0, 2, 15, 2, 0, 10, 1, 2, 3, 0x08, 0x00};
    ck_assert_msg(memcmp(f->data, eth, sizeof eth) == 0, "link type %u", kinds[k].dlt);
    ck_assert_int_eq(memcmp(f->data + 14, ip, sizeof ip), 0);
    host_pcap_free(&in);
  }
}
END_TEST

/* A record with no Ethernet type (an 802.2 frame in Linux cooked capture)
 * is kept as unconvertible, and its replay fate says so; a link type the
 * replay cannot take at all is refused with a reason. */
START_TEST(test_unconvertible_records_and_link_types) {
  uint8_t rec[40] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x00, 0x04}, buf[256];
  size_t n = one_record_pcap(buf, 113, rec, sizeof rec);
  scn_capture in;
  char err[512];
  ck_assert_int_eq(host_pcap_load_mem(buf, n, "crafted", &in, err, sizeof err), 0);
  ck_assert_int_eq(in.frames[0].unconvertible, 1);
  scn_config cfg;
  scn_config_default(&cfg);
  scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(&s, &in, &notes), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_uint_eq(notes.link_unsupported, 1);
  ck_assert_int_eq(s.fates.frames[0].fate, EMU_FATE_LINK_UNSUPPORTED);
  scn_close(&s);
  host_pcap_free(&in);
  n = one_record_pcap(buf, 105, rec, sizeof rec); /* IEEE 802.11 */
  ck_assert_int_eq(host_pcap_load_mem(buf, n, "wifi", &in, err, sizeof err), EMU_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err, "cannot be replayed as Ethernet"));
}
END_TEST

START_TEST(test_missing_and_non_capture_files_refused) {
  scn_capture in;
  char err[512];
  ck_assert_int_eq(host_pcap_load("/nonexistent/x.pcap", &in, err, sizeof err), EMU_EIO);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.pcap"));
  ck_assert_int_eq(host_pcap_load(capture("README.md"), &in, err, sizeof err), EMU_EIO);
}
END_TEST

/* --- generated traffic: bursts, backlog, index wrap ---------------------- */

/* An ARP request from slirp's gateway for the guest's address. */
static size_t build_arp_request(uint8_t *buf, uint32_t target_ip) {
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  size_t n = scn_frame_arp_request(buf, 64, &host, target_ip);
  ck_assert_uint_eq(n, 42);
  return n;
}

static void fixed_latencies(scn_config *cfg) {
  cfg->backend_latency = (emu_latency){10 * US, 10 * US};
  cfg->kick_latency = (emu_latency){500, 500};
  cfg->irq_latency = (emu_latency){2 * US, 2 * US};
}

/* A frame after 2106-02-07 cannot be stamped in a pcap record (32-bit
 * seconds): the writer refuses the file rather than write a wrapped time,
 * and leaves the target as it was. */
START_TEST(test_pcap_writer_refuses_times_past_2106) {
  char dir[] = "/tmp/vnetsim-late-XXXXXX", path[64], err[512];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/out.pcap", dir);
  host_pcap_writer w;
  ck_assert_int_eq(host_pcap_writer_open(&w, path, err, sizeof err), 0);
  uint8_t frame[64];
  size_t len = build_arp_request(frame, IP4(10, 0, 2, 15));
  host_pcap_writer_write(&w, 4294967295ull * 1000000000ull + 999999999ull, frame, len);
  ck_assert_uint_eq(w.frames, 1); /* the last second pcap holds */
  host_pcap_writer_write(&w, 4294967296ull * 1000000000ull, frame, len);
  ck_assert_uint_eq(w.too_late, 1);
  ck_assert_int_eq(host_pcap_writer_close(&w), EMU_EIO);
  ck_assert_int_ne(access(path, F_OK), 0);
  ck_assert_int_eq(rmdir(dir), 0); /* no temporary file left either */
}
END_TEST

START_TEST(test_burst_fills_ring_then_backlog_then_drops) {
  char path[] = "/tmp/vnetsim-burst-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  char err[512];
  host_pcap_writer w;
  ck_assert_int_eq(host_pcap_writer_open(&w, path, err, sizeof err), 0);
  uint8_t frame[64];
  size_t len = build_arp_request(frame, IP4(10, 0, 2, 15));
  /* 40 requests captured at the same instant */
  for (int i = 0; i < 40; i++) host_pcap_writer_write(&w, 5000000000ull, frame, len);
  ck_assert_int_eq(host_pcap_writer_close(&w), 0);

  scn_config cfg;
  scn_config_default(&cfg);
  fixed_latencies(&cfg);
  cfg.queue_size = 8;
  cfg.rx_backlog = 4;
  scn s;
  scn_capture in;
  replay_file(path, &cfg, &s, &in, NULL);
  ck_assert_uint_eq(in.nframes, 40);
  ck_assert_uint_eq(in.frames[0].ts_ns, 5000000000ull);
  /* all 40 reach the device 10us after they leave, 8 a nanosecond
   * (SCN_CAPTURE_BURST), before any interrupt: 8 fill the ring, 4 wait in
   * the backlog and drain after the driver re-posts, the other 28 find
   * nothing */
  for (int i = 0; i < 12; i++) ck_assert_int_eq(s.fates.frames[i].fate, EMU_FATE_ANSWERED);
  for (int i = 12; i < 40; i++) ck_assert_int_eq(s.fates.frames[i].fate, EMU_FATE_RX_NO_BUFFER);
  ck_assert_uint_eq(s.dev.stats.rx_backlogged, 4);
  ck_assert_uint_eq(s.capture.spread, 40 - SCN_CAPTURE_BURST);
  ck_assert_uint_eq(s.fates.frames[12].fated_ns, 5000000000ull + 10 * US + 12 / SCN_CAPTURE_BURST);
  ck_assert_uint_eq(s.fates.frames[39].fated_ns, 5000000000ull + 10 * US + 39 / SCN_CAPTURE_BURST);
  scn_close(&s);
  host_pcap_free(&in);
  unlink(path);
}
END_TEST

START_TEST(test_rx_indices_wrap_past_65535_end_to_end) {
  scn_config cfg;
  scn_config_default(&cfg);
  fixed_latencies(&cfg);
  cfg.queue_size = 8;
  cfg.trace_hash = 0;
  scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  uint8_t frame[64];
  size_t len = build_arp_request(frame, IP4(10, 0, 2, 15));
  const uint64_t n = 65536 + 300;
  for (uint64_t i = 0; i < n; i++) {
    ck_assert_int_eq(scn_inject_at(&s, 100 * US * (i + 1), frame, len), 0);
    if (i % 4096 == 4095) scn_run(&s, 100 * US * (i + 1), UINT64_MAX);
  }
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_uint_eq(s.fates.counts[EMU_FATE_ANSWERED], n);
  /* free-running 16-bit indices, read back from guest memory */
  uint16_t used_idx = 0, avail_idx = 0;
  gmem_read_le16(&s.mem, vq_used_idx_addr(&s.dev.q[VNET_RXQ].layout), &used_idx);
  gmem_read_le16(&s.mem, vq_avail_idx_addr(&s.dev.q[VNET_RXQ].layout), &avail_idx);
  ck_assert_uint_eq(used_idx, (uint16_t)n);
  ck_assert_uint_eq(avail_idx, (uint16_t)(n + 8));
  scn_close(&s);
}
END_TEST

static Suite *scn_suite(void) {
  Suite *su = suite_create("scenario");
  TCase *demo = tcase_create("demo");
  tcase_add_test(demo, test_host_ping_answered_through_both_rings);
  tcase_add_test(demo, test_same_seed_same_trace_and_timings);
  tcase_add_test(demo, test_correct_driver_fates_identical_over_50_seeds);
  suite_add_tcase(su, demo);
  TCase *replay = tcase_create("replay");
  tcase_add_test(replay, test_replay_gateway_capture_fate_per_frame);
  tcase_add_test(replay, test_replay_fates_identical_over_50_seeds);
  tcase_add_loop_test(replay, test_every_capture_gets_one_fate_per_frame, 0,
                      (int)(sizeof ethernet_captures / sizeof ethernet_captures[0]));
  tcase_add_test(replay, test_link_types_become_ethernet);
  tcase_add_test(replay, test_unconvertible_records_and_link_types);
  tcase_add_test(replay, test_missing_and_non_capture_files_refused);
  suite_add_tcase(su, replay);
  TCase *gen = tcase_create("generated");
  tcase_add_test(gen, test_burst_fills_ring_then_backlog_then_drops);
  tcase_add_test(gen, test_pcap_writer_refuses_times_past_2106);
  tcase_add_test(gen, test_rx_indices_wrap_past_65535_end_to_end);
  suite_add_tcase(su, gen);
  return su;
}

int main(void) {
  SRunner *sr = srunner_create(scn_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
