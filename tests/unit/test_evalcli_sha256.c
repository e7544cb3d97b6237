/* SHA-256 against the FIPS 180-4 example vectors and digests computed by
 * coreutils' sha256sum (lengths around the 55/56/64-byte padding edges, a
 * multi-megabyte buffer), streamed in every chunking and read from a file. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"

static void expect_hex(const void *data, size_t len, const char *want) {
    uint8_t d[YQ_SHA256_DIGEST_BYTES];
    char hex[YQ_SHA256_HEX_BYTES];
    yq_sha256(data, len, d);
    yq_sha256_hex(d, hex);
    if (strcmp(hex, want)) fail_msg("sha256 of %zu bytes: got %s, want %s", len, hex, want);
}

static void test_fips_vectors(void **state) {
    (void)state;
    expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_hex(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu";
    expect_hex(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    expect_hex(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* Bytes '0' + i % 43, i < n; digests from sha256sum. Covers the lengths where
 * the padding spills into a second block (56..63) or starts a fresh one (64). */
static void test_padding_edges(void **state) {
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "5115528ed8d30114d2c26627c045ccc1ed16e95d21a1118df62b39c601cfeb58"},
        {56, "436d4d7a61515716fae1cc93feaf7c658a619a10a96a36fe148693a9d241f317"},
        {63, "439a1bc75f8d2f18917893df1a66be79196e3e17ce07961b1b56c67a7e436918"},
        {64, "5d730a4aedc643aa5f0ddb472d76f5fea8960e273329a3e0b0564c45aa7217f5"},
        {65, "77af5c6d978131f977161f05717a6a09af3bb73a0e479c8a268e5400f03f8e09"},
        {119, "b8db8213013d5455a65a27a5860b8668e7808d71b1c69627032906cd8f0f95d8"},
        {120, "aa9b3be984cd3cd4b96fa1c9da29b7b647c6bf6161fb31a594a1b65f1945cdee"},
        {128, "c5635a88feef14c30640680e78688f2fe3e7fcd059b165bb593560db8b73f53e"},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)('0' + i % 43);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) expect_hex(buf, cases[c].n, cases[c].hex);
}

/* bytes i * 7 mod 256, i < 3,000,000; digest from sha256sum */
#define BIG_N 3000000
#define BIG_HEX "0a5d49e5dd9cc7aa647824dc6f29fbbbffe477e210f5668eed4420c51c381521"

static uint8_t *big_buffer(void) {
    uint8_t *b = malloc(BIG_N);
    assert_non_null(b);
    for (size_t i = 0; i < BIG_N; i++) b[i] = (uint8_t)(i * 7 % 256);
    return b;
}

/* Streaming in chunks of every size from 1 to 200 bytes (and uneven mixes)
 * must give the one-shot digest. */
static void test_streaming_chunks(void **state) {
    (void)state;
    uint8_t *b = big_buffer();
    expect_hex(b, BIG_N, BIG_HEX);
    const size_t n = 10007; /* a prefix, so that 200 passes stay fast */
    uint8_t want[YQ_SHA256_DIGEST_BYTES];
    yq_sha256(b, n, want);
    for (size_t chunk = 1; chunk <= 200; chunk++) {
        yq_sha256_ctx ctx;
        yq_sha256_init(&ctx);
        size_t off = 0, k = 0;
        while (off < n) {
            size_t take = chunk + (k++ % 3) * 61; /* vary the chunk so the block fill level wanders */
            if (take > n - off) take = n - off;
            yq_sha256_update(&ctx, b + off, take);
            off += take;
        }
        uint8_t got[YQ_SHA256_DIGEST_BYTES];
        yq_sha256_final(&ctx, got);
        if (memcmp(got, want, sizeof want)) fail_msg("chunked update (chunk %zu) differs from one-shot", chunk);
    }
    free(b);
}

static void test_file(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/big.bin", yqt_tmpdir());
    uint8_t *b = big_buffer();
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, BIG_N, fp), BIG_N);
    fclose(fp);
    free(b);
    char hex[YQ_SHA256_HEX_BYTES];
    assert_int_equal(yq_sha256_file(path, hex), YQ_OK);
    assert_string_equal(hex, BIG_HEX);

    snprintf(path, sizeof path, "%s/missing.bin", yqt_tmpdir());
    assert_int_equal(yq_sha256_file(path, hex), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), path));
    assert_int_equal(yq_sha256_file(yqt_tmpdir(), hex), YQ_ERR_IO); /* a folder */
    assert_non_null(strstr(yq_last_error(), "not a regular file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_padding_edges),
        cmocka_unit_test(test_streaming_chunks),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
