/* The virtio 1.x constants a driver or device author needs, with their spec
 * sections (virtio 1.2). Values are the specification's; they do not change.
 * Ring addresses: a split queue of `size` entries has a descriptor table of
 * size * 16 bytes (le64 addr, le32 len, le16 flags, le16 next), an available
 * ring (le16 flags, le16 idx, le16 ring[size], le16 used_event) and a used
 * ring (le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event).
 * The VNS_*_ADDR helpers compute where each field lives; ring indices are
 * free-running 16-bit counters, masked only when a slot is addressed. */
#ifndef VNETSIM_PUBLIC_VIRTIO_H
#define VNETSIM_PUBLIC_VIRTIO_H

#include <stdint.h>

/* §2.1 device status bits */
#define VNS_STATUS_ACKNOWLEDGE        1u
#define VNS_STATUS_DRIVER             2u
#define VNS_STATUS_DRIVER_OK          4u
#define VNS_STATUS_FEATURES_OK        8u
#define VNS_STATUS_DEVICE_NEEDS_RESET 64u
#define VNS_STATUS_FAILED             128u

/* §6 and §5.1.3 feature bits (bit numbers; use VNS_BIT() for masks) */
#define VNS_F_NET_MTU       3 /* §5.1.4: the config space's mtu */
#define VNS_F_NET_MAC       5
#define VNS_F_NET_MRG_RXBUF 15 /* §5.1.6.4: mergeable RX buffers, num_buffers */
#define VNS_F_NET_STATUS    16
#define VNS_F_INDIRECT_DESC 28
#define VNS_F_EVENT_IDX     29
#define VNS_F_VERSION_1     32
#define VNS_F_RING_PACKED   34 /* §2.8: the packed virtqueue layout */
#define VNS_BIT(b)          (1ull << (b))

/* §5.1.2: a single queue pair */
#define VNS_QUEUE_RX 0u
#define VNS_QUEUE_TX 1u

/* §5.1.4 config space: u8 mac[6] at 0, le16 status at 6, le16 mtu at 10 */
#define VNS_CFG_MAC       0u
#define VNS_CFG_STATUS    6u
#define VNS_CFG_MTU       10u
#define VNS_NET_S_LINK_UP 1u

/* §5.1.6: struct virtio_net_hdr is 12 bytes with VERSION_1, and without
 * MRG_RXBUF or GSO every RX buffer holds at least header + 1514 bytes. */
#define VNS_NET_HDR_LEN    12u
#define VNS_NET_MIN_RX_BUF (12u + 1514u)
/* le16 num_buffers at byte 10 of the header: how many RX buffers the frame
 * is spread over (1 without VNS_F_NET_MRG_RXBUF) */
#define VNS_NET_HDR_NUM_BUFFERS 10u

/* §2.7.5 descriptor flags, §2.7.6 / §2.7.8 ring flags */
#define VNS_DESC_F_NEXT          1u
#define VNS_DESC_F_WRITE         2u
#define VNS_DESC_F_INDIRECT      4u
#define VNS_AVAIL_F_NO_INTERRUPT 1u
#define VNS_USED_F_NO_NOTIFY     1u

/* Where a split queue lives in guest memory (guest-physical addresses). */
typedef struct vns_ring_layout {
  uint16_t size; /* a power of two, at most 32768 */
  uint64_t desc, avail, used;
} vns_ring_layout;

/* Bytes and alignment of each part (§2.7 "Virtqueue Part Alignment"). */
#define VNS_DESC_TABLE_BYTES(size) (16ull * (size))
#define VNS_AVAIL_BYTES(size)      (6ull + 2ull * (size))
#define VNS_USED_BYTES(size)       (6ull + 8ull * (size))
#define VNS_DESC_ALIGN             16u
#define VNS_AVAIL_ALIGN            2u
#define VNS_USED_ALIGN             4u

#define VNS_DESC_ADDR(l, i)         ((l)->desc + 16ull * (i))
#define VNS_AVAIL_FLAGS_ADDR(l)     ((l)->avail)
#define VNS_AVAIL_IDX_ADDR(l)       ((l)->avail + 2)
#define VNS_AVAIL_SLOT_ADDR(l, idx) ((l)->avail + 4 + 2ull * ((uint16_t)(idx) & ((l)->size - 1u)))
#define VNS_USED_EVENT_ADDR(l)      ((l)->avail + 4 + 2ull * (l)->size)
#define VNS_USED_FLAGS_ADDR(l)      ((l)->used)
#define VNS_USED_IDX_ADDR(l)        ((l)->used + 2)
#define VNS_USED_SLOT_ADDR(l, idx)  ((l)->used + 4 + 8ull * ((uint16_t)(idx) & ((l)->size - 1u)))
#define VNS_AVAIL_EVENT_ADDR(l)     ((l)->used + 4 + 8ull * (l)->size)

#endif
