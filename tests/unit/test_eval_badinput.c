/* Bad COCO inputs: each gives one error status and a message that names the
 * file and the problem (and where it is). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/json_io.h"

static const char *tmp_path(const char *name) {
    static char buf[1024];
    assert_true(snprintf(buf, sizeof buf, "%s/%s", yqt_tmpdir(), name) < (int)sizeof buf);
    return buf;
}

static void expect_message(const char *want1, const char *want2) {
    const char *msg = yq_last_error();
    if (want1 && !strstr(msg, want1)) fail_msg("error \"%s\" does not mention \"%s\"", msg, want1);
    if (want2 && !strstr(msg, want2)) fail_msg("error \"%s\" does not mention \"%s\"", msg, want2);
}

static void expect_gt_error(const char *json, yq_status want, const char *m1, const char *m2) {
    yq_coco_gt *gt = (yq_coco_gt *)&gt; /* must be reset to NULL on failure */
    yq_clear_error();
    yq_status s = yq_coco_gt_parse(json, strlen(json), "bad-gt.json", &gt);
    if (s != want) fail_msg("status %s (%s), expected %s for: %s", yq_status_name(s), yq_last_error(),
                            yq_status_name(want), json);
    assert_null(gt);
    expect_message("bad-gt.json", m1);
    expect_message(m2, NULL);
}

static const char *GOOD_GT =
    "{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 10, \"height\": 20}, {\"id\": 2}],"
    " \"categories\": [{\"id\": 1, \"name\": \"person\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 5, 5], \"area\": 25,"
    " \"iscrowd\": 0}]}";

static yq_coco_gt *good_gt(void) {
    yq_coco_gt *gt = NULL;
    if (yq_coco_gt_parse(GOOD_GT, strlen(GOOD_GT), "good.json", &gt) != YQ_OK) fail_msg("%s", yq_last_error());
    return gt;
}

static void test_missing_file(void **state) {
    (void)state;
    yq_coco_gt *gt = NULL;
    const char *path = tmp_path("does-not-exist.json");
    assert_int_equal(yq_coco_gt_load(path, &gt), YQ_ERR_IO);
    assert_null(gt);
    expect_message(path, "cannot open");
    yq_coco_det *dets = NULL;
    size_t n = 5;
    assert_int_equal(yq_coco_dets_load(path, NULL, &dets, &n), YQ_ERR_IO);
    assert_null(dets);
    assert_int_equal(n, 0);
    expect_message(path, NULL);
}

static void test_malformed_json(void **state) {
    (void)state;
    /* error position as cJSON reports it: line 4, column 13 (after the stray comma) */
    expect_gt_error("{\n\"images\": [\n  {\"id\": 1},\n  {\"id\": 2,,}\n]}", YQ_ERR_PARSE, "bad-gt.json:4:13:",
                    "malformed");
    expect_gt_error("{\"images\": [", YQ_ERR_PARSE, "end of the input", NULL);
    expect_gt_error("", YQ_ERR_PARSE, "malformed", NULL);
    expect_gt_error("{\"images\": []} trailing", YQ_ERR_PARSE, "after the end", NULL);
    expect_gt_error("{\"images\": [NaN]}", YQ_ERR_PARSE, "malformed", NULL);
    /* the same through a file: the message names the path */
    const char *path = tmp_path("malformed.json");
    assert_int_equal(yq_write_file_atomic(path, "[{\"image_id\": 1,", 16), YQ_OK);
    yq_coco_det *dets = NULL;
    size_t n = 0;
    assert_int_equal(yq_coco_dets_load(path, NULL, &dets, &n), YQ_ERR_PARSE);
    assert_null(dets);
    expect_message(path, "malformed");
}

static void test_nesting_and_size_limits(void **state) {
    (void)state;
    enum { DEPTH = YQ_COCO_JSON_MAX_DEPTH + 1 };
    char deep[2 * DEPTH + 1];
    for (int i = 0; i < DEPTH; i++) {
        deep[i] = '[';
        deep[DEPTH + i] = ']';
    }
    deep[2 * DEPTH] = 0;
    expect_gt_error(deep, YQ_ERR_LIMIT, "nested deeper", NULL);
    /* brackets inside strings do not count */
    char strs[4 * DEPTH + 16];
    int n = snprintf(strs, sizeof strs, "[\"");
    for (int i = 0; i < 2 * DEPTH; i++) strs[n++] = '[';
    snprintf(strs + n, sizeof strs - (size_t)n, "\"]");
    yq_coco_det *dets = NULL;
    size_t nd = 0;
    assert_int_equal(yq_coco_dets_parse(strs, strlen(strs), "strs.json", NULL, &dets, &nd), YQ_ERR_INVALID);
    expect_message("detections[0] must be an object", NULL);
    /* size limit: refused before reading */
    const char *path = tmp_path("big.json");
    assert_int_equal(yq_write_file_atomic(path, "[1, 2, 3, 4, 5]", 15), YQ_OK);
    cJSON *root = NULL;
    assert_int_equal(yq_json_load(path, 10, 8, &root), YQ_ERR_LIMIT);
    assert_null(root);
    expect_message(path, "more than the 10");
    assert_int_equal(yq_json_load(path, 15, 8, &root), YQ_OK);
    cJSON_Delete(root);
}

static void test_wrong_structure(void **state) {
    (void)state;
    expect_gt_error("[1, 2]", YQ_ERR_INVALID, "not a COCO annotation file", NULL);
    expect_gt_error("{\"annotations\": [], \"categories\": []}", YQ_ERR_INVALID, "no \"images\"", NULL);
    expect_gt_error("{\"images\": [], \"categories\": []}", YQ_ERR_INVALID, "no \"annotations\"", NULL);
    expect_gt_error("{\"images\": [], \"annotations\": []}", YQ_ERR_INVALID, "no \"categories\"", NULL);
    expect_gt_error("{\"images\": {}, \"annotations\": [], \"categories\": []}", YQ_ERR_INVALID,
                    "\"images\" must be a list, not an object", NULL);
    expect_gt_error("{\"images\": [3], \"annotations\": [], \"categories\": []}", YQ_ERR_INVALID,
                    "images[0] must be an object", NULL);
    expect_gt_error("{\"images\": [{\"id\": \"7\"}], \"annotations\": [], \"categories\": []}", YQ_ERR_INVALID,
                    "images[0].id must be an integer, not a string", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1.5}], \"annotations\": [], \"categories\": []}", YQ_ERR_INVALID,
                    "images[0].id must be an integer", NULL);
    expect_gt_error("{\"images\": [{\"file_name\": \"x.jpg\"}], \"annotations\": [], \"categories\": []}",
                    YQ_ERR_INVALID, "images[0] has no \"id\"", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1, \"file_name\": 5}], \"annotations\": [], \"categories\": []}",
                    YQ_ERR_INVALID, "images[0].file_name must be a string", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1, \"width\": -3}], \"annotations\": [], \"categories\": []}",
                    YQ_ERR_INVALID, "images[0].width", NULL);
    expect_gt_error("{\"images\": [], \"annotations\": [], \"categories\": [{\"id\": 99999999999}]}", YQ_ERR_INVALID,
                    "categories[0].id = 99999999999 is out of range", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": "
                    "[{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3]}]}",
                    YQ_ERR_INVALID, "annotations[0].bbox must be an array of 4 numbers", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": "
                    "[{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, null, 4]}]}",
                    YQ_ERR_INVALID, "annotations[0].bbox[2] must be a finite number, not null", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": "
                    "[{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"iscrowd\": 2}]}",
                    YQ_ERR_INVALID, "annotations[0].iscrowd must be 0 or 1", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": "
                    "[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]}]}",
                    YQ_ERR_INVALID, "annotations[0] has no \"id\"", NULL);
    expect_gt_error("{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": "
                    "[{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"area\": \"big\"}]}",
                    YQ_ERR_INVALID, "annotations[0].area must be a finite number, not a string", NULL);
}

static void test_duplicate_ids(void **state) {
    (void)state;
    expect_gt_error("{\"images\": [{\"id\": 5}, {\"id\": 6}, {\"id\": 5}], \"annotations\": [], \"categories\": []}",
                    YQ_ERR_INVALID, "duplicate id 5 in \"images\"", "images[0] and images[2]");
    expect_gt_error("{\"images\": [], \"annotations\": [], \"categories\": [{\"id\": 3}, {\"id\": 3}]}",
                    YQ_ERR_INVALID, "duplicate id 3 in \"categories\"", NULL);
}

static void expect_dets_error(const char *json, const yq_coco_gt *gt, yq_status want, const char *m1) {
    yq_coco_det *dets = (yq_coco_det *)&dets;
    size_t n = 7;
    yq_status s = yq_coco_dets_parse(json, strlen(json), "bad-dets.json", gt, &dets, &n);
    if (s != want) fail_msg("status %s (%s), expected %s for: %s", yq_status_name(s), yq_last_error(),
                            yq_status_name(want), json);
    assert_null(dets);
    assert_int_equal(n, 0);
    expect_message("bad-dets.json", m1);
}

static void test_bad_detections(void **state) {
    (void)state;
    yq_coco_gt *gt = good_gt();
    expect_dets_error("{\"image_id\": 1}", gt, YQ_ERR_INVALID, "not a COCO results file");
    expect_dets_error("[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1]}]", gt, YQ_ERR_INVALID,
                      "detections[0] has no \"score\"");
    expect_dets_error("[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": \"0.5\"}]", gt,
                      YQ_ERR_INVALID, "detections[0].score must be a finite number, not a string");
    expect_dets_error("[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1], \"score\": 0.5}]", gt,
                      YQ_ERR_INVALID, "detections[0].bbox must be an array of 4 numbers");
    /* an image the ground truth does not have: pycocotools asserts the same */
    expect_dets_error("[{\"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 0.5},"
                      " {\"image_id\": 999, \"category_id\": 1, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}]",
                      gt, YQ_ERR_INVALID, "detections[1].image_id 999 is not an image of the ground truth");
    /* without a ground truth to check against, the same file loads */
    yq_coco_det *dets = NULL;
    size_t n = 0;
    const char *ok =
        "[{\"image_id\": 999, \"category_id\": 77, \"bbox\": [0, 0, 1, 1], \"score\": 0.5, \"extra\": []}]";
    assert_int_equal(yq_coco_dets_parse(ok, strlen(ok), "ok.json", NULL, &dets, &n), YQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(dets[0].image_id, 999);
    assert_int_equal(dets[0].category_id, 77);
    /* ... but evaluating it against the ground truth fails the same way */
    yq_coco_result res;
    assert_int_equal(yq_coco_evaluate(gt, NULL, 0, dets, n, &res), YQ_ERR_INVALID);
    expect_message("image id 999", "not in the ground truth");
    assert_null(res.precision);
    free(dets);
    /* an empty results list is fine */
    assert_int_equal(yq_coco_dets_parse("[]", 2, "empty.json", gt, &dets, &n), YQ_OK);
    assert_int_equal(n, 0);
    free(dets);
    yq_coco_gt_free(gt);
}

static void test_bad_evaluation_arguments(void **state) {
    (void)state;
    yq_coco_gt *gt = good_gt();
    const int64_t subset[] = {1, 3};
    yq_coco_result res;
    assert_int_equal(yq_coco_evaluate(gt, subset, 2, NULL, 0, &res), YQ_ERR_ARG);
    expect_message("image id 3", NULL);
    yq_coco_det d = {.image_id = 1, .category_id = 1, .bbox = {0, 0, 1, 1}, .score = NAN};
    assert_int_equal(yq_coco_evaluate(gt, NULL, 0, &d, 1, &res), YQ_ERR_INVALID);
    expect_message("non-finite", NULL);
    /* saving refuses non-finite values and leaves no file behind */
    const char *path = tmp_path("nan-dets.json");
    assert_int_equal(yq_coco_dets_save(path, &d, 1), YQ_ERR_ARG);
    expect_message(path, "non-finite");
    FILE *fp = fopen(path, "rb");
    assert_null(fp);
    yq_coco_gt_free(gt);
}

/* Accessors of a well-formed file; absent optional fields get their defaults. */
static void test_good_gt_accessors(void **state) {
    (void)state;
    yq_coco_gt *gt = good_gt();
    assert_int_equal(yq_coco_gt_num_images(gt), 2);
    assert_int_equal(yq_coco_gt_image(gt, 0)->id, 1);
    assert_string_equal(yq_coco_gt_image(gt, 0)->file_name, "a.jpg");
    assert_int_equal(yq_coco_gt_image(gt, 0)->height, 20);
    assert_string_equal(yq_coco_gt_image(gt, 1)->file_name, "");
    assert_int_equal(yq_coco_gt_image(gt, 1)->width, 0);
    assert_null(yq_coco_gt_image(gt, 2));
    assert_int_equal(yq_coco_gt_find_image(gt, 2), 1);
    assert_int_equal(yq_coco_gt_find_image(gt, 3), -1);
    assert_int_equal(yq_coco_gt_num_categories(gt), 1);
    assert_string_equal(yq_coco_gt_category(gt, 0)->name, "person");
    assert_string_equal(yq_coco_gt_category(gt, 0)->supercategory, "");
    assert_int_equal(yq_coco_gt_find_category(gt, 1), 0);
    assert_int_equal(yq_coco_gt_find_category(gt, 2), -1);
    assert_int_equal(yq_coco_gt_num_annotations(gt), 1);
    assert_true(yq_coco_gt_annotation(gt, 0)->area == 25.0);
    yq_coco_gt_free(gt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_nesting_and_size_limits),
        cmocka_unit_test(test_wrong_structure),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_bad_detections),
        cmocka_unit_test(test_bad_evaluation_arguments),
        cmocka_unit_test(test_good_gt_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
