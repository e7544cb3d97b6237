/* The differentiable QCDQ executor (see train_graph.h). */
#include "grad/train_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "grad/grad.h"
#include "rt/node_eval.h"
#include "rt/prepare.h"

enum {
    TN_CONV,
    TN_SIGMOID,
    TN_MUL,
    TN_ADD,
    TN_CONCAT,
    TN_SPLIT,
    TN_MAXPOOL,
    TN_RESIZE,
    TN_COPY, /* Reshape / Flatten / Squeeze / Unsqueeze / Identity */
    TN_TRANSPOSE,
    TN_MATMUL,
    TN_SOFTMAX,
    TN_FQW, /* weight chain */
    TN_FQA, /* activation Q → DQ */
};

#define TG_CHUNK 65536 /* fixed split of elementwise work: results independent of the thread count */

typedef struct tval {
    int64_t n;
    float *data; /* constant data (borrowed from the graph) or the tape (owned) */
    float *grad; /* owned when needs_grad */
    int is_const, owned, needs_grad;
    int rank;
    int64_t dims[YQ_MAX_RANK];
} tval;

typedef struct aquant {
    int64_t off; /* parameter index (log s/s₀) */
    float s0;
    int32_t zp, qmin, qmax;
    int64_t numel;  /* elements quantized with it per forward (for the LSQ gradient scale) */
    char **names;   /* scale initializers to write (Q's and DQ's) */
    int nnames;
} aquant;

typedef struct tnode {
    int kind;
    int node; /* index in the prepared graph (for messages) */
    int in[YQ_MAX_RANK], nin;
    int out[16], nout;
    /* Conv */
    yq_conv2d_shape cs;
    int64_t bias_off; /* -1: constant / none */
    /* MaxPool */
    yq_pool2d_shape ps;
    int64_t *argmax;
    /* Resize */
    int64_t planes, H, W, OH, OW, *my, *mx;
    /* Add / Mul */
    yq_bcast bc;
    int same_shape;
    /* Concat / Split */
    int64_t outer, inner, *len;
    /* Transpose */
    int rank, perm[YQ_MAX_RANK];
    int64_t tdims[YQ_MAX_RANK];
    /* MatMul */
    int64_t batch, M, K, N;
    int wbatch;
    /* Softmax */
    int64_t rows, cols;
    /* weight fake quantization */
    yq_fq_shape fq;
    int32_t *zp;
    float *s0, *scale, *latent, *dlatent, *dscale;
    float *base; /* soft rounding: floor-side code (minus zp) per weight; NULL: straight-through */
    int64_t u_off, ls_off;
    char *codes_name, *scale_name;
    yq_dtype codes_dtype;
    /* activation fake quantization */
    int aq;
} tnode;

struct yq_tg {
    yq_graph *g;
    yq_pool *pool;
    int nthreads;
    tval *v; /* by value id of g */
    tnode *nodes;
    int nnodes;
    int *inputs, ninputs, *outputs, noutputs;
    aquant *aq;
    int naq;
    int nweights, nbiases;
    int64_t nparams, kind_begin[YQ_TG_NKINDS + 1];
    float *params, *grads;
    /* biases: parameter offset → initializer name */
    char **bias_names;
    int64_t *bias_offs, *bias_n;
    int hard; /* soft rounding: forward with h(V) rounded to 0/1 */
    char summary[512];
};

/* ---- small helpers --------------------------------------------------------- */

static int64_t numel_of(const yq_value *v) {
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++) n *= v->dims[i];
    return n;
}

static const char *node_name(const yq_graph *g, int node) {
    const yq_node *n = &g->nodes[node];
    if (n->name && n->name[0]) return n->name;
    return n->noutputs > 0 && n->outputs[0] >= 0 ? g->values[n->outputs[0]].name : "?";
}

static yq_status node_fail(const yq_graph *g, int node, const char *what) {
    return yq_fail(YQ_ERR_UNSUPPORTED, "train graph: node '%s' (%s): %s", node_name(g, node), g->nodes[node].op_type,
                   what);
}

static int is_op(const yq_node *n, const char *op) { return strcmp(n->op_type, op) == 0 && (!n->domain || !n->domain[0]); }

static int value_const(const yq_graph *g, int id) { return id >= 0 && g->values[id].data != NULL; }

/* Read a constant integer tensor element as int64 (codes, zero points). */
static int64_t int_at(const yq_value *v, int64_t i) {
    switch (v->dtype) {
    case YQ_DT_INT8:
    case YQ_DT_INT4: return ((const int8_t *)v->data)[i];
    case YQ_DT_UINT8:
    case YQ_DT_UINT4: return ((const uint8_t *)v->data)[i];
    case YQ_DT_INT16: return ((const int16_t *)v->data)[i];
    case YQ_DT_UINT16: return ((const uint16_t *)v->data)[i];
    case YQ_DT_INT32: return ((const int32_t *)v->data)[i];
    case YQ_DT_INT64: return ((const int64_t *)v->data)[i];
    default: return 0;
    }
}

static int int_range(yq_dtype dt, int32_t *lo, int32_t *hi) {
    switch (dt) {
    case YQ_DT_INT8: *lo = -128, *hi = 127; return 1;
    case YQ_DT_UINT8: *lo = 0, *hi = 255; return 1;
    case YQ_DT_INT4: *lo = -8, *hi = 7; return 1;
    case YQ_DT_UINT4: *lo = 0, *hi = 15; return 1;
    case YQ_DT_INT16: *lo = -32768, *hi = 32767; return 1;
    case YQ_DT_UINT16: *lo = 0, *hi = 65535; return 1;
    default: return 0;
    }
}

static float *falloc(int64_t n) {
    float *p = yq_aligned_alloc(64, (size_t)(n > 0 ? n : 1) * sizeof(float));
    if (p) memset(p, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
    return p;
}

/* ---- parallel elementwise ---------------------------------------------------- */

typedef struct ew_ctx {
    int op;
    int64_t n;
    const float *a, *b, *c;
    float *y, *y2;
    double *partial;
    float s;
    int32_t zp, qmin, qmax;
} ew_ctx;

enum { EW_SIGMOID, EW_SIGMOID_BWD, EW_ADD, EW_MUL, EW_MUL_BWD, EW_ACC, EW_FQ, EW_FQ_BWD };

static inline float clampf_(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void ew_chunks(void *arg, int64_t cb, int64_t ce, int tid) {
    (void)tid;
    const ew_ctx *c = arg;
    for (int64_t ch = cb; ch < ce; ch++) {
        const int64_t b = ch * TG_CHUNK, e = b + TG_CHUNK < c->n ? b + TG_CHUNK : c->n;
        switch (c->op) {
        case EW_SIGMOID:
            for (int64_t i = b; i < e; i++) c->y[i] = 1.0f / (1.0f + expf(-c->a[i]));
            break;
        case EW_SIGMOID_BWD: /* a = y, b = dy, y = dx */
            for (int64_t i = b; i < e; i++) c->y[i] += c->b[i] * c->a[i] * (1.0f - c->a[i]);
            break;
        case EW_ADD:
            for (int64_t i = b; i < e; i++) c->y[i] = c->a[i] + c->b[i];
            break;
        case EW_MUL:
            for (int64_t i = b; i < e; i++) c->y[i] = c->a[i] * c->b[i];
            break;
        case EW_MUL_BWD: /* a, b inputs, c = dy; y = da, y2 = db */
            if (c->y)
                for (int64_t i = b; i < e; i++) c->y[i] += c->c[i] * c->b[i];
            if (c->y2)
                for (int64_t i = b; i < e; i++) c->y2[i] += c->c[i] * c->a[i];
            break;
        case EW_ACC:
            for (int64_t i = b; i < e; i++) c->y[i] += c->a[i];
            break;
        case EW_FQ: {
            const float z = (float)c->zp, lo = (float)c->qmin, hi = (float)c->qmax;
            for (int64_t i = b; i < e; i++) c->y[i] = (clampf_(nearbyintf(c->a[i] / c->s) + z, lo, hi) - z) * c->s;
            break;
        }
        case EW_FQ_BWD: { /* a = x, b = dy, y = dx (may be NULL), partial[ch] = dL/ds */
            const float z = (float)c->zp, lo = (float)c->qmin, hi = (float)c->qmax;
            double gs = 0;
            for (int64_t i = b; i < e; i++) {
                const float u = c->a[i] / c->s, r = nearbyintf(u), q = r + z, d = c->b[i];
                if (q < lo) gs += (double)d * (lo - z);
                else if (q > hi) gs += (double)d * (hi - z);
                else {
                    if (c->y) c->y[i] += d;
                    gs += (double)d * (r - u);
                }
            }
            c->partial[ch] = gs;
            break;
        }
        }
    }
}

static void ew_run(yq_tg *t, ew_ctx *c) {
    const int64_t chunks = (c->n + TG_CHUNK - 1) / TG_CHUNK;
    yq_parallel_for(t->pool, chunks, 1, ew_chunks, c);
}

/* ---- building ---------------------------------------------------------------- */

void yq_tg_free(yq_tg *t) {
    if (!t) return;
    if (t->v && t->g)
        for (int i = 0; i < t->g->nvalues; i++) {
            if (t->v[i].owned) free(t->v[i].data);
            free(t->v[i].grad);
        }
    free(t->v);
    for (int i = 0; i < t->nnodes; i++) {
        tnode *n = &t->nodes[i];
        free(n->argmax), free(n->my), free(n->mx), free(n->len), free(n->zp), free(n->s0), free(n->scale);
        free(n->latent), free(n->dlatent), free(n->dscale), free(n->base), free(n->codes_name), free(n->scale_name);
    }
    free(t->nodes);
    for (int i = 0; i < t->naq; i++) {
        for (int j = 0; j < t->aq[i].nnames; j++) free(t->aq[i].names[j]);
        free(t->aq[i].names);
    }
    free(t->aq);
    for (int i = 0; i < t->nbiases; i++) free(t->bias_names[i]);
    free(t->bias_names), free(t->bias_offs), free(t->bias_n);
    free(t->inputs), free(t->outputs), free(t->params), free(t->grads);
    yq_pool_free(t->pool);
    yq_graph_free(t->g);
    free(t);
}

static yq_status find_names(const yq_graph *g, const char *const *names, int n, int **ids, const char *what) {
    *ids = yq_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    if (!*ids) return YQ_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        (*ids)[i] = yq_graph_find_value(g, names[i]);
        if ((*ids)[i] < 0) return yq_fail(YQ_ERR_INVALID, "train graph: no tensor named '%s' (%s)", names[i], what);
    }
    return YQ_OK;
}

static yq_status add_aq_name(aquant *a, const char *name) {
    for (int i = 0; i < a->nnames; i++)
        if (strcmp(a->names[i], name) == 0) return YQ_OK;
    char **nn = yq_realloc(a->names, (size_t)(a->nnames + 1) * sizeof(char *));
    if (!nn) return YQ_ERR_NOMEM;
    a->names = nn;
    if (!(a->names[a->nnames] = yq_strdup(name))) return YQ_ERR_NOMEM;
    a->nnames++;
    return YQ_OK;
}

/* Per-kind parameter counters while building. */
typedef struct layout {
    int64_t count[YQ_TG_NKINDS];
} layout;

static yq_status conv_shape(const yq_graph *g, int node, const yq_value *x, const yq_value *w, const yq_value *y,
                            yq_conv2d_shape *s) {
    const yq_node *n = &g->nodes[node];
    if (x->rank != 4 || w->rank != 4 || y->rank != 4) return node_fail(g, node, "only 2-D convolutions are trainable");
    const char *ap = yq_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0) return node_fail(g, node, "auto_pad SAME_* not supported");
    int64_t st[2] = {1, 1}, dl[2] = {1, 1}, pd[4] = {0, 0, 0, 0};
    const int64_t *a;
    if (yq_attr_ints(n, "strides", &a) == 2) st[0] = a[0], st[1] = a[1];
    if (yq_attr_ints(n, "dilations", &a) == 2) dl[0] = a[0], dl[1] = a[1];
    if (yq_attr_ints(n, "pads", &a) == 4) memcpy(pd, a, sizeof pd);
    *s = (yq_conv2d_shape){.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .M = w->dims[0],
                           .kh = w->dims[2], .kw = w->dims[3], .group = yq_attr_int(n, "group", 1),
                           .stride_h = st[0], .stride_w = st[1], .dil_h = dl[0], .dil_w = dl[1], .pad_t = pd[0],
                           .pad_l = pd[1], .pad_b = pd[2], .pad_r = pd[3]};
    if (yq_conv2d_shape_check(s) != YQ_OK || s->OH != y->dims[2] || s->OW != y->dims[3] || s->M != y->dims[1])
        return node_fail(g, node, "inconsistent convolution shapes");
    return YQ_OK;
}

static yq_status resize_map(const yq_graph *g, int node, int64_t in, int64_t out, int64_t *map) {
    const yq_node *n = &g->nodes[node];
    const char *mode = yq_attr_string(n, "mode", "nearest");
    const char *ctm = yq_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = yq_attr_string(n, "nearest_mode", "round_prefer_floor");
    if (strcmp(mode, "nearest") != 0) return node_fail(g, node, "only nearest Resize is trainable");
    if (strcmp(ctm, "half_pixel") == 0 && strcmp(nm, "round_prefer_floor") == 0) {
        yq_resize_nearest_map(in, out, map);
    } else if (strcmp(ctm, "asymmetric") == 0 && strcmp(nm, "floor") == 0) {
        for (int64_t o = 0; o < out; o++) {
            int64_t s = (int64_t)floor((double)o * (double)in / (double)out);
            map[o] = s < 0 ? 0 : s >= in ? in - 1 : s;
        }
    } else {
        return node_fail(g, node, "Resize coordinate/nearest mode not supported");
    }
    return YQ_OK;
}

/* Build one executable node for graph node `ni` (not a Q/DQ/Clip chain). */
static yq_status build_node(yq_tg *t, int ni, const yq_tg_opts *o, layout *lay, tnode *tn) {
    yq_graph *g = t->g;
    const yq_node *n = &g->nodes[ni];
    memset(tn, 0, sizeof *tn);
    tn->node = ni;
    tn->bias_off = -1;
    tn->aq = -1;
    tn->nin = n->ninputs < YQ_MAX_RANK ? n->ninputs : YQ_MAX_RANK;
    for (int i = 0; i < tn->nin; i++) tn->in[i] = n->inputs[i];
    if (n->noutputs > 16) return node_fail(g, ni, "too many outputs");
    tn->nout = n->noutputs;
    for (int i = 0; i < n->noutputs; i++) tn->out[i] = n->outputs[i];
    const yq_value *y = &g->values[n->outputs[0]];
    const yq_value *x = n->ninputs > 0 && n->inputs[0] >= 0 ? &g->values[n->inputs[0]] : NULL;
    if (is_op(n, "Conv")) {
        tn->kind = TN_CONV;
        if (n->ninputs < 2) return node_fail(g, ni, "no weight");
        YQ_TRY(conv_shape(g, ni, x, &g->values[n->inputs[1]], y, &tn->cs));
        if (n->ninputs > 2 && n->inputs[2] >= 0) {
            const yq_value *b = &g->values[n->inputs[2]];
            if (!b->data || b->dtype != YQ_DT_FLOAT) return node_fail(g, ni, "the bias must be a float initializer");
            if (o->train_bias) {
                tn->bias_off = lay->count[YQ_TG_BIAS];
                lay->count[YQ_TG_BIAS] += tn->cs.M;
            }
        }
        tn->nin = n->ninputs < 3 ? n->ninputs : 3;
    } else if (is_op(n, "Sigmoid")) {
        tn->kind = TN_SIGMOID;
    } else if (is_op(n, "Mul") || is_op(n, "Add")) {
        tn->kind = is_op(n, "Mul") ? TN_MUL : TN_ADD;
        const yq_value *a = &g->values[n->inputs[0]], *b = &g->values[n->inputs[1]];
        if (yq_bcast_init(&tn->bc, a->rank, a->dims, b->rank, b->dims) != YQ_OK)
            return node_fail(g, ni, "incompatible broadcast");
        tn->same_shape = tn->bc.na == tn->bc.n && tn->bc.nb == tn->bc.n;
    } else if (is_op(n, "Concat") || is_op(n, "Split")) {
        const int concat = is_op(n, "Concat");
        tn->kind = concat ? TN_CONCAT : TN_SPLIT;
        const yq_value *whole = concat ? y : x;
        int64_t axis = yq_attr_int(n, "axis", concat ? 1 : 0);
        if (axis < 0) axis += whole->rank;
        if (axis < 0 || axis >= whole->rank) return node_fail(g, ni, "bad axis");
        tn->outer = 1, tn->inner = 1;
        for (int i = 0; i < axis; i++) tn->outer *= whole->dims[i];
        for (int i = (int)axis + 1; i < whole->rank; i++) tn->inner *= whole->dims[i];
        const int parts = concat ? n->ninputs : n->noutputs;
        if (!(tn->len = yq_calloc((size_t)parts, sizeof(int64_t)))) return YQ_ERR_NOMEM;
        for (int i = 0; i < parts; i++) {
            const int id = concat ? n->inputs[i] : n->outputs[i];
            if (id < 0) return node_fail(g, ni, "omitted part");
            tn->len[i] = g->values[id].dims[axis];
        }
        if (concat) {
            if (parts > YQ_MAX_RANK) return node_fail(g, ni, "too many inputs");
            tn->nin = parts;
        } else {
            tn->nin = 1;
        }
    } else if (is_op(n, "MaxPool")) {
        tn->kind = TN_MAXPOOL;
        if (x->rank != 4 || (n->noutputs > 1 && n->outputs[1] >= 0)) return node_fail(g, ni, "only 2-D MaxPool with one output");
        if (yq_attr_int(n, "ceil_mode", 0)) return node_fail(g, ni, "ceil_mode not supported");
        const int64_t *k, *a;
        if (yq_attr_ints(n, "kernel_shape", &k) != 2) return node_fail(g, ni, "kernel_shape");
        yq_pool2d_shape *ps = &tn->ps;
        *ps = (yq_pool2d_shape){.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .kh = k[0],
                                .kw = k[1], .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
        if (yq_attr_ints(n, "strides", &a) == 2) ps->stride_h = a[0], ps->stride_w = a[1];
        if (yq_attr_ints(n, "dilations", &a) == 2) ps->dil_h = a[0], ps->dil_w = a[1];
        if (yq_attr_ints(n, "pads", &a) == 4) ps->pad_t = a[0], ps->pad_l = a[1], ps->pad_b = a[2], ps->pad_r = a[3];
        if (yq_pool2d_shape_check(ps) != YQ_OK || ps->OH != y->dims[2] || ps->OW != y->dims[3])
            return node_fail(g, ni, "inconsistent pooling shapes");
        if (!(tn->argmax = yq_calloc((size_t)(ps->N * ps->C * ps->OH * ps->OW), sizeof(int64_t)))) return YQ_ERR_NOMEM;
        tn->nin = 1;
        tn->nout = 1;
    } else if (is_op(n, "Resize")) {
        tn->kind = TN_RESIZE;
        if (x->rank != 4 || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1])
            return node_fail(g, ni, "only spatial 2-D Resize");
        tn->planes = x->dims[0] * x->dims[1], tn->H = x->dims[2], tn->W = x->dims[3], tn->OH = y->dims[2],
        tn->OW = y->dims[3];
        if (!(tn->my = yq_calloc((size_t)tn->OH, sizeof(int64_t))) || !(tn->mx = yq_calloc((size_t)tn->OW, sizeof(int64_t))))
            return YQ_ERR_NOMEM;
        YQ_TRY(resize_map(g, ni, tn->H, tn->OH, tn->my));
        YQ_TRY(resize_map(g, ni, tn->W, tn->OW, tn->mx));
        tn->nin = 1;
    } else if (is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") || is_op(n, "Unsqueeze") ||
               is_op(n, "Identity")) {
        tn->kind = TN_COPY;
        tn->nin = 1;
    } else if (is_op(n, "Transpose")) {
        tn->kind = TN_TRANSPOSE;
        tn->rank = x->rank;
        const int64_t *p;
        const int np = yq_attr_ints(n, "perm", &p);
        for (int i = 0; i < x->rank; i++) {
            tn->perm[i] = np == x->rank ? (int)p[i] : x->rank - 1 - i;
            tn->tdims[i] = x->dims[i];
        }
    } else if (is_op(n, "MatMul")) {
        tn->kind = TN_MATMUL;
        const yq_value *a = x, *b = &g->values[n->inputs[1]];
        if (a->rank < 2 || b->rank < 2) return node_fail(g, ni, "MatMul operands must be at least 2-D");
        tn->M = a->dims[a->rank - 2], tn->K = a->dims[a->rank - 1], tn->N = b->dims[b->rank - 1];
        int64_t ba = 1, bb = 1;
        for (int i = 0; i < a->rank - 2; i++) ba *= a->dims[i];
        for (int i = 0; i < b->rank - 2; i++) bb *= b->dims[i];
        if (b->dims[b->rank - 2] != tn->K || (bb != 1 && bb != ba) || (bb == ba && b->rank != a->rank && bb != 1))
            return node_fail(g, ni, "MatMul batch broadcasting not supported");
        tn->batch = ba;
        tn->wbatch = bb != 1 || b->rank > 2;
        if (bb == 1) tn->wbatch = 0;
    } else if (is_op(n, "Softmax")) {
        tn->kind = TN_SOFTMAX;
        int64_t axis = yq_attr_int(n, "axis", yq_graph_opset(g, "") >= 13 ? -1 : 1);
        if (axis < 0) axis += x->rank;
        if (axis != x->rank - 1) return node_fail(g, ni, "Softmax only over the last axis");
        tn->cols = x->dims[x->rank - 1];
        tn->rows = numel_of(x) / (tn->cols > 0 ? tn->cols : 1);
    } else {
        return node_fail(g, ni, "operator not supported by the differentiable executor");
    }
    return YQ_OK;
}

/* DequantizeLinear `ni` over constant codes (optionally through a Clip with
 * constant bounds): a trainable weight chain. Returns 1 when it is one. */
static int weight_chain(const yq_graph *g, int ni, int *clip_node) {
    const yq_node *n = &g->nodes[ni];
    if (!is_op(n, "DequantizeLinear") || n->ninputs < 2) return 0;
    int src = n->inputs[0];
    *clip_node = -1;
    if (!value_const(g, src)) {
        const int p = g->values[src].producer;
        if (p < 0 || !is_op(&g->nodes[p], "Clip")) return 0;
        const yq_node *c = &g->nodes[p];
        if (!value_const(g, c->inputs[0])) return 0;
        for (int i = 1; i < c->ninputs; i++)
            if (c->inputs[i] >= 0 && !value_const(g, c->inputs[i])) return 0;
        *clip_node = p;
        src = c->inputs[0];
    }
    int32_t lo, hi;
    return int_range(g->values[src].dtype, &lo, &hi);
}

static yq_status build_fqw(yq_tg *t, int ni, int clip, layout *lay, tnode *tn) {
    yq_graph *g = t->g;
    const yq_node *n = &g->nodes[ni];
    memset(tn, 0, sizeof *tn);
    tn->kind = TN_FQW;
    tn->node = ni;
    tn->bias_off = -1;
    tn->aq = -1;
    tn->nout = 1;
    tn->out[0] = n->outputs[0];
    const yq_value *codes = &g->values[clip >= 0 ? g->nodes[clip].inputs[0] : n->inputs[0]];
    const yq_value *sc = &g->values[n->inputs[1]];
    const yq_value *zpv = n->ninputs > 2 && n->inputs[2] >= 0 ? &g->values[n->inputs[2]] : NULL;
    if (!sc->data || sc->dtype != YQ_DT_FLOAT) return node_fail(g, ni, "weight scale must be a float initializer");
    if (zpv && !zpv->data) return node_fail(g, ni, "weight zero point must be an initializer");
    if (yq_node_attr(n, "block_size") && yq_attr_int(n, "block_size", 0) != 0)
        return node_fail(g, ni, "blocked weight scales are not trainable");
    int32_t lo, hi;
    int_range(codes->dtype, &lo, &hi);
    if (clip >= 0) {
        const yq_node *c = &g->nodes[clip];
        if (c->ninputs > 1 && c->inputs[1] >= 0) lo = (int32_t)int_at(&g->values[c->inputs[1]], 0);
        if (c->ninputs > 2 && c->inputs[2] >= 0) hi = (int32_t)int_at(&g->values[c->inputs[2]], 0);
    }
    const int64_t nw = numel_of(codes), nch = numel_of(sc);
    int64_t axis = yq_attr_int(n, "axis", 1);
    if (axis < 0) axis += codes->rank;
    int64_t outer = 1, inner = 1;
    if (nch > 1) {
        if (axis < 0 || axis >= codes->rank || codes->dims[axis] != nch) return node_fail(g, ni, "scale/axis mismatch");
        for (int i = 0; i < axis; i++) outer *= codes->dims[i];
        for (int i = (int)axis + 1; i < codes->rank; i++) inner *= codes->dims[i];
    } else {
        inner = nw;
    }
    tn->fq = (yq_fq_shape){outer, nch, inner, lo, hi};
    tn->codes_dtype = codes->dtype;
    if (!(tn->zp = yq_calloc((size_t)nch, sizeof(int32_t))) || !(tn->s0 = falloc(nch)) || !(tn->scale = falloc(nch)) ||
        !(tn->dscale = falloc(nch)) || !(tn->latent = falloc(nw)) || !(tn->dlatent = falloc(nw)) ||
        !(tn->codes_name = yq_strdup(codes->name)) || !(tn->scale_name = yq_strdup(sc->name)))
        return YQ_ERR_NOMEM;
    for (int64_t c = 0; c < nch; c++) {
        tn->s0[c] = ((const float *)sc->data)[c];
        tn->zp[c] = zpv ? (int32_t)int_at(zpv, c) : 0;
        if (!(tn->s0[c] > 0) || !isfinite(tn->s0[c])) return node_fail(g, ni, "non-positive weight scale");
    }
    tn->u_off = lay->count[YQ_TG_WEIGHT];
    lay->count[YQ_TG_WEIGHT] += nw;
    tn->ls_off = lay->count[YQ_TG_WSCALE];
    lay->count[YQ_TG_WSCALE] += nch;
    /* codes kept in in[0] as the constant value id, for initialisation */
    tn->in[0] = clip >= 0 ? g->nodes[clip].inputs[0] : n->inputs[0];
    tn->nin = 0;
    return YQ_OK;
}

/* Soft rounding of one weight chain (axis-0 channels): the float weights W of
 * the float graph's Conv with the same name as the chain's consumer; each
 * weight chooses between its current code c and the neighbour towards W/s
 * (c − 1 when the code lies above it, else c + 1), as AdaRound chooses between
 * floor and ceil, but starting from the PTQ (e.g. GPTQ) codes:
 * base = min(c, neighbour) − zp, and h(V) starts leaning towards c. */
static yq_status soft_round_init(yq_tg *t, tnode *tn, const yq_graph *fl) {
    const yq_graph *g = t->g;
    int conv = -1;
    for (int i = 0; i < g->nnodes && conv < 0; i++) {
        const yq_node *n = &g->nodes[i];
        if (!n->dead && is_op(n, "Conv") && n->ninputs > 1 && n->inputs[1] == tn->out[0]) conv = i;
    }
    if (conv < 0) return YQ_OK; /* not a conv weight: stays straight-through */
    const char *name = g->nodes[conv].name;
    const yq_value *wf = NULL;
    for (int i = 0; name && name[0] && i < fl->nnodes && !wf; i++) {
        const yq_node *n = &fl->nodes[i];
        if (!n->dead && is_op(n, "Conv") && n->name && strcmp(n->name, name) == 0 && n->ninputs > 1 && n->inputs[1] >= 0)
            wf = &fl->values[n->inputs[1]];
    }
    const int64_t nw = tn->fq.nch * tn->fq.inner;
    if (!wf || !wf->data || wf->dtype != YQ_DT_FLOAT || numel_of(wf) != nw)
        return node_fail(g, conv, "soft rounding: the float model has no conv of this name with float weights of "
                                  "the same size");
    if (!(tn->base = falloc(nw))) return YQ_ERR_NOMEM;
    const float *w = wf->data;
    for (int64_t c = 0; c < tn->fq.nch; c++)
        for (int64_t k = 0; k < tn->fq.inner; k++) {
            const int64_t i = c * tn->fq.inner + k;
            const float q = t->params[tn->u_off + i]; /* code − zp */
            const float r = w[i] / tn->s0[c];
            int up; /* 1: the code is the upper of the pair */
            float lo = q;
            if (r < q) lo = q - 1.0f, up = 1;
            else up = 0;
            /* the pair must stay on the grid */
            if (lo + (float)tn->zp[c] < (float)tn->fq.qmin) lo = q, up = 0;
            if (lo + 1.0f + (float)tn->zp[c] > (float)tn->fq.qmax) lo = q - 1.0f, up = 1;
            tn->base[i] = lo;
            t->params[tn->u_off + i] = yq_adaround_v_init(up ? 0.75f : 0.25f);
        }
    return YQ_OK;
}

void yq_tg_set_hard_rounding(yq_tg *t, int hard) { t->hard = hard; }

yq_status yq_tg_new(const yq_graph *src, const yq_tg_opts *o, yq_tg **out) {
    *out = NULL;
    if (!o || o->noutputs < 1) return yq_fail(YQ_ERR_ARG, "train graph: no outputs named");
    yq_tg *t = yq_calloc(1, sizeof *t);
    if (!t) return YQ_ERR_NOMEM;
    yq_status st = yq_graph_clone(src, &t->g);
    if (st != YQ_OK) goto fail;
    yq_graph *g = t->g;
    /* The requested outputs become the graph outputs, so preparation drops
     * everything after the cut. */
    {
        int *ids = NULL;
        if ((st = find_names(g, o->outputs, o->noutputs, &ids, "output")) != YQ_OK) {
            free(ids);
            goto fail;
        }
        st = yq_graph_set_outputs(g, ids, o->noutputs);
        free(ids);
        if (st != YQ_OK) goto fail;
    }
    st = yq_pool_new(o->nthreads, &t->pool);
    if (st != YQ_OK) goto fail;
    t->nthreads = yq_pool_size(t->pool);
    yq_prepare_opts po = {.fold_constants = 0, .fuse = 0, .keep_constant_ops = 0};
    if ((st = yq_prepare_graph(g, t->pool, &po)) != YQ_OK) goto fail;
    if ((st = find_names(g, o->outputs, o->noutputs, &t->outputs, "output")) != YQ_OK) goto fail;
    t->noutputs = o->noutputs;
    if (o->inputs && o->ninputs > 0) {
        if ((st = find_names(g, o->inputs, o->ninputs, &t->inputs, "input")) != YQ_OK) goto fail;
        t->ninputs = o->ninputs;
    } else {
        if (!(t->inputs = yq_calloc((size_t)(g->ninputs ? g->ninputs : 1), sizeof(int)))) { st = YQ_ERR_NOMEM; goto fail; }
        memcpy(t->inputs, g->inputs, (size_t)g->ninputs * sizeof(int));
        t->ninputs = g->ninputs;
    }
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i].rank < 0) { st = yq_fail(YQ_ERR_INVALID, "train graph: shape of '%s' unknown", g->values[i].name); goto fail; }

    /* Needed nodes: walk back from the outputs, stopping at inputs and constants. */
    char *need = yq_calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    char *isin = yq_calloc((size_t)g->nvalues, 1);
    char *skip = yq_calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    int *fqa_of = yq_malloc((size_t)(g->nnodes ? g->nnodes : 1) * sizeof(int));
    int *stack = yq_malloc((size_t)(g->nvalues + 1) * sizeof(int));
    if (!need || !isin || !skip || !fqa_of || !stack) {
        free(need), free(isin), free(skip), free(fqa_of), free(stack);
        st = YQ_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < t->ninputs; i++) isin[t->inputs[i]] = 1;
    {
        int sp = 0;
        char *seen = yq_calloc((size_t)g->nvalues, 1);
        if (!seen) st = YQ_ERR_NOMEM;
        for (int i = 0; i < t->noutputs && seen; i++) stack[sp++] = t->outputs[i], seen[t->outputs[i]] = 1;
        while (st == YQ_OK && sp > 0) {
            const int v = stack[--sp];
            if (isin[v] || g->values[v].data) continue;
            const int p = g->values[v].producer;
            if (p < 0) { st = yq_fail(YQ_ERR_INVALID, "train graph: '%s' is neither computed nor an input", g->values[v].name); break; }
            need[p] = 1;
            for (int k = 0; k < g->nodes[p].ninputs; k++) {
                const int u = g->nodes[p].inputs[k];
                if (u >= 0 && !seen[u]) seen[u] = 1, stack[sp++] = u;
            }
        }
        free(seen);
    }
    free(stack);
    layout lay = {{0}};
    int nq = 0;
    for (int i = 0; i < g->nnodes; i++) fqa_of[i] = -1;
    /* Classify: weight chains, activation Q → DQ pairs. */
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!need[i]) continue;
        const yq_node *n = &g->nodes[i];
        int clip;
        if (weight_chain(g, i, &clip)) {
            if (clip >= 0) skip[clip] = 1;
            continue;
        }
        if (is_op(n, "DequantizeLinear")) {
            int allc = 1; /* an INT32 bias (s_in·s_w): a constant, evaluated once below */
            for (int k = 0; k < n->ninputs; k++)
                if (n->inputs[k] >= 0 && !value_const(g, n->inputs[k])) allc = 0;
            if (allc) continue;
            const int p = g->values[n->inputs[0]].producer;
            if (p < 0 || !is_op(&g->nodes[p], "QuantizeLinear")) { st = node_fail(g, i, "DequantizeLinear of something other than a QuantizeLinear or constant codes"); break; }
            const yq_node *q = &g->nodes[p];
            const yq_value *s = &g->values[q->inputs[1]];
            const yq_value *z = q->ninputs > 2 && q->inputs[2] >= 0 ? &g->values[q->inputs[2]] : NULL;
            if (!s->data || numel_of(s) != 1 || (z && (!z->data || numel_of(z) != 1)))
                { st = node_fail(g, p, "only per-tensor constant activation quantizers are trainable"); break; }
            const float sv = ((const float *)s->data)[0];
            const int32_t zv = z ? (int32_t)int_at(z, 0) : 0;
            int32_t lo, hi;
            if (!int_range(z ? z->dtype : YQ_DT_UINT8, &lo, &hi)) { st = node_fail(g, p, "quantized type"); break; }
            if (!(sv > 0)) { st = node_fail(g, p, "non-positive scale"); break; }
            /* share with an existing quantizer of bitwise equal parameters */
            int a = -1;
            for (int k = 0; k < t->naq; k++)
                if (memcmp(&t->aq[k].s0, &sv, sizeof sv) == 0 && t->aq[k].zp == zv && t->aq[k].qmin == lo &&
                    t->aq[k].qmax == hi) { a = k; break; }
            if (a < 0) {
                aquant *na = yq_realloc(t->aq, (size_t)(t->naq + 1) * sizeof(aquant));
                if (!na) { st = YQ_ERR_NOMEM; break; }
                t->aq = na;
                a = t->naq++;
                t->aq[a] = (aquant){.off = lay.count[YQ_TG_ASCALE]++, .s0 = sv, .zp = zv, .qmin = lo, .qmax = hi};
            }
            t->aq[a].numel += numel_of(&g->values[q->inputs[0]]);
            if ((st = add_aq_name(&t->aq[a], s->name)) != YQ_OK) break;
            if ((st = add_aq_name(&t->aq[a], g->values[n->inputs[1]].name)) != YQ_OK) break;
            fqa_of[i] = a;
            skip[p] = 1;
            nq++;
        }
    }
    /* Q nodes must feed only DequantizeLinear nodes. */
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!need[i] || is_op(&g->nodes[i], "QuantizeLinear")) continue;
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            const int u = g->nodes[i].inputs[k];
            const int p = u >= 0 ? g->values[u].producer : -1;
            if (p >= 0 && is_op(&g->nodes[p], "QuantizeLinear") && !is_op(&g->nodes[i], "DequantizeLinear"))
                st = node_fail(g, i, "reads a quantized (integer) tensor");
        }
    }
    /* All-constant nodes (shape arithmetic, int32 biases...) are evaluated once. */
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!need[i] || skip[i]) continue;
        int clip;
        if (weight_chain(g, i, &clip) || fqa_of[i] >= 0) continue;
        int allc = 1;
        for (int k = 0; k < g->nodes[i].ninputs; k++)
            if (g->nodes[i].inputs[k] >= 0 && !value_const(g, g->nodes[i].inputs[k])) allc = 0;
        if (allc) {
            st = yq_node_eval(g, i, t->pool);
            skip[i] = 1;
        }
    }
    /* Executable nodes in topological order. */
    if (st == YQ_OK && !(t->nodes = yq_calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof(tnode)))) st = YQ_ERR_NOMEM;
    for (int i = 0; i < g->nnodes && st == YQ_OK; i++) {
        if (!need[i] || skip[i]) continue;
        tnode *tn = &t->nodes[t->nnodes];
        int clip;
        if (weight_chain(g, i, &clip)) {
            st = build_fqw(t, i, clip, &lay, tn);
            t->nweights++;
        } else if (fqa_of[i] >= 0) {
            memset(tn, 0, sizeof *tn);
            tn->kind = TN_FQA;
            tn->node = i;
            tn->bias_off = -1;
            tn->aq = fqa_of[i];
            tn->nin = 1;
            tn->in[0] = g->nodes[g->values[g->nodes[i].inputs[0]].producer].inputs[0];
            tn->nout = 1;
            tn->out[0] = g->nodes[i].outputs[0];
        } else {
            st = build_node(t, i, o, &lay, tn);
            if (st == YQ_OK && tn->bias_off >= 0) t->nbiases++;
        }
        if (st == YQ_OK) t->nnodes++;
    }
    free(need), free(isin), free(skip), free(fqa_of);
    if (st != YQ_OK) goto fail;
    (void)nq;

    /* Parameter layout by kind. */
    t->kind_begin[0] = 0;
    for (int k = 0; k < YQ_TG_NKINDS; k++) t->kind_begin[k + 1] = t->kind_begin[k] + lay.count[k];
    t->nparams = t->kind_begin[YQ_TG_NKINDS];
    if (!(t->params = falloc(t->nparams)) || !(t->grads = falloc(t->nparams))) { st = YQ_ERR_NOMEM; goto fail; }
    if (t->nbiases && (!(t->bias_names = yq_calloc((size_t)t->nbiases, sizeof(char *))) ||
                       !(t->bias_offs = yq_calloc((size_t)t->nbiases, sizeof(int64_t))) ||
                       !(t->bias_n = yq_calloc((size_t)t->nbiases, sizeof(int64_t))))) { st = YQ_ERR_NOMEM; goto fail; }
    for (int a = 0; a < t->naq; a++) t->aq[a].off += t->kind_begin[YQ_TG_ASCALE];
    int nb = 0;
    for (int i = 0; i < t->nnodes; i++) {
        tnode *tn = &t->nodes[i];
        if (tn->kind == TN_FQW) {
            tn->u_off += t->kind_begin[YQ_TG_WEIGHT];
            tn->ls_off += t->kind_begin[YQ_TG_WSCALE];
            const yq_value *codes = &g->values[tn->in[0]];
            const int64_t per = tn->fq.inner;
            for (int64_t o2 = 0; o2 < tn->fq.outer; o2++)
                for (int64_t c = 0; c < tn->fq.nch; c++)
                    for (int64_t k = 0; k < per; k++) {
                        const int64_t idx = (o2 * tn->fq.nch + c) * per + k;
                        t->params[tn->u_off + idx] = (float)(int_at(codes, idx) - tn->zp[c]);
                    }
            if (o->soft_round_from && tn->fq.outer == 1 && (st = soft_round_init(t, tn, o->soft_round_from)) != YQ_OK)
                goto fail;
        } else if (tn->kind == TN_CONV && tn->bias_off >= 0) {
            tn->bias_off += t->kind_begin[YQ_TG_BIAS];
            const yq_value *b = &g->values[g->nodes[tn->node].inputs[2]];
            memcpy(t->params + tn->bias_off, b->data, (size_t)tn->cs.M * sizeof(float));
            if (!(t->bias_names[nb] = yq_strdup(b->name))) { st = YQ_ERR_NOMEM; goto fail; }
            t->bias_offs[nb] = tn->bias_off;
            t->bias_n[nb] = tn->cs.M;
            nb++;
        }
    }

    /* Values: constants borrow the graph's data; computed ones get a tape slot. */
    if (!(t->v = yq_calloc((size_t)g->nvalues, sizeof(tval)))) { st = YQ_ERR_NOMEM; goto fail; }
    for (int i = 0; i < g->nvalues; i++) {
        tval *tv = &t->v[i];
        const yq_value *v = &g->values[i];
        tv->rank = v->rank;
        memcpy(tv->dims, v->dims, sizeof tv->dims);
        tv->n = numel_of(v);
        if (v->data) {
            tv->is_const = 1;
            if (v->dtype == YQ_DT_FLOAT) tv->data = v->data;
        }
    }
    for (int i = 0; i < t->ninputs; i++) {
        tval *tv = &t->v[t->inputs[i]];
        if (tv->is_const) { st = yq_fail(YQ_ERR_INVALID, "train graph: input '%s' is a constant", g->values[t->inputs[i]].name); goto fail; }
        if (!(tv->data = falloc(tv->n))) { st = YQ_ERR_NOMEM; goto fail; }
        tv->owned = 1;
    }
    for (int i = 0; i < t->nnodes; i++) {
        tnode *tn = &t->nodes[i];
        int ng = tn->kind == TN_FQW || tn->kind == TN_FQA;
        for (int k = 0; k < tn->nin; k++)
            if (tn->in[k] >= 0 && t->v[tn->in[k]].needs_grad) ng = 1;
        if (tn->kind == TN_CONV && tn->bias_off >= 0) ng = 1;
        for (int k = 0; k < tn->nout; k++) {
            const int id = tn->out[k];
            if (id < 0) continue;
            tval *tv = &t->v[id];
            if (g->values[id].dtype != YQ_DT_FLOAT) { st = node_fail(g, tn->node, "non-float output"); goto fail; }
            if (!(tv->data = falloc(tv->n))) { st = YQ_ERR_NOMEM; goto fail; }
            tv->owned = 1;
            tv->needs_grad = ng;
            if (ng && !(tv->grad = falloc(tv->n))) { st = YQ_ERR_NOMEM; goto fail; }
        }
        if (tn->kind != TN_FQW)
            for (int k = 0; k < tn->nin; k++)
                if (tn->in[k] >= 0 && !t->v[tn->in[k]].data && !(tn->kind == TN_CONV && k == 2) &&
                    !(tn->kind == TN_COPY || tn->kind == TN_RESIZE || tn->kind == TN_SOFTMAX || tn->kind == TN_SIGMOID))
                    { st = node_fail(g, tn->node, "non-float constant input"); goto fail; }
        if (tn->kind == TN_CONV && tn->nin > 2 && tn->in[2] >= 0 && tn->bias_off < 0 && !t->v[tn->in[2]].data)
            { st = node_fail(g, tn->node, "bias"); goto fail; }
    }
    for (int i = 0; i < t->noutputs; i++)
        if (!t->v[t->outputs[i]].data) { st = yq_fail(YQ_ERR_INVALID, "train graph: output '%s' is not computed", g->values[t->outputs[i]].name); goto fail; }

    /* Summary of executed op types. */
    {
        const char *types[64];
        int counts[64], nt = 0;
        for (int i = 0; i < t->nnodes; i++) {
            const char *ty = t->nodes[i].kind == TN_FQW ? "weight-fakequant"
                             : t->nodes[i].kind == TN_FQA ? "act-fakequant"
                                                          : g->nodes[t->nodes[i].node].op_type;
            int k = 0;
            while (k < nt && strcmp(types[k], ty) != 0) k++;
            if (k == nt && nt < 64) types[nt] = ty, counts[nt++] = 0;
            if (k < nt) counts[k]++;
        }
        size_t off = 0;
        for (int k = 0; k < nt && off < sizeof t->summary; k++)
            off += (size_t)snprintf(t->summary + off, sizeof t->summary - off, "%s%s %d", k ? ", " : "", types[k], counts[k]);
    }
    *out = t;
    return YQ_OK;
fail:
    yq_tg_free(t);
    return st;
}

/* ---- accessors ------------------------------------------------------------------ */

int yq_tg_ninputs(const yq_tg *t) { return t->ninputs; }
int yq_tg_noutputs(const yq_tg *t) { return t->noutputs; }
int64_t yq_tg_input_numel(const yq_tg *t, int i) { return t->v[t->inputs[i]].n; }
int64_t yq_tg_output_numel(const yq_tg *t, int i) { return t->v[t->outputs[i]].n; }
int yq_tg_output_shape(const yq_tg *t, int i, int64_t *dims) {
    const tval *v = &t->v[t->outputs[i]];
    memcpy(dims, v->dims, (size_t)v->rank * sizeof(int64_t));
    return v->rank;
}
const char *yq_tg_op_summary(const yq_tg *t) { return t->summary; }
int64_t yq_tg_nparams(const yq_tg *t) { return t->nparams; }
float *yq_tg_params(yq_tg *t) { return t->params; }
float *yq_tg_grads(yq_tg *t) { return t->grads; }
void yq_tg_kind_range(const yq_tg *t, yq_tg_kind k, int64_t *begin, int64_t *end) {
    *begin = t->kind_begin[k];
    *end = t->kind_begin[k + 1];
}
void yq_tg_counts(const yq_tg *t, int *weights, int *act_quantizers, int *biases) {
    if (weights) *weights = t->nweights;
    if (act_quantizers) *act_quantizers = t->naq;
    if (biases) *biases = t->nbiases;
}
const float *yq_tg_output(const yq_tg *t, int i) { return t->v[t->outputs[i]].data; }
const float *yq_tg_tensor(const yq_tg *t, const char *name, int64_t *numel) {
    const int id = yq_graph_find_value(t->g, name);
    if (id < 0 || t->v[id].is_const || !t->v[id].data) return NULL;
    if (numel) *numel = t->v[id].n;
    return t->v[id].data;
}
void yq_tg_zero_grad(yq_tg *t) { memset(t->grads, 0, (size_t)t->nparams * sizeof(float)); }

/* ---- forward ------------------------------------------------------------------------ */

static float aq_scale(const yq_tg *t, const aquant *a) { return a->s0 * expf(t->params[a->off]); }

static yq_status forward_node(yq_tg *t, tnode *tn) {
    tval *V = t->v;
    float *y = V[tn->out[0]].data;
    const float *x = tn->nin > 0 && tn->in[0] >= 0 ? V[tn->in[0]].data : NULL;
    switch (tn->kind) {
    case TN_FQW: {
        const int64_t nw = tn->fq.outer * tn->fq.nch * tn->fq.inner;
        if (tn->base) {
            const yq_adaround_shape as = {tn->fq.nch, tn->fq.inner, 1, tn->fq.qmin, tn->fq.qmax};
            const float *V = t->params + tn->u_off;
            if (!t->hard) {
                yq_grad_adaround_forward(&as, tn->base, V, tn->s0, tn->zp, y);
            } else {
                for (int64_t c = 0; c < tn->fq.nch; c++)
                    for (int64_t k = 0; k < tn->fq.inner; k++) {
                        const int64_t i = c * tn->fq.inner + k;
                        const float q = clampf_(tn->base[i] + (V[i] >= 0 ? 1.0f : 0.0f) + (float)tn->zp[c],
                                                (float)tn->fq.qmin, (float)tn->fq.qmax);
                        y[i] = tn->s0[c] * (q - (float)tn->zp[c]);
                    }
            }
            return YQ_OK;
        }
        for (int64_t o = 0; o < tn->fq.outer; o++)
            for (int64_t c = 0; c < tn->fq.nch; c++) {
                const int64_t b = (o * tn->fq.nch + c) * tn->fq.inner;
                for (int64_t k = 0; k < tn->fq.inner; k++) tn->latent[b + k] = t->params[tn->u_off + b + k] * tn->s0[c];
            }
        for (int64_t c = 0; c < tn->fq.nch; c++) tn->scale[c] = tn->s0[c] * expf(t->params[tn->ls_off + c]);
        (void)nw;
        yq_grad_fakequant_forward(&tn->fq, tn->latent, tn->scale, tn->zp, y);
        return YQ_OK;
    }
    case TN_FQA: {
        const aquant *a = &t->aq[tn->aq];
        ew_ctx c = {.op = EW_FQ, .n = V[tn->out[0]].n, .a = x, .y = y, .s = aq_scale(t, a), .zp = a->zp,
                    .qmin = a->qmin, .qmax = a->qmax};
        ew_run(t, &c);
        return YQ_OK;
    }
    case TN_CONV: {
        const float *w = V[tn->in[1]].data;
        const float *b = tn->bias_off >= 0 ? t->params + tn->bias_off
                         : tn->nin > 2 && tn->in[2] >= 0 ? V[tn->in[2]].data
                                                         : NULL;
        yq_conv2d_plan *plan = NULL;
        YQ_TRY(yq_conv2d_plan_new(&tn->cs, w, b, YQ_ACT_NONE, t->nthreads, &plan));
        yq_status st = yq_conv2d_run(plan, t->pool, x, y, NULL);
        yq_conv2d_plan_free(plan);
        return st;
    }
    case TN_SIGMOID: {
        ew_ctx c = {.op = EW_SIGMOID, .n = V[tn->out[0]].n, .a = x, .y = y};
        ew_run(t, &c);
        return YQ_OK;
    }
    case TN_ADD:
    case TN_MUL: {
        const float *b = V[tn->in[1]].data;
        if (tn->same_shape) {
            ew_ctx c = {.op = tn->kind == TN_ADD ? EW_ADD : EW_MUL, .n = tn->bc.n, .a = x, .b = b, .y = y};
            ew_run(t, &c);
        } else if (tn->kind == TN_ADD) {
            yq_grad_add_forward(&tn->bc, x, b, y);
        } else {
            yq_grad_mul_forward(&tn->bc, x, b, y);
        }
        return YQ_OK;
    }
    case TN_CONCAT: {
        const float *xs[YQ_MAX_RANK];
        for (int i = 0; i < tn->nin; i++) xs[i] = V[tn->in[i]].data;
        yq_grad_concat_forward(tn->nin, xs, tn->len, tn->outer, tn->inner, y);
        return YQ_OK;
    }
    case TN_SPLIT: {
        float *ys[16];
        for (int i = 0; i < tn->nout; i++) ys[i] = V[tn->out[i]].data;
        yq_grad_split_forward(tn->nout, x, tn->len, tn->outer, tn->inner, ys);
        return YQ_OK;
    }
    case TN_MAXPOOL: yq_grad_maxpool2d_forward(&tn->ps, x, y, tn->argmax); return YQ_OK;
    case TN_RESIZE:
        yq_grad_resize_nearest_forward(tn->planes, tn->H, tn->W, tn->OH, tn->OW, tn->my, tn->mx, x, y);
        return YQ_OK;
    case TN_COPY: memcpy(y, x, (size_t)V[tn->out[0]].n * sizeof(float)); return YQ_OK;
    case TN_TRANSPOSE: yq_grad_transpose_forward(tn->rank, tn->tdims, tn->perm, x, y); return YQ_OK;
    case TN_MATMUL: return yq_grad_matmul_forward(tn->batch, tn->M, tn->K, tn->N, x, V[tn->in[1]].data, tn->wbatch, y);
    case TN_SOFTMAX: yq_grad_softmax_forward(tn->rows, tn->cols, x, y); return YQ_OK;
    }
    return yq_fail(YQ_ERR_INTERNAL, "train graph: unknown node kind");
}

yq_status yq_tg_forward(yq_tg *t, const float *const *inputs) {
    for (int i = 0; i < t->ninputs; i++) {
        tval *tv = &t->v[t->inputs[i]];
        memcpy(tv->data, inputs[i], (size_t)tv->n * sizeof(float));
    }
    for (int i = 0; i < t->nnodes; i++) {
        yq_status st = forward_node(t, &t->nodes[i]);
        if (st != YQ_OK)
            return yq_fail_prefix(st, "train graph: node '%s'", node_name(t->g, t->nodes[i].node));
    }
    return YQ_OK;
}

/* ---- backward ------------------------------------------------------------------------ */

static float *gradp(yq_tg *t, int id) { return id >= 0 && t->v[id].needs_grad ? t->v[id].grad : NULL; }

static yq_status backward_node(yq_tg *t, tnode *tn) {
    tval *V = t->v;
    const float *dy = V[tn->out[0]].grad;
    const float *x = tn->nin > 0 && tn->in[0] >= 0 ? V[tn->in[0]].data : NULL;
    float *dx = tn->nin > 0 ? gradp(t, tn->in[0]) : NULL;
    switch (tn->kind) {
    case TN_FQW: {
        const int64_t nw = tn->fq.outer * tn->fq.nch * tn->fq.inner;
        if (tn->base) {
            const yq_adaround_shape as = {tn->fq.nch, tn->fq.inner, 1, tn->fq.qmin, tn->fq.qmax};
            yq_grad_adaround_backward(&as, tn->base, t->params + tn->u_off, tn->s0, tn->zp, dy, t->grads + tn->u_off);
            return YQ_OK;
        }
        memset(tn->dlatent, 0, (size_t)nw * sizeof(float));
        memset(tn->dscale, 0, (size_t)tn->fq.nch * sizeof(float));
        yq_grad_fakequant_backward(&tn->fq, tn->latent, tn->scale, tn->zp, dy, tn->dlatent, tn->dscale);
        const float gs = 1.0f / sqrtf((float)(tn->fq.outer * tn->fq.inner) * (float)tn->fq.qmax);
        for (int64_t o = 0; o < tn->fq.outer; o++)
            for (int64_t c = 0; c < tn->fq.nch; c++) {
                const int64_t b = (o * tn->fq.nch + c) * tn->fq.inner;
                for (int64_t k = 0; k < tn->fq.inner; k++) t->grads[tn->u_off + b + k] += tn->dlatent[b + k] * tn->s0[c];
            }
        for (int64_t c = 0; c < tn->fq.nch; c++) t->grads[tn->ls_off + c] += tn->dscale[c] * tn->scale[c] * gs;
        return YQ_OK;
    }
    case TN_FQA: {
        aquant *a = &t->aq[tn->aq];
        const int64_t n = V[tn->out[0]].n, chunks = (n + TG_CHUNK - 1) / TG_CHUNK;
        double *part = yq_calloc((size_t)(chunks ? chunks : 1), sizeof(double));
        if (!part) return YQ_ERR_NOMEM;
        const float s = aq_scale(t, a);
        ew_ctx c = {.op = EW_FQ_BWD, .n = n, .a = x, .b = dy, .y = dx, .partial = part, .s = s, .zp = a->zp,
                    .qmin = a->qmin, .qmax = a->qmax};
        ew_run(t, &c);
        double gsum = 0;
        for (int64_t k = 0; k < chunks; k++) gsum += part[k];
        free(part);
        const double gs = 1.0 / sqrt((double)a->numel * (double)a->qmax);
        t->grads[a->off] += (float)(gsum * s * gs);
        return YQ_OK;
    }
    case TN_CONV: {
        const float *w = V[tn->in[1]].data;
        float *dw = gradp(t, tn->in[1]);
        float *db = tn->bias_off >= 0 ? t->grads + tn->bias_off : NULL;
        return yq_grad_conv2d_backward_fast(t->pool, &tn->cs, x, w, dy, dx, dw, db);
    }
    case TN_SIGMOID:
        if (dx) {
            ew_ctx c = {.op = EW_SIGMOID_BWD, .n = V[tn->out[0]].n, .a = V[tn->out[0]].data, .b = dy, .y = dx};
            ew_run(t, &c);
        }
        return YQ_OK;
    case TN_ADD:
    case TN_MUL: {
        const float *b = V[tn->in[1]].data;
        float *db = gradp(t, tn->in[1]);
        if (tn->same_shape) {
            if (tn->kind == TN_ADD) {
                ew_ctx c = {.op = EW_ACC, .n = tn->bc.n, .a = dy};
                if (dx) c.y = dx, ew_run(t, &c);
                if (db) c.y = db, ew_run(t, &c);
            } else if (dx || db) {
                ew_ctx c = {.op = EW_MUL_BWD, .n = tn->bc.n, .a = x, .b = b, .c = dy, .y = dx, .y2 = db};
                ew_run(t, &c);
            }
        } else if (tn->kind == TN_ADD) {
            yq_grad_add_backward(&tn->bc, dy, dx, db);
        } else {
            yq_grad_mul_backward(&tn->bc, x, b, dy, dx, db);
        }
        return YQ_OK;
    }
    case TN_CONCAT: {
        float *dxs[YQ_MAX_RANK];
        int any = 0;
        for (int i = 0; i < tn->nin; i++) {
            dxs[i] = gradp(t, tn->in[i]);
            any |= dxs[i] != NULL;
        }
        if (!any) return YQ_OK;
        /* parts without a gradient get a scratch buffer */
        float *scratch[YQ_MAX_RANK] = {0};
        for (int i = 0; i < tn->nin; i++)
            if (!dxs[i]) {
                if (!(scratch[i] = falloc(V[tn->in[i]].n))) {
                    for (int k = 0; k < i; k++) free(scratch[k]);
                    return YQ_ERR_NOMEM;
                }
                dxs[i] = scratch[i];
            }
        yq_grad_concat_backward(tn->nin, dy, tn->len, tn->outer, tn->inner, dxs);
        for (int i = 0; i < tn->nin; i++) free(scratch[i]);
        return YQ_OK;
    }
    case TN_SPLIT: {
        if (!dx) return YQ_OK;
        const float *dys[16];
        for (int i = 0; i < tn->nout; i++) dys[i] = V[tn->out[i]].grad;
        yq_grad_split_backward(tn->nout, dys, tn->len, tn->outer, tn->inner, dx);
        return YQ_OK;
    }
    case TN_MAXPOOL:
        if (dx) yq_grad_maxpool2d_backward(&tn->ps, tn->argmax, dy, dx);
        return YQ_OK;
    case TN_RESIZE:
        if (dx) yq_grad_resize_nearest_backward(tn->planes, tn->H, tn->W, tn->OH, tn->OW, tn->my, tn->mx, dy, dx);
        return YQ_OK;
    case TN_COPY:
        if (dx) {
            ew_ctx c = {.op = EW_ACC, .n = V[tn->out[0]].n, .a = dy, .y = dx};
            ew_run(t, &c);
        }
        return YQ_OK;
    case TN_TRANSPOSE:
        if (dx) yq_grad_transpose_backward(tn->rank, tn->tdims, tn->perm, dy, dx);
        return YQ_OK;
    case TN_MATMUL:
        return yq_grad_matmul_backward(tn->batch, tn->M, tn->K, tn->N, x, V[tn->in[1]].data, tn->wbatch, dy, dx,
                                       gradp(t, tn->in[1]));
    case TN_SOFTMAX:
        if (dx) yq_grad_softmax_backward(tn->rows, tn->cols, V[tn->out[0]].data, dy, dx);
        return YQ_OK;
    }
    return yq_fail(YQ_ERR_INTERNAL, "train graph: unknown node kind");
}

yq_status yq_tg_backward(yq_tg *t, const float *const *doutputs) {
    for (int i = 0; i < t->g->nvalues; i++)
        if (t->v[i].grad) memset(t->v[i].grad, 0, (size_t)t->v[i].n * sizeof(float));
    for (int i = 0; i < t->noutputs; i++) {
        tval *tv = &t->v[t->outputs[i]];
        if (!doutputs[i] || !tv->grad) continue;
        for (int64_t k = 0; k < tv->n; k++) tv->grad[k] += doutputs[i][k];
    }
    for (int i = t->nnodes - 1; i >= 0; i--) {
        tnode *tn = &t->nodes[i];
        if (!t->v[tn->out[0]].needs_grad) continue;
        yq_status st = backward_node(t, tn);
        if (st != YQ_OK) return yq_fail_prefix(st, "train graph: backward of '%s'", node_name(t->g, tn->node));
    }
    return YQ_OK;
}

/* ---- export ----------------------------------------------------------------------------- */

static yq_status dst_value(yq_graph *dst, const char *name, int64_t n, yq_dtype dt, yq_value **out) {
    const int id = yq_graph_find_value(dst, name);
    if (id < 0 || !dst->values[id].data)
        return yq_fail(YQ_ERR_INVALID, "export: the model has no initializer '%s'", name);
    yq_value *v = &dst->values[id];
    if (numel_of(v) != n || v->dtype != dt)
        return yq_fail(YQ_ERR_INVALID, "export: initializer '%s' does not match the trained model", name);
    *out = v;
    return YQ_OK;
}

yq_status yq_tg_export(const yq_tg *t, const float *params, yq_graph *dst) {
    for (int i = 0; i < t->nnodes; i++) {
        const tnode *tn = &t->nodes[i];
        if (tn->kind != TN_FQW) continue;
        const int64_t nch = tn->fq.nch, per = tn->fq.inner, nw = tn->fq.outer * nch * per;
        yq_value *codes, *scale;
        YQ_TRY(dst_value(dst, tn->codes_name, nw, tn->codes_dtype, &codes));
        YQ_TRY(dst_value(dst, tn->scale_name, nch, YQ_DT_FLOAT, &scale));
        float *sc = (float *)scale->data;
        for (int64_t c = 0; c < nch; c++) sc[c] = tn->s0[c] * expf(params[tn->ls_off + c]);
        for (int64_t o = 0; o < tn->fq.outer; o++)
            for (int64_t c = 0; c < nch; c++) {
                const float z = (float)tn->zp[c];
                for (int64_t k = 0; k < per; k++) {
                    const int64_t idx = (o * nch + c) * per + k;
                    const float w = params[tn->u_off + idx] * tn->s0[c];
                    const int32_t q =
                        tn->base ? (int32_t)clampf_(tn->base[idx] + (params[tn->u_off + idx] >= 0 ? 1.0f : 0.0f) + z,
                                                    (float)tn->fq.qmin, (float)tn->fq.qmax)
                                 : (int32_t)clampf_(nearbyintf(w / sc[c]) + z, (float)tn->fq.qmin, (float)tn->fq.qmax);
                    if (tn->codes_dtype == YQ_DT_UINT8 || tn->codes_dtype == YQ_DT_UINT4) ((uint8_t *)codes->data)[idx] = (uint8_t)q;
                    else if (tn->codes_dtype == YQ_DT_INT16) ((int16_t *)codes->data)[idx] = (int16_t)q;
                    else if (tn->codes_dtype == YQ_DT_UINT16) ((uint16_t *)codes->data)[idx] = (uint16_t)q;
                    else ((int8_t *)codes->data)[idx] = (int8_t)q;
                }
            }
    }
    for (int a = 0; a < t->naq; a++) {
        const float s = t->aq[a].s0 * expf(params[t->aq[a].off]);
        for (int k = 0; k < t->aq[a].nnames; k++) {
            yq_value *v;
            YQ_TRY(dst_value(dst, t->aq[a].names[k], 1, YQ_DT_FLOAT, &v));
            ((float *)v->data)[0] = s;
        }
    }
    for (int b = 0; b < t->nbiases; b++) {
        yq_value *v;
        YQ_TRY(dst_value(dst, t->bias_names[b], t->bias_n[b], YQ_DT_FLOAT, &v));
        memcpy(v->data, params + t->bias_offs[b], (size_t)t->bias_n[b] * sizeof(float));
    }
    return YQ_OK;
}
