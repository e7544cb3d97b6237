/* quant/qcdq: the IR rewrite to QCDQ graphs — weight Clip/DequantizeLinear
 * chains (4/8 bit, per channel / per tensor, native INT4, group-wise), INT32
 * bias, shared activation Q/DQ pairs, names, dtypes, opsets, topological
 * order; DequantizeLinear evaluated here to check numerics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/qcdq.h"
#include "quant/quantizer.h"


enum { C_IN = 4, C1 = 6, C2 = 5 };

static int add_float_value(yq_graph *g, const char *name, int rank, const int64_t *dims) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    g->values[id].dtype = YQ_DT_FLOAT;
    g->values[id].rank = rank;
    memcpy(g->values[id].dims, dims, (size_t)rank * sizeof *dims);
    return id;
}

static void add_io(yq_graph *g, int id, int is_input) {
    int **arr = is_input ? &g->inputs : &g->outputs;
    int *n = is_input ? &g->ninputs : &g->noutputs;
    *arr = realloc(*arr, (size_t)(*n + 1) * sizeof(int));
    (*arr)[(*n)++] = id;
    g->values[id].flags |= is_input ? YQ_VAL_INPUT : YQ_VAL_OUTPUT;
}

/* x [1,4,8,8] -> conv1 (w1 [6,4,3,3], b1 [6]) -> y1
 *            -> conv2 (w2 [5,4,1,1])           -> y2 */
static yq_graph *two_convs(void) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 11), YQ_OK);
    int64_t xd[4] = {1, C_IN, 8, 8}, y1d[4] = {1, C1, 8, 8}, y2d[4] = {1, C2, 8, 8};
    int x = add_float_value(g, "x", 4, xd);
    add_io(g, x, 1);
    uint64_t seed = 42;
    float w1[C1 * C_IN * 9], b1[C1], w2[C2 * C_IN];
    for (int i = 0; i < C1 * C_IN * 9; i++) w1[i] = (float)(0.2 * rng_normal(&seed));
    for (int i = 0; i < C1; i++) b1[i] = (float)(0.5 * rng_normal(&seed));
    for (int i = 0; i < C2 * C_IN; i++) w2[i] = (float)rng_normal(&seed);
    int64_t w1d[4] = {C1, C_IN, 3, 3}, b1d[1] = {C1}, w2d[4] = {C2, C_IN, 1, 1};
    int w1v, b1v, w2v, n;
    assert_int_equal(yq_graph_add_initializer(g, "w1", YQ_DT_FLOAT, 4, w1d, w1, &w1v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b1", YQ_DT_FLOAT, 1, b1d, b1, &b1v), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "w2", YQ_DT_FLOAT, 4, w2d, w2, &w2v), YQ_OK);
    int y1 = add_float_value(g, "y1", 4, y1d), y2 = add_float_value(g, "y2", 4, y2d);
    int in1[3] = {x, w1v, b1v}, in2[2] = {x, w2v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv1", in1, 3, &y1, 1, &n), YQ_OK);
    int64_t pads[4] = {1, 1, 1, 1};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n], "pads", pads, 4), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv2", in2, 2, &y2, 1, &n), YQ_OK);
    add_io(g, y1, 0);
    add_io(g, y2, 0);
    return g;
}

static int find_node(const yq_graph *g, const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

static int producer_of(const yq_graph *g, int value) {
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].noutputs; k++)
            if (g->nodes[i].outputs[k] == value) return i;
    return -1;
}

/* Every node name and every named value is unique; every node input is
 * produced earlier (topological order). */
static void check_graph_sane(const yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++)
        for (int j = i + 1; j < g->nnodes; j++) assert_string_not_equal(g->nodes[i].name, g->nodes[j].name);
    for (int i = 0; i < g->nvalues; i++)
        for (int j = i + 1; j < g->nvalues; j++)
            if (g->values[i].name[0]) assert_string_not_equal(g->values[i].name, g->values[j].name);
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            int v = g->nodes[i].inputs[k];
            if (v < 0) continue;
            int p = producer_of(g, v);
            assert_true(p < i);
            if (p < 0) assert_true(g->values[v].flags & (YQ_VAL_INIT | YQ_VAL_INPUT));
        }
}

/* DequantizeLinear by hand, per channel along axis 0 (or per tensor). */
static void dequantize_axis0(const yq_graph *g, int dq_node, float *out, int64_t rows, int64_t cols) {
    const yq_node *n = &g->nodes[dq_node];
    int xv = n->inputs[0];
    int pr = producer_of(g, xv); /* through the Clip, if any */
    if (pr >= 0) {
        assert_string_equal(g->nodes[pr].op_type, "Clip");
        xv = g->nodes[pr].inputs[0];
    }
    const yq_value *q = &g->values[xv], *s = &g->values[n->inputs[1]], *z = &g->values[n->inputs[2]];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t k = s->rank == 0 ? 0 : r;
            int64_t qi = yq_elem_as_int64(q->dtype, q->data, r * cols + c), zi = yq_elem_as_int64(z->dtype, z->data, k);
            out[r * cols + c] = (float)(qi - zi) * ((const float *)s->data)[k];
        }
}

static void test_weight_4bit_clip(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    int conv1 = find_node(g, "conv1");
    yq_weight_ref ref;
    assert_int_equal(yq_weight_ref_get(g, conv1, &ref), YQ_OK);
    assert_int_equal(ref.rows, C1);
    assert_int_equal(ref.cols, C_IN * 9);
    assert_false(ref.transposed);
    float w[C1 * C_IN * 9];
    assert_int_equal(yq_weight_matrix_read(g, &ref, w), YQ_OK);
    yq_qformat f = {4, 1, 0, 0}; /* asymmetric: non-zero int8 zero points */
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    yq_qparams qp;
    assert_int_equal(yq_weight_qparams(w, C1, C_IN * 9, 1, 0, &f, &so, &qp), YQ_OK);
    int8_t q[C1 * C_IN * 9];
    float dq[C1 * C_IN * 9];
    assert_int_equal(yq_quantize_matrix(w, C1, C_IN * 9, &qp, q, dq), YQ_OK);
    /* A value already named like the new ones forces a fresh name. */
    int clash;
    assert_int_equal(yq_graph_add_value(g, "w1_quantized", &clash), YQ_OK);
    int dqn;
    assert_int_equal(yq_qcdq_insert_weight(g, conv1, q, &qp, YQ_QCDQ_CLIP, &dqn), YQ_OK);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    assert_int_equal(yq_graph_opset(g, ""), 13);
    yq_qcdq_counts c;
    yq_qcdq_count(g, &c);
    assert_int_equal(c.quantize, 0);
    assert_int_equal(c.dequantize, 1);
    assert_int_equal(c.clip, 1);
    assert_int_equal(yq_graph_find_value(g, "w1"), -1); /* the float weight is gone */
    assert_int_equal(yq_graph_find_value(g, "w1_quantized"), -1); /* unused clash dropped by compaction */

    conv1 = find_node(g, "conv1");
    dqn = find_node(g, "w1_DequantizeLinear");
    int clip = find_node(g, "w1_Clip");
    assert_true(clip >= 0 && dqn > clip && conv1 > dqn);
    const yq_node *cn = &g->nodes[clip], *dn = &g->nodes[dqn];
    assert_string_equal(dn->op_type, "DequantizeLinear");
    assert_int_equal(cn->ninputs, 3);
    const yq_value *qv = &g->values[cn->inputs[0]];
    assert_string_equal(qv->name, "w1_quantized_1");
    assert_int_equal(qv->dtype, YQ_DT_INT8);
    assert_true(qv->flags & YQ_VAL_INIT);
    assert_int_equal(qv->rank, 4);
    assert_int_equal(qv->dims[0], C1);
    assert_int_equal(qv->dims[3], 3);
    assert_memory_equal(qv->data, q, sizeof q);
    const yq_value *lo = &g->values[cn->inputs[1]], *hi = &g->values[cn->inputs[2]];
    assert_int_equal(lo->dtype, YQ_DT_INT8);
    assert_int_equal(lo->rank, 0);
    assert_int_equal(*(const int8_t *)lo->data, -8);
    assert_int_equal(*(const int8_t *)hi->data, 7);
    const yq_value *co = &g->values[cn->outputs[0]];
    assert_int_equal(co->dtype, YQ_DT_INT8);
    assert_int_equal(co->rank, 4);
    assert_int_equal(dn->inputs[0], cn->outputs[0]);
    const yq_value *sv = &g->values[dn->inputs[1]], *zv = &g->values[dn->inputs[2]];
    assert_int_equal(sv->dtype, YQ_DT_FLOAT);
    assert_int_equal(sv->rank, 1);
    assert_int_equal(sv->dims[0], C1);
    assert_int_equal(zv->dtype, YQ_DT_INT8);
    assert_int_equal(zv->dims[0], C1);
    assert_int_equal(yq_attr_int(dn, "axis", -99), 0);
    for (int r = 0; r < C1; r++) {
        assert_true(((const float *)sv->data)[r] == qp.scale[r]);
        assert_int_equal(((const int8_t *)zv->data)[r], qp.zero_point[r]);
    }
    const yq_value *dv = &g->values[dn->outputs[0]];
    assert_int_equal(dv->dtype, YQ_DT_FLOAT);
    assert_int_equal(dv->rank, 4);
    assert_int_equal(g->nodes[conv1].inputs[1], dn->outputs[0]);
    /* Evaluating the DequantizeLinear gives the fake-quantized weights. */
    float got[C1 * C_IN * 9];
    dequantize_axis0(g, dqn, got, C1, C_IN * 9);
    assert_memory_equal(got, dq, sizeof dq);
    /* The bias stays float. */
    assert_string_equal(g->values[g->nodes[conv1].inputs[2]].name, "b1");
    assert_int_equal(yq_graph_toposort(g), YQ_OK);
    yq_qparams_free(&qp);
    yq_graph_free(g);
}

static void test_weight_8bit_and_per_tensor(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    int conv2 = find_node(g, "conv2");
    float w[C2 * C_IN];
    yq_weight_ref ref;
    assert_int_equal(yq_weight_ref_get(g, conv2, &ref), YQ_OK);
    assert_int_equal(yq_weight_matrix_read(g, &ref, w), YQ_OK);
    yq_qformat f = {8, 1, 1, 1};
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    yq_qparams qp;
    assert_int_equal(yq_weight_qparams(w, C2, C_IN, 0, 0, &f, &so, &qp), YQ_OK);
    int8_t q[C2 * C_IN];
    float dq[C2 * C_IN];
    assert_int_equal(yq_quantize_matrix(w, C2, C_IN, &qp, q, dq), YQ_OK);
    int dqn;
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, &dqn), YQ_OK);
    yq_qcdq_counts c;
    yq_qcdq_count(g, &c);
    assert_int_equal(c.clip, 0); /* 8 bit: no Clip */
    assert_int_equal(c.dequantize, 1);
    const yq_node *dn = &g->nodes[dqn];
    assert_null(yq_node_attr(dn, "axis"));
    assert_int_equal(g->values[dn->inputs[1]].rank, 0);
    assert_int_equal(g->values[dn->inputs[2]].rank, 0);
    assert_int_equal(g->values[dn->inputs[0]].dtype, YQ_DT_INT8);
    float got[C2 * C_IN];
    dequantize_axis0(g, dqn, got, C2, C_IN);
    assert_memory_equal(got, dq, sizeof dq);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    /* A model at a higher opset whose nodes mean the same at 13 is lowered
     * to the QCDQ opset 13 (test_quant_opset has the cases that are not). */
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    assert_int_equal(yq_graph_opset(g, ""), 13);
    yq_qparams_free(&qp);
    yq_graph_free(g);
}

static void test_weight_native_int4_and_groups(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    const int K = C_IN * 9, G = 16, NG = 3;
    float w[C1 * C_IN * 9];
    yq_weight_ref ref;
    int conv1 = find_node(g, "conv1"), conv2 = find_node(g, "conv2");
    assert_int_equal(yq_weight_ref_get(g, conv1, &ref), YQ_OK);
    assert_int_equal(yq_weight_matrix_read(g, &ref, w), YQ_OK);
    yq_qformat f = {4, 1, 0, 1};
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    yq_qparams gq, cq;
    assert_int_equal(yq_weight_qparams(w, C1, K, 1, G, &f, &so, &gq), YQ_OK);
    int8_t q[C1 * C_IN * 9];
    float dq[C1 * C_IN * 9];
    assert_int_equal(yq_quantize_matrix(w, C1, K, &gq, q, dq), YQ_OK);
    /* Group-wise scales need the blocked DequantizeLinear of opset 21. */
    assert_int_equal(yq_qcdq_insert_weight(g, conv1, q, &gq, YQ_QCDQ_CLIP, NULL), YQ_ERR_UNSUPPORTED);
    int dqn;
    assert_int_equal(yq_qcdq_insert_weight(g, conv1, q, &gq, YQ_QCDQ_NATIVE, &dqn), YQ_OK);
    const yq_node *dn = &g->nodes[dqn];
    const yq_value *qv = &g->values[dn->inputs[0]], *sv = &g->values[dn->inputs[1]], *zv = &g->values[dn->inputs[2]];
    assert_int_equal(qv->dtype, YQ_DT_INT4);
    assert_int_equal(qv->rank, 2); /* [Cout, K], blocks along K */
    assert_int_equal(qv->dims[1], K);
    assert_int_equal(zv->dtype, YQ_DT_INT4);
    assert_int_equal(sv->rank, 2);
    assert_int_equal(sv->dims[0], C1);
    assert_int_equal(sv->dims[1], NG);
    assert_int_equal(yq_attr_int(dn, "axis", -1), 1);
    assert_int_equal(yq_attr_int(dn, "block_size", -1), G);
    /* Blocked dequantization by hand. */
    for (int r = 0; r < C1; r++)
        for (int k = 0; k < K; k++) {
            float s = ((const float *)sv->data)[r * NG + k / G];
            int zq = ((const int8_t *)zv->data)[r * NG + k / G];
            assert_true((float)(((const int8_t *)qv->data)[r * K + k] - zq) * s == dq[r * K + k]);
        }
    /* ... then reshaped back to the conv weight shape. */
    int resh = producer_of(g, g->nodes[conv1].inputs[1]);
    assert_string_equal(g->nodes[resh].op_type, "Reshape");
    const yq_value *shape = &g->values[g->nodes[resh].inputs[1]];
    assert_int_equal(shape->dtype, YQ_DT_INT64);
    const int64_t *sd = shape->data;
    assert_true(sd[0] == C1 && sd[1] == C_IN && sd[2] == 3 && sd[3] == 3);
    assert_int_equal(g->values[g->nodes[conv1].inputs[1]].rank, 4);

    /* Per-channel native INT4 on the other conv: no Clip, no Reshape. */
    float w2[C2 * C_IN];
    assert_int_equal(yq_weight_ref_get(g, conv2, &ref), YQ_OK);
    assert_int_equal(yq_weight_matrix_read(g, &ref, w2), YQ_OK);
    assert_int_equal(yq_weight_qparams(w2, C2, C_IN, 1, 0, &f, &so, &cq), YQ_OK);
    int8_t q2[C2 * C_IN];
    assert_int_equal(yq_quantize_matrix(w2, C2, C_IN, &cq, q2, NULL), YQ_OK);
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q2, &cq, YQ_QCDQ_NATIVE, &dqn), YQ_OK);
    assert_int_equal(g->values[g->nodes[dqn].inputs[0]].dtype, YQ_DT_INT4);
    assert_int_equal(g->values[g->nodes[dqn].inputs[0]].rank, 4);
    yq_qcdq_counts c;
    yq_qcdq_count(g, &c);
    assert_int_equal(c.clip, 0);
    assert_int_equal(c.dequantize, 2);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    assert_int_equal(yq_graph_opset(g, ""), 21);
    assert_true(g->ir_version >= 10);
    check_graph_sane(g);
    yq_qparams_free(&gq);
    yq_qparams_free(&cq);
    yq_graph_free(g);
}

static void test_shared_activation_pairs(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    int conv1 = find_node(g, "conv1"), conv2 = find_node(g, "conv2"), x = yq_graph_find_value(g, "x");
    yq_qparams a, b;
    assert_int_equal(yq_qparams_alloc(&a, 8, 0, 0, -1, 1), YQ_OK);
    a.scale[0] = 0.02f;
    a.zero_point[0] = 14;
    assert_int_equal(yq_qparams_copy(&b, &a), YQ_OK);
    int shared = -1;
    assert_int_equal(yq_qcdq_insert_activation(g, conv1, 0, &a, &shared), YQ_OK);
    assert_int_equal(shared, 0);
    assert_int_equal(yq_qcdq_insert_activation(g, conv2, 0, &b, &shared), YQ_OK);
    assert_int_equal(shared, 1);
    yq_qcdq_counts c;
    yq_qcdq_count(g, &c);
    assert_int_equal(c.quantize, 1);
    assert_int_equal(c.dequantize, 1);
    assert_int_equal(g->nodes[conv1].inputs[0], g->nodes[conv2].inputs[0]);
    int dq_out = g->nodes[conv1].inputs[0];
    assert_string_equal(g->values[dq_out].name, "x_dequantized");
    assert_int_equal(g->values[dq_out].dtype, YQ_DT_FLOAT);
    assert_int_equal(g->values[dq_out].rank, 4);
    assert_int_equal(g->values[dq_out].dims[1], C_IN);
    int dqn = producer_of(g, dq_out), qn = producer_of(g, g->nodes[dqn].inputs[0]);
    assert_string_equal(g->nodes[qn].op_type, "QuantizeLinear");
    assert_int_equal(g->nodes[qn].inputs[0], x);
    const yq_value *qo = &g->values[g->nodes[qn].outputs[0]];
    assert_int_equal(qo->dtype, YQ_DT_UINT8);
    assert_int_equal(qo->rank, 4);
    const yq_value *zp = &g->values[g->nodes[qn].inputs[2]];
    assert_int_equal(zp->dtype, YQ_DT_UINT8);
    assert_int_equal(zp->rank, 0);
    assert_int_equal(*(const uint8_t *)zp->data, 14);
    assert_true(*(const float *)g->values[g->nodes[qn].inputs[1]].data == 0.02f);
    /* Different parameters on the same tensor: a second pair (int8 this time). */
    yq_qparams s8;
    assert_int_equal(yq_qparams_alloc(&s8, 8, 1, 0, -1, 1), YQ_OK);
    s8.scale[0] = 0.03f;
    int64_t w3d[4] = {2, C_IN, 1, 1};
    float w3[2 * C_IN] = {0};
    int w3v, y3, n3;
    assert_int_equal(yq_graph_add_initializer(g, "w3", YQ_DT_FLOAT, 4, w3d, w3, &w3v), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y3", &y3), YQ_OK);
    int in3[2] = {x, w3v};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", "conv3", in3, 2, &y3, 1, &n3), YQ_OK);
    add_io(g, y3, 0);
    assert_int_equal(yq_qcdq_insert_activation(g, n3, 0, &s8, &shared), YQ_OK);
    assert_int_equal(shared, 0);
    yq_qcdq_count(g, &c);
    assert_int_equal(c.quantize, 2);
    assert_int_equal(c.dequantize, 2);
    assert_string_equal(g->values[g->nodes[n3].inputs[0]].name, "x_dequantized_1");
    assert_int_equal(g->values[g->nodes[producer_of(g, g->nodes[n3].inputs[0])].inputs[2]].dtype, YQ_DT_INT8);
    /* Errors: a constant input, a per-channel or 4-bit activation grid. */
    assert_int_equal(yq_qcdq_insert_activation(g, conv1, 1, &a, NULL), YQ_ERR_ARG); /* input 1 is the weight */
    yq_qparams pc, a4;
    assert_int_equal(yq_qparams_alloc(&pc, 8, 0, 0, 1, 4), YQ_OK);
    assert_int_equal(yq_qcdq_insert_activation(g, n3, 0, &pc, NULL), YQ_ERR_ARG);
    assert_int_equal(yq_qparams_alloc(&a4, 4, 0, 0, -1, 1), YQ_OK);
    assert_int_equal(yq_qcdq_insert_activation(g, n3, 0, &a4, NULL), YQ_ERR_ARG);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    /* All three convs still read a dequantized x. */
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].op_type, "Conv"))
            assert_non_null(strstr(g->values[g->nodes[i].inputs[0]].name, "x_dequantized"));
    yq_qparams_free(&a);
    yq_qparams_free(&b);
    yq_qparams_free(&s8);
    yq_qparams_free(&pc);
    yq_qparams_free(&a4);
    yq_graph_free(g);
}

static void test_matmul_and_gemm_layouts(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    int64_t ad[2] = {2, 8}, bd[2] = {8, 3}, bt[2] = {3, 8}, yd[2] = {2, 3};
    int a = add_float_value(g, "a", 2, ad);
    add_io(g, a, 1);
    float B[8 * 3], Bt[3 * 8];
    for (int k = 0; k < 8; k++)
        for (int n = 0; n < 3; n++) B[k * 3 + n] = Bt[n * 8 + k] = (float)(k - 2 * n) * 0.1f;
    int bv, btv, y, y2, mm, gm;
    assert_int_equal(yq_graph_add_initializer(g, "B", YQ_DT_FLOAT, 2, bd, B, &bv), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "Bt", YQ_DT_FLOAT, 2, bt, Bt, &btv), YQ_OK);
    y = add_float_value(g, "y", 2, yd);
    y2 = add_float_value(g, "y2", 2, yd);
    int in[2] = {a, bv}, in2[2] = {a, btv};
    assert_int_equal(yq_graph_add_node(g, "MatMul", "", "mm", in, 2, &y, 1, &mm), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Gemm", "", "gemm", in2, 2, &y2, 1, &gm), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(&g->nodes[gm], "transB", 1), YQ_OK);
    add_io(g, y, 0);
    add_io(g, y2, 0);
    yq_weight_ref r1, r2;
    assert_int_equal(yq_weight_ref_get(g, mm, &r1), YQ_OK);
    assert_int_equal(yq_weight_ref_get(g, gm, &r2), YQ_OK);
    assert_true(r1.transposed && r1.rows == 3 && r1.cols == 8);
    assert_true(!r2.transposed && r2.rows == 3 && r2.cols == 8);
    float w1[24], w2[24];
    assert_int_equal(yq_weight_matrix_read(g, &r1, w1), YQ_OK);
    assert_int_equal(yq_weight_matrix_read(g, &r2, w2), YQ_OK);
    assert_memory_equal(w1, w2, sizeof w1); /* the same [N, K] matrix */
    yq_qformat f = {8, 1, 0, 1};
    yq_scale_opts so;
    yq_scale_opts_default(&so);
    yq_qparams qp;
    assert_int_equal(yq_weight_qparams(w1, 3, 8, 1, 0, &f, &so, &qp), YQ_OK);
    int8_t q[24];
    float dq[24];
    assert_int_equal(yq_quantize_matrix(w1, 3, 8, &qp, q, dq), YQ_OK);
    int d1, d2;
    assert_int_equal(yq_qcdq_insert_weight(g, mm, q, &qp, YQ_QCDQ_CLIP, &d1), YQ_OK);
    assert_int_equal(yq_qcdq_insert_weight(g, gm, q, &qp, YQ_QCDQ_CLIP, &d2), YQ_OK);
    /* MatMul: initializer stays [K, N], channels on axis 1. */
    const yq_value *q1 = &g->values[g->nodes[d1].inputs[0]];
    assert_true(q1->rank == 2 && q1->dims[0] == 8 && q1->dims[1] == 3);
    assert_int_equal(yq_attr_int(&g->nodes[d1], "axis", -1), 1);
    for (int k = 0; k < 8; k++)
        for (int n = 0; n < 3; n++) assert_int_equal(((const int8_t *)q1->data)[k * 3 + n], q[n * 8 + k]);
    const yq_value *q2 = &g->values[g->nodes[d2].inputs[0]];
    assert_true(q2->rank == 2 && q2->dims[0] == 3 && q2->dims[1] == 8);
    assert_int_equal(yq_attr_int(&g->nodes[d2], "axis", -1), 0);
    assert_memory_equal(q2->data, q, sizeof q);
    /* A MatMul of two activations has no weight. */
    int b2 = add_float_value(g, "b2", 2, bd), y3, mm2;
    y3 = add_float_value(g, "y3", 2, yd);
    add_io(g, b2, 1);
    int in3[2] = {a, b2};
    assert_int_equal(yq_graph_add_node(g, "MatMul", "", "mm2", in3, 2, &y3, 1, &mm2), YQ_OK);
    add_io(g, y3, 0);
    assert_false(yq_node_has_const_weight(g, mm2));
    assert_int_equal(yq_qcdq_insert_weight(g, mm2, q, &qp, YQ_QCDQ_CLIP, NULL), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "'mm2'"));
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    yq_qparams_free(&qp);
    yq_graph_free(g);
}

static void test_bias_int32(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    int conv1 = find_node(g, "conv1");
    const float *b = g->values[yq_graph_find_value(g, "b1")].data;
    float bias[C1];
    memcpy(bias, b, sizeof bias);
    yq_qparams wq;
    assert_int_equal(yq_qparams_alloc(&wq, 8, 1, 0, 0, C1), YQ_OK);
    for (int i = 0; i < C1; i++) wq.scale[i] = 0.001f * (float)(i + 1);
    const float s_in = 0.05f;
    assert_int_equal(yq_qcdq_insert_bias_int32(g, conv1, NAN, &wq), YQ_ERR_ARG);
    assert_int_equal(yq_qcdq_insert_bias_int32(g, conv1, s_in, &wq), YQ_OK);
    int dqn = producer_of(g, g->nodes[conv1].inputs[2]);
    assert_string_equal(g->nodes[dqn].op_type, "DequantizeLinear");
    const yq_value *qv = &g->values[g->nodes[dqn].inputs[0]], *sv = &g->values[g->nodes[dqn].inputs[1]],
                   *zv = &g->values[g->nodes[dqn].inputs[2]];
    assert_int_equal(qv->dtype, YQ_DT_INT32);
    assert_int_equal(zv->dtype, YQ_DT_INT32);
    assert_int_equal(yq_attr_int(&g->nodes[dqn], "axis", -1), 0);
    for (int c = 0; c < C1; c++) {
        float s = ((const float *)sv->data)[c];
        assert_true(s == (float)((double)s_in * wq.scale[c]));
        int32_t qi = ((const int32_t *)qv->data)[c];
        assert_int_equal(qi, (int32_t)nearbyint(bias[c] / (double)s));
        assert_int_equal(((const int32_t *)zv->data)[c], 0);
        assert_true(fabsf((float)qi * s - bias[c]) <= 0.5f * s * 1.0001f);
    }
    /* conv2 has no bias. */
    assert_int_equal(yq_qcdq_insert_bias_int32(g, find_node(g, "conv2"), s_in, &wq), YQ_ERR_ARG);
    assert_int_equal(yq_qcdq_insert_bias_int32(g, conv1, s_in, &wq), YQ_ERR_UNSUPPORTED); /* already done */
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    yq_qparams_free(&wq);
    yq_graph_free(g);
}

static void test_weight_errors_and_names(void **state) {
    (void)state;
    yq_graph *g = two_convs();
    int conv2 = find_node(g, "conv2");
    /* A node already named like the new DequantizeLinear. */
    int dummy_out, dummy;
    assert_int_equal(yq_graph_add_value(g, "dummy", &dummy_out), YQ_OK);
    int xin = yq_graph_find_value(g, "x");
    assert_int_equal(yq_graph_add_node(g, "Identity", "", "w2_DequantizeLinear", &xin, 1, &dummy_out, 1, &dummy),
                     YQ_OK);
    add_io(g, dummy_out, 0);
    yq_qparams qp;
    assert_int_equal(yq_qparams_alloc(&qp, 4, 1, 1, 0, C2), YQ_OK);
    int8_t q[C2 * C_IN];
    memset(q, 0, sizeof q);
    q[3] = -8; /* outside the narrow int4 range [-7, 7] */
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, NULL), YQ_ERR_ARG);
    assert_non_null(strstr(yq_last_error(), "conv2"));
    q[3] = -7;
    qp.scale[1] = 0.0f;
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, NULL), YQ_ERR_ARG);
    qp.scale[1] = 1.0f;
    qp.zero_point[0] = 9;
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, NULL), YQ_ERR_ARG);
    qp.zero_point[0] = 0;
    yq_qparams wrong;
    assert_int_equal(yq_qparams_alloc(&wrong, 4, 1, 0, 0, C2 + 1), YQ_OK);
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &wrong, YQ_QCDQ_CLIP, NULL), YQ_ERR_ARG);
    yq_qparams_free(&wrong);
    assert_int_equal(yq_qparams_alloc(&wrong, 8, 0, 0, 0, C2), YQ_OK); /* unsigned */
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &wrong, YQ_QCDQ_CLIP, NULL), YQ_ERR_ARG);
    yq_qparams_free(&wrong);
    yq_qcdq_counts c;
    yq_qcdq_count(g, &c);
    assert_int_equal(c.dequantize + c.clip, 0); /* failures left the graph alone */
    int dqn;
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, &dqn), YQ_OK);
    assert_string_equal(g->nodes[dqn].name, "w2_DequantizeLinear_1");
    /* Narrow 4 bit: the Clip bounds are [-7, 7]. */
    int clip = producer_of(g, g->nodes[dqn].inputs[0]);
    assert_int_equal(*(const int8_t *)g->values[g->nodes[clip].inputs[1]].data, -7);
    assert_int_equal(*(const int8_t *)g->values[g->nodes[clip].inputs[2]].data, 7);
    /* Quantizing the same node twice: its weight is no longer a float initializer. */
    assert_int_equal(yq_qcdq_insert_weight(g, conv2, q, &qp, YQ_QCDQ_CLIP, NULL), YQ_ERR_INVALID);
    assert_int_equal(yq_qcdq_finalize(g), YQ_OK);
    check_graph_sane(g);
    yq_qparams_free(&qp);
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_4bit_clip),        cmocka_unit_test(test_weight_8bit_and_per_tensor),
        cmocka_unit_test(test_weight_native_int4_and_groups), cmocka_unit_test(test_shared_activation_pairs),
        cmocka_unit_test(test_matmul_and_gemm_layouts), cmocka_unit_test(test_bias_int32),
        cmocka_unit_test(test_weight_errors_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
