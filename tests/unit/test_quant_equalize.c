/* quant/equalize: pair finding and function preservation of CLE and
 * SmoothQuant scaling.
 *   x [1,3,10,10] -> conv0 (8x3x3x3) -> dw (8x1x3x3, group 8, no activation)
 *     -> pw (6x8x1x1) -> Relu -> conv2 (4x6x3x3) -> y
 * dw -> pw is a pair (nothing in between); conv0 -> dw is not (dw is grouped
 * as a consumer), pw -> Relu -> conv2 is not (an activation in between). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "quant/equalize.h"
#include "quant/ptq.h"
#include "rt/prepare.h"
#include "rt/session.h"

static int add_value(yq_graph *g, const char *name) {
    int id;
    assert_int_equal(yq_graph_add_value(g, name, &id), YQ_OK);
    return id;
}

static int conv(yq_graph *g, const char *name, int x, int64_t co, int64_t ci, int64_t k, int64_t group,
                double channel_spread, uint64_t *seed) {
    const int64_t n = co * ci * k * k, wd[4] = {co, ci, k, k};
    float *w = malloc((size_t)n * sizeof *w), *b = malloc((size_t)co * sizeof *b);
    for (int64_t o = 0; o < co; o++) {
        /* channel ranges spread over orders of magnitude: what CLE fixes */
        double m = pow(channel_spread, (double)o / (double)(co - 1));
        for (int64_t i = 0; i < ci * k * k; i++) w[o * ci * k * k + i] = (float)(0.3 * m * rng_normal(seed));
        b[o] = (float)(0.1 * rng_normal(seed));
    }
    char nm[64];
    int wv, bv, y, nd;
    snprintf(nm, sizeof nm, "%s_w", name);
    assert_int_equal(yq_graph_add_initializer(g, nm, YQ_DT_FLOAT, 4, wd, w, &wv), YQ_OK);
    snprintf(nm, sizeof nm, "%s_b", name);
    assert_int_equal(yq_graph_add_initializer(g, nm, YQ_DT_FLOAT, 1, &co, b, &bv), YQ_OK);
    free(w), free(b);
    snprintf(nm, sizeof nm, "%s_out", name);
    y = add_value(g, nm);
    int in[3] = {x, wv, bv};
    assert_int_equal(yq_graph_add_node(g, "Conv", "", name, in, 3, &y, 1, &nd), YQ_OK);
    const int64_t p = k / 2, pads[4] = {p, p, p, p};
    assert_int_equal(yq_node_set_attr_ints(&g->nodes[nd], "pads", pads, 4), YQ_OK);
    if (group > 1) assert_int_equal(yq_node_set_attr_int(&g->nodes[nd], "group", group), YQ_OK);
    return y;
}

static yq_graph *make_graph(void) {
    yq_graph *g;
    assert_int_equal(yq_graph_new(&g), YQ_OK);
    assert_int_equal(yq_graph_set_opset(g, "", 13), YQ_OK);
    g->ir_version = 8;
    int x = add_value(g, "x");
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    const int64_t xd[4] = {1, 3, 10, 10};
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->ninputs = 1;
    uint64_t seed = 5;
    int a = conv(g, "conv0", x, 8, 3, 3, 1, 1.0, &seed);
    int b = conv(g, "dw", a, 8, 1, 3, 8, 100.0, &seed);
    int c = conv(g, "pw", b, 6, 8, 1, 1, 1.0, &seed);
    int r = add_value(g, "r"), nd;
    assert_int_equal(yq_graph_add_node(g, "Relu", "", "relu", &c, 1, &r, 1, &nd), YQ_OK);
    int y = conv(g, "conv2", r, 4, 6, 3, 1, 1.0, &seed);
    g->values[y].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = y;
    g->noutputs = 1;
    yq_prepare_opts po = yq_prepare_defaults();
    assert_int_equal(yq_prepare_graph(g, NULL, &po), YQ_OK);
    return g;
}

static void run(yq_graph *g, const float *x, float *y) {
    yq_graph *c;
    assert_int_equal(yq_graph_clone(g, &c), YQ_OK);
    yq_session *s;
    yq_session_opts so = {.nthreads = 1, .no_fusion = 1};
    assert_int_equal(yq_session_new(c, &so, &s), YQ_OK);
    yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, 10, 10}, .data = (void *)x};
    assert_int_equal(yq_session_run(s, &t, 1), YQ_OK);
    memcpy(y, yq_session_output(s, 0)->data, 4 * 100 * sizeof(float));
    yq_session_free(s);
}

static double max_rel_diff(const float *a, const float *b, int n) {
    double m = 0, d = 0;
    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs((double)a[i]));
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    }
    return d / m;
}

static int node_named(const yq_graph *g, const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return i;
    return -1;
}

static void test_pairs_and_function(void **state) {
    (void)state;
    yq_graph *g = make_graph();
    yq_eq_pair *p;
    int np;
    assert_int_equal(yq_eq_find_pairs(g, NULL, &p, &np), YQ_OK);
    assert_int_equal(np, 1);
    assert_int_equal(p[0].producer, node_named(g, "dw"));
    assert_int_equal(p[0].nconsumers, 1);
    assert_int_equal(p[0].consumers[0], node_named(g, "pw"));
    assert_int_equal(p[0].channels, 8);
    /* allow: leaving pw out removes the pair */
    unsigned char *allow = calloc((size_t)g->nnodes, 1);
    for (int i = 0; i < g->nnodes; i++) allow[i] = i != node_named(g, "pw");
    yq_eq_pair *p2;
    int np2;
    assert_int_equal(yq_eq_find_pairs(g, allow, &p2, &np2), YQ_OK);
    assert_int_equal(np2, 0);
    yq_eq_pairs_free(p2, np2);
    free(allow);

    float x[300], y0[400], y1[400], y2[400];
    uint64_t s = 99;
    for (int i = 0; i < 300; i++) x[i] = (float)rng_uniform(&s);
    run(g, x, y0);
    /* CLE: the dw ranges spread 100x; afterwards each channel's producer and
     * consumer ranges are equal, and the function is unchanged */
    double sc[8];
    assert_int_equal(yq_eq_pair_scales(g, &p[0], NULL, 0.5, sc), YQ_OK);
    assert_true(sc[7] / sc[0] > 5.0);
    assert_int_equal(yq_eq_scale_pair(g, &p[0], sc), YQ_OK);
    double after[8];
    assert_int_equal(yq_eq_pair_scales(g, &p[0], NULL, 0.5, after), YQ_OK);
    for (int i = 0; i < 8; i++) assert_true(fabs(after[i] - 1.0) < 1e-5);
    run(g, x, y1);
    double d1 = max_rel_diff(y0, y1, 400);
    /* SmoothQuant on top, with made-up activation ranges */
    float am[8] = {0.1f, 5, 0.5f, 20, 1, 2, 0.01f, 3};
    assert_int_equal(yq_eq_pair_scales(g, &p[0], am, 0.5, sc), YQ_OK);
    assert_int_equal(yq_eq_scale_pair(g, &p[0], sc), YQ_OK);
    run(g, x, y2);
    double d2 = max_rel_diff(y0, y2, 400);
    print_message("max relative output change: CLE %.2g, + SmoothQuant %.2g\n", d1, d2);
    assert_true(d1 < 1e-5);
    assert_true(d2 < 1e-5);
    assert_int_equal(yq_eq_pair_scales(g, &p[0], am, 1.5, sc), YQ_ERR_ARG);
    yq_eq_pairs_free(p, np);
    yq_graph_free(g);
}

static yq_status image_input(void *arg, int index, float *nchw) {
    (void)arg;
    uint64_t s = 500 + (uint64_t)index;
    for (int i = 0; i < 300; i++) nchw[i] = (float)rng_uniform(&s);
    return YQ_OK;
}

/* Through the driver: the report counts the pair; a W8 quantized graph still
 * computes nearly the float function, and CLE never breaks determinism. */
static void test_driver(void **state) {
    (void)state;
    const char *txt[2] = {"{\"equalize\": {\"method\": \"cle\"}, \"activations\": {\"bits\": 8}}",
                          "{\"equalize\": {\"method\": \"smoothquant\", \"alpha\": 0.5}, \"activations\": {\"bits\": 8}}"};
    for (int t = 0; t < 2; t++) {
        yq_recipe *r;
        assert_int_equal(yq_recipe_parse(txt[t], strlen(txt[t]), "eq.json", &r), YQ_OK);
        yq_graph *g = make_graph();
        yq_ptq_opts o;
        yq_ptq_opts_default(&o);
        o.nthreads = 2;
        o.report_images = 2;
        yq_ptq_report rep;
        assert_int_equal(yq_ptq_quantize(g, r, 4, image_input, NULL, &o, &rep), YQ_OK);
        assert_int_equal(rep.equalized_pairs, 1);
        assert_true(rep.output_sqnr_db > 20.0);
        yq_ptq_report_free(&rep);
        yq_graph_free(g);
        yq_recipe_free(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_and_function),
        cmocka_unit_test(test_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
