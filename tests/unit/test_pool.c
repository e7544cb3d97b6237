/* MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool through the op
 * table: random 1-D/2-D/3-D geometries (strides, asymmetric pads, dilations,
 * ceil_mode, count_include_pad, auto_pad) against a direct window loop written
 * here; the Indices output; hand-computed output sizes; int8 MaxPool; clean
 * errors. Tolerance: AveragePool |diff| <= 1e-5 * max|ref| + 1e-6, MaxPool
 * exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"
#include "testutil.h"

#define YQT_RNG_SEED 0x5EED5EED5EED5EEDull
#include "kernel_testkit.h"
static int64_t numel(int rank, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= d[i];
    return n;
}

typedef struct pool_spec {
    int is_max, nd;
    int64_t N, C, in[3], k[3], s[3], d[3], pads[6];
    int ceil_mode, count_include_pad, storage_order, with_indices;
    const char *auto_pad;
} pool_spec;

/* Output size, written out plainly from the ONNX/ORT definitions. */
static int64_t out_size(const pool_spec *p, int i) {
    const int64_t span = (p->k[i] - 1) * p->d[i] + 1, padded = p->in[i] + p->pads[i] + p->pads[p->nd + i];
    if (p->ceil_mode) {
        int64_t o = (int64_t)ceil((double)(padded - span) / (double)p->s[i]) + 1;
        if ((o - 1) * p->s[i] >= p->in[i] + p->pads[i]) o--;
        return o;
    }
    return (padded - span) / p->s[i] + 1;
}

/* Direct window loop. Returns values and (for max) flat argmax indices. */
static void naive_pool(const pool_spec *p, const int64_t *out, const float *X, float *Y, int64_t *I) {
    int64_t osz = numel(p->nd, out), isz = numel(p->nd, p->in);
    for (int64_t pl = 0; pl < p->N * p->C; pl++)
        for (int64_t o = 0; o < osz; o++) {
            int64_t op[3] = {0}, r = o;
            for (int i = p->nd - 1; i >= 0; i--) {
                op[i] = r % out[i];
                r /= out[i];
            }
            float best = -INFINITY;
            int64_t bi = -1, cnt = 0;
            double sum = 0;
            const int64_t k0 = p->k[0], k1 = p->nd > 1 ? p->k[1] : 1, k2 = p->nd > 2 ? p->k[2] : 1;
            for (int64_t a = 0; a < k0; a++)
                for (int64_t b = 0; b < k1; b++)
                    for (int64_t c = 0; c < k2; c++) {
                        const int64_t kk[3] = {a, b, c};
                        int64_t pos[3];
                        int inside = 1, inpad = 1;
                        for (int i = 0; i < p->nd; i++) {
                            pos[i] = op[i] * p->s[i] - p->pads[i] + kk[i] * p->d[i];
                            if (pos[i] < 0 || pos[i] >= p->in[i]) inside = 0;
                            if (pos[i] < -p->pads[i] || pos[i] >= p->in[i] + p->pads[p->nd + i]) inpad = 0;
                        }
                        if (!inside) {
                            if (inpad && p->count_include_pad) cnt++;
                            continue;
                        }
                        int64_t off = 0, coff = 0, st = 1;
                        for (int i = 0; i < p->nd; i++) off = off * p->in[i] + pos[i];
                        for (int i = 0; i < p->nd; i++) {
                            coff += pos[i] * st;
                            st *= p->in[i];
                        }
                        const float v = X[pl * isz + off];
                        if (v > best) {
                            best = v;
                            bi = pl * isz + (p->storage_order ? coff : off);
                        }
                        sum += v;
                        cnt++;
                    }
            Y[pl * osz + o] = p->is_max ? best : (cnt ? (float)(sum / (double)cnt) : 0.0f);
            if (I) I[pl * osz + o] = bi;
        }
}

typedef struct pool_graph {
    yq_graph *g;
    int node, y, yi;
} pool_graph;

static pool_graph make_pool(const pool_spec *p, yq_dtype dt, const void *X) {
    pool_graph pg;
    assert_int_equal(yq_graph_new(&pg.g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(pg.g, "", 19), YQ_OK);
    int64_t xd[5] = {p->N, p->C};
    for (int i = 0; i < p->nd; i++) xd[2 + i] = p->in[i];
    int x, outs[2];
    assert_int_equal(yq_graph_add_initializer(pg.g, "x", dt, p->nd + 2, xd, X, &x), YQ_OK);
    assert_int_equal(yq_graph_add_value(pg.g, "y", &pg.y), YQ_OK);
    assert_int_equal(yq_graph_add_value(pg.g, "yi", &pg.yi), YQ_OK);
    outs[0] = pg.y;
    outs[1] = pg.yi;
    assert_int_equal(yq_graph_add_node(pg.g, p->is_max ? "MaxPool" : "AveragePool", "", "pool0", &x, 1, outs,
                                       p->with_indices ? 2 : 1, &pg.node),
                     YQ_OK);
    yq_node *n = &pg.g->nodes[pg.node];
    assert_int_equal(yq_node_set_attr_ints(n, "kernel_shape", p->k, p->nd), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "strides", p->s, p->nd), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(n, "dilations", p->d, p->nd), YQ_OK);
    if (p->auto_pad)
        assert_int_equal(yq_node_set_attr_string(n, "auto_pad", p->auto_pad), YQ_OK);
    else
        assert_int_equal(yq_node_set_attr_ints(n, "pads", p->pads, 2 * p->nd), YQ_OK);
    assert_int_equal(yq_node_set_attr_int(n, "ceil_mode", p->ceil_mode), YQ_OK);
    if (p->is_max)
        assert_int_equal(yq_node_set_attr_int(n, "storage_order", p->storage_order), YQ_OK);
    else
        assert_int_equal(yq_node_set_attr_int(n, "count_include_pad", p->count_include_pad), YQ_OK);
    return pg;
}

/* Evaluate and compare; `p->pads` must hold the pads the op should use. */
static void check_pool(const pool_spec *p, yq_pool *pool) {
    int64_t xd[5] = {p->N, p->C}, out[3];
    for (int i = 0; i < p->nd; i++) {
        xd[2 + i] = p->in[i];
        out[i] = out_size(p, i);
    }
    const int64_t nx = numel(p->nd + 2, xd), ny = p->N * p->C * numel(p->nd, out);
    float *X = malloc((size_t)nx * sizeof *X), *R = malloc((size_t)ny * sizeof *R);
    /* Values from a small set so that MaxPool sees ties (argmax: first in window order). */
    for (int64_t i = 0; i < nx; i++) X[i] = (float)rnd_int(-20, 20) * 0.25f;
    int64_t *RI = malloc((size_t)ny * sizeof *RI);
    naive_pool(p, out, X, R, RI);
    pool_graph pg = make_pool(p, YQ_DT_FLOAT, X);
    if (yq_node_eval(pg.g, pg.node, pool) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_value *y = &pg.g->values[pg.y];
    assert_int_equal(y->rank, p->nd + 2);
    for (int i = 0; i < p->nd; i++) assert_int_equal(y->dims[2 + i], out[i]);
    const float *Y = y->data;
    double maxref = 0;
    for (int64_t i = 0; i < ny; i++) maxref = fmax(maxref, fabs(R[i]));
    for (int64_t i = 0; i < ny; i++) {
        const int ok = p->is_max ? (Y[i] == R[i]) : fabs((double)Y[i] - R[i]) <= 1e-5 * maxref + 1e-6;
        if (!ok)
            fail_msg("%s nd %d at %lld: got %g want %g", p->is_max ? "MaxPool" : "AveragePool", p->nd, (long long)i,
                     Y[i], R[i]);
    }
    if (p->with_indices) {
        const yq_value *yi = &pg.g->values[pg.yi];
        assert_int_equal(yi->dtype, YQ_DT_INT64);
        assert_memory_equal(yi->data, RI, (size_t)ny * sizeof *RI);
    }
    free(X);
    free(R);
    free(RI);
    yq_graph_free(pg.g);
}

static pool_spec random_spec(int nd, int is_max) {
    for (;;) {
        pool_spec p = {.is_max = is_max, .nd = nd, .N = rnd_int(1, 2), .C = rnd_int(1, 5),
                       .ceil_mode = rnd_int(0, 1), .count_include_pad = rnd_int(0, 1)};
        for (int i = 0; i < nd; i++) {
            p.in[i] = rnd_int(1, nd == 3 ? 7 : 19);
            p.k[i] = rnd_int(1, 5);
            p.s[i] = rnd_int(1, 3);
            p.d[i] = rnd_int(0, 3) == 0 ? 2 : 1;
            p.pads[i] = rnd_int(0, 2);
            p.pads[nd + i] = rnd_int(0, 2);
            /* ONNX requires pads smaller than the kernel. */
            if (p.pads[i] >= p.k[i]) p.pads[i] = p.k[i] - 1;
            if (p.pads[nd + i] >= p.k[i]) p.pads[nd + i] = p.k[i] - 1;
        }
        int ok = 1;
        for (int i = 0; i < nd; i++)
            if (p.in[i] + p.pads[i] + p.pads[nd + i] < (p.k[i] - 1) * p.d[i] + 1 || out_size(&p, i) < 1) ok = 0;
        if (ok) return p;
    }
}

static void test_pool_random(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    for (int nd = 1; nd <= 3; nd++)
        for (int is_max = 0; is_max <= 1; is_max++)
            for (int i = 0; i < 40; i++) {
                pool_spec p = random_spec(nd, is_max);
                p.with_indices = is_max && rnd_int(0, 2) == 0;
                p.storage_order = rnd_int(0, 1);
                check_pool(&p, i % 2 ? pool : NULL);
            }
    yq_pool_free(pool);
}

static void test_pool_yolo_sppf(void **state) {
    (void)state;
    /* YOLOv10m's SPPF: 5×5, stride 1, pad 2 on 20×20. */
    pool_spec p = {.is_max = 1, .nd = 2, .N = 1, .C = 16, .in = {20, 20}, .k = {5, 5}, .s = {1, 1}, .d = {1, 1},
                   .pads = {2, 2, 2, 2}};
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    check_pool(&p, pool);
    yq_pool_free(pool);
}

static void test_pool_auto_pad_and_ceil(void **state) {
    (void)state;
    /* ceil_mode: in 5, k 2, s 2 -> floor 2, ceil 3. */
    pool_spec p = {.is_max = 1, .nd = 1, .N = 1, .C = 1, .in = {5}, .k = {2}, .s = {2}, .d = {1}};
    assert_int_equal(out_size(&p, 0), 2);
    check_pool(&p, NULL);
    p.ceil_mode = 1;
    assert_int_equal(out_size(&p, 0), 3);
    check_pool(&p, NULL);
    /* The last window would start in the end padding: dropped (in 3, k 1, s 2, pad end 1 -> 2). */
    pool_spec q = {.is_max = 0, .nd = 1, .N = 1, .C = 2, .in = {3}, .k = {1}, .s = {2}, .d = {1}, .pads = {0, 1},
                   .ceil_mode = 1};
    assert_int_equal(out_size(&q, 0), 2);
    check_pool(&q, NULL);
    /* SAME_UPPER / SAME_LOWER / VALID: in 7, k 4, s 2 -> out 4, total pad 3. */
    pool_spec su = {.is_max = 0, .nd = 2, .N = 1, .C = 3, .in = {7, 7}, .k = {4, 4}, .s = {2, 2}, .d = {1, 1},
                    .count_include_pad = 1, .auto_pad = "SAME_UPPER", .pads = {1, 1, 2, 2}};
    check_pool(&su, NULL);
    pool_spec sl = su;
    sl.auto_pad = "SAME_LOWER";
    sl.pads[0] = sl.pads[1] = 2;
    sl.pads[2] = sl.pads[3] = 1;
    sl.is_max = 1;
    check_pool(&sl, NULL);
    pool_spec va = su;
    va.auto_pad = "VALID";
    memset(va.pads, 0, sizeof va.pads);
    check_pool(&va, NULL);
}

static void test_pool_hand(void **state) {
    (void)state;
    /* 1×4×4 = 0..15, 2×2 stride 2: max {5,7,13,15}; average {2.5,4.5,10.5,12.5}. */
    float X[16];
    for (int i = 0; i < 16; i++) X[i] = (float)i;
    for (int is_max = 0; is_max <= 1; is_max++) {
        pool_spec p = {.is_max = is_max, .nd = 2, .N = 1, .C = 1, .in = {4, 4}, .k = {2, 2}, .s = {2, 2},
                       .d = {1, 1}};
        pool_graph pg = make_pool(&p, YQ_DT_FLOAT, X);
        assert_int_equal(yq_node_eval(pg.g, pg.node, NULL), YQ_OK);
        const float *Y = pg.g->values[pg.y].data;
        const float want_max[4] = {5, 7, 13, 15}, want_avg[4] = {2.5f, 4.5f, 10.5f, 12.5f};
        assert_memory_equal(Y, is_max ? want_max : want_avg, sizeof want_max);
        yq_graph_free(pg.g);
    }
    /* count_include_pad: 3×3 average with pad 1 at the corner of 0..15 sums
     * 0+1+4+5 = 10 over 4 (exclude) or 9 (include) taps. */
    for (int inc = 0; inc <= 1; inc++) {
        pool_spec p = {.nd = 2, .N = 1, .C = 1, .in = {4, 4}, .k = {3, 3}, .s = {1, 1}, .d = {1, 1},
                       .pads = {1, 1, 1, 1}, .count_include_pad = inc};
        pool_graph pg = make_pool(&p, YQ_DT_FLOAT, X);
        assert_int_equal(yq_node_eval(pg.g, pg.node, NULL), YQ_OK);
        assert_float_equal(((const float *)pg.g->values[pg.y].data)[0], inc ? 10.0f / 9 : 2.5f, 1e-6);
        yq_graph_free(pg.g);
    }
}

static void test_maxpool_int8(void **state) {
    (void)state;
    const int8_t X[8] = {-5, 3, -128, 7, 100, -1, 0, 2};
    pool_spec p = {.is_max = 1, .nd = 1, .N = 1, .C = 2, .in = {4}, .k = {2}, .s = {1}, .d = {1}};
    pool_graph pg = make_pool(&p, YQ_DT_INT8, X);
    assert_int_equal(yq_node_eval(pg.g, pg.node, NULL), YQ_OK);
    assert_int_equal(pg.g->values[pg.y].dtype, YQ_DT_INT8);
    const int8_t want[6] = {3, 3, 7, 100, 0, 2};
    assert_memory_equal(pg.g->values[pg.y].data, want, sizeof want);
    yq_graph_free(pg.g);
}

/* Windows that hold only padding (end pad 3 > kernel 2; fuzz finding
 * tests/fuzz/regress/onnx_model/maxpool_uint8_window_all_padding.onnx): the
 * -inf of an empty max window saturates to the type's lowest value instead of
 * an undefined float -> integer conversion. */
static void test_maxpool_int_all_padding_window(void **state) {
    (void)state;
    pool_spec p = {.is_max = 1, .nd = 1, .N = 1, .C = 1, .in = {2}, .k = {2}, .s = {1}, .d = {1}, .pads = {0, 3}};
    const uint8_t xu[2] = {7, 200};
    pool_graph pg = make_pool(&p, YQ_DT_UINT8, xu);
    assert_int_equal(yq_node_eval(pg.g, pg.node, NULL), YQ_OK);
    const uint8_t want_u[4] = {200, 200, 0, 0};
    assert_memory_equal(pg.g->values[pg.y].data, want_u, sizeof want_u);
    yq_graph_free(pg.g);
    const int8_t xs[2] = {-7, 5};
    pg = make_pool(&p, YQ_DT_INT8, xs);
    assert_int_equal(yq_node_eval(pg.g, pg.node, NULL), YQ_OK);
    const int8_t want_s[4] = {5, 5, -128, -128};
    assert_memory_equal(pg.g->values[pg.y].data, want_s, sizeof want_s);
    yq_graph_free(pg.g);
}

static void test_global_pools(void **state) {
    (void)state;
    yq_pool *pool;
    assert_int_equal(yq_pool_new(2, &pool), YQ_OK);
    const int64_t xd[4] = {2, 3, 5, 7};
    float X[210];
    for (int i = 0; i < 210; i++) X[i] = (float)rnd_int(-1000, 1000) * 0.01f;
    for (int is_max = 0; is_max <= 1; is_max++) {
        yq_graph *g;
        assert_int_equal(yq_graph_new(&g), YQ_OK);
        int x, y, node;
        assert_int_equal(yq_graph_add_initializer(g, "x", YQ_DT_FLOAT, 4, xd, X, &x), YQ_OK);
        assert_int_equal(yq_graph_add_value(g, "y", &y), YQ_OK);
        assert_int_equal(yq_graph_add_node(g, is_max ? "GlobalMaxPool" : "GlobalAveragePool", "", "gp", &x, 1, &y, 1,
                                           &node),
                         YQ_OK);
        assert_int_equal(yq_node_eval(g, node, pool), YQ_OK);
        const yq_value *v = &g->values[y];
        assert_int_equal(v->rank, 4);
        assert_true(v->dims[0] == 2 && v->dims[1] == 3 && v->dims[2] == 1 && v->dims[3] == 1);
        for (int pl = 0; pl < 6; pl++) {
            double s = 0, m = -INFINITY;
            for (int i = 0; i < 35; i++) {
                s += X[pl * 35 + i];
                m = fmax(m, X[pl * 35 + i]);
            }
            assert_float_equal(((const float *)v->data)[pl], is_max ? m : s / 35, 1e-5);
        }
        yq_graph_free(g);
    }
    yq_pool_free(pool);
}

static void test_pool_errors(void **state) {
    (void)state;
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    const int64_t xd[4] = {1, 2, 4, 4};
    float X[32] = {0};
    int x, y[2], n1, n2, n3;
    assert_int_equal(yq_graph_add_initializer(g, "x", YQ_DT_FLOAT, 4, xd, X, &x), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "y", &y[0]), YQ_OK);
    assert_int_equal(yq_graph_add_value(g, "yi", &y[1]), YQ_OK);
    assert_int_equal(yq_graph_add_node(g, "MaxPool", "", "mp_no_kernel", &x, 1, y, 1, &n1), YQ_OK);
    assert_int_equal(yq_node_infer(g, n1), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "mp_no_kernel"));
    assert_non_null(strstr(yq_last_error(), "kernel_shape"));
    const int64_t k[2] = {2, 2}, k1[1] = {2}, big[2] = {9, 2};
    assert_int_equal(yq_graph_add_node(g, "AveragePool", "", "ap_two_outputs", &x, 1, y, 2, &n2), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n2], "kernel_shape", k, 2), YQ_OK);
    assert_int_equal(yq_node_infer(g, n2), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "ap_two_outputs"));
    assert_int_equal(yq_graph_add_node(g, "MaxPool", "", "mp_bad", &x, 1, y, 1, &n3), YQ_OK);
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n3], "kernel_shape", k1, 1), YQ_OK);
    assert_int_equal(yq_node_infer(g, n3), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "spatial"));
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[n3], "kernel_shape", big, 2), YQ_OK);
    assert_int_equal(yq_node_infer(g, n3), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "does not fit"));
    yq_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_hand),      cmocka_unit_test(test_pool_auto_pad_and_ceil),
        cmocka_unit_test(test_pool_yolo_sppf), cmocka_unit_test(test_pool_random),
        cmocka_unit_test(test_maxpool_int8),   cmocka_unit_test(test_global_pools),
        cmocka_unit_test(test_maxpool_int_all_padding_window),
        cmocka_unit_test(test_pool_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
