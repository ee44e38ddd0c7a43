#include "stack/reasm.h"

#include <stdlib.h>
#include <string.h>

#include "emu/port.h"
#include "stack/wire.h"

#define REASM_BLOCK        8u /* fragment offsets count 8-byte blocks (RFC 791 §3.1) */
#define REASM_BLOCKS       (NET_REASM_MAX_LEN / REASM_BLOCK + 1)
#define REASM_FLAGS_AT     6 /* flags and fragment offset, bytes 6-7 of the header */
#define REASM_TOTAL_LEN_AT 2
#define REASM_CHECKSUM_AT  10
#define REASM_DF           0x4000u /* the flags' "don't fragment" bit, kept */
#define REASM_HEADER_MAX   60u     /* IHL 15: the longest IPv4 header */
/* A slot's buffer: room for the longest header, then every payload byte */
#define REASM_BUF (REASM_HEADER_MAX + NET_REASM_MAX_LEN)

void net_reasm_init(net_reasm *r, net_reasm_fate_fn report, void *ctx) {
  memset(r->slots, 0, sizeof r->slots);
  r->whole = NULL;
  r->report = report;
  r->report_ctx = ctx;
  r->done = NULL;
  r->completed = 0;
}

/* Every fragment slot s held gets fate; the slot is free again. */
static void reasm_release(net_reasm *r, net_reasm_slot *s, emu_fate fate, uint64_t now_ns) {
  for (size_t i = 0; i < s->ntags; i++)
    if (r->report && s->tags[i] != EMU_PORT_NO_TAG)
      r->report(r->report_ctx, s->tags[i], fate, now_ns);
  free(s->data);
  free(s->have);
  memset(s, 0, sizeof *s);
}

void net_reasm_close(net_reasm *r, emu_fate fate, uint64_t now_ns) {
  for (size_t i = 0; i < NET_REASM_SLOTS; i++)
    if (r->slots[i].used) reasm_release(r, &r->slots[i], fate, now_ns);
  free(r->whole);
  r->whole = NULL;
  r->done = NULL;
}

/* RFC 791 §3.2: a datagram is named by source, destination, protocol and
 * identification. A new one takes a free slot, else the one closest to its
 * deadline (its fragments time out now). */
static net_reasm_slot *reasm_slot(net_reasm *r, const uint8_t *pkt, uint64_t now_ns) {
  net_reasm_slot *oldest = NULL;
  for (size_t i = 0; i < NET_REASM_SLOTS; i++) {
    net_reasm_slot *s = &r->slots[i];
    if (s->used && s->src == net_ipv4_src(pkt) && s->dst == net_ipv4_dst(pkt) &&
        s->ident == net_ipv4_ident(pkt) && s->protocol == net_ipv4_protocol(pkt))
      return s;
    if (!oldest || !s->used || (oldest->used && s->deadline_ns < oldest->deadline_ns)) oldest = s;
  }
  if (oldest->used) reasm_release(r, oldest, EMU_FATE_REASSEMBLY_TIMEOUT, now_ns);
  oldest->data = malloc(REASM_BUF);
  oldest->have = calloc(REASM_BLOCKS / 8 + 1, 1);
  if (!oldest->data || !oldest->have) {
    free(oldest->data);
    free(oldest->have);
    memset(oldest, 0, sizeof *oldest);
    return NULL;
  }
  oldest->used = 1;
  oldest->src = net_ipv4_src(pkt);
  oldest->dst = net_ipv4_dst(pkt);
  oldest->ident = net_ipv4_ident(pkt);
  oldest->protocol = net_ipv4_protocol(pkt);
  oldest->deadline_ns = now_ns + NET_REASM_TIMEOUT_NS;
  return oldest;
}

static int reasm_complete(const net_reasm_slot *s) {
  return s->end && s->header_len && s->blocks == (s->end + REASM_BLOCK - 1) / REASM_BLOCK;
}

/* The whole datagram in r->whole: the first fragment's header, with no
 * fragment left in it, over every payload byte. */
static size_t reasm_build(net_reasm *r, const net_reasm_slot *s) {
  size_t len = s->header_len + s->end;
  memcpy(r->whole, s->data, len);
  net_put_be16(r->whole + REASM_FLAGS_AT,
               (uint16_t)(net_get_be16(r->whole + REASM_FLAGS_AT) & REASM_DF));
  net_put_be16(r->whole + REASM_TOTAL_LEN_AT, (uint16_t)len);
  net_put_be16(r->whole + REASM_CHECKSUM_AT, 0);
  net_put_be16(r->whole + REASM_CHECKSUM_AT, net_inet_checksum(r->whole, s->header_len));
  return len;
}

emu_fate net_reasm_add(net_reasm *r, const uint8_t *pkt, size_t len, uint64_t tag, uint64_t now_ns,
                       const uint8_t **whole, size_t *whole_len) {
  *whole = NULL;
  size_t hl = net_ipv4_header_len(pkt), n = net_ipv4_payload_len(pkt);
  uint32_t off = net_ipv4_frag_offset(pkt);
  int last = !net_ipv4_more_frags(pkt);
  /* RFC 791 §3.2: every fragment but the last carries a multiple of 8
   * bytes, and no datagram is longer than 65,535 */
  if (hl > len || (!last && n % REASM_BLOCK) || hl + off + n > NET_REASM_MAX_LEN || n == 0)
    return EMU_FATE_MALFORMED;
  net_reasm_slot *s = reasm_slot(r, pkt, now_ns);
  if (!s) return EMU_FATE_NO_MEMORY;
  if (s->ntags == NET_REASM_FRAGMENTS || (last && s->end && s->end != off + n) ||
      (s->end && off + n > s->end)) {
    reasm_release(r, s, EMU_FATE_MALFORMED, now_ns); /* inconsistent: all of it */
    return EMU_FATE_MALFORMED;
  }
  if (off == 0) {
    memcpy(s->data, pkt, hl);
    s->header_len = hl;
  }
  /* payload lives after the largest header an IPv4 packet can have, moved
   * into place when the datagram is built */
  memcpy(s->data + REASM_HEADER_MAX + off, pkt + hl, n);
  if (last) s->end = off + (uint32_t)n;
  for (uint32_t b = off / REASM_BLOCK; b < (off + n + REASM_BLOCK - 1) / REASM_BLOCK; b++) {
    uint8_t bit = (uint8_t)(1u << (b % 8));
    s->blocks += !(s->have[b / 8] & bit); /* a block sent twice counts once */
    s->have[b / 8] |= bit;
  }
  s->tags[s->ntags++] = tag;
  if (!reasm_complete(s)) return tag == EMU_PORT_NO_TAG ? EMU_FATE_DELIVERED : EMU_FATE_PENDING;
  s->ntags--; /* this fragment's fate is the caller's to give */
  if (!r->whole && !(r->whole = malloc(NET_REASM_MAX_LEN))) {
    reasm_release(r, s, EMU_FATE_NO_MEMORY, now_ns);
    return EMU_FATE_NO_MEMORY;
  }
  memmove(s->data + s->header_len, s->data + REASM_HEADER_MAX, s->end);
  *whole_len = reasm_build(r, s);
  *whole = r->whole;
  r->done = s;
  r->completed++;
  return EMU_FATE_PENDING;
}

void net_reasm_settle(net_reasm *r, emu_fate fate, uint64_t now_ns) {
  if (r->done) reasm_release(r, r->done, fate, now_ns);
  r->done = NULL;
}

void net_reasm_poll(net_reasm *r, uint64_t now_ns) {
  for (size_t i = 0; i < NET_REASM_SLOTS; i++) {
    net_reasm_slot *s = &r->slots[i];
    if (!s->used || now_ns < s->deadline_ns) continue;
    reasm_release(r, s, EMU_FATE_REASSEMBLY_TIMEOUT, now_ns);
  }
}

uint64_t net_reasm_poll_at(const net_reasm *r) {
  uint64_t at = UINT64_MAX;
  for (size_t i = 0; i < NET_REASM_SLOTS; i++)
    if (r->slots[i].used && r->slots[i].deadline_ns < at) at = r->slots[i].deadline_ns;
  return at;
}
