/* Graph clean-up in the spirit of onnxoptimizer's default passes, safe for
 * QCDQ graphs: identity-like nodes are bypassed, chains of shape-only nodes
 * and of Transposes are merged, constants are folded and dead nodes dropped —
 * but a QuantizeLinear / DequantizeLinear, or any node feeding one (the Clip
 * of an int8 -> Clip -> DequantizeLinear weight chain), is never folded, so
 * every quantizer stays visible in the exported file.
 *
 * Bypassing a node whose output is a graph output would rename the output;
 * instead the surviving value takes the output's name, and when it cannot (it
 * is itself a graph input, output or initializer) the node is kept. */
#include <stdlib.h>
#include <string.h>

#include "ir/passes.h"

static int is_type(const yq_node *n, const char *op) {
    return (!n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

static int is_quantizer(const yq_node *n) {
    return is_type(n, "QuantizeLinear") || is_type(n, "DequantizeLinear");
}

/* Reshape-like: the output holds the input's elements in the same order. */
static int is_shape_only(const yq_node *n) {
    return is_type(n, "Reshape") || is_type(n, "Flatten") || is_type(n, "Squeeze") || is_type(n, "Unsqueeze");
}

static int static_shape(const yq_value *v) {
    if (v->rank < 0) return 0;
    for (int d = 0; d < v->rank; d++)
        if (v->dims[d] < 0) return 0;
    return 1;
}

static int same_shape(const yq_value *a, const yq_value *b) {
    if (!static_shape(a) || !static_shape(b) || a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Every reader of value `out` reads `in` instead; the node producing `out`
 * becomes dead. Returns 1 when done, 0 when the graph output's name cannot be
 * kept (then nothing changed). */
static yq_status bypass(yq_graph *g, int node, int in, int out, int *done) {
    *done = 0;
    if (in < 0 || out < 0 || in == out) return YQ_OK;
    if (yq_value_is_graph_output(g, out)) {
        yq_value *iv = &g->values[in];
        if ((iv->flags & (YQ_VAL_INPUT | YQ_VAL_INIT)) || iv->data || yq_value_is_graph_output(g, in) ||
            iv->producer < 0)
            return YQ_OK;
        /* `in` takes over the name of the graph output */
        char *keep = yq_strdup(g->values[out].name), *tmp = NULL;
        if (!keep) return YQ_ERR_NOMEM;
        yq_status st = yq_graph_unique_name(g, "cleanup_bypassed", &tmp);
        if (st == YQ_OK) st = yq_graph_rename_value(g, out, tmp);
        if (st == YQ_OK) st = yq_graph_rename_value(g, in, keep);
        free(keep);
        free(tmp);
        if (st != YQ_OK) return st;
        g->values[in].flags |= YQ_VAL_OUTPUT;
        g->values[out].flags &= ~(unsigned)YQ_VAL_OUTPUT;
    }
    yq_graph_replace_uses(g, out, in);
    g->nodes[node].dead = 1;
    *done = 1;
    return YQ_OK;
}

/* The live producer of value v, or -1. */
static int producer_of(const yq_graph *g, int v) {
    if (v < 0) return -1;
    int p = g->values[v].producer;
    return p >= 0 && p < g->nnodes && !g->nodes[p].dead ? p : -1;
}

/* Perm of a Transpose (default: reversed axes) into p[rank]; 0 if invalid. */
static int transpose_perm(const yq_graph *g, const yq_node *n, int64_t *p) {
    const yq_value *x = &g->values[n->inputs[0]];
    if (x->rank < 0 || x->rank > YQ_MAX_RANK) return 0;
    const int64_t *perm;
    int np = yq_attr_ints(n, "perm", &perm);
    if (np < 0) {
        for (int d = 0; d < x->rank; d++) p[d] = x->rank - 1 - d;
        return 1;
    }
    if (np != x->rank) return 0;
    for (int d = 0; d < np; d++) {
        if (perm[d] < 0 || perm[d] >= np) return 0;
        p[d] = perm[d];
    }
    return 1;
}

static int perm_is_identity(const int64_t *p, int rank) {
    for (int d = 0; d < rank; d++)
        if (p[d] != d) return 0;
    return 1;
}

/* An intermediate value that can disappear: one reader, not a graph output. */
static int private_value(const yq_graph *g, int v) {
    return v >= 0 && !yq_value_is_graph_output(g, v) && yq_graph_count_consumers(g, v) == 1;
}

static yq_status rewrite_node(yq_graph *g, int i, yq_cleanup_stats *s, int *changed) {
    yq_node *n = &g->nodes[i];
    if (n->dead || n->ninputs < 1 || n->noutputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0) return YQ_OK;
    const int in = n->inputs[0], out = n->outputs[0];
    int done = 0;
    if (is_type(n, "Identity")) {
        YQ_TRY(bypass(g, i, in, out, &done));
        s->identity += done;
    } else if (is_type(n, "Cast")) {
        yq_dtype from = g->values[in].dtype;
        if (from != YQ_DT_UNDEFINED && yq_attr_int(n, "to", -1) == (int64_t)from) {
            YQ_TRY(bypass(g, i, in, out, &done));
            s->cast += done;
        }
    } else if (is_type(n, "Transpose")) {
        int64_t p[YQ_MAX_RANK];
        if (!transpose_perm(g, n, p)) return YQ_OK;
        const int rank = g->values[in].rank;
        int a = producer_of(g, in);
        if (a >= 0 && is_type(&g->nodes[a], "Transpose") && g->nodes[a].ninputs >= 1 && private_value(g, in)) {
            /* Transpose(Transpose(x, pa), pb) = Transpose(x, pa[pb[i]]) */
            int64_t pa[YQ_MAX_RANK], c[YQ_MAX_RANK];
            if (transpose_perm(g, &g->nodes[a], pa)) {
                for (int d = 0; d < rank; d++) c[d] = pa[p[d]];
                YQ_TRY(yq_node_set_attr_ints(&g->nodes[i], "perm", c, rank));
                g->nodes[i].inputs[0] = g->nodes[a].inputs[0];
                g->nodes[a].dead = 1;
                s->transpose_fused++;
                *changed = 1;
                memcpy(p, c, sizeof c);
            }
        }
        if (perm_is_identity(p, rank)) {
            YQ_TRY(bypass(g, i, g->nodes[i].inputs[0], out, &done));
            s->transpose += done;
        }
    } else if (is_shape_only(n)) {
        int a = producer_of(g, in);
        if (a >= 0 && is_shape_only(&g->nodes[a]) && g->nodes[a].ninputs >= 1 && private_value(g, in)) {
            const int x = g->nodes[a].inputs[0];
            if (same_shape(&g->values[x], &g->values[out])) {
                /* e.g. Unsqueeze -> Squeeze back: both go */
                YQ_TRY(bypass(g, i, x, out, &done));
                if (done) {
                    g->nodes[a].dead = 1;
                    s->shape_pairs++;
                    *changed = 1;
                    return YQ_OK;
                }
            } else if (is_type(n, "Reshape") && n->ninputs >= 2 && static_shape(&g->values[out]) &&
                       yq_value_numel(&g->values[out]) > 0) {
                /* Reshape(Reshape(x)) = one Reshape of x to the final (static) shape */
                const yq_value *ov = &g->values[out];
                int64_t rank = ov->rank, dims[YQ_MAX_RANK];
                memcpy(dims, ov->dims, sizeof dims);
                int shape_id;
                YQ_TRY(yq_graph_add_initializer(g, "cleanup_shape", YQ_DT_INT64, 1, &rank, dims, &shape_id));
                n = &g->nodes[i];
                n->inputs[0] = x;
                n->inputs[1] = shape_id;
                /* the shape holds no 0 and no -1, so allowzero means nothing:
                 * drop it, and opsets without it (13) read the node too */
                for (int k = 0; k < n->nattrs; k++)
                    if (!strcmp(n->attrs[k].name, "allowzero")) {
                        yq_attr_clear(&n->attrs[k]);
                        memmove(&n->attrs[k], &n->attrs[k + 1], (size_t)(n->nattrs - k - 1) * sizeof *n->attrs);
                        n->nattrs--;
                        break;
                    }
                g->nodes[a].dead = 1;
                s->reshape_fused++;
                *changed = 1;
            }
        }
        n = &g->nodes[i];
        if (!n->dead && same_shape(&g->values[n->inputs[0]], &g->values[out])) {
            YQ_TRY(bypass(g, i, n->inputs[0], out, &done));
            s->reshape += done;
        }
    }
    if (done) *changed = 1;
    return YQ_OK;
}

/* Folding candidates: every input constant, no quantizer involved, not a
 * graph output, and not growing the constants much (a Tile or Expand of a
 * small constant stays a node, as onnxoptimizer keeps it). */
static int foldable(const yq_graph *g, const yq_node *n) {
    if (n->dead || is_quantizer(n) || n->noutputs < 1) return 0;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) return 0;
    size_t in_bytes = 0;
    int nconst = 0;
    for (int k = 0; k < n->ninputs; k++) {
        if (n->inputs[k] < 0) continue;
        const yq_value *v = &g->values[n->inputs[k]];
        if (!v->data) return 0;
        in_bytes += v->nbytes;
        nconst++;
    }
    if (nconst == 0) return 0; /* Constant-like generators stay (no inputs to fold from) */
    size_t out_bytes = 0;
    for (int k = 0; k < n->noutputs; k++) {
        int o = n->outputs[k];
        if (o < 0) continue;
        if (yq_value_is_graph_output(g, o)) return 0;
        /* a node feeding a quantizer is part of a Q/DQ chain (the weight Clip) */
        for (int j = 0; j < g->nnodes; j++) {
            const yq_node *c = &g->nodes[j];
            if (c->dead || !is_quantizer(c)) continue;
            for (int m = 0; m < c->ninputs; m++)
                if (c->inputs[m] == o) return 0;
        }
        const yq_value *ov = &g->values[o];
        if (!static_shape(ov)) return 0;
        int64_t numel = yq_value_numel(ov);
        size_t nb;
        if (numel < 0 || yq_dtype_bytes(ov->dtype, numel, &nb) != YQ_OK) return 0;
        out_bytes += nb;
    }
    return out_bytes <= in_bytes + 4096;
}

static yq_status fold_constants(yq_graph *g, const yq_cleanup_opts *o, yq_cleanup_stats *s, int *changed) {
    if (!o || !o->eval) return YQ_OK;
    for (int i = 0; i < g->nnodes; i++) {
        if (!foldable(g, &g->nodes[i])) continue;
        YQ_TRY(o->eval(o->eval_arg, g, i));
        yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) {
                yq_value *v = &g->values[n->outputs[k]];
                if (!v->data) return yq_fail(YQ_ERR_INTERNAL, "clean-up: folding '%s' left no constant", n->name);
                v->flags |= YQ_VAL_INIT;
                v->producer = -1;
            }
        n->dead = 1;
        s->folded++;
        *changed = 1;
    }
    return YQ_OK;
}

static int live_nodes(const yq_graph *g) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += !g->nodes[i].dead;
    return c;
}

yq_status yq_pass_cleanup(yq_graph *g, const yq_cleanup_opts *o, yq_cleanup_stats *stats) {
    yq_cleanup_stats local;
    yq_cleanup_stats *s = stats ? stats : &local;
    memset(s, 0, sizeof *s);
    YQ_TRY(yq_graph_rebuild_producers(g));
    for (int round = 0; round < 16; round++) {
        int changed = 0;
        YQ_TRY(fold_constants(g, o, s, &changed));
        for (int i = 0; i < g->nnodes; i++) YQ_TRY(rewrite_node(g, i, s, &changed));
        int before = live_nodes(g);
        YQ_TRY(yq_pass_remove_dead(g));
        s->dead += before - live_nodes(g);
        YQ_TRY(yq_graph_rebuild_producers(g));
        if (!changed) break;
    }
    YQ_TRY(yq_graph_toposort(g));
    return yq_graph_compact(g);
}
