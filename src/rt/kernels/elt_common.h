/* Helpers shared by the elementwise kernel files (eltwise.c, activation.c,
 * cast.c, qdq.c): the vector math of vecmath.h, an identity load/store for
 * the type-generic kernel macros, the float-type dispatch cases, and the
 * FLOPs count of an op that does one operation per output element. */
#ifndef YQ_RT_KERNELS_ELT_COMMON_H
#define YQ_RT_KERNELS_ELT_COMMON_H

#include "rt/kernels/vecmath.h"
#include "rt/ops.h"

/* load/store of types the kernels compute in directly */
#define YQ_ID(x) (x)

/* switch cases returning NAME_f32 / _f64 / _f16 / _bf16 */
#define YQ_CASE_FLOAT(NAME)                \
    case YQ_DT_FLOAT: return NAME##_f32;   \
    case YQ_DT_DOUBLE: return NAME##_f64;  \
    case YQ_DT_FLOAT16: return NAME##_f16; \
    case YQ_DT_BFLOAT16: return NAME##_bf16;

/* FLOPs = output elements (0 while the shape is unknown). */
static inline double yq_elt_flops_numel(const yq_graph *g, const yq_node *n) {
    if (n->noutputs < 1 || n->outputs[0] < 0) return 0;
    int64_t k = yq_value_numel(&g->values[n->outputs[0]]);
    return k > 0 ? (double)k : 0;
}

#endif
