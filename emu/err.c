#include "emu/err.h"

#include <stddef.h>

static const struct {
  int code;
  const char *name;
  const char *text;
} emu_err_table[] = {
    {EMU_OK, "EMU_OK", "success"},
    {EMU_EINVAL, "EMU_EINVAL", "invalid argument"},
    {EMU_ENOMEM, "EMU_ENOMEM", "out of host memory"},
    {EMU_ERANGE, "EMU_ERANGE", "guest address out of range"},
    {EMU_EAGAIN, "EMU_EAGAIN", "nothing available now"},
    {EMU_ENOSPC, "EMU_ENOSPC", "no space left"},
    {EMU_EPROTO, "EMU_EPROTO", "virtio protocol violation"},
    {EMU_EIO, "EMU_EIO", "input/output error"},
    {EMU_ENOTSUP, "EMU_ENOTSUP", "not supported"},
    {EMU_EFORMAT, "EMU_EFORMAT", "malformed input"},
    {EMU_ESTATE, "EMU_ESTATE", "invalid in the current state"},
};

static size_t emu_err_find(int err) {
  for (size_t i = 0; i < sizeof emu_err_table / sizeof emu_err_table[0]; i++)
    if (emu_err_table[i].code == err) return i;
  return (size_t)-1;
}

const char *emu_errname(int err) {
  size_t i = emu_err_find(err);
  return i == (size_t)-1 ? "EMU_E?" : emu_err_table[i].name;
}

const char *emu_strerror(int err) {
  size_t i = emu_err_find(err);
  return i == (size_t)-1 ? "unknown error" : emu_err_table[i].text;
}
