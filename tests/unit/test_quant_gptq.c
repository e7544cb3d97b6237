/* quant/gptq: Cholesky helpers, GPTQ against round-to-nearest, H = I
 * equivalence, dead inputs, damping retries, determinism, Hessian
 * accumulation, im2col rows of (grouped, strided, padded, dilated) convs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/gptq.h"


static void test_inverse_cholesky(void **state) {
    (void)state;
    enum { N = 37 };
    double *B = malloc(N * N * sizeof *B), *A = malloc(N * N * sizeof *A), *U = malloc(N * N * sizeof *U),
           *work = malloc(N * N * sizeof *work);
    uint64_t seed = 3;
    for (int i = 0; i < N * N; i++) B[i] = rng_normal(&seed);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = i == j ? 0.5 : 0.0;
            for (int k = 0; k < N; k++) s += B[i * N + k] * B[j * N + k];
            A[i * N + j] = s;
        }
    assert_int_equal(yq_inverse_cholesky_upper(A, N, U, work), 0);
    /* U upper with a positive diagonal, and Uᵀ U A = I. */
    double max_err = 0;
    for (int i = 0; i < N; i++) {
        assert_true(U[i * N + i] > 0);
        for (int j = 0; j < i; j++) assert_true(U[i * N + j] == 0.0);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) {
                double hinv_ik = 0;
                for (int t = 0; t < N; t++) hinv_ik += U[t * N + i] * U[t * N + k];
                s += hinv_ik * A[k * N + j];
            }
            max_err = fmax(max_err, fabs(s - (i == j)));
        }
    print_message("max |Uᵀ U A - I| = %.3g\n", max_err);
    assert_true(max_err < 1e-8);
    /* Indefinite and singular matrices are refused. */
    double bad[4] = {1, 2, 2, 1};
    assert_int_equal(yq_inverse_cholesky_upper(bad, 2, U, work), -1);
    double c[4] = {4, 2, 2, 3};
    assert_int_equal(yq_cholesky_lower(c, 2), 0);
    assert_float_equal(c[0], 2.0, 1e-15);
    assert_float_equal(c[2], 1.0, 1e-15);
    assert_float_equal(c[3], sqrt(2.0), 1e-15);
    free(B);
    free(A);
    free(U);
    free(work);
}

/* Correlated calibration inputs: a few shared factors plus noise, with
 * per-feature gains spread over 0.1..3 (some inputs matter much more). */
static float *make_inputs(int n, int K, uint64_t seed) {
    enum { F = 6 };
    float *X = malloc((size_t)n * K * sizeof *X);
    double mix[F][256], gain[256];
    for (int f = 0; f < F; f++)
        for (int k = 0; k < K; k++) mix[f][k] = rng_normal(&seed);
    for (int k = 0; k < K; k++) gain[k] = 0.1 + 2.9 * rng_uniform(&seed);
    for (int i = 0; i < n; i++) {
        double z[F];
        for (int f = 0; f < F; f++) z[f] = rng_normal(&seed);
        for (int k = 0; k < K; k++) {
            double v = 1.0 * rng_normal(&seed); /* as strong as one factor: H is far from low rank */
            for (int f = 0; f < F; f++) v += z[f] * mix[f][k];
            X[(size_t)i * K + k] = (float)(gain[k] * v);
        }
    }
    return X;
}

/* ||X Wᵀ - X Ŵᵀ||² over the calibration rows. */
static double output_error(const float *X, int n, int K, const float *W, const float *Wq, int rows) {
    double e = 0;
    for (int i = 0; i < n; i++)
        for (int r = 0; r < rows; r++) {
            double d = 0;
            for (int k = 0; k < K; k++) d += (double)X[(size_t)i * K + k] * ((double)W[r * K + k] - Wq[r * K + k]);
            e += d * d;
        }
    return e;
}

static void test_gptq_beats_rtn(void **state) {
    (void)state;
    enum { N = 768, K = 96, R = 24 };
    float *X = make_inputs(N, K, 11);
    float W[R * K];
    uint64_t seed = 5;
    for (int i = 0; i < R * K; i++) W[i] = (float)(0.05 * rng_normal(&seed));
    double *H = calloc(K * K, sizeof *H);
    yq_hessian_accumulate(H, X, N / 2, K); /* two batches */
    yq_hessian_accumulate(H, X + (N / 2) * K, N - N / 2, K);
    yq_hessian_finalize(H, K, N);

    yq_gptq_opts o;
    yq_gptq_opts_default(&o, 4);
    yq_qparams qp;
    assert_int_equal(yq_weight_qparams(W, R, K, 1, 0, &o.format, &o.scale, &qp), YQ_OK);
    int8_t qrtn[R * K];
    float dqrtn[R * K];
    assert_int_equal(yq_quantize_matrix(W, R, K, &qp, qrtn, dqrtn), YQ_OK);
    double e_rtn = output_error(X, N, K, W, dqrtn, R);
    for (int act_order = 0; act_order <= 1; act_order++) {
        o.act_order = act_order;
        o.block_size = 32; /* several blocks: exercises the lazy updates */
        yq_gptq_result res;
        assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, &qp, &res), YQ_OK);
        double e_gptq = output_error(X, N, K, W, res.dq, R);
        print_message("4-bit, act_order=%d: ||XWᵀ - XŴᵀ||² GPTQ %.4g vs RTN %.4g (ratio %.3f), damp retries %d\n",
                      act_order, e_gptq, e_rtn, e_gptq / e_rtn, res.damp_retries);
        assert_true(e_gptq < 0.8 * e_rtn);
        assert_int_equal(res.damp_retries, 0);
        assert_int_equal(res.dead_columns, 0);
        for (int i = 0; i < R * K; i++) {
            assert_true(res.q[i] >= -8 && res.q[i] <= 7);
            assert_true(res.dq[i] == yq_dequantize_value(res.q[i], qp.scale[i / K], 0));
        }
        /* Block size changes only the order of floating-point updates. */
        yq_gptq_result res2;
        o.block_size = 128;
        assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, &qp, &res2), YQ_OK);
        int diff = 0;
        for (int i = 0; i < R * K; i++) diff += res.q[i] != res2.q[i];
        assert_true(diff <= R * K / 100);
        yq_gptq_result_free(&res2);
        yq_gptq_result_free(&res);
    }
    /* Scales chosen inside (MSE search) also work and beat RTN on the same grid. */
    o.act_order = 1;
    o.scale.method = YQ_SCALE_MSE;
    yq_gptq_result rm;
    assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &rm), YQ_OK);
    float dqm[R * K];
    assert_int_equal(yq_quantize_matrix(W, R, K, &rm.qp, NULL, dqm), YQ_OK);
    assert_true(output_error(X, N, K, W, rm.dq, R) < 0.8 * output_error(X, N, K, W, dqm, R));
    yq_gptq_result_free(&rm);
    /* Group-wise (dynamic groups; and static groups with act-order). */
    for (int act_order = 0; act_order <= 1; act_order++) {
        o.scale.method = YQ_SCALE_MAX;
        o.act_order = act_order;
        o.group_size = 32;
        o.block_size = 40; /* not a multiple of the group: rounded to whole groups */
        yq_gptq_result rg;
        assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &rg), YQ_OK);
        assert_int_equal(rg.qp.axis, 1);
        assert_int_equal(rg.qp.block_size, 32);
        assert_int_equal(rg.qp.nch, R * 3);
        yq_qparams gq;
        assert_int_equal(yq_weight_qparams(W, R, K, 1, 32, &o.format, &o.scale, &gq), YQ_OK);
        float dqg[R * K];
        assert_int_equal(yq_quantize_matrix(W, R, K, &gq, NULL, dqg), YQ_OK);
        double eg = output_error(X, N, K, W, rg.dq, R), er = output_error(X, N, K, W, dqg, R);
        print_message("4-bit g32 act_order=%d: GPTQ %.4g vs RTN %.4g\n", act_order, eg, er);
        assert_true(eg < 0.8 * er);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < K; c++) {
                int64_t k = yq_qparams_index(&rg.qp, K, r, c);
                assert_true(rg.dq[r * K + c] == yq_dequantize_value(rg.q[r * K + c], rg.qp.scale[k], 0));
            }
        if (act_order) /* static groups: chosen from the original weights */
            for (int i = 0; i < R * 3; i++) assert_true(rg.qp.scale[i] == gq.scale[i]);
        yq_qparams_free(&gq);
        yq_gptq_result_free(&rg);
    }
    yq_qparams_free(&qp);
    free(H);
    free(X);
}

static void test_identity_hessian_is_rtn(void **state) {
    (void)state;
    enum { K = 50, R = 7 };
    float W[R * K];
    uint64_t seed = 9;
    for (int i = 0; i < R * K; i++) W[i] = (float)rng_normal(&seed);
    double H[K * K];
    memset(H, 0, sizeof H);
    for (int i = 0; i < K; i++) H[i * K + i] = 1.0;
    for (int bits = 4; bits <= 8; bits += 4)
        for (int act_order = 0; act_order <= 1; act_order++)
            for (int group = 0; group <= 16; group += 16) {
                yq_gptq_opts o;
                yq_gptq_opts_default(&o, bits);
                o.act_order = act_order;
                o.block_size = 16;
                o.group_size = group;
                yq_gptq_result res;
                assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &res), YQ_OK);
                yq_qparams qp;
                assert_int_equal(yq_weight_qparams(W, R, K, 1, group, &o.format, &o.scale, &qp), YQ_OK);
                int8_t q[R * K];
                float dq[R * K];
                assert_int_equal(yq_quantize_matrix(W, R, K, &qp, q, dq), YQ_OK);
                assert_memory_equal(res.q, q, sizeof q);
                assert_memory_equal(res.dq, dq, sizeof dq);
                assert_memory_equal(res.qp.scale, qp.scale, (size_t)qp.nch * sizeof(float));
                yq_qparams_free(&qp);
                yq_gptq_result_free(&res);
            }
}

static void test_dead_inputs_and_determinism(void **state) {
    (void)state;
    enum { N = 300, K = 40, R = 9 };
    float *X = make_inputs(N, K, 21);
    const int dead[3] = {0, 17, 39};
    for (int i = 0; i < N; i++)
        for (int d = 0; d < 3; d++) X[i * K + dead[d]] = 0.0f;
    float W[R * K];
    uint64_t seed = 4;
    for (int i = 0; i < R * K; i++) W[i] = (float)rng_normal(&seed);
    for (int r = 0; r < R; r++) W[r * K + 17] = 100.0f; /* huge weights on a dead input: must not set the scale */
    double *H = calloc(K * K, sizeof *H);
    yq_hessian_accumulate(H, X, N, K);
    yq_hessian_finalize(H, K, N);
    yq_gptq_opts o;
    yq_gptq_opts_default(&o, 4);
    o.format.symmetric = 0; /* asymmetric: dead weights must still dequantize to exactly 0 */
    yq_gptq_result a, b;
    assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &a), YQ_OK);
    assert_int_equal(a.dead_columns, 3);
    for (int r = 0; r < R; r++) {
        for (int d = 0; d < 3; d++) assert_true(a.dq[r * K + dead[d]] == 0.0f);
        assert_true(a.qp.scale[r] < 1.0f); /* 100 was ignored */
        for (int k = 0; k < K; k++) assert_true(isfinite(a.dq[r * K + k]));
    }
    /* Bit-identical on a second run. */
    assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &b), YQ_OK);
    assert_memory_equal(a.q, b.q, R * K);
    assert_memory_equal(a.dq, b.dq, R * K * sizeof(float));
    assert_memory_equal(a.qp.scale, b.qp.scale, R * sizeof(float));
    assert_memory_equal(a.qp.zero_point, b.qp.zero_point, R * sizeof(int32_t));
    assert_true(a.loss == b.loss);
    yq_gptq_result_free(&a);
    yq_gptq_result_free(&b);
    /* All inputs dead: every weight 0, still no NaN. */
    memset(H, 0, K * K * sizeof *H);
    assert_int_equal(yq_gptq_quantize(W, R, K, H, &o, NULL, &a), YQ_OK);
    assert_int_equal(a.dead_columns, K);
    for (int i = 0; i < R * K; i++) assert_true(a.dq[i] == 0.0f);
    for (int r = 0; r < R; r++) assert_true(a.qp.scale[r] == 1.0f);
    yq_gptq_result_free(&a);
    free(H);
    free(X);
}

static void test_damping_retries(void **state) {
    (void)state;
    /* Eigenvalues 3 and -1, mean diagonal 1: damping 0.01 and 0.1 leave it
     * indefinite, 1 makes it singular, 10 makes it positive definite. */
    double H[4] = {1, 2, 2, 1};
    float W[4] = {0.3f, -0.2f, 0.1f, 0.4f};
    yq_gptq_opts o;
    yq_gptq_opts_default(&o, 4);
    yq_gptq_result res;
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, NULL, &res), YQ_OK);
    assert_int_equal(res.damp_retries, 3);
    assert_float_equal(res.damp, 10.0, 1e-9);
    for (int i = 0; i < 4; i++) assert_true(isfinite(res.dq[i]));
    yq_gptq_result_free(&res);
    o.max_damp_retries = 2;
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, NULL, &res), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "not positive definite"));
    assert_null(res.q);
    double Hn[4] = {1, NAN, NAN, 1};
    yq_gptq_opts_default(&o, 4);
    assert_int_equal(yq_gptq_quantize(W, 2, 2, Hn, &o, NULL, &res), YQ_ERR_INVALID);
    float Wnan[4] = {0.3f, NAN, 0.1f, 0.4f};
    assert_int_equal(yq_gptq_quantize(Wnan, 2, 2, H, &o, NULL, &res), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "weight [0, 1]"));
    double Hneg[4] = {-1, 0, 0, 1};
    assert_int_equal(yq_gptq_quantize(W, 2, 2, Hneg, &o, NULL, &res), YQ_ERR_INVALID);
    /* Bad options / unsupported grids. */
    o.format.is_signed = 0;
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, NULL, &res), YQ_ERR_ARG);
    yq_gptq_opts_default(&o, 16);
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, NULL, &res), YQ_ERR_ARG);
    yq_gptq_opts_default(&o, 4);
    o.block_size = 0;
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, NULL, &res), YQ_ERR_ARG);
    yq_gptq_opts_default(&o, 4);
    yq_qparams wrong;
    assert_int_equal(yq_qparams_alloc(&wrong, 4, 1, 0, 0, 3), YQ_OK); /* 3 scales for 2 rows */
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, &wrong, &res), YQ_ERR_ARG);
    yq_qparams_free(&wrong);
    assert_int_equal(yq_qparams_alloc(&wrong, 4, 1, 0, 0, 2), YQ_OK);
    wrong.scale[1] = 0.0f; /* a zero scale would turn weights into NaN */
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, &wrong, &res), YQ_ERR_ARG);
    wrong.scale[1] = 1.0f;
    wrong.zero_point[0] = 8; /* outside int4 */
    assert_int_equal(yq_gptq_quantize(W, 2, 2, H, &o, &wrong, &res), YQ_ERR_ARG);
    yq_qparams_free(&wrong);
}

static void test_hessian_accumulate(void **state) {
    (void)state;
    enum { N = 21, K = 13 };
    float X[N * K];
    uint64_t seed = 8;
    for (int i = 0; i < N * K; i++) X[i] = (float)rng_normal(&seed);
    X[5 * K + 3] = 0.0f;
    double H[K * K];
    memset(H, 0, sizeof H);
    yq_hessian_accumulate(H, X, 10, K);
    yq_hessian_accumulate(H, X + 10 * K, N - 10, K);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)X[n * K + i] * X[n * K + j];
            assert_float_equal(H[i * K + j], s, 1e-10 * (1 + fabs(s)));
            assert_true(H[i * K + j] == H[j * K + i]);
        }
    double h0 = H[0];
    yq_hessian_finalize(H, K, N);
    assert_float_equal(H[0], h0 * 2.0 / N, 1e-15);
}

/* Naive grouped convolution, for the im2col check. */
static void conv_ref(const float *x, const float *w, const yq_conv_geom *g, float *y) {
    int64_t cg = g->c / g->group, og = g->cout / g->group;
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t o = 0; o < g->cout; o++)
            for (int64_t oy = 0; oy < g->oh; oy++)
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    double s = 0;
                    int64_t gi = o / og;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < g->kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t iy = oy * g->stride_h - g->pad_t + i * g->dil_h;
                                int64_t ix = ox * g->stride_w - g->pad_l + j * g->dil_w;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                                s += (double)x[((b * g->c + gi * cg + c) * g->h + iy) * g->w + ix] *
                                     w[((o * cg + c) * g->kh + i) * g->kw + j];
                            }
                    y[((b * g->cout + o) * g->oh + oy) * g->ow + ox] = (float)s;
                }
}

static void test_im2col_rows(void **state) {
    (void)state;
    yq_conv_geom g = {.n = 2, .c = 6, .h = 9, .w = 8, .cout = 4, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1,
                      .pad_t = 1, .pad_l = 2, .pad_b = 0, .pad_r = 1, .dil_h = 2, .dil_w = 1, .group = 2};
    assert_int_equal(yq_conv_geom_check(&g), YQ_OK);
    assert_int_equal(g.oh, (9 + 1 + 0 - (2 * 2 + 1)) / 2 + 1);
    assert_int_equal(g.ow, (8 + 2 + 1 - 2) / 1 + 1);
    const int64_t K = yq_conv_group_k(&g), P = yq_conv_positions(&g), og = g.cout / g.group;
    assert_int_equal(K, 3 * 3 * 2);
    float *x = malloc((size_t)(g.n * g.c * g.h * g.w) * sizeof *x), *w = malloc((size_t)(g.cout * K) * sizeof *w);
    float *y = malloc((size_t)(g.n * g.cout * g.oh * g.ow) * sizeof *y), *rows = malloc((size_t)(P * K) * sizeof *rows);
    uint64_t seed = 2;
    for (int64_t i = 0; i < g.n * g.c * g.h * g.w; i++) x[i] = (float)rng_normal(&seed);
    for (int64_t i = 0; i < g.cout * K; i++) w[i] = (float)rng_normal(&seed);
    conv_ref(x, w, &g, y);
    /* y[b, o, p] = rows_g[p] · W[o] for the group of o: K order = weight order. */
    for (int64_t gi = 0; gi < g.group; gi++) {
        yq_im2col_rows(x, &g, gi, NULL, P, rows);
        for (int64_t p = 0; p < P; p++)
            for (int64_t oo = 0; oo < og; oo++) {
                int64_t o = gi * og + oo, b = p / (g.oh * g.ow), pix = p % (g.oh * g.ow);
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += (double)rows[p * K + k] * w[o * K + k];
                assert_float_equal(s, y[(b * g.cout + o) * g.oh * g.ow + pix], 1e-4);
            }
    }
    /* Selected positions give the same rows; the Hessian per group is the sum
     * of the outer products of those rows. */
    int64_t pos[3] = {P - 1, 0, 17};
    float sel[3 * 18];
    yq_im2col_rows(x, &g, 1, pos, 3, sel);
    yq_im2col_rows(x, &g, 1, NULL, P, rows);
    for (int t = 0; t < 3; t++) assert_memory_equal(sel + t * K, rows + pos[t] * K, K * sizeof(float));
    double *Hg = calloc((size_t)(g.group * K * K), sizeof *Hg), *Href = calloc((size_t)(K * K), sizeof *Href);
    assert_int_equal(yq_conv_hessian_accumulate(Hg, x, &g, NULL, 0), YQ_OK);
    yq_hessian_accumulate(Href, rows, P, K);
    for (int64_t i = 0; i < K * K; i++) assert_float_equal(Hg[K * K + i], Href[i], 1e-9 * (1 + fabs(Href[i])));
    int64_t badpos[1] = {P};
    assert_int_equal(yq_conv_hessian_accumulate(Hg, x, &g, badpos, 1), YQ_ERR_ARG);
    /* Invalid geometries. */
    yq_conv_geom bad = g;
    bad.group = 4; /* does not divide c = 6 */
    assert_int_equal(yq_conv_geom_check(&bad), YQ_ERR_INVALID);
    bad = g;
    bad.kh = 20;
    assert_int_equal(yq_conv_geom_check(&bad), YQ_ERR_INVALID);
    free(x);
    free(w);
    free(y);
    free(rows);
    free(Hg);
    free(Href);
}

static void test_geom_from_node(void **state) {
    (void)state;
    yq_graph *gr;
    assert_int_equal(yq_graph_new(&gr), YQ_OK);
    int xin, wv, y, nd;
    assert_int_equal(yq_graph_add_value(gr, "x", &xin), YQ_OK);
    float wdata[8 * 2 * 3 * 3] = {0};
    int64_t wd[4] = {8, 2, 3, 3};
    assert_int_equal(yq_graph_add_initializer(gr, "w", YQ_DT_FLOAT, 4, wd, wdata, &wv), YQ_OK);
    assert_int_equal(yq_graph_add_value(gr, "y", &y), YQ_OK);
    int ins[2] = {xin, wv};
    assert_int_equal(yq_graph_add_node(gr, "Conv", "", "conv", ins, 2, &y, 1, &nd), YQ_OK);
    int64_t strides[2] = {2, 2};
    assert_int_equal(yq_node_set_attr_ints(&gr->nodes[nd], "strides", strides, 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&gr->nodes[nd], "group", 2), YQ_OK);
    assert_int_equal(yq_node_set_attr_string(&gr->nodes[nd], "auto_pad", "SAME_UPPER"), YQ_OK);
    int64_t in_dims[4] = {1, 4, 7, 10};
    yq_conv_geom g;
    assert_int_equal(yq_conv_geom_from_node(gr, nd, in_dims, &g), YQ_OK);
    assert_int_equal(g.oh, 4);
    assert_int_equal(g.ow, 5);
    assert_int_equal(g.pad_t, 1); /* total 2 on H: 1 + 1 */
    assert_int_equal(g.pad_b, 1);
    assert_int_equal(g.pad_l, 0); /* total 1 on W: upper gets the extra */
    assert_int_equal(g.pad_r, 1);
    assert_int_equal(g.group, 2);
    assert_int_equal(yq_conv_group_k(&g), 18);
    int64_t wrong_c[4] = {1, 6, 7, 10};
    assert_int_equal(yq_conv_geom_from_node(gr, nd, wrong_c, &g), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'conv'"));
    yq_graph_free(gr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inverse_cholesky),       cmocka_unit_test(test_gptq_beats_rtn),
        cmocka_unit_test(test_identity_hessian_is_rtn), cmocka_unit_test(test_dead_inputs_and_determinism),
        cmocka_unit_test(test_damping_retries),        cmocka_unit_test(test_hessian_accumulate),
        cmocka_unit_test(test_im2col_rows),            cmocka_unit_test(test_geom_from_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
