#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "host/pcapio.h"
#include "teach/teach.h"

static const char replay_usage[] =
    "usage: vnetsim replay IN.pcap [-o OUT.pcap] [OPTIONS]\n"
    "\n"
    "Injects every frame of a pcap or pcapng capture (Ethernet link type) into the\n"
    "guest through the device's RX path, at its capture time on a virtual clock\n"
    "that starts at the first frame. Whatever the guest sends is written to\n"
    "OUT.pcap with virtual timestamps on the same time base, so a reply's time\n"
    "minus its request's is the modelled latency. The summary gives every input\n"
    "frame's fate; fates always add up to the number of input frames.\n"
    "\n"
    "Frames addressed to other hosts get the fate not_for_guest; give the guest\n"
    "the capture's address with --guest-ip/--guest-mac to make it answer them.\n"
    "Frames out of time order are injected right after their predecessor.\n"
    "\n"
    "  -o, --out FILE   write the frames the guest sent (pcap, nanosecond)\n"
    "  --compare LIST   run the input twice, through the fixed driver and through one\n"
    "                   with the bugs in LIST, and print every frame whose fate differs\n"
    "  --html FILE      also write the run as one self-contained HTML page: ring occupancy\n"
    "                   over virtual time, kicks, interrupts, drops, and the ring states\n"
    "  --check          list every virtio rule broken in the run, by spec section\n"
    "%s"
    "  -h, --help       this text\n";

typedef struct replay_out {
  host_pcap_writer w;
  int open;
} replay_out;

static void replay_on_guest_frame(void *ctx, const uint8_t *frame, size_t len, uint64_t now) {
  replay_out *out = ctx;
  if (out->open) host_pcap_writer_write(&out->w, now, frame, len);
}

static void replay_print_frames(const scn *s, const scn_capture *in, int json) {
  for (size_t i = 0; i < in->nframes; i++) {
    int64_t id = scn_sent_id(s, i);
    if (id < 0) break;
    const emu_fate_rec *r = &s->fates.frames[id];
    int faulted = r->fault != EMU_FATE_PENDING;
    if (json) {
      printf("%s{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"len\":%u,\"fate\":\"%s\"", i ? "," : "",
             i + 1, r->entered_ns, in->frames[i].caplen, emu_fate_name(r->fate));
      if (faulted) printf(",\"fault\":\"%s\"", emu_fate_name(r->fault));
      printf("}");
    } else {
      printf("  frame %4zu  t=%" PRIu64 ".%09" PRIu64 "  len %5u  %s%s%s%s\n", i + 1,
             r->entered_ns / 1000000000u, r->entered_ns % 1000000000u, in->frames[i].caplen,
             emu_fate_name(r->fate), faulted ? " (after " : "",
             faulted ? emu_fate_name(r->fault) : "", faulted ? ")" : "");
    }
  }
  /* copies a duplicate fault made are frames of their own, after the input's */
  if (!json && s->fates.nframes > in->nframes)
    printf("  + %zu duplicate copies made on the link\n", s->fates.nframes - in->nframes);
}

/* Runs the capture through a scenario built from cfg, to the end. */
static int replay_run(const scn_config *cfg, const scn_capture *in, scn *s,
                      scn_capture_notes *notes) {
  int rc = scn_init(s, cfg);
  if (rc) return rc;
  rc = scn_inject_capture(s, in, notes);
  if (rc) {
    scn_close(s);
    return rc;
  }
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
  scn_finish(s);
  return 0;
}

static int replay_compare(const cli_sim_opts *o, const scn_capture *in, const char *in_path,
                          unsigned drv_bugs, unsigned dev_bugs) {
  scn_config fixed_cfg = o->cfg, buggy_cfg = o->cfg;
  fixed_cfg.bugs = fixed_cfg.dev_bugs = 0;
  buggy_cfg.bugs = drv_bugs;
  buggy_cfg.dev_bugs = dev_bugs;
  static scn fixed, buggy;
  scn_capture_notes notes;
  int rc = replay_run(&fixed_cfg, in, &fixed, &notes);
  if (rc) return cli_error("replay", CLI_EXIT_FAIL, "fixed run: %s", emu_strerror(rc));
  rc = replay_run(&buggy_cfg, in, &buggy, &notes);
  if (rc) {
    scn_close(&fixed);
    return cli_error("replay", CLI_EXIT_FAIL, "buggy run: %s", emu_strerror(rc));
  }
  char names[512];
  vbug_names(drv_bugs, dev_bugs, names, sizeof names);
  size_t differ = 0;
  if (o->json) {
    printf("{\"command\":\"replay\",\"input\":");
    cli_print_json_string(stdout, in_path);
    printf(",\"compare\":\"%s\",\"frames\":%zu,\"differences\":[", names, in->nframes);
  } else {
    printf("vnetsim replay: %s, %zu frames, fixed driver against %s (seed %" PRIu64 ", queue %u)\n",
           in_path, in->nframes, names, o->cfg.seed, o->cfg.queue_size);
    printf("  %-7s %-22s %-20s %s\n", "frame", "time", "fixed", "buggy");
  }
  for (size_t i = 0; i < in->nframes; i++) {
    int64_t ia = scn_sent_id(&fixed, i), ib = scn_sent_id(&buggy, i);
    if (ia < 0 || ib < 0) break;
    emu_fate a = fixed.fates.frames[ia].fate, b = buggy.fates.frames[ib].fate;
    if (a == b) continue;
    uint64_t t = fixed.fates.frames[ia].entered_ns;
    if (o->json)
      printf("%s{\"frame\":%zu,\"t_ns\":%" PRIu64 ",\"fixed\":\"%s\",\"buggy\":\"%s\"}",
             differ ? "," : "", i + 1, t, emu_fate_name(a), emu_fate_name(b));
    else
      printf("  %-7zu %10" PRIu64 ".%09" PRIu64 "  %-20s %s\n", i + 1, t / 1000000000u,
             t % 1000000000u, emu_fate_name(a), emu_fate_name(b));
    differ++;
  }
  if (o->json) {
    printf("],\"differ\":%zu,\"fixed\":{", differ);
    cli_print_summary_json(stdout, &fixed);
    printf("},\"buggy\":{");
    cli_print_summary_json(stdout, &buggy);
    printf("}}\n");
  } else {
    printf("%zu of %zu frames differ\n", differ, in->nframes);
    printf("fixed (guest->host frames %" PRIu64 "):", fixed.guest_frames);
    for (int f = EMU_FATE_PENDING + 1; f < EMU_FATE_COUNT; f++)
      if (fixed.fates.counts[f])
        printf(" %s %" PRIu64, emu_fate_name((emu_fate)f), fixed.fates.counts[f]);
    printf("\nbuggy (guest->host frames %" PRIu64 "):", buggy.guest_frames);
    for (int f = EMU_FATE_PENDING + 1; f < EMU_FATE_COUNT; f++)
      if (buggy.fates.counts[f])
        printf(" %s %" PRIu64, emu_fate_name((emu_fate)f), buggy.fates.counts[f]);
    printf("\n");
  }
  scn_close(&fixed);
  scn_close(&buggy);
  return CLI_EXIT_OK;
}

int cmd_replay(int argc, char **argv) {
  static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                           {"compare", required_argument, NULL, 'c'},
                                           {"html", required_argument, NULL, 'H'},
                                           {"check", no_argument, NULL, 'C'},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts o;
  cli_sim_opts_default(&o, "replay");
  const char *out_path = NULL;
  const char *compare = NULL;
  unsigned cmp_drv = 0, cmp_dev = 0;
  const char *html_path = NULL;
  int check = 0;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        printf(replay_usage, cli_sim_options_help);
        return CLI_EXIT_OK;
      case 'o':
        out_path = optarg;
        break;
      case 'H':
        html_path = optarg;
        break;
      case 'C':
        check = 1;
        break;
      case 'c':
        if (vbug_parse(optarg, &cmp_drv, &cmp_dev) || (!cmp_drv && !cmp_dev))
          return cli_error("replay", CLI_EXIT_USAGE,
                           "--compare: '%s' is not a list of bugs ('vnetsim bugs' lists them)",
                           optarg);
        compare = optarg;
        break;
      default: {
        int rc = cli_sim_opt(&o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind >= argc)
    return cli_error("replay", CLI_EXIT_USAGE, "missing the input capture (see --help)");
  if (optind + 1 < argc)
    return cli_error("replay", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
  const char *in_path = argv[optind];
  if (compare && html_path)
    return cli_error("replay", CLI_EXIT_USAGE, "--compare runs twice: it takes no --html");
  if (compare && (out_path || o.trace_path || o.cfg.bugs || o.cfg.dev_bugs))
    return cli_error("replay", CLI_EXIT_USAGE,
                     "--compare runs twice: it takes no -o, --trace or --bug (run one side alone "
                     "for those)");

  char err[512];
  scn_capture in;
  int rc = host_pcap_load(in_path, &in, err, sizeof err);
  if (rc) return cli_error("replay", CLI_EXIT_USAGE, "%s", err);
  /* Virtual time starts at the first frame's capture time, so output
   * timestamps share the input's time base. */
  o.cfg.start_ns = in.nframes ? in.frames[0].ts_ns : 0;
  if (compare) {
    rc = replay_compare(&o, &in, in_path, cmp_drv, cmp_dev);
    host_pcap_free(&in);
    return rc;
  }

  replay_out out = {0};
  if (out_path) {
    if (host_pcap_writer_open(&out.w, out_path, err, sizeof err)) {
      host_pcap_free(&in);
      return cli_error("replay", CLI_EXIT_USAGE, "-o: %s", err);
    }
    out.open = 1;
  }
  FILE *trace = NULL;
  rc = cli_open_trace("replay", &o, &trace);
  if (rc) {
    if (out.open) host_pcap_writer_close(&out.w);
    host_pcap_free(&in);
    return rc;
  }
  /* The page records this very run: its recorder watches from the probe on. */
  FILE *html = NULL;
  teach_rec *rec = NULL;
  static scn s;
  if (html_path) {
    teach_opts to;
    teach_opts_for_replay(&to);
    html = fopen(html_path, "w");
    rec = html ? teach_rec_new(&to) : NULL;
    if (!rec) {
      rc = html ? cli_error("replay", CLI_EXIT_FAIL, "--html: out of memory")
                : cli_error("replay", CLI_EXIT_USAGE, "--html: cannot create '%s': %s", html_path,
                            strerror(errno));
      if (html) fclose(html);
      if (trace) fclose(trace);
      if (out.open) host_pcap_writer_close(&out.w);
      host_pcap_free(&in);
      return rc;
    }
    teach_rec_hook(rec, &s, &o.cfg);
  }

  rc = scn_init(&s, &o.cfg);
  if (rc) {
    if (html) fclose(html);
    teach_rec_free(rec);
    if (trace) fclose(trace);
    if (out.open) host_pcap_writer_close(&out.w);
    host_pcap_free(&in);
    return cli_error("replay", CLI_EXIT_FAIL, "cannot build the simulation: %s", emu_strerror(rc));
  }
  scn_set_host_rx(&s, replay_on_guest_frame, &out);
  scn_capture_notes notes;
  if (scn_inject_capture(&s, &in, &notes))
    rc = cli_error("replay", CLI_EXIT_FAIL, "out of memory queuing the capture's frames");
  if (!rc) {
    scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
    scn_finish(&s);
    if (o.json) {
      printf("{\"command\":\"replay\",\"input\":");
      cli_print_json_string(stdout, in_path);
      printf(",\"frames_out_of_order\":%" PRIu64 ",\"frames_truncated\":%" PRIu64 ",\"frames\":[",
             notes.out_of_order, notes.truncated);
      replay_print_frames(&s, &in, 1);
      printf("],");
      if (check) {
        printf("\"violations_list\":");
        cli_print_violations_json(stdout, &s);
        printf(",");
      }
      cli_print_summary_json(stdout, &s);
      printf("}\n");
    } else {
      printf("vnetsim replay: %s, %zu frames (seed %" PRIu64 ", queue %u)\n", in_path, in.nframes,
             o.cfg.seed, o.cfg.queue_size);
      if (notes.out_of_order)
        printf("  note: %" PRIu64
               " frames were earlier than their predecessor and were "
               "injected right after it\n",
               notes.out_of_order);
      if (notes.truncated)
        printf("  note: %" PRIu64
               " frames were truncated by the capture; their captured bytes "
               "were injected\n",
               notes.truncated);
      replay_print_frames(&s, &in, 0);
      cli_print_summary(stdout, &s);
      if (out.open) printf("wrote %" PRIu64 " guest frames to %s\n", out.w.frames, out_path);
    }
    if (check && !o.json) cli_print_violations(stdout, &s);
    if (html) {
      teach_rec_attach(rec);
      teach_rec_finish(rec);
      char title[512];
      snprintf(title, sizeof title, "vnetsim replay of %s", in_path);
      int hrc = teach_write_html(html, &s, rec, title, "replay");
      if (fclose(html) != 0) hrc = EMU_EIO;
      html = NULL;
      if (hrc)
        rc = cli_error("replay", CLI_EXIT_FAIL, "--html: writing '%s' failed", html_path);
      else if (!o.json)
        printf("wrote %s\n", html_path);
    }
  }
  if (out.open && host_pcap_writer_close(&out.w) && !rc)
    rc = cli_error("replay", CLI_EXIT_FAIL, "-o: writing '%s' failed", out_path);
  if (html) fclose(html);
  teach_rec_free(rec);
  int trc = cli_close_trace("replay", o.trace_path, trace, &s);
  if (!rc) rc = trc;
  scn_close(&s);
  host_pcap_free(&in);
  return rc;
}
