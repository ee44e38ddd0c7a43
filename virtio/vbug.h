/* The catalogue of ring bugs vnetsim can switch on, in the driver model or
 * the device model, each with its cause, its symptom, its fix and the spec
 * clause it breaks. With none switched on, both models are correct. */
#ifndef VNETSIM_VIRTIO_VBUG_H
#define VNETSIM_VIRTIO_VBUG_H

#include <stddef.h>

/* Driver-side bugs (vnet_drv_opts.bugs). The first three are the Redox OS
 * virtio-netd try_recv() defects. */
#define VBUG_RX_NO_RECYCLE       0x001u /* RX buffers never posted again */
#define VBUG_RX_LAST_ONLY        0x002u /* only used.idx - 1 read, cursor jumps */
#define VBUG_RX_NO_IRQ_WAKE      0x004u /* interrupt does not make the driver look at RX */
#define VBUG_TX_NO_RECLAIM       0x008u /* used TX buffers never taken back */
#define VBUG_TX_NO_KICK          0x010u /* TX never notifies the device */
#define VBUG_KICK_BEFORE_PUBLISH 0x020u /* notify, then store avail.idx */
#define VBUG_LEGACY_HDR          0x040u /* 10-byte header although VERSION_1 makes it 12 */
#define VBUG_USED_EVENT_STALE    0x080u /* used_event never advanced under EVENT_IDX */
#define VBUG_IRQ_NO_RECHECK      0x100u /* interrupts re-enabled without a second look */
#define VBUG_USED_SLOT_MOD_256   0x200u /* used slot = index % 256 whatever the size */
#define VBUG_TX_LAST_ONLY        0x400u /* TX completion reads only the newest element */
/* Missing barriers: these show only under a memory model (vbug_info.memory). */
#define VBUG_AVAIL_IDX_NO_WMB 0x0800u /* avail.idx stored before the descriptors are visible */
#define VBUG_KICK_CHECK_NO_MB 0x1000u /* avail_event read with the avail.idx store still buffered */
#define VBUG_USED_IDX_NO_RMB  0x2000u /* used element read as if before used.idx */
#define VBUG_IRQ_ON_NO_MB     0x4000u /* used.idx re-read with the re-enable still buffered */
/* the packed ring's own (virtio/vq_packed.c) */
#define VBUG_PACKED_NO_WRAP_TOGGLE     0x08000u /* avail wrap counter never flipped */
#define VBUG_PACKED_USED_AVAIL_COUNTER 0x10000u /* used flags read with the avail counter */
/* mergeable RX buffers' (§5.1.6.4): with VIRTIO_NET_F_MRG_RXBUF only */
#define VBUG_MRG_FIRST_ONLY   0x20000u /* num_buffers ignored: each buffer read as a frame */
#define VBUG_MRG_REPOST_FIRST 0x40000u /* only a merged frame's first buffer posted again */
#define VBUG_DRIVER_ALL       0x7ffffu
#define VBUG_PACKED_ONLY      (VBUG_PACKED_NO_WRAP_TOGGLE | VBUG_PACKED_USED_AVAIL_COUNTER)
#define VBUG_MRG_ONLY         (VBUG_MRG_FIRST_ONLY | VBUG_MRG_REPOST_FIRST)
/* Bugs of the split ring's own indices, arithmetic or barriers: no packed
 * form here. The others (the Redox three, TX reclaim and kick, the header,
 * the re-enable without a second look) are the driver's, whatever the
 * ring. */
#define VBUG_SPLIT_ONLY                                                        \
  (VBUG_KICK_BEFORE_PUBLISH | VBUG_USED_EVENT_STALE | VBUG_USED_SLOT_MOD_256 | \
   VBUG_AVAIL_IDX_NO_WMB | VBUG_KICK_CHECK_NO_MB | VBUG_USED_IDX_NO_RMB | VBUG_IRQ_ON_NO_MB)
#define VBUG_REDOX (VBUG_RX_NO_RECYCLE | VBUG_RX_LAST_ONLY | VBUG_RX_NO_IRQ_WAKE)

/* Device-side bugs (vnet_dev_config.bugs). */
#define VBUG_DEV_USED_EVENT_EQUAL  0x001u /* interrupt only when used_event == new - 1 */
#define VBUG_DEV_USED_IDX_NO_WMB   0x002u /* used.idx stored before the element is visible */
#define VBUG_DEV_IRQ_CHECK_NO_MB   0x004u /* used_event read with the used.idx store buffered */
#define VBUG_DEV_AVAIL_EVENT_NO_MB 0x008u /* avail.idx re-read with avail_event still buffered */
#define VBUG_DEV_AVAIL_IDX_NO_RMB  0x010u /* avail slot read as if before avail.idx */
#define VBUG_DEV_SPLIT_ONLY        0x01fu /* all of the above: the split ring's */
/* the packed ring's own */
#define VBUG_DEV_PACKED_WRAP_EXACT  0x020u /* no flip when a chain spans the whole ring */
#define VBUG_DEV_PACKED_ID_FIRST    0x040u /* buffer id read from the chain's first descriptor */
#define VBUG_DEV_PACKED_USED_NO_WMB 0x080u /* used flags stored with no barrier after id, len */
#define VBUG_DEV_PACKED_ONLY \
  (VBUG_DEV_PACKED_WRAP_EXACT | VBUG_DEV_PACKED_ID_FIRST | VBUG_DEV_PACKED_USED_NO_WMB)
/* mergeable RX buffers' */
#define VBUG_DEV_MRG_NUM_BUFFERS_ONE 0x100u /* num_buffers 1 however many buffers a frame took */
#define VBUG_DEV_MRG_ONLY            VBUG_DEV_MRG_NUM_BUFFERS_ONE
#define VBUG_DEVICE_ALL              0x1ffu

typedef enum vbug_side { VBUG_SIDE_DRIVER, VBUG_SIDE_DEVICE } vbug_side;

typedef struct vbug_info {
  const char *name; /* the --bug switch */
  vbug_side side;
  unsigned bit;
  const char *cause, *symptom, *fix;
  const char *section; /* virtio 1.2 clause it breaks */
  /* A missing barrier: the weakest memory model under which it can show
   * ("tso" or "weak") and the barrier it leaves out (VQ_BAR_*); NULL and 0
   * for the other bugs. */
  const char *memory;
  unsigned omits;
  const char *found_in; /* where it was found and fixed, when known; or NULL */
} vbug_info;

/* What the bug is on a packed ring (--ring packed), in one line: the same,
 * its packed form, or none (a bug of the split ring's own). */
const char *vbug_packed_form(const vbug_info *b);

/* The whole catalogue, in a stable order. */
const vbug_info *vbug_catalogue(size_t *count);
const vbug_info *vbug_find(const char *name, size_t len);

/* Parses "name,name,..." (also "none" and "redox") into driver and device
 * bit sets. EMU_EINVAL on an unknown name, naming nothing else. */
int vbug_parse(const char *list, unsigned *driver_bugs, unsigned *device_bugs);
/* The canonical comma-separated names of both sets ("none" when empty). */
const char *vbug_names(unsigned driver_bugs, unsigned device_bugs, char *buf, size_t cap);
/* The barriers (VQ_BAR_*) the bugs of one side leave out. */
unsigned vbug_omitted_barriers(vbug_side side, unsigned bugs);

#endif
