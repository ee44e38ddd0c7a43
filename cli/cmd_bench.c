#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "emu/err.h"
#include "host/clock.h"
#include "stack/services.h"
#include "stack/wire.h"
#include "virtio/vq_dev.h"
#include "virtio/vq_drv.h"
#include "virtio/vq_packed.h"

static const char bench_usage[] =
    "usage: vnetsim bench [--frames N] [--rounds R] [--tcp-bytes B] [--json]\n"
    "       vnetsim bench --live [--tcp-bytes B] [--rounds R] [--requests N]\n"
    "                            [--concurrency C] [--json]\n"
    "\n"
    "Measures, in CPU time of the thread, frames per second through the full RX path\n"
    "(host link -> device actor -> RX ring in guest memory -> driver actor ->\n"
    "guest stack, which parses the frame to ICMP and sinks it) for 64-byte and\n"
    "1500-byte frames, with the trace hash off and on (on is what every other\n"
    "command runs with). In the same run, as baselines: vnetsim's own ring code\n"
    "alone (driver adds a buffer, device pops it and writes the frame, driver\n"
    "takes it back), and the ceiling, a minimal hand-written split ring doing\n"
    "the same (descriptors, avail and used ring in one region, release/acquire\n"
    "on the indices, the 12-byte header and the frame copied in and out, the\n"
    "event-index interrupt decision). Ratios are against the minimal ring, so\n"
    "code shared by the ring and the full path getting faster lowers them.\n"
    "Each figure is the median of the rounds, which alternate. The full path\n"
    "also runs under the tso and weak memory models (--memory), reported as\n"
    "ratios to sc: what buffering every store costs; and vnetsim's packed ring\n"
    "(virtio 1.2 §2.8) runs the bare loop and the full path beside its split ring,\n"
    "and the full path receives into mergeable 512-byte buffers (§5.1.6.4: a\n"
    "1500-byte frame takes three) beside one 1526-byte buffer per frame.\n"
    "\n"
    "Then a bulk TCP transfer: the host peer sends B bytes to the guest's echo\n"
    "service (port 8023) through the whole path and checks every byte that comes\n"
    "back, reported as payload bytes per second of wall time each way.\n"
    "\n"
    "  --frames N   frames per measurement (1000..100000000, default 200000)\n"
    "  --rounds R   alternating rounds of every measurement (1..99, default 3)\n"
    "  --tcp-bytes B  bytes of the TCP transfer (4096..1073741824, default 4194304)\n"
    "  --live       instead: echo throughput through libslirp and the simulated guest\n"
    "               in real time (loopback only), the guest run as 'vnetsim run' runs\n"
    "               it (trace hash on, backlog 4096), beside the same client against a\n"
    "               plain loopback echo server, alternating for --rounds rounds: the\n"
    "               medians, their spreads and the ratio of the medians; then, in\n"
    "               each round, the request rate of the guest's HTTP server beside a\n"
    "               plain loopback server sending the guest's response bytes\n"
    "  --requests N HTTP requests per round, each on its own connection (0..1000000,\n"
    "               default 1000; 0: the echo only), with --live\n"
    "  --concurrency C  requests in flight at once (1..256, default 10), with --live\n"
    "  --json       one JSON object instead of the table\n"
    "  -h, --help   this text\n";

/* The measurements of one frame size, wall-clock ns per frame. */
/* The full path also under the tso and weak memory models (hash off). */
enum {
  BENCH_MIN,
  BENCH_RING,
  BENCH_FULL,
  BENCH_FULL_HASH,
  BENCH_TSO,
  BENCH_WEAK,
  BENCH_PACKED,      /* the packed ring's own code, beside the split ring's */
  BENCH_FULL_PACKED, /* the full RX path on packed rings (hash off), beside BENCH_FULL */
  BENCH_FULL_MRG,    /* the full RX path, mergeable buffers of BENCH_MRG_BUF bytes */
  BENCH_NMEAS
};
/* The four of the main table; the memory models' two are a table of their own. */
#define BENCH_NMAIN 4
/* Mergeable buffers small enough that a 1500-byte frame takes three; a
 * 64-byte one still takes one. */
#define BENCH_MRG_BUF    512u
#define BENCH_MAX_ROUNDS 99

typedef struct bench_result {
  uint32_t size;
  double ns[BENCH_NMEAS];                         /* median over the rounds */
  double lo[BENCH_NMEAS], hi[BENCH_NMEAS];        /* spread over the rounds */
  double round_ns[BENCH_NMEAS][BENCH_MAX_ROUNDS]; /* every round */
} bench_result;

/* The CPU time this thread used, in ns: on a shared machine a preempted
 * run's wall time says more about the other processes than about the code.
 * 0 if the clock cannot be read, which makes every figure 0, visibly. */
static uint64_t bench_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the ceiling: a minimal split ring, written for this and nothing else ---- */

#define MIN_QSIZE        256u /* as the ring baseline's queue */
#define MIN_DESC_F_WRITE 2u   /* VIRTQ_DESC_F_WRITE, virtio 1.2 §2.7.5 */

typedef struct min_desc {
  uint64_t addr; /* offset into the buffer area */
  uint32_t len;
  uint16_t flags, next;
} min_desc;

typedef struct min_used_elem {
  uint32_t id, len;
} min_used_elem;

/* One region laid out as a split virtqueue (§2.7): descriptor table, driver
 * area with used_event at its end, device area with avail_event, then the
 * buffers. The host is assumed little-endian here, as the machines the
 * ceiling is measured on are. */
typedef struct min_region {
  min_desc desc[MIN_QSIZE];
  uint16_t avail_flags;
  _Atomic uint16_t avail_idx;
  uint16_t avail_ring[MIN_QSIZE];
  _Atomic uint16_t used_event;
  uint16_t used_flags;
  _Atomic uint16_t used_idx;
  min_used_elem used_ring[MIN_QSIZE];
  _Atomic uint16_t avail_event;
  uint8_t bufs[MIN_QSIZE][VNET_MIN_RX_BUF];
} min_region;

typedef struct min_ring {
  min_region *r;
  uint16_t drv_avail, drv_last_used; /* the driver's shadow indices */
  uint16_t dev_last_avail, dev_used; /* the device's */
  uint64_t interrupts;
  uint32_t sink; /* a byte of every frame read back, so no copy is optimised out */
} min_ring;

static void min_drv_add(min_ring *q, uint16_t id) {
  min_desc *d = &q->r->desc[id];
  *d = (min_desc){(uint64_t)id * VNET_MIN_RX_BUF, VNET_MIN_RX_BUF, MIN_DESC_F_WRITE, 0};
  q->r->avail_ring[q->drv_avail % MIN_QSIZE] = id;
  /* §2.7.13.3: the ring entry before the index that publishes it */
  atomic_store_explicit(&q->r->avail_idx, ++q->drv_avail, memory_order_release);
}

/* The device side: take a chain, check it as a device must (§2.7.5), write
 * header and frame, push and publish the used element, decide on an
 * interrupt with the event index (§2.7.10). One thread runs both halves,
 * so no full fence sits between publishing and reading used_event. */
static int min_dev_fill(min_ring *q, const uint8_t *hdr, const uint8_t *frame, size_t len) {
  uint16_t avail = atomic_load_explicit(&q->r->avail_idx, memory_order_acquire);
  if (avail == q->dev_last_avail) return EMU_EAGAIN;
  uint16_t head = q->r->avail_ring[q->dev_last_avail++ % MIN_QSIZE];
  if (head >= MIN_QSIZE) return EMU_EPROTO;
  const min_desc *d = &q->r->desc[head];
  uint64_t need = VNET_HDR_LEN + len, area = sizeof q->r->bufs;
  if (!(d->flags & MIN_DESC_F_WRITE) || d->len < need || d->addr > area || need > area - d->addr)
    return EMU_EPROTO;
  uint8_t *p = &q->r->bufs[0][0] + d->addr;
  memcpy(p, hdr, VNET_HDR_LEN);
  memcpy(p + VNET_HDR_LEN, frame, len);
  q->r->used_ring[q->dev_used % MIN_QSIZE] = (min_used_elem){head, (uint32_t)need};
  uint16_t old = q->dev_used++;
  atomic_store_explicit(&q->r->used_idx, q->dev_used, memory_order_release);
  uint16_t ev = atomic_load_explicit(&q->r->used_event, memory_order_acquire);
  if ((uint16_t)(q->dev_used - ev - 1) < (uint16_t)(q->dev_used - old)) q->interrupts++;
  return 0;
}

/* The driver side: take the used element, check it (§2.7.14), copy header
 * and frame out, and ask for an interrupt at the next one. */
static int min_drv_take(min_ring *q, uint8_t *rx) {
  uint16_t used = atomic_load_explicit(&q->r->used_idx, memory_order_acquire);
  if (used == q->drv_last_used) return EMU_EAGAIN;
  min_used_elem e = q->r->used_ring[q->drv_last_used++ % MIN_QSIZE];
  if (e.id >= MIN_QSIZE || e.len > VNET_MIN_RX_BUF || e.len == 0) return EMU_EPROTO;
  memcpy(rx, q->r->bufs[e.id], e.len);
  atomic_store_explicit(&q->r->used_event, q->drv_last_used, memory_order_release);
  q->sink += rx[e.len - 1];
  return 0;
}

static int bench_min(const uint8_t *frame, size_t len, uint64_t frames, double *ns_per_frame) {
  min_ring q = {0};
  q.r = calloc(1, sizeof *q.r);
  if (!q.r) return EMU_ENOMEM;
  static uint8_t rx[VNET_MIN_RX_BUF];
  const uint8_t hdr[VNET_HDR_LEN] = {0};
  int rc = 0;
  uint64_t start = bench_cpu_ns();
  for (uint64_t i = 0; i < frames && !rc; i++) {
    min_drv_add(&q, (uint16_t)(i % MIN_QSIZE));
    rc = min_dev_fill(&q, hdr, frame, len);
    if (!rc) rc = min_drv_take(&q, rx);
  }
  *ns_per_frame = (double)(bench_cpu_ns() - start) / (double)frames;
  /* every frame must have come back whole, its last byte included */
  if (!rc && q.sink != (uint32_t)(frames * frame[len - 1])) rc = EMU_EPROTO;
  free(q.r);
  return rc;
}

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
  uint64_t start = bench_cpu_ns();
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
  *ns_per_frame = (double)(bench_cpu_ns() - start) / (double)frames;
  vq_dev_close(&dev);
  vq_drv_close(&drv);
  gmem_close(&mem);
  return rc;
}

/* The same loop on the packed ring (virtio/vq_packed, §2.8): one
 * descriptor per frame, the frame written straight into its one segment. */
static int bench_packed(const uint8_t *frame, size_t len, uint64_t frames, double *ns_per_frame) {
  gmem mem;
  vqp_drv drv;
  vqp_dev dev;
  uint16_t size = 256;
  int rc = gmem_init(&mem, GMEM_DEFAULT_BASE, 4u << 20);
  if (rc) return rc;
  uint64_t bufs = 0;
  rc = vqp_drv_init(&drv, &mem, size, 1);
  if (!rc) rc = vqp_dev_init(&dev, &mem, &drv.layout, 1, 0);
  if (!rc) rc = gmem_alloc(&mem, (uint64_t)size * VNET_MIN_RX_BUF, 64, &bufs);
  uint8_t hdr[VNET_HDR_LEN] = {0}, rx[VNET_MIN_RX_BUF];
  uint64_t start = bench_cpu_ns();
  for (uint64_t i = 0; i < frames && !rc; i++) {
    vq_sg sg = {bufs + (i % size) * VNET_MIN_RX_BUF, VNET_MIN_RX_BUF};
    vq_chain c;
    vq_used_elem e;
    rc = vqp_drv_add(&drv, &sg, 0, 1, vq_token_from_index((uint32_t)(i % size)));
    if (rc >= 0) rc = vqp_drv_kick_needed(&drv) < 0;
    if (!rc) rc = vqp_dev_pop(&dev, &c);
    if (!rc) rc = gmem_write(&mem, c.seg[0].gpa, hdr, sizeof hdr);
    if (!rc) rc = gmem_write(&mem, c.seg[0].gpa + VNET_HDR_LEN, frame, len);
    if (!rc) rc = vqp_dev_push(&dev, c.head, (uint32_t)(VNET_HDR_LEN + len));
    if (!rc) vqp_dev_need_interrupt(&dev);
    if (!rc) rc = vqp_drv_get_used(&drv, &e);
    if (!rc) rc = gmem_read(&mem, sg.gpa + VNET_HDR_LEN, rx, e.len - VNET_HDR_LEN);
  }
  *ns_per_frame = (double)(bench_cpu_ns() - start) / (double)frames;
  vqp_dev_close(&dev);
  vqp_drv_close(&drv);
  gmem_close(&mem);
  return rc;
}

/* How the full path is set up for one measurement. */
typedef struct bench_path {
  int hash; /* the trace hash (every command but this one runs with it on) */
  emu_mm_kind memory;
  int packed;
  uint32_t mrg_buf; /* mergeable RX buffers of this size; 0: one buffer per frame */
} bench_path;

/* The full path: the same frames through the scenario, set up as p says. */
static int bench_full(const uint8_t *frame, size_t len, uint64_t frames, const bench_path *p,
                      double *ns_per_frame) {
  scn_config cfg;
  scn_config_default(&cfg);
  cfg.trace_hash = p->hash;
  cfg.conformance = 0;
  cfg.memory = p->memory;
  cfg.packed_ring = p->packed;
  cfg.mergeable = p->mrg_buf != 0;
  cfg.rx_buf_len = p->mrg_buf;
  scn s;
  int rc = scn_init(&s, &cfg);
  if (rc) return rc;
  const uint64_t chunk = 256, spacing_ns = 2000;
  uint64_t start = bench_cpu_ns();
  for (uint64_t done = 0; done < frames && !rc;) {
    uint64_t n = frames - done < chunk ? frames - done : chunk;
    uint64_t t = scn_now(&s) + spacing_ns;
    for (uint64_t i = 0; i < n && !rc; i++) rc = scn_inject_at(&s, t + i * spacing_ns, frame, len);
    scn_run(&s, EMU_TIME_NEVER, UINT64_MAX);
    done += n;
  }
  *ns_per_frame = (double)(bench_cpu_ns() - start) / (double)frames;
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
  uint64_t frames, tcp_bytes, rounds, requests, concurrency;
  int json, live, live_only_given;
} bench_args;

#define BENCH_DEFAULT_REQUESTS    1000
#define BENCH_DEFAULT_CONCURRENCY 10

static int bench_parse(int argc, char **argv, bench_args *a) {
  static const struct option longopts[] = {{"frames", required_argument, NULL, 'n'},
                                           {"tcp-bytes", required_argument, NULL, 't'},
                                           {"live", no_argument, NULL, 'l'},
                                           {"json", no_argument, NULL, 'j'},
                                           {"rounds", required_argument, NULL, 'r'},
                                           {"requests", required_argument, NULL, 'q'},
                                           {"concurrency", required_argument, NULL, 'c'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  *a =
      (bench_args){200000, 4u << 20, 3, BENCH_DEFAULT_REQUESTS, BENCH_DEFAULT_CONCURRENCY, 0, 0, 0};
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
      case 'r':
        if (cli_parse_uint(optarg, 1, BENCH_MAX_ROUNDS, &a->rounds))
          return cli_error("bench", CLI_EXIT_USAGE, "--rounds: '%s' is not a number from 1 to %d",
                           optarg, BENCH_MAX_ROUNDS);
        break;
      case 'q':
        if (cli_parse_uint(optarg, 0, 1000000, &a->requests))
          return cli_error("bench", CLI_EXIT_USAGE,
                           "--requests: '%s' is not a number from 0 to 1000000", optarg);
        a->live_only_given = 1;
        break;
      case 'c':
        if (cli_parse_uint(optarg, 1, BENCH_HTTP_MAX_CONCURRENCY, &a->concurrency))
          return cli_error("bench", CLI_EXIT_USAGE,
                           "--concurrency: '%s' is not a number from 1 to %d", optarg,
                           BENCH_HTTP_MAX_CONCURRENCY);
        a->live_only_given = 1;
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
  if (!a->live && a->live_only_given)
    return cli_error("bench", CLI_EXIT_USAGE, "--requests and --concurrency go with --live");
  if (a->live && frames_given)
    return cli_error("bench", CLI_EXIT_USAGE,
                     "--frames sizes the ring measurements; --live measures TCP only "
                     "(--tcp-bytes, --rounds)");
  return 0;
}

static const char *const bench_keys[BENCH_NMEAS] = {"min",       "ring",        "full",
                                                    "full_hash", "full_tso",    "full_weak",
                                                    "packed",    "full_packed", "full_mergeable"};

static void bench_print_json(const bench_args *a, const bench_result res[2], double tcp_bps,
                             double tcp_virtual) {
  printf("{\"frames\":%" PRIu64 ",\"rounds\":%" PRIu64 ",\"tcp\":{\"bytes\":%" PRIu64
         ",\"wall_bytes_per_s\":%.0f,\"virtual_s\":%.6f},\"results\":[",
         a->frames, a->rounds, a->tcp_bytes, tcp_bps, tcp_virtual);
  for (int i = 0; i < 2; i++) {
    const bench_result *r = &res[i];
    printf("%s{\"size\":%u", i ? "," : "", r->size);
    for (int m = 0; m < BENCH_NMEAS; m++)
      printf(",\"%s_ns_per_frame\":%.1f,\"%s_fps\":%.0f,\"%s_ns_spread\":[%.1f,%.1f]",
             bench_keys[m], r->ns[m], bench_keys[m], 1e9 / r->ns[m], bench_keys[m], r->lo[m],
             r->hi[m]);
    /* "ratio" (full / own ring) is kept for older readers; it rises when
     * the ring code gets faster, so budgets use the *_vs_min ratios */
    printf(",\"ring_vs_min\":%.2f,\"full_vs_min\":%.2f,\"full_hash_vs_min\":%.2f,\"ratio\":%.2f",
           r->ns[BENCH_RING] / r->ns[BENCH_MIN], r->ns[BENCH_FULL] / r->ns[BENCH_MIN],
           r->ns[BENCH_FULL_HASH] / r->ns[BENCH_MIN], r->ns[BENCH_FULL] / r->ns[BENCH_RING]);
    printf(
        ",\"tso_vs_sc\":%.2f,\"weak_vs_sc\":%.2f,\"packed_vs_ring\":%.2f"
        ",\"full_packed_vs_full\":%.2f,\"full_mergeable_vs_full\":%.2f}",
        r->ns[BENCH_TSO] / r->ns[BENCH_FULL], r->ns[BENCH_WEAK] / r->ns[BENCH_FULL],
        r->ns[BENCH_PACKED] / r->ns[BENCH_RING], r->ns[BENCH_FULL_PACKED] / r->ns[BENCH_FULL],
        r->ns[BENCH_FULL_MRG] / r->ns[BENCH_FULL]);
  }
  printf("]}\n");
}

static void bench_print_text(const bench_args *a, const bench_result res[2], double tcp_bps,
                             double tcp_wall, double tcp_virtual) {
  printf("vnetsim bench: %" PRIu64 " frames per measurement, median of %" PRIu64
         " alternating rounds, CPU ns per frame (min-max over the rounds)\n",
         a->frames, a->rounds);
  printf("%-6s %-20s %-20s %-20s %-20s\n", "size", "minimal ring", "own ring", "full RX",
         "full RX + hash");
  for (int i = 0; i < 2; i++) {
    const bench_result *r = &res[i];
    printf("%-6u", r->size);
    for (int m = 0; m < BENCH_NMAIN; m++) {
      char cell[64];
      snprintf(cell, sizeof cell, "%.1f (%.1f-%.1f)", r->ns[m], r->lo[m], r->hi[m]);
      printf(" %-20s", cell);
    }
    printf("\n");
  }
  for (int i = 0; i < 2; i++) {
    const double *ns = res[i].ns;
    printf(
        "%-6u own ring %.2fx, full RX %.2fx, full RX + hash %.2fx the minimal ring (%.2f Mfps "
        "full)\n",
        res[i].size, ns[BENCH_RING] / ns[BENCH_MIN], ns[BENCH_FULL] / ns[BENCH_MIN],
        ns[BENCH_FULL_HASH] / ns[BENCH_MIN], 1e3 / ns[BENCH_FULL]);
  }
  printf("memory models, the full RX path (hash off) under each beside sc:\n");
  for (int i = 0; i < 2; i++) {
    const double *ns = res[i].ns;
    printf("%-6u tso %.1f ns (%.2fx sc), weak %.1f ns (%.2fx sc)\n", res[i].size, ns[BENCH_TSO],
           ns[BENCH_TSO] / ns[BENCH_FULL], ns[BENCH_WEAK], ns[BENCH_WEAK] / ns[BENCH_FULL]);
  }
  printf("ring formats, vnetsim's own code (the bare loop) and the full RX path (hash off):\n");
  for (int i = 0; i < 2; i++) {
    const double *ns = res[i].ns;
    printf(
        "%-6u bare loop: split %.1f ns, packed %.1f ns (%.2fx split); full RX: split %.1f ns, "
        "packed %.1f ns (%.2fx split)\n",
        res[i].size, ns[BENCH_RING], ns[BENCH_PACKED], ns[BENCH_PACKED] / ns[BENCH_RING],
        ns[BENCH_FULL], ns[BENCH_FULL_PACKED], ns[BENCH_FULL_PACKED] / ns[BENCH_FULL]);
  }
  printf(
      "RX buffers, the full RX path (hash off): one 1526-byte buffer per frame beside "
      "mergeable %u-byte buffers:\n",
      BENCH_MRG_BUF);
  for (int i = 0; i < 2; i++) {
    const double *ns = res[i].ns;
    unsigned bufs = (res[i].size + 12u + BENCH_MRG_BUF - 1) / BENCH_MRG_BUF;
    printf("%-6u one buffer %.1f ns, mergeable %.1f ns over %u buffer%s (%.2fx)\n", res[i].size,
           ns[BENCH_FULL], ns[BENCH_FULL_MRG], bufs, bufs == 1 ? "" : "s",
           ns[BENCH_FULL_MRG] / ns[BENCH_FULL]);
  }
  printf("TCP echo of %" PRIu64
         " bytes host->guest:8023->host: %.1f MB/s of wall time each way "
         "(%.3f s virtual, %.3f s wall; the 1500-byte minimal ring moves %.1f MB/s)\n",
         a->tcp_bytes, tcp_bps / 1e6, tcp_virtual, tcp_wall, 1500.0 * 1e3 / res[1].ns[BENCH_MIN]);
}

/* Measurement m once. */
static int bench_one(int m, const uint8_t *frame, size_t len, uint64_t frames, double *ns) {
  static const bench_path paths[BENCH_NMEAS] = {
      [BENCH_FULL] = {0, EMU_MM_SC, 0, 0},
      [BENCH_FULL_HASH] = {1, EMU_MM_SC, 0, 0},
      [BENCH_TSO] = {0, EMU_MM_TSO, 0, 0},
      [BENCH_WEAK] = {0, EMU_MM_WEAK, 0, 0},
      [BENCH_FULL_PACKED] = {0, EMU_MM_SC, 1, 0},
      [BENCH_FULL_MRG] = {0, EMU_MM_SC, 0, BENCH_MRG_BUF}};
  switch (m) {
    case BENCH_MIN:
      return bench_min(frame, len, frames, ns);
    case BENCH_RING:
      return bench_ring(frame, len, frames, ns);
    case BENCH_PACKED:
      return bench_packed(frame, len, frames, ns);
    default:
      return bench_full(frame, len, frames, &paths[m], ns);
  }
}

static int bench_cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Rounds alternate the four measurements, so a change in the machine's
 * load falls on all of them; the median of the rounds is reported. */
static int bench_size(const uint8_t *frame, size_t len, const bench_args *a, bench_result *r) {
  static const char *const what[BENCH_NMEAS] = {"minimal ring",
                                                "ring loop",
                                                "full RX path",
                                                "full RX path with the trace hash",
                                                "full RX path under tso",
                                                "full RX path under weak",
                                                "packed ring loop",
                                                "full RX path on packed rings",
                                                "full RX path in mergeable buffers"};
  int n = (int)a->rounds;
  for (int k = 0; k < n; k++)
    for (int m = 0; m < BENCH_NMEAS; m++) {
      double *ns = &r->round_ns[m][k];
      int rc = bench_one(m, frame, len, a->frames, ns);
      if (rc) return cli_error("bench", CLI_EXIT_FAIL, "%s failed: %s", what[m], emu_strerror(rc));
    }
  for (int m = 0; m < BENCH_NMEAS; m++) {
    double v[BENCH_MAX_ROUNDS];
    memcpy(v, r->round_ns[m], (size_t)n * sizeof v[0]);
    qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
    r->ns[m] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    r->lo[m] = v[0];
    r->hi[m] = v[n - 1];
  }
  return 0;
}

int cmd_bench(int argc, char **argv) {
  bench_args a;
  int rc = bench_parse(argc, argv, &a);
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  if (a.live) {
    scn_config cfg;
    scn_config_default(&cfg);
    cfg.rx_backlog = CLI_RUN_BACKLOG; /* as `vnetsim run`, trace hash included */
    cli_bench_live_args la = {(size_t)a.tcp_bytes, (unsigned)a.rounds, (unsigned)a.requests,
                              (unsigned)a.concurrency, a.json};
    return cli_bench_live(stdout, &cfg, &la);
  }
  net_iface_config guest, host;
  net_iface_config_slirp_guest(&guest);
  net_iface_config_slirp_host(&host);
  static bench_result res[2] = {{.size = 64}, {.size = 1500}};
  uint8_t frame[1514];
  for (int i = 0; i < 2; i++) {
    /* An echo reply nobody asked for: the stack checks every header and
     * checksum on the way up, then sinks it (no_listener). */
    size_t len = scn_frame_icmp_echo(frame, sizeof frame, NET_ICMP_ECHO_REPLY, &host, guest.mac,
                                     guest.ip, 0xbe, 1, res[i].size);
    rc = bench_size(frame, len, &a, &res[i]);
    if (rc) return rc;
  }
  double tcp_wall, tcp_virtual;
  rc = bench_tcp((size_t)a.tcp_bytes, &tcp_wall, &tcp_virtual);
  if (rc) return cli_error("bench", CLI_EXIT_FAIL, "TCP transfer failed: %s", emu_strerror(rc));
  double tcp_bps = (double)a.tcp_bytes / tcp_wall;
  if (a.json)
    bench_print_json(&a, res, tcp_bps, tcp_virtual);
  else
    bench_print_text(&a, res, tcp_bps, tcp_wall, tcp_virtual);
  return CLI_EXIT_OK;
}
