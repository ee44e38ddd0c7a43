#include <string.h>

#include "sim/scn.h"
#include "stack/wire.h"

size_t scn_frame_arp_request(uint8_t *buf, size_t cap, const net_iface_config *from,
                             uint32_t target_ip) {
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_ARP};
  memset(eth.dst, 0xff, sizeof eth.dst);
  memcpy(eth.src, from->mac, sizeof eth.src);
  net_arp_repr arp = {.oper = NET_ARP_OPER_REQUEST, .spa = from->ip, .tpa = target_ip};
  memcpy(arp.sha, from->mac, sizeof arp.sha);
  if (net_eth_emit(&eth, buf, cap) < 0) return 0;
  int n = net_arp_emit(&arp, buf + NET_ETH_HEADER_LEN, cap - NET_ETH_HEADER_LEN);
  return n < 0 ? 0 : NET_ETH_HEADER_LEN + (size_t)n;
}

size_t scn_frame_icmp_echo(uint8_t *buf, size_t cap, uint8_t type, const net_iface_config *from,
                           const uint8_t to_mac[6], uint32_t to_ip, uint16_t ident, uint16_t seq,
                           size_t frame_len) {
  size_t headers = NET_ETH_HEADER_LEN + NET_IPV4_HEADER_LEN + NET_ICMP_HEADER_LEN;
  if (frame_len < headers || frame_len > cap) return 0;
  net_eth_repr eth = {.ethertype = NET_ETHERTYPE_IPV4};
  memcpy(eth.dst, to_mac, sizeof eth.dst);
  memcpy(eth.src, from->mac, sizeof eth.src);
  size_t icmp_len = frame_len - NET_ETH_HEADER_LEN - NET_IPV4_HEADER_LEN;
  net_ipv4_repr ip = {.src = from->ip,
                      .dst = to_ip,
                      .protocol = NET_IP_PROTO_ICMP,
                      .ttl = 64,
                      .payload_len = icmp_len};
  uint8_t *ip_at = buf + NET_ETH_HEADER_LEN, *icmp_at = ip_at + NET_IPV4_HEADER_LEN;
  uint8_t *data = icmp_at + NET_ICMP_HEADER_LEN;
  for (size_t i = 0; i < icmp_len - NET_ICMP_HEADER_LEN; i++) data[i] = (uint8_t)i;
  net_icmp_repr icmp = {.type = type,
                        .ident = ident,
                        .seq = seq,
                        .data = data,
                        .data_len = icmp_len - NET_ICMP_HEADER_LEN};
  if (net_eth_emit(&eth, buf, cap) < 0 || net_ipv4_emit(&ip, ip_at, cap - NET_ETH_HEADER_LEN) < 0 ||
      net_icmp_emit(&icmp, icmp_at, icmp_len) < 0)
    return 0;
  return frame_len;
}
