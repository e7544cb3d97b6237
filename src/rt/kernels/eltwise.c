/* Elementwise kernels: binary arithmetic and comparison with numpy
 * multidirectional broadcasting (Add Sub Mul Div Mod Pow Max Min Equal Less
 * Greater), Where, unary math (Sqrt Exp Log Neg Abs Reciprocal Floor Ceil
 * Round) and Identity. See rt/ops.h for the op table contract.
 *
 * Broadcasting: every operand's shape is right-aligned against the output,
 * size-1 output dims are dropped and adjacent dims merged wherever every
 * operand walks them contiguously (or not at all). After that the innermost
 * dim of each operand has stride 1 (full) or 0 (broadcast), so one typed row
 * loop with vector/scalar variants covers the same-shape case (one merged
 * dim), the scalar case, and the per-channel case ([N,C,H,W] op [1,C,1,1]
 * becomes [N,C,H*W] whose second operand has inner stride 0); every other
 * pattern runs through the same walker with shorter rows. Large outputs are
 * split into contiguous ranges over yq_parallel_for.
 *
 * Integer semantics are two's complement wrap-around (as numpy and ONNX
 * Runtime behave): signed arithmetic is carried out in an unsigned type of at
 * least the same width, so it never overflows in C. Integer division and
 * modulo by zero give 0 (numpy's result; ONNX leaves it undefined) and
 * INT_MIN / -1 wraps to INT_MIN. float16 and bfloat16 are computed in float
 * and rounded back to nearest even per element.
 *
 * Outputs may alias an input of the same shape and type element for element
 * (in-place execution); Max/Min with more than two inputs accumulate into the
 * output, so there only the first input may alias it. */
#include <math.h>
#include <string.h>

#include "rt/kernels/elt_common.h"

/* ---- type classes ------------------------------------------------------- */

enum {
    TC_FLOAT = 1,   /* float, double, float16, bfloat16 */
    TC_SIGNED = 2,  /* int8..int64 */
    TC_UNSIGNED = 4, /* uint8..uint64 */
    TC_BOOL = 8,
    TC_OTHER = 16, /* int4/uint4: storable, no arithmetic */
    TC_NUMERIC = TC_FLOAT | TC_SIGNED | TC_UNSIGNED,
    TC_ANY = TC_NUMERIC | TC_BOOL | TC_OTHER,
};

static int type_class(yq_dtype dt) {
    switch (dt) {
    case YQ_DT_FLOAT: case YQ_DT_DOUBLE: case YQ_DT_FLOAT16: case YQ_DT_BFLOAT16: return TC_FLOAT;
    case YQ_DT_INT8: case YQ_DT_INT16: case YQ_DT_INT32: case YQ_DT_INT64: return TC_SIGNED;
    case YQ_DT_UINT8: case YQ_DT_UINT16: case YQ_DT_UINT32: case YQ_DT_UINT64: return TC_UNSIGNED;
    case YQ_DT_BOOL: return TC_BOOL;
    case YQ_DT_INT4: case YQ_DT_UINT4: return TC_OTHER;
    default: return 0;
    }
}

/* ---- integer helpers (never undefined behaviour) ------------------------ */

static inline int64_t sdiv64(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int64_t)(0 - (uint64_t)a); /* INT_MIN / -1 wraps */
    return a / b;
}
static inline uint64_t udiv64(uint64_t a, uint64_t b) { return b ? a / b : 0; }
/* C remainder: sign of the dividend (Mod with fmod=1). */
static inline int64_t smod_c64(int64_t a, int64_t b) { return (b == 0 || b == -1) ? 0 : a % b; }
/* Python remainder: sign of the divisor (Mod with fmod=0). */
static inline int64_t smod_py64(int64_t a, int64_t b) {
    if (b == 0 || b == -1) return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
static inline uint64_t umod64(uint64_t a, uint64_t b) { return b ? a % b : 0; }
/* a^e wrapping; negative e as the integer part of the real result
 * (1, +-1, or 0, with 0^-k defined as 0). */
static inline int64_t spow64(int64_t a, int64_t e) {
    if (e < 0) {
        if (a == 1) return 1;
        if (a == -1) return (e & 1) ? -1 : 1;
        return 0;
    }
    uint64_t r = 1, b = (uint64_t)a;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}
/* double -> int64 truncating toward zero, saturating, NaN -> 0. */
static inline int64_t sat_f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* ---- binary kernels ------------------------------------------------------ */

/* out[i] = op(a[i*sa], b[i*sb]) for i < n with sa, sb in {0, 1}. aux carries
 * per-call data (Pow: the exponent's dtype). */
typedef void (*bin_fn)(int64_t n, const void *a, int sa, const void *b, int sb, void *out, const void *aux);

/* NAME: function; T: element type; CT: compute type; LD: T -> CT; OT, ST:
 * output type and CT -> OT store; WT: the wrap-around type for integer
 * arithmetic. The expression (the variadic argument) uses a, b (CT) and may
 * use t_t (T) and wt_t (WT). */
#define DEF_BIN(NAME, T, CT, LD, OT, ST, WT, ...)                                                   \
    static void NAME(int64_t n, const void *pa, int sa, const void *pb, int sb, void *po,          \
                     const void *aux) {                                                            \
        typedef T t_t __attribute__((unused));                                                     \
        typedef WT wt_t __attribute__((unused));                                                   \
        (void)aux;                                                                                 \
        const T *A = pa, *B = pb;                                                                  \
        OT *O = po;                                                                                \
        if (sa && sb) {                                                                            \
            YQ_IVDEP for (int64_t i = 0; i < n; i++) {                                             \
                const CT a = LD(A[i]), b = LD(B[i]);                                               \
                O[i] = ST(__VA_ARGS__);                                                            \
            }                                                                                      \
        } else if (sa) {                                                                           \
            const CT b = LD(B[0]);                                                                 \
            YQ_IVDEP for (int64_t i = 0; i < n; i++) {                                             \
                const CT a = LD(A[i]);                                                             \
                O[i] = ST(__VA_ARGS__);                                                            \
            }                                                                                      \
        } else if (sb) {                                                                           \
            const CT a = LD(A[0]);                                                                 \
            YQ_IVDEP for (int64_t i = 0; i < n; i++) {                                             \
                const CT b = LD(B[i]);                                                             \
                O[i] = ST(__VA_ARGS__);                                                            \
            }                                                                                      \
        } else {                                                                                   \
            const CT a = LD(A[0]), b = LD(B[0]);                                                   \
            const OT r = ST(__VA_ARGS__);                                                          \
            for (int64_t i = 0; i < n; i++) O[i] = r;                                              \
        }                                                                                          \
    }

/* Instantiations per type family; the comparison variants store 0/1 bytes. */
#define BIN_FLOAT(NAME, ...)                                                                        \
    DEF_BIN(NAME##_f32, float, float, YQ_ID, float, YQ_ID, float, __VA_ARGS__)                            \
    DEF_BIN(NAME##_f64, double, double, YQ_ID, double, YQ_ID, double, __VA_ARGS__)                        \
    DEF_BIN(NAME##_f16, uint16_t, float, yq_f16_to_f32, uint16_t, yq_f32_to_f16, float, __VA_ARGS__) \
    DEF_BIN(NAME##_bf16, uint16_t, float, yq_bf16_to_f32, uint16_t, yq_f32_to_bf16, float, __VA_ARGS__)
#define BIN_FLOAT_CMP(NAME, ...)                                                                  \
    DEF_BIN(NAME##_f32, float, float, YQ_ID, uint8_t, YQ_ID, float, __VA_ARGS__)                        \
    DEF_BIN(NAME##_f64, double, double, YQ_ID, uint8_t, YQ_ID, double, __VA_ARGS__)                     \
    DEF_BIN(NAME##_f16, uint16_t, float, yq_f16_to_f32, uint8_t, YQ_ID, float, __VA_ARGS__)          \
    DEF_BIN(NAME##_bf16, uint16_t, float, yq_bf16_to_f32, uint8_t, YQ_ID, float, __VA_ARGS__)
#define BIN_SINT(NAME, ...)                                                   \
    DEF_BIN(NAME##_i8, int8_t, int8_t, YQ_ID, int8_t, YQ_ID, uint32_t, __VA_ARGS__)    \
    DEF_BIN(NAME##_i16, int16_t, int16_t, YQ_ID, int16_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_i32, int32_t, int32_t, YQ_ID, int32_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_i64, int64_t, int64_t, YQ_ID, int64_t, YQ_ID, uint64_t, __VA_ARGS__)
#define BIN_UINT(NAME, ...)                                                      \
    DEF_BIN(NAME##_u8, uint8_t, uint8_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__)    \
    DEF_BIN(NAME##_u16, uint16_t, uint16_t, YQ_ID, uint16_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_u32, uint32_t, uint32_t, YQ_ID, uint32_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_u64, uint64_t, uint64_t, YQ_ID, uint64_t, YQ_ID, uint64_t, __VA_ARGS__)
#define BIN_SINT_CMP(NAME, ...)                                               \
    DEF_BIN(NAME##_i8, int8_t, int8_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__)    \
    DEF_BIN(NAME##_i16, int16_t, int16_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_i32, int32_t, int32_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_i64, int64_t, int64_t, YQ_ID, uint8_t, YQ_ID, uint64_t, __VA_ARGS__)
#define BIN_UINT_CMP(NAME, ...)                                                  \
    DEF_BIN(NAME##_u8, uint8_t, uint8_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__)    \
    DEF_BIN(NAME##_u16, uint16_t, uint16_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_u32, uint32_t, uint32_t, YQ_ID, uint8_t, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_BIN(NAME##_u64, uint64_t, uint64_t, YQ_ID, uint8_t, YQ_ID, uint64_t, __VA_ARGS__)

#define WRAP_INT(OP) (t_t)((wt_t)a OP (wt_t)b)

BIN_FLOAT(add, a + b)
BIN_SINT(add, WRAP_INT(+))
BIN_UINT(add, WRAP_INT(+))
BIN_FLOAT(sub, a - b)
BIN_SINT(sub, WRAP_INT(-))
BIN_UINT(sub, WRAP_INT(-))
BIN_FLOAT(mul, a * b)
BIN_SINT(mul, WRAP_INT(*))
BIN_UINT(mul, WRAP_INT(*))
BIN_FLOAT(div, a / b)
BIN_SINT(div, (t_t)sdiv64(a, b))
BIN_UINT(div, (t_t)udiv64(a, b))
/* Mod: floats only with fmod=1 (C fmod); integers per the attribute. */
DEF_BIN(modc_f32, float, float, YQ_ID, float, YQ_ID, float, fmodf(a, b))
DEF_BIN(modc_f64, double, double, YQ_ID, double, YQ_ID, double, fmod(a, b))
DEF_BIN(modc_f16, uint16_t, float, yq_f16_to_f32, uint16_t, yq_f32_to_f16, float, fmodf(a, b))
DEF_BIN(modc_bf16, uint16_t, float, yq_bf16_to_f32, uint16_t, yq_f32_to_bf16, float, fmodf(a, b))
BIN_SINT(modc, (t_t)smod_c64(a, b))
BIN_SINT(modpy, (t_t)smod_py64(a, b))
BIN_UINT(mod, (t_t)umod64(a, b))
/* Max/Min propagate NaN like numpy.maximum / numpy.minimum. */
BIN_FLOAT(max, (a > b || a != a) ? a : b)
BIN_SINT(max, a > b ? a : b)
BIN_UINT(max, a > b ? a : b)
BIN_FLOAT(min, (a < b || a != a) ? a : b)
BIN_SINT(min, a < b ? a : b)
BIN_UINT(min, a < b ? a : b)
BIN_FLOAT_CMP(eq, a == b)
BIN_SINT_CMP(eq, a == b)
BIN_UINT_CMP(eq, a == b)
BIN_FLOAT_CMP(lt, a < b)
BIN_SINT_CMP(lt, a < b)
BIN_UINT_CMP(lt, a < b)
BIN_FLOAT_CMP(gt, a > b)
BIN_SINT_CMP(gt, a > b)
BIN_UINT_CMP(gt, a > b)
/* Pow with both operands of the same float type. */
DEF_BIN(pow_f32, float, float, YQ_ID, float, YQ_ID, float, powf(a, b))
DEF_BIN(pow_f64, double, double, YQ_ID, double, YQ_ID, double, pow(a, b))
DEF_BIN(pow_f16, uint16_t, float, yq_f16_to_f32, uint16_t, yq_f32_to_f16, float, powf(a, b))
DEF_BIN(pow_bf16, uint16_t, float, yq_bf16_to_f32, uint16_t, yq_f32_to_bf16, float, powf(a, b))

/* Pow with any exponent type (Pow-12+: T1 may differ from T). Like ONNX
 * Runtime and the numpy reference, a float base with an integer or other
 * exponent is raised in double and rounded to the base type; an integer base
 * with an integer exponent is exact (wrapping); an integer base with a float
 * exponent takes the double result truncated toward zero. Not a hot path: the
 * exponent is read through yq_elem_as_double / yq_elem_as_int64. */
#define DEF_POW_MIXED_FLOAT(NAME, T, LD, ST)                                                   \
    static void NAME(int64_t n, const void *pa, int sa, const void *pb, int sb, void *po,      \
                     const void *aux) {                                                        \
        const yq_dtype edt = *(const yq_dtype *)aux;                                           \
        const T *A = pa;                                                                       \
        T *O = po;                                                                             \
        for (int64_t i = 0; i < n; i++) {                                                      \
            double a = (double)LD(A[sa ? i : 0]);                                              \
            double e = yq_elem_as_double(edt, pb, sb ? i : 0);                                 \
            O[i] = ST(pow(a, e));                                                              \
        }                                                                                      \
    }
static inline float f64_to_f32(double d) { return (float)d; }
static inline uint16_t f64_to_f16_via_f32(double d) { return yq_f32_to_f16((float)d); }
static inline uint16_t f64_to_bf16_via_f32(double d) { return yq_f32_to_bf16((float)d); }
DEF_POW_MIXED_FLOAT(powx_f32, float, YQ_ID, f64_to_f32)
DEF_POW_MIXED_FLOAT(powx_f64, double, YQ_ID, YQ_ID)
DEF_POW_MIXED_FLOAT(powx_f16, uint16_t, yq_f16_to_f32, f64_to_f16_via_f32)
DEF_POW_MIXED_FLOAT(powx_bf16, uint16_t, yq_bf16_to_f32, f64_to_bf16_via_f32)

#define DEF_POW_MIXED_INT(NAME, T)                                                        \
    static void NAME(int64_t n, const void *pa, int sa, const void *pb, int sb, void *po, \
                     const void *aux) {                                                   \
        const yq_dtype edt = *(const yq_dtype *)aux;                                      \
        const int int_exp = yq_dtype_is_integer(edt) || edt == YQ_DT_BOOL;                \
        const T *A = pa;                                                                  \
        T *O = po;                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                 \
            int64_t a = A[sa ? i : 0];                                                    \
            int64_t j = sb ? i : 0;                                                       \
            O[i] = (T)(int_exp ? spow64(a, yq_elem_as_int64(edt, pb, j))                  \
                               : sat_f64_to_i64(pow((double)a, yq_elem_as_double(edt, pb, j)))); \
        }                                                                                 \
    }
DEF_POW_MIXED_INT(powx_i32, int32_t)
DEF_POW_MIXED_INT(powx_i64, int64_t)

/* Dispatch: kernel for (op family, dtype), or NULL if unsupported. */
#define CASE_SINT(NAME)                    \
    case YQ_DT_INT8: return NAME##_i8;     \
    case YQ_DT_INT16: return NAME##_i16;   \
    case YQ_DT_INT32: return NAME##_i32;   \
    case YQ_DT_INT64: return NAME##_i64;
#define CASE_UINT(NAME)                    \
    case YQ_DT_UINT8: return NAME##_u8;    \
    case YQ_DT_UINT16: return NAME##_u16;  \
    case YQ_DT_UINT32: return NAME##_u32;  \
    case YQ_DT_UINT64: return NAME##_u64;
#define DISPATCH_NUMERIC(NAME)                                      \
    static bin_fn NAME##_kernel(yq_dtype dt) {                      \
        switch (dt) { YQ_CASE_FLOAT(NAME) CASE_SINT(NAME) CASE_UINT(NAME) default: return NULL; } \
    }
DISPATCH_NUMERIC(add)
DISPATCH_NUMERIC(sub)
DISPATCH_NUMERIC(mul)
DISPATCH_NUMERIC(div)
DISPATCH_NUMERIC(max)
DISPATCH_NUMERIC(min)
DISPATCH_NUMERIC(lt)
DISPATCH_NUMERIC(gt)

static bin_fn eq_kernel(yq_dtype dt) {
    switch (dt) {
    YQ_CASE_FLOAT(eq) CASE_SINT(eq) CASE_UINT(eq)
    case YQ_DT_BOOL: return eq_u8;
    default: return NULL;
    }
}

static bin_fn mod_kernel(yq_dtype dt, int fmod_attr) {
    switch (dt) {
    YQ_CASE_FLOAT(modc)
    CASE_UINT(mod)
    default: break;
    }
    if (fmod_attr) {
        switch (dt) { CASE_SINT(modc) default: return NULL; }
    }
    switch (dt) { CASE_SINT(modpy) default: return NULL; }
}

static bin_fn pow_kernel(yq_dtype base, yq_dtype expo) {
    if (base == expo) {
        switch (base) { YQ_CASE_FLOAT(pow) default: break; }
    }
    switch (base) {
    YQ_CASE_FLOAT(powx)
    case YQ_DT_INT32: return powx_i32;
    case YQ_DT_INT64: return powx_i64;
    default: return NULL;
    }
}

/* Where: selects by element size; cond is bool (one byte, 0/1). */
typedef void (*where_fn)(int64_t n, const uint8_t *c, int sc, const void *x, int sx, const void *y, int sy,
                         void *out);
#define DEF_WHERE(NAME, T)                                                                            \
    static void NAME(int64_t n, const uint8_t *C, int sc, const void *px, int sx, const void *py, int sy, \
                     void *po) {                                                                      \
        const T *X = px, *Y = py;                                                                     \
        T *O = po;                                                                                    \
        if (sc && sx && sy) {                                                                         \
            YQ_IVDEP for (int64_t i = 0; i < n; i++) O[i] = C[i] ? X[i] : Y[i];                       \
        } else {                                                                                      \
            for (int64_t i = 0; i < n; i++) O[i] = C[sc ? i : 0] ? X[sx ? i : 0] : Y[sy ? i : 0];     \
        }                                                                                             \
    }
DEF_WHERE(where_1, uint8_t)
DEF_WHERE(where_2, uint16_t)
DEF_WHERE(where_4, uint32_t)
DEF_WHERE(where_8, uint64_t)

static where_fn where_kernel(size_t elem_size) {
    switch (elem_size) {
    case 1: return where_1;
    case 2: return where_2;
    case 4: return where_4;
    case 8: return where_8;
    default: return NULL;
    }
}

/* ---- broadcasting -------------------------------------------------------- */

#define MAX_OPERANDS 3

typedef struct bcast_plan {
    int rank; /* >= 1 after collapsing */
    int64_t dims[YQ_MAX_RANK];
    int64_t strides[MAX_OPERANDS][YQ_MAX_RANK]; /* element strides, 0 where broadcast */
    int64_t total;
} bcast_plan;

/* Plan the walk of `out` with nops operands broadcast against it. Fails
 * (internal error) if an operand does not broadcast to out: infer checked
 * that, so this only guards the kernels against a planner bug. */
static yq_status plan_broadcast(int nops, const yq_tensor *const *ops, const yq_tensor *out, bcast_plan *p) {
    const int r = out->rank;
    int64_t st[MAX_OPERANDS][YQ_MAX_RANK];
    for (int k = 0; k < nops; k++) {
        const yq_tensor *t = ops[k];
        if (t->rank > r) return yq_fail(YQ_ERR_INTERNAL, "operand rank %d exceeds output rank %d", t->rank, r);
        int64_t s = 1;
        for (int d = r - 1; d >= 0; d--) {
            int td = d - (r - t->rank);
            int64_t dim = td >= 0 ? t->dims[td] : 1;
            if (dim != out->dims[d] && dim != 1)
                return yq_fail(YQ_ERR_INTERNAL, "operand %d dim %d (%lld) does not broadcast to %lld", k, d,
                               (long long)dim, (long long)out->dims[d]);
            st[k][d] = (dim == 1) ? 0 : s;
            s *= dim;
        }
    }
    /* drop size-1 dims, merge contiguous runs */
    int pr = 0;
    for (int d = 0; d < r; d++) {
        if (out->dims[d] == 1) continue;
        if (pr > 0) {
            int mergeable = 1;
            for (int k = 0; k < nops; k++)
                if (p->strides[k][pr - 1] != st[k][d] * out->dims[d]) mergeable = 0;
            if (mergeable) {
                p->dims[pr - 1] *= out->dims[d];
                for (int k = 0; k < nops; k++) p->strides[k][pr - 1] = st[k][d];
                continue;
            }
        }
        p->dims[pr] = out->dims[d];
        for (int k = 0; k < nops; k++) p->strides[k][pr] = st[k][d];
        pr++;
    }
    if (pr == 0) { /* scalar output */
        p->dims[0] = 1;
        for (int k = 0; k < nops; k++) p->strides[k][0] = 0;
        pr = 1;
    }
    p->rank = pr;
    p->total = yq_numel(pr, p->dims);
    for (int k = 0; k < nops; k++)
        if (p->strides[k][pr - 1] > 1)
            return yq_fail(YQ_ERR_INTERNAL, "broadcast plan: inner stride %lld", (long long)p->strides[k][pr - 1]);
    return YQ_OK;
}

typedef struct elt_job {
    bcast_plan plan;
    int nops;
    const char *in[MAX_OPERANDS];
    size_t in_size[MAX_OPERANDS];
    char *out;
    size_t out_size;
    bin_fn bin;     /* nops == 2 */
    where_fn where; /* nops == 3 */
    const void *aux;
} elt_job;

/* Process output elements [begin, end): rows of the innermost merged dim. */
static void elt_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const elt_job *j = arg;
    const bcast_plan *p = &j->plan;
    const int r = p->rank, nops = j->nops;
    int64_t idx[YQ_MAX_RANK], off[MAX_OPERANDS] = {0, 0, 0};
    int64_t rem = begin;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        for (int k = 0; k < nops; k++) off[k] += idx[d] * p->strides[k][d];
    }
    const int64_t inner = p->dims[r - 1];
    int s[MAX_OPERANDS] = {0, 0, 0};
    for (int k = 0; k < nops; k++) s[k] = p->strides[k][r - 1] != 0;
    int64_t pos = begin;
    while (pos < end) {
        int64_t n = inner - idx[r - 1];
        if (n > end - pos) n = end - pos;
        if (nops == 2)
            j->bin(n, j->in[0] + off[0] * (int64_t)j->in_size[0], s[0], j->in[1] + off[1] * (int64_t)j->in_size[1],
                   s[1], j->out + pos * (int64_t)j->out_size, j->aux);
        else
            j->where(n, (const uint8_t *)j->in[0] + off[0], s[0], j->in[1] + off[1] * (int64_t)j->in_size[1], s[1],
                     j->in[2] + off[2] * (int64_t)j->in_size[2], s[2], j->out + pos * (int64_t)j->out_size);
        pos += n;
        idx[r - 1] += n;
        for (int k = 0; k < nops; k++) off[k] += n * p->strides[k][r - 1];
        if (idx[r - 1] == inner && pos < end) {
            idx[r - 1] = 0;
            for (int k = 0; k < nops; k++) off[k] -= inner * p->strides[k][r - 1];
            for (int d = r - 2; d >= 0; d--) {
                idx[d]++;
                for (int k = 0; k < nops; k++) off[k] += p->strides[k][d];
                if (idx[d] < p->dims[d]) break;
                for (int k = 0; k < nops; k++) off[k] -= p->dims[d] * p->strides[k][d];
                idx[d] = 0;
            }
        }
    }
}

/* Elements per parallel chunk: these loops move memory at well under a
 * nanosecond per element, so a chunk must be large for the pool's wake-up
 * (several microseconds) to pay off; measured with tests/perf/tool_eltwise_bench. */
#define ELT_GRAIN 65536

static yq_status run_elt(yq_pool *pool, elt_job *j, const yq_tensor *const *ops, const yq_tensor *out) {
    YQ_TRY(plan_broadcast(j->nops, ops, out, &j->plan));
    for (int k = 0; k < j->nops; k++) {
        j->in[k] = ops[k]->data;
        j->in_size[k] = yq_dtype_size(ops[k]->dtype);
    }
    j->out = out->data;
    j->out_size = yq_dtype_size(out->dtype);
    if (j->plan.total > 0) yq_parallel_for(pool, j->plan.total, ELT_GRAIN, elt_range, j);
    return YQ_OK;
}

static yq_status run_binary_fn(yq_run_ctx *c, bin_fn fn, const yq_tensor *a, const yq_tensor *b, const void *aux) {
    if (!fn)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (%s): no kernel for %s", c->node->name, c->node->op_type,
                       yq_dtype_name(a->dtype));
    elt_job j = {.nops = 2, .bin = fn, .aux = aux};
    const yq_tensor *ops[2] = {a, b};
    return run_elt(c->pool, &j, ops, &c->out[0]);
}

/* ---- infer helpers -------------------------------------------------------- */

static yq_status need_arity(const yq_infer_ctx *c, int min_in, int max_in) {
    int n = c->node->ninputs;
    if (n < min_in || n > max_in) {
        if (min_in == max_in) return yq_node_fail(c, YQ_ERR_INVALID, "expects %d inputs, got %d", min_in, n);
        return yq_node_fail(c, YQ_ERR_INVALID, "expects %d to %d inputs, got %d", min_in, max_in, n);
    }
    if (c->node->noutputs < 1 || c->node->outputs[0] < 0)
        return yq_node_fail(c, YQ_ERR_INVALID, "has no output");
    return YQ_OK;
}

static yq_status need_class(const yq_infer_ctx *c, int i, int cls) {
    const yq_value *v = yq_in(c, i);
    if (!(type_class(v->dtype) & cls))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input %d ('%s') has type %s, which this op does not support", i,
                            v->name, yq_dtype_name(v->dtype));
    return YQ_OK;
}

/* Inputs [first, first+count) present with known shapes; broadcast shape. */
static yq_status broadcast_inputs(const yq_infer_ctx *c, int first, int count, int *rank, int64_t *dims) {
    *rank = 0;
    for (int i = first; i < first + count; i++) {
        YQ_TRY(yq_need_input(c, i, YQ_DT_UNDEFINED));
        const yq_value *v = yq_in(c, i);
        int64_t tmp[YQ_MAX_RANK];
        int tr;
        if (yq_broadcast_shape(*rank, dims, v->rank, v->dims, &tr, tmp) != YQ_OK)
            return yq_fail_prefix(YQ_ERR_INVALID, "node '%s' (%s)", c->node->name,
                                  c->node->op_type);
        *rank = tr;
        memcpy(dims, tmp, sizeof tmp[0] * (size_t)tr);
    }
    return YQ_OK;
}

/* All inputs in [first, first+count) have the type of input `first`. */
static yq_status need_same_type(const yq_infer_ctx *c, int first, int count) {
    yq_dtype dt = yq_in(c, first)->dtype;
    for (int i = first + 1; i < first + count; i++) {
        const yq_value *v = yq_in(c, i);
        if (v->dtype != dt)
            return yq_node_fail(c, YQ_ERR_INVALID, "input %d ('%s') is %s but input %d is %s", i, v->name,
                                yq_dtype_name(v->dtype), first, yq_dtype_name(dt));
    }
    return YQ_OK;
}

/* Binary/variadic op whose inputs share one type of class cls. */
static yq_status infer_nary(yq_infer_ctx *c, int min_in, int max_in, int cls, int bool_out) {
    YQ_TRY(need_arity(c, min_in, max_in));
    int rank;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(broadcast_inputs(c, 0, c->node->ninputs, &rank, dims));
    YQ_TRY(need_same_type(c, 0, c->node->ninputs));
    YQ_TRY(need_class(c, 0, cls));
    yq_set_out(c, 0, bool_out ? YQ_DT_BOOL : yq_in(c, 0)->dtype, rank, dims);
    return YQ_OK;
}

static yq_status infer_arith(yq_infer_ctx *c) { return infer_nary(c, 2, 2, TC_NUMERIC, 0); }
static yq_status infer_variadic(yq_infer_ctx *c) { return infer_nary(c, 1, 1 << 20, TC_NUMERIC, 0); }
static yq_status infer_compare(yq_infer_ctx *c) { return infer_nary(c, 2, 2, TC_NUMERIC, 1); }
static yq_status infer_equal(yq_infer_ctx *c) { return infer_nary(c, 2, 2, TC_NUMERIC | TC_BOOL, 1); }

static yq_status infer_mod(yq_infer_ctx *c) {
    YQ_TRY(infer_nary(c, 2, 2, TC_NUMERIC, 0));
    int64_t f = yq_attr_int(c->node, "fmod", 0);
    if (f != 0 && f != 1) return yq_node_fail(c, YQ_ERR_INVALID, "attribute fmod must be 0 or 1, got %lld", (long long)f);
    if (type_class(yq_in(c, 0)->dtype) == TC_FLOAT && f != 1)
        return yq_node_fail(c, YQ_ERR_INVALID, "floating-point Mod requires fmod=1 (input is %s)",
                            yq_dtype_name(yq_in(c, 0)->dtype));
    return YQ_OK;
}

static yq_status infer_pow(yq_infer_ctx *c) {
    YQ_TRY(need_arity(c, 2, 2));
    int rank;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(broadcast_inputs(c, 0, 2, &rank, dims));
    yq_dtype base = yq_in(c, 0)->dtype;
    if (type_class(base) != TC_FLOAT && base != YQ_DT_INT32 && base != YQ_DT_INT64)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "base type %s is not supported (float types, int32, int64)",
                            yq_dtype_name(base));
    YQ_TRY(need_class(c, 1, TC_NUMERIC));
    yq_set_out(c, 0, base, rank, dims);
    return YQ_OK;
}

static yq_status infer_where(yq_infer_ctx *c) {
    YQ_TRY(need_arity(c, 3, 3));
    int rank;
    int64_t dims[YQ_MAX_RANK];
    YQ_TRY(broadcast_inputs(c, 0, 3, &rank, dims));
    if (yq_in(c, 0)->dtype != YQ_DT_BOOL)
        return yq_node_fail(c, YQ_ERR_INVALID, "condition ('%s') must be bool, got %s", yq_in(c, 0)->name,
                            yq_dtype_name(yq_in(c, 0)->dtype));
    YQ_TRY(need_same_type(c, 1, 2));
    YQ_TRY(need_class(c, 1, TC_ANY));
    yq_set_out(c, 0, yq_in(c, 1)->dtype, rank, dims);
    return YQ_OK;
}

/* ---- binary runs ------------------------------------------------------------ */

static yq_status run_add(yq_run_ctx *c) { return run_binary_fn(c, add_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_sub(yq_run_ctx *c) { return run_binary_fn(c, sub_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_mul(yq_run_ctx *c) { return run_binary_fn(c, mul_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_div(yq_run_ctx *c) { return run_binary_fn(c, div_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_equal(yq_run_ctx *c) { return run_binary_fn(c, eq_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_less(yq_run_ctx *c) { return run_binary_fn(c, lt_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }
static yq_status run_greater(yq_run_ctx *c) { return run_binary_fn(c, gt_kernel(c->in[0].dtype), &c->in[0], &c->in[1], NULL); }

static yq_status run_mod(yq_run_ctx *c) {
    int f = yq_attr_int(c->node, "fmod", 0) != 0;
    return run_binary_fn(c, mod_kernel(c->in[0].dtype, f), &c->in[0], &c->in[1], NULL);
}

static yq_status run_pow(yq_run_ctx *c) {
    yq_dtype edt = c->in[1].dtype;
    return run_binary_fn(c, pow_kernel(c->in[0].dtype, edt), &c->in[0], &c->in[1], &edt);
}

/* Max/Min: out = op(in0, in1), then out = op(out, in_k) for k >= 2; one
 * input is a broadcasting copy, done as op(in0, in0). */
static yq_status run_variadic(yq_run_ctx *c, bin_fn fn) {
    const yq_tensor *out = &c->out[0];
    if (c->nin == 1) return run_binary_fn(c, fn, &c->in[0], &c->in[0], NULL);
    YQ_TRY(run_binary_fn(c, fn, &c->in[0], &c->in[1], NULL));
    for (int k = 2; k < c->nin; k++) YQ_TRY(run_binary_fn(c, fn, out, &c->in[k], NULL));
    return YQ_OK;
}
static yq_status run_max(yq_run_ctx *c) { return run_variadic(c, max_kernel(c->in[0].dtype)); }
static yq_status run_min(yq_run_ctx *c) { return run_variadic(c, min_kernel(c->in[0].dtype)); }

static yq_status run_where(yq_run_ctx *c) {
    where_fn fn = where_kernel(yq_dtype_size(c->in[1].dtype));
    if (!fn)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (Where): no kernel for %s", c->node->name,
                       yq_dtype_name(c->in[1].dtype));
    elt_job j = {.nops = 3, .where = fn};
    const yq_tensor *ops[3] = {&c->in[0], &c->in[1], &c->in[2]};
    return run_elt(c->pool, &j, ops, &c->out[0]);
}

/* ---- unary kernels ---------------------------------------------------------- */

typedef void (*un_fn)(int64_t n, const void *x, void *y);

#define DEF_UN(NAME, T, CT, LD, ST, WT, ...)                 \
    static void NAME(int64_t n, const void *px, void *py) { \
        typedef T t_t __attribute__((unused));              \
        typedef WT wt_t __attribute__((unused));            \
        const T *X = px;                                    \
        T *Y = py;                                          \
        YQ_IVDEP for (int64_t i = 0; i < n; i++) {          \
            const CT a = LD(X[i]);                          \
            Y[i] = ST(__VA_ARGS__);                         \
        }                                                   \
    }
/* F32 and F64 get separate expressions so each calls the right libm function. */
#define UN_FLOAT(NAME, EXPR_F, EXPR_D)                                                     \
    DEF_UN(NAME##_f32, float, float, YQ_ID, YQ_ID, float, EXPR_F)                                \
    DEF_UN(NAME##_f64, double, double, YQ_ID, YQ_ID, double, EXPR_D)                             \
    DEF_UN(NAME##_f16, uint16_t, float, yq_f16_to_f32, yq_f32_to_f16, float, EXPR_F)       \
    DEF_UN(NAME##_bf16, uint16_t, float, yq_bf16_to_f32, yq_f32_to_bf16, float, EXPR_F)
#define UN_SINT(NAME, ...)                                            \
    DEF_UN(NAME##_i8, int8_t, int8_t, YQ_ID, YQ_ID, uint32_t, __VA_ARGS__)    \
    DEF_UN(NAME##_i16, int16_t, int16_t, YQ_ID, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_UN(NAME##_i32, int32_t, int32_t, YQ_ID, YQ_ID, uint32_t, __VA_ARGS__) \
    DEF_UN(NAME##_i64, int64_t, int64_t, YQ_ID, YQ_ID, uint64_t, __VA_ARGS__)

UN_FLOAT(sqrt, sqrtf(a), sqrt(a))
UN_FLOAT(exp, expf(a), exp(a))
UN_FLOAT(log, logf(a), log(a))
UN_FLOAT(neg, -a, -a)
UN_SINT(neg, (t_t)(0 - (wt_t)a))
UN_FLOAT(abs, fabsf(a), fabs(a))
UN_SINT(abs, a < 0 ? (t_t)(0 - (wt_t)a) : a)
UN_FLOAT(recip, 1.0f / a, 1.0 / a)
UN_FLOAT(floor, floorf(a), floor(a))
UN_FLOAT(ceil, ceilf(a), ceil(a))
/* Round: half to even (nearbyint in the default rounding mode). */
UN_FLOAT(round, nearbyintf(a), nearbyint(a))

#define DISPATCH_UN_FLOAT(NAME)                                                \
    static un_fn NAME##_un_kernel(yq_dtype dt) {                               \
        switch (dt) { YQ_CASE_FLOAT(NAME) default: return NULL; }                  \
    }
DISPATCH_UN_FLOAT(sqrt)
DISPATCH_UN_FLOAT(exp)
DISPATCH_UN_FLOAT(log)
DISPATCH_UN_FLOAT(recip)
DISPATCH_UN_FLOAT(floor)
DISPATCH_UN_FLOAT(ceil)
DISPATCH_UN_FLOAT(round)
static un_fn neg_un_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(neg) CASE_SINT(neg) default: return NULL; }
}
/* Abs of an unsigned value is a copy: NULL here, handled by run_abs. */
static un_fn abs_un_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(abs) CASE_SINT(abs) default: return NULL; }
}

typedef struct un_job {
    un_fn fn;
    const char *x;
    char *y;
    size_t es;
} un_job;

static void un_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const un_job *j = arg;
    j->fn(e - b, j->x + b * (int64_t)j->es, j->y + b * (int64_t)j->es);
}

static yq_status run_unary_fn(yq_run_ctx *c, un_fn fn) {
    if (!fn)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (%s): no kernel for %s", c->node->name, c->node->op_type,
                       yq_dtype_name(c->in[0].dtype));
    un_job j = {.fn = fn, .x = c->in[0].data, .y = c->out[0].data, .es = yq_dtype_size(c->in[0].dtype)};
    yq_parallel_for(c->pool, yq_tensor_numel(&c->in[0]), ELT_GRAIN, un_range, &j);
    return YQ_OK;
}

static yq_status copy_input(yq_run_ctx *c) {
    size_t nb;
    YQ_TRY(yq_dtype_bytes(c->in[0].dtype, yq_tensor_numel(&c->in[0]), &nb));
    if (nb && c->out[0].data != c->in[0].data) memmove(c->out[0].data, c->in[0].data, nb);
    return YQ_OK;
}

static yq_status run_sqrt(yq_run_ctx *c) { return run_unary_fn(c, sqrt_un_kernel(c->in[0].dtype)); }
static yq_status run_exp(yq_run_ctx *c) { return run_unary_fn(c, exp_un_kernel(c->in[0].dtype)); }
static yq_status run_log(yq_run_ctx *c) { return run_unary_fn(c, log_un_kernel(c->in[0].dtype)); }
static yq_status run_neg(yq_run_ctx *c) { return run_unary_fn(c, neg_un_kernel(c->in[0].dtype)); }
static yq_status run_reciprocal(yq_run_ctx *c) { return run_unary_fn(c, recip_un_kernel(c->in[0].dtype)); }
static yq_status run_floor(yq_run_ctx *c) { return run_unary_fn(c, floor_un_kernel(c->in[0].dtype)); }
static yq_status run_ceil(yq_run_ctx *c) { return run_unary_fn(c, ceil_un_kernel(c->in[0].dtype)); }
static yq_status run_round(yq_run_ctx *c) { return run_unary_fn(c, round_un_kernel(c->in[0].dtype)); }
static yq_status run_abs(yq_run_ctx *c) {
    if (type_class(c->in[0].dtype) == TC_UNSIGNED) return copy_input(c);
    return run_unary_fn(c, abs_un_kernel(c->in[0].dtype));
}
static yq_status run_identity(yq_run_ctx *c) { return copy_input(c); }

static yq_status infer_unary(yq_infer_ctx *c, int cls) {
    YQ_TRY(need_arity(c, 1, 1));
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    YQ_TRY(need_class(c, 0, cls));
    const yq_value *x = yq_in(c, 0);
    yq_set_out(c, 0, x->dtype, x->rank, x->dims);
    return YQ_OK;
}
static yq_status infer_unary_float(yq_infer_ctx *c) { return infer_unary(c, TC_FLOAT); }
static yq_status infer_neg(yq_infer_ctx *c) { return infer_unary(c, TC_FLOAT | TC_SIGNED); }
static yq_status infer_abs(yq_infer_ctx *c) { return infer_unary(c, TC_NUMERIC); }
static yq_status infer_identity(yq_infer_ctx *c) { return infer_unary(c, TC_ANY); }

/* ---- registration ------------------------------------------------------------ */

void yq_register_eltwise_ops(yq_op_vtable *t) {
#define REG(OP, INFER, RUN) t[YQ_OP_##OP] = (yq_op_vtable){.infer = INFER, .run = RUN, .flops = yq_elt_flops_numel}
    REG(Add, infer_arith, run_add);
    REG(Sub, infer_arith, run_sub);
    REG(Mul, infer_arith, run_mul);
    REG(Div, infer_arith, run_div);
    REG(Mod, infer_mod, run_mod);
    REG(Pow, infer_pow, run_pow);
    REG(Max, infer_variadic, run_max);
    REG(Min, infer_variadic, run_min);
    REG(Equal, infer_equal, run_equal);
    REG(Less, infer_compare, run_less);
    REG(Greater, infer_compare, run_greater);
    REG(Where, infer_where, run_where);
    REG(Sqrt, infer_unary_float, run_sqrt);
    REG(Exp, infer_unary_float, run_exp);
    REG(Log, infer_unary_float, run_log);
    REG(Neg, infer_neg, run_neg);
    REG(Abs, infer_abs, run_abs);
    REG(Reciprocal, infer_unary_float, run_reciprocal);
    REG(Floor, infer_unary_float, run_floor);
    REG(Ceil, infer_unary_float, run_ceil);
    REG(Round, infer_unary_float, run_round);
    t[YQ_OP_Identity] = (yq_op_vtable){.infer = infer_identity, .run = run_identity};
#undef REG
}
