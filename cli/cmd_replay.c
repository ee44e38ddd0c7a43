#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "api/internal.h"
#include "cli/cmd.h"
#include "emu/err.h"
#include "host/linktype.h"
#include "host/pcapio.h"
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
    "replies below).\n"
    "\n"
    "Frames of other link types are made Ethernet frames: Linux cooked capture v1\n"
    "and v2, raw IP, BSD loopback, VLAN/QinQ tags. A pcapng file's interfaces may\n"
    "differ: each record is converted by its own interface's link type. A record\n"
    "that cannot be converted gets the fate link_unsupported.\n"
    "\n"
    "Frames addressed to other hosts get the fate not_for_guest; give the guest\n"
    "the capture's address with --guest-ip/--guest-mac to make it answer them.\n"
    "Frames out of time order are injected right after their predecessor.\n"
    "\n"
    "A frame is 'answered' only once the guest's reply has left its stack. A reply\n"
    "first needs the asker's MAC, and nobody in a capture answers the guest's ARP:\n"
    "so the host does (proxy ARP), for every address the capture's frames use and\n"
    "for the guest's gateway, with the MAC the capture showed for that address, else\n"
    "its own. Its ARP replies are host frames too (they have fates), counted apart.\n"
    "A reply dropped while it waits for ARP makes its frame 'reply_unresolved': ARP\n"
    "gave up (always, with --no-arp-proxy), the guest's ARP queue of 4 was full, or\n"
    "the run ended first.\n"
    "\n"
    "  -o, --out FILE   write the frames the guest sent (pcap, nanosecond; '-': standard\n"
    "                   output, with the report on standard error)\n"
    "  --compare LIST   run the input twice, through the fixed driver and through one\n"
    "                   with the bugs in LIST, and print every frame whose fate differs\n"
    "  --html FILE      also write the run as one self-contained HTML page: ring occupancy\n"
    "                   over virtual time, kicks, interrupts, drops, and the ring states\n"
    "  --check          list every virtio rule broken in the run, by spec section\n"
    "  --max-frames N   read at most the first N frames of the capture (1..1000000000;\n"
    "                   default: all), to bound the memory a huge capture takes\n"
    "  --no-arp-proxy   the host does not answer the guest's ARP requests\n"
    "%s"
    "  -h, --help       this text\n";

enum { REPLAY_OPT_NO_ARP_PROXY = CLI_OPT_SHARED_END + 1 };

typedef struct replay_args {
  cli_sim_opts o;
  const char *in_path, *out_path, *html_path, *compare;
  uint64_t max_frames; /* 0: all */
  unsigned cmp_drv, cmp_dev;
  int check;
} replay_args;

/* The frames the guest sent, as they reach the host's end of the link. */
typedef struct replay_out {
  host_pcap_writer w;
  int open;
} replay_out;

static void replay_on_guest_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  replay_out *out = ctx;
  if (out->open) host_pcap_writer_write(&out->w, now, frame, len);
}

static void replay_print_frame(const vns_sim *sim, size_t i, int64_t id, uint32_t caplen,
                               int json) {
  uint64_t entered = 0, left = 0;
  vns_sim_frame_times(sim, (size_t)id, &entered, &left);
  const char *fate = vns_sim_frame_fate(sim, (size_t)id);
  const char *fault = vns_sim_frame_fault(sim, (size_t)id);
  if (json) {
    printf("%s{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"len\":%u,\"fate\":\"%s\"", i ? "," : "", i + 1,
           entered, caplen, fate);
    if (fault) printf(",\"fault\":\"%s\"", fault);
    printf("}");
  } else {
    printf("  frame %4zu  t=%" PRIu64 ".%09" PRIu64 "  len %5u  %s%s%s%s\n", i + 1,
           entered / 1000000000u, entered % 1000000000u, caplen, fate, fault ? " (after " : "",
           fault ? fault : "", fault ? ")" : "");
  }
}

static void replay_print_frames(const vns_sim *sim, const scn_capture *in, int json) {
  for (size_t i = 0; i < in->nframes; i++) {
    int64_t id = vns_sim_captured_frame(sim, i);
    if (id < 0) break;
    replay_print_frame(sim, i, id, in->frames[i].caplen, json);
  }
  if (json) return;
  uint64_t proxy = cli_counter(sim, "host.arp_proxy_replies");
  if (proxy) printf("  + %" PRIu64 " ARP replies the host sent for the guest (proxy ARP)\n", proxy);
  /* copies a duplicate fault made are frames of their own, beside those the
   * host sent */
  uint64_t n = vns_sim_frame_count(sim), sent = cli_counter(sim, "host.frames_sent");
  if (n > sent) printf("  + %" PRIu64 " duplicate copies made on the link\n", n - sent);
}

/* Queues every captured frame and runs to the end. */
static int replay_inject_and_run(vns_sim *sim, const scn_capture *in) {
  int rc = 0;
  for (size_t i = 0; i < in->nframes && !rc; i++) {
    const scn_capture_frame *f = &in->frames[i];
    rc = f->unconvertible ? vns_sim_inject_link_unsupported(sim, f->ts_ns)
                          : vns_sim_inject_captured(sim, f->ts_ns, f->data, f->caplen, f->origlen);
  }
  if (rc)
    return cli_error("replay", CLI_EXIT_FAIL, "queuing the capture's frames: %s", vns_strerror(rc));
  int64_t ran = vns_sim_run(sim, VNS_TIME_IDLE);
  if (ran < 0)
    return cli_error("replay", CLI_EXIT_FAIL, "the run failed: %s", vns_strerror((int)ran));
  vns_sim_finish(sim);
  return 0;
}

static int replay_run(const vns_sim_opts *so, const scn_capture *in, vns_sim **sim) {
  int rc = vns_sim_new(so, sim);
  if (rc)
    return cli_error("replay", CLI_EXIT_FAIL, "cannot build the simulation: %s", vns_strerror(rc));
  rc = replay_inject_and_run(*sim, in);
  if (rc) {
    vns_sim_free(*sim);
    *sim = NULL;
  }
  return rc;
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

static int replay_compare(const replay_args *a, const scn_capture *in) {
  vns_sim_opts fixed_opts = a->o.sim, buggy_opts = a->o.sim;
  fixed_opts.driver_bugs = fixed_opts.device_bugs = 0;
  buggy_opts.driver_bugs = a->cmp_drv;
  buggy_opts.device_bugs = a->cmp_dev;
  vns_sim *fixed, *buggy;
  int rc = replay_run(&fixed_opts, in, &fixed);
  if (rc) return rc;
  rc = replay_run(&buggy_opts, in, &buggy);
  if (rc) {
    vns_sim_free(fixed);
    return rc;
  }
  char names[512];
  if (vns_bug_names(a->cmp_drv, a->cmp_dev, names, sizeof names) < 0) strcpy(names, "?");
  if (a->o.json) {
    printf("{\"command\":\"replay\",\"input\":");
    cli_print_json_string(stdout, a->in_path);
    printf(",\"compare\":\"%s\",\"frames\":%zu,\"differences\":[", names, in->nframes);
  } else {
    printf("vnetsim replay: %s, %zu frames, fixed driver against %s (seed %" PRIu64
           ", queue %u%s)\n",
           a->in_path, in->nframes, names, a->o.sim.seed, a->o.sim.queue_size,
           cli_ring_note(&a->o.sim));
    printf("  %-7s %-22s %-20s %s\n", "frame", "time", "fixed", "buggy");
  }
  size_t differ = replay_print_differences(fixed, buggy, in->nframes, a->o.json);
  if (a->o.json) {
    printf("],\"differ\":%zu,\"fixed\":{", differ);
    cli_print_summary_json(stdout, fixed, &fixed_opts);
    printf("},\"buggy\":{");
    cli_print_summary_json(stdout, buggy, &buggy_opts);
    printf("}}\n");
  } else {
    printf("%zu of %zu frames differ\n", differ, in->nframes);
    replay_compare_line("fixed", fixed);
    printf("\n");
    replay_compare_line("buggy", buggy);
    printf("\n");
  }
  vns_sim_free(fixed);
  vns_sim_free(buggy);
  return CLI_EXIT_OK;
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
      {"help", no_argument, NULL, 'h'},
      CLI_SIM_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  cli_sim_opts_default(&a->o, "replay");
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
  if (a->compare && (a->html_path || a->check))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no --html or --check (run one side alone "
                     "for those)");
  if (a->compare &&
      (a->out_path || a->o.trace_path || a->o.sim.driver_bugs || a->o.sim.device_bugs))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no -o, --trace or --bug (run one side alone "
                     "for those)");
  return cli_sim_opts_done(&a->o);
}

/* What one run writes besides stdout: -o, --trace, --html. */
typedef struct replay_files {
  replay_out out;
  cli_trace trace;
  host_outfile html;
  teach_rec *rec;
} replay_files;

/* After a failure: every output is dropped, existing files stay as they were. */
static void replay_files_abort(replay_files *f) {
  if (f->out.open) host_pcap_writer_abort(&f->out.w);
  f->out.open = 0;
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
  const char *paths[] = {a->in_path, a->out_path, a->o.trace_path, a->html_path};
  const char *names[] = {"the input", "-o", "--trace", "--html"};
  int rc = cli_check_distinct("replay", paths, names, 4);
  if (rc) return rc;
  if (a->out_path) {
    if (host_pcap_writer_open(&f->out.w, a->out_path, err, sizeof err))
      return cli_error("replay", CLI_EXIT_USAGE, "-o: %s", err);
    f->out.open = 1;
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

static void replay_print_text(const replay_args *a, const vns_sim *sim, const scn_capture *in) {
  printf("vnetsim replay: %s, %zu frames (seed %" PRIu64 ", queue %u%s)\n", a->in_path, in->nframes,
         a->o.sim.seed, a->o.sim.queue_size, cli_ring_note(&a->o.sim));
  for (size_t i = 0; i < sizeof replay_notes / sizeof replay_notes[0]; i++) {
    uint64_t n = cli_counter(sim, replay_notes[i].counter);
    if (n) printf("  note: %" PRIu64 " frames %s\n", n, replay_notes[i].text);
  }
  if (in->cut)
    printf(
        "  note: only the first %zu frames were read, as --max-frames asked; the capture "
        "has more\n",
        in->nframes);
  replay_print_capture_notes(in);
  replay_print_frames(sim, in, 0);
  cli_print_summary(stdout, sim, &a->o.sim);
  if (a->check) cli_print_violations(stdout, sim, &a->o.sim);
}

static void replay_print_json(const replay_args *a, const vns_sim *sim, const scn_capture *in) {
  printf("{\"command\":\"replay\",\"input\":");
  cli_print_json_string(stdout, a->in_path);
  printf(",\"frames_out_of_order\":%" PRIu64 ",\"frames_truncated\":%" PRIu64
         ",\"frames_bad_timestamp\":%" PRIu64 ",\"arp_proxy_replies\":%" PRIu64 ",%s",
         cli_counter(sim, "capture.out_of_order"), cli_counter(sim, "capture.truncated"),
         cli_counter(sim, "capture.bad_timestamp"), cli_counter(sim, "host.arp_proxy_replies"),
         in->cut ? "\"stopped_at_max_frames\":true," : "");
  /* only a pcapng file read block by block has these */
  if (in->mixed_links) printf("\"mixed_link_types\":true,");
  if (in->damaged) printf("\"records_damaged\":%zu,", in->damaged);
  printf("\"frames\":[");
  replay_print_frames(sim, in, 1);
  printf("],");
  if (a->check) {
    printf("\"violations_list\":");
    cli_print_violations_json(stdout, sim);
    printf(",");
  }
  cli_print_summary_json(stdout, sim, &a->o.sim);
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
  if (f->rec && !rc) {
    rc = replay_write_html(a, f, sim);
    if (!rc && !a->o.json) printf("wrote %s\n", a->html_path);
  }
  if (!rc) rc = cli_close_trace("replay", &f->trace, 0);
  replay_files_abort(f); /* whatever is left after a failure */
  return rc;
}

static int replay_one(replay_args *a, const scn_capture *in) {
  replay_files f;
  int rc = replay_open_files(a, &f);
  if (rc) {
    replay_files_abort(&f);
    return rc;
  }
  vns_sim *sim = NULL;
  rc = vns_sim_new_hooked(&a->o.sim, f.rec ? replay_hook_recorder : NULL, f.rec, &sim);
  if (rc) {
    replay_files_abort(&f);
    return cli_error("replay", CLI_EXIT_FAIL, "cannot build the simulation: %s", vns_strerror(rc));
  }
  rc = replay_inject_and_run(sim, in);
  if (!rc) {
    if (a->o.json)
      replay_print_json(a, sim, in);
    else
      replay_print_text(a, sim, in);
    rc = replay_files_commit(a, &f, sim);
    if (!rc) rc = cli_check_accounted("replay", sim);
  } else {
    replay_files_abort(&f);
  }
  vns_sim_free(sim);
  return rc;
}

int cmd_replay(int argc, char **argv) {
  replay_args a;
  int rc = replay_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  char err[512];
  scn_capture in;
  if (host_pcap_load_max(a.in_path, (size_t)a.max_frames, &in, err, sizeof err))
    return cli_error("replay", CLI_EXIT_USAGE, "%s", err);
  /* Virtual time starts at the first frame's capture time (the first the
   * clock can hold), so output timestamps share the input's time base. */
  /* A capture of another link type carries MACs made from IP addresses
   * (host/linktype.h): the guest standing in for one of its hosts takes that
   * host's. */
  if (host_link_synthesizes_macs(in.linktype) && a.o.guest_ip_given && !a.o.guest_mac_given)
    host_link_mac_for_ipv4(a.o.sim.guest_ip, a.o.sim.guest_mac);
  a.o.sim.start_ns = 0;
  for (size_t i = 0; i < in.nframes; i++)
    if (in.frames[i].ts_ns <= VNS_TIME_MAX) {
      a.o.sim.start_ns = in.frames[i].ts_ns;
      break;
    }
  rc = a.compare ? replay_compare(&a, &in) : replay_one(&a, &in);
  host_pcap_free(&in);
  return rc;
}
