/* Single-precision GEMM for the runtime: C[M,N] = op(A)[M,K] · op(B)[K,N],
 * row-major, explicit leading dimensions, with a fused epilogue.
 *
 * Structure (the usual Goto/BLIS scheme): B is packed per thread in blocks of
 * KC×NC into panels NR columns wide, A in panels MR rows high (the weights of a
 * conv are packed once, ahead of time, with yq_pack_a), and a register-blocked
 * micro-kernel computes MR×NR tiles of C. The micro-kernel is chosen at run time
 * from the CPU: AVX-512 (12×32), AVX2+FMA (6×16) or portable C (4×16).
 *
 * Threads split C into disjoint rectangles (over N, or over M when N is narrow);
 * K is never split, and every element of C sees the same K order and blocking
 * whatever the thread count, so results are bitwise identical for any thread
 * count.
 *
 * The epilogue (per-row bias, then an optional SiLU x·sigmoid(x)) is applied to
 * each tile while it is still in registers, after its last K block. When
 * `accumulate` is set the old C is added before the epilogue:
 *     C = act(C_old + A·B + bias). */
#ifndef YQ_RT_KERNELS_GEMM_H
#define YQ_RT_KERNELS_GEMM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/status.h"

typedef enum yq_act {
    YQ_ACT_NONE = 0,
    YQ_ACT_SILU = 1, /* x * sigmoid(x): YOLO's Conv -> Sigmoid -> Mul */
} yq_act;

typedef struct yq_epilogue {
    const float *bias; /* one value per row of C (M values), or NULL */
    yq_act act;
} yq_epilogue;

/* Instruction sets the micro-kernels come in. */
typedef enum yq_gemm_isa {
    YQ_GEMM_ISA_AUTO = 0, /* the best one the CPU supports */
    YQ_GEMM_ISA_SCALAR,
    YQ_GEMM_ISA_AVX2,
    YQ_GEMM_ISA_AVX512,
} yq_gemm_isa;

/* The best ISA this CPU supports. */
yq_gemm_isa yq_gemm_isa_best(void);
/* Force the ISA used by later packing/GEMM calls (tests and benchmarks compare
 * the paths); AUTO restores the default. An ISA the CPU lacks is clamped to
 * the best available one. Returns the ISA now in effect. Not thread-safe
 * against concurrent GEMMs: call it between runs. */
yq_gemm_isa yq_gemm_set_isa(yq_gemm_isa isa);
yq_gemm_isa yq_gemm_isa_current(void);
const char *yq_gemm_isa_name(yq_gemm_isa isa);

/* ---- plain GEMM ---------------------------------------------------------- */
/* C = op(A)·op(B) (+ C if accumulate), then the epilogue (ep may be NULL).
 * op(A) is A[M,K] (lda >= K) or, with transA, A stored as [K,M] (lda >= M);
 * likewise B is [K,N] (ldb >= N) or [N,K] with transB. ldc >= N.
 * scratch: at least yq_sgemm_scratch_bytes(...) bytes, 64-byte aligned, or
 * NULL to allocate internally (which can fail with YQ_ERR_NOMEM). */
yq_status yq_sgemm(yq_pool *pool, int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate,
                   const yq_epilogue *ep, void *scratch);
size_t yq_sgemm_scratch_bytes(int64_t M, int64_t N, int64_t K, int nthreads);

/* Plain triple loop with double accumulation: the reference the tests check
 * the fast path against. Same arguments and semantics as yq_sgemm. */
void yq_sgemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate, const yq_epilogue *ep);

/* ---- pre-packed A and custom B sources (used by Conv) -------------------- */
typedef struct yq_packed_a yq_packed_a;

/* Pack op(A)[M,K] once (e.g. conv weights) for the current ISA. */
yq_status yq_pack_a(const float *A, int64_t lda, int transA, int64_t M, int64_t K, yq_packed_a **out);
void yq_packed_a_free(yq_packed_a *pa);
int64_t yq_packed_a_rows(const yq_packed_a *pa);
int64_t yq_packed_a_depth(const yq_packed_a *pa);
/* Bytes held (for memory reports). */
size_t yq_packed_a_bytes(const yq_packed_a *pa);

/* A producer of B blocks. pack() writes B[k0:k0+kc, n0:n0+nc] into `dst` as
 * ceil(nc/nr) panels; panel p holds columns n0+p*nr .. n0+p*nr+nr-1 as kc rows
 * of nr floats (panel p starts at dst + p*kc*nr). Columns past nc are zero.
 * This lets a convolution produce im2col data directly in packed form. */
typedef struct yq_b_source {
    void (*pack)(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);
    const void *ctx;
} yq_b_source;

/* C[M,N] = A·B (+ C if accumulate) then the epilogue, with A pre-packed.
 * scratch: yq_sgemm_packed_scratch_bytes(...) bytes (64-byte aligned), or NULL
 * to allocate internally. */
yq_status yq_sgemm_packed(yq_pool *pool, const yq_packed_a *A, const yq_b_source *B, int64_t N, float *C,
                          int64_t ldc, int accumulate, const yq_epilogue *ep, void *scratch);
size_t yq_sgemm_packed_scratch_bytes(const yq_packed_a *A, int64_t N, int nthreads);

/* C[M,N] = A·B (+ C if accumulate) then the epilogue, with A given as int8
 * codes Q (row stride ldq) and one scale per row: A[m][k] = (float)Q[m][k] ·
 * scale[m]. Each cache block of A is dequantized into the packing buffer as
 * it is needed, so only the codes stay in memory (weight-only quantized
 * convs); the result equals yq_sgemm on the dequantized A bit for bit.
 * scratch: yq_sgemm_scratch_bytes(M, N, K, threads) bytes, or NULL. */
yq_status yq_sgemm_int8a(yq_pool *pool, int64_t M, int64_t K, const int8_t *Q, int64_t ldq, const float *scale,
                         const yq_b_source *B, int64_t N, float *C, int64_t ldc, int accumulate,
                         const yq_epilogue *ep, void *scratch);

/* Helper for B sources: write `count` values into consecutive columns col..
 * of packed row k (layout above, kc rows per panel): value j is
 * src[ix0 + j*step] when 0 <= ix0 + j*step < width, else 0; src == NULL
 * writes zeros. Vectorized (masked loads do the zero padding) for steps 1
 * and 2 on AVX-512 CPUs. */
void yq_pack_put_row(float *dst, int64_t kc, int nr, int64_t k, int64_t col, int64_t count, const float *src,
                     int64_t ix0, int64_t width, int64_t step);

/* Ready-made B sources for a dense row-major matrix ([K,N] with ldb, or
 * [N,K] when trans is set). */
typedef struct yq_dense_b {
    const float *B;
    int64_t ldb;
} yq_dense_b;
void yq_pack_b_dense(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);
void yq_pack_b_dense_trans(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);

/* ---- implicit GEMM for convolutions (AVX-512 only) ------------------------ */
/* C = act(A·B + bias) where B is never packed: row k of B is the contiguous
 * run base[koff[k] + n], and C is computed in npanels tiles of 32 columns.
 * Lane l (0..31) of tile p belongs to segment s when bit l of
 * tiles[p].mask[s] is set and is stored to column tiles[p].col - delta[s] + l
 * of C (col = 32·p); lanes in no segment are computed and dropped. This lets a
 * stride-1 convolution run on a zero-padded copy of its input, computing on
 * the padded row width and storing only the real output columns. Every row of
 * B is read for all 32 lanes of every tile: base must be readable up to
 * max(koff) + 32·npanels. */
#define YQ_DIRECT_MAX_SEGS 3
typedef struct yq_direct_tile {
    int64_t col;
    int nseg;
    uint32_t mask[YQ_DIRECT_MAX_SEGS];
    int64_t delta[YQ_DIRECT_MAX_SEGS];
} yq_direct_tile;
/* Whether A was packed for the ISA this mode runs on. */
int yq_direct_supported(const yq_packed_a *A);
/* kc: rows of B per K block; choose it so that one 32-column micro-panel of
 * those rows (the lines they touch) stays in L1 while A's row panels sweep
 * over it. */
yq_status yq_sgemm_direct(yq_pool *pool, const yq_packed_a *A, const float *base, const int64_t *koff, int64_t kc,
                          int64_t npanels, const yq_direct_tile *tiles, float *C, int64_t ldc,
                          const yq_epilogue *ep);

/* ---- epilogue helpers ---------------------------------------------------- */
/* y[i] = act(y[i] + bias) for n values, vectorized (used by kernels that do
 * not go through the GEMM, e.g. depthwise conv). */
void yq_apply_bias_act(float *y, int64_t n, float bias, yq_act act);
/* Scalar SiLU, the definition the vector code approximates. */
static inline float yq_silu_ref(float x) { return x / (1.0f + expf(-x)); }

#endif
