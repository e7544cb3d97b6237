/* Finite-difference gradient checks for the src/grad kernels.
 *
 * Every check builds a scalar L = Σ r_i · y_i from an op's output y with a
 * fixed random projection r, runs the backward kernel with dy = r, and
 * compares each analytic dL/dp_j against a central difference
 * (L(p_j + h) − L(p_j − h)) / 2h computed with the float forward kernel and a
 * double sum. Tolerance: |a − n| ≤ atol + rtol·max(|a|, |n|) with h = 1e-2·
 * max(1, |p_j|)·hscale, rtol 2e-2 and atol 2e-3·(typical gradient size):
 * float32 forward rounding (~1e-7 relative) divided by h stays far below
 * that, while a wrong formula (a missing term, a transposed index) misses by
 * O(1). Coordinates checked: all of them up to 64, else 64 chosen by the
 * seeded generator. */
#ifndef YQ_TEST_GRAD_CHECK_H
#define YQ_TEST_GRAD_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_quant_common.h"
#include "testutil.h"

typedef double (*gc_loss_fn)(void *ctx);

static inline float *gc_randn(int64_t n, uint64_t *seed, double sd) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(sd * rng_normal(seed));
    return p;
}

static inline float *gc_zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static inline double gc_dot(int64_t n, const float *r, const float *y) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

/* Compare grad[0..n) of parameter p against central differences of f. */
static inline void gc_check(const char *what, float *p, const float *grad, int64_t n, gc_loss_fn f, void *ctx,
                            double hscale, uint64_t seed) {
    double gmax = 1e-6;
    for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    const double atol = 2e-3 * gmax, rtol = 2e-2;
    const int64_t m = n < 64 ? n : 64;
    double worst = 0;
    for (int64_t k = 0; k < m; k++) {
        const int64_t j = n <= 64 ? k : (int64_t)(rng_next(&seed) % (uint64_t)n);
        const float p0 = p[j];
        const float h = (float)(1e-2 * fmax(1.0, fabs(p0)) * hscale);
        p[j] = p0 + h;
        const double lp = f(ctx);
        p[j] = p0 - h;
        const double lm = f(ctx);
        p[j] = p0;
        const double hh = (double)(p0 + h) - (double)(p0 - h);
        const double num = (lp - lm) / hh, ana = grad[j];
        const double err = fabs(num - ana), lim = atol + rtol * fmax(fabs(num), fabs(ana));
        if (err / lim > worst) worst = err / lim;
        if (err > lim) {
            fail_msg("%s: d/dp[%lld] analytic %.6g vs numeric %.6g (|diff| %.3g > %.3g)", what, (long long)j, ana, num,
                     err, lim);
        }
    }
    print_message("%-28s %3lld coords, worst |diff|/tol %.3f\n", what, (long long)m, worst);
}

#endif
