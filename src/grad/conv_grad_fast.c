/* Threaded Conv backward through the runtime's packed SGEMM.
 *
 * Per image and group, with col = im2col(x) [Kc = Cg·kh·kw, OH·OW]:
 *     dw_g [Mg, Kc] += dy_g [Mg, OHW] · colᵀ        (one GEMM, K = OHW)
 *     dcol [Kc, OHW] = w_gᵀ [Kc, Mg] · dy_g          (one GEMM), then col2im into dx
 * A 1×1 stride-1 unpadded conv uses x itself as col and accumulates the second
 * GEMM straight into dx. Depthwise convs (one input channel per group) would
 * be GEMMs with a single row, so they get a direct per-channel loop instead.
 *
 * Determinism: the GEMM never splits K and gives bitwise identical results for
 * any thread count; im2col/col2im, the depthwise loop and the bias sums are
 * split over channels, each channel summed by one thread in a fixed order. So
 * the result does not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "grad/grad.h"

typedef struct fast_ctx {
    const yq_conv2d_shape *s;
    const float *x, *w, *dy;
    float *dx, *dw, *db;
    float *col; /* im2col / dcol buffer [Kc, OHW] */
    int64_t n, g;
} fast_ctx;

static void bias_rows(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const fast_ctx *c = arg;
    const yq_conv2d_shape *s = c->s;
    const int64_t OHW = s->OH * s->OW;
    for (int64_t m = b; m < e; m++) {
        double acc = 0;
        for (int64_t n = 0; n < s->N; n++) {
            const float *p = c->dy + (n * s->M + m) * OHW;
            for (int64_t i = 0; i < OHW; i++) acc += p[i];
        }
        c->db[m] += (float)acc;
    }
}

/* col[(c·kh + ki)·kw + kj, oh·OW + ow] = x[c, ih, iw] (0 in the padding). */
static void im2col_rows(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const fast_ctx *c = arg;
    const yq_conv2d_shape *s = c->s;
    const int64_t Cg = s->C / s->group, KK = s->kh * s->kw, OHW = s->OH * s->OW;
    for (int64_t ch = b; ch < e; ch++) {
        const float *xp = c->x + (c->n * s->C + c->g * Cg + ch) * s->H * s->W;
        for (int64_t k = 0; k < KK; k++) {
            const int64_t ki = k / s->kw, kj = k % s->kw;
            float *row = c->col + (ch * KK + k) * OHW;
            for (int64_t oh = 0; oh < s->OH; oh++) {
                const int64_t ih = oh * s->stride_h - s->pad_t + ki * s->dil_h;
                float *r = row + oh * s->OW;
                if (ih < 0 || ih >= s->H) {
                    memset(r, 0, (size_t)s->OW * sizeof(float));
                    continue;
                }
                const float *xr = xp + ih * s->W;
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                    r[ow] = (iw >= 0 && iw < s->W) ? xr[iw] : 0.0f;
                }
            }
        }
    }
}

/* dx[c, ih, iw] += Σ dcol over the taps that read (ih, iw); one channel per task. */
static void col2im_rows(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const fast_ctx *c = arg;
    const yq_conv2d_shape *s = c->s;
    const int64_t Cg = s->C / s->group, KK = s->kh * s->kw, OHW = s->OH * s->OW;
    for (int64_t ch = b; ch < e; ch++) {
        float *dxp = c->dx + (c->n * s->C + c->g * Cg + ch) * s->H * s->W;
        for (int64_t k = 0; k < KK; k++) {
            const int64_t ki = k / s->kw, kj = k % s->kw;
            const float *row = c->col + (ch * KK + k) * OHW;
            for (int64_t oh = 0; oh < s->OH; oh++) {
                const int64_t ih = oh * s->stride_h - s->pad_t + ki * s->dil_h;
                if (ih < 0 || ih >= s->H) continue;
                float *dr = dxp + ih * s->W;
                const float *r = row + oh * s->OW;
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                    if (iw >= 0 && iw < s->W) dr[iw] += r[ow];
                }
            }
        }
    }
}

/* Depthwise (Cg = 1, Mg = 1): channel m reads only input channel m. */
static void depthwise_rows(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const fast_ctx *c = arg;
    const yq_conv2d_shape *s = c->s;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW, KK = s->kh * s->kw;
    for (int64_t m = b; m < e; m++) {
        const float *wp = c->w + m * KK;
        float *dwp = c->dw ? c->dw + m * KK : NULL;
        for (int64_t k = 0; k < KK; k++) {
            const int64_t ki = k / s->kw, kj = k % s->kw;
            const float wv = wp[k];
            double gw = 0;
            for (int64_t n = 0; n < s->N; n++) {
                const float *xp = c->x + (n * s->C + m) * HW;
                const float *dyp = c->dy + (n * s->M + m) * OHW;
                float *dxp = c->dx ? c->dx + (n * s->C + m) * HW : NULL;
                for (int64_t oh = 0; oh < s->OH; oh++) {
                    const int64_t ih = oh * s->stride_h - s->pad_t + ki * s->dil_h;
                    if (ih < 0 || ih >= s->H) continue;
                    const float *xr = xp + ih * s->W;
                    const float *d = dyp + oh * s->OW;
                    float acc = 0;
                    if (dxp) {
                        float *dxr = dxp + ih * s->W;
                        for (int64_t ow = 0; ow < s->OW; ow++) {
                            const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                            if (iw < 0 || iw >= s->W) continue;
                            dxr[iw] += wv * d[ow];
                            acc += xr[iw] * d[ow];
                        }
                    } else {
                        for (int64_t ow = 0; ow < s->OW; ow++) {
                            const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                            if (iw < 0 || iw >= s->W) continue;
                            acc += xr[iw] * d[ow];
                        }
                    }
                    gw += acc;
                }
            }
            if (dwp) dwp[k] += (float)gw;
        }
    }
}

yq_status yq_grad_conv2d_backward_fast(yq_pool *pool, const yq_conv2d_shape *s, const float *x, const float *w,
                                       const float *dy, float *dx, float *dw, float *db) {
    fast_ctx c = {.s = s, .x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .db = db};
    if (db) yq_parallel_for(pool, s->M, 1, bias_rows, &c);
    if (!dx && !dw) return YQ_OK;
    const int64_t Cg = s->C / s->group, Mg = s->M / s->group;
    const int64_t KK = s->kh * s->kw, Kc = Cg * KK, OHW = s->OH * s->OW, HW = s->H * s->W;
    if (s->group == s->C && s->group == s->M) {
        yq_parallel_for(pool, s->M, 1, depthwise_rows, &c);
        return YQ_OK;
    }
    const int direct = s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_t == 0 &&
                       s->pad_l == 0 && s->pad_b == 0 && s->pad_r == 0 && s->OH == s->H && s->OW == s->W;
    size_t bytes;
    if (yq_mul_overflow((size_t)Kc, (size_t)OHW * sizeof(float), &bytes))
        return yq_fail(YQ_ERR_LIMIT, "conv backward: im2col buffer too large");
    float *col = direct ? NULL : yq_aligned_alloc(64, bytes);
    if (!direct && !col) return YQ_ERR_NOMEM;
    c.col = col;
    yq_status st = YQ_OK;
    for (int64_t n = 0; n < s->N && st == YQ_OK; n++)
        for (int64_t g = 0; g < s->group && st == YQ_OK; g++) {
            c.n = n, c.g = g;
            const float *dyg = dy + (n * s->M + g * Mg) * OHW;
            const float *xg = x + (n * s->C + g * Cg) * HW;
            if (dw) {
                const float *cols = xg;
                if (!direct) {
                    yq_parallel_for(pool, Cg, 1, im2col_rows, &c);
                    cols = col;
                }
                st = yq_sgemm(pool, 0, 1, Mg, Kc, OHW, dyg, OHW, cols, OHW, dw + g * Mg * Kc, Kc, 1, NULL, NULL);
                if (st != YQ_OK) break;
            }
            if (dx) {
                const float *wg = w + g * Mg * Kc;
                if (direct) {
                    st = yq_sgemm(pool, 1, 0, Kc, OHW, Mg, wg, Kc, dyg, OHW, dx + (n * s->C + g * Cg) * HW, OHW, 1,
                                  NULL, NULL);
                } else {
                    st = yq_sgemm(pool, 1, 0, Kc, OHW, Mg, wg, Kc, dyg, OHW, col, OHW, 0, NULL, NULL);
                    if (st == YQ_OK) yq_parallel_for(pool, Cg, 1, col2im_rows, &c);
                }
            }
        }
    free(col);
    return st;
}
