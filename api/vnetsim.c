/* libvnetsim's public API layer: version, errors, the bug catalogue and
 * host-side frame builders.
 *
 * Why a top-level api/ folder: the folders of vnetsim tell its architecture
 * (emu <- virtio, stack <- cli), and the public surface fits none of them.
 * It reaches into every layer (the scenario in sim/, the device and
 * driver models in virtio/, guest memory and the trace in emu/), so it cannot
 * live in a lower folder without making that folder reach upward; and cli/ is
 * the command, whose code is free to change its output and options, while
 * what lives here is a contract with other people's programs: the vns_
 * prefix, opaque handles, negative error codes, exported symbols. Keeping the
 * contract in its own folder, beside its headers in include/vnetsim/, makes
 * every change to it visible in review as a change to api/ or include/, and
 * lets the shared library export exactly what is here (VNS_API) and nothing
 * from the layers under it. Like cli/, it may include everything; nothing
 * includes it. */
#include <string.h>

#include "api/internal.h"
#include "emu/err.h"
#include "virtio/vbug.h"
#include "vnetsim/version.h"

/* The public codes are the internal ones, so a code from any layer passes
 * through unchanged; these pin that. */
_Static_assert((int)VNS_EINVAL == (int)EMU_EINVAL && (int)VNS_ENOMEM == (int)EMU_ENOMEM &&
                   (int)VNS_ERANGE == (int)EMU_ERANGE && (int)VNS_EAGAIN == (int)EMU_EAGAIN &&
                   (int)VNS_ENOSPC == (int)EMU_ENOSPC && (int)VNS_EPROTO == (int)EMU_EPROTO &&
                   (int)VNS_EIO == (int)EMU_EIO && (int)VNS_ENOTSUP == (int)EMU_ENOTSUP &&
                   (int)VNS_EFORMAT == (int)EMU_EFORMAT && (int)VNS_ESTATE == (int)EMU_ESTATE,
               "public error codes mirror emu_err");
_Static_assert(VNS_BUG_RX_NO_RECYCLE == VBUG_RX_NO_RECYCLE &&
                   VNS_BUG_RX_LAST_ONLY == VBUG_RX_LAST_ONLY &&
                   VNS_BUG_RX_NO_IRQ_WAKE == VBUG_RX_NO_IRQ_WAKE &&
                   VNS_BUG_TX_NO_RECLAIM == VBUG_TX_NO_RECLAIM &&
                   VNS_BUG_TX_NO_KICK == VBUG_TX_NO_KICK &&
                   VNS_BUG_KICK_BEFORE_PUBLISH == VBUG_KICK_BEFORE_PUBLISH &&
                   VNS_BUG_LEGACY_HDR == VBUG_LEGACY_HDR &&
                   VNS_BUG_USED_EVENT_STALE == VBUG_USED_EVENT_STALE &&
                   VNS_BUG_IRQ_NO_RECHECK == VBUG_IRQ_NO_RECHECK &&
                   VNS_BUG_USED_SLOT_MOD_256 == VBUG_USED_SLOT_MOD_256 &&
                   VNS_BUG_TX_LAST_ONLY == VBUG_TX_LAST_ONLY && VNS_BUG_REDOX == VBUG_REDOX &&
                   VNS_BUG_SPLIT_ONLY == VBUG_SPLIT_ONLY &&
                   VNS_BUG_PACKED_NO_WRAP_TOGGLE == VBUG_PACKED_NO_WRAP_TOGGLE &&
                   VNS_BUG_PACKED_USED_AVAIL_COUNTER == VBUG_PACKED_USED_AVAIL_COUNTER &&
                   VNS_BUG_DEV_PACKED_WRAP_EXACT == VBUG_DEV_PACKED_WRAP_EXACT &&
                   VNS_BUG_DEV_PACKED_ID_FIRST == VBUG_DEV_PACKED_ID_FIRST &&
                   VNS_BUG_DEV_PACKED_USED_NO_WMB == VBUG_DEV_PACKED_USED_NO_WMB &&
                   VNS_BUG_MRG_FIRST_ONLY == VBUG_MRG_FIRST_ONLY &&
                   VNS_BUG_MRG_REPOST_FIRST == VBUG_MRG_REPOST_FIRST &&
                   VNS_BUG_DEV_MRG_NUM_BUFFERS_ONE == VBUG_DEV_MRG_NUM_BUFFERS_ONE &&
                   VNS_BUG_DEV_USED_EVENT_EQUAL == VBUG_DEV_USED_EVENT_EQUAL &&
                   VNS_BUG_AVAIL_IDX_NO_WMB == VBUG_AVAIL_IDX_NO_WMB &&
                   VNS_BUG_KICK_CHECK_NO_MB == VBUG_KICK_CHECK_NO_MB &&
                   VNS_BUG_USED_IDX_NO_RMB == VBUG_USED_IDX_NO_RMB &&
                   VNS_BUG_IRQ_ON_NO_MB == VBUG_IRQ_ON_NO_MB &&
                   VNS_BUG_DEV_USED_IDX_NO_WMB == VBUG_DEV_USED_IDX_NO_WMB &&
                   VNS_BUG_DEV_IRQ_CHECK_NO_MB == VBUG_DEV_IRQ_CHECK_NO_MB &&
                   VNS_BUG_DEV_AVAIL_EVENT_NO_MB == VBUG_DEV_AVAIL_EVENT_NO_MB &&
                   VNS_BUG_DEV_AVAIL_IDX_NO_RMB == VBUG_DEV_AVAIL_IDX_NO_RMB &&
                   VNS_MEMORY_SC == EMU_MM_SC && VNS_MEMORY_TSO == EMU_MM_TSO &&
                   VNS_MEMORY_WEAK == EMU_MM_WEAK,
               "public bug bits mirror virtio/vbug.h");
_Static_assert(VNS_STATUS_DEVICE_NEEDS_RESET == VIRTIO_STATUS_DEVICE_NEEDS_RESET &&
                   VNS_NET_HDR_LEN == VNET_HDR_LEN && VNS_NET_MIN_RX_BUF == VNET_MIN_RX_BUF &&
                   VNS_F_NET_MTU == VIRTIO_NET_F_MTU &&
                   VNS_F_NET_MRG_RXBUF == VIRTIO_NET_F_MRG_RXBUF && VNS_CFG_MTU == VNET_CFG_MTU &&
                   VNS_NET_HDR_NUM_BUFFERS == VNET_HDR_NUM_BUFFERS &&
                   VNS_F_EVENT_IDX == VIRTIO_F_EVENT_IDX && VNS_F_VERSION_1 == VIRTIO_F_VERSION_1,
               "public virtio constants mirror virtio/");

VNS_API const char *vns_version(void) { return VNS_VERSION_STRING; }

static const struct {
  int code;
  const char *name, *text;
} vns_own_errors[] = {
    {VNS_ENOENT, "VNS_ENOENT", "no such name"},
    {VNS_ELIMIT, "VNS_ELIMIT", "event limit reached with events still due"},
};

VNS_API const char *vns_errname(int err) {
  for (size_t i = 0; i < sizeof vns_own_errors / sizeof vns_own_errors[0]; i++)
    if (vns_own_errors[i].code == err) return vns_own_errors[i].name;
  /* The shared codes' names, with the public prefix ("EMU_EINVAL" -> "VNS_EINVAL"). */
  static const char *const shared[] = {"VNS_OK",      "VNS_EINVAL",  "VNS_ENOMEM", "VNS_ERANGE",
                                       "VNS_EAGAIN",  "VNS_ENOSPC",  "VNS_EPROTO", "VNS_EIO",
                                       "VNS_ENOTSUP", "VNS_EFORMAT", "VNS_ESTATE"};
  if (err <= 0 && err >= VNS_ESTATE) return shared[-err];
  return "VNS_E?";
}

VNS_API const char *vns_strerror(int err) {
  for (size_t i = 0; i < sizeof vns_own_errors / sizeof vns_own_errors[0]; i++)
    if (vns_own_errors[i].code == err) return vns_own_errors[i].text;
  return emu_strerror(err);
}

VNS_API int vns_bug_parse(const char *list, unsigned *driver_bugs, unsigned *device_bugs) {
  if (!list || !driver_bugs || !device_bugs) return VNS_EINVAL;
  /* vbug_parse's EINVAL means "an unknown name": ours is ENOENT. */
  return vbug_parse(list, driver_bugs, device_bugs) ? VNS_ENOENT : 0;
}

VNS_API const char *vns_bug_name(size_t i) {
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  return i < n ? cat[i].name : NULL;
}

VNS_API int vns_bug_describe(size_t i, vns_bug_info *out) {
  size_t n;
  const vbug_info *cat = vbug_catalogue(&n);
  if (!out || i >= n) return VNS_EINVAL;
  const vbug_info *b = &cat[i];
  int driver = b->side == VBUG_SIDE_DRIVER;
  *out = (vns_bug_info){b->name,
                        driver ? "driver" : "device",
                        b->bit,
                        driver && (b->bit & VBUG_REDOX),
                        b->cause,
                        b->symptom,
                        b->fix,
                        b->section,
                        b->memory,
                        b->found_in,
                        vbug_packed_form(b)};
  return 0;
}

VNS_API int vns_rule_describe(size_t i, vns_rule_info *out) {
  /* the table's first entry is VQ_RULE_NONE, which is no rule */
  if (!out || i >= VQ_RULE_COUNT - 1) return VNS_EINVAL;
  vq_rule r = (vq_rule)(i + 1);
  *out = (vns_rule_info){vq_rule_name(r), vq_rule_section(r), vq_rule_text(r), vq_rule_side(r)};
  return 0;
}

VNS_API int vns_bug_names(unsigned driver_bugs, unsigned device_bugs, char *buf, size_t cap) {
  if (!buf || cap == 0) return VNS_EINVAL;
  char all[512];
  vbug_names(driver_bugs, device_bugs, all, sizeof all);
  size_t n = strlen(all);
  if (n + 1 > cap) return VNS_ENOSPC;
  memcpy(buf, all, n + 1);
  return (int)n;
}

VNS_API int vns_faults_check(const char *spec, char *why, size_t cap) {
  if (!spec) return VNS_EINVAL;
  emu_fault_config cfg;
  emu_fault_config_default(&cfg);
  return emu_fault_config_parse(spec, &cfg, why, why ? cap : 0) ? VNS_EINVAL : 0;
}

VNS_API size_t vns_frame_arp_request(uint8_t *buf, size_t cap, uint32_t target_ip) {
  if (!buf) return 0;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  return scn_frame_arp_request(buf, cap, &host, target_ip);
}

VNS_API size_t vns_frame_ping(uint8_t *buf, size_t cap, const uint8_t dst_mac[6], uint32_t dst_ip,
                              uint16_t seq, size_t frame_len) {
  if (!buf || !dst_mac) return 0;
  net_iface_config host;
  net_iface_config_slirp_host(&host);
  /* the identifier the scenario's own host peer uses for its pings */
  return scn_frame_icmp_echo(buf, cap, NET_ICMP_ECHO_REQUEST, &host, dst_mac, dst_ip,
                             SCN_PING_IDENT, seq, frame_len);
}
