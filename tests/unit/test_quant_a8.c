/* quant: A8 activation ranges from the weight-quantized model ("act_ranges":
 * "quantized"), conv output quantizers ("act_outputs") and the ablation
 * ladder (quant/ablate.h).
 *   chain: x [1,3,12,12] -> conv1 (8x3x3x3, pad 1) -> Relu -> conv2 (8x8x3x3,
 *          pad 1) -> Relu -> conv3 (4x8x1x1) -> y
 * Inputs are multiples of 1/255 spanning exactly [0, 1], so the uint8
 * quantizer of x (scale 1/255) reproduces them: the quantized model's conv1
 * output is what the recalibration pass sees, and conv2's input scale must be
 * max(relu(conv1_q(x))) / 255 over the calibration images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "test_quant_graph.h"
#include "quant/ablate.h"
#include "quant/mixed.h"
#include "quant/sensitivity.h"
#include "quant/ptq.h"
#include "quant/quantize_file.h"
#include "rt/prepare.h"
#include "rt/session.h"

static yq_graph *make_chain(void) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    g->ir_version = 8;
    int x = add_value(g, "x");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, 3, 12, 12};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    uint64_t seed = 11;
    int a = add_conv(g, "conv1", x, 8, 3, 3, 0.3, &seed, 1);
    int b = add_conv(g, "conv2", a, 8, 8, 3, 0.15, &seed, 1);
    int y = add_conv(g, "conv3", b, 4, 8, 1, 0.3, &seed, 0);
    g->values[y].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
    return g;
}

enum { NIMG = 6 };

static yq_status image_input(void *arg, int index, float *nchw) {
    (void)arg;
    uint64_t r = 500 + (uint64_t)index;
    for (int i = 0; i < 3 * 144; i++) nchw[i] = (float)((double)(rng_next(&r) % 256) / 255.0);
    nchw[0] = 0.0f;
    nchw[1] = 1.0f;
    return YQ_OK;
}

/* max over the calibration images of the value named `name`, read where
 * node `op` consumes it */
typedef struct watch {
    const char *name, *op;
    float max;
    int seen;
} watch;

static void watch_hook(void *arg, const yq_graph *sg, int node, const yq_tensor *in, int nin, const yq_tensor *out,
                       int nout) {
    (void)out, (void)nout;
    watch *w = arg;
    const yq_node *n = &sg->nodes[node];
    if (strcmp(n->op_type, w->op) || nin < 1 || n->inputs[0] < 0 || strcmp(sg->values[n->inputs[0]].name, w->name))
        return;
    const float *d = in[0].data;
    for (int64_t i = 0; i < yq_tensor_numel(&in[0]); i++)
        if (d[i] > w->max) w->max = d[i];
    w->seen++;
}

static float watch_max(const yq_graph *g, const char *value, const char *op) {
    yq_graph *c;
    assert_int_equal(yq_graph_clone(g, &c), YQ_OK);
    yq_session_opts so = {.nthreads = 1, .no_fusion = 1};
    yq_session *s;
    assert_int_equal(yq_session_new(c, &so, &s), YQ_OK);
    watch w = {value, op, -INFINITY, 0};
    yq_session_set_hook(s, watch_hook, &w);
    float buf[3 * 144];
    for (int i = 0; i < NIMG; i++) {
        image_input(NULL, i, buf);
        yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .data = buf, .dims = {1, 3, 12, 12}};
        assert_int_equal(yq_session_run(s, &t, 1), YQ_OK);
    }
    yq_session_free(s);
    assert_int_equal(w.seen, NIMG);
    return w.max;
}

static const char *recipe_text(int quantized_ranges) {
    if (quantized_ranges == 2) /* weights-only Hessian passes: no float pass at all */
        return "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
               " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 3,"
               " \"stage_acts\": false}, \"act_ranges\": \"quantized\"}";
    return quantized_ranges ? "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                              " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 3},"
                              " \"act_ranges\": \"quantized\"}"
                            : "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                              " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 3}}";
}

static yq_graph *quantize(int quantized_ranges, int nthreads, yq_ptq_report *rep) {
    yq_graph *g = make_chain();
    yq_recipe *r;
    const char *t = recipe_text(quantized_ranges);
    assert_int_equal(yq_recipe_parse(t, strlen(t), "t.json", &r), YQ_OK);
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = nthreads;
    o.report_images = NIMG;
    assert_int_equal(yq_ptq_quantize(g, r, NIMG, image_input, NULL, &o, rep), YQ_OK);
    yq_recipe_free(r);
    return g;
}

static void test_ranges_from_quantized_weights(void **state) {
    (void)state;
    yq_ptq_report rq, rf, r2;
    yq_graph *gq = quantize(1, 1, &rq), *gf = quantize(0, 1, &rf), *g2 = quantize(1, 2, &r2);
    assert_int_equal(rq.nlayers, 3);
    /* x is the same tensor either way: scale 1/255 */
    assert_float_equal(rq.layers[0].act_scale, 1.0f / 255.0f, 1e-9);
    assert_float_equal(rf.layers[0].act_scale, 1.0f / 255.0f, 1e-9);
    /* conv2's input: the range of relu(conv1) of the quantized model, seen
     * where its QuantizeLinear reads it */
    float mq = watch_max(gq, "conv1_relu", "QuantizeLinear");
    yq_graph *fl = make_chain();
    float mf = watch_max(fl, "conv1_relu", "Conv");
    yq_graph_free(fl);
    print_message("conv2 input max: quantized weights %.6f, float %.6f; scales %.6g / %.6g\n", mq, mf,
                  rq.layers[1].act_scale, rf.layers[1].act_scale);
    assert_int_equal(rq.layers[1].act_zero_point, 0);
    assert_true(fabs(rq.layers[1].act_scale - mq / 255.0) <= 1e-5 * mq / 255.0);
    assert_true(fabs(rf.layers[1].act_scale - mf / 255.0) <= 1e-5 * mf / 255.0);
    assert_true(fabs(mq - mf) > 1e-3 * mf); /* the two differ: the test can tell them apart */
    /* the same with weight-only passes (the driver then skips the float pass) */
    yq_ptq_report rw;
    yq_graph *gw = quantize(2, 2, &rw);
    float mw = watch_max(gw, "conv1_relu", "QuantizeLinear");
    assert_true(fabs(rw.layers[1].act_scale - mw / 255.0) <= 1e-5 * mw / 255.0);
    assert_float_equal(rw.layers[0].act_scale, 1.0f / 255.0f, 1e-9);
    yq_ptq_report_free(&rw);
    yq_graph_free(gw);
    /* deterministic across thread counts */
    for (int i = 0; i < 3; i++) {
        assert_true(rq.layers[i].act_scale == r2.layers[i].act_scale);
        assert_int_equal(rq.layers[i].act_zero_point, r2.layers[i].act_zero_point);
    }
    assert_true(rq.output_sqnr_db == r2.output_sqnr_db);
    yq_ptq_report_free(&rq);
    yq_ptq_report_free(&rf);
    yq_ptq_report_free(&r2);
    yq_graph_free(gq);
    yq_graph_free(gf);
    yq_graph_free(g2);
}

static void test_recipe_key(void **state) {
    (void)state;
    yq_recipe *r, *c;
    const char *ok = "{\"act_ranges\": \"quantized\"}";
    assert_int_equal(yq_recipe_parse(ok, strlen(ok), "r.json", &r), YQ_OK);
    assert_int_equal(r->act_ranges_quantized, 1);
    assert_int_equal(yq_recipe_clone(r, &c), YQ_OK);
    assert_int_equal(c->act_ranges_quantized, 1);
    yq_recipe_free(c);
    yq_recipe_free(r);
    assert_int_equal(yq_recipe_parse("{}", 2, "r.json", &r), YQ_OK);
    assert_int_equal(r->act_ranges_quantized, 0);
    yq_recipe_free(r);
    const char *bad = "{\"act_ranges\": \"weights\"}";
    assert_int_equal(yq_recipe_parse(bad, strlen(bad), "r.json", &r), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), "act_ranges"));
    assert_non_null(strstr(yq_last_error(), "r.json"));
}

/* --weights int4 defaults: sequential GPTQ with weight-only passes, MSE
 * observer; a recipe's own choices win. */
static void test_int4_defaults(void **state) {
    (void)state;
    yq_recipe *r;
    assert_int_equal(yq_recipe_default(&r), YQ_OK);
    yq_recipe_apply_bits(r, 4, 8);
    assert_true(r->gptq_sequential && !r->gptq_stage_acts && !r->act_ranges_quantized);
    assert_int_equal(r->weights.method, YQ_WMETHOD_GPTQ);
    assert_int_equal(r->acts.observer, YQ_OBS_MSE);
    yq_recipe_free(r);
    assert_int_equal(yq_recipe_default(&r), YQ_OK);
    yq_recipe_apply_bits(r, 8, 8);
    assert_false(r->gptq_sequential || r->act_ranges_quantized);
    assert_int_equal(r->gptq_stage_acts, 1);
    assert_int_equal(r->acts.observer, YQ_OBS_MINMAX);
    yq_recipe_free(r);
    const char *t = "{\"gptq\": {\"stages\": 4}, \"act_ranges\": \"float\","
                    " \"activations\": {\"observer\": \"percentile\"}}";
    assert_int_equal(yq_recipe_parse(t, strlen(t), "t.json", &r), YQ_OK);
    yq_recipe_apply_bits(r, 4, 8);
    assert_false(r->gptq_sequential || r->act_ranges_quantized);
    assert_int_equal(r->gptq_stage_acts, 1);
    assert_int_equal(r->acts.observer, YQ_OBS_PERCENTILE);
    yq_recipe_free(r);
}

static void names(const yq_ablate_ladder *l, char *buf, size_t n) {
    buf[0] = '\0';
    for (int k = 0; k < l->n; k++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", k ? " " : "", l->rows[k].name);
    }
}

static void test_ablate_ladder(void **state) {
    (void)state;
    const char *t = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                    " \"activations\": {\"bits\": 8}, \"gptq\": {\"sequential\": true, \"stages\": 5},"
                    " \"act_ranges\": \"quantized\", \"bias_correction\": true, \"mixed\": {\"avg_bits\": 4.5}}";
    const char *t2 = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"activations\": {\"bits\": 8, \"observer\": \"mse\"}}";
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(t, strlen(t), "t.json", &r), YQ_OK);
    yq_ablate_ladder l;
    assert_int_equal(yq_ablate_build(r, &l), YQ_OK);
    char buf[256];
    names(&l, buf, sizeof buf);
    assert_string_equal(buf, "float rtn gptq gptq-seq bias-correction act-ranges mixed");
    assert_true(l.rows[0].is_float && !l.rows[0].recipe);
    const yq_recipe *rtn = l.rows[1].recipe, *seq = l.rows[3].recipe, *fin = l.rows[l.n - 1].recipe;
    assert_int_equal(rtn->weights.method, YQ_WMETHOD_RTN);
    assert_int_equal(rtn->weights.bits, 4);
    assert_int_equal(rtn->acts.bits, 8);
    assert_false(rtn->gptq_sequential || rtn->bias_correction || rtn->act_ranges_quantized);
    assert_true(rtn->mixed_avg_bits == 0);
    assert_int_equal(l.rows[2].recipe->weights.method, YQ_WMETHOD_GPTQ);
    assert_false(l.rows[2].recipe->gptq_sequential);
    assert_true(seq->gptq_sequential && seq->gptq_stages == 5 && !seq->bias_correction);
    assert_true(l.rows[4].recipe->bias_correction && !l.rows[4].recipe->act_ranges_quantized);
    assert_true(l.rows[5].recipe->act_ranges_quantized && !l.rows[5].mixed);
    assert_true(l.rows[6].mixed && fin->mixed_avg_bits == 4.5 && fin->bias_correction && fin->gptq_sequential);
    yq_ablate_free(&l);
    yq_recipe_free(r);
    /* the observer row: rows above it use min/max */
    assert_int_equal(yq_recipe_parse(t2, strlen(t2), "t2.json", &r), YQ_OK);
    assert_int_equal(yq_ablate_build(r, &l), YQ_OK);
    names(&l, buf, sizeof buf);
    assert_string_equal(buf, "float rtn gptq act-observer");
    assert_int_equal(l.rows[2].recipe->acts.observer, YQ_OBS_MINMAX);
    assert_int_equal(l.rows[3].recipe->acts.observer, YQ_OBS_MSE);
    yq_ablate_free(&l);
    yq_recipe_free(r);
    /* W8 round to nearest: float and rtn only; A16 has no act-ranges row */
    assert_int_equal(yq_recipe_default(&r), YQ_OK);
    r->act_ranges_quantized = 1;
    assert_int_equal(yq_ablate_build(r, &l), YQ_OK);
    names(&l, buf, sizeof buf);
    assert_string_equal(buf, "float rtn");
    yq_ablate_free(&l);
    yq_recipe_free(r);
}

/* Leave-one-out sensitivity: the context is the whole W4A8 model; restoring
 * any one layer's float weights must lower the head noise (the chain's
 * layers all matter), and the noise gain is base noise minus the layer's. */
static void test_quantized_context(void **state) {
    (void)state;
    yq_graph *g = make_chain();
    yq_recipe *r;
    const char *t = recipe_text(1);
    assert_int_equal(yq_recipe_parse(t, strlen(t), "t.json", &r), YQ_OK);
    yq_sens_opts so;
    yq_sens_opts_default(&so);
    so.metric_images = NIMG;
    so.nthreads = 1;
    so.ptq.nthreads = 1;
    so.quantized_context = 1;
    yq_sens_result alone, loo;
    assert_int_equal(yq_sensitivity(g, r, NIMG, image_input, NULL, &so, NULL, NULL, &loo), YQ_OK);
    so.quantized_context = 0;
    assert_int_equal(yq_sensitivity(g, r, NIMG, image_input, NULL, &so, NULL, NULL, &alone), YQ_OK);
    assert_int_equal(loo.nlayers, 3);
    assert_true(loo.quantized_context && !alone.quantized_context);
    assert_true(isfinite(loo.base_sqnr_db));
    for (int k = 0; k < 3; k++) {
        const yq_sens_layer *l = &loo.layers[k];
        print_message("%s: alone %.2f dB, all-but-this %.2f dB (all %.2f dB), gain %.3e\n", l->name,
                      alone.layers[k].sqnr_db, l->sqnr_db, loo.base_sqnr_db, yq_mixed_gain(&loo, l, YQ_MIXED_NOISE));
        assert_true(l->sqnr_db > loo.base_sqnr_db);
        double want = pow(10.0, -loo.base_sqnr_db / 10.0) - pow(10.0, -l->sqnr_db / 10.0);
        assert_true(fabs(yq_mixed_gain(&loo, l, YQ_MIXED_NOISE) - want) <= 1e-12 * fabs(want) + 1e-300);
        assert_true(yq_mixed_gain(&loo, l, YQ_MIXED_NOISE) > 0);
        assert_true(l->gain == loo.base_proxy - l->proxy);
    }
    yq_sens_result_free(&alone);
    yq_sens_result_free(&loo);
    yq_recipe_free(r);
    yq_graph_free(g);
    const char *bad = "{\"mixed\": {\"avg_bits\": 4.5, \"context\": \"float\"}}";
    assert_int_equal(yq_recipe_parse(bad, strlen(bad), "m.json", &r), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), "mixed.context"));
    const char *ok = "{\"mixed\": {\"avg_bits\": 4.5, \"context\": \"quantized\"}}";
    assert_int_equal(yq_recipe_parse(ok, strlen(ok), "m.json", &r), YQ_OK);
    assert_int_equal(r->mixed_quantized_context, 1);
    yq_recipe_free(r);
}

/* min and max of the value named `name` where node `op` reads it, over the
 * calibration images */
typedef struct span {
    const char *name, *op;
    float lo, hi;
} span;

static void span_hook(void *arg, const yq_graph *sg, int node, const yq_tensor *in, int nin, const yq_tensor *out,
                      int nout) {
    (void)out, (void)nout;
    span *w = arg;
    const yq_node *n = &sg->nodes[node];
    if (strcmp(n->op_type, w->op) || nin < 1 || n->inputs[0] < 0 || strcmp(sg->values[n->inputs[0]].name, w->name))
        return;
    const float *d = in[0].data;
    for (int64_t i = 0; i < yq_tensor_numel(&in[0]); i++) {
        if (d[i] < w->lo) w->lo = d[i];
        if (d[i] > w->hi) w->hi = d[i];
    }
}

static int find_node(const yq_graph *g, const char *op, int input_value, int output_value) {
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead || strcmp(n->op_type, op)) continue;
        if (input_value >= 0 && (n->ninputs < 1 || n->inputs[0] != input_value)) continue;
        if (output_value >= 0 && (n->noutputs < 1 || n->outputs[0] != output_value)) continue;
        return i;
    }
    return -1;
}

static float init_scalar(const yq_graph *g, int v) {
    assert_true(v >= 0 && g->values[v].data);
    return *(const float *)g->values[v].data;
}

/* "act_outputs": every quantized conv's output gets its own Q/DQ pair after
 * the conv, readers and graph outputs keep their value names, and the range
 * is the conv output's on the calibration images (minmax, float model). */
static void test_conv_output_quantizers(void **state) {
    (void)state;
    const char *t_io = "{\"weights\": {\"bits\": 8, \"bias\": \"int32\"}, \"activations\": {\"bits\": 8},"
                       " \"act_outputs\": true}";
    const char *t_in = "{\"weights\": {\"bits\": 8, \"bias\": \"int32\"}, \"activations\": {\"bits\": 8}}";
    yq_ptq_report rio, rin, rio2;
    yq_graph *gio = NULL, *gin = NULL, *gio2 = NULL;
    for (int k = 0; k < 3; k++) {
        const char *t = k == 1 ? t_in : t_io;
        yq_graph *g = make_chain();
        yq_recipe *r;
        assert_int_equal(yq_recipe_parse(t, strlen(t), "t.json", &r), YQ_OK);
        yq_ptq_opts o;
        yq_ptq_opts_default(&o);
        o.nthreads = k == 2 ? 2 : 1;
        o.report_images = NIMG;
        assert_int_equal(yq_ptq_quantize(g, r, NIMG, image_input, NULL, &o, k == 0 ? &rio : k == 1 ? &rin : &rio2),
                         YQ_OK);
        yq_recipe_free(r);
        *(k == 0 ? &gio : k == 1 ? &gin : &gio2) = g;
    }
    assert_int_equal(rio.act_output_quantizers, 3);
    assert_int_equal(rin.act_output_quantizers, 0);
    assert_int_equal(rio.act_quantizers, rin.act_quantizers);
    assert_int_equal(rio.int32_biases, 3);
    int nq_io = 0, nq_in = 0;
    for (int i = 0; i < gio->nnodes; i++) nq_io += !gio->nodes[i].dead && !strcmp(gio->nodes[i].op_type, "QuantizeLinear");
    for (int i = 0; i < gin->nnodes; i++) nq_in += !gin->nodes[i].dead && !strcmp(gin->nodes[i].op_type, "QuantizeLinear");
    assert_int_equal(nq_io, nq_in + 3);
    yq_graph *fl = make_chain();
    static const char *const convs[] = {"conv1", "conv2", "conv3"};
    static const char *const readers[] = {"Relu", "Relu", NULL};
    for (int c = 0; c < 3; c++) {
        char out_name[64], raw_name[64];
        snprintf(out_name, sizeof out_name, "%s_out", convs[c]);
        snprintf(raw_name, sizeof raw_name, "%s_out_unquantized", convs[c]);
        int conv = -1;
        for (int i = 0; i < gio->nnodes; i++)
            if (!gio->nodes[i].dead && !strcmp(gio->nodes[i].name, convs[c])) conv = i;
        assert_true(conv >= 0);
        const int raw = gio->nodes[conv].outputs[0];
        assert_string_equal(gio->values[raw].name, raw_name);
        int q = find_node(gio, "QuantizeLinear", raw, -1);
        assert_true(q >= 0);
        int dq = find_node(gio, "DequantizeLinear", gio->nodes[q].outputs[0], -1);
        assert_true(dq >= 0);
        assert_string_equal(gio->values[gio->nodes[dq].outputs[0]].name, out_name);
        assert_true(gio->nodes[q].inputs[1] == gio->nodes[dq].inputs[1]); /* one scale for the pair */
        /* the range: conv output on the float model (conv3's output is the graph output) */
        span w = {out_name, readers[c] ? readers[c] : "", INFINITY, -INFINITY};
        yq_graph *cl;
        assert_int_equal(yq_graph_clone(fl, &cl), YQ_OK);
        yq_session_opts so = {.nthreads = 1, .no_fusion = 1};
        yq_session *s;
        assert_int_equal(yq_session_new(cl, &so, &s), YQ_OK);
        if (readers[c]) yq_session_set_hook(s, span_hook, &w);
        float buf[3 * 144];
        for (int i = 0; i < NIMG; i++) {
            image_input(NULL, i, buf);
            yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .data = buf, .dims = {1, 3, 12, 12}};
            assert_int_equal(yq_session_run(s, &t, 1), YQ_OK);
            if (!readers[c]) {
                const yq_tensor *y = yq_session_output(s, 0);
                const float *d = y->data;
                for (int64_t e = 0; e < yq_tensor_numel(y); e++) {
                    if (d[e] < w.lo) w.lo = d[e];
                    if (d[e] > w.hi) w.hi = d[e];
                }
            }
        }
        yq_session_free(s);
        const double lo = w.lo < 0 ? w.lo : 0, hi = w.hi > 0 ? w.hi : 0, want = (hi - lo) / 255.0;
        const float got = init_scalar(gio, gio->nodes[q].inputs[1]);
        print_message("%s output range [%g, %g]: scale %.6g (want %.6g)\n", convs[c], w.lo, w.hi, got, want);
        assert_true(fabs(got - want) <= 1e-5 * want);
        /* same scale with 2 threads */
        int q2 = -1;
        for (int i = 0; i < gio2->nnodes; i++)
            if (!gio2->nodes[i].dead && !strcmp(gio2->nodes[i].op_type, "QuantizeLinear") &&
                !strcmp(gio2->values[gio2->nodes[i].inputs[0]].name, raw_name))
                q2 = i;
        assert_true(q2 >= 0);
        assert_true(init_scalar(gio2, gio2->nodes[q2].inputs[1]) == got);
    }
    /* the graph output keeps its name and now comes from the DequantizeLinear */
    assert_string_equal(gio->values[gio->outputs[0]].name, "conv3_out");
    assert_int_equal(find_node(gio, "DequantizeLinear", -1, gio->outputs[0]) >= 0, 1);
    /* the report session runs the pairs: three more roundings, more noise */
    print_message("output SQNR: inputs only %.2f dB, inputs and outputs %.2f dB\n", rin.output_sqnr_db,
                  rio.output_sqnr_db);
    assert_true(rio.output_sqnr_db > 20.0);
    assert_true(rio.output_sqnr_db < rin.output_sqnr_db);
    assert_true(rio.output_sqnr_db == rio2.output_sqnr_db);
    yq_graph_free(fl);
    yq_ptq_report_free(&rio);
    yq_ptq_report_free(&rin);
    yq_ptq_report_free(&rio2);
    yq_graph_free(gio);
    yq_graph_free(gin);
    yq_graph_free(gio2);
    /* the recipe key */
    yq_recipe *r, *c;
    const char *ok = "{\"act_outputs\": true}";
    assert_int_equal(yq_recipe_parse(ok, strlen(ok), "r.json", &r), YQ_OK);
    assert_int_equal(r->act_outputs, 1);
    assert_int_equal(yq_recipe_clone(r, &c), YQ_OK);
    assert_int_equal(c->act_outputs, 1);
    yq_recipe_free(c);
    yq_recipe_free(r);
    const char *bad = "{\"act_outputs\": \"yes\"}";
    assert_int_equal(yq_recipe_parse(bad, strlen(bad), "r.json", &r), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), "act_outputs"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_from_quantized_weights),
        cmocka_unit_test(test_recipe_key),
        cmocka_unit_test(test_int4_defaults),
        cmocka_unit_test(test_ablate_ladder),
        cmocka_unit_test(test_quantized_context),
        cmocka_unit_test(test_conv_output_quantizers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
