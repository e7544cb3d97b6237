/* The op table: one row per op — enum value, ONNX name, and a vtable
 * {infer, prepare, run, release} — kept in sync by static_assert.
 *
 * Adding an op: add X(Name) to YQ_OP_LIST, implement its functions in the
 * kernel file of its family (src/rt/kernels/<family>.c) and register them in
 * that file's yq_register_<family>_ops(). A test checks every op has infer
 * and run.
 *
 * Ops carry shapes statically: infer computes output dtypes and dims from the
 * inputs' dtypes/dims (and from constant inputs' data where the op needs them,
 * e.g. Reshape's shape); the runtime plans memory once and run() only computes. */
#ifndef YQ_RT_OPS_H
#define YQ_RT_OPS_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

#define YQ_OP_LIST(X)                                                                                \
    /* conv.c / gemm.c */ X(Conv) X(MatMul) X(Gemm)                                                  \
    /* pool.c */ X(MaxPool) X(AveragePool) X(GlobalAveragePool) X(GlobalMaxPool)                     \
    /* eltwise.c */ X(Add) X(Sub) X(Mul) X(Div) X(Mod) X(Pow) X(Max) X(Min) X(Equal) X(Less)         \
        X(Greater) X(Where) X(Sqrt) X(Exp) X(Log) X(Neg) X(Abs) X(Reciprocal) X(Floor) X(Ceil)        \
        X(Round) X(Identity)                                                                          \
    /* activation.c */ X(Sigmoid) X(Relu) X(LeakyRelu) X(HardSigmoid) X(HardSwish) X(Tanh) X(Softmax) \
        X(Clip)                                                                                       \
    /* shape_ops.c */ X(Reshape) X(Flatten) X(Squeeze) X(Unsqueeze) X(Transpose) X(Concat) X(Split)  \
        X(Slice) X(Tile) X(Expand) X(Shape) X(Constant) X(ConstantOfShape) X(Range)                   \
    /* gather.c */ X(Gather) X(GatherElements) X(TopK) X(ReduceMax) X(ReduceMin) X(ReduceMean)      \
        X(ReduceSum) X(ArgMax)                                                                        \
    /* resize.c */ X(Resize)                                                                          \
    /* cast.c */ X(Cast)                                                                              \
    /* qdq.c */ X(QuantizeLinear) X(DequantizeLinear)                                              \
    /* norm.c */ X(BatchNormalization)                                                              \
    /* conv_int8.c, internal (domain YQ_RT_DOMAIN) */ X(QConvU8)                                  \
    /* conv.c, internal: weight-only quantized conv */ X(QWConv)

typedef enum yq_op {
#define YQ_OP_ENUM(name) YQ_OP_##name,
    YQ_OP_LIST(YQ_OP_ENUM)
#undef YQ_OP_ENUM
        YQ_OP_COUNT
} yq_op;

extern const char *const yq_op_names[YQ_OP_COUNT];
/* Runtime-internal ops (made by session passes, never read from or written to
 * files) live in this domain; a default-domain node never resolves to them. */
#define YQ_RT_DOMAIN "yoloq.rt"
/* Op id for a default-domain op_type (or an internal op in YQ_RT_DOMAIN), or -1. */
int yq_op_lookup(const char *domain, const char *op_type);

/* ---- shape inference ---------------------------------------------------- */
typedef struct yq_infer_ctx {
    yq_graph *g;
    yq_node *node;
    int64_t opset; /* default-domain opset version of the model */
} yq_infer_ctx;

/* Convenience accessors for infer functions. yq_in returns NULL for an
 * omitted optional input (or i >= ninputs). */
static inline yq_value *yq_in(const yq_infer_ctx *c, int i) {
    return (i < c->node->ninputs && c->node->inputs[i] >= 0) ? &c->g->values[c->node->inputs[i]] : NULL;
}
static inline yq_value *yq_out(const yq_infer_ctx *c, int i) {
    return (i < c->node->noutputs && c->node->outputs[i] >= 0) ? &c->g->values[c->node->outputs[i]] : NULL;
}
/* Set output i's dtype and shape (no-op for an omitted output). */
void yq_set_out(yq_infer_ctx *c, int i, yq_dtype dt, int rank, const int64_t *dims);
/* Fail with a message naming the node: "node 'n' (Op): <message>". */
yq_status yq_node_fail(const yq_infer_ctx *c, yq_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "node 'name' (Op)", or "Op node producing 'out'" for unnamed nodes. */
const char *yq_node_label(const yq_graph *g, const yq_node *n, char *buf, size_t size);
/* The same message form for code that has only the node (prepare/run):
 * "node 'name' (Op): <message>", or "unnamed Op node: <message>". */
yq_status yq_node_errorf(const yq_node *n, yq_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An INTS attribute of exactly `want` values into dst; absent: all `def`. */
yq_status yq_node_ints_exact(const yq_node *n, const char *name, int want, int64_t def, int64_t *dst);
/* Require input i to be present with known shape (and dtype if dt != 0). */
yq_status yq_need_input(const yq_infer_ctx *c, int i, yq_dtype dt);
/* Require input i to be constant (folded); typical for shape-like inputs. */
yq_status yq_need_const(const yq_infer_ctx *c, int i);
/* Numpy-style multidirectional broadcast of two shapes. */
yq_status yq_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out);

/* ---- execution ---------------------------------------------------------- */
typedef struct yq_run_ctx {
    const yq_graph *g;
    const yq_node *node;
    int64_t opset;
    int nin, nout;
    yq_tensor *in;  /* nin tensors; data == NULL for an omitted optional input */
    yq_tensor *out; /* nout tensors, memory already planned */
    yq_pool *pool;
    void *scratch; /* `scratch_bytes` from prepare, 64-byte aligned, per run */
    void *state;   /* from prepare, e.g. pre-packed weights */
} yq_run_ctx;

/* prepare: optional; called once at plan time when shapes are known and
 * constant inputs' data is available (in->data non-NULL only for constants).
 * It may build per-node state and ask for scratch memory. */
typedef struct yq_prepare_ctx {
    const yq_graph *g;
    const yq_node *node;
    int64_t opset;
    int nin, nout;
    const yq_tensor *in; /* data set for constant inputs only */
    const yq_tensor *out;
    int nthreads;
    int reference;        /* the session's reference path (yq_session_opts.no_fusion): kernels keep
                           * their most exact float summation (convs: no Winograd) */
    void *state;          /* out */
    size_t scratch_bytes; /* out */
} yq_prepare_ctx;

typedef struct yq_op_vtable {
    yq_status (*infer)(yq_infer_ctx *c);
    yq_status (*prepare)(yq_prepare_ctx *c);
    yq_status (*run)(yq_run_ctx *c);
    void (*release)(void *state);
    /* FLOPs (2 x MACs for conv/matmul) for `yoloq info`; NULL counts as 0. */
    double (*flops)(const yq_graph *g, const yq_node *n);
} yq_op_vtable;

/* The table, filled once by yq_ops_init() from the family registrations. */
const yq_op_vtable *yq_op_get(int op);
void yq_ops_init(void);

/* One registration function per kernel family file. */
void yq_register_conv_ops(yq_op_vtable *table);
void yq_register_pool_ops(yq_op_vtable *table);
void yq_register_eltwise_ops(yq_op_vtable *table);
void yq_register_activation_ops(yq_op_vtable *table);
void yq_register_shape_ops(yq_op_vtable *table);
void yq_register_gather_ops(yq_op_vtable *table);
void yq_register_resize_ops(yq_op_vtable *table);
void yq_register_cast_ops(yq_op_vtable *table);
void yq_register_qdq_ops(yq_op_vtable *table);
void yq_register_norm_ops(yq_op_vtable *table);
void yq_register_qconv_ops(yq_op_vtable *table);

#endif
