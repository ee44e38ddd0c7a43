#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "host/clock.h"
#include "stack/services.h"
#include "stack/wire.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_drv.h"

static const char bench_usage[] =
    "usage: vnetsim bench [--frames N] [--tcp-bytes B] [--json]\n"
    "       vnetsim bench --live [--tcp-bytes B] [--json]\n"
    "\n"
    "Measures, in wall-clock time, frames per second through the full RX path\n"
    "(host link -> device actor -> RX ring in guest memory -> driver actor ->\n"
    "guest stack, which parses the frame to ICMP and sinks it) for 64-byte and\n"
    "1500-byte frames, and in the same run a bare ring loop (driver adds a\n"
    "buffer, device pops it and writes the frame, driver takes it back) as the\n"
    "baseline. The ratio full/ring is the cost of everything beyond the ring.\n"
    "\n"
    "Then a bulk TCP transfer: the host peer sends B bytes to the guest's echo\n"
    "service (port 8023) through the whole path and checks every byte that comes\n"
    "back, reported as payload bytes per second of wall time each way.\n"
    "\n"
    "  --frames N   frames per measurement (1000..100000000, default 200000)\n"
    "  --tcp-bytes B  bytes of the TCP transfer (4096..1073741824, default 4194304)\n"
    "  --live       instead: echo throughput through libslirp and the simulated guest\n"
    "               in real time (loopback only), beside the same client against a plain\n"
    "               loopback echo server in the same run, and their ratio\n"
    "  --json       one JSON object instead of the table\n"
    "  -h, --help   this text\n";

typedef struct bench_result {
  uint32_t size;
  double ring_ns, full_ns; /* wall-clock ns per frame */
} bench_result;

/* The baseline: the ring protocol alone, both halves on one thread. */
static int bench_ring(const uint8_t *frame, size_t len, uint64_t frames, double *ns_per_frame) {
  gmem mem;
  vq_drv drv;
  vq_dev dev;
  uint16_t size = 256;
  int rc = gmem_init(&mem, GMEM_DEFAULT_BASE, 4u << 20);
  if (rc) return rc;
  uint64_t bufs = 0;
  rc = vq_drv_init(&drv, &mem, size, 1, 0, 0);
  if (!rc) rc = vq_dev_init(&dev, &mem, &drv.layout, 1, 0);
  if (!rc) rc = gmem_alloc(&mem, (uint64_t)size * VNET_MIN_RX_BUF, 64, &bufs);
  uint8_t hdr[VNET_HDR_LEN] = {0}, rx[VNET_MIN_RX_BUF];
  uint64_t start = host_wallclock_ns();
  for (uint64_t i = 0; i < frames && !rc; i++) {
    vq_sg sg = {bufs + (i % size) * VNET_MIN_RX_BUF, VNET_MIN_RX_BUF};
    vq_chain c;
    vq_used_elem e;
    rc = vq_drv_add(&drv, &sg, 0, 1, vq_token_from_index((uint32_t)(i % size)));
    if (rc >= 0) rc = vq_drv_publish(&drv) < 0;
    if (!rc) rc = vq_dev_pop(&dev, &c);
    if (!rc) rc = vq_chain_write(&dev, &c, 0, hdr, sizeof hdr);
    if (!rc) rc = vq_chain_write(&dev, &c, VNET_HDR_LEN, frame, len);
    if (!rc) rc = vq_dev_push(&dev, c.head, (uint32_t)(VNET_HDR_LEN + len));
    if (!rc) rc = vq_dev_publish_used(&dev);
    if (!rc) vq_dev_need_interrupt(&dev);
    if (!rc) rc = vq_drv_get_used(&drv, &e);
    if (!rc) rc = gmem_read(&mem, sg.gpa + VNET_HDR_LEN, rx, e.len - VNET_HDR_LEN);
  }
  *ns_per_frame = (double)(host_wallclock_ns() - start) / (double)frames;
  vq_dev_close(&dev);
  vq_drv_close(&drv);
  gmem_close(&mem);
  return rc;
}

/* The full path: the same frames through the scenario, trace off. */
static int bench_full(const uint8_t *frame, size_t len, uint64_t frames, double *ns_per_frame) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.trace_hash = 0;
  cfg.conformance = 0;
  scn s;
  int rc = scn_init(&s, &cfg);
  if (rc) return rc;
  const uint64_t chunk = 256, spacing_ns = 2000;
  uint64_t start = host_wallclock_ns();
  for (uint64_t done = 0; done < frames && !rc;) {
    uint64_t n = frames - done < chunk ? frames - done : chunk;
    uint64_t t = scn_now(&s) + spacing_ns;
    for (uint64_t i = 0; i < n && !rc; i++) rc = scn_inject_at(&s, t + i * spacing_ns, frame, len);
    scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
    done += n;
  }
  *ns_per_frame = (double)(host_wallclock_ns() - start) / (double)frames;
  scn_finish(&s);
  /* Only a run where every frame reached the stack measured what it claims. */
  if (!rc && s.fates.counts[EMU_FATE_NO_LISTENER] != frames) rc = EMU_EPROTO;
  scn_close(&s);
  return rc;
}

/* Bulk TCP through the full path: the host peer's bytes echoed by the guest.
 * Returns 0 with the wall time and the virtual time it took. */
static int bench_tcp(size_t bytes, double *wall_s, double *virtual_s) {
  static scn s;
  static net_iface peer;
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.trace_hash = 0;
  cfg.conformance = 0;
  int rc = scn_init(&s, &cfg);
  if (rc) return rc;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  rc = net_iface_init(&peer, &host, scn_host_port(&s));
  if (rc) {
    scn_close(&s);
    return rc;
  }
  scn_attach_peer(&s, &peer);
  scn_echo_client cl;
  rc = scn_echo_client_start(&s, &cl, cfg.guest.ip, NET_SVC_PORT_TCP_ECHO, scn_now(&s), scn_now(&s),
                             bytes);
  uint64_t start = host_wallclock_ns(), v0 = scn_now(&s);
  if (!rc) scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
  *wall_s = (double)(host_wallclock_ns() - start) / 1e9;
  *virtual_s = (double)(cl.done_ns - v0) / 1e9;
  /* Only a transfer that came back whole measured what it claims. */
  if (!rc && (cl.received != bytes || cl.mismatch_at != SIZE_MAX)) rc = EMU_EPROTO;
  scn_echo_client_release(&cl);
  net_iface_close(&peer);
  scn_close(&s);
  return rc;
}

typedef struct bench_args {
  uint64_t frames, tcp_bytes;
  int json, live;
} bench_args;

static int bench_parse(int argc, char **argv, bench_args *a) {
  static const struct option longopts[] = {
      {"frames", required_argument, NULL, 'n'}, {"tcp-bytes", required_argument, NULL, 't'},
      {"live", no_argument, NULL, 'l'},         {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  *a = (bench_args){200000, 4u << 20, 0, 0};
  int c, frames_given = 0;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'h':
        fputs(bench_usage, stdout);
        return -1;
      case 'n':
        if (cli_parse_uint(optarg, 1000, 100000000, &a->frames))
          return cli_error("bench", CLI_EXIT_USAGE,
                           "--frames: '%s' is not a number from 1000 to 100000000", optarg);
        frames_given = 1;
        break;
      case 'j':
        a->json = 1;
        break;
      case 'l':
        a->live = 1;
        break;
      case 't':
        if (cli_parse_uint(optarg, 4096, 1u << 30, &a->tcp_bytes))
          return cli_error("bench", CLI_EXIT_USAGE,
                           "--tcp-bytes: '%s' is not a number from 4096 to 1073741824", optarg);
        break;
      default:
        return cli_error("bench", CLI_EXIT_USAGE, "unknown or incomplete option '%s' (see --help)",
                         argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_error("bench", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
  if (a->live && frames_given)
    return cli_error("bench", CLI_EXIT_USAGE,
                     "--frames sizes the ring measurements; --live measures TCP only "
                     "(--tcp-bytes)");
  return 0;
}

static void bench_print(const bench_args *a, const bench_result res[2], double tcp_wall,
                        double tcp_virtual) {
  double tcp_bps = (double)a->tcp_bytes / tcp_wall;
  if (a->json) {
    printf("{\"frames\":%" PRIu64 ",\"tcp\":{\"bytes\":%" PRIu64
           ",\"wall_bytes_per_s\":%.0f,\"virtual_s\":%.6f},\"results\":[",
           a->frames, a->tcp_bytes, tcp_bps, tcp_virtual);
    for (int i = 0; i < 2; i++)
      printf(
          "%s{\"size\":%u,\"ring_ns_per_frame\":%.1f,\"ring_fps\":%.0f,"
          "\"full_ns_per_frame\":%.1f,\"full_fps\":%.0f,\"ratio\":%.2f}",
          i ? "," : "", res[i].size, res[i].ring_ns, 1e9 / res[i].ring_ns, res[i].full_ns,
          1e9 / res[i].full_ns, res[i].full_ns / res[i].ring_ns);
    printf("]}\n");
    return;
  }
  printf("vnetsim bench: %" PRIu64 " frames per measurement, wall-clock time\n", a->frames);
  printf("%-6s %14s %12s %14s %12s %8s\n", "size", "ring fps", "ring ns", "full-RX fps", "full ns",
         "ratio");
  for (int i = 0; i < 2; i++)
    printf("%-6u %14.0f %12.1f %14.0f %12.1f %7.2fx\n", res[i].size, 1e9 / res[i].ring_ns,
           res[i].ring_ns, 1e9 / res[i].full_ns, res[i].full_ns, res[i].full_ns / res[i].ring_ns);
  printf("ratio = full RX path time / bare ring loop time per frame, same run\n");
  printf("TCP echo of %" PRIu64
         " bytes host->guest:8023->host: %.1f MB/s of wall time each way "
         "(%.3f s virtual, %.3f s wall; the 1500-byte ring loop moves %.1f MB/s)\n",
         a->tcp_bytes, tcp_bps / 1e6, tcp_virtual, tcp_wall, 1500.0 * 1e3 / res[1].ring_ns);
}

int cmd_bench(int argc, char **argv) {
  bench_args a;
  int rc = bench_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  if (a.live) {
    scn_config cfg;
    scn_config_default(&cfg);
    cfg.trace_hash = 0;
    return cli_bench_live(stdout, &cfg, (size_t)a.tcp_bytes, a.json);
  }
  net_iface_config guest, host;
  net_iface_config_slirp_guest(&guest);
  net_iface_config_slirp_host(&host);
  bench_result res[2] = {{64, 0, 0}, {1500, 0, 0}};
  uint8_t frame[1514];
  for (int i = 0; i < 2; i++) {
    /* An echo reply nobody asked for: the stack checks every header and
     * checksum on the way up, then sinks it (no_listener). */
    size_t len = scn_frame_icmp_echo(frame, sizeof frame, NET_ICMP_ECHO_REPLY, &host, guest.mac,
                                     guest.ip, 0xbe, 1, res[i].size);
    rc = bench_ring(frame, len, a.frames, &res[i].ring_ns);
    if (rc) return cli_error("bench", CLI_EXIT_FAIL, "ring loop failed: %s", emu_strerror(rc));
    rc = bench_full(frame, len, a.frames, &res[i].full_ns);
    if (rc) return cli_error("bench", CLI_EXIT_FAIL, "full RX path failed: %s", emu_strerror(rc));
  }
  double tcp_wall, tcp_virtual;
  rc = bench_tcp((size_t)a.tcp_bytes, &tcp_wall, &tcp_virtual);
  if (rc) return cli_error("bench", CLI_EXIT_FAIL, "TCP transfer failed: %s", emu_strerror(rc));
  bench_print(&a, res, tcp_wall, tcp_virtual);
  return CLI_EXIT_OK;
}
