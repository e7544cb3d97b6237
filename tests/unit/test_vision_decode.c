/* YOLO output decoding: contract detection, end-to-end filtering, raw xywh with
 * class-aware NMS, DFL anchors by hand, box mapping back through the letterbox. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/coco_names.h"
#include "vision/letterbox.h"
#include "vision/yolo_decode.h"

static yq_tensor make_tensor(float *data, int64_t d0, int64_t d1, int64_t d2) {
    yq_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = YQ_DT_FLOAT;
    t.rank = 3;
    t.dims[0] = d0, t.dims[1] = d1, t.dims[2] = d2;
    t.data = data;
    return t;
}

static void test_contract_from_shape(void **state) {
    (void)state;
    yq_yolo_opts o;
    yq_yolo_opts_default(&o);
    yq_yolo_contract c;
    int nc;
    yq_tensor t = make_tensor(NULL, 1, 300, 6);
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_END2END);
    t = make_tensor(NULL, 1, 84, 8400);
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_RAW_XYWH);
    assert_int_equal(nc, 80);
    t = make_tensor(NULL, 1, 144, 8400);
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_RAW_DFL);
    assert_int_equal(nc, 80);
    t = make_tensor(NULL, 1, 6, 100); /* few channels: only xywh fits (2 classes) */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_RAW_XYWH);
    assert_int_equal(nc, 2);
    t = make_tensor(NULL, 1, 70, 101); /* 101 anchors is no DFL grid: xywh, 66 classes */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_RAW_XYWH);
    assert_int_equal(nc, 66);
    t = make_tensor(NULL, 1, 70, 8400); /* 66 xywh classes or 6 DFL classes: ambiguous */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "[1,70,8400]"));
    o.num_classes = 6; /* the class count settles it */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(c, YQ_YOLO_RAW_DFL);
    o.num_classes = 0;
    o.contract = YQ_YOLO_RAW_XYWH; /* so does an override */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(nc, 66);
    o.contract = YQ_YOLO_END2END; /* an override that contradicts the shape fails */
    assert_int_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_ERR_INVALID);
    o.contract = YQ_YOLO_AUTO;
    t = make_tensor(NULL, 2, 84, 8400); /* batch 2 */
    assert_int_not_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    t.rank = 2;
    assert_int_not_equal(yq_yolo_resolve(&t, &o, &c, &nc), YQ_OK);
    assert_int_equal(yq_yolo_contract_parse("dfl"), YQ_YOLO_RAW_DFL);
    assert_int_equal(yq_yolo_contract_parse("end2end"), YQ_YOLO_END2END);
    assert_int_equal(yq_yolo_contract_parse("nonsense"), -1);
}

static void test_end2end_filtering(void **state) {
    (void)state;
    float rows[5][6] = {
        {10, 20, 30, 40, 0.90f, 0},  {11, 21, 31, 41, 0.10f, 3}, {12, 22, 32, 42, 0.50f, 17},
        {13, 23, 33, 43, 0.25f, 5}, /* == conf: dropped (strictly greater) */
        {14, 24, 34, 44, 0.30f, 79},
    };
    yq_tensor t = make_tensor(&rows[0][0], 1, 5, 6);
    yq_yolo_opts o;
    yq_yolo_opts_default(&o);
    yq_det *d;
    int n;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 3);
    /* model order kept, not re-sorted */
    assert_true(d[0].score == 0.90f && d[0].cls == 0 && d[0].x1 == 10 && d[0].y2 == 40);
    assert_true(d[1].score == 0.50f && d[1].cls == 17 && d[1].x1 == 12);
    assert_true(d[2].score == 0.30f && d[2].cls == 79 && d[2].x2 == 34);
    free(d);
    o.max_det = 2;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_true(d[1].cls == 17);
    free(d);
    o.conf = 0.95f;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 0);
    assert_null(d);
    /* a kept row whose class is not an index is an error */
    rows[0][5] = -1.f;
    o.conf = 0.25f;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_ERR_INVALID);
}

/* float16 data goes through the same path */
static void test_end2end_fp16(void **state) {
    (void)state;
    const float rows[2][6] = {{1, 2, 3, 4, 0.75f, 2}, {5, 6, 7, 8, 0.125f, 1}};
    uint16_t h[12];
    for (int i = 0; i < 12; i++) h[i] = yq_f32_to_f16((&rows[0][0])[i]);
    yq_tensor t = make_tensor(NULL, 1, 2, 6);
    t.dtype = YQ_DT_FLOAT16;
    t.data = h;
    yq_det *d;
    int n;
    assert_int_equal(yq_yolo_decode(&t, NULL, &d, &n), YQ_OK);
    assert_int_equal(n, 1);
    assert_true(d[0].score == 0.75f && d[0].cls == 2 && d[0].x2 == 3.f);
    free(d);
}

/* Raw [1, 4+nc, A] output built anchor by anchor. */
typedef struct raw_anchor {
    float cx, cy, w, h;
    float cls[2];
} raw_anchor;

static float *make_raw_xywh(const raw_anchor *a, int n_anchors) {
    float *data = calloc((size_t)6 * n_anchors, sizeof(float));
    assert_non_null(data);
    for (int i = 0; i < n_anchors; i++) {
        data[0 * n_anchors + i] = a[i].cx;
        data[1 * n_anchors + i] = a[i].cy;
        data[2 * n_anchors + i] = a[i].w;
        data[3 * n_anchors + i] = a[i].h;
        data[4 * n_anchors + i] = a[i].cls[0];
        data[5 * n_anchors + i] = a[i].cls[1];
    }
    return data;
}

static void test_raw_xywh_nms(void **state) {
    (void)state;
    /* a0 and a1 are class 0 with IoU 360/440 = 0.818 > 0.7: a1 goes.
     * a2 overlaps a0 just as much but is class 1: class-aware NMS keeps it.
     * a3 is far away; a4 is below the confidence threshold. */
    const raw_anchor anchors[5] = {
        {50, 50, 20, 20, {0.90f, 0.05f}},  {52, 50, 20, 20, {0.80f, 0.10f}}, {52, 50, 20, 20, {0.10f, 0.85f}},
        {150, 150, 10, 10, {0.30f, 0.20f}}, {300, 300, 50, 50, {0.20f, 0.10f}},
    };
    float *data = make_raw_xywh(anchors, 5);
    yq_tensor t = make_tensor(data, 1, 6, 5);
    yq_yolo_opts o;
    yq_yolo_opts_default(&o);
    yq_det *d;
    int n;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 3);
    /* sorted by score: a0 (0.90), a2 (0.85), a3 (0.30); boxes in xyxy */
    assert_true(d[0].score == 0.90f && d[0].cls == 0);
    assert_true(d[0].x1 == 40 && d[0].y1 == 40 && d[0].x2 == 60 && d[0].y2 == 60);
    assert_true(d[1].score == 0.85f && d[1].cls == 1 && d[1].x1 == 42 && d[1].x2 == 62);
    assert_true(d[2].score == 0.30f && d[2].cls == 0 && d[2].x1 == 145 && d[2].y2 == 155);
    free(d);

    /* class-agnostic: a2 now loses to a0 */
    o.agnostic = 1;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_true(d[0].score == 0.90f && d[1].score == 0.30f);
    free(d);
    o.agnostic = 0;

    /* a looser IoU threshold keeps the class-0 duplicate too */
    o.iou = 0.9f;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 4);
    assert_true(d[1].score == 0.85f && d[2].score == 0.80f);
    free(d);
    o.iou = 0.7f;

    /* max_det cuts after NMS, highest scores first */
    o.max_det = 1;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 1);
    assert_true(d[0].score == 0.90f);
    free(d);
    o.max_det = 300;

    /* pre-NMS top-k: only the 2 best candidates (a0, a2) enter NMS */
    o.max_nms = 2;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_true(d[0].score == 0.90f && d[1].score == 0.85f);
    free(d);
    free(data);
}

static void test_nms_direct(void **state) {
    (void)state;
    /* IoU exactly 0.5 (inter 50, union 100): kept at threshold 0.5 (suppress only when >) */
    const float boxes[3 * 4] = {0, 0, 10, 10, 0, 0, 10, 5, 100, 100, 110, 110};
    const float scores[3] = {0.9f, 0.8f, 0.9f};
    int keep[3];
    assert_int_equal(yq_nms(boxes, scores, 3, 0.5f, 10, keep), 3);
    /* equal scores keep input order: box 0 before box 2 */
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[1], 2);
    assert_int_equal(keep[2], 1);
    assert_int_equal(yq_nms(boxes, scores, 3, 0.49f, 10, keep), 2);
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[1], 2);
    /* max_keep stops early with the same prefix */
    assert_int_equal(yq_nms(boxes, scores, 3, 0.5f, 1, keep), 1);
    assert_int_equal(keep[0], 0);
    /* zero-area boxes never suppress anything (0/0 is not > threshold) */
    const float flat[2 * 4] = {5, 5, 5, 5, 5, 5, 5, 5};
    const float s2[2] = {0.5f, 0.4f};
    assert_int_equal(yq_nms(flat, s2, 2, 0.1f, 10, keep), 2);
}

/* DFL, computed by hand. Input 64x64: stride 8 gives 8x8 anchors (0..63),
 * stride 16 gives 4x4 (64..79), stride 32 gives 2x2 (80..83): A = 84.
 * One class, so 65 channels. Anchor 73 = stride-16 cell (x=1, y=2), anchor
 * point (1.5, 2.5). Side logits (others at -200, whose exp underflows to 0):
 *   left:   bins 1 and 3 equal          -> expectation (1+3)/2 = 2
 *   top:    bin 4 alone                 -> 4
 *   right:  bins 0, 1 with logits 0, ln 3 -> probabilities 1/4, 3/4 -> 0.75
 *   bottom: all 16 bins equal           -> (0+...+15)/16 = 7.5
 * box = ((1.5-2)*16, (2.5-4)*16, (1.5+0.75)*16, (2.5+7.5)*16) = (-8, -24, 36, 160)
 * class logit 2 -> score sigmoid(2) = 0.880797. */
static void test_dfl_hand_example(void **state) {
    (void)state;
    const int A = 84, C = 65;
    float *data = malloc(sizeof(float) * (size_t)C * A);
    assert_non_null(data);
    for (int i = 0; i < C * A; i++) data[i] = -200.f;
    for (int a = 0; a < A; a++) data[64 * A + a] = -10.f; /* class logits: sigmoid(-10) < conf */
    const int a = 73;
#define LOGIT(side, bin) data[((side) * 16 + (bin)) * A + a]
    LOGIT(0, 1) = 5.f, LOGIT(0, 3) = 5.f;
    LOGIT(1, 4) = 0.f;
    LOGIT(2, 0) = 0.f, LOGIT(2, 1) = logf(3.f);
    for (int b = 0; b < 16; b++) LOGIT(3, b) = 0.f;
#undef LOGIT
    data[64 * A + a] = 2.f;
    yq_tensor t = make_tensor(data, 1, C, A);
    yq_yolo_opts o;
    yq_yolo_opts_default(&o);
    o.input_w = o.input_h = 64;
    o.contract = YQ_YOLO_RAW_DFL; /* 65 channels would also read as xywh with 61 classes */
    yq_det *d;
    int n;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 1);
    const float tol = 1e-4f;
    assert_true(fabsf(d[0].x1 - -8.f) < tol);
    assert_true(fabsf(d[0].y1 - -24.f) < tol);
    assert_true(fabsf(d[0].x2 - 36.f) < tol);
    assert_true(fabsf(d[0].y2 - 160.f) < tol);
    assert_true(fabsf(d[0].score - 0.880797f) < 1e-5f);
    assert_int_equal(d[0].cls, 0);
    free(d);

    /* stride-8 anchor 10 = cell (2, 1), point (2.5, 1.5); all sides uniform (7.5):
     * box ((2.5-7.5)*8, (1.5-7.5)*8, (2.5+7.5)*8, (1.5+7.5)*8) = (-40, -48, 80, 72) */
    for (int side = 0; side < 4; side++)
        for (int b = 0; b < 16; b++) data[(side * 16 + b) * A + 10] = 1.f;
    data[64 * A + 10] = 1.f; /* sigmoid(1) = 0.731 */
    /* a given input size must have A anchors: 96x96 has 144+36+9 = 189, not 84 */
    o.input_w = o.input_h = 96;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_ERR_INVALID);
    /* without one, A = 84 = 21 * 2^2 is inferred as the square 64x64 input */
    o.input_w = o.input_h = 0;
    assert_int_equal(yq_yolo_decode(&t, &o, &d, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_true(d[1].score < d[0].score);
    assert_true(fabsf(d[1].x1 - -40.f) < tol && fabsf(d[1].y1 - -48.f) < tol);
    assert_true(fabsf(d[1].x2 - 80.f) < tol && fabsf(d[1].y2 - 72.f) < tol);
    free(d);
    free(data);
}

/* The 640 grid: 8400 anchors, input size inferred; the last anchor is the
 * bottom-right stride-32 cell (19, 19), point (19.5, 19.5). */
static void test_dfl_640_grid(void **state) {
    (void)state;
    const int A = 8400, C = 64 + 80;
    float *data = malloc(sizeof(float) * (size_t)C * A);
    assert_non_null(data);
    for (int i = 0; i < 64 * A; i++) data[i] = 0.f; /* every side: 7.5 */
    for (int i = 64 * A; i < C * A; i++) data[i] = -10.f;
    data[(64 + 41) * A + (A - 1)] = 3.f; /* class 41 (cup) */
    yq_tensor t = make_tensor(data, 1, C, A);
    yq_det *d;
    int n;
    assert_int_equal(yq_yolo_decode(&t, NULL, &d, &n), YQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].cls, 41);
    assert_true(fabsf(d[0].x1 - (19.5f - 7.5f) * 32) < 1e-3f);
    assert_true(fabsf(d[0].y2 - (19.5f + 7.5f) * 32) < 1e-3f);
    free(d);
    free(data);
}

static void test_unletterbox(void **state) {
    (void)state;
    yq_letterbox lb;
    assert_int_equal(yq_letterbox_plan(500, 332, 640, 640, &lb), YQ_OK); /* r = 1.28, pad_top 107 */
    yq_det d[2] = {
        {64.f, 107.f + 128.f, 650.f, 700.f, 0.5f, 0},
        {-10.f, 50.f, 32.f, 107.f + 64.f, 0.4f, 1},
    };
    yq_dets_unletterbox(d, 2, &lb);
    const float tol = 1e-4f;
    assert_true(fabsf(d[0].x1 - 50.f) < tol);  /* 64 / 1.28 */
    assert_true(fabsf(d[0].y1 - 100.f) < tol); /* 128 / 1.28 */
    assert_true(d[0].x2 == 500.f);             /* 507.8 clipped to the width */
    assert_true(d[0].y2 == 332.f);             /* 463.3 clipped to the height */
    assert_true(d[1].x1 == 0.f);               /* negative clipped to 0 */
    assert_true(d[1].y1 == 0.f);               /* above the image (in the padding) */
    assert_true(fabsf(d[1].x2 - 25.f) < tol);  /* 32 / 1.28 */
    assert_true(fabsf(d[1].y2 - 50.f) < tol);  /* 64 / 1.28 */

    /* horizontal padding: 358x640 at 320, r = 0.5, pad_left 70 */
    assert_int_equal(yq_letterbox_plan(358, 640, 320, 320, &lb), YQ_OK);
    yq_det e = {70.f + 10.f, 5.f, 70.f + 100.f, 300.f, 0.9f, 0};
    yq_dets_unletterbox(&e, 1, &lb);
    assert_true(fabsf(e.x1 - 20.f) < tol && fabsf(e.x2 - 200.f) < tol);
    assert_true(fabsf(e.y1 - 10.f) < tol && fabsf(e.y2 - 600.f) < tol);
}

static void test_coco_names(void **state) {
    (void)state;
    assert_string_equal(yq_coco_name(0), "person");
    assert_string_equal(yq_coco_name(2), "car");
    assert_string_equal(yq_coco_name(79), "toothbrush");
    assert_null(yq_coco_name(80));
    assert_null(yq_coco_name(-1));
    assert_int_equal(yq_coco_category_id(0), 1);
    assert_int_equal(yq_coco_category_id(11), 13); /* stop sign: id 12 is unused */
    assert_int_equal(yq_coco_category_id(79), 90);
    for (int i = 0; i < YQ_COCO_NUM_CLASSES; i++) assert_int_equal(yq_coco_class_of_category(yq_coco_category_id(i)), i);
    assert_int_equal(yq_coco_class_of_category(12), -1);
    for (int i = 1; i < YQ_COCO_NUM_CLASSES; i++) assert_true(yq_coco_category_id(i) > yq_coco_category_id(i - 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_from_shape), cmocka_unit_test(test_end2end_filtering),
        cmocka_unit_test(test_end2end_fp16),        cmocka_unit_test(test_raw_xywh_nms),
        cmocka_unit_test(test_nms_direct),          cmocka_unit_test(test_dfl_hand_example),
        cmocka_unit_test(test_dfl_640_grid),        cmocka_unit_test(test_unletterbox),
        cmocka_unit_test(test_coco_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
