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
}

/* Exact coordinate descent of (ŵ − w) H (ŵ − w)ᵀ − 2(ŵ − w)·b over the grid
 * for one row (b = (W(Hc − H))_r / 1, zero when Hc = H): g = H(ŵ − w) − b is
 * kept up to date, and weight j moves to the code nearest to ŵ_j − g_j/H_jj,
 * the exact minimiser along that coordinate. */
static void row_cd(const float *w, const double *H, const double *b, int64_t cols, float s, int32_t zp, int32_t qmin,
                   int32_t qmax, int sweeps, int8_t *q, float *dq, double *g) {
    for (int64_t i = 0; i < cols; i++) {
        double acc = b ? -b[i] : 0.0;
        const double *hi = H + i * cols;
        for (int64_t j = 0; j < cols; j++) acc += hi[j] * ((double)dq[j] - (double)w[j]);
        g[i] = acc;
    }
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
            /* accept only a strict decrease: Δloss = δ(2g_j + δH_jj) */
            if (delta * (2.0 * g[j] + delta * hjj) >= 0.0) continue;
            const double *hj = H + j * cols;
            for (int64_t i = 0; i < cols; i++) g[i] += delta * hj[i];
            dq[j] = nw;
            q[j] = (int8_t)c;
            moved++;
        }
        if (!moved) break;
    }
}

/* Proxy error of one row's dequantized weights: (ŵ − w) H (ŵ − w)ᵀ
 * − 2(ŵ − w)·b (b may be NULL), double. */
static double row_error(const float *wq, const float *w, const double *H, const double *b, int64_t cols, double *d) {
    for (int64_t k = 0; k < cols; k++) d[k] = (double)wq[k] - (double)w[k];
    double e = 0;
    if (b)
        for (int64_t k = 0; k < cols; k++) e -= 2.0 * d[k] * b[k];
    for (int64_t i = 0; i < cols; i++) {
        if (d[i] == 0.0) continue;
        const double *hi = H + i * cols;
        double s = 0;
        for (int64_t j = 0; j < cols; j++) s += hi[j] * d[j];
        e += d[i] * s;
    }
    return e;
}

yq_status yq_adaround_refine(const float *w, int64_t rows, int64_t cols, const double *H, const double *Hc,
                             const yq_qparams *qp, const int8_t *init_q, yq_adaround_init init,
                             const yq_adaround_opts *o, int8_t *q, float *dq, yq_adaround_stats *stats) {
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
    float *wq = malloc((size_t)cols * sizeof *wq);
    double *dtmp = malloc((size_t)cols * sizeof *dtmp), *bvec = malloc((size_t)cols * sizeof *bvec);
    yq_adam adam = {0};
    if (!Hf || !T || !base || !V || !ws || !G || !sig || !wq || !dtmp || !bvec) {
        st = yq_fail(YQ_ERR_NOMEM, "adaround: out of memory for a %lldx%lld layer", (long long)rows, (long long)cols);
        goto out;
    }
    if ((st = yq_adam_init(&adam, n, o->lr)) != YQ_OK) goto out;

    /* The loss ½Σ_r ‖X ŵ_r − X w_r‖²/n equals ¼ Σ_r (ŵ_r H ŵ_rᵀ − 2 ŵ_r Hc w_rᵀ) + const
     * with H = 2XᵀX/n, so its gradient is ½(Ŵ H − W Hc). */
    for (int64_t i = 0; i < cols * cols; i++) Hf[i] = (float)(0.5 * H[i]);
    {
        const double *Hx = Hc ? Hc : H;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++) {
                double s = 0;
                for (int64_t k = 0; k < cols; k++) s += (double)w[r * cols + k] * Hx[k * cols + j];
                T[r * cols + j] = (float)(0.5 * s);
            }
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

    /* Hard rounding, and the per-row safeguard. */
    yq_adaround_stats S = {0};
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ci = qp->axis < 0 ? 0 : r;
        const float s = qp->scale[ci];
        const int32_t zp = qp->zero_point[ci];
        for (int64_t k = 0; k < cols; k++) {
            const int64_t i = r * cols + k;
            int32_t c = (int32_t)base[i] + (V[i] >= 0.0f ? 1 : 0) + zp;
            c = c < qmin ? qmin : c > qmax ? qmax : c;
            q[r * cols + k] = (int8_t)c;
            dq[i] = yq_dequantize_value(c, s, zp);
        }
        /* with Hc, the proxy gains a linear term: −2(ŵ − w)·b, b = W(Hc − H) per row */
        double *b = NULL;
        if (Hc) {
            b = bvec;
            for (int64_t j = 0; j < cols; j++) {
                double acc = 0;
                for (int64_t k = 0; k < cols; k++) acc += (double)w[r * cols + k] * (Hc[k * cols + j] - H[k * cols + j]);
                b[j] = acc;
            }
        }
        S.loss_adaround += row_error(dq + r * cols, w + r * cols, H, b, cols, dtmp);
        if (o->cd_sweeps > 0)
            row_cd(w + r * cols, H, b, cols, s, zp, qmin, qmax, o->cd_sweeps, q + r * cols, dq + r * cols, dtmp);
        double e_new = row_error(dq + r * cols, w + r * cols, H, b, cols, dtmp), e_init = e_new;
        if (init_q) {
            for (int64_t k = 0; k < cols; k++) wq[k] = yq_dequantize_value(init_q[r * cols + k], s, zp);
            e_init = row_error(wq, w + r * cols, H, b, cols, dtmp);
            if (o->keep_better && e_init < e_new) {
                memcpy(q + r * cols, init_q + r * cols, (size_t)cols);
                memcpy(dq + r * cols, wq, (size_t)cols * sizeof *wq);
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
    free(Hf), free(T), free(base), free(V), free(ws), free(G), free(sig), free(wq), free(dtmp), free(bvec);
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
