#include "quant/qcdq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/node_eval.h"
#include "rt/ops.h"

/* ---- weights of a node ------------------------------------------------------ */

/* Default-domain op type test through the runtime's op table. */
static int is_op(const yq_node *n, yq_op op) { return yq_op_lookup(n->domain, n->op_type) == (int)op; }

/* Fills ref without setting an error message; returns a reason or NULL. */
static const char *weight_ref(const yq_graph *g, int node, yq_weight_ref *ref) {
    const yq_node *n = &g->nodes[node];
    memset(ref, 0, sizeof *ref);
    ref->node = node;
    ref->input = 1;
    ref->group = 1;
    int conv = is_op(n, YQ_OP_Conv), matmul = is_op(n, YQ_OP_MatMul), gemm = is_op(n, YQ_OP_Gemm);
    if (!conv && !matmul && !gemm) return "not a Conv, MatMul or Gemm";
    if (n->ninputs < 2 || n->inputs[1] < 0) return "has no weight input";
    const yq_value *w = &g->values[n->inputs[1]];
    if (!(w->flags & YQ_VAL_INIT) || !w->data) return "its weight is not a constant initializer";
    if (w->dtype != YQ_DT_FLOAT) return "its weight is not float";
    if (yq_value_numel(w) < 1) return "its weight is empty or has an unknown shape";
    ref->value = n->inputs[1];
    if (conv) {
        if (w->rank < 3) return "Conv weight of rank < 3";
        ref->rows = w->dims[0];
        ref->cols = yq_value_numel(w) / w->dims[0];
        ref->group = yq_attr_int(n, "group", 1);
    } else {
        if (w->rank != 2) return "weight is not a 2-D matrix";
        int trans_b = gemm && yq_attr_int(n, "transB", 0) != 0;
        ref->transposed = !trans_b; /* B [K, N] unless Gemm transB */
        ref->rows = trans_b ? w->dims[0] : w->dims[1];
        ref->cols = trans_b ? w->dims[1] : w->dims[0];
    }
    return NULL;
}

int yq_node_has_const_weight(const yq_graph *g, int node) {
    yq_weight_ref ref;
    return weight_ref(g, node, &ref) == NULL;
}

yq_status yq_weight_ref_get(const yq_graph *g, int node, yq_weight_ref *ref) {
    const char *why = weight_ref(g, node, ref);
    if (why)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (%s): %s", g->nodes[node].name, g->nodes[node].op_type, why);
    return YQ_OK;
}

yq_status yq_weight_matrix_read(const yq_graph *g, const yq_weight_ref *ref, float *w) {
    const float *src = g->values[ref->value].data;
    const int64_t R = ref->rows, K = ref->cols;
    if (!ref->transposed) {
        memcpy(w, src, (size_t)(R * K) * sizeof *w);
    } else {
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < R; r++) w[r * K + k] = src[k * R + r];
    }
    return YQ_OK;
}

/* ---- naming and small builders -------------------------------------------------- */

static int node_name_used(const yq_graph *g, const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return 1;
    return 0;
}

/* "<base>", "<base>_1", ... unused as a node name. */
static yq_status unique_node_name(const yq_graph *g, const char *base, char **out) {
    size_t n = strlen(base) + 24;
    char *s = yq_malloc(n);
    if (!s) return YQ_ERR_NOMEM;
    snprintf(s, n, "%s", base);
    for (long k = 1; node_name_used(g, s); k++) snprintf(s, n, "%s_%ld", base, k);
    *out = s;
    return YQ_OK;
}

static yq_status name2(const char *a, const char *b, char *buf, size_t size) {
    int len = snprintf(buf, size, "%s%s", a, b);
    if (len < 0 || (size_t)len >= size) return yq_fail(YQ_ERR_LIMIT, "value name '%s%s' is too long", a, b);
    return YQ_OK;
}

/* A new (non-constant) value named after base, with dtype and shape. */
static yq_status add_value(yq_graph *g, const char *base, yq_dtype dt, int rank, const int64_t *dims, int *id) {
    char *name;
    YQ_TRY(yq_graph_unique_name(g, base, &name));
    yq_status st = yq_graph_add_value(g, name, id);
    free(name);
    if (st != YQ_OK) return st;
    yq_value *v = &g->values[*id];
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank && d < YQ_MAX_RANK; d++) v->dims[d] = dims[d];
    return YQ_OK;
}

/* A node named uniquely after base; returns its index. */
static yq_status add_node(yq_graph *g, const char *op, const char *base, const int *in, int nin, int out, int *id) {
    char *name;
    YQ_TRY(unique_node_name(g, base, &name));
    yq_status st = yq_graph_add_node(g, op, "", name, in, nin, &out, 1, id);
    free(name);
    return st;
}

/* Store integer values v[0..n) as dtype dt (INT8/UINT8/INT4/UINT4/INT32). */
static yq_status add_int_init(yq_graph *g, const char *base, yq_dtype dt, int rank, const int64_t *dims,
                              const int32_t *v, int *id) {
    int64_t n = yq_numel(rank, dims);
    size_t nb;
    YQ_TRY(yq_dtype_bytes(dt, n, &nb));
    void *buf = yq_malloc(nb ? nb : 1);
    if (!buf) return YQ_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case YQ_DT_INT8:
        case YQ_DT_INT4: ((int8_t *)buf)[i] = (int8_t)v[i]; break;
        case YQ_DT_UINT8:
        case YQ_DT_UINT4: ((uint8_t *)buf)[i] = (uint8_t)v[i]; break;
        case YQ_DT_INT16: ((int16_t *)buf)[i] = (int16_t)v[i]; break;
        case YQ_DT_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v[i]; break;
        case YQ_DT_INT32: ((int32_t *)buf)[i] = v[i]; break;
        default: free(buf); return yq_fail(YQ_ERR_INTERNAL, "qcdq: integer initializer of type %s", yq_dtype_name(dt));
        }
    }
    yq_status st = yq_graph_add_initializer(g, base, dt, rank, dims, buf, id);
    free(buf);
    return st;
}

static yq_dtype storage_dtype(int bits, int is_signed, yq_qcdq_format fmt) {
    if (bits <= 4 && fmt == YQ_QCDQ_NATIVE) return is_signed ? YQ_DT_INT4 : YQ_DT_UINT4;
    if (bits <= 8) return is_signed ? YQ_DT_INT8 : YQ_DT_UINT8;
    return is_signed ? YQ_DT_INT16 : YQ_DT_UINT16;
}

/* ---- weights ------------------------------------------------------------------------ */

yq_status yq_qcdq_insert_weight(yq_graph *g, int node, const int8_t *q, const yq_qparams *qp,
                                yq_qcdq_format fmt, int *dq_node_out) {
    yq_weight_ref ref;
    YQ_TRY(yq_weight_ref_get(g, node, &ref));
    const char *nname = g->nodes[node].name;
    const int64_t R = ref.rows, K = ref.cols;
    if (!qp->is_signed || qp->bits < 2 || qp->bits > 8)
        return yq_fail(YQ_ERR_ARG, "node '%s': weights must use a signed 2..8-bit grid (got %s%d)", nname,
                       qp->is_signed ? "int" : "uint", qp->bits);
    if (fmt != YQ_QCDQ_CLIP && fmt != YQ_QCDQ_NATIVE) return yq_fail(YQ_ERR_ARG, "qcdq: unknown format %d", (int)fmt);
    const int blocked = qp->axis >= 0 && qp->block_size > 0;
    const int64_t ngroups = blocked ? (K + qp->block_size - 1) / qp->block_size : 1;
    if (qp->axis < 0) {
        if (qp->nch != 1) return yq_fail(YQ_ERR_ARG, "node '%s': per-tensor weight with %d scales", nname, qp->nch);
    } else if (!blocked) {
        if (qp->axis != 0 || qp->nch != R)
            return yq_fail(YQ_ERR_ARG, "node '%s': per-channel weight needs axis 0 and %lld scales (got axis %d, %d)",
                           nname, (long long)R, qp->axis, qp->nch);
    } else {
        if (qp->axis != 1 || qp->nch != R * ngroups)
            return yq_fail(YQ_ERR_ARG, "node '%s': group-wise weight needs axis 1 and %lld scales (got axis %d, %d)",
                           nname, (long long)(R * ngroups), qp->axis, qp->nch);
        if (fmt != YQ_QCDQ_NATIVE)
            return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s': group-wise weight scales need the native format "
                           "(blocked DequantizeLinear, opset 21)", nname);
    }
    const int32_t qmin = yq_qmin(qp->bits, 1, qp->narrow), qmax = yq_qmax(qp->bits, 1, qp->narrow);
    for (int i = 0; i < qp->nch; i++) {
        if (!isfinite(qp->scale[i]) || !(qp->scale[i] > 0))
            return yq_fail(YQ_ERR_ARG, "node '%s': weight scale %d is %g", nname, i, qp->scale[i]);
        if (qp->zero_point[i] < qmin || qp->zero_point[i] > qmax)
            return yq_fail(YQ_ERR_ARG, "node '%s': weight zero point %d is %d, outside [%d, %d]", nname, i,
                           qp->zero_point[i], qmin, qmax);
    }
    for (int64_t i = 0; i < R * K; i++)
        if (q[i] < qmin || q[i] > qmax)
            return yq_fail(YQ_ERR_ARG, "node '%s': integer weight %lld is %d, outside the %d-bit range [%d, %d]", nname,
                           (long long)i, q[i], qp->bits, qmin, qmax);

    const yq_dtype qdt = storage_dtype(qp->bits, 1, fmt);
    /* Copy what we need from the weight value: adding values may move g->values. */
    char *wname = yq_strdup(g->values[ref.value].name[0] ? g->values[ref.value].name : "weight");
    if (!wname) return YQ_ERR_NOMEM;
    const yq_value *wv = &g->values[ref.value];
    int wrank = wv->rank;
    int64_t wdims[YQ_MAX_RANK];
    memcpy(wdims, wv->dims, sizeof wdims);

    yq_status st = YQ_OK;
    char buf[1024];
    int32_t *tmp = yq_malloc((size_t)(R * K + qp->nch) * sizeof *tmp);
    if (!tmp) {
        free(wname);
        return YQ_ERR_NOMEM;
    }
    /* Integer weights in the initializer's layout. A blocked Conv weight is
     * stored as its 2-D [Cout, K] view (blocks run along K, which spans the
     * kernel axes) and reshaped back after dequantization. */
    int qrank = wrank;
    int64_t qdims[YQ_MAX_RANK];
    memcpy(qdims, wdims, sizeof qdims);
    if (blocked && !ref.transposed && wrank != 2) {
        qrank = 2;
        qdims[0] = R;
        qdims[1] = K;
    }
    if (ref.transposed)
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < R; r++) tmp[k * R + r] = q[r * K + k];
    else
        for (int64_t i = 0; i < R * K; i++) tmp[i] = q[i];
    int q_id, s_id, z_id, x_id, dq_out, dq_node;
    if ((st = name2(wname, "_quantized", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_int_init(g, buf, qdt, qrank, qdims, tmp, &q_id)) != YQ_OK) goto out;

    /* Scale / zero point, and the DequantizeLinear axis, in the initializer's
     * layout: output channels are axis 0, or axis 1 of a [K, Cout] matrix. */
    int srank, dq_axis = -1;
    int64_t sdims[2];
    float *sbuf = yq_malloc((size_t)qp->nch * sizeof *sbuf);
    if (!sbuf) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    if (qp->axis < 0) {
        srank = 0;
        sbuf[0] = qp->scale[0];
        tmp[0] = qp->zero_point[0];
    } else if (!blocked) {
        srank = 1;
        sdims[0] = R;
        dq_axis = ref.transposed ? 1 : 0;
        for (int i = 0; i < qp->nch; i++) {
            sbuf[i] = qp->scale[i];
            tmp[i] = qp->zero_point[i];
        }
    } else {
        srank = 2;
        if (!ref.transposed) { /* [Cout, K]: blocks along axis 1 */
            sdims[0] = R;
            sdims[1] = ngroups;
            dq_axis = 1;
            for (int i = 0; i < qp->nch; i++) {
                sbuf[i] = qp->scale[i];
                tmp[i] = qp->zero_point[i];
            }
        } else { /* [K, Cout]: blocks along axis 0, scales [ngroups, Cout] */
            sdims[0] = ngroups;
            sdims[1] = R;
            dq_axis = 0;
            for (int64_t r = 0; r < R; r++)
                for (int64_t gi = 0; gi < ngroups; gi++) {
                    sbuf[gi * R + r] = qp->scale[r * ngroups + gi];
                    tmp[gi * R + r] = qp->zero_point[r * ngroups + gi];
                }
        }
    }
    if ((st = name2(wname, "_scale", buf, sizeof buf)) == YQ_OK)
        st = yq_graph_add_initializer(g, buf, YQ_DT_FLOAT, srank, sdims, sbuf, &s_id);
    free(sbuf);
    if (st != YQ_OK) goto out;
    if ((st = name2(wname, "_zero_point", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_int_init(g, buf, qdt, srank, sdims, tmp, &z_id)) != YQ_OK) goto out;

    x_id = q_id;
    if (fmt == YQ_QCDQ_CLIP && qp->bits < 8) {
        /* Clip(int8) to the n-bit range: a no-op on these integers, kept as
         * the declaration of the bit width for consumers of the file. */
        int lo_id, hi_id, clip_out, clip_node;
        int32_t lo = qmin, hi = qmax;
        if ((st = name2(wname, "_clip_min", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_int_init(g, buf, qdt, 0, NULL, &lo, &lo_id)) != YQ_OK) goto out;
        if ((st = name2(wname, "_clip_max", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_int_init(g, buf, qdt, 0, NULL, &hi, &hi_id)) != YQ_OK) goto out;
        if ((st = name2(wname, "_clipped", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_value(g, buf, qdt, qrank, qdims, &clip_out)) != YQ_OK) goto out;
        int in[3] = {q_id, lo_id, hi_id};
        if ((st = name2(wname, "_Clip", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_node(g, "Clip", buf, in, 3, clip_out, &clip_node)) != YQ_OK) goto out;
        x_id = clip_out;
    }
    if ((st = name2(wname, "_dequantized", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_value(g, buf, YQ_DT_FLOAT, qrank, qdims, &dq_out)) != YQ_OK) goto out;
    {
        int in[3] = {x_id, s_id, z_id};
        if ((st = name2(wname, "_DequantizeLinear", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_node(g, "DequantizeLinear", buf, in, 3, dq_out, &dq_node)) != YQ_OK) goto out;
    }
    if (dq_axis >= 0 && (st = yq_node_set_attr_int(&g->nodes[dq_node], "axis", dq_axis)) != YQ_OK) goto out;
    if (blocked && (st = yq_node_set_attr_int(&g->nodes[dq_node], "block_size", qp->block_size)) != YQ_OK) goto out;
    int feed = dq_out;
    if (qrank != wrank) {
        int shape_id, resh_out, resh_node;
        int64_t sd = wrank;
        if ((st = name2(wname, "_shape", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = yq_graph_add_initializer(g, buf, YQ_DT_INT64, 1, &sd, wdims, &shape_id)) != YQ_OK) goto out;
        if ((st = name2(wname, "_reshaped", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_value(g, buf, YQ_DT_FLOAT, wrank, wdims, &resh_out)) != YQ_OK) goto out;
        int in[2] = {dq_out, shape_id};
        if ((st = name2(wname, "_Reshape", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_node(g, "Reshape", buf, in, 2, resh_out, &resh_node)) != YQ_OK) goto out;
        feed = resh_out;
    }
    /* Only this node switches to the dequantized weight: another node sharing
     * the float initializer keeps it. */
    g->nodes[node].inputs[ref.input] = feed;
    if (dq_node_out) *dq_node_out = dq_node;
out:
    if (st != YQ_OK) yq_fail_prefix(st, "node '%s'", nname);
    free(tmp);
    free(wname);
    return st;
}

/* ---- bias ----------------------------------------------------------------------------- */

yq_status yq_qcdq_insert_bias_int32(yq_graph *g, int node, float input_scale, const yq_qparams *w_qp) {
    yq_weight_ref ref;
    YQ_TRY(yq_weight_ref_get(g, node, &ref));
    const yq_node *n = &g->nodes[node];
    if (!is_op(n, YQ_OP_Conv) && !is_op(n, YQ_OP_Gemm))
        return yq_fail(YQ_ERR_ARG, "node '%s' (%s): only Conv and Gemm have a bias input", n->name, n->op_type);
    if (n->ninputs < 3 || n->inputs[2] < 0) return yq_fail(YQ_ERR_ARG, "node '%s' has no bias", n->name);
    const yq_value *bv = &g->values[n->inputs[2]];
    if (!(bv->flags & YQ_VAL_INIT) || !bv->data || bv->dtype != YQ_DT_FLOAT || yq_value_numel(bv) != ref.rows)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s': bias '%s' is not a constant float vector of %lld values",
                       n->name, bv->name, (long long)ref.rows);
    if (!isfinite(input_scale) || !(input_scale > 0))
        return yq_fail(YQ_ERR_ARG, "node '%s': input scale %g", n->name, input_scale);
    if (!((w_qp->axis < 0 && w_qp->nch == 1) || (w_qp->axis == 0 && w_qp->block_size == 0 && w_qp->nch == ref.rows)))
        return yq_fail(YQ_ERR_ARG, "node '%s': an INT32 bias needs per-tensor or per-channel weight scales", n->name);
    const int64_t R = ref.rows;
    float *scale = yq_malloc((size_t)R * sizeof *scale);
    int32_t *qb = yq_malloc((size_t)R * sizeof *qb), *zero = yq_calloc((size_t)R, sizeof *zero);
    char *bname = yq_strdup(bv->name[0] ? bv->name : "bias");
    yq_status st = YQ_OK;
    if (!scale || !qb || !zero || !bname) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    const float *b = bv->data;
    for (int64_t c = 0; c < R; c++) {
        float sw = w_qp->scale[w_qp->axis < 0 ? 0 : c];
        scale[c] = (float)((double)input_scale * (double)sw);
        if (!(scale[c] > 0) || !isfinite(scale[c])) {
            st = yq_fail(YQ_ERR_INVALID, "node '%s': bias scale of channel %lld is %g", n->name, (long long)c, scale[c]);
            goto out;
        }
        double v = nearbyint((double)b[c] / (double)scale[c]);
        if (v < INT32_MIN) v = INT32_MIN;
        if (v > INT32_MAX) v = INT32_MAX;
        qb[c] = (int32_t)v;
    }
    char buf[1024];
    int q_id, s_id, z_id, out_id, dq_node;
    int64_t dims[1] = {R};
    if ((st = name2(bname, "_quantized", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_int_init(g, buf, YQ_DT_INT32, 1, dims, qb, &q_id)) != YQ_OK) goto out;
    if ((st = name2(bname, "_scale", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = yq_graph_add_initializer(g, buf, YQ_DT_FLOAT, 1, dims, scale, &s_id)) != YQ_OK) goto out;
    if ((st = name2(bname, "_zero_point", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_int_init(g, buf, YQ_DT_INT32, 1, dims, zero, &z_id)) != YQ_OK) goto out;
    if ((st = name2(bname, "_dequantized", buf, sizeof buf)) != YQ_OK) goto out;
    if ((st = add_value(g, buf, YQ_DT_FLOAT, 1, dims, &out_id)) != YQ_OK) goto out;
    {
        int in[3] = {q_id, s_id, z_id};
        if ((st = name2(bname, "_DequantizeLinear", buf, sizeof buf)) != YQ_OK) goto out;
        if ((st = add_node(g, "DequantizeLinear", buf, in, 3, out_id, &dq_node)) != YQ_OK) goto out;
    }
    if ((st = yq_node_set_attr_int(&g->nodes[dq_node], "axis", 0)) != YQ_OK) goto out;
    g->nodes[node].inputs[2] = out_id;
out:
    free(scale);
    free(qb);
    free(zero);
    free(bname);
    return st;
}

/* ---- activations ------------------------------------------------------------------------ */

/* Is value id a constant scalar float equal (bitwise) to s? */
static int const_scale_equals(const yq_graph *g, int id, float s) {
    if (id < 0) return 0;
    const yq_value *v = &g->values[id];
    if (!v->data || v->dtype != YQ_DT_FLOAT || yq_value_numel(v) != 1) return 0;
    return memcmp(v->data, &s, sizeof s) == 0;
}

static int const_zp_equals(const yq_graph *g, int id, yq_dtype dt, int32_t z) {
    if (id < 0) return 0;
    const yq_value *v = &g->values[id];
    if (!v->data || v->dtype != dt || yq_value_numel(v) != 1) return 0;
    return yq_elem_as_int64(dt, v->data, 0) == z;
}

/* Output of an existing QuantizeLinear -> DequantizeLinear pair on value x
 * with these parameters, or -1. */
static int find_shared_pair(const yq_graph *g, int x, float s, yq_dtype zdt, int32_t z) {
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *qn = &g->nodes[i];
        if (qn->dead || !is_op(qn, YQ_OP_QuantizeLinear) || qn->ninputs < 3 || qn->inputs[0] != x) continue;
        if (!const_scale_equals(g, qn->inputs[1], s) || !const_zp_equals(g, qn->inputs[2], zdt, z)) continue;
        if (yq_node_attr(qn, "axis") && yq_attr_int(qn, "axis", 1) != 1) continue;
        int qout = qn->outputs[0];
        for (int j = 0; j < g->nnodes; j++) {
            const yq_node *dn = &g->nodes[j];
            if (dn->dead || !is_op(dn, YQ_OP_DequantizeLinear) || dn->ninputs < 3 || dn->inputs[0] != qout) continue;
            if (!const_scale_equals(g, dn->inputs[1], s) || !const_zp_equals(g, dn->inputs[2], zdt, z)) continue;
            return dn->outputs[0];
        }
    }
    return -1;
}

/* The float activation xv (node n's `role`, "input" or "output") and the
 * per-tensor 8/16-bit parameters of its pair, checked. */
static yq_status act_pair_params(const yq_node *n, const yq_value *xv, const char *role, const yq_qparams *qp, float *s,
                                 int32_t *z, yq_dtype *zdt) {
    if (xv->dtype != YQ_DT_FLOAT && xv->dtype != YQ_DT_UNDEFINED)
        return yq_fail(YQ_ERR_ARG, "node '%s' (%s): %s '%s' is %s, not float", n->name, n->op_type, role, xv->name,
                       yq_dtype_name(xv->dtype));
    if (qp->axis >= 0 || qp->nch != 1)
        return yq_fail(YQ_ERR_ARG, "node '%s': activation parameters must be per tensor", n->name);
    if (qp->bits != 8 && qp->bits != 16)
        return yq_fail(YQ_ERR_ARG, "node '%s': %d-bit activations (8 or 16)", n->name, qp->bits);
    *s = qp->scale[0];
    *z = qp->zero_point[0];
    const int32_t qmin = yq_qmin(qp->bits, qp->is_signed, 0), qmax = yq_qmax(qp->bits, qp->is_signed, 0);
    if (!isfinite(*s) || !(*s > 0)) return yq_fail(YQ_ERR_ARG, "node '%s': activation scale %g", n->name, *s);
    if (*z < qmin || *z > qmax)
        return yq_fail(YQ_ERR_ARG, "node '%s': activation zero point %d outside [%d, %d]", n->name, *z, qmin, qmax);
    *zdt = storage_dtype(qp->bits, qp->is_signed, YQ_QCDQ_CLIP);
    return YQ_OK;
}

/* x_in -> QuantizeLinear -> DequantizeLinear -> *dq_out, everything named
 * after base; *dq_out < 0 makes a new float value, otherwise the DQ writes
 * that (producer-less) value. */
static yq_status add_act_pair(yq_graph *g, const char *base, int rank, const int64_t *dims, float s, int32_t z,
                              yq_dtype zdt, int x_in, int *dq_out) {
    char buf[1024];
    int s_id, z_id, q_out, qn, dn;
    YQ_TRY(name2(base, "_scale", buf, sizeof buf));
    YQ_TRY(yq_graph_add_initializer(g, buf, YQ_DT_FLOAT, 0, NULL, &s, &s_id));
    YQ_TRY(name2(base, "_zero_point", buf, sizeof buf));
    YQ_TRY(add_int_init(g, buf, zdt, 0, NULL, &z, &z_id));
    YQ_TRY(name2(base, "_quantized", buf, sizeof buf));
    YQ_TRY(add_value(g, buf, zdt, rank, dims, &q_out));
    if (*dq_out < 0) {
        YQ_TRY(name2(base, "_dequantized", buf, sizeof buf));
        YQ_TRY(add_value(g, buf, YQ_DT_FLOAT, rank, dims, dq_out));
    }
    int in[3] = {x_in, s_id, z_id};
    YQ_TRY(name2(base, "_QuantizeLinear", buf, sizeof buf));
    YQ_TRY(add_node(g, "QuantizeLinear", buf, in, 3, q_out, &qn));
    in[0] = q_out;
    YQ_TRY(name2(base, "_DequantizeLinear", buf, sizeof buf));
    return add_node(g, "DequantizeLinear", buf, in, 3, *dq_out, &dn);
}

yq_status yq_qcdq_insert_activation(yq_graph *g, int node, int input, const yq_qparams *qp, int *shared_out) {
    if (shared_out) *shared_out = 0;
    if (node < 0 || node >= g->nnodes) return yq_fail(YQ_ERR_ARG, "qcdq: node %d does not exist", node);
    const yq_node *n = &g->nodes[node];
    if (input < 0 || input >= n->ninputs || n->inputs[input] < 0)
        return yq_fail(YQ_ERR_ARG, "node '%s' (%s) has no input %d", n->name, n->op_type, input);
    const int x = n->inputs[input];
    const yq_value *xv = &g->values[x];
    if ((xv->flags & YQ_VAL_INIT) || xv->data)
        return yq_fail(YQ_ERR_ARG, "node '%s' (%s): input %d ('%s') is a constant, not an activation", n->name,
                       n->op_type, input, xv->name);
    float s;
    int32_t z;
    yq_dtype zdt;
    YQ_TRY(act_pair_params(n, xv, "input", qp, &s, &z, &zdt));
    int reuse = find_shared_pair(g, x, s, zdt, z);
    if (reuse >= 0) {
        g->nodes[node].inputs[input] = reuse;
        if (shared_out) *shared_out = 1;
        return YQ_OK;
    }
    char *xname = yq_strdup(xv->name[0] ? xv->name : "activation");
    if (!xname) return YQ_ERR_NOMEM;
    int xrank = xv->rank;
    int64_t xdims[YQ_MAX_RANK];
    memcpy(xdims, xv->dims, sizeof xdims);
    int dq_out = -1;
    yq_status st = add_act_pair(g, xname, xrank, xdims, s, z, zdt, x, &dq_out);
    if (st == YQ_OK) g->nodes[node].inputs[input] = dq_out;
    free(xname);
    return st;
}

yq_status yq_qcdq_insert_output_activation(yq_graph *g, int node, int output, const yq_qparams *qp) {
    if (node < 0 || node >= g->nnodes) return yq_fail(YQ_ERR_ARG, "qcdq: node %d does not exist", node);
    const yq_node *n = &g->nodes[node];
    if (output < 0 || output >= n->noutputs || n->outputs[output] < 0)
        return yq_fail(YQ_ERR_ARG, "node '%s' (%s) has no output %d", n->name, n->op_type, output);
    const int x = n->outputs[output];
    const yq_value *xv = &g->values[x];
    float s;
    int32_t z;
    yq_dtype zdt;
    YQ_TRY(act_pair_params(n, xv, "output", qp, &s, &z, &zdt));
    char *xname = yq_strdup(xv->name[0] ? xv->name : "activation");
    if (!xname) return YQ_ERR_NOMEM;
    char buf[1024];
    int xrank = xv->rank, raw;
    int64_t xdims[YQ_MAX_RANK];
    memcpy(xdims, xv->dims, sizeof xdims);
    /* The node now writes a new value; the DQ writes the old one, so every
     * reader (and a graph output) keeps its value and name. */
    yq_status st = name2(xname, "_unquantized", buf, sizeof buf);
    if (st == YQ_OK) st = add_value(g, buf, YQ_DT_FLOAT, xrank, xdims, &raw);
    if (st == YQ_OK) {
        g->nodes[node].outputs[output] = raw;
        g->values[raw].producer = node;
        g->values[x].producer = -1;
        int dq_out = x;
        st = add_act_pair(g, xname, xrank, xdims, s, z, zdt, raw, &dq_out);
    }
    free(xname);
    return st;
}

/* ---- finishing ------------------------------------------------------------------------- */

/* Opset 18 moved the `axes` of the Reduce* operators (ReduceSum already at
 * 13) from an attribute to a second input: raising a graph's opset across 18
 * must move them too, or the node would reduce over every axis. */
static yq_status reduce_axes_to_input(yq_graph *g) {
    static const char *const ops[] = {"ReduceMax",  "ReduceMin",    "ReduceMean",      "ReduceProd",     "ReduceL1",
                                      "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    for (int i = 0; i < g->nnodes; i++) {
        yq_node *n = &g->nodes[i];
        if (n->dead || (n->domain && n->domain[0])) continue;
        int hit = 0;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) hit |= !strcmp(n->op_type, ops[k]);
        if (!hit) continue;
        int a = -1;
        for (int k = 0; k < n->nattrs; k++)
            if (!strcmp(n->attrs[k].name, "axes")) a = k;
        if (a < 0) continue; /* no axes: reduce over all, the same in both forms */
        const int64_t *axes;
        int count = yq_attr_ints(n, "axes", &axes);
        int64_t dims[1] = {count};
        int v;
        YQ_TRY(yq_graph_add_initializer(g, "reduce_axes", YQ_DT_INT64, 1, dims, axes, &v));
        n = &g->nodes[i]; /* the node array is stable, but re-read after graph edits */
        int *in = realloc(n->inputs, (size_t)(n->ninputs < 2 ? 2 : n->ninputs) * sizeof *in);
        if (!in) return yq_fail(YQ_ERR_NOMEM, "out of memory");
        n->inputs = in;
        if (n->ninputs < 2) n->ninputs = 2;
        n->inputs[1] = v;
        yq_attr_clear(&n->attrs[a]);
        memmove(&n->attrs[a], &n->attrs[a + 1], (size_t)(n->nattrs - a - 1) * sizeof *n->attrs);
        n->nattrs--;
    }
    return YQ_OK;
}

yq_status yq_qcdq_set_opset21(yq_graph *g) {
    if (yq_graph_opset(g, "") < 18) YQ_TRY(reduce_axes_to_input(g));
    if (yq_graph_opset(g, "") < 21) YQ_TRY(yq_graph_set_opset(g, "", 21));
    if (g->ir_version < 10) g->ir_version = 10;
    return YQ_OK;
}

static int needs_opset21(const yq_graph *g, const yq_node *n) {
    if (yq_node_attr(n, "block_size")) return 1;
    for (int k = 0; k < n->ninputs; k++) {
        if (n->inputs[k] < 0) continue;
        yq_dtype dt = g->values[n->inputs[k]].dtype;
        if (dt == YQ_DT_INT4 || dt == YQ_DT_UINT4 || dt == YQ_DT_INT16 || dt == YQ_DT_UINT16) return 1;
    }
    return 0;
}

/* ---- lowering to opset 13 ------------------------------------------------------------ */

/* Operators added to the default domain after opset 13. */
static const struct {
    const char *op;
    int since;
} new_ops[] = {
    {"Trilu", 14}, {"Bernoulli", 15}, {"CastLike", 15}, {"Optional", 15}, {"OptionalHasElement", 15},
    {"OptionalGetElement", 15}, {"GridSample", 16}, {"LayerNormalization", 17}, {"SequenceMap", 17},
    {"DFT", 17}, {"STFT", 17}, {"HannWindow", 17}, {"HammingWindow", 17}, {"BlackmanWindow", 17},
    {"MelWeightMatrix", 17}, {"BitwiseAnd", 18}, {"BitwiseOr", 18}, {"BitwiseXor", 18}, {"BitwiseNot", 18},
    {"CenterCropPad", 18}, {"Col2Im", 18}, {"GroupNormalization", 18}, {"Mish", 18}, {"DeformConv", 19},
    {"AffineGrid", 20}, {"Gelu", 20}, {"ImageDecoder", 20}, {"RegexFullMatch", 20}, {"StringConcat", 20},
    {"StringSplit", 20}, {"Attention", 23}, {"RMSNormalization", 23}, {"RotaryEmbedding", 23},
    {"TensorScatter", 23}, {"Swish", 24},
};

static int attr_index(const yq_node *n, const char *name) {
    for (int k = 0; k < n->nattrs; k++)
        if (!strcmp(n->attrs[k].name, name)) return k;
    return -1;
}

static void drop_attr(yq_node *n, const char *name) {
    int a = attr_index(n, name);
    if (a < 0) return;
    yq_attr_clear(&n->attrs[a]);
    memmove(&n->attrs[a], &n->attrs[a + 1], (size_t)(n->nattrs - a - 1) * sizeof *n->attrs);
    n->nattrs--;
}

/* Drop attribute `name` (added after 13) when it holds its default int value
 * def; any other value has no opset-13 equivalent. */
static const char *default_int_attr(yq_node *n, const char *name, int64_t def, int apply, const char *why) {
    if (attr_index(n, name) < 0) return NULL;
    if (yq_attr_int(n, name, def) != def) return why;
    if (apply) drop_attr(n, name);
    return NULL;
}

static const char *default_str_attr(yq_node *n, const char *name, const char *def, int apply, const char *why) {
    if (attr_index(n, name) < 0) return NULL;
    if (strcmp(yq_attr_string(n, name, def), def)) return why;
    if (apply) drop_attr(n, name);
    return NULL;
}

static int is_reduce_with_axes_input(const char *op) {
    static const char *const ops[] = {"ReduceMax",  "ReduceMin",    "ReduceMean",      "ReduceProd",     "ReduceL1",
                                      "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (!strcmp(op, ops[k])) return 1;
    return 0;
}

static int is_narrow_float(yq_dtype dt) {
    return dt == YQ_DT_INT4 || dt == YQ_DT_UINT4 || dt == YQ_DT_FLOAT8E4M3FN || dt == YQ_DT_FLOAT8E4M3FNUZ ||
           dt == YQ_DT_FLOAT8E5M2 || dt == YQ_DT_FLOAT8E5M2FNUZ;
}

/* Why node i (default domain) means something else at opset 13 than at the
 * graph's opset `from`, or NULL. With apply, rewrites it into its opset-13
 * form (drops attributes at their defaults, Reduce* axes input -> attribute);
 * only call apply after every node passed. */
static const char *lower_node(yq_graph *g, int i, int64_t from, int apply, yq_status *st) {
    yq_node *n = &g->nodes[i];
    const char *op = n->op_type;
    *st = YQ_OK;
    for (size_t k = 0; k < sizeof new_ops / sizeof new_ops[0]; k++)
        if (!strcmp(op, new_ops[k].op) && from >= new_ops[k].since) return "the operator does not exist at opset 13";
    for (int k = 0; k < n->nattrs; k++)
        if (n->attrs[k].type == YQ_ATTR_GRAPH || n->attrs[k].type == YQ_ATTR_GRAPHS || n->attrs[k].opaque)
            return "it has a subgraph or an attribute yoloq does not read";
    for (int k = 0; k < n->ninputs + n->noutputs; k++) {
        int v = k < n->ninputs ? n->inputs[k] : n->outputs[k - n->ninputs];
        if (v >= 0 && is_narrow_float(g->values[v].dtype)) return "it uses a 4-bit or float8 tensor (opset 19/21)";
    }
    const char *why = NULL;
    if (!strcmp(op, "Reshape")) {
        why = default_int_attr(n, "allowzero", 0, apply, "allowzero = 1 (opset 14)");
    } else if (!strcmp(op, "Shape")) {
        if (attr_index(n, "end") >= 0) return "start/end attributes (opset 15)";
        why = default_int_attr(n, "start", 0, apply, "start/end attributes (opset 15)");
    } else if (!strcmp(op, "BatchNormalization")) {
        why = default_int_attr(n, "training_mode", 0, apply, "training_mode = 1 (opset 14)");
    } else if (!strcmp(op, "GRU") || !strcmp(op, "LSTM") || !strcmp(op, "RNN")) {
        why = default_int_attr(n, "layout", 0, apply, "layout = 1 (opset 14)");
    } else if (!strcmp(op, "ScatterElements") || !strcmp(op, "ScatterND")) {
        why = default_str_attr(n, "reduction", "none", apply, "a reduction (opset 16/18)");
    } else if (!strcmp(op, "RoiAlign") && from >= 16) {
        /* the default coordinate_transformation_mode became half_pixel at 16 */
        if (strcmp(yq_attr_string(n, "coordinate_transformation_mode", "half_pixel"), "output_half_pixel"))
            return "coordinate_transformation_mode half_pixel (opset 16)";
        if (apply) drop_attr(n, "coordinate_transformation_mode");
    } else if (is_reduce_with_axes_input(op) && from >= 18) {
        if (yq_attr_int(n, "noop_with_empty_axes", 0)) return "noop_with_empty_axes = 1 (opset 18)";
        int ax = n->ninputs >= 2 ? n->inputs[1] : -1;
        if (ax >= 0 && (!g->values[ax].data || g->values[ax].dtype != YQ_DT_INT64))
            return "its axes are not a constant (opset 18 input)";
        if (apply) {
            drop_attr(n, "noop_with_empty_axes");
            if (ax >= 0) {
                const yq_value *av = &g->values[ax];
                if ((*st = yq_node_set_attr_ints(n, "axes", av->data, (int)yq_value_numel(av))) != YQ_OK) return NULL;
                n->ninputs = 1;
            }
        }
    } else if (!strcmp(op, "Split") && from >= 18) {
        if (attr_index(n, "num_outputs") >= 0) return "num_outputs (opset 18)";
    } else if (!strcmp(op, "Resize") && from >= 18) {
        if (!strcmp(yq_attr_string(n, "coordinate_transformation_mode", "half_pixel"), "half_pixel_symmetric"))
            return "coordinate_transformation_mode half_pixel_symmetric (opset 19)";
        if (attr_index(n, "axes") >= 0) return "axes (opset 18)";
        why = default_int_attr(n, "antialias", 0, apply, "antialias (opset 18)");
        if (!why) why = default_str_attr(n, "keep_aspect_ratio_policy", "stretch", apply, "keep_aspect_ratio_policy (opset 18)");
    } else if (!strcmp(op, "Pad") && from >= 18) {
        if (n->ninputs >= 4 && n->inputs[3] >= 0) return "axes input (opset 18)";
        if (!strcmp(yq_attr_string(n, "mode", "constant"), "wrap")) return "mode wrap (opset 19)";
    } else if ((!strcmp(op, "AveragePool") && from >= 19) || (!strcmp(op, "LpPool") && from >= 18)) {
        const int64_t *d;
        int nd = yq_attr_ints(n, "dilations", &d);
        for (int k = 0; k < nd; k++)
            if (d[k] != 1) return "dilations (opset 18/19)";
        if (!strcmp(op, "LpPool")) why = default_int_attr(n, "ceil_mode", 0, apply, "ceil_mode (opset 18)");
        if (!why && apply) drop_attr(n, "dilations");
    } else if (!strcmp(op, "Cast") || !strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear")) {
        /* saturate (19) only concerns float8, excluded above */
        if (yq_node_attr(n, "block_size") || yq_node_attr(n, "output_dtype") || yq_node_attr(n, "precision"))
            return "block_size / output_dtype / precision (opset 21+)";
        if (apply) drop_attr(n, "saturate");
    }
    return why;
}

/* Whether every default-domain node means the same at opset `to` as at the
 * graph's opset; if so (and apply) rewrite the nodes and set the opset. */
static yq_status lower_opset(yq_graph *g, int64_t to, yq_qcdq_opset_note *note) {
    const int64_t from = yq_graph_opset(g, "");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->nnodes; i++) {
            const yq_node *n = &g->nodes[i];
            if (n->dead || (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))) continue;
            yq_status st;
            const char *why = lower_node(g, i, from, pass == 1, &st);
            if (st != YQ_OK) return st;
            if (why && pass == 0) {
                if (note)
                    snprintf(note->reason, sizeof note->reason, "node '%s' (%s): %s", n->name, n->op_type, why);
                return YQ_OK;
            }
        }
    }
    YQ_TRY(yq_graph_set_opset(g, "", to));
    if (note) {
        note->opset = to;
        snprintf(note->reason, sizeof note->reason, "lowered from opset %lld: every operator means the same at %lld",
                 (long long)from, (long long)to);
    }
    return YQ_OK;
}

yq_status yq_qcdq_finalize_opset(yq_graph *g, yq_qcdq_opset_note *note) {
    yq_qcdq_opset_note local;
    if (!note) note = &local;
    memset(note, 0, sizeof *note);
    note->model_opset = yq_graph_opset(g, "");
    int need21 = 0;
    for (int i = 0; i < g->nnodes && !need21; i++) {
        const yq_node *n = &g->nodes[i];
        if (!n->dead && (is_op(n, YQ_OP_QuantizeLinear) || is_op(n, YQ_OP_DequantizeLinear))) need21 = needs_opset21(g, n);
    }
    if (need21) {
        YQ_TRY(yq_qcdq_set_opset21(g));
        snprintf(note->reason, sizeof note->reason, "4-bit / 16-bit types or blocked scales need opset 21");
    } else if (note->model_opset < 13) {
        YQ_TRY(yq_graph_set_opset(g, "", 13));
        snprintf(note->reason, sizeof note->reason, "raised from opset %lld: per-channel DequantizeLinear needs 13",
                 (long long)note->model_opset);
    } else if (note->model_opset > 13) {
        YQ_TRY(lower_opset(g, 13, note));
    } else {
        snprintf(note->reason, sizeof note->reason, "the model's opset");
    }
    note->opset = yq_graph_opset(g, "");
    YQ_TRY(yq_graph_toposort(g));
    return yq_graph_compact(g);
}

yq_status yq_qcdq_finalize(yq_graph *g) { return yq_qcdq_finalize_opset(g, NULL); }

void yq_qcdq_count(const yq_graph *g, yq_qcdq_counts *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) continue;
        c->nodes++;
        if (is_op(n, YQ_OP_QuantizeLinear)) c->quantize++;
        else if (is_op(n, YQ_OP_DequantizeLinear)) c->dequantize++;
        else if (is_op(n, YQ_OP_Clip)) c->clip++;
    }
}

static yq_status eval_node(void *arg, yq_graph *g, int node) { return yq_node_eval(g, node, arg); }

yq_status yq_qcdq_cleanup(yq_graph *g, yq_pool *pool, yq_cleanup_stats *stats) {
    yq_cleanup_opts o = {.eval = eval_node, .eval_arg = pool};
    return yq_pass_cleanup(g, &o, stats);
}
