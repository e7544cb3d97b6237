/* Convolution kernels (NCHW, float32) with explicit shapes.
 *
 * Two levels:
 *  - yq_conv2d_ref / yq_convnd_ref: plain loop nests, the definition the fast
 *    path is tested against (and the fallback for 3-D and higher).
 *  - a plan (yq_conv2d_plan_new) built once per layer: weights converted and
 *    packed for the GEMM micro-kernel, the algorithm chosen from the shape
 *    (1×1 stride-1 → GEMM straight on the activation; depthwise → a dedicated
 *    stencil kernel; other stride-1 convs on AVX-512 → implicit GEMM reading a
 *    zero-padded copy of the input through per-row offsets, no im2col at all
 *    (the same code handles strides 2-3 by splitting the copy into stride
 *    phases, but is slower there, so it is used only when forced); 3×3
 *    stride-1 dense convs where measured faster → Winograd F(4×4,3×3), 36
 *    GEMMs on transformed tiles (conv_winograd.c), except when the input comes
 *    from a DequantizeLinear (A8 fake-quant emulation keeps the direct sum);
 *    otherwise im2col produced directly in packed form + GEMM),
 *    and the fused epilogue (bias, optional SiLU) applied per output tile.
 *
 * The epilogue lets a fusion pass turn Conv → Sigmoid → Mul (YOLO's SiLU) into
 * one Conv with act = YQ_ACT_SILU. */
#ifndef YQ_RT_KERNELS_CONV_H
#define YQ_RT_KERNELS_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/status.h"
#include "rt/kernels/gemm.h"

#define YQ_CONV_MAX_SPATIAL 6

/* Geometry of a 2-D convolution: X[N,C,H,W] * W[M,C/group,kh,kw] -> Y[N,M,OH,OW]. */
typedef struct yq_conv2d_shape {
    int64_t N, C, H, W;
    int64_t M, kh, kw;
    int64_t group;
    int64_t stride_h, stride_w;
    int64_t dil_h, dil_w;
    int64_t pad_t, pad_l, pad_b, pad_r; /* explicit (auto_pad already resolved) */
    int64_t OH, OW;
} yq_conv2d_shape;

/* Output size of one spatial axis for explicit pads; < 1 means the kernel does
 * not fit. */
static inline int64_t yq_conv_out_dim(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin,
                                      int64_t pad_end) {
    int64_t span = (k - 1) * dil + 1;
    int64_t padded = in + pad_begin + pad_end;
    return padded < span ? 0 : (padded - span) / stride + 1;
}
/* Fill OH/OW from the rest; fails (YQ_ERR_INVALID) on non-positive sizes,
 * strides or dilations, or a group count that does not divide C and M. */
yq_status yq_conv2d_shape_check(yq_conv2d_shape *s);

/* Reference: Y = act(conv(X, W) + B). B may be NULL. */
void yq_conv2d_ref(const yq_conv2d_shape *s, const float *X, const float *Wt, const float *B, yq_act act,
                   float *Y);

/* Reference for any number of spatial axes (nd >= 1): X[N,C,in...],
 * W[M,C/group,k...], Y[N,M,out...]. pads: nd begins then nd ends. */
void yq_convnd_ref(int nd, int64_t N, int64_t C, const int64_t *in, int64_t M, const int64_t *k, int64_t group,
                   const int64_t *strides, const int64_t *dils, const int64_t *pads, const int64_t *out,
                   const float *X, const float *Wt, const float *B, yq_act act, float *Y);

/* ---- the fast path ------------------------------------------------------- */
typedef enum yq_conv_algo {
    YQ_CONV_ALGO_GEMM_1X1,  /* 1×1, stride 1, no pad: GEMM on the activation itself */
    YQ_CONV_ALGO_IM2COL,    /* im2col into packed B panels + GEMM */
    YQ_CONV_ALGO_DEPTHWISE, /* group == C == M: per-channel stencil */
    YQ_CONV_ALGO_DIRECT,    /* AVX-512: implicit GEMM on a zero-padded, phase-split copy of X */
    YQ_CONV_ALGO_WINOGRAD,  /* 3×3 stride 1 dense: Winograd F(4×4,3×3), 36 GEMMs (conv_winograd.c) */
} yq_conv_algo;
#define YQ_CONV_ALGO_COUNT (YQ_CONV_ALGO_WINOGRAD + 1)
#define YQ_CONV_ALGO_AUTO_NO_WINOGRAD (-2)

typedef struct yq_conv2d_plan yq_conv2d_plan;

/* Weights Wt [M, C/group, kh, kw] and bias B [M] (may be NULL) are copied /
 * packed; the caller's arrays may be freed afterwards. */
yq_status yq_conv2d_plan_new(const yq_conv2d_shape *s, const float *Wt, const float *B, yq_act act,
                             int nthreads, yq_conv2d_plan **out);
/* The same with the algorithm forced (a yq_conv_algo; -1 chooses;
 * YQ_CONV_ALGO_AUTO_NO_WINOGRAD chooses among the others): for tests
 * and benchmarks that compare the paths. Fails with YQ_ERR_UNSUPPORTED when
 * the algorithm cannot run this geometry (1×1 path on a 3×3 conv, depthwise on
 * a dense conv, direct without AVX-512 or with strides above 3 / rows
 * narrower than 16 phase columns, Winograd on anything but a 3×3 stride-1
 * undilated group-1 conv). */
yq_status yq_conv2d_plan_new_algo(const yq_conv2d_shape *s, const float *Wt, const float *B, yq_act act,
                                  int nthreads, int algo, yq_conv2d_plan **out);

/* A plan for weight-only quantized weights: Wq [M, C/group, kh, kw] int8
 * codes (code − zero point) with one scale per output channel, W = (float)Wq
 * · scale[m]. Where the float plan would use the 1×1 or im2col GEMM only the
 * codes are kept and each cache block of weights is dequantized as it is
 * packed; where it would use Winograd or depthwise, the plan is that float
 * plan on the dequantized weights (Winograd's transformed weights are float
 * anyway; depthwise weights are few). Same results as the float plan on the
 * dequantized weights with the same algorithm. Wq and scale are referenced,
 * not copied, by a plan that keeps int8 weights: they must outlive it. */
yq_status yq_conv2d_plan_new_int8(const yq_conv2d_shape *s, const int8_t *Wq, const float *scale, const float *B,
                                  yq_act act, int nthreads, yq_conv2d_plan **out);
/* Whether the plan holds int8 weights (yq_conv2d_plan_new_int8 on a 1×1 or
 * im2col conv). */
int yq_conv2d_plan_int8_weights(const yq_conv2d_plan *p);
/* The plan of a prepared Conv / QWConv node's state (NULL when it has none). */
const yq_conv2d_plan *yq_conv_node_plan(const void *state);
void yq_conv2d_plan_free(yq_conv2d_plan *p);
/* Whether the automatic choice may pick Winograd (default yes). Its results
 * differ from the direct sum by float rounding (about 1e-6 of max|Y|), so
 * tests and benchmarks compare whole models with and without it. Process-wide,
 * read at plan time; returns the previous setting. */
int yq_conv_set_winograd(int allowed);
/* Scratch bytes yq_conv2d_run needs for `nthreads` threads. */
size_t yq_conv2d_plan_scratch(const yq_conv2d_plan *p);
yq_conv_algo yq_conv2d_plan_algo(const yq_conv2d_plan *p);
const char *yq_conv_algo_name(yq_conv_algo a);
/* Y = act(conv(X) + B) for the whole batch. scratch: yq_conv2d_plan_scratch()
 * bytes, 64-byte aligned, or NULL to allocate internally. The pool may have at
 * most the `nthreads` given to the plan. */
yq_status yq_conv2d_run(const yq_conv2d_plan *p, yq_pool *pool, const float *X, float *Y, void *scratch);

/* MatMul / Gemm ops live beside the GEMM (matmul.c); conv.c registers them. */
struct yq_op_vtable;
void yq_register_matmul_ops(struct yq_op_vtable *table);

#endif
