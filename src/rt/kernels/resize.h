/* Resize kernels (resize.c). The op computes, per axis, which input
 * positions each output position reads (from the scales/sizes and the
 * coordinate transformation mode); the kernels below only apply those tables,
 * so they are testable against their references with arbitrary tables. */
#ifndef YQ_RT_KERNELS_RESIZE_H
#define YQ_RT_KERNELS_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"

/* Linear interpolation along one axis: out = (1 - w1) * in[i0] + w1 * in[i1]. */
typedef struct yq_lerp {
    int64_t i0, i1;
    float w1;
} yq_lerp;

/* Nearest: out[o_0..o_{r-1}] = in[tab[0][o_0], ..., tab[r-1][o_{r-1}]];
 * tab[k] has out_dims[k] entries in [0, in_dims[k]). Opaque esize-byte
 * elements. The fast path reuses the previous output row when two rows read
 * the same input row and special-cases x2 and identity innermost tables. */
void yq_resize_nearest(yq_pool *pool, size_t esize, int rank, const int64_t *in_dims, const int64_t *out_dims,
                       const int64_t *const *tab, const void *in, void *out);
void yq_resize_nearest_ref(size_t esize, int rank, const int64_t *in_dims, const int64_t *out_dims,
                           const int64_t *const *tab, const void *in, void *out);

/* Linear (n-linear over every axis whose table interpolates), float32. */
void yq_resize_linear_f32(yq_pool *pool, int rank, const int64_t *in_dims, const int64_t *out_dims,
                          const yq_lerp *const *tab, const float *in, float *out);
void yq_resize_linear_ref_f32(int rank, const int64_t *in_dims, const int64_t *out_dims, const yq_lerp *const *tab,
                              const float *in, float *out);

#endif
