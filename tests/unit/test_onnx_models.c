/* The ONNX reader/writer on the shared YOLO models: what the IR holds, exact
 * round trips, and damaged copies (truncated, garbage, empty, missing). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "onnx_testlib.h"

static yq_graph *load_shared(const char *rel) {
    YQT_REQUIRE_SHARED();
    const char *path = yqt_shared_path(rel);
    yq_graph *g;
    if (yq_onnx_load(path, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    return g;
}

static int count_op(const yq_graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += strcmp(g->nodes[i].op_type, op) == 0;
    return c;
}

static int count_inits(const yq_graph *g) {
    int c = 0;
    for (int v = 0; v < g->nvalues; v++) c += (g->values[v].flags & YQ_VAL_INIT) != 0;
    return c;
}

static void check_io(const yq_value *v, const char *name, unsigned flags, int rank, const int64_t *dims) {
    assert_string_equal(v->name, name);
    assert_int_equal(v->flags, flags);
    assert_int_equal(v->dtype, YQ_DT_FLOAT);
    assert_int_equal(v->rank, rank);
    for (int d = 0; d < rank; d++) assert_int_equal(v->dims[d], dims[d]);
}

/* Counts from the file as python's onnx reports them. */
static void test_yolov10n_contents(void **state) {
    (void)state;
    yq_graph *g = load_shared("models/yolov10n.onnx");
    assert_int_equal(g->ir_version, 8);
    assert_int_equal(g->nopsets, 1);
    assert_int_equal(yq_graph_opset(g, ""), 17);
    assert_string_equal(g->producer_name, "onnx.quantize");
    assert_string_equal(g->producer_version, "0.1.0");
    assert_string_equal(g->graph_name, "torch_jit");
    assert_int_equal(g->nnodes, 308);
    assert_int_equal(count_inits(g), 187);
    assert_int_equal(count_op(g, "Conv"), 83);
    assert_int_equal(count_op(g, "TopK"), 2);
    assert_int_equal(g->nmeta, 11);
    assert_string_equal(g->meta[0].key, "description");
    assert_string_equal(g->meta[6].key, "stride");
    assert_string_equal(g->meta[6].value, "32");
    assert_int_equal(g->ninputs, 1);
    check_io(&g->values[g->inputs[0]], "images", YQ_VAL_INPUT, 4, (const int64_t[]){1, 3, 640, 640});
    assert_int_equal(g->noutputs, 1);
    check_io(&g->values[g->outputs[0]], "output0", YQ_VAL_OUTPUT, 3, (const int64_t[]){1, 300, 6});
    /* every node input is defined and every initializer holds its full data */
    for (int v = 0; v < g->nvalues; v++) {
        const yq_value *val = &g->values[v];
        if (!(val->flags & YQ_VAL_INIT)) continue;
        size_t nb;
        assert_int_equal(yq_dtype_bytes(val->dtype, yq_value_numel(val), &nb), YQ_OK);
        assert_int_equal(val->nbytes, nb);
        assert_true(val->dtype == YQ_DT_FLOAT || val->dtype == YQ_DT_INT64);
    }
    for (int i = 0; i < g->nnodes; i++) assert_int_equal(g->nodes[i].op, -1);
    assert_int_equal(yq_graph_toposort(g), YQ_OK);
    assert_int_equal(g->nnodes, 308);
    yq_graph_free(g);
}

static void test_yolov10n_roundtrip(void **state) {
    (void)state;
    yq_graph *g = load_shared("models/yolov10n.onnx");
    tl_assert_roundtrip(g);
    /* through a file, atomically written */
    char path[512];
    snprintf(path, sizeof path, "%s/yolov10n-rt.onnx", yqt_tmpdir());
    assert_int_equal(yq_onnx_save(g, path), YQ_OK);
    yq_graph *g2;
    assert_int_equal(yq_onnx_load(path, &g2), YQ_OK);
    tl_assert_graph_equal(g, g2);
    yq_graph_free(g2);
    yq_graph_free(g);
}

static void test_yolov10m_roundtrip(void **state) {
    (void)state;
    yq_graph *g = load_shared("models/yolov10m-random.onnx");
    assert_int_equal(g->ir_version, 7);
    assert_int_equal(yq_graph_opset(g, ""), 13);
    assert_int_equal(g->nnodes, 421);
    assert_int_equal(count_inits(g), 234);
    /* Constant nodes stay nodes, their tensors decoded */
    assert_int_equal(count_op(g, "Constant"), 23);
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Constant") != 0) continue;
        const yq_attr *a = yq_node_attr(n, "value");
        assert_non_null(a);
        assert_int_equal(a->type, YQ_ATTR_TENSOR);
        assert_non_null(a->t);
        assert_non_null(a->t->data);
    }
    check_io(&g->values[g->outputs[0]], "out", YQ_VAL_OUTPUT, 3, (const int64_t[]){1, 144, 8400});
    tl_assert_roundtrip(g);
    yq_graph_free(g);
}

/* Cut the real model at several points: never OK, always a message naming it. */
static void test_truncated_model(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    unsigned char *buf;
    size_t len;
    assert_int_equal(yq_read_file(yqt_shared_path("models/yolov10n.onnx"), &buf, &len), YQ_OK);
    size_t cuts[] = {1, 2, 3, 7, 16, 100, 1000, 4096, 65536, len / 3, len / 2, len - 4096, len - 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        yq_graph *g = NULL;
        yq_status st = yq_onnx_load_buffer(buf, cuts[i], "cut.onnx", NULL, &g);
        if (st == YQ_OK) fail_msg("model cut at %zu bytes loaded", cuts[i]);
        assert_null(g);
        assert_non_null(strstr(yq_last_error(), "cut.onnx"));
    }
    /* a cut in the middle of the tensors is a protobuf error */
    yq_graph *g = NULL;
    assert_int_equal(yq_onnx_load_buffer(buf, len / 2, "cut.onnx", NULL, &g), YQ_ERR_PARSE);
    assert_string_equal(yq_last_error(), "cut.onnx: not a valid ONNX model (protobuf parse failed)");
    free(buf);
}

static void test_bad_files(void **state) {
    (void)state;
    yq_graph *g = NULL;
    char path[512];
    /* missing */
    snprintf(path, sizeof path, "%s/does-not-exist.onnx", yqt_tmpdir());
    assert_int_equal(yq_onnx_load(path, &g), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), path));
    assert_null(g);
    /* a folder */
    assert_int_equal(yq_onnx_load(yqt_tmpdir(), &g), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), yqt_tmpdir()));
    /* zero length */
    snprintf(path, sizeof path, "%s/empty.onnx", yqt_tmpdir());
    tl_write(path, "", 0);
    assert_int_equal(yq_onnx_load(path, &g), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), path));
    assert_non_null(strstr(yq_last_error(), "empty file"));
    /* garbage: text, random bytes */
    snprintf(path, sizeof path, "%s/text.onnx", yqt_tmpdir());
    const char *text = "this is not a model\n";
    tl_write(path, text, strlen(text));
    assert_int_not_equal(yq_onnx_load(path, &g), YQ_OK);
    assert_non_null(strstr(yq_last_error(), path));
    uint8_t noise[4096];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof noise; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            noise[i] = (uint8_t)s;
        }
        yq_status st = yq_onnx_load_buffer(noise, sizeof noise, "noise.onnx", NULL, &g);
        assert_int_not_equal(st, YQ_OK);
        assert_null(g);
        assert_non_null(strstr(yq_last_error(), "noise.onnx"));
    }
    /* valid protobuf, but no model in it: just ir_version 7 */
    uint8_t only_ir[] = {0x08, 0x07};
    assert_int_equal(yq_onnx_load_buffer(only_ir, sizeof only_ir, "bare.onnx", NULL, &g), YQ_ERR_INVALID);
    assert_string_equal(yq_last_error(), "bare.onnx: the model has no graph");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yolov10n_contents),
        cmocka_unit_test(test_yolov10n_roundtrip),
        cmocka_unit_test(test_yolov10m_roundtrip),
        cmocka_unit_test(test_truncated_model),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
