/* MatMul (numpy semantics: batch broadcast, 1-D operands) and Gemm (transA,
 * transB, alpha, beta, C broadcast) through the op table and yq_node_eval,
 * against plain loops written here. Tolerance: |diff| <= 1e-4 * max|ref| + 1e-5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"
#include "testutil.h"

static uint64_t rng = 0xABCDEF0123456789ull;
static float rnd_f(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 32) % 2000001) / 1000000.0f - 1.0f;
}
static float *rnd_array(int64_t n) {
    float *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = rnd_f();
    return a;
}
static int64_t numel(int rank, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= d[i];
    return n;
}

static void expect_close(const float *got, const float *want, int64_t n) {
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs(want[i]));
        maxdiff = fmax(maxdiff, fabs((double)got[i] - want[i]));
    }
    if (!(maxdiff <= 1e-4 * maxref + 1e-5)) fail_msg("max diff %g (max ref %g)", maxdiff, maxref);
}

/* ---- MatMul -------------------------------------------------------------- */
static void check_matmul(int ar, const int64_t *ad, int br, const int64_t *bd, int yr, const int64_t *yd,
                         yq_pool *pool) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    float *A = rnd_array(numel(ar, ad)), *B = rnd_array(numel(br, bd));
    int ins[2], y, node;
    assert_int_equal(yq_graph_add_initializer(g, "a", YQ_DT_FLOAT, ar, ad, A, &ins[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, br, bd, B, &ins[1]), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "MatMul", "", "mm", ins, 2, &y, 1, &node), YQ_OK);
    if (yq_node_eval(g, node, pool) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *v = &g->values[y];
    assert_int_equal(v->rank, yr);
    for (int i = 0; i < yr; i++) assert_int_equal(v->dims[i], yd[i]);
    /* Reference: promote 1-D operands, broadcast batch axes by index arithmetic. */
    int64_t a2[8], b2[8];
    int ar2 = ar, br2 = br;
    if (ar == 1) {
        a2[0] = 1;
        a2[1] = ad[0];
        ar2 = 2;
    } else
        memcpy(a2, ad, (size_t)ar * sizeof *ad);
    if (br == 1) {
        b2[0] = bd[0];
        b2[1] = 1;
        br2 = 2;
    } else
        memcpy(b2, bd, (size_t)br * sizeof *bd);
    const int64_t M = a2[ar2 - 2], K = a2[ar2 - 1], N = b2[br2 - 1];
    const int batch_rank = (ar2 > br2 ? ar2 : br2) - 2;
    int64_t bdims[8], nb = 1;
    for (int i = 0; i < batch_rank; i++) {
        int ai = i - (batch_rank - (ar2 - 2)), bi = i - (batch_rank - (br2 - 2));
        int64_t da = ai >= 0 ? a2[ai] : 1, db = bi >= 0 ? b2[bi] : 1;
        bdims[i] = da > db ? da : db;
        nb *= bdims[i];
    }
    float *R = malloc((size_t)(nb * M * N) * sizeof *R);
    for (int64_t b = 0; b < nb; b++) {
        int64_t rem = b, aoff = 0, boff = 0, astride = M * K, bstride = K * N;
        for (int i = batch_rank - 1; i >= 0; i--) {
            int64_t idx = rem % bdims[i];
            rem /= bdims[i];
            int ai = i - (batch_rank - (ar2 - 2)), bi = i - (batch_rank - (br2 - 2));
            int64_t da = ai >= 0 ? a2[ai] : 1, db = bi >= 0 ? b2[bi] : 1;
            aoff += (da == 1 ? 0 : idx) * astride;
            boff += (db == 1 ? 0 : idx) * bstride;
            astride *= da;
            bstride *= db;
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += (double)A[aoff + i * K + k] * B[boff + k * N + j];
                R[(b * M + i) * N + j] = (float)s;
            }
    }
    assert_int_equal(numel(v->rank, v->dims), nb * M * N);
    expect_close(v->data, R, nb * M * N);
    const double fl = yq_op_get(YQ_OP_MatMul)->flops(g, &g->nodes[node]);
    assert_true(fabs(fl - 2.0 * (double)(nb * M * N * K)) < 0.5);
    free(A);
    free(B);
    free(R);
    yq_graph_free(g);
}

static void test_matmul_shapes(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    {
        const int64_t a[2] = {13, 40}, b[2] = {40, 17}, y[2] = {13, 17};
        check_matmul(2, a, 2, b, 2, y, pool);
    }
    { /* batched A, shared B: folds into one GEMM */
        const int64_t a[3] = {3, 7, 20}, b[2] = {20, 9}, y[3] = {3, 7, 9};
        check_matmul(3, a, 2, b, 3, y, pool);
    }
    { /* YOLOv10 attention shape */
        const int64_t a[4] = {1, 4, 400, 36}, b[4] = {1, 4, 36, 400}, y[4] = {1, 4, 400, 400};
        check_matmul(4, a, 4, b, 4, y, pool);
    }
    { /* broadcast both ways */
        const int64_t a[4] = {2, 1, 5, 6}, b[3] = {3, 6, 4}, y[4] = {2, 3, 5, 4};
        check_matmul(4, a, 3, b, 4, y, pool);
    }
    { /* 1-D x 2-D, 2-D x 1-D, 1-D x 1-D, 1-D x batched */
        const int64_t v[1] = {6}, m[2] = {6, 5}, y1[1] = {5};
        check_matmul(1, v, 2, m, 1, y1, pool);
        const int64_t m2[2] = {4, 6}, y2[1] = {4};
        check_matmul(2, m2, 1, v, 1, y2, pool);
        check_matmul(1, v, 1, v, 0, NULL, pool);
        const int64_t m3[3] = {2, 6, 3}, y3[2] = {2, 3};
        check_matmul(1, v, 3, m3, 2, y3, pool);
    }
    yq_pool_free(pool);
}

static void test_matmul_errors(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    const int64_t a[2] = {3, 4}, b[2] = {5, 6}, c[3] = {2, 4, 6}, d[3] = {3, 6, 2};
    float buf[64] = {0};
    int ab[2], cd[2], y, y2, n1, n2;
    assert_int_equal(yq_graph_add_initializer(g, "a", YQ_DT_FLOAT, 2, a, buf, &ab[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, 2, b, buf, &ab[1]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "c", YQ_DT_FLOAT, 3, c, buf, &cd[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "d", YQ_DT_FLOAT, 3, d, buf, &cd[1]), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y2", &y2), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "MatMul", "", "mm_bad_k", ab, 2, &y, 1, &n1), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "MatMul", "", "mm_bad_batch", cd, 2, &y2, 1, &n2), YQ_OK);
    assert_int_equal(yq_node_infer(g, n1), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "mm_bad_k"));
    assert_non_null(strstr(yq_last_error(), "inner dimensions"));
    assert_int_equal(yq_node_infer(g, n2), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "mm_bad_batch"));
    yq_graph_free(g);
}

/* ---- Gemm ---------------------------------------------------------------- */
static void check_gemm(int transA, int transB, float alpha, float beta, int64_t M, int64_t N, int64_t K, int crank,
                       const int64_t *cdims, yq_pool *pool) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    const int64_t ad[2] = {transA ? K : M, transA ? M : K}, bd[2] = {transB ? N : K, transB ? K : N};
    float *A = rnd_array(M * K), *B = rnd_array(K * N), *C = rnd_array(crank >= 0 ? numel(crank, cdims) : 0);
    int ins[3], y, node;
    assert_int_equal(yq_graph_add_initializer(g, "a", YQ_DT_FLOAT, 2, ad, A, &ins[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, 2, bd, B, &ins[1]), YQ_OK);
    if (crank >= 0) assert_int_equal(yq_graph_add_initializer(g, "c", YQ_DT_FLOAT, crank, cdims, C, &ins[2]), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Gemm", "", "gemm", ins, crank >= 0 ? 3 : 2, &y, 1, &node), YQ_OK);
    yq_node *n = &g->nodes[node];
    assert_int_equal(yq_node_set_attr_int(n, "transA", transA), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(n, "transB", transB), YQ_OK);
    assert_int_equal(yq_node_set_attr_float(n, "alpha", alpha), YQ_OK);
    assert_int_equal(yq_node_set_attr_float(n, "beta", beta), YQ_OK);
    if (yq_node_eval(g, node, pool) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *v = &g->values[y];
    assert_int_equal(v->rank, 2);
    assert_int_equal(v->dims[0], M);
    assert_int_equal(v->dims[1], N);
    float *R = malloc((size_t)(M * N) * sizeof *R);
    const int64_t cr = crank == 2 ? cdims[0] : 1, cc = crank >= 1 ? cdims[crank - 1] : 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(transA ? A[k * M + i] : A[i * K + k]) * (transB ? B[j * K + k] : B[k * N + j]);
            double c = crank >= 0 ? C[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)] : 0.0;
            R[i * N + j] = (float)(alpha * s + beta * c);
        }
    expect_close(v->data, R, M * N);
    assert_true(fabs(yq_op_get(YQ_OP_Gemm)->flops(g, n) - 2.0 * (double)(M * N * K)) < 0.5);
    free(A);
    free(B);
    free(C);
    free(R);
    yq_graph_free(g);
}

static void test_gemm_variants(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    const int64_t cmn[2] = {23, 31}, cn[1] = {31}, cm1[2] = {23, 1}, c1n[2] = {1, 31};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(ta, tb, 1.0f, 1.0f, 23, 31, 47, 2, cmn, pool);
            check_gemm(ta, tb, 0.5f, -2.0f, 23, 31, 47, 1, cn, pool);
        }
    check_gemm(0, 1, 1.0f, 1.0f, 23, 31, 47, -1, NULL, pool); /* no C */
    check_gemm(0, 0, 2.0f, 0.0f, 23, 31, 47, 2, cmn, NULL);   /* beta 0 ignores C */
    check_gemm(1, 0, 1.0f, 3.0f, 23, 31, 47, 2, cm1, pool);
    check_gemm(0, 0, -1.0f, 1.0f, 23, 31, 47, 2, c1n, pool);
    check_gemm(0, 0, 1.0f, 1.0f, 23, 31, 47, 0, NULL, pool); /* scalar C */
    yq_pool_free(pool);
}

static void test_gemm_errors(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    const int64_t a[2] = {3, 4}, b[2] = {4, 5}, cbad[2] = {2, 5};
    float buf[64] = {0};
    int ins[3], y, node;
    assert_int_equal(yq_graph_add_initializer(g, "a", YQ_DT_FLOAT, 2, a, buf, &ins[0]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "b", YQ_DT_FLOAT, 2, b, buf, &ins[1]), YQ_OK);
    assert_int_equal(yq_graph_add_initializer(g, "c", YQ_DT_FLOAT, 2, cbad, buf, &ins[2]), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "Gemm", "", "gemm_bad_c", ins, 3, &y, 1, &node), YQ_OK);
    assert_int_equal(yq_node_infer(g, node), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "gemm_bad_c"));
    assert_non_null(strstr(yq_last_error(), "broadcast"));
    assert_int_equal(yq_node_set_attr_int(&g->nodes[node], "transB", 1), YQ_OK); /* now K differs */
    assert_int_equal(yq_node_infer(g, node), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "inner dimensions"));
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_matmul_errors),
        cmocka_unit_test(test_gemm_variants),
        cmocka_unit_test(test_gemm_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
