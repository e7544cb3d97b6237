/* Winograd F(4×4, 3×3) for 3×3 stride-1 dense convolutions (Lavin & Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * Each 4×4 block of outputs ("tile") of one output channel is
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
 * where d_c is the 6×6 input patch of channel c under the tile and g_c the
 * 3×3 kernel. With U = G g Gᵀ (per output/input channel pair, computed once
 * at plan time) and V = Bᵀ d B (per input channel and tile), the sum over c
 * is, for each of the 36 positions ξ of the 6×6 transformed tile, a matrix
 * product  M_ξ[M, tiles] = U_ξ[M, C] · V_ξ[C, tiles]: 36 GEMMs doing the work
 * of the 144 MACs per output·channel of the direct method in 36 (4× fewer
 * multiplies), plus the transforms.
 *
 * Points 0, ±1, ±2, ∞ (the usual choice). Error: the transforms have entries
 * up to 8 (Aᵀ) and 5 (Bᵀ), and the sum runs over 36 terms instead of 9, so
 * float rounding is about 10-30× that of the direct sum; measured
 * (tool_conv_bench --check --algo winograd) max|diff| 4e-6 to 1e-5 of max|Y|
 * on the nine YOLOv10m 3×3 stride-1 shapes (im2col: 4e-7 to 5e-7).
 * U is computed in double and rounded once.
 *
 * Work split: the tiles of an image are cut into blocks of whole tile rows
 * (about WG_BLOCK_TILES tiles), and a task is (image,
 * block, chunk of output channels). A task transforms its block's input into
 * V (36 × C × tiles, per-thread scratch), runs the 36 GEMMs with the
 * pre-packed U_ξ (one thread each: yq_sgemm_packed with no pool), and
 * transforms the 36 × Mchunk × tiles products back into output rows with
 * the epilogue (bias, then SiLU) applied in registers. Every output element is computed by the same sequence
 * of operations whatever the split, so results do not depend on the thread
 * count (the blocks and the chunking over M, which depend on it, never change
 * a value: GEMM rows and columns are independent).
 *
 * The transforms work on one tile row at a time: passes that are contiguous
 * over the tiles (in V and M_ξ) are plain loops compiled twice, for the
 * baseline ISA and with AVX2; the passes that read or write the image at
 * stride 4 have an explicit AVX2 version (8 tiles per register, 4×4
 * transposes in registers) beside the plain one. AVX2 vs baseline is chosen
 * at plan time like the GEMM micro-kernel (AVX-512 CPUs use the AVX2
 * transforms and the AVX-512 GEMM). */
#include "rt/kernels/conv_winograd.h"

#include <stdlib.h>
#include <string.h>

#include "rt/kernels/simd_math.h"

/* Tiles per block; -DYQ_WG_BLOCK_TILES=N overrides it for tuning runs. */
#ifndef YQ_WG_BLOCK_TILES
#define YQ_WG_BLOCK_TILES 64
#endif

enum {
    WG_OUT = 4,          /* output tile side (m) */
    WG_IN = 6,           /* input tile side (m + r - 1) */
    WG_XI = 36,          /* transformed tile positions */
    WG_BLOCK_TILES = YQ_WG_BLOCK_TILES, /* tiles per task, about: V and M_ξ of a block stay in L2/L3 */
};

struct yq_winograd {
    yq_conv2d_shape s;
    yq_act act;
    int nthreads;
    int use_avx2;
    int64_t tH, tW;            /* tiles per column / row */
    int64_t nblocks;           /* per image */
    int64_t nb_max;            /* tiles in the largest block */
    int64_t nmc, mc;           /* output-channel chunks, channels per chunk */
    int64_t Wp;                /* width of a zero-padded input strip */
    yq_packed_a **U;           /* [WG_XI * nmc]: U_ξ rows of chunk j at U[ξ * nmc + j] */
    float *bias;               /* [M] or NULL */
    size_t v_slice, o_slice;   /* floats per ξ slice of V and of M_ξ */
    size_t off_o, off_strip, off_u, off_t, off_gemm; /* float offsets in a thread's scratch */
    size_t thread_floats;
    size_t weight_bytes;
};

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int yq_winograd_applies(const yq_conv2d_shape *s) {
    return s->kh == 3 && s->kw == 3 && s->stride_h == 1 && s->stride_w == 1 && s->dil_h == 1 && s->dil_w == 1 &&
           s->group == 1;
}

/* ---- transforms ---------------------------------------------------------- */
/* G (6×3): U = G g Gᵀ. */
static const double wg_G[WG_IN][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

/* Input transform of one tile row of one channel: strip holds the 6 padded
 * input rows under the tile row (row stride Wp >= 4·round_up(tW, 8) + 4,
 * zeros past the input); the 36 transformed values of tile tx go to
 * v[ξ·vld + tx]. u is 36·tWr floats of work space (row transforms,
 * [i][k][tx], row stride tWr = round_up(tW, 8)).
 *   Bᵀ = [4  0 -5  0 1 0]
 *        [0 -4 -4  1 1 0]
 *        [0  4 -4 -1 1 0]
 *        [0 -2 -1  2 1 0]
 *        [0  2 -1 -2 1 0]
 *        [0  4  0 -5 0 1]
 * The row pass (Bᵀ on each patch row) reads the strip at stride 4; the
 * column pass (Bᵀ down the columns) is contiguous over tx. */
static inline __attribute__((always_inline)) void input_cols(const float *restrict u, int64_t tW, int64_t tWr,
                                                             float *restrict v, int64_t vld) {
    for (int k = 0; k < WG_IN; k++) {
        const float *restrict e0 = u + (0 * WG_IN + k) * tWr, *restrict e1 = u + (1 * WG_IN + k) * tWr,
                              *restrict e2 = u + (2 * WG_IN + k) * tWr, *restrict e3 = u + (3 * WG_IN + k) * tWr,
                              *restrict e4 = u + (4 * WG_IN + k) * tWr, *restrict e5 = u + (5 * WG_IN + k) * tWr;
        float *restrict v0 = v + (0 * WG_IN + k) * vld, *restrict v1 = v + (1 * WG_IN + k) * vld,
                        *restrict v2 = v + (2 * WG_IN + k) * vld, *restrict v3 = v + (3 * WG_IN + k) * vld,
                        *restrict v4 = v + (4 * WG_IN + k) * vld, *restrict v5 = v + (5 * WG_IN + k) * vld;
        for (int64_t tx = 0; tx < tW; tx++) {
            const float a0 = e0[tx], a1 = e1[tx], a2 = e2[tx], a3 = e3[tx], a4 = e4[tx], a5 = e5[tx];
            v0[tx] = 4.0f * a0 - 5.0f * a2 + a4;
            v1[tx] = -4.0f * (a1 + a2) + (a3 + a4);
            v2[tx] = 4.0f * (a1 - a2) + (a4 - a3);
            v3[tx] = 2.0f * (a3 - a1) + (a4 - a2);
            v4[tx] = 2.0f * (a1 - a3) + (a4 - a2);
            v5[tx] = 4.0f * a1 - 5.0f * a3 + a5;
        }
    }
}

static void input_tf_base(const float *strip, int64_t Wp, int64_t tW, float *u, float *v, int64_t vld) {
    const int64_t tWr = round_up(tW, 8);
    for (int i = 0; i < WG_IN; i++) {
        const float *row = strip + i * Wp;
        float *ui = u + (size_t)i * WG_IN * tWr;
        for (int64_t tx = 0; tx < tW; tx++) {
            const float *d = row + 4 * tx;
            const float d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
            ui[0 * tWr + tx] = 4.0f * d0 - 5.0f * d2 + d4;
            ui[1 * tWr + tx] = -4.0f * (d1 + d2) + (d3 + d4);
            ui[2 * tWr + tx] = 4.0f * (d1 - d2) + (d4 - d3);
            ui[3 * tWr + tx] = 2.0f * (d3 - d1) + (d4 - d2);
            ui[4 * tWr + tx] = 2.0f * (d1 - d3) + (d4 - d2);
            ui[5 * tWr + tx] = 4.0f * d1 - 5.0f * d3 + d5;
        }
    }
    input_cols(u, tW, tWr, v, vld);
}

/* 8 tiles at a time: tile t's patch row is r[4t .. 4t+5]. Loading tiles
 * (k, k+4) into the two 128-bit lanes of one register makes the 4×4
 * transposes below come out in tile order: dj holds element j of tiles 0-7. */
AVX2_TARGET static void input_tf_avx2(const float *strip, int64_t Wp, int64_t tW, float *u, float *v, int64_t vld) {
    const int64_t tWr = round_up(tW, 8);
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
    for (int i = 0; i < WG_IN; i++) {
        const float *row = strip + i * Wp;
        float *ui = u + (size_t)i * WG_IN * tWr;
        for (int64_t tx = 0; tx < tW; tx += 8) {
            const float *r = row + 4 * tx;
            const __m256 a0 = _mm256_loadu2_m128(r + 16, r), a1 = _mm256_loadu2_m128(r + 20, r + 4),
                         a2 = _mm256_loadu2_m128(r + 24, r + 8), a3 = _mm256_loadu2_m128(r + 28, r + 12),
                         a4 = _mm256_loadu2_m128(r + 32, r + 16);
            const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1),
                         t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
            const __m256 d0 = _mm256_shuffle_ps(t0, t2, 0x44), d1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                         d2 = _mm256_shuffle_ps(t1, t3, 0x44), d3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            /* Elements 4 and 5 are elements 0 and 1 of the next tile. */
            const __m256 s0 = _mm256_unpacklo_ps(a1, a2), s2 = _mm256_unpacklo_ps(a3, a4);
            const __m256 d4 = _mm256_shuffle_ps(s0, s2, 0x44), d5 = _mm256_shuffle_ps(s0, s2, 0xEE);
            const __m256 d12 = _mm256_add_ps(d1, d2), d34 = _mm256_add_ps(d3, d4);
            const __m256 d1m2 = _mm256_sub_ps(d1, d2), d4m3 = _mm256_sub_ps(d4, d3);
            const __m256 d3m1 = _mm256_sub_ps(d3, d1), d4m2 = _mm256_sub_ps(d4, d2);
            _mm256_storeu_ps(ui + 0 * tWr + tx, _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4)));
            _mm256_storeu_ps(ui + 1 * tWr + tx, _mm256_fnmadd_ps(four, d12, d34));
            _mm256_storeu_ps(ui + 2 * tWr + tx, _mm256_fmadd_ps(four, d1m2, d4m3));
            _mm256_storeu_ps(ui + 3 * tWr + tx, _mm256_fmadd_ps(two, d3m1, d4m2));
            _mm256_storeu_ps(ui + 4 * tWr + tx, _mm256_fnmadd_ps(two, d3m1, d4m2));
            _mm256_storeu_ps(ui + 5 * tWr + tx, _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5)));
        }
    }
    input_cols(u, tW, tWr, v, vld);
}

/* Output transform of one tile row of one output channel: o[ξ·old + tx] are
 * the 36 products of tile tx; the 4×4 results go to rows y (row stride OW)
 * for the `rows` (≤ 4) output rows and OW columns that exist. t is
 * 40·round_up(tW, 8) floats of work space.
 *   Aᵀ = [1 1  1 1  1 0]
 *        [0 1 -1 2 -2 0]
 *        [0 1  1 4  4 0]
 *        [0 1 -1 8 -8 1]
 * First Aᵀ on the rows of each 6×6 (contiguous over tx), then down the
 * columns, written out row by row, with the epilogue (bias, then the
 * activation). */
static inline __attribute__((always_inline)) void output_rows(const float *restrict o, int64_t old, int64_t tW,
                                                              int64_t tWr, float *restrict t) {
    /* t[i][c][tx] = Σ_j o[i·6 + j] Aᵀ[c][j]. */
    for (int i = 0; i < WG_IN; i++) {
        const float *restrict o0 = o + (i * WG_IN + 0) * old, *restrict o1 = o + (i * WG_IN + 1) * old,
                              *restrict o2 = o + (i * WG_IN + 2) * old, *restrict o3 = o + (i * WG_IN + 3) * old,
                              *restrict o4 = o + (i * WG_IN + 4) * old, *restrict o5 = o + (i * WG_IN + 5) * old;
        float *restrict ti = t + (size_t)i * WG_OUT * tWr;
        for (int64_t tx = 0; tx < tW; tx++) {
            const float p12 = o1[tx] + o2[tx], m12 = o1[tx] - o2[tx];
            const float p34 = o3[tx] + o4[tx], m34 = o3[tx] - o4[tx];
            ti[0 * tWr + tx] = o0[tx] + p12 + p34;
            ti[1 * tWr + tx] = m12 + 2.0f * m34;
            ti[2 * tWr + tx] = p12 + 4.0f * p34;
            ti[3 * tWr + tx] = m12 + 8.0f * m34 + o5[tx];
        }
    }
}

static void output_tf_base(const float *o, int64_t old, int64_t tW, float *t, float *y, int64_t OW, int rows,
                           float bias, yq_act act) {
    const int64_t tWr = round_up(tW, 8);
    output_rows(o, old, tW, tWr, t);
    for (int c = 0; c < WG_OUT; c++) {
        const float *s0 = t + (0 * WG_OUT + c) * tWr, *s1 = t + (1 * WG_OUT + c) * tWr,
                    *s2 = t + (2 * WG_OUT + c) * tWr, *s3 = t + (3 * WG_OUT + c) * tWr,
                    *s4 = t + (4 * WG_OUT + c) * tWr, *s5 = t + (5 * WG_OUT + c) * tWr;
        for (int64_t tx = 0; tx < tW && 4 * tx + c < OW; tx++) {
            const float p12 = s1[tx] + s2[tx], m12 = s1[tx] - s2[tx];
            const float p34 = s3[tx] + s4[tx], m34 = s3[tx] - s4[tx];
            const float r[WG_OUT] = {s0[tx] + p12 + p34, m12 + 2.0f * m34, p12 + 4.0f * p34, m12 + 8.0f * m34 + s5[tx]};
            for (int k = 0; k < rows; k++) y[k * OW + 4 * tx + c] = r[k];
        }
    }
    if (bias != 0.0f || act != YQ_ACT_NONE)
        for (int k = 0; k < rows; k++) yq_apply_bias_act(y + k * OW, OW, bias, act);
}

/* 8 tiles at a time: the four column vectors c0..c3 of an output row (8
 * tiles each) are interleaved back into 32 consecutive outputs by the
 * inverse of the input's transpose, stored straight to Y where the 32 fit in
 * the row, else through a small buffer. */
AVX2_TARGET static void output_tf_avx2(const float *o, int64_t old, int64_t tW, float *t, float *y, int64_t OW,
                                       int rows, float bias, yq_act act) {
    const int64_t tWr = round_up(tW, 8);
    output_rows(o, old, tW, tWr, t);
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f), eight = _mm256_set1_ps(8.0f);
    const __m256 vb = _mm256_set1_ps(bias);
    for (int64_t tx = 0; tx < tW; tx += 8) {
        __m256 res[WG_OUT][WG_OUT]; /* [row][column] */
        for (int c = 0; c < WG_OUT; c++) {
            const float *sc = t + c * tWr + tx;
            const __m256 s0 = _mm256_loadu_ps(sc + 0 * WG_OUT * tWr), s1 = _mm256_loadu_ps(sc + 1 * WG_OUT * tWr),
                         s2 = _mm256_loadu_ps(sc + 2 * WG_OUT * tWr), s3 = _mm256_loadu_ps(sc + 3 * WG_OUT * tWr),
                         s4 = _mm256_loadu_ps(sc + 4 * WG_OUT * tWr), s5 = _mm256_loadu_ps(sc + 5 * WG_OUT * tWr);
            const __m256 p12 = _mm256_add_ps(s1, s2), m12 = _mm256_sub_ps(s1, s2);
            const __m256 p34 = _mm256_add_ps(s3, s4), m34 = _mm256_sub_ps(s3, s4);
            res[0][c] = _mm256_add_ps(_mm256_add_ps(s0, p12), p34);
            res[1][c] = _mm256_fmadd_ps(two, m34, m12);
            res[2][c] = _mm256_fmadd_ps(four, p34, p12);
            res[3][c] = _mm256_add_ps(_mm256_fmadd_ps(eight, m34, m12), s5);
            /* The epilogue while the values are in registers: bias, then SiLU
             * (the same order and functions as the GEMM micro-kernel's). */
            for (int r = 0; r < WG_OUT; r++) {
                res[r][c] = _mm256_add_ps(res[r][c], vb);
                if (act == YQ_ACT_SILU) res[r][c] = yq_silu_avx2(res[r][c]);
            }
        }
        const int64_t ox = 4 * tx, n = OW - ox < 32 ? OW - ox : 32;
        for (int r = 0; r < rows; r++) {
            const __m256 t0 = _mm256_unpacklo_ps(res[r][0], res[r][1]), t1 = _mm256_unpackhi_ps(res[r][0], res[r][1]),
                         t2 = _mm256_unpacklo_ps(res[r][2], res[r][3]), t3 = _mm256_unpackhi_ps(res[r][2], res[r][3]);
            const __m256 q0 = _mm256_shuffle_ps(t0, t2, 0x44), q1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                         q2 = _mm256_shuffle_ps(t1, t3, 0x44), q3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            float buf[32];
            float *dst = n == 32 ? y + r * OW + ox : buf;
            _mm256_storeu_ps(dst + 0, _mm256_permute2f128_ps(q0, q1, 0x20));
            _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(q2, q3, 0x20));
            _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(q0, q1, 0x31));
            _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(q2, q3, 0x31));
            if (n < 32) memcpy(y + r * OW + ox, buf, (size_t)n * sizeof(float));
        }
    }
}

/* ---- plan ---------------------------------------------------------------- */
void yq_winograd_free(yq_winograd *w) {
    if (!w) return;
    if (w->U)
        for (int64_t i = 0; i < WG_XI * w->nmc; i++) yq_packed_a_free(w->U[i]);
    free(w->U);
    free(w->bias);
    free(w);
}

size_t yq_winograd_scratch(const yq_winograd *w) { return w->thread_floats * sizeof(float) * (size_t)w->nthreads; }
size_t yq_winograd_weight_bytes(const yq_winograd *w) { return w->weight_bytes; }

/* Output-channel chunks: enough tasks that `nthreads` threads get equal
 * shares (each chunk repeats its block's input transform, so no more than
 * needed), chunks a multiple of 12 rows (whole micro-panels for the 6- and
 * 12-row kernels). */
static void choose_m_chunks(yq_winograd *w, int64_t tasks) {
    int64_t best = 1;
    double best_cost = -1;
    for (int64_t nmc = 1; nmc <= 8; nmc++) {
        const int64_t mc = round_up((w->s.M + nmc - 1) / nmc, 12);
        if (nmc > 1 && mc * (nmc - 1) >= w->s.M) break; /* an empty chunk */
        const int64_t n = tasks * nmc, per_thread = (n + w->nthreads - 1) / w->nthreads;
        /* per task: GEMM + output transform ∝ mc, input transform ≈ 1/8 of a full-M GEMM share */
        const double cost = (double)per_thread * ((double)mc + 0.125 * (double)w->s.M);
        if (best_cost < 0 || cost < best_cost - 1e-9) {
            best_cost = cost;
            best = nmc;
        }
    }
    w->mc = round_up((w->s.M + best - 1) / best, 12);
    w->nmc = (w->s.M + w->mc - 1) / w->mc;
}

yq_status yq_winograd_new(const yq_conv2d_shape *s, const float *Wt, const float *B, yq_act act, int nthreads,
                          yq_winograd **out) {
    *out = NULL;
    if (!yq_winograd_applies(s))
        return yq_fail(YQ_ERR_UNSUPPORTED, "conv2d: Winograd F(4,3) needs a 3x3 stride-1 undilated dense conv");
    yq_winograd *w = yq_calloc(1, sizeof *w);
    if (!w) return YQ_ERR_NOMEM;
    w->s = *s;
    w->act = act;
    w->nthreads = nthreads < 1 ? 1 : nthreads;
    w->use_avx2 = yq_gemm_isa_current() >= YQ_GEMM_ISA_AVX2;
    const int64_t M = s->M, C = s->C;
    w->tH = (s->OH + WG_OUT - 1) / WG_OUT;
    w->tW = (s->OW + WG_OUT - 1) / WG_OUT;
    /* The AVX2 row pass reads 8 tiles at a time, up to 4 floats past the
     * last tile of the rounded-up row. */
    w->Wp = WG_OUT * round_up(w->tW, 8) + 4;
    /* Blocks of whole tile rows, about WG_BLOCK_TILES tiles each, and a
     * multiple of the thread count of them (block b: tile rows
     * b·tH/nblocks ..), so that the pool's equal split of the tasks gives
     * every thread the same number of rows (±1 per block): 7 blocks of 3 rows
     * on 2 threads left one thread idle a quarter of the time. */
    const int64_t rows = max64(1, (WG_BLOCK_TILES + w->tW / 2) / w->tW), per_round = (int64_t)w->nthreads * rows;
    const int64_t rounds = max64(1, (w->tH + per_round / 2) / per_round);
    w->nblocks = min64(w->tH, (int64_t)w->nthreads * rounds);
    w->nb_max = (w->tH + w->nblocks - 1) / w->nblocks * w->tW;
    choose_m_chunks(w, max64(1, s->N) * w->nblocks);

    yq_status st = YQ_OK;
    float *Ut = NULL;
    if (B) {
        w->bias = yq_malloc((size_t)M * sizeof(float));
        if (!w->bias) goto nomem;
        memcpy(w->bias, B, (size_t)M * sizeof(float));
    }
    /* U_ξ[m][c] = (G g Gᵀ)[ξ], in double, rounded once. */
    size_t ut_n;
    if (yq_mul_overflow((size_t)(WG_XI * M), (size_t)C, &ut_n) || yq_mul_overflow(ut_n, sizeof(float), &ut_n)) {
        st = yq_fail(YQ_ERR_LIMIT, "conv2d: Winograd weights of %lldx%lld channels are too large", (long long)M,
                     (long long)C);
        goto fail;
    }
    Ut = yq_malloc(ut_n);
    if (!Ut) goto nomem;
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = Wt + (m * C + c) * 9;
            double tmp[WG_IN][3], u[WG_IN][WG_IN];
            for (int i = 0; i < WG_IN; i++)
                for (int j = 0; j < 3; j++)
                    tmp[i][j] = wg_G[i][0] * g[0 * 3 + j] + wg_G[i][1] * g[1 * 3 + j] + wg_G[i][2] * g[2 * 3 + j];
            for (int i = 0; i < WG_IN; i++)
                for (int j = 0; j < WG_IN; j++)
                    u[i][j] = tmp[i][0] * wg_G[j][0] + tmp[i][1] * wg_G[j][1] + tmp[i][2] * wg_G[j][2];
            for (int xi = 0; xi < WG_XI; xi++) Ut[((size_t)xi * M + m) * C + c] = (float)u[xi / WG_IN][xi % WG_IN];
        }
    w->U = yq_calloc((size_t)(WG_XI * w->nmc), sizeof *w->U);
    if (!w->U) goto nomem;
    for (int xi = 0; xi < WG_XI; xi++)
        for (int64_t j = 0; j < w->nmc; j++) {
            const int64_t m0 = j * w->mc, rows_j = min64(w->mc, M - m0);
            st = yq_pack_a(Ut + ((size_t)xi * M + m0) * C, C, 0, rows_j, C, &w->U[xi * w->nmc + j]);
            if (st != YQ_OK) goto fail;
            w->weight_bytes += yq_packed_a_bytes(w->U[xi * w->nmc + j]);
        }
    free(Ut);
    Ut = NULL;

    /* A thread's scratch: V, M_ξ, the padded strip, transform work space and
     * the GEMM's B panels. Every part starts on a 64-byte boundary. */
    w->v_slice = (size_t)round_up(C * w->nb_max, 16);
    w->o_slice = (size_t)round_up(w->mc * w->nb_max, 16);
    size_t off = (size_t)WG_XI * w->v_slice;
    w->off_o = off;
    off += (size_t)WG_XI * w->o_slice;
    w->off_strip = off;
    off += (size_t)round_up(WG_IN * w->Wp, 16);
    w->off_u = off;
    off += (size_t)round_up(WG_XI * round_up(w->tW, 8), 16);
    w->off_t = off;
    off += (size_t)round_up(WG_IN * WG_OUT * round_up(w->tW, 8), 16);
    w->off_gemm = off;
    off += (size_t)round_up((int64_t)((yq_sgemm_packed_scratch_bytes(w->U[0], w->nb_max, 1) + 3) / 4), 16);
    w->thread_floats = off;
    *out = w;
    return YQ_OK;
nomem:
    st = YQ_ERR_NOMEM;
fail:
    free(Ut);
    yq_winograd_free(w);
    return st;
}

/* ---- run ----------------------------------------------------------------- */
/* GEMM B source for V_ξ (dense rows of nb tiles): the same as
 * yq_pack_b_dense, with the per-row copies as inline vector loops instead of
 * memcpy calls (a call per 16 floats cost ~10% of the layer). */
static inline __attribute__((always_inline)) void pack_v_body(const void *ctx, int64_t k0, int64_t kc, int64_t n0,
                                                              int64_t nc, int nr, float *dst) {
    const yq_dense_b *d = ctx;
    for (int64_t p = 0; p * nr < nc; p++) {
        const int64_t w = min64(nr, nc - p * nr);
        const float *src = d->B + k0 * d->ldb + n0 + p * nr;
        float *out = dst + p * kc * nr;
        for (int64_t k = 0; k < kc; k++) {
            const float *restrict sk = src + k * d->ldb;
            float *restrict ok = out + k * nr;
            if (w == nr) {
                for (int j = 0; j < nr; j++) ok[j] = sk[j];
            } else {
                for (int64_t j = 0; j < w; j++) ok[j] = sk[j];
                for (int64_t j = w; j < nr; j++) ok[j] = 0.0f;
            }
        }
    }
}
static void pack_v_base(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
    pack_v_body(ctx, k0, kc, n0, nc, nr, dst);
}
AVX2_TARGET static void pack_v_avx2(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                                    float *dst) {
    pack_v_body(ctx, k0, kc, n0, nc, nr, dst);
}

typedef struct wg_job {
    const yq_winograd *w;
    const float *X;
    float *Y;
    float *scratch;
    _Atomic int failed;
} wg_job;

/* V for tile rows [ty0, ty1) of image x: V[ξ][c][(ty - ty0)·tW + tx]. */
static void input_block(const yq_winograd *w, const float *x, int64_t ty0, int64_t ty1, int64_t nb, float *V,
                        float *strip, float *u) {
    const yq_conv2d_shape *s = &w->s;
    const int64_t Wp = w->Wp, ncopy_max = s->W;
    for (int64_t c = 0; c < s->C; c++) {
        const float *plane = x + c * s->H * s->W;
        for (int64_t ty = ty0; ty < ty1; ty++) {
            /* The 6 input rows under this tile row, zero-padded: strip column
             * j is input column j - pad_l. */
            for (int i = 0; i < WG_IN; i++) {
                float *row = strip + i * Wp;
                const int64_t iy = ty * WG_OUT + i - s->pad_t;
                if (iy < 0 || iy >= s->H) {
                    memset(row, 0, (size_t)Wp * sizeof(float));
                    continue;
                }
                const int64_t left = min64(s->pad_l, Wp), n = max64(0, min64(ncopy_max, Wp - left));
                memset(row, 0, (size_t)left * sizeof(float));
                memcpy(row + left, plane + iy * s->W, (size_t)n * sizeof(float));
                if (left + n < Wp) memset(row + left + n, 0, (size_t)(Wp - left - n) * sizeof(float));
            }
            float *v = V + c * nb + (ty - ty0) * w->tW;
            if (w->use_avx2)
                input_tf_avx2(strip, Wp, w->tW, u, v, (int64_t)w->v_slice);
            else
                input_tf_base(strip, Wp, w->tW, u, v, (int64_t)w->v_slice);
        }
    }
}

static void wg_task(void *arg, int64_t begin, int64_t end, int tid) {
    wg_job *j = arg;
    const yq_winograd *w = j->w;
    const yq_conv2d_shape *s = &w->s;
    float *base = j->scratch + (size_t)tid * w->thread_floats;
    float *V = base, *O = base + w->off_o, *strip = base + w->off_strip, *u = base + w->off_u, *t = base + w->off_t;
    void *gemm_scratch = base + w->off_gemm;
    int64_t have_block = -1; /* (image, block) whose V is in scratch */
    for (int64_t task = begin; task < end; task++) {
        const int64_t ib = task / w->nmc, chunk = task % w->nmc;
        const int64_t n = ib / w->nblocks, blk = ib % w->nblocks;
        const int64_t ty0 = blk * w->tH / w->nblocks, ty1 = (blk + 1) * w->tH / w->nblocks;
        const int64_t nb = (ty1 - ty0) * w->tW;
        if (ib != have_block) {
            input_block(w, j->X + n * s->C * s->H * s->W, ty0, ty1, nb, V, strip, u);
            have_block = ib;
        }
        const int64_t m0 = chunk * w->mc, mrows = min64(w->mc, s->M - m0);
        for (int xi = 0; xi < WG_XI; xi++) {
            yq_dense_b db = {V + (size_t)xi * w->v_slice, nb};
            yq_b_source bs = {w->use_avx2 ? pack_v_avx2 : pack_v_base, &db};
            if (yq_sgemm_packed(NULL, w->U[xi * w->nmc + chunk], &bs, nb, O + (size_t)xi * w->o_slice, nb, 0, NULL,
                                gemm_scratch) != YQ_OK)
                j->failed = 1;
        }
        for (int64_t m = 0; m < mrows; m++) {
            const float bias = w->bias ? w->bias[m0 + m] : 0.0f;
            float *yc = j->Y + (n * s->M + m0 + m) * s->OH * s->OW;
            for (int64_t ty = ty0; ty < ty1; ty++) {
                const float *o = O + m * nb + (ty - ty0) * w->tW;
                const int rows = (int)min64(WG_OUT, s->OH - ty * WG_OUT);
                float *y = yc + ty * WG_OUT * s->OW;
                if (w->use_avx2)
                    output_tf_avx2(o, (int64_t)w->o_slice, w->tW, t, y, s->OW, rows, bias, w->act);
                else
                    output_tf_base(o, (int64_t)w->o_slice, w->tW, t, y, s->OW, rows, bias, w->act);
            }
        }
    }
}

yq_status yq_winograd_run(const yq_winograd *w, yq_pool *pool, const float *X, float *Y, void *scratch) {
    if (yq_pool_size(pool) > w->nthreads)
        return yq_fail(YQ_ERR_INTERNAL, "conv2d: Winograd plan made for %d threads run on a pool of %d", w->nthreads,
                       yq_pool_size(pool));
    wg_job j = {.w = w, .X = X, .Y = Y, .scratch = scratch};
    yq_parallel_for(pool, w->s.N * w->nblocks * w->nmc, 1, wg_task, &j);
    return j.failed ? yq_fail(YQ_ERR_INTERNAL, "conv2d: Winograd GEMM failed") : YQ_OK;
}
