/* Turning a freshly read graph into one the runtime can execute:
 * resolve ops, sort, fix input shapes, upcast half-precision weights,
 * infer every shape while folding constants, drop dead nodes. */
#ifndef YQ_RT_PREPARE_H
#define YQ_RT_PREPARE_H

#include "core/pool.h"
#include "ir/graph.h"

typedef struct yq_prepare_opts {
    int fold_constants;   /* evaluate nodes whose inputs are all constant (default on) */
    int fuse;             /* Conv+BatchNormalization and Conv+Add(bias) folding */
    int keep_constant_ops; /* leave Constant nodes as nodes (writer round trips) */
} yq_prepare_opts;

/* Sensible defaults: fold on, fuse on. */
yq_prepare_opts yq_prepare_defaults(void);

/* Resolve every node's op id; fails naming the first unsupported operator. */
yq_status yq_resolve_ops(yq_graph *g);
/* Infer shapes of all nodes in order, folding constants when opts say so.
 * The graph must be topologically sorted and resolved. */
yq_status yq_infer_and_fold(yq_graph *g, yq_pool *pool, int fold);
/* The whole preparation (resolve, sort, input dims, fp16 weights, infer+fold,
 * optional fusions, dead-node removal, compaction). */
yq_status yq_prepare_graph(yq_graph *g, yq_pool *pool, const yq_prepare_opts *opts);

#endif
