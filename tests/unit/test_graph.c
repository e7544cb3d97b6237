/* Graph IR: values, nodes, attributes, topological order, compaction, clone,
 * and the structural passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "core/pool.h"
#include "ir/graph.h"
#include "ir/passes.h"

static int val(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_value(g, name, &id), YQ_OK);
    return id;
}

static int node(yq_graph *g, const char *op, const char *name, const char *in0, const char *in1, const char *out) {
    int ins[2], nin = 0, o = val(g, out), id;
    if (in0) ins[nin++] = val(g, in0);
    if (in1) ins[nin++] = val(g, in1);
    assert_int_equal(yq_graph_add_node(g, op, "", name, ins, nin, &o, 1, &id), YQ_OK);
    return id;
}

static void mark_input(yq_graph *g, const char *name) {
    int id = val(g, name);
    g->values[id].flags |= YQ_VAL_INPUT;
    g->inputs = realloc(g->inputs, (size_t)(g->ninputs + 1) * sizeof(int));
    g->inputs[g->ninputs++] = id;
}

static void mark_output(yq_graph *g, const char *name) {
    int id = val(g, name);
    g->values[id].flags |= YQ_VAL_OUTPUT;
    g->outputs = realloc(g->outputs, (size_t)(g->noutputs + 1) * sizeof(int));
    g->outputs[g->noutputs++] = id;
}

static void test_values_and_names(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    int a, b;
    assert_int_equal(yq_graph_add_value(g, "a", &a), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "a", &b), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'a'"));
    for (int i = 0; i < 1000; i++) { /* forces index growth */
        char name[32];
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(yq_graph_add_value(g, name, &b), YQ_OK);
    }
    assert_int_equal(yq_graph_find_value(g, "v999"), b);
    assert_int_equal(yq_graph_find_value(g, "a"), a);
    assert_int_equal(yq_graph_find_value(g, "nope"), -1);
    char *u;
    assert_int_equal(yq_graph_unique_name(g, "v5", &u), YQ_OK);
    assert_string_equal(u, "v5_1");
    free(u);
    assert_int_equal(yq_graph_rename_value(g, a, "renamed"), YQ_OK);
    assert_int_equal(yq_graph_find_value(g, "renamed"), a);
    assert_int_equal(yq_graph_find_value(g, "a"), -1);
    assert_int_equal(yq_graph_rename_value(g, a, "v3"), YQ_ERR_INVALID);
    float data[6] = {1, 2, 3, 4, 5, 6};
    int64_t dims[2] = {2, 3};
    int init;
    assert_int_equal(yq_graph_add_initializer(g, "w", YQ_DT_FLOAT, 2, dims, data, &init), YQ_OK);
    assert_true(g->values[init].flags & YQ_VAL_INIT);
    assert_int_equal(yq_value_numel(&g->values[init]), 6);
    assert_memory_equal(g->values[init].data, data, sizeof data);
    yq_graph_free(g);
}

static void test_attributes(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    int n = node(g, "Conv", "c", "x", "w", "y");
    yq_node *nd = &g->nodes[n];
    assert_int_equal(yq_attr_int(nd, "group", 1), 1);
    assert_int_equal(yq_node_set_attr_int(nd, "group", 4), YQ_OK);
    assert_int_equal(yq_attr_int(nd, "group", 1), 4);
    int64_t pads[4] = {1, 1, 2, 2};
    assert_int_equal(yq_node_set_attr_ints(nd, "pads", pads, 4), YQ_OK);
    const int64_t *p;
    assert_int_equal(yq_attr_ints(nd, "pads", &p), 4);
    assert_int_equal(p[2], 2);
    assert_int_equal(yq_node_set_attr_float(nd, "alpha", 0.5f), YQ_OK);
    assert_true(yq_attr_float(nd, "alpha", 0) == 0.5f);
    assert_int_equal(yq_node_set_attr_string(nd, "auto_pad", "SAME_UPPER"), YQ_OK);
    assert_string_equal(yq_attr_string(nd, "auto_pad", "NOTSET"), "SAME_UPPER");
    assert_int_equal(yq_node_set_attr_int(nd, "group", 2), YQ_OK); /* overwrite keeps one entry */
    assert_int_equal(nd->nattrs, 4);
    yq_graph_free(g);
}

static void test_toposort(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    /* written out of order: d = c + b; c = relu(b); b = relu(x) */
    node(g, "Add", "n_add", "c", "b", "d");
    node(g, "Relu", "n_c", "b", NULL, "c");
    node(g, "Relu", "n_b", "x", NULL, "b");
    mark_output(g, "d");
    assert_int_equal(yq_graph_toposort(g), YQ_OK);
    assert_string_equal(g->nodes[0].name, "n_b");
    assert_string_equal(g->nodes[1].name, "n_c");
    assert_string_equal(g->nodes[2].name, "n_add");
    assert_int_equal(g->values[val(g, "d")].producer, 2);
    /* a sorted graph keeps its order exactly */
    assert_int_equal(yq_graph_toposort(g), YQ_OK);
    assert_string_equal(g->nodes[1].name, "n_c");
    yq_graph_free(g);
}

static void test_toposort_errors(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    node(g, "Add", "a1", "x", "q", "p");
    node(g, "Relu", "a2", "p", NULL, "q");
    assert_int_equal(yq_graph_toposort(g), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "cycle"));
    yq_graph_free(g);

    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    node(g, "Add", "a1", "x", "missing", "p");
    assert_int_equal(yq_graph_toposort(g), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'missing'"));
    yq_graph_free(g);

    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    node(g, "Relu", "r1", "x", NULL, "p");
    node(g, "Relu", "r2", "x", NULL, "p");
    assert_int_equal(yq_graph_rebuild_producers(g), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "two nodes"));
    yq_graph_free(g);
}

static void test_dead_nodes_and_compact(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    node(g, "Relu", "used", "x", NULL, "y");
    node(g, "Relu", "dead1", "x", NULL, "z");
    node(g, "Relu", "dead2", "z", NULL, "zz");
    mark_output(g, "y");
    assert_int_equal(yq_pass_remove_dead(g), YQ_OK);
    assert_false(g->nodes[0].dead);
    assert_true(g->nodes[1].dead);
    assert_true(g->nodes[2].dead);
    assert_int_equal(yq_graph_compact(g), YQ_OK);
    assert_int_equal(g->nnodes, 1);
    assert_int_equal(g->nvalues, 2);
    assert_int_equal(yq_graph_find_value(g, "z"), -1);
    assert_int_equal(g->values[g->outputs[0]].producer, 0);
    assert_string_equal(g->values[g->nodes[0].inputs[0]].name, "x");
    yq_graph_free(g);
}

static void test_fuse_conv_add_structure(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    float w[2 * 3] = {0}, c[2] = {10, 20}, b[2] = {1, 2};
    int64_t wd[4] = {2, 3, 1, 1}, cd[4] = {1, 2, 1, 1}, bd[1] = {2};
    int wi, ci, bi, y = val(g, "y"), z = val(g, "z"), id;
    assert_int_equal(yq_graph_add_initializer(g, "w", YQ_DT_FLOAT, 4, wd, w, &wi), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "c", YQ_DT_FLOAT, 4, cd, c, &ci), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, 1, bd, b, &bi), YQ_OK);
    int cin[3] = {val(g, "x"), wi, bi};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv", cin, 3, &y, 1, &id), YQ_OK);
    int ain[2] = {ci, y};
    assert_int_equal(yq_graph_add_node(g, "Add", "", "add", ain, 2, &z, 1, &id), YQ_OK);
    g->values[y].rank = 4; /* shapes as inference would leave them */
    int64_t yd[4] = {1, 2, 4, 4};
    memcpy(g->values[y].dims, yd, sizeof yd);
    mark_output(g, "z");
    assert_int_equal(yq_pass_fuse_conv_add(g), YQ_OK);
    assert_true(g->nodes[1].dead);
    assert_int_equal(g->nodes[0].outputs[0], z);
    const float *nb = g->values[g->nodes[0].inputs[2]].data;
    assert_true(nb[0] == 11 && nb[1] == 22);
    assert_true(((const float *)g->values[bi].data)[0] == 1); /* the original bias is untouched */
    yq_graph_free(g);
}

static void test_clone(void **state) {
    (void)state;
    yq_graph *g, *c;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    mark_input(g, "x");
    int n = node(g, "LeakyRelu", "r", "x", NULL, "y");
    assert_int_equal(yq_node_set_attr_float(&g->nodes[n], "alpha", 0.25f), YQ_OK);
    mark_output(g, "y");
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    assert_int_equal(yq_graph_clone(g, &c), YQ_OK);
    assert_int_equal(c->nnodes, 1);
    assert_true(yq_attr_float(&c->nodes[0], "alpha", 0) == 0.25f);
    assert_int_equal(yq_graph_opset(c, "ai.onnx"), 17);
    assert_int_equal(yq_graph_find_value(c, "y"), c->outputs[0]);
    yq_graph_free(g);
    yq_graph_free(c);
}

typedef struct {
    int64_t *hits;
} pool_arg;

static void mark_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    pool_arg *a = arg;
    for (int64_t i = b; i < e; i++) a->hits[i]++;
}

static void test_pool_covers_range_once(void **state) {
    (void)state;
    for (int nt = 1; nt <= 4; nt++) {
        yq_pool *p;
        assert_int_equal(yq_pool_new(nt, &p), YQ_OK);
        assert_int_equal(yq_pool_size(p), nt);
        for (int64_t n = 0; n < 200; n += 7) {
            int64_t hits[200] = {0};
            pool_arg a = {hits};
            yq_parallel_for(p, n, 3, mark_range, &a);
            for (int64_t i = 0; i < 200; i++) assert_int_equal(hits[i], i < n ? 1 : 0);
        }
        yq_pool_free(p);
    }
}

/* Loops back to back (workers still spinning), after idle gaps longer than
 * the 100 us spin (workers asleep on the condition variable), and the pool
 * freed with workers in either state: every index exactly once each time. */
static void test_pool_spin_and_sleep(void **state) {
    (void)state;
    for (int nt = 2; nt <= 3; nt++) {
        yq_pool *p;
        assert_int_equal(yq_pool_new(nt, &p), YQ_OK);
        for (int it = 0; it < 3000; it++) {
            const int64_t n = 1 + it % 199;
            int64_t hits[200] = {0};
            pool_arg a = {hits};
            yq_parallel_for(p, n, 1, mark_range, &a);
            for (int64_t i = 0; i < 200; i++) assert_int_equal(hits[i], i < n ? 1 : 0);
            if (it % 500 == 499) usleep(400);
        }
        if (nt == 3) usleep(400);
        yq_pool_free(p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_spin_and_sleep),
        cmocka_unit_test(test_values_and_names),   cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_toposort),           cmocka_unit_test(test_toposort_errors),
        cmocka_unit_test(test_dead_nodes_and_compact), cmocka_unit_test(test_fuse_conv_add_structure),
        cmocka_unit_test(test_clone),              cmocka_unit_test(test_pool_covers_range_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
