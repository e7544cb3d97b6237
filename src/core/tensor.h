/* Element types and dense tensors.
 * yq_dtype values are ONNX TensorProto.DataType numbers, so they cross the file
 * boundary unchanged. In memory every tensor is dense, row-major (C order).
 * 4-bit types (INT4/UINT4) are held UNPACKED in memory, one value per byte
 * (int8_t / uint8_t): the ONNX reader unpacks nibbles and the writer packs them,
 * so kernels never see nibbles. */
#ifndef YQ_CORE_TENSOR_H
#define YQ_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define YQ_MAX_RANK 8

typedef enum yq_dtype {
    YQ_DT_UNDEFINED = 0,
    YQ_DT_FLOAT = 1,
    YQ_DT_UINT8 = 2,
    YQ_DT_INT8 = 3,
    YQ_DT_UINT16 = 4,
    YQ_DT_INT16 = 5,
    YQ_DT_INT32 = 6,
    YQ_DT_INT64 = 7,
    YQ_DT_STRING = 8,
    YQ_DT_BOOL = 9,
    YQ_DT_FLOAT16 = 10,
    YQ_DT_DOUBLE = 11,
    YQ_DT_UINT32 = 12,
    YQ_DT_UINT64 = 13,
    YQ_DT_COMPLEX64 = 14,
    YQ_DT_COMPLEX128 = 15,
    YQ_DT_BFLOAT16 = 16,
    /* Newer than the 1.12 schema Debian ships: defined here ourselves. */
    YQ_DT_FLOAT8E4M3FN = 17,
    YQ_DT_FLOAT8E4M3FNUZ = 18,
    YQ_DT_FLOAT8E5M2 = 19,
    YQ_DT_FLOAT8E5M2FNUZ = 20,
    YQ_DT_UINT4 = 21,
    YQ_DT_INT4 = 22,
    YQ_DT_COUNT
} yq_dtype;

/* Name as ONNX spells it ("float", "int8", ...); "?" for unknown values. */
const char *yq_dtype_name(yq_dtype dt);
/* Bytes per element in memory (4-bit types: 1, since they are held unpacked);
 * 0 for types yoloq cannot hold (string, complex, float8). */
size_t yq_dtype_size(yq_dtype dt);
/* Bits per element in an ONNX file (4 for INT4/UINT4). */
int yq_dtype_file_bits(yq_dtype dt);
int yq_dtype_is_float(yq_dtype dt);   /* FLOAT, FLOAT16, BFLOAT16, DOUBLE */
int yq_dtype_is_integer(yq_dtype dt); /* all int/uint types incl. 4-bit, not BOOL */

typedef struct yq_tensor {
    yq_dtype dtype;
    int rank;
    int64_t dims[YQ_MAX_RANK];
    void *data; /* not owned unless the owner says so */
} yq_tensor;

/* Product of dims (1 for rank 0). Dims must be >= 0. */
int64_t yq_numel(int rank, const int64_t *dims);
static inline int64_t yq_tensor_numel(const yq_tensor *t) { return yq_numel(t->rank, t->dims); }
/* Bytes that numel elements of dt occupy in memory; fails with YQ_ERR_LIMIT on
 * overflow or beyond YQ_MAX_TENSOR_BYTES. */
#define YQ_MAX_TENSOR_BYTES ((size_t)1 << 36)
yq_status yq_dtype_bytes(yq_dtype dt, int64_t numel, size_t *out);
/* Row-major strides in elements. */
void yq_strides(int rank, const int64_t *dims, int64_t *strides);
/* "[1,3,640,640]" into buf. */
const char *yq_dims_str(int rank, const int64_t *dims, char *buf, size_t bufsize);

/* Half-precision conversions (round to nearest even). */
float yq_f16_to_f32(uint16_t h);
uint16_t yq_f32_to_f16(float f);
float yq_bf16_to_f32(uint16_t b);
uint16_t yq_f32_to_bf16(float f);

/* Read element i of any numeric tensor as double / int64 (slow; for shape
 * arithmetic and tests, never for hot loops). */
double yq_elem_as_double(yq_dtype dt, const void *data, int64_t i);
int64_t yq_elem_as_int64(yq_dtype dt, const void *data, int64_t i);

#endif
