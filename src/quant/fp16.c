/* Float16 conversion (see fp16.h). One pass over the sorted nodes: a node is
 * either "half" (its float inputs and outputs become float16) or "float"
 * (unchanged); every edge whose two ends disagree gets one Cast, shared by all
 * readers of the same value. Float initializers read only by half nodes are
 * converted in place; ones read by both kinds get a float16 copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/passes.h"
#include "quant/fp16.h"
#include "quant/placement.h"

/* Ops with standard float16 kernels whose float inputs are all of the same
 * type T (Resize: only its data input is T; roi and scales stay float32). */
static const char *const half_ops[] = {
    "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Sigmoid", "Relu", "LeakyRelu",
    "HardSigmoid", "HardSwish", "Tanh", "Softmax", "Concat", "Split", "Slice", "Reshape", "Transpose",
    "Flatten", "Squeeze", "Unsqueeze", "MaxPool", "AveragePool", "GlobalAveragePool", "Resize", "Identity",
    "BatchNormalization", "Clip", "Pad", NULL};

int yq_fp16_op_supported(const char *op_type) {
    for (int i = 0; half_ops[i]; i++)
        if (!strcmp(op_type, half_ops[i])) return 1;
    return 0;
}

/* Does input k of a half node carry the node's float type T? */
static int input_is_T(const yq_node *n, int k) {
    if (!strcmp(n->op_type, "Resize")) return k == 0;
    return 1;
}

typedef struct conv_state {
    yq_graph *g;
    int *to_half;  /* value id -> its float16 twin (Cast output or initializer copy), -1 */
    int *to_float; /* value id -> its float32 twin (Cast output), -1 */
    int nvals;     /* values covered by the two maps (the original ones) */
    yq_fp16_report rep;
} conv_state;

static yq_status new_value_like(yq_graph *g, int src, const char *suffix, yq_dtype dt, int *out) {
    char base[512], *name = NULL;
    snprintf(base, sizeof base, "%s%s", g->values[src].name ? g->values[src].name : "v", suffix);
    YQ_TRY(yq_graph_unique_name(g, base, &name));
    yq_status st = yq_graph_add_value(g, name, out);
    free(name);
    YQ_TRY(st);
    yq_value *s = &g->values[src], *v = &g->values[*out]; /* re-fetch: values may have moved */
    v->dtype = dt;
    v->rank = s->rank;
    for (int d = 0; d < s->rank && d < YQ_MAX_RANK; d++) v->dims[d] = s->dims[d];
    return YQ_OK;
}

static yq_status add_cast(conv_state *cs, int from, int to, yq_dtype dt) {
    yq_graph *g = cs->g;
    char base[512], *name = NULL;
    snprintf(base, sizeof base, "%s_cast_%s", g->values[from].name ? g->values[from].name : "v",
             dt == YQ_DT_FLOAT16 ? "fp16" : "fp32");
    YQ_TRY(yq_graph_unique_name(g, base, &name)); /* node names share the value namespace check */
    int node = -1;
    yq_status st = yq_graph_add_node(g, "Cast", "", name, &from, 1, &to, 1, &node);
    free(name);
    YQ_TRY(st);
    YQ_TRY(yq_node_set_attr_int(&g->nodes[node], "to", (int64_t)dt));
    g->values[to].producer = node;
    cs->rep.casts_added++;
    return YQ_OK;
}

static yq_status float_to_half_data(yq_value *v) {
    int64_t n = yq_value_numel(v);
    uint16_t *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    if (!h) return YQ_ERR_NOMEM;
    const float *f = v->data;
    for (int64_t i = 0; i < n; i++) h[i] = yq_f32_to_f16(f[i]);
    unsigned flags = v->flags;
    yq_value_set_data(v, YQ_DT_FLOAT16, v->rank, v->dims, h, (size_t)n * sizeof *h);
    v->flags = flags;
    return YQ_OK;
}

/* The float16 version of value v, read by a half node. */
static yq_status half_twin(conv_state *cs, int v, int *out) {
    yq_graph *g = cs->g;
    if (g->values[v].dtype == YQ_DT_FLOAT16) { /* converted already (initializer or half producer) */
        *out = v;
        return YQ_OK;
    }
    if (v < cs->nvals && cs->to_half[v] >= 0) {
        *out = cs->to_half[v];
        return YQ_OK;
    }
    int t;
    if (g->values[v].data && (g->values[v].flags & YQ_VAL_INIT)) {
        YQ_TRY(new_value_like(g, v, "_fp16", YQ_DT_FLOAT16, &t));
        yq_value *src = &g->values[v];
        int64_t n = yq_value_numel(src);
        float *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
        if (!copy) return YQ_ERR_NOMEM;
        memcpy(copy, src->data, (size_t)n * sizeof *copy);
        yq_value_set_data(&g->values[t], YQ_DT_FLOAT, src->rank, src->dims, copy, (size_t)n * sizeof *copy);
        g->values[t].flags |= YQ_VAL_INIT;
        YQ_TRY(float_to_half_data(&g->values[t]));
        cs->rep.initializers_half++;
    } else {
        YQ_TRY(new_value_like(g, v, "_fp16", YQ_DT_FLOAT16, &t));
        YQ_TRY(add_cast(cs, v, t, YQ_DT_FLOAT16));
    }
    if (v < cs->nvals) cs->to_half[v] = t;
    *out = t;
    return YQ_OK;
}

static yq_status float_twin(conv_state *cs, int v, int *out) {
    if (v < cs->nvals && cs->to_float[v] >= 0) {
        *out = cs->to_float[v];
        return YQ_OK;
    }
    int t;
    YQ_TRY(new_value_like(cs->g, v, "_fp32", YQ_DT_FLOAT, &t));
    YQ_TRY(add_cast(cs, v, t, YQ_DT_FLOAT));
    if (v < cs->nvals) cs->to_float[v] = t;
    *out = t;
    return YQ_OK;
}

static int is_float_init(const yq_value *v) {
    return v->data && (v->flags & YQ_VAL_INIT) && v->dtype == YQ_DT_FLOAT;
}

static yq_status convert(conv_state *cs, const unsigned *place) {
    yq_graph *g = cs->g;
    const int nnodes = g->nnodes;
    unsigned char *half = calloc((size_t)(nnodes ? nnodes : 1), 1);
    /* per original value: readers that are half / float (for initializers) */
    int *half_readers = calloc((size_t)cs->nvals + 1, sizeof(int));
    int *float_readers = calloc((size_t)cs->nvals + 1, sizeof(int));
    yq_status st = YQ_OK;
    if (!half || !half_readers || !float_readers) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        int decode = (place[i] & (YQ_PLACE_DECODE | YQ_PLACE_DFL)) != 0;
        half[i] = !decode && yq_fp16_op_supported(n->op_type);
        /* a half node needs a float output to be worth it and float inputs of type T */
        int has_float = 0;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0 && g->values[n->outputs[k]].dtype == YQ_DT_FLOAT) has_float = 1;
        if (!has_float) half[i] = 0;
        if (half[i]) cs->rep.nodes_half++;
        else {
            cs->rep.nodes_float++;
            cs->rep.nodes_decode += decode;
        }
        for (int k = 0; k < n->ninputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            if (half[i] && input_is_T(n, k)) half_readers[v]++;
            else float_readers[v]++;
        }
    }
    /* initializers read only as T of half nodes: converted in place */
    for (int v = 0; v < cs->nvals; v++)
        if (is_float_init(&g->values[v]) && half_readers[v] > 0 && float_readers[v] == 0 &&
            !yq_value_is_graph_output(g, v)) {
            if ((st = float_to_half_data(&g->values[v])) != YQ_OK) goto done;
            cs->rep.initializers_half++;
        }
    for (int i = 0; i < nnodes && st == YQ_OK; i++) {
        if (g->nodes[i].dead) continue;
        int nin = g->nodes[i].ninputs, nout = g->nodes[i].noutputs;
        for (int k = 0; k < nin && st == YQ_OK; k++) {
            int v = g->nodes[i].inputs[k], t = v;
            if (v < 0) continue;
            yq_dtype dt = g->values[v].dtype;
            if (half[i] && input_is_T(&g->nodes[i], k) && dt == YQ_DT_FLOAT) st = half_twin(cs, v, &t);
            else if (!(half[i] && input_is_T(&g->nodes[i], k)) && dt == YQ_DT_FLOAT16 && v < cs->nvals &&
                     !is_float_init(&g->values[v]) && g->values[v].producer >= 0 && half[g->values[v].producer])
                st = float_twin(cs, v, &t);
            g->nodes[i].inputs[k] = t; /* re-fetch the node: adding nodes may move the array */
        }
        if (!half[i]) continue;
        for (int k = 0; k < nout && st == YQ_OK; k++) {
            int v = g->nodes[i].outputs[k];
            if (v < 0 || g->values[v].dtype != YQ_DT_FLOAT) continue;
            if (yq_value_is_graph_output(g, v)) {
                /* keep_io_types: the node writes a float16 twin, a Cast restores the output */
                int t;
                if ((st = new_value_like(g, v, "_fp16", YQ_DT_FLOAT16, &t)) != YQ_OK) break;
                g->nodes[i].outputs[k] = t;
                g->values[t].producer = i;
                g->values[v].producer = -1;
                st = add_cast(cs, t, v, YQ_DT_FLOAT);
                /* half readers of v read the twin directly */
                if (st == YQ_OK && v < cs->nvals) cs->to_half[v] = t;
            } else {
                g->values[v].dtype = YQ_DT_FLOAT16;
            }
        }
    }
done:
    free(half);
    free(half_readers);
    free(float_readers);
    return st;
}

yq_status yq_convert_fp16(yq_graph *g, yq_fp16_report *rep) {
    conv_state cs = {.g = g, .nvals = g->nvalues};
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead)
            for (int k = 0; k < g->nodes[i].noutputs; k++) {
                int v = g->nodes[i].outputs[k];
                if (v >= 0 && g->values[v].dtype == YQ_DT_UNDEFINED)
                    return yq_fail(YQ_ERR_INVALID, "%s: float16 conversion needs a prepared graph (value '%s' has no type)",
                                   g->path ? g->path : "model", g->values[v].name);
            }
    unsigned *place = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *place);
    cs.to_half = malloc((size_t)(cs.nvals ? cs.nvals : 1) * sizeof(int));
    cs.to_float = malloc((size_t)(cs.nvals ? cs.nvals : 1) * sizeof(int));
    yq_status st = YQ_OK;
    if (!place || !cs.to_half || !cs.to_float) st = YQ_ERR_NOMEM;
    if (st == YQ_OK) {
        for (int v = 0; v < cs.nvals; v++) cs.to_half[v] = cs.to_float[v] = -1;
        st = yq_quant_default_placement(g, place);
    }
    if (st == YQ_OK) st = convert(&cs, place);
    if (st == YQ_OK) st = yq_graph_rebuild_producers(g);
    if (st == YQ_OK) st = yq_graph_toposort(g);
    if (st == YQ_OK) st = yq_graph_compact(g);
    if (st == YQ_OK) {
        for (int v = 0; v < g->nvalues; v++)
            if (g->values[v].data && (g->values[v].flags & YQ_VAL_INIT)) cs.rep.weight_bytes += (int64_t)g->values[v].nbytes;
        if (rep) *rep = cs.rep;
    }
    free(place);
    free(cs.to_half);
    free(cs.to_float);
    return st;
}
