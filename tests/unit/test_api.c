/* The public API (include/yoloq.h) end to end on the shared YOLOv10n. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vision/image.h"
#include "yoloq.h"

static void test_api_detects_tv(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    char model[4096], image[4096];
    snprintf(model, sizeof model, "%s", yqt_shared_path("models/yolov10n.onnx"));
    snprintf(image, sizeof image, "%s", yqt_shared_path("data/coco/val2017/000000000139.jpg"));
    yoloq_detector *d;
    assert_int_equal(yoloq_detector_open(model, 2, 0.5f, &d), YOLOQ_OK);
    yoloq_detection *dets;
    int n;
    assert_int_equal(yoloq_detect_file(d, image, &dets, &n), YOLOQ_OK);
    assert_true(n >= 3);
    assert_string_equal(yoloq_class_name(d, dets[0].class_id), "tv");
    assert_true(dets[0].score > 0.85f && dets[0].x1 < 10 && dets[0].x2 > 150);
    for (int i = 0; i < n; i++) assert_true(dets[i].score > 0.5f);
    /* the same pixels through the RGB entry point give the same detections */
    yq_image img;
    assert_int_equal(yq_image_load(image, &img), YQ_OK);
    yoloq_detection *d2;
    int n2;
    assert_int_equal(yoloq_detect_rgb(d, img.px, img.w, img.h, &d2, &n2), YOLOQ_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(d2, dets, (size_t)n * sizeof *dets);
    yq_image_free(&img);
    free(d2);
    free(dets);
    assert_int_not_equal(yoloq_detect_rgb(d, NULL, 10, 10, &d2, &n2), YOLOQ_OK);
    assert_int_not_equal(yoloq_detect_file(d, "/nonexistent.jpg", &d2, &n2), YOLOQ_OK);
    assert_non_null(strstr(yoloq_last_error(), "/nonexistent.jpg"));
    yoloq_detector_close(d);
    assert_int_not_equal(yoloq_detector_open("/nonexistent.onnx", 1, 0.25f, &d), YOLOQ_OK);
    assert_non_null(strstr(yoloq_last_error(), "/nonexistent.onnx"));
    assert_int_not_equal(yoloq_detector_open(model, 1, 2.0f, &d), YOLOQ_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_api_detects_tv)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
