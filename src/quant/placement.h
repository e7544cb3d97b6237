/* Default placement: which nodes of a YOLO graph get quantized.
 *
 * Quantized: Conv, MatMul and Gemm nodes whose weight is a constant float
 * initializer (their weights, and — for A8 — their float activation inputs).
 * A MatMul of two activations (attention scores) has no weight and is left
 * alone.
 *
 * Kept float, the "decode path", where a few quantization steps would move
 * boxes by pixels while saving nothing measurable:
 *  - the DFL conv: a Conv with 16 input channels, 1 output channel, a 1x1
 *    kernel, group 1, no bias and the weights exactly 0, 1, ..., 15 (it
 *    computes the expected value of the box-side distribution; its integer
 *    weights are already exact and its input is a softmax);
 *  - everything after the head's final Concat: a Concat that has a weighted
 *    op among its ancestors but no quantizable weighted op (other than a DFL
 *    conv) among its descendants — where the per-level box/class outputs are
 *    merged. Its descendants (split, DFL, anchors, TopK, gathers...) are
 *    post-processing. */
#ifndef YQ_QUANT_PLACEMENT_H
#define YQ_QUANT_PLACEMENT_H

#include "core/status.h"
#include "ir/graph.h"

enum {
    YQ_PLACE_QUANTIZE = 1u << 0, /* quantize this node (weights, and its inputs for A8) */
    YQ_PLACE_WEIGHTED = 1u << 1, /* Conv/MatMul/Gemm with a constant float weight */
    YQ_PLACE_DFL = 1u << 2,      /* the YOLO DFL conv */
    YQ_PLACE_DECODE = 1u << 3,   /* after the head's final Concat (post-processing) */
    YQ_PLACE_HEAD_CONCAT = 1u << 4, /* a Concat found to be the head's final merge */
};

/* Is node a YOLO DFL conv (checks the weight values)? */
int yq_is_dfl_conv(const yq_graph *g, int node);

/* flags[g->nnodes] receives YQ_PLACE_* bits for every node (dead nodes: 0).
 * Works on any node order. */
yq_status yq_quant_default_placement(const yq_graph *g, unsigned *flags);

#endif
