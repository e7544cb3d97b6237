/* quant/recipe and quant/placement: JSON recipe parsing and validation
 * (unknown keys, types, unsupported bit widths), per-node resolution with
 * overrides, unmatched patterns, and the default placement on a tiny
 * YOLO-like graph (DFL conv, head Concat, decode path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "quant/recipe.h"

static yq_status parse(const char *json, yq_recipe **r) {
    return yq_recipe_parse(json, strlen(json), "recipe.json", r);
}

/* Parsing must fail with st and a message containing `want`. */
static void expect_error(const char *json, yq_status st, const char *want) {
    yq_recipe *r = NULL;
    yq_status got = parse(json, &r);
    if (got != st || !strstr(yq_last_error(), want))
        print_message("for %s\n  got %d: %s\n  want %d: ...%s...\n", json, got, yq_last_error(), st, want);
    assert_int_equal(got, st);
    assert_non_null(strstr(yq_last_error(), want));
    assert_null(r);
}

static void test_defaults(void **state) {
    (void)state;
    yq_recipe *r;
    assert_int_equal(parse(" {} \n", &r), YQ_OK);
    assert_int_equal(r->weights.bits, 8);
    assert_true(r->weights.per_channel);
    assert_true(r->weights.symmetric);
    assert_false(r->weights.narrow);
    assert_int_equal(r->weights.scale.method, YQ_SCALE_MAX);
    assert_int_equal(r->weights.method, YQ_WMETHOD_RTN);
    assert_float_equal(r->weights.gptq_damp, 0.01, 0);
    assert_true(r->weights.gptq_act_order);
    assert_int_equal(r->weights.gptq_block_size, 128);
    assert_int_equal(r->weights.gptq_group_size, 0);
    assert_int_equal(r->acts.bits, 0);
    assert_int_equal(r->acts.observer, YQ_OBS_MINMAX);
    assert_int_equal(r->calib_count, 128);
    assert_int_equal(r->noverrides, 0);
    yq_recipe_free(r);
    assert_int_equal(yq_recipe_default(&r), YQ_OK);
    assert_int_equal(r->weights.bits, 8);
    yq_recipe_free(r);
}

static const char *FULL =
    "{\n"
    "  \"weights\": {\"bits\": 4, \"granularity\": \"channel\", \"symmetric\": false, \"narrow\": true,\n"
    "              \"scale\": \"mse\", \"mse_norm\": 2.4, \"percentile\": 99.9, \"method\": \"gptq\",\n"
    "              \"gptq\": {\"damp\": 0.05, \"act_order\": false, \"block_size\": 64, \"group_size\": 32}},\n"
    "  \"activations\": {\"bits\": 8, \"observer\": \"entropy\", \"percentile\": 99.5, \"signed\": true,\n"
    "                  \"symmetric\": true},\n"
    "  \"calibration\": {\"count\": 32},\n"
    "  \"overrides\": [\n"
    "    {\"match\": \"op_type:Conv\", \"weights\": {\"bits\": 8}},\n"
    "    {\"match\": \"/model.0/*\", \"weights\": {\"method\": \"rtn\", \"scale\": \"max\"}, \"activations\": null},\n"
    "    {\"match\": \"/model.0/conv/Conv\", \"float\": true}\n"
    "  ],\n"
    "  \"keep_float\": [\"/model.23/*\"]\n"
    "}\n";

static void test_full_recipe_and_resolve(void **state) {
    (void)state;
    yq_recipe *r;
    assert_int_equal(parse(FULL, &r), YQ_OK);
    const yq_weight_cfg *w = &r->weights;
    assert_int_equal(w->bits, 4);
    assert_false(w->symmetric);
    assert_true(w->narrow);
    assert_int_equal(w->scale.method, YQ_SCALE_MSE);
    assert_float_equal(w->scale.mse_norm, 2.4, 0);
    assert_float_equal(w->scale.percentile, 99.9, 0);
    assert_int_equal(w->method, YQ_WMETHOD_GPTQ);
    assert_float_equal(w->gptq_damp, 0.05, 0);
    assert_false(w->gptq_act_order);
    assert_int_equal(w->gptq_block_size, 64);
    assert_int_equal(w->gptq_group_size, 32);
    assert_int_equal(r->acts.bits, 8);
    assert_int_equal(r->acts.observer, YQ_OBS_ENTROPY);
    assert_true(r->acts.is_signed && r->acts.symmetric);
    assert_int_equal(r->calib_count, 32);
    assert_int_equal(r->noverrides, 3);
    assert_int_equal(r->nkeep, 1);

    unsigned char hits[4] = {0};
    yq_node_qconfig c;
    /* A Conv in model.0: overrides 0 and 1 apply key by key, 2 only to its exact name. */
    assert_int_equal(yq_recipe_resolve(r, "/model.0/cv1/Conv", "Conv", 1, &c, hits), YQ_OK);
    assert_true(c.quantize);
    assert_int_equal(c.weights.bits, 8);                   /* override 0 */
    assert_int_equal(c.weights.method, YQ_WMETHOD_RTN);    /* override 1 */
    assert_int_equal(c.weights.scale.method, YQ_SCALE_MAX);
    assert_int_equal(c.weights.gptq_group_size, 32);       /* untouched keys keep the defaults */
    assert_false(c.weights.symmetric);
    assert_int_equal(c.acts.bits, 0);                      /* "activations": null */
    assert_true(hits[0] && hits[1] && !hits[2] && !hits[3]);
    assert_int_equal(yq_recipe_resolve(r, "/model.0/conv/Conv", "Conv", 1, &c, hits), YQ_OK);
    assert_false(c.quantize); /* "float": true */
    assert_true(hits[2]);
    /* A MatMul elsewhere: defaults. */
    assert_int_equal(yq_recipe_resolve(r, "/model.9/MatMul", "MatMul", 1, &c, NULL), YQ_OK);
    assert_true(c.quantize);
    assert_int_equal(c.weights.bits, 4);
    assert_int_equal(c.weights.method, YQ_WMETHOD_GPTQ);
    assert_int_equal(c.acts.bits, 8);
    /* keep_float wins over everything. */
    assert_int_equal(yq_recipe_resolve(r, "/model.23/cv2/Conv", "Conv", 1, &c, hits), YQ_OK);
    assert_false(c.quantize);
    assert_true(hits[3]);
    /* The placement's "no" stays unless an override says "float": false. */
    assert_int_equal(yq_recipe_resolve(r, "/model.5/Conv", "Conv", 0, &c, NULL), YQ_OK);
    assert_false(c.quantize);

    /* Conversions to algorithm options. */
    yq_gptq_opts go;
    yq_weight_cfg_gptq_opts(w, &go);
    assert_int_equal(go.format.bits, 4);
    assert_true(go.format.is_signed && go.format.narrow && !go.format.symmetric);
    assert_int_equal(go.scale.method, YQ_SCALE_MSE);
    assert_int_equal(go.group_size, 32);
    assert_int_equal(go.block_size, 64);
    assert_false(go.act_order);
    yq_qformat af;
    yq_act_cfg_format(&r->acts, &af);
    assert_true(af.bits == 8 && af.is_signed && af.symmetric);
    yq_observer_opts oo;
    yq_act_cfg_observer_opts(&r->acts, &oo);
    assert_int_equal(oo.kind, YQ_OBS_ENTROPY);
    assert_float_equal(oo.percentile, 99.5, 0);
    yq_recipe_free(r);

    assert_true(yq_recipe_match("op_type:Conv", "x", "Conv"));
    assert_false(yq_recipe_match("op_type:Conv", "Conv", "MatMul"));
    assert_true(yq_recipe_match("/model.[12]/*", "/model.2/cv1/Conv", "Conv"));
    assert_false(yq_recipe_match("/model.[12]/*", "/model.3/cv1/Conv", "Conv"));
    assert_true(yq_recipe_match("a[b", "a[b", "Conv")); /* exact names with glob characters */
}

static void test_errors(void **state) {
    (void)state;
    expect_error("{\"weights\": {\"bitz\": 4}}", YQ_ERR_PARSE, "recipe.json: unknown key 'weights.bitz'");
    expect_error("{\"weights\": {\"gptq\": {\"dampx\": 1}}}", YQ_ERR_PARSE, "unknown key 'weights.gptq.dampx'");
    expect_error("{\"overrides\": [{\"match\": \"a\"}, {\"match\": \"b\", \"weights\": {\"foo\": 1}}]}",
                 YQ_ERR_PARSE, "unknown key 'overrides[1].weights.foo'");
    expect_error("{\"weight\": {}}", YQ_ERR_PARSE, "unknown key 'weight'");
    expect_error("{\"calibration\": {\"count\": 0}}", YQ_ERR_PARSE, "'calibration.count' is 0");
    expect_error("{\"calibration\": {\"images\": 3}}", YQ_ERR_PARSE, "unknown key 'calibration.images'");
    for (int bits = 2; bits <= 7; bits++) {
        if (bits == 4) continue;
        char j[64];
        snprintf(j, sizeof j, "{\"weights\": {\"bits\": %d}}", bits);
        expect_error(j, YQ_ERR_UNSUPPORTED, "'weights.bits'");
        expect_error(j, YQ_ERR_UNSUPPORTED, "not supported (use 4 or 8)");
    }
    expect_error("{\"activations\": {\"bits\": 4}}", YQ_ERR_UNSUPPORTED, "'activations.bits': 4-bit");
    expect_error("{\"activations\": {\"bits\": 16}}", YQ_ERR_UNSUPPORTED, "use 8 or null");
    expect_error("{\"weights\": {\"bits\": \"8\"}}", YQ_ERR_PARSE, "'weights.bits' must be an integer");
    expect_error("{\"weights\": {\"bits\": 4.5}}", YQ_ERR_PARSE, "'weights.bits' must be an integer");
    expect_error("{\"weights\": {\"symmetric\": \"yes\"}}", YQ_ERR_PARSE, "'weights.symmetric' must be true or false");
    expect_error("{\"weights\": {\"scale\": \"minmax\"}}", YQ_ERR_PARSE, "'weights.scale' is \"minmax\": use one of");
    expect_error("{\"weights\": {\"granularity\": 1}}", YQ_ERR_PARSE, "'weights.granularity' must be a string");
    expect_error("{\"weights\": {\"percentile\": 20}}", YQ_ERR_PARSE, "'weights.percentile' is 20");
    expect_error("{\"weights\": {\"gptq\": {\"damp\": 0}}}", YQ_ERR_PARSE, "'weights.gptq.damp' is 0");
    expect_error("{\"weights\": {\"gptq\": {\"block_size\": 0}}}", YQ_ERR_PARSE, "'weights.gptq.block_size'");
    expect_error("{\"weights\": {\"gptq\": 1}}", YQ_ERR_PARSE, "'weights.gptq' must be an object");
    expect_error("{\"activations\": {\"observer\": \"kl\"}}", YQ_ERR_PARSE, "\"minmax\", \"percentile\", \"mse\"");
    expect_error("{\"weights\": {\"bits\": 4, \"bits\": 8}}", YQ_ERR_PARSE, "duplicate key 'weights.bits'");
    expect_error("{\"weights\": {\"granularity\": \"tensor\", \"gptq\": {\"group_size\": 64}}}", YQ_ERR_PARSE,
                 "group_size' 64 needs \"granularity\": \"channel\"");
    expect_error("{\"activations\": {\"bits\": 8, \"symmetric\": true}}", YQ_ERR_PARSE,
                 "'activations.symmetric' needs \"signed\": true");
    expect_error("{\"weights\": {\"bias\": \"int64\"}}", YQ_ERR_PARSE, "'weights.bias' is \"int64\": use one of \"float\", \"int32\"");
    expect_error("{\"weights\": {\"bias\": true}}", YQ_ERR_PARSE, "'weights.bias' must be a string");
    expect_error("{\"weights\": {\"bias\": \"int32\", \"gptq\": {\"group_size\": 32}}}", YQ_ERR_PARSE,
                 "'weights.bias' \"int32\" needs one weight scale per output channel");
    {
        yq_recipe *rb;
        assert_int_equal(parse("{\"weights\": {\"bias\": \"int32\"}, \"overrides\": [{\"match\": \"stem\", "
                               "\"weights\": {\"bias\": \"float\"}}]}", &rb), YQ_OK);
        assert_int_equal(rb->weights.int32_bias, 1);
        yq_node_qconfig cb;
        assert_int_equal(yq_recipe_resolve(rb, "stem", "Conv", 1, &cb, NULL), YQ_OK);
        assert_int_equal(cb.weights.int32_bias, 0);
        assert_int_equal(yq_recipe_resolve(rb, "other", "Conv", 1, &cb, NULL), YQ_OK);
        assert_int_equal(cb.weights.int32_bias, 1);
        yq_recipe_free(rb);
    }
    /* block reconstruction */
    {
        yq_recipe *rr;
        assert_int_equal(parse("{}", &rr), YQ_OK);
        assert_int_equal(rr->recon_iters, 0); /* off unless asked for */
        yq_recipe_free(rr);
        assert_int_equal(parse("{\"reconstruct\": {}}", &rr), YQ_OK);
        assert_int_equal(rr->recon_iters, 200);
        assert_int_equal(rr->recon_images, 32);
        assert_int_equal(rr->recon_block_convs, 4);
        yq_recipe_free(rr);
        assert_int_equal(parse("{\"reconstruct\": {\"iters\": 50, \"images\": 8, \"batch\": 4, \"block_convs\": 2,"
                               " \"lr\": 0.1, \"lr_bias\": 0.001}}", &rr), YQ_OK);
        assert_int_equal(rr->recon_iters, 50);
        assert_int_equal(rr->recon_images, 8);
        assert_int_equal(rr->recon_batch, 4);
        assert_int_equal(rr->recon_block_convs, 2);
        assert_float_equal(rr->recon_lr, 0.1, 0);
        assert_float_equal(rr->recon_lr_bias, 0.001, 0);
        yq_recipe *rc;
        assert_int_equal(yq_recipe_clone(rr, &rc), YQ_OK);
        assert_int_equal(rc->recon_iters, 50);
        assert_int_equal(rc->recon_block_convs, 2);
        yq_recipe_free(rc);
        yq_recipe_free(rr);
    }
    expect_error("{\"reconstruct\": {\"itrs\": 5}}", YQ_ERR_PARSE, "unknown key 'reconstruct.itrs'");
    expect_error("{\"reconstruct\": {\"images\": 0}}", YQ_ERR_PARSE, "'reconstruct.images'");
    expect_error("{\"reconstruct\": {\"lr\": -1}}", YQ_ERR_PARSE, "'reconstruct.lr'");
    expect_error("{\"reconstruct\": 3}", YQ_ERR_PARSE, "'reconstruct' must be an object");
    expect_error("{\"overrides\": {}}", YQ_ERR_PARSE, "'overrides' must be an array");
    expect_error("{\"overrides\": [{\"weights\": {}}]}", YQ_ERR_PARSE, "'overrides[0]' needs a \"match\"");
    expect_error("{\"overrides\": [{\"match\": \"\"}]}", YQ_ERR_PARSE, "'overrides[0].match' must be a non-empty");
    expect_error("{\"overrides\": [{\"match\": \"x\", \"float\": 1}]}", YQ_ERR_PARSE, "'overrides[0].float'");
    expect_error("{\"overrides\": [{\"match\": \"x\", \"weights\": {\"bits\": 3}}]}", YQ_ERR_UNSUPPORTED,
                 "'overrides[0].weights.bits'");
    expect_error("{\"keep_float\": [\"a\", 3]}", YQ_ERR_PARSE, "'keep_float[1]' must be a non-empty string");
    expect_error("[1, 2]", YQ_ERR_PARSE, "recipe.json: the recipe must be a JSON object");
    expect_error("{\n  \"weights\": {\"bits\": 4,}\n}", YQ_ERR_PARSE, "recipe.json:2:");
    expect_error("{} x", YQ_ERR_PARSE, "unexpected text after the JSON object");
    /* A combination that only an override creates is reported for the node. */
    yq_recipe *r;
    assert_int_equal(parse("{\"overrides\": [{\"match\": \"op_type:Conv\", \"weights\": {\"granularity\": \"tensor\","
                           " \"gptq\": {\"group_size\": 8}}}]}",
                           &r),
                     YQ_OK);
    yq_node_qconfig c;
    assert_int_equal(yq_recipe_resolve(r, "conv7", "Conv", 1, &c, NULL), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), "recipe.json: node 'conv7': 'weights.gptq.group_size'"));
    yq_recipe_free(r);
}

static void test_load_file(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/w4.json", yqt_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"weights\": {\"bits\": 4, \"method\": \"gptq\"}, \"activations\": {\"bits\": 8}}", f);
    fclose(f);
    yq_recipe *r;
    assert_int_equal(yq_recipe_load(path, &r), YQ_OK);
    assert_int_equal(r->weights.bits, 4);
    assert_int_equal(r->acts.bits, 8);
    assert_string_equal(r->name, path);
    yq_recipe_free(r);
    f = fopen(path, "w");
    fputs("{\"weights\": {\"bitz\": 4}}", f);
    fclose(f);
    assert_int_equal(yq_recipe_load(path, &r), YQ_ERR_PARSE);
    char want[1100];
    snprintf(want, sizeof want, "%s: unknown key 'weights.bitz'", path);
    assert_string_equal(yq_last_error(), want);
    snprintf(path, sizeof path, "%s/missing.json", yqt_tmpdir());
    assert_int_equal(yq_recipe_load(path, &r), YQ_ERR_IO);
}

/* ---- a tiny YOLO-like graph ---------------------------------------------------------- */

static int val(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_value(g, name, &id), YQ_OK);
    return id;
}

static int conv_w(yq_graph *g, const char *name, int64_t cout, int64_t cin, const float *values) {
    int64_t d[4] = {cout, cin, 1, 1};
    float *buf = calloc((size_t)(cout * cin), sizeof *buf);
    for (int64_t i = 0; i < cout * cin; i++) buf[i] = values ? values[i] : 0.01f * (float)(i % 7);
    int id;
    assert_int_equal(yq_graph_add_initializer(g, name, YQ_DT_FLOAT, 4, d, buf, &id), YQ_OK);
    free(buf);
    return id;
}

static int node(yq_graph *g, const char *op, const char *name, int a, int b, int c, const char *out) {
    int ins[3] = {a, b, c}, nin = c >= 0 ? 3 : (b >= 0 ? 2 : 1), o = val(g, out), id;
    assert_int_equal(yq_graph_add_node(g, op, "", name, ins, nin, &o, 1, &id), YQ_OK);
    return id;
}

enum { N_C0, N_SIG, N_MUL, N_C1A, N_C1B, N_CATBB, N_DECOY, N_DFLB, N_ADD, N_MMB, N_ATT, N_BOX, N_CLS,
       N_HEAD, N_SPLIT, N_SM, N_DFL, N_SG, N_OUT, N_COUNT };

static yq_graph *tiny_yolo(void) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    int images = val(g, "images");
    g->values[images].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = images;
    g->ninputs = 1;
    float dfl[16], decoy[16];
    for (int i = 0; i < 16; i++) dfl[i] = decoy[i] = (float)i;
    decoy[15] = 99.0f;
    float bias = 0.5f;
    int64_t bd[1] = {1}, Bd[2] = {32, 32};
    int bb, B;
    float *Bv = calloc(32 * 32, sizeof *Bv);
    assert_int_equal(yq_graph_add_initializer(g, "bb", YQ_DT_FLOAT, 1, bd, &bias, &bb), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "B", YQ_DT_FLOAT, 2, Bd, Bv, &B), YQ_OK);
    free(Bv);
    node(g, "Conv", "/model.0/conv/Conv", images, conv_w(g, "w0", 8, 3, NULL), -1, "a0");
    node(g, "Sigmoid", "/model.0/act/Sigmoid", val(g, "a0"), -1, -1, "s0");
    node(g, "Mul", "/model.0/act/Mul", val(g, "a0"), val(g, "s0"), -1, "m0");
    node(g, "Conv", "/model.1/c1a", val(g, "m0"), conv_w(g, "w1a", 8, 8, NULL), -1, "a1");
    node(g, "Conv", "/model.1/c1b", val(g, "m0"), conv_w(g, "w1b", 8, 8, NULL), -1, "b1");
    node(g, "Concat", "/model.1/Concat", val(g, "a1"), val(g, "b1"), -1, "cb");
    node(g, "Conv", "/model.2/decoy", val(g, "cb"), conv_w(g, "wdecoy", 1, 16, decoy), -1, "dc");
    node(g, "Conv", "/model.2/dfl_with_bias", val(g, "cb"), conv_w(g, "wdflb", 1, 16, dfl), bb, "db");
    node(g, "Add", "/model.2/Add", val(g, "dc"), val(g, "db"), -1, "ad");
    node(g, "MatMul", "/model.3/MatMul", val(g, "ad"), B, -1, "mo");
    node(g, "MatMul", "/model.3/attn/MatMul", val(g, "mo"), val(g, "mo"), -1, "at");
    node(g, "Conv", "/model.23/cv2/Conv", val(g, "at"), conv_w(g, "wbox", 64, 1, NULL), -1, "bo");
    node(g, "Conv", "/model.23/cv3/Conv", val(g, "at"), conv_w(g, "wcls", 80, 1, NULL), -1, "co");
    node(g, "Concat", "/model.23/Concat", val(g, "bo"), val(g, "co"), -1, "hc");
    {
        int in = val(g, "hc"), outs[2] = {val(g, "bx"), val(g, "cl")}, id;
        assert_int_equal(yq_graph_add_node(g, "Split", "", "/model.23/Split", &in, 1, outs, 2, &id), YQ_OK);
    }
    node(g, "Softmax", "/model.23/dfl/Softmax", val(g, "bx"), -1, -1, "sm");
    node(g, "Conv", "/model.23/dfl/conv/Conv", val(g, "sm"), conv_w(g, "wdfl", 1, 16, dfl), -1, "df");
    node(g, "Sigmoid", "/model.23/Sigmoid", val(g, "cl"), -1, -1, "sg");
    node(g, "Concat", "/model.23/Concat_out", val(g, "df"), val(g, "sg"), -1, "output0");
    int out = val(g, "output0");
    g->values[out].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = out;
    g->noutputs = 1;
    assert_int_equal(g->nnodes, N_COUNT);
    return g;
}

static void check_placement(const unsigned *f, const int *idx) {
    const unsigned Q = YQ_PLACE_QUANTIZE, W = YQ_PLACE_WEIGHTED, D = YQ_PLACE_DECODE;
    const unsigned want[N_COUNT] = {
        [N_C0] = Q | W, [N_SIG] = 0, [N_MUL] = 0, [N_C1A] = Q | W, [N_C1B] = Q | W, [N_CATBB] = 0,
        [N_DECOY] = Q | W, [N_DFLB] = Q | W, [N_ADD] = 0, [N_MMB] = Q | W, [N_ATT] = 0, [N_BOX] = Q | W,
        [N_CLS] = Q | W, [N_HEAD] = YQ_PLACE_HEAD_CONCAT, [N_SPLIT] = D, [N_SM] = D,
        [N_DFL] = W | YQ_PLACE_DFL | D, [N_SG] = D, [N_OUT] = D,
    };
    for (int i = 0; i < N_COUNT; i++) {
        if (f[idx[i]] != want[i]) print_message("node %d: flags %#x, want %#x\n", i, f[idx[i]], want[i]);
        assert_int_equal(f[idx[i]], want[i]);
    }
}

static void test_default_placement(void **state) {
    (void)state;
    yq_graph *g = tiny_yolo();
    unsigned f[N_COUNT];
    int idx[N_COUNT];
    for (int i = 0; i < N_COUNT; i++) idx[i] = i;
    assert_true(yq_is_dfl_conv(g, N_DFL));
    assert_false(yq_is_dfl_conv(g, N_DECOY)); /* 15th weight is 99 */
    assert_false(yq_is_dfl_conv(g, N_DFLB));  /* has a bias */
    assert_int_equal(yq_quant_default_placement(g, f), YQ_OK);
    check_placement(f, idx);
    /* Node order does not matter: reverse the node array. */
    for (int i = 0; i < N_COUNT / 2; i++) {
        yq_node t = g->nodes[i];
        g->nodes[i] = g->nodes[N_COUNT - 1 - i];
        g->nodes[N_COUNT - 1 - i] = t;
    }
    for (int i = 0; i < N_COUNT; i++) idx[i] = N_COUNT - 1 - i;
    assert_int_equal(yq_quant_default_placement(g, f), YQ_OK);
    check_placement(f, idx);
    yq_graph_free(g);
}

static void test_plan(void **state) {
    (void)state;
    yq_graph *g = tiny_yolo();
    const char *json = "{\"weights\": {\"bits\": 4},\n"
                       " \"activations\": {\"bits\": 8, \"observer\": \"percentile\"},\n"
                       " \"overrides\": [\n"
                       "   {\"match\": \"/model.1/*\", \"weights\": {\"bits\": 8, \"method\": \"gptq\"}},\n"
                       "   {\"match\": \"/model.23/dfl/conv/Conv\", \"float\": false},\n"
                       "   {\"match\": \"op_type:Sigmoid\", \"float\": false},\n"
                       "   {\"match\": \"op_type:MatMul\", \"activations\": {\"observer\": \"entropy\"}}],\n"
                       " \"keep_float\": [\"/model.23/cv2/Conv\"]}";
    yq_recipe *r;
    assert_int_equal(parse(json, &r), YQ_OK);
    yq_node_qconfig cfg[N_COUNT];
    assert_int_equal(yq_recipe_plan(r, g, cfg), YQ_OK);
    assert_true(cfg[N_C0].quantize && cfg[N_C0].weights.bits == 4 && cfg[N_C0].acts.bits == 8);
    assert_int_equal(cfg[N_C0].acts.observer, YQ_OBS_PERCENTILE);
    assert_true(cfg[N_C1A].quantize && cfg[N_C1A].weights.bits == 8);
    assert_int_equal(cfg[N_C1B].weights.method, YQ_WMETHOD_GPTQ);
    assert_true(cfg[N_DFL].quantize);    /* forced by "float": false */
    assert_false(cfg[N_SG].quantize);    /* no weight: never quantized */
    assert_false(cfg[N_SIG].quantize);
    assert_false(cfg[N_BOX].quantize);   /* keep_float */
    assert_true(cfg[N_CLS].quantize);
    assert_false(cfg[N_ATT].quantize);   /* activation x activation */
    assert_true(cfg[N_MMB].quantize);
    assert_int_equal(cfg[N_MMB].acts.observer, YQ_OBS_ENTROPY);
    assert_false(cfg[N_OUT].quantize);
    yq_recipe_free(r);
    /* A pattern that matches nothing is an error naming it. */
    assert_int_equal(parse("{\"overrides\": [{\"match\": \"op_type:Conv\"}, {\"match\": \"/model.99/*\", \"float\": "
                           "true}]}",
                           &r),
                     YQ_OK);
    assert_int_equal(yq_recipe_plan(r, g, cfg), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "recipe.json: overrides[1].match '/model.99/*' matches no node"));
    yq_recipe_free(r);
    assert_int_equal(parse("{\"keep_float\": [\"/model.0/conv/Conv\", \"Conv_typo\"]}", &r), YQ_OK);
    assert_int_equal(yq_recipe_plan(r, g, cfg), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "keep_float[1] 'Conv_typo' matches no node"));
    yq_recipe_free(r);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_full_recipe_and_resolve),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_default_placement), cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
