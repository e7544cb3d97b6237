/* resize family kernels: see rt/ops.h for the op table contract.
 *
 * Resize (opsets 10-19): scales or sizes (constant inputs), modes nearest and
 * linear, coordinate transformation modes half_pixel, half_pixel_symmetric,
 * pytorch_half_pixel, align_corners, asymmetric and tf_half_pixel_for_nn.
 * Rejected cleanly: cubic, tf_crop_and_resize, antialiased linear
 * downsampling. The coordinate arithmetic follows the ONNX reference
 * implementation (double precision, the float scale widened), which is what
 * the ONNX backend tests were generated with.
 *
 * prepare() turns the attributes into one table per axis (input index for
 * nearest, two indices and a weight for linear); run() only applies them. */
#include "rt/kernels/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/kutil.h"
#include "rt/ops.h"

/* ======================================================================== */
/* Kernels                                                                   */
/* ======================================================================== */

typedef struct nearest_arg {
    size_t es;
    int rank;
    int64_t in_str[YQ_MAX_RANK], out_dims[YQ_MAX_RANK];
    const int64_t *const *tab;
    int inner_kind; /* 0 generic, 1 identity, 2 exact x2 */
    const uint8_t *in;
    uint8_t *out;
} nearest_arg;

static void nearest_row(const nearest_arg *a, const uint8_t *src, uint8_t *dst) {
    const int64_t n = a->out_dims[a->rank - 1];
    const int64_t *t = a->tab[a->rank - 1];
    if (a->inner_kind == 1) {
        memcpy(dst, src, (size_t)n * a->es);
        return;
    }
    switch (a->es) {
#define NEAREST_ROW(T)                                                   \
    {                                                                    \
        const T *s = (const T *)src;                                     \
        T *d = (T *)dst;                                                 \
        if (a->inner_kind == 2) {                                        \
            for (int64_t x = 0; x < n / 2; x++) d[2 * x] = d[2 * x + 1] = s[x]; \
        } else {                                                         \
            for (int64_t x = 0; x < n; x++) d[x] = s[t[x]];              \
        }                                                                \
    }                                                                    \
    break;
    case 1: NEAREST_ROW(uint8_t)
    case 2: NEAREST_ROW(uint16_t)
    case 4: NEAREST_ROW(uint32_t)
    case 8: NEAREST_ROW(uint64_t)
#undef NEAREST_ROW
    default:
        for (int64_t x = 0; x < n; x++) memcpy(dst + x * (int64_t)a->es, src + t[x] * (int64_t)a->es, a->es);
    }
}

static void nearest_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const nearest_arg *a = vp;
    const int outer = a->rank - 1;
    const int64_t row_bytes = a->out_dims[outer] * (int64_t)a->es;
    int64_t pos[YQ_MAX_RANK], rem = begin;
    for (int k = outer - 1; k >= 0; k--) {
        pos[k] = rem % a->out_dims[k];
        rem /= a->out_dims[k];
    }
    int64_t prev = -1;
    for (int64_t row = begin; row < end; row++) {
        int64_t ioff = 0;
        for (int k = 0; k < outer; k++) ioff += a->tab[k][pos[k]] * a->in_str[k];
        uint8_t *dst = a->out + row * row_bytes;
        if (ioff == prev) /* upsampled rows repeat: copy the one just made */
            memcpy(dst, dst - row_bytes, (size_t)row_bytes);
        else
            nearest_row(a, a->in + ioff * (int64_t)a->es, dst);
        prev = ioff;
        for (int k = outer - 1; k >= 0; k--) {
            if (++pos[k] < a->out_dims[k]) break;
            pos[k] = 0;
        }
    }
}

void yq_resize_nearest(yq_pool *pool, size_t esize, int rank, const int64_t *in_dims, const int64_t *out_dims,
                       const int64_t *const *tab, const void *in, void *out) {
    if (yq_numel(rank, out_dims) == 0) return;
    if (rank == 0) {
        memcpy(out, in, esize);
        return;
    }
    nearest_arg a = {.es = esize, .rank = rank, .tab = tab, .in = in, .out = out};
    yq_strides(rank, in_dims, a.in_str);
    memcpy(a.out_dims, out_dims, (size_t)rank * sizeof *out_dims);
    const int64_t n = out_dims[rank - 1], *t = tab[rank - 1];
    int ident = n == in_dims[rank - 1], twice = n == 2 * in_dims[rank - 1];
    for (int64_t x = 0; x < n && (ident || twice); x++) {
        ident &= t[x] == x;
        twice &= t[x] == x / 2;
    }
    a.inner_kind = ident ? 1 : twice ? 2 : 0;
    int64_t rows = yq_numel(rank - 1, out_dims);
    int64_t grain = YQK_GRAIN_BYTES / (n * (int64_t)esize);
    yq_parallel_for(pool, rows, grain < 1 ? 1 : grain, nearest_worker, &a);
}

void yq_resize_nearest_ref(size_t esize, int rank, const int64_t *in_dims, const int64_t *out_dims,
                           const int64_t *const *tab, const void *in, void *out) {
    int64_t in_str[YQ_MAX_RANK];
    yq_strides(rank, in_dims, in_str);
    int64_t total = yq_numel(rank, out_dims);
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, off = 0;
        for (int k = rank - 1; k >= 0; k--) {
            off += tab[k][rem % out_dims[k]] * in_str[k];
            rem /= out_dims[k];
        }
        memcpy((uint8_t *)out + i * (int64_t)esize, (const uint8_t *)in + off * (int64_t)esize, esize);
    }
}

/* Up to 2^(rank-1) input rows feed one output row (two per interpolated
 * outer axis). */
#define MAX_CORNERS (1 << (YQ_MAX_RANK - 1))

typedef struct linear_arg {
    int rank;
    int64_t in_str[YQ_MAX_RANK], out_dims[YQ_MAX_RANK];
    const yq_lerp *const *tab;
    const float *in;
    float *out;
} linear_arg;

static void linear_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const linear_arg *a = vp;
    const int outer = a->rank - 1;
    const int64_t n = a->out_dims[outer];
    const yq_lerp *tx = a->tab[outer];
    int64_t pos[YQ_MAX_RANK], rem = begin;
    for (int k = outer - 1; k >= 0; k--) {
        pos[k] = rem % a->out_dims[k];
        rem /= a->out_dims[k];
    }
    int64_t coff[MAX_CORNERS];
    float cw[MAX_CORNERS];
    for (int64_t row = begin; row < end; row++) {
        int nc = 1;
        coff[0] = 0;
        cw[0] = 1.0f;
        for (int k = 0; k < outer; k++) {
            const yq_lerp *l = &a->tab[k][pos[k]];
            if (l->w1 == 0.0f || l->i0 == l->i1) {
                for (int c = 0; c < nc; c++) coff[c] += l->i0 * a->in_str[k];
            } else {
                for (int c = 0; c < nc; c++) {
                    coff[nc + c] = coff[c] + l->i1 * a->in_str[k];
                    cw[nc + c] = cw[c] * l->w1;
                    coff[c] += l->i0 * a->in_str[k];
                    cw[c] *= 1.0f - l->w1;
                }
                nc *= 2;
            }
        }
        float *dst = a->out + row * n;
        if (nc == 1) {
            const float *s = a->in + coff[0];
            for (int64_t x = 0; x < n; x++) dst[x] = (1.0f - tx[x].w1) * s[tx[x].i0] + tx[x].w1 * s[tx[x].i1];
        } else if (nc == 2) { /* bilinear */
            const float *s0 = a->in + coff[0], *s1 = a->in + coff[1];
            const float w0 = cw[0], w1 = cw[1];
            for (int64_t x = 0; x < n; x++) {
                const float u = tx[x].w1, v = 1.0f - u;
                const int64_t i0 = tx[x].i0, i1 = tx[x].i1;
                dst[x] = w0 * (v * s0[i0] + u * s0[i1]) + w1 * (v * s1[i0] + u * s1[i1]);
            }
        } else {
            for (int64_t x = 0; x < n; x++) {
                const float u = tx[x].w1, v = 1.0f - u;
                float acc = 0;
                for (int c = 0; c < nc; c++) {
                    const float *s = a->in + coff[c];
                    acc += cw[c] * (v * s[tx[x].i0] + u * s[tx[x].i1]);
                }
                dst[x] = acc;
            }
        }
        for (int k = outer - 1; k >= 0; k--) {
            if (++pos[k] < a->out_dims[k]) break;
            pos[k] = 0;
        }
    }
}

void yq_resize_linear_f32(yq_pool *pool, int rank, const int64_t *in_dims, const int64_t *out_dims,
                          const yq_lerp *const *tab, const float *in, float *out) {
    if (yq_numel(rank, out_dims) == 0) return;
    if (rank == 0) {
        out[0] = in[0];
        return;
    }
    linear_arg a = {.rank = rank, .tab = tab, .in = in, .out = out};
    yq_strides(rank, in_dims, a.in_str);
    memcpy(a.out_dims, out_dims, (size_t)rank * sizeof *out_dims);
    int64_t rows = yq_numel(rank - 1, out_dims);
    int64_t grain = YQK_GRAIN_BYTES / (out_dims[rank - 1] * 4 * 4);
    yq_parallel_for(pool, rows, grain < 1 ? 1 : grain, linear_worker, &a);
}

void yq_resize_linear_ref_f32(int rank, const int64_t *in_dims, const int64_t *out_dims, const yq_lerp *const *tab,
                              const float *in, float *out) {
    int64_t in_str[YQ_MAX_RANK];
    yq_strides(rank, in_dims, in_str);
    int64_t total = yq_numel(rank, out_dims);
    for (int64_t i = 0; i < total; i++) {
        int64_t pos[YQ_MAX_RANK], rem = i;
        for (int k = rank - 1; k >= 0; k--) {
            pos[k] = rem % out_dims[k];
            rem /= out_dims[k];
        }
        /* sum over all 2^rank corners, weight = product of per-axis weights */
        double acc = 0;
        for (int c = 0; c < (1 << rank); c++) {
            double w = 1;
            int64_t off = 0;
            for (int k = 0; k < rank; k++) {
                const yq_lerp *l = &tab[k][pos[k]];
                int hi = (c >> k) & 1;
                w *= hi ? l->w1 : 1.0 - l->w1;
                off += (hi ? l->i1 : l->i0) * in_str[k];
            }
            if (w != 0) acc += w * in[off];
        }
        out[i] = (float)acc;
    }
}

/* ======================================================================== */
/* The op                                                                    */
/* ======================================================================== */

enum { CTM_HALF_PIXEL, CTM_HALF_PIXEL_SYM, CTM_PYTORCH, CTM_ALIGN, CTM_ASYM, CTM_TF_HALF_NN };
/* NM_SIMPLE is opset 10's rule (as ONNX Runtime implements it): floor when
 * upsampling, ceil when downsampling. */
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct resize_plan {
    int rank, linear, ctm, nmode;
    int64_t in_dims[YQ_MAX_RANK], out_dims[YQ_MAX_RANK];
    double scale[YQ_MAX_RANK];     /* scale used by the coordinate formulas */
    double out_width[YQ_MAX_RANK]; /* scale * input length (float, as in the spec) */
} resize_plan;

static int pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static yq_status resize_plan_make(const yq_node *n, int64_t opset, const yq_tensor *in, int nin, resize_plan *p) {
    const yq_tensor *x = &in[0];
    const int r = x->rank;
    memset(p, 0, sizeof *p);
    p->rank = r;
    memcpy(p->in_dims, x->dims, sizeof p->in_dims);
    memcpy(p->out_dims, x->dims, sizeof p->out_dims);
    for (int d = 0; d < r; d++) {
        p->scale[d] = 1;
        p->out_width[d] = (double)x->dims[d];
    }
    const char *mode = yq_attr_string(n, "mode", "nearest");
    if (strcmp(mode, "cubic") == 0) return yqk_fail(n, YQ_ERR_UNSUPPORTED, "mode cubic is not supported");
    if (strcmp(mode, "nearest") != 0 && strcmp(mode, "linear") != 0)
        return yqk_fail(n, YQ_ERR_INVALID, "unknown mode '%s'", mode);
    p->linear = strcmp(mode, "linear") == 0;

    int scales_at, sizes_at;
    if (opset < 11) {
        p->ctm = CTM_ASYM;
        p->nmode = NM_SIMPLE;
        scales_at = 1;
        sizes_at = -1;
    } else {
        static const char *const ctms[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                           "align_corners", "asymmetric", "tf_half_pixel_for_nn"};
        static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        const char *ctm = yq_attr_string(n, "coordinate_transformation_mode", "half_pixel");
        const char *nm = yq_attr_string(n, "nearest_mode", "round_prefer_floor");
        if (strcmp(ctm, "tf_crop_and_resize") == 0)
            return yqk_fail(n, YQ_ERR_UNSUPPORTED, "coordinate_transformation_mode tf_crop_and_resize is not supported");
        p->ctm = pick(ctm, ctms, 6);
        if (p->ctm < 0 || (p->ctm == CTM_HALF_PIXEL_SYM && opset < 19))
            return yqk_fail(n, YQ_ERR_INVALID, "unknown coordinate_transformation_mode '%s'", ctm);
        p->nmode = pick(nm, nms, 4);
        if (p->nmode < 0) return yqk_fail(n, YQ_ERR_INVALID, "unknown nearest_mode '%s'", nm);
        scales_at = 2;
        sizes_at = 3;
    }

    /* axes the scales/sizes refer to (opset 18), default all */
    int axes[YQ_MAX_RANK], naxes = r;
    for (int d = 0; d < r; d++) axes[d] = d;
    const int64_t *av;
    int acnt = opset >= 18 ? yq_attr_ints(n, "axes", &av) : -1;
    if (acnt >= 0) {
        if (acnt > r) return yqk_fail(n, YQ_ERR_INVALID, "axes has %d entries for a rank-%d input", acnt, r);
        YQ_TRY(yqk_axes(n, av, acnt, r, axes, NULL));
        naxes = acnt;
    }

    const int have_scales = yqk_present(n, in, nin, scales_at) && yq_tensor_numel(&in[scales_at]) > 0;
    const int have_sizes = sizes_at >= 0 && yqk_present(n, in, nin, sizes_at) && yq_tensor_numel(&in[sizes_at]) > 0;
    if (have_scales == have_sizes)
        return yqk_fail(n, YQ_ERR_INVALID, have_scales ? "only one of scales and sizes may be given"
                                                       : "one of scales and sizes must be given");
    if (have_scales) {
        const yq_tensor *s = &in[scales_at];
        if (!yq_dtype_is_float(s->dtype)) return yqk_fail(n, YQ_ERR_INVALID, "scales must be float");
        if (yq_tensor_numel(s) != naxes)
            return yqk_fail(n, YQ_ERR_INVALID, "scales has %lld entries for %d axes", (long long)yq_tensor_numel(s),
                            naxes);
        for (int i = 0; i < naxes; i++) {
            const int d = axes[i];
            double v = yq_elem_as_double(s->dtype, s->data, i);
            if (!(v > 0) || !isfinite(v)) return yqk_fail(n, YQ_ERR_INVALID, "scales[%d] = %g must be > 0", i, v);
            double w = v * (double)x->dims[d];
            if (w > (double)((int64_t)1 << 40)) return yqk_fail(n, YQ_ERR_LIMIT, "output too large");
            p->scale[d] = v;
            p->out_width[d] = w;
            p->out_dims[d] = (int64_t)floor(w);
        }
    } else {
        const yq_tensor *s = &in[sizes_at];
        if (s->dtype != YQ_DT_INT64) return yqk_fail(n, YQ_ERR_INVALID, "sizes must be int64");
        if (yq_tensor_numel(s) != naxes)
            return yqk_fail(n, YQ_ERR_INVALID, "sizes has %lld entries for %d axes", (long long)yq_tensor_numel(s),
                            naxes);
        const int64_t *sz = s->data;
        static const char *const kars[] = {"stretch", "not_larger", "not_smaller"};
        int kar = 0;
        if (opset >= 18) {
            const char *k = yq_attr_string(n, "keep_aspect_ratio_policy", "stretch");
            kar = pick(k, kars, 3);
            if (kar < 0) return yqk_fail(n, YQ_ERR_INVALID, "unknown keep_aspect_ratio_policy '%s'", k);
        }
        double common = kar == 1 ? INFINITY : 0;
        for (int i = 0; i < naxes; i++) {
            const int d = axes[i];
            if (sz[i] < 0) return yqk_fail(n, YQ_ERR_INVALID, "sizes[%d] = %lld is negative", i, (long long)sz[i]);
            if (x->dims[d] == 0 && sz[i] != 0)
                return yqk_fail(n, YQ_ERR_INVALID, "axis %d is empty and cannot be resized to %lld", d,
                                (long long)sz[i]);
            double ratio = x->dims[d] ? (double)sz[i] / (double)x->dims[d] : 1.0;
            if (kar == 1 && ratio < common) common = ratio;
            if (kar == 2 && ratio > common) common = ratio;
            p->scale[d] = ratio;
            p->out_dims[d] = sz[i];
            p->out_width[d] = (double)sz[i];
        }
        if (kar != 0)
            for (int i = 0; i < naxes; i++) {
                const int d = axes[i];
                p->scale[d] = common;
                p->out_width[d] = common * (double)x->dims[d];
                p->out_dims[d] = (int64_t)floor(p->out_width[d] + 0.5);
            }
    }
    if (p->linear && opset >= 18 && yq_attr_int(n, "antialias", 0) != 0)
        for (int d = 0; d < r; d++)
            if (p->scale[d] < 1)
                return yqk_fail(n, YQ_ERR_UNSUPPORTED, "antialiased linear downsampling is not supported");
    return YQ_OK;
}

/* Input coordinate of output position xo along axis d. */
static double source_coord(const resize_plan *p, int d, int64_t xo) {
    const double x = (double)xo, s = p->scale[d], len = (double)p->in_dims[d], ow = p->out_width[d];
    switch (p->ctm) {
    case CTM_HALF_PIXEL_SYM: {
        double adj = (double)p->out_dims[d] / ow;
        double center = len / 2;
        return center * (1 - adj) + (x + 0.5) / s - 0.5;
    }
    case CTM_PYTORCH: return ow == 1 ? -0.5 : (x + 0.5) / s - 0.5;
    case CTM_ALIGN: return ow == 1 ? 0 : x * (len - 1) / (ow - 1);
    case CTM_ASYM: return x / s;
    case CTM_TF_HALF_NN: return (x + 0.5) / s;
    default: return (x + 0.5) / s - 0.5;
    }
}

static int64_t nearest_index(const resize_plan *p, int d, double c) {
    const int64_t len = p->in_dims[d];
    /* clamp first: rounding cannot bring an outside value back inside */
    if (!(c > 0)) return 0;
    if (c >= (double)(len - 1)) return len - 1;
    double f = floor(c), fr = c - f;
    int64_t i;
    if (fr == 0) {
        i = (int64_t)f;
    } else {
        switch (p->nmode) {
        case NM_ROUND_CEIL: i = (int64_t)f + (fr >= 0.5); break;
        case NM_FLOOR: i = (int64_t)f; break;
        case NM_CEIL: i = (int64_t)f + 1; break;
        case NM_SIMPLE: i = (int64_t)f + (p->scale[d] < 1); break;
        default: i = (int64_t)f + (fr > 0.5); break;
        }
    }
    return i < 0 ? 0 : (i >= len ? len - 1 : i);
}

static yq_lerp linear_taps(const resize_plan *p, int d, double c) {
    const int64_t len = p->in_dims[d];
    yq_lerp l = {0, 0, 0.0f};
    if (!(c > 0)) return l;
    if (c >= (double)(len - 1)) {
        l.i0 = l.i1 = len - 1;
        return l;
    }
    double f = floor(c);
    l.i0 = (int64_t)f;
    l.i1 = l.i0 + 1;
    l.w1 = (float)(c - f);
    return l;
}

static int linear_type_ok(yq_dtype dt) {
    return dt == YQ_DT_FLOAT || dt == YQ_DT_FLOAT16 || dt == YQ_DT_BFLOAT16 || dt == YQ_DT_DOUBLE;
}

static yq_status resize_infer(yq_infer_ctx *c) {
    const yq_node *n = c->node;
    if (n->ninputs < 2) return yq_node_fail(c, YQ_ERR_INVALID, "expects at least 2 inputs, got %d", n->ninputs);
    if (n->ninputs > 4) return yq_node_fail(c, YQ_ERR_INVALID, "expects at most 4 inputs, got %d", n->ninputs);
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    /* roi (input 1 from opset 11) only matters for tf_crop_and_resize */
    for (int i = 1; i < n->ninputs; i++)
        if (yq_in(c, i) && (c->opset < 11 || i >= 2)) YQ_TRY(yq_need_const(c, i));
    yq_tensor in[4];
    yqk_infer_inputs(c, in, n->ninputs);
    if (yq_dtype_size(in[0].dtype) == 0)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(in[0].dtype));
    resize_plan p;
    YQ_TRY(resize_plan_make(n, c->opset, in, n->ninputs, &p));
    if (p.linear && !linear_type_ok(in[0].dtype))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "linear mode supports float, float16, bfloat16 and double, not %s",
                            yq_dtype_name(in[0].dtype));
    YQ_TRY(yqk_check_size(n, in[0].dtype, p.rank, p.out_dims));
    yq_set_out(c, 0, in[0].dtype, p.rank, p.out_dims);
    return YQ_OK;
}

typedef struct resize_state {
    resize_plan plan;
    int64_t *nearest[YQ_MAX_RANK];
    yq_lerp *lerp[YQ_MAX_RANK];
} resize_state;

static void resize_release(void *vp) {
    resize_state *st = vp;
    if (!st) return;
    for (int d = 0; d < YQ_MAX_RANK; d++) {
        free(st->nearest[d]);
        free(st->lerp[d]);
    }
    free(st);
}

static yq_status resize_prepare(yq_prepare_ctx *c) {
    /* input data may be absent here (non-constant X): only dims are used */
    resize_state *st = yq_calloc(1, sizeof *st);
    if (!st) return YQ_ERR_NOMEM;
    yq_status s = resize_plan_make(c->node, c->opset, c->in, c->nin, &st->plan);
    const resize_plan *p = &st->plan;
    for (int d = 0; s == YQ_OK && d < p->rank; d++) {
        const int64_t n = p->out_dims[d] ? p->out_dims[d] : 1;
        if (p->linear) {
            st->lerp[d] = yq_malloc((size_t)n * sizeof(yq_lerp));
            if (!st->lerp[d]) s = YQ_ERR_NOMEM;
            for (int64_t x = 0; s == YQ_OK && x < p->out_dims[d]; x++)
                st->lerp[d][x] = linear_taps(p, d, source_coord(p, d, x));
        } else {
            st->nearest[d] = yq_malloc((size_t)n * sizeof(int64_t));
            if (!st->nearest[d]) s = YQ_ERR_NOMEM;
            for (int64_t x = 0; s == YQ_OK && x < p->out_dims[d]; x++)
                st->nearest[d][x] = nearest_index(p, d, source_coord(p, d, x));
        }
    }
    if (s != YQ_OK) {
        resize_release(st);
        return s;
    }
    c->state = st;
    if (p->linear && c->in[0].dtype != YQ_DT_FLOAT) /* float32 copies of input and output */
        c->scratch_bytes = (size_t)(yq_numel(p->rank, p->in_dims) + yq_numel(p->rank, p->out_dims)) * sizeof(float);
    return YQ_OK;
}

static yq_status resize_run(yq_run_ctx *c) {
    const resize_state *st = c->state;
    if (!st) return yqk_fail(c->node, YQ_ERR_INTERNAL, "run without prepare");
    const resize_plan *p = &st->plan;
    const yq_tensor *x = &c->in[0];
    if (!p->linear) {
        yq_resize_nearest(c->pool, yq_dtype_size(x->dtype), p->rank, p->in_dims, p->out_dims,
                          (const int64_t *const *)st->nearest, x->data, c->out[0].data);
        return YQ_OK;
    }
    const yq_lerp *const *tab = (const yq_lerp *const *)st->lerp;
    if (x->dtype == YQ_DT_FLOAT) {
        yq_resize_linear_f32(c->pool, p->rank, p->in_dims, p->out_dims, tab, x->data, c->out[0].data);
        return YQ_OK;
    }
    const int64_t nin = yq_numel(p->rank, p->in_dims), nout = yq_numel(p->rank, p->out_dims);
    if (nout == 0) return YQ_OK;
    if (!c->scratch) return yqk_fail(c->node, YQ_ERR_INTERNAL, "run without scratch memory");
    float *fin = c->scratch, *fout = fin + nin;
    for (int64_t i = 0; i < nin; i++) fin[i] = (float)yq_elem_as_double(x->dtype, x->data, i);
    yq_resize_linear_f32(c->pool, p->rank, p->in_dims, p->out_dims, tab, fin, fout);
    for (int64_t i = 0; i < nout; i++) {
        switch (x->dtype) {
        case YQ_DT_FLOAT16: ((uint16_t *)c->out[0].data)[i] = yq_f32_to_f16(fout[i]); break;
        case YQ_DT_BFLOAT16: ((uint16_t *)c->out[0].data)[i] = yq_f32_to_bf16(fout[i]); break;
        default: ((double *)c->out[0].data)[i] = fout[i]; break;
        }
    }
    return YQ_OK;
}

void yq_register_resize_ops(yq_op_vtable *t) {
    t[YQ_OP_Resize] = (yq_op_vtable){.infer = resize_infer, .prepare = resize_prepare, .run = resize_run,
                                     .release = resize_release};
}
