/* Cast (src/rt/kernels/cast.c): float -> integer truncation and saturation,
 * integer wrap-around, float16/bfloat16 rounding (including the double ->
 * float16 case where rounding through float would round twice), the
 * bfloat16 opset difference, bool, 4-bit types, 64-bit extremes, threads,
 * and infer errors. All comparisons are exact. */
#include "testutil.h"

#include <math.h>

#include "kernel_graph.h"

static yq_graph *cast(int64_t opset, yq_dtype from, yq_dtype to, int64_t n, const void *x, yq_pool *pool, int *out) {
    yq_graph *g = kg_new(opset);
    const int64_t d[1] = {n};
    int in = kg_const(g, from, 1, d, x);
    int node = kg_node(g, "Cast", &in, 1, out);
    assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "to", to), YQ_OK);
    assert_int_equal(kg_eval(g, node, pool), YQ_OK);
    const yq_value *v = kg_val(g, *out);
    assert_int_equal(v->dtype, to);
    assert_int_equal(v->rank, 1);
    assert_int_equal(v->dims[0], n);
    return g;
}

static void test_float_to_int(void **state) {
    (void)state;
    const float x[9] = {-1.9f, -0.5f, 0.5f, 1.9f, 300.0f, -300.0f, NAN, INFINITY, -INFINITY};
    int out;
    yq_graph *g = cast(13, YQ_DT_FLOAT, YQ_DT_INT8, 9, x, NULL, &out);
    const int8_t want_i8[9] = {-1, 0, 0, 1, 127, -128, 0, 127, -128};
    assert_memory_equal(kg_val(g, out)->data, want_i8, 9);
    yq_graph_free(g);
    g = cast(13, YQ_DT_FLOAT, YQ_DT_UINT8, 9, x, NULL, &out);
    const uint8_t want_u8[9] = {0, 0, 0, 1, 255, 0, 0, 255, 0};
    assert_memory_equal(kg_val(g, out)->data, want_u8, 9);
    yq_graph_free(g);
    g = cast(13, YQ_DT_FLOAT, YQ_DT_INT32, 9, x, NULL, &out);
    const int32_t want_i32[9] = {-1, 0, 0, 1, 300, -300, 0, INT32_MAX, INT32_MIN};
    assert_memory_equal(kg_val(g, out)->data, want_i32, sizeof want_i32);
    yq_graph_free(g);
    g = cast(13, YQ_DT_FLOAT, YQ_DT_INT64, 9, x, NULL, &out);
    const int64_t want_i64[9] = {-1, 0, 0, 1, 300, -300, 0, INT64_MAX, INT64_MIN};
    assert_memory_equal(kg_val(g, out)->data, want_i64, sizeof want_i64);
    yq_graph_free(g);
    const double xd[4] = {1e30, -1.0, 18446744073709549568.0, 4294967295.9};
    g = cast(13, YQ_DT_DOUBLE, YQ_DT_UINT64, 4, xd, NULL, &out);
    const uint64_t want_u64[4] = {UINT64_MAX, 0, 18446744073709549568ull, 4294967295ull};
    assert_memory_equal(kg_val(g, out)->data, want_u64, sizeof want_u64);
    yq_graph_free(g);
    g = cast(13, YQ_DT_DOUBLE, YQ_DT_UINT32, 4, xd, NULL, &out);
    const uint32_t want_u32[4] = {UINT32_MAX, 0, UINT32_MAX, UINT32_MAX};
    assert_memory_equal(kg_val(g, out)->data, want_u32, sizeof want_u32);
    yq_graph_free(g);
    /* float16 source */
    const uint16_t h[3] = {yq_f32_to_f16(-2.75f), yq_f32_to_f16(65504.0f), 0xfc00 /* -inf */};
    g = cast(13, YQ_DT_FLOAT16, YQ_DT_INT16, 3, h, NULL, &out);
    const int16_t want_i16[3] = {-2, 32767, -32768};
    assert_memory_equal(kg_val(g, out)->data, want_i16, sizeof want_i16);
    yq_graph_free(g);
}

static void test_int_to_int_and_float(void **state) {
    (void)state;
    const int32_t x[6] = {300, -129, 255, -1, INT32_MAX, INT32_MIN};
    int out;
    yq_graph *g = cast(13, YQ_DT_INT32, YQ_DT_INT8, 6, x, NULL, &out);
    const int8_t want_i8[6] = {44, 127, -1, -1, -1, 0}; /* two's complement wrap */
    assert_memory_equal(kg_val(g, out)->data, want_i8, 6);
    yq_graph_free(g);
    g = cast(13, YQ_DT_INT32, YQ_DT_UINT16, 6, x, NULL, &out);
    const uint16_t want_u16[6] = {300, 65407, 255, 65535, 65535, 0};
    assert_memory_equal(kg_val(g, out)->data, want_u16, sizeof want_u16);
    yq_graph_free(g);
    g = cast(13, YQ_DT_INT32, YQ_DT_INT64, 6, x, NULL, &out);
    const int64_t want_i64[6] = {300, -129, 255, -1, INT32_MAX, INT32_MIN};
    assert_memory_equal(kg_val(g, out)->data, want_i64, sizeof want_i64);
    yq_graph_free(g);
    g = cast(13, YQ_DT_INT32, YQ_DT_FLOAT, 6, x, NULL, &out);
    const float want_f[6] = {300, -129, 255, -1, 2147483648.0f, -2147483648.0f};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    yq_graph_free(g);
    const uint64_t u[3] = {UINT64_MAX, 1ull << 63, 12345};
    g = cast(13, YQ_DT_UINT64, YQ_DT_DOUBLE, 3, u, NULL, &out);
    const double want_d[3] = {18446744073709551616.0, 9223372036854775808.0, 12345.0};
    assert_memory_equal(kg_val(g, out)->data, want_d, sizeof want_d);
    yq_graph_free(g);
    g = cast(13, YQ_DT_UINT64, YQ_DT_INT64, 3, u, NULL, &out);
    const int64_t want_w[3] = {-1, INT64_MIN, 12345};
    assert_memory_equal(kg_val(g, out)->data, want_w, sizeof want_w);
    yq_graph_free(g);
    const int64_t big[2] = {(1ll << 53) + 1, -((1ll << 24) + 1)};
    g = cast(13, YQ_DT_INT64, YQ_DT_FLOAT, 2, big, NULL, &out);
    const float want_big[2] = {9007199254740992.0f, -16777216.0f}; /* round to nearest even */
    assert_memory_equal(kg_val(g, out)->data, want_big, sizeof want_big);
    yq_graph_free(g);
}

static void test_half_rounding(void **state) {
    (void)state;
    int out;
    /* float -> float16: nearest even, overflow at the halfway point 65520 */
    const float x[8] = {1.0f + 1.0f / 2048.0f, 1.0f + 3.0f / 2048.0f, 65504.0f, 65519.0f, 65520.0f, 5.96046448e-08f,
                        2.98023224e-08f, NAN};
    yq_graph *g = cast(13, YQ_DT_FLOAT, YQ_DT_FLOAT16, 8, x, NULL, &out);
    const uint16_t *h = kg_val(g, out)->data;
    const uint16_t want_h[7] = {0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000};
    assert_memory_equal(h, want_h, sizeof want_h);
    assert_true((h[7] & 0x7c00) == 0x7c00 && (h[7] & 0x3ff) != 0);
    yq_graph_free(g);
    /* double -> float16 rounds once: 1 + 2^-11 + 2^-40 is just above the
     * halfway point, so it rounds up; through float it would tie to even. */
    const double xd[5] = {1.0 + ldexp(1, -11) + ldexp(1, -40), 1.0 + ldexp(1, -11), -65519.99, 1e-9, -1e300};
    g = cast(13, YQ_DT_DOUBLE, YQ_DT_FLOAT16, 5, xd, NULL, &out);
    const uint16_t want_hd[5] = {0x3c01, 0x3c00, 0xfbff, 0x0000, 0xfc00};
    assert_memory_equal(kg_val(g, out)->data, want_hd, sizeof want_hd);
    yq_graph_free(g);
    /* float16 -> double and float are exact */
    const uint16_t hs[4] = {0x0001, 0x3555, 0x7bff, 0xfc00};
    g = cast(13, YQ_DT_FLOAT16, YQ_DT_DOUBLE, 4, hs, NULL, &out);
    const double want_dd[4] = {ldexp(1, -24), 0.333251953125, 65504.0, -INFINITY};
    assert_memory_equal(kg_val(g, out)->data, want_dd, sizeof want_dd);
    yq_graph_free(g);
}

static void test_bfloat16_by_opset(void **state) {
    (void)state;
    /* Values from the ONNX backend test test_cast_FLOAT_to_BFLOAT16 (bits). */
    const uint32_t bits[6] = {1056257464u, 1056304816u, 1062318309u, 2143289344u, 2139095040u, 4286578688u};
    float x[6];
    memcpy(x, bits, sizeof x);
    int out;
    yq_graph *g = cast(13, YQ_DT_FLOAT, YQ_DT_BFLOAT16, 6, x, NULL, &out);
    const uint16_t want_trunc[6] = {16117, 16117, 16209, 32704, 32640, 65408}; /* Cast-13: truncation */
    assert_memory_equal(kg_val(g, out)->data, want_trunc, sizeof want_trunc);
    yq_graph_free(g);
    g = cast(19, YQ_DT_FLOAT, YQ_DT_BFLOAT16, 6, x, NULL, &out);
    const uint16_t want_rne[6] = {16117, 16118, 16210, 32704, 32640, 65408}; /* Cast-19: nearest even */
    assert_memory_equal(kg_val(g, out)->data, want_rne, sizeof want_rne);
    yq_graph_free(g);
    const uint16_t b[3] = {0x3f80, 0xc049, 0x7f80};
    g = cast(13, YQ_DT_BFLOAT16, YQ_DT_FLOAT, 3, b, NULL, &out);
    const float want_f[3] = {1.0f, -3.140625f, INFINITY};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    yq_graph_free(g);
    /* double -> bfloat16 at opset 21 rounds once from the double */
    const double xd[2] = {1.0 + ldexp(1, -8) + ldexp(1, -30), 3.0};
    g = cast(21, YQ_DT_DOUBLE, YQ_DT_BFLOAT16, 2, xd, NULL, &out);
    const uint16_t want_bd[2] = {0x3f81, 0x4040};
    assert_memory_equal(kg_val(g, out)->data, want_bd, sizeof want_bd);
    yq_graph_free(g);
}

static void test_bool(void **state) {
    (void)state;
    const float x[5] = {0.0f, -0.0f, 0.5f, -3.0f, NAN};
    int out;
    yq_graph *g = cast(13, YQ_DT_FLOAT, YQ_DT_BOOL, 5, x, NULL, &out);
    const uint8_t want_b[5] = {0, 0, 1, 1, 1};
    assert_memory_equal(kg_val(g, out)->data, want_b, 5);
    yq_graph_free(g);
    const uint8_t b[3] = {1, 0, 1};
    g = cast(13, YQ_DT_BOOL, YQ_DT_FLOAT, 3, b, NULL, &out);
    const float want_f[3] = {1, 0, 1};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    yq_graph_free(g);
    g = cast(13, YQ_DT_BOOL, YQ_DT_INT64, 3, b, NULL, &out);
    const int64_t want_l[3] = {1, 0, 1};
    assert_memory_equal(kg_val(g, out)->data, want_l, sizeof want_l);
    yq_graph_free(g);
    const int64_t l[3] = {0, -5, 1ll << 40};
    g = cast(13, YQ_DT_INT64, YQ_DT_BOOL, 3, l, NULL, &out);
    const uint8_t want_lb[3] = {0, 1, 1};
    assert_memory_equal(kg_val(g, out)->data, want_lb, 3);
    yq_graph_free(g);
}

static void test_4bit(void **state) {
    (void)state;
    /* float -> int4/uint4: clip, then round half to even (ONNX reference) */
    const float x[9] = {2.5f, 3.5f, -2.5f, -9.0f, 20.0f, 6.6f, -0.4f, 15.5f, NAN};
    int out;
    yq_graph *g = cast(21, YQ_DT_FLOAT, YQ_DT_INT4, 9, x, NULL, &out);
    const int8_t want_i4[9] = {2, 4, -2, -8, 7, 7, 0, 7, 0};
    assert_memory_equal(kg_val(g, out)->data, want_i4, 9);
    yq_graph_free(g);
    g = cast(21, YQ_DT_FLOAT, YQ_DT_UINT4, 9, x, NULL, &out);
    const uint8_t want_u4[9] = {2, 4, 0, 0, 15, 7, 0, 15, 0};
    assert_memory_equal(kg_val(g, out)->data, want_u4, 9);
    yq_graph_free(g);
    /* integers clip */
    const int32_t xi[5] = {-100, -8, 7, 8, 100};
    g = cast(21, YQ_DT_INT32, YQ_DT_INT4, 5, xi, NULL, &out);
    const int8_t want_ii4[5] = {-8, -8, 7, 7, 7};
    assert_memory_equal(kg_val(g, out)->data, want_ii4, 5);
    yq_graph_free(g);
    const uint64_t xu[2] = {UINT64_MAX, 3};
    g = cast(21, YQ_DT_UINT64, YQ_DT_UINT4, 2, xu, NULL, &out);
    const uint8_t want_uu4[2] = {15, 3};
    assert_memory_equal(kg_val(g, out)->data, want_uu4, 2);
    yq_graph_free(g);
    /* 4-bit sources (unpacked) */
    const int8_t i4[4] = {-8, -1, 0, 7};
    g = cast(21, YQ_DT_INT4, YQ_DT_FLOAT, 4, i4, NULL, &out);
    const float want_f[4] = {-8, -1, 0, 7};
    assert_memory_equal(kg_val(g, out)->data, want_f, sizeof want_f);
    yq_graph_free(g);
    g = cast(21, YQ_DT_INT4, YQ_DT_UINT8, 4, i4, NULL, &out);
    const uint8_t want_u8[4] = {248, 255, 0, 7};
    assert_memory_equal(kg_val(g, out)->data, want_u8, 4);
    yq_graph_free(g);
}

static void test_same_type_and_threads(void **state) {
    (void)state;
    enum { N = 100003 };
    float *x = malloc(N * sizeof *x);
    uint64_t seed = 5;
    for (int i = 0; i < N; i++) x[i] = (float)kg_rand(&seed, -70000, 70000);
    yq_pool *pool = NULL;
    assert_int_equal(yq_pool_new(3, &pool), YQ_OK);
    int out;
    yq_graph *g = cast(13, YQ_DT_FLOAT, YQ_DT_FLOAT, N, x, pool, &out);
    assert_memory_equal(kg_val(g, out)->data, x, N * sizeof *x);
    yq_graph_free(g);
    const yq_dtype targets[] = {YQ_DT_FLOAT16, YQ_DT_INT16, YQ_DT_UINT8, YQ_DT_DOUBLE, YQ_DT_BFLOAT16};
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        int o1, o2;
        yq_graph *g1 = cast(19, YQ_DT_FLOAT, targets[t], N, x, NULL, &o1);
        yq_graph *g2 = cast(19, YQ_DT_FLOAT, targets[t], N, x, pool, &o2);
        assert_memory_equal(kg_val(g1, o1)->data, kg_val(g2, o2)->data, kg_val(g1, o1)->nbytes);
        if (targets[t] == YQ_DT_FLOAT16) {
            const uint16_t *h = kg_val(g1, o1)->data;
            for (int i = 0; i < N; i++) assert_int_equal(h[i], yq_f32_to_f16(x[i]));
        }
        yq_graph_free(g1);
        yq_graph_free(g2);
    }
    free(x);
    yq_pool_free(pool);
}

static void test_cast_errors(void **state) {
    (void)state;
    const int64_t d[1] = {3};
    struct {
        yq_dtype from;
        int64_t to; /* -1: attribute missing */
        yq_status want;
    } cases[] = {
        {YQ_DT_FLOAT, -1, YQ_ERR_INVALID},
        {YQ_DT_FLOAT, YQ_DT_STRING, YQ_ERR_UNSUPPORTED},
        {YQ_DT_FLOAT, YQ_DT_FLOAT8E4M3FN, YQ_ERR_UNSUPPORTED},
        {YQ_DT_FLOAT, 99, YQ_ERR_UNSUPPORTED},
        {YQ_DT_STRING, YQ_DT_FLOAT, YQ_ERR_UNSUPPORTED},
        {YQ_DT_COMPLEX64, YQ_DT_FLOAT, YQ_ERR_UNSUPPORTED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        yq_graph *g = kg_new(19);
        int in = kg_typed(g, cases[k].from, 1, d);
        int node = kg_node(g, "Cast", &in, 1, NULL);
        if (cases[k].to >= 0) assert_int_equal(yq_node_set_attr_int(kg_nodep(g, node), "to", cases[k].to), YQ_OK);
        assert_int_equal(kg_infer(g, node), cases[k].want);
        assert_non_null(strstr(yq_last_error(), "Cast"));
        yq_graph_free(g);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_to_int),
        cmocka_unit_test(test_int_to_int_and_float),
        cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_bfloat16_by_opset),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_4bit),
        cmocka_unit_test(test_same_type_and_threads),
        cmocka_unit_test(test_cast_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
