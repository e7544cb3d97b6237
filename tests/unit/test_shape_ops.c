/* Shape ops (src/rt/kernels/shape_ops.c): Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose, Concat, Split, Slice, Tile, Expand, Shape, Constant,
 * ConstantOfShape, Range. Expected values are hand-computed; data-movement
 * results are exact (tolerance 0) unless stated. */
#include "opgraph.h"

#include "rt/kernels/shape_ops.h"

static const float k2x3[] = {1, 2, 3, 4, 5, 6};

/* ---- Reshape -------------------------------------------------------------- */

static void test_reshape_basic(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), k2x3);
    int s = og_i64(&t, 3, I64S(0, -1, 1)); /* 0 copies dim 0 (2), -1 becomes 3 */
    og_node(&t, "Reshape", (int[]){x, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(2, 3, 1), k2x3, 0);
    og_free(&t);
}

static void test_reshape_allowzero(void **state) {
    (void)state;
    /* opset 14, allowzero=1: 0 is a real zero dim; (0,3,4) -> (3,4,0) */
    og t = og_new(14);
    int x = og_const(&t, YQ_DT_FLOAT, 3, I64S(0, 3, 4), NULL);
    int s = og_i64(&t, 3, I64S(3, 4, 0));
    yq_node *n = og_node(&t, "Reshape", (int[]){x, s}, 2, 1);
    assert_int_equal(yq_node_set_attr_int(n, "allowzero", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 3, I64S(3, 4, 0));
    /* without allowzero the 0 copies input dim 2 (4): 3*4*4 != 0 elements */
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "allowzero", 0), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "cannot reshape");
    og_free(&t);
}

static void test_reshape_errors(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), k2x3);
    int two_neg = og_i64(&t, 2, I64S(-1, -1));
    int bad_count = og_i64(&t, 2, I64S(4, 2));
    int zero_far = og_i64(&t, 3, I64S(1, 6, 0)); /* 0 at index 2: input has rank 2 */
    int too_long = og_i64(&t, 9, I64S(1, 1, 1, 1, 1, 1, 1, 2, 3));
    int neg = og_i64(&t, 2, I64S(-2, 3));
    int dyn = og_input(&t, YQ_DT_INT64, 1, I64S(2));
    og_node(&t, "Reshape", (int[]){x, two_neg}, 2, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "more than one -1");
    og_n(&t)->inputs[1] = bad_count;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "6 elements");
    og_n(&t)->inputs[1] = zero_far;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "copies a dimension");
    og_n(&t)->inputs[1] = too_long;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_LIMIT, "shape has 9 entries, at most 8");
    og_n(&t)->inputs[1] = neg;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "invalid");
    og_n(&t)->inputs[1] = dyn;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "must be a constant");
    og_free(&t);
}

static void test_reshape_any_dtype(void **state) {
    (void)state;
    /* pure byte movement: float16 bits and int8 come through unchanged */
    const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001};
    const int8_t b[] = {-128, -1, 0, 127};
    og t = og_new(13);
    int xh = og_const(&t, YQ_DT_FLOAT16, 2, I64S(2, 2), h);
    int s = og_i64(&t, 1, I64S(4));
    og_node(&t, "Reshape", (int[]){xh, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_int_equal(og_out(&t, 0)->dtype, YQ_DT_FLOAT16);
    assert_memory_equal(og_out(&t, 0)->data, h, sizeof h);
    og_free(&t);
    t = og_new(13);
    int xb = og_const(&t, YQ_DT_INT8, 1, I64S(4), b);
    s = og_i64(&t, 2, I64S(2, -1));
    og_node(&t, "Reshape", (int[]){xb, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 2, I64S(2, 2));
    assert_memory_equal(og_out(&t, 0)->data, b, sizeof b);
    og_free(&t);
}

/* ---- Flatten ------------------------------------------------------------------ */

static void test_flatten(void **state) {
    (void)state;
    static const struct {
        int64_t axis;
        int64_t d0, d1;
    } cases[] = {{0, 1, 24}, {1, 2, 12}, {2, 6, 4}, {3, 24, 1}, {-1, 6, 4}, {-2, 2, 12}, {-3, 1, 24}};
    float data[24];
    for (int i = 0; i < 24; i++) data[i] = (float)i;
    for (int c = 0; c < NELEM(cases); c++) {
        og t = og_new(13);
        int x = og_const(&t, YQ_DT_FLOAT, 3, I64S(2, 3, 4), data);
        yq_node *n = og_node(&t, "Flatten", (int[]){x}, 1, 1);
        assert_int_equal(yq_node_set_attr_int(n, "axis", cases[c].axis), YQ_OK);
        assert_int_equal(og_eval(&t, NULL), YQ_OK);
        og_expect_f32(og_out(&t, 0), 2, I64S(cases[c].d0, cases[c].d1), data, 0);
        og_free(&t);
    }
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 3, I64S(2, 3, 4), data);
    yq_node *n = og_node(&t, "Flatten", (int[]){x}, 1, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK); /* default axis 1 */
    og_expect_dims(og_out(&t, 0), 2, I64S(2, 12));
    assert_int_equal(yq_node_set_attr_int(n, "axis", 4), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "out of range");
    og_free(&t);
}

/* ---- Squeeze / Unsqueeze ------------------------------------------------------- */

static void test_squeeze(void **state) {
    (void)state;
    float data[6] = {1, 2, 3, 4, 5, 6};
    /* opset 11: axes attribute, negative allowed */
    og t = og_new(11);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 2, 1, 3), data);
    yq_node *n = og_node(&t, "Squeeze", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(-2), 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(1, 2, 3), data, 0);
    /* no axes: every unit dim goes */
    yq_node *nn = og_n(&t);
    nn->nattrs = 0; /* attrs array stays owned by the node; count 0 hides it */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 2, I64S(2, 3));
    nn->nattrs = 1;
    og_free(&t);

    /* opset 13: axes input */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 2, 1, 3), data);
    int axes = og_i64(&t, 2, I64S(0, 2));
    og_node(&t, "Squeeze", (int[]){x, axes}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 3), data, 0);
    int bad = og_i64(&t, 1, I64S(1)); /* dim 1 has size 2 */
    og_n(&t)->inputs[1] = bad;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "must be 1");
    int dup = og_i64(&t, 2, I64S(0, -4));
    og_n(&t)->inputs[1] = dup;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "listed twice");
    int oor = og_i64(&t, 1, I64S(4));
    og_n(&t)->inputs[1] = oor;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "out of range");
    og_free(&t);
}

static void test_unsqueeze(void **state) {
    (void)state;
    float data[6] = {1, 2, 3, 4, 5, 6};
    og t = og_new(11);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), data);
    yq_node *n = og_node(&t, "Unsqueeze", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(0, 3), 2), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 2, 3, 1), data, 0);
    og_free(&t);

    /* opset 13, unsorted negative axes against the output rank 5 */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 3, I64S(1, 2, 3), data);
    int axes = og_i64(&t, 2, I64S(-1, 1));
    og_node(&t, "Unsqueeze", (int[]){x, axes}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 5, I64S(1, 1, 2, 3, 1));
    int dup = og_i64(&t, 2, I64S(0, -5));
    og_n(&t)->inputs[1] = dup;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "listed twice");
    int many = og_i64(&t, 6, I64S(0, 1, 2, 3, 4, 5)); /* rank 3 + 6 = 9 */
    og_n(&t)->inputs[1] = many;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_LIMIT, "rank 9");
    og_n(&t)->ninputs = 1;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "axes input is required");
    og_free(&t);
}

/* ---- Transpose ------------------------------------------------------------------ */

static void test_transpose_small(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), k2x3);
    og_node(&t, "Transpose", (int[]){x}, 1, 1); /* default: reverse */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 2), F32S(1, 4, 2, 5, 3, 6), 0);
    og_free(&t);

    /* 3-D [1,0,2] on int64 */
    int64_t v[12];
    for (int i = 0; i < 12; i++) v[i] = 1000000000000LL * i + i;
    t = og_new(13);
    x = og_const(&t, YQ_DT_INT64, 3, I64S(2, 3, 2), v);
    yq_node *n = og_node(&t, "Transpose", (int[]){x}, 1, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "perm", I64S(1, 0, 2), 3), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 3, I64S(3, 2, 2), (int64_t[]){v[0], v[1], v[6], v[7], v[2], v[3], v[8], v[9], v[4],
                                                               v[5], v[10], v[11]});
    assert_int_equal(yq_node_set_attr_ints(n, "perm", I64S(0, 0, 1), 3), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "not a permutation");
    assert_int_equal(yq_node_set_attr_ints(n, "perm", I64S(1, 0), 2), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "perm has 2 entries");
    og_free(&t);
}

/* Every permutation of a 4-D tensor, for each element size, with a pool:
 * checked element by element against index arithmetic done here. */
static void test_transpose_all_perms_4d(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    const int64_t dims[4] = {3, 37, 5, 41}; /* odd sizes: partial tiles */
    const int64_t total = 3 * 37 * 5 * 41;
    static const yq_dtype types[] = {YQ_DT_UINT8, YQ_DT_FLOAT16, YQ_DT_FLOAT, YQ_DT_INT64};
    for (int ti = 0; ti < 4; ti++) {
        size_t es = yq_dtype_size(types[ti]);
        uint8_t *data = malloc((size_t)total * es);
        uint64_t seed = 42 + ti;
        for (int64_t i = 0; i < total * (int64_t)es; i++) data[i] = (uint8_t)og_rand(&seed);
        int perm[4] = {0, 1, 2, 3};
        for (int p = 0; p < 24; p++) {
            /* p-th permutation by factorial numbering */
            int avail[4] = {0, 1, 2, 3}, na = 4, code = p;
            for (int k = 0; k < 4; k++) {
                int f = k == 0 ? 6 : k == 1 ? 2 : 1;
                int j = k == 3 ? 0 : code / f;
                if (k < 3) code %= f;
                perm[k] = avail[j];
                for (int m = j; m < na - 1; m++) avail[m] = avail[m + 1];
                na--;
            }
            og t = og_new(13);
            int x = og_const(&t, types[ti], 4, dims, data);
            yq_node *n = og_node(&t, "Transpose", (int[]){x}, 1, 1);
            assert_int_equal(yq_node_set_attr_ints(n, "perm", (int64_t[]){perm[0], perm[1], perm[2], perm[3]}, 4),
                             YQ_OK);
            assert_int_equal(og_eval(&t, pool), YQ_OK);
            const yq_value *o = og_out(&t, 0);
            int64_t od[4], is[4];
            for (int k = 0; k < 4; k++) od[k] = dims[perm[k]];
            og_expect_dims(o, 4, od);
            yq_strides(4, dims, is);
            const uint8_t *got = o->data;
            int64_t i = 0;
            for (int64_t a = 0; a < od[0]; a++)
                for (int64_t b = 0; b < od[1]; b++)
                    for (int64_t c = 0; c < od[2]; c++)
                        for (int64_t d = 0; d < od[3]; d++, i++) {
                            int64_t src = a * is[perm[0]] + b * is[perm[1]] + c * is[perm[2]] + d * is[perm[3]];
                            if (memcmp(got + i * (int64_t)es, data + src * (int64_t)es, es) != 0) {
                                print_message("type %s perm %d%d%d%d: element %lld differs\n",
                                              yq_dtype_name(types[ti]), perm[0], perm[1], perm[2], perm[3],
                                              (long long)i);
                                fail();
                            }
                        }
            og_free(&t);
        }
        free(data);
    }
    yq_pool_free(pool);
}

/* yq_strided_copy against its reference on random views: permuted, sliced
 * with negative steps, broadcast (zero strides), up to rank 8. */
static void test_strided_copy_random(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    uint64_t seed = 7;
    for (int iter = 0; iter < 300; iter++) {
        int rank = 1 + (int)(og_rand(&seed) % 6);
        size_t es = (size_t)1 << (og_rand(&seed) % 4);
        int64_t in_dims[8], in_str[8], dims[8], str[8];
        for (int k = 0; k < rank; k++) in_dims[k] = 1 + og_rand(&seed) % 9;
        if (iter % 10 == 0) in_dims[og_rand(&seed) % (uint32_t)rank] = 100 + og_rand(&seed) % 300; /* long axis */
        yq_strides(rank, in_dims, in_str);
        int64_t in_n = yq_numel(rank, in_dims);
        uint8_t *in = malloc((size_t)in_n * es);
        for (int64_t i = 0; i < in_n * (int64_t)es; i++) in[i] = (uint8_t)og_rand(&seed);
        /* random permutation */
        int perm[8];
        for (int k = 0; k < rank; k++) perm[k] = k;
        for (int k = rank - 1; k > 0; k--) {
            int j = (int)(og_rand(&seed) % (uint32_t)(k + 1)), tmp = perm[k];
            perm[k] = perm[j];
            perm[j] = tmp;
        }
        int64_t base = 0;
        for (int k = 0; k < rank; k++) {
            int a = perm[k];
            int kind = (int)(og_rand(&seed) % 4);
            if (kind == 0) { /* broadcast */
                dims[k] = 1 + og_rand(&seed) % 4;
                str[k] = 0;
            } else if (kind == 1 && in_dims[a] > 1) { /* reversed slice */
                dims[k] = in_dims[a];
                str[k] = -in_str[a];
                base += (in_dims[a] - 1) * in_str[a];
            } else { /* whole axis, maybe stepped */
                int64_t step = 1 + og_rand(&seed) % 2;
                dims[k] = (in_dims[a] + step - 1) / step;
                str[k] = step * in_str[a];
            }
        }
        int64_t n = yq_numel(rank, dims);
        uint8_t *a = malloc((size_t)n * es), *b = malloc((size_t)n * es);
        yq_strided_copy(pool, es, rank, dims, in + base * (int64_t)es, str, a);
        yq_strided_copy_ref(es, rank, dims, in + base * (int64_t)es, str, b);
        assert_memory_equal(a, b, (size_t)n * es);
        free(a);
        free(b);
        free(in);
    }
    yq_pool_free(pool);
}

/* ---- Concat ---------------------------------------------------------------------- */

static void test_concat(void **state) {
    (void)state;
    og t = og_new(13);
    int a = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 3), k2x3);
    int b = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 1), F32S(7, 8));
    yq_node *n = og_node(&t, "Concat", (int[]){a, b, a}, 3, 1);
    assert_int_equal(yq_node_set_attr_int(n, "axis", -1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 7), F32S(1, 2, 3, 7, 1, 2, 3, 4, 5, 6, 8, 4, 5, 6), 0);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", 0), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "does not match input 0");
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", 2), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "out of range");
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "axis", 1), YQ_OK);
    int c = og_const(&t, YQ_DT_INT32, 2, I64S(2, 3), I32S(1, 2, 3, 4, 5, 6));
    og_n(&t)->inputs[1] = c;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "is int32 but input 0 is float");
    og_free(&t);

    /* shape construction: 1-D int64 pieces, one of them empty; no axis attribute */
    t = og_new(13);
    a = og_i64(&t, 2, I64S(1, 3));
    b = og_const(&t, YQ_DT_INT64, 1, I64S(0), NULL);
    c = og_i64(&t, 1, I64S(-1));
    n = og_node(&t, "Concat", (int[]){a, b, c}, 3, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "axis attribute is required");
    assert_int_equal(yq_node_set_attr_int(n, "axis", 0), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 1, I64S(3), I64S(1, 3, -1));
    og_free(&t);
}

/* Large concat along channels (YOLO neck) with a pool, checked row by row. */
static void test_concat_large_threaded(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    const int64_t c1 = 64, c2 = 128, hw = 40 * 40;
    float *a = malloc((size_t)(2 * c1 * hw) * 4), *b = malloc((size_t)(2 * c2 * hw) * 4);
    for (int64_t i = 0; i < 2 * c1 * hw; i++) a[i] = (float)i;
    for (int64_t i = 0; i < 2 * c2 * hw; i++) b[i] = -(float)i;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(2, c1, 40, 40), a);
    int y = og_const(&t, YQ_DT_FLOAT, 4, I64S(2, c2, 40, 40), b);
    yq_node *n = og_node(&t, "Concat", (int[]){x, y}, 2, 1);
    assert_int_equal(yq_node_set_attr_int(n, "axis", 1), YQ_OK);
    assert_int_equal(og_eval(&t, pool), YQ_OK);
    const yq_value *o = og_out(&t, 0);
    og_expect_dims(o, 4, I64S(2, c1 + c2, 40, 40));
    const float *got = o->data;
    for (int64_t bt = 0; bt < 2; bt++) {
        assert_memory_equal(got + bt * (c1 + c2) * hw, a + bt * c1 * hw, (size_t)(c1 * hw) * 4);
        assert_memory_equal(got + bt * (c1 + c2) * hw + c1 * hw, b + bt * c2 * hw, (size_t)(c2 * hw) * 4);
    }
    og_free(&t);
    free(a);
    free(b);
    yq_pool_free(pool);
}

/* ---- Split -------------------------------------------------------------------------- */

static void test_split(void **state) {
    (void)state;
    float d7[14];
    for (int i = 0; i < 14; i++) d7[i] = (float)i;
    /* opset 13, equal parts along axis 1 of (2,6) */
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 6), d7);
    yq_node *n = og_node(&t, "Split", (int[]){x}, 1, 3);
    assert_int_equal(yq_node_set_attr_int(n, "axis", -1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 2), F32S(0, 1, 6, 7), 0);
    og_expect_f32(og_out(&t, 1), 2, I64S(2, 2), F32S(2, 3, 8, 9), 0);
    og_expect_f32(og_out(&t, 2), 2, I64S(2, 2), F32S(4, 5, 10, 11), 0);
    og_free(&t);

    /* opset 13, sizes input [1, 0, 5] */
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 6), d7);
    int sz = og_i64(&t, 3, I64S(1, 0, 5));
    n = og_node(&t, "Split", (int[]){x, sz}, 2, 3);
    assert_int_equal(yq_node_set_attr_int(n, "axis", 1), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 1), F32S(0, 6), 0);
    og_expect_dims(og_out(&t, 1), 2, I64S(2, 0));
    og_expect_f32(og_out(&t, 2), 2, I64S(2, 5), F32S(1, 2, 3, 4, 5, 7, 8, 9, 10, 11), 0);
    int bad = og_i64(&t, 3, I64S(1, 1, 1));
    og_n(&t)->inputs[1] = bad;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "add up to 3");
    int two = og_i64(&t, 2, I64S(3, 3));
    og_n(&t)->inputs[1] = two;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "2 entries for 3 outputs");
    og_free(&t);

    /* opset 11, split attribute */
    t = og_new(11);
    x = og_const(&t, YQ_DT_FLOAT, 1, I64S(7), d7);
    n = og_node(&t, "Split", (int[]){x}, 1, 2);
    assert_int_equal(yq_node_set_attr_ints(n, "split", I64S(3, 4), 2), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(3), F32S(0, 1, 2), 0);
    og_expect_f32(og_out(&t, 1), 1, I64S(4), F32S(3, 4, 5, 6), 0);
    og_n(&t)->nattrs = 0; /* equal split of 7 into 2: not allowed */
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "does not split evenly");
    og_n(&t)->nattrs = 1;
    og_free(&t);

    /* opset 18, num_outputs=3 on 7: chunks 3, 3, 1 */
    t = og_new(18);
    x = og_const(&t, YQ_DT_FLOAT, 1, I64S(7), d7);
    n = og_node(&t, "Split", (int[]){x}, 1, 3);
    assert_int_equal(yq_node_set_attr_int(n, "num_outputs", 3), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(3), F32S(0, 1, 2), 0);
    og_expect_f32(og_out(&t, 1), 1, I64S(3), F32S(3, 4, 5), 0);
    og_expect_f32(og_out(&t, 2), 1, I64S(1), F32S(6), 0);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "num_outputs", 2), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "num_outputs is 2");
    og_free(&t);
}

/* ---- Slice ------------------------------------------------------------------------------ */

static void test_slice_opset9_attrs(void **state) {
    (void)state;
    float d[12];
    for (int i = 0; i < 12; i++) d[i] = (float)i;
    og t = og_new(9);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 4), d);
    yq_node *n = og_node(&t, "Slice", (int[]){x}, 1, 1);
    /* axes default 0..: rows 1..end, cols 1..2 (end clamps, negative end) */
    assert_int_equal(yq_node_set_attr_ints(n, "starts", I64S(1, 1), 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "ends", I64S(1000, -1), 2), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 2), F32S(5, 6, 9, 10), 0);
    assert_int_equal(yq_node_set_attr_ints(og_n(&t), "axes", I64S(1), 1), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "axes has 1");
    og_free(&t);
}

static void test_slice_inputs(void **state) {
    (void)state;
    float d[20];
    for (int i = 0; i < 20; i++) d[i] = (float)i; /* (4,5) */
    struct {
        int n;
        int64_t starts[2], ends[2], axes[2], steps[2];
        int64_t od[2];
        float want[20];
    } cases[] = {
        /* reverse both axes completely: INT64_MIN-ish end for negative steps */
        {2, {-1, -1}, {INT64_MIN, INT64_MIN}, {0, 1}, {-1, -1}, {4, 5},
         {19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        /* columns 4,2 (step -2 from 10 clamped to 4, end 0 exclusive), rows 1..3 step 2 */
        {2, {10, 1}, {0, INT64_MAX}, {-1, 0}, {-2, 2}, {2, 2}, {9, 7, 19, 17}},
        /* start beyond the end: empty */
        {1, {7, 0}, {9, 0}, {1, 0}, {1, 0}, {4, 0}, {0}},
        /* step larger than the axis takes one element */
        {1, {2, 0}, {INT64_MAX, 0}, {1, 0}, {INT64_MAX, 0}, {4, 1}, {2, 7, 12, 17}},
        {1, {2, 0}, {-100, 0}, {1, 0}, {INT64_MIN, 0}, {4, 1}, {2, 7, 12, 17}},
    };
    for (int c = 0; c < NELEM(cases); c++) {
        og t = og_new(13);
        int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(4, 5), d);
        int s = og_i64(&t, cases[c].n, cases[c].starts), e = og_i64(&t, cases[c].n, cases[c].ends);
        int a = og_i64(&t, cases[c].n, cases[c].axes), st = og_i64(&t, cases[c].n, cases[c].steps);
        og_node(&t, "Slice", (int[]){x, s, e, a, st}, 5, 1);
        assert_int_equal(og_eval(&t, NULL), YQ_OK);
        og_expect_f32(og_out(&t, 0), 2, cases[c].od, cases[c].want, 0);
        og_free(&t);
    }
    /* int32 starts/ends, axes and steps omitted (-1 entries) */
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(4, 5), d);
    int s = og_const(&t, YQ_DT_INT32, 1, I64S(1), I32S(-2));
    int e = og_const(&t, YQ_DT_INT32, 1, I64S(1), I32S(4));
    og_node(&t, "Slice", (int[]){x, s, e, -1, -1}, 5, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 5), d + 10, 0);
    og_free(&t);
}

static void test_slice_errors(void **state) {
    (void)state;
    float d[20] = {0};
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(4, 5), d);
    int s = og_i64(&t, 2, I64S(0, 0)), e = og_i64(&t, 2, I64S(1, 1));
    int dup = og_i64(&t, 2, I64S(1, -1)), zero = og_i64(&t, 2, I64S(1, 0)), one = og_i64(&t, 1, I64S(0));
    int dyn = og_input(&t, YQ_DT_INT64, 1, I64S(2));
    og_node(&t, "Slice", (int[]){x, s, e, dup, -1}, 5, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "listed twice");
    og_n(&t)->inputs[3] = -1;
    assert_int_equal(og_infer(&t), YQ_OK);
    og_n(&t)->inputs[4] = zero;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "steps[1] is 0");
    og_n(&t)->inputs[4] = one;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "steps has 1");
    og_n(&t)->inputs[4] = -1;
    og_n(&t)->inputs[1] = dyn;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "must be a constant");
    og_free(&t);
}

/* ---- Tile / Expand ----------------------------------------------------------------------- */

static void test_tile(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(2, 2), F32S(1, 2, 3, 4));
    int r = og_i64(&t, 2, I64S(2, 3));
    og_node(&t, "Tile", (int[]){x, r}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(4, 6),
                  F32S(1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4), 0);
    int r0 = og_i64(&t, 2, I64S(0, 1));
    og_n(&t)->inputs[1] = r0;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 2, I64S(0, 2));
    int bad = og_i64(&t, 1, I64S(2));
    og_n(&t)->inputs[1] = bad;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "1 entries for a rank-2");
    int neg = og_i64(&t, 2, I64S(1, -1));
    og_n(&t)->inputs[1] = neg;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "negative");
    og_free(&t);
}

static void test_expand(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 2, I64S(3, 1), F32S(1, 2, 3));
    int s = og_i64(&t, 3, I64S(2, 1, 4));
    og_node(&t, "Expand", (int[]){x, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 3, I64S(2, 3, 4),
                  F32S(1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), 0);
    /* the shape may be shorter / hold 1 where the input is larger */
    int s2 = og_i64(&t, 1, I64S(1));
    og_n(&t)->inputs[1] = s2;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(3, 1), F32S(1, 2, 3), 0);
    int bad = og_i64(&t, 2, I64S(2, 4));
    og_n(&t)->inputs[1] = bad;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "do not broadcast");
    og_free(&t);
}

/* ---- Shape / Constant / ConstantOfShape / Range ---------------------------------------- */

static void test_shape(void **state) {
    (void)state;
    static const struct {
        int64_t opset, start, end;
        int n;
        int64_t want[4];
    } cases[] = {{13, 1, 2, 4, {2, 3, 4, 5}}, /* start/end ignored before 15 */
                 {15, 1, 3, 2, {3, 4}},       {15, -1, 99, 1, {5}},          {15, -10, 4, 4, {2, 3, 4, 5}},
                 {15, 3, 1, 0, {0}}};
    for (int c = 0; c < NELEM(cases); c++) {
        og t = og_new(cases[c].opset);
        /* a graph input: no data, only a static shape */
        int x = og_input(&t, YQ_DT_UINT8, 4, I64S(2, 3, 4, 5));
        yq_node *n = og_node(&t, "Shape", (int[]){x}, 1, 1);
        assert_int_equal(yq_node_set_attr_int(n, "start", cases[c].start), YQ_OK);
        assert_int_equal(yq_node_set_attr_int(n, "end", cases[c].end), YQ_OK);
        assert_int_equal(og_infer(&t), YQ_OK);
        const yq_value *o = og_out(&t, 0);
        assert_non_null(o->data); /* known at infer time */
        assert_false(o->flags & YQ_VAL_INIT);
        og_expect_i64(o, 1, I64S(cases[c].n), cases[c].want);
        og_free(&t);
    }
}

/* Shape -> Gather -> Concat -> Reshape folds although the Shape input is
 * not a constant (the executor's constant folding relies on this). */
static void test_shape_chain_folds(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_input(&t, YQ_DT_FLOAT, 3, I64S(2, 3, 4));
    int shp, g0, cat, resh, idx, minus1, data;
    assert_int_equal(yq_graph_add_value(t.g, "shp", &shp), YQ_OK);
    assert_int_equal(yq_graph_add_value(t.g, "g0", &g0), YQ_OK);
    assert_int_equal(yq_graph_add_value(t.g, "cat", &cat), YQ_OK);
    assert_int_equal(yq_graph_add_value(t.g, "resh", &resh), YQ_OK);
    idx = og_i64(&t, 1, I64S(0));
    minus1 = og_i64(&t, 1, I64S(-1));
    int n0, n1, n2, n3;
    assert_int_equal(yq_graph_add_node(t.g, "Shape", "", "s", &x, 1, &shp, 1, &n0), YQ_OK);
    assert_int_equal(yq_graph_add_node(t.g, "Gather", "", "g", (int[]){shp, idx}, 2, &g0, 1, &n1), YQ_OK);
    assert_int_equal(yq_graph_add_node(t.g, "Concat", "", "c", (int[]){g0, minus1}, 2, &cat, 1, &n2), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&t.g->nodes[n2], "axis", 0), YQ_OK);
    float vals[24];
    for (int i = 0; i < 24; i++) vals[i] = (float)i;
    data = og_const(&t, YQ_DT_FLOAT, 3, I64S(2, 3, 4), vals);
    assert_int_equal(yq_graph_add_node(t.g, "Reshape", "", "r", (int[]){data, cat}, 2, &resh, 1, &n3), YQ_OK);
    assert_int_equal(yq_node_infer(t.g, n0), YQ_OK);
    assert_int_equal(yq_node_eval(t.g, n1, NULL), YQ_OK);
    assert_int_equal(yq_node_eval(t.g, n2, NULL), YQ_OK);
    og_expect_i64(&t.g->values[cat], 1, I64S(2), I64S(2, -1));
    assert_int_equal(yq_node_eval(t.g, n3, NULL), YQ_OK);
    og_expect_f32(&t.g->values[resh], 2, I64S(2, 12), vals, 0);
    og_free(&t);
}

static void test_constant(void **state) {
    (void)state;
    og t = og_new(13);
    yq_node *n = og_node(&t, "Constant", NULL, 0, 1);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "no value attribute");
    assert_int_equal(yq_node_set_attr_ints(n, "value_ints", I64S(4, -5, 6), 3), YQ_OK);
    assert_int_equal(og_infer(&t), YQ_OK);
    assert_false(og_out(&t, 0)->flags & YQ_VAL_INIT);
    og_expect_i64(og_out(&t, 0), 1, I64S(3), I64S(4, -5, 6));
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 1, I64S(3), I64S(4, -5, 6));
    assert_int_equal(yq_node_set_attr_float(og_n(&t), "value_float", 2.5f), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "has both value_float and value_ints");
    og_free(&t);

    t = og_new(13);
    n = og_node(&t, "Constant", NULL, 0, 1);
    assert_int_equal(yq_node_set_attr_float(n, "value_float", 2.5f), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 0, NULL, F32S(2.5f), 0);
    og_free(&t);

    /* value: a tensor attribute (int8 2x2) */
    t = og_new(13);
    n = og_node(&t, "Constant", NULL, 0, 1);
    int8_t vals[4] = {-3, 0, 7, 127};
    og_tensor_attr(n, "value", YQ_DT_INT8, 2, I64S(2, 2), vals);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_int_equal(og_out(&t, 0)->dtype, YQ_DT_INT8);
    og_expect_dims(og_out(&t, 0), 2, I64S(2, 2));
    assert_memory_equal(og_out(&t, 0)->data, vals, 4);
    og_free(&t);

    t = og_new(13);
    n = og_node(&t, "Constant", NULL, 0, 1);
    assert_int_equal(yq_node_set_attr_string(n, "value_string", "hi"), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "not supported");
    og_free(&t);
}

static void test_constant_of_shape(void **state) {
    (void)state;
    og t = og_new(13);
    int s = og_i64(&t, 2, I64S(2, 3));
    yq_node *n = og_node(&t, "ConstantOfShape", (int[]){s}, 1, 1);
    assert_int_equal(og_infer(&t), YQ_OK);
    assert_non_null(og_out(&t, 0)->data); /* small: folded at infer time */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 2, I64S(2, 3), F32S(0, 0, 0, 0, 0, 0), 0);
    /* int32 value 7 */
    int32_t seven = 7;
    og_tensor_attr(n, "value", YQ_DT_INT32, 1, I64S(1), &seven);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_int_equal(og_out(&t, 0)->dtype, YQ_DT_INT32);
    assert_memory_equal(og_out(&t, 0)->data, ((int32_t[]){7, 7, 7, 7, 7, 7}), 24);
    /* empty shape: a scalar */
    int e = og_const(&t, YQ_DT_INT64, 1, I64S(0), NULL);
    og_n(&t)->inputs[0] = e;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 0, NULL);
    assert_int_equal(((int32_t *)og_out(&t, 0)->data)[0], 7);
    int neg = og_i64(&t, 2, I64S(2, -3));
    og_n(&t)->inputs[0] = neg;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "negative");
    og_free(&t);
}

static void test_range(void **state) {
    (void)state;
    og t = og_new(11);
    int s = og_const(&t, YQ_DT_FLOAT, 0, NULL, F32S(1));
    int l = og_const(&t, YQ_DT_FLOAT, 0, NULL, F32S(2.1f));
    int d = og_const(&t, YQ_DT_FLOAT, 0, NULL, F32S(0.25f));
    og_node(&t, "Range", (int[]){s, l, d}, 3, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 1, I64S(5), F32S(1, 1.25f, 1.5f, 1.75f, 2), 0);
    og_free(&t);

    t = og_new(11);
    s = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(10));
    l = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(6));
    d = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(-3));
    og_node(&t, "Range", (int[]){s, l, d}, 3, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 1, I64S(2));
    assert_memory_equal(og_out(&t, 0)->data, ((int32_t[]){10, 7}), 8);
    /* limit on the wrong side: empty */
    int d2 = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(3));
    og_n(&t)->inputs[2] = d2;
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 1, I64S(0));
    int d0 = og_const(&t, YQ_DT_INT32, 0, NULL, I32S(0));
    og_n(&t)->inputs[2] = d0;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "delta is 0");
    int d64 = og_const(&t, YQ_DT_INT64, 0, NULL, I64S(1));
    og_n(&t)->inputs[2] = d64;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "share one type");
    og_free(&t);

    /* int64 near the limits: exact count without overflow */
    t = og_new(11);
    s = og_const(&t, YQ_DT_INT64, 0, NULL, I64S(INT64_MAX - 5));
    l = og_const(&t, YQ_DT_INT64, 0, NULL, I64S(INT64_MAX));
    d = og_const(&t, YQ_DT_INT64, 0, NULL, I64S(2));
    og_node(&t, "Range", (int[]){s, l, d}, 3, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_i64(og_out(&t, 0), 1, I64S(3), I64S(INT64_MAX - 5, INT64_MAX - 3, INT64_MAX - 1));
    og_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_basic),       cmocka_unit_test(test_reshape_allowzero),
        cmocka_unit_test(test_reshape_errors),      cmocka_unit_test(test_reshape_any_dtype),
        cmocka_unit_test(test_flatten),             cmocka_unit_test(test_squeeze),
        cmocka_unit_test(test_unsqueeze),           cmocka_unit_test(test_transpose_small),
        cmocka_unit_test(test_transpose_all_perms_4d), cmocka_unit_test(test_strided_copy_random),
        cmocka_unit_test(test_concat),              cmocka_unit_test(test_concat_large_threaded),
        cmocka_unit_test(test_split),               cmocka_unit_test(test_slice_opset9_attrs),
        cmocka_unit_test(test_slice_inputs),        cmocka_unit_test(test_slice_errors),
        cmocka_unit_test(test_tile),                cmocka_unit_test(test_expand),
        cmocka_unit_test(test_shape),               cmocka_unit_test(test_shape_chain_folds),
        cmocka_unit_test(test_constant),            cmocka_unit_test(test_constant_of_shape),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
