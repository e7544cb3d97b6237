/* A differentiable executor over a QCDQ graph (or any part of one): forward
 * with a tape, backward, and the quantization parameters as trainable values.
 *
 * Built from a graph as `yoloq quantize` writes it (or a float graph) and the
 * names of the tensors to compute ("outputs") and of the tensors fed by the
 * caller ("inputs", default: the graph inputs), so that the same executor runs
 * a whole model cut before its post-processing (QAT) or one block (block
 * reconstruction). What becomes trainable:
 *  - weight chains  codes (int8/uint8/int4 constant) [→ Clip(lo, hi)] →
 *    DequantizeLinear(scale, zero point, axis): a latent float weight
 *    W = u·s₀ (u in units of the channel's initial scale s₀, initialised so
 *    that W is the dequantized value: the start reproduces the model exactly)
 *    and a learnable scale per channel, stored as log s; forward is fake
 *    quantization with the chain's integer range (the Clip's bounds, else the
 *    container's), STE for W, LSQ for s (gradient scaled by 1/sqrt(n·qmax));
 *  - activation pairs  QuantizeLinear(x, s, zp) → DequantizeLinear: fake
 *    quantization of x with a learnable per-tensor log s (zero point fixed).
 *    Quantizers that start with bitwise equal scale and zero point (PTQ gives
 *    the inputs and output of a Concat one shared range) share one parameter,
 *    so the export keeps them equal;
 *  - float Conv biases (optional).
 * Everything else is constant; all-constant nodes are evaluated once.
 *
 * Parameters live in one flat vector laid out by kind (all weights, then
 * weight scales, activation scales, biases), so an optimiser can give each
 * kind its own learning rate. Gradients accumulate over forward/backward
 * pairs until yq_tg_zero_grad.
 *
 * Ops: Conv (runtime's packed, threaded kernel forward; threaded im2col+GEMM
 * backward), Sigmoid, Mul, Add, Sub, Div by a constant, Concat, Split, MaxPool,
 * Resize (nearest), Reshape/Flatten/Squeeze/Unsqueeze, Transpose, MatMul,
 * Softmax (last axis), Identity, QuantizeLinear/DequantizeLinear/Clip as above.
 * Results are bitwise independent of the thread count. */
#ifndef YQ_GRAD_TRAIN_GRAPH_H
#define YQ_GRAD_TRAIN_GRAPH_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"

typedef enum yq_tg_kind {
    YQ_TG_WEIGHT = 0, /* latent weights u (W = u·s₀) */
    YQ_TG_WSCALE,     /* log of weight scales, per channel */
    YQ_TG_ASCALE,     /* log of activation scales */
    YQ_TG_BIAS,       /* float Conv biases */
    YQ_TG_NKINDS
} yq_tg_kind;

typedef struct yq_tg_opts {
    const char *const *inputs; /* tensor names fed by the caller; NULL: the graph inputs */
    int ninputs;
    const char *const *outputs; /* tensor names computed (required) */
    int noutputs;
    int nthreads;   /* <= 0: one per CPU */
    int train_bias; /* float Conv biases are parameters */
    /* Soft rounding (AdaRound on the chains' grid) instead of latent weights:
     * the float graph the codes were quantized from (its Convs named like the
     * student's hold the float weights). Each conv weight's parameter is then
     * AdaRound's V: Ŵ = s·(clamp(base + h(V) + zp) − zp), choosing between
     * the PTQ code and its neighbour towards the float weight, started leaning
     * (h = 0.75) towards the PTQ code; scales stay fixed; the export rounds h
     * (V >= 0: up). NULL: straight-through latent weights. */
    const yq_graph *soft_round_from;
} yq_tg_opts;

typedef struct yq_tg yq_tg;

/* Copies what it needs from g (not modified). Fails naming the node for an
 * operator it cannot differentiate or an input it cannot reach. */
yq_status yq_tg_new(const yq_graph *g, const yq_tg_opts *o, yq_tg **out);
void yq_tg_free(yq_tg *t);

int yq_tg_ninputs(const yq_tg *t);
int yq_tg_noutputs(const yq_tg *t);
/* Element count and shape of input/output i. */
int64_t yq_tg_input_numel(const yq_tg *t, int i);
int64_t yq_tg_output_numel(const yq_tg *t, int i);
int yq_tg_output_shape(const yq_tg *t, int i, int64_t *dims); /* returns the rank */
/* Op types of the executed nodes, "Conv 83, Mul 70, ..." (for reports). */
const char *yq_tg_op_summary(const yq_tg *t);

/* The parameter vector, its gradient and the [begin, end) range of a kind. */
int64_t yq_tg_nparams(const yq_tg *t);
float *yq_tg_params(yq_tg *t);
float *yq_tg_grads(yq_tg *t);
void yq_tg_kind_range(const yq_tg *t, yq_tg_kind k, int64_t *begin, int64_t *end);
/* Counts of trainable things: weight chains, activation quantizers (after
 * sharing), biases. */
void yq_tg_counts(const yq_tg *t, int *weights, int *act_quantizers, int *biases);

/* Forward from inputs[i] (yq_tg_input_numel floats each); keeps the tape. */
yq_status yq_tg_forward(yq_tg *t, const float *const *inputs);
const float *yq_tg_output(const yq_tg *t, int i);
/* Any computed or input tensor of the last forward by name (NULL when it is
 * not part of the executed graph); *numel receives its size. */
const float *yq_tg_tensor(const yq_tg *t, const char *name, int64_t *numel);
/* Backward of the last forward with dL/d output i in doutputs[i] (NULL: 0);
 * adds into the parameter gradients. */
yq_status yq_tg_backward(yq_tg *t, const float *const *doutputs);
void yq_tg_zero_grad(yq_tg *t);
/* Soft rounding: forward with h(V) rounded (what the export writes) instead
 * of the relaxation. */
void yq_tg_set_hard_rounding(yq_tg *t, int hard);

/* Write a parameter vector (e.g. an EMA of yq_tg_params) into dst, a graph
 * with the same initializer names as the one the executor was built from
 * (typically a fresh load of the same file): weight codes
 * clamp(round(W/s) + zp, lo, hi), weight and activation scales, biases.
 * Only initializer contents change, so the file keeps its structure. */
yq_status yq_tg_export(const yq_tg *t, const float *params, yq_graph *dst);

#endif
