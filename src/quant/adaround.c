#include "quant/adaround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grad/grad.h"
#include "quant/gptq.h"
#include "rt/kernels/gemm.h"

void yq_adaround_opts_default(yq_adaround_opts *o) {
    o->iters = 1000;
    o->lambda = 0.01f;
    o->lr = 0.001f;
    o->warmup = 0.2f;
    o->beta_start = 20.0f;
    o->beta_end = 2.0f;
    o->keep_better = 1;
    o->init_lean = 0.75f;
    o->cd_sweeps = 4;
    o->damp = 0.01f;
}

/* Exact coordinate descent of e(ŵ) = (ŵ − w) H (ŵ − w)ᵀ − 2(ŵ − w)·b over
 * the grid for one row. g = H(ŵ − w) − b (½ the gradient, given on entry) is
 * kept up to date, and weight j moves to the code nearest to ŵ_j − g_j/H_jj,
 * the exact minimiser along that coordinate, when that strictly lowers e.
 * Returns the change of e (≤ 0). */
static double row_cd(const double *H, int64_t cols, float s, int32_t zp, int32_t qmin, int32_t qmax, int sweeps,
                     int8_t *q, float *dq, double *g) {
    double change = 0;
    for (int sw = 0; sw < sweeps; sw++) {
        int64_t moved = 0;
        for (int64_t j = 0; j < cols; j++) {
            const double hjj = H[j * cols + j];
            if (!(hjj > 0.0)) continue;
            const double target = (double)dq[j] - g[j] / hjj;
            double c = nearbyint(target / (double)s) + zp;
            c = c < qmin ? qmin : c > qmax ? qmax : c;
            const float nw = yq_dequantize_value((int32_t)c, s, zp);
            const double delta = (double)nw - (double)dq[j];
            if (delta == 0.0) continue;
            const double de = delta * (2.0 * g[j] + delta * hjj);
            if (de >= 0.0) continue;
            const double *hj = H + j * cols;
            for (int64_t i = 0; i < cols; i++) g[i] += delta * hj[i];
            dq[j] = nw;
            q[j] = (int8_t)c;
            change += de;
            moved++;
        }
        if (!moved) break;
    }
    return change;
}

/* P = (Ŵ − W)·H for all rows (float GEMM; Hf holds H/2, hence the factor 2
 * applied by the callers), D = Ŵ − W. */
static yq_status diff_times_h(const float *wq, const float *w, const float *Hf, int64_t rows, int64_t cols, float *D,
                              float *P) {
    for (int64_t i = 0; i < rows * cols; i++) D[i] = wq[i] - w[i];
    return yq_sgemm(NULL, 0, 0, rows, cols, cols, D, cols, Hf, cols, P, cols, 0, NULL, NULL);
}

static yq_status refine(const float *w, int64_t rows, int64_t cols, const double *H, const double *Hc,
                        const yq_qparams *qp, const int8_t *init_q, yq_adaround_init init, const yq_adaround_opts *o,
                        int8_t *q, float *dq, yq_adaround_stats *stats);

/* Damping: H + damp·mean(diag H)·I (and the same on Hc's diagonal, so that
 * the damped objective still has its minimum at Ŵ = W when X_q = X_f). */
yq_status yq_adaround_refine(const float *w, int64_t rows, int64_t cols, const double *H, const double *Hc,
                             const yq_qparams *qp, const int8_t *init_q, yq_adaround_init init,
                             const yq_adaround_opts *o, int8_t *q, float *dq, yq_adaround_stats *stats) {
    if (!(o->damp > 0.0f) || cols < 1) return refine(w, rows, cols, H, Hc, qp, init_q, init, o, q, dq, stats);
    double mean = 0;
    for (int64_t i = 0; i < cols; i++) mean += H[i * cols + i];
    mean /= (double)cols;
    const double d = (double)o->damp * (mean > 0 ? mean : 1.0);
    double *Hd = malloc((size_t)(cols * cols) * sizeof *Hd), *Hcd = Hc ? malloc((size_t)(cols * cols) * sizeof *Hcd) : NULL;
    if (!Hd || (Hc && !Hcd)) {
        free(Hd), free(Hcd);
        return yq_fail(YQ_ERR_NOMEM, "adaround: out of memory");
    }
    memcpy(Hd, H, (size_t)(cols * cols) * sizeof *Hd);
    for (int64_t i = 0; i < cols; i++) Hd[i * cols + i] += d;
    if (Hc) {
        memcpy(Hcd, Hc, (size_t)(cols * cols) * sizeof *Hcd);
        for (int64_t i = 0; i < cols; i++) Hcd[i * cols + i] += d;
    }
    yq_status st = refine(w, rows, cols, Hd, Hcd, qp, init_q, init, o, q, dq, stats);
    free(Hd), free(Hcd);
    return st;
}

static yq_status refine(const float *w, int64_t rows, int64_t cols, const double *H, const double *Hc,
                        const yq_qparams *qp, const int8_t *init_q, yq_adaround_init init, const yq_adaround_opts *o,
                        int8_t *q, float *dq, yq_adaround_stats *stats) {
    if (rows < 1 || cols < 1) return yq_fail(YQ_ERR_ARG, "adaround: empty weight matrix");
    if (qp->block_size > 0 || (qp->axis >= 0 && qp->nch != rows) || (qp->axis < 0 && qp->nch != 1))
        return yq_fail(YQ_ERR_UNSUPPORTED, "adaround: needs one scale per row or per tensor (got %d scales for %lld rows)",
                       qp->nch, (long long)rows);
    if (o->iters < 1) return yq_fail(YQ_ERR_ARG, "adaround: iters must be >= 1");
    const int32_t qmin = yq_qmin(qp->bits, qp->is_signed, qp->narrow), qmax = yq_qmax(qp->bits, qp->is_signed, qp->narrow);
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(w[i])) return yq_fail(YQ_ERR_INVALID, "adaround: non-finite weight");
    for (int64_t i = 0; i < cols * cols; i++)
        if (!isfinite(H[i]) || (Hc && !isfinite(Hc[i]))) return yq_fail(YQ_ERR_INVALID, "adaround: non-finite Hessian");

    yq_status st = YQ_OK;
    float *Hf = malloc((size_t)(cols * cols) * sizeof *Hf);
    float *T = malloc((size_t)n * sizeof *T);      /* W·Hc / 2: the cross term of the gradient */
    float *base = malloc((size_t)n * sizeof *base); /* floor(W/s) */
    float *V = malloc((size_t)n * sizeof *V);
    float *ws = malloc((size_t)n * sizeof *ws);    /* soft weights, then the gradient */
    float *G = malloc((size_t)n * sizeof *G);
    float *sig = malloc((size_t)n * sizeof *sig);
    float *Hcf = Hc ? malloc((size_t)(cols * cols) * sizeof *Hcf) : NULL;
    float *B = Hc ? malloc((size_t)n * sizeof *B) : NULL; /* W(Hc − H) */
    double *g = malloc((size_t)cols * sizeof *g), *e_row = malloc((size_t)rows * sizeof *e_row);
    yq_adam adam = {0};
    if (!Hf || !T || !base || !V || !ws || !G || !sig || !g || !e_row || (Hc && (!Hcf || !B))) {
        st = yq_fail(YQ_ERR_NOMEM, "adaround: out of memory for a %lldx%lld layer", (long long)rows, (long long)cols);
        goto out;
    }
    if ((st = yq_adam_init(&adam, n, o->lr)) != YQ_OK) goto out;

    /* The loss ½Σ_r ‖X ŵ_r − X w_r‖²/n equals ¼ Σ_r (ŵ_r H ŵ_rᵀ − 2 ŵ_r Hc w_rᵀ) + const
     * with H = 2XᵀX/n, so its gradient is ½(Ŵ H − W Hc). */
    for (int64_t i = 0; i < cols * cols; i++) Hf[i] = (float)(0.5 * H[i]);
    if (Hc) {
        /* T = W·Hc/2, and B = W(Hc − H) for the proxy's linear term */
        for (int64_t i = 0; i < cols * cols; i++) Hcf[i] = (float)(0.5 * Hc[i]);
        if ((st = yq_sgemm(NULL, 0, 0, rows, cols, cols, w, cols, Hcf, cols, T, cols, 0, NULL, NULL)) != YQ_OK) goto out;
        for (int64_t i = 0; i < cols * cols; i++) Hcf[i] = (float)(Hc[i] - H[i]);
        if ((st = yq_sgemm(NULL, 0, 0, rows, cols, cols, w, cols, Hcf, cols, B, cols, 0, NULL, NULL)) != YQ_OK) goto out;
    } else if ((st = yq_sgemm(NULL, 0, 0, rows, cols, cols, w, cols, Hf, cols, T, cols, 0, NULL, NULL)) != YQ_OK) {
        goto out;
    }
    /* V's start: the fractional part (RTN: Ŵ = W exactly at the start), or
     * leaning towards GPTQ's code. GPTQ may have moved a weight more than
     * one step; then the choice is between its code and the neighbour
     * towards W. */
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ci = qp->axis < 0 ? 0 : r;
        const float s = qp->scale[ci];
        const int32_t zp = qp->zero_point[ci];
        for (int64_t k = 0; k < cols; k++) {
            const int64_t i = r * cols + k;
            const float u = w[i] / s;
            if (init == YQ_ADAROUND_INIT_GPTQ && init_q) {
                const float c = (float)(init_q[i] - zp);
                const int up = c >= u;
                base[i] = up ? c - 1.0f : c;
                V[i] = yq_adaround_v_init(up ? o->init_lean : 1.0f - o->init_lean);
            } else {
                base[i] = floorf(u);
                V[i] = yq_adaround_v_init(u - base[i]);
            }
        }
    }

    const float zeta_gamma = YQ_ADAROUND_ZETA - YQ_ADAROUND_GAMMA;
    for (int it = 0; it < o->iters; it++) {
        const float beta = yq_adaround_beta(it, o->iters, o->warmup, o->beta_start, o->beta_end);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t ci = qp->axis < 0 ? 0 : r;
            const float s = qp->scale[ci], z = (float)qp->zero_point[ci];
            for (int64_t k = 0; k < cols; k++) {
                const int64_t i = r * cols + k;
                const float sg = 1.0f / (1.0f + expf(-V[i]));
                float h = sg * zeta_gamma + YQ_ADAROUND_GAMMA;
                h = h < 0.0f ? 0.0f : h > 1.0f ? 1.0f : h;
                float c = base[i] + h + z;
                c = c < (float)qmin ? (float)qmin : c > (float)qmax ? (float)qmax : c;
                sig[i] = sg;
                ws[i] = (c - z) * s;
            }
        }
        /* G = ½ Ŵ H, then dL/dŴ = G − T */
        if ((st = yq_sgemm(NULL, 0, 0, rows, cols, cols, ws, cols, Hf, cols, G, cols, 0, NULL, NULL)) != YQ_OK) goto out;
        for (int64_t r = 0; r < rows; r++) {
            const int64_t ci = qp->axis < 0 ? 0 : r;
            const float s = qp->scale[ci], z = (float)qp->zero_point[ci];
            for (int64_t k = 0; k < cols; k++) {
                const int64_t i = r * cols + k;
                const float sg = sig[i], hr = sg * zeta_gamma + YQ_ADAROUND_GAMMA;
                float g = 0.0f;
                if (hr > 0.0f && hr < 1.0f) {
                    const float dh = sg * (1.0f - sg) * zeta_gamma, c = base[i] + hr + z;
                    if (c >= (float)qmin && c <= (float)qmax) g = (G[i] - T[i]) * s * dh;
                    if (beta > 0.0f) {
                        const float t = 2.0f * hr - 1.0f, a = fabsf(t);
                        if (a > 0.0f) g -= o->lambda * beta * powf(a, beta - 1.0f) * (t > 0 ? 2.0f : -2.0f) * dh;
                    }
                }
                ws[i] = g;
            }
        }
        yq_adam_step(&adam, V, ws);
    }

    /* Hard rounding, coordinate descent, and the per-row safeguard. The
     * products with H run as float GEMMs; the per-row sums are double. */
    yq_adaround_stats S = {0};
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ci = qp->axis < 0 ? 0 : r;
        const float s = qp->scale[ci];
        const int32_t zp = qp->zero_point[ci];
        for (int64_t k = 0; k < cols; k++) {
            const int64_t i = r * cols + k;
            int32_t c = (int32_t)base[i] + (V[i] >= 0.0f ? 1 : 0) + zp;
            c = c < qmin ? qmin : c > qmax ? qmax : c;
            q[i] = (int8_t)c;
            dq[i] = yq_dequantize_value(c, s, zp);
        }
    }
    if ((st = diff_times_h(dq, w, Hf, rows, cols, ws, G)) != YQ_OK) goto out;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ci = qp->axis < 0 ? 0 : r;
        double e = 0;
        for (int64_t k = 0; k < cols; k++) {
            const int64_t i = r * cols + k;
            const double bk = Hc ? (double)B[i] : 0.0;
            g[k] = 2.0 * (double)G[i] - bk; /* H(ŵ − w) − b */
            e += (double)ws[i] * (2.0 * (double)G[i] - 2.0 * bk);
        }
        S.loss_adaround += e;
        if (o->cd_sweeps > 0)
            e += row_cd(H, cols, qp->scale[ci], qp->zero_point[ci], qmin, qmax, o->cd_sweeps, q + r * cols,
                        dq + r * cols, g);
        e_row[r] = e;
    }
    if (init_q) {
        for (int64_t r = 0; r < rows; r++) {
            const int64_t ci = qp->axis < 0 ? 0 : r;
            for (int64_t k = 0; k < cols; k++)
                sig[r * cols + k] = yq_dequantize_value(init_q[r * cols + k], qp->scale[ci], qp->zero_point[ci]);
        }
        if ((st = diff_times_h(sig, w, Hf, rows, cols, ws, G)) != YQ_OK) goto out;
    }
    for (int64_t r = 0; r < rows; r++) {
        double e_new = e_row[r], e_init = e_new;
        if (init_q) {
            e_init = 0;
            for (int64_t k = 0; k < cols; k++) {
                const int64_t i = r * cols + k;
                e_init += (double)ws[i] * (2.0 * (double)G[i] - 2.0 * (Hc ? (double)B[i] : 0.0));
            }
            if (o->keep_better && e_init < e_new) {
                memcpy(q + r * cols, init_q + r * cols, (size_t)cols);
                memcpy(dq + r * cols, sig + r * cols, (size_t)cols * sizeof *dq);
                e_new = e_init;
                S.rows_kept++;
            }
            for (int64_t k = 0; k < cols; k++) S.flipped += q[r * cols + k] != init_q[r * cols + k];
        }
        S.loss_init += e_init;
        S.loss_final += e_new;
    }
    if (stats) *stats = S;
out:
    yq_adam_free(&adam);
    free(Hf), free(T), free(base), free(V), free(ws), free(G), free(sig), free(Hcf), free(B), free(g), free(e_row);
    return st;
}

yq_status yq_adaround_quantize_layer(const float *w, int64_t rows, int64_t cols, int64_t ngroups,
                                     const double *H_groups, const yq_weight_cfg *cfg, int8_t *q, float *dq,
                                     yq_qparams *qp, double *loss, yq_adaround_stats *stats) {
    if (ngroups < 1 || rows % ngroups != 0) return yq_fail(YQ_ERR_ARG, "adaround: %lld groups do not divide %lld rows",
                                                           (long long)ngroups, (long long)rows);
    if (cfg->gptq_group_size > 0) return yq_fail(YQ_ERR_UNSUPPORTED, "adaround: group-wise scales are not supported");
    if (!cfg->per_channel && ngroups > 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "adaround: a grouped conv needs per-channel scales");
    yq_qformat f;
    yq_weight_cfg_format(cfg, &f);
    yq_adaround_opts o;
    yq_adaround_opts_default(&o);
    o.iters = cfg->adaround_iters;
    o.lambda = (float)cfg->adaround_lambda;
    o.lr = (float)cfg->adaround_lr;
    o.cd_sweeps = cfg->adaround_cd_sweeps;
    o.damp = (float)cfg->adaround_damp;
    const yq_adaround_init init = cfg->adaround_init ? YQ_ADAROUND_INIT_GPTQ : YQ_ADAROUND_INIT_RTN;
    const int64_t rpg = rows / ngroups, K = cols;
    /* the grid: the configured scale chooser on the float weights (GPTQ
     * without groups chooses its scales the same way, before any update) */
    YQ_TRY(yq_weight_qparams(w, rows, cols, cfg->per_channel, 0, &f, &cfg->scale, qp));
    int8_t *q0 = malloc((size_t)(rows * cols));
    yq_status st = q0 ? YQ_OK : yq_fail(YQ_ERR_NOMEM, "adaround: out of memory");
    if (st == YQ_OK) st = yq_quantize_matrix(w, rows, cols, qp, q0, NULL);
    yq_adaround_stats S = {0};
    double L = 0;
    for (int64_t gi = 0; gi < ngroups && st == YQ_OK; gi++) {
        const float *wg = w + gi * rpg * cols;
        const double *Hg = H_groups + gi * K * K;
        yq_qparams gq = {0};
        if (qp->axis < 0) {
            st = yq_qparams_copy(&gq, qp);
        } else {
            st = yq_qparams_alloc(&gq, qp->bits, qp->is_signed, qp->narrow, 0, (int)rpg);
            if (st == YQ_OK) {
                memcpy(gq.scale, qp->scale + gi * rpg, (size_t)rpg * sizeof(float));
                memcpy(gq.zero_point, qp->zero_point + gi * rpg, (size_t)rpg * sizeof(int32_t));
            }
        }
        if (st == YQ_OK && init == YQ_ADAROUND_INIT_GPTQ) {
            yq_gptq_opts go;
            yq_weight_cfg_gptq_opts(cfg, &go);
            yq_gptq_result res;
            st = yq_gptq_quantize(wg, rpg, cols, Hg, &go, &gq, &res);
            if (st == YQ_OK) {
                memcpy(q0 + gi * rpg * cols, res.q, (size_t)(rpg * cols));
                yq_gptq_result_free(&res);
            }
        }
        yq_adaround_stats gs;
        if (st == YQ_OK)
            st = yq_adaround_refine(wg, rpg, cols, Hg, NULL, &gq, q0 + gi * rpg * cols, init, &o, q + gi * rpg * cols,
                                    dq + gi * rpg * cols, &gs);
        yq_qparams_free(&gq);
        if (st != YQ_OK) break;
        S.loss_init += gs.loss_init, S.loss_final += gs.loss_final, S.flipped += gs.flipped, S.rows_kept += gs.rows_kept;
        S.loss_adaround += gs.loss_adaround;
        L += gs.loss_final;
    }
    free(q0);
    if (st != YQ_OK) {
        yq_qparams_free(qp);
        return st;
    }
    if (loss) *loss = L;
    if (stats) *stats = S;
    return YQ_OK;
}
