/* Robustness of the ONNX reader: 500 seeded mutations (byte flips, truncation,
 * insertions, deletions) of a small but varied model must each load cleanly or
 * fail with a message; a loaded mutant must also serialize or fail cleanly.
 * Meant to run under ASan/UBSan too. Plus deeply nested subgraphs. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_testlib.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static Onnx__ModelProto *seed_model(void) {
    Onnx__ModelProto *m = tl_model(10, 21);
    tl_opset(m, "com.test", 2);
    tl_meta(m, "k", "v");
    int64_t xd[4] = {-1, 3, 8, 8};
    const char *xp[4] = {"batch", NULL, NULL, NULL};
    tl_input(m, tl_vi("x", YQ_DT_FLOAT, 4, xd, xp));
    int64_t wd[4] = {2, 3, 1, 1};
    float w[6] = {0.5f, -1, 2, 0.25f, 3, -4};
    Onnx__TensorProto *t = tl_tensor("w", YQ_DT_FLOAT, 4, wd);
    tl_raw(t, w, sizeof w);
    tl_init(m, t);
    int64_t qd[1] = {5};
    t = tl_tensor("q4", YQ_DT_INT4, 1, qd);
    tl_raw(t, "\x12\x9f\x07", 3);
    tl_init(m, t);
    t = tl_tensor("s", YQ_DT_FLOAT16, 1, (int64_t[]){2});
    t->n_int32_data = 2;
    t->int32_data = tl_dup((int32_t[]){0x3c00, 0x4000}, 8);
    tl_init(m, t);
    Onnx__NodeProto *conv = tl_node(m, "Conv", "conv", "x,w", "c");
    Onnx__AttributeProto *a = tl_attr(conv, "kernel_shape", YQ_ATTR_INTS);
    a->n_ints = 2;
    a->ints = tl_dup((int64_t[]){1, 1}, 16);
    a = tl_attr(conv, "auto_pad", YQ_ATTR_STRING);
    a->has_s = 1;
    a->s.data = tl_dup("NOTSET", 6);
    a->s.len = 6;
    Onnx__NodeProto *k = tl_node(m, "Constant", "k", "", "kc");
    a = tl_attr(k, "value", YQ_ATTR_TENSOR);
    a->t = tl_tensor(NULL, YQ_DT_INT64, 1, (int64_t[]){2});
    a->t->n_int64_data = 2;
    a->t->int64_data = tl_dup((int64_t[]){-1, 4}, 16);
    tl_node(m, "Reshape", "r", "c,kc", "rs");
    Onnx__NodeProto *dq = tl_node(m, "DequantizeLinear", "dq", "q4,s", "dq_out");
    a = tl_attr(dq, "axis", YQ_ATTR_INT);
    a->has_i = 1;
    a->i = 0;
    Onnx__NodeProto *cu = tl_node(m, "Custom", "cu", "rs,dq_out", "y");
    cu->domain = tl_str("com.test");
    a = tl_attr(cu, "alpha", YQ_ATTR_FLOAT);
    a->has_f = 1;
    a->f = 0.1f;
    a = tl_attr(cu, "body", YQ_ATTR_GRAPH);
    a->g = tl_alloc(sizeof *a->g);
    onnx__graph_proto__init(a->g);
    a->g->name = tl_str("body");
    a = tl_attr(cu, "names", YQ_ATTR_STRINGS);
    a->n_strings = 1;
    a->strings = tl_alloc(sizeof *a->strings);
    a->strings[0].data = tl_dup("abc", 3);
    a->strings[0].len = 3;
    tl_value_info(m, tl_vi("c", YQ_DT_FLOAT, 4, (int64_t[]){-1, 2, 8, 8}, xp));
    tl_output(m, tl_vi("y", YQ_DT_FLOAT, -1, NULL, NULL));
    return m;
}

static void test_mutations(void **state) {
    (void)state;
    size_t len;
    const uint8_t *seed = tl_pack(seed_model(), &len);
    yq_graph *g;
    assert_int_equal(yq_onnx_load_buffer(seed, len, "seed.onnx", NULL, &g), YQ_OK);
    tl_assert_roundtrip(g);
    yq_graph_free(g);

    uint8_t *buf = malloc(len + 64);
    assert_non_null(buf);
    int ok = 0, failed = 0, written = 0, by_status[YQ_STATUS_COUNT] = {0};
    for (int iter = 0; iter < 500; iter++) {
        size_t n = len;
        memcpy(buf, seed, len);
        int kind = (int)(rng() % 5);
        if (kind == 4) kind = 0; /* single flips load most often: they reach the IR builder */
        if (kind == 0 || kind == 3) { /* flip 1 byte, or 1..8 */
            int flips = kind == 0 && (rng() & 1) ? 1 : 1 + (int)(rng() % 8);
            for (int f = 0; f < flips; f++) buf[rng() % n] ^= (uint8_t)(1 + rng() % 255);
        }
        if (kind == 1 || kind == 3) n = (size_t)(rng() % n); /* truncate */
        if (kind == 2 && n > 16) {                           /* delete or insert a run */
            size_t at = (size_t)(rng() % (n - 8)), run = 1 + (size_t)(rng() % 8);
            if (rng() & 1) {
                memmove(buf + at, buf + at + run, n - at - run);
                n -= run;
            } else {
                memmove(buf + at + run, buf + at, n - at);
                for (size_t i = 0; i < run; i++) buf[at + i] = (uint8_t)rng();
                n += run;
            }
        }
        g = NULL;
        yq_clear_error();
        yq_status st = yq_onnx_load_buffer(buf, n, "mutant.onnx", NULL, &g);
        assert_true(st >= YQ_OK && st < YQ_STATUS_COUNT);
        if (st != YQ_OK) {
            assert_null(g);
            assert_non_null(strstr(yq_last_error(), "mutant.onnx"));
            failed++;
            by_status[st]++;
            continue;
        }
        ok++;
        uint8_t *out = NULL;
        size_t out_len = 0;
        yq_clear_error();
        st = yq_onnx_serialize(g, &out, &out_len);
        if (st == YQ_OK) {
            written++;
            /* what was written reads back */
            yq_graph *g2 = NULL;
            if (yq_onnx_load_buffer(out, out_len, "rewritten.onnx", NULL, &g2) != YQ_OK)
                fail_msg("iteration %d: rewritten mutant does not load: %s", iter, yq_last_error());
            yq_graph_free(g2);
        } else {
            assert_null(out);
            assert_string_not_equal(yq_last_error(), "no error message");
        }
        free(out);
        yq_graph_free(g);
    }
    print_message("500 mutants: %d loaded (%d of them written back), %d refused (parse %d, invalid %d, "
                  "unsupported %d, limit %d)\n",
                  ok, written, failed, by_status[YQ_ERR_PARSE], by_status[YQ_ERR_INVALID],
                  by_status[YQ_ERR_UNSUPPORTED], by_status[YQ_ERR_LIMIT]);
    assert_int_equal(ok + failed, 500);
    assert_true(failed > 0);
    free(buf);
    tl_free_all();
}

/* ---- deep nesting ----------------------------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_varint(bytes *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void put_field(bytes *b, unsigned field, const bytes *payload) {
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, payload->n);
    put(b, payload->p, payload->n);
}

/* model { ir_version 8, graph { node { op_type "If", attribute { name "g", type GRAPH, g { ... } } } } } */
static bytes nested_model(int depth) {
    bytes graph = {0};
    for (int level = 0; level < depth; level++) {
        bytes attr = {0}, node = {0}, g2 = {0};
        put(&attr, "\x0a\x01g", 3);      /* name = "g" */
        put(&attr, "\xa0\x01\x05", 3);   /* type (field 20) = GRAPH */
        put_field(&attr, 6, &graph);     /* g */
        put(&node, "\x22\x02If", 4);     /* op_type (field 4) */
        put(&node, "\x12\x01o", 3);      /* output "o" */
        put_field(&node, 5, &attr);      /* attribute */
        put(&g2, "\x12\x01n", 3);        /* graph name */
        put_field(&g2, 1, &node);        /* node */
        free(graph.p);
        free(attr.p);
        free(node.p);
        graph = g2;
    }
    bytes model = {0}, opset = {0};
    put(&model, "\x08\x08", 2);
    put_field(&model, 7, &graph);
    put(&opset, "\x10\x11", 2); /* version 17 */
    put_field(&model, 8, &opset);
    free(graph.p);
    free(opset.p);
    return model;
}

static void test_deep_nesting(void **state) {
    (void)state;
    /* far beyond the limit: refused before protobuf-c recurses */
    bytes deep = nested_model(5000);
    yq_graph *g = NULL;
    assert_int_equal(yq_onnx_load_buffer(deep.p, deep.n, "deep.onnx", NULL, &g), YQ_ERR_LIMIT);
    assert_non_null(strstr(yq_last_error(), "deep.onnx"));
    assert_non_null(strstr(yq_last_error(), "nested"));
    free(deep.p);
    /* moderate nesting parses; the top graph then lacks an output */
    bytes ok = nested_model(10);
    assert_int_equal(yq_onnx_load_buffer(ok.p, ok.n, "nested.onnx", NULL, &g), YQ_ERR_INVALID);
    assert_string_equal(yq_last_error(), "nested.onnx: the graph has no outputs");
    free(ok.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
