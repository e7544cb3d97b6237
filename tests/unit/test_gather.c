/* Gather family (src/rt/kernels/gather.c): Gather, GatherElements, TopK,
 * ReduceMax/Min/Mean/Sum, ArgMax. Hand-computed expectations; selections
 * and copies are exact, means/sums of small floats are exact too (tolerance 0
 * unless stated). */
#include "opgraph.h"

#include "rt/kernels/gather.h"

/* ---- Gather ------------------------------------------------------------------ */

static const float k3x3[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void test_gather_axes(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 3), k3x3);
    int idx = og_const(&t, YQ_DT_INT64, 2, I64S(2, 2), I64S(0, 2, -1, 1));
    og_node(&t, "Gather", (int[]){x, idx}, 2, 1); /* axis 0: rows */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(2, 2, 3), F32S(1, 2, 3, 7, 8, 9, 7, 8, 9, 4, 5, 6), 0);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", -1), YQ_OK); /* columns */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(3, 2, 2), F32S(1, 3, 3, 2, 4, 6, 6, 5, 7, 9, 9, 8), 0);
    og_free(&t);

    /* scalar int32 index removes the axis: Shape -> Gather(0) style */
    t = og_new(13);
    int s = og_i64(&t, 4, I64S(1, 3, 640, 480));
    int i0 = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(-2));
    og_node(&t, "Gather", (int[]){s, i0}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 0, NULL, I64S(640));
    og_free(&t);
}

static void test_gather_errors(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 3), k3x3);
    int bad = og_const(&t, YQ_DT_INT64, 1, I64S(2), I64S(0, 3));
    int neg = og_const(&t, YQ_DT_INT64, 1, I64S(1), I64S(-4));
    int fl = og_const(&t, YQ_DT_FLOAT, 1, I64S(1), F32S(0));
    og_node(&t, "Gather", (int[]){x, bad}, 2, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "index 3 (element 1 of indices) is out of range");
    og_n(&t)->inputs[1] = neg;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "index -4");
    og_n(&t)->inputs[1] = fl;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "int32 or int64");
    og_n(&t)->inputs[1] = neg;
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", 2), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "axis 2 is out of range");
    og_free(&t);

    /* run() checks indices itself: they may be computed at run time */
    float out[2];
    yq_tensor in[2] = {{.dtype = YQ_DT_FLOAT, .rank = 2, .dims = {3, 3}, .data = (void *)k3x3},
                       {.dtype = YQ_DT_INT64, .rank = 1, .dims = {2}, .data = (void *)I64S(1, 5)}};
    yq_tensor o = {.dtype = YQ_DT_FLOAT, .rank = 2, .dims = {2, 3}, .data = out};
    t = og_new(13);
    og_node(&t, "Gather", (int[]){-1, -1}, 2, 1);
    yq_run_ctx rc = {.g = t.g, .node = og_n(&t), .opset = 13, .nin = 2, .nout = 1, .in = in, .out = &o};
    OG_EXPECT_FAIL(yq_op_get(YQ_OP_Gather)->run(&rc), YQ_ERR_INVALID, "index 5");
    og_free(&t);
}

static void test_gather_large_threaded(void **state) {
    (void)state;
    /* (64, 1000) uint16 rows gathered with 300 indices, 4 threads */
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    uint16_t *data = malloc(64 * 1000 * 2);
    for (int i = 0; i < 64 * 1000; i++) data[i] = (uint16_t)(i * 7);
    int64_t idx[300];
    uint64_t seed = 3;
    for (int i = 0; i < 300; i++) idx[i] = (int64_t)(og_rand(&seed) % 2000) - 1000;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT16, 2, I64S(64, 1000), data);
    int ix = og_i64(&t, 300, idx);
    yq_node *n = og_node(&t, "Gather", (int[]){x, ix}, 2, 1);
    assert_int_equal(yq_node_set_attr_int(n, "axis", 1), YQ_OK);
    assert_int_equal(og_eval(&t, pool), YQ_OK);
    const uint16_t *got = og_out(&t, 0)->data;
    og_expect_dims(og_out(&t, 0), 2, I64S(64, 300));
    for (int r = 0; r < 64; r++)
        for (int i = 0; i < 300; i++) {
            int64_t c = idx[i] < 0 ? idx[i] + 1000 : idx[i];
            assert_int_equal(got[r * 300 + i], data[r * 1000 + c]);
        }
    og_free(&t);
    free(data);
    yq_pool_free(pool);
}

/* ---- GatherElements -------------------------------------------------------------- */

static void test_gather_elements(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 3), k3x3);
    int idx = og_const(&t, YQ_DT_INT64, 2, I64S(2, 3), I64S(-1, -2, 0, -2, 0, 0));
    og_node(&t, "GatherElements", (int[]){x, idx}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    /* out[i][j] = x[idx[i][j]][j] */
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 3), F32S(7, 5, 3, 4, 2, 3), 0);
    int idx1 = og_const(&t, YQ_DT_INT32, 2, I64S(3, 2), I32S(2, 0, 1, 1, 0, 2));
    og_n(&t)->inputs[1] = idx1;
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    /* out[i][j] = x[i][idx[i][j]] */
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 2), F32S(3, 1, 5, 5, 7, 9), 0);
    int bad = og_const(&t, YQ_DT_INT64, 2, I64S(1, 1), I64S(3));
    og_n(&t)->inputs[1] = bad;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "index 3");
    int rank1 = og_i64(&t, 1, I64S(0));
    og_n(&t)->inputs[1] = rank1;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "rank 1 but data has rank 2");
    og_free(&t);
}

/* ---- TopK ------------------------------------------------------------------------ */

static void test_topk_basic(void **state) {
    (void)state;
    const float x[] = {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8};
    og t = og_new(11);
    int xi = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 4), x);
    int k = og_i64(&t, 1, I64S(3));
    yq_node *n = og_node(&t, "TopK", (int[]){xi, k}, 2, 2);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 3), F32S(3, 2, 1, 7, 6, 5, 11, 10, 9), 0);
    og_expect_i64(og_out(&t, 1), 2, I64S(3, 3), I64S(3, 2, 1, 3, 2, 1, 0, 1, 2));
    assert_int_equal(yq_node_set_attr_int(n, "largest", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 3), F32S(0, 1, 2, 4, 5, 6, 8, 9, 10), 0);
    og_expect_i64(og_out(&t, 1), 2, I64S(3, 3), I64S(0, 1, 2, 0, 1, 2, 3, 2, 1));
    /* axis 0, k=2, largest */
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "largest", 1), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", -2), YQ_OK);
    int k2 = og_i64(&t, 1, I64S(2));
    og_n(&t)->inputs[1] = k2;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 4), F32S(11, 10, 9, 8, 4, 5, 6, 7), 0);
    og_expect_i64(og_out(&t, 1), 2, I64S(2, 4), I64S(2, 2, 2, 2, 1, 1, 1, 1));
    og_free(&t);
}

/* Equal values: the lower index comes first, for largest and smallest. */
static void test_topk_ties(void **state) {
    (void)state;
    const float x[] = {5, 1, 5, 3, 1, 5, 3};
    og t = og_new(13);
    int xi = og_const(&t, YQ_DT_FLOAT, 1, I64S(7), x);
    int k = og_i64(&t, 1, I64S(5));
    yq_node *n = og_node(&t, "TopK", (int[]){xi, k}, 2, 2);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(5), F32S(5, 5, 5, 3, 3), 0);
    og_expect_i64(og_out(&t, 1), 1, I64S(5), I64S(0, 2, 5, 3, 6));
    assert_int_equal(yq_node_set_attr_int(n, "largest", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(5), F32S(1, 1, 3, 3, 5), 0);
    og_expect_i64(og_out(&t, 1), 1, I64S(5), I64S(1, 4, 3, 6, 0));
    /* -0 and +0 tie too */
    const float z[] = {0.0f, -0.0f, 0.0f};
    int zi = og_const(&t, YQ_DT_FLOAT, 1, I64S(3), z);
    int k3 = og_i64(&t, 1, I64S(3));
    og_n(&t)->inputs[0] = zi;
    og_n(&t)->inputs[1] = k3;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 1), 1, I64S(3), I64S(0, 1, 2));
    og_free(&t);
}

/* Large random rows with many duplicates, 4 threads: sorted, stable on ties,
 * and exactly the k best (checked by counting). */
static void test_topk_random_threaded(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    enum { R = 17, N = 1500, K = 300 };
    float *x = malloc(R * N * 4);
    uint64_t seed = 11;
    for (int i = 0; i < R * N; i++) x[i] = (float)(og_rand(&seed) % 200) * 0.5f;
    og t = og_new(13);
    int xi = og_const(&t, YQ_DT_FLOAT, 2, I64S(R, N), x);
    int k = og_i64(&t, 1, I64S(K));
    og_node(&t, "TopK", (int[]){xi, k}, 2, 2);
    assert_int_equal(og_eval(&t, pool), YQ_OK);
    const float *v = og_out(&t, 0)->data;
    const int64_t *ix = og_out(&t, 1)->data;
    for (int r = 0; r < R; r++) {
        const float *row = x + r * N;
        for (int j = 0; j < K; j++) {
            assert_true(v[r * K + j] == row[ix[r * K + j]]);
            if (j > 0) {
                float a = v[r * K + j - 1], b = v[r * K + j];
                assert_true(a > b || (a == b && ix[r * K + j - 1] < ix[r * K + j]));
            }
        }
        /* nothing left out ranks before the last one kept */
        float last = v[r * K + K - 1];
        int64_t last_i = ix[r * K + K - 1];
        int better = 0;
        for (int j = 0; j < N; j++) better += row[j] > last || (row[j] == last && j <= last_i);
        assert_int_equal(better, K);
    }
    og_free(&t);
    free(x);
    yq_pool_free(pool);
}

static void test_topk_types_and_errors(void **state) {
    (void)state;
    /* int64 values that double cannot tell apart */
    const int64_t big[] = {((int64_t)1 << 60) + 1, (int64_t)1 << 60, ((int64_t)1 << 60) + 2, INT64_MIN};
    og t = og_new(13);
    int xi = og_const(&t, YQ_DT_INT64, 1, I64S(4), big);
    int k = og_i64(&t, 1, I64S(4));
    yq_node *n = og_node(&t, "TopK", (int[]){xi, k}, 2, 2);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 1), 1, I64S(4), I64S(2, 0, 1, 3));
    og_expect_i64(og_out(&t, 0), 1, I64S(4), I64S(big[2], big[0], big[1], big[3]));
    /* NaN ranks above everything (largest) and last (smallest) */
    const float nanx[] = {1, NAN, -INFINITY, INFINITY};
    int xn = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), nanx);
    og_n(&t)->inputs[0] = xn;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 1), 1, I64S(4), I64S(1, 3, 0, 2));
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "largest", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 1), 1, I64S(4), I64S(2, 0, 3, 1));
    /* float16 */
    const uint16_t h[] = {0x3c00 /*1*/, 0xc000 /*-2*/, 0x4200 /*3*/};
    int xh = og_const(&t, YQ_DT_FLOAT16, 1, I64S(3), h);
    int k1 = og_i64(&t, 1, I64S(1));
    og_n(&t)->inputs[0] = xh;
    og_n(&t)->inputs[1] = k1;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 1), 1, I64S(1), I64S(1));
    assert_int_equal(((uint16_t *)og_out(&t, 0)->data)[0], 0xc000);
    /* K = 0: empty outputs */
    int k0 = og_i64(&t, 1, I64S(0));
    og_n(&t)->inputs[1] = k0;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 1), 1, I64S(0));
    int k9 = og_i64(&t, 1, I64S(9));
    og_n(&t)->inputs[1] = k9;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "K = 9 is outside [0, 3]");
    int kdyn = og_input(&t, YQ_DT_INT64, 1, I64S(1));
    og_n(&t)->inputs[1] = kdyn;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "must be a constant");
    (void)n;
    og_free(&t);

    /* opset 9: k attribute, largest only */
    t = og_new(9);
    xi = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(3, 9, 1, 9));
    n = og_node(&t, "TopK", (int[]){xi}, 1, 2);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "k attribute is required");
    assert_int_equal(yq_node_set_attr_int(n, "k", 2), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(2), F32S(9, 9), 0);
    og_expect_i64(og_out(&t, 1), 1, I64S(2), I64S(1, 3));
    og_free(&t);
}

/* ---- Reductions ------------------------------------------------------------------ */

/* 3x2x2 example used by the ONNX reduce tests */
static const float kR[] = {5, 1, 20, 2, 30, 1, 40, 2, 55, 1, 60, 2};

static og reduce_graph(const char *op, int64_t opset, const int64_t *axes, int naxes, int axes_as_input, int keep) {
    og t = og_new(opset);
    int x = og_const(&t, YQ_DT_FLOAT, 3, I64S(3, 2, 2), kR);
    int ins[2] = {x, -1};
    if (axes_as_input && axes) ins[1] = og_i64(&t, naxes, axes);
    yq_node *n = og_node(&t, op, ins, axes_as_input ? 2 : 1, 1);
    if (!axes_as_input && axes) assert_int_equal(yq_node_set_attr_ints(n, "axes", axes, naxes), YQ_OK);
    if (keep >= 0) assert_int_equal(yq_node_set_attr_int(n, "keepdims", keep), YQ_OK);
    return t;
}

static void test_reduce_ops(void **state) {
    (void)state;
    /* axis 1, keepdims 0, opset 13 (attribute) */
    og t = reduce_graph("ReduceMax", 13, I64S(1), 1, 0, 0);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 2), F32S(20, 2, 40, 2, 60, 2), 0);
    og_free(&t);
    t = reduce_graph("ReduceMin", 13, I64S(-1), 1, 0, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(3, 2, 1), F32S(1, 2, 1, 2, 1, 2), 0);
    og_free(&t);
    /* ReduceSum takes axes as an input from opset 13 */
    t = reduce_graph("ReduceSum", 13, I64S(0, 2), 2, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(1, 2, 1), F32S(5 + 1 + 30 + 1 + 55 + 1, 20 + 2 + 40 + 2 + 60 + 2), 0);
    og_free(&t);
    /* default: all axes; mean 18.25 */
    t = reduce_graph("ReduceMean", 13, NULL, 0, 0, -1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(1, 1, 1), F32S(18.25f), 0);
    og_free(&t);
    /* ReduceMax with axes input: opset 18 */
    t = reduce_graph("ReduceMax", 18, I64S(0), 1, 1, 0);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 2), F32S(55, 1, 60, 2), 0);
    og_free(&t);
    /* noop_with_empty_axes: no axes means identity */
    t = reduce_graph("ReduceSum", 13, NULL, 0, 1, 1);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "noop_with_empty_axes", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(3, 2, 2), kR, 0);
    og_free(&t);
    t = reduce_graph("ReduceMean", 13, I64S(1, 1), 2, 0, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "listed twice");
    og_free(&t);
    t = reduce_graph("ReduceMean", 13, I64S(3), 1, 0, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "out of range");
    og_free(&t);
}

static void test_reduce_types_and_empty(void **state) {
    (void)state;
    /* int32 mean truncates toward zero, sum exact */
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_INT32, 2, I64S(2, 3), I32S(1, 2, 2, -1, -2, -2));
    int ax = og_i64(&t, 1, I64S(1));
    yq_node *n = og_node(&t, "ReduceMean", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(1), 1), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(n, "keepdims", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_memory_equal(og_out(&t, 0)->data, ((int32_t[]){1, -1}), 8);
    og_free(&t);
    (void)ax;
    /* uint64 max above INT64_MAX */
    const uint64_t u[] = {1, UINT64_MAX - 1, (uint64_t)1 << 63, 5};
    t = og_new(13);
    x = og_const(&t, YQ_DT_UINT64, 1, I64S(4), u);
    og_node(&t, "ReduceMax", (int[]){x}, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_true(((uint64_t *)og_out(&t, 0)->data)[0] == UINT64_MAX - 1);
    og_free(&t);
    /* NaN propagates through max and min */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 1, I64S(3), F32S(1, NAN, 3));
    og_node(&t, "ReduceMin", (int[]){x}, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_true(isnan(((float *)og_out(&t, 0)->data)[0]));
    og_free(&t);
    /* float16 sum accumulates wide: 2048 + 1 + 1 = 2050 (fp16 adds would stick at 2048) */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT16, 1, I64S(3), ((uint16_t[]){0x6800, 0x3c00, 0x3c00}));
    og_node(&t, "ReduceSum", (int[]){x}, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_true(yq_f16_to_f32(((uint16_t *)og_out(&t, 0)->data)[0]) == 2050.0f);
    og_free(&t);
    /* reducing an empty axis: max -> -inf, min -> type max, sum -> 0 */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 0), NULL);
    n = og_node(&t, "ReduceMax", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(1), 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 1), F32S(-INFINITY, -INFINITY), 0);
    og_free(&t);
    t = og_new(13);
    x = og_const(&t, YQ_DT_INT8, 2, I64S(2, 0), NULL);
    n = og_node(&t, "ReduceMin", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(1), 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_memory_equal(og_out(&t, 0)->data, ((int8_t[]){127, 127}), 2);
    og_free(&t);
    /* bool sum is rejected */
    t = og_new(13);
    x = og_const(&t, YQ_DT_BOOL, 1, I64S(2), ((uint8_t[]){1, 0}));
    og_node(&t, "ReduceSum", (int[]){x}, 1, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "bool");
    og_free(&t);
}

/* Row lengths 1..20 (lanes of 8 plus tails) with a NaN at every position:
 * max and min are NaN; without a NaN they are the row's extremes. */
static void test_reduce_nan_positions(void **state) {
    (void)state;
    for (int n = 1; n <= 20; n++)
        for (int nanpos = -1; nanpos < n; nanpos++)
            for (int op = 0; op < 2; op++) {
                float x[20];
                for (int i = 0; i < n; i++) x[i] = (float)((i * 7) % 11) - 5; /* extremes at varying places */
                if (nanpos >= 0) x[nanpos] = NAN;
                og t = og_new(13);
                int xi = og_const(&t, YQ_DT_FLOAT, 1, I64S(n), x);
                og_node(&t, op ? "ReduceMin" : "ReduceMax", (int[]){xi}, 1, 1);
                assert_int_equal(og_eval(&t, NULL), YQ_OK);
                float got = ((float *)og_out(&t, 0)->data)[0];
                if (nanpos >= 0) {
                    assert_true(isnan(got));
                } else {
                    float want = x[0];
                    for (int i = 1; i < n; i++) want = op ? fminf(want, x[i]) : fmaxf(want, x[i]);
                    assert_true(got == want);
                }
                og_free(&t);
            }
}

/* Every axes subset of a 4-D tensor, 3 threads, against a direct loop. */
static void test_reduce_all_axis_sets(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    const int64_t dims[4] = {3, 5, 1, 7};
    float x[105];
    uint64_t seed = 5;
    for (int i = 0; i < 105; i++) x[i] = (float)(int)(og_rand(&seed) % 1000) - 500;
    static const char *const ops[] = {"ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean"};
    for (int op = 0; op < 4; op++)
        for (int mask = 1; mask < 16; mask++) {
            int64_t axes[4];
            int na = 0;
            for (int d = 0; d < 4; d++)
                if (mask >> d & 1) axes[na++] = d;
            og t = og_new(13);
            int xi = og_const(&t, YQ_DT_FLOAT, 4, dims, x);
            int ins[2] = {xi, -1};
            if (op == 2) ins[1] = og_i64(&t, na, axes);
            yq_node *n = og_node(&t, ops[op], ins, op == 2 ? 2 : 1, 1);
            if (op != 2) assert_int_equal(yq_node_set_attr_ints(n, "axes", axes, na), YQ_OK);
            assert_int_equal(og_eval(&t, pool), YQ_OK);
            const float *got = og_out(&t, 0)->data;
            int64_t od[4];
            for (int d = 0; d < 4; d++) od[d] = (mask >> d & 1) ? 1 : dims[d];
            og_expect_dims(og_out(&t, 0), 4, od);
            for (int64_t o = 0; o < yq_numel(4, od); o++) {
                int64_t oi[4], rem = o;
                for (int d = 3; d >= 0; d--) {
                    oi[d] = rem % od[d];
                    rem /= od[d];
                }
                double acc = op == 0 ? -INFINITY : op == 1 ? INFINITY : 0;
                int cnt = 0;
                for (int64_t i = 0; i < 105; i++) {
                    int64_t ii[4], r2 = i;
                    for (int d = 3; d >= 0; d--) {
                        ii[d] = r2 % dims[d];
                        r2 /= dims[d];
                    }
                    int match = 1;
                    for (int d = 0; d < 4; d++) match &= (mask >> d & 1) || ii[d] == oi[d];
                    if (!match) continue;
                    cnt++;
                    if (op == 0) acc = x[i] > acc ? x[i] : acc;
                    else if (op == 1) acc = x[i] < acc ? x[i] : acc;
                    else acc += x[i];
                }
                if (op == 3) acc /= cnt;
                /* integers: sums are exact; the mean within float rounding */
                if (fabs(got[o] - acc) > 1e-4 * (1 + fabs(acc))) {
                    print_message("%s mask %d out %lld: got %g want %g\n", ops[op], mask, (long long)o, got[o], acc);
                    fail();
                }
            }
            og_free(&t);
        }
    yq_pool_free(pool);
}

/* ---- ArgMax ---------------------------------------------------------------------- */

static void test_argmax(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), F32S(2, 7, 7, 9, 1, 9));
    yq_node *n = og_node(&t, "ArgMax", (int[]){x}, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK); /* axis 0, keepdims */
    og_expect_i64(og_out(&t, 0), 2, I64S(1, 3), I64S(1, 0, 1));
    assert_int_equal(yq_node_set_attr_int(n, "axis", -1), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "keepdims", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK); /* ties: first index */
    og_expect_i64(og_out(&t, 0), 1, I64S(2), I64S(1, 0));
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "select_last_index", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 1, I64S(2), I64S(2, 2));
    og_free(&t);
    /* select_last_index does not exist before opset 12 */
    t = og_new(11);
    x = og_const(&t, YQ_DT_INT8, 1, I64S(4), ((int8_t[]){-5, 3, 3, -128}));
    n = og_node(&t, "ArgMax", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_int(n, "select_last_index", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 1, I64S(1), I64S(1));
    int e = og_const(&t, YQ_DT_FLOAT, 2, I64S(0, 2), NULL);
    og_n(&t)->inputs[0] = e;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "axis 0 is empty");
    og_free(&t);
}

static void test_sort_key_order(void **state) {
    (void)state;
    const float f[] = {-INFINITY, -3.5f, -1e-30f, 0.0f, 1e-30f, 2.0f, INFINITY};
    for (int i = 0; i + 1 < NELEM(f); i++)
        assert_true(yq_sort_key(YQ_DT_FLOAT, f, i, 1) < yq_sort_key(YQ_DT_FLOAT, f, i + 1, 1));
    const float z[] = {0.0f, -0.0f, NAN};
    assert_true(yq_sort_key(YQ_DT_FLOAT, z, 0, 1) == yq_sort_key(YQ_DT_FLOAT, z, 1, 1));
    assert_true(yq_sort_key(YQ_DT_FLOAT, z, 2, 1) > yq_sort_key(YQ_DT_FLOAT, f, 6, 1));
    assert_true(yq_sort_key(YQ_DT_FLOAT, z, 2, 0) < yq_sort_key(YQ_DT_FLOAT, f, 0, 0));
    const int64_t i64[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    for (int i = 0; i + 1 < NELEM(i64); i++)
        assert_true(yq_sort_key(YQ_DT_INT64, i64, i, 1) < yq_sort_key(YQ_DT_INT64, i64, i + 1, 1));
    const uint8_t u8[] = {0, 1, 255};
    for (int i = 0; i + 1 < NELEM(u8); i++)
        assert_true(yq_sort_key(YQ_DT_UINT8, u8, i, 1) < yq_sort_key(YQ_DT_UINT8, u8, i + 1, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_axes),           cmocka_unit_test(test_gather_errors),
        cmocka_unit_test(test_gather_large_threaded), cmocka_unit_test(test_gather_elements),
        cmocka_unit_test(test_topk_basic),            cmocka_unit_test(test_topk_ties),
        cmocka_unit_test(test_topk_random_threaded),  cmocka_unit_test(test_topk_types_and_errors),
        cmocka_unit_test(test_reduce_ops),            cmocka_unit_test(test_reduce_types_and_empty),
        cmocka_unit_test(test_reduce_nan_positions),  cmocka_unit_test(test_reduce_all_axis_sets),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_sort_key_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
