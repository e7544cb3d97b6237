/* Activation observers: streaming statistics of one tensor over calibration
 * batches, turned into a per-tensor scale and zero point.
 *
 *  - minmax:     the exact min and max seen.
 *  - percentile: clip the tails: the p-th percentile of |x| (symmetric) or the
 *                (100-p)-th and p-th percentiles (asymmetric).
 *  - mse:        the clipping range minimising the expected squared
 *                quantization error over the histogram.
 *  - entropy:    TensorRT-style calibration: the clipping threshold minimising
 *                KL(P || Q) between the clipped histogram P and its quantized
 *                version Q (per side for asymmetric grids, see observer.c).
 *
 * The histogram covers [-R, R) with `nbins` equal bins and R a power of two
 * strictly above every |x| seen. When a batch exceeds R, R doubles and
 * adjacent bin pairs merge; because every R is a power of two the bin edges
 * of the old grid are edges of the new one, so rebinning is exact and the
 * final histogram does not depend on how the data was split into batches.
 * Non-finite values (NaN, Inf) are counted and skipped. */
#ifndef YQ_QUANT_OBSERVER_H
#define YQ_QUANT_OBSERVER_H

#include <stdint.h>

#include "core/status.h"
#include "quant/quantizer.h"

typedef enum yq_observer_kind {
    YQ_OBS_MINMAX = 0,
    YQ_OBS_PERCENTILE,
    YQ_OBS_MSE,
    YQ_OBS_ENTROPY,
} yq_observer_kind;

const char *yq_observer_kind_name(yq_observer_kind k); /* "minmax", "percentile", "mse", "entropy" */

typedef struct yq_observer_opts {
    yq_observer_kind kind;
    int nbins;            /* histogram bins over [-R, R): multiple of 4, >= 64 (4096) */
    double percentile;    /* PERCENTILE: in (50, 100] (99.99) */
    int mse_grid;         /* MSE: candidate ranges (200) */
    double mse_min_ratio; /* MSE: candidates shrink the min/max range down to this ratio (0.05) */
} yq_observer_opts;

void yq_observer_opts_default(yq_observer_opts *o, yq_observer_kind kind);

typedef struct yq_observer {
    yq_observer_opts opts;
    double min, max;   /* exact, over finite values (valid when count > 0) */
    int64_t count;     /* finite values seen */
    int64_t nonfinite; /* NaN / Inf values skipped */
    int64_t *hist;     /* [nbins] over [-range, range); NULL for minmax */
    double range;      /* R; 0 until the first finite value */
} yq_observer;

yq_status yq_observer_init(yq_observer *ob, const yq_observer_opts *o);
void yq_observer_free(yq_observer *ob);
/* Add n values (one batch). */
yq_status yq_observer_update(yq_observer *ob, const float *x, int64_t n);

/* The clipping range [lo, hi] the observer chooses for grid f (lo <= 0 <= hi
 * is not guaranteed here; yq_qparams_from_range widens it to include 0).
 * Symmetric grids get lo = -hi. Fails if no finite value was seen. */
yq_status yq_observer_range(const yq_observer *ob, const yq_qformat *f, double *lo, double *hi);
/* Scale and zero point for grid f: yq_observer_range + yq_qparams_from_range. */
yq_status yq_observer_qparams(const yq_observer *ob, const yq_qformat *f, float *scale, int32_t *zp);

/* KL threshold search on a one-sided histogram h[0..nbins) of |x| with bin
 * width `width`: the clipping threshold (a bin edge) for `nquant` levels.
 * Exposed for tests. An empty histogram gives 0. */
yq_status yq_entropy_threshold(const int64_t *h, int nbins, double width, int nquant, double *threshold);

#endif
