/* The QCDQ rewrite: puts quantized weights and activation quantizers into the
 * IR as standard ONNX operators, so that any runtime (and our own) runs the
 * quantized model and the ONNX writer exports it unchanged.
 *
 * Weights of a quantized Conv / MatMul / Gemm (format YQ_QCDQ_CLIP, opset 13):
 *
 *     W_q (INT8 initializer, integer weights already in the n-bit range)
 *       -> Clip(W_q, int8 min, int8 max)                 only when bits < 8
 *       -> DequantizeLinear(·, scale [Cout] float, zero_point [Cout] int8, axis)
 *       -> the node's weight input (float)
 *
 * The Clip carries the bit width: INT8 storage is all opset 13 offers, and a
 * consumer that fuses Clip into the dequantizer (Brevitas's "QCDQ" form) knows
 * the weights are 4-bit. Format YQ_QCDQ_NATIVE stores INT4/UINT4 (bits <= 4,
 * held unpacked in memory, packed by the writer) or INT8 directly and needs
 * opset 21 / IR 10 (no Clip); it also allows group-wise (blocked) scales.
 * Per-tensor parameters are scalars. Bias stays float unless
 * yq_qcdq_insert_bias_int32 is used.
 *
 * Activations (A8): QuantizeLinear(x, s, zp) -> DequantizeLinear(·, s, zp) in
 * front of the quantized node's float input; nodes that read the same tensor
 * with the same parameters share one pair.
 *
 * Weight matrices are always handled as [rows = Cout, cols = K] (row = output
 * channel, what GPTQ and the scale choosers use); yq_weight_ref says how a
 * node's weight initializer maps to that view. New values get dtype, rank and
 * dims; every new value and node name is unique. The inserted nodes are
 * appended, so finish with yq_qcdq_finalize (topological order, unused float
 * weights dropped, opset raised as needed). */
#ifndef YQ_QUANT_QCDQ_H
#define YQ_QUANT_QCDQ_H

#include <stdint.h>

#include "core/status.h"
#include "core/pool.h"
#include "ir/graph.h"
#include "ir/passes.h"
#include "quant/quantizer.h"

typedef struct yq_weight_ref {
    int node;
    int input;          /* input index that holds the weight (1) */
    int value;          /* the float initializer */
    int64_t rows, cols; /* the [Cout, K] view */
    int transposed;     /* the initializer is [K, Cout] (MatMul B, Gemm with transB = 0) */
    int64_t group;      /* Conv group (1 otherwise) */
} yq_weight_ref;

/* Whether node is a Conv / MatMul / Gemm whose weight is a constant float
 * initializer yoloq can quantize (Conv: any rank >= 3; MatMul: 2-D B). */
int yq_node_has_const_weight(const yq_graph *g, int node);
/* The weight of node; fails (naming the node) when it has none. */
yq_status yq_weight_ref_get(const yq_graph *g, int node, yq_weight_ref *ref);
/* Copy the weight into w[rows·cols] as the [Cout, K] view. */
yq_status yq_weight_matrix_read(const yq_graph *g, const yq_weight_ref *ref, float *w);

typedef enum yq_qcdq_format {
    YQ_QCDQ_CLIP = 0, /* INT8 + Clip (bits < 8) + DequantizeLinear; opset 13 */
    YQ_QCDQ_NATIVE,   /* INT4 (bits <= 4) or INT8 + DequantizeLinear; opset 21, IR 10 */
} yq_qcdq_format;

/* Replace node's float weight input by integers q (the [Cout, K] view,
 * values in qp's range) + Clip + DequantizeLinear. qp is signed, per tensor
 * (axis -1), per row (axis 0, nch = rows) or — NATIVE only — blocked along K
 * (axis 1, block_size g, nch = rows·ceil(K/g)), as yq_weight_qparams and GPTQ
 * produce it. *dq_node_out (may be NULL) receives the DequantizeLinear. */
yq_status yq_qcdq_insert_weight(yq_graph *g, int node, const int8_t *q, const yq_qparams *qp,
                                yq_qcdq_format fmt, int *dq_node_out);

/* Replace the float bias (input 2 of Conv / Gemm, [Cout] values) by INT32
 * integers round(b / (s_in · s_w[c])) + DequantizeLinear(scale s_in·s_w[c],
 * zero point 0, axis 0): the bias as an integer accumulator would add it.
 * w_qp is the weight's per-tensor or per-row parameters. */
yq_status yq_qcdq_insert_bias_int32(yq_graph *g, int node, float input_scale, const yq_qparams *w_qp);

/* Quantize input `input` of node (a float activation, not a constant) with the
 * per-tensor qp (8-bit uint8/int8, or 16-bit which needs opset 21): inserts
 * QuantizeLinear -> DequantizeLinear, or reuses an existing pair on the same
 * tensor with equal scale and zero point (*shared_out = 1, may be NULL). */
yq_status yq_qcdq_insert_activation(yq_graph *g, int node, int input, const yq_qparams *qp, int *shared_out);

/* Quantize output `output` of node (float) with the per-tensor qp: the node
 * writes a new value X_unquantized, and QuantizeLinear -> DequantizeLinear
 * writes the old value X, so every reader and graph output is unchanged by
 * name. With pairs on a Conv's inputs this is the QDQ form in which ONNX
 * Runtime fuses DQ -> Conv -> Q into one QLinearConv. */
yq_status yq_qcdq_insert_output_activation(yq_graph *g, int node, int output, const yq_qparams *qp);

/* Sort topologically, drop values nothing uses (the replaced float weights),
 * and choose the default-domain opset: 21 with IR version 10 when 4-bit /
 * 16-bit types or blocked scales are present; otherwise 13, the QCDQ opset
 * (per-channel DequantizeLinear) — raised from below, or lowered from a newer
 * model opset when every node means the same at 13 (operators added after
 * 13, attributes at non-default values such as Reshape allowzero = 1, Shape
 * start/end, Split num_outputs, Resize antialias/axes, Reduce* with
 * non-constant axes inputs... keep the model's opset). Lowering drops
 * attributes at their defaults and turns constant Reduce* axes inputs back
 * into attributes. Renumbers values and nodes. */
typedef struct yq_qcdq_opset_note {
    int64_t model_opset, opset; /* before / after */
    char reason[320];           /* why this opset (the blocking node when not lowered) */
} yq_qcdq_opset_note;
yq_status yq_qcdq_finalize_opset(yq_graph *g, yq_qcdq_opset_note *note);
yq_status yq_qcdq_finalize(yq_graph *g); /* note not wanted */
/* Default-domain opset 21 (if lower) and IR version 10 (if lower). */
yq_status yq_qcdq_set_opset21(yq_graph *g);

typedef struct yq_qcdq_counts {
    int quantize, dequantize, clip;
    int nodes; /* all live nodes */
} yq_qcdq_counts;
/* Live QuantizeLinear / DequantizeLinear / Clip nodes (and all nodes) of g. */
void yq_qcdq_count(const yq_graph *g, yq_qcdq_counts *c);

/* yq_pass_cleanup (ir/passes.h) with constant folding through the runtime's
 * kernels (pool may be NULL): the clean-up of a finalized QCDQ graph before
 * it is written. Q/DQ pairs and weight chains survive it unchanged. */
yq_status yq_qcdq_cleanup(yq_graph *g, yq_pool *pool, yq_cleanup_stats *stats);

#endif
