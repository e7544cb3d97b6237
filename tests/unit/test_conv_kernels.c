/* The conv kernel API (conv.h): the fast path (1×1 GEMM, im2col + GEMM,
 * depthwise, direct, Winograd) against yq_conv2d_ref on many random
 * geometries, for every micro-kernel ISA the CPU has and 1 and 2 threads; the
 * references against a hand-computed case and against each other.
 * Tolerance: max|fast - ref| <= 1e-4 * max|ref| + 1e-5 per output tensor (the
 * issue's "within 1e-4 relative"). Winograd F(4,3) rounds more than the
 * direct sum (transform entries up to 8, 36 products per tile position
 * instead of 9): measured worst max|diff|/max|ref| 1.3e-5 (C = 300, K = 2700;
 * 5e-6 typical at C ~ 45) against 6e-7 for im2col on these inputs, growing
 * about with sqrt(K). test_winograd_shapes bounds it at WINOGRAD_REL_BOUND =
 * 5e-5 (4x the worst measured), tighter than the 1e-4 all paths meet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "rt/kernels/conv.h"
#include "testutil.h"

#define YQT_RNG_SEED 0x0DDB1A5E5BAD5EEDull
#include "kernel_testkit.h"

static int algo_seen[YQ_CONV_ALGO_COUNT], direct_strided_seen;
/* Largest max|winograd - ref| / max|ref| seen. */
static double winograd_worst_rel;
#define WINOGRAD_REL_BOUND 5e-5

/* Plan (algorithm `algo`, -1 = automatic) + run the fast path and compare
 * with the reference. Returns 0 when the forced algorithm does not apply. */
static int check_conv_algo(yq_conv2d_shape s, int with_bias, yq_act act, yq_pool *pool, int algo) {
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
    const size_t nx = (size_t)(s.N * s.C * s.H * s.W), nw = (size_t)(s.M * (s.C / s.group) * s.kh * s.kw),
                 ny = (size_t)(s.N * s.M * s.OH * s.OW);
    float *X = rnd_array(nx), *Wt = rnd_array(nw), *B = rnd_array((size_t)s.M);
    float *Y = malloc(ny * sizeof *Y), *R = malloc(ny * sizeof *R);
    yq_conv2d_plan *plan;
    yq_status st = yq_conv2d_plan_new_algo(&s, Wt, with_bias ? B : NULL, act, yq_pool_size(pool), algo, &plan);
    if (st == YQ_ERR_UNSUPPORTED && algo >= 0) {
        free(X);
        free(Wt);
        free(B);
        free(Y);
        free(R);
        return 0;
    }
    assert_int_equal(st, YQ_OK);
    if (algo >= 0) assert_int_equal(yq_conv2d_plan_algo(plan), algo);
    algo_seen[yq_conv2d_plan_algo(plan)]++;
    if (yq_conv2d_plan_algo(plan) == YQ_CONV_ALGO_DIRECT && (s.stride_h > 1 || s.stride_w > 1)) direct_strided_seen++;
    /* Weights are copied at plan time: scribbling on them must not matter. */
    float *wcopy = malloc(nw * sizeof *wcopy);
    memcpy(wcopy, Wt, nw * sizeof *wcopy);
    memset(Wt, 0x7f, nw * sizeof *Wt);
    size_t sb = yq_conv2d_plan_scratch(plan);
    void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
    assert_int_equal(yq_conv2d_run(plan, pool, X, Y, scratch), YQ_OK);
    yq_conv2d_ref(&s, X, wcopy, with_bias ? B : NULL, act, R);
    double maxref = 0, maxdiff = 0;
    for (size_t i = 0; i < ny; i++) {
        maxref = fmax(maxref, fabs(R[i]));
        maxdiff = fmax(maxdiff, fabs((double)R[i] - Y[i]));
    }
    if (yq_conv2d_plan_algo(plan) == YQ_CONV_ALGO_WINOGRAD && maxref > 0)
        winograd_worst_rel = fmax(winograd_worst_rel, maxdiff / maxref);
    if (!(maxdiff <= 1e-4 * maxref + 1e-5))
        fail_msg("%s isa %s threads %d: N%lld C%lld %lldx%lld -> M%lld k%lldx%lld s%lld,%lld d%lld,%lld "
                 "pads %lld,%lld,%lld,%lld g%lld act %d: max diff %g (max ref %g)",
                 yq_conv_algo_name(yq_conv2d_plan_algo(plan)), yq_gemm_isa_name(yq_gemm_isa_current()),
                 yq_pool_size(pool), (long long)s.N, (long long)s.C, (long long)s.H, (long long)s.W,
                 (long long)s.M, (long long)s.kh, (long long)s.kw, (long long)s.stride_h, (long long)s.stride_w,
                 (long long)s.dil_h, (long long)s.dil_w, (long long)s.pad_t, (long long)s.pad_l,
                 (long long)s.pad_b, (long long)s.pad_r, (long long)s.group, act, maxdiff, maxref);
    free(scratch);
    yq_conv2d_plan_free(plan);
    free(X);
    free(Wt);
    free(wcopy);
    free(B);
    free(Y);
    free(R);
    return 1;
}

static void check_conv(yq_conv2d_shape s, int with_bias, yq_act act, yq_pool *pool) {
    check_conv_algo(s, with_bias, act, pool, -1);
}

/* A random geometry whose kernel fits the padded input. */
static yq_conv2d_shape random_shape(int depthwise) {
    for (;;) {
        yq_conv2d_shape s = {.N = rnd_int(1, 2), .H = rnd_int(1, 23), .W = rnd_int(1, 40), .kh = rnd_int(1, 5),
                             .kw = rnd_int(1, 5), .stride_h = rnd_int(1, 3), .stride_w = rnd_int(1, 3),
                             .dil_h = rnd_int(1, 2), .dil_w = rnd_int(1, 2), .pad_t = rnd_int(0, 2),
                             .pad_l = rnd_int(0, 2), .pad_b = rnd_int(0, 2), .pad_r = rnd_int(0, 2)};
        if (depthwise) {
            s.C = s.M = s.group = rnd_int(2, 20);
        } else {
            s.group = rnd_int(0, 3) == 0 ? rnd_int(2, 3) : 1;
            s.C = s.group * rnd_int(1, 9);
            s.M = s.group * rnd_int(1, 30);
        }
        if (rnd_int(0, 4) == 0) { /* 1×1 stride 1 unpadded: the direct GEMM path */
            s.kh = s.kw = s.stride_h = s.stride_w = 1;
            s.pad_t = s.pad_l = s.pad_b = s.pad_r = 0;
        }
        if (yq_conv_out_dim(s.H, s.kh, s.stride_h, s.dil_h, s.pad_t, s.pad_b) >= 1 &&
            yq_conv_out_dim(s.W, s.kw, s.stride_w, s.dil_w, s.pad_l, s.pad_r) >= 1)
            return s;
    }
}

static void test_fast_vs_ref_random(void **state) {
    (void)state;
    memset(algo_seen, 0, sizeof algo_seen);
    direct_strided_seen = 0;
    for (int t = 1; t <= 2; t++) {
        yq_pool *pool;
        assert_int_equal(yq_pool_new(t, &pool), YQ_OK);
        for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
            if (!use_isa(all_isas[ii])) continue;
            /* Each geometry through the automatic choice and every algorithm
             * that applies to it. */
            for (int i = 0; i < 40; i++) {
                const yq_conv2d_shape s = random_shape(rnd_int(0, 3) == 0);
                const int bias = rnd_int(0, 1);
                const yq_act act = rnd_int(0, 1) ? YQ_ACT_SILU : YQ_ACT_NONE;
                for (int algo = -1; algo < YQ_CONV_ALGO_COUNT; algo++) check_conv_algo(s, bias, act, pool, algo);
            }
        }
        yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
        yq_pool_free(pool);
    }
    /* Every algorithm was exercised (the direct one exists on AVX-512 only;
     * Winograd's 3×3 stride-1 geometries are rare here: test_winograd_shapes). */
    for (int a = 0; a < YQ_CONV_ALGO_WINOGRAD; a++)
        if (a != YQ_CONV_ALGO_DIRECT || yq_gemm_isa_best() == YQ_GEMM_ISA_AVX512) assert_true(algo_seen[a] > 0);
    if (yq_gemm_isa_best() == YQ_GEMM_ISA_AVX512) assert_true(direct_strided_seen > 0);
}

static void test_depthwise_shapes(void **state) {
    (void)state;
    /* Planes wider than the 32-column strips and taller than the 4-row blocks,
     * strides 1-3 (stride 2 with dilation and rows shorter than one vector),
     * kernels up to 7 wide, dilation, asymmetric pads. */
    const int cfg[][8] = {
        /* H, W, k, stride, dil, pt, pl, pr */
        {20, 20, 3, 1, 1, 1, 1, 1}, {40, 70, 3, 2, 1, 1, 1, 1}, {9, 33, 5, 1, 2, 2, 0, 3},
        {13, 64, 7, 3, 1, 3, 3, 0}, {5, 100, 3, 2, 1, 0, 1, 0}, {1, 17, 3, 1, 1, 1, 1, 1},
        {23, 41, 3, 2, 2, 2, 2, 1}, {7, 9, 3, 2, 1, 1, 1, 1},
    };
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
        if (!use_isa(all_isas[ii])) continue;
        for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
            const int *c = cfg[i];
            yq_conv2d_shape s = {.N = 2, .C = 6, .M = 6, .group = 6, .H = c[0], .W = c[1], .kh = c[2], .kw = c[2],
                                 .stride_h = c[3], .stride_w = c[3], .dil_h = c[4], .dil_w = c[4], .pad_t = c[5],
                                 .pad_b = c[5], .pad_l = c[6], .pad_r = c[7]};
            check_conv(s, 1, YQ_ACT_SILU, pool);
            check_conv(s, 0, YQ_ACT_NONE, pool);
        }
    }
    yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
    yq_pool_free(pool);
}

static void test_large_gemm_blocks(void **state) {
    (void)state;
    /* K = 9 * 40 = 360 and N = 36 * 36 = 1296 cross the GEMM's K and N blocks. */
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    yq_conv2d_shape s = {.N = 1, .C = 40, .H = 36, .W = 36, .M = 50, .kh = 3, .kw = 3, .group = 1, .stride_h = 1,
                         .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    check_conv(s, 1, YQ_ACT_SILU, pool);
    check_conv_algo(s, 1, YQ_ACT_SILU, pool, YQ_CONV_ALGO_IM2COL);
    yq_conv2d_shape s1 = {.N = 1, .C = 300, .H = 30, .W = 40, .M = 70, .kh = 1, .kw = 1, .group = 1,
                          .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
    check_conv(s1, 1, YQ_ACT_NONE, pool);
    yq_pool_free(pool);
}

/* A random 3×3 stride-1 dense geometry: H/W not multiples of the 4×4 tile,
 * pads 0-2 on each side independently, channel counts off the SIMD widths. */
static yq_conv2d_shape random_winograd_shape(void) {
    for (;;) {
        yq_conv2d_shape s = {.N = rnd_int(1, 2), .C = rnd_int(1, 45), .H = rnd_int(1, 27), .W = rnd_int(1, 41),
                             .M = rnd_int(1, 40), .kh = 3, .kw = 3, .group = 1, .stride_h = 1, .stride_w = 1,
                             .dil_h = 1, .dil_w = 1, .pad_t = rnd_int(0, 2), .pad_l = rnd_int(0, 2),
                             .pad_b = rnd_int(0, 2), .pad_r = rnd_int(0, 2)};
        if (yq_conv_out_dim(s.H, 3, 1, 1, s.pad_t, s.pad_b) >= 1 && yq_conv_out_dim(s.W, 3, 1, 1, s.pad_l, s.pad_r) >= 1)
            return s;
    }
}

static void test_winograd_shapes(void **state) {
    (void)state;
    winograd_worst_rel = 0;
    int ran = 0;
    for (int t = 1; t <= 2; t++) {
        yq_pool *pool;
        assert_int_equal(yq_pool_new(t, &pool), YQ_OK);
        for (size_t ii = 0; ii < sizeof all_isas / sizeof all_isas[0]; ii++) {
            if (!use_isa(all_isas[ii])) continue;
            for (int i = 0; i < 25; i++) {
                const yq_conv2d_shape s = random_winograd_shape();
                ran += check_conv_algo(s, rnd_int(0, 1), rnd_int(0, 1) ? YQ_ACT_SILU : YQ_ACT_NONE, pool,
                                       YQ_CONV_ALGO_WINOGRAD);
            }
            /* Larger blocks: several tile-row blocks, K over the GEMM's
             * 256-deep block, output-channel chunks (few tiles, many
             * channels), a 1-row / 1-column output. */
            const int cfg[][8] = {
                /* C, H, W, M, pt, pl, pb, pr */
                {300, 13, 11, 70, 1, 1, 1, 1}, {48, 61, 37, 48, 1, 1, 1, 1}, {96, 5, 6, 130, 2, 0, 1, 2},
                {17, 3, 50, 9, 0, 1, 0, 0},    {8, 9, 1, 8, 1, 1, 1, 1},
            };
            for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
                const int *v = cfg[c];
                yq_conv2d_shape s = {.N = 1, .C = v[0], .H = v[1], .W = v[2], .M = v[3], .kh = 3, .kw = 3,
                                     .group = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                                     .pad_t = v[4], .pad_l = v[5], .pad_b = v[6], .pad_r = v[7]};
                ran += check_conv_algo(s, 1, YQ_ACT_SILU, pool, YQ_CONV_ALGO_WINOGRAD);
            }
        }
        yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
        yq_pool_free(pool);
    }
    assert_true(ran > 0);
    print_message("winograd: %d convs, worst max|diff|/max|ref| %.3g (bound %.0e)\n", ran, winograd_worst_rel,
                  WINOGRAD_REL_BOUND);
    assert_true(winograd_worst_rel <= WINOGRAD_REL_BOUND);
}

/* Results are bitwise the same for any thread count, including plans that
 * split the output channels into chunks (few tiles, 3 threads). */
static void test_winograd_thread_independent(void **state) {
    (void)state;
    const int cfg[][8] = {{37, 29, 23, 53, 1, 0, 2, 1}, {40, 6, 6, 100, 1, 1, 1, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        const int *v = cfg[c];
        yq_conv2d_shape s = {.N = 2, .C = v[0], .H = v[1], .W = v[2], .M = v[3], .kh = 3, .kw = 3, .group = 1,
                             .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = v[4], .pad_l = v[5],
                             .pad_b = v[6], .pad_r = v[7]};
        assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
        const size_t nx = (size_t)(s.N * s.C * s.H * s.W), nw = (size_t)(s.M * s.C * 9),
                     ny = (size_t)(s.N * s.M * s.OH * s.OW);
        float *X = rnd_array(nx), *Wt = rnd_array(nw), *B = rnd_array((size_t)s.M);
        float *Y[3];
        for (int t = 1; t <= 3; t++) {
            yq_pool *pool;
            assert_int_equal(yq_pool_new(t, &pool), YQ_OK);
            yq_conv2d_plan *plan;
            assert_int_equal(yq_conv2d_plan_new_algo(&s, Wt, B, YQ_ACT_SILU, t, YQ_CONV_ALGO_WINOGRAD, &plan), YQ_OK);
            Y[t - 1] = malloc(ny * sizeof(float));
            assert_int_equal(yq_conv2d_run(plan, pool, X, Y[t - 1], NULL), YQ_OK);
            yq_conv2d_plan_free(plan);
            yq_pool_free(pool);
        }
        assert_memory_equal(Y[0], Y[1], ny * sizeof(float));
        assert_memory_equal(Y[0], Y[2], ny * sizeof(float));
        for (int t = 0; t < 3; t++) free(Y[t]);
        free(X);
        free(Wt);
        free(B);
    }
}

/* The automatic choice takes Winograd for a YOLO-like 3×3 layer, and not when
 * it is switched off; forcing it on another geometry is a clean error. */
static void test_winograd_choice(void **state) {
    (void)state;
    yq_conv2d_shape s = {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 3, .kw = 3, .group = 1, .stride_h = 1,
                         .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    float *Wt = rnd_array((size_t)(64 * 64 * 9));
    yq_conv2d_plan *plan = NULL;
    assert_int_equal(yq_conv2d_plan_new(&s, Wt, NULL, YQ_ACT_NONE, 2, &plan), YQ_OK);
    assert_int_equal(yq_conv2d_plan_algo(plan), YQ_CONV_ALGO_WINOGRAD);
    assert_string_equal(yq_conv_algo_name(YQ_CONV_ALGO_WINOGRAD), "winograd");
    yq_conv2d_plan_free(plan);
    assert_int_equal(yq_conv_set_winograd(0), 1);
    assert_int_equal(yq_conv2d_plan_new(&s, Wt, NULL, YQ_ACT_NONE, 2, &plan), YQ_OK);
    assert_int_not_equal(yq_conv2d_plan_algo(plan), YQ_CONV_ALGO_WINOGRAD);
    yq_conv2d_plan_free(plan);
    /* Excluding it per plan. */
    assert_int_equal(
        yq_conv2d_plan_new_algo(&s, Wt, NULL, YQ_ACT_NONE, 2, YQ_CONV_ALGO_AUTO_NO_WINOGRAD, &plan), YQ_OK);
    assert_int_not_equal(yq_conv2d_plan_algo(plan), YQ_CONV_ALGO_WINOGRAD);
    yq_conv2d_plan_free(plan);
    /* Forcing still works while the automatic choice is off. */
    assert_int_equal(yq_conv2d_plan_new_algo(&s, Wt, NULL, YQ_ACT_NONE, 2, YQ_CONV_ALGO_WINOGRAD, &plan), YQ_OK);
    yq_conv2d_plan_free(plan);
    assert_int_equal(yq_conv_set_winograd(1), 0);
    const yq_conv2d_shape bad[] = {
        {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 3, .kw = 3, .group = 1, .stride_h = 2, .stride_w = 2,
         .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1},
        {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 3, .kw = 3, .group = 1, .stride_h = 1, .stride_w = 1,
         .dil_h = 2, .dil_w = 2, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2},
        {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 3, .kw = 3, .group = 2, .stride_h = 1, .stride_w = 1,
         .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1},
        {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 1, .kw = 3, .group = 1, .stride_h = 1, .stride_w = 1,
         .dil_h = 1, .dil_w = 1, .pad_t = 0, .pad_l = 1, .pad_b = 0, .pad_r = 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        plan = NULL;
        assert_int_equal(yq_conv2d_plan_new_algo(&bad[i], Wt, NULL, YQ_ACT_NONE, 1, YQ_CONV_ALGO_WINOGRAD, &plan),
                         YQ_ERR_UNSUPPORTED);
        assert_null(plan);
    }
    free(Wt);
}

static void test_hand_computed(void **state) {
    (void)state;
    /* One 3×3 channel, 2×2 kernel [1 0; 0 -1] (x[i][j] - x[i+1][j+1]), bias 10,
     * pad 1 on the left only, stride 1. */
    const float X[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, Wt[4] = {1, 0, 0, -1}, B[1] = {10};
    yq_conv2d_shape s = {.N = 1, .C = 1, .H = 3, .W = 3, .M = 1, .kh = 2, .kw = 2, .group = 1, .stride_h = 1,
                         .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_l = 1};
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
    assert_int_equal(s.OH, 2);
    assert_int_equal(s.OW, 3);
    /* out[i][j] = x[i][j-1] - x[i+1][j] + 10 with x[.][-1] = 0. */
    const float want[6] = {0 - 4 + 10, 1 - 5 + 10, 2 - 6 + 10, 0 - 7 + 10, 4 - 8 + 10, 5 - 9 + 10};
    float ref[6], fast[6];
    yq_conv2d_ref(&s, X, Wt, B, YQ_ACT_NONE, ref);
    assert_memory_equal(ref, want, sizeof want);
    yq_conv2d_plan *plan;
    assert_int_equal(yq_conv2d_plan_new(&s, Wt, B, YQ_ACT_NONE, 1, &plan), YQ_OK);
    assert_int_equal(yq_conv2d_run(plan, NULL, X, fast, NULL), YQ_OK);
    for (int i = 0; i < 6; i++) assert_float_equal(fast[i], want[i], 1e-6);
    yq_conv2d_plan_free(plan);
    /* SiLU epilogue on the reference: x * sigmoid(x). */
    yq_conv2d_ref(&s, X, Wt, B, YQ_ACT_SILU, ref);
    for (int i = 0; i < 6; i++) assert_float_equal(ref[i], want[i] / (1.0f + expf(-want[i])), 1e-6);
}

static void test_nd_ref_agrees(void **state) {
    (void)state;
    for (int i = 0; i < 20; i++) {
        yq_conv2d_shape s = random_shape(rnd_int(0, 3) == 0);
        assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
        const size_t nx = (size_t)(s.N * s.C * s.H * s.W), nw = (size_t)(s.M * (s.C / s.group) * s.kh * s.kw),
                     ny = (size_t)(s.N * s.M * s.OH * s.OW);
        float *X = rnd_array(nx), *Wt = rnd_array(nw), *B = rnd_array((size_t)s.M);
        float *Y2 = malloc(ny * sizeof *Y2), *Yn = malloc(ny * sizeof *Yn);
        yq_conv2d_ref(&s, X, Wt, B, YQ_ACT_NONE, Y2);
        const int64_t in[2] = {s.H, s.W}, k[2] = {s.kh, s.kw}, st[2] = {s.stride_h, s.stride_w},
                      dl[2] = {s.dil_h, s.dil_w}, pads[4] = {s.pad_t, s.pad_l, s.pad_b, s.pad_r},
                      out[2] = {s.OH, s.OW};
        yq_convnd_ref(2, s.N, s.C, in, s.M, k, s.group, st, dl, pads, out, X, Wt, B, YQ_ACT_NONE, Yn);
        assert_memory_equal(Y2, Yn, ny * sizeof *Yn);
        free(X);
        free(Wt);
        free(B);
        free(Y2);
        free(Yn);
    }
}

static void test_shape_errors(void **state) {
    (void)state;
    yq_conv2d_shape s = {.N = 1, .C = 6, .H = 5, .W = 5, .M = 4, .kh = 3, .kw = 3, .group = 4, .stride_h = 1,
                         .stride_w = 1, .dil_h = 1, .dil_w = 1};
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_ERR_INVALID); /* 4 does not divide 6 */
    assert_non_null(strstr(yq_last_error(), "group"));
    s.group = 2;
    s.kh = 7; /* larger than the unpadded input */
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_ERR_INVALID);
    s.kh = 3;
    s.stride_w = 0;
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_ERR_INVALID);
    s.stride_w = 1;
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
    /* Forcing an algorithm that cannot run the geometry is a clean error. */
    float w[2 * 3 * 3 * 3] = {0};
    s.M = 2;
    s.group = 2;
    yq_conv2d_plan *plan = NULL;
    assert_int_equal(yq_conv2d_plan_new_algo(&s, w, NULL, YQ_ACT_NONE, 1, YQ_CONV_ALGO_GEMM_1X1, &plan),
                     YQ_ERR_UNSUPPORTED);
    assert_int_equal(yq_conv2d_plan_new_algo(&s, w, NULL, YQ_ACT_NONE, 1, YQ_CONV_ALGO_DEPTHWISE, &plan),
                     YQ_ERR_UNSUPPORTED);
    assert_null(plan);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),     cmocka_unit_test(test_nd_ref_agrees),
        cmocka_unit_test(test_shape_errors),      cmocka_unit_test(test_fast_vs_ref_random),
        cmocka_unit_test(test_depthwise_shapes),  cmocka_unit_test(test_large_gemm_blocks),
        cmocka_unit_test(test_winograd_shapes),   cmocka_unit_test(test_winograd_thread_independent),
        cmocka_unit_test(test_winograd_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
