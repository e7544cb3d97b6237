/* pool family kernels: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
 * See rt/ops.h for the op table contract.
 *
 * Two paths:
 *  - pool_ref_nd: any number of spatial axes, any dtype we accept, and the
 *    optional Indices output of MaxPool; a direct loop over each window. It is
 *    also what the tests compare the fast path against.
 *  - the 2-D float path (1-D runs as 2-D with H = 1): windows are rectangles,
 *    so max and sum are separable: a horizontal pass over every input row,
 *    then a vertical pass over those rows; (kh + kw) work per output instead
 *    of kh·kw. Threaded over (n, c) planes. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/ops.h"

#define POOL_MAX_SPATIAL 6

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

typedef struct pool_geom {
    int nd;
    int is_max;
    int64_t N, C;
    int64_t in[POOL_MAX_SPATIAL], k[POOL_MAX_SPATIAL], s[POOL_MAX_SPATIAL], d[POOL_MAX_SPATIAL];
    int64_t pads[2 * POOL_MAX_SPATIAL], out[POOL_MAX_SPATIAL];
    int count_include_pad;
    int storage_order;
} pool_geom;


/* Geometry of a MaxPool/AveragePool node from its attributes and X's shape. */
static yq_status pool_geometry(const yq_node *n, int xrank, const int64_t *xd, int is_max, pool_geom *g) {
    memset(g, 0, sizeof *g);
    if (xrank < 3 || xrank - 2 > POOL_MAX_SPATIAL)
        return yq_node_errorf(n, xrank < 3 ? YQ_ERR_INVALID : YQ_ERR_UNSUPPORTED,
                         "input X has rank %d; expected [N, C, spatial...] with 1 to %d spatial axes", xrank,
                         POOL_MAX_SPATIAL);
    const int nd = xrank - 2;
    g->nd = nd;
    g->is_max = is_max;
    g->N = xd[0];
    g->C = xd[1];
    for (int i = 0; i < nd; i++) g->in[i] = xd[2 + i];
    const int64_t *ks;
    int nk = yq_attr_ints(n, "kernel_shape", &ks);
    if (nk < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "attribute kernel_shape is required");
    if (nk != nd) return yq_node_errorf(n, YQ_ERR_INVALID, "kernel_shape has %d values for %d spatial axes", nk, nd);
    for (int i = 0; i < nd; i++) g->k[i] = ks[i];
    YQ_TRY(yq_node_ints_exact(n, "strides", nd, 1, g->s));
    YQ_TRY(yq_node_ints_exact(n, "dilations", nd, 1, g->d));
    YQ_TRY(yq_node_ints_exact(n, "pads", 2 * nd, 0, g->pads));
    const int ceil_mode = yq_attr_int(n, "ceil_mode", 0) != 0;
    g->count_include_pad = yq_attr_int(n, "count_include_pad", 0) != 0;
    g->storage_order = (int)yq_attr_int(n, "storage_order", 0);
    if (g->storage_order != 0 && g->storage_order != 1)
        return yq_node_errorf(n, YQ_ERR_INVALID, "storage_order must be 0 or 1");
    for (int i = 0; i < nd; i++) {
        if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1)
            return yq_node_errorf(n, YQ_ERR_INVALID, "kernel sizes, strides and dilations must be >= 1");
        if (g->pads[i] < 0 || g->pads[nd + i] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "negative pads");
    }
    const char *ap = yq_attr_string(n, "auto_pad", "NOTSET");
    const int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
    const int valid = !strcmp(ap, "VALID");
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0)
        return yq_node_errorf(n, YQ_ERR_INVALID, "unknown auto_pad '%s'", ap);
    for (int i = 0; i < nd; i++) {
        const int64_t span = (g->k[i] - 1) * g->d[i] + 1;
        if (same_upper || same_lower) {
            g->out[i] = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t total = max64(0, (g->out[i] - 1) * g->s[i] + span - g->in[i]);
            g->pads[i] = same_upper ? total / 2 : total - total / 2;
            g->pads[nd + i] = total - g->pads[i];
            continue;
        }
        if (valid) g->pads[i] = g->pads[nd + i] = 0;
        const int64_t padded = g->in[i] + g->pads[i] + g->pads[nd + i];
        if (padded < span)
            return yq_node_errorf(n, YQ_ERR_INVALID, "kernel %lld (dilation %lld) does not fit padded input %lld on axis %d",
                             (long long)g->k[i], (long long)g->d[i], (long long)padded, i);
        if (ceil_mode && !valid) {
            g->out[i] = (padded - span + g->s[i] - 1) / g->s[i] + 1;
            /* The last window must start inside the input or its leading pad. */
            if ((g->out[i] - 1) * g->s[i] >= g->in[i] + g->pads[i]) g->out[i]--;
        } else {
            g->out[i] = (padded - span) / g->s[i] + 1;
        }
    }
    return YQ_OK;
}

/* ---- reference (N-d, any accepted dtype, Indices) ------------------------ */
static inline float load_elem(yq_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case YQ_DT_INT8: return (float)((const int8_t *)p)[i];
    case YQ_DT_UINT8: return (float)((const uint8_t *)p)[i];
    default: return ((const float *)p)[i];
    }
}
/* Integer outputs saturate: a max window that holds only padding (possible
 * with dilations) yields -inf, which becomes the type's lowest value rather
 * than an out-of-range conversion. */
static inline float clamp_to(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v == v ? v : 0.0f; }
static inline void store_elem(yq_dtype dt, void *p, int64_t i, float v) {
    switch (dt) {
    case YQ_DT_INT8: ((int8_t *)p)[i] = (int8_t)clamp_to(v, -128.0f, 127.0f); break;
    case YQ_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)clamp_to(v, 0.0f, 255.0f); break;
    default: ((float *)p)[i] = v; break;
    }
}

static void pool_ref_nd(const pool_geom *g, yq_dtype dt, const void *X, void *Y, int64_t *indices) {
    const int nd = g->nd;
    int64_t in_size = 1, out_size = 1, k_size = 1;
    for (int i = 0; i < nd; i++) {
        in_size *= g->in[i];
        out_size *= g->out[i];
        k_size *= g->k[i];
    }
    for (int64_t plane = 0; plane < g->N * g->C; plane++) {
        const int64_t xbase = plane * in_size;
        for (int64_t o = 0; o < out_size; o++) {
            int64_t opos[POOL_MAX_SPATIAL], r = o;
            for (int i = nd - 1; i >= 0; i--) {
                opos[i] = r % g->out[i];
                r /= g->out[i];
            }
            float best = g->is_max ? -INFINITY : 0.0f;
            int64_t best_idx = -1;
            double sum = 0;
            int64_t count = 0;
            for (int64_t kk = 0; kk < k_size; kk++) {
                int64_t kr = kk, off = 0, stride = 1, cm_off = 0, cm_stride = 1;
                int inside = 1, in_padded = 1;
                int64_t pos[POOL_MAX_SPATIAL];
                for (int i = nd - 1; i >= 0; i--) {
                    const int64_t kd = kr % g->k[i];
                    kr /= g->k[i];
                    pos[i] = opos[i] * g->s[i] - g->pads[i] + kd * g->d[i];
                    if (pos[i] < 0 || pos[i] >= g->in[i]) inside = 0;
                    if (pos[i] < -g->pads[i] || pos[i] >= g->in[i] + g->pads[nd + i]) in_padded = 0;
                }
                if (inside) {
                    for (int i = nd - 1; i >= 0; i--) {
                        off += pos[i] * stride;
                        stride *= g->in[i];
                    }
                    for (int i = 0; i < nd; i++) {
                        cm_off += pos[i] * cm_stride;
                        cm_stride *= g->in[i];
                    }
                    const float v = load_elem(dt, X, xbase + off);
                    if (g->is_max) {
                        if (v > best || best_idx < 0) {
                            best = v;
                            best_idx = xbase + (g->storage_order ? cm_off : off);
                        }
                    } else {
                        sum += v;
                        count++;
                    }
                } else if (!g->is_max && g->count_include_pad && in_padded) {
                    count++;
                }
            }
            const int64_t yi = plane * out_size + o;
            if (g->is_max) {
                store_elem(dt, Y, yi, best);
                if (indices) indices[yi] = best_idx;
            } else {
                store_elem(dt, Y, yi, count ? (float)(sum / (double)count) : 0.0f);
            }
        }
    }
}

/* ---- 2-D float fast path ------------------------------------------------- */
typedef struct pool2d {
    int is_max, count_include_pad;
    int64_t H, W, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, OH, OW;
} pool2d;

static pool2d pool_as_2d(const pool_geom *g) {
    const int two = g->nd == 2;
    pool2d p = {.is_max = g->is_max, .count_include_pad = g->count_include_pad,
                .H = two ? g->in[0] : 1, .W = g->in[two], .kh = two ? g->k[0] : 1, .kw = g->k[two],
                .sh = two ? g->s[0] : 1, .sw = g->s[two], .dh = two ? g->d[0] : 1, .dw = g->d[two],
                .pt = two ? g->pads[0] : 0, .pl = g->pads[two], .pb = two ? g->pads[2] : 0,
                .pr = g->pads[g->nd + two], .OH = two ? g->out[0] : 1, .OW = g->out[two]};
    return p;
}

/* Taps k in [lo, hi) of a window starting at `start` (with dilation d) that
 * land inside [0, in). */
static inline void valid_taps(int64_t start, int64_t k, int64_t d, int64_t in, int64_t *lo, int64_t *hi) {
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    *hi = start > in - 1 ? 0 : min64(k, (in - 1 - start) / d + 1);
    if (*hi < *lo) *hi = *lo;
}

/* Taps of the window that fall inside the padded extent [-pad_begin, in + pad_end):
 * the divisor of AveragePool with count_include_pad. */
static inline int64_t padded_taps(int64_t start, int64_t k, int64_t d, int64_t in, int64_t pb, int64_t pe) {
    int64_t lo, hi;
    valid_taps(start + pb, k, d, in + pb + pe, &lo, &hi);
    return hi - lo;
}

/* max(acc, v) for an acc that is never NaN (it starts at -inf and only ever
 * takes a larger v): a NaN v leaves it unchanged, exactly as fmaxf would,
 * but this compiles to maxss/maxps instead of a libm call per element (4 %
 * of yolov10n's time went to __fmaxf). */
static inline float max_keep(float acc, float v) { return v > acc ? v : acc; }

/* One plane. tmp: H × OW floats (horizontal pass result). */
static void pool2d_plane(const pool2d *p, const float *x, float *y, float *tmp) {
    const float init = p->is_max ? -INFINITY : 0.0f;
    for (int64_t iy = 0; iy < p->H; iy++) {
        const float *row = x + iy * p->W;
        float *t = tmp + iy * p->OW;
        for (int64_t ox = 0; ox < p->OW; ox++) {
            const int64_t start = ox * p->sw - p->pl;
            int64_t lo, hi;
            valid_taps(start, p->kw, p->dw, p->W, &lo, &hi);
            const float *q = row + start;
            float acc = init;
            if (p->is_max)
                for (int64_t kx = lo; kx < hi; kx++) acc = max_keep(acc, q[kx * p->dw]);
            else
                for (int64_t kx = lo; kx < hi; kx++) acc += q[kx * p->dw];
            t[ox] = acc;
        }
    }
    for (int64_t oy = 0; oy < p->OH; oy++) {
        const int64_t start = oy * p->sh - p->pt;
        int64_t lo, hi;
        valid_taps(start, p->kh, p->dh, p->H, &lo, &hi);
        float *yr = y + oy * p->OW;
        for (int64_t ox = 0; ox < p->OW; ox++) yr[ox] = init;
        for (int64_t ky = lo; ky < hi; ky++) {
            const float *t = tmp + (start + ky * p->dh) * p->OW;
            if (p->is_max)
                for (int64_t ox = 0; ox < p->OW; ox++) yr[ox] = max_keep(yr[ox], t[ox]);
            else
                for (int64_t ox = 0; ox < p->OW; ox++) yr[ox] += t[ox];
        }
        if (!p->is_max) {
            const int64_t cy = p->count_include_pad ? padded_taps(start, p->kh, p->dh, p->H, p->pt, p->pb) : hi - lo;
            for (int64_t ox = 0; ox < p->OW; ox++) {
                const int64_t xs = ox * p->sw - p->pl;
                int64_t xlo, xhi;
                valid_taps(xs, p->kw, p->dw, p->W, &xlo, &xhi);
                const int64_t cx = p->count_include_pad ? padded_taps(xs, p->kw, p->dw, p->W, p->pl, p->pr) : xhi - xlo;
                yr[ox] = (cy * cx) != 0 ? yr[ox] / (float)(cy * cx) : 0.0f;
            }
        }
    }
}

typedef struct pool2d_job {
    const pool2d *p;
    const float *X;
    float *Y;
    char *scratch;
    size_t tmp_bytes;
} pool2d_job;

static void pool2d_task(void *arg, int64_t begin, int64_t end, int tid) {
    const pool2d_job *j = arg;
    const pool2d *p = j->p;
    float *tmp = (float *)(j->scratch + (size_t)tid * j->tmp_bytes);
    for (int64_t plane = begin; plane < end; plane++)
        pool2d_plane(p, j->X + plane * p->H * p->W, j->Y + plane * p->OH * p->OW, tmp);
}

static size_t pool2d_tmp_bytes(const pool2d *p) { return ((size_t)(p->H * p->OW) * sizeof(float) + 63) & ~(size_t)63; }

/* ---- MaxPool / AveragePool ops ------------------------------------------- */
static int is_maxpool(const yq_node *n) { return n->op == YQ_OP_MaxPool || !strcmp(n->op_type, "MaxPool"); }

static int wants_indices(const yq_node *n) { return n->noutputs > 1 && n->outputs[1] >= 0; }

static yq_status pool_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0);
    const int is_max = is_maxpool(c->node);
    if (x->dtype != YQ_DT_FLOAT && !(is_max && (x->dtype == YQ_DT_INT8 || x->dtype == YQ_DT_UINT8)))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input X is %s; supported: float%s", yq_dtype_name(x->dtype),
                            is_max ? ", int8, uint8" : "");
    pool_geom g;
    YQ_TRY(pool_geometry(c->node, x->rank, x->dims, is_max, &g));
    int64_t dims[2 + POOL_MAX_SPATIAL] = {g.N, g.C};
    for (int i = 0; i < g.nd; i++) dims[2 + i] = g.out[i];
    yq_set_out(c, 0, x->dtype, g.nd + 2, dims);
    if (wants_indices(c->node)) {
        if (!is_max) return yq_node_fail(c, YQ_ERR_INVALID, "AveragePool has a single output");
        yq_set_out(c, 1, YQ_DT_INT64, g.nd + 2, dims);
    }
    return YQ_OK;
}

/* The fast path takes float, at most 2 spatial axes, no Indices output. */
static int pool_fast(const yq_node *n, yq_dtype dt, const pool_geom *g) {
    return dt == YQ_DT_FLOAT && g->nd <= 2 && !wants_indices(n);
}

static yq_status pool_prepare(yq_prepare_ctx *c) {
    pool_geom g;
    YQ_TRY(pool_geometry(c->node, c->in[0].rank, c->in[0].dims, is_maxpool(c->node), &g));
    if (pool_fast(c->node, c->in[0].dtype, &g)) {
        pool2d p = pool_as_2d(&g);
        c->scratch_bytes = pool2d_tmp_bytes(&p) * (size_t)(c->nthreads > 0 ? c->nthreads : 1);
    }
    return YQ_OK;
}

static yq_status pool_run(yq_run_ctx *c) {
    pool_geom g;
    YQ_TRY(pool_geometry(c->node, c->in[0].rank, c->in[0].dims, is_maxpool(c->node), &g));
    const yq_dtype dt = c->in[0].dtype;
    if (!pool_fast(c->node, dt, &g)) {
        pool_ref_nd(&g, dt, c->in[0].data, c->out[0].data, wants_indices(c->node) ? c->out[1].data : NULL);
        return YQ_OK;
    }
    pool2d p = pool_as_2d(&g);
    pool2d_job j = {&p, c->in[0].data, c->out[0].data, c->scratch, pool2d_tmp_bytes(&p)};
    void *owned = NULL;
    if (!j.scratch) {
        owned = yq_aligned_alloc(64, j.tmp_bytes * (size_t)yq_pool_size(c->pool));
        if (!owned) return yq_fail_prefix(YQ_ERR_NOMEM, "pool: out of memory for scratch");
        j.scratch = owned;
    }
    yq_parallel_for(c->pool, g.N * g.C, 1, pool2d_task, &j);
    free(owned);
    return YQ_OK;
}

/* ---- GlobalAveragePool / GlobalMaxPool ----------------------------------- */
static yq_status global_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0);
    if (x->dtype != YQ_DT_FLOAT)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input X is %s; supported: float", yq_dtype_name(x->dtype));
    if (x->rank < 3)
        return yq_node_fail(c, YQ_ERR_INVALID, "input X has rank %d; expected [N, C, spatial...]", x->rank);
    int64_t dims[YQ_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    yq_set_out(c, 0, YQ_DT_FLOAT, x->rank, dims);
    return YQ_OK;
}

typedef struct global_job {
    const float *X;
    float *Y;
    int64_t plane_size;
    int is_max;
} global_job;

static void global_task(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const global_job *j = arg;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = j->X + plane * j->plane_size;
        if (j->is_max) {
            float m = -INFINITY;
            for (int64_t i = 0; i < j->plane_size; i++) m = fmaxf(m, x[i]);
            j->Y[plane] = m;
        } else {
            /* Four partial sums in double: exact enough for any plane size
             * and fast despite the fixed order. */
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int64_t i = 0;
            for (; i + 4 <= j->plane_size; i += 4) {
                s0 += x[i];
                s1 += x[i + 1];
                s2 += x[i + 2];
                s3 += x[i + 3];
            }
            for (; i < j->plane_size; i++) s0 += x[i];
            j->Y[plane] = j->plane_size ? (float)((s0 + s1 + s2 + s3) / (double)j->plane_size) : 0.0f;
        }
    }
}

static yq_status global_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int64_t plane = 1;
    for (int i = 2; i < x->rank; i++) plane *= x->dims[i];
    global_job j = {x->data, c->out[0].data, plane, c->node->op == YQ_OP_GlobalMaxPool ||
                                                        !strcmp(c->node->op_type, "GlobalMaxPool")};
    int64_t grain = plane >= 4096 ? 1 : 4096 / (plane > 0 ? plane : 1);
    yq_parallel_for(c->pool, x->dims[0] * x->dims[1], grain, global_task, &j);
    return YQ_OK;
}

void yq_register_pool_ops(yq_op_vtable *table) {
    table[YQ_OP_MaxPool] = (yq_op_vtable){pool_infer, pool_prepare, pool_run, NULL, NULL};
    table[YQ_OP_AveragePool] = (yq_op_vtable){pool_infer, pool_prepare, pool_run, NULL, NULL};
    table[YQ_OP_GlobalAveragePool] = (yq_op_vtable){global_infer, NULL, global_run, NULL, NULL};
    table[YQ_OP_GlobalMaxPool] = (yq_op_vtable){global_infer, NULL, global_run, NULL, NULL};
}
