/* Integer convolution (rt/kernels/conv_int8.h) and the session's QCDQ
 * rewrite (rt/qconv_pass.h):
 *  - every fast kernel (C GEMM, AVX2 GEMM, depthwise) equals the reference bit
 *    for bit, float and uint8 outputs, 1 and 3 threads;
 *  - the reference equals fake-quant (float conv on dequantized tensors) up to
 *    float summation order: float outputs within 1e-5 relative, requantized
 *    codes differ by at most one step and rarely;
 *  - a small QCDQ graph runs its convs as integer convs by default and as
 *    fake-quant with YQ_ENGINE_FAKEQUANT, with matching results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/pool.h"
#include "ir/graph.h"
#include "rt/kernels/conv_int8.h"
#include "rt/ops.h"
#include "rt/session.h"

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static int rng_int(uint64_t *s, int lo, int hi) { return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1)); }

typedef struct qcase {
    int C, H, W, M, kh, kw, stride, pad, dil, group;
    int zx, bits, silu, out_u8;
} qcase;

/* A random description for a case; arrays malloc'd into the out pointers. */
static yq_qconv_desc make_desc(const qcase *c, uint64_t *seed, int16_t **w, float **ws, float **bias, uint8_t **x) {
    yq_qconv_desc d = {0};
    d.s = (yq_conv2d_shape){.N = 2, .C = c->C, .H = c->H, .W = c->W, .M = c->M, .kh = c->kh, .kw = c->kw,
                            .group = c->group, .stride_h = c->stride, .stride_w = c->stride, .dil_h = c->dil,
                            .dil_w = c->dil, .pad_t = c->pad, .pad_l = c->pad, .pad_b = c->pad, .pad_r = c->pad};
    const int64_t K = c->C / c->group * c->kh * c->kw;
    *w = malloc((size_t)(c->M * K) * sizeof(int16_t));
    *ws = malloc((size_t)c->M * sizeof(float));
    *bias = malloc((size_t)c->M * sizeof(float));
    *x = malloc((size_t)(2 * c->C * c->H * c->W));
    for (int m = 0; m < c->M; m++) {
        /* asymmetric: codes in the signed range minus a per-channel zero point */
        int lo = -(1 << (c->bits - 1)), hi = (1 << (c->bits - 1)) - 1;
        int zp = rng_int(seed, lo / 2, hi / 2);
        for (int64_t k = 0; k < K; k++) (*w)[m * K + k] = (int16_t)(rng_int(seed, lo, hi) - zp);
        (*ws)[m] = (float)(0.001 + 0.02 * (double)(rng_next(seed) >> 11) / 9007199254740992.0);
        (*bias)[m] = (float)((double)rng_int(seed, -1000, 1000) / 500.0);
    }
    for (int64_t i = 0; i < 2 * c->C * c->H * c->W; i++) (*x)[i] = (uint8_t)rng_int(seed, 0, 255);
    d.w = *w;
    d.w_scale = *ws;
    d.bias = *bias;
    d.x_scale = 0.0173f;
    d.x_zp = c->zx;
    d.act = c->silu ? YQ_ACT_SILU : YQ_ACT_NONE;
    d.out_u8 = c->out_u8;
    d.y_scale = 0.031f;
    d.y_zp = 37;
    return d;
}

static const qcase cases[] = {
    /* C  H   W   M  kh kw s pad dil grp zx bits silu u8 */
    {16, 9, 11, 24, 1, 1, 1, 0, 1, 1, 0, 4, 1, 1},     /* 1x1, zero zx */
    {13, 10, 9, 7, 3, 3, 1, 1, 1, 1, 131, 8, 1, 0},    /* 3x3 s1, odd K, M not a multiple of 4 */
    {8, 12, 13, 16, 3, 3, 2, 1, 1, 1, 255, 4, 0, 1},   /* 3x3 s2, padding at the largest zx */
    {6, 7, 7, 9, 3, 3, 1, 2, 2, 1, 17, 8, 1, 1},       /* dilation 2, pad 2 */
    {12, 8, 8, 12, 3, 3, 1, 1, 1, 12, 99, 8, 1, 1},    /* depthwise s1 */
    {10, 9, 10, 10, 5, 5, 2, 2, 1, 10, 200, 4, 1, 0},  /* depthwise 5x5 s2 */
    {8, 6, 6, 12, 3, 3, 1, 1, 1, 4, 64, 8, 0, 0},      /* grouped (2 in, 3 out per group) */
    {64, 5, 5, 33, 3, 3, 1, 1, 1, 1, 128, 8, 1, 1},    /* larger K, 8-bit extremes */
    {3, 40, 40, 16, 3, 3, 2, 1, 1, 1, 0, 8, 1, 1},     /* stem-like, many pixel blocks */
    {8, 5, 37, 12, 3, 3, 1, 1, 1, 1, 77, 4, 1, 1},     /* rows wider than 16 (vector gather), s1 */
    {5, 6, 41, 8, 1, 1, 2, 0, 1, 1, 250, 8, 0, 0},     /* 1x1 s2 wide rows */
    {16, 4, 35, 16, 3, 3, 1, 1, 1, 16, 3, 4, 1, 0},    /* depthwise wide rows */
    {24, 7, 19, 20, 3, 3, 2, 1, 1, 1, 201, 6, 1, 1},   /* |w'| <= 47: u8 kernel, one quad per int16 sum */
};

static size_t out_bytes(const yq_qconv_desc *d) {
    const int64_t n = d->s.N * d->s.M * d->s.OH * d->s.OW;
    return (size_t)n * (d->out_u8 ? 1 : sizeof(float));
}

static void test_fast_matches_reference(void **state) {
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    yq_pool *pool3;
    assert_int_equal(yq_pool_new(3, &pool3), YQ_OK);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int16_t *w;
        float *ws, *b;
        uint8_t *x;
        yq_qconv_desc d = make_desc(&cases[ci], &seed, &w, &ws, &b, &x);
        assert_int_equal(yq_conv2d_shape_check(&d.s), YQ_OK);
        const size_t nb = out_bytes(&d);
        unsigned char *ref = malloc(nb), *got = malloc(nb);
        assert_int_equal(yq_qconv_ref(&d, x, ref), YQ_OK);
        const int dw = d.s.group == d.s.C && d.s.group == d.s.M;
        const int kernels[] = {YQ_QCONV_GEMM_C, YQ_QCONV_GEMM_AVX2, YQ_QCONV_GEMM_AVX2_U8, YQ_QCONV_DEPTHWISE,
                               YQ_QCONV_AUTO};
        int ran = 0;
        for (size_t k = 0; k < 5; k++) {
            if ((kernels[k] == YQ_QCONV_GEMM_AVX2 || kernels[k] == YQ_QCONV_GEMM_AVX2_U8) && !yq_qconv_have_avx2())
                continue;
            if (kernels[k] == YQ_QCONV_GEMM_AVX2_U8 && cases[ci].bits > 6) continue;
            if (kernels[k] == YQ_QCONV_DEPTHWISE && !dw) continue;
            for (int threads = 1; threads <= 3; threads += 2) {
                yq_qconv_plan *p;
                assert_int_equal(yq_qconv_plan_new(&d, threads, kernels[k], &p), YQ_OK);
                memset(got, 0xA5, nb);
                assert_int_equal(yq_qconv_run(p, threads == 1 ? NULL : pool3, x, got, NULL), YQ_OK);
                if (memcmp(ref, got, nb) != 0)
                    fail_msg("case %zu kernel %s threads %d differs from the reference", ci,
                             yq_qconv_kernel_name(yq_qconv_plan_kernel(p)), threads);
                yq_qconv_plan_free(p);
                ran++;
            }
        }
        assert_true(ran >= 4);
        free(ref), free(got), free(w), free(ws), free(b), free(x);
    }
    yq_pool_free(pool3);
}

/* Forced kernels that cannot run, and descriptions outside the exact range. */
static void test_rejects(void **state) {
    (void)state;
    uint64_t seed = 7;
    int16_t *w;
    float *ws, *b;
    uint8_t *x;
    yq_qconv_desc d = make_desc(&cases[1], &seed, &w, &ws, &b, &x);
    yq_qconv_plan *p = NULL;
    assert_int_equal(yq_qconv_plan_new(&d, 1, YQ_QCONV_DEPTHWISE, &p), YQ_ERR_UNSUPPORTED);
    /* 8-bit weights reach |w'| > 64: the u8 kernel would saturate int16 */
    if (yq_qconv_have_avx2()) assert_int_equal(yq_qconv_plan_new(&d, 1, YQ_QCONV_GEMM_AVX2_U8, &p), YQ_ERR_UNSUPPORTED);
    w[5] = 256;
    assert_int_equal(yq_qconv_plan_new(&d, 1, YQ_QCONV_AUTO, &p), YQ_ERR_INVALID);
    w[5] = 0;
    d.x_zp = 256;
    assert_int_equal(yq_qconv_plan_new(&d, 1, YQ_QCONV_AUTO, &p), YQ_ERR_INVALID);
    assert_null(p);
    free(w), free(ws), free(b), free(x);
}

/* ONNX QuantizeLinear to uint8 (round half to even, saturate). */
static int quantize_u8(float v, float scale, int zp) {
    float q = nearbyintf(v / scale) + (float)zp;
    return q < 0 ? 0 : q > 255 ? 255 : (int)q;
}

static void test_reference_matches_fake_quant(void **state) {
    (void)state;
    uint64_t seed = 12345;
    int64_t flips = 0, codes = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int16_t *w;
        float *ws, *b;
        uint8_t *x;
        yq_qconv_desc d = make_desc(&cases[ci], &seed, &w, &ws, &b, &x);
        assert_int_equal(yq_conv2d_shape_check(&d.s), YQ_OK);
        const int64_t K = d.s.C / d.s.group * d.s.kh * d.s.kw, nx = d.s.N * d.s.C * d.s.H * d.s.W;
        const int64_t ny = d.s.N * d.s.M * d.s.OH * d.s.OW;
        float *xf = malloc((size_t)nx * sizeof(float)), *wf = malloc((size_t)(d.s.M * K) * sizeof(float));
        float *yf = malloc((size_t)ny * sizeof(float));
        for (int64_t i = 0; i < nx; i++) xf[i] = (float)(x[i] - d.x_zp) * d.x_scale;
        for (int64_t i = 0; i < d.s.M * K; i++) wf[i] = (float)w[i] * ws[i / K];
        yq_conv2d_ref(&d.s, xf, wf, b, d.act, yf);
        void *yi = malloc(out_bytes(&d));
        assert_int_equal(yq_qconv_ref(&d, x, yi), YQ_OK);
        float maxabs = 0;
        for (int64_t i = 0; i < ny; i++) maxabs = fmaxf(maxabs, fabsf(yf[i]));
        for (int64_t i = 0; i < ny; i++) {
            if (!d.out_u8) {
                float diff = fabsf(((float *)yi)[i] - yf[i]);
                if (diff > 1e-5f * maxabs + 1e-6f) fail_msg("case %zu element %lld: %g vs %g", ci, (long long)i,
                                                           ((float *)yi)[i], yf[i]);
            } else {
                int a = ((uint8_t *)yi)[i], r = quantize_u8(yf[i], d.y_scale, d.y_zp);
                assert_true(abs(a - r) <= 1);
                flips += a != r;
                codes++;
            }
        }
        free(xf), free(wf), free(yf), free(yi), free(w), free(ws), free(b), free(x);
    }
    /* summation order changes a code only when the value sits on a rounding tie */
    assert_true(codes > 10000);
    assert_true(flips * 1000 <= codes);
}

/* ---- a QCDQ graph through the session ------------------------------------------ */

static int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}
static int add_init(yq_graph *g, const char *name, yq_dtype dt, int rank, const int64_t *dims, const void *data) {
    int id;
    assert_int_equal(yq_graph_add_initializer(g, name, dt, rank, dims, data, &id), YQ_OK);
    return id;
}
static int add_node(yq_graph *g, const char *op, const char *name, const int *in, int nin, int out) {
    int n;
    assert_int_equal(yq_graph_add_node(g, op, "", name, in, nin, &out, 1, &n), YQ_OK);
    return n;
}

/* Q(u8) → DQ of value x, returns the DQ output. qout: the Q's output. */
static int qdq(yq_graph *g, const char *name, int x, float scale, uint8_t zp, int *qout) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s_s", name);
    int s = add_init(g, nm, YQ_DT_FLOAT, 0, NULL, &scale);
    snprintf(nm, sizeof nm, "%s_z", name);
    int z = add_init(g, nm, YQ_DT_UINT8, 0, NULL, &zp);
    snprintf(nm, sizeof nm, "%s_q", name);
    int q = add_value(g, nm);
    add_node(g, "QuantizeLinear", nm, (int[]){x, s, z}, 3, q);
    snprintf(nm, sizeof nm, "%s_dq", name);
    int dq = add_value(g, nm);
    add_node(g, "DequantizeLinear", nm, (int[]){q, s, z}, 3, dq);
    if (qout) *qout = q;
    return dq;
}

/* Conv with W = DQ([Clip](int8 codes), per-channel scale, zp), bias; SiLU as
 * Sigmoid + Mul when silu. */
static int qconv(yq_graph *g, const char *name, int x, int M, int Cg, int k, int stride, int group, int bits, int silu,
                 uint64_t *seed) {
    const int64_t K = (int64_t)Cg * k * k, wd[4] = {M, Cg, k, k}, md = M;
    int8_t *codes = malloc((size_t)(M * K)), *zp = malloc((size_t)M);
    float *sc = malloc((size_t)M * sizeof(float)), *b = malloc((size_t)M * sizeof(float));
    for (int m = 0; m < M; m++) {
        zp[m] = (int8_t)(bits == 4 ? rng_int(seed, -3, 3) : 0);
        sc[m] = (float)(0.002 + 0.01 * (double)rng_int(seed, 0, 1000) / 1000.0) * (bits == 4 ? 16.0f : 1.0f);
        b[m] = (float)rng_int(seed, -100, 100) / 200.0f;
        for (int64_t i = 0; i < K; i++) codes[m * K + i] = (int8_t)rng_int(seed, -128, 127);
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%s_wq", name);
    int wq = add_init(g, nm, YQ_DT_INT8, 4, wd, codes);
    if (bits == 4) {
        int8_t lo = -8, hi = 7;
        snprintf(nm, sizeof nm, "%s_lo", name);
        int l = add_init(g, nm, YQ_DT_INT8, 0, NULL, &lo);
        snprintf(nm, sizeof nm, "%s_hi", name);
        int h = add_init(g, nm, YQ_DT_INT8, 0, NULL, &hi);
        snprintf(nm, sizeof nm, "%s_clip", name);
        int c = add_value(g, nm);
        add_node(g, "Clip", nm, (int[]){wq, l, h}, 3, c);
        wq = c;
    }
    snprintf(nm, sizeof nm, "%s_ws", name);
    int ws = add_init(g, nm, YQ_DT_FLOAT, 1, &md, sc);
    snprintf(nm, sizeof nm, "%s_wz", name);
    int wz = add_init(g, nm, YQ_DT_INT8, 1, &md, zp);
    snprintf(nm, sizeof nm, "%s_w", name);
    int w = add_value(g, nm);
    int n = add_node(g, "DequantizeLinear", nm, (int[]){wq, ws, wz}, 3, w);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "axis", 0), YQ_OK);
    snprintf(nm, sizeof nm, "%s_b", name);
    int bv = add_init(g, nm, YQ_DT_FLOAT, 1, &md, b);
    snprintf(nm, sizeof nm, "%s_y", name);
    int y = add_value(g, nm);
    n = add_node(g, "Conv", name, (int[]){x, w, bv}, 3, y);
    const int64_t p = k / 2, pads[4] = {p, p, p, p}, st[2] = {stride, stride};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "strides", st, 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[n], "group", group), YQ_OK);
    free(codes), free(zp), free(sc), free(b);
    if (!silu) return y;
    snprintf(nm, sizeof nm, "%s_sig", name);
    int s = add_value(g, nm);
    add_node(g, "Sigmoid", nm, &y, 1, s);
    snprintf(nm, sizeof nm, "%s_silu", name);
    int o = add_value(g, nm);
    add_node(g, "Mul", nm, (int[]){y, s}, 2, o);
    return o;
}

/* A new opset-13 graph whose only input "images" is float [1, 6, H, W]; returns it. */
static int new_graph_with_images(yq_graph **gp, int64_t H, int64_t W) {
    assert_int_equal(yq_graph_new(gp), YQ_OK);
    yq_graph *g = *gp;
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    int x = add_value(g, "images");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].flags |= YQ_VAL_INPUT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, 6, H, W};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    return x;
}

/* Mark values outs[0..n) as the graph's outputs, in that order. */
static void set_graph_outputs(yq_graph *g, const int *outs, int n) {
    for (int k = 0; k < n; k++) g->values[outs[k]].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc((size_t)n * sizeof(int));
    memcpy(g->outputs, outs, (size_t)n * sizeof(int));
    g->noutputs = n;
}

/* images → QDQ → conv1 (4-bit, 3x3 s2, SiLU) → QDQ (codes q1 are a graph
 * output) → conv2 (depthwise 3x3, SiLU) → QDQ → conv3 (8-bit 1x1) → out;
 * conv4 (8-bit 3x3) also reads q1's DQ and its SiLU output feeds both a Q and
 * an Add, so it must keep a float output. */
static yq_graph *build_graph(int *nconv) {
    yq_graph *g;
    uint64_t seed = 99;
    int x = new_graph_with_images(&g, 20, 18);
    int q1, q3;
    int a = qdq(g, "in", x, 1.0f / 255, 0, NULL);
    int c1 = qconv(g, "conv1", a, 16, 6, 3, 2, 1, 4, 1, &seed);
    int d1 = qdq(g, "a1", c1, 0.02f, 40, &q1);
    int c2 = qconv(g, "conv2", d1, 16, 1, 3, 1, 16, 8, 1, &seed);
    int d2 = qdq(g, "a2", c2, 0.015f, 30, NULL);
    int c3 = qconv(g, "conv3", d2, 8, 16, 1, 1, 1, 8, 0, &seed);
    int c4 = qconv(g, "conv4", d1, 8, 16, 3, 1, 1, 8, 1, &seed);
    int d4 = qdq(g, "a4", c4, 0.03f, 10, &q3);
    int sum = add_value(g, "sum");
    add_node(g, "Add", "add", (int[]){c4, d4}, 2, sum);
    int outs[3] = {c3, q1, sum};
    set_graph_outputs(g, outs, 3);
    (void)q3;
    *nconv = 4;
    return g;
}

/* Run s on one input; malloc'd copies of its first n outputs and their element counts. */
static void run_copy_outputs(yq_session *s, const yq_tensor *in, int n, void **outs, int64_t *counts) {
    assert_int_equal(yq_session_run(s, in, 1), YQ_OK);
    for (int k = 0; k < n; k++) {
        const yq_tensor *o = yq_session_output(s, k);
        counts[k] = yq_tensor_numel(o);
        const size_t nb = (size_t)counts[k] * yq_dtype_size(o->dtype);
        outs[k] = malloc(nb);
        memcpy(outs[k], o->data, nb);
    }
}

static void test_session_integer_vs_fake_quant(void **state) {
    (void)state;
    const int64_t nx = 6 * 20 * 18;
    float *x = malloc((size_t)nx * sizeof(float));
    uint64_t seed = 5;
    for (int64_t i = 0; i < nx; i++) x[i] = (float)rng_int(&seed, 0, 1000) / 1000.0f;
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 6, 20, 18}, .data = x};
    void *outs[2][3] = {{0}};
    int64_t counts[3] = {0};
    for (int engine = 0; engine <= 1; engine++) {
        int nconv;
        yq_graph *g = build_graph(&nconv);
        yq_session *s;
        yq_session_opts so = {.nthreads = 2, .engine = engine ? YQ_ENGINE_FAKEQUANT : YQ_ENGINE_AUTO};
        yq_status st = yq_session_new(g, &so, &s);
        if (st != YQ_OK) fail_msg("session: %s", yq_last_error());
        yq_conv_engines e = yq_session_conv_engines(s);
        if (engine == 0) {
            assert_int_equal(e.integer, nconv);
            assert_int_equal(e.fakequant, 0);
            /* conv1/conv2 write their Q's codes (Q gone), conv4's SiLU output
             * is also read by the Add: its Q stays; only a4's DQ is still read */
            const yq_graph *sg = yq_session_graph(s);
            int nq = 0, ndq = 0;
            for (int i = 0; i < sg->nnodes; i++) {
                if (sg->nodes[i].dead) continue;
                nq += !strcmp(sg->nodes[i].op_type, "QuantizeLinear");
                ndq += !strcmp(sg->nodes[i].op_type, "DequantizeLinear");
            }
            assert_int_equal(nq, 2);
            assert_int_equal(ndq, 1);
        } else {
            assert_int_equal(e.integer, 0);
            assert_int_equal(e.fakequant, nconv);
        }
        run_copy_outputs(s, &in, 3, outs[engine], counts);
        yq_session_free(s);
    }
    /* q1 (uint8 codes of conv1's requantized output): at most one step apart, rarely */
    int64_t flips = 0;
    for (int64_t i = 0; i < counts[1]; i++) {
        int a = ((uint8_t *)outs[0][1])[i], b = ((uint8_t *)outs[1][1])[i];
        assert_true(abs(a - b) <= 1);
        flips += a != b;
    }
    assert_true(flips * 100 <= counts[1]);
    /* float outputs: equal where no upstream code flipped; a flip moves a
     * value by at most a few quantization steps of what it reads */
    for (int k = 0; k < 3; k += 2) {
        float maxabs = 0, maxdiff = 0;
        int64_t differ = 0;
        for (int64_t i = 0; i < counts[k]; i++) {
            float a = ((float *)outs[0][k])[i], b = ((float *)outs[1][k])[i];
            maxabs = fmaxf(maxabs, fabsf(b));
            maxdiff = fmaxf(maxdiff, fabsf(a - b));
            differ += fabsf(a - b) > 1e-4f * fabsf(b) + 1e-5f;
        }
        assert_true(maxabs > 0.1f);
        assert_true(maxdiff <= 0.05f * maxabs);
        assert_true(differ * 10 <= counts[k]);
    }
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 3; k++) free(outs[e][k]);
    free(x);
}

/* Weight-only (A16): float images → conv1 (4-bit 3x3 s2, im2col) → conv2
 * (depthwise) → conv3 (8-bit 1x1) and conv4 (8-bit 3x3 s1 on 20x18: Winograd)
 * and conv5 (1x1, group 2). With the auto engine every conv becomes QWConv,
 * no float weight stays in the session's graph, and the outputs equal the
 * fake-quant session's (the same GEMMs on the same dequantized values; only
 * AVX-512's direct path, which fake-quant may take, sums in another order). */
static yq_graph *build_weight_only_graph(void) {
    yq_graph *g;
    uint64_t seed = 7;
    int x = new_graph_with_images(&g, 40, 36);
    int c1 = qconv(g, "conv1", x, 16, 6, 3, 2, 1, 4, 1, &seed);
    int c2 = qconv(g, "conv2", c1, 16, 1, 3, 1, 16, 8, 1, &seed);
    int c3 = qconv(g, "conv3", c2, 8, 16, 1, 1, 1, 8, 0, &seed);
    int c4 = qconv(g, "conv4", c1, 8, 16, 3, 1, 1, 8, 1, &seed);
    int c5 = qconv(g, "conv5", c2, 8, 8, 1, 1, 2, 4, 0, &seed);
    int outs[3] = {c3, c4, c5};
    set_graph_outputs(g, outs, 3);
    return g;
}

static void test_session_weight_only(void **state) {
    (void)state;
    const int64_t nx = 6 * 40 * 36;
    float *x = malloc((size_t)nx * sizeof(float));
    uint64_t seed = 11;
    for (int64_t i = 0; i < nx; i++) x[i] = (float)rng_int(&seed, -1000, 1000) / 500.0f;
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 6, 40, 36}, .data = x};
    float *outs[2][3] = {{0}};
    int64_t counts[3] = {0};
    for (int engine = 0; engine <= 1; engine++) {
        yq_graph *g = build_weight_only_graph();
        yq_session *s;
        yq_session_opts so = {.nthreads = 2, .engine = engine ? YQ_ENGINE_FAKEQUANT : YQ_ENGINE_AUTO};
        if (yq_session_new(g, &so, &s) != YQ_OK) fail_msg("session: %s", yq_last_error());
        const yq_conv_engines e = yq_session_conv_engines(s);
        const yq_graph *sg = yq_session_graph(s);
        int float_weights = 0;
        for (int v = 0; v < sg->nvalues; v++)
            float_weights += sg->values[v].data && sg->values[v].dtype == YQ_DT_FLOAT && sg->values[v].rank == 4;
        if (engine == 0) {
            assert_int_equal(e.weight_only, 5);
            assert_int_equal(e.integer + e.fakequant + e.floating, 0);
            assert_int_equal(float_weights, 0);
            char *text = NULL;
            size_t len = 0;
            FILE *fp = open_memstream(&text, &len);
            yq_session_print_engines(s, fp);
            fclose(fp);
            print_message("%s", text);
            assert_non_null(strstr(text, "'conv1' (QWConv): weight-only (int8 codes, im2col"));
            assert_non_null(strstr(text, "'conv3' (QWConv): weight-only (int8 codes, gemm1x1"));
            assert_non_null(strstr(text, "'conv4' (QWConv): weight-only (winograd on float weights"));
            assert_non_null(strstr(text, "'conv2' (QWConv): weight-only (depthwise on float weights"));
            assert_non_null(strstr(text, "5 weight-only"));
            free(text);
        } else {
            assert_int_equal(e.weight_only, 0);
            assert_int_equal(e.fakequant, 5);
            assert_int_equal(float_weights, 5);
        }
        run_copy_outputs(s, &in, 3, (void **)outs[engine], counts);
        yq_session_free(s);
    }
    for (int k = 0; k < 3; k++) {
        float maxabs = 0, maxdiff = 0;
        for (int64_t i = 0; i < counts[k]; i++) {
            maxabs = fmaxf(maxabs, fabsf(outs[1][k][i]));
            maxdiff = fmaxf(maxdiff, fabsf(outs[0][k][i] - outs[1][k][i]));
        }
        print_message("output %d: max |weight-only - fake-quant| %g of %g\n", k, maxdiff, maxabs);
        assert_true(maxabs > 0.1f);
        assert_true(maxdiff <= 1e-5f * maxabs);
        free(outs[0][k]);
        free(outs[1][k]);
    }
    free(x);
}

/* An internal op name is not reachable from a file's default domain. */
static void test_internal_op_domain(void **state) {
    (void)state;
    assert_int_equal(yq_op_lookup("", "QConvU8"), -1);
    assert_int_equal(yq_op_lookup(YQ_RT_DOMAIN, "QConvU8"), YQ_OP_QConvU8);
    assert_int_equal(yq_op_lookup("", "QWConv"), -1);
    assert_int_equal(yq_op_lookup(YQ_RT_DOMAIN, "QWConv"), YQ_OP_QWConv);
    assert_int_equal(yq_op_lookup(YQ_RT_DOMAIN, "Conv"), -1);
    assert_int_equal(yq_engine_parse("fakequant"), YQ_ENGINE_FAKEQUANT);
    assert_int_equal(yq_engine_parse("auto"), YQ_ENGINE_AUTO);
    assert_int_equal(yq_engine_parse("int8"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_matches_reference),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_reference_matches_fake_quant),
        cmocka_unit_test(test_session_integer_vs_fake_quant),
        cmocka_unit_test(test_session_weight_only),
        cmocka_unit_test(test_internal_op_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
