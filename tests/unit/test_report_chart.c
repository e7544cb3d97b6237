/* Charts: sizes, bars proportional to values, sign handling, points placed,
 * PNG output readable back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "report/chart.h"
#include "vision/image.h"

static int is_bar_blue(const yq_image *img, int x, int y) {
    const uint8_t *p = img->px + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
    return p[0] == 52 && p[1] == 120 && p[2] == 190;
}

/* Length in pixels of the blue run on row y. */
static int blue_run(const yq_image *img, int y) {
    int n = 0;
    for (int x = 0; x < img->w; x++) n += is_bar_blue(img, x, y);
    return n;
}

static void test_bars_proportional(void **state) {
    (void)state;
    const char *labels[] = {"layer.0", "layer.1", "a/very/long/name/that/keeps/going/on/and/on/model.22.cv3"};
    double values[] = {10.0, 20.0, 5.0};
    yq_image img;
    assert_int_equal(yq_chart_bars("Output SQNR per layer", "dB", labels, values, 3, &img), YQ_OK);
    assert_true(img.w > 500 && img.h > 60);
    /* find the three bar rows by scanning down the image */
    int runs[3], found = 0, last = -10;
    for (int y = 0; y < img.h && found < 3; y++) {
        int r = blue_run(&img, y);
        if (r > 0 && y > last + 3) runs[found++] = r, last = y;
        if (r > 0) last = y;
    }
    assert_int_equal(found, 3);
    assert_true(abs(runs[1] - 2 * runs[0]) <= 2);
    assert_true(abs(runs[0] - 2 * runs[2]) <= 2);
    char path[512];
    snprintf(path, sizeof path, "%s/bars.png", yqt_tmpdir());
    assert_int_equal(yq_image_save_png(path, &img), YQ_OK);
    yq_image back;
    assert_int_equal(yq_image_load(path, &back), YQ_OK);
    assert_int_equal(back.w, img.w);
    assert_memory_equal(back.px, img.px, (size_t)img.w * (size_t)img.h * 3);
    yq_image_free(&back);
    yq_image_free(&img);
}

static void test_bars_negative_and_nan(void **state) {
    (void)state;
    const char *labels[] = {"gain", "loss", "missing"};
    double values[] = {1.5, -3.0, NAN};
    yq_image img;
    assert_int_equal(yq_chart_bars("dmAP", NULL, labels, values, 3, &img), YQ_OK);
    int red = 0;
    for (size_t i = 0; i < (size_t)img.w * (size_t)img.h; i++)
        red += img.px[i * 3] == 200 && img.px[i * 3 + 1] == 70 && img.px[i * 3 + 2] == 60;
    assert_true(red > 100); /* the negative bar is drawn */
    yq_image_free(&img);
    assert_int_equal(yq_chart_bars("empty", NULL, labels, values, 0, &img), YQ_ERR_ARG);
}

static long black_pixels(const yq_image *img) {
    long n = 0;
    for (size_t i = 0; i < (size_t)img->w * (size_t)img->h; i++)
        n += img->px[i * 3] == 20 && img->px[i * 3 + 1] == 20 && img->px[i * 3 + 2] == 20; /* the charts' text colour */
    return n;
}

/* Labels of crowded points do not overwrite each other: the black text pixels
 * of the chart with every label are the sum of each label's own pixels (the
 * run bundle's fp16/fp32 and w8a16/w8a8 points once printed over each other). */
static void test_scatter_labels_apart(void **state) {
    (void)state;
    const char *names[6] = {"baseline-fp32", "baseline-fp16", "w8a16", "w8a8", "w4a16", "w4a8"};
    const double xs[6] = {9.30, 4.70, 2.47, 2.47, 1.33, 1.33}, ys[6] = {0.3912, 0.3912, 0.3912, 0.3925, 0.3790, 0.3727};
    yq_chart_point pts[6];
    yq_image img;
    long base = 0, sum = 0;
    for (int only = -1; only <= 6; only++) { /* -1: no label; 0..5: only that one; 6: all */
        for (int i = 0; i < 6; i++) pts[i] = (yq_chart_point){xs[i], ys[i], only == 6 || only == i ? names[i] : NULL};
        assert_int_equal(yq_chart_scatter("Accuracy vs model size", "MB", "mAP", pts, 6, &img), YQ_OK);
        long b = black_pixels(&img);
        yq_image_free(&img);
        if (only < 0) base = b;
        else if (only < 6) {
            assert_true(b > base + 50); /* the label was drawn */
            sum += b - base;
        } else {
            assert_int_equal(b - base, sum);
        }
    }
}

static void test_scatter_and_line(void **state) {
    (void)state;
    yq_chart_point pts[] = {{9.3, 0.391, "fp32"}, {2.4, 0.389, "w8a8"}, {1.3, 0.37, "w4a8"}};
    yq_image img;
    assert_int_equal(yq_chart_scatter("mAP vs size", "weight MB", "mAP50-95", pts, 3, &img), YQ_OK);
    assert_int_equal(img.w, 760);
    /* the highest point (fp32, largest x) is right of and above the lowest */
    int minx = img.w, maxx = 0;
    for (int y = 0; y < img.h; y++)
        for (int x = 0; x < img.w; x++) {
            const uint8_t *p = img.px + ((size_t)y * (size_t)img.w + (size_t)x) * 3;
            if (p[0] == 200 && p[1] == 70 && p[2] == 60) {
                if (x < minx) minx = x;
                if (x > maxx) maxx = x;
            }
        }
    assert_true(maxx - minx > 300);
    char spath[512];
    snprintf(spath, sizeof spath, "%s/scatter.png", yqt_tmpdir());
    assert_int_equal(yq_image_save_png(spath, &img), YQ_OK);
    yq_image_free(&img);
    double x[50], y[50];
    for (int i = 0; i < 50; i++) x[i] = i, y[i] = exp(-i / 10.0);
    assert_int_equal(yq_chart_line("loss", "step", "loss", x, y, 50, &img), YQ_OK);
    int blue = 0;
    for (int yy = 0; yy < img.h; yy++) blue += blue_run(&img, yy);
    assert_true(blue > 400); /* a 2-px polyline across ~650 px of plot */
    char path[512];
    snprintf(path, sizeof path, "%s/line.png", yqt_tmpdir());
    assert_int_equal(yq_image_save_png(path, &img), YQ_OK);
    yq_image_free(&img);
    assert_true(yq_chart_nice_step(0, 1, 5) == 0.2);
    assert_true(yq_chart_nice_step(0, 95, 6) == 20.0);
    assert_true(fabs(yq_chart_nice_step(0.36, 0.40, 5) - 0.01) < 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bars_proportional),
        cmocka_unit_test(test_bars_negative_and_nan),
        cmocka_unit_test(test_scatter_and_line),
        cmocka_unit_test(test_scatter_labels_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
