/* shape family kernels: see rt/ops.h for the op table contract.
 *
 * Reshape, Flatten, Squeeze, Unsqueeze: metadata only; run copies bytes.
 * Transpose, Slice, Expand, Tile: one strided gather (yq_strided_copy).
 * Concat, Split: row copies. Shape, Constant, ConstantOfShape: their output
 * is known at infer time, so infer stores it as the output value's data
 * (constant folding can then chain through them); run writes it again.
 * Range: arithmetic fill from constant scalars.
 *
 * Every shape-like input (Reshape's shape, Slice's starts/ends/axes/steps,
 * Tile's repeats, ...) must be a constant: shapes are static. The "plan"
 * functions below compute everything the op needs from the inputs' dims and
 * constant data; infer and run both call them, so they can never disagree. */
#include "rt/kernels/shape_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/movekit.h"
#include "rt/ops.h"

/* ======================================================================== */
/* Strided gather                                                            */
/* ======================================================================== */

/* Tile edge for the blocked transpose: 32x32 elements keeps both the 32
 * source lines and the destination rows of a tile in L1. */
#define TILE 32

/* Drop unit dims and merge axes that are contiguous with each other in the
 * input (stride[k] == stride[k+1] * dims[k+1]); returns the new rank, or -1
 * when the output is empty. */
static int coalesce(int rank, const int64_t *dims, const int64_t *istr, int64_t *cd, int64_t *cs) {
    int r = 0;
    for (int k = 0; k < rank; k++) {
        if (dims[k] == 0) return -1;
        if (dims[k] == 1) continue;
        if (r > 0 && cs[r - 1] == istr[k] * dims[k]) {
            cd[r - 1] *= dims[k];
            cs[r - 1] = istr[k];
        } else {
            cd[r] = dims[k];
            cs[r] = istr[k];
            r++;
        }
    }
    return r;
}

typedef struct rows_arg {
    size_t es;
    int orank; /* outer axes: all but the innermost */
    int64_t odims[YQ_STRIDED_MAX_RANK], ostr[YQ_STRIDED_MAX_RANK]; /* input strides of outer axes */
    int64_t inner, inner_stride; /* innermost length and its input stride (elements) */
    const uint8_t *in;
    uint8_t *out;
} rows_arg;

static void rows_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const rows_arg *a = vp;
    const int64_t es = (int64_t)a->es;
    int64_t idx[YQ_STRIDED_MAX_RANK], off = 0, rem = begin;
    for (int k = a->orank - 1; k >= 0; k--) {
        idx[k] = rem % a->odims[k];
        rem /= a->odims[k];
        off += idx[k] * a->ostr[k];
    }
    const int64_t n = a->inner, st = a->inner_stride;
    for (int64_t row = begin; row < end; row++) {
        uint8_t *dst = a->out + row * n * es;
        const uint8_t *src = a->in + off * es;
        if (st == 1) {
            memcpy(dst, src, (size_t)(n * es));
        } else {
            switch (a->es) {
#define GATHER_ROW(T)                                          \
    {                                                          \
        T *d = (T *)dst;                                       \
        const T *s = (const T *)src;                           \
        for (int64_t j = 0; j < n; j++) d[j] = s[j * st];      \
    }                                                          \
    break;
            case 1: GATHER_ROW(uint8_t)
            case 2: GATHER_ROW(uint16_t)
            case 4: GATHER_ROW(uint32_t)
            case 8: GATHER_ROW(uint64_t)
#undef GATHER_ROW
            default:
                for (int64_t j = 0; j < n; j++) memcpy(dst + j * es, src + j * st * es, (size_t)es);
            }
        }
        for (int k = a->orank - 1; k >= 0; k--) {
            off += a->ostr[k];
            if (++idx[k] < a->odims[k]) break;
            off -= a->ostr[k] * a->odims[k];
            idx[k] = 0;
        }
    }
}

typedef struct tile_arg {
    size_t es;
    int orank; /* axes other than b (input-contiguous) and the last (output-contiguous) */
    int64_t odims[YQ_STRIDED_MAX_RANK], oistr[YQ_STRIDED_MAX_RANK], oostr[YQ_STRIDED_MAX_RANK];
    int64_t db, dl;    /* extent of axis b and of the last axis */
    int64_t istr_l;    /* input stride of the last axis (that of b is 1) */
    int64_t ostr_b;    /* output stride of axis b (that of the last is 1) */
    int64_t ntiles_b;  /* tiles along b */
    const uint8_t *in;
    uint8_t *out;
} tile_arg;

static void tile_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const tile_arg *a = vp;
    const int64_t es = (int64_t)a->es;
    for (int64_t u = begin; u < end; u++) {
        int64_t outer = u / a->ntiles_b, tb = u % a->ntiles_b;
        int64_t ioff = 0, ooff = 0, rem = outer;
        for (int k = a->orank - 1; k >= 0; k--) {
            int64_t i = rem % a->odims[k];
            rem /= a->odims[k];
            ioff += i * a->oistr[k];
            ooff += i * a->oostr[k];
        }
        const uint8_t *ip = a->in + ioff * es;
        uint8_t *op = a->out + ooff * es;
        const int64_t i0 = tb * TILE, i1 = i0 + TILE < a->db ? i0 + TILE : a->db;
        const int64_t dl = a->dl, sl = a->istr_l, ob = a->ostr_b;
        switch (a->es) {
#define TILE_LOOP(T)                                                      \
    {                                                                     \
        const T *s = (const T *)ip;                                       \
        T *d = (T *)op;                                                   \
        for (int64_t j0 = 0; j0 < dl; j0 += TILE) {                       \
            int64_t j1 = j0 + TILE < dl ? j0 + TILE : dl;                 \
            for (int64_t i = i0; i < i1; i++) {                           \
                T *drow = d + i * ob;                                     \
                const T *scol = s + i;                                    \
                for (int64_t j = j0; j < j1; j++) drow[j] = scol[j * sl]; \
            }                                                             \
        }                                                                 \
    }                                                                     \
    break;
        case 1: TILE_LOOP(uint8_t)
        case 2: TILE_LOOP(uint16_t)
        case 4: TILE_LOOP(uint32_t)
        case 8: TILE_LOOP(uint64_t)
#undef TILE_LOOP
        default:
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = 0; j < dl; j++)
                    memcpy(op + (i * ob + j) * es, ip + (i + j * sl) * es, (size_t)es);
        }
    }
}

void yq_strided_copy(yq_pool *pool, size_t esize, int rank, const int64_t *dims, const void *in_base,
                     const int64_t *istrides, void *out) {
    int64_t cd[YQ_STRIDED_MAX_RANK], cs[YQ_STRIDED_MAX_RANK];
    int r = coalesce(rank, dims, istrides, cd, cs);
    if (r < 0) return; /* empty output */
    if (r == 0) {
        memcpy(out, in_base, esize);
        return;
    }
    const int64_t es = (int64_t)esize;
    if (r == 1 && cs[0] == 1) {
        yqk_parallel_memcpy(pool, out, in_base, cd[0] * es);
        return;
    }
    /* Blocked transpose when the input's contiguous axis is not the output's. */
    int b = -1;
    if (cs[r - 1] != 1 && cs[r - 1] != 0)
        for (int k = 0; k < r - 1; k++)
            if (cs[k] == 1) b = k;
    if (b >= 0) {
        tile_arg a = {.es = esize, .in = in_base, .out = out};
        int64_t ostr[YQ_STRIDED_MAX_RANK];
        yq_strides(r, cd, ostr);
        for (int k = 0; k < r - 1; k++) {
            if (k == b) continue;
            a.odims[a.orank] = cd[k];
            a.oistr[a.orank] = cs[k];
            a.oostr[a.orank] = ostr[k];
            a.orank++;
        }
        a.db = cd[b];
        a.dl = cd[r - 1];
        a.istr_l = cs[r - 1];
        a.ostr_b = ostr[b];
        a.ntiles_b = (a.db + TILE - 1) / TILE;
        int64_t outer = 1;
        for (int k = 0; k < a.orank; k++) outer *= a.odims[k];
        int64_t unit_bytes = (a.db < TILE ? a.db : TILE) * a.dl * es;
        int64_t grain = YQK_GRAIN_BYTES / unit_bytes;
        yq_parallel_for(pool, outer * a.ntiles_b, grain < 1 ? 1 : grain, tile_worker, &a);
        return;
    }
    rows_arg a = {.es = esize, .orank = r - 1, .inner = cd[r - 1], .inner_stride = cs[r - 1], .in = in_base,
                  .out = out};
    int64_t rows = 1;
    for (int k = 0; k < r - 1; k++) {
        a.odims[k] = cd[k];
        a.ostr[k] = cs[k];
        rows *= cd[k];
    }
    int64_t grain = YQK_GRAIN_BYTES / (a.inner * es);
    yq_parallel_for(pool, rows, grain < 1 ? 1 : grain, rows_worker, &a);
}

void yq_strided_copy_ref(size_t esize, int rank, const int64_t *dims, const void *in_base,
                         const int64_t *istrides, void *out) {
    int64_t n = yq_numel(rank, dims);
    const uint8_t *in = in_base;
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int k = rank - 1; k >= 0; k--) {
            off += (rem % dims[k]) * istrides[k];
            rem /= dims[k];
        }
        memcpy((uint8_t *)out + i * (int64_t)esize, in + off * (int64_t)esize, esize);
    }
}

/* ======================================================================== */
/* Shared op plumbing                                                        */
/* ======================================================================== */

#define MAX_IN 8

/* Inputs of an infer call as tensors (constant data where available), after
 * checking that input 0..nreq-1 are present with static shapes. */
static yq_status infer_begin(yq_infer_ctx *c, int nreq, yq_tensor *in, int *nin) {
    int n = c->node->ninputs;
    if (n < nreq)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects at least %d input%s, got %d", nreq, nreq == 1 ? "" : "s",
                            n);
    if (n > MAX_IN) n = MAX_IN; /* ops with more inputs (Concat) do not use this helper */
    for (int i = 0; i < n; i++)
        if (yq_in(c, i)) YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
    for (int i = 0; i < nreq; i++)
        if (!yq_in(c, i)) return yq_node_fail(c, YQ_ERR_INVALID, "input %d is missing", i);
    yqk_infer_inputs(c, in, n);
    *nin = n;
    return YQ_OK;
}

static yq_status need_const_if_present(yq_infer_ctx *c, int i) {
    return yq_in(c, i) ? yq_need_const(c, i) : YQ_OK;
}

static size_t esize_of(const yq_tensor *t) { return yq_dtype_size(t->dtype); }

static yq_status check_esize(const yq_node *n, yq_dtype dt) {
    if (yq_dtype_size(dt) == 0)
        return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(dt));
    return YQ_OK;
}

/* Output = input bytes (Reshape, Flatten, Squeeze, Unsqueeze). */
static yq_status run_copy(yq_run_ctx *c) {
    size_t nb;
    YQ_TRY(yq_dtype_bytes(c->in[0].dtype, yq_tensor_numel(&c->in[0]), &nb));
    yqk_parallel_memcpy(c->pool, c->out[0].data, c->in[0].data, (int64_t)nb);
    return YQ_OK;
}

/* ======================================================================== */
/* Reshape                                                                   */
/* ======================================================================== */

static yq_status reshape_plan(const yq_node *n, int64_t opset, const yq_tensor *x, const yq_tensor *shape, int *rank,
                              int64_t *dims) {
    int64_t want[YQ_MAX_RANK];
    int cnt;
    YQ_TRY(yqk_read_ints(n, shape, "shape", want, YQ_MAX_RANK, &cnt)); /* more entries: rank too high */
    int allowzero = opset >= 14 ? (int)yq_attr_int(n, "allowzero", 0) : 0;
    int infer_at = -1, has_zero = 0;
    int64_t known = 1;
    for (int i = 0; i < cnt; i++) {
        int64_t v = want[i];
        if (v == -1) {
            if (infer_at >= 0) return yq_node_errorf(n, YQ_ERR_INVALID, "shape has more than one -1");
            infer_at = i;
            dims[i] = 1;
            continue;
        }
        if (v < -1) return yq_node_errorf(n, YQ_ERR_INVALID, "shape[%d] = %lld is invalid", i, (long long)v);
        if (v == 0 && !allowzero) {
            if (i >= x->rank)
                return yq_node_errorf(n, YQ_ERR_INVALID, "shape[%d] = 0 copies a dimension the rank-%d input lacks", i,
                                x->rank);
            v = x->dims[i];
        } else if (v == 0) {
            has_zero = 1;
        }
        dims[i] = v;
        if (v != 0 && known > INT64_MAX / v) return yq_node_errorf(n, YQ_ERR_LIMIT, "shape product overflows");
        known *= v;
    }
    int64_t total = yq_tensor_numel(x);
    char sa[160], sb[160];
    if (infer_at >= 0) {
        if (has_zero)
            return yq_node_errorf(n, YQ_ERR_INVALID, "with allowzero=1 the shape cannot hold both 0 and -1");
        if (known == 0 || total % known != 0)
            return yq_node_errorf(n, YQ_ERR_INVALID, "cannot reshape %s into %s: the -1 dimension is not a whole number",
                            yq_dims_str(x->rank, x->dims, sa, sizeof sa), yq_dims_str(cnt, want, sb, sizeof sb));
        dims[infer_at] = total / known;
        known = total;
    }
    if (known != total)
        return yq_node_errorf(n, YQ_ERR_INVALID, "cannot reshape %s (%lld elements) into %s (%lld elements)",
                        yq_dims_str(x->rank, x->dims, sa, sizeof sa), (long long)total,
                        yq_dims_str(cnt, dims, sb, sizeof sb), (long long)known);
    *rank = cnt;
    return YQ_OK;
}

static yq_status reshape_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 2, in, &nin));
    YQ_TRY(yq_need_const(c, 1));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    int rank = 0;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(reshape_plan(c->node, c->opset, &in[0], &in[1], &rank, dims));
    yq_set_out(c, 0, in[0].dtype, rank, dims);
    return YQ_OK;
}

/* ======================================================================== */
/* Flatten                                                                   */
/* ======================================================================== */

static yq_status flatten_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    int r = in[0].rank;
    int64_t axis = yq_attr_int(c->node, "axis", 1);
    if (axis < -(int64_t)r || axis > r)
        return yq_node_fail(c, YQ_ERR_INVALID, "axis %lld is out of range for rank %d (valid: [%d, %d])",
                            (long long)axis, r, -r, r);
    if (axis < 0) axis += r;
    int64_t dims[2] = {yq_numel((int)axis, in[0].dims), yq_numel(r - (int)axis, in[0].dims + axis)};
    yq_set_out(c, 0, in[0].dtype, 2, dims);
    return YQ_OK;
}

/* ======================================================================== */
/* Squeeze / Unsqueeze                                                       */
/* ======================================================================== */

/* Axes from the attribute (opset < 13) or the constant input 1. *present is 0
 * when neither is given. */
static yq_status axes_arg(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, int64_t *axes, int *naxes,
                          int *present) {
    *present = 0;
    *naxes = 0;
    if (opset < 13) {
        const int64_t *v;
        int cnt = yq_attr_ints(n, "axes", &v);
        if (cnt < 0) return YQ_OK;
        if (cnt > 2 * YQ_MAX_RANK) return yq_node_errorf(n, YQ_ERR_INVALID, "too many axes (%d)", cnt);
        memcpy(axes, v, (size_t)cnt * sizeof *axes);
        *naxes = cnt;
        *present = 1;
        return YQ_OK;
    }
    if (!yqk_present(n, in, nin, 1)) return YQ_OK;
    YQ_TRY(yqk_read_ints(n, &in[1], "axes", axes, 2 * YQ_MAX_RANK, naxes));
    *present = 1;
    return YQ_OK;
}

static yq_status squeeze_plan(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, int *rank,
                              int64_t *dims) {
    int64_t axes[2 * YQ_MAX_RANK];
    int naxes, present;
    YQ_TRY(axes_arg(n, opset, in, nin, axes, &naxes, &present));
    const yq_tensor *x = &in[0];
    unsigned char mask[2 * YQ_MAX_RANK + 1] = {0};
    if (present && naxes > 0) {
        YQ_TRY(yqk_axes(n, axes, naxes, x->rank, NULL, mask));
        for (int d = 0; d < x->rank; d++)
            if (mask[d] && x->dims[d] != 1)
                return yq_node_errorf(n, YQ_ERR_INVALID, "cannot squeeze axis %d of size %lld (must be 1)", d,
                                (long long)x->dims[d]);
    } else {
        /* no axes (or an empty list): every unit dimension goes */
        for (int d = 0; d < x->rank; d++) mask[d] = x->dims[d] == 1;
    }
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!mask[d]) dims[r++] = x->dims[d];
    *rank = r;
    return YQ_OK;
}

static yq_status squeeze_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    if (c->opset >= 13) YQ_TRY(need_const_if_present(c, 1));
    int rank = 0;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(squeeze_plan(c->node, c->opset, in, nin, &rank, dims));
    yq_set_out(c, 0, in[0].dtype, rank, dims);
    return YQ_OK;
}

static yq_status unsqueeze_plan(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, int *rank,
                                int64_t *dims) {
    int64_t axes[2 * YQ_MAX_RANK];
    int naxes, present;
    YQ_TRY(axes_arg(n, opset, in, nin, axes, &naxes, &present));
    if (!present)
        return yq_node_errorf(n, YQ_ERR_INVALID, opset < 13 ? "the axes attribute is required" : "the axes input is required");
    const yq_tensor *x = &in[0];
    int r = x->rank + naxes;
    YQ_TRY(yqk_check_rank(n, r));
    unsigned char mask[2 * YQ_MAX_RANK + 1] = {0};
    YQ_TRY(yqk_axes(n, axes, naxes, r, NULL, mask));
    for (int d = 0, s = 0; d < r; d++) dims[d] = mask[d] ? 1 : x->dims[s++];
    *rank = r;
    return YQ_OK;
}

static yq_status unsqueeze_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    if (c->opset >= 13) YQ_TRY(need_const_if_present(c, 1));
    int rank = 0;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(unsqueeze_plan(c->node, c->opset, in, nin, &rank, dims));
    yq_set_out(c, 0, in[0].dtype, rank, dims);
    return YQ_OK;
}

/* ======================================================================== */
/* Transpose                                                                 */
/* ======================================================================== */

static yq_status transpose_perm(const yq_node *n, int rank, int *perm) {
    const int64_t *p;
    int cnt = yq_attr_ints(n, "perm", &p);
    if (cnt < 0) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return YQ_OK;
    }
    if (cnt != rank)
        return yq_node_errorf(n, YQ_ERR_INVALID, "perm has %d entries for a rank-%d input", cnt, rank);
    unsigned char seen[YQ_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) {
        if (p[i] < 0 || p[i] >= rank || seen[p[i]])
            return yq_node_errorf(n, YQ_ERR_INVALID, "perm is not a permutation of 0..%d (entry %d is %lld)", rank - 1, i,
                            (long long)p[i]);
        seen[p[i]] = 1;
        perm[i] = (int)p[i];
    }
    return YQ_OK;
}

static yq_status transpose_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    int perm[YQ_MAX_RANK];
    YQ_TRY(transpose_perm(c->node, in[0].rank, perm));
    int64_t dims[YQ_MAX_RANK];
    for (int i = 0; i < in[0].rank; i++) dims[i] = in[0].dims[perm[i]];
    yq_set_out(c, 0, in[0].dtype, in[0].rank, dims);
    return YQ_OK;
}

static yq_status transpose_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int perm[YQ_MAX_RANK];
    YQ_TRY(transpose_perm(c->node, x->rank, perm));
    int64_t istr[YQ_MAX_RANK], dims[YQ_MAX_RANK], s[YQ_MAX_RANK];
    yq_strides(x->rank, x->dims, istr);
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[perm[i]];
        s[i] = istr[perm[i]];
    }
    yq_strided_copy(c->pool, esize_of(x), x->rank, dims, x->data, s, c->out[0].data);
    return YQ_OK;
}

/* ======================================================================== */
/* Concat                                                                    */
/* ======================================================================== */

static yq_status concat_infer(yq_infer_ctx *c) {
    const yq_node *n = c->node;
    if (n->ninputs < 1) return yq_node_fail(c, YQ_ERR_INVALID, "expects at least one input");
    if (!yq_node_attr(n, "axis")) return yq_node_fail(c, YQ_ERR_INVALID, "the axis attribute is required");
    for (int i = 0; i < n->ninputs; i++) YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
    const yq_value *v0 = yq_in(c, 0);
    YQ_TRY(check_esize(n, v0->dtype));
    int r = v0->rank;
    if (r < 1) return yq_node_fail(c, YQ_ERR_INVALID, "inputs must have rank >= 1");
    int axis;
    YQ_TRY(yqk_axis(n, yq_attr_int(n, "axis", 0), r, "axis", &axis));
    int64_t dims[YQ_MAX_RANK];
    memcpy(dims, v0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < n->ninputs; i++) {
        const yq_value *v = yq_in(c, i);
        char sa[160], sb[160];
        if (v->dtype != v0->dtype)
            return yq_node_fail(c, YQ_ERR_INVALID, "input %d is %s but input 0 is %s", i, yq_dtype_name(v->dtype),
                                yq_dtype_name(v0->dtype));
        if (v->rank != r)
            return yq_node_fail(c, YQ_ERR_INVALID, "input %d has rank %d but input 0 has rank %d", i, v->rank, r);
        for (int d = 0; d < r; d++)
            if (d != axis && v->dims[d] != v0->dims[d])
                return yq_node_fail(c, YQ_ERR_INVALID, "input %d %s does not match input 0 %s outside axis %d", i,
                                    yq_dims_str(r, v->dims, sa, sizeof sa), yq_dims_str(r, v0->dims, sb, sizeof sb),
                                    axis);
        dims[axis] += v->dims[axis];
    }
    YQ_TRY(yqk_check_size(n, v0->dtype, r, dims));
    yq_set_out(c, 0, v0->dtype, r, dims);
    return YQ_OK;
}

static yq_status concat_run(yq_run_ctx *c) {
    const yq_tensor *o = &c->out[0];
    int axis;
    YQ_TRY(yqk_axis(c->node, yq_attr_int(c->node, "axis", 0), o->rank, "axis", &axis));
    const int64_t es = (int64_t)yq_dtype_size(o->dtype);
    const int64_t outer = yq_numel(axis, o->dims);
    const int64_t inner = yq_numel(o->rank - axis - 1, o->dims + axis + 1) * es;
    const int64_t out_row = o->dims[axis] * inner;
    yqk_copy_job jobs[64];
    int nj = 0;
    int64_t off = 0;
    for (int i = 0; i < c->nin; i++) {
        int64_t rb = c->in[i].dims[axis] * inner;
        jobs[nj++] = (yqk_copy_job){.dst = (uint8_t *)o->data + off, .src = c->in[i].data, .rows = outer,
                                    .row_bytes = rb, .dst_stride = out_row, .src_stride = rb};
        off += rb;
        if (nj == 64) {
            yqk_copy_jobs(c->pool, jobs, nj);
            nj = 0;
        }
    }
    yqk_copy_jobs(c->pool, jobs, nj);
    return YQ_OK;
}

/* ======================================================================== */
/* Split                                                                     */
/* ======================================================================== */

#define MAX_SPLIT 1024

typedef struct split_plan {
    int axis, nout;
    int64_t sizes[MAX_SPLIT];
} split_plan;

static yq_status split_plan_make(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, split_plan *p) {
    const yq_tensor *x = &in[0];
    p->nout = n->noutputs;
    if (p->nout < 1) return yq_node_errorf(n, YQ_ERR_INVALID, "expects at least one output");
    if (p->nout > MAX_SPLIT) return yq_node_errorf(n, YQ_ERR_LIMIT, "more than %d outputs", MAX_SPLIT);
    if (x->rank < 1) return yq_node_errorf(n, YQ_ERR_INVALID, "input must have rank >= 1");
    YQ_TRY(yqk_axis(n, yq_attr_int(n, "axis", 0), x->rank, "axis", &p->axis));
    const int64_t dim = x->dims[p->axis];
    int have_split = 0, cnt = 0;
    if (opset < 13) {
        const int64_t *v;
        cnt = yq_attr_ints(n, "split", &v);
        if (cnt >= 0) {
            if (cnt > MAX_SPLIT) return yq_node_errorf(n, YQ_ERR_LIMIT, "split has more than %d entries", MAX_SPLIT);
            memcpy(p->sizes, v, (size_t)cnt * sizeof *v);
            have_split = 1;
        }
    } else if (yqk_present(n, in, nin, 1)) {
        YQ_TRY(yqk_read_ints(n, &in[1], "split", p->sizes, MAX_SPLIT, &cnt));
        have_split = 1;
    }
    const yq_attr *num = opset >= 18 ? yq_node_attr(n, "num_outputs") : NULL;
    if (have_split && num) return yq_node_errorf(n, YQ_ERR_INVALID, "split and num_outputs cannot both be given");
    if (have_split) {
        if (cnt != p->nout)
            return yq_node_errorf(n, YQ_ERR_INVALID, "split has %d entries for %d outputs", cnt, p->nout);
        int64_t sum = 0;
        for (int i = 0; i < cnt; i++) {
            if (p->sizes[i] < 0)
                return yq_node_errorf(n, YQ_ERR_INVALID, "split[%d] = %lld is negative", i, (long long)p->sizes[i]);
            sum += p->sizes[i];
        }
        if (sum != dim)
            return yq_node_errorf(n, YQ_ERR_INVALID, "split sizes add up to %lld but axis %d has %lld", (long long)sum,
                            p->axis, (long long)dim);
        return YQ_OK;
    }
    if (num) {
        /* opset 18: chunks of ceil(dim / num_outputs), the last one smaller */
        if (num->i != p->nout)
            return yq_node_errorf(n, YQ_ERR_INVALID, "num_outputs is %lld but the node has %d outputs", (long long)num->i,
                            p->nout);
        int64_t chunk = (dim + p->nout - 1) / p->nout;
        int64_t last = dim - chunk * (p->nout - 1);
        if (last < 0)
            return yq_node_errorf(n, YQ_ERR_INVALID, "axis %d of size %lld cannot be split into %d chunks of %lld",
                            p->axis, (long long)dim, p->nout, (long long)chunk);
        for (int i = 0; i < p->nout; i++) p->sizes[i] = i == p->nout - 1 ? last : chunk;
        return YQ_OK;
    }
    if (dim % p->nout != 0)
        return yq_node_errorf(n, YQ_ERR_INVALID, "axis %d of size %lld does not split evenly into %d outputs", p->axis,
                        (long long)dim, p->nout);
    for (int i = 0; i < p->nout; i++) p->sizes[i] = dim / p->nout;
    return YQ_OK;
}

static yq_status split_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    if (c->opset >= 13) YQ_TRY(need_const_if_present(c, 1));
    split_plan *p = yq_malloc(sizeof *p);
    if (!p) return YQ_ERR_NOMEM;
    yq_status st = split_plan_make(c->node, c->opset, in, nin, p);
    if (st == YQ_OK) {
        int64_t dims[YQ_MAX_RANK];
        memcpy(dims, in[0].dims, sizeof dims);
        for (int i = 0; i < p->nout; i++) {
            dims[p->axis] = p->sizes[i];
            yq_set_out(c, i, in[0].dtype, in[0].rank, dims);
        }
    }
    free(p);
    return st;
}

static yq_status split_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int axis;
    YQ_TRY(yqk_axis(c->node, yq_attr_int(c->node, "axis", 0), x->rank, "axis", &axis));
    const int64_t es = (int64_t)esize_of(x);
    const int64_t outer = yq_numel(axis, x->dims);
    const int64_t inner = yq_numel(x->rank - axis - 1, x->dims + axis + 1) * es;
    const int64_t in_row = x->dims[axis] * inner;
    yqk_copy_job jobs[64];
    int nj = 0;
    int64_t off = 0;
    for (int i = 0; i < c->nout; i++) {
        /* sizes come from the planned outputs: infer set them */
        int64_t rb = c->out[i].dims[axis] * inner;
        if (c->out[i].data)
            jobs[nj++] = (yqk_copy_job){.dst = c->out[i].data, .src = (const uint8_t *)x->data + off, .rows = outer,
                                        .row_bytes = rb, .dst_stride = rb, .src_stride = in_row};
        off += rb;
        if (nj == 64) {
            yqk_copy_jobs(c->pool, jobs, nj);
            nj = 0;
        }
    }
    yqk_copy_jobs(c->pool, jobs, nj);
    return YQ_OK;
}

/* ======================================================================== */
/* Slice                                                                     */
/* ======================================================================== */

typedef struct slice_plan {
    int rank;
    int64_t start[YQ_MAX_RANK], step[YQ_MAX_RANK], len[YQ_MAX_RANK];
} slice_plan;

static yq_status slice_plan_make(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, slice_plan *p) {
    const yq_tensor *x = &in[0];
    const int r = x->rank;
    int64_t starts[2 * YQ_MAX_RANK], ends[2 * YQ_MAX_RANK], axes[2 * YQ_MAX_RANK], steps[2 * YQ_MAX_RANK];
    int ns, ne, na = -1, nst = -1;
    if (opset < 10) {
        const int64_t *v;
        ns = yq_attr_ints(n, "starts", &v);
        if (ns < 0 || ns > 2 * YQ_MAX_RANK) return yq_node_errorf(n, YQ_ERR_INVALID, "the starts attribute is missing or too long");
        memcpy(starts, v, (size_t)ns * sizeof *v);
        ne = yq_attr_ints(n, "ends", &v);
        if (ne < 0 || ne > 2 * YQ_MAX_RANK) return yq_node_errorf(n, YQ_ERR_INVALID, "the ends attribute is missing or too long");
        memcpy(ends, v, (size_t)ne * sizeof *v);
        na = yq_attr_ints(n, "axes", &v);
        if (na > 2 * YQ_MAX_RANK) return yq_node_errorf(n, YQ_ERR_INVALID, "the axes attribute is too long");
        if (na > 0) memcpy(axes, v, (size_t)na * sizeof *v);
    } else {
        if (!yqk_present(n, in, nin, 1) || !yqk_present(n, in, nin, 2))
            return yq_node_errorf(n, YQ_ERR_INVALID, "inputs starts and ends are required");
        YQ_TRY(yqk_read_ints(n, &in[1], "starts", starts, 2 * YQ_MAX_RANK, &ns));
        YQ_TRY(yqk_read_ints(n, &in[2], "ends", ends, 2 * YQ_MAX_RANK, &ne));
        if (yqk_present(n, in, nin, 3)) YQ_TRY(yqk_read_ints(n, &in[3], "axes", axes, 2 * YQ_MAX_RANK, &na));
        if (yqk_present(n, in, nin, 4)) YQ_TRY(yqk_read_ints(n, &in[4], "steps", steps, 2 * YQ_MAX_RANK, &nst));
    }
    if (ne != ns) return yq_node_errorf(n, YQ_ERR_INVALID, "starts has %d entries but ends has %d", ns, ne);
    if (na >= 0 && na != ns) return yq_node_errorf(n, YQ_ERR_INVALID, "starts has %d entries but axes has %d", ns, na);
    if (nst >= 0 && nst != ns) return yq_node_errorf(n, YQ_ERR_INVALID, "starts has %d entries but steps has %d", ns, nst);
    if (na < 0) {
        if (ns > r) return yq_node_errorf(n, YQ_ERR_INVALID, "%d starts for a rank-%d input", ns, r);
        for (int i = 0; i < ns; i++) axes[i] = i;
    }
    int norm[2 * YQ_MAX_RANK];
    YQ_TRY(yqk_axes(n, axes, ns, r, norm, NULL));
    p->rank = r;
    for (int d = 0; d < r; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->len[d] = x->dims[d];
    }
    for (int i = 0; i < ns; i++) {
        const int d = norm[i];
        const int64_t dim = x->dims[d];
        const int64_t step = nst >= 0 ? steps[i] : 1;
        if (step == 0) return yq_node_errorf(n, YQ_ERR_INVALID, "steps[%d] is 0", i);
        int64_t s = starts[i], e = ends[i];
        /* numpy rules: negative counts from the end, then clamp; a negative
         * step walks backwards and may end just before index 0 (-1). */
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t len;
        if (step > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            /* -INT64_MIN overflows; any step beyond -dim takes one element */
            const int64_t back = step < -INT64_MAX ? INT64_MAX : -step;
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            len = s > e ? (s - e - 1) / back + 1 : 0;
        }
        if (dim == 0 || len == 0) {
            s = 0;
            len = 0;
        }
        p->start[d] = s;
        p->step[d] = step;
        p->len[d] = len;
    }
    return YQ_OK;
}

static yq_status slice_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    if (c->opset >= 10)
        for (int i = 1; i < nin && i <= 4; i++) YQ_TRY(need_const_if_present(c, i));
    slice_plan p;
    YQ_TRY(slice_plan_make(c->node, c->opset, in, nin, &p));
    yq_set_out(c, 0, in[0].dtype, p.rank, p.len);
    return YQ_OK;
}

static yq_status slice_run(yq_run_ctx *c) {
    slice_plan p;
    YQ_TRY(slice_plan_make(c->node, c->opset, c->in, c->nin, &p));
    const yq_tensor *x = &c->in[0];
    if (yq_numel(p.rank, p.len) == 0) return YQ_OK;
    int64_t istr[YQ_MAX_RANK], s[YQ_MAX_RANK], base = 0;
    yq_strides(x->rank, x->dims, istr);
    for (int d = 0; d < p.rank; d++) {
        base += p.start[d] * istr[d];
        s[d] = p.len[d] > 1 ? p.step[d] * istr[d] : 0; /* a huge step only matters when it is taken */
    }
    const size_t es = esize_of(x);
    yq_strided_copy(c->pool, es, p.rank, p.len, (const uint8_t *)x->data + base * (int64_t)es, s, c->out[0].data);
    return YQ_OK;
}

/* ======================================================================== */
/* Tile                                                                      */
/* ======================================================================== */

static yq_status tile_plan(const yq_node *n, const yq_tensor *in, int64_t *reps, int64_t *dims) {
    const yq_tensor *x = &in[0];
    int cnt;
    YQ_TRY(yqk_read_ints(n, &in[1], "repeats", reps, YQ_MAX_RANK, &cnt));
    if (in[1].dtype != YQ_DT_INT64) return yq_node_errorf(n, YQ_ERR_INVALID, "repeats must be int64");
    if (cnt != x->rank)
        return yq_node_errorf(n, YQ_ERR_INVALID, "repeats has %d entries for a rank-%d input", cnt, x->rank);
    for (int d = 0; d < x->rank; d++) {
        if (reps[d] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "repeats[%d] = %lld is negative", d, (long long)reps[d]);
        if (reps[d] != 0 && x->dims[d] > INT64_MAX / reps[d]) return yq_node_errorf(n, YQ_ERR_LIMIT, "output too large");
        dims[d] = x->dims[d] * reps[d];
    }
    return yqk_check_size(n, x->dtype, x->rank, dims);
}

static yq_status tile_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 2, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    YQ_TRY(yq_need_const(c, 1));
    int64_t reps[YQ_MAX_RANK], dims[YQ_MAX_RANK];
    YQ_TRY(tile_plan(c->node, in, reps, dims));
    yq_set_out(c, 0, in[0].dtype, in[0].rank, dims);
    return YQ_OK;
}

static yq_status tile_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int64_t reps[YQ_MAX_RANK], dims[YQ_MAX_RANK];
    YQ_TRY(tile_plan(c->node, c->in, reps, dims));
    /* The tiled output [r0*d0, r1*d1, ...] is the view [r0, d0, r1, d1, ...]
     * whose repeat axes have input stride 0. */
    int64_t istr[YQ_MAX_RANK], vd[2 * YQ_MAX_RANK], vs[2 * YQ_MAX_RANK];
    yq_strides(x->rank, x->dims, istr);
    for (int d = 0; d < x->rank; d++) {
        vd[2 * d] = reps[d];
        vs[2 * d] = 0;
        vd[2 * d + 1] = x->dims[d];
        vs[2 * d + 1] = istr[d];
    }
    yq_strided_copy(c->pool, esize_of(x), 2 * x->rank, vd, x->data, vs, c->out[0].data);
    return YQ_OK;
}

/* ======================================================================== */
/* Expand                                                                    */
/* ======================================================================== */

static yq_status expand_plan(const yq_node *n, const yq_tensor *in, int *rank, int64_t *dims) {
    const yq_tensor *x = &in[0];
    int64_t want[YQ_MAX_RANK];
    int cnt;
    YQ_TRY(yqk_read_ints(n, &in[1], "shape", want, YQ_MAX_RANK, &cnt));
    for (int i = 0; i < cnt; i++)
        if (want[i] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "shape[%d] = %lld is negative", i, (long long)want[i]);
    if (yq_broadcast_shape(x->rank, x->dims, cnt, want, rank, dims) != YQ_OK)
        return yq_fail_prefix(YQ_ERR_INVALID, "node '%s' (%s)", n->name, n->op_type);
    return yqk_check_size(n, x->dtype, *rank, dims);
}

static yq_status expand_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 2, in, &nin));
    YQ_TRY(check_esize(c->node, in[0].dtype));
    YQ_TRY(yq_need_const(c, 1));
    int rank = 0;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(expand_plan(c->node, in, &rank, dims));
    yq_set_out(c, 0, in[0].dtype, rank, dims);
    return YQ_OK;
}

static yq_status expand_run(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0], *o = &c->out[0];
    int64_t istr[YQ_MAX_RANK], s[YQ_MAX_RANK];
    yq_strides(x->rank, x->dims, istr);
    const int lead = o->rank - x->rank;
    for (int d = 0; d < o->rank; d++) {
        int k = d - lead;
        s[d] = (k < 0 || x->dims[k] == 1) ? 0 : istr[k];
    }
    yq_strided_copy(c->pool, esize_of(x), o->rank, o->dims, x->data, s, o->data);
    return YQ_OK;
}

/* ======================================================================== */
/* Shape                                                                     */
/* ======================================================================== */

static void shape_range(const yq_node *n, int64_t opset, int r, int64_t *b, int64_t *e) {
    int64_t s = 0, t = r;
    if (opset >= 15) {
        s = yq_attr_int(n, "start", 0);
        t = yq_attr_int(n, "end", r);
    }
    if (s < 0) s += r;
    if (t < 0) t += r;
    s = s < 0 ? 0 : (s > r ? r : s);
    t = t < 0 ? 0 : (t > r ? r : t);
    *b = s;
    *e = t > s ? t : s;
}

/* Sets the output value's data: "node output, not a file initializer". */
static yq_status set_out_data(yq_infer_ctx *c, int i, const void *data, size_t nbytes) {
    yq_value *v = yq_out(c, i);
    if (!v) return YQ_OK;
    void *copy = yq_malloc(nbytes ? nbytes : 1);
    if (!copy) return YQ_ERR_NOMEM;
    if (nbytes) memcpy(copy, data, nbytes);
    int64_t dims[YQ_MAX_RANK];
    memcpy(dims, v->dims, sizeof dims);
    yq_value_set_data(v, v->dtype, v->rank, dims, copy, nbytes);
    v->flags &= ~(unsigned)YQ_VAL_INIT;
    return YQ_OK;
}

static yq_status shape_infer(yq_infer_ctx *c) {
    if (c->node->ninputs < 1 || !yq_in(c, 0)) return yq_node_fail(c, YQ_ERR_INVALID, "input 0 is missing");
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0);
    int64_t b, e;
    shape_range(c->node, c->opset, x->rank, &b, &e);
    int64_t len = e - b;
    int64_t vals[YQ_MAX_RANK];
    for (int64_t i = 0; i < len; i++) vals[i] = x->dims[b + i];
    yq_set_out(c, 0, YQ_DT_INT64, 1, &len);
    return set_out_data(c, 0, vals, (size_t)len * sizeof(int64_t));
}

static yq_status shape_run(yq_run_ctx *c) {
    int64_t b, e;
    shape_range(c->node, c->opset, c->in[0].rank, &b, &e);
    int64_t *o = c->out[0].data;
    for (int64_t i = b; i < e; i++) o[i - b] = c->in[0].dims[i];
    return YQ_OK;
}

/* ======================================================================== */
/* Constant                                                                  */
/* ======================================================================== */

/* The constant's contents as a tensor view; *owned is set when it had to be
 * built (free it). */
static yq_status constant_value(const yq_node *n, yq_tensor *t, void **owned) {
    static const char *const kinds[] = {"value", "value_float", "value_floats", "value_int", "value_ints",
                                        "value_string", "value_strings", "sparse_value"};
    const yq_attr *a = NULL;
    int which = -1;
    for (int k = 0; k < 8; k++) {
        const yq_attr *x = yq_node_attr(n, kinds[k]);
        if (!x) continue;
        if (a) return yq_node_errorf(n, YQ_ERR_INVALID, "has both %s and %s", kinds[which], kinds[k]);
        a = x;
        which = k;
    }
    *owned = NULL;
    memset(t, 0, sizeof *t);
    if (!a) return yq_node_errorf(n, YQ_ERR_INVALID, "has no value attribute");
    switch (which) {
    case 0:
        if (a->type != YQ_ATTR_TENSOR || !a->t)
            return yq_node_errorf(n, YQ_ERR_INVALID, "attribute value is not a tensor");
        if (yq_dtype_size(a->t->dtype) == 0)
            return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "constant of type %s is not supported", yq_dtype_name(a->t->dtype));
        *t = *a->t;
        return YQ_OK;
    case 1:
    case 3: {
        if (a->type != (which == 1 ? YQ_ATTR_FLOAT : YQ_ATTR_INT))
            return yq_node_errorf(n, YQ_ERR_INVALID, "attribute %s has the wrong type", kinds[which]);
        void *d = yq_malloc(8);
        if (!d) return YQ_ERR_NOMEM;
        if (which == 1) {
            t->dtype = YQ_DT_FLOAT;
            memcpy(d, &a->f, sizeof a->f);
        } else {
            t->dtype = YQ_DT_INT64;
            memcpy(d, &a->i, sizeof a->i);
        }
        t->rank = 0;
        t->data = *owned = d;
        return YQ_OK;
    }
    case 2:
    case 4: {
        if (a->type != (which == 2 ? YQ_ATTR_FLOATS : YQ_ATTR_INTS))
            return yq_node_errorf(n, YQ_ERR_INVALID, "attribute %s has the wrong type", kinds[which]);
        size_t es = which == 2 ? sizeof(float) : sizeof(int64_t);
        void *d = yq_malloc(a->n ? (size_t)a->n * es : 1);
        if (!d) return YQ_ERR_NOMEM;
        if (a->n) memcpy(d, which == 2 ? (const void *)a->floats : (const void *)a->ints, (size_t)a->n * es);
        t->dtype = which == 2 ? YQ_DT_FLOAT : YQ_DT_INT64;
        t->rank = 1;
        t->dims[0] = a->n;
        t->data = *owned = d;
        return YQ_OK;
    }
    default:
        return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "%s constants are not supported", kinds[which]);
    }
}

static yq_status constant_infer(yq_infer_ctx *c) {
    yq_tensor t;
    void *owned;
    YQ_TRY(constant_value(c->node, &t, &owned));
    size_t nb;
    yq_status st = yq_dtype_bytes(t.dtype, yq_tensor_numel(&t), &nb);
    if (st == YQ_OK) {
        yq_set_out(c, 0, t.dtype, t.rank, t.dims);
        st = set_out_data(c, 0, t.data, nb);
    }
    free(owned);
    return st;
}

static yq_status constant_run(yq_run_ctx *c) {
    yq_tensor t;
    void *owned;
    YQ_TRY(constant_value(c->node, &t, &owned));
    size_t nb;
    yq_status st = yq_dtype_bytes(t.dtype, yq_tensor_numel(&t), &nb);
    if (st == YQ_OK && nb) memcpy(c->out[0].data, t.data, nb);
    free(owned);
    return st;
}

/* ======================================================================== */
/* ConstantOfShape                                                           */
/* ======================================================================== */

/* ConstantOfShape outputs up to this size become constant data at infer time
 * (shape arithmetic); bigger ones are filled at run time. */
#define COS_FOLD_BYTES ((size_t)1 << 20)

static yq_status cos_value(const yq_node *n, yq_dtype *dt, uint8_t *bytes) {
    const yq_attr *a = yq_node_attr(n, "value");
    memset(bytes, 0, 8);
    *dt = YQ_DT_FLOAT;
    if (!a) return YQ_OK;
    if (a->type != YQ_ATTR_TENSOR || !a->t) return yq_node_errorf(n, YQ_ERR_INVALID, "attribute value is not a tensor");
    if (yq_tensor_numel(a->t) != 1)
        return yq_node_errorf(n, YQ_ERR_INVALID, "attribute value must hold one element, not %lld",
                        (long long)yq_tensor_numel(a->t));
    size_t es = yq_dtype_size(a->t->dtype);
    if (es == 0 || es > 8)
        return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "value of type %s is not supported", yq_dtype_name(a->t->dtype));
    *dt = a->t->dtype;
    memcpy(bytes, a->t->data, es);
    return YQ_OK;
}

static void fill_pattern(void *dst, int64_t count, const uint8_t *elem, size_t es) {
    uint8_t *d = dst;
    int zero = 1;
    for (size_t i = 0; i < es; i++) zero &= elem[i] == 0;
    if (zero) {
        memset(d, 0, (size_t)count * es);
        return;
    }
    if (count <= 0) return;
    memcpy(d, elem, es);
    /* doubling copies: log2(count) memcpy calls */
    int64_t have = 1;
    while (have < count) {
        int64_t take = have < count - have ? have : count - have;
        memcpy(d + have * (int64_t)es, d, (size_t)take * es);
        have += take;
    }
}

static yq_status cos_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 1, in, &nin));
    YQ_TRY(yq_need_const(c, 0));
    const yq_node *n = c->node;
    if (in[0].dtype != YQ_DT_INT64) return yq_node_fail(c, YQ_ERR_INVALID, "the shape input must be int64");
    int64_t dims[YQ_MAX_RANK];
    int cnt;
    YQ_TRY(yqk_read_ints(n, &in[0], "shape", dims, YQ_MAX_RANK, &cnt));
    yq_dtype dt;
    uint8_t elem[8];
    YQ_TRY(cos_value(n, &dt, elem));
    YQ_TRY(yqk_check_size(n, dt, cnt, dims));
    yq_set_out(c, 0, dt, cnt, dims);
    size_t nb;
    YQ_TRY(yq_dtype_bytes(dt, yq_numel(cnt, dims), &nb));
    if (nb > COS_FOLD_BYTES || !yq_out(c, 0)) return YQ_OK;
    void *buf = yq_malloc(nb ? nb : 1);
    if (!buf) return YQ_ERR_NOMEM;
    fill_pattern(buf, yq_numel(cnt, dims), elem, yq_dtype_size(dt));
    yq_status st = set_out_data(c, 0, buf, nb);
    free(buf);
    return st;
}

static yq_status cos_run(yq_run_ctx *c) {
    yq_dtype dt;
    uint8_t elem[8];
    YQ_TRY(cos_value(c->node, &dt, elem));
    fill_pattern(c->out[0].data, yq_tensor_numel(&c->out[0]), elem, yq_dtype_size(dt));
    return YQ_OK;
}

/* ======================================================================== */
/* Range                                                                     */
/* ======================================================================== */

static yq_status range_count(const yq_node *n, const yq_tensor *in, int64_t *count) {
    yq_dtype dt = in[0].dtype;
    for (int i = 0; i < 3; i++) {
        if (in[i].dtype != dt)
            return yq_node_errorf(n, YQ_ERR_INVALID, "inputs must share one type (input %d is %s, input 0 is %s)", i,
                            yq_dtype_name(in[i].dtype), yq_dtype_name(dt));
        if (yq_tensor_numel(&in[i]) != 1)
            return yq_node_errorf(n, YQ_ERR_INVALID, "input %d must be a scalar", i);
    }
    if (dt == YQ_DT_FLOAT || dt == YQ_DT_DOUBLE) {
        double s = yq_elem_as_double(dt, in[0].data, 0), l = yq_elem_as_double(dt, in[1].data, 0),
               d = yq_elem_as_double(dt, in[2].data, 0);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return yq_node_errorf(n, YQ_ERR_INVALID, "start, limit and delta must be finite and delta non-zero");
        double cnt = ceil((l - s) / d);
        if (cnt > (double)((int64_t)1 << 40)) return yq_node_errorf(n, YQ_ERR_LIMIT, "output too large");
        *count = cnt > 0 ? (int64_t)cnt : 0;
        return YQ_OK;
    }
    if (dt == YQ_DT_INT16 || dt == YQ_DT_INT32 || dt == YQ_DT_INT64) {
        int64_t s = yq_elem_as_int64(dt, in[0].data, 0), l = yq_elem_as_int64(dt, in[1].data, 0),
                d = yq_elem_as_int64(dt, in[2].data, 0);
        if (d == 0) return yq_node_errorf(n, YQ_ERR_INVALID, "delta is 0");
        uint64_t diff, step;
        if (d > 0 && l > s) {
            diff = (uint64_t)l - (uint64_t)s;
            step = (uint64_t)d;
        } else if (d < 0 && l < s) {
            diff = (uint64_t)s - (uint64_t)l;
            step = (uint64_t)0 - (uint64_t)d;
        } else {
            *count = 0;
            return YQ_OK;
        }
        uint64_t cnt = diff / step + (diff % step != 0);
        if (cnt > ((uint64_t)1 << 40)) return yq_node_errorf(n, YQ_ERR_LIMIT, "output too large");
        *count = (int64_t)cnt;
        return YQ_OK;
    }
    return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "type %s is not supported (float, double, int16, int32, int64 are)",
                    yq_dtype_name(dt));
}

static yq_status range_infer(yq_infer_ctx *c) {
    yq_tensor in[MAX_IN];
    int nin;
    YQ_TRY(infer_begin(c, 3, in, &nin));
    for (int i = 0; i < 3; i++) YQ_TRY(yq_need_const(c, i));
    int64_t cnt;
    YQ_TRY(range_count(c->node, in, &cnt));
    YQ_TRY(yqk_check_size(c->node, in[0].dtype, 1, &cnt));
    yq_set_out(c, 0, in[0].dtype, 1, &cnt);
    return YQ_OK;
}

static yq_status range_run(yq_run_ctx *c) {
    int64_t cnt;
    YQ_TRY(range_count(c->node, c->in, &cnt));
    const yq_dtype dt = c->in[0].dtype;
    void *o = c->out[0].data;
    if (dt == YQ_DT_FLOAT || dt == YQ_DT_DOUBLE) {
        double s = yq_elem_as_double(dt, c->in[0].data, 0), d = yq_elem_as_double(dt, c->in[2].data, 0);
        for (int64_t i = 0; i < cnt; i++) {
            double v = s + (double)i * d;
            if (dt == YQ_DT_FLOAT)
                ((float *)o)[i] = (float)v;
            else
                ((double *)o)[i] = v;
        }
        return YQ_OK;
    }
    int64_t s = yq_elem_as_int64(dt, c->in[0].data, 0), d = yq_elem_as_int64(dt, c->in[2].data, 0);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = s + i * d; /* stays between start and limit: no overflow */
        if (dt == YQ_DT_INT16)
            ((int16_t *)o)[i] = (int16_t)v;
        else if (dt == YQ_DT_INT32)
            ((int32_t *)o)[i] = (int32_t)v;
        else
            ((int64_t *)o)[i] = v;
    }
    return YQ_OK;
}

/* ======================================================================== */

void yq_register_shape_ops(yq_op_vtable *t) {
    t[YQ_OP_Reshape] = (yq_op_vtable){.infer = reshape_infer, .run = run_copy};
    t[YQ_OP_Flatten] = (yq_op_vtable){.infer = flatten_infer, .run = run_copy};
    t[YQ_OP_Squeeze] = (yq_op_vtable){.infer = squeeze_infer, .run = run_copy};
    t[YQ_OP_Unsqueeze] = (yq_op_vtable){.infer = unsqueeze_infer, .run = run_copy};
    t[YQ_OP_Transpose] = (yq_op_vtable){.infer = transpose_infer, .run = transpose_run};
    t[YQ_OP_Concat] = (yq_op_vtable){.infer = concat_infer, .run = concat_run};
    t[YQ_OP_Split] = (yq_op_vtable){.infer = split_infer, .run = split_run};
    t[YQ_OP_Slice] = (yq_op_vtable){.infer = slice_infer, .run = slice_run};
    t[YQ_OP_Tile] = (yq_op_vtable){.infer = tile_infer, .run = tile_run};
    t[YQ_OP_Expand] = (yq_op_vtable){.infer = expand_infer, .run = expand_run};
    t[YQ_OP_Shape] = (yq_op_vtable){.infer = shape_infer, .run = shape_run};
    t[YQ_OP_Constant] = (yq_op_vtable){.infer = constant_infer, .run = constant_run};
    t[YQ_OP_ConstantOfShape] = (yq_op_vtable){.infer = cos_infer, .run = cos_run};
    t[YQ_OP_Range] = (yq_op_vtable){.infer = range_infer, .run = range_run};
}
