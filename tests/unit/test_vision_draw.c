/* Drawing: box outlines where the box is, labels on a filled background, the
 * PNG written with the image's size, everything clipped to the image. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vision/coco_names.h"
#include "vision/draw.h"
#include "vision/image.h"

static const uint8_t *px_at(const yq_image *img, int x, int y) { return img->px + ((size_t)y * img->w + x) * img->c; }

static int is_color(const yq_image *img, int x, int y, yq_rgb c) {
    const uint8_t *p = px_at(img, x, y);
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

static void fill(yq_image *img, uint8_t v) { memset(img->px, v, (size_t)img->w * img->h * img->c); }

static void test_draw_detection_png(void **state) {
    (void)state;
    yq_image img, back;
    assert_int_equal(yq_image_alloc(&img, 320, 240, 3), YQ_OK);
    fill(&img, 40);
    const yq_det det = {50.f, 60.f, 151.f, 161.f, 0.87f, 0};
    assert_int_equal(yq_draw_detections(&img, &det, 1, yq_coco_names, YQ_COCO_NUM_CLASSES), YQ_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/draw.png", yqt_tmpdir());
    assert_int_equal(yq_image_save_png(path, &img), YQ_OK);
    assert_int_equal(yq_image_load(path, &back), YQ_OK);
    assert_int_equal(back.w, 320);
    assert_int_equal(back.h, 240);
    assert_memory_equal(back.px, img.px, (size_t)320 * 240 * 3);

    const yq_rgb c = yq_class_color(0), bg = {40, 40, 40};
    /* the box covers pixels 50..150 x 60..160; a 2-px outline inside that */
    assert_true(is_color(&back, 50, 110, c));
    assert_true(is_color(&back, 51, 110, c));
    assert_true(is_color(&back, 52, 110, bg));
    assert_true(is_color(&back, 150, 110, c));
    assert_true(is_color(&back, 149, 110, c));
    assert_true(is_color(&back, 148, 110, bg));
    assert_true(is_color(&back, 100, 160, c));
    assert_true(is_color(&back, 100, 159, c));
    assert_true(is_color(&back, 100, 158, bg));
    assert_true(is_color(&back, 100, 110, bg)); /* inside untouched */
    assert_true(is_color(&back, 49, 110, bg));  /* outside untouched */
    assert_true(is_color(&back, 300, 230, bg));
    /* label "person 0.87" sits on a filled band right above the box, in white on red */
    assert_true(is_color(&back, 50, 59, c));
    const int band_h = yq_text_height(1) + 4; /* scale 1 at 240 px, pad 2 */
    int text_px = 0;
    for (int y = 60 - band_h; y < 60; y++)
        for (int x = 50; x < 50 + yq_text_width("person 0.87", 1) + 4; x++) {
            assert_false(is_color(&back, x, y, bg));
            text_px += is_color(&back, x, y, (yq_rgb){255, 255, 255});
        }
    assert_true(text_px > 40);
    assert_true(is_color(&back, 50, 60 - band_h - 1, bg));
    yq_image_free(&back);
    yq_image_free(&img);
}

static void test_label_and_clipping(void **state) {
    (void)state;
    yq_image img;
    assert_int_equal(yq_image_alloc(&img, 64, 48, 4), YQ_OK); /* RGBA: alpha untouched */
    fill(&img, 7);
    const yq_det dets[3] = {
        {2.f, 1.f, 30.f, 20.f, 0.5f, 3},        /* no room above: label inside the top */
        {-50.f, -50.f, 500.f, 500.f, 0.9f, 15}, /* bigger than the image */
        {60.f, 40.f, 90.f, 90.f, 0.3f, 200},    /* partly outside; class beyond the names */
    };
    assert_int_equal(yq_draw_detections(&img, dets, 1, yq_coco_names, YQ_COCO_NUM_CLASSES), YQ_OK);
    const yq_rgb c3 = yq_class_color(3);
    assert_true(is_color(&img, 3, 2, c3)); /* label band starts at the box's top-left corner */
    assert_true(is_color(&img, 10, 11, c3)); /* and covers 7 + 2*2 rows (1..11) */
    assert_false(is_color(&img, 10, 12, c3));
    assert_int_equal(yq_draw_detections(&img, dets + 1, 2, yq_coco_names, YQ_COCO_NUM_CLASSES), YQ_OK);
    for (size_t i = 0; i < (size_t)64 * 48; i++) assert_int_equal(img.px[4 * i + 3], 7);
    /* the box larger than the image outlines its border */
    assert_true(is_color(&img, 0, 20, yq_class_color(15)));
    assert_true(is_color(&img, 63, 20, yq_class_color(15)));
    assert_true(is_color(&img, 30, 47, yq_class_color(15)));
    /* a label wider than the room right of its box shifts left to stay on the image */
    assert_true(is_color(&img, 0, 30, yq_class_color(200)));
    yq_image_free(&img);

    yq_image gray;
    assert_int_equal(yq_image_alloc(&gray, 8, 8, 1), YQ_OK);
    assert_int_equal(yq_draw_detections(&gray, dets, 1, NULL, 0), YQ_ERR_ARG);
    yq_image_free(&gray);
}

static void test_font(void **state) {
    (void)state;
    assert_int_equal(yq_text_width("ab", 2), (2 * 6 - 1) * 2);
    assert_int_equal(yq_text_width("", 3), 0);
    assert_int_equal(yq_text_height(3), 21);
    yq_image img;
    assert_int_equal(yq_image_alloc(&img, 12, 7, 3), YQ_OK);
    const yq_rgb white = {255, 255, 255}, black = {0, 0, 0};
    /* 'T': full top row, then the middle column only */
    yq_draw_text(&img, 0, 0, "T", 1, white);
    for (int x = 0; x < 5; x++) assert_true(is_color(&img, x, 0, white));
    for (int y = 1; y < 7; y++)
        for (int x = 0; x < 5; x++) assert_true(is_color(&img, x, y, x == 2 ? white : black));
    /* 'L' at the next cell: left column and full bottom row */
    yq_draw_text(&img, 6, 0, "L", 1, white);
    for (int y = 0; y < 7; y++) assert_true(is_color(&img, 6, y, white));
    for (int x = 6; x < 11; x++) assert_true(is_color(&img, x, 6, white));
    assert_true(is_color(&img, 8, 3, black));
    /* a space draws nothing; non-ASCII bytes draw '?' instead of reading out of the table */
    memset(img.px, 0, (size_t)12 * 7 * 3);
    yq_draw_text(&img, 0, 0, " ", 1, white);
    for (size_t i = 0; i < (size_t)12 * 7 * 3; i++) assert_int_equal(img.px[i], 0);
    yq_draw_text(&img, 0, 0, "\xc3\xa9", 1, white);
    assert_true(is_color(&img, 1, 0, white)); /* '?' top row .###. */
    yq_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw_detection_png),
        cmocka_unit_test(test_label_and_clipping),
        cmocka_unit_test(test_font),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
