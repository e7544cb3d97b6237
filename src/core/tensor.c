#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
    int file_bits;
} dtype_info[YQ_DT_COUNT] = {
    [YQ_DT_UNDEFINED] = {"undefined", 0, 0},
    [YQ_DT_FLOAT] = {"float", 4, 32},
    [YQ_DT_UINT8] = {"uint8", 1, 8},
    [YQ_DT_INT8] = {"int8", 1, 8},
    [YQ_DT_UINT16] = {"uint16", 2, 16},
    [YQ_DT_INT16] = {"int16", 2, 16},
    [YQ_DT_INT32] = {"int32", 4, 32},
    [YQ_DT_INT64] = {"int64", 8, 64},
    [YQ_DT_STRING] = {"string", 0, 0},
    [YQ_DT_BOOL] = {"bool", 1, 8},
    [YQ_DT_FLOAT16] = {"float16", 2, 16},
    [YQ_DT_DOUBLE] = {"double", 8, 64},
    [YQ_DT_UINT32] = {"uint32", 4, 32},
    [YQ_DT_UINT64] = {"uint64", 8, 64},
    [YQ_DT_COMPLEX64] = {"complex64", 0, 64},
    [YQ_DT_COMPLEX128] = {"complex128", 0, 128},
    [YQ_DT_BFLOAT16] = {"bfloat16", 2, 16},
    [YQ_DT_FLOAT8E4M3FN] = {"float8e4m3fn", 0, 8},
    [YQ_DT_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 0, 8},
    [YQ_DT_FLOAT8E5M2] = {"float8e5m2", 0, 8},
    [YQ_DT_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 0, 8},
    [YQ_DT_UINT4] = {"uint4", 1, 4},
    [YQ_DT_INT4] = {"int4", 1, 4},
};

const char *yq_dtype_name(yq_dtype dt) {
    return (dt >= 0 && dt < YQ_DT_COUNT && dtype_info[dt].name) ? dtype_info[dt].name : "?";
}
size_t yq_dtype_size(yq_dtype dt) { return (dt >= 0 && dt < YQ_DT_COUNT) ? dtype_info[dt].size : 0; }
int yq_dtype_file_bits(yq_dtype dt) { return (dt >= 0 && dt < YQ_DT_COUNT) ? dtype_info[dt].file_bits : 0; }

int yq_dtype_is_float(yq_dtype dt) {
    return dt == YQ_DT_FLOAT || dt == YQ_DT_FLOAT16 || dt == YQ_DT_BFLOAT16 || dt == YQ_DT_DOUBLE;
}

int yq_dtype_is_integer(yq_dtype dt) {
    switch (dt) {
    case YQ_DT_UINT8: case YQ_DT_INT8: case YQ_DT_UINT16: case YQ_DT_INT16: case YQ_DT_INT32:
    case YQ_DT_INT64: case YQ_DT_UINT32: case YQ_DT_UINT64: case YQ_DT_UINT4: case YQ_DT_INT4:
        return 1;
    default:
        return 0;
    }
}

int64_t yq_numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

yq_status yq_dtype_bytes(yq_dtype dt, int64_t numel, size_t *out) {
    size_t es = yq_dtype_size(dt);
    if (es == 0) return yq_fail(YQ_ERR_UNSUPPORTED, "element type %s is not supported", yq_dtype_name(dt));
    if (numel < 0) return yq_fail(YQ_ERR_INVALID, "negative element count %lld", (long long)numel);
    size_t n;
    if (yq_mul_overflow((size_t)numel, es, &n) || n > YQ_MAX_TENSOR_BYTES)
        return yq_fail(YQ_ERR_LIMIT, "tensor of %lld %s elements exceeds the %zu-byte limit",
                       (long long)numel, yq_dtype_name(dt), (size_t)YQ_MAX_TENSOR_BYTES);
    *out = n;
    return YQ_OK;
}

void yq_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

const char *yq_dims_str(int rank, const int64_t *dims, char *buf, size_t bufsize) {
    size_t n = 0;
    if (bufsize == 0) return buf;
    buf[0] = 0;
    n += (size_t)snprintf(buf + n, bufsize - n, "[");
    for (int i = 0; i < rank && n < bufsize; i++)
        n += (size_t)snprintf(buf + n, bufsize - n, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (n < bufsize) snprintf(buf + n, bufsize - n, "]");
    return buf;
}

float yq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            mant &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t yq_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below smallest normal half: subnormal or zero */
        /* value * 2^24 rounded to nearest even gives the subnormal mantissa */
        float a;
        memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f; /* exact: power of two */
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float yq_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t yq_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

double yq_elem_as_double(yq_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case YQ_DT_FLOAT: return ((const float *)data)[i];
    case YQ_DT_DOUBLE: return ((const double *)data)[i];
    case YQ_DT_FLOAT16: return yq_f16_to_f32(((const uint16_t *)data)[i]);
    case YQ_DT_BFLOAT16: return yq_bf16_to_f32(((const uint16_t *)data)[i]);
    case YQ_DT_UINT8: case YQ_DT_UINT4: case YQ_DT_BOOL: return ((const uint8_t *)data)[i];
    case YQ_DT_INT8: case YQ_DT_INT4: return ((const int8_t *)data)[i];
    case YQ_DT_UINT16: return ((const uint16_t *)data)[i];
    case YQ_DT_INT16: return ((const int16_t *)data)[i];
    case YQ_DT_INT32: return ((const int32_t *)data)[i];
    case YQ_DT_UINT32: return ((const uint32_t *)data)[i];
    case YQ_DT_INT64: return (double)((const int64_t *)data)[i];
    case YQ_DT_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0.0;
    }
}

int64_t yq_elem_as_int64(yq_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case YQ_DT_INT64: return ((const int64_t *)data)[i];
    case YQ_DT_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case YQ_DT_INT32: return ((const int32_t *)data)[i];
    case YQ_DT_UINT32: return ((const uint32_t *)data)[i];
    case YQ_DT_INT16: return ((const int16_t *)data)[i];
    case YQ_DT_UINT16: return ((const uint16_t *)data)[i];
    case YQ_DT_INT8: case YQ_DT_INT4: return ((const int8_t *)data)[i];
    case YQ_DT_UINT8: case YQ_DT_UINT4: case YQ_DT_BOOL: return ((const uint8_t *)data)[i];
    default: return (int64_t)yq_elem_as_double(dt, data, i);
    }
}
