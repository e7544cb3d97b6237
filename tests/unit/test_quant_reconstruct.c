/* quant/reconstruct: block reconstruction (soft rounding per block against the
 * float model) on a small synthetic SiLU network quantized W4A8 by
 * round-to-nearest, the start where rounding choices matter most.
 *   x [1,3,16,16] -> conv1 (8x3x3x3) -> SiLU -> conv2 (8x8x3x3) -> SiLU
 *     -> Add(conv1's SiLU) -> conv3 (8x8x3x3) -> SiLU -> conv4 (6x8x1x1) -> SiLU -> y
 * (plus a variant whose last conv's raw output is the result: prediction logits,
 * which stay out of the loss, so that block keeps its codes) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "test_quant_common.h"
#include "test_quant_graph.h"
#include "quant/ptq.h"
#include "quant/reconstruct.h"
#include "rt/prepare.h"
#include "rt/session.h"

#define HW 16

static int add_silu(yq_graph *g, const char *name, int x) {
    char nm[64];
    int n;
    snprintf(nm, sizeof nm, "%s_sig", name);
    int s = add_value(g, nm);
    assert_int_equal(yq_graph_add_node(g, "Sigmoid", "", nm, &x, 1, &s, 1, &n), YQ_OK);
    snprintf(nm, sizeof nm, "%s_silu", name);
    int y = add_value(g, nm);
    int in[2] = {x, s};
    assert_int_equal(yq_graph_add_node(g, "Mul", "", nm, in, 2, &y, 1, &n), YQ_OK);
    return y;
}

/* relu_first: conv1 and conv2 end in Relu, which the differentiable executor
 * does not have: their block must be skipped, not fail the run. */
static yq_graph *make_net_relu(int relu_first) {
    yq_graph *g = quant_graph_new(3, HW);
    const int x = g->inputs[0];
    uint64_t seed = 21;
    int a = relu_first ? add_conv(g, "conv1", x, 8, 3, 3, 0.3, &seed, 1)
                       : add_silu(g, "conv1", add_conv(g, "conv1", x, 8, 3, 3, 0.3, &seed, 0));
    int b = relu_first ? add_conv(g, "conv2", a, 8, 8, 3, 0.15, &seed, 1)
                       : add_silu(g, "conv2", add_conv(g, "conv2", a, 8, 8, 3, 0.15, &seed, 0));
    int r = add_value(g, "res"), n;
    int in[2] = {b, a};
    assert_int_equal(yq_graph_add_node(g, "Add", "", "res_add", in, 2, &r, 1, &n), YQ_OK);
    int c = add_silu(g, "conv3", add_conv(g, "conv3", r, 8, 8, 3, 0.15, &seed, 0));
    int y = add_silu(g, "conv4", add_conv(g, "conv4", c, 6, 8, 1, 0.3, &seed, 0));
    quant_graph_finish(g, y);
    return g;
}

static yq_graph *make_net(void) { return make_net_relu(0); }

static yq_status image(void *arg, int index, float *nchw) {
    (void)arg;
    uint64_t r = 500 + (uint64_t)index;
    for (int64_t i = 0; i < 3 * HW * HW; i++) nchw[i] = (float)rng_uniform(&r);
    return YQ_OK;
}

/* W4A8 by round to nearest (asymmetric per channel), in place. */
static void quantize_rtn(yq_graph *g) {
    const char *recipe = "{\"weights\": {\"bits\": 4, \"method\": \"rtn\", \"symmetric\": false},"
                         " \"activations\": {\"bits\": 8}}";
    yq_recipe *r;
    assert_int_equal(yq_recipe_parse(recipe, strlen(recipe), "test.json", &r), YQ_OK);
    yq_ptq_opts o;
    yq_ptq_opts_default(&o);
    o.nthreads = 1;
    o.report_images = 0;
    assert_int_equal(yq_ptq_quantize(g, r, 8, image, NULL, &o, NULL), YQ_OK);
    yq_recipe_free(r);
}

/* Mean normalised squared error of g's output against the float model on
 * held-out images 100..103. */
static double output_error(const yq_graph *g, const yq_graph *fl) {
    yq_graph *a, *b;
    yq_session *sa, *sb;
    assert_int_equal(yq_graph_clone(g, &a), YQ_OK);
    assert_int_equal(yq_graph_clone(fl, &b), YQ_OK);
    yq_session_opts so = {.nthreads = 1};
    assert_int_equal(yq_session_new(a, &so, &sa), YQ_OK);
    assert_int_equal(yq_session_new(b, &so, &sb), YQ_OK);
    float img[3 * HW * HW];
    double err = 0;
    for (int j = 100; j < 104; j++) {
        image(NULL, j, img);
        yq_tensor x = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, HW, HW}, .data = img};
        assert_int_equal(yq_session_run(sa, &x, 1), YQ_OK);
        assert_int_equal(yq_session_run(sb, &x, 1), YQ_OK);
        const yq_tensor *ya = yq_session_output(sa, 0), *yb = yq_session_output(sb, 0);
        const float *p = ya->data, *q = yb->data;
        double e = 0, ref = 0;
        for (int64_t i = 0; i < 6 * HW * HW; i++) e += (p[i] - q[i]) * (double)(p[i] - q[i]), ref += (double)q[i] * q[i];
        err += e / ref / 4;
    }
    yq_session_free(sa);
    yq_session_free(sb);
    return err;
}

static void opts_for_test(yq_recon_opts *o, int nthreads) {
    yq_recon_opts_default(o);
    o->cut = "conv4_silu";
    o->convs_per_block = 2;
    o->iters = 150;
    o->batch = 2;
    o->images = 8;
    o->nthreads = nthreads;
}

/* Bytes of every integer initializer (the weight codes), concatenated. */
static size_t codes_of(const yq_graph *g, unsigned char *buf, size_t cap) {
    size_t n = 0;
    for (int v = 0; v < g->nvalues; v++) {
        const yq_value *x = &g->values[v];
        if (!x->data || (x->dtype != YQ_DT_INT8 && x->dtype != YQ_DT_UINT8 && x->dtype != YQ_DT_INT4 && x->dtype != YQ_DT_UINT4))
            continue;
        assert_true(n + x->nbytes <= cap);
        memcpy(buf + n, x->data, x->nbytes);
        n += x->nbytes;
    }
    return n;
}

static void test_reconstruct_reduces_error(void **state) {
    (void)state;
    yq_graph *fl = make_net(), *q = make_net();
    quantize_rtn(q);
    const int nodes_before = q->nnodes;
    const double e0 = output_error(q, fl);
    yq_recon_opts o;
    opts_for_test(&o, 1);
    yq_recon_result res;
    assert_int_equal(yq_reconstruct(q, fl, 8, image, NULL, &o, &res), YQ_OK);
    assert_int_equal(res.nblocks, 2);
    assert_int_equal(res.images, 8);
    int kept = 0;
    for (int i = 0; i < res.nblocks; i++) {
        const yq_recon_block *b = &res.blocks[i];
        assert_int_equal(b->convs, 2);
        print_message("block %d: %s..%s in %d out %d error %.6f -> %.6f\n", i, b->first, b->last, b->ninputs, b->noutputs, b->err_before, b->err_after);
        assert_true(b->err_before > 0 && isfinite(b->err_after));
        /* kept exactly when the rounded result is better on the block's images */
        assert_int_equal(b->kept, b->err_after < b->err_before);
        kept += b->kept;
    }
    assert_true(kept >= 1);
    /* blocks are cut where the next layer starts (conv3's input quantizer):
     * the residual Add ends block 0, whose one output is block 1's one input */
    assert_int_equal(res.blocks[0].noutputs, 1);
    assert_int_equal(res.blocks[1].ninputs, 1);
    assert_int_equal(q->nnodes, nodes_before); /* only initializer contents change */
    const double e1 = output_error(q, fl);
    print_message("output error: RTN %.5f -> reconstructed %.5f\n", e0, e1);
    assert_true(e1 < 0.9 * e0); /* held-out images: the learnt rounding generalises (measured 0.81) */
    yq_recon_result_free(&res);

    /* deterministic and independent of the thread count */
    yq_graph *q2 = make_net();
    quantize_rtn(q2);
    opts_for_test(&o, 2);
    assert_int_equal(yq_reconstruct(q2, fl, 8, image, NULL, &o, &res), YQ_OK);
    yq_recon_result_free(&res);
    static unsigned char c1[1 << 16], c2[1 << 16];
    const size_t n1 = codes_of(q, c1, sizeof c1), n2 = codes_of(q2, c2, sizeof c2);
    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(c1, c2, n1);
    yq_graph_free(q2);
    yq_graph_free(q);
    yq_graph_free(fl);
}

static void test_reconstruct_skips_unsupported_block(void **state) {
    (void)state;
    yq_graph *fl = make_net_relu(1), *q = make_net_relu(1);
    quantize_rtn(q);
    yq_recon_opts o;
    opts_for_test(&o, 1);
    o.iters = 40;
    yq_recon_result res;
    assert_int_equal(yq_reconstruct(q, fl, 8, image, NULL, &o, &res), YQ_OK);
    assert_int_equal(res.nblocks, 2);
    assert_non_null(strstr(res.blocks[0].skipped, "Relu"));
    assert_int_equal(res.blocks[0].kept, 0);
    assert_string_equal(res.blocks[1].skipped, "");
    assert_true(res.blocks[1].err_before > 0);
    yq_recon_result_free(&res);
    yq_graph_free(q);
    yq_graph_free(fl);
}

static void test_reconstruct_bad_input(void **state) {
    (void)state;
    yq_graph *fl = make_net(), *q = make_net();
    quantize_rtn(q);
    yq_recon_opts o;
    opts_for_test(&o, 1);
    yq_recon_result res;
    assert_int_equal(yq_reconstruct(q, fl, 0, image, NULL, &o, &res), YQ_ERR_ARG);
    o.iters = 0;
    assert_int_equal(yq_reconstruct(q, fl, 8, image, NULL, &o, &res), YQ_ERR_ARG);
    opts_for_test(&o, 1);
    o.cut = "no_such_tensor";
    assert_int_not_equal(yq_reconstruct(q, fl, 8, image, NULL, &o, &res), YQ_OK);
    /* a float model that is not the quantized model's original */
    yq_graph *other;
    assert_int_equal(yq_graph_new(&other), YQ_OK);
    opts_for_test(&o, 1);
    assert_int_not_equal(yq_reconstruct(q, other, 8, image, NULL, &o, &res), YQ_OK);
    yq_recon_result_free(&res);
    yq_graph_free(other);
    yq_graph_free(q);
    yq_graph_free(fl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconstruct_reduces_error),
        cmocka_unit_test(test_reconstruct_skips_unsupported_block),
        cmocka_unit_test(test_reconstruct_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
