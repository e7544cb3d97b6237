#include "rt/kernels/movekit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void yqk_infer_inputs(const yq_infer_ctx *c, yq_tensor *in, int nin) {
    for (int i = 0; i < nin; i++) {
        const yq_value *v = yq_in(c, i);
        memset(&in[i], 0, sizeof in[i]);
        if (v) in[i] = yq_value_tensor(v);
    }
}

yq_status yqk_read_ints(const yq_node *n, const yq_tensor *t, const char *what, int64_t *vals, int max,
                        int *count) {
    if (t->dtype != YQ_DT_INT64 && t->dtype != YQ_DT_INT32)
        return yq_node_errorf(n, YQ_ERR_INVALID, "%s must be int64 or int32, got %s", what, yq_dtype_name(t->dtype));
    if (t->rank > 1) return yq_node_errorf(n, YQ_ERR_INVALID, "%s must be a 1-D tensor, got rank %d", what, t->rank);
    int64_t cnt = yq_tensor_numel(t);
    if (cnt > max)
        return yq_node_errorf(n, YQ_ERR_LIMIT, "%s has %lld entries, at most %d are supported", what, (long long)cnt,
                        max);
    if (cnt > 0 && !t->data) return yq_node_errorf(n, YQ_ERR_INTERNAL, "%s has no data", what);
    for (int64_t i = 0; i < cnt; i++) vals[i] = yq_elem_as_int64(t->dtype, t->data, i);
    *count = (int)cnt;
    return YQ_OK;
}

yq_status yqk_axis(const yq_node *n, int64_t a, int r, const char *what, int *out) {
    if (a < -(int64_t)r || a >= r)
        return yq_node_errorf(n, YQ_ERR_INVALID, "%s %lld is out of range for rank %d (valid: [%d, %d])", what,
                        (long long)a, r, -r, r - 1);
    *out = (int)(a < 0 ? a + r : a);
    return YQ_OK;
}

yq_status yqk_axes(const yq_node *n, const int64_t *axes, int naxes, int r, int *norm, unsigned char *mask) {
    unsigned char seen[YQ_MAX_RANK * 2 + 1] = {0};
    if (r > YQ_MAX_RANK * 2) return yqk_check_rank(n, r);
    for (int i = 0; i < naxes; i++) {
        int a = 0;
        YQ_TRY(yqk_axis(n, axes[i], r, "axis", &a));
        if (seen[a]) return yq_node_errorf(n, YQ_ERR_INVALID, "axis %lld is listed twice", (long long)axes[i]);
        seen[a] = 1;
        if (norm) norm[i] = a;
    }
    if (mask) memcpy(mask, seen, (size_t)r);
    return YQ_OK;
}

yq_status yqk_check_rank(const yq_node *n, int rank) {
    if (rank > YQ_MAX_RANK)
        return yq_node_errorf(n, YQ_ERR_LIMIT, "output rank %d exceeds the supported maximum of %d", rank, YQ_MAX_RANK);
    return YQ_OK;
}

yq_status yqk_check_size(const yq_node *n, yq_dtype dt, int rank, const int64_t *dims) {
    /* Multiply with an overflow check: dims come from constant data. */
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "output dimension %d is negative (%lld)", d,
                                         (long long)dims[d]);
        if (dims[d] != 0 && numel > INT64_MAX / dims[d])
            return yq_node_errorf(n, YQ_ERR_LIMIT, "output element count overflows");
        numel *= dims[d];
    }
    size_t nb;
    if (yq_dtype_bytes(dt, numel, &nb) != YQ_OK) return yq_fail_prefix(YQ_ERR_LIMIT, "node '%s' (%s)", n->name, n->op_type);
    return YQ_OK;
}

/* ---- multi-threaded row copies ------------------------------------------ */

/* A long row is cut into pieces of this size so several threads share it. */
#define PIECE_BYTES ((int64_t)256 * 1024)
#define JOB_BATCH 256

typedef struct copy_plan {
    const yqk_copy_job *jobs;
    int njobs;
    int64_t pieces[JOB_BATCH]; /* pieces per row of job j */
    int64_t first[JOB_BATCH + 1]; /* first unit of job j */
} copy_plan;

static void copy_units(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const copy_plan *p = arg;
    /* last job whose first unit is <= begin */
    int lo = 0, hi = p->njobs - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (p->first[mid] <= begin)
            lo = mid;
        else
            hi = mid - 1;
    }
    int j = lo;
    for (int64_t u = begin; u < end; u++) {
        while (u >= p->first[j + 1]) j++;
        const yqk_copy_job *job = &p->jobs[j];
        int64_t local = u - p->first[j];
        int64_t row = local / p->pieces[j], piece = local % p->pieces[j];
        int64_t off = piece * PIECE_BYTES;
        int64_t len = job->row_bytes - off < PIECE_BYTES ? job->row_bytes - off : PIECE_BYTES;
        memcpy(job->dst + row * job->dst_stride + off, job->src + row * job->src_stride + off, (size_t)len);
    }
}

void yqk_copy_jobs(yq_pool *pool, const yqk_copy_job *jobs, int njobs) {
    for (int base = 0; base < njobs; base += JOB_BATCH) {
        copy_plan p;
        p.jobs = jobs + base;
        p.njobs = njobs - base < JOB_BATCH ? njobs - base : JOB_BATCH;
        int64_t units = 0, bytes = 0;
        for (int j = 0; j < p.njobs; j++) {
            const yqk_copy_job *job = &p.jobs[j];
            int64_t rb = job->row_bytes > 0 && job->rows > 0 ? job->row_bytes : 0;
            p.pieces[j] = rb ? (rb + PIECE_BYTES - 1) / PIECE_BYTES : 1;
            p.first[j] = units;
            if (rb) {
                units += job->rows * p.pieces[j];
                bytes += job->rows * rb;
            }
        }
        p.first[p.njobs] = units;
        if (units == 0) continue;
        int64_t grain = bytes > 0 ? (YQK_GRAIN_BYTES * units + bytes - 1) / bytes : units;
        if (grain < 1) grain = 1;
        yq_parallel_for(pool, units, grain, copy_units, &p);
    }
}

void yqk_parallel_memcpy(yq_pool *pool, void *dst, const void *src, int64_t bytes) {
    if (dst == src || bytes <= 0) return;
    yqk_copy_job job = {.dst = dst, .src = src, .rows = 1, .row_bytes = bytes};
    yqk_copy_jobs(pool, &job, 1);
}
