/* getopt_long and strdup-free parsing: POSIX and GNU declarations. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "cli/cmd.h"

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
    "  --guest-ip6 ADDR a static global IPv6 address for the guest, on link with its /64\n"
    "                   (it always has fe80:: with the modified EUI-64 of its MAC)\n"
    "  --latency LIST   modelled latencies in virtual ns, each drawn per use from MIN-MAX:\n"
    "                   kick=200-800,irq=1000-3000,link=5000-20000 (the defaults);\n"
    "                   rearm=0-200, from the driver finding RX empty to re-enabling its\n"
    "                   interrupt; store=0-500, how late a delayed avail.idx store lands\n"
    "                   (kick-before-publish); batch=1-16, TX chains per device run;\n"
    "                   memory=2000, how late a store may become visible under --memory\n"
    "  --memory MODEL   guest memory's ordering: sc (default: every store visible at\n"
    "                   once), tso (store buffers, as x86), weak (stores and loads\n"
    "                   reordered, as Arm or RISC-V, except across barriers); the\n"
    "                   missing-barrier bugs show only under tso or weak\n"
    "  --ring FORMAT    both queues' ring format: split (default, virtio 1.2 §2.7) or\n"
    "                   packed (§2.8, VIRTIO_F_RING_PACKED; without the split ring's own\n"
    "                   bugs; the packed ring's own need it)\n"
    "  --mtu N          the device offers VIRTIO_NET_F_MTU with mtu N (68..9000) and the\n"
    "                   guest uses it: frames up to N + 14 bytes pass (default: not\n"
    "                   offered, frames up to 1514)\n"
    "  --mergeable      mergeable RX buffers (VIRTIO_NET_F_MRG_RXBUF, virtio 1.2 §5.1.6.4):\n"
    "                   a frame spreads over as many RX buffers as it needs; the\n"
    "                   mergeable-buffer bugs need it\n"
    "  --rx-buf-size N  bytes per RX buffer the driver posts, 12-byte header included\n"
    "                   (13..65536; default: one frame of the mtu, 1526 with --mergeable)\n"
    "  --max-conns N    TCP connections the guest keeps at once, TIME-WAIT included\n"
    "                   (1..65536, default 1024); a full table ends the oldest\n"
    "                   TIME-WAIT for a new one, else the SYN is socket_full\n"
    "  --fault LIST     faults on the host<->device link, each seeded: drop=P, corrupt=P,\n"
    "                   dup=P, delay=P (delay_us=N[,delay_max_us=N]), reorder=P\n"
    "                   (reorder_gap=N), rate=BYTES_PER_S (burst=N), mtu=N, dir=send|recv|both\n"
    "                   (P a probability 0..1); every faulted frame's fate names the fault\n"
    "  --trace FILE     write every ring and notification event as JSON lines ('-':\n"
    "                   standard output, with the report on standard error)\n"
    "  --json           print the summary as one JSON object\n";

int cli_error(const char *cmd, int code, const char *fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (msg) vsnprintf(msg, (size_t)n + 1, fmt, again);
  va_end(again);
  va_end(ap);
  fprintf(stderr, "vnetsim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  /* The message quotes what it was given (a file name may hold a newline):
   * a control byte is written as \xHH, so the error stays one line. */
  for (const unsigned char *p = (const unsigned char *)(msg ? msg : fmt); *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      fprintf(stderr, "\\x%02x", *p);
    else
      fputc(*p, stderr);
  fputc('\n', stderr);
  free(msg);
  return code;
}

/* Decimal digits only: no sign, no space, no 0x or octal 0 prefix, so that
 * "--seed 010" is ten and "--seed ' -1'" an error. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || !*s) return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1; /* would overflow */
    v = v * 10 + d;
  }
  if (v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* One field of 1..max_len characters from digits, ending at stop or at the
 * string's end; advances *p past it (and past stop). */
static int cli_parse_field(const char **p, char stop, int base, size_t max_len, unsigned *out) {
  unsigned v = 0;
  size_t n = 0;
  for (; **p && **p != stop; (*p)++, n++) {
    char c = **p;
    int d = c >= '0' && c <= '9'                 ? c - '0'
            : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
            : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
    if (d < 0 || n == max_len) return -1;
    v = v * (unsigned)base + (unsigned)d;
  }
  if (n == 0) return -1;
  if (**p == stop && stop) (*p)++;
  *out = v;
  return 0;
}

/* A.B.C.D, each part 0..255 in decimal. */
static int cli_parse_ipv4(const char *s, uint32_t *ip) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned part;
    if (cli_parse_field(&s, i < 3 ? '.' : '\0', 10, 3, &part) || part > 255) return -1;
    v = v << 8 | part;
  }
  if (*s) return -1;
  *ip = v;
  return 0;
}

/* Six colon-separated pairs of hex digits, a unicast address. */
static int cli_parse_mac(const char *s, uint8_t mac[6]) {
  for (int i = 0; i < 6; i++) {
    unsigned b;
    if (cli_parse_field(&s, i < 5 ? ':' : '\0', 16, 2, &b)) return -1;
    mac[i] = (uint8_t)b;
  }
  if (*s) return -1;
  return (mac[0] & 1) ? -1 : 0; /* a group address cannot be an interface's */
}

/* Why ip cannot be the guest's own unicast address on slirp's /24 network
 * (the host is .2, its DNS .3), or NULL when it can. */
static const char *cli_guest_ip_problem(uint32_t ip) {
  uint32_t first = ip >> 24, last = ip & 0xffu;
  if (first == 0 || first == 127) return "not an address a guest can have (0/8 or loopback)";
  if (first >= 224) return "a multicast or reserved address, not a host's";
  if (last == 0 || last == 255) return "the network or broadcast address of the guest's /24";
  return NULL;
}

int cli_write_sim_args(FILE *out, const cli_sim_opts *o) {
  const vns_sim_opts *so = &o->sim;
  char bugs[512] = "";
  if ((so->driver_bugs || so->device_bugs) &&
      vns_bug_names(so->driver_bugs, so->device_bugs, bugs, sizeof bugs) < 0)
    return -1;
  const uint8_t *m = so->guest_mac;
  uint32_t ip = so->guest_ip;
  int bad = fprintf(out, "--seed=%" PRIu64 "\n--qsize=%u\n--backlog=%u\n", so->seed, so->queue_size,
                    so->rx_backlog) < 0;
  bad |=
      fprintf(out, "--guest-ip=%u.%u.%u.%u\n--guest-mac=%02x:%02x:%02x:%02x:%02x:%02x\n", ip >> 24,
              (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, m[0], m[1], m[2], m[3], m[4], m[5]) < 0;
  bad |=
      fprintf(out,
              "--latency=kick=%" PRIu64 "-%" PRIu64 ",irq=%" PRIu64 "-%" PRIu64 ",link=%" PRIu64
              "-%" PRIu64 ",rearm=%" PRIu64 "-%" PRIu64 ",store=%" PRIu64 "-%" PRIu64
              ",batch=%u-%u,memory=%" PRIu64 "\n",
              so->kick_latency.min_ns, so->kick_latency.max_ns, so->irq_latency.min_ns,
              so->irq_latency.max_ns, so->link_latency.min_ns, so->link_latency.max_ns,
              so->rearm_delay.min_ns, so->rearm_delay.max_ns, so->store_delay.min_ns,
              so->store_delay.max_ns, so->tx_batch_min, so->tx_batch_max, so->memory_delay_ns) < 0;
  bad |= fprintf(out, "--memory=%s\n--ring=%s\n--guest-poll-ms=%" PRIu64 "\n",
                 cli_memory_name(so->memory), so->ring == VNS_RING_PACKED ? "packed" : "split",
                 so->guest_poll_ns / 1000000u) < 0;
  if (bugs[0]) bad |= fprintf(out, "--bug=%s\n", bugs) < 0;
  if (so->mtu) bad |= fprintf(out, "--mtu=%u\n", so->mtu) < 0;
  if (so->mergeable) bad |= fprintf(out, "--mergeable\n") < 0;
  if (so->rx_buf_size) bad |= fprintf(out, "--rx-buf-size=%u\n", so->rx_buf_size) < 0;
  if (so->guest_max_conns) bad |= fprintf(out, "--max-conns=%u\n", so->guest_max_conns) < 0;
  if (so->faults) bad |= fprintf(out, "--fault=%s\n", so->faults) < 0;
  static const uint8_t none6[16] = {0};
  char ip6[INET6_ADDRSTRLEN];
  if (memcmp(so->guest_ip6, none6, sizeof none6) != 0 &&
      inet_ntop(AF_INET6, so->guest_ip6, ip6, sizeof ip6))
    bad |= fprintf(out, "--guest-ip6=%s\n", ip6) < 0;
  return bad ? -1 : 0;
}

int cli_parse_guest_ip(const char *cmd, const char *opt, const char *arg, uint32_t *ip) {
  const char *why = NULL;
  if (cli_parse_ipv4(arg, ip))
    return cli_error(cmd, CLI_EXIT_USAGE, "%s: '%s' is not an IPv4 address", opt, arg);
  if ((why = cli_guest_ip_problem(*ip)))
    return cli_error(cmd, CLI_EXIT_USAGE, "%s: %s is %s", opt, arg, why);
  return 0;
}

const char *cli_ring_note(const vns_sim_opts *o) {
  static char note[128];
  int n = snprintf(note, sizeof note, "%s", o->ring == VNS_RING_PACKED ? ", packed ring" : "");
  if (o->mtu) n += snprintf(note + n, sizeof note - (size_t)n, ", mtu %u", o->mtu);
  if (o->mergeable)
    n += snprintf(note + n, sizeof note - (size_t)n, ", mergeable RX buffers of %u bytes",
                  o->rx_buf_size ? o->rx_buf_size : VNS_NET_MIN_RX_BUF);
  else if (o->rx_buf_size)
    snprintf(note + n, sizeof note - (size_t)n, ", RX buffers of %u bytes", o->rx_buf_size);
  return note;
}

const char *cli_memory_name(int memory) {
  static const char *const names[] = {"sc", "tso", "weak"};
  return memory >= VNS_MEMORY_SC && memory <= VNS_MEMORY_WEAK ? names[memory] : "?";
}

/* A missing-barrier bug asked for under a model too strong to show it is
 * not an error (the run is still a valid comparison), but worth a word. */
static void cli_note_hidden_bugs(const cli_sim_opts *o) {
  const vns_sim_opts *so = &o->sim;
  vns_bug_info b;
  for (size_t i = 0; vns_bug_describe(i, &b) == 0; i++) {
    unsigned set = strcmp(b.side, "driver") ? so->device_bugs : so->driver_bugs;
    if (!(set & b.bit) || !b.memory) continue;
    int needs = strcmp(b.memory, "weak") ? VNS_MEMORY_TSO : VNS_MEMORY_WEAK;
    if (so->memory < needs)
      fprintf(stderr, "vnetsim %s: note: %s shows only under --memory %s%s\n", o->cmd, b.name,
              b.memory, needs == VNS_MEMORY_TSO ? " or weak" : "");
  }
}

int cli_sim_opts_done(const cli_sim_opts *o) {
  const vns_sim_opts *so = &o->sim;
  uint32_t host = so->host_ip ? so->host_ip : (so->guest_ip & 0xffffff00u) | 2u;
  if (so->guest_ip == host)
    return cli_error(o->cmd, CLI_EXIT_USAGE,
                     "--guest-ip: %u.%u.%u.%u is the host's own address (%s)", so->guest_ip >> 24,
                     (so->guest_ip >> 16) & 255, (so->guest_ip >> 8) & 255, so->guest_ip & 255,
                     so->host_ip ? "the TAP network's .1" : "slirp's gateway is .2 of the /24");
  if (!so->host_ip && (so->guest_ip & 0xffu) == 3)
    return cli_error(o->cmd, CLI_EXIT_USAGE,
                     "--guest-ip: .3 of the guest's /24 is the host's DNS address (slirp's)");
  /* every combination the library refuses, refused here, before any output
   * is opened, with the library's reason */
  scn_config cfg;
  char why[256];
  if (vns_scn_config_why(so, &cfg, why, sizeof why))
    return cli_error(o->cmd, CLI_EXIT_USAGE, "%s", why);
  /* only for options that stand: beside an error it is noise */
  cli_note_hidden_bugs(o);
  return 0;
}

/* "name=MIN-MAX" or "name=N", comma-separated, into the run's latencies. */
static int cli_parse_latency(const char *list, vns_sim_opts *o) {
  static const uint64_t max_ns = 1000000000000ull;
  char buf[256];
  size_t n = strlen(list);
  if (n >= sizeof buf) return -1;
  /* strtok_r would skip an empty item: a stray comma is a mistake, as in
   * --fault (an empty list changes nothing) */
  if (n && (list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"))) return -1;
  strcpy(buf, list);
  for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) return -1;
    *eq = '\0';
    char *range = eq + 1, *dash = strchr(range, '-');
    uint64_t lo, hi;
    if (dash) *dash = '\0';
    if (cli_parse_uint(range, 0, max_ns, &lo)) return -1;
    if (dash ? cli_parse_uint(dash + 1, lo, max_ns, &hi) : 0) return -1;
    if (!dash) hi = lo;
    vns_latency lat = {lo, hi};
    if (!strcmp(item, "kick"))
      o->kick_latency = lat;
    else if (!strcmp(item, "irq"))
      o->irq_latency = lat;
    else if (!strcmp(item, "link"))
      o->link_latency = lat;
    else if (!strcmp(item, "rearm"))
      o->rearm_delay = lat;
    else if (!strcmp(item, "store"))
      o->store_delay = lat;
    else if (!strcmp(item, "memory") && lo == (dash ? 0 : hi))
      o->memory_delay_ns = hi; /* "memory=N" or "memory=0-N": stores land 0..N ns late */
    else if (!strcmp(item, "batch") && lo >= 1 && hi <= UINT32_MAX) {
      o->tx_batch_min = (uint32_t)lo;
      o->tx_batch_max = (uint32_t)hi;
    } else
      return -1;
  }
  return 0;
}

void cli_sim_opts_default(cli_sim_opts *o, const char *cmd) {
  memset(o, 0, sizeof *o);
  o->cmd = cmd;
  vns_sim_opts_init(&o->sim);
  /* the command reads each event once, through its trace file */
  o->sim.keep_trace = 0;
}

int cli_scn_config(const cli_sim_opts *o, scn_config *cfg) {
  char why[256];
  int rc = vns_scn_config_why(&o->sim, cfg, why, sizeof why);
  if (rc) return cli_error(o->cmd, CLI_EXIT_USAGE, "bad options: %s", why);
  return 0;
}

/* The largest queue virtio allows (§2.7: Queue Size is at most 32768). */
#define CLI_QSIZE_MAX 32768u

static int cli_opt_number(cli_sim_opts *o, int opt, const char *arg) {
  uint64_t v;
  vns_sim_opts *so = &o->sim;
  switch (opt) {
    case CLI_OPT_SEED:
      if (cli_parse_uint(arg, 0, UINT64_MAX, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--seed: '%s' is not an unsigned 64-bit number",
                         arg);
      so->seed = v;
      return 0;
    case CLI_OPT_QSIZE:
      if (cli_parse_uint(arg, 2, CLI_QSIZE_MAX, &v) || (v & (v - 1)))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--qsize: '%s' is not a power of two from 2 to 32768 (virtio 1.2 §2.7)",
                         arg);
      so->queue_size = (uint16_t)v;
      return 0;
    case CLI_OPT_GUEST_POLL:
      if (cli_parse_uint(arg, 0, 3600000, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--guest-poll-ms: '%s' is not a number from 0 to 3600000", arg);
      so->guest_poll_ns = v * 1000000u;
      return 0;
    case CLI_OPT_MTU:
      if (cli_parse_uint(arg, 68, 9000, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--mtu: '%s' is not a number from 68 to 9000 (virtio 1.2 §5.1.4.1)", arg);
      so->mtu = (uint16_t)v;
      return 0;
    case CLI_OPT_MAX_CONNS:
      if (cli_parse_uint(arg, 1, 65536, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--max-conns: '%s' is not a number from 1 to 65536", arg);
      so->guest_max_conns = (uint32_t)v;
      return 0;
    case CLI_OPT_RX_BUF_SIZE:
      if (cli_parse_uint(arg, 13, 65536, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--rx-buf-size: '%s' is not a number from 13 to 65536 (the 12-byte "
                         "header and at least one byte)",
                         arg);
      so->rx_buf_size = (uint32_t)v;
      return 0;
    default: /* CLI_OPT_BACKLOG */
      if (cli_parse_uint(arg, 0, 65536, &v))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--backlog: '%s' is not a number from 0 to 65536",
                         arg);
      so->rx_backlog = (uint32_t)v;
      return 0;
  }
}

static int cli_opt_list(cli_sim_opts *o, int opt, const char *arg) {
  vns_sim_opts *so = &o->sim;
  char why[160];
  switch (opt) {
    case CLI_OPT_BUG:
      so->driver_bugs = so->device_bugs = 0;
      if (vns_bug_parse(arg, &so->driver_bugs, &so->device_bugs))
        return cli_error(
            o->cmd, CLI_EXIT_USAGE,
            "--bug: '%s' names a bug vnetsim does not know ('vnetsim bugs' lists them)", arg);
      return 0;
    case CLI_OPT_FAULT:
      if (vns_faults_check(arg, why, sizeof why))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--fault: %s", why);
      so->faults = arg;
      return 0;
    case CLI_OPT_MEMORY:
      for (int m = VNS_MEMORY_SC; m <= VNS_MEMORY_WEAK; m++)
        if (!strcmp(arg, cli_memory_name(m))) {
          so->memory = m;
          return 0;
        }
      return cli_error(o->cmd, CLI_EXIT_USAGE, "--memory: '%s' is not sc, tso or weak", arg);
    case CLI_OPT_RING:
      if (strcmp(arg, "split") && strcmp(arg, "packed"))
        return cli_error(o->cmd, CLI_EXIT_USAGE, "--ring: '%s' is not split or packed", arg);
      so->ring = strcmp(arg, "packed") ? VNS_RING_SPLIT : VNS_RING_PACKED;
      return 0;
    default: /* CLI_OPT_LATENCY */
      if (cli_parse_latency(arg, so))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--latency: '%s' is not a list like kick=200-800,irq=1000,link=5000-20000,"
                         "batch=1-16,memory=2000",
                         arg);
      return 0;
  }
}

int cli_sim_opt(cli_sim_opts *o, int opt, const char *arg, const char *given) {
  switch (opt) {
    case CLI_OPT_SEED:
    case CLI_OPT_QSIZE:
    case CLI_OPT_GUEST_POLL:
    case CLI_OPT_BACKLOG:
    case CLI_OPT_MTU:
    case CLI_OPT_RX_BUF_SIZE:
    case CLI_OPT_MAX_CONNS:
      return cli_opt_number(o, opt, arg);
    case CLI_OPT_MERGEABLE:
      o->sim.mergeable = 1;
      return 0;
    case CLI_OPT_BUG:
    case CLI_OPT_FAULT:
    case CLI_OPT_LATENCY:
    case CLI_OPT_MEMORY:
    case CLI_OPT_RING:
      return cli_opt_list(o, opt, arg);
    case CLI_OPT_TRACE:
      o->trace_path = arg;
      return 0;
    case CLI_OPT_JSON:
      o->json = 1;
      return 0;
    case CLI_OPT_GUEST_IP: {
      int rc = cli_parse_guest_ip(o->cmd, "--guest-ip", arg, &o->sim.guest_ip);
      o->guest_ip_given = rc == 0;
      return rc;
    }
    case CLI_OPT_GUEST_IP6:
      if (inet_pton(AF_INET6, arg, o->sim.guest_ip6) != 1 || o->sim.guest_ip6[0] == 0xff ||
          (o->sim.guest_ip6[0] == 0xfe && (o->sim.guest_ip6[1] & 0xc0) == 0x80) ||
          IN6_IS_ADDR_LOOPBACK((struct in6_addr *)o->sim.guest_ip6) ||
          IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)o->sim.guest_ip6))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--guest-ip6: '%s' is not a global unicast IPv6 address like "
                         "2001:db8::15",
                         arg);
      return 0;
    case CLI_OPT_GUEST_MAC:
      if (cli_parse_mac(arg, o->sim.guest_mac))
        return cli_error(o->cmd, CLI_EXIT_USAGE,
                         "--guest-mac: '%s' is not a unicast MAC like 52:54:00:12:34:56", arg);
      o->guest_mac_given = 1;
      return 0;
    default: /* '?' included: unknown, or missing its value */
      return cli_error(o->cmd, CLI_EXIT_USAGE, "unknown or incomplete option '%s' (see --help)",
                       given);
  }
}

/* --- the trace file --------------------------------------------------------- */

static void cli_trace_line(void *ctx, const vns_trace_event *ev) {
  cli_trace *t = ctx;
  char line[512];
  int n = vns_trace_format(ev, line, sizeof line);
  if (n < 0 || fprintf(t->f, "%s\n", line) < 0) t->io_error = 1;
}

static int cli_trace_open(const cli_sim_opts *o, cli_trace *t) {
  memset(t, 0, sizeof *t);
  if (!o->trace_path) return 0;
  char err[512];
  if (host_outfile_open(&t->out, o->trace_path, err, sizeof err))
    return cli_error(o->cmd, CLI_EXIT_USAGE, "--trace: %s", err);
  t->f = t->out.f;
  return 0;
}

int cli_open_trace(cli_sim_opts *o, cli_trace *t) {
  int rc = cli_trace_open(o, t);
  if (rc || !t->f) return rc;
  o->sim.trace_fn = cli_trace_line;
  o->sim.trace_ctx = t;
  return 0;
}

int cli_open_trace_scn(cli_sim_opts *o, scn_config *cfg, cli_trace *t) {
  int rc = cli_trace_open(o, t);
  if (!rc) cfg->trace_sink = t->f;
  return rc;
}

int cli_close_trace(const char *cmd, cli_trace *t, int sink_error) {
  if (!t->f) return 0;
  t->f = NULL;
  if (t->io_error || sink_error) {
    host_outfile_abort(&t->out);
  } else if (host_outfile_commit(&t->out) == 0) {
    return 0;
  }
  return cli_error(cmd, CLI_EXIT_FAIL, "--trace: writing '%s' failed", t->out.path);
}

void cli_abort_trace(cli_trace *t) {
  if (t->f) host_outfile_abort(&t->out);
  t->f = NULL;
}

int cli_check_distinct(const char *cmd, const char *const *paths, const char *const *names,
                       size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (paths[i] && paths[j] && host_same_file(paths[i], paths[j]))
        return cli_error(cmd, CLI_EXIT_USAGE, "%s and %s name the same file '%s'", names[i],
                         names[j], paths[j]);
  return 0;
}

int cli_sim_new(const cli_sim_opts *o, vns_sim **sim) {
  vns_sim_failure why;
  int rc = vns_sim_new_why(&o->sim, sim, &why);
  if (rc) return cli_error(o->cmd, CLI_EXIT_FAIL, "cannot build the simulation: %s", why.message);
  return 0;
}

uint64_t cli_counter(const vns_sim *sim, const char *name) {
  uint64_t v = 0;
  return vns_sim_counter(sim, name, &v) == 0 ? v : 0;
}

/* --- the summary ------------------------------------------------------------ */

/* The two fate ledgers, host->guest and guest->host, read alike. */
typedef struct cli_ledger {
  const char *dir;     /* "host->guest" */
  unsigned fates;      /* VNS_FATE_TO_GUEST or VNS_FATE_TO_HOST */
  const char *doubles; /* its counter of frames with two fates */
  size_t (*frames)(const vns_sim *sim);
  int (*count)(const vns_sim *sim, const char *fate, uint64_t *out);
} cli_ledger;

static const cli_ledger cli_ledgers[] = {
    {"host->guest", VNS_FATE_TO_GUEST, "fates.double", vns_sim_frame_count, vns_sim_fate_count},
    {"guest->host", VNS_FATE_TO_HOST, "fates.tx_double", vns_sim_tx_frame_count,
     vns_sim_tx_fate_count},
};

static uint64_t cli_ledger_count(const cli_ledger *l, const vns_sim *sim, const char *fate) {
  uint64_t n = 0;
  return l->count(sim, fate, &n) == 0 ? n : 0;
}

static uint64_t cli_fate_count(const vns_sim *sim, const char *fate) {
  return cli_ledger_count(&cli_ledgers[0], sim, fate);
}

/* Every frame in the ledger has exactly one fate: none without, none with
 * two; and every frame queued at the host left it. */
static int cli_ledger_accounted(const cli_ledger *l, const vns_sim *sim) {
  uint64_t total = 0;
  for (size_t i = 0; vns_fate_name(i); i++) total += cli_ledger_count(l, sim, vns_fate_name(i));
  return total == l->frames(sim) && cli_counter(sim, l->doubles) == 0 &&
         cli_ledger_count(l, sim, "pending") == 0 &&
         (l->fates != VNS_FATE_TO_GUEST || cli_counter(sim, "host.frames_unsent") == 0);
}

static int cli_all_accounted(const vns_sim *sim) {
  return cli_ledger_accounted(&cli_ledgers[0], sim) && cli_ledger_accounted(&cli_ledgers[1], sim);
}

int cli_check_accounted(const char *cmd, const vns_sim *sim) {
  if (cli_all_accounted(sim)) return 0;
  const cli_ledger *tx = &cli_ledgers[1];
  return cli_error(cmd, CLI_EXIT_FAIL,
                   "the fate ledgers do not add up: host->guest %" PRIu64
                   " frames still pending, %" PRIu64 " never left the host, %" PRIu64
                   " with two fates; guest->host %" PRIu64 " still pending, %" PRIu64
                   " with two fates",
                   cli_fate_count(sim, "pending"), cli_counter(sim, "host.frames_unsent"),
                   cli_counter(sim, "fates.double"), cli_ledger_count(tx, sim, "pending"),
                   cli_counter(sim, tx->doubles));
}

static void cli_print_ledger(FILE *out, const vns_sim *sim, const cli_ledger *l) {
  fprintf(out, "fates of %zu frames %s (all accounted: %s):\n", l->frames(sim), l->dir,
          cli_ledger_accounted(l, sim) ? "yes" : "NO");
  for (size_t i = 0; vns_fate_name(i); i++) {
    uint64_t n = cli_ledger_count(l, sim, vns_fate_name(i));
    if (n) fprintf(out, "  %-20s %" PRIu64 "\n", vns_fate_name(i), n);
  }
}

/* "fates":{...} with every fate the ledger can hold, 0s included. */
static void cli_print_ledger_json(FILE *out, const vns_sim *sim, const cli_ledger *l) {
  const char *sep = "";
  for (size_t i = 1; vns_fate_name(i); i++) {
    if (!(vns_fate_directions(i) & l->fates)) continue;
    fprintf(out, "%s\"%s\":%" PRIu64, sep, vns_fate_name(i),
            cli_ledger_count(l, sim, vns_fate_name(i)));
    sep = ",";
  }
}

void cli_print_fate_counts(FILE *out, const vns_sim *sim) {
  for (size_t i = 1; vns_fate_name(i); i++) {
    uint64_t n = cli_fate_count(sim, vns_fate_name(i));
    if (n) fprintf(out, " %s %" PRIu64, vns_fate_name(i), n);
  }
}

static void cli_print_device_line(FILE *out, const vns_sim *sim) {
  const char *reset = vns_sim_needs_reset(sim);
  fprintf(out,
          "device: rx %" PRIu64 " frames (%" PRIu64 " via backlog), tx %" PRIu64
          " frames, bad tx chains %" PRIu64 ", kicks rx %" PRIu64 " tx %" PRIu64
          ", interrupts %" PRIu64 " (%" PRIu64 " suppressed)%s%s\n",
          cli_counter(sim, "device.rx_frames"), cli_counter(sim, "device.rx_backlogged"),
          cli_counter(sim, "device.tx_frames"), cli_counter(sim, "device.tx_bad_chains"),
          cli_counter(sim, "device.kicks_rx"), cli_counter(sim, "device.kicks_tx"),
          cli_counter(sim, "device.interrupts"), cli_counter(sim, "device.interrupts_suppressed"),
          reset ? ", NEEDS RESET: " : "", reset ? reset : "");
}

static void cli_print_driver_line(FILE *out, const vns_sim *sim, const char *bugs) {
  fprintf(out,
          "driver (bugs: %s): rx %" PRIu64 " frames, buffers reposted %" PRIu64 ", tx %" PRIu64
          " frames, tx ring full %" PRIu64 ", kicks sent rx %" PRIu64 " tx %" PRIu64
          " (suppressed %" PRIu64 "), interrupts %" PRIu64 " (spurious %" PRIu64 ")\n",
          bugs, cli_counter(sim, "driver.rx_frames"), cli_counter(sim, "driver.rx_reposted"),
          cli_counter(sim, "driver.tx_frames"), cli_counter(sim, "driver.tx_ring_full"),
          cli_counter(sim, "driver.kicks_rx"), cli_counter(sim, "driver.kicks_tx"),
          cli_counter(sim, "driver.kicks_suppressed_rx") +
              cli_counter(sim, "driver.kicks_suppressed_tx"),
          cli_counter(sim, "driver.interrupts"), cli_counter(sim, "driver.interrupts_spurious"));
}

/* A fault injector counts the frames it saw; none saw any when no fault was
 * asked for. */
static void cli_print_link_line(FILE *out, const vns_sim *sim) {
  uint64_t to_guest = cli_counter(sim, "link.frames_to_guest");
  uint64_t to_host = cli_counter(sim, "link.frames_to_host");
  if (!to_guest && !to_host) return;
  fprintf(out, "link faults:");
  for (size_t i = 0; vns_counter_name(i); i++) {
    const char *name = vns_counter_name(i);
    uint64_t n = cli_counter(sim, name);
    if (!strncmp(name, "link.fault_", 11) && n) fprintf(out, " %s %" PRIu64, name + 5, n);
  }
  fprintf(out, " (frames to guest %" PRIu64 ", to host %" PRIu64 ")\n", to_guest, to_host);
}

static uint16_t cli_ring_idx(const vns_sim *sim, uint16_t q, int used) {
  vns_ring_state r;
  if (vns_sim_ring(sim, q, &r)) return 0;
  return used ? r.used_idx : r.avail_idx;
}

/* A packed ring's cursor as position/wrap counter ("-": a half of yours). */
static const char *cli_cursor(int32_t off_wrap, char *buf, size_t cap) {
  if (off_wrap < 0) return "-";
  snprintf(buf, cap, "%u/%u", (unsigned)off_wrap & 0x7fffu, (unsigned)off_wrap >> 15);
  return buf;
}

/* The rings: split, the indices in memory; packed, where each side's
 * cursors stand (no index is stored in a packed ring). */
static void cli_print_rings_line(FILE *out, const vns_sim *sim, const vns_sim_opts *o) {
  vns_ring_state r[2];
  int packed = vns_sim_ring(sim, VNS_QUEUE_RX, &r[0]) == 0 && r[0].packed &&
               vns_sim_ring(sim, VNS_QUEUE_TX, &r[1]) == 0;
  double ms = (double)(vns_sim_now(sim) - o->start_ns) / 1e6;
  if (!packed) {
    fprintf(out, "rings: rx avail %u used %u, tx avail %u used %u; virtual time %.6f ms\n",
            cli_ring_idx(sim, VNS_QUEUE_RX, 0), cli_ring_idx(sim, VNS_QUEUE_RX, 1),
            cli_ring_idx(sim, VNS_QUEUE_TX, 0), cli_ring_idx(sim, VNS_QUEUE_TX, 1), ms);
    return;
  }
  fprintf(out, "rings (packed, position/wrap):");
  for (int q = 0; q < 2; q++) {
    char a[16], b[16], c[16], d[16];
    fprintf(out, "%s %s driver avail %s used %s, device avail %s used %s", q ? ";" : "",
            q ? "tx" : "rx", cli_cursor(r[q].driver_next_avail, a, sizeof a),
            cli_cursor(r[q].driver_last_used, b, sizeof b),
            cli_cursor(r[q].device_last_avail, c, sizeof c),
            cli_cursor(r[q].device_next_used, d, sizeof d));
  }
  fprintf(out, "; virtual time %.6f ms\n", ms);
}

/* Under sc nothing: the line would only say that every store was visible
 * at once. */
static void cli_print_memory_line(FILE *out, const vns_sim *sim, const vns_sim_opts *o) {
  if (o->memory == VNS_MEMORY_SC) return;
  fprintf(
      out,
      "memory: %s, stores visible 0..%" PRIu64 " ns late: %" PRIu64 " buffered (at most %" PRIu64
      " at once), %" PRIu64 " loads answered from the side's own buffer, %" PRIu64
      " loads satisfied early; barriers wmb %" PRIu64 ", rmb %" PRIu64 ", mb %" PRIu64 "\n",
      cli_memory_name(o->memory), o->memory_delay_ns, cli_counter(sim, "memory.stores_buffered"),
      cli_counter(sim, "memory.max_pending"), cli_counter(sim, "memory.loads_forwarded"),
      cli_counter(sim, "memory.loads_early"), cli_counter(sim, "memory.barriers_wmb"),
      cli_counter(sim, "memory.barriers_rmb"), cli_counter(sim, "memory.barriers_mb"));
}

void cli_print_summary(FILE *out, const vns_sim *sim, const vns_sim_opts *o) {
  char bugs[512];
  if (vns_bug_names(o->driver_bugs, o->device_bugs, bugs, sizeof bugs) < 0) strcpy(bugs, "?");
  cli_print_ledger(out, sim, &cli_ledgers[0]);
  cli_print_ledger(out, sim, &cli_ledgers[1]);
  cli_print_device_line(out, sim);
  cli_print_driver_line(out, sim, bugs);
  cli_print_rings_line(out, sim, o);
  cli_print_link_line(out, sim);
  cli_print_memory_line(out, sim, o);
  if (o->mergeable)
    fprintf(out,
            "mergeable RX buffers: %" PRIu64 " frames spread over more than one (device), %" PRIu64
            " joined (driver)\n",
            cli_counter(sim, "device.rx_merged"), cli_counter(sim, "driver.rx_merged"));
  uint64_t viol = cli_counter(sim, "violations");
  if (viol)
    fprintf(out, "conformance: %" PRIu64 " virtio rule violations (replay --check lists them)\n",
            viol);
  fprintf(out, "trace: %" PRIu64 " events, hash %016" PRIx64 " (seed %" PRIu64 ")\n",
          cli_counter(sim, "trace.events"), vns_sim_trace_hash(sim), o->seed);
}

static void cli_print_counters_json(FILE *out, const vns_sim *sim, const char *const *names,
                                    const char *prefix) {
  for (size_t i = 0; names[i]; i++) {
    char full[64];
    snprintf(full, sizeof full, "%s.%s", prefix, names[i]);
    fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", names[i], cli_counter(sim, full));
  }
}

void cli_print_summary_json(FILE *out, const vns_sim *sim, const vns_sim_opts *o) {
  static const char *const device[] = {
      "rx_frames",  "rx_backlogged",         "tx_frames", "tx_bad_chains", "kicks_rx", "kicks_tx",
      "interrupts", "interrupts_suppressed", NULL};
  static const char *const driver[] = {"rx_frames", "rx_reposted",  "rx_bad_used",
                                       "tx_frames", "tx_ring_full", "kicks_rx",
                                       "kicks_tx",  "interrupts",   NULL};
  char bugs[512];
  if (vns_bug_names(o->driver_bugs, o->device_bugs, bugs, sizeof bugs) < 0) strcpy(bugs, "?");
  const char *reset = vns_sim_needs_reset(sim);
  fprintf(out, "\"frames_in\":%zu,\"fates_accounted\":%s,\"fates\":{", vns_sim_frame_count(sim),
          cli_ledger_accounted(&cli_ledgers[0], sim) ? "true" : "false");
  cli_print_ledger_json(out, sim, &cli_ledgers[0]);
  fprintf(out,
          "},\"frames_out\":%" PRIu64
          ",\"tx_frames\":%zu,\"tx_fates_accounted\":%s,"
          "\"tx_fates\":{",
          cli_counter(sim, "host.frames_received"), vns_sim_tx_frame_count(sim),
          cli_ledger_accounted(&cli_ledgers[1], sim) ? "true" : "false");
  cli_print_ledger_json(out, sim, &cli_ledgers[1]);
  fprintf(out, "},\"device\":{");
  cli_print_counters_json(out, sim, device, "device");
  fprintf(out, ",\"needs_reset\":\"%s\"},\"driver\":{\"bugs\":\"%s\",", reset ? reset : "", bugs);
  cli_print_counters_json(out, sim, driver, "driver");
  fprintf(out, "},\"violations\":%" PRIu64, cli_counter(sim, "violations"));
  if (o->memory != VNS_MEMORY_SC) {
    static const char *const memory[] = {
        "stores_buffered", "max_pending",  "loads_forwarded", "loads_early",
        "barriers_wmb",    "barriers_rmb", "barriers_mb",     NULL};
    fprintf(out, ",\"memory\":{\"model\":\"%s\",\"delay_max_ns\":%" PRIu64 ",",
            cli_memory_name(o->memory), o->memory_delay_ns);
    cli_print_counters_json(out, sim, memory, "memory");
    fputc('}', out);
  }
  if (o->mtu || o->mergeable || o->rx_buf_size) {
    static const char *const merged[] = {"rx_merged", NULL};
    fprintf(out, ",\"rx_buffers\":{\"mtu\":%u,\"mergeable\":%s,\"rx_buf_size\":%u,\"device\":{",
            o->mtu, o->mergeable ? "true" : "false", o->rx_buf_size);
    cli_print_counters_json(out, sim, merged, "device");
    fprintf(out, "},\"driver\":{");
    cli_print_counters_json(out, sim, merged, "driver");
    fprintf(out, "}}");
  }
  fprintf(out,
          ",\"virtual_ns\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"trace_events\":%" PRIu64
          ",\"trace_hash\":\"%016" PRIx64 "\"",
          vns_sim_now(sim) - o->start_ns, o->seed, cli_counter(sim, "trace.events"),
          vns_sim_trace_hash(sim));
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t cli_utf8_len(const unsigned char *p) {
  size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
  if (n == 0 || p[0] > 0xf4) return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
  if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
  return n;
}

/* JSON text must be Unicode: a byte that is not part of well-formed UTF-8
 * (a file name in another encoding) is written as the code point of the
 * same number, \u00XX, so the output stays valid and the byte recoverable. */
void cli_print_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    size_t n;
    if (*p == '"' || *p == '\\') {
      fprintf(out, "\\%c", *p);
    } else if (*p < 0x20) {
      fprintf(out, "\\u%04x", *p);
    } else if (*p < 0x80) {
      fputc(*p, out);
    } else if ((n = cli_utf8_len(p)) != 0) {
      fwrite(p, 1, n, out);
      p += n - 1;
    } else {
      fprintf(out, "\\u%04x", *p);
    }
  }
  fputc('"', out);
}

/* --- the conformance report ------------------------------------------------- */

/* A long run's listing stops here, so the report stays readable; the total
 * is still given. */
#define CLI_VIOLATIONS_LISTED 256

void cli_print_violations(FILE *out, const vns_sim *sim, const vns_sim_opts *o) {
  size_t total = vns_sim_violation_count(sim);
  if (total == 0) {
    fprintf(out, "conformance: no violations\n");
    return;
  }
  fprintf(out, "conformance: %zu violation%s\n", total, total == 1 ? "" : "s");
  for (size_t i = 0; i < total && i < CLI_VIOLATIONS_LISTED; i++) {
    vns_violation v;
    if (vns_sim_violation(sim, i, &v)) break;
    uint64_t t = v.t_ns - o->start_ns;
    fprintf(out, "  +%" PRIu64 ".%06" PRIu64 " ms  %s saw, on %s: %s (virtio 1.2 §%s): %s",
            t / 1000000, t % 1000000, v.actor, v.queue ? v.queue : "the device", v.rule, v.section,
            v.text);
    if (v.head >= 0) fprintf(out, " [head %" PRId64 "]", v.head);
    fputc('\n', out);
  }
  if (total > CLI_VIOLATIONS_LISTED)
    fprintf(out, "  ... and %zu more, not listed\n", total - CLI_VIOLATIONS_LISTED);
}

void cli_print_violations_json(FILE *out, const vns_sim *sim) {
  fputc('[', out);
  for (size_t i = 0; i < vns_sim_violation_count(sim) && i < CLI_VIOLATIONS_LISTED; i++) {
    vns_violation v;
    if (vns_sim_violation(sim, i, &v)) break;
    fprintf(out,
            "%s{\"t_ns\":%" PRIu64
            ",\"actor\":\"%s\",\"queue\":\"%s\",\"rule\":\"%s\","
            "\"section\":\"%s\",\"head\":%" PRId64 ",\"explanation\":",
            i ? "," : "", v.t_ns, v.actor, v.queue ? v.queue : "", v.rule, v.section, v.head);
    cli_print_json_string(out, v.text);
    fputc('}', out);
  }
  fputc(']', out);
}
