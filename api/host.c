/* The host side of a run: captured frames, the burst workload, the host
 * peer's pings, and the Redox story, each a thin handle over sim/. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"
#include "sim/conv.h"
#include "stack/wire.h"

_Static_assert(EMU_FATE_COUNT <= VNS_FATE_SLOTS, "vns_story.fate_counts holds every fate");

VNS_API int vns_sim_inject_captured(vns_sim *sim, uint64_t ts_ns, const void *data, size_t caplen,
                                    size_t origlen) {
  if (!sim || (!data && caplen)) return VNS_EINVAL;
  if (sim->finished) return VNS_ESTATE;
  static const uint8_t none[1];
  return scn_inject_captured(sim->scn, ts_ns, data ? data : none, caplen, origlen);
}

VNS_API int vns_sim_inject_link_unsupported(vns_sim *sim, uint64_t ts_ns) {
  if (!sim) return VNS_EINVAL;
  if (sim->finished) return VNS_ESTATE;
  return scn_inject_captured_unsupported(sim->scn, ts_ns);
}

/* Runs up to the frame, queues it; a run's errors as vns_sim_run() gives them. */
static int vns_sim_feed(vns_sim *sim, const scn_capture_frame *f) {
  if (sim->finished || sim->busy) return VNS_ESTATE;
  sim->busy = 1;
  uint64_t ran = 0;
  int rc = scn_feed_captured(sim->scn, f, sim->opts.max_events, &ran);
  sim->busy = 0;
  if (sim->store_failed) return VNS_ENOMEM;
  if (!rc && ran == sim->opts.max_events) return VNS_ELIMIT;
  return rc;
}

VNS_API int vns_sim_feed_captured(vns_sim *sim, uint64_t ts_ns, const void *data, size_t caplen,
                                  size_t origlen) {
  if (!sim || (!data && caplen) || caplen > UINT32_MAX) return VNS_EINVAL;
  static const uint8_t none[1];
  scn_capture_frame f = {.ts_ns = ts_ns, .caplen = (uint32_t)caplen};
  f.data = (uint8_t *)(data ? data : none);
  f.origlen = origlen > UINT32_MAX ? UINT32_MAX : (uint32_t)origlen;
  return vns_sim_feed(sim, &f);
}

VNS_API int vns_sim_feed_link_unsupported(vns_sim *sim, uint64_t ts_ns) {
  if (!sim) return VNS_EINVAL;
  scn_capture_frame f = {.ts_ns = ts_ns, .unconvertible = 1};
  return vns_sim_feed(sim, &f);
}

VNS_API int vns_sim_inject_bursts(vns_sim *sim, uint64_t seed, unsigned bursts) {
  if (!sim) return VNS_EINVAL;
  if (sim->finished) return VNS_ESTATE;
  return scn_workload_bursts(sim->scn, seed, bursts);
}

VNS_API int vns_host_ping_at(vns_sim *sim, uint64_t at_ns, uint32_t dst_ip, uint16_t seq,
                             uint16_t payload_len) {
  if (!sim) return VNS_EINVAL;
  if (!sim->scn->peer) return VNS_ENOTSUP;
  if (sim->finished) return VNS_ESTATE;
  return scn_peer_ping_at(sim->scn, at_ns, dst_ip, seq, payload_len);
}

static size_t vns_host_pings(const vns_sim *sim, const net_ping_result **res) {
  *res = NULL;
  return sim && sim->scn->peer ? net_iface_ping_results(sim->scn->peer, res) : 0;
}

VNS_API size_t vns_host_ping_count(const vns_sim *sim) {
  const net_ping_result *res;
  return vns_host_pings(sim, &res);
}

VNS_API int vns_host_ping(const vns_sim *sim, size_t i, vns_ping *out) {
  const net_ping_result *res;
  if (!out || i >= vns_host_pings(sim, &res)) return VNS_EINVAL;
  static const char *const state_names[] = {
      [NET_PING_PENDING] = "pending", [NET_PING_REPLIED] = "replied", [NET_PING_LOST] = "lost"};
  int replied = res[i].state == NET_PING_REPLIED;
  *out = (vns_ping){res[i].seq, state_names[res[i].state], replied ? res[i].rtt_ns : 0};
  return 0;
}

VNS_API int vns_story_run(const vns_sim_opts *o, vns_story *out) {
  if (!out) return VNS_EINVAL;
  vns_sim_opts defaults;
  if (!o) {
    vns_sim_opts_init(&defaults);
    o = &defaults;
  }
  if (o->driver || o->device) return VNS_EINVAL;
  scn_config cfg;
  int rc = vns_scn_config_from_opts(o, &cfg);
  if (rc) return rc;
  scn_story st;
  rc = scn_story_run(&cfg, &st);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  out->guest_pings_replied = st.guest_pings_replied;
  out->guest_pings = st.guest_pings;
  out->host_pings_replied = st.host_pings_replied;
  out->host_pings = st.host_pings;
  out->host_arp_fate = emu_fate_name(st.host_arp_fate);
  out->frames_in = st.frames_in;
  memcpy(out->fate_counts, st.counts, sizeof st.counts);
  out->first_rx_no_buffer = st.first_rx_no_buffer;
  out->first_rx_no_buffer_sent_ns = st.first_rx_no_buffer_sent_ns;
  out->tcp_established = st.tcp_established;
  out->tcp_sent = st.tcp_sent;
  out->tcp_echoed = st.tcp_echoed;
  return 0;
}

VNS_API size_t vns_sim_conversation_count(const vns_sim *sim) {
  return sim ? scn_conv_count(sim->scn) : 0;
}

static void vns_conv_segment_of(const scn_conv_seg *g, vns_conv_segment *out) {
  static const struct {
    uint8_t bit;
    const char *name;
  } names[] = {{NET_TCP_SYN, "SYN"},
               {NET_TCP_PSH, "PSH"},
               {NET_TCP_ACK, "ACK"},
               {NET_TCP_FIN, "FIN"},
               {NET_TCP_RST, "RST"}};
  memset(out, 0, sizeof *out);
  out->none = g->none;
  out->len = g->len;
  size_t used = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !g->none; i++)
    if (g->flags & names[i].bit)
      used += (size_t)snprintf(out->flags + used, sizeof out->flags - used, "%s%s", used ? "," : "",
                               names[i].name);
}

/* One line saying why r stopped. */
static void vns_conv_why(const scn_conv_report *r, char *buf, size_t cap) {
  switch (r->stop) {
    case SCN_CONV_STOP_NO_SYN_ACK:
      snprintf(buf, cap, "the guest did not answer the SYN within 5 s");
      break;
    case SCN_CONV_STOP_NO_DATA:
      snprintf(buf, cap,
               "the client acknowledges %" PRIu64 " bytes of the server's; the guest sent %" PRIu64
               " in 5 s",
               r->stop_a, r->stop_b);
      break;
    case SCN_CONV_STOP_GUEST_RESET:
      snprintf(buf, cap, "the guest had reset the connection%s",
               r->refused ? " (nothing listens on its port)" : "");
      break;
    case SCN_CONV_STOP_MISSING:
      snprintf(buf, cap,
               "client bytes %" PRIu64 "..%" PRIu64
               " are not in the capture (a segment missing before frame %" PRIu64 ")",
               r->stop_a, r->stop_b, r->stop_frame);
      break;
    case SCN_CONV_STOP_HOLD_FULL:
      snprintf(buf, cap, "more client segments waited for the guest than the host holds (4 MiB)");
      break;
    case SCN_CONV_STOP_RUN_ENDED:
      snprintf(buf, cap, "the run ended while a client segment waited for the guest");
      break;
    default:
      buf[0] = '\0';
      break;
  }
}

VNS_API int vns_sim_conversation(const vns_sim *sim, size_t i, vns_conversation *out) {
  const scn_conv_report *r = sim && out ? scn_conv_report_at(sim->scn, i) : NULL;
  if (!r) return VNS_EINVAL;
  memset(out, 0, sizeof *out);
  out->client_ip = r->client_ip;
  out->server_ip = r->server_ip;
  out->client_port = r->client_port;
  out->server_port = r->server_port;
  out->syn_frame = r->syn_frame;
  out->state = r->established ? "established" : r->refused ? "refused" : "not_established";
  out->client_segments = r->client_segments;
  out->client_sent = r->client_sent;
  out->client_bytes = r->client_bytes;
  out->client_delivered = r->client_delivered;
  out->guest_segments = r->guest_segments;
  out->guest_bytes = r->guest_bytes;
  out->guest_fin = r->guest_fin;
  out->guest_rst = r->guest_rst;
  out->recorded_segments = r->recorded_segments;
  out->recorded_bytes = r->recorded_bytes;
  out->acks_clamped = r->acks_clamped;
  out->answer = !r->recorded_segments ? "not_recorded"
                : r->differs          ? "differs"
                : r->compare_cut      ? "partly"
                                      : "same";
  out->compared = r->compared;
  int differs = r->differs && r->recorded_segments; /* nothing to differ from otherwise */
  out->diff_at = differs ? r->diff_at : 0;
  if (differs) {
    vns_conv_segment_of(&r->diff_recorded, &out->diff_recorded);
    vns_conv_segment_of(&r->diff_guest, &out->diff_guest);
  }
  out->stopped = r->stop ? scn_conv_stop_name(r->stop) : NULL;
  out->stop_frame = r->stop_frame;
  out->stopped_ns = r->stop_ns;
  vns_conv_why(r, out->why, sizeof out->why);
  return 0;
}
