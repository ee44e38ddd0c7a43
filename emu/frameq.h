/* A bounded FIFO of frames waiting with their ledger ids, each a copy the
 * queue owns: the device's RX backlog (frames waiting for a buffer) and the
 * driver's TX hold (frames waiting for room in the ring). */
#ifndef VNETSIM_EMU_FRAMEQ_H
#define VNETSIM_EMU_FRAMEQ_H

#include <stdint.h>

typedef struct emu_frame {
  int64_t id; /* ledger id, or -1 */
  uint32_t len;
  uint8_t *data;
} emu_frame;

typedef struct emu_frameq {
  emu_frame *slots;
  uint32_t cap, first, len;
} emu_frameq;

/* Room for cap frames (0: a queue that takes none). EMU_ENOMEM. */
int emu_frameq_init(emu_frameq *q, uint32_t cap);
/* Frees the queue and every frame still in it. */
void emu_frameq_close(emu_frameq *q);
/* Appends a copy of data. EMU_ENOSPC when full, EMU_ENOMEM. */
int emu_frameq_push(emu_frameq *q, int64_t id, const uint8_t *data, uint32_t len);
/* The oldest frame; the queue must not be empty. */
static inline const emu_frame *emu_frameq_front(const emu_frameq *q) { return &q->slots[q->first]; }
/* Forgets the oldest frame (the queue must not be empty). */
void emu_frameq_pop(emu_frameq *q);

#endif
