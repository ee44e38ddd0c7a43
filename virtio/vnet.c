#include "virtio/vnet.h"

const char *vnet_queue_name(uint16_t q) {
  return q == VNET_RXQ ? "rx" : q == VNET_TXQ ? "tx" : q == VNET_IRQ_CONFIG ? "config" : "q?";
}
