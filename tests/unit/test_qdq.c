/* QuantizeLinear / DequantizeLinear (src/rt/kernels/qdq.c): the ONNX backend
 * vectors, round half to even before the zero point is added, saturation of
 * every quantized type, division (not multiplication by the reciprocal),
 * per-axis (positive / negative axis, long and short rows), blocked (opset
 * 21), int32 and 4-bit DQ, float16 scales, missing zero points and
 * output_dtype, threads, and infer errors. Every comparison is bit-exact
 * against an independent scalar reference. */
#include "testutil.h"

#include <math.h>

#include "kernel_graph.h"

/* Reference Q: divide in float, round half to even, add zp, saturate. NaN
 * saturates low (ONNX Runtime's behaviour). */
static int32_t q_ref(float x, float s, int32_t zp, int32_t qmin, int32_t qmax) {
    float v = x / s;
    if (isnan(v)) return qmin;
    if (v > 1e9f) v = 1e9f;
    if (v < -1e9f) v = -1e9f;
    int64_t r = (int64_t)nearbyintf(v) + zp;
    return (int32_t)(r < qmin ? qmin : r > qmax ? qmax : r);
}

typedef struct qspec {
    int64_t opset;
    int rank;
    const int64_t *dims;
    const float *x;
    int srank;
    const int64_t *sdims;
    const void *scale;
    yq_dtype sdt;
    const void *zp; /* NULL: omitted */
    yq_dtype zdt;
    int64_t axis;      /* INT64_MIN: attribute absent */
    int64_t block;     /* 0: absent */
    int64_t out_dtype; /* 0: absent */
} qspec;

static yq_graph *qdq_graph(const char *op, const qspec *q, yq_dtype xdt, const void *x, int *node, int *out) {
    yq_graph *g = kg_new(q->opset);
    int in[3] = {kg_const(g, xdt, q->rank, q->dims, x), kg_const(g, q->sdt, q->srank, q->sdims, q->scale),
                 q->zp ? kg_const(g, q->zdt, q->srank, q->sdims, q->zp) : -1};
    *node = kg_node(g, op, in, q->zp ? 3 : 2, out);
    yq_node *n = kg_nodep(g, *node);
    if (q->axis != INT64_MIN) assert_int_equal(yq_node_set_attr_int(n, "axis", q->axis), YQ_OK);
    if (q->block) assert_int_equal(yq_node_set_attr_int(n, "block_size", q->block), YQ_OK);
    if (q->out_dtype) assert_int_equal(yq_node_set_attr_int(n, "output_dtype", q->out_dtype), YQ_OK);
    return g;
}

static yq_graph *quantize(const qspec *q, yq_pool *pool, int *out) {
    int node;
    yq_graph *g = qdq_graph("QuantizeLinear", q, YQ_DT_FLOAT, q->x, &node, out);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    return g;
}

/* ---- per-tensor ------------------------------------------------------------------------------ */

static void test_quantize_onnx_vector(void **state) {
    (void)state;
    const int64_t d[1] = {6};
    const float x[6] = {0, 2, 3, 1000, -254, -1000}, s = 2;
    const uint8_t zp = 128;
    qspec q = {.opset = 13, .rank = 1, .dims = d, .x = x, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp,
               .zdt = YQ_DT_UINT8, .axis = INT64_MIN};
    int out;
    yq_graph *g = quantize(&q, NULL, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_UINT8);
    const uint8_t want[6] = {128, 129, 130, 255, 1, 0};
    assert_memory_equal(kg_val(g, out)->data, want, 6);
    yq_graph_free(g);
}

static void test_round_half_even(void **state) {
    (void)state;
    const int64_t d[1] = {8};
    const float x[8] = {0.5f, 1.5f, -2.5f, -0.5f, 2.5f, -1.5f, 0.49999997f, 3.5f};
    const float s = 1.0f;
    const int8_t zp0 = 0, zp3 = 3;
    qspec q = {.opset = 13, .rank = 1, .dims = d, .x = x, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp0,
               .zdt = YQ_DT_INT8, .axis = INT64_MIN};
    int out;
    yq_graph *g = quantize(&q, NULL, &out);
    const int8_t want[8] = {0, 2, -2, 0, 2, -2, 0, 4};
    assert_memory_equal(kg_val(g, out)->data, want, 8);
    yq_graph_free(g);
    /* the zero point is added after rounding: 0.5 -> 0 + 3, not round(3.5) = 4 */
    q.zp = &zp3;
    g = quantize(&q, NULL, &out);
    const int8_t want3[8] = {3, 5, 1, 3, 5, 1, 3, 7};
    assert_memory_equal(kg_val(g, out)->data, want3, 8);
    yq_graph_free(g);
    /* division, not multiplication by 1/scale: here x / s = 2.50000024 -> 3,
     * while x * (1 / s) = 2.5 exactly would round to 2 */
    float x2[1], s2;
    const uint32_t x2_bits = 0x3b6075f9u, s2_bits = 0x3ab39193u; /* 0.00342500047, 0.00137000007 */
    memcpy(x2, &x2_bits, 4);
    memcpy(&s2, &s2_bits, 4);
    volatile float recip = 1.0f / s2;
    assert_true(x2[0] * recip == 2.5f); /* the trap is real */
    const int64_t d1[1] = {1};
    qspec q2 = {.opset = 13, .rank = 1, .dims = d1, .x = x2, .scale = &s2, .sdt = YQ_DT_FLOAT, .zp = &zp0,
                .zdt = YQ_DT_INT8, .axis = INT64_MIN};
    g = quantize(&q2, NULL, &out);
    assert_int_equal(((const int8_t *)kg_val(g, out)->data)[0], 3);
    yq_graph_free(g);
}

static void test_saturation(void **state) {
    (void)state;
    const int64_t d[1] = {6};
    const float x[6] = {-1e6f, 1e6f, NAN, INFINITY, -INFINITY, 0.0f};
    const float s = 1.0f;
    struct {
        yq_dtype dt;
        int32_t qmin, qmax;
    } types[] = {{YQ_DT_INT8, -128, 127},       {YQ_DT_UINT8, 0, 255}, {YQ_DT_INT16, -32768, 32767},
                 {YQ_DT_UINT16, 0, 65535},      {YQ_DT_INT4, -8, 7},   {YQ_DT_UINT4, 0, 15}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int64_t zp_val = types[t].qmin < 0 ? -3 : 5;
        unsigned char zp[8];
        size_t es = yq_dtype_size(types[t].dt);
        if (es == 1) {
            int8_t v = (int8_t)zp_val;
            memcpy(zp, &v, 1);
        } else {
            int16_t v = (int16_t)zp_val;
            memcpy(zp, &v, 2);
        }
        qspec q = {.opset = 21, .rank = 1, .dims = d, .x = x, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = zp,
                   .zdt = types[t].dt, .axis = INT64_MIN};
        int out;
        yq_graph *g = quantize(&q, NULL, &out);
        const yq_value *v = kg_val(g, out);
        assert_int_equal(v->dtype, types[t].dt);
        const int64_t want[6] = {types[t].qmin, types[t].qmax, types[t].qmin, types[t].qmax, types[t].qmin, zp_val};
        for (int i = 0; i < 6; i++) {
            int64_t got = yq_elem_as_int64(types[t].dt, v->data, i);
            if (got != want[i]) fail_msg("%s elem %d: %lld, want %lld", yq_dtype_name(types[t].dt), i, (long long)got,
                                         (long long)want[i]);
        }
        yq_graph_free(g);
    }
}

/* No zero point: uint8 output; opset 21 output_dtype chooses it. */
static void test_missing_zero_point(void **state) {
    (void)state;
    const int64_t d[1] = {4};
    const float x[4] = {-3.0f, 0.6f, 10.0f, 600.0f}, s = 2.0f;
    qspec q = {.opset = 13, .rank = 1, .dims = d, .x = x, .scale = &s, .sdt = YQ_DT_FLOAT, .axis = INT64_MIN};
    int out;
    yq_graph *g = quantize(&q, NULL, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_UINT8);
    const uint8_t want_u8[4] = {0, 0, 5, 255};
    assert_memory_equal(kg_val(g, out)->data, want_u8, 4);
    yq_graph_free(g);
    q.opset = 21;
    q.out_dtype = YQ_DT_INT4;
    g = quantize(&q, NULL, &out);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_INT4);
    const int8_t want_i4[4] = {-2, 0, 5, 7};
    assert_memory_equal(kg_val(g, out)->data, want_i4, 4);
    yq_graph_free(g);
    /* DQ without a zero point */
    const uint8_t xq[3] = {0, 7, 255};
    int node;
    qspec dq = {.opset = 13, .rank = 1, .dims = (const int64_t[]){3}, .scale = &s, .sdt = YQ_DT_FLOAT, .axis = INT64_MIN};
    g = qdq_graph("DequantizeLinear", &dq, YQ_DT_UINT8, xq, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float want_f[3] = {0, 14, 510};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    yq_graph_free(g);
}

/* ---- per-axis ------------------------------------------------------------------------------------ */

static void test_per_axis_onnx_vectors(void **state) {
    (void)state;
    const int64_t d[4] = {1, 3, 3, 2}, ds[1] = {3};
    const float x[18] = {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960, -270, -375, -470};
    const float s[3] = {2, 4, 5};
    const uint8_t zp[3] = {84, 24, 196};
    const uint8_t want[18] = {3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102};
    qspec q = {.opset = 13, .rank = 4, .dims = d, .x = x, .srank = 1, .sdims = ds, .scale = s, .sdt = YQ_DT_FLOAT,
               .zp = zp, .zdt = YQ_DT_UINT8, .axis = INT64_MIN};
    int out, node;
    yq_graph *g = quantize(&q, NULL, &out);
    assert_memory_equal(kg_val(g, out)->data, want, 18);
    yq_graph_free(g);
    q.axis = -3; /* same axis, counted from the end */
    g = quantize(&q, NULL, &out);
    assert_memory_equal(kg_val(g, out)->data, want, 18);
    yq_graph_free(g);
    /* and back */
    q.axis = INT64_MIN;
    g = qdq_graph("DequantizeLinear", &q, YQ_DT_UINT8, want, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    assert_int_equal(kg_val(g, out)->dtype, YQ_DT_FLOAT);
    assert_memory_equal(kg_val(g, out)->data, x, sizeof x);
    yq_graph_free(g);
}

/* Random data through long rows (vectorised, threaded) and short rows
 * (element-wise), both against the reference. */
static void check_per_axis_random(int rank, const int64_t *dims, int axis, yq_dtype qdt, yq_pool *pool) {
    int64_t n = yq_numel(rank, dims), c = dims[axis];
    int64_t inner = yq_numel(rank - axis - 1, dims + axis + 1);
    float *x = malloc((size_t)n * sizeof *x), *s = malloc((size_t)c * sizeof *s);
    int8_t *zp = malloc((size_t)c);
    uint64_t seed = (uint64_t)(n + axis);
    int32_t qmin, qmax;
    if (qdt == YQ_DT_INT8) {
        qmin = -128;
        qmax = 127;
    } else {
        qmin = -8;
        qmax = 7;
    }
    for (int64_t i = 0; i < n; i++) x[i] = (float)kg_rand(&seed, -3, 3);
    for (int64_t k = 0; k < c; k++) {
        s[k] = (float)kg_rand(&seed, 0.004, 0.05);
        zp[k] = (int8_t)((k % 5) - 2);
    }
    const int64_t ds[1] = {c};
    qspec q = {.opset = 21, .rank = rank, .dims = dims, .x = x, .srank = 1, .sdims = ds, .scale = s,
               .sdt = YQ_DT_FLOAT, .zp = zp, .zdt = qdt, .axis = axis};
    int out, node;
    yq_graph *g = quantize(&q, pool, &out);
    const int8_t *y = kg_val(g, out)->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (i / inner) % c;
        int32_t want = q_ref(x[i], s[k], zp[k], qmin, qmax);
        if (y[i] != want) fail_msg("axis %d elem %lld: %d, want %d", axis, (long long)i, y[i], want);
    }
    /* dequantize the result again and compare with (q - zp) * s */
    int8_t *yq = malloc((size_t)n);
    memcpy(yq, y, (size_t)n);
    yq_graph_free(g);
    g = qdq_graph("DequantizeLinear", &q, qdt, yq, &node, &out);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    const float *r = kg_val(g, out)->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (i / inner) % c;
        float want = (float)(yq[i] - zp[k]) * s[k];
        if (!f32_bits_equal(r[i], want)) fail_msg("DQ axis %d elem %lld: %.9g, want %.9g", axis, (long long)i, r[i], want);
    }
    yq_graph_free(g);
    free(yq);
    free(x);
    free(s);
    free(zp);
}

static void test_per_axis_random(void **state) {
    (void)state;
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    const int64_t conv_w[4] = {64, 32, 3, 3}; /* conv weight, axis 0: rows of 288 */
    check_per_axis_random(4, conv_w, 0, YQ_DT_INT8, pool);
    check_per_axis_random(4, conv_w, 0, YQ_DT_INT4, NULL);
    const int64_t act[4] = {1, 48, 40, 40}; /* activation, axis 1: rows of 1600, threaded */
    check_per_axis_random(4, act, 1, YQ_DT_INT8, pool);
    const int64_t gemm[2] = {96, 40}; /* axis = last: rows of 1 */
    check_per_axis_random(2, gemm, 1, YQ_DT_INT8, pool);
    yq_pool_free(pool);
}

/* ---- blocked (opset 21) ---------------------------------------------------------------------------- */

static void test_blocked(void **state) {
    (void)state;
    /* x [2, 6], axis 1, block 4 -> scale [2, 2]; the last block is short */
    const int64_t d[2] = {2, 6}, ds[2] = {2, 2};
    const float x[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    const float s[4] = {0.5f, 2.0f, 1.0f, 4.0f};
    const int8_t zp[4] = {0, 1, -1, 2};
    qspec q = {.opset = 21, .rank = 2, .dims = d, .x = x, .srank = 2, .sdims = ds, .scale = s, .sdt = YQ_DT_FLOAT,
               .zp = zp, .zdt = YQ_DT_INT8, .axis = 1, .block = 4};
    int out, node;
    yq_graph *g = quantize(&q, NULL, &out);
    /* row 0: 1..4 / 0.5 = 2,4,6,8; 5/2 = 2.5 -> 2 (+1), 6/2 = 3 (+1)
     * row 1: -1..-4 / 1 (-1); -5/4 = -1.25 -> -1 (+2), -6/4 = -1.5 -> -2 (+2) */
    const int8_t want[12] = {2, 4, 6, 8, 3, 4, -2, -3, -4, -5, 1, 0};
    assert_memory_equal(kg_val(g, out)->data, want, 12);
    yq_graph_free(g);
    g = qdq_graph("DequantizeLinear", &q, YQ_DT_INT8, want, &node, &out);
    assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
    const float want_dq[12] = {1, 2, 3, 4, 4, 6, -1, -2, -3, -4, -4, -8};
    assert_memory_equal(kg_val(g, out)->data, want_dq, sizeof want_dq);
    yq_graph_free(g);

    /* axis 0: x [5, 3], block 2 -> scale [3, 3] */
    const int64_t d2[2] = {5, 3}, ds2[2] = {3, 3};
    float x2[15], s2[9];
    for (int i = 0; i < 15; i++) x2[i] = (float)(i - 7);
    for (int i = 0; i < 9; i++) s2[i] = (float)(i + 1) * 0.5f;
    qspec q2 = {.opset = 21, .rank = 2, .dims = d2, .x = x2, .srank = 2, .sdims = ds2, .scale = s2,
                .sdt = YQ_DT_FLOAT, .axis = 0, .block = 2, .out_dtype = YQ_DT_INT8};
    g = quantize(&q2, NULL, &out);
    const int8_t *y = kg_val(g, out)->data;
    for (int r = 0; r < 5; r++)
        for (int col = 0; col < 3; col++)
            assert_int_equal(y[r * 3 + col], q_ref(x2[r * 3 + col], s2[(r / 2) * 3 + col], 0, -128, 127));
    yq_graph_free(g);
}

/* ---- DequantizeLinear specifics --------------------------------------------------------------------- */

static void test_dequantize_types(void **state) {
    (void)state;
    int out, node;
    {
        const uint8_t x[4] = {0, 3, 128, 255}, zp = 128;
        const float s = 2;
        qspec q = {.opset = 13, .rank = 1, .dims = (const int64_t[]){4}, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp,
                   .zdt = YQ_DT_UINT8, .axis = INT64_MIN};
        yq_graph *g = qdq_graph("DequantizeLinear", &q, YQ_DT_UINT8, x, &node, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        const float want[4] = {-256, -250, 0, 254};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        /* int32 (bias-style): the difference is exact before the one conversion */
        const int32_t x[3] = {INT32_MAX, INT32_MIN, 1000}, zp = -5;
        const float s = 0.5f;
        qspec q = {.opset = 13, .rank = 1, .dims = (const int64_t[]){3}, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp,
                   .zdt = YQ_DT_INT32, .axis = INT64_MIN};
        yq_graph *g = qdq_graph("DequantizeLinear", &q, YQ_DT_INT32, x, &node, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        const float want[3] = {(float)(2147483652.0) * 0.5f, (float)(-2147483643.0) * 0.5f, 502.5f};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        /* int4 / uint4 (unpacked) */
        const int8_t x[3] = {-8, 7, 0}, zp = -1;
        const float s = 0.5f;
        qspec q = {.opset = 21, .rank = 1, .dims = (const int64_t[]){3}, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp,
                   .zdt = YQ_DT_INT4, .axis = INT64_MIN};
        yq_graph *g = qdq_graph("DequantizeLinear", &q, YQ_DT_INT4, x, &node, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        const float want[3] = {-3.5f, 4.0f, 0.5f};
        assert_memory_equal(kg_val(g, out)->data, want, sizeof want);
        yq_graph_free(g);
    }
    {
        /* float16 scale: float16 output, computed in float and rounded once */
        const uint8_t x[3] = {10, 20, 255}, zp = 3;
        const uint16_t s = yq_f32_to_f16(0.1f);
        qspec q = {.opset = 19, .rank = 1, .dims = (const int64_t[]){3}, .scale = &s, .sdt = YQ_DT_FLOAT16,
                   .zp = &zp, .zdt = YQ_DT_UINT8, .axis = INT64_MIN};
        yq_graph *g = qdq_graph("DequantizeLinear", &q, YQ_DT_UINT8, x, &node, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        assert_int_equal(kg_val(g, out)->dtype, YQ_DT_FLOAT16);
        const uint16_t *y = kg_val(g, out)->data;
        for (int i = 0; i < 3; i++)
            assert_int_equal(y[i], yq_f32_to_f16((float)(x[i] - 3) * yq_f16_to_f32(s)));
        yq_graph_free(g);
    }
    {
        /* float16 input and scale to Q */
        uint16_t xh[3] = {yq_f32_to_f16(1.0f), yq_f32_to_f16(-0.75f), yq_f32_to_f16(100.0f)};
        const uint16_t s = yq_f32_to_f16(0.25f);
        const int8_t zp = 1;
        qspec q = {.opset = 19, .rank = 1, .dims = (const int64_t[]){3}, .scale = &s, .sdt = YQ_DT_FLOAT16,
                   .zp = &zp, .zdt = YQ_DT_INT8, .axis = INT64_MIN};
        yq_graph *g = qdq_graph("QuantizeLinear", &q, YQ_DT_FLOAT16, xh, &node, &out);
        assert_int_equal(kg_eval(g, node, NULL), YQ_OK);
        const int8_t want[3] = {5, -2, 127}; /* 4+1, round(-3)+1, saturated */
        assert_memory_equal(kg_val(g, out)->data, want, 3);
        yq_graph_free(g);
    }
}

/* Per-tensor Q on a large random tensor: threaded == serial == reference. */
static void test_per_tensor_threads(void **state) {
    (void)state;
    enum { N = 200003 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 77;
    for (int i = 0; i < N; i++) x[i] = (float)kg_rand(&seed, -2, 2);
    const float s = 0.0157f;
    const uint8_t zp = 131;
    const int64_t d[1] = {N};
    qspec q = {.opset = 13, .rank = 1, .dims = d, .x = x, .scale = &s, .sdt = YQ_DT_FLOAT, .zp = &zp,
               .zdt = YQ_DT_UINT8, .axis = INT64_MIN};
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    int out;
    yq_graph *g = quantize(&q, pool, &out);
    const uint8_t *y = kg_val(g, out)->data;
    for (int i = 0; i < N; i++)
        if (y[i] != q_ref(x[i], s, zp, 0, 255)) fail_msg("elem %d: %d want %d", i, y[i], q_ref(x[i], s, zp, 0, 255));
    yq_graph_free(g);
    yq_pool_free(pool);
    free(x);
}

/* ---- infer errors ------------------------------------------------------------------------------------ */

static void expect_error(const char *op, int64_t opset, yq_dtype xdt, int xr, const int64_t *xd, yq_dtype sdt, int sr,
                         const int64_t *sd, yq_dtype zdt, int zr, const int64_t *zd, int64_t axis, int64_t block,
                         int64_t odt, yq_status want, const char *needle) {
    yq_graph *g = kg_new(opset);
    int in[3] = {kg_typed(g, xdt, xr, xd), kg_typed(g, sdt, sr, sd), zdt ? kg_typed(g, zdt, zr, zd) : -1};
    int node = kg_node(g, op, in, zdt ? 3 : 2, NULL);
    if (axis != INT64_MIN) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "axis", axis), YQ_OK);
    if (block) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "block_size", block), YQ_OK);
    if (odt) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "output_dtype", odt), YQ_OK);
    assert_int_equal(kg_infer(g, node), want);
    if (needle && !strstr(yq_last_error(), needle)) fail_msg("'%s' not in '%s'", needle, yq_last_error());
    assert_non_null(strstr(yq_last_error(), op));
    yq_graph_free(g);
}

static void test_infer_errors(void **state) {
    (void)state;
    const int64_t x[2] = {4, 6}, s4[1] = {4}, s5[1] = {5}, s6[1] = {6}, s23[2] = {2, 6}, s33[2] = {4, 3};
    const char *Q = "QuantizeLinear", *DQ = "DequantizeLinear";
    /* per-axis scale of the wrong length (axis 1 has 6) */
    expect_error(Q, 13, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 1, s4, YQ_DT_UINT8, 1, s4, INT64_MIN, 0, 0, YQ_ERR_INVALID,
                 "length 6");
    /* axis out of range */
    expect_error(Q, 13, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 1, s6, YQ_DT_UINT8, 1, s6, 2, 0, 0, YQ_ERR_INVALID, "axis 2");
    expect_error(DQ, 13, YQ_DT_INT8, 2, x, YQ_DT_FLOAT, 1, s4, YQ_DT_INT8, 1, s4, -3, 0, 0, YQ_ERR_INVALID, "axis -3");
    /* zero point shape differs from scale */
    expect_error(Q, 13, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 1, s6, YQ_DT_INT8, 1, s5, INT64_MIN, 0, 0, YQ_ERR_INVALID,
                 "zero point shape");
    /* Q of an int8 input; DQ of a float input */
    expect_error(Q, 13, YQ_DT_INT8, 2, x, YQ_DT_FLOAT, 0, NULL, YQ_DT_INT8, 0, NULL, INT64_MIN, 0, 0,
                 YQ_ERR_UNSUPPORTED, "int8");
    expect_error(DQ, 13, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 0, NULL, 0, 0, NULL, INT64_MIN, 0, 0, YQ_ERR_UNSUPPORTED,
                 "float");
    /* DQ zero point of another type */
    expect_error(DQ, 13, YQ_DT_INT8, 2, x, YQ_DT_FLOAT, 0, NULL, YQ_DT_UINT8, 0, NULL, INT64_MIN, 0, 0,
                 YQ_ERR_INVALID, "uint8");
    /* integer scale */
    expect_error(DQ, 13, YQ_DT_INT8, 2, x, YQ_DT_INT32, 0, NULL, 0, 0, NULL, INT64_MIN, 0, 0, YQ_ERR_UNSUPPORTED,
                 "scale");
    /* float8 zero point (Q output) */
    expect_error(Q, 19, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 0, NULL, YQ_DT_FLOAT8E4M3FN, 0, NULL, INT64_MIN, 0, 0,
                 YQ_ERR_UNSUPPORTED, "float8e4m3fn");
    /* output_dtype disagrees with the zero point */
    expect_error(Q, 21, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 0, NULL, YQ_DT_INT8, 0, NULL, INT64_MIN, 0, YQ_DT_UINT8,
                 YQ_ERR_INVALID, "output_dtype");
    /* blocked: wrong block count along the axis (6 / 4 -> 2, scale has 6) */
    expect_error(Q, 21, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 2, s23, YQ_DT_INT8, 2, s23, 1, 4, 0, YQ_ERR_INVALID,
                 "block_size 4");
    /* blocked: fine shape but negative block size */
    expect_error(Q, 21, YQ_DT_FLOAT, 2, x, YQ_DT_FLOAT, 2, s33, YQ_DT_INT8, 2, s33, 1, -2, 0, YQ_ERR_INVALID,
                 "negative");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_onnx_vector),
        cmocka_unit_test(test_round_half_even),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_missing_zero_point),
        cmocka_unit_test(test_per_axis_onnx_vectors),
        cmocka_unit_test(test_per_axis_random),
        cmocka_unit_test(test_blocked),
        cmocka_unit_test(test_dequantize_types),
        cmocka_unit_test(test_per_tensor_threads),
        cmocka_unit_test(test_infer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
