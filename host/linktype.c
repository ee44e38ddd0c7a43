#include "host/linktype.h"

#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HDR        14
#define ETH_ADDR       6
#define ETH_TYPE_AT    12
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP  0x0806u
#define ETHERTYPE_IPV6 0x86ddu
/* 802.1Q, 802.1ad (QinQ) and the older 0x9100 outer tag */
#define ETHERTYPE_VLAN   0x8100u
#define ETHERTYPE_QINQ   0x88a8u
#define ETHERTYPE_QINQ_1 0x9100u
#define VLAN_TAG         4
/* Linux cooked capture: v1 (DLT_LINUX_SLL) and v2 (DLT_LINUX_SLL2) headers,
 * and where each keeps the payload's protocol (an Ethernet type). */
#define SLL_HDR       16
#define SLL_PROTO_AT  14
#define SLL2_HDR      20
#define SLL2_PROTO_AT 0
/* BSD loopback: a 4-byte address family (host order for DLT_NULL). */
#define LOOP_HDR    4
#define AF_INET_ANY 2
/* AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS */
#define AF_INET6_LINUX   10
#define AF_INET6_BSD     24
#define AF_INET6_FREEBSD 28
#define AF_INET6_DARWIN  30
#define ARP_SHA_AT       8
#define ARP_OPER_AT      6
#define ARP_THA_AT       18
#define ARP_REQUEST      1
#define IPV4_SRC_AT      12
#define IPV4_DST_AT      16
#define IPV6_SRC_LOW_AT  20 /* the last 4 bytes of the source address */
#define IPV6_DST_LOW_AT  36

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

int host_link_supported(int dlt) {
  switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
      return 1;
    default:
      return 0;
  }
}

int host_link_synthesizes_macs(int dlt) { return dlt != DLT_EN10MB; }

static int host_link_is_tag(uint16_t type) {
  return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_1;
}

int host_link_needs_conversion(int dlt, const uint8_t *in, size_t caplen) {
  if (dlt != DLT_EN10MB) return 1;
  return caplen >= ETH_HDR && host_link_is_tag(be16(in + ETH_TYPE_AT));
}

void host_link_mac_for_ipv4(uint32_t ip, uint8_t mac[6]) {
  const uint8_t m[6] = {
      0x02, 0x00, (uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip};
  memcpy(mac, m, sizeof m);
}

/* Synthesized addresses for a payload of Ethernet type `type`: from the IP
 * addresses, or an ARP frame's own. -1 when the payload is too short. */
static int host_link_macs(uint16_t type, const uint8_t *pl, size_t len, uint8_t *eth) {
  uint8_t *dst = eth, *src = eth + ETH_ADDR;
  if (type == ETHERTYPE_IPV4 && len >= IPV4_DST_AT + 4) {
    host_link_mac_for_ipv4(be32(pl + IPV4_DST_AT), dst);
    host_link_mac_for_ipv4(be32(pl + IPV4_SRC_AT), src);
    return 0;
  }
  if (type == ETHERTYPE_IPV6 && len >= IPV6_DST_LOW_AT + 4) {
    host_link_mac_for_ipv4(be32(pl + IPV6_DST_LOW_AT), dst);
    host_link_mac_for_ipv4(be32(pl + IPV6_SRC_LOW_AT), src);
    return 0;
  }
  if (type == ETHERTYPE_ARP && len >= ARP_THA_AT + ETH_ADDR) {
    memcpy(src, pl + ARP_SHA_AT, ETH_ADDR);
    if (be16(pl + ARP_OPER_AT) == ARP_REQUEST)
      memset(dst, 0xff, ETH_ADDR);
    else
      memcpy(dst, pl + ARP_THA_AT, ETH_ADDR);
    return 0;
  }
  return -1;
}

/* A new Ethernet frame: addresses from `macs` (NULL: synthesized), `type`,
 * then the payload. */
static int host_link_frame(const uint8_t *macs, uint16_t type, const uint8_t *pl, size_t len,
                           uint8_t **out, size_t *outlen) {
  uint8_t *f = malloc(ETH_HDR + len);
  if (!f) return -1;
  if (macs)
    memcpy(f, macs, 2 * ETH_ADDR);
  else if (host_link_macs(type, pl, len, f)) {
    free(f);
    return -1;
  }
  f[ETH_TYPE_AT] = (uint8_t)(type >> 8);
  f[ETH_TYPE_AT + 1] = (uint8_t)type;
  memcpy(f + ETH_HDR, pl, len);
  *out = f;
  *outlen = ETH_HDR + len;
  return 0;
}

/* Ethernet with VLAN tags: the tags are taken off, however many. */
static int host_link_untag(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen) {
  if (len < ETH_HDR) return -1;
  size_t at = ETH_TYPE_AT;
  uint16_t type = be16(in + at);
  while (host_link_is_tag(type) && at + VLAN_TAG + 2 <= len) {
    at += VLAN_TAG;
    type = be16(in + at);
  }
  return host_link_frame(in, type, in + at + 2, len - at - 2, out, outlen);
}

/* The Ethernet type of a raw IP packet, from its version nibble. */
static int host_link_ip_type(const uint8_t *in, size_t len, uint16_t *type) {
  if (len < 1) return -1;
  unsigned version = in[0] >> 4;
  if (version != 4 && version != 6) return -1;
  *type = version == 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
  return 0;
}

/* BSD loopback: the family, in either byte order for DLT_NULL. */
static int host_link_loop_type(int dlt, const uint8_t *in, size_t len, uint16_t *type) {
  if (len < LOOP_HDR) return -1;
  uint32_t be = be32(in);
  uint32_t le = (uint32_t)in[3] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[1] << 8 | in[0];
  uint32_t fam = dlt == DLT_LOOP || be < 256 ? be : le;
  if (fam == AF_INET_ANY)
    *type = ETHERTYPE_IPV4;
  else if (fam == AF_INET6_LINUX || fam == AF_INET6_BSD || fam == AF_INET6_FREEBSD ||
           fam == AF_INET6_DARWIN)
    *type = ETHERTYPE_IPV6;
  else
    return -1;
  return 0;
}

int host_link_to_ethernet(int dlt, const uint8_t *in, size_t caplen, uint8_t **out, size_t *outlen,
                          long *grew) {
  uint16_t type;
  size_t hdr;
  switch (dlt) {
    case DLT_EN10MB:
      if (host_link_untag(in, caplen, out, outlen)) return -1;
      *grew = (long)*outlen - (long)caplen;
      return 0;
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
      hdr = dlt == DLT_LINUX_SLL ? SLL_HDR : SLL2_HDR;
      if (caplen < hdr) return -1;
      type = be16(in + (dlt == DLT_LINUX_SLL ? SLL_PROTO_AT : SLL2_PROTO_AT));
      if (type < 0x600u) return -1; /* an 802.2 length, not an Ethernet type */
      break;
    case DLT_NULL:
    case DLT_LOOP:
      hdr = LOOP_HDR;
      if (host_link_loop_type(dlt, in, caplen, &type)) return -1;
      break;
    default: /* raw IP */
      hdr = 0;
      if (host_link_ip_type(in, caplen, &type)) return -1;
      break;
  }
  if (host_link_frame(NULL, type, in + hdr, caplen - hdr, out, outlen)) return -1;
  *grew = (long)ETH_HDR - (long)hdr;
  return 0;
}
