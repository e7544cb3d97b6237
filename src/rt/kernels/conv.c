/* conv family kernels: Conv (and registration of MatMul/Gemm from matmul.c).
 * See rt/ops.h for the op table contract and conv.h for the kernel API.
 *
 * Layout of this file: the references (yq_conv2d_ref, yq_convnd_ref); the B
 * sources / kernels of each algorithm (im2col packer, depthwise, the padded
 * phase copy of the direct path); plans (algorithm choice, weight packing,
 * scratch sizes) and yq_conv2d_run; then the Conv op (attributes, infer,
 * prepare/run/release, flops). */
#include "rt/kernels/conv.h"

#include <immintrin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/conv_winograd.h"
#include "rt/kernels/simd_math.h"
#include "rt/ops.h"

#include <stdatomic.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static inline float apply_act(float v, yq_act act) { return act == YQ_ACT_SILU ? yq_silu_ref(v) : v; }

/* ---- shapes -------------------------------------------------------------- */
yq_status yq_conv2d_shape_check(yq_conv2d_shape *s) {
    if (s->N < 0 || s->C < 1 || s->H < 1 || s->W < 1 || s->M < 1 || s->kh < 1 || s->kw < 1)
        return yq_fail(YQ_ERR_INVALID, "conv2d: bad sizes N=%lld C=%lld H=%lld W=%lld M=%lld kernel %lldx%lld",
                       (long long)s->N, (long long)s->C, (long long)s->H, (long long)s->W, (long long)s->M,
                       (long long)s->kh, (long long)s->kw);
    if (s->stride_h < 1 || s->stride_w < 1 || s->dil_h < 1 || s->dil_w < 1)
        return yq_fail(YQ_ERR_INVALID, "conv2d: strides and dilations must be >= 1");
    if (s->pad_t < 0 || s->pad_l < 0 || s->pad_b < 0 || s->pad_r < 0)
        return yq_fail(YQ_ERR_INVALID, "conv2d: pads must be >= 0");
    if (s->group < 1 || s->C % s->group || s->M % s->group)
        return yq_fail(YQ_ERR_INVALID, "conv2d: group %lld does not divide %lld input and %lld output channels",
                       (long long)s->group, (long long)s->C, (long long)s->M);
    s->OH = yq_conv_out_dim(s->H, s->kh, s->stride_h, s->dil_h, s->pad_t, s->pad_b);
    s->OW = yq_conv_out_dim(s->W, s->kw, s->stride_w, s->dil_w, s->pad_l, s->pad_r);
    if (s->OH < 1 || s->OW < 1)
        return yq_fail(YQ_ERR_INVALID, "conv2d: kernel %lldx%lld (dilation %lld,%lld) does not fit the padded %lldx%lld input",
                       (long long)s->kh, (long long)s->kw, (long long)s->dil_h, (long long)s->dil_w,
                       (long long)(s->H + s->pad_t + s->pad_b), (long long)(s->W + s->pad_l + s->pad_r));
    return YQ_OK;
}

/* ---- reference ----------------------------------------------------------- */
void yq_conv2d_ref(const yq_conv2d_shape *s, const float *X, const float *Wt, const float *B, yq_act act,
                   float *Y) {
    const int64_t Cg = s->C / s->group, Mg = s->M / s->group;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t m = 0; m < s->M; m++) {
            const int64_t g = m / Mg;
            for (int64_t oy = 0; oy < s->OH; oy++)
                for (int64_t ox = 0; ox < s->OW; ox++) {
                    double acc = 0;
                    for (int64_t c = 0; c < Cg; c++) {
                        const float *xp = X + ((n * s->C) + g * Cg + c) * s->H * s->W;
                        const float *wp = Wt + ((m * Cg) + c) * s->kh * s->kw;
                        for (int64_t ky = 0; ky < s->kh; ky++) {
                            int64_t iy = oy * s->stride_h - s->pad_t + ky * s->dil_h;
                            if (iy < 0 || iy >= s->H) continue;
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t ix = ox * s->stride_w - s->pad_l + kx * s->dil_w;
                                if (ix < 0 || ix >= s->W) continue;
                                acc += (double)xp[iy * s->W + ix] * wp[ky * s->kw + kx];
                            }
                        }
                    }
                    float v = (float)acc + (B ? B[m] : 0.0f);
                    Y[((n * s->M + m) * s->OH + oy) * s->OW + ox] = apply_act(v, act);
                }
        }
}

void yq_convnd_ref(int nd, int64_t N, int64_t C, const int64_t *in, int64_t M, const int64_t *k, int64_t group,
                   const int64_t *strides, const int64_t *dils, const int64_t *pads, const int64_t *out,
                   const float *X, const float *Wt, const float *B, yq_act act, float *Y) {
    const int64_t Cg = C / group, Mg = M / group;
    int64_t in_size = 1, out_size = 1, k_size = 1;
    for (int d = 0; d < nd; d++) {
        in_size *= in[d];
        out_size *= out[d];
        k_size *= k[d];
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            const int64_t g = m / Mg;
            for (int64_t o = 0; o < out_size; o++) {
                int64_t opos[YQ_CONV_MAX_SPATIAL];
                int64_t r = o;
                for (int d = nd - 1; d >= 0; d--) {
                    opos[d] = r % out[d];
                    r /= out[d];
                }
                double acc = 0;
                for (int64_t c = 0; c < Cg; c++) {
                    const float *xp = X + (n * C + g * Cg + c) * in_size;
                    const float *wp = Wt + (m * Cg + c) * k_size;
                    for (int64_t kk = 0; kk < k_size; kk++) {
                        int64_t kr = kk, off = 0, stride = 1;
                        int inside = 1;
                        for (int d = nd - 1; d >= 0; d--) {
                            int64_t kd = kr % k[d];
                            kr /= k[d];
                            int64_t i = opos[d] * strides[d] - pads[d] + kd * dils[d];
                            if (i < 0 || i >= in[d]) {
                                inside = 0;
                                break;
                            }
                            off += i * stride;
                            stride *= in[d];
                        }
                        if (inside) acc += (double)xp[off] * wp[kk];
                    }
                }
                float v = (float)acc + (B ? B[m] : 0.0f);
                Y[(n * M + m) * out_size + o] = apply_act(v, act);
            }
        }
}

/* ---- im2col as a GEMM B source ------------------------------------------- */
/* Row k of the virtual im2col matrix is (channel, ky, kx); column n is the
 * output position (oy, ox). pack() writes the requested block straight into
 * the GEMM's panel layout, so the full im2col matrix never exists. */
typedef struct im2col_ctx {
    const float *X; /* first input channel of the group, one image */
    int64_t H, W, kh, kw, sh, sw, dh, dw, pt, pl, OW;
} im2col_ctx;

static void pack_b_im2col(const void *vctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
    const im2col_ctx *c = vctx;
    const int64_t khw = c->kh * c->kw;
    const int64_t tail = (nc + nr - 1) / nr * nr - nc;
    for (int64_t k = 0; k < kc; k++) {
        const int64_t kk = k0 + k, ci = kk / khw, kr = kk % khw, ky = kr / c->kw, kx = kr % c->kw;
        const float *plane = c->X + ci * c->H * c->W;
        int64_t n = n0, end = n0 + nc, oy = n0 / c->OW, ox = n0 % c->OW;
        /* One output row at a time: its inputs are one (strided) input row,
         * or zeros when that row is in the padding. */
        while (n < end) {
            const int64_t seg = min64(c->OW - ox, end - n);
            const int64_t iy = oy * c->sh - c->pt + ky * c->dh;
            const float *src = (iy >= 0 && iy < c->H) ? plane + iy * c->W : NULL;
            yq_pack_put_row(dst, kc, nr, k, n - n0, seg, src, ox * c->sw - c->pl + kx * c->dw, c->W, c->sw);
            n += seg;
            ox = 0;
            oy++;
        }
        if (tail) yq_pack_put_row(dst, kc, nr, k, nc, tail, NULL, 0, 0, 1);
    }
}

/* ---- depthwise ----------------------------------------------------------- */
/* A row of outputs is a sum of kh·kw scaled (strided) input rows. The AVX-512
 * kernel reads the plane in place and gets the zero padding from load masks;
 * the AVX2 and scalar kernels read a zero-bordered copy of the plane (per
 * thread, in scratch) so that their loops need no bounds checks. */
typedef struct dw_geom {
    int64_t H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW;
    int64_t Hp, Wp; /* padded plane */
} dw_geom;

static void dw_pad_plane(const dw_geom *g, const float *x, float *P) {
    for (int64_t r = 0; r < g->Hp; r++) {
        float *prow = P + r * g->Wp;
        const int64_t iy = r - g->pt;
        if (iy < 0 || iy >= g->H) {
            memset(prow, 0, (size_t)g->Wp * sizeof(float));
            continue;
        }
        const int64_t left = min64(g->pl, g->Wp), ncopy = max64(0, min64(g->W, g->Wp - left));
        memset(prow, 0, (size_t)left * sizeof(float));
        memcpy(prow + left, x + iy * g->W, (size_t)ncopy * sizeof(float));
        if (left + ncopy < g->Wp) memset(prow + left + ncopy, 0, (size_t)(g->Wp - left - ncopy) * sizeof(float));
    }
}

static void dw_plane_scalar(const dw_geom *g, const float *P, const float *w, float bias, yq_act act, float *y) {
    for (int64_t oy = 0; oy < g->OH; oy++) {
        float *yrow = y + oy * g->OW;
        for (int64_t ox = 0; ox < g->OW; ox++) {
            float acc = 0.0f;
            for (int64_t ky = 0; ky < g->kh; ky++) {
                const float *prow = P + (oy * g->sh + ky * g->dh) * g->Wp + ox * g->sw;
                for (int64_t kx = 0; kx < g->kw; kx++) acc += w[ky * g->kw + kx] * prow[kx * g->dw];
            }
            yrow[ox] = acc;
        }
        yq_apply_bias_act(yrow, g->OW, bias, act);
    }
}


/* 8 outputs of a row starting at q: stride 1 is one load, stride 2 two
 * loads whose even lanes are gathered ([a0 a2 b0 b2 | a4 a6 b4 b6], then
 * 64-bit lanes 0,2,1,3). */
AVX2_TARGET static inline __m256 dw_load8_avx2(const float *q, int stride2) {
    if (!stride2) return _mm256_loadu_ps(q);
    const __m256 ev = _mm256_shuffle_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
}

/* Strides 1 and 2 on the zero-bordered plane. Every output, the row's tail
 * included, goes through the vector loop (bias and SiLU in registers, a
 * masked store for the last < 8 columns): the scalar tail and per-row
 * epilogue call used to cost more than the taps on 20×20 planes. Loads of
 * the tail vector run past the row (into the next row or the scratch
 * slack); those lanes are never stored. */
AVX2_TARGET static inline __attribute__((always_inline)) void
dw_plane_avx2_impl(const dw_geom *g, const float *P, const float *w, float bias, yq_act act, float *y,
                   const int stride2) {
    const int64_t sw = stride2 ? 2 : 1, OW = g->OW;
    const __m256 bv = _mm256_set1_ps(bias);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(OW % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t oy = 0; oy < g->OH; oy++) {
        float *yrow = y + oy * OW;
        const float *prow0 = P + oy * g->sh * g->Wp;
        int64_t ox = 0;
        for (; ox + 16 <= OW; ox += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int64_t ky = 0; ky < g->kh; ky++) {
                const float *prow = prow0 + ky * g->dh * g->Wp + ox * sw;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    const __m256 wv = _mm256_set1_ps(w[ky * g->kw + kx]);
                    const float *q = prow + kx * g->dw;
                    a0 = _mm256_fmadd_ps(wv, dw_load8_avx2(q, stride2), a0);
                    a1 = _mm256_fmadd_ps(wv, dw_load8_avx2(q + 8 * sw, stride2), a1);
                }
            }
            a0 = _mm256_add_ps(a0, bv);
            a1 = _mm256_add_ps(a1, bv);
            if (act == YQ_ACT_SILU) {
                a0 = yq_silu_avx2(a0);
                a1 = yq_silu_avx2(a1);
            }
            _mm256_storeu_ps(yrow + ox, a0);
            _mm256_storeu_ps(yrow + ox + 8, a1);
        }
        for (; ox < OW; ox += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t ky = 0; ky < g->kh; ky++) {
                const float *prow = prow0 + ky * g->dh * g->Wp + ox * sw;
                for (int64_t kx = 0; kx < g->kw; kx++)
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(w[ky * g->kw + kx]), dw_load8_avx2(prow + kx * g->dw, stride2),
                                          acc);
            }
            acc = _mm256_add_ps(acc, bv);
            if (act == YQ_ACT_SILU) acc = yq_silu_avx2(acc);
            if (ox + 8 <= OW)
                _mm256_storeu_ps(yrow + ox, acc);
            else
                _mm256_maskstore_ps(yrow + ox, tail, acc);
        }
    }
}

AVX2_TARGET static void dw_plane_avx2(const dw_geom *g, const float *P, const float *w, float bias, yq_act act,
                                      float *y) {
    if (g->sw == 2)
        dw_plane_avx2_impl(g, P, w, bias, act, y, 1);
    else
        dw_plane_avx2_impl(g, P, w, bias, act, y, 0);
}

enum { DW_ROWS = 4, DW_VECS = 2, DW_MAX_KW = 16, DW_MAX_STRIPS = 64 };

/* Per strip of 32 output columns: output lane masks and, per kx, the input
 * lane masks (lo/hi: the two 16-float loads of stride 2). */
typedef struct dw_strip_masks {
    __mmask16 out[DW_VECS];
    __mmask16 lo[DW_MAX_KW][DW_VECS], hi[DW_MAX_KW][DW_VECS];
} dw_strip_masks;

/* One block of DW_ROWS output rows × DW_VECS vectors: 8 independent
 * accumulators, no branches in the tap loop. Rows whose input row is outside
 * the plane read `zero_row` instead; columns outside [0, W) are masked off. */
AVX512_TARGET static inline __attribute__((always_inline)) void
dw_block_avx512(const dw_geom *g, const float *x, const float *zero_row, const float *w, float bias, yq_act act,
                int64_t oy, int64_t ox, const dw_strip_masks *m, float *y, const int stride2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const int64_t sw = stride2 ? 2 : 1;
    __m512 acc[DW_ROWS][DW_VECS];
#pragma GCC unroll 4
    for (int r = 0; r < DW_ROWS; r++)
#pragma GCC unroll 2
        for (int v = 0; v < DW_VECS; v++) acc[r][v] = _mm512_set1_ps(bias);
    for (int64_t ky = 0; ky < g->kh; ky++) {
        const float *xrow[DW_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < DW_ROWS; r++) {
            const int64_t iy = (oy + r) * g->sh - g->pt + ky * g->dh;
            xrow[r] = (oy + r < g->OH && iy >= 0 && iy < g->H) ? x + iy * g->W : zero_row;
        }
        const float *wk = w + ky * g->kw;
        int64_t col = ox * sw - g->pl;
        for (int64_t kx = 0; kx < g->kw; kx++, col += g->dw) {
            const __m512 wv = _mm512_set1_ps(wk[kx]);
#pragma GCC unroll 4
            for (int r = 0; r < DW_ROWS; r++)
#pragma GCC unroll 2
                for (int v = 0; v < DW_VECS; v++) {
                    const float *q = yq_offset_ptr(xrow[r], col + 16 * v * sw);
                    __m512 in = _mm512_maskz_loadu_ps(m->lo[kx][v], q);
                    if (stride2)
                        in = _mm512_permutex2var_ps(in, even, _mm512_maskz_loadu_ps(m->hi[kx][v], yq_offset_ptr(q, 16)));
                    acc[r][v] = _mm512_fmadd_ps(wv, in, acc[r][v]);
                }
        }
    }
    const int rows = (int)min64(DW_ROWS, g->OH - oy);
#pragma GCC unroll 4
    for (int r = 0; r < DW_ROWS; r++) {
        if (r >= rows) break;
#pragma GCC unroll 2
        for (int v = 0; v < DW_VECS; v++) {
            __m512 o = acc[r][v];
            if (act == YQ_ACT_SILU) o = yq_silu_avx512(o);
            _mm512_mask_storeu_ps(y + (oy + r) * g->OW + ox + 16 * v, m->out[v], o);
        }
    }
}

AVX512_TARGET static void dw_plane_avx512(const dw_geom *g, const float *x, const float *zero_row, const float *w,
                                          float bias, yq_act act, float *y) {
    /* Works on the unpadded plane: zero padding comes from load masks (lanes
     * whose input column is outside [0, W) are not read) and from reading a
     * zero row for input rows outside [0, H). Stride 2 loads 32 inputs and
     * keeps the even lanes. Blocks go row-major over the plane so that the
     * input streams in order. */
    const int64_t sw = g->sw, W = g->W, nstrips = (g->OW + 16 * DW_VECS - 1) / (16 * DW_VECS);
    dw_strip_masks masks[DW_MAX_STRIPS];
    for (int64_t s = 0; s < nstrips; s++) {
        dw_strip_masks *m = &masks[s];
        for (int v = 0; v < DW_VECS; v++) {
            const int64_t ox = s * 16 * DW_VECS + 16 * v;
            m->out[v] = yq_lane_range(0, g->OW - ox);
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const int64_t ix0 = ox * sw - g->pl + kx * g->dw;
                /* Vectors past the end of the output row read nothing. */
                m->lo[kx][v] = m->out[v] ? yq_lane_range(-ix0, W - ix0) : 0;
                m->hi[kx][v] = m->out[v] ? yq_lane_range(-ix0 - 16, W - ix0 - 16) : 0;
            }
        }
    }
    for (int64_t oy = 0; oy < g->OH; oy += DW_ROWS)
        for (int64_t s = 0; s < nstrips; s++) {
            if (sw == 2)
                dw_block_avx512(g, x, zero_row, w, bias, act, oy, s * 16 * DW_VECS, &masks[s], y, 1);
            else
                dw_block_avx512(g, x, zero_row, w, bias, act, oy, s * 16 * DW_VECS, &masks[s], y, 0);
        }
}

/* ---- plans --------------------------------------------------------------- */
struct yq_conv2d_plan {
    yq_conv2d_shape s;
    yq_conv_algo algo;
    yq_act act;
    int nthreads;
    int64_t Cg, Mg, Kg;
    yq_packed_a **packed; /* one per group (GEMM algorithms) */
    float *dw_w;          /* [C, kh*kw] (depthwise) */
    float *bias;          /* [M] or NULL */
    dw_geom dw;
    yq_gemm_isa dw_isa;     /* depthwise kernel chosen at plan time */
    float *dw_zero_row;     /* W zeros read in place of rows in the padding */
    size_t dw_plane_floats; /* per-thread padded plane (0: the kernel needs none) */
    /* direct: one group's input, zero-padded to Hp×Wp and split into
     * stride_h·stride_w phase planes of Hq×Wq (plane stride `plane`, channel
     * stride ld); the GEMM computes on the OH×Wq grid (Wq - OW junk columns
     * per row, never stored) through koff (one offset per row of A's K) and
     * tiles. */
    int64_t Hp, Wp, Hq, Wq, plane, ld, npanels, direct_kc;
    size_t pad_floats;
    int64_t *koff;
    yq_direct_tile *tiles;
    yq_winograd *wg; /* Winograd F(4,3) */
    /* weight-only quantized (yq_conv2d_plan_new_int8): the caller's codes
     * [M, Kg] and one scale per output channel (not owned), dequantized block
     * by block inside the GEMM */
    const int8_t *wq;
    const float *wq_scale;
    size_t scratch;
};

const char *yq_conv_algo_name(yq_conv_algo a) {
    switch (a) {
    case YQ_CONV_ALGO_GEMM_1X1: return "gemm1x1";
    case YQ_CONV_ALGO_IM2COL: return "im2col";
    case YQ_CONV_ALGO_DIRECT: return "direct";
    case YQ_CONV_ALGO_DEPTHWISE: return "depthwise";
    case YQ_CONV_ALGO_WINOGRAD: return "winograd";
    }
    return "?";
}

void yq_conv2d_plan_free(yq_conv2d_plan *p) {
    if (!p) return;
    if (p->packed)
        for (int64_t g = 0; g < p->s.group; g++) yq_packed_a_free(p->packed[g]);
    free(p->packed);
    free(p->dw_w);
    free(p->dw_zero_row);
    free(p->koff);
    free(p->tiles);
    yq_winograd_free(p->wg);
    free(p->bias);
    free(p);
}

size_t yq_conv2d_plan_scratch(const yq_conv2d_plan *p) { return p->scratch; }
yq_conv_algo yq_conv2d_plan_algo(const yq_conv2d_plan *p) { return p->algo; }

/* Geometry, row offsets and output tiles of the direct algorithm. */
static yq_status direct_setup(yq_conv2d_plan *p) {
    const yq_conv2d_shape *s = &p->s;
    const int64_t sh = s->stride_h, sw = s->stride_w;
    /* The zero-padded input (Hp×Wp per channel) is stored split into sh·sw
     * phase planes of Hq×Wq: plane (ph, pw) holds padded rows ph, ph+sh, ...
     * and columns pw, pw+sw, .... Tap (ky, kx) of output (oy, ox) then reads
     * plane ((ky·dh) % sh, (kx·dw) % sw) at row oy + ky·dh/sh, column
     * ox + kx·dw/sw: a shifted window, as in a stride-1 conv. */
    p->Hp = s->H + s->pad_t + s->pad_b;
    p->Wp = s->W + s->pad_l + s->pad_r;
    p->Hq = (p->Hp + sh - 1) / sh;
    p->Wq = (p->Wp + sw - 1) / sw;
    p->plane = (p->Hq * p->Wq + 15) / 16 * 16;
    /* Channel stride: whole cache lines, an odd number of them, so that the
     * rows the kernel reads from consecutive channels spread over L1 sets. */
    p->ld = sh * sw * p->plane;
    if ((p->ld / 16) % 2 == 0) p->ld += 16;
    const int64_t grid = s->OH * p->Wq;
    p->npanels = (grid + 31) / 32;
    p->koff = yq_malloc((size_t)p->Kg * sizeof *p->koff);
    p->tiles = yq_calloc((size_t)p->npanels, sizeof *p->tiles);
    if (!p->koff || !p->tiles) return YQ_ERR_NOMEM;
    int64_t k = 0, koff_max = 0;
    for (int64_t c = 0; c < p->Cg; c++)
        for (int64_t ky = 0; ky < s->kh; ky++)
            for (int64_t kx = 0; kx < s->kw; kx++, k++) {
                const int64_t dy = ky * s->dil_h, dx = kx * s->dil_w;
                p->koff[k] = c * p->ld + ((dy % sh) * sw + dx % sw) * p->plane + (dy / sh) * p->Wq + dx / sw;
                if (p->koff[k] > koff_max) koff_max = p->koff[k];
            }
    /* K block: a 32-column micro-panel of B touches about 3 cache lines in
     * each distinct (phase plane, row) a channel's taps read; keep the block's
     * lines within ~24 KiB of L1 (measured: 3×3 stride 1 wants ~300-450 rows,
     * stride 2 about half). */
    int64_t rows_per_channel = 0;
    for (int64_t ky = 0; ky < s->kh; ky++)
        for (int64_t kx = 0; kx < s->kw; kx++) {
            int seen = 0; /* count (plane, row) pairs once */
            for (int64_t y2 = 0; y2 <= ky && !seen; y2++)
                for (int64_t x2 = 0; x2 < (y2 == ky ? kx : s->kw) && !seen; x2++) {
                    const int64_t dy = ky * s->dil_h, dx = kx * s->dil_w, ey = y2 * s->dil_h, ex = x2 * s->dil_w;
                    seen = dy % sh == ey % sh && dx % sw == ex % sw && dy / sh == ey / sh;
                }
            rows_per_channel += !seen;
        }
    const int64_t taps = s->kh * s->kw, fit = 24576 / (rows_per_channel * 3 * 64);
    p->direct_kc = (fit > 1 ? fit : 1) * taps;

    for (int64_t t = 0; t < p->npanels; t++) {
        yq_direct_tile *tile = &p->tiles[t];
        tile->col = t * 32;
        int64_t cur_row = -1;
        for (int l = 0; l < 32; l++) {
            const int64_t n = t * 32 + l, oy = n / p->Wq, ox = n % p->Wq;
            if (n >= grid || ox >= s->OW) continue; /* past the end, or a junk column */
            if (oy != cur_row) {
                if (tile->nseg == YQ_DIRECT_MAX_SEGS)
                    return yq_fail(YQ_ERR_INTERNAL, "conv2d: a 32-column tile spans too many rows");
                cur_row = oy;
                tile->delta[tile->nseg++] = oy * (p->Wq - s->OW);
            }
            tile->mask[tile->nseg - 1] |= 1u << l;
        }
    }
    /* The padded input, plus what the last tile reads past the grid. */
    const int64_t need = koff_max + p->npanels * 32 + 16;
    p->pad_floats = (size_t)((need > p->Cg * p->ld ? need : p->Cg * p->ld) + 15) / 16 * 16;
    p->scratch = p->pad_floats * sizeof(float);
    return YQ_OK;
}

typedef struct pad_job {
    const yq_conv2d_plan *p;
    const float *X; /* first channel of the group */
    float *P;
} pad_job;

static void pad_task(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const pad_job *j = arg;
    const yq_conv2d_plan *p = j->p;
    const yq_conv2d_shape *s = &p->s;
    const int64_t sh = s->stride_h, sw = s->stride_w;
    for (int64_t c = begin; c < end; c++) {
        const float *x = j->X + c * s->H * s->W;
        float *P = j->P + c * p->ld;
        for (int64_t ph = 0; ph < sh; ph++)
            for (int64_t pw = 0; pw < sw; pw++) {
                float *plane = P + (ph * sw + pw) * p->plane;
                for (int64_t i = 0; i < p->Hq; i++) {
                    const int64_t iy = i * sh + ph - s->pad_t;
                    /* A row of the plane is a 1-row, Wq-column "panel": the
                     * packing helper gathers (strided) and zero-fills it. */
                    yq_pack_put_row(plane + i * p->Wq, 1, (int)p->Wq, 0, 0, p->Wq,
                                    iy >= 0 && iy < s->H ? x + iy * s->W : NULL, pw - s->pad_l, s->W, sw);
                }
                memset(plane + p->Hq * p->Wq, 0, (size_t)(p->plane - p->Hq * p->Wq) * sizeof(float));
            }
        /* The gap up to the next channel (and the tail after the last one) is
         * read only by dropped lanes; zero it so that no garbage (NaN) is loaded. */
        const int64_t used = sh * sw * p->plane;
        const int64_t gap_end = c + 1 < p->Cg ? p->ld : (int64_t)p->pad_floats - c * p->ld;
        memset(P + used, 0, (size_t)(gap_end - used) * sizeof(float));
    }
}

/* Whether `algo` can run this geometry (on this CPU). */
static int algo_applies(const yq_conv2d_shape *s, yq_conv_algo algo) {
    switch (algo) {
    case YQ_CONV_ALGO_GEMM_1X1:
        return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_t == 0 && s->pad_l == 0 &&
               s->pad_b == 0 && s->pad_r == 0;
    case YQ_CONV_ALGO_IM2COL: return 1;
    case YQ_CONV_ALGO_DEPTHWISE: return s->group == s->C && s->group == s->M;
    case YQ_CONV_ALGO_DIRECT: {
        /* Phase rows of at least 16 columns keep a 32-wide tile within 3
         * output rows. */
        const int64_t Wq = (s->W + s->pad_l + s->pad_r + s->stride_w - 1) / s->stride_w;
        return s->stride_h <= 3 && s->stride_w <= 3 && Wq >= 16 && yq_gemm_isa_current() == YQ_GEMM_ISA_AVX512;
    }
    case YQ_CONV_ALGO_WINOGRAD: return yq_winograd_applies(s);
    }
    return 0;
}

static _Atomic int winograd_allowed = 1;
int yq_conv_set_winograd(int allowed) { return atomic_exchange(&winograd_allowed, allowed ? 1 : 0); }

/* Where the automatic choice takes Winograd. Measured with
 * build/tests/tool_conv_bench (--shape C,H,W,M,3,1,1 --algo im2col|winograd,
 * best of 14 runs, CPU time; AVX2 EPYC, shared 2-core VM): Winograd is 1.3-2.2x
 * faster on all nine YOLOv10m 3×3 stride-1 shapes (C 48-576, 20×20 to
 * 160×160) and on small ones down to C = 16 at 40×40 or 64 channels at 10×10;
 * it ties at C = 8 or 8×8 outputs and loses at C <= 4 (input transform
 * per channel not paid back) and 5×5 outputs (mostly padding tiles). Not
 * measured against the AVX-512 direct path (no AVX-512 machine here): the
 * rule is the same there (4× fewer multiplies); yq_conv_set_winograd(0) /
 * YOLOQ_CONV_WINOGRAD=0 switch it off for an A/B. */
static int winograd_pays_off(const yq_conv2d_shape *s) {
    if (!atomic_load(&winograd_allowed) || !yq_winograd_applies(s)) return 0;
    return s->C >= 16 && s->M >= 8 && s->OH * s->OW >= 100;
}

/* The automatic choice. Stride 2 stays on im2col: the direct path was
 * measured slower there (its B micro-panels touch twice the rows). */
static yq_conv_algo choose_algo(const yq_conv2d_shape *s, int winograd_ok) {
    if (s->group > 1 && algo_applies(s, YQ_CONV_ALGO_DEPTHWISE)) return YQ_CONV_ALGO_DEPTHWISE;
    if (algo_applies(s, YQ_CONV_ALGO_GEMM_1X1)) return YQ_CONV_ALGO_GEMM_1X1;
    if (winograd_ok && winograd_pays_off(s)) return YQ_CONV_ALGO_WINOGRAD;
    if (s->stride_h == 1 && s->stride_w == 1 && algo_applies(s, YQ_CONV_ALGO_DIRECT)) return YQ_CONV_ALGO_DIRECT;
    return YQ_CONV_ALGO_IM2COL;
}

/* A plan with geometry, activation, thread count and a copy of the bias
 * (NULL: out of memory). */
static yq_conv2d_plan *plan_alloc(const yq_conv2d_shape *s, const float *B, yq_act act, int nthreads) {
    yq_conv2d_plan *p = yq_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->s = *s;
    p->act = act;
    p->nthreads = nthreads;
    p->Cg = s->C / s->group;
    p->Mg = s->M / s->group;
    p->Kg = p->Cg * s->kh * s->kw;
    if (B) {
        p->bias = yq_malloc((size_t)s->M * sizeof(float));
        if (!p->bias) {
            free(p);
            return NULL;
        }
        memcpy(p->bias, B, (size_t)s->M * sizeof(float));
    }
    return p;
}

yq_status yq_conv2d_plan_new(const yq_conv2d_shape *shape, const float *Wt, const float *B, yq_act act,
                             int nthreads, yq_conv2d_plan **out) {
    return yq_conv2d_plan_new_algo(shape, Wt, B, act, nthreads, -1, out);
}

yq_status yq_conv2d_plan_new_algo(const yq_conv2d_shape *shape, const float *Wt, const float *B, yq_act act,
                                  int nthreads, int algo, yq_conv2d_plan **out) {
    *out = NULL;
    yq_conv2d_shape s = *shape;
    YQ_TRY(yq_conv2d_shape_check(&s));
    if (nthreads < 1) nthreads = 1;
    if (algo < 0) {
        algo = (int)choose_algo(&s, algo != YQ_CONV_ALGO_AUTO_NO_WINOGRAD);
    } else if (algo >= YQ_CONV_ALGO_COUNT || !algo_applies(&s, (yq_conv_algo)algo)) {
        return yq_fail(YQ_ERR_UNSUPPORTED, "conv2d: algorithm %s does not apply to this geometry",
                       algo >= YQ_CONV_ALGO_COUNT ? "?" : yq_conv_algo_name((yq_conv_algo)algo));
    }
    yq_conv2d_plan *p = plan_alloc(&s, B, act, nthreads);
    if (!p) return YQ_ERR_NOMEM;
    yq_status st = YQ_OK;
    p->algo = (yq_conv_algo)algo;
    if (p->algo == YQ_CONV_ALGO_WINOGRAD) {
        st = yq_winograd_new(&s, Wt, B, act, nthreads, &p->wg);
        if (st != YQ_OK) goto fail;
        p->scratch = yq_winograd_scratch(p->wg);
    } else if (p->algo == YQ_CONV_ALGO_DEPTHWISE) {
        const int64_t kk = s.kh * s.kw;
        p->dw_w = yq_malloc((size_t)(s.C * kk) * sizeof(float));
        if (!p->dw_w) goto nomem;
        memcpy(p->dw_w, Wt, (size_t)(s.C * kk) * sizeof(float));
        dw_geom *g = &p->dw;
        *g = (dw_geom){.H = s.H, .W = s.W, .kh = s.kh, .kw = s.kw, .sh = s.stride_h, .sw = s.stride_w,
                       .dh = s.dil_h, .dw = s.dil_w, .pt = s.pad_t, .pl = s.pad_l, .OH = s.OH, .OW = s.OW};
        g->Hp = (s.OH - 1) * s.stride_h + (s.kh - 1) * s.dil_h + 1;
        g->Wp = (s.OW - 1) * s.stride_w + (s.kw - 1) * s.dil_w + 1;
        /* The AVX-512 kernel pads with load masks (strides 1 and 2, kernels up
         * to DW_MAX_KW wide); the others read a zero-bordered copy of the
         * plane, whose vector loads may run up to 8·stride + (8 rounding)
         * floats past the last row (the AVX2 tail vector). */
        yq_gemm_isa isa = yq_gemm_isa_current();
        if (isa == YQ_GEMM_ISA_AVX512 && (s.stride_w > 2 || s.kw > DW_MAX_KW || s.OW > 16 * DW_VECS * DW_MAX_STRIPS))
            isa = YQ_GEMM_ISA_AVX2;
        if (isa == YQ_GEMM_ISA_AVX2 && s.stride_w > 2) isa = YQ_GEMM_ISA_SCALAR;
        p->dw_isa = isa;
        if (isa == YQ_GEMM_ISA_AVX512) {
            p->dw_zero_row = yq_calloc((size_t)s.W, sizeof(float));
            if (!p->dw_zero_row) goto nomem;
        } else {
            p->dw_plane_floats = (size_t)((g->Hp * g->Wp + 24 + 15) / 16 * 16);
            p->scratch = p->dw_plane_floats * sizeof(float) * (size_t)nthreads;
        }
    } else {
        p->packed = yq_calloc((size_t)s.group, sizeof *p->packed);
        if (!p->packed) goto nomem;
        for (int64_t g = 0; g < s.group; g++) {
            /* Group g's weights are rows g*Mg.. of W viewed as [M, Kg]. */
            st = yq_pack_a(Wt + g * p->Mg * p->Kg, p->Kg, 0, p->Mg, p->Kg, &p->packed[g]);
            if (st != YQ_OK) goto fail;
        }
        if (p->algo == YQ_CONV_ALGO_DIRECT && !yq_direct_supported(p->packed[0])) {
            st = yq_fail(YQ_ERR_INTERNAL, "conv2d: weights were not packed for AVX-512");
            goto fail;
        }
        if (p->algo == YQ_CONV_ALGO_DIRECT) {
            st = direct_setup(p);
            if (st != YQ_OK) goto fail;
        } else {
            p->scratch = yq_sgemm_packed_scratch_bytes(p->packed[0], s.OH * s.OW, nthreads);
        }
    }
    *out = p;
    return YQ_OK;
nomem:
    st = YQ_ERR_NOMEM;
fail:
    yq_conv2d_plan_free(p);
    return st;
}

yq_status yq_conv2d_plan_new_int8(const yq_conv2d_shape *shape, const int8_t *Wq, const float *scale,
                                  const float *B, yq_act act, int nthreads, yq_conv2d_plan **out) {
    *out = NULL;
    yq_conv2d_shape s = *shape;
    YQ_TRY(yq_conv2d_shape_check(&s));
    if (nthreads < 1) nthreads = 1;
    const int64_t Kg = s.C / s.group * s.kh * s.kw, nw = s.M * Kg;
    const yq_conv_algo best = choose_algo(&s, 1);
    if (best == YQ_CONV_ALGO_DEPTHWISE || best == YQ_CONV_ALGO_WINOGRAD) {
        /* Depthwise: C·kh·kw weights, a negligible float copy the stencil
         * needs. Winograd: its transformed weights are float anyway (the
         * float plan keeps them beside the float weights, this one only them);
         * for 3×3 stride-1 convs it does 4x fewer multiplies than the GEMM on
         * int8 codes could (measured: yolov10n W4A16 53 -> 100 ms at 2
         * threads when those convs ran as int8-code GEMMs). */
        float *wf = yq_malloc((size_t)(nw > 0 ? nw : 1) * sizeof(float));
        if (!wf) return YQ_ERR_NOMEM;
        for (int64_t i = 0; i < nw; i++) wf[i] = (float)Wq[i] * scale[i / Kg];
        yq_status st = yq_conv2d_plan_new_algo(&s, wf, B, act, nthreads, (int)best, out);
        free(wf);
        return st;
    }
    yq_conv2d_plan *p = plan_alloc(&s, B, act, nthreads);
    if (!p) return YQ_ERR_NOMEM;
    p->algo = best; /* GEMM_1X1 or IM2COL (DIRECT needs float weights packed for AVX-512) */
    if (best == YQ_CONV_ALGO_DIRECT) p->algo = YQ_CONV_ALGO_IM2COL;
    p->wq = Wq; /* the session's initializers: one copy of the codes in memory */
    p->wq_scale = scale;
    p->scratch = yq_sgemm_scratch_bytes(p->Mg, s.OH * s.OW, Kg, nthreads);
    *out = p;
    return YQ_OK;
}

int yq_conv2d_plan_int8_weights(const yq_conv2d_plan *p) { return p->wq != NULL; }

typedef struct dw_job {
    const yq_conv2d_plan *p;
    const float *X;
    float *Y;
    char *scratch;
} dw_job;

static void dw_task(void *arg, int64_t begin, int64_t end, int tid) {
    const dw_job *j = arg;
    const yq_conv2d_plan *p = j->p;
    const dw_geom *g = &p->dw;
    float *P = p->dw_plane_floats ? (float *)(j->scratch + (size_t)tid * p->dw_plane_floats * sizeof(float)) : NULL;
    const int64_t kk = g->kh * g->kw;
    for (int64_t plane = begin; plane < end; plane++) {
        const int64_t c = plane % p->s.C;
        const float *w = p->dw_w + c * kk;
        const float bias = p->bias ? p->bias[c] : 0.0f;
        const float *x = j->X + plane * g->H * g->W;
        float *y = j->Y + plane * g->OH * g->OW;
        if (p->dw_isa == YQ_GEMM_ISA_AVX512) {
            dw_plane_avx512(g, x, p->dw_zero_row, w, bias, p->act, y);
            continue;
        }
        dw_pad_plane(g, x, P);
        if (p->dw_isa == YQ_GEMM_ISA_AVX2)
            dw_plane_avx2(g, P, w, bias, p->act, y);
        else
            dw_plane_scalar(g, P, w, bias, p->act, y);
    }
}

yq_status yq_conv2d_run(const yq_conv2d_plan *p, yq_pool *pool, const float *X, float *Y, void *scratch) {
    const yq_conv2d_shape *s = &p->s;
    if (yq_pool_size(pool) > p->nthreads)
        return yq_fail(YQ_ERR_INTERNAL, "conv2d: plan made for %d threads run on a pool of %d", p->nthreads,
                       yq_pool_size(pool));
    void *owned = NULL;
    if (!scratch && p->scratch) {
        owned = yq_aligned_alloc(64, (p->scratch + 63) & ~(size_t)63);
        if (!owned) return yq_fail_prefix(YQ_ERR_NOMEM, "conv2d: out of memory for %zu bytes of scratch", p->scratch);
        scratch = owned;
    }
    yq_status st = YQ_OK;
    if (p->algo == YQ_CONV_ALGO_WINOGRAD) {
        st = yq_winograd_run(p->wg, pool, X, Y, scratch);
    } else if (p->algo == YQ_CONV_ALGO_DEPTHWISE) {
        dw_job j = {p, X, Y, scratch};
        yq_parallel_for(pool, s->N * s->C, 1, dw_task, &j);
    } else {
        const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
        for (int64_t n = 0; n < s->N && st == YQ_OK; n++)
            for (int64_t g = 0; g < s->group && st == YQ_OK; g++) {
                const float *x = X + (n * s->C + g * p->Cg) * HW;
                float *y = Y + (n * s->M + g * p->Mg) * OHW;
                yq_epilogue ep = {p->bias ? p->bias + g * p->Mg : NULL, p->act};
                if (p->algo == YQ_CONV_ALGO_DIRECT) {
                    pad_job pj = {p, x, scratch};
                    yq_parallel_for(pool, p->Cg, 1, pad_task, &pj);
                    st = yq_sgemm_direct(pool, p->packed[g], scratch, p->koff, p->direct_kc, p->npanels, p->tiles, y,
                                         OHW, &ep);
                } else if (p->algo == YQ_CONV_ALGO_GEMM_1X1) {
                    yq_dense_b db = {x, HW};
                    yq_b_source bs = {yq_pack_b_dense, &db};
                    st = p->wq ? yq_sgemm_int8a(pool, p->Mg, p->Kg, p->wq + g * p->Mg * p->Kg, p->Kg,
                                                p->wq_scale + g * p->Mg, &bs, OHW, y, OHW, 0, &ep, scratch)
                               : yq_sgemm_packed(pool, p->packed[g], &bs, OHW, y, OHW, 0, &ep, scratch);
                } else {
                    im2col_ctx ic = {x, s->H, s->W, s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h, s->dil_w,
                                     s->pad_t, s->pad_l, s->OW};
                    yq_b_source bs = {pack_b_im2col, &ic};
                    st = p->wq ? yq_sgemm_int8a(pool, p->Mg, p->Kg, p->wq + g * p->Mg * p->Kg, p->Kg,
                                                p->wq_scale + g * p->Mg, &bs, OHW, y, OHW, 0, &ep, scratch)
                               : yq_sgemm_packed(pool, p->packed[g], &bs, OHW, y, OHW, 0, &ep, scratch);
                }
            }
    }
    free(owned);
    return st;
}

/* ---- the Conv op --------------------------------------------------------- */
typedef struct conv_geom {
    int nd;
    int64_t N, C, M, group;
    int64_t in[YQ_CONV_MAX_SPATIAL], k[YQ_CONV_MAX_SPATIAL], strides[YQ_CONV_MAX_SPATIAL],
        dils[YQ_CONV_MAX_SPATIAL], pads[2 * YQ_CONV_MAX_SPATIAL], out[YQ_CONV_MAX_SPATIAL];
} conv_geom;


/* Everything about a Conv node's geometry, from its attributes and the shapes
 * of X and W. Shared by infer, prepare and flops. */
static yq_status conv_geometry(const yq_node *n, int xrank, const int64_t *xd, int wrank, const int64_t *wd,
                               conv_geom *g) {
    memset(g, 0, sizeof *g);
    if (xrank < 3 || xrank - 2 > YQ_CONV_MAX_SPATIAL)
        return yq_node_errorf(n, xrank < 3 ? YQ_ERR_INVALID : YQ_ERR_UNSUPPORTED,
                         "input X has rank %d; expected [N, C, spatial...] with 1 to %d spatial axes", xrank,
                         YQ_CONV_MAX_SPATIAL);
    if (wrank != xrank)
        return yq_node_errorf(n, YQ_ERR_INVALID, "weight W has rank %d but X has rank %d", wrank, xrank);
    const int nd = xrank - 2;
    g->nd = nd;
    g->N = xd[0];
    g->C = xd[1];
    g->M = wd[0];
    g->group = yq_attr_int(n, "group", 1);
    if (g->group < 1) return yq_node_errorf(n, YQ_ERR_INVALID, "group %lld must be >= 1", (long long)g->group);
    if (wd[1] * g->group != g->C)
        return yq_node_errorf(n, YQ_ERR_INVALID,
                         "channel mismatch: X has %lld channels but W expects %lld per group x %lld groups",
                         (long long)g->C, (long long)wd[1], (long long)g->group);
    if (g->M % g->group)
        return yq_node_errorf(n, YQ_ERR_INVALID, "%lld output channels are not divisible by group %lld",
                         (long long)g->M, (long long)g->group);
    for (int d = 0; d < nd; d++) {
        g->in[d] = xd[2 + d];
        g->k[d] = wd[2 + d];
    }
    int64_t ks[YQ_CONV_MAX_SPATIAL];
    YQ_TRY(yq_node_ints_exact(n, "kernel_shape", nd, -1, ks));
    for (int d = 0; d < nd; d++)
        if (ks[d] != -1 && ks[d] != g->k[d])
            return yq_node_errorf(n, YQ_ERR_INVALID, "kernel_shape[%d] = %lld does not match W's %lld", d,
                             (long long)ks[d], (long long)g->k[d]);
    YQ_TRY(yq_node_ints_exact(n, "strides", nd, 1, g->strides));
    YQ_TRY(yq_node_ints_exact(n, "dilations", nd, 1, g->dils));
    YQ_TRY(yq_node_ints_exact(n, "pads", 2 * nd, 0, g->pads));
    for (int d = 0; d < nd; d++) {
        if (g->strides[d] < 1 || g->dils[d] < 1)
            return yq_node_errorf(n, YQ_ERR_INVALID, "strides and dilations must be >= 1");
        if (g->k[d] < 1) return yq_node_errorf(n, YQ_ERR_INVALID, "kernel size %lld on axis %d", (long long)g->k[d], d);
        if (g->pads[d] < 0 || g->pads[nd + d] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "negative pads");
    }
    const char *ap = yq_attr_string(n, "auto_pad", "NOTSET");
    int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
    if (!strcmp(ap, "VALID")) {
        for (int d = 0; d < 2 * nd; d++) g->pads[d] = 0;
    } else if (same_upper || same_lower) {
        /* Output ceil(in/stride); the total padding that needs, split evenly with
         * the odd one at the end (SAME_UPPER) or the beginning (SAME_LOWER). */
        for (int d = 0; d < nd; d++) {
            int64_t out = (g->in[d] + g->strides[d] - 1) / g->strides[d];
            int64_t total = max64(0, (out - 1) * g->strides[d] + (g->k[d] - 1) * g->dils[d] + 1 - g->in[d]);
            g->pads[d] = same_upper ? total / 2 : total - total / 2;
            g->pads[nd + d] = total - g->pads[d];
        }
    } else if (strcmp(ap, "NOTSET") != 0) {
        return yq_node_errorf(n, YQ_ERR_INVALID, "unknown auto_pad '%s'", ap);
    }
    for (int d = 0; d < nd; d++) {
        g->out[d] = yq_conv_out_dim(g->in[d], g->k[d], g->strides[d], g->dils[d], g->pads[d], g->pads[nd + d]);
        if (g->out[d] < 1)
            return yq_node_errorf(n, YQ_ERR_INVALID, "kernel %lld (dilation %lld) does not fit padded input %lld on axis %d",
                             (long long)g->k[d], (long long)g->dils[d],
                             (long long)(g->in[d] + g->pads[d] + g->pads[nd + d]), d);
    }
    return YQ_OK;
}

static int conv_weight_dtype_ok(yq_dtype dt) {
    return dt == YQ_DT_FLOAT || dt == YQ_DT_FLOAT16 || dt == YQ_DT_BFLOAT16;
}

static yq_status conv_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    YQ_TRY(yq_need_input(c, 1, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0), *w = yq_in(c, 1), *b = yq_in(c, 2);
    if (x->dtype != YQ_DT_FLOAT)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input X is %s; Conv computes in float32 only",
                            yq_dtype_name(x->dtype));
    const int qw = c->node->op == YQ_OP_QWConv;
    if (qw) {
        /* runtime-made (qconv_pass.h): W' int8 [M, C/group, kh, kw], input 3 the [M] scales */
        YQ_TRY(yq_need_input(c, 3, YQ_DT_FLOAT));
        if (w->dtype != YQ_DT_INT8 || w->rank != 4 || yq_in(c, 3)->rank != 1 || yq_in(c, 3)->dims[0] != w->dims[0])
            return yq_node_fail(c, YQ_ERR_INVALID, "expects int8 [M, C/group, kh, kw] weights and [M] scales");
    } else if (!conv_weight_dtype_ok(w->dtype))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "weight W is %s; expected float, float16 or bfloat16",
                            yq_dtype_name(w->dtype));
    conv_geom g;
    YQ_TRY(conv_geometry(c->node, x->rank, x->dims, w->rank, w->dims, &g));
    if (b) {
        YQ_TRY(yq_need_input(c, 2, YQ_DT_UNDEFINED));
        if (!conv_weight_dtype_ok(b->dtype))
            return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "bias B is %s; expected float, float16 or bfloat16",
                                yq_dtype_name(b->dtype));
        if (b->rank != 1 || b->dims[0] != g.M)
            return yq_node_fail(c, YQ_ERR_INVALID, "bias B must have shape [%lld]", (long long)g.M);
    }
    int64_t dims[2 + YQ_CONV_MAX_SPATIAL] = {g.N, g.M};
    for (int d = 0; d < g.nd; d++) dims[2 + d] = g.out[d];
    yq_set_out(c, 0, YQ_DT_FLOAT, g.nd + 2, dims);
    return YQ_OK;
}

/* A float copy of a float/float16/bfloat16 tensor (malloc'd). */
static yq_status to_float(const yq_tensor *t, float **out) {
    int64_t n = yq_tensor_numel(t);
    float *f = yq_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!f) return YQ_ERR_NOMEM;
    if (t->dtype == YQ_DT_FLOAT) {
        memcpy(f, t->data, (size_t)n * sizeof(float));
    } else if (t->dtype == YQ_DT_FLOAT16) {
        const uint16_t *h = t->data;
        for (int64_t i = 0; i < n; i++) f[i] = yq_f16_to_f32(h[i]);
    } else if (t->dtype == YQ_DT_BFLOAT16) {
        const uint16_t *h = t->data;
        for (int64_t i = 0; i < n; i++) f[i] = yq_bf16_to_f32(h[i]);
    } else {
        free(f);
        return yq_fail(YQ_ERR_UNSUPPORTED, "cannot convert %s to float", yq_dtype_name(t->dtype));
    }
    *out = f;
    return YQ_OK;
}

typedef struct conv_state {
    conv_geom g;
    yq_conv2d_plan *plan; /* NULL: weights not constant at prepare, or more than 2 spatial axes */
} conv_state;

static yq_conv2d_shape geom_to_2d(const conv_geom *g) {
    /* 1-D convs run as 2-D with H = 1. */
    const int two = g->nd == 2;
    yq_conv2d_shape s = {.N = g->N, .C = g->C, .H = two ? g->in[0] : 1, .W = g->in[two],
                         .M = g->M, .kh = two ? g->k[0] : 1, .kw = g->k[two], .group = g->group,
                         .stride_h = two ? g->strides[0] : 1, .stride_w = g->strides[two],
                         .dil_h = two ? g->dils[0] : 1, .dil_w = g->dils[two],
                         .pad_t = two ? g->pads[0] : 0, .pad_l = g->pads[two],
                         .pad_b = two ? g->pads[2] : 0, .pad_r = g->pads[g->nd + two]};
    return s;
}

/* The activation the session fused into this conv (see yq_pass_fuse_conv_silu). */
static yq_act conv_node_act(const yq_node *n) { return n->fused_act == YQ_FUSED_SILU ? YQ_ACT_SILU : YQ_ACT_NONE; }

/* Whether X comes straight from a DequantizeLinear: an activation-quantized
 * (QCDQ A8) graph, where this conv emulates an integer conv whose result is
 * rounded to an 8-bit grid right after. There the float sum should stay as
 * close to the exact one as it can: Winograd's larger rounding (~10x the
 * direct sum's) flips more codes at rounding ties, and the flips cascade
 * (measured on yolov10n W8A8/W4A8: median detection-score difference against
 * ORT's literal semantics 0.015 with Winograd vs ~0.008 without, over the
 * 0.011 tests/quant/a8_parity.py allows). */
static int conv_input_dequantized(const yq_graph *gr, const yq_node *n) {
    if (!gr || n->ninputs < 1 || n->inputs[0] < 0) return 0;
    const int p = gr->values[n->inputs[0]].producer;
    return p >= 0 && !strcmp(gr->nodes[p].op_type, "DequantizeLinear");
}

static yq_status conv_build_plan(const yq_graph *gr, const yq_node *n, const conv_geom *g, const yq_tensor *w,
                                 const yq_tensor *b, int nthreads, int reference, yq_conv2d_plan **out) {
    float *wf = NULL, *bf = NULL;
    yq_status st = to_float(w, &wf);
    if (st == YQ_OK && b && b->data) st = to_float(b, &bf);
    if (st == YQ_OK) {
        yq_conv2d_shape s = geom_to_2d(g);
        st = yq_conv2d_plan_new_algo(&s, wf, bf, conv_node_act(n), nthreads,
                                     reference || conv_input_dequantized(gr, n) ? YQ_CONV_ALGO_AUTO_NO_WINOGRAD : -1,
                                     out);
        if (st != YQ_OK) st = yq_fail_prefix(st, "node '%s' (Conv)", n->name ? n->name : "");
    }
    free(wf);
    free(bf);
    return st;
}

/* QWConv: the plan on int8 weights (constant weights, scales and bias). */
static yq_status qwconv_build_plan(const yq_prepare_ctx *c, const conv_geom *g, yq_conv2d_plan **out) {
    const yq_node *n = c->node;
    const yq_tensor *w = &c->in[1], *sc = &c->in[3];
    const yq_tensor *b = n->inputs[2] >= 0 ? &c->in[2] : NULL;
    if (g->nd != 2 || !w->data || !sc->data || sc->dtype != YQ_DT_FLOAT || (b && (!b->data || b->dtype != YQ_DT_FLOAT)))
        return yq_node_errorf(n, YQ_ERR_INVALID, "a 2-D conv with constant int8 weights, float scales and bias");
    yq_conv2d_shape s = geom_to_2d(g);
    yq_status st = yq_conv2d_plan_new_int8(&s, w->data, sc->data, b ? b->data : NULL, conv_node_act(n), c->nthreads,
                                           out);
    return st == YQ_OK ? st : yq_fail_prefix(st, "node '%s' (QWConv)", n->name ? n->name : "");
}

static yq_status conv_prepare(yq_prepare_ctx *c) {
    const yq_tensor *x = &c->in[0], *w = &c->in[1];
    const yq_tensor *b = c->nin > 2 && c->node->inputs[2] >= 0 ? &c->in[2] : NULL;
    conv_state *s = yq_calloc(1, sizeof *s);
    if (!s) return YQ_ERR_NOMEM;
    yq_status st = conv_geometry(c->node, x->rank, x->dims, w->rank, w->dims, &s->g);
    if (st == YQ_OK && c->node->op == YQ_OP_QWConv) {
        st = qwconv_build_plan(c, &s->g, &s->plan);
        if (st == YQ_OK) c->scratch_bytes = yq_conv2d_plan_scratch(s->plan);
    } else if (st == YQ_OK && s->g.nd <= 2 && w->data && (!b || b->data)) {
        st = conv_build_plan(c->g, c->node, &s->g, w, b, c->nthreads, c->reference, &s->plan);
        if (st == YQ_OK) c->scratch_bytes = yq_conv2d_plan_scratch(s->plan);
    }
    if (st != YQ_OK) {
        free(s);
        return st;
    }
    c->state = s;
    return YQ_OK;
}

static void conv_release(void *state) {
    conv_state *s = state;
    if (!s) return;
    yq_conv2d_plan_free(s->plan);
    free(s);
}

static yq_status conv_run(yq_run_ctx *c) {
    conv_state *s = c->state;
    const yq_tensor *x = &c->in[0], *w = &c->in[1];
    const yq_tensor *b = c->nin > 2 && c->in[2].data ? &c->in[2] : NULL;
    if (s && s->plan) return yq_conv2d_run(s->plan, c->pool, x->data, c->out[0].data, c->scratch);
    if (c->node->op == YQ_OP_QWConv) return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "not prepared");
    /* Weights known only now (or N-d): convert, then plan per run or use the
     * reference. Rare in practice, so allocating here is acceptable. */
    conv_geom g;
    YQ_TRY(conv_geometry(c->node, x->rank, x->dims, w->rank, w->dims, &g));
    if (g.nd <= 2) {
        yq_conv2d_plan *plan = NULL;
        YQ_TRY(conv_build_plan(c->g, c->node, &g, w, b, yq_pool_size(c->pool), 0, &plan));
        yq_status st = yq_conv2d_run(plan, c->pool, x->data, c->out[0].data, NULL);
        yq_conv2d_plan_free(plan);
        return st;
    }
    float *wf = NULL, *bf = NULL;
    yq_status st = to_float(w, &wf);
    if (st == YQ_OK && b) st = to_float(b, &bf);
    if (st == YQ_OK)
        yq_convnd_ref(g.nd, g.N, g.C, g.in, g.M, g.k, g.group, g.strides, g.dils, g.pads, g.out, x->data, wf, bf,
                      conv_node_act(c->node), c->out[0].data);
    free(wf);
    free(bf);
    return st;
}

static double conv_flops(const yq_graph *gr, const yq_node *n) {
    if (n->noutputs < 1 || n->ninputs < 2 || n->outputs[0] < 0 || n->inputs[1] < 0) return 0;
    const yq_value *y = &gr->values[n->outputs[0]], *w = &gr->values[n->inputs[1]];
    if (y->rank < 0 || w->rank < 1) return 0;
    double outs = 1, macs_per = 1;
    for (int d = 0; d < y->rank; d++) outs *= (double)y->dims[d];
    for (int d = 1; d < w->rank; d++) macs_per *= (double)w->dims[d];
    return outs < 0 || macs_per < 0 ? 0 : 2.0 * outs * macs_per;
}

const yq_conv2d_plan *yq_conv_node_plan(const void *state) {
    const conv_state *s = state;
    return s ? s->plan : NULL;
}

void yq_register_conv_ops(yq_op_vtable *table) {
    table[YQ_OP_Conv] = (yq_op_vtable){conv_infer, conv_prepare, conv_run, conv_release, conv_flops};
    table[YQ_OP_QWConv] = table[YQ_OP_Conv];
    yq_register_matmul_ops(table);
}
