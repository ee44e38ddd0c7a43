/* IPv4 reassembly (RFC 791 §3.2 "Fragmentation and Reassembly", with RFC
 * 815's idea of tracking what is still missing, here as a bitmap of 8-byte
 * blocks).
 *
 * A bounded table: at most NET_REASM_SLOTS datagrams at once, each at most
 * 65,535 bytes and NET_REASM_FRAGMENTS fragments, each given up after
 * NET_REASM_TIMEOUT_NS (RFC 1122 §3.3.2 recommends 60 s to 120 s as the
 * upper bound; Linux's ipfrag_time is 30 s). Every fragment keeps the tag
 * it was delivered with, so that the frame's fate can be given when the
 * datagram's is known: the datagram's own when it completes, a named drop
 * when it times out, is pushed out of a full table or is damaged. */
#ifndef VNETSIM_STACK_REASM_H
#define VNETSIM_STACK_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "emu/fate.h"

#define NET_REASM_SLOTS      8
#define NET_REASM_FRAGMENTS  64
#define NET_REASM_TIMEOUT_NS 30000000000ull
#define NET_REASM_MAX_LEN    65535u /* a datagram's total length, header included */

/* Called with the tag of every fragment a datagram held, once its fate is
 * known (EMU_PORT_NO_TAG tags are not reported). */
typedef void (*net_reasm_fate_fn)(void *ctx, uint64_t tag, emu_fate fate, uint64_t now_ns);

typedef struct net_reasm_slot {
  uint32_t src, dst;
  uint16_t ident;
  uint8_t protocol;
  int used;
  uint32_t end; /* payload bytes, once the last fragment came (0: not yet) */
  uint64_t deadline_ns;
  uint8_t *data;     /* the first fragment's header, then the payload */
  size_t header_len; /* 0 until the first fragment came */
  uint8_t *have;     /* a bit per 8-byte block of payload received */
  uint32_t blocks;   /* how many of those bits are set */
  uint64_t tags[NET_REASM_FRAGMENTS];
  size_t ntags;
} net_reasm_slot;

typedef struct net_reasm {
  net_reasm_slot slots[NET_REASM_SLOTS];
  net_reasm_fate_fn report;
  void *report_ctx;
  uint8_t *whole;       /* the last completed datagram, NET_REASM_MAX_LEN bytes once needed */
  net_reasm_slot *done; /* its slot, until net_reasm_settle */
  uint64_t completed;   /* datagrams made whole */
} net_reasm;

void net_reasm_init(net_reasm *r, net_reasm_fate_fn report, void *ctx);
/* Gives every datagram still held the fate `fate` (the run ended) and frees
 * the table. */
void net_reasm_close(net_reasm *r, emu_fate fate, uint64_t now_ns);

/* Takes one fragment (a checked IPv4 packet with MF set or a non-zero
 * offset), delivered with tag. Returns:
 *   EMU_FATE_PENDING      held; its fate comes through report (needs a tag)
 *   EMU_FATE_DELIVERED    held, without a tag to report later
 *   a drop fate           refused (malformed, out of memory)
 * and, when this fragment completes its datagram, sets *whole and *len to
 * the reassembled packet (valid until the next call); the caller then hands
 * it on and passes its fate to net_reasm_settle. */
emu_fate net_reasm_add(net_reasm *r, const uint8_t *pkt, size_t len, uint64_t tag, uint64_t now_ns,
                       const uint8_t **whole, size_t *whole_len);
/* The datagram just completed got fate: every fragment it held gets it. */
void net_reasm_settle(net_reasm *r, emu_fate fate, uint64_t now_ns);
/* Gives up datagrams past their deadline (EMU_FATE_REASSEMBLY_TIMEOUT). */
void net_reasm_poll(net_reasm *r, uint64_t now_ns);
/* The earliest deadline, or UINT64_MAX. */
uint64_t net_reasm_poll_at(const net_reasm *r);

#endif
