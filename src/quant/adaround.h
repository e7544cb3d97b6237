/* AdaRound (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training
 * Quantization", ICML 2020) for one weight matrix, on the layer's second
 * moments.
 *
 * A layer y = W x with W [rows = Cout, cols = K] keeps its quantization grid
 * (scale, zero point per row or per tensor, from the current quantizer) and
 * learns, per weight, whether to round down or up:
 *     Ŵ = s · (clamp(floor(W/s) + h(V) + zp, qmin, qmax) − zp)
 * with h the rectified sigmoid of src/grad. The objective is the layer output
 * error on calibration inputs plus the regulariser that drives h to 0 or 1:
 *     ½ Σ_r ‖X_q ŵ_r − X_f w_r‖² / n  +  λ Σ (1 − |2h(V) − 1|^β)
 * (BRECQ's normalisation: squared error summed over output channels, averaged
 * over input rows), β annealed from beta_start to beta_end after a warm-up
 * without the regulariser. For a linear layer the first term depends on the
 * inputs only through H = 2 X_qᵀX_q / n and the cross moment
 * Hc = 2 X_fᵀX_q / n, so one Adam step costs one [rows, K]·[K, K] product
 * instead of a pass over the calibration rows (H is what GPTQ already
 * collects; with float inputs X_q = X_f and Hc = H).
 *
 * The result is hard-rounded (up where V ≥ 0, i.e. h ≥ ½) to integer codes on
 * the same grid, exactly as yq_quantize_matrix / GPTQ store them, then
 * optionally polished by exact coordinate descent on the proxy (cd_sweeps). With
 * keep_better, a row whose learned rounding has a higher proxy error than its
 * initial codes keeps the initial codes (the error is separable per row), so
 * the result is never worse than the initialisation on the calibration
 * statistics.
 *
 * Deterministic and single-threaded (layers run in parallel in the driver). */
#ifndef YQ_QUANT_ADAROUND_H
#define YQ_QUANT_ADAROUND_H

#include <stdint.h>

#include "core/status.h"
#include "quant/quantizer.h"
#include "quant/recipe.h"

typedef enum yq_adaround_init {
    YQ_ADAROUND_INIT_RTN = 0,  /* h(V) = frac(W/s): starts at the float weights */
    YQ_ADAROUND_INIT_GPTQ = 1, /* grid and codes from GPTQ; V leans towards GPTQ's choice */
} yq_adaround_init;

typedef struct yq_adaround_opts {
    int iters;        /* Adam steps (1000) */
    float lambda;     /* regulariser weight (0.01) */
    float lr;         /* Adam learning rate on V (0.001) */
    float warmup;     /* fraction of iters without the regulariser (0.2) */
    float beta_start; /* 20 */
    float beta_end;   /* 2 */
    int keep_better;  /* per row, keep the initial codes when they are better (1) */
    float init_lean;  /* GPTQ start: h(V) of the code GPTQ chose (0.75; 0.5 = undecided) */
    /* After hard rounding, sweeps of exact coordinate descent over the whole
     * grid: each weight in turn moves to the code minimising the proxy error
     * with the others fixed (the nearest code to ŵ_j − (H(ŵ − w))_j / H_jj).
     * Never increases the error; unlike AdaRound's up/down choice it can move
     * a weight by several steps, as GPTQ's error feedback does. (4) */
    int cd_sweeps;
    /* Relative damping added to H's diagonal (as GPTQ's percdamp): pulls the
     * objective towards plain weight error where the calibration inputs
     * say little (0.01; 0 = none). */
    float damp;
} yq_adaround_opts;

void yq_adaround_opts_default(yq_adaround_opts *o);

typedef struct yq_adaround_stats {
    /* proxy error Σ_r (ŵ_r − w_r) H (ŵ_r − w_r)ᵀ of the initial codes; with Hc,
     * − 2(ŵ_r − w_r)·(W(Hc − H))_r is added (the same error up to a constant) */
    double loss_init;
    double loss_final; /* the same for the returned codes */
    int64_t flipped;   /* codes that differ from the initial ones */
    int64_t rows_kept; /* rows that kept their initial codes (keep_better) */
    double loss_adaround; /* proxy error right after AdaRound's hard rounding (before cd_sweeps / keep_better) */
} yq_adaround_stats;

/* Learn the rounding of W [rows, cols] on grid qp (per row: axis 0, nch =
 * rows; or per tensor) given H [cols, cols] (symmetric) and optionally the
 * cross moment Hc [cols, cols] (NULL: Hc = H). init_q [rows·cols] are the
 * starting codes on that grid (RTN or GPTQ output) — used for V's
 * initialisation when init is GPTQ, and by keep_better. Writes q (codes in
 * qp's range) and dq ((q − zp)·s in float32); stats may be NULL. Fails on
 * group-wise qp, non-finite inputs or out-of-memory. */
yq_status yq_adaround_refine(const float *w, int64_t rows, int64_t cols, const double *H, const double *Hc,
                             const yq_qparams *qp, const int8_t *init_q, yq_adaround_init init,
                             const yq_adaround_opts *o, int8_t *q, float *dq, yq_adaround_stats *stats);

/* The PTQ driver's entry point for one Conv/MatMul/Gemm layer: W [rows, cols]
 * made of ngroups independent row blocks (a grouped conv), each with its own
 * Hessian H_groups[g] [cols, cols] (2XᵀX/n as yq_conv_hessian_accumulate +
 * yq_hessian_finalize build it). Initialises with RTN or GPTQ as
 * cfg->adaround_init says (scales from cfg's scale chooser, GPTQ options from
 * cfg), then refines with AdaRound. Writes q/dq [rows·cols] and qp (per row,
 * or per tensor when ngroups == 1 and cfg is per tensor; allocated here);
 * *loss = Σ of the final proxy errors; stats summed over groups (may be
 * NULL). Group-wise scales are not supported (YQ_ERR_UNSUPPORTED). */
yq_status yq_adaround_quantize_layer(const float *w, int64_t rows, int64_t cols, int64_t ngroups,
                                     const double *H_groups, const yq_weight_cfg *cfg, int8_t *q, float *dq,
                                     yq_qparams *qp, double *loss, yq_adaround_stats *stats);

#endif
