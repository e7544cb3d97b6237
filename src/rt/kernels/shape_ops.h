/* Data-movement kernels behind the shape ops (Transpose, Slice, Expand,
 * Tile): one strided gather, with a plain reference beside the fast path.
 *
 * The contiguous output of rank `rank` and dims `dims` is filled with
 *     out[i_0, ..., i_{r-1}] = in_base[sum_k i_k * istrides[k]]
 * where strides are in elements and may be 0 (broadcast) or negative
 * (reversed slices). Elements are moved as opaque `esize`-byte units, so any
 * element type works. Ranks up to YQ_STRIDED_MAX_RANK (Tile uses 2x the
 * tensor rank). */
#ifndef YQ_RT_KERNELS_SHAPE_OPS_H
#define YQ_RT_KERNELS_SHAPE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"

#define YQ_STRIDED_MAX_RANK 16

/* Fast path: merges contiguous axes, then copies whole rows, transposes
 * cache-sized tiles, or gathers with a fixed stride; multi-threaded. */
void yq_strided_copy(yq_pool *pool, size_t esize, int rank, const int64_t *dims, const void *in_base,
                     const int64_t *istrides, void *out);
/* Reference: one element at a time, full index arithmetic. */
void yq_strided_copy_ref(size_t esize, int rank, const int64_t *dims, const void *in_base,
                         const int64_t *istrides, void *out);

#endif
