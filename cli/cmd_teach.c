#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "teach/teach.h"

static const char teach_usage[] =
    "usage: vnetsim teach [--qsize 8] [--bug NAME] [--frames N] [--seed N] [--no-pause]\n"
    "                     [--html OUT.html]\n"
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
    "On a terminal it waits after each step: Enter for the next, b (then Enter) to go back,\n"
    "q to quit. Colour only on a terminal and never with NO_COLOR set.\n"
    "\n"
    "  --qsize N        queue size, a power of two from 2 to 64 (default 8)\n"
    "  --frames N       frames the host sends, 1 to 64 (default 10): an ARP request, then\n"
    "                   echo requests\n"
    "  --bug LIST       ring bugs to switch on ('vnetsim bugs' lists them), e.g. rx-no-recycle\n"
    "  --seed N         seed of the run (default 1): it draws every modelled latency\n"
    "  --no-pause       print every step without waiting (for a pipe or a test)\n"
    "  --html FILE      also write the run as one self-contained HTML page\n"
    "  --trace FILE     write every ring and notification event as JSON lines\n"
    "  -h, --help       this text\n";

enum { TEACH_OPT_NO_PAUSE = CLI_OPT_SHARED_END + 1, TEACH_OPT_FRAMES, TEACH_OPT_HTML };

/* Reads one key line from the terminal; returns 'n', 'b' or 'q'. */
static int teach_prompt(FILE *in, int colour) {
  fputs(colour ? "\033[2m[Enter] next  [b] back  [q] quit\033[0m "
               : "[Enter] next  [b] back  [q] quit ",
        stdout);
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, in)) return 'q';
  char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (*p == 'q' || *p == 'Q') return 'q';
  if (*p == 'b' || *p == 'B') return 'b';
  return 'n';
}

static int teach_write_page(const char *path, const teach_walk *w) {
  FILE *f = fopen(path, "w");
  if (!f)
    return cli_error("teach", CLI_EXIT_USAGE, "--html: cannot create '%s': %s", path,
                     strerror(errno));
  char title[160];
  snprintf(title, sizeof title, "vnetsim teach: queue %u, %u frames, seed %llu", w->opts.queue_size,
           w->opts.frames, (unsigned long long)w->opts.seed);
  int rc = teach_write_html(f, w->s, w->rec, title, "teach");
  if (fclose(f) != 0) rc = EMU_EIO;
  if (rc) return cli_error("teach", CLI_EXIT_FAIL, "--html: writing '%s' failed", path);
  return 0;
}

int cmd_teach(int argc, char **argv) {
  static const struct option longopts[] = {{"no-pause", no_argument, NULL, TEACH_OPT_NO_PAUSE},
                                           {"frames", required_argument, NULL, TEACH_OPT_FRAMES},
                                           {"html", required_argument, NULL, TEACH_OPT_HTML},
                                           {"help", no_argument, NULL, 'h'},
                                           CLI_SIM_LONG_OPTIONS,
                                           {NULL, 0, NULL, 0}};
  cli_sim_opts o;
  cli_sim_opts_default(&o, "teach");
  o.cfg.queue_size = 8;
  uint64_t frames = 10;
  int no_pause = 0;
  const char *html = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        fputs(teach_usage, stdout);
        return CLI_EXIT_OK;
      case TEACH_OPT_NO_PAUSE:
        no_pause = 1;
        break;
      case TEACH_OPT_FRAMES:
        if (cli_parse_uint(optarg, 1, 64, &frames))
          return cli_error("teach", CLI_EXIT_USAGE, "--frames: '%s' is not a number from 1 to 64",
                           optarg);
        break;
      case TEACH_OPT_HTML:
        html = optarg;
        break;
      case CLI_OPT_JSON:
        return cli_error("teach", CLI_EXIT_USAGE,
                         "--json: teach has no JSON summary; --html embeds the run's data");
      default: {
        int rc = cli_sim_opt(&o, c, optarg, argv[optind - 1]);
        if (rc) return rc;
      }
    }
  }
  if (optind < argc)
    return cli_error("teach", CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                     argv[optind]);
  if (o.cfg.queue_size > 64)
    return cli_error("teach", CLI_EXIT_USAGE,
                     "--qsize: %u is too big to draw; teach takes a power of two from 2 to 64",
                     o.cfg.queue_size);

  FILE *trace = NULL;
  int rc = cli_open_trace("teach", &o, &trace);
  if (rc) return rc;
  teach_walk_opts wo;
  teach_walk_opts_default(&wo);
  wo.seed = o.cfg.seed;
  wo.queue_size = o.cfg.queue_size;
  wo.bugs = o.cfg.bugs;
  wo.dev_bugs = o.cfg.dev_bugs;
  wo.frames = (unsigned)frames;
  wo.trace_sink = trace;
  teach_walk w;
  rc = teach_walk_run(&wo, &w);
  if (rc) {
    if (trace) fclose(trace);
    return cli_error("teach", CLI_EXIT_FAIL, "cannot run the walkthrough: %s", emu_strerror(rc));
  }

  const char *no_colour = getenv("NO_COLOR");
  teach_render_opts ro = {isatty(STDOUT_FILENO) && !(no_colour && *no_colour)};
  int interactive = !no_pause && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  size_t n;
  teach_rec_steps(w.rec, &n);
  teach_render_intro(stdout, &w, &ro);
  int quit = 0;
  for (size_t i = 0; i < n && !quit;) {
    teach_render_step(stdout, &w, i, &ro);
    if (!interactive) {
      i++;
      continue;
    }
    switch (teach_prompt(stdin, ro.colour)) {
      case 'q':
        quit = 1;
        break;
      case 'b':
        if (i > 0) i--;
        break;
      default:
        i++;
    }
  }
  if (!quit) teach_render_outro(stdout, &w, &ro);
  if (html) rc = teach_write_page(html, &w);
  if (!rc && html && !quit) printf("wrote %s\n", html);
  int trc = cli_close_trace("teach", o.trace_path, trace, w.s);
  if (!rc) rc = trc;
  teach_walk_free(&w);
  return rc;
}
