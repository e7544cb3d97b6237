/* Integer convolution kernels (see conv_int8.h) and the runtime op that runs
 * them, QConvU8 (domain "yoloq.rt", created only by the session's QCDQ pass,
 * rt/qconv_pass.h).
 *
 * GEMM layout, per (image, group):
 *   A (weights, packed once): blocks of MR = 4 output channels; per K pair kp
 *     the 4 rows' (w'[2kp], w'[2kp+1]) as int16 pairs in one int32 each.
 *   B (input, packed per pixel block into thread scratch): panels of NR = 16
 *     pixels; per K pair the 16 pixels' (x[2kp] − zx, x[2kp+1] − zx) int16 pairs.
 *   The micro-kernel broadcasts one A pair per row and multiplies it with a
 *   B panel row by vpmaddwd: a·b + a'·b' per pixel, exact in int32 because
 *   |x − zx|, |w'| <= 255 and K·255² < 2³¹ (checked at plan time). */
#include "rt/kernels/conv_int8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/gemm.h"
#include "rt/kernels/simd_math.h"
#include "rt/ops.h"

enum { MR = 4, NR = 16 };

struct yq_qconv_plan {
    yq_qconv_desc d; /* w/w_scale/bias point into the plan's own copies */
    yq_qconv_kernel kernel;
    int nthreads;
    int64_t Cg, Mg, K, Kp; /* per group: input channels, output channels, K = Cg·kh·kw, K pairs */
    int64_t mblocks;       /* ceil(Mg / MR) */
    int64_t nc;            /* pixels per packed block (multiple of NR) */
    int16_t *w;            /* [M, K] */
    int32_t *wsum;         /* [M] Σ_k w' (reference form) */
    float *comb;           /* [M] x_scale · w_scale[m] */
    float *bias;           /* [M] or NULL */
    int32_t *apack;        /* s16 kernels: [group][mblocks][Kp][MR]; u8 kernel: [group][mblocks][Kq][MR] */
    int64_t Kq;            /* u8 kernel: K quads, rounded up to a multiple of qgroup */
    int qgroup;            /* u8 kernel: quads summed in int16 before widening */
    size_t thread_bytes;
};

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

int yq_qconv_have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const char *yq_qconv_kernel_name(yq_qconv_kernel k) {
    switch (k) {
    case YQ_QCONV_GEMM_C: return "gemm-c";
    case YQ_QCONV_GEMM_AVX2: return "gemm-avx2";
    case YQ_QCONV_DEPTHWISE: return "depthwise";
    case YQ_QCONV_GEMM_AVX2_U8: return "gemm-avx2-u8";
    default: return "auto";
    }
}

/* ---- the epilogue (shared by every kernel) ----------------------------------- */

/* The QuantizeLinear formula of qdq.c: divide, clamp to [0 − zp, 255 − zp],
 * round half to even, add the zero point. */
static inline uint8_t requantize_one(float y, float scale, float lo, float hi, int32_t zp) {
    const float round_magic = 12582912.0f;
    float v = y / scale;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    v = (v + round_magic) - round_magic;
    return (uint8_t)((int32_t)v + zp);
}

/* n sums of output channel m, each minus corr (the u8 kernel's zx·Σw'; 0
 * otherwise) → outputs at Y + off (elements). Portable form: the float
 * conv's own epilogue (yq_apply_bias_act) between the scale and the
 * requantization. */
static void epilogue_row_c(const yq_qconv_plan *p, int64_t m, const int32_t *acc, int32_t corr, int64_t n, void *Y,
                           int64_t off) {
    const float comb = p->comb[m], bias = p->bias ? p->bias[m] : 0.0f;
    if (!p->d.out_u8) {
        float *y = (float *)Y + off;
        for (int64_t i = 0; i < n; i++) y[i] = (float)(acc[i] - corr) * comb;
        yq_apply_bias_act(y, n, bias, p->d.act);
        return;
    }
    uint8_t *q = (uint8_t *)Y + off;
    const float lo = (float)(0 - p->d.y_zp), hi = (float)(255 - p->d.y_zp);
    float tmp[64];
    for (int64_t i0 = 0; i0 < n; i0 += 64) {
        int64_t c = min64(64, n - i0);
        for (int64_t i = 0; i < c; i++) tmp[i] = (float)(acc[i0 + i] - corr) * comb;
        yq_apply_bias_act(tmp, c, bias, p->d.act);
        for (int64_t i = 0; i < c; i++) q[i0 + i] = requantize_one(tmp[i], p->d.y_scale, lo, hi, p->d.y_zp);
    }
}

AVX2_TARGET static inline __m256i lanes8(int64_t count) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count > 8 ? 8 : count)), idx);
}

/* The same arithmetic eight lanes at a time: (float)acc · comb, + bias, the
 * AVX2 SiLU of the float conv epilogue, then divide / clamp / round half to
 * even / add zp exactly as QuantizeLinear. */
AVX2_TARGET static void epilogue_row_avx2(const yq_qconv_plan *p, int64_t m, const int32_t *acc, int32_t corr,
                                          int64_t n, void *Y, int64_t off) {
    const __m256 comb = _mm256_set1_ps(p->comb[m]), bias = _mm256_set1_ps(p->bias ? p->bias[m] : 0.0f);
    const __m256i corrv = _mm256_set1_epi32(corr);
    const int silu = p->d.act == YQ_ACT_SILU;
    if (!p->d.out_u8) {
        float *y = (float *)Y + off;
        for (int64_t i = 0; i < n; i += 8) {
            const __m256i mk = lanes8(n - i);
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_maskload_epi32(acc + i, mk), corrv)), comb);
            v = _mm256_add_ps(v, bias);
            if (silu) v = yq_silu_avx2(v);
            _mm256_maskstore_ps(y + i, mk, v);
        }
        return;
    }
    uint8_t *q = (uint8_t *)Y + off;
    const __m256 scale = _mm256_set1_ps(p->d.y_scale), lo = _mm256_set1_ps((float)(0 - p->d.y_zp)),
                 hi = _mm256_set1_ps((float)(255 - p->d.y_zp)), magic = _mm256_set1_ps(12582912.0f);
    const __m256i zp = _mm256_set1_epi32(p->d.y_zp);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i mk = lanes8(n - i);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_maskload_epi32(acc + i, mk), corrv)), comb);
        v = _mm256_add_ps(v, bias);
        if (silu) v = yq_silu_avx2(v);
        v = _mm256_div_ps(v, scale);
        v = _mm256_max_ps(v, lo); /* NaN → lo, like the scalar v > lo ? v : lo */
        v = _mm256_min_ps(v, hi);
        v = _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
        __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
        __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        __m128i b8 = _mm_packus_epi16(w16, w16);
        if (n - i >= 8) {
            _mm_storel_epi64((__m128i *)(q + i), b8);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, b8);
            memcpy(q + i, tmp, (size_t)(n - i));
        }
    }
}

/* Detected once; a race only computes the same value twice. */
static int have_avx2_cached(void) {
    static _Atomic int v = -1;
    int h = v;
    if (h < 0) v = h = yq_qconv_have_avx2();
    return h;
}

static void epilogue_row(const yq_qconv_plan *p, int64_t m, const int32_t *acc, int32_t corr, int64_t n, void *Y,
                         int64_t off) {
    if (have_avx2_cached())
        epilogue_row_avx2(p, m, acc, corr, n, Y, off);
    else
        epilogue_row_c(p, m, acc, corr, n, Y, off);
}

/* ---- validation ---------------------------------------------------------------- */

static yq_status check_desc(yq_qconv_desc *d) {
    YQ_TRY(yq_conv2d_shape_check(&d->s));
    const yq_conv2d_shape *s = &d->s;
    if (d->x_zp < 0 || d->x_zp > 255) return yq_fail(YQ_ERR_INVALID, "qconv: input zero point %d is not uint8", d->x_zp);
    if (d->out_u8 && (d->y_zp < 0 || d->y_zp > 255))
        return yq_fail(YQ_ERR_INVALID, "qconv: output zero point %d is not uint8", d->y_zp);
    if (!(d->x_scale > 0 && isfinite(d->x_scale)) || (d->out_u8 && !(d->y_scale > 0 && isfinite(d->y_scale))))
        return yq_fail(YQ_ERR_INVALID, "qconv: scales must be finite and positive");
    const int64_t K = s->C / s->group * s->kh * s->kw;
    /* 255 · 255 · K must fit int32 (and so must the reference's Σx·w'). */
    if (K > (INT32_MAX / (255 * 255)) - 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "qconv: %lld products per output may overflow int32", (long long)K);
    for (int64_t i = 0; i < s->M * K; i++)
        if (d->w[i] < -255 || d->w[i] > 255)
            return yq_fail(YQ_ERR_INVALID, "qconv: weight %d (code minus zero point) is outside [-255, 255]", d->w[i]);
    for (int64_t m = 0; m < s->M; m++)
        if (!(d->w_scale[m] >= 0 && isfinite(d->w_scale[m])))
            return yq_fail(YQ_ERR_INVALID, "qconv: weight scale %lld is not finite and >= 0", (long long)m);
    return YQ_OK;
}

/* ---- reference ----------------------------------------------------------------- */

yq_status yq_qconv_ref(const yq_qconv_desc *din, const uint8_t *X, void *Y) {
    yq_qconv_desc d = *din;
    YQ_TRY(check_desc(&d));
    const yq_conv2d_shape *s = &d.s;
    const int64_t Cg = s->C / s->group, Mg = s->M / s->group, K = Cg * s->kh * s->kw;
    /* The epilogue needs a plan's per-channel tables; build a bare one. */
    yq_qconv_plan p = {.d = d};
    p.comb = yq_malloc((size_t)s->M * sizeof(float));
    int32_t *acc = yq_malloc((size_t)max64(s->OW, 1) * sizeof(int32_t));
    if (!p.comb || !acc) {
        free(p.comb);
        free(acc);
        return YQ_ERR_NOMEM;
    }
    p.bias = (float *)d.bias;
    for (int64_t m = 0; m < s->M; m++) p.comb[m] = d.x_scale * d.w_scale[m];
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t m = 0; m < s->M; m++) {
            const int64_t g = m / Mg;
            const int16_t *wm = d.w + m * K;
            int32_t wsum = 0;
            for (int64_t k = 0; k < K; k++) wsum += wm[k];
            for (int64_t oy = 0; oy < s->OH; oy++) {
                for (int64_t ox = 0; ox < s->OW; ox++) {
                    int32_t a = 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t ky = 0; ky < s->kh; ky++)
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t iy = oy * s->stride_h - s->pad_t + ky * s->dil_h;
                                int64_t ix = ox * s->stride_w - s->pad_l + kx * s->dil_w;
                                int32_t xv = (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W)
                                                 ? d.x_zp
                                                 : X[((n * s->C + g * Cg + c) * s->H + iy) * s->W + ix];
                                a += xv * wm[(c * s->kh + ky) * s->kw + kx];
                            }
                    acc[ox] = a - d.x_zp * wsum;
                }
                epilogue_row(&p, m, acc, 0, s->OW, Y, ((n * s->M + m) * s->OH + oy) * s->OW);
            }
        }
    free(p.comb);
    free(acc);
    return YQ_OK;
}

/* ---- plan ----------------------------------------------------------------------- */

void yq_qconv_plan_free(yq_qconv_plan *p) {
    if (!p) return;
    free(p->w);
    free(p->wsum);
    free(p->comb);
    free(p->bias);
    free(p->apack);
    free(p);
}

size_t yq_qconv_plan_scratch(const yq_qconv_plan *p) { return p->thread_bytes * (size_t)p->nthreads; }
yq_qconv_kernel yq_qconv_plan_kernel(const yq_qconv_plan *p) { return p->kernel; }

static void pack_weights(yq_qconv_plan *p) {
    const int64_t G = p->d.s.group;
    for (int64_t g = 0; g < G; g++)
        for (int64_t mb = 0; mb < p->mblocks; mb++) {
            int32_t *dst = p->apack + (g * p->mblocks + mb) * p->Kp * MR;
            for (int64_t kp = 0; kp < p->Kp; kp++)
                for (int r = 0; r < MR; r++) {
                    int64_t m = mb * MR + r;
                    int16_t lo = 0, hi = 0;
                    if (m < p->Mg) {
                        const int16_t *wm = p->w + (g * p->Mg + m) * p->K;
                        lo = wm[2 * kp];
                        hi = 2 * kp + 1 < p->K ? wm[2 * kp + 1] : 0;
                    }
                    dst[kp * MR + r] = (int32_t)((uint32_t)(uint16_t)lo | ((uint32_t)(uint16_t)hi << 16));
                }
        }
}

/* u8 kernel: per K quad, the 4 rows' (w'[4q .. 4q + 3]) as int8 in one int32. */
static void pack_weights_u8(yq_qconv_plan *p) {
    for (int64_t g = 0; g < p->d.s.group; g++)
        for (int64_t mb = 0; mb < p->mblocks; mb++) {
            int32_t *dst = p->apack + (g * p->mblocks + mb) * p->Kq * MR;
            for (int64_t q = 0; q < p->Kq; q++)
                for (int r = 0; r < MR; r++) {
                    const int64_t m = mb * MR + r;
                    uint32_t v = 0;
                    for (int h = 0; h < 4; h++) {
                        const int64_t k = 4 * q + h;
                        int8_t w = (m < p->Mg && k < p->K) ? (int8_t)p->w[(g * p->Mg + m) * p->K + k] : 0;
                        v |= (uint32_t)(uint8_t)w << (8 * h);
                    }
                    dst[q * MR + r] = (int32_t)v;
                }
        }
}

yq_status yq_qconv_plan_new(const yq_qconv_desc *din, int nthreads, int kernel, yq_qconv_plan **out) {
    *out = NULL;
    yq_qconv_desc d = *din;
    YQ_TRY(check_desc(&d));
    const yq_conv2d_shape *s = &d.s;
    const int dw = s->group == s->C && s->group == s->M;
    const int64_t K = s->C / s->group * s->kh * s->kw;
    int maxw = 0;
    for (int64_t i = 0; i < s->M * K; i++) maxw = abs(d.w[i]) > maxw ? abs(d.w[i]) : maxw;
    /* u8 × s8 pair sums (vpmaddubsw) are exact in int16 while 2·255·|w'| <= 32767;
     * qgroup of them still are when summed: 4-bit weights (|w'| <= 15) take 4. */
    const int qgroup = (int)min64(4, 32767 / (510 * (int64_t)(maxw > 0 ? maxw : 1)));
    if (kernel == YQ_QCONV_AUTO)
        kernel = dw                    ? YQ_QCONV_DEPTHWISE
                 : !yq_qconv_have_avx2() ? YQ_QCONV_GEMM_C
                 : qgroup >= 1          ? YQ_QCONV_GEMM_AVX2_U8
                                        : YQ_QCONV_GEMM_AVX2;
    if (kernel == YQ_QCONV_GEMM_AVX2_U8 && qgroup < 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "qconv: the u8 kernel needs |w'| <= 64 (got %d)", maxw);
    if (kernel == YQ_QCONV_DEPTHWISE && !dw)
        return yq_fail(YQ_ERR_UNSUPPORTED, "qconv: the depthwise kernel needs group == C == M");
    if ((kernel == YQ_QCONV_GEMM_AVX2 || kernel == YQ_QCONV_GEMM_AVX2_U8) && !yq_qconv_have_avx2())
        return yq_fail(YQ_ERR_UNSUPPORTED, "qconv: this CPU has no AVX2");
    if (kernel < YQ_QCONV_GEMM_C || kernel > YQ_QCONV_GEMM_AVX2_U8)
        return yq_fail(YQ_ERR_ARG, "qconv: unknown kernel %d", kernel);
    yq_qconv_plan *p = yq_calloc(1, sizeof *p);
    if (!p) return YQ_ERR_NOMEM;
    p->d = d;
    p->kernel = (yq_qconv_kernel)kernel;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    p->Cg = s->C / s->group;
    p->Mg = s->M / s->group;
    p->K = p->Cg * s->kh * s->kw;
    p->Kp = (p->K + 1) / 2;
    p->mblocks = (p->Mg + MR - 1) / MR;
    p->qgroup = qgroup < 1 ? 1 : qgroup;
    p->Kq = ((p->K + 3) / 4 + p->qgroup - 1) / p->qgroup * p->qgroup;
    const size_t wn = (size_t)(s->M * p->K);
    p->w = yq_malloc(wn * sizeof(int16_t));
    p->wsum = yq_malloc((size_t)s->M * sizeof(int32_t));
    p->comb = yq_malloc((size_t)s->M * sizeof(float));
    if (d.bias) p->bias = yq_malloc((size_t)s->M * sizeof(float));
    if (!p->w || !p->wsum || !p->comb || (d.bias && !p->bias)) goto nomem;
    memcpy(p->w, d.w, wn * sizeof(int16_t));
    if (d.bias) memcpy(p->bias, d.bias, (size_t)s->M * sizeof(float));
    for (int64_t m = 0; m < s->M; m++) {
        int32_t sum = 0;
        for (int64_t k = 0; k < p->K; k++) sum += p->w[m * p->K + k];
        p->wsum[m] = sum;
        p->comb[m] = d.x_scale * d.w_scale[m];
    }
    p->d.w = p->w;
    p->d.w_scale = NULL; /* folded into comb */
    p->d.bias = p->bias;
    if (kernel == YQ_QCONV_DEPTHWISE) {
        p->thread_bytes = align64((size_t)s->OW * sizeof(int32_t));
    } else if (kernel == YQ_QCONV_GEMM_AVX2_U8) {
        p->apack = yq_aligned_alloc(64, align64((size_t)(s->group * p->mblocks * p->Kq * MR) * sizeof(int32_t)));
        if (!p->apack) goto nomem;
        pack_weights_u8(p);
        const int64_t P = s->OH * s->OW;
        int64_t nc = (192 * 1024) / (p->Kq * 4);
        nc = max64(NR, min64(nc / NR * NR, 512));
        int64_t per_thread = (P * s->N * s->group + 2 * p->nthreads - 1) / (2 * p->nthreads);
        per_thread = (per_thread + NR - 1) / NR * NR;
        p->nc = max64(NR, min64(nc, per_thread));
        p->thread_bytes = align64((size_t)(p->Kq * p->nc * 4)) + align64((size_t)(MR * p->nc) * sizeof(int32_t)) +
                          align64((size_t)(4 * p->nc));
    } else {
        p->apack = yq_aligned_alloc(64, align64((size_t)(s->group * p->mblocks * p->Kp * MR) * sizeof(int32_t)));
        if (!p->apack) goto nomem;
        pack_weights(p);
        /* Pixel block: its packed int16 pairs (Kp · nc · 4 bytes) should stay in
         * L2 while every block of output channels streams over it; at least
         * two blocks per thread so small late layers still split. */
        const int64_t P = s->OH * s->OW;
        int64_t nc = (192 * 1024) / (p->Kp * 4);
        nc = nc / NR * NR;
        nc = max64(NR, min64(nc, 512));
        int64_t per_thread = (P * s->N * s->group + 2 * p->nthreads - 1) / (2 * p->nthreads);
        per_thread = (per_thread + NR - 1) / NR * NR;
        p->nc = max64(NR, min64(nc, per_thread));
        p->thread_bytes = align64((size_t)(p->Kp * p->nc * 2) * sizeof(int16_t)) +
                          align64((size_t)(MR * p->nc) * sizeof(int32_t)) +
                          align64((size_t)(2 * p->nc) * sizeof(int16_t));
    }
    *out = p;
    return YQ_OK;
nomem:
    yq_qconv_plan_free(p);
    return YQ_ERR_NOMEM;
}

/* ---- GEMM kernels --------------------------------------------------------------- */

/* c[r·ldc + j] = Σ_kp a[kp][r] · b[kp][j] as int16 pairs. */
static void ukr_c(int64_t Kp, const int32_t *restrict a, const int16_t *restrict b, int32_t *restrict c, int64_t ldc) {
    int32_t acc[MR][NR] = {{0}};
    for (int64_t kp = 0; kp < Kp; kp++) {
        const int16_t *bk = b + kp * NR * 2;
        for (int r = 0; r < MR; r++) {
            int32_t av = a[kp * MR + r];
            int32_t a0 = (int16_t)(uint16_t)((uint32_t)av & 0xFFFF), a1 = (int16_t)(uint16_t)((uint32_t)av >> 16);
            for (int j = 0; j < NR; j++) acc[r][j] += a0 * bk[2 * j] + a1 * bk[2 * j + 1];
        }
    }
    for (int r = 0; r < MR; r++) memcpy(c + r * ldc, acc[r], sizeof acc[r]);
}

/* The 4×16 int32 tile (two vectors a row) at c, rows ldc apart. */
AVX2_TARGET static inline void store_tile_avx2(int32_t *c, int64_t ldc, __m256i c00, __m256i c01, __m256i c10,
                                               __m256i c11, __m256i c20, __m256i c21, __m256i c30, __m256i c31) {
    _mm256_storeu_si256((__m256i *)c, c00);
    _mm256_storeu_si256((__m256i *)(c + 8), c01);
    _mm256_storeu_si256((__m256i *)(c + ldc), c10);
    _mm256_storeu_si256((__m256i *)(c + ldc + 8), c11);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc), c20);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc + 8), c21);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc), c30);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc + 8), c31);
}

AVX2_TARGET static void ukr_avx2(int64_t Kp, const int32_t *restrict a, const int16_t *restrict b,
                                 int32_t *restrict c, int64_t ldc) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
            c31 = c00;
    for (int64_t kp = 0; kp < Kp; kp++) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)(b + kp * NR * 2));
        const __m256i b1 = _mm256_load_si256((const __m256i *)(b + kp * NR * 2 + 16));
        __m256i a0 = _mm256_set1_epi32(a[kp * MR + 0]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b0, a0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b1, a0));
        __m256i a1 = _mm256_set1_epi32(a[kp * MR + 1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b0, a1));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b1, a1));
        __m256i a2 = _mm256_set1_epi32(a[kp * MR + 2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b0, a2));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b1, a2));
        __m256i a3 = _mm256_set1_epi32(a[kp * MR + 3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b0, a3));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b1, a3));
    }
    store_tile_avx2(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31);
}

/* t[c] = x[c·stride] − zx for c in [0, n), stride 1 or 2 (AVX2, 16 at a time;
 * reads stay inside x[0, (n − 1)·stride]). */
AVX2_TARGET static int64_t sub_zx_avx2(const uint8_t *x, int64_t n, int64_t stride, int16_t zx, int16_t *t) {
    const __m256i z = _mm256_set1_epi16(zx);
    int64_t c = 0;
    if (stride == 1) {
        for (; c + 16 <= n; c += 16) {
            __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + c)));
            _mm256_storeu_si256((__m256i *)(t + c), _mm256_sub_epi16(v, z));
        }
    } else if (stride == 2) {
        const __m256i even = _mm256_set1_epi16(0x00FF);
        for (; c + 16 < n; c += 16) { /* bytes 2c .. 2c + 31 <= 2(n − 1) */
            __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 2 * c)), even);
            _mm256_storeu_si256((__m256i *)(t + c), _mm256_sub_epi16(v, z));
        }
    }
    return c;
}

/* Interleave rows a, b (len a multiple of NR) into NR-pixel panels of pairs. */
AVX2_TARGET static void interleave_avx2(const int16_t *a, const int16_t *b, int64_t npanels, int64_t panel_stride,
                                        int16_t *d) {
    for (int64_t q = 0; q < npanels; q++, d += panel_stride) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + q * NR));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + q * NR));
        __m256i lo = _mm256_unpacklo_epi16(va, vb), hi = _mm256_unpackhi_epi16(va, vb);
        _mm256_store_si256((__m256i *)d, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256((__m256i *)(d + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}

static int have_avx2_cached(void);

/* Row k of the im2col matrix for pixels [p0, p0 + np) of one input plane xc
 * (kernel tap ky, kx), as x − zx (0 for padding) into t[0, np). */
static void gather_row(const yq_qconv_plan *p, const uint8_t *xc, int64_t ky, int64_t kx, int64_t p0, int64_t np,
                       int16_t *restrict t) {
    const yq_conv2d_shape *s = &p->d.s;
    const int16_t zx = (int16_t)p->d.x_zp;
    const int64_t off = kx * s->dil_w - s->pad_l, sw = s->stride_w;
    /* output columns whose input column ox·sw + off lies inside [0, W) */
    const int64_t lo = min64(s->OW, off >= 0 ? 0 : (-off + sw - 1) / sw);
    const int64_t hi = max64(lo, min64(s->OW, s->W - off <= 0 ? 0 : (s->W - off - 1) / sw + 1));
    int64_t oy = p0 / s->OW, ox = p0 % s->OW, j = 0;
    while (j < np) {
        const int64_t seg = min64(s->OW - ox, np - j), end = ox + seg;
        const int64_t iy = oy * s->stride_h - s->pad_t + ky * s->dil_h;
        const int64_t base = j - ox; /* t[base + c] is this row's column c */
        if (iy < 0 || iy >= s->H) {
            for (int64_t c = ox; c < end; c++) t[base + c] = 0;
        } else {
            const uint8_t *xr = xc + iy * s->W; /* column c reads xr[c·sw + off] */
            const int64_t a = max64(ox, min64(lo, end)), b = max64(a, min64(hi, end));
            for (int64_t c = ox; c < a; c++) t[base + c] = 0;
            int64_t c0 = a;
            if (have_avx2_cached() && sw <= 2 && b > a) c0 += sub_zx_avx2(xr + a * sw + off, b - a, sw, zx, t + base + a);
            if (sw == 1)
                for (int64_t c = c0; c < b; c++) t[base + c] = (int16_t)(xr[c + off] - zx);
            else
                for (int64_t c = c0; c < b; c++) t[base + c] = (int16_t)(xr[c * sw + off] - zx);
            for (int64_t c = b; c < end; c++) t[base + c] = 0;
        }
        j += seg;
        ox = 0;
        oy++;
    }
}

/* im2col of pixels [p0, p0 + np) of image n, group g into NR-wide panels of
 * int16 pairs (x − zx; 0 for padding and past np). rows: 2 · round_up(np, NR)
 * int16 of scratch. */
static void pack_input(const yq_qconv_plan *p, const uint8_t *X, int64_t n, int64_t g, int64_t p0, int64_t np,
                       int16_t *restrict dst, int16_t *restrict rows) {
    const yq_conv2d_shape *s = &p->d.s;
    const int64_t npanels = (np + NR - 1) / NR, len = npanels * NR;
    const int64_t panel_stride = p->Kp * NR * 2, khw = s->kh * s->kw;
    int16_t *ra = rows, *rb = rows + len;
    for (int64_t j = np; j < len; j++) ra[j] = rb[j] = 0;
    for (int64_t kp = 0; kp < p->Kp; kp++) {
        for (int h = 0; h < 2; h++) {
            const int64_t k = 2 * kp + h;
            int16_t *r = h ? rb : ra;
            if (k >= p->K) {
                for (int64_t j = 0; j < np; j++) r[j] = 0;
                continue;
            }
            const int64_t c = k / khw, ky = (k / s->kw) % s->kh, kx = k % s->kw;
            gather_row(p, X + ((n * s->C + g * p->Cg + c) * s->H) * s->W, ky, kx, p0, np, r);
        }
        int16_t *d = dst + kp * NR * 2;
        if (have_avx2_cached()) {
            interleave_avx2(ra, rb, npanels, panel_stride, d);
            continue;
        }
        for (int64_t q = 0; q < npanels; q++, d += panel_stride)
            for (int l = 0; l < NR; l++) {
                d[2 * l] = ra[q * NR + l];
                d[2 * l + 1] = rb[q * NR + l];
            }
    }
}

/* u8 kernel: c[r][j] = Σ_q Σ_h x[4q + h][j] · w[r][4q + h], with x the raw
 * codes (u8) and w' int8: vpmaddubsw pair sums, qgroup quads added in int16
 * (exact, see plan_new), widened by vpmaddwd with ones. The caller subtracts
 * zx · Σw'. */
AVX2_TARGET static void ukr_u8_avx2(int64_t Kq, int qgroup, const int32_t *restrict a, const uint8_t *restrict b,
                                    int32_t *restrict c, int64_t ldc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
            c31 = c00;
    for (int64_t q0 = 0; q0 < Kq; q0 += qgroup) {
        __m256i t00 = _mm256_setzero_si256(), t01 = t00, t10 = t00, t11 = t00, t20 = t00, t21 = t00, t30 = t00,
                t31 = t00;
        for (int64_t q = q0; q < q0 + qgroup; q++) {
            const __m256i b0 = _mm256_load_si256((const __m256i *)(b + q * NR * 4));
            const __m256i b1 = _mm256_load_si256((const __m256i *)(b + q * NR * 4 + 32));
            __m256i a0 = _mm256_set1_epi32(a[q * MR + 0]);
            t00 = _mm256_add_epi16(t00, _mm256_maddubs_epi16(b0, a0));
            t01 = _mm256_add_epi16(t01, _mm256_maddubs_epi16(b1, a0));
            __m256i a1 = _mm256_set1_epi32(a[q * MR + 1]);
            t10 = _mm256_add_epi16(t10, _mm256_maddubs_epi16(b0, a1));
            t11 = _mm256_add_epi16(t11, _mm256_maddubs_epi16(b1, a1));
            __m256i a2 = _mm256_set1_epi32(a[q * MR + 2]);
            t20 = _mm256_add_epi16(t20, _mm256_maddubs_epi16(b0, a2));
            t21 = _mm256_add_epi16(t21, _mm256_maddubs_epi16(b1, a2));
            __m256i a3 = _mm256_set1_epi32(a[q * MR + 3]);
            t30 = _mm256_add_epi16(t30, _mm256_maddubs_epi16(b0, a3));
            t31 = _mm256_add_epi16(t31, _mm256_maddubs_epi16(b1, a3));
        }
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(t00, ones));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(t01, ones));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(t10, ones));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(t11, ones));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(t20, ones));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(t21, ones));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(t30, ones));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(t31, ones));
    }
    store_tile_avx2(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31);
}

/* Row k of the im2col matrix as raw codes (zx for padding) into t[0, np). */
AVX2_TARGET static void gather_row_u8(const yq_qconv_plan *p, const uint8_t *xc, int64_t ky, int64_t kx, int64_t p0,
                                      int64_t np, uint8_t *restrict t) {
    const yq_conv2d_shape *s = &p->d.s;
    const uint8_t zx = (uint8_t)p->d.x_zp;
    const int64_t off = kx * s->dil_w - s->pad_l, sw = s->stride_w;
    const int64_t lo = min64(s->OW, off >= 0 ? 0 : (-off + sw - 1) / sw);
    const int64_t hi = max64(lo, min64(s->OW, s->W - off <= 0 ? 0 : (s->W - off - 1) / sw + 1));
    int64_t oy = p0 / s->OW, ox = p0 % s->OW, j = 0;
    while (j < np) {
        const int64_t seg = min64(s->OW - ox, np - j), end = ox + seg;
        const int64_t iy = oy * s->stride_h - s->pad_t + ky * s->dil_h;
        const int64_t base = j - ox;
        if (iy < 0 || iy >= s->H) {
            memset(t + base + ox, zx, (size_t)seg);
        } else {
            const uint8_t *xr = xc + iy * s->W;
            const int64_t a = max64(ox, min64(lo, end)), b = max64(a, min64(hi, end));
            if (a > ox) memset(t + base + ox, zx, (size_t)(a - ox));
            if (sw == 1) {
                if (b > a) memcpy(t + base + a, xr + a + off, (size_t)(b - a));
            } else {
                int64_t c = a;
                if (sw == 2) {
                    const __m256i even = _mm256_set1_epi16(0x00FF);
                    for (; c + 16 < b; c += 16) { /* bytes 2c + off .. 2c + off + 31 stay inside the row */
                        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(xr + 2 * c + off)), even);
                        v = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0x08);
                        _mm_storeu_si128((__m128i *)(t + base + c), _mm256_castsi256_si128(v));
                    }
                }
                for (; c < b; c++) t[base + c] = xr[c * sw + off];
            }
            if (end > b) memset(t + base + b, zx, (size_t)(end - b));
        }
        j += seg;
        ox = 0;
        oy++;
    }
}

/* im2col into NR-pixel panels of code quads: per K quad q and pixel j the
 * bytes x[4q .. 4q + 3][j] (zx past K: the weights there are 0). rows: 4 ·
 * round_up(np, NR) bytes of scratch. */
AVX2_TARGET static void pack_input_u8(const yq_qconv_plan *p, const uint8_t *X, int64_t n, int64_t g, int64_t p0,
                                      int64_t np, uint8_t *restrict dst, uint8_t *restrict rows) {
    const yq_conv2d_shape *s = &p->d.s;
    const int64_t npanels = (np + NR - 1) / NR, len = npanels * NR;
    const int64_t panel_stride = p->Kq * NR * 4, khw = s->kh * s->kw;
    const uint8_t zx = (uint8_t)p->d.x_zp;
    for (int h = 0; h < 4; h++) memset(rows + h * len + np, zx, (size_t)(len - np));
    for (int64_t q = 0; q < p->Kq; q++) {
        for (int h = 0; h < 4; h++) {
            const int64_t k = 4 * q + h;
            uint8_t *r = rows + h * len;
            if (k >= p->K) {
                memset(r, zx, (size_t)np);
                continue;
            }
            const int64_t c = k / khw, ky = (k / s->kw) % s->kh, kx = k % s->kw;
            gather_row_u8(p, X + ((n * s->C + g * p->Cg + c) * s->H) * s->W, ky, kx, p0, np, r);
        }
        uint8_t *d = dst + q * NR * 4;
        for (int64_t pn = 0; pn < npanels; pn++, d += panel_stride) {
            const __m128i r0 = _mm_loadu_si128((const __m128i *)(rows + pn * NR));
            const __m128i r1 = _mm_loadu_si128((const __m128i *)(rows + len + pn * NR));
            const __m128i r2 = _mm_loadu_si128((const __m128i *)(rows + 2 * len + pn * NR));
            const __m128i r3 = _mm_loadu_si128((const __m128i *)(rows + 3 * len + pn * NR));
            const __m128i p01l = _mm_unpacklo_epi8(r0, r1), p01h = _mm_unpackhi_epi8(r0, r1);
            const __m128i p23l = _mm_unpacklo_epi8(r2, r3), p23h = _mm_unpackhi_epi8(r2, r3);
            _mm_store_si128((__m128i *)d, _mm_unpacklo_epi16(p01l, p23l));
            _mm_store_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(p01l, p23l));
            _mm_store_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(p01h, p23h));
            _mm_store_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(p01h, p23h));
        }
    }
}

static void gemm_u8_task(void *arg, int64_t begin, int64_t end, int tid);

typedef struct qrun {
    const yq_qconv_plan *p;
    const uint8_t *X;
    void *Y;
    unsigned char *scratch;
    int64_t nblocks; /* pixel blocks per (image, group) */
} qrun;

static void gemm_task(void *arg, int64_t begin, int64_t end, int tid) {
    const qrun *r = arg;
    const yq_qconv_plan *p = r->p;
    const yq_conv2d_shape *s = &p->d.s;
    const int64_t P = s->OH * s->OW;
    unsigned char *ts = r->scratch + (size_t)tid * p->thread_bytes;
    int16_t *bpack = (int16_t *)ts;
    int32_t *tile = (int32_t *)(ts + align64((size_t)(p->Kp * p->nc * 2) * sizeof(int16_t)));
    int16_t *rows = (int16_t *)((unsigned char *)tile + align64((size_t)(MR * p->nc) * sizeof(int32_t)));
    for (int64_t t = begin; t < end; t++) {
        const int64_t blk = t % r->nblocks, ng = t / r->nblocks, g = ng % s->group, n = ng / s->group;
        const int64_t p0 = blk * p->nc, np = min64(p->nc, P - p0);
        pack_input(p, r->X, n, g, p0, np, bpack, rows);
        for (int64_t mb = 0; mb < p->mblocks; mb++) {
            const int32_t *a = p->apack + (g * p->mblocks + mb) * p->Kp * MR;
            for (int64_t j0 = 0; j0 < np; j0 += NR) {
                const int16_t *b = bpack + (j0 / NR) * p->Kp * NR * 2;
                if (p->kernel == YQ_QCONV_GEMM_AVX2)
                    ukr_avx2(p->Kp, a, b, tile + j0, p->nc);
                else
                    ukr_c(p->Kp, a, b, tile + j0, p->nc);
            }
            for (int rr = 0; rr < MR; rr++) {
                const int64_t m = mb * MR + rr;
                if (m >= p->Mg) break;
                const int64_t mm = g * p->Mg + m;
                epilogue_row(p, mm, tile + rr * p->nc, 0, np, r->Y, (n * s->M + mm) * P + p0);
            }
        }
    }
}

static void gemm_u8_task(void *arg, int64_t begin, int64_t end, int tid) {
    const qrun *r = arg;
    const yq_qconv_plan *p = r->p;
    const yq_conv2d_shape *s = &p->d.s;
    const int64_t P = s->OH * s->OW;
    unsigned char *ts = r->scratch + (size_t)tid * p->thread_bytes;
    uint8_t *bpack = ts;
    int32_t *tile = (int32_t *)(ts + align64((size_t)(p->Kq * p->nc * 4)));
    uint8_t *rows = (uint8_t *)tile + align64((size_t)(MR * p->nc) * sizeof(int32_t));
    for (int64_t t = begin; t < end; t++) {
        const int64_t blk = t % r->nblocks, ng = t / r->nblocks, g = ng % s->group, n = ng / s->group;
        const int64_t p0 = blk * p->nc, np = min64(p->nc, P - p0);
        pack_input_u8(p, r->X, n, g, p0, np, bpack, rows);
        for (int64_t mb = 0; mb < p->mblocks; mb++) {
            const int32_t *a = p->apack + (g * p->mblocks + mb) * p->Kq * MR;
            for (int64_t j0 = 0; j0 < np; j0 += NR)
                ukr_u8_avx2(p->Kq, p->qgroup, a, bpack + (j0 / NR) * p->Kq * NR * 4, tile + j0, p->nc);
            for (int rr = 0; rr < MR; rr++) {
                const int64_t m = mb * MR + rr;
                if (m >= p->Mg) break;
                const int64_t mm = g * p->Mg + m;
                /* Σ(x − zx)w' = Σ x·w' − zx·Σw' */
                epilogue_row(p, mm, tile + rr * p->nc, p->d.x_zp * p->wsum[mm], np, r->Y,
                             (n * s->M + mm) * P + p0);
            }
        }
    }
}

/* ---- depthwise -------------------------------------------------------------------- */

/* acc[ox] += (x[ox·stride + off] − zx) · w for ox in [lo, hi), stride 1 or
 * 2, eight at a time; returns the first ox left for the scalar loop. Reads
 * stay inside x[lo·stride + off, (hi − 1)·stride + off]. */
AVX2_TARGET static int64_t dw_row_avx2(const uint8_t *xrow, int64_t off, int64_t lo, int64_t hi, int64_t stride,
                                       int32_t zx, int32_t w, int32_t *acc) {
    const __m256i z = _mm256_set1_epi32(zx), wv = _mm256_set1_epi32(w);
    int64_t ox = lo;
    if (stride == 1) {
        for (; ox + 8 <= hi; ox += 8) {
            __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(xrow + ox + off)));
            __m256i a = _mm256_loadu_si256((const __m256i *)(acc + ox));
            _mm256_storeu_si256((__m256i *)(acc + ox), _mm256_add_epi32(a, _mm256_mullo_epi32(_mm256_sub_epi32(v, z), wv)));
        }
    } else if (stride == 2) {
        const __m128i even = _mm_set1_epi16(0x00FF);
        for (; ox + 9 <= hi; ox += 8) { /* bytes 2·ox .. 2·ox + 15 <= 2(hi − 1) */
            __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(xrow + 2 * ox + off)), even);
            __m256i v = _mm256_cvtepi16_epi32(b);
            __m256i a = _mm256_loadu_si256((const __m256i *)(acc + ox));
            _mm256_storeu_si256((__m256i *)(acc + ox), _mm256_add_epi32(a, _mm256_mullo_epi32(_mm256_sub_epi32(v, z), wv)));
        }
    }
    return ox;
}

static void dw_task(void *arg, int64_t begin, int64_t end, int tid) {
    const qrun *r = arg;
    const yq_qconv_plan *p = r->p;
    const yq_conv2d_shape *s = &p->d.s;
    int32_t *acc = (int32_t *)(r->scratch + (size_t)tid * p->thread_bytes);
    const int32_t zx = p->d.x_zp;
    for (int64_t t = begin; t < end; t++) {
        const int64_t c = t % s->C, n = t / s->C;
        const uint8_t *x = r->X + (n * s->C + c) * s->H * s->W;
        const int16_t *w = p->w + c * s->kh * s->kw;
        for (int64_t oy = 0; oy < s->OH; oy++) {
            for (int64_t ox = 0; ox < s->OW; ox++) acc[ox] = 0;
            for (int64_t ky = 0; ky < s->kh; ky++) {
                const int64_t iy = oy * s->stride_h - s->pad_t + ky * s->dil_h;
                if (iy < 0 || iy >= s->H) continue; /* padding: (zx − zx)·w = 0 */
                const uint8_t *xr = x + iy * s->W;
                for (int64_t kx = 0; kx < s->kw; kx++) {
                    const int32_t wv = w[ky * s->kw + kx];
                    const int64_t off = kx * s->dil_w - s->pad_l; /* ix = ox·stride + off */
                    /* ox range with 0 <= ix < W */
                    int64_t lo = off >= 0 ? 0 : (-off + s->stride_w - 1) / s->stride_w;
                    int64_t hi = s->W - off <= 0 ? 0 : (s->W - off - 1) / s->stride_w + 1;
                    hi = min64(hi, s->OW);
                    if (lo < hi && have_avx2_cached() && s->stride_w <= 2)
                        lo = dw_row_avx2(xr, off, lo, hi, s->stride_w, zx, wv, acc);
                    if (s->stride_w == 1) {
                        for (int64_t ox = lo; ox < hi; ox++) acc[ox] += ((int32_t)xr[ox + off] - zx) * wv;
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++)
                            acc[ox] += ((int32_t)xr[ox * s->stride_w + off] - zx) * wv;
                    }
                }
            }
            epilogue_row(p, c, acc, 0, s->OW, r->Y, ((n * s->M + c) * s->OH + oy) * s->OW);
        }
    }
}

yq_status yq_qconv_run(const yq_qconv_plan *p, yq_pool *pool, const uint8_t *X, void *Y, void *scratch) {
    const yq_conv2d_shape *s = &p->d.s;
    if (yq_pool_size(pool) > p->nthreads)
        return yq_fail(YQ_ERR_INTERNAL, "qconv: pool of %d threads, plan for %d", yq_pool_size(pool), p->nthreads);
    void *owned = NULL;
    if (!scratch) {
        owned = yq_aligned_alloc(64, yq_qconv_plan_scratch(p) ? yq_qconv_plan_scratch(p) : 64);
        if (!owned) return YQ_ERR_NOMEM;
        scratch = owned;
    }
    qrun r = {.p = p, .X = X, .Y = Y, .scratch = scratch};
    if (p->kernel == YQ_QCONV_DEPTHWISE) {
        yq_parallel_for(pool, s->N * s->C, 1, dw_task, &r);
    } else {
        const int64_t P = s->OH * s->OW;
        r.nblocks = (P + p->nc - 1) / p->nc;
        yq_parallel_for(pool, s->N * s->group * r.nblocks, 1,
                        p->kernel == YQ_QCONV_GEMM_AVX2_U8 ? gemm_u8_task : gemm_task, &r);
    }
    free(owned);
    return YQ_OK;
}

/* ---- the QConvU8 op ------------------------------------------------------------------
 * Inputs: 0 X codes (uint8, [N, C, H, W]), 1 W' (int16 [M, C/group, kh, kw]),
 * 2 bias (float [M], optional), 3 x_scale (float scalar), 4 x_zero_point
 * (uint8 scalar), 5 w_scale (float [M]), 6 y_scale, 7 y_zero_point (uint8)
 * (both present: uint8 output; absent: float output). Attributes: strides,
 * dilations, pads (explicit), group. node->fused_act: SiLU epilogue. */

static yq_status qconv_geometry(const yq_node *n, const yq_value *x, const yq_value *w, yq_conv2d_shape *s) {
    if (x->rank != 4 || w->rank != 4)
        return yq_node_errorf(n, YQ_ERR_INVALID, "X and W must be 4-D (got ranks %d and %d)", x->rank, w->rank);
    int64_t st[2], dl[2], pd[4];
    YQ_TRY(yq_node_ints_exact(n, "strides", 2, 1, st));
    YQ_TRY(yq_node_ints_exact(n, "dilations", 2, 1, dl));
    YQ_TRY(yq_node_ints_exact(n, "pads", 4, 0, pd));
    *s = (yq_conv2d_shape){.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .M = w->dims[0],
                           .kh = w->dims[2], .kw = w->dims[3], .group = yq_attr_int(n, "group", 1),
                           .stride_h = st[0], .stride_w = st[1], .dil_h = dl[0], .dil_w = dl[1],
                           .pad_t = pd[0], .pad_l = pd[1], .pad_b = pd[2], .pad_r = pd[3]};
    if (s->group < 1 || w->dims[1] * s->group != s->C)
        return yq_node_errorf(n, YQ_ERR_INVALID, "W's %lld channels x group %lld do not match X's %lld",
                              (long long)w->dims[1], (long long)s->group, (long long)s->C);
    yq_status st2 = yq_conv2d_shape_check(s);
    if (st2 != YQ_OK) return yq_node_errorf(n, st2, "bad geometry");
    return YQ_OK;
}

static int qconv_has_output_q(const yq_node *n) {
    return n->ninputs > 7 && n->inputs[6] >= 0 && n->inputs[7] >= 0;
}

static yq_status qconv_infer(yq_infer_ctx *c) {
    for (int i = 0; i < 6; i++)
        if (i != 2) YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0), *w = yq_in(c, 1);
    if (x->dtype != YQ_DT_UINT8 || w->dtype != YQ_DT_INT16)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects uint8 X and int16 W', got %s and %s", yq_dtype_name(x->dtype),
                            yq_dtype_name(w->dtype));
    yq_conv2d_shape s;
    YQ_TRY(qconv_geometry(c->node, x, w, &s));
    int64_t dims[4] = {s.N, s.M, s.OH, s.OW};
    yq_set_out(c, 0, qconv_has_output_q(c->node) ? YQ_DT_UINT8 : YQ_DT_FLOAT, 4, dims);
    return YQ_OK;
}

typedef struct qconv_state {
    yq_qconv_plan *plan;
} qconv_state;

static yq_status qconv_prepare(yq_prepare_ctx *c) {
    const yq_node *n = c->node;
    for (int i = 1; i < c->nin; i++)
        if (n->inputs[i] >= 0 && !c->in[i].data)
            return yq_node_errorf(n, YQ_ERR_INVALID, "input %d must be a constant", i);
    const yq_value *x = &c->g->values[n->inputs[0]], *w = &c->g->values[n->inputs[1]];
    yq_qconv_desc d = {0};
    YQ_TRY(qconv_geometry(n, x, w, &d.s));
    if (c->in[5].dtype != YQ_DT_FLOAT || yq_tensor_numel(&c->in[5]) != d.s.M || c->in[3].dtype != YQ_DT_FLOAT ||
        (n->inputs[2] >= 0 && (c->in[2].dtype != YQ_DT_FLOAT || yq_tensor_numel(&c->in[2]) != d.s.M)))
        return yq_node_errorf(n, YQ_ERR_INVALID, "scales and bias must be float32 (w_scale and bias with M values)");
    d.w = c->in[1].data;
    d.w_scale = c->in[5].data;
    d.bias = n->inputs[2] >= 0 ? c->in[2].data : NULL;
    d.x_scale = *(const float *)c->in[3].data;
    d.x_zp = (int32_t)yq_elem_as_int64(c->in[4].dtype, c->in[4].data, 0);
    d.act = n->fused_act == YQ_FUSED_SILU ? YQ_ACT_SILU : YQ_ACT_NONE;
    if (qconv_has_output_q(n)) {
        d.out_u8 = 1;
        d.y_scale = *(const float *)c->in[6].data;
        d.y_zp = (int32_t)yq_elem_as_int64(c->in[7].dtype, c->in[7].data, 0);
    }
    qconv_state *st = yq_calloc(1, sizeof *st);
    if (!st) return YQ_ERR_NOMEM;
    yq_status rc = yq_qconv_plan_new(&d, c->nthreads, YQ_QCONV_AUTO, &st->plan);
    if (rc != YQ_OK) {
        free(st);
        char label[384];
        return yq_fail_prefix(rc, "%s", yq_node_label(c->g, n, label, sizeof label));
    }
    c->state = st;
    c->scratch_bytes = yq_qconv_plan_scratch(st->plan);
    return YQ_OK;
}

static void qconv_release(void *state) {
    qconv_state *s = state;
    if (!s) return;
    yq_qconv_plan_free(s->plan);
    free(s);
}

static yq_status qconv_run(yq_run_ctx *c) {
    const qconv_state *s = c->state;
    if (!s || !s->plan) return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "not prepared");
    return yq_qconv_run(s->plan, c->pool, c->in[0].data, c->out[0].data, c->scratch);
}

static double qconv_flops(const yq_graph *gr, const yq_node *n) {
    if (n->noutputs < 1 || n->ninputs < 2 || n->outputs[0] < 0 || n->inputs[1] < 0) return 0;
    const yq_value *y = &gr->values[n->outputs[0]], *w = &gr->values[n->inputs[1]];
    if (y->rank < 0 || w->rank < 1) return 0;
    double outs = 1, macs_per = 1;
    for (int d = 0; d < y->rank; d++) outs *= (double)y->dims[d];
    for (int d = 1; d < w->rank; d++) macs_per *= (double)w->dims[d];
    return outs < 0 || macs_per < 0 ? 0 : 2.0 * outs * macs_per;
}

const char *yq_qconv_node_kernel(const void *state) {
    const qconv_state *s = state;
    return s && s->plan ? yq_qconv_kernel_name(yq_qconv_plan_kernel(s->plan)) : "?";
}

void yq_register_qconv_ops(yq_op_vtable *table) {
    table[YQ_OP_QConvU8] = (yq_op_vtable){qconv_infer, qconv_prepare, qconv_run, qconv_release, qconv_flops};
}
