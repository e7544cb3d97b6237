/* Forward/backward kernels of the non-conv ops: activations, broadcasting
 * Add/Mul, Concat/Split, MaxPool, nearest Resize, Reshape/Transpose, MatMul,
 * Softmax. */
#include <math.h>
#include <string.h>

#include "grad/grad.h"
#include "rt/kernels/gemm.h"

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ---- activations ---------------------------------------------------------- */
void yq_grad_silu_forward(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf_(x[i]);
}
void yq_grad_silu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        const float s = sigmoidf_(x[i]);
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
void yq_grad_sigmoid_forward(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = sigmoidf_(x[i]);
}
void yq_grad_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

/* ---- broadcasting ------------------------------------------------------------ */
yq_status yq_bcast_init(yq_bcast *bc, int ra, const int64_t *da, int rb, const int64_t *db) {
    if (ra < 0 || rb < 0 || ra > YQ_GRAD_MAX_RANK || rb > YQ_GRAD_MAX_RANK)
        return yq_fail(YQ_ERR_ARG, "broadcast: rank above %d", YQ_GRAD_MAX_RANK);
    memset(bc, 0, sizeof *bc);
    const int r = ra > rb ? ra : rb;
    bc->rank = r;
    int64_t ea[YQ_GRAD_MAX_RANK], eb[YQ_GRAD_MAX_RANK];
    for (int i = 0; i < r; i++) {
        ea[i] = i - (r - ra) >= 0 ? da[i - (r - ra)] : 1;
        eb[i] = i - (r - rb) >= 0 ? db[i - (r - rb)] : 1;
        if (ea[i] < 0 || eb[i] < 0) return yq_fail(YQ_ERR_ARG, "broadcast: negative dimension");
        if (ea[i] != eb[i] && ea[i] != 1 && eb[i] != 1)
            return yq_fail(YQ_ERR_INVALID, "broadcast: dimensions %lld and %lld of axis %d are incompatible",
                           (long long)ea[i], (long long)eb[i], i);
        bc->out[i] = ea[i] == 1 ? eb[i] : ea[i];
    }
    int64_t sa = 1, sb = 1;
    bc->n = 1;
    for (int i = r - 1; i >= 0; i--) {
        bc->sa[i] = ea[i] == 1 ? 0 : sa;
        bc->sb[i] = eb[i] == 1 ? 0 : sb;
        sa *= ea[i];
        sb *= eb[i];
        bc->n *= bc->out[i];
    }
    bc->na = sa;
    bc->nb = sb;
    return YQ_OK;
}

/* Visit every output element in order with the matching offsets into a and b. */
#define BCAST_LOOP(bc, BODY)                                                                     \
    do {                                                                                         \
        int64_t idx_[YQ_GRAD_MAX_RANK] = {0};                                                    \
        int64_t oa = 0, ob = 0;                                                                  \
        for (int64_t i = 0; i < (bc)->n; i++) {                                                  \
            BODY;                                                                                \
            for (int d_ = (bc)->rank - 1; d_ >= 0; d_--) {                                       \
                idx_[d_]++;                                                                      \
                oa += (bc)->sa[d_];                                                              \
                ob += (bc)->sb[d_];                                                              \
                if (idx_[d_] < (bc)->out[d_]) break;                                             \
                oa -= (bc)->sa[d_] * idx_[d_];                                                   \
                ob -= (bc)->sb[d_] * idx_[d_];                                                   \
                idx_[d_] = 0;                                                                    \
            }                                                                                    \
        }                                                                                        \
    } while (0)

void yq_grad_add_forward(const yq_bcast *bc, const float *a, const float *b, float *y) {
    BCAST_LOOP(bc, y[i] = a[oa] + b[ob]);
}
void yq_grad_add_backward(const yq_bcast *bc, const float *dy, float *da, float *db) {
    BCAST_LOOP(bc, {
        if (da) da[oa] += dy[i];
        if (db) db[ob] += dy[i];
    });
}
void yq_grad_mul_forward(const yq_bcast *bc, const float *a, const float *b, float *y) {
    BCAST_LOOP(bc, y[i] = a[oa] * b[ob]);
}
void yq_grad_mul_backward(const yq_bcast *bc, const float *a, const float *b, const float *dy, float *da,
                          float *db) {
    BCAST_LOOP(bc, {
        if (da) da[oa] += dy[i] * b[ob];
        if (db) db[ob] += dy[i] * a[oa];
    });
}

/* ---- Concat / Split ----------------------------------------------------------- */
static int64_t total_len(int n, const int64_t *len) {
    int64_t t = 0;
    for (int i = 0; i < n; i++) t += len[i];
    return t;
}
void yq_grad_concat_forward(int nin, const float *const *x, const int64_t *len, int64_t outer, int64_t inner,
                            float *y) {
    const int64_t L = total_len(nin, len);
    for (int64_t o = 0; o < outer; o++) {
        int64_t at = 0;
        for (int i = 0; i < nin; i++) {
            memcpy(y + (o * L + at) * inner, x[i] + o * len[i] * inner, (size_t)(len[i] * inner) * sizeof(float));
            at += len[i];
        }
    }
}
void yq_grad_concat_backward(int nin, const float *dy, const int64_t *len, int64_t outer, int64_t inner,
                             float *const *dx) {
    const int64_t L = total_len(nin, len);
    for (int64_t o = 0; o < outer; o++) {
        int64_t at = 0;
        for (int i = 0; i < nin; i++) {
            if (dx[i]) {
                const float *src = dy + (o * L + at) * inner;
                float *dst = dx[i] + o * len[i] * inner;
                for (int64_t k = 0; k < len[i] * inner; k++) dst[k] += src[k];
            }
            at += len[i];
        }
    }
}
void yq_grad_split_forward(int nout, const float *x, const int64_t *len, int64_t outer, int64_t inner,
                           float *const *y) {
    const int64_t L = total_len(nout, len);
    for (int64_t o = 0; o < outer; o++) {
        int64_t at = 0;
        for (int i = 0; i < nout; i++) {
            memcpy(y[i] + o * len[i] * inner, x + (o * L + at) * inner, (size_t)(len[i] * inner) * sizeof(float));
            at += len[i];
        }
    }
}
void yq_grad_split_backward(int nout, const float *const *dy, const int64_t *len, int64_t outer, int64_t inner,
                            float *dx) {
    const int64_t L = total_len(nout, len);
    for (int64_t o = 0; o < outer; o++) {
        int64_t at = 0;
        for (int i = 0; i < nout; i++) {
            if (dy[i]) {
                const float *src = dy[i] + o * len[i] * inner;
                float *dst = dx + (o * L + at) * inner;
                for (int64_t k = 0; k < len[i] * inner; k++) dst[k] += src[k];
            }
            at += len[i];
        }
    }
}

/* ---- MaxPool ---------------------------------------------------------------------- */
yq_status yq_pool2d_shape_check(yq_pool2d_shape *s) {
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->kh < 1 || s->kw < 1 || s->stride_h < 1 ||
        s->stride_w < 1 || s->dil_h < 1 || s->dil_w < 1 || s->pad_t < 0 || s->pad_l < 0 || s->pad_b < 0 ||
        s->pad_r < 0)
        return yq_fail(YQ_ERR_INVALID, "maxpool: non-positive size, stride or dilation, or negative pad");
    s->OH = yq_conv_out_dim(s->H, s->kh, s->stride_h, s->dil_h, s->pad_t, s->pad_b);
    s->OW = yq_conv_out_dim(s->W, s->kw, s->stride_w, s->dil_w, s->pad_l, s->pad_r);
    if (s->OH < 1 || s->OW < 1) return yq_fail(YQ_ERR_INVALID, "maxpool: the window does not fit the input");
    return YQ_OK;
}
void yq_grad_maxpool2d_forward(const yq_pool2d_shape *s, const float *x, float *y, int64_t *argmax) {
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                int64_t best = -1;
                float bv = 0;
                for (int64_t ki = 0; ki < s->kh; ki++) {
                    const int64_t ih = oh * s->stride_h - s->pad_t + ki * s->dil_h;
                    if (ih < 0 || ih >= s->H) continue;
                    for (int64_t kj = 0; kj < s->kw; kj++) {
                        const int64_t iw = ow * s->stride_w - s->pad_l + kj * s->dil_w;
                        if (iw < 0 || iw >= s->W) continue;
                        const float v = x[p * HW + ih * s->W + iw];
                        if (best < 0 || v > bv) best = ih * s->W + iw, bv = v;
                    }
                }
                y[p * OHW + oh * s->OW + ow] = bv;
                argmax[p * OHW + oh * s->OW + ow] = best;
            }
}
void yq_grad_maxpool2d_backward(const yq_pool2d_shape *s, const int64_t *argmax, const float *dy, float *dx) {
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t i = 0; i < OHW; i++)
            if (argmax[p * OHW + i] >= 0) dx[p * HW + argmax[p * OHW + i]] += dy[p * OHW + i];
}

/* ---- Resize nearest ------------------------------------------------------------------ */
void yq_resize_nearest_map(int64_t in, int64_t out, int64_t *map) {
    const double scale = (double)out / (double)in;
    for (int64_t o = 0; o < out; o++) {
        const double src = ((double)o + 0.5) / scale - 0.5;
        /* round_prefer_floor: halves go down */
        const double fl = floor(src);
        int64_t r = (int64_t)(src - fl > 0.5 ? fl + 1 : fl);
        map[o] = r < 0 ? 0 : r >= in ? in - 1 : r;
    }
}
void yq_grad_resize_nearest_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                    const int64_t *my, const int64_t *mx, const float *x, float *y) {
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) y[(p * OH + i) * OW + j] = x[(p * H + my[i]) * W + mx[j]];
}
void yq_grad_resize_nearest_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                     const int64_t *my, const int64_t *mx, const float *dy, float *dx) {
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) dx[(p * H + my[i]) * W + mx[j]] += dy[(p * OH + i) * OW + j];
}

/* ---- Reshape / Transpose ----------------------------------------------------------------- */
void yq_grad_reshape_backward(int64_t n, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}

/* Walk y in order; xoff follows the permuted strides of x. acc: += instead of =,
 * and from y back into x (the backward direction). */
static void transpose_walk(int rank, const int64_t *dims, const int *perm, const float *src, float *dst, int back) {
    int64_t xs[YQ_GRAD_MAX_RANK], ys[YQ_GRAD_MAX_RANK], yd[YQ_GRAD_MAX_RANK], idx[YQ_GRAD_MAX_RANK] = {0};
    int64_t n = 1, st = 1;
    for (int i = rank - 1; i >= 0; i--) xs[i] = st, st *= dims[i];
    for (int i = 0; i < rank; i++) yd[i] = dims[perm[i]], ys[i] = xs[perm[i]], n *= yd[i];
    int64_t xo = 0;
    for (int64_t i = 0; i < n; i++) {
        if (back) dst[xo] += src[i];
        else dst[i] = src[xo];
        for (int d = rank - 1; d >= 0; d--) {
            idx[d]++;
            xo += ys[d];
            if (idx[d] < yd[d]) break;
            xo -= ys[d] * idx[d];
            idx[d] = 0;
        }
    }
}
void yq_grad_transpose_forward(int rank, const int64_t *dims, const int *perm, const float *x, float *y) {
    transpose_walk(rank, dims, perm, x, y, 0);
}
void yq_grad_transpose_backward(int rank, const int64_t *dims, const int *perm, const float *dy, float *dx) {
    transpose_walk(rank, dims, perm, dy, dx, 1);
}

/* ---- MatMul (the runtime's packed SGEMM) ------------------------------------------------------ */
yq_status yq_grad_matmul_forward(int64_t batch, int64_t M, int64_t K, int64_t N, const float *a, const float *w,
                                 int wbatch, float *y) {
    for (int64_t b = 0; b < batch; b++)
        YQ_TRY(yq_sgemm(NULL, 0, 0, M, N, K, a + b * M * K, K, w + (wbatch ? b * K * N : 0), N, y + b * M * N, N, 0,
                        NULL, NULL));
    return YQ_OK;
}
yq_status yq_grad_matmul_backward(int64_t batch, int64_t M, int64_t K, int64_t N, const float *a, const float *w,
                                  int wbatch, const float *dy, float *da, float *dw) {
    for (int64_t b = 0; b < batch; b++) {
        const float *wb = w + (wbatch ? b * K * N : 0);
        if (da) /* da[M,K] += dy[M,N] · wᵀ */
            YQ_TRY(yq_sgemm(NULL, 0, 1, M, K, N, dy + b * M * N, N, wb, N, da + b * M * K, K, 1, NULL, NULL));
        if (dw) /* dw[K,N] += aᵀ · dy */
            YQ_TRY(yq_sgemm(NULL, 1, 0, K, N, M, a + b * M * K, K, dy + b * M * N, N, dw + (wbatch ? b * K * N : 0), N,
                            1, NULL, NULL));
    }
    return YQ_OK;
}

/* ---- Softmax ------------------------------------------------------------------------------------ */
void yq_grad_softmax_forward(int64_t rows, int64_t n, const float *x, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mx = xr[0];
        for (int64_t i = 1; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += (yr[i] = expf(xr[i] - mx));
        const float inv = (float)(1.0 / s);
        for (int64_t i = 0; i < n; i++) yr[i] *= inv;
    }
}
void yq_grad_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dy, float *dx) {
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dr = dy + r * n;
        double dot = 0;
        for (int64_t i = 0; i < n; i++) dot += (double)dr[i] * yr[i];
        for (int64_t i = 0; i < n; i++) dx[r * n + i] += yr[i] * (dr[i] - (float)dot);
    }
}
