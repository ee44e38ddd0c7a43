/* libFuzzer target: the guest stack's frame parser, Ethernet up to ICMP
 * (and whatever the stack handles above it), fed arbitrary frames. Every
 * frame must get a fate, and replies must go out through the port intact. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emu/port.h"
#include "stack/iface.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink_send(void *impl, const uint8_t *frame, size_t len, uint64_t now_ns) {
  (void)impl;
  (void)now_ns;
  if (len == 0 || len > 65535) abort();
  volatile uint8_t touch = frame[len - 1]; /* the whole frame is readable */
  (void)touch;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static net_iface ifc;
  emu_port port = {sink_send, NULL, NULL, NULL};
  net_iface_config cfg;
  net_iface_config_slirp_guest(&cfg);
  if (net_iface_init(&ifc, &cfg, &port)) abort();
  /* Split the input into frames at a length prefix, so one input can carry
   * a conversation (an ARP request that teaches, then what depends on it). */
  uint64_t now = 1000;
  while (size >= 2) {
    size_t len = (size_t)(data[0] | data[1] << 8) % 1600;
    data += 2;
    size -= 2;
    if (len > size) len = size;
    emu_fate f = net_iface_input(&ifc, data, len, now);
    if (f == EMU_FATE_PENDING || (unsigned)f >= EMU_FATE_COUNT) abort();
    data += len;
    size -= len;
    now += 1000000;
    net_iface_poll(&ifc, now);
  }
  net_iface_close(&ifc);
  return 0;
}
