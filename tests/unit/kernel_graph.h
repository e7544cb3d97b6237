/* One-node graph helpers for kernel unit tests (header-only; include after
 * testutil.h). A test builds a graph at some opset, adds constant inputs,
 * adds the node and evaluates it with yq_node_eval, then reads the output
 * value's data. */
#ifndef YQ_TESTS_KERNEL_GRAPH_H
#define YQ_TESTS_KERNEL_GRAPH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/status.h"
#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"

static inline yq_graph *kg_new(int64_t opset) {
    yq_graph *g = NULL;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", opset), YQ_OK);
    return g;
}

/* A constant input (initializer) with a copy of data. */
static inline int kg_const(yq_graph *g, yq_dtype dt, int rank, const int64_t *dims, const void *data) {
    int id = -1;
    assert_int_equal(yq_graph_add_initializer(g, "c", dt, rank, dims, data, &id), YQ_OK);
    return id;
}

/* A value with known type and shape but no data (for infer-only tests). */
static inline int kg_typed(yq_graph *g, yq_dtype dt, int rank, const int64_t *dims) {
    char name[32];
    snprintf(name, sizeof name, "t%d", g->nvalues);
    int id = -1;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    g->values[id].dtype = dt;
    g->values[id].rank = rank;
    for (int d = 0; d < rank; d++) g->values[id].dims[d] = dims[d];
    return id;
}

/* A fresh output value (unknown type/shape until inferred). */
static inline int kg_value(yq_graph *g) {
    char name[32];
    snprintf(name, sizeof name, "v%d", g->nvalues);
    int id = -1;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

/* Node with one fresh output; inputs may contain -1 for omitted ones. */
static inline int kg_node(yq_graph *g, const char *op, const int *inputs, int ninputs, int *out_value) {
    int out = kg_value(g);
    int node = -1;
    assert_int_equal(yq_graph_add_node(g, op, "", op, inputs, ninputs, &out, 1, &node), YQ_OK);
    if (out_value) *out_value = out;
    return node;
}

static inline yq_node *kg_nodep(yq_graph *g, int node) { return &g->nodes[node]; }

/* Evaluate; on failure print the message (for the test log) and return it. */
static inline yq_status kg_eval(yq_graph *g, int node, yq_pool *pool) {
    yq_status st = yq_node_eval(g, node, pool);
    if (st != YQ_OK) print_message("eval: %s\n", yq_last_error());
    return st;
}

/* Infer only; print the message. */
static inline yq_status kg_infer(yq_graph *g, int node) {
    yq_status st = yq_node_infer(g, node);
    if (st != YQ_OK) print_message("infer (expected failure?): %s\n", yq_last_error());
    return st;
}

static inline const yq_value *kg_val(const yq_graph *g, int v) { return &g->values[v]; }

/* Deterministic pseudo-random numbers (xorshift64*), uniform in [lo, hi). */
static inline double kg_rand(uint64_t *s, double lo, double hi) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ull;
    return lo + (hi - lo) * ((double)(r >> 11) / 9007199254740992.0);
}

static inline int f32_bits_equal(float a, float b) { return memcmp(&a, &b, 4) == 0; }

#endif
