#include "quant/equalize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Conv with a constant float weight of rank 4 (OIHW); *group out. */
static int const_conv(const yq_graph *g, int node, int64_t *group) {
    const yq_node *n = &g->nodes[node];
    if (n->dead || strcmp(n->op_type, "Conv") || n->ninputs < 2 || n->inputs[1] < 0) return 0;
    const yq_value *w = &g->values[n->inputs[1]];
    if (!w->data || w->dtype != YQ_DT_FLOAT || w->rank != 4) return 0;
    *group = yq_attr_int(n, "group", 1);
    return *group >= 1;
}

static int bias_ok(const yq_graph *g, int node, int64_t cout) {
    const yq_node *n = &g->nodes[node];
    if (n->ninputs < 3 || n->inputs[2] < 0) return 1;
    const yq_value *b = &g->values[n->inputs[2]];
    return b->data && b->dtype == YQ_DT_FLOAT && yq_value_numel(b) == cout &&
           yq_graph_count_consumers(g, n->inputs[2]) == 1;
}

yq_status yq_eq_find_pairs(const yq_graph *g, const unsigned char *allow, yq_eq_pair **pairs, int *npairs) {
    *pairs = NULL;
    *npairs = 0;
    yq_eq_pair *out = calloc((size_t)g->nnodes + 1, sizeof *out);
    int *cons = malloc(((size_t)g->nnodes + 1) * sizeof *cons);
    if (!out || !cons) {
        free(out), free(cons);
        return yq_fail(YQ_ERR_NOMEM, "equalization: out of memory");
    }
    int np = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t gp;
        if ((allow && !allow[i]) || !const_conv(g, i, &gp) || g->nodes[i].noutputs < 1) continue;
        const int v = g->nodes[i].outputs[0];
        const yq_value *wp = &g->values[g->nodes[i].inputs[1]];
        const int64_t cout = wp->dims[0];
        if (v < 0 || (g->values[v].flags & YQ_VAL_OUTPUT) || !bias_ok(g, i, cout) ||
            yq_graph_count_consumers(g, v) < 1)
            continue;
        /* every reader of v must be a group-1 const Conv reading v as input 0
         * (and only there), with cout input channels */
        int nc = 0, ok = 1;
        for (int j = 0; j < g->nnodes && ok; j++) {
            const yq_node *n = &g->nodes[j];
            if (n->dead) continue;
            int uses = 0;
            for (int k = 0; k < n->ninputs; k++) uses += n->inputs[k] == v;
            if (!uses) continue;
            int64_t gc;
            if ((allow && !allow[j]) || !const_conv(g, j, &gc) || gc != 1 || uses != 1 || n->inputs[0] != v ||
                g->values[n->inputs[1]].dims[1] != cout || n->inputs[1] == g->nodes[i].inputs[1])
                ok = 0;
            else
                cons[nc++] = j;
        }
        if (!ok || nc == 0) continue;
        /* the producer's weight must be its own (scaled in place) */
        if (yq_graph_count_consumers(g, g->nodes[i].inputs[1]) != 1) continue;
        for (int k = 0; k < nc && ok; k++)
            if (yq_graph_count_consumers(g, g->nodes[cons[k]].inputs[1]) != 1) ok = 0;
        if (!ok) continue;
        yq_eq_pair *p = &out[np];
        p->consumers = malloc((size_t)nc * sizeof *p->consumers);
        if (!p->consumers) {
            yq_eq_pairs_free(out, np);
            free(cons);
            return yq_fail(YQ_ERR_NOMEM, "equalization: out of memory");
        }
        memcpy(p->consumers, cons, (size_t)nc * sizeof *cons);
        p->nconsumers = nc;
        p->producer = i;
        p->value = v;
        p->channels = cout;
        np++;
    }
    free(cons);
    *pairs = out;
    *npairs = np;
    return YQ_OK;
}

void yq_eq_pairs_free(yq_eq_pair *pairs, int npairs) {
    if (!pairs) return;
    for (int i = 0; i < npairs; i++) free(pairs[i].consumers);
    free(pairs);
}

yq_status yq_eq_pair_scales(const yq_graph *g, const yq_eq_pair *p, const float *act_absmax, double alpha,
                            double *s) {
    if (act_absmax && !(alpha > 0 && alpha < 1))
        return yq_fail(YQ_ERR_ARG, "SmoothQuant: alpha %g must be in (0, 1)", alpha);
    const yq_value *wp = &g->values[g->nodes[p->producer].inputs[1]];
    const int64_t C = p->channels, rowp = yq_value_numel(wp) / C;
    const float *w1 = wp->data;
    for (int64_t i = 0; i < C; i++) {
        double r1 = 0, r2 = 0;
        for (int64_t k = 0; k < rowp; k++) r1 = fmax(r1, fabs((double)w1[i * rowp + k]));
        for (int c = 0; c < p->nconsumers; c++) {
            const yq_value *wc = &g->values[g->nodes[p->consumers[c]].inputs[1]];
            const int64_t co = wc->dims[0], hw = wc->dims[2] * wc->dims[3];
            const float *w2 = wc->data;
            for (int64_t o = 0; o < co; o++)
                for (int64_t k = 0; k < hw; k++) r2 = fmax(r2, fabs((double)w2[(o * C + i) * hw + k]));
        }
        double si = 1.0;
        if (act_absmax) {
            const double a = act_absmax[i];
            if (a > 0 && r2 > 0) si = pow(a, alpha) / pow(r2, 1.0 - alpha);
        } else if (r1 > 0 && r2 > 0) {
            si = sqrt(r1 / r2);
        }
        if (!isfinite(si)) si = 1.0;
        s[i] = fmin(fmax(si, 1e-4), 1e4);
    }
    return YQ_OK;
}

yq_status yq_eq_scale_pair(yq_graph *g, const yq_eq_pair *p, const double *s) {
    const yq_node *pn = &g->nodes[p->producer];
    yq_value *wp = &g->values[pn->inputs[1]];
    const int64_t C = p->channels, rowp = yq_value_numel(wp) / C;
    float *w1 = wp->data;
    for (int64_t i = 0; i < C; i++)
        for (int64_t k = 0; k < rowp; k++) w1[i * rowp + k] = (float)((double)w1[i * rowp + k] / s[i]);
    if (pn->ninputs > 2 && pn->inputs[2] >= 0) {
        float *b = g->values[pn->inputs[2]].data;
        for (int64_t i = 0; i < C; i++) b[i] = (float)((double)b[i] / s[i]);
    }
    for (int c = 0; c < p->nconsumers; c++) {
        yq_value *wc = &g->values[g->nodes[p->consumers[c]].inputs[1]];
        const int64_t co = wc->dims[0], hw = wc->dims[2] * wc->dims[3];
        float *w2 = wc->data;
        for (int64_t o = 0; o < co; o++)
            for (int64_t i = 0; i < C; i++)
                for (int64_t k = 0; k < hw; k++) w2[(o * C + i) * hw + k] = (float)((double)w2[(o * C + i) * hw + k] * s[i]);
    }
    return YQ_OK;
}
