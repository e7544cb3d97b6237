/* The Conv op through the op table: attributes (pads, strides, dilations,
 * group, auto_pad, kernel_shape), 1-D / 2-D / 3-D, float16 and bfloat16
 * weights, weights that are not constant at prepare time, flops, and clean
 * errors from infer. Graphs are built with the IR API and run with
 * yq_node_eval; expected values come from yq_convnd_ref with the pads worked
 * out by hand. Tolerance: max|diff| <= 1e-4 * max|ref| + 1e-5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "ir/graph.h"
#include "rt/kernels/conv.h"
#include "rt/node_eval.h"
#include "rt/ops.h"
#include "testutil.h"

static uint64_t rng = 0xC0FFEE1234ABCDEFull;
static float rnd_f(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 32) % 2000001) / 1000000.0f - 1.0f;
}
static float *rnd_array(size_t n) {
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = rnd_f();
    return a;
}
static int64_t numel(int rank, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= d[i];
    return n;
}

/* A graph with one Conv node: X, W (and B) initializers, output "y". */
typedef struct conv_graph {
    yq_graph *g;
    int node, y;
} conv_graph;

static conv_graph make_conv_ex(int xrank, const int64_t *xd, const float *X, int wrank, const int64_t *wd,
                               yq_dtype wdt, const void *W, const int64_t *bd, const float *B) {
    conv_graph cg;
    assert_int_equal(yq_graph_new(&cg.g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(cg.g, "", 17), YQ_OK);
    int ins[3], nin = B ? 3 : 2;
    assert_int_equal(yq_graph_add_initializer(cg.g, "x", YQ_DT_FLOAT, xrank, xd, X, &ins[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(cg.g, "w", wdt, wrank, wd, W, &ins[1]), YQ_OK);
    if (B) assert_int_equal(yq_graph_add_initializer(cg.g, "b", YQ_DT_FLOAT, 1, bd, B, &ins[2]), YQ_OK);
    assert_int_equal(yq_graph_add_value(cg.g, "y", &cg.y), YQ_OK);
    assert_int_equal(yq_graph_add_node(cg.g, "Conv", "", "conv0", ins, nin, &cg.y, 1, &cg.node), YQ_OK);
    return cg;
}

static conv_graph make_conv(int rank, const int64_t *xd, const float *X, const int64_t *wd, yq_dtype wdt,
                            const void *W, const float *B) {
    return make_conv_ex(rank, xd, X, rank, wd, wdt, W, wd, B);
}

static yq_node *node_of(conv_graph *cg) { return &cg->g->nodes[cg->node]; }

static void expect_close(const float *got, const float *want, int64_t n) {
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs(want[i]));
        maxdiff = fmax(maxdiff, fabs((double)got[i] - want[i]));
    }
    if (!(maxdiff <= 1e-4 * maxref + 1e-5)) fail_msg("max diff %g (max ref %g)", maxdiff, maxref);
}

/* Run a Conv with the given attributes and compare with the reference using
 * explicit pads `ref_pads` and expected output dims. */
typedef struct conv_spec {
    int nd;
    int64_t N, C, M, group;
    int64_t in[3], k[3], strides[3], dils[3];
    int64_t pads[6];     /* attribute (ignored when auto_pad is set) */
    const char *auto_pad; /* NULL: attribute absent */
    int64_t ref_pads[6];  /* what the op must end up using */
    int64_t out[3];       /* expected output spatial dims */
    int with_bias;
    int threads;
} conv_spec;

static void run_spec(const conv_spec *sp) {
    const int rank = sp->nd + 2;
    int64_t xd[5] = {sp->N, sp->C}, wd[5] = {sp->M, sp->C / sp->group};
    for (int i = 0; i < sp->nd; i++) {
        xd[2 + i] = sp->in[i];
        wd[2 + i] = sp->k[i];
    }
    float *X = rnd_array((size_t)numel(rank, xd)), *W = rnd_array((size_t)numel(rank, wd));
    float *B = sp->with_bias ? rnd_array((size_t)sp->M) : NULL;
    conv_graph cg = make_conv(rank, xd, X, wd, YQ_DT_FLOAT, W, B);
    yq_node *n = node_of(&cg);
    assert_int_equal(yq_node_set_attr_int(n, "group", sp->group), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "strides", sp->strides, sp->nd), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "dilations", sp->dils, sp->nd), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "kernel_shape", sp->k, sp->nd), YQ_OK);
    if (sp->auto_pad)
        assert_int_equal(yq_node_set_attr_string(n, "auto_pad", sp->auto_pad), YQ_OK);
    else
        assert_int_equal(yq_node_set_attr_ints(n, "pads", sp->pads, 2 * sp->nd), YQ_OK);
    yq_pool *pool = NULL;
    if (sp->threads > 1) assert_int_equal(yq_pool_new(sp->threads, &pool), YQ_OK);
    if (yq_node_eval(cg.g, cg.node, pool) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *y = &cg.g->values[cg.y];
    assert_int_equal(y->dtype, YQ_DT_FLOAT);
    assert_int_equal(y->rank, rank);
    assert_int_equal(y->dims[0], sp->N);
    assert_int_equal(y->dims[1], sp->M);
    for (int i = 0; i < sp->nd; i++) assert_int_equal(y->dims[2 + i], sp->out[i]);
    int64_t ny = numel(rank, y->dims);
    float *R = malloc((size_t)ny * sizeof *R);
    yq_convnd_ref(sp->nd, sp->N, sp->C, sp->in, sp->M, sp->k, sp->group, sp->strides, sp->dils, sp->ref_pads,
                  sp->out, X, W, B, YQ_ACT_NONE, R);
    expect_close(y->data, R, ny);
    /* flops: 2 x MACs. */
    const yq_op_vtable *vt = yq_op_get(YQ_OP_Conv);
    double macs = (double)ny * (double)(sp->C / sp->group);
    for (int i = 0; i < sp->nd; i++) macs *= (double)sp->k[i];
    assert_true(fabs(vt->flops(cg.g, node_of(&cg)) - 2 * macs) < 0.5);
    yq_pool_free(pool);
    free(R);
    free(X);
    free(W);
    free(B);
    yq_graph_free(cg.g);
}

static void test_conv2d_explicit(void **state) {
    (void)state;
    /* Asymmetric pads, strides, dilations, group 2, bias, 2 threads.
     * H: (11 + 1 + 2 - (2*2+1)) / 2 + 1 = 5; W: (9 + 0 + 1 - 4) / 1 + 1 = 7. */
    conv_spec sp = {.nd = 2, .N = 2, .C = 4, .M = 6, .group = 2, .in = {11, 9}, .k = {3, 4}, .strides = {2, 1},
                    .dils = {2, 1}, .pads = {1, 0, 2, 1}, .ref_pads = {1, 0, 2, 1}, .out = {5, 7}, .with_bias = 1,
                    .threads = 2};
    run_spec(&sp);
    /* Depthwise, stride 2, single thread. */
    conv_spec dw = {.nd = 2, .N = 1, .C = 8, .M = 8, .group = 8, .in = {10, 13}, .k = {3, 3}, .strides = {2, 2},
                    .dils = {1, 1}, .pads = {1, 1, 1, 1}, .ref_pads = {1, 1, 1, 1}, .out = {5, 7}, .with_bias = 1,
                    .threads = 1};
    run_spec(&dw);
    /* 1×1 without bias. */
    conv_spec pw = {.nd = 2, .N = 1, .C = 16, .M = 5, .group = 1, .in = {7, 6}, .k = {1, 1}, .strides = {1, 1},
                    .dils = {1, 1}, .out = {7, 6}, .threads = 2};
    run_spec(&pw);
}

static void test_conv_auto_pad(void **state) {
    (void)state;
    /* in 7, k 4, stride 2: out = ceil(7/2) = 4, total pad = 3*2 + 4 - 7 = 3.
     * SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning. */
    conv_spec up = {.nd = 2, .N = 1, .C = 3, .M = 4, .group = 1, .in = {7, 8}, .k = {4, 3}, .strides = {2, 2},
                    .dils = {1, 1}, .auto_pad = "SAME_UPPER", .ref_pads = {1, 0, 2, 1}, .out = {4, 4},
                    .with_bias = 1, .threads = 2};
    /* W: in 8, k 3, stride 2: out 4, total pad = 3*2 + 3 - 8 = 1 -> (0, 1). */
    run_spec(&up);
    conv_spec lo = up;
    lo.auto_pad = "SAME_LOWER";
    lo.ref_pads[0] = 2;
    lo.ref_pads[1] = 1;
    lo.ref_pads[2] = 1;
    lo.ref_pads[3] = 0;
    run_spec(&lo);
    /* VALID ignores pads: (7 - 4) / 2 + 1 = 2, (8 - 3) / 2 + 1 = 3. */
    conv_spec va = up;
    va.auto_pad = "VALID";
    memset(va.ref_pads, 0, sizeof va.ref_pads);
    va.out[0] = 2;
    va.out[1] = 3;
    run_spec(&va);
}

static void test_conv_1d_3d(void **state) {
    (void)state;
    conv_spec c1 = {.nd = 1, .N = 2, .C = 6, .M = 9, .group = 3, .in = {30}, .k = {5}, .strides = {2},
                    .dils = {2}, .pads = {3, 1}, .ref_pads = {3, 1}, .out = {12}, .with_bias = 1, .threads = 2};
    /* (30 + 4 - 9) / 2 + 1 = 13 */
    c1.out[0] = 13;
    run_spec(&c1);
    conv_spec c3 = {.nd = 3, .N = 1, .C = 2, .M = 3, .group = 1, .in = {5, 6, 4}, .k = {3, 2, 2},
                    .strides = {1, 2, 1}, .dils = {1, 1, 2}, .pads = {1, 0, 1, 1, 1, 0}, .ref_pads = {1, 0, 1, 1, 1, 0},
                    .with_bias = 1, .threads = 1};
    /* (5+2-3)/1+1 = 5; (6+1-2)/2+1 = 3; (4+1-3)/1+1 = 3 */
    c3.out[0] = 5;
    c3.out[1] = 3;
    c3.out[2] = 3;
    run_spec(&c3);
}

static void test_conv_half_weights(void **state) {
    (void)state;
    const int64_t xd[4] = {1, 4, 6, 6}, wd[4] = {5, 4, 3, 3};
    float *X = rnd_array(144), *W = rnd_array(180), *Wr = malloc(180 * sizeof *Wr), *B = rnd_array(5);
    uint16_t h[180];
    for (yq_dtype dt = YQ_DT_FLOAT16; dt <= YQ_DT_BFLOAT16; dt = dt == YQ_DT_FLOAT16 ? YQ_DT_BFLOAT16 : YQ_DT_COUNT) {
        for (int i = 0; i < 180; i++) {
            h[i] = dt == YQ_DT_FLOAT16 ? yq_f32_to_f16(W[i]) : yq_f32_to_bf16(W[i]);
            Wr[i] = dt == YQ_DT_FLOAT16 ? yq_f16_to_f32(h[i]) : yq_bf16_to_f32(h[i]);
        }
        conv_graph cg = make_conv(4, xd, X, wd, dt, h, B);
        const int64_t pads[4] = {1, 1, 1, 1};
        assert_int_equal(yq_node_set_attr_ints(node_of(&cg), "pads", pads, 4), YQ_OK);
        if (yq_node_eval(cg.g, cg.node, NULL) != YQ_OK) fail_msg("%s", yq_last_error());
        float R[180];
        const int64_t in[2] = {6, 6}, k[2] = {3, 3}, one[2] = {1, 1}, out[2] = {6, 6};
        yq_convnd_ref(2, 1, 4, in, 5, k, 1, one, one, pads, out, X, Wr, B, YQ_ACT_NONE, R);
        expect_close(cg.g->values[cg.y].data, R, 180);
        yq_graph_free(cg.g);
    }
    free(X);
    free(W);
    free(Wr);
    free(B);
}

static void test_conv_weights_at_run_time(void **state) {
    (void)state;
    /* prepare sees W without data (a graph input): the op plans at run time. */
    const int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {4, 3, 3, 3};
    float *X = rnd_array(75), *W = rnd_array(108), *B = rnd_array(4);
    conv_graph cg = make_conv(4, xd, X, wd, YQ_DT_FLOAT, W, B);
    assert_int_equal(yq_node_infer(cg.g, cg.node), YQ_OK);
    const yq_op_vtable *vt = yq_op_get(YQ_OP_Conv);
    yq_node *n = node_of(&cg);
    yq_tensor in[3], out[1];
    for (int i = 0; i < 3; i++) in[i] = yq_value_tensor(&cg.g->values[n->inputs[i]]);
    out[0] = yq_value_tensor(&cg.g->values[cg.y]);
    float Y[36], R[36];
    out[0].data = Y;
    yq_tensor in_prep[3];
    memcpy(in_prep, in, sizeof in);
    in_prep[1].data = NULL;
    yq_prepare_ctx pc = {.g = cg.g, .node = n, .opset = 17, .nin = 3, .nout = 1, .in = in_prep, .out = out,
                         .nthreads = 1};
    assert_int_equal(vt->prepare(&pc), YQ_OK);
    assert_int_equal(pc.scratch_bytes, 0);
    yq_run_ctx rc = {.g = cg.g, .node = n, .opset = 17, .nin = 3, .nout = 1, .in = in, .out = out,
                     .state = pc.state};
    assert_int_equal(vt->run(&rc), YQ_OK);
    vt->release(pc.state);
    const int64_t sp[2] = {5, 5}, k[2] = {3, 3}, one[2] = {1, 1}, pads[4] = {0}, o[2] = {3, 3};
    yq_convnd_ref(2, 1, 3, sp, 4, k, 1, one, one, pads, o, X, W, B, YQ_ACT_NONE, R);
    expect_close(Y, R, 36);
    free(X);
    free(W);
    free(B);
    yq_graph_free(cg.g);
}

/* Infer must fail with `st` and a message naming the node and containing `what`. */
static void expect_infer_error(const int64_t *xd, const int64_t *wd, int wrank, const int64_t *bd, int64_t group,
                               const int64_t *kshape, yq_dtype xdt, yq_status st, const char *what) {
    static const float buf[4096];
    conv_graph cg = make_conv_ex(4, xd, buf, wrank, wd, YQ_DT_FLOAT, buf, bd, bd ? buf : NULL);
    yq_node *n = node_of(&cg);
    if (xdt != YQ_DT_FLOAT) cg.g->values[n->inputs[0]].dtype = xdt;
    assert_int_equal(yq_node_set_attr_int(n, "group", group), YQ_OK);
    if (kshape) assert_int_equal(yq_node_set_attr_ints(n, "kernel_shape", kshape, 2), YQ_OK);
    assert_int_equal(yq_node_infer(cg.g, cg.node), st);
    if (!strstr(yq_last_error(), what) || !strstr(yq_last_error(), "conv0"))
        fail_msg("unexpected message: %s", yq_last_error());
    yq_graph_free(cg.g);
}

static void test_conv_infer_errors(void **state) {
    (void)state;
    const int64_t x[4] = {1, 6, 8, 8};
    const int64_t w_bad_c[4] = {4, 4, 3, 3}; /* 4 * group 1 != 6 */
    expect_infer_error(x, w_bad_c, 4, NULL, 1, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "channel mismatch");
    const int64_t w_g3[4] = {4, 2, 3, 3}; /* group 3: 6 channels OK, 4 outputs not divisible */
    expect_infer_error(x, w_g3, 4, NULL, 3, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "not divisible");
    const int64_t w_ok[4] = {4, 6, 3, 3}, b_bad[1] = {5};
    expect_infer_error(x, w_ok, 4, b_bad, 1, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "bias");
    const int64_t ks[2] = {3, 5};
    expect_infer_error(x, w_ok, 4, NULL, 1, ks, YQ_DT_FLOAT, YQ_ERR_INVALID, "kernel_shape");
    const int64_t w_big[4] = {4, 6, 9, 3};
    expect_infer_error(x, w_big, 4, NULL, 1, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "does not fit");
    expect_infer_error(x, w_ok, 4, NULL, 0, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "group");
    expect_infer_error(x, w_ok, 4, NULL, 1, NULL, YQ_DT_INT8, YQ_ERR_UNSUPPORTED, "float32");
    const int64_t w3[3] = {4, 6, 3};
    expect_infer_error(x, w3, 3, NULL, 1, NULL, YQ_DT_FLOAT, YQ_ERR_INVALID, "rank");
}

/* A 3×3 stride-1 conv the automatic choice runs as Winograd does so when its
 * input is a plain tensor, but not when the input comes from a
 * DequantizeLinear (A8 fake-quant: the direct sum's rounding is kept). Checked
 * bitwise against plans forced to each choice. */
static void test_conv_winograd_not_after_dequantize(void **state) {
    (void)state;
    const int64_t xd[4] = {1, 64, 20, 20}, wd[4] = {64, 64, 3, 3}, none[1] = {0};
    const size_t nx = 64 * 20 * 20, nw = 64 * 64 * 9;
    uint8_t *xq = malloc(nx);
    for (size_t i = 0; i < nx; i++) xq[i] = (uint8_t)(rnd_f() * 127.0f + 128.0f);
    const float scale = 0.02f;
    const uint8_t zp = 128;
    float *xf = malloc(nx * sizeof *xf), *W = rnd_array(nw);
    for (size_t i = 0; i < nx; i++) xf[i] = ((float)xq[i] - 128.0f) * scale; /* exact: what DequantizeLinear gives */
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    int vq, vs, vz, vw, vplain, vdq, y1, y2, ndq, nc1, nc2;
    assert_int_equal(yq_graph_add_initializer(g, "xq", YQ_DT_UINT8, 4, xd, xq, &vq), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "s", YQ_DT_FLOAT, 0, none, &scale, &vs), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "z", YQ_DT_UINT8, 0, none, &zp, &vz), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w", YQ_DT_FLOAT, 4, wd, W, &vw), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "xplain", YQ_DT_FLOAT, 4, xd, xf, &vplain), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "xdq", &vdq), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y1", &y1), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y2", &y2), YQ_OK);
    const int dq_in[3] = {vq, vs, vz}, c1_in[2] = {vdq, vw}, c2_in[2] = {vplain, vw};
    assert_int_equal(yq_graph_add_node(g, "DequantizeLinear", "", "dq", dq_in, 3, &vdq, 1, &ndq), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv_dq", c1_in, 2, &y1, 1, &nc1), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv_plain", c2_in, 2, &y2, 1, &nc2), YQ_OK);
    const int64_t pads[4] = {1, 1, 1, 1};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[nc1], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[nc2], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_graph_rebuild_producers(g), YQ_OK);
    assert_int_equal(yq_node_eval(g, ndq, NULL), YQ_OK);
    assert_memory_equal(g->values[vdq].data, xf, nx * sizeof(float));
    assert_int_equal(yq_node_eval(g, nc1, NULL), YQ_OK);
    assert_int_equal(yq_node_eval(g, nc2, NULL), YQ_OK);
    /* The same conv through plans forced to each choice. */
    yq_conv2d_shape s = {.N = 1, .C = 64, .H = 20, .W = 20, .M = 64, .kh = 3, .kw = 3, .group = 1, .stride_h = 1,
                         .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    const size_t ny = 64 * 20 * 20;
    float *yw = malloc(ny * sizeof *yw), *yd = malloc(ny * sizeof *yd);
    yq_conv2d_plan *p;
    assert_int_equal(yq_conv2d_plan_new_algo(&s, W, NULL, YQ_ACT_NONE, 1, YQ_CONV_ALGO_WINOGRAD, &p), YQ_OK);
    assert_int_equal(yq_conv2d_run(p, NULL, xf, yw, NULL), YQ_OK);
    yq_conv2d_plan_free(p);
    assert_int_equal(yq_conv2d_plan_new_algo(&s, W, NULL, YQ_ACT_NONE, 1, YQ_CONV_ALGO_AUTO_NO_WINOGRAD, &p), YQ_OK);
    assert_int_equal(yq_conv2d_run(p, NULL, xf, yd, NULL), YQ_OK);
    yq_conv2d_plan_free(p);
    assert_true(memcmp(yw, yd, ny * sizeof(float)) != 0); /* the two sums do round differently */
    assert_memory_equal(g->values[y2].data, yw, ny * sizeof(float));
    assert_memory_equal(g->values[y1].data, yd, ny * sizeof(float));
    free(yw);
    free(yd);
    free(xq);
    free(xf);
    free(W);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_winograd_not_after_dequantize),
        cmocka_unit_test(test_conv2d_explicit),   cmocka_unit_test(test_conv_auto_pad),
        cmocka_unit_test(test_conv_1d_3d),        cmocka_unit_test(test_conv_half_weights),
        cmocka_unit_test(test_conv_weights_at_run_time), cmocka_unit_test(test_conv_infer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
