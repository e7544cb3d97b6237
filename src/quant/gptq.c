#include "quant/gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt/ops.h"

void yq_gptq_opts_default(yq_gptq_opts *o, int bits) {
    memset(o, 0, sizeof *o);
    o->format.bits = bits;
    o->format.is_signed = 1;
    o->format.narrow = 0;
    o->format.symmetric = 1;
    yq_scale_opts_default(&o->scale);
    o->percdamp = 0.01;
    o->act_order = 1;
    o->block_size = 128;
    o->group_size = 0;
    o->max_damp_retries = 6;
}

void yq_gptq_result_free(yq_gptq_result *res) {
    if (!res) return;
    free(res->q);
    free(res->dq);
    yq_qparams_free(&res->qp);
    memset(res, 0, sizeof *res);
}

/* ---- dense linear algebra ------------------------------------------------- */

/* a·b with four interleaved partial sums (a fixed order, so results are
 * reproducible) — breaks the add latency chain that makes a plain loop
 * several times slower on the O(n³) factorisations. */
static double dot(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < n; k++) s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

/* out[t] = a[t]·b for four vectors a[t] sharing b: b is loaded once for four
 * dot products, which is what bounds the factorisations below once the
 * matrix no longer fits in cache. */
static void dot4(const double *const a[4], const double *b, int64_t n, double out[4]) {
    const double *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t k = 0; k < n; k++) {
        double bk = b[k];
        s0 += a0[k] * bk;
        s1 += a1[k] * bk;
        s2 += a2[k] * bk;
        s3 += a3[k] * bk;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

int yq_cholesky_lower(double *a, int64_t n) {
    /* Row-oriented Cholesky–Crout, four rows at a time: for every earlier
     * row j, L[i][j] = (A[i][j] - L[i][:j]·L[j][:j]) / L[j][j], with row j
     * shared by the four rows i of the tile. */
    for (int64_t i0 = 0; i0 < n; i0 += 4) {
        const int64_t T = n - i0 < 4 ? n - i0 : 4;
        if (T == 4) {
            double *r[4] = {a + i0 * n, a + (i0 + 1) * n, a + (i0 + 2) * n, a + (i0 + 3) * n};
            const double *rc[4] = {r[0], r[1], r[2], r[3]};
            for (int64_t j = 0; j < i0; j++) {
                const double *rj = a + j * n;
                double s[4];
                dot4(rc, rj, j, s);
                for (int t = 0; t < 4; t++) r[t][j] = (r[t][j] - s[t]) / rj[j];
            }
        } else {
            for (int64_t t = 0; t < T; t++) {
                double *ri = a + (i0 + t) * n;
                for (int64_t j = 0; j < i0; j++) ri[j] = (ri[j] - dot(ri, a + j * n, j)) / a[j * n + j];
            }
        }
        /* The tile's own lower triangle. */
        for (int64_t i = i0; i < i0 + T; i++) {
            double *ri = a + i * n;
            const double aii = ri[i];
            for (int64_t j = i0; j <= i; j++) {
                const double *rj = a + j * n;
                double s = ri[j] - dot(ri, rj, j);
                if (i == j) {
                    /* A pivot that cancels to rounding noise means A is
                     * singular to working precision: its inverse would be
                     * garbage, so report failure (GPTQ then damps harder). */
                    if (!(s > 1e-12 * aii) || !isfinite(s)) return -1;
                    ri[i] = sqrt(s);
                } else {
                    ri[j] = s / rj[j];
                }
            }
        }
    }
    return 0;
}

/* U upper with UᵀU = (A + damp·I)⁻¹.
 * With J the reversal permutation, chol(J A J) = L' gives A = R Rᵀ with
 * R = J L' J upper triangular, hence A⁻¹ = R⁻ᵀ R⁻¹ and U = R⁻¹ = J L'⁻¹ J,
 * the unique upper factor with a positive diagonal. This is the factor the
 * reference obtains as cholesky(cholesky_inverse(cholesky(A)), upper=True),
 * for one factorisation and one triangular inverse (n³/3 flops in all). */
static int inverse_cholesky_upper_damped(const double *a, int64_t n, double damp, double *u, double *work) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) work[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
    for (int64_t i = 0; i < n; i++) work[i * n + i] += damp;
    if (yq_cholesky_lower(work, n) != 0) return -1;
    /* Mt = (L'⁻¹)ᵀ, upper triangular: row j of Mt is column j of L'⁻¹, by
     * forward substitution: Mt[j][i] = -L'[i][j..i)·Mt[j][j..i) / L'[i][i].
     * Four rows j0..j0+3 of Mt at a time share each row i of L'. */
    memset(u, 0, (size_t)n * (size_t)n * sizeof *u);
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
        const int64_t T = n - j0 < 4 ? n - j0 : 4;
        for (int64_t t = 0; t < T; t++) u[(j0 + t) * n + j0 + t] = 1.0 / work[(j0 + t) * n + j0 + t];
        for (int64_t i = j0 + 1; i < n; i++) {
            const double *li = work + i * n;
            if (T == 4 && i > j0 + 3) {
                /* shared part k in [j0+3, i), then each row's short prefix */
                const double *m[4] = {u + j0 * n + j0 + 3, u + (j0 + 1) * n + j0 + 3, u + (j0 + 2) * n + j0 + 3,
                                      u + (j0 + 3) * n + j0 + 3};
                double s[4];
                dot4(m, li + j0 + 3, i - (j0 + 3), s);
                for (int t = 0; t < 4; t++) {
                    const int64_t j = j0 + t;
                    double *mt = u + j * n;
                    mt[i] = -(dot(li + j, mt + j, (j0 + 3) - j) + s[t]) / li[i];
                }
            } else {
                for (int64_t t = 0; t < T; t++) {
                    const int64_t j = j0 + t;
                    if (j >= i) continue;
                    double *mt = u + j * n;
                    mt[i] = -dot(li + j, mt + j, i - j) / li[i];
                }
            }
        }
    }
    /* U[a][b] = L'⁻¹[n-1-a][n-1-b] = Mt[n-1-b][n-1-a]: an anti-transpose of
     * Mt, done in place by swapping each pair once. */
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; r + c < n - 1; c++) {
            double *p = u + r * n + c, *q = u + (n - 1 - c) * n + (n - 1 - r);
            double t = *p;
            *p = *q;
            *q = t;
        }
    for (int64_t i = 0; i < n * n; i++)
        if (!isfinite(u[i])) return -1;
    return 0;
}

int yq_inverse_cholesky_upper(const double *a, int64_t n, double *u, double *work) {
    return inverse_cholesky_upper_damped(a, n, 0.0, u, work);
}

/* ---- GPTQ ---------------------------------------------------------------------- */

typedef struct diag_key {
    double d;
    int64_t i;
} diag_key;

static int cmp_diag_desc(const void *pa, const void *pb) {
    const diag_key *a = pa, *b = pb;
    if (a->d != b->d) return a->d > b->d ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i); /* stable: ties keep column order */
}

static yq_status check_fixed(const yq_qparams *qp, int64_t rows, int64_t cols) {
    if (!qp->is_signed) return yq_fail(YQ_ERR_ARG, "GPTQ: weights use signed grids");
    if (qp->bits < 2 || qp->bits > 8) return yq_fail(YQ_ERR_ARG, "GPTQ: %d-bit weights", qp->bits);
    if (!(qp->axis == 0 && qp->block_size == 0 && qp->nch == rows) &&
        !(qp->axis == 1 && qp->block_size > 0 && qp->nch == rows * ((cols + qp->block_size - 1) / qp->block_size)))
        return yq_fail(YQ_ERR_ARG, "GPTQ: given scales (axis %d, block %lld, %d scales) are neither per row nor "
                       "per group for a [%lld, %lld] weight", qp->axis, (long long)qp->block_size, qp->nch,
                       (long long)rows, (long long)cols);
    const int32_t qmin = yq_qmin(qp->bits, 1, qp->narrow), qmax = yq_qmax(qp->bits, 1, qp->narrow);
    for (int i = 0; i < qp->nch; i++)
        if (!isfinite(qp->scale[i]) || !(qp->scale[i] > 0) || qp->zero_point[i] < qmin || qp->zero_point[i] > qmax)
            return yq_fail(YQ_ERR_ARG, "GPTQ: given scale %d is %g with zero point %d", i, qp->scale[i],
                           qp->zero_point[i]);
    return YQ_OK;
}

yq_status yq_gptq_quantize(const float *w, int64_t rows, int64_t cols, const double *H, const yq_gptq_opts *o,
                           const yq_qparams *fixed, yq_gptq_result *res) {
    memset(res, 0, sizeof *res);
    res->qp.axis = -1;
    const yq_qformat *f = &o->format;
    if (rows < 1 || cols < 1)
        return yq_fail(YQ_ERR_ARG, "GPTQ: empty [%lld, %lld] weight", (long long)rows, (long long)cols);
    if (!f->is_signed || f->bits < 2 || f->bits > 8)
        return yq_fail(YQ_ERR_ARG, "GPTQ: %s%d weights are not supported (signed 2..8 bits)",
                       f->is_signed ? "int" : "uint", f->bits);
    if (o->block_size < 1 || o->group_size < 0 || !(o->percdamp > 0) || o->max_damp_retries < 0)
        return yq_fail(YQ_ERR_ARG, "GPTQ: bad options (block %d, group %d, damp %g, retries %d)", o->block_size,
                       o->group_size, o->percdamp, o->max_damp_retries);
    if (fixed) YQ_TRY(check_fixed(fixed, rows, cols));
    const int64_t K = cols;
    size_t kk, rk;
    if (yq_mul_overflow((size_t)K, (size_t)K, &kk) || yq_mul_overflow(kk, sizeof(double), &kk) ||
        yq_mul_overflow((size_t)rows, (size_t)K, &rk) || rk > (size_t)1 << 34)
        return yq_fail(YQ_ERR_LIMIT, "GPTQ: [%lld, %lld] weight is too large", (long long)rows, (long long)K);
    for (size_t i = 0; i < (size_t)K * (size_t)K; i++)
        if (!isfinite(H[i])) return yq_fail(YQ_ERR_INVALID, "GPTQ: the Hessian has a non-finite entry");
    for (size_t i = 0; i < rk; i++)
        if (!isfinite(w[i]))
            return yq_fail(YQ_ERR_INVALID, "GPTQ: weight [%lld, %lld] is %g", (long long)(i / (size_t)K),
                           (long long)(i % (size_t)K), w[i]);

    const int64_t group = fixed ? (fixed->block_size > 0 ? fixed->block_size : 0) : o->group_size;
    const int64_t ngroups = group > 0 ? (K + group - 1) / group : 1;
    const int dynamic_groups = !fixed && group > 0 && !o->act_order;
    /* With dynamic groups, blocks are whole groups: a group's scale is then
     * chosen from columns that already received every earlier update. */
    int64_t block = o->block_size;
    if (dynamic_groups) block = group * (block / group > 0 ? block / group : 1);

    yq_status st = YQ_OK;
    double *Hw = yq_malloc(kk), *U = yq_malloc(kk), *work = yq_malloc(kk);
    double *W = yq_malloc(rk * sizeof(double));
    double *Err = yq_malloc((size_t)rows * (size_t)block * sizeof(double));
    int64_t *perm = yq_malloc((size_t)K * sizeof *perm);
    float *wf = yq_malloc(rk * sizeof(float));
    float *gbuf = yq_malloc((size_t)(group > 0 ? group : 1) * sizeof(float));
    res->q = yq_malloc(rk);
    res->dq = yq_malloc(rk * sizeof(float));
    if (!Hw || !U || !work || !W || !Err || !perm || !wf || !gbuf || !res->q || !res->dq) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    memcpy(Hw, H, kk);
    for (size_t i = 0; i < rk; i++) W[i] = (double)w[i];

    /* Dead inputs (always zero in calibration): nothing constrains their
     * weights, and a zero diagonal would make H singular. Their weights are
     * set to 0 (so they also do not widen the scales) and H_ii to 1. */
    for (int64_t i = 0; i < K; i++) {
        if (Hw[i * K + i] == 0.0) {
            Hw[i * K + i] = 1.0;
            for (int64_t r = 0; r < rows; r++) W[r * K + i] = 0.0;
            res->dead_columns++;
        }
    }
    for (size_t i = 0; i < rk; i++) wf[i] = (float)W[i];

    /* Scales: given, chosen now from the (dead-zeroed) weights, or per group
     * during the sweep. */
    if (fixed) {
        st = yq_qparams_copy(&res->qp, fixed);
    } else if (!dynamic_groups) {
        st = yq_weight_qparams(wf, rows, K, 1, group, f, &o->scale, &res->qp);
    } else {
        st = yq_qparams_alloc(&res->qp, f->bits, f->is_signed, f->narrow, 1, (int)(rows * ngroups));
        res->qp.block_size = group;
    }
    if (st != YQ_OK) goto out;

    /* Column order. */
    for (int64_t i = 0; i < K; i++) perm[i] = i;
    if (o->act_order) {
        diag_key *keys = yq_malloc((size_t)K * sizeof *keys);
        if (!keys) {
            st = YQ_ERR_NOMEM;
            goto out;
        }
        for (int64_t i = 0; i < K; i++) keys[i] = (diag_key){Hw[i * K + i], i};
        qsort(keys, (size_t)K, sizeof *keys, cmp_diag_desc);
        for (int64_t i = 0; i < K; i++) perm[i] = keys[i].i;
        free(keys);
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < K; j++) work[i * K + j] = Hw[perm[i] * K + perm[j]];
        memcpy(Hw, work, kk);
        for (int64_t r = 0; r < rows; r++) {
            double *wr = W + r * K;
            for (int64_t j = 0; j < K; j++) work[j] = wr[perm[j]];
            memcpy(wr, work, (size_t)K * sizeof(double));
        }
    }

    /* Damping keeps H well conditioned (few samples, correlated inputs). If
     * it is still not positive definite, damp harder rather than fail. */
    double mean_diag = 0;
    for (int64_t i = 0; i < K; i++) {
        if (Hw[i * K + i] < 0) {
            st = yq_fail(YQ_ERR_INVALID, "GPTQ: the Hessian has a negative diagonal entry (%g at %lld)",
                         Hw[i * K + i], (long long)perm[i]);
            goto out;
        }
        mean_diag += Hw[i * K + i];
    }
    mean_diag /= (double)K;
    double damp = o->percdamp * mean_diag;
    for (;;) {
        if (inverse_cholesky_upper_damped(Hw, K, damp, U, work) == 0) break;
        if (res->damp_retries >= o->max_damp_retries) {
            st = yq_fail(YQ_ERR_INVALID, "GPTQ: the Hessian [%lld, %lld] is not positive definite even with "
                         "damping %g (%d increases)", (long long)K, (long long)K, damp, res->damp_retries);
            goto out;
        }
        damp *= 10.0;
        res->damp_retries++;
    }
    res->damp = damp;

    const yq_qparams *qp = &res->qp; /* the grid: given, or chosen from o->format */
    const int32_t qmin = yq_qmin(qp->bits, 1, qp->narrow), qmax = yq_qmax(qp->bits, 1, qp->narrow);
    double loss = 0;
    for (int64_t i1 = 0; i1 < K; i1 += block) {
        int64_t i2 = i1 + block < K ? i1 + block : K;
        for (int64_t j = i1; j < i2; j++) {
            int64_t col = perm[j];
            if (dynamic_groups && j % group == 0) {
                int64_t len = K - j < group ? K - j : group;
                for (int64_t r = 0; r < rows; r++) {
                    for (int64_t t = 0; t < len; t++) gbuf[t] = (float)W[r * K + j + t];
                    int64_t k = r * ngroups + j / group;
                    st = yq_choose_qparams(gbuf, len, f, &o->scale, &res->qp.scale[k], &res->qp.zero_point[k]);
                    if (st != YQ_OK) {
                        yq_fail_prefix(st, "GPTQ: row %lld, group %lld", (long long)r, (long long)(j / group));
                        goto out;
                    }
                }
            }
            const double d = U[j * K + j];
            const double *urow = U + j * K;
            for (int64_t r = 0; r < rows; r++) {
                double *wr = W + r * K;
                int64_t k = qp->block_size > 0 ? r * ngroups + col / qp->block_size : r;
                float s = qp->scale[k];
                int32_t z = qp->zero_point[k];
                int32_t qv = yq_quantize_value((float)wr[j], s, z, qmin, qmax);
                float dqv = yq_dequantize_value(qv, s, z);
                res->q[r * K + col] = (int8_t)qv;
                res->dq[r * K + col] = dqv;
                /* Error feedback within the block: the columns after j absorb
                 * the rounding error of column j, weighted by Hinv's row. */
                double e = (wr[j] - (double)dqv) / d;
                loss += e * e / 2.0;
                Err[r * block + (j - i1)] = e;
                if (e != 0.0)
                    for (int64_t c = j + 1; c < i2; c++) wr[c] -= e * urow[c];
            }
        }
        /* Lazy batch update: the columns after the block receive all of its
         * errors at once (W[:, i2:] -= Err · U[i1:i2, i2:]). */
        if (i2 < K) {
            for (int64_t r = 0; r < rows; r++) {
                double *wr = W + r * K;
                for (int64_t t = 0; t < i2 - i1; t++) {
                    double e = Err[r * block + t];
                    if (e == 0.0) continue;
                    const double *urow = U + (i1 + t) * K;
                    for (int64_t c = i2; c < K; c++) wr[c] -= e * urow[c];
                }
            }
        }
    }
    res->loss = loss;
out:
    free(Hw);
    free(U);
    free(work);
    free(W);
    free(Err);
    free(perm);
    free(wf);
    free(gbuf);
    if (st != YQ_OK) yq_gptq_result_free(res);
    return st;
}

/* ---- Hessian statistics ------------------------------------------------------ */

void yq_hessian_accumulate(double *H, const float *X, int64_t nrows, int64_t K) {
    /* Upper triangle, eight rows of X at a time: H[i][j] += sum_t x_t[i]·x_t[j]
     * with the eight products summed before touching H, so every row of H
     * is read and written once per eight samples. Then mirrored. Fixed
     * order: the result depends only on the rows and how they are batched. */
    enum { TILE = 8 };
    for (int64_t r0 = 0; r0 < nrows; r0 += TILE) {
        const int64_t nr = nrows - r0 < TILE ? nrows - r0 : TILE;
        const float *x[TILE];
        for (int64_t t = 0; t < TILE; t++) x[t] = X + (r0 + (t < nr ? t : 0)) * K;
        for (int64_t i = 0; i < K; i++) {
            double a[TILE];
            int any = 0;
            for (int64_t t = 0; t < TILE; t++) {
                a[t] = t < nr ? (double)x[t][i] : 0.0; /* missing rows of a last partial tile weigh 0 */
                any |= a[t] != 0.0;
            }
            if (!any) continue;
            double *hi = H + i * K;
            for (int64_t j = i; j < K; j++) {
                double s = a[0] * (double)x[0][j] + a[1] * (double)x[1][j] + a[2] * (double)x[2][j] +
                           a[3] * (double)x[3][j] + a[4] * (double)x[4][j] + a[5] * (double)x[5][j] +
                           a[6] * (double)x[6][j] + a[7] * (double)x[7][j];
                hi[j] += s;
            }
        }
    }
    for (int64_t i = 1; i < K; i++)
        for (int64_t j = 0; j < i; j++) H[i * K + j] = H[j * K + i];
}

void yq_hessian_finalize(double *H, int64_t K, int64_t nrows_total) {
    if (nrows_total <= 0) return;
    double f = 2.0 / (double)nrows_total;
    for (int64_t i = 0; i < K * K; i++) H[i] *= f;
}

/* ---- convolution rows ------------------------------------------------------------- */

yq_status yq_conv_geom_check(yq_conv_geom *g) {
    if (g->n < 1 || g->c < 1 || g->h < 1 || g->w < 1 || g->cout < 1 || g->kh < 1 || g->kw < 1 || g->stride_h < 1 ||
        g->stride_w < 1 || g->dil_h < 1 || g->dil_w < 1 || g->group < 1 || g->pad_t < 0 || g->pad_l < 0 ||
        g->pad_b < 0 || g->pad_r < 0)
        return yq_fail(YQ_ERR_INVALID, "conv geometry: non-positive size, stride, dilation or group, or negative pad");
    if (g->c % g->group || g->cout % g->group)
        return yq_fail(YQ_ERR_INVALID, "conv geometry: group %lld does not divide channels %lld -> %lld",
                       (long long)g->group, (long long)g->c, (long long)g->cout);
    int64_t eh = g->dil_h * (g->kh - 1) + 1, ew = g->dil_w * (g->kw - 1) + 1;
    int64_t ph = g->h + g->pad_t + g->pad_b, pw = g->w + g->pad_l + g->pad_r;
    if (ph < eh || pw < ew) return yq_fail(YQ_ERR_INVALID, "conv geometry: kernel larger than the padded input");
    g->oh = (ph - eh) / g->stride_h + 1;
    g->ow = (pw - ew) / g->stride_w + 1;
    return YQ_OK;
}

yq_status yq_conv_geom_from_node(const yq_graph *gr, int node, const int64_t in_dims[4], yq_conv_geom *out) {
    const yq_node *n = &gr->nodes[node];
    memset(out, 0, sizeof *out);
    if (yq_op_lookup(n->domain, n->op_type) != YQ_OP_Conv || n->ninputs < 2 || n->inputs[1] < 0)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (%s) is not a Conv with a weight", n->name, n->op_type);
    const yq_value *wv = &gr->values[n->inputs[1]];
    if (wv->rank != 4)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (Conv): only 2-D convolutions (weight rank 4, not %d)",
                       n->name, wv->rank);
    out->n = in_dims[0];
    out->c = in_dims[1];
    out->h = in_dims[2];
    out->w = in_dims[3];
    out->cout = wv->dims[0];
    out->kh = wv->dims[2];
    out->kw = wv->dims[3];
    out->group = yq_attr_int(n, "group", 1);
    const int64_t *v;
    out->stride_h = out->stride_w = 1;
    out->dil_h = out->dil_w = 1;
    if (yq_attr_ints(n, "strides", &v) == 2) {
        out->stride_h = v[0];
        out->stride_w = v[1];
    }
    if (yq_attr_ints(n, "dilations", &v) == 2) {
        out->dil_h = v[0];
        out->dil_w = v[1];
    }
    const char *auto_pad = yq_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        int64_t ins[2] = {out->h, out->w}, st[2] = {out->stride_h, out->stride_w}, k[2] = {out->kh, out->kw},
                d[2] = {out->dil_h, out->dil_w}, b[2], e[2];
        for (int a = 0; a < 2; a++) {
            if (st[a] < 1) return yq_fail(YQ_ERR_INVALID, "node '%s' (Conv): stride %lld", n->name, (long long)st[a]);
            int64_t o = (ins[a] + st[a] - 1) / st[a];
            int64_t total = (o - 1) * st[a] + (k[a] - 1) * d[a] + 1 - ins[a];
            if (total < 0) total = 0;
            b[a] = auto_pad[5] == 'U' ? total / 2 : total - total / 2;
            e[a] = total - b[a];
        }
        out->pad_t = b[0];
        out->pad_l = b[1];
        out->pad_b = e[0];
        out->pad_r = e[1];
    } else if (strcmp(auto_pad, "VALID") == 0) {
        /* no padding */
    } else if (strcmp(auto_pad, "NOTSET") == 0) {
        int np = yq_attr_ints(n, "pads", &v);
        if (np == 4) {
            out->pad_t = v[0];
            out->pad_l = v[1];
            out->pad_b = v[2];
            out->pad_r = v[3];
        } else if (np >= 0 && np != 0) {
            return yq_fail(YQ_ERR_INVALID, "node '%s' (Conv): %d pads for a 2-D convolution", n->name, np);
        }
    } else {
        return yq_fail(YQ_ERR_INVALID, "node '%s' (Conv): unknown auto_pad '%s'", n->name, auto_pad);
    }
    if (wv->dims[1] * out->group != out->c)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (Conv): weight has %lld input channels per group, input %lld with "
                       "group %lld", n->name, (long long)wv->dims[1], (long long)out->c, (long long)out->group);
    yq_status st = yq_conv_geom_check(out);
    if (st != YQ_OK) return yq_fail_prefix(st, "node '%s' (Conv)", n->name);
    return YQ_OK;
}

void yq_im2col_rows(const float *x, const yq_conv_geom *g, int64_t group_index, const int64_t *positions,
                    int64_t npos, float *rows) {
    const int64_t cg = g->c / g->group, K = cg * g->kh * g->kw, plane = g->oh * g->ow;
    for (int64_t p = 0; p < npos; p++) {
        int64_t pos = positions ? positions[p] : p;
        int64_t b = pos / plane, y = (pos % plane) / g->ow, xo = pos % g->ow;
        float *row = rows + p * K;
        const float *xb = x + (b * g->c + group_index * cg) * g->h * g->w;
        for (int64_t c = 0; c < cg; c++) {
            const float *xc = xb + c * g->h * g->w;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t ih = y * g->stride_h - g->pad_t + i * g->dil_h;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t iw = xo * g->stride_w - g->pad_l + j * g->dil_w;
                    *row++ = (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w) ? xc[ih * g->w + iw] : 0.0f;
                }
            }
        }
    }
}

yq_status yq_conv_hessian_accumulate(double *H_groups, const float *x, const yq_conv_geom *g,
                                     const int64_t *positions, int64_t npos) {
    const int64_t K = yq_conv_group_k(g), total = yq_conv_positions(g);
    if (!positions) npos = total;
    for (int64_t p = 0; positions && p < npos; p++)
        if (positions[p] < 0 || positions[p] >= total)
            return yq_fail(YQ_ERR_ARG, "conv Hessian: position %lld outside [0, %lld)", (long long)positions[p],
                           (long long)total);
    enum { CHUNK = 256 }; /* im2col rows materialised at a time */
    float *rows = yq_malloc((size_t)CHUNK * (size_t)K * sizeof *rows);
    if (!rows) return YQ_ERR_NOMEM;
    int64_t *idx = NULL;
    if (!positions) {
        idx = yq_malloc(CHUNK * sizeof *idx);
        if (!idx) {
            free(rows);
            return YQ_ERR_NOMEM;
        }
    }
    for (int64_t gi = 0; gi < g->group; gi++) {
        double *H = H_groups + gi * K * K;
        for (int64_t p0 = 0; p0 < npos; p0 += CHUNK) {
            int64_t np = npos - p0 < CHUNK ? npos - p0 : CHUNK;
            const int64_t *pp = positions ? positions + p0 : idx;
            if (!positions)
                for (int64_t t = 0; t < np; t++) idx[t] = p0 + t;
            yq_im2col_rows(x, g, gi, pp, np, rows);
            yq_hessian_accumulate(H, rows, np, K);
        }
    }
    free(rows);
    free(idx);
    return YQ_OK;
}
