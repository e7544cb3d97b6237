/* quant/quantizer: integer ranges, the ONNX-exact quantizer, range -> scale,
 * weight scale choosers (max / percentile / MSE), per tensor / channel / group. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/quantizer.h"

/* splitmix64 + Box-Muller: deterministic test data. */

static void test_ranges(void **state) {
    (void)state;
    struct { int bits, is_signed, narrow, lo, hi; } t[] = {
        {8, 1, 0, -128, 127}, {8, 1, 1, -127, 127}, {8, 0, 0, 0, 255}, {8, 0, 1, 0, 255},
        {4, 1, 0, -8, 7},     {4, 1, 1, -7, 7},     {4, 0, 0, 0, 15},  {2, 1, 0, -2, 1},
        {16, 1, 0, -32768, 32767}, {16, 0, 0, 0, 65535},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(yq_qrange_check(t[i].bits, t[i].is_signed, t[i].narrow), YQ_OK);
        assert_int_equal(yq_qmin(t[i].bits, t[i].is_signed, t[i].narrow), t[i].lo);
        assert_int_equal(yq_qmax(t[i].bits, t[i].is_signed, t[i].narrow), t[i].hi);
    }
    assert_int_equal(yq_qrange_check(1, 1, 0), YQ_ERR_ARG);
    assert_int_equal(yq_qrange_check(9, 1, 0), YQ_ERR_ARG);
    assert_int_equal(yq_qrange_check(32, 1, 0), YQ_ERR_ARG);
    yq_qparams qp;
    assert_int_equal(yq_qparams_alloc(&qp, 12, 1, 0, 0, 4), YQ_ERR_ARG);
    assert_int_equal(yq_qparams_alloc(&qp, 4, 1, 1, -1, 3), YQ_ERR_ARG); /* per tensor with 3 scales */
    assert_int_equal(yq_qparams_alloc(&qp, 4, 1, 1, 0, 3), YQ_OK);
    assert_int_equal(qp.nch, 3);
    assert_true(qp.scale[2] == 1.0f && qp.zero_point[2] == 0);
    yq_qparams cp;
    qp.scale[1] = 0.5f;
    qp.zero_point[1] = -3;
    assert_int_equal(yq_qparams_copy(&cp, &qp), YQ_OK);
    assert_true(cp.scale[1] == 0.5f && cp.zero_point[1] == -3 && cp.narrow == 1 && cp.axis == 0);
    yq_qparams_free(&qp);
    yq_qparams_free(&cp);
}

static void test_quantize_value(void **state) {
    (void)state;
    /* Round half to even, like QuantizeLinear. */
    assert_int_equal(yq_quantize_value(2.5f, 1.0f, 0, -128, 127), 2);
    assert_int_equal(yq_quantize_value(3.5f, 1.0f, 0, -128, 127), 4);
    assert_int_equal(yq_quantize_value(-2.5f, 1.0f, 0, -128, 127), -2);
    assert_int_equal(yq_quantize_value(-3.5f, 1.0f, 0, -128, 127), -4);
    assert_int_equal(yq_quantize_value(0.5f, 1.0f, 10, 0, 255), 10);
    /* Float32 division first: 0.3f / 0.1f rounds to 3 (not 2.9999...). */
    assert_int_equal(yq_quantize_value(0.3f, 0.1f, 0, -128, 127), 3);
    /* Saturation happens after the zero point is added. */
    assert_int_equal(yq_quantize_value(1000.0f, 1.0f, 0, -128, 127), 127);
    assert_int_equal(yq_quantize_value(-1000.0f, 1.0f, 0, -128, 127), -128);
    assert_int_equal(yq_quantize_value(-1.0f, 0.01f, 20, 0, 255), 0);
    assert_int_equal(yq_quantize_value(1.0f, 0.01f, 200, 0, 255), 255);
    assert_int_equal(yq_quantize_value(-20.0f, 1.0f, 3, -7, 7), -7);
    assert_int_equal(yq_quantize_value(INFINITY, 0.1f, 0, -8, 7), 7);
    assert_int_equal(yq_quantize_value(-INFINITY, 0.1f, 0, -8, 7), -8);
    assert_int_equal(yq_quantize_value(NAN, 0.1f, 5, 0, 255), 5);
    assert_int_equal(yq_quantize_value(1e30f, 1e-30f, 0, -128, 127), 127); /* x/scale = +Inf */
    assert_true(yq_dequantize_value(-3, 0.25f, 1) == -1.0f);
    assert_true(yq_fake_quantize(0.26f, 0.25f, 0, -8, 7) == 0.25f);
    /* Exhaustive check of the definition on a sweep. */
    for (int i = -4000; i <= 4000; i++) {
        float x = (float)i * 0.00731f, s = 0.0123f;
        int32_t zp = 17;
        float r = nearbyintf(x / s) + (float)zp;
        int32_t want = r < 0 ? 0 : (r > 255 ? 255 : (int32_t)r);
        assert_int_equal(yq_quantize_value(x, s, zp, 0, 255), want);
    }
}

static void test_range_to_qparams(void **state) {
    (void)state;
    float s;
    int32_t z;
    yq_qformat sym8 = {8, 1, 0, 1}, asym_u8 = {8, 0, 0, 0}, asym_i8 = {8, 1, 0, 0}, sym4n = {4, 1, 1, 1};
    assert_int_equal(yq_qparams_from_range(-1.27, 0.5, &sym8, &s, &z), YQ_OK);
    assert_float_equal(s, 0.01f, 1e-9);
    assert_int_equal(z, 0);
    assert_int_equal(yq_qparams_from_range(-0.7, 0.35, &sym4n, &s, &z), YQ_OK);
    assert_float_equal(s, 0.1f, 1e-8);
    /* Post-SiLU-like range for uint8: 0 is exact, lo and hi are covered. */
    assert_int_equal(yq_qparams_from_range(-0.28, 10.0, &asym_u8, &s, &z), YQ_OK);
    assert_float_equal(s, 10.28f / 255.0f, 1e-7);
    assert_int_equal(z, 7); /* round(0.28 / 0.040314) = 7 */
    assert_true(yq_fake_quantize(0.0f, s, z, 0, 255) == 0.0f);
    assert_float_equal(yq_fake_quantize(-0.28f, s, z, 0, 255), -0.28f, s);
    assert_float_equal(yq_fake_quantize(10.0f, s, z, 0, 255), 10.0f, s);
    /* int8 asymmetric: zero point inside [-128, 127]. */
    assert_int_equal(yq_qparams_from_range(-1.0, 3.0, &asym_i8, &s, &z), YQ_OK);
    assert_int_equal(z, -128 + 64);
    assert_true(yq_fake_quantize(0.0f, s, z, -128, 127) == 0.0f);
    /* A positive-only range still includes 0 (zp = qmin for uint8). */
    assert_int_equal(yq_qparams_from_range(2.0, 5.0, &asym_u8, &s, &z), YQ_OK);
    assert_int_equal(z, 0);
    assert_float_equal(s, 5.0f / 255.0f, 1e-8);
    /* Unsigned symmetric: middle code. */
    yq_qformat sym_u8 = {8, 0, 0, 1};
    assert_int_equal(yq_qparams_from_range(-1.27, 1.0, &sym_u8, &s, &z), YQ_OK);
    assert_int_equal(z, 128);
    assert_float_equal(s, 0.01f, 1e-8);
    /* Degenerate ranges give a usable scale, never 0/NaN/Inf. */
    assert_int_equal(yq_qparams_from_range(0, 0, &sym8, &s, &z), YQ_OK);
    assert_true(s == 1.0f && z == 0);
    assert_int_equal(yq_qparams_from_range(0, 0, &asym_u8, &s, &z), YQ_OK);
    assert_true(s == 1.0f && z == 0);
    assert_int_equal(yq_qparams_from_range(-1e-30, 1e-30, &sym8, &s, &z), YQ_OK);
    assert_true(s == YQ_MIN_SCALE);
    assert_int_equal(yq_qparams_from_range(-INFINITY, 1, &sym8, &s, &z), YQ_ERR_INVALID);
    assert_int_equal(yq_qparams_from_range(-1e300, 1e300, &sym8, &s, &z), YQ_ERR_INVALID);
}

static void test_percentile(void **state) {
    (void)state;
    float x[100];
    for (int i = 0; i < 100; i++) x[i] = (float)(100 - i); /* 100..1, unsorted order */
    double p;
    assert_int_equal(yq_percentile(x, 100, 50, 0, &p), YQ_OK);
    assert_float_equal(p, 50.5, 1e-12); /* numpy.percentile(1..100, 50) */
    assert_int_equal(yq_percentile(x, 100, 99, 0, &p), YQ_OK);
    assert_float_equal(p, 99.01, 1e-9);
    assert_int_equal(yq_percentile(x, 100, 100, 0, &p), YQ_OK);
    assert_float_equal(p, 100.0, 0);
    float y[4] = {-9, 1, 2, 3};
    assert_int_equal(yq_percentile(y, 4, 100, 1, &p), YQ_OK);
    assert_float_equal(p, 9.0, 0);
    assert_int_equal(yq_percentile(y, 0, 50, 0, &p), YQ_ERR_ARG);
    assert_int_equal(yq_percentile(y, 4, 101, 0, &p), YQ_ERR_ARG);
}

/* sum (w - q(w))^2 of one row under (s, z). */
static double row_sse(const float *w, int n, float s, int32_t z, int32_t qmin, int32_t qmax) {
    double e = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)w[i] - (double)yq_fake_quantize(w[i], s, z, qmin, qmax);
        e += d * d;
    }
    return e;
}

static void test_weight_choosers(void **state) {
    (void)state;
    enum { R = 6, K = 64 };
    float w[R * K];
    uint64_t seed = 1;
    for (int i = 0; i < R * K; i++) w[i] = (float)(0.1 * rng_normal(&seed));
    for (int k = 0; k < K; k++) w[2 * K + k] = 0.0f; /* a dead output channel */
    w[4 * K + 5] = 1.5f;                                /* an outlier */
    yq_qformat f4 = {4, 1, 0, 1};
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    assert_int_equal(so.method, YQ_SCALE_MAX);
    assert_string_equal(yq_scale_method_name(YQ_SCALE_MSE), "mse");

    yq_qparams maxqp, mseqp, pctqp, tq;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &maxqp), YQ_OK);
    assert_int_equal(maxqp.axis, 0);
    assert_int_equal(maxqp.nch, R);
    for (int r = 0; r < R; r++) {
        double amax = 0;
        for (int k = 0; k < K; k++) amax = fmax(amax, fabs(w[r * K + k]));
        if (r == 2)
            assert_true(maxqp.scale[r] == 1.0f); /* dead channel: valid non-zero scale */
        else
            assert_float_equal(maxqp.scale[r], amax / 7.0, 1e-7);
        assert_int_equal(maxqp.zero_point[r], 0);
        assert_true(isfinite(maxqp.scale[r]) && maxqp.scale[r] > 0);
    }
    /* MSE: never worse than max (ratio 1 is a candidate), strictly better on
     * the outlier row, and the clipped scale is smaller. */
    so.method = YQ_SCALE_MSE;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &mseqp), YQ_OK);
    for (int r = 0; r < R; r++) {
        double e_max = row_sse(w + r * K, K, maxqp.scale[r], 0, -8, 7);
        double e_mse = row_sse(w + r * K, K, mseqp.scale[r], 0, -8, 7);
        assert_true(e_mse <= e_max);
        assert_true(isfinite(mseqp.scale[r]) && mseqp.scale[r] > 0);
        assert_true(mseqp.scale[r] >= 0.5f * maxqp.scale[r] * (1 - 1e-6f));
    }
    assert_true(mseqp.scale[4] < maxqp.scale[4]);
    {
        /* The chosen scale is the grid's argmin (brute force over the same
         * 100 ratios in [0.5, 1]). */
        double amax = 1.5, best = INFINITY;
        for (int i = 0; i < 100; i++) {
            double r = 1.0 - 0.5 * i / 99.0;
            float s;
            int32_t z;
            assert_int_equal(yq_qparams_from_range(-amax * r, amax * r, &f4, &s, &z), YQ_OK);
            best = fmin(best, row_sse(w + 4 * K, K, s, z, -8, 7));
        }
        double e_max = row_sse(w + 4 * K, K, maxqp.scale[4], 0, -8, 7);
        double e_mse = row_sse(w + 4 * K, K, mseqp.scale[4], 0, -8, 7);
        print_message("outlier row: sse %g (max scale) -> %g (mse scale)\n", e_max, e_mse);
        assert_true(e_mse == best);
        assert_true(e_mse < e_max);
    }
    assert_true(mseqp.scale[2] == 1.0f);
    /* p = 2.4 weighs large errors more: never clips more than p = 2 here. */
    yq_qparams p24;
    so.mse_norm = 2.4;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &p24), YQ_OK);
    assert_true(p24.scale[4] >= mseqp.scale[4]);
    so.mse_norm = 2.0;
    /* Percentile 100 == max; 90 clips. */
    so.method = YQ_SCALE_PERCENTILE;
    so.percentile = 100;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &pctqp), YQ_OK);
    for (int r = 0; r < R; r++) assert_true(pctqp.scale[r] == maxqp.scale[r]);
    yq_qparams_free(&pctqp);
    so.percentile = 90;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &pctqp), YQ_OK);
    assert_true(pctqp.scale[4] < 0.5f * maxqp.scale[4]);
    so.percentile = 40;
    yq_qparams bad;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &f4, &so, &bad), YQ_ERR_ARG);
    so.method = YQ_SCALE_MAX;

    /* Per tensor. */
    assert_int_equal(yq_weight_qparams(w, R, K, 0, 0, &f4, &so, &tq), YQ_OK);
    assert_int_equal(tq.axis, -1);
    assert_int_equal(tq.nch, 1);
    assert_float_equal(tq.scale[0], 1.5 / 7.0, 1e-7);

    /* Asymmetric int8 per channel: 0 exact, zp in range. */
    yq_qformat a8 = {8, 1, 0, 0};
    yq_qparams aq;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &a8, &so, &aq), YQ_OK);
    for (int r = 0; r < R; r++) {
        assert_true(aq.zero_point[r] >= -128 && aq.zero_point[r] <= 127);
        assert_true(yq_fake_quantize(0.0f, aq.scale[r], aq.zero_point[r], -128, 127) == 0.0f);
    }
    /* Unsigned weight grids are refused (int8 storage). */
    yq_qformat u8 = {8, 0, 0, 0};
    assert_int_equal(yq_weight_qparams(w, R, K, 1, 0, &u8, &so, &bad), YQ_ERR_ARG);
    /* NaN weights are an error naming the row. */
    float nanw[4] = {0, 1, NAN, 2};
    assert_int_equal(yq_weight_qparams(nanw, 2, 2, 1, 0, &f4, &so, &bad), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "row 1"));

    yq_qparams_free(&maxqp);
    yq_qparams_free(&mseqp);
    yq_qparams_free(&p24);
    yq_qparams_free(&pctqp);
    yq_qparams_free(&tq);
    yq_qparams_free(&aq);
}

static void test_groups_and_matrix(void **state) {
    (void)state;
    enum { R = 3, K = 40, G = 16 }; /* last group is partial (8 columns) */
    float w[R * K];
    uint64_t seed = 7;
    for (int i = 0; i < R * K; i++) w[i] = (float)rng_normal(&seed);
    yq_qformat f4 = {4, 1, 0, 1};
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    yq_qparams gq;
    assert_int_equal(yq_weight_qparams(w, R, K, 1, G, &f4, &so, &gq), YQ_OK);
    assert_int_equal(gq.axis, 1);
    assert_int_equal(gq.block_size, G);
    assert_int_equal(gq.nch, R * 3);
    for (int r = 0; r < R; r++)
        for (int gi = 0; gi < 3; gi++) {
            double amax = 0;
            for (int c = gi * G; c < (gi + 1) * G && c < K; c++) amax = fmax(amax, fabs(w[r * K + c]));
            assert_float_equal(gq.scale[r * 3 + gi], amax / 7.0, 1e-7);
        }
    assert_int_equal(yq_qparams_index(&gq, K, 1, 33), 1 * 3 + 2);
    int8_t q[R * K];
    float dq[R * K];
    assert_int_equal(yq_quantize_matrix(w, R, K, &gq, q, dq), YQ_OK);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < K; c++) {
            int64_t k = yq_qparams_index(&gq, K, r, c);
            assert_int_equal(q[r * K + c], yq_quantize_value(w[r * K + c], gq.scale[k], 0, -8, 7));
            assert_true(dq[r * K + c] == yq_dequantize_value(q[r * K + c], gq.scale[k], 0));
            assert_true(fabsf(dq[r * K + c] - w[r * K + c]) <= 0.5f * gq.scale[k] * 1.0001f);
        }
    /* Shape mismatch and unsigned grids wider than int8 are refused. */
    assert_int_equal(yq_quantize_matrix(w, R + 1, K, &gq, q, dq), YQ_ERR_ARG);
    yq_qparams uq;
    assert_int_equal(yq_qparams_alloc(&uq, 8, 0, 0, -1, 1), YQ_OK);
    assert_int_equal(yq_quantize_matrix(w, R, K, &uq, q, NULL), YQ_ERR_ARG);
    assert_int_equal(yq_quantize_matrix(w, R, K, &uq, NULL, dq), YQ_OK); /* dq only is fine */
    yq_qparams bad;
    assert_int_equal(yq_weight_qparams(w, R, K, 0, G, &f4, &so, &bad), YQ_ERR_ARG); /* groups need per-channel */
    yq_qparams_free(&uq);
    yq_qparams_free(&gq);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),          cmocka_unit_test(test_quantize_value),
        cmocka_unit_test(test_range_to_qparams), cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_weight_choosers), cmocka_unit_test(test_groups_and_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
