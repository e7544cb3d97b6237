/* yq_qcdq_finalize_opset: a QCDQ graph is written at opset 13 when every
 * node means the same there as at the model's opset — lowered with default
 * attributes dropped and Reduce* axes inputs turned back into attributes —
 * and keeps the model's opset, naming the node, when one does not. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "quant/qcdq.h"

/* x [2,3,4] -> op(x, extra inputs) -> y at `opset`. */
static yq_graph *one_node(int64_t opset, const char *op, const int64_t *i64, int ni64, yq_node **node) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", opset), YQ_OK);
    g->ir_version = 8;
    int x, y, c = -1, n;
    assert_int_equal(yq_graph_add_value(g, "x", &x), YQ_OK);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 3;
    g->values[x].dims[0] = 2, g->values[x].dims[1] = 3, g->values[x].dims[2] = 4;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    if (i64) {
        int64_t d = ni64;
        assert_int_equal(yq_graph_add_initializer(g, "k", YQ_DT_INT64, 1, &d, i64, &c), YQ_OK);
    }
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    int in[2] = {x, c};
    assert_int_equal(yq_graph_add_node(g, op, "", "the_node", in, i64 ? 2 : 1, &y, 1, &n), YQ_OK);
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    *node = &g->nodes[n];
    return g;
}

static yq_qcdq_opset_note finalize(yq_graph *g) {
    yq_qcdq_opset_note note;
    assert_int_equal(yq_qcdq_finalize_opset(g, &note), YQ_OK);
    assert_int_equal(note.opset, yq_graph_opset(g, ""));
    return note;
}

static void test_reduce_axes_input_lowered(void **state) {
    (void)state;
    yq_node *n;
    yq_graph *g = one_node(18, "ReduceMax", (const int64_t[]){1}, 1, &n);
    assert_int_equal(yq_node_set_attr_int(n, "keepdims", 1), YQ_OK);
    yq_qcdq_opset_note note = finalize(g);
    assert_int_equal(note.model_opset, 18);
    assert_int_equal(note.opset, 13);
    n = &g->nodes[0];
    assert_int_equal(n->ninputs, 1);
    const int64_t *axes;
    assert_int_equal(yq_attr_ints(n, "axes", &axes), 1);
    assert_int_equal(axes[0], 1);
    yq_graph_free(g);
}

static void test_reduce_noop_empty_axes_kept(void **state) {
    (void)state;
    yq_node *n;
    yq_graph *g = one_node(18, "ReduceMax", NULL, 0, &n);
    assert_int_equal(yq_node_set_attr_int(n, "noop_with_empty_axes", 1), YQ_OK);
    yq_qcdq_opset_note note = finalize(g);
    assert_int_equal(note.opset, 18);
    assert_non_null(strstr(note.reason, "the_node"));
    assert_non_null(strstr(note.reason, "noop_with_empty_axes"));
    yq_graph_free(g);
}

static void test_reshape_allowzero(void **state) {
    (void)state;
    yq_node *n;
    yq_graph *g = one_node(17, "Reshape", (const int64_t[]){6, 4}, 2, &n);
    assert_int_equal(yq_node_set_attr_int(n, "allowzero", 0), YQ_OK);
    yq_qcdq_opset_note note = finalize(g);
    assert_int_equal(note.opset, 13);
    assert_null(yq_node_attr(&g->nodes[0], "allowzero")); /* dropped: not an opset-13 attribute */
    yq_graph_free(g);

    g = one_node(17, "Reshape", (const int64_t[]){6, 4}, 2, &n);
    assert_int_equal(yq_node_set_attr_int(n, "allowzero", 1), YQ_OK);
    note = finalize(g);
    assert_int_equal(note.opset, 17);
    assert_non_null(strstr(note.reason, "allowzero"));
    yq_graph_free(g);
}

static void test_new_ops_and_attrs_kept(void **state) {
    (void)state;
    yq_node *n;
    yq_graph *g = one_node(17, "LayerNormalization", NULL, 0, &n);
    yq_qcdq_opset_note note = finalize(g);
    assert_int_equal(note.opset, 17);
    assert_non_null(strstr(note.reason, "LayerNormalization"));
    yq_graph_free(g);

    g = one_node(18, "Split", NULL, 0, &n);
    assert_int_equal(yq_node_set_attr_int(n, "num_outputs", 1), YQ_OK);
    assert_int_equal(finalize(g).opset, 18);
    yq_graph_free(g);

    g = one_node(19, "Resize", NULL, 0, &n);
    assert_int_equal(yq_node_set_attr_int(n, "antialias", 1), YQ_OK);
    assert_int_equal(finalize(g).opset, 19);
    yq_graph_free(g);

    g = one_node(19, "Resize", NULL, 0, &n);
    assert_int_equal(yq_node_set_attr_int(n, "antialias", 0), YQ_OK);
    assert_int_equal(finalize(g).opset, 13);
    assert_null(yq_node_attr(&g->nodes[0], "antialias"));
    yq_graph_free(g);

    g = one_node(17, "Shape", NULL, 0, &n);
    assert_int_equal(yq_node_set_attr_int(n, "start", 1), YQ_OK);
    assert_int_equal(finalize(g).opset, 17);
    yq_graph_free(g);

    /* an operator unchanged since 13 lowers */
    g = one_node(17, "Relu", NULL, 0, &n);
    assert_int_equal(finalize(g).opset, 13);
    yq_graph_free(g);
}

static void test_raised_from_11(void **state) {
    (void)state;
    yq_node *n;
    yq_graph *g = one_node(11, "Relu", NULL, 0, &n);
    yq_qcdq_opset_note note = finalize(g);
    assert_int_equal(note.model_opset, 11);
    assert_int_equal(note.opset, 13);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_axes_input_lowered),
        cmocka_unit_test(test_reduce_noop_empty_axes_kept),
        cmocka_unit_test(test_reshape_allowzero),
        cmocka_unit_test(test_new_ops_and_attrs_kept),
        cmocka_unit_test(test_raised_from_11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
