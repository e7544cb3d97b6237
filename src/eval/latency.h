/* Latency statistics of repeated timed runs (benchmarks, eval timing). */
#ifndef YQ_EVAL_LATENCY_H
#define YQ_EVAL_LATENCY_H

#include <stddef.h>

#include "core/status.h"

typedef struct yq_latency_stats {
    size_t count;   /* samples used */
    size_t skipped; /* samples excluded: warm-up runs and runs marked skipped */
    double mean_ms, median_ms, p90_ms, p99_ms, min_ms, max_ms;
    double stddev_ms;      /* population standard deviation (numpy's default ddof=0) */
    double total_ms;       /* sum of the samples used */
    double throughput_per_s; /* items per second: count * items_per_sample / total seconds */
} yq_latency_stats;

/* Statistics of samples_ms[warmup..n): the first `warmup` samples are warm-up
 * runs; a NaN or negative sample marks a run that was skipped (failed,
 * interrupted) and is excluded as well. Percentiles interpolate linearly
 * between order statistics (numpy.percentile's default), so the median of an
 * even count is the mean of the two middle samples. items_per_sample is the
 * batch size (images per timed run), > 0. Fails when no sample is left. */
yq_status yq_latency_compute(const double *samples_ms, size_t n, size_t warmup, double items_per_sample,
                             yq_latency_stats *out);

/* numpy.percentile(x, q) with linear interpolation, for sorted x (n >= 1), q in [0, 100]. */
double yq_percentile_sorted(const double *sorted, size_t n, double q);

#endif
