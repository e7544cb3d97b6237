/* Folding per-channel affine ops into the preceding convolution:
 *   Conv → BatchNormalization   W' = W·γ/√(σ²+ε),  b' = (b − μ)·γ/√(σ²+ε) + β
 *   Conv → Add(c)               b' = b + c   (c per output channel or scalar)
 * The conv's weights get new initializers (the old ones may be shared). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ir/passes.h"

static const yq_value *const_f32(const yq_graph *g, const yq_node *n, int k) {
    if (k >= n->ninputs || n->inputs[k] < 0) return NULL;
    const yq_value *v = &g->values[n->inputs[k]];
    return (v->data && v->dtype == YQ_DT_FLOAT) ? v : NULL;
}

/* Conv producing value `v`, read only by `reader`, with constant float weights. */
static int fusable_conv(const yq_graph *g, int value_id, int *conv_out) {
    const yq_value *v = &g->values[value_id];
    if (v->producer < 0 || yq_value_is_graph_output(g, value_id)) return 0;
    const yq_node *c = &g->nodes[v->producer];
    if (c->dead || strcmp(c->op_type, "Conv") != 0 || c->domain[0] || c->noutputs != 1) return 0;
    const yq_value *w = const_f32(g, c, 1);
    if (!w || w->rank < 3) return 0;
    if (c->ninputs > 2 && c->inputs[2] >= 0 && !const_f32(g, c, 2)) return 0;
    *conv_out = v->producer;
    return 1;
}

/* Replace conv's weight (if w_new) and bias by new initializers. */
static yq_status set_conv_params(yq_graph *g, int conv, const float *w_new, const float *b_new, int64_t cout) {
    yq_node *c = &g->nodes[conv];
    if (w_new) {
        const yq_value *w = &g->values[c->inputs[1]];
        int64_t dims[YQ_MAX_RANK];
        int rank = w->rank;
        memcpy(dims, w->dims, sizeof dims);
        char base[512];
        snprintf(base, sizeof base, "%s_fused", w->name);
        int id;
        YQ_TRY(yq_graph_add_initializer(g, base, YQ_DT_FLOAT, rank, dims, w_new, &id));
        g->nodes[conv].inputs[1] = id;
    }
    c = &g->nodes[conv];
    char base[512];
    snprintf(base, sizeof base, "%s_bias_fused", c->name[0] ? c->name : "conv");
    int id;
    YQ_TRY(yq_graph_add_initializer(g, base, YQ_DT_FLOAT, 1, &cout, b_new, &id));
    c = &g->nodes[conv];
    if (c->ninputs < 3) {
        int *in = yq_realloc(c->inputs, 3 * sizeof(int));
        if (!in) return YQ_ERR_NOMEM;
        c->inputs = in;
        c->ninputs = 3;
    }
    c->inputs[2] = id;
    return YQ_OK;
}

static void current_bias(const yq_graph *g, const yq_node *c, int64_t cout, float *b) {
    const yq_value *bv = const_f32(g, c, 2);
    for (int64_t o = 0; o < cout; o++) b[o] = bv ? ((const float *)bv->data)[o] : 0.0f;
}

/* The consumer now reads the conv's result directly: conv takes over its output. */
static void bypass(yq_graph *g, int conv, int consumer) {
    yq_node *c = &g->nodes[conv], *n = &g->nodes[consumer];
    int old_out = c->outputs[0];
    c->outputs[0] = n->outputs[0];
    g->values[n->outputs[0]].producer = conv;
    g->values[old_out].producer = -1;
    n->dead = 1;
}

yq_status yq_pass_fuse_conv_bn(yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *bn = &g->nodes[i];
        if (bn->dead || strcmp(bn->op_type, "BatchNormalization") != 0 || bn->domain[0] || bn->ninputs < 5) continue;
        if (bn->noutputs > 1) {
            int extra = 0;
            for (int k = 1; k < bn->noutputs; k++) extra |= bn->outputs[k] >= 0;
            if (extra) continue; /* training-mode outputs */
        }
        int conv;
        if (!fusable_conv(g, bn->inputs[0], &conv) || yq_pass_single_consumer(g, bn->inputs[0]) != i) continue;
        const yq_value *sc = const_f32(g, bn, 1), *bb = const_f32(g, bn, 2), *mu = const_f32(g, bn, 3),
                       *var = const_f32(g, bn, 4);
        const yq_value *w = &g->values[g->nodes[conv].inputs[1]];
        int64_t cout = w->dims[0];
        if (!sc || !bb || !mu || !var || yq_value_numel(sc) != cout || yq_value_numel(bb) != cout ||
            yq_value_numel(mu) != cout || yq_value_numel(var) != cout)
            continue;
        float eps = yq_attr_float(bn, "epsilon", 1e-5f);
        int64_t per = yq_value_numel(w) / cout;
        float *wn = yq_malloc((size_t)(cout * per) * sizeof(float));
        float *bnew = yq_malloc((size_t)cout * sizeof(float));
        if (!wn || !bnew) {
            free(wn);
            free(bnew);
            return YQ_ERR_NOMEM;
        }
        current_bias(g, &g->nodes[conv], cout, bnew);
        for (int64_t o = 0; o < cout; o++) {
            float s = ((const float *)sc->data)[o] / sqrtf(((const float *)var->data)[o] + eps);
            for (int64_t e = 0; e < per; e++) wn[o * per + e] = ((const float *)w->data)[o * per + e] * s;
            bnew[o] = (bnew[o] - ((const float *)mu->data)[o]) * s + ((const float *)bb->data)[o];
        }
        yq_status st = set_conv_params(g, conv, wn, bnew, cout);
        free(wn);
        free(bnew);
        YQ_TRY(st);
        bypass(g, conv, i);
    }
    return YQ_OK;
}

yq_status yq_pass_fuse_conv_add(yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *add = &g->nodes[i];
        if (add->dead || strcmp(add->op_type, "Add") != 0 || add->domain[0] || add->ninputs != 2) continue;
        for (int side = 0; side < 2; side++) {
            int conv;
            if (add->inputs[side] < 0 || !fusable_conv(g, add->inputs[side], &conv)) continue;
            if (yq_pass_single_consumer(g, add->inputs[side]) != i) continue;
            const yq_value *cst = const_f32(g, add, 1 - side);
            const yq_value *out = &g->values[add->inputs[side]];
            const yq_value *w = &g->values[g->nodes[conv].inputs[1]];
            if (!cst || out->rank < 3) continue;
            int64_t cout = w->dims[0], n = yq_value_numel(cst);
            /* c must broadcast only along the channel axis (axis 1 of the output)
             * and must not widen the output's shape. */
            int ok = cst->rank <= out->rank && (n == 1 || n == cout);
            for (int d = 0; d < cst->rank && ok; d++) {
                int od = out->rank - cst->rank + d;
                if (cst->dims[d] != 1 && od != 1) ok = 0;
            }
            if (!ok) continue;
            float *b = yq_malloc((size_t)cout * sizeof(float));
            if (!b) return YQ_ERR_NOMEM;
            current_bias(g, &g->nodes[conv], cout, b);
            for (int64_t o = 0; o < cout; o++) b[o] += ((const float *)cst->data)[n == 1 ? 0 : o];
            yq_status st = set_conv_params(g, conv, NULL, b, cout);
            free(b);
            YQ_TRY(st);
            bypass(g, conv, i);
            break;
        }
    }
    return YQ_OK;
}

/* Consumers of value v among live nodes: count, and the first two. */
static int consumers(const yq_graph *g, int v, int *first, int *second) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] == v) {
                if (c == 0) *first = i;
                if (c == 1) *second = i;
                c++;
            }
    }
    return c;
}

yq_status yq_pass_fuse_conv_silu(yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *conv = &g->nodes[i];
        if (conv->dead || strcmp(conv->op_type, "Conv") != 0 || conv->domain[0] || conv->fused_act ||
            conv->noutputs != 1)
            continue;
        int y = conv->outputs[0], a = -1, b = -1;
        if (y < 0 || g->values[y].dtype != YQ_DT_FLOAT || yq_value_is_graph_output(g, y)) continue;
        if (consumers(g, y, &a, &b) != 2) continue;
        yq_node *sig = &g->nodes[a], *mul = &g->nodes[b];
        if (strcmp(sig->op_type, "Sigmoid") != 0) {
            yq_node *t = sig;
            sig = mul;
            mul = t;
        }
        if (strcmp(sig->op_type, "Sigmoid") != 0 || strcmp(mul->op_type, "Mul") != 0 || sig->domain[0] ||
            mul->domain[0] || mul->ninputs != 2 || sig->noutputs != 1)
            continue;
        int z = sig->outputs[0], u = -1, w = -1;
        if (z < 0 || yq_value_is_graph_output(g, z) || consumers(g, z, &u, &w) != 1 || &g->nodes[u] != mul) continue;
        if (!((mul->inputs[0] == y && mul->inputs[1] == z) || (mul->inputs[0] == z && mul->inputs[1] == y))) continue;
        int out = mul->outputs[0];
        if (out < 0) continue;
        /* the Mul's output must have the conv's shape (no broadcasting) */
        const yq_value *vy = &g->values[y], *vo = &g->values[out];
        int same = vy->rank == vo->rank && vo->dtype == YQ_DT_FLOAT;
        for (int d = 0; same && d < vy->rank; d++) same = vy->dims[d] == vo->dims[d];
        if (!same) continue;
        conv->outputs[0] = out;
        conv->fused_act = YQ_FUSED_SILU;
        g->values[out].producer = i;
        g->values[y].producer = -1;
        sig->dead = 1;
        mul->dead = 1;
    }
    return YQ_OK;
}
