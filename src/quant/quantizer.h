/* Quantization parameters and the reference (round-to-nearest) quantizer.
 *
 * Integer grid: q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
 *               x' = (q - zero_point) * scale
 * computed in float32 exactly as ONNX QuantizeLinear / DequantizeLinear do, so
 * the integers we store in a QCDQ model are the ones a runtime would compute
 * from the float tensor with the same scale and zero point.
 *
 * Scale choosers work on a [rows, cols] matrix whose rows are output channels
 * (Conv weight [Cout, Cin/group, kh, kw] is already such a matrix in memory),
 * per row ("per channel"), per tensor, or per group of `block` consecutive
 * columns of a row (group-wise, as GPTQ uses it).
 *
 * Deterministic, no global state. Rounding relies on the default FE_TONEAREST
 * floating-point mode, which yoloq never changes. */
#ifndef YQ_QUANT_QUANTIZER_H
#define YQ_QUANT_QUANTIZER_H

#include <stdint.h>

#include "core/status.h"

/* Smallest scale a chooser produces. A range narrower than this is numerically
 * zero for a conv/matmul; clamping keeps 1/scale finite and s_in*s_w (bias
 * scale) non-zero. A range of exactly zero (dead channel) gets scale 1. */
#define YQ_MIN_SCALE 1e-12f

typedef struct yq_qparams {
    int bits;      /* 2..8, or 16 (int16 activations) */
    int is_signed; /* int grid [-2^(b-1), 2^(b-1)-1] vs uint grid [0, 2^b-1] */
    int narrow;    /* signed only: drop the most negative code ([-127,127], [-7,7]) */
    /* -1: one scale for the whole tensor. Otherwise, as ONNX's DequantizeLinear
     * `axis`: per-channel scales along `axis` (block_size == 0), or blocks of
     * `block_size` consecutive elements along `axis` (group-wise; for a
     * [rows, cols] matrix grouped along cols: axis 1, scales [rows][ngroups]). */
    int axis;
    int64_t block_size;
    int nch;             /* number of scales / zero points */
    float *scale;        /* [nch], owned */
    int32_t *zero_point; /* [nch], owned */
} yq_qparams;

/* Allocate nch scales (1.0) and zero points (0); validates bits. */
yq_status yq_qparams_alloc(yq_qparams *qp, int bits, int is_signed, int narrow, int axis, int nch);
void yq_qparams_free(yq_qparams *qp);
yq_status yq_qparams_copy(yq_qparams *dst, const yq_qparams *src);

/* Integer range for (bits, signed, narrow): int8 [-128,127], narrow [-127,127],
 * uint8 [0,255], int4 [-8,7], narrow [-7,7], uint4 [0,15], int16, uint16.
 * `narrow` is ignored for unsigned grids. Bits must be 2..8 or 16. */
int32_t yq_qmin(int bits, int is_signed, int narrow);
int32_t yq_qmax(int bits, int is_signed, int narrow);
yq_status yq_qrange_check(int bits, int is_signed, int narrow);

/* clamp(nearbyintf(x / scale) + zp, qmin, qmax) in float32 (ONNX QuantizeLinear).
 * NaN maps to zp (it has no integer); +-Inf saturate. */
int32_t yq_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax);
/* (q - zp) * scale in float32 (ONNX DequantizeLinear). */
static inline float yq_dequantize_value(int32_t q, float scale, int32_t zp) { return (float)(q - zp) * scale; }
/* Quantize then dequantize. */
static inline float yq_fake_quantize(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
    return yq_dequantize_value(yq_quantize_value(x, scale, zp, qmin, qmax), scale, zp);
}

/* What grid to quantize onto. Symmetric: zero point fixed at 0 (signed) or at
 * the middle code (unsigned); asymmetric: the zero point moves so that the grid
 * covers [lo, hi] — always with 0.0 exactly representable, because padding and
 * ReLU/SiLU zeros must stay exact. */
typedef struct yq_qformat {
    int bits;
    int is_signed;
    int narrow;
    int symmetric;
} yq_qformat;

/* Scale and zero point covering [lo, hi] (widened to include 0). Symmetric
 * signed: scale = max(|lo|,|hi|) / qmax, so +-amax are both representable
 * (the extra negative code of a non-narrow grid is then unused by the max
 * range, but clipping searches may use it). Asymmetric: scale = (hi-lo) /
 * (qmax-qmin), zp = qmin - round(lo/scale). Degenerate ranges give scale 1
 * (exact zero range) or YQ_MIN_SCALE. Fails on non-finite bounds. */
yq_status yq_qparams_from_range(double lo, double hi, const yq_qformat *f, float *scale, int32_t *zp);

/* How weight scales are chosen. */
typedef enum yq_scale_method {
    YQ_SCALE_MAX = 0,    /* absmax (symmetric) or min/max (asymmetric) */
    YQ_SCALE_PERCENTILE, /* percentile of |w| (symmetric) or both tails */
    YQ_SCALE_MSE,        /* search clipping ratios, minimise sum |w - q(w)|^p */
} yq_scale_method;

typedef struct yq_scale_opts {
    yq_scale_method method;
    double percentile;    /* PERCENTILE: e.g. 99.99 (in (50, 100]) */
    int mse_grid;         /* MSE: number of candidate ratios (100) */
    double mse_min_ratio; /* MSE: ratios are spread evenly over [min_ratio, 1] (0.5) */
    double mse_norm;      /* MSE: p of the Lp error (2.0; 2.4 weighs outliers more) */
} yq_scale_opts;

void yq_scale_opts_default(yq_scale_opts *o); /* MAX, 99.99, 100, 0.5, 2.0 */
const char *yq_scale_method_name(yq_scale_method m);

/* Scale and zero point for the n values x[0..n). Fails on NaN/Inf values. */
yq_status yq_choose_qparams(const float *x, int64_t n, const yq_qformat *f, const yq_scale_opts *o, float *scale,
                            int32_t *zp);

/* Allocate and choose qparams for W[rows, cols] (row = output channel):
 * granularity per tensor (per_channel == 0: axis -1, nch 1), per row
 * (per_channel != 0, group == 0: axis 0, nch rows) or per group of `group`
 * columns within each row (axis 1, block_size group, nch rows*ceil(cols/group)).
 * Weights must be signed grids (they are stored as int8). */
yq_status yq_weight_qparams(const float *w, int64_t rows, int64_t cols, int per_channel, int64_t group,
                            const yq_qformat *f, const yq_scale_opts *o, yq_qparams *out);

/* Scale index of element (r, c) of a [rows, cols] matrix under qp (per tensor,
 * axis 0 per row, or axis 1 blocked). */
static inline int64_t yq_qparams_index(const yq_qparams *qp, int64_t cols, int64_t r, int64_t c) {
    if (qp->axis < 0) return 0;
    if (qp->block_size > 0) return r * ((cols + qp->block_size - 1) / qp->block_size) + c / qp->block_size;
    return r;
}

/* Round-to-nearest reference quantizer of W[rows, cols] with qp laid out as
 * yq_weight_qparams produces it. q (int8, values in the n-bit range) and dq
 * (dequantized floats) may each be NULL. Fails if qp does not fit the shape or
 * is unsigned with codes above 127. */
yq_status yq_quantize_matrix(const float *w, int64_t rows, int64_t cols, const yq_qparams *qp, int8_t *q,
                             float *dq);

/* p-th percentile (0..100) of x[0..n) by linear interpolation between order
 * statistics (numpy's default); of |x| when absolute != 0. n >= 1. */
yq_status yq_percentile(const float *x, int64_t n, double p, int absolute, double *out);

#endif
