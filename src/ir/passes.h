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

/* Helpers shared by passes. */
/* Live node reading `value_id` when it is the only reader, else -1. */
int yq_pass_single_consumer(const yq_graph *g, int value_id);
int yq_value_is_graph_output(const yq_graph *g, int value_id);

#endif
