/* ONNX tensors: every supported dtype in raw_data and typed-field form, 4-bit
 * packing, length/rank/dtype errors, the single-TensorProto file API and the
 * ONNX node-test data files. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "onnx_testlib.h"

enum { F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 };

typedef struct dtype_case {
    int dtype;
    int64_t n;        /* elements; dims are [n] */
    const void *mem;  /* expected memory format */
    int field;        /* typed field of the typed form */
    const void *typed; /* n entries (4-bit: (n+1)/2 packed bytes) of that field's C type */
    const uint8_t *file; /* expected raw_data bytes; NULL: little-endian encoding of mem */
} dtype_case;

static const float f32_mem[] = {1.5f, -2.25f, 0.0f, 3.0e38f, -1.0e-40f};
static const double f64_mem[] = {1.5, -2.25, 0.0, 1e300, -5e-324};
static const uint16_t f16_mem[] = {0x3C00, 0xC000, 0x0000, 0x7BFF, 0x8001};
static const int32_t f16_typed[] = {0x3C00, 0xC000, 0x0000, 0x7BFF, 0x8001};
static const uint16_t bf16_mem[] = {0x3F80, 0xC010, 0x0000, 0x7F7F, 0x8001};
static const int32_t bf16_typed[] = {0x3F80, 0xC010, 0x0000, 0x7F7F, 0x8001};
static const int8_t i8_mem[] = {-128, -1, 0, 1, 127};
static const int32_t i8_typed[] = {-128, -1, 0, 1, 127};
static const uint8_t u8_mem[] = {0, 1, 128, 254, 255};
static const int32_t u8_typed[] = {0, 1, 128, 254, 255};
static const int16_t i16_mem[] = {-32768, -1, 0, 300, 32767};
static const int32_t i16_typed[] = {-32768, -1, 0, 300, 32767};
static const uint16_t u16_mem[] = {0, 1, 0x8000, 0xFFFE, 0xFFFF};
static const int32_t u16_typed[] = {0, 1, 0x8000, 0xFFFE, 0xFFFF};
static const int32_t i32_mem[] = {INT32_MIN, -1, 0, 0x01020304, INT32_MAX};
static const uint8_t i32_file[] = {0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
                                   4, 3, 2, 1,    0xff, 0xff, 0xff, 0x7f};
static const uint32_t u32_mem[] = {0, 1, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
static const uint64_t u32_typed[] = {0, 1, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
static const int64_t i64_mem[] = {INT64_MIN, -1, 0, 0x0102030405060708ll, INT64_MAX};
static const uint64_t u64_mem[] = {0, 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX};
static const uint8_t bool_mem[] = {0, 1, 1, 0, 1};
static const int32_t bool_typed[] = {0, 1, 1, 0, 1};
/* 4-bit: seven values, low nibble first; the last byte's high nibble is padding */
static const int8_t i4_mem[] = {1, -2, 7, -8, 0, -1, 3};
static const uint8_t u4_mem[] = {1, 14, 7, 8, 0, 15, 3};
static const uint8_t nib_file[] = {0xE1, 0x87, 0xF0, 0x03};
static const int32_t nib_typed[] = {0xE1, 0x87, 0xF0, 0x03};

static const dtype_case cases[] = {
    {YQ_DT_FLOAT, 5, f32_mem, F_FLOAT, f32_mem, NULL},
    {YQ_DT_DOUBLE, 5, f64_mem, F_DOUBLE, f64_mem, NULL},
    {YQ_DT_FLOAT16, 5, f16_mem, F_INT32, f16_typed, NULL},
    {YQ_DT_BFLOAT16, 5, bf16_mem, F_INT32, bf16_typed, NULL},
    {YQ_DT_INT8, 5, i8_mem, F_INT32, i8_typed, NULL},
    {YQ_DT_UINT8, 5, u8_mem, F_INT32, u8_typed, NULL},
    {YQ_DT_INT16, 5, i16_mem, F_INT32, i16_typed, NULL},
    {YQ_DT_UINT16, 5, u16_mem, F_INT32, u16_typed, NULL},
    {YQ_DT_INT32, 5, i32_mem, F_INT32, i32_mem, i32_file},
    {YQ_DT_UINT32, 5, u32_mem, F_UINT64, u32_typed, NULL},
    {YQ_DT_INT64, 5, i64_mem, F_INT64, i64_mem, NULL},
    {YQ_DT_UINT64, 5, u64_mem, F_UINT64, u64_mem, NULL},
    {YQ_DT_BOOL, 5, bool_mem, F_INT32, bool_typed, NULL},
    {YQ_DT_INT4, 7, i4_mem, F_INT32, nib_typed, nib_file},
    {YQ_DT_UINT4, 7, u4_mem, F_INT32, nib_typed, nib_file},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Expected raw_data: given bytes, or mem encoded little-endian element by element. */
static size_t expected_file(const dtype_case *c, uint8_t *out) {
    size_t es = yq_dtype_size(c->dtype);
    if (c->file) {
        size_t n = yq_dtype_file_bits(c->dtype) == 4 ? (size_t)(c->n + 1) / 2 : (size_t)c->n * es;
        memcpy(out, c->file, n);
        return n;
    }
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t bits = 0;
        const uint8_t *src = (const uint8_t *)c->mem + (size_t)i * es;
        if (es == 1) bits = src[0];
        if (es == 2) bits = *(const uint16_t *)(const void *)src;
        if (es == 4) bits = *(const uint32_t *)(const void *)src;
        if (es == 8) bits = *(const uint64_t *)(const void *)src;
        for (size_t b = 0; b < es; b++) out[(size_t)i * es + b] = (uint8_t)(bits >> (8 * b));
    }
    return (size_t)c->n * es;
}

static Onnx__TensorProto *case_tensor(const dtype_case *c, const char *name, int typed) {
    int64_t dims[1] = {c->n};
    Onnx__TensorProto *t = tl_tensor(name, c->dtype, 1, dims);
    if (!typed) {
        uint8_t raw[64];
        size_t len = expected_file(c, raw);
        tl_raw(t, raw, len);
        return t;
    }
    size_t cnt = yq_dtype_file_bits(c->dtype) == 4 ? (size_t)(c->n + 1) / 2 : (size_t)c->n;
    switch (c->field) {
    case F_FLOAT: t->n_float_data = cnt; t->float_data = tl_dup(c->typed, cnt * 4); break;
    case F_INT32: t->n_int32_data = cnt; t->int32_data = tl_dup(c->typed, cnt * 4); break;
    case F_INT64: t->n_int64_data = cnt; t->int64_data = tl_dup(c->typed, cnt * 8); break;
    case F_DOUBLE: t->n_double_data = cnt; t->double_data = tl_dup(c->typed, cnt * 8); break;
    case F_UINT64: t->n_uint64_data = cnt; t->uint64_data = tl_dup(c->typed, cnt * 8); break;
    }
    return t;
}

/* A model: y = Identity(w) with w the given initializer. */
static Onnx__ModelProto *one_init_model(Onnx__TensorProto *w, int64_t ir_version) {
    Onnx__ModelProto *m = tl_model(ir_version, 17);
    tl_init(m, w);
    tl_node(m, "Identity", "id", w->name, "y");
    tl_output(m, tl_vi("y", w->data_type, -1, NULL, NULL));
    return m;
}

static void check_value(const yq_value *v, const dtype_case *c) {
    assert_int_equal(v->dtype, c->dtype);
    assert_int_equal(v->rank, 1);
    assert_int_equal(v->dims[0], c->n);
    assert_true(v->flags & YQ_VAL_INIT);
    assert_int_equal(v->nbytes, (size_t)c->n * yq_dtype_size(c->dtype));
    assert_memory_equal(v->data, c->mem, v->nbytes);
}

static const Onnx__TensorProto *find_initializer(const Onnx__ModelProto *m, const char *name) {
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (strcmp(m->graph->initializer[i]->name, name) == 0) return m->graph->initializer[i];
    return NULL;
}

/* Every dtype, raw and typed: read into memory format, written back as
 * little-endian raw_data (4-bit packed), read again identically. */
static void test_every_dtype_model(void **state) {
    (void)state;
    for (size_t k = 0; k < NCASES; k++) {
        const dtype_case *c = &cases[k];
        for (int typed = 0; typed < 2; typed++) {
            char name[64];
            snprintf(name, sizeof name, "w_%s_%s", yq_dtype_name(c->dtype), typed ? "typed" : "raw");
            Onnx__ModelProto *m = one_init_model(case_tensor(c, name, typed), 10);
            yq_graph *g;
            if (tl_load(m, NULL, &g) != YQ_OK) fail_msg("%s: %s", name, yq_last_error());
            int id = yq_graph_find_value(g, name);
            assert_true(id >= 0);
            check_value(&g->values[id], c);
            assert_null(g->values[id].external_location);

            /* the written initializer holds exactly the expected file bytes */
            uint8_t *buf;
            size_t len;
            assert_int_equal(yq_onnx_serialize(g, &buf, &len), YQ_OK);
            Onnx__ModelProto *w = onnx__model_proto__unpack(NULL, len, buf);
            assert_non_null(w);
            const Onnx__TensorProto *t = find_initializer(w, name);
            assert_non_null(t);
            uint8_t want[64];
            size_t want_len = expected_file(c, want);
            assert_true(t->has_raw_data);
            assert_int_equal(t->raw_data.len, want_len);
            assert_memory_equal(t->raw_data.data, want, want_len);
            assert_int_equal(t->data_type, c->dtype);
            assert_int_equal(t->n_dims, 1);
            assert_int_equal(t->dims[0], c->n);
            assert_int_equal(t->n_float_data + t->n_int32_data + t->n_int64_data + t->n_double_data +
                                 t->n_uint64_data,
                             0);
            protobuf_c_message_free_unpacked(&w->base, NULL);
            free(buf);
            tl_assert_roundtrip(g);
            yq_graph_free(g);
        }
    }
    tl_free_all();
}

/* All dtypes in one model, plus a scalar and an empty tensor. */
static void test_all_dtypes_one_model(void **state) {
    (void)state;
    Onnx__ModelProto *m = tl_model(10, 21);
    char names[NCASES][32];
    char inputs[1024] = "";
    for (size_t k = 0; k < NCASES; k++) {
        snprintf(names[k], sizeof names[k], "c%zu", k);
        tl_init(m, case_tensor(&cases[k], names[k], (int)(k & 1)));
        strcat(inputs, k ? "," : "");
        strcat(inputs, names[k]);
    }
    float one = 1.0f;
    tl_init(m, tl_tensor("scalar", YQ_DT_FLOAT, 0, NULL));
    tl_raw(m->graph->initializer[m->graph->n_initializer - 1], &one, 4);
    int64_t empty_dims[2] = {0, 3};
    tl_init(m, tl_tensor("empty", YQ_DT_FLOAT, 2, empty_dims)); /* no data needed */
    strcat(inputs, ",scalar,empty");
    tl_node(m, "Concat", "all", inputs, "y");
    tl_output(m, tl_vi("y", YQ_DT_FLOAT, -1, NULL, NULL));
    yq_graph *g;
    if (tl_load(m, NULL, &g) != YQ_OK) fail_msg("%s", yq_last_error());
    for (size_t k = 0; k < NCASES; k++) check_value(&g->values[yq_graph_find_value(g, names[k])], &cases[k]);
    const yq_value *s = &g->values[yq_graph_find_value(g, "scalar")];
    assert_int_equal(s->rank, 0);
    assert_int_equal(s->nbytes, 4);
    assert_true(*(const float *)s->data == 1.0f);
    const yq_value *e = &g->values[yq_graph_find_value(g, "empty")];
    assert_int_equal(e->rank, 2);
    assert_int_equal(e->nbytes, 0);
    assert_non_null(e->data);
    tl_assert_roundtrip(g);
    yq_graph_free(g);
    tl_free_all();
}

static void expect_init_fail(Onnx__TensorProto *t, yq_status st, const char *needle) {
    Onnx__ModelProto *m = one_init_model(t, 10);
    tl_expect_fail(m, NULL, st, needle);
    /* every message names the tensor */
    assert_non_null(strstr(yq_last_error(), t->name));
}

static void test_tensor_errors(void **state) {
    (void)state;
    int64_t d5[1] = {5};
    float vals[6] = {1, 2, 3, 4, 5, 6};
    Onnx__TensorProto *t;

    t = tl_tensor("short_raw", YQ_DT_FLOAT, 1, d5);
    tl_raw(t, vals, 16);
    expect_init_fail(t, YQ_ERR_INVALID, "raw_data holds 16 bytes");
    t = tl_tensor("long_raw", YQ_DT_FLOAT, 1, d5);
    tl_raw(t, vals, 24);
    expect_init_fail(t, YQ_ERR_INVALID, "need 20 bytes");
    int64_t d7[1] = {7};
    t = tl_tensor("int4_raw", YQ_DT_INT4, 1, d7);
    tl_raw(t, vals, 3); /* 7 nibbles need 4 bytes */
    expect_init_fail(t, YQ_ERR_INVALID, "need 4 bytes");
    t = tl_tensor("few_floats", YQ_DT_FLOAT, 1, d5);
    t->n_float_data = 4;
    t->float_data = tl_dup(vals, 16);
    expect_init_fail(t, YQ_ERR_INVALID, "float_data holds 4 values");
    t = tl_tensor("wrong_field", YQ_DT_INT64, 1, d5);
    t->n_int32_data = 5;
    t->int32_data = tl_dup(vals, 20);
    expect_init_fail(t, YQ_ERR_INVALID, "no int64_data");
    t = tl_tensor("no_data", YQ_DT_FLOAT, 1, d5);
    expect_init_fail(t, YQ_ERR_INVALID, "has no data");
    t = tl_tensor("no_type", 0, 1, d5);
    t->has_data_type = 0;
    expect_init_fail(t, YQ_ERR_INVALID, "no data_type");

    /* element types yoloq cannot hold */
    static const int unsupported[] = {YQ_DT_STRING, YQ_DT_COMPLEX64, YQ_DT_COMPLEX128, YQ_DT_FLOAT8E4M3FN,
                                      YQ_DT_FLOAT8E5M2FNUZ, 23, 1000};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "unsupported_%d", unsupported[i]);
        t = tl_tensor(name, unsupported[i], 1, d5);
        tl_raw(t, vals, 20);
        expect_init_fail(t, YQ_ERR_UNSUPPORTED, "not supported");
    }

    /* shapes */
    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    t = tl_tensor("rank9", YQ_DT_FLOAT, 9, d9);
    tl_raw(t, vals, 4);
    expect_init_fail(t, YQ_ERR_LIMIT, "rank 9");
    int64_t dneg[2] = {2, -3};
    t = tl_tensor("negative", YQ_DT_FLOAT, 2, dneg);
    expect_init_fail(t, YQ_ERR_INVALID, "negative dim -3");
    int64_t dover[3] = {1ll << 40, 1ll << 40, 1ll << 40};
    t = tl_tensor("overflow", YQ_DT_FLOAT, 3, dover);
    expect_init_fail(t, YQ_ERR_LIMIT, "overflows");
    int64_t dhuge[2] = {1ll << 20, 1ll << 20}; /* 4 TiB of float: over YQ_MAX_TENSOR_BYTES */
    t = tl_tensor("huge", YQ_DT_FLOAT, 2, dhuge);
    expect_init_fail(t, YQ_ERR_LIMIT, "limit");
    int64_t dbyte[2] = {INT64_MAX / 2, 4}; /* element count overflows int64 */
    t = tl_tensor("count_overflow", YQ_DT_UINT8, 2, dbyte);
    expect_init_fail(t, YQ_ERR_LIMIT, "overflows");

    /* an attribute tensor of a type yoloq cannot hold names node and attribute */
    Onnx__ModelProto *m = tl_model(8, 17);
    Onnx__NodeProto *n = tl_node(m, "Constant", "const_str", "", "s");
    Onnx__AttributeProto *a = tl_attr(n, "value", YQ_ATTR_TENSOR);
    a->t = tl_tensor(NULL, YQ_DT_STRING, 0, NULL);
    tl_output(m, tl_vi("s", YQ_DT_STRING, 0, NULL, NULL));
    tl_expect_fail(m, NULL, YQ_ERR_UNSUPPORTED, "attribute 'value' of node 'const_str'");
    tl_free_all();
}

/* ---- single-tensor files ------------------------------------------------------ */

static void test_tensor_file_roundtrip(void **state) {
    (void)state;
    char path[512];
    for (size_t k = 0; k < NCASES; k++) {
        const dtype_case *c = &cases[k];
        yq_tensor t = {.dtype = c->dtype, .rank = 1, .dims = {c->n}, .data = (void *)c->mem};
        snprintf(path, sizeof path, "%s/t_%s.pb", yqt_tmpdir(), yq_dtype_name(c->dtype));
        assert_int_equal(yq_onnx_save_tensor_file(&t, "tensor_name", path), YQ_OK);
        yq_tensor back;
        char *name;
        if (yq_onnx_load_tensor_file(path, &back, &name) != YQ_OK) fail_msg("%s", yq_last_error());
        assert_string_equal(name, "tensor_name");
        assert_int_equal(back.dtype, c->dtype);
        assert_int_equal(back.rank, 1);
        assert_int_equal(back.dims[0], c->n);
        assert_memory_equal(back.data, c->mem, (size_t)c->n * yq_dtype_size(c->dtype));
        free(back.data);
        free(name);

        /* a typed-field file written by hand reads the same */
        Onnx__TensorProto *tp = case_tensor(c, "typed", 1);
        size_t len = onnx__tensor_proto__get_packed_size(tp);
        uint8_t *buf = tl_alloc(len);
        onnx__tensor_proto__pack(tp, buf);
        tl_write(path, buf, len);
        assert_int_equal(yq_onnx_load_tensor_file(path, &back, NULL), YQ_OK);
        assert_memory_equal(back.data, c->mem, (size_t)c->n * yq_dtype_size(c->dtype));
        free(back.data);
    }
    /* rank 0 and unnamed */
    double x = -7.5;
    yq_tensor s = {.dtype = YQ_DT_DOUBLE, .rank = 0, .data = &x};
    snprintf(path, sizeof path, "%s/scalar.pb", yqt_tmpdir());
    assert_int_equal(yq_onnx_save_tensor_file(&s, NULL, path), YQ_OK);
    yq_tensor back;
    char *name;
    assert_int_equal(yq_onnx_load_tensor_file(path, &back, &name), YQ_OK);
    assert_string_equal(name, "");
    assert_int_equal(back.rank, 0);
    assert_true(*(double *)back.data == -7.5);
    free(back.data);
    free(name);

    /* errors name the file */
    snprintf(path, sizeof path, "%s/missing.pb", yqt_tmpdir());
    assert_int_equal(yq_onnx_load_tensor_file(path, &back, &name), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), path));
    assert_null(name);
    snprintf(path, sizeof path, "%s/garbage.pb", yqt_tmpdir());
    tl_write(path, "\xff\xff\xff\xff\xff\xff", 6);
    assert_int_equal(yq_onnx_load_tensor_file(path, &back, NULL), YQ_ERR_PARSE);
    assert_non_null(strstr(yq_last_error(), "garbage.pb"));
    assert_non_null(strstr(yq_last_error(), "protobuf parse failed"));
    yq_tensor bad = {.dtype = YQ_DT_STRING, .rank = 1, .dims = {2}, .data = &x};
    snprintf(path, sizeof path, "%s/bad.pb", yqt_tmpdir());
    assert_int_equal(yq_onnx_save_tensor_file(&bad, "b", path), YQ_ERR_UNSUPPORTED);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* nothing written */
    tl_free_all();
}

/* ---- ONNX node-test data (libonnx-testdata) --------------------------------------- */

#define NODE_DATA "/usr/share/libonnx-testdata/data/node"

static const char *node_file(const char *test, const char *file) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], NODE_DATA "/%s/test_data_set_0/%s", test, file);
    return buf[which];
}

static void load_node_tensor(const char *test, const char *file, yq_tensor *t, const char *want_name,
                             yq_dtype want_dtype) {
    char *name;
    if (yq_onnx_load_tensor_file(node_file(test, file), t, &name) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_string_equal(name, want_name);
    assert_int_equal(t->dtype, want_dtype);
    free(name);
}

static void test_node_test_data(void **state) {
    (void)state;
    struct stat sb;
    if (stat(NODE_DATA "/test_abs", &sb) != 0) {
        print_message("SKIP: " NODE_DATA " not found (package libonnx-testdata)\n");
        skip();
    }
    yq_tensor x, y, z;
    /* Abs: y = |x| */
    load_node_tensor("test_abs", "input_0.pb", &x, "x", YQ_DT_FLOAT);
    load_node_tensor("test_abs", "output_0.pb", &y, "y", YQ_DT_FLOAT);
    assert_int_equal(x.rank, 3);
    assert_int_equal(x.dims[0], 3);
    assert_int_equal(x.dims[1], 4);
    assert_int_equal(x.dims[2], 5);
    for (int64_t i = 0; i < 60; i++) assert_true(((float *)y.data)[i] == fabsf(((float *)x.data)[i]));
    /* our TensorProto writer reproduces the file byte for byte */
    char path[512];
    snprintf(path, sizeof path, "%s/abs_x.pb", yqt_tmpdir());
    assert_int_equal(yq_onnx_save_tensor_file(&x, "x", path), YQ_OK);
    unsigned char *orig, *ours;
    size_t orig_len, ours_len;
    assert_int_equal(yq_read_file(node_file("test_abs", "input_0.pb"), &orig, &orig_len), YQ_OK);
    assert_int_equal(yq_read_file(path, &ours, &ours_len), YQ_OK);
    assert_int_equal(orig_len, ours_len);
    assert_memory_equal(orig, ours, orig_len);
    free(orig);
    free(ours);
    free(x.data);
    free(y.data);

    /* Add: sum = x + y (exact in float) */
    load_node_tensor("test_add", "input_0.pb", &x, "x", YQ_DT_FLOAT);
    load_node_tensor("test_add", "input_1.pb", &y, "y", YQ_DT_FLOAT);
    load_node_tensor("test_add", "output_0.pb", &z, "sum", YQ_DT_FLOAT);
    for (int64_t i = 0; i < 60; i++)
        assert_true(((float *)z.data)[i] == ((float *)x.data)[i] + ((float *)y.data)[i]);
    free(x.data);
    free(y.data);
    free(z.data);

    /* Cast float -> float16: bit patterns match our round-to-nearest-even */
    load_node_tensor("test_cast_FLOAT_to_FLOAT16", "input_0.pb", &x, "input", YQ_DT_FLOAT);
    load_node_tensor("test_cast_FLOAT_to_FLOAT16", "output_0.pb", &y, "output", YQ_DT_FLOAT16);
    for (int64_t i = 0; i < yq_tensor_numel(&x); i++)
        assert_int_equal(((uint16_t *)y.data)[i], yq_f32_to_f16(((float *)x.data)[i]));
    free(x.data);
    free(y.data);

    /* And on bool */
    load_node_tensor("test_and2d", "input_0.pb", &x, "x", YQ_DT_BOOL);
    load_node_tensor("test_and2d", "input_1.pb", &y, "y", YQ_DT_BOOL);
    load_node_tensor("test_and2d", "output_0.pb", &z, "and", YQ_DT_BOOL);
    for (int64_t i = 0; i < 12; i++)
        assert_int_equal(((uint8_t *)z.data)[i], ((uint8_t *)x.data)[i] & ((uint8_t *)y.data)[i]);
    free(x.data);
    free(y.data);
    free(z.data);

    /* Reshape's int64 shape input */
    load_node_tensor("test_reshape_reordered_all_dims", "input_1.pb", &x, "shape", YQ_DT_INT64);
    assert_int_equal(x.rank, 1);
    assert_int_equal(x.dims[0], 3);
    assert_int_equal(((int64_t *)x.data)[0], 4);
    assert_int_equal(((int64_t *)x.data)[1], 2);
    assert_int_equal(((int64_t *)x.data)[2], 3);
    free(x.data);

    /* uint8 add wraps around modulo 256 */
    load_node_tensor("test_add_uint8", "input_0.pb", &x, "x", YQ_DT_UINT8);
    load_node_tensor("test_add_uint8", "input_1.pb", &y, "y", YQ_DT_UINT8);
    load_node_tensor("test_add_uint8", "output_0.pb", &z, "sum", YQ_DT_UINT8);
    for (int64_t i = 0; i < 60; i++)
        assert_int_equal(((uint8_t *)z.data)[i], (uint8_t)(((uint8_t *)x.data)[i] + ((uint8_t *)y.data)[i]));
    free(x.data);
    free(y.data);
    free(z.data);

    /* a string tensor is refused with its name */
    assert_int_equal(yq_onnx_load_tensor_file(node_file("test_cast_FLOAT_to_STRING", "output_0.pb"), &x, NULL),
                     YQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(yq_last_error(), "tensor 'output'"));
    assert_non_null(strstr(yq_last_error(), "string"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_dtype_model),
        cmocka_unit_test(test_all_dtypes_one_model),
        cmocka_unit_test(test_tensor_errors),
        cmocka_unit_test(test_tensor_file_roundtrip),
        cmocka_unit_test(test_node_test_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
