/* getopt_long and strdup-free parsing: POSIX and GNU declarations. */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"

const char cli_sim_options_help[] =
    "  --seed N         seed of the run's PRNG (default 1); same seed and inputs, same trace\n"
    "  --qsize N        queue size, a power of two from 2 to 32768 (default 256)\n"
    "  --bug LIST       ring bugs to switch on, comma-separated ('vnetsim bugs' lists\n"
    "                   them); 'redox' is the original Redox driver's three\n"
    "  --guest-poll-ms N  the guest stack also wakes every N virtual ms (default 0: only\n"
    "                   on interrupts and its own timers)\n"
    "  --backlog N      frames the device holds while no RX buffer is posted (default 8)\n"
    "  --guest-ip A.B.C.D   the guest's IPv4 address (default 10.0.2.15, netmask /24)\n"
    "  --guest-mac MAC  the guest's MAC address (default 52:54:00:12:34:56)\n"
    "  --latency LIST   modelled latencies in virtual ns, each drawn per use from MIN-MAX:\n"
    "                   kick=200-800,irq=1000-3000,link=5000-20000 (the defaults);\n"
    "                   rearm=0-200, from the driver finding RX empty to re-enabling its\n"
    "                   interrupt; store=0-500, how late a delayed avail.idx store lands\n"
    "                   (kick-before-publish); batch=1-16, TX chains per device run\n"
    "  --fault LIST     faults on the host<->device link, each seeded: drop=P, corrupt=P,\n"
    "                   dup=P, delay=P (delay_us=N[,delay_max_us=N]), reorder=P\n"
    "                   (reorder_gap=N), rate=BYTES_PER_S (burst=N), mtu=N, dir=send|recv|both\n"
    "                   (P a probability 0..1); every faulted frame's fate names the fault\n"
    "  --trace FILE     write every ring and notification event as JSON lines\n"
    "  --json           print the summary as one JSON object\n";

int cli_error(const char *cmd, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "vnetsim %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int cli_parse_ipv4(const char *s, uint32_t *ip) {
  unsigned a[4];
  char tail;
  if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a[0], &a[1], &a[2], &a[3], &tail) != 4) return -1;
  for (int i = 0; i < 4; i++)
    if (a[i] > 255) return -1;
  *ip = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
  return 0;
}

static int cli_parse_mac(const char *s, uint8_t mac[6]) {
  unsigned b[6];
  char tail;
  if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
  return (mac[0] & 1) ? -1 : 0; /* a group address cannot be an interface's */
}

/* "name=MIN-MAX" or "name=N", comma-separated, into the scenario's latencies. */
static int cli_parse_latency(const char *list, scn_config *cfg) {
  char buf[256];
  if (strlen(list) >= sizeof buf) return -1;
  strcpy(buf, list);
  for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) return -1;
    *eq = '\0';
    char *range = eq + 1, *dash = strchr(range, '-');
    uint64_t lo, hi;
    if (dash) *dash = '\0';
    if (cli_parse_uint(range, 0, 1000000000000ull, &lo)) return -1;
    if (dash ? cli_parse_uint(dash + 1, lo, 1000000000000ull, &hi) : 0) return -1;
    if (!dash) hi = lo;
    emu_latency lat = {lo, hi};
    if (!strcmp(item, "kick"))
      cfg->kick_latency = lat;
    else if (!strcmp(item, "irq"))
      cfg->irq_latency = lat;
    else if (!strcmp(item, "link"))
      cfg->backend_latency = lat;
    else if (!strcmp(item, "rearm"))
      cfg->rearm_delay = lat;
    else if (!strcmp(item, "store"))
      cfg->store_delay = lat;
    else if (!strcmp(item, "batch") && lo >= 1 && hi <= UINT32_MAX) {
      cfg->batch_min = (uint32_t)lo;
      cfg->batch_max = (uint32_t)hi;
    } else
      return -1;
  }
  return 0;
}

void cli_sim_opts_default(cli_sim_opts *o, const char *cmd) {
  memset(o, 0, sizeof *o);
  o->cmd = cmd;
  scn_config_default(&o->cfg);
}

int cli_sim_opt(cli_sim_opts *o, int opt, const char *arg, const char *given) {
  uint64_t v;
  switch (opt) {
    case CLI_OPT_SEED:
      if (cli_parse_uint(arg, 0, UINT64_MAX, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--seed: '%s' is not an unsigned 64-bit number",
                         arg);
      o->cfg.seed = v;
      return 0;
    case CLI_OPT_QSIZE:
      if (cli_parse_uint(arg, 2, VQ_MAX_SIZE, &v) || !vq_size_valid((uint32_t)v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--qsize: '%s' is not a power of two from 2 to 32768 (virtio 1.2 §2.7)",
                         arg);
      o->cfg.queue_size = (uint16_t)v;
      return 0;
    case CLI_OPT_BUG:
      if (vbug_parse(arg, &o->cfg.bugs, &o->cfg.dev_bugs))
        return cli_error(
            o->cmd, CLI_EXIT_USAGE,
            "--bug: '%s' names a bug vnetsim does not know ('vnetsim bugs' lists them)", arg);
      return 0;
    case CLI_OPT_GUEST_POLL:
      if (cli_parse_uint(arg, 0, 3600000, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--guest-poll-ms: '%s' is not a number from 0 to 3600000", arg);
      o->cfg.guest_poll_ns = v * 1000000u;
      return 0;
    case CLI_OPT_FAULT: {
      char why[160];
      if (emu_fault_config_parse(arg, &o->cfg.fault, why, sizeof why))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--fault: %s", why);
      return 0;
    }
    case CLI_OPT_TRACE:
      o->trace_path = arg;
      return 0;
    case CLI_OPT_JSON:
      o->json = 1;
      return 0;
    case CLI_OPT_BACKLOG:
      if (cli_parse_uint(arg, 0, 65536, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--backlog: '%s' is not a number from 0 to 65536",
                         arg);
      o->cfg.rx_backlog = (uint32_t)v;
      return 0;
    case CLI_OPT_GUEST_IP:
      if (cli_parse_ipv4(arg, &o->cfg.guest.ip) || o->cfg.guest.ip == 0)
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--guest-ip: '%s' is not an IPv4 address", arg);
      o->cfg.guest.gateway = (o->cfg.guest.ip & 0xffffff00u) | 2u;
      return 0;
    case CLI_OPT_GUEST_MAC:
      if (cli_parse_mac(arg, o->cfg.guest.mac))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--guest-mac: '%s' is not a unicast MAC like 52:54:00:12:34:56", arg);
      return 0;
    case CLI_OPT_LATENCY:
      if (cli_parse_latency(arg, &o->cfg))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--latency: '%s' is not a list like kick=200-800,irq=1000,link=5000-20000,"
                         "batch=1-16",
                         arg);
      return 0;
    default: /* '?' included: unknown, or missing its value */
      return cli_error(o->cmd, CLI_EXIT_USAGE, "unknown or incomplete option '%s' (see --help)",
                       given);
  }
}

int cli_open_trace(const char *cmd, cli_sim_opts *o, FILE **sink) {
  *sink = NULL;
  if (!o->trace_path) return 0;
  *sink = fopen(o->trace_path, "w");
  if (!*sink)
    return cli_error(cmd, CLI_EXIT_USAGE, "--trace: cannot create '%s': %s", o->trace_path,
                     strerror(errno));
  o->cfg.trace_sink = *sink;
  return 0;
}

int cli_close_trace(const char *cmd, const char *path, FILE *sink, const scn *s) {
  if (!sink) return 0;
  int bad = s->trace.io_error;
  if (fclose(sink) != 0) bad = 1;
  if (bad) return cli_error(cmd, CLI_EXIT_FAIL, "--trace: writing '%s' failed", path);
  return 0;
}

void cli_print_summary(FILE *out, const scn *s) {
  const emu_fates *f = &s->fates;
  const vnet_dev_stats *dv = &s->dev.stats;
  const vnet_drv_stats *dr = &s->drv.stats;
  char bugs[512];
  fprintf(out, "fates of %zu frames host->guest (all accounted: %s):\n", f->nframes,
          emu_fates_total(f) == f->nframes && !f->double_fates ? "yes" : "NO");
  for (int i = EMU_FATE_PENDING; i < EMU_FATE_COUNT; i++) {
    uint64_t n = i == EMU_FATE_PENDING ? f->nframes - emu_fates_total(f) : f->counts[i];
    if (n) fprintf(out, "  %-20s %" PRIu64 "\n", emu_fate_name((emu_fate)i), n);
  }
  fprintf(out, "guest->host frames: %" PRIu64 "\n", s->guest_frames);
  fprintf(out,
          "device: rx %" PRIu64 " frames (%" PRIu64 " via backlog), tx %" PRIu64
          " frames, bad tx chains %" PRIu64 ", kicks rx %" PRIu64 " tx %" PRIu64
          ", interrupts %" PRIu64 " (%" PRIu64 " suppressed)%s%s\n",
          dv->rx_frames, dv->rx_backlogged, dv->tx_frames, dv->tx_bad_chains, dv->kicks[VNET_RXQ],
          dv->kicks[VNET_TXQ], dv->interrupts, dv->interrupts_suppressed,
          s->dev.violation ? ", NEEDS RESET: " : "",
          s->dev.violation ? vq_rule_name(s->dev.violation) : "");
  fprintf(out,
          "driver (bugs: %s): rx %" PRIu64 " frames, buffers reposted %" PRIu64 ", tx %" PRIu64
          " frames, tx ring full %" PRIu64 ", kicks sent rx %" PRIu64 " tx %" PRIu64
          " (suppressed %" PRIu64 "), interrupts %" PRIu64 " (spurious %" PRIu64 ")\n",
          vbug_names(s->drv.opts.bugs, s->dev.cfg.bugs, bugs, sizeof bugs), dr->rx_frames,
          dr->rx_reposted, dr->tx_frames, dr->tx_ring_full, dr->kicks[VNET_RXQ],
          dr->kicks[VNET_TXQ], dr->kicks_suppressed[VNET_RXQ] + dr->kicks_suppressed[VNET_TXQ],
          dr->interrupts, dr->interrupts_spurious);
  fprintf(out, "rings: rx avail %u used %u, tx avail %u used %u; virtual time %.6f ms\n",
          s->drv.rxq.avail_idx_published, s->dev.q[VNET_RXQ].vq.used_idx_published,
          s->drv.txq.avail_idx_published, s->dev.q[VNET_TXQ].vq.used_idx_published,
          (double)(scn_now(s) - s->cfg.start_ns) / 1e6);
  if (emu_fault_config_active(&s->cfg.fault)) {
    const emu_fault_stats *fs = emu_fault_stats_get(&s->fault);
    fprintf(out, "link faults:");
    for (int i = 0; i < EMU_FATE_COUNT; i++)
      if (fs->faults[i]) fprintf(out, " %s %" PRIu64, emu_fate_name((emu_fate)i), fs->faults[i]);
    fprintf(out, " (frames to guest %" PRIu64 ", to host %" PRIu64 ")\n",
            fs->frames_in[EMU_FAULT_SEND], fs->frames_in[EMU_FAULT_RECV]);
  }
  if (s->violations_total)
    fprintf(out, "conformance: %" PRIu64 " virtio rule violations (replay --check lists them)\n",
            s->violations_total);
  fprintf(out, "trace: %" PRIu64 " events, hash %016" PRIx64 " (seed %" PRIu64 ")\n",
          s->trace.events, s->trace.hash, s->cfg.seed);
}

void cli_print_summary_json(FILE *out, const scn *s) {
  const emu_fates *f = &s->fates;
  const vnet_dev_stats *dv = &s->dev.stats;
  const vnet_drv_stats *dr = &s->drv.stats;
  char bugs[512];
  fprintf(out, "\"frames_in\":%zu,\"fates_accounted\":%s,\"fates\":{", f->nframes,
          emu_fates_total(f) == f->nframes && !f->double_fates ? "true" : "false");
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++)
    fprintf(out, "%s\"%s\":%" PRIu64, i > 1 ? "," : "", emu_fate_name((emu_fate)i), f->counts[i]);
  fprintf(out, "},\"frames_out\":%" PRIu64, s->guest_frames);
  fprintf(out,
          ",\"device\":{\"rx_frames\":%" PRIu64 ",\"rx_backlogged\":%" PRIu64
          ",\"tx_frames\":%" PRIu64 ",\"tx_bad_chains\":%" PRIu64 ",\"kicks_rx\":%" PRIu64
          ",\"kicks_tx\":%" PRIu64 ",\"interrupts\":%" PRIu64 ",\"interrupts_suppressed\":%" PRIu64
          ",\"needs_reset\":\"%s\"}",
          dv->rx_frames, dv->rx_backlogged, dv->tx_frames, dv->tx_bad_chains, dv->kicks[VNET_RXQ],
          dv->kicks[VNET_TXQ], dv->interrupts, dv->interrupts_suppressed,
          s->dev.violation ? vq_rule_name(s->dev.violation) : "");
  fprintf(out,
          ",\"driver\":{\"bugs\":\"%s\",\"rx_frames\":%" PRIu64 ",\"rx_reposted\":%" PRIu64
          ",\"rx_bad_used\":%" PRIu64 ",\"tx_frames\":%" PRIu64 ",\"tx_ring_full\":%" PRIu64
          ",\"kicks_rx\":%" PRIu64 ",\"kicks_tx\":%" PRIu64 ",\"interrupts\":%" PRIu64 "}",
          vbug_names(s->drv.opts.bugs, s->dev.cfg.bugs, bugs, sizeof bugs), dr->rx_frames,
          dr->rx_reposted, dr->rx_bad_used, dr->tx_frames, dr->tx_ring_full, dr->kicks[VNET_RXQ],
          dr->kicks[VNET_TXQ], dr->interrupts);
  fprintf(out, ",\"violations\":%" PRIu64, s->violations_total);
  fprintf(out,
          ",\"virtual_ns\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"trace_events\":%" PRIu64
          ",\"trace_hash\":\"%016" PRIx64 "\"",
          scn_now(s) - s->cfg.start_ns, s->cfg.seed, s->trace.events, s->trace.hash);
}

void cli_print_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void cli_print_violations(FILE *out, const scn *s) {
  if (s->violations_total == 0) {
    fprintf(out, "conformance: no violations\n");
    return;
  }
  fprintf(out, "conformance: %" PRIu64 " violation%s\n", s->violations_total,
          s->violations_total == 1 ? "" : "s");
  for (size_t i = 0; i < s->nviolations; i++) {
    const scn_violation *v = &s->violations[i];
    uint64_t t = v->t_ns - s->cfg.start_ns;
    fprintf(out, "  +%" PRIu64 ".%06" PRIu64 " ms  %s saw, on %s: %s (virtio 1.2 §%s): %s",
            t / 1000000, t % 1000000, v->actor, v->queue ? v->queue : "the device",
            vq_rule_name(v->rule), vq_rule_section(v->rule), vq_rule_text(v->rule));
    if (v->head >= 0) fprintf(out, " [head %" PRId64 "]", v->head);
    fputc('\n', out);
  }
  if (s->violations_total > s->nviolations)
    fprintf(out, "  ... and %" PRIu64 " more, not listed\n", s->violations_total - s->nviolations);
}

void cli_print_violations_json(FILE *out, const scn *s) {
  fputc('[', out);
  for (size_t i = 0; i < s->nviolations; i++) {
    const scn_violation *v = &s->violations[i];
    fprintf(out,
            "%s{\"t_ns\":%" PRIu64
            ",\"actor\":\"%s\",\"queue\":\"%s\",\"rule\":\"%s\","
            "\"section\":\"%s\",\"head\":%" PRId64 ",\"explanation\":",
            i ? "," : "", v->t_ns, v->actor, v->queue ? v->queue : "", vq_rule_name(v->rule),
            vq_rule_section(v->rule), v->head);
    cli_print_json_string(out, vq_rule_text(v->rule));
    fputc('}', out);
  }
  fputc(']', out);
}
