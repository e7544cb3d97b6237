/* QuantizeLinear / DequantizeLinear, opsets 10-21. See rt/ops.h for the op
 * table contract.
 *
 *   Q:  y = saturate(round_half_even(x / y_scale) + y_zero_point)
 *   DQ: y = (x - x_zero_point) * x_scale
 *
 * Both computed in float32 exactly as ONNX Runtime does, so results are
 * bit-identical: Q divides (never multiplies by a reciprocal), clamps the
 * quotient to [qmin - zp, qmax - zp], rounds half to even and adds the zero
 * point as an integer; a NaN quotient saturates to qmin like ORT's MLAS
 * kernels (which clamp with maxps/minps). DQ subtracts in integers, converts
 * once and multiplies. float16 / bfloat16 inputs and scales are widened to
 * float first; a float16 / bfloat16 DQ output is rounded from the float result.
 *
 * Scale layouts: per-tensor (scale has one element), per-axis (1-D scale of
 * length x.dims[axis], `axis` default 1, negative counts from the end) and,
 * from opset 21, blocked (`block_size` > 0: scale has x's rank, with
 * ceil(x.dims[axis] / block_size) along axis). Zero points have the scale's
 * shape; a missing one is 0, and Q's output type is then uint8, or
 * `output_dtype` (opset 21). Quantized types: int8, uint8, int16, uint16,
 * int4, uint4 (held unpacked, one per byte), and int32 for DQ input; float8
 * types are rejected as unsupported.
 *
 * Per-tensor is one vectorised loop over all elements, per-axis one loop per
 * (outer, channel) row when rows are long enough; blocked quantisation and
 * short per-axis rows go element by element through the same scalar formula. */
#include <math.h>
#include <string.h>

#include "rt/kernels/elt_common.h"

/* elements per parallel chunk (Q/DQ cost well under 1 ns per element) */
#define QDQ_GRAIN 65536
/* per-axis rows shorter than this take the element-wise path */
#define QDQ_MIN_ROW 16

static int qrange(yq_dtype dt, int32_t *qmin, int32_t *qmax) {
    switch (dt) {
    case YQ_DT_INT8: *qmin = -128; *qmax = 127; return 1;
    case YQ_DT_UINT8: *qmin = 0; *qmax = 255; return 1;
    case YQ_DT_INT16: *qmin = -32768; *qmax = 32767; return 1;
    case YQ_DT_UINT16: *qmin = 0; *qmax = 65535; return 1;
    case YQ_DT_INT4: *qmin = -8; *qmax = 7; return 1;
    case YQ_DT_UINT4: *qmin = 0; *qmax = 15; return 1;
    default: return 0;
    }
}

static int is_scale_type(yq_dtype dt) {
    return dt == YQ_DT_FLOAT || dt == YQ_DT_FLOAT16 || dt == YQ_DT_BFLOAT16;
}

static float load_scale(yq_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case YQ_DT_FLOAT16: return yq_f16_to_f32(((const uint16_t *)p)[i]);
    case YQ_DT_BFLOAT16: return yq_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

/* zero point i, or 0 when absent */
static int32_t load_zp(const yq_tensor *zp, int64_t i) {
    return (zp && zp->data) ? (int32_t)yq_elem_as_int64(zp->dtype, zp->data, i) : 0;
}

/* ---- geometry ----------------------------------------------------------------- */

enum { QG_TENSOR, QG_AXIS, QG_BLOCKED };

typedef struct qgeom {
    int kind;
    int axis;
    int64_t outer, axis_len, inner; /* x = [outer, axis_len, inner] around axis */
    int64_t block, nblocks;         /* QG_BLOCKED */
} qgeom;

static yq_status qdq_geometry(const yq_node *n, int64_t opset, const yq_tensor *x, const yq_tensor *s,
                              const yq_tensor *zp, qgeom *g) {
    char sx[160], ss[160], sz[160];
    memset(g, 0, sizeof *g);
    if (zp) {
        int same = zp->rank == s->rank;
        for (int d = 0; same && d < s->rank; d++) same = zp->dims[d] == s->dims[d];
        if (!same)
            return yq_fail(YQ_ERR_INVALID, "node '%s' (%s): zero point shape %s differs from scale shape %s",
                           n->name, n->op_type, yq_dims_str(zp->rank, zp->dims, sz, sizeof sz),
                           yq_dims_str(s->rank, s->dims, ss, sizeof ss));
    }
    int64_t block = opset >= 21 ? yq_attr_int(n, "block_size", 0) : 0;
    if (block < 0)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (%s): block_size %lld is negative", n->name, n->op_type,
                       (long long)block);
    if (block == 0 && yq_tensor_numel(s) == 1 && s->rank <= 1) {
        g->kind = QG_TENSOR;
        g->outer = 1;
        g->axis_len = 1;
        g->inner = yq_tensor_numel(x);
        return YQ_OK;
    }
    int64_t axis = yq_attr_int(n, "axis", 1);
    if (axis < -x->rank || axis >= x->rank)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (%s): axis %lld is out of range for input rank %d", n->name,
                       n->op_type, (long long)axis, x->rank);
    g->axis = (int)(axis < 0 ? axis + x->rank : axis);
    g->outer = yq_numel(g->axis, x->dims);
    g->axis_len = x->dims[g->axis];
    g->inner = yq_numel(x->rank - g->axis - 1, x->dims + g->axis + 1);
    if (block == 0) {
        if (s->rank != 1 || s->dims[0] != g->axis_len)
            return yq_fail(YQ_ERR_INVALID,
                           "node '%s' (%s): per-axis scale must be 1-D of length %lld (input %s, axis %d), got %s",
                           n->name, n->op_type, (long long)g->axis_len, yq_dims_str(x->rank, x->dims, sx, sizeof sx),
                           g->axis, yq_dims_str(s->rank, s->dims, ss, sizeof ss));
        g->kind = QG_AXIS;
        return YQ_OK;
    }
    g->kind = QG_BLOCKED;
    g->block = block;
    g->nblocks = (g->axis_len + block - 1) / block;
    int ok = s->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++) ok = s->dims[d] == (d == g->axis ? g->nblocks : x->dims[d]);
    if (!ok)
        return yq_fail(YQ_ERR_INVALID,
                       "node '%s' (%s): blocked scale (block_size %lld, axis %d) for input %s must have %lld along "
                       "the axis and match elsewhere, got %s",
                       n->name, n->op_type, (long long)block, g->axis, yq_dims_str(x->rank, x->dims, sx, sizeof sx),
                       (long long)g->nblocks, yq_dims_str(s->rank, s->dims, ss, sizeof ss));
    return YQ_OK;
}

/* index of the scale / zero point that element i of x uses */
static inline int64_t qparam_index(const qgeom *g, int64_t i) {
    if (g->kind == QG_TENSOR) return 0;
    int64_t j = i % g->inner, a = (i / g->inner) % g->axis_len;
    if (g->kind == QG_AXIS) return a;
    int64_t o = i / (g->inner * g->axis_len);
    return (o * g->nblocks + a / g->block) * g->inner + j;
}

/* ---- the scalar formulas (shared by every path) ----------------------------------- */

/* lo = qmin - zp, hi = qmax - zp (exact in float). */
static inline int32_t quantize_one(float x, float scale, float lo, float hi, int32_t zp) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting rounds half to even */
    float v = x / scale;
    v = v > lo ? v : lo; /* NaN -> lo */
    v = v < hi ? v : hi;
    v = (v + round_magic) - round_magic; /* |v| <= 2^17 here, well inside the trick's 2^22 */
    return (int32_t)v + zp;
}

/* The difference is exact in int64 and converted once; 8/16-bit inputs use
 * the int32 variant (same value, and it vectorises). */
static inline float dequantize_one(int64_t x, int32_t zp, float scale) { return (float)(x - zp) * scale; }
static inline float dequantize_one_narrow(int32_t x, int32_t zp, float scale) { return (float)(x - zp) * scale; }

/* ---- QuantizeLinear kernels ------------------------------------------------------- */

typedef void (*q_fn)(int64_t n, const void *x, void *y, float scale, int32_t zp, float lo, float hi);

#define DEF_Q(NAME, TX, LDX, TY)                                                                       \
    YQ_CLONES static void NAME(int64_t n, const void *px, void *py, float scale, int32_t zp, float lo, float hi) { \
        const TX *X = px;                                                                              \
        TY *Y = py;                                                                                    \
        YQ_IVDEP for (int64_t i = 0; i < n; i++) Y[i] = (TY)quantize_one(LDX(X[i]), scale, lo, hi, zp); \
    }
#define DEF_Q_ALL_OUT(SFX, TX, LDX)             \
    DEF_Q(q_##SFX##_i8, TX, LDX, int8_t)        \
    DEF_Q(q_##SFX##_u8, TX, LDX, uint8_t)       \
    DEF_Q(q_##SFX##_i16, TX, LDX, int16_t)      \
    DEF_Q(q_##SFX##_u16, TX, LDX, uint16_t)
static inline float i32_to_f32(int32_t v) { return (float)v; }
DEF_Q_ALL_OUT(f32, float, YQ_ID)
DEF_Q_ALL_OUT(f16, uint16_t, yq_f16_to_f32)
DEF_Q_ALL_OUT(bf16, uint16_t, yq_bf16_to_f32)
DEF_Q_ALL_OUT(i32, int32_t, i32_to_f32)

#define Q_CASES(SFX)                                    \
    switch (out) {                                      \
    case YQ_DT_INT8: case YQ_DT_INT4: return q_##SFX##_i8;  \
    case YQ_DT_UINT8: case YQ_DT_UINT4: return q_##SFX##_u8; \
    case YQ_DT_INT16: return q_##SFX##_i16;             \
    case YQ_DT_UINT16: return q_##SFX##_u16;            \
    default: return NULL;                               \
    }
static q_fn q_kernel(yq_dtype in, yq_dtype out) {
    switch (in) {
    case YQ_DT_FLOAT: Q_CASES(f32)
    case YQ_DT_FLOAT16: Q_CASES(f16)
    case YQ_DT_BFLOAT16: Q_CASES(bf16)
    case YQ_DT_INT32: Q_CASES(i32)
    default: return NULL;
    }
}

static float load_x_f32(yq_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case YQ_DT_FLOAT16: return yq_f16_to_f32(((const uint16_t *)p)[i]);
    case YQ_DT_BFLOAT16: return yq_bf16_to_f32(((const uint16_t *)p)[i]);
    case YQ_DT_INT32: return (float)((const int32_t *)p)[i];
    default: return ((const float *)p)[i];
    }
}

static void store_q(yq_dtype dt, void *p, int64_t i, int32_t v) {
    switch (dt) {
    case YQ_DT_INT8: case YQ_DT_INT4: ((int8_t *)p)[i] = (int8_t)v; break;
    case YQ_DT_UINT8: case YQ_DT_UINT4: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case YQ_DT_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case YQ_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    default: break;
    }
}

/* ---- DequantizeLinear kernels ---------------------------------------------------- */

typedef void (*dq_fn)(int64_t n, const void *x, void *y, float scale, int32_t zp);

#define DEF_DQ(NAME, TX, TY, STY, ONE)                                                    \
    YQ_CLONES static void NAME(int64_t n, const void *px, void *py, float scale, int32_t zp) {     \
        const TX *X = px;                                                                 \
        TY *Y = py;                                                                       \
        YQ_IVDEP for (int64_t i = 0; i < n; i++) Y[i] = STY(ONE(X[i], zp, scale));        \
    }
#define DEF_DQ_ALL_OUT(SFX, TX, ONE)                              \
    DEF_DQ(dq_##SFX##_f32, TX, float, YQ_ID, ONE)                    \
    DEF_DQ(dq_##SFX##_f16, TX, uint16_t, yq_f32_to_f16, ONE)      \
    DEF_DQ(dq_##SFX##_bf16, TX, uint16_t, yq_f32_to_bf16, ONE)
DEF_DQ_ALL_OUT(i8, int8_t, dequantize_one_narrow)
DEF_DQ_ALL_OUT(u8, uint8_t, dequantize_one_narrow)
DEF_DQ_ALL_OUT(i16, int16_t, dequantize_one_narrow)
DEF_DQ_ALL_OUT(u16, uint16_t, dequantize_one_narrow)
DEF_DQ_ALL_OUT(i32, int32_t, dequantize_one)

#define DQ_CASES(SFX)                              \
    switch (out) {                                 \
    case YQ_DT_FLOAT: return dq_##SFX##_f32;       \
    case YQ_DT_FLOAT16: return dq_##SFX##_f16;     \
    case YQ_DT_BFLOAT16: return dq_##SFX##_bf16;   \
    default: return NULL;                          \
    }
static dq_fn dq_kernel(yq_dtype in, yq_dtype out) {
    switch (in) {
    case YQ_DT_INT8: case YQ_DT_INT4: DQ_CASES(i8)
    case YQ_DT_UINT8: case YQ_DT_UINT4: DQ_CASES(u8)
    case YQ_DT_INT16: DQ_CASES(i16)
    case YQ_DT_UINT16: DQ_CASES(u16)
    case YQ_DT_INT32: DQ_CASES(i32)
    default: return NULL;
    }
}

static void store_dq(yq_dtype dt, void *p, int64_t i, float v) {
    switch (dt) {
    case YQ_DT_FLOAT16: ((uint16_t *)p)[i] = yq_f32_to_f16(v); break;
    case YQ_DT_BFLOAT16: ((uint16_t *)p)[i] = yq_f32_to_bf16(v); break;
    default: ((float *)p)[i] = v; break;
    }
}

/* ---- the shared driver -------------------------------------------------------------- */

typedef struct qdq_job {
    int quantize; /* 1: Q, 0: DQ */
    qgeom g;
    const yq_tensor *x, *scale, *zp; /* zp may be NULL */
    yq_tensor *y;
    int32_t qmin, qmax; /* Q */
    q_fn q;
    dq_fn dq;
    size_t xs, ys; /* element sizes */
    int rows;      /* 1: items are (outer, channel) rows; 0: items are elements */
} qdq_job;

/* One run of n elements that share scale index k (fast kernels). */
static void qdq_uniform(const qdq_job *j, int64_t first, int64_t n, int64_t k) {
    const char *x = (const char *)j->x->data + first * (int64_t)j->xs;
    char *y = (char *)j->y->data + first * (int64_t)j->ys;
    const float s = load_scale(j->scale->dtype, j->scale->data, k);
    const int32_t zp = load_zp(j->zp, k);
    if (j->quantize)
        j->q(n, x, y, s, zp, (float)(j->qmin - zp), (float)(j->qmax - zp));
    else
        j->dq(n, x, y, s, zp);
}

static void qdq_range(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const qdq_job *j = arg;
    if (j->g.kind == QG_TENSOR) {
        qdq_uniform(j, b, e - b, 0);
    } else if (j->rows) {
        for (int64_t r = b; r < e; r++) qdq_uniform(j, r * j->g.inner, j->g.inner, r % j->g.axis_len);
    } else {
        for (int64_t i = b; i < e; i++) {
            int64_t k = qparam_index(&j->g, i);
            float s = load_scale(j->scale->dtype, j->scale->data, k);
            int32_t zp = load_zp(j->zp, k);
            if (j->quantize) {
                float xv = load_x_f32(j->x->dtype, j->x->data, i);
                store_q(j->y->dtype, j->y->data, i,
                        quantize_one(xv, s, (float)(j->qmin - zp), (float)(j->qmax - zp), zp));
            } else {
                store_dq(j->y->dtype, j->y->data, i, dequantize_one(yq_elem_as_int64(j->x->dtype, j->x->data, i), zp, s));
            }
        }
    }
}

static yq_status run_qdq(yq_run_ctx *c, int quantize) {
    qdq_job j = {.quantize = quantize, .x = &c->in[0], .scale = &c->in[1], .y = &c->out[0]};
    if (c->nin > 2 && c->node->inputs[2] >= 0) j.zp = &c->in[2];
    if (j.zp && !j.zp->data)
        return yq_fail(YQ_ERR_INTERNAL, "node '%s' (%s): zero point has no data", c->node->name, c->node->op_type);
    YQ_TRY(qdq_geometry(c->node, c->opset, j.x, j.scale, j.zp, &j.g));
    j.xs = yq_dtype_size(j.x->dtype);
    j.ys = yq_dtype_size(j.y->dtype);
    if (quantize) {
        j.q = q_kernel(j.x->dtype, j.y->dtype);
        if (!j.q || !qrange(j.y->dtype, &j.qmin, &j.qmax))
            return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (QuantizeLinear): no kernel for %s -> %s", c->node->name,
                           yq_dtype_name(j.x->dtype), yq_dtype_name(j.y->dtype));
    } else {
        j.dq = dq_kernel(j.x->dtype, j.y->dtype);
        if (!j.dq)
            return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (DequantizeLinear): no kernel for %s -> %s", c->node->name,
                           yq_dtype_name(j.x->dtype), yq_dtype_name(j.y->dtype));
    }
    const int64_t n = yq_tensor_numel(j.x);
    if (n == 0) return YQ_OK;
    if (j.g.kind == QG_TENSOR) {
        yq_parallel_for(c->pool, n, QDQ_GRAIN, qdq_range, &j);
    } else if (j.g.kind == QG_AXIS && j.g.inner >= QDQ_MIN_ROW) {
        j.rows = 1;
        int64_t grain = QDQ_GRAIN / j.g.inner;
        yq_parallel_for(c->pool, j.g.outer * j.g.axis_len, grain > 0 ? grain : 1, qdq_range, &j);
    } else {
        yq_parallel_for(c->pool, n, QDQ_GRAIN, qdq_range, &j);
    }
    return YQ_OK;
}

static yq_status run_quantize(yq_run_ctx *c) { return run_qdq(c, 1); }
static yq_status run_dequantize(yq_run_ctx *c) { return run_qdq(c, 0); }

/* ---- infer ------------------------------------------------------------------------------ */

/* Common checks: arity, shapes known, scale type, geometry. */
static yq_status infer_common(yq_infer_ctx *c) {
    if (c->node->ninputs < 2 || c->node->ninputs > 3)
        return yq_node_fail(c, YQ_ERR_INVALID, "expects 2 or 3 inputs, got %d", c->node->ninputs);
    if (c->node->noutputs < 1 || c->node->outputs[0] < 0) return yq_node_fail(c, YQ_ERR_INVALID, "has no output");
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    YQ_TRY(yq_need_input(c, 1, YQ_DT_UNDEFINED));
    const yq_value *s = yq_in(c, 1), *zp = yq_in(c, 2);
    if (zp) YQ_TRY(yq_need_input(c, 2, YQ_DT_UNDEFINED));
    if (!is_scale_type(s->dtype))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "scale ('%s') has type %s; float, float16 or bfloat16 expected",
                            s->name, yq_dtype_name(s->dtype));
    yq_tensor xt = yq_value_tensor(yq_in(c, 0)), st = yq_value_tensor(s), zt;
    if (zp) zt = yq_value_tensor(zp);
    qgeom g;
    return qdq_geometry(c->node, c->opset, &xt, &st, zp ? &zt : NULL, &g);
}

static yq_status infer_quantize(yq_infer_ctx *c) {
    YQ_TRY(infer_common(c));
    const yq_value *x = yq_in(c, 0), *zp = yq_in(c, 2);
    if (!is_scale_type(x->dtype) && x->dtype != YQ_DT_INT32)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "input '%s' has type %s; float, float16, bfloat16 or int32 expected",
                            x->name, yq_dtype_name(x->dtype));
    int64_t odt = c->opset >= 21 ? yq_attr_int(c->node, "output_dtype", 0) : 0;
    yq_dtype out;
    if (zp) {
        out = zp->dtype;
        if (odt != 0 && odt != (int64_t)zp->dtype)
            return yq_node_fail(c, YQ_ERR_INVALID, "output_dtype %lld disagrees with the zero point type %s",
                                (long long)odt, yq_dtype_name(zp->dtype));
    } else {
        out = odt != 0 ? (yq_dtype)odt : YQ_DT_UINT8;
    }
    int32_t lo, hi;
    if (odt < 0 || odt >= YQ_DT_COUNT || !qrange(out, &lo, &hi))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "cannot quantize to %s (int8, uint8, int16, uint16, int4, uint4)",
                            (odt >= 0 && odt < YQ_DT_COUNT) ? yq_dtype_name(out) : "an unknown type");
    yq_set_out(c, 0, out, x->rank, x->dims);
    return YQ_OK;
}

static yq_status infer_dequantize(yq_infer_ctx *c) {
    YQ_TRY(infer_common(c));
    const yq_value *x = yq_in(c, 0), *s = yq_in(c, 1), *zp = yq_in(c, 2);
    int32_t lo, hi;
    if (!qrange(x->dtype, &lo, &hi) && x->dtype != YQ_DT_INT32)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED,
                            "cannot dequantize %s (int8, uint8, int16, uint16, int32, int4, uint4)",
                            yq_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return yq_node_fail(c, YQ_ERR_INVALID, "zero point ('%s') is %s but the input is %s", zp->name,
                            yq_dtype_name(zp->dtype), yq_dtype_name(x->dtype));
    yq_set_out(c, 0, s->dtype, x->rank, x->dims);
    return YQ_OK;
}

void yq_register_qdq_ops(yq_op_vtable *t) {
    t[YQ_OP_QuantizeLinear] = (yq_op_vtable){.infer = infer_quantize, .run = run_quantize, .flops = yq_elt_flops_numel};
    t[YQ_OP_DequantizeLinear] =
        (yq_op_vtable){.infer = infer_dequantize, .run = run_dequantize, .flops = yq_elt_flops_numel};
}
