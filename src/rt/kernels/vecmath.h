/* Small inline helpers shared by the elementwise kernel files: a loop pragma
 * that lets GCC vectorise loops whose output may alias an input element for
 * element, and a branch-free single-precision exp that GCC turns into SIMD.
 *
 * The kernel files that use these are compiled with -fno-trapping-math and
 * -fvect-cost-model=dynamic (CMakeLists.txt): GCC's -O2 default ("very
 * cheap") vectorises only loops whose trip count is a known multiple of the
 * vector length, and with trapping math it will not if-convert a clamp or NaN
 * select that feeds more arithmetic. Without the flags the code is the same,
 * only scalar.
 *
 * Why our own exp: glibc's expf is accurate but scalar (no vector variant
 * without -ffast-math), and Sigmoid / Softmax run it tens of millions of
 * times per YOLO image. yq_exp_nonpos_f32 covers x <= 0, which is all that
 * Sigmoid (exp(-|x|)) and Softmax (exp(x - max)) need, so the result is in
 * (0, 1] and never overflows.
 *
 * Method: n = round(x / ln 2) with the 1.5 * 2^23 trick (round to nearest in
 * the default mode, vectorisable on plain SSE2), r = x - n ln 2 in two parts
 * (Cody-Waite, the high part has 9 significant bits so n * LN2_HI is exact),
 * |r| <= ln(2)/2; exp(r) by a degree-6 polynomial, 1 + r + r^2 p(r), whose
 * float coefficients are a near-minimax fit (iteratively reweighted least
 * squares) of (exp(r) - 1 - r) / r^2 on [-ln2/2, ln2/2]: approximation error
 * 3.7e-9 relative, far under float rounding; the result is scaled by 2^n as two factors 2^(n/2) and
 * 2^(n - n/2) so that results down to the smallest subnormal come out right
 * (x is clamped at -104, below which exp(x) rounds to 0 anyway).
 * Measured against exp() in double over every 7th float in [-104, 0]: max
 * relative error 8.1e-8 for normal results (about 1 ulp); yq_sigmoid_f32
 * 1.8e-7 relative over [-104, 104]. tests/unit/test_activation.c checks both
 * bounds (exp <= 1.2e-7, sigmoid <= 2e-7). */
#ifndef YQ_RT_KERNELS_VECMATH_H
#define YQ_RT_KERNELS_VECMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define YQ_IVDEP _Pragma("GCC ivdep")
#else
#define YQ_IVDEP
#endif

static inline float yq_bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t yq_f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Compute-bound float loops (activations, Softmax, Q/DQ) carry an AVX2 clone
 * that the loader picks on CPUs that have it (GCC function multiversioning;
 * about 2x on Sigmoid). The kernel files are compiled with -ffp-contract=off,
 * so no clone fuses a multiply-add: every clone rounds identically and results
 * do not depend on the machine. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) && \
    !defined(YQ_NO_TARGET_CLONES)
#define YQ_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define YQ_CLONES
#endif

/* exp(x) for x <= 0 (also fine for NaN-free x in (0, 0.35]); see above. */
static inline float yq_exp_nonpos_f32(float x) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23 */
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;      /* 355/512: exact in 9 bits */
    const float ln2_lo = -2.12194440e-4f;   /* ln 2 - ln2_hi */
    const float c2 = 0.49999994f, c3 = 0.166665211f, c4 = 0.041668389f, c5 = 0.00836874545f,
                c6 = 0.00138145394f;
    x = x < -104.0f ? -104.0f : x;
    float t = x * log2e + round_magic;
    float nf = t - round_magic;
    int32_t n = (int32_t)(yq_f32_to_bits(t) - yq_f32_to_bits(round_magic));
    float r = x - nf * ln2_hi;
    r = r - nf * ln2_lo;
    float p = c5 + r * c6;
    p = c4 + r * p;
    p = c3 + r * p;
    p = c2 + r * p;
    float y = 1.0f + (r + (r * r) * p);
    int32_t n1 = n >> 1, n2 = n - n1; /* arithmetic shift (GCC); both halves >= -76 */
    float s1 = yq_bits_to_f32((uint32_t)(n1 + 127) << 23);
    float s2 = yq_bits_to_f32((uint32_t)(n2 + 127) << 23);
    return (y * s1) * s2;
}

/* 1 / (1 + exp(-x)) with a single rounding step after exp: for x >= 0 it is
 * 1 / (1 + e), for x < 0 it is e / (1 + e), e = exp(-|x|) in (0, 1]. NaN in,
 * NaN out (it passes through the exp). */
static inline float yq_sigmoid_f32(float x) {
    float e = yq_exp_nonpos_f32(-fabsf(x));
    float num = x < 0.0f ? e : 1.0f;
    return num / (1.0f + e);
}

#endif
