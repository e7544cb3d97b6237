/* quant/ptq: sequential GPTQ, empirical bias correction and bad calibration
 * data, on small synthetic graphs.
 *   chain: x [1,3,12,12] -> conv1 (8x3x3x3, pad 1) -> Relu -> conv2 (8x8x3x3,
 *          pad 1) -> Relu -> conv3 (4x8x1x1) -> y
 *   single: x [1,3,8,8] -> conv (6x3x1x1, bias) -> y  (hand-made weights) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "test_quant_graph.h"
#include "onnx/onnx.h"
#include "quant/ptq.h"
#include "rt/prepare.h"
#include "rt/session.h"


static yq_graph *make_chain(void) {
    yq_graph *g = quant_graph_new(3, 12);
    uint64_t seed = 11;
    int a = add_conv(g, "conv1", g->inputs[0], 8, 3, 3, 0.3, &seed, 1);
    int b = add_conv(g, "conv2", a, 8, 8, 3, 0.15, &seed, 1);
    int y = add_conv(g, "conv3", b, 4, 8, 1, 0.3, &seed, 0);
    quant_graph_finish(g, y);
    return g;
}

typedef struct input_spec {
    int64_t c, hw;
    int nan_image;    /* image index that holds a NaN (-1: none) */
    int dead_channel; /* input channel that is always 0 (-1: none) */
} input_spec;

static yq_status image_input(void *arg, int index, float *nchw) {
    const input_spec *s = arg;
    uint64_t r = 1000 + (uint64_t)index;
    const int64_t plane = s->hw * s->hw;
    for (int64_t i = 0; i < s->c * plane; i++) nchw[i] = (float)rng_uniform(&r);
    if (s->dead_channel >= 0) memset(nchw + s->dead_channel * plane, 0, (size_t)plane * sizeof(float));
    if (index == s->nan_image) nchw[5] = NAN;
    return YQ_OK;
}

static size_t hessian_budget = (size_t)2 << 30;

static yq_status run_quantize(yq_graph *g, const char *recipe, int nthreads, int ncalib, input_spec *in,
                              yq_ptq_report *rep) {
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(recipe, strlen(recipe), "test.json", &r), YQ_OK);
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = nthreads;
    o.hessian_positions = 256;
    o.report_images = ncalib;
    o.hessian_budget = hessian_budget;
    yq_status st = yq_ptq_quantize(g, r, ncalib, image_input, in, &o, rep);
    yq_recipe_free(r);
    return st;
}

static const char SEQ[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                          " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 3}}";
static const char ONESHOT[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                              " \"activations\": {\"bits\": 8}}";

static void serialize(yq_graph *g, uint8_t **b, size_t *n) { assert_int_equal(yq_onnx_serialize(g, b, n), YQ_OK); }

/* Sequential GPTQ: one stage per layer, deterministic across thread counts,
 * different weights from the one-shot Hessians (every layer sees its input
 * quantized, conv2 and conv3 also the quantized layers before them). */
static void test_sequential(void **state) {
    (void)state;
    input_spec in = {3, 12, -1, -1};
    uint8_t *a, *b, *o;
    size_t la, lb, lo;
    yq_ptq_report ra, rb, ro;
    yq_graph *g = make_chain();
    assert_int_equal(run_quantize(g, SEQ, 1, 8, &in, &ra), YQ_OK);
    serialize(g, &a, &la);
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, SEQ, 2, 8, &in, &rb), YQ_OK);
    serialize(g, &b, &lb);
    yq_graph_free(g);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    g = make_chain();
    assert_int_equal(run_quantize(g, ONESHOT, 2, 8, &in, &ro), YQ_OK);
    serialize(g, &o, &lo);
    yq_graph_free(g);
    assert_true(la != lo || memcmp(a, o, la) != 0);
    assert_int_equal(ra.nlayers, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(ra.layers[i].gptq_stage, i);
    assert_int_equal(ra.layers[0].gptq_loss == ro.layers[0].gptq_loss, 0); /* conv1 sees x quantized (A8) */
    print_message("output SQNR: sequential %.2f dB, one-shot %.2f dB\n", ra.output_sqnr_db, ro.output_sqnr_db);
    assert_true(isfinite(ra.output_sqnr_db) && ra.output_sqnr_db > 15.0);
    free(a), free(b), free(o);
    yq_ptq_report_free(&ra);
    yq_ptq_report_free(&rb);
    yq_ptq_report_free(&ro);
}

/* Hand-made layer: 1x1 conv whose 4-bit grid rounds every weight the same
 * way (w = 0.11·k + 0.02 on a step of ~0.1), on inputs with mean 0.5: the
 * rounding error has a large mean, which bias correction must remove. With
 * 256 positions sampled on an 8x8 map every position counts, so the mean
 * output difference over the calibration images is zero to rounding. */
static yq_graph *make_single(void) {
    yq_graph *g = quant_graph_new(3, 8);
    float w[6 * 3], b[6];
    for (int o = 0; o < 6; o++) {
        for (int k = 0; k < 3; k++) w[o * 3 + k] = (float)(0.11 * (o - 3 + k) + 0.02);
        w[o * 3 + (o % 3)] = 0.8f; /* the row's max: sets a coarse step */
        b[o] = 0.01f * (float)o;
    }
    const int64_t wd[4] = {6, 3, 1, 1}, bd[1] = {6};
    int wv, bv, n, y = add_value(g, "y");
    assert_int_equal(yq_graph_add_initializer(g, "w", YQ_DT_FLOAT, 4, wd, w, &wv), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, 1, bd, b, &bv), YQ_OK);
    int ins[3] = {g->inputs[0], wv, bv};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv", ins, 3, &y, 1, &n), YQ_OK);
    quant_graph_finish(g, y);
    return g;
}

/* Mean over images and positions of y_q - y_f, per output channel. */
static void mean_shift(yq_graph *qg, input_spec *in, int nimg, double *shift) {
    yq_graph *fg = make_single();
    yq_session *fs, *qs;
    yq_session_opts so = {.nthreads = 1, .no_fusion = 1};
    assert_int_equal(yq_session_new(fg, &so, &fs), YQ_OK);
    yq_graph *qc;
    assert_int_equal(yq_graph_clone(qg, &qc), YQ_OK);
    assert_int_equal(yq_session_new(qc, &so, &qs), YQ_OK);
    float x[3 * 64];
    yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 8, 8}, .data = x};
    for (int o = 0; o < 6; o++) shift[o] = 0;
    for (int i = 0; i < nimg; i++) {
        assert_int_equal(image_input(in, i, x), YQ_OK);
        assert_int_equal(yq_session_run(fs, &t, 1), YQ_OK);
        assert_int_equal(yq_session_run(qs, &t, 1), YQ_OK);
        const float *yf = yq_session_output(fs, 0)->data, *yq = yq_session_output(qs, 0)->data;
        for (int o = 0; o < 6; o++)
            for (int p = 0; p < 64; p++) shift[o] += (double)yq[o * 64 + p] - (double)yf[o * 64 + p];
    }
    for (int o = 0; o < 6; o++) shift[o] /= nimg * 64.0;
    yq_session_free(fs);
    yq_session_free(qs);
}

static void test_bias_correction(void **state) {
    (void)state;
    input_spec in = {3, 8, -1, -1};
    const char *plain = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"gptq\": {\"act_order\": false}}}";
    const char *corr = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"gptq\": {\"act_order\": false}},"
                       " \"bias_correction\": true}";
    double s0[6], s1[6], max0 = 0, max1 = 0;
    yq_ptq_report r0, r1;
    yq_graph *g = make_single();
    yq_status st0 = run_quantize(g, plain, 1, 4, &in, &r0);
    if (st0 != YQ_OK) print_message("%s\n", yq_last_error());
    assert_int_equal(st0, YQ_OK);
    mean_shift(g, &in, 4, s0);
    yq_graph_free(g);
    g = make_single();
    assert_int_equal(run_quantize(g, corr, 2, 4, &in, &r1), YQ_OK);
    mean_shift(g, &in, 4, s1);
    yq_graph_free(g);
    for (int o = 0; o < 6; o++) {
        max0 = fmax(max0, fabs(s0[o]));
        max1 = fmax(max1, fabs(s1[o]));
    }
    print_message("mean output shift: %.3g without, %.3g with bias correction\n", max0, max1);
    assert_true(max0 > 1e-3);
    assert_true(max1 < 1e-5);
    assert_true(r0.layers[0].bias_shift == 0);
    assert_true(r1.layers[0].bias_shift > 1e-3);
    yq_ptq_report_free(&r0);
    yq_ptq_report_free(&r1);
}

/* A NaN in a calibration image: an error naming the image and the layer (not
 * a model with NaN weights or scales); with A8 and no GPTQ, the observer's
 * count of NaN/Inf values makes it an error too. */
static void test_nan_inputs(void **state) {
    (void)state;
    input_spec in = {3, 12, 2, -1};
    yq_ptq_report rep;
    yq_graph *g = make_chain();
    assert_int_equal(run_quantize(g, SEQ, 2, 4, &in, &rep), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "NaN"));
    assert_null(rep.layers);
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, ONESHOT, 2, 4, &in, &rep), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "calibration image 2"));
    assert_non_null(strstr(yq_last_error(), "conv1"));
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, "{\"activations\": {\"bits\": 8}}", 2, 4, &in, &rep), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "NaN/Inf"));
    yq_graph_free(g);
}

/* A dead input channel makes conv1's Hessian singular: GPTQ zeroes those
 * weights, says so in the report, and the model stays finite and close. */
static void test_dead_channel(void **state) {
    (void)state;
    input_spec in = {3, 12, -1, 1};
    yq_ptq_report rep;
    yq_graph *g = make_chain();
    yq_status st = run_quantize(g, SEQ, 2, 4, &in, &rep);
    if (st != YQ_OK) print_message("%s\n", yq_last_error());
    assert_int_equal(st, YQ_OK);
    assert_int_equal(rep.layers[0].dead_columns, 9); /* channel 1 x 3x3 taps */
    assert_true(isfinite(rep.output_sqnr_db) && rep.output_sqnr_db > 8.0);
    yq_ptq_report_free(&rep);
    yq_graph_free(g);
}

/* W4A16: with one stage the model the stage pass runs is the float model,
 * so sequential GPTQ is exactly one-shot GPTQ (same bytes); with three
 * stages conv1 (stage 0) keeps its weights and its GPTQ loss, the later
 * layers change. */
static void test_sequential_consistency(void **state) {
    (void)state;
    input_spec in = {3, 12, -1, -1};
    const char *one = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}}";
    const char *s1 = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"gptq\": {\"sequential\": true, "
                     "\"stages\": 1}}";
    const char *s3 = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"gptq\": {\"sequential\": true, "
                     "\"stages\": 3}}";
    uint8_t *a, *b;
    size_t la, lb;
    yq_ptq_report ro, r1, r3;
    yq_graph *g = make_chain();
    assert_int_equal(run_quantize(g, one, 2, 6, &in, &ro), YQ_OK);
    serialize(g, &a, &la);
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, s1, 2, 6, &in, &r1), YQ_OK);
    serialize(g, &b, &lb);
    yq_graph_free(g);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    g = make_chain();
    assert_int_equal(run_quantize(g, s3, 2, 6, &in, &r3), YQ_OK);
    yq_graph_free(g);
    assert_true(r3.layers[0].gptq_loss == ro.layers[0].gptq_loss);
    assert_true(r3.layers[0].weight_sqnr_db == ro.layers[0].weight_sqnr_db);
    assert_true(r3.layers[1].gptq_loss != ro.layers[1].gptq_loss);
    assert_true(r3.layers[2].gptq_loss != ro.layers[2].gptq_loss);
    free(a), free(b);
    yq_ptq_report_free(&ro);
    yq_ptq_report_free(&r1);
    yq_ptq_report_free(&r3);
}

/* Input-error correction (GPTQ target W + W·(X_fᵀX_q - H)·H⁻¹): deterministic
 * across thread counts; where the layer's input is not quantized at all
 * (W4A16, conv1 in stage 0: X_f = X_q) the target is W and the result that
 * of plain GPTQ; later layers change. */
static const char SEQ_IC[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                             " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 3,"
                             " \"input_correction\": true}}";

static void test_input_correction(void **state) {
    (void)state;
    input_spec in = {3, 12, -1, -1};
    uint8_t *a, *b;
    size_t la, lb;
    yq_ptq_report ra, rb, rs;
    yq_graph *g = make_chain();
    assert_int_equal(run_quantize(g, SEQ_IC, 1, 8, &in, &ra), YQ_OK);
    serialize(g, &a, &la);
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, SEQ_IC, 2, 8, &in, &rb), YQ_OK);
    serialize(g, &b, &lb);
    yq_graph_free(g);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    g = make_chain();
    assert_int_equal(run_quantize(g, SEQ, 2, 8, &in, &rs), YQ_OK);
    yq_graph_free(g);
    print_message("output SQNR: input-corrected %.2f dB, sequential %.2f dB\n", ra.output_sqnr_db, rs.output_sqnr_db);
    assert_true(isfinite(ra.output_sqnr_db) && ra.output_sqnr_db > 15.0);
    const char *a16 = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"gptq\": {\"sequential\": true,"
                      " \"stages\": 3, \"input_correction\": %s}}";
    char t1[256], t0[256];
    snprintf(t1, sizeof t1, a16, "true");
    snprintf(t0, sizeof t0, a16, "false");
    yq_ptq_report r1, r0;
    g = make_chain();
    assert_int_equal(run_quantize(g, t1, 2, 6, &in, &r1), YQ_OK);
    yq_graph_free(g);
    g = make_chain();
    assert_int_equal(run_quantize(g, t0, 2, 6, &in, &r0), YQ_OK);
    yq_graph_free(g);
    assert_true(fabs(r1.layers[0].gptq_loss - r0.layers[0].gptq_loss) <= 1e-6 * r0.layers[0].gptq_loss);
    assert_true(fabs(r1.layers[0].weight_sqnr_db - r0.layers[0].weight_sqnr_db) < 1e-6);
    assert_true(r1.layers[1].weight_sqnr_db != r0.layers[1].weight_sqnr_db);
    assert_true(r1.layers[2].weight_sqnr_db != r0.layers[2].weight_sqnr_db);
    yq_ptq_report_free(&r1);
    yq_ptq_report_free(&r0);
    free(a), free(b);
    yq_ptq_report_free(&ra);
    yq_ptq_report_free(&rb);
    yq_ptq_report_free(&rs);
}

/* The recipe keys of this file's features: values, defaults and errors. */
static void test_recipe_keys(void **state) {
    (void)state;
    yq_recipe *r;
    const char *ok = "{\"gptq\": {\"sequential\": true, \"stages\": 6, \"input_correction\": true},"
                     " \"bias_correction\": true, \"equalize\": {\"method\": \"smoothquant\", \"alpha\": 0.4}}";
    assert_int_equal(yq_recipe_parse(ok, strlen(ok), "r.json", &r), YQ_OK);
    assert_true(r->gptq_sequential && r->gptq_input_correction && r->bias_correction);
    assert_int_equal(r->gptq_stages, 6);
    assert_int_equal(r->equalize, 2);
    assert_true(r->smooth_alpha == 0.4);
    yq_recipe_free(r);
    assert_int_equal(yq_recipe_parse("{}", 2, "r.json", &r), YQ_OK);
    assert_false(r->gptq_sequential || r->gptq_input_correction || r->bias_correction || r->equalize);
    assert_int_equal(r->gptq_stages, 8);
    yq_recipe_free(r);
    static const char *const bad[][2] = {
        {"{\"gptq\": {\"stages\": 0}}", "gptq.stages"},
        {"{\"gptq\": {\"sequentail\": true}}", "sequentail"},
        {"{\"bias_correction\": 1}", "bias_correction"},
        {"{\"equalize\": {\"method\": \"dfq\"}}", "equalize.method"},
        {"{\"equalize\": {\"alpha\": 1.0}}", "equalize.alpha"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(yq_recipe_parse(bad[i][0], strlen(bad[i][0]), "r.json", &r), YQ_ERR_PARSE);
        assert_non_null(strstr(yq_last_error(), bad[i][1]));
        assert_non_null(strstr(yq_last_error(), "r.json"));
    }
}

/* The Hessian budget splits a stage into several passes; they must see the
 * same model (the stage's start), so the bytes do not depend on the budget,
 * bias correction included. */
static void test_sequential_budget(void **state) {
    (void)state;
    input_spec in = {3, 12, -1, -1};
    const char *rc = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"activations\": {\"bits\": 8},"
                     " \"gptq\": {\"sequential\": true, \"stages\": 2}, \"bias_correction\": true}";
    uint8_t *a, *b;
    size_t la, lb;
    yq_ptq_report ra, rb;
    yq_graph *g = make_chain();
    assert_int_equal(run_quantize(g, rc, 2, 4, &in, &ra), YQ_OK);
    serialize(g, &a, &la);
    yq_graph_free(g);
    hessian_budget = 1; /* one layer per pass */
    g = make_chain();
    assert_int_equal(run_quantize(g, rc, 2, 4, &in, &rb), YQ_OK);
    hessian_budget = (size_t)2 << 30;
    serialize(g, &b, &lb);
    yq_graph_free(g);
    assert_int_equal(ra.hessian_passes, 2);
    assert_int_equal(rb.hessian_passes, 3);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a), free(b);
    yq_ptq_report_free(&ra);
    yq_ptq_report_free(&rb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_sequential_consistency),
        cmocka_unit_test(test_input_correction),
        cmocka_unit_test(test_recipe_keys),
        cmocka_unit_test(test_sequential_budget),
        cmocka_unit_test(test_bias_correction),
        cmocka_unit_test(test_nan_inputs),
        cmocka_unit_test(test_dead_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
