/* Error codes shared by every vnetsim module.
 *
 * Library calls return 0 (or a non-negative count) on success and one of these
 * negative codes on failure; they never print and never exit. The command
 * line decides what a person sees, through emu_strerror(). */
#ifndef VNETSIM_EMU_ERR_H
#define VNETSIM_EMU_ERR_H

enum emu_err {
  EMU_OK = 0,
  EMU_EINVAL = -1,  /* an argument is out of its documented range */
  EMU_ENOMEM = -2,  /* host allocation failed */
  EMU_ERANGE = -3,  /* a guest-physical access falls outside guest memory */
  EMU_EAGAIN = -4,  /* nothing to do now (empty ring, no buffer) */
  EMU_ENOSPC = -5,  /* no room (ring full, guest memory exhausted) */
  EMU_EPROTO = -6,  /* the other side broke a virtio rule */
  EMU_EIO = -7,     /* a file could not be read or written */
  EMU_ENOTSUP = -8, /* a valid request this build does not handle */
  EMU_EFORMAT = -9, /* malformed input (file, frame) */
  EMU_ESTATE = -10, /* the call is not valid in the object's current state */
};

/* A short name for an error code ("EMU_ERANGE"); never NULL. */
const char *emu_errname(int err);
/* A one-line explanation of an error code; never NULL. */
const char *emu_strerror(int err);

#endif
