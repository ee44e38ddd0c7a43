/* libvnetsim: a simulated virtio-net device and guest driver in one process,
 * for deterministic tests of ring logic without a VM.
 *
 *   #include <vnetsim/vnetsim.h>     cc t.c $(pkg-config --cflags --libs vnetsim)
 *
 * Modules (each header documents its own functions):
 *   vnetsim/common.h   errors, conventions, VNS_API
 *   vnetsim/version.h  VNS_VERSION_* and vns_version()
 *   vnetsim/virtio.h   spec constants and ring addresses
 *   vnetsim/sim.h      the simulation: options, frames, runs, fates, counters
 *   vnetsim/memory.h   guest memory
 *   vnetsim/driver.h   bring your own driver: transport, driver-half rings
 *   vnetsim/device.h   bring your own device: device-half rings
 *   vnetsim/trace.h    the run's trace and its hash */
#ifndef VNETSIM_PUBLIC_VNETSIM_H
#define VNETSIM_PUBLIC_VNETSIM_H

#include "vnetsim/common.h"
#include "vnetsim/device.h"
#include "vnetsim/driver.h"
#include "vnetsim/memory.h"
#include "vnetsim/sim.h"
#include "vnetsim/trace.h"
#include "vnetsim/version.h"
#include "vnetsim/virtio.h"

#endif
