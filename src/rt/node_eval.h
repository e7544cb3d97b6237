/* Evaluate one node whose inputs are all constants (value->data set).
 * Used by constant folding and by kernel unit tests: build a tiny graph with
 * initializers, add the node, call yq_node_eval. */
#ifndef YQ_RT_NODE_EVAL_H
#define YQ_RT_NODE_EVAL_H

#include "core/pool.h"
#include "ir/graph.h"

/* Resolves node->op if needed, runs infer (filling the output values' dtype
 * and dims), allocates each output, runs prepare/run/release, and stores the
 * results as the output values' constant data (value->data, owned by the
 * graph). pool may be NULL (single thread). */
yq_status yq_node_eval(yq_graph *g, int node_id, yq_pool *pool);

/* Infer one node's outputs only (resolves node->op if needed). */
yq_status yq_node_infer(yq_graph *g, int node_id);

#endif
