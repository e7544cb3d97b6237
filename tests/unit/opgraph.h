/* Tiny one-node graphs for kernel tests: add constants / shaped inputs, one
 * node, evaluate with yq_node_eval, read outputs. Header-only (static). */
#ifndef YQ_TEST_OPGRAPH_H
#define YQ_TEST_OPGRAPH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/pool.h"
#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"

#define I64S(...) ((const int64_t[]){__VA_ARGS__})
#define F32S(...) ((const float[]){__VA_ARGS__})
#define I32S(...) ((const int32_t[]){__VA_ARGS__})
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct og {
    yq_graph *g;
    int node;
    int outs[8];
    int nout;
} og;

static inline og og_new(int64_t opset) {
    og t;
    memset(&t, 0, sizeof t);
    t.node = -1;
    assert_int_equal(yq_graph_new(&t.g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(t.g, "", opset), YQ_OK);
    return t;
}

/* A constant (initializer). */
static inline int og_const(og *t, yq_dtype dt, int rank, const int64_t *dims, const void *data) {
    int id;
    assert_int_equal(yq_graph_add_initializer(t->g, "c", dt, rank, dims, data, &id), YQ_OK);
    return id;
}
/* 1-D int64 constant. */
static inline int og_i64(og *t, int n, const int64_t *v) {
    int64_t d = n;
    return og_const(t, YQ_DT_INT64, 1, &d, v);
}
/* A graph input with a known shape but no data (not constant). */
static inline int og_input(og *t, yq_dtype dt, int rank, const int64_t *dims) {
    char name[32];
    snprintf(name, sizeof name, "x%d", t->g->nvalues);
    int id;
    assert_int_equal(yq_graph_add_value(t->g, name, &id), YQ_OK);
    yq_value *v = &t->g->values[id];
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
    v->flags |= YQ_VAL_INPUT;
    return id;
}

/* The node, with `nout` fresh outputs. Inputs may hold -1 (omitted). */
static inline yq_node *og_node(og *t, const char *op, const int *ins, int nin, int nout) {
    for (int i = 0; i < nout; i++) {
        char name[32];
        snprintf(name, sizeof name, "y%d", i);
        assert_int_equal(yq_graph_add_value(t->g, name, &t->outs[i]), YQ_OK);
    }
    t->nout = nout;
    assert_int_equal(yq_graph_add_node(t->g, op, "", "n", ins, nin, t->outs, nout, &t->node), YQ_OK);
    return &t->g->nodes[t->node];
}
static inline yq_node *og_n(og *t) { return &t->g->nodes[t->node]; }

/* Set a TENSOR attribute (copied). */
static inline void og_tensor_attr(yq_node *n, const char *name, yq_dtype dt, int rank, const int64_t *dims,
                                  const void *data) {
    yq_tensor tv;
    memset(&tv, 0, sizeof tv);
    tv.dtype = dt;
    tv.rank = rank;
    for (int d = 0; d < rank; d++) tv.dims[d] = dims[d];
    tv.data = (void *)data;
    yq_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = YQ_ATTR_TENSOR;
    a.t = &tv;
    /* make (or reuse) the slot through the public setter, then replace it */
    assert_int_equal(yq_node_set_attr_int(n, name, 0), YQ_OK);
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            yq_attr_clear(&n->attrs[i]);
            assert_int_equal(yq_attr_copy(&n->attrs[i], &a), YQ_OK);
        }
}

static inline yq_status og_eval(og *t, yq_pool *pool) { return yq_node_eval(t->g, t->node, pool); }
static inline yq_status og_infer(og *t) { return yq_node_infer(t->g, t->node); }
static inline const yq_value *og_out(og *t, int i) { return &t->g->values[t->outs[i]]; }
static inline void og_free(og *t) { yq_graph_free(t->g); }

/* Assertions on an output value. */
static inline void og_expect_dims(const yq_value *v, int rank, const int64_t *dims) {
    char a[160], b[160];
    if (v->rank != rank || (rank && memcmp(v->dims, dims, (size_t)rank * sizeof *dims) != 0)) {
        print_message("dims: got %s, want %s\n", yq_dims_str(v->rank, v->dims, a, sizeof a),
                      yq_dims_str(rank, dims, b, sizeof b));
        fail();
    }
}
static inline void og_expect_f32(const yq_value *v, int rank, const int64_t *dims, const float *want, float tol) {
    assert_int_equal(v->dtype, YQ_DT_FLOAT);
    og_expect_dims(v, rank, dims);
    const float *got = v->data;
    int64_t n = yq_numel(rank, dims);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i] && !(fabsf(got[i] - want[i]) <= tol)) {
            print_message("element %lld: got %.9g, want %.9g (tol %g)\n", (long long)i, got[i], want[i], tol);
            fail();
        }
}
static inline void og_expect_i64(const yq_value *v, int rank, const int64_t *dims, const int64_t *want) {
    assert_int_equal(v->dtype, YQ_DT_INT64);
    og_expect_dims(v, rank, dims);
    const int64_t *got = v->data;
    for (int64_t i = 0; i < yq_numel(rank, dims); i++)
        if (got[i] != want[i]) {
            print_message("element %lld: got %lld, want %lld\n", (long long)i, (long long)got[i], (long long)want[i]);
            fail();
        }
}
/* The call failed with status st and a message containing `needle`. */
#define OG_EXPECT_FAIL(expr, st, needle)                                                      \
    do {                                                                                      \
        yq_status og_st_ = (expr);                                                            \
        if (og_st_ != (st) || !strstr(yq_last_error(), (needle))) {                           \
            print_message("want %s with '%s', got %s: %s\n", yq_status_name(st), (needle),    \
                          yq_status_name(og_st_), yq_last_error());                           \
            fail();                                                                           \
        }                                                                                     \
    } while (0)

/* Deterministic pseudo-random numbers for test data. */
static inline uint32_t og_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

#endif
