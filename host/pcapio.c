/* libpcap's headers use the BSD u_int/u_char types, hidden by strict C11. */
#define _DEFAULT_SOURCE
/* fmemopen is POSIX 2008 */
#define _POSIX_C_SOURCE 200809L

#include "host/pcapio.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/err.h"
#include "emu/grow.h"
#include "host/linktype.h"
#include "host/pcapng.h"

/* A record's time in ns (the reader runs at nanosecond precision, so the
 * second field holds nanoseconds), or UINT64_MAX for a garbage time that
 * no clock holds: negative parts, a fraction of a second of 1e9 or more,
 * or a sum past 64 bits. The replay gives such a frame its own fate. */
static uint64_t host_pcap_ts_ns(int64_t sec, int64_t nsec) {
  const uint64_t ns_per_s = 1000000000ull;
  if (sec < 0 || nsec < 0 || (uint64_t)nsec >= ns_per_s) return UINT64_MAX;
  if ((uint64_t)sec > (UINT64_MAX - (uint64_t)nsec) / ns_per_s) return UINT64_MAX;
  return (uint64_t)sec * ns_per_s + (uint64_t)nsec;
}

/* A converted frame's length on the wire: the original's, grown or shrunk
 * with its header. A record that says it lost nothing (an original length
 * not above what it captured, 0 included) still loses nothing; one that
 * was cut stays cut, however long it says the original was. */
static uint32_t host_pcap_conv_origlen(uint32_t origlen, uint32_t caplen, size_t conv_len,
                                       long grew) {
  if (origlen <= caplen) return (uint32_t)conv_len;
  int64_t len = (int64_t)origlen + grew;
  return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
}

/* A reader handing frames to fn, one at a time; info gets what it found. */
typedef struct host_pcap_walk {
  host_pcap_frame_fn fn;
  void *ctx;
  scn_capture *info;
} host_pcap_walk;

/* Hands fn the frame of a record of link type dlt taken at ts_ns: Ethernet
 * as it is, anything else (and a VLAN-tagged frame) converted
 * (host/linktype.h). A record that cannot be converted goes as
 * unconvertible, empty: the replay gives it its own fate. 0, EMU_ENOMEM or
 * fn's error. */
static int host_pcap_deliver(host_pcap_walk *w, int dlt, uint64_t ts_ns, const uint8_t *bytes,
                             uint32_t caplen, uint32_t origlen) {
  static uint8_t none[1];
  scn_capture_frame fr = {.ts_ns = ts_ns, .caplen = caplen, .origlen = origlen};
  fr.data = caplen ? (uint8_t *)bytes : none;
  uint8_t *conv = NULL;
  if (host_link_needs_conversion(dlt, bytes, caplen)) {
    size_t conv_len = 0;
    long grew = 0;
    if (host_link_to_ethernet(dlt, bytes, caplen, &conv, &conv_len, &grew)) {
      fr.unconvertible = 1;
      fr.caplen = 0;
      fr.data = none;
    } else {
      w->info->converted++;
      fr.data = conv;
      fr.caplen = (uint32_t)conv_len;
      fr.origlen = host_pcap_conv_origlen(origlen, caplen, conv_len, grew);
    }
  }
  int rc = w->fn(w->ctx, &fr);
  free(conv);
  w->info->nframes += rc == 0;
  return rc;
}

/* 1 when the walk has handed over as many frames as it may (and so the
 * record at hand, one more, cuts the capture). */
static int host_pcap_at_cap(scn_capture *info) {
  if (!info->max_frames || info->nframes < info->max_frames) return 0;
  info->cut = 1;
  return 1;
}

/* An error fn returned, in words, unless the walk said it itself. */
static void host_pcap_fn_error(int rc, const char *path, char *err, size_t errcap) {
  if (rc == EMU_ENOMEM) snprintf(err, errcap, "%s: out of memory", path);
}

/* Reads every frame of an opened capture; closes p. */
static int host_pcap_read_all(pcap_t *p, const char *path, host_pcap_walk *w, char *err,
                              size_t errcap) {
  scn_capture *f = w->info;
  f->linktype = pcap_datalink(p);
  if (!host_link_supported(f->linktype)) {
    const char *name = pcap_datalink_val_to_name(f->linktype);
    snprintf(err, errcap,
             "%s: link type %s (%d) cannot be replayed as Ethernet (Ethernet, Linux cooked, "
             "raw IP and BSD loopback can)",
             path, name ? name : "unknown", f->linktype);
    pcap_close(p);
    return EMU_EFORMAT;
  }
  /* A classic pcap record keeps its seconds in 32 unsigned bits (to 2106),
   * which libpcap hands over signed: past 2038 they come out negative.
   * pcapng (major version 1) gives them whole. */
  int secs_u32 = pcap_major_version(p) >= 2;
  int rc = 0;
  for (;;) {
    struct pcap_pkthdr *h;
    const u_char *bytes;
    int r = pcap_next_ex(p, &h, &bytes);
    if (r == PCAP_ERROR_BREAK || host_pcap_at_cap(f)) break;
    if (r != 1) {
      snprintf(err, errcap, "%s: frame %zu: %s (the %zu frames before it were read)", path,
               f->nframes + 1, pcap_geterr(p), f->nframes);
      rc = EMU_EFORMAT;
      break;
    }
    int64_t sec = secs_u32 ? (int64_t)(uint32_t)h->ts.tv_sec : (int64_t)h->ts.tv_sec;
    rc = host_pcap_deliver(w, f->linktype, host_pcap_ts_ns(sec, h->ts.tv_usec), bytes, h->caplen,
                           h->len);
    if (rc) {
      host_pcap_fn_error(rc, path, err, errcap);
      break;
    }
  }
  pcap_close(p);
  return rc;
}

/* One record of a pcapng file read block by block (host/pcapng.h): a
 * frame like libpcap's, or an empty one: a damaged record (the device fates
 * the empty frame frame_invalid, or its time bad_timestamp), or one of an
 * interface whose link type cannot be replayed (link_unsupported). */
static int host_pcap_take_record(void *ctx, const host_pcapng_record *r) {
  host_pcap_walk *w = ctx;
  if (host_pcap_at_cap(w->info)) return HOST_PCAPNG_STOP;
  if (r->data && host_link_supported(r->dlt))
    return host_pcap_deliver(w, r->dlt, r->ts_ns, r->data, r->caplen, r->origlen);
  static uint8_t none[1];
  scn_capture_frame fr = {.ts_ns = r->ts_ns, .data = none, .unconvertible = r->data != NULL};
  w->info->damaged += r->data == NULL;
  int rc = w->fn(w->ctx, &fr);
  w->info->nframes += rc == 0;
  return rc;
}

/* A pcapng file whose interfaces differ (which libpcap stops in) is read
 * block by block, whole; any other file is libpcap's: returns 1 for those,
 * without reading. Else 0 or an error, as host_pcap_each. */
static int host_pcap_each_pcapng(const void *data, size_t len, const char *name, host_pcap_walk *w,
                                 char *err, size_t errcap) {
  if (!host_pcapng_mixed(data, len)) return 1;
  w->info->mixed_links = 1;
  int rc =
      host_pcapng_read(data, len, name, host_pcap_take_record, w, &w->info->linktype, err, errcap);
  if (rc && rc != EMU_EFORMAT) host_pcap_fn_error(rc, name, err, errcap);
  return rc;
}

/* The same for a file, mapped to be read; 1 (libpcap reads it) when it
 * cannot be: not a regular file (a pipe reads once), empty. */
static int host_pcap_each_pcapng_file(const char *path, host_pcap_walk *w, char *err,
                                      size_t errcap) {
  /* not even opened unless regular: opening a FIFO would take its writer
   * from libpcap, which reads it next */
  struct stat named;
  if (stat(path, &named) != 0 || !S_ISREG(named.st_mode)) return 1;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  struct stat st;
  void *map = MAP_FAILED;
  size_t len = 0;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    len = (size_t)st.st_size;
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  close(fd);
  if (map == MAP_FAILED) return 1;
  int rc = host_pcap_each_pcapng(map, len, path, w, err, errcap);
  munmap(map, len);
  return rc;
}

/* libpcap reads a record at a time through stdio, whose buffer is one
 * block: a larger one saves most of a long replay's read calls. "-" (and a
 * file fopen refuses, for libpcap's own message) go through libpcap. */
static pcap_t *host_pcap_open_buffered(const char *path, char *perr) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
  if (!f) return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
  if (setvbuf(f, NULL, _IOFBF, HOST_IO_BUFFER) != 0) {
    fclose(f);
    return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
  }
  pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);
  if (!p) fclose(f);
  return p;
}

int host_pcap_each(const char *path, size_t max_frames, host_pcap_frame_fn fn, void *ctx,
                   scn_capture *info, char *err, size_t errcap) {
  memset(info, 0, sizeof *info);
  info->max_frames = max_frames;
  host_pcap_walk w = {fn, ctx, info};
  int rc = host_pcap_each_pcapng_file(path, &w, err, errcap);
  if (rc != 1) return rc;
  char perr[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = host_pcap_open_buffered(path, perr);
  if (!p) {
    /* libpcap names the file itself in some of its messages */
    size_t n = strlen(path);
    int named = !strncmp(perr, path, n) && perr[n] == ':';
    snprintf(err, errcap, "%s%s%s", named ? "" : path, named ? "" : ": ", perr);
    return EMU_EIO;
  }
  return host_pcap_read_all(p, path, &w, err, errcap);
}

/* host_pcap_load's frame function: keeps a copy of each frame. */
static int host_pcap_keep(void *ctx, const scn_capture_frame *fr) {
  scn_capture *f = ctx;
  scn_capture_frame *grown = emu_grow(f->frames, &f->cap, f->nframes + 1, sizeof *grown, 64);
  if (!grown) return EMU_ENOMEM;
  f->frames = grown;
  scn_capture_frame *kept = &f->frames[f->nframes];
  *kept = *fr;
  kept->data = malloc(fr->caplen ? fr->caplen : 1);
  if (!kept->data) return EMU_ENOMEM;
  memcpy(kept->data, fr->data, fr->caplen);
  f->nframes++;
  return 0;
}

/* Moves what the walk found into f beside the frames kept in it. */
static int host_pcap_kept(scn_capture *f, scn_capture *info, int rc) {
  info->frames = f->frames;
  info->cap = f->cap;
  info->nframes = f->nframes;
  *f = *info;
  if (rc) host_pcap_free(f);
  return rc;
}

int host_pcap_load(const char *path, scn_capture *f, char *err, size_t errcap) {
  return host_pcap_load_max(path, 0, f, err, errcap);
}

int host_pcap_load_max(const char *path, size_t max_frames, scn_capture *f, char *err,
                       size_t errcap) {
  scn_capture info;
  memset(f, 0, sizeof *f);
  int rc = host_pcap_each(path, max_frames, host_pcap_keep, f, &info, err, errcap);
  return host_pcap_kept(f, &info, rc);
}

int host_pcap_load_mem(const void *data, size_t len, const char *name, scn_capture *f, char *err,
                       size_t errcap) {
  memset(f, 0, sizeof *f);
  if (len == 0) {
    snprintf(err, errcap, "%s: empty", name);
    return EMU_EFORMAT;
  }
  scn_capture info;
  memset(&info, 0, sizeof info);
  host_pcap_walk w = {host_pcap_keep, f, &info};
  int rc = host_pcap_each_pcapng(data, len, name, &w, err, errcap);
  if (rc != 1) return host_pcap_kept(f, &info, rc);
  /* libpcap reads from a stdio stream; fmemopen gives it one without a file.
   * pcap_close() closes the stream. */
  FILE *mem = fmemopen((void *)data, len, "rb");
  if (!mem) {
    snprintf(err, errcap, "%s: cannot open a memory stream", name);
    return EMU_ENOMEM;
  }
  char perr[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_fopen_offline_with_tstamp_precision(mem, PCAP_TSTAMP_PRECISION_NANO, perr);
  if (!p) {
    fclose(mem);
    snprintf(err, errcap, "%s: %s", name, perr);
    return EMU_EFORMAT;
  }
  return host_pcap_kept(f, &info, host_pcap_read_all(p, name, &w, err, errcap));
}

void host_pcap_free(scn_capture *f) {
  for (size_t i = 0; i < f->nframes; i++) free(f->frames[i].data);
  free(f->frames);
  memset(f, 0, sizeof *f);
}

int host_pcap_writer_open(host_pcap_writer *w, const char *path, char *err, size_t errcap) {
  memset(w, 0, sizeof *w);
  pcap_t *p = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (!p) {
    snprintf(err, errcap, "%s: cannot set up a pcap writer", path);
    return EMU_EIO;
  }
  if (host_outfile_open(&w->out, path, err, errcap)) {
    pcap_close(p);
    return EMU_EIO;
  }
  pcap_dumper_t *d = pcap_dump_fopen(p, w->out.f);
  if (!d) {
    snprintf(err, errcap, "%s: %s", path, pcap_geterr(p));
    host_outfile_abort(&w->out);
    pcap_close(p);
    return EMU_EIO;
  }
  host_outfile_release_stream(&w->out); /* the dumper closes it */
  w->pcap = p;
  w->dumper = d;
  return 0;
}

void host_pcap_writer_write(host_pcap_writer *w, uint64_t ts_ns, const uint8_t *frame, size_t len) {
  /* the file's record header keeps seconds in 32 bits: a later time would
   * be written wrapped, a silent lie about when the frame left */
  if (ts_ns / 1000000000ull > UINT32_MAX) {
    w->too_late++;
    return;
  }
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
  h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull); /* nanoseconds: the file says so */
  h.caplen = h.len = (bpf_u_int32)len;
  pcap_dump(w->dumper, &h, frame);
  w->frames++;
}

/* Closes the dumper; 1 when anything failed to reach the file. */
static int host_pcap_writer_end(host_pcap_writer *w) {
  int failed = 0;
  if (w->dumper) {
    FILE *f = pcap_dump_file(w->dumper);
    failed = pcap_dump_flush(w->dumper) != 0 || ferror(f) || (w->out.tmp && fsync(fileno(f)) != 0);
    pcap_dump_close(w->dumper);
  }
  if (w->pcap) pcap_close(w->pcap);
  w->dumper = w->pcap = NULL;
  return failed;
}

int host_pcap_writer_close(host_pcap_writer *w) {
  int failed = host_pcap_writer_end(w) || w->too_late;
  int rc = host_outfile_commit_released(&w->out, failed);
  memset(w, 0, sizeof *w);
  return rc;
}

void host_pcap_writer_abort(host_pcap_writer *w) {
  host_pcap_writer_end(w);
  host_outfile_commit_released(&w->out, 1);
  memset(w, 0, sizeof *w);
}
