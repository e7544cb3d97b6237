/* The graph IR: values, nodes, attributes, per-domain opsets.
 *
 * A model becomes IR once (src/onnx/), passes rewrite IR (src/ir/), the runtime
 * executes IR (src/rt/) and the writer turns IR back into ONNX.
 *
 * Values are referred to by index into g->values; nodes by index into g->nodes.
 * A value has at most one producer node; graph inputs and initializers have
 * none (producer == -1). An initializer is a value whose `data` is non-NULL and
 * that has YQ_VAL_INIT set. Shape inference fills dtype/rank/dims of every
 * value; a dim of -1 is unknown. Passes that delete nodes mark them dead and
 * call yq_graph_compact(), which renumbers nodes (value ids never change
 * during compaction; unused values are dropped only by yq_graph_compact too,
 * which renumbers values and rewrites every reference). */
#ifndef YQ_IR_GRAPH_H
#define YQ_IR_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

enum {
    YQ_VAL_INPUT = 1u << 0,  /* graph input (fed at run time) */
    YQ_VAL_OUTPUT = 1u << 1, /* graph output */
    YQ_VAL_INIT = 1u << 2,   /* initializer: `data` holds its contents */
};

typedef struct yq_value {
    char *name;
    yq_dtype dtype; /* YQ_DT_UNDEFINED until known */
    int rank;       /* -1 while unknown */
    int64_t dims[YQ_MAX_RANK];
    char *dim_params[YQ_MAX_RANK]; /* symbolic dim names from the file, or NULL */
    void *data;    /* owned; constant contents (initializers, folded constants) */
    size_t nbytes; /* bytes of data in memory format (4-bit: one byte per value) */
    int producer;  /* node index or -1 */
    unsigned flags;
    char *doc_string;
    /* Initializers stored outside the model file keep where they came from so
     * that a writer can choose to keep them external; NULL when inline. */
    char *external_location;
} yq_value;

/* ONNX AttributeProto.AttributeType numbers. */
typedef enum yq_attr_type {
    YQ_ATTR_UNDEFINED = 0,
    YQ_ATTR_FLOAT = 1,
    YQ_ATTR_INT = 2,
    YQ_ATTR_STRING = 3,
    YQ_ATTR_TENSOR = 4,
    YQ_ATTR_GRAPH = 5,
    YQ_ATTR_FLOATS = 6,
    YQ_ATTR_INTS = 7,
    YQ_ATTR_STRINGS = 8,
    YQ_ATTR_TENSORS = 9,
    YQ_ATTR_GRAPHS = 10,
    YQ_ATTR_SPARSE_TENSOR = 11,
    YQ_ATTR_SPARSE_TENSORS = 12,
    YQ_ATTR_TYPE_PROTO = 13,
    YQ_ATTR_TYPE_PROTOS = 14,
} yq_attr_type;

typedef struct yq_attr {
    char *name;
    yq_attr_type type;
    float f;
    int64_t i;
    char *s;      /* STRING: bytes, NUL-terminated for convenience */
    size_t slen;  /* STRING: length without the terminator */
    int64_t *ints; /* INTS */
    float *floats; /* FLOATS */
    char **strings; /* STRINGS */
    int n;          /* element count of INTS / FLOATS / STRINGS */
    yq_tensor *t;   /* TENSOR: owned, t->data owned */
    /* Attribute kinds yoloq does not interpret (graphs, sparse tensors, type
     * protos, ref_attr_name...) are kept as the packed AttributeProto bytes so
     * that they survive a read/write round trip. */
    uint8_t *opaque;
    size_t opaque_len;
} yq_attr;

typedef struct yq_node {
    char *name;
    char *op_type;
    char *domain; /* "" for the default ONNX domain */
    int op;       /* runtime op id (rt/ops.h), -1 if not resolved or unknown */
    int ninputs, noutputs;
    int *inputs;  /* value ids; -1 marks an omitted optional input */
    int *outputs; /* value ids; -1 marks an omitted optional output */
    int nattrs;
    yq_attr *attrs;
    char *doc_string;
    int dead; /* set by passes; removed by yq_graph_compact() */
    /* Runtime only: an activation the session fused into this node's epilogue
     * (YQ_FUSED_SILU: Conv -> Sigmoid -> Mul). Graphs with fused nodes are
     * never written back to ONNX. */
    int fused_act;
} yq_node;

enum { YQ_FUSED_NONE = 0, YQ_FUSED_SILU = 1 };

typedef struct yq_opset {
    char *domain;
    int64_t version;
} yq_opset;

typedef struct yq_meta {
    char *key, *value;
} yq_meta;

typedef struct yq_graph {
    yq_value *values;
    int nvalues, cap_values;
    yq_node *nodes;
    int nnodes, cap_nodes;
    int *inputs; /* graph inputs in file order (value ids, non-initializers) */
    int ninputs;
    int *outputs; /* graph outputs in file order */
    int noutputs;

    /* Model-level fields. */
    int64_t ir_version;
    yq_opset *opsets;
    int nopsets;
    char *producer_name, *producer_version, *domain, *doc_string, *graph_name, *graph_doc_string;
    int64_t model_version;
    yq_meta *meta;
    int nmeta;

    /* Where it came from (for messages and external data); may be NULL. */
    char *path;
    /* The ONNX layer keeps the file's ModelProto here so that fields yoloq does
     * not model survive a read/write round trip; freed with source_free. */
    void *source;
    void (*source_free)(void *);

    /* name -> value id hash index (open addressing), maintained by the API. */
    int *name_index;
    int name_index_cap;
} yq_graph;

yq_status yq_graph_new(yq_graph **out);
void yq_graph_free(yq_graph *g);

/* Default-domain opset version (ai.onnx or ""), 0 if not imported. */
int64_t yq_graph_opset(const yq_graph *g, const char *domain);
yq_status yq_graph_set_opset(yq_graph *g, const char *domain, int64_t version);

/* Value lookup/creation. yq_graph_add_value fails if the name exists.
 * Values with an empty name are not indexed (several may exist). */
int yq_graph_find_value(const yq_graph *g, const char *name);
yq_status yq_graph_add_value(yq_graph *g, const char *name, int *id_out);
/* Find or create. */
yq_status yq_graph_value(yq_graph *g, const char *name, int *id_out);
/* A fresh name "<base>", "<base>_1", ... that no value has yet. */
yq_status yq_graph_unique_name(const yq_graph *g, const char *base, char **out);
yq_status yq_graph_rename_value(yq_graph *g, int id, const char *new_name);

/* Make value `id` a constant: takes ownership of data (malloc'd). */
void yq_value_set_data(yq_value *v, yq_dtype dt, int rank, const int64_t *dims, void *data, size_t nbytes);
/* Add a new initializer with a fresh unique name based on `base`, copying data. */
yq_status yq_graph_add_initializer(yq_graph *g, const char *base, yq_dtype dt, int rank,
                                   const int64_t *dims, const void *data, int *id_out);
int64_t yq_value_numel(const yq_value *v); /* -1 if shape unknown */
/* Tensor view of a value's constant data (dtype, dims, data pointer). */
yq_tensor yq_value_tensor(const yq_value *v);

/* Node creation: copies the input/output id arrays; names are duplicated. */
yq_status yq_graph_add_node(yq_graph *g, const char *op_type, const char *domain, const char *name,
                            const int *inputs, int ninputs, const int *outputs, int noutputs,
                            int *node_out);

/* Attributes. The getters return the default when the attribute is absent. */
const yq_attr *yq_node_attr(const yq_node *n, const char *name);
int64_t yq_attr_int(const yq_node *n, const char *name, int64_t def);
float yq_attr_float(const yq_node *n, const char *name, float def);
const char *yq_attr_string(const yq_node *n, const char *name, const char *def);
/* INTS: returns element count and sets *vals (borrowed), or -1 if absent. */
int yq_attr_ints(const yq_node *n, const char *name, const int64_t **vals);
int yq_attr_floats(const yq_node *n, const char *name, const float **vals);
yq_status yq_node_set_attr_int(yq_node *n, const char *name, int64_t v);
yq_status yq_node_set_attr_float(yq_node *n, const char *name, float v);
yq_status yq_node_set_attr_ints(yq_node *n, const char *name, const int64_t *v, int count);
yq_status yq_node_set_attr_string(yq_node *n, const char *name, const char *s);
void yq_attr_clear(yq_attr *a);
yq_status yq_attr_copy(yq_attr *dst, const yq_attr *src);

/* Number of live (non-dead) nodes that read value id. */
int yq_graph_count_consumers(const yq_graph *g, int value_id);
/* Replace every use of value `from` as a node input or graph output by `to`. */
void yq_graph_replace_uses(yq_graph *g, int from, int to);
/* Recompute every value's producer from the nodes (after edits). Fails if a
 * value has two producers. */
yq_status yq_graph_rebuild_producers(yq_graph *g);
/* Sort live nodes topologically (stable: keeps file order where possible);
 * fails with YQ_ERR_INVALID naming a value on a cycle or an input that
 * nothing produces. Removes dead nodes. */
yq_status yq_graph_toposort(yq_graph *g);
/* Drop dead nodes and values that nothing references (not inputs, outputs,
 * node inputs/outputs). Renumbers; keeps relative order. */
yq_status yq_graph_compact(yq_graph *g);

/* Deep copy (without `source`). */
yq_status yq_graph_clone(const yq_graph *g, yq_graph **out);
/* Make values ids[0..n) the graph's outputs (in that order), replacing the
 * old ones: how a model is cut at intermediate tensors before preparation
 * drops everything after them. */
yq_status yq_graph_set_outputs(yq_graph *g, const int *ids, int n);

#endif
