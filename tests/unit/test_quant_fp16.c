/* Float16 conversion (src/quant/fp16.c): types at every border, Casts only
 * where a float16 value meets a float32 node, shared initializers, the
 * runtime executing the result, and a written file that reads back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "onnx/onnx.h"
#include "pipeline/synthetic.h"
#include "quant/fp16.h"
#include "rt/prepare.h"
#include "rt/session.h"

static int count_op(const yq_graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return n;
}

static yq_graph *prepared(yq_graph *g) {
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
    return g;
}

/* Run g on x (the session takes g), copy output 0 into out (n floats). */
static void run(yq_graph *g, const float *x, const int64_t *dims, float *out, int64_t n) {
    yq_session *s = NULL;
    yq_session_opts so = {.nthreads = 1};
    assert_int_equal(yq_session_new(g, &so, &s), YQ_OK);
    yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {dims[0], dims[1], dims[2], dims[3]}, .data = (void *)x};
    assert_int_equal(yq_session_run(s, &t, 1), YQ_OK);
    const yq_tensor *o = yq_session_output(s, 0);
    assert_int_equal(o->dtype, YQ_DT_FLOAT);
    assert_int_equal(yq_tensor_numel(o), n);
    memcpy(out, o->data, (size_t)n * sizeof(float));
    yq_session_free(s);
}

static void test_synthetic_detector_converts_and_runs(void **state) {
    (void)state;
    yq_graph *g32 = NULL, *g16 = NULL;
    assert_int_equal(yq_synthetic_model(&g32), YQ_OK);
    assert_int_equal(yq_synthetic_model(&g16), YQ_OK);
    prepared(g16);
    yq_fp16_report rep;
    assert_int_equal(yq_convert_fp16(g16, &rep), YQ_OK);
    /* every float initializer is now float16, graph inputs/outputs still float32 */
    for (int v = 0; v < g16->nvalues; v++)
        if (g16->values[v].data && (g16->values[v].flags & YQ_VAL_INIT) && yq_dtype_is_float(g16->values[v].dtype))
            assert_int_equal(g16->values[v].dtype, YQ_DT_FLOAT16);
    assert_int_equal(g16->values[g16->inputs[0]].dtype, YQ_DT_FLOAT);
    assert_int_equal(g16->values[g16->outputs[0]].dtype, YQ_DT_FLOAT);
    assert_true(rep.nodes_half >= 5);
    assert_int_equal(rep.nodes_float, 0);
    assert_int_equal(rep.casts_added, 2); /* one at the input, one at the output */
    assert_int_equal(count_op(g16, "Cast"), 2);
    assert_true(rep.initializers_half >= 6);

    /* written and read back, it runs and agrees with float32 within float16 rounding */
    char path[512];
    snprintf(path, sizeof path, "%s/synth16.onnx", yqt_tmpdir());
    assert_int_equal(yq_onnx_save(g16, path), YQ_OK);
    yq_graph *back = NULL;
    assert_int_equal(yq_onnx_load(path, &back), YQ_OK);
    const int64_t dims[4] = {1, 3, YQ_SYNTH_SIZE, YQ_SYNTH_SIZE};
    const int64_t n = 3 * YQ_SYNTH_SIZE * YQ_SYNTH_SIZE, nout = 6 * 64;
    float *x = malloc((size_t)n * sizeof *x), a[6 * 64], b[6 * 64];
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 1000.f;
    run(g32, x, dims, a, nout);
    run(back, x, dims, b, nout);
    double maxdiff = 0;
    for (int64_t i = 0; i < nout; i++) maxdiff = fmax(maxdiff, fabs((double)a[i] - b[i]));
    assert_true(maxdiff < 1e-2);
    free(x);
    yq_graph_free(g16); /* g32 and back went to their sessions */
}

/* x -> Mul(x, c) -> Exp -> Add(., c) -> y: Exp has no float16 entry in the op list, so it
 * stays float32 between two Casts; c feeds two half nodes and becomes float16 once;
 * y is a graph output, so Add writes a float16 twin and a Cast restores float32. */
static void test_float_island_gets_casts(void **state) {
    (void)state;
    yq_graph *g = NULL;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    const int64_t d[4] = {1, 3, 2, 2};
    int x, c, m, e, y, nd;
    assert_int_equal(yq_graph_add_value(g, "x", &x), YQ_OK);
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    memcpy(g->values[x].dims, d, sizeof d);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    const float cv[1] = {0.5f};
    assert_int_equal(yq_graph_add_initializer(g, "c", YQ_DT_FLOAT, 0, NULL, cv, &c), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "m", &m), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "e", &e), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Mul", "", "mul", (int[]){x, c}, 2, &m, 1, &nd), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Exp", "", "exp", (int[]){m}, 1, &e, 1, &nd), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Add", "", "add", (int[]){e, c}, 2, &y, 1, &nd), YQ_OK);
    g->values[y].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    assert_int_equal(yq_graph_rebuild_producers(g), YQ_OK);
    prepared(g);
    yq_fp16_report rep;
    assert_int_equal(yq_convert_fp16(g, &rep), YQ_OK);
    assert_int_equal(rep.nodes_half, 2);
    assert_int_equal(rep.nodes_float, 1);
    assert_int_equal(rep.casts_added, 4);
    assert_int_equal(rep.initializers_half, 1);
    int exp_node = -1;
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].op_type, "Exp")) exp_node = i;
    assert_true(exp_node >= 0);
    const yq_value *ein = &g->values[g->nodes[exp_node].inputs[0]];
    const yq_value *eout = &g->values[g->nodes[exp_node].outputs[0]];
    assert_int_equal(ein->dtype, YQ_DT_FLOAT);
    assert_int_equal(eout->dtype, YQ_DT_FLOAT);
    assert_int_equal(g->nodes[ein->producer].op_type[0], 'C'); /* a Cast */
    int yo = g->outputs[0];
    assert_string_equal(g->values[yo].name, "y");
    assert_int_equal(g->values[yo].dtype, YQ_DT_FLOAT);
    assert_string_equal(g->nodes[g->values[yo].producer].op_type, "Cast");
    /* exp(0.5 x) + 0.5 through the converted graph */
    float xin[12], out[12];
    for (int i = 0; i < 12; i++) xin[i] = (float)i / 4.f;
    run(g, xin, d, out, 12);
    for (int i = 0; i < 12; i++) assert_true(fabs(out[i] - (exp(0.5 * xin[i]) + 0.5)) < 1e-2 * (1 + out[i]));
}

static void test_unprepared_graph_is_refused(void **state) {
    (void)state;
    yq_graph *g = NULL;
    assert_int_equal(yq_synthetic_model(&g), YQ_OK);
    for (int v = 0; v < g->nvalues; v++)
        if (!strcmp(g->values[v].name, "features")) g->values[v].dtype = YQ_DT_UNDEFINED;
    assert_int_equal(yq_convert_fp16(g, NULL), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "prepared"));
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_detector_converts_and_runs),
        cmocka_unit_test(test_float_island_gets_casts),
        cmocka_unit_test(test_unprepared_graph_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
