/* Per-layer sensitivity (see sensitivity.h). */
#include "quant/sensitivity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant/placement.h"
#include "quant/qcdq.h"
#include "rt/prepare.h"
#include "rt/session.h"

void yq_sens_opts_default(yq_sens_opts *o) {
    memset(o, 0, sizeof *o);
    o->bits = 4;
    o->act_bits = -1;
    o->metric_images = 16;
    yq_ptq_opts_default(&o->ptq);
}

void yq_sens_result_free(yq_sens_result *r) {
    if (!r) return;
    for (int i = 0; i < r->nlayers; i++) {
        free(r->layers[i].name);
        free(r->layers[i].op_type);
    }
    free(r->layers);
    for (int i = 0; i < r->nheads; i++) free(r->heads[i]);
    free(r->heads);
    memset(r, 0, sizeof *r);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

typedef struct slayer {
    int node;          /* in the float graph */
    char *out_name;    /* borrowed from the float graph: survives the QCDQ rewrite and compaction */
    const yq_value *w; /* the float weight (in the float graph) */
    float *dq;         /* the quantized weight, same layout */
} slayer;

/* One head tensor: [1, C, anchors...] read as C channels of `anchors` values. */
typedef struct head {
    int64_t numel, channels, anchors;
} head;

typedef struct sens {
    const yq_graph *g;
    slayer *L;
    int nl;
    head *H;
    int nh;
    int64_t head_total; /* Σ numel */
    int yolo;
    int64_t reg, box_off, cls_off, ncls;
    int nmetric;
    int64_t in_numel;
    float *inputs;  /* [nmetric][in_numel] */
    float *ref;     /* [nmetric][head_total] float head tensors */
    float *derived; /* [nmetric][head_total] σ(f) for class channels, log-softmax(f) for box bins */
    double *work;   /* per-anchor accumulators */
    int nthreads;
} sens;

static const char *node_label(const yq_graph *g, int node) {
    const yq_node *n = &g->nodes[node];
    if (n->name && n->name[0]) return n->name;
    if (n->noutputs > 0 && n->outputs[0] >= 0) return g->values[n->outputs[0]].name;
    return n->op_type;
}

/* Producer of the value named `name` in g, or -1. */
static int producer_of(const yq_graph *g, const char *name) {
    int v = yq_graph_find_value(g, name);
    if (v < 0) return -1;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] == v) return i;
    }
    return -1;
}

/* Point input 1 of the node producing `out_name` at a new float initializer
 * holding w (the weight's layout). The old weight becomes unused. */
static yq_status set_weight(yq_graph *g, const char *out_name, const yq_value *like, const float *w) {
    int node = producer_of(g, out_name);
    if (node < 0 || g->nodes[node].ninputs < 2)
        return yq_fail(YQ_ERR_INTERNAL, "sensitivity: layer producing '%s' not found", out_name);
    int id;
    YQ_TRY(yq_graph_add_initializer(g, "sensitivity_weight", YQ_DT_FLOAT, like->rank, like->dims, w, &id));
    g->nodes[node].inputs[1] = id;
    return YQ_OK;
}

/* Make the named values the graph's only outputs (what follows them is then
 * dead and dropped when a session prepares the graph). */
static yq_status set_outputs(yq_graph *g, char *const *names, int n) {
    int *outs = malloc((size_t)n * sizeof *outs);
    if (!outs) return yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    for (int i = 0; i < n; i++) {
        outs[i] = yq_graph_find_value(g, names[i]);
        if (outs[i] < 0) {
            free(outs);
            return yq_fail(YQ_ERR_INTERNAL, "sensitivity: tensor '%s' not found", names[i]);
        }
    }
    for (int i = 0; i < g->noutputs; i++) g->values[g->outputs[i]].flags &= ~(unsigned)YQ_VAL_OUTPUT;
    free(g->outputs);
    g->outputs = outs;
    g->noutputs = n;
    for (int i = 0; i < n; i++) g->values[outs[i]].flags |= YQ_VAL_OUTPUT;
    return YQ_OK;
}

/* The head tensors: outputs of the head Concats, else the float graph outputs. */
static yq_status find_heads(sens *s, yq_sens_result *res) {
    const yq_graph *g = s->g;
    unsigned *flags = malloc(((size_t)g->nnodes + 1) * sizeof *flags);
    res->heads = calloc((size_t)(g->nnodes + g->noutputs) + 1, sizeof *res->heads);
    if (!flags || !res->heads) {
        free(flags);
        return yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    }
    yq_status st = yq_quant_default_placement(g, flags);
    int dfl = -1;
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (flags[i] & YQ_PLACE_DFL) dfl = i;
        if (!(flags[i] & YQ_PLACE_HEAD_CONCAT)) continue;
        const yq_value *v = &g->values[g->nodes[i].outputs[0]];
        if (v->dtype != YQ_DT_FLOAT) continue;
        if (!(res->heads[res->nheads++] = strdup(v->name))) st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    }
    int from_concats = res->nheads > 0;
    for (int i = 0; i < g->noutputs && st == YQ_OK && !from_concats; i++) {
        const yq_value *v = &g->values[g->outputs[i]];
        if (v->dtype != YQ_DT_FLOAT) continue;
        if (!(res->heads[res->nheads++] = strdup(v->name))) st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    }
    if (st == YQ_OK && res->nheads == 0) st = yq_fail(YQ_ERR_UNSUPPORTED, "sensitivity: the model has no float output");
    if (st == YQ_OK && !(s->H = calloc((size_t)res->nheads, sizeof *s->H)))
        st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    s->nh = st == YQ_OK ? res->nheads : 0;
    for (int h = 0; h < s->nh && st == YQ_OK; h++) {
        const yq_value *v = &g->values[yq_graph_find_value(g, res->heads[h])];
        int64_t n = yq_value_numel(v);
        if (n <= 0 || v->rank < 1) {
            st = yq_fail(YQ_ERR_UNSUPPORTED, "sensitivity: tensor '%s' has no static shape", v->name);
            break;
        }
        s->H[h].numel = n;
        s->H[h].channels = v->rank >= 2 && v->dims[0] == 1 ? v->dims[1] : 1;
        s->H[h].anchors = n / s->H[h].channels;
        s->head_total += n;
    }
    /* YOLO layout: every head Concat joins a 4·reg_max box-distribution input
     * (first or last) and class logits, with reg_max the DFL conv's inputs. */
    if (st == YQ_OK && from_concats && dfl >= 0) {
        const yq_value *dw = &g->values[g->nodes[dfl].inputs[1]];
        int64_t reg = dw->rank >= 2 ? dw->dims[1] : 0, box = 4 * reg;
        int ok = reg > 1;
        int64_t box_off = -1, C = s->H[0].channels;
        for (int i = 0, h = 0; i < g->nnodes && ok; i++) {
            if (!(flags[i] & YQ_PLACE_HEAD_CONCAT) || g->values[g->nodes[i].outputs[0]].dtype != YQ_DT_FLOAT) continue;
            const yq_node *n = &g->nodes[i];
            const yq_value *first = &g->values[n->inputs[0]], *last = &g->values[n->inputs[n->ninputs - 1]];
            int64_t off = -1;
            if (yq_attr_int(n, "axis", 0) != 1 || s->H[h].channels != C || C <= box) ok = 0;
            else if (first->rank >= 2 && first->dims[1] == box) off = 0;
            else if (last->rank >= 2 && last->dims[1] == box) off = C - box;
            if (off < 0 || (box_off >= 0 && off != box_off)) ok = 0;
            box_off = off;
            h++;
        }
        if (ok) {
            s->yolo = 1;
            s->reg = reg;
            s->box_off = box_off;
            s->cls_off = box_off == 0 ? box : 0;
            s->ncls = C - box;
            res->yolo_layout = 1;
            res->reg_max = (int)reg;
            res->box_channels = (int)box;
            res->class_channels = (int)s->ncls;
        }
    }
    free(flags);
    return st;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Float-side quantities of one image, computed once: σ(f) of class logits,
 * log-softmax(f) of each box side's bins. */
static void derive(const sens *s, const float *f, float *d) {
    for (int h = 0; h < s->nh; h++) {
        const int64_t A = s->H[h].anchors;
        if (!s->yolo) {
            memcpy(d, f, (size_t)s->H[h].numel * sizeof *d);
        } else {
            for (int64_t c = 0; c < s->ncls; c++)
                for (int64_t a = 0; a < A; a++) d[(s->cls_off + c) * A + a] = sigmoidf(f[(s->cls_off + c) * A + a]);
            for (int64_t side = 0; side < 4; side++) {
                const int64_t b0 = s->box_off + side * s->reg;
                for (int64_t a = 0; a < A; a++) {
                    float m = f[b0 * A + a];
                    for (int64_t k = 1; k < s->reg; k++) m = fmaxf(m, f[(b0 + k) * A + a]);
                    double sum = 0;
                    for (int64_t k = 0; k < s->reg; k++) sum += exp((double)f[(b0 + k) * A + a] - m);
                    float lse = m + (float)log(sum);
                    for (int64_t k = 0; k < s->reg; k++) d[(b0 + k) * A + a] = f[(b0 + k) * A + a] - lse;
                }
            }
        }
        f += s->H[h].numel;
        d += s->H[h].numel;
    }
}

typedef struct acc {
    double sig, noise;        /* SQNR over everything */
    double proxy, cls, box;   /* sums of per-image values */
    int images;
} acc;

/* Metrics of one image: q against the float head tensors f (derived d). */
static void image_metrics(sens *s, const float *f, const float *d, const float *const *q, acc *m) {
    double num_cls = 0, num_box = 0, den = 0, rel_n = 0, rel_d = 0;
    for (int h = 0; h < s->nh; h++) {
        const int64_t n = s->H[h].numel, A = s->H[h].anchors;
        const float *qh = q[h];
        for (int64_t i = 0; i < n; i++) {
            double e = (double)qh[i] - (double)f[i];
            m->sig += (double)f[i] * f[i];
            m->noise += e * e;
        }
        if (!s->yolo) {
            for (int64_t i = 0; i < n; i++) {
                double e = (double)qh[i] - (double)f[i];
                rel_n += e * e;
                rel_d += (double)f[i] * f[i];
            }
        } else {
            double *pfm = s->work, *pqm = pfm + A, *cls = pqm + A, *box = cls + A, *lse = box + A;
            for (int64_t a = 0; a < A; a++) pfm[a] = pqm[a] = cls[a] = box[a] = 0;
            for (int64_t c = 0; c < s->ncls; c++) {
                const float *dc = d + (s->cls_off + c) * A, *qc = qh + (s->cls_off + c) * A;
                for (int64_t a = 0; a < A; a++) {
                    double pf = dc[a], pq = sigmoidf(qc[a]), e = pq - pf;
                    cls[a] += e * e;
                    if (pf > pfm[a]) pfm[a] = pf;
                    if (pq > pqm[a]) pqm[a] = pq;
                }
            }
            for (int64_t side = 0; side < 4; side++) {
                const int64_t b0 = s->box_off + side * s->reg;
                for (int64_t a = 0; a < A; a++) {
                    float mx = qh[b0 * A + a];
                    for (int64_t k = 1; k < s->reg; k++) mx = fmaxf(mx, qh[(b0 + k) * A + a]);
                    double sum = 0;
                    for (int64_t k = 0; k < s->reg; k++) sum += exp((double)qh[(b0 + k) * A + a] - mx);
                    lse[a] = mx + log(sum);
                }
                for (int64_t k = 0; k < s->reg; k++) {
                    const float *dk = d + (b0 + k) * A, *qk = qh + (b0 + k) * A;
                    for (int64_t a = 0; a < A; a++) {
                        double lf = dk[a], lq = (double)qk[a] - lse[a];
                        box[a] += exp(lf) * (lf - lq);
                    }
                }
            }
            for (int64_t a = 0; a < A; a++) {
                double w = pfm[a] > pqm[a] ? pfm[a] : pqm[a];
                num_cls += w * cls[a];
                num_box += w * box[a];
                den += w;
            }
        }
        f += n;
        d += n;
    }
    if (s->yolo) {
        double c = den > 0 ? num_cls / den : 0, b = den > 0 ? num_box / den : 0;
        m->cls += c;
        m->box += b;
        m->proxy += c + b;
    } else {
        m->proxy += rel_d > 0 ? rel_n / rel_d : (rel_n > 0 ? INFINITY : 0);
    }
    m->images++;
}

static void acc_result(const acc *m, double *sqnr, double *proxy, double *cls, double *box, int yolo) {
    *sqnr = m->noise > 0 ? 10.0 * log10(m->sig / m->noise) : INFINITY;
    if (!isfinite(m->noise)) *sqnr = -INFINITY;
    *proxy = m->images ? m->proxy / m->images : 0;
    if (!isfinite(*proxy)) *proxy = INFINITY;
    *cls = yolo && m->images ? m->cls / m->images : NAN;
    *box = yolo && m->images ? m->box / m->images : NAN;
}

/* Run graph (consumed) on the metric images and accumulate against the reference. */
static yq_status measure(sens *s, yq_graph *graph, int store_ref, acc *m) {
    yq_session *ss = NULL;
    yq_session_opts so = {.nthreads = s->nthreads};
    YQ_TRY(yq_session_new(graph, &so, &ss));
    yq_status st = YQ_OK;
    if (yq_session_noutputs(ss) != s->nh)
        st = yq_fail(YQ_ERR_INTERNAL, "sensitivity: session has %d outputs, expected %d", yq_session_noutputs(ss), s->nh);
    const yq_value *in = yq_session_input(ss, 0);
    const float *q[64];
    const float **qp = s->nh <= 64 ? q : malloc((size_t)s->nh * sizeof *qp);
    if (!qp) st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    for (int i = 0; i < s->nmetric && st == YQ_OK; i++) {
        yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = in->rank, .data = s->inputs + (size_t)i * (size_t)s->in_numel};
        memcpy(t.dims, in->dims, sizeof t.dims);
        if ((st = yq_session_run(ss, &t, 1)) != YQ_OK) break;
        for (int h = 0; h < s->nh; h++) {
            const yq_tensor *o = yq_session_output(ss, h);
            if (o->dtype != YQ_DT_FLOAT || yq_tensor_numel(o) != s->H[h].numel) {
                st = yq_fail(YQ_ERR_INTERNAL, "sensitivity: head tensor %d changed shape", h);
                break;
            }
            qp[h] = o->data;
        }
        if (st != YQ_OK) break;
        float *f = s->ref + (size_t)i * (size_t)s->head_total, *d = s->derived + (size_t)i * (size_t)s->head_total;
        if (store_ref) {
            for (int64_t h = 0, at = 0; h < s->nh; at += s->H[h].numel, h++)
                memcpy(f + at, qp[h], (size_t)s->H[h].numel * sizeof *f);
            derive(s, f, d);
        } else {
            image_metrics(s, f, d, qp, m);
        }
    }
    if (qp != q) free(qp);
    yq_session_free(ss);
    return st;
}

static void progress(yq_sens_progress_fn fn, void *arg, const char *stage, int64_t done, int64_t total) {
    if (fn) fn(arg, stage, done, total);
}

yq_status yq_sensitivity(const yq_graph *g, const yq_recipe *r, int ncalib, yq_ptq_input_fn input,
                         void *input_arg, const yq_sens_opts *o, yq_sens_progress_fn prog, void *prog_arg,
                         yq_sens_result *res) {
    yq_sens_opts od;
    if (!o) {
        yq_sens_opts_default(&od);
        o = &od;
    }
    memset(res, 0, sizeof *res);
    if (o->bits != 4 && o->bits != 8) return yq_fail(YQ_ERR_ARG, "sensitivity: bits must be 4 or 8, got %d", o->bits);
    if (o->act_bits != -1 && o->act_bits != 0 && o->act_bits != 8)
        return yq_fail(YQ_ERR_ARG, "sensitivity: activation bits must be 0 (float) or 8, got %d", o->act_bits);
    if (o->metric_images < 1) return yq_fail(YQ_ERR_ARG, "sensitivity: metric images must be >= 1");
    if (ncalib < 1) return yq_fail(YQ_ERR_ARG, "sensitivity: no calibration images");
    if (g->ninputs != 1) return yq_fail(YQ_ERR_UNSUPPORTED, "sensitivity: the model must have one image input");
    const yq_value *gin = &g->values[g->inputs[0]];
    if (gin->dtype != YQ_DT_FLOAT || gin->rank != 4 || gin->dims[0] != 1 || gin->dims[1] != 3 || gin->dims[2] < 1 ||
        gin->dims[3] < 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "sensitivity: the model input '%s' must be float [1,3,H,W]", gin->name);

    sens s = {.g = g, .nthreads = o->nthreads};
    s.nmetric = o->metric_images < ncalib ? o->metric_images : ncalib;
    s.in_numel = yq_value_numel(gin);
    const int act_bits = o->act_bits < 0 ? r->acts.bits : o->act_bits;
    res->bits = o->bits;
    res->act_bits = act_bits;
    res->calib_images = ncalib;
    res->metric_images = s.nmetric;
    res->quantized_context = o->quantized_context != 0;
    yq_status st = YQ_OK;
    yq_node_qconfig *cfg = calloc((size_t)g->nnodes + 1, sizeof *cfg);
    yq_recipe *rc = NULL;
    yq_graph *qg = NULL, *base = NULL, *work = NULL;
    yq_ptq_report rep = {0};
    if (!cfg) return yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
    double t0 = now_ms();

    /* the layers */
    if ((st = yq_recipe_plan(r, g, cfg)) != YQ_OK) goto out;
    for (int i = 0; i < g->nnodes; i++) s.nl += cfg[i].quantize != 0;
    if (s.nl == 0) {
        st = yq_fail(YQ_ERR_INVALID, "sensitivity: the recipe quantizes no layer of the model");
        goto out;
    }
    s.L = calloc((size_t)s.nl, sizeof *s.L);
    res->layers = calloc((size_t)s.nl, sizeof *res->layers);
    if (!s.L || !res->layers) {
        st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
        goto out;
    }
    int nmeasured = 0;
    for (int i = 0, k = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!cfg[i].quantize) continue;
        const yq_node *n = &g->nodes[i];
        yq_weight_ref ref;
        if ((st = yq_weight_ref_get(g, i, &ref)) != YQ_OK) break;
        slayer *l = &s.L[k];
        yq_sens_layer *out = &res->layers[k];
        res->nlayers = ++k;
        l->node = i;
        l->out_name = g->values[n->outputs[0]].name;
        l->w = &g->values[ref.value];
        out->name = strdup(node_label(g, i));
        out->op_type = strdup(n->op_type);
        if (!out->name || !out->op_type) st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
        out->params = ref.rows * ref.cols;
        out->plan_bits = cfg[i].weights.bits;
        out->measured = !o->only || yq_recipe_match(o->only, n->name, n->op_type);
        out->weight_sqnr_db = out->sqnr_db = out->cls = out->box = out->proxy = out->gain = NAN;
        nmeasured += out->measured;
    }
    if (st != YQ_OK) goto out;
    if (nmeasured == 0) {
        st = yq_fail(YQ_ERR_ARG, "sensitivity: the pattern '%s' matches no quantized layer", o->only);
        goto out;
    }
    if ((st = find_heads(&s, res)) != YQ_OK) goto out;

    /* every layer's quantized weights from one PTQ run with all layers at `bits` */
    if ((st = yq_recipe_clone(r, &rc)) != YQ_OK) goto out;
    rc->weights.bits = o->bits;
    rc->acts.bits = act_bits;
    for (int k = 0; k < s.nl && st == YQ_OK; k++) {
        const yq_node *n = &g->nodes[s.L[k].node];
        if (n->name && n->name[0]) st = yq_recipe_add_bits_override(rc, n->name, o->bits);
    }
    if (st != YQ_OK) goto out;
    if ((st = yq_graph_clone(g, &qg)) != YQ_OK) goto out;
    {
        yq_ptq_opts po = o->ptq;
        po.report_images = 0;
        if ((st = yq_ptq_quantize(qg, rc, ncalib, input, input_arg, &po, &rep)) != YQ_OK) goto out;
    }
    if (rep.nlayers != s.nl) {
        st = yq_fail(YQ_ERR_INTERNAL, "sensitivity: quantization reported %d layers, expected %d", rep.nlayers, s.nl);
        goto out;
    }
    for (int k = 0; k < s.nl; k++) {
        if (strcmp(rep.layers[k].name, res->layers[k].name) != 0) {
            st = yq_fail(YQ_ERR_INTERNAL, "sensitivity: layer %d is '%s' in the quantization report, '%s' here", k,
                         rep.layers[k].name, res->layers[k].name);
            goto out;
        }
        if (rep.layers[k].bits != o->bits) {
            st = yq_fail(YQ_ERR_UNSUPPORTED, "sensitivity: layer '%s' cannot be set to %d bits (unnamed node)",
                         res->layers[k].name, o->bits);
            goto out;
        }
        res->layers[k].weight_sqnr_db = rep.layers[k].weight_sqnr_db;
    }
    {
        yq_prepare_opts popt = yq_prepare_defaults();
        if ((st = yq_prepare_graph(qg, NULL, &popt)) != YQ_OK) goto out; /* folds the weight DequantizeLinear */
    }
    for (int k = 0; k < s.nl && st == YQ_OK; k++) {
        slayer *l = &s.L[k];
        int node = producer_of(qg, l->out_name);
        const yq_value *w = node >= 0 && qg->nodes[node].ninputs > 1 ? &qg->values[qg->nodes[node].inputs[1]] : NULL;
        if (!w || !w->data || w->dtype != YQ_DT_FLOAT || yq_value_numel(w) != yq_value_numel(l->w)) {
            st = yq_fail(YQ_ERR_INTERNAL, "sensitivity: quantized weight of '%s' not found", res->layers[k].name);
            break;
        }
        size_t nb = (size_t)yq_value_numel(w) * sizeof(float);
        if (!(l->dq = malloc(nb))) st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory");
        else memcpy(l->dq, w->data, nb);
    }
    if (st != YQ_OK) goto out;
    double t1 = now_ms();
    res->calib_ms = t1 - t0;

    /* the context: float, or the recipe's activation quantizers with float
     * weights; or (quantized context) the whole quantized model */
    if (o->quantized_context) {
        base = qg;
        qg = NULL;
    } else if (act_bits == 0) {
        yq_graph_free(qg);
        qg = NULL;
        if ((st = yq_graph_clone(g, &base)) != YQ_OK) goto out;
    } else {
        base = qg;
        qg = NULL;
        for (int k = 0; k < s.nl && st == YQ_OK; k++) st = set_weight(base, s.L[k].out_name, s.L[k].w, s.L[k].w->data);
    }
    if (st != YQ_OK || (st = set_outputs(base, res->heads, res->nheads)) != YQ_OK) goto out;

    /* reference: the float model on the metric images */
    int64_t maxA = 0;
    for (int h = 0; h < s.nh; h++)
        if (s.H[h].anchors > maxA) maxA = s.H[h].anchors;
    s.inputs = malloc((size_t)s.nmetric * (size_t)s.in_numel * sizeof *s.inputs);
    s.ref = malloc((size_t)s.nmetric * (size_t)s.head_total * sizeof *s.ref);
    s.derived = malloc((size_t)s.nmetric * (size_t)s.head_total * sizeof *s.derived);
    s.work = malloc((size_t)(5 * maxA + 1) * sizeof *s.work);
    if (!s.inputs || !s.ref || !s.derived || !s.work) {
        st = yq_fail(YQ_ERR_NOMEM, "sensitivity: out of memory for %d metric images", s.nmetric);
        goto out;
    }
    for (int i = 0; i < s.nmetric && st == YQ_OK; i++)
        st = input(input_arg, i, s.inputs + (size_t)i * (size_t)s.in_numel);
    if (st != YQ_OK) goto out;
    acc none = {0};
    if ((st = yq_graph_clone(g, &work)) != YQ_OK || (st = set_outputs(work, res->heads, res->nheads)) != YQ_OK) goto out;
    st = measure(&s, work, 1, &none);
    work = NULL;
    if (st != YQ_OK) goto out;
    progress(prog, prog_arg, "reference", 1, 1);
    double dummy_c, dummy_b;
    res->base_sqnr_db = INFINITY;
    res->base_proxy = 0;
    if (act_bits != 0 || o->quantized_context) {
        acc m = {0};
        if ((st = yq_graph_clone(base, &work)) != YQ_OK) goto out;
        st = measure(&s, work, 0, &m);
        work = NULL;
        if (st != YQ_OK) goto out;
        acc_result(&m, &res->base_sqnr_db, &res->base_proxy, &dummy_c, &dummy_b, s.yolo);
    }

    /* one layer at a time */
    int done = 0;
    for (int k = 0; k < s.nl; k++) {
        yq_sens_layer *out = &res->layers[k];
        if (!out->measured) continue;
        double ta = now_ms();
        acc m = {0};
        if ((st = yq_graph_clone(base, &work)) != YQ_OK) goto out;
        const float *wk = o->quantized_context ? (const float *)s.L[k].w->data : s.L[k].dq;
        if ((st = set_weight(work, s.L[k].out_name, s.L[k].w, wk)) != YQ_OK) goto out;
        st = measure(&s, work, 0, &m);
        work = NULL;
        if (st != YQ_OK) {
            st = yq_fail_prefix(st, "sensitivity of '%s'", out->name);
            goto out;
        }
        acc_result(&m, &out->sqnr_db, &out->proxy, &out->cls, &out->box, s.yolo);
        out->gain = o->quantized_context ? res->base_proxy - out->proxy : out->proxy - res->base_proxy;
        out->ms = now_ms() - ta;
        progress(prog, prog_arg, "layers", ++done, nmeasured);
    }
    res->measure_ms = now_ms() - t1;
out:
    yq_ptq_report_free(&rep);
    yq_recipe_free(rc);
    yq_graph_free(qg);
    yq_graph_free(base);
    yq_graph_free(work);
    if (s.L)
        for (int k = 0; k < s.nl; k++) free(s.L[k].dq);
    free(s.L);
    free(s.H);
    free(s.inputs);
    free(s.ref);
    free(s.derived);
    free(s.work);
    free(cfg);
    if (st != YQ_OK) yq_sens_result_free(res);
    return st;
}
