/* SHA-256 as FIPS 180-4 §6.2 computes it; see sha256.h. */
#include "emu/sha256.h"

#include <string.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t emu_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t emu_sha256_rotr(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

static uint32_t emu_sha256_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* FIPS 180-4 §6.2.2: the message schedule and the 64 rounds of one block. */
static void emu_sha256_block(emu_sha256 *c, const uint8_t *blk) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) w[t] = emu_sha256_be32(blk + 4 * t);
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = emu_sha256_rotr(w[t - 15], 7) ^ emu_sha256_rotr(w[t - 15], 18) ^ w[t - 15] >> 3;
    uint32_t s1 = emu_sha256_rotr(w[t - 2], 17) ^ emu_sha256_rotr(w[t - 2], 19) ^ w[t - 2] >> 10;
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t v[8];
  memcpy(v, c->h, sizeof v);
  for (int t = 0; t < 64; t++) {
    uint32_t e = v[4], a = v[0];
    uint32_t t1 = v[7] + (emu_sha256_rotr(e, 6) ^ emu_sha256_rotr(e, 11) ^ emu_sha256_rotr(e, 25)) +
                  ((e & v[5]) ^ (~e & v[6])) + emu_sha256_k[t] + w[t];
    uint32_t t2 = (emu_sha256_rotr(a, 2) ^ emu_sha256_rotr(a, 13) ^ emu_sha256_rotr(a, 22)) +
                  ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof v[0]);
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++) c->h[i] += v[i];
}

void emu_sha256_init(emu_sha256 *c) {
  /* FIPS 180-4 §5.3.3: the initial hash value */
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memset(c, 0, sizeof *c);
  memcpy(c->h, h0, sizeof h0);
}

void emu_sha256_update(emu_sha256 *c, const void *data, size_t len) {
  const uint8_t *p = data;
  c->total_len += len;
  while (len) {
    size_t k = EMU_SHA256_BLOCK_LEN - c->nbuf;
    if (k > len) k = len;
    memcpy(c->buf + c->nbuf, p, k);
    c->nbuf += k;
    p += k;
    len -= k;
    if (c->nbuf == EMU_SHA256_BLOCK_LEN) {
      emu_sha256_block(c, c->buf);
      c->nbuf = 0;
    }
  }
}

void emu_sha256_final(emu_sha256 *c, uint8_t out[EMU_SHA256_LEN]) {
  /* FIPS 180-4 §5.1.1: a 1 bit, zeros, then the length in bits as 64 bits */
  uint64_t bits = c->total_len * 8;
  static const uint8_t one = 0x80, zero = 0;
  emu_sha256_update(c, &one, 1);
  while (c->nbuf != EMU_SHA256_BLOCK_LEN - 8) emu_sha256_update(c, &zero, 1);
  uint8_t len_be[8];
  for (int i = 0; i < 8; i++) len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
  emu_sha256_update(c, len_be, sizeof len_be);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(c->h[i] >> (24 - 8 * j));
}

void emu_sha256_hex(const uint8_t digest[EMU_SHA256_LEN], char out[EMU_SHA256_HEX_LEN]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < EMU_SHA256_LEN; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[2 * EMU_SHA256_LEN] = '\0';
}
