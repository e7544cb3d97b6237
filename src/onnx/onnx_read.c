/* ModelProto -> graph IR. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"

typedef struct reader {
    const char *file;     /* display name for messages */
    const char *base_dir; /* external data folder, or NULL */
    Onnx__ModelProto *m;
    yq_graph *g;
    /* values created for sparse initializers: ids [sparse_begin, sparse_end) */
    int sparse_begin, sparse_end;
} reader;

void yq_onnx_source_free(void *source) { yq_onnx_free_message(source); }

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static int is_sparse_value(const reader *r, int id) { return id >= r->sparse_begin && id < r->sparse_end; }

/* Copy a protobuf-c string (NULL = absent) into an IR field; absent stays NULL. */
static yq_status copy_optional(char **dst, const char *src) {
    *dst = NULL;
    if (!src) return YQ_OK;
    *dst = yq_strdup(src);
    return *dst ? YQ_OK : YQ_ERR_NOMEM;
}

/* A node described for messages: "'name' (Op)" or "#index (Op)" when unnamed. */
static const char *node_desc(const Onnx__NodeProto *np, size_t index, char *buf, size_t size) {
    if (np->name && np->name[0])
        snprintf(buf, size, "'%.200s' (%.100s)", np->name, str_or_empty(np->op_type));
    else
        snprintf(buf, size, "#%zu (%.100s)", index, str_or_empty(np->op_type));
    return buf;
}

/* ---- model fields -------------------------------------------------------------- */

static yq_status read_model_fields(reader *r) {
    const Onnx__ModelProto *m = r->m;
    yq_graph *g = r->g;
    if (!m->has_ir_version) return yq_fail(YQ_ERR_INVALID, "%s: the model has no ir_version", r->file);
    if (m->ir_version < YQ_ONNX_MIN_IR_VERSION || m->ir_version > YQ_ONNX_MAX_IR_VERSION)
        return yq_fail(YQ_ERR_UNSUPPORTED, "%s: IR version %lld is not supported (yoloq reads IR %d to %d)", r->file,
                       (long long)m->ir_version, YQ_ONNX_MIN_IR_VERSION, YQ_ONNX_MAX_IR_VERSION);
    if (!m->graph) return yq_fail(YQ_ERR_INVALID, "%s: the model has no graph", r->file);
    if (m->n_opset_import == 0) return yq_fail(YQ_ERR_INVALID, "%s: the model imports no operator set", r->file);
    g->ir_version = m->ir_version;
    g->model_version = m->has_model_version ? m->model_version : 0;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        YQ_TRY(yq_graph_set_opset(g, str_or_empty(o->domain), o->has_version ? o->version : 0));
    }
    YQ_TRY(copy_optional(&g->producer_name, m->producer_name));
    YQ_TRY(copy_optional(&g->producer_version, m->producer_version));
    YQ_TRY(copy_optional(&g->domain, m->domain));
    YQ_TRY(copy_optional(&g->doc_string, m->doc_string));
    YQ_TRY(copy_optional(&g->graph_name, m->graph->name));
    YQ_TRY(copy_optional(&g->graph_doc_string, m->graph->doc_string));
    if (m->n_metadata_props) {
        g->meta = yq_calloc(m->n_metadata_props, sizeof *g->meta);
        if (!g->meta) return YQ_ERR_NOMEM;
        for (size_t i = 0; i < m->n_metadata_props; i++) {
            const Onnx__StringStringEntryProto *e = m->metadata_props[i];
            g->nmeta = (int)i + 1;
            g->meta[i].key = yq_strdup(str_or_empty(e->key));
            g->meta[i].value = yq_strdup(str_or_empty(e->value));
            if (!g->meta[i].key || !g->meta[i].value) return YQ_ERR_NOMEM;
        }
    }
    return YQ_OK;
}

/* ---- value types ------------------------------------------------------------------ */

/* Set dtype and shape of v from a ValueInfo type (tensor types only; other kinds
 * of type are left to g->source). role names the value in messages. */
static yq_status apply_type(reader *r, yq_value *v, const Onnx__TypeProto *type, const char *role) {
    if (!type || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type) return YQ_OK;
    const Onnx__TypeProto__Tensor *tt = type->tensor_type;
    if (tt->has_elem_type) {
        if (tt->elem_type < 0)
            return yq_fail(YQ_ERR_INVALID, "%s: %s '%s' has invalid element type %d", r->file, role, v->name,
                           (int)tt->elem_type);
        v->dtype = (yq_dtype)tt->elem_type;
    }
    if (!tt->shape) return YQ_OK;
    const Onnx__TensorShapeProto *shape = tt->shape;
    if (shape->n_dim > YQ_MAX_RANK)
        return yq_fail(YQ_ERR_LIMIT, "%s: %s '%s' has rank %zu, beyond yoloq's limit of %d dims", r->file, role,
                       v->name, shape->n_dim, YQ_MAX_RANK);
    for (int d = 0; d < YQ_MAX_RANK; d++) {
        free(v->dim_params[d]);
        v->dim_params[d] = NULL;
        v->dims[d] = 0;
    }
    v->rank = (int)shape->n_dim;
    for (int d = 0; d < v->rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = shape->dim[d];
        v->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dim->dim_value < 0)
                return yq_fail(YQ_ERR_INVALID, "%s: %s '%s' has negative dim %lld at axis %d", r->file, role,
                               v->name, (long long)dim->dim_value, d);
            v->dims[d] = dim->dim_value;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param &&
                   dim->dim_param[0]) {
            if (!(v->dim_params[d] = yq_strdup(dim->dim_param))) return YQ_ERR_NOMEM;
        }
    }
    return YQ_OK;
}

/* ---- initializers ------------------------------------------------------------------- */

static yq_status read_initializers(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return yq_fail(YQ_ERR_INVALID, "%s: initializer #%zu has no name", r->file, i);
        if (yq_graph_find_value(g, tp->name) >= 0)
            return yq_fail(YQ_ERR_INVALID, "%s: initializer '%s' is defined twice", r->file, tp->name);
        char what[256];
        snprintf(what, sizeof what, "initializer '%.200s'", tp->name);
        yq_tensor t;
        size_t nbytes;
        char *ext = NULL;
        YQ_TRY(yq_onnx_tensor_decode(tp, r->file, r->base_dir, what, &t, &nbytes, &ext));
        int id;
        yq_status st = yq_graph_add_value(g, tp->name, &id);
        if (st != YQ_OK) {
            free(t.data);
            free(ext);
            return st;
        }
        yq_value *v = &g->values[id];
        yq_value_set_data(v, t.dtype, t.rank, t.dims, t.data, nbytes);
        v->external_location = ext;
        YQ_TRY(copy_optional(&v->doc_string, tp->doc_string));
    }
    return YQ_OK;
}

/* Sparse initializers are not modelled: their values exist (so nodes may read
 * them) with dtype and dense dims, no data; g->source keeps the tensors. */
static yq_status read_sparse_initializers(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    r->sparse_begin = g->nvalues;
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        const char *name = sp->values ? sp->values->name : NULL;
        if (!name || !name[0])
            return yq_fail(YQ_ERR_INVALID, "%s: sparse initializer #%zu has no name", r->file, i);
        if (yq_graph_find_value(g, name) >= 0)
            return yq_fail(YQ_ERR_INVALID, "%s: initializer '%s' is defined twice", r->file, name);
        if (sp->n_dims > YQ_MAX_RANK)
            return yq_fail(YQ_ERR_LIMIT, "%s: sparse initializer '%s' has rank %zu, beyond yoloq's limit of %d dims",
                           r->file, name, sp->n_dims, YQ_MAX_RANK);
        int id;
        YQ_TRY(yq_graph_add_value(g, name, &id));
        yq_value *v = &g->values[id];
        v->dtype = sp->values->has_data_type ? (yq_dtype)sp->values->data_type : YQ_DT_UNDEFINED;
        v->rank = (int)sp->n_dims;
        for (int d = 0; d < v->rank; d++) {
            if (sp->dims[d] < 0)
                return yq_fail(YQ_ERR_INVALID, "%s: sparse initializer '%s' has negative dim %lld", r->file, name,
                               (long long)sp->dims[d]);
            v->dims[d] = sp->dims[d];
        }
    }
    r->sparse_end = g->nvalues;
    return YQ_OK;
}

/* ---- inputs, outputs, value_info ------------------------------------------------------- */

static yq_status append_id(int **list, int *count, int id) {
    int *l = yq_realloc(*list, ((size_t)*count + 1) * sizeof(int));
    if (!l) return YQ_ERR_NOMEM;
    l[(*count)++] = id;
    *list = l;
    return YQ_OK;
}

static yq_status read_inputs(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0]) return yq_fail(YQ_ERR_INVALID, "%s: graph input #%zu has no name", r->file, i);
        int id = yq_graph_find_value(g, vi->name);
        if (id >= 0) {
            const yq_value *v = &g->values[id];
            /* old exporters list initializers as inputs too: they stay initializers */
            if ((v->flags & YQ_VAL_INIT) || is_sparse_value(r, id)) continue;
            return yq_fail(YQ_ERR_INVALID, "%s: graph input '%s' is listed twice", r->file, vi->name);
        }
        YQ_TRY(yq_graph_add_value(g, vi->name, &id));
        yq_value *v = &g->values[id];
        v->flags |= YQ_VAL_INPUT;
        YQ_TRY(copy_optional(&v->doc_string, vi->doc_string));
        YQ_TRY(apply_type(r, v, vi->type, "graph input"));
        YQ_TRY(append_id(&g->inputs, &g->ninputs, id));
    }
    return YQ_OK;
}

static yq_status read_outputs(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    if (gp->n_output == 0) return yq_fail(YQ_ERR_INVALID, "%s: the graph has no outputs", r->file);
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !vi->name[0]) return yq_fail(YQ_ERR_INVALID, "%s: graph output #%zu has no name", r->file, i);
        int id = yq_graph_find_value(g, vi->name);
        if (id < 0)
            return yq_fail(YQ_ERR_INVALID,
                           "%s: graph output '%s' is not produced by any node, nor a graph input or initializer",
                           r->file, vi->name);
        yq_value *v = &g->values[id];
        v->flags |= YQ_VAL_OUTPUT;
        if (!v->doc_string) YQ_TRY(copy_optional(&v->doc_string, vi->doc_string));
        if (!(v->flags & YQ_VAL_INIT)) YQ_TRY(apply_type(r, v, vi->type, "graph output"));
        YQ_TRY(append_id(&g->outputs, &g->noutputs, id));
    }
    return YQ_OK;
}

static yq_status read_value_info(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        int id = yq_graph_find_value(g, str_or_empty(vi->name));
        /* entries for names no node uses stay in g->source only */
        if (id < 0 || (g->values[id].flags & YQ_VAL_INIT)) continue;
        YQ_TRY(apply_type(r, &g->values[id], vi->type, "value"));
    }
    return YQ_OK;
}

/* ---- nodes and attributes ----------------------------------------------------------------- */

static yq_status count_to_int(reader *r, size_t n, const char *what, const char *desc, int *out) {
    if (n > INT_MAX) return yq_fail(YQ_ERR_LIMIT, "%s: node %s has too many %s (%zu)", r->file, desc, what, n);
    *out = (int)n;
    return YQ_OK;
}

static yq_attr_type attr_kind(const Onnx__AttributeProto *ap) {
    if (ap->has_type) return (yq_attr_type)ap->type;
    /* IR 1 files have no type field: infer it from the field that is set */
    if (ap->has_f) return YQ_ATTR_FLOAT;
    if (ap->has_i) return YQ_ATTR_INT;
    if (ap->has_s) return YQ_ATTR_STRING;
    if (ap->t) return YQ_ATTR_TENSOR;
    if (ap->g) return YQ_ATTR_GRAPH;
    if (ap->n_floats) return YQ_ATTR_FLOATS;
    if (ap->n_ints) return YQ_ATTR_INTS;
    if (ap->n_strings) return YQ_ATTR_STRINGS;
    return YQ_ATTR_UNDEFINED;
}

static char *dup_bytes(const ProtobufCBinaryData *b) {
    char *s = yq_malloc(b->len + 1);
    if (!s) return NULL;
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = 0;
    return s;
}

static yq_status read_attr(reader *r, Onnx__AttributeProto *ap, yq_attr *a, const char *desc) {
    if (!ap->name || !ap->name[0])
        return yq_fail(YQ_ERR_INVALID, "%s: node %s has an attribute without a name", r->file, desc);
    if (!(a->name = yq_strdup(ap->name))) return YQ_ERR_NOMEM;
    yq_attr_type kind = attr_kind(ap);
    a->type = kind;
    int opaque = ap->ref_attr_name && ap->ref_attr_name[0];
    if (!opaque) {
        switch (kind) {
        case YQ_ATTR_FLOAT: a->f = ap->f; return YQ_OK;
        case YQ_ATTR_INT: a->i = ap->i; return YQ_OK;
        case YQ_ATTR_STRING:
            a->slen = ap->s.len;
            return (a->s = dup_bytes(&ap->s)) ? YQ_OK : YQ_ERR_NOMEM;
        case YQ_ATTR_TENSOR: {
            if (!ap->t)
                return yq_fail(YQ_ERR_INVALID, "%s: attribute '%s' of node %s is a TENSOR but holds no tensor",
                               r->file, ap->name, desc);
            char what[512];
            snprintf(what, sizeof what, "attribute '%.100s' of node %.300s", ap->name, desc);
            if (!(a->t = yq_calloc(1, sizeof *a->t))) return YQ_ERR_NOMEM;
            size_t nbytes;
            return yq_onnx_tensor_decode(ap->t, r->file, r->base_dir, what, a->t, &nbytes, NULL);
        }
        case YQ_ATTR_FLOATS:
            YQ_TRY(count_to_int(r, ap->n_floats, "attribute values", desc, &a->n));
            if (!(a->floats = yq_malloc(ap->n_floats * sizeof(float)))) return YQ_ERR_NOMEM;
            if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
            return YQ_OK;
        case YQ_ATTR_INTS:
            YQ_TRY(count_to_int(r, ap->n_ints, "attribute values", desc, &a->n));
            if (!(a->ints = yq_malloc(ap->n_ints * sizeof(int64_t)))) return YQ_ERR_NOMEM;
            if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
            return YQ_OK;
        case YQ_ATTR_STRINGS: {
            int n;
            YQ_TRY(count_to_int(r, ap->n_strings, "attribute values", desc, &n));
            if (!(a->strings = yq_calloc(ap->n_strings, sizeof(char *)))) return YQ_ERR_NOMEM;
            a->n = n;
            for (int k = 0; k < n; k++)
                if (!(a->strings[k] = dup_bytes(&ap->strings[k]))) return YQ_ERR_NOMEM;
            return YQ_OK;
        }
        default: break;
        }
    }
    /* graphs, sparse tensors, type protos, tensor lists, references: kept as the
     * packed AttributeProto so the writer can put them back unchanged */
    size_t len = onnx__attribute_proto__get_packed_size(ap);
    if (!(a->opaque = yq_malloc(len))) return YQ_ERR_NOMEM;
    a->opaque_len = onnx__attribute_proto__pack(ap, a->opaque);
    return YQ_OK;
}

static yq_status check_graph_size(reader *r) {
    const Onnx__GraphProto *gp = r->m->graph;
    if (!gp) return YQ_OK; /* read_nodes reports the missing graph */
    if (gp->n_node > YQ_ONNX_MAX_NODES)
        return yq_fail(YQ_ERR_LIMIT, "%s: the graph has %zu nodes, beyond yoloq's limit of %d", r->file, gp->n_node,
                       YQ_ONNX_MAX_NODES);
    /* Each count is bounded by the file size, so the sum cannot overflow. */
    size_t nvalues = gp->n_initializer + gp->n_sparse_initializer + gp->n_input + gp->n_output + gp->n_value_info;
    for (size_t i = 0; i < gp->n_node; i++) nvalues += gp->node[i]->n_output;
    if (nvalues > YQ_ONNX_MAX_VALUES)
        return yq_fail(YQ_ERR_LIMIT, "%s: the graph declares %zu values, beyond yoloq's limit of %d", r->file, nvalues,
                       YQ_ONNX_MAX_VALUES);
    return YQ_OK;
}

static yq_status read_nodes(reader *r) {
    Onnx__GraphProto *gp = r->m->graph;
    yq_graph *g = r->g;
    if (gp->n_node == 0) return yq_fail(YQ_ERR_INVALID, "%s: the graph has no nodes", r->file);
    if (gp->n_node > INT_MAX) return yq_fail(YQ_ERR_LIMIT, "%s: the graph has too many nodes", r->file);
    int *ids = NULL;
    size_t ids_cap = 0;
    yq_status st = YQ_OK;
    for (size_t i = 0; i < gp->n_node && st == YQ_OK; i++) {
        Onnx__NodeProto *np = gp->node[i];
        char desc[384];
        node_desc(np, i, desc, sizeof desc);
        if (!np->op_type || !np->op_type[0]) {
            st = yq_fail(YQ_ERR_INVALID, "%s: node %s has no op_type", r->file, desc);
            break;
        }
        int nin = 0, nout = 0;
        if ((st = count_to_int(r, np->n_input, "inputs", desc, &nin)) != YQ_OK) break;
        if ((st = count_to_int(r, np->n_output, "outputs", desc, &nout)) != YQ_OK) break;
        size_t need = (size_t)nin + (size_t)nout + 1;
        if (need > ids_cap) {
            int *n2 = yq_realloc(ids, need * sizeof(int));
            if (!n2) {
                st = YQ_ERR_NOMEM;
                break;
            }
            ids = n2;
            ids_cap = need;
        }
        int *in_ids = ids, *out_ids = ids + nin;
        for (int k = 0; k < nin && st == YQ_OK; k++) {
            const char *name = np->input[k];
            in_ids[k] = -1;
            if (name && name[0]) st = yq_graph_value(g, name, &in_ids[k]);
        }
        for (int k = 0; k < nout && st == YQ_OK; k++) {
            const char *name = np->output[k];
            out_ids[k] = -1;
            if (!name || !name[0]) continue; /* omitted optional output */
            if ((st = yq_graph_value(g, name, &out_ids[k])) != YQ_OK) break;
            const yq_value *v = &g->values[out_ids[k]];
            if (v->producer >= 0) {
                char other[384];
                st = yq_fail(YQ_ERR_INVALID, "%s: value '%s' is produced by two nodes, %s and %s", r->file, name,
                             node_desc(gp->node[v->producer], (size_t)v->producer, other, sizeof other), desc);
            } else if ((v->flags & (YQ_VAL_INPUT | YQ_VAL_INIT)) || is_sparse_value(r, out_ids[k])) {
                st = yq_fail(YQ_ERR_INVALID, "%s: node %s writes '%s', which is a graph input or initializer",
                             r->file, desc, name);
            } else {
                for (int j = 0; j < k; j++)
                    if (out_ids[j] == out_ids[k])
                        st = yq_fail(YQ_ERR_INVALID, "%s: node %s lists output '%s' twice", r->file, desc, name);
            }
        }
        if (st != YQ_OK) break;
        int nid;
        st = yq_graph_add_node(g, np->op_type, str_or_empty(np->domain), str_or_empty(np->name), in_ids, nin,
                               out_ids, nout, &nid);
        if (st != YQ_OK) break;
        yq_node *n = &g->nodes[nid];
        if ((st = copy_optional(&n->doc_string, np->doc_string)) != YQ_OK) break;
        if (np->n_attribute) {
            int nattr = 0;
            if ((st = count_to_int(r, np->n_attribute, "attributes", desc, &nattr)) != YQ_OK) break;
            if (!(n->attrs = yq_calloc(np->n_attribute, sizeof *n->attrs))) {
                st = YQ_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < nattr && st == YQ_OK; k++) {
                n->nattrs = k + 1; /* so that a failure frees what was filled */
                st = read_attr(r, np->attribute[k], &n->attrs[k], desc);
            }
        }
    }
    free(ids);
    return st;
}

/* Every value a node reads must come from somewhere. */
static yq_status check_defined(reader *r) {
    const yq_graph *g = r->g;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int id = n->inputs[k];
            if (id < 0) continue;
            const yq_value *v = &g->values[id];
            if (v->producer < 0 && !(v->flags & (YQ_VAL_INPUT | YQ_VAL_INIT)) && !is_sparse_value(r, id)) {
                char desc[384];
                return yq_fail(YQ_ERR_INVALID,
                               "%s: node %s reads '%s', which is not a graph input, an initializer or the output of "
                               "any node",
                               r->file, node_desc(r->m->graph->node[i], (size_t)i, desc, sizeof desc), v->name);
            }
        }
    }
    return YQ_OK;
}

/* The IR now holds the initializers and nodes: drop them from the ModelProto
 * kept in g->source (they would only double the memory). */
static void strip_source(Onnx__ModelProto *m) {
    Onnx__GraphProto *gp = m->graph;
    for (size_t i = 0; i < gp->n_initializer; i++) yq_onnx_free_message(&gp->initializer[i]->base);
    free(gp->initializer);
    gp->initializer = NULL;
    gp->n_initializer = 0;
    for (size_t i = 0; i < gp->n_node; i++) yq_onnx_free_message(&gp->node[i]->base);
    free(gp->node);
    gp->node = NULL;
    gp->n_node = 0;
}

yq_status yq_onnx_load_buffer(const uint8_t *buf, size_t len, const char *display_name, const char *base_dir,
                              yq_graph **out) {
    *out = NULL;
    if (!display_name) display_name = "<memory>";
    if (len == 0) return yq_fail(YQ_ERR_PARSE, "%s: empty file (0 bytes), not an ONNX model", display_name);
    ProtobufCMessage *msg;
    YQ_TRY(yq_onnx_unpack(buf, len, &onnx__model_proto__descriptor, display_name, "model", &msg));
    reader r = {display_name, base_dir, (Onnx__ModelProto *)msg, NULL, 0, 0};
    yq_status st = yq_graph_new(&r.g);
    if (st != YQ_OK) {
        yq_onnx_free_message(msg);
        return st;
    }
    if (!(r.g->path = yq_strdup(display_name))) st = YQ_ERR_NOMEM;
    if (st == YQ_OK) st = check_graph_size(&r);
    if (st == YQ_OK) st = read_model_fields(&r);
    if (st == YQ_OK) st = read_initializers(&r);
    if (st == YQ_OK) st = read_sparse_initializers(&r);
    if (st == YQ_OK) st = read_inputs(&r);
    if (st == YQ_OK) st = read_nodes(&r);
    if (st == YQ_OK) st = read_outputs(&r);
    if (st == YQ_OK) st = read_value_info(&r);
    if (st == YQ_OK) st = check_defined(&r);
    if (st != YQ_OK) {
        yq_graph_free(r.g);
        yq_onnx_free_message(msg);
        return st;
    }
    strip_source(r.m);
    r.g->source = r.m;
    r.g->source_free = yq_onnx_source_free;
    *out = r.g;
    return YQ_OK;
}

yq_status yq_onnx_load(const char *path, yq_graph **out) {
    *out = NULL;
    unsigned char *buf;
    size_t len;
    YQ_TRY(yq_read_file(path, &buf, &len));
    char *dir = yq_onnx_dirname(path);
    yq_status st = dir ? yq_onnx_load_buffer(buf, len, path, dir, out) : YQ_ERR_NOMEM;
    free(dir);
    free(buf);
    return st;
}
