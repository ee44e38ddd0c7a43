/* Output files that appear whole or not at all.
 *
 * A run's outputs (the guest's frames, the trace, the HTML page, a live
 * recording) are written to a temporary file beside the target and renamed
 * over it only when everything reached the disk. A usage error, a failed
 * run or a full disk therefore leaves an existing file as it was, and never
 * leaves half a file under the name the user gave. */
#ifndef VNETSIM_HOST_OUTFILE_H
#define VNETSIM_HOST_OUTFILE_H

#include <stdio.h>

/* The stdio buffer of capture files read and outputs written: large enough
 * that a long replay's reads and writes are few (stdio's default is one
 * block). */
#define HOST_IO_BUFFER (256 * 1024)

typedef struct host_outfile {
  FILE *f;          /* write here */
  const char *path; /* the target, as given */
  char *tmp;        /* the temporary file beside it; NULL when writing straight
                     * to a target that is not a regular file (/dev/null, a
                     * FIFO, a terminal), which must never be renamed over */
} host_outfile;

/* Creates the temporary file for path. 0, or EMU_EIO with a one-line reason
 * in err (the directory is missing or not writable, path is a directory).
 * "-" (also "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1") is the
 * process's standard output: the data takes it, and everything
 * printed for a person from then on goes to standard error, so that the two
 * never mix in one stream (one "-" per process). */
int host_outfile_open(host_outfile *o, const char *path, char *err, size_t errcap);
/* Flushes, closes and renames the file over its target. 0, or EMU_EIO when
 * anything failed; the temporary file is removed then and the target left
 * as it was. */
int host_outfile_commit(host_outfile *o);
/* Closes and removes the temporary file; the target is left as it was. */
void host_outfile_abort(host_outfile *o);
/* The stdio stream is taken over by someone who closes it (libpcap's
 * dumper): commit then only renames. */
void host_outfile_release_stream(host_outfile *o);
/* Renames a file whose stream was released and closed by its new owner;
 * failed: whether that owner saw a write error. */
int host_outfile_commit_released(host_outfile *o, int failed);

/* 1 when a and b name the same file (both exist and share device and
 * inode), or are the same string. */
int host_same_file(const char *a, const char *b);

#endif
