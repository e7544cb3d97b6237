/* Letterbox geometry, OpenCV-exact bilinear resize, and the pixel-exact match
 * with the OpenCV-made letterboxes in ../shared/preprocess-vectors (tolerance:
 * none, max |diff| must be 0). */
#include "testutil.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/atomic_file.h"
#include "vision/image.h"
#include "vision/letterbox.h"

static void test_plan_hand_cases(void **state) {
    (void)state;
    yq_letterbox lb;
    /* 640x480 at 640: no resize, 80 rows of padding above and below */
    assert_int_equal(yq_letterbox_plan(640, 480, 640, 640, &lb), YQ_OK);
    assert_int_equal(lb.new_w, 640);
    assert_int_equal(lb.new_h, 480);
    assert_int_equal(lb.pad_top, 80);
    assert_int_equal(lb.pad_bottom, 80);
    assert_int_equal(lb.pad_left, 0);
    assert_true(lb.ratio == 1.0);
    /* 500x332: r = 1.28, 332*1.28 = 424.96 -> 425, dh = 107.5 -> top 107, bottom 108 */
    assert_int_equal(yq_letterbox_plan(500, 332, 640, 640, &lb), YQ_OK);
    assert_int_equal(lb.new_w, 640);
    assert_int_equal(lb.new_h, 425);
    assert_int_equal(lb.pad_top, 107);
    assert_int_equal(lb.pad_bottom, 108);
    /* 358x640 at 320: r = 0.5, new 179x320, dw = 70.5 -> left 70, right 71 */
    assert_int_equal(yq_letterbox_plan(358, 640, 320, 320, &lb), YQ_OK);
    assert_int_equal(lb.new_w, 179);
    assert_int_equal(lb.pad_left, 70);
    assert_int_equal(lb.pad_right, 71);
    /* Python round is half-to-even: 1280x5 at 640, r = 0.5, 5*0.5 = 2.5 -> 2 (not 3) */
    assert_int_equal(yq_letterbox_plan(1280, 5, 640, 640, &lb), YQ_OK);
    assert_int_equal(lb.new_h, 2);
    assert_int_equal(lb.pad_top, 319);
    assert_int_equal(lb.pad_bottom, 319);
    /* 1280x7: 3.5 -> 4 (even) */
    assert_int_equal(yq_letterbox_plan(1280, 7, 640, 640, &lb), YQ_OK);
    assert_int_equal(lb.new_h, 4);
    /* an image that would vanish is refused */
    assert_int_not_equal(yq_letterbox_plan(100000, 1, 640, 640, &lb), YQ_OK);
    assert_int_not_equal(yq_letterbox_plan(0, 10, 640, 640, &lb), YQ_OK);
}

/* 2x1 gray -> 4x1, computed by hand from OpenCV's rules:
 * dx0: fx=-0.25 -> clamped (sx 0, w 2048/0) -> 0
 * dx1: fx=0.25 -> (1536, 512) -> 512*100/2048 = 25
 * dx2: fx=0.75 -> (512, 1536) -> 75
 * dx3: fx=1.25 -> right edge, sx=1 alone -> 100
 * (one row, so the vertical weights are (2048, 0)). */
static void test_resize_hand_example(void **state) {
    (void)state;
    uint8_t px[2] = {0, 100};
    yq_image src = {2, 1, 1, px}, dst;
    assert_int_equal(yq_resize_linear(&src, 4, 1, &dst), YQ_OK);
    assert_int_equal(dst.px[0], 0);
    assert_int_equal(dst.px[1], 25);
    assert_int_equal(dst.px[2], 75);
    assert_int_equal(dst.px[3], 100);
    yq_image_free(&dst);
    /* 4x4 -> 2x2 is the 2x2 box filter with +2 rounding: (1+2+5+6+2)>>2 = 4 */
    uint8_t q[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    yq_image s4 = {4, 4, 1, q};
    assert_int_equal(yq_resize_linear(&s4, 2, 2, &dst), YQ_OK);
    assert_int_equal(dst.px[0], (1 + 2 + 5 + 6 + 2) >> 2);
    assert_int_equal(dst.px[1], (3 + 4 + 7 + 8 + 2) >> 2);
    assert_int_equal(dst.px[2], (9 + 10 + 13 + 14 + 2) >> 2);
    assert_int_equal(dst.px[3], (11 + 12 + 15 + 16 + 2) >> 2);
    yq_image_free(&dst);
}

/* OpenCV's vertical pass truncates: 2x2 {{199,221},{1,228}} -> 3x3, output (x=1, y=2).
 * Columns: fx = 1.5*(2/3) - 0.5 = 0.5 -> weights (1024, 1024) on source columns 0, 1:
 *   row 1 gives h = 1*1024 + 228*1024 = 234496.
 * Rows: fy = 2.5*(2/3) - 0.5 = 1.1667 -> sy = 1, weights (1707, 341); row 2 clamps to 1.
 * (h >> 4) = 14656; 14656*1707 >> 16 = 381; 14656*341 >> 16 = 76; (381+76+2) >> 2 = 114,
 * where exact rounding, (h*2048 + 2^21) >> 22, would give 115. */
static void test_resize_vertical_truncation(void **state) {
    (void)state;
    uint8_t px[4] = {199, 221, 1, 228};
    yq_image src = {2, 2, 1, px}, dst;
    assert_int_equal(yq_resize_linear(&src, 3, 3, &dst), YQ_OK);
    const uint8_t expect[9] = {199, 210, 221, 100, 162, 225, 1, 114, 228};
    assert_memory_equal(dst.px, expect, 9);
    yq_image_free(&dst);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* The fast (row-cached, table-driven) resize against the per-pixel reference on
 * random images: up/down/odd ratios, 2x, edges, 1/3/4 channels. */
static void test_resize_fast_matches_reference(void **state) {
    (void)state;
    static const int sizes[][4] = {
        {461, 500, 590, 640}, {17, 9, 40, 23}, {40, 23, 17, 9}, {64, 48, 32, 24}, {5, 3, 16, 11},
        {1, 1, 7, 5},         {3, 1, 1, 1},    {31, 17, 31, 40}, {100, 60, 37, 71}, {8, 8, 11, 8},
        {13, 7, 29, 3},       {2, 2, 3, 3},   {640, 476, 320, 238},
    };
    const int channels[] = {1, 3, 4};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int ci = 0; ci < 3; ci++) {
            const int c = channels[ci];
            yq_image src, a, b;
            assert_int_equal(yq_image_alloc(&src, sizes[i][0], sizes[i][1], c), YQ_OK);
            for (size_t k = 0; k < (size_t)src.w * src.h * c; k++) src.px[k] = (uint8_t)rnd();
            assert_int_equal(yq_resize_linear(&src, sizes[i][2], sizes[i][3], &a), YQ_OK);
            assert_int_equal(yq_resize_linear_ref(&src, sizes[i][2], sizes[i][3], &b), YQ_OK);
            assert_int_equal(a.w, sizes[i][2]);
            assert_int_equal(a.h, sizes[i][3]);
            assert_memory_equal(a.px, b.px, (size_t)a.w * a.h * c);
            yq_image_free(&src);
            yq_image_free(&a);
            yq_image_free(&b);
        }
    }
}

static cJSON *load_expected(void) {
    const char *p = yqt_shared_path("preprocess-vectors/expected.json");
    unsigned char *data;
    size_t len;
    if (!p || yq_read_file(p, &data, &len) != YQ_OK) return NULL;
    cJSON *j = cJSON_Parse((const char *)data);
    free(data);
    return j;
}

static int json_int(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    return v->valueint;
}

static void test_vectors_pixel_exact(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    cJSON *root = load_expected();
    if (!root) {
        print_message("SKIP: preprocess-vectors/expected.json not found\n");
        skip();
    }
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    assert_true(cJSON_IsArray(cases));
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        char img_path[4096], ref_path[4096];
        const char *image = cJSON_GetObjectItemCaseSensitive(c, "image")->valuestring;
        const char *boxed = cJSON_GetObjectItemCaseSensitive(c, "letterboxed")->valuestring;
        snprintf(img_path, sizeof img_path, "%s/preprocess-vectors/%s", yqt_shared_dir(), image);
        snprintf(ref_path, sizeof ref_path, "%s/preprocess-vectors/%s", yqt_shared_dir(), boxed);
        const int S = json_int(c, "imgsz");
        yq_image src, ref, out;
        assert_int_equal(yq_image_load(img_path, &src), YQ_OK);
        assert_int_equal(src.w, json_int(c, "width"));
        assert_int_equal(src.h, json_int(c, "height"));
        assert_int_equal(yq_image_load(ref_path, &ref), YQ_OK);
        yq_letterbox lb;
        assert_int_equal(yq_letterbox_image(&src, S, S, &out, &lb), YQ_OK);
        assert_int_equal(lb.new_w, json_int(c, "unpad_w"));
        assert_int_equal(lb.new_h, json_int(c, "unpad_h"));
        assert_int_equal(lb.pad_top, json_int(c, "pad_top"));
        assert_int_equal(lb.pad_bottom, json_int(c, "pad_bottom"));
        assert_int_equal(lb.pad_left, json_int(c, "pad_left"));
        assert_int_equal(lb.pad_right, json_int(c, "pad_right"));
        assert_true(fabs(lb.ratio - cJSON_GetObjectItemCaseSensitive(c, "ratio")->valuedouble) < 1e-12);
        assert_int_equal(ref.w, S);
        assert_int_equal(ref.h, S);
        int maxdiff = 0;
        long ndiff = 0;
        for (size_t k = 0; k < (size_t)S * S * 3; k++) {
            int d = abs((int)out.px[k] - (int)ref.px[k]);
            if (d) ndiff++;
            if (d > maxdiff) maxdiff = d;
        }
        print_message("%s: max |diff| %d, %ld values differ\n", boxed, maxdiff, ndiff);
        assert_int_equal(maxdiff, 0);
        /* the model input is the same pixels / 255 in planar order */
        float *t = malloc(sizeof(float) * 3 * S * S);
        assert_non_null(t);
        assert_int_equal(yq_letterbox_nchw(&src, S, S, t, &lb), YQ_OK);
        for (int y = 0; y < S; y += 7)
            for (int x = 0; x < S; x += 5)
                for (int ch = 0; ch < 3; ch++)
                    assert_true(t[(size_t)ch * S * S + (size_t)y * S + x] ==
                                (float)ref.px[((size_t)y * S + x) * 3 + ch] / 255.0f);
        free(t);
        yq_image_free(&src);
        yq_image_free(&ref);
        yq_image_free(&out);
        n++;
    }
    assert_int_equal(n, 7);
    cJSON_Delete(root);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Not a pass/fail on speed (CI machines vary); prints the time for the report
 * and keeps a generous ceiling that only a pathological slowdown would hit. */
static void test_letterbox_speed(void **state) {
    (void)state;
    yq_image src;
    assert_int_equal(yq_image_alloc(&src, 500, 332, 3), YQ_OK);
    for (size_t k = 0; k < (size_t)500 * 332 * 3; k++) src.px[k] = (uint8_t)rnd();
    float *t = malloc(sizeof(float) * 3 * 640 * 640);
    assert_non_null(t);
    yq_letterbox lb;
    const int reps = 20;
    double t0 = now_ms();
    for (int i = 0; i < reps; i++) assert_int_equal(yq_letterbox_nchw(&src, 640, 640, t, &lb), YQ_OK);
    double ms = (now_ms() - t0) / reps;
    print_message("letterbox 500x332 -> 640x640 NCHW float: %.2f ms\n", ms);
    assert_true(ms < 200.0);
    free(t);
    yq_image_free(&src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_hand_cases),
        cmocka_unit_test(test_resize_hand_example),
        cmocka_unit_test(test_resize_vertical_truncation),
        cmocka_unit_test(test_resize_fast_matches_reference),
        cmocka_unit_test(test_vectors_pixel_exact),
        cmocka_unit_test(test_letterbox_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
