#include "emu/fate.h"

#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "emu/grow.h"

#define EMU_FATES_NO_FRAME UINT32_MAX

static const char *const emu_fate_names[EMU_FATE_COUNT] = {
    [EMU_FATE_PENDING] = "pending",
    [EMU_FATE_DELIVERED] = "delivered",
    [EMU_FATE_ANSWERED] = "answered",
    [EMU_FATE_RX_NO_BUFFER] = "rx_no_buffer",
    [EMU_FATE_RX_BUFFER_TOO_SMALL] = "rx_buffer_too_small",
    [EMU_FATE_DEVICE_NOT_READY] = "device_not_ready",
    [EMU_FATE_DEVICE_BROKEN] = "device_broken",
    [EMU_FATE_LINK_DOWN] = "link_down",
    [EMU_FATE_FRAME_INVALID] = "frame_invalid",
    [EMU_FATE_DRIVER_SKIPPED] = "driver_skipped",
    [EMU_FATE_RX_NOT_CONSUMED] = "rx_not_consumed",
    [EMU_FATE_DRIVER_REJECTED] = "driver_rejected",
    [EMU_FATE_NOT_FOR_GUEST] = "not_for_guest",
    [EMU_FATE_MALFORMED] = "malformed",
    [EMU_FATE_BAD_CHECKSUM] = "bad_checksum",
    [EMU_FATE_UNSUPPORTED] = "unsupported",
    [EMU_FATE_NO_LISTENER] = "no_listener",
    [EMU_FATE_REJECTED] = "rejected",
    [EMU_FATE_SOCKET_FULL] = "socket_full",
    [EMU_FATE_FAULT_DROP] = "fault_drop",
    [EMU_FATE_FAULT_RATE_LIMIT] = "fault_rate_limit",
    [EMU_FATE_FAULT_MTU] = "fault_mtu",
    [EMU_FATE_FAULT_DUPLICATE] = "fault_duplicate",
    [EMU_FATE_FAULT_REORDER] = "fault_reorder",
    [EMU_FATE_FAULT_CORRUPT] = "fault_corrupt",
    [EMU_FATE_FAULT_DELAY] = "fault_delay",
    [EMU_FATE_BAD_TIMESTAMP] = "bad_timestamp",
    [EMU_FATE_LINK_UNSUPPORTED] = "link_unsupported",
    [EMU_FATE_REPLY_UNRESOLVED] = "reply_unresolved",
    [EMU_FATE_SENT] = "sent",
    [EMU_FATE_TX_RING_FULL] = "tx_ring_full",
    [EMU_FATE_TX_NOT_KICKED] = "tx_not_kicked",
    [EMU_FATE_TX_NOT_TAKEN] = "tx_not_taken",
    [EMU_FATE_TX_CHAIN_REJECTED] = "tx_chain_rejected",
    [EMU_FATE_NO_MEMORY] = "no_memory",
    [EMU_FATE_TX_NOT_RECLAIMED] = "tx_not_reclaimed",
    [EMU_FATE_COMPARED] = "compared",
    [EMU_FATE_CONVERSATION_STOPPED] = "conversation_stopped",
    [EMU_FATE_REASSEMBLY_TIMEOUT] = "reassembly_timeout",
};

const char *emu_fate_name(emu_fate fate) {
  if ((unsigned)fate >= EMU_FATE_COUNT) return "invalid_fate";
  return emu_fate_names[fate];
}

int emu_fate_is_success(emu_fate fate) {
  return fate == EMU_FATE_DELIVERED || fate == EMU_FATE_ANSWERED || fate == EMU_FATE_SENT;
}

unsigned emu_fate_directions(emu_fate fate) {
  switch (fate) {
    case EMU_FATE_PENDING:
    case EMU_FATE_DEVICE_NOT_READY:
    case EMU_FATE_DEVICE_BROKEN:
    case EMU_FATE_LINK_DOWN:
    case EMU_FATE_FRAME_INVALID:
    case EMU_FATE_FAULT_DROP:
    case EMU_FATE_FAULT_RATE_LIMIT:
    case EMU_FATE_FAULT_MTU:
    case EMU_FATE_FAULT_DUPLICATE:
    case EMU_FATE_FAULT_REORDER:
    case EMU_FATE_FAULT_CORRUPT:
    case EMU_FATE_FAULT_DELAY:
    case EMU_FATE_NO_MEMORY:
      return EMU_FATE_TO_GUEST | EMU_FATE_TO_HOST;
    case EMU_FATE_SENT:
    case EMU_FATE_TX_RING_FULL:
    case EMU_FATE_TX_NOT_KICKED:
    case EMU_FATE_TX_NOT_TAKEN:
    case EMU_FATE_TX_CHAIN_REJECTED:
    case EMU_FATE_TX_NOT_RECLAIMED:
      return EMU_FATE_TO_HOST;
    default:
      return (unsigned)fate < EMU_FATE_COUNT ? EMU_FATE_TO_GUEST : 0;
  }
}

int emu_fates_init(emu_fates *f, uint32_t queue_size) {
  memset(f, 0, sizeof *f);
  if (queue_size == 0) return EMU_EINVAL;
  f->queue = "rx";
  f->overtaken = EMU_FATE_DRIVER_SKIPPED;
  f->left_over = EMU_FATE_RX_NOT_CONSUMED;
  f->slot_frame = malloc(sizeof *f->slot_frame * queue_size);
  f->order = malloc(sizeof *f->order * queue_size);
  if (!f->slot_frame || !f->order) {
    emu_fates_close(f);
    return EMU_ENOMEM;
  }
  f->nslots = queue_size;
  for (uint32_t i = 0; i < queue_size; i++) f->slot_frame[i] = EMU_FATES_NO_FRAME;
  return 0;
}

void emu_fates_trace(emu_fates *f, emu_trace *t, const char *queue) {
  f->trace = t;
  f->queue = queue;
}

void emu_fates_close(emu_fates *f) {
  free(f->frames);
  free(f->slot_frame);
  free(f->order);
  memset(f, 0, sizeof *f);
}

static emu_fate_rec *emu_fates_at(const emu_fates *f, uint64_t id) {
  return id >= f->base && id < f->nframes ? &f->frames[f->head + (id - f->base)] : NULL;
}

const emu_fate_rec *emu_fates_get(const emu_fates *f, uint64_t id) { return emu_fates_at(f, id); }

void emu_fates_window(emu_fates *f, emu_fates_retire_fn retire, void *ctx) {
  f->retire = retire;
  f->retire_ctx = ctx;
}

static void emu_fates_forget_done(emu_fates *f) {
  while (f->base < f->nframes && f->frames[f->head].fate != EMU_FATE_PENDING) {
    f->retire(f->retire_ctx, (uint32_t)f->base, &f->frames[f->head]);
    f->base++;
    f->head++;
  }
  emu_grow_compact(f->frames, sizeof *f->frames, &f->head, f->nframes - f->base);
}

int64_t emu_fates_enter(emu_fates *f, uint64_t now_ns) {
  /* ledger ids are 32-bit */
  if (f->nframes >= UINT32_MAX - 1) return EMU_ENOSPC;
  size_t at = f->head + (f->nframes - f->base);
  emu_fate_rec *frames = emu_grow(f->frames, &f->cap, at + 1, sizeof *frames, 256);
  if (!frames) return EMU_ENOMEM;
  f->frames = frames;
  f->frames[at] = (emu_fate_rec){EMU_FATE_PENDING, EMU_FATE_PENDING, now_ns, 0};
  return (int64_t)f->nframes++;
}

void emu_fates_note_fault(emu_fates *f, uint32_t id, emu_fate fault) {
  emu_fate_rec *r = emu_fates_at(f, id);
  if (r && r->fault == EMU_FATE_PENDING) r->fault = fault;
}

int emu_fates_set(emu_fates *f, uint32_t id, emu_fate fate, uint64_t now_ns, const char *actor,
                  int64_t head) {
  if (id >= f->nframes || fate == EMU_FATE_PENDING || (unsigned)fate >= EMU_FATE_COUNT)
    return EMU_EINVAL;
  emu_fate_rec *r = emu_fates_at(f, id);
  if (!r || r->fate != EMU_FATE_PENDING) { /* a forgotten frame had its fate */
    f->double_fates++;
    return EMU_ESTATE;
  }
  r->fate = fate;
  r->fated_ns = now_ns;
  f->counts[fate]++;
  EMU_TRACE_EMIT(f->trace, .actor = actor, .kind = EMU_TR_FRAME_FATE, .queue = f->queue,
                 .head = head, .frame = id, .detail = emu_fate_name(fate));
  if (f->retire && id == f->base) emu_fates_forget_done(f);
  return 0;
}

void emu_fates_in_buffer(emu_fates *f, uint32_t head, uint32_t id, uint64_t now_ns,
                         const char *actor) {
  if (head >= f->nslots) return;
  if (f->slot_frame[head] != EMU_FATES_NO_FRAME) {
    /* The buffer was reused before the other side read it: the old frame is gone. */
    emu_fates_set(f, f->slot_frame[head], f->overtaken, now_ns, actor, head);
  }
  f->slot_frame[head] = id;
  /* Each tracked head appears at most once in order[] while it holds a frame,
   * so nslots entries always suffice; a stale entry is dropped when passed. */
  if (f->order_len == f->nslots) {
    f->order_first = (f->order_first + 1) % f->nslots;
    f->order_len--;
  }
  f->order[(f->order_first + f->order_len++) % f->nslots] = head;
}

int64_t emu_fates_take_buffer(emu_fates *f, uint32_t head, uint64_t now_ns, const char *actor) {
  if (head >= f->nslots || f->slot_frame[head] == EMU_FATES_NO_FRAME) return -1;
  while (f->order_len > 0) {
    uint32_t older = f->order[f->order_first];
    f->order_first = (f->order_first + 1) % f->nslots;
    f->order_len--;
    if (older == head) break;
    if (f->slot_frame[older] != EMU_FATES_NO_FRAME) {
      emu_fates_set(f, f->slot_frame[older], f->overtaken, now_ns, actor, older);
      f->slot_frame[older] = EMU_FATES_NO_FRAME;
    }
  }
  uint32_t id = f->slot_frame[head];
  f->slot_frame[head] = EMU_FATES_NO_FRAME;
  return id;
}

int emu_fates_holds(const emu_fates *f, uint32_t head) {
  return head < f->nslots && f->slot_frame[head] != EMU_FATES_NO_FRAME;
}

void emu_fates_finish_each(emu_fates *f, uint64_t now_ns, emu_fates_left_fn pick, void *ctx) {
  for (uint32_t head = 0; head < f->nslots; head++) {
    uint32_t id = f->slot_frame[head];
    if (id == EMU_FATES_NO_FRAME) continue;
    emu_fate fate = pick ? pick(ctx, emu_fates_at(f, id)) : f->left_over;
    emu_fates_set(f, id, fate, now_ns, "end", head);
    f->slot_frame[head] = EMU_FATES_NO_FRAME;
  }
  f->order_len = 0;
}

void emu_fates_finish(emu_fates *f, uint64_t now_ns) {
  emu_fates_finish_each(f, now_ns, NULL, NULL);
}

uint64_t emu_fates_total(const emu_fates *f) {
  uint64_t total = 0;
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++) total += f->counts[i];
  return total;
}
