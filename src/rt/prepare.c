#include "rt/prepare.h"

#include <stdlib.h>
#include <string.h>

#include "ir/passes.h"
#include "rt/node_eval.h"
#include "rt/ops.h"

yq_prepare_opts yq_prepare_defaults(void) {
    yq_prepare_opts o = {.fold_constants = 1, .fuse = 1, .keep_constant_ops = 0};
    return o;
}

yq_status yq_resolve_ops(yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        n->op = yq_op_lookup(n->domain, n->op_type);
        const yq_op_vtable *vt = n->op >= 0 ? yq_op_get(n->op) : NULL;
        if (!vt || !vt->infer || !vt->run) {
            char label[384];
            return yq_fail(YQ_ERR_UNSUPPORTED, "%s: operator '%s%s%s' is not supported",
                           yq_node_label(g, n, label, sizeof label), n->domain[0] ? n->domain : "",
                           n->domain[0] ? "::" : "", n->op_type);
        }
    }
    return YQ_OK;
}

/* Graph inputs with unknown (symbolic) dims: yoloq plans memory statically, so
 * a symbolic batch dimension is taken as 1; any other unknown dim is an error. */
static yq_status fix_input_dims(yq_graph *g) {
    for (int i = 0; i < g->ninputs; i++) {
        yq_value *v = &g->values[g->inputs[i]];
        if (v->rank < 0 || v->dtype == YQ_DT_UNDEFINED)
            return yq_fail(YQ_ERR_UNSUPPORTED, "graph input '%s' has no static type/shape", v->name);
        for (int d = 0; d < v->rank; d++) {
            if (v->dims[d] >= 0) continue;
            if (d == 0)
                v->dims[d] = 1;
            else
                return yq_fail(YQ_ERR_UNSUPPORTED, "graph input '%s' has a dynamic dimension %d%s%s", v->name, d,
                               v->dim_params[d] ? " " : "", v->dim_params[d] ? v->dim_params[d] : "");
        }
    }
    return YQ_OK;
}

/* FP16/BF16 initializers that feed a node alongside float32 data are widened
 * to float32 once, so every kernel computes in float32. Called per node during
 * inference, when the other inputs' types are known. A graph that computes in
 * float16 throughout (Cast at the boundary) keeps its types. */
static yq_status upcast_half_initializers(yq_graph *g, yq_node *n) {
    if (strcmp(n->op_type, "Cast") == 0 || strcmp(n->op_type, "CastLike") == 0) return YQ_OK;
    /* Quantization scales must stay as typed: Q/DQ define their own rules. */
    if (strcmp(n->op_type, "QuantizeLinear") == 0 || strcmp(n->op_type, "DequantizeLinear") == 0) return YQ_OK;
    int has_f32 = 0;
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k] >= 0 && g->values[n->inputs[k]].dtype == YQ_DT_FLOAT) has_f32 = 1;
    if (!has_f32) return YQ_OK;
    for (int k = 0; k < n->ninputs; k++) {
        if (n->inputs[k] < 0) continue;
        yq_value *v = &g->values[n->inputs[k]];
        if (!v->data || (v->dtype != YQ_DT_FLOAT16 && v->dtype != YQ_DT_BFLOAT16)) continue;
        int64_t cnt = yq_value_numel(v);
        float *f = yq_malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
        if (!f) return YQ_ERR_NOMEM;
        const uint16_t *h = v->data;
        for (int64_t e = 0; e < cnt; e++)
            f[e] = v->dtype == YQ_DT_FLOAT16 ? yq_f16_to_f32(h[e]) : yq_bf16_to_f32(h[e]);
        unsigned flags = v->flags;
        yq_value_set_data(v, YQ_DT_FLOAT, v->rank, v->dims, f, (size_t)cnt * sizeof(float));
        v->flags = flags;
    }
    return YQ_OK;
}

/* Float16 compute graphs (float32 inputs/outputs, Cast to float16 at the
 * entry: the keep_io_types convention) run in float32: a Cast from float32 to
 * float16 whose result stays inside the graph becomes a float32 copy, and the
 * float16 initializers downstream are then widened by
 * upcast_half_initializers. The weights are exact (every float16 is a float);
 * activations keep float32 precision between ops instead of being rounded to
 * float16 after each one, so yoloq's results sit between the float32 model's
 * and a native float16 engine's (ONNX Runtime's differ by float16 rounding). */
static yq_status widen_half_entry_cast(yq_graph *g, yq_node *n) {
    if (strcmp(n->op_type, "Cast") != 0 || n->ninputs < 1 || n->noutputs < 1 || n->inputs[0] < 0 ||
        n->outputs[0] < 0)
        return YQ_OK;
    if (yq_attr_int(n, "to", 0) != YQ_DT_FLOAT16 || g->values[n->inputs[0]].dtype != YQ_DT_FLOAT) return YQ_OK;
    const int out = n->outputs[0];
    if (g->values[out].flags & YQ_VAL_OUTPUT) return YQ_OK;
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == out) return YQ_OK;
    g->values[out].dtype = YQ_DT_UNDEFINED; /* re-inferred as float32 */
    return yq_node_set_attr_int(n, "to", YQ_DT_FLOAT);
}

static int all_inputs_constant(const yq_graph *g, const yq_node *n) {
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k] >= 0 && !g->values[n->inputs[k]].data) return 0;
    return 1;
}

static int all_outputs_constant(const yq_graph *g, const yq_node *n) {
    for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k] >= 0 && !g->values[n->outputs[k]].data) return 0;
    return 1;
}

yq_status yq_infer_and_fold(yq_graph *g, yq_pool *pool, int fold) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        YQ_TRY(widen_half_entry_cast(g, n));
        YQ_TRY(upcast_half_initializers(g, n));
        if (fold && all_inputs_constant(g, n)) {
            yq_status st = yq_node_eval(g, i, pool);
            if (st != YQ_OK) return st;
        } else {
            YQ_TRY(yq_node_infer(g, i));
        }
        /* Every output must now have a complete static shape. */
        for (int k = 0; k < n->noutputs; k++) {
            if (n->outputs[k] < 0) continue;
            const yq_value *v = &g->values[n->outputs[k]];
            if (v->dtype == YQ_DT_UNDEFINED || v->rank < 0 || yq_value_numel(v) < 0) {
                /* Every op's inference sets its first output; a later one left
                 * unset is one the operator does not have (a node listing more
                 * outputs than its op defines): a malformed model. */
                if (k > 0)
                    return yq_fail(YQ_ERR_INVALID, "node '%s' (%s): output %d '%s' is not an output of %s (%d listed)",
                                   n->name, n->op_type, k, v->name, n->op_type, n->noutputs);
                return yq_fail(YQ_ERR_INTERNAL, "node '%s' (%s): shape inference left output '%s' unknown", n->name,
                               n->op_type, v->name);
            }
        }
        /* Folded (or shape-only computed, like Shape): outputs become constants. */
        if (fold && all_outputs_constant(g, n)) {
            for (int k = 0; k < n->noutputs; k++)
                if (n->outputs[k] >= 0) g->values[n->outputs[k]].flags |= YQ_VAL_INIT;
            n->dead = 1;
        }
    }
    return YQ_OK;
}

yq_status yq_prepare_graph(yq_graph *g, yq_pool *pool, const yq_prepare_opts *opts) {
    yq_prepare_opts def = yq_prepare_defaults();
    if (!opts) opts = &def;
    if (g->noutputs == 0) return yq_fail(YQ_ERR_INVALID, "%s: the graph has no outputs", g->path ? g->path : "model");
    YQ_TRY(yq_resolve_ops(g));
    YQ_TRY(yq_graph_toposort(g));
    YQ_TRY(fix_input_dims(g));
    YQ_TRY(yq_infer_and_fold(g, pool, opts->fold_constants));
    if (opts->fuse) {
        YQ_TRY(yq_pass_fuse_conv_bn(g));
        YQ_TRY(yq_pass_fuse_conv_add(g));
    }
    YQ_TRY(yq_pass_remove_dead(g));
    return yq_graph_compact(g);
}
