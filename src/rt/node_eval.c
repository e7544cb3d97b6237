#include "rt/node_eval.h"

#include <stdlib.h>
#include <string.h>

#include "rt/ops.h"

static yq_status resolve(yq_graph *g, yq_node *n, const yq_op_vtable **vt) {
    if (n->op < 0) n->op = yq_op_lookup(n->domain, n->op_type);
    char label[384];
    if (n->op < 0)
        return yq_fail(YQ_ERR_UNSUPPORTED, "%s: operator '%s%s%s' is not supported",
                       yq_node_label(g, n, label, sizeof label), n->domain[0] ? n->domain : "",
                       n->domain[0] ? "::" : "", n->op_type);
    *vt = yq_op_get(n->op);
    if (!(*vt)->infer || !(*vt)->run)
        return yq_fail(YQ_ERR_UNSUPPORTED, "%s: operator has no implementation",
                       yq_node_label(g, n, label, sizeof label));
    return YQ_OK;
}

yq_status yq_node_infer(yq_graph *g, int node_id) {
    yq_node *n = &g->nodes[node_id];
    const yq_op_vtable *vt = NULL;
    YQ_TRY(resolve(g, n, &vt));
    yq_infer_ctx ic = {.g = g, .node = n, .opset = yq_graph_opset(g, "")};
    return vt->infer(&ic);
}

yq_status yq_node_eval(yq_graph *g, int node_id, yq_pool *pool) {
    YQ_TRY(yq_node_infer(g, node_id));
    yq_node *n = &g->nodes[node_id];
    const yq_op_vtable *vt = yq_op_get(n->op);
    int nin = n->ninputs, nout = n->noutputs;
    yq_tensor *in = yq_calloc((size_t)nin + 1, sizeof *in);
    yq_tensor *out = yq_calloc((size_t)nout + 1, sizeof *out);
    yq_status st = YQ_OK;
    void *state = NULL, *scratch = NULL;
    if (!in || !out) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < nin; i++) {
        if (n->inputs[i] < 0) continue;
        const yq_value *v = &g->values[n->inputs[i]];
        if (!v->data) {
            st = yq_fail(YQ_ERR_INVALID, "node '%s': input '%s' is not a constant", n->name, v->name);
            goto done;
        }
        in[i] = yq_value_tensor(v);
    }
    for (int i = 0; i < nout; i++) {
        if (n->outputs[i] < 0) continue;
        const yq_value *v = &g->values[n->outputs[i]];
        out[i] = yq_value_tensor(v);
        size_t nb;
        st = yq_dtype_bytes(v->dtype, yq_numel(out[i].rank, out[i].dims), &nb);
        if (st != YQ_OK) goto done;
        out[i].data = yq_calloc(1, nb ? nb : 1);
        if (!out[i].data) {
            st = YQ_ERR_NOMEM;
            goto done;
        }
    }
    int64_t opset = yq_graph_opset(g, "");
    if (vt->prepare) {
        yq_prepare_ctx pc = {.g = g, .node = n, .opset = opset, .nin = nin, .nout = nout, .in = in, .out = out,
                             .nthreads = yq_pool_size(pool)};
        st = vt->prepare(&pc);
        if (st != YQ_OK) goto done;
        state = pc.state;
        if (pc.scratch_bytes) {
            scratch = yq_aligned_alloc(64, (pc.scratch_bytes + 63) & ~(size_t)63);
            if (!scratch) {
                st = yq_fail_prefix(YQ_ERR_NOMEM, "cannot allocate %zu bytes of scratch", pc.scratch_bytes);
                goto done;
            }
        }
    }
    {
        yq_run_ctx rc = {.g = g, .node = n, .opset = opset, .nin = nin, .nout = nout, .in = in, .out = out,
                         .pool = pool, .scratch = scratch, .state = state};
        st = vt->run(&rc);
    }
    if (st == YQ_OK) {
        for (int i = 0; i < nout; i++) {
            if (n->outputs[i] < 0) continue;
            yq_value *v = &g->values[n->outputs[i]];
            size_t nb;
            yq_dtype_bytes(v->dtype, yq_numel(out[i].rank, out[i].dims), &nb);
            free(v->data);
            v->data = out[i].data;
            v->nbytes = nb;
            out[i].data = NULL;
        }
    }
done:
    if (state && vt->release) vt->release(state);
    free(scratch);
    if (out)
        for (int i = 0; i < nout; i++) free(out[i].data);
    free(in);
    free(out);
    return st;
}
