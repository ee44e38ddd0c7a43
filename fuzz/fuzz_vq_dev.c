/* libFuzzer target: the device half of a split virtqueue fed arbitrary
 * driver-written memory. Whatever the bytes say, the device must pop,
 * validate, copy and push without reading or writing outside guest memory
 * (ASan checks the host side; gmem's bounds checks the guest side) and must
 * name a rule whenever it refuses a chain.
 *
 * Input: byte 0 picks the queue size (2..256) and features, byte 1 how many
 * pops to try; the rest is laid over the descriptor table, the available
 * ring and the buffers that follow, in guest memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/gmem.h"
#include "virtio/vq_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint16_t qsize = (uint16_t)(2u << (data[0] % 8)); /* 2..256 */
  int event_idx = (data[0] >> 3) & 1, indirect = (data[0] >> 4) & 1;
  unsigned pops = data[1];
  data += 2;
  size -= 2;

  gmem mem;
  if (gmem_init(&mem, GMEM_DEFAULT_BASE, 1u << 16)) abort();
  vq_layout l = {qsize, 0, 0, 0};
  if (gmem_alloc(&mem, vq_desc_table_bytes(qsize), VQ_DESC_ALIGN, &l.desc) ||
      gmem_alloc(&mem, vq_avail_bytes(qsize), VQ_AVAIL_ALIGN, &l.avail) ||
      gmem_alloc(&mem, vq_used_bytes(qsize), VQ_USED_ALIGN, &l.used))
    abort();
  /* Everything the driver controls: descriptors, avail ring, then buffers. */
  size_t desc_avail = (size_t)(l.used - l.desc);
  size_t first = size < desc_avail ? size : desc_avail;
  gmem_write(&mem, l.desc, data, first);
  uint64_t rest_at = l.used + vq_used_bytes(qsize);
  size_t rest = size - first;
  if (rest > mem.base + mem.size - rest_at) rest = (size_t)(mem.base + mem.size - rest_at);
  gmem_write(&mem, rest_at, data + first, rest);

  vq_dev q;
  if (vq_dev_init(&q, &mem, &l, event_idx, indirect)) abort();
  uint8_t buf[4096];
  for (unsigned i = 0; i < pops; i++) {
    vq_chain c;
    int rc = vq_dev_pop(&q, &c);
    if (rc == EMU_EAGAIN) break;
    if (rc == EMU_EPROTO) {
      if (q.broken == VQ_RULE_NONE) abort(); /* a refusal must name its rule */
      break;
    }
    if (rc) break;
    if (c.nseg == 0 || c.nseg > qsize) abort();
    size_t n = c.readable_len < sizeof buf ? (size_t)c.readable_len : sizeof buf;
    if (vq_chain_read(&q, &c, 0, buf, n)) abort();
    n = c.writable_len < sizeof buf ? (size_t)c.writable_len : sizeof buf;
    if (vq_chain_write(&q, &c, 0, buf, n)) abort();
    vq_dev_push(&q, c.head, (uint32_t)n);
    vq_dev_publish_used(&q);
    vq_dev_need_interrupt(&q);
    vq_dev_enable_notify(&q);
  }
  vq_dev_close(&q);
  gmem_close(&mem);
  return 0;
}
