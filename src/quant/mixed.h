/* Mixed precision under a weight budget: which 4-bit layers go to 8 bit.
 *
 * Budget, over the weights of every quantized layer (the Conv / MatMul /
 * Gemm weight tensors the recipe quantizes; biases, scales, zero points and
 * layers kept float — the DFL conv, the decode path, keep_float — are not
 * counted):
 *   average bits  Σ bits_i·params_i / Σ params_i  <= avg_bits, in [4, 8];
 *   or bytes      Σ bits_i·params_i / 8           <= weight_bytes.
 * Layers the recipe puts at 8 bit stay there and count at 8; 4-bit layers
 * are the candidates. Starting from every candidate at 4 bit, candidates
 * move to 8 bit in order of gain per extra bit (gain / (4·params): what the
 * layer costs at 4 bit by its sensitivity, see yq_mixed_criterion; ties by
 * graph order); a candidate that would exceed the budget is skipped and smaller
 * ones are still considered (greedy knapsack); a layer whose 4-bit weights
 * cost nothing measurable (gain <= 0) stays at 4 bit. A budget below what all
 * candidates at 4 bit already need, or avg_bits outside [4, 8], is an error.
 *
 * yq_mixed_apply runs the sensitivity analysis and appends one override per
 * chosen layer ({"match": name, "weights": {"bits": 8}}) to the recipe, so
 * that yq_ptq_quantize exports 8-bit layers without Clip and 4-bit layers
 * with Clip. */
#ifndef YQ_QUANT_MIXED_H
#define YQ_QUANT_MIXED_H

#include <stdint.h>

#include "core/status.h"
#include "quant/sensitivity.h"

typedef struct yq_mixed_item {
    int64_t params;
    int fixed_bits; /* 0: a candidate (4 or 8 bits); 4 or 8: fixed */
    double gain;    /* what 8 bits buys over 4; NaN or < 0 counts as 0 */
} yq_mixed_item;

/* What a layer's 8 bits buy (its "gain"), from its sensitivity:
 *  NOISE  the head-output noise it adds at 4 bit, 10^(-SQNR/10) (minus the
 *         context's own in the A8 context): additive over layers to first
 *         order, and measured best on yolov10n (default);
 *  PROXY  the class/box proxy gain (sensitivity.h). */
typedef enum yq_mixed_criterion { YQ_MIXED_NOISE = 0, YQ_MIXED_PROXY } yq_mixed_criterion;

typedef struct yq_mixed_budget {
    double avg_bits;      /* > 0: the average-bits budget */
    int64_t weight_bytes; /* > 0: the byte budget (used when avg_bits is 0) */
    yq_mixed_criterion criterion; /* yq_mixed_apply only */
} yq_mixed_budget;

double yq_mixed_gain(const yq_sens_result *s, const yq_sens_layer *l, yq_mixed_criterion c);

typedef struct yq_mixed_summary {
    int64_t params;      /* Σ params of all items */
    int64_t bits;        /* Σ bits·params as chosen */
    int64_t budget_bits; /* the budget in bits */
    double avg_bits;     /* bits / params */
    int nhigh;           /* candidates moved to 8 bit */
    double gain;         /* Σ gain of the moved candidates */
    double gain_total;   /* Σ gain of all candidates */
} yq_mixed_summary;

/* high[n] receives 1 for every candidate moved to 8 bit (0 otherwise). */
yq_status yq_mixed_choose(const yq_mixed_item *items, int n, const yq_mixed_budget *b, unsigned char *high,
                          yq_mixed_summary *sum);

typedef struct yq_mixed_result {
    yq_sens_result sens;   /* the analysis (layers in graph order) */
    unsigned char *high;   /* [sens.nlayers]: moved to 8 bit */
    int *bits;             /* [sens.nlayers]: final weight bits */
    yq_mixed_summary sum;
} yq_mixed_result;

void yq_mixed_result_free(yq_mixed_result *r);

/* Sensitivity of every quantized layer of g (prepared float graph) under
 * recipe r at 4 bit (o->bits is ignored), the choice under budget b, and
 * the overrides appended to r. The budget is checked before the (costly)
 * analysis runs. `given` (may be NULL) is a saved analysis to use instead
 * (4 bit; float activations, or int8 ones for an A8 recipe; every 4-bit layer by name with the
 * same params; fields other than names, params and metrics are ignored). */
yq_status yq_mixed_apply(const yq_graph *g, yq_recipe *r, const yq_mixed_budget *b, int ncalib,
                         yq_ptq_input_fn input, void *input_arg, const yq_sens_opts *o, const yq_sens_result *given,
                         yq_sens_progress_fn progress, void *progress_arg, yq_mixed_result *res);

#endif
