/* The DNS stub resolver: see dns.h. */
#include "stack/dns.h"

#include <stdio.h>
#include <string.h>

#include "emu/err.h"
#include "emu/sched.h"
#include "stack/iface.h"
#include "stack/tcp.h"

/* The text form of a name is at most 253 characters (RFC 1035 §2.3.4's 255
 * wire bytes less the first length byte and the root). */
#define NET_DNS_TEXT_MAX 253

/* ---- the query ---------------------------------------------------------------------- */

static int net_dns_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* name as RFC 1035 §3.1 labels into out (at most NET_DNS_NAME_MAX bytes);
 * its wire length, or -1 with *why. */
static int net_dns_encode_name(const char *name, uint8_t *out, const char **why) {
  size_t n = strlen(name);
  if (n && name[n - 1] == '.') n--; /* the root's dot */
  if (n == 0 || n > NET_DNS_TEXT_MAX) {
    *why = n ? "the name is longer than 253 characters" : "the name is empty";
    return -1;
  }
  size_t at = 0, label = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || name[i] == '.') {
      size_t ll = i - label;
      if (ll == 0 || ll > NET_DNS_LABEL_MAX) {
        *why = ll ? "a label is longer than 63 characters" : "the name has an empty label";
        return -1;
      }
      out[at++] = (uint8_t)ll;
      memcpy(out + at, name + label, ll);
      at += ll;
      label = i + 1;
    } else if (!net_dns_label_char(name[i])) {
      *why = "the name has a character other than letters, digits, '-', '_' and '.'";
      return -1;
    }
  }
  out[at++] = 0;
  return (int)at;
}

int net_dns_build_query(const char *name, uint16_t id, uint8_t *buf, size_t cap, const char **why) {
  static const char *unused;
  if (!why) why = &unused;
  *why = NULL;
  uint8_t qname[NET_DNS_NAME_MAX + 1];
  int qn = name ? net_dns_encode_name(name, qname, why) : -1;
  if (qn < 0) {
    if (!*why) *why = "no name";
    return EMU_EINVAL;
  }
  size_t len = NET_DNS_HEADER_LEN + (size_t)qn + 4;
  if (!buf || cap < len) return EMU_ENOSPC;
  memset(buf, 0, NET_DNS_HEADER_LEN);
  net_put_be16(buf + NET_DNS_OFF_ID, id);
  net_put_be16(buf + NET_DNS_OFF_FLAGS, NET_DNS_FLAG_RD); /* §4.1.1: recursion desired */
  net_put_be16(buf + NET_DNS_OFF_QDCOUNT, 1);
  memcpy(buf + NET_DNS_HEADER_LEN, qname, (size_t)qn);
  net_put_be16(buf + NET_DNS_HEADER_LEN + qn, NET_DNS_TYPE_A);
  net_put_be16(buf + NET_DNS_HEADER_LEN + qn + 2, NET_DNS_CLASS_IN);
  return (int)len;
}

/* ---- reading names (RFC 1035 §4.1.4) ------------------------------------------------ */

static uint8_t net_dns_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/* Reads the name at off into its canonical wire form (labels lower-cased,
 * pointers followed) in out[NET_DNS_NAME_MAX + 1]; *next gets the offset
 * after the name where it was written. Every pointer must point before the
 * segment that holds it, so each jump goes strictly backwards and no loop
 * can form. 0, or -1 with *why. */
static int net_dns_read_name(const uint8_t *msg, size_t len, size_t off, uint8_t *out, size_t *next,
                             const char **why) {
  size_t pos = off, seg_start = off, outlen = 0;
  unsigned jumps = 0;
  *next = 0;
  for (;;) {
    if (pos >= len) return *why = "a name runs past the end of the message", -1;
    uint8_t b = msg[pos];
    if ((b & NET_DNS_POINTER_BITS) == NET_DNS_POINTER_BITS) {
      if (pos + 2 > len) return *why = "a name pointer runs past the end of the message", -1;
      size_t target = (size_t)(net_get_be16(msg + pos) & NET_DNS_POINTER_MASK);
      if (!jumps) *next = pos + 2;
      if (target >= seg_start || ++jumps > NET_DNS_MAX_POINTERS)
        return *why = "a name pointer does not point backwards (a compression loop)", -1;
      pos = seg_start = target;
      continue;
    }
    if (b & NET_DNS_POINTER_BITS) return *why = "a label type other than length or pointer", -1;
    if (outlen + 1 + b > NET_DNS_NAME_MAX) return *why = "a name is longer than 255 bytes", -1;
    if (pos + 1 + b > len) return *why = "a label runs past the end of the message", -1;
    out[outlen++] = b;
    for (size_t i = 0; i < b; i++) out[outlen++] = net_dns_lower(msg[pos + 1 + i]);
    pos += 1 + (size_t)b;
    if (b == 0) break;
  }
  if (!jumps) *next = pos;
  return 0;
}

static size_t net_dns_wire_len(const uint8_t *name) {
  size_t n = 0;
  while (name[n]) n += 1 + (size_t)name[n];
  return n + 1;
}

static int net_dns_same_name(const uint8_t *a, const uint8_t *b) {
  size_t n = net_dns_wire_len(a);
  return n == net_dns_wire_len(b) && memcmp(a, b, n) == 0;
}

/* ---- checking an answer --------------------------------------------------------------- */

/* §4.1.2: exactly our question, echoed. *off gets where the answers start. */
static int net_dns_check_question(const uint8_t *query, size_t qlen, const uint8_t *msg, size_t len,
                                  uint8_t *qname, size_t *off, const char **why) {
  size_t qnext;
  if (net_dns_read_name(query, qlen, NET_DNS_HEADER_LEN, qname, &qnext, why)) return EMU_EINVAL;
  if (net_get_be16(msg + NET_DNS_OFF_QDCOUNT) != 1)
    return *why = "the answer does not echo exactly one question", EMU_EFORMAT;
  uint8_t echoed[NET_DNS_NAME_MAX + 1];
  if (net_dns_read_name(msg, len, NET_DNS_HEADER_LEN, echoed, off, why)) return EMU_EFORMAT;
  if (*off + 4 > len) return *why = "the question runs past the end of the message", EMU_EFORMAT;
  if (!net_dns_same_name(qname, echoed) ||
      net_get_be16(msg + *off) != net_get_be16(query + qnext) ||
      net_get_be16(msg + *off + 2) != net_get_be16(query + qnext + 2))
    return *why = "the answer's question is not the one asked", EMU_EFORMAT;
  *off += 4;
  return 0;
}

/* One pass over the answer section for `name`: its A record (returns 1),
 * or the CNAME it has (copied into name, returns 2), or neither (0); or an
 * error (< 0). */
static int net_dns_scan(const uint8_t *msg, size_t len, size_t off, unsigned count, uint8_t *name,
                        net_dns_answer *out, const char **why) {
  for (unsigned i = 0; i < count; i++) {
    uint8_t owner[NET_DNS_NAME_MAX + 1];
    if (net_dns_read_name(msg, len, off, owner, &off, why)) return EMU_EFORMAT;
    if (off + NET_DNS_RR_FIXED_LEN > len) return *why = "a record runs past the end", EMU_EFORMAT;
    uint16_t type = net_get_be16(msg + off), cls = net_get_be16(msg + off + 2);
    uint32_t ttl = net_get_be32(msg + off + 4);
    size_t rdlen = net_get_be16(msg + off + 8), rdata = off + NET_DNS_RR_FIXED_LEN;
    if (rdata + rdlen > len) return *why = "a record's data runs past the end", EMU_EFORMAT;
    off = rdata + rdlen;
    if (cls != NET_DNS_CLASS_IN || !net_dns_same_name(owner, name)) continue;
    if (type == NET_DNS_TYPE_A) {
      if (rdlen != 4) return *why = "an A record whose data is not 4 bytes", EMU_EFORMAT;
      out->ip = net_get_be32(msg + rdata);
      out->ttl = ttl;
      return 1;
    }
    if (type == NET_DNS_TYPE_CNAME) {
      size_t end;
      if (net_dns_read_name(msg, len, rdata, name, &end, why)) return EMU_EFORMAT;
      if (end != rdata + rdlen) return *why = "a CNAME's name does not fill its data", EMU_EFORMAT;
      return 2;
    }
  }
  return 0;
}

/* The header's verdict, before the body is read. Over TCP, TC means
 * nothing (RFC 7766 §8 has no truncation there). */
static int net_dns_check_header(const uint8_t *query, const uint8_t *msg, size_t len, int over_tcp,
                                const char **why) {
  if (len < NET_DNS_HEADER_LEN) return *why = "shorter than a DNS header (12 bytes)", EMU_EFORMAT;
  uint16_t flags = net_get_be16(msg + NET_DNS_OFF_FLAGS);
  if (net_get_be16(msg + NET_DNS_OFF_ID) != net_get_be16(query + NET_DNS_OFF_ID))
    return *why = "a message with another id", EMU_EAGAIN;
  if (!(flags & NET_DNS_FLAG_QR)) return *why = "a query, not a response", EMU_EAGAIN;
  if (flags & NET_DNS_OPCODE_MASK) return *why = "a response to another opcode", EMU_EFORMAT;
  if ((flags & NET_DNS_FLAG_TC) && !over_tcp)
    return *why = "the answer was truncated (TC)", EMU_ENOTSUP;
  return 0;
}

static int net_dns_rcode_error(uint16_t rcode, const char **why) {
  static const char *const names[] = {"",
                                      "the server could not read the query (FORMERR)",
                                      "the server failed (SERVFAIL)",
                                      "no such name (NXDOMAIN)",
                                      "the server does not do that (NOTIMP)",
                                      "the server refused (REFUSED)"};
  *why = rcode < sizeof names / sizeof names[0] ? names[rcode] : "the server answered an error";
  return EMU_ESTATE;
}

static int net_dns_parse(const uint8_t *query, size_t qlen, const uint8_t *msg, size_t len,
                         int over_tcp, net_dns_answer *out, const char **why) {
  static const char *unused;
  if (!why) why = &unused;
  *why = NULL;
  memset(out, 0, sizeof *out);
  out->over_tcp = over_tcp;
  if (!query || qlen < NET_DNS_HEADER_LEN || !msg) return *why = "no query", EMU_EINVAL;
  int rc = net_dns_check_header(query, msg, len, over_tcp, why);
  if (rc) return rc;
  uint8_t name[NET_DNS_NAME_MAX + 1];
  size_t off;
  rc = net_dns_check_question(query, qlen, msg, len, name, &off, why);
  if (rc) return rc;
  uint16_t rcode = net_get_be16(msg + NET_DNS_OFF_FLAGS) & NET_DNS_RCODE_MASK;
  if (rcode) return net_dns_rcode_error(rcode, why);
  unsigned count = net_get_be16(msg + NET_DNS_OFF_ANCOUNT);
  for (unsigned hop = 0; hop <= NET_DNS_MAX_CNAMES; hop++) {
    rc = net_dns_scan(msg, len, off, count, name, out, why);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
    if (rc == 0) return *why = "the answer has no address (A record) for the name", EMU_ESTATE;
    out->cnames++;
  }
  return *why = "more than 8 CNAMEs, or a CNAME loop", EMU_EFORMAT;
}

int net_dns_parse_answer(const uint8_t *query, size_t qlen, const uint8_t *msg, size_t len,
                         net_dns_answer *out, const char **why) {
  return net_dns_parse(query, qlen, msg, len, 0, out, why);
}

/* ---- the resolver ------------------------------------------------------------------------ */

/* Ends the TCP connection: closed when answered, reset otherwise. */
static void net_dns_tcp_end(net_dns *d, uint64_t now_ns) {
  if (!d->tcp) return;
  net_tcp_conn *c = d->tcp;
  d->tcp = NULL;
  net_tcp_set_handler(c, NULL, NULL);
  if (d->state != NET_DNS_DONE && net_tcp_get_state(c) != NET_TCP_CLOSED) net_tcp_abort(c, now_ns);
  net_tcp_release(c, now_ns);
}

static void net_dns_fail(net_dns *d, const char *why, uint64_t now_ns) {
  snprintf(d->error, sizeof d->error, "%s", why);
  d->state = NET_DNS_FAILED;
  net_udp_unbind(&d->sock);
  net_dns_tcp_end(d, now_ns);
}

static void net_dns_done(net_dns *d, uint64_t now_ns) {
  d->state = NET_DNS_DONE;
  net_udp_unbind(&d->sock);
  net_dns_tcp_end(d, now_ns);
}

/* The answer over TCP, once its length and that many bytes came. */
static void net_dns_tcp_read(net_dns *d, uint64_t now_ns) {
  int n;
  while (d->tcp && (n = net_tcp_recv(d->tcp, d->tcp_in + d->tcp_got, sizeof d->tcp_in - d->tcp_got,
                                     now_ns)) > 0) {
    d->tcp_got += (size_t)n;
    if (d->tcp_got < NET_DNS_TCP_LEN_PREFIX) continue;
    size_t len = net_get_be16(d->tcp_in);
    if (len > NET_DNS_TCP_MAX) {
      net_dns_fail(d, "the answer over TCP is longer than 16384 bytes", now_ns);
      return;
    }
    if (d->tcp_got < NET_DNS_TCP_LEN_PREFIX + len) continue;
    const char *why;
    int rc = net_dns_parse(d->query, d->qlen, d->tcp_in + NET_DNS_TCP_LEN_PREFIX, len, 1,
                           &d->answer, &why);
    /* on our own connection, a message that is not the answer is an error */
    if (rc)
      net_dns_fail(d, why, now_ns);
    else
      net_dns_done(d, now_ns);
    return;
  }
}

static void net_dns_tcp_ev(void *ctx, net_tcp_conn *c, unsigned ev, uint64_t now_ns) {
  net_dns *d = ctx;
  if (ev & NET_TCP_EV_ESTABLISHED) {
    uint8_t msg[NET_DNS_TCP_LEN_PREFIX + NET_DNS_UDP_MAX];
    net_put_be16(msg, (uint16_t)d->qlen);
    memcpy(msg + NET_DNS_TCP_LEN_PREFIX, d->query, d->qlen);
    (void)net_tcp_send(c, msg, NET_DNS_TCP_LEN_PREFIX + d->qlen, now_ns); /* the buffer is empty */
  }
  if (ev & (NET_TCP_EV_READABLE | NET_TCP_EV_PEER_CLOSED)) net_dns_tcp_read(d, now_ns);
  if (d->tcp && (ev & (NET_TCP_EV_PEER_CLOSED | NET_TCP_EV_CLOSED)))
    net_dns_fail(d,
                 ev & NET_TCP_EV_ESTABLISHED || d->tcp_got
                     ? "the server closed the TCP connection before the whole answer"
                     : "the answer was truncated (TC) and the server refused DNS over TCP",
                 now_ns);
}

/* RFC 1035 §4.2.1, RFC 7766 §5: a truncated answer is asked for again over
 * TCP. */
static void net_dns_ask_over_tcp(net_dns *d, uint64_t now_ns) {
  net_udp_unbind(&d->sock);
  if (net_tcp_connect(d->ifc, d->server, NET_DNS_PORT, 0, now_ns, &d->tcp) != 0) {
    d->tcp = NULL;
    net_dns_fail(d, "the answer was truncated (TC) and no TCP connection could be opened", now_ns);
    return;
  }
  net_tcp_set_handler(d->tcp, net_dns_tcp_ev, d);
  d->deadline_ns = now_ns + NET_DNS_TCP_TIMEOUT_NS;
}

static emu_fate net_dns_rx(void *ctx, net_udp_sock *sock, uint32_t src_ip, uint16_t src_port,
                           const uint8_t *data, size_t len, uint64_t now_ns) {
  (void)sock;
  net_dns *d = ctx;
  const char *why;
  if (d->state != NET_DNS_WAITING || d->tcp) return EMU_FATE_DELIVERED;
  if (src_ip != d->server || src_port != NET_DNS_PORT) {
    d->ignored++;
    d->last_ignored = "a datagram not from the server's port 53";
    return EMU_FATE_DELIVERED;
  }
  int rc = net_dns_parse_answer(d->query, d->qlen, data, len, &d->answer, &why);
  if (rc == EMU_EAGAIN) {
    d->ignored++;
    d->last_ignored = why;
  } else if (rc == EMU_ENOTSUP) {
    net_dns_ask_over_tcp(d, now_ns);
  } else if (rc) {
    net_dns_fail(d, why, now_ns);
  } else {
    net_dns_done(d, now_ns);
  }
  return EMU_FATE_DELIVERED;
}

static void net_dns_send(net_dns *d, uint64_t now_ns) {
  d->tries++;
  d->deadline_ns = now_ns + d->wait_ns;
  /* a send that fails (ARP queue full) is retried by the timer like a loss */
  (void)net_udp_sendto(&d->sock, d->server, NET_DNS_PORT, d->query, d->qlen, now_ns);
}

int net_dns_start(net_dns *d, net_iface *ifc, uint32_t server, const char *name, emu_rng *rng,
                  uint64_t now_ns, const char **why) {
  static const char *unused;
  if (!why) why = &unused;
  *why = NULL;
  if (!d || !ifc || !rng) return EMU_EINVAL;
  memset(d, 0, sizeof *d);
  d->ifc = ifc;
  d->server = server;
  int n = net_dns_build_query(name, (uint16_t)emu_rng_next(rng), d->query, sizeof d->query, why);
  if (n < 0) return n;
  d->qlen = (size_t)n;
  int rc = net_udp_bind(ifc, &d->sock, 0);
  if (rc) return rc;
  net_udp_set_handler(&d->sock, net_dns_rx, d);
  d->state = NET_DNS_WAITING;
  d->wait_ns = NET_DNS_RETRY_FIRST_NS;
  net_dns_send(d, now_ns);
  return 0;
}

void net_dns_poll(net_dns *d, uint64_t now_ns) {
  if (d->state != NET_DNS_WAITING || now_ns < d->deadline_ns) return;
  if (d->tcp) {
    net_dns_fail(d, "no answer over TCP within 10 s (the one over UDP was truncated)", now_ns);
    return;
  }
  if (d->tries >= NET_DNS_TRIES) {
    char why[160];
    snprintf(why, sizeof why, "no answer from the DNS server after %u queries", d->tries);
    net_dns_fail(d, why, now_ns);
    return;
  }
  d->wait_ns *= 2;
  net_dns_send(d, now_ns);
}

uint64_t net_dns_poll_at(const net_dns *d) {
  return d->state == NET_DNS_WAITING ? d->deadline_ns : EMU_TIME_NEVER;
}

net_dns_state net_dns_get_state(const net_dns *d) { return d->state; }

const net_dns_answer *net_dns_get_answer(const net_dns *d) {
  return d->state == NET_DNS_DONE ? &d->answer : NULL;
}

const char *net_dns_error(const net_dns *d) { return d->error; }

void net_dns_forget(net_dns *d) {
  if (!d) return;
  net_udp_unbind(&d->sock);
  if (d->tcp) net_tcp_set_handler(d->tcp, NULL, NULL);
  d->tcp = NULL;
}

void net_dns_close(net_dns *d, uint64_t now_ns) {
  if (!d) return;
  net_udp_unbind(&d->sock);
  net_dns_tcp_end(d, now_ns);
}
