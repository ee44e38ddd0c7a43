/* The live scenario: the simulated machine with libslirp as its host side.
 *
 * The same device, driver and guest stack, run in real time by host/live with
 * slirp's user-mode NAT as the host: frames slirp sends enter through the
 * host actor (and the fate ledger) at their arrival time; frames the guest
 * sends go to slirp. Virtual time starts at 0 and follows the wall clock. */
#ifndef VNETSIM_HOST_SCN_LIVE_H
#define VNETSIM_HOST_SCN_LIVE_H

#include "host/pcapio.h"
#include "sim/scn.h"

struct host_live;

#define SCN_LIVE_MAX_FWDS 16
/* How long after start the guest pings its gateway on a TAP (virtual ns). */
#define SCN_LIVE_TAP_SETTLE_NS 200000000ull

/* One forward, as QEMU's hostfwd= takes it:
 *   tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport
 * hostaddr defaults to 127.0.0.1 (never anything wider unless asked);
 * guestaddr 0 means the guest's address; hostport 0 asks the kernel. */
typedef struct scn_hostfwd {
  int udp;
  uint32_t host_ip, guest_ip; /* host order */
  uint16_t host_port, guest_port;
  uint16_t bound_port; /* the host port in use once added */
} scn_hostfwd;

/* Parses spec; 0, or EMU_EINVAL with the reason in why. */
int scn_hostfwd_parse(const char *spec, scn_hostfwd *out, char *why, size_t whycap);

typedef struct scn_live_config {
  scn_config scn; /* start_ns is ignored: live starts at 0 */
  /* A composition already built (by the library, for the command), with
   * start_ns 0, that the live run drives instead of building one from .scn;
   * the caller keeps it and closes it after scn_live_close. NULL: build. */
  scn *sim;
  scn_hostfwd fwds[SCN_LIVE_MAX_FWDS];
  size_t nfwds;            /* 0: tcp 127.0.0.1:8023->8023, :8080->80 */
  int ping_gateway;        /* the guest pings 10.0.2.2 at start (default 1) */
  const char *pcap_path;   /* both directions on the link, or NULL */
  const char *record_path; /* host->guest frames with arrival times, or NULL */
  /* The host side is this TAP interface (the Linux kernel as the guest's
   * peer) instead of slirp; no forwards then. NULL: slirp. */
  const char *tap_name;
  /* Building its own scenario: each frame's record goes once it and every
   * earlier one are done (scn_window), memory bounded by what is in flight;
   * 0 keeps every record, for a caller that compares frame by frame. */
  int forget_done;
  /* slirp's IPv6 on (host_live_config.ipv6): the guest sends a Router
   * Solicitation at start and takes an address from slirp's answer
   * (SLAAC: fec0::/64 and its MAC's interface identifier), and each TCP or
   * UDP forward from 127.0.0.1 gets a twin from [::1] at the same port to
   * that address. (0) */
  int ipv6;
} scn_live_config;

void scn_live_config_default(scn_live_config *cfg);

typedef struct scn_live {
  scn *s; /* own, or the caller's */
  scn own;
  struct host_live *live;
  scn_hostfwd fwds[SCN_LIVE_MAX_FWDS];
  size_t nfwds;
  host_pcap_writer pcap, record;
  int pcap_on, record_on;
  uint32_t gateway;
  uint8_t guest6[16]; /* the guest's SLAAC address the IPv6 forwards go to (ipv6) */
} scn_live;

/* Builds the scenario, slirp and the forwards, opens the capture files.
 * Returns 0, or an emu_err code with a one-line reason in err (EMU_EIO: a
 * port could not be bound or a file not created); sl is closed then. */
int scn_live_init(scn_live *sl, const scn_live_config *cfg, char *err, size_t errcap);
/* Runs in real time until stopped (host_live_stop / _request_stop / a caught
 * signal) or for duration_ns (0: no limit). */
int scn_live_run(scn_live *sl, uint64_t duration_ns);
/* The guest's gateway ping: its state, and the round trip when answered. */
net_ping_state scn_live_gateway_ping(const scn_live *sl, uint64_t *rtt_ns);
/* Ends the run (scn_finish) and flushes the capture files; EMU_EIO when a
 * file could not be written. Call once, after the last run. */
int scn_live_finish(scn_live *sl);
void scn_live_close(scn_live *sl);

#endif
