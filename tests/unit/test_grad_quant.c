/* grad: fake quantization (STE input gradient, LSQ scale gradient), AdaRound
 * soft rounding + regulariser + β schedule, losses (MSE, KL), and Adam on a
 * convex problem with a known minimiser. Finite differences: grad_check.h.
 *
 * STE/LSQ are not the true gradient of a step function (which is 0 almost
 * everywhere), so they are checked by finite differences of the surrogate
 * they are the exact gradient of: round(u) replaced by u + δ with
 * δ = round(u₀) − u₀ and the clip decision frozen at the base point. */
#include <string.h>

#include "grad/grad.h"
#include "grad_check.h"
#include "quant/quantizer.h"

/* ---- fake quant --------------------------------------------------------------- */
typedef struct fq_ctx {
    yq_fq_shape s;
    float *x, *scale, *y, *r, *delta, *clipq; /* clipq: the clamped code where clipped, NAN where not */
    int32_t *zp;
} fq_ctx;
static double fq_surrogate_loss(void *p) {
    fq_ctx *c = p;
    const int64_t n = c->s.outer * c->s.nch * c->s.inner;
    double L = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t ch = (i / c->s.inner) % c->s.nch;
        const double sc = c->scale[ch], z = c->zp[ch];
        const double q = isnan(c->clipq[i]) ? (double)c->x[i] / sc + c->delta[i] + z : c->clipq[i];
        L += c->r[i] * (q - z) * sc;
    }
    return L;
}
static void test_fakequant(void **state) {
    (void)state;
    uint64_t seed = 101;
    fq_ctx c = {{2, 3, 20, -8, 7}, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const int64_t n = 2 * 3 * 20;
    c.x = gc_randn(n, &seed, 1.0);
    float sc[3] = {0.11f, 0.23f, 0.07f};
    int32_t zp[3] = {0, 2, -1};
    c.scale = sc, c.zp = zp, c.y = gc_zeros(n), c.r = gc_randn(n, &seed, 1), c.delta = gc_zeros(n);
    c.clipq = gc_zeros(n);
    /* keep points away from rounding ties and from the clamp edges, where
     * the surrogate has a kink the difference would straddle */
    for (int64_t i = 0; i < n; i++) {
        const int64_t ch = (i / 20) % 3;
        float u = c.x[i] / sc[ch];
        float fr = u - floorf(u);
        if (fabsf(fr - 0.5f) < 0.05f) c.x[i] += 0.1f * sc[ch];
        u = c.x[i] / sc[ch];
        float q = u + (float)zp[ch];
        if (fabsf(q - (-8.0f)) < 0.3f || fabsf(q - 7.0f) < 0.3f) c.x[i] += 0.6f * sc[ch];
        c.delta[i] = nearbyintf(c.x[i] / sc[ch]) - c.x[i] / sc[ch];
        const float qr = nearbyintf(c.x[i] / sc[ch]) + (float)zp[ch];
        c.clipq[i] = qr < -8 ? -8.0f : qr > 7 ? 7.0f : NAN;
    }
    /* forward = the runtime quantizer */
    yq_grad_fakequant_forward(&c.s, c.x, c.scale, c.zp, c.y);
    int clipped = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t ch = (i / 20) % 3;
        assert_true(c.y[i] == yq_fake_quantize(c.x[i], sc[ch], zp[ch], -8, 7));
        const float q = nearbyintf(c.x[i] / sc[ch]) + (float)zp[ch];
        clipped += q < -8 || q > 7;
    }
    assert_true(clipped > 5); /* both regimes are exercised */
    float *dx = gc_zeros(n), dsc[3] = {0, 0, 0};
    yq_grad_fakequant_backward(&c.s, c.x, c.scale, c.zp, c.r, dx, dsc);
    gc_check("fakequant STE dx", c.x, dx, n, fq_surrogate_loss, &c, 0.01, seed);
    gc_check("fakequant LSQ dscale", c.scale, dsc, 3, fq_surrogate_loss, &c, 0.001, seed);
    free(c.x), free(c.y), free(c.r), free(c.delta), free(c.clipq), free(dx);
}

/* ---- AdaRound ------------------------------------------------------------------ */
typedef struct ar_ctx {
    yq_adaround_shape s;
    float *base, *v, *scale, *w, *r;
    int32_t *zp;
    float beta;
    int reg;
} ar_ctx;
static double ar_loss(void *p) {
    ar_ctx *c = p;
    const int64_t n = c->s.rows * c->s.cols;
    if (c->reg) return yq_adaround_reg(n, c->v, c->beta, 1.0f, NULL);
    yq_grad_adaround_forward(&c->s, c->base, c->v, c->scale, c->zp, c->w);
    return gc_dot(n, c->r, c->w);
}
static void test_adaround_soft(void **state) {
    (void)state;
    /* h and its inverse */
    for (float r = 0.05f; r < 0.96f; r += 0.1f) assert_true(fabsf(yq_adaround_h(yq_adaround_v_init(r)) - r) < 1e-5f);
    assert_true(yq_adaround_h(-20.0f) == 0.0f && yq_adaround_h(20.0f) == 1.0f);
    assert_true(yq_adaround_dh(20.0f) == 0.0f);
    uint64_t seed = 111;
    ar_ctx c = {{4, 9, 1, -8, 7}, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0};
    const int64_t n = 36;
    float sc[4] = {0.1f, 0.2f, 0.05f, 0.3f};
    int32_t zp[4] = {0, 1, -2, 0};
    c.scale = sc, c.zp = zp;
    c.base = gc_zeros(n), c.v = gc_randn(n, &seed, 1.0), c.w = gc_zeros(n), c.r = gc_randn(n, &seed, 1);
    for (int64_t i = 0; i < n; i++) {
        c.base[i] = (float)((int64_t)(rng_next(&seed) % 14) - 7); /* base + zp + h may cross the clamp */
        if (fabsf(yq_adaround_h(c.v[i]) - 0.0f) < 1e-3f || fabsf(yq_adaround_h(c.v[i]) - 1.0f) < 1e-3f) c.v[i] = 0.3f;
    }
    float *dv = gc_zeros(n);
    yq_grad_adaround_backward(&c.s, c.base, c.v, c.scale, c.zp, c.r, dv);
    gc_check("adaround w_soft dV", c.v, dv, n, ar_loss, &c, 0.01, seed);
    /* the regulariser at several β */
    const float betas[3] = {20.0f, 8.0f, 2.0f};
    c.reg = 1;
    for (int k = 0; k < 3; k++) {
        c.beta = betas[k];
        memset(dv, 0, n * sizeof *dv);
        yq_adaround_reg(n, c.v, c.beta, 1.0f, dv);
        gc_check("adaround f_reg dV", c.v, dv, n, ar_loss, &c, 0.01, seed + (uint64_t)k);
    }
    /* f_reg is 0 at hard rounding, n at h = 1/2 */
    float vh[2] = {-30.0f, 30.0f}, vm[2] = {0.0f, 0.0f};
    assert_true(yq_adaround_reg(2, vh, 2.0f, 1.0f, NULL) == 0.0);
    assert_true(fabs(yq_adaround_reg(2, vm, 2.0f, 1.0f, NULL) - 2.0) < 1e-6);
    /* β: 0 during warm-up, 20 right after, 2 at the end, decreasing in between */
    assert_true(yq_adaround_beta(10, 100, 0.2f, 20, 2) == 0.0f);
    assert_true(fabsf(yq_adaround_beta(20, 100, 0.2f, 20, 2) - 20.0f) < 1e-5f);
    assert_true(fabsf(yq_adaround_beta(100, 100, 0.2f, 20, 2) - 2.0f) < 1e-5f);
    float prev = 21;
    for (int it = 20; it <= 100; it++) {
        const float b = yq_adaround_beta(it, 100, 0.2f, 20, 2);
        assert_true(b <= prev);
        prev = b;
    }
    free(c.base), free(c.v), free(c.w), free(c.r), free(dv);
}

/* ---- losses -------------------------------------------------------------------------- */
typedef struct loss_ctx {
    int64_t rows, n;
    float *a, *b;
    int kl;
} loss_ctx;
static double loss_fn(void *p) {
    loss_ctx *c = p;
    return c->kl ? yq_loss_kl(c->rows, c->n, c->a, c->b, 2.0f, NULL) : yq_loss_mse(c->rows * c->n, c->a, c->b, NULL);
}
static void test_losses(void **state) {
    (void)state;
    uint64_t seed = 121;
    for (int kl = 0; kl < 2; kl++) {
        loss_ctx c = {3, 11, gc_randn(33, &seed, 2), gc_randn(33, &seed, 2), kl};
        float *da = gc_zeros(33);
        if (kl) yq_loss_kl(c.rows, c.n, c.a, c.b, 2.0f, da);
        else yq_loss_mse(33, c.a, c.b, da);
        gc_check(kl ? "KL(softmax) d student" : "MSE da", c.a, da, 33, loss_fn, &c, 0.1, seed);
        free(c.a), free(c.b), free(da);
    }
    /* KL of a distribution with itself is 0, and positive otherwise */
    float t[4] = {1, 2, 3, 4}, s[4] = {4, 3, 2, 1};
    assert_true(fabs(yq_loss_kl(1, 4, t, t, 1.0f, NULL)) < 1e-12);
    assert_true(yq_loss_kl(1, 4, s, t, 1.0f, NULL) > 0.1);
    assert_true(fabs(yq_loss_mse(4, t, s, NULL) - 5.0) < 1e-12);
}

/* ---- Adam -------------------------------------------------------------------------------- */
/* f(p) = ½ (p − c)ᵀ A (p − c) with A = BᵀB + I (condition number ~30): the
 * minimiser is c. Adam with a decaying step must land on it; the run is
 * repeated to show it is deterministic. */
static void test_adam_convex(void **state) {
    (void)state;
    enum { N = 12 };
    uint64_t seed = 131;
    double A[N][N], B[N][N];
    float c[N], p[N], p2[N], g[N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) B[i][j] = rng_normal(&seed) * 0.5;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = i == j;
            for (int k = 0; k < N; k++) s += B[k][i] * B[k][j];
            A[i][j] = s;
        }
    for (int i = 0; i < N; i++) c[i] = (float)rng_normal(&seed) * 3;
    for (int run = 0; run < 2; run++) {
        float *pp = run ? p2 : p;
        memset(pp, 0, sizeof p);
        yq_adam a;
        assert_int_equal(yq_adam_init(&a, N, 0.1f), YQ_OK);
        for (int it = 0; it < 3000; it++) {
            a.lr = 0.1f * (float)(0.5 * (1 + cos(M_PI * it / 3000.0))) + 1e-4f;
            for (int i = 0; i < N; i++) {
                double s = 0;
                for (int j = 0; j < N; j++) s += A[i][j] * ((double)pp[j] - c[j]);
                g[i] = (float)s;
            }
            yq_adam_step(&a, pp, g);
        }
        assert_int_equal(a.t, 3000);
        yq_adam_free(&a);
    }
    double err = 0;
    for (int i = 0; i < N; i++) err = fmax(err, fabs(p[i] - c[i]));
    print_message("Adam: max |p - p*| = %.3g after 3000 steps\n", err);
    assert_true(err < 1e-3);
    assert_memory_equal(p, p2, sizeof p);
    /* first step moves every coordinate by lr against the gradient sign */
    yq_adam a;
    assert_int_equal(yq_adam_init(&a, 2, 0.5f), YQ_OK);
    float q[2] = {0, 0}, gg[2] = {3, -0.01f};
    yq_adam_step(&a, q, gg);
    assert_true(fabsf(q[0] + 0.5f) < 1e-5f && fabsf(q[1] - 0.5f) < 1e-3f);
    yq_adam_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fakequant),
        cmocka_unit_test(test_adaround_soft),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_adam_convex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
