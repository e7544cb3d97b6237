/* Graph size limits of the ONNX reader (onnx.h: YQ_ONNX_MAX_NODES,
 * YQ_ONNX_MAX_VALUES): a small file that declares more nodes or values than the
 * limits is refused with YQ_ERR_LIMIT and a message naming the count, before
 * any graph is built; a file just at the node limit gets past that check (and
 * fails later for its own reasons: empty nodes have no op_type). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.h"

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* ModelProto { graph (7) { node (1) { output (2): "" x outputs_per_node } x nnodes } } */
static uint8_t *model_bytes(size_t nnodes, size_t outputs_per_node, size_t *len) {
    size_t node_body = 2 * outputs_per_node;
    uint8_t hdr[16];
    size_t node_hdr = 1 + put_varint(hdr, node_body);
    size_t graph_body = nnodes * (node_hdr + node_body);
    uint8_t *buf = malloc(graph_body + 32);
    assert_non_null(buf);
    size_t p = 0;
    buf[p++] = 0x3a; /* field 7, length-delimited */
    p += put_varint(buf + p, graph_body);
    for (size_t i = 0; i < nnodes; i++) {
        buf[p++] = 0x0a; /* GraphProto.node */
        p += put_varint(buf + p, node_body);
        for (size_t k = 0; k < outputs_per_node; k++) {
            buf[p++] = 0x12; /* NodeProto.output */
            buf[p++] = 0x00;
        }
    }
    *len = p;
    return buf;
}

static void test_too_many_nodes(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = model_bytes((size_t)YQ_ONNX_MAX_NODES + 1, 0, &len);
    yq_graph *g = NULL;
    assert_int_equal(yq_onnx_load_buffer(buf, len, "many_nodes.onnx", NULL, &g), YQ_ERR_LIMIT);
    assert_null(g);
    assert_non_null(strstr(yq_last_error(), "many_nodes.onnx: the graph has 1000001 nodes"));
    free(buf);
}

static void test_node_limit_itself_passes(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = model_bytes(YQ_ONNX_MAX_NODES, 0, &len);
    yq_graph *g = NULL;
    yq_status st = yq_onnx_load_buffer(buf, len, "limit_nodes.onnx", NULL, &g);
    /* Not refused for its size; refused for what it is (no ir_version, empty nodes). */
    assert_int_not_equal(st, YQ_OK);
    assert_int_not_equal(st, YQ_ERR_LIMIT);
    assert_null(g);
    free(buf);
}

static void test_too_many_values(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = model_bytes(4, (size_t)YQ_ONNX_MAX_VALUES / 4 + 1, &len);
    yq_graph *g = NULL;
    assert_int_equal(yq_onnx_load_buffer(buf, len, "many_values.onnx", NULL, &g), YQ_ERR_LIMIT);
    assert_null(g);
    assert_non_null(strstr(yq_last_error(), "many_values.onnx: the graph declares 4000004 values"));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_too_many_nodes),
        cmocka_unit_test(test_node_limit_itself_passes),
        cmocka_unit_test(test_too_many_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
