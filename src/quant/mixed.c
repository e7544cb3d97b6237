/* Mixed precision under a budget (see mixed.h). */
#include "quant/mixed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/qcdq.h"

enum { LO_BITS = 4, HI_BITS = 8 };

typedef struct cand {
    int index;
    double ratio; /* gain per extra bit */
} cand;

static int cmp_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->ratio != y->ratio) return x->ratio > y->ratio ? -1 : 1;
    return x->index - y->index;
}

static double usable_gain(double g) { return isfinite(g) && g > 0 ? g : (g == INFINITY ? 1e300 : 0.0); }

yq_status yq_mixed_choose(const yq_mixed_item *items, int n, const yq_mixed_budget *b, unsigned char *high,
                          yq_mixed_summary *sum) {
    memset(sum, 0, sizeof *sum);
    int ncand = 0;
    int64_t P = 0, min_bits = 0;
    for (int i = 0; i < n; i++) {
        high[i] = 0;
        const yq_mixed_item *it = &items[i];
        if (it->params < 1 || (it->fixed_bits != 0 && it->fixed_bits != LO_BITS && it->fixed_bits != HI_BITS))
            return yq_fail(YQ_ERR_ARG, "mixed precision: item %d is invalid", i);
        P += it->params;
        min_bits += (it->fixed_bits ? it->fixed_bits : LO_BITS) * it->params;
        if (!it->fixed_bits) {
            ncand++;
            sum->gain_total += usable_gain(it->gain);
        }
    }
    if (ncand == 0)
        return yq_fail(YQ_ERR_INVALID, "mixed precision: no 4-bit layer to choose from (quantize with 4-bit weights)");
    int64_t budget;
    if (b->avg_bits > 0) {
        if (!(b->avg_bits >= LO_BITS && b->avg_bits <= HI_BITS))
            return yq_fail(YQ_ERR_ARG, "mixed precision: an average of %g weight bits is outside [4, 8]", b->avg_bits);
        /* the tolerance keeps e.g. 4.5 · P from losing a bit to rounding */
        budget = (int64_t)floorl((long double)b->avg_bits * (long double)P * (1.0L + 1e-12L));
    } else if (b->weight_bytes > 0) {
        if (b->weight_bytes > INT64_MAX / 8) return yq_fail(YQ_ERR_ARG, "mixed precision: the byte budget is too large");
        budget = b->weight_bytes * 8;
    } else {
        return yq_fail(YQ_ERR_ARG, "mixed precision: no budget given");
    }
    sum->params = P;
    sum->budget_bits = budget;
    if (budget < min_bits) {
        if (b->avg_bits > 0)
            return yq_fail(YQ_ERR_INVALID, "mixed precision: a budget of %g average weight bits cannot be met: with "
                           "every candidate layer at 4 bit the weights already average %.4f bits", b->avg_bits,
                           (double)min_bits / (double)P);
        return yq_fail(YQ_ERR_INVALID, "mixed precision: a budget of %lld weight bytes cannot be met: with every "
                       "candidate layer at 4 bit the weights already take %.1f bytes (%lld params)",
                       (long long)b->weight_bytes, (double)min_bits / 8.0, (long long)P);
    }
    cand *c = malloc((size_t)ncand * sizeof *c);
    if (!c) return yq_fail(YQ_ERR_NOMEM, "mixed precision: out of memory");
    for (int i = 0, k = 0; i < n; i++)
        if (!items[i].fixed_bits)
            c[k++] = (cand){i, usable_gain(items[i].gain) / ((double)(HI_BITS - LO_BITS) * (double)items[i].params)};
    qsort(c, (size_t)ncand, sizeof *c, cmp_cand);
    int64_t bits = min_bits;
    for (int k = 0; k < ncand; k++) {
        const yq_mixed_item *it = &items[c[k].index];
        int64_t extra = (HI_BITS - LO_BITS) * it->params;
        if (usable_gain(it->gain) <= 0 || bits + extra > budget) continue;
        bits += extra;
        high[c[k].index] = 1;
        sum->nhigh++;
        sum->gain += usable_gain(it->gain);
    }
    free(c);
    sum->bits = bits;
    sum->avg_bits = (double)bits / (double)P;
    return YQ_OK;
}

static double noise_fraction(double sqnr_db) { return isnan(sqnr_db) ? NAN : pow(10.0, -sqnr_db / 10.0); }

double yq_mixed_gain(const yq_sens_result *s, const yq_sens_layer *l, yq_mixed_criterion c) {
    if (c == YQ_MIXED_PROXY) return l->gain;
    double base = isfinite(s->base_sqnr_db) ? noise_fraction(s->base_sqnr_db) : 0.0;
    /* leave-one-out: the noise that restoring the layer removes */
    if (s->quantized_context) return base - noise_fraction(l->sqnr_db);
    return noise_fraction(l->sqnr_db) - base;
}

void yq_mixed_result_free(yq_mixed_result *r) {
    if (!r) return;
    yq_sens_result_free(&r->sens);
    free(r->high);
    free(r->bits);
    memset(r, 0, sizeof *r);
}

static const char *node_label(const yq_graph *g, int node) {
    const yq_node *n = &g->nodes[node];
    if (n->name && n->name[0]) return n->name;
    if (n->noutputs > 0 && n->outputs[0] >= 0) return g->values[n->outputs[0]].name;
    return n->op_type;
}

/* A saved analysis, checked against the planned layers and copied in their order. */
static yq_status copy_given(const yq_graph *g, const yq_recipe *r, const int *node_of, const yq_mixed_item *items,
                            int n, const yq_sens_result *given, yq_sens_result *out) {
    if (given->bits != LO_BITS)
        return yq_fail(YQ_ERR_INVALID, "mixed precision: the sensitivity analysis was made at %d bit, not 4",
                       given->bits);
    /* An analysis with float activations may serve an A8 recipe (the weight
     * errors it ranks are the same; only the context differs), not the
     * reverse: an A8 analysis has the activation noise in its baseline. */
    if (given->act_bits != 0 && r->acts.bits == 0)
        return yq_fail(YQ_ERR_INVALID, "mixed precision: the sensitivity analysis was made with int8 activations, the "
                       "recipe keeps them float");
    *out = *given;
    out->layers = calloc((size_t)n + 1, sizeof *out->layers);
    out->heads = NULL;
    out->nheads = 0;
    out->nlayers = 0;
    if (!out->layers) return yq_fail(YQ_ERR_NOMEM, "mixed precision: out of memory");
    for (int k = 0; k < n; k++) {
        const char *name = node_label(g, node_of[k]);
        const yq_sens_layer *src = NULL;
        for (int j = 0; j < given->nlayers && !src; j++)
            if (given->layers[j].name && !strcmp(given->layers[j].name, name)) src = &given->layers[j];
        if (!items[k].fixed_bits && (!src || !src->measured))
            return yq_fail(YQ_ERR_INVALID, "mixed precision: the sensitivity analysis has no layer '%s' (made for "
                           "another model or recipe?)", name);
        if (src && src->params != items[k].params)
            return yq_fail(YQ_ERR_INVALID, "mixed precision: layer '%s' has %lld params, the sensitivity analysis says "
                           "%lld", name, (long long)items[k].params, (long long)src->params);
        yq_sens_layer *d = &out->layers[k];
        if (src) *d = *src;
        else d->gain = d->proxy = d->sqnr_db = NAN;
        d->params = items[k].params;
        d->name = strdup(name);
        d->op_type = strdup(g->nodes[node_of[k]].op_type);
        out->nlayers = k + 1;
        if (!d->name || !d->op_type) return yq_fail(YQ_ERR_NOMEM, "mixed precision: out of memory");
    }
    return YQ_OK;
}

yq_status yq_mixed_apply(const yq_graph *g, yq_recipe *r, const yq_mixed_budget *b, int ncalib,
                         yq_ptq_input_fn input, void *input_arg, const yq_sens_opts *o, const yq_sens_result *given,
                         yq_sens_progress_fn progress, void *progress_arg, yq_mixed_result *res) {
    memset(res, 0, sizeof *res);
    yq_node_qconfig *cfg = calloc((size_t)g->nnodes + 1, sizeof *cfg);
    yq_mixed_item *items = calloc((size_t)g->nnodes + 1, sizeof *items);
    int *node_of = calloc((size_t)g->nnodes + 1, sizeof *node_of);
    unsigned char *high = calloc((size_t)g->nnodes + 1, 1);
    yq_status st = YQ_OK;
    int n = 0;
    if (!cfg || !items || !node_of || !high) {
        st = yq_fail(YQ_ERR_NOMEM, "mixed precision: out of memory");
        goto out;
    }
    /* the layers and what the recipe fixes: 8-bit layers stay, unnamed
     * layers cannot be given an override and keep their bits */
    if ((st = yq_recipe_plan(r, g, cfg)) != YQ_OK) goto out;
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!cfg[i].quantize) continue;
        yq_weight_ref ref;
        if ((st = yq_weight_ref_get(g, i, &ref)) != YQ_OK) break;
        const yq_node *nd = &g->nodes[i];
        int named = nd->name && nd->name[0];
        items[n].params = ref.rows * ref.cols;
        items[n].fixed_bits = cfg[i].weights.bits == LO_BITS && named ? 0 : cfg[i].weights.bits;
        if (items[n].fixed_bits != 0 && items[n].fixed_bits != LO_BITS && items[n].fixed_bits != HI_BITS)
            st = yq_fail(YQ_ERR_UNSUPPORTED, "mixed precision: layer '%s' has %d-bit weights", nd->name,
                         items[n].fixed_bits);
        node_of[n++] = i;
    }
    if (st != YQ_OK) goto out;
    /* fail on an impossible budget before the analysis */
    if ((st = yq_mixed_choose(items, n, b, high, &res->sum)) != YQ_OK) goto out;

    if (given) {
        if ((st = copy_given(g, r, node_of, items, n, given, &res->sens)) != YQ_OK) goto out;
    } else {
        yq_sens_opts so;
        if (o) so = *o;
        else yq_sens_opts_default(&so);
        so.bits = LO_BITS;
        so.act_bits = -1;
        so.only = NULL;
        so.quantized_context = r->mixed_quantized_context;
        if ((st = yq_sensitivity(g, r, ncalib, input, input_arg, &so, progress, progress_arg, &res->sens)) != YQ_OK)
            goto out;
    }
    if (res->sens.nlayers != n) {
        st = yq_fail(YQ_ERR_INTERNAL, "mixed precision: %d layers analysed, %d planned", res->sens.nlayers, n);
        goto out;
    }
    for (int k = 0; k < n; k++) items[k].gain = yq_mixed_gain(&res->sens, &res->sens.layers[k], b->criterion);
    if ((st = yq_mixed_choose(items, n, b, high, &res->sum)) != YQ_OK) goto out;
    res->high = calloc((size_t)n + 1, 1);
    res->bits = calloc((size_t)n + 1, sizeof *res->bits);
    if (!res->high || !res->bits) {
        st = yq_fail(YQ_ERR_NOMEM, "mixed precision: out of memory");
        goto out;
    }
    for (int k = 0; k < n && st == YQ_OK; k++) {
        res->high[k] = high[k];
        res->bits[k] = high[k] ? HI_BITS : (items[k].fixed_bits ? items[k].fixed_bits : LO_BITS);
        if (high[k]) st = yq_recipe_add_bits_override(r, g->nodes[node_of[k]].name, HI_BITS);
    }
out:
    free(cfg);
    free(items);
    free(node_of);
    free(high);
    if (st != YQ_OK) yq_mixed_result_free(res);
    return st;
}
