/* The client of captured TCP conversations, played against the guest.
 *
 * When the guest stands in for a captured server (replay --as), the
 * captured client's segments after its SYN acknowledge the recorded
 * server's sequence numbers, which the guest never chose: sent as they
 * are, the guest rejects them. The player (scn_config.play_conversations)
 * plays the client as tcpliveplay plays a captured client against a live
 * server:
 *   - a conversation starts at a captured SYN to the guest's address; the
 *     client's segments keep their own sequence numbers, their
 *     acknowledgement numbers are rebased onto the guest's real ISN
 *     (ack' = ack - recorded ISN + guest ISN; the recorded ISN from the
 *     server's SYN-ACK, else from the client's first ACK) and their TCP
 *     checksums computed again (a capture's are often left to the NIC);
 *   - they leave in the capture's order, at its times, but each waits for
 *     the guest where the recorded client had waited for the server: until
 *     the guest's SYN-ACK has come, and until the guest has sent all the
 *     data it acknowledges. A client acknowledging more than the guest sent
 *     before the guest's FIN acknowledges the FIN instead (the guest's answer
 *     was shorter). A segment waits at most SCN_CONV_WAIT_NS of virtual
 *     time; the conversation then stops, with its reason;
 *   - the recorded server's segments are not sent (the guest answers in its
 *     place): each gets the fate compared, and the segments that carry
 *     something (SYN, FIN, RST or data; when a stack acknowledges is its
 *     own affair) are compared in order with the guest's: the same SYN, ACK,
 *     FIN and RST flags and payload length, or the first that differs.
 * Client segments of a conversation that stopped get the fate
 * conversation_stopped. State is bounded: at most SCN_CONV_MAX
 * conversations (the SYNs after that pass unplayed, counted), and at most
 * SCN_CONV_HELD_BYTES of client segments waiting. */
#ifndef VNETSIM_SIM_CONV_H
#define VNETSIM_SIM_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "sim/scn.h"

#define SCN_CONV_MAX        256
#define SCN_CONV_WAIT_NS    5000000000ull /* 5 s */
#define SCN_CONV_HELD_BYTES (4u << 20)
#define SCN_CONV_CMP_MAX    64 /* segments one side may run ahead in the comparison */

typedef enum scn_conv_stop {
  SCN_CONV_RUNNING = 0,
  SCN_CONV_STOP_NO_SYN_ACK,  /* the guest never answered the SYN */
  SCN_CONV_STOP_NO_DATA,     /* the guest never sent the data the client acknowledges */
  SCN_CONV_STOP_GUEST_RESET, /* the guest reset the connection (or refused it) */
  SCN_CONV_STOP_MISSING,     /* client bytes missing from the capture */
  SCN_CONV_STOP_HOLD_FULL,   /* more client bytes waiting than the player holds */
  SCN_CONV_STOP_RUN_ENDED,   /* the run ended while a segment waited */
  SCN_CONV_STOP_COUNT
} scn_conv_stop;

/* "running", "no_syn_ack", "no_data", "guest_reset", "client_segment_missing",
 * "hold_full", "run_ended". */
const char *scn_conv_stop_name(scn_conv_stop why);

/* A segment as compared: flags (SYN, ACK, FIN, RST, PSH) and payload. */
typedef struct scn_conv_seg {
  uint8_t flags;
  uint8_t none; /* that side sent no more */
  uint32_t len;
} scn_conv_seg;

typedef struct scn_conv_report {
  uint32_t client_ip, server_ip;
  uint16_t client_port, server_port;
  uint64_t syn_frame;                    /* the captured frame of the client's SYN, from 1 */
  int established;                       /* the client acknowledged the guest's SYN-ACK */
  int refused;                           /* the guest answered the SYN with a RST */
  uint64_t client_segments, client_sent; /* captured, and of them sent */
  uint64_t client_bytes;                 /* client data the capture holds (its span) */
  uint64_t client_delivered;             /* of it, acknowledged by the guest */
  uint64_t guest_segments, guest_bytes;  /* what the guest sent in the conversation */
  int guest_fin, guest_rst;
  uint64_t recorded_segments, recorded_bytes; /* what the recorded server sent */
  uint64_t acks_clamped; /* client acks past the guest's FIN, made to acknowledge it */
  uint64_t compared;     /* segments alike, in order, before the first difference */
  int differs;
  uint64_t diff_at;                       /* the differing segment's number, from 1 */
  scn_conv_seg diff_recorded, diff_guest; /* what each side sent there */
  int compare_cut;                        /* one side ran SCN_CONV_CMP_MAX ahead */
  scn_conv_stop stop;
  uint64_t stop_ns;
  uint64_t stop_frame; /* the captured frame it stopped at, from 1, or 0 */
  /* MISSING: the first and last client byte (from 1) the capture lacks;
   * NO_DATA: the guest's bytes the client acknowledges, and those it sent */
  uint64_t stop_a, stop_b;
} scn_conv_report;

/* Opens the guest's sinks (scn_config.sink_ports) where nothing of its
 * own listens; 0 or net_tcp_listen's error (EMU_ENOSPC: no listener left). */
int scn_conv_open_sinks(scn *s);

/* The player of s, made when s->cfg.play_conversations; 0 or EMU_ENOMEM. */
int scn_conv_open(scn *s);
void scn_conv_close(scn *s);
/* A captured frame leaving the host now: 1 when the player took it (it is
 * in the ledger then: held, sent or fated), 0 when it goes as it is. */
int scn_conv_take(scn *s, const uint8_t *frame, size_t len, uint64_t now_ns);
/* A frame the guest sent, at the host's end of the link. */
void scn_conv_guest_frame(scn *s, const uint8_t *frame, size_t len, uint64_t now_ns);
/* The player's timer: releases what may go, stops what waited too long. */
void scn_conv_poll(scn *s, uint64_t now_ns);
/* The run's end: segments still waiting stop their conversation. */
void scn_conv_finish(scn *s, uint64_t now_ns);
/* The conversations so far, in the order their SYNs left. */
size_t scn_conv_count(const scn *s);
const scn_conv_report *scn_conv_report_at(const scn *s, size_t i);
/* SYNs past SCN_CONV_MAX conversations, sent unplayed. */
uint64_t scn_conv_over_limit(const scn *s);

#endif
