/* mkstemp, fsync: POSIX declarations. */
#define _GNU_SOURCE

#include "host/outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/err.h"

/* "dir/.name.XXXXXX" beside "dir/name": the same file system, so the final
 * rename is atomic. */
static char *host_outfile_tmp_name(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  const char *base = path + dir_len;
  size_t n = strlen(path) + sizeof "/..XXXXXX";
  char *tmp = malloc(n);
  if (tmp) snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dir_len, path, base);
  return tmp;
}

/* The data takes file descriptor 1; stdout, where the command's text goes,
 * is pointed at standard error. */
static FILE *host_stdout_claim(char *err, size_t errcap) {
  static int claimed;
  if (claimed) {
    snprintf(err, errcap, "only one output can be '-' (standard output)");
    return NULL;
  }
  fflush(stdout);
  int fd = dup(STDOUT_FILENO);
  FILE *f = fd >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    snprintf(err, errcap, "cannot write to standard output: %s", strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  claimed = 1;
  return f;
}

/* '-', or standard output by a name the system gives it: written in place
 * there, the data would be mixed into the report. */
static int host_stdout_named(const char *path) {
  return !strcmp(path, "-") || !strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/fd/1") ||
         !strcmp(path, "/proc/self/fd/1");
}

int host_outfile_open(host_outfile *o, const char *path, char *err, size_t errcap) {
  memset(o, 0, sizeof *o);
  o->path = path;
  if (host_stdout_named(path)) return (o->f = host_stdout_claim(err, errcap)) ? 0 : EMU_EIO;
  struct stat st;
  if (!*path) {
    snprintf(err, errcap, "an empty file name");
    return EMU_EIO;
  }
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(err, errcap, "'%s' is a directory, not a file", path);
    return EMU_EIO;
  }
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    o->f = fopen(path, "w");
    if (o->f) return 0;
    snprintf(err, errcap, "cannot write '%s': %s", path, strerror(errno));
    return EMU_EIO;
  }
  o->tmp = host_outfile_tmp_name(path);
  if (!o->tmp) {
    snprintf(err, errcap, "cannot create '%s': out of memory", path);
    return EMU_EIO;
  }
  int fd = mkstemp(o->tmp);
  if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
    snprintf(err, errcap, "cannot create '%s': %s", path, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(o->tmp);
    }
    free(o->tmp);
    o->tmp = NULL;
    return EMU_EIO;
  }
  /* mkstemp makes the file 0600; an output is an ordinary file */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  /* without it stdio's one-block buffer stays: slower, never wrong */
  (void)setvbuf(o->f, NULL, _IOFBF, HOST_IO_BUFFER);
  return 0;
}

int host_outfile_commit_released(host_outfile *o, int failed) {
  if (!o->tmp) return failed ? EMU_EIO : 0; /* written in place */
  if (!failed && rename(o->tmp, o->path) != 0) failed = 1;
  if (failed) unlink(o->tmp);
  free(o->tmp);
  o->tmp = NULL;
  return failed ? EMU_EIO : 0;
}

int host_outfile_commit(host_outfile *o) {
  if (!o->f) return host_outfile_commit_released(o, 1);
  /* a regular file must be on the disk before it takes the target's name */
  int failed = fflush(o->f) != 0 || ferror(o->f) || (o->tmp && fsync(fileno(o->f)) != 0);
  if (fclose(o->f) != 0) failed = 1;
  o->f = NULL;
  return host_outfile_commit_released(o, failed);
}

void host_outfile_abort(host_outfile *o) {
  if (o->f) fclose(o->f);
  o->f = NULL;
  if (o->tmp) host_outfile_commit_released(o, 1);
}

void host_outfile_release_stream(host_outfile *o) { o->f = NULL; }

int host_same_file(const char *a, const char *b) {
  if (!strcmp(a, b)) return 1;
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
