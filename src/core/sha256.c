#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Compress one 64-byte block into the state. */
static void compress(uint32_t state[8], const uint8_t block[64]) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
               (uint32_t)block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + K[i] + w[i];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

void yq_sha256_init(yq_sha256_ctx *ctx) {
    /* First 32 bits of the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, H0, sizeof H0);
    ctx->total_bytes = 0;
    ctx->nblock = 0;
}

void yq_sha256_update(yq_sha256_ctx *ctx, const void *data, size_t len) {
    const uint8_t *p = data;
    ctx->total_bytes += len;
    if (ctx->nblock) {
        size_t take = 64 - ctx->nblock < len ? 64 - ctx->nblock : len;
        memcpy(ctx->block + ctx->nblock, p, take);
        ctx->nblock += take;
        p += take;
        len -= take;
        if (ctx->nblock < 64) return;
        compress(ctx->state, ctx->block);
        ctx->nblock = 0;
    }
    for (; len >= 64; p += 64, len -= 64) compress(ctx->state, p);
    memcpy(ctx->block, p, len);
    ctx->nblock = len;
}

void yq_sha256_final(yq_sha256_ctx *ctx, uint8_t digest[YQ_SHA256_DIGEST_BYTES]) {
    uint64_t bits = ctx->total_bytes * 8;
    /* 0x80, zeros up to 56 mod 64, then the bit length big-endian */
    ctx->block[ctx->nblock++] = 0x80;
    if (ctx->nblock > 56) {
        memset(ctx->block + ctx->nblock, 0, 64 - ctx->nblock);
        compress(ctx->state, ctx->block);
        ctx->nblock = 0;
    }
    memset(ctx->block + ctx->nblock, 0, 56 - ctx->nblock);
    for (int i = 0; i < 8; i++) ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(ctx->state, ctx->block);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->state[i];
    }
    ctx->nblock = 0;
}

void yq_sha256(const void *data, size_t len, uint8_t digest[YQ_SHA256_DIGEST_BYTES]) {
    yq_sha256_ctx ctx;
    yq_sha256_init(&ctx);
    yq_sha256_update(&ctx, data, len);
    yq_sha256_final(&ctx, digest);
}

void yq_sha256_hex(const uint8_t digest[YQ_SHA256_DIGEST_BYTES], char hex[YQ_SHA256_HEX_BYTES]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < YQ_SHA256_DIGEST_BYTES; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * YQ_SHA256_DIGEST_BYTES] = 0;
}

yq_status yq_sha256_file(const char *path, char hex[YQ_SHA256_HEX_BYTES]) {
    hex[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return yq_fail(YQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return yq_fail(YQ_ERR_IO, "%s: not a regular file", path);
    }
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = yq_malloc(CHUNK);
    if (!buf) {
        fclose(fp);
        return YQ_ERR_NOMEM;
    }
    yq_sha256_ctx ctx;
    yq_sha256_init(&ctx);
    size_t got;
    while ((got = fread(buf, 1, CHUNK, fp)) > 0) yq_sha256_update(&ctx, buf, got);
    int read_error = ferror(fp);
    fclose(fp);
    free(buf);
    if (read_error) return yq_fail(YQ_ERR_IO, "%s: read failed", path);
    uint8_t digest[YQ_SHA256_DIGEST_BYTES];
    yq_sha256_final(&ctx, digest);
    yq_sha256_hex(digest, hex);
    return YQ_OK;
}
