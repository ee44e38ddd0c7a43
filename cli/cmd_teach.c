#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "teach/teach.h"

static const char teach_usage[] =
    "usage: vnetsim teach [--qsize 8] [--bug NAME] [--frames N] [--burst N] [--seed N]\n"
    "                     [--ring split|packed] [--mergeable [--mtu N] [--rx-buf-size N]]\n"
    "                     [--no-event-idx] [--no-pause] [--html OUT.html]\n"
    "\n"
    "Walks through the virtqueue protocol on a small scenario: driver initialisation and\n"
    "feature negotiation, RX buffers posted, a frame arriving, the used ring, the interrupt,\n"
    "the driver consuming and re-posting, a TX with its kick, slot wrap-around and event-idx\n"
    "suppression. The host (slirp's gateway) ARPs for the guest and pings it. At each step\n"
    "it draws the descriptor table, the available ring and the used ring of one queue, with\n"
    "both sides' cursors and who owns each descriptor, marks what changed, and says what\n"
    "happened and which virtio 1.2 section rules it. The first 2 frames are shown action by\n"
    "action, later ones one step per frame. With --bug, it shows where the run goes wrong.\n"
    "\n"
    "On a terminal it waits after each step for a single key (no Enter needed): Enter or\n"
    "space for the next, b to go back, q to quit; the terminal is put back as it was on\n"
    "exit and on Ctrl-C. Colour only on a terminal and never with NO_COLOR set.\n"
    "\n"
    "  --qsize N        queue size, a power of two from 2 to 64 (default 8; 2 with\n"
    "                   dev-packed-wrap-exact, which shows only when a chain spans the ring)\n"
    "  --frames N       frames the host sends, 1 to 64 (default 10): an ARP request, then\n"
    "                   echo requests\n"
    "  --bug LIST       ring bugs to switch on ('vnetsim bugs' lists them), e.g. rx-no-recycle\n"
    "  --burst N        echo requests the host sends at once, 1 to 8 (default 1; 2 with the\n"
    "                   last-only bugs, which show only when used elements pile up)\n"
    "  --seed N         seed of the run (default 1): it draws every modelled latency\n"
    "  --ring FORMAT    split (default, §2.7) or packed (§2.8): the packed walkthrough draws\n"
    "                   the one descriptor ring with each position's AVAIL and USED bits,\n"
    "                   both sides' wrap counters and the event suppression structures\n"
    "  --mergeable      mergeable RX buffers (VIRTIO_NET_F_MRG_RXBUF, §5.1.6.4): the pings\n"
    "                   carry 4000 bytes and each frame spans several RX buffers: the device\n"
    "                   takes them, fills all but the last, writes num_buffers in the first\n"
    "                   one's header and makes them used together; the driver reads\n"
    "                   num_buffers, joins them and posts them again. The mergeable bugs\n"
    "                   (drv-mrg-first-only, drv-mrg-repost-first, dev-mrg-num-buffers-one)\n"
    "                   need it\n"
    "  --mtu N          the device's mtu, 68 to 9000 (default 9000 with --mergeable, so a\n"
    "                   ping fits one frame); the pings shrink to fit a smaller one\n"
    "  --rx-buf-size N  bytes per RX buffer, header included (default 1526): a frame must\n"
    "                   fit the queue's buffers, or teach refuses\n"
    "  --no-event-idx   the driver does not take VIRTIO_F_EVENT_IDX: the ring's flags\n"
    "                   fields suppress notifications instead (NO_INTERRUPT, NO_NOTIFY)\n"
    "  --memory MODEL   guest memory's ordering: sc (default), tso or weak; each step\n"
    "                   then shows both sides' store buffers, and a missing-barrier bug\n"
    "                   goes wrong where this run's interleaving lets it\n"
    "  --no-pause       print every step without waiting (for a pipe or a test)\n"
    "  --html FILE      also write the run as one self-contained HTML page\n"
    "  --trace FILE     write every ring and notification event as JSON lines ('-':\n"
    "                   standard output, with the report on standard error)\n"
    "  -h, --help       this text\n";

enum {
  TEACH_OPT_NO_PAUSE = CLI_OPT_SHARED_END + 1,
  TEACH_OPT_FRAMES,
  TEACH_OPT_HTML,
  TEACH_OPT_BURST,
  TEACH_OPT_NO_EVENT_IDX
};

/* Small enough to draw every slot of both rings on one screen. */
#define TEACH_MAX_QSIZE  64
#define TEACH_MAX_FRAMES 64
#define TEACH_MAX_BURST  8

/* Single keys on a terminal: the terminal goes into non-canonical mode
 * (no line buffering, no echo) while the walkthrough waits for keys, and
 * back to how it was on every way out: a normal return, exit(), and the
 * signals that end or stop the process. */
static struct termios teach_saved_tty;
static volatile sig_atomic_t teach_tty_raw;

static void teach_tty_restore(void) {
  if (teach_tty_raw) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &teach_saved_tty);
    teach_tty_raw = 0;
  }
}

/* Restores the terminal, then lets the signal do what it does by default
 * (end the process, or stop it: on SIGCONT the keys go raw again). */
static void teach_tty_signal(int sig) {
  int was_raw = teach_tty_raw;
  teach_tty_restore();
  signal(sig, SIG_DFL);
  raise(sig);
  if (sig == SIGTSTP && was_raw) { /* continued after a stop */
    signal(SIGTSTP, teach_tty_signal);
    struct termios t = teach_saved_tty;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) teach_tty_raw = 1;
  }
}

/* 1 when the terminal now delivers single keys. */
static int teach_tty_keys(void) {
  if (tcgetattr(STDIN_FILENO, &teach_saved_tty)) return 0;
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], teach_tty_signal);
  atexit(teach_tty_restore);
  struct termios t = teach_saved_tty;
  t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t)) return 0;
  teach_tty_raw = 1;
  return 1;
}

/* Waits for one key: Enter, space or n for the next step, b to go back, q
 * (or the end of input) to quit; returns 'n', 'b' or 'q'. Without single
 * keys, a line at a time. */
static int teach_prompt(FILE *in, int colour, int keys) {
  fputs(colour ? "\033[2m[Enter] next  [b] back  [q] quit\033[0m "
               : "[Enter] next  [b] back  [q] quit ",
        stdout);
  fflush(stdout);
  int c;
  if (keys) {
    unsigned char ch;
    c = read(STDIN_FILENO, &ch, 1) == 1 ? ch : EOF;
    fputc('\n', stdout);
  } else {
    char line[64];
    c = fgets(line, sizeof line, in) ? line[strspn(line, " \t")] : EOF;
  }
  if (c == EOF || c == 'q' || c == 'Q' || c == 4 /* Ctrl-D */) return 'q';
  if (c == 'b' || c == 'B') return 'b';
  return 'n';
}

/* Writes the page into page (opened before the run) and puts it in place. */
static int teach_write_page(host_outfile *page, const teach_walk *w) {
  char title[160];
  snprintf(title, sizeof title, "vnetsim teach: queue %u%s%s, %u frames, seed %llu",
           w->opts.queue_size, w->opts.packed ? " (packed ring)" : "",
           w->opts.mergeable ? ", mergeable RX buffers" : "", w->opts.frames,
           (unsigned long long)w->opts.seed);
  int rc = teach_write_html(page->f, w->s, w->rec, title, "teach");
  if (rc)
    host_outfile_abort(page);
  else
    rc = host_outfile_commit(page);
  if (rc) return cli_error("teach", CLI_EXIT_FAIL, "--html: writing '%s' failed", page->path);
  return 0;
}

typedef struct teach_args {
  cli_sim_opts o;
  uint64_t frames, burst;
  int no_pause, no_event_idx;
  const char *html;
} teach_args;

/* The walk options the command line asks for (the bugs and sizes known). */
static void teach_walk_opts_from(const teach_args *a, teach_walk_opts *wo) {
  teach_walk_opts_default(wo);
  wo->seed = a->o.sim.seed;
  wo->queue_size = a->o.sim.queue_size;
  wo->bugs = a->o.sim.driver_bugs;
  wo->dev_bugs = a->o.sim.device_bugs;
  wo->frames = (unsigned)a->frames;
  wo->burst = a->burst ? (unsigned)a->burst : teach_walk_default_burst(wo->bugs, wo->dev_bugs);
  wo->memory = (emu_mm_kind)a->o.sim.memory;
  wo->packed = a->o.sim.ring == VNS_RING_PACKED;
  wo->mergeable = a->o.sim.mergeable;
  wo->mtu = a->o.sim.mtu;
  wo->rx_buf_size = a->o.sim.rx_buf_size;
  wo->no_event_idx = a->no_event_idx;
}

/* A frame of the walkthrough must fit the RX ring, however many buffers
 * it takes; then the options shared with the other commands. */
static int teach_check_buffers(const teach_args *a) {
  teach_walk_opts wo;
  teach_walk_opts_from(a, &wo);
  uint32_t need = teach_walk_buffers_per_frame(&wo);
  if (need > wo.queue_size)
    return cli_error("teach", CLI_EXIT_USAGE,
                     "--rx-buf-size: each ping takes %u RX buffers, more than the queue's %u; "
                     "raise --rx-buf-size or --qsize, or lower --mtu",
                     need, wo.queue_size);
  return cli_sim_opts_done(&a->o);
}

static int teach_parse(int argc, char **argv, teach_args *a) {
  static const struct option longopts[] = {
      {"no-pause", no_argument, NULL, TEACH_OPT_NO_PAUSE},
      {"frames", required_argument, NULL, TEACH_OPT_FRAMES},
      {"html", required_argument, NULL, TEACH_OPT_HTML},
      {"burst", required_argument, NULL, TEACH_OPT_BURST},
      {"no-event-idx", no_argument, NULL, TEACH_OPT_NO_EVENT_IDX},
      {"help", no_argument, NULL, 'h'},
      CLI_SIM_LONG_OPTIONS,
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  cli_sim_opts_default(&a->o, "teach");
  a->o.sim.queue_size = 0; /* unless told: teach_walk_default_qsize() once the bugs are known */
  a->frames = 10;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        fputs(teach_usage, stdout);
        return -1;
      case TEACH_OPT_NO_PAUSE:
        a->no_pause = 1;
        break;
      case TEACH_OPT_NO_EVENT_IDX:
        a->no_event_idx = 1;
        break;
      case TEACH_OPT_FRAMES:
        if (cli_parse_uint(optarg, 1, TEACH_MAX_FRAMES, &a->frames))
          return cli_error("teach", CLI_EXIT_USAGE, "--frames: '%s' is not a number from 1 to %d",
                           optarg, TEACH_MAX_FRAMES);
        break;
      case TEACH_OPT_HTML:
        a->html = optarg;
        break;
      case TEACH_OPT_BURST:
        if (cli_parse_uint(optarg, 1, TEACH_MAX_BURST, &a->burst))
          return cli_error("teach", CLI_EXIT_USAGE, "--burst: '%s' is not a number from 1 to %d",
                           optarg, TEACH_MAX_BURST);
        break;
      case CLI_OPT_JSON:
        return cli_error("teach", CLI_EXIT_USAGE,
                         "--json: teach has no JSON summary; --html embeds the run's data");
      default: {
        int rc = cli_sim_opt(&a->o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("teach", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                     argv[optind]);
  if (!a->o.sim.queue_size)
    a->o.sim.queue_size = teach_walk_default_qsize(a->o.sim.driver_bugs, a->o.sim.device_bugs);
  if (a->o.sim.queue_size > TEACH_MAX_QSIZE)
    return cli_error("teach", CLI_EXIT_USAGE,
                     "--qsize: %u is too big to draw; teach takes a power of two from 2 to %d",
                     a->o.sim.queue_size, TEACH_MAX_QSIZE);
  if (!a->o.sim.mergeable &&
      ((a->o.sim.driver_bugs & (VNS_BUG_MRG_FIRST_ONLY | VNS_BUG_MRG_REPOST_FIRST)) ||
       (a->o.sim.device_bugs & VNS_BUG_DEV_MRG_NUM_BUFFERS_ONE)))
    return cli_error("teach", CLI_EXIT_USAGE,
                     "--bug: a mergeable RX buffers' bug; add --mergeable ('vnetsim teach "
                     "--mergeable --bug NAME' shows it)");
  return teach_check_buffers(a);
}

/* Prints every step; on a terminal, waits for a key between steps. Returns
 * 1 when the reader quit. */
static int teach_show(const teach_walk *w, int no_pause) {
  const char *no_colour = getenv("NO_COLOR");
  teach_render_opts ro = {isatty(STDOUT_FILENO) && !(no_colour && *no_colour)};
  int interactive = !no_pause && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  int keys = interactive && teach_tty_keys();
  size_t n;
  teach_rec_steps(w->rec, &n);
  teach_render_intro(stdout, w, &ro);
  for (size_t i = 0; i < n;) {
    teach_render_step(stdout, w, i, &ro);
    int key = interactive ? teach_prompt(stdin, ro.colour, keys) : 'n';
    if (key == 'q') {
      teach_tty_restore();
      return 1;
    }
    if (key == 'b')
      i -= i > 0;
    else
      i++;
  }
  teach_tty_restore();
  teach_render_outro(stdout, w, &ro);
  return 0;
}

/* Opens every output before the walk runs, so that a bad path costs
 * nothing and leaves nothing behind. */
static int teach_open_outputs(teach_args *a, cli_trace *trace, host_outfile *page) {
  const char *paths[] = {a->o.trace_path, a->html};
  const char *names[] = {"--trace", "--html"};
  int rc = cli_check_distinct("teach", paths, names, 2);
  scn_config unused;
  if (!rc) rc = cli_open_trace_scn(&a->o, &unused, trace);
  if (rc || !a->html) return rc;
  char err[512];
  if (host_outfile_open(page, a->html, err, sizeof err) == 0) return 0;
  cli_abort_trace(trace);
  return cli_error("teach", CLI_EXIT_USAGE, "--html: %s", err);
}

int cmd_teach(int argc, char **argv) {
  teach_args a;
  int rc = teach_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  cli_trace trace;
  host_outfile page = {0};
  rc = teach_open_outputs(&a, &trace, &page);
  if (rc) return rc;
  teach_walk_opts wo;
  teach_walk_opts_from(&a, &wo);
  wo.trace_sink = trace.f;
  teach_walk w;
  rc = teach_walk_run(&wo, &w);
  if (rc) {
    cli_abort_trace(&trace);
    host_outfile_abort(&page);
    return cli_error("teach", CLI_EXIT_FAIL, "cannot run the walkthrough: %s", emu_strerror(rc));
  }
  int quit = teach_show(&w, a.no_pause);
  if (a.html) rc = teach_write_page(&page, &w);
  if (!rc && a.html && !quit) printf("wrote %s\n", a.html);
  int trc = cli_close_trace("teach", &trace, w.s->trace.io_error);
  if (!rc) rc = trc;
  teach_walk_free(&w);
  return rc;
}
