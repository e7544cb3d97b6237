/* The COCO bbox protocol on small hand-built cases whose stats are worked out
 * by hand in the comments (pycocotools semantics). Tolerance 1e-12: a single
 * true positive has precision 1/(1+eps) in pycocotools, so "1" below means
 * 1 - 2.2e-16; everything else is exact arithmetic on small integers. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/coco_json.h"
#include "eval/cocoeval.h"

#define TOL 1e-12
#define NA -1.0 /* stat undefined: no ground truth in that area range */

typedef struct {
    int64_t id, image_id;
    int cat;
    double x, y, w, h;
    double area; /* < 0: leave "area" out (the loader uses w*h) */
    int crowd;
} gt_box;

/* Ground truth from C arrays, through the JSON parser like a real file. */
static yq_coco_gt *make_gt(const int64_t *images, size_t nimg, const int *cats, size_t ncat, const gt_box *boxes,
                           size_t nbox) {
    size_t cap = 4096 + 256 * (nimg + ncat + nbox), n = 0;
    char *js = malloc(cap);
    assert_non_null(js);
    n += (size_t)snprintf(js + n, cap - n, "{\"images\": [");
    for (size_t i = 0; i < nimg; i++)
        n += (size_t)snprintf(js + n, cap - n,
                              "%s{\"id\": %lld, \"file_name\": \"%lld.jpg\", \"width\": 640, \"height\": 480}",
                              i ? ", " : "", (long long)images[i], (long long)images[i]);
    n += (size_t)snprintf(js + n, cap - n, "], \"categories\": [");
    for (size_t k = 0; k < ncat; k++)
        n += (size_t)snprintf(js + n, cap - n, "%s{\"id\": %d, \"name\": \"c%d\"}", k ? ", " : "", cats[k], cats[k]);
    n += (size_t)snprintf(js + n, cap - n, "], \"annotations\": [");
    for (size_t j = 0; j < nbox; j++) {
        const gt_box *b = &boxes[j];
        n += (size_t)snprintf(js + n, cap - n,
                              "%s{\"id\": %lld, \"image_id\": %lld, \"category_id\": %d, \"iscrowd\": %d, "
                              "\"bbox\": [%.17g, %.17g, %.17g, %.17g]",
                              j ? ", " : "", (long long)b->id, (long long)b->image_id, b->cat, b->crowd, b->x, b->y,
                              b->w, b->h);
        if (b->area >= 0) n += (size_t)snprintf(js + n, cap - n, ", \"area\": %.17g", b->area);
        n += (size_t)snprintf(js + n, cap - n, "}");
    }
    n += (size_t)snprintf(js + n, cap - n, "]}");
    assert_true(n < cap);
    yq_coco_gt *gt = NULL;
    if (yq_coco_gt_parse(js, n, "test-gt", &gt) != YQ_OK) fail_msg("%s", yq_last_error());
    free(js);
    return gt;
}

static yq_coco_det det(int64_t image_id, int cat, double x, double y, double w, double h, double score) {
    yq_coco_det d = {.image_id = image_id, .category_id = cat, .bbox = {x, y, w, h}, .score = score};
    return d;
}

static void eval_ok(const yq_coco_gt *gt, const yq_coco_det *dets, size_t n, yq_coco_result *res) {
    if (yq_coco_evaluate(gt, NULL, 0, dets, n, res) != YQ_OK) fail_msg("%s", yq_last_error());
}

static void expect_stats(const yq_coco_result *res, const double want[YQ_COCO_NUM_STATS]) {
    for (int i = 0; i < YQ_COCO_NUM_STATS; i++)
        if (fabs(res->stats[i] - want[i]) > TOL)
            fail_msg("%s = %.17g, expected %.17g", yq_coco_stat_name(i), res->stats[i], want[i]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every box found exactly, in every size range: all stats 1. Category 2 has
 * no medium box, category 1 no large one: those entries are -1 and left out. */
static void test_perfect_detection(void **state) {
    (void)state;
    const int64_t images[] = {1, 2, 3};
    const int cats[] = {1, 2};
    const gt_box boxes[] = {
        {11, 1, 1, 10, 10, 20, 20, 400, 0},     /* small */
        {12, 2, 1, 0, 0, 50, 50, 2500, 0},      /* medium */
        {13, 2, 2, 100, 100, 200, 100, 20000, 0}, /* large */
        {14, 3, 2, 5, 5, 10, 10, 100, 0},       /* small */
    };
    yq_coco_gt *gt = make_gt(images, N(images), cats, N(cats), boxes, N(boxes));
    yq_coco_det dets[N(boxes)];
    for (size_t j = 0; j < N(boxes); j++)
        dets[j] = det(boxes[j].image_id, boxes[j].cat, boxes[j].x, boxes[j].y, boxes[j].w, boxes[j].h,
                      0.9 - 0.1 * (double)j);
    yq_coco_result res;
    eval_ok(gt, dets, N(dets), &res);
    const double want[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    expect_stats(&res, want);
    assert_int_equal(res.ncat, 2);
    assert_int_equal(res.nimages, 3);
    for (int k = 0; k < 2; k++) {
        assert_true(fabs(res.ap_per_class[k] - 1) < TOL);
        assert_true(fabs(res.ap50_per_class[k] - 1) < TOL);
        assert_int_equal(res.ngt_per_class[k], 2);
        assert_int_equal(res.ndet_per_class[k], 2);
    }
    /* category 2 (k=1) has no medium box: precision and recall stay -1 there */
    assert_true(res.precision[yq_coco_precision_index(&res, 0, 0, 1, 2, 2)] == -1.0);
    assert_true(res.recall[yq_coco_recall_index(&res, 0, 1, 2, 2)] == -1.0);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* A crowd region absorbs any number of detections (IoU = intersection over
 * the detection's area), which are then ignored, not false positives; the
 * crowd box is not counted as ground truth. Ranked: crowd-hit 0.95, crowd-hit
 * 0.93, TP 0.9, FP 0.6 -> tp 0,0,1,1 fp 0,0,0,1, npig 1: the envelope gives
 * precision 1 at every recall point: AP 1 (it would be 1/3 if the crowd hits
 * counted as false positives), recall 1 (0.5 if the crowd box counted).
 * Category 2 has only a crowd box: -1, left out of the means. */
static void test_crowd_regions(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1, 2};
    const gt_box boxes[] = {
        {1, 1, 1, 0, 0, 100, 100, 10000, 0},
        {2, 1, 1, 200, 0, 100, 100, 10000, 1},
        {3, 1, 2, 0, 0, 50, 50, 2500, 1},
    };
    yq_coco_gt *gt = make_gt(images, 1, cats, 2, boxes, N(boxes));
    const yq_coco_det dets[] = {
        det(1, 1, 210, 10, 50, 50, 0.95), /* inside the crowd region: IoU 1 */
        det(1, 1, 220, 20, 40, 40, 0.93), /* the same crowd region again */
        det(1, 1, 0, 0, 100, 100, 0.9),   /* the regular box */
        det(1, 1, 0, 200, 50, 50, 0.6),   /* nothing there */
        det(1, 2, 0, 0, 50, 50, 0.8),     /* on category 2's crowd box: ignored */
    };
    yq_coco_result res;
    eval_ok(gt, dets, N(dets), &res);
    /* the regular box is large (10000 > 96^2): small and medium have no ground truth;
     * AR1 keeps only the best detection, a crowd hit: recall 0 */
    const double want[] = {1, 1, 1, NA, NA, 1, 0, 1, 1, NA, NA, 1};
    expect_stats(&res, want);
    assert_true(fabs(res.ap_per_class[0] - 1) < TOL);
    assert_true(res.ap_per_class[1] == -1.0 && res.ap50_per_class[1] == -1.0);
    assert_int_equal(res.ngt_per_class[0], 1);
    assert_int_equal(res.ngt_per_class[1], 0);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Regular boxes are tried before ignored ones. A regular box and a crowd box
 * cover the same region; the detection [0,0,100,60] has IoU 0.6 with the
 * regular box and 1 with the crowd box. At IoU thresholds .50, .55, .60 it
 * matches the regular box (TP, precision 1); from .65 on the regular box is
 * out of reach and it matches the crowd box (ignored: precision 0, recall 0).
 * AP = AR = 3/10, AP50 = 1, AP75 = 0. */
static void test_regular_before_crowd(void **state) {
    (void)state;
    const int64_t images[] = {7};
    const int cats[] = {3};
    const gt_box boxes[] = {
        {5, 7, 3, 0, 0, 100, 100, 10000, 1}, /* crowd, listed first in the file */
        {6, 7, 3, 0, 0, 100, 100, 10000, 0},
    };
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 2);
    const yq_coco_det dets[] = {det(7, 3, 0, 0, 100, 60, 0.5)};
    yq_coco_result res;
    eval_ok(gt, dets, 1, &res);
    const double want[] = {0.3, 1, 0, NA, NA, 0.3, 0.3, 0.3, 0.3, NA, NA, 0.3};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Equal scores keep their order: within an image, input order; across
 * images, ascending image id (pycocotools' stable mergesort on concatenated
 * per-image lists).
 * Images 1 and 2, one box each, detections with score 0.5: a miss on image 1,
 * a hit on image 2 (given first in the input). Ranked miss, hit: tp 0,1 fp
 * 1,1, npig 2 -> recall 0, .5, precision (enveloped) .5, .5 -> precision .5 at
 * the 51 recall points 0..0.50, 0 above: AP = 25.5/101 (hit first would give 51/101).
 * Recall .5 at every threshold. */
static void test_equal_scores_across_images(void **state) {
    (void)state;
    const int64_t images[] = {2, 1};
    const int cats[] = {1};
    const gt_box boxes[] = {
        {1, 1, 1, 0, 0, 100, 100, 10000, 0},
        {2, 2, 1, 0, 0, 100, 100, 10000, 0},
    };
    yq_coco_gt *gt = make_gt(images, 2, cats, 1, boxes, 2);
    const yq_coco_det dets[] = {
        det(2, 1, 0, 0, 100, 100, 0.5),
        det(1, 1, 500, 500, 10, 10, 0.5),
    };
    yq_coco_result res;
    eval_ok(gt, dets, 2, &res);
    const double ap = 25.5 / 101;
    /* both boxes are large; the miss (area 100) is not, so in the large range it
     * is ignored and only the hit remains: APl 51/101 */
    const double want[] = {ap, ap, ap, NA, NA, 51.0 / 101, 0.5, 0.5, 0.5, NA, NA, 0.5};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Within one image: a miss and a hit with score 0.7, the miss first in the
 * input. Ranked miss, hit: tp 0,1 fp 1,1, npig 1 -> recall 0, 1, precision .5,
 * .5: AP .5 (1 the other way round). AR1 keeps only the miss: 0; AR10 1. */
static void test_equal_scores_within_image(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 100, 100, 10000, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    const yq_coco_det dets[] = {
        det(1, 1, 300, 300, 100, 100, 0.7),
        det(1, 1, 0, 0, 100, 100, 0.7),
    };
    yq_coco_result res;
    eval_ok(gt, dets, 2, &res);
    const double want[] = {0.5, 0.5, 0.5, NA, NA, 0.5, 0, 1, 1, NA, NA, 1};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Categories without ground truth in the evaluated images are left out of the
 * means (their entries are -1), however many detections they have; detections
 * of a category the ground truth does not list are not evaluated at all. */
static void test_categories_without_gt(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1, 2, 3};
    const gt_box boxes[] = {{1, 1, 1, 10, 10, 100, 100, 10000, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 3, boxes, 1);
    const yq_coco_det dets[] = {
        det(1, 2, 10, 10, 100, 100, 0.99), det(1, 3, 10, 10, 100, 100, 0.98),
        det(1, 99, 10, 10, 100, 100, 0.97), det(1, 1, 10, 10, 100, 100, 0.2),
    };
    yq_coco_result res;
    eval_ok(gt, dets, N(dets), &res);
    const double want[] = {1, 1, 1, NA, NA, 1, 1, 1, 1, NA, NA, 1};
    expect_stats(&res, want);
    assert_true(res.ap_per_class[1] == -1.0 && res.ap_per_class[2] == -1.0);
    assert_int_equal(res.ndet_per_class[1], 1);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Only the 100 best-scored detections per image and category count.
 * (a) 100 misses scored above the hit: the hit is the 101st and is dropped: AP 0, AR 0.
 * (b) 99 misses above it: the hit is the 100th: precision 1/100 at recall 1,
 *     enveloped to every recall point: AP .01; AR100 1, AR10 = AR1 = 0. */
static void run_max_dets(int nmiss, const double want[YQ_COCO_NUM_STATS]) {
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 100, 100, 10000, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    yq_coco_det dets[101];
    /* the hit first in the input: its place comes from its score alone */
    dets[0] = det(1, 1, 0, 0, 100, 100, 0.001);
    for (int i = 0; i < nmiss; i++) dets[1 + i] = det(1, 1, 1000 + 20 * i, 1000, 100, 100, 0.9 - 0.001 * i);
    yq_coco_result res;
    eval_ok(gt, dets, (size_t)nmiss + 1, &res);
    expect_stats(&res, want);
    assert_int_equal(res.ndet_per_class[0], 100);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

static void test_max_dets(void **state) {
    (void)state;
    const double dropped[] = {0, 0, 0, NA, NA, 0, 0, 0, 0, NA, NA, 0};
    run_max_dets(100, dropped);
    const double last[] = {0.01, 0.01, 0.01, NA, NA, 0.01, 0, 0, 1, NA, NA, 1};
    run_max_dets(99, last);
}

/* An image without annotations still counts: a detection there is a false
 * positive. Image 2 is empty; its detection (0.9) outranks the hit on image 1
 * (0.8): tp 0,1 fp 1,1, npig 1: AP .5 (AR1 1: one detection per image).
 * Evaluating image 1 alone gives 1. */
static void test_image_without_annotations(void **state) {
    (void)state;
    const int64_t images[] = {1, 2};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 100, 100, 10000, 0}};
    yq_coco_gt *gt = make_gt(images, 2, cats, 1, boxes, 1);
    const yq_coco_det dets[] = {det(1, 1, 0, 0, 100, 100, 0.8), det(2, 1, 0, 0, 100, 100, 0.9)};
    yq_coco_result res;
    eval_ok(gt, dets, 2, &res);
    const double want[] = {0.5, 0.5, 0.5, NA, NA, 0.5, 1, 1, 1, NA, NA, 1};
    expect_stats(&res, want);
    yq_coco_result_free(&res);

    const int64_t subset[] = {1, 1}; /* duplicates count once */
    if (yq_coco_evaluate(gt, subset, 2, dets, 2, &res) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_int_equal(res.nimages, 1);
    const double want1[] = {1, 1, 1, NA, NA, 1, 1, 1, 1, NA, NA, 1};
    expect_stats(&res, want1);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Zero-size detections overlap nothing (IoU 0). Box [0,0,10,10] (area 100,
 * small); a zero-width detection at 0.9 then the exact box at 0.8: tp 0,1 fp
 * 1,1: AP .5, also for small; medium and large have no ground truth: -1. */
static void test_zero_size_boxes(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 10, 10, -1, 0}}; /* no "area": w*h */
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    assert_true(yq_coco_gt_annotation(gt, 0)->area == 100.0);
    const yq_coco_det dets[] = {det(1, 1, 0, 0, 0, 10, 0.9), det(1, 1, 0, 0, 10, 10, 0.8)};
    yq_coco_result res;
    eval_ok(gt, dets, 2, &res);
    const double want[] = {0.5, 0.5, 0.5, 0.5, NA, NA, 0, 1, 1, 1, NA, NA};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Thresholds are inclusive: IoU exactly .5 matches at .50 only (AP .1, AP50
 * 1, AP75 0); IoU exactly .75 matches at .50 ... .75 (AP .6, AP75 1).
 * Two categories: AP = (.1 + .6) / 2, AP75 = (0 + 1) / 2, AR100 likewise. */
static void test_iou_threshold_edges(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1, 2};
    const gt_box boxes[] = {
        {1, 1, 1, 0, 0, 100, 100, 10000, 0},
        {2, 1, 2, 0, 0, 100, 100, 10000, 0},
    };
    yq_coco_gt *gt = make_gt(images, 1, cats, 2, boxes, 2);
    const yq_coco_det dets[] = {det(1, 1, 0, 0, 100, 50, 0.9), det(1, 2, 0, 0, 100, 75, 0.9)};
    yq_coco_result res;
    eval_ok(gt, dets, 2, &res);
    const double want[] = {0.35, 1, 0.5, NA, NA, 0.35, 0.35, 0.35, 0.35, NA, NA, 0.35};
    expect_stats(&res, want);
    assert_true(fabs(res.ap_per_class[0] - 0.1) < TOL && fabs(res.ap_per_class[1] - 0.6) < TOL);
    assert_true(fabs(res.ap50_per_class[0] - 1) < TOL && fabs(res.ap50_per_class[1] - 1) < TOL);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* Area ranges are inclusive at both ends and use the annotation's "area"
 * field, not its box: a box with area 1024 = 32^2 is small and medium. */
static void test_area_range_edges(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 100, 100, 1024, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    const yq_coco_det dets[] = {det(1, 1, 0, 0, 100, 100, 0.9)};
    yq_coco_result res;
    eval_ok(gt, dets, 1, &res);
    const double want[] = {1, 1, 1, 1, 1, NA, 1, 1, 1, 1, 1, NA};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* pycocotools records a match as the ground truth annotation's id and then
 * tests that id for non-zero, so a box with id 0 is consumed by its detection
 * but the detection counts as a false positive. Reproduced for agreement. */
static void test_annotation_id_zero(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{0, 1, 1, 0, 0, 100, 100, 10000, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    const yq_coco_det dets[] = {det(1, 1, 0, 0, 100, 100, 0.9)};
    yq_coco_result res;
    eval_ok(gt, dets, 1, &res);
    const double want[] = {0, 0, 0, NA, NA, 0, 0, 0, 0, NA, NA, 0};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* No detections at all: every category with ground truth scores 0. */
static void test_no_detections(void **state) {
    (void)state;
    const int64_t images[] = {1};
    const int cats[] = {1};
    const gt_box boxes[] = {{1, 1, 1, 0, 0, 10, 10, 100, 0}};
    yq_coco_gt *gt = make_gt(images, 1, cats, 1, boxes, 1);
    yq_coco_result res;
    eval_ok(gt, NULL, 0, &res);
    const double want[] = {0, 0, 0, 0, NA, NA, 0, 0, 0, 0, NA, NA};
    expect_stats(&res, want);
    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

/* numpy's float64 sum: pairwise within blocks of 8192 (values from numpy 1.24:
 * np.sum([0.1]*10) and np.sum(1.0/np.arange(1,20001))). */
static void test_numpy_sum(void **state) {
    (void)state;
    double tenth[10];
    for (int i = 0; i < 10; i++) tenth[i] = 0.1;
    assert_true(yq_numpy_sum(tenth, 10) == 1.0); /* a plain loop gives 0.9999999999999999 */
    enum { NH = 20000 };
    double *h = malloc(NH * sizeof *h);
    assert_non_null(h);
    for (int i = 0; i < NH; i++) h[i] = 1.0 / (double)(i + 1);
    assert_true(yq_numpy_sum(h, NH) == 10.480728217229329); /* a plain loop gives 10.48072821722932 */
    free(h);
}

/* The protocol's parameters are numpy's linspace values. */
static void test_parameters(void **state) {
    (void)state;
    assert_true(yq_coco_iou_threshold(0) == 0.5);
    assert_true(yq_coco_iou_threshold(5) == 0.75);
    assert_true(yq_coco_iou_threshold(9) == 0.95);
    assert_true(yq_coco_iou_threshold(1) == 0x1.199999999999ap-1); /* np.linspace(.5,.95,10)[1] */
    assert_true(yq_coco_recall_threshold(0) == 0.0 && yq_coco_recall_threshold(100) == 1.0);
    assert_true(yq_coco_recall_threshold(50) == 0.5);
    assert_int_equal(yq_coco_max_dets(2), 100);
    assert_string_equal(yq_coco_stat_name(YQ_COCO_AR_LARGE), "ARl");
    assert_string_equal(yq_coco_area_name(2), "medium");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect_detection),
        cmocka_unit_test(test_crowd_regions),
        cmocka_unit_test(test_regular_before_crowd),
        cmocka_unit_test(test_equal_scores_across_images),
        cmocka_unit_test(test_equal_scores_within_image),
        cmocka_unit_test(test_categories_without_gt),
        cmocka_unit_test(test_max_dets),
        cmocka_unit_test(test_image_without_annotations),
        cmocka_unit_test(test_zero_size_boxes),
        cmocka_unit_test(test_iou_threshold_edges),
        cmocka_unit_test(test_area_range_edges),
        cmocka_unit_test(test_annotation_id_zero),
        cmocka_unit_test(test_no_detections),
        cmocka_unit_test(test_numpy_sum),
        cmocka_unit_test(test_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
