/* grad: the training path —
 *  - the fast Conv backward (im2col + packed SGEMM, depthwise loop) against
 *    the reference kernel and finite differences, and bitwise independent of
 *    the thread count;
 *  - the differentiable executor (train_graph) on a float graph with Conv,
 *    SiLU, MaxPool, Concat, Split, Add, Transpose, Reshape: forward equal to
 *    the runtime's, bias gradients against finite differences;
 *  - the executor on a QCDQ graph from the PTQ driver (act Q/DQ + 4-bit weight
 *    chain + bias): every parameter gradient (latent weights through STE, LSQ
 *    weight and activation scales, bias) equal to the composition of the
 *    FD-checked reference kernels; the export at the start parameters
 *    reproduces the PTQ model byte for byte;
 *  - fine-tuning end to end on a tiny detector-shaped model (PTQ W4A8 student,
 *    float teacher): the distillation loss falls; same seed → byte-identical
 *    model for 1 and 2 threads; a run resumed from a mid-run checkpoint ends
 *    with the uninterrupted run's model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "grad/grad.h"
#include "grad/train_graph.h"
#include "grad_check.h"
#include "onnx/onnx.h"
#include "quant/finetune.h"
#include "quant/ptq.h"
#include "rt/prepare.h"
#include "rt/session.h"

/* ---- fast conv backward ---------------------------------------------------------- */

typedef struct conv_ctx {
    yq_conv2d_shape s;
    float *x, *w, *b, *y, *r;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    yq_grad_conv2d_forward(&c->s, c->x, c->w, c->b, c->y);
    return gc_dot(c->s.N * c->s.M * c->s.OH * c->s.OW, c->r, c->y);
}

static void check_fast(const char *name, yq_conv2d_shape s, uint64_t seed) {
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
    const int64_t nx = s.N * s.C * s.H * s.W, nw = s.M * (s.C / s.group) * s.kh * s.kw,
                  ny = s.N * s.M * s.OH * s.OW;
    conv_ctx c = {s, gc_randn(nx, &seed, 1), gc_randn(nw, &seed, 0.5), gc_randn(s.M, &seed, 0.5), gc_zeros(ny),
                  gc_randn(ny, &seed, 1)};
    float *dx[3], *dw[3], *db[3];
    for (int k = 0; k < 3; k++) dx[k] = gc_zeros(nx), dw[k] = gc_zeros(nw), db[k] = gc_zeros(s.M);
    /* accumulation: everything starts at 1 */
    for (int k = 0; k < 3; k++) {
        for (int64_t i = 0; i < nx; i++) dx[k][i] = 1.0f;
        for (int64_t i = 0; i < nw; i++) dw[k][i] = 1.0f;
        for (int64_t i = 0; i < s.M; i++) db[k][i] = 1.0f;
    }
    yq_grad_conv2d_backward(&c.s, c.x, c.w, c.r, dx[0], dw[0], db[0]);
    yq_pool *p1, *p3;
    assert_int_equal(yq_pool_new(1, &p1), YQ_OK);
    assert_int_equal(yq_pool_new(3, &p3), YQ_OK);
    assert_int_equal(yq_grad_conv2d_backward_fast(p1, &c.s, c.x, c.w, c.r, dx[1], dw[1], db[1]), YQ_OK);
    assert_int_equal(yq_grad_conv2d_backward_fast(p3, &c.s, c.x, c.w, c.r, dx[2], dw[2], db[2]), YQ_OK);
    /* thread count: bitwise */
    assert_memory_equal(dx[1], dx[2], (size_t)nx * sizeof(float));
    assert_memory_equal(dw[1], dw[2], (size_t)nw * sizeof(float));
    assert_memory_equal(db[1], db[2], (size_t)s.M * sizeof(float));
    /* reference: float summation order only */
    double e = 0, m = 1e-6;
    for (int64_t i = 0; i < nx; i++) e = fmax(e, fabs(dx[0][i] - dx[1][i])), m = fmax(m, fabs(dx[0][i]));
    for (int64_t i = 0; i < nw; i++) e = fmax(e, fabs(dw[0][i] - dw[1][i])), m = fmax(m, fabs(dw[0][i]));
    for (int64_t i = 0; i < s.M; i++) e = fmax(e, fabs(db[0][i] - db[1][i]));
    if (e > 1e-4 * m) fail_msg("conv fast %s: differs from the reference by %.3g (scale %.3g)", name, e, m);
    /* finite differences on the fast gradients (minus the starting 1) */
    for (int64_t i = 0; i < nx; i++) dx[1][i] -= 1.0f;
    for (int64_t i = 0; i < nw; i++) dw[1][i] -= 1.0f;
    for (int64_t i = 0; i < s.M; i++) db[1][i] -= 1.0f;
    char what[96];
    snprintf(what, sizeof what, "conv fast %s dx", name);
    gc_check(what, c.x, dx[1], nx, conv_loss, &c, 1, seed);
    snprintf(what, sizeof what, "conv fast %s dw", name);
    gc_check(what, c.w, dw[1], nw, conv_loss, &c, 1, seed + 1);
    snprintf(what, sizeof what, "conv fast %s db", name);
    gc_check(what, c.b, db[1], s.M, conv_loss, &c, 1, seed + 2);
    /* NULL gradients are allowed */
    assert_int_equal(yq_grad_conv2d_backward_fast(p3, &c.s, c.x, c.w, c.r, NULL, dw[2], NULL), YQ_OK);
    assert_int_equal(yq_grad_conv2d_backward_fast(p3, &c.s, c.x, c.w, c.r, dx[2], NULL, NULL), YQ_OK);
    yq_pool_free(p1);
    yq_pool_free(p3);
    for (int k = 0; k < 3; k++) free(dx[k]), free(dw[k]), free(db[k]);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

static void test_conv_fast(void **state) {
    (void)state;
    /* N C H W  M kh kw  group  sh sw  dh dw  pt pl pb pr */
    check_fast("3x3 s2 p1", (yq_conv2d_shape){2, 3, 7, 6, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 21);
    check_fast("grouped dil2 asym pad", (yq_conv2d_shape){1, 4, 8, 9, 6, 3, 2, 2, 1, 2, 2, 1, 0, 1, 2, 1, 0, 0}, 22);
    check_fast("depthwise 3x3 s2", (yq_conv2d_shape){2, 5, 9, 8, 5, 3, 3, 5, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 23);
    check_fast("depthwise 5x5 p2", (yq_conv2d_shape){1, 6, 7, 7, 6, 5, 5, 6, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0}, 24);
    check_fast("1x1", (yq_conv2d_shape){2, 6, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 25);
    check_fast("1x1 s2", (yq_conv2d_shape){1, 6, 6, 6, 4, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0}, 26);
    check_fast("wide 3x3 (GEMM blocking)", (yq_conv2d_shape){1, 40, 12, 12, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 27);
}

/* ---- graphs ----------------------------------------------------------------------- */

static int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

static int add_init(yq_graph *g, const char *name, int rank, const int64_t *dims, uint64_t *seed, double sd) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = gc_randn(n, seed, sd);
    int id;
    assert_int_equal(yq_graph_add_initializer(g, name, YQ_DT_FLOAT, rank, dims, d, &id), YQ_OK);
    free(d);
    return id;
}

static yq_graph *new_graph(int C, int H, int W) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    g->ir_version = 8;
    int x = add_value(g, "x");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, C, H, W};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    return g;
}

static void set_output(yq_graph *g, int v) {
    g->values[v].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = v;
    g->noutputs = 1;
}

static int conv(yq_graph *g, const char *name, int x, int cin, int cout, int k, int stride, uint64_t *seed) {
    char wn[64], bn[64], yn[64];
    snprintf(wn, sizeof wn, "%s.w", name), snprintf(bn, sizeof bn, "%s.b", name), snprintf(yn, sizeof yn, "%s.y", name);
    const int64_t wd[4] = {cout, cin, k, k}, bd[1] = {cout};
    int in[3] = {x, add_init(g, wn, 4, wd, seed, 0.6 / sqrt((double)(cin * k * k))), add_init(g, bn, 1, bd, seed, 0.2)};
    int y = add_value(g, yn), n;
    assert_int_equal(yq_graph_add_node(g, "Conv", "", name, in, 3, &y, 1, &n), YQ_OK);
    const int64_t p = k / 2, pads[4] = {p, p, p, p}, st[2] = {stride, stride};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "strides", st, 2), YQ_OK);
    return y;
}

static int silu(yq_graph *g, const char *name, int x) {
    char sn[64], yn[64];
    snprintf(sn, sizeof sn, "%s.sig", name), snprintf(yn, sizeof yn, "%s.silu", name);
    int s = add_value(g, sn), y = add_value(g, yn), n;
    assert_int_equal(yq_graph_add_node(g, "Sigmoid", "", sn, &x, 1, &s, 1, &n), YQ_OK);
    int in[2] = {x, s};
    assert_int_equal(yq_graph_add_node(g, "Mul", "", yn, in, 2, &y, 1, &n), YQ_OK);
    return y;
}

static int reshape(yq_graph *g, const char *name, int x, int rank, const int64_t *shape) {
    char sn[64];
    snprintf(sn, sizeof sn, "%s.shape", name);
    const int64_t d[1] = {rank};
    int s, y = add_value(g, name), n;
    assert_int_equal(yq_graph_add_initializer(g, sn, YQ_DT_INT64, 1, d, shape, &s), YQ_OK);
    int in[2] = {x, s};
    assert_int_equal(yq_graph_add_node(g, "Reshape", "", name, in, 2, &y, 1, &n), YQ_OK);
    return y;
}

/* x[1,3,8,8] → conv1 → SiLU → a; MaxPool 3×3 (pad 1) → b; Concat(a, b) → conv2
 * → Split(3, 3) → Add → Transpose(0,1,3,2) → Reshape [1,3,64] → out. */
static yq_graph *float_graph(void) {
    yq_graph *g = new_graph(3, 8, 8);
    uint64_t seed = 5;
    int n;
    int a = silu(g, "c1", conv(g, "conv1", g->inputs[0], 3, 4, 3, 1, &seed));
    int b = add_value(g, "pool");
    assert_int_equal(yq_graph_add_node(g, "MaxPool", "", "pool", &a, 1, &b, 1, &n), YQ_OK);
    const int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "kernel_shape", k, 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    int cat = add_value(g, "cat"), ab[2] = {a, b};
    assert_int_equal(yq_graph_add_node(g, "Concat", "", "cat", ab, 2, &cat, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "axis", 1), YQ_OK);
    int y = conv(g, "conv2", cat, 8, 6, 1, 1, &seed);
    int sp[2] = {add_value(g, "s0"), add_value(g, "s1")};
    assert_int_equal(yq_graph_add_node(g, "Split", "", "split", &y, 1, sp, 2, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "axis", 1), YQ_OK);
    int z = add_value(g, "sum");
    assert_int_equal(yq_graph_add_node(g, "Add", "", "sum", sp, 2, &z, 1, &n), YQ_OK);
    int zt = add_value(g, "zt");
    assert_int_equal(yq_graph_add_node(g, "Transpose", "", "zt", &z, 1, &zt, 1, &n), YQ_OK);
    const int64_t perm[4] = {0, 1, 3, 2};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "perm", perm, 4), YQ_OK);
    const int64_t shape[3] = {1, 3, 64};
    set_output(g, reshape(g, "out", zt, 3, shape));
    return g;
}

typedef struct tg_ctx {
    yq_tg *tg;
    const float *x, *r;
    int64_t n;
} tg_ctx;

static double tg_loss(void *p) {
    tg_ctx *c = p;
    const float *in[1] = {c->x};
    assert_int_equal(yq_tg_forward(c->tg, in), YQ_OK);
    return gc_dot(c->n, c->r, yq_tg_output(c->tg, 0));
}

static void test_train_graph_float(void **state) {
    (void)state;
    yq_graph *g = float_graph();
    const char *outs[1] = {"out"};
    yq_tg_opts o = {.outputs = outs, .noutputs = 1, .nthreads = 2, .train_bias = 1};
    yq_tg *tg;
    assert_int_equal(yq_tg_new(g, &o, &tg), YQ_OK);
    int nw, na, nb;
    yq_tg_counts(tg, &nw, &na, &nb);
    assert_int_equal(nw, 0);
    assert_int_equal(na, 0);
    assert_int_equal(nb, 2);
    assert_int_equal(yq_tg_nparams(tg), 4 + 6);
    uint64_t seed = 9;
    float *x = gc_randn(3 * 64, &seed, 1), *r = gc_randn(3 * 64, &seed, 1);
    tg_ctx c = {tg, x, r, yq_tg_output_numel(tg, 0)};
    assert_int_equal(c.n, 3 * 64);
    /* forward = the runtime's */
    yq_graph *g2;
    assert_int_equal(yq_graph_clone(g, &g2), YQ_OK);
    yq_session *s;
    yq_session_opts so = {.nthreads = 1};
    assert_int_equal(yq_session_new(g2, &so, &s), YQ_OK);
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 8, 8}, .data = x};
    assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
    tg_loss(&c);
    const float *a = yq_tg_output(tg, 0), *b = yq_session_output(s, 0)->data;
    for (int64_t i = 0; i < c.n; i++) assert_true(fabs(a[i] - b[i]) <= 1e-5 * (1 + fabs(b[i])));
    /* bias gradients by finite differences */
    yq_tg_zero_grad(tg);
    tg_loss(&c);
    const float *dy[1] = {r};
    assert_int_equal(yq_tg_backward(tg, dy), YQ_OK);
    int64_t b0, b1;
    yq_tg_kind_range(tg, YQ_TG_BIAS, &b0, &b1);
    gc_check("train graph biases", yq_tg_params(tg) + b0, yq_tg_grads(tg) + b0, b1 - b0, tg_loss, &c, 1, 3);
    /* gradients accumulate over backward calls */
    float *g1 = malloc((size_t)(b1 - b0) * sizeof(float));
    memcpy(g1, yq_tg_grads(tg) + b0, (size_t)(b1 - b0) * sizeof(float));
    tg_loss(&c);
    assert_int_equal(yq_tg_backward(tg, dy), YQ_OK);
    for (int64_t i = 0; i < b1 - b0; i++) assert_true(fabs(yq_tg_grads(tg)[b0 + i] - 2 * g1[i]) <= 1e-5 * (1 + fabs(g1[i])));
    /* a subgraph given by input and output names */
    const char *sin[1] = {"cat"}, *sout[1] = {"sum"};
    yq_tg_opts so2 = {.inputs = sin, .ninputs = 1, .outputs = sout, .noutputs = 1, .nthreads = 1, .train_bias = 1};
    yq_tg *sub;
    assert_int_equal(yq_tg_new(g, &so2, &sub), YQ_OK);
    assert_int_equal(yq_tg_input_numel(sub, 0), 8 * 64);
    assert_int_equal(yq_tg_nparams(sub), 6);
    yq_tg_free(sub);
    /* unknown names are errors */
    const char *bad[1] = {"nope"};
    so2.outputs = bad;
    assert_int_equal(yq_tg_new(g, &so2, &sub), YQ_ERR_INVALID);
    free(g1), free(x), free(r);
    yq_session_free(s);
    yq_tg_free(tg);
    yq_graph_free(g);
}

typedef struct tg2_ctx {
    yq_tg *tg;
    const float *x, *r0, *r1;
} tg2_ctx;

static double tg2_loss(void *p) {
    tg2_ctx *c = p;
    const float *in[1] = {c->x};
    assert_int_equal(yq_tg_forward(c->tg, in), YQ_OK);
    return gc_dot(yq_tg_output_numel(c->tg, 0), c->r0, yq_tg_output(c->tg, 0)) +
           gc_dot(yq_tg_output_numel(c->tg, 1), c->r1, yq_tg_output(c->tg, 1));
}

/* An output that other nodes also read (a feature map under a loss of its
 * own): its gradient adds to what flows back from the later output. */
static void test_train_graph_internal_output(void **state) {
    (void)state;
    yq_graph *g = float_graph();
    const char *outs[2] = {"out", "c1.silu"};
    yq_tg_opts o = {.outputs = outs, .noutputs = 2, .nthreads = 2, .train_bias = 1};
    yq_tg *tg;
    assert_int_equal(yq_tg_new(g, &o, &tg), YQ_OK);
    assert_int_equal(yq_tg_output_numel(tg, 1), 4 * 64);
    uint64_t seed = 19;
    float *x = gc_randn(3 * 64, &seed, 1), *r0 = gc_randn(3 * 64, &seed, 1), *r1 = gc_randn(4 * 64, &seed, 1);
    tg2_ctx c = {tg, x, r0, r1};
    yq_tg_zero_grad(tg);
    tg2_loss(&c);
    const float *dy[2] = {r0, r1};
    assert_int_equal(yq_tg_backward(tg, dy), YQ_OK);
    int64_t b0, b1;
    yq_tg_kind_range(tg, YQ_TG_BIAS, &b0, &b1);
    gc_check("train graph, two outputs", yq_tg_params(tg) + b0, yq_tg_grads(tg) + b0, b1 - b0, tg2_loss, &c, 1, 3);
    free(x), free(r0), free(r1);
    yq_tg_free(tg);
    yq_graph_free(g);
}

/* ---- QCDQ graphs from the PTQ driver ------------------------------------------------ */

static yq_status noise_input(void *arg, int index, float *nchw) {
    const int *n = arg;
    uint64_t s = 1000 + (uint64_t)index;
    for (int i = 0; i < *n; i++) nchw[i] = (float)rng_uniform(&s);
    return YQ_OK;
}

static const char W4A8[] = "{\"weights\": {\"bits\": 4, \"method\": \"gptq\", \"symmetric\": false},"
                           " \"activations\": {\"bits\": 8}}";

static yq_graph *ptq(const yq_graph *fl, int numel) {
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(W4A8, strlen(W4A8), "test.json", &r), YQ_OK);
    yq_graph *g;
    assert_int_equal(yq_graph_clone(fl, &g), YQ_OK);
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = 1;
    o.report_images = 0;
    assert_int_equal(yq_ptq_quantize(g, r, 6, noise_input, &numel, &o, NULL), YQ_OK);
    yq_recipe_free(r);
    return g;
}

static float *values_of(const yq_graph *g, const char *name) {
    const int id = yq_graph_find_value(g, name);
    assert_true(id >= 0 && g->values[id].data);
    return g->values[id].data;
}

/* x[1,3,6,6] → conv (4×3×3×3, pad 1, bias) → y, as W4A8 QCDQ. */
static void test_train_graph_qcdq_gradients(void **state) {
    (void)state;
    yq_graph *fl = new_graph(3, 6, 6);
    uint64_t seed = 17;
    set_output(fl, conv(fl, "conv", fl->inputs[0], 3, 4, 3, 1, &seed));
    yq_graph *q = ptq(fl, 3 * 36);
    const char *outs[1] = {"conv.y"};
    yq_tg_opts o = {.outputs = outs, .noutputs = 1, .nthreads = 2, .train_bias = 1};
    yq_tg *tg;
    assert_int_equal(yq_tg_new(q, &o, &tg), YQ_OK);
    int nw, na, nb;
    yq_tg_counts(tg, &nw, &na, &nb);
    assert_int_equal(nw, 1);
    assert_int_equal(na, 1);
    assert_int_equal(nb, 1);
    int64_t r0[YQ_TG_NKINDS], r1[YQ_TG_NKINDS];
    for (int k = 0; k < YQ_TG_NKINDS; k++) yq_tg_kind_range(tg, (yq_tg_kind)k, &r0[k], &r1[k]);
    assert_int_equal(r1[YQ_TG_WEIGHT] - r0[YQ_TG_WEIGHT], 4 * 27);
    assert_int_equal(r1[YQ_TG_WSCALE] - r0[YQ_TG_WSCALE], 4);
    assert_int_equal(r1[YQ_TG_ASCALE] - r0[YQ_TG_ASCALE], 1);
    assert_int_equal(r1[YQ_TG_BIAS] - r0[YQ_TG_BIAS], 4);

    /* the pieces of the QCDQ model, read back from its initializers */
    const yq_node *dqw = NULL, *qa = NULL, *clip = NULL;
    for (int i = 0; i < q->nnodes; i++) {
        const yq_node *n = &q->nodes[i];
        if (!strcmp(n->op_type, "QuantizeLinear")) qa = n;
        if (!strcmp(n->op_type, "Clip")) clip = n;
        if (!strcmp(n->op_type, "DequantizeLinear") && q->values[n->inputs[0]].producer >= 0 &&
            !strcmp(q->nodes[q->values[n->inputs[0]].producer].op_type, "Clip"))
            dqw = n;
    }
    assert_non_null(dqw);
    assert_non_null(qa);
    assert_non_null(clip);
    const int8_t *codes = q->values[clip->inputs[0]].data;
    const float *ws = q->values[dqw->inputs[1]].data;
    const int8_t *wzp8 = q->values[dqw->inputs[2]].data;
    const float as = *(const float *)q->values[qa->inputs[1]].data;
    const int32_t azp = *(const uint8_t *)q->values[qa->inputs[2]].data;
    const int32_t wlo = *(const int8_t *)q->values[clip->inputs[1]].data, whi = *(const int8_t *)q->values[clip->inputs[2]].data;
    float w0[4 * 27], wscale[4];
    int32_t wzp[4];
    for (int c = 0; c < 4; c++) wscale[c] = ws[c], wzp[c] = wzp8[c];
    for (int i = 0; i < 4 * 27; i++) w0[i] = (float)(codes[i] - wzp[i / 27]) * ws[i / 27];
    const float *bias = values_of(q, "conv.b");

    /* executor */
    float *x = gc_randn(3 * 36, &seed, 1), *r = gc_randn(4 * 36, &seed, 1);
    for (int i = 0; i < 3 * 36; i++) x[i] = fabsf(x[i]) * 0.5f; /* mostly inside the calibrated range */
    x[0] = 5.0f;                                                 /* and one clipped value */
    const float *in[1] = {x}, *dy[1] = {r};
    yq_tg_zero_grad(tg);
    assert_int_equal(yq_tg_forward(tg, in), YQ_OK);
    assert_int_equal(yq_tg_backward(tg, dy), YQ_OK);
    const float *G = yq_tg_grads(tg);

    /* the same by hand with the reference kernels */
    yq_fq_shape fa = {1, 1, 3 * 36, 0, 255}, fw = {1, 4, 27, wlo, whi};
    float xq[3 * 36], wq[4 * 27], y[4 * 36], dxq[3 * 36] = {0}, dwq[4 * 27] = {0}, db[4] = {0};
    float dxa[3 * 36] = {0}, dsa = 0, dwl[4 * 27] = {0}, dsw[4] = {0};
    yq_grad_fakequant_forward(&fa, x, &as, &azp, xq);
    yq_grad_fakequant_forward(&fw, w0, wscale, wzp, wq);
    for (int i = 0; i < 4 * 27; i++) assert_true(wq[i] == w0[i]); /* the start is the PTQ model */
    yq_conv2d_shape cs = {1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    assert_int_equal(yq_conv2d_shape_check(&cs), YQ_OK);
    yq_grad_conv2d_forward(&cs, xq, wq, bias, y);
    const float *ty = yq_tg_output(tg, 0);
    for (int i = 0; i < 4 * 36; i++) assert_true(fabs(ty[i] - y[i]) <= 1e-5 * (1 + fabs(y[i])));
    yq_grad_conv2d_backward(&cs, xq, wq, r, dxq, dwq, db);
    yq_grad_fakequant_backward(&fa, x, &as, &azp, dxq, dxa, &dsa);
    yq_grad_fakequant_backward(&fw, w0, wscale, wzp, dwq, dwl, dsw);
    double m = 0;
    for (int i = 0; i < 4 * 27; i++) m = fmax(m, fabs(dwl[i] * wscale[i / 27]));
    for (int i = 0; i < 4 * 27; i++) {
        const double want = dwl[i] * wscale[i / 27]; /* u is in units of the channel's scale */
        if (fabs(G[r0[YQ_TG_WEIGHT] + i] - want) > 1e-4 * m) fail_msg("du[%d] %g vs %g", i, G[r0[YQ_TG_WEIGHT] + i], want);
    }
    for (int c = 0; c < 4; c++) {
        const double want = dsw[c] * wscale[c] / sqrt(27.0 * whi); /* LSQ on log s, gradient scale 1/sqrt(n·qmax) */
        if (fabs(G[r0[YQ_TG_WSCALE] + c] - want) > 1e-4 * (1e-3 + fabs(want)))
            fail_msg("dlog s_w[%d] %g vs %g", c, G[r0[YQ_TG_WSCALE] + c], want);
        if (fabs(G[r0[YQ_TG_BIAS] + c] - db[c]) > 1e-4 * (1 + fabs(db[c]))) fail_msg("db[%d]", c);
    }
    const double want_a = dsa * as / sqrt(108.0 * 255.0);
    if (fabs(G[r0[YQ_TG_ASCALE]] - want_a) > 1e-4 * (1e-3 + fabs(want_a)))
        fail_msg("dlog s_a %g vs %g", G[r0[YQ_TG_ASCALE]], want_a);
    assert_true(fabs(want_a) > 0 && m > 0);

    /* export of the start parameters = the PTQ model, byte for byte */
    uint8_t *b0, *b1;
    size_t l0, l1;
    assert_int_equal(yq_onnx_serialize(q, &b0, &l0), YQ_OK);
    yq_graph *ex;
    assert_int_equal(yq_graph_clone(q, &ex), YQ_OK);
    assert_int_equal(yq_tg_export(tg, yq_tg_params(tg), ex), YQ_OK);
    assert_int_equal(yq_onnx_serialize(ex, &b1, &l1), YQ_OK);
    assert_int_equal(l0, l1);
    assert_memory_equal(b0, b1, l0);
    free(b0), free(b1);
    /* moved parameters: new codes within the Clip range, new scales */
    float *p = yq_tg_params(tg);
    for (int64_t i = r0[YQ_TG_WEIGHT]; i < r1[YQ_TG_WEIGHT]; i++) p[i] += 20.0f * (float)((i % 3) - 1);
    p[r0[YQ_TG_ASCALE]] = 0.1f;
    assert_int_equal(yq_tg_export(tg, p, ex), YQ_OK);
    const int8_t *nc = (const int8_t *)values_of(ex, q->values[clip->inputs[0]].name);
    int changed = 0;
    for (int i = 0; i < 4 * 27; i++) {
        assert_true(nc[i] >= wlo && nc[i] <= whi);
        changed += nc[i] != codes[i];
    }
    assert_true(changed > 0);
    assert_true(fabs(*values_of(ex, q->values[qa->inputs[1]].name) - as * expf(0.1f)) < 1e-6 * as * 2);
    /* a graph without the initializers is refused */
    yq_graph *other = float_graph();
    assert_int_equal(yq_tg_export(tg, p, other), YQ_ERR_INVALID);
    yq_graph_free(other);
    yq_graph_free(ex);
    free(x), free(r);
    yq_tg_free(tg);
    yq_graph_free(q);
    yq_graph_free(fl);
}

/* ---- fine-tuning end to end ----------------------------------------------------------- */

/* A detector-shaped model: x[1,3,16,16] → conv s2 → SiLU → conv → SiLU →
 * conv 1×1 (4·R + classes = 4·2 + 2 channels) → Reshape [1, 10, 64] = head;
 * weights drawn from `seed`. */
static yq_graph *tiny_detector(uint64_t seed) {
    yq_graph *g = new_graph(3, 16, 16);
    int a = silu(g, "c1", conv(g, "conv1", g->inputs[0], 3, 8, 3, 2, &seed));
    int b = silu(g, "c2", conv(g, "conv2", a, 8, 8, 3, 1, &seed));
    int y = conv(g, "conv3", b, 8, 10, 1, 1, &seed);
    const int64_t shape[3] = {1, 10, 64};
    set_output(g, reshape(g, "head", y, 3, shape));
    return g;
}

static int concat(yq_graph *g, const char *name, int a, int b, int axis) {
    int in[2] = {a, b}, y = add_value(g, name), n;
    assert_int_equal(yq_graph_add_node(g, "Concat", "", name, in, 2, &y, 1, &n), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "axis", axis), YQ_OK);
    return y;
}

/* Two levels like a YOLO head: p3 = SiLU(conv s2 (x)) [1,8,8,8] and p4 =
 * SiLU(conv s2 (p3)) [1,8,4,4]; per level a box branch (1×1, 4·R = 8 channels)
 * and a class branch (3×3 + SiLU, then 1×1 to 2 classes) joined by a Concat,
 * reshaped to [1,10,hw]; the levels concatenated along the anchors = head. */
static yq_graph *two_level_detector(uint64_t seed) {
    yq_graph *g = new_graph(3, 16, 16);
    const int p3 = silu(g, "p3", conv(g, "conv1", g->inputs[0], 3, 8, 3, 2, &seed));
    const int p4 = silu(g, "p4", conv(g, "conv2", p3, 8, 8, 3, 2, &seed));
    const int feats[2] = {p3, p4}, hw[2] = {64, 16};
    int lv[2];
    for (int l = 0; l < 2; l++) {
        char nb[32], nk[32], nc[32], ncat[32], nr[32];
        snprintf(nb, sizeof nb, "box%d", l), snprintf(nk, sizeof nk, "k%d", l), snprintf(nc, sizeof nc, "cls%d", l);
        snprintf(ncat, sizeof ncat, "level%d", l), snprintf(nr, sizeof nr, "level%d.flat", l);
        const int box = conv(g, nb, feats[l], 8, 8, 1, 1, &seed);
        const int cls = conv(g, nc, silu(g, nk, conv(g, nk, feats[l], 8, 8, 3, 1, &seed)), 8, 2, 1, 1, &seed);
        const int64_t shape[3] = {1, 10, hw[l]};
        lv[l] = reshape(g, nr, concat(g, ncat, box, cls, 1), 3, shape);
    }
    set_output(g, concat(g, "head", lv[0], lv[1], 2));
    return g;
}

static yq_status aug_image(void *arg, int index, const yq_ft_aug *aug, int w, int h, float *nchw) {
    (void)arg;
    uint64_t s = 500 + (uint64_t)index;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const int xx = aug->flip ? w - 1 - x : x;
                nchw[(c * h + y) * w + xx] = (float)rng_uniform(&s) * aug->scale;
            }
    return YQ_OK;
}

typedef struct run_out {
    uint8_t *bytes;
    size_t len;
    yq_finetune_result res;
} run_out;

static const char *copy_at_10_src, *copy_at_10_dst;
static void copy_at_10(void *arg, int64_t step, int64_t steps, double loss, double seconds) {
    (void)arg, (void)steps, (void)loss, (void)seconds;
    if (step != 10 || !copy_at_10_src) return;
    unsigned char *d;
    size_t n;
    assert_int_equal(yq_read_file(copy_at_10_src, &d, &n), YQ_OK);
    assert_int_equal(yq_write_file_atomic(copy_at_10_dst, d, n), YQ_OK);
    free(d);
}

static void finetune_run(const yq_graph *student, const yq_graph *teacher, int threads, int64_t steps,
                         const char *ckpt, int resume, run_out *out) {
    yq_finetune_opts o;
    yq_finetune_opts_default(&o);
    o.steps = steps;
    o.batch = 2;
    o.lr = 0.05f;
    o.lr_scale = 0.01f;
    o.lr_act_scale = 0.01f;
    o.lr_bias = 0.003f;
    o.seed = 42;
    o.nthreads = threads;
    o.cut = "head";
    o.reg_max = 2;
    o.ema_decay = 0.9f;
    o.checkpoint = ckpt;
    o.checkpoint_every = ckpt ? 5 : 0;
    o.resume = resume;
    o.progress = copy_at_10;
    yq_graph *ex;
    assert_int_equal(yq_graph_clone(student, &ex), YQ_OK);
    yq_status st = yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &out->res);
    if (st != YQ_OK) fail_msg("finetune: %s", yq_last_error());
    assert_int_equal(yq_onnx_serialize(ex, &out->bytes, &out->len), YQ_OK);
    yq_graph_free(ex);
}

static void test_finetune_end_to_end(void **state) {
    (void)state;
    /* the teacher is another network, so that there is much to learn */
    yq_graph *teacher = tiny_detector(31), *source = tiny_detector(32);
    yq_graph *student = ptq(source, 3 * 256);
    yq_graph_free(source);
    const int64_t steps = 40;
    run_out a = {0}, b = {0}, c = {0};
    finetune_run(student, teacher, 1, steps, NULL, 0, &a);
    assert_int_equal(a.res.nlog, steps);
    assert_int_equal(a.res.weights, 3);
    assert_int_equal(a.res.classes, 2);
    assert_int_equal(a.res.anchors, 64);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) first += a.res.log[i].loss / 5, last += a.res.log[steps - 5 + i].loss / 5;
    print_message("tiny detector QAT: loss %.5f (first 5 steps) -> %.5f (last 5)\n", first, last);
    assert_true(first > 0);
    assert_true(last < 0.5 * first);
    /* same seed, other thread count: the same model */
    finetune_run(student, teacher, 2, steps, NULL, 0, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.bytes, b.bytes, a.len);
    for (int i = 0; i < steps; i++) assert_true(a.res.log[i].loss == b.res.log[i].loss);
    /* the model moved away from the PTQ start */
    uint8_t *s0;
    size_t l0;
    assert_int_equal(yq_onnx_serialize(student, &s0, &l0), YQ_OK);
    assert_true(l0 != a.len || memcmp(s0, a.bytes, l0) != 0);
    free(s0);
    /* interrupted at step 10, resumed: the uninterrupted result */
    char ck[] = "/tmp/yq_test_ft_XXXXXX";
    int fd = mkstemp(ck);
    assert_true(fd >= 0);
    close(fd);
    char ck10[64];
    snprintf(ck10, sizeof ck10, "%s.10", ck);
    unlink(ck);
    copy_at_10_src = ck, copy_at_10_dst = ck10;
    finetune_run(student, teacher, 2, steps, ck, 0, &c);
    copy_at_10_src = NULL;
    assert_memory_equal(a.bytes, c.bytes, a.len);
    free(c.bytes);
    yq_finetune_result_free(&c.res);
    memset(&c, 0, sizeof c);
    unsigned char *d;
    size_t n;
    assert_int_equal(yq_read_file(ck10, &d, &n), YQ_OK);
    assert_int_equal(yq_write_file_atomic(ck, d, n), YQ_OK);
    free(d);
    finetune_run(student, teacher, 1, steps, ck, 1, &c);
    assert_int_equal(c.res.resumed_from, 10);
    assert_int_equal(c.res.nlog, steps);
    assert_int_equal(a.len, c.len);
    assert_memory_equal(a.bytes, c.bytes, a.len);
    /* a checkpoint of other options is refused */
    yq_finetune_opts o;
    yq_finetune_opts_default(&o);
    o.steps = steps + 1, o.cut = "head", o.reg_max = 2, o.checkpoint = ck, o.resume = 1;
    yq_graph *ex;
    yq_finetune_result r = {0};
    assert_int_equal(yq_graph_clone(student, &ex), YQ_OK);
    assert_int_equal(yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &r), YQ_ERR_INVALID);
    /* a cut that is not a head tensor */
    o.checkpoint = NULL, o.resume = 0, o.cut = "c2.silu";
    assert_int_equal(yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &r), YQ_ERR_UNSUPPORTED);
    /* no DFL head to find */
    o.cut = NULL;
    assert_int_equal(yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &r), YQ_ERR_UNSUPPORTED);
    yq_graph_free(ex);
    unlink(ck), unlink(ck10);
    free(a.bytes), free(b.bytes), free(c.bytes);
    yq_finetune_result_free(&a.res);
    yq_finetune_result_free(&b.res);
    yq_finetune_result_free(&c.res);
    yq_graph_free(student);
    yq_graph_free(teacher);
}

typedef struct dl_ctx {
    float *s, *t, *d;
    int64_t C, A;
    int R;
    const yq_finetune_opts *o;
} dl_ctx;

static double dl_loss(void *p) {
    dl_ctx *c = p;
    double lb, lc;
    yq_ft_distill_loss(c->s, c->t, c->C, c->A, c->R, c->o, 1.0f, c->d, &lb, &lc);
    return c->o->box_weight * lb + c->o->cls_weight * lc;
}

/* The loss's gradient by finite differences, for the class modes whose
 * anchor weights depend on the teacher only (FIRING holds the student's
 * score in its weights constant, by design). */
static void test_distill_loss_gradient(void **state) {
    (void)state;
    const int R = 4, nc = 3, A = 12;
    const int64_t C = 4 * R + nc;
    uint64_t seed = 77;
    float *s = gc_randn(C * A, &seed, 2), *t = gc_randn(C * A, &seed, 2), *d = malloc((size_t)(C * A) * sizeof(float));
    float *g = malloc((size_t)(C * A) * sizeof(float));
    for (int a = 0; a < A; a++) /* a few confident teacher anchors, background elsewhere */
        for (int c = 0; c < nc; c++) t[(4 * R + c) * A + a] += a % 4 == 0 && c == a % nc ? 4.0f : -5.0f;
    const yq_ft_cls_anchors modes[2] = {YQ_FT_CLS_ALL, YQ_FT_CLS_LOGIT};
    const float fp[2] = {2.0f, 1.0f};
    for (int m = 0; m < 2; m++) {
        yq_finetune_opts o;
        yq_finetune_opts_default(&o);
        o.cls_anchors = modes[m], o.fp_weight = fp[m], o.box_weight = 1.5f, o.cls_weight = 0.7f;
        dl_ctx c = {s, t, d, C, A, R, &o};
        dl_loss(&c);
        memcpy(g, d, (size_t)(C * A) * sizeof(float));
        gc_check(m == 0 ? "distill loss, all anchors" : "distill loss, logits", s, g, C * A, dl_loss, &c, 0.1, 5 + m);
    }
    free(s), free(t), free(d), free(g);
}

static void test_finetune_features(void **state) {
    (void)state;
    yq_graph *teacher = two_level_detector(41), *source = two_level_detector(42);
    char **names;
    int n;
    assert_int_equal(yq_finetune_find_features(teacher, "head", &names, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "p3.silu");
    assert_string_equal(names[1], "p4.silu");
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    /* not a Concat of levels */
    assert_int_equal(yq_finetune_find_features(teacher, "p4.silu", &names, &n), YQ_ERR_UNSUPPORTED);
    yq_graph *student = ptq(source, 3 * 256);
    yq_graph_free(source);
    uint8_t *bytes[2];
    size_t len[2];
    double first = 0, last = 0;
    for (int t = 0; t < 2; t++) {
        yq_finetune_opts o;
        yq_finetune_opts_default(&o);
        o.steps = 30, o.batch = 2, o.lr = 0.05f, o.lr_bias = 0.003f, o.seed = 7, o.nthreads = 1 + t;
        o.cut = "head", o.reg_max = 2, o.feat_weight = 1.0f, o.ema_decay = 0;
        o.cls_anchors = YQ_FT_CLS_LOGIT, o.fp_weight = 2.0f; /* the other class term, asymmetric */
        yq_graph *ex;
        yq_finetune_result r = {0};
        assert_int_equal(yq_graph_clone(student, &ex), YQ_OK);
        if (yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &r) != YQ_OK) fail_msg("finetune: %s", yq_last_error());
        assert_int_equal(r.nfeatures, 2);
        assert_string_equal(r.features[1], "p4.silu");
        if (t == 0) {
            for (int i = 0; i < 5; i++) first += r.log[i].loss_feat / 5, last += r.log[o.steps - 5 + i].loss_feat / 5;
            print_message("feature term: %.5f (first 5 steps) -> %.5f (last 5)\n", first, last);
        }
        for (int i = 0; i < o.steps; i++) assert_true(r.log[i].loss_feat > 0);
        assert_int_equal(yq_onnx_serialize(ex, &bytes[t], &len[t]), YQ_OK);
        yq_finetune_result_free(&r);
        yq_graph_free(ex);
    }
    assert_true(last < 0.8 * first);
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(bytes[0], bytes[1], len[0]);
    free(bytes[0]), free(bytes[1]);
    yq_graph_free(student);
    yq_graph_free(teacher);
}

typedef struct ml_ctx {
    const float *s, *t;
    float *d;
    int64_t C, A;
    int R;
    const yq_ft_grid *g;
    float cap;
} ml_ctx;

static double ml_loss(void *p) {
    ml_ctx *c = p;
    double l;
    memset(c->d, 0, (size_t)(c->C * c->A) * sizeof(float));
    assert_int_equal(yq_ft_margin_loss(c->s, c->t, c->C, c->A, c->R, c->g, c->cap, 1.0f, c->d, &l, NULL), YQ_OK);
    return l;
}

/* The margin term: the anchor grid, a hand-worked case and finite
 * differences. Grid: 32x32 input, strides 8 and 16 (16 + 4 anchors); every
 * teacher box 32 px square (DFL peak at bin 2 of 4), so the boxes of
 * 4-neighbours at stride 8 overlap at IoU 0.6 and diagonal ones at 0.39. */
static void test_margin_loss(void **state) {
    (void)state;
    yq_ft_grid g;
    assert_int_equal(yq_ft_grid_infer(8400, 640, 640, &g), YQ_OK);
    assert_int_equal(g.levels, 3);
    assert_int_equal(g.stride[2], 32);
    assert_int_equal(g.gw[0], 80);
    assert_int_equal(yq_ft_grid_infer(80, 16, 16, &g), YQ_ERR_UNSUPPORTED);
    assert_int_equal(yq_ft_grid_infer(2100, 320, 320, &g), YQ_OK);
    assert_int_equal(yq_ft_grid_infer(20, 32, 32, &g), YQ_OK);
    assert_int_equal(g.levels, 2);
    const int R = 4, nc = 2, A = 20;
    const int64_t C = 4 * R + nc;
    float *t = malloc((size_t)(C * A) * sizeof(float)), *s = malloc((size_t)(C * A) * sizeof(float));
    float *d = malloc((size_t)(C * A) * sizeof(float)), *gr = malloc((size_t)(C * A) * sizeof(float));
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < R; k++)
            for (int a = 0; a < A; a++) t[(j * R + k) * A + a] = k == 2 ? 8.0f : 0.0f;
    float *t0 = t + 4 * R * A, *t1 = t0 + A;
    for (int a = 0; a < A; a++) t0[a] = t1[a] = -8.0f;
    /* class 0: object at cell (1,1) = anchor 5, its 4-neighbours below it */
    t0[5] = 3.0f, t0[4] = -1.5f, t0[6] = -2.5f, t0[1] = -3.0f, t0[9] = -4.0f;
    /* class 1: object at anchor 14, one neighbour (15) above 0.1 but below it */
    t1[14] = 1.0f, t1[15] = -0.5f;
    ml_ctx c = {s, t, d, C, A, R, &g, 0};
    memcpy(s, t, (size_t)(C * A) * sizeof(float));
    double l;
    int objects;
    memset(d, 0, (size_t)(C * A) * sizeof(float));
    assert_int_equal(yq_ft_margin_loss(s, t, C, A, R, &g, 0, 1.0f, d, &l, &objects), YQ_OK);
    assert_int_equal(objects, 2);
    assert_true(l == 0);
    /* neighbour 4 one logit too high: h = 1 on one pair, normalised by 2 objects */
    s[4 * R * A + 4] += 1.0f;
    assert_true(fabs(ml_loss(&c) - 0.5) < 1e-6);
    assert_true(fabs(d[4 * R * A + 4] - 1.0f) < 1e-6 && fabs(d[4 * R * A + 5] + 1.0f) < 1e-6);
    /* the diagonal neighbour (IoU 0.39) is not a pair; a neighbour below 0.01 is free */
    s[4 * R * A + 4] -= 1.0f;
    s[4 * R * A + 0] = 2.0f;
    s[4 * R * A + 9] = -4.7f; /* teacher margin says <= -7, but below 0.01 */
    assert_true(ml_loss(&c) == 0);
    /* the object falls below its neighbour: h = 2 + 1 on pair (5, 6), and (5, 4), (5, 1), (5, 9) follow */
    s[4 * R * A + 0] = t0[0], s[4 * R * A + 9] = t0[9];
    s[4 * R * A + 5] = 0.0f, s[4 * R * A + 6] = 0.5f;
    /* targets s5 - (t5 - tn): 4: -4.5 -> h 3;  6: -5.5 -> L0, h 0.5 + 4.595;  1: -6 -> L0, h 1.595;  9: L0, h 0.595 */
    const double L0 = -4.59512;
    const double want = (9.0 + pow(0.5 - L0, 2) + pow(-3.0 - L0, 2) + pow(-4.0 - L0, 2)) / 2;
    assert_true(fabs(ml_loss(&c) - want) < 1e-4);
    assert_true(fabs(d[4 * R * A + 5] + 3.0f) < 1e-5); /* only pair (5, 4) reaches the object */
    /* capped form: order only, so the teacher's logits shifted by any amount cost nothing; neighbour 9 (teacher margin 7, capped
     * at 5) at -0.5 against the object at 3: h = -3.5 + 5 = 1.5; the floored form asks 3.5 there */
    memcpy(s, t, (size_t)(C * A) * sizeof(float));
    c.cap = 5.0f;
    for (int64_t i = 4 * R * A; i < C * A; i++) s[i] += 2.0f;
    assert_true(ml_loss(&c) == 0);
    memcpy(s, t, (size_t)(C * A) * sizeof(float));
    s[4 * R * A + 9] = -0.5f;
    assert_true(fabs(ml_loss(&c) - 1.5 * 1.5 / 2) < 1e-5);
    assert_true(fabs(d[4 * R * A + 5] + 1.5f) < 1e-5);
    c.cap = 0;
    assert_true(fabs(ml_loss(&c) - 3.5 * 3.5 / 2) < 1e-5);
    /* finite differences with the student scattered around the teacher */
    uint64_t seed = 91;
    for (int64_t i = 0; i < C * A; i++) s[i] = t[i] + (float)(i >= 4 * R * A ? 1.2 * rng_normal(&seed) : 0);
    const double lr = ml_loss(&c);
    assert_true(lr > 0);
    memcpy(gr, d, (size_t)(C * A) * sizeof(float));
    gc_check("margin loss", s + 4 * R * A, gr + 4 * R * A, nc * A, ml_loss, &c, 0.1, 8);
    c.cap = 4.0f;
    assert_true(ml_loss(&c) > 0);
    memcpy(gr, d, (size_t)(C * A) * sizeof(float));
    gc_check("margin loss, capped", s + 4 * R * A, gr + 4 * R * A, nc * A, ml_loss, &c, 0.1, 9);
    free(t), free(s), free(d), free(gr);

    /* a head that is not on a stride-8/16/32 grid: the finetune run refuses the term */
    yq_graph *teacher = two_level_detector(41), *source = two_level_detector(42);
    yq_graph *student = ptq(source, 3 * 256), *ex;
    yq_graph_free(source);
    yq_finetune_opts o;
    yq_finetune_opts_default(&o);
    o.steps = 2, o.cut = "head", o.reg_max = 2, o.margin_weight = 1.0f, o.nthreads = 1;
    yq_finetune_result r = {0};
    assert_int_equal(yq_graph_clone(student, &ex), YQ_OK);
    assert_int_equal(yq_finetune(student, teacher, 8, aug_image, NULL, &o, ex, &r), YQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(yq_last_error(), "anchor grid"));
    yq_finetune_result_free(&r);
    yq_graph_free(ex), yq_graph_free(student), yq_graph_free(teacher);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_fast),
        cmocka_unit_test(test_train_graph_float),
        cmocka_unit_test(test_train_graph_internal_output),
        cmocka_unit_test(test_train_graph_qcdq_gradients),
        cmocka_unit_test(test_finetune_end_to_end),
        cmocka_unit_test(test_finetune_features),
        cmocka_unit_test(test_distill_loss_gradient),
        cmocka_unit_test(test_margin_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
