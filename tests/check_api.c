/* Check suite for the public API (include/vnetsim/), linked against the
 * shared library as a user links it: version, errors, option checking, run
 * states, counters, rings, memory, the trace, both user-half seams with the
 * ring helpers, conformance through the API, and the library's exported
 * symbol list. The scenario comparison also links the internal scenario
 * (sim/scn.h) to show the library runs exactly what the command runs. */
/* popen and pclose are POSIX, not C11: without this, a C library that keeps
 * to the standard (musl) does not declare them. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vnetsim/vnetsim.h>

#ifndef VNS_NM
#define VNS_NM "nm"
#endif

#include "sim/scn.h"

#define US 1000ull
#define T0 1000000000ull

static void fixed_opts(vns_sim_opts *o) {
  vns_sim_opts_init(o);
  o->rx_backlog = 0;
  o->link_latency = (vns_latency){10 * US, 10 * US};
  o->kick_latency = (vns_latency){1 * US, 1 * US};
  o->irq_latency = (vns_latency){2 * US, 2 * US};
  o->rearm_delay = (vns_latency){0, 0};
  o->store_delay = (vns_latency){0, 0};
}

static void inject_arp(vns_sim *sim, uint64_t at) {
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  ck_assert_int_eq(vns_sim_inject(sim, at, f, len), 0);
}

/* --- version and errors ---------------------------------------------------- */

START_TEST(test_version_macros_match_the_runtime_call) {
  char buf[32];
  snprintf(buf, sizeof buf, "%d.%d.%d", VNS_VERSION_MAJOR, VNS_VERSION_MINOR, VNS_VERSION_PATCH);
  ck_assert_str_eq(buf, VNS_VERSION_STRING);
  ck_assert_str_eq(vns_version(), VNS_VERSION_STRING);
  ck_assert_str_eq(vns_version(), "0.1.0");
  ck_assert_int_eq(VNS_VERSION_HEX, 0x000100);
}
END_TEST

START_TEST(test_every_error_code_has_a_name_and_a_text) {
  for (int e = VNS_OK; e >= VNS_ELIMIT; e--) {
    ck_assert_str_ne(vns_errname(e), "VNS_E?");
    ck_assert_str_ne(vns_strerror(e), "unknown error");
  }
  ck_assert_str_eq(vns_errname(VNS_EINVAL), "VNS_EINVAL");
  ck_assert_str_eq(vns_errname(VNS_ELIMIT), "VNS_ELIMIT");
  ck_assert_str_eq(vns_strerror(VNS_ENOENT), "no such name");
  ck_assert_str_eq(vns_errname(-99), "VNS_E?");
  ck_assert_str_eq(vns_strerror(-99), "unknown error");
}
END_TEST

/* --- options --------------------------------------------------------------- */

static int new_with(const vns_sim_opts *o) {
  vns_sim *sim = (vns_sim *)1;
  int rc = vns_sim_new(o, &sim);
  if (rc == 0)
    vns_sim_free(sim);
  else
    ck_assert_ptr_null(sim);
  return rc;
}

static int noop_probe(void *ctx, vns_sim *sim, vns_transport *t) {
  (void)ctx, (void)sim, (void)t;
  return 0;
}
static void noop_irq(void *ctx, vns_sim *sim, uint16_t q) { (void)ctx, (void)sim, (void)q; }
static const vns_driver_ops noop_driver = {noop_probe, noop_irq, NULL, NULL, NULL};
static const vns_driver_ops no_probe_driver = {NULL, noop_irq, NULL, NULL, NULL};

/* A failed create says why, with the rules broken on the way. */
static int big_queue_probe(void *ctx, vns_sim *sim, vns_transport *t) {
  (void)ctx;
  int rc = vns_transport_set_status(t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER);
  if (!rc) rc = vns_transport_set_driver_features(t, VNS_BIT(VNS_F_VERSION_1));
  if (!rc)
    rc = vns_transport_set_status(
        t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER | VNS_STATUS_FEATURES_OK);
  vns_vq *vq = NULL;
  /* twice what the device takes */
  if (!rc) rc = vns_vq_new(sim, VNS_QUEUE_RX, 256, 0, &vq);
  if (!rc) {
    vns_ring_layout l = vns_vq_layout(vq);
    rc = vns_transport_queue_setup(t, VNS_QUEUE_RX, &l);
  }
  return rc;
}
static const vns_driver_ops big_queue_driver = {big_queue_probe, noop_irq, NULL, NULL, NULL};

START_TEST(test_a_failed_create_says_why) {
  vns_sim_opts o;
  vns_sim_failure why;
  vns_sim *sim = NULL;
  vns_sim_opts_init(&o);
  o.queue_size = 3;
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_int_eq(why.code, VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "queue_size"));
  vns_sim_opts_init(&o);
  o.bugs = "rx-no-recycle,no-such-bug";
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_ENOENT);
  ck_assert_ptr_nonnull(strstr(why.message, "bug name"));
  vns_sim_opts_init(&o);
  o.guest_max_conns = 65537;
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "guest_max_conns"));
  vns_sim_opts_init(&o);
  o.guest_ip6[0] = 0xfe, o.guest_ip6[1] = 0x80, o.guest_ip6[15] = 1; /* fe80::1 */
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "guest_ip6"));
  vns_sim_opts_init(&o);
  o.faults = "drop=2";
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why.message, "drop"));
  /* the device takes 128 and the driver sets up 256 */
  vns_sim_opts_init(&o);
  o.queue_size = 128;
  o.driver = &big_queue_driver;
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EINVAL);
  ck_assert_ptr_null(sim);
  ck_assert_ptr_nonnull(strstr(why.message, "probe returned VNS_EINVAL"));
  ck_assert_uint_eq(why.violation_count, 1);
  ck_assert_str_eq(why.violations[0].rule, "queue_size_invalid");
  ck_assert_str_eq(why.violations[0].section, "4.1.4.3.2");
  ck_assert_str_eq(why.violations[0].actor, "device");
  ck_assert_int_eq(vns_sim_new_why(NULL, NULL, &why), VNS_EINVAL);
  ck_assert_int_eq(why.code, VNS_EINVAL);
  ck_assert_str_ne(why.message, "");
  /* and a create that works says nothing */
  ck_assert_int_eq(vns_sim_new_why(NULL, &sim, &why), 0);
  ck_assert_int_eq(why.code, 0);
  ck_assert_str_eq(why.message, "");
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_options_are_checked) {
  vns_sim_opts o;
  ck_assert_int_eq(new_with(NULL), 0);
  ck_assert_int_eq(vns_sim_new(NULL, NULL), VNS_EINVAL);
  vns_sim_opts_init(&o);
  ck_assert_uint_eq(o.seed, 1);
  ck_assert_uint_eq(o.queue_size, 256);
  ck_assert_uint_eq(o.guest_ip, VNS_GUEST_IP);
  o.queue_size = 100;
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  vns_sim_opts_init(&o);
  o.bugs = "rx-no-recycle,no-such-bug";
  ck_assert_int_eq(new_with(&o), VNS_ENOENT);
  vns_sim_opts_init(&o);
  o.driver_bugs = 0x8000;
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  vns_sim_opts_init(&o);
  o.memory = VNS_MEMORY_WEAK + 1;
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  vns_sim_opts_init(&o);
  o.memory = VNS_MEMORY_TSO;
  o.memory_delay_ns = 1000000000001ull; /* past 1000 s */
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  vns_sim_opts_init(&o);
  /* features reach the modelled pair: without VERSION_1 the driver gives up */
  o.device_features = VNS_BIT(5);
  ck_assert_int_eq(new_with(&o), VNS_ENOTSUP);
  vns_sim_opts_init(&o);
  o.device_features = VNS_BIT(VNS_F_VERSION_1);
  ck_assert_int_eq(new_with(&o), 0);
  vns_sim_opts_init(&o);
  o.driver = &no_probe_driver;
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  o.driver = &noop_driver;
  ck_assert_int_eq(new_with(&o), 0);
  o.bugs = "redox"; /* driver bugs belong to the modelled driver */
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
  o.bugs = "dev-used-event-equal"; /* device bugs to the modelled device: fine */
  ck_assert_int_eq(new_with(&o), 0);
  vns_sim_opts_init(&o);
  o.max_events = 0;
  ck_assert_int_eq(new_with(&o), VNS_EINVAL);
}
END_TEST

START_TEST(test_bug_catalogue_by_name) {
  unsigned d = 0, v = 0;
  ck_assert_int_eq(vns_bug_parse("redox", &d, &v), 0);
  ck_assert_uint_eq(d, VNS_BUG_REDOX);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(vns_bug_parse("tx-no-kick,dev-used-event-equal", &d, &v), 0);
  ck_assert_uint_eq(d, VNS_BUG_TX_NO_KICK);
  ck_assert_uint_eq(v, VNS_BUG_DEV_USED_EVENT_EQUAL);
  ck_assert_int_eq(vns_bug_parse("bogus", &d, &v), VNS_ENOENT);
  ck_assert_int_eq(vns_bug_parse(NULL, &d, &v), VNS_EINVAL);
  size_t n = 0;
  while (vns_bug_name(n)) {
    ck_assert_int_eq(vns_bug_parse(vns_bug_name(n), &d, &v), 0);
    n++;
  }
  ck_assert_uint_eq(n, 28); /* 20, the packed ring's five, mergeable buffers' three */
}
END_TEST

/* --- runs, counters, rings --------------------------------------------------- */

START_TEST(test_run_states_and_event_limit) {
  vns_sim_opts o;
  fixed_opts(&o);
  o.max_events = 3;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_eq(vns_sim_run(sim, VNS_TIME_IDLE), VNS_ELIMIT);
  int64_t n;
  while ((n = vns_sim_run(sim, VNS_TIME_IDLE)) == VNS_ELIMIT) {
  }
  ck_assert_int_ge(n, 0);
  ck_assert_int_eq(vns_sim_run(sim, VNS_TIME_IDLE), 0); /* idle */
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered");
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_int_eq(vns_sim_finish(sim), VNS_ESTATE);
  ck_assert_int_eq(vns_sim_run(sim, VNS_TIME_IDLE), VNS_ESTATE);
  uint8_t f[1] = {0};
  ck_assert_int_eq(vns_sim_inject(sim, T0, f, 1), VNS_ESTATE);
  ck_assert_int_eq(vns_sim_inject(sim, T0, f, 0), VNS_EINVAL);
  ck_assert_ptr_null(vns_sim_frame_fate(sim, 1));
  ck_assert_int_eq(vns_sim_frame_times(sim, 1, NULL, NULL), VNS_EINVAL);
  vns_sim_free(sim);
  vns_sim_free(NULL);
}
END_TEST

START_TEST(test_run_until_a_time_stops_there) {
  vns_sim_opts o;
  fixed_opts(&o);
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_ge(vns_sim_run(sim, T0 + 5 * US), 1);
  ck_assert_uint_le(vns_sim_now(sim), T0 + 5 * US);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "pending");
  uint64_t pending = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "pending", &pending), 0);
  ck_assert_uint_eq(pending, 1);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 1);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered");
  ck_assert_int_eq(vns_sim_fate_count(sim, "nonsense", &pending), VNS_ENOENT);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_every_counter_name_resolves) {
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(NULL, &sim), 0);
  size_t i = 0;
  uint64_t v;
  for (; vns_counter_name(i); i++)
    ck_assert_int_eq(vns_sim_counter(sim, vns_counter_name(i), &v), 0);
  /* 48 before the memory model's 7 (memory.stores_buffered .. memory.max_pending),
   * then fates.tx_double and driver.tx_held, then both halves' rx_merged, then
   * capture.spread, then conversations.over_limit */
  ck_assert_uint_eq(i, 61);
  ck_assert_int_eq(vns_sim_counter(sim, "device.nothing", &v), VNS_ENOENT);
  ck_assert_int_eq(vns_sim_counter(sim, "driver.kicks_rx", &v), 0);
  ck_assert_uint_eq(v, 1); /* the kick after posting every RX buffer */
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, 2, &r), VNS_EINVAL);
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_TX, &r), 0);
  ck_assert_uint_eq(r.avail_idx, 0);
  ck_assert_uint_eq(r.used_idx, 0);
  ck_assert_uint_eq(vns_sim_device_status(sim), 0x0f);
  vns_sim_free(sim);
}
END_TEST

/* The library composes through the scenario: the same options give the same
 * trace, hash for hash, as the scenario the command runs. */
START_TEST(test_modelled_sim_matches_the_scenario) {
  vns_sim *sim;
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.seed = 7;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);

  scn_config cfg;
  scn_config_default(&cfg);
  cfg.seed = 7;
  scn *s = calloc(1, sizeof *s);
  ck_assert_int_eq(scn_init(s, &cfg), 0);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  ck_assert_int_eq(scn_inject_at(s, T0, f, len), 0);
  scn_run(s, EMU_TIME_NEVER, UINT64_MAX);
  ck_assert_uint_eq(vns_sim_trace_hash(sim), s->trace.hash);
  ck_assert_uint_eq(vns_sim_trace_count(sim), s->trace.events);
  scn_close(s);
  free(s);
  vns_sim_free(sim);
}
END_TEST

/* --- memory and trace ------------------------------------------------------------ */

START_TEST(test_guest_memory_is_bounds_checked_and_little_endian) {
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(NULL, &sim), 0);
  uint64_t gpa = 0;
  ck_assert_int_eq(vns_mem_alloc(sim, 64, 64, &gpa), 0);
  ck_assert_uint_eq(gpa % 64, 0);
  ck_assert_uint_ne(gpa, 0);
  ck_assert_int_eq(vns_mem_write_le32(sim, gpa, 0x11223344u), 0);
  uint8_t raw[4];
  ck_assert_int_eq(vns_mem_read(sim, gpa, raw, 4), 0);
  ck_assert_uint_eq(raw[0], 0x44);
  ck_assert_uint_eq(raw[3], 0x11);
  uint64_t v64 = 0;
  ck_assert_int_eq(vns_mem_write_le64(sim, gpa + 8, 0x0102030405060708ull), 0);
  ck_assert_int_eq(vns_mem_read_le64(sim, gpa + 8, &v64), 0);
  ck_assert_uint_eq(v64, 0x0102030405060708ull);
  uint16_t v16 = 7;
  ck_assert_int_eq(vns_mem_read_le16(sim, 0, &v16), VNS_ERANGE);
  ck_assert_uint_eq(v16, 7);
  ck_assert_int_eq(vns_mem_write(sim, UINT64_MAX - 1, raw, 4), VNS_ERANGE);
  ck_assert_int_eq(vns_mem_alloc(sim, 1ull << 40, 8, &gpa), VNS_ENOSPC);
  ck_assert_int_eq(vns_mem_alloc(sim, 8, 3, &gpa), VNS_EINVAL);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_trace_without_store_still_hashes) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.keep_trace = 0;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_uint_eq(vns_sim_trace_count(sim), 0);
  vns_trace_event ev;
  ck_assert_int_eq(vns_sim_trace_event(sim, 0, &ev), VNS_ENOTSUP);
  ck_assert_uint_ne(vns_sim_trace_hash(sim), 0xcbf29ce484222325ull);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_trace_format_reports_short_buffers_and_unknown_events) {
  vns_trace_event ev = {56245, "device", "used_pushed", "rx", 1, 1, 110, -1, NULL};
  char line[128];
  int n = vns_trace_format(&ev, line, sizeof line);
  ck_assert_str_eq(
      line,
      "{\"t\":56245,\"actor\":\"device\",\"ev\":\"used_pushed\",\"q\":\"rx\",\"head\":1,"
      "\"idx\":1,\"len\":110}");
  ck_assert_int_eq(n, (int)strlen(line));
  ck_assert_int_eq(vns_trace_format(&ev, line, (size_t)n), VNS_ENOSPC);
  ev.event = "no_such_event";
  ck_assert_int_eq(vns_trace_format(&ev, line, sizeof line), VNS_ENOENT);
  ck_assert_int_eq(vns_trace_format(NULL, line, sizeof line), VNS_EINVAL);
}
END_TEST

START_TEST(test_frame_builders_refuse_short_buffers) {
  uint8_t buf[100];
  ck_assert_uint_eq(vns_frame_arp_request(buf, 20, VNS_GUEST_IP), 0);
  static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  ck_assert_uint_eq(vns_frame_ping(buf, sizeof buf, mac, VNS_GUEST_IP, 1, 98), 98);
  ck_assert_uint_eq(vns_frame_ping(buf, sizeof buf, mac, VNS_GUEST_IP, 1, 200), 0);
  ck_assert_uint_eq(vns_frame_ping(buf, sizeof buf, mac, VNS_GUEST_IP, 1, 20), 0);
}
END_TEST

START_TEST(test_ping_is_answered) {
  vns_sim_opts o;
  fixed_opts(&o);
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  uint8_t f[128];
  inject_arp(sim, T0); /* the guest learns the host's MAC first */
  size_t len = vns_frame_ping(f, sizeof f, o.guest_mac, VNS_GUEST_IP, 1, 98);
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 100 * US, f, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 1), "answered");
  vns_sim_free(sim);
}
END_TEST

/* A callback that tries to run, finish and free the sim it is called from. */
typedef struct reentry {
  vns_sim *sim; /* set once vns_sim_new returned */
  size_t tries;
  int run_rc, finish_rc, free_rc;
} reentry;

static void reentry_trace(void *ctx, const vns_trace_event *ev) {
  reentry *r = ctx;
  (void)ev;
  if (!r->sim || r->tries++) return;
  r->run_rc = (int)vns_sim_run(r->sim, VNS_TIME_IDLE);
  r->finish_rc = vns_sim_finish(r->sim);
  r->free_rc = vns_sim_free(r->sim);
}

START_TEST(test_rule_table_is_enumerable) {
  vns_rule_info r;
  size_t n = 0;
  for (; vns_rule_describe(n, &r) == 0; n++) {
    ck_assert(r.name[0] && r.section[0] && r.text[0]);
    ck_assert_msg(r.section[0] >= '1' && r.section[0] <= '9', "%s: section '%s'", r.name,
                  r.section);
  }
  ck_assert_uint_ge(n, 20);
  ck_assert_int_eq(vns_rule_describe(n, &r), VNS_EINVAL);
  ck_assert_int_eq(vns_rule_describe(0, NULL), VNS_EINVAL);
  ck_assert_int_eq(vns_rule_describe(0, &r), 0);
  ck_assert_str_eq(r.name, "desc_index_range");
}
END_TEST

START_TEST(test_callbacks_cannot_reenter_the_run) {
  vns_sim_opts o;
  fixed_opts(&o);
  reentry r = {NULL, 0, 0, 0, 0};
  o.trace_fn = reentry_trace;
  o.trace_ctx = &r;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  r.sim = sim;
  inject_arp(sim, T0);
  ck_assert_int_gt(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_uint_gt(r.tries, 1);
  ck_assert_int_eq(r.run_rc, VNS_ESTATE);
  ck_assert_int_eq(r.finish_rc, VNS_ESTATE);
  ck_assert_int_eq(r.free_rc, VNS_ESTATE);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered"); /* the outer run went on */
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_int_eq(vns_sim_free(sim), 0);
  ck_assert_int_eq(vns_sim_free(NULL), 0);
}
END_TEST

/* --- what the command needs, through the API ------------------------------------------- */

START_TEST(test_fate_names_index_the_ledger) {
  ck_assert_str_eq(vns_fate_name(0), "pending");
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(NULL, &sim), 0);
  size_t n = 0;
  uint64_t v;
  for (; vns_fate_name(n); n++) ck_assert_int_eq(vns_sim_fate_count(sim, vns_fate_name(n), &v), 0);
  ck_assert_uint_gt(n, 10);
  ck_assert_uint_le(n, VNS_FATE_SLOTS);
  ck_assert_ptr_null(vns_fate_name(n + 100));
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_bug_catalogue_describes_and_names) {
  vns_bug_info b;
  size_t n = 0;
  for (; vns_bug_describe(n, &b) == 0; n++) {
    ck_assert_str_eq(b.name, vns_bug_name(n));
    ck_assert(!strcmp(b.side, "driver") || !strcmp(b.side, "device"));
    ck_assert(b.cause[0] && b.symptom[0] && b.fix[0] && b.section[0]);
    unsigned d = 0, v = 0;
    ck_assert_int_eq(vns_bug_parse(b.name, &d, &v), 0);
    ck_assert_uint_eq(!strcmp(b.side, "driver") ? d : v, b.bit);
    char names[256];
    ck_assert_int_eq(vns_bug_names(d, v, names, sizeof names), (int)strlen(b.name));
    ck_assert_str_eq(names, b.name);
  }
  ck_assert_ptr_null(vns_bug_name(n));
  ck_assert_int_eq(vns_bug_describe(n, &b), VNS_EINVAL);
  unsigned d = 0, v = 0;
  ck_assert_int_eq(vns_bug_parse("redox", &d, &v), 0);
  char small[4], names[256];
  ck_assert_int_eq(vns_bug_names(d, v, small, sizeof small), VNS_ENOSPC);
  ck_assert_int_gt(vns_bug_names(d, v, names, sizeof names), 0);
  ck_assert_ptr_nonnull(strstr(names, "rx-no-recycle"));
  ck_assert_int_eq(vns_bug_names(0, 0, names, sizeof names), 4);
  ck_assert_str_eq(names, "none");
}
END_TEST

START_TEST(test_link_faults_are_checked_and_named) {
  char why[128] = "";
  ck_assert_int_eq(vns_faults_check("drop=0.5,corrupt=0.01", why, sizeof why), 0);
  ck_assert_int_eq(vns_faults_check("drop=2", why, sizeof why), VNS_EINVAL);
  ck_assert_str_ne(why, "");
  ck_assert_int_eq(vns_faults_check("nonsense=1", NULL, 0), VNS_EINVAL);
  vns_sim_opts o;
  fixed_opts(&o);
  o.faults = "drop=7";
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EINVAL);
  o.faults = "drop=1";
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  for (int i = 0; i < 3; i++) inject_arp(sim, T0 + i * 100 * US);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  for (size_t i = 0; i < 3; i++) {
    ck_assert_str_eq(vns_sim_frame_fate(sim, i), "fault_drop");
    ck_assert_int_eq(vns_sim_sent_frame(sim, i), (int64_t)i);
  }
  ck_assert_int_eq(vns_sim_sent_frame(sim, 3), -1);
  uint64_t v;
  ck_assert_int_eq(vns_sim_counter(sim, "link.fault_drop", &v), 0);
  ck_assert_uint_eq(v, 3);
  ck_assert_ptr_null(vns_sim_needs_reset(sim));
  vns_sim_free(sim);
  o.faults = "corrupt=1";
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fault(sim, 0), "fault_corrupt");
  /* an ARP frame has no checksum: the flipped byte was still answered, and
   * the reply was corrupted on its way back too */
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "answered");
  ck_assert_int_eq(vns_sim_counter(sim, "link.fault_corrupt", &v), 0);
  ck_assert_uint_eq(v, 2);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_captured_frames_keep_link_order) {
  vns_sim_opts o;
  fixed_opts(&o);
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  uint8_t f[64];
  size_t len = vns_frame_arp_request(f, sizeof f, VNS_GUEST_IP);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0, f, len, len), 0);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0 - 500 * US, f, len, len + 10), 0);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0, NULL, 5, 5), VNS_EINVAL);
  /* an empty record, a time no clock holds, then a good frame again */
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0 + 100 * US, NULL, 0, 0), 0);
  ck_assert_int_eq(vns_sim_inject_captured(sim, UINT64_MAX, f, len, len), 0);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0 + 300 * US, f, len, len), 0);
  ck_assert_int_eq(vns_sim_inject(sim, VNS_TIME_MAX + 1, f, len), VNS_EINVAL);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_uint_eq(vns_sim_frame_count(sim), 5);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 2), "frame_invalid");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 3), "bad_timestamp");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 4), "answered"); /* not dragged past the end */
  ck_assert_uint_lt(vns_sim_now(sim), T0 + 1000000000ull);
  uint64_t entered0, entered1, left;
  ck_assert_int_eq(vns_sim_frame_times(sim, 0, &entered0, &left), 0);
  ck_assert_int_eq(vns_sim_frame_times(sim, 1, &entered1, &left), 0);
  ck_assert_uint_ge(entered1, entered0); /* not before its predecessor */
  uint64_t v;
  ck_assert_int_eq(vns_sim_counter(sim, "capture.out_of_order", &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_int_eq(vns_sim_counter(sim, "capture.truncated", &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_int_eq(vns_sim_counter(sim, "capture.bad_timestamp", &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_int_eq(vns_sim_counter(sim, "host.frames_unsent", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0, f, len, len), VNS_ESTATE);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_bursts_are_answered_by_the_fixed_driver_only) {
  size_t answered[2] = {0, 0}, frames[2] = {0, 0};
  for (int buggy = 0; buggy < 2; buggy++) {
    vns_sim_opts o;
    vns_sim_opts_init(&o);
    o.seed = 7;
    if (buggy) ck_assert_int_eq(vns_bug_parse("redox", &o.driver_bugs, &o.device_bugs), 0);
    vns_sim *sim;
    ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
    ck_assert_int_eq(vns_sim_inject_bursts(sim, 7, 200), 0);
    ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
    frames[buggy] = vns_sim_frame_count(sim);
    for (size_t i = 0; i < frames[buggy]; i++)
      answered[buggy] += !strcmp(vns_sim_frame_fate(sim, i), "answered");
    vns_sim_free(sim);
  }
  ck_assert_uint_eq(frames[0], frames[1]); /* same seed, same workload */
  ck_assert_uint_gt(frames[0], 200);
  ck_assert_uint_eq(answered[0], frames[0]);
  ck_assert_uint_lt(answered[1], frames[1]);
}
END_TEST

START_TEST(test_host_peer_pings_the_guest) {
  vns_sim_opts o;
  fixed_opts(&o);
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  ck_assert_int_eq(vns_host_ping_at(sim, T0, VNS_GUEST_IP, 1, 56), VNS_ENOTSUP);
  ck_assert_uint_eq(vns_host_ping_count(sim), 0);
  vns_sim_free(sim);
  o.host_peer = 1;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  for (uint16_t seq = 1; seq <= 3; seq++)
    ck_assert_int_eq(vns_host_ping_at(sim, T0 + seq * 1000 * US, VNS_GUEST_IP, seq, 56), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_uint_eq(vns_host_ping_count(sim), 3);
  vns_ping p;
  for (size_t i = 0; i < 3; i++) {
    ck_assert_int_eq(vns_host_ping(sim, i, &p), 0);
    ck_assert_uint_eq(p.seq, i + 1);
    ck_assert_str_eq(p.state, "replied");
    ck_assert_uint_gt(p.rtt_ns, 2 * 10 * US); /* two link crossings at least */
  }
  ck_assert_int_eq(vns_host_ping(sim, 3, &p), VNS_EINVAL);
  vns_sim_free(sim);
}
END_TEST

/* --- the guest as a client, through the library --------------------------
 * The user plays the DHCP server: host_rx sees the guest's DISCOVER and
 * REQUEST, and the test injects an OFFER and an ACK built here (Ethernet,
 * IPv4 with its checksum, UDP without one, RFC 2131's fields). */

typedef struct dhcp_play {
  vns_sim *sim;
  unsigned discovers, requests;
} dhcp_play;

static const uint8_t dhcp_guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static size_t dhcp_frame(uint8_t *f, uint32_t xid, uint8_t type) {
  memset(f, 0, 400);
  memcpy(f, dhcp_guest_mac, 6);
  static const uint8_t host_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
  memcpy(f + 6, host_mac, 6);
  put16(f + 12, 0x0800);
  uint8_t *ip = f + 14, *udp = ip + 20, *d = udp + 8;
  d[0] = 2, d[1] = 1, d[2] = 6;
  put16(d + 4, xid >> 16), put16(d + 6, xid & 0xffff);
  d[16] = 10, d[17] = 0, d[18] = 2, d[19] = 77; /* yiaddr 10.0.2.77 */
  memcpy(d + 28, dhcp_guest_mac, 6);
  d[236] = 99, d[237] = 130, d[238] = 83, d[239] = 99;
  const uint8_t opts[] = {53,  1,   type, 54, 4, 10, 0,  2, 2, 51, 4, 0, 0,  0x0e, 0x10, 1,  4,
                          255, 255, 255,  0,  3, 4,  10, 0, 2, 2,  6, 4, 10, 0,    2,    53, 255};
  memcpy(d + 240, opts, sizeof opts);
  size_t dlen = 240 + sizeof opts;
  put16(udp, 67), put16(udp + 2, 68), put16(udp + 4, (unsigned)(8 + dlen));
  ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
  put16(ip + 2, (unsigned)(20 + 8 + dlen));
  ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 2;
  memset(ip + 16, 255, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)ip[i] << 8 | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, ~sum & 0xffff);
  return 14 + 20 + 8 + dlen;
}

static void dhcp_server_rx(void *ctx, const uint8_t *f, size_t len, uint64_t now_ns) {
  dhcp_play *p = ctx;
  if (len < 14 + 20 + 8 + 243 || f[12] != 0x08 || f[13] != 0 || f[14 + 9] != 17) return;
  const uint8_t *udp = f + 34, *d = udp + 8;
  if ((udp[2] << 8 | udp[3]) != 67 || d[240] != 53) return;
  uint32_t xid = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
  uint8_t reply[400];
  size_t n = dhcp_frame(reply, xid, d[242] == 1 ? 2 : 5); /* DISCOVER: OFFER; REQUEST: ACK */
  p->discovers += d[242] == 1;
  p->requests += d[242] == 3;
  ck_assert_int_eq(vns_sim_inject(p->sim, now_ns + 50 * US, reply, n), 0);
}

/* One run; returns its trace hash. */
static uint64_t dhcp_through_the_library(void) {
  vns_sim_opts o;
  fixed_opts(&o);
  o.dhcp = 1;
  dhcp_play play = {0};
  o.host_rx = dhcp_server_rx;
  o.host_rx_ctx = &play;
  ck_assert_int_eq(vns_sim_new(&o, &play.sim), 0);
  vns_sim *sim = play.sim;
  char why[256];
  ck_assert_int_eq(vns_guest_action(sim, "fetch it", 0, why, sizeof why), VNS_EINVAL);
  ck_assert_ptr_nonnull(strstr(why, "not an action"));
  ck_assert_int_eq(vns_guest_action(sim, "tcp 10.0.2.2:9 x", 0, why, sizeof why), 0);
  ck_assert_uint_eq(vns_guest_action_count(sim), 1);
  ck_assert_int_eq(vns_guest_actions_done(sim), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  vns_dhcp_lease l;
  ck_assert_int_eq(vns_guest_dhcp(sim, &l), 0);
  ck_assert_str_eq(l.state, "bound");
  ck_assert_uint_eq(l.ip, VNS_IP(10, 0, 2, 77));
  ck_assert_uint_eq(l.netmask, VNS_IP(255, 255, 255, 0));
  ck_assert_uint_eq(l.gateway, VNS_HOST_IP);
  ck_assert_uint_eq(l.dns, VNS_IP(10, 0, 2, 53));
  ck_assert_uint_eq(l.lease_s, 3600);
  ck_assert_uint_eq(play.discovers, 1);
  ck_assert_uint_eq(play.requests, 1);
  /* nobody answers the guest's ARP for 10.0.2.2: the flow fails, and says so */
  ck_assert_int_eq(vns_guest_actions_done(sim), 1);
  vns_guest_result r;
  ck_assert_int_eq(vns_guest_action_result(sim, 0, &r), 0);
  ck_assert_str_eq(r.state, "failed");
  ck_assert_str_ne(r.error, "");
  ck_assert_int_eq(vns_guest_action_result(sim, 1, &r), VNS_EINVAL);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_int_eq(vns_guest_action(sim, "tcp 10.0.2.2:9 x", 0, why, sizeof why), VNS_ESTATE);
  uint64_t hash = vns_sim_trace_hash(sim);
  vns_sim_free(sim);
  return hash;
}

START_TEST(test_guest_takes_dhcp_from_a_server_the_user_plays) {
  ck_assert_uint_eq(dhcp_through_the_library(), dhcp_through_the_library());
  vns_sim_opts o;
  fixed_opts(&o);
  vns_sim *sim;
  vns_dhcp_lease l;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  ck_assert_int_eq(vns_guest_dhcp(sim, &l), VNS_ENOTSUP);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_story_shows_the_redox_symptoms) {
  vns_story fixed, buggy;
  ck_assert_int_eq(vns_story_run(NULL, &fixed), 0);
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  ck_assert_int_eq(vns_bug_parse("redox", &o.driver_bugs, &o.device_bugs), 0);
  ck_assert_int_eq(vns_story_run(&o, &buggy), 0);
  ck_assert_int_eq(fixed.first_rx_no_buffer, -1);
  ck_assert_str_eq(fixed.host_arp_fate, "answered");
  ck_assert_uint_eq(fixed.host_pings_replied, fixed.host_pings);
  ck_assert_uint_eq(fixed.tcp_echoed, fixed.tcp_sent);
  ck_assert_int_ge(buggy.first_rx_no_buffer, 256);
  ck_assert_str_eq(buggy.host_arp_fate, "rx_no_buffer");
  ck_assert_uint_eq(buggy.host_pings_replied, 0);
  ck_assert_uint_lt(buggy.tcp_echoed, buggy.tcp_sent);
  uint64_t sum = 0;
  for (size_t i = 0; vns_fate_name(i); i++) sum += buggy.fate_counts[i];
  ck_assert_uint_eq(sum, buggy.frames_in); /* every frame has one fate */
  o.driver = (const vns_driver_ops *)&o;   /* any non-NULL: the story needs the model */
  ck_assert_int_eq(vns_story_run(&o, &buggy), VNS_EINVAL);
}
END_TEST

/* --- a user driver on the ring helpers -------------------------------------------------- */

/* A correct driver written on vns_vq_*: EVENT_IDX, all RX buffers posted,
 * every used entry consumed and re-posted, interrupts re-enabled with a
 * second look. Options let tests make it break rules on purpose. */
typedef struct helper_drv {
  vns_transport *t;
  vns_vq *rx, *tx;
  uint64_t bufs;
  uint32_t buf_len;   /* RX buffer size */
  int setup_late;     /* set up TX after DRIVER_OK: a rule broken */
  int bad_first_desc; /* write descriptor 0's next past the queue, with NEXT set */
  int indirect;       /* INDIRECT_DESC: each RX buffer as header + data in a table */
  int packed;         /* RING_PACKED: both queues packed (§2.8) */
  size_t received, timers, removed;
  uint64_t timer_at;
} helper_drv;

/* Offers RX buffer i: one segment, or with indirect the header and the
 * frame's room as two, which go in an indirect table. */
static int helper_post(helper_drv *d, uint32_t i, void *token) {
  uint64_t at = d->bufs + (uint64_t)i * d->buf_len;
  vns_sg one = {at, d->buf_len};
  vns_sg two[2] = {{at, VNS_NET_HDR_LEN}, {at + VNS_NET_HDR_LEN, d->buf_len - VNS_NET_HDR_LEN}};
  return d->indirect ? vns_vq_add(d->rx, two, 0, 2, token) : vns_vq_add(d->rx, &one, 0, 1, token);
}

static int helper_probe(void *ctx, vns_sim *sim, vns_transport *t) {
  helper_drv *d = ctx;
  d->t = t;
  ck_assert_ptr_eq(vns_sim_transport(sim), t);
  int rc = vns_transport_set_status(t, 0);
  if (!rc) rc = vns_transport_set_status(t, VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER);
  uint64_t want = VNS_BIT(VNS_F_VERSION_1) | VNS_BIT(VNS_F_EVENT_IDX) | VNS_BIT(VNS_F_NET_MAC) |
                  (d->indirect ? VNS_BIT(VNS_F_INDIRECT_DESC) : 0) |
                  (d->packed ? VNS_BIT(VNS_F_RING_PACKED) : 0);
  if (!rc) rc = vns_transport_set_driver_features(t, vns_transport_device_features(t) & want);
  uint8_t st = VNS_STATUS_ACKNOWLEDGE | VNS_STATUS_DRIVER | VNS_STATUS_FEATURES_OK;
  if (!rc) rc = vns_transport_set_status(t, st);
  if (rc) return rc;
  uint8_t mac[6];
  ck_assert_int_eq(vns_transport_read_config(t, VNS_CFG_MAC, mac, 6), 0);
  ck_assert_uint_eq(mac[0], 0x52);
  ck_assert_int_eq(vns_transport_read_config(t, VNS_CFG_MTU, mac, 6), VNS_ERANGE);
  uint16_t size = 16;
  ck_assert_uint_ge(vns_transport_queue_max_size(t, VNS_QUEUE_RX), size);
  ck_assert_uint_eq(vns_transport_queue_max_size(t, 5), 0);
  unsigned pk = d->packed ? VNS_VQ_PACKED : 0;
  unsigned flags = VNS_VQ_EVENT_IDX | (d->indirect ? VNS_VQ_INDIRECT : 0) | pk;
  rc = vns_vq_new(sim, VNS_QUEUE_RX, size, flags, &d->rx);
  if (!rc) rc = vns_vq_new(sim, VNS_QUEUE_TX, size, VNS_VQ_EVENT_IDX | pk, &d->tx);
  vns_ring_layout rl = vns_vq_layout(d->rx), tl = vns_vq_layout(d->tx);
  if (!rc) rc = vns_transport_queue_setup(t, VNS_QUEUE_RX, &rl);
  if (!rc && !d->setup_late) rc = vns_transport_queue_setup(t, VNS_QUEUE_TX, &tl);
  if (!rc) rc = vns_mem_alloc(sim, (uint64_t)size * d->buf_len, 64, &d->bufs);
  for (uint16_t i = 0; !rc && i < size; i++) {
    int head = helper_post(d, i, (void *)(uintptr_t)(i + 1));
    if (head < 0) rc = head;
  }
  if (rc) return rc;
  if (d->bad_first_desc) {
    /* descriptor 0 now claims a next descriptor 999 in a queue of 16 */
    vns_ring_layout l = vns_vq_layout(d->rx);
    vns_mem_write_le16(sim, VNS_DESC_ADDR(&l, 0) + 12, VNS_DESC_F_WRITE | VNS_DESC_F_NEXT);
    vns_mem_write_le16(sim, VNS_DESC_ADDR(&l, 0) + 14, 999);
  }
  ck_assert_uint_eq(vns_vq_num_free(d->rx), 0);
  rc = vns_transport_set_status(t, st | VNS_STATUS_DRIVER_OK);
  if (rc) return rc;
  if (d->setup_late) ck_assert_int_eq(vns_transport_queue_setup(t, VNS_QUEUE_TX, &tl), VNS_ESTATE);
  if (vns_vq_publish(d->rx) == 1) vns_transport_notify(t, VNS_QUEUE_RX);
  return 0;
}

static void helper_irq(void *ctx, vns_sim *sim, uint16_t q) {
  helper_drv *d = ctx;
  (void)sim;
  if (q != VNS_QUEUE_RX) return;
  do {
    vns_used u;
    int rc;
    while ((rc = vns_vq_get_used(d->rx, &u)) != VNS_EAGAIN) {
      if (!u.token) break;
      if (rc == 0) d->received++;
      helper_post(d, (uint32_t)((uintptr_t)u.token - 1), u.token);
    }
    if (vns_vq_publish(d->rx) == 1) vns_transport_notify(d->t, VNS_QUEUE_RX);
  } while (vns_vq_enable_interrupts(d->rx)); /* §2.7.7.1: look again */
}

static void helper_timer(void *ctx, vns_sim *sim, uint64_t now) {
  helper_drv *d = ctx;
  (void)sim;
  d->timers++;
  d->timer_at = now;
}

static void helper_remove(void *ctx, vns_sim *sim) {
  helper_drv *d = ctx;
  (void)sim;
  vns_vq_free(d->tx); /* freeing early is allowed; the sim frees the rest */
  d->tx = NULL;
  d->removed++;
}

static const vns_driver_ops helper_ops = {helper_probe, helper_irq, helper_timer, helper_remove,
                                          NULL};

static vns_sim *helper_start(helper_drv *d) {
  vns_sim_opts o;
  fixed_opts(&o);
  o.queue_size = 16;
  o.ring = d->packed ? VNS_RING_PACKED : VNS_RING_SPLIT;
  o.driver = &helper_ops;
  o.driver_ctx = d;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  return sim;
}

/* The same driver on packed rings: the helpers take VNS_VQ_PACKED, the
 * modelled device serves it once RING_PACKED is negotiated. */
START_TEST(test_user_driver_on_packed_helpers_delivers_every_frame) {
  helper_drv d = {.buf_len = VNS_NET_MIN_RX_BUF, .packed = 1};
  vns_sim *sim = helper_start(&d);
  for (uint64_t i = 0; i < 40; i++) inject_arp(sim, T0 + (i / 4) * 50 * US);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  uint64_t n = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "delivered", &n), 0);
  ck_assert_uint_eq(n, 40);
  ck_assert_uint_eq(d.received, 40);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  ck_assert_uint_eq(vns_sim_note_count(sim), 0);
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_int_eq(r.packed, 1);
  /* the device used 40 one-descriptor buffers of a 16-entry ring: 2 laps
   * and 8, so its wrap counter flipped twice back to 1 */
  ck_assert_int_eq(r.device_next_used, 8 | 1 << 15);
  ck_assert_int_eq(r.driver_last_used, -1); /* the driver is ours */
  vns_used u;
  ck_assert_int_eq(vns_vq_take_used_at(d.rx, 0, &u), VNS_ENOTSUP);
  vns_sim_free(sim);
  /* packed rings in a run whose device does not offer RING_PACKED: the
   * driver's features drop it, so the device takes the three addresses as a
   * split ring's and refuses them, naming the rule */
  vns_sim_opts o;
  fixed_opts(&o);
  o.queue_size = 16;
  helper_drv d2 = {.buf_len = VNS_NET_MIN_RX_BUF, .packed = 1};
  o.driver = &helper_ops;
  o.driver_ctx = &d2;
  vns_sim_failure why;
  ck_assert_int_eq(vns_sim_new_why(&o, &sim, &why), VNS_EPROTO);
  ck_assert_uint_eq(why.violation_count, 1);
  ck_assert_str_eq(why.violations[0].rule, "ring_overlap");
}
END_TEST

START_TEST(test_user_driver_on_helpers_delivers_every_frame) {
  helper_drv d = {.buf_len = VNS_NET_MIN_RX_BUF};
  vns_sim *sim = helper_start(&d);
  for (uint64_t i = 0; i < 40; i++) inject_arp(sim, T0 + (i / 4) * 50 * US);
  ck_assert_int_eq(vns_driver_timer_at(sim, T0 + 7 * US), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  uint64_t n = 0;
  ck_assert_int_eq(vns_sim_fate_count(sim, "delivered", &n), 0);
  ck_assert_uint_eq(n, 40);
  ck_assert_uint_eq(d.received, 40);
  ck_assert_uint_eq(d.timers, 1);
  ck_assert_uint_eq(d.timer_at, T0 + 7 * US);
  ck_assert_int_eq(vns_sim_counter(sim, "device.rx_frames", &n), 0);
  ck_assert_uint_eq(n, 40);
  ck_assert_int_eq(vns_sim_counter(sim, "driver.rx_frames", &n), VNS_ENOTSUP);
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_uint_eq(r.used_idx, 40);
  ck_assert_uint_eq(r.avail_idx, 16 + 40);
  ck_assert_uint_eq(r.used_event, 40); /* EVENT_IDX: interrupt at the next one */
  ck_assert_int_eq(r.driver_last_used, -1);
  ck_assert_int_eq(r.device_last_avail, 40);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  /* Pinned: the same options and inputs give this schedule, whatever the
   * composition's code looks like. A change that moves it says so. */
  ck_assert_uint_eq(vns_sim_trace_hash(sim), 0x1c32e93df07e8205ull);
  /* a NULL token would read back as "a bad entry": refused */
  vns_sg sg = {0x1000, 64};
  unsigned free_before = vns_vq_num_free(d.rx);
  ck_assert_int_eq(vns_vq_add(d.rx, &sg, 0, 1, NULL), VNS_EINVAL);
  ck_assert_uint_eq(vns_vq_num_free(d.rx), free_before);
  vns_sim_free(sim);
  ck_assert_uint_eq(d.removed, 1);
}
END_TEST

/* With INDIRECT_DESC each two-segment RX buffer is one ring descriptor
 * pointing at a table (§2.7.5.3), and the device reads it as such. */
START_TEST(test_user_driver_indirect_buffers_deliver_every_frame) {
  helper_drv d = {.buf_len = VNS_NET_MIN_RX_BUF, .indirect = 1};
  vns_sim *sim = helper_start(&d);
  vns_ring_layout l = vns_vq_layout(d.rx);
  uint16_t flags = 0;
  ck_assert_int_eq(vns_mem_read_le16(sim, VNS_DESC_ADDR(&l, 0) + 12, &flags), 0);
  ck_assert_uint_eq(flags, VNS_DESC_F_INDIRECT);
  for (uint64_t i = 0; i < 40; i++) inject_arp(sim, T0 + (i / 4) * 50 * US);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_uint_eq(d.received, 40);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_user_driver_small_buffers_are_reported_by_rule) {
  helper_drv d = {.buf_len = 64};
  vns_sim *sim = helper_start(&d);
  inject_arp(sim, T0); /* 12 + 42 bytes fit in 64 */
  uint8_t big[200] = {0};
  memset(big, 0xff, 6); /* broadcast, so only its size matters */
  ck_assert_int_eq(vns_sim_inject(sim, T0 + 100 * US, big, sizeof big), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "delivered");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 1), "rx_buffer_too_small");
  /* the warning when the device first takes a short buffer, then the frame
   * that did not fit */
  ck_assert_uint_eq(vns_sim_violation_count(sim), 2);
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, "rx_buf_short");
  ck_assert_int_eq(vns_sim_violation(sim, 1, &v), 0);
  ck_assert_str_eq(v.rule, "rx_buf_too_small");
  ck_assert_str_eq(v.actor, "device");
  ck_assert_str_eq(v.queue, "rx");
  ck_assert_str_eq(v.section, "5.1.6.3.1");
  ck_assert_int_eq(vns_sim_violation(sim, 2, &v), VNS_EINVAL);
  /* one bad buffer costs one frame, not the device */
  ck_assert_uint_eq(vns_sim_device_status(sim) & VNS_STATUS_DEVICE_NEEDS_RESET, 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_user_driver_bad_descriptor_breaks_the_device) {
  helper_drv d = {.buf_len = VNS_NET_MIN_RX_BUF, .bad_first_desc = 1};
  vns_sim *sim = helper_start(&d);
  inject_arp(sim, T0);
  inject_arp(sim, T0 + 100 * US);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "device_broken");
  ck_assert_str_eq(vns_sim_frame_fate(sim, 1), "device_broken");
  ck_assert_uint_ne(vns_sim_device_status(sim) & VNS_STATUS_DEVICE_NEEDS_RESET, 0);
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, "desc_index_range");
  ck_assert_int_eq(v.head, 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_user_driver_queue_setup_after_driver_ok_is_a_violation) {
  helper_drv d = {.buf_len = VNS_NET_MIN_RX_BUF, .setup_late = 1};
  vns_sim *sim = helper_start(&d);
  ck_assert_uint_eq(vns_sim_violation_count(sim), 1);
  vns_violation v;
  ck_assert_int_eq(vns_sim_violation(sim, 0, &v), 0);
  ck_assert_str_eq(v.rule, "queue_after_driver_ok");
  ck_assert_str_eq(v.queue, "tx");
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_user_half_calls_refuse_the_wrong_mode) {
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(NULL, &sim), 0);
  vns_vq *vq = (vns_vq *)1;
  vns_dvq *dq = (vns_dvq *)1;
  vns_ring_layout l = {16, 0x40000000, 0x40000100, 0x40000200};
  ck_assert_ptr_null(vns_sim_transport(sim));
  ck_assert_int_eq(vns_vq_new(sim, 0, 16, 0, &vq), VNS_EINVAL);
  ck_assert_ptr_null(vq);
  ck_assert_int_eq(vns_dvq_new(sim, 0, &l, 0, &dq), VNS_EINVAL);
  ck_assert_ptr_null(dq);
  ck_assert_int_eq(vns_driver_timer_at(sim, 0), VNS_ENOTSUP);
  ck_assert_int_eq(vns_driver_rx_consumed(sim, 0, 1), VNS_ENOTSUP);
  ck_assert_int_eq(vns_device_interrupt(sim, 0), VNS_EINVAL);
  ck_assert_int_eq(vns_device_frame_dropped(sim, 0, "rx_no_buffer"), VNS_EINVAL);
  ck_assert_int_eq(vns_transport_notify(NULL, 0), VNS_EINVAL);
  vns_sim_free(sim);
}
END_TEST

/* --- a user device ----------------------------------------------------------------- */

/* Just enough device for the modelled driver's probe; frames are dropped by
 * name, and a ring outside guest memory is refused at setup. */
typedef struct stub_dev {
  uint8_t status;
  vns_dvq *q[2];
  int misplace_rx; /* hand vns_dvq_new a ring outside guest memory */
  int rc_setup;
} stub_dev;

static uint64_t stub_features(void *c, vns_sim *s) {
  (void)c, (void)s;
  return VNS_BIT(VNS_F_VERSION_1);
}
static int stub_set_features(void *c, vns_sim *s, uint64_t f) {
  (void)c, (void)s, (void)f;
  return 0;
}
static uint8_t stub_get_status(void *c, vns_sim *s) {
  (void)s;
  return ((stub_dev *)c)->status;
}
static int stub_set_status(void *c, vns_sim *s, uint8_t st) {
  (void)s;
  ((stub_dev *)c)->status = st;
  return 0;
}
static uint16_t stub_qmax(void *c, vns_sim *s, uint16_t q) {
  (void)c, (void)s;
  return q < 2 ? 16 : 0;
}
static int stub_setup(void *c, vns_sim *s, uint16_t q, const vns_ring_layout *l) {
  stub_dev *d = c;
  vns_ring_layout copy = *l;
  if (d->misplace_rx && q == VNS_QUEUE_RX) copy.used = 0x10;
  int rc = vns_dvq_new(s, q, &copy, 0, &d->q[q]);
  if (q == VNS_QUEUE_RX) d->rc_setup = rc;
  return rc;
}
static void stub_kick(void *c, vns_sim *s, uint16_t q) { (void)c, (void)s, (void)q; }
static void stub_frame(void *c, vns_sim *s, uint32_t id, const uint8_t *f, size_t len) {
  stub_dev *d = c;
  (void)f, (void)len;
  ck_assert_ptr_null(vns_dvq_broken(d->q[VNS_QUEUE_RX]));
  ck_assert_int_eq(vns_device_frame_dropped(s, id, "no_such_fate"), VNS_ENOENT);
  ck_assert_int_eq(vns_device_frame_dropped(s, id, "link_down"), 0);
  ck_assert_int_eq(vns_device_frame_dropped(s, id, "link_down"), VNS_ESTATE);
  ck_assert_int_eq(vns_device_frame_placed(s, id + 100, 0), VNS_EINVAL);
}
static const vns_device_ops stub_ops = {stub_features,
                                        stub_set_features,
                                        stub_get_status,
                                        stub_set_status,
                                        NULL,
                                        stub_qmax,
                                        stub_setup,
                                        stub_kick,
                                        stub_frame,
                                        NULL,
                                        NULL,
                                        NULL};

START_TEST(test_user_device_drops_by_fate_name) {
  stub_dev d = {0};
  vns_sim_opts o;
  fixed_opts(&o);
  o.queue_size = 16;
  o.device = &stub_ops;
  o.device_ctx = &d;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  inject_arp(sim, T0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 0), "link_down");
  ck_assert_int_eq(vns_device_timer_at(sim, T0), VNS_ENOTSUP);
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_uint_eq(r.avail_idx, 16);
  ck_assert_int_eq(r.device_last_avail, -1);
  ck_assert_uint_eq(vns_sim_trace_hash(sim), 0xf3ba16df36236518ull); /* pinned, as above */
  vns_sim_free(sim);
}
END_TEST

/* The modelled driver asks for 256 entries, the device offers 16: the driver
 * takes 16, as a real one does (§4.1.4.3), instead of failing to build. */
START_TEST(test_modelled_driver_takes_the_device_maximum) {
  stub_dev d = {0};
  vns_sim_opts o;
  fixed_opts(&o);
  ck_assert_uint_eq(o.queue_size, 256);
  o.device = &stub_ops;
  o.device_ctx = &d;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  vns_ring_state r;
  ck_assert_int_eq(vns_sim_ring(sim, VNS_QUEUE_RX, &r), 0);
  ck_assert_uint_eq(r.layout.size, 16);
  ck_assert_uint_eq(r.avail_idx, 16);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_user_device_ring_outside_memory_is_refused) {
  stub_dev d = {.misplace_rx = 1};
  vns_sim_opts o;
  fixed_opts(&o);
  o.queue_size = 16;
  o.device = &stub_ops;
  o.device_ctx = &d;
  vns_sim *sim = NULL;
  ck_assert_int_eq(vns_sim_new(&o, &sim), VNS_EPROTO);
  ck_assert_ptr_null(sim);
  ck_assert_int_eq(d.rc_setup, VNS_EPROTO);
}
END_TEST

/* --- the same traces on every host ----------------------------------------------------- */

/* Trace hashes of deterministic runs through the public API, recorded on
 * x86-64. The trace is defined on virtual time and ring contents only, so
 * every host must give the same values: big-endian s390x, 32-bit i386 and
 * musl run this suite too (scripts/test-ports.sh). A hash that moves is a
 * byte-order, width or ordering bug, or a deliberate change to the trace
 * (then the table changes with it, on purpose). */
typedef struct pinned_run {
  const char *what;
  const char *bugs;   /* NULL: none */
  const char *faults; /* NULL: none */
  uint16_t queue_size;
  unsigned bursts; /* 0: the workload is pings from the host peer */
  uint64_t hash;
} pinned_run;

static const pinned_run pinned_runs[] = {
    {"bursts, fixed driver", NULL, NULL, 256, 40, 0x4a8187245aff1c1dull},
    {"bursts, the Redox driver", "redox", NULL, 256, 40, 0x34df0dba3a1c9a2dull},
    {"bursts, queue 16, every link fault", NULL,
     "drop=0.1,corrupt=0.1,dup=0.1,delay=0.2,delay_us=50,reorder=0.2", 16, 40,
     0x0c48253cd1472a52ull},
    {"host peer pings", NULL, NULL, 256, 0, 0x0d4f2a9d97bb2bcfull},
};

START_TEST(test_trace_hashes_are_the_same_on_every_host) {
  const pinned_run *p = &pinned_runs[_i];
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  o.seed = 11;
  o.queue_size = p->queue_size;
  o.faults = p->faults;
  o.host_peer = p->bursts == 0;
  if (p->bugs) ck_assert_int_eq(vns_bug_parse(p->bugs, &o.driver_bugs, &o.device_bugs), 0);
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  if (p->bursts) {
    ck_assert_int_eq(vns_sim_inject_bursts(sim, 11, p->bursts), 0);
  } else {
    for (uint16_t seq = 1; seq <= 4; seq++)
      ck_assert_int_eq(vns_host_ping_at(sim, T0 + seq * 1000 * US, VNS_GUEST_IP, seq, 56), 0);
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  uint64_t h = vns_sim_trace_hash(sim);
  ck_assert_msg(h == p->hash, "%s: trace hash 0x%016" PRIx64 " (%zu events), pinned 0x%016" PRIx64,
                p->what, h, vns_sim_trace_count(sim), p->hash);
  vns_sim_free(sim);
}
END_TEST

/* --- the exported symbols ------------------------------------------------------------- */

/* The shared library is built with hidden visibility: only VNS_API functions
 * are exported. Any other defined dynamic symbol is an internal that leaked
 * (a missing static, a flag lost from the build) and becomes ABI by
 * accident. */
START_TEST(test_shared_library_exports_only_vns_symbols) {
  char cmd[1024];
  /* A cross build reads the library with the target's nm; where that tool is
   * missing the check is skipped, and says so in the suite's output. */
  snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", VNS_NM);
  if (system(cmd) != 0) {
    printf("check_api: exported-symbol check SKIPPED: '%s' not found\n", VNS_NM);
    return;
  }
  snprintf(cmd, sizeof cmd, "'%s' -D --defined-only '%s'", VNS_NM, VNS_SHARED_LIB);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  char line[512], leaked[2048] = "";
  size_t exported = 0;
  while (fgets(line, sizeof line, p)) {
    char addr[64], type[8], name[400];
    if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
    if (strncmp(name, "vns_", 4) == 0) {
      exported++;
      continue;
    }
    /* the ELF init and fini entries come from the C library's crti.o, which
     * musl's exports; they are not ours */
    if (strcmp(name, "_init") == 0 || strcmp(name, "_fini") == 0) continue;
    if (strlen(leaked) + strlen(name) + 2 < sizeof leaked) {
      strcat(leaked, name);
      strcat(leaked, " ");
    }
  }
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_msg(leaked[0] == '\0', "internal symbols exported: %s", leaked);
  /* the whole public surface, counted: adding or removing a function is a
   * deliberate change to this number */
  /* 93rd to 95th: vns_mem_wmb, vns_mem_rmb, vns_mem_mb; 96th to 101st: the
   * guest->host ledger (vns_driver_tx_queued, vns_fate_directions and the
   * four vns_sim_tx_*); 102nd and 103rd: vns_sim_note_count, vns_sim_note; 104th:
   * vns_sim_new_why; 105th and 106th: vns_sim_set_link, vns_device_config_changed;
   * 107th and 108th: vns_sim_feed_captured, vns_sim_feed_link_unsupported;
   * 109th to 113th: the guest as a client (vns_guest_action, _action_count,
   * _actions_done, _action_result, vns_guest_dhcp); 114th and 115th: the
   * captured conversations (vns_sim_conversation_count, vns_sim_conversation) */
  ck_assert_uint_eq(exported, 115);
}
END_TEST

/* --- replies waiting for ARP, and the proxy that lets them leave ------------ */

#define MS      1000000ull
#define PEER_IP VNS_IP(10, 0, 2, 50)
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x50};
static const uint8_t host_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

/* What the guest sent, as the host saw it. */
typedef struct guest_out {
  size_t n, arp_requests, echo_replies;
  uint8_t reply_dst[8][6]; /* of each echo reply */
} guest_out;

static void guest_out_rx(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)now_ns;
  guest_out *g = ctx;
  g->n++;
  if (len >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] == 1) g->arp_requests++;
  if (len >= 42 && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == 1 && frame[34] == 0) {
    ck_assert_uint_lt(g->echo_replies, 8);
    memcpy(g->reply_dst[g->echo_replies++], frame, 6);
  }
}

/* An echo request to the guest from ip at mac: a host the guest never
 * heard an ARP from. */
static size_t stranger_echo(uint8_t *buf, size_t cap, uint32_t ip, const uint8_t mac[6],
                            uint16_t seq) {
  static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  net_iface_config from = {.ip = ip, .netmask = 0xffffff00};
  memcpy(from.mac, mac, 6);
  size_t len = scn_frame_icmp_echo(buf, cap, 8, &from, guest_mac, VNS_GUEST_IP, 0x77, seq, 98);
  ck_assert_uint_eq(len, 98);
  return len;
}

static vns_sim *stranger_sim(int arp_proxy, guest_out *g) {
  vns_sim_opts o;
  fixed_opts(&o);
  o.arp_proxy = arp_proxy;
  o.host_rx = guest_out_rx;
  o.host_rx_ctx = g;
  vns_sim *sim;
  ck_assert_int_eq(vns_sim_new(&o, &sim), 0);
  return sim;
}

static const char *captured_fate(const vns_sim *sim, size_t k) {
  int64_t id = vns_sim_captured_frame(sim, k);
  ck_assert_int_ge(id, 0);
  return vns_sim_frame_fate(sim, (size_t)id);
}

/* Two echo requests from PEER_IP, 10 ms apart, captured; run to the end. */
static void two_stranger_echoes_to_the_end(vns_sim *sim) {
  uint8_t f[128];
  for (uint16_t seq = 0; seq < 2; seq++) {
    size_t len = stranger_echo(f, sizeof f, PEER_IP, peer_mac, seq);
    ck_assert_int_eq(vns_sim_inject_captured(sim, T0 + seq * 10 * MS, f, len, len), 0);
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
}

START_TEST(test_proxy_arp_lets_replies_leave_and_answers_their_frames) {
  guest_out g = {0};
  vns_sim *sim = stranger_sim(1, &g);
  two_stranger_echoes_to_the_end(sim);
  ck_assert_str_eq(captured_fate(sim, 0), "answered");
  ck_assert_str_eq(captured_fate(sim, 1), "answered");
  /* the proxy's reply is a frame of the host's, between the two captured */
  ck_assert_uint_eq(vns_sim_frame_count(sim), 3);
  ck_assert_int_eq(vns_sim_captured_frame(sim, 1), 2);
  ck_assert_int_eq(vns_sim_sent_frame(sim, 1), 1);
  ck_assert_int_eq(vns_sim_captured_frame(sim, 2), -1);
  ck_assert_str_eq(vns_sim_frame_fate(sim, 1), "delivered");
  uint64_t v;
  ck_assert_int_eq(vns_sim_counter(sim, "host.arp_proxy_replies", &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_int_eq(vns_sim_counter(sim, "host.frames_sent", &v), 0);
  ck_assert_uint_eq(v, 3);
  /* the replies went to the MAC the capture showed for the asker */
  ck_assert_uint_eq(g.arp_requests, 1);
  ck_assert_uint_eq(g.echo_replies, 2);
  ck_assert_mem_eq(g.reply_dst[0], peer_mac, 6);
  ck_assert_mem_eq(g.reply_dst[1], peer_mac, 6);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_proxy_answers_for_the_gateway_with_the_host_mac) {
  guest_out g = {0};
  vns_sim *sim = stranger_sim(1, &g);
  uint8_t f[128];
  /* off the guest's subnet: the reply goes through the gateway, which no
   * captured frame showed */
  size_t len = stranger_echo(f, sizeof f, VNS_IP(192, 168, 7, 9), peer_mac, 1);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0, f, len, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_str_eq(captured_fate(sim, 0), "answered");
  ck_assert_uint_eq(g.echo_replies, 1);
  ck_assert_mem_eq(g.reply_dst[0], host_mac, 6);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_without_proxy_replies_are_unresolved_when_arp_gives_up) {
  guest_out g = {0};
  vns_sim *sim = stranger_sim(0, &g);
  two_stranger_echoes_to_the_end(sim);
  for (size_t k = 0; k < 2; k++) {
    ck_assert_str_eq(captured_fate(sim, k), "reply_unresolved");
    uint64_t fated;
    ck_assert_int_eq(vns_sim_frame_times(sim, (size_t)vns_sim_captured_frame(sim, k), NULL, &fated),
                     0);
    ck_assert_uint_ge(fated, T0 + 3000 * MS); /* three ARP requests, a second apart */
  }
  uint64_t v;
  ck_assert_int_eq(vns_sim_fate_count(sim, "reply_unresolved", &v), 0);
  ck_assert_uint_eq(v, 2);
  ck_assert_int_eq(vns_sim_fate_count(sim, "pending", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_uint_eq(g.arp_requests, 3);
  ck_assert_uint_eq(g.echo_replies, 0);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_reply_finding_the_arp_queue_full_is_unresolved_at_once) {
  guest_out g = {0};
  vns_sim *sim = stranger_sim(0, &g);
  uint8_t f[128];
  const size_t n = 6; /* two more than the stack's ARP queue holds */
  for (size_t i = 0; i < n; i++) {
    uint8_t mac[6] = {0x02, 0, 0, 0, 0, (uint8_t)(0x60 + i)};
    size_t len = stranger_echo(f, sizeof f, VNS_IP(10, 0, 2, 60 + i), mac, (uint16_t)i);
    ck_assert_int_eq(vns_sim_inject_captured(sim, T0, f, len, len), 0);
  }
  ck_assert_int_ge(vns_sim_run(sim, VNS_TIME_IDLE), 0);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  size_t at_once = 0;
  for (size_t k = 0; k < n; k++) {
    ck_assert_str_eq(captured_fate(sim, k), "reply_unresolved");
    uint64_t fated;
    vns_sim_frame_times(sim, (size_t)vns_sim_captured_frame(sim, k), NULL, &fated);
    at_once += fated < T0 + 1 * MS;
  }
  ck_assert_uint_eq(at_once, 2);
  vns_sim_free(sim);
}
END_TEST

START_TEST(test_finish_settles_a_reply_still_waiting_for_arp) {
  guest_out g = {0};
  vns_sim *sim = stranger_sim(0, &g);
  uint8_t f[128];
  size_t len = stranger_echo(f, sizeof f, PEER_IP, peer_mac, 1);
  ck_assert_int_eq(vns_sim_inject_captured(sim, T0, f, len, len), 0);
  ck_assert_int_ge(vns_sim_run(sim, T0 + 1 * MS), 0);
  ck_assert_str_eq(captured_fate(sim, 0), "pending");
  uint64_t v;
  ck_assert_int_eq(vns_sim_fate_count(sim, "pending", &v), 0);
  ck_assert_uint_eq(v, 1);
  ck_assert_int_eq(vns_sim_finish(sim), 0);
  ck_assert_str_eq(captured_fate(sim, 0), "reply_unresolved");
  uint64_t fated;
  ck_assert_int_eq(vns_sim_frame_times(sim, 0, NULL, &fated), 0);
  ck_assert_uint_eq(fated, vns_sim_now(sim));
  ck_assert_int_eq(vns_sim_fate_count(sim, "pending", &v), 0);
  ck_assert_uint_eq(v, 0);
  vns_sim_free(sim);
}
END_TEST

static Suite *api_suite(void) {
  Suite *s = suite_create("api");
  TCase *basics = tcase_create("basics");
  tcase_add_test(basics, test_version_macros_match_the_runtime_call);
  tcase_add_test(basics, test_every_error_code_has_a_name_and_a_text);
  tcase_add_test(basics, test_options_are_checked);
  tcase_add_test(basics, test_bug_catalogue_by_name);
  tcase_add_test(basics, test_frame_builders_refuse_short_buffers);
  tcase_add_test(basics, test_a_failed_create_says_why);
  suite_add_tcase(s, basics);
  TCase *runs = tcase_create("runs");
  tcase_add_test(runs, test_run_states_and_event_limit);
  tcase_add_test(runs, test_run_until_a_time_stops_there);
  tcase_add_test(runs, test_every_counter_name_resolves);
  tcase_add_test(runs, test_proxy_arp_lets_replies_leave_and_answers_their_frames);
  tcase_add_test(runs, test_proxy_answers_for_the_gateway_with_the_host_mac);
  tcase_add_test(runs, test_without_proxy_replies_are_unresolved_when_arp_gives_up);
  tcase_add_test(runs, test_reply_finding_the_arp_queue_full_is_unresolved_at_once);
  tcase_add_test(runs, test_finish_settles_a_reply_still_waiting_for_arp);
  tcase_add_test(runs, test_modelled_sim_matches_the_scenario);
  tcase_add_test(runs, test_guest_memory_is_bounds_checked_and_little_endian);
  tcase_add_test(runs, test_trace_without_store_still_hashes);
  tcase_add_test(runs, test_trace_format_reports_short_buffers_and_unknown_events);
  tcase_add_test(runs, test_ping_is_answered);
  tcase_add_loop_test(runs, test_trace_hashes_are_the_same_on_every_host, 0,
                      (int)(sizeof pinned_runs / sizeof pinned_runs[0]));
  TCase *cmd = tcase_create("command");
  tcase_set_timeout(cmd, 60);
  tcase_add_test(cmd, test_fate_names_index_the_ledger);
  tcase_add_test(cmd, test_callbacks_cannot_reenter_the_run);
  tcase_add_test(cmd, test_rule_table_is_enumerable);
  tcase_add_test(cmd, test_bug_catalogue_describes_and_names);
  tcase_add_test(cmd, test_link_faults_are_checked_and_named);
  tcase_add_test(cmd, test_captured_frames_keep_link_order);
  tcase_add_test(cmd, test_bursts_are_answered_by_the_fixed_driver_only);
  tcase_add_test(cmd, test_host_peer_pings_the_guest);
  tcase_add_test(cmd, test_guest_takes_dhcp_from_a_server_the_user_plays);
  tcase_add_test(cmd, test_story_shows_the_redox_symptoms);
  suite_add_tcase(s, cmd);
  suite_add_tcase(s, runs);
  TCase *drv = tcase_create("own_driver");
  tcase_add_test(drv, test_user_driver_on_helpers_delivers_every_frame);
  tcase_add_test(drv, test_user_driver_on_packed_helpers_delivers_every_frame);
  tcase_add_test(drv, test_user_driver_indirect_buffers_deliver_every_frame);
  tcase_add_test(drv, test_user_driver_small_buffers_are_reported_by_rule);
  tcase_add_test(drv, test_user_driver_bad_descriptor_breaks_the_device);
  tcase_add_test(drv, test_user_driver_queue_setup_after_driver_ok_is_a_violation);
  tcase_add_test(drv, test_user_half_calls_refuse_the_wrong_mode);
  suite_add_tcase(s, drv);
  TCase *dev = tcase_create("own_device");
  tcase_add_test(dev, test_user_device_drops_by_fate_name);
  tcase_add_test(dev, test_user_device_ring_outside_memory_is_refused);
  tcase_add_test(dev, test_modelled_driver_takes_the_device_maximum);
  suite_add_tcase(s, dev);
  TCase *abi = tcase_create("abi");
  tcase_add_test(abi, test_shared_library_exports_only_vns_symbols);
  suite_add_tcase(s, abi);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(api_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
