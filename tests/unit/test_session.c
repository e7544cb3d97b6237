/* The session: planning (arena reuse by liveness), execution, input checks,
 * the observation hook, and determinism across thread counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "onnx/onnx.h"
#include "rt/session.h"

/* x -> Relu -> a -> Neg -> b -> Relu -> c -> Add(c, a) -> y   (a chain where
 * buffers die early, so the arena must be smaller than the sum of values) */
static yq_graph *chain_graph(int64_t n) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 17), YQ_OK);
    const char *names[] = {"x", "a", "b", "c", "y"};
    int id[5];
    for (int i = 0; i < 5; i++) assert_int_equal(yq_graph_add_value(g, names[i], &id[i]), YQ_OK);
    g->values[id[0]].flags |= YQ_VAL_INPUT;
    g->values[id[0]].dtype = YQ_DT_FLOAT;
    g->values[id[0]].rank = 2;
    g->values[id[0]].dims[0] = 1;
    g->values[id[0]].dims[1] = n;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = id[0];
    g->ninputs = 1;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = id[4];
    g->noutputs = 1;
    g->values[id[4]].flags |= YQ_VAL_OUTPUT;
    int k;
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "r1", &id[0], 1, &id[1], 1, &k), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Neg", "", "n1", &id[1], 1, &id[2], 1, &k), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "r2", &id[2], 1, &id[3], 1, &k), YQ_OK);
    int add_in[2] = {id[3], id[1]};
    assert_int_equal(yq_graph_add_node(g, "Add", "", "add", add_in, 2, &id[4], 1, &k), YQ_OK);
    return g;
}

typedef struct {
    int calls;
    int saw_add;
} hook_log;

static void hook(void *arg, const yq_graph *g, int node_index, const yq_tensor *in, int nin, const yq_tensor *out,
                 int nout) {
    hook_log *h = arg;
    h->calls++;
    if (!strcmp(g->nodes[node_index].op_type, "Add")) {
        assert_int_equal(nin, 2);
        assert_int_equal(nout, 1);
        assert_non_null(in[0].data);
        assert_non_null(out[0].data);
        h->saw_add = 1;
    }
}

static void test_chain_runs_and_reuses_memory(void **state) {
    (void)state;
    const int64_t n = 1000;
    yq_session *s;
    yq_session_opts so = {.nthreads = 2};
    assert_int_equal(yq_session_new(chain_graph(n), &so, &s), YQ_OK);
    /* values a,b,c,y are 4000 bytes each; b dies before y is made */
    assert_true(yq_session_arena_bytes(s) < 4 * 4096);
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3.0f;
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 2, .dims = {1, n}, .data = x};
    hook_log h = {0};
    yq_session_set_hook(s, hook, &h);
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
        const float *y = yq_session_output(s, 0)->data;
        for (int64_t i = 0; i < n; i++) {
            float a = x[i] > 0 ? x[i] : 0; /* relu(-relu(x)) = 0, so y = relu(x) */
            assert_true(y[i] == a);
        }
    }
    assert_int_equal(h.calls, 8);
    assert_true(h.saw_add);
    /* wrong shape / count */
    yq_tensor bad = in;
    bad.dims[1] = n + 1;
    assert_int_equal(yq_session_run(s, &bad, 1), YQ_ERR_ARG);
    assert_non_null(strstr(yq_last_error(), "'x'"));
    assert_int_equal(yq_session_run(s, &in, 0), YQ_ERR_ARG);
    free(x);
    yq_session_free(s);
}

static void test_unknown_op_is_rejected(void **state) {
    (void)state;
    yq_graph *g = chain_graph(8);
    free(g->nodes[1].op_type);
    g->nodes[1].op_type = strdup("NoSuchOp");
    yq_session *s;
    assert_int_equal(yq_session_new(g, NULL, &s), YQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(yq_last_error(), "NoSuchOp"));
}

/* Same input, 1 vs 2 threads: byte-identical outputs (fixed reduction orders). */
static void test_yolov10n_deterministic_across_threads(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    const char *path = yqt_shared_path("models/yolov10n.onnx");
    float *x = malloc(3 * 640 * 640 * sizeof(float));
    for (int i = 0; i < 3 * 640 * 640; i++) x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 640, 640}, .data = x};
    float *first = NULL;
    size_t bytes = 0;
    for (int nt = 1; nt <= 2; nt++) {
        yq_graph *g;
        yq_session *s;
        assert_int_equal(yq_onnx_load(path, &g), YQ_OK);
        yq_session_opts so = {.nthreads = nt};
        assert_int_equal(yq_session_new(g, &so, &s), YQ_OK);
        assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
        const yq_tensor *out = yq_session_output(s, 0);
        bytes = (size_t)yq_tensor_numel(out) * sizeof(float);
        if (!first) {
            first = malloc(bytes);
            memcpy(first, out->data, bytes);
        } else {
            assert_memory_equal(first, out->data, bytes);
        }
        yq_session_free(s);
    }
    free(first);
    free(x);
}

/* Conv -> Sigmoid -> Mul fused into the conv epilogue gives the unfused result
 * (the fused SiLU uses a vectorised exp: within 1e-4 of the largest output). */
static void test_silu_fusion_matches_unfused(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    const char *path = yqt_shared_path("models/yolov10m-random.onnx");
    float *x = malloc(3 * 640 * 640 * sizeof(float));
    for (int i = 0; i < 3 * 640 * 640; i++) x[i] = (float)((i * 2246822519u) % 1000u) / 1000.0f;
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 640, 640}, .data = x};
    float *ref = NULL;
    int64_t n = 0;
    for (int fused = 0; fused <= 1; fused++) {
        yq_graph *g;
        yq_session *s;
        assert_int_equal(yq_onnx_load(path, &g), YQ_OK);
        yq_session_opts so = {.nthreads = 2, .no_fusion = !fused};
        assert_int_equal(yq_session_new(g, &so, &s), YQ_OK);
        int sig = 0;
        for (int i = 0; i < yq_session_graph(s)->nnodes; i++) sig += !strcmp(yq_session_graph(s)->nodes[i].op_type, "Sigmoid");
        if (fused) assert_true(sig <= 1); /* only the score sigmoid, if any, is left */
        else assert_true(sig > 100);
        assert_int_equal(yq_session_run(s, &in, 1), YQ_OK);
        const yq_tensor *out = yq_session_output(s, 0);
        if (!fused) {
            n = yq_tensor_numel(out);
            ref = malloc((size_t)n * sizeof(float));
            memcpy(ref, out->data, (size_t)n * sizeof(float));
        } else {
            const float *o = out->data;
            float maxabs = 0, maxdiff = 0;
            for (int64_t i = 0; i < n; i++) {
                if (fabsf(ref[i]) > maxabs) maxabs = fabsf(ref[i]);
                if (fabsf(ref[i] - o[i]) > maxdiff) maxdiff = fabsf(ref[i] - o[i]);
            }
            assert_true(maxdiff <= 1e-4f * maxabs);
        }
        yq_session_free(s);
    }
    free(ref);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_runs_and_reuses_memory),
        cmocka_unit_test(test_unknown_op_is_rejected),
        cmocka_unit_test(test_yolov10n_deterministic_across_threads),
        cmocka_unit_test(test_silu_fusion_matches_unfused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
