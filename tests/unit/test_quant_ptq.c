/* quant/ptq: the PTQ driver on a small synthetic graph —
 *   x [1,3,16,16] -> conv1 (8x3x3x3, pad 1) -> Relu -> r1 -> conv2 (depthwise 3x3, group 8) -> Relu -> r2
 *   Concat(r1, r2) -> cat -> conv3 (4x16x1x1) -> y
 * W4A8 with GPTQ (depthwise groups included): byte-identical output for 1 and 2
 * threads, the expected Q/DQ/Clip counts, Concat operands sharing one scale,
 * a report with sane SQNRs; bad recipes, no images and failing inputs are errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "onnx/onnx.h"
#include "quant/ptq.h"
#include "rt/prepare.h"

static int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

static yq_graph *make_graph(void) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    g->ir_version = 8;
    int x = add_value(g, "x");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, 3, 16, 16};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    uint64_t seed = 7;
    float w1[8 * 3 * 9], b1[8], w2[8 * 9], w3[4 * 16];
    for (int i = 0; i < 8 * 27; i++) w1[i] = (float)(0.3 * rng_normal(&seed));
    for (int i = 0; i < 8; i++) b1[i] = (float)(0.1 * rng_normal(&seed));
    for (int i = 0; i < 72; i++) w2[i] = (float)(0.4 * rng_normal(&seed));
    for (int i = 0; i < 64; i++) w3[i] = (float)(0.3 * rng_normal(&seed));
    const int64_t w1d[4] = {8, 3, 3, 3}, b1d[1] = {8}, w2d[4] = {8, 1, 3, 3}, w3d[4] = {4, 16, 1, 1};
    int w1v, b1v, w2v, w3v, n;
    assert_int_equal(yq_graph_add_initializer(g, "w1", YQ_DT_FLOAT, 4, w1d, w1, &w1v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b1", YQ_DT_FLOAT, 1, b1d, b1, &b1v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w2", YQ_DT_FLOAT, 4, w2d, w2, &w2v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w3", YQ_DT_FLOAT, 4, w3d, w3, &w3v), YQ_OK);
    int y1 = add_value(g, "y1"), r1 = add_value(g, "r1"), y2 = add_value(g, "y2"), r2 = add_value(g, "r2");
    int cat = add_value(g, "cat"), y = add_value(g, "y");
    const int64_t pads[4] = {1, 1, 1, 1};
    int in1[3] = {x, w1v, b1v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv1", in1, 3, &y1, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "relu1", &y1, 1, &r1, 1, &n), YQ_OK);
    int in2[2] = {r1, w2v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv2", in2, 2, &y2, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "group", 8), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "relu2", &y2, 1, &r2, 1, &n), YQ_OK);
    int inc[2] = {r1, r2};
    assert_int_equal(yq_graph_add_node(g, "Concat", "", "concat", inc, 2, &cat, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "axis", 1), YQ_OK);
    int in3[2] = {cat, w3v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv3", in3, 2, &y, 1, &n), YQ_OK);
    g->values[y].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
    return g;
}

static yq_status image_input(void *arg, int index, float *nchw) {
    int *fail_at = arg;
    if (fail_at && index == *fail_at) return yq_fail(YQ_ERR_IO, "image %d: cannot read", index);
    uint64_t s = 1000 + (uint64_t)index;
    for (int i = 0; i < 3 * 16 * 16; i++) nchw[i] = (float)rng_uniform(&s);
    return YQ_OK;
}

static const char W4A8[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                           " \"activations\": {\"bits\": 8}}";

static void quantize(const char *recipe_text, int nthreads, uint8_t **bytes, size_t *len, yq_ptq_report *rep) {
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(recipe_text, strlen(recipe_text), "test.json", &r), YQ_OK);
    yq_graph *g = make_graph();
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = nthreads;
    o.hessian_positions = 64; /* fewer than the 256 positions: exercises the sampling */
    o.report_images = 2;
    assert_int_equal(yq_ptq_quantize(g, r, 6, image_input, NULL, &o, rep), YQ_OK);
    assert_int_equal(yq_onnx_serialize(g, bytes, len), YQ_OK);
    yq_graph_free(g);
    yq_recipe_free(r);
}

static void test_w4a8_deterministic_and_report(void **state) {
    (void)state;
    uint8_t *a, *b;
    size_t la, lb;
    yq_ptq_report ra, rb;
    quantize(W4A8, 1, &a, &la, &ra);
    quantize(W4A8, 2, &b, &lb, &rb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);

    assert_int_equal(ra.nlayers, 3);
    for (int i = 0; i < 3; i++) {
        const yq_ptq_layer *l = &ra.layers[i];
        assert_int_equal(l->bits, 4);
        assert_int_equal(l->act_bits, 8);
        assert_true(l->gptq);
        /* 4-bit asymmetric per channel on Gaussian weights: ~15-25 dB */
        assert_true(l->weight_sqnr_db > 8.0 && l->weight_sqnr_db < 40.0);
        assert_true(l->output_sqnr_db > 8.0);
        assert_true(l->act_scale > 0);
    }
    /* conv2 reads r1, conv3 reads cat = Concat(r1, r2): one shared scale */
    assert_string_equal(ra.layers[1].name, "conv2");
    assert_string_equal(ra.layers[2].name, "conv3");
    assert_true(ra.layers[1].act_scale == ra.layers[2].act_scale);
    assert_int_equal(ra.layers[1].act_zero_point, ra.layers[2].act_zero_point);
    assert_int_equal(ra.act_quantizers, 3); /* x, r1, cat */
    assert_int_equal(ra.counts_after.quantize, 3);
    assert_int_equal(ra.counts_after.dequantize, 6);
    assert_int_equal(ra.counts_after.clip, 3);
    assert_true(ra.output_sqnr_db > 8.0 && isfinite(ra.output_sqnr_db));
    assert_int_equal(ra.calib_images, 6);
    assert_int_equal(ra.report_images, 2);
    /* 4-bit weights + per-channel scales / zero points + the float bias */
    assert_true(ra.weight_bytes < ra.float_weight_bytes / 2);
    assert_true(ra.hessian_peak_bytes > 0);
    yq_ptq_report_free(&ra);
    yq_ptq_report_free(&rb);
}

static void test_w8_rtn_exact_grid(void **state) {
    (void)state;
    uint8_t *a;
    size_t la;
    yq_ptq_report r;
    quantize("{}", 2, &a, &la, &r); /* W8A16, round to nearest */
    free(a);
    assert_int_equal(r.nlayers, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.layers[i].bits, 8);
        assert_int_equal(r.layers[i].act_bits, 0);
        assert_false(r.layers[i].gptq);
        assert_true(r.layers[i].weight_sqnr_db > 30.0); /* 8-bit: ~40 dB */
    }
    assert_int_equal(r.counts_after.quantize, 0);
    assert_int_equal(r.counts_after.clip, 0);
    assert_true(r.output_sqnr_db > 25.0);
    yq_ptq_report_free(&r);
}

/* "bias": "int32" with A8: conv1's bias (the only one) becomes INT32 +
 * DequantizeLinear(scale s_x·s_w[c], zero point 0, axis 0) whose values are
 * the float bias rounded to that grid; a float-input recipe keeps it float. */
static void test_int32_bias(void **state) {
    (void)state;
    const char *text = "{\"weights\": {\"bits\": 8, \"bias\": \"int32\"}, \"activations\": {\"bits\": 8}}";
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(text, strlen(text), "b.json", &r), YQ_OK);
    yq_graph *g = make_graph();
    const float *b1 = g->values[yq_graph_find_value(g, "b1")].data;
    float bias[8];
    memcpy(bias, b1, sizeof bias);
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = 2;
    o.report_images = 1;
    yq_ptq_report rep;
    assert_int_equal(yq_ptq_quantize(g, r, 3, image_input, NULL, &o, &rep), YQ_OK);
    assert_int_equal(rep.int32_biases, 1);
    assert_true(rep.layers[0].int32_bias);
    assert_false(rep.layers[1].int32_bias); /* no bias input */
    int found = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Conv") || strcmp(n->name, "conv1")) continue;
        const yq_value *bo = &g->values[n->inputs[2]];
        assert_true(bo->producer >= 0);
        const yq_node *dq = &g->nodes[bo->producer];
        assert_string_equal(dq->op_type, "DequantizeLinear");
        assert_int_equal(yq_attr_int(dq, "axis", -1), 0);
        const yq_value *q = &g->values[dq->inputs[0]], *sc = &g->values[dq->inputs[1]], *zp = &g->values[dq->inputs[2]];
        assert_int_equal(q->dtype, YQ_DT_INT32);
        assert_int_equal(zp->dtype, YQ_DT_INT32);
        assert_int_equal(yq_value_numel(sc), 8);
        /* the weight's per-channel scales: conv1's weight DequantizeLinear */
        const yq_node *wdq = &g->nodes[g->values[n->inputs[1]].producer];
        const float *sw = g->values[wdq->inputs[1]].data, *s = sc->data;
        const int32_t *qi = q->data, *zi = zp->data;
        for (int c = 0; c < 8; c++) {
            assert_true(s[c] == (float)((double)rep.layers[0].act_scale * (double)sw[c]));
            assert_int_equal(zi[c], 0);
            assert_true(fabs((double)qi[c] * s[c] - bias[c]) <= 0.5 * s[c] * (1 + 1e-6));
        }
        found = 1;
    }
    assert_true(found);
    yq_ptq_report_free(&rep);
    yq_graph_free(g);
    yq_recipe_free(r);

    /* float activations: nothing to scale by, the bias stays float */
    const char *wonly = "{\"weights\": {\"bits\": 8, \"bias\": \"int32\"}}";
    assert_int_equal(yq_recipe_parse(wonly, strlen(wonly), "b.json", &r), YQ_OK);
    g = make_graph();
    assert_int_equal(yq_ptq_quantize(g, r, 2, image_input, NULL, &o, &rep), YQ_OK);
    assert_int_equal(rep.int32_biases, 0);
    yq_ptq_report_free(&rep);
    yq_graph_free(g);
    yq_recipe_free(r);
}

static void test_errors(void **state) {
    (void)state;
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = 2;
    yq_recipe *r;
    const char *bad = "{\"overrides\": [{\"match\": \"nope*\", \"weights\": {\"bits\": 8}}]}";
    assert_int_equal(yq_recipe_parse(bad, strlen(bad), "bad.json", &r), YQ_OK);
    yq_graph *g = make_graph();
    assert_int_not_equal(yq_ptq_quantize(g, r, 2, image_input, NULL, &o, NULL), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "matches no node"));
    yq_graph_free(g);
    yq_recipe_free(r);

    assert_int_equal(yq_recipe_parse(W4A8, strlen(W4A8), "w4a8.json", &r), YQ_OK);
    g = make_graph();
    assert_int_equal(yq_ptq_quantize(g, r, 0, image_input, NULL, &o, NULL), YQ_ERR_ARG);
    yq_graph_free(g);
    int fail_at = 3;
    g = make_graph();
    yq_ptq_report rep;
    assert_int_equal(yq_ptq_quantize(g, r, 6, image_input, &fail_at, &o, &rep), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), "image 3"));
    assert_null(rep.layers);
    yq_graph_free(g);
    yq_recipe_free(r);
}

/* "method": "adaround" through the driver: same structure as GPTQ, byte-identical
 * across thread counts, per-layer proxy loss (the driver's l->loss) no worse
 * than GPTQ's start, and whole-model output SQNR not below GPTQ's by more
 * than noise. */
static void test_w4a8_adaround(void **state) {
    (void)state;
    static const char ADA[] = "{\"weights\": {\"bits\": 4, \"method\": \"adaround\", \"symmetric\": false,"
                              " \"adaround\": {\"iters\": 200}}, \"activations\": {\"bits\": 8}}";
    uint8_t *a, *b, *c;
    size_t la, lb, lc;
    yq_ptq_report ra, rb, rg;
    quantize(ADA, 1, &a, &la, &ra);
    quantize(ADA, 2, &b, &lb, &rb);
    quantize(W4A8, 2, &c, &lc, &rg);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(ra.nlayers, 3);
    assert_int_equal(ra.counts_after.quantize, rg.counts_after.quantize);
    assert_int_equal(ra.counts_after.dequantize, rg.counts_after.dequantize);
    assert_int_equal(ra.counts_after.clip, rg.counts_after.clip);
    print_message("output SQNR: AdaRound %.2f dB, GPTQ %.2f dB\n", ra.output_sqnr_db, rg.output_sqnr_db);
    assert_true(ra.output_sqnr_db > rg.output_sqnr_db - 0.5);
    for (int i = 0; i < 3; i++) assert_true(ra.layers[i].weight_sqnr_db > 8.0);
    free(a), free(b), free(c);
    yq_ptq_report_free(&ra);
    yq_ptq_report_free(&rb);
    yq_ptq_report_free(&rg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w4a8_adaround),
        cmocka_unit_test(test_w4a8_deterministic_and_report),
        cmocka_unit_test(test_w8_rtn_exact_grid),
        cmocka_unit_test(test_int32_bias),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
