/* GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers", 2022) for one weight matrix, plus the
 * Hessian statistics it needs.
 *
 * A layer y = W x with W [rows = Cout, cols = K] is quantized column by
 * column. After column j is rounded, its error is spread over the columns not
 * yet quantized so that the layer output on the calibration inputs X [n, K]
 * changes as little as possible: the objective is ||X Wᵀ - X Ŵᵀ||², whose
 * Hessian is H = 2 XᵀX / n [K, K]. With H = I there is nothing to compensate
 * and GPTQ is exactly round-to-nearest.
 *
 * Conv: K = Cin/group · kh · kw in im2col order (cin-major, then kh, kw), which
 * is the memory order of the ONNX weight [Cout, Cin/group, kh, kw], so the
 * weight tensor of output channels [g·Cout/group, (g+1)·Cout/group) is the
 * contiguous [Cout/group, K] matrix W + g·(Cout/group)·K. A grouped conv is
 * `group` independent GPTQ problems, each with its own Hessian built from the
 * im2col rows of that group's input channels (depthwise: K = kh·kw, one output
 * channel per problem). MatMul / Gemm: K = the reduced dimension; the rows of
 * X are the input vectors (the last dim of A), and W is B transposed as needed.
 *
 * All arithmetic is double; results are bit-reproducible for the same inputs. */
#ifndef YQ_QUANT_GPTQ_H
#define YQ_QUANT_GPTQ_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/quantizer.h"

typedef struct yq_gptq_opts {
    yq_qformat format;   /* bits (2..8), signed (required), narrow, symmetric */
    yq_scale_opts scale; /* how scales are chosen before (or, per group, during) GPTQ */
    double percdamp;     /* damping = percdamp · mean(diag H) (0.01) */
    /* Quantize columns in order of decreasing H_ii (the inputs with the most
     * energy first): their errors can then still be absorbed by the many
     * columns left, while the low-energy columns quantized last matter least.
     * This helps most with outlier channels. (1) */
    int act_order;
    int block_size; /* columns per lazy-update block (128): only memory traffic, not the math */
    /* 0: one scale per row, chosen from the weights before GPTQ. g > 0: one
     * scale per row per group of g columns, chosen from the error-updated
     * weights when the group starts (as in the reference implementation);
     * with act_order the groups are chosen up front on the original column
     * order ("static groups"), so that every group stays a contiguous block
     * of the original weight and exports as a blocked DequantizeLinear. */
    int group_size;
    int max_damp_retries; /* Cholesky failures tolerated, damping x10 each (6) */
} yq_gptq_opts;

/* Defaults for `bits`: signed, symmetric, not narrow, max scales, percdamp
 * 0.01, act-order, block 128, no groups, 6 retries. */
void yq_gptq_opts_default(yq_gptq_opts *o, int bits);

typedef struct yq_gptq_result {
    int8_t *q;     /* [rows·cols] integer weights in the n-bit range */
    float *dq;     /* [rows·cols] dequantized weights, (q - zp) · scale in float32 */
    yq_qparams qp; /* per row (axis 0), or per group (axis 1, block_size = group_size) */
    int damp_retries;     /* times the damping was multiplied by 10 because H was not positive definite */
    double damp;          /* damping actually added to the diagonal */
    int64_t dead_columns; /* inputs with H_ii == 0: their weights were set to 0 */
    double loss;          /* sum over columns of ||err_j||² / Hinv_jj² / 2, GPTQ's proxy of the output error */
} yq_gptq_result;

/* Quantize W [rows, cols] (float) given H [cols, cols] (symmetric; not
 * modified). `fixed` (may be NULL) imposes scales/zero points laid out as
 * yq_weight_qparams produces them (per row, or blocked along axis 1): GPTQ and
 * round-to-nearest can then be compared on the same grid. On success `res`
 * owns its arrays (yq_gptq_result_free). Fails if H is not finite or stays
 * indefinite after max_damp_retries; never returns NaN weights. */
yq_status yq_gptq_quantize(const float *w, int64_t rows, int64_t cols, const double *H, const yq_gptq_opts *o,
                           const yq_qparams *fixed, yq_gptq_result *res);
void yq_gptq_result_free(yq_gptq_result *res);

/* H[K, K] += Xᵀ X for the rows X[nrows, K]. H must be symmetric on entry
 * (zero to start); it stays symmetric. Row sub-sampling is the caller's
 * choice: pass only the rows to use. Summation order is fixed. */
void yq_hessian_accumulate(double *H, const float *X, int64_t nrows, int64_t K);
/* H *= 2 / nrows_total: turn the accumulated XᵀX into the Hessian 2XᵀX/n. */
void yq_hessian_finalize(double *H, int64_t K, int64_t nrows_total);

/* 2-D convolution geometry (NCHW input, weight [Cout, C/group, kh, kw]). */
typedef struct yq_conv_geom {
    int64_t n, c, h, w;         /* input */
    int64_t cout, kh, kw;       /* weight */
    int64_t stride_h, stride_w; /* >= 1 */
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t dil_h, dil_w; /* >= 1 */
    int64_t group;        /* divides c and cout */
    int64_t oh, ow;       /* output size, filled by yq_conv_geom_check */
} yq_conv_geom;

/* Validate the geometry and compute oh/ow. */
yq_status yq_conv_geom_check(yq_conv_geom *g);
/* Geometry of Conv node `node` of g (2-D, constant weight, explicit pads or
 * auto_pad) for an input of shape in_dims [N, C, H, W]. */
yq_status yq_conv_geom_from_node(const yq_graph *gr, int node, const int64_t in_dims[4], yq_conv_geom *out);

/* Columns of one group's im2col matrix: K = (c/group)·kh·kw. */
static inline int64_t yq_conv_group_k(const yq_conv_geom *g) { return g->c / g->group * g->kh * g->kw; }
/* Number of output positions: n·oh·ow (the rows of im2col). */
static inline int64_t yq_conv_positions(const yq_conv_geom *g) { return g->n * g->oh * g->ow; }

/* rows[npos, K] = the im2col rows of group `group_index` at output positions
 * positions[0..npos) (index (b·oh + y)·ow + x), or at all positions
 * 0..npos-1 when positions is NULL. Padding reads as 0. Column order:
 * input channel within the group, then kernel row, then kernel column —
 * the order of the weight's K axis. */
void yq_im2col_rows(const float *x, const yq_conv_geom *g, int64_t group_index, const int64_t *positions,
                    int64_t npos, float *rows);

/* For every group gi: H_groups[gi][K][K] += Xᵀ X of its im2col rows at the
 * given positions (NULL: all of them). H_groups holds group·K·K doubles. */
yq_status yq_conv_hessian_accumulate(double *H_groups, const float *x, const yq_conv_geom *g,
                                     const int64_t *positions, int64_t npos);

/* Cholesky helpers (exposed for tests). In place on a row-major [n, n]
 * matrix: lower factor L with A = L Lᵀ in the lower triangle (upper triangle
 * left as is). Returns 0, or -1 if A is not positive definite to working
 * precision (a pivot below 1e-12 of its diagonal entry counts as singular). */
int yq_cholesky_lower(double *a, int64_t n);
/* U upper with UᵀU = A⁻¹ (the factor GPTQ walks along), computed as the
 * inverse of the "reversed" Cholesky factor of A: no explicit A⁻¹.
 * work: n·n doubles. Returns 0, or -1 if A is not positive definite. */
int yq_inverse_cholesky_upper(const double *a, int64_t n, double *u, double *work);

#endif
