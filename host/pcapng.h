/* pcapng read block by block, for the captures libpcap stops in.
 *
 * libpcap reads a pcapng file only while every interface has the first
 * interface's link type and snapshot length, and every section the first
 * section's byte order: at the first Interface Description Block that
 * differs it stops with an error. host/pcapio reads every file through
 * libpcap first and comes here only for those (host_pcapng_mixed): this
 * reader walks the blocks itself, as the pcapng specification
 * (draft-ietf-opsawg-pcapng) lays them out.
 *
 * Read: Section Header (each section has its own interfaces and byte
 * order, either order), Interface Description (link type, snapshot length,
 * if_tsresol, if_tsoffset), Enhanced Packet, Simple Packet and the obsolete
 * Packet block. Every other block is skipped by its length. Each block's
 * length is checked against the rest of the file and against its trailer,
 * each field against its block, before anything is read from it.
 *
 * What stops the walk, as it stops libpcap: a block that does not fit the
 * file (a truncated final block included), a block length under 12 or not
 * a multiple of 4, a trailer that disagrees with the header, a Section
 * Header with a bad byte-order magic or a major version other than 1.
 * What does not: damage inside one well-framed block. A record whose
 * lengths do not fit its block comes out damaged (no data); a record of an
 * interface no Interface Description Block describes comes out with no
 * link type; an if_tsresol no 64-bit tick count holds makes that
 * interface's times unknown (UINT64_MAX); options cut short end the
 * options, those before them stand. */
#ifndef VNETSIM_HOST_PCAPNG_H
#define VNETSIM_HOST_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#include "host/outfile.h"

/* The link type of a record whose interface no Interface Description Block
 * describes (or whose block was too short to say). */
#define HOST_PCAPNG_NO_LINK (-1)
/* What a record callback returns to end the walk early, without an error. */
#define HOST_PCAPNG_STOP 1

typedef struct host_pcapng_record {
  int dlt;        /* its interface's link type, as libpcap's DLT_ value, or HOST_PCAPNG_NO_LINK */
  uint64_t ts_ns; /* as libpcap at nanosecond precision; UINT64_MAX: no clock holds it */
  const uint8_t *data; /* the captured bytes, inside the file; NULL: a damaged record */
  uint32_t caplen;     /* bytes at data (0 for a damaged record) */
  uint32_t origlen;    /* length on the wire */
} host_pcapng_record;

/* Called for each packet record in file order: 0 to go on,
 * HOST_PCAPNG_STOP to end the walk, or a negative EMU_ error to end it
 * with that error. */
typedef int (*host_pcapng_record_fn)(void *ctx, const host_pcapng_record *r);

/* 1 when data[0..len) is a pcapng file with an Interface Description Block
 * libpcap refuses (a link type or snapshot length other than the first
 * interface's, or a section in the other byte order) before any damage; 0
 * otherwise. */
int host_pcapng_mixed(const uint8_t *data, size_t len);

/* Walks every block of the pcapng file data[0..len) and calls fn for each
 * packet record; *first_dlt gets the first interface's link type (what
 * libpcap reports for the file), HOST_PCAPNG_NO_LINK when there is none.
 * Returns 0 (at the end, or when fn said stop), EMU_EFORMAT for a block that
 * stops the walk (err: "NAME: frame N: what (the N-1 frames before it were
 * read)", as host/pcapio says it), EMU_ENOMEM, or fn's error. */
int host_pcapng_read(const uint8_t *data, size_t len, const char *name, host_pcapng_record_fn fn,
                     void *ctx, int *first_dlt, char *err, size_t errcap);

/* Writing: one section, little-endian, of named Ethernet interfaces with
 * nanosecond times (if_tsresol 9), each frame an Enhanced Packet Block of
 * its interface: what libpcap cannot write (its writer makes classic pcap
 * of one interface). Through host/outfile.h: the file appears whole or not
 * at all. */
#define HOST_PCAPNG_MAX_IFACES 4

typedef struct host_pcapng_writer {
  host_outfile out;
  unsigned nifaces;
  uint64_t frames[HOST_PCAPNG_MAX_IFACES]; /* written, by interface */
  int failed;                              /* a write did not reach the stream */
} host_pcapng_writer;

/* Starts path with interfaces named names[0..n) (n at most
 * HOST_PCAPNG_MAX_IFACES). 0, or EMU_EIO with a message in err. */
int host_pcapng_writer_open(host_pcapng_writer *w, const char *path, const char *const *names,
                            unsigned n, char *err, size_t errcap);
/* One frame of interface iface at ts_ns. */
void host_pcapng_writer_write(host_pcapng_writer *w, unsigned iface, uint64_t ts_ns,
                              const uint8_t *frame, size_t len);
/* Puts the file in place; EMU_EIO when anything failed to reach it (the
 * target is then left as it was). */
int host_pcapng_writer_close(host_pcapng_writer *w);
/* Drops the file: the target is left as it was. */
void host_pcapng_writer_abort(host_pcapng_writer *w);

#endif
