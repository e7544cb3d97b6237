/* Numerics of the graph passes run by yq_prepare_graph: Conv+BatchNormalization
 * and Conv+Add folding give the same results as the unfused ops, and FP16/BF16
 * initializers are accepted (computed in FP32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "onnx/onnx.h"
#include "rt/node_eval.h"
#include "rt/prepare.h"
#include "rt/session.h"
#include "vision/image.h"
#include "vision/letterbox.h"

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static int add_init(yq_graph *g, const char *name, int rank, const int64_t *dims, unsigned *seed, float offset) {
    int64_t n = yq_numel(rank, dims);
    float *d = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) d[i] = frand(seed) + offset;
    int id;
    assert_int_equal(yq_graph_add_initializer(g, name, YQ_DT_FLOAT, rank, dims, d, &id), YQ_OK);
    free(d);
    return id;
}

/* x[1,3,6,6] -> Conv(w[4,3,3,3], b[4], pad 1) -> BN -> Add(c[1,4,1,1]) -> y */
static yq_graph *conv_bn_add_graph(void) {
    unsigned seed = 7;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    int x, t1, t2, y, k;
    assert_int_equal(yq_graph_add_value(g, "x", &x), YQ_OK);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    int64_t xd[4] = {1, 3, 6, 6};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    int64_t wd[4] = {4, 3, 3, 3}, cd[1] = {4}, ad[4] = {1, 4, 1, 1};
    int w = add_init(g, "w", 4, wd, &seed, 0), b = add_init(g, "b", 1, cd, &seed, 0);
    int sc = add_init(g, "scale", 1, cd, &seed, 1.0f), bb = add_init(g, "bias", 1, cd, &seed, 0);
    int mu = add_init(g, "mean", 1, cd, &seed, 0), var = add_init(g, "var", 1, cd, &seed, 1.0f);
    int c = add_init(g, "c", 4, ad, &seed, 0);
    assert_int_equal(yq_graph_add_value(g, "t1", &t1), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "t2", &t2), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    int cin[3] = {x, w, b};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv", cin, 3, &t1, 1, &k), YQ_OK);
    int64_t pads[4] = {1, 1, 1, 1};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[k], "pads", pads, 4), YQ_OK);
    int bin[5] = {t1, sc, bb, mu, var};
    assert_int_equal(yq_graph_add_node(g, "BatchNormalization", "", "bn", bin, 5, &t2, 1, &k), YQ_OK);
    assert_int_equal(yq_node_set_attr_float(&g->nodes[k], "epsilon", 1e-3f), YQ_OK);
    int ain[2] = {t2, c};
    assert_int_equal(yq_graph_add_node(g, "Add", "", "add", ain, 2, &y, 1, &k), YQ_OK);
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    return g;
}

static void test_conv_bn_add_fold_matches_unfused(void **state) {
    (void)state;
    unsigned seed = 99;
    float x[108];
    for (int i = 0; i < 108; i++) x[i] = frand(&seed);
    /* reference: evaluate node by node without any fusion */
    yq_graph *ref = conv_bn_add_graph();
    yq_value_set_data(&ref->values[ref->inputs[0]], YQ_DT_FLOAT, 4, ref->values[ref->inputs[0]].dims,
                      memcpy(malloc(sizeof x), x, sizeof x), sizeof x);
    for (int i = 0; i < ref->nnodes; i++) assert_int_equal(yq_node_eval(ref, i, NULL), YQ_OK);
    const float *want = ref->values[ref->outputs[0]].data;
    /* fused: the session folds BN and Add into the conv */
    yq_session *s;
    assert_int_equal(yq_session_new(conv_bn_add_graph(), NULL, &s), YQ_OK);
    const yq_graph *g = yq_session_graph(s);
    assert_int_equal(g->nnodes, 1);
    assert_string_equal(g->nodes[0].op_type, "Conv");
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 6, 6}, .data = x};
    assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
    const float *got = yq_session_output(s, 0)->data;
    for (int i = 0; i < 4 * 36; i++) assert_true(fabsf(got[i] - want[i]) <= 1e-5f + 1e-5f * fabsf(want[i]));
    yq_session_free(s);
    yq_graph_free(ref);
}

/* yolov10n with every float weight stored as float16 (or bfloat16) runs, and
 * its top detection on a COCO image (a tv, score 0.90) stays the same class
 * with a box within `tol` px: half-precision weights, FP32 compute. */
static void run_half(yq_dtype half, float tol) {
    char path[4096]; /* yqt_shared_path returns a static buffer */
    snprintf(path, sizeof path, "%s", yqt_shared_path("models/yolov10n.onnx"));
    float *x = malloc(3 * 640 * 640 * sizeof(float));
    yq_image img;
    yq_letterbox lb;
    assert_int_equal(yq_image_load(yqt_shared_path("data/coco/val2017/000000000139.jpg"), &img), YQ_OK);
    assert_int_equal(yq_letterbox_nchw(&img, 640, 640, x, &lb), YQ_OK);
    yq_image_free(&img);
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 640, 640}, .data = x};
    float ref[1800];
    for (int pass = 0; pass < 2; pass++) {
        yq_graph *g;
        assert_int_equal(yq_onnx_load(path, &g), YQ_OK);
        if (pass == 1) {
            for (int v = 0; v < g->nvalues; v++) {
                yq_value *val = &g->values[v];
                if (!val->data || val->dtype != YQ_DT_FLOAT || yq_value_numel(val) < 16) continue;
                int64_t n = yq_value_numel(val);
                uint16_t *h = malloc((size_t)n * 2);
                for (int64_t i = 0; i < n; i++)
                    h[i] = half == YQ_DT_FLOAT16 ? yq_f32_to_f16(((float *)val->data)[i])
                                                 : yq_f32_to_bf16(((float *)val->data)[i]);
                unsigned flags = val->flags;
                yq_value_set_data(val, half, val->rank, val->dims, h, (size_t)n * 2);
                val->flags = flags;
            }
        }
        yq_session *s;
        yq_status st = yq_session_new(g, NULL, &s);
        if (st != YQ_OK) print_message("%s\n", yq_last_error());
        assert_int_equal(st, YQ_OK);
        assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
        const float *out = yq_session_output(s, 0)->data;
        if (pass == 0) {
            memcpy(ref, out, sizeof ref);
        } else {
            /* the top detection keeps its class and lands near the same box */
            print_message("%s: top %g %g %g %g %g %g vs %g %g %g %g %g %g\n", yq_dtype_name(half), out[0], out[1], out[2], out[3], out[4], out[5], ref[0], ref[1], ref[2], ref[3], ref[4], ref[5]);
            assert_true(out[5] == ref[5]);
            for (int c = 0; c < 4; c++) assert_true(fabsf(out[c] - ref[c]) < tol);
            assert_true(fabsf(out[4] - ref[4]) < 0.05f);
        }
        yq_session_free(s);
    }
    free(x);
}

static void test_half_precision_weights(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    run_half(YQ_DT_FLOAT16, 0.5f);
    run_half(YQ_DT_BFLOAT16, 1.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bn_add_fold_matches_unfused),
        cmocka_unit_test(test_half_precision_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
