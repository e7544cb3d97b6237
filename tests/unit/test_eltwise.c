/* Elementwise kernels (src/rt/kernels/eltwise.c): hand-computed values,
 * broadcasting against a naive reference, integer wrap-around and division
 * rules, Mod's two sign conventions, Pow type mixes, variadic Max/Min,
 * comparisons, Where, unary math, float16, and the infer errors.
 * Tolerances: float results are compared bit-for-bit where the reference
 * evaluates the same float expression; libm-based unary ops likewise. */
#include "testutil.h"

#include <math.h>

#include "kernel_graph.h"

/* Input index that output element oi reads under numpy broadcasting. */
static int64_t bcast_index(int orank, const int64_t *odims, int64_t oi, int irank, const int64_t *idims) {
    int64_t idx = 0, stride = 1;
    for (int d = orank - 1; d >= 0; d--) {
        int64_t c = oi % odims[d];
        oi /= odims[d];
        int id = d - (orank - irank);
        if (id >= 0) {
            if (idims[id] != 1) idx += c * stride;
            stride *= idims[id];
        }
    }
    return idx;
}

/* Binary node on two constants; returns the graph, sets *out. */
static yq_graph *binary(const char *op, int64_t opset, yq_dtype dt_a, int ra, const int64_t *da, const void *a,
                        yq_dtype dt_b, int rb, const int64_t *db, const void *b, yq_pool *pool, int *out) {
    yq_graph *g = kg_new(opset);
    int in[2] = {kg_const(g, dt_a, ra, da, a), kg_const(g, dt_b, rb, db, b)};
    int node = kg_node(g, op, in, 2, out);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    return g;
}

/* ---- float arithmetic: hand values ----------------------------------------------- */

static void test_arith_f32_values(void **state) {
    (void)state;
    const int64_t d[1] = {4};
    const float a[4] = {1.5f, -2.0f, 0.0f, 7.0f}, b[4] = {0.5f, 4.0f, -3.0f, 2.0f};
    struct {
        const char *op;
        float want[4];
    } cases[] = {
        {"Add", {2.0f, 2.0f, -3.0f, 9.0f}},
        {"Sub", {1.0f, -6.0f, 3.0f, 5.0f}},
        {"Mul", {0.75f, -8.0f, -0.0f, 14.0f}},
        {"Div", {3.0f, -0.5f, -0.0f, 3.5f}},
        {"Max", {1.5f, 4.0f, 0.0f, 7.0f}},
        {"Min", {0.5f, -2.0f, -3.0f, 2.0f}},
        {"Pow", {1.2247448713915890f, 16.0f, INFINITY, 49.0f}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int out;
        yq_graph *g = binary(cases[k].op, 17, YQ_DT_FLOAT, 1, d, a, YQ_DT_FLOAT, 1, d, b, NULL, &out);
        const yq_value *v = kg_val(g, out);
        assert_int_equal(v->dtype, YQ_DT_FLOAT);
        assert_int_equal(v->rank, 1);
        assert_int_equal(v->dims[0], 4);
        const float *y = v->data;
        for (int i = 0; i < 4; i++) {
            if (!f32_bits_equal(y[i], cases[k].want[i]) && fabsf(y[i] - cases[k].want[i]) > 1e-6f)
                fail_msg("%s[%d] = %.9g, want %.9g", cases[k].op, i, y[i], cases[k].want[i]);
        }
        yq_graph_free(g);
    }
}

/* ---- broadcasting against a naive reference ------------------------------------------- */

typedef struct shape_pair {
    int ra;
    int64_t da[4];
    int rb;
    int64_t db[4];
} shape_pair;

static const shape_pair k_pairs[] = {
    {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}}, /* same shape */
    {4, {2, 3, 4, 5}, 1, {5}},          /* trailing vector */
    {4, {2, 3, 4, 5}, 0, {0}},          /* scalar right */
    {0, {0}, 4, {2, 3, 4, 5}},          /* scalar left */
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}}, /* per-channel */
    {4, {1, 3, 1, 1}, 4, {2, 3, 4, 5}}, /* per-channel, swapped */
    {4, {2, 1, 4, 1}, 4, {1, 3, 1, 5}}, /* both broadcast */
    {3, {3, 1, 5}, 4, {2, 3, 4, 1}},    /* rank differs, both broadcast */
    {2, {4, 1}, 1, {3}},                /* outer product */
    {1, {1}, 1, {1}},
    {4, {7, 1, 1, 9}, 4, {1, 6, 5, 1}},
    {3, {2, 0, 3}, 1, {3}},           /* empty */
    {4, {1, 64, 80, 80}, 4, {1, 64, 1, 1}}, /* large: parallel per-channel */
    {3, {1, 2, 8400}, 3, {1, 1, 8400}},
    {1, {300001}, 1, {300001}},
    {3, {3, 50, 700}, 3, {3, 1, 700}}, /* large general path (middle broadcast) */
};

static float ref_op(const char *op, float a, float b) {
    if (!strcmp(op, "Add")) return a + b;
    if (!strcmp(op, "Sub")) return a - b;
    if (!strcmp(op, "Mul")) return a * b;
    if (!strcmp(op, "Div")) return a / b;
    if (!strcmp(op, "Max")) return a > b ? a : b;
    if (!strcmp(op, "Min")) return a < b ? a : b;
    if (!strcmp(op, "Less")) return a < b;
    if (!strcmp(op, "Greater")) return a > b;
    return NAN;
}

static void test_broadcast_vs_reference(void **state) {
    (void)state;
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Less", "Greater"};
    uint64_t seed = 12345;
    for (size_t p = 0; p < sizeof k_pairs / sizeof k_pairs[0]; p++) {
        const shape_pair *sp = &k_pairs[p];
        int64_t na = yq_numel(sp->ra, sp->da), nb = yq_numel(sp->rb, sp->db);
        float *a = malloc((size_t)(na + 1) * 4), *b = malloc((size_t)(nb + 1) * 4);
        for (int64_t i = 0; i < na; i++) a[i] = (float)kg_rand(&seed, -4, 4);
        for (int64_t i = 0; i < nb; i++) b[i] = (float)kg_rand(&seed, 0.25, 3) * (i % 3 ? 1.0f : -1.0f);
        int orank;
        int64_t od[YQ_MAX_RANK];
        assert_int_equal(yq_broadcast_shape(sp->ra, sp->da, sp->rb, sp->db, &orank, od), YQ_OK);
        int64_t no = yq_numel(orank, od);
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            int cmp = !strcmp(ops[k], "Less") || !strcmp(ops[k], "Greater");
            for (int threaded = 0; threaded < 2; threaded++) {
                if (threaded && no < 100000) continue;
                int out;
                yq_graph *g = binary(ops[k], 17, YQ_DT_FLOAT, sp->ra, sp->da, a, YQ_DT_FLOAT, sp->rb, sp->db, b,
                                     threaded ? pool : NULL, &out);
                const yq_value *v = kg_val(g, out);
                assert_int_equal(v->dtype, cmp ? YQ_DT_BOOL : YQ_DT_FLOAT);
                assert_int_equal(v->rank, orank);
                for (int d = 0; d < orank; d++) assert_int_equal(v->dims[d], od[d]);
                for (int64_t i = 0; i < no; i++) {
                    float x = a[bcast_index(orank, od, i, sp->ra, sp->da)];
                    float y = b[bcast_index(orank, od, i, sp->rb, sp->db)];
                    float want = ref_op(ops[k], x, y);
                    float got = cmp ? (float)((const uint8_t *)v->data)[i] : ((const float *)v->data)[i];
                    if (!f32_bits_equal(got, want))
                        fail_msg("pair %zu %s threaded=%d elem %lld: got %.9g want %.9g", p, ops[k], threaded,
                                 (long long)i, got, want);
                }
                yq_graph_free(g);
            }
        }
        free(a);
        free(b);
    }
    yq_pool_free(pool);
}

/* ---- integers ------------------------------------------------------------------------- */

static void test_int_wraparound_and_division(void **state) {
    (void)state;
    const int64_t d[1] = {6};
    {
        const int8_t a[6] = {100, -100, 127, -128, 5, -7}, b[6] = {100, -100, 1, -1, 0, 2};
        int out;
        yq_graph *g = binary("Add", 14, YQ_DT_INT8, 1, d, a, YQ_DT_INT8, 1, d, b, NULL, &out);
        const int8_t want[6] = {-56, 56, -128, 127, 5, -5};
        assert_memory_equal(kg_val(g, out)->data, want, 6);
        yq_graph_free(g);
        g = binary("Div", 14, YQ_DT_INT8, 1, d, a, YQ_DT_INT8, 1, d, b, NULL, &out);
        /* truncation toward zero; -128 / -1 wraps; x / 0 = 0 */
        const int8_t want_div[6] = {1, 1, 127, -128, 0, -3};
        assert_memory_equal(kg_val(g, out)->data, want_div, 6);
        yq_graph_free(g);
        g = binary("Mul", 14, YQ_DT_INT8, 1, d, a, YQ_DT_INT8, 1, d, b, NULL, &out);
        const int8_t want_mul[6] = {16, 16, 127, -128, 0, -14}; /* 10000 mod 256 = 16 */
        assert_memory_equal(kg_val(g, out)->data, want_mul, 6);
        yq_graph_free(g);
    }
    {
        const int32_t a[6] = {INT32_MAX, INT32_MIN, 7, -7, 65536, INT32_MIN};
        const int32_t b[6] = {1, 1, -2, 2, 65536, -1};
        int out;
        yq_graph *g = binary("Add", 14, YQ_DT_INT32, 1, d, a, YQ_DT_INT32, 1, d, b, NULL, &out);
        const int32_t want_add[6] = {INT32_MIN, INT32_MIN + 1, 5, -5, 131072, INT32_MAX};
        assert_memory_equal(kg_val(g, out)->data, want_add, sizeof want_add);
        yq_graph_free(g);
        g = binary("Sub", 14, YQ_DT_INT32, 1, d, a, YQ_DT_INT32, 1, d, b, NULL, &out);
        const int32_t want_sub[6] = {INT32_MAX - 1, INT32_MAX, 9, -9, 0, INT32_MIN + 1};
        assert_memory_equal(kg_val(g, out)->data, want_sub, sizeof want_sub);
        yq_graph_free(g);
        g = binary("Mul", 14, YQ_DT_INT32, 1, d, a, YQ_DT_INT32, 1, d, b, NULL, &out);
        const int32_t want_mul[6] = {INT32_MAX, INT32_MIN, -14, -14, 0, INT32_MIN}; /* 2^32 wraps to 0 */
        assert_memory_equal(kg_val(g, out)->data, want_mul, sizeof want_mul);
        yq_graph_free(g);
        g = binary("Div", 14, YQ_DT_INT32, 1, d, a, YQ_DT_INT32, 1, d, b, NULL, &out);
        const int32_t want_div[6] = {INT32_MAX, INT32_MIN, -3, -3, 1, INT32_MIN};
        assert_memory_equal(kg_val(g, out)->data, want_div, sizeof want_div);
        yq_graph_free(g);
    }
    {
        const uint16_t a[6] = {3, 65535, 60000, 9, 0, 1}, b[6] = {5, 1, 60000, 4, 0, 65535};
        int out;
        yq_graph *g = binary("Sub", 14, YQ_DT_UINT16, 1, d, a, YQ_DT_UINT16, 1, d, b, NULL, &out);
        const uint16_t want_sub[6] = {65534, 65534, 0, 5, 0, 2};
        assert_memory_equal(kg_val(g, out)->data, want_sub, sizeof want_sub);
        yq_graph_free(g);
        g = binary("Mul", 14, YQ_DT_UINT16, 1, d, a, YQ_DT_UINT16, 1, d, b, NULL, &out);
        const uint16_t want_mul[6] = {15, 65535, (uint16_t)(60000u * 60000u), 36, 0, 65535};
        assert_memory_equal(kg_val(g, out)->data, want_mul, sizeof want_mul);
        yq_graph_free(g);
        g = binary("Div", 14, YQ_DT_UINT16, 1, d, a, YQ_DT_UINT16, 1, d, b, NULL, &out);
        const uint16_t want_div[6] = {0, 65535, 1, 2, 0, 0};
        assert_memory_equal(kg_val(g, out)->data, want_div, sizeof want_div);
        yq_graph_free(g);
    }
    {
        const int64_t a[3] = {INT64_MIN, INT64_MAX, -9}, b[3] = {-1, -1, 4};
        const int64_t d3[1] = {3};
        int out;
        yq_graph *g = binary("Div", 14, YQ_DT_INT64, 1, d3, a, YQ_DT_INT64, 1, d3, b, NULL, &out);
        const int64_t want[3] = {INT64_MIN, -INT64_MAX, -2};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
}

static yq_graph *mod_node(yq_dtype dt, const int64_t *d, const void *a, const void *b, int fmod_attr, int *out,
                          yq_status *st) {
    yq_graph *g = kg_new(13);
    int in[2] = {kg_const(g, dt, 1, d, a), kg_const(g, dt, 1, d, b)};
    int node = kg_node(g, "Mod", in, 2, out);
    if (fmod_attr >= 0) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "fmod", fmod_attr), YQ_OK);
    *st = kg_eval(g, node, NULL);
    return g;
}

static void test_mod(void **state) {
    (void)state;
    const int64_t d[1] = {6};
    yq_status st;
    int out;
    /* the ONNX backend vectors: mixed signs */
    {
        const int32_t a[6] = {-4, 7, 5, 4, -7, 8}, b[6] = {2, -3, 8, -2, 3, 5};
        yq_graph *g = mod_node(YQ_DT_INT32, d, a, b, -1, &out, &st);
        assert_int_equal(st, YQ_OK);
        const int32_t want_py[6] = {0, -2, 5, 0, 2, 3}; /* sign of the divisor */
        assert_memory_equal(kg_val(g, out)->data, want_py, sizeof want_py);
        yq_graph_free(g);
        g = mod_node(YQ_DT_INT32, d, a, b, 1, &out, &st);
        assert_int_equal(st, YQ_OK);
        const int32_t want_c[6] = {0, 1, 5, 0, -1, 3}; /* sign of the dividend */
        assert_memory_equal(kg_val(g, out)->data, want_c, sizeof want_c);
        yq_graph_free(g);
    }
    {
        const int8_t a[6] = {-128, -128, 0, 13, -13, 5}, b[6] = {-1, 3, -5, 0, 4, -4};
        yq_graph *g = mod_node(YQ_DT_INT8, d, a, b, 0, &out, &st);
        assert_int_equal(st, YQ_OK);
        const int8_t want[6] = {0, 1, 0, 0, 3, -3}; /* x mod 0 = 0, INT_MIN mod -1 = 0 */
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        const uint64_t a[6] = {UINT64_MAX, 10, 7, 0, 5, 100}, b[6] = {10, 3, 0, 4, 5, 7};
        yq_graph *g = mod_node(YQ_DT_UINT64, d, a, b, 0, &out, &st);
        assert_int_equal(st, YQ_OK);
        const uint64_t want[6] = {5, 1, 0, 0, 0, 2};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        const float a[6] = {-4.3f, 7.2f, 5.0f, 4.3f, -7.2f, 8.0f}, b[6] = {2.1f, -3.4f, 8.0f, -2.1f, 3.4f, 5.0f};
        yq_graph *g = mod_node(YQ_DT_FLOAT, d, a, b, 1, &out, &st);
        assert_int_equal(st, YQ_OK);
        const float *y = kg_val(g, out)->data;
        for (int i = 0; i < 6; i++) assert_true(f32_bits_equal(y[i], fmodf(a[i], b[i])));
        yq_graph_free(g);
        /* float Mod requires fmod=1 */
        g = mod_node(YQ_DT_FLOAT, d, a, b, -1, &out, &st);
        assert_int_equal(st, YQ_ERR_INVALID);
        assert_non_null(strstr(yq_last_error(), "fmod"));
        yq_graph_free(g);
    }
    {
        /* float16 with fmod: computed in float, rounded back */
        uint16_t a[6], b[6];
        const float af[6] = {-4.3f, 7.2f, 5.0f, 4.3f, -7.2f, 8.0f}, bf[6] = {2.1f, -3.4f, 8.0f, -2.1f, 3.4f, 5.0f};
        for (int i = 0; i < 6; i++) {
            a[i] = yq_f32_to_f16(af[i]);
            b[i] = yq_f32_to_f16(bf[i]);
        }
        yq_graph *g = mod_node(YQ_DT_FLOAT16, d, a, b, 1, &out, &st);
        assert_int_equal(st, YQ_OK);
        const uint16_t *y = kg_val(g, out)->data;
        /* ONNX test_mod_mixed_sign_float16 expected output */
        const float want[6] = {-0.10156f, 0.3984f, 5.0f, 0.10156f, -0.3984f, 3.0f};
        for (int i = 0; i < 6; i++) assert_float_equal(yq_f16_to_f32(y[i]), want[i], 1e-3);
        yq_graph_free(g);
    }
}

/* ---- Pow ------------------------------------------------------------------------------- */

static void test_pow_types(void **state) {
    (void)state;
    const int64_t d[1] = {3};
    int out;
    {
        const int32_t a[3] = {1, 2, 3};
        const float b[3] = {4, 5, 6};
        yq_graph *g = binary("Pow", 15, YQ_DT_INT32, 1, d, a, YQ_DT_FLOAT, 1, d, b, NULL, &out);
        assert_int_equal(kg_val(g, out)->dtype, YQ_DT_INT32);
        const int32_t want[3] = {1, 32, 729};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        const int64_t a[3] = {-3, 2, 7}, b[3] = {3, 62, 0};
        yq_graph *g = binary("Pow", 15, YQ_DT_INT64, 1, d, a, YQ_DT_INT64, 1, d, b, NULL, &out);
        const int64_t want[3] = {-27, (int64_t)1 << 62, 1};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        /* negative integer exponents: the integer part of the real result */
        const int64_t a[3] = {-1, 1, 2}, b[3] = {-3, -5, -1};
        yq_graph *g = binary("Pow", 15, YQ_DT_INT64, 1, d, a, YQ_DT_INT64, 1, d, b, NULL, &out);
        const int64_t want[3] = {-1, 1, 0};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        const float a[3] = {1.5f, -2.0f, 10.0f};
        const int64_t b[3] = {2, 3, -1};
        yq_graph *g = binary("Pow", 15, YQ_DT_FLOAT, 1, d, a, YQ_DT_INT64, 1, d, b, NULL, &out);
        assert_int_equal(kg_val(g, out)->dtype, YQ_DT_FLOAT);
        const float want[3] = {2.25f, -8.0f, 0.1f};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        /* Pow scalar exponent broadcast (test_pow_bcast_scalar) */
        const float a[3] = {1, 2, 3}, b = 2;
        yq_graph *g = binary("Pow", 15, YQ_DT_FLOAT, 1, d, a, YQ_DT_FLOAT, 0, NULL, &b, NULL, &out);
        const float want[3] = {1, 4, 9};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
}

/* ---- Max / Min --------------------------------------------------------------------------- */

static void test_max_min_variadic(void **state) {
    (void)state;
    yq_graph *g = kg_new(13);
    const int64_t d3[1] = {3}, d23[2] = {2, 3}, d21[2] = {2, 1};
    const float a[3] = {3, 2, 1}, b[6] = {1, 4, 4, -1, -2, -3}, c[2] = {2, NAN};
    int in[3] = {kg_const(g, YQ_DT_FLOAT, 1, d3, a), kg_const(g, YQ_DT_FLOAT, 2, d23, b),
                 kg_const(g, YQ_DT_FLOAT, 2, d21, c)};
    int omax, omin, oone;
    int nmax = kg_node(g, "Max", in, 3, &omax);
    int nmin = kg_node(g, "Min", in, 3, &omin);
    int none = kg_node(g, "Max", in, 1, &oone);
    assert_int_equal(kg_eval(g, nmax, NULL), YQ_OK);
    assert_int_equal(kg_eval(g, nmin, NULL), YQ_OK);
    assert_int_equal(kg_eval(g, none, NULL), YQ_OK);
    assert_int_equal(kg_val(g, omax)->rank, 2);
    const float *mx = kg_val(g, omax)->data, *mn = kg_val(g, omin)->data;
    const float want_max[3] = {3, 4, 4}, want_min[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        assert_true(f32_bits_equal(mx[i], want_max[i]));
        assert_true(f32_bits_equal(mn[i], want_min[i]));
        assert_true(isnan(mx[3 + i])); /* NaN propagates, like numpy.maximum */
        assert_true(isnan(mn[3 + i]));
    }
    assert_memory_equal(kg_val(g, oone)->data, a, sizeof a);
    yq_graph_free(g);

    /* integer types */
    const uint32_t ua[3] = {4000000000u, 1, 7}, ub[3] = {3, 2, 7};
    int out;
    g = binary("Max", 13, YQ_DT_UINT32, 1, d3, ua, YQ_DT_UINT32, 1, d3, ub, NULL, &out);
    const uint32_t want_u[3] = {4000000000u, 2, 7};
    assert_memory_equal(kg_val(g, out)->data, want_u, sizeof want_u);
    yq_graph_free(g);
    const int16_t sa[3] = {-300, 5, 0}, sb[3] = {-200, -5, 0};
    g = binary("Min", 13, YQ_DT_INT16, 1, d3, sa, YQ_DT_INT16, 1, d3, sb, NULL, &out);
    const int16_t want_s[3] = {-300, -5, 0};
    assert_memory_equal(kg_val(g, out)->data, want_s, sizeof want_s);
    yq_graph_free(g);
}

/* ---- comparisons ---------------------------------------------------------------------------- */

static void test_compare(void **state) {
    (void)state;
    const int64_t d4[1] = {4}, d1[1] = {1};
    const float a[4] = {1, NAN, 3, -0.0f}, b[1] = {1};
    int out;
    yq_graph *g = binary("Equal", 13, YQ_DT_FLOAT, 1, d4, a, YQ_DT_FLOAT, 1, d1, b, NULL, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_BOOL);
    const uint8_t want_eq[4] = {1, 0, 0, 0};
    assert_memory_equal(kg_val(g, out)->data, want_eq, 4);
    yq_graph_free(g);
    g = binary("Less", 13, YQ_DT_FLOAT, 1, d4, a, YQ_DT_FLOAT, 1, d1, b, NULL, &out);
    const uint8_t want_lt[4] = {0, 0, 0, 1};
    assert_memory_equal(kg_val(g, out)->data, want_lt, 4);
    yq_graph_free(g);
    g = binary("Greater", 13, YQ_DT_FLOAT, 1, d4, a, YQ_DT_FLOAT, 1, d1, b, NULL, &out);
    const uint8_t want_gt[4] = {0, 0, 1, 0};
    assert_memory_equal(kg_val(g, out)->data, want_gt, 4);
    yq_graph_free(g);

    const int64_t ia[4] = {-5, 0, INT64_MAX, 3}, ib[4] = {-5, 1, INT64_MIN, 4};
    g = binary("Greater", 13, YQ_DT_INT64, 1, d4, ia, YQ_DT_INT64, 1, d4, ib, NULL, &out);
    const uint8_t want_igt[4] = {0, 0, 1, 0};
    assert_memory_equal(kg_val(g, out)->data, want_igt, 4);
    yq_graph_free(g);

    const uint8_t ba[4] = {0, 1, 1, 0}, bb[4] = {0, 1, 0, 1};
    g = binary("Equal", 13, YQ_DT_BOOL, 1, d4, ba, YQ_DT_BOOL, 1, d4, bb, NULL, &out);
    const uint8_t want_beq[4] = {1, 1, 0, 0};
    assert_memory_equal(kg_val(g, out)->data, want_beq, 4);
    yq_graph_free(g);
}

/* ---- Where ------------------------------------------------------------------------------------ */

static void test_where(void **state) {
    (void)state;
    yq_graph *g = kg_new(16);
    const int64_t dc[2] = {2, 1}, dx[1] = {3}, dy[2] = {1, 3};
    const uint8_t cond[2] = {1, 0};
    const int64_t x[3] = {1, 2, 3}, y[3] = {-1, -2, -3};
    int in[3] = {kg_const(g, YQ_DT_BOOL, 2, dc, cond), kg_const(g, YQ_DT_INT64, 1, dx, x),
                 kg_const(g, YQ_DT_INT64, 2, dy, y)};
    int out;
    int node = kg_node(g, "Where", in, 3, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const yq_value *v = kg_val(g, out);
    assert_int_equal(v->dtype, YQ_DT_INT64);
    assert_int_equal(v->rank, 2);
    assert_int_equal(v->dims[0], 2);
    assert_int_equal(v->dims[1], 3);
    const int64_t want[6] = {1, 2, 3, -1, -2, -3};
    assert_memory_equal(v->data, want, sizeof want);
    yq_graph_free(g);

    /* same-shape float (test_where_example) */
    g = kg_new(16);
    const int64_t d22[2] = {2, 2};
    const uint8_t c2[4] = {1, 0, 1, 1};
    const float fx[4] = {1, 2, 3, 4}, fy[4] = {9, 8, 7, 6};
    int in2[3] = {kg_const(g, YQ_DT_BOOL, 2, d22, c2), kg_const(g, YQ_DT_FLOAT, 2, d22, fx),
                  kg_const(g, YQ_DT_FLOAT, 2, d22, fy)};
    node = kg_node(g, "Where", in2, 3, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float fwant[4] = {1, 8, 3, 4};
    assert_memory_equal(kg_val(g, out)->data, fwant, sizeof fwant);
    yq_graph_free(g);
}

/* ---- unary ---------------------------------------------------------------------------------- */

static yq_graph *unary(const char *op, int64_t opset, yq_dtype dt, int64_t n, const void *x, int *out) {
    yq_graph *g = kg_new(opset);
    const int64_t d[1] = {n};
    int in = kg_const(g, dt, 1, d, x);
    int node = kg_node(g, op, &in, 1, out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    return g;
}

static void test_unary_float(void **state) {
    (void)state;
    const float x[8] = {0.25f, 1.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 100.0f};
    struct {
        const char *op;
        float (*f)(float);
    } cases[] = {{"Sqrt", sqrtf}, {"Exp", expf}, {"Log", logf}, {"Floor", floorf}, {"Ceil", ceilf}, {"Abs", fabsf}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int out;
        yq_graph *g = unary(cases[k].op, 13, YQ_DT_FLOAT, 8, x, &out);
        const float *y = kg_val(g, out)->data;
        for (int i = 0; i < 8; i++) {
            float want = cases[k].f(x[i]);
            if (!f32_bits_equal(y[i], want) && !(isnan(y[i]) && isnan(want)))
                fail_msg("%s(%g) = %.9g, want %.9g", cases[k].op, x[i], y[i], want);
        }
        yq_graph_free(g);
    }
    int out;
    yq_graph *g = unary("Neg", 13, YQ_DT_FLOAT, 8, x, &out);
    for (int i = 0; i < 8; i++) assert_true(f32_bits_equal(((const float *)kg_val(g, out)->data)[i], -x[i]));
    yq_graph_free(g);
    g = unary("Reciprocal", 13, YQ_DT_FLOAT, 8, x, &out);
    for (int i = 0; i < 8; i++) assert_true(f32_bits_equal(((const float *)kg_val(g, out)->data)[i], 1.0f / x[i]));
    yq_graph_free(g);

    /* Round: half to even (ONNX test_round vector) */
    const float r[15] = {0.1f, 0.5f, 0.9f, 1.2f, 1.5f, 1.8f, 2.3f, 2.5f, 2.7f, -1.1f, -1.5f, -1.9f, -2.2f, -2.5f, -2.8f};
    const float rw[15] = {0, 0, 1, 1, 2, 2, 2, 2, 3, -1, -2, -2, -2, -2, -3};
    g = unary("Round", 11, YQ_DT_FLOAT, 15, r, &out);
    const float *ry = kg_val(g, out)->data;
    for (int i = 0; i < 15; i++) assert_true(ry[i] == rw[i]);
    yq_graph_free(g);

    /* double */
    const double xd[3] = {2.0, -0.5, 0.5};
    g = unary("Round", 11, YQ_DT_DOUBLE, 3, xd, &out);
    const double rwd[3] = {2.0, -0.0, 0.0};
    assert_memory_equal(kg_val(g, out)->data, rwd, sizeof rwd);
    yq_graph_free(g);
    g = unary("Sqrt", 13, YQ_DT_DOUBLE, 1, xd, &out);
    assert_true(((const double *)kg_val(g, out)->data)[0] == sqrt(2.0));
    yq_graph_free(g);
}

static void test_unary_int_and_identity(void **state) {
    (void)state;
    int out;
    const int8_t x[4] = {-128, -5, 0, 127};
    yq_graph *g = unary("Abs", 13, YQ_DT_INT8, 4, x, &out);
    const int8_t want_abs[4] = {-128, 5, 0, 127}; /* |-128| wraps */
    assert_memory_equal(kg_val(g, out)->data, want_abs, 4);
    yq_graph_free(g);
    g = unary("Neg", 13, YQ_DT_INT8, 4, x, &out);
    const int8_t want_neg[4] = {-128, 5, 0, -127};
    assert_memory_equal(kg_val(g, out)->data, want_neg, 4);
    yq_graph_free(g);
    const uint8_t u[3] = {0, 200, 255};
    g = unary("Abs", 13, YQ_DT_UINT8, 3, u, &out);
    assert_memory_equal(kg_val(g, out)->data, u, 3);
    yq_graph_free(g);
    const int64_t l[2] = {INT64_MIN, -7};
    g = unary("Neg", 13, YQ_DT_INT64, 2, l, &out);
    const int64_t want_l[2] = {INT64_MIN, 7};
    assert_memory_equal(kg_val(g, out)->data, want_l, sizeof want_l);
    yq_graph_free(g);

    /* Identity keeps any storable type, including bool and unpacked int4 */
    const uint8_t b[3] = {1, 0, 1};
    g = unary("Identity", 16, YQ_DT_BOOL, 3, b, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_BOOL);
    assert_memory_equal(kg_val(g, out)->data, b, 3);
    yq_graph_free(g);
    const int8_t i4[4] = {-8, 7, 0, -1};
    g = unary("Identity", 21, YQ_DT_INT4, 4, i4, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_INT4);
    assert_memory_equal(kg_val(g, out)->data, i4, 4);
    yq_graph_free(g);
}

/* ---- float16 / bfloat16 ----------------------------------------------------------------------- */

static void test_half_types(void **state) {
    (void)state;
    uint64_t seed = 99;
    enum { N = 257 };
    uint16_t a[N], b[N], ab[N], bb[N];
    for (int i = 0; i < N; i++) {
        a[i] = yq_f32_to_f16((float)kg_rand(&seed, -100, 100));
        b[i] = yq_f32_to_f16((float)kg_rand(&seed, 0.5, 50));
        ab[i] = yq_f32_to_bf16((float)kg_rand(&seed, -100, 100));
        bb[i] = yq_f32_to_bf16((float)kg_rand(&seed, 0.5, 50));
    }
    const int64_t d[1] = {N};
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
    for (size_t k = 0; k < 6; k++) {
        int out;
        yq_graph *g = binary(ops[k], 14, YQ_DT_FLOAT16, 1, d, a, YQ_DT_FLOAT16, 1, d, b, NULL, &out);
        assert_int_equal(kg_val(g, out)->dtype, YQ_DT_FLOAT16);
        const uint16_t *y = kg_val(g, out)->data;
        for (int i = 0; i < N; i++) {
            uint16_t want = yq_f32_to_f16(ref_op(ops[k], yq_f16_to_f32(a[i]), yq_f16_to_f32(b[i])));
            if (y[i] != want) fail_msg("f16 %s[%d]: 0x%04x want 0x%04x", ops[k], i, y[i], want);
        }
        yq_graph_free(g);
        g = binary(ops[k], 14, YQ_DT_BFLOAT16, 1, d, ab, YQ_DT_BFLOAT16, 1, d, bb, NULL, &out);
        y = kg_val(g, out)->data;
        for (int i = 0; i < N; i++) {
            uint16_t want = yq_f32_to_bf16(ref_op(ops[k], yq_bf16_to_f32(ab[i]), yq_bf16_to_f32(bb[i])));
            if (y[i] != want) fail_msg("bf16 %s[%d]: 0x%04x want 0x%04x", ops[k], i, y[i], want);
        }
        yq_graph_free(g);
    }
    int out;
    yq_graph *g = unary("Sqrt", 13, YQ_DT_FLOAT16, N, b, &out);
    const uint16_t *y = kg_val(g, out)->data;
    for (int i = 0; i < N; i++) assert_int_equal(y[i], yq_f32_to_f16(sqrtf(yq_f16_to_f32(b[i]))));
    yq_graph_free(g);
}

/* ---- in-place execution through the vtable ------------------------------------------------------ */

static void test_in_place(void **state) {
    (void)state;
    /* The executor may run an elementwise op with the output in an input's
     * buffer; call run() directly with aliased tensors. */
    yq_graph *g = kg_new(14);
    enum { N = 1000 };
    float x[N], y[4], want[N];
    for (int i = 0; i < N; i++) x[i] = (float)i * 0.25f - 30.0f;
    for (int i = 0; i < 4; i++) y[i] = (float)(i + 1);
    const int64_t dx[2] = {250, 4}, dy[1] = {4};
    for (int i = 0; i < N; i++) want[i] = x[i] * y[i % 4];
    int in[2] = {kg_const(g, YQ_DT_FLOAT, 2, dx, x), kg_const(g, YQ_DT_FLOAT, 1, dy, y)};
    int out;
    int node = kg_node(g, "Mul", in, 2, &out);
    assert_int_equal(yq_node_infer(g, node), YQ_OK);
    yq_tensor tin[2] = {yq_value_tensor(kg_val(g, in[0])), yq_value_tensor(kg_val(g, in[1]))};
    yq_tensor tout = tin[0]; /* same buffer */
    yq_run_ctx rc = {.g = g, .node = kg_nodep(g, node), .opset = 14, .nin = 2, .nout = 1, .in = tin, .out = &tout};
    const yq_op_vtable *vt = yq_op_get(YQ_OP_Mul);
    assert_int_equal(vt->run(&rc), YQ_OK);
    assert_memory_equal(kg_val(g, in[0])->data, want, sizeof want);
    yq_graph_free(g);
}

/* ---- infer errors ---------------------------------------------------------------------------------- */

static void expect_infer_error(const char *op, int64_t opset, int nin, const yq_dtype *dts, const int *ranks,
                               const int64_t (*dims)[4], yq_status want, const char *needle) {
    yq_graph *g = kg_new(opset);
    int in[4];
    for (int i = 0; i < nin; i++) in[i] = kg_typed(g, dts[i], ranks[i], dims[i]);
    int node = kg_node(g, op, in, nin, NULL);
    assert_int_equal(kg_infer(g, node), want);
    if (needle && !strstr(yq_last_error(), needle)) fail_msg("'%s' not in '%s'", needle, yq_last_error());
    assert_non_null(strstr(yq_last_error(), op)); /* names the node */
    yq_graph_free(g);
}

static void test_infer_errors(void **state) {
    (void)state;
    const int64_t d[3][4] = {{2, 3}, {2, 3}, {2, 3}};
    const int64_t bad[2][4] = {{2, 3}, {4}};
    const int r2[3] = {2, 2, 2}, rbad[2] = {2, 1};
    const yq_dtype ff[3] = {YQ_DT_FLOAT, YQ_DT_FLOAT, YQ_DT_FLOAT};
    const yq_dtype fi[2] = {YQ_DT_FLOAT, YQ_DT_INT32};
    const yq_dtype bb[2] = {YQ_DT_BOOL, YQ_DT_BOOL};
    const yq_dtype ii[1] = {YQ_DT_INT32};
    const yq_dtype i8[2] = {YQ_DT_INT8, YQ_DT_INT8};
    const yq_dtype wh[3] = {YQ_DT_FLOAT, YQ_DT_FLOAT, YQ_DT_FLOAT};
    expect_infer_error("Add", 14, 2, fi, r2, d, YQ_ERR_INVALID, "int32");
    expect_infer_error("Add", 14, 2, ff, rbad, bad, YQ_ERR_INVALID, "broadcast");
    expect_infer_error("Add", 14, 2, bb, r2, d, YQ_ERR_UNSUPPORTED, "bool");
    expect_infer_error("Less", 13, 2, bb, r2, d, YQ_ERR_UNSUPPORTED, "bool");
    expect_infer_error("Add", 14, 1, ff, r2, d, YQ_ERR_INVALID, "expects 2 inputs");
    expect_infer_error("Sqrt", 13, 1, ii, r2, d, YQ_ERR_UNSUPPORTED, "int32");
    expect_infer_error("Pow", 15, 2, i8, r2, d, YQ_ERR_UNSUPPORTED, "int8");
    expect_infer_error("Where", 16, 3, wh, r2, d, YQ_ERR_INVALID, "bool");
    expect_infer_error("Max", 13, 2, fi, r2, d, YQ_ERR_INVALID, "int32");
    /* a dynamic dimension is refused cleanly */
    const int64_t dyn[2][4] = {{-1, 3}, {2, 3}};
    expect_infer_error("Mul", 14, 2, ff, r2, dyn, YQ_ERR_UNSUPPORTED, "dynamic");
}

static void test_flops(void **state) {
    (void)state;
    yq_graph *g = kg_new(14);
    const int64_t d[2] = {3, 5};
    int in[2] = {kg_typed(g, YQ_DT_FLOAT, 2, d), kg_typed(g, YQ_DT_FLOAT, 2, d)};
    int node = kg_node(g, "Add", in, 2, NULL);
    assert_int_equal(yq_node_infer(g, node), YQ_OK);
    const yq_op_vtable *vt = yq_op_get(YQ_OP_Add);
    assert_non_null(vt->flops);
    assert_true(vt->flops(g, kg_nodep(g, node)) == 15.0);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith_f32_values),
        cmocka_unit_test(test_broadcast_vs_reference),
        cmocka_unit_test(test_int_wraparound_and_division),
        cmocka_unit_test(test_mod),
        cmocka_unit_test(test_pow_types),
        cmocka_unit_test(test_max_min_variadic),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_unary_float),
        cmocka_unit_test(test_unary_int_and_identity),
        cmocka_unit_test(test_half_types),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_infer_errors),
        cmocka_unit_test(test_flops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
