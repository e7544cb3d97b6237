/* Shared by the kernel tests (conv, gemm, pool): a deterministic xorshift64
 * stream of test data, one per test file — define YQT_RNG_SEED before
 * including — and, where gemm.h is included, the ISA switch used to run every
 * micro-kernel the CPU has. */
#ifndef YQ_KERNEL_TESTKIT_H
#define YQ_KERNEL_TESTKIT_H

#include <stdint.h>
#include <stdlib.h>

#ifndef YQT_RNG_SEED
#error "define YQT_RNG_SEED before including kernel_testkit.h"
#endif

static uint64_t rng = YQT_RNG_SEED;
static inline uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static inline int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
/* Uniform in [-1, 1] on a 1e-6 grid. */
static inline float rnd_f(void) { return (float)(rnd() % 2000001) / 1000000.0f - 1.0f; }
static inline float *rnd_array(size_t n) {
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = rnd_f();
    return a;
}

#ifdef YQ_RT_KERNELS_GEMM_H
static const yq_gemm_isa all_isas[] = {YQ_GEMM_ISA_SCALAR, YQ_GEMM_ISA_AVX2, YQ_GEMM_ISA_AVX512};
/* Set isa if the CPU has it; returns 0 (and restores AUTO) otherwise. */
static inline int use_isa(yq_gemm_isa isa) {
    if (yq_gemm_set_isa(isa) != isa) {
        yq_gemm_set_isa(YQ_GEMM_ISA_AUTO);
        return 0;
    }
    return 1;
}
#endif

#endif
