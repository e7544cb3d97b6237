/* yq_sgemm (all micro-kernel ISAs the CPU has, 1-3 threads) against the
 * double-accumulating reference, the pre-packed entry point, determinism
 * across thread counts, and the vector SiLU.
 * Tolerance: max|fast - ref| <= 1e-4 * max|ref| + 1e-5 per matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "rt/kernels/gemm.h"
#include "testutil.h"

#define YQT_RNG_SEED 0x1234567887654321ull
#include "kernel_testkit.h"

typedef struct gemm_case {
    int transA, transB, accumulate, act, with_bias;
    int64_t M, N, K, lda, ldb, ldc;
} gemm_case;

static void check_case(const gemm_case *gc, yq_pool *pool) {
    const int64_t M = gc->M, N = gc->N, K = gc->K;
    const int64_t arows = gc->transA ? K : M, brows = gc->transB ? N : K;
    float *A = rnd_array((size_t)(arows * gc->lda)), *B = rnd_array((size_t)(brows * gc->ldb));
    float *C0 = rnd_array((size_t)(M * gc->ldc)), *bias = rnd_array((size_t)M);
    float *C = malloc((size_t)(M * gc->ldc) * sizeof *C), *R = malloc((size_t)(M * gc->ldc) * sizeof *R);
    memcpy(C, C0, (size_t)(M * gc->ldc) * sizeof *C);
    memcpy(R, C0, (size_t)(M * gc->ldc) * sizeof *R);
    yq_epilogue ep = {gc->with_bias ? bias : NULL, gc->act ? YQ_ACT_SILU : YQ_ACT_NONE};
    assert_int_equal(yq_sgemm(pool, gc->transA, gc->transB, M, N, K, A, gc->lda, B, gc->ldb, C, gc->ldc,
                              gc->accumulate, &ep, NULL),
                     YQ_OK);
    yq_sgemm_ref(gc->transA, gc->transB, M, N, K, A, gc->lda, B, gc->ldb, R, gc->ldc, gc->accumulate, &ep);
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < gc->ldc; j++) {
            const float r = R[i * gc->ldc + j], c = C[i * gc->ldc + j];
            if (j >= N) {
                /* Columns beyond N belong to the caller and must be untouched. */
                assert_true(c == C0[i * gc->ldc + j]);
                continue;
            }
            maxref = fmax(maxref, fabs(r));
            maxdiff = fmax(maxdiff, fabs((double)r - c));
        }
    if (!(maxdiff <= 1e-4 * maxref + 1e-5))
        fail_msg("isa %s threads %d M=%lld N=%lld K=%lld tA=%d tB=%d acc=%d act=%d: max diff %g (max ref %g)",
                 yq_gemm_isa_name(yq_gemm_isa_current()), yq_pool_size(pool), (long long)M, (long long)N,
                 (long long)K, gc->transA, gc->transB, gc->accumulate, gc->act, maxdiff, maxref);
    free(A);
    free(B);
    free(C0);
    free(bias);
    free(C);
    free(R);
}

static gemm_case random_case(int64_t maxm, int64_t maxn, int64_t maxk) {
    gemm_case gc = {.transA = rnd_int(0, 1), .transB = rnd_int(0, 1), .accumulate = rnd_int(0, 1),
                    .act = rnd_int(0, 1), .with_bias = rnd_int(0, 1)};
    gc.M = rnd_int(1, (int)maxm);
    gc.N = rnd_int(1, (int)maxn);
    gc.K = rnd_int(1, (int)maxk);
    gc.lda = (gc.transA ? gc.M : gc.K) + rnd_int(0, 3);
    gc.ldb = (gc.transB ? gc.K : gc.N) + rnd_int(0, 3);
    gc.ldc = gc.N + rnd_int(0, 3);
    return gc;
}

static void test_sgemm_random(void **state) {
    (void)state;
    for (int t = 1; t <= 2; t++) {
        yq_pool *pool;
        assert_int_equal(yq_pool_new(t, &pool), YQ_OK);
        for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
            if (!use_isa(all_isas[ii])) continue;
            for (int i = 0; i < 40; i++) {
                gemm_case gc = random_case(40, 90, 80);
                check_case(&gc, pool);
            }
            /* Sizes that cross the cache blocks (KC, NC and the runtime MC of A). */
            gemm_case big1 = {.M = 37, .N = 1100, .K = 300, .lda = 300, .ldb = 1100, .ldc = 1101, .act = 1,
                              .with_bias = 1};
            check_case(&big1, pool);
            gemm_case big2 = {.transA = 1, .transB = 1, .M = 301, .N = 45, .K = 530, .lda = 301, .ldb = 530,
                              .ldc = 45, .accumulate = 1};
            check_case(&big2, pool);
        }
        yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
        yq_pool_free(pool);
    }
}

static void test_sgemm_hand(void **state) {
    (void)state;
    /* [1 2 3; 4 5 6] x [1 0; 0 1; 1 1] = [4 5; 10 11], then + bias [1, -1]. */
    const float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, bias[2] = {1, -1};
    for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
        if (!use_isa(all_isas[ii])) continue;
        float C[4];
        yq_epilogue ep = {bias, YQ_ACT_NONE};
        assert_int_equal(yq_sgemm(NULL, 0, 0, 2, 2, 3, A, 3, B, 2, C, 2, 0, &ep, NULL), YQ_OK);
        assert_true(C[0] == 5 && C[1] == 6 && C[2] == 9 && C[3] == 10);
        /* K = 0: the product is empty; accumulate keeps C, the epilogue still applies. */
        float D[4] = {1, 2, 3, 4};
        assert_int_equal(yq_sgemm(NULL, 0, 0, 2, 2, 0, A, 3, B, 2, D, 2, 1, &ep, NULL), YQ_OK);
        assert_true(D[0] == 2 && D[1] == 3 && D[2] == 2 && D[3] == 3);
    }
    yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
}

static void test_packed_equals_plain(void **state) {
    (void)state;
    const int64_t M = 50, N = 333, K = 270;
    float *A = rnd_array((size_t)(M * K)), *B = rnd_array((size_t)(K * N)), *bias = rnd_array((size_t)M);
    float *C1 = malloc((size_t)(M * N) * sizeof(float)), *C2 = malloc((size_t)(M * N) * sizeof(float));
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    yq_epilogue ep = {bias, YQ_ACT_SILU};
    assert_int_equal(yq_sgemm(pool, 0, 0, M, N, K, A, K, B, N, C1, N, 0, &ep, NULL), YQ_OK);
    yq_packed_a *pa;
    assert_int_equal(yq_pack_a(A, K, 0, M, K, &pa), YQ_OK);
    assert_int_equal(yq_packed_a_rows(pa), M);
    assert_int_equal(yq_packed_a_depth(pa), K);
    yq_dense_b db = {B, N};
    yq_b_source bs = {yq_pack_b_dense, &db};
    size_t sb = yq_sgemm_packed_scratch_bytes(pa, N, 2);
    void *scratch = aligned_alloc(64, (sb + 63) & ~(size_t)63);
    assert_int_equal(yq_sgemm_packed(pool, pa, &bs, N, C2, N, 0, &ep, scratch), YQ_OK);
    assert_memory_equal(C1, C2, (size_t)(M * N) * sizeof(float));
    free(scratch);
    yq_packed_a_free(pa);
    yq_pool_free(pool);
    free(A);
    free(B);
    free(bias);
    free(C1);
    free(C2);
}

static void test_deterministic_across_threads(void **state) {
    (void)state;
    const int64_t M = 96, N = 700, K = 600;
    float *A = rnd_array((size_t)(M * K)), *B = rnd_array((size_t)(K * N));
    float *C[3];
    for (int t = 1; t <= 3; t++) {
        yq_pool *pool;
        assert_int_equal(yq_pool_new(t, &pool), YQ_OK);
        C[t - 1] = malloc((size_t)(M * N) * sizeof(float));
        assert_int_equal(yq_sgemm(pool, 0, 0, M, N, K, A, K, B, N, C[t - 1], N, 0, NULL, NULL), YQ_OK);
        yq_pool_free(pool);
    }
    assert_memory_equal(C[0], C[1], (size_t)(M * N) * sizeof(float));
    assert_memory_equal(C[0], C[2], (size_t)(M * N) * sizeof(float));
    for (int t = 0; t < 3; t++) free(C[t]);
    free(A);
    free(B);
}

static void test_vector_silu(void **state) {
    (void)state;
    /* The polynomial exp behind the vector SiLU: relative error <= 2e-6 (abs
     * 1e-30 near 0 and in the underflowing tail). */
    enum { NV = 4001 };
    float x[NV], y[NV];
    for (int i = 0; i < NV; i++) x[i] = -100.0f + 0.05f * (float)i;
    for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
        if (!use_isa(all_isas[ii])) continue;
        memcpy(y, x, sizeof y);
        yq_apply_bias_act(y, NV, 0.0f, YQ_ACT_SILU);
        for (int i = 0; i < NV; i++) {
            const double want = (double)x[i] / (1.0 + exp(-(double)x[i]));
            if (!(fabs(y[i] - want) <= 2e-6 * fabs(want) + 1e-30))
                fail_msg("isa %s: silu(%g) = %.9g, want %.9g", yq_gemm_isa_name(all_isas[ii]), x[i], y[i], want);
        }
        /* Bias only, odd length. */
        float z[7] = {0, 1, 2, 3, 4, 5, 6};
        yq_apply_bias_act(z, 7, 0.5f, YQ_ACT_NONE);
        for (int i = 0; i < 7; i++) assert_true(z[i] == (float)i + 0.5f);
    }
    yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_hand),
        cmocka_unit_test(test_sgemm_random),
        cmocka_unit_test(test_packed_equals_plain),
        cmocka_unit_test(test_deterministic_across_threads),
        cmocka_unit_test(test_vector_silu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
