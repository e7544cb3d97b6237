/* Deterministic test data for the quant tests: splitmix64 and Box-Muller. */
#ifndef YQ_TEST_QUANT_COMMON_H
#define YQ_TEST_QUANT_COMMON_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

/* Standard normal. */
static inline double rng_normal(uint64_t *s) {
    double u = rng_uniform(s), v = rng_uniform(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

#endif
