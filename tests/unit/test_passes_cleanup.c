/* The clean-up passes (yq_pass_cleanup / yq_qcdq_cleanup): each rewrite on a
 * small graph where it applies and one where it must not, graph outputs keep
 * their names, Q/DQ pairs and QCDQ weight chains survive constant folding,
 * and every cleaned graph computes the same outputs as the original. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ir/passes.h"
#include "quant/qcdq.h"
#include "rt/prepare.h"
#include "rt/session.h"

typedef struct tb {
    yq_graph *g;
    int x;       /* the graph input */
    int last;    /* last node added */
} tb;

static tb tb_new(int rank, const int64_t *dims) {
    tb t = {0};
    assert_int_equal(yq_graph_new(&t.g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(t.g, "", 17), YQ_OK);
    assert_int_equal(yq_graph_add_value(t.g, "x", &t.x), YQ_OK);
    yq_value *v = &t.g->values[t.x];
    v->flags |= YQ_VAL_INPUT;
    v->dtype = YQ_DT_FLOAT;
    v->rank = rank;
    memcpy(v->dims, dims, (size_t)rank * sizeof *dims);
    t.g->inputs = malloc(sizeof(int));
    t.g->inputs[0] = t.x;
    t.g->ninputs = 1;
    return t;
}

/* A node with one fresh output named `out`; returns the output's id. */
static int tb_node(tb *t, const char *op, const int *ins, int nin, const char *out) {
    int o;
    assert_int_equal(yq_graph_add_value(t->g, out, &o), YQ_OK);
    char name[64];
    snprintf(name, sizeof name, "%s_node", out);
    assert_int_equal(yq_graph_add_node(t->g, op, "", name, ins, nin, &o, 1, &t->last), YQ_OK);
    return o;
}

static yq_node *tb_last(tb *t) { return &t->g->nodes[t->last]; }

static int tb_i64(tb *t, int n, const int64_t *v) {
    int64_t d = n;
    int id;
    assert_int_equal(yq_graph_add_initializer(t->g, "c", YQ_DT_INT64, 1, &d, v, &id), YQ_OK);
    return id;
}

static int tb_f32(tb *t, int rank, const int64_t *dims, const float *v) {
    int id;
    assert_int_equal(yq_graph_add_initializer(t->g, "f", YQ_DT_FLOAT, rank, dims, v, &id), YQ_OK);
    return id;
}

static void tb_output(tb *t, int v) {
    t->g->outputs = realloc(t->g->outputs, (size_t)(t->g->noutputs + 1) * sizeof(int));
    t->g->outputs[t->g->noutputs++] = v;
    t->g->values[v].flags |= YQ_VAL_OUTPUT;
}

/* Resolve, sort and infer shapes without folding: what the pass sees. */
static void tb_infer(tb *t) {
    assert_int_equal(yq_resolve_ops(t->g), YQ_OK);
    assert_int_equal(yq_graph_toposort(t->g), YQ_OK);
    assert_int_equal(yq_infer_and_fold(t->g, NULL, 0), YQ_OK);
}

static int count_op(const yq_graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return c;
}

static int live(const yq_graph *g) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += !g->nodes[i].dead;
    return c;
}

/* Output 0 of g on input x (numel n) in a fresh session; caller frees. */
static float *run_graph(const yq_graph *g, const float *x, int64_t *nout) {
    yq_graph *c;
    assert_int_equal(yq_graph_clone(g, &c), YQ_OK);
    yq_session *s;
    yq_status st = yq_session_new(c, NULL, &s);
    if (st != YQ_OK) print_message("%s\n", yq_last_error());
    assert_int_equal(st, YQ_OK);
    const yq_value *xv = &g->values[g->inputs[0]];
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = xv->rank, .data = (void *)x};
    memcpy(in.dims, xv->dims, sizeof in.dims);
    assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
    const yq_tensor *o = yq_session_output(s, 0);
    *nout = yq_tensor_numel(o);
    float *r = malloc((size_t)*nout * sizeof *r);
    memcpy(r, o->data, (size_t)*nout * sizeof *r);
    yq_session_free(s);
    return r;
}

/* Clean t's graph; it must compute bit-identical outputs and keep output 0's name. */
static yq_cleanup_stats clean_and_compare(tb *t) {
    const yq_value *xv = &t->g->values[t->x];
    int64_t n = yq_value_numel(xv);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 37) % 23) * 0.173f - 1.9f;
    int64_t n0, n1;
    float *want = run_graph(t->g, x, &n0);
    char *oname = strdup(t->g->values[t->g->outputs[0]].name);
    yq_cleanup_stats s;
    yq_status st = yq_qcdq_cleanup(t->g, NULL, &s);
    if (st != YQ_OK) print_message("%s\n", yq_last_error());
    assert_int_equal(st, YQ_OK);
    assert_string_equal(t->g->values[t->g->outputs[0]].name, oname);
    float *got = run_graph(t->g, x, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(got, want, (size_t)n0 * sizeof *got);
    free(want);
    free(got);
    free(oname);
    free(x);
    return s;
}

static const int64_t X4[4] = {1, 2, 3, 4};

/* x -> Identity -> Relu -> Identity -> y (graph output): both go, y keeps its name. */
static void test_identity(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int a = tb_node(&t, "Identity", &t.x, 1, "a");
    int b = tb_node(&t, "Relu", &a, 1, "b");
    int y = tb_node(&t, "Identity", &b, 1, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.identity, 2);
    assert_int_equal(live(t.g), 1);
    assert_string_equal(t.g->nodes[0].op_type, "Relu");
    yq_graph_free(t.g);
}

/* An Identity from the graph input straight to the output must stay (the
 * output name cannot move onto the input). */
static void test_identity_input_to_output_kept(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int y = tb_node(&t, "Identity", &t.x, 1, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.identity, 0);
    assert_int_equal(count_op(t.g, "Identity"), 1);
    yq_graph_free(t.g);
}

/* Cast float -> float goes; Cast float -> int32 -> float stays. */
static void test_cast(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int a = tb_node(&t, "Cast", &t.x, 1, "a");
    assert_int_equal(yq_node_set_attr_int(tb_last(&t), "to", YQ_DT_FLOAT), YQ_OK);
    int b = tb_node(&t, "Cast", &a, 1, "b");
    assert_int_equal(yq_node_set_attr_int(tb_last(&t), "to", YQ_DT_INT32), YQ_OK);
    int y = tb_node(&t, "Cast", &b, 1, "y");
    assert_int_equal(yq_node_set_attr_int(tb_last(&t), "to", YQ_DT_FLOAT), YQ_OK);
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.cast, 1);
    assert_int_equal(count_op(t.g, "Cast"), 2);
    yq_graph_free(t.g);
}

/* Transpose perm (0,1,2,3) goes; (0,2,3,1) -> (0,3,1,2) compose to the
 * identity and both go; (0,2,3,1) -> (0,2,3,1) merge into one (0,3,1,2). */
static void test_transpose(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int a = tb_node(&t, "Transpose", &t.x, 1, "a");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 1, 2, 3}, 4), YQ_OK);
    int b = tb_node(&t, "Transpose", &a, 1, "b");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 2, 3, 1}, 4), YQ_OK);
    int c = tb_node(&t, "Transpose", &b, 1, "c");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 3, 1, 2}, 4), YQ_OK);
    int d = tb_node(&t, "Relu", &c, 1, "d");
    int e = tb_node(&t, "Transpose", &d, 1, "e");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 2, 3, 1}, 4), YQ_OK);
    int y = tb_node(&t, "Transpose", &e, 1, "y");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 2, 3, 1}, 4), YQ_OK);
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(count_op(t.g, "Transpose"), 1);
    assert_int_equal(s.transpose_fused, 2);
    for (int i = 0; i < t.g->nnodes; i++)
        if (!strcmp(t.g->nodes[i].op_type, "Transpose")) {
            const int64_t *p;
            assert_int_equal(yq_attr_ints(&t.g->nodes[i], "perm", &p), 4);
            assert_true(p[0] == 0 && p[1] == 3 && p[2] == 1 && p[3] == 2);
        }
    yq_graph_free(t.g);
}

/* The first Transpose has a second reader: no merge. */
static void test_transpose_two_readers_not_fused(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int a = tb_node(&t, "Transpose", &t.x, 1, "a");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 2, 3, 1}, 4), YQ_OK);
    int b = tb_node(&t, "Transpose", &a, 1, "b");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 3, 1, 2}, 4), YQ_OK);
    int c = tb_node(&t, "Relu", &a, 1, "c");
    int tr = tb_node(&t, "Transpose", &c, 1, "ct");
    assert_int_equal(yq_node_set_attr_ints(tb_last(&t), "perm", (int64_t[]){0, 3, 1, 2}, 4), YQ_OK);
    int in2[2] = {b, tr};
    int y = tb_node(&t, "Add", in2, 2, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.transpose_fused, 0);
    assert_int_equal(count_op(t.g, "Transpose"), 3);
    yq_graph_free(t.g);
}

/* Reshape to its own shape goes; Reshape -> Reshape becomes one Reshape. */
static void test_reshape(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int in[2] = {t.x, tb_i64(&t, 4, (int64_t[]){1, 2, 3, 4})};
    int a = tb_node(&t, "Reshape", in, 2, "a");
    int in2[2] = {a, tb_i64(&t, 2, (int64_t[]){6, -1})};
    int b = tb_node(&t, "Reshape", in2, 2, "b");
    int in3[2] = {b, tb_i64(&t, 3, (int64_t[]){0, 2, 2})};
    int y = tb_node(&t, "Reshape", in3, 2, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.reshape, 1);
    assert_int_equal(s.reshape_fused, 1);
    assert_int_equal(count_op(t.g, "Reshape"), 1);
    int64_t want[3] = {6, 2, 2};
    const yq_value *yv = &t.g->values[t.g->outputs[0]];
    assert_int_equal(yv->rank, 3);
    assert_memory_equal(yv->dims, want, sizeof want);
    yq_graph_free(t.g);
}

/* The first Reshape has a second reader: both Reshapes stay. */
static void test_reshape_two_readers_not_fused(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int in[2] = {t.x, tb_i64(&t, 2, (int64_t[]){6, 4})};
    int a = tb_node(&t, "Reshape", in, 2, "a");
    int in2[2] = {a, tb_i64(&t, 2, (int64_t[]){4, 6})};
    int b = tb_node(&t, "Reshape", in2, 2, "b");
    int in3[2] = {a, tb_i64(&t, 2, (int64_t[]){4, 6})};
    int c = tb_node(&t, "Reshape", in3, 2, "rc");
    int r = tb_node(&t, "Relu", &c, 1, "r");
    int in4[2] = {b, r};
    int y = tb_node(&t, "Add", in4, 2, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.reshape_fused, 0);
    assert_int_equal(count_op(t.g, "Reshape"), 3);
    yq_graph_free(t.g);
}

/* Unsqueeze -> Squeeze of the same axis cancels. */
static void test_unsqueeze_squeeze_pair(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int r = tb_node(&t, "Relu", &t.x, 1, "r");
    int in[2] = {r, tb_i64(&t, 1, (int64_t[]){2})};
    int a = tb_node(&t, "Unsqueeze", in, 2, "a");
    int in2[2] = {a, tb_i64(&t, 1, (int64_t[]){2})};
    int y = tb_node(&t, "Squeeze", in2, 2, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.shape_pairs, 1);
    assert_int_equal(live(t.g), 1);
    assert_string_equal(t.g->values[t.g->outputs[0]].name, "y");
    yq_graph_free(t.g);
}

/* Add(const, const) folds; a dead branch goes; a QuantizeLinear ->
 * DequantizeLinear pair on a constant and an int8 -> Clip -> DequantizeLinear
 * weight chain both survive although all their inputs are constants. */
static void test_fold_keeps_qdq(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int64_t d4[1] = {4};
    int c1 = tb_f32(&t, 1, d4, (float[]){1, 2, 3, 4}), c2 = tb_f32(&t, 1, d4, (float[]){0.5f, 0.25f, 2, 8});
    int in[2] = {c1, c2};
    int k = tb_node(&t, "Add", in, 2, "k");
    /* a constant through Q -> DQ */
    float s1 = 0.05f;
    uint8_t z1 = 3;
    int sc, zp;
    assert_int_equal(yq_graph_add_initializer(t.g, "s", YQ_DT_FLOAT, 0, NULL, &s1, &sc), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(t.g, "z", YQ_DT_UINT8, 0, NULL, &z1, &zp), YQ_OK);
    int qin[3] = {tb_f32(&t, 1, d4, (float[]){0.3f, -0.1f, 0.07f, 9.0f}), sc, zp};
    int kq = tb_node(&t, "QuantizeLinear", qin, 3, "kq");
    int dqin[3] = {kq, sc, zp};
    int kd = tb_node(&t, "DequantizeLinear", dqin, 3, "kd");
    /* int8 weights -> Clip [-8, 7] -> DQ */
    int8_t w[4] = {-9, -3, 5, 9}, lo = -8, hi = 7, wz = 0;
    float ws = 0.125f;
    int wid, loid, hiid, wsid, wzid;
    assert_int_equal(yq_graph_add_initializer(t.g, "w", YQ_DT_INT8, 1, d4, w, &wid), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(t.g, "lo", YQ_DT_INT8, 0, NULL, &lo, &loid), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(t.g, "hi", YQ_DT_INT8, 0, NULL, &hi, &hiid), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(t.g, "ws", YQ_DT_FLOAT, 0, NULL, &ws, &wsid), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(t.g, "wz", YQ_DT_INT8, 0, NULL, &wz, &wzid), YQ_OK);
    int cin[3] = {wid, loid, hiid};
    int wc = tb_node(&t, "Clip", cin, 3, "wc");
    int wdin[3] = {wc, wsid, wzid};
    int wd = tb_node(&t, "DequantizeLinear", wdin, 3, "wd");
    int a1[2] = {t.x, k};
    int m = tb_node(&t, "Mul", a1, 2, "m");
    int a2[2] = {m, wd};
    int m2 = tb_node(&t, "Add", a2, 2, "m2");
    int a3[2] = {m2, kd};
    int y = tb_node(&t, "Sub", a3, 2, "y");
    tb_node(&t, "Relu", &m, 1, "unused"); /* dead */
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s = clean_and_compare(&t);
    assert_int_equal(s.folded, 1);
    assert_int_equal(s.dead, 1);
    assert_int_equal(count_op(t.g, "QuantizeLinear"), 1);
    assert_int_equal(count_op(t.g, "DequantizeLinear"), 2);
    assert_int_equal(count_op(t.g, "Clip"), 1);
    assert_int_equal(count_op(t.g, "Relu"), 0);
    assert_int_equal(live(t.g), 7);
    yq_graph_free(t.g);
}

/* Without an evaluator nothing is folded. */
static void test_no_eval_no_fold(void **state) {
    (void)state;
    tb t = tb_new(4, X4);
    int64_t d4[1] = {4};
    int in[2] = {tb_f32(&t, 1, d4, (float[]){1, 2, 3, 4}), tb_f32(&t, 1, d4, (float[]){1, 1, 1, 1})};
    int k = tb_node(&t, "Add", in, 2, "k");
    int a[2] = {t.x, k};
    int y = tb_node(&t, "Add", a, 2, "y");
    tb_output(&t, y);
    tb_infer(&t);
    yq_cleanup_stats s;
    assert_int_equal(yq_pass_cleanup(t.g, NULL, &s), YQ_OK);
    assert_int_equal(s.folded, 0);
    assert_int_equal(count_op(t.g, "Add"), 2);
    yq_graph_free(t.g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_identity_input_to_output_kept),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_transpose_two_readers_not_fused),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_reshape_two_readers_not_fused),
        cmocka_unit_test(test_unsqueeze_squeeze_pair),
        cmocka_unit_test(test_fold_keeps_qdq),
        cmocka_unit_test(test_no_eval_no_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
