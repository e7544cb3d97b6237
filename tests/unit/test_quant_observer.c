/* quant/observer: streaming min/max, histogram rebinning (batch invariance),
 * percentile / MSE / entropy ranges on known distributions, lopsided
 * post-SiLU tensors with asymmetric uint8, non-finite values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/observer.h"


static void observe(yq_observer *ob, yq_observer_kind kind, const float *x, int64_t n, int64_t batch) {
    yq_observer_opts o;
    yq_observer_opts_default(&o, kind);
    assert_int_equal(yq_observer_init(ob, &o), YQ_OK);
    for (int64_t i = 0; i < n; i += batch) assert_int_equal(yq_observer_update(ob, x + i, n - i < batch ? n - i : batch), YQ_OK);
}

/* Mean squared fake-quantization error of the data under (s, z). */
static double data_mse(const float *x, int64_t n, float s, int32_t z, int32_t qmin, int32_t qmax) {
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)yq_fake_quantize(x[i], s, z, qmin, qmax);
        e += d * d;
    }
    return e / (double)n;
}

static void test_minmax_streaming(void **state) {
    (void)state;
    enum { N = 10000 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 1;
    for (int i = 0; i < N; i++) x[i] = (float)(-0.5 + 3.5 * rng_uniform(&seed));
    x[1234] = -0.75f;
    x[8765] = 3.25f;
    yq_observer ob;
    observe(&ob, YQ_OBS_MINMAX, x, N, 999);
    assert_true(ob.min == -0.75 && ob.max == 3.25);
    assert_int_equal(ob.count, N);
    assert_null(ob.hist);
    yq_qformat u8 = {8, 0, 0, 0}, s8 = {8, 1, 0, 1};
    double lo, hi;
    assert_int_equal(yq_observer_range(&ob, &u8, &lo, &hi), YQ_OK);
    assert_true(lo == -0.75 && hi == 3.25); /* exact */
    float s;
    int32_t z;
    assert_int_equal(yq_observer_qparams(&ob, &u8, &s, &z), YQ_OK);
    assert_float_equal(s, 4.0f / 255.0f, 1e-8);
    assert_int_equal(z, 48); /* round(0.75 / (4/255)) = 47.8 -> 48 */
    assert_true(yq_fake_quantize(0.0f, s, z, 0, 255) == 0.0f);
    assert_int_equal(yq_observer_qparams(&ob, &s8, &s, &z), YQ_OK);
    assert_float_equal(s, 3.25f / 127.0f, 1e-8);
    assert_int_equal(z, 0);
    yq_observer_free(&ob);
    free(x);
}

static void test_histogram_batch_invariance(void **state) {
    (void)state;
    enum { N = 50000 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 2;
    /* Growing magnitudes so the range doubles several times mid-stream. */
    for (int i = 0; i < N; i++) x[i] = (float)(rng_normal(&seed) * (1.0 + i / 2000.0));
    yq_observer one, many;
    observe(&one, YQ_OBS_PERCENTILE, x, N, N);
    observe(&many, YQ_OBS_PERCENTILE, x, N, 777);
    assert_true(one.range == many.range);
    assert_true(one.range > fmax(-one.min, one.max) && one.range <= 2 * fmax(-one.min, one.max));
    assert_memory_equal(one.hist, many.hist, (size_t)one.opts.nbins * sizeof *one.hist);
    int64_t total = 0;
    for (int b = 0; b < one.opts.nbins; b++) total += one.hist[b];
    assert_int_equal(total, N);
    yq_observer_free(&one);
    yq_observer_free(&many);
    free(x);
}

static void test_percentile_uniform(void **state) {
    (void)state;
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 3;
    for (int i = 0; i < N; i++) x[i] = (float)(-1.0 + 2.0 * rng_uniform(&seed));
    yq_observer ob;
    yq_observer_opts o;
    yq_observer_opts_default(&o, YQ_OBS_PERCENTILE);
    o.percentile = 99.0;
    assert_int_equal(yq_observer_init(&ob, &o), YQ_OK);
    assert_int_equal(yq_observer_update(&ob, x, N), YQ_OK);
    yq_qformat s8 = {8, 1, 0, 1}, u8 = {8, 0, 0, 0};
    double lo, hi;
    /* |x| ~ U(0,1): 99th percentile 0.99. x ~ U(-1,1): 1st / 99th -0.98 / 0.98. */
    assert_int_equal(yq_observer_range(&ob, &s8, &lo, &hi), YQ_OK);
    assert_float_equal(hi, 0.99, 0.005);
    assert_true(lo == -hi);
    assert_int_equal(yq_observer_range(&ob, &u8, &lo, &hi), YQ_OK);
    assert_float_equal(lo, -0.98, 0.005);
    assert_float_equal(hi, 0.98, 0.005);
    yq_observer_free(&ob);
    free(x);
}

static void test_gaussian_with_outliers(void **state) {
    (void)state;
    enum { N = 200000, OUT = 10 }; /* 5e-5 of the mass, below the 99.99 % cut */
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 4;
    for (int i = 0; i < N; i++) x[i] = (float)rng_normal(&seed);
    for (int i = 0; i < OUT; i++) x[i * (N / OUT)] = (i & 1) ? 50.0f : -50.0f;
    yq_qformat s8 = {8, 1, 0, 1};
    double lo, hi;
    yq_observer ob;

    observe(&ob, YQ_OBS_MINMAX, x, N, 4096);
    assert_int_equal(yq_observer_range(&ob, &s8, &lo, &hi), YQ_OK);
    assert_true(hi == 50.0 && lo == -50.0);
    yq_observer_free(&ob);

    observe(&ob, YQ_OBS_PERCENTILE, x, N, 4096); /* 99.99 % of |x|: ~3.9 sigma */
    assert_int_equal(yq_observer_range(&ob, &s8, &lo, &hi), YQ_OK);
    print_message("gaussian+outliers: percentile 99.99 -> %.3f\n", hi);
    assert_true(hi > 3.3 && hi < 4.6);
    yq_observer_free(&ob);

    /* Entropy: clips the outliers, keeps the body of the distribution. */
    observe(&ob, YQ_OBS_ENTROPY, x, N, 4096);
    assert_int_equal(yq_observer_range(&ob, &s8, &lo, &hi), YQ_OK);
    print_message("gaussian+outliers: entropy threshold -> %.3f\n", hi);
    assert_true(hi > 2.5 && hi < 15.0);
    assert_true(lo == -hi);
    yq_observer_free(&ob);

    /* MSE: with 1e-4 of the mass at 50 sigma the outliers dominate the
     * squared error, so MSE keeps (almost) the full range; its choice must
     * have the lowest data MSE among the candidates, hence not exceed minmax's. */
    observe(&ob, YQ_OBS_MSE, x, N, 4096);
    float s_mse, s_max;
    int32_t z;
    assert_int_equal(yq_observer_qparams(&ob, &s8, &s_mse, &z), YQ_OK);
    assert_int_equal(yq_qparams_from_range(-50, 50, &s8, &s_max, &z), YQ_OK);
    double e_mse = data_mse(x, N, s_mse, 0, -128, 127), e_max = data_mse(x, N, s_max, 0, -128, 127);
    print_message("gaussian+outliers: mse scale %.4g (data mse %.3g) vs max scale %.4g (%.3g)\n", s_mse, e_mse, s_max,
                  e_max);
    assert_true(e_mse <= e_max * 1.01);
    yq_observer_free(&ob);
    free(x);
}

static void test_mse_clips_gaussian_at_4bit(void **state) {
    (void)state;
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 5;
    for (int i = 0; i < N; i++) x[i] = (float)rng_normal(&seed);
    yq_observer ob;
    observe(&ob, YQ_OBS_MSE, x, N, 10000);
    /* The MSE-optimal 16-level uniform quantizer of N(0,1) clips near
     * 2.5 sigma (step about 0.33 sigma), far inside the max (~4.5 sigma). */
    yq_qformat s4 = {4, 1, 0, 1};
    double lo, hi;
    assert_int_equal(yq_observer_range(&ob, &s4, &lo, &hi), YQ_OK);
    print_message("N(0,1) 4-bit: mse clip %.3f (max %.3f)\n", hi, fmax(-ob.min, ob.max));
    assert_true(hi > 2.0 && hi < 3.2);
    float s;
    int32_t z;
    assert_int_equal(yq_observer_qparams(&ob, &s4, &s, &z), YQ_OK);
    float s_max;
    assert_int_equal(yq_qparams_from_range(ob.min, ob.max, &s4, &s_max, &z), YQ_OK);
    assert_true(data_mse(x, N, s, 0, -8, 7) < 0.6 * data_mse(x, N, s_max, 0, -8, 7));
    yq_observer_free(&ob);
    free(x);
}

static void test_post_silu_uint8(void **state) {
    (void)state;
    enum { N = 100000 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 6;
    for (int i = 0; i < N; i++) {
        double v = 3.0 * rng_normal(&seed);
        x[i] = (float)(v / (1.0 + exp(-v))); /* SiLU: min -0.2785 at v = -1.278 */
    }
    yq_qformat u8 = {8, 0, 0, 0};
    for (yq_observer_kind k = YQ_OBS_MINMAX; k <= YQ_OBS_ENTROPY; k++) {
        yq_observer ob;
        observe(&ob, k, x, N, 8192);
        double lo, hi;
        float s;
        int32_t z;
        assert_int_equal(yq_observer_range(&ob, &u8, &lo, &hi), YQ_OK);
        assert_int_equal(yq_observer_qparams(&ob, &u8, &s, &z), YQ_OK);
        print_message("post-SiLU %-10s: [%.4f, %.3f] scale %.5f zp %d\n", yq_observer_kind_name(k), lo, hi, s, z);
        assert_true(ob.min > -0.2786 && ob.min < -0.27);
        assert_true(lo >= ob.min && hi <= ob.max && hi > 0);
        if (k == YQ_OBS_MINMAX) assert_true(lo == ob.min && hi == ob.max);
        /* The small negative side costs only a few codes and 0 is exact. */
        assert_true(z >= 0 && z <= 8);
        assert_true(yq_fake_quantize(0.0f, s, z, 0, 255) == 0.0f);
        /* Entropy keeps the whole (tiny) negative side. */
        if (k == YQ_OBS_ENTROPY) assert_true(lo == ob.min);
        yq_observer_free(&ob);
    }
    free(x);
}

static void test_entropy_threshold_direct(void **state) {
    (void)state;
    int64_t h[2048];
    double t;
    /* Flat histogram, no tail: clipping only loses information. */
    memset(h, 0, sizeof h);
    for (int i = 0; i < 1000; i++) h[i] = 100;
    assert_int_equal(yq_entropy_threshold(h, 2048, 0.01, 128, &t), YQ_OK);
    assert_float_equal(t, 10.0, 1e-9);
    /* Fewer occupied bins than levels: the full extent. */
    memset(h, 0, sizeof h);
    for (int i = 0; i < 50; i++) h[i] = 7;
    assert_int_equal(yq_entropy_threshold(h, 2048, 0.5, 128, &t), YQ_OK);
    assert_float_equal(t, 25.0, 1e-12);
    /* Dense body up to bin 200, one count far out at bin 2000: clip the tail. */
    memset(h, 0, sizeof h);
    for (int i = 0; i < 200; i++) h[i] = 1000 - 4 * i;
    h[2000] = 1;
    assert_int_equal(yq_entropy_threshold(h, 2048, 1.0, 128, &t), YQ_OK);
    print_message("body + far outlier: threshold %.0f bins\n", t);
    assert_true(t >= 128 && t <= 400);
    memset(h, 0, sizeof h);
    assert_int_equal(yq_entropy_threshold(h, 2048, 1.0, 128, &t), YQ_OK);
    assert_true(t == 0);
}

static void test_nonfinite_and_errors(void **state) {
    (void)state;
    yq_observer ob;
    yq_observer_opts o;
    yq_observer_opts_default(&o, YQ_OBS_ENTROPY);
    assert_int_equal(yq_observer_init(&ob, &o), YQ_OK);
    yq_qformat u8 = {8, 0, 0, 0};
    float s;
    int32_t z;
    assert_int_equal(yq_observer_qparams(&ob, &u8, &s, &z), YQ_ERR_INVALID); /* nothing seen */
    float bad[4] = {NAN, INFINITY, -INFINITY, NAN};
    assert_int_equal(yq_observer_update(&ob, bad, 4), YQ_OK);
    assert_int_equal(ob.nonfinite, 4);
    assert_int_equal(yq_observer_qparams(&ob, &u8, &s, &z), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "4 non-finite"));
    float mixed[5] = {1.0f, NAN, -2.0f, INFINITY, 0.5f};
    assert_int_equal(yq_observer_update(&ob, mixed, 5), YQ_OK);
    assert_int_equal(ob.count, 3);
    assert_true(ob.min == -2.0 && ob.max == 1.0);
    /* All zeros: a valid grid (scale 1). */
    yq_observer zo;
    observe(&zo, YQ_OBS_MSE, (float[3]){0, 0, 0}, 3, 3);
    assert_int_equal(yq_observer_qparams(&zo, &u8, &s, &z), YQ_OK);
    assert_true(s == 1.0f && z == 0);
    yq_observer_free(&zo);
    yq_observer_free(&ob);
    o.nbins = 1002; /* not a multiple of 4 */
    assert_int_equal(yq_observer_init(&ob, &o), YQ_ERR_ARG);
    yq_observer_opts_default(&o, YQ_OBS_PERCENTILE);
    o.percentile = 30;
    assert_int_equal(yq_observer_init(&ob, &o), YQ_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minmax_streaming),        cmocka_unit_test(test_histogram_batch_invariance),
        cmocka_unit_test(test_percentile_uniform),      cmocka_unit_test(test_gaussian_with_outliers),
        cmocka_unit_test(test_mse_clips_gaussian_at_4bit), cmocka_unit_test(test_post_silu_uint8),
        cmocka_unit_test(test_entropy_threshold_direct), cmocka_unit_test(test_nonfinite_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
