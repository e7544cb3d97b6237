/* MatMul (numpy semantics) and Gemm ops on top of yq_sgemm. Registered by
 * yq_register_conv_ops (conv.c), the family they belong to in rt/ops.h. */
#include <stdlib.h>
#include <string.h>

#include "rt/kernels/conv.h"
#include "rt/kernels/gemm.h"
#include "rt/ops.h"

/* ---- MatMul -------------------------------------------------------------- */
/* The numpy view of a MatMul: 1-D operands are promoted (A to [1,K], B to
 * [K,1]) and the promoted axis is dropped from the result; the batch axes
 * (all but the last two) broadcast. */
typedef struct matmul_geom {
    int64_t M, N, K;
    int brank; /* rank of the broadcast batch shape */
    int64_t batch[YQ_MAX_RANK];
    int64_t a_bstride[YQ_MAX_RANK], b_bstride[YQ_MAX_RANK]; /* element strides per batch axis (0: broadcast) */
    int64_t nbatch;
    int yrank;
    int64_t ydims[YQ_MAX_RANK];
} matmul_geom;

static yq_status matmul_geometry(const yq_node *n, int ar, const int64_t *ad, int br, const int64_t *bd,
                                 matmul_geom *g) {
    memset(g, 0, sizeof *g);
    const char *name = n->name ? n->name : "";
    if (ar < 1 || br < 1)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (MatMul): operands must have rank >= 1 (got %d and %d)", name, ar,
                       br);
    int64_t a2[YQ_MAX_RANK + 1], b2[YQ_MAX_RANK + 1];
    int ar2 = ar, br2 = br;
    if (ar == 1) {
        a2[0] = 1;
        a2[1] = ad[0];
        ar2 = 2;
    } else {
        memcpy(a2, ad, (size_t)ar * sizeof *ad);
    }
    if (br == 1) {
        b2[0] = bd[0];
        b2[1] = 1;
        br2 = 2;
    } else {
        memcpy(b2, bd, (size_t)br * sizeof *bd);
    }
    g->M = a2[ar2 - 2];
    g->K = a2[ar2 - 1];
    g->N = b2[br2 - 1];
    if (b2[br2 - 2] != g->K)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (MatMul): inner dimensions differ (%lld vs %lld)", name,
                       (long long)g->K, (long long)b2[br2 - 2]);
    int abr = ar2 - 2, bbr = br2 - 2;
    yq_status st = yq_broadcast_shape(abr, a2, bbr, b2, &g->brank, g->batch);
    if (st != YQ_OK) return yq_fail_prefix(st, "node '%s' (MatMul)", name);
    /* Strides of each operand over the broadcast batch shape. */
    int64_t as = g->M * g->K, bs = g->K * g->N;
    g->nbatch = 1;
    for (int i = g->brank - 1; i >= 0; i--) {
        int ai = i - (g->brank - abr), bi = i - (g->brank - bbr);
        int64_t adim = ai >= 0 ? a2[ai] : 1, bdim = bi >= 0 ? b2[bi] : 1;
        g->a_bstride[i] = adim == 1 ? 0 : as;
        g->b_bstride[i] = bdim == 1 ? 0 : bs;
        as *= adim;
        bs *= bdim;
        g->nbatch *= g->batch[i];
    }
    g->yrank = 0;
    for (int i = 0; i < g->brank; i++) g->ydims[g->yrank++] = g->batch[i];
    if (ar != 1) g->ydims[g->yrank++] = g->M;
    if (br != 1) g->ydims[g->yrank++] = g->N;
    if (g->yrank > YQ_MAX_RANK)
        return yq_fail(YQ_ERR_UNSUPPORTED, "node '%s' (MatMul): result rank %d is too large", name, g->yrank);
    return YQ_OK;
}

/* When B is shared by every batch (no batch axes of its own) and A's batches
 * are contiguous, the batches fold into one tall GEMM. */
static int matmul_folds(const matmul_geom *g) {
    for (int i = 0; i < g->brank; i++)
        if (g->b_bstride[i] != 0 || (g->batch[i] > 1 && g->a_bstride[i] == 0)) return 0;
    return 1;
}

static yq_status matmul_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    YQ_TRY(yq_need_input(c, 1, YQ_DT_UNDEFINED));
    const yq_value *a = yq_in(c, 0), *b = yq_in(c, 1);
    if (a->dtype != YQ_DT_FLOAT || b->dtype != YQ_DT_FLOAT)
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "operands are %s and %s; MatMul supports float32 only",
                            yq_dtype_name(a->dtype), yq_dtype_name(b->dtype));
    matmul_geom g;
    YQ_TRY(matmul_geometry(c->node, a->rank, a->dims, b->rank, b->dims, &g));
    yq_set_out(c, 0, YQ_DT_FLOAT, g.yrank, g.ydims);
    return YQ_OK;
}

static yq_status matmul_prepare(yq_prepare_ctx *c) {
    matmul_geom g;
    YQ_TRY(matmul_geometry(c->node, c->in[0].rank, c->in[0].dims, c->in[1].rank, c->in[1].dims, &g));
    int64_t m = matmul_folds(&g) ? g.M * g.nbatch : g.M;
    c->scratch_bytes = yq_sgemm_scratch_bytes(m, g.N, g.K, c->nthreads);
    return YQ_OK;
}

static yq_status matmul_run(yq_run_ctx *c) {
    matmul_geom g;
    YQ_TRY(matmul_geometry(c->node, c->in[0].rank, c->in[0].dims, c->in[1].rank, c->in[1].dims, &g));
    const float *A = c->in[0].data, *B = c->in[1].data;
    float *Y = c->out[0].data;
    if (matmul_folds(&g))
        return yq_sgemm(c->pool, 0, 0, g.M * g.nbatch, g.N, g.K, A, g.K, B, g.N, Y, g.N, 0, NULL, c->scratch);
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
        int64_t r = bi, aoff = 0, boff = 0;
        for (int i = g.brank - 1; i >= 0; i--) {
            int64_t idx = r % g.batch[i];
            r /= g.batch[i];
            aoff += idx * g.a_bstride[i];
            boff += idx * g.b_bstride[i];
        }
        YQ_TRY(yq_sgemm(c->pool, 0, 0, g.M, g.N, g.K, A + aoff, g.K, B + boff, g.N, Y + bi * g.M * g.N, g.N, 0,
                        NULL, c->scratch));
    }
    return YQ_OK;
}

static double matmul_flops(const yq_graph *gr, const yq_node *n) {
    if (n->ninputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return 0;
    const yq_value *a = &gr->values[n->inputs[0]], *b = &gr->values[n->inputs[1]];
    matmul_geom g;
    if (a->rank < 1 || b->rank < 1) return 0;
    if (matmul_geometry(n, a->rank, a->dims, b->rank, b->dims, &g) != YQ_OK) {
        return 0;
    }
    return 2.0 * (double)g.nbatch * (double)g.M * (double)g.N * (double)g.K;
}

/* ---- Gemm ---------------------------------------------------------------- */
typedef struct gemm_geom {
    int transA, transB;
    int64_t M, N, K;
    float alpha, beta;
    int has_c;
    int64_t c_rows, c_cols; /* C's shape as [rows, cols] with rows/cols in {1, M/N} */
} gemm_geom;

static yq_status gemm_geometry(const yq_node *n, const yq_tensor *a, const yq_tensor *b, const yq_tensor *cm,
                               gemm_geom *g) {
    const char *name = n->name ? n->name : "";
    memset(g, 0, sizeof *g);
    if (a->rank != 2 || b->rank != 2)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (Gemm): A and B must be 2-D (got rank %d and %d)", name, a->rank,
                       b->rank);
    g->transA = yq_attr_int(n, "transA", 0) != 0;
    g->transB = yq_attr_int(n, "transB", 0) != 0;
    g->alpha = yq_attr_float(n, "alpha", 1.0f);
    g->beta = yq_attr_float(n, "beta", 1.0f);
    g->M = g->transA ? a->dims[1] : a->dims[0];
    g->K = g->transA ? a->dims[0] : a->dims[1];
    int64_t kb = g->transB ? b->dims[1] : b->dims[0];
    g->N = g->transB ? b->dims[0] : b->dims[1];
    if (kb != g->K)
        return yq_fail(YQ_ERR_INVALID, "node '%s' (Gemm): inner dimensions differ (%lld vs %lld)", name,
                       (long long)g->K, (long long)kb);
    if (cm) {
        g->has_c = 1;
        if (cm->rank > 2)
            return yq_fail(YQ_ERR_INVALID, "node '%s' (Gemm): C has rank %d, expected <= 2", name, cm->rank);
        g->c_rows = cm->rank == 2 ? cm->dims[0] : 1;
        g->c_cols = cm->rank >= 1 ? cm->dims[cm->rank - 1] : 1;
        if ((g->c_rows != 1 && g->c_rows != g->M) || (g->c_cols != 1 && g->c_cols != g->N))
            return yq_fail(YQ_ERR_INVALID, "node '%s' (Gemm): C of shape [%lld,%lld] does not broadcast to [%lld,%lld]",
                           name, (long long)g->c_rows, (long long)g->c_cols, (long long)g->M, (long long)g->N);
    }
    return YQ_OK;
}

static yq_tensor value_shape(const yq_value *v) {
    yq_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = v->dtype;
    t.rank = v->rank < 0 ? 0 : v->rank;
    for (int d = 0; d < t.rank; d++) t.dims[d] = v->dims[d];
    return t;
}

static yq_status gemm_infer(yq_infer_ctx *c) {
    YQ_TRY(yq_need_input(c, 0, YQ_DT_UNDEFINED));
    YQ_TRY(yq_need_input(c, 1, YQ_DT_UNDEFINED));
    const yq_value *a = yq_in(c, 0), *b = yq_in(c, 1), *cm = yq_in(c, 2);
    if (cm) YQ_TRY(yq_need_input(c, 2, YQ_DT_UNDEFINED));
    if (a->dtype != YQ_DT_FLOAT || b->dtype != YQ_DT_FLOAT || (cm && cm->dtype != YQ_DT_FLOAT))
        return yq_node_fail(c, YQ_ERR_UNSUPPORTED, "Gemm supports float32 operands only (A is %s, B is %s)",
                            yq_dtype_name(a->dtype), yq_dtype_name(b->dtype));
    yq_tensor ta = value_shape(a), tb = value_shape(b), tc;
    if (cm) tc = value_shape(cm);
    gemm_geom g;
    YQ_TRY(gemm_geometry(c->node, &ta, &tb, cm ? &tc : NULL, &g));
    int64_t dims[2] = {g.M, g.N};
    yq_set_out(c, 0, YQ_DT_FLOAT, 2, dims);
    return YQ_OK;
}

static const yq_tensor *opt_input(const yq_tensor *in, int nin, const yq_node *n, int i) {
    return i < nin && n->inputs[i] >= 0 ? &in[i] : NULL;
}

static yq_status gemm_prepare(yq_prepare_ctx *c) {
    gemm_geom g;
    YQ_TRY(gemm_geometry(c->node, &c->in[0], &c->in[1], opt_input(c->in, c->nin, c->node, 2), &g));
    c->scratch_bytes = yq_sgemm_scratch_bytes(g.M, g.N, g.K, c->nthreads);
    return YQ_OK;
}

static yq_status gemm_run(yq_run_ctx *c) {
    const yq_tensor *cm = opt_input(c->in, c->nin, c->node, 2);
    gemm_geom g;
    YQ_TRY(gemm_geometry(c->node, &c->in[0], &c->in[1], cm, &g));
    const float *A = c->in[0].data, *B = c->in[1].data, *Cv = cm ? cm->data : NULL;
    float *Y = c->out[0].data;
    const int64_t lda = c->in[0].dims[1], ldb = c->in[1].dims[1];
    const int use_c = g.has_c && g.beta != 0.0f;
    if (g.alpha == 1.0f) {
        /* Y = beta*C first, then the product accumulates onto it. */
        if (use_c)
            for (int64_t i = 0; i < g.M; i++)
                for (int64_t j = 0; j < g.N; j++)
                    Y[i * g.N + j] = g.beta * Cv[(g.c_rows == 1 ? 0 : i) * g.c_cols + (g.c_cols == 1 ? 0 : j)];
        return yq_sgemm(c->pool, g.transA, g.transB, g.M, g.N, g.K, A, lda, B, ldb, Y, g.N, use_c, NULL,
                        c->scratch);
    }
    YQ_TRY(yq_sgemm(c->pool, g.transA, g.transB, g.M, g.N, g.K, A, lda, B, ldb, Y, g.N, 0, NULL, c->scratch));
    for (int64_t i = 0; i < g.M; i++)
        for (int64_t j = 0; j < g.N; j++) {
            float v = g.alpha * Y[i * g.N + j];
            if (use_c) v += g.beta * Cv[(g.c_rows == 1 ? 0 : i) * g.c_cols + (g.c_cols == 1 ? 0 : j)];
            Y[i * g.N + j] = v;
        }
    return YQ_OK;
}

static double gemm_flops(const yq_graph *gr, const yq_node *n) {
    if (n->ninputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return 0;
    yq_tensor ta = value_shape(&gr->values[n->inputs[0]]), tb = value_shape(&gr->values[n->inputs[1]]);
    gemm_geom g;
    if (gemm_geometry(n, &ta, &tb, NULL, &g) != YQ_OK) {
        return 0;
    }
    return 2.0 * (double)g.M * (double)g.N * (double)g.K;
}

void yq_register_matmul_ops(yq_op_vtable *table) {
    table[YQ_OP_MatMul] = (yq_op_vtable){matmul_infer, matmul_prepare, matmul_run, NULL, matmul_flops};
    table[YQ_OP_Gemm] = (yq_op_vtable){gemm_infer, gemm_prepare, gemm_run, NULL, gemm_flops};
}
