/* pcapng files whose interfaces differ in link type (host/pcapng.c, reached
 * through host/pcapio's loaders and `vnetsim replay`): read whole, each
 * record by its own interface's link type and time resolution, in both
 * byte orders; hostile blocks give a clear error or a counted fate, never
 * a crash. Files are written here block by block (tests/pcapng_build.h);
 * the public example is counted by tshark where it is installed, else by
 * this suite's own walk over its blocks. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "emu/err.h"
#include "host/pcapio.h"
#include "host/pcapng.h"
#include "sim/scn.h"
#include "tests/cli_run.h"
#include "tests/pcapng_build.h"

#define EXAMPLE "pcpp_pcapng-example.pcapng"
/* LINKTYPE_ values as a file has them */
#define LT_ETHERNET   1
#define LT_RAW        101
#define LT_IEEE802_11 105
#define LT_SLL2       276
#define SLL2_HDR      20
#define ETH_HDR       14
#define ECHO_LEN      98
#define GUEST_IP      0x0a00020fu /* 10.0.2.15, the guest's default */
#define ETH_PEER_IP   0x0a000232u /* 10.0.2.50 */
#define SLL_PEER_IP   0x0a00023cu /* 10.0.2.60 */
#define T0_S          1600000000ull
#define NS            1000000000ull
#define TSRESOL_NS    9
#define TSRESOL_MS    3
#define TSRESOL_BIN10 (0x80 | 10) /* 2^-10 s */

/* The MAC the replay synthesizes for the guest's address (host/linktype.h):
 * the guest takes it, so frames of every interface are addressed to it. */
static const uint8_t guest_mac[6] = {0x02, 0x00, 0x0a, 0x00, 0x02, 0x0f};
static const uint8_t eth_peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x50};
static const uint8_t sll_peer_mac[6] = {0x02, 0x00, 0x0a, 0x00, 0x02, 0x3c};

static ng_buf nb;

/* An echo request from ip/mac to the guest, as an Ethernet frame. */
static size_t echo_frame(uint8_t *buf, uint32_t ip, const uint8_t mac[6], uint16_t seq) {
  net_iface_config from = {.ip = ip, .netmask = 0xffffff00};
  memcpy(from.mac, mac, 6);
  size_t n = scn_frame_icmp_echo(buf, ECHO_LEN, NET_ICMP_ECHO_REQUEST, &from, guest_mac, GUEST_IP,
                                 0x77, seq, ECHO_LEN);
  ck_assert_uint_eq(n, ECHO_LEN);
  return n;
}

/* The same echo under a Linux cooked v2 header (protocol IPv4). */
static size_t echo_sll2(uint8_t *buf, uint32_t ip, const uint8_t mac[6], uint16_t seq) {
  uint8_t eth[ECHO_LEN];
  echo_frame(eth, ip, mac, seq);
  memset(buf, 0, SLL2_HDR);
  buf[0] = 0x08; /* protocol 0x0800 */
  buf[9] = 1;    /* ARPHRD_ETHER */
  buf[11] = 6;   /* address length */
  memcpy(buf + 12, mac, 6);
  memcpy(buf + SLL2_HDR, eth + ETH_HDR, ECHO_LEN - ETH_HDR);
  return SLL2_HDR + ECHO_LEN - ETH_HDR;
}

/* Two interfaces of different link type and resolution: Ethernet in ns,
 * Linux cooked v2 in ms counted from an if_tsoffset of T0_S. Four echo
 * requests, alternating, in time order. */
static void two_interfaces(ng_buf *w, int be) {
  uint8_t f[128];
  memset(w, 0, sizeof *w);
  w->be = be;
  ng_shb(w);
  ng_idb(w, LT_ETHERNET, 0, TSRESOL_NS, 0);
  ng_idb(w, LT_SLL2, 262144, TSRESOL_MS, (int64_t)T0_S);
  ng_epb(w, 0, T0_S * NS + 100, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0));
  ng_epb(w, 1, 1, f, echo_sll2(f, SLL_PEER_IP, sll_peer_mac, 0));
  ng_epb(w, 0, T0_S * NS + 2000500, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
  ng_epb(w, 1, 3, f, echo_sll2(f, SLL_PEER_IP, sll_peer_mac, 1));
}

/* What each of two_interfaces' frames is, once loaded. */
static const uint64_t two_ts[4] = {T0_S * NS + 100, T0_S *NS + 1000000, T0_S *NS + 2000500,
                                   T0_S *NS + 3000000};

static int load(const ng_buf *w, scn_capture *in, char *err, size_t errcap) {
  return host_pcap_load_mem(w->b, w->n, "crafted", in, err, errcap);
}

/* The frame a replay gives loaded frame k, run to the end. */
static void replay_fates(const scn_capture *in, emu_fate *fates) {
  scn_config cfg;
  scn_config_default(&cfg);
  memcpy(cfg.guest.mac, guest_mac, 6);
  cfg.arp_proxy = 1; /* as replay does */
  cfg.start_ns = 0;
  for (size_t i = 0; i < in->nframes; i++)
    if (in->frames[i].ts_ns <= EMU_TIME_MAX) {
      cfg.start_ns = in->frames[i].ts_ns;
      break;
    }
  scn s;
  ck_assert_int_eq(scn_init(&s, &cfg), 0);
  scn_capture_notes notes;
  ck_assert_int_eq(scn_inject_capture(&s, in, &notes), 0);
  scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(&s);
  ck_assert_uint_eq(emu_fates_total(&s.fates), s.fates.nframes);
  for (size_t k = 0; k < in->nframes; k++) fates[k] = s.fates.frames[scn_captured_id(&s, k)].fate;
  scn_close(&s);
}

/* --- the public example ------------------------------------------------- */

/* Its records: tshark's count where tshark is installed, this suite's
 * walk over the blocks either way (they must agree). */
static size_t example_records(void) {
  static uint8_t file[1 << 16];
  char path[512];
  snprintf(path, sizeof path, "%s/%s", VNETSIM_CAPTURES_DIR, EXAMPLE);
  size_t n = slurp(path, (char *)file, sizeof file);
  size_t walked = ng_count_records(file, n);
  ck_assert_uint_ne(walked, (size_t)-1);
  if (system("command -v tshark >/dev/null 2>&1") == 0) {
    char cmd[600], line[64] = "";
    snprintf(cmd, sizeof cmd, "tshark -r '%s' 2>/dev/null | wc -l", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    ck_assert_uint_eq(strtoull(line, NULL, 10), walked);
  }
  return walked;
}

START_TEST(test_example_loads_every_record) {
  size_t expect = example_records();
  scn_capture in;
  char err[512], path[512];
  snprintf(path, sizeof path, "%s/%s", VNETSIM_CAPTURES_DIR, EXAMPLE);
  ck_assert_msg(host_pcap_load(path, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, expect);
  ck_assert_int_eq(in.mixed_links, 1);
  ck_assert_int_eq(in.linktype, LT_ETHERNET); /* the first interface's, as libpcap says */
  ck_assert_uint_eq(in.damaged, 0);
  /* the second interface is Linux cooked v1: converted, 2 bytes shorter */
  ck_assert_uint_gt(in.converted, 0);
  for (size_t k = 0; k < in.nframes; k++) ck_assert_int_eq(in.frames[k].unconvertible, 0);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_example_replays_to_the_end_every_record_with_a_fate) {
  size_t expect = example_records();
  ck_assert_int_eq(run("replay " EXAMPLE " --json"), 0);
  size_t listed = 0;
  for (const char *p = out_buf; (p = strstr(p, "{\"frame\":")) != NULL; p++) listed++;
  ck_assert_uint_eq(listed, expect);
  char want[64];
  snprintf(want, sizeof want, "{\"frame\":%zu,", expect);
  ck_assert_ptr_nonnull(strstr(out_buf, want));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"mixed_link_types\":true,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"fates_accounted\":true"));
  ck_assert_ptr_null(strstr(out_buf, "\"pending\""));
  ck_assert_str_eq(err_buf, "");
  ck_assert_int_eq(run("replay " EXAMPLE), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "interfaces have different link types"));
}
END_TEST

/* --- crafted: several interfaces ---------------------------------------- */

START_TEST(test_each_record_by_its_own_interface_in_both_byte_orders) {
  for (int be = 0; be <= 1; be++) {
    two_interfaces(&nb, be);
    ck_assert_uint_eq(ng_count_records(nb.b, nb.n), 4);
    scn_capture in;
    char err[512];
    ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(in.mixed_links, 1);
    ck_assert_uint_eq(in.nframes, 4);
    uint8_t want[ECHO_LEN];
    for (size_t k = 0; k < 4; k++) {
      const scn_capture_frame *f = &in.frames[k];
      ck_assert_msg(f->ts_ns == two_ts[k], "be %d frame %zu: %" PRIu64, be, k, f->ts_ns);
      ck_assert_uint_eq(f->caplen, ECHO_LEN);
      ck_assert_uint_eq(f->origlen, ECHO_LEN);
      if (k % 2)
        echo_frame(want, SLL_PEER_IP, sll_peer_mac, (uint16_t)(k / 2));
      else
        echo_frame(want, ETH_PEER_IP, eth_peer_mac, (uint16_t)(k / 2));
      ck_assert_msg(memcmp(f->data, want, ECHO_LEN) == 0, "be %d frame %zu", be, k);
    }
    emu_fate fates[4];
    replay_fates(&in, fates);
    for (size_t k = 0; k < 4; k++) ck_assert_int_eq(fates[k], EMU_FATE_ANSWERED);
    host_pcap_free(&in);
  }
}
END_TEST

/* Raw IP in 2^-10 s ticks with a negative offset; a Simple Packet (the
 * first interface, no time), an obsolete Packet block, and blocks of an
 * unknown type between them. */
START_TEST(test_simple_and_obsolete_blocks_binary_resolution_and_unknown_blocks) {
  uint8_t f[128];
  memset(&nb, 0, sizeof nb);
  ng_shb(&nb);
  ng_idb(&nb, LT_ETHERNET, 0, TSRESOL_NS, 0);
  ng_idb(&nb, LT_RAW, 0, TSRESOL_BIN10, -10);
  ng_unknown(&nb, 0x0bad, 13);
  size_t n = echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0);
  ng_spb(&nb, f, n);
  n = echo_frame(f, SLL_PEER_IP, sll_peer_mac, 1);
  ng_pb(&nb, 1, (T0_S + 10) * 1024 + 512, f + ETH_HDR, n - ETH_HDR); /* T0 + 0.5 s */
  ng_unknown(&nb, 5, 0); /* an Interface Statistics block: skipped */
  scn_capture in;
  char err[512];
  ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, 2);
  ck_assert_uint_eq(in.frames[0].ts_ns, 0);
  ck_assert_uint_eq(in.frames[0].caplen, ECHO_LEN);
  ck_assert_uint_eq(in.frames[1].ts_ns, T0_S * NS + NS / 2);
  ck_assert_uint_eq(in.frames[1].caplen, ECHO_LEN);
  ck_assert_int_eq(memcmp(in.frames[1].data, guest_mac, 6), 0); /* made from the address */
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_one_link_type_stays_with_libpcap) {
  uint8_t f[128];
  memset(&nb, 0, sizeof nb);
  ng_shb(&nb);
  ng_idb(&nb, LT_ETHERNET, 0, TSRESOL_NS, 0);
  ng_idb(&nb, LT_ETHERNET, 0, TSRESOL_MS, 0);
  ng_epb(&nb, 1, 5, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0));
  scn_capture in;
  char err[512];
  ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(in.mixed_links, 0);
  ck_assert_uint_eq(in.frames[0].ts_ns, 5000000);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_max_frames_cuts_a_mixed_file) {
  two_interfaces(&nb, 0);
  char path[128], err[512];
  snprintf(path, sizeof path, "%s/two.pcapng", tmpdir);
  FILE *fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_uint_eq(fwrite(nb.b, 1, nb.n, fp), nb.n);
  fclose(fp);
  scn_capture in;
  ck_assert_msg(host_pcap_load_max(path, 3, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, 3);
  ck_assert_int_eq(in.cut, 1);
  host_pcap_free(&in);
  ck_assert_msg(host_pcap_load_max(path, 4, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(in.cut, 0);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_cli_frames_of_both_interfaces_answered_in_time_order) {
  two_interfaces(&nb, 1);
  char args[512], path[128];
  snprintf(path, sizeof path, "%s/two.pcapng", tmpdir);
  FILE *fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_uint_eq(fwrite(nb.b, 1, nb.n, fp), nb.n);
  fclose(fp);
  snprintf(args, sizeof args, "replay %s --guest-mac 02:00:0a:00:02:0f -o %s/out.pcap --json", path,
           tmpdir);
  ck_assert_int_eq(run(args), 0);
  for (size_t k = 0; k < 4; k++) {
    char want[128];
    snprintf(want, sizeof want,
             "{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"len\":98,\"fate\":\"answered\"}", k + 1,
             two_ts[k]);
    ck_assert_msg(strstr(out_buf, want) != NULL, "no %s in %s", want, out_buf);
  }
  ck_assert_ptr_nonnull(strstr(out_buf, "\"frames_out_of_order\":0,"));
  /* the replies reached both peers, at the MACs each interface showed */
  scn_capture out;
  char err[512];
  snprintf(path, sizeof path, "%s/out.pcap", tmpdir);
  ck_assert_msg(host_pcap_load(path, &out, err, sizeof err) == 0, "%s", err);
  size_t to_eth = 0, to_sll = 0;
  for (size_t k = 0; k < out.nframes; k++) {
    const uint8_t *fr = out.frames[k].data;
    if (out.frames[k].caplen < 35 || fr[23] != NET_IP_PROTO_ICMP || fr[34] != 0) continue;
    to_eth += memcmp(fr, eth_peer_mac, 6) == 0;
    to_sll += memcmp(fr, sll_peer_mac, 6) == 0;
  }
  ck_assert_uint_eq(to_eth, 2);
  ck_assert_uint_eq(to_sll, 2);
  host_pcap_free(&out);
}
END_TEST

/* --- hostile blocks ------------------------------------------------------ */

/* Two interfaces and one good record, then whatever the test adds. */
static void hostile_start(ng_buf *w) {
  uint8_t f[128];
  memset(w, 0, sizeof *w);
  ng_shb(w);
  ng_idb(w, LT_ETHERNET, 0, TSRESOL_NS, 0);
  ng_idb(w, LT_SLL2, 0, NG_NO_TSRESOL, 0);
  ng_epb(w, 0, T0_S * NS, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0));
}

static void hostile_end(ng_buf *w) {
  uint8_t f[128];
  ng_epb(w, 1, T0_S * 1000000 + 1, f, echo_sll2(f, SLL_PEER_IP, sll_peer_mac, 1));
}

START_TEST(test_record_of_an_interface_without_idb_is_link_unsupported) {
  uint8_t f[128];
  hostile_start(&nb);
  ng_epb(&nb, 7, T0_S * NS + 5, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
  hostile_end(&nb);
  scn_capture in;
  char err[512];
  ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, 3);
  ck_assert_int_eq(in.frames[1].unconvertible, 1);
  emu_fate fates[3];
  replay_fates(&in, fates);
  ck_assert_int_eq(fates[0], EMU_FATE_ANSWERED);
  ck_assert_int_eq(fates[1], EMU_FATE_LINK_UNSUPPORTED);
  ck_assert_int_eq(fates[2], EMU_FATE_ANSWERED);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_interface_of_a_link_type_not_replayed_is_link_unsupported) {
  uint8_t f[128];
  memset(&nb, 0, sizeof nb);
  ng_shb(&nb);
  ng_idb(&nb, LT_IEEE802_11, 0, NG_NO_TSRESOL, 0); /* refused by libpcap's path alone */
  ng_idb(&nb, LT_ETHERNET, 0, TSRESOL_NS, 0);
  ng_epb(&nb, 0, 1, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0));
  ng_epb(&nb, 1, T0_S * NS, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
  scn_capture in;
  char err[512];
  ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, 2);
  ck_assert_int_eq(in.frames[0].unconvertible, 1);
  ck_assert_int_eq(in.frames[1].unconvertible, 0);
  host_pcap_free(&in);
}
END_TEST

START_TEST(test_record_longer_than_its_block_is_damaged_and_frame_invalid) {
  uint8_t f[128];
  hostile_start(&nb);
  size_t n = echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1);
  ng_epb_lying(&nb, 0, T0_S * NS + 5, f, n, 4000); /* 4000 bytes said, 98 there */
  hostile_end(&nb);
  scn_capture in;
  char err[512];
  ck_assert_msg(load(&nb, &in, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(in.nframes, 3);
  ck_assert_uint_eq(in.damaged, 1);
  ck_assert_uint_eq(in.frames[1].caplen, 0);
  emu_fate fates[3];
  replay_fates(&in, fates);
  ck_assert_int_eq(fates[1], EMU_FATE_FRAME_INVALID);
  ck_assert_int_eq(fates[2], EMU_FATE_ANSWERED);
  host_pcap_free(&in);
}
END_TEST

/* A block length under the header's 12 bytes, or not a multiple of 4, or
 * past the end of the file, or disagreeing with its trailer: the read stops
 * naming the frame, as libpcap's does. */
START_TEST(test_bad_block_lengths_stop_with_the_frame_named) {
  static const struct {
    uint32_t length;
    int fix_trailer;
    const char *says;
  } bad[] = {
      {8, 0, "length of 8"},
      {14, 0, "length of 14"},
      {0x7ffffff0u, 0, "truncated"},
      {24, 0, "trailer"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t f[128];
    hostile_start(&nb);
    size_t at = nb.n;
    ng_epb(&nb, 0, T0_S * NS + 5, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
    size_t end = nb.n;
    nb.n = at + 4;
    ng_u32(&nb, bad[i].length);
    nb.n = end;
    hostile_end(&nb);
    scn_capture in;
    char err[512];
    ck_assert_int_eq(load(&nb, &in, err, sizeof err), EMU_EFORMAT);
    ck_assert_msg(strstr(err, "crafted: frame 2: ") && strstr(err, bad[i].says) &&
                      strstr(err, "(the 1 frames before it were read)"),
                  "%zu: %s", i, err);
    ck_assert_uint_eq(in.nframes, 0);
  }
}
END_TEST

/* A file cut inside its last block: the error libpcap gives a truncated
 * file, frame named, here as for a file libpcap reads itself. */
START_TEST(test_truncated_final_block_is_an_error_as_in_libpcap) {
  for (int mixed = 0; mixed <= 1; mixed++) {
    uint8_t f[128];
    memset(&nb, 0, sizeof nb);
    ng_shb(&nb);
    ng_idb(&nb, LT_ETHERNET, 0, TSRESOL_NS, 0);
    ng_idb(&nb, mixed ? LT_SLL2 : LT_ETHERNET, 0, TSRESOL_NS, 0);
    ng_epb(&nb, 0, T0_S * NS, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 0));
    ng_epb(&nb, 0, T0_S * NS + 1, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
    nb.n -= 30;
    scn_capture in;
    char err[512];
    ck_assert_int_eq(load(&nb, &in, err, sizeof err), EMU_EFORMAT);
    ck_assert_msg(strstr(err, "crafted: frame 2: truncated pcapng") &&
                      strstr(err, "(the 1 frames before it were read)"),
                  "mixed %d: %s", mixed, err);
  }
}
END_TEST

START_TEST(test_cli_hostile_records_get_fates_and_bad_blocks_exit_2) {
  uint8_t f[128];
  char path[128], args[256];
  snprintf(path, sizeof path, "%s/h.pcapng", tmpdir);
  hostile_start(&nb);
  ng_epb(&nb, 9, T0_S * NS + 5, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 1));
  ng_epb_lying(&nb, 0, T0_S * NS + 6, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 2), 999);
  hostile_end(&nb);
  FILE *fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_uint_eq(fwrite(nb.b, 1, nb.n, fp), nb.n);
  fclose(fp);
  snprintf(args, sizeof args, "replay %s --guest-mac 02:00:0a:00:02:0f", path);
  ck_assert_int_eq(run(args), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "frame    2"));
  ck_assert_ptr_nonnull(strstr(out_buf, "link_unsupported"));
  ck_assert_ptr_nonnull(strstr(out_buf, "frame_invalid"));
  ck_assert_ptr_nonnull(strstr(out_buf, "note: 1 records were damaged"));
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
  /* the same file cut in its last block */
  fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_uint_eq(fwrite(nb.b, 1, nb.n - 8, fp), nb.n - 8);
  fclose(fp);
  ck_assert_int_eq(run(args), 2);
  ck_assert_ptr_nonnull(strstr(err_buf, "frame 4: truncated pcapng file"));
  ck_assert_int_eq(strchr(err_buf, '\n') - err_buf + 1, (long)strlen(err_buf));
}
END_TEST

/* Every prefix of a mixed file, and the file with each byte flipped: a
 * clear refusal or a load, never a crash (run under the sanitizers). */
static int count_record(void *ctx, const host_pcapng_record *r) {
  size_t *n = ctx;
  if (r->data) ck_assert_uint_le(r->caplen, sizeof nb.b);
  ++*n;
  return 0;
}

/* Loads data[0..len) both ways: through the loaders and the bare walk. */
static void load_or_refuse(const uint8_t *data, size_t len, size_t cut, size_t flip) {
  scn_capture in;
  char err[512] = "";
  if (host_pcap_load_mem(data, len, "x", &in, err, sizeof err) == 0)
    host_pcap_free(&in);
  else
    ck_assert_msg(err[0] != '\0', "cut %zu flip %zu: no reason", cut, flip);
  size_t n = 0;
  int dlt;
  err[0] = '\0';
  if (host_pcapng_read(data, len, "x", count_record, &n, &dlt, err, sizeof err))
    ck_assert_msg(err[0] != '\0', "cut %zu flip %zu: no reason", cut, flip);
}

START_TEST(test_every_prefix_and_byte_flip_is_refused_or_read) {
  uint8_t f[128];
  hostile_start(&nb);
  ng_spb(&nb, f, echo_frame(f, ETH_PEER_IP, eth_peer_mac, 3));
  ng_pb(&nb, 1, 77, f, 40);
  hostile_end(&nb);
  static ng_buf copy;
  for (size_t cut = 0; cut <= nb.n; cut++) {
    uint8_t *exact = malloc(cut ? cut : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, nb.b, cut);
    load_or_refuse(exact, cut, cut, SIZE_MAX);
    free(exact);
  }
  for (size_t flip = 0; flip < nb.n; flip++) {
    for (unsigned bit = 0; bit < 8; bit++) {
      memcpy(copy.b, nb.b, nb.n);
      copy.b[flip] ^= (uint8_t)(1u << bit);
      load_or_refuse(copy.b, nb.n, nb.n, flip);
    }
  }
}
END_TEST

static Suite *pcapng_suite(void) {
  Suite *s = suite_create("pcapng");
  TCase *ex = tcase_create("example");
  tcase_add_checked_fixture(ex, setup, teardown);
  tcase_add_test(ex, test_example_loads_every_record);
  tcase_add_test(ex, test_example_replays_to_the_end_every_record_with_a_fate);
  suite_add_tcase(s, ex);
  TCase *mixed = tcase_create("interfaces");
  tcase_add_checked_fixture(mixed, setup, teardown);
  tcase_add_test(mixed, test_each_record_by_its_own_interface_in_both_byte_orders);
  tcase_add_test(mixed, test_simple_and_obsolete_blocks_binary_resolution_and_unknown_blocks);
  tcase_add_test(mixed, test_one_link_type_stays_with_libpcap);
  tcase_add_test(mixed, test_max_frames_cuts_a_mixed_file);
  tcase_add_test(mixed, test_cli_frames_of_both_interfaces_answered_in_time_order);
  suite_add_tcase(s, mixed);
  TCase *hostile = tcase_create("hostile");
  tcase_add_checked_fixture(hostile, setup, teardown);
  tcase_set_timeout(hostile, 120);
  tcase_add_test(hostile, test_record_of_an_interface_without_idb_is_link_unsupported);
  tcase_add_test(hostile, test_interface_of_a_link_type_not_replayed_is_link_unsupported);
  tcase_add_test(hostile, test_record_longer_than_its_block_is_damaged_and_frame_invalid);
  tcase_add_test(hostile, test_bad_block_lengths_stop_with_the_frame_named);
  tcase_add_test(hostile, test_truncated_final_block_is_an_error_as_in_libpcap);
  tcase_add_test(hostile, test_cli_hostile_records_get_fates_and_bad_blocks_exit_2);
  tcase_add_test(hostile, test_every_prefix_and_byte_flip_is_refused_or_read);
  suite_add_tcase(s, hostile);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(pcapng_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
