/* Activation kernels (src/rt/kernels/activation.c) and the fast exp of
 * vecmath.h: accuracy sweeps against double, hand values, Softmax before and
 * from opset 13 (both reduction layouts, block boundaries, threads, large
 * inputs), Clip with attributes (opset 6) and inputs (opset 11+), integer
 * Clip, and infer errors.
 * Tolerances: exp <= 1.2e-7 relative, Sigmoid <= 2e-7 relative (normal
 * results; absolute <= 2e-45 in the subnormal range); Softmax <= 1e-6
 * relative to a double reference; everything else exact. */
#include "testutil.h"

#include <float.h>
#include <math.h>

#include "kernel_graph.h"
#include "rt/kernels/vecmath.h"

static yq_graph *unary_node(const char *op, int64_t opset, yq_dtype dt, int rank, const int64_t *dims, const void *x,
                            int *node, int *out) {
    yq_graph *g = kg_new(opset);
    int in = kg_const(g, dt, rank, dims, x);
    *node = kg_node(g, op, &in, 1, out);
    return g;
}

/* ---- exp / sigmoid accuracy ---------------------------------------------------------------- */

static void test_exp_accuracy(void **state) {
    (void)state;
    double worst = 0;
    float worst_x = 0;
    /* every 61st float from -0 down to -104 */
    for (uint32_t u = 0x80000000u; u <= 0xC2D00000u; u += 61) {
        float x = yq_bits_to_f32(u);
        double ref = exp((double)x);
        float y = yq_exp_nonpos_f32(x);
        if (ref >= FLT_MIN) {
            double e = fabs((double)y - ref) / ref;
            if (e > worst) {
                worst = e;
                worst_x = x;
            }
        } else {
            assert_true(fabs((double)y - ref) <= 2e-45);
        }
    }
    print_message("exp: max relative error %.3g at x = %.9g\n", worst, worst_x);
    assert_true(worst <= 1.2e-7);
    assert_true(yq_exp_nonpos_f32(0.0f) == 1.0f);
    assert_true(yq_exp_nonpos_f32(-INFINITY) == 0.0f);
    assert_true(yq_exp_nonpos_f32(-200.0f) == 0.0f);
}

static void test_sigmoid_accuracy(void **state) {
    (void)state;
    double worst = 0;
    float worst_x = 0;
    for (uint32_t u = 0; u <= 0x42D00000u; u += 61) {
        for (int neg = 0; neg < 2; neg++) {
            float x = yq_bits_to_f32(u | (neg ? 0x80000000u : 0));
            double ref = 1.0 / (1.0 + exp(-(double)x));
            float y = yq_sigmoid_f32(x);
            if (ref >= FLT_MIN) {
                double e = fabs((double)y - ref) / ref;
                if (e > worst) {
                    worst = e;
                    worst_x = x;
                }
            } else {
                assert_true(fabs((double)y - ref) <= 2e-45);
            }
        }
    }
    print_message("sigmoid: max relative error %.3g at x = %.9g\n", worst, worst_x);
    assert_true(worst <= 2e-7);
    assert_true(yq_sigmoid_f32(0.0f) == 0.5f);
    assert_true(yq_sigmoid_f32(INFINITY) == 1.0f);
    assert_true(yq_sigmoid_f32(-INFINITY) == 0.0f);
    assert_true(isnan(yq_sigmoid_f32(NAN)));
}

/* The op: float32 through the vectorised kernel (also threaded), double,
 * float16. */
static void test_sigmoid_op(void **state) {
    (void)state;
    enum { N = 70001 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 7;
    for (int i = 0; i < N; i++) x[i] = (float)kg_rand(&seed, -30, 30);
    x[0] = NAN;
    x[1] = INFINITY;
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    const int64_t d[1] = {N};
    int node, out;
    yq_graph *g = unary_node("Sigmoid", 13, YQ_DT_FLOAT, 1, d, x, &node, &out);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    const float *y = kg_val(g, out)->data;
    assert_true(isnan(y[0]));
    assert_true(y[1] == 1.0f);
    for (int i = 2; i < N; i++) {
        double ref = 1.0 / (1.0 + exp(-(double)x[i]));
        assert_true(fabs(y[i] - ref) <= 2e-7 * ref);
        assert_true(f32_bits_equal(y[i], yq_sigmoid_f32(x[i]))); /* same formula on every path */
    }
    yq_graph_free(g);

    const double xd[3] = {-800.0, 0.0, 3.0};
    const int64_t d3[1] = {3};
    g = unary_node("Sigmoid", 13, YQ_DT_DOUBLE, 1, d3, xd, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const double *yd = kg_val(g, out)->data;
    assert_true(yd[0] == 0.0 && yd[1] == 0.5);
    assert_true(fabs(yd[2] - 1.0 / (1.0 + exp(-3.0))) < 1e-16);
    yq_graph_free(g);

    uint16_t xh[3] = {yq_f32_to_f16(-2.0f), yq_f32_to_f16(0.0f), yq_f32_to_f16(5.0f)};
    g = unary_node("Sigmoid", 13, YQ_DT_FLOAT16, 1, d3, xh, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const uint16_t *yh = kg_val(g, out)->data;
    for (int i = 0; i < 3; i++) assert_int_equal(yh[i], yq_f32_to_f16(yq_sigmoid_f32(yq_f16_to_f32(xh[i]))));
    yq_graph_free(g);
    free(x);
    yq_pool_free(pool);
}

/* ---- pointwise activations ----------------------------------------------------------------- */

static void check_pointwise(const char *op, int64_t opset, const float *alpha, const float *beta, const float *x,
                            const float *want, int n) {
    const int64_t d[1] = {n};
    int node, out;
    yq_graph *g = unary_node(op, opset, YQ_DT_FLOAT, 1, d, x, &node, &out);
    if (alpha) assert_int_equal(yq_node_set_attr_float(kg_nodep(g, node), "alpha", *alpha), YQ_OK);
    if (beta) assert_int_equal(yq_node_set_attr_float(kg_nodep(g, node), "beta", *beta), YQ_OK);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float *y = kg_val(g, out)->data;
    for (int i = 0; i < n; i++) {
        if (!(f32_bits_equal(y[i], want[i]) || (isnan(y[i]) && isnan(want[i])) || fabsf(y[i] - want[i]) <= 1e-7f))
            fail_msg("%s(%g) = %.9g, want %.9g", op, x[i], y[i], want[i]);
    }
    yq_graph_free(g);
}

static void test_pointwise_values(void **state) {
    (void)state;
    const float x[7] = {-3.0f, -1.0f, -0.0f, 0.0f, 0.5f, 4.0f, NAN};
    const float relu[7] = {0, 0, -0.0f, 0, 0.5f, 4.0f, NAN};
    check_pointwise("Relu", 14, NULL, NULL, x, relu, 7);
    const float leaky_default[7] = {-0.03f, -0.01f, -0.0f, 0, 0.5f, 4.0f, NAN};
    check_pointwise("LeakyRelu", 16, NULL, NULL, x, leaky_default, 7);
    const float a01 = 0.1f;
    const float leaky[7] = {-3.0f * 0.1f, -0.1f, -0.0f, 0, 0.5f, 4.0f, NAN};
    check_pointwise("LeakyRelu", 16, &a01, NULL, x, leaky, 7);
    /* HardSigmoid default alpha 0.2, beta 0.5; ONNX example alpha 0.5 beta 0.6 */
    const float hs_default[7] = {0.0f, 0.3f, 0.5f, 0.5f, 0.6f, 1.0f, NAN};
    check_pointwise("HardSigmoid", 6, NULL, NULL, x, hs_default, 7);
    const float a05 = 0.5f, b06 = 0.6f;
    const float hs[7] = {0.0f, 0.1f, 0.6f, 0.6f, 0.85f, 1.0f, NAN};
    check_pointwise("HardSigmoid", 6, &a05, &b06, x, hs, 7);
    /* HardSwish: x * clamp(x/6 + 0.5, 0, 1) */
    float hsw[7];
    for (int i = 0; i < 7; i++) {
        float v = x[i] * (1.0f / 6.0f) + 0.5f;
        v = v > 1 ? 1 : v;
        v = v < 0 ? 0 : v;
        hsw[i] = x[i] * v;
    }
    check_pointwise("HardSwish", 14, NULL, NULL, x, hsw, 7);
    float th[7];
    for (int i = 0; i < 7; i++) th[i] = tanhf(x[i]);
    check_pointwise("Tanh", 13, NULL, NULL, x, th, 7);

    /* Relu on int8 (Relu-14) */
    const int8_t xi[4] = {-128, -1, 0, 127};
    const int64_t d4[1] = {4};
    int node, out;
    yq_graph *g = unary_node("Relu", 14, YQ_DT_INT8, 1, d4, xi, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const int8_t want_i[4] = {0, 0, 0, 127};
    assert_memory_equal(kg_val(g, out)->data, want_i, 4);
    yq_graph_free(g);
}

/* ---- Softmax -------------------------------------------------------------------------------- */

/* Double reference over (outer, len, inner). x - max is taken in float, as
 * any float32 softmax does (numpy, ONNX Runtime): for large inputs that
 * rounding, not the exp, dominates the error. */
static void softmax_ref(const float *x, double *y, int64_t outer, int64_t len, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i;
            float mx = -INFINITY;
            double s = 0;
            for (int64_t k = 0; k < len; k++) mx = xp[k * inner] > mx ? xp[k * inner] : mx;
            for (int64_t k = 0; k < len; k++) s += exp((double)(xp[k * inner] - mx));
            for (int64_t k = 0; k < len; k++)
                y[o * len * inner + i + k * inner] = exp((double)(xp[k * inner] - mx)) / s;
        }
}

static void check_softmax(int64_t opset, int rank, const int64_t *dims, int has_axis, int64_t axis, int64_t outer,
                          int64_t len, int64_t inner, double scale, yq_pool *pool) {
    int64_t n = yq_numel(rank, dims);
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    uint64_t seed = (uint64_t)(n * 31 + opset);
    for (int64_t i = 0; i < n; i++) x[i] = (float)kg_rand(&seed, -scale, scale);
    softmax_ref(x, ref, outer, len, inner);
    int node, out;
    yq_graph *g = unary_node("Softmax", opset, YQ_DT_FLOAT, rank, dims, x, &node, &out);
    if (has_axis) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "axis", axis), YQ_OK);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    const float *y = kg_val(g, out)->data;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(y[i] - ref[i]) <= 1e-6 * ref[i] + 1e-37))
            fail_msg("softmax opset %lld elem %lld: %.9g vs %.9g", (long long)opset, (long long)i, y[i], ref[i]);
    yq_graph_free(g);
    free(x);
    free(ref);
}

static void test_softmax(void **state) {
    (void)state;
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    const int64_t d345[3] = {3, 4, 5};
    /* opset 13: along the axis */
    check_softmax(13, 3, d345, 0, 0, 12, 5, 1, 3, NULL);  /* default -1 */
    check_softmax(13, 3, d345, 1, 0, 1, 3, 20, 3, NULL);  /* axis 0 */
    check_softmax(13, 3, d345, 1, 1, 3, 4, 5, 3, NULL);   /* axis 1 */
    check_softmax(13, 3, d345, 1, -2, 3, 4, 5, 3, NULL);  /* negative */
    /* opset 11: coerced to 2-D at axis (default 1): rows of 4*5 */
    check_softmax(11, 3, d345, 0, 0, 3, 20, 1, 3, NULL);
    check_softmax(11, 3, d345, 1, 0, 1, 60, 1, 3, NULL);
    check_softmax(11, 3, d345, 1, -1, 12, 5, 1, 3, NULL);
    /* large inputs: numerically stable */
    check_softmax(13, 3, d345, 0, 0, 12, 5, 1, 5000, NULL);
    /* inner > one column block (256), YOLO-like DFL layout, and threads */
    const int64_t dfl[4] = {1, 16, 4, 700};
    check_softmax(13, 4, dfl, 1, 1, 1, 16, 2800, 4, pool);
    const int64_t rows[2] = {300, 600};
    check_softmax(13, 2, rows, 0, 0, 300, 600, 1, 10, pool);

    /* the ONNX example: [[-1, 0, 1]] */
    const int64_t d13[2] = {1, 3};
    const float ex[3] = {-1, 0, 1};
    int node, out;
    yq_graph *g = unary_node("Softmax", 13, YQ_DT_FLOAT, 2, d13, ex, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float want[3] = {0.09003058f, 0.24472848f, 0.66524094f};
    for (int i = 0; i < 3; i++) assert_float_equal(((const float *)kg_val(g, out)->data)[i], want[i], 1e-7);
    yq_graph_free(g);

    /* double and float16 through the generic line path */
    const double xd[6] = {1000, 1001, 1002, -1, 0, 1};
    const int64_t d23[2] = {2, 3};
    g = unary_node("Softmax", 13, YQ_DT_DOUBLE, 2, d23, xd, &node, &out);
    assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "axis", 0), YQ_OK);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const double *yd = kg_val(g, out)->data;
    for (int j = 0; j < 3; j++) {
        assert_true(fabs(yd[j] - 1.0) < 1e-12);
        assert_true(yd[3 + j] < 1e-300);
    }
    yq_graph_free(g);
    uint16_t xh[3] = {yq_f32_to_f16(-1), yq_f32_to_f16(0), yq_f32_to_f16(1)};
    g = unary_node("Softmax", 13, YQ_DT_FLOAT16, 2, d13, xh, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(((const uint16_t *)kg_val(g, out)->data)[i], yq_f32_to_f16(want[i]));
    yq_graph_free(g);

    /* bad axis */
    g = kg_new(13);
    int xin = kg_typed(g, YQ_DT_FLOAT, 3, d345);
    node = kg_node(g, "Softmax", &xin, 1, &out);
    assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "axis", 3), YQ_OK);
    assert_int_equal(kg_infer(g, node), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "axis 3"));
    yq_graph_free(g);
    yq_pool_free(pool);
}

/* ---- Clip ---------------------------------------------------------------------------------- */

static void test_clip_inputs(void **state) {
    (void)state;
    const int64_t d[1] = {6};
    const float x[6] = {-5, -1, 0, 1, 5, NAN};
    const float lo = -1.5f, hi = 2.0f;
    struct {
        int has_min, has_max;
        float want[6];
    } cases[] = {
        {1, 1, {-1.5f, -1, 0, 1, 2, NAN}},
        {1, 0, {-1.5f, -1, 0, 1, 5, NAN}},
        {0, 1, {-5, -1, 0, 1, 2, NAN}},
        {0, 0, {-5, -1, 0, 1, 5, NAN}},
    };
    for (size_t k = 0; k < 4; k++) {
        yq_graph *g = kg_new(13);
        int in[3] = {kg_const(g, YQ_DT_FLOAT, 1, d, x), cases[k].has_min ? kg_const(g, YQ_DT_FLOAT, 0, NULL, &lo) : -1,
                     cases[k].has_max ? kg_const(g, YQ_DT_FLOAT, 0, NULL, &hi) : -1};
        int nin = cases[k].has_max ? 3 : cases[k].has_min ? 2 : 1;
        int out;
        int node = kg_node(g, "Clip", in, nin, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        const float *y = kg_val(g, out)->data;
        for (int i = 0; i < 6; i++)
            assert_true(f32_bits_equal(y[i], cases[k].want[i]) || (isnan(y[i]) && isnan(cases[k].want[i])));
        yq_graph_free(g);
    }
    /* min > max: everything becomes max */
    yq_graph *g = kg_new(13);
    const float lo2 = 3, hi2 = 1;
    int in[3] = {kg_const(g, YQ_DT_FLOAT, 1, d, x), kg_const(g, YQ_DT_FLOAT, 0, NULL, &lo2),
                 kg_const(g, YQ_DT_FLOAT, 0, NULL, &hi2)};
    int out;
    int node = kg_node(g, "Clip", in, 3, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    for (int i = 0; i < 5; i++) assert_true(((const float *)kg_val(g, out)->data)[i] == 1.0f);
    yq_graph_free(g);
}

static void test_clip_int_and_attrs(void **state) {
    (void)state;
    /* int8 clip as in QCDQ graphs (min only, max only) */
    const int64_t d[1] = {5};
    const int8_t x[5] = {-128, -10, 0, 10, 127};
    const int8_t lo = -5, hi = 6;
    yq_graph *g = kg_new(13);
    int in[3] = {kg_const(g, YQ_DT_INT8, 1, d, x), kg_const(g, YQ_DT_INT8, 0, NULL, &lo),
                 kg_const(g, YQ_DT_INT8, 0, NULL, &hi)};
    int out;
    int node = kg_node(g, "Clip", in, 3, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const int8_t want[5] = {-5, -5, 0, 6, 6};
    assert_memory_equal(kg_val(g, out)->data, want, 5);
    int in_min[2] = {in[0], in[1]};
    node = kg_node(g, "Clip", in_min, 2, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const int8_t want_min[5] = {-5, -5, 0, 10, 127};
    assert_memory_equal(kg_val(g, out)->data, want_min, 5);
    yq_graph_free(g);

    const uint8_t xu[4] = {0, 100, 200, 255}, hiu = 150;
    g = kg_new(13);
    const int64_t d4[1] = {4};
    int inu[3] = {kg_const(g, YQ_DT_UINT8, 1, d4, xu), -1, kg_const(g, YQ_DT_UINT8, 1, (const int64_t[]){1}, &hiu)};
    node = kg_node(g, "Clip", inu, 3, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const uint8_t want_u[4] = {0, 100, 150, 150};
    assert_memory_equal(kg_val(g, out)->data, want_u, 4);
    yq_graph_free(g);

    /* opset 6: attributes; absent ones mean no bound */
    const float xf[4] = {-3, -0.5f, 0.5f, 3};
    g = kg_new(6);
    int inf = kg_const(g, YQ_DT_FLOAT, 1, d4, xf);
    node = kg_node(g, "Clip", &inf, 1, &out);
    assert_int_equal(yq_node_set_attr_float(kg_nodep(g, node), "min", -1.0f), YQ_OK);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float want_f[4] = {-1, -0.5f, 0.5f, 3};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    assert_int_equal(yq_node_set_attr_float(kg_nodep(g, node), "max", 0.25f), YQ_OK);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float want_f2[4] = {-1, -0.5f, 0.25f, 0.25f};
    assert_memory_equal(kg_val(g, out)->data, want_f2, sizeof want_f2);
    yq_graph_free(g);
}

static void test_clip_errors(void **state) {
    (void)state;
    const int64_t d[1] = {4}, d2[1] = {2};
    /* bounds must be scalars of the input's type */
    yq_graph *g = kg_new(13);
    int in[3] = {kg_typed(g, YQ_DT_FLOAT, 1, d), kg_typed(g, YQ_DT_FLOAT, 1, d2), -1};
    int node = kg_node(g, "Clip", in, 2, NULL);
    assert_int_equal(kg_infer(g, node), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "scalar"));
    yq_graph_free(g);
    g = kg_new(13);
    int in2[2] = {kg_typed(g, YQ_DT_FLOAT, 1, d), kg_typed(g, YQ_DT_INT8, 0, NULL)};
    node = kg_node(g, "Clip", in2, 2, NULL);
    assert_int_equal(kg_infer(g, node), YQ_ERR_INVALID);
    yq_graph_free(g);
    /* Clip-6 has no inputs beyond x and only float types */
    g = kg_new(6);
    int in3[2] = {kg_typed(g, YQ_DT_FLOAT, 1, d), kg_typed(g, YQ_DT_FLOAT, 0, NULL)};
    node = kg_node(g, "Clip", in3, 2, NULL);
    assert_int_equal(kg_infer(g, node), YQ_ERR_INVALID);
    yq_graph_free(g);
    g = kg_new(6);
    int in4 = kg_typed(g, YQ_DT_INT8, 1, d);
    node = kg_node(g, "Clip", &in4, 1, NULL);
    assert_int_equal(kg_infer(g, node), YQ_ERR_UNSUPPORTED);
    yq_graph_free(g);
    /* Sigmoid of an integer */
    g = kg_new(13);
    int in5 = kg_typed(g, YQ_DT_INT32, 1, d);
    node = kg_node(g, "Sigmoid", &in5, 1, NULL);
    assert_int_equal(kg_infer(g, node), YQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(yq_last_error(), "Sigmoid"));
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_accuracy),
        cmocka_unit_test(test_sigmoid_accuracy),
        cmocka_unit_test(test_sigmoid_op),
        cmocka_unit_test(test_pointwise_values),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_clip_inputs),
        cmocka_unit_test(test_clip_int_and_attrs),
        cmocka_unit_test(test_clip_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
