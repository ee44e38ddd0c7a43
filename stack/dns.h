/* A DNS stub resolver (RFC 1035) for the guest: one A query over UDP to one
 * server, retried, every answer checked before it is believed.
 *
 *   net_dns_build_query()  the query message (RFC 1035 §4.1)
 *   net_dns_parse_answer() validates a response against the query and finds
 *                          the name's first IPv4 address, following CNAMEs
 *   net_dns                a resolver on a net_iface: an ephemeral UDP port,
 *                          the query sent, resent after a timeout, given up
 *                          after NET_DNS_TRIES sends
 *
 * What a response must be to be believed: from the server's address and
 * port 53; at least a header; the query's id (RFC 1035 §7.3: anything else
 * is not an answer, and is ignored, not fatal: the real answer may follow);
 * QR set and the opcode a standard query's; RCODE 0 (3 is "no such name"); exactly our question echoed back
 * (name compared without regard to case, §2.3.3); every record inside the
 * message. Names may be compressed (§4.1.4): a pointer must point before
 * the name that uses it, so a loop cannot form, and a name may not pass
 * NET_DNS_NAME_MAX bytes or NET_DNS_MAX_POINTERS pointers.
 *
 * A truncated answer over UDP (TC) is not believed: the resolver asks again
 * over TCP (RFC 1035 §4.2.1, RFC 7766 §5), each message behind its two-byte
 * length (RFC 1035 §4.2.2), on one connection it closes when answered. An
 * answer over TCP is believed as one over UDP would be, TC aside.
 *
 * The id comes from a PRNG the caller seeds; time is only ever an argument.
 * Nothing allocates or prints (the TCP connection is the stack's). */
#ifndef VNETSIM_STACK_DNS_H
#define VNETSIM_STACK_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "emu/rng.h"
#include "stack/udp.h"

#define NET_DNS_PORT 53
/* RFC 1035 §4.1.1: the header's fields and flags. */
#define NET_DNS_HEADER_LEN     12
#define NET_DNS_OFF_ID         0
#define NET_DNS_OFF_FLAGS      2
#define NET_DNS_OFF_QDCOUNT    4
#define NET_DNS_OFF_ANCOUNT    6
#define NET_DNS_OFF_NSCOUNT    8
#define NET_DNS_OFF_ARCOUNT    10
#define NET_DNS_FLAG_QR        0x8000u
#define NET_DNS_OPCODE_MASK    0x7800u
#define NET_DNS_FLAG_TC        0x0200u
#define NET_DNS_FLAG_RD        0x0100u
#define NET_DNS_RCODE_MASK     0x000fu
#define NET_DNS_RCODE_NXDOMAIN 3
/* RFC 1035 §3.2.2-§3.2.4: the types and class used here. */
#define NET_DNS_TYPE_A     1
#define NET_DNS_TYPE_CNAME 5
#define NET_DNS_CLASS_IN   1
/* RFC 1035 §2.3.4: labels of 63 bytes at most, names of 255 on the wire. */
#define NET_DNS_LABEL_MAX 63
#define NET_DNS_NAME_MAX  255
/* RFC 1035 §4.1.4: the two top bits of a length byte mark a pointer. */
#define NET_DNS_POINTER_BITS 0xc0u
#define NET_DNS_POINTER_MASK 0x3fffu /* the offset in a pointer's two bytes */
#define NET_DNS_MAX_POINTERS 16
/* A record's fixed part after its name: type, class, TTL, RDLENGTH. */
#define NET_DNS_RR_FIXED_LEN 10
/* RFC 1035 §4.2.1: UDP messages are 512 bytes at most. */
#define NET_DNS_UDP_MAX 512
/* RFC 1035 §4.2.2: over TCP a message follows its length, two bytes. */
#define NET_DNS_TCP_LEN_PREFIX 2
/* The longest answer over TCP this resolver reads (an A lookup's answer is
 * far shorter; RFC 7766 allows 65,535) and how long it waits for it. */
#define NET_DNS_TCP_MAX        16384
#define NET_DNS_TCP_TIMEOUT_NS 10000000000ull
/* CNAMEs followed before the answer is called a loop. */
#define NET_DNS_MAX_CNAMES 8
/* RFC 1536 §1 and RFC 1035 §4.2.1 leave the interval to the resolver: 2 s,
 * doubled at each try, 3 tries (2 + 4 + 8 s). */
#define NET_DNS_RETRY_FIRST_NS 2000000000ull
#define NET_DNS_TRIES          3

/* Writes the A query for name (dotted text, a trailing dot allowed) with
 * id and RD set into buf. Returns its length, or EMU_EINVAL with a reason in
 * *why: an empty label, a label over 63 bytes, a name over 253 characters, a
 * character other than letters, digits, '-' and '_'; EMU_ENOSPC when cap is
 * too small. */
int net_dns_build_query(const char *name, uint16_t id, uint8_t *buf, size_t cap, const char **why);

typedef struct net_dns_answer {
  uint32_t ip;     /* host order */
  uint32_t ttl;    /* seconds, of the A record */
  unsigned cnames; /* CNAMEs followed to reach it */
  int over_tcp;    /* the answer over UDP was truncated: this one came over TCP */
} net_dns_answer;

/* Checks the response msg (len bytes) to the query (qlen bytes) and finds
 * the first A record of the queried name or of the name its CNAMEs lead to.
 * Returns 0; EMU_EAGAIN when it is not an answer to this query (another id,
 * not a response): ignore it; EMU_EFORMAT when it is malformed; EMU_ENOTSUP
 * when truncated (TC: ask over TCP); EMU_ESTATE when the server says the name does not
 * exist, failed, or answered without an address. *why says which. */
int net_dns_parse_answer(const uint8_t *query, size_t qlen, const uint8_t *msg, size_t len,
                         net_dns_answer *out, const char **why);

typedef enum net_dns_state {
  NET_DNS_IDLE = 0,
  NET_DNS_WAITING,
  NET_DNS_DONE,
  NET_DNS_FAILED,
} net_dns_state;

/* Fields are private: use the functions. */
typedef struct net_tcp_conn net_tcp_conn;

typedef struct net_dns {
  net_iface *ifc;
  net_udp_sock sock;
  net_tcp_conn *tcp; /* after a truncated answer, until answered or failed */
  size_t tcp_got;
  uint8_t tcp_in[NET_DNS_TCP_LEN_PREFIX + NET_DNS_TCP_MAX];
  net_dns_state state;
  uint32_t server;
  uint8_t query[NET_DNS_UDP_MAX];
  size_t qlen;
  unsigned tries;
  uint64_t wait_ns, deadline_ns;
  net_dns_answer answer;
  uint64_t ignored; /* datagrams that were not this query's answer */
  const char *last_ignored;
  char error[160];
} net_dns;

/* Binds an ephemeral port on ifc and sends the A query for name to
 * server:53 with an id drawn from rng. Returns 0, EMU_EINVAL (a bad name:
 * *why), or a bind or send error. d must stay put until net_dns_close(). */
int net_dns_start(net_dns *d, net_iface *ifc, uint32_t server, const char *name, emu_rng *rng,
                  uint64_t now_ns, const char **why);
void net_dns_poll(net_dns *d, uint64_t now_ns);
uint64_t net_dns_poll_at(const net_dns *d);
net_dns_state net_dns_get_state(const net_dns *d);
/* The answer once DONE. */
const net_dns_answer *net_dns_get_answer(const net_dns *d);
/* Why it FAILED, else "". */
const char *net_dns_error(const net_dns *d);
/* Unbinds, and ends a TCP connection still open (a RST when unanswered). */
void net_dns_close(net_dns *d, uint64_t now_ns);
/* Unbinds without sending anything: a TCP connection is left to the iface
 * (net_iface_close frees it), with no callback into d. */
void net_dns_forget(net_dns *d);

#endif
