/* The guest as a client: its actions and its DHCP exchange, a thin handle
 * over sim/'s client (stack/client.h). */
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"

VNS_API int vns_guest_action(vns_sim *sim, const char *action, int keep_body, char *why,
                             size_t cap) {
  char scratch[1];
  if (!why || !cap) {
    why = scratch;
    cap = sizeof scratch;
  }
  why[0] = '\0';
  if (!sim || !action) return VNS_EINVAL;
  if (sim->finished) return VNS_ESTATE;
  if (sim->mode == VNS_MODE_USER_DRIVER) return VNS_ENOTSUP;
  return scn_client_add(sim->scn, action, keep_body, why, cap);
}

VNS_API size_t vns_guest_action_count(const vns_sim *sim) {
  return sim && sim->scn->client ? net_client_count(sim->scn->client) : 0;
}

VNS_API int vns_guest_actions_done(const vns_sim *sim) {
  return !sim || !sim->scn->client || net_client_done(sim->scn->client);
}

VNS_API int vns_guest_action_result(const vns_sim *sim, size_t i, vns_guest_result *out) {
  static const char *const states[] = {[NET_CLIENT_QUEUED] = "queued",
                                       [NET_CLIENT_RUNNING] = "running",
                                       [NET_CLIENT_OK] = "ok",
                                       [NET_CLIENT_FAILED] = "failed"};
  const net_client_action *a = sim && sim->scn->client ? net_client_get(sim->scn->client, i) : NULL;
  if (!a || !out) return VNS_EINVAL;
  const net_client_result *r = &a->result;
  *out = (vns_guest_result){.action = a->text,
                            .state = states[r->status],
                            .error = r->error,
                            .started_ns = r->started_ns,
                            .ended_ns = r->ended_ns,
                            .ip = r->ip,
                            .ttl = r->ttl,
                            .http_status = r->http_status,
                            .length = r->length,
                            .sha256 = r->sha256,
                            .sent = r->sent,
                            .received = r->received,
                            .data = r->data,
                            .data_len = r->data_len,
                            .body = a->keep_body ? a->body : NULL,
                            .body_len = a->keep_body ? a->body_len : 0};
  return 0;
}

VNS_API int vns_guest_dhcp(const vns_sim *sim, vns_dhcp_lease *out) {
  static const char *const states[] = {[NET_DHCP_IDLE] = "selecting",
                                       [NET_DHCP_SELECTING] = "selecting",
                                       [NET_DHCP_REQUESTING] = "requesting",
                                       [NET_DHCP_BOUND] = "bound",
                                       [NET_DHCP_FAILED] = "failed"};
  if (!out) return VNS_EINVAL;
  const net_dhcp *d = sim && sim->scn->client ? net_client_dhcp(sim->scn->client) : NULL;
  if (!d) return VNS_ENOTSUP;
  memset(out, 0, sizeof *out);
  out->state = states[net_dhcp_get_state(d)];
  out->error = net_dhcp_error(d);
  const net_dhcp_lease *l = net_dhcp_get_lease(d);
  if (l)
    *out = (vns_dhcp_lease){out->state, out->error, l->ip,      l->netmask, l->gateway,
                            l->dns,     l->server,  l->lease_s, l->bound_ns};
  return 0;
}
