#include "virtio/vq.h"

#include <string.h>

/* name, section, explanation; the trace tag "name §section" is built from
 * the first two so a trace line carries the clause it cites. */
#define VQ_RULE(name, section, text) \
  { name, section, text, name " \u00a7" section }
static const struct {
  const char *name, *section, *text, *tag;
} vq_rules[VQ_RULE_COUNT] = {
    [VQ_RULE_NONE] = VQ_RULE("none", "-", "no violation"),
    [VQ_RULE_DESC_INDEX_RANGE] =
        VQ_RULE("desc_index_range", "2.7.5",
                "a descriptor index (head or next) is not below the queue size"),
    [VQ_RULE_DESC_ADDR_RANGE] =
        VQ_RULE("desc_addr_range", "2.7.5", "a descriptor's buffer lies outside guest memory"),
    [VQ_RULE_DESC_LEN_ZERO] =
        VQ_RULE("desc_len_zero", "2.7.4.2", "a descriptor describes an empty buffer"),
    [VQ_RULE_CHAIN_TOO_LONG] = VQ_RULE(
        "chain_too_long", "2.7.5.2", "a descriptor chain is longer than the queue size (a loop?)"),
    [VQ_RULE_WRITE_BEFORE_READ] =
        VQ_RULE("write_before_read", "2.7.4.2",
                "a device-readable descriptor follows a device-writable one"),
    [VQ_RULE_INDIRECT_NOT_NEGOTIATED] = VQ_RULE("indirect_not_negotiated", "2.7.5.3.1",
                                                "INDIRECT used without VIRTIO_F_INDIRECT_DESC"),
    [VQ_RULE_INDIRECT_WITH_NEXT] =
        VQ_RULE("indirect_with_next", "2.7.5.3.1", "a descriptor sets both INDIRECT and NEXT"),
    [VQ_RULE_INDIRECT_NESTED] = VQ_RULE("indirect_nested", "2.7.5.3.1",
                                        "an indirect table contains an INDIRECT descriptor"),
    [VQ_RULE_INDIRECT_LEN] = VQ_RULE("indirect_len", "2.7.5.3",
                                     "an indirect table's length is zero or not a multiple of 16"),
    [VQ_RULE_AVAIL_IDX_JUMP] = VQ_RULE("avail_idx_jump", "2.7.6",
                                       "avail.idx moved more than the queue size past the device"),
    [VQ_RULE_AVAIL_IDX_BACKWARDS] =
        VQ_RULE("avail_idx_backwards", "2.7.6",
                "avail.idx moved back over slots it had offered; the driver only adds to it"),
    [VQ_RULE_RING_ADDR_RANGE] =
        VQ_RULE("ring_addr_range", "2.7", "a ring part does not lie inside guest memory"),
    [VQ_RULE_USED_ID_RANGE] =
        VQ_RULE("used_id_range", "2.7.8", "a used element's id is not below the queue size"),
    [VQ_RULE_USED_ID_NOT_IN_FLIGHT] = VQ_RULE(
        "used_id_not_in_flight", "2.7.8", "a used element names a head the driver did not offer"),
    [VQ_RULE_USED_LEN_TOO_BIG] = VQ_RULE("used_len_too_big", "2.7.8.2",
                                         "a used length exceeds the chain's device-writable bytes"),
    [VQ_RULE_USED_IDX_JUMP] =
        VQ_RULE("used_idx_jump", "2.7.8", "used.idx moved past the buffers in flight"),
    [VQ_RULE_HEAD_IN_FLIGHT] =
        VQ_RULE("head_in_flight", "2.7.13",
                "a descriptor head was made available again while the device "
                "still held it"),
    [VQ_RULE_RX_BUF_TOO_SMALL] =
        VQ_RULE("rx_buf_too_small", "5.1.6.3.1",
                "an RX buffer cannot hold the 12-byte header and the frame"),
    [VQ_RULE_TX_CHAIN_WRITABLE] =
        VQ_RULE("tx_chain_writable", "5.1.6.2", "a TX chain has device-writable descriptors"),
    [VQ_RULE_TX_FRAME_SHORT] =
        VQ_RULE("tx_frame_short", "5.1.6.2", "a TX chain holds no frame after the 12-byte header"),
    [VQ_RULE_TX_FRAME_TOO_LONG] = VQ_RULE(
        "tx_frame_too_long", "5.1.6.2", "a TX frame is longer than the device accepts without GSO"),
    [VQ_RULE_QUEUE_AFTER_DRIVER_OK] =
        VQ_RULE("queue_after_driver_ok", "3.1.1", "a queue was configured after DRIVER_OK"),
    [VQ_RULE_FEATURE_NOT_OFFERED] = VQ_RULE(
        "feature_not_offered", "3.1.1", "the driver accepted a feature the device did not offer"),
    [VQ_RULE_RING_MISALIGNED] =
        VQ_RULE("ring_misaligned", "2.7",
                "a ring part's address is not a multiple of its alignment (descriptor table "
                "16, available ring 2, used ring 4)"),
    [VQ_RULE_RING_OVERLAP] =
        VQ_RULE("ring_overlap", "2.7",
                "two ring parts overlap (descriptor table, available ring and used ring are "
                "separate areas)"),
    [VQ_RULE_KICK_BEFORE_DRIVER_OK] =
        VQ_RULE("kick_before_driver_ok", "3.1.1",
                "the driver notified the device before setting DRIVER_OK"),
    [VQ_RULE_RX_BUF_SHORT] =
        VQ_RULE("rx_buf_short", "5.1.6.3.1",
                "an RX buffer is shorter than the 1526 bytes a driver without mergeable buffers "
                "should post (a SHOULD, so a warning: a full-size frame will not fit)"),
    [VQ_RULE_PUSH_NOT_TAKEN] =
        VQ_RULE("push_not_taken", "2.7.8",
                "the device returned a head it had not taken, or returned one twice"),
    [VQ_RULE_PUSH_LEN_TOO_BIG] =
        VQ_RULE("push_len_too_big", "2.7.8.2",
                "the device reported more bytes written than the chain's device-writable part"),
    [VQ_RULE_PACKED_PARTIAL_CHAIN] =
        VQ_RULE("packed_partial_chain", "2.8.17",
                "a packed chain's first descriptor was made available before the rest of it"),
    [VQ_RULE_PACKED_ID_RANGE] =
        VQ_RULE("packed_id_range", "2.8.13", "a packed buffer id is not below the queue size"),
    [VQ_RULE_PACKED_ID_IN_FLIGHT] =
        VQ_RULE("packed_id_in_flight", "2.8.13",
                "a packed buffer id was made available again while the device held it"),
    [VQ_RULE_EVENT_FLAGS_RESERVED] =
        VQ_RULE("event_flags_reserved", "2.8.14",
                "an event suppression structure uses the reserved flags value 3"),
    [VQ_RULE_EVENT_DESC_NOT_NEGOTIATED] =
        VQ_RULE("event_desc_not_negotiated", "2.8.10",
                "descriptor-specific event suppression without VIRTIO_F_EVENT_IDX"),
    [VQ_RULE_KICK_MISSING] =
        VQ_RULE("kick_missing", "2.7.10.1",
                "the driver published buffers the device asked to be notified of (avail_event, "
                "or flags 0) and never notified it"),
    [VQ_RULE_INTERRUPT_MISSING] =
        VQ_RULE("interrupt_missing", "2.7.7.2",
                "the device published used buffers the driver asked to be interrupted for "
                "(used_event, or flags 0) and never interrupted"),
    [VQ_RULE_QUEUE_SIZE_INVALID] =
        VQ_RULE("queue_size_invalid", "4.1.4.3.2",
                "the driver set a queue size above the device's maximum, or not a power of 2"),
    [VQ_RULE_MRG_BUF_TOO_SMALL] =
        VQ_RULE("mrg_buf_too_small", "5.1.6.3.1",
                "with mergeable RX buffers, an RX buffer is shorter than the 12-byte header"),
    [VQ_RULE_TX_FRAME_OVER_MTU] =
        VQ_RULE("tx_frame_over_mtu", "5.1.4.2",
                "a TX frame exceeds the negotiated mtu plus the Ethernet header"),
    [VQ_RULE_NUM_BUFFERS_INVALID] =
        VQ_RULE("num_buffers_invalid", "5.1.6.4.1",
                "a received frame's num_buffers is 0 or more than the queue size"),
    [VQ_RULE_MRG_BUFFER_NOT_FULL] =
        VQ_RULE("mrg_buffer_not_full", "5.1.6.4.1",
                "a buffer before the last of a frame spread over several is not filled to its end"),
    [VQ_RULE_MRG_BUFFERS_APART] =
        VQ_RULE("mrg_buffers_apart", "5.1.6.4.1",
                "fewer used buffers are visible than the frame's num_buffers: a frame's buffers "
                "were not used together"),
    [VQ_RULE_RX_FRAME_OVER_MTU] =
        VQ_RULE("rx_frame_over_mtu", "5.1.4.1",
                "a received frame exceeds the negotiated mtu plus the Ethernet header"),
};
#undef VQ_RULE

const char *vq_rule_name(vq_rule rule) {
  return (unsigned)rule < VQ_RULE_COUNT ? vq_rules[rule].name : "unknown";
}
const char *vq_rule_section(vq_rule rule) {
  return (unsigned)rule < VQ_RULE_COUNT ? vq_rules[rule].section : "?";
}
const char *vq_rule_text(vq_rule rule) {
  return (unsigned)rule < VQ_RULE_COUNT ? vq_rules[rule].text : "unknown rule";
}

const char *vq_rule_side(vq_rule rule) {
  /* the driver half checks these on what the device wrote; the device its own pushes */
  switch (rule) {
    case VQ_RULE_USED_ID_RANGE:
    case VQ_RULE_USED_ID_NOT_IN_FLIGHT:
    case VQ_RULE_USED_LEN_TOO_BIG:
    case VQ_RULE_USED_IDX_JUMP:
    case VQ_RULE_PUSH_NOT_TAKEN:
    case VQ_RULE_PUSH_LEN_TOO_BIG:
    case VQ_RULE_INTERRUPT_MISSING:
    case VQ_RULE_NUM_BUFFERS_INVALID:
    case VQ_RULE_MRG_BUFFER_NOT_FULL:
    case VQ_RULE_MRG_BUFFERS_APART:
    case VQ_RULE_RX_FRAME_OVER_MTU:
      return "device";
    default:
      return (unsigned)rule < VQ_RULE_COUNT && rule != VQ_RULE_NONE ? "driver" : "none";
  }
}

const char *vq_rule_tag(vq_rule rule) {
  return (unsigned)rule < VQ_RULE_COUNT ? vq_rules[rule].tag : "unknown";
}

vq_rule vq_rule_from_name(const char *name) {
  size_t n = strcspn(name, " "); /* a tag carries its section after the name */
  for (int r = VQ_RULE_NONE + 1; r < VQ_RULE_COUNT; r++)
    if (strlen(vq_rules[r].name) == n && !strncmp(vq_rules[r].name, name, n)) return (vq_rule)r;
  return VQ_RULE_NONE;
}

vq_rule vq_parts_problem(const gmem *m, const uint64_t addr[3], const uint64_t len[3],
                         const uint64_t align[3]) {
  for (int i = 0; i < 3; i++)
    if (!gmem_in_range(m, addr[i], len[i])) return VQ_RULE_RING_ADDR_RANGE;
  for (int i = 0; i < 3; i++)
    if (addr[i] % align[i]) return VQ_RULE_RING_MISALIGNED;
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (addr[i] < addr[j] + len[j] && addr[j] < addr[i] + len[i]) return VQ_RULE_RING_OVERLAP;
  return VQ_RULE_NONE;
}

void vq_trace_rule(emu_trace *t, const char *actor, const char *queue, vq_rule rule, int64_t head) {
  EMU_TRACE_EMIT(t, .actor = actor, .kind = EMU_TR_VIOLATION, .queue = queue, .head = head,
                 .detail = vq_rule_tag(rule));
}
