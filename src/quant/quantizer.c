#include "quant/quantizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------------ */

yq_status yq_qrange_check(int bits, int is_signed, int narrow) {
    (void)is_signed;
    (void)narrow;
    if (!((bits >= 2 && bits <= 8) || bits == 16))
        return yq_fail(YQ_ERR_ARG, "quantization: %d-bit grids are not supported (2..8 or 16)", bits);
    return YQ_OK;
}

int32_t yq_qmin(int bits, int is_signed, int narrow) {
    if (!is_signed) return 0;
    int32_t m = -(int32_t)(1 << (bits - 1));
    return narrow ? m + 1 : m;
}

int32_t yq_qmax(int bits, int is_signed, int narrow) {
    (void)narrow;
    return is_signed ? (int32_t)(1 << (bits - 1)) - 1 : (int32_t)(1 << bits) - 1;
}

yq_status yq_qparams_alloc(yq_qparams *qp, int bits, int is_signed, int narrow, int axis, int nch) {
    memset(qp, 0, sizeof *qp);
    YQ_TRY(yq_qrange_check(bits, is_signed, narrow));
    if (nch < 1) return yq_fail(YQ_ERR_ARG, "quantization: %d channels", nch);
    if (axis < 0 && nch != 1) return yq_fail(YQ_ERR_ARG, "quantization: per-tensor parameters with %d scales", nch);
    qp->scale = yq_malloc((size_t)nch * sizeof *qp->scale);
    qp->zero_point = yq_calloc((size_t)nch, sizeof *qp->zero_point);
    if (!qp->scale || !qp->zero_point) {
        yq_qparams_free(qp);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < nch; i++) qp->scale[i] = 1.0f;
    qp->bits = bits;
    qp->is_signed = is_signed;
    qp->narrow = is_signed ? narrow : 0;
    qp->axis = axis < 0 ? -1 : axis;
    qp->nch = nch;
    return YQ_OK;
}

void yq_qparams_free(yq_qparams *qp) {
    if (!qp) return;
    free(qp->scale);
    free(qp->zero_point);
    memset(qp, 0, sizeof *qp);
    qp->axis = -1;
}

yq_status yq_qparams_copy(yq_qparams *dst, const yq_qparams *src) {
    YQ_TRY(yq_qparams_alloc(dst, src->bits, src->is_signed, src->narrow, src->axis, src->nch));
    dst->block_size = src->block_size;
    memcpy(dst->scale, src->scale, (size_t)src->nch * sizeof *src->scale);
    memcpy(dst->zero_point, src->zero_point, (size_t)src->nch * sizeof *src->zero_point);
    return YQ_OK;
}

/* ---- the quantizer ------------------------------------------------------------ */

int32_t yq_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
    /* Same operation order as QuantizeLinear: float32 division, round half to
     * even (nearbyintf under FE_TONEAREST), add the zero point, saturate. The
     * saturation is done on r before the addition (an identical result for
     * integers) so that the conversion to int can never overflow. */
    float r = nearbyintf(x / scale);
    if (isnan(r)) return zp;
    float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    return (int32_t)r + zp;
}

yq_status yq_qparams_from_range(double lo, double hi, const yq_qformat *f, float *scale, int32_t *zp) {
    YQ_TRY(yq_qrange_check(f->bits, f->is_signed, f->narrow));
    if (!isfinite(lo) || !isfinite(hi))
        return yq_fail(YQ_ERR_INVALID, "quantization: range [%g, %g] is not finite", lo, hi);
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    /* 0.0 must be exactly representable (zero padding, ReLU zeros, dead
     * weights), so the covered range always includes it. */
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    int32_t qmin = yq_qmin(f->bits, f->is_signed, f->narrow), qmax = yq_qmax(f->bits, f->is_signed, f->narrow);
    double s;
    int32_t z;
    if (f->symmetric) {
        double amax = fmax(-lo, hi);
        /* Signed: zero point 0. Unsigned symmetric: the middle code (128 for
         * uint8), with the same number of codes on both sides. */
        z = f->is_signed ? 0 : (qmin + qmax + 1) / 2;
        s = amax / (double)(qmax - z);
    } else {
        s = (hi - lo) / (double)(qmax - qmin);
        z = 0; /* set below, from the float scale actually used */
    }
    float sf;
    if (s == 0.0)
        sf = 1.0f; /* exactly zero range: every value is 0, any scale is exact */
    else if (!(s >= (double)YQ_MIN_SCALE))
        sf = YQ_MIN_SCALE;
    else
        sf = (float)s;
    if (!isfinite(sf)) return yq_fail(YQ_ERR_INVALID, "quantization: range [%g, %g] overflows the scale", lo, hi);
    if (!f->symmetric) {
        /* zp = qmin - round(lo / scale): lo lands on qmin (up to rounding),
         * 0 lands exactly on zp. Clamped, since rounding may step outside. */
        double zd = (double)qmin - nearbyint(lo / (double)sf);
        if (zd < qmin) zd = qmin;
        if (zd > qmax) zd = qmax;
        z = (int32_t)zd;
    }
    *scale = sf;
    *zp = z;
    return YQ_OK;
}

/* ---- scale choosers ------------------------------------------------------------- */

void yq_scale_opts_default(yq_scale_opts *o) {
    o->method = YQ_SCALE_MAX;
    o->percentile = 99.99;
    o->mse_grid = 100;
    o->mse_min_ratio = 0.5;
    o->mse_norm = 2.0;
}

const char *yq_scale_method_name(yq_scale_method m) {
    switch (m) {
    case YQ_SCALE_MAX: return "max";
    case YQ_SCALE_PERCENTILE: return "percentile";
    case YQ_SCALE_MSE: return "mse";
    }
    return "?";
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sorted_quantile(const double *v, int64_t n, double p) {
    double pos = p / 100.0 * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return v[n - 1];
    if (i < 0) return v[0];
    double t = pos - (double)i;
    return v[i] + (v[i + 1] - v[i]) * t;
}

yq_status yq_percentile(const float *x, int64_t n, double p, int absolute, double *out) {
    if (n < 1) return yq_fail(YQ_ERR_ARG, "percentile of an empty set");
    if (!(p >= 0 && p <= 100)) return yq_fail(YQ_ERR_ARG, "percentile %g is outside [0, 100]", p);
    double *v = yq_malloc((size_t)n * sizeof *v);
    if (!v) return YQ_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) v[i] = absolute ? fabs((double)x[i]) : (double)x[i];
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *out = sorted_quantile(v, n, p);
    free(v);
    return YQ_OK;
}

/* sum |x - q(x)|^p over the values, in double. */
static double lp_error(const float *x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax, double p) {
    double e = 0;
    if (p == 2.0) {
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - (double)yq_fake_quantize(x[i], scale, zp, qmin, qmax);
            e += d * d;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)x[i] - (double)yq_fake_quantize(x[i], scale, zp, qmin, qmax));
            if (d > 0) e += pow(d, p);
        }
    }
    return e;
}

yq_status yq_choose_qparams(const float *x, int64_t n, const yq_qformat *f, const yq_scale_opts *o, float *scale,
                            int32_t *zp) {
    YQ_TRY(yq_qrange_check(f->bits, f->is_signed, f->narrow));
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return yq_fail(YQ_ERR_INVALID, "quantization: value %lld is %g", (long long)i, x[i]);
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    switch (o->method) {
    case YQ_SCALE_MAX: return yq_qparams_from_range(lo, hi, f, scale, zp);
    case YQ_SCALE_PERCENTILE: {
        if (!(o->percentile > 50 && o->percentile <= 100))
            return yq_fail(YQ_ERR_ARG, "quantization: percentile %g is outside (50, 100]", o->percentile);
        if (n == 0) return yq_qparams_from_range(0, 0, f, scale, zp);
        if (f->symmetric) {
            double amax;
            YQ_TRY(yq_percentile(x, n, o->percentile, 1, &amax));
            return yq_qparams_from_range(-amax, amax, f, scale, zp);
        }
        double plo, phi;
        YQ_TRY(yq_percentile(x, n, 100.0 - o->percentile, 0, &plo));
        YQ_TRY(yq_percentile(x, n, o->percentile, 0, &phi));
        return yq_qparams_from_range(plo, phi, f, scale, zp);
    }
    case YQ_SCALE_MSE: {
        if (o->mse_grid < 1 || !(o->mse_min_ratio > 0 && o->mse_min_ratio <= 1) || !(o->mse_norm > 0))
            return yq_fail(YQ_ERR_ARG, "quantization: bad MSE search (grid %d, min ratio %g, norm %g)", o->mse_grid,
                           o->mse_min_ratio, o->mse_norm);
        int32_t qmin = yq_qmin(f->bits, f->is_signed, f->narrow), qmax = yq_qmax(f->bits, f->is_signed, f->narrow);
        float best_s;
        int32_t best_z;
        YQ_TRY(yq_qparams_from_range(lo, hi, f, &best_s, &best_z));
        double best_e = lp_error(x, n, best_s, best_z, qmin, qmax, o->mse_norm);
        /* Candidates from ratio 1 (no clipping) downwards; ties keep the larger
         * range, so a zero or constant channel keeps the max scale. */
        for (int i = 1; i < o->mse_grid; i++) {
            double r = 1.0 - (1.0 - o->mse_min_ratio) * (double)i / (double)(o->mse_grid - 1);
            float s;
            int32_t z;
            YQ_TRY(yq_qparams_from_range(lo * r, hi * r, f, &s, &z));
            double e = lp_error(x, n, s, z, qmin, qmax, o->mse_norm);
            if (e < best_e) {
                best_e = e;
                best_s = s;
                best_z = z;
            }
        }
        *scale = best_s;
        *zp = best_z;
        return YQ_OK;
    }
    }
    return yq_fail(YQ_ERR_ARG, "quantization: unknown scale method %d", (int)o->method);
}

yq_status yq_weight_qparams(const float *w, int64_t rows, int64_t cols, int per_channel, int64_t group,
                            const yq_qformat *f, const yq_scale_opts *o, yq_qparams *out) {
    memset(out, 0, sizeof *out);
    if (!f->is_signed) return yq_fail(YQ_ERR_ARG, "weight quantization: weights use signed grids (int8 storage)");
    if (rows < 1 || cols < 1) return yq_fail(YQ_ERR_ARG, "weight quantization: empty [%lld, %lld] matrix",
                                             (long long)rows, (long long)cols);
    if (group < 0 || (group > 0 && !per_channel))
        return yq_fail(YQ_ERR_ARG, "weight quantization: group size %lld needs per-channel granularity",
                       (long long)group);
    int64_t ngroups = group > 0 ? (cols + group - 1) / group : 1;
    int64_t nch = !per_channel ? 1 : rows * ngroups;
    if (nch > INT32_MAX) return yq_fail(YQ_ERR_LIMIT, "weight quantization: %lld scales", (long long)nch);
    YQ_TRY(yq_qparams_alloc(out, f->bits, f->is_signed, f->narrow, !per_channel ? -1 : (group > 0 ? 1 : 0),
                            (int)nch));
    out->block_size = group;
    yq_status st = YQ_OK;
    if (!per_channel) {
        st = yq_choose_qparams(w, rows * cols, f, o, &out->scale[0], &out->zero_point[0]);
    } else {
        for (int64_t r = 0; r < rows && st == YQ_OK; r++) {
            for (int64_t gi = 0; gi < ngroups && st == YQ_OK; gi++) {
                int64_t c0 = group > 0 ? gi * group : 0;
                int64_t len = group > 0 ? (cols - c0 < group ? cols - c0 : group) : cols;
                int64_t k = r * ngroups + gi;
                st = yq_choose_qparams(w + r * cols + c0, len, f, o, &out->scale[k], &out->zero_point[k]);
                if (st != YQ_OK) yq_fail_prefix(st, "row %lld", (long long)r);
            }
        }
    }
    if (st != YQ_OK) yq_qparams_free(out);
    return st;
}

yq_status yq_quantize_matrix(const float *w, int64_t rows, int64_t cols, const yq_qparams *qp, int8_t *q,
                             float *dq) {
    int64_t need;
    if (qp->axis < 0)
        need = 1;
    else if (qp->axis == 0 && qp->block_size == 0)
        need = rows;
    else if (qp->axis == 1 && qp->block_size > 0)
        need = rows * ((cols + qp->block_size - 1) / qp->block_size);
    else
        return yq_fail(YQ_ERR_ARG, "quantize matrix: axis %d with block size %lld does not fit a [rows, cols] "
                       "matrix", qp->axis, (long long)qp->block_size);
    if (need != qp->nch)
        return yq_fail(YQ_ERR_ARG, "quantize matrix: %d scales for %lld needed", qp->nch, (long long)need);
    int32_t qmin = yq_qmin(qp->bits, qp->is_signed, qp->narrow), qmax = yq_qmax(qp->bits, qp->is_signed, qp->narrow);
    if (q && (qmin < INT8_MIN || qmax > INT8_MAX))
        return yq_fail(YQ_ERR_ARG, "quantize matrix: the %s%d grid does not fit int8", qp->is_signed ? "int" : "uint",
                       qp->bits);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            int64_t k = yq_qparams_index(qp, cols, r, c);
            int32_t v = yq_quantize_value(w[r * cols + c], qp->scale[k], qp->zero_point[k], qmin, qmax);
            if (q) q[r * cols + c] = (int8_t)v;
            if (dq) dq[r * cols + c] = yq_dequantize_value(v, qp->scale[k], qp->zero_point[k]);
        }
    }
    return YQ_OK;
}
