/* Half-sampling spread of mAP (eval/spread.h) on built cases: a perfect
 * detector has no spread, a model compared with itself has a difference of
 * 0 +- 0, a detector right on half of the images spreads, and the draws
 * are a function of the seed. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/spread.h"

#define NIMG 20

/* NIMG images, one 20x20 object of category 1 in each at (10 i mod 200, 30) */
static yq_coco_gt *make_gt(void) {
    char js[16384];
    size_t n = 0;
    n += (size_t)snprintf(js + n, sizeof js - n, "{\"images\": [");
    for (int i = 0; i < NIMG; i++)
        n += (size_t)snprintf(js + n, sizeof js - n, "%s{\"id\": %d, \"file_name\": \"%d.jpg\", \"width\": 640, \"height\": 480}",
                              i ? ", " : "", i + 1, i + 1);
    n += (size_t)snprintf(js + n, sizeof js - n, "], \"categories\": [{\"id\": 1, \"name\": \"a\"}], \"annotations\": [");
    for (int i = 0; i < NIMG; i++)
        n += (size_t)snprintf(js + n, sizeof js - n,
                              "%s{\"id\": %d, \"image_id\": %d, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [%d, 30, 20, 20], "
                              "\"area\": 400}",
                              i ? ", " : "", i + 1, i + 1, (10 * i) % 200);
    n += (size_t)snprintf(js + n, sizeof js - n, "]}");
    assert_true(n < sizeof js);
    yq_coco_gt *gt = NULL;
    if (yq_coco_gt_parse(js, n, "spread-gt", &gt) != YQ_OK) fail_msg("%s", yq_last_error());
    return gt;
}

static void test_spread(void **state) {
    (void)state;
    yq_coco_gt *gt = make_gt();
    int64_t ids[NIMG];
    yq_coco_det perfect[NIMG], half_right[NIMG];
    for (int i = 0; i < NIMG; i++) {
        ids[i] = i + 1;
        perfect[i] = (yq_coco_det){i + 1, 1, {(10.0 * i) - 200.0 * ((10 * i) / 200), 30, 20, 20}, 0.9};
        half_right[i] = perfect[i];
        if (i % 2) half_right[i].bbox[1] = 300, half_right[i].score = 0.95; /* a confident miss on odd images */
    }
    yq_map_spread s;
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, perfect, NIMG, NULL, 0, 30, 1, &s), YQ_OK);
    assert_true(s.ap > 0.999 && s.se_ap < 1e-12 && !s.paired);
    /* compared with itself: 0 +- 0 */
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, half_right, NIMG, half_right, NIMG, 30, 1, &s), YQ_OK);
    assert_true(s.paired && s.diff_ap == 0 && s.se_diff_ap == 0 && s.se_diff_ap50 == 0);
    /* right on half of the images: the halves differ in how many of those they hold */
    assert_true(s.se_ap > 0.01);
    /* against the perfect detector: the difference is negative and spreads too */
    yq_map_spread p, q;
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, half_right, NIMG, perfect, NIMG, 30, 1, &p), YQ_OK);
    assert_true(p.diff_ap < -0.3 && p.se_diff_ap > 0.01);
    /* the same seed gives the same numbers, another seed other halves */
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, half_right, NIMG, perfect, NIMG, 30, 1, &q), YQ_OK);
    assert_memory_equal(&p, &q, sizeof p);
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, half_right, NIMG, perfect, NIMG, 30, 2, &q), YQ_OK);
    assert_true(q.se_diff_ap != p.se_diff_ap && q.diff_ap == p.diff_ap);
    /* too few images or draws */
    assert_int_equal(yq_map_spread_compute(gt, ids, 1, perfect, NIMG, NULL, 0, 30, 1, &s), YQ_ERR_ARG);
    assert_int_equal(yq_map_spread_compute(gt, ids, NIMG, perfect, NIMG, NULL, 0, 0, 1, &s), YQ_ERR_ARG);
    yq_coco_gt_free(gt);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_spread)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
