/* A scenario: one simulated machine and the host beside it, wired together.
 *
 *   host actor --(backend latency)--> device actor <--guest memory--> driver actor
 *        ^                                |  (kick / interrupt channels)   |
 *        +---------- guest frames --------+                       guest stack (net_iface)
 *
 * The host side injects frames (from a capture, or from a scripted peer that
 * is itself a net_iface with slirp's gateway identity) and receives what the
 * guest sends. Every injected frame is entered in the fate ledger when it
 * leaves the host, so fates count exactly the frames offered. */
#ifndef VNETSIM_SIM_SCN_H
#define VNETSIM_SIM_SCN_H

#include <stdint.h>
#include <stdio.h>

#include "emu/fate.h"
#include "emu/fault.h"
#include "emu/gmem.h"
#include "emu/mm.h"
#include "emu/rng.h"
#include "emu/sched.h"
#include "emu/trace.h"
#include "stack/client.h"
#include "stack/iface.h"
#include "stack/services.h"
#include "virtio/vnet_dev.h"
#include "virtio/vnet_drv.h"

#define SCN_TCP_MAX_CONNS_MAX 65536u
/* Ports a captured server served that the scan keeps, and the sinks a
 * guest standing in for it opens (scn_config.sink_ports). */
#define SCN_ADDR_SERVED_MAX 4u

typedef struct scn_config {
  uint64_t seed;
  uint64_t start_ns;   /* virtual time at the start */
  uint16_t queue_size; /* device maximum and driver choice */
  uint32_t rx_backlog;
  unsigned bugs;          /* driver bugs, VBUG_* */
  unsigned dev_bugs;      /* device bugs, VBUG_DEV_* */
  uint64_t guest_poll_ns; /* the guest stack also polls this often; 0: never. It
                                * stops 2 s after the last scheduled input, so a run
                                * still ends. */
  emu_latency kick_latency, irq_latency, backend_latency;
  emu_latency rearm_delay, store_delay; /* see vnet_drv_opts */
  uint32_t batch_min, batch_max;
  net_iface_config guest; /* the guest stack's identity */
  FILE *trace_sink;       /* JSON lines, or NULL */
  int trace_hash;         /* compute the trace hash */
  int conformance;        /* keep the log of violated rules (default on) */
  /* Sees every trace record from the very first (the driver's probe runs
   * inside scn_init, before a caller could attach to the trace). */
  emu_trace_observer_fn trace_observer;
  void *trace_observer_ctx;
  /* Faults on the host<->device link, drawn from their own PRNG seeded from
   * seed (default: none). */
  emu_fault_config fault;
  int services; /* the guest runs echo, discard and HTTP (default on) */
  uint64_t device_features, driver_features; /* 0: the models' defaults */
  /* The host side runs a network stack of its own with slirp's gateway
   * identity (the guest network's .2): it answers the guest's ARP and pings
   * and pings the guest on request (scn_peer_ping_at). Default off: the host
   * only injects. */
  int host_peer;
  /* The host answers the guest's ARP requests for the addresses the frames
   * it sent use (IPv4 and ARP, source and destination) and for the guest's
   * gateway, with the MAC those frames showed for the address, else its own
   * (slirp's gateway MAC). For a replay: nobody else answers there, and a
   * reply waiting for ARP never leaves the guest. Default off. */
  int arp_proxy;
  uint64_t mem_size; /* guest memory in bytes; 0: enough for the queues and their
                      * buffers (scn_guest_mem_size), plus 1 MiB */
  /* The memory model of guest memory (emu/mm.h; default sc: none) and how
   * late a store may become visible under it. */
  emu_mm_kind memory;
  uint64_t memory_delay_ns;
  /* The modelled device offers, and the modelled driver takes,
   * VIRTIO_F_RING_PACKED: both queues are packed rings (§2.8). Default 0:
   * split rings (§2.7). */
  int packed_ring;
  /* The device offers VIRTIO_NET_F_MTU with this mtu (68..9000) and the
   * driver takes it; the guest stack uses it as its IP MTU. 0: not offered,
   * frames up to 1514 bytes (1518 with a VLAN tag). */
  uint16_t mtu;
  /* Both take VIRTIO_NET_F_MRG_RXBUF: a frame spreads over as many RX
   * buffers as it needs (§5.1.6.4). Default 0. */
  int mergeable;
  /* Bytes per RX buffer the modelled driver posts, header included; 0: one
   * frame of the mtu, or 1526 with mergeable buffers. */
  uint32_t rx_buf_len;
  /* A half the embedder brings in place of the modelled driver or device
   * (at most one of the two; NULL: modelled). */
  const struct scn_user_half *user_driver, *user_device;
  /* The guest takes its address by DHCP (stack/dhcp.h) at the start instead
   * of using guest.ip, before any client action runs. Default 0. */
  int dhcp;
  /* The guest's TCP connection table (stack/tcp.h max_conns), at most
   * SCN_TCP_MAX_CONNS_MAX; 0: its default. */
  uint32_t tcp_max_conns;
  /* The host plays the client of each captured TCP conversation toward
   * the guest's address, the guest answering as the recorded server
   * (sim/conv.h): for a replay whose guest stands in for a captured host.
   * Default 0: captured frames go as they are. */
  int play_conversations;
  /* TCP ports (0: none) where the guest also accepts connections, as a
   * sink that reads and sends nothing, when nothing of its own listens
   * there: the ports of a captured server it stands in for. */
  uint16_t sink_ports[SCN_ADDR_SERVED_MAX];
  /* The captured server's address when the guest cannot take it (0: the
   * guest's own): a loopback capture's 127.0.0.1. The player then sends the
   * client's segments to the guest's address and MAC from the host's. */
  uint32_t conv_server_ip;
} scn_config;

/* A driver or device the embedder brings (the public library's user
 * halves). Its code runs on an actor of its own, named after the half it
 * replaces, which receives the SCN_USER_EV_* events. Where the driver is the
 * user's, the guest has no network stack: frames end at the user's driver. */
typedef struct scn_user_half {
  emu_actor_fn handle;
  void *ctx;
  /* A user device: how the modelled driver reaches it (its notify is not
   * used: kicks arrive as SCN_USER_EV_KICK after the kick latency). */
  const virtio_transport *transport;
} scn_user_half;

enum {
  SCN_USER_EV_IRQ = 1, /* the device interrupted (arg = queue): user driver */
  SCN_USER_EV_TIMER,   /* a deadline the half posted to its own actor */
  SCN_USER_EV_KICK,    /* the driver notified (arg = queue): user device */
  SCN_USER_EV_FRAME,   /* a frame from the host (frame_id, data): user device */
};

/* Guest memory a queue size needs: rings, RX and TX buffers of both queues
 * and room to spare (the default for scn_config.mem_size). */
uint64_t scn_guest_mem_size(uint16_t queue_size);
/* The same for cfg's queue size, mtu and RX buffers. */
uint64_t scn_guest_mem_size_for(const scn_config *cfg);

/* seed 1, queue 256, backlog 8, no bugs, the device's and driver's default
 * latencies, backend latency 5..20 us, slirp's guest identity, no trace,
 * hashing on. */
void scn_config_default(scn_config *cfg);

/* Receives each frame the guest sent, at its virtual arrival time. */
typedef void (*scn_host_rx_fn)(void *ctx, const uint8_t *frame, size_t len, uint64_t now_ns);

/* A virtio rule broken during the run, by the driver (seen by the device)
 * or by the device (seen by the driver). */
typedef struct scn_violation {
  uint64_t t_ns;
  const char *actor; /* who noticed: "device" or "driver" */
  const char *queue; /* "rx", "tx" or NULL */
  vq_rule rule;
  int64_t head; /* -1 when not about one chain */
} scn_violation;

/* Ledger ids in an order of their own (k = 0, 1, ...: the frames the host
 * sent, say). Those below a windowed ledger's base are dropped with it. */
typedef struct scn_ids {
  uint32_t *ids;
  size_t n;     /* ids pushed in all: the next one's k */
  size_t first; /* k of the first held, at ids[at] */
  size_t at, cap;
} scn_ids;

/* A frame the windowed ledger reports before it forgets it: its ledger id,
 * its place among the captured frames (scn_captured_id's k) or -1, and its
 * record. */
typedef void (*scn_frame_done_fn)(void *ctx, uint32_t id, int64_t captured, const emu_fate_rec *r);

/* What injecting a capture found. */
typedef struct scn_capture_notes {
  uint64_t out_of_order;     /* earlier than their predecessor: sent right after it */
  uint64_t truncated;        /* caplen < origlen: the captured bytes are sent */
  uint64_t bad_timestamp;    /* past EMU_TIME_MAX: fated bad_timestamp, not sent */
  uint64_t link_unsupported; /* not convertible to Ethernet: fated link_unsupported */
  uint64_t spread;           /* past SCN_CAPTURE_BURST at one time: sent a nanosecond later */
} scn_capture_notes;

/* Captured frames the host puts on the link in one nanosecond, at most. */
#define SCN_CAPTURE_BURST 8u

#define SCN_MAX_VIOLATIONS 256

/* What a capture's frames showed of one IPv4 address (sim/addrs.c). */
typedef struct scn_addr {
  uint32_t ip; /* 0: a free slot */
  uint8_t mac[6];
  int has_mac;         /* frames showed a MAC for ip */
  int mac_from_source; /* ...in a frame ip sent (a destination's MAC is a weaker guess) */
  uint64_t frames_to;  /* unicast frames sent to ip */
  uint64_t asks;       /* of them, requests it would answer: echo, SYN, ARP who-has */
  uint64_t syn_acks;   /* TCP SYN-ACKs ip sent: it served a conversation */
  /* the ports those SYN-ACKs came from (the first SCN_ADDR_SERVED_MAX) */
  uint16_t served[SCN_ADDR_SERVED_MAX];
  unsigned nserved;
} scn_addr;

/* A table of addresses: open addressing on the IPv4 address. */
typedef struct scn_addrs {
  scn_addr *slots;
  size_t cap, n;
} scn_addrs;

/* ip's entry, or NULL when the table does not hold it. */
const scn_addr *scn_addrs_find(const scn_addrs *t, uint32_t ip);
/* ip's entry, made (zeroed but for ip) when new; NULL out of memory. ip
 * must not be 0. */
scn_addr *scn_addrs_get(scn_addrs *t, uint32_t ip);
/* Notes a MAC seen for e's address, as a frame's source or destination: a
 * source's wins, the latest of each kind; a group MAC is no one's. */
void scn_addr_note_mac(scn_addr *e, const uint8_t *mac, int as_source);
void scn_addrs_free(scn_addrs *t);

/* IPv6 addresses the host's frames used, for the proxy's Neighbor
 * Advertisements: a bounded table, the oldest entry replaced. */
#define SCN_PROXY_ND_MAX 64
typedef struct scn_proxy_nd {
  uint8_t ip6[16];
  uint8_t mac[6];
  uint8_t used, has_mac;
} scn_proxy_nd;

typedef struct scn_arp_proxy {
  scn_addrs addrs;
  scn_proxy_nd nd[SCN_PROXY_ND_MAX];
  size_t nd_next;       /* the slot a new IPv6 address takes */
  uint64_t replies;     /* ARP replies (and Neighbor Advertisements) sent for the guest */
  uint64_t not_learned; /* addresses left out for want of memory */
} scn_arp_proxy;

/* The endpoint of a capture the guest stands in for (sim/endpoints.c):
 * the server side of its TCP conversations, else its busiest unicast
 * destination. */
typedef struct scn_endpoints {
  scn_addrs addrs;
  uint32_t guest_ip; /* the guest's address as configured */
  uint64_t to_guest; /* frames addressed to it: the capture needs no stand-in */
  /* a TCP server at a loopback address (a capture of a host talking to
   * itself, which a guest cannot be): the first one seen */
  scn_addr loopback;
  int out_of_memory;
} scn_endpoints;

typedef enum scn_endpoint_why {
  SCN_ENDPOINT_NONE,            /* no unicast IPv4 destination a guest can be */
  SCN_ENDPOINT_TCP_SERVER,      /* sent the most SYN-ACKs */
  SCN_ENDPOINT_LOOPBACK_SERVER, /* no server a guest can be, but one at a loopback address:
                                 * the guest keeps its own address and the host plays the
                                 * client from its own (scn_config.conv_server_ip) */
  SCN_ENDPOINT_DESTINATION,     /* was asked the most (echo requests, SYNs, ARP who-has),
                             * then received the most unicast frames */
} scn_endpoint_why;

void scn_endpoints_init(scn_endpoints *e, uint32_t guest_ip);
/* Reads who talks to whom in one Ethernet frame (ARP and IPv4; only the
 * headers it needs, so a truncated frame still counts). */
void scn_endpoints_add(scn_endpoints *e, const uint8_t *frame, size_t len);
/* The address to stand in for, with the table's entry for it; why says how
 * it was chosen (NONE: *out is untouched). Ties go to the lower address. */
scn_endpoint_why scn_endpoints_pick(const scn_endpoints *e, scn_addr *out);
void scn_endpoints_free(scn_endpoints *e);

/* The player of captured TCP conversations (sim/conv.h). */
typedef struct scn_conv_player scn_conv_player;

typedef struct scn {
  scn_config cfg;
  gmem mem;
  emu_rng rng;
  emu_sched sched;
  emu_trace trace;
  emu_mm mm;          /* attached to mem unless cfg.memory is sc */
  emu_fates fates;    /* host->guest frames */
  emu_fates tx_fates; /* guest->host frames: entered as the guest's driver takes them */
  vnet_dev dev;       /* unused when the device is the user's */
  vnet_drv drv;       /* unused when the driver is the user's */
  net_iface guest;
  /* The user's half (cfg.user_driver or user_device). A user device is
   * kicked through user_kick and interrupts and sends through user_irq and
   * user_to_host. */
  emu_actor user;
  emu_channel user_kick, user_irq, user_to_host;
  emu_actor host;
  emu_channel host_to_device;
  emu_port host_port; /* what a host-side peer sends through */
  emu_port link;      /* the host's end of the wire itself */
  emu_port *host_out; /* link, or the fault injector around it */
  emu_fault fault;
  int fault_on;
  uint64_t fault_timer_at;
  /* Ledger id of every frame the host sent, in sending order, those it
   * could not send (scn_inject_unsendable) included. */
  scn_ids sent;
  /* With faults, of every frame that went onto the link, in order: what the
   * fault injector's frame_no (host->guest) indexes. */
  scn_ids on_link;
  /* Ledger id of every captured frame (scn_inject_captured), in sending
   * order: the host's own frames (proxy ARP replies) are not among them. */
  scn_ids captured;
  /* With a windowed ledger (scn_window): the next captured frame to be
   * reported, and whom to report frames to. */
  size_t captured_reported;
  scn_frame_done_fn frame_done;
  void *frame_done_ctx;
  scn_arp_proxy proxy;
  uint32_t sending_id; /* the frame on its way through host_out now */
  /* TX ledger id of every guest frame that reached the host, in arrival
   * order, when there are faults (what their frame_no indexes in the
   * to-host direction); and of the one arriving now. */
  scn_ids recv;
  uint32_t receiving_id;
  /* When the user's driver last notified each queue (EMU_TIME_NEVER: not
   * yet): a TX frame left in the ring was kicked or not. */
  uint64_t user_kick_ns[VNET_NUM_QUEUES];
  net_services services;
  net_iface *peer;    /* scripted host peer, or NULL */
  net_iface own_peer; /* the peer cfg.host_peer asks for */
  int own_peer_up;
  uint64_t peer_timer_at;
  scn_host_rx_fn host_rx;
  void *host_rx_ctx;
  scn_host_rx_fn host_tx; /* sees each frame the host puts on the link */
  void *host_tx_ctx;
  uint64_t injected, guest_frames;
  /* Frames queued by scn_inject_at/_unsendable, and those of them the host
   * has handled: after scn_finish the two are equal, or frames were lost. */
  uint64_t inject_queued, inject_sent;
  scn_capture_notes capture; /* what scn_inject_captured found so far */
  uint64_t capture_at;       /* the capture time the last captured frame was given */
  uint64_t capture_send_at;  /* when the last captured frame leaves (SCN_CAPTURE_BURST) */
  unsigned capture_burst;    /* captured frames leaving at capture_send_at */
  /* the guest's own application: pings it sends, in time order */
  struct scn_guest_ping {
    uint64_t at_ns;
    uint32_t dst_ip;
    uint16_t seq;
  } guest_pings[64];
  size_t nguest_pings, next_guest_ping;
  uint64_t poll_horizon_ns; /* the periodic guest poll stops here */
  /* The guest's client actions and DHCP (stack/client.h), on the heap once
   * asked for; NULL otherwise. */
  net_client *client;
  /* cfg.play_conversations' player, and its timer on the host actor */
  scn_conv_player *conv;
  uint64_t conv_timer_at;
  scn_violation violations[SCN_MAX_VIOLATIONS];
  size_t nviolations;
  uint64_t violations_total; /* including those past the log's end */
  int probe_rc;
} scn;

/* Builds and starts everything: guest memory, device, driver (probed), guest
 * stack. Returns 0 or a negative emu_err code; s is closed on failure. */
int scn_init(scn *s, const scn_config *cfg);
void scn_close(scn *s);

/* Queues frame to leave the host at virtual time at_ns. Returns 0,
 * EMU_EINVAL past EMU_TIME_MAX, or EMU_ENOMEM. */
int scn_inject_at(scn *s, uint64_t at_ns, const uint8_t *frame, size_t len);
/* Queues, at at_ns, a frame the host cannot send: it takes its place in the
 * ledger among the sent frames there and gets `fate` at once (not PENDING:
 * EMU_EINVAL). */
int scn_inject_unsendable(scn *s, uint64_t at_ns, emu_fate fate);
/* The host peer's identity on the guest's network: slirp's gateway, at the
 * guest network's .2. */
void scn_host_peer_config(const scn_config *cfg, net_iface_config *out);
/* Attaches a scripted host peer: it sends through the link and gets every
 * guest frame; its timers run on the host actor. peer must be initialised
 * with scn_host_port(s) as its port. */
void scn_attach_peer(scn *s, net_iface *peer);
emu_port *scn_host_port(scn *s);
/* Also hands every guest frame to fn (after the peer, if any). */
void scn_set_host_rx(scn *s, scn_host_rx_fn fn, void *ctx);
/* fn sees every frame the host puts on the link, as it leaves. */
void scn_set_host_tx(scn *s, scn_host_rx_fn fn, void *ctx);
/* The ICMP echo identifier of the host peer's pings, and of the guest's. */
#define SCN_PING_IDENT       0x7653
#define SCN_GUEST_PING_IDENT 0x6775
/* Asks the host peer to ping dst_ip at at_ns (ident SCN_PING_IDENT, seq as given). */
int scn_peer_ping_at(scn *s, uint64_t at_ns, uint32_t dst_ip, uint16_t seq, uint16_t payload);

/* A capture held in memory: frames with their timestamps (host/pcapio.h
 * loads one from a file). */
typedef struct scn_capture_frame {
  uint64_t ts_ns;
  uint32_t caplen;  /* bytes present in data */
  uint32_t origlen; /* length on the wire; larger when the capture truncated it */
  uint8_t *data;
  int unconvertible; /* a record the reader could not make an Ethernet frame */
} scn_capture_frame;

typedef struct scn_capture {
  scn_capture_frame *frames;
  size_t nframes, cap;
  int linktype;
  size_t max_frames; /* read at most this many (0: all) */
  size_t converted;  /* frames made Ethernet from another link type or untagged */
  int cut;           /* the file held more than max_frames */
  /* A pcapng file whose interfaces differ in link type, read block by block
   * (host/pcapng.h): each record converted by its own interface's link
   * type; linktype is the first interface's. */
  int mixed_links;
  size_t damaged; /* records whose lengths do not fit their block: kept empty */
} scn_capture;

/* Queues one captured frame to leave the host at ts_ns, or right after the
 * previous captured frame when ts_ns is earlier (a link delivers in order:
 * a capture artefact does not reorder it); counts both cases in s->capture.
 * Returns 0 or EMU_ENOMEM. */
int scn_inject_captured(scn *s, uint64_t ts_ns, const uint8_t *data, size_t caplen, size_t origlen);
/* The same for a record that could not be made an Ethernet frame: it takes
 * its place among the captured frames with the fate link_unsupported. */
int scn_inject_captured_unsupported(scn *s, uint64_t ts_ns);
/* The same for a frame as the reader gives it (unconvertible: the record
 * that could not be made Ethernet; data is copied). */
int scn_inject_captured_frame(scn *s, const scn_capture_frame *f);
/* Streams a capture: runs the scenario (at most max_steps events, *ran
 * says how many) up to just before f leaves the host, then queues it as
 * scn_inject_captured_frame does. Fed this way, frame after frame, a capture
 * makes the same run, event for event, as when every frame is queued before
 * the run: the scenario holds what is in flight, not the capture. Run to
 * the end after the last. 0 or EMU_ENOMEM. */
int scn_feed_captured(scn *s, const scn_capture_frame *f, uint64_t max_steps, uint64_t *ran);
/* A captured frame's time keeps the periodic guest poll going until
 * SCN_QUIET_NS after it (the queuing functions call it). */
void scn_extend_horizon(scn *s, uint64_t at_ns);
/* Queues every frame of a loaded capture (scn_inject_captured); frame i of
 * the file becomes scn_captured_id(i) (ledger frame i unless the host sent
 * frames of its own in between: proxy ARP replies, duplicates). Call on a scenario whose start_ns is the
 * first frame's time. notes gets what this call found. Returns 0 or
 * EMU_ENOMEM. */
int scn_inject_capture(scn *s, const scn_capture *in, scn_capture_notes *notes);

/* Keeps both ledgers and the id lists bounded by what is in flight: each
 * host->guest frame is reported to done once it and every frame before it
 * have their fates, then forgotten (guest->host frames are forgotten
 * unreported); counts stay exact. Call before the run. */
void scn_window(scn *s, scn_frame_done_fn done, void *ctx);

/* The ledger id of the k-th frame the host sent, or -1. Copies a duplicate
 * fault makes are not among them; proxy ARP replies are. */
int64_t scn_sent_id(const scn *s, size_t k);
/* The ledger id of the k-th captured frame (scn_inject_captured; for a
 * replay: input frame k), or -1. */
int64_t scn_captured_id(const scn *s, size_t k);
/* How a frame is queued at the host: scn_inject_at (fate PENDING) and
 * scn_inject_unsendable (any other fate) are this with captured 0; a
 * captured frame also takes the next scn_captured_id(). */
int scn_host_queue(scn *s, uint64_t at_ns, const uint8_t *frame, size_t len, emu_fate fate,
                   int captured);

/* For the conversation player (sim/conv.c): a frame entering the system
 * now as the host's next sent frame (captured: also the next captured
 * one), its ledger id or -1 out of host memory (fated so); the frame that
 * entered as id put on the link now; the player's timer (re)armed for
 * at_ns. */
int64_t scn_host_enter(scn *s, int captured);
void scn_host_put(scn *s, uint32_t id, const uint8_t *frame, size_t len);
void scn_conv_arm(scn *s, uint64_t at_ns);

/* The proxy ARP (sim/arp_proxy.c, cfg.arp_proxy). Learns the addresses of a
 * frame the host sends. */
void scn_proxy_learn(scn *s, const uint8_t *frame, size_t len);
/* Builds into reply the host's answer to the guest frame `frame` when it
 * is an ARP request the proxy answers; returns its length, or 0. */
int scn_proxy_answer(scn *s, const uint8_t *frame, size_t len, uint8_t *reply, size_t cap);
/* The longest answer: a Neighbor Advertisement with its link-layer option. */
#define SCN_PROXY_REPLY_MAX (14 + 40 + 32)
void scn_proxy_free(scn *s);

/* Frame builders for host-side traffic; each returns the frame length, or 0
 * when cap is too small. */
/* A broadcast ARP who-has target_ip from `from`. */
size_t scn_frame_arp_request(uint8_t *buf, size_t cap, const net_iface_config *from,
                             uint32_t target_ip);
/* An ICMP echo request (8) or reply (0) of frame_len bytes in all. */
size_t scn_frame_icmp_echo(uint8_t *buf, size_t cap, uint8_t type, const net_iface_config *from,
                           const uint8_t to_mac[6], uint32_t to_ip, uint16_t ident, uint16_t seq,
                           size_t frame_len);

/* The guest pings dst_ip at at_ns (ident 0x6775); at most 64 in a run,
 * queued in time order. EMU_ENOSPC when full, EMU_EINVAL out of order. */
int scn_guest_ping_at(scn *s, uint64_t at_ns, uint32_t dst_ip, uint16_t seq);
/* The guest sends an IPv6 Router Solicitation at at_ns (net_iface_router_solicit),
 * queued with the pings (dst_ip 0 there), under the same limits. */
int scn_guest_router_solicit_at(scn *s, uint64_t at_ns);

/* Queues a client action for the guest (net_client_add: "get URL",
 * "resolve NAME", "tcp A.B.C.D:PORT DATA", "udp A.B.C.D:PORT DATA"); the
 * actions run in order on the guest's network loop once it holds an
 * address. Returns the action's index, or EMU_EINVAL / EMU_ENOSPC with a
 * one-line reason in why, or EMU_ENOMEM. Not with a user driver
 * (EMU_ENOTSUP): the guest has no stack then. */
int scn_client_add(scn *s, const char *text, int keep_body, char *why, size_t cap);

/* Calls fn(ctx, now) on the host actor at at_ns: host-side scripts (a
 * client that starts sending later, say). EMU_ENOMEM. */
typedef void (*scn_host_fn)(void *ctx, uint64_t now_ns);
int scn_host_call_at(scn *s, uint64_t at_ns, scn_host_fn fn, void *ctx);

/* Runs until no event is due at or before until_ns (EMU_TIME_NEVER: until
 * idle) or max_steps events ran. Returns the number of events run. */
uint64_t scn_run(scn *s, uint64_t until_ns, uint64_t max_steps);
/* Ends the run: frames still waiting get their fates (a frame whose reply
 * still waits for ARP: reply_unresolved). Call once, at the end. */
void scn_finish(scn *s);
uint64_t scn_now(const scn *s);

/* --- workloads and stories built on a scenario ------------------------- */

/* A seeded burst workload: `bursts` bursts of 1..8 frames (ARP who-has and
 * ICMP echo requests for the guest, from slirp's gateway), separated by
 * 20..400 us, all drawn from a PRNG seeded with `seed`. Every frame is one
 * a healthy guest answers. Returns 0 or EMU_ENOMEM. */
int scn_workload_bursts(scn *s, uint64_t seed, unsigned bursts);

/* One run of a workload, reduced to what a bug changes. */
typedef struct scn_outcome {
  size_t nframes;
  emu_fate *fates;     /* per host->guest frame, owned */
  uint64_t frames_out; /* guest->host frames the host received */
  uint64_t trace_hash;
  uint64_t counts[EMU_FATE_COUNT];
} scn_outcome;

/* Builds a scenario from cfg, runs the burst workload to the end and
 * records the outcome. Returns 0 or a negative emu_err code. */
int scn_run_bursts(const scn_config *cfg, unsigned bursts, scn_outcome *out);
void scn_outcome_free(scn_outcome *out);
/* The first frame whose fate differs (its index), or -1 when all agree. */
int64_t scn_outcome_first_difference(const scn_outcome *a, const scn_outcome *b);

/* The note's story: the guest pings its gateway and the host opens a TCP
 * connection to the guest's echo port 8023; a busy LAN sends the guest 300
 * broadcasts meant for others; then the host ARPs for and pings the guest
 * and sends 4 KiB through the connection. */
typedef struct scn_story {
  size_t guest_pings_replied, guest_pings; /* guest -> gateway */

  size_t host_pings_replied, host_pings; /* host -> guest */
  uint64_t counts[EMU_FATE_COUNT];
  uint64_t frames_in;
  emu_fate host_arp_fate;              /* of the host's ARP request for the guest */
  int64_t first_rx_no_buffer;          /* frame index, or -1 */
  uint64_t first_rx_no_buffer_sent_ns; /* when it left the host, from the start */
  int tcp_established;                 /* host -> guest:8023 handshake completed */
  size_t tcp_sent, tcp_echoed;         /* bytes sent after the LAN noise, and back */
} scn_story;

int scn_story_run(const scn_config *cfg, scn_story *out);

/* A TCP echo client on the host peer: connects at one time, sends a
 * pattern of bytes from another, and checks what comes back. */
typedef struct scn_echo_client {
  scn *s;
  net_tcp_conn *c;
  uint32_t ip;
  uint16_t port;
  size_t to_send; /* bytes it sends once its send time comes */
  size_t total;   /* bytes released for sending so far */
  size_t sent, received;
  size_t mismatch_at; /* first byte that came back wrong; SIZE_MAX when none */
  int established, eof, failed;
  uint64_t established_ns; /* when the handshake completed */
  uint64_t done_ns;        /* when the last byte came back */
} scn_echo_client;

/* Needs a peer attached. Connects to ip:port at connect_ns and sends
 * `bytes` from send_ns (send_ns <= connect_ns: right away). */
int scn_echo_client_start(scn *s, scn_echo_client *cl, uint32_t ip, uint16_t port,
                          uint64_t connect_ns, uint64_t send_ns, size_t bytes);
/* Releases the connection (call before closing the peer). */
void scn_echo_client_release(scn_echo_client *cl);

/* Builds a scenario exactly as the live runtime (host/scn_live.h) does:
 * virtual time from 0, and the guest's gateway ping at 0 when asked, so that
 * injecting a recording into it (scn_inject_capture) reproduces a live
 * session's inbound side. */
int scn_live_sim_init(scn *s, const scn_config *cfg, int ping_gateway);
/* That gateway ping, on a scenario built otherwise (at virtual time 0). */
int scn_live_guest_start(scn *s, uint64_t at_ns);
/* The sequence number of that ping. */
#define SCN_LIVE_GUEST_PING_SEQ 1

#endif
