/* The pieces of `yoloq eval` that are not the model: image-id list files and
 * the conversion of detections into COCO results (class -> category id,
 * boxes -> x,y,w,h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/coco_json.h"
#include "eval/image_ids.h"
#include "eval/yolo_to_coco.h"

static yq_status parse(const char *text, int64_t **ids, size_t *n) {
    yq_clear_error();
    return yq_image_ids_parse(text, strlen(text), "ids.txt", ids, n);
}

static void expect_ids(const char *text, const int64_t *want, size_t nwant) {
    int64_t *ids = NULL;
    size_t n = 0;
    if (parse(text, &ids, &n) != YQ_OK) fail_msg("'%s': %s", text, yq_last_error());
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
    free(ids);
}

static void expect_error(const char *text, yq_status want, const char *m1, const char *m2) {
    int64_t *ids = (int64_t *)&ids; /* must come back NULL */
    size_t n = 7;
    yq_status st = parse(text, &ids, &n);
    if (st != want) fail_msg("'%s': status %s (%s), want %s", text, yq_status_name(st), yq_last_error(),
                             yq_status_name(want));
    assert_null(ids);
    assert_int_equal(n, 0);
    const char *msg = yq_last_error();
    if (!strstr(msg, m1)) fail_msg("error '%s' does not mention '%s'", msg, m1);
    if (m2 && !strstr(msg, m2)) fail_msg("error '%s' does not mention '%s'", msg, m2);
}

static void test_ids_valid(void **state) {
    (void)state;
    const int64_t a[] = {139, 285, 632};
    expect_ids("139\n285\n632\n", a, 3);
    expect_ids("139\n285\n632", a, 3); /* no final newline */
    expect_ids("# dev subset\n\n  139  \r\n285 # a comment\n\t632\n#end\n", a, 3);
    const int64_t order[] = {632, 139}; /* file order is kept */
    expect_ids("632\n139\n", order, 2);
    const int64_t big[] = {0, 9007199254740992LL}; /* 2^53 */
    expect_ids("0\n9007199254740992\n", big, 2);
}

static void test_ids_invalid(void **state) {
    (void)state;
    expect_error("", YQ_ERR_INVALID, "ids.txt", "no image ids");
    expect_error("# only comments\n\n", YQ_ERR_INVALID, "ids.txt", "no image ids");
    expect_error("139\nabc\n", YQ_ERR_PARSE, "ids.txt:2", "'abc'");
    expect_error("139\n-4\n", YQ_ERR_PARSE, "ids.txt:2", "'-4'");
    expect_error("1.5\n", YQ_ERR_PARSE, "ids.txt:1", "'1.5'");
    expect_error("139 285\n", YQ_ERR_PARSE, "ids.txt:1", "'139 285'");
    expect_error("9007199254740993\n", YQ_ERR_PARSE, "ids.txt:1", NULL); /* 2^53 + 1 */
    expect_error("99999999999999999999999\n", YQ_ERR_PARSE, "ids.txt:1", NULL);
    expect_error("5\n\n7\n# x\n5\n", YQ_ERR_INVALID, "ids.txt:5", "listed twice (first on line 1)");
}

static void test_ids_file(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/ids.txt", yqt_tmpdir());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("# two\n724\n139\n", fp);
    fclose(fp);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(yq_image_ids_load(path, &ids, &n), YQ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 724);
    assert_int_equal(ids[1], 139);
    free(ids);
    snprintf(path, sizeof path, "%s/none.txt", yqt_tmpdir());
    assert_int_equal(yq_image_ids_load(path, &ids, &n), YQ_ERR_IO);
    assert_non_null(strstr(yq_last_error(), path));
}

/* Categories listed out of order and with gaps: class k is the k-th by id. */
static const char *GT = "{\"images\": [{\"id\": 3, \"file_name\": \"a.jpg\"}],"
                        " \"categories\": [{\"id\": 90, \"name\": \"toothbrush\"}, {\"id\": 1, \"name\": \"person\"},"
                        " {\"id\": 13, \"name\": \"stop sign\"}],"
                        " \"annotations\": []}";

static void test_class_map_and_boxes(void **state) {
    (void)state;
    yq_coco_gt *gt = NULL;
    if (yq_coco_gt_parse(GT, strlen(GT), "gt.json", &gt) != YQ_OK) fail_msg("%s", yq_last_error());
    int *cats = NULL;
    size_t ncat = 0;
    assert_int_equal(yq_coco_class_map(gt, &cats, &ncat), YQ_OK);
    assert_int_equal(ncat, 3);
    assert_int_equal(cats[0], 1);
    assert_int_equal(cats[1], 13);
    assert_int_equal(cats[2], 90);

    /* Widths are float differences (as Ultralytics' torch code has them): for these
     * corners float gives 600.8641967773438, double would give 600.8642141073942. */
    const float x1 = 0.12345679104328156f, x2 = 600.9876708984375f;
    const yq_det dets[2] = {{x1, 167.08447265625f, x2, 263.18218994140625f, 0.8970894813537598f, 2},
                            {0.f, 0.f, 10.f, 20.f, 0.5f, 0}};
    yq_coco_det out[2];
    assert_int_equal(yq_coco_dets_from_yolo(dets, 2, 3, cats, ncat, out), YQ_OK);
    assert_int_equal(out[0].image_id, 3);
    assert_int_equal(out[0].category_id, 90);
    assert_true(out[0].bbox[0] == 0.12345679104328156);
    assert_true(out[0].bbox[1] == 167.08447265625);
    assert_true(out[0].bbox[2] == 600.8641967773438);
    assert_true(out[0].bbox[3] == 96.09771728515625);
    assert_true(out[0].score == 0.8970894813537598);
    assert_int_equal(out[1].category_id, 1);
    assert_true(out[1].bbox[2] == 10.0 && out[1].bbox[3] == 20.0);

    const yq_det bad = {0, 0, 1, 1, 0.9f, 3};
    yq_clear_error();
    assert_int_equal(yq_coco_dets_from_yolo(&bad, 1, 3, cats, ncat, out), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "class 3"));
    const yq_det neg = {0, 0, 1, 1, 0.9f, -1};
    assert_int_equal(yq_coco_dets_from_yolo(&neg, 1, 3, cats, ncat, out), YQ_ERR_INVALID);
    free(cats);
    yq_coco_gt_free(gt);

    const char *nocat = "{\"images\": [{\"id\": 1}], \"categories\": [], \"annotations\": []}";
    assert_int_equal(yq_coco_gt_parse(nocat, strlen(nocat), "nocat.json", &gt), YQ_OK);
    assert_int_equal(yq_coco_class_map(gt, &cats, &ncat), YQ_ERR_INVALID);
    assert_null(cats);
    yq_coco_gt_free(gt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_valid),
        cmocka_unit_test(test_ids_invalid),
        cmocka_unit_test(test_ids_file),
        cmocka_unit_test(test_class_map_and_boxes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
