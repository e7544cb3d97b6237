/* ONNX model reader/writer on hand-built models: what lands in the IR, every
 * attribute kind, fields yoloq does not model surviving a round trip, writer
 * rules after IR edits, external data, and malformed models. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "onnx_testlib.h"

static const float w_vals[6] = {1, 2, 3, 4, 5, 6};

/* x[N,3,?] + w -> y; Constant c; z = y * c */
static Onnx__ModelProto *basic_model(void) {
    Onnx__ModelProto *m = tl_model(8, 13);
    tl_opset(m, "com.microsoft", 1);
    m->producer_name = tl_str("test-producer");
    m->producer_version = tl_str("1.2.3");
    m->domain = tl_str("org.test");
    m->has_model_version = 1;
    m->model_version = 5;
    m->doc_string = tl_str("model doc");
    m->graph->doc_string = tl_str("graph doc");
    tl_meta(m, "author", "me");
    tl_meta(m, "names", "{0: 'person'}");
    int64_t xd[3] = {-1, 3, -1};
    const char *xp[3] = {"N", NULL, NULL};
    Onnx__ValueInfoProto *x = tl_vi("x", YQ_DT_FLOAT, 3, xd, xp);
    x->doc_string = tl_str("the input");
    tl_input(m, x);
    int64_t wd[3] = {1, 3, 2};
    Onnx__TensorProto *w = tl_tensor("w", YQ_DT_FLOAT, 3, wd);
    tl_raw(w, w_vals, sizeof w_vals);
    w->doc_string = tl_str("weights");
    tl_init(m, w);
    tl_input(m, tl_vi("w", YQ_DT_FLOAT, 3, wd, NULL)); /* old exporters list initializers as inputs */
    Onnx__NodeProto *add = tl_node(m, "Add", "add0", "x,w", "y");
    add->doc_string = tl_str("adds");
    Onnx__NodeProto *c = tl_node(m, "Constant", "const0", "", "c");
    Onnx__AttributeProto *a = tl_attr(c, "value", YQ_ATTR_TENSOR);
    a->t = tl_tensor(NULL, YQ_DT_FLOAT, 0, NULL);
    float two = 2.0f;
    tl_raw(a->t, &two, 4);
    tl_node(m, "Mul", "mul0", "y,c", "z");
    tl_value_info(m, tl_vi("y", YQ_DT_FLOAT, 3, xd, xp));
    tl_value_info(m, tl_vi("not_in_graph", YQ_DT_FLOAT, 1, wd, NULL));
    tl_output(m, tl_vi("z", YQ_DT_FLOAT, -1, NULL, NULL));
    return m;
}

static void test_basic_ir(void **state) {
    (void)state;
    yq_graph *g;
    if (tl_load(basic_model(), NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_int_equal(g->ir_version, 8);
    assert_int_equal(g->nopsets, 2);
    assert_int_equal(yq_graph_opset(g, ""), 13);
    assert_int_equal(yq_graph_opset(g, "com.microsoft"), 1);
    assert_string_equal(g->producer_name, "test-producer");
    assert_string_equal(g->producer_version, "1.2.3");
    assert_string_equal(g->domain, "org.test");
    assert_int_equal(g->model_version, 5);
    assert_string_equal(g->doc_string, "model doc");
    assert_string_equal(g->graph_name, "test_graph");
    assert_string_equal(g->graph_doc_string, "graph doc");
    assert_string_equal(g->path, "test.onnx");
    assert_int_equal(g->nmeta, 2);
    assert_string_equal(g->meta[1].key, "names");
    assert_string_equal(g->meta[1].value, "{0: 'person'}");
    /* the initializer listed as input stays an initializer */
    assert_int_equal(g->ninputs, 1);
    const yq_value *x = &g->values[g->inputs[0]];
    assert_string_equal(x->name, "x");
    assert_int_equal(x->flags, YQ_VAL_INPUT);
    assert_int_equal(x->dtype, YQ_DT_FLOAT);
    assert_int_equal(x->rank, 3);
    assert_int_equal(x->dims[0], -1);
    assert_string_equal(x->dim_params[0], "N");
    assert_int_equal(x->dims[1], 3);
    assert_null(x->dim_params[1]);
    assert_int_equal(x->dims[2], -1);
    assert_null(x->dim_params[2]);
    assert_string_equal(x->doc_string, "the input");
    const yq_value *w = &g->values[yq_graph_find_value(g, "w")];
    assert_int_equal(w->flags, YQ_VAL_INIT);
    assert_int_equal(w->producer, -1);
    assert_int_equal(w->nbytes, sizeof w_vals);
    assert_memory_equal(w->data, w_vals, sizeof w_vals);
    assert_string_equal(w->doc_string, "weights");
    /* value_info typed y */
    const yq_value *y = &g->values[yq_graph_find_value(g, "y")];
    assert_int_equal(y->dtype, YQ_DT_FLOAT);
    assert_int_equal(y->rank, 3);
    assert_string_equal(y->dim_params[0], "N");
    assert_int_equal(y->producer, 0);
    assert_int_equal(yq_graph_find_value(g, "not_in_graph"), -1);
    /* output without shape: rank unknown */
    assert_int_equal(g->noutputs, 1);
    const yq_value *z = &g->values[g->outputs[0]];
    assert_int_equal(z->flags, YQ_VAL_OUTPUT);
    assert_int_equal(z->dtype, YQ_DT_FLOAT);
    assert_int_equal(z->rank, -1);
    /* nodes, the Constant stays a node */
    assert_int_equal(g->nnodes, 3);
    assert_string_equal(g->nodes[0].op_type, "Add");
    assert_string_equal(g->nodes[0].doc_string, "adds");
    assert_string_equal(g->nodes[0].domain, "");
    const yq_node *c = &g->nodes[1];
    assert_string_equal(c->op_type, "Constant");
    assert_int_equal(c->ninputs, 0);
    const yq_attr *val = yq_node_attr(c, "value");
    assert_non_null(val);
    assert_int_equal(val->type, YQ_ATTR_TENSOR);
    assert_int_equal(val->t->dtype, YQ_DT_FLOAT);
    assert_int_equal(val->t->rank, 0);
    assert_true(*(float *)val->t->data == 2.0f);
    assert_null(yq_graph_find_value(g, "c") >= 0 ? g->values[yq_graph_find_value(g, "c")].data : NULL);
    assert_non_null(g->source);
    assert_non_null(g->source_free);
    tl_assert_roundtrip(g);

    /* a clone (no source) writes the modelled part; without the file's
     * value_info entries, y's type is not written */
    yq_graph *clone, *back;
    assert_int_equal(yq_graph_clone(g, &clone), YQ_OK);
    assert_null(clone->source);
    uint8_t *buf;
    size_t len;
    assert_int_equal(yq_onnx_serialize(clone, &buf, &len), YQ_OK);
    assert_int_equal(yq_onnx_load_buffer(buf, len, "clone.onnx", NULL, &back), YQ_OK);
    assert_int_equal(back->nnodes, 3);
    assert_int_equal(back->values[yq_graph_find_value(back, "y")].dtype, YQ_DT_UNDEFINED);
    tl_assert_value_equal(&clone->values[yq_graph_find_value(clone, "w")],
                          &back->values[yq_graph_find_value(back, "w")]);
    tl_assert_value_equal(&clone->values[clone->inputs[0]], &back->values[back->inputs[0]]);
    free(buf);
    yq_graph_free(back);
    yq_graph_free(clone);

    /* through a file as well */
    char path[512];
    snprintf(path, sizeof path, "%s/basic.onnx", yqt_tmpdir());
    assert_int_equal(yq_onnx_save(g, path), YQ_OK);
    yq_graph *g2;
    assert_int_equal(yq_onnx_load(path, &g2), YQ_OK);
    assert_string_equal(g2->path, path);
    tl_assert_graph_equal(g, g2);
    yq_graph_free(g2);
    yq_graph_free(g);

    /* IR 3: initializers must be graph inputs too, and are written so */
    Onnx__ModelProto *m3 = basic_model();
    m3->ir_version = 3;
    if (tl_load(m3, NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_int_equal(g->ninputs, 1);
    tl_assert_roundtrip(g);
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    Onnx__ModelProto *w3 = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(w3);
    assert_int_equal(w3->ir_version, 3);
    assert_int_equal(w3->graph->n_input, 2);
    assert_string_equal(w3->graph->input[0]->name, "x");
    assert_string_equal(w3->graph->input[1]->name, "w");
    assert_int_equal(w3->graph->input[1]->type->tensor_type->shape->n_dim, 3);
    protobuf_c_message_free_unpacked(&w3->base, NULL);
    free(buf);
    yq_graph_free(g);
    tl_free_all();
}

/* A subgraph body (for If/Loop attributes) reading outer value `outer`. */
static Onnx__GraphProto *subgraph(const char *name, const char *outer, const char *out) {
    Onnx__GraphProto *sg = tl_alloc(sizeof *sg);
    onnx__graph_proto__init(sg);
    sg->name = tl_str(name);
    sg->node = TL_ARRAY(Onnx__NodeProto *);
    sg->output = TL_ARRAY(Onnx__ValueInfoProto *);
    char ins[64];
    snprintf(ins, sizeof ins, "%s", outer);
    TL_PUSH(sg->node, sg->n_node, tl_node(NULL, "Identity", NULL, ins, out));
    TL_PUSH(sg->output, sg->n_output, tl_vi(out, YQ_DT_FLOAT, -1, NULL, NULL));
    return sg;
}

static void test_every_attribute_kind(void **state) {
    (void)state;
    Onnx__ModelProto *m = tl_model(8, 17);
    tl_input(m, tl_vi("cond", YQ_DT_BOOL, 0, NULL, NULL));
    int64_t d2[1] = {2};
    Onnx__TensorProto *only_in_branch = tl_tensor("only_in_branch", YQ_DT_FLOAT, 1, d2);
    tl_raw(only_in_branch, w_vals, 8);
    tl_init(m, only_in_branch);
    Onnx__TensorProto *unused = tl_tensor("unused", YQ_DT_FLOAT, 1, d2);
    tl_raw(unused, w_vals, 8);
    tl_init(m, unused);
    Onnx__NodeProto *n = tl_node(m, "If", "if0", "cond", "r");
    Onnx__AttributeProto *a;
    a = tl_attr(n, "then_branch", YQ_ATTR_GRAPH);
    a->g = subgraph("then", "only_in_branch", "t_out");
    a = tl_attr(n, "else_branch", YQ_ATTR_GRAPH);
    a->g = subgraph("else", "only_in_branch", "e_out");
    /* a custom-domain node carrying every other kind */
    Onnx__NodeProto *k = tl_node(m, "Everything", "all_kinds", "r", "s");
    k->domain = tl_str("com.test");
    tl_opset(m, "com.test", 1);
    a = tl_attr(k, "f", YQ_ATTR_FLOAT);
    a->has_f = 1;
    a->f = -0.125f;
    a = tl_attr(k, "i", YQ_ATTR_INT);
    a->has_i = 1;
    a->i = -(1ll << 40);
    a = tl_attr(k, "s", YQ_ATTR_STRING);
    a->has_s = 1;
    a->s.data = tl_dup("nearest", 7);
    a->s.len = 7;
    a = tl_attr(k, "t", YQ_ATTR_TENSOR);
    int64_t d3[1] = {3};
    a->t = tl_tensor("attr_tensor", YQ_DT_INT64, 1, d3);
    a->t->n_int64_data = 3;
    a->t->int64_data = tl_dup((int64_t[]){-1, 0, 7}, 24);
    a = tl_attr(k, "fs", YQ_ATTR_FLOATS);
    a->n_floats = 2;
    a->floats = tl_dup((float[]){0.5f, -1.5f}, 8);
    a = tl_attr(k, "is", YQ_ATTR_INTS);
    a->n_ints = 4;
    a->ints = tl_dup((int64_t[]){1, 2, -3, INT64_MAX}, 32);
    a = tl_attr(k, "empty_ints", YQ_ATTR_INTS);
    a = tl_attr(k, "ss", YQ_ATTR_STRINGS);
    a->n_strings = 2;
    a->strings = tl_alloc(2 * sizeof *a->strings);
    a->strings[0].data = tl_dup("ab", 2);
    a->strings[0].len = 2;
    a->strings[1].data = tl_dup("", 1);
    a->strings[1].len = 0;
    a = tl_attr(k, "ts", YQ_ATTR_TENSORS);
    a->n_tensors = 1;
    a->tensors = tl_alloc(sizeof *a->tensors);
    a->tensors[0] = tl_tensor("inner", YQ_DT_FLOAT, 1, d2);
    tl_raw(a->tensors[0], w_vals, 8);
    a = tl_attr(k, "sp", YQ_ATTR_SPARSE_TENSOR);
    a->sparse_tensor = tl_alloc(sizeof *a->sparse_tensor);
    onnx__sparse_tensor_proto__init(a->sparse_tensor);
    a->sparse_tensor->values = tl_tensor("spv", YQ_DT_FLOAT, 1, (int64_t[]){1});
    tl_raw(a->sparse_tensor->values, w_vals, 4);
    a = tl_attr(k, "tp", YQ_ATTR_TYPE_PROTO);
    a->tp = tl_vi("unused_vi", YQ_DT_INT8, 1, d2, NULL)->type;
    a = tl_attr(k, "gs", YQ_ATTR_GRAPHS);
    a->n_graphs = 1;
    a->graphs = tl_alloc(sizeof *a->graphs);
    a->graphs[0] = subgraph("g0", "r", "g_out");
    a = tl_attr(k, "ref", YQ_ATTR_INT);
    a->ref_attr_name = tl_str("outer_attr");
    a = tl_attr(k, "untyped_int", 0); /* IR 1 style: no type field */
    a->has_type = 0;
    a->has_i = 1;
    a->i = 42;
    tl_output(m, tl_vi("s", YQ_DT_FLOAT, -1, NULL, NULL));

    yq_graph *g;
    if (tl_load(m, NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_node *ifn = &g->nodes[0];
    assert_int_equal(ifn->nattrs, 2);
    assert_int_equal(ifn->attrs[0].type, YQ_ATTR_GRAPH);
    assert_non_null(ifn->attrs[0].opaque);
    const yq_node *e = &g->nodes[1];
    assert_string_equal(e->domain, "com.test");
    assert_true(yq_attr_float(e, "f", 0) == -0.125f);
    assert_int_equal(yq_attr_int(e, "i", 0), -(1ll << 40));
    assert_string_equal(yq_attr_string(e, "s", ""), "nearest");
    assert_int_equal(yq_node_attr(e, "s")->slen, 7);
    const yq_attr *t = yq_node_attr(e, "t");
    assert_int_equal(t->type, YQ_ATTR_TENSOR);
    assert_int_equal(t->t->dtype, YQ_DT_INT64);
    assert_int_equal(((int64_t *)t->t->data)[2], 7);
    const float *fs;
    assert_int_equal(yq_attr_floats(e, "fs", &fs), 2);
    assert_true(fs[1] == -1.5f);
    const int64_t *is;
    assert_int_equal(yq_attr_ints(e, "is", &is), 4);
    assert_int_equal(is[3], INT64_MAX);
    assert_int_equal(yq_attr_ints(e, "empty_ints", &is), 0);
    const yq_attr *ss = yq_node_attr(e, "ss");
    assert_int_equal(ss->type, YQ_ATTR_STRINGS);
    assert_int_equal(ss->n, 2);
    assert_string_equal(ss->strings[0], "ab");
    assert_string_equal(ss->strings[1], "");
    static const char *const opaque_names[] = {"ts", "sp", "tp", "gs", "ref"};
    static const yq_attr_type opaque_types[] = {YQ_ATTR_TENSORS, YQ_ATTR_SPARSE_TENSOR, YQ_ATTR_TYPE_PROTO,
                                                YQ_ATTR_GRAPHS, YQ_ATTR_INT};
    for (int i = 0; i < 5; i++) {
        const yq_attr *o = yq_node_attr(e, opaque_names[i]);
        assert_non_null(o);
        assert_int_equal(o->type, opaque_types[i]);
        assert_non_null(o->opaque);
        assert_true(o->opaque_len > 0);
    }
    /* a ref_attr_name attribute is not an INT the kernels may read */
    assert_int_equal(yq_attr_int(e, "ref", -7), 0); /* i is 0: the value is in the referenced attribute */
    assert_int_equal(yq_attr_int(e, "untyped_int", 0), 42);
    tl_assert_roundtrip(g);

    /* written: the initializer only the branches read is kept, the unused one dropped,
     * opaque attributes come back exactly (same packed bytes) */
    uint8_t *buf;
    size_t len;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    Onnx__ModelProto *w = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(w);
    assert_int_equal(w->graph->n_initializer, 1);
    assert_string_equal(w->graph->initializer[0]->name, "only_in_branch");
    Onnx__AttributeProto *then_b = w->graph->node[0]->attribute[0];
    assert_non_null(then_b->g);
    assert_string_equal(then_b->g->name, "then");
    assert_string_equal(then_b->g->node[0]->input[0], "only_in_branch");
    Onnx__AttributeProto *ref = w->graph->node[1]->attribute[12];
    assert_string_equal(ref->name, "ref");
    assert_string_equal(ref->ref_attr_name, "outer_attr");
    protobuf_c_message_free_unpacked(&w->base, NULL);
    free(buf);
    yq_graph_free(g);
    tl_free_all();
}

/* Unknown fields, functions, training info, sparse initializers, quantization
 * annotations and value_info come back from g->source. */
static void test_unmodelled_fields_survive(void **state) {
    (void)state;
    Onnx__ModelProto *m = basic_model();
    /* a field number no schema knows, at model and graph level */
    static uint8_t model_unknown[] = {0x2a};
    static uint8_t graph_unknown[] = {2, 'h', 'i'}; /* protobuf-c keeps the length prefix */
    ProtobufCMessageUnknownField *mu = tl_alloc(sizeof *mu);
    mu->tag = 999;
    mu->wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    mu->len = 1;
    mu->data = model_unknown;
    m->base.n_unknown_fields = 1;
    m->base.unknown_fields = mu;
    ProtobufCMessageUnknownField *gu = tl_alloc(sizeof *gu);
    gu->tag = 777;
    gu->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    gu->len = 3;
    gu->data = graph_unknown;
    m->graph->base.n_unknown_fields = 1;
    m->graph->base.unknown_fields = gu;
    /* a local function */
    Onnx__FunctionProto *f = tl_alloc(sizeof *f);
    onnx__function_proto__init(f);
    f->name = tl_str("MyFunc");
    f->domain = tl_str("com.test");
    m->n_functions = 1;
    m->functions = tl_alloc(sizeof *m->functions);
    m->functions[0] = f;
    /* training info */
    Onnx__TrainingInfoProto *ti = tl_alloc(sizeof *ti);
    onnx__training_info_proto__init(ti);
    ti->algorithm = subgraph("algo", "x", "a_out");
    m->n_training_info = 1;
    m->training_info = tl_alloc(sizeof *m->training_info);
    m->training_info[0] = ti;
    /* a sparse initializer read by a node */
    Onnx__SparseTensorProto *sp = tl_alloc(sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    sp->values = tl_tensor("sparse_w", YQ_DT_FLOAT, 1, (int64_t[]){1});
    tl_raw(sp->values, w_vals, 4);
    sp->indices = tl_tensor(NULL, YQ_DT_INT64, 1, (int64_t[]){1});
    sp->indices->n_int64_data = 1;
    sp->indices->int64_data = tl_dup((int64_t[]){2}, 8);
    sp->n_dims = 1;
    sp->dims = tl_dup((int64_t[]){4}, 8);
    m->graph->n_sparse_initializer = 1;
    m->graph->sparse_initializer = tl_alloc(sizeof *m->graph->sparse_initializer);
    m->graph->sparse_initializer[0] = sp;
    tl_node(m, "Add", "use_sparse", "z,sparse_w", "z2");
    tl_output(m, tl_vi("z2", YQ_DT_FLOAT, -1, NULL, NULL));
    /* an input of a type yoloq does not model: a sequence of float tensors */
    Onnx__ValueInfoProto *seq = tl_vi("seq", 0, -1, NULL, NULL);
    Onnx__TypeProto__Sequence *st = tl_alloc(sizeof *st);
    onnx__type_proto__sequence__init(st);
    st->elem_type = tl_vi("elem", YQ_DT_FLOAT, -1, NULL, NULL)->type;
    seq->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    seq->type->sequence_type = st;
    tl_input(m, seq);
    tl_node(m, "SequenceLength", "seq_len", "seq", "n");
    tl_output(m, tl_vi("n", YQ_DT_INT64, 0, NULL, NULL));
    /* quantization annotations: one for an existing value, one for a missing one */
    m->graph->n_quantization_annotation = 2;
    m->graph->quantization_annotation = tl_alloc(2 * sizeof *m->graph->quantization_annotation);
    for (int i = 0; i < 2; i++) {
        Onnx__TensorAnnotation *qa = tl_alloc(sizeof *qa);
        onnx__tensor_annotation__init(qa);
        qa->tensor_name = tl_str(i == 0 ? "y" : "gone");
        m->graph->quantization_annotation[i] = qa;
    }

    yq_graph *g;
    if (tl_load(m, NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *spv = &g->values[yq_graph_find_value(g, "sparse_w")];
    assert_int_equal(spv->dtype, YQ_DT_FLOAT);
    assert_int_equal(spv->rank, 1);
    assert_int_equal(spv->dims[0], 4);
    assert_null(spv->data);
    const yq_value *seqv = &g->values[yq_graph_find_value(g, "seq")];
    assert_int_equal(seqv->flags, YQ_VAL_INPUT);
    assert_int_equal(seqv->dtype, YQ_DT_UNDEFINED);
    assert_int_equal(seqv->rank, -1);
    tl_assert_roundtrip(g);

    uint8_t *buf;
    size_t len;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    Onnx__ModelProto *w = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(w);
    assert_int_equal(w->base.n_unknown_fields, 1);
    assert_int_equal(w->base.unknown_fields[0].tag, 999);
    assert_int_equal(w->base.unknown_fields[0].data[0], 0x2a);
    assert_int_equal(w->graph->base.n_unknown_fields, 1);
    assert_int_equal(w->graph->base.unknown_fields[0].tag, 777);
    assert_memory_equal(w->graph->base.unknown_fields[0].data, "\002hi", 3);
    assert_int_equal(w->n_functions, 1);
    assert_string_equal(w->functions[0]->name, "MyFunc");
    assert_int_equal(w->n_training_info, 1);
    assert_string_equal(w->training_info[0]->algorithm->name, "algo");
    assert_int_equal(w->graph->n_sparse_initializer, 1);
    assert_string_equal(w->graph->sparse_initializer[0]->values->name, "sparse_w");
    assert_int_equal(w->graph->sparse_initializer[0]->indices->int64_data[0], 2);
    assert_int_equal(w->graph->n_quantization_annotation, 1);
    assert_string_equal(w->graph->quantization_annotation[0]->tensor_name, "y");
    /* value_info: y kept (with its dim_param), not_in_graph dropped */
    assert_int_equal(w->graph->n_value_info, 1);
    assert_string_equal(w->graph->value_info[0]->name, "y");
    assert_string_equal(w->graph->value_info[0]->type->tensor_type->shape->dim[0]->dim_param, "N");
    assert_string_equal(w->graph->input[0]->doc_string, "the input");
    assert_string_equal(w->graph->input[1]->name, "seq");
    assert_int_equal(w->graph->input[1]->type->value_case, ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE);
    assert_int_equal(w->graph->input[1]->type->sequence_type->elem_type->tensor_type->elem_type, YQ_DT_FLOAT);
    assert_string_equal(w->graph->initializer[0]->doc_string, "weights");
    assert_string_equal(w->graph->node[0]->doc_string, "adds");
    assert_string_equal(w->doc_string, "model doc");
    assert_string_equal(w->graph->doc_string, "graph doc");
    protobuf_c_message_free_unpacked(&w->base, NULL);
    free(buf);

    /* a clone has no source, so nothing defines the sparse initializer any more */
    yq_graph *c;
    assert_int_equal(yq_graph_clone(g, &c), YQ_OK);
    assert_null(c->source);
    assert_int_equal(yq_onnx_serialize(c, &buf, &len), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'sparse_w'"));
    yq_graph_free(c);
    yq_graph_free(g);
    tl_free_all();
}

/* The writer after IR edits: dead nodes skipped, unreferenced initializers
 * dropped, 4-bit tensors raise the IR version, order and names checked. */
static void test_writer_rules(void **state) {
    (void)state;
    Onnx__ModelProto *m = tl_model(8, 17);
    int64_t d[1] = {2};
    tl_input(m, tl_vi("x", YQ_DT_FLOAT, 1, d, NULL));
    const char *names[2] = {"w1", "w2"};
    for (int i = 0; i < 2; i++) {
        Onnx__TensorProto *t = tl_tensor(names[i], YQ_DT_FLOAT, 1, d);
        tl_raw(t, w_vals + 2 * i, 8);
        tl_init(m, t);
    }
    tl_node(m, "Add", "keep", "x,w1", "y");
    tl_node(m, "Mul", "drop", "x,w2", "u");
    tl_output(m, tl_vi("y", YQ_DT_FLOAT, 1, d, NULL));
    yq_graph *g;
    if (tl_load(m, NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    g->nodes[1].dead = 1;
    uint8_t *buf;
    size_t len;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    Onnx__ModelProto *w = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(w);
    assert_int_equal(w->graph->n_node, 1);
    assert_string_equal(w->graph->node[0]->name, "keep");
    assert_int_equal(w->graph->n_initializer, 1);
    assert_string_equal(w->graph->initializer[0]->name, "w1");
    assert_int_equal(w->ir_version, 8);
    protobuf_c_message_free_unpacked(&w->base, NULL);
    free(buf);
    tl_assert_roundtrip(g);

    /* deterministic: the same IR serializes to the same bytes */
    uint8_t *b2;
    size_t l2;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    assert_int_equal(yq_onnx_serialize(g, &b2, &l2), YQ_OK);
    assert_int_equal(len, l2);
    assert_memory_equal(buf, b2, len);
    free(buf);
    free(b2);

    /* an INT4 initializer added by a pass: written as IR 10, packed */
    int8_t q[3] = {-8, 7, -1};
    int64_t qd[1] = {3};
    int qid;
    assert_int_equal(yq_graph_add_initializer(g, "q", YQ_DT_INT4, 1, qd, q, &qid), YQ_OK);
    int y = yq_graph_find_value(g, "y"), out;
    assert_int_equal(yq_graph_add_value(g, "qy", &out), YQ_OK);
    int ins[2] = {y, qid};
    assert_int_equal(yq_graph_add_node(g, "Custom", "com.test", "useq", ins, 2, &out, 1, NULL), YQ_OK);
    g->values[out].flags |= YQ_VAL_OUTPUT;
    g->outputs = realloc(g->outputs, 2 * sizeof(int));
    g->outputs[g->noutputs++] = out;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
    w = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(w);
    assert_int_equal(w->ir_version, 10);
    const Onnx__TensorProto *qt = w->graph->initializer[1];
    assert_string_equal(qt->name, "q");
    assert_int_equal(qt->data_type, 22);
    assert_int_equal(qt->raw_data.len, 2);
    assert_int_equal(qt->raw_data.data[0], 0x78); /* -8 low, 7 high */
    assert_int_equal(qt->raw_data.data[1], 0x0F); /* -1, padding */
    protobuf_c_message_free_unpacked(&w->base, NULL);
    yq_graph *g2;
    assert_int_equal(yq_onnx_load_buffer(buf, len, "int4.onnx", NULL, &g2), YQ_OK);
    const yq_value *q2 = &g2->values[yq_graph_find_value(g2, "q")];
    assert_int_equal(q2->dtype, YQ_DT_INT4);
    assert_memory_equal(q2->data, q, 3);
    yq_graph_free(g2);
    free(buf);

    /* nodes out of topological order are refused, naming node and value */
    yq_node tmp = g->nodes[0];
    g->nodes[0] = g->nodes[2];
    g->nodes[2] = tmp;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'useq'"));
    assert_non_null(strstr(yq_last_error(), "'y'"));
    assert_non_null(strstr(yq_last_error(), "topological"));
    assert_null(buf);
    /* save reports the path and leaves nothing behind */
    char path[512];
    snprintf(path, sizeof path, "%s/unsorted.onnx", yqt_tmpdir());
    assert_int_equal(yq_onnx_save(g, path), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), path));
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
    tmp = g->nodes[0];
    g->nodes[0] = g->nodes[2];
    g->nodes[2] = tmp;
    /* an unwritable destination */
    assert_int_equal(yq_onnx_save(g, "/nonexistent-dir/x.onnx"), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), "/nonexistent-dir/x.onnx"));
    /* an initializer whose byte count disagrees with its dims is a bug, reported */
    g->values[yq_graph_find_value(g, "w1")].nbytes = 4;
    assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_ERR_INTERNAL);
    assert_non_null(strstr(yq_last_error(), "initializer 'w1'"));
    yq_graph_free(g);
    tl_free_all();
}

/* ---- external data ------------------------------------------------------------------ */

static Onnx__ModelProto *external_model(const char *location, const char *offset, const char *length) {
    Onnx__ModelProto *m = tl_model(8, 17);
    int64_t d[2] = {2, 3};
    Onnx__TensorProto *t = tl_tensor("ext_w", YQ_DT_FLOAT, 2, d);
    tl_external(t, location, offset, length);
    tl_init(m, t);
    tl_node(m, "Identity", "id", "ext_w", "y");
    tl_output(m, tl_vi("y", YQ_DT_FLOAT, 2, d, NULL));
    return m;
}

static void test_external_data(void **state) {
    (void)state;
    char dir[512], sub[600], path[700];
    snprintf(dir, sizeof dir, "%s/ext", yqt_tmpdir());
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0755);
    /* 64 bytes of something else, then the tensor */
    uint8_t file[64 + sizeof w_vals];
    memset(file, 0xAB, 64);
    memcpy(file + 64, w_vals, sizeof w_vals);
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    tl_write(path, file, sizeof file);
    snprintf(path, sizeof path, "%s/w.bin", sub);
    tl_write(path, w_vals, sizeof w_vals);
    snprintf(path, sizeof path, "%s/outside.bin", yqt_tmpdir());
    tl_write(path, w_vals, sizeof w_vals);

    /* good: offset + length, via a file and via a buffer with base_dir */
    yq_graph *g;
    Onnx__ModelProto *m = external_model("weights.bin", "64", "24");
    size_t len;
    uint8_t *buf = tl_pack(m, &len);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    tl_write(path, buf, len);
    if (yq_onnx_load(path, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *v = &g->values[yq_graph_find_value(g, "ext_w")];
    assert_int_equal(v->nbytes, sizeof w_vals);
    assert_memory_equal(v->data, w_vals, sizeof w_vals);
    assert_string_equal(v->external_location, "weights.bin");
    /* written inline: the reloaded model needs no external file */
    uint8_t *out;
    size_t out_len;
    assert_int_equal(yq_onnx_serialize(g, &out, &out_len), YQ_OK);
    yq_graph *g2;
    assert_int_equal(yq_onnx_load_buffer(out, out_len, "inline.onnx", NULL, &g2), YQ_OK);
    assert_memory_equal(g2->values[yq_graph_find_value(g2, "ext_w")].data, w_vals, sizeof w_vals);
    assert_null(g2->values[yq_graph_find_value(g2, "ext_w")].external_location);
    yq_graph_free(g2);
    free(out);
    yq_graph_free(g);
    assert_int_equal(tl_load(external_model("sub/w.bin", NULL, NULL), dir, &g), YQ_OK);
    assert_memory_equal(g->values[yq_graph_find_value(g, "ext_w")].data, w_vals, sizeof w_vals);
    yq_graph_free(g);
    assert_int_equal(tl_load(external_model("./sub/../sub/w.bin", "0", NULL), dir, &g), YQ_ERR_INVALID);

    /* escapes and bad references, each naming the tensor */
    tl_expect_fail(external_model("../outside.bin", NULL, NULL), dir, YQ_ERR_INVALID, "leaves the model's folder");
    tl_expect_fail(external_model("sub/../../outside.bin", NULL, NULL), dir, YQ_ERR_INVALID, "'..'");
    tl_expect_fail(external_model("..\\outside.bin", NULL, NULL), dir, YQ_ERR_INVALID, "leaves the model's folder");
    snprintf(path, sizeof path, "%s/outside.bin", yqt_tmpdir());
    tl_expect_fail(external_model(path, NULL, NULL), dir, YQ_ERR_INVALID, "absolute path");
    tl_expect_fail(external_model("weights.bin", "80", NULL), dir, YQ_ERR_INVALID, "holds 88 bytes");
    tl_expect_fail(external_model("weights.bin", "65", "24"), dir, YQ_ERR_INVALID, "at offset 65");
    tl_expect_fail(external_model("weights.bin", "99999999999999999999", NULL), dir, YQ_ERR_INVALID, "offset");
    tl_expect_fail(external_model("weights.bin", "-1", NULL), dir, YQ_ERR_INVALID, "not a non-negative number");
    tl_expect_fail(external_model("weights.bin", "0", "20"), dir, YQ_ERR_INVALID, "length 20");
    tl_expect_fail(external_model("missing.bin", NULL, NULL), dir, YQ_ERR_IO, "cannot open external data file");
    tl_expect_fail(external_model("sub", NULL, NULL), dir, YQ_ERR_IO, "not a regular file");
    tl_expect_fail(external_model("", NULL, NULL), dir, YQ_ERR_INVALID, "no location");
    tl_expect_fail(external_model("weights.bin", NULL, NULL), NULL, YQ_ERR_INVALID, "without a folder");
    tl_expect_fail(external_model("../outside.bin", NULL, NULL), dir, YQ_ERR_INVALID, "initializer 'ext_w'");
    /* symbolic links: one leading out of the folder is refused, one inside it is followed */
    char link[700];
    snprintf(path, sizeof path, "%s/outside.bin", yqt_tmpdir());
    snprintf(link, sizeof link, "%s/sub/escape.bin", dir);
    unlink(link);
    assert_int_equal(symlink(path, link), 0);
    tl_expect_fail(external_model("sub/escape.bin", NULL, NULL), dir, YQ_ERR_INVALID, "outside the model's folder");
    snprintf(link, sizeof link, "%s/inside.bin", dir);
    unlink(link);
    assert_int_equal(symlink("sub/w.bin", link), 0);
    assert_int_equal(tl_load(external_model("inside.bin", NULL, NULL), dir, &g), YQ_OK);
    assert_memory_equal(g->values[yq_graph_find_value(g, "ext_w")].data, w_vals, sizeof w_vals);
    yq_graph_free(g);

    /* a short external file: the data file is cut */
    snprintf(path, sizeof path, "%s/short.bin", dir);
    tl_write(path, w_vals, sizeof w_vals - 1);
    tl_expect_fail(external_model("short.bin", NULL, NULL), dir, YQ_ERR_INVALID, "holds 23 bytes");

    /* INT4 stored externally is unpacked like raw_data */
    snprintf(path, sizeof path, "%s/int4.bin", dir);
    tl_write(path, "\xE1\x87", 2);
    m = tl_model(10, 21);
    int64_t d4[1] = {4};
    Onnx__TensorProto *t = tl_tensor("q", YQ_DT_INT4, 1, d4);
    tl_external(t, "int4.bin", NULL, "2");
    tl_init(m, t);
    tl_node(m, "Identity", "id", "q", "y");
    tl_output(m, tl_vi("y", YQ_DT_INT4, 1, d4, NULL));
    assert_int_equal(tl_load(m, dir, &g), YQ_OK);
    const int8_t want[4] = {1, -2, 7, -8};
    assert_memory_equal(g->values[yq_graph_find_value(g, "q")].data, want, 4);
    yq_graph_free(g);
    tl_free_all();
}

/* ---- malformed models -------------------------------------------------------------------------- */

static void test_model_errors(void **state) {
    (void)state;
    Onnx__ModelProto *m;

    m = basic_model();
    m->graph = NULL;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "has no graph");
    m = basic_model();
    m->n_opset_import = 0;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "imports no operator set");
    m = basic_model();
    m->has_ir_version = 0;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "no ir_version");
    m = basic_model();
    m->ir_version = 11;
    tl_expect_fail(m, NULL, YQ_ERR_UNSUPPORTED, "IR version 11");
    m = basic_model();
    m->ir_version = 2;
    tl_expect_fail(m, NULL, YQ_ERR_UNSUPPORTED, "IR version 2");
    m = basic_model();
    m->graph->n_node = 0;
    m->graph->n_output = 0;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "the graph has no nodes");
    m = basic_model();
    m->graph->n_output = 0;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "the graph has no outputs");
    m = basic_model();
    tl_output(m, tl_vi("nowhere", YQ_DT_FLOAT, -1, NULL, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "graph output 'nowhere' is not produced");
    m = basic_model();
    tl_node(m, "Relu", "reader", "ghost", "r");
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "node 'reader' (Relu) reads 'ghost'");
    m = basic_model();
    tl_node(m, "Relu", "second", "x", "y");
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "'y' is produced by two nodes, 'add0' (Add) and 'second' (Relu)");
    m = basic_model();
    tl_node(m, "Relu", NULL, "x", "w");
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "node #3 (Relu) writes 'w'");
    m = basic_model();
    tl_node(m, "Split", "twice", "x", "p,p");
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "lists output 'p' twice");
    m = basic_model();
    tl_node(m, "", "noop", "x", "q");
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "node 'noop' () has no op_type");
    m = basic_model();
    tl_init(m, m->graph->initializer[0]);
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "initializer 'w' is defined twice");
    m = basic_model();
    tl_init(m, tl_tensor(NULL, YQ_DT_FLOAT, 0, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "initializer #1 has no name");
    m = basic_model();
    tl_input(m, tl_vi("x", YQ_DT_FLOAT, -1, NULL, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "graph input 'x' is listed twice");
    m = basic_model();
    tl_attr(m->graph->node[0], "", YQ_ATTR_INT);
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "node 'add0' (Add) has an attribute without a name");
    m = basic_model();
    tl_attr(m->graph->node[1], "bad", YQ_ATTR_TENSOR);
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "attribute 'bad' of node 'const0' (Constant) is a TENSOR but holds no tensor");
    /* shapes beyond the limits, in inputs, value_info and outputs */
    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    m = basic_model();
    tl_input(m, tl_vi("big", YQ_DT_FLOAT, 9, d9, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_LIMIT, "graph input 'big' has rank 9");
    m = basic_model();
    tl_value_info(m, tl_vi("y", YQ_DT_FLOAT, 9, d9, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_LIMIT, "value 'y' has rank 9");
    m = basic_model();
    m->graph->output[0] = tl_vi("z", YQ_DT_FLOAT, 9, d9, NULL);
    tl_expect_fail(m, NULL, YQ_ERR_LIMIT, "graph output 'z' has rank 9");
    int64_t dneg[2] = {1, -4};
    m = basic_model();
    m->graph->output[0] = tl_vi("z", YQ_DT_FLOAT, 2, dneg, NULL);
    /* a negative dim_value cannot be written by tl_vi (it means "unknown"), so patch it */
    m->graph->output[0]->type->tensor_type->shape->dim[1]->value_case =
        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    m->graph->output[0]->type->tensor_type->shape->dim[1]->dim_value = -4;
    tl_expect_fail(m, NULL, YQ_ERR_INVALID, "graph output 'z' has negative dim -4");
    tl_free_all();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_ir),
        cmocka_unit_test(test_every_attribute_kind),
        cmocka_unit_test(test_unmodelled_fields_survive),
        cmocka_unit_test(test_writer_rules),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_model_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
