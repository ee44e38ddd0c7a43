/* libFuzzer target: what the guest's client believes of a server's reply.
 *
 * Byte 0 picks the reader; the rest is the server's bytes:
 *   0  a DHCP message (net_dhcp_parse)
 *   1  a DNS response to the A query for www.example.test (net_dns_parse_answer);
 *      the input's first two bytes are overwritten with the query's id half
 *      the time, so that the reader gets past the id check
 *   2  an HTTP response (net_httpc_resp_feed), cut into pieces whose sizes
 *      come from the input, then the end of the connection
 *   3  a URL and an action line (net_httpc_parse_url, net_client_add)
 *
 * Oracles, besides ASan and UBSan: a refusal always carries a reason; an
 * accepted DNS answer came from a response at least as long as the query; a
 * body is never longer than the bytes fed; a complete response accepts no
 * more bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "stack/client.h"
#include "stack/dhcp.h"
#include "stack/dns.h"
#include "stack/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_QUERY_ID 0x4242u
#define FUZZ_TEXT_MAX 2048u

static void fuzz_dhcp(const uint8_t *d, size_t n) {
  net_dhcp_msg m;
  const char *why = NULL;
  if (net_dhcp_parse(d, n, &m, &why) != 0 && !why) abort();
}

static void fuzz_dns(const uint8_t *d, size_t n) {
  uint8_t q[NET_DNS_UDP_MAX], m[NET_DNS_UDP_MAX * 2];
  int ql = net_dns_build_query("www.example.test", FUZZ_QUERY_ID, q, sizeof q, NULL);
  if (ql < 0) abort();
  if (n < 1) return;
  size_t len = n - 1 < sizeof m ? n - 1 : sizeof m;
  memcpy(m, d + 1, len);
  if ((d[0] & 1) && len >= 2) memcpy(m, q, 2); /* the query's id */
  net_dns_answer a;
  const char *why = NULL;
  int rc = net_dns_parse_answer(q, (size_t)ql, m, len, &a, &why);
  if (rc != 0 && !why) abort();
  if (rc == 0 && len < (size_t)ql) abort();
}

static void fuzz_body(void *ctx, const uint8_t *d, size_t n) {
  (void)d;
  *(size_t *)ctx += n;
}

static void fuzz_http(const uint8_t *d, size_t n) {
  net_httpc_resp *r = malloc(sizeof *r);
  if (!r) return;
  size_t body = 0, fed = 0;
  net_httpc_resp_init(r, fuzz_body, &body);
  int rc = 0;
  /* byte k of the input sizes piece k (1..16), the data follows them all */
  size_t cuts = n / 8, at = cuts;
  for (size_t k = 0; k < cuts && at < n && !rc; k++) {
    size_t piece = (size_t)(d[k] & 15) + 1;
    if (piece > n - at) piece = n - at;
    rc = net_httpc_resp_feed(r, d + at, piece);
    at += piece;
    fed += piece;
  }
  if (!rc && at < n) {
    rc = net_httpc_resp_feed(r, d + at, n - at);
    fed += n - at;
  }
  if (!rc) rc = net_httpc_resp_eof(r);
  if ((rc && !r->error[0]) || body > fed) abort();
  if (!rc && r->phase == NET_HTTPC_COMPLETE) {
    static const uint8_t more = 'x';
    if (net_httpc_resp_feed(r, &more, 1) == 0) abort();
  }
  free(r);
}

static void fuzz_text(const uint8_t *d, size_t n) {
  char text[FUZZ_TEXT_MAX + 1];
  size_t len = n < FUZZ_TEXT_MAX ? n : FUZZ_TEXT_MAX;
  memcpy(text, d, len);
  text[len] = '\0';
  net_httpc_url u;
  const char *why = NULL;
  if (net_httpc_parse_url(text, &u, &why) != 0 && !why) abort();
  static net_client c; /* no iface: only parsing runs */
  memset(&c, 0, sizeof c);
  char reason[256] = "";
  int rc = net_client_add(&c, text, 0, reason, sizeof reason);
  if (rc < 0 && !reason[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] & 3) {
    case 0:
      fuzz_dhcp(data + 1, size - 1);
      break;
    case 1:
      fuzz_dns(data + 1, size - 1);
      break;
    case 2:
      fuzz_http(data + 1, size - 1);
      break;
    default:
      fuzz_text(data + 1, size - 1);
      break;
  }
  return 0;
}
