/* Growing arrays: the one doubling realloc.
 *
 * Every growing array in vnetsim (the fate ledger, an actor's inbox, the
 * trace store, ...) grows the same way: doubling from a first capacity, with
 * the multiplication checked, and nothing changed when the allocation fails.
 * The element count stays the caller's; this only makes room. */
#ifndef VNETSIM_EMU_GROW_H
#define VNETSIM_EMU_GROW_H

#include <stddef.h>

/* Makes room for at least `need` elements of `size` bytes in `items`, whose
 * capacity is *cap: doubles *cap (from `first` when it is 0) until it holds
 * `need`. Returns the array to use from now on (items itself when it was
 * already large enough), or NULL when the allocation failed or the size
 * overflows; then items and *cap are untouched and still valid. */
void *emu_grow(void *items, size_t *cap, size_t need, size_t size, size_t first);

/* An array consumed from the front (a window: the fate ledger's, a list
 * of ids) holds its elements at items[*at .. *at + held). Once the
 * consumed front is as long as what is held (and at least
 * EMU_GROW_COMPACT_MIN elements), the held ones move down to items[0] and
 * *at becomes 0: each element moves at most once on average, and the
 * array stays within twice what is held. */
#define EMU_GROW_COMPACT_MIN 1024u
void emu_grow_compact(void *items, size_t size, size_t *at, size_t held);

#endif
