/* Test graphs for the quant tests: named values and Conv (+ Relu) layers
 * with seeded normal weights. Needs testutil.h (cmocka) before it. */
#ifndef YQ_TEST_QUANT_GRAPH_H
#define YQ_TEST_QUANT_GRAPH_H

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "ir/graph.h"
#include "rt/prepare.h"
#include "test_quant_common.h"

static inline int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

/* An empty opset-13 graph with one float input "x" [1, c, hw, hw]. */
static inline yq_graph *quant_graph_new(int64_t c, int64_t hw) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    g->ir_version = 8;
    int x = add_value(g, "x");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, c, hw, hw};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    return g;
}

/* Make y the only output and prepare the graph (shapes, sorting). */
static inline void quant_graph_finish(yq_graph *g, int y) {
    g->values[y].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
}

static inline int add_conv(yq_graph *g, const char *name, int x, int64_t cout, int64_t cin, int64_t k, double sd,
                    uint64_t *seed, int relu) {
    float *w = malloc((size_t)(cout * cin * k * k) * sizeof *w), *b = malloc((size_t)cout * sizeof *b);
    for (int64_t i = 0; i < cout * cin * k * k; i++) w[i] = (float)(sd * rng_normal(seed));
    for (int64_t i = 0; i < cout; i++) b[i] = (float)(0.05 * rng_normal(seed));
    const int64_t wd[4] = {cout, cin, k, k};
    char nm[64];
    int wv, bv, n;
    snprintf(nm, sizeof nm, "%s_w", name);
    assert_int_equal(yq_graph_add_initializer(g, nm, YQ_DT_FLOAT, 4, wd, w, &wv), YQ_OK);
    snprintf(nm, sizeof nm, "%s_b", name);
    assert_int_equal(yq_graph_add_initializer(g, nm, YQ_DT_FLOAT, 1, &cout, b, &bv), YQ_OK);
    free(w);
    free(b);
    snprintf(nm, sizeof nm, "%s_out", name);
    int y = add_value(g, nm);
    int in[3] = {x, wv, bv};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", name, in, 3, &y, 1, &n), YQ_OK);
    const int64_t p = k / 2, pads[4] = {p, p, p, p};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    if (!relu) return y;
    snprintf(nm, sizeof nm, "%s_relu", name);
    int r = add_value(g, nm);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", nm, &y, 1, &r, 1, &n), YQ_OK);
    return r;
}

#endif
