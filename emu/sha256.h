/* SHA-256 (FIPS 180-4), streaming: a body the guest fetched is reported by
 * the digest a person can check with sha256sum. Pure computation, libc only. */
#ifndef VNETSIM_EMU_SHA256_H
#define VNETSIM_EMU_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define EMU_SHA256_LEN       32
#define EMU_SHA256_BLOCK_LEN 64
/* Hex digits of a digest plus the NUL. */
#define EMU_SHA256_HEX_LEN (2 * EMU_SHA256_LEN + 1)

typedef struct emu_sha256 {
  uint32_t h[8];
  uint64_t total_len; /* bytes fed so far */
  size_t nbuf;        /* bytes waiting in buf for a whole block */
  uint8_t buf[EMU_SHA256_BLOCK_LEN];
} emu_sha256;

void emu_sha256_init(emu_sha256 *c);
void emu_sha256_update(emu_sha256 *c, const void *data, size_t len);
/* Pads, writes the digest to out and leaves c spent (init it again to reuse). */
void emu_sha256_final(emu_sha256 *c, uint8_t out[EMU_SHA256_LEN]);
/* The digest as lower-case hex, NUL-terminated. */
void emu_sha256_hex(const uint8_t digest[EMU_SHA256_LEN], char out[EMU_SHA256_HEX_LEN]);

#endif
