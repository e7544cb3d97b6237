/* Integer execution of QCDQ convolutions (runtime only, in yq_session_new).
 *
 * A QCDQ file runs as fake-quant by default: weight DequantizeLinear is folded
 * to float at load and the float conv kernels run on dequantized activations.
 * This pass turns
 *
 *   DQ(x: uint8, per-tensor) → Conv(W = DQ(int weights [→ Clip]), bias) [→ SiLU] [→ Q(uint8, per-tensor)]
 *
 * into one QConvU8 node (rt/kernels/conv_int8.h): it reads the uint8 codes,
 * accumulates Σ(x − zx)·(w − zw) exactly in int32, and applies
 * acc·(sx·sw[m]) + bias → SiLU → float output, or a uint8 requantize when the
 * conv's only consumer is a per-tensor uint8 QuantizeLinear (whose output it
 * then writes directly, so consecutive integer convs pass uint8 codes and the
 * float DQ/Q round trip disappears). Every rewrite is exact in the sense of the
 * QCDQ semantics: the only difference to fake-quant is float summation order.
 *
 * A conv whose input is float (weight-only quantization, W8A16 / W4A16)
 * becomes QWConv instead (rt/kernels/conv.h, yq_conv2d_plan_new_int8): the
 * weights stay int8 codes with per-channel scales, dequantized one cache block
 * at a time inside the GEMM, so the float copy of the weights is freed; the
 * outputs equal the float conv on the dequantized weights computed with the
 * same (im2col / 1×1) GEMM.
 *
 * Two phases, because weight DQ is constant-folded while the graph is
 * prepared: yq_qconv_capture reads the raw graph (before yq_prepare_graph) and
 * keeps each quantized conv weight's integer codes and scales by the name of
 * the value the Conv reads; yq_qconv_pass runs after preparation and the SiLU
 * fusion and rewrites the convs whose input side also matches. */
#ifndef YQ_RT_QCONV_PASS_H
#define YQ_RT_QCONV_PASS_H

#include <stdio.h>

#include "ir/graph.h"

typedef struct yq_qconv_weight {
    char *name;      /* the (DQ output) value the Conv reads as W */
    int64_t dims[4]; /* [M, C/group, kh, kw] */
    int16_t *w;      /* code (after Clip) − zero point */
    float *scale;    /* [M] */
    int bits;        /* 4 when every channel's w' spans at most 16 values, else 8 */
    const char *why_not; /* set by the pass for a conv left as fake-quant */
    int integer;         /* rewritten to QConvU8 */
    int weight_only;     /* float input: rewritten to QWConv (int8 weights dequantized per GEMM block) */
} yq_qconv_weight;

typedef struct yq_qconv_capture {
    yq_qconv_weight *w;
    int n;
} yq_qconv_capture;

/* Record the quantized conv weights of a raw (unprepared) graph. A graph
 * without any yields an empty capture. */
yq_status yq_qconv_capture_new(const yq_graph *g, yq_qconv_capture **out);
void yq_qconv_capture_free(yq_qconv_capture *c);
/* The captured weight a Conv reading value `name` as W would use, or NULL. */
yq_qconv_weight *yq_qconv_capture_find(const yq_qconv_capture *c, const char *name);

/* Rewrite matching convs of a prepared graph (after yq_pass_fuse_conv_silu);
 * marks nodes dead (the caller compacts). *converted: number rewritten. */
yq_status yq_qconv_pass(yq_graph *g, yq_qconv_capture *cap, int *converted);

#endif
