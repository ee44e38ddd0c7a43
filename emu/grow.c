#include "emu/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *emu_grow(void *items, size_t *cap, size_t need, size_t size, size_t first) {
  if (need <= *cap) return items;
  size_t grown = *cap ? *cap : (first ? first : 1);
  while (grown < need) {
    if (grown > SIZE_MAX / 2) return NULL;
    grown *= 2;
  }
  if (size && grown > SIZE_MAX / size) return NULL;
  void *p = realloc(items, grown * size);
  if (!p) return NULL;
  *cap = grown;
  return p;
}

void emu_grow_compact(void *items, size_t size, size_t *at, size_t held) {
  if (*at < EMU_GROW_COMPACT_MIN || *at < held) return;
  memmove(items, (char *)items + *at * size, held * size);
  *at = 0;
}
