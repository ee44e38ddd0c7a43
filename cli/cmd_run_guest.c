/* `vnetsim run --dhcp --guest ACTION` (and `vnetsim replay`, which replays
 * what such a run recorded): the guest as a client. The actions go
 * to the simulation through the public API (vns_guest_action) and their
 * results come back through it; this file only prints them and writes the
 * bodies the user asked for. */
#include <inttypes.h>
#include <string.h>

#include "cli/cmd.h"
#include "emu/err.h"

/* ---- options -------------------------------------------------------------------------- */

static int cli_guest_opt_action(cli_guest *g, const char *action) {
  if (g->n == CLI_GUEST_MAX)
    return cli_error(g->cmd, CLI_EXIT_USAGE, "--guest: at most %d actions", CLI_GUEST_MAX);
  g->actions[g->n++] = action;
  return 0;
}

static int cli_guest_opt_out(cli_guest *g, const char *path) {
  if (g->n == 0 || strncmp(g->actions[g->n - 1], "get ", 4) != 0)
    return cli_error(g->cmd, CLI_EXIT_USAGE, "--guest-out FILE follows a --guest \"get URL\"");
  if (g->out_paths[g->n - 1])
    return cli_error(g->cmd, CLI_EXIT_USAGE, "--guest-out: one file per --guest get");
  g->out_paths[g->n - 1] = path;
  return 0;
}

int cli_guest_opt(cli_guest *g, int opt, const char *arg) {
  if (opt == CLI_OPT_GUEST) return cli_guest_opt_action(g, arg);
  if (opt == CLI_OPT_GUEST_OUT) return cli_guest_opt_out(g, arg);
  g->dhcp = 1;
  return 0;
}

size_t cli_guest_out_paths(const cli_guest *g, const char **paths, const char **names, size_t n) {
  for (size_t i = 0; i < g->n; i++, n++) {
    paths[n] = g->out_paths[i];
    names[n] = "--guest-out";
  }
  return n;
}

int cli_guest_start(cli_guest *g, vns_sim *sim) {
  for (size_t i = 0; i < g->n; i++) {
    char why[256];
    int rc = vns_guest_action(sim, g->actions[i], g->out_paths[i] != NULL, why, sizeof why);
    if (rc < 0)
      return cli_error(g->cmd, CLI_EXIT_USAGE, "--guest: %s", why[0] ? why : vns_strerror(rc));
  }
  for (size_t i = 0; i < g->n; i++) {
    if (!g->out_paths[i]) continue;
    char err[512];
    if (host_outfile_open(&g->outs[i], g->out_paths[i], err, sizeof err)) {
      for (size_t j = 0; j < i; j++)
        if (g->out_open[j]) host_outfile_abort(&g->outs[j]);
      memset(g->out_open, 0, sizeof g->out_open);
      return cli_error(g->cmd, CLI_EXIT_USAGE, "--guest-out: %s", err);
    }
    g->out_open[i] = 1;
  }
  return 0;
}

/* ---- reports ---------------------------------------------------------------------------- */

static void cli_guest_ip(char buf[16], uint32_t ip) {
  snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void cli_guest_print_dhcp(cli_guest *g, const vns_dhcp_lease *l) {
  if (strcmp(l->state, "bound") != 0) {
    fprintf(g->info, "guest dhcp: failed: %s\n", l->error);
    return;
  }
  char ip[16], mask[16], gw[16], dns[16], srv[16];
  cli_guest_ip(ip, l->ip);
  cli_guest_ip(mask, l->netmask);
  cli_guest_ip(gw, l->gateway);
  cli_guest_ip(dns, l->dns);
  cli_guest_ip(srv, l->server);
  fprintf(g->info,
          "guest dhcp: bound ip=%s netmask=%s gateway=%s dns=%s lease_s=%" PRIu32
          " server=%s at_ms=%.3f\n",
          ip, mask, gw, dns, l->lease_s, srv, (double)l->bound_ns / 1e6);
}

/* Received bytes as a quoted string a shell and a person both read. */
static void cli_guest_print_data(FILE *out, const uint8_t *d, size_t n) {
  fputc('"', out);
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '"' || d[i] == '\\')
      fprintf(out, "\\%c", d[i]);
    else if (d[i] >= ' ' && d[i] < 0x7f)
      fputc(d[i], out);
    else
      fprintf(out, "\\x%02x", d[i]);
  }
  fputc('"', out);
}

static void cli_guest_print_action(cli_guest *g, size_t i, const vns_guest_result *r) {
  FILE *o = g->info;
  fprintf(o, "guest action %zu (%s): %s", i + 1, r->action, r->state);
  if (!strcmp(r->state, "failed")) {
    fprintf(o, ": %s\n", r->error);
    return;
  }
  char ip[16];
  cli_guest_ip(ip, r->ip);
  if (!strncmp(r->action, "get ", 4))
    fprintf(o, " status=%d length=%" PRIu64 " sha256=%s server=%s", r->http_status, r->length,
            r->sha256, ip);
  else if (!strncmp(r->action, "resolve ", 8))
    fprintf(o, " ip=%s ttl=%" PRIu32, ip, r->ttl);
  else {
    fprintf(o, " sent=%" PRIu64 " received=%" PRIu64 " data=", r->sent, r->received);
    cli_guest_print_data(o, r->data, r->data_len);
  }
  fprintf(o, " time_ms=%.3f\n", (double)(r->ended_ns - r->started_ns) / 1e6);
}

int cli_guest_report(cli_guest *g, const vns_sim *sim) {
  vns_dhcp_lease l;
  if (g->dhcp && !g->dhcp_reported && vns_guest_dhcp(sim, &l) == 0 &&
      (!strcmp(l.state, "bound") || !strcmp(l.state, "failed"))) {
    cli_guest_print_dhcp(g, &l);
    g->dhcp_reported = 1;
  }
  vns_guest_result r;
  while (g->reported < g->n && vns_guest_action_result(sim, g->reported, &r) == 0 &&
         (!strcmp(r.state, "ok") || !strcmp(r.state, "failed"))) {
    cli_guest_print_action(g, g->reported, &r);
    g->reported++;
  }
  fflush(g->info);
  return (!g->dhcp || g->dhcp_reported) && g->reported == g->n;
}

/* ---- the end ---------------------------------------------------------------------------- */

int cli_guest_finish(cli_guest *g, const vns_sim *sim) {
  size_t failed = 0, unfinished = 0, unwritten = 0;
  for (size_t i = 0; i < g->n; i++) {
    vns_guest_result r;
    vns_guest_action_result(sim, i, &r);
    int ok = !strcmp(r.state, "ok");
    failed += !strcmp(r.state, "failed");
    unfinished += !ok && strcmp(r.state, "failed") != 0;
    if (!g->out_open[i]) continue;
    g->out_open[i] = 0;
    if (!ok ||
        fwrite(r.body ? (const void *)r.body : "", 1, r.body_len, g->outs[i].f) != r.body_len) {
      host_outfile_abort(&g->outs[i]); /* nothing, not half a body, under that name */
      unwritten += ok;
    } else if (host_outfile_commit(&g->outs[i])) {
      unwritten++;
    }
  }
  vns_dhcp_lease l;
  if (g->dhcp && vns_guest_dhcp(sim, &l) == 0 && strcmp(l.state, "bound") != 0)
    return cli_error(g->cmd, CLI_EXIT_FAIL, "the guest got no address by DHCP%s%s",
                     l.error[0] ? ": " : " (the run ended first)", l.error);
  if (failed || unfinished)
    return cli_error(g->cmd, CLI_EXIT_FAIL, "%zu of %zu guest actions failed%s",
                     failed + unfinished, g->n,
                     unfinished ? " or did not finish before the run ended" : "");
  if (unwritten)
    return cli_error(g->cmd, CLI_EXIT_FAIL, "--guest-out: a body could not be written");
  return 0;
}

void cli_guest_abort_outs(cli_guest *g) {
  for (size_t i = 0; i < g->n; i++)
    if (g->out_open[i]) host_outfile_abort(&g->outs[i]);
  memset(g->out_open, 0, sizeof g->out_open);
}

static void cli_guest_json_ip(FILE *out, const char *key, uint32_t ip) {
  char buf[16];
  cli_guest_ip(buf, ip);
  fprintf(out, ",\"%s\":\"%s\"", key, buf);
}

static void cli_guest_json_action(FILE *out, const vns_guest_result *r) {
  fputs("{\"action\":", out);
  cli_print_json_string(out, r->action);
  fprintf(out, ",\"state\":\"%s\",\"error\":", r->state);
  cli_print_json_string(out, r->error);
  fprintf(out, ",\"started_ns\":%" PRIu64 ",\"ended_ns\":%" PRIu64, r->started_ns, r->ended_ns);
  cli_guest_json_ip(out, "ip", r->ip);
  fprintf(out,
          ",\"ttl\":%" PRIu32 ",\"http_status\":%d,\"length\":%" PRIu64
          ",\"sha256\":\"%s\",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"data_hex\":\"",
          r->ttl, r->http_status, r->length, r->sha256, r->sent, r->received);
  for (size_t i = 0; i < r->data_len; i++) fprintf(out, "%02x", r->data[i]);
  fputs("\"}", out);
}

void cli_guest_json(const cli_guest *g, const vns_sim *sim, FILE *out) {
  vns_dhcp_lease l;
  if (g->dhcp && vns_guest_dhcp(sim, &l) == 0) {
    fprintf(out, ",\"dhcp\":{\"state\":\"%s\",\"error\":", l.state);
    cli_print_json_string(out, l.error);
    cli_guest_json_ip(out, "ip", l.ip);
    cli_guest_json_ip(out, "netmask", l.netmask);
    cli_guest_json_ip(out, "gateway", l.gateway);
    cli_guest_json_ip(out, "dns", l.dns);
    cli_guest_json_ip(out, "server", l.server);
    fprintf(out, ",\"lease_s\":%" PRIu32 ",\"bound_ns\":%" PRIu64 "}", l.lease_s, l.bound_ns);
  }
  if (!g->n) return; /* a run without actions prints what it always did */
  fputs(",\"guest_actions\":[", out);
  for (size_t i = 0; i < g->n; i++) {
    vns_guest_result r;
    if (vns_guest_action_result(sim, i, &r)) continue;
    if (i) fputc(',', out);
    cli_guest_json_action(out, &r);
  }
  fputc(']', out);
}
