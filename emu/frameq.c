#include "emu/frameq.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"

int emu_frameq_init(emu_frameq *q, uint32_t cap) {
  memset(q, 0, sizeof *q);
  if (!cap) return 0;
  q->slots = calloc(cap, sizeof *q->slots);
  if (!q->slots) return EMU_ENOMEM;
  q->cap = cap;
  return 0;
}

void emu_frameq_close(emu_frameq *q) {
  while (q->len) emu_frameq_pop(q);
  free(q->slots);
  memset(q, 0, sizeof *q);
}

int emu_frameq_push(emu_frameq *q, int64_t id, const uint8_t *data, uint32_t len) {
  if (q->len == q->cap) return EMU_ENOSPC;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return EMU_ENOMEM;
  memcpy(copy, data, len);
  q->slots[(q->first + q->len++) % q->cap] = (emu_frame){id, len, copy};
  return 0;
}

void emu_frameq_pop(emu_frameq *q) {
  free(q->slots[q->first].data);
  q->first = (q->first + 1) % q->cap;
  q->len--;
}
