#include "quant/observer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Smallest histogram half-width: a tensor of zeros still gets a grid. */
#define MIN_RANGE_EXP (-24)

const char *yq_observer_kind_name(yq_observer_kind k) {
    switch (k) {
    case YQ_OBS_MINMAX: return "minmax";
    case YQ_OBS_PERCENTILE: return "percentile";
    case YQ_OBS_MSE: return "mse";
    case YQ_OBS_ENTROPY: return "entropy";
    }
    return "?";
}

void yq_observer_opts_default(yq_observer_opts *o, yq_observer_kind kind) {
    o->kind = kind;
    o->nbins = 4096;
    o->percentile = 99.99;
    o->mse_grid = 200;
    o->mse_min_ratio = 0.05;
}

yq_status yq_observer_init(yq_observer *ob, const yq_observer_opts *o) {
    memset(ob, 0, sizeof *ob);
    if (o->kind < YQ_OBS_MINMAX || o->kind > YQ_OBS_ENTROPY)
        return yq_fail(YQ_ERR_ARG, "observer: unknown kind %d", (int)o->kind);
    if (o->kind != YQ_OBS_MINMAX && (o->nbins < 64 || o->nbins % 4 || o->nbins > (1 << 24)))
        return yq_fail(YQ_ERR_ARG, "observer: %d bins (a multiple of 4 in [64, 2^24])", o->nbins);
    if (o->kind == YQ_OBS_PERCENTILE && !(o->percentile > 50 && o->percentile <= 100))
        return yq_fail(YQ_ERR_ARG, "observer: percentile %g is outside (50, 100]", o->percentile);
    if (o->kind == YQ_OBS_MSE && (o->mse_grid < 1 || !(o->mse_min_ratio > 0 && o->mse_min_ratio <= 1)))
        return yq_fail(YQ_ERR_ARG, "observer: MSE search grid %d, min ratio %g", o->mse_grid, o->mse_min_ratio);
    ob->opts = *o;
    if (o->kind != YQ_OBS_MINMAX) {
        ob->hist = yq_calloc((size_t)o->nbins, sizeof *ob->hist);
        if (!ob->hist) return YQ_ERR_NOMEM;
    }
    return YQ_OK;
}

void yq_observer_free(yq_observer *ob) {
    if (!ob) return;
    free(ob->hist);
    memset(ob, 0, sizeof *ob);
}

/* Smallest power of two strictly greater than a (a >= 0). */
static double pow2_above(double a) {
    int e;
    frexp(a, &e); /* a = m·2^e, m in [0.5, 1): 2^e > a */
    if (a == 0 || e < MIN_RANGE_EXP) e = MIN_RANGE_EXP;
    return ldexp(1.0, e);
}

static yq_status grow_range(yq_observer *ob, double absmax) {
    const int n = ob->opts.nbins;
    if (ob->range == 0) {
        ob->range = pow2_above(absmax);
        return YQ_OK;
    }
    if (absmax < ob->range) return YQ_OK;
    int64_t *tmp = yq_malloc((size_t)n * sizeof *tmp);
    if (!tmp) return YQ_ERR_NOMEM;
    while (absmax >= ob->range) {
        /* [-R, R) becomes the middle half of [-2R, 2R): old bins 2m and 2m+1
         * are exactly new bin n/4 + m. */
        memset(tmp, 0, (size_t)n * sizeof *tmp);
        for (int m = 0; m < n / 2; m++) tmp[n / 4 + m] = ob->hist[2 * m] + ob->hist[2 * m + 1];
        memcpy(ob->hist, tmp, (size_t)n * sizeof *tmp);
        ob->range *= 2;
    }
    free(tmp);
    return YQ_OK;
}

yq_status yq_observer_update(yq_observer *ob, const float *x, int64_t n) {
    double bmin = INFINITY, bmax = -INFINITY;
    int64_t finite = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) {
            ob->nonfinite++;
            continue;
        }
        finite++;
        if (v < bmin) bmin = v;
        if (v > bmax) bmax = v;
    }
    if (finite == 0) return YQ_OK;
    if (ob->count == 0) {
        ob->min = bmin;
        ob->max = bmax;
    } else {
        if (bmin < ob->min) ob->min = bmin;
        if (bmax > ob->max) ob->max = bmax;
    }
    ob->count += finite;
    if (!ob->hist) return YQ_OK;
    YQ_TRY(grow_range(ob, fmax(-bmin, bmax)));
    const int nb = ob->opts.nbins;
    const double R = ob->range, inv_w = (double)nb / (2.0 * R); /* powers of two: exact */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) continue;
        int64_t b = (int64_t)floor(((double)v + R) * inv_w);
        if (b < 0) b = 0;
        if (b >= nb) b = nb - 1;
        ob->hist[b]++;
    }
    return YQ_OK;
}

/* ---- histogram queries ------------------------------------------------------- */

/* Value below which a fraction q of the histogram mass lies (interpolated
 * linearly within the bin). */
static double hist_quantile(const int64_t *h, int nb, double left, double width, int64_t total, double q) {
    double target = q * (double)total, cum = 0;
    for (int b = 0; b < nb; b++) {
        if (h[b] == 0) continue;
        if (cum + (double)h[b] >= target) {
            double t = (target - cum) / (double)h[b];
            if (t < 0) t = 0;
            return left + ((double)b + t) * width;
        }
        cum += (double)h[b];
    }
    return left + (double)nb * width;
}

/* |x| histogram: bin i covers [i·w, (i+1)·w), from the bins mirrored around 0. */
static void fold_abs(const int64_t *h, int nb, int64_t *a) {
    for (int i = 0; i < nb / 2; i++) a[i] = h[nb / 2 + i] + h[nb / 2 - 1 - i];
}

yq_status yq_entropy_threshold(const int64_t *h, int nbins, double width, int nquant, double *threshold) {
    int last = -1;
    for (int i = 0; i < nbins; i++)
        if (h[i]) last = i;
    *threshold = 0;
    if (last < 0) return YQ_OK;
    int used = last + 1;
    if (nquant < 1) nquant = 1;
    /* Fewer occupied bins than levels: nothing to gain from clipping. */
    *threshold = (double)used * width;
    if (used <= nquant) return YQ_OK;
    double *P = yq_malloc((size_t)used * sizeof *P), *Q = yq_malloc((size_t)used * sizeof *Q);
    if (!P || !Q) {
        free(P);
        free(Q);
        return YQ_ERR_NOMEM;
    }
    double total = 0;
    for (int j = 0; j < used; j++) total += (double)h[j];
    double best_kl = INFINITY;
    int best_i = used;
    double below = 0; /* mass of h[0..i) */
    for (int j = 0; j < nquant - 1; j++) below += (double)h[j];
    for (int i = nquant; i <= used; i++) {
        below += (double)h[i - 1];
        /* P: the first i bins, with everything beyond folded into the last
         * (that is what clipping at i·w does to the tail). */
        for (int j = 0; j < i; j++) P[j] = (double)h[j];
        P[i - 1] += total - below;
        /* Q: the unclipped first i bins merged into nquant levels, each level's
         * mass spread evenly over the bins where P is non-zero. */
        for (int c = 0; c < nquant; c++) {
            int start = (int)((int64_t)c * i / nquant), stop = (int)((int64_t)(c + 1) * i / nquant);
            double sum = 0;
            int nz = 0;
            for (int j = start; j < stop; j++) {
                sum += (double)h[j];
                nz += P[j] != 0;
            }
            for (int j = start; j < stop; j++) Q[j] = (P[j] != 0 && nz) ? sum / nz : 0.0;
        }
        double sp = 0, sq = 0;
        for (int j = 0; j < i; j++) {
            sp += P[j];
            sq += Q[j];
        }
        if (sq <= 0) continue;
        /* KL(P || Q); where Q is empty but P is not (the clipped tail landed
         * in a bin the levels do not cover) Q is smoothed to 1e-4. */
        double kl = 0;
        for (int j = 0; j < i; j++) {
            if (P[j] == 0) continue;
            double p = P[j] / sp, q = Q[j] / sq;
            if (q <= 0) q = 1e-4;
            kl += p * log(p / q);
        }
        if (kl < best_kl) {
            best_kl = kl;
            best_i = i;
        }
    }
    free(P);
    free(Q);
    *threshold = (double)best_i * width;
    return YQ_OK;
}

/* Expected squared error of fake-quantizing the histogram (bin centres). */
static double hist_mse(const int64_t *h, const int *nz, int nnz, double left, double width, float scale, int32_t zp,
                       int32_t qmin, int32_t qmax) {
    double e = 0;
    for (int k = 0; k < nnz; k++) {
        int b = nz[k];
        float c = (float)(left + ((double)b + 0.5) * width);
        double d = (double)c - (double)yq_fake_quantize(c, scale, zp, qmin, qmax);
        e += (double)h[b] * d * d;
    }
    return e;
}

yq_status yq_observer_range(const yq_observer *ob, const yq_qformat *f, double *lo, double *hi) {
    YQ_TRY(yq_qrange_check(f->bits, f->is_signed, f->narrow));
    if (ob->count == 0)
        return yq_fail(YQ_ERR_INVALID, "observer: no finite value was observed (%lld non-finite)",
                       (long long)ob->nonfinite);
    const double amax = fmax(fabs(ob->min), fabs(ob->max));
    const double pos_ext = fmax(ob->max, 0), neg_ext = fmax(-ob->min, 0);
    const int nb = ob->opts.nbins;
    const double R = ob->range, w = 2.0 * R / nb;
    switch (ob->opts.kind) {
    case YQ_OBS_MINMAX:
        *lo = f->symmetric ? -amax : ob->min;
        *hi = f->symmetric ? amax : ob->max;
        return YQ_OK;
    case YQ_OBS_PERCENTILE: {
        double p = ob->opts.percentile / 100.0;
        if (f->symmetric) {
            int64_t *a = yq_malloc((size_t)(nb / 2) * sizeof *a);
            if (!a) return YQ_ERR_NOMEM;
            fold_abs(ob->hist, nb, a);
            double t = fmin(hist_quantile(a, nb / 2, 0.0, w, ob->count, p), amax);
            free(a);
            *lo = -t;
            *hi = t;
        } else {
            *lo = fmax(hist_quantile(ob->hist, nb, -R, w, ob->count, 1.0 - p), ob->min);
            *hi = fmin(hist_quantile(ob->hist, nb, -R, w, ob->count, p), ob->max);
        }
        return YQ_OK;
    }
    case YQ_OBS_MSE: {
        int *nz = yq_malloc((size_t)nb * sizeof *nz);
        if (!nz) return YQ_ERR_NOMEM;
        int nnz = 0;
        for (int b = 0; b < nb; b++)
            if (ob->hist[b]) nz[nnz++] = b;
        int32_t qmin = yq_qmin(f->bits, f->is_signed, f->narrow), qmax = yq_qmax(f->bits, f->is_signed, f->narrow);
        double blo = f->symmetric ? -amax : ob->min, bhi = f->symmetric ? amax : ob->max;
        double best_e = INFINITY, best_r = 1.0;
        yq_status st = YQ_OK;
        /* From no clipping down; ties keep the wider range. */
        for (int i = 0; i < ob->opts.mse_grid; i++) {
            double r = ob->opts.mse_grid == 1
                           ? 1.0
                           : 1.0 - (1.0 - ob->opts.mse_min_ratio) * (double)i / (double)(ob->opts.mse_grid - 1);
            float s;
            int32_t z;
            st = yq_qparams_from_range(blo * r, bhi * r, f, &s, &z);
            if (st != YQ_OK) break;
            double e = hist_mse(ob->hist, nz, nnz, -R, w, s, z, qmin, qmax);
            if (e < best_e) {
                best_e = e;
                best_r = r;
            }
        }
        free(nz);
        if (st != YQ_OK) return st;
        *lo = blo * best_r;
        *hi = bhi * best_r;
        return YQ_OK;
    }
    case YQ_OBS_ENTROPY: {
        int half = nb / 2;
        int64_t *a = yq_malloc((size_t)half * sizeof *a);
        if (!a) return YQ_ERR_NOMEM;
        if (f->symmetric) {
            /* TensorRT: |x| histogram, 2^(bits-1) levels on the magnitude. */
            fold_abs(ob->hist, nb, a);
            double t;
            yq_status st = yq_entropy_threshold(a, half, w, 1 << (f->bits - 1), &t);
            free(a);
            if (st != YQ_OK) return st;
            t = fmin(t, amax);
            *lo = -t;
            *hi = t;
            return YQ_OK;
        } else {
            /* Asymmetric grids: each side of zero gets its own threshold, with
             * the levels shared in proportion to the side's extent (a
             * post-ReLU tensor gives all 2^bits - 1 steps to the positive
             * side, a symmetric one about 2^(bits-1) to each). A side with
             * fewer occupied bins than its levels is not clipped. */
            int levels = (1 << f->bits) - 1;
            int npos = (int)lround((double)levels * pos_ext / (pos_ext + neg_ext > 0 ? pos_ext + neg_ext : 1));
            int nneg = levels - npos;
            enum { MIN_LEVELS = 16 };
            double tp = 0, tn = 0;
            yq_status st = YQ_OK;
            for (int i = 0; i < half; i++) a[i] = ob->hist[half + i];
            if (pos_ext > 0) st = yq_entropy_threshold(a, half, w, npos > MIN_LEVELS ? npos : MIN_LEVELS, &tp);
            for (int i = 0; i < half; i++) a[i] = ob->hist[half - 1 - i];
            if (st == YQ_OK && neg_ext > 0)
                st = yq_entropy_threshold(a, half, w, nneg > MIN_LEVELS ? nneg : MIN_LEVELS, &tn);
            free(a);
            if (st != YQ_OK) return st;
            *hi = fmin(tp, pos_ext);
            *lo = -fmin(tn, neg_ext);
            return YQ_OK;
        }
    }
    }
    return yq_fail(YQ_ERR_ARG, "observer: unknown kind %d", (int)ob->opts.kind);
}

yq_status yq_observer_qparams(const yq_observer *ob, const yq_qformat *f, float *scale, int32_t *zp) {
    double lo, hi;
    YQ_TRY(yq_observer_range(ob, f, &lo, &hi));
    return yq_qparams_from_range(lo, hi, f, scale, zp);
}
