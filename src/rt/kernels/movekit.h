/* Small helpers shared by the data-movement kernel families (shape_ops.c,
 * gather.c, resize.c): node-named errors usable outside infer, reading
 * shape-like constant inputs, axis normalisation, and a multi-threaded
 * row copier. Internal to src/rt/kernels. */
#ifndef YQ_RT_KERNELS_MOVEKIT_H
#define YQ_RT_KERNELS_MOVEKIT_H

#include <stdint.h>

#include "rt/ops.h"

/* Bytes one worker should move at least before splitting work further:
 * below this, thread hand-off costs more than it saves. */
#define YQK_GRAIN_BYTES ((int64_t)32 * 1024)


/* Tensor views of a node's inputs for infer: dtype/dims of every present
 * input, data only where the input is a constant (NULL otherwise). Omitted
 * inputs get dtype UNDEFINED, rank 0, data NULL. `in` has room for nin. */
void yqk_infer_inputs(const yq_infer_ctx *c, yq_tensor *in, int nin);

/* True when input i of node n is present (not omitted) in a tensor array
 * built by yqk_infer_inputs or handed to run/prepare. */
static inline int yqk_present(const yq_node *n, const yq_tensor *in, int nin, int i) {
    return i < nin && i < n->ninputs && n->inputs[i] >= 0 && in[i].dtype != YQ_DT_UNDEFINED;
}

/* Read a constant integer tensor (int32 or int64, any shape, at most `max`
 * elements) into vals; *count gets the element count. `what` names the input
 * in messages ("shape", "axes", ...). */
yq_status yqk_read_ints(const yq_node *n, const yq_tensor *t, const char *what, int64_t *vals, int max,
                        int *count);

/* Normalise axis a of a rank-r tensor ([-r, r-1]) into [0, r-1]. */
yq_status yqk_axis(const yq_node *n, int64_t a, int r, const char *what, int *out);

/* Normalise a list of axes against rank r and check for duplicates; fills
 * mask[r] (1 where an axis is listed) when mask != NULL. */
yq_status yqk_axes(const yq_node *n, const int64_t *axes, int naxes, int r, int *norm, unsigned char *mask);

/* Rank limit check for an output being built. */
yq_status yqk_check_rank(const yq_node *n, int rank);

/* Element count that fits memory limits for dtype dt (fails clearly). */
yq_status yqk_check_size(const yq_node *n, yq_dtype dt, int rank, const int64_t *dims);

/* One row-copy job: `rows` rows of `row_bytes`, src/dst advanced by their
 * strides (bytes) after each row. */
typedef struct yqk_copy_job {
    uint8_t *dst;
    const uint8_t *src;
    int64_t rows, row_bytes, dst_stride, src_stride;
} yqk_copy_job;

/* Run all jobs on the pool, splitting both across rows and inside long rows
 * so that a single large memcpy is shared by the threads too. */
void yqk_copy_jobs(yq_pool *pool, const yqk_copy_job *jobs, int njobs);

/* memcpy of `bytes` split across the pool (no-op when dst == src). */
void yqk_parallel_memcpy(yq_pool *pool, void *dst, const void *src, int64_t bytes);

#endif
