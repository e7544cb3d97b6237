/* grad: the kernels chained through a YOLO bottleneck block, as block
 * reconstruction (BRECQ/QDrop) and QAT use them:
 *     w_i = AdaRound-soft(V_i)          (4-bit grid, per output channel)
 *     a1 = SiLU(conv1(x; w1, b1))       3×3, pad 1
 *     a2 = SiLU(conv2(a1; w2, b2))      3×3, pad 1, stride 1
 *     out = x + a2                      (residual Add)
 *     L = MSE(out, target) + λ f_reg(V1, V2; β)
 * The reverse pass accumulates into shared gradients (x feeds conv1 and the
 * Add). Finite differences of L with respect to V1, V2, b1 and x check the
 * whole chain (grad_check.h); Adam on V1, V2 lowers the block loss. */
#include <string.h>

#include "grad/grad.h"
#include "grad_check.h"

enum { C = 4, HH = 6, WW = 5 };

typedef struct blk {
    yq_conv2d_shape s;
    yq_adaround_shape as;
    float *x, *target, *V1, *V2, *base1, *base2, *b1, *b2;
    float sc1[C], sc2[C];
    int32_t zp[C];
    float *w1, *w2, *y1, *a1, *y2, *a2, *out;
    float beta, lambda;
} blk;

static const int64_t NX = C * HH * WW, NW = C * C * 9;

static double blk_forward(void *p) {
    blk *b = p;
    yq_grad_adaround_forward(&b->as, b->base1, b->V1, b->sc1, b->zp, b->w1);
    yq_grad_adaround_forward(&b->as, b->base2, b->V2, b->sc2, b->zp, b->w2);
    yq_grad_conv2d_forward(&b->s, b->x, b->w1, b->b1, b->y1);
    yq_grad_silu_forward(NX, b->y1, b->a1);
    yq_grad_conv2d_forward(&b->s, b->a1, b->w2, b->b2, b->y2);
    yq_grad_silu_forward(NX, b->y2, b->a2);
    yq_bcast bc;
    const int64_t d[4] = {1, C, HH, WW};
    assert_int_equal(yq_bcast_init(&bc, 4, d, 4, d), YQ_OK);
    yq_grad_add_forward(&bc, b->x, b->a2, b->out);
    double L = yq_loss_mse(NX, b->out, b->target, NULL);
    L += b->lambda * (yq_adaround_reg(NW, b->V1, b->beta, 1.0f, NULL) + yq_adaround_reg(NW, b->V2, b->beta, 1.0f, NULL));
    return L;
}

/* Reverse pass; gradients zeroed by the caller. */
static void blk_backward(blk *b, float *dx, float *dV1, float *dV2, float *db1) {
    blk_forward(b);
    float *dout = gc_zeros(NX), *da2 = gc_zeros(NX), *dy2 = gc_zeros(NX), *da1 = gc_zeros(NX), *dy1 = gc_zeros(NX);
    float *dw1 = gc_zeros(NW), *dw2 = gc_zeros(NW), *db2 = gc_zeros(C);
    yq_loss_mse(NX, b->out, b->target, dout);
    yq_bcast bc;
    const int64_t d[4] = {1, C, HH, WW};
    assert_int_equal(yq_bcast_init(&bc, 4, d, 4, d), YQ_OK);
    yq_grad_add_backward(&bc, dout, dx, da2); /* x gets its residual share here ... */
    yq_grad_silu_backward(NX, b->y2, da2, dy2);
    yq_grad_conv2d_backward(&b->s, b->a1, b->w2, dy2, da1, dw2, db2);
    yq_grad_silu_backward(NX, b->y1, da1, dy1);
    yq_grad_conv2d_backward(&b->s, b->x, b->w1, dy1, dx, dw1, db1); /* ... and its conv share here */
    yq_grad_adaround_backward(&b->as, b->base1, b->V1, b->sc1, b->zp, dw1, dV1);
    yq_grad_adaround_backward(&b->as, b->base2, b->V2, b->sc2, b->zp, dw2, dV2);
    yq_adaround_reg(NW, b->V1, b->beta, b->lambda, dV1);
    yq_adaround_reg(NW, b->V2, b->beta, b->lambda, dV2);
    free(dout), free(da2), free(dy2), free(da1), free(dy1), free(dw1), free(dw2), free(db2);
}

static void blk_init(blk *b, uint64_t seed) {
    memset(b, 0, sizeof *b);
    b->s = (yq_conv2d_shape){1, C, HH, WW, C, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    assert_int_equal(yq_conv2d_shape_check(&b->s), YQ_OK);
    b->as = (yq_adaround_shape){C, C * 9, 1, -8, 7};
    b->x = gc_randn(NX, &seed, 1), b->target = gc_randn(NX, &seed, 1);
    b->V1 = gc_randn(NW, &seed, 1), b->V2 = gc_randn(NW, &seed, 1);
    b->base1 = gc_zeros(NW), b->base2 = gc_zeros(NW);
    for (int64_t i = 0; i < NW; i++) {
        b->base1[i] = (float)((int64_t)(rng_next(&seed) % 9) - 4);
        b->base2[i] = (float)((int64_t)(rng_next(&seed) % 9) - 4);
    }
    b->b1 = gc_randn(C, &seed, 0.1), b->b2 = gc_randn(C, &seed, 0.1);
    for (int c = 0; c < C; c++) b->sc1[c] = 0.05f + 0.01f * (float)c, b->sc2[c] = 0.04f + 0.01f * (float)c, b->zp[c] = 0;
    b->w1 = gc_zeros(NW), b->w2 = gc_zeros(NW), b->y1 = gc_zeros(NX), b->a1 = gc_zeros(NX), b->y2 = gc_zeros(NX);
    b->a2 = gc_zeros(NX), b->out = gc_zeros(NX);
    b->beta = 8.0f, b->lambda = 0.01f;
}

static void blk_free(blk *b) {
    free(b->x), free(b->target), free(b->V1), free(b->V2), free(b->base1), free(b->base2), free(b->b1), free(b->b2);
    free(b->w1), free(b->w2), free(b->y1), free(b->a1), free(b->y2), free(b->a2), free(b->out);
}

static void test_block_chain(void **state) {
    (void)state;
    blk b;
    blk_init(&b, 201);
    float *dx = gc_zeros(NX), *dV1 = gc_zeros(NW), *dV2 = gc_zeros(NW), *db1 = gc_zeros(C);
    blk_backward(&b, dx, dV1, dV2, db1);
    gc_check("block dL/dx (residual + conv)", b.x, dx, NX, blk_forward, &b, 0.1, 1);
    gc_check("block dL/dV1", b.V1, dV1, NW, blk_forward, &b, 0.5, 2);
    gc_check("block dL/dV2", b.V2, dV2, NW, blk_forward, &b, 0.5, 3);
    gc_check("block dL/db1", b.b1, db1, C, blk_forward, &b, 0.1, 4);
    free(dx), free(dV1), free(dV2), free(db1);
    blk_free(&b);
}

/* Adam on V1, V2 drives the block loss down (a few steps of block
 * reconstruction), deterministically. */
static void test_block_adam_descends(void **state) {
    (void)state;
    double first = 0, last = 0;
    float vend[2][4];
    for (int run = 0; run < 2; run++) {
        blk b;
        blk_init(&b, 202);
        /* the target is the block with other weights: reachable in part */
        b.lambda = 0.0f;
        yq_adam a1, a2;
        assert_int_equal(yq_adam_init(&a1, NW, 0.05f), YQ_OK);
        assert_int_equal(yq_adam_init(&a2, NW, 0.05f), YQ_OK);
        float *dx = gc_zeros(NX), *dV1 = gc_zeros(NW), *dV2 = gc_zeros(NW);
        for (int it = 0; it < 60; it++) {
            memset(dV1, 0, NW * sizeof *dV1), memset(dV2, 0, NW * sizeof *dV2);
            blk_backward(&b, dx, dV1, dV2, NULL);
            if (it == 0) first = blk_forward(&b);
            yq_adam_step(&a1, b.V1, dV1);
            yq_adam_step(&a2, b.V2, dV2);
        }
        last = blk_forward(&b);
        memcpy(vend[run], b.V1, sizeof vend[run]);
        yq_adam_free(&a1), yq_adam_free(&a2);
        free(dx), free(dV1), free(dV2);
        blk_free(&b);
    }
    print_message("block loss %.4f -> %.4f after 60 Adam steps\n", first, last);
    assert_true(last < 0.95 * first);
    assert_memory_equal(vend[0], vend[1], sizeof vend[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_chain),
        cmocka_unit_test(test_block_adam_descends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
