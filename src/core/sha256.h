/* SHA-256 (FIPS 180-4), for fingerprinting models and data in reports: a
 * metrics file names the exact model bytes it was measured on. */
#ifndef YQ_CORE_SHA256_H
#define YQ_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define YQ_SHA256_DIGEST_BYTES 32
#define YQ_SHA256_HEX_BYTES 65 /* 64 lowercase hex digits + NUL */

typedef struct yq_sha256_ctx {
    uint32_t state[8];
    uint64_t total_bytes; /* message length so far */
    uint8_t block[64];    /* bytes not yet compressed */
    size_t nblock;
} yq_sha256_ctx;

void yq_sha256_init(yq_sha256_ctx *ctx);
void yq_sha256_update(yq_sha256_ctx *ctx, const void *data, size_t len);
/* Pad, finish and write the digest; ctx must be re-initialised before reuse. */
void yq_sha256_final(yq_sha256_ctx *ctx, uint8_t digest[YQ_SHA256_DIGEST_BYTES]);

/* One-shot digest of a buffer. */
void yq_sha256(const void *data, size_t len, uint8_t digest[YQ_SHA256_DIGEST_BYTES]);
/* Lowercase hex of a digest. */
void yq_sha256_hex(const uint8_t digest[YQ_SHA256_DIGEST_BYTES], char hex[YQ_SHA256_HEX_BYTES]);
/* Hex digest of a whole file, read in chunks. Errors name the file. */
yq_status yq_sha256_file(const char *path, char hex[YQ_SHA256_HEX_BYTES]);

#endif
