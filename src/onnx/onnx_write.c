/* Graph IR -> ModelProto.
 *
 * The protobuf-c structs built here mostly borrow: names, arrays and tensor
 * bytes point into the IR, unmodelled parts point into g->source. Everything
 * the writer allocates itself goes into one arena, freed after packing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"

#define WRITER_LABEL "ONNX writer"

typedef struct arena {
    void **blocks;
    size_t n, cap;
} arena;

/* Register a malloc'd block to be freed with the arena (frees it on failure). */
static void *arena_keep(arena *a, void *p) {
    if (!p) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void **b = realloc(a->blocks, cap * sizeof *b);
        if (!b) {
            free(p);
            yq_fail(YQ_ERR_NOMEM, "out of memory building the ONNX model");
            return NULL;
        }
        a->blocks = b;
        a->cap = cap;
    }
    a->blocks[a->n++] = p;
    return p;
}

static void *arena_alloc(arena *a, size_t count, size_t size) { return arena_keep(a, yq_calloc(count, size)); }

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->n; i++) free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

typedef struct writer {
    const yq_graph *g;
    const Onnx__ModelProto *src; /* the file's ModelProto (unmodelled fields), or NULL */
    arena ar;
    ProtobufCMessage **unpacked; /* opaque attributes unpacked for the model */
    size_t nunpacked, cap_unpacked;
    unsigned char *referenced; /* per value: read by a live node, subgraph or graph output */
    unsigned char *defined;    /* per value: available at the current point of the node list */
    int four_bit;              /* the model holds INT4/UINT4 tensors */
} writer;

static const char *node_label(const yq_node *n, int index, char *buf, size_t size) {
    if (n->name && n->name[0])
        snprintf(buf, size, "'%.200s' (%.100s)", n->name, n->op_type);
    else
        snprintf(buf, size, "#%d (%.100s)", index, n->op_type);
    return buf;
}

/* ---- value types --------------------------------------------------------------------- */

static const Onnx__ValueInfoProto *find_info(Onnx__ValueInfoProto *const *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (list[i]->name && strcmp(list[i]->name, name) == 0) return list[i];
    return NULL;
}

/* ValueInfo for v from the IR; when the IR knows nothing of its type, the
 * file's entry (fallback) provides it (e.g. sequence types yoloq does not model). */
static Onnx__ValueInfoProto *make_value_info(writer *w, const yq_value *v, const Onnx__ValueInfoProto *fallback) {
    Onnx__ValueInfoProto *vi = arena_alloc(&w->ar, 1, sizeof *vi);
    if (!vi) return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = v->name;
    vi->doc_string = v->doc_string;
    if (v->dtype == YQ_DT_UNDEFINED && v->rank < 0) {
        if (fallback) vi->type = fallback->type;
        return vi;
    }
    if (yq_dtype_file_bits(v->dtype) == 4) w->four_bit = 1;
    Onnx__TypeProto *type = arena_alloc(&w->ar, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tt = arena_alloc(&w->ar, 1, sizeof *tt);
    if (!type || !tt) return NULL;
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    vi->type = type;
    if (v->dtype != YQ_DT_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->dtype;
    }
    if (v->rank >= 0) {
        int rank = v->rank > YQ_MAX_RANK ? YQ_MAX_RANK : v->rank;
        Onnx__TensorShapeProto *shape = arena_alloc(&w->ar, 1, sizeof *shape);
        Onnx__TensorShapeProto__Dimension **dimp = arena_alloc(&w->ar, (size_t)rank + 1, sizeof *dimp);
        Onnx__TensorShapeProto__Dimension *dims = arena_alloc(&w->ar, (size_t)rank + 1, sizeof *dims);
        if (!shape || !dimp || !dims) return NULL;
        onnx__tensor_shape_proto__init(shape);
        for (int d = 0; d < rank; d++) {
            onnx__tensor_shape_proto__dimension__init(&dims[d]);
            if (v->dim_params[d] && v->dim_params[d][0]) {
                dims[d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dims[d].dim_param = v->dim_params[d];
            } else if (v->dims[d] >= 0) {
                dims[d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dims[d].dim_value = v->dims[d];
            } /* else: an unknown dim, neither value nor name */
            dimp[d] = &dims[d];
        }
        shape->n_dim = (size_t)rank;
        shape->dim = dimp;
        tt->shape = shape;
    }
    return vi;
}

/* ---- subgraph references ------------------------------------------------------------------- */

static void mark_graph_refs(writer *w, const Onnx__GraphProto *gp);

static void mark_attr_refs(writer *w, const Onnx__AttributeProto *ap) {
    if (ap->g) mark_graph_refs(w, ap->g);
    for (size_t i = 0; i < ap->n_graphs; i++) mark_graph_refs(w, ap->graphs[i]);
}

/* Values of the outer graph that a subgraph reads by name must be kept
 * (initializers only referenced from a Loop/If body, for instance). */
static void mark_graph_refs(writer *w, const Onnx__GraphProto *gp) {
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        for (size_t k = 0; k < np->n_input; k++) {
            int id = np->input[k] ? yq_graph_find_value(w->g, np->input[k]) : -1;
            if (id >= 0) w->referenced[id] = 1;
        }
        for (size_t k = 0; k < np->n_attribute; k++) mark_attr_refs(w, np->attribute[k]);
    }
}

/* ---- nodes ------------------------------------------------------------------------------------ */

static yq_status keep_unpacked(writer *w, ProtobufCMessage *m) {
    if (w->nunpacked == w->cap_unpacked) {
        size_t cap = w->cap_unpacked ? w->cap_unpacked * 2 : 16;
        ProtobufCMessage **u = yq_realloc(w->unpacked, cap * sizeof *u);
        if (!u) {
            protobuf_c_message_free_unpacked(m, NULL);
            return YQ_ERR_NOMEM;
        }
        w->unpacked = u;
        w->cap_unpacked = cap;
    }
    w->unpacked[w->nunpacked++] = m;
    return YQ_OK;
}

static yq_status make_attr(writer *w, const yq_node *n, int index, const yq_attr *a, Onnx__AttributeProto **out) {
    char label[384];
    if (a->opaque) {
        Onnx__AttributeProto *ap = onnx__attribute_proto__unpack(NULL, a->opaque_len, a->opaque);
        if (!ap)
            return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": attribute '%s' of node %s holds unreadable bytes", a->name,
                           node_label(n, index, label, sizeof label));
        YQ_TRY(keep_unpacked(w, &ap->base));
        mark_attr_refs(w, ap);
        *out = ap;
        return YQ_OK;
    }
    Onnx__AttributeProto *ap = arena_alloc(&w->ar, 1, sizeof *ap);
    if (!ap) return YQ_ERR_NOMEM;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case YQ_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case YQ_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case YQ_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = a->s ? a->slen : 0;
        break;
    case YQ_ATTR_TENSOR: {
        if (!a->t)
            return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": attribute '%s' of node %s is a TENSOR without a tensor",
                           a->name, node_label(n, index, label, sizeof label));
        Onnx__TensorProto *tp = arena_alloc(&w->ar, 1, sizeof *tp);
        if (!tp) return YQ_ERR_NOMEM;
        onnx__tensor_proto__init(tp);
        char what[512];
        snprintf(what, sizeof what, "attribute '%.100s' of node %.300s", a->name,
                 node_label(n, index, label, sizeof label));
        uint8_t *scratch = NULL;
        YQ_TRY(yq_onnx_tensor_encode(a->t, (size_t)-1, NULL, tp, &scratch, WRITER_LABEL, what));
        if (scratch && !arena_keep(&w->ar, scratch)) return YQ_ERR_NOMEM;
        if (yq_dtype_file_bits(a->t->dtype) == 4) w->four_bit = 1;
        ap->t = tp;
        break;
    }
    case YQ_ATTR_FLOATS:
        ap->n_floats = a->floats ? (size_t)a->n : 0;
        ap->floats = a->floats;
        break;
    case YQ_ATTR_INTS:
        ap->n_ints = a->ints ? (size_t)a->n : 0;
        ap->ints = a->ints;
        break;
    case YQ_ATTR_STRINGS: {
        size_t cnt = a->strings ? (size_t)a->n : 0;
        ProtobufCBinaryData *s = arena_alloc(&w->ar, cnt + 1, sizeof *s);
        if (!s) return YQ_ERR_NOMEM;
        for (size_t k = 0; k < cnt; k++) {
            s[k].data = (uint8_t *)(a->strings[k] ? a->strings[k] : "");
            s[k].len = strlen((const char *)s[k].data);
        }
        ap->n_strings = cnt;
        ap->strings = s;
        break;
    }
    default:
        return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": attribute '%s' of node %s has type %d but no contents",
                       a->name, node_label(n, index, label, sizeof label), (int)a->type);
    }
    *out = ap;
    return YQ_OK;
}

/* The name a node uses for value id ("" for an omitted optional one). */
static yq_status value_ref(writer *w, int id, const yq_node *n, int index, char **out) {
    char label[384];
    if (id < 0) {
        *out = "";
        return YQ_OK;
    }
    if (id >= w->g->nvalues)
        return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": node %s refers to value #%d, beyond the %d values", 
                       node_label(n, index, label, sizeof label), id, w->g->nvalues);
    const char *name = w->g->values[id].name;
    if (!name || !name[0])
        return yq_fail(YQ_ERR_INVALID, WRITER_LABEL ": node %s uses value #%d, which has no name",
                       node_label(n, index, label, sizeof label), id);
    *out = (char *)name;
    return YQ_OK;
}

static yq_status make_nodes(writer *w, Onnx__GraphProto *gp) {
    const yq_graph *g = w->g;
    size_t live = 0;
    for (int i = 0; i < g->nnodes; i++) live += !g->nodes[i].dead;
    Onnx__NodeProto **list = arena_alloc(&w->ar, live + 1, sizeof *list);
    Onnx__NodeProto *nodes = arena_alloc(&w->ar, live + 1, sizeof *nodes);
    if (!list || !nodes) return YQ_ERR_NOMEM;
    size_t out = 0;
    char label[384];
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        if (!n->op_type || !n->op_type[0])
            return yq_fail(YQ_ERR_INVALID, WRITER_LABEL ": node #%d has no op_type", i);
        Onnx__NodeProto *np = &nodes[out];
        onnx__node_proto__init(np);
        np->name = n->name && n->name[0] ? n->name : NULL;
        np->op_type = n->op_type;
        np->domain = n->domain && n->domain[0] ? n->domain : NULL;
        np->doc_string = n->doc_string;
        np->input = arena_alloc(&w->ar, (size_t)n->ninputs + 1, sizeof(char *));
        np->output = arena_alloc(&w->ar, (size_t)n->noutputs + 1, sizeof(char *));
        np->attribute = arena_alloc(&w->ar, (size_t)n->nattrs + 1, sizeof(Onnx__AttributeProto *));
        if (!np->input || !np->output || !np->attribute) return YQ_ERR_NOMEM;
        np->n_input = (size_t)n->ninputs;
        np->n_output = (size_t)n->noutputs;
        for (int k = 0; k < n->ninputs; k++) {
            int id = n->inputs[k];
            YQ_TRY(value_ref(w, id, n, i, &np->input[k]));
            if (id < 0) continue;
            if (!w->defined[id])
                return yq_fail(YQ_ERR_INVALID,
                               WRITER_LABEL ": node %s reads '%s' before any node produces it (the nodes are not in "
                               "topological order, or nothing produces it)",
                               node_label(n, i, label, sizeof label), g->values[id].name);
            w->referenced[id] = 1;
        }
        for (int k = 0; k < n->noutputs; k++) {
            int id = n->outputs[k];
            YQ_TRY(value_ref(w, id, n, i, &np->output[k]));
            if (id >= 0) w->defined[id] = 1;
        }
        for (int k = 0; k < n->nattrs; k++) YQ_TRY(make_attr(w, n, i, &n->attrs[k], &np->attribute[k]));
        np->n_attribute = (size_t)n->nattrs;
        list[out++] = np;
    }
    gp->node = list;
    gp->n_node = out;
    return YQ_OK;
}

/* ---- initializers ------------------------------------------------------------------------------ */

static yq_status make_initializers(writer *w, Onnx__GraphProto *gp) {
    const yq_graph *g = w->g;
    size_t count = 0;
    for (int v = 0; v < g->nvalues; v++) count += (g->values[v].flags & YQ_VAL_INIT) && w->referenced[v];
    Onnx__TensorProto **list = arena_alloc(&w->ar, count + 1, sizeof *list);
    Onnx__TensorProto *tensors = arena_alloc(&w->ar, count + 1, sizeof *tensors);
    if (!list || !tensors) return YQ_ERR_NOMEM;
    size_t out = 0;
    for (int id = 0; id < g->nvalues; id++) {
        const yq_value *v = &g->values[id];
        if (!(v->flags & YQ_VAL_INIT) || !w->referenced[id]) continue;
        char what[256];
        snprintf(what, sizeof what, "initializer '%.200s'", v->name);
        if (!v->name || !v->name[0])
            return yq_fail(YQ_ERR_INVALID, WRITER_LABEL ": initializer (value #%d) has no name", id);
        if (v->rank < 0)
            return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": %s has unknown rank", what);
        Onnx__TensorProto *tp = &tensors[out];
        onnx__tensor_proto__init(tp);
        yq_tensor t = yq_value_tensor(v);
        uint8_t *scratch = NULL;
        YQ_TRY(yq_onnx_tensor_encode(&t, v->nbytes, v->name, tp, &scratch, WRITER_LABEL, what));
        if (scratch && !arena_keep(&w->ar, scratch)) return YQ_ERR_NOMEM;
        /* encode pointed dims at the local copy t: point them at the value instead */
        tp->dims = (int64_t *)v->dims;
        tp->doc_string = v->doc_string;
        if (yq_dtype_file_bits(v->dtype) == 4) w->four_bit = 1;
        list[out++] = tp;
    }
    gp->initializer = list;
    gp->n_initializer = out;
    return YQ_OK;
}

/* ---- graph inputs, outputs, value_info ------------------------------------------------------------ */

static yq_status make_io(writer *w, Onnx__GraphProto *gp) {
    const yq_graph *g = w->g;
    const Onnx__GraphProto *sg = w->src ? w->src->graph : NULL;
    /* IR < 4: initializers must also be listed as graph inputs */
    size_t extra = g->ir_version < 4 ? gp->n_initializer : 0;
    gp->input = arena_alloc(&w->ar, (size_t)g->ninputs + extra + 1, sizeof *gp->input);
    gp->output = arena_alloc(&w->ar, (size_t)g->noutputs + 1, sizeof *gp->output);
    if (!gp->input || !gp->output) return YQ_ERR_NOMEM;
    for (int i = 0; i < g->ninputs; i++) {
        int id = g->inputs[i];
        if (id < 0 || id >= g->nvalues || !g->values[id].name[0])
            return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": graph input %d is not a named value", i);
        const yq_value *v = &g->values[id];
        const Onnx__ValueInfoProto *fb = sg ? find_info(sg->input, sg->n_input, v->name) : NULL;
        if (!(gp->input[gp->n_input++] = make_value_info(w, v, fb))) return YQ_ERR_NOMEM;
    }
    for (size_t i = 0; i < extra; i++) {
        int id = yq_graph_find_value(g, gp->initializer[i]->name);
        if (!(gp->input[gp->n_input++] = make_value_info(w, &g->values[id], NULL))) return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < g->noutputs; i++) {
        int id = g->outputs[i];
        if (id < 0 || id >= g->nvalues || !g->values[id].name[0])
            return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": graph output %d is not a named value", i);
        const yq_value *v = &g->values[id];
        if (!w->defined[id])
            return yq_fail(YQ_ERR_INVALID, WRITER_LABEL ": graph output '%s' is not produced by any node", v->name);
        const Onnx__ValueInfoProto *fb = sg ? find_info(sg->output, sg->n_output, v->name) : NULL;
        if (!(gp->output[gp->n_output++] = make_value_info(w, v, fb))) return YQ_ERR_NOMEM;
    }
    /* value_info: the file's entries for intermediate values that still exist,
     * with the IR's current type (passes may have changed it) */
    if (!sg || !sg->n_value_info) return YQ_OK;
    gp->value_info = arena_alloc(&w->ar, sg->n_value_info, sizeof *gp->value_info);
    if (!gp->value_info) return YQ_ERR_NOMEM;
    for (size_t i = 0; i < sg->n_value_info; i++) {
        const Onnx__ValueInfoProto *svi = sg->value_info[i];
        int id = svi->name ? yq_graph_find_value(g, svi->name) : -1;
        if (id < 0 || !w->referenced[id] || !w->defined[id]) continue;
        const yq_value *v = &g->values[id];
        if (v->flags & (YQ_VAL_INPUT | YQ_VAL_OUTPUT | YQ_VAL_INIT)) continue;
        if (!(gp->value_info[gp->n_value_info++] = make_value_info(w, v, svi))) return YQ_ERR_NOMEM;
    }
    return YQ_OK;
}

/* ---- the parts yoloq does not model, from g->source ------------------------------------------------ */

static yq_status copy_unmodelled_graph_parts(writer *w, Onnx__GraphProto *gp) {
    const Onnx__GraphProto *sg = w->src ? w->src->graph : NULL;
    if (!sg) return YQ_OK;
    gp->base.n_unknown_fields = sg->base.n_unknown_fields;
    gp->base.unknown_fields = sg->base.unknown_fields;
    if (sg->n_sparse_initializer) {
        gp->sparse_initializer = arena_alloc(&w->ar, sg->n_sparse_initializer, sizeof *gp->sparse_initializer);
        if (!gp->sparse_initializer) return YQ_ERR_NOMEM;
        for (size_t i = 0; i < sg->n_sparse_initializer; i++) {
            Onnx__SparseTensorProto *sp = sg->sparse_initializer[i];
            int id = sp->values && sp->values->name ? yq_graph_find_value(w->g, sp->values->name) : -1;
            if (id >= 0 && !(w->g->values[id].flags & YQ_VAL_INIT))
                gp->sparse_initializer[gp->n_sparse_initializer++] = sp;
        }
    }
    if (sg->n_quantization_annotation) {
        gp->quantization_annotation =
            arena_alloc(&w->ar, sg->n_quantization_annotation, sizeof *gp->quantization_annotation);
        if (!gp->quantization_annotation) return YQ_ERR_NOMEM;
        for (size_t i = 0; i < sg->n_quantization_annotation; i++) {
            Onnx__TensorAnnotation *qa = sg->quantization_annotation[i];
            if (qa->tensor_name && yq_graph_find_value(w->g, qa->tensor_name) >= 0)
                gp->quantization_annotation[gp->n_quantization_annotation++] = qa;
        }
    }
    return YQ_OK;
}

/* Sparse initializers of the file that still exist are defined values. */
static void mark_sparse_defined(writer *w) {
    const Onnx__GraphProto *sg = w->src ? w->src->graph : NULL;
    if (!sg) return;
    for (size_t i = 0; i < sg->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = sg->sparse_initializer[i];
        int id = sp->values && sp->values->name ? yq_graph_find_value(w->g, sp->values->name) : -1;
        if (id >= 0) w->defined[id] = 1;
    }
}

/* ---- model ------------------------------------------------------------------------------------------ */

static yq_status build_and_pack(writer *w, uint8_t **buf_out, size_t *len_out) {
    const yq_graph *g = w->g;
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;

    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].flags & (YQ_VAL_INPUT | YQ_VAL_INIT)) w->defined[v] = 1;
    mark_sparse_defined(w);
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] >= 0 && g->outputs[i] < g->nvalues) w->referenced[g->outputs[i]] = 1;
    YQ_TRY(make_nodes(w, &gp));
    YQ_TRY(make_initializers(w, &gp));
    YQ_TRY(make_io(w, &gp));
    YQ_TRY(copy_unmodelled_graph_parts(w, &gp));
    gp.name = g->graph_name && g->graph_name[0] ? g->graph_name : "main_graph"; /* the checker wants a name */
    gp.doc_string = g->graph_doc_string;

    if (w->src) {
        mp.base.n_unknown_fields = w->src->base.n_unknown_fields;
        mp.base.unknown_fields = w->src->base.unknown_fields;
        mp.n_functions = w->src->n_functions;
        mp.functions = w->src->functions;
        mp.n_training_info = w->src->n_training_info;
        mp.training_info = w->src->training_info;
    }
    mp.has_ir_version = 1;
    mp.ir_version = g->ir_version;
    if (w->four_bit && mp.ir_version < 10) mp.ir_version = 10; /* INT4/UINT4 need IR 10 */
    mp.producer_name = g->producer_name;
    mp.producer_version = g->producer_version;
    mp.domain = g->domain;
    mp.has_model_version = g->model_version != 0;
    mp.model_version = g->model_version;
    mp.doc_string = g->doc_string;
    mp.graph = &gp;
    mp.opset_import = arena_alloc(&w->ar, (size_t)g->nopsets + 1, sizeof *mp.opset_import);
    Onnx__OperatorSetIdProto *ops = arena_alloc(&w->ar, (size_t)g->nopsets + 1, sizeof *ops);
    mp.metadata_props = arena_alloc(&w->ar, (size_t)g->nmeta + 1, sizeof *mp.metadata_props);
    Onnx__StringStringEntryProto *meta = arena_alloc(&w->ar, (size_t)g->nmeta + 1, sizeof *meta);
    if (!mp.opset_import || !ops || !mp.metadata_props || !meta) return YQ_ERR_NOMEM;
    for (int i = 0; i < g->nopsets; i++) {
        onnx__operator_set_id_proto__init(&ops[i]);
        ops[i].domain = g->opsets[i].domain ? g->opsets[i].domain : "";
        ops[i].has_version = 1;
        ops[i].version = g->opsets[i].version;
        mp.opset_import[i] = &ops[i];
    }
    mp.n_opset_import = (size_t)g->nopsets;
    for (int i = 0; i < g->nmeta; i++) {
        onnx__string_string_entry_proto__init(&meta[i]);
        meta[i].key = g->meta[i].key;
        meta[i].value = g->meta[i].value;
        mp.metadata_props[i] = &meta[i];
    }
    mp.n_metadata_props = (size_t)g->nmeta;

    size_t len = onnx__model_proto__get_packed_size(&mp);
    if (len > (size_t)INT32_MAX)
        return yq_fail(YQ_ERR_LIMIT,
                       WRITER_LABEL ": the model would be %zu bytes; protobuf files are limited to 2 GiB and yoloq "
                       "writes all tensors inline",
                       len);
    uint8_t *buf = yq_malloc(len);
    if (!buf) return YQ_ERR_NOMEM;
    size_t packed = onnx__model_proto__pack(&mp, buf);
    if (packed != len) {
        free(buf);
        return yq_fail(YQ_ERR_INTERNAL, WRITER_LABEL ": packed %zu bytes, expected %zu", packed, len);
    }
    *buf_out = buf;
    *len_out = len;
    return YQ_OK;
}

yq_status yq_onnx_serialize(const yq_graph *g, uint8_t **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    writer w;
    memset(&w, 0, sizeof w);
    w.g = g;
    w.src = (g->source && g->source_free == yq_onnx_source_free) ? g->source : NULL;
    w.referenced = yq_calloc((size_t)g->nvalues + 1, 1);
    w.defined = yq_calloc((size_t)g->nvalues + 1, 1);
    yq_status st = (w.referenced && w.defined) ? build_and_pack(&w, buf, len) : YQ_ERR_NOMEM;
    for (size_t i = 0; i < w.nunpacked; i++) protobuf_c_message_free_unpacked(w.unpacked[i], NULL);
    free(w.unpacked);
    free(w.referenced);
    free(w.defined);
    arena_free(&w.ar);
    return st;
}

yq_status yq_onnx_save(const yq_graph *g, const char *path) {
    uint8_t *buf;
    size_t len;
    yq_status st = yq_onnx_serialize(g, &buf, &len);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s", path);
    st = yq_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
