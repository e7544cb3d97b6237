/* grad: finite-difference checks of every op's backward kernel (Conv with
 * groups/depthwise/strides/pads/dilations, SiLU, Sigmoid, broadcasting Add and
 * Mul, Concat, Split, MaxPool, nearest Resize, Reshape, Transpose, MatMul,
 * Softmax), seeded random shapes. Method and tolerance: grad_check.h. */
#include <string.h>

#include "grad/grad.h"
#include "grad_check.h"

/* ---- Conv ------------------------------------------------------------------- */
typedef struct conv_ctx {
    yq_conv2d_shape s;
    float *x, *w, *b, *y, *r;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    yq_grad_conv2d_forward(&c->s, c->x, c->w, c->b, c->y);
    return gc_dot(c->s.N * c->s.M * c->s.OH * c->s.OW, c->r, c->y);
}

static void check_conv(const char *name, yq_conv2d_shape s, uint64_t seed) {
    assert_int_equal(yq_conv2d_shape_check(&s), YQ_OK);
    const int64_t nx = s.N * s.C * s.H * s.W, nw = s.M * (s.C / s.group) * s.kh * s.kw,
                  ny = s.N * s.M * s.OH * s.OW;
    conv_ctx c = {s, gc_randn(nx, &seed, 1), gc_randn(nw, &seed, 0.5), gc_randn(s.M, &seed, 0.5), gc_zeros(ny),
                  gc_randn(ny, &seed, 1)};
    float *dx = gc_zeros(nx), *dw = gc_zeros(nw), *db = gc_zeros(s.M);
    /* accumulation: start from 1 and subtract it afterwards */
    for (int64_t i = 0; i < nx; i++) dx[i] = 1.0f;
    yq_grad_conv2d_backward(&c.s, c.x, c.w, c.r, dx, dw, db);
    for (int64_t i = 0; i < nx; i++) dx[i] -= 1.0f;
    char what[96];
    snprintf(what, sizeof what, "conv %s dx", name);
    gc_check(what, c.x, dx, nx, conv_loss, &c, 1, seed);
    snprintf(what, sizeof what, "conv %s dw", name);
    gc_check(what, c.w, dw, nw, conv_loss, &c, 1, seed + 1);
    snprintf(what, sizeof what, "conv %s db", name);
    gc_check(what, c.b, db, s.M, conv_loss, &c, 1, seed + 2);
    /* NULL gradients are allowed */
    yq_grad_conv2d_backward(&c.s, c.x, c.w, c.r, NULL, dw, NULL);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

static void test_conv_backward(void **state) {
    (void)state;
    /* N C H W  M kh kw  group  sh sw  dh dw  pt pl pb pr */
    check_conv("3x3 s2 p1", (yq_conv2d_shape){2, 3, 7, 6, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 11);
    check_conv("grouped dil2 asym pad",
               (yq_conv2d_shape){1, 4, 8, 9, 6, 3, 2, 2, 1, 2, 2, 1, 0, 1, 2, 1, 0, 0}, 12);
    check_conv("depthwise 3x3 s2", (yq_conv2d_shape){2, 5, 9, 8, 5, 3, 3, 5, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 13);
    check_conv("1x1", (yq_conv2d_shape){1, 6, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 14);
    check_conv("5x5 s3 p2", (yq_conv2d_shape){1, 2, 11, 10, 3, 5, 5, 1, 3, 3, 1, 1, 2, 2, 2, 2, 0, 0}, 15);
}

/* ---- activations ------------------------------------------------------------------- */
typedef struct act_ctx {
    int64_t n;
    int sig;
    float *x, *y, *r;
} act_ctx;
static double act_loss(void *p) {
    act_ctx *c = p;
    if (c->sig) yq_grad_sigmoid_forward(c->n, c->x, c->y);
    else yq_grad_silu_forward(c->n, c->x, c->y);
    return gc_dot(c->n, c->r, c->y);
}
static void test_activations(void **state) {
    (void)state;
    uint64_t seed = 21;
    for (int sig = 0; sig < 2; sig++) {
        act_ctx c = {57, sig, gc_randn(57, &seed, 3), gc_zeros(57), gc_randn(57, &seed, 1)};
        float *dx = gc_zeros(57);
        act_loss(&c);
        if (sig) yq_grad_sigmoid_backward(c.n, c.y, c.r, dx);
        else yq_grad_silu_backward(c.n, c.x, c.r, dx);
        gc_check(sig ? "sigmoid" : "silu", c.x, dx, c.n, act_loss, &c, 0.1, seed);
        free(c.x), free(c.y), free(c.r), free(dx);
    }
}

/* ---- broadcasting Add / Mul ------------------------------------------------------------ */
typedef struct bin_ctx {
    yq_bcast bc;
    int mul;
    float *a, *b, *y, *r;
} bin_ctx;
static double bin_loss(void *p) {
    bin_ctx *c = p;
    if (c->mul) yq_grad_mul_forward(&c->bc, c->a, c->b, c->y);
    else yq_grad_add_forward(&c->bc, c->a, c->b, c->y);
    return gc_dot(c->bc.n, c->r, c->y);
}
static void check_binary(int ra, const int64_t *da, int rb, const int64_t *db, uint64_t seed) {
    for (int mul = 0; mul < 2; mul++) {
        bin_ctx c = {0};
        c.mul = mul;
        assert_int_equal(yq_bcast_init(&c.bc, ra, da, rb, db), YQ_OK);
        c.a = gc_randn(c.bc.na, &seed, 1), c.b = gc_randn(c.bc.nb, &seed, 1), c.y = gc_zeros(c.bc.n);
        c.r = gc_randn(c.bc.n, &seed, 1);
        float *ga = gc_zeros(c.bc.na), *gb = gc_zeros(c.bc.nb);
        if (mul) yq_grad_mul_backward(&c.bc, c.a, c.b, c.r, ga, gb);
        else yq_grad_add_backward(&c.bc, c.r, ga, gb);
        gc_check(mul ? "mul da" : "add da", c.a, ga, c.bc.na, bin_loss, &c, 1, seed);
        gc_check(mul ? "mul db" : "add db", c.b, gb, c.bc.nb, bin_loss, &c, 1, seed + 1);
        free(c.a), free(c.b), free(c.y), free(c.r), free(ga), free(gb);
    }
}
static void test_broadcast(void **state) {
    (void)state;
    check_binary(4, (int64_t[]){2, 3, 4, 5}, 3, (int64_t[]){3, 1, 5}, 31);
    check_binary(2, (int64_t[]){4, 1}, 3, (int64_t[]){2, 1, 6}, 32);
    check_binary(1, (int64_t[]){1}, 2, (int64_t[]){3, 4}, 33);
    check_binary(3, (int64_t[]){2, 3, 4}, 3, (int64_t[]){2, 3, 4}, 34);
    yq_bcast bc;
    assert_int_equal(yq_bcast_init(&bc, 1, (int64_t[]){3}, 1, (int64_t[]){4}), YQ_ERR_INVALID);
    /* the forward matches numpy on a hand example: [2,1] + [3] */
    assert_int_equal(yq_bcast_init(&bc, 2, (int64_t[]){2, 1}, 1, (int64_t[]){3}), YQ_OK);
    float a[2] = {10, 20}, b[3] = {1, 2, 3}, y[6];
    yq_grad_add_forward(&bc, a, b, y);
    const float want[6] = {11, 12, 13, 21, 22, 23};
    assert_memory_equal(y, want, sizeof want);
}

/* ---- Concat / Split ------------------------------------------------------------------------ */
typedef struct cat_ctx {
    int split;
    float *x[3], *y, *ys[3], *r, *rs[3];
    int64_t len[3], outer, inner;
} cat_ctx;
static double cat_loss(void *p) {
    cat_ctx *c = p;
    if (!c->split) {
        yq_grad_concat_forward(3, (const float *const *)c->x, c->len, c->outer, c->inner, c->y);
        return gc_dot(c->outer * (c->len[0] + c->len[1] + c->len[2]) * c->inner, c->r, c->y);
    }
    yq_grad_split_forward(3, c->y, c->len, c->outer, c->inner, c->ys);
    double s = 0;
    for (int i = 0; i < 3; i++) s += gc_dot(c->outer * c->len[i] * c->inner, c->rs[i], c->ys[i]);
    return s;
}
static void test_concat_split(void **state) {
    (void)state;
    uint64_t seed = 41;
    cat_ctx c = {0};
    c.len[0] = 2, c.len[1] = 3, c.len[2] = 1, c.outer = 3, c.inner = 5;
    const int64_t tot = c.outer * 6 * c.inner;
    for (int i = 0; i < 3; i++) {
        c.x[i] = gc_randn(c.outer * c.len[i] * c.inner, &seed, 1);
        c.ys[i] = gc_zeros(c.outer * c.len[i] * c.inner);
        c.rs[i] = gc_randn(c.outer * c.len[i] * c.inner, &seed, 1);
    }
    c.y = gc_randn(tot, &seed, 1), c.r = gc_randn(tot, &seed, 1);
    float *dx[3];
    for (int i = 0; i < 3; i++) dx[i] = gc_zeros(c.outer * c.len[i] * c.inner);
    yq_grad_concat_backward(3, c.r, c.len, c.outer, c.inner, dx);
    for (int i = 0; i < 3; i++) gc_check("concat dx_i", c.x[i], dx[i], c.outer * c.len[i] * c.inner, cat_loss, &c, 1, 7);
    c.split = 1;
    float *dy = gc_zeros(tot);
    yq_grad_split_backward(3, (const float *const *)c.rs, c.len, c.outer, c.inner, dy);
    gc_check("split dx", c.y, dy, tot, cat_loss, &c, 1, 8);
    /* split(concat(x)) == x */
    c.split = 0;
    cat_loss(&c);
    yq_grad_split_forward(3, c.y, c.len, c.outer, c.inner, c.ys);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(c.ys[i], c.x[i], (size_t)(c.outer * c.len[i] * c.inner) * sizeof(float));
    for (int i = 0; i < 3; i++) free(c.x[i]), free(c.ys[i]), free(c.rs[i]), free(dx[i]);
    free(c.y), free(c.r), free(dy);
}

/* ---- MaxPool ------------------------------------------------------------------------------- */
typedef struct mp_ctx {
    yq_pool2d_shape s;
    float *x, *y, *r;
    int64_t *am;
} mp_ctx;
static double mp_loss(void *p) {
    mp_ctx *c = p;
    yq_grad_maxpool2d_forward(&c->s, c->x, c->y, c->am);
    return gc_dot(c->s.N * c->s.C * c->s.OH * c->s.OW, c->r, c->y);
}
static void test_maxpool(void **state) {
    (void)state;
    uint64_t seed = 51;
    const yq_pool2d_shape shapes[] = {
        {2, 3, 9, 8, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0}, /* YOLO's SPPF pool */
        {1, 2, 7, 7, 3, 2, 2, 2, 1, 2, 1, 0, 1, 1, 0, 0}, /* strided, dilated, asymmetric pad */
    };
    for (int k = 0; k < 2; k++) {
        mp_ctx c = {shapes[k], NULL, NULL, NULL, NULL};
        assert_int_equal(yq_pool2d_shape_check(&c.s), YQ_OK);
        const int64_t nx = c.s.N * c.s.C * c.s.H * c.s.W, ny = c.s.N * c.s.C * c.s.OH * c.s.OW;
        /* distinct values spaced well above the FD step: no ties can swap */
        c.x = gc_zeros(nx);
        for (int64_t i = 0; i < nx; i++) c.x[i] = (float)i * (4.0f / (float)nx); /* spacing > 2h */
        for (int64_t i = nx - 1; i > 0; i--) {
            int64_t j = (int64_t)(rng_next(&seed) % (uint64_t)(i + 1));
            float t = c.x[i];
            c.x[i] = c.x[j], c.x[j] = t;
        }
        c.y = gc_zeros(ny), c.r = gc_randn(ny, &seed, 1), c.am = malloc((size_t)ny * sizeof(int64_t));
        mp_loss(&c);
        float *dx = gc_zeros(nx);
        yq_grad_maxpool2d_backward(&c.s, c.am, c.r, dx);
        gc_check("maxpool dx", c.x, dx, nx, mp_loss, &c, 0.1, seed);
        free(c.x), free(c.y), free(c.r), free(c.am), free(dx);
    }
    yq_pool2d_shape bad = {1, 1, 2, 2, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    assert_int_equal(yq_pool2d_shape_check(&bad), YQ_ERR_INVALID);
}

/* ---- Resize nearest ------------------------------------------------------------------------- */
typedef struct rs_ctx {
    int64_t P, H, W, OH, OW;
    int64_t *my, *mx;
    float *x, *y, *r;
} rs_ctx;
static double rs_loss(void *p) {
    rs_ctx *c = p;
    yq_grad_resize_nearest_forward(c->P, c->H, c->W, c->OH, c->OW, c->my, c->mx, c->x, c->y);
    return gc_dot(c->P * c->OH * c->OW, c->r, c->y);
}
static void test_resize(void **state) {
    (void)state;
    int64_t m[8];
    yq_resize_nearest_map(4, 8, m); /* 2× upsample = floor(o/2) */
    for (int i = 0; i < 8; i++) assert_int_equal(m[i], i / 2);
    yq_resize_nearest_map(6, 3, m); /* 0.5×: (o+0.5)·2−0.5 = 0.5, 2.5, 4.5 → 0, 2, 4 (halves go down) */
    assert_int_equal(m[0], 0), assert_int_equal(m[1], 2), assert_int_equal(m[2], 4);
    uint64_t seed = 61;
    rs_ctx c = {3, 4, 5, 8, 7, malloc(8 * sizeof(int64_t)), malloc(7 * sizeof(int64_t)), NULL, NULL, NULL};
    yq_resize_nearest_map(c.H, c.OH, c.my);
    yq_resize_nearest_map(c.W, c.OW, c.mx);
    c.x = gc_randn(c.P * c.H * c.W, &seed, 1), c.y = gc_zeros(c.P * c.OH * c.OW), c.r = gc_randn(c.P * c.OH * c.OW, &seed, 1);
    float *dx = gc_zeros(c.P * c.H * c.W);
    yq_grad_resize_nearest_backward(c.P, c.H, c.W, c.OH, c.OW, c.my, c.mx, c.r, dx);
    gc_check("resize nearest dx", c.x, dx, c.P * c.H * c.W, rs_loss, &c, 1, seed);
    free(c.my), free(c.mx), free(c.x), free(c.y), free(c.r), free(dx);
}

/* ---- Reshape / Transpose ---------------------------------------------------------------------- */
typedef struct tr_ctx {
    int64_t dims[4];
    int perm[4];
    float *x, *y, *r;
} tr_ctx;
static double tr_loss(void *p) {
    tr_ctx *c = p;
    yq_grad_transpose_forward(4, c->dims, c->perm, c->x, c->y);
    return gc_dot(2 * 3 * 4 * 5, c->r, c->y);
}
static void test_transpose_reshape(void **state) {
    (void)state;
    uint64_t seed = 71;
    tr_ctx c = {{2, 3, 4, 5}, {2, 0, 3, 1}, NULL, NULL, NULL};
    c.x = gc_randn(120, &seed, 1), c.y = gc_zeros(120), c.r = gc_randn(120, &seed, 1);
    tr_loss(&c);
    /* y[k,i,l,j] = x[i,j,k,l]; y has shape [4,2,5,3] */
    assert_true(c.y[((3 * 2 + 1) * 5 + 2) * 3 + 1] == c.x[((1 * 3 + 1) * 4 + 3) * 5 + 2]);
    float *dx = gc_zeros(120);
    yq_grad_transpose_backward(4, c.dims, c.perm, c.r, dx);
    gc_check("transpose dx", c.x, dx, 120, tr_loss, &c, 1, seed);
    /* reshape: dx += dy */
    float *d2 = gc_zeros(120);
    yq_grad_reshape_backward(120, c.r, d2);
    yq_grad_reshape_backward(120, c.r, d2);
    for (int i = 0; i < 120; i++) assert_true(d2[i] == 2.0f * c.r[i]);
    free(c.x), free(c.y), free(c.r), free(dx), free(d2);
}

/* ---- MatMul ---------------------------------------------------------------------------------------- */
typedef struct mm_ctx {
    int64_t B, M, K, N;
    int wb;
    float *a, *w, *y, *r;
} mm_ctx;
static double mm_loss(void *p) {
    mm_ctx *c = p;
    assert_int_equal(yq_grad_matmul_forward(c->B, c->M, c->K, c->N, c->a, c->w, c->wb, c->y), YQ_OK);
    return gc_dot(c->B * c->M * c->N, c->r, c->y);
}
static void test_matmul(void **state) {
    (void)state;
    uint64_t seed = 81;
    for (int wb = 0; wb < 2; wb++) {
        mm_ctx c = {3, 5, 7, 6, wb, NULL, NULL, NULL, NULL};
        const int64_t na = c.B * c.M * c.K, nw = (wb ? c.B : 1) * c.K * c.N, ny = c.B * c.M * c.N;
        c.a = gc_randn(na, &seed, 1), c.w = gc_randn(nw, &seed, 1), c.y = gc_zeros(ny), c.r = gc_randn(ny, &seed, 1);
        float *da = gc_zeros(na), *dw = gc_zeros(nw);
        assert_int_equal(yq_grad_matmul_backward(c.B, c.M, c.K, c.N, c.a, c.w, c.wb, c.r, da, dw), YQ_OK);
        gc_check(wb ? "matmul (batched w) da" : "matmul (shared w) da", c.a, da, na, mm_loss, &c, 1, seed);
        gc_check(wb ? "matmul (batched w) dw" : "matmul (shared w) dw", c.w, dw, nw, mm_loss, &c, 1, seed + 1);
        free(c.a), free(c.w), free(c.y), free(c.r), free(da), free(dw);
    }
}

/* ---- Softmax ------------------------------------------------------------------------------------------ */
typedef struct sm_ctx {
    int64_t rows, n;
    float *x, *y, *r;
} sm_ctx;
static double sm_loss(void *p) {
    sm_ctx *c = p;
    yq_grad_softmax_forward(c->rows, c->n, c->x, c->y);
    return gc_dot(c->rows * c->n, c->r, c->y);
}
static void test_softmax(void **state) {
    (void)state;
    uint64_t seed = 91;
    sm_ctx c = {4, 9, NULL, NULL, NULL};
    c.x = gc_randn(36, &seed, 2), c.y = gc_zeros(36), c.r = gc_randn(36, &seed, 1);
    sm_loss(&c);
    for (int r = 0; r < 4; r++) {
        double s = 0;
        for (int i = 0; i < 9; i++) s += c.y[r * 9 + i];
        assert_true(fabs(s - 1.0) < 1e-6);
    }
    float *dx = gc_zeros(36);
    yq_grad_softmax_backward(c.rows, c.n, c.y, c.r, dx);
    gc_check("softmax dx", c.x, dx, 36, sm_loss, &c, 0.3, seed);
    free(c.x), free(c.y), free(c.r), free(dx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_backward), cmocka_unit_test(test_activations),
        cmocka_unit_test(test_broadcast),     cmocka_unit_test(test_concat_split),
        cmocka_unit_test(test_maxpool),       cmocka_unit_test(test_resize),
        cmocka_unit_test(test_transpose_reshape), cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
