#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/internal.h"
#include "cli/cmd.h"
#include "emu/err.h"
#include "emu/grow.h"
#include "host/linktype.h"
#include "host/pcapio.h"
#include "host/pcapng.h"
#include "teach/teach.h"

static const char replay_usage[] =
    "usage: vnetsim replay IN.pcap [-o OUT.pcap] [OPTIONS]\n"
    "\n"
    "Injects every frame of a pcap or pcapng capture into the guest through the\n"
    "device's RX path, at its capture time on a virtual clock that starts at the\n"
    "first frame. Whatever the guest sends is written to OUT.pcap with virtual\n"
    "timestamps on the same time base, so a reply's time minus its request's is the\n"
    "modelled latency. The summary gives every input frame's fate; fates always add\n"
    "up to the number of frames the host sent (the input's, and the proxy's ARP\n"
    "replies below). The capture is read as the run goes, each frame when the run\n"
    "reaches its time, and each frame is forgotten once reported: memory holds the\n"
    "frames in flight, however long the capture.\n"
    "\n"
    "Frames of other link types are made Ethernet frames: Linux cooked capture v1\n"
    "and v2, raw IP, BSD loopback, VLAN/QinQ tags. A pcapng file's interfaces may\n"
    "differ: each record is converted by its own interface's link type. A record\n"
    "that cannot be converted gets the fate link_unsupported.\n"
    "\n"
    "The guest takes a real host's place when the capture addresses nothing to it\n"
    "(and no --guest-ip or --guest-mac says who it is): the capture is read once\n"
    "first, and the guest stands in for the server of its TCP conversations (the\n"
    "host that sent SYN-ACKs), else for the host asked the most (echo requests,\n"
    "SYNs, ARP who-has), else its busiest unicast destination, with the MAC the\n"
    "capture showed for it (a server at a loopback address, which no guest can\n"
    "have: the guest keeps its own, and the host plays the client from its own);\n"
    "the report says whom and why. Frames to other hosts\n"
    "get the fate not_for_guest. Frames out of time order are injected right\n"
    "after their predecessor.\n"
    "\n"
    "With the guest in a captured server's place, the host plays the client of each\n"
    "captured TCP conversation with it (as tcpliveplay does): the client's segments\n"
    "leave in the capture's order and at its times, their acknowledgement numbers\n"
    "rebased onto the guest's real ISN, each waiting (at most 5 s) until the guest\n"
    "has sent what it acknowledges. The recorded server's segments are not sent but\n"
    "compared with the guest's answer (fate compared); the client's segments after a\n"
    "conversation stopped get conversation_stopped. The report has one line per\n"
    "conversation: established or not, the client's bytes the guest acknowledged,\n"
    "the guest's answer against the recorded server's, and why it stopped.\n"
    "\n"
    "A frame is 'answered' only once the guest's reply has left its stack. A reply\n"
    "first needs the asker's MAC, and nobody in a capture answers the guest's ARP:\n"
    "so the host does (proxy ARP), for every address the capture's frames use and\n"
    "for the guest's gateway, with the MAC the capture showed for that address, else\n"
    "its own; it answers the guest's IPv6 Neighbor Solicitations the same way (RFC\n"
    "4861 proxy advertisements). Its replies are host frames too (they have fates),\n"
    "counted apart.\n"
    "A reply dropped while it waits for ARP makes its frame 'reply_unresolved': ARP\n"
    "gave up (always, with --no-arp-proxy), the guest's ARP queue of 4 was full, or\n"
    "the run ended first.\n"
    "\n"
    "  -o, --out FILE   write the frames the guest sent (pcap, nanosecond; '-': standard\n"
    "                   output, with the report on standard error)\n"
    "  --merged FILE    write both directions as they crossed the link, on one time base:\n"
    "                   pcapng with two interfaces, 'host' (the frames it sent, proxy ARP\n"
    "                   replies included) and 'guest'\n"
    "  --compare LIST   run the input twice, through the fixed driver and through one\n"
    "                   with the bugs in LIST, and print every frame whose fate differs\n"
    "  --html FILE      also write the run as one self-contained HTML page: ring occupancy\n"
    "                   over virtual time, kicks, interrupts, drops, and the ring states\n"
    "  --check          list every virtio rule broken in the run, by spec section\n"
    "  --max-frames N   read at most the first N frames of the capture (1..1000000000;\n"
    "                   default: all)\n"
    "  --no-arp-proxy   the host does not answer the guest's ARP requests\n"
    "  --no-recorded-options  ignore IN.pcap.vnetsim, the options 'vnetsim run --record'\n"
    "                   wrote beside its recording (seed, model, guest, client actions),\n"
    "                   which replay otherwise takes before its own command line's\n"
    "  --as auto|A.B.C.D  the host the guest stands in for: chosen as above (auto, also\n"
    "                   when the capture addresses the guest), or this address, with the\n"
    "                   capture's MAC for it; the capture must be a file (read twice)\n"
    "  --dhcp, --guest ACTION, --guest-out FILE\n"
    "                   as 'vnetsim run' takes them: to replay what 'vnetsim run --record'\n"
    "                   wrote of a guest that was a client, give the same ones (and\n"
    "                   --seed): the guest asks again, the recording answers, and each\n"
    "                   result is printed as run prints it\n"
    "%s"
    "  -h, --help       this text\n";

enum {
  REPLAY_OPT_NO_ARP_PROXY = CLI_OPT_SHARED_END + 1,
  REPLAY_OPT_AS,
  REPLAY_OPT_MERGED,
  REPLAY_OPT_NO_RECORDED
};

enum { REPLAY_AS_DEFAULT, REPLAY_AS_AUTO, REPLAY_AS_IP };
/* slirp's host and DNS are .2 and .3 of the guest's /24: a guest standing
 * in for one of them moves the host to .1 */
#define REPLAY_LAST_OCTET 0xffu
#define REPLAY_SLIRP_HOST 2u
#define REPLAY_SLIRP_DNS  3u
#define REPLAY_MOVED_HOST 1u

/* Whom the guest stands in for (--as), chosen from a first read of the
 * capture. */
typedef struct replay_as {
  int mode;
  uint32_t ip;          /* REPLAY_AS_IP: the address given */
  scn_endpoint_why why; /* how the scan chose (NONE for a given address) */
  scn_addr chosen;      /* the address taken (ip 0: none), and what the capture showed of it */
  int looked;           /* the capture was scanned for it */
} replay_as;

typedef struct replay_args {
  cli_sim_opts o;
  const char *in_path, *out_path, *html_path, *compare, *merged_path;
  uint64_t max_frames; /* 0: all */
  unsigned cmp_drv, cmp_dev;
  int check;
  replay_as as;
  cli_guest guest;           /* --dhcp, --guest: a recorded client session */
  int no_recorded;           /* --no-recorded-options */
  const char *recorded_path; /* the options file of 'run --record' taken, or NULL */
} replay_args;

/* The frames that crossed the link: the guest's as they reach the host's
 * end (-o), and with the host's as they leave it (--merged). */
typedef struct replay_out {
  host_pcap_writer w;
  int open;
  host_pcapng_writer merged;
  int merged_open;
} replay_out;

/* --merged's interfaces, in the order of their numbers */
enum { REPLAY_IF_HOST, REPLAY_IF_GUEST, REPLAY_IF_COUNT };

/* What reading the capture found; the frames read and not yet reported,
 * by their lengths (frame k's at caplens[at + k - reported]); and the
 * report's frame lines, spooled to a temporary file as the frames get their
 * fates, to go out in their place once the run is over. */
typedef struct replay_input {
  scn_capture info;
  uint32_t *caplens;
  size_t reported, at, cap;
  FILE *spool;
  int spool_failed, json;
} replay_input;

/* Frames read before the first whose time a clock holds: the run starts
 * at that time, so they wait for it, as runs of alike frames (a damaged
 * capture may have millions). */
typedef struct replay_held {
  uint32_t caplen;
  int unconvertible;
  uint64_t count;
} replay_held;

/* What one run writes besides stdout: -o, --trace, --html. */
typedef struct replay_files {
  replay_out out;
  cli_trace trace;
  host_outfile html;
  teach_rec *rec;
} replay_files;

/* A replay fed from the capture as it is read: one run, or the two of
 * --compare (fixed, then buggy) side by side. */
typedef struct replay_feed {
  replay_args *a;
  vns_sim_opts opts[2];
  vns_sim *sims[2];
  int nsims;
  replay_files files; /* one run only */
  replay_input in;
  replay_held *held;
  size_t nheld, held_cap;
  int started;
  int status; /* the exit status of a failure already reported, or 0 */
} replay_feed;

static void replay_on_guest_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  replay_out *out = ctx;
  if (out->open) host_pcap_writer_write(&out->w, now, frame, len);
  if (out->merged_open) host_pcapng_writer_write(&out->merged, REPLAY_IF_GUEST, now, frame, len);
}

static void replay_on_host_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  replay_out *out = ctx;
  host_pcapng_writer_write(&out->merged, REPLAY_IF_HOST, now, frame, len);
}

#define REPLAY_U64_DIGITS 20 /* of 18446744073709551615 */

/* A decimal number right-aligned in width (0: as long as it is) with pad
 * before it, at p; returns the end. */
static char *replay_put_u(char *p, uint64_t v, int width, char pad) {
  char digits[REPLAY_U64_DIGITS];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = n; i < width; i++) *p++ = pad;
  while (n) *p++ = digits[--n];
  return p;
}

/* The room a line's numbers and fixed text take, past its two names. */
#define REPLAY_LINE_FIXED 128

/* A frame done (vns_sim_opts.frame_done): its line goes to the spool.
 * Built by hand, as printf's
 *   "  frame %4zu  t=%" PRIu64 ".%09" PRIu64 "  len %5u  %s%s%s%s\n"
 * (or, for --json, "%s{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"len\":%u,
 * \"fate\":\"%s\"%s%s%s}") would print it: parsing that format was the
 * largest part of writing a long replay's report. A write error stays on
 * the spool's error flag, which replay_print_frames checks. */
static void replay_frame_done(void *ctx, const vns_frame_done *d) {
  replay_input *in = ctx;
  if (d->captured < 0) return; /* the host's own and the link's copies: counted below */
  uint32_t caplen = in->caplens[in->at++];
  in->reported++;
  emu_grow_compact(in->caplens, sizeof *in->caplens, &in->at, in->info.nframes - in->reported);
  uint64_t frame = (uint64_t)d->captured + 1, t = d->entered_ns;
  char line[REPLAY_LINE_FIXED], *p = line;
  if (in->json) {
    if (frame > 1) *p++ = ',';
    p = replay_put_u(stpcpy(p, "{\"frame\":"), frame, 0, ' ');
    p = replay_put_u(stpcpy(p, ",\"t_ns\":"), t, 0, ' ');
    p = replay_put_u(stpcpy(p, ",\"len\":"), caplen, 0, ' ');
    p = stpcpy(p, ",\"fate\":\"");
  } else {
    p = replay_put_u(stpcpy(p, "  frame "), frame, 4, ' ');
    p = replay_put_u(stpcpy(p, "  t="), t / 1000000000u, 0, ' ');
    p = replay_put_u(stpcpy(p, "."), t % 1000000000u, 9, '0');
    p = stpcpy(replay_put_u(stpcpy(p, "  len "), caplen, 5, ' '), "  ");
  }
  fwrite(line, 1, (size_t)(p - line), in->spool);
  fputs(d->fate, in->spool);
  if (in->json) fputs("\"", in->spool);
  if (d->fault) {
    fputs(in->json ? ",\"fault\":\"" : " (after ", in->spool);
    fputs(d->fault, in->spool);
    fputs(in->json ? "\"" : ")", in->spool);
  }
  fputs(in->json ? "}" : "\n", in->spool);
}

/* The spooled frame lines, then what the host added to them. */
static void replay_print_frames(const vns_sim *sim, replay_input *in, int json) {
  char buf[1 << 14];
  size_t n;
  in->spool_failed |= fflush(in->spool) != 0 || fseek(in->spool, 0, SEEK_SET) != 0;
  /* a failed write stays on stdout's error flag, which the command's exit
   * checks */
  while (!in->spool_failed && (n = fread(buf, 1, sizeof buf, in->spool)) > 0)
    if (fwrite(buf, 1, n, stdout) != n) break;
  in->spool_failed |= ferror(in->spool) != 0;
  if (json) return;
  uint64_t proxy = cli_counter(sim, "host.arp_proxy_replies");
  if (proxy)
    printf("  + %" PRIu64
           " ARP or Neighbor Advertisement replies the host sent for the guest"
           " (proxy ARP/ND)\n",
           proxy);
  /* copies a duplicate fault made are frames of their own, beside those the
   * host sent */
  uint64_t total = vns_sim_frame_count(sim), sent = cli_counter(sim, "host.frames_sent");
  if (total > sent) printf("  + %" PRIu64 " duplicate copies made on the link\n", total - sent);
}

static void replay_compare_line(const char *name, const vns_sim *sim) {
  printf("%s (guest->host frames %" PRIu64 "):", name, cli_counter(sim, "host.frames_received"));
  cli_print_fate_counts(stdout, sim);
}

static size_t replay_print_differences(const vns_sim *fixed, const vns_sim *buggy, size_t n,
                                       int json) {
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t ia = vns_sim_captured_frame(fixed, i), ib = vns_sim_captured_frame(buggy, i);
    if (ia < 0 || ib < 0) break;
    const char *a = vns_sim_frame_fate(fixed, (size_t)ia),
               *b = vns_sim_frame_fate(buggy, (size_t)ib);
    if (!strcmp(a, b)) continue;
    uint64_t t = 0, left;
    vns_sim_frame_times(fixed, (size_t)ia, &t, &left);
    if (json)
      printf("%s{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"fixed\":\"%s\",\"buggy\":\"%s\"}",
             differ ? "," : "", i + 1, t, a, b);
    else
      printf("  %-7zu %10" PRIu64 ".%09" PRIu64 "  %-20s %s\n", i + 1, t / 1000000000u,
             t % 1000000000u, a, b);
    differ++;
  }
  return differ;
}

/* The ports the guest accepts on as a sink (the captured server's, where
 * it runs no service of its own), as "3306, 5432" or a JSON list; how
 * many. */
static size_t replay_sink_ports(const replay_args *a, char *buf, size_t cap, int json) {
  size_t n = 0, used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof a->o.sim.sink_ports / sizeof a->o.sim.sink_ports[0]; i++) {
    uint16_t p = a->o.sim.sink_ports[i];
    if (!p || p == NET_SVC_PORT_HTTP || p == NET_SVC_PORT_DISCARD || p == NET_SVC_PORT_TCP_ECHO)
      continue;
    int w = snprintf(buf + used, cap - used, "%s%u", n ? (json ? "," : ", ") : "", p);
    if (w > 0 && (size_t)w < cap - used) used += (size_t)w;
    n++;
  }
  return n;
}

/* Whom the guest stands in for, and why: a line, or a JSON member. */
static void replay_print_as(const replay_args *a) {
  const replay_as *as = &a->as;
  if (!as->looked) return;
  const scn_addr *c = &as->chosen;
  static const char *const whys[] = {"given", "tcp_server", "tcp_server_loopback",
                                     "busiest_destination"};
  const uint8_t *m = a->o.sim.guest_mac;
  char ip[16], mac[18];
  snprintf(ip, sizeof ip, "%u.%u.%u.%u", c->ip >> 24, (c->ip >> 16) & 255, (c->ip >> 8) & 255,
           c->ip & 255);
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  if (a->o.json) {
    if (!c->ip) {
      printf(",\"as\":{\"why\":\"none\"}");
      return;
    }
    char sinks[64];
    size_t nsinks = replay_sink_ports(a, sinks, sizeof sinks, 1);
    printf(",\"as\":{\"ip\":\"%s\",\"mac\":\"%s\",\"why\":\"%s\",\"syn_acks\":%" PRIu64
           ",\"requests_to\":%" PRIu64 ",\"frames_to\":%" PRIu64 "%s%s%s}",
           ip, mac, whys[as->why], c->syn_acks, c->asks, c->frames_to,
           nsinks ? ",\"sink_ports\":[" : "", sinks, nsinks ? "]" : "");
  } else if (!c->ip) {
    printf(
        "  as: no unicast IPv4 address in the capture for the guest to stand in for: it keeps "
        "its own\n");
  } else {
    char why[256];
    if (as->why == SCN_ENDPOINT_TCP_SERVER)
      snprintf(why, sizeof why, "the server of its TCP conversations (SYN-ACKs sent: %" PRIu64 ")",
               c->syn_acks);
    else if (as->why == SCN_ENDPOINT_LOOPBACK_SERVER)
      snprintf(why, sizeof why,
               "the server of its TCP conversations (SYN-ACKs sent: %" PRIu64
               ") at a loopback address, which no guest can have: the guest keeps its own, "
               "and the host plays the client from its own",
               c->syn_acks);
    else if (as->why == SCN_ENDPOINT_DESTINATION)
      snprintf(why, sizeof why,
               "its busiest unicast destination (requests to it: %" PRIu64 ", frames: %" PRIu64 ")",
               c->asks, c->frames_to);
    else
      snprintf(why, sizeof why, "as --as asked%s",
               c->has_mac ? "" : " (the capture shows no MAC for it: the guest keeps its own)");
    printf(
        "  as: the guest stands in for the capture's %s at %s, %s; frames between other hosts "
        "stay not_for_guest\n",
        ip, mac, why);
    char sinks[64];
    if (replay_sink_ports(a, sinks, sizeof sinks, 0))
      printf(
          "  note: the guest accepts TCP on port %s as the capture's server did, as a sink: it "
          "runs no service there, reads what comes and sends nothing\n",
          sinks);
  }
}

static void replay_ip_port(char *buf, size_t cap, uint32_t ip, uint16_t port) {
  snprintf(buf, cap, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, port);
}

static void replay_conv_segment_json(const vns_conv_segment *g) {
  if (g->none)
    printf("null");
  else
    printf("{\"flags\":\"%s\",\"len\":%u}", g->flags, g->len);
}

static void replay_conv_json(const vns_conversation *c, size_t i) {
  char client[24], server[24];
  replay_ip_port(client, sizeof client, c->client_ip, c->client_port);
  replay_ip_port(server, sizeof server, c->server_ip, c->server_port);
  printf("%s{\"client\":\"%s\",\"server\":\"%s\",\"syn_frame\":%" PRIu64
         ",\"state\":\"%s\",\"client_segments\":%" PRIu64 ",\"client_sent\":%" PRIu64
         ",\"client_bytes\":%" PRIu64 ",\"client_delivered\":%" PRIu64
         ",\"guest_segments\":%" PRIu64 ",\"guest_bytes\":%" PRIu64
         ",\"guest_fin\":%s,\"guest_rst\":%s,\"recorded_segments\":%" PRIu64
         ",\"recorded_bytes\":%" PRIu64 ",\"acks_clamped\":%" PRIu64
         ",\"answer\":\"%s\",\"compared\":%" PRIu64,
         i ? "," : "", client, server, c->syn_frame, c->state, c->client_segments, c->client_sent,
         c->client_bytes, c->client_delivered, c->guest_segments, c->guest_bytes,
         c->guest_fin ? "true" : "false", c->guest_rst ? "true" : "false", c->recorded_segments,
         c->recorded_bytes, c->acks_clamped, c->answer, c->compared);
  printf(",\"first_difference\":");
  if (c->diff_at) {
    printf("{\"segment\":%" PRIu64 ",\"recorded\":", c->diff_at);
    replay_conv_segment_json(&c->diff_recorded);
    printf(",\"guest\":");
    replay_conv_segment_json(&c->diff_guest);
    printf("}");
  } else {
    printf("null");
  }
  printf(",\"stopped\":");
  if (c->stopped) {
    printf("{\"reason\":\"%s\",\"frame\":%" PRIu64 ",\"t_ns\":%" PRIu64 ",\"text\":", c->stopped,
           c->stop_frame, c->stopped_ns);
    cli_print_json_string(stdout, c->why);
    printf("}");
  } else {
    printf("null");
  }
  printf("}");
}

static void replay_conv_segment_text(char *buf, size_t cap, const vns_conv_segment *g) {
  if (g->none)
    snprintf(buf, cap, "none");
  else
    snprintf(buf, cap, "%s/%u", g->flags, g->len);
}

/* One line per conversation: key=value words, then why it stopped. */
static void replay_conv_text(const vns_conversation *c, size_t i) {
  char client[24], server[24], diff[96] = "", rec[32], gst[32];
  replay_ip_port(client, sizeof client, c->client_ip, c->client_port);
  replay_ip_port(server, sizeof server, c->server_ip, c->server_port);
  if (c->diff_at) {
    replay_conv_segment_text(rec, sizeof rec, &c->diff_recorded);
    replay_conv_segment_text(gst, sizeof gst, &c->diff_guest);
    snprintf(diff, sizeof diff, " at=%" PRIu64 " recorded=%s guest=%s", c->diff_at, rec, gst);
  }
  printf("  conversation %zu: %s > %s syn_frame=%" PRIu64 " state=%s delivered=%" PRIu64 "/%" PRIu64
         " sent=%" PRIu64 "/%" PRIu64 " guest=%" PRIu64 "seg/%" PRIu64 "B%s%s recorded=%" PRIu64
         "seg/%" PRIu64 "B answer=%s%s",
         i + 1, client, server, c->syn_frame, c->state, c->client_delivered, c->client_bytes,
         c->client_sent, c->client_segments, c->guest_segments, c->guest_bytes,
         c->guest_fin ? "+FIN" : "", c->guest_rst ? "+RST" : "", c->recorded_segments,
         c->recorded_bytes, c->answer, diff);
  if (c->stopped && c->stop_frame)
    printf(" end=stopped:%s frame=%" PRIu64 " (%s)\n", c->stopped, c->stop_frame, c->why);
  else if (c->stopped)
    printf(" end=stopped:%s (%s)\n", c->stopped, c->why);
  else
    printf(" end=ran\n");
}

/* The captured TCP conversations the host played the client of. */
static void replay_print_conversations(const vns_sim *sim, int json) {
  size_t n = vns_sim_conversation_count(sim);
  vns_conversation c;
  if (json) {
    printf("\"conversations\":[");
    for (size_t i = 0; i < n; i++)
      if (vns_sim_conversation(sim, i, &c) == 0) replay_conv_json(&c, i);
    printf("],");
    return;
  }
  if (!n) return;
  size_t established = 0, stopped = 0;
  for (size_t i = 0; i < n; i++)
    if (vns_sim_conversation(sim, i, &c) == 0) {
      established += !strcmp(c.state, "established");
      stopped += c.stopped != NULL;
    }
  printf("TCP conversations the host played the client of: %zu (established %zu, stopped %zu)\n", n,
         established, stopped);
  for (size_t i = 0; i < n; i++)
    if (vns_sim_conversation(sim, i, &c) == 0) replay_conv_text(&c, i);
  uint64_t over = cli_counter(sim, "conversations.over_limit");
  if (over)
    printf("  + %" PRIu64 " SYNs past the 256 conversations played, sent as captured\n", over);
}

/* The two runs of --compare, fed the same capture side by side. */
static void replay_print_compare(const replay_args *a, const replay_feed *f) {
  const vns_sim *fixed = f->sims[0], *buggy = f->sims[1];
  const vns_sim_opts *fixed_opts = &f->opts[0], *buggy_opts = &f->opts[1];
  const replay_input *in = &f->in;
  char names[512];
  if (vns_bug_names(a->cmp_drv, a->cmp_dev, names, sizeof names) < 0) strcpy(names, "?");
  if (a->o.json) {
    printf("{\"command\":\"replay\",\"input\":");
    cli_print_json_string(stdout, a->in_path);
    replay_print_as(a);
    printf(",\"compare\":\"%s\",\"frames\":%zu,\"differences\":[", names, in->info.nframes);
  } else {
    printf("vnetsim replay: %s, %zu frames, fixed driver against %s (seed %" PRIu64
           ", queue %u%s)\n",
           a->in_path, in->info.nframes, names, a->o.sim.seed, a->o.sim.queue_size,
           cli_ring_note(&a->o.sim));
    replay_print_as(a);
    printf("  %-7s %-22s %-20s %s\n", "frame", "time", "fixed", "buggy");
  }
  size_t differ = replay_print_differences(fixed, buggy, in->info.nframes, a->o.json);
  if (a->o.json) {
    printf("],\"differ\":%zu,\"fixed\":{", differ);
    cli_print_summary_json(stdout, fixed, fixed_opts);
    printf("},\"buggy\":{");
    cli_print_summary_json(stdout, buggy, buggy_opts);
    printf("}}\n");
  } else {
    printf("%zu of %zu frames differ\n", differ, in->info.nframes);
    replay_compare_line("fixed", fixed);
    printf("\n");
    replay_compare_line("buggy", buggy);
    printf("\n");
  }
}

static int replay_parse_opt(replay_args *a, int c, char **argv) {
  switch (c) {
    case 'h':
      printf(replay_usage, cli_sim_options_help);
      return -1;
    case 'o':
      a->out_path = optarg;
      return 0;
    case 'H':
      a->html_path = optarg;
      return 0;
    case 'C':
      a->check = 1;
      return 0;
    case 'M':
      if (cli_parse_uint(optarg, 1, 1000000000, &a->max_frames))
        return cli_error("replay", CLI_EXIT_USAGE,
                         "--max-frames: '%s' is not a number from 1 to 1000000000", optarg);
      return 0;
    case REPLAY_OPT_NO_ARP_PROXY:
      a->o.sim.arp_proxy = 0;
      return 0;
    case REPLAY_OPT_MERGED:
      a->merged_path = optarg;
      return 0;
    case REPLAY_OPT_NO_RECORDED:
      a->no_recorded = 1;
      return 0;
    case REPLAY_OPT_AS:
      a->as.mode = strcmp(optarg, "auto") ? REPLAY_AS_IP : REPLAY_AS_AUTO;
      return a->as.mode == REPLAY_AS_AUTO ? 0
                                          : cli_parse_guest_ip("replay", "--as", optarg, &a->as.ip);
    case CLI_OPT_DHCP:
    case CLI_OPT_GUEST:
    case CLI_OPT_GUEST_OUT:
      return cli_guest_opt(&a->guest, c, optarg);
    case 'c':
      a->cmp_drv = a->cmp_dev = 0;
      if (vns_bug_parse(optarg, &a->cmp_drv, &a->cmp_dev) || (!a->cmp_drv && !a->cmp_dev))
        return cli_error("replay", CLI_EXIT_USAGE,
                         "--compare: '%s' is not a list of bugs ('vnetsim bugs' lists them)",
                         optarg);
      a->compare = optarg;
      return 0;
    default:
      return cli_sim_opt(&a->o, c, optarg, argv[optind - 1]);
  }
}

static int replay_parse(int argc, char **argv, replay_args *a) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'},
      {"compare", required_argument, NULL, 'c'},
      {"html", required_argument, NULL, 'H'},
      {"check", no_argument, NULL, 'C'},
      {"max-frames", required_argument, NULL, 'M'},
      {"no-arp-proxy", no_argument, NULL, REPLAY_OPT_NO_ARP_PROXY},
      {"as", required_argument, NULL, REPLAY_OPT_AS},
      {"merged", required_argument, NULL, REPLAY_OPT_MERGED},
      {"no-recorded-options", no_argument, NULL, REPLAY_OPT_NO_RECORDED},
      CLI_GUEST_LONG_OPTIONS,
      {"help", no_argument, NULL, 'h'},
      CLI_SIM_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  cli_sim_opts_default(&a->o, "replay");
  a->guest.cmd = "replay";
  a->o.sim.arp_proxy = 1; /* nobody else answers the guest's ARP in a replay */
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
    int rc = replay_parse_opt(a, c, argv);
    if (rc) return rc;
  }
  if (optind >= argc)
    return cli_error("replay", CLI_EXIT_USAGE, "missing the input capture (see --help)");
  if (optind + 1 < argc)
    return cli_error("replay", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
  a->in_path = argv[optind];
  if (a->as.mode != REPLAY_AS_DEFAULT && a->o.guest_ip_given)
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--as and --guest-ip both give the guest's address: use one");
  if (a->compare && (a->html_path || a->check))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no --html or --check (run one side alone "
                     "for those)");
  if (a->compare && (a->guest.dhcp || a->guest.n))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no --dhcp or --guest (run one side alone "
                     "for those)");
  a->o.sim.dhcp = a->guest.dhcp;
  a->guest.info = a->o.json ? stderr : stdout;
  if (a->compare && (a->out_path || a->merged_path || a->o.trace_path || a->o.sim.driver_bugs ||
                     a->o.sim.device_bugs))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no -o, --merged, --trace or --bug (run one "
                     "side alone for those)");
  return cli_sim_opts_done(&a->o);
}

/* After a failure: every output is dropped, existing files stay as they were. */
static void replay_files_abort(replay_files *f) {
  if (f->out.open) host_pcap_writer_abort(&f->out.w);
  if (f->out.merged_open) host_pcapng_writer_abort(&f->out.merged);
  f->out.open = f->out.merged_open = 0;
  cli_abort_trace(&f->trace);
  host_outfile_abort(&f->html);
  teach_rec_free(f->rec);
  f->rec = NULL;
}

/* The page records this very run: its recorder watches from the probe on. */
static int replay_open_html(replay_files *f, const char *path) {
  teach_opts to;
  teach_opts_for_replay(&to);
  char err[512];
  if (host_outfile_open(&f->html, path, err, sizeof err))
    return cli_error("replay", CLI_EXIT_USAGE, "--html: %s", err);
  f->rec = teach_rec_new(&to);
  return f->rec ? 0 : cli_error("replay", CLI_EXIT_FAIL, "--html: out of memory");
}

static int replay_open_files(replay_args *a, replay_files *f) {
  char err[512];
  memset(f, 0, sizeof *f);
  enum { FIXED_PATHS = 5 };
  const char *paths[FIXED_PATHS + CLI_GUEST_MAX] = {a->in_path, a->out_path, a->o.trace_path,
                                                    a->html_path, a->merged_path};
  const char *names[FIXED_PATHS + CLI_GUEST_MAX] = {"the input", "-o", "--trace", "--html",
                                                    "--merged"};
  size_t n = cli_guest_out_paths(&a->guest, paths, names, FIXED_PATHS);
  int rc = cli_check_distinct("replay", paths, names, n);
  if (rc) return rc;
  if (a->out_path) {
    if (host_pcap_writer_open(&f->out.w, a->out_path, err, sizeof err))
      return cli_error("replay", CLI_EXIT_USAGE, "-o: %s", err);
    f->out.open = 1;
  }
  static const char *const ifnames[REPLAY_IF_COUNT] = {"host", "guest"};
  if (a->merged_path) {
    if (host_pcapng_writer_open(&f->out.merged, a->merged_path, ifnames, REPLAY_IF_COUNT, err,
                                sizeof err))
      return cli_error("replay", CLI_EXIT_USAGE, "--merged: %s", err);
    f->out.merged_open = 1;
    a->o.sim.host_tx = replay_on_host_frame;
    a->o.sim.host_tx_ctx = &f->out;
  }
  if (a->out_path || a->merged_path) {
    a->o.sim.host_rx = replay_on_guest_frame;
    a->o.sim.host_rx_ctx = &f->out;
  }
  rc = cli_open_trace(&a->o, &f->trace);
  if (!rc && a->html_path) rc = replay_open_html(f, a->html_path);
  return rc;
}

/* What the capture itself got wrong, by the counter that counts it. */
static const struct {
  const char *counter, *text;
} replay_notes[] = {
    {"capture.out_of_order",
     "were earlier than their predecessor and were injected right after it"},
    {"capture.bad_timestamp",
     "carry a time no clock can hold (a damaged record); each is counted as bad_timestamp and "
     "not sent"},
    {"capture.truncated", "were truncated by the capture; their captured bytes were injected"},
    {"capture.link_unsupported",
     "could not be made Ethernet frames (a protocol Ethernet has no type for); each is counted as "
     "link_unsupported"},
    {"capture.spread",
     "left a few nanoseconds after their capture time: more than 8 frames shared it, and a host "
     "puts at most 8 frames on the link in one nanosecond"},
};

/* What reading the file found, for a pcapng file read block by block (a
 * file libpcap reads has neither). */
static void replay_print_capture_notes(const scn_capture *in) {
  if (in->mixed_links)
    printf(
        "  note: the capture's interfaces have different link types; it was read block by "
        "block, each frame converted by its own interface's link type\n");
  if (in->damaged)
    printf(
        "  note: %zu records were damaged (their lengths do not fit their block); each was "
        "injected empty, its fate frame_invalid (or bad_timestamp without a time)\n",
        in->damaged);
}

static void replay_print_text(const replay_args *a, const vns_sim *sim, replay_input *in) {
  printf("vnetsim replay: %s, %zu frames (seed %" PRIu64 ", queue %u%s)\n", a->in_path,
         in->info.nframes, a->o.sim.seed, a->o.sim.queue_size, cli_ring_note(&a->o.sim));
  if (a->recorded_path)
    printf(
        "  note: the options vnetsim run --record wrote (%s) came first; the command line's "
        "win\n",
        a->recorded_path);
  replay_print_as(a);
  for (size_t i = 0; i < sizeof replay_notes / sizeof replay_notes[0]; i++) {
    uint64_t n = cli_counter(sim, replay_notes[i].counter);
    if (n) printf("  note: %" PRIu64 " frames %s\n", n, replay_notes[i].text);
  }
  if (in->info.cut)
    printf(
        "  note: only the first %zu frames were read, as --max-frames asked; the capture "
        "has more\n",
        in->info.nframes);
  replay_print_capture_notes(&in->info);
  replay_print_frames(sim, in, 0);
  replay_print_conversations(sim, 0);
  cli_print_summary(stdout, sim, &a->o.sim);
  if (a->check) cli_print_violations(stdout, sim, &a->o.sim);
}

static void replay_print_json(const replay_args *a, const vns_sim *sim, replay_input *in) {
  printf("{\"command\":\"replay\",\"input\":");
  cli_print_json_string(stdout, a->in_path);
  if (a->recorded_path) {
    printf(",\"recorded_options\":");
    cli_print_json_string(stdout, a->recorded_path);
  }
  replay_print_as(a);
  printf(",\"frames_out_of_order\":%" PRIu64 ",\"frames_truncated\":%" PRIu64
         ",\"frames_bad_timestamp\":%" PRIu64 ",\"arp_proxy_replies\":%" PRIu64 ",%s",
         cli_counter(sim, "capture.out_of_order"), cli_counter(sim, "capture.truncated"),
         cli_counter(sim, "capture.bad_timestamp"), cli_counter(sim, "host.arp_proxy_replies"),
         in->info.cut ? "\"stopped_at_max_frames\":true," : "");
  uint64_t spread = cli_counter(sim, "capture.spread");
  if (spread) printf("\"frames_spread\":%" PRIu64 ",", spread);
  /* only a pcapng file read block by block has these */
  if (in->info.mixed_links) printf("\"mixed_link_types\":true,");
  if (in->info.damaged) printf("\"records_damaged\":%zu,", in->info.damaged);
  printf("\"frames\":[");
  replay_print_frames(sim, in, 1);
  printf("],");
  replay_print_conversations(sim, 1);
  if (a->check) {
    printf("\"violations_list\":");
    cli_print_violations_json(stdout, sim);
    printf(",");
  }
  cli_print_summary_json(stdout, sim, &a->o.sim);
  cli_guest_json(&a->guest, sim, stdout);
  printf("}\n");
}

static void replay_hook_recorder(void *ctx, scn *s, scn_config *cfg) {
  teach_rec_hook(ctx, s, cfg);
}

/* Writes the page and puts it in place. */
static int replay_write_html(const replay_args *a, replay_files *f, vns_sim *sim) {
  teach_rec_attach(f->rec);
  teach_rec_finish(f->rec);
  char title[512];
  snprintf(title, sizeof title, "vnetsim replay of %s", a->in_path);
  int rc = teach_write_html(f->html.f, vns_sim_scn(sim), f->rec, title, "replay");
  if (rc)
    host_outfile_abort(&f->html);
  else
    rc = host_outfile_commit(&f->html);
  if (rc) return cli_error("replay", CLI_EXIT_FAIL, "--html: writing '%s' failed", a->html_path);
  return 0;
}

static int replay_close_merged(const replay_args *a, replay_out *out) {
  const uint64_t *n = out->merged.frames;
  out->merged_open = 0;
  if (host_pcapng_writer_close(&out->merged))
    return cli_error("replay", CLI_EXIT_FAIL, "--merged: writing '%s' failed", a->merged_path);
  if (!a->o.json)
    printf("wrote %" PRIu64 " frames to %s (host %" PRIu64 ", guest %" PRIu64 ")\n",
           n[REPLAY_IF_HOST] + n[REPLAY_IF_GUEST], a->merged_path, n[REPLAY_IF_HOST],
           n[REPLAY_IF_GUEST]);
  return 0;
}

/* Puts every output in place after a run that completed; says so only for
 * what really reached its file. */
static int replay_files_commit(const replay_args *a, replay_files *f, vns_sim *sim) {
  uint64_t frames = f->out.w.frames, too_late = f->out.w.too_late;
  int rc = 0;
  if (f->out.open) {
    f->out.open = 0;
    if (host_pcap_writer_close(&f->out.w) == 0) {
      if (!a->o.json) printf("wrote %" PRIu64 " guest frames to %s\n", frames, a->out_path);
    } else if (too_late) {
      rc = cli_error("replay", CLI_EXIT_FAIL,
                     "-o: %" PRIu64
                     " frames leave after 2106-02-07, past the 32-bit seconds of a "
                     "pcap record; '%s' not written",
                     too_late, a->out_path);
    } else {
      rc = cli_error("replay", CLI_EXIT_FAIL, "-o: writing '%s' failed", a->out_path);
    }
  }
  if (f->out.merged_open && !rc) rc = replay_close_merged(a, &f->out);
  if (f->rec && !rc) {
    rc = replay_write_html(a, f, sim);
    if (!rc && !a->o.json) printf("wrote %s\n", a->html_path);
  }
  if (!rc) rc = cli_close_trace("replay", &f->trace, 0);
  replay_files_abort(f); /* whatever is left after a failure */
  return rc;
}

/* Builds the runs, once the capture's start is known: at the first frame
 * whose time a clock holds (or at the end, when none does). Virtual time
 * starts there, so output timestamps share the input's time base. */
static int replay_start(replay_feed *f, uint64_t start_ns) {
  replay_args *a = f->a;
  /* A capture of another link type carries MACs made from IP addresses
   * (host/linktype.h): the guest standing in for one of its hosts takes that
   * host's. */
  if (host_link_synthesizes_macs(f->in.info.linktype) && a->o.guest_ip_given &&
      !a->o.guest_mac_given)
    host_link_mac_for_ipv4(a->o.sim.guest_ip, a->o.sim.guest_mac);
  a->o.sim.start_ns = start_ns;
  if (!a->compare) {
    int rc = replay_open_files(a, &f->files); /* sets the writers into a->o.sim */
    if (rc) return rc;
    /* each frame's line is written once the frame is done, and the sim
     * forgets it: memory holds what is in flight */
    f->in.spool = tmpfile();
    if (!f->in.spool)
      return cli_error("replay", CLI_EXIT_FAIL, "cannot make a temporary file for the report: %s",
                       strerror(errno));
    (void)setvbuf(f->in.spool, NULL, _IOFBF, HOST_IO_BUFFER); /* a default one works too */
    f->in.json = a->o.json;
    a->o.sim.frame_done = replay_frame_done;
    a->o.sim.frame_done_ctx = &f->in;
  }
  f->opts[0] = f->opts[1] = a->o.sim;
  f->nsims = a->compare ? 2 : 1;
  if (a->compare) {
    f->opts[0].driver_bugs = f->opts[0].device_bugs = 0;
    f->opts[1].driver_bugs = a->cmp_drv;
    f->opts[1].device_bugs = a->cmp_dev;
  }
  for (int i = 0; i < f->nsims; i++) {
    int rc = vns_sim_new_hooked(&f->opts[i], f->files.rec ? replay_hook_recorder : NULL,
                                f->files.rec, &f->sims[i]);
    if (rc)
      return cli_error("replay", CLI_EXIT_FAIL, "cannot build the simulation: %s",
                       vns_strerror(rc));
  }
  f->started = 1;
  /* a recorded client session: the guest asks again (not with --compare) */
  return f->nsims == 1 ? cli_guest_start(&a->guest, f->sims[0]) : 0;
}

/* Feeds one captured frame to every run. */
static int replay_feed_frame(replay_feed *f, const scn_capture_frame *fr) {
  for (int i = 0; i < f->nsims; i++) {
    int rc = fr->unconvertible
                 ? vns_sim_feed_link_unsupported(f->sims[i], fr->ts_ns)
                 : vns_sim_feed_captured(f->sims[i], fr->ts_ns, fr->data, fr->caplen, fr->origlen);
    if (rc)
      return cli_error("replay", CLI_EXIT_FAIL, "the run failed at frame %zu: %s",
                       f->in.info.nframes + 1, vns_strerror(rc));
  }
  return 0;
}

static int replay_hold(replay_feed *f, const scn_capture_frame *fr) {
  replay_held *last = f->nheld ? &f->held[f->nheld - 1] : NULL;
  if (last && last->caplen == fr->caplen && last->unconvertible == fr->unconvertible) {
    last->count++;
    return 0;
  }
  replay_held *grown = emu_grow(f->held, &f->held_cap, f->nheld + 1, sizeof *grown, 16);
  if (!grown) return cli_error("replay", CLI_EXIT_FAIL, "out of memory");
  f->held = grown;
  f->held[f->nheld++] = (replay_held){fr->caplen, fr->unconvertible, 1};
  return 0;
}

/* The held frames, fed once the runs exist (their times no clock holds:
 * they need no bytes). */
static int replay_feed_held(replay_feed *f) {
  size_t read = f->in.info.nframes; /* the frame numbers in messages */
  f->in.info.nframes = 0;
  int rc = 0;
  for (size_t i = 0; i < f->nheld && !rc; i++) {
    scn_capture_frame fr = {.ts_ns = UINT64_MAX, .caplen = f->held[i].caplen};
    fr.unconvertible = f->held[i].unconvertible;
    static uint8_t none[1];
    fr.data = none;
    for (uint64_t k = 0; k < f->held[i].count && !rc; k++, f->in.info.nframes++)
      rc = replay_feed_frame(f, &fr);
  }
  f->in.info.nframes = read;
  free(f->held);
  f->held = NULL;
  f->nheld = f->held_cap = 0;
  return rc;
}

/* host_pcap_each's frame function: a frame as it is read. */
static int replay_take(void *ctx, const scn_capture_frame *fr) {
  replay_feed *f = ctx;
  replay_input *in = &f->in;
  if (!f->a->compare) { /* --compare reports no lengths */
    size_t k = in->at + (in->info.nframes - in->reported);
    uint32_t *grown = emu_grow(in->caplens, &in->cap, k + 1, sizeof *grown, 256);
    if (!grown) f->status = cli_error("replay", CLI_EXIT_FAIL, "out of memory");
    if (f->status) return EMU_ESTATE;
    in->caplens = grown;
    in->caplens[k] = fr->caplen;
  }
  if (!f->started && fr->ts_ns > VNS_TIME_MAX) {
    f->status = replay_hold(f, fr);
  } else {
    if (!f->started) f->status = replay_start(f, fr->ts_ns);
    if (!f->status && f->nheld) f->status = replay_feed_held(f);
    if (!f->status) f->status = replay_feed_frame(f, fr);
  }
  return f->status ? EMU_ESTATE : 0;
}

/* Reads the capture and feeds it to the runs as it goes. */
static int replay_read(replay_feed *f) {
  char err[512];
  int rc = host_pcap_each(f->a->in_path, (size_t)f->a->max_frames, replay_take, f, &f->in.info, err,
                          sizeof err);
  if (f->status) return f->status;
  if (rc) return cli_error("replay", rc == EMU_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE, "%s", err);
  if (!f->started && (rc = replay_start(f, 0))) return rc;
  return f->nheld ? replay_feed_held(f) : 0;
}

/* Runs every run to its end. */
static int replay_finish(replay_feed *f) {
  for (int i = 0; i < f->nsims; i++) {
    int64_t ran = vns_sim_run(f->sims[i], VNS_TIME_IDLE);
    if (ran < 0)
      return cli_error("replay", CLI_EXIT_FAIL, "the run failed: %s", vns_strerror((int)ran));
    vns_sim_finish(f->sims[i]);
  }
  return 0;
}

static int replay_spool_failed(replay_feed *f) {
  replay_files_abort(&f->files);
  return cli_error("replay", CLI_EXIT_FAIL,
                   "the report's frame lines could not be kept in a temporary file (TMPDIR)");
}

/* The report and the outputs of one run. */
static int replay_report_one(replay_feed *f) {
  const replay_args *a = f->a;
  f->in.spool_failed |= fflush(f->in.spool) != 0 || ferror(f->in.spool) != 0;
  if (f->in.spool_failed) return replay_spool_failed(f);
  if (a->o.json)
    replay_print_json(a, f->sims[0], &f->in);
  else
    replay_print_text(a, f->sims[0], &f->in);
  if (f->in.spool_failed) return replay_spool_failed(f);
  cli_guest_report(&f->a->guest, f->sims[0]);
  int rc = replay_files_commit(a, &f->files, f->sims[0]);
  if (!rc) rc = cli_check_accounted("replay", f->sims[0]);
  int grc = cli_guest_finish(&f->a->guest, f->sims[0]);
  return rc ? rc : grc;
}

/* host_pcap_each's frame function for the scan that picks --as. */
static int replay_scan_frame(void *ctx, const scn_capture_frame *f) {
  if (!f->unconvertible) scn_endpoints_add(ctx, f->data, f->caplen);
  return 0;
}

/* The guest takes the chosen address, and the MAC the capture showed for
 * it; the host moves to .1 of the /24 when the address is slirp's .2 or
 * .3. */
static int replay_take_as(replay_args *a) {
  const scn_addr *c = &a->as.chosen;
  /* the captured clients' conversations with it are played against the guest,
   * which accepts on the ports the host served (a sink where it runs no
   * service) */
  a->o.sim.play_conversations = 1;
  memcpy(a->o.sim.sink_ports, c->served, sizeof a->o.sim.sink_ports);
  if (a->as.why == SCN_ENDPOINT_LOOPBACK_SERVER) {
    /* an address no guest can have: it keeps its own */
    a->o.sim.play_server_ip = c->ip;
    return 0;
  }
  a->o.sim.guest_ip = c->ip;
  if (c->has_mac && !a->o.guest_mac_given) memcpy(a->o.sim.guest_mac, c->mac, sizeof c->mac);
  uint32_t last = c->ip & REPLAY_LAST_OCTET;
  if (last == REPLAY_SLIRP_HOST || last == REPLAY_SLIRP_DNS)
    a->o.sim.host_ip = (c->ip & ~REPLAY_LAST_OCTET) | REPLAY_MOVED_HOST;
  scn_config cfg;
  char why[256];
  if (vns_scn_config_why(&a->o.sim, &cfg, why, sizeof why))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--as: the guest cannot stand in for %u.%u.%u.%u: %s", c->ip >> 24,
                     (c->ip >> 16) & 255, (c->ip >> 8) & 255, c->ip & 255, why);
  return 0;
}

/* Reads the capture once before the run to choose whom the guest stands
 * in for: with --as, or by default when the capture addresses nothing to
 * the guest and nothing says who the guest is (--guest-ip, --guest-mac, a
 * client session's --dhcp or --guest). */
static int replay_choose_as(replay_args *a) {
  replay_as *as = &a->as;
  /* a recorded client session's guest is who it was when recorded */
  int identified = a->o.guest_ip_given || a->o.guest_mac_given || a->guest.dhcp || a->guest.n;
  if (as->mode == REPLAY_AS_DEFAULT && identified) return 0;
  struct stat st;
  if (stat(a->in_path, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (as->mode == REPLAY_AS_DEFAULT) return 0; /* a pipe reads once: the guest stays itself */
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--as reads the capture before the run, and '%s' is not a regular file "
                     "(a pipe reads once): give --guest-ip and --guest-mac instead",
                     a->in_path);
  }
  scn_endpoints e;
  scn_endpoints_init(&e, a->o.sim.guest_ip);
  scn_capture info;
  char err[512];
  int rc = host_pcap_each(a->in_path, (size_t)a->max_frames, replay_scan_frame, &e, &info, err,
                          sizeof err);
  if (!rc && as->mode == REPLAY_AS_IP) {
    const scn_addr *x = scn_addrs_find(&e.addrs, as->ip);
    as->chosen = x ? *x : (scn_addr){.ip = as->ip};
  } else if (!rc && (as->mode == REPLAY_AS_AUTO || !e.to_guest)) {
    as->why = scn_endpoints_pick(&e, &as->chosen);
  }
  as->looked = as->mode != REPLAY_AS_DEFAULT || !e.to_guest;
  int oom = e.out_of_memory;
  scn_endpoints_free(&e);
  if (rc) return cli_error("replay", rc == EMU_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE, "%s", err);
  if (oom) return cli_error("replay", CLI_EXIT_FAIL, "--as: out of memory reading the capture");
  return as->chosen.ip ? replay_take_as(a) : 0;
}

/* Reads the options file beside the capture into lines[]; how many, or -1
 * after a CLI error. */
static int replay_read_recorded(const char *path, char lines[][CLI_RECORDED_LINE_MAX]) {
  FILE *f = fopen(path, "r");
  if (!f) {
    cli_error("replay", CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
    return -1;
  }
  int n = 0, bad = 0;
  char line[CLI_RECORDED_LINE_MAX];
  while (!bad && fgets(line, sizeof line, f)) {
    size_t len = strcspn(line, "\n");
    if (line[len] != '\n' && !feof(f)) {
      bad = cli_error("replay", CLI_EXIT_USAGE, "%s: a line longer than %d bytes", path,
                      CLI_RECORDED_LINE_MAX - 2);
    } else if (len && line[0] != '#') {
      line[len] = '\0';
      if (n == CLI_RECORDED_LINES_MAX)
        bad = cli_error("replay", CLI_EXIT_USAGE, "%s: more than %d options", path,
                        CLI_RECORDED_LINES_MAX);
      else
        memcpy(lines[n++], line, len + 1);
    }
  }
  if (!bad && ferror(f)) bad = cli_error("replay", CLI_EXIT_USAGE, "%s: cannot be read", path);
  fclose(f);
  return bad ? -1 : n;
}

/* The options 'run --record' wrote beside the capture come before the
 * command line's, which win: argv is read again with them first. */
static int replay_take_recorded(int argc, char **argv, replay_args *a) {
  static char path[4096], lines[CLI_RECORDED_LINES_MAX][CLI_RECORDED_LINE_MAX];
  struct stat st;
  snprintf(path, sizeof path, "%s%s", a->in_path, CLI_RECORDED_OPTIONS_SUFFIX);
  if (a->no_recorded || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  int n = replay_read_recorded(path, lines);
  if (n < 0) return CLI_EXIT_USAGE;
  /* --guest adds: the command line's actions replace the recorded ones */
  int kept = 0;
  for (int i = 0; i < n; i++)
    if (!a->guest.n || strncmp(lines[i], "--guest=", strlen("--guest=")))
      memmove(lines[kept++], lines[i], sizeof lines[i]);
  n = kept;
  char **all = malloc(((size_t)argc + (size_t)n + 1) * sizeof *all);
  if (!all) return cli_error("replay", CLI_EXIT_FAIL, "out of memory");
  all[0] = argv[0];
  for (int i = 0; i < n; i++) all[1 + i] = lines[i];
  for (int i = 1; i <= argc; i++) all[n + i] = argv[i]; /* argv[argc] is NULL */
  int rc = replay_parse(argc + n, all, a);
  free(all);
  if (rc > 0)
    fprintf(stderr,
            "vnetsim replay: (the options of %s come first; --no-recorded-options "
            "leaves them out)\n",
            path);
  a->recorded_path = path;
  return rc > 0 ? rc : 0;
}

int cmd_replay(int argc, char **argv) {
  replay_args a;
  int rc = replay_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  if ((rc = replay_take_recorded(argc, argv, &a))) return rc;
  if ((rc = replay_choose_as(&a))) return rc;
  replay_feed f;
  memset(&f, 0, sizeof f);
  f.a = &a;
  rc = replay_read(&f);
  if (!rc) rc = replay_finish(&f);
  if (!rc && f.a->compare)
    replay_print_compare(f.a, &f);
  else if (!rc)
    rc = replay_report_one(&f);
  replay_files_abort(&f.files); /* whatever is left after a failure */
  cli_guest_abort_outs(&a.guest);
  for (int i = 0; i < f.nsims; i++) vns_sim_free(f.sims[i]);
  free(f.in.caplens);
  if (f.in.spool) fclose(f.in.spool);
  free(f.held);
  return rc;
}
