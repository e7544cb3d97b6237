/* Structural graph passes on the IR. They identify ops by op_type (the IR knows
 * nothing about kernels), keep the graph valid and never touch values that
 * other nodes still read. Each returns YQ_OK when nothing applied. */
#ifndef YQ_IR_PASSES_H
#define YQ_IR_PASSES_H

#include "ir/graph.h"

/* Mark dead every node none of whose outputs is used (iteratively); then the
 * caller compacts. */
yq_status yq_pass_remove_dead(yq_graph *g);
/* Conv → BatchNormalization (constant weights/stats, conv output read only by
 * the BN) becomes one Conv with folded weights and bias. */
yq_status yq_pass_fuse_conv_bn(yq_graph *g);
/* Conv → Add(constant per-output-channel or scalar) becomes Conv with bias. */
yq_status yq_pass_fuse_conv_add(yq_graph *g);

/* Runtime only: Conv -> Sigmoid -> Mul(conv, sigmoid) (SiLU) becomes one Conv
 * with fused_act = YQ_FUSED_SILU; the result is not valid ONNX, so only the
 * session applies it, never a graph that is written out. */
yq_status yq_pass_fuse_conv_silu(yq_graph *g);

/* Clean-up of a graph that is written out (onnxoptimizer-like, Q/DQ-safe):
 *  - Identity, Cast to the input's own dtype, Transpose with the identity
 *    perm, and Reshape / Flatten / Squeeze / Unsqueeze whose output shape
 *    equals the input shape are bypassed;
 *  - Transpose -> Transpose becomes one Transpose (composed perm; bypassed if
 *    the identity), Reshape-like -> Reshape becomes one Reshape to the static
 *    final shape, and a pair of shape-only nodes that restores its input's
 *    shape (Unsqueeze -> Squeeze) disappears — only when the intermediate
 *    value has that one reader and is not a graph output;
 *  - nodes whose inputs are all constants are folded through `eval` (when
 *    set), except QuantizeLinear / DequantizeLinear, any node feeding one (the
 *    Clip of a QCDQ weight chain), graph outputs, and folds that would grow
 *    the constants by more than 4 KiB;
 *  - dead nodes are removed; repeated to a fixed point; the graph ends sorted
 *    and compacted.
 * Graph outputs keep their names (the surviving value is renamed; when it
 * cannot be, the node stays). Shapes of values must be inferred. */
typedef struct yq_cleanup_opts {
    /* Evaluate node (all inputs constant) and store its outputs' data; NULL:
     * no constant folding (the IR has no kernels; the runtime supplies one). */
    yq_status (*eval)(void *arg, yq_graph *g, int node);
    void *eval_arg;
} yq_cleanup_opts;

typedef struct yq_cleanup_stats {
    int identity, cast, transpose, reshape; /* no-op nodes bypassed */
    int transpose_fused, reshape_fused;     /* chains merged into one node */
    int shape_pairs;                        /* shape-only pairs that cancelled */
    int folded;                             /* nodes constant-folded */
    int dead;                               /* dead nodes removed */
} yq_cleanup_stats;

yq_status yq_pass_cleanup(yq_graph *g, const yq_cleanup_opts *o, yq_cleanup_stats *stats);

/* Helpers shared by passes. */
/* Live node reading `value_id` when it is the only reader, else -1. */
int yq_pass_single_consumer(const yq_graph *g, int value_id);
int yq_value_is_graph_output(const yq_graph *g, int value_id);

#endif
