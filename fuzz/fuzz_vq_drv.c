/* libFuzzer target: the driver half of a split virtqueue reading a used ring
 * written by an arbitrary device. Every element the device got wrong must be
 * refused with a rule, never freed twice or trusted; the driver's own
 * accounting (free descriptors + in flight) must stay whole.
 *
 * Input: byte 0 picks the queue size (2..64), byte 1 how many buffers to
 * offer first; then (used.idx, id, len) triples to write as the device. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "virtio/vq_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint16_t qsize = (uint16_t)(2u << (data[0] % 6));
  int indirect = (data[0] >> 3) & 1;
  unsigned offer = data[1] % (qsize + 1u);
  data += 2;
  size -= 2;
  gmem mem;
  if (gmem_init(&mem, GMEM_DEFAULT_BASE, 1u << 16)) abort();
  vq_drv q;
  if (vq_drv_init(&q, &mem, qsize, 1, indirect, 2)) abort();
  uint64_t bufs;
  if (gmem_alloc(&mem, 64u * qsize, 8, &bufs)) abort();
  for (unsigned i = 0; i < offer; i++) {
    vq_sg sg[2] = {{bufs + 64u * i, 16}, {bufs + 64u * i + 16, 48}};
    if (vq_drv_add(&q, sg, 1, 1, (void *)(uintptr_t)(i + 1)) < 0) break;
  }
  vq_drv_publish(&q);
  const vq_layout *l = &q.layout;
  for (; size >= 10; data += 10, size -= 10) {
    uint16_t slot = (uint16_t)(data[0] | data[1] << 8);
    gmem_write(&mem, vq_used_slot_addr(l, slot), data + 2, 8);
    gmem_write(&mem, vq_used_idx_addr(l), data, 2);
    vq_used_elem e;
    for (int guard = 0; guard < 2 * qsize; guard++) {
      int rc = vq_drv_get_used(&q, &e);
      if (rc == EMU_EAGAIN) break;
      if (rc == EMU_EPROTO && q.last_violation == VQ_RULE_NONE) abort();
      if (rc == EMU_EPROTO && q.last_violation == VQ_RULE_USED_IDX_JUMP) break;
    }
    /* The driver's own books must still balance: free descriptors plus
     * those held by heads in flight make the whole table. */
    uint32_t held = 0, heads = 0;
    for (uint32_t h = 0; h < qsize; h++)
      if (q.heads[h].in_flight) {
        held += q.heads[h].ndesc;
        heads++;
      }
    if (held + q.num_free != qsize || heads != q.in_flight) abort();
  }
  vq_drv_close(&q);
  gmem_close(&mem);
  return 0;
}
