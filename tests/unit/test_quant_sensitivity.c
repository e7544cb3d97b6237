/* quant/sensitivity + quant/mixed on a synthetic chain
 *   x [1,3,16,16] -> conv1 (8x3x3x3, pad 1) -> Relu -> conv2 (8x8x3x3, pad 1) -> Relu -> conv3 (4x8x1x1) -> y
 * conv1 and conv3 hold weights on a 4-bit grid (steps of 1/8 from -1 to 7/8 in
 * every row: per-channel asymmetric 4-bit quantization reproduces them
 * exactly), conv2 Gaussian weights: conv2 alone must come out sensitive, the
 * other two exactly harmless; results independent of the thread count.
 * The budget chooser on hand-made sensitivities: exact picks and bits,
 * impossible budgets. Recipe "mixed" key, clone, exact-name overrides. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/mixed.h"
#include "quant/ptq.h"
#include "quant/qcdq.h"
#include "quant/sensitivity.h"
#include "rt/prepare.h"

static int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

/* rows x cols weights on the grid k/8, k in [-8, 7], each row spanning it */
static void grid_weights(float *w, int rows, int cols, uint64_t *seed) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int k = c == 0 ? -8 : c == 1 ? 7 : (int)(rng_uniform(seed) * 16.0) - 8;
            w[r * cols + c] = (float)k / 8.0f;
        }
}

static yq_graph *make_chain(void) {
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
    uint64_t seed = 11;
    float w1[8 * 27], w2[8 * 72], w3[4 * 8];
    grid_weights(w1, 8, 27, &seed);
    for (int i = 0; i < 8 * 72; i++) w2[i] = (float)(0.15 * rng_normal(&seed));
    grid_weights(w3, 4, 8, &seed);
    const int64_t w1d[4] = {8, 3, 3, 3}, w2d[4] = {8, 8, 3, 3}, w3d[4] = {4, 8, 1, 1};
    int w1v, w2v, w3v, n;
    assert_int_equal(yq_graph_add_initializer(g, "w1", YQ_DT_FLOAT, 4, w1d, w1, &w1v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w2", YQ_DT_FLOAT, 4, w2d, w2, &w2v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w3", YQ_DT_FLOAT, 4, w3d, w3, &w3v), YQ_OK);
    int y1 = add_value(g, "y1"), r1 = add_value(g, "r1"), y2 = add_value(g, "y2"), r2 = add_value(g, "r2");
    int y = add_value(g, "y");
    const int64_t pads[4] = {1, 1, 1, 1};
    int in1[2] = {x, w1v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv1", in1, 2, &y1, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "relu1", &y1, 1, &r1, 1, &n), YQ_OK);
    int in2[2] = {r1, w2v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv2", in2, 2, &y2, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "relu2", &y2, 1, &r2, 1, &n), YQ_OK);
    int in3[2] = {r2, w3v};
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
    (void)arg;
    uint64_t s = 500 + (uint64_t)index;
    for (int i = 0; i < 3 * 16 * 16; i++) nchw[i] = (float)rng_uniform(&s);
    return YQ_OK;
}

static const char W4[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false}}";

static yq_recipe *parse(const char *text) {
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(text, strlen(text), "test.json", &r), YQ_OK);
    return r;
}

static void run_sens(const yq_graph *g, const char *recipe, int threads, int act_bits, yq_sens_result *res) {
    yq_recipe *r = parse(recipe);
    yq_sens_opts o;
    yq_sens_opts_default(&o);
    o.nthreads = o.ptq.nthreads = threads;
    o.ptq.hessian_positions = 64;
    o.metric_images = 3;
    o.act_bits = act_bits;
    assert_int_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, res), YQ_OK);
    yq_recipe_free(r);
}

static void test_sensitive_layer_ranks_first(void **state) {
    (void)state;
    yq_graph *g = make_chain();
    yq_sens_result a, b;
    run_sens(g, W4, 1, -1, &a);
    run_sens(g, W4, 2, -1, &b);
    assert_int_equal(a.nlayers, 3);
    assert_int_equal(a.nheads, 1);
    assert_string_equal(a.heads[0], "y");
    assert_int_equal(a.yolo_layout, 0);
    assert_int_equal(a.metric_images, 3);
    assert_int_equal(a.act_bits, 0);
    const yq_sens_layer *l = a.layers;
    assert_string_equal(l[0].name, "conv1");
    assert_string_equal(l[1].name, "conv2");
    assert_string_equal(l[2].name, "conv3");
    assert_int_equal(l[1].params, 576);
    /* grid weights: exact at 4 bit; Gaussian conv2: a real loss */
    for (int k = 0; k < 3; k += 2) {
        assert_true(l[k].proxy == 0.0);
        assert_true(isinf(l[k].sqnr_db) && l[k].sqnr_db > 0);
    }
    assert_true(l[1].proxy > 1e-4 && l[1].proxy < 0.5);
    assert_true(l[1].sqnr_db > 5.0 && l[1].sqnr_db < 40.0);
    assert_true(l[1].gain == l[1].proxy);
    /* thread-count independent, to the bit */
    for (int k = 0; k < 3; k++) {
        assert_memory_equal(&a.layers[k].proxy, &b.layers[k].proxy, sizeof(double));
        assert_memory_equal(&a.layers[k].sqnr_db, &b.layers[k].sqnr_db, sizeof(double));
        assert_memory_equal(&a.layers[k].weight_sqnr_db, &b.layers[k].weight_sqnr_db, sizeof(double));
    }
    yq_sens_result_free(&a);
    yq_sens_result_free(&b);

    /* 8 bit: the same layer is still the only one that moves, by much less */
    yq_sens_result c;
    yq_recipe *r = parse(W4);
    yq_sens_opts o;
    yq_sens_opts_default(&o);
    o.bits = 8;
    o.metric_images = 3;
    assert_int_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    assert_true(c.layers[1].proxy > 0 && c.layers[1].sqnr_db > 30.0);
    yq_sens_result_free(&c);

    /* A8 context: a baseline of its own; conv2's gain over it stays positive */
    yq_sens_result d;
    run_sens(g, W4, 2, 8, &d);
    assert_int_equal(d.act_bits, 8);
    assert_true(d.base_proxy > 0 && isfinite(d.base_sqnr_db));
    assert_true(d.layers[1].gain > 1e-4);
    assert_true(fabs(d.layers[0].gain) < 0.1 * d.layers[1].gain);
    yq_sens_result_free(&d);

    /* `only`: one layer measured; a pattern matching nothing is an error */
    o.bits = 4;
    o.only = "conv3";
    assert_int_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    assert_int_equal(c.layers[0].measured + c.layers[1].measured + c.layers[2].measured, 1);
    assert_true(c.layers[2].measured && isnan(c.layers[1].proxy));
    yq_sens_result_free(&c);
    o.only = "conv9";
    assert_int_not_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "conv9"));
    o.only = NULL;
    o.bits = 5;
    assert_int_not_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    o.bits = 4;
    assert_int_not_equal(yq_sensitivity(g, r, 0, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    yq_recipe_free(r);
    /* a recipe that quantizes nothing */
    r = parse("{\"keep_float\": [\"conv*\"]}");
    assert_int_not_equal(yq_sensitivity(g, r, 5, image_input, NULL, &o, NULL, NULL, &c), YQ_OK);
    yq_recipe_free(r);
    yq_graph_free(g);
}

/* A 100, 10 (ratio 0.025); B 300, 6 (0.005); C 50, 4 (0.02); D 550, 1 (0.00045) — 1000 params */
static const yq_mixed_item ITEMS[4] = {{100, 0, 10.0}, {300, 0, 6.0}, {50, 0, 4.0}, {550, 0, 1.0}};

static void choose(const yq_mixed_item *it, int n, double avg, int64_t bytes, const char *expect, double expect_avg) {
    unsigned char high[8];
    yq_mixed_summary s;
    yq_mixed_budget b = {avg, bytes, YQ_MIXED_NOISE};
    assert_int_equal(yq_mixed_choose(it, n, &b, high, &s), YQ_OK);
    for (int i = 0; i < n; i++) assert_int_equal(high[i], expect[i] == '8');
    assert_true(fabs(s.avg_bits - expect_avg) < 1e-12);
}

static void test_budget_chooser(void **state) {
    (void)state;
    choose(ITEMS, 4, 4.5, 0, "8444", 4.4);   /* A; C would make 4.6 */
    choose(ITEMS, 4, 4.7, 0, "8484", 4.6);   /* A, C; B too big */
    choose(ITEMS, 4, 4.25, 0, "4484", 4.2);  /* A does not fit: skipped, C does */
    choose(ITEMS, 4, 4.0, 0, "4444", 4.0);
    choose(ITEMS, 4, 8.0, 0, "8888", 8.0);
    choose(ITEMS, 4, 0, 550, "8444", 4.4);   /* 4400 bits exactly */
    unsigned char high[8];
    yq_mixed_summary s;
    yq_mixed_budget b = {4.5, 0, YQ_MIXED_NOISE};
    assert_int_equal(yq_mixed_choose(ITEMS, 4, &b, high, &s), YQ_OK);
    assert_int_equal(s.params, 1000);
    assert_int_equal(s.bits, 4400);
    assert_int_equal(s.budget_bits, 4500);
    assert_int_equal(s.nhigh, 1);
    assert_true(s.gain == 10.0 && s.gain_total == 21.0);
    /* a fixed 8-bit layer counts: minimum 6 average bits */
    yq_mixed_item fx[5];
    memcpy(fx, ITEMS, sizeof ITEMS);
    fx[4] = (yq_mixed_item){1000, 8, 100.0};
    choose(fx, 5, 6.2, 0, "84444", 6.2); /* the fixed layer is not "moved" */
    /* NaN and negative gains never move; zero-gain layers neither */
    yq_mixed_item z[3] = {{100, 0, NAN}, {100, 0, -1.0}, {100, 0, 0.0}};
    choose(z, 3, 8.0, 0, "444", 4.0);
    /* impossible budgets, clear errors */
    b = (yq_mixed_budget){5.0, 0, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(fx, 5, &b, high, &s), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "cannot be met"));
    assert_non_null(strstr(yq_last_error(), "6.0000"));
    b = (yq_mixed_budget){3.9, 0, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(ITEMS, 4, &b, high, &s), YQ_OK);
    b = (yq_mixed_budget){8.1, 0, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(ITEMS, 4, &b, high, &s), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "[4, 8]"));
    b = (yq_mixed_budget){0, 499, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(ITEMS, 4, &b, high, &s), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "499 weight bytes"));
    b = (yq_mixed_budget){0, 0, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(ITEMS, 4, &b, high, &s), YQ_OK);
    yq_mixed_item all8[1] = {{100, 8, 1.0}};
    b = (yq_mixed_budget){8.0, 0, YQ_MIXED_NOISE};
    assert_int_not_equal(yq_mixed_choose(all8, 1, &b, high, &s), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "no 4-bit layer"));
}

static void test_recipe_mixed_and_overrides(void **state) {
    (void)state;
    yq_recipe *r = parse("{\"weights\": {\"bits\": 4}, \"mixed\": {\"avg_bits\": 4.25, \"metric_images\": 4}}");
    assert_true(r->mixed_avg_bits == 4.25 && r->mixed_weight_bytes == 0 && r->mixed_metric_images == 4);
    r->acts.bits = 8; /* as the command line does after parsing */
    assert_int_equal(yq_recipe_add_bits_override(r, "a[1]*", 8), YQ_OK);
    assert_int_equal(yq_recipe_add_bits_override(r, "op_type:Conv", 8), YQ_OK);
    yq_recipe *c;
    assert_int_equal(yq_recipe_clone(r, &c), YQ_OK);
    for (int k = 0; k < 2; k++) {
        const yq_recipe *x = k ? c : r;
        assert_int_equal(x->acts.bits, 8);
        assert_true(x->mixed_avg_bits == 4.25);
        yq_node_qconfig q;
        assert_int_equal(yq_recipe_resolve(x, "a[1]*", "Conv", 1, &q, NULL), YQ_OK);
        assert_int_equal(q.weights.bits, 8);
        assert_int_equal(yq_recipe_resolve(x, "a1x", "Conv", 1, &q, NULL), YQ_OK);
        assert_int_equal(q.weights.bits, 4); /* the name is not a glob, nor an op_type pattern */
        assert_int_equal(yq_recipe_resolve(x, "op_type:Conv", "Gemm", 1, &q, NULL), YQ_OK);
        assert_int_equal(q.weights.bits, 8);
    }
    yq_recipe_free(c);
    assert_int_not_equal(yq_recipe_add_bits_override(r, "x", 6), YQ_OK);
    assert_int_not_equal(yq_recipe_add_bits_override(r, "", 8), YQ_OK);
    yq_recipe_free(r);
    r = parse("{\"mixed\": {\"weight_bytes\": 123456}}");
    assert_true(r->mixed_weight_bytes == 123456 && r->mixed_avg_bits == 0 && r->mixed_by_proxy == 0);
    yq_recipe_free(r);
    r = parse("{\"mixed\": {\"avg_bits\": 4.5, \"criterion\": \"proxy\"}}");
    assert_int_equal(r->mixed_by_proxy, 1);
    yq_recipe_free(r);
    static const char *const bad[] = {
        "{\"mixed\": {\"avg_bits\": 4.5, \"weight_bytes\": 10}}", "{\"mixed\": {}}",
        "{\"mixed\": {\"avg_bits\": 3.5}}",  "{\"mixed\": {\"avg_bits\": 8.5}}",
        "{\"mixed\": {\"weight_bytes\": 1.5}}", "{\"mixed\": {\"avg_bits\": \"4\"}}",
        "{\"mixed\": {\"avg_bits\": 4.5, \"bitz\": 1}}", "{\"mixed\": 4.5}",
        "{\"mixed\": {\"avg_bits\": 4.5, \"criterion\": \"sqnr\"}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        yq_recipe *x = NULL;
        assert_int_not_equal(yq_recipe_parse(bad[i], strlen(bad[i]), "bad.json", &x), YQ_OK);
        assert_non_null(strstr(yq_last_error(), "bad.json"));
    }
}

static void test_mixed_apply_exports_bits(void **state) {
    (void)state;
    yq_graph *g = make_chain();
    yq_recipe *r = parse(W4);
    yq_sens_opts o;
    yq_sens_opts_default(&o);
    o.metric_images = 2;
    o.ptq.hessian_positions = 64;
    yq_mixed_result res;
    /* impossible: refused before any analysis */
    yq_mixed_budget b = {0, 100, YQ_MIXED_NOISE}; /* 824 params need 412 bytes at 4 bit */
    assert_int_not_equal(yq_mixed_apply(g, r, &b, 4, image_input, NULL, &o, NULL, NULL, NULL, &res), YQ_OK);
    assert_int_equal(r->noverrides, 0);
    /* conv2 (576 params) at 8 bit needs 5600 of 824·7 = 5768 bits; the
     * harmless layers stay at 4 */
    b = (yq_mixed_budget){7.0, 0, YQ_MIXED_NOISE};
    assert_int_equal(yq_mixed_apply(g, r, &b, 4, image_input, NULL, &o, NULL, NULL, NULL, &res), YQ_OK);
    assert_int_equal(res.sens.nlayers, 3);
    assert_int_equal(res.bits[0], 4);
    assert_int_equal(res.bits[1], 8);
    assert_int_equal(res.bits[2], 4);
    assert_int_equal(res.sum.nhigh, 1);
    assert_int_equal(res.sum.bits, 5600);
    assert_true(fabs(res.sum.avg_bits - 5600.0 / 824.0) < 1e-12);
    assert_int_equal(r->noverrides, 1);
    /* the criteria: head noise 10^(-SQNR/10) (float context: no baseline), or the proxy */
    const yq_sens_layer *c2 = &res.sens.layers[1];
    assert_true(fabs(yq_mixed_gain(&res.sens, c2, YQ_MIXED_NOISE) - pow(10.0, -c2->sqnr_db / 10.0)) < 1e-15);
    assert_true(yq_mixed_gain(&res.sens, c2, YQ_MIXED_PROXY) == c2->gain);
    assert_true(yq_mixed_gain(&res.sens, &res.sens.layers[0], YQ_MIXED_NOISE) == 0.0);
    /* a saved analysis gives the same choice without running one */
    yq_recipe *r2 = parse(W4);
    yq_mixed_result res2;
    assert_int_equal(yq_mixed_apply(g, r2, &b, 4, NULL, NULL, &o, &res.sens, NULL, NULL, &res2), YQ_OK);
    assert_memory_equal(res2.bits, res.bits, 3 * sizeof *res.bits);
    assert_int_equal(r2->noverrides, 1);
    yq_mixed_result_free(&res2);
    res.sens.act_bits = 8; /* an A8 analysis does not fit a float-activation recipe */
    assert_int_not_equal(yq_mixed_apply(g, r2, &b, 4, NULL, NULL, &o, &res.sens, NULL, NULL, &res2), YQ_OK);
    assert_non_null(strstr(yq_last_error(), "int8 activations"));
    res.sens.bits = 8; /* nor an 8-bit one */
    assert_int_not_equal(yq_mixed_apply(g, r2, &b, 4, NULL, NULL, &o, &res.sens, NULL, NULL, &res2), YQ_OK);
    yq_recipe_free(r2);
    yq_mixed_result_free(&res);
    /* the export carries the bit widths: Clip only on the 4-bit layers */
    yq_ptq_opts po;
    yq_ptq_opts_default(&po);
    po.report_images = 0;
    yq_ptq_report rep;
    assert_int_equal(yq_ptq_quantize(g, r, 4, image_input, NULL, &po, &rep), YQ_OK);
    assert_int_equal(rep.layers[0].bits, 4);
    assert_int_equal(rep.layers[1].bits, 8);
    assert_int_equal(rep.layers[2].bits, 4);
    assert_int_equal(rep.counts_after.clip, 2);
    assert_int_equal(rep.counts_after.dequantize, 3);
    yq_ptq_report_free(&rep);
    yq_recipe_free(r);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sensitive_layer_ranks_first),
        cmocka_unit_test(test_budget_chooser),
        cmocka_unit_test(test_recipe_mixed_and_overrides),
        cmocka_unit_test(test_mixed_apply_exports_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
