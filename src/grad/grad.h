/* Reverse-mode differentiation for the runtime's ops: forward and backward
 * kernels with explicit shapes (llm.c style), an Adam optimiser and losses.
 *
 * There is no tape object: a caller (AdaRound / block reconstruction, QAT)
 * runs the forward kernels in order, keeps the activations it needs, and
 * calls the backward kernels in reverse order. Conventions:
 *  - Every tensor is dense, row-major (NCHW for images), float32.
 *  - Backward kernels ACCUMULATE into the gradient buffers (dx += ...), so a
 *    tensor consumed by several ops just receives several contributions; the
 *    caller zeroes gradients before a step. Any gradient pointer may be NULL
 *    when that gradient is not needed.
 *  - Forward kernels overwrite their output.
 *  - Everything is deterministic: fixed loop orders, no threads (the caller
 *    may split independent problems over threads).
 *
 * Fake quantization follows the straight-through estimator (STE) for the
 * input and LSQ (Esser et al., "Learned Step Size Quantization", 2020) for
 * the scale; AdaRound's soft rounding follows Nagel et al., "Up or Down?
 * Adaptive Rounding for Post-Training Quantization", 2020. */
#ifndef YQ_GRAD_GRAD_H
#define YQ_GRAD_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "rt/kernels/conv.h"

#define YQ_GRAD_MAX_RANK 8

/* ---- Conv (2-D, groups incl. depthwise, strides, pads, dilations) --------- */
/* y = conv(x, w) + b (b may be NULL); runs the runtime's reference kernel.
 * s must have passed yq_conv2d_shape_check. */
void yq_grad_conv2d_forward(const yq_conv2d_shape *s, const float *x, const float *w, const float *b, float *y);
/* dx += convᵀ(dy, w), dw += corr(x, dy), db += Σ dy. */
void yq_grad_conv2d_backward(const yq_conv2d_shape *s, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db);
/* The same gradients (accumulated the same way) computed with im2col + the
 * runtime's packed, threaded SGEMM (a direct per-channel loop for depthwise),
 * for training whole models. Bitwise independent of the pool's thread count;
 * differs from the reference only by float summation order. Fails only on
 * allocation (the im2col buffer). pool may be NULL. */
yq_status yq_grad_conv2d_backward_fast(yq_pool *pool, const yq_conv2d_shape *s, const float *x, const float *w,
                                       const float *dy, float *dx, float *dw, float *db);

/* ---- activations ---------------------------------------------------------- */
void yq_grad_silu_forward(int64_t n, const float *x, float *y);
/* From the input x: dx += dy · σ(x)(1 + x(1 − σ(x))). */
void yq_grad_silu_backward(int64_t n, const float *x, const float *dy, float *dx);
void yq_grad_sigmoid_forward(int64_t n, const float *x, float *y);
/* From the output y: dx += dy · y(1 − y). */
void yq_grad_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx);

/* ---- broadcasting Add / Mul (numpy rules) -------------------------------- */
typedef struct yq_bcast {
    int rank;
    int64_t out[YQ_GRAD_MAX_RANK];
    int64_t sa[YQ_GRAD_MAX_RANK], sb[YQ_GRAD_MAX_RANK]; /* element strides, 0 on broadcast axes */
    int64_t n, na, nb;                                  /* element counts of y, a, b */
} yq_bcast;
/* Output shape of a[ra dims] ⊙ b[rb dims]; fails on incompatible shapes. */
yq_status yq_bcast_init(yq_bcast *bc, int ra, const int64_t *da, int rb, const int64_t *db);
void yq_grad_add_forward(const yq_bcast *bc, const float *a, const float *b, float *y);
/* da += reduce(dy) over a's broadcast axes, likewise db. */
void yq_grad_add_backward(const yq_bcast *bc, const float *dy, float *da, float *db);
void yq_grad_mul_forward(const yq_bcast *bc, const float *a, const float *b, float *y);
void yq_grad_mul_backward(const yq_bcast *bc, const float *a, const float *b, const float *dy, float *da,
                          float *db);

/* ---- Concat / Split along one axis --------------------------------------- */
/* Tensors seen as [outer, len_i, inner]; the joined one is [outer, Σ len_i, inner]. */
void yq_grad_concat_forward(int nin, const float *const *x, const int64_t *len, int64_t outer, int64_t inner,
                            float *y);
void yq_grad_concat_backward(int nin, const float *dy, const int64_t *len, int64_t outer, int64_t inner,
                             float *const *dx);
void yq_grad_split_forward(int nout, const float *x, const int64_t *len, int64_t outer, int64_t inner,
                           float *const *y);
void yq_grad_split_backward(int nout, const float *const *dy, const int64_t *len, int64_t outer, int64_t inner,
                            float *dx);

/* ---- MaxPool 2-D ---------------------------------------------------------- */
typedef struct yq_pool2d_shape {
    int64_t N, C, H, W;
    int64_t kh, kw, stride_h, stride_w, dil_h, dil_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t OH, OW; /* filled by yq_pool2d_shape_check */
} yq_pool2d_shape;
yq_status yq_pool2d_shape_check(yq_pool2d_shape *s);
/* y = max over the window (padding never wins); argmax[N·C·OH·OW] records the
 * input index (within the channel plane) that won, the first one on ties, or
 * -1 for an all-padding window (y = 0 there). */
void yq_grad_maxpool2d_forward(const yq_pool2d_shape *s, const float *x, float *y, int64_t *argmax);
void yq_grad_maxpool2d_backward(const yq_pool2d_shape *s, const int64_t *argmax, const float *dy, float *dx);

/* ---- Resize (nearest) ----------------------------------------------------- */
/* Source index of every output index along one axis for ONNX Resize with
 * coordinate_transformation_mode half_pixel and nearest_mode
 * round_prefer_floor (the ONNX defaults, and what YOLO's 2× upsample uses):
 * src = clamp(round_prefer_floor((o + 0.5)·in/out − 0.5), 0, in − 1). */
void yq_resize_nearest_map(int64_t in, int64_t out, int64_t *map);
/* x [planes, H, W] → y [planes, OH, OW] with y[p,i,j] = x[p, my[i], mx[j]]. */
void yq_grad_resize_nearest_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                    const int64_t *my, const int64_t *mx, const float *x, float *y);
void yq_grad_resize_nearest_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                     const int64_t *my, const int64_t *mx, const float *dy, float *dx);

/* ---- Reshape / Flatten / Transpose --------------------------------------- */
/* Reshape and Flatten keep the memory order: dx += dy. */
void yq_grad_reshape_backward(int64_t n, const float *dy, float *dx);
/* y = transpose(x, perm) for x of shape dims[rank]; y's shape is dims[perm[i]]. */
void yq_grad_transpose_forward(int rank, const int64_t *dims, const int *perm, const float *x, float *y);
/* dx += transpose(dy, perm⁻¹) (dims: the forward input's shape). */
void yq_grad_transpose_backward(int rank, const int64_t *dims, const int *perm, const float *dy, float *dx);

/* ---- MatMul: y[b] = a[b] [M,K] · w[b] [K,N] over `batch` pairs ------------ */
/* wbatch: 0 shares one w across the batch (a layer's weight), else one per
 * batch item (attention). */
yq_status yq_grad_matmul_forward(int64_t batch, int64_t M, int64_t K, int64_t N, const float *a, const float *w,
                                 int wbatch, float *y);
/* da += dy wᵀ, dw += aᵀ dy (summed over the batch when w is shared). */
yq_status yq_grad_matmul_backward(int64_t batch, int64_t M, int64_t K, int64_t N, const float *a, const float *w,
                                  int wbatch, const float *dy, float *da, float *dw);

/* ---- Softmax over the last axis of [rows, n] ------------------------------ */
void yq_grad_softmax_forward(int64_t rows, int64_t n, const float *x, float *y);
/* From the output: dx += y ⊙ (dy − Σ dy ⊙ y). */
void yq_grad_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dy, float *dx);

/* ---- uniform fake quantization (STE + LSQ) -------------------------------- */
/* x seen as [outer, nch, inner]; channel c has scale[c], zero_point[c]
 * (per tensor: nch = 1). y = (clamp(round(x/s) + zp, qmin, qmax) − zp)·s with
 * round half to even (ONNX QuantizeLinear). */
typedef struct yq_fq_shape {
    int64_t outer, nch, inner;
    int32_t qmin, qmax;
} yq_fq_shape;
void yq_grad_fakequant_forward(const yq_fq_shape *s, const float *x, const float *scale, const int32_t *zp, float *y);
/* STE: dx += dy where the code is not clipped, 0 where it is.
 * LSQ: dscale[c] += Σ dy · (round(x/s) − x/s) unclipped, (qmin − zp) or
 * (qmax − zp) clipped. LSQ's gradient scale 1/sqrt(n·qmax) is the caller's
 * choice (multiply dscale). */
void yq_grad_fakequant_backward(const yq_fq_shape *s, const float *x, const float *scale, const int32_t *zp,
                                const float *dy, float *dx, float *dscale);

/* ---- AdaRound soft rounding ----------------------------------------------- */
/* Rectified sigmoid h(V) = clamp(σ(V)(ζ − γ) + γ, 0, 1) with ζ = 1.1, γ = −0.1. */
#define YQ_ADAROUND_ZETA 1.1f
#define YQ_ADAROUND_GAMMA (-0.1f)
float yq_adaround_h(float v);
/* dh/dV (0 where the clamp is active). */
float yq_adaround_dh(float v);
/* V with h(V) = r for r in (0, 1) (clamped to [0.01, 0.99] first). */
float yq_adaround_v_init(float r);
/* Soft weights of a [rows, cols] matrix: w_soft = s·(clamp(base + h(V) + zp,
 * qmin, qmax) − zp), base = floor(w/s) stored per weight; scale/zp per row
 * (nch == rows) or per tensor (nch == 1). */
typedef struct yq_adaround_shape {
    int64_t rows, cols;
    int per_row;
    int32_t qmin, qmax;
} yq_adaround_shape;
void yq_grad_adaround_forward(const yq_adaround_shape *s, const float *base, const float *v, const float *scale,
                              const int32_t *zp, float *wsoft);
/* dv += dwsoft · s · dh/dV where the clamp is inactive. */
void yq_grad_adaround_backward(const yq_adaround_shape *s, const float *base, const float *v, const float *scale,
                               const int32_t *zp, const float *dwsoft, float *dv);
/* f_reg = Σ 1 − |2h(V) − 1|^β, and dv += lambda · ∂f_reg/∂V (dv may be NULL).
 * Returns f_reg (without lambda). */
double yq_adaround_reg(int64_t n, const float *v, float beta, float lambda, float *dv);
/* β schedule: no regularisation (returns 0) for the first `warmup` fraction of
 * the iterations, then β decays from beta_start to beta_end as
 * end + (start − end)/2 · (1 + cos(π·t)) (the AdaRound reference's
 * annealing), t going 0 → 1 over the rest. */
float yq_adaround_beta(int64_t iter, int64_t iters, float warmup, float beta_start, float beta_end);

/* ---- Adam ----------------------------------------------------------------- */
typedef struct yq_adam {
    int64_t n;
    float lr, beta1, beta2, eps, weight_decay;
    int64_t t;  /* steps taken */
    float *m, *v; /* [n] moments, owned */
} yq_adam;
/* lr, β1 0.9, β2 0.999, ε 1e-8, no weight decay. */
yq_status yq_adam_init(yq_adam *a, int64_t n, float lr);
void yq_adam_free(yq_adam *a);
/* One bias-corrected step: p −= lr · m̂ / (sqrt(v̂) + ε) (+ decoupled decay). */
void yq_adam_step(yq_adam *a, float *p, const float *g);

/* ---- losses ---------------------------------------------------------------- */
/* mean((a − b)²); da += 2(a − b)/n (da may be NULL). Double accumulation. */
double yq_loss_mse(int64_t n, const float *a, const float *b, float *da);
/* KL(p ‖ q) averaged over rows, p = softmax(t/T) (target), q = softmax(s/T)
 * (student) of logits [rows, n]; ds += (q − p)/(T·rows) (ds may be NULL). */
double yq_loss_kl(int64_t rows, int64_t n, const float *s_logits, const float *t_logits, float T, float *ds);

#endif
