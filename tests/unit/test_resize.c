/* Resize (src/rt/kernels/resize.c). Hand-computed cases for each mode and
 * coordinate transformation; the fast kernels against their references on
 * random tables. Nearest results are exact; linear ones within 1e-6 (float
 * rounding of the weights) unless stated. */
#include "opgraph.h"

#include "rt/kernels/resize.h"

static const float k2x2[] = {1, 2, 3, 4};
static float k4x4[16];

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 16; i++) k4x4[i] = (float)(i + 1);
    return 0;
}

/* Resize(X, roi, scales|sizes) at opset >= 11 with string attributes. */
static og resize_graph(int64_t opset, yq_dtype dt, const int64_t *xdims, const void *x, const float *scales,
                       const int64_t *sizes, int naxes, const char *mode, const char *ctm, const char *nearest) {
    og t = og_new(opset);
    int xi = og_const(&t, dt, 4, xdims, x);
    int ins[4] = {xi, -1, -1, -1};
    if (scales) ins[2] = og_const(&t, YQ_DT_FLOAT, 1, I64S(naxes), scales);
    if (sizes) ins[3] = og_i64(&t, naxes, sizes);
    yq_node *n = og_node(&t, "Resize", ins, 4, 1); /* trailing omitted inputs are fine */
    if (mode) assert_int_equal(yq_node_set_attr_string(n, "mode", mode), YQ_OK);
    if (ctm) assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", ctm), YQ_OK);
    if (nearest) assert_int_equal(yq_node_set_attr_string(og_n(&t), "nearest_mode", nearest), YQ_OK);
    return t;
}

/* The YOLO upsample: nearest x2, asymmetric, floor (as exported by PyTorch). */
static void test_yolo_nearest_x2(void **state) {
    (void)state;
    float x[2 * 3 * 4];
    for (int i = 0; i < 24; i++) x[i] = (float)i * 1.5f - 7;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    og t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 2, 3, 4), x, F32S(1, 1, 2, 2), NULL, 4, "nearest", "asymmetric",
                        "floor");
    /* an empty roi tensor instead of an omitted input is accepted too */
    int roi = og_const(&t, YQ_DT_FLOAT, 1, I64S(0), NULL);
    og_n(&t)->inputs[1] = roi;
    assert_int_equal(og_eval(&t, pool), YQ_OK);
    const yq_value *o = og_out(&t, 0);
    og_expect_dims(o, 4, I64S(1, 2, 6, 8));
    const float *y = o->data;
    for (int c = 0; c < 2; c++)
        for (int h = 0; h < 6; h++)
            for (int w = 0; w < 8; w++) assert_true(y[(c * 6 + h) * 8 + w] == x[(c * 3 + h / 2) * 4 + w / 2]);
    og_free(&t);
    yq_pool_free(pool);
}

static void test_nearest_half_pixel(void **state) {
    (void)state;
    /* scales [1,1,2,3], default half_pixel + round_prefer_floor */
    og t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 2), k2x2, F32S(1, 1, 2, 3), NULL, 4, "nearest", NULL, NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 4, 6),
                  F32S(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4), 0);
    og_free(&t);
    /* downsample by sizes (1,1,1,3) from (1,1,2,4): coords 0.5 -> 0, {0.17, 1.5, 2.83} -> {0, 1, 3} */
    const float x24[] = {1, 2, 3, 4, 5, 6, 7, 8};
    t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 4), x24, NULL, I64S(1, 1, 1, 3), 4, "nearest", NULL, NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 1, 3), F32S(1, 2, 4), 0);
    og_free(&t);
}

static void test_nearest_modes(void **state) {
    (void)state;
    /* 4 -> 8 along both axes: half_pixel coordinate of output x is x/2 - 0.25 */
    static const struct {
        const char *ctm, *nm;
        int64_t idx[8]; /* source index per output index */
    } cases[] = {
        {"half_pixel", "ceil", {0, 1, 1, 2, 2, 3, 3, 3}},
        {"half_pixel", "floor", {0, 0, 0, 1, 1, 2, 2, 3}},
        {"half_pixel", "round_prefer_ceil", {0, 0, 1, 1, 2, 2, 3, 3}},
        /* asymmetric: x/2; the .5 points go up with round_prefer_ceil */
        {"asymmetric", "round_prefer_ceil", {0, 1, 1, 2, 2, 3, 3, 3}},
        {"asymmetric", "round_prefer_floor", {0, 0, 1, 1, 2, 2, 3, 3}},
        /* align_corners: x * 3/7 -> 0, .43, .86, 1.29, 1.71, 2.14, 2.57, 3 */
        {"align_corners", "floor", {0, 0, 0, 1, 1, 2, 2, 3}},
        {"align_corners", "round_prefer_floor", {0, 0, 1, 1, 2, 2, 3, 3}},
        /* tf_half_pixel_for_nn: (x + 0.5)/2 -> .25, .75, ... */
        {"tf_half_pixel_for_nn", "round_prefer_floor", {0, 1, 1, 2, 2, 3, 3, 3}},
        /* pytorch_half_pixel is half_pixel when the output is longer than 1 */
        {"pytorch_half_pixel", "floor", {0, 0, 0, 1, 1, 2, 2, 3}},
    };
    for (int c = 0; c < NELEM(cases); c++) {
        og t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 4, 4), k4x4, NULL, I64S(1, 1, 8, 8), 4, "nearest",
                            cases[c].ctm, cases[c].nm);
        assert_int_equal(og_eval(&t, NULL), YQ_OK);
        float want[64];
        for (int h = 0; h < 8; h++)
            for (int w = 0; w < 8; w++) want[h * 8 + w] = k4x4[cases[c].idx[h] * 4 + cases[c].idx[w]];
        print_message("%s / %s\n", cases[c].ctm, cases[c].nm);
        og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 8, 8), want, 0);
        og_free(&t);
    }
}

static void test_linear(void **state) {
    (void)state;
    og t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 2), k2x2, F32S(1, 1, 2, 2), NULL, 4, "linear", NULL, NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 4, 4),
                  F32S(1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4),
                  1e-6f);
    og_free(&t);
    t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 2), k2x2, F32S(1, 1, 2, 2), NULL, 4, "linear", "align_corners",
                     NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 4, 4),
                  F32S(1, 4 / 3.f, 5 / 3.f, 2, 5 / 3.f, 2, 7 / 3.f, 8 / 3.f, 7 / 3.f, 8 / 3.f, 3, 10 / 3.f, 3,
                       10 / 3.f, 11 / 3.f, 4),
                  1e-6f);
    og_free(&t);
    /* downsample (1,1,2,4) by 0.6: half_pixel coords h 1/3, w {1/3, 2} */
    const float x24[] = {1, 2, 3, 4, 5, 6, 7, 8};
    t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 4), x24, F32S(1, 1, 0.6f, 0.6f), NULL, 4, "linear", NULL,
                     NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 1, 2), F32S(1 + 4 / 3.f + 1 / 3.f, 3 + 4 / 3.f), 1e-5f);
    og_free(&t);
    /* float16 in, float16 out (values exact in fp16) */
    uint16_t h[4];
    for (int i = 0; i < 4; i++) h[i] = yq_f32_to_f16(k2x2[i]);
    t = resize_graph(13, YQ_DT_FLOAT16, I64S(1, 1, 2, 2), h, F32S(1, 1, 2, 2), NULL, 4, "linear", NULL, NULL);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    const uint16_t *y = og_out(&t, 0)->data;
    assert_int_equal(og_out(&t, 0)->dtype, YQ_DT_FLOAT16);
    assert_true(yq_f16_to_f32(y[1]) == 1.25f && yq_f16_to_f32(y[6]) == 2.25f && yq_f16_to_f32(y[15]) == 4.0f);
    og_free(&t);
}

/* Opset 10: Resize(X, scales), asymmetric; nearest floors when upsampling
 * and rounds up when downsampling (ONNX Runtime's rule for this opset). */
static void test_opset10(void **state) {
    (void)state;
    og t = og_new(10);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 2, 2), k2x2);
    int s = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(1, 1, 2, 2));
    og_node(&t, "Resize", (int[]){x, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 4, 4), F32S(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0);
    og_free(&t);
    /* width 5 * 0.6 = 3 outputs at x/0.6 = 0, 1.67, 3.33 -> 0, 2, 4 */
    t = og_new(10);
    x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 1, 5), F32S(10, 11, 12, 13, 14));
    s = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(1, 1, 1, 0.6f));
    og_node(&t, "Resize", (int[]){x, s}, 2, 1);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 1, 3), F32S(10, 12, 14), 0);
    og_free(&t);
}

/* Opset 18: sizes for some axes only, keep_aspect_ratio_policy. */
static void test_opset18_axes_policy(void **state) {
    (void)state;
    og t = og_new(18);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 4, 4), k4x4);
    int sz = og_i64(&t, 2, I64S(3, 2));
    yq_node *n = og_node(&t, "Resize", (int[]){x, -1, -1, sz}, 4, 1);
    assert_int_equal(yq_node_set_attr_ints(n, "axes", I64S(2, -1), 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "keep_aspect_ratio_policy", "not_larger"), YQ_OK);
    /* scale min(3/4, 2/4) = 0.5 -> 2x2; half_pixel coords 2x + 0.5 -> 0, 2 */
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 2, 2), F32S(1, 3, 9, 11), 0);
    /* not_smaller: scale 0.75 -> 3x3, coords (x + .5)/.75 - .5 = 1/6, 1.5, 2.83 -> 0, 1, 3 */
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "keep_aspect_ratio_policy", "not_smaller"), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 3, 3), F32S(1, 2, 4, 5, 6, 8, 13, 14, 16), 0);
    /* stretch: 3 x 2 exactly */
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "keep_aspect_ratio_policy", "stretch"), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_dims(og_out(&t, 0), 4, I64S(1, 1, 3, 2));
    og_free(&t);
}

static void test_byte_types(void **state) {
    (void)state;
    const uint8_t u[] = {0, 255, 7, 128};
    og t = resize_graph(13, YQ_DT_UINT8, I64S(1, 1, 2, 2), u, F32S(1, 1, 2, 2), NULL, 4, "nearest", "asymmetric",
                        "floor");
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    assert_int_equal(og_out(&t, 0)->dtype, YQ_DT_UINT8);
    assert_memory_equal(og_out(&t, 0)->data,
                        ((uint8_t[]){0, 0, 255, 255, 0, 0, 255, 255, 7, 7, 128, 128, 7, 7, 128, 128}), 16);
    og_free(&t);
    const int8_t s8[] = {-1, 2, -3, 4};
    t = resize_graph(13, YQ_DT_INT8, I64S(1, 1, 2, 2), s8, F32S(1, 1, 2, 2), NULL, 4, "linear", NULL, NULL);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "mode linear needs a float");
    og_free(&t);
}

/* Cubic (A = -0.75): at r = 0.5 the four weights are -0.09375, 0.59375,
 * 0.59375, -0.09375; an impulse shows each one. Edge taps clamp. */
static void test_cubic(void **state) {
    (void)state;
    const float imp[] = {0, 0, 1, 0, 0};
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 1, 5), imp);
    int s = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(1, 1, 1, 2));
    yq_node *n = og_node(&t, "Resize", (int[]){x, -1, s}, 3, 1);
    assert_int_equal(yq_node_set_attr_string(n, "mode", "cubic"), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", "asymmetric"), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    /* x/2 = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5 */
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 1, 10),
                  F32S(0, -0.09375f, 0, 0.59375f, 1, 0.59375f, 0, -0.09375f, 0, 0), 1e-6f);
    /* exclude_outside drops taps outside the axis and renormalises the rest */
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "exclude_outside", 1), YQ_OK);
    assert_int_equal(yq_node_set_attr_float(og_n(&t), "cubic_coeff_a", -0.5f), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    /* A = -0.5, r = 0.5: weights -0.0625, 0.5625, 0.5625, -0.0625; at 0.5 tap -1 is
     * outside, the rest sum to 1.0625 */
    const float *y = og_out(&t, 0)->data;
    assert_true(fabsf(y[1] - (-0.0625f / 1.0625f)) < 1e-6f);
    assert_true(fabsf(y[3] - 0.5625f) < 1e-6f);
    og_free(&t);
    /* linear functions stay linear away from the edges: 2i+1 upsampled by 2 */
    float lin[8];
    for (int i = 0; i < 8; i++) lin[i] = 2.0f * (float)i + 1;
    t = og_new(13);
    x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 1, 8), lin);
    s = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(1, 1, 1, 2));
    n = og_node(&t, "Resize", (int[]){x, -1, s}, 3, 1);
    assert_int_equal(yq_node_set_attr_string(n, "mode", "cubic"), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", "asymmetric"), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    y = og_out(&t, 0)->data;
    for (int i = 2; i <= 11; i++) assert_true(fabsf(y[i] - (float)(i + 1)) < 1e-5f);
    og_free(&t);
}

/* tf_crop_and_resize: roi [0.5, 1.5] of the width, 3 samples at 1.5x + 1.5 =
 * 1.5, 3, 4.5; the last is outside and takes extrapolation_value. */
static void test_crop_and_resize(void **state) {
    (void)state;
    og t = og_new(13);
    int x = og_const(&t, YQ_DT_FLOAT, 4, I64S(1, 1, 1, 4), F32S(1, 2, 3, 4));
    int roi = og_const(&t, YQ_DT_FLOAT, 1, I64S(8), F32S(0, 0, 0, 0.5f, 1, 1, 1, 1.5f));
    int sz = og_i64(&t, 4, I64S(1, 1, 1, 3));
    yq_node *n = og_node(&t, "Resize", (int[]){x, roi, -1, sz}, 4, 1);
    assert_int_equal(yq_node_set_attr_string(n, "mode", "linear"), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", "tf_crop_and_resize"),
                     YQ_OK);
    assert_int_equal(yq_node_set_attr_float(og_n(&t), "extrapolation_value", 10), YQ_OK);
    assert_int_equal(og_eval(&t, NULL), YQ_OK);
    og_expect_f32(og_out(&t, 0), 4, I64S(1, 1, 1, 3), F32S(2.5f, 4, 10), 1e-6f);
    og_n(&t)->inputs[1] = -1;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "needs a float roi with 8 entries");
    int dyn = og_input(&t, YQ_DT_FLOAT, 1, I64S(8));
    og_n(&t)->inputs[1] = dyn;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "must be a constant");
    og_free(&t);
}

static void test_errors(void **state) {
    (void)state;
    og t = resize_graph(18, YQ_DT_FLOAT, I64S(1, 1, 2, 2), k2x2, F32S(1, 1, 0.5f, 0.5f), NULL, 4, "linear", NULL,
                        NULL);
    assert_int_equal(yq_node_set_attr_int(og_n(&t), "antialias", 1), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "antialiased");
    og_free(&t);
    t = resize_graph(13, YQ_DT_FLOAT, I64S(1, 1, 2, 2), k2x2, F32S(1, 1, 2, 2), NULL, 4, "bicubic", NULL, NULL);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "unknown mode");
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "mode", "linear"), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", "sideways"), YQ_OK);
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "unknown coordinate_transformation_mode");
    assert_int_equal(yq_node_set_attr_string(og_n(&t), "coordinate_transformation_mode", "half_pixel"), YQ_OK);
    assert_int_equal(og_infer(&t), YQ_OK);
    /* both scales and sizes */
    int sz = og_i64(&t, 4, I64S(1, 1, 4, 4));
    og_n(&t)->inputs[3] = sz;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "only one of scales and sizes");
    /* neither */
    og_n(&t)->inputs[2] = -1;
    og_n(&t)->inputs[3] = -1;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "one of scales and sizes must be given");
    int three = og_const(&t, YQ_DT_FLOAT, 1, I64S(3), F32S(1, 2, 2));
    og_n(&t)->inputs[2] = three;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "scales has 3 entries for 4 axes");
    int negs = og_const(&t, YQ_DT_FLOAT, 1, I64S(4), F32S(1, 1, -2, 2));
    og_n(&t)->inputs[2] = negs;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_INVALID, "must be > 0");
    int dyn = og_input(&t, YQ_DT_FLOAT, 1, I64S(4));
    og_n(&t)->inputs[2] = dyn;
    OG_EXPECT_FAIL(og_infer(&t), YQ_ERR_UNSUPPORTED, "must be a constant");
    og_free(&t);
}

/* ---- kernels against references ------------------------------------------------ */

static void test_nearest_kernel_random(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    uint64_t seed = 99;
    for (int iter = 0; iter < 200; iter++) {
        int rank = 1 + (int)(og_rand(&seed) % 5);
        size_t es = (size_t)1 << (og_rand(&seed) % 4);
        int64_t in_dims[8], out_dims[8];
        int64_t *tab[8];
        for (int k = 0; k < rank; k++) {
            in_dims[k] = 1 + og_rand(&seed) % 7;
            int kind = (int)(og_rand(&seed) % 3);
            out_dims[k] = kind == 0 ? 2 * in_dims[k] : 1 + og_rand(&seed) % 12;
            tab[k] = malloc((size_t)out_dims[k] * 8);
            for (int64_t x = 0; x < out_dims[k]; x++)
                tab[k][x] = kind == 0 ? x / 2 : kind == 1 ? (x * in_dims[k]) / out_dims[k]
                                                          : (int64_t)(og_rand(&seed) % (uint32_t)in_dims[k]);
        }
        int64_t nin = yq_numel(rank, in_dims), nout = yq_numel(rank, out_dims);
        uint8_t *in = malloc((size_t)nin * es), *a = malloc((size_t)nout * es), *b = malloc((size_t)nout * es);
        for (int64_t i = 0; i < nin * (int64_t)es; i++) in[i] = (uint8_t)og_rand(&seed);
        yq_resize_nearest(pool, es, rank, in_dims, out_dims, (const int64_t *const *)tab, in, a);
        yq_resize_nearest_ref(es, rank, in_dims, out_dims, (const int64_t *const *)tab, in, b);
        assert_memory_equal(a, b, (size_t)nout * es);
        for (int k = 0; k < rank; k++) free(tab[k]);
        free(in);
        free(a);
        free(b);
    }
    yq_pool_free(pool);
}

static void test_linear_kernel_random(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(4, &pool), YQ_OK);
    uint64_t seed = 5;
    for (int iter = 0; iter < 150; iter++) {
        int rank = 1 + (int)(og_rand(&seed) % 4);
        int64_t in_dims[8], out_dims[8];
        yq_lerp *tab[8];
        for (int k = 0; k < rank; k++) {
            in_dims[k] = 1 + og_rand(&seed) % 6;
            out_dims[k] = 1 + og_rand(&seed) % 11;
            tab[k] = malloc((size_t)out_dims[k] * sizeof(yq_lerp));
            int identity = og_rand(&seed) % 4 == 0;
            for (int64_t x = 0; x < out_dims[k]; x++) {
                yq_lerp *l = &tab[k][x];
                l->i0 = (int64_t)(og_rand(&seed) % (uint32_t)in_dims[k]);
                l->i1 = l->i0 + 1 < in_dims[k] ? l->i0 + 1 : l->i0;
                l->w1 = identity ? 0.0f : (float)(og_rand(&seed) % 1001) / 1000.0f;
            }
        }
        int64_t nin = yq_numel(rank, in_dims), nout = yq_numel(rank, out_dims);
        float *in = malloc((size_t)nin * 4), *a = malloc((size_t)nout * 4), *b = malloc((size_t)nout * 4);
        for (int64_t i = 0; i < nin; i++) in[i] = (float)(og_rand(&seed) % 2001) / 100.0f - 10.0f;
        yq_resize_linear_f32(pool, rank, in_dims, out_dims, (const yq_lerp *const *)tab, in, a);
        yq_resize_linear_ref_f32(rank, in_dims, out_dims, (const yq_lerp *const *)tab, in, b);
        for (int64_t i = 0; i < nout; i++)
            if (fabsf(a[i] - b[i]) > 1e-5f * (1 + fabsf(b[i]))) {
                print_message("iter %d element %lld: fast %.9g ref %.9g\n", iter, (long long)i, a[i], b[i]);
                fail();
            }
        for (int k = 0; k < rank; k++) free(tab[k]);
        free(in);
        free(a);
        free(b);
    }
    yq_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yolo_nearest_x2),   cmocka_unit_test(test_nearest_half_pixel),
        cmocka_unit_test(test_nearest_modes),     cmocka_unit_test(test_linear),
        cmocka_unit_test(test_opset10),           cmocka_unit_test(test_opset18_axes_policy),
        cmocka_unit_test(test_byte_types),        cmocka_unit_test(test_cubic),
        cmocka_unit_test(test_crop_and_resize),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nearest_kernel_random), cmocka_unit_test(test_linear_kernel_random),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
