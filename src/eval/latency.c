#include "eval/latency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y);
}

double yq_percentile_sorted(const double *sorted, size_t n, double q) {
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

yq_status yq_latency_compute(const double *samples_ms, size_t n, size_t warmup, double items_per_sample,
                             yq_latency_stats *out) {
    memset(out, 0, sizeof *out);
    if (!(items_per_sample > 0) || !isfinite(items_per_sample))
        return yq_fail(YQ_ERR_ARG, "latency: items per sample must be a positive number, not %g", items_per_sample);
    if (n && !samples_ms) return yq_fail(YQ_ERR_ARG, "latency: no samples given");
    double *used = yq_malloc((n ? n : 1) * sizeof *used);
    if (!used) return YQ_ERR_NOMEM;
    size_t count = 0;
    for (size_t i = warmup < n ? warmup : n; i < n; i++)
        if (samples_ms[i] >= 0 && isfinite(samples_ms[i])) used[count++] = samples_ms[i];
    if (count == 0) {
        free(used);
        return yq_fail(YQ_ERR_ARG, "latency: none of the %zu samples is left after excluding %zu warm-up runs and "
                                   "skipped runs", n, warmup < n ? warmup : n);
    }
    double total = 0;
    for (size_t i = 0; i < count; i++) total += used[i];
    double mean = total / (double)count, var = 0;
    for (size_t i = 0; i < count; i++) var += (used[i] - mean) * (used[i] - mean);
    qsort(used, count, sizeof *used, cmp_double);
    out->count = count;
    out->skipped = n - count;
    out->mean_ms = mean;
    out->median_ms = yq_percentile_sorted(used, count, 50);
    out->p90_ms = yq_percentile_sorted(used, count, 90);
    out->p99_ms = yq_percentile_sorted(used, count, 99);
    out->min_ms = used[0];
    out->max_ms = used[count - 1];
    out->stddev_ms = sqrt(var / (double)count);
    out->total_ms = total;
    out->throughput_per_s = total > 0 ? (double)count * items_per_sample / (total / 1000.0) : INFINITY;
    free(used);
    return YQ_OK;
}
