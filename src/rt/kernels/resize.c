/* resize family kernels: see rt/ops.h for the op table contract.
 *
 * Resize (opsets 10-19): scales or sizes (constant inputs), modes nearest,
 * linear and cubic, every coordinate transformation mode (half_pixel,
 * half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
 * tf_half_pixel_for_nn, tf_crop_and_resize with its roi and
 * extrapolation_value), opset 18's axes and keep_aspect_ratio_policy.
 * Rejected cleanly: antialiased (opset 18) linear/cubic downsampling. The
 * coordinate arithmetic follows the ONNX reference implementation (double
 * precision, the float scale widened), which is what the ONNX backend tests
 * were generated with.
 *
 * prepare() turns the attributes into one table per axis (input index for
 * nearest, two indices and a weight for linear, n taps for the separable
 * path used by cubic and cropping); run() only applies them. Nearest moves
 * opaque elements (any type); the others compute in float32. */
#include "rt/kernels/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/movekit.h"
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
    if (a->inner_kind == 2 && a->es <= 4) {
        /* x2: each element becomes one store of twice its width */
        switch (a->es) {
#define DOUBLE_ROW(T, W, SHIFT)                                                      \
    {                                                                                \
        const T *s = (const T *)src;                                                 \
        W *d = (W *)dst;                                                             \
        for (int64_t x = 0; x < n / 2; x++) d[x] = (W)s[x] | ((W)s[x] << (SHIFT));  \
    }                                                                                \
    return;
        case 1: DOUBLE_ROW(uint8_t, uint16_t, 8)
        case 2: DOUBLE_ROW(uint16_t, uint32_t, 16)
        case 4: DOUBLE_ROW(uint32_t, uint64_t, 32)
#undef DOUBLE_ROW
        default: break;
        }
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
/* Separable taps (cubic, tf_crop_and_resize)                                */
/* ======================================================================== */

/* One 1-D pass along an axis: for each output position xo,
 *   dst[o, xo, i] = outside[xo] ? extrap : sum_t w[xo][t] * src[o, idx[xo][t], i]
 * Applying it axis after axis (last axis first) is exactly the nested 1-D
 * interpolation of the ONNX reference, extrapolation included. */
typedef struct taps_arg {
    const float *src;
    float *dst;
    int64_t lin, lout, inner;
    int ntaps;
    const int64_t *idx;
    const float *w;
    const uint8_t *outside;
    float extrap;
} taps_arg;

static void taps_worker(void *vp, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const taps_arg *a = vp;
    const int64_t inner = a->inner;
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / a->lout, xo = u % a->lout;
        float *d = a->dst + u * inner;
        if (a->outside && a->outside[xo]) {
            for (int64_t i = 0; i < inner; i++) d[i] = a->extrap;
            continue;
        }
        for (int64_t i = 0; i < inner; i++) d[i] = 0;
        for (int t = 0; t < a->ntaps; t++) {
            const float w = a->w[xo * a->ntaps + t];
            if (w == 0) continue;
            const float *s = a->src + (o * a->lin + a->idx[xo * a->ntaps + t]) * inner;
            for (int64_t i = 0; i < inner; i++) d[i] += w * s[i];
        }
    }
}

/* ======================================================================== */
/* The op                                                                    */
/* ======================================================================== */

enum { CTM_HALF_PIXEL, CTM_HALF_PIXEL_SYM, CTM_PYTORCH, CTM_ALIGN, CTM_ASYM, CTM_TF_HALF_NN, CTM_TF_CROP };
/* NM_SIMPLE is opset 10's rule (as ONNX Runtime implements it): floor when
 * upsampling, ceil when downsampling. */
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };
enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC };

typedef struct resize_plan {
    int rank, mode, ctm, nmode;
    int exclude_outside;
    double cubic_a, extrap;
    int64_t in_dims[YQ_MAX_RANK], out_dims[YQ_MAX_RANK];
    double scale[YQ_MAX_RANK];     /* scale used by the coordinate formulas */
    double out_width[YQ_MAX_RANK]; /* scale * input length (float, as in the spec) */
    double roi_start[YQ_MAX_RANK], roi_end[YQ_MAX_RANK]; /* tf_crop_and_resize */
} resize_plan;

/* Cubic and cropping go through the separable taps path; nearest and linear
 * otherwise use their fast kernels. */
static int uses_taps(const resize_plan *p) { return p->mode == MODE_CUBIC || p->ctm == CTM_TF_CROP; }

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
        p->roi_start[d] = 0;
        p->roi_end[d] = 1;
    }
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    const char *mode = yq_attr_string(n, "mode", "nearest");
    p->mode = pick(mode, modes, opset < 11 ? 2 : 3);
    if (p->mode < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "unknown mode '%s'", mode);
    p->cubic_a = yq_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = yq_attr_int(n, "exclude_outside", 0) != 0;
    p->extrap = yq_attr_float(n, "extrapolation_value", 0.0f);

    int scales_at, sizes_at;
    if (opset < 11) {
        p->ctm = CTM_ASYM;
        p->nmode = NM_SIMPLE;
        scales_at = 1;
        sizes_at = -1;
    } else {
        static const char *const ctms[] = {"half_pixel",    "half_pixel_symmetric", "pytorch_half_pixel",
                                           "align_corners", "asymmetric",           "tf_half_pixel_for_nn",
                                           "tf_crop_and_resize"};
        static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        const char *ctm = yq_attr_string(n, "coordinate_transformation_mode", "half_pixel");
        const char *nm = yq_attr_string(n, "nearest_mode", "round_prefer_floor");
        p->ctm = pick(ctm, ctms, 7);
        if (p->ctm < 0 || (p->ctm == CTM_HALF_PIXEL_SYM && opset < 19))
            return yq_node_errorf(n, YQ_ERR_INVALID, "unknown coordinate_transformation_mode '%s'", ctm);
        p->nmode = pick(nm, nms, 4);
        if (p->nmode < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "unknown nearest_mode '%s'", nm);
        scales_at = 2;
        sizes_at = 3;
    }

    /* axes the roi/scales/sizes refer to (opset 18), default all */
    int axes[YQ_MAX_RANK], naxes = r;
    for (int d = 0; d < r; d++) axes[d] = d;
    const int64_t *av;
    int acnt = opset >= 18 ? yq_attr_ints(n, "axes", &av) : -1;
    if (acnt >= 0) {
        if (acnt > r) return yq_node_errorf(n, YQ_ERR_INVALID, "axes has %d entries for a rank-%d input", acnt, r);
        YQ_TRY(yqk_axes(n, av, acnt, r, axes, NULL));
        naxes = acnt;
    }

    if (p->ctm == CTM_TF_CROP) {
        if (!yqk_present(n, in, nin, 1) || yq_tensor_numel(&in[1]) != 2 * naxes || !yq_dtype_is_float(in[1].dtype))
            return yq_node_errorf(n, YQ_ERR_INVALID, "tf_crop_and_resize needs a float roi with %d entries", 2 * naxes);
        for (int i = 0; i < naxes; i++) {
            p->roi_start[axes[i]] = yq_elem_as_double(in[1].dtype, in[1].data, i);
            p->roi_end[axes[i]] = yq_elem_as_double(in[1].dtype, in[1].data, naxes + i);
        }
    }

    const int have_scales = yqk_present(n, in, nin, scales_at) && yq_tensor_numel(&in[scales_at]) > 0;
    const int have_sizes = sizes_at >= 0 && yqk_present(n, in, nin, sizes_at) && yq_tensor_numel(&in[sizes_at]) > 0;
    if (have_scales == have_sizes)
        return yq_node_errorf(n, YQ_ERR_INVALID, have_scales ? "only one of scales and sizes may be given"
                                                       : "one of scales and sizes must be given");
    if (have_scales) {
        const yq_tensor *s = &in[scales_at];
        if (!yq_dtype_is_float(s->dtype)) return yq_node_errorf(n, YQ_ERR_INVALID, "scales must be float");
        if (yq_tensor_numel(s) != naxes)
            return yq_node_errorf(n, YQ_ERR_INVALID, "scales has %lld entries for %d axes", (long long)yq_tensor_numel(s),
                            naxes);
        for (int i = 0; i < naxes; i++) {
            const int d = axes[i];
            double v = yq_elem_as_double(s->dtype, s->data, i);
            if (!(v > 0) || !isfinite(v)) return yq_node_errorf(n, YQ_ERR_INVALID, "scales[%d] = %g must be > 0", i, v);
            double w = v * (double)x->dims[d];
            if (w > (double)((int64_t)1 << 40)) return yq_node_errorf(n, YQ_ERR_LIMIT, "output too large");
            p->scale[d] = v;
            p->out_width[d] = w;
            p->out_dims[d] = (int64_t)floor(w);
        }
    } else {
        const yq_tensor *s = &in[sizes_at];
        if (s->dtype != YQ_DT_INT64) return yq_node_errorf(n, YQ_ERR_INVALID, "sizes must be int64");
        if (yq_tensor_numel(s) != naxes)
            return yq_node_errorf(n, YQ_ERR_INVALID, "sizes has %lld entries for %d axes", (long long)yq_tensor_numel(s),
                            naxes);
        const int64_t *sz = s->data;
        static const char *const kars[] = {"stretch", "not_larger", "not_smaller"};
        int kar = 0;
        if (opset >= 18) {
            const char *k = yq_attr_string(n, "keep_aspect_ratio_policy", "stretch");
            kar = pick(k, kars, 3);
            if (kar < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "unknown keep_aspect_ratio_policy '%s'", k);
        }
        double common = kar == 1 ? INFINITY : 0;
        for (int i = 0; i < naxes; i++) {
            const int d = axes[i];
            if (sz[i] < 0) return yq_node_errorf(n, YQ_ERR_INVALID, "sizes[%d] = %lld is negative", i, (long long)sz[i]);
            if (x->dims[d] == 0 && sz[i] != 0)
                return yq_node_errorf(n, YQ_ERR_INVALID, "axis %d is empty and cannot be resized to %lld", d,
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
    if (p->mode != MODE_NEAREST && opset >= 18 && yq_attr_int(n, "antialias", 0) != 0)
        for (int d = 0; d < r; d++)
            if (p->scale[d] < 1)
                return yq_node_errorf(n, YQ_ERR_UNSUPPORTED, "antialiased downsampling is not supported");
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
    case CTM_TF_CROP: {
        const double span = (p->roi_end[d] - p->roi_start[d]) * (len - 1);
        return (ow == 1 ? span / 2 : x * span / (ow - 1)) + p->roi_start[d] * (len - 1);
    }
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

/* Taps of output position xo along axis d for the separable path: indices
 * clamped to the axis (edge padding), weights, and whether the position lies
 * outside the crop (extrapolated). */
static int fill_taps(const resize_plan *p, int d, int64_t xo, int64_t *idx, float *w) {
    const int64_t len = p->in_dims[d];
    const double c = source_coord(p, d, xo);
    int outside = p->ctm == CTM_TF_CROP && (c < 0 || c > (double)(len - 1));
    if (p->mode == MODE_NEAREST) {
        idx[0] = nearest_index(p, d, c);
        w[0] = 1;
        return outside;
    }
    const double f = floor(c), r = c - f;
    if (p->mode == MODE_LINEAR) {
        yq_lerp l = linear_taps(p, d, c);
        idx[0] = l.i0;
        idx[1] = l.i1;
        w[0] = 1.0f - l.w1;
        w[1] = l.w1;
        return outside;
    }
    /* cubic: the four neighbours floor-1 .. floor+2 (an exact hit has weight
     * 1 on itself: the coefficients at r = 0 are 0, 1, 0, 0) */
    const double A = p->cubic_a, q = 1 - r;
    double cw[4] = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                    ((A + 2) * r - (A + 3)) * r * r + 1, ((A + 2) * q - (A + 3)) * q * q + 1,
                    ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A};
    double sum = 0;
    for (int t = 0; t < 4; t++) {
        int64_t i = (int64_t)f - 1 + t;
        if (p->exclude_outside && (i < 0 || i >= len)) cw[t] = 0;
        sum += cw[t];
        idx[t] = i < 0 ? 0 : (i >= len ? len - 1 : i);
    }
    for (int t = 0; t < 4; t++) w[t] = (float)(p->exclude_outside && sum != 0 ? cw[t] / sum : cw[t]);
    return outside;
}

static int float_type(yq_dtype dt) {
    return dt == YQ_DT_FLOAT || dt == YQ_DT_FLOAT16 || dt == YQ_DT_BFLOAT16 || dt == YQ_DT_DOUBLE;
}

static yq_status resize_infer(yq_infer_ctx *c) {
    const yq_node *n = c->node;
    if (n->ninputs < 2) return yq_node_fail(c, YQ_ERR_INVALID, "expects at least 2 inputs, got %d", n->ninputs);
    if (n->ninputs > 4) return yq_node_fail(c, YQ_ERR_INVALID, "expects at most 4 inputs, got %d", n->ninputs);
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    /* roi (input 1 from opset 11) only matters for tf_crop_and_resize */
    const int crop = c->opset >= 11 && strcmp(yq_attr_string(n, "coordinate_transformation_mode", ""),
                                              "tf_crop_and_resize") == 0;
    for (int i = 1; i < n->ninputs; i++)
        if (yq_in(c, i) && (c->opset < 11 || i >= 2 || crop)) YQ_TRY(yq_need_const(c, i));
    yq_tensor in[4];
    yqk_infer_inputs(c, in, n->ninputs);
    if (yq_dtype_size(in[0].dtype) == 0)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(in[0].dtype));
    resize_plan p;
    YQ_TRY(resize_plan_make(n, c->opset, in, n->ninputs, &p));
    if ((p.mode != MODE_NEAREST || uses_taps(&p)) && !float_type(in[0].dtype))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "%s needs a float, float16, bfloat16 or double input, not %s",
                            p.mode == MODE_LINEAR  ? "mode linear"
                            : p.mode == MODE_CUBIC ? "mode cubic"
                                                   : "tf_crop_and_resize",
                            yq_dtype_name(in[0].dtype));
    YQ_TRY(yqk_check_size(n, in[0].dtype, p.rank, p.out_dims));
    yq_set_out(c, 0, in[0].dtype, p.rank, p.out_dims);
    return YQ_OK;
}

typedef struct resize_state {
    resize_plan plan;
    int64_t *nearest[YQ_MAX_RANK]; /* nearest: source index per output position */
    yq_lerp *lerp[YQ_MAX_RANK];    /* linear: two taps per output position */
    /* taps path: ntaps per position, indices, weights, outside flags; an
     * axis left unchanged has no pass (pass[d] == 0) */
    int ntaps, pass[YQ_MAX_RANK];
    int64_t *tidx[YQ_MAX_RANK];
    float *tw[YQ_MAX_RANK];
    uint8_t *tout[YQ_MAX_RANK];
    int64_t max_elems; /* largest intermediate tensor of the taps path */
} resize_state;

static void resize_release(void *vp) {
    resize_state *st = vp;
    if (!st) return;
    for (int d = 0; d < YQ_MAX_RANK; d++) {
        free(st->nearest[d]);
        free(st->lerp[d]);
        free(st->tidx[d]);
        free(st->tw[d]);
        free(st->tout[d]);
    }
    free(st);
}

static yq_status build_taps(resize_state *st) {
    const resize_plan *p = &st->plan;
    st->ntaps = p->mode == MODE_NEAREST ? 1 : p->mode == MODE_LINEAR ? 2 : 4;
    int64_t dims[YQ_MAX_RANK];
    memcpy(dims, p->in_dims, sizeof dims);
    st->max_elems = yq_numel(p->rank, dims);
    for (int d = p->rank - 1; d >= 0; d--) {
        const int64_t n = p->out_dims[d], nt = st->ntaps;
        st->tidx[d] = yq_malloc((size_t)(n * nt + 1) * sizeof(int64_t));
        st->tw[d] = yq_malloc((size_t)(n * nt + 1) * sizeof(float));
        st->tout[d] = yq_malloc((size_t)n + 1);
        if (!st->tidx[d] || !st->tw[d] || !st->tout[d]) return YQ_ERR_NOMEM;
        int identity = n == p->in_dims[d];
        for (int64_t x = 0; x < n; x++) {
            st->tout[d][x] = (uint8_t)fill_taps(p, d, x, st->tidx[d] + x * nt, st->tw[d] + x * nt);
            /* identity: the position reads only itself with weight 1 */
            float wsum = 0, wself = 0;
            for (int t = 0; t < nt; t++) {
                wsum += st->tw[d][x * nt + t] != 0;
                if (st->tidx[d][x * nt + t] == x) wself += st->tw[d][x * nt + t];
            }
            identity &= !st->tout[d][x] && wself == 1.0f && wsum == 1;
        }
        st->pass[d] = !identity;
        if (st->pass[d]) {
            dims[d] = n;
            int64_t e = yq_numel(p->rank, dims);
            if (e > st->max_elems) st->max_elems = e;
        }
    }
    return YQ_OK;
}

static yq_status resize_prepare(yq_prepare_ctx *c) {
    /* input data may be absent here (non-constant X): only dims are used */
    resize_state *st = yq_calloc(1, sizeof *st);
    if (!st) return YQ_ERR_NOMEM;
    yq_status s = resize_plan_make(c->node, c->opset, c->in, c->nin, &st->plan);
    const resize_plan *p = &st->plan;
    if (s == YQ_OK && uses_taps(p)) {
        s = build_taps(st);
    } else {
        for (int d = 0; s == YQ_OK && d < p->rank; d++) {
            const int64_t n = p->out_dims[d] ? p->out_dims[d] : 1;
            if (p->mode == MODE_LINEAR) {
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
    }
    if (s != YQ_OK) {
        resize_release(st);
        return s;
    }
    c->state = st;
    const int64_t nin = yq_numel(p->rank, p->in_dims), nout = yq_numel(p->rank, p->out_dims);
    if (uses_taps(p)) /* float32 input copy and two ping-pong buffers */
        c->scratch_bytes = (size_t)(nin + 2 * st->max_elems) * sizeof(float);
    else if (p->mode == MODE_LINEAR && c->in[0].dtype != YQ_DT_FLOAT) /* float32 copies of input and output */
        c->scratch_bytes = (size_t)(nin + nout) * sizeof(float);
    return YQ_OK;
}

static void to_f32(yq_dtype dt, const void *src, float *dst, int64_t n) {
    if (dt == YQ_DT_FLOAT) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = (float)yq_elem_as_double(dt, src, i);
}

static void from_f32(yq_dtype dt, const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case YQ_DT_FLOAT16: ((uint16_t *)dst)[i] = yq_f32_to_f16(src[i]); break;
        case YQ_DT_BFLOAT16: ((uint16_t *)dst)[i] = yq_f32_to_bf16(src[i]); break;
        case YQ_DT_DOUBLE: ((double *)dst)[i] = src[i]; break;
        default: ((float *)dst)[i] = src[i]; break;
        }
    }
}

static void run_taps(yq_run_ctx *c, const resize_state *st, float *scratch) {
    const resize_plan *p = &st->plan;
    const yq_tensor *x = &c->in[0];
    const int64_t nin = yq_numel(p->rank, p->in_dims), nout = yq_numel(p->rank, p->out_dims);
    float *cur = scratch, *bufs[2] = {scratch + nin, scratch + nin + st->max_elems};
    to_f32(x->dtype, x->data, cur, nin);
    int64_t dims[YQ_MAX_RANK];
    memcpy(dims, p->in_dims, sizeof dims);
    int which = 0;
    for (int d = p->rank - 1; d >= 0; d--) {
        if (!st->pass[d]) continue;
        taps_arg a = {.src = cur, .dst = bufs[which], .lin = dims[d], .lout = p->out_dims[d],
                      .inner = yq_numel(p->rank - d - 1, dims + d + 1), .ntaps = st->ntaps, .idx = st->tidx[d],
                      .w = st->tw[d], .outside = p->ctm == CTM_TF_CROP ? st->tout[d] : NULL,
                      .extrap = (float)p->extrap};
        int64_t units = yq_numel(d, dims) * a.lout;
        int64_t grain = YQK_GRAIN_BYTES / (a.inner * 4 * st->ntaps + 1);
        if (units > 0) yq_parallel_for(c->pool, units, grain < 1 ? 1 : grain, taps_worker, &a);
        dims[d] = p->out_dims[d];
        cur = bufs[which];
        which ^= 1;
    }
    from_f32(x->dtype, cur, c->out[0].data, nout);
}

static yq_status resize_run(yq_run_ctx *c) {
    const resize_state *st = c->state;
    if (!st) return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "run without prepare");
    const resize_plan *p = &st->plan;
    const yq_tensor *x = &c->in[0];
    const int64_t nin = yq_numel(p->rank, p->in_dims), nout = yq_numel(p->rank, p->out_dims);
    if (nout == 0) return YQ_OK;
    if (uses_taps(p)) {
        if (!c->scratch) return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "run without scratch memory");
        run_taps(c, st, c->scratch);
        return YQ_OK;
    }
    if (p->mode == MODE_NEAREST) {
        yq_resize_nearest(c->pool, yq_dtype_size(x->dtype), p->rank, p->in_dims, p->out_dims,
                          (const int64_t *const *)st->nearest, x->data, c->out[0].data);
        return YQ_OK;
    }
    const yq_lerp *const *tab = (const yq_lerp *const *)st->lerp;
    if (x->dtype == YQ_DT_FLOAT) {
        yq_resize_linear_f32(c->pool, p->rank, p->in_dims, p->out_dims, tab, x->data, c->out[0].data);
        return YQ_OK;
    }
    if (!c->scratch) return yq_node_errorf(c->node, YQ_ERR_INTERNAL, "run without scratch memory");
    float *fin = c->scratch, *fout = fin + nin;
    to_f32(x->dtype, x->data, fin, nin);
    yq_resize_linear_f32(c->pool, p->rank, p->in_dims, p->out_dims, tab, fin, fout);
    from_f32(x->dtype, fout, c->out[0].data, nout);
    return YQ_OK;
}

void yq_register_resize_ops(yq_op_vtable *t) {
    t[YQ_OP_Resize] = (yq_op_vtable){.infer = resize_infer, .prepare = resize_prepare, .run = resize_run,
                                     .release = resize_release};
}
