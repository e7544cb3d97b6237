/* Cast between float32, float16, bfloat16, double, int8/16/32/64,
 * uint8/16/32/64, bool, int4 and uint4. See rt/ops.h for the op table
 * contract.
 *
 * Conversion rules (ONNX Cast, with the ONNX reference implementation where
 * the spec leaves a case open):
 * - float -> narrower float: round to nearest even, overflow to +-inf, NaN
 *   stays NaN. double -> float16 / bfloat16 rounds once, directly from the
 *   double (no double rounding through float).
 *   float -> bfloat16 before opset 19 truncates the low 16 bits instead, as
 *   the ONNX reference of Cast-13 (and its backend test data) does; from
 *   opset 19 it rounds to nearest even like ONNX Runtime.
 * - float -> integer: truncate toward zero; values beyond the target range
 *   saturate and NaN gives 0 (ONNX leaves both undefined; this keeps results
 *   deterministic and free of C undefined behaviour).
 * - float -> int4/uint4: clip to [-8,7] / [0,15], then round half to even
 *   (the ONNX reference's rule for 4-bit types); NaN gives 0.
 * - integer -> integer: two's complement wrap-around (C / numpy), except to
 *   int4/uint4, which clip like the float case.
 * - anything -> bool: x != 0 (NaN is true); bool -> anything: 0 or 1.
 * float8 types are rejected as unsupported (so the `saturate` attribute,
 * which only concerns float8, never matters).
 *
 * Implementation: a source element is read into an intermediate chunk
 * (double for float sources, int64 for integer and bool sources, uint64 kept
 * as its bit pattern), then written to the target type; float32 <-> float16 /
 * bfloat16 have direct loops. Outputs never alias inputs of another size,
 * and a same-type Cast is a copy. */
#include <math.h>
#include <string.h>

#include "rt/kernels/elt_common.h"

#define CAST_CHUNK 512
#define CAST_GRAIN 65536 /* elements per parallel chunk */

static int cast_supported(yq_dtype dt) {
    return yq_dtype_is_float(dt) || yq_dtype_is_integer(dt) || dt == YQ_DT_BOOL;
}

/* ---- exact float conversions ------------------------------------------------ */

/* Round a double to an IEEE binary format with mant_bits fraction bits and
 * exp_bits exponent bits (float16: 10, 5; bfloat16: 7, 8), to nearest even,
 * with subnormals, overflow to infinity, NaN to a quiet NaN. */
static uint32_t f64_to_small_float(double d, int mant_bits, int exp_bits) {
    const uint32_t sign = signbit(d) ? 1u << (mant_bits + exp_bits) : 0;
    const int bias = (1 << (exp_bits - 1)) - 1, emax = bias, emin = 1 - bias;
    const uint32_t exp_all = ((1u << exp_bits) - 1) << mant_bits;
    const double a = fabs(d);
    if (a != a) return sign | exp_all | (1u << (mant_bits - 1));
    /* halfway between the largest finite value and 2^(emax+1) rounds to inf */
    if (a >= ldexp(2.0 - ldexp(1.0, -(mant_bits + 1)), emax)) return sign | exp_all;
    if (a < ldexp(1.0, emin)) /* subnormal: integer multiple of 2^(emin - mant_bits) */
        return sign | (uint32_t)nearbyint(ldexp(a, mant_bits - emin));
    int e;
    double fr = frexp(a, &e); /* a = fr * 2^e, fr in [0.5, 1) */
    int exp = e - 1;
    double m = nearbyint(ldexp(fr, mant_bits + 1)); /* in [2^mant_bits, 2^(mant_bits+1)] */
    if (m == ldexp(1.0, mant_bits + 1)) {
        m = ldexp(1.0, mant_bits);
        exp++;
    }
    if (exp > emax) return sign | exp_all;
    return sign | ((uint32_t)(exp + bias) << mant_bits) | ((uint32_t)m - (1u << mant_bits));
}

static uint16_t f64_to_f16(double d) { return (uint16_t)f64_to_small_float(d, 10, 5); }
static uint16_t f64_to_bf16(double d) { return (uint16_t)f64_to_small_float(d, 7, 8); }

/* Cast-13 style float -> bfloat16: keep the high 16 bits (NaN stays NaN). */
static inline uint16_t f32_to_bf16_trunc(float f) {
    uint32_t u = yq_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)(u >> 16);
}

/* double -> integer in [lo, hi], truncating; NaN -> 0. */
static inline int64_t f64_to_int_sat(double d, double lo, double hi) {
    if (d != d) return 0;
    if (d <= lo) return (int64_t)lo;
    if (d >= hi) return (int64_t)hi;
    return (int64_t)d;
}
static inline uint64_t f64_to_u64_sat(double d) {
    if (d != d || d <= 0) return 0;
    if (d >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)d;
}
/* 4-bit: clip, then round half to even; NaN -> 0. */
static inline int64_t f64_to_4bit(double d, double lo, double hi) {
    if (d != d) return 0;
    d = d < lo ? lo : (d > hi ? hi : d);
    return (int64_t)nearbyint(d);
}

/* ---- stage 1: load a chunk ---------------------------------------------------- */

static void load_f64(yq_dtype dt, const void *src, int64_t n, double *out) {
    switch (dt) {
    case YQ_DT_FLOAT: for (int64_t i = 0; i < n; i++) out[i] = ((const float *)src)[i]; break;
    case YQ_DT_DOUBLE: memcpy(out, src, (size_t)n * sizeof(double)); break;
    case YQ_DT_FLOAT16: for (int64_t i = 0; i < n; i++) out[i] = yq_f16_to_f32(((const uint16_t *)src)[i]); break;
    case YQ_DT_BFLOAT16: for (int64_t i = 0; i < n; i++) out[i] = yq_bf16_to_f32(((const uint16_t *)src)[i]); break;
    default: break;
    }
}

static void load_i64(yq_dtype dt, const void *src, int64_t n, int64_t *out) {
#define LOAD_INT(T) for (int64_t i = 0; i < n; i++) out[i] = (int64_t)((const T *)src)[i]
    switch (dt) {
    case YQ_DT_INT8: case YQ_DT_INT4: LOAD_INT(int8_t); break;
    case YQ_DT_UINT8: case YQ_DT_UINT4: LOAD_INT(uint8_t); break;
    case YQ_DT_BOOL: for (int64_t i = 0; i < n; i++) out[i] = ((const uint8_t *)src)[i] != 0; break;
    case YQ_DT_INT16: LOAD_INT(int16_t); break;
    case YQ_DT_UINT16: LOAD_INT(uint16_t); break;
    case YQ_DT_INT32: LOAD_INT(int32_t); break;
    case YQ_DT_UINT32: LOAD_INT(uint32_t); break;
    case YQ_DT_INT64: memcpy(out, src, (size_t)n * sizeof(int64_t)); break;
    case YQ_DT_UINT64: memcpy(out, src, (size_t)n * sizeof(int64_t)); break; /* bit pattern */
    default: break;
    }
#undef LOAD_INT
}

/* ---- stage 2: store a chunk ---------------------------------------------------- */

static void store_from_f64(yq_dtype dt, const double *v, int64_t n, void *dst, int bf16_trunc) {
#define STORE_SAT(T, LO, HI) \
    for (int64_t i = 0; i < n; i++) ((T *)dst)[i] = (T)f64_to_int_sat(v[i], LO, HI)
    switch (dt) {
    case YQ_DT_FLOAT: for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)v[i]; break;
    case YQ_DT_DOUBLE: memcpy(dst, v, (size_t)n * sizeof(double)); break;
    case YQ_DT_FLOAT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = f64_to_f16(v[i]); break;
    case YQ_DT_BFLOAT16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = bf16_trunc ? f32_to_bf16_trunc((float)v[i]) : f64_to_bf16(v[i]);
        break;
    case YQ_DT_INT8: STORE_SAT(int8_t, -128.0, 127.0); break;
    case YQ_DT_UINT8: STORE_SAT(uint8_t, 0.0, 255.0); break;
    case YQ_DT_INT16: STORE_SAT(int16_t, -32768.0, 32767.0); break;
    case YQ_DT_UINT16: STORE_SAT(uint16_t, 0.0, 65535.0); break;
    case YQ_DT_INT32: STORE_SAT(int32_t, -2147483648.0, 2147483647.0); break;
    case YQ_DT_UINT32: STORE_SAT(uint32_t, 0.0, 4294967295.0); break;
    case YQ_DT_INT64:
        /* 2^63 is the first double above INT64_MAX */
        for (int64_t i = 0; i < n; i++) {
            double d = v[i];
            ((int64_t *)dst)[i] = d != d ? 0 : d >= 9223372036854775808.0 ? INT64_MAX
                                            : d <= -9223372036854775808.0 ? INT64_MIN : (int64_t)d;
        }
        break;
    case YQ_DT_UINT64: for (int64_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = f64_to_u64_sat(v[i]); break;
    case YQ_DT_INT4: for (int64_t i = 0; i < n; i++) ((int8_t *)dst)[i] = (int8_t)f64_to_4bit(v[i], -8, 7); break;
    case YQ_DT_UINT4: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)f64_to_4bit(v[i], 0, 15); break;
    case YQ_DT_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = v[i] != 0; break;
    default: break;
    }
#undef STORE_SAT
}

/* v holds integers; src_u64: they are uint64 bit patterns. */
static void store_from_i64(yq_dtype dt, const int64_t *v, int64_t n, void *dst, int src_u64, int bf16_trunc) {
#define AS_F64(x) (src_u64 ? (double)(uint64_t)(x) : (double)(x))
#define STORE_WRAP(T) for (int64_t i = 0; i < n; i++) ((T *)dst)[i] = (T)(uint64_t)v[i]
    switch (dt) {
    case YQ_DT_FLOAT:
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = src_u64 ? (float)(uint64_t)v[i] : (float)v[i];
        break;
    case YQ_DT_DOUBLE: for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = AS_F64(v[i]); break;
    case YQ_DT_FLOAT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = f64_to_f16(AS_F64(v[i])); break;
    case YQ_DT_BFLOAT16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = bf16_trunc ? f32_to_bf16_trunc((float)AS_F64(v[i])) : f64_to_bf16(AS_F64(v[i]));
        break;
    case YQ_DT_INT8: STORE_WRAP(int8_t); break;
    case YQ_DT_UINT8: STORE_WRAP(uint8_t); break;
    case YQ_DT_INT16: STORE_WRAP(int16_t); break;
    case YQ_DT_UINT16: STORE_WRAP(uint16_t); break;
    case YQ_DT_INT32: STORE_WRAP(int32_t); break;
    case YQ_DT_UINT32: STORE_WRAP(uint32_t); break;
    case YQ_DT_INT64: STORE_WRAP(int64_t); break;
    case YQ_DT_UINT64: STORE_WRAP(uint64_t); break;
    case YQ_DT_INT4:
        for (int64_t i = 0; i < n; i++) {
            int64_t x = v[i];
            ((int8_t *)dst)[i] = (int8_t)((src_u64 && x < 0) ? 7 : x < -8 ? -8 : x > 7 ? 7 : x);
        }
        break;
    case YQ_DT_UINT4:
        for (int64_t i = 0; i < n; i++) {
            int64_t x = v[i];
            ((uint8_t *)dst)[i] = (uint8_t)((src_u64 && x < 0) ? 15 : x < 0 ? 0 : x > 15 ? 15 : x);
        }
        break;
    case YQ_DT_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = v[i] != 0; break;
    default: break;
    }
#undef AS_F64
#undef STORE_WRAP
}

/* ---- direct float32 <-> half loops ---------------------------------------------- */

static int cast_direct(yq_dtype from, yq_dtype to, int bf16_trunc, int64_t n, const void *src, void *dst) {
    if (from == YQ_DT_FLOAT && to == YQ_DT_FLOAT16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = yq_f32_to_f16(((const float *)src)[i]);
    } else if (from == YQ_DT_FLOAT16 && to == YQ_DT_FLOAT) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = yq_f16_to_f32(((const uint16_t *)src)[i]);
    } else if (from == YQ_DT_FLOAT && to == YQ_DT_BFLOAT16) {
        const float *s = src;
        uint16_t *d = dst;
        if (bf16_trunc)
            for (int64_t i = 0; i < n; i++) d[i] = f32_to_bf16_trunc(s[i]);
        else
            for (int64_t i = 0; i < n; i++) d[i] = yq_f32_to_bf16(s[i]);
    } else if (from == YQ_DT_BFLOAT16 && to == YQ_DT_FLOAT) {
        YQ_IVDEP for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = yq_bf16_to_f32(((const uint16_t *)src)[i]);
    } else {
        return 0;
    }
    return 1;
}

typedef struct cast_job {
    yq_dtype from, to;
    int bf16_trunc;
    const char *src;
    char *dst;
    size_t ss, ds;
} cast_job;

static void cast_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const cast_job *j = arg;
    const char *src = j->src + b * (int64_t)j->ss;
    char *dst = j->dst + b * (int64_t)j->ds;
    if (cast_direct(j->from, j->to, j->bf16_trunc, e - b, src, dst)) return;
    union {
        double f[CAST_CHUNK];
        int64_t i[CAST_CHUNK];
    } buf;
    const int float_src = yq_dtype_is_float(j->from);
    for (int64_t p = b; p < e; p += CAST_CHUNK) {
        int64_t n = e - p < CAST_CHUNK ? e - p : CAST_CHUNK;
        if (float_src) {
            load_f64(j->from, src, n, buf.f);
            store_from_f64(j->to, buf.f, n, dst, j->bf16_trunc);
        } else {
            load_i64(j->from, src, n, buf.i);
            store_from_i64(j->to, buf.i, n, dst, j->from == YQ_DT_UINT64, j->bf16_trunc);
        }
        src += n * (int64_t)j->ss;
        dst += n * (int64_t)j->ds;
    }
}

static yq_status run_cast(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    yq_tensor *y = &c->out[0];
    const int64_t n = yq_tensor_numel(x);
    if (x->dtype == y->dtype) {
        size_t nb;
        YQ_TRY(yq_dtype_bytes(x->dtype, n, &nb));
        if (nb && y->data != x->data) memmove(y->data, x->data, nb);
        return YQ_OK;
    }
    cast_job j = {.from = x->dtype, .to = y->dtype, .bf16_trunc = c->opset < 19, .src = x->data, .dst = y->data,
                  .ss = yq_dtype_size(x->dtype), .ds = yq_dtype_size(y->dtype)};
    yq_parallel_for(c->pool, n, CAST_GRAIN, cast_range, &j);
    return YQ_OK;
}

static yq_status infer_cast(yq_infer_ctx *c) {
    if (c->node->ninputs != 1) return yq_node_fail(c, YQ_ERR_INVALID, "expects 1 input, got %d", c->node->ninputs);
    if (c->node->noutputs < 1 || c->node->outputs[0] < 0) return yq_node_fail(c, YQ_ERR_INVALID, "has no output");
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_attr *to_attr = yq_node_attr(c->node, "to");
    if (!to_attr || to_attr->type != YQ_ATTR_INT)
        return yq_node_fail(c, YQ_ERR_INVALID, "attribute 'to' (an int) is missing");
    const yq_value *x = yq_in(c, 0);
    if (!cast_supported(x->dtype))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "cannot cast from %s", yq_dtype_name(x->dtype));
    int64_t to = to_attr->i;
    if (to <= 0 || to >= YQ_DT_COUNT || !cast_supported((yq_dtype)to))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "cannot cast to element type %lld (%s)", (long long)to,
                            (to > 0 && to < YQ_DT_COUNT) ? yq_dtype_name((yq_dtype)to) : "unknown");
    yq_set_out(c, 0, (yq_dtype)to, x->rank, x->dims);
    return YQ_OK;
}

void yq_register_cast_ops(yq_op_vtable *t) {
    t[YQ_OP_Cast] = (yq_op_vtable){.infer = infer_cast, .run = run_cast};
}
