/* The DHCP client: see dhcp.h. */
#include "stack/dhcp.h"

#include <stdio.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "stack/iface.h"

/* RFC 2132 §9.2: a lease time of all ones is infinite. */
#define NET_DHCP_LEASE_INFINITE 0xffffffffu
#define NET_DHCP_NS_PER_S       1000000000ull

/* ---- reading a reply --------------------------------------------------------------- */

/* One option into out; the length each takes is RFC 2132's (a list takes
 * its first address). 0, or the reason it is malformed. */
static const char *net_dhcp_take_option(uint8_t code, const uint8_t *v, size_t n,
                                        net_dhcp_msg *out) {
  switch (code) {
    case NET_DHCP_OPT_MSG_TYPE: /* §9.6: exactly one byte */
      if (n != 1) return "message type option (53) is not 1 byte";
      out->type = v[0];
      return NULL;
    case NET_DHCP_OPT_SUBNET_MASK: /* §3.3 */
    case NET_DHCP_OPT_SERVER_ID:   /* §9.7 */
    case NET_DHCP_OPT_LEASE_TIME:  /* §9.2 */
      if (n != 4) return "a 4-byte option (1, 51 or 54) has another length";
      if (code == NET_DHCP_OPT_SUBNET_MASK) out->subnet_mask = net_get_be32(v);
      if (code == NET_DHCP_OPT_SERVER_ID) out->server_id = net_get_be32(v);
      if (code == NET_DHCP_OPT_LEASE_TIME) {
        out->lease_s = net_get_be32(v);
        out->has_lease = 1;
      }
      return NULL;
    case NET_DHCP_OPT_ROUTER: /* §3.5 and §3.8: one or more addresses */
    case NET_DHCP_OPT_DNS:
      if (n < 4 || n % 4) return "an address list option (3 or 6) is not a multiple of 4 bytes";
      if (code == NET_DHCP_OPT_ROUTER) out->router = net_get_be32(v);
      if (code == NET_DHCP_OPT_DNS) out->dns = net_get_be32(v);
      return NULL;
    default:
      return NULL; /* §2: a client ignores options it does not know */
  }
}

/* RFC 2132 §2: options are code, length, value, except PAD and END, which
 * are one byte; the field ends at END, which must come before the data does. */
static const char *net_dhcp_walk_options(const uint8_t *p, size_t len, net_dhcp_msg *out) {
  size_t at = 0;
  while (at < len) {
    uint8_t code = p[at];
    if (code == NET_DHCP_OPT_END) return out->type ? NULL : "no message type option (53)";
    if (code == NET_DHCP_OPT_PAD) {
      at++;
      continue;
    }
    if (at + 2 > len || at + 2 + p[at + 1] > len) return "an option runs past the end";
    const char *why = net_dhcp_take_option(code, p + at + 2, p[at + 1], out);
    if (why) return why;
    at += 2 + (size_t)p[at + 1];
  }
  return "the options have no END (255)";
}

int net_dhcp_parse(const uint8_t *msg, size_t len, net_dhcp_msg *out, const char **why) {
  static const char *unused;
  if (!why) why = &unused;
  memset(out, 0, sizeof *out);
  *why = NULL;
  if (!msg || len < NET_DHCP_OFF_OPTIONS)
    *why = "shorter than the fixed fields and the magic cookie (240 bytes)";
  else if (msg[NET_DHCP_OFF_OP] != NET_DHCP_OP_REPLY)
    *why = "not a BOOTREPLY (op 2)";
  else if (msg[NET_DHCP_OFF_HTYPE] != NET_DHCP_HTYPE_ETHERNET || msg[NET_DHCP_OFF_HLEN] != 6)
    *why = "hardware type or length is not Ethernet's (1, 6)";
  else if (net_get_be32(msg + NET_DHCP_OFF_COOKIE) != NET_DHCP_COOKIE)
    *why = "no magic cookie 99.130.83.99 (RFC 2131 §3)";
  if (*why) return EMU_EFORMAT;
  out->xid = net_get_be32(msg + NET_DHCP_OFF_XID);
  out->yiaddr = net_get_be32(msg + NET_DHCP_OFF_YIADDR);
  memcpy(out->chaddr, msg + NET_DHCP_OFF_CHADDR, sizeof out->chaddr);
  *why = net_dhcp_walk_options(msg + NET_DHCP_OFF_OPTIONS, len - NET_DHCP_OFF_OPTIONS, out);
  return *why ? EMU_EFORMAT : 0;
}

/* ---- sending ------------------------------------------------------------------------- */

static size_t net_dhcp_put_opt(uint8_t *buf, size_t at, uint8_t code, const uint8_t *v, uint8_t n) {
  buf[at] = code;
  buf[at + 1] = n;
  memcpy(buf + at + 2, v, n);
  return at + 2 + n;
}

static size_t net_dhcp_put_addr_opt(uint8_t *buf, size_t at, uint8_t code, uint32_t ip) {
  uint8_t v[4];
  net_put_be32(v, ip);
  return net_dhcp_put_opt(buf, at, code, v, sizeof v);
}

/* A DISCOVER or a REQUEST (RFC 2131 §4.4.1 table 5: REQUEST in SELECTING
 * state names the server and the address, ciaddr stays 0). */
static size_t net_dhcp_build(const net_dhcp *d, uint8_t type, uint64_t now_ns, uint8_t *buf) {
  memset(buf, 0, NET_DHCP_MSG_MAX);
  buf[NET_DHCP_OFF_OP] = NET_DHCP_OP_REQUEST;
  buf[NET_DHCP_OFF_HTYPE] = NET_DHCP_HTYPE_ETHERNET;
  buf[NET_DHCP_OFF_HLEN] = NET_MAC_LEN;
  net_put_be32(buf + NET_DHCP_OFF_XID, d->xid);
  /* §2 "secs": seconds since the client began acquiring */
  uint64_t secs = (now_ns - d->start_ns) / NET_DHCP_NS_PER_S;
  net_put_be16(buf + NET_DHCP_OFF_SECS, secs > 0xffff ? 0xffff : (uint16_t)secs);
  net_put_be16(buf + NET_DHCP_OFF_FLAGS, NET_DHCP_FLAG_BROADCAST);
  memcpy(buf + NET_DHCP_OFF_CHADDR, d->ifc->cfg.mac, NET_MAC_LEN);
  net_put_be32(buf + NET_DHCP_OFF_COOKIE, NET_DHCP_COOKIE);
  size_t at = net_dhcp_put_opt(buf, NET_DHCP_OFF_OPTIONS, NET_DHCP_OPT_MSG_TYPE, &type, 1);
  if (type == NET_DHCP_REQUEST) {
    at = net_dhcp_put_addr_opt(buf, at, NET_DHCP_OPT_REQUESTED_IP, d->offered_ip);
    at = net_dhcp_put_addr_opt(buf, at, NET_DHCP_OPT_SERVER_ID, d->offered_server);
  }
  static const uint8_t wanted[] = {NET_DHCP_OPT_SUBNET_MASK, NET_DHCP_OPT_ROUTER, NET_DHCP_OPT_DNS,
                                   NET_DHCP_OPT_LEASE_TIME};
  at = net_dhcp_put_opt(buf, at, NET_DHCP_OPT_PARAM_LIST, wanted, sizeof wanted);
  buf[at++] = NET_DHCP_OPT_END;
  return at;
}

/* §4.1: the wait doubles from 4 s up to 64 s, give or take up to 1 s. */
static void net_dhcp_arm(net_dhcp *d, uint64_t now_ns) {
  uint64_t jitter = emu_rng_range(&d->rng, 0, 2 * NET_DHCP_JITTER_NS);
  d->deadline_ns = now_ns + d->retry_wait_ns - NET_DHCP_JITTER_NS + jitter;
}

static int net_dhcp_send(net_dhcp *d, uint8_t type, uint64_t now_ns) {
  uint8_t buf[NET_DHCP_MSG_MAX];
  size_t n = net_dhcp_build(d, type, now_ns, buf);
  d->tries++;
  if (type == NET_DHCP_DISCOVER) d->stats.discovers_sent++;
  if (type == NET_DHCP_REQUEST) d->stats.requests_sent++;
  net_dhcp_arm(d, now_ns);
  /* §4.1: from 0.0.0.0 to the limited broadcast address */
  return net_udp_sendto(&d->sock, NET_IPV4_BROADCAST, NET_DHCP_SERVER_PORT, buf, n, now_ns);
}

/* Sends the first of a message: a fresh xid for a fresh exchange (§4.1). */
static int net_dhcp_begin(net_dhcp *d, net_dhcp_state st, uint8_t type, uint64_t now_ns) {
  d->state = st;
  d->tries = 0;
  d->retry_wait_ns = NET_DHCP_RETRY_FIRST_NS;
  if (type == NET_DHCP_DISCOVER) d->xid = (uint32_t)emu_rng_next(&d->rng);
  return net_dhcp_send(d, type, now_ns);
}

static void net_dhcp_fail(net_dhcp *d, const char *why) {
  d->state = NET_DHCP_FAILED;
  d->deadline_ns = EMU_TIME_NEVER;
  snprintf(d->error, sizeof d->error, "%s", why);
}

/* ---- receiving --------------------------------------------------------------------- */

static void net_dhcp_ignore(net_dhcp *d, const char *why) {
  d->stats.ignored++;
  d->last_ignored = why;
}

/* §4.4.1: the first acceptable offer is taken; the REQUEST broadcast
 * names its server, so the others know they were not chosen. */
static void net_dhcp_on_offer(net_dhcp *d, const net_dhcp_msg *m, uint64_t now_ns) {
  if (m->yiaddr == 0 || m->server_id == 0) {
    net_dhcp_ignore(d, "an OFFER without an address (yiaddr) or server identifier (54)");
    return;
  }
  d->stats.offers++;
  d->offered_ip = m->yiaddr;
  d->offered_server = m->server_id;
  net_dhcp_begin(d, NET_DHCP_REQUESTING, NET_DHCP_REQUEST, now_ns);
}

static void net_dhcp_on_ack(net_dhcp *d, const net_dhcp_msg *m, uint64_t now_ns) {
  if (m->yiaddr != d->offered_ip) {
    net_dhcp_ignore(d, "an ACK for another address than the one requested");
    return;
  }
  d->stats.acks++;
  /* RFC 2131 §3.3 leaves the mask to the client when absent; a classful
   * /24 guess is worse than a host route. */
  uint32_t mask = m->subnet_mask ? m->subnet_mask : 0xffffffffu;
  if (net_iface_set_address(d->ifc, m->yiaddr, mask, m->router) != 0) {
    net_dhcp_fail(d, "the server's subnet mask (option 1) is not contiguous");
    return;
  }
  d->lease = (net_dhcp_lease){m->yiaddr,
                              mask,
                              m->router,
                              m->dns,
                              m->server_id ? m->server_id : d->offered_server,
                              m->has_lease ? m->lease_s : NET_DHCP_LEASE_INFINITE,
                              now_ns};
  d->state = NET_DHCP_BOUND;
  d->deadline_ns = EMU_TIME_NEVER;
}

static void net_dhcp_on_nak(net_dhcp *d, uint64_t now_ns) {
  d->stats.naks++;
  if (++d->naks > NET_DHCP_MAX_NAKS) {
    net_dhcp_fail(d, "the server refused every request (DHCPNAK)");
    return;
  }
  net_dhcp_begin(d, NET_DHCP_SELECTING, NET_DHCP_DISCOVER, now_ns); /* §3.1 step 5 */
}

static emu_fate net_dhcp_rx(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                            const uint8_t *data, size_t len, uint64_t now_ns) {
  (void)sock, (void)src_ip;
  net_dhcp *d = ctx;
  net_dhcp_msg m;
  const char *why;
  if (src_port != NET_DHCP_SERVER_PORT)
    net_dhcp_ignore(d, "a reply not from port 67");
  else if (net_dhcp_parse(data, len, &m, &why) != 0)
    net_dhcp_ignore(d, why);
  else if (m.xid != d->xid) /* §4.1: not an answer to our request */
    net_dhcp_ignore(d, "a reply with another xid");
  else if (memcmp(m.chaddr, d->ifc->cfg.mac, NET_MAC_LEN) != 0)
    net_dhcp_ignore(d, "a reply for another hardware address");
  else if (d->state == NET_DHCP_SELECTING && m.type == NET_DHCP_OFFER)
    net_dhcp_on_offer(d, &m, now_ns);
  else if (d->state == NET_DHCP_REQUESTING && m.type == NET_DHCP_ACK)
    net_dhcp_on_ack(d, &m, now_ns);
  else if (d->state == NET_DHCP_REQUESTING && m.type == NET_DHCP_NAK)
    net_dhcp_on_nak(d, now_ns);
  else
    net_dhcp_ignore(d, "a message type not expected in this state");
  return EMU_FATE_DELIVERED;
}

/* ---- life cycle ---------------------------------------------------------------------- */

int net_dhcp_start(net_dhcp *d, net_iface *ifc, uint64_t seed, uint64_t now_ns) {
  if (!d || !ifc) return EMU_EINVAL;
  memset(d, 0, sizeof *d);
  d->ifc = ifc;
  emu_rng_init(&d->rng, seed);
  int rc = net_udp_bind(ifc, &d->sock, NET_DHCP_CLIENT_PORT);
  if (rc) return rc;
  net_udp_set_handler(&d->sock, net_dhcp_rx, d);
  net_iface_set_address(ifc, 0, 0, 0);
  d->start_ns = now_ns;
  rc = net_dhcp_begin(d, NET_DHCP_SELECTING, NET_DHCP_DISCOVER, now_ns);
  if (rc) net_udp_unbind(&d->sock);
  return rc;
}

void net_dhcp_close(net_dhcp *d) {
  if (d) net_udp_unbind(&d->sock);
}

void net_dhcp_poll(net_dhcp *d, uint64_t now_ns) {
  if (d->state != NET_DHCP_SELECTING && d->state != NET_DHCP_REQUESTING) return;
  if (now_ns < d->deadline_ns) return;
  if (d->tries >= NET_DHCP_TRIES) {
    char why[160];
    snprintf(why, sizeof why, "no %s after %u %s (RFC 2131 §4.1 backoff, %.0f s)",
             d->state == NET_DHCP_SELECTING ? "DHCPOFFER" : "DHCPACK", d->tries,
             d->state == NET_DHCP_SELECTING ? "DHCPDISCOVERs" : "DHCPREQUESTs",
             (double)(now_ns - d->start_ns) / 1e9);
    net_dhcp_fail(d, why);
    return;
  }
  if (d->retry_wait_ns < NET_DHCP_RETRY_MAX_NS) d->retry_wait_ns *= 2;
  net_dhcp_send(d, d->state == NET_DHCP_SELECTING ? NET_DHCP_DISCOVER : NET_DHCP_REQUEST, now_ns);
}

uint64_t net_dhcp_poll_at(const net_dhcp *d) {
  if (d->state != NET_DHCP_SELECTING && d->state != NET_DHCP_REQUESTING) return EMU_TIME_NEVER;
  return d->deadline_ns;
}

net_dhcp_state net_dhcp_get_state(const net_dhcp *d) { return d->state; }

const net_dhcp_lease *net_dhcp_get_lease(const net_dhcp *d) {
  return d->state == NET_DHCP_BOUND ? &d->lease : NULL;
}

const char *net_dhcp_error(const net_dhcp *d) { return d->error; }

const net_dhcp_stats *net_dhcp_stats_get(const net_dhcp *d) { return &d->stats; }
