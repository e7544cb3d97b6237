/* Test helpers for the ONNX reader/writer: build ModelProtos by hand with
 * protobuf-c (so tests can make any dtype, INT4, broken files, ...) and
 * compare two graphs deeply. Include after testutil.h.
 * Every allocation is tracked and released by tl_free_all(). */
#ifndef YQ_ONNX_TESTLIB_H
#define YQ_ONNX_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/graph.h"
#include "onnx.pb-c.h"
#include "onnx/onnx.h"

#define TL_CAP 64 /* entries per repeated field */

static void **tl_blocks;
static size_t tl_nblocks, tl_capblocks;

static inline void *tl_alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    if (tl_nblocks == tl_capblocks) {
        tl_capblocks = tl_capblocks ? tl_capblocks * 2 : 1024;
        tl_blocks = realloc(tl_blocks, tl_capblocks * sizeof *tl_blocks);
        assert_non_null(tl_blocks);
    }
    tl_blocks[tl_nblocks++] = p;
    return p;
}

static inline void tl_free_all(void) {
    for (size_t i = 0; i < tl_nblocks; i++) free(tl_blocks[i]);
    free(tl_blocks);
    tl_blocks = NULL;
    tl_nblocks = tl_capblocks = 0;
}

static inline char *tl_str(const char *s) {
    char *d = tl_alloc(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

static inline void *tl_dup(const void *p, size_t n) {
    void *d = tl_alloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

#define TL_ARRAY(type) ((type *)tl_alloc(TL_CAP * sizeof(type)))
#define TL_PUSH(arr, n, item)          \
    do {                               \
        assert_true((n) < TL_CAP);     \
        (arr)[(n)++] = (item);         \
    } while (0)

static inline Onnx__ModelProto *tl_model(int64_t ir_version, int64_t opset) {
    Onnx__ModelProto *m = tl_alloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = ir_version;
    m->opset_import = TL_ARRAY(Onnx__OperatorSetIdProto *);
    m->metadata_props = TL_ARRAY(Onnx__StringStringEntryProto *);
    Onnx__OperatorSetIdProto *o = tl_alloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = tl_str("");
    o->has_version = 1;
    o->version = opset;
    TL_PUSH(m->opset_import, m->n_opset_import, o);
    Onnx__GraphProto *g = tl_alloc(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = tl_str("test_graph");
    g->node = TL_ARRAY(Onnx__NodeProto *);
    g->initializer = TL_ARRAY(Onnx__TensorProto *);
    g->input = TL_ARRAY(Onnx__ValueInfoProto *);
    g->output = TL_ARRAY(Onnx__ValueInfoProto *);
    g->value_info = TL_ARRAY(Onnx__ValueInfoProto *);
    m->graph = g;
    return m;
}

static inline void tl_opset(Onnx__ModelProto *m, const char *domain, int64_t version) {
    Onnx__OperatorSetIdProto *o = tl_alloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = tl_str(domain);
    o->has_version = 1;
    o->version = version;
    TL_PUSH(m->opset_import, m->n_opset_import, o);
}

static inline void tl_meta(Onnx__ModelProto *m, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = tl_alloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = tl_str(key);
    e->value = tl_str(value);
    TL_PUSH(m->metadata_props, m->n_metadata_props, e);
}

static inline Onnx__TensorProto *tl_tensor(const char *name, int32_t dtype, int rank, const int64_t *dims) {
    Onnx__TensorProto *t = tl_alloc(sizeof *t);
    onnx__tensor_proto__init(t);
    if (name) t->name = tl_str(name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = tl_dup(dims, (size_t)rank * sizeof(int64_t));
    return t;
}

static inline void tl_raw(Onnx__TensorProto *t, const void *data, size_t len) {
    t->has_raw_data = 1;
    t->raw_data.data = tl_dup(data, len);
    t->raw_data.len = len;
}

static inline void tl_external(Onnx__TensorProto *t, const char *location, const char *offset, const char *length) {
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = TL_ARRAY(Onnx__StringStringEntryProto *);
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {location, offset, length};
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        Onnx__StringStringEntryProto *e = tl_alloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = tl_str(keys[i]);
        e->value = tl_str(vals[i]);
        TL_PUSH(t->external_data, t->n_external_data, e);
    }
}

static inline void tl_init(Onnx__ModelProto *m, Onnx__TensorProto *t) {
    TL_PUSH(m->graph->initializer, m->graph->n_initializer, t);
}

/* ValueInfo: dtype 0 = no elem_type; rank < 0 = no shape; dims[d] < 0 with
 * params[d] = a dim_param, without = an unknown dim. */
static inline Onnx__ValueInfoProto *tl_vi(const char *name, int32_t dtype, int rank, const int64_t *dims,
                                          const char *const *params) {
    Onnx__ValueInfoProto *vi = tl_alloc(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = tl_str(name);
    Onnx__TypeProto *tp = tl_alloc(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tl_alloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (dtype) {
        tt->has_elem_type = 1;
        tt->elem_type = dtype;
    }
    if (rank >= 0) {
        Onnx__TensorShapeProto *s = tl_alloc(sizeof *s);
        onnx__tensor_shape_proto__init(s);
        s->n_dim = (size_t)rank;
        s->dim = tl_alloc(((size_t)rank + 1) * sizeof *s->dim);
        for (int d = 0; d < rank; d++) {
            Onnx__TensorShapeProto__Dimension *dim = tl_alloc(sizeof *dim);
            onnx__tensor_shape_proto__dimension__init(dim);
            if (dims[d] >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = dims[d];
            } else if (params && params[d]) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = tl_str(params[d]);
            }
            s->dim[d] = dim;
        }
        tt->shape = s;
    }
    vi->type = tp;
    return vi;
}

static inline void tl_input(Onnx__ModelProto *m, Onnx__ValueInfoProto *vi) {
    TL_PUSH(m->graph->input, m->graph->n_input, vi);
}
static inline void tl_output(Onnx__ModelProto *m, Onnx__ValueInfoProto *vi) {
    TL_PUSH(m->graph->output, m->graph->n_output, vi);
}
static inline void tl_value_info(Onnx__ModelProto *m, Onnx__ValueInfoProto *vi) {
    TL_PUSH(m->graph->value_info, m->graph->n_value_info, vi);
}

/* Split "a,,b" into names ("" = omitted). */
static inline size_t tl_names(const char *list, char ***out) {
    char **names = TL_ARRAY(char *);
    size_t n = 0;
    if (list && *list) {
        const char *p = list;
        for (;;) {
            size_t len = strcspn(p, ",");
            char *s = tl_alloc(len + 1);
            memcpy(s, p, len);
            TL_PUSH(names, n, s);
            if (!p[len]) break;
            p += len + 1;
        }
    }
    *out = names;
    return n;
}

static inline Onnx__NodeProto *tl_node(Onnx__ModelProto *m, const char *op, const char *name, const char *inputs,
                                       const char *outputs) {
    Onnx__NodeProto *n = tl_alloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tl_str(op);
    if (name) n->name = tl_str(name);
    n->n_input = tl_names(inputs, &n->input);
    n->n_output = tl_names(outputs, &n->output);
    n->attribute = TL_ARRAY(Onnx__AttributeProto *);
    if (m) TL_PUSH(m->graph->node, m->graph->n_node, n);
    return n;
}

static inline Onnx__AttributeProto *tl_attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = tl_alloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tl_str(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    TL_PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static inline uint8_t *tl_pack(const Onnx__ModelProto *m, size_t *len) {
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = tl_alloc(*len);
    assert_int_equal(onnx__model_proto__pack(m, buf), *len);
    return buf;
}

static inline void tl_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Load a packed model from memory; the error message (if any) must name the file. */
static inline yq_status tl_load(const Onnx__ModelProto *m, const char *base_dir, yq_graph **g) {
    size_t len;
    uint8_t *buf = tl_pack(m, &len);
    yq_status st = yq_onnx_load_buffer(buf, len, "test.onnx", base_dir, g);
    if (st != YQ_OK) assert_non_null(strstr(yq_last_error(), "test.onnx"));
    return st;
}

/* Expect loading to fail with st and a message containing `needle`. */
static inline void tl_expect_fail(const Onnx__ModelProto *m, const char *base_dir, yq_status st, const char *needle) {
    yq_graph *g = NULL;
    yq_status got = tl_load(m, base_dir, &g);
    if (got != st || !strstr(yq_last_error(), needle))
        print_message("expected %s with '%s', got %s: %s\n", yq_status_name(st), needle, yq_status_name(got),
                      yq_last_error());
    assert_int_equal(got, st);
    assert_non_null(strstr(yq_last_error(), needle));
    assert_null(g);
}

/* ---- deep comparison ------------------------------------------------------------ */

static inline int tl_streq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static inline void tl_assert_attr_equal(const yq_attr *a, const yq_attr *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->opaque != NULL, b->opaque != NULL);
    if (a->opaque) {
        assert_int_equal(a->opaque_len, b->opaque_len);
        assert_memory_equal(a->opaque, b->opaque, a->opaque_len);
        return;
    }
    switch (a->type) {
    case YQ_ATTR_FLOAT: assert_memory_equal(&a->f, &b->f, sizeof a->f); break;
    case YQ_ATTR_INT: assert_int_equal(a->i, b->i); break;
    case YQ_ATTR_STRING:
        assert_int_equal(a->slen, b->slen);
        assert_memory_equal(a->s, b->s, a->slen);
        break;
    case YQ_ATTR_FLOATS:
        assert_int_equal(a->n, b->n);
        if (a->n) assert_memory_equal(a->floats, b->floats, (size_t)a->n * sizeof(float));
        break;
    case YQ_ATTR_INTS:
        assert_int_equal(a->n, b->n);
        if (a->n) assert_memory_equal(a->ints, b->ints, (size_t)a->n * sizeof(int64_t));
        break;
    case YQ_ATTR_STRINGS:
        assert_int_equal(a->n, b->n);
        for (int k = 0; k < a->n; k++) assert_string_equal(a->strings[k], b->strings[k]);
        break;
    case YQ_ATTR_TENSOR: {
        assert_non_null(a->t);
        assert_non_null(b->t);
        assert_int_equal(a->t->dtype, b->t->dtype);
        assert_int_equal(a->t->rank, b->t->rank);
        assert_memory_equal(a->t->dims, b->t->dims, (size_t)a->t->rank * sizeof(int64_t));
        size_t nb;
        assert_int_equal(yq_dtype_bytes(a->t->dtype, yq_tensor_numel(a->t), &nb), YQ_OK);
        if (nb) assert_memory_equal(a->t->data, b->t->data, nb);
        break;
    }
    default: fail_msg("attribute '%s' of type %d has neither contents nor opaque bytes", a->name, a->type);
    }
}

static inline void tl_assert_value_equal(const yq_value *a, const yq_value *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->rank, b->rank);
    for (int d = 0; d < a->rank; d++) {
        assert_int_equal(a->dims[d], b->dims[d]);
        assert_true(tl_streq(a->dim_params[d], b->dim_params[d]));
    }
    assert_int_equal(a->data != NULL, b->data != NULL);
    assert_int_equal(a->nbytes, b->nbytes);
    if (a->data && a->nbytes) assert_memory_equal(a->data, b->data, a->nbytes);
    assert_true(tl_streq(a->doc_string, b->doc_string));
}

static inline const yq_value *tl_value_by_id(const yq_graph *g, int id) {
    assert_true(id >= 0 && id < g->nvalues);
    return &g->values[id];
}

/* Same model: fields, opsets, metadata, inputs/outputs, every live node (in
 * order) with its attributes and every value it touches, compared by name. */
static inline void tl_assert_graph_equal(const yq_graph *a, const yq_graph *b) {
    assert_int_equal(a->ir_version, b->ir_version);
    assert_int_equal(a->model_version, b->model_version);
    assert_true(tl_streq(a->producer_name, b->producer_name));
    assert_true(tl_streq(a->producer_version, b->producer_version));
    assert_true(tl_streq(a->domain, b->domain));
    assert_true(tl_streq(a->doc_string, b->doc_string));
    assert_true(tl_streq(a->graph_name, b->graph_name));
    assert_true(tl_streq(a->graph_doc_string, b->graph_doc_string));
    assert_int_equal(a->nopsets, b->nopsets);
    for (int i = 0; i < a->nopsets; i++) {
        assert_string_equal(a->opsets[i].domain, b->opsets[i].domain);
        assert_int_equal(a->opsets[i].version, b->opsets[i].version);
    }
    assert_int_equal(a->nmeta, b->nmeta);
    for (int i = 0; i < a->nmeta; i++) {
        assert_string_equal(a->meta[i].key, b->meta[i].key);
        assert_string_equal(a->meta[i].value, b->meta[i].value);
    }
    assert_int_equal(a->ninputs, b->ninputs);
    for (int i = 0; i < a->ninputs; i++)
        tl_assert_value_equal(tl_value_by_id(a, a->inputs[i]), tl_value_by_id(b, b->inputs[i]));
    assert_int_equal(a->noutputs, b->noutputs);
    for (int i = 0; i < a->noutputs; i++)
        tl_assert_value_equal(tl_value_by_id(a, a->outputs[i]), tl_value_by_id(b, b->outputs[i]));
    int j = 0;
    for (int i = 0; i < a->nnodes; i++) {
        const yq_node *na = &a->nodes[i];
        if (na->dead) continue;
        while (j < b->nnodes && b->nodes[j].dead) j++;
        assert_true(j < b->nnodes);
        const yq_node *nb = &b->nodes[j++];
        assert_string_equal(na->op_type, nb->op_type);
        assert_string_equal(na->domain, nb->domain);
        assert_string_equal(na->name, nb->name);
        assert_true(tl_streq(na->doc_string, nb->doc_string));
        assert_int_equal(na->ninputs, nb->ninputs);
        assert_int_equal(na->noutputs, nb->noutputs);
        for (int k = 0; k < na->ninputs; k++) {
            assert_int_equal(na->inputs[k] < 0, nb->inputs[k] < 0);
            if (na->inputs[k] >= 0)
                tl_assert_value_equal(tl_value_by_id(a, na->inputs[k]), tl_value_by_id(b, nb->inputs[k]));
        }
        for (int k = 0; k < na->noutputs; k++) {
            assert_int_equal(na->outputs[k] < 0, nb->outputs[k] < 0);
            if (na->outputs[k] >= 0)
                tl_assert_value_equal(tl_value_by_id(a, na->outputs[k]), tl_value_by_id(b, nb->outputs[k]));
        }
        assert_int_equal(na->nattrs, nb->nattrs);
        for (int k = 0; k < na->nattrs; k++) tl_assert_attr_equal(&na->attrs[k], &nb->attrs[k]);
    }
    while (j < b->nnodes && b->nodes[j].dead) j++;
    assert_int_equal(j, b->nnodes);
}

/* serialize(a) -> load -> compare, and serialize again: same bytes. */
static inline void tl_assert_roundtrip(const yq_graph *a) {
    uint8_t *buf1 = NULL, *buf2 = NULL;
    size_t len1 = 0, len2 = 0;
    if (yq_onnx_serialize(a, &buf1, &len1) != YQ_OK) fail_msg("serialize: %s", yq_last_error());
    yq_graph *b = NULL;
    if (yq_onnx_load_buffer(buf1, len1, "roundtrip.onnx", NULL, &b) != YQ_OK) fail_msg("reload: %s", yq_last_error());
    tl_assert_graph_equal(a, b);
    assert_int_equal(yq_onnx_serialize(b, &buf2, &len2), YQ_OK);
    assert_int_equal(len1, len2);
    assert_memory_equal(buf1, buf2, len1);
    free(buf1);
    free(buf2);
    yq_graph_free(b);
}

#endif
