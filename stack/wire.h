/* Wire formats: Ethernet II, ARP, IPv4, ICMP, IPv6, ICMPv6 with Neighbor
 * Discovery, UDP and TCP as views over byte buffers.
 *
 * Nothing here casts a struct onto a frame. Each format has:
 *   - a check function, net_X_check(buf, len), that proves the buffer is long
 *     enough and self-consistent; it returns 0 or a negative emu_err code
 *     (EMU_EFORMAT for truncated or inconsistent bytes);
 *   - inline accessors that read (or write) one field at a fixed byte offset,
 *     big-endian (network order). They do no length checks of their own: call
 *     them only on a buffer the check function accepted;
 *   - a parsed representation (net_X_repr) with parse and emit functions. Emit
 *     writes into a caller buffer of `cap` bytes and returns the number of
 *     bytes written, or EMU_ENOSPC when they do not fit.
 *
 * Addresses in reprs: IPv4 as uint32_t in host order (10.0.2.15 is 0x0a00020f),
 * MAC addresses as uint8_t[6] in wire order. Nothing allocates, nothing keeps a
 * pointer to a buffer beyond one call, except where a repr field says it
 * borrows one (net_icmp_repr.data, net_udp_repr.payload, net_tcp_repr.payload). */
#ifndef VNETSIM_STACK_WIRE_H
#define VNETSIM_STACK_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ---- byte order ---------------------------------------------------------- */

static inline uint16_t net_get_be16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t net_get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void net_put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---- Internet checksum (RFC 1071) ---------------------------------------- */

/* Adds the bytes of data, taken as big-endian 16-bit words, to the running
 * ones'-complement sum acc (start with 0) and returns the new sum. Sums can be
 * chained over several pieces as long as every piece but the last has an even
 * length (RFC 1071 §2(A): an odd final byte is padded with a zero byte). */
uint32_t net_inet_sum(uint32_t acc, const uint8_t *data, size_t len);
/* Folds the carries of a running sum into 16 bits and returns its ones'
 * complement: the value to store in a checksum field (RFC 1071 §2(C)). A
 * region that already holds a correct checksum folds to 0. */
uint16_t net_inet_fold(uint32_t acc);
/* net_inet_fold(net_inet_sum(0, data, len)): the checksum of one region. */
uint16_t net_inet_checksum(const uint8_t *data, size_t len);

/* ---- MAC addresses -------------------------------------------------------- */

#define NET_MAC_LEN 6
extern const uint8_t net_mac_broadcast[NET_MAC_LEN];

/* 1 when mac is ff:ff:ff:ff:ff:ff. */
int net_mac_is_broadcast(const uint8_t *mac);
/* 1 when the group bit (least significant bit of the first octet, IEEE 802-2014
 * §8.2) is set: multicast, and broadcast as its special case. */
static inline int net_mac_is_group(const uint8_t *mac) { return mac[0] & 1; }

/* ---- Ethernet II ----------------------------------------------------------- */

#define NET_ETH_HEADER_LEN 14
#define NET_ETHERTYPE_IPV4 0x0800
#define NET_ETHERTYPE_ARP  0x0806
#define NET_ETHERTYPE_VLAN 0x8100
#define NET_ETHERTYPE_IPV6 0x86dd

/* 0 when frame holds a whole 14-byte header; EMU_EFORMAT when shorter. Frames
 * may be longer than their payload needs (padding to 60 bytes on the wire):
 * upper layers trim by their own length fields. */
int net_eth_check(const uint8_t *frame, size_t len);

static inline const uint8_t *net_eth_dst(const uint8_t *frame) { return frame; }
static inline const uint8_t *net_eth_src(const uint8_t *frame) { return frame + 6; }
static inline uint16_t net_eth_ethertype(const uint8_t *frame) { return net_get_be16(frame + 12); }
static inline const uint8_t *net_eth_payload(const uint8_t *frame) {
  return frame + NET_ETH_HEADER_LEN;
}

typedef struct net_eth_repr {
  uint8_t dst[NET_MAC_LEN];
  uint8_t src[NET_MAC_LEN];
  uint16_t ethertype;
} net_eth_repr;

/* Checks frame and fills *out; 0 or EMU_EFORMAT. */
int net_eth_parse(const uint8_t *frame, size_t len, net_eth_repr *out);
/* Writes the 14-byte header; the payload goes at buf + NET_ETH_HEADER_LEN.
 * Returns NET_ETH_HEADER_LEN or EMU_ENOSPC. */
int net_eth_emit(const net_eth_repr *r, uint8_t *buf, size_t cap);

/* ---- ARP for Ethernet and IPv4 (RFC 826) ---------------------------------- */

#define NET_ARP_LEN            28
#define NET_ARP_HTYPE_ETHERNET 1
#define NET_ARP_OPER_REQUEST   1
#define NET_ARP_OPER_REPLY     2

/* 0 when pkt holds 28 bytes of ARP for Ethernet (htype 1, hlen 6) and IPv4
 * (ptype 0x0800, plen 4); EMU_EFORMAT when shorter; EMU_ENOTSUP for another
 * hardware or protocol type (RFC 826 lets those exist; this stack does not
 * speak them). The operation is not checked: see net_arp_oper(). */
int net_arp_check(const uint8_t *pkt, size_t len);

static inline uint16_t net_arp_htype(const uint8_t *pkt) { return net_get_be16(pkt); }
static inline uint16_t net_arp_ptype(const uint8_t *pkt) { return net_get_be16(pkt + 2); }
static inline uint8_t net_arp_hlen(const uint8_t *pkt) { return pkt[4]; }
static inline uint8_t net_arp_plen(const uint8_t *pkt) { return pkt[5]; }
static inline uint16_t net_arp_oper(const uint8_t *pkt) { return net_get_be16(pkt + 6); }
static inline const uint8_t *net_arp_sha(const uint8_t *pkt) { return pkt + 8; }
static inline uint32_t net_arp_spa(const uint8_t *pkt) { return net_get_be32(pkt + 14); }
static inline const uint8_t *net_arp_tha(const uint8_t *pkt) { return pkt + 18; }
static inline uint32_t net_arp_tpa(const uint8_t *pkt) { return net_get_be32(pkt + 24); }

typedef struct net_arp_repr {
  uint16_t oper;            /* NET_ARP_OPER_REQUEST or _REPLY */
  uint8_t sha[NET_MAC_LEN]; /* sender hardware address */
  uint32_t spa;             /* sender protocol (IPv4) address */
  uint8_t tha[NET_MAC_LEN]; /* target hardware address (zero in a request) */
  uint32_t tpa;             /* target protocol address */
} net_arp_repr;

/* Checks pkt (as net_arp_check) and fills *out. */
int net_arp_parse(const uint8_t *pkt, size_t len, net_arp_repr *out);
/* Writes the 28-byte Ethernet/IPv4 ARP packet; NET_ARP_LEN or EMU_ENOSPC. */
int net_arp_emit(const net_arp_repr *r, uint8_t *buf, size_t cap);

/* ---- IPv4 (RFC 791) ---------------------------------------------------------- */

#define NET_IPV4_HEADER_LEN 20 /* without options */
#define NET_IPV4_MAX_LEN    65535
#define NET_IPV4_FRAG_BLOCK 8 /* fragment offsets count 8-byte blocks (RFC 791 §3.1) */
#define NET_IP_PROTO_ICMP   1
#define NET_IP_PROTO_TCP    6
#define NET_IP_PROTO_UDP    17
#define NET_IPV4_BROADCAST  0xffffffffu

/* 0 when pkt holds a consistent IPv4 header: at least 20 bytes, version 4,
 * IHL >= 5 with the whole header inside the buffer, and a total length that
 * covers the header and fits in the buffer (the buffer may be longer: Ethernet
 * pads short frames). EMU_EFORMAT otherwise. The header checksum is NOT
 * verified here: see net_ipv4_checksum_ok(), so that a caller can tell a
 * truncated packet from a corrupted one. */
int net_ipv4_check(const uint8_t *pkt, size_t len);
/* 1 when the header checksum verifies (RFC 791 §3.1 "Header Checksum"), else 0.
 * Needs a buffer that net_ipv4_check() accepted. */
int net_ipv4_checksum_ok(const uint8_t *pkt);

static inline uint8_t net_ipv4_version(const uint8_t *pkt) { return pkt[0] >> 4; }
/* Header length in bytes (IHL * 4). */
static inline size_t net_ipv4_header_len(const uint8_t *pkt) { return (size_t)(pkt[0] & 0x0f) * 4; }
static inline uint8_t net_ipv4_tos(const uint8_t *pkt) { return pkt[1]; }
static inline uint16_t net_ipv4_total_len(const uint8_t *pkt) { return net_get_be16(pkt + 2); }
static inline uint16_t net_ipv4_ident(const uint8_t *pkt) { return net_get_be16(pkt + 4); }
/* Flags and fragment offset share bytes 6-7: bit 14 DF, bit 13 MF, low 13 bits
 * the offset in 8-byte units (RFC 791 §3.1). */
static inline int net_ipv4_dont_frag(const uint8_t *pkt) { return (pkt[6] >> 6) & 1; }
static inline int net_ipv4_more_frags(const uint8_t *pkt) { return (pkt[6] >> 5) & 1; }
/* Fragment offset in bytes (the field times 8). */
static inline uint32_t net_ipv4_frag_offset(const uint8_t *pkt) {
  return (uint32_t)(net_get_be16(pkt + 6) & 0x1fff) * 8;
}
/* 1 when the packet is a fragment (MF set or a non-zero offset): only a
 * reassembler may use its payload. */
static inline int net_ipv4_is_fragment(const uint8_t *pkt) {
  return net_ipv4_more_frags(pkt) || net_ipv4_frag_offset(pkt) != 0;
}
static inline uint8_t net_ipv4_ttl(const uint8_t *pkt) { return pkt[8]; }
static inline uint8_t net_ipv4_protocol(const uint8_t *pkt) { return pkt[9]; }
static inline uint16_t net_ipv4_checksum(const uint8_t *pkt) { return net_get_be16(pkt + 10); }
static inline uint32_t net_ipv4_src(const uint8_t *pkt) { return net_get_be32(pkt + 12); }
static inline uint32_t net_ipv4_dst(const uint8_t *pkt) { return net_get_be32(pkt + 16); }
static inline const uint8_t *net_ipv4_payload(const uint8_t *pkt) {
  return pkt + net_ipv4_header_len(pkt);
}
/* Payload length from the total length field; trailing link padding excluded. */
static inline size_t net_ipv4_payload_len(const uint8_t *pkt) {
  return net_ipv4_total_len(pkt) - net_ipv4_header_len(pkt);
}

typedef struct net_ipv4_repr {
  uint32_t src, dst;
  uint8_t protocol;
  uint8_t ttl;
  uint8_t tos;
  uint16_t ident;
  uint8_t dont_frag, more_frags;
  uint32_t frag_offset; /* bytes; a multiple of 8 */
  size_t payload_len;   /* total length minus header length */
} net_ipv4_repr;

/* Checks pkt (as net_ipv4_check) and fills *out. Options are skipped, the
 * checksum is not verified (net_ipv4_checksum_ok does that). */
int net_ipv4_parse(const uint8_t *pkt, size_t len, net_ipv4_repr *out);
/* Writes a 20-byte header without options, checksum filled in. buf must have
 * room for the whole packet (cap >= 20 + payload_len): the caller writes the
 * payload at buf + NET_IPV4_HEADER_LEN. Returns NET_IPV4_HEADER_LEN,
 * EMU_ENOSPC, or EMU_EINVAL when the total length would exceed 65535 or
 * frag_offset is not a multiple of 8 below 65536. */
int net_ipv4_emit(const net_ipv4_repr *r, uint8_t *buf, size_t cap);

/* ---- ICMP for IPv4 (RFC 792) ------------------------------------------------ */

#define NET_ICMP_HEADER_LEN       8
#define NET_ICMP_ECHO_REPLY       0
#define NET_ICMP_DEST_UNREACHABLE 3
#define NET_ICMP_SOURCE_QUENCH    4
#define NET_ICMP_REDIRECT         5
#define NET_ICMP_ECHO_REQUEST     8
#define NET_ICMP_TIME_EXCEEDED    11
/* The most echo data one IPv4 datagram carries, sent in fragments */
#define NET_ICMP_MAX_DATA4 (NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN - NET_ICMP_HEADER_LEN)

/* 0 when msg holds at least the 8-byte ICMP header; EMU_EFORMAT otherwise.
 * len must be the message length from the IP layer (not including padding):
 * the checksum covers exactly that many bytes. */
int net_icmp_check(const uint8_t *msg, size_t len);
/* 1 when the checksum over the whole len-byte message verifies (RFC 792,
 * "Checksum": the 16-bit ones' complement of the ones' complement sum of the
 * ICMP message starting with the ICMP Type), else 0. */
int net_icmp_checksum_ok(const uint8_t *msg, size_t len);

static inline uint8_t net_icmp_type(const uint8_t *msg) { return msg[0]; }
static inline uint8_t net_icmp_code(const uint8_t *msg) { return msg[1]; }
static inline uint16_t net_icmp_checksum(const uint8_t *msg) { return net_get_be16(msg + 2); }
/* Identifier and sequence number of an echo or echo reply (RFC 792 p.14). */
static inline uint16_t net_icmp_echo_ident(const uint8_t *msg) { return net_get_be16(msg + 4); }
static inline uint16_t net_icmp_echo_seq(const uint8_t *msg) { return net_get_be16(msg + 6); }
static inline const uint8_t *net_icmp_data(const uint8_t *msg) { return msg + NET_ICMP_HEADER_LEN; }

typedef struct net_icmp_repr {
  uint8_t type, code;
  /* For echo and echo reply the identifier and sequence number; for other
   * types the two halves of header bytes 4-7, kept so that emit reproduces
   * them (a gateway address, a pointer, or zero). */
  uint16_t ident, seq;
  const uint8_t *data; /* borrowed: the bytes after the 8-byte header */
  size_t data_len;
} net_icmp_repr;

/* Checks msg and fills *out; out->data points into msg. The checksum is not
 * verified here (net_icmp_checksum_ok does that). */
int net_icmp_parse(const uint8_t *msg, size_t len, net_icmp_repr *out);
/* Writes header and data (r->data may already sit at buf + 8, or be NULL when
 * data_len is 0) and fills in the checksum. Returns 8 + data_len,
 * EMU_ENOSPC, or EMU_EINVAL when data_len exceeds any IPv4 packet (65535). */
int net_icmp_emit(const net_icmp_repr *r, uint8_t *buf, size_t cap);

/* ---- IPv6 (RFC 8200) ------------------------------------------------------------- */

#define NET_IPV6_HEADER_LEN 40
#define NET_IPV6_ADDR_LEN   16
/* Next Header values (IANA "Assigned Internet Protocol Numbers"): the
 * extension headers of RFC 8200 §4 and the upper layers this stack speaks. */
#define NET_IPV6_NH_HOP_BY_HOP 0
#define NET_IPV6_NH_ROUTING    43
#define NET_IPV6_NH_FRAGMENT   44
#define NET_IPV6_NH_ESP        50
#define NET_IPV6_NH_AH         51
#define NET_IP_PROTO_ICMPV6    58
#define NET_IPV6_NH_NONE       59
#define NET_IPV6_NH_DEST_OPTS  60

/* 0 when pkt holds a 40-byte header of version 6 whose Payload Length fits
 * in the buffer (which may be longer: Ethernet pads); EMU_EFORMAT otherwise.
 * A Payload Length of 0 (a jumbogram, RFC 2675) is taken as an empty
 * payload: no link here carries jumbograms. */
int net_ipv6_check(const uint8_t *pkt, size_t len);

static inline uint8_t net_ipv6_version(const uint8_t *pkt) { return pkt[0] >> 4; }
static inline uint8_t net_ipv6_traffic_class(const uint8_t *pkt) {
  return (uint8_t)((pkt[0] & 0x0f) << 4 | pkt[1] >> 4);
}
static inline uint32_t net_ipv6_flow_label(const uint8_t *pkt) {
  return net_get_be32(pkt) & 0xfffff;
}
static inline uint16_t net_ipv6_payload_len(const uint8_t *pkt) { return net_get_be16(pkt + 4); }
static inline uint8_t net_ipv6_next_header(const uint8_t *pkt) { return pkt[6]; }
static inline uint8_t net_ipv6_hop_limit(const uint8_t *pkt) { return pkt[7]; }
static inline const uint8_t *net_ipv6_src(const uint8_t *pkt) { return pkt + 8; }
static inline const uint8_t *net_ipv6_dst(const uint8_t *pkt) { return pkt + 24; }
static inline const uint8_t *net_ipv6_payload(const uint8_t *pkt) {
  return pkt + NET_IPV6_HEADER_LEN;
}

typedef struct net_ipv6_repr {
  uint8_t src[NET_IPV6_ADDR_LEN], dst[NET_IPV6_ADDR_LEN];
  uint8_t next_header;
  uint8_t hop_limit;
  uint8_t traffic_class;
  uint32_t flow_label;
  size_t payload_len; /* everything after the fixed header, extension headers included */
} net_ipv6_repr;

/* Checks pkt (as net_ipv6_check) and fills *out. */
int net_ipv6_parse(const uint8_t *pkt, size_t len, net_ipv6_repr *out);
/* Writes the 40-byte header; the payload goes at buf + NET_IPV6_HEADER_LEN.
 * Returns NET_IPV6_HEADER_LEN, EMU_ENOSPC (cap < 40 + payload_len), or
 * EMU_EINVAL when payload_len exceeds 65535 or flow_label 20 bits. */
int net_ipv6_emit(const net_ipv6_repr *r, uint8_t *buf, size_t cap);

/* The upper layer behind the extension headers (RFC 8200 §4): the result of
 * net_ipv6_walk(). */
typedef enum net_ipv6_walk_result {
  NET_IPV6_WALK_OK = 0,     /* *proto and *off name the upper-layer header */
  NET_IPV6_WALK_MALFORMED,  /* an extension header runs past the payload */
  NET_IPV6_WALK_FRAGMENT,   /* a Fragment header: no reassembler here */
  NET_IPV6_WALK_ROUTING,    /* a Routing header with Segments Left > 0 (§4.4) */
  NET_IPV6_WALK_OPTION,     /* an option this host must not skip (§4.2: action bits) */
  NET_IPV6_WALK_NO_NEXT,    /* Next Header 59: nothing follows (§4.7) */
  NET_IPV6_WALK_HOP_BY_HOP, /* Hop-by-Hop Options anywhere but first (§4.1) */
} net_ipv6_walk_result;

/* Walks the extension headers of a packet net_ipv6_check() accepted:
 * Hop-by-Hop and Destination Options whose options may be skipped (Pad1,
 * PadN, or an unknown type whose two high-order bits are 00, RFC 8200
 * §4.2), and Routing headers with Segments Left 0 (§4.4) are passed over.
 * On NET_IPV6_WALK_OK, *proto is the first other Next Header value (an
 * upper layer, or an extension header such as ESP the caller will refuse)
 * and *off its offset from the start of pkt. */
net_ipv6_walk_result net_ipv6_walk(const uint8_t *pkt, uint8_t *proto, size_t *off);

/* The running sum of the IPv6 pseudo-header (RFC 8200 §8.1): source and
 * destination address, the upper-layer packet length as 32 bits, three zero
 * bytes and the Next Header of the upper layer. Chain it into
 * net_inet_sum(). */
uint32_t net_ipv6_pseudo_sum(const uint8_t *src, const uint8_t *dst, uint8_t next_header,
                             size_t l4_len);

/* Address classes (RFC 4291 §2.4). */
extern const uint8_t net_ipv6_unspecified[NET_IPV6_ADDR_LEN]; /* :: */
extern const uint8_t net_ipv6_all_nodes[NET_IPV6_ADDR_LEN];   /* ff02::1 */
extern const uint8_t net_ipv6_all_routers[NET_IPV6_ADDR_LEN]; /* ff02::2 */
static inline int net_ipv6_is_multicast(const uint8_t *a) { return a[0] == 0xff; }
static inline int net_ipv6_is_link_local(const uint8_t *a) {
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; /* fe80::/10 */
}
int net_ipv6_is_unspecified(const uint8_t *a);
/* The link-local address fe80::/64 with the modified EUI-64 interface
 * identifier of mac (RFC 4291 §2.5.1 and Appendix A: ff:fe in the middle,
 * the universal/local bit inverted). */
void net_ipv6_link_local_from_mac(const uint8_t *mac, uint8_t out[NET_IPV6_ADDR_LEN]);
/* Writes the 64-bit prefix of prefix followed by mac's modified EUI-64
 * interface identifier (RFC 4862 §5.5.3(d) with RFC 4291 Appendix A). */
void net_ipv6_addr_from_prefix(const uint8_t *prefix, const uint8_t *mac,
                               uint8_t out[NET_IPV6_ADDR_LEN]);
/* The solicited-node multicast address of a (RFC 4291 §2.7.1):
 * ff02::1:ffXX:XXXX with the low 24 bits of a. */
void net_ipv6_solicited_node(const uint8_t *a, uint8_t out[NET_IPV6_ADDR_LEN]);
/* The Ethernet group address of an IPv6 multicast address (RFC 2464 §7):
 * 33:33 and the address's last four bytes. */
void net_ipv6_multicast_mac(const uint8_t *a, uint8_t mac[NET_MAC_LEN]);

/* ---- ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861) ----------------------- */

/* Types (RFC 4443 §2.1, RFC 4861 §4). */
#define NET_ICMP6_DEST_UNREACHABLE 1
#define NET_ICMP6_PACKET_TOO_BIG   2
#define NET_ICMP6_TIME_EXCEEDED    3
#define NET_ICMP6_PARAM_PROBLEM    4
#define NET_ICMP6_ECHO_REQUEST     128
#define NET_ICMP6_ECHO_REPLY       129
#define NET_ICMP6_ROUTER_SOLICIT   133
#define NET_ICMP6_ROUTER_ADVERT    134
#define NET_ICMP6_NEIGHBOR_SOLICIT 135
#define NET_ICMP6_NEIGHBOR_ADVERT  136
#define NET_ICMP6_REDIRECT         137
/* Destination unreachable code 4: port unreachable (RFC 4443 §3.1). */
#define NET_ICMP6_PORT_UNREACHABLE 4
/* ICMPv6 shares ICMP's 8-byte layout for the messages this stack builds:
 * type, code, checksum and four more bytes (echo identifier and sequence,
 * or Neighbor Advertisement flags and reserved, or unused). */
#define NET_ICMP6_HEADER_LEN 8
/* Neighbor Advertisement flags, in the first of the four bytes (RFC 4861 §4.4). */
#define NET_ND_NA_ROUTER    0x80
#define NET_ND_NA_SOLICITED 0x40
#define NET_ND_NA_OVERRIDE  0x20
/* ND message bodies: NS/NA target address after the 8-byte header, options
 * after it; an RA's fixed part is 16 bytes (RFC 4861 §4.2-4.4). */
#define NET_ND_NS_LEN 24
#define NET_ND_RA_LEN 16
#define NET_ND_RS_LEN 8
/* ND option types (RFC 4861 §4.6); lengths in units of 8 bytes. */
#define NET_ND_OPT_SOURCE_LLADDR 1
#define NET_ND_OPT_TARGET_LLADDR 2
#define NET_ND_OPT_PREFIX_INFO   3
#define NET_ND_OPT_LLADDR_LEN    8
#define NET_ND_OPT_PREFIX_LEN    32
/* Prefix Information flags (RFC 4861 §4.6.2). */
#define NET_ND_PREFIX_ONLINK     0x80
#define NET_ND_PREFIX_AUTONOMOUS 0x40
/* RFC 4861 §6.1.1, §7.1.1, §7.1.2: ND messages arrive with this Hop Limit
 * (proof they did not cross a router) and leave with it. */
#define NET_ND_HOP_LIMIT 255

/* 0 when msg (the len bytes of the upper layer, from the IPv6 Payload
 * Length) holds at least the 4 bytes every ICMPv6 message has (RFC 4443
 * §2.1); EMU_EFORMAT otherwise. Per-type lengths are the caller's. */
int net_icmp6_check(const uint8_t *msg, size_t len);
/* 1 when the checksum over pseudo-header and message verifies (RFC 4443
 * §2.3), else 0. */
int net_icmp6_checksum_ok(const uint8_t *msg, size_t len, const uint8_t *src, const uint8_t *dst);
/* Writes an ICMPv6 message laid out as ICMP (net_icmp_repr: type, code, the
 * two 16-bit halves of bytes 4-7, data) with the checksum over the IPv6
 * pseudo-header of src/dst. Returns 8 + data_len, EMU_ENOSPC, or EMU_EINVAL
 * past 65535 bytes. */
int net_icmp6_emit(const net_icmp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                   size_t cap);

/* Writes a Neighbor Solicitation or Advertisement (RFC 4861 §4.3, §4.4):
 * for type NET_ICMP6_NEIGHBOR_SOLICIT, target and a Source Link-Layer
 * Address option with mac; for NET_ICMP6_NEIGHBOR_ADVERT, na_flags
 * (NET_ND_NA_*), target and a Target Link-Layer Address option with mac;
 * the checksum over src and dst. Returns the length (NET_ND_NS_LEN + 8) or
 * EMU_ENOSPC. */
int net_nd_emit(uint8_t type, uint8_t na_flags, const uint8_t *target, const uint8_t *mac,
                const uint8_t *src, const uint8_t *dst, uint8_t *buf, size_t cap);

/* What the options of one ND message said (RFC 4861 §4.6). */
typedef struct net_nd_opts {
  const uint8_t *source_lladdr; /* NULL when absent */
  const uint8_t *target_lladdr; /* NULL when absent */
  const uint8_t *prefix;        /* the first Prefix Information option, or NULL */
} net_nd_opts;

/* Walks the options from opts to opts + len, and fills *out. EMU_EFORMAT when
 * an option has length 0 or runs past the end (RFC 4861 §4.6: the message
 * MUST be discarded), or a link-layer address option is not 8 bytes long
 * (Ethernet, RFC 2464 §6) or a Prefix Information option not 32. */
int net_nd_options(const uint8_t *opts, size_t len, net_nd_opts *out);
/* Prefix Information accessors over an option net_nd_options() found. */
static inline uint8_t net_nd_prefix_len(const uint8_t *o) { return o[2]; }
static inline uint8_t net_nd_prefix_flags(const uint8_t *o) { return o[3]; }
static inline uint32_t net_nd_prefix_valid(const uint8_t *o) { return net_get_be32(o + 4); }
static inline uint32_t net_nd_prefix_preferred(const uint8_t *o) { return net_get_be32(o + 8); }
static inline const uint8_t *net_nd_prefix(const uint8_t *o) { return o + 16; }
/* Router Advertisement accessors over a message of at least NET_ND_RA_LEN. */
static inline uint8_t net_nd_ra_hop_limit(const uint8_t *m) { return m[4]; }
static inline uint16_t net_nd_ra_lifetime(const uint8_t *m) { return net_get_be16(m + 6); }

/* ---- the IPv4 pseudo-header (RFC 768 "Fields", RFC 9293 §3.1) --------------- */

/* The running sum of the 12-byte pseudo-header that UDP and TCP checksums
 * cover in front of their own bytes: source and destination address, a zero
 * byte, the protocol and the transport length. Chain it into net_inet_sum(). */
uint32_t net_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t protocol, size_t l4_len);

/* ---- UDP (RFC 768) ----------------------------------------------------------- */

#define NET_UDP_HEADER_LEN 8
/* The largest UDP payload in one unfragmented 1500-byte IPv4 packet. */
#define NET_UDP_MAX_PAYLOAD (1500 - NET_IPV4_HEADER_LEN - NET_UDP_HEADER_LEN)
/* The most one IPv4 datagram carries, sent in fragments (RFC 768, RFC 791) */
#define NET_UDP_MAX_DGRAM4 (NET_IPV4_MAX_LEN - NET_IPV4_HEADER_LEN - NET_UDP_HEADER_LEN)

/* 0 when dgram (len bytes: the IPv4 payload) holds an 8-byte header whose
 * Length field is at least 8 and at most len; EMU_EFORMAT otherwise. Bytes past
 * the Length field are ignored. */
int net_udp_check(const uint8_t *dgram, size_t len);
/* 1 when the checksum verifies over pseudo-header, header and the Length
 * field's bytes, or when it is 0 ("no checksum", RFC 768 "Fields"); else 0. */
int net_udp_checksum_ok(const uint8_t *dgram, uint32_t src_ip, uint32_t dst_ip);

static inline uint16_t net_udp_src_port(const uint8_t *d) { return net_get_be16(d); }
static inline uint16_t net_udp_dst_port(const uint8_t *d) { return net_get_be16(d + 2); }
static inline uint16_t net_udp_length(const uint8_t *d) { return net_get_be16(d + 4); }
static inline uint16_t net_udp_checksum(const uint8_t *d) { return net_get_be16(d + 6); }
static inline const uint8_t *net_udp_payload(const uint8_t *d) { return d + NET_UDP_HEADER_LEN; }

typedef struct net_udp_repr {
  uint16_t src_port, dst_port;
  const uint8_t *payload; /* borrowed */
  size_t payload_len;
} net_udp_repr;

/* Checks dgram and fills *out (payload points into dgram, its length from the
 * Length field). The checksum is not verified (net_udp_checksum_ok does). */
int net_udp_parse(const uint8_t *dgram, size_t len, net_udp_repr *out);
/* Writes header and payload (r->payload may already sit at buf + 8) with the
 * checksum over the pseudo-header of src_ip/dst_ip; a computed 0 is sent as
 * 0xffff (RFC 768). Returns 8 + payload_len, EMU_ENOSPC, or EMU_EINVAL when
 * the datagram would exceed 65535 bytes. */
int net_udp_emit(const net_udp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf, size_t cap);
/* The same over IPv6: the pseudo-header of RFC 8200 §8.1. There the
 * checksum is mandatory: a 0 does not verify (RFC 8200 §8.1). */
int net_udp_checksum_ok6(const uint8_t *dgram, const uint8_t *src, const uint8_t *dst);
int net_udp_emit6(const net_udp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                  size_t cap);

/* ---- TCP (RFC 9293) ------------------------------------------------------------ */

#define NET_TCP_HEADER_LEN 20 /* without options */
#define NET_TCP_FIN        0x01
#define NET_TCP_SYN        0x02
#define NET_TCP_RST        0x04
#define NET_TCP_PSH        0x08
#define NET_TCP_ACK        0x10
#define NET_TCP_URG        0x20
#define NET_TCP_OPT_END    0
#define NET_TCP_OPT_NOP    1
#define NET_TCP_OPT_MSS    2
#define NET_TCP_OPT_WS     3  /* window scale (RFC 7323 §2.2): kind, length 3, shift */
#define NET_TCP_WS_MAX     14 /* RFC 7323 §2.3: a larger shift is taken as 14 */

/* The options of a TCP header that lies whole in its buffer. */
typedef struct net_tcp_opts {
  uint16_t mss; /* 0 when absent */
  int ws;       /* the window scale shift, at most NET_TCP_WS_MAX; -1 when absent */
} net_tcp_opts;
/* Walks them (RFC 9293 §3.1 "Options"): 0, or EMU_EFORMAT for a malformed
 * option list. */
int net_tcp_options(const uint8_t *seg, net_tcp_opts *out);

/* 0 when seg (len bytes: the IPv4 payload) holds a header whose Data Offset
 * is at least 5 and lies inside len, and whose options are well formed (each
 * option's length at least 2 and inside the header, MSS of length 4; RFC 9293
 * §3.1 "Options"); EMU_EFORMAT otherwise. */
int net_tcp_check(const uint8_t *seg, size_t len);
/* 1 when the checksum over pseudo-header and the len-byte segment verifies
 * (RFC 9293 §3.1 "Checksum"; unlike UDP, 0 is not "none"), else 0. */
int net_tcp_checksum_ok(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip);

static inline uint16_t net_tcp_src_port(const uint8_t *s) { return net_get_be16(s); }
static inline uint16_t net_tcp_dst_port(const uint8_t *s) { return net_get_be16(s + 2); }
static inline uint32_t net_tcp_seq(const uint8_t *s) { return net_get_be32(s + 4); }
static inline uint32_t net_tcp_ack(const uint8_t *s) { return net_get_be32(s + 8); }
/* Header length in bytes (Data Offset * 4). */
static inline size_t net_tcp_header_len(const uint8_t *s) { return (size_t)(s[12] >> 4) * 4; }
static inline uint8_t net_tcp_flags(const uint8_t *s) { return s[13] & 0x3f; }
static inline uint16_t net_tcp_window(const uint8_t *s) { return net_get_be16(s + 14); }
static inline uint16_t net_tcp_checksum(const uint8_t *s) { return net_get_be16(s + 16); }
static inline uint16_t net_tcp_urgent(const uint8_t *s) { return net_get_be16(s + 18); }
static inline const uint8_t *net_tcp_payload(const uint8_t *s) { return s + net_tcp_header_len(s); }

typedef struct net_tcp_repr {
  uint16_t src_port, dst_port;
  uint32_t seq, ack;
  uint8_t flags; /* NET_TCP_* bits */
  uint16_t window;
  uint16_t mss;           /* the MSS option's value; 0 when absent (and not sent) */
  const uint8_t *payload; /* borrowed */
  size_t payload_len;
} net_tcp_repr;

/* Checks seg and fills *out: the MSS option is read, other options skipped.
 * The checksum is not verified (net_tcp_checksum_ok does). */
int net_tcp_parse(const uint8_t *seg, size_t len, net_tcp_repr *out);
/* Writes a header (24 bytes with the MSS option when r->mss is non-zero,
 * else 20) and the payload (r->payload may already sit at buf + header
 * length), checksum filled in over the pseudo-header of src_ip/dst_ip.
 * Returns the segment length, EMU_ENOSPC, or EMU_EINVAL past 65535 bytes. */
int net_tcp_emit(const net_tcp_repr *r, uint32_t src_ip, uint32_t dst_ip, uint8_t *buf, size_t cap);
/* The same over IPv6 (the pseudo-header of RFC 8200 §8.1). */
int net_tcp_checksum_ok6(const uint8_t *seg, size_t len, const uint8_t *src, const uint8_t *dst);
int net_tcp_emit6(const net_tcp_repr *r, const uint8_t *src, const uint8_t *dst, uint8_t *buf,
                  size_t cap);
/* The header length net_tcp_emit() will use for r: 24 with MSS, else 20. */
static inline size_t net_tcp_emit_header_len(const net_tcp_repr *r) {
  return r->mss ? NET_TCP_HEADER_LEN + 4 : NET_TCP_HEADER_LEN;
}

#endif
