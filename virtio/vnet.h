/* virtio-net constants and wire layouts shared by the device model and the
 * driver model (virtio 1.2 §2.1, §3.1, §5.1). */
#ifndef VNETSIM_VIRTIO_VNET_H
#define VNETSIM_VIRTIO_VNET_H

#include <stdint.h>

#include "emu/gmem.h"
#include "virtio/vq.h"

/* §2.1 device status field */
#define VIRTIO_STATUS_ACKNOWLEDGE        1u
#define VIRTIO_STATUS_DRIVER             2u
#define VIRTIO_STATUS_DRIVER_OK          4u
#define VIRTIO_STATUS_FEATURES_OK        8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED             128u

/* §5.1.3 feature bits */
#define VIRTIO_NET_F_MTU       3
#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS    16

#define VIRTIO_BIT(b) (1ull << (b))

/* §5.1.2 virtqueues of a single-queue-pair device */
#define VNET_RXQ        0u
#define VNET_TXQ        1u
#define VNET_NUM_QUEUES 2u

/* §5.1.4 config space: u8 mac[6], le16 status, le16 max_virtqueue_pairs
 * (only with MQ, which is not offered: reads as 0), le16 mtu, ... */
#define VNET_MAC_LEN         6u
#define VNET_CFG_MAC         0u
#define VNET_CFG_STATUS      6u
#define VNET_CFG_STATUS_LEN  2u
#define VNET_CFG_MTU         10u
#define VNET_CFG_MTU_LEN     2u
#define VNET_CFG_SIZE        12u
#define VIRTIO_NET_S_LINK_UP 1u
/* §5.1.4.1: an offered mtu lies in 68..65535. The model stops at 9000, the
 * common jumbo frame, which keeps every frame buffer of the stack small. */
#define VNET_MTU_MIN     68u
#define VNET_MTU_DEFAULT 1500u
#define VNET_MTU_MAX     9000u

/* §5.1.6 struct virtio_net_hdr with VERSION_1: 12 bytes
 * (u8 flags, u8 gso_type, le16 hdr_len, le16 gso_size, le16 csum_start,
 *  le16 csum_offset, le16 num_buffers). */
#define VNET_HDR_LEN         12u
#define VNET_HDR_NUM_BUFFERS 10u
/* §5.1.6.1 (legacy interface): without VERSION_1 or MRG_RXBUF the header
 * ends before num_buffers, 10 bytes. */
#define VNET_LEGACY_HDR_LEN VNET_HDR_NUM_BUFFERS
/* Largest frame without VLAN or GSO: 1514 bytes of Ethernet, plus 4 for one
 * 802.1Q tag, which the device passes through. */
#define VNET_ETH_FRAME_MAX 1514u
#define VNET_VLAN_TAG_LEN  4u
#define VNET_MAX_FRAME     (VNET_ETH_FRAME_MAX + VNET_VLAN_TAG_LEN)
/* "mtu plus low level ethernet header length" (§5.1.4.1): the Ethernet
 * header, and one 802.1Q tag as above. */
#define VNET_ETH_HDR_LEN        14u
#define VNET_FRAME_MAX_FOR(mtu) ((mtu) + VNET_ETH_HDR_LEN + VNET_VLAN_TAG_LEN)
#define VNET_MAX_JUMBO_FRAME    VNET_FRAME_MAX_FOR(VNET_MTU_MAX)
/* §5.1.6.3.1: without VIRTIO_NET_F_MRG_RXBUF and GSO, each RX buffer must
 * hold at least 1526 bytes (header + 1514). */
#define VNET_MIN_RX_BUF (VNET_HDR_LEN + VNET_ETH_FRAME_MAX)
/* §5.1.6.3.1: with VIRTIO_NET_F_MRG_RXBUF each buffer must hold at least
 * the header; a frame spreads over as many buffers as it needs and the
 * header's num_buffers says how many (§5.1.6.4). */
#define VNET_MRG_MIN_RX_BUF VNET_HDR_LEN
/* The modelled driver's largest RX buffer: a frame is joined in one such. */
#define VNET_RX_BUF_MAX 65536u

/* The interrupt's queue argument for a configuration change notification
 * (§3.2.1), in place of a queue number. */
#define VNET_IRQ_CONFIG 0xffffu

/* "rx", "tx", "config" (VNET_IRQ_CONFIG). */
const char *vnet_queue_name(uint16_t q);

/* The transport the driver uses to reach the device: configuration is
 * synchronous (a register access), notify is a message that arrives later. */
typedef struct virtio_transport {
  void *dev;
  uint64_t (*device_features)(void *dev);
  int (*set_driver_features)(void *dev, uint64_t features);
  uint8_t (*get_status)(void *dev);
  int (*set_status)(void *dev, uint8_t status);
  int (*read_config)(void *dev, uint32_t off, void *buf, uint32_t len);
  uint16_t (*queue_max_size)(void *dev, uint16_t q);
  /* layout.size and the three addresses; enables the queue */
  int (*queue_setup)(void *dev, uint16_t q, const vq_layout *layout);
  void (*notify)(void *dev, uint16_t q);
} virtio_transport;

#endif
