/* Winograd F(4×4, 3×3) convolution for 3×3, stride-1, dilation-1, group-1
 * convs (NCHW, float32): the internal engine behind YQ_CONV_ALGO_WINOGRAD
 * (conv.c owns the plan and calls these). See conv_winograd.c for the method.
 *
 * Y = act(conv(X, W) + B) for the whole batch. The plan holds the transformed
 * weights (36 matrices of M×C, packed for the GEMM micro-kernel: 4× the bytes
 * of the plain 3×3 weights). */
#ifndef YQ_RT_KERNELS_CONV_WINOGRAD_H
#define YQ_RT_KERNELS_CONV_WINOGRAD_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "rt/kernels/conv.h"
#include "rt/kernels/gemm.h"

typedef struct yq_winograd yq_winograd;

/* Whether the geometry is one Winograd F(4,3) computes: 3×3 kernel, stride 1,
 * dilation 1, group 1 (any pads, any H/W). */
int yq_winograd_applies(const yq_conv2d_shape *s);

/* s must have passed yq_conv2d_shape_check. Wt [M, C, 3, 3], B [M] or NULL
 * (copied). nthreads only sets how the work is split, never the results. */
yq_status yq_winograd_new(const yq_conv2d_shape *s, const float *Wt, const float *B, yq_act act, int nthreads,
                          yq_winograd **out);
void yq_winograd_free(yq_winograd *w);
/* Scratch bytes (64-byte aligned) yq_winograd_run needs for the plan's threads. */
size_t yq_winograd_scratch(const yq_winograd *w);
/* Bytes of transformed weights held by the plan. */
size_t yq_winograd_weight_bytes(const yq_winograd *w);
/* The pool may have at most the plan's nthreads; scratch must not be NULL. */
yq_status yq_winograd_run(const yq_winograd *w, yq_pool *pool, const float *X, float *Y, void *scratch);

#endif
