#include "quant/placement.h"

#include <stdlib.h>
#include <string.h>

#include "quant/qcdq.h"
#include "rt/ops.h"

static int op_is(const yq_node *n, yq_op op) { return yq_op_lookup(n->domain, n->op_type) == (int)op; }

int yq_is_dfl_conv(const yq_graph *g, int node) {
    const yq_node *n = &g->nodes[node];
    if (n->dead || !op_is(n, YQ_OP_Conv) || n->ninputs < 2 || n->inputs[1] < 0) return 0;
    if (n->ninputs >= 3 && n->inputs[2] >= 0) return 0; /* the DFL conv has no bias */
    if (yq_attr_int(n, "group", 1) != 1) return 0;
    const yq_value *w = &g->values[n->inputs[1]];
    if (!w->data || w->dtype != YQ_DT_FLOAT || w->rank != 4) return 0;
    if (w->dims[0] != 1 || w->dims[1] != 16 || w->dims[2] != 1 || w->dims[3] != 1) return 0;
    const float *v = w->data;
    for (int i = 0; i < 16; i++)
        if (v[i] != (float)i) return 0;
    return 1;
}

/* Consumers of each value (CSR over live nodes). */
typedef struct consumers {
    int *start; /* [nvalues + 1] */
    int *node;
} consumers;

static yq_status consumers_build(const yq_graph *g, consumers *c) {
    c->start = yq_calloc((size_t)g->nvalues + 1, sizeof *c->start);
    int total = 0;
    for (int i = 0; i < g->nnodes; i++) total += g->nodes[i].ninputs;
    c->node = yq_malloc(((size_t)total + 1) * sizeof *c->node);
    int *fill = yq_calloc((size_t)g->nvalues + 1, sizeof *fill);
    if (!c->start || !c->node || !fill) {
        free(c->start);
        free(c->node);
        free(fill);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) c->start[n->inputs[k] + 1]++;
    }
    for (int v = 0; v < g->nvalues; v++) c->start[v + 1] += c->start[v];
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++) {
            int v = n->inputs[k];
            if (v >= 0) c->node[c->start[v] + fill[v]++] = i;
        }
    }
    free(fill);
    return YQ_OK;
}

/* Producer of each value among live nodes (independent of the cached field). */
static yq_status producers_build(const yq_graph *g, int **out) {
    int *p = yq_malloc(((size_t)g->nvalues + 1) * sizeof *p);
    if (!p) return YQ_ERR_NOMEM;
    for (int v = 0; v < g->nvalues; v++) p[v] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) p[n->outputs[k]] = i;
    }
    *out = p;
    return YQ_OK;
}

/* mark[] |= bit on every strict descendant of the nodes in queue[0..nq). */
static void mark_descendants(const yq_graph *g, const consumers *c, int *queue, int nq, unsigned char *mark) {
    int head = 0;
    while (head < nq) {
        const yq_node *n = &g->nodes[queue[head++]];
        for (int k = 0; k < n->noutputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            for (int j = c->start[v]; j < c->start[v + 1]; j++) {
                int m = c->node[j];
                if (!mark[m]) {
                    mark[m] = 1;
                    queue[nq++] = m;
                }
            }
        }
    }
}

/* mark[] = 1 on every strict ancestor of the nodes in queue[0..nq). */
static void mark_ancestors(const yq_graph *g, const int *producer, int *queue, int nq, unsigned char *mark) {
    int head = 0;
    while (head < nq) {
        const yq_node *n = &g->nodes[queue[head++]];
        for (int k = 0; k < n->ninputs; k++) {
            int v = n->inputs[k];
            if (v < 0 || producer[v] < 0) continue;
            int m = producer[v];
            if (!mark[m]) {
                mark[m] = 1;
                queue[nq++] = m;
            }
        }
    }
}

yq_status yq_quant_default_placement(const yq_graph *g, unsigned *flags) {
    const int N = g->nnodes;
    for (int i = 0; i < N; i++) flags[i] = 0;
    if (N == 0) return YQ_OK;
    consumers cons = {0};
    int *producer = NULL, *queue = yq_malloc(2 * (size_t)N * sizeof *queue); /* seeds + each node once */
    unsigned char *below_weighted = yq_calloc((size_t)N, 1), *above_quant = yq_calloc((size_t)N, 1),
                  *decode = yq_calloc((size_t)N, 1);
    yq_status st = YQ_OK;
    if (!queue || !below_weighted || !above_quant || !decode) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    if ((st = consumers_build(g, &cons)) != YQ_OK) goto out;
    if ((st = producers_build(g, &producer)) != YQ_OK) goto out;

    for (int i = 0; i < N; i++) {
        if (g->nodes[i].dead) continue;
        if (yq_node_has_const_weight(g, i)) flags[i] |= YQ_PLACE_WEIGHTED;
        if (yq_is_dfl_conv(g, i)) flags[i] |= YQ_PLACE_DFL;
    }
    /* Nodes downstream of any weighted op, and nodes upstream of a weighted
     * op that would be quantized (a DFL conv does not count). */
    int nq = 0;
    for (int i = 0; i < N; i++)
        if (flags[i] & YQ_PLACE_WEIGHTED) queue[nq++] = i;
    mark_descendants(g, &cons, queue, nq, below_weighted);
    nq = 0;
    for (int i = 0; i < N; i++)
        if ((flags[i] & YQ_PLACE_WEIGHTED) && !(flags[i] & YQ_PLACE_DFL)) queue[nq++] = i;
    mark_ancestors(g, producer, queue, nq, above_quant);
    /* Head merges: Concats past the last quantizable weight. The later ones
     * (the final output Concat...) are inside the decode path themselves. */
    nq = 0;
    for (int i = 0; i < N; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead || !op_is(n, YQ_OP_Concat) || !below_weighted[i] || above_quant[i]) continue;
        queue[nq++] = i;
    }
    int nheads = nq;
    mark_descendants(g, &cons, queue, nq, decode);
    for (int h = 0; h < nheads; h++)
        if (!decode[queue[h]]) flags[queue[h]] |= YQ_PLACE_HEAD_CONCAT;
    for (int i = 0; i < N; i++) {
        if (g->nodes[i].dead) continue;
        if (decode[i]) flags[i] |= YQ_PLACE_DECODE;
        if ((flags[i] & YQ_PLACE_WEIGHTED) && !(flags[i] & (YQ_PLACE_DFL | YQ_PLACE_DECODE)))
            flags[i] |= YQ_PLACE_QUANTIZE;
    }
out:
    free(cons.start);
    free(cons.node);
    free(producer);
    free(queue);
    free(below_weighted);
    free(above_quant);
    free(decode);
    return st;
}
