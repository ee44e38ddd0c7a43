/* Packet capture files in and out, through libpcap.
 *
 * Input: pcap (micro- or nanosecond) and pcapng, of the link types
 * host/linktype.h makes Ethernet frames; every frame is loaded with its
 * timestamp in nanoseconds. A pcapng file libpcap stops in because its
 * interfaces differ in link type (or snapshot length, or its sections in
 * byte order) is read again, whole, block by block (host/pcapng.h), each
 * record converted by its own interface's link type. Output: pcap with
 * nanosecond timestamps, Ethernet link type. Problems come back as an error
 * code plus a one-line message naming the file and, where it applies, the
 * frame number. */
#ifndef VNETSIM_HOST_PCAPIO_H
#define VNETSIM_HOST_PCAPIO_H

#include <stddef.h>
#include <stdint.h>

#include "host/outfile.h"
#include "sim/scn.h"

/* Reads a capture frame by frame, handing each to fn as it is read: the
 * frame (f->data) is valid only during the call, converted to Ethernet as
 * host_pcap_load's frames are; fn returns 0 to go on or an error that ends
 * the walk (returned as it is). At most max_frames frames (0: all). info
 * gets what the walk found (every field of scn_capture but the frames:
 * nframes counts those fn took). Errors, with err, as host_pcap_load's,
 * after the frames before the failure were handed over: a caller that
 * must not act on half a capture holds back until the end. */
typedef int (*host_pcap_frame_fn)(void *ctx, const scn_capture_frame *f);
int host_pcap_each(const char *path, size_t max_frames, host_pcap_frame_fn fn, void *ctx,
                   scn_capture *info, char *err, size_t errcap);
/* Loads a whole file. A frame whose time no clock holds (a negative or
 * out-of-range field) gets ts_ns UINT64_MAX: scn_inject_captured fates it
 * bad_timestamp. On failure returns EMU_EIO (cannot open or read),
 * EMU_EFORMAT (not a capture, a link type that cannot be replayed, a
 * damaged or truncated record; in a file read block by block, a block that
 * does not fit the file) or EMU_ENOMEM, with the reason in err, and leaves
 * f empty. */
int host_pcap_load(const char *path, scn_capture *f, char *err, size_t errcap);
/* The same, reading at most max_frames records (0: all); f->cut says that
 * the file had more. */
int host_pcap_load_max(const char *path, size_t max_frames, scn_capture *f, char *err,
                       size_t errcap);
/* The same from a capture held in memory; name is used in messages. */
int host_pcap_load_mem(const void *data, size_t len, const char *name, scn_capture *f, char *err,
                       size_t errcap);
void host_pcap_free(scn_capture *f);

typedef struct host_pcap_writer {
  void *pcap;   /* pcap_t, opened dead */
  void *dumper; /* pcap_dumper_t */
  host_outfile out;
  uint64_t frames;
  uint64_t too_late; /* frames past what pcap's 32-bit seconds hold (2106): not written */
} host_pcap_writer;

/* Starts a pcap file for path (host/outfile.h: the file appears under that
 * name only at a successful close). EMU_EIO with a message in err. */
int host_pcap_writer_open(host_pcap_writer *w, const char *path, char *err, size_t errcap);
void host_pcap_writer_write(host_pcap_writer *w, uint64_t ts_ns, const uint8_t *frame, size_t len);
/* Flushes, closes and puts the file in place; EMU_EIO when anything failed
 * to reach it (the target is then left as it was), or when a frame's time
 * was past what the format holds (counted in too_late). */
int host_pcap_writer_close(host_pcap_writer *w);
/* Closes without putting the file in place: the target is left as it was. */
void host_pcap_writer_abort(host_pcap_writer *w);

#endif
