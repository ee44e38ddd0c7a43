/* The simulation: a guest (guest memory, a virtio-net device, the driver
 * that drives it) and the host beside it, on one virtual clock.
 *
 *   host --(link latency)--> device <--guest memory, kicks, interrupts--> driver
 *
 * Three ways to build one, chosen by vns_sim_opts:
 * 1. driver and device both NULL: the modelled driver (shaped like Redox's
 *    virtio-netd, with its bug switches) against the modelled device, with
 *    the guest's network stack (ARP, ICMP, UDP, TCP; echo, discard and HTTP
 *    services) above the driver. The same composition the vnetsim command
 *    runs, so a run here matches `vnetsim demo` and `vnetsim replay`.
 * 2. driver set: your driver (vnetsim/driver.h) against the modelled device.
 * 3. device set: your device half (vnetsim/device.h) against the modelled
 *    driver and the guest stack.
 *
 * A run: vns_sim_new(), vns_sim_inject() frames at virtual times,
 * vns_sim_run() to idle or to a time, then read fates, counters, rings,
 * violations and the trace; vns_sim_finish() settles frames still in flight;
 * vns_sim_free(). Everything is single-threaded and deterministic: the same
 * options and inputs give the same trace hash. A sim must not be used from
 * two threads at once; distinct sims are independent. */
#ifndef VNETSIM_PUBLIC_SIM_H
#define VNETSIM_PUBLIC_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "vnetsim/common.h"
#include "vnetsim/device.h"
#include "vnetsim/driver.h"
#include "vnetsim/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ring bug switches of the modelled driver (vns_sim_opts.driver_bugs);
 * `vnetsim bugs` and vns_bug_name() list them. The first three are the Redox
 * virtio-netd try_recv() defects. */
#define VNS_BUG_RX_NO_RECYCLE       0x001u /* RX buffers never posted again */
#define VNS_BUG_RX_LAST_ONLY        0x002u /* only used.idx - 1 read, cursor jumps */
#define VNS_BUG_RX_NO_IRQ_WAKE      0x004u /* the interrupt does not make the driver look at RX */
#define VNS_BUG_TX_NO_RECLAIM       0x008u
#define VNS_BUG_TX_NO_KICK          0x010u
#define VNS_BUG_KICK_BEFORE_PUBLISH 0x020u
#define VNS_BUG_LEGACY_HDR          0x040u
#define VNS_BUG_USED_EVENT_STALE    0x080u
#define VNS_BUG_IRQ_NO_RECHECK      0x100u
#define VNS_BUG_USED_SLOT_MOD_256   0x200u
#define VNS_BUG_TX_LAST_ONLY        0x400u
/* missing barriers: they show under VNS_MEMORY_TSO or _WEAK only */
#define VNS_BUG_AVAIL_IDX_NO_WMB 0x0800u
#define VNS_BUG_KICK_CHECK_NO_MB 0x1000u
#define VNS_BUG_USED_IDX_NO_RMB  0x2000u
#define VNS_BUG_IRQ_ON_NO_MB     0x4000u
/* the packed ring's own: with vns_sim_opts.ring = VNS_RING_PACKED only */
#define VNS_BUG_PACKED_NO_WRAP_TOGGLE     0x08000u
#define VNS_BUG_PACKED_USED_AVAIL_COUNTER 0x10000u
/* mergeable RX buffers': with vns_sim_opts.mergeable only */
#define VNS_BUG_MRG_FIRST_ONLY   0x20000u
#define VNS_BUG_MRG_REPOST_FIRST 0x40000u
#define VNS_BUG_REDOX            0x0007u
/* ...and of the modelled device (vns_sim_opts.device_bugs). */
#define VNS_BUG_DEV_USED_EVENT_EQUAL  0x001u
#define VNS_BUG_DEV_USED_IDX_NO_WMB   0x002u
#define VNS_BUG_DEV_IRQ_CHECK_NO_MB   0x004u
#define VNS_BUG_DEV_AVAIL_EVENT_NO_MB 0x008u
#define VNS_BUG_DEV_AVAIL_IDX_NO_RMB  0x010u
/* the packed ring's own */
#define VNS_BUG_DEV_PACKED_WRAP_EXACT  0x020u
#define VNS_BUG_DEV_PACKED_ID_FIRST    0x040u
#define VNS_BUG_DEV_PACKED_USED_NO_WMB 0x080u /* shows under VNS_MEMORY_WEAK */
/* mergeable RX buffers' */
#define VNS_BUG_DEV_MRG_NUM_BUFFERS_ONE 0x100u

/* IPv4 addresses are host-order integers: VNS_IP(10, 0, 2, 15). */
#define VNS_IP(a, b, c, d) \
  ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
/* slirp's defaults, which the guest and the host side use */
#define VNS_GUEST_IP VNS_IP(10, 0, 2, 15)
#define VNS_HOST_IP  VNS_IP(10, 0, 2, 2)

typedef void (*vns_host_rx_fn)(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns);

/* A frame vns_sim_opts.frame_done reports. */
typedef struct vns_frame_done {
  size_t frame;      /* its ledger index, as vns_sim_frame_fate() takes */
  int64_t captured;  /* its place among the captured frames (vns_sim_captured_frame's k), or -1 */
  const char *fate;  /* as vns_sim_frame_fate() names it */
  const char *fault; /* as vns_sim_frame_fault(): a link fault on the way, or NULL */
  uint64_t entered_ns, fated_ns;
} vns_frame_done;
typedef void (*vns_frame_done_fn)(void *ctx, const vns_frame_done *done);

typedef struct vns_sim_opts {
  uint64_t seed;       /* the one PRNG seed: latencies, tie-breaks (1) */
  uint64_t start_ns;   /* virtual time at the start (0) */
  uint16_t queue_size; /* the device's maximum, and the modelled driver's
                           * choice: a power of two <= 32768 (256) */
  uint32_t rx_backlog; /* frames the modelled device holds while no RX
                           * buffer is posted (8) */
  /* Bug switches of the modelled halves by name ("rx-no-recycle,
   * rx-last-only", "redox", "none" or NULL), added to the bits below.
   * Switching on a bug of a half you bring is VNS_EINVAL. */
  const char *bugs;
  unsigned driver_bugs; /* VNS_BUG_* (0) */
  unsigned device_bugs; /* VNS_BUG_DEV_* (0) */
  /* Feature bits the modelled device offers / the modelled driver asks for
   * (0: VERSION_1, MAC, STATUS, EVENT_IDX, INDIRECT_DESC). Only with a half
   * you bring: with both halves modelled a non-zero value is VNS_ENOTSUP. */
  uint64_t device_features, driver_features;
  vns_latency kick_latency; /* driver notify -> device (200..800 ns) */
  vns_latency irq_latency;  /* device interrupt -> driver (1..3 us) */
  vns_latency link_latency; /* host <-> device, each way (5..20 us) */
  vns_latency rearm_delay;  /* modelled driver: RX empty -> interrupt re-enabled (0..200 ns) */
  vns_latency store_delay;  /* modelled driver: delayed avail.idx store (0..500 ns) */
  uint32_t tx_batch_min, tx_batch_max; /* modelled device: TX chains per run (1..16) */
  uint64_t guest_poll_ns; /* modelled driver: the guest also polls this often (0: never) */
  uint32_t guest_ip;      /* the guest stack's address (VNS_GUEST_IP) */
  uint8_t guest_mac[6];   /* its MAC, also the device's (52:54:00:12:34:56) */
  uint64_t mem_size;      /* guest memory in bytes (0: enough for the queues
                               * and their buffers, plus 1 MiB) */
  uint64_t max_events;    /* per vns_sim_run() or vns_sim_feed_*() call (100 000 000) */
  int keep_trace;         /* store every trace event (1) */
  vns_trace_fn trace_fn;  /* sees every trace event (NULL) */
  void *trace_ctx;
  vns_host_rx_fn host_rx; /* receives each frame the guest sent (NULL) */
  void *host_rx_ctx;
  const vns_driver_ops *driver; /* your driver, or NULL for the modelled one */
  void *driver_ctx;
  const vns_device_ops *device; /* your device, or NULL for the modelled one */
  void *device_ctx;
  /* Faults on the host<->device link, each drawn from the run's seed, as
   * `vnetsim --fault` takes them: "drop=0.01,corrupt=0.001,dir=send" (NULL:
   * none). vns_faults_check() explains a spec it refuses. A faulted frame's
   * fate (or vns_sim_frame_fault()) names the fault. */
  const char *faults;
  /* The host side runs a network stack of its own with slirp's gateway
   * identity (the guest network's .2, MAC 52:55:0a:00:02:02): it answers the
   * guest's ARP requests and pings, and pings the guest on request
   * (vns_host_ping_at). 0: the host only sends what you inject (0). */
  int host_peer;
  /* The host's address on the guest's network, its gateway (0: the
   * network's .2, as slirp has it; a TAP network's host is usually .1). */
  uint32_t host_ip;
  /* Proxy ARP on the host side: the host answers the guest's ARP requests
   * for every address the frames it sent use (IPv4 source and destination,
   * ARP sender and target) and for the guest's gateway (.2 of its /24),
   * with the MAC those frames showed for that address, else its own
   * (52:55:0a:00:02:02). Meant for replaying a capture, where nobody else
   * answers: without it a reply of the guest's that needs ARP never leaves
   * and its frame becomes "reply_unresolved". Its replies are frames the
   * host sent (they have fates and ledger indices), counted in
   * host.arp_proxy_replies. `vnetsim replay` turns it on. (0) */
  int arp_proxy;
  /* The memory model of guest memory (vnetsim/memory.h): VNS_MEMORY_SC,
   * every store visible at once; VNS_MEMORY_TSO, store buffers as on x86;
   * VNS_MEMORY_WEAK, reordering as Arm or RISC-V allow (VNS_MEMORY_SC). */
  int memory;
  /* Under tso or weak: a store becomes visible 0..this many ns after it is
   * made, drawn from the seed (2000; at most 10^12, 1000 s). */
  uint64_t memory_delay_ns;
  /* The ring format of both queues: VNS_RING_SPLIT (§2.7) or VNS_RING_PACKED
   * (§2.8: the modelled device offers VIRTIO_F_RING_PACKED and the modelled
   * driver takes it). Packed runs under any memory model, but without the
   * split ring's own bugs (VNS_BUG_SPLIT_ONLY, the device's but its
   * VNS_BUG_DEV_PACKED_* ones); the packed ring's own bugs need it.
   * (VNS_RING_SPLIT) */
  int ring;
  /* VIRTIO_NET_F_MTU (§5.1.4): the modelled device offers this mtu, 68..9000,
   * the modelled driver takes it and the guest stack uses it as its IP MTU,
   * so frames up to mtu + 14 bytes (+4 with a VLAN tag) pass either way; a
   * larger one is frame_invalid. 0: not offered, frames up to 1514 (1518). */
  uint16_t mtu;
  /* VIRTIO_NET_F_MRG_RXBUF (§5.1.6.4): both modelled halves take mergeable
   * RX buffers: a frame spreads over as many buffers as it needs and the
   * first one's header says how many (num_buffers). The VNS_BUG_MRG_* and
   * VNS_BUG_DEV_MRG_* switches need it. (0) */
  int mergeable;
  /* TCP connections the guest stack keeps at once, TIME-WAIT included; a
   * full table ends the oldest TIME-WAIT its service let go for a new one,
   * else a SYN over it is socket_full. 1..65536 (0: 1024) */
  uint32_t guest_max_conns;
  /* Bytes per RX buffer the modelled driver posts, the 12-byte header
   * included, 13..65536. 0: one frame of the mtu (1526 without one), or
   * 1526 with mergeable buffers. Small buffers with `mergeable` spread
   * every frame over several. (0) */
  uint32_t rx_buf_size;
  /* Sees each host->guest frame once it and every frame before it have
   * their fates, in ledger order; the sim then forgets the frame's record
   * (and guest->host frames' records likewise, unreported), so that memory
   * stays bounded by the frames in flight however long the run:
   * vns_sim_frame_*() and vns_sim_tx_frame_*() answer only for frames not
   * yet forgotten, every count stays exact. Runs inside vns_sim_run(),
   * vns_sim_feed_*() and vns_sim_finish(), which it must not call. (NULL:
   * every record kept) */
  vns_frame_done_fn frame_done;
  void *frame_done_ctx;
  /* The guest takes its address by DHCP (RFC 2131) from whoever answers on
   * the host side, instead of guest_ip, and runs its actions
   * (vns_guest_action) once it holds one; vns_guest_dhcp() tells what it
   * got. guest_ip is then only the address the host side is told to hand
   * out. Not with a driver of your own. (0) */
  int dhcp;
  /* Sees each frame the host puts on the link (captured, injected, a host
   * peer's or the proxy ARP's), as it leaves, at its virtual time (NULL). */
  vns_host_rx_fn host_tx;
  void *host_tx_ctx;
  /* IPv6: the guest always has the link-local address of its MAC
   * (fe80::/64 with the modified EUI-64 of RFC 4291 Appendix A) and answers
   * Neighbor Discovery, echo, UDP and TCP on it. guest_ip6 adds a static
   * global address, on link with its /64, in network byte order (all zero:
   * none); multicast, link-local, loopback and :: are VNS_EINVAL. With
   * guest_slaac set, a Router Advertisement's autonomous /64 prefix gives
   * the guest a global address when it has none (RFC 4862 SLAAC). (none, 0) */
  uint8_t guest_ip6[16];
  int guest_slaac;
  /* The host plays the client of each captured TCP conversation toward
   * guest_ip, and the guest answers in the recorded server's place, as
   * tcpliveplay plays a captured client against a live server: meant for a
   * capture whose server the guest stands in for (`vnetsim replay --as`).
   * From the client's SYN (vns_sim_inject_captured, vns_sim_feed_captured)
   * on, the client's segments leave in the capture's order and at its
   * times, their acknowledgement numbers rebased onto the guest's real ISN
   * and their TCP checksums computed again; each waits until the guest has
   * sent what it acknowledges (its SYN-ACK, its data; a client acknowledging
   * past the guest's FIN acknowledges the FIN), at most 5 s of virtual time,
   * after which the conversation stops. The recorded server's segments are
   * not sent: their fate is "compared", and they are compared with the
   * guest's. Client segments of a conversation that stopped get
   * "conversation_stopped". vns_sim_conversation() reports each. At most
   * 256 conversations are played; SYNs past them go as they are, counted in
   * conversations.over_limit. Not with a driver of your own. (0) */
  int play_conversations;
  /* TCP ports (0: none) where the guest also accepts connections when
   * nothing of its own listens there, as a sink: it reads what comes, sends
   * nothing, and closes once the peer has. For a guest standing in for a
   * captured server of a service it does not run (MySQL's 3306, say), so
   * that the captured client's conversation still runs. Not with a driver
   * of your own. (0) */
  uint16_t sink_ports[4];
  /* The captured server's address when the guest cannot take it, a
   * loopback capture's 127.0.0.1 (0: guest_ip): the conversations to it are
   * played (play_conversations) with the client's segments sent to
   * guest_ip and guest_mac from the host's address and MAC (host_ip). (0) */
  uint32_t play_server_ip;
} vns_sim_opts;

#define VNS_RING_SPLIT  0
#define VNS_RING_PACKED 1
/* The driver bugs with no packed-ring form (their arithmetic is the split
 * ring's): VNS_EINVAL with ring = VNS_RING_PACKED. */
#define VNS_BUG_SPLIT_ONLY 0x7aa0u

/* Fills o with the defaults given in parentheses above. */
VNS_API void vns_sim_opts_init(vns_sim_opts *o);

/* Builds a sim from o (NULL: the defaults) and probes its driver. The ops
 * tables, ctx pointers and callbacks in o must outlive the sim; o itself
 * and the bugs string are copied or parsed at once. *out is the caller's,
 * freed with vns_sim_free(). Errors (nothing to free then): VNS_EINVAL for
 * a bad option or both halves user-supplied, VNS_ENOENT for an unknown bug
 * name, VNS_ENOTSUP (features with both halves modelled; a device that
 * refuses FEATURES_OK), VNS_ENOMEM, or your probe's own code. */
VNS_API int vns_sim_new(const vns_sim_opts *o, vns_sim **out);
/* (vns_sim_new_why(), under "conformance" below, also says why it failed.) */

/* Calls the user halves' remove, then frees everything, including vns_vq
 * and vns_dvq handles not freed yet. NULL is a no-op (0). VNS_ESTATE, with
 * nothing freed, from inside one of the sim's own callbacks.
 *
 * Re-entry: vns_sim_run(), vns_sim_finish() and vns_sim_free() called from
 * inside a callback of the same sim (driver or device ops, trace_fn,
 * host_rx, a probe) return VNS_ESTATE and do nothing: the run that called
 * the callback is still under way. */
VNS_API int vns_sim_free(vns_sim *sim);

/* Queues a frame (copied) to leave the host at virtual time at_ns (now when
 * in the past). Frames are numbered 0, 1, ... in the order they leave the
 * host: time order, and injection order at equal times. VNS_EINVAL for NULL
 * or len 0, VNS_ESTATE after vns_sim_finish(), VNS_ENOMEM. */
VNS_API int vns_sim_inject(vns_sim *sim, uint64_t at_ns, const void *frame, size_t len);
/* Runs events until none is due at or before until_ns (VNS_TIME_IDLE: until
 * nothing is left). Returns the number of events run, VNS_ELIMIT when
 * max_events ran with more still due, VNS_ESTATE after vns_sim_finish() or
 * from inside a callback. */
VNS_API int64_t vns_sim_run(vns_sim *sim, uint64_t until_ns);
/* The virtual time now. */
VNS_API uint64_t vns_sim_now(const vns_sim *sim);
/* Puts the modelled device's link up (1) or down (0), now. While it is
 * down, frames either way get the fate "link_down"; the config space's
 * VNS_NET_S_LINK_UP follows, and with VNS_F_NET_STATUS negotiated the
 * driver gets a configuration change notification (your driver's
 * on_config_change; the modelled driver reads the status again and stops
 * sending). VNS_ENOTSUP with a device of your own, VNS_ESTATE after
 * vns_sim_finish(). */
VNS_API int vns_sim_set_link(vns_sim *sim, int up);
/* Ends the run: a user device's on_finish runs first; frames still in the
 * device's backlog become "rx_no_buffer", frames in RX buffers the driver
 * never read "rx_not_consumed", frames whose reply still waits for ARP in
 * the guest stack "reply_unresolved", guest frames still in the TX ring
 * "tx_not_kicked" or "tx_not_taken" (or "device_broken"). Each fate is
 * stamped with the time it was decided: for these, now. Call once;
 * afterwards the sim is read-only. VNS_ESTATE the second time, and from
 * inside a callback. */
VNS_API int vns_sim_finish(vns_sim *sim);

/* --- fates: every frame the host sent gets exactly one --------------------
 * Names: "pending" (still travelling), "delivered", "answered",
 * "rx_no_buffer", "rx_buffer_too_small", "device_not_ready",
 * "device_broken", "link_down", "frame_invalid", "driver_skipped",
 * "rx_not_consumed", "driver_rejected", "not_for_guest", "malformed",
 * "bad_checksum", "unsupported", "no_listener", "rejected", "socket_full",
 * "fault_*" for link faults, "bad_timestamp", "reply_unresolved", and for
 * captured TCP conversations (play_conversations) "compared" and
 * "conversation_stopped", and "reassembly_timeout" for an IPv4 fragment
 * whose datagram never completed.
 * "answered" means the guest stack's reply left the stack for the driver;
 * a reply that waits for ARP keeps its frame "pending" until it is sent
 * ("answered" then) or dropped ("reply_unresolved": ARP gave up, the ARP
 * queue was full, or vns_sim_finish() came first). */

/* The fate names in the ledger's order, from "pending" (index 0); NULL
 * past the last. vns_sim_fate_count() takes any of them. */
VNS_API const char *vns_fate_name(size_t i);
/* Which ledgers fate i can appear in: VNS_FATE_TO_GUEST, VNS_FATE_TO_HOST
 * or both; 0 past the last. */
#define VNS_FATE_TO_GUEST 1u
#define VNS_FATE_TO_HOST  2u
VNS_API unsigned vns_fate_directions(size_t i);

/* Frames that have left the host so far. */
VNS_API size_t vns_sim_frame_count(const vns_sim *sim);
/* Frame i's fate name; NULL when i >= vns_sim_frame_count(). */
VNS_API const char *vns_sim_frame_fate(const vns_sim *sim, size_t i);
/* When frame i left the host and when its fate was decided (0 while
 * pending); either pointer may be NULL. VNS_EINVAL when out of range. */
VNS_API int vns_sim_frame_times(const vns_sim *sim, size_t i, uint64_t *entered_ns,
                                uint64_t *fated_ns);
/* How many frames have fate `fate` now, in *out. VNS_ENOENT for an unknown
 * name. */
VNS_API int vns_sim_fate_count(const vns_sim *sim, const char *fate, uint64_t *out);
/* The link fault that changed frame i on its way without removing it
 * ("fault_corrupt", "fault_delay", ...: its fate says what became of it
 * after), or NULL. */
VNS_API const char *vns_sim_frame_fault(const vns_sim *sim, size_t i);
/* The ledger index of the k-th frame the host sent (as injected, counting
 * from 0), or -1 when fewer were sent. The two differ only when a link
 * fault duplicated a frame: the copy is a frame of its own. */
VNS_API int64_t vns_sim_sent_frame(const vns_sim *sim, size_t k);
/* The ledger index of the k-th frame queued with vns_sim_inject_captured()
 * (counting from 0, in sending order; bad_timestamp frames included), or -1
 * when fewer were sent. Unlike vns_sim_sent_frame() it skips the host's own
 * frames (proxy ARP replies) and anything injected otherwise: for a replay,
 * input frame k. */
VNS_API int64_t vns_sim_captured_frame(const vns_sim *sim, size_t k);

/* --- fates of guest->host frames: a ledger of their own -------------------
 * Every frame the guest's driver takes for sending gets exactly one fate
 * too: the modelled driver enters each frame the guest stack hands it; a
 * user driver's TX buffers enter through vns_vq_add() on the TX queue or
 * vns_driver_tx_queued(), and a TX chain the device takes without either
 * enters then. Fates: "sent" (reached the host's end of the link),
 * "tx_ring_full" (no free TX buffer, and the modelled driver's hold of 256
 * frames waiting for one full too), "tx_not_reclaimed" (still in that
 * hold when the run ended: no TX buffer came back), "frame_invalid" (empty
 * or too long for the driver), "tx_chain_rejected" (the device refused its
 * chain, or a user device popped it and never sent it), "link_down" (the
 * device's link was down), "fault_*" (a link fault in the to-host
 * direction), and for a frame still in the TX ring at vns_sim_finish():
 * "tx_not_kicked" (no notification after it), "tx_not_taken" (notified,
 * and the device never took it; also a frame the device passed over),
 * "device_broken" or "device_not_ready". Numbered from 0 in the order they
 * entered; the same questions as for host->guest frames: */
VNS_API size_t vns_sim_tx_frame_count(const vns_sim *sim);
VNS_API const char *vns_sim_tx_frame_fate(const vns_sim *sim, size_t i);
VNS_API int vns_sim_tx_frame_times(const vns_sim *sim, size_t i, uint64_t *entered_ns,
                                   uint64_t *fated_ns);
VNS_API int vns_sim_tx_fate_count(const vns_sim *sim, const char *fate, uint64_t *out);

/* --- the host side ---------------------------------------------------------- */
/* Queues a frame from a capture: it leaves the host at ts_ns, or right after
 * the previous captured frame when ts_ns is earlier (a link delivers in
 * order, whatever a capture's clock did). caplen bytes are sent of a frame
 * that was origlen long on the wire (caplen 0: an empty frame, which the
 * device refuses as frame_invalid). A ts_ns past VNS_TIME_MAX (a garbage
 * capture time) is not sent: the frame gets the fate "bad_timestamp" in its
 * place among the captured frames. At most 8 captured frames leave in one
 * nanosecond: more with one time (a damaged or made-up capture) leave in
 * the nanoseconds after it, 8 in each. Counted in the counters capture.out_of_order,
 * capture.truncated, capture.bad_timestamp and capture.spread. Errors as
 * vns_sim_inject(). */
VNS_API int vns_sim_inject_captured(vns_sim *sim, uint64_t ts_ns, const void *data, size_t caplen,
                                    size_t origlen);
/* A captured record of a link type that cannot be replayed as Ethernet (a
 * protocol Ethernet has no type for): it takes its place among the captured
 * frames with the fate "link_unsupported", counted in the counter
 * capture.link_unsupported. Errors as vns_sim_inject(). */
VNS_API int vns_sim_inject_link_unsupported(vns_sim *sim, uint64_t ts_ns);
/* Streams a capture, frame by frame: runs the simulation up to just before
 * the frame leaves the host (as vns_sim_run() would, at most max_events
 * events), then queues it as vns_sim_inject_captured() does. A capture fed
 * this way makes the same run, event for event and trace hash for trace
 * hash, as one whose frames were all injected first and then run once: the
 * simulation holds what is in flight, never the capture, and the frame's
 * bytes are copied before it returns. After the last frame,
 * vns_sim_run(sim, VNS_TIME_IDLE). VNS_ELIMIT when the run stopped at
 * max_events (the frame is queued all the same); otherwise errors as
 * vns_sim_run() and vns_sim_inject_captured(). */
VNS_API int vns_sim_feed_captured(vns_sim *sim, uint64_t ts_ns, const void *data, size_t caplen,
                                  size_t origlen);
/* The same for a record that cannot be made Ethernet
 * (vns_sim_inject_link_unsupported). */
VNS_API int vns_sim_feed_link_unsupported(vns_sim *sim, uint64_t ts_ns);
/* A seeded burst workload from the host: `bursts` bursts of 1..8 frames (ARP
 * requests and pings for the guest, from slirp's gateway) 20..400 us apart,
 * all drawn from seed. Every frame is one a healthy guest answers.
 * VNS_ENOMEM, VNS_ESTATE after vns_sim_finish(). */
VNS_API int vns_sim_inject_bursts(vns_sim *sim, uint64_t seed, unsigned bursts);
/* The host peer (vns_sim_opts.host_peer) pings dst_ip at at_ns with an echo
 * request of payload_len bytes. VNS_ENOTSUP without a host peer. */
VNS_API int vns_host_ping_at(vns_sim *sim, uint64_t at_ns, uint32_t dst_ip, uint16_t seq,
                             uint16_t payload_len);

typedef struct vns_ping {
  uint16_t seq;
  const char *state; /* "replied", "lost" (no reply within 1 s) or "pending" */
  uint64_t rtt_ns;   /* round trip when replied, else 0 */
} vns_ping;

/* The host peer's pings so far, in sending order. */
VNS_API size_t vns_host_ping_count(const vns_sim *sim);
/* VNS_EINVAL when i is out of range. */
VNS_API int vns_host_ping(const vns_sim *sim, size_t i, vns_ping *out);

/* --- captured TCP conversations (vns_sim_opts.play_conversations) ----------- */

/* One side's segment where the two differ: its flags ("SYN,ACK",
 * "PSH,ACK,FIN", ...: SYN, ACK, FIN and RST are compared, PSH only shown)
 * and payload length, or none (that side sent no more). */
typedef struct vns_conv_segment {
  int none;
  char flags[24];
  uint32_t len;
} vns_conv_segment;

typedef struct vns_conversation {
  uint32_t client_ip, server_ip; /* the server's is the guest's */
  uint16_t client_port, server_port;
  uint64_t syn_frame; /* the client's SYN among the captured frames, from 1 */
  /* "established" (the client acknowledged the guest's SYN-ACK), "refused"
   * (the guest answered the SYN with a RST: no listener on the port, say)
   * or "not_established" */
  const char *state;
  uint64_t client_segments;                   /* the client's segments in the capture so far */
  uint64_t client_sent;                       /* of them, sent to the guest */
  uint64_t client_bytes;                      /* the client's data the capture holds (its span) */
  uint64_t client_delivered;                  /* of it, acknowledged by the guest */
  uint64_t guest_segments, guest_bytes;       /* what the guest sent in it, resent data too */
  int guest_fin, guest_rst;                   /* ...a FIN, a RST among them */
  uint64_t recorded_segments, recorded_bytes; /* what the recorded server sent, alike */
  uint64_t acks_clamped; /* client acks past the guest's FIN, made to acknowledge it */
  /* The guest's answer against the recorded server's, over the segments
   * that carry something (SYN, FIN, RST or data), in order: "same",
   * "differs" (at segment diff_at, from 1, as diff_recorded and diff_guest
   * say), "not_recorded" (the capture holds none of the server's) or
   * "partly" (alike as far as compared: one side ran 64 segments ahead). */
  const char *answer;
  uint64_t compared; /* segments alike before the first difference */
  uint64_t diff_at;
  vns_conv_segment diff_recorded, diff_guest;
  /* NULL while it runs (or ran to the capture's end); else why it stopped:
   * "no_syn_ack", "no_data" (the guest never sent data the client
   * acknowledges), "guest_reset", "client_segment_missing" (the capture
   * lacks client bytes), "hold_full", "run_ended" */
  const char *stopped;
  uint64_t stop_frame; /* the captured frame it stopped at, from 1, or 0 */
  uint64_t stopped_ns;
  char why[160]; /* one line saying why it stopped, "" while it runs */
} vns_conversation;

/* Conversations played so far, in the order of their SYNs. */
VNS_API size_t vns_sim_conversation_count(const vns_sim *sim);
/* Conversation i into *out. VNS_EINVAL past the last or for NULL. */
VNS_API int vns_sim_conversation(const vns_sim *sim, size_t i, vns_conversation *out);

/* --- the guest as a client -------------------------------------------------
 * The guest's own application runs actions, in order, once it holds an
 * address (at the start, or once DHCP bound it), each in virtual time with
 * a deadline of 30 s and retries of its own; a failed action does not stop
 * the next. Actions (DATA takes the escapes \n \r \t \\ \xHH):
 *   "get URL"                http://host[:port]/path, HTTP/1.1 GET; a host
 *                            name is resolved first (the DNS server is the
 *                            guest network's .3, or the DHCP lease's)
 *   "resolve NAME"           an A query over UDP (RFC 1035)
 *   "tcp A.B.C.D:PORT DATA"  connect, send DATA, close the sending side,
 *                            read until the server closes
 *   "udp A.B.C.D:PORT DATA"  one datagram out, one reply back
 * They need someone to answer on the host side: slirp and the host's
 * servers in `vnetsim run`, or frames you inject (vns_sim_opts.host_rx shows
 * what the guest sent). */

/* Queues an action; returns its index (from 0), or VNS_EINVAL with a
 * one-line reason in why (cap bytes; why may be NULL) for an action that
 * does not parse, VNS_ENOSPC past 32 actions, VNS_ENOTSUP with a driver of
 * your own, VNS_ESTATE after vns_sim_finish(). keep_body keeps a get's body
 * for vns_guest_result.body. */
VNS_API int vns_guest_action(vns_sim *sim, const char *action, int keep_body, char *why,
                             size_t cap);
VNS_API size_t vns_guest_action_count(const vns_sim *sim);
/* 1 when every queued action has ended (and DHCP, when asked for, bound or
 * failed); 0 while one is still queued or running. */
VNS_API int vns_guest_actions_done(const vns_sim *sim);

typedef struct vns_guest_result {
  const char *action; /* as queued */
  const char *state;  /* "queued", "running", "ok" or "failed" */
  const char *error;  /* "failed": why, one line; else "" */
  uint64_t started_ns, ended_ns;
  uint32_t ip;             /* resolve: the answer; others: the server's address */
  uint32_t ttl;            /* resolve: the A record's TTL in seconds */
  int http_status;         /* get: 100..599, 0 before the status line came */
  uint64_t length;         /* get: body bytes */
  const char *sha256;      /* get: the body's SHA-256 in hex once "ok", else "" */
  uint64_t sent, received; /* tcp, udp: payload bytes each way */
  const uint8_t *data;     /* tcp, udp: the first (up to 256) bytes received */
  size_t data_len;
  const uint8_t *body; /* get with keep_body: the whole body, else NULL */
  size_t body_len;
} vns_guest_result;

/* Action i's result so far into *out; the pointers in it stay valid until
 * the next call that runs or frees the sim. VNS_EINVAL past the last. */
VNS_API int vns_guest_action_result(const vns_sim *sim, size_t i, vns_guest_result *out);

typedef struct vns_dhcp_lease {
  /* "selecting" (DISCOVER sent), "requesting" (REQUEST sent), "bound" or
   * "failed" */
  const char *state;
  const char *error;                          /* "failed": why; else "" */
  uint32_t ip, netmask, gateway, dns, server; /* "bound": the lease */
  uint32_t lease_s;                           /* seconds; 0xffffffff: infinite */
  uint64_t bound_ns;
} vns_dhcp_lease;

/* The guest's DHCP exchange (vns_sim_opts.dhcp) into *out. VNS_ENOTSUP
 * when the guest did not ask for DHCP. */
VNS_API int vns_guest_dhcp(const vns_sim *sim, vns_dhcp_lease *out);

/* --- counters --------------------------------------------------------------
 * By name, so the set can grow without breaking callers:
 *   device.rx_frames device.rx_bytes device.rx_backlogged device.tx_frames
 *   device.tx_bytes device.tx_bad_chains device.kicks_rx device.kicks_tx
 *   device.interrupts device.interrupts_suppressed device.pops_rx
 *   device.pops_tx                          (the modelled device only)
 *   driver.rx_frames driver.rx_bytes driver.rx_empty driver.rx_reposted
 *   driver.rx_bad_used driver.tx_frames driver.tx_bytes driver.tx_ring_full
 *   driver.tx_reclaimed driver.tx_bad_used driver.kicks_rx driver.kicks_tx
 *   driver.kicks_suppressed_rx driver.kicks_suppressed_tx
 *   driver.interrupts driver.interrupts_spurious (the modelled driver only)
 *   host.frames_sent host.frames_received trace.events violations
 *   capture.out_of_order capture.truncated capture.bad_timestamp
 *   capture.link_unsupported capture.spread (vns_sim_inject_captured and
 *   _link_unsupported)
 *   link.frames_to_guest link.frames_to_host link.fault_drop
 *   link.fault_rate_limit link.fault_mtu link.fault_duplicate
 *   link.fault_reorder link.fault_corrupt link.fault_delay (with faults)
 *   driver.tx_held: frames the modelled driver held while its TX ring was
 *   full, sent as buffers came back (back-pressure)
 *   fates.double, fates.tx_double: frames given a second fate in either
 *   ledger, a ledger error (always 0 in a healthy run: "all accounted"
 *   needs it)
 *   host.frames_unsent: frames queued at the host that have not left it;
 *   after vns_sim_finish() anything but 0 is a lost frame     (always)
 *   host.arp_proxy_replies: ARP replies, and Neighbor Advertisements for
 *   IPv6, the host sent for the guest (vns_sim_opts.arp_proxy); they are
 *   among host.frames_sent
 *   conversations.over_limit: captured SYNs past the conversations played
 *   (vns_sim_opts.play_conversations), sent as captured
 * Stores the value in *out. VNS_ENOENT for an unknown name, VNS_ENOTSUP for
 * a counter of a half you brought. */
VNS_API int vns_sim_counter(const vns_sim *sim, const char *name, uint64_t *out);
/* The i-th counter name (stable order), NULL past the end. */
VNS_API const char *vns_counter_name(size_t i);

/* --- rings ----------------------------------------------------------------- */
typedef struct vns_ring_state {
  vns_ring_layout layout;                      /* size 0 while the queue is not set up */
  uint16_t avail_flags, avail_idx, used_event; /* as stored in guest memory */
  uint16_t used_flags, used_idx, avail_event;
  int32_t driver_last_used;  /* the modelled driver's private cursor, -1 for yours */
  int32_t device_last_avail; /* the modelled device's private cursor, -1 for yours */
  /* A packed ring (packed = 1) has no indices in memory: layout is then the
   * descriptor ring (desc), the driver area (avail) and the device area
   * (used); avail_flags and used_event are the driver area's flags and
   * off_wrap, used_flags and avail_event the device area's; avail_idx and
   * used_idx are 0; every cursor is a position with its wrap counter in
   * bit 15 (as off_wrap, §2.8.14): the two above, and the two below. */
  int packed;
  int32_t driver_next_avail; /* packed: the modelled driver's, -1 for yours */
  int32_t device_next_used;  /* packed: the modelled device's, -1 for yours */
} vns_ring_state;

/* Queue q's ring as both sides see it now. VNS_EINVAL for a bad queue,
 * VNS_ESTATE when the queue is not set up. */
VNS_API int vns_sim_ring(const vns_sim *sim, uint16_t q, vns_ring_state *out);
/* The device status byte (VNS_STATUS_*). */
VNS_API uint8_t vns_sim_device_status(const vns_sim *sim);
/* The rule whose violation made the modelled device set DEVICE_NEEDS_RESET
 * ("desc_index_range", ...), or NULL while it has not. */
VNS_API const char *vns_sim_needs_reset(const vns_sim *sim);

/* --- conformance: virtio rules broken during the run ---------------------- */
typedef struct vns_violation {
  uint64_t t_ns;
  const char *actor;   /* who noticed: "device" (a driver broke it) or "driver" */
  const char *queue;   /* "rx", "tx" or NULL */
  const char *rule;    /* "desc_index_range", "rx_buf_too_small", ... */
  const char *section; /* the virtio 1.2 section, "2.7.5.2" */
  const char *text;    /* one line for a driver author */
  int64_t head;        /* -1 when not about one chain */
} vns_violation;

/* The rule table, for a test that prints or asserts on rules by name. */
typedef struct vns_rule_info {
  const char *name;    /* "desc_index_range" */
  const char *section; /* "2.7.5.2" */
  const char *text;    /* one line for a driver author */
  const char *side;    /* whose rule: "driver" (the device checks it) or "device" */
} vns_rule_info;

/* Rule i of the table (0-based) into *out; VNS_EINVAL past the end or for
 * NULL. */
VNS_API int vns_rule_describe(size_t i, vns_rule_info *out);

VNS_API size_t vns_sim_violation_count(const vns_sim *sim);
/* VNS_EINVAL when i is out of range. */
VNS_API int vns_sim_violation(const vns_sim *sim, size_t i, vns_violation *out);

/* Why vns_sim_new_why() failed: its code, one line, and the virtio rules
 * broken before it did (a queue the device refused, a kick before
 * DRIVER_OK, ...). All strings are the library's or in the struct. */
typedef struct vns_sim_failure {
  int code;                    /* the code returned, 0 on success */
  char message[256];           /* what was wrong: an option, the probe, ... */
  size_t violation_count;      /* rules broken before the failure */
  vns_violation violations[8]; /* the first of them */
} vns_sim_failure;
/* vns_sim_new(), telling why it failed in *why (which may be NULL). */
VNS_API int vns_sim_new_why(const vns_sim_opts *o, vns_sim **out, vns_sim_failure *why);

/* Notes: what the sim could not account for because of how your half told
 * it (no virtio rule broken), each said once, one line each; for example an
 * RX buffer offered again whose frame your driver never reported read
 * (vns_driver_rx_consumed()), so that every frame would read as lost. */
VNS_API size_t vns_sim_note_count(const vns_sim *sim);
/* Note i, NULL past the last. */
VNS_API const char *vns_sim_note(const vns_sim *sim, size_t i);

/* --- bugs and frames ------------------------------------------------------- */
/* Parses a bug list ("rx-no-recycle,rx-last-only", "redox", "none") into
 * driver and device bits. VNS_ENOENT for an unknown name, VNS_EINVAL for
 * NULL pointers. */
VNS_API int vns_bug_parse(const char *list, unsigned *driver_bugs, unsigned *device_bugs);
/* The i-th bug switch name, in catalogue order; NULL past the end. */
VNS_API const char *vns_bug_name(size_t i);

/* A bug switch, as `vnetsim bugs` describes it. */
typedef struct vns_bug_info {
  const char *name; /* "rx-no-recycle" */
  const char *side; /* "driver" or "device" */
  unsigned bit;     /* VNS_BUG_* (driver) or VNS_BUG_DEV_* (device) */
  int redox;        /* one of the original Redox virtio-netd defects */
  const char *cause, *symptom, *fix;
  const char *section; /* the virtio 1.2 section it concerns, "2.7.14" */
  /* A missing barrier: the weakest memory model that shows it ("tso" or
   * "weak"), NULL for the other bugs; and where a bug was found (or where
   * the barrier is kept), when known, else NULL. */
  const char *memory, *found_in;
  /* What it is on a packed ring (vns_sim_opts.ring): the same, its packed
   * form, or none (then refused there). */
  const char *packed;
} vns_bug_info;

/* Bug i of the catalogue into *out. VNS_EINVAL past the end or for NULL. */
VNS_API int vns_bug_describe(size_t i, vns_bug_info *out);
/* The names of the bugs set in the two masks, comma-separated in catalogue
 * order ("none" when there are none), into buf. Returns the length, or
 * VNS_ENOSPC when cap is too small. */
VNS_API int vns_bug_names(unsigned driver_bugs, unsigned device_bugs, char *buf, size_t cap);
/* 0 when spec is a valid vns_sim_opts.faults list; otherwise VNS_EINVAL with
 * a one-line reason in why (when why is not NULL). */
VNS_API int vns_faults_check(const char *spec, char *why, size_t cap);

/* --- the Redox story --------------------------------------------------------
 * The note's story as `vnetsim story` runs it: the guest pings its gateway
 * and the host opens a TCP connection to the guest's echo port 8023; a busy
 * LAN sends the guest 300 broadcasts meant for others; then the host ARPs
 * for and pings the guest and sends 4 KiB through the connection. */
#define VNS_FATE_SLOTS 64 /* more than there are fates; vns_fate_name() indexes */
typedef struct vns_story {
  size_t guest_pings_replied, guest_pings; /* guest -> gateway */
  size_t host_pings_replied, host_pings;   /* host -> guest */
  const char *host_arp_fate;               /* of the host's ARP request for the guest */
  uint64_t frames_in;                      /* frames the host sent */
  uint64_t fate_counts[VNS_FATE_SLOTS];    /* by vns_fate_name() index */
  int64_t first_rx_no_buffer;              /* first frame without a buffer, or -1 */
  uint64_t first_rx_no_buffer_sent_ns;     /* when it left the host, from the start */
  int tcp_established;                     /* the handshake to port 8023 completed */
  size_t tcp_sent, tcp_echoed;             /* bytes sent after the noise, and back */
} vns_story;

/* Runs the story once with the options in o (NULL: the defaults; a user
 * driver or device is VNS_EINVAL: the story needs the modelled halves).
 * Errors as vns_sim_new(). */
VNS_API int vns_story_run(const vns_sim_opts *o, vns_story *out);

/* Frame builders for host-side traffic, from the host's identity (slirp's
 * gateway, 10.0.2.2, MAC 52:55:0a:00:02:02). Each returns the frame length,
 * or 0 when cap is too small or an argument is bad. */
/* A broadcast ARP request: who has target_ip? (42 bytes) */
VNS_API size_t vns_frame_arp_request(uint8_t *buf, size_t cap, uint32_t target_ip);
/* An ICMP echo request of frame_len bytes in all (at least 42) to dst. */
VNS_API size_t vns_frame_ping(uint8_t *buf, size_t cap, const uint8_t dst_mac[6], uint32_t dst_ip,
                              uint16_t seq, size_t frame_len);

#ifdef __cplusplus
}
#endif

#endif
