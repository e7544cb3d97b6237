/* Post-training quantization driver (see ptq.h for the pipeline). */
#include "quant/ptq.h"
#include "quant/reconstruct.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "quant/equalize.h"
#include "quant/adaround.h"
#include "quant/gptq.h"
#include "quant/observer.h"
#include "quant/placement.h"
#include "rt/kernels/gemm.h"
#include "rt/session.h"

void yq_ptq_opts_default(yq_ptq_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = YQ_QCDQ_CLIP;
    o->hessian_positions = 256;
    o->seed = 0x5eed;
    o->hessian_budget = (size_t)2 << 30;
    o->report_images = 8;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- per-layer and per-activation state ---- */

typedef struct act_obs {
    int value;       /* value id in the graph being quantized */
    yq_act_cfg cfg;  /* of the first quantized consumer */
    yq_observer ob;
    int last_image;  /* an image is observed once, however many consumers read the tensor */
    int root;        /* Concat sharing group (union-find over act indices) */
    float scale;
    int32_t zp;
} act_obs;

typedef struct layer {
    int node;
    char *name, *op_type, *out_name; /* owned copies: node indices change in the rewrite */
    yq_node_qconfig cfg;
    yq_weight_ref ref;
    int gptq;
    int is_conv;
    yq_conv_geom geom; /* conv (batch of the graph input) */
    int64_t K;         /* Hessian size per group */
    int64_t ngroups;   /* conv group, or 1 */
    int64_t in_rows;   /* MatMul/Gemm: input vectors per image */
    int stage;         /* sequential GPTQ: stage (layers in topological order) */
    int pass;          /* Hessian pass this layer belongs to */
    int quantized;     /* q/dq/qp hold the result */
    float *eq_absmax;  /* SmoothQuant producer: max |output| per channel */
    int bias_done;     /* bias correction applied */
    double *H;         /* [ngroups][K][K], upper triangle while accumulating */
    /* input-error correction: C = X_fᵀ X_q [ngroups][K][K] (full), the float
     * model's rows at the same positions, and the GPTQ target W·C·H⁻¹ */
    double *C;
    float *rows_f;
    float *rows;       /* [ngroups][P][K] sampled rows of the current image */
    int64_t nrows_img; /* rows sampled this image (per group) */
    int64_t nrows_total;
    /* bias correction: Σ of the sampled im2col rows, per group, of the
     * inputs the layer sees in its Hessian pass, and how many rows it sums */
    double *mu_q;
    int64_t mu_q_n;
    int act_in[4];     /* act_obs index per input (-1: none) */
    int act_out;       /* act_obs of output 0 ("act_outputs"; -1: none) */
    /* results */
    int8_t *q;
    float *dq;
    yq_qparams qp;
    double loss, wsqnr;
    int int32_bias; /* bias rewritten as INT32 + DequantizeLinear */
    int damp_retries;
    int64_t dead_columns;
    double bias_shift; /* RMS over output channels of the correction subtracted from the bias */
    /* report */
    float *fout;
    int64_t fout_n;
    double sig, noise;
} layer;

typedef struct ptq {
    yq_graph *g;
    const yq_ptq_opts *o;
    layer *L;
    int nl;
    act_obs *A;
    int na;
    int *act_of_value; /* [g->nvalues] -> act_obs or -1 */
    /* hook state */
    int *sess_map; /* session node -> layer or -1 */
    int sess_nnodes;
    const yq_graph *sess_graph;
    int image, pass, observe_acts;
    int sequential;     /* Hessians of pass p from the model with passes < p quantized */
    int bias_correction;
    int input_correction; /* sequential: GPTQ target from the float model's inputs */
    int float_rows;     /* this run is the float model's, for rows_f */
    int eq_collect;     /* SmoothQuant pre-pass: producers' output ranges */
    int eq_pairs;       /* pairs equalized */
    int report_mode; /* 0 calibration, 1 float reference, 2 quantized compare */
    yq_status hook_st;
    /* progress of the weight solve (workers report; never two at once) */
    atomic_int layers_done;
    atomic_flag progress_busy;
} ptq;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* P positions out of n, one uniformly at random in each of P equal strata:
 * distinct, sorted, spread over the whole feature map. All when n <= P. */
static int64_t sample_positions(int64_t n, int64_t P, uint64_t seed, int64_t *pos) {
    if (n <= P) {
        for (int64_t i = 0; i < n; i++) pos[i] = i;
        return n;
    }
    uint64_t st = seed;
    for (int64_t i = 0; i < P; i++) {
        double u = (double)(splitmix64(&st) >> 11) * 0x1.0p-53;
        int64_t lo = i * n / P, hi = (i + 1) * n / P; /* hi > lo because n > P */
        int64_t p = lo + (int64_t)(u * (double)(hi - lo));
        pos[i] = p < hi ? p : hi - 1;
    }
    return P;
}

/* Session node -> layer, through the name of the layer's output: sessions
 * prepare their own copy of the graph, and the QCDQ rewrite renumbers nodes,
 * but a layer's output keeps its name. */
static int map_session_node(ptq *c, const yq_graph *sg, int node) {
    if (c->sess_graph != sg) {
        free(c->sess_map);
        c->sess_map = malloc(((size_t)sg->nnodes + 1) * sizeof *c->sess_map);
        if (!c->sess_map) return -2;
        for (int i = 0; i < sg->nnodes; i++) c->sess_map[i] = -1;
        for (int li = 0; li < c->nl; li++) {
            int v = yq_graph_find_value(sg, c->L[li].out_name);
            if (v < 0) continue;
            int p = sg->values[v].producer;
            if (p >= 0 && p < sg->nnodes) c->sess_map[p] = li;
        }
        c->sess_graph = sg;
        c->sess_nnodes = sg->nnodes;
    }
    return node < c->sess_nnodes ? c->sess_map[node] : -1;
}

static yq_status sample_rows(ptq *c, layer *l, int li, const yq_tensor *x, float *dst) {
    const int64_t P = c->o->hessian_positions;
    uint64_t seed = c->o->seed ^ ((uint64_t)li * 0x100000001b3ULL) ^ ((uint64_t)c->image << 32);
    if (l->is_conv) {
        yq_conv_geom geom = l->geom;
        if (x->rank != 4 || x->dims[0] != geom.n || x->dims[1] != geom.c || x->dims[2] != geom.h ||
            x->dims[3] != geom.w)
            return yq_fail(YQ_ERR_INVALID, "calibration: input of Conv '%s' has an unexpected shape",
                           c->g->nodes[l->node].name);
        int64_t total = yq_conv_positions(&geom);
        int64_t *pos = malloc((size_t)P * sizeof *pos);
        if (!pos) return yq_fail(YQ_ERR_NOMEM, "calibration: out of memory");
        int64_t np = sample_positions(total, P, seed, pos);
        for (int64_t gi = 0; gi < l->ngroups; gi++)
            yq_im2col_rows((const float *)x->data, &geom, gi, pos, np, dst + gi * P * l->K);
        free(pos);
        l->nrows_img = np;
    } else {
        int64_t n = yq_tensor_numel(x) / l->K;
        int64_t *pos = malloc((size_t)P * sizeof *pos);
        if (!pos) return yq_fail(YQ_ERR_NOMEM, "calibration: out of memory");
        int64_t np = sample_positions(n, P, seed, pos);
        const float *xs = (const float *)x->data;
        for (int64_t t = 0; t < np; t++)
            memcpy(dst + t * l->K, xs + pos[t] * l->K, (size_t)l->K * sizeof(float));
        free(pos);
        l->nrows_img = np;
    }
    /* A NaN or Inf would poison the Hessian (and the scales) silently. */
    for (int64_t gi = 0; gi < l->ngroups; gi++) {
        const float *r = dst + gi * P * l->K;
        for (int64_t i = 0; i < l->nrows_img * l->K; i++)
            if (!isfinite(r[i]))
                return yq_fail(YQ_ERR_INVALID, "calibration image %d: the input of '%s' holds %s (the model "
                               "overflows on this image, or the image is not what it expects)",
                               c->image, l->name, isnan(r[i]) ? "NaN" : "Inf");
    }
    return YQ_OK;
}

/* mu[gi·K + k] += Σ over the l->nrows_img sampled rows of column k. */
static void add_row_sums(const layer *l, const float *rows, int64_t P, double *mu) {
    for (int64_t gi = 0; gi < l->ngroups; gi++) {
        const float *r = rows + gi * P * l->K;
        double *m = mu + gi * l->K;
        for (int64_t t = 0; t < l->nrows_img; t++)
            for (int64_t k = 0; k < l->K; k++) m[k] += (double)r[t * l->K + k];
    }
}

static void copy_output(layer *l, const yq_tensor *t) {
    int64_t n = yq_tensor_numel(t);
    if (!l->fout || l->fout_n != n) {
        free(l->fout);
        l->fout = malloc((size_t)n * sizeof *l->fout);
        l->fout_n = l->fout ? n : 0;
    }
    if (l->fout) memcpy(l->fout, t->data, (size_t)n * sizeof(float));
}

static void compare_output(layer *l, const yq_tensor *t) {
    int64_t n = yq_tensor_numel(t);
    if (!l->fout || l->fout_n != n) return;
    const float *q = (const float *)t->data;
    double s = 0, e = 0;
    for (int64_t i = 0; i < n; i++) {
        double f = l->fout[i], d = (double)q[i] - f;
        s += f * f;
        e += d * d;
    }
    l->sig += s;
    l->noise += e;
}

static void hook(void *arg, const yq_graph *sg, int node, const yq_tensor *in, int nin, const yq_tensor *out,
                 int nout) {
    ptq *c = arg;
    if (c->hook_st != YQ_OK) return;
    int li = map_session_node(c, sg, node);
    if (li == -2) {
        c->hook_st = yq_fail(YQ_ERR_NOMEM, "calibration: out of memory");
        return;
    }
    if (li < 0) return;
    layer *l = &c->L[li];
    if (c->eq_collect) {
        if (!l->eq_absmax || nout < 1 || out[0].dtype != YQ_DT_FLOAT || out[0].rank != 4) return;
        const int64_t C = out[0].dims[1], hw = out[0].dims[2] * out[0].dims[3], nb = out[0].dims[0];
        const float *y = out[0].data;
        for (int64_t b = 0; b < nb; b++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t k = 0; k < hw; k++) {
                    float a = fabsf(y[(b * C + ch) * hw + k]);
                    if (a > l->eq_absmax[ch]) l->eq_absmax[ch] = a;
                }
        return;
    }
    if (c->report_mode) {
        if (nout < 1 || out[0].dtype != YQ_DT_FLOAT) return;
        if (c->report_mode == 1)
            copy_output(l, &out[0]);
        else
            compare_output(l, &out[0]);
        return;
    }
    if (c->observe_acts && l->act_out >= 0 && nout >= 1 && out[0].dtype == YQ_DT_FLOAT &&
        c->A[l->act_out].last_image != c->image) {
        c->A[l->act_out].last_image = c->image;
        yq_status st = yq_observer_update(&c->A[l->act_out].ob, (const float *)out[0].data, yq_tensor_numel(&out[0]));
        if (st != YQ_OK) {
            c->hook_st = st;
            return;
        }
    }
    if (c->observe_acts)
        for (int k = 0; k < nin && k < 4; k++) {
            int a = l->act_in[k];
            if (a < 0 || c->A[a].last_image == c->image || in[k].dtype != YQ_DT_FLOAT) continue;
            c->A[a].last_image = c->image;
            yq_status st = yq_observer_update(&c->A[a].ob, (const float *)in[k].data, yq_tensor_numel(&in[k]));
            if (st != YQ_OK) {
                c->hook_st = st;
                return;
            }
        }
    if (!l->gptq || nin < 1) return;
    if (l->pass == c->pass) {
        yq_status st = sample_rows(c, l, li, &in[0], c->float_rows ? l->rows_f : l->rows);
        if (st != YQ_OK) c->hook_st = st;
    }
}

/* ---- Hessian accumulation ---- */

/* H[i][j] += Σ_t x_t[i]·x_t[j] (j >= i) in double, eight samples per sweep:
 * for the small Hessians (depthwise convs) where a GEMM call costs more than
 * the arithmetic. */
static void hess_rows_small(double *H, const float *X, int64_t nrows, int64_t K) {
    enum { TILE = 8 };
    for (int64_t r0 = 0; r0 < nrows; r0 += TILE) {
        const int64_t nr = nrows - r0 < TILE ? nrows - r0 : TILE;
        for (int64_t i = 0; i < K; i++) {
            double a[TILE];
            for (int64_t t = 0; t < TILE; t++) a[t] = t < nr ? (double)X[(r0 + t) * K + i] : 0.0;
            double *hi = H + i * K;
            for (int64_t j = i; j < K; j++) {
                double s = 0;
                for (int64_t t = 0; t < nr; t++) s += a[t] * (double)X[(r0 + t) * K + j];
                hi[j] += s;
            }
        }
    }
}

typedef struct hadd {
    double *H;
    const float *G;
    int64_t K;
} hadd;

static void hadd_run(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const hadd *h = arg;
    for (int64_t i = b; i < e; i++)
        for (int64_t j = i; j < h->K; j++) h->H[i * h->K + j] += (double)h->G[i * h->K + j];
}

static void cadd_run(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const hadd *h = arg;
    for (int64_t i = b * h->K; i < e * h->K; i++) h->H[i] += (double)h->G[i];
}

/* Add this image's XᵀX to the Hessians of the pass's layers: the image's
 * Gram matrix in float32 with the runtime's GEMM (a fixed summation order
 * over at most hessian_positions rows), then into the double Hessian. The
 * result does not depend on the number of threads. */
static yq_status accumulate_image(ptq *c, yq_pool *pool, float *G) {
    const int64_t P = c->o->hessian_positions;
    for (int li = 0; li < c->nl; li++) {
        layer *l = &c->L[li];
        if (!l->gptq || l->pass != c->pass || l->nrows_img == 0) continue;
        for (int64_t gi = 0; gi < l->ngroups; gi++) {
            double *H = l->H + gi * l->K * l->K;
            const float *X = l->rows + gi * P * l->K;
            if (l->K < 32) {
                hess_rows_small(H, X, l->nrows_img, l->K);
                continue;
            }
            YQ_TRY(yq_sgemm(pool, 1, 0, l->K, l->K, l->nrows_img, X, l->K, X, l->K, G, l->K, 0, NULL, NULL));
            hadd h = {H, G, l->K};
            yq_parallel_for(pool, l->K, 16, hadd_run, &h);
        }
        if (l->C) {
            for (int64_t gi = 0; gi < l->ngroups; gi++) {
                double *Cg = l->C + gi * l->K * l->K;
                const float *Xq = l->rows + gi * P * l->K, *Xf = l->rows_f + gi * P * l->K;
                if (l->K < 32) {
                    for (int64_t t = 0; t < l->nrows_img; t++)
                        for (int64_t i = 0; i < l->K; i++) {
                            const double f = (double)Xf[t * l->K + i];
                            for (int64_t j = 0; j < l->K; j++) Cg[i * l->K + j] += f * (double)Xq[t * l->K + j];
                        }
                    continue;
                }
                YQ_TRY(yq_sgemm(pool, 1, 0, l->K, l->K, l->nrows_img, Xf, l->K, Xq, l->K, G, l->K, 0, NULL, NULL));
                hadd h = {Cg, G, l->K};
                yq_parallel_for(pool, l->K, 16, cadd_run, &h);
            }
        }
        if (l->mu_q) {
            add_row_sums(l, l->rows, P, l->mu_q);
            l->mu_q_n += l->nrows_img;
        }
        l->nrows_total += l->nrows_img;
    }
    return YQ_OK;
}

/* ---- GPTQ / RTN per layer, in parallel ---- */

typedef struct wjob {
    ptq *c;
    yq_status *st; /* per layer */
    char **msg;    /* per layer: the worker thread's error message */
    int *order;
    int n;
    atomic_int next;
} wjob;

static yq_status merge_qparams(yq_qparams *dst, yq_gptq_result *res, int64_t ng) {
    int nch = 0;
    for (int64_t gi = 0; gi < ng; gi++) nch += res[gi].qp.nch;
    const yq_qparams *a = &res[0].qp;
    YQ_TRY(yq_qparams_alloc(dst, a->bits, a->is_signed, a->narrow, a->axis, nch));
    dst->block_size = a->block_size;
    int at = 0;
    for (int64_t gi = 0; gi < ng; gi++) {
        memcpy(dst->scale + at, res[gi].qp.scale, (size_t)res[gi].qp.nch * sizeof(float));
        memcpy(dst->zero_point + at, res[gi].qp.zero_point, (size_t)res[gi].qp.nch * sizeof(int32_t));
        at += res[gi].qp.nch;
    }
    return YQ_OK;
}

/* GPTQ with input-error correction: the layer should map the quantized
 * model's inputs X_q to what the float layer computes on the float inputs
 * X_f, min ||X_q Ŵᵀ - X_f Wᵀ||². The unconstrained optimum is
 * W* = W·C·H⁻¹ (C = X_fᵀX_q, H = X_qᵀX_q), and the objective equals
 * ||X_q (Ŵ - W*)ᵀ||² + const, so GPTQ on W* with H minimises it. Written
 * as W* = W + W·(C - H)·H⁻¹, only the correction goes through the damped
 * inverse (H + λI)⁻¹: with X_f = X_q the target is exactly W, where
 * W·C·(H + λI)⁻¹ would shrink W along H's weak directions (ridge bias).
 * target[rows_g, K] per group. */
static yq_status corrected_target(const float *w, int64_t rows, int64_t K, const double *H, const double *C,
                                  double percdamp, float *target) {
    double *L = malloc((size_t)(K * K) * sizeof *L), *v = malloc((size_t)K * sizeof *v);
    if (!L || !v) {
        free(L), free(v);
        return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    }
    double mean = 0;
    for (int64_t i = 0; i < K; i++) mean += H[i * K + i];
    mean /= (double)K;
    double damp = percdamp * (mean > 0 ? mean : 1.0);
    int ok = -1;
    for (int tries = 0; tries < 7 && ok != 0; tries++, damp *= 10) {
        memcpy(L, H, (size_t)(K * K) * sizeof *L);
        for (int64_t i = 0; i < K; i++) L[i * K + i] += damp + (H[i * K + i] == 0 ? 1.0 : 0.0);
        ok = yq_cholesky_lower(L, K);
    }
    if (ok != 0) {
        free(L), free(v);
        return yq_fail(YQ_ERR_INVALID, "input-error correction: the Hessian is not positive definite");
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *wr = w + r * K;
        for (int64_t j = 0; j < K; j++) v[j] = 0;
        for (int64_t i = 0; i < K; i++) {
            const double wi = wr[i];
            if (wi == 0) continue;
            const double *ci = C + i * K, *hi = H + i * K;
            for (int64_t j = 0; j < K; j++) v[j] += wi * (ci[j] - hi[j]);
        }
        /* x (L Lᵀ) = v: L y = v, then Lᵀ x = y */
        for (int64_t i = 0; i < K; i++) {
            double sum = v[i];
            const double *li = L + i * K;
            for (int64_t k = 0; k < i; k++) sum -= li[k] * v[k];
            v[i] = sum / li[i];
        }
        for (int64_t i = K - 1; i >= 0; i--) {
            double sum = v[i];
            for (int64_t k = i + 1; k < K; k++) sum -= L[k * K + i] * v[k];
            v[i] = sum / L[i * K + i];
        }
        for (int64_t j = 0; j < K; j++) target[r * K + j] = (float)((double)wr[j] + v[j]);
    }
    free(L);
    free(v);
    return YQ_OK;
}

static yq_status quantize_layer(ptq *c, layer *l) {
    const int64_t rows = l->ref.rows, cols = l->ref.cols, n = rows * cols;
    float *w = malloc((size_t)n * sizeof *w);
    l->q = malloc((size_t)n);
    l->dq = malloc((size_t)n * sizeof *l->dq);
    if (!w || !l->q || !l->dq) {
        free(w);
        return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    }
    yq_status st = yq_weight_matrix_read(c->g, &l->ref, w);
    if (st != YQ_OK) goto out;
    yq_qformat f;
    yq_weight_cfg_format(&l->cfg.weights, &f);
    if (l->cfg.weights.method == YQ_WMETHOD_ADAROUND) {
        st = yq_adaround_quantize_layer(w, rows, cols, l->ngroups, l->H, &l->cfg.weights, l->q, l->dq, &l->qp,
                                        &l->loss, NULL);
        if (st != YQ_OK) {
            st = yq_fail_prefix(st, "AdaRound of '%s'", l->name);
            goto out;
        }
    } else if (l->gptq) {
        yq_gptq_opts go;
        yq_weight_cfg_gptq_opts(&l->cfg.weights, &go);
        const int64_t rpg = rows / l->ngroups;
        yq_gptq_result *res = calloc((size_t)l->ngroups, sizeof *res);
        if (!res) {
            st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
            goto out;
        }
        l->loss = 0;
        float *target = l->C ? malloc((size_t)n * sizeof *target) : NULL;
        if (l->C && !target) st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
        for (int64_t gi = 0; gi < l->ngroups && target && st == YQ_OK; gi++)
            st = corrected_target(w + gi * rpg * cols, rpg, cols, l->H + gi * l->K * l->K, l->C + gi * l->K * l->K,
                                  go.percdamp, target + gi * rpg * cols);
        const float *wt = target ? target : w;
        int64_t gi = 0;
        for (; gi < l->ngroups && st == YQ_OK; gi++) {
            st = yq_gptq_quantize(wt + gi * rpg * cols, rpg, cols, l->H + gi * l->K * l->K, &go, NULL, &res[gi]);
            if (st != YQ_OK) break;
            memcpy(l->q + gi * rpg * cols, res[gi].q, (size_t)(rpg * cols));
            memcpy(l->dq + gi * rpg * cols, res[gi].dq, (size_t)(rpg * cols) * sizeof(float));
            l->loss += res[gi].loss;
            l->damp_retries = res[gi].damp_retries > l->damp_retries ? res[gi].damp_retries : l->damp_retries;
            l->dead_columns += res[gi].dead_columns;
        }
        free(target);
        if (st == YQ_OK) st = merge_qparams(&l->qp, res, l->ngroups);
        for (int64_t k = 0; k < l->ngroups; k++) yq_gptq_result_free(&res[k]);
        free(res);
        if (st != YQ_OK) {
            st = yq_fail_prefix(st, "GPTQ of '%s'", l->name);
            goto out;
        }
    } else {
        st = yq_weight_qparams(w, rows, cols, l->cfg.weights.per_channel, l->cfg.weights.gptq_group_size, &f,
                               &l->cfg.weights.scale, &l->qp);
        if (st == YQ_OK) st = yq_quantize_matrix(w, rows, cols, &l->qp, l->q, l->dq);
        if (st != YQ_OK) goto out;
    }
    double s = 0, e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)l->dq[i] - (double)w[i];
        s += (double)w[i] * (double)w[i];
        e += d * d;
    }
    l->wsqnr = e > 0 ? 10.0 * log10(s / e) : INFINITY;
    l->quantized = 1;
out:
    free(w);
    return st;
}

static void wjob_run(void *arg, int64_t b, int64_t e, int tid) {
    (void)b, (void)e, (void)tid;
    wjob *j = arg;
    for (;;) {
        int k = atomic_fetch_add(&j->next, 1);
        if (k >= j->n) break;
        int li = j->order[k];
        j->st[li] = quantize_layer(j->c, &j->c->L[li]);
        if (j->st[li] != YQ_OK) j->msg[li] = strdup(yq_last_error());
        int done = atomic_fetch_add(&j->c->layers_done, 1) + 1;
        if (j->c->o->progress && !atomic_flag_test_and_set(&j->c->progress_busy)) {
            j->c->o->progress(j->c->o->progress_arg, "quantize", done, j->c->nl);
            atomic_flag_clear(&j->c->progress_busy);
        }
    }
}

/* Quantize layers order[0..n) in parallel; the first failure (in layer order)
 * is reported with its worker's message. */
static yq_status quantize_layers(ptq *c, yq_pool *pool, const int *order, int n) {
    yq_status *st = calloc((size_t)c->nl + 1, sizeof *st);
    char **msg = calloc((size_t)c->nl + 1, sizeof *msg);
    if (!st || !msg) {
        free(st), free(msg);
        return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    }
    wjob wj = {.c = c, .st = st, .msg = msg, .order = (int *)order, .n = n};
    atomic_init(&wj.next, 0);
    yq_parallel_for(pool, yq_pool_size(pool), 1, wjob_run, &wj);
    yq_status r = YQ_OK;
    for (int k = 0; k < n; k++)
        if (st[order[k]] != YQ_OK && r == YQ_OK) r = yq_fail(st[order[k]], "%s", msg[order[k]] ? msg[order[k]] : "failed");
    for (int k = 0; k < c->nl; k++) free(msg[k]);
    free(st);
    free(msg);
    return r;
}

/* ---- setup ---- */

static int find_root(act_obs *A, int a) {
    while (A[a].root != a) a = A[a].root = A[A[a].root].root;
    return a;
}

static const char *node_label(const yq_graph *g, int node) {
    const yq_node *n = &g->nodes[node];
    if (n->name && n->name[0]) return n->name;
    if (n->noutputs > 0 && n->outputs[0] >= 0) return g->values[n->outputs[0]].name;
    return n->op_type;
}

static int is_activation_input(const yq_graph *g, const layer *l, int k) {
    const yq_node *n = &g->nodes[l->node];
    if (k >= n->ninputs || n->inputs[k] < 0 || k == l->ref.input) return 0;
    if ((!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm")) && k == 2) return 0; /* bias stays float */
    const yq_value *v = &g->values[n->inputs[k]];
    return !(v->flags & YQ_VAL_INIT) && !v->data && v->dtype == YQ_DT_FLOAT;
}

/* A new activation observer for value v (its own Concat group); *index gets
 * its index in c->A. */
static yq_status new_act_obs(ptq *c, int v, const yq_act_cfg *cfg, int *index) {
    act_obs *a = &c->A[c->na];
    memset(a, 0, sizeof *a);
    a->value = v;
    a->cfg = *cfg;
    a->last_image = -1;
    a->root = c->na;
    yq_observer_opts oo;
    yq_act_cfg_observer_opts(cfg, &oo);
    YQ_TRY(yq_observer_init(&a->ob, &oo));
    *index = c->na++;
    return YQ_OK;
}

static yq_status setup_layers(ptq *c, const yq_recipe *r) {
    yq_graph *g = c->g;
    yq_node_qconfig *cfg = calloc((size_t)g->nnodes + 1, sizeof *cfg);
    c->act_of_value = malloc(((size_t)g->nvalues + 1) * sizeof *c->act_of_value);
    c->L = calloc((size_t)g->nnodes + 1, sizeof *c->L);
    c->A = calloc((size_t)g->nvalues + 1, sizeof *c->A);
    if (!cfg || !c->act_of_value || !c->L || !c->A) {
        free(cfg);
        return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    }
    for (int i = 0; i < g->nvalues; i++) c->act_of_value[i] = -1;
    yq_status st = yq_recipe_plan(r, g, cfg);
    if (st != YQ_OK) {
        free(cfg);
        return st;
    }
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!cfg[i].quantize || g->nodes[i].dead) continue;
        layer *l = &c->L[c->nl];
        memset(l, 0, sizeof *l);
        l->node = i;
        l->cfg = cfg[i];
        for (int k = 0; k < 4; k++) l->act_in[k] = -1;
        l->act_out = -1;
        if ((st = yq_weight_ref_get(g, i, &l->ref)) != YQ_OK) break;
        if (l->cfg.weights.bits != 4 && l->cfg.weights.bits != 8) {
            st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: %d-bit weights are not supported (4 or 8)", node_label(g, i),
                         l->cfg.weights.bits);
            break;
        }
        if (l->cfg.acts.bits != 0 && l->cfg.acts.bits != 8) {
            st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: %d-bit activations are not supported (8 or float)",
                         node_label(g, i), l->cfg.acts.bits);
            break;
        }
        /* AdaRound needs the same Hessians as GPTQ */
        l->gptq = l->cfg.weights.method == YQ_WMETHOD_GPTQ || l->cfg.weights.method == YQ_WMETHOD_ADAROUND;
        l->is_conv = !strcmp(g->nodes[i].op_type, "Conv");
        l->ngroups = 1;
        if (l->gptq) {
            const yq_value *x = &g->values[g->nodes[i].inputs[0]];
            if (l->is_conv) {
                if (x->rank != 4) {
                    st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: GPTQ supports 2-D convolutions only", node_label(g, i));
                    break;
                }
                if ((st = yq_conv_geom_from_node(g, i, x->dims, &l->geom)) != YQ_OK) break;
                l->K = yq_conv_group_k(&l->geom);
                l->ngroups = l->geom.group;
            } else {
                if (!strcmp(g->nodes[i].op_type, "Gemm") && yq_attr_int(&g->nodes[i], "transA", 0)) {
                    st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: GPTQ of a Gemm with transA = 1 is not supported",
                                 node_label(g, i));
                    break;
                }
                l->K = l->ref.cols;
                if (x->rank < 1 || x->dims[x->rank - 1] != l->K) {
                    st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: GPTQ needs the input's last dimension (%lld)",
                                 node_label(g, i), (long long)l->K);
                    break;
                }
            }
        }
        const yq_node *nd = &g->nodes[i];
        l->name = strdup(node_label(g, i));
        l->op_type = strdup(nd->op_type);
        l->out_name = strdup(nd->noutputs > 0 && nd->outputs[0] >= 0 ? g->values[nd->outputs[0]].name : "");
        c->nl++;
        if (!l->name || !l->op_type || !l->out_name) {
            st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
            break;
        }
    }
    free(cfg);
    if (st != YQ_OK) return st;
    /* activation observers: one per float tensor read by a quantized node with A8 */
    for (int li = 0; li < c->nl; li++) {
        layer *l = &c->L[li];
        if (!l->cfg.acts.bits) continue;
        const yq_node *n = &g->nodes[l->node];
        for (int k = 0; k < n->ninputs && k < 4; k++) {
            if (!is_activation_input(g, l, k)) continue;
            int v = n->inputs[k];
            if (c->act_of_value[v] < 0) YQ_TRY(new_act_obs(c, v, &l->cfg.acts, &c->act_of_value[v]));
            l->act_in[k] = c->act_of_value[v];
        }
    }
    /* "act_outputs": one more observer on the output of every A8 conv. It
     * never joins a Concat group (the output is not in act_of_value); an
     * output that already is a quantized layer's input keeps that pair. */
    for (int li = 0; li < c->nl && r->act_outputs; li++) {
        layer *l = &c->L[li];
        const yq_node *n = &g->nodes[l->node];
        if (!l->cfg.acts.bits || !l->is_conv || n->noutputs < 1 || n->outputs[0] < 0) continue;
        const int v = n->outputs[0];
        if (c->act_of_value[v] >= 0 || g->values[v].dtype != YQ_DT_FLOAT) continue;
        YQ_TRY(new_act_obs(c, v, &l->cfg.acts, &l->act_out));
    }
    return YQ_OK;
}

/* Concat inputs and output that are quantized share one range. */
static yq_status share_concat_ranges(ptq *c) {
    yq_graph *g = c->g;
    unsigned *flags = malloc(((size_t)g->nnodes + 1) * sizeof *flags);
    if (!flags) return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    yq_status st = yq_quant_default_placement(g, flags);
    if (st != YQ_OK) return free(flags), st;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Concat") || (flags[i] & (YQ_PLACE_DECODE | YQ_PLACE_HEAD_CONCAT))) continue;
        int first = n->noutputs > 0 && n->outputs[0] >= 0 ? c->act_of_value[n->outputs[0]] : -1;
        for (int k = 0; k < n->ninputs; k++) {
            if (n->inputs[k] < 0) continue;
            int a = c->act_of_value[n->inputs[k]];
            if (a < 0) continue;
            if (first < 0) {
                first = a;
                continue;
            }
            int ra = find_root(c->A, a), rb = find_root(c->A, first);
            if (ra != rb) c->A[ra > rb ? ra : rb].root = ra < rb ? ra : rb;
        }
    }
    free(flags);
    /* per-member ranges, then the union per group */
    double *lo = malloc(((size_t)c->na + 1) * sizeof *lo), *hi = malloc(((size_t)c->na + 1) * sizeof *hi);
    if (!lo || !hi) {
        free(lo), free(hi);
        return yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
    }
    for (int a = 0; a < c->na; a++) {
        if (c->A[a].ob.nonfinite > 0) {
            st = yq_fail(YQ_ERR_INVALID, "calibration: activation '%s' held %lld NaN/Inf value(s) on the "
                         "calibration images: its range (and the model) would be wrong",
                         g->values[c->A[a].value].name, (long long)c->A[a].ob.nonfinite);
            break;
        }
        yq_qformat f;
        yq_act_cfg_format(&c->A[a].cfg, &f);
        st = yq_observer_range(&c->A[a].ob, &f, &lo[a], &hi[a]);
        if (st != YQ_OK) {
            st = yq_fail_prefix(st, "calibration: activation '%s'", g->values[c->A[a].value].name);
            break;
        }
    }
    for (int a = 0; a < c->na && st == YQ_OK; a++) {
        int r = find_root(c->A, a);
        if (r == a) continue;
        if (lo[a] < lo[r]) lo[r] = lo[a];
        if (hi[a] > hi[r]) hi[r] = hi[a];
    }
    for (int a = 0; a < c->na && st == YQ_OK; a++) {
        int r = find_root(c->A, a);
        yq_qformat f;
        yq_act_cfg_format(&c->A[a].cfg, &f);
        st = yq_qparams_from_range(lo[r], hi[r], &f, &c->A[a].scale, &c->A[a].zp);
    }
    free(lo);
    free(hi);
    return st;
}

/* ---- sequential GPTQ and bias correction ---- */

/* The per-tensor parameters of observer a's quantizer (allocated; the
 * caller frees them). */
static yq_status act_qparams(const act_obs *a, yq_qparams *qp) {
    yq_qformat f;
    yq_act_cfg_format(&a->cfg, &f);
    YQ_TRY(yq_qparams_alloc(qp, f.bits, f.is_signed, f.narrow, -1, 1));
    qp->scale[0] = a->scale;
    qp->zero_point[0] = a->zp;
    return YQ_OK;
}

/* Insert into g the QCDQ weights of the quantized layers — the GPTQ ones of
 * stages before `stage` only (INT32_MAX: all) — and (A8) the activation
 * quantizers of every layer: the model as the layers of stage `stage` see
 * it once everything before them is quantized. Passes that the Hessian
 * budget adds within a stage see the same model, so the result does not
 * depend on the budget. */
static yq_status insert_quantizers(ptq *c, yq_graph *g, int stage, int with_acts, yq_qcdq_format format, int *nact) {
    for (int li = 0; li < c->nl; li++) {
        layer *l = &c->L[li];
        if (l->quantized && (!l->gptq || l->stage < stage))
            YQ_TRY(yq_qcdq_insert_weight(g, l->node, l->q, &l->qp, format, NULL));
    }
    int n = 0;
    for (int li = 0; li < c->nl && with_acts; li++) {
        layer *l = &c->L[li];
        for (int k = 0; k < 4; k++) {
            int a = l->act_in[k];
            if (a < 0) continue;
            yq_qparams qp = {0};
            YQ_TRY(act_qparams(&c->A[a], &qp));
            int shared = 0;
            yq_status st = yq_qcdq_insert_activation(g, l->node, k, &qp, &shared);
            yq_qparams_free(&qp);
            YQ_TRY(st);
            n += !shared;
        }
    }
    if (nact) *nact = n;
    return YQ_OK;
}

/* "act_outputs": a QuantizeLinear -> DequantizeLinear pair on the output of
 * every conv that has an output observer (only in the written graph: the
 * calibration passes and GPTQ see the conv outputs float). */
static yq_status insert_output_quantizers(ptq *c, yq_graph *g, int *nout) {
    int n = 0;
    for (int li = 0; li < c->nl; li++) {
        layer *l = &c->L[li];
        if (l->act_out < 0) continue;
        yq_qparams qp = {0};
        YQ_TRY(act_qparams(&c->A[l->act_out], &qp));
        yq_status st = yq_qcdq_insert_output_activation(g, l->node, 0, &qp);
        yq_qparams_free(&qp);
        YQ_TRY(st);
        n++;
    }
    *nout = n;
    return YQ_OK;
}

/* A session on the current state of c->g (float, with the bias corrections
 * made so far) plus the quantizers of insert_quantizers (weights only
 * without with_acts). Nodes map to layers
 * by output name (map_session_node), which the rewrite keeps. */
static yq_status stage_session(ptq *c, int stage, int with_acts, int nthreads, yq_session **out) {
    yq_graph *sg = NULL;
    YQ_TRY(yq_graph_clone(c->g, &sg));
    yq_status st = insert_quantizers(c, sg, stage, with_acts, YQ_QCDQ_CLIP, NULL);
    if (st == YQ_OK) st = yq_qcdq_finalize(sg);
    if (st != YQ_OK) {
        yq_graph_free(sg);
        return st;
    }
    yq_session_opts so = {.nthreads = nthreads, .no_fusion = 1};
    YQ_TRY(yq_session_new(sg, &so, out));
    yq_session_set_hook(*out, hook, c);
    return YQ_OK;
}

static yq_status run_image(ptq *c, yq_session *s, yq_ptq_input_fn input, void *input_arg, int i, float *buf,
                           const yq_value *in);
static void progress(const ptq *c, const char *stage, int64_t done, int64_t total);

/* "act_ranges": "quantized": the activation observers start over and see
 * one more pass through the model with every weight quantized (and no
 * activation quantizer), so each A8 range is that of the tensor the
 * quantized layers actually produce. 4-bit weights move activations
 * noticeably (yolov10n: W8A8 loses nothing, W4A8 1.5 points more than
 * W4A16 with float ranges), and ranges observed on the float model then
 * clip or waste codes. The ranges of the sequential GPTQ passes stay those
 * of the float model: they are fixed before the first weight is solved. */
static yq_status recalibrate_acts(ptq *c, int ncalib, yq_ptq_input_fn input, void *input_arg, int nthreads,
                                  float *buf, const yq_value *in_info, int64_t done, int64_t total) {
    for (int a = 0; a < c->na; a++) {
        act_obs *A = &c->A[a];
        yq_observer_opts oo;
        yq_act_cfg_observer_opts(&A->cfg, &oo);
        yq_observer_free(&A->ob);
        YQ_TRY(yq_observer_init(&A->ob, &oo));
        A->last_image = -1;
        A->root = a;
    }
    yq_session *s = NULL;
    YQ_TRY(stage_session(c, INT32_MAX, 0, nthreads, &s));
    c->sess_graph = NULL;
    c->pass = -1; /* no layer samples Hessian rows */
    c->observe_acts = 1;
    yq_status st = YQ_OK;
    for (int i = 0; i < ncalib && st == YQ_OK; i++) {
        st = run_image(c, s, input, input_arg, i, buf, in_info);
        progress(c, "calibrate", done + i + 1, total);
    }
    c->observe_acts = 0;
    c->sess_graph = NULL;
    yq_session_free(s);
    if (st == YQ_OK) st = share_concat_ranges(c);
    return st;
}

/* Add delta[0..cout) to the bias of Conv `node` (creating a zero bias when
 * it has none, or a private copy when another node shares it). */
static yq_status conv_bias_add(yq_graph *g, int node, const double *delta, int64_t cout) {
    yq_node *n = &g->nodes[node];
    int b = n->ninputs > 2 ? n->inputs[2] : -1;
    float *nb = malloc((size_t)cout * sizeof *nb);
    if (!nb) return yq_fail(YQ_ERR_NOMEM, "bias correction: out of memory");
    if (b >= 0) {
        const yq_value *v = &g->values[b];
        if (!v->data || v->dtype != YQ_DT_FLOAT || yq_value_numel(v) != cout) {
            free(nb);
            return yq_fail(YQ_ERR_UNSUPPORTED, "bias correction: the bias of '%s' is not a constant float [%lld]",
                           node_label(g, node), (long long)cout);
        }
        memcpy(nb, v->data, (size_t)cout * sizeof *nb);
    } else {
        memset(nb, 0, (size_t)cout * sizeof *nb);
    }
    for (int64_t o = 0; o < cout; o++) nb[o] = (float)((double)nb[o] + delta[o]);
    yq_status st = YQ_OK;
    if (b >= 0 && yq_graph_count_consumers(g, b) == 1) {
        memcpy(g->values[b].data, nb, (size_t)cout * sizeof *nb);
    } else {
        int id;
        st = yq_graph_add_initializer(g, "bias_corrected", YQ_DT_FLOAT, 1, &cout, nb, &id);
        if (st == YQ_OK && n->ninputs < 3) {
            int *in = realloc(n->inputs, 3 * sizeof *in);
            if (!in) st = yq_fail(YQ_ERR_NOMEM, "bias correction: out of memory");
            else {
                n->inputs = in;
                for (int k = n->ninputs; k < 3; k++) in[k] = -1;
                n->ninputs = 3;
            }
        }
        if (st == YQ_OK) n->inputs[2] = id;
    }
    free(nb);
    return st;
}

/* Empirical bias correction of a GPTQ conv: on the inputs it sees in the
 * quantized model (sequential GPTQ: earlier stages quantized; else the float
 * model's), the quantized layer's expected output Ŵ·E[x_q] should equal the
 * float layer's W·E[x_q] (expectations over the calibration images and the
 * sampled positions, padding included). The difference per output channel,
 * (Ŵ - W)·E[x_q], is subtracted from the bias.
 * Only the layer's own error is corrected: also correcting the mean shift
 * that earlier quantized layers push through it, Ŵ·E[x_q] - W·E[x_f], was
 * measured to compound from stage to stage on yolov10n (the corrections of
 * late layers reached several units and mAP fell to 0.01). */
static yq_status correct_bias(ptq *c, layer *l) {
    if (!l->is_conv || !l->mu_q || l->mu_q_n == 0) return YQ_OK;
    const int64_t rows = l->ref.rows, K = l->ref.cols, rpg = rows / l->ngroups;
    float *w = malloc((size_t)(rows * K) * sizeof *w);
    double *delta = malloc((size_t)rows * sizeof *delta);
    if (!w || !delta) {
        free(w), free(delta);
        return yq_fail(YQ_ERR_NOMEM, "bias correction: out of memory");
    }
    yq_status st = yq_weight_matrix_read(c->g, &l->ref, w);
    double ss = 0;
    for (int64_t o = 0; o < rows && st == YQ_OK; o++) {
        const double *mq = l->mu_q + (o / rpg) * K;
        double e = 0;
        for (int64_t k = 0; k < K; k++) e += ((double)l->dq[o * K + k] - (double)w[o * K + k]) * mq[k];
        delta[o] = -e / (double)l->mu_q_n;
        ss += delta[o] * delta[o];
    }
    l->bias_shift = sqrt(ss / (double)rows);
    if (st == YQ_OK) st = conv_bias_add(c->g, l->node, delta, rows);
    free(w);
    free(delta);
    return st;
}

/* Cross-layer equalization / SmoothQuant on the pairs of quantized convs
 * (equalize.h), in place on the float graph before anything is measured.
 * SmoothQuant first runs the float model on up to 16 calibration images for
 * the producers' per-channel output ranges. */
static yq_status equalize_pairs(ptq *c, const yq_recipe *r, int ncalib, yq_ptq_input_fn input, void *input_arg,
                                int nthreads, float *buf, const yq_value *in_info) {
    yq_graph *g = c->g;
    unsigned char *allow = calloc((size_t)g->nnodes + 1, 1);
    int *layer_of = malloc(((size_t)g->nnodes + 1) * sizeof *layer_of);
    if (!allow || !layer_of) {
        free(allow), free(layer_of);
        return yq_fail(YQ_ERR_NOMEM, "equalization: out of memory");
    }
    for (int i = 0; i < g->nnodes; i++) layer_of[i] = -1;
    for (int li = 0; li < c->nl; li++) {
        allow[c->L[li].node] = 1;
        layer_of[c->L[li].node] = li;
    }
    yq_eq_pair *pairs = NULL;
    int np = 0;
    yq_status st = yq_eq_find_pairs(g, allow, &pairs, &np);
    free(allow);
    if (st == YQ_OK && np > 0 && r->equalize == 2) {
        for (int k = 0; k < np && st == YQ_OK; k++) {
            layer *l = &c->L[layer_of[pairs[k].producer]];
            l->eq_absmax = calloc((size_t)pairs[k].channels, sizeof *l->eq_absmax);
            if (!l->eq_absmax) st = yq_fail(YQ_ERR_NOMEM, "equalization: out of memory");
        }
        yq_graph *sg = NULL;
        yq_session *s = NULL;
        if (st == YQ_OK) st = yq_graph_clone(g, &sg);
        yq_session_opts so = {.nthreads = nthreads, .no_fusion = 1};
        if (st == YQ_OK && (st = yq_session_new(sg, &so, &s)) == YQ_OK) {
            yq_session_set_hook(s, hook, c);
            c->eq_collect = 1;
            c->sess_graph = NULL;
            for (int i = 0; i < ncalib && i < 16 && st == YQ_OK; i++)
                st = run_image(c, s, input, input_arg, i, buf, in_info);
            c->eq_collect = 0;
            c->sess_graph = NULL;
            yq_session_free(s);
        }
    }
    double *sc = NULL;
    for (int k = 0; k < np && st == YQ_OK; k++) {
        layer *l = &c->L[layer_of[pairs[k].producer]];
        free(sc);
        sc = malloc((size_t)pairs[k].channels * sizeof *sc);
        if (!sc) {
            st = yq_fail(YQ_ERR_NOMEM, "equalization: out of memory");
            break;
        }
        st = yq_eq_pair_scales(g, &pairs[k], r->equalize == 2 ? l->eq_absmax : NULL, r->smooth_alpha, sc);
        if (st == YQ_OK) st = yq_eq_scale_pair(g, &pairs[k], sc);
    }
    free(sc);
    c->eq_pairs = st == YQ_OK ? np : 0;
    yq_eq_pairs_free(pairs, np);
    free(layer_of);
    return st;
}

static void progress(const ptq *c, const char *stage, int64_t done, int64_t total) {
    if (c->o->progress) c->o->progress(c->o->progress_arg, stage, done, total);
}

static yq_status run_image(ptq *c, yq_session *s, yq_ptq_input_fn input, void *input_arg, int i, float *buf,
                           const yq_value *in) {
    YQ_TRY(input(input_arg, i, buf));
    yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = in->rank, .data = buf};
    memcpy(t.dims, in->dims, sizeof t.dims);
    c->image = i;
    c->hook_st = YQ_OK;
    YQ_TRY(yq_session_run(s, &t, 1));
    return c->hook_st;
}

static int64_t storage_bytes(const yq_value *v) {
    int64_t n = yq_value_numel(v);
    if (n < 0) return (int64_t)v->nbytes;
    if (v->dtype == YQ_DT_INT4 || v->dtype == YQ_DT_UINT4) return (n + 1) / 2;
    return (int64_t)v->nbytes;
}

static int64_t initializer_bytes(const yq_graph *g) {
    int64_t b = 0;
    for (int i = 0; i < g->nvalues; i++)
        if ((g->values[i].flags & YQ_VAL_INIT) && g->values[i].data) b += storage_bytes(&g->values[i]);
    return b;
}

static void free_ptq(ptq *c) {
    for (int i = 0; i < c->nl; i++) {
        layer *l = &c->L[i];
        free(l->H);
        free(l->C);
        free(l->rows);
        free(l->rows_f);
        free(l->q);
        free(l->dq);
        free(l->fout);
        free(l->mu_q);
        free(l->eq_absmax);
        free(l->name);
        free(l->op_type);
        free(l->out_name);
        yq_qparams_free(&l->qp);
    }
    for (int a = 0; a < c->na; a++) yq_observer_free(&c->A[a].ob);
    free(c->L);
    free(c->A);
    free(c->act_of_value);
    free(c->sess_map);
}

void yq_ptq_report_free(yq_ptq_report *r) {
    if (!r) return;
    for (int i = 0; i < r->nlayers; i++) {
        free(r->layers[i].name);
        free(r->layers[i].op_type);
    }
    free(r->layers);
    for (int i = 0; i < r->recon_blocks && r->recon; i++) free(r->recon[i].first), free(r->recon[i].last);
    free(r->recon);
    memset(r, 0, sizeof *r);
}

yq_status yq_ptq_quantize(yq_graph *g, const yq_recipe *r, int ncalib, yq_ptq_input_fn input, void *input_arg,
                          const yq_ptq_opts *opts, yq_ptq_report *rep) {
    yq_ptq_opts od;
    if (!opts) {
        yq_ptq_opts_default(&od);
        opts = &od;
    }
    if (rep) memset(rep, 0, sizeof *rep);
    if (ncalib < 1) return yq_fail(YQ_ERR_ARG, "quantize: no calibration images");
    if (opts->hessian_positions < 1) return yq_fail(YQ_ERR_ARG, "quantize: hessian_positions must be >= 1");
    if (g->ninputs != 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "quantize: the model must have one image input, it has %d", g->ninputs);
    const yq_value *gin = &g->values[g->inputs[0]];
    if (gin->dtype != YQ_DT_FLOAT || gin->rank != 4 || gin->dims[0] != 1 || gin->dims[1] != 3 || gin->dims[2] < 1 ||
        gin->dims[3] < 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "quantize: the model input '%s' must be float [1,3,H,W]", gin->name);
    yq_value in_info = *gin;

    ptq c = {0};
    atomic_init(&c.layers_done, 0);
    atomic_flag_clear(&c.progress_busy);
    c.g = g;
    c.o = opts;
    yq_status st = YQ_OK;
    yq_pool *pool = NULL;
    yq_session *fs = NULL, *qs = NULL;
    float *buf = NULL;
    float *gram = NULL;
    int *order = NULL;
    int *first_of_pass = NULL;
    const int64_t float_bytes = initializer_bytes(g);

    if ((st = setup_layers(&c, r)) != YQ_OK) goto out;
    int nthreads = opts->nthreads > 0 ? opts->nthreads : yq_cpu_count();
    if ((st = yq_pool_new(nthreads, &pool)) != YQ_OK) goto out;
    buf = malloc((size_t)yq_numel(4, in_info.dims) * sizeof *buf);
    if (!buf) {
        st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
        goto out;
    }

    if (r->equalize && (st = equalize_pairs(&c, r, ncalib, input, input_arg, nthreads, buf, &in_info)) != YQ_OK)
        goto out;
    c.sequential = r->gptq_sequential;
    c.bias_correction = r->bias_correction;
    c.input_correction = r->gptq_sequential && r->gptq_input_correction;
    /* Stages (sequential GPTQ): the GPTQ layers in topological order (the
     * graph is sorted), split into equal runs. Hessian passes: a new pass at
     * every stage and whenever the Hessians held at once would exceed the
     * budget. */
    const int64_t P = opts->hessian_positions;
    int npasses = 0, ngptq = 0;
    size_t peak = 0;
    for (int li = 0; li < c.nl; li++) ngptq += c.L[li].gptq;
    {
        const int nstages = c.sequential ? r->gptq_stages : 1;
        size_t acc = 0;
        int k = 0, last_stage = -1;
        for (int li = 0; li < c.nl; li++) {
            layer *l = &c.L[li];
            if (!l->gptq) continue;
            l->stage = (int)((int64_t)k++ * nstages / ngptq);
            size_t rows_n = (size_t)l->ngroups * (size_t)P * (size_t)l->K;
            size_t need = ((size_t)l->ngroups * (size_t)l->K * (size_t)l->K * sizeof(double) + rows_n * sizeof(float)) *
                          (c.input_correction ? 2 : 1);
            if (npasses == 0 || l->stage != last_stage || (acc + need > opts->hessian_budget && acc > 0)) {
                npasses++;
                acc = 0;
            }
            last_stage = l->stage;
            acc += need;
            if (acc > peak) peak = acc;
            l->pass = npasses - 1;
            if (c.bias_correction && l->is_conv) {
                l->mu_q = calloc((size_t)(l->ngroups * l->K), sizeof(double));
                if (!l->mu_q) {
                    st = yq_fail(YQ_ERR_NOMEM, "calibration: out of memory");
                    goto out;
                }
            }
        }
    }
    /* The float model's pass for the activation ranges (A8) of sequential
     * GPTQ; without it, pass 0 (which runs the float model) observes them. */
    /* Not needed when the passes run weights only and the ranges come from the
     * last pass (recalibrate_acts): pass 0, on the float model, observes them. */
    const int float_pass = c.sequential && c.na > 0 && !(r->act_ranges_quantized && !r->gptq_stage_acts);
    if (npasses == 0 && c.na > 0 && !float_pass) npasses = 1;
    int64_t kmax = 0;
    for (int li = 0; li < c.nl; li++)
        if (c.L[li].gptq && c.L[li].K > kmax) kmax = c.L[li].K;
    if (kmax > 0) {
        gram = malloc((size_t)(kmax * kmax) * sizeof *gram);
        if (!gram) {
            st = yq_fail(YQ_ERR_NOMEM, "calibration: out of memory for Hessians");
            goto out;
        }
        peak += (size_t)(kmax * kmax) * sizeof *gram;
    }

    double t0 = now_ms();
    /* The float session: calibration, and the reference of the report (W8A16
     * needs no calibration, but its report still compares outputs). */
    if (npasses > 0 || float_pass || (rep && opts->report_images > 0 && c.nl > 0)) {
        yq_graph *sg;
        if ((st = yq_graph_clone(g, &sg)) != YQ_OK) goto out;
        yq_session_opts so = {.nthreads = nthreads, .no_fusion = 1};
        if ((st = yq_session_new(sg, &so, &fs)) != YQ_OK) goto out;
        yq_session_set_hook(fs, hook, &c);
    }
    /* Round-to-nearest layers first: they need no calibration, and the
     * sequential passes then see them quantized. */
    order = malloc(((size_t)c.nl + 1) * sizeof *order);
    if (!order) {
        st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
        goto out;
    }
    {
        int n = 0;
        for (int li = 0; li < c.nl; li++)
            if (!c.L[li].gptq) order[n++] = li;
        if ((st = quantize_layers(&c, pool, order, n)) != YQ_OK) goto out;
    }
    const int recal = c.na > 0 && r->act_ranges_quantized;
    const int total_passes = npasses + float_pass + recal;
    first_of_pass = malloc(((size_t)npasses + 1) * sizeof *first_of_pass);
    if (!first_of_pass) {
        st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
        goto out;
    }
    for (int li = c.nl - 1; li >= 0; li--)
        if (c.L[li].gptq) first_of_pass[c.L[li].pass] = li;
    if (float_pass) {
        c.pass = -1;
        c.observe_acts = 1;
        for (int i = 0; i < ncalib && st == YQ_OK; i++) {
            if ((st = run_image(&c, fs, input, input_arg, i, buf, &in_info)) != YQ_OK) break;
            progress(&c, "calibrate", i + 1, (int64_t)total_passes * ncalib);
        }
        if (st != YQ_OK) goto out;
        if ((st = share_concat_ranges(&c)) != YQ_OK) goto out;
    }
    for (int pass = 0; pass < npasses && st == YQ_OK; pass++) {
        c.pass = pass;
        c.observe_acts = !float_pass && pass == 0;
        yq_session *ps = fs;
        if (c.sequential) {
            /* a fresh session each pass: the sess_map cache keys on the graph */
            c.sess_graph = NULL;
            /* bias corrections of the finished stages go into the model first */
            for (int li = 0; li < c.nl && st == YQ_OK && c.bias_correction; li++) {
                layer *l = &c.L[li];
                if (l->gptq && l->quantized && !l->bias_done && l->stage < c.L[first_of_pass[pass]].stage) {
                    st = correct_bias(&c, l);
                    l->bias_done = 1;
                }
            }
            if (st != YQ_OK) break;
            if ((st = stage_session(&c, c.L[first_of_pass[pass]].stage, r->gptq_stage_acts, nthreads, &qs)) != YQ_OK) break;
            ps = qs;
        }
        for (int li = 0; li < c.nl && st == YQ_OK; li++) {
            layer *l = &c.L[li];
            if (!l->gptq || l->pass != pass) continue;
            l->H = calloc((size_t)(l->ngroups * l->K * l->K), sizeof(double));
            l->rows = malloc((size_t)(l->ngroups * P * l->K) * sizeof(float));
            if (!l->H || !l->rows) st = yq_fail(YQ_ERR_NOMEM, "calibration: out of memory for Hessians");
            if (c.input_correction && st == YQ_OK) {
                l->C = calloc((size_t)(l->ngroups * l->K * l->K), sizeof(double));
                l->rows_f = malloc((size_t)(l->ngroups * P * l->K) * sizeof(float));
                if (!l->C || !l->rows_f) st = yq_fail(YQ_ERR_NOMEM, "calibration: out of memory for Hessians");
            }
        }
        for (int i = 0; i < ncalib && st == YQ_OK; i++) {
            if (c.input_correction) { /* the float rows at the same (seeded) positions */
                c.float_rows = 1;
                st = run_image(&c, fs, input, input_arg, i, buf, &in_info);
                c.float_rows = 0;
                if (st != YQ_OK) break;
            }
            for (int li = 0; li < c.nl; li++) c.L[li].nrows_img = 0;
            if ((st = run_image(&c, ps, input, input_arg, i, buf, &in_info)) != YQ_OK) break;
            if ((st = accumulate_image(&c, pool, gram)) != YQ_OK) break;
            progress(&c, "calibrate", (int64_t)(pass + float_pass) * ncalib + i + 1, (int64_t)total_passes * ncalib);
        }
        if (c.sequential) {
            yq_session_free(qs);
            qs = NULL;
            c.sess_graph = NULL;
        }
        if (st != YQ_OK) break;
        if (!float_pass && pass == 0 && (st = share_concat_ranges(&c)) != YQ_OK) break;
        /* GPTQ for this pass's layers (their Hessians are then released) */
        int n = 0;
        for (int li = 0; li < c.nl && st == YQ_OK; li++) {
            layer *l = &c.L[li];
            if (!l->gptq || l->pass != pass) continue;
            free(l->rows);
            free(l->rows_f);
            l->rows = l->rows_f = NULL;
            if (l->nrows_total == 0) {
                st = yq_fail(YQ_ERR_INVALID, "calibration: layer '%s' was never executed on the calibration "
                             "images (no data for its Hessian)", l->name);
                break;
            }
            for (int64_t gi = 0; gi < l->ngroups; gi++) {
                double *H = l->H + gi * l->K * l->K;
                for (int64_t a = 1; a < l->K; a++)
                    for (int64_t b = 0; b < a; b++) H[a * l->K + b] = H[b * l->K + a];
                yq_hessian_finalize(H, l->K, l->nrows_total);
                if (l->C) {
                    double *Cg = l->C + gi * l->K * l->K;
                    for (int64_t e = 0; e < l->K * l->K; e++) Cg[e] *= 2.0 / (double)l->nrows_total;
                }
            }
            order[n++] = li;
        }
        if (st != YQ_OK) break;
        st = quantize_layers(&c, pool, order, n);
        for (int k = 0; k < n; k++) {
            free(c.L[order[k]].H);
            free(c.L[order[k]].C);
            c.L[order[k]].H = NULL;
            c.L[order[k]].C = NULL;
        }
    }
    /* the bias corrections not made yet (all of them without sequential
     * GPTQ: the float session never sees them) */
    for (int li = 0; li < c.nl && st == YQ_OK && c.bias_correction; li++) {
        layer *l = &c.L[li];
        if (l->gptq && l->quantized && !l->bias_done) {
            st = correct_bias(&c, l);
            l->bias_done = 1;
        }
    }
    if (st != YQ_OK) goto out;
    if (npasses == 0 && !float_pass && (st = share_concat_ranges(&c)) != YQ_OK) goto out;
    if (recal && (st = recalibrate_acts(&c, ncalib, input, input_arg, nthreads, buf, &in_info,
                                        (int64_t)(total_passes - 1) * ncalib, (int64_t)total_passes * ncalib)) != YQ_OK)
        goto out;
    double t1 = now_ms();
    /* "bias": "int32" where the input is quantized: scale s_in·s_w per channel
     * (before the weight rewrite, which needs the float weight) */
    int nbias32 = 0;
    for (int li = 0; li < c.nl && st == YQ_OK; li++) {
        layer *l = &c.L[li];
        const yq_node *n = &g->nodes[l->node];
        if (!l->quantized || !l->cfg.weights.int32_bias || l->act_in[0] < 0 || n->ninputs < 3 || n->inputs[2] < 0)
            continue;
        if ((st = yq_qcdq_insert_bias_int32(g, l->node, c.A[l->act_in[0]].scale, &l->qp)) == YQ_OK) {
            l->int32_bias = 1;
            nbias32++;
        }
    }
    if (st != YQ_OK) goto out;
    /* rewrite: weights, then activations (appended nodes keep indices stable) */
    int nact = 0;
    if ((st = insert_quantizers(&c, g, INT32_MAX, 1, opts->format, &nact)) != YQ_OK) goto out;
    int nact_out = 0;
    if ((st = insert_output_quantizers(&c, g, &nact_out)) != YQ_OK) goto out;
    progress(&c, "quantize", c.nl, c.nl);
    yq_qcdq_counts before;
    yq_qcdq_count(g, &before);
    yq_qcdq_opset_note opset_note;
    if ((st = yq_qcdq_finalize_opset(g, &opset_note)) != YQ_OK) goto out;
    /* clean-up of the graph that is written (never folds a Q/DQ pair) */
    yq_qcdq_counts before_cleanup;
    yq_cleanup_stats cleanup;
    yq_qcdq_count(g, &before_cleanup);
    if ((st = yq_qcdq_cleanup(g, pool, &cleanup)) != YQ_OK) goto out;
    double t2 = now_ms();

    /* report: output SQNR against the float graph on the first nrep inputs */
    int nrep = opts->report_images < ncalib ? opts->report_images : ncalib;
    if (!rep || !fs) nrep = 0;
    double msig = 0, mnoise = 0;
    if (nrep > 0) {
        yq_graph *qg = NULL;
        if ((st = yq_graph_clone(g, &qg)) != YQ_OK) goto out;
        yq_session_opts so = {.nthreads = nthreads, .no_fusion = 1};
        if ((st = yq_session_new(qg, &so, &qs)) != YQ_OK) goto out;
        yq_session_set_hook(qs, hook, &c);
        int nout = yq_session_noutputs(fs);
        if (nout != yq_session_noutputs(qs)) {
            st = yq_fail(YQ_ERR_INTERNAL, "quantize: the quantized graph has %d outputs, the float one %d",
                         yq_session_noutputs(qs), nout);
            goto out;
        }
        float **fo = calloc((size_t)nout + 1, sizeof *fo);
        if (!fo) {
            st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
            goto out;
        }
        for (int i = 0; i < nrep && st == YQ_OK; i++) {
            c.report_mode = 1;
            if ((st = run_image(&c, fs, input, input_arg, i, buf, &in_info)) != YQ_OK) break;
            for (int k = 0; k < nout && st == YQ_OK; k++) {
                const yq_tensor *t = yq_session_output(fs, k);
                if (t->dtype != YQ_DT_FLOAT) continue;
                size_t nb = (size_t)yq_tensor_numel(t) * sizeof(float);
                free(fo[k]);
                fo[k] = malloc(nb ? nb : 1);
                if (!fo[k]) st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
                else memcpy(fo[k], t->data, nb);
            }
            if (st != YQ_OK) break;
            c.report_mode = 2;
            if ((st = run_image(&c, qs, input, input_arg, i, buf, &in_info)) != YQ_OK) break;
            for (int k = 0; k < nout; k++) {
                const yq_tensor *t = yq_session_output(qs, k);
                if (!fo[k] || t->dtype != YQ_DT_FLOAT) continue;
                const float *q = t->data;
                for (int64_t e = 0, n = yq_tensor_numel(t); e < n; e++) {
                    double d = (double)q[e] - (double)fo[k][e];
                    msig += (double)fo[k][e] * (double)fo[k][e];
                    mnoise += d * d;
                }
            }
            progress(&c, "report", i + 1, nrep);
        }
        for (int k = 0; k < nout; k++) free(fo[k]);
        free(fo);
        c.report_mode = 0;
        if (st != YQ_OK) goto out;
    }
    double t3 = now_ms();
    if (rep) {
        rep->layers = calloc((size_t)c.nl + 1, sizeof *rep->layers);
        if (!rep->layers) {
            st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
            goto out;
        }
        rep->nlayers = c.nl;
        for (int li = 0; li < c.nl; li++) {
            layer *l = &c.L[li];
            yq_ptq_layer *o = &rep->layers[li];
            o->name = strdup(l->name);
            o->op_type = strdup(l->op_type);
            if (!o->name || !o->op_type) {
                st = yq_fail(YQ_ERR_NOMEM, "quantize: out of memory");
                goto out;
            }
            o->bits = l->cfg.weights.bits;
            o->act_bits = l->cfg.acts.bits;
            o->gptq = l->gptq;
            o->rows = l->ref.rows;
            o->cols = l->ref.cols;
            o->params = l->ref.rows * l->ref.cols;
            o->weight_sqnr_db = l->wsqnr;
            o->output_sqnr_db = nrep > 0 ? (l->noise > 0 ? 10.0 * log10(l->sig / l->noise) : INFINITY) : NAN;
            o->gptq_loss = l->loss;
            o->int32_bias = l->int32_bias;
            o->gptq_stage = l->stage;
            o->damp_retries = l->damp_retries;
            o->dead_columns = l->dead_columns;
            o->bias_shift = l->bias_shift;
            if (l->act_in[0] >= 0) {
                o->act_scale = c.A[l->act_in[0]].scale;
                o->act_zero_point = c.A[l->act_in[0]].zp;
            }
        }
        rep->calib_images = ncalib;
        rep->equalized_pairs = c.eq_pairs;
        rep->hessian_passes = npasses;
        rep->hessian_peak_bytes = peak;
        rep->report_images = nrep;
        rep->output_sqnr_db = nrep > 0 ? (mnoise > 0 ? 10.0 * log10(msig / mnoise) : INFINITY) : NAN;
        /* stored precision: INT8 holding n < 8-bit weights (Clip format) counts n/8 */
        int64_t wb = initializer_bytes(g);
        if (opts->format == YQ_QCDQ_CLIP)
            for (int li = 0; li < c.nl; li++)
                if (c.L[li].cfg.weights.bits < 8)
                    wb -= rep->layers[li].params * (8 - c.L[li].cfg.weights.bits) / 8;
        rep->weight_bytes = wb;
        rep->float_weight_bytes = float_bytes;
        rep->act_quantizers = nact;
        rep->act_output_quantizers = nact_out;
        rep->int32_biases = nbias32;
        rep->counts_before_finalize = before;
        rep->counts_before_cleanup = before_cleanup;
        rep->cleanup = cleanup;
        rep->opset = opset_note;
        yq_qcdq_count(g, &rep->counts_after);
        rep->calib_ms = t1 - t0;
        rep->quantize_ms = t2 - t1;
        rep->report_ms = t3 - t2;
    }
out:
    if (st != YQ_OK && rep) yq_ptq_report_free(rep);
    free(gram);
    free(order);
    free(first_of_pass);
    free(buf);
    yq_session_free(fs);
    yq_session_free(qs);
    yq_pool_free(pool);
    free_ptq(&c);
    return st;
}
