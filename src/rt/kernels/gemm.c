/* Single-precision GEMM: packing, blocking, threading and the micro-kernels.
 * See gemm.h for the contract. */
#include "rt/kernels/gemm.h"

#include "rt/kernels/simd_math.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- micro-kernel interface ---------------------------------------------- */
/* ukr computes an MR×NR tile from a packed A micro-panel (kc rows of MR values)
 * and a packed B micro-panel (kc rows of NR values), and writes the top-left
 * mr×nr part of it to C (row stride ldc). UKR_ACCUMULATE adds the old C;
 * UKR_LAST marks the last K block, where the epilogue is applied. */
enum { UKR_ACCUMULATE = 1, UKR_LAST = 2 };
typedef void (*ukr_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                       int flags, const float *bias, yq_act act);

typedef struct gemm_arch {
    yq_gemm_isa isa;
    int mr, nr;
    /* Cache blocking: a KC×NC block of packed B stays in L2 while the MR×KC
     * micro-panel of A in L1 sweeps across it; MC bounds the A block packed at
     * run time (only when A is not pre-packed). */
    int64_t kc, nc, mc;
    ukr_fn ukr;
} gemm_arch;

/* ---- portable C kernel --------------------------------------------------- */
enum { SCALAR_MR = 4, SCALAR_NR = 16 };

static void ukr_scalar(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                       int64_t ldc, int mr, int nr, int flags, const float *bias, yq_act act) {
    float acc[SCALAR_MR][SCALAR_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = a + k * SCALAR_MR, *bk = b + k * SCALAR_NR;
        for (int i = 0; i < SCALAR_MR; i++)
            for (int j = 0; j < SCALAR_NR; j++) acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[i][j];
            if (flags & UKR_ACCUMULATE) v += ci[j];
            if (flags & UKR_LAST) {
                if (bias) v += bias[i];
                if (act == YQ_ACT_SILU) v = yq_silu_ref(v);
            }
            ci[j] = v;
        }
    }
}

static void bias_act_scalar(float *y, int64_t n, float bias, yq_act act) {
    if (act == YQ_ACT_SILU)
        for (int64_t i = 0; i < n; i++) y[i] = yq_silu_ref(y[i] + bias);
    else
        for (int64_t i = 0; i < n; i++) y[i] += bias;
}

/* ---- AVX2 + FMA kernel (6×16) -------------------------------------------- */
enum { AVX2_MR = 6, AVX2_NR = 16 };

/* Lane mask for the first `count` (0..8) lanes. */
AVX2_TARGET static inline __m256i lanes_avx2(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2_TARGET static void ukr_avx2(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                                 int64_t ldc, int mr, int nr, int flags, const float *bias, yq_act act) {
    __m256 acc[AVX2_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX2_MR;
        b += AVX2_NR;
    }
    int cnt0 = nr < 8 ? nr : 8, cnt1 = nr - 8 < 0 ? 0 : (nr - 8 > 8 ? 8 : nr - 8);
    __m256i m0 = lanes_avx2(cnt0), m1 = lanes_avx2(cnt1);
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
        __m256 x0 = acc[i][0], x1 = acc[i][1];
        if (flags & UKR_ACCUMULATE) {
            x0 = _mm256_add_ps(x0, _mm256_maskload_ps(ci, m0));
            x1 = _mm256_add_ps(x1, _mm256_maskload_ps(ci + 8, m1));
        }
        if (flags & UKR_LAST) {
            if (bias) {
                __m256 bi = _mm256_broadcast_ss(bias + i);
                x0 = _mm256_add_ps(x0, bi);
                x1 = _mm256_add_ps(x1, bi);
            }
            if (act == YQ_ACT_SILU) {
                x0 = yq_silu_avx2(x0);
                x1 = yq_silu_avx2(x1);
            }
        }
        _mm256_maskstore_ps(ci, m0, x0);
        _mm256_maskstore_ps(ci + 8, m1, x1);
    }
}

AVX2_TARGET static void bias_act_avx2(float *y, int64_t n, float bias, yq_act act) {
    __m256 b = _mm256_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 8) {
        int cnt = n - i < 8 ? (int)(n - i) : 8;
        __m256i m = lanes_avx2(cnt);
        __m256 x = _mm256_add_ps(_mm256_maskload_ps(y + i, m), b);
        if (act == YQ_ACT_SILU) x = yq_silu_avx2(x);
        _mm256_maskstore_ps(y + i, m, x);
    }
}

/* ---- AVX-512 kernel (12×32) ---------------------------------------------- */
enum { AVX512_MR = 12, AVX512_NR = 32 };

AVX512_TARGET static inline __mmask16 lanes_avx512(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

AVX512_TARGET static void ukr_avx512(int64_t kc, const float *restrict a, const float *restrict b,
                                     float *restrict c, int64_t ldc, int mr, int nr, int flags,
                                     const float *bias, yq_act act) {
    __m512 acc[AVX512_MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    /* The tile is written at the end: start fetching its lines now. */
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++)
        if (i < mr) {
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
        }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX512_MR;
        b += AVX512_NR;
    }
    __mmask16 m0 = lanes_avx512(nr), m1 = lanes_avx512(nr - 16);
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
        __m512 x0 = acc[i][0], x1 = acc[i][1];
        if (flags & UKR_ACCUMULATE) {
            x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, ci));
            x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        if (flags & UKR_LAST) {
            if (bias) {
                __m512 bi = _mm512_set1_ps(bias[i]);
                x0 = _mm512_add_ps(x0, bi);
                x1 = _mm512_add_ps(x1, bi);
            }
            if (act == YQ_ACT_SILU) {
                x0 = yq_silu_avx512(x0);
                x1 = yq_silu_avx512(x1);
            }
        }
        _mm512_mask_storeu_ps(ci, m0, x0);
        _mm512_mask_storeu_ps(ci + 16, m1, x1);
    }
}

AVX512_TARGET static void bias_act_avx512(float *y, int64_t n, float bias, yq_act act) {
    __m512 b = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes_avx512(n - i < 16 ? (int)(n - i) : 16);
        __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), b);
        if (act == YQ_ACT_SILU) x = yq_silu_avx512(x);
        _mm512_mask_storeu_ps(y + i, m, x);
    }
}

/* ---- ISA selection ------------------------------------------------------- */
static const gemm_arch arch_scalar = {YQ_GEMM_ISA_SCALAR, SCALAR_MR, SCALAR_NR, 256, 512, 128, ukr_scalar};
static const gemm_arch arch_avx2 = {YQ_GEMM_ISA_AVX2, AVX2_MR, AVX2_NR, 256, 1024, 144, ukr_avx2};
static const gemm_arch arch_avx512 = {YQ_GEMM_ISA_AVX512, AVX512_MR, AVX512_NR, 256, 1024, 144, ukr_avx512};

static _Atomic int forced_isa = YQ_GEMM_ISA_AUTO;

static yq_gemm_isa detect_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return YQ_GEMM_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return YQ_GEMM_ISA_AVX2;
    return YQ_GEMM_ISA_SCALAR;
}

/* Detected once; a race only computes the same value twice. */
static _Atomic int best_isa = -1;

yq_gemm_isa yq_gemm_isa_best(void) {
    int b = atomic_load_explicit(&best_isa, memory_order_relaxed);
    if (b < 0) {
        b = (int)detect_isa();
        atomic_store_explicit(&best_isa, b, memory_order_relaxed);
    }
    return (yq_gemm_isa)b;
}

yq_gemm_isa yq_gemm_isa_current(void) {
    yq_gemm_isa best = yq_gemm_isa_best();
    yq_gemm_isa f = (yq_gemm_isa)atomic_load_explicit(&forced_isa, memory_order_relaxed);
    return (f == YQ_GEMM_ISA_AUTO || f > best) ? best : f;
}

yq_gemm_isa yq_gemm_set_isa(yq_gemm_isa isa) {
    atomic_store(&forced_isa, (int)isa);
    return yq_gemm_isa_current();
}

const char *yq_gemm_isa_name(yq_gemm_isa isa) {
    switch (isa) {
    case YQ_GEMM_ISA_SCALAR: return "scalar";
    case YQ_GEMM_ISA_AVX2: return "avx2";
    case YQ_GEMM_ISA_AVX512: return "avx512";
    default: return "auto";
    }
}

static const gemm_arch *arch_for(yq_gemm_isa isa) {
    switch (isa) {
    case YQ_GEMM_ISA_AVX512: return &arch_avx512;
    case YQ_GEMM_ISA_AVX2: return &arch_avx2;
    default: return &arch_scalar;
    }
}

void yq_apply_bias_act(float *y, int64_t n, float bias, yq_act act) {
    switch (yq_gemm_isa_current()) {
    case YQ_GEMM_ISA_AVX512: bias_act_avx512(y, n, bias, act); break;
    case YQ_GEMM_ISA_AVX2: bias_act_avx2(y, n, bias, act); break;
    default: bias_act_scalar(y, n, bias, act); break;
    }
}

/* ---- packing ------------------------------------------------------------- */
static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* op(A)[rows m0.., cols k0..] as panels of mr rows: panel p, depth k, row r at
 * dst[p*panel_stride + k*mr + r]; rows past m1 are zero. */
static void pack_a_block(const float *A, int64_t lda, int transA, int64_t m0, int64_t m1, int64_t k0, int64_t kc,
                         int mr, int64_t panel_stride, float *dst) {
    for (int64_t p = 0; m0 + p * mr < m1; p++) {
        float *d = dst + p * panel_stride;
        for (int r = 0; r < mr; r++) {
            int64_t row = m0 + p * mr + r;
            if (row >= m1) {
                for (int64_t k = 0; k < kc; k++) d[k * mr + r] = 0.0f;
            } else if (transA) {
                const float *src = A + k0 * lda + row;
                for (int64_t k = 0; k < kc; k++) d[k * mr + r] = src[k * lda];
            } else {
                const float *src = A + row * lda + k0;
                for (int64_t k = 0; k < kc; k++) d[k * mr + r] = src[k];
            }
        }
    }
}

/* The same panels from int8 codes: element (row, k) is (float)q·scale[row],
 * the value DequantizeLinear gives (w' = code − zero point), so a GEMM on it
 * equals the GEMM on the dequantized float matrix bit for bit. */
static void pack_a_block_int8(const int8_t *Q, int64_t ldq, const float *scale, int64_t m0, int64_t m1, int64_t k0,
                              int64_t kc, int mr, int64_t panel_stride, float *dst) {
    for (int64_t p = 0; m0 + p * mr < m1; p++) {
        float *d = dst + p * panel_stride;
        for (int r = 0; r < mr; r++) {
            const int64_t row = m0 + p * mr + r;
            if (row >= m1) {
                for (int64_t k = 0; k < kc; k++) d[k * mr + r] = 0.0f;
                continue;
            }
            const int8_t *src = Q + row * ldq + k0;
            const float s = scale[row];
            for (int64_t k = 0; k < kc; k++) d[k * mr + r] = (float)src[k] * s;
        }
    }
}

struct yq_packed_a {
    const gemm_arch *arch;
    int64_t M, K;
    float *data; /* ceil(M/mr) panels of K×mr */
    size_t bytes;
};

yq_status yq_pack_a(const float *A, int64_t lda, int transA, int64_t M, int64_t K, yq_packed_a **out) {
    *out = NULL;
    if (M < 0 || K < 0) return yq_fail(YQ_ERR_INVALID, "gemm: negative matrix size %lldx%lld", (long long)M, (long long)K);
    const gemm_arch *arch = arch_for(yq_gemm_isa_current());
    yq_packed_a *pa = yq_calloc(1, sizeof *pa);
    if (!pa) return YQ_ERR_NOMEM;
    pa->arch = arch;
    pa->M = M;
    pa->K = K;
    size_t n;
    if (yq_mul_overflow((size_t)round_up(M, arch->mr), (size_t)(K ? K : 1), &n) ||
        yq_mul_overflow(n, sizeof(float), &n)) {
        free(pa);
        return yq_fail(YQ_ERR_LIMIT, "gemm: packed matrix %lldx%lld is too large", (long long)M, (long long)K);
    }
    pa->bytes = (size_t)round_up((int64_t)n, 64);
    pa->data = yq_aligned_alloc(64, pa->bytes);
    if (!pa->data) {
        free(pa);
        return yq_fail_prefix(YQ_ERR_NOMEM, "gemm: out of memory packing a %lldx%lld matrix", (long long)M, (long long)K);
    }
    pack_a_block(A, lda, transA, 0, M, 0, K, arch->mr, arch->mr * K, pa->data);
    *out = pa;
    return YQ_OK;
}

void yq_packed_a_free(yq_packed_a *pa) {
    if (!pa) return;
    free(pa->data);
    free(pa);
}
int64_t yq_packed_a_rows(const yq_packed_a *pa) { return pa->M; }
int64_t yq_packed_a_depth(const yq_packed_a *pa) { return pa->K; }
size_t yq_packed_a_bytes(const yq_packed_a *pa) { return pa->bytes + sizeof *pa; }

/* Chunks of at most 16 columns that never cross a panel: one masked load
 * (the zero padding is the masked-off lanes) and one masked store each.
 * Stride 2 loads 32 source values and keeps the even ones. */
AVX512_TARGET static void put_row_avx512(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count,
                                         const float *src, int64_t ix0, int64_t width, int64_t step) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int64_t panel = col / nr, off = col % nr;
    float *row = dst + panel * kc * nr + k * nr;
    for (int64_t j = 0; j < count;) {
        int64_t len = nr - off;
        if (len > 16) len = 16;
        if (len > count - j) len = count - j;
        const __mmask16 st = yq_lane_range(0, len);
        __m512 v = _mm512_setzero_ps();
        if (src) {
            const int64_t ix = ix0 + j * step;
            if (step == 1) {
                v = _mm512_maskz_loadu_ps(st & yq_lane_range(-ix, width - ix), yq_offset_ptr(src, ix));
            } else {
                const __m512 lo = _mm512_maskz_loadu_ps(yq_lane_range(-ix, width - ix), yq_offset_ptr(src, ix));
                const __m512 hi = _mm512_maskz_loadu_ps(yq_lane_range(-ix - 16, width - ix - 16), yq_offset_ptr(src, ix + 16));
                v = _mm512_permutex2var_ps(lo, even, hi);
            }
        }
        _mm512_mask_storeu_ps(row + off, st, v);
        j += len;
        off += len;
        if (off == nr) {
            off = 0;
            row += kc * nr;
        }
    }
}

/* Stride 2 on AVX2: chunks of at most 8 columns that never cross a panel;
 * a chunk whose 16 source values all lie inside [0, width) is two loads and
 * an even-lane shuffle, anything touching the padding goes lane by lane. */
AVX2_TARGET static void put_row_avx2_step2(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count,
                                           const float *src, int64_t ix0, int64_t width) {
    int64_t panel = col / nr, off = col % nr;
    float *row = dst + panel * kc * nr + k * nr;
    for (int64_t j = 0; j < count;) {
        int64_t len = nr - off;
        if (len > 8) len = 8;
        if (len > count - j) len = count - j;
        const int64_t ix = ix0 + 2 * j;
        if (src && len == 8 && ix >= 0 && ix + 16 <= width) {
            const __m256 lo = _mm256_loadu_ps(src + ix), hi = _mm256_loadu_ps(src + ix + 8);
            /* [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] -> 64-bit lanes 0,2,1,3 */
            const __m256 ev = _mm256_shuffle_ps(lo, hi, 0x88);
            _mm256_storeu_ps(row + off, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8)));
        } else {
            for (int64_t t = 0; t < len; t++) {
                const int64_t x = ix + 2 * t;
                row[off + t] = (src && x >= 0 && x < width) ? src[x] : 0.0f;
            }
        }
        j += len;
        off += len;
        if (off == nr) {
            off = 0;
            row += kc * nr;
        }
    }
}

static void put_row_scalar(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count, const float *src,
                           int64_t ix0, int64_t width, int64_t step) {
    int64_t panel = col / nr, off = col % nr;
    float *row = dst + panel * kc * nr + k * nr;
    for (int64_t j = 0; j < count; j++) {
        const int64_t ix = ix0 + j * step;
        row[off] = (src && ix >= 0 && ix < width) ? src[ix] : 0.0f;
        if (++off == nr) {
            off = 0;
            row += kc * nr;
        }
    }
}

/* Step 1: the run is zeros, a contiguous copy, zeros; each piece is split at
 * panel boundaries into memcpy/memset calls (measured faster than masked
 * vector moves on the YOLOv10m shapes). */
static void put_row_memcpy(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count, const float *src,
                           int64_t ix0, int64_t width) {
    int64_t jlo = ix0 >= 0 ? 0 : -ix0, jhi = width - ix0;
    if (!src) jlo = jhi = count;
    if (jlo > count) jlo = count;
    if (jhi > count) jhi = count;
    if (jhi < jlo) jhi = jlo;
    int64_t j = 0;
    while (j < count) {
        int64_t c = col + j, in_panel = nr - c % nr;
        int64_t lim = j < jlo ? jlo : (j < jhi ? jhi : count);
        if (in_panel > lim - j) in_panel = lim - j;
        float *d = dst + (c / nr) * kc * nr + k * nr + c % nr;
        if (j >= jlo && j < jhi)
            memcpy(d, src + ix0 + j, (size_t)in_panel * sizeof(float));
        else
            memset(d, 0, (size_t)in_panel * sizeof(float));
        j += in_panel;
    }
}

void yq_pack_put_row(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count, const float *src,
                     int64_t ix0, int64_t width, int64_t step) {
    if (step == 1) {
        put_row_memcpy(dst, kc, nr, k, col, count, src, ix0, width);
        return;
    }
    if (step == 2 && yq_gemm_isa_best() == YQ_GEMM_ISA_AVX512)
        put_row_avx512(dst, kc, nr, k, col, count, src, ix0, width, step);
    else if (step == 2 && yq_gemm_isa_best() == YQ_GEMM_ISA_AVX2)
        put_row_avx2_step2(dst, kc, nr, k, col, count, src, ix0, width);
    else
        put_row_scalar(dst, kc, nr, k, col, count, src, ix0, width, step);
}

void yq_pack_b_dense(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
    /* Panel by panel, nr floats per row of B (measured a little faster than
     * row by row on the YOLOv10m 1×1 convs). */
    const yq_dense_b *d = ctx;
    for (int64_t p = 0; p * nr < nc; p++) {
        int64_t w = min64(nr, nc - p * nr);
        const float *src = d->B + k0 * d->ldb + n0 + p * nr;
        float *out = dst + p * kc * nr;
        if (w == nr) {
            for (int64_t k = 0; k < kc; k++) memcpy(out + k * nr, src + k * d->ldb, (size_t)nr * sizeof(float));
        } else {
            for (int64_t k = 0; k < kc; k++) {
                memcpy(out + k * nr, src + k * d->ldb, (size_t)w * sizeof(float));
                memset(out + k * nr + w, 0, (size_t)(nr - w) * sizeof(float));
            }
        }
    }
}

void yq_pack_b_dense_trans(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
    const yq_dense_b *d = ctx;
    for (int64_t p = 0; p * nr < nc; p++) {
        int64_t w = min64(nr, nc - p * nr);
        float *out = dst + p * kc * nr;
        for (int64_t j = 0; j < nr; j++) {
            if (j >= w) {
                for (int64_t k = 0; k < kc; k++) out[k * nr + j] = 0.0f;
                continue;
            }
            const float *src = d->B + (n0 + p * nr + j) * d->ldb + k0;
            for (int64_t k = 0; k < kc; k++) out[k * nr + j] = src[k];
        }
    }
}

/* ---- the driver ---------------------------------------------------------- */
typedef struct gemm_job {
    const gemm_arch *arch;
    int64_t M, N, K;
    /* A: pre-packed (apacked), packed per block from (A, lda, transA), or
     * dequantized per block from int8 codes (aq, lda, aq_scale). */
    const float *apacked;
    const float *A;
    int64_t lda;
    int transA;
    const int8_t *aq;
    const float *aq_scale;
    const yq_b_source *B;
    float *C;
    int64_t ldc;
    int accumulate;
    const float *bias;
    yq_act act;
    /* Thread grid: tm parts over M × tn parts over N, in units of tiles. */
    int tm, tn;
    char *scratch;
    size_t thread_bytes;
} gemm_job;

/* Columns per block: the KC×NC block of packed B and the M×NC block of C it
 * updates (read and written once per K block) should both stay in L2 (about
 * 1 MiB of the 2 MiB is budgeted for them); at most arch->nc. */
static int64_t block_nc(const gemm_arch *arch, int64_t M, int64_t K) {
    const int64_t budget = (int64_t)1 << 20;
    int64_t nc = budget / ((int64_t)sizeof(float) * (min64(arch->kc, K > 0 ? K : 1) + (M > 0 ? M : 1)));
    nc = nc / arch->nr * arch->nr;
    if (nc < 4 * arch->nr) nc = 4 * arch->nr;
    return min64(nc, arch->nc);
}

static size_t thread_scratch_bytes(const gemm_arch *arch, int64_t M, int64_t N, int64_t K, int packed_a) {
    int64_t kc = min64(arch->kc, K > 0 ? K : 1);
    int64_t nc = min64(block_nc(arch, M, K), round_up(N > 0 ? N : 1, arch->nr));
    int64_t bytes = round_up(kc * nc * (int64_t)sizeof(float), 64);
    if (!packed_a) {
        int64_t mc = min64(arch->mc, round_up(M > 0 ? M : 1, arch->mr));
        bytes += round_up(mc * kc * (int64_t)sizeof(float), 64);
    }
    return (size_t)bytes;
}

/* Pick the thread grid (tm × tn = number of tasks <= nthreads) that minimizes
 * the slowest thread's work: its multiply-adds, padded to whole tiles, plus
 * the B elements it packs (packing one costs about as much as 16 MACs). */
static void choose_grid(const gemm_arch *arch, int64_t M, int64_t N, int64_t K, int nthreads, int *tm_out,
                        int *tn_out) {
    int64_t mt = (M + arch->mr - 1) / arch->mr, nt = (N + arch->nr - 1) / arch->nr;
    /* Small products are not worth waking threads for. */
    if ((double)M * (double)N * (double)K < 32768.0) nthreads = 1;
    int best_tm = 1, best_tn = 1;
    double best = -1;
    for (int tm = 1; tm <= nthreads; tm++) {
        if (nthreads % tm) continue;
        int tn = nthreads / tm;
        if (tm > mt || tn > nt) continue;
        double rows = (double)((mt + tm - 1) / tm) * arch->mr;
        double cols = (double)((nt + tn - 1) / tn) * arch->nr;
        double cost = rows * cols * (double)K + 16.0 * cols * (double)K;
        if (best < 0 || cost < best - 1e-9) {
            best = cost;
            best_tm = tm;
            best_tn = tn;
        }
    }
    *tm_out = best_tm;
    *tn_out = best_tn;
}

static void gemm_task(void *arg, int64_t begin, int64_t end, int tid) {
    const gemm_job *j = arg;
    const gemm_arch *arch = j->arch;
    const int mr = arch->mr, nr = arch->nr;
    float *bbuf = (float *)(j->scratch + (size_t)tid * j->thread_bytes);
    int64_t kcmax = min64(arch->kc, j->K);
    const int64_t NC = block_nc(arch, j->M, j->K);
    float *abuf = bbuf + round_up(kcmax * min64(NC, round_up(j->N, nr)), 16);
    int64_t mt = (j->M + mr - 1) / mr, nt = (j->N + nr - 1) / nr;
    for (int64_t t = begin; t < end; t++) {
        int ti = (int)(t / j->tn), tj = (int)(t % j->tn);
        int64_t m0 = mt * ti / j->tm * mr, m1 = min64(j->M, mt * (ti + 1) / j->tm * mr);
        int64_t n0 = nt * tj / j->tn * nr, n1 = min64(j->N, nt * (tj + 1) / j->tn * nr);
        for (int64_t jc = n0; jc < n1; jc += NC) {
            int64_t nc = min64(NC, n1 - jc);
            for (int64_t pc = 0; pc < j->K; pc += arch->kc) {
                int64_t kc = min64(arch->kc, j->K - pc);
                j->B->pack(j->B->ctx, pc, kc, jc, nc, nr, bbuf);
                int flags = ((j->accumulate || pc > 0) ? UKR_ACCUMULATE : 0) | (pc + kc >= j->K ? UKR_LAST : 0);
                int64_t mc_step = j->apacked ? (m1 - m0) : arch->mc;
                for (int64_t ic = m0; ic < m1; ic += mc_step) {
                    int64_t mc = min64(mc_step, m1 - ic);
                    const float *apan;
                    int64_t apanel_stride;
                    if (j->apacked) {
                        apanel_stride = mr * j->K;
                        apan = j->apacked + (ic / mr) * apanel_stride + pc * mr;
                    } else {
                        apanel_stride = mr * kc;
                        if (j->aq)
                            pack_a_block_int8(j->aq, j->lda, j->aq_scale, ic, ic + mc, pc, kc, mr, apanel_stride, abuf);
                        else
                            pack_a_block(j->A, j->lda, j->transA, ic, ic + mc, pc, kc, mr, apanel_stride, abuf);
                        apan = abuf;
                    }
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        const float *a = apan + (ir / mr) * apanel_stride;
                        int rows = (int)min64(mr, mc - ir);
                        float *crow = j->C + (ic + ir) * j->ldc + jc;
                        const float *bias = j->bias ? j->bias + ic + ir : NULL;
                        for (int64_t jr = 0; jr < nc; jr += nr)
                            arch->ukr(kc, a, bbuf + (jr / nr) * kc * nr, crow + jr, j->ldc, rows,
                                      (int)min64(nr, nc - jr), flags, bias, j->act);
                    }
                }
            }
        }
    }
}

/* K == 0: the product is zero; only the old C (if accumulating) and the epilogue remain. */
static void gemm_empty_k(int64_t M, int64_t N, float *C, int64_t ldc, int accumulate, const yq_epilogue *ep) {
    for (int64_t i = 0; i < M; i++) {
        float *ci = C + i * ldc;
        if (!accumulate) memset(ci, 0, (size_t)N * sizeof(float));
        if (ep) yq_apply_bias_act(ci, N, ep->bias ? ep->bias[i] : 0.0f, ep->act);
    }
}

static yq_status run_job(yq_pool *pool, gemm_job *j, void *scratch) {
    int nthreads = yq_pool_size(pool);
    choose_grid(j->arch, j->M, j->N, j->K, nthreads, &j->tm, &j->tn);
    j->thread_bytes = thread_scratch_bytes(j->arch, j->M, j->N, j->K, j->apacked != NULL);
    void *owned = NULL;
    if (!scratch) {
        size_t total;
        if (yq_mul_overflow(j->thread_bytes, (size_t)nthreads, &total))
            return yq_fail(YQ_ERR_LIMIT, "gemm: scratch size overflows");
        owned = yq_aligned_alloc(64, total);
        if (!owned) return yq_fail_prefix(YQ_ERR_NOMEM, "gemm: out of memory for %zu bytes of scratch", total);
        scratch = owned;
    }
    j->scratch = scratch;
    yq_parallel_for(pool, (int64_t)j->tm * j->tn, 1, gemm_task, j);
    free(owned);
    return YQ_OK;
}

size_t yq_sgemm_scratch_bytes(int64_t M, int64_t N, int64_t K, int nthreads) {
    const gemm_arch *arch = arch_for(yq_gemm_isa_current());
    return thread_scratch_bytes(arch, M, N, K, 0) * (size_t)(nthreads > 0 ? nthreads : 1);
}

size_t yq_sgemm_packed_scratch_bytes(const yq_packed_a *A, int64_t N, int nthreads) {
    return thread_scratch_bytes(A->arch, A->M, N, A->K, 1) * (size_t)(nthreads > 0 ? nthreads : 1);
}

/* Sizes checked, the empty cases done, then the job. */
static yq_status run_sized_job(yq_pool *pool, gemm_job *j, const yq_epilogue *ep, void *scratch) {
    if (j->M < 0 || j->N < 0 || j->K < 0)
        return yq_fail(YQ_ERR_INVALID, "gemm: negative size %lldx%lldx%lld", (long long)j->M, (long long)j->N,
                       (long long)j->K);
    if (j->M == 0 || j->N == 0) return YQ_OK;
    if (j->K == 0) {
        gemm_empty_k(j->M, j->N, j->C, j->ldc, j->accumulate, ep);
        return YQ_OK;
    }
    return run_job(pool, j, scratch);
}

yq_status yq_sgemm(yq_pool *pool, int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate,
                   const yq_epilogue *ep, void *scratch) {
    yq_dense_b db = {B, ldb};
    yq_b_source bs = {transB ? yq_pack_b_dense_trans : yq_pack_b_dense, &db};
    gemm_job j = {.arch = arch_for(yq_gemm_isa_current()), .M = M, .N = N, .K = K, .A = A, .lda = lda,
                  .transA = transA, .B = &bs, .C = C, .ldc = ldc, .accumulate = accumulate,
                  .bias = ep ? ep->bias : NULL, .act = ep ? ep->act : YQ_ACT_NONE};
    return run_sized_job(pool, &j, ep, scratch);
}

yq_status yq_sgemm_packed(yq_pool *pool, const yq_packed_a *A, const yq_b_source *B, int64_t N, float *C,
                          int64_t ldc, int accumulate, const yq_epilogue *ep, void *scratch) {
    if (N < 0) return yq_fail(YQ_ERR_INVALID, "gemm: negative column count %lld", (long long)N);
    if (A->M == 0 || N == 0) return YQ_OK;
    if (A->K == 0) {
        gemm_empty_k(A->M, N, C, ldc, accumulate, ep);
        return YQ_OK;
    }
    gemm_job j = {.arch = A->arch, .M = A->M, .N = N, .K = A->K, .apacked = A->data, .B = B, .C = C,
                  .ldc = ldc, .accumulate = accumulate, .bias = ep ? ep->bias : NULL,
                  .act = ep ? ep->act : YQ_ACT_NONE};
    return run_job(pool, &j, scratch);
}

yq_status yq_sgemm_int8a(yq_pool *pool, int64_t M, int64_t K, const int8_t *Q, int64_t ldq, const float *scale,
                         const yq_b_source *B, int64_t N, float *C, int64_t ldc, int accumulate,
                         const yq_epilogue *ep, void *scratch) {
    gemm_job j = {.arch = arch_for(yq_gemm_isa_current()), .M = M, .N = N, .K = K, .aq = Q, .lda = ldq,
                  .aq_scale = scale, .B = B, .C = C, .ldc = ldc, .accumulate = accumulate,
                  .bias = ep ? ep->bias : NULL, .act = ep ? ep->act : YQ_ACT_NONE};
    return run_sized_job(pool, &j, ep, scratch);
}

/* ---- implicit-GEMM (direct) convolution, AVX-512 ---------------------------- */
/* B is never packed: row k of B is the contiguous run starting at
 * base + koff[k], read straight from the caller's (padded) activation, and the
 * columns of each 32-wide tile of C go to the caller's output through up to
 * YQ_DIRECT_MAX_SEGS masked segments (so a conv can compute on a grid with a
 * few junk columns per row and store only the real ones). */
AVX512_TARGET static void ukr_avx512_direct(int64_t kc, const float *restrict a, const float *restrict b,
                                            const int64_t *restrict koff, const yq_direct_tile *t,
                                            float *restrict c, int64_t ldc, int mr, int flags, const float *bias,
                                            yq_act act) {
    __m512 acc[AVX512_MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *bk = b + koff[k];
        const __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
#pragma GCC unroll 12
        for (int i = 0; i < AVX512_MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX512_MR;
    }
#pragma GCC unroll 12
    for (int i = 0; i < AVX512_MR; i++) {
        if (i >= mr) break;
        const float *ci = c + i * ldc;
        __m512 x0 = acc[i][0], x1 = acc[i][1];
        if (flags & UKR_ACCUMULATE) {
            __m512 o0 = _mm512_setzero_ps(), o1 = _mm512_setzero_ps();
            for (int s = 0; s < t->nseg; s++) {
                const float *p = yq_offset_ptr(ci, t->col - t->delta[s]);
                o0 = _mm512_mask_loadu_ps(o0, (__mmask16)(t->mask[s] & 0xFFFF), p);
                o1 = _mm512_mask_loadu_ps(o1, (__mmask16)(t->mask[s] >> 16), yq_offset_ptr(p, 16));
            }
            x0 = _mm512_add_ps(x0, o0);
            x1 = _mm512_add_ps(x1, o1);
        }
        if (flags & UKR_LAST) {
            if (bias) {
                const __m512 bi = _mm512_set1_ps(bias[i]);
                x0 = _mm512_add_ps(x0, bi);
                x1 = _mm512_add_ps(x1, bi);
            }
            if (act == YQ_ACT_SILU) {
                x0 = yq_silu_avx512(x0);
                x1 = yq_silu_avx512(x1);
            }
        }
        for (int s = 0; s < t->nseg; s++) {
            float *p = (float *)yq_offset_ptr(ci, t->col - t->delta[s]);
            _mm512_mask_storeu_ps(p, (__mmask16)(t->mask[s] & 0xFFFF), x0);
            _mm512_mask_storeu_ps((float *)yq_offset_ptr(p, 16), (__mmask16)(t->mask[s] >> 16), x1);
        }
    }
}

int yq_direct_supported(const yq_packed_a *A) { return A->arch->isa == YQ_GEMM_ISA_AVX512; }

typedef struct direct_job {
    const gemm_arch *arch;
    int64_t M, K, kc, npanels;
    const float *apacked;
    const float *base;
    const int64_t *koff;
    const yq_direct_tile *tiles;
    float *C;
    int64_t ldc;
    const float *bias;
    yq_act act;
    int tm, tn;
} direct_job;

static void direct_task(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const direct_job *j = arg;
    const int mr = AVX512_MR;
    const int64_t mt = (j->M + mr - 1) / mr;
    for (int64_t t = begin; t < end; t++) {
        const int ti = (int)(t / j->tn), tj = (int)(t % j->tn);
        const int64_t m0 = mt * ti / j->tm * mr, m1 = min64(j->M, mt * (ti + 1) / j->tm * mr);
        const int64_t p0 = j->npanels * tj / j->tn, p1 = j->npanels * (tj + 1) / j->tn;
        /* Chunks of panels whose C block (all rows of the task) stays in L2
         * across the K blocks. */
        int64_t chunk = ((int64_t)1 << 19) / ((m1 - m0) * AVX512_NR * (int64_t)sizeof(float));
        if (chunk < 1) chunk = 1;
        for (int64_t q0 = p0; q0 < p1; q0 += chunk) {
            const int64_t q1 = min64(p1, q0 + chunk);
            for (int64_t pc = 0; pc < j->K; pc += j->kc) {
                const int64_t kc = min64(j->kc, j->K - pc);
                const int flags = (pc > 0 ? UKR_ACCUMULATE : 0) | (pc + kc >= j->K ? UKR_LAST : 0);
                /* Each B micro-panel (the rows koff[pc..pc+kc) at 32 columns)
                 * is reused from L1 by every row panel of A. */
                for (int64_t p = q0; p < q1; p++)
                    for (int64_t ir = m0; ir < m1; ir += mr)
                        ukr_avx512_direct(kc, j->apacked + (ir / mr) * mr * j->K + pc * mr, j->base + p * AVX512_NR,
                                          j->koff + pc, &j->tiles[p], j->C + ir * j->ldc, j->ldc,
                                          (int)min64(mr, m1 - ir), flags, j->bias ? j->bias + ir : NULL, j->act);
            }
        }
    }
}

yq_status yq_sgemm_direct(yq_pool *pool, const yq_packed_a *A, const float *base, const int64_t *koff, int64_t kc,
                          int64_t npanels, const yq_direct_tile *tiles, float *C, int64_t ldc,
                          const yq_epilogue *ep) {
    if (!yq_direct_supported(A))
        return yq_fail(YQ_ERR_INTERNAL, "gemm: direct mode needs weights packed for AVX-512");
    if (A->M == 0 || npanels <= 0) return YQ_OK;
    direct_job j = {.arch = A->arch, .M = A->M, .K = A->K, .kc = kc > 0 ? kc : A->K, .npanels = npanels, .apacked = A->data, .base = base,
                    .koff = koff, .tiles = tiles, .C = C, .ldc = ldc, .bias = ep ? ep->bias : NULL,
                    .act = ep ? ep->act : YQ_ACT_NONE};
    choose_grid(A->arch, A->M, npanels * AVX512_NR, A->K, yq_pool_size(pool), &j.tm, &j.tn);
    yq_parallel_for(pool, (int64_t)j.tm * j.tn, 1, direct_task, &j);
    return YQ_OK;
}

/* ---- reference ----------------------------------------------------------- */
void yq_sgemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate, const yq_epilogue *ep) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = transA ? A[k * lda + i] : A[i * lda + k];
                double b = transB ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            float v = (float)s;
            if (accumulate) v += C[i * ldc + j];
            if (ep && ep->bias) v += ep->bias[i];
            if (ep && ep->act == YQ_ACT_SILU) v = yq_silu_ref(v);
            C[i * ldc + j] = v;
        }
}
