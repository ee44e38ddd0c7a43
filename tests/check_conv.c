/* Captured TCP conversations the host plays the client of, the guest in the
 * recorded server's place (sim/conv.c, vns_sim_opts.play_conversations):
 * a public capture's HTTP GET answered by the guest's HTTP server once the
 * client's acknowledgements follow the guest's ISN; a capture that lacks a
 * client segment stopped with its reason; conversations built here whose
 * recorded server answered otherwise than the guest does, or never as the
 * client expects; the same trace twice; and the command's report. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host/pcapio.h"
#include "stack/wire.h"
#include "tests/cli_run.h"
#include "vnetsim/vnetsim.h"

#ifndef VNETSIM_CAPTURES_DIR
#error "compile with -DVNETSIM_CAPTURES_DIR=\"/path/to/captures\""
#endif

#define HTTP_FIN_PCAP   VNETSIM_CAPTURES_DIR "/pcpp_one_http_stream_fin.pcap"
#define HTTP_FIN_SERVER VNS_IP(77, 67, 44, 206)
#define MISSING_PCAP    VNETSIM_CAPTURES_DIR "/pcpp_unidirectional_tcp_stream_with_missing_packet.pcap"
#define MISSING_SERVER  VNS_IP(81, 218, 72, 15)
#define MAC_DST_AT      0

/* What the guest sent: frames, and those whose TCP payload starts an HTTP
 * response. */
typedef struct guest_out {
  size_t frames, http_responses;
  char status[64]; /* the first response's status line */
} guest_out;

static void on_guest(void *ctx, const uint8_t *f, size_t len, uint64_t now) {
  (void)now;
  guest_out *g = ctx;
  g->frames++;
  if (len < NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN) return;
  const uint8_t *ip = f + NET_ETH_HEADER_LEN;
  size_t hl = net_ipv4_header_len(ip), total = net_ipv4_total_len(ip);
  if (net_ipv4_protocol(ip) != NET_IP_PROTO_TCP || total > len - NET_ETH_HEADER_LEN) return;
  const uint8_t *t = ip + hl;
  size_t thl = net_tcp_header_len(t), plen = total - hl - thl;
  static const char http[] = "HTTP/1.1 ";
  if (plen < sizeof http - 1 || memcmp(t + thl, http, sizeof http - 1)) return;
  if (!g->http_responses++) {
    size_t n = strcspn((const char *)t + thl, "\r");
    if (n > plen) n = plen;
    if (n >= sizeof g->status) n = sizeof g->status - 1;
    memcpy(g->status, t + thl, n);
  }
}

/* The guest stands in for server_ip, with the MAC the capture's first frame
 * was sent to. */
static void opts_as(vns_sim_opts *o, const scn_capture *in, uint32_t server_ip, int play,
                    guest_out *g) {
  vns_sim_opts_init(o);
  o->guest_ip = server_ip;
  memcpy(o->guest_mac, in->frames[0].data + MAC_DST_AT, sizeof o->guest_mac);
  o->start_ns = in->frames[0].ts_ns;
  o->arp_proxy = 1;
  o->keep_trace = 0;
  o->play_conversations = play;
  o->host_rx = on_guest;
  o->host_rx_ctx = g;
}

/* Runs a loaded capture: its frames fed one by one as the run goes, or all
 * queued first. */
static vns_sim *run_frames(const vns_sim_opts *o, const scn_capture *in, int feed) {
  vns_sim *sim = NULL;
  ck_assert_int_eq(vns_sim_new(o, &sim), 0);
  for (size_t i = 0; i < in->nframes; i++) {
    const scn_capture_frame *f = &in->frames[i];
    int rc = feed ? vns_sim_feed_captured(sim, f->ts_ns, f->data, f->caplen, f->origlen)
                  : vns_sim_inject_captured(sim, f->ts_ns, f->data, f->caplen, f->origlen);
    ck_assert_int_eq(rc, 0);
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  return sim;
}

static vns_sim *run_capture(const char *path, uint32_t server_ip, int play, int feed,
                            guest_out *g) {
  char err[512];
  scn_capture in;
  ck_assert_msg(host_pcap_load(path, &in, err, sizeof err) == 0, "%s", err);
  vns_sim_opts o;
  opts_as(&o, &in, server_ip, play, g);
  vns_sim *sim = run_frames(&o, &in, feed);
  host_pcap_free(&in);
  return sim;
}

static uint64_t fates(const vns_sim *sim, const char *fate) {
  uint64_t n = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, fate, &n), 0);
  return n;
}

static const char *captured_fate(const vns_sim *sim, size_t k) {
  int64_t id = vns_sim_captured_frame(sim, k);
  ck_assert_int_ge(id, 0);
  return vns_sim_frame_fate(sim, (size_t)id);
}

/* Every frame of both ledgers has its one fate. */
static void assert_accounted(const vns_sim *sim) {
  uint64_t unsent = 1, dbl = 1;
  ck_assert_uint_eq(fates(sim, "pending"), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "host.frames_unsent", &unsent), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "fates.double", &dbl), 0);
  ck_assert_uint_eq(unsent + dbl, 0);
}

START_TEST(test_captured_http_get_is_answered_after_rebasing) {
  guest_out g = {0};
  vns_sim *sim = run_capture(HTTP_FIN_PCAP, HTTP_FIN_SERVER, 1, 1, &g);
  ck_assert_uint_eq(vns_sim_conversation_count(sim), 1);
  vns_conversation c;
  ck_assert_int_eq(vns_sim_conversation(sim, 0, &c), 0);
  ck_assert_str_eq(c.state, "established");
  ck_assert_ptr_null(c.stopped);
  ck_assert_uint_eq(c.server_port, 80);
  ck_assert_uint_eq(c.client_port, 49486);
  /* the GET's 367 bytes reached the server the guest plays, all acknowledged */
  ck_assert_uint_eq(c.client_bytes, 367);
  ck_assert_uint_eq(c.client_delivered, 367);
  ck_assert_uint_eq(c.client_sent, c.client_segments);
  /* ...and its HTTP server answered, then closed */
  ck_assert_uint_eq(g.http_responses, 1);
  ck_assert_str_eq(g.status, "HTTP/1.1 404 Not Found");
  ck_assert_int_eq(c.guest_fin, 1);
  /* the recorded server's 8 segments were compared, not sent: the guest's
   * SYN-ACK is the server's, its 404 is not the server's file */
  ck_assert_uint_eq(c.recorded_segments, 8);
  ck_assert_uint_eq(c.recorded_bytes, 3549);
  ck_assert_uint_eq(fates(sim, "compared"), 8);
  ck_assert_str_eq(captured_fate(sim, 1), "compared");
  ck_assert_str_eq(c.answer, "differs");
  ck_assert_uint_eq(c.compared, 1);
  ck_assert_uint_eq(c.diff_at, 2);
  ck_assert_uint_eq(c.diff_recorded.len, 1380);
  ck_assert_uint_eq(c.diff_guest.len, 91);
  /* no client segment rejected: each acknowledged what the guest sent */
  ck_assert_uint_eq(fates(sim, "rejected"), 0);
  ck_assert_uint_eq(fates(sim, "conversation_stopped"), 0);
  assert_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

/* Without the player (a replay of the guest's own recording) nothing is
 * held or rewritten: the client's segments after the SYN carry the
 * recorded server's numbers and are rejected, as before. */
START_TEST(test_without_the_player_the_capture_goes_as_it_is) {
  guest_out g = {0};
  vns_sim *sim = run_capture(HTTP_FIN_PCAP, HTTP_FIN_SERVER, 0, 1, &g);
  ck_assert_uint_eq(vns_sim_conversation_count(sim), 0);
  ck_assert_uint_eq(fates(sim, "compared"), 0);
  ck_assert_uint_eq(fates(sim, "rejected"), 6);
  ck_assert_uint_eq(g.http_responses, 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_a_missing_client_segment_stops_the_conversation) {
  guest_out g = {0};
  vns_sim *sim = run_capture(MISSING_PCAP, MISSING_SERVER, 1, 1, &g);
  ck_assert_uint_eq(vns_sim_conversation_count(sim), 1);
  vns_conversation c;
  ck_assert_int_eq(vns_sim_conversation(sim, 0, &c), 0);
  /* the capture has no SYN-ACK: the client's first ACK gives the recorded
   * ISN, and the handshake with the guest completes */
  ck_assert_str_eq(c.state, "established");
  ck_assert_str_eq(c.answer, "not_recorded");
  ck_assert_uint_eq(c.diff_at, 0);
  /* frame 4 starts at client byte 2841: bytes 1421..2840 were never captured */
  ck_assert_str_eq(c.stopped, "client_segment_missing");
  ck_assert_uint_eq(c.stop_frame, 4);
  ck_assert_ptr_nonnull(strstr(c.why, "client bytes 1421..2840 are not in the capture"));
  ck_assert_uint_eq(c.client_delivered, 1420);
  ck_assert_uint_eq(c.client_sent, 3);
  /* frame 4 and the ten after it are not sent */
  ck_assert_uint_eq(fates(sim, "conversation_stopped"), 11);
  ck_assert_str_eq(captured_fate(sim, 2), "answered");
  ck_assert_str_eq(captured_fate(sim, 3), "conversation_stopped");
  ck_assert_str_eq(captured_fate(sim, 13), "conversation_stopped");
  assert_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_the_same_run_twice_and_fed_or_queued) {
  guest_out g = {0};
  vns_sim *a = run_capture(HTTP_FIN_PCAP, HTTP_FIN_SERVER, 1, 1, &g);
  vns_sim *b = run_capture(HTTP_FIN_PCAP, HTTP_FIN_SERVER, 1, 1, &g);
  vns_sim *c = run_capture(HTTP_FIN_PCAP, HTTP_FIN_SERVER, 1, 0, &g);
  ck_assert_uint_eq(vns_sim_trace_hash(a), vns_sim_trace_hash(b));
  ck_assert_uint_eq(vns_sim_trace_hash(a), vns_sim_trace_hash(c));
  uint64_t ea = 0, ec = 0;
  ck_assert_int_eq(vns_sim_counter(a, "trace.events", &ea), 0);
  ck_assert_int_eq(vns_sim_counter(c, "trace.events", &ec), 0);
  ck_assert_uint_eq(ea, ec);
  vns_sim_free(a);
  vns_sim_free(b);
  vns_sim_free(c);
}
END_TEST

/* --- conversations built here ------------------------------------------------ */

#define CLIENT_IP  VNS_IP(10, 9, 0, 1)
#define SERVER_IP  VNS_IP(10, 9, 0, 20)
#define CLIENT_ISN 1000u
#define SERVER_ISN 5000u
#define T0         1000000000ull
#define STEP_NS    1000000ull /* 1 ms between captured frames */

static const uint8_t client_mac[6] = {0x02, 0x00, 0x0a, 0x09, 0x00, 0x01};
static const uint8_t server_mac[6] = {0x02, 0x00, 0x0a, 0x09, 0x00, 0x14};

/* A captured Ethernet frame of one TCP segment between client and server. */
static scn_capture_frame *seg(scn_capture *cap, int from_client, uint16_t server_port,
                              uint8_t flags, uint32_t seq, uint32_t ack, const char *data) {
  ck_assert_uint_lt(cap->nframes, cap->cap);
  scn_capture_frame *f = &cap->frames[cap->nframes];
  uint8_t *b = f->data;
  memcpy(b, from_client ? server_mac : client_mac, 6);
  memcpy(b + 6, from_client ? client_mac : server_mac, 6);
  net_put_be16(b + 12, NET_ETHERTYPE_IPV4);
  uint16_t cport = 40000;
  net_tcp_repr t = {from_client ? cport : server_port,
                    from_client ? server_port : cport,
                    seq,
                    ack,
                    flags,
                    8192,
                    (flags & NET_TCP_SYN) ? 1460 : 0,
                    (const uint8_t *)data,
                    data ? strlen(data) : 0};
  uint32_t src = from_client ? CLIENT_IP : SERVER_IP, dst = from_client ? SERVER_IP : CLIENT_IP;
  size_t off = NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN;
  int tl = net_tcp_emit(&t, src, dst, b + off, 1514 - off);
  ck_assert_int_gt(tl, 0);
  net_ipv4_repr ip = {src, dst, NET_IP_PROTO_TCP, 64, 0, (uint16_t)cap->nframes, 1,
                      0,   0,   (size_t)tl};
  ck_assert_int_gt(net_ipv4_emit(&ip, b + NET_ETH_HEADER_LEN, 1514 - NET_ETH_HEADER_LEN), 0);
  f->caplen = f->origlen = (uint32_t)(off + (size_t)tl);
  f->ts_ns = T0 + cap->nframes * STEP_NS;
  cap->nframes++;
  return f;
}

static uint8_t frame_bytes[16][1514];
static scn_capture_frame frame_slots[16];

static void capture_init(scn_capture *cap) {
  memset(cap, 0, sizeof *cap);
  cap->frames = frame_slots;
  cap->cap = sizeof frame_slots / sizeof frame_slots[0];
  for (size_t i = 0; i < cap->cap; i++)
    frame_slots[i] = (scn_capture_frame){.data = frame_bytes[i]};
}

static vns_sim *run_built_as(const scn_capture *cap, guest_out *g, int feed) {
  vns_sim_opts o;
  opts_as(&o, cap, SERVER_IP, 1, g);
  memcpy(o.guest_mac, server_mac, sizeof o.guest_mac);
  return run_frames(&o, cap, feed);
}

static vns_sim *run_built(const scn_capture *cap, guest_out *g) { return run_built_as(cap, g, 1); }

/* The guest's echo service (TCP 8023) sends back all five bytes; the
 * recorded server had sent three. */
START_TEST(test_the_first_difference_from_the_recorded_server) {
  scn_capture cap;
  capture_init(&cap);
  const uint8_t A = NET_TCP_ACK, PA = NET_TCP_PSH | NET_TCP_ACK;
  seg(&cap, 1, 8023, NET_TCP_SYN, CLIENT_ISN, 0, NULL);
  seg(&cap, 0, 8023, NET_TCP_SYN | A, SERVER_ISN, CLIENT_ISN + 1, NULL);
  seg(&cap, 1, 8023, A, CLIENT_ISN + 1, SERVER_ISN + 1, NULL);
  seg(&cap, 1, 8023, PA, CLIENT_ISN + 1, SERVER_ISN + 1, "hello");
  seg(&cap, 0, 8023, PA, SERVER_ISN + 1, CLIENT_ISN + 6, "hel");
  seg(&cap, 1, 8023, A, CLIENT_ISN + 6, SERVER_ISN + 4, NULL);
  seg(&cap, 1, 8023, NET_TCP_FIN | A, CLIENT_ISN + 6, SERVER_ISN + 4, NULL);
  guest_out g = {0};
  vns_sim *sim = run_built(&cap, &g);
  vns_conversation c;
  ck_assert_int_eq(vns_sim_conversation(sim, 0, &c), 0);
  ck_assert_str_eq(c.state, "established");
  ck_assert_msg(!c.stopped, "stopped: %s", c.why);
  ck_assert_uint_eq(c.client_delivered, 5);
  ck_assert_str_eq(c.answer, "differs");
  /* the SYN-ACKs agree; the echoes differ in length, not in flags */
  ck_assert_uint_eq(c.compared, 1);
  ck_assert_uint_eq(c.diff_at, 2);
  ck_assert_str_eq(c.diff_recorded.flags, "PSH,ACK");
  ck_assert_uint_eq(c.diff_recorded.len, 3);
  ck_assert_uint_eq(c.diff_guest.len, 5);
  ck_assert_int_eq(c.diff_guest.none, 0);
  ck_assert_uint_eq(c.recorded_segments, 2);
  ck_assert_str_eq(captured_fate(sim, 1), "compared");
  ck_assert_str_eq(captured_fate(sim, 4), "compared");
  ck_assert_uint_eq(fates(sim, "rejected"), 0);
  assert_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

/* The discard service (TCP 9) never sends what the recorded client
 * acknowledges: the client's segment waits 5 s, then the conversation
 * stops and the segments after it are not sent. */
START_TEST(test_a_client_waiting_in_vain_stops_after_the_bounded_wait) {
  scn_capture cap;
  capture_init(&cap);
  const uint8_t A = NET_TCP_ACK, PA = NET_TCP_PSH | NET_TCP_ACK;
  seg(&cap, 1, 9, NET_TCP_SYN, CLIENT_ISN, 0, NULL);
  seg(&cap, 0, 9, NET_TCP_SYN | A, SERVER_ISN, CLIENT_ISN + 1, NULL);
  seg(&cap, 1, 9, A, CLIENT_ISN + 1, SERVER_ISN + 1, NULL);
  seg(&cap, 1, 9, PA, CLIENT_ISN + 1, SERVER_ISN + 1, "ping");
  seg(&cap, 1, 9, A, CLIENT_ISN + 5, SERVER_ISN + 101, NULL);
  seg(&cap, 1, 9, NET_TCP_FIN | A, CLIENT_ISN + 5, SERVER_ISN + 101, NULL);
  guest_out g = {0};
  vns_sim *sim = run_built(&cap, &g);
  vns_conversation c;
  ck_assert_int_eq(vns_sim_conversation(sim, 0, &c), 0);
  ck_assert_str_eq(c.state, "established");
  ck_assert_str_eq(c.stopped, "no_data");
  ck_assert_uint_eq(c.stop_frame, 5);
  ck_assert_ptr_nonnull(strstr(c.why, "acknowledges 100 bytes"));
  ck_assert_ptr_nonnull(strstr(c.why, "the guest sent 0"));
  ck_assert_uint_eq(c.client_delivered, 4);
  /* it waited its 5 s from the frame's capture time, not longer */
  ck_assert_uint_eq(c.stopped_ns, T0 + 4 * STEP_NS + 5000000000ull);
  ck_assert_str_eq(captured_fate(sim, 4), "conversation_stopped");
  ck_assert_str_eq(captured_fate(sim, 5), "conversation_stopped");
  /* the recorded server sent no more than its SYN-ACK, nor did the guest */
  ck_assert_str_eq(c.answer, "same");
  ck_assert_uint_eq(c.compared, 1);
  assert_accounted(sim);
  /* the wait's timer is the run's own: queued whole, the same run */
  vns_sim *queued = run_built_as(&cap, &g, 0);
  ck_assert_uint_eq(vns_sim_trace_hash(queued), vns_sim_trace_hash(sim));
  vns_sim_free(queued);
  vns_sim_free(sim);
}
END_TEST

/* A client that reuses its port for a second connection, with another ISN,
 * makes a second conversation. */
START_TEST(test_a_port_reused_with_another_isn_is_another_conversation) {
  scn_capture cap;
  capture_init(&cap);
  const uint8_t A = NET_TCP_ACK, FA = NET_TCP_FIN | NET_TCP_ACK;
  seg(&cap, 1, 8023, NET_TCP_SYN, CLIENT_ISN, 0, NULL);
  seg(&cap, 0, 8023, NET_TCP_SYN | A, SERVER_ISN, CLIENT_ISN + 1, NULL);
  seg(&cap, 1, 8023, A, CLIENT_ISN + 1, SERVER_ISN + 1, NULL);
  seg(&cap, 1, 8023, FA, CLIENT_ISN + 1, SERVER_ISN + 1, NULL);
  seg(&cap, 0, 8023, FA, SERVER_ISN + 1, CLIENT_ISN + 2, NULL);
  seg(&cap, 1, 8023, A, CLIENT_ISN + 2, SERVER_ISN + 2, NULL);
  seg(&cap, 1, 8023, NET_TCP_SYN, 9000, 0, NULL);
  seg(&cap, 0, 8023, NET_TCP_SYN | A, 7000, 9001, NULL);
  seg(&cap, 1, 8023, A, 9001, 7001, NULL);
  guest_out g = {0};
  vns_sim *sim = run_built(&cap, &g);
  ck_assert_uint_eq(vns_sim_conversation_count(sim), 2);
  for (size_t i = 0; i < 2; i++) {
    vns_conversation c;
    ck_assert_int_eq(vns_sim_conversation(sim, i, &c), 0);
    ck_assert_str_eq(c.state, "established");
    ck_assert_msg(!c.stopped, "conversation %zu stopped: %s", i + 1, c.why);
    ck_assert_str_eq(c.answer, "same");
    ck_assert_uint_eq(c.syn_frame, i ? 7 : 1);
  }
  ck_assert_uint_eq(fates(sim, "rejected"), 0);
  assert_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

/* The table of conversations is bounded: SYNs past SCN_CONV_MAX (256)
 * go as captured, counted. */
START_TEST(test_conversations_past_the_table_are_counted) {
  scn_capture cap;
  capture_init(&cap);
  guest_out g = {0};
  vns_sim_opts o;
  seg(&cap, 1, 9, NET_TCP_SYN, CLIENT_ISN, 0, NULL);
  opts_as(&o, &cap, SERVER_IP, 1, &g);
  memcpy(o.guest_mac, server_mac, sizeof o.guest_mac);
  vns_sim *sim = NULL;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  enum { SYNS = 300, TCP_SPORT_AT = NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN };
  scn_capture_frame *f = &cap.frames[0];
  for (unsigned i = 0; i < SYNS; i++) {
    /* another client port each time (the checksum is the player's to mend) */
    net_put_be16(f->data + TCP_SPORT_AT, (uint16_t)(20000 + i));
    ck_assert_int_eq(vns_sim_feed_captured(sim, T0 + i * STEP_NS, f->data, f->caplen, f->origlen),
                     0);
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  uint64_t over = 0;
  ck_assert_int_eq(vns_sim_counter(sim, "conversations.over_limit", &over), 0);
  ck_assert_uint_eq(vns_sim_conversation_count(sim), 256);
  ck_assert_uint_eq(over, SYNS - 256);
  vns_conversation c;
  ck_assert_int_eq(vns_sim_conversation(sim, 255, &c), 0);
  ck_assert_uint_eq(c.client_port, 20255);
  ck_assert_int_eq(vns_sim_conversation(sim, 256, &c), VNS_EINVAL);
  assert_accounted(sim);
  vns_sim_free(sim);
}
END_TEST

/* --- the command --------------------------------------------------------------- */

START_TEST(test_the_report_has_a_line_per_conversation) {
  ck_assert_int_eq(run("replay pcpp_one_http_stream_fin.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "TCP conversations the host played the client of: 1 "
                               "(established 1, stopped 0)"));
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "  conversation 1: 192.168.1.2:49486 > 77.67.44.206:80 syn_frame=1 "
                               "state=established delivered=367/367 "));
  ck_assert_ptr_nonnull(strstr(out_buf,
                               " answer=differs at=2 recorded=ACK/1380 guest=PSH,ACK/91 "
                               "end=ran\n"));
  ck_assert_int_eq(run("replay pcpp_unidirectional_tcp_stream_with_missing_packet.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               " end=stopped:client_segment_missing frame=4 (client "
                               "bytes 1421..2840 are not in the capture"));
  ck_assert_int_eq(run("replay --json pcpp_one_http_stream_fin.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "\"conversations\":[{\"client\":\"192.168.1.2:49486\","
                               "\"server\":\"77.67.44.206:80\",\"syn_frame\":1,"
                               "\"state\":\"established\""));
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "\"first_difference\":{\"segment\":2,\"recorded\":{"
                               "\"flags\":\"ACK\",\"len\":1380},\"guest\":{\"flags\":"
                               "\"PSH,ACK\",\"len\":91}},\"stopped\":null}]"));
  /* MySQL's port: the guest runs no service there, and accepts as a sink;
   * the client waits for the server's greeting in vain */
  ck_assert_int_eq(run("replay pcpp_one_tcp_stream_fin_rst_close_packet.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "note: the guest accepts TCP on port 3306 as the "
                               "capture's server did, as a sink"));
  ck_assert_ptr_nonnull(strstr(out_buf, " state=established delivered=53/235 "));
  ck_assert_ptr_nonnull(strstr(out_buf,
                               " end=stopped:no_data frame=7 (the client acknowledges "
                               "78 bytes of the server's; the guest sent 0 in 5 s)"));
  /* a host talking to itself over 127.0.0.1: the guest keeps its address,
   * the host plays the client from its own, and the GET is answered */
  ck_assert_int_eq(run("replay tcpdump_print-flags.pcap"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "at a loopback address, which no guest can have: the "
                               "guest keeps its own, and the host plays the client "
                               "from its own"));
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "  conversation 1: 127.0.0.1:55920 > 127.0.0.1:80 "
                               "syn_frame=1 state=established delivered=202/202 "
                               "sent=6/6 guest=5seg/280B+FIN "));
  /* a capture that addresses the guest plays nothing: no such section */
  ck_assert_int_eq(run("replay pcpp_one_http_stream_fin.pcap --guest-ip 10.0.2.15"), 0);
  ck_assert_ptr_null(strstr(out_buf, "TCP conversations"));
}
END_TEST

static Suite *conv_suite(void) {
  Suite *s = suite_create("conv");
  TCase *cap = tcase_create("captures");
  tcase_set_timeout(cap, 60);
  tcase_add_test(cap, test_captured_http_get_is_answered_after_rebasing);
  tcase_add_test(cap, test_without_the_player_the_capture_goes_as_it_is);
  tcase_add_test(cap, test_a_missing_client_segment_stops_the_conversation);
  tcase_add_test(cap, test_the_same_run_twice_and_fed_or_queued);
  suite_add_tcase(s, cap);
  TCase *built = tcase_create("built");
  tcase_add_test(built, test_the_first_difference_from_the_recorded_server);
  tcase_add_test(built, test_a_client_waiting_in_vain_stops_after_the_bounded_wait);
  tcase_add_test(built, test_a_port_reused_with_another_isn_is_another_conversation);
  tcase_add_test(built, test_conversations_past_the_table_are_counted);
  suite_add_tcase(s, built);
  TCase *cli = tcase_create("cli");
  tcase_set_timeout(cli, 60);
  tcase_add_checked_fixture(cli, setup, teardown);
  tcase_add_test(cli, test_the_report_has_a_line_per_conversation);
  suite_add_tcase(s, cli);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(conv_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
