/* Block reconstruction of a QCDQ model (see reconstruct.h). */
#include "quant/reconstruct.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "grad/grad.h"
#include "grad/train_graph.h"
#include "quant/finetune.h"
#include "rt/session.h"

void yq_recon_opts_default(yq_recon_opts *o) {
    *o = (yq_recon_opts){.convs_per_block = 4, .iters = 200, .batch = 2, .images = 32, .lr = 5e-2f, .reg = 1.0f,
                         .warmup = 0.2f, .seed = 0x5eed};
}

void yq_recon_result_free(yq_recon_result *r) {
    if (!r) return;
    for (int i = 0; i < r->nblocks; i++) free(r->blocks[i].first), free(r->blocks[i].last);
    free(r->blocks);
    memset(r, 0, sizeof *r);
}

/* ---- the cut into blocks ------------------------------------------------------ */

/* The nodes that feed `head`, in an order where every producer comes first:
 * the graph's own order when it is topological (the exporter's module order
 * keeps blocks compact), else a depth-first post-order. */
typedef struct recon_plan {
    int *order; /* node ids */
    int n;
    int *pos;        /* node id -> position in order, -1 when not needed */
    unsigned char *is_const; /* per value */
    int *first_pos;  /* per value: position of the producer (-1: graph input / constant) */
    int *last_pos;   /* per value: last consumer's position (-1: none) */
    int head;        /* value id of the head */
} recon_plan;

static void plan_free(recon_plan *p) {
    free(p->order), free(p->pos), free(p->is_const), free(p->first_pos), free(p->last_pos);
    memset(p, 0, sizeof *p);
}

static int node_is_weighted_conv(const yq_graph *g, const recon_plan *p, int ni) {
    const yq_node *n = &g->nodes[ni];
    return strcmp(n->op_type, "Conv") == 0 && n->ninputs > 1 && n->inputs[1] >= 0 && p->is_const[n->inputs[1]];
}

static int is_rearrangement(const yq_node *n) {
    static const char *const ops[] = {"Concat", "Reshape", "Transpose", "Split", "Flatten", "Squeeze", "Unsqueeze",
                                      "Identity", NULL};
    for (int i = 0; ops[i]; i++)
        if (strcmp(n->op_type, ops[i]) == 0) return 1;
    return 0;
}

static int is_qdq(const yq_node *n) {
    return strcmp(n->op_type, "QuantizeLinear") == 0 || strcmp(n->op_type, "DequantizeLinear") == 0;
}

static yq_status plan_build(const yq_graph *g, int head, recon_plan *p) {
    memset(p, 0, sizeof *p);
    p->head = head;
    const int nn = g->nnodes, nv = g->nvalues;
    p->order = yq_malloc((size_t)(nn ? nn : 1) * sizeof(int));
    p->pos = yq_malloc((size_t)(nn ? nn : 1) * sizeof(int));
    p->is_const = yq_calloc((size_t)(nv ? nv : 1), 1);
    p->first_pos = yq_malloc((size_t)(nv ? nv : 1) * sizeof(int));
    p->last_pos = yq_malloc((size_t)(nv ? nv : 1) * sizeof(int));
    unsigned char *need = yq_calloc((size_t)(nn ? nn : 1), 1);
    int *stack = yq_malloc((size_t)(nn ? nn : 1) * sizeof(int));
    if (!p->order || !p->pos || !p->is_const || !p->first_pos || !p->last_pos || !need || !stack) {
        free(need), free(stack);
        plan_free(p);
        return YQ_ERR_NOMEM;
    }
    /* constants: initializers and values computed from constants only */
    for (int v = 0; v < nv; v++) p->is_const[v] = g->values[v].data != NULL && !(g->values[v].flags & YQ_VAL_INPUT);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < nn; i++) {
            const yq_node *n = &g->nodes[i];
            if (n->dead || n->noutputs < 1) continue;
            int all = 1;
            for (int k = 0; k < n->ninputs && all; k++)
                if (n->inputs[k] >= 0 && !p->is_const[n->inputs[k]]) all = 0;
            for (int k = 0; k < n->noutputs; k++)
                if (all && n->outputs[k] >= 0 && !p->is_const[n->outputs[k]]) p->is_const[n->outputs[k]] = 1, changed = 1;
        }
    }
    /* the non-constant nodes the head depends on */
    int sp = 0;
    if (g->values[head].producer >= 0) stack[sp++] = g->values[head].producer, need[g->values[head].producer] = 1;
    while (sp > 0) {
        const yq_node *n = &g->nodes[stack[--sp]];
        for (int k = 0; k < n->ninputs; k++) {
            const int v = n->inputs[k];
            if (v < 0 || p->is_const[v]) continue;
            const int pr = g->values[v].producer;
            if (pr >= 0 && !need[pr]) need[pr] = 1, stack[sp++] = pr;
        }
    }
    /* the graph's order if topological among the needed nodes */
    int topo = 1;
    for (int i = 0; i < nn; i++) p->pos[i] = -1;
    for (int i = 0; i < nn; i++)
        if (need[i]) p->pos[i] = p->n, p->order[p->n++] = i;
    for (int i = 0; i < nn && topo; i++) {
        if (!need[i]) continue;
        const yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs && topo; k++) {
            const int v = n->inputs[k];
            if (v >= 0 && !p->is_const[v] && g->values[v].producer >= 0 && p->pos[g->values[v].producer] > p->pos[i])
                topo = 0;
        }
    }
    if (!topo) { /* depth-first post-order from the head */
        unsigned char *state = yq_calloc((size_t)nn, 1); /* 1 entered, 2 done */
        int *it = yq_calloc((size_t)nn, sizeof(int));
        if (!state || !it) {
            free(state), free(it), free(need), free(stack);
            plan_free(p);
            return YQ_ERR_NOMEM;
        }
        p->n = 0;
        sp = 0;
        stack[sp++] = g->values[head].producer;
        state[stack[0]] = 1;
        while (sp > 0) {
            const int ni = stack[sp - 1];
            const yq_node *n = &g->nodes[ni];
            int pushed = 0;
            while (it[ni] < n->ninputs) {
                const int v = n->inputs[it[ni]++];
                if (v < 0 || p->is_const[v]) continue;
                const int pr = g->values[v].producer;
                if (pr >= 0 && !state[pr]) {
                    state[pr] = 1;
                    stack[sp++] = pr;
                    pushed = 1;
                    break;
                }
            }
            if (!pushed) {
                state[ni] = 2;
                p->pos[ni] = p->n;
                p->order[p->n++] = ni;
                sp--;
            }
        }
        free(state), free(it);
    }
    free(need), free(stack);
    for (int v = 0; v < nv; v++) p->first_pos[v] = -1, p->last_pos[v] = -1;
    for (int k = 0; k < p->n; k++) {
        const yq_node *n = &g->nodes[p->order[k]];
        for (int j = 0; j < n->noutputs; j++)
            if (n->outputs[j] >= 0) p->first_pos[n->outputs[j]] = k;
        for (int j = 0; j < n->ninputs; j++)
            if (n->inputs[j] >= 0 && !p->is_const[n->inputs[j]]) p->last_pos[n->inputs[j]] = k;
    }
    p->last_pos[head] = p->n; /* the head is the model's result: consumed "after the end" */
    return YQ_OK;
}

/* Non-constant values crossing the cut before position i (produced before i,
 * consumed at or after i) into ids[] (capacity nvalues); returns the count. */
static int crossing(const yq_graph *g, const recon_plan *p, int i, int *ids) {
    int c = 0;
    for (int v = 0; v < g->nvalues; v++) {
        if (p->is_const[v] || p->last_pos[v] < i) continue;
        if (p->first_pos[v] < i && (p->first_pos[v] >= 0 || (g->values[v].flags & YQ_VAL_INPUT))) ids[c++] = v;
    }
    return c;
}

/* A cut is allowed where every crossing tensor is an ordinary float tensor the
 * teacher has too (never a Q or DQ output). */
static int cut_ok(const yq_graph *g, const yq_graph *teacher, const recon_plan *p, int i, int *ids) {
    const int c = crossing(g, p, i, ids);
    for (int k = 0; k < c; k++) {
        const yq_value *v = &g->values[ids[k]];
        if (v->producer >= 0 && is_qdq(&g->nodes[v->producer])) return 0;
        if (v->dtype != YQ_DT_FLOAT) return 0;
        if (yq_graph_find_value(teacher, v->name) < 0) return 0;
    }
    return 1;
}

/* ---- running a model up to some tensors ------------------------------------- */

/* A session over a copy of g whose outputs are the named tensors. */
static yq_status session_at(const yq_graph *g, char *const *names, int n, int nthreads, yq_session **out) {
    yq_graph *c = NULL;
    YQ_TRY(yq_graph_clone(g, &c));
    int *outs = yq_malloc((size_t)n * sizeof(int));
    if (!outs) {
        yq_graph_free(c);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        outs[i] = yq_graph_find_value(c, names[i]);
        if (outs[i] < 0) {
            free(outs);
            yq_graph_free(c);
            return yq_fail(YQ_ERR_INVALID, "reconstruct: the model has no tensor '%s'", names[i]);
        }
    }
    yq_status st = yq_graph_set_outputs(c, outs, n);
    free(outs);
    if (st != YQ_OK) {
        yq_graph_free(c);
        return st;
    }
    yq_session_opts so = {.nthreads = nthreads};
    return yq_session_new(c, &so, out); /* owns c, also on failure */
}

/* Run `s` on images 0..nimg-1 and keep output k of image j in buf[k][j]
 * (numel[k] floats each, checked). */
static yq_status collect(yq_session *s, int nimg, int w, int h, yq_ptq_input_fn input, void *arg, float *img,
                         int n, const int64_t *numel, float **buf) {
    for (int j = 0; j < nimg; j++) {
        YQ_TRY(input(arg, j, img));
        yq_tensor x = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, h, w}, .data = img};
        YQ_TRY(yq_session_run(s, &x, 1));
        for (int k = 0; k < n; k++) {
            const yq_tensor *t = yq_session_output(s, k);
            int64_t m = 1;
            for (int d = 0; d < t->rank; d++) m *= t->dims[d];
            if (m != numel[k] || t->dtype != YQ_DT_FLOAT)
                return yq_fail(YQ_ERR_INVALID, "reconstruct: tensor %d of a block has %lld values, expected %lld", k,
                               (long long)m, (long long)numel[k]);
            memcpy(buf[k] + (int64_t)j * numel[k], t->data, (size_t)m * sizeof(float));
        }
    }
    return YQ_OK;
}

/* ---- one block ------------------------------------------------------------------- */

typedef struct block_data {
    int nin, nout, nimg;
    int64_t *in_numel, *out_numel;
    float **in, **tgt; /* [k][image·numel] */
    int image_input;   /* index of the graph's image among the inputs, or -1 */
    const unsigned char *counted; /* per output: 1 in the loss, 0 raw prediction logits */
    int ncounted;
    float **grad;      /* [k][numel] */
} block_data;

static void block_data_free(block_data *b) {
    for (int k = 0; k < b->nin; k++) free(b->in ? b->in[k] : NULL);
    for (int k = 0; k < b->nout; k++) {
        free(b->tgt ? b->tgt[k] : NULL);
        free(b->grad ? b->grad[k] : NULL);
    }
    free(b->in), free(b->tgt), free(b->grad), free(b->in_numel), free(b->out_numel);
    memset(b, 0, sizeof *b);
}

/* Normalised squared error of the last forward against image j's targets;
 * with `scale` != 0 also the gradient, scaled, into b->grad. */
static double block_loss(const yq_tg *tg, block_data *b, int j, float scale) {
    double total = 0;
    for (int k = 0; k < b->nout; k++) {
        const float *y = yq_tg_output(tg, k), *t = b->tgt[k] + (int64_t)j * b->out_numel[k];
        if (!b->counted[k]) {
            if (scale != 0) memset(b->grad[k], 0, (size_t)b->out_numel[k] * sizeof(float));
            continue;
        }
        double e = 0, ref = 0;
        for (int64_t i = 0; i < b->out_numel[k]; i++) {
            const double d = (double)y[i] - t[i];
            e += d * d;
            ref += (double)t[i] * t[i];
        }
        if (ref < 1e-12) ref = 1e-12;
        total += e / ref / b->ncounted;
        if (scale != 0) {
            const float f = (float)(2.0 * scale / ref / b->ncounted);
            for (int64_t i = 0; i < b->out_numel[k]; i++) b->grad[k][i] = f * (y[i] - t[i]);
        }
    }
    return total;
}

static yq_status block_forward(yq_tg *tg, block_data *b, int j, const float **xs) {
    for (int k = 0; k < b->nin; k++) xs[k] = b->in[k] + (int64_t)j * b->in_numel[k];
    return yq_tg_forward(tg, xs);
}

static yq_status block_error(yq_tg *tg, block_data *b, const float **xs, double *err) {
    double e = 0;
    for (int j = 0; j < b->nimg; j++) {
        YQ_TRY(block_forward(tg, b, j, xs));
        e += block_loss(tg, b, j, 0);
    }
    *err = e / b->nimg;
    return YQ_OK;
}

static yq_status reconstruct_block(yq_graph *model, const yq_graph *teacher, char **ins, int nin, char **outs,
                                   int nout, const unsigned char *counted, int nimg, int w, int h, yq_ptq_input_fn input, void *arg,
                                   const yq_recon_opts *o, int block_index, yq_recon_block *rb) {
    yq_status st = YQ_OK;
    yq_tg *tg = NULL;
    yq_session *s = NULL;
    block_data b = {.nin = nin, .nout = nout, .nimg = nimg, .image_input = -1, .counted = counted};
    for (int k = 0; k < nout; k++) b.ncounted += counted[k] != 0;
    float *img = NULL, *best = NULL;
    const float **xs = NULL;
    const float **gs = NULL;
    yq_adam adam[YQ_TG_NKINDS];
    memset(adam, 0, sizeof adam);

    yq_tg_opts to = {.inputs = (const char *const *)ins, .ninputs = nin, .outputs = (const char *const *)outs,
                     .noutputs = nout, .nthreads = o->nthreads, .train_bias = o->lr_bias > 0,
                     .soft_round_from = o->ste ? NULL : teacher};
    if ((st = yq_tg_new(model, &to, &tg)) != YQ_OK) {
        if (st == YQ_ERR_UNSUPPORTED) { /* an operator the executor cannot differentiate: keep the PTQ codes */
            snprintf(rb->skipped, sizeof rb->skipped, "%s", yq_last_error());
            rb->err_before = rb->err_after = NAN;
            st = YQ_OK;
        }
        goto done;
    }
    b.in_numel = yq_calloc((size_t)nin, sizeof(int64_t));
    b.out_numel = yq_calloc((size_t)nout, sizeof(int64_t));
    b.in = yq_calloc((size_t)nin, sizeof(float *));
    b.tgt = yq_calloc((size_t)nout, sizeof(float *));
    b.grad = yq_calloc((size_t)nout, sizeof(float *));
    img = yq_malloc((size_t)3 * w * h * sizeof(float));
    xs = yq_calloc((size_t)nin, sizeof(float *));
    gs = yq_calloc((size_t)nout, sizeof(float *));
    if (!b.in_numel || !b.out_numel || !b.in || !b.tgt || !b.grad || !img || !xs || !gs) { st = YQ_ERR_NOMEM; goto done; }
    for (int k = 0; k < nin; k++) {
        b.in_numel[k] = yq_tg_input_numel(tg, k);
        if (!(b.in[k] = yq_malloc((size_t)(b.in_numel[k] * nimg) * sizeof(float)))) { st = YQ_ERR_NOMEM; goto done; }
        const int v = yq_graph_find_value(model, ins[k]);
        if (v >= 0 && (model->values[v].flags & YQ_VAL_INPUT)) b.image_input = k;
    }
    for (int k = 0; k < nout; k++) {
        b.out_numel[k] = yq_tg_output_numel(tg, k);
        if (!(b.tgt[k] = yq_malloc((size_t)(b.out_numel[k] * nimg) * sizeof(float))) ||
            !(b.grad[k] = yq_malloc((size_t)b.out_numel[k] * sizeof(float)))) { st = YQ_ERR_NOMEM; goto done; }
        gs[k] = b.grad[k];
    }
    /* inputs from the current quantized model (the image itself where it is one) */
    {
        char **names = yq_calloc((size_t)nin, sizeof(char *));
        float **bufs = yq_calloc((size_t)nin, sizeof(float *));
        int64_t *num = yq_calloc((size_t)nin, sizeof(int64_t));
        int m = 0;
        if (!names || !bufs || !num) st = YQ_ERR_NOMEM;
        for (int k = 0; k < nin && st == YQ_OK; k++)
            if (k != b.image_input) names[m] = ins[k], bufs[m] = b.in[k], num[m] = b.in_numel[k], m++;
        if (st == YQ_OK && m > 0) st = session_at(model, names, m, o->nthreads, &s);
        if (st == YQ_OK && m > 0) st = collect(s, nimg, w, h, input, arg, img, m, num, bufs);
        if (st == YQ_OK && b.image_input >= 0)
            for (int j = 0; j < nimg && st == YQ_OK; j++)
                st = input(arg, j, b.in[b.image_input] + (int64_t)j * b.in_numel[b.image_input]);
        yq_session_free(s);
        s = NULL;
        free(names), free(bufs), free(num);
        if (st != YQ_OK) goto done;
    }
    /* targets from the float model */
    if ((st = session_at(teacher, outs, nout, o->nthreads, &s)) != YQ_OK) goto done;
    if ((st = collect(s, nimg, w, h, input, arg, img, nout, b.out_numel, b.tgt)) != YQ_OK) goto done;
    yq_session_free(s);
    s = NULL;

    /* the error of the PTQ codes (hard rounding reproduces them exactly) */
    yq_tg_set_hard_rounding(tg, 1);
    if ((st = block_error(tg, &b, xs, &rb->err_before)) != YQ_OK) goto done;
    yq_tg_set_hard_rounding(tg, 0);
    const int64_t np = yq_tg_nparams(tg);
    float *params = yq_tg_params(tg), *grads = yq_tg_grads(tg);
    if (!(best = yq_malloc((size_t)(np ? np : 1) * sizeof(float)))) { st = YQ_ERR_NOMEM; goto done; }
    memcpy(best, params, (size_t)np * sizeof(float));
    const float lrs[YQ_TG_NKINDS] = {o->lr, o->lr_scale, 0.0f, o->lr_bias};
    int64_t range[YQ_TG_NKINDS][2];
    for (int k = 0; k < YQ_TG_NKINDS; k++) {
        yq_tg_kind_range(tg, (yq_tg_kind)k, &range[k][0], &range[k][1]);
        if ((st = yq_adam_init(&adam[k], range[k][1] - range[k][0], lrs[k])) != YQ_OK) goto done;
    }
    for (int step = 0; step < o->iters; step++) {
        yq_tg_zero_grad(tg);
        for (int s2 = 0; s2 < o->batch; s2++) {
            const uint64_t r = yq_mix64(o->seed ^ yq_mix64(((uint64_t)block_index << 40) ^ ((uint64_t)step << 8) ^ (uint64_t)s2));
            const int j = (int)(r % (uint64_t)nimg);
            if ((st = block_forward(tg, &b, j, xs)) != YQ_OK) goto done;
            block_loss(tg, &b, j, 1.0f / (float)o->batch);
            if ((st = yq_tg_backward(tg, gs)) != YQ_OK) goto done;
        }
        if (!o->ste && range[YQ_TG_WEIGHT][1] > range[YQ_TG_WEIGHT][0]) {
            /* AdaRound's regulariser, relative to the block's starting error
             * and per weight, so that one setting suits every block */
            const int64_t nw = range[YQ_TG_WEIGHT][1] - range[YQ_TG_WEIGHT][0];
            const float beta = yq_adaround_beta(step, o->iters, o->warmup, 20.0f, 2.0f);
            if (beta > 0)
                yq_adaround_reg(nw, params + range[YQ_TG_WEIGHT][0], beta,
                                (float)(o->reg * rb->err_before / (double)nw), grads + range[YQ_TG_WEIGHT][0]);
        }
        const double f = 0.5 * (1.0 + cos(M_PI * (double)step / (double)o->iters));
        for (int k = 0; k < YQ_TG_NKINDS; k++) {
            if (adam[k].n == 0 || lrs[k] <= 0) continue;
            adam[k].lr = (float)(lrs[k] * f);
            yq_adam_step(&adam[k], params + range[k][0], grads + range[k][0]);
        }
    }
    /* the error of what would be exported: the codes rounded */
    yq_tg_set_hard_rounding(tg, 1);
    if ((st = block_error(tg, &b, xs, &rb->err_after)) != YQ_OK) goto done;
    rb->kept = rb->err_after < rb->err_before;
    if (rb->kept) st = yq_tg_export(tg, params, model);
done:
    for (int k = 0; k < YQ_TG_NKINDS; k++) yq_adam_free(&adam[k]);
    block_data_free(&b);
    yq_session_free(s);
    yq_tg_free(tg);
    free(img), free(best), free(xs), free(gs);
    return st;
}

/* ---- the driver ----------------------------------------------------------------------- */

static yq_status names_of(const yq_graph *g, const int *ids, int n, char ***out) {
    char **names = yq_calloc((size_t)(n ? n : 1), sizeof(char *));
    if (!names) return YQ_ERR_NOMEM;
    for (int i = 0; i < n; i++) names[i] = g->values[ids[i]].name; /* borrowed */
    *out = names;
    return YQ_OK;
}

static const char *node_label(const yq_graph *g, int ni) {
    const yq_node *n = &g->nodes[ni];
    return n->name && n->name[0] ? n->name : g->values[n->outputs[0]].name;
}

yq_status yq_reconstruct(yq_graph *model, const yq_graph *teacher, int nimages, yq_ptq_input_fn input,
                         void *input_arg, const yq_recon_opts *o, yq_recon_result *res) {
    memset(res, 0, sizeof *res);
    const double t0 = yq_seconds();
    if (nimages < 1) return yq_fail(YQ_ERR_ARG, "reconstruct: no calibration images");
    if (o->iters < 1 || o->batch < 1 || o->convs_per_block < 1 || o->images < 1 || !(o->lr >= 0) ||
        !(o->lr_scale >= 0) || !(o->lr_bias >= 0))
        return yq_fail(YQ_ERR_ARG, "reconstruct: iterations, batch, block size and images must be positive, rates >= 0");
    if (model->ninputs != 1) return yq_fail(YQ_ERR_UNSUPPORTED, "reconstruct: the model must have one image input");
    const yq_value *iv = &model->values[model->inputs[0]];
    if (iv->rank != 4 || iv->dims[0] != 1 || iv->dims[1] != 3 || iv->dims[2] < 1 || iv->dims[3] < 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "reconstruct: the input must be [1,3,H,W]");
    const int h = (int)iv->dims[2], w = (int)iv->dims[3];
    const int nimg = nimages < o->images ? nimages : o->images;
    res->images = nimg;

    int head;
    if (o->cut) {
        head = yq_graph_find_value(model, o->cut);
        if (head < 0 || model->values[head].producer < 0)
            return yq_fail(YQ_ERR_INVALID, "reconstruct: the model computes no tensor '%s'", o->cut);
    } else {
        char *cut = NULL;
        int R = 0;
        YQ_TRY(yq_finetune_find_head(model, &cut, &R));
        head = yq_graph_find_value(model, cut);
        free(cut);
        if (head < 0 || model->values[head].producer < 0) return yq_fail(YQ_ERR_INVALID, "reconstruct: head tensor not found");
    }
    if (yq_graph_find_value(teacher, model->values[head].name) < 0)
        return yq_fail(YQ_ERR_INVALID, "reconstruct: the float model has no tensor '%s' (not the model's float original?)",
                       model->values[head].name);

    recon_plan p;
    YQ_TRY(plan_build(model, head, &p));
    yq_status st = YQ_OK;
    int *ids = yq_malloc((size_t)(model->nvalues ? model->nvalues : 1) * sizeof(int));
    int *cuts = yq_malloc((size_t)(p.n + 2) * sizeof(int));
    int *suffix = yq_calloc((size_t)(p.n + 1), sizeof(int));
    unsigned char *raw = NULL;
    if (!ids || !cuts || !suffix) { st = YQ_ERR_NOMEM; goto done; }
    for (int k = p.n - 1; k >= 0; k--) suffix[k] = suffix[k + 1] + node_is_weighted_conv(model, &p, p.order[k]);
    /* cut after every `convs_per_block` convolutions where allowed, but leave
     * at least half a block for the end */
    int ncuts = 0, count = 0;
    cuts[ncuts++] = 0;
    for (int i = 1; i < p.n; i++) {
        count += node_is_weighted_conv(model, &p, p.order[i - 1]);
        /* cut where the next layer starts (its input quantizer or the conv
         * itself), so that a conv's activation stays in its block and block
         * outputs are the features the next layers read */
        const yq_node *next = &model->nodes[p.order[i]];
        const int starts_layer = strcmp(next->op_type, "QuantizeLinear") == 0 || node_is_weighted_conv(model, &p, p.order[i]);
        if (count >= o->convs_per_block && starts_layer && 2 * suffix[i] >= o->convs_per_block &&
            cut_ok(model, teacher, &p, i, ids)) {
            cuts[ncuts++] = i;
            count = 0;
        }
    }
    cuts[ncuts++] = p.n;
    if (!(res->blocks = yq_calloc((size_t)ncuts, sizeof(yq_recon_block)))) { st = YQ_ERR_NOMEM; goto done; }
    /* raw[v]: v holds prediction logits — the output of a weighted Conv that no
     * Sigmoid reads, or a rearrangement (Concat, Reshape, Transpose, Split,
     * ...) of such outputs only, like the concatenated raw head */
    if (!(raw = yq_calloc((size_t)(model->nvalues ? model->nvalues : 1), 1))) { st = YQ_ERR_NOMEM; goto done; }
    for (int k = 0; k < p.n; k++) {
        const int ni = p.order[k];
        const yq_node *n = &model->nodes[ni];
        int is_raw = 0;
        if (node_is_weighted_conv(model, &p, ni)) {
            is_raw = 1;
            for (int q = k + 1; q < p.n && is_raw; q++) {
                const yq_node *c = &model->nodes[p.order[q]];
                if (strcmp(c->op_type, "Sigmoid") != 0) continue;
                for (int j = 0; j < c->ninputs; j++)
                    if (c->inputs[j] == n->outputs[0]) is_raw = 0;
            }
        } else if (is_rearrangement(n)) {
            int any = 0;
            is_raw = 1;
            for (int j = 0; j < n->ninputs; j++) {
                const int v = n->inputs[j];
                if (v < 0 || p.is_const[v]) continue;
                any = 1;
                if (!raw[v]) is_raw = 0;
            }
            is_raw = is_raw && any;
        }
        for (int j = 0; j < n->noutputs; j++)
            if (n->outputs[j] >= 0) raw[n->outputs[j]] = (unsigned char)is_raw;
    }
    const int nblocks = ncuts - 1;
    for (int bi = 0; bi < nblocks && st == YQ_OK; bi++) {
        const int a = cuts[bi], e = cuts[bi + 1];
        int convs = 0, firstc = -1, lastc = -1;
        for (int k = a; k < e; k++)
            if (node_is_weighted_conv(model, &p, p.order[k])) {
                convs++;
                if (firstc < 0) firstc = p.order[k];
                lastc = p.order[k];
            }
        if (convs == 0) continue;
        /* inputs: crossing at a and consumed inside; outputs: crossing at e and produced inside */
        int nin = 0, nout = 0;
        int *in_ids = NULL, *out_ids = NULL;
        const int c1 = crossing(model, &p, a, ids);
        in_ids = yq_malloc((size_t)(c1 ? c1 : 1) * sizeof(int));
        if (!in_ids) { st = YQ_ERR_NOMEM; break; }
        for (int k = 0; k < c1; k++) {
            int used = 0;
            for (int q = a; q < e && !used; q++) {
                const yq_node *n = &model->nodes[p.order[q]];
                for (int j = 0; j < n->ninputs && !used; j++) used = n->inputs[j] == ids[k];
            }
            if (used) in_ids[nin++] = ids[k];
        }
        const int c2 = crossing(model, &p, e, ids);
        out_ids = yq_malloc((size_t)(c2 ? c2 : 1) * sizeof(int));
        if (!out_ids) { free(in_ids); st = YQ_ERR_NOMEM; break; }
        for (int k = 0; k < c2; k++)
            if (p.first_pos[ids[k]] >= a) out_ids[nout++] = ids[k];
        /* Raw prediction logits (the head's box-distribution and class
         * logits: raw[] below) stay out of the loss: their squared error is
         * dominated by the very negative logits of background anchors, which
         * post-processing never looks at (finetune.h says the same of
         * distillation). A block with nothing else keeps its codes. */
        unsigned char *counted = yq_calloc((size_t)(nout ? nout : 1), 1);
        if (!counted) { free(in_ids), free(out_ids); st = YQ_ERR_NOMEM; break; }
        int ncounted = 0;
        for (int k = 0; k < nout; k++) {
            counted[k] = !raw[out_ids[k]];
            ncounted += counted[k];
        }
        if (ncounted == 0) {
            free(counted), free(in_ids), free(out_ids);
            continue;
        }
        char **ins = NULL, **outs = NULL;
        if ((st = names_of(model, in_ids, nin, &ins)) == YQ_OK && (st = names_of(model, out_ids, nout, &outs)) == YQ_OK) {
            yq_recon_block *rb = &res->blocks[res->nblocks];
            rb->convs = convs, rb->ninputs = nin, rb->noutputs = nout;
            if (!(rb->first = yq_strdup(node_label(model, firstc))) || !(rb->last = yq_strdup(node_label(model, lastc))))
                st = YQ_ERR_NOMEM;
            else
                res->nblocks++;
            if (st == YQ_OK)
                st = reconstruct_block(model, teacher, ins, nin, outs, nout, counted, nimg, w, h, input, input_arg, o,
                                       bi, rb);
            if (st != YQ_OK)
                st = yq_fail_prefix(st, "reconstruct: block %d (%s .. %s)", bi + 1, rb->first ? rb->first : "?",
                                    rb->last ? rb->last : "?");
            else if (o->progress)
                o->progress(o->progress_arg, bi, nblocks, rb->err_before, rb->err_after, rb->kept);
        }
        free(ins), free(outs), free(in_ids), free(out_ids), free(counted);
    }
done:
    free(ids), free(cuts), free(suffix), free(raw);
    plan_free(&p);
    res->seconds = yq_seconds() - t0;
    return st;
}
