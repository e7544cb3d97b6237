/* Integer convolution for QCDQ graphs: uint8 activation codes × integer
 * weights → exact int32 sums, then a float epilogue.
 *
 * What it computes, per output (n, m, oy, ox):
 *     acc = Σ (x_code − x_zp) · w'            exact in int32
 *     y   = act((float)acc · (x_scale · w_scale[m]) + bias[m])
 * and stores y as float, or requantized to uint8 with
 *     q = saturate(round_half_even(y / y_scale) + y_zp)
 * (the QuantizeLinear formula of rt/kernels/qdq.c, bit for bit).
 * w' is the weight code minus its zero point (after any Clip), |w'| <= 255, so
 * 4-bit and 8-bit, symmetric and asymmetric weights take the same path.
 * Padding is the code x_zp (a padded float zero), i.e. contributes nothing.
 *
 * Kernels (every one yields the same int32 sums, hence bit-identical outputs):
 *  - yq_qconv_ref: plain loops in the u8 form Σ x_code·w' − x_zp·Σw' with a
 *    per-channel weight sum (padding read as x_zp) — the definition the fast
 *    kernels are tested against.
 *  - GEMM kernels: the input is packed per pixel block as int16 (x − x_zp)
 *    pairs along K (im2col on the fly; padding = 0), the weights once at plan
 *    time as int16 pairs, and a 4×16 micro-kernel accumulates pair products
 *    in int32: AVX2 vpmaddwd (16 exact multiply-adds per instruction; no int16
 *    saturation, unlike vpmaddubsw with 8-bit weights) or portable C.
 *  - u8 GEMM (AVX2, weights with |w'| <= 64, i.e. 4-bit): raw codes × int8 w'
 *    with vpmaddubsw; pair sums cannot saturate int16 (2·255·64 < 32767) and
 *    up to 4 of them are summed in int16 when |w'| <= 15 (4·2·255·15 < 32767)
 *    before widening; the zero point is taken out as zx·Σw' per channel
 *    (padding is the code zx). 8-bit weights (|w'| up to 255) take the int16
 *    path, whose pair products cannot saturate at all.
 *  - depthwise (group == C == M): per-channel stencil in int32, AVX2 rows.
 * The epilogue runs on rows of int32 sums through one function shared by all
 * kernels (SiLU is the float conv epilogue's, yq_apply_bias_act).
 *
 * Threads take disjoint output blocks; each output's sum and epilogue never
 * depend on the split, so results are bitwise independent of thread count. */
#ifndef YQ_RT_KERNELS_CONV_INT8_H
#define YQ_RT_KERNELS_CONV_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/status.h"
#include "rt/kernels/conv.h"

typedef struct yq_qconv_desc {
    yq_conv2d_shape s;    /* geometry; OH/OW are filled by yq_qconv_plan_new / yq_qconv_ref */
    const int16_t *w;     /* [M, C/group, kh, kw]: weight code − weight zero point, |w'| <= 255 */
    const float *w_scale; /* [M] */
    const float *bias;    /* [M] or NULL */
    float x_scale;
    int32_t x_zp; /* input codes are uint8; 0..255 */
    yq_act act;
    int out_u8; /* 1: requantize to uint8 with y_scale / y_zp; 0: float output */
    float y_scale;
    int32_t y_zp;
} yq_qconv_desc;

typedef enum yq_qconv_kernel {
    YQ_QCONV_AUTO = -1,
    YQ_QCONV_GEMM_C = 0,    /* packed int16 GEMM, portable C micro-kernel */
    YQ_QCONV_GEMM_AVX2 = 1, /* packed int16 GEMM, AVX2 vpmaddwd micro-kernel */
    YQ_QCONV_DEPTHWISE = 2, /* group == C == M stencil */
    YQ_QCONV_GEMM_AVX2_U8 = 3, /* raw u8 codes × int8 w' (vpmaddubsw), |w'| <= 64: 4-bit weights */
} yq_qconv_kernel;

typedef struct yq_qconv_plan yq_qconv_plan;

/* Validates the description (geometry, |w'| <= 255, sums that fit int32,
 * scales finite and positive) and packs the weights; the caller's arrays may
 * be freed afterwards. kernel: YQ_QCONV_AUTO picks depthwise where it applies,
 * else with AVX2 the u8 GEMM when |w'| <= 64, else the int16 AVX2 GEMM, and
 * without AVX2 the C GEMM; a forced kernel
 * that cannot run here fails with YQ_ERR_UNSUPPORTED. */
yq_status yq_qconv_plan_new(const yq_qconv_desc *d, int nthreads, int kernel, yq_qconv_plan **out);
void yq_qconv_plan_free(yq_qconv_plan *p);
size_t yq_qconv_plan_scratch(const yq_qconv_plan *p);
yq_qconv_kernel yq_qconv_plan_kernel(const yq_qconv_plan *p);
const char *yq_qconv_kernel_name(yq_qconv_kernel k);
/* X: uint8 codes [N, C, H, W]; Y: float or uint8 [N, M, OH, OW]. scratch:
 * yq_qconv_plan_scratch() bytes (64-byte aligned) or NULL to allocate. The
 * pool may have at most the plan's nthreads. */
yq_status yq_qconv_run(const yq_qconv_plan *p, yq_pool *pool, const uint8_t *X, void *Y, void *scratch);

/* Reference (single thread, no packing). Fails only on an invalid description. */
yq_status yq_qconv_ref(const yq_qconv_desc *d, const uint8_t *X, void *Y);

/* Whether this CPU runs the AVX2 kernel. */
int yq_qconv_have_avx2(void);

/* The kernel name of a prepared QConvU8 node's state (for the session's
 * verbose engine listing). */
const char *yq_qconv_node_kernel(const void *state);

#endif
