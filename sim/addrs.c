/* Tables of IPv4 addresses with what frames showed of each: the proxy ARP's
 * (the MACs it answers with) and the endpoint scan's (who served, who was
 * talked to). */
#include <stdlib.h>
#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"

/* First table size (a power of two); it doubles at half full. */
#define SCN_ADDRS_FIRST_SLOTS 64u
/* Fibonacci hashing of an IPv4 address into the table. */
#define SCN_ADDRS_HASH_MUL 0x9e3779b1u

/* The slot of ip, or the free slot where it would go. */
static scn_addr *scn_addrs_slot(scn_addr *slots, size_t cap, uint32_t ip) {
  size_t i = (size_t)(ip * SCN_ADDRS_HASH_MUL) & (cap - 1);
  while (slots[i].ip != 0 && slots[i].ip != ip) i = (i + 1) & (cap - 1);
  return &slots[i];
}

/* Doubles the table; 0, or -1 when out of memory (the table stays). */
static int scn_addrs_grow(scn_addrs *t) {
  size_t cap = t->cap ? t->cap * 2 : SCN_ADDRS_FIRST_SLOTS;
  if (cap < t->cap) return -1;
  scn_addr *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].ip) *scn_addrs_slot(slots, cap, t->slots[i].ip) = t->slots[i];
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

const scn_addr *scn_addrs_find(const scn_addrs *t, uint32_t ip) {
  if (!t->cap || ip == 0) return NULL;
  const scn_addr *e = scn_addrs_slot(t->slots, t->cap, ip);
  return e->ip == ip ? e : NULL;
}

scn_addr *scn_addrs_get(scn_addrs *t, uint32_t ip) {
  if (t->cap) {
    scn_addr *e = scn_addrs_slot(t->slots, t->cap, ip);
    if (e->ip == ip) return e;
  }
  if ((t->n + 1) * 2 > t->cap && scn_addrs_grow(t) != 0) return NULL;
  scn_addr *e = scn_addrs_slot(t->slots, t->cap, ip);
  e->ip = ip;
  t->n++;
  return e;
}

void scn_addr_note_mac(scn_addr *e, const uint8_t *mac, int as_source) {
  if (!mac || net_mac_is_group(mac) || (e->mac_from_source && !as_source)) return;
  memcpy(e->mac, mac, NET_MAC_LEN);
  e->has_mac = 1;
  e->mac_from_source = as_source;
}

void scn_addrs_free(scn_addrs *t) {
  free(t->slots);
  memset(t, 0, sizeof *t);
}
