#include "rt/qconv_pass.h"

#include <stdlib.h>
#include <string.h>

#include "ir/passes.h"
#include "rt/ops.h"

void yq_qconv_capture_free(yq_qconv_capture *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        free(c->w[i].name);
        free(c->w[i].w);
        free(c->w[i].scale);
    }
    free(c->w);
    free(c);
}

yq_qconv_weight *yq_qconv_capture_find(const yq_qconv_capture *c, const char *name) {
    if (!c || !name) return NULL;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->w[i].name, name)) return &c->w[i];
    return NULL;
}

static int is_op(const yq_node *n, const char *op) { return !n->dead && !n->domain[0] && !strcmp(n->op_type, op); }

static const yq_value *const_input(const yq_graph *g, const yq_node *n, int k) {
    if (k >= n->ninputs || n->inputs[k] < 0) return NULL;
    const yq_value *v = &g->values[n->inputs[k]];
    return v->data ? v : NULL;
}

static int int_code_type(yq_dtype dt) {
    return dt == YQ_DT_INT8 || dt == YQ_DT_UINT8 || dt == YQ_DT_INT4 || dt == YQ_DT_UINT4;
}

/* One Conv weight W = DQ(codes [→ Clip(min, max)], scale, zp): codes, Clip
 * bounds, per-channel scale and zero point all constant; scale per tensor or
 * along axis 0. Fills *e (owned arrays) or returns 0. */
static int capture_one(const yq_graph *g, const int *producer, int wv, yq_qconv_weight *e) {
    if (producer[wv] < 0) return 0;
    const yq_node *dq = &g->nodes[producer[wv]];
    if (!is_op(dq, "DequantizeLinear") || dq->ninputs < 2 || dq->inputs[0] < 0) return 0;
    if (yq_attr_int(dq, "block_size", 0) != 0) return 0;
    int codes_v = dq->inputs[0];
    int64_t cmin = INT64_MIN, cmax = INT64_MAX;
    if (!g->values[codes_v].data) {
        if (producer[codes_v] < 0) return 0;
        const yq_node *clip = &g->nodes[producer[codes_v]];
        if (!is_op(clip, "Clip") || clip->ninputs < 1 || clip->inputs[0] < 0) return 0;
        const yq_value *lo = const_input(g, clip, 1), *hi = const_input(g, clip, 2);
        if ((clip->ninputs > 1 && clip->inputs[1] >= 0 && !lo) || (clip->ninputs > 2 && clip->inputs[2] >= 0 && !hi))
            return 0;
        if ((lo && (!int_code_type(lo->dtype) || yq_value_numel(lo) != 1)) ||
            (hi && (!int_code_type(hi->dtype) || yq_value_numel(hi) != 1)))
            return 0;
        if (lo) cmin = yq_elem_as_int64(lo->dtype, lo->data, 0);
        if (hi) cmax = yq_elem_as_int64(hi->dtype, hi->data, 0);
        codes_v = clip->inputs[0];
    }
    const yq_value *codes = &g->values[codes_v];
    const yq_value *sc = const_input(g, dq, 1), *zp = const_input(g, dq, 2);
    if (!codes->data || !int_code_type(codes->dtype) || codes->rank != 4 || !sc || sc->dtype != YQ_DT_FLOAT) return 0;
    if (dq->ninputs > 2 && dq->inputs[2] >= 0 && (!zp || zp->dtype != codes->dtype)) return 0;
    const int64_t M = codes->dims[0], per = yq_value_numel(codes) / (M > 0 ? M : 1), ns = yq_value_numel(sc);
    if (M < 1 || per < 1) return 0;
    if (ns != 1) {
        int64_t axis = yq_attr_int(dq, "axis", 1);
        if ((axis != 0 && axis != -4) || sc->rank != 1 || ns != M) return 0;
    }
    if (zp && yq_value_numel(zp) != ns) return 0;
    e->w = yq_malloc((size_t)(M * per) * sizeof(int16_t));
    e->scale = yq_malloc((size_t)M * sizeof(float));
    e->name = strdup(g->values[wv].name);
    if (!e->w || !e->scale || !e->name) goto drop;
    int span_ok4 = 1;
    for (int64_t m = 0; m < M; m++) {
        const int64_t si = ns == 1 ? 0 : m;
        const int64_t z = zp ? yq_elem_as_int64(zp->dtype, zp->data, si) : 0;
        e->scale[m] = ((const float *)sc->data)[si];
        int64_t wmin = INT64_MAX, wmax = INT64_MIN;
        for (int64_t i = 0; i < per; i++) {
            int64_t q = yq_elem_as_int64(codes->dtype, codes->data, m * per + i);
            q = q < cmin ? cmin : q > cmax ? cmax : q;
            const int64_t w = q - z;
            if (w < -255 || w > 255) goto drop;
            e->w[m * per + i] = (int16_t)w;
            wmin = w < wmin ? w : wmin;
            wmax = w > wmax ? w : wmax;
        }
        if (wmax - wmin > 15) span_ok4 = 0;
    }
    for (int d = 0; d < 4; d++) e->dims[d] = codes->dims[d];
    e->bits = span_ok4 ? 4 : 8;
    return 1;
drop:
    free(e->w);
    free(e->scale);
    free(e->name);
    memset(e, 0, sizeof *e);
    return 0;
}

yq_status yq_qconv_capture_new(const yq_graph *g, yq_qconv_capture **out) {
    *out = NULL;
    yq_qconv_capture *c = yq_calloc(1, sizeof *c);
    int *producer = yq_malloc(((size_t)g->nvalues + 1) * sizeof(int));
    if (!c || !producer) {
        free(c);
        free(producer);
        return YQ_ERR_NOMEM;
    }
    for (int v = 0; v < g->nvalues; v++) producer[v] = -1;
    int nconv = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) producer[n->outputs[k]] = i;
        nconv += is_op(n, "Conv");
    }
    c->w = yq_calloc((size_t)nconv + 1, sizeof *c->w);
    if (!c->w) {
        free(producer);
        yq_qconv_capture_free(c);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (!is_op(n, "Conv") || n->ninputs < 2 || n->inputs[1] < 0) continue;
        if (!g->values[n->inputs[1]].name || !g->values[n->inputs[1]].name[0]) continue;
        if (yq_qconv_capture_find(c, g->values[n->inputs[1]].name)) continue; /* shared weight */
        if (capture_one(g, producer, n->inputs[1], &c->w[c->n])) c->n++;
    }
    free(producer);
    *out = c;
    return YQ_OK;
}

/* ---- the rewrite ---------------------------------------------------------------- */

static int scalar_const(const yq_graph *g, int v, yq_dtype dt) {
    if (v < 0) return 0;
    const yq_value *x = &g->values[v];
    return x->data && x->dtype == dt && yq_value_numel(x) == 1;
}

/* The live node that produces v, or -1 (producers are rebuilt by the caller). */
static int producer_of(const yq_graph *g, int v) {
    int p = g->values[v].producer;
    return p >= 0 && p < g->nnodes && !g->nodes[p].dead ? p : -1;
}

static int only_consumer(const yq_graph *g, int v) {
    int who = -1, cnt = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] == v) {
                who = i;
                cnt++;
            }
    }
    return cnt == 1 ? who : -1;
}

/* A uint8 per-tensor DQ/Q node's (scale, zero point) inputs: scale float
 * scalar constant, zero point a uint8 scalar constant or absent. */
static int u8_per_tensor_params(const yq_graph *g, const yq_node *n) {
    if (n->ninputs < 2 || !scalar_const(g, n->inputs[1], YQ_DT_FLOAT)) return 0;
    if (n->ninputs > 2 && n->inputs[2] >= 0 && !scalar_const(g, n->inputs[2], YQ_DT_UINT8)) return 0;
    return yq_attr_int(n, "block_size", 0) == 0;
}

static yq_status add_u8_zero(yq_graph *g, int *id) {
    uint8_t z = 0;
    return yq_graph_add_initializer(g, "yq_qconv_zero_u8", YQ_DT_UINT8, 0, NULL, &z, id);
}

/* Turn node n into the internal op `op_type` (domain YQ_RT_DOMAIN) reading
 * in[0..nin); attributes and outputs stay. */
static yq_status retarget(yq_node *n, const char *op_type, int op, const int *in, int nin) {
    int *inputs = yq_malloc((size_t)nin * sizeof(int));
    char *name = strdup(op_type), *dom = strdup(YQ_RT_DOMAIN);
    if (!inputs || !name || !dom) {
        free(inputs), free(name), free(dom);
        return YQ_ERR_NOMEM;
    }
    memcpy(inputs, in, (size_t)nin * sizeof(int));
    free(n->inputs);
    n->inputs = inputs;
    n->ninputs = nin;
    free(n->op_type);
    n->op_type = name;
    free(n->domain);
    n->domain = dom;
    n->op = op;
    return YQ_OK;
}

/* A float-input conv (weight-only quantized, A16): QWConv with the int8
 * codes and per-channel scales in place of the folded float weight, which
 * the caller's compaction then frees. */
static yq_status rewrite_weight_only(yq_graph *g, int ci, yq_qconv_weight *e, int *done) {
    const int64_t M = e->dims[0], n = M * e->dims[1] * e->dims[2] * e->dims[3];
    for (int64_t i = 0; i < n; i++)
        if (e->w[i] < -128 || e->w[i] > 127) {
            e->why_not = "weights minus zero point do not fit int8";
            return YQ_OK;
        }
    if (g->values[g->nodes[ci].inputs[0]].dtype != YQ_DT_FLOAT) {
        e->why_not = "input is not float";
        return YQ_OK;
    }
    int8_t *q = yq_malloc((size_t)(n > 0 ? n : 1));
    if (!q) return YQ_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) q[i] = (int8_t)e->w[i];
    int wq_id, ws_id;
    char base[256];
    snprintf(base, sizeof base, "%.200s.qcodes8", e->name);
    yq_status st = yq_graph_add_initializer(g, base, YQ_DT_INT8, 4, e->dims, q, &wq_id);
    free(q);
    YQ_TRY(st);
    snprintf(base, sizeof base, "%.200s.qscale", e->name);
    YQ_TRY(yq_graph_add_initializer(g, base, YQ_DT_FLOAT, 1, &M, e->scale, &ws_id));
    const yq_node *conv = &g->nodes[ci];
    const int in[4] = {conv->inputs[0], wq_id, conv->ninputs > 2 ? conv->inputs[2] : -1, ws_id};
    YQ_TRY(retarget(&g->nodes[ci], "QWConv", YQ_OP_QWConv, in, 4));
    e->weight_only = 1;
    e->why_not = NULL;
    *done = 1;
    return YQ_OK;
}

/* Try one Conv; returns YQ_OK with *done set, or an error (memory). */
static yq_status rewrite_conv(yq_graph *g, int ci, yq_qconv_capture *cap, int *done) {
    *done = 0;
    yq_node *conv = &g->nodes[ci];
    if (conv->ninputs < 2 || conv->inputs[1] < 0 || conv->noutputs != 1 || conv->outputs[0] < 0) return YQ_OK;
    yq_qconv_weight *e = yq_qconv_capture_find(cap, g->values[conv->inputs[1]].name);
    if (!e) return YQ_OK; /* a float conv */
    const yq_value *wf = &g->values[conv->inputs[1]];
    const int64_t M = e->dims[0], per = e->dims[1] * e->dims[2] * e->dims[3];
    int same = wf->data && wf->dtype == YQ_DT_FLOAT && wf->rank == 4;
    for (int d = 0; same && d < 4; d++) same = wf->dims[d] == e->dims[d];
    /* The folded weight must be exactly DQ of the captured codes. */
    for (int64_t i = 0; same && i < M * per; i++)
        same = ((const float *)wf->data)[i] == (float)e->w[i] * e->scale[i / per];
    if (!same) {
        e->why_not = "weights changed after dequantization (folded into another op)";
        return YQ_OK;
    }
    const char *ap = yq_attr_string(conv, "auto_pad", "NOTSET");
    const yq_value *xv = &g->values[conv->inputs[0]];
    if (strcmp(ap, "NOTSET") != 0 || xv->rank != 4) {
        e->why_not = "not a 2-D conv with explicit pads";
        return YQ_OK;
    }
    int bias = conv->ninputs > 2 ? conv->inputs[2] : -1;
    if (bias >= 0 && (!g->values[bias].data || g->values[bias].dtype != YQ_DT_FLOAT ||
                      yq_value_numel(&g->values[bias]) != M)) {
        e->why_not = "bias is not a float constant";
        return YQ_OK;
    }
    const int dqi = producer_of(g, conv->inputs[0]);
    const yq_node *dq = dqi >= 0 ? &g->nodes[dqi] : NULL;
    if (dq && is_op(dq, "DequantizeLinear") && !(dq->inputs[0] >= 0 && g->values[dq->inputs[0]].dtype == YQ_DT_UINT8 &&
                                                 !g->values[dq->inputs[0]].data && u8_per_tensor_params(g, dq))) {
        e->why_not = "input is not a per-tensor uint8 DequantizeLinear";
        return YQ_OK;
    }
    if (!dq || !is_op(dq, "DequantizeLinear")) return rewrite_weight_only(g, ci, e, done);
    /* Output side: requantize in the epilogue when a per-tensor uint8 Q is the
     * conv's only reader (then nothing else needs the float values). */
    const int y = conv->outputs[0];
    int qi = yq_value_is_graph_output(g, y) ? -1 : only_consumer(g, y);
    yq_node *q = qi >= 0 ? &g->nodes[qi] : NULL;
    if (q && !(is_op(q, "QuantizeLinear") && q->inputs[0] == y && q->noutputs == 1 && q->outputs[0] >= 0 &&
               g->values[q->outputs[0]].dtype == YQ_DT_UINT8 && u8_per_tensor_params(g, q)))
        q = NULL;

    /* New constants: W' and the per-channel weight scale. */
    int wq_id, ws_id, xzp = dq->ninputs > 2 ? dq->inputs[2] : -1, yzp = -1;
    char base[256];
    snprintf(base, sizeof base, "%.200s.qcodes", e->name);
    YQ_TRY(yq_graph_add_initializer(g, base, YQ_DT_INT16, 4, e->dims, e->w, &wq_id));
    snprintf(base, sizeof base, "%.200s.qscale", e->name);
    YQ_TRY(yq_graph_add_initializer(g, base, YQ_DT_FLOAT, 1, &M, e->scale, &ws_id));
    if (xzp < 0) YQ_TRY(add_u8_zero(g, &xzp));
    if (q) {
        yzp = q->ninputs > 2 ? q->inputs[2] : -1;
        if (yzp < 0) YQ_TRY(add_u8_zero(g, &yzp));
    }
    conv = &g->nodes[ci]; /* (nodes are not moved by adding values, but be safe) */
    dq = &g->nodes[dqi];
    const int in[8] = {dq->inputs[0], wq_id, bias, dq->inputs[1], xzp, ws_id, q ? q->inputs[1] : -1, q ? yzp : -1};
    YQ_TRY(retarget(conv, "QConvU8", YQ_OP_QConvU8, in, 8));
    if (q) {
        const int qo = q->outputs[0];
        conv->outputs[0] = qo;
        g->values[qo].producer = ci;
        g->values[y].producer = -1;
        q->dead = 1;
    }
    e->integer = 1;
    e->why_not = NULL;
    *done = 1;
    return YQ_OK;
}

yq_status yq_qconv_pass(yq_graph *g, yq_qconv_capture *cap, int *converted) {
    *converted = 0;
    if (!cap || cap->n == 0) return YQ_OK;
    YQ_TRY(yq_graph_rebuild_producers(g));
    const int nnodes = g->nnodes;
    for (int i = 0; i < nnodes; i++) {
        if (!is_op(&g->nodes[i], "Conv")) continue;
        int done;
        YQ_TRY(rewrite_conv(g, i, cap, &done));
        *converted += done;
    }
    if (*converted) YQ_TRY(yq_pass_remove_dead(g)); /* activation DQs nothing reads any more */
    return YQ_OK;
}
