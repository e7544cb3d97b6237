/* gather family kernels: see rt/ops.h for the op table contract.
 *
 * Gather, GatherElements: index-driven copies of opaque elements (any type);
 * indices are checked before any byte moves.
 * TopK, ArgMax, ReduceMax, ReduceMin: comparisons go through an order-
 * preserving 64-bit key (see sort_key), so every numeric type compares
 * exactly and the selected element is copied bit for bit.
 * ReduceSum, ReduceMean: accumulate in double (float types) or 64-bit
 * integers, in a fixed order per output (deterministic for any thread count). */
#include "rt/kernels/gather.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/movekit.h"
#include "rt/ops.h"

#define MAX_IN 4

static yq_status infer_inputs(yq_infer_ctx *c, int nreq, yq_tensor *in, int *nin) {
    int n = c->node->ninputs;
    if (n < nreq)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects at least %d input%s, got %d", nreq, nreq == 1 ? "" : "s",
                            n);
    if (n > MAX_IN) return yq_node_fail(c, YQ_ERR_INVALID, "expects at most %d inputs, got %d", MAX_IN, n);
    for (int i = 0; i < n; i++)
        if (yq_in(c, i)) YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
    for (int i = 0; i < nreq; i++)
        if (!yq_in(c, i)) return yq_node_fail(c, YQ_ERR_INVALID, "input %d is missing", i);
    yqk_infer_inputs(c, in, n);
    *nin = n;
    return YQ_OK;
}

static yq_status check_esize(const yq_node *n, yq_dtype dt) {
    if (yq_dtype_size(dt) == 0)
        return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(dt));
    return YQ_OK;
}

static yq_status check_index_type(const yq_node *n, yq_dtype dt) {
    if (dt != YQ_DT_INT64 && dt != YQ_DT_INT32)
        return yq_node_errorf(n, YQ_ERR_INVALID, "indices must be int32 or int64, got %s", yq_dtype_name(dt));
    return YQ_OK;
}

static inline int64_t index_at(yq_dtype dt, const void *p, int64_t i) {
    return dt == YQ_DT_INT64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
}

/* All indices within [-dim, dim-1]? Names the first bad one. */
static yq_status check_indices(const yq_node *n, const yq_tensor *idx, int64_t dim) {
    int64_t cnt = yq_tensor_numel(idx);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = index_at(idx->dtype, idx->data, i);
        if (v < -dim || v >= dim)
            return yq_node_errorf(n, YQ_ERR_INVALID, "index %lld (element %lld of indices) is out of range for an axis of "
                            "size %lld", (long long)v, (long long)i, (long long)dim);
    }
    return YQ_OK;
}

/* ======================================================================== */
/* Order-preserving keys                                                     */
/* ======================================================================== */

/* Maps a numeric element to a uint64 whose unsigned order is the numeric
 * order: integers by flipping the sign bit; floats through their IEEE bits
 * (negatives inverted). -0 is folded into +0 so they tie; NaN maps above +inf
 * (nan_high) or below -inf. */
static inline uint64_t double_key(double v, int nan_high) {
    if (isnan(v)) return nan_high ? UINT64_MAX : 0;
    if (v == 0) v = 0.0;
    uint64_t b;
    memcpy(&b, &v, 8);
    /* inf maps strictly inside (0, UINT64_MAX), leaving room for NaN */
    return (b >> 63) ? ~b : (b | ((uint64_t)1 << 63));
}

uint64_t yq_sort_key(yq_dtype dt, const void *data, int64_t i, int nan_high) {
    switch (dt) {
    case YQ_DT_FLOAT: return double_key(((const float *)data)[i], nan_high);
    case YQ_DT_DOUBLE: return double_key(((const double *)data)[i], nan_high);
    case YQ_DT_FLOAT16: return double_key(yq_f16_to_f32(((const uint16_t *)data)[i]), nan_high);
    case YQ_DT_BFLOAT16: return double_key(yq_bf16_to_f32(((const uint16_t *)data)[i]), nan_high);
    case YQ_DT_UINT64: return ((const uint64_t *)data)[i];
    default: return (uint64_t)yq_elem_as_int64(dt, data, i) ^ ((uint64_t)1 << 63);
    }
}

static int keyable(yq_dtype dt) { return yq_dtype_is_float(dt) || yq_dtype_is_integer(dt) || dt == YQ_DT_BOOL; }

static yq_status check_keyable(const yq_node *n, yq_dtype dt) {
    if (!keyable(dt))
        return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(dt));
    return YQ_OK;
}

/* ======================================================================== */
/* Gather                                                                    */
/* ======================================================================== */

static yq_status gather_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_inputs(c, 2, in, &nin));
    const yq_node *n = c->node;
    YQ_TRY(check_esize(n, in[0].dtype));
    YQ_TRY(check_index_type(n, in[1].dtype));
    const int r = in[0].rank, q = in[1].rank;
    if (r < 1) return yq_node_fail(c, YQ_ERR_INVALID, "data must have rank >= 1");
    int axis;
    YQ_TRY(yqk_axis(n, yq_attr_int(n, "axis", 0), r, "axis", &axis));
    YQ_TRY(yqk_check_rank(n, r - 1 + q));
    if (in[1].data) YQ_TRY(check_indices(n, &in[1], in[0].dims[axis]));
    int64_t dims[YQ_MAX_RANK];
    int k = 0;
    for (int d = 0; d < axis; d++) dims[k++] = in[0].dims[d];
    for (int d = 0; d < q; d++) dims[k++] = in[1].dims[d];
    for (int d = axis + 1; d < r; d++) dims[k++] = in[0].dims[d];
    YQ_TRY(yqk_check_size(n, in[0].dtype, k, dims));
    yq_set_out(c, 0, in[0].dtype, k, dims);
    return YQ_OK;
}

typedef struct gather_arg {
    const uint8_t *data;
    const void *idx;
    yq_dtype idt;
    uint8_t *out;
    int64_t nidx, dim, inner_bytes;
    size_t es;
} gather_arg;

static void gather_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const gather_arg *a = vp;
    const int64_t ib = a->inner_bytes;
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / a->nidx, i = u % a->nidx;
        int64_t v = index_at(a->idt, a->idx, i);
        if (v < 0) v += a->dim;
        const uint8_t *src = a->data + (o * a->dim + v) * ib;
        uint8_t *dst = a->out + u * ib;
        switch (ib) { /* one element per index: avoid memcpy calls */
        case 1: *dst = *src; break;
        case 2: *(uint16_t *)dst = *(const uint16_t *)src; break;
        case 4: *(uint32_t *)dst = *(const uint32_t *)src; break;
        case 8: *(uint64_t *)dst = *(const uint64_t *)src; break;
        default: memcpy(dst, src, (size_t)ib);
        }
    }
}

static yq_status gather_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0], *idx = &c->in[1];
    int axis;
    YQ_TRY(yqk_axis(c->node, yq_attr_int(c->node, "axis", 0), x->rank, "axis", &axis));
    YQ_TRY(check_indices(c->node, idx, x->dims[axis]));
    gather_arg a = {.data = x->data, .idx = idx->data, .idt = idx->dtype, .out = c->out[0].data,
                    .nidx = yq_tensor_numel(idx), .dim = x->dims[axis], .es = yq_dtype_size(x->dtype)};
    a.inner_bytes = yq_numel(x->rank - axis - 1, x->dims + axis + 1) * (int64_t)a.es;
    int64_t outer = yq_numel(axis, x->dims);
    if (a.inner_bytes == 0 || a.nidx == 0 || outer == 0) return YQ_OK;
    int64_t grain = YQK_GRAIN_BYTES / a.inner_bytes;
    yq_parallel_for(c->pool, outer * a.nidx, grain < 1 ? 1 : grain, gather_worker, &a);
    return YQ_OK;
}

/* ======================================================================== */
/* GatherElements                                                            */
/* ======================================================================== */

static yq_status gather_elements_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_inputs(c, 2, in, &nin));
    const yq_node *n = c->node;
    YQ_TRY(check_esize(n, in[0].dtype));
    YQ_TRY(check_index_type(n, in[1].dtype));
    const int r = in[0].rank;
    if (r < 1) return yq_node_fail(c, YQ_ERR_INVALID, "data must have rank >= 1");
    if (in[1].rank != r)
        return yq_node_fail(c, YQ_ERR_INVALID, "indices have rank %d but data has rank %d", in[1].rank, r);
    int axis;
    YQ_TRY(yqk_axis(n, yq_attr_int(n, "axis", 0), r, "axis", &axis));
    for (int d = 0; d < r; d++)
        if (d != axis && in[1].dims[d] > in[0].dims[d])
            return yq_node_fail(c, YQ_ERR_INVALID, "indices dimension %d (%lld) exceeds data dimension (%lld)", d,
                                (long long)in[1].dims[d], (long long)in[0].dims[d]);
    if (in[1].data) YQ_TRY(check_indices(n, &in[1], in[0].dims[axis]));
    yq_set_out(c, 0, in[0].dtype, r, in[1].dims);
    return YQ_OK;
}

typedef struct gel_arg {
    const uint8_t *data;
    const void *idx;
    yq_dtype idt;
    uint8_t *out;
    int rank, axis;
    int64_t idims[YQ_MAX_RANK]; /* indices (= output) dims */
    int64_t dstr[YQ_MAX_RANK];  /* data strides, elements */
    int64_t adim;               /* data size along axis */
    size_t es;
    _Atomic int bad; /* an index was out of range (reported after the loop) */
} gel_arg;

/* One unit = one innermost row of the indices tensor. Indices are checked
 * here, in the same pass as the copy; a bad one stops the row and flags the
 * run as failed (the output is then discarded). */
static void gel_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    gel_arg *a = vp;
    const int last = a->rank - 1;
    const int64_t n = a->idims[last], es = (int64_t)a->es, adim = a->adim;
    const int64_t sa = a->dstr[a->axis], sj = a->axis == last ? 0 : a->dstr[last];
    int64_t pos[YQ_MAX_RANK], rem = begin, base = 0;
    for (int k = last - 1; k >= 0; k--) {
        pos[k] = rem % a->idims[k];
        rem /= a->idims[k];
        if (k != a->axis) base += pos[k] * a->dstr[k];
    }
    for (int64_t row = begin; row < end; row++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t e = row * n + j;
            int64_t v = index_at(a->idt, a->idx, e);
            if (v < 0) v += adim;
            if (v < 0 || v >= adim) {
                atomic_store_explicit(&a->bad, 1, memory_order_relaxed);
                return;
            }
            const uint8_t *src = a->data + (base + v * sa + j * sj) * es;
            uint8_t *dst = a->out + e * es;
            switch (es) {
            case 1: *dst = *src; break;
            case 2: *(uint16_t *)dst = *(const uint16_t *)src; break;
            case 4: *(uint32_t *)dst = *(const uint32_t *)src; break;
            case 8: *(uint64_t *)dst = *(const uint64_t *)src; break;
            default: memcpy(dst, src, (size_t)es);
            }
        }
        for (int k = last - 1; k >= 0; k--) {
            if (k != a->axis) base += a->dstr[k];
            if (++pos[k] < a->idims[k]) break;
            if (k != a->axis) base -= a->dstr[k] * a->idims[k];
            pos[k] = 0;
        }
    }
}

static yq_status gather_elements_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0], *idx = &c->in[1];
    gel_arg a = {.data = x->data, .idx = idx->data, .idt = idx->dtype, .out = c->out[0].data, .rank = x->rank,
                 .es = yq_dtype_size(x->dtype)};
    atomic_init(&a.bad, 0);
    YQ_TRY(yqk_axis(c->node, yq_attr_int(c->node, "axis", 0), x->rank, "axis", &a.axis));
    a.adim = x->dims[a.axis];
    memcpy(a.idims, idx->dims, sizeof a.idims);
    yq_strides(x->rank, x->dims, a.dstr);
    int64_t total = yq_tensor_numel(idx);
    if (total == 0) return YQ_OK;
    int64_t rows = total / idx->dims[x->rank - 1];
    int64_t grain = YQK_GRAIN_BYTES / (idx->dims[x->rank - 1] * (int64_t)a.es);
    yq_parallel_for(c->pool, rows, grain < 1 ? 1 : grain, gel_worker, &a);
    if (atomic_load(&a.bad)) {
        YQ_TRY(check_indices(c->node, idx, a.adim)); /* names the first bad index */
        return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "index check disagrees");
    }
    return YQ_OK;
}

/* ======================================================================== */
/* TopK                                                                      */
/* ======================================================================== */

typedef struct topk_plan {
    int axis;
    int64_t k;
    int largest, sorted;
} topk_plan;

static yq_status topk_plan_make(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, topk_plan *p) {
    const yq_tensor *x = &in[0];
    if (x->rank < 1) return yq_node_errorf(n, YQ_ERR_INVALID, "input must have rank >= 1");
    YQ_TRY(yqk_axis(n, yq_attr_int(n, "axis", -1), x->rank, "axis", &p->axis));
    if (opset >= 10) {
        if (!yqk_present(n, in, nin, 1)) return yq_node_errorf(n, YQ_ERR_INVALID, "input K is required");
        if (in[1].dtype != YQ_DT_INT64 || yq_tensor_numel(&in[1]) != 1)
            return yq_node_errorf(n, YQ_ERR_INVALID, "K must be a one-element int64 tensor");
        p->k = ((const int64_t *)in[1].data)[0];
    } else {
        if (!yq_node_attr(n, "k")) return yq_node_errorf(n, YQ_ERR_INVALID, "the k attribute is required");
        p->k = yq_attr_int(n, "k", 0);
    }
    if (p->k < 0 || p->k > x->dims[p->axis])
        return yq_node_errorf(n, YQ_ERR_INVALID, "K = %lld is outside [0, %lld] (the size of axis %d)", (long long)p->k,
                        (long long)x->dims[p->axis], p->axis);
    p->largest = opset >= 11 ? yq_attr_int(n, "largest", 1) != 0 : 1;
    p->sorted = opset >= 11 ? yq_attr_int(n, "sorted", 1) != 0 : 1;
    return YQ_OK;
}

static yq_status topk_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_inputs(c, 1, in, &nin));
    if (c->opset >= 10) {
        if (!yq_in(c, 1)) return yq_node_fail(c, YQ_ERR_INVALID, "input K is required");
        YQ_TRY(yq_need_const(c, 1));
    }
    YQ_TRY(check_keyable(c->node, in[0].dtype));
    topk_plan p;
    YQ_TRY(topk_plan_make(c->node, c->opset, in, nin, &p));
    int64_t dims[YQ_MAX_RANK];
    memcpy(dims, in[0].dims, sizeof dims);
    dims[p.axis] = p.k;
    yq_set_out(c, 0, in[0].dtype, in[0].rank, dims);
    yq_set_out(c, 1, YQ_DT_INT64, in[0].rank, dims);
    return YQ_OK;
}

typedef struct topk_entry {
    uint64_t key;
    int64_t idx;
} topk_entry;

/* Strict total order: a ranks before b. Equal values rank by lower index
 * (what ONNX Runtime returns). */
static inline int ranks_before(const topk_entry *a, const topk_entry *b, int largest) {
    if (a->key != b->key) return largest ? a->key > b->key : a->key < b->key;
    return a->idx < b->idx;
}

/* Heap whose root is the entry ranking last, so it is the one to evict. */
static void heap_sift_down(topk_entry *h, int64_t n, int64_t i, int largest) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && ranks_before(&h[m], &h[l], largest)) m = l;
        if (r < n && ranks_before(&h[m], &h[r], largest)) m = r;
        if (m == i) return;
        topk_entry t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

static void heap_sift_up(topk_entry *h, int64_t i, int largest) {
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!ranks_before(&h[p], &h[i], largest)) return;
        topk_entry t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

/* Indices of the k entries of data[j * stride], j < n, that rank first, in
 * rank order; heap has room for k entries. */
static void topk_slice(yq_dtype dt, const void *data, int64_t n, int64_t stride, int64_t k, int largest,
                       topk_entry *h, int64_t *out_idx) {
    int64_t size = 0;
    for (int64_t j = 0; j < n; j++) {
        topk_entry e = {yq_sort_key(dt, data, j * stride, 1), j};
        if (size < k) {
            h[size] = e;
            heap_sift_up(h, size++, largest);
        } else if (k > 0 && ranks_before(&e, &h[0], largest)) {
            h[0] = e;
            heap_sift_down(h, size, 0, largest);
        }
    }
    /* pop the last-ranked entry each time: fills the result back to front */
    while (size > 0) {
        out_idx[size - 1] = h[0].idx;
        h[0] = h[--size];
        heap_sift_down(h, size, 0, largest);
    }
}

typedef struct topk_arg {
    const uint8_t *x;
    uint8_t *values;
    int64_t *indices;
    yq_dtype dt;
    size_t es;
    int64_t dim, inner, k;
    int largest;
    uint8_t *scratch; /* per thread: k entries then k indices */
    size_t scratch_per_thread;
} topk_arg;

static void topk_worker(void *vp, int64_t begin, int64_t end, int tid) {
    const topk_arg *a = vp;
    uint8_t *mine = a->scratch + (size_t)tid * a->scratch_per_thread;
    topk_entry *heap = (topk_entry *)mine;
    int64_t *sel = (int64_t *)(mine + (size_t)a->k * sizeof(topk_entry));
    const int64_t es = (int64_t)a->es;
    for (int64_t s = begin; s < end; s++) {
        int64_t o = s / a->inner, i = s % a->inner;
        const uint8_t *src = a->x + (o * a->dim * a->inner + i) * es;
        topk_slice(a->dt, src, a->dim, a->inner, a->k, a->largest, heap, sel);
        for (int64_t j = 0; j < a->k; j++) {
            int64_t dst = o * a->k * a->inner + j * a->inner + i;
            memcpy(a->values + dst * es, src + sel[j] * a->inner * es, (size_t)es);
            if (a->indices) a->indices[dst] = sel[j];
        }
    }
}

typedef struct topk_state {
    int nthreads;
} topk_state;

static yq_status topk_prepare(yq_prepare_ctx *c) {
    const yq_tensor *x = &c->in[0];
    /* K is a constant, so the planned output dims already hold it */
    int axis;
    YQ_TRY(yqk_axis(c->node, yq_attr_int(c->node, "axis", -1), x->rank, "axis", &axis));
    int64_t k = c->out[0].dims[axis];
    topk_state *st = yq_malloc(sizeof *st);
    if (!st) return YQ_ERR_NOMEM;
    st->nthreads = c->nthreads < 1 ? 1 : c->nthreads;
    c->state = st;
    size_t per = (size_t)k * (sizeof(topk_entry) + sizeof(int64_t));
    c->scratch_bytes = per * (size_t)st->nthreads;
    return YQ_OK;
}

static void topk_release(void *state) { free(state); }

static yq_status topk_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    topk_plan p;
    YQ_TRY(topk_plan_make(c->node, c->opset, c->in, c->nin, &p));
    const topk_state *st = c->state;
    if (!st || (p.k > 0 && !c->scratch))
        return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "run without prepare (no scratch memory)");
    topk_arg a = {.x = x->data, .values = c->out[0].data, .indices = c->nout > 1 ? c->out[1].data : NULL,
                  .dt = x->dtype, .es = yq_dtype_size(x->dtype), .dim = x->dims[p.axis],
                  .inner = yq_numel(x->rank - p.axis - 1, x->dims + p.axis + 1), .k = p.k, .largest = p.largest,
                  .scratch = c->scratch};
    a.scratch_per_thread = (size_t)p.k * (sizeof(topk_entry) + sizeof(int64_t));
    int64_t slices = yq_numel(p.axis, x->dims) * a.inner;
    if (p.k == 0 || slices == 0) return YQ_OK;
    /* at most st->nthreads chunks: each chunk owns one scratch slot */
    int nt = yq_pool_size(c->pool) < st->nthreads ? yq_pool_size(c->pool) : st->nthreads;
    int64_t grain = (slices + nt - 1) / nt;
    int64_t want = YQK_GRAIN_BYTES / (a.dim * (int64_t)a.es + 1);
    if (want > grain) grain = want;
    yq_parallel_for(nt > 1 ? c->pool : NULL, slices, grain < 1 ? 1 : grain, topk_worker, &a);
    return YQ_OK;
}

/* ======================================================================== */
/* Reductions                                                                */
/* ======================================================================== */

typedef enum red_kind { RED_MAX, RED_MIN, RED_SUM, RED_MEAN } red_kind;

static red_kind red_kind_of(const yq_node *n) {
    if (strcmp(n->op_type, "ReduceMin") == 0) return RED_MIN;
    if (strcmp(n->op_type, "ReduceSum") == 0) return RED_SUM;
    if (strcmp(n->op_type, "ReduceMean") == 0) return RED_MEAN;
    return RED_MAX;
}

typedef struct red_plan {
    int rank;
    unsigned char mask[YQ_MAX_RANK]; /* reduced axes */
    int noop;                        /* empty axes with noop_with_empty_axes: copy */
    int out_rank;
    int64_t out_dims[YQ_MAX_RANK];
} red_plan;

static yq_status red_plan_make(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, red_plan *p) {
    const yq_tensor *x = &in[0];
    /* axes moved from attribute to input at opset 13 (ReduceSum) / 18 (others) */
    int64_t from_input = red_kind_of(n) == RED_SUM ? 13 : 18;
    int64_t axes[2 * YQ_MAX_RANK];
    int naxes = 0;
    if (opset >= from_input) {
        if (yqk_present(n, in, nin, 1)) YQ_TRY(yqk_read_ints(n, &in[1], "axes", axes, 2 * YQ_MAX_RANK, &naxes));
    } else {
        const int64_t *v;
        int cnt = yq_attr_ints(n, "axes", &v);
        if (cnt > 2 * YQ_MAX_RANK) return yq_node_errorf(n, YQ_ERR_INVALID, "too many axes (%d)", cnt);
        if (cnt > 0) {
            memcpy(axes, v, (size_t)cnt * sizeof *v);
            naxes = cnt;
        }
    }
    int keepdims = yq_attr_int(n, "keepdims", 1) != 0;
    int noop_empty = yq_attr_int(n, "noop_with_empty_axes", 0) != 0;
    p->rank = x->rank;
    p->noop = 0;
    memset(p->mask, 0, sizeof p->mask);
    if (naxes == 0) {
        if (noop_empty) {
            p->noop = 1;
        } else {
            for (int d = 0; d < x->rank; d++) p->mask[d] = 1;
        }
    } else {
        YQ_TRY(yqk_axes(n, axes, naxes, x->rank, NULL, p->mask));
    }
    p->out_rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!p->mask[d])
            p->out_dims[p->out_rank++] = x->dims[d];
        else if (keepdims)
            p->out_dims[p->out_rank++] = 1;
    }
    return YQ_OK;
}

static yq_status reduce_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_inputs(c, 1, in, &nin));
    const yq_node *n = c->node;
    if (yq_in(c, 1)) YQ_TRY(yq_need_const(c, 1));
    red_kind kind = red_kind_of(n);
    yq_dtype dt = in[0].dtype;
    if (!keyable(dt) || ((kind == RED_SUM || kind == RED_MEAN) && dt == YQ_DT_BOOL))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(dt));
    red_plan p;
    YQ_TRY(red_plan_make(n, c->opset, in, nin, &p));
    yq_set_out(c, 0, dt, p.out_rank, p.out_dims);
    return YQ_OK;
}

/* Store v (double) / v (integer bits) as element i of dt. */
static void store_double(yq_dtype dt, void *out, int64_t i, double v) {
    switch (dt) {
    case YQ_DT_FLOAT: ((float *)out)[i] = (float)v; break;
    case YQ_DT_DOUBLE: ((double *)out)[i] = v; break;
    case YQ_DT_FLOAT16: ((uint16_t *)out)[i] = yq_f32_to_f16((float)v); break;
    case YQ_DT_BFLOAT16: ((uint16_t *)out)[i] = yq_f32_to_bf16((float)v); break;
    default: break;
    }
}

static void store_int(yq_dtype dt, void *out, int64_t i, uint64_t v) {
    switch (yq_dtype_size(dt)) {
    case 1: ((uint8_t *)out)[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)out)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)out)[i] = (uint32_t)v; break;
    default: ((uint64_t *)out)[i] = v; break;
    }
}

static int is_unsigned(yq_dtype dt) {
    return dt == YQ_DT_UINT8 || dt == YQ_DT_UINT16 || dt == YQ_DT_UINT32 || dt == YQ_DT_UINT64 ||
           dt == YQ_DT_UINT4 || dt == YQ_DT_BOOL;
}

/* The identity of max/min for an empty reduction: -inf/+inf for floats, the
 * type's lowest/highest value for integers. */
static void store_extreme(yq_dtype dt, void *out, int64_t i, int lowest) {
    if (yq_dtype_is_float(dt)) {
        store_double(dt, out, i, lowest ? -INFINITY : INFINITY);
        return;
    }
    int bits = dt == YQ_DT_INT4 || dt == YQ_DT_UINT4 ? 4 : dt == YQ_DT_BOOL ? 1 : (int)yq_dtype_size(dt) * 8;
    uint64_t v;
    if (is_unsigned(dt))
        v = lowest ? 0 : (bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1));
    else
        v = lowest ? (uint64_t)(-((int64_t)1 << (bits - 1))) : (((uint64_t)1 << (bits - 1)) - 1);
    store_int(dt, out, i, v);
}

/* Max (or min) of p[j * st], j < n, merged into *best: NaNs are set aside
 * (the first one is kept in *nan_val) so the comparison loop stays simple. */
static void segment_minmax_f32(const float *p, int64_t n, int64_t st, int want_max, float *best, int *have,
                               float *nan_val, int *has_nan) {
    if (n <= 0) return;
    int nan = 0;
    float m = p[0];
    if (st == 1) {
        /* eight independent lanes: no single compare-select dependency chain */
        float lane[8];
        int lnan[8] = {0};
        for (int l = 0; l < 8; l++) lane[l] = p[0];
        int64_t j = 0;
        if (want_max) {
            for (; j + 8 <= n; j += 8)
                for (int l = 0; l < 8; l++) {
                    const float v = p[j + l];
                    lane[l] = v > lane[l] ? v : lane[l];
                    lnan[l] |= v != v;
                }
            for (int l = 0; l < 8; l++) m = lane[l] > m ? lane[l] : m;
            for (int64_t t = j; t < n; t++) m = p[t] > m ? p[t] : m;
        } else {
            for (; j + 8 <= n; j += 8)
                for (int l = 0; l < 8; l++) {
                    const float v = p[j + l];
                    lane[l] = v < lane[l] ? v : lane[l];
                    lnan[l] |= v != v;
                }
            for (int l = 0; l < 8; l++) m = lane[l] < m ? lane[l] : m;
            for (int64_t t = j; t < n; t++) m = p[t] < m ? p[t] : m;
        }
        for (int l = 0; l < 8; l++) nan |= lnan[l];
        for (int64_t t = j; t < n; t++) nan |= p[t] != p[t]; /* the tail */
        nan |= p[0] != p[0]; /* lanes start from p[0] */
    } else {
        for (int64_t j = 1; j < n; j++) {
            const float v = p[j * st];
            m = want_max ? (v > m ? v : m) : (v < m ? v : m);
        }
        for (int64_t j = 0; j < n; j++) nan |= p[j * st] != p[j * st];
    }
    if (nan) {
        if (!*has_nan)
            for (int64_t j = 0; j < n; j++)
                if (p[j * st] != p[j * st]) {
                    *nan_val = p[j * st];
                    break;
                }
        *has_nan = 1;
        return; /* the result is NaN whatever the numbers are */
    }
    if (!*have || (want_max ? m > *best : m < *best)) *best = m;
    *have = 1;
}

typedef struct red_arg {
    red_kind kind;
    yq_dtype dt;
    size_t es;
    int fl; /* float type: accumulate in double */
    int kr, rr; /* kept / reduced axes after merging */
    int64_t kdims[YQ_MAX_RANK], kstr[YQ_MAX_RANK];
    int64_t rdims[YQ_MAX_RANK], rstr[YQ_MAX_RANK];
    int64_t rcount;
    const uint8_t *in;
    uint8_t *out;
} red_arg;

static void red_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const red_arg *a = vp;
    const int64_t es = (int64_t)a->es;
    const int last = a->rr - 1;
    const int64_t n = a->rr ? a->rdims[last] : 1, st = a->rr ? a->rstr[last] : 0;
    for (int64_t o = begin; o < end; o++) {
        int64_t base = 0, rem = o;
        for (int k = a->kr - 1; k >= 0; k--) {
            base += (rem % a->kdims[k]) * a->kstr[k];
            rem /= a->kdims[k];
        }
        if (a->rcount == 0) {
            if (a->kind == RED_MAX || a->kind == RED_MIN)
                store_extreme(a->dt, a->out, o, a->kind == RED_MAX);
            else if (a->fl)
                store_double(a->dt, a->out, o, a->kind == RED_MEAN ? NAN : 0.0);
            else
                store_int(a->dt, a->out, o, 0);
            continue;
        }
        int64_t pos[YQ_MAX_RANK] = {0}, roff = 0;
        double dsum = 0;
        uint64_t isum = 0, best = 0;
        int64_t best_off = -1;
        const int want_max = a->kind == RED_MAX;
        const int f32 = a->dt == YQ_DT_FLOAT;
        float fbest = 0, fnan = 0;
        int fhave = 0, fhas_nan = 0;
        for (;;) {
            const int64_t off0 = base + roff;
            if (f32 && (a->kind == RED_MAX || a->kind == RED_MIN)) {
                /* float32 fast path: same result as the keys (first NaN wins, ties keep the first) */
                segment_minmax_f32((const float *)a->in + off0, n, st, want_max, &fbest, &fhave, &fnan, &fhas_nan);
            } else if (f32) {
                const float *p = (const float *)a->in + off0;
                for (int64_t j = 0; j < n; j++) dsum += p[j * st];
            } else if (a->kind == RED_MAX || a->kind == RED_MIN) {
                for (int64_t j = 0; j < n; j++) {
                    /* NaN wins both max and min (it propagates, as in numpy) */
                    uint64_t key = yq_sort_key(a->dt, a->in, off0 + j * st, want_max);
                    if (best_off < 0 || (want_max ? key > best : key < best)) {
                        best = key;
                        best_off = off0 + j * st;
                    }
                }
            } else if (a->fl) {
                for (int64_t j = 0; j < n; j++) dsum += yq_elem_as_double(a->dt, a->in, off0 + j * st);
            } else {
                for (int64_t j = 0; j < n; j++) isum += (uint64_t)yq_elem_as_int64(a->dt, a->in, off0 + j * st);
            }
            int k = last - 1;
            for (; k >= 0; k--) {
                roff += a->rstr[k];
                if (++pos[k] < a->rdims[k]) break;
                roff -= a->rstr[k] * a->rdims[k];
                pos[k] = 0;
            }
            if (k < 0) break;
        }
        if (f32 && (a->kind == RED_MAX || a->kind == RED_MIN)) {
            ((float *)a->out)[o] = fhas_nan ? fnan : fbest;
        } else if (a->kind == RED_MAX || a->kind == RED_MIN) {
            memcpy(a->out + o * es, a->in + best_off * es, (size_t)es);
        } else if (a->fl) {
            store_double(a->dt, a->out, o, a->kind == RED_MEAN ? dsum / (double)a->rcount : dsum);
        } else if (a->kind == RED_MEAN) {
            uint64_t q = is_unsigned(a->dt) ? isum / (uint64_t)a->rcount
                                            : (uint64_t)((int64_t)isum / a->rcount);
            store_int(a->dt, a->out, o, q);
        } else {
            store_int(a->dt, a->out, o, isum);
        }
    }
}

static yq_status reduce_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    red_plan p;
    YQ_TRY(red_plan_make(c->node, c->opset, c->in, c->nin, &p));
    size_t nb;
    YQ_TRY(yq_dtype_bytes(x->dtype, yq_tensor_numel(x), &nb));
    if (p.noop) {
        yqk_parallel_memcpy(c->pool, c->out[0].data, x->data, (int64_t)nb);
        return YQ_OK;
    }
    red_arg a = {.kind = red_kind_of(c->node), .dt = x->dtype, .es = yq_dtype_size(x->dtype),
                 .fl = yq_dtype_is_float(x->dtype), .in = x->data, .out = c->out[0].data};
    /* Split axes into kept and reduced lists (input strides), dropping unit
     * dims and merging neighbours of the same kind that are contiguous. */
    int64_t str[YQ_MAX_RANK];
    yq_strides(x->rank, x->dims, str);
    int prev = -1; /* kind of the last axis appended: 0 kept, 1 reduced */
    a.rcount = 1;
    for (int d = 0; d < x->rank; d++) {
        if (p.mask[d]) a.rcount *= x->dims[d];
        if (x->dims[d] == 1) continue;
        int red = p.mask[d];
        int64_t *dims = red ? a.rdims : a.kdims, *s = red ? a.rstr : a.kstr;
        int *cnt = red ? &a.rr : &a.kr;
        if (prev == red && *cnt > 0) {
            dims[*cnt - 1] *= x->dims[d];
            s[*cnt - 1] = str[d];
        } else {
            dims[*cnt] = x->dims[d];
            s[*cnt] = str[d];
            (*cnt)++;
        }
        prev = red;
    }
    int64_t nout = yq_tensor_numel(&c->out[0]);
    if (nout == 0) return YQ_OK;
    if (a.rcount > 0 && a.rr == 0) { /* only unit axes reduced: a copy */
        yqk_parallel_memcpy(c->pool, c->out[0].data, x->data, (int64_t)nb);
        return YQ_OK;
    }
    int64_t grain = a.rcount > 0 ? (YQK_GRAIN_BYTES / 4) / a.rcount : 1024;
    yq_parallel_for(c->pool, nout, grain < 1 ? 1 : grain, red_worker, &a);
    return YQ_OK;
}

/* ======================================================================== */
/* ArgMax                                                                    */
/* ======================================================================== */

static yq_status argmax_axis(const yq_node *n, const yq_tensor *x, int *axis) {
    return yqk_axis(n, yq_attr_int(n, "axis", 0), x->rank, "axis", axis);
}

static yq_status argmax_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_inputs(c, 1, in, &nin));
    YQ_TRY(check_keyable(c->node, in[0].dtype));
    if (in[0].rank < 1) return yq_node_fail(c, YQ_ERR_INVALID, "input must have rank >= 1");
    int axis;
    YQ_TRY(argmax_axis(c->node, &in[0], &axis));
    if (in[0].dims[axis] == 0) return yq_node_fail(c, YQ_ERR_INVALID, "axis %d is empty", axis);
    int keep = yq_attr_int(c->node, "keepdims", 1) != 0;
    int64_t dims[YQ_MAX_RANK];
    int r = 0;
    for (int d = 0; d < in[0].rank; d++) {
        if (d != axis)
            dims[r++] = in[0].dims[d];
        else if (keep)
            dims[r++] = 1;
    }
    yq_set_out(c, 0, YQ_DT_INT64, r, dims);
    return YQ_OK;
}

typedef struct argmax_arg {
    const void *x;
    yq_dtype dt;
    int64_t *out;
    int64_t dim, inner;
    int last; /* select_last_index */
} argmax_arg;

static void argmax_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const argmax_arg *a = vp;
    for (int64_t s = begin; s < end; s++) {
        int64_t o = s / a->inner, i = s % a->inner;
        int64_t base = o * a->dim * a->inner + i;
        uint64_t best = yq_sort_key(a->dt, a->x, base, 1);
        int64_t bi = 0;
        for (int64_t j = 1; j < a->dim; j++) {
            uint64_t key = yq_sort_key(a->dt, a->x, base + j * a->inner, 1);
            if (key > best || (a->last && key == best)) {
                best = key;
                bi = j;
            }
        }
        a->out[s] = bi;
    }
}

static yq_status argmax_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int axis;
    YQ_TRY(argmax_axis(c->node, x, &axis));
    argmax_arg a = {.x = x->data, .dt = x->dtype, .out = c->out[0].data, .dim = x->dims[axis],
                    .inner = yq_numel(x->rank - axis - 1, x->dims + axis + 1),
                    .last = c->opset >= 12 && yq_attr_int(c->node, "select_last_index", 0) != 0};
    int64_t slices = yq_numel(axis, x->dims) * a.inner;
    if (slices == 0) return YQ_OK;
    int64_t grain = (YQK_GRAIN_BYTES / 4) / (a.dim > 0 ? a.dim : 1);
    yq_parallel_for(c->pool, slices, grain < 1 ? 1 : grain, argmax_worker, &a);
    return YQ_OK;
}

/* ======================================================================== */

void yq_register_gather_ops(yq_op_vtable *t) {
    t[YQ_OP_Gather] = (yq_op_vtable){.infer = gather_infer, .run = gather_run};
    t[YQ_OP_GatherElements] = (yq_op_vtable){.infer = gather_elements_infer, .run = gather_elements_run};
    t[YQ_OP_TopK] = (yq_op_vtable){.infer = topk_infer, .prepare = topk_prepare, .run = topk_run,
                                   .release = topk_release};
    t[YQ_OP_ReduceMax] = (yq_op_vtable){.infer = reduce_infer, .run = reduce_run};
    t[YQ_OP_ReduceMin] = (yq_op_vtable){.infer = reduce_infer, .run = reduce_run};
    t[YQ_OP_ReduceMean] = (yq_op_vtable){.infer = reduce_infer, .run = reduce_run};
    t[YQ_OP_ReduceSum] = (yq_op_vtable){.infer = reduce_infer, .run = reduce_run};
    t[YQ_OP_ArgMax] = (yq_op_vtable){.infer = argmax_infer, .run = argmax_run};
}
