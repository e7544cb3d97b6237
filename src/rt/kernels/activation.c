/* Activation kernels: Sigmoid, Relu, LeakyRelu, HardSigmoid, HardSwish, Tanh,
 * Softmax and Clip. See rt/ops.h for the op table contract.
 *
 * float32 is the fast path: Sigmoid and Softmax use the vectorisable exp of
 * vecmath.h (Sigmoid: <= 2e-7 relative error against double, see there);
 * double uses libm in double; float16 and bfloat16 are computed in float and
 * rounded back per element. NaN inputs stay NaN (Relu, Clip and HardSigmoid
 * compare so that NaN falls through, as numpy.maximum/clip do).
 * Outputs may alias the input (in-place execution). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rt/kernels/elt_common.h"

static int is_float_type(yq_dtype dt) { return yq_dtype_is_float(dt); }

/* elements per parallel chunk (activations cost about 1 ns per element) */
#define ACT_GRAIN 16384

/* ---- pointwise activations ------------------------------------------------ */

typedef struct act_params {
    float alpha, beta;
} act_params;

typedef void (*act_fn)(int64_t n, const void *x, void *y, const act_params *p);

/* The expression uses a (CT) and alpha, beta (CT). */
#define DEF_ACT(NAME, T, CT, LD, ST, ...)                                         \
    YQ_CLONES static void NAME(int64_t n, const void *px, void *py, const act_params *p) { \
        const T *X = px;                                                         \
        T *Y = py;                                                               \
        const CT alpha = (CT)p->alpha, beta = (CT)p->beta;                       \
        (void)alpha;                                                             \
        (void)beta;                                                              \
        YQ_IVDEP for (int64_t i = 0; i < n; i++) {                               \
            const CT a = LD(X[i]);                                               \
            Y[i] = ST(__VA_ARGS__);                                              \
        }                                                                        \
    }
#define ACT_FLOAT(NAME, EXPR_F, EXPR_D)                                             \
    DEF_ACT(NAME##_f32, float, float, YQ_ID, YQ_ID, EXPR_F)                               \
    DEF_ACT(NAME##_f64, double, double, YQ_ID, YQ_ID, EXPR_D)                             \
    DEF_ACT(NAME##_f16, uint16_t, float, yq_f16_to_f32, yq_f32_to_f16, EXPR_F)      \
    DEF_ACT(NAME##_bf16, uint16_t, float, yq_bf16_to_f32, yq_f32_to_bf16, EXPR_F)

static inline double sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
/* max(0, min(1, v)) letting NaN through */
static inline float unit_clamp_f(float v) {
    v = v > 1.0f ? 1.0f : v;
    return v < 0.0f ? 0.0f : v;
}
static inline double unit_clamp_d(double v) {
    v = v > 1.0 ? 1.0 : v;
    return v < 0.0 ? 0.0 : v;
}

ACT_FLOAT(sigmoid, yq_sigmoid_f32(a), sigmoid_d(a))
ACT_FLOAT(relu, a < 0 ? 0 : a, a < 0 ? 0 : a)
DEF_ACT(relu_i8, int8_t, int8_t, YQ_ID, YQ_ID, a < 0 ? 0 : a)
DEF_ACT(relu_i16, int16_t, int16_t, YQ_ID, YQ_ID, a < 0 ? 0 : a)
DEF_ACT(relu_i32, int32_t, int32_t, YQ_ID, YQ_ID, a < 0 ? 0 : a)
DEF_ACT(relu_i64, int64_t, int64_t, YQ_ID, YQ_ID, a < 0 ? 0 : a)
ACT_FLOAT(leaky, a < 0 ? alpha * a : a, a < 0 ? alpha * a : a)
ACT_FLOAT(hsig, unit_clamp_f(alpha * a + beta), unit_clamp_d(alpha * a + beta))
ACT_FLOAT(hswish, a * unit_clamp_f(alpha * a + beta), a * unit_clamp_d(alpha * a + beta))
ACT_FLOAT(tanh, tanhf(a), tanh(a))

typedef struct act_job {
    act_fn fn;
    const char *x;
    char *y;
    size_t es;
    act_params p;
} act_job;

static void act_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const act_job *j = arg;
    j->fn(e - b, j->x + b * (int64_t)j->es, j->y + b * (int64_t)j->es, &j->p);
}

static yq_status run_act(yq_run_ctx *c, act_fn fn, float alpha, float beta) {
    if (!fn)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (%s): no kernel for %s", c->node->name, c->node->op_type,
                       yq_dtype_name(c->in[0].dtype));
    act_job j = {.fn = fn, .x = c->in[0].data, .y = c->out[0].data, .es = yq_dtype_size(c->in[0].dtype),
                 .p = {alpha, beta}};
    yq_parallel_for(c->pool, yq_tensor_numel(&c->in[0]), ACT_GRAIN, act_range, &j);
    return YQ_OK;
}

static act_fn sigmoid_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(sigmoid) default: return NULL; }
}
static act_fn relu_kernel(yq_dtype dt) {
    switch (dt) {
    YQ_CASE_FLOAT(relu)
    case YQ_DT_INT8: return relu_i8;
    case YQ_DT_INT16: return relu_i16;
    case YQ_DT_INT32: return relu_i32;
    case YQ_DT_INT64: return relu_i64;
    default: return NULL;
    }
}
static act_fn leaky_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(leaky) default: return NULL; }
}
static act_fn hsig_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(hsig) default: return NULL; }
}
static act_fn hswish_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(hswish) default: return NULL; }
}
static act_fn tanh_kernel(yq_dtype dt) {
    switch (dt) { YQ_CASE_FLOAT(tanh) default: return NULL; }
}

static yq_status run_sigmoid(yq_run_ctx *c) { return run_act(c, sigmoid_kernel(c->in[0].dtype), 0, 0); }
static yq_status run_relu(yq_run_ctx *c) { return run_act(c, relu_kernel(c->in[0].dtype), 0, 0); }
static yq_status run_tanh(yq_run_ctx *c) { return run_act(c, tanh_kernel(c->in[0].dtype), 0, 0); }
static yq_status run_leaky(yq_run_ctx *c) {
    return run_act(c, leaky_kernel(c->in[0].dtype), yq_attr_float(c->node, "alpha", 0.01f), 0);
}
static yq_status run_hsig(yq_run_ctx *c) {
    return run_act(c, hsig_kernel(c->in[0].dtype), yq_attr_float(c->node, "alpha", 0.2f),
                   yq_attr_float(c->node, "beta", 0.5f));
}
/* HardSwish(x) = x * HardSigmoid(x; alpha = 1/6, beta = 0.5) */
static yq_status run_hswish(yq_run_ctx *c) {
    return run_act(c, hswish_kernel(c->in[0].dtype), 1.0f / 6.0f, 0.5f);
}

/* ---- infer helpers -------------------------------------------------------- */

static yq_status need_output(const yq_infer_ctx *c) {
    if (c->node->noutputs < 1 || c->node->outputs[0] < 0)
        return yq_node_fail(c, YQ_ERR_INVALID, "has no output");
    return YQ_OK;
}

static yq_status infer_same_as_input(yq_infer_ctx *c, int allow_signed_int) {
    if (c->node->ninputs != 1)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects 1 input, got %d", c->node->ninputs);
    YQ_TRY(need_output(c));
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0);
    int ok = is_float_type(x->dtype) ||
             (allow_signed_int && (x->dtype == YQ_DT_INT8 || x->dtype == YQ_DT_INT16 || x->dtype == YQ_DT_INT32 ||
                                   x->dtype == YQ_DT_INT64));
    if (!ok)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input '%s' has type %s, which this op does not support",
                            x->name, yq_dtype_name(x->dtype));
    yq_set_out(c, 0, x->dtype, x->rank, x->dims);
    return YQ_OK;
}
static yq_status infer_float_act(yq_infer_ctx *c) { return infer_same_as_input(c, 0); }
static yq_status infer_relu(yq_infer_ctx *c) { return infer_same_as_input(c, 1); }

/* ---- Softmax -------------------------------------------------------------- */

/* Softmax before opset 13 flattens the input to 2-D at `axis` (default 1)
 * and normalises each row; from opset 13 it normalises along `axis` (default
 * -1). Either way: outer x len x inner with the reduction over len. */
static yq_status softmax_axis(const yq_node *n, int64_t opset, int rank, int *axis_out) {
    int64_t axis = yq_attr_int(n, "axis", opset >= 13 ? -1 : 1);
    if (axis < -rank || axis >= rank || rank == 0)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (Softmax): axis %lld is out of range for rank %d", n->name,
                       (long long)axis, rank);
    *axis_out = (int)(axis < 0 ? axis + rank : axis);
    return YQ_OK;
}

static void softmax_geometry(const yq_tensor *x, int axis, int64_t opset, int64_t *outer, int64_t *len,
                             int64_t *inner) {
    *outer = yq_numel(axis, x->dims);
    if (opset < 13) {
        *len = yq_numel(x->rank - axis, x->dims + axis);
        *inner = 1;
    } else {
        *len = x->dims[axis];
        *inner = yq_numel(x->rank - axis - 1, x->dims + axis + 1);
    }
}

static yq_status infer_softmax(yq_infer_ctx *c) {
    YQ_TRY(infer_same_as_input(c, 0));
    int axis;
    if (softmax_axis(c->node, c->opset, yq_in(c, 0)->rank, &axis) != YQ_OK)
        return yq_node_fail(c, YQ_ERR_INVALID, "axis %lld is out of range for rank %d",
                            (long long)yq_attr_int(c->node, "axis", c->opset >= 13 ? -1 : 1), yq_in(c, 0)->rank);
    return YQ_OK;
}

/* One contiguous row of float32: max, exp(x - max) into y, sum in double,
 * divide. y may alias x. The max and the sum run in 8 independent lanes
 * (vectorisable, and no serial add chain), combined in a fixed order. */
YQ_CLONES static void softmax_row_f32(int64_t len, const float *x, float *y) {
    float m8[8];
    double s8[8];
    for (int k = 0; k < 8; k++) m8[k] = x[0];
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
        for (int k = 0; k < 8; k++) m8[k] = x[i + k] > m8[k] ? x[i + k] : m8[k];
    float mx = m8[0];
    for (int k = 1; k < 8; k++) mx = m8[k] > mx ? m8[k] : mx;
    for (; i < len; i++) mx = x[i] > mx ? x[i] : mx;
    YQ_IVDEP for (i = 0; i < len; i++) y[i] = yq_exp_nonpos_f32(x[i] - mx);
    for (int k = 0; k < 8; k++) s8[k] = 0;
    for (i = 0; i + 8 <= len; i += 8)
        for (int k = 0; k < 8; k++) s8[k] += y[i + k];
    double sum = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
    for (; i < len; i++) sum += y[i];
    const float s = (float)sum;
    YQ_IVDEP for (i = 0; i < len; i++) y[i] = y[i] / s;
}

/* A block of `w` <= SOFTMAX_COLS columns of a [len, inner] float32 slab,
 * reduced over len: the column loops are contiguous and vectorise. */
#define SOFTMAX_COLS 256
YQ_CLONES static void softmax_cols_f32(int64_t len, int64_t inner, int64_t w, const float *x, float *y) {
    float mx[SOFTMAX_COLS], sum[SOFTMAX_COLS];
    for (int64_t j = 0; j < w; j++) {
        mx[j] = x[j];
        sum[j] = 0;
    }
    for (int64_t k = 1; k < len; k++) {
        const float *xr = x + k * inner;
        for (int64_t j = 0; j < w; j++) mx[j] = xr[j] > mx[j] ? xr[j] : mx[j];
    }
    for (int64_t k = 0; k < len; k++) {
        const float *xr = x + k * inner;
        float *yr = y + k * inner;
        YQ_IVDEP for (int64_t j = 0; j < w; j++) {
            float e = yq_exp_nonpos_f32(xr[j] - mx[j]);
            yr[j] = e;
            sum[j] += e;
        }
    }
    for (int64_t k = 0; k < len; k++) {
        float *yr = y + k * inner;
        YQ_IVDEP for (int64_t j = 0; j < w; j++) yr[j] = yr[j] / sum[j];
    }
}

/* Generic strided line for double / float16 / bfloat16: three passes,
 * exp evaluated twice so nothing is written before the sum is known. */
#define DEF_SOFTMAX_LINE(NAME, T, CT, LD, ST, EXP)                                     \
    static void NAME(int64_t len, int64_t stride, const void *px, void *py) {          \
        const T *X = px;                                                               \
        T *Y = py;                                                                     \
        CT mx = LD(X[0]);                                                              \
        for (int64_t k = 1; k < len; k++) {                                            \
            CT v = LD(X[k * stride]);                                                  \
            mx = v > mx ? v : mx;                                                      \
        }                                                                              \
        double sum = 0;                                                                \
        for (int64_t k = 0; k < len; k++) sum += EXP(LD(X[k * stride]) - mx);          \
        const CT s = (CT)sum;                                                          \
        for (int64_t k = 0; k < len; k++) Y[k * stride] = ST(EXP(LD(X[k * stride]) - mx) / s); \
    }
DEF_SOFTMAX_LINE(softmax_line_f64, double, double, YQ_ID, YQ_ID, exp)
DEF_SOFTMAX_LINE(softmax_line_f16, uint16_t, float, yq_f16_to_f32, yq_f32_to_f16, expf)
DEF_SOFTMAX_LINE(softmax_line_bf16, uint16_t, float, yq_bf16_to_f32, yq_f32_to_bf16, expf)

typedef struct softmax_job {
    yq_dtype dt;
    int64_t outer, len, inner, nblk; /* nblk: column blocks per outer (inner > 1, float32) */
    const char *x;
    char *y;
    size_t es;
} softmax_job;

static void softmax_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const softmax_job *j = arg;
    const int64_t slab = j->len * j->inner;
    for (int64_t w = b; w < e; w++) {
        if (j->dt == YQ_DT_FLOAT) {
            if (j->inner == 1) {
                softmax_row_f32(j->len, (const float *)j->x + w * slab, (float *)j->y + w * slab);
            } else {
                int64_t o = w / j->nblk, c0 = (w % j->nblk) * SOFTMAX_COLS;
                int64_t cw = j->inner - c0 < SOFTMAX_COLS ? j->inner - c0 : SOFTMAX_COLS;
                softmax_cols_f32(j->len, j->inner, cw, (const float *)j->x + o * slab + c0,
                                 (float *)j->y + o * slab + c0);
            }
        } else {
            int64_t o = w / j->inner, i = w % j->inner;
            const char *xp = j->x + (o * slab + i) * (int64_t)j->es;
            char *yp = j->y + (o * slab + i) * (int64_t)j->es;
            if (j->dt == YQ_DT_DOUBLE) softmax_line_f64(j->len, j->inner, xp, yp);
            else if (j->dt == YQ_DT_FLOAT16) softmax_line_f16(j->len, j->inner, xp, yp);
            else softmax_line_bf16(j->len, j->inner, xp, yp);
        }
    }
}

static yq_status run_softmax(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    int axis;
    YQ_TRY(softmax_axis(c->node, c->opset, x->rank, &axis));
    softmax_job j = {.dt = x->dtype, .x = x->data, .y = c->out[0].data, .es = yq_dtype_size(x->dtype)};
    softmax_geometry(x, axis, c->opset, &j.outer, &j.len, &j.inner);
    if (j.outer == 0 || j.len == 0 || j.inner == 0) return YQ_OK;
    int64_t items, per_item;
    if (j.dt == YQ_DT_FLOAT && j.inner > 1) {
        j.nblk = (j.inner + SOFTMAX_COLS - 1) / SOFTMAX_COLS;
        items = j.outer * j.nblk;
        per_item = j.len * (j.inner < SOFTMAX_COLS ? j.inner : SOFTMAX_COLS);
    } else if (j.dt == YQ_DT_FLOAT) {
        items = j.outer;
        per_item = j.len;
    } else {
        items = j.outer * j.inner;
        per_item = j.len;
    }
    int64_t grain = ACT_GRAIN / (per_item > 0 ? per_item : 1);
    yq_parallel_for(c->pool, items, grain > 0 ? grain : 1, softmax_range, &j);
    return YQ_OK;
}

/* ---- Clip ----------------------------------------------------------------- */

typedef void (*clip_fn)(int64_t n, const void *x, void *y, const void *lo, const void *hi);

/* lo / hi point at one element of T, or are NULL for "no bound". */
#define DEF_CLIP(NAME, T, CT, LD, ST, LOWEST, HIGHEST)                                         \
    YQ_CLONES static void NAME(int64_t n, const void *px, void *py, const void *plo, const void *phi) { \
        const T *X = px;                                                                       \
        T *Y = py;                                                                             \
        const CT lo = plo ? LD(*(const T *)plo) : (LOWEST);                                    \
        const CT hi = phi ? LD(*(const T *)phi) : (HIGHEST);                                   \
        YQ_IVDEP for (int64_t i = 0; i < n; i++) {                                             \
            CT v = LD(X[i]);                                                                   \
            v = v < lo ? lo : v;                                                               \
            Y[i] = ST(v > hi ? hi : v);                                                        \
        }                                                                                      \
    }
DEF_CLIP(clip_f32, float, float, YQ_ID, YQ_ID, -INFINITY, INFINITY)
DEF_CLIP(clip_f64, double, double, YQ_ID, YQ_ID, -INFINITY, INFINITY)
DEF_CLIP(clip_f16, uint16_t, float, yq_f16_to_f32, yq_f32_to_f16, -INFINITY, INFINITY)
DEF_CLIP(clip_bf16, uint16_t, float, yq_bf16_to_f32, yq_f32_to_bf16, -INFINITY, INFINITY)
DEF_CLIP(clip_i8, int8_t, int8_t, YQ_ID, YQ_ID, INT8_MIN, INT8_MAX)
DEF_CLIP(clip_u8, uint8_t, uint8_t, YQ_ID, YQ_ID, 0, UINT8_MAX)
DEF_CLIP(clip_i16, int16_t, int16_t, YQ_ID, YQ_ID, INT16_MIN, INT16_MAX)
DEF_CLIP(clip_u16, uint16_t, uint16_t, YQ_ID, YQ_ID, 0, UINT16_MAX)
DEF_CLIP(clip_i32, int32_t, int32_t, YQ_ID, YQ_ID, INT32_MIN, INT32_MAX)
DEF_CLIP(clip_u32, uint32_t, uint32_t, YQ_ID, YQ_ID, 0, UINT32_MAX)
DEF_CLIP(clip_i64, int64_t, int64_t, YQ_ID, YQ_ID, INT64_MIN, INT64_MAX)
DEF_CLIP(clip_u64, uint64_t, uint64_t, YQ_ID, YQ_ID, 0, UINT64_MAX)

static clip_fn clip_kernel(yq_dtype dt) {
    switch (dt) {
    YQ_CASE_FLOAT(clip)
    case YQ_DT_INT8: return clip_i8;
    case YQ_DT_UINT8: return clip_u8;
    case YQ_DT_INT16: return clip_i16;
    case YQ_DT_UINT16: return clip_u16;
    case YQ_DT_INT32: return clip_i32;
    case YQ_DT_UINT32: return clip_u32;
    case YQ_DT_INT64: return clip_i64;
    case YQ_DT_UINT64: return clip_u64;
    default: return NULL;
    }
}

static yq_status infer_clip(yq_infer_ctx *c) {
    const int max_in = c->opset >= 11 ? 3 : 1;
    if (c->node->ninputs < 1 || c->node->ninputs > max_in)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects 1 to %d inputs at opset %lld, got %d", max_in,
                            (long long)c->opset, c->node->ninputs);
    YQ_TRY(need_output(c));
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    const yq_value *x = yq_in(c, 0);
    if (!clip_kernel(x->dtype) || (c->opset < 11 && !is_float_type(x->dtype)))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input '%s' has type %s, which Clip-%lld does not support",
                            x->name, yq_dtype_name(x->dtype), (long long)c->opset);
    for (int i = 1; i < c->node->ninputs; i++) {
        if (!yq_in(c, i)) continue;
        YQ_TRY(yq_need_input(c, i, x->dtype));
        int64_t k = yq_value_numel(yq_in(c, i));
        if (k != 1)
            return yq_node_fail(c, YQ_ERR_INVALID, "%s ('%s') must be a scalar, has %lld elements",
                                i == 1 ? "min" : "max", yq_in(c, i)->name, (long long)k);
    }
    yq_set_out(c, 0, x->dtype, x->rank, x->dims);
    return YQ_OK;
}

/* Store a float attribute bound as one element of float type dt. */
static void float_to_storage(yq_dtype dt, float v, void *dst) {
    switch (dt) {
    case YQ_DT_FLOAT: memcpy(dst, &v, 4); break;
    case YQ_DT_DOUBLE: { double d = v; memcpy(dst, &d, 8); break; }
    case YQ_DT_FLOAT16: { uint16_t h = yq_f32_to_f16(v); memcpy(dst, &h, 2); break; }
    case YQ_DT_BFLOAT16: { uint16_t h = yq_f32_to_bf16(v); memcpy(dst, &h, 2); break; }
    default: break;
    }
}

typedef struct clip_job {
    clip_fn fn;
    const char *x;
    char *y;
    size_t es;
    const void *lo, *hi;
} clip_job;

static void clip_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const clip_job *j = arg;
    j->fn(e - b, j->x + b * (int64_t)j->es, j->y + b * (int64_t)j->es, j->lo, j->hi);
}

static yq_status run_clip(yq_run_ctx *c) {
    const yq_tensor *x = &c->in[0];
    clip_job j = {.fn = clip_kernel(x->dtype), .x = x->data, .y = c->out[0].data, .es = yq_dtype_size(x->dtype)};
    if (!j.fn)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (Clip): no kernel for %s", c->node->name,
                       yq_dtype_name(x->dtype));
    _Alignas(8) unsigned char lo_buf[8], hi_buf[8];
    if (c->opset < 11) {
        /* Clip-6: attributes, defaulting to the float range */
        const yq_attr *amin = yq_node_attr(c->node, "min"), *amax = yq_node_attr(c->node, "max");
        if (amin) {
            float_to_storage(x->dtype, yq_attr_float(c->node, "min", -FLT_MAX), lo_buf);
            j.lo = lo_buf;
        }
        if (amax) {
            float_to_storage(x->dtype, yq_attr_float(c->node, "max", FLT_MAX), hi_buf);
            j.hi = hi_buf;
        }
    } else {
        const int has_min = c->nin > 1 && c->node->inputs[1] >= 0;
        const int has_max = c->nin > 2 && c->node->inputs[2] >= 0;
        if (has_min) j.lo = c->in[1].data;
        if (has_max) j.hi = c->in[2].data;
        if ((has_min && !j.lo) || (has_max && !j.hi))
            return yq_fail(YQ_ERR_INTERNAL, "node '%s' (Clip): bound input has no data", c->node->name);
    }
    yq_parallel_for(c->pool, yq_tensor_numel(x), ACT_GRAIN, clip_range, &j);
    return YQ_OK;
}

/* ---- registration ------------------------------------------------------------ */

void yq_register_activation_ops(yq_op_vtable *t) {
#define REG(OP, INFER, RUN) t[YQ_OP_##OP] = (yq_op_vtable){.infer = INFER, .run = RUN, .flops = yq_elt_flops_numel}
    REG(Sigmoid, infer_float_act, run_sigmoid);
    REG(Relu, infer_relu, run_relu);
    REG(LeakyRelu, infer_float_act, run_leaky);
    REG(HardSigmoid, infer_float_act, run_hsig);
    REG(HardSwish, infer_float_act, run_hswish);
    REG(Tanh, infer_float_act, run_tanh);
    REG(Softmax, infer_softmax, run_softmax);
    REG(Clip, infer_clip, run_clip);
#undef REG
}
