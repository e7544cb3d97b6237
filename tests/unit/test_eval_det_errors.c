/* Error kinds of detections against the ground truth (eval/det_errors.h) on a
 * hand-built case: one detection of each kind, worked out in the comments. */
#include "testutil.h"

#include <string.h>

#include "eval/det_errors.h"

static const char GT[] =
    "{\"images\": [{\"id\": 1, \"file_name\": \"1.jpg\", \"width\": 640, \"height\": 480},"
    " {\"id\": 2, \"file_name\": \"2.jpg\", \"width\": 640, \"height\": 480},"
    " {\"id\": 3, \"file_name\": \"3.jpg\", \"width\": 640, \"height\": 480},"
    " {\"id\": 4, \"file_name\": \"4.jpg\", \"width\": 640, \"height\": 480}],"
    " \"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}],"
    " \"annotations\": ["
    "  {\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [0, 0, 10, 10]},"
    "  {\"id\": 2, \"image_id\": 1, \"category_id\": 2, \"iscrowd\": 0, \"bbox\": [100, 100, 10, 10]},"
    "  {\"id\": 3, \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 1, \"bbox\": [200, 200, 50, 50]},"
    "  {\"id\": 4, \"image_id\": 2, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [0, 0, 10, 10]},"
    "  {\"id\": 5, \"image_id\": 4, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [0, 0, 10, 10]}]}";

static const yq_coco_det DETS[] = {
    {1, 1, {0, 0, 10, 10}, 0.9},     /* TP: object 1 */
    {1, 1, {1, 0, 10, 10}, 0.8},     /* IoU 90/110 with object 1, already taken: duplicate */
    {1, 1, {210, 210, 10, 10}, 0.7}, /* inside the crowd region of its category: crowd */
    {1, 1, {100, 100, 10, 10}, 0.6}, /* on object 2 of category 2: class */
    {1, 1, {5, 0, 10, 10}, 0.5},     /* IoU 50/150 = 0.33 with object 1: localisation */
    {1, 1, {400, 400, 10, 10}, 0.4}, /* nothing near: background */
    {2, 1, {0, 0, 10, 10}, 0.05},    /* TP on object 4, but only at level 0 */
    {3, 2, {0, 0, 10, 10}, 0.3},     /* image 3 has no objects: background */
};
#define N (sizeof DETS / sizeof DETS[0])

static void test_hand_counts(void **state) {
    (void)state;
    yq_coco_gt *gt = NULL;
    if (yq_coco_gt_parse(GT, strlen(GT), "test-gt", &gt) != YQ_OK) fail_msg("%s", yq_last_error());
    const int64_t ids[3] = {1, 2, 3}; /* image 4 is not evaluated: its object is not counted */
    const double levels[2] = {0.0, 0.1};
    yq_det_errors e[2];
    assert_int_equal(yq_det_errors_compute(gt, ids, 3, DETS, N, levels, 2, e), YQ_OK);
    const size_t want0[YQ_DE_NKINDS] = {2, 1, 1, 1, 1, 2}, want1[YQ_DE_NKINDS] = {1, 1, 1, 1, 1, 2};
    for (int k = 0; k < YQ_DE_NKINDS; k++) {
        assert_int_equal(e[0].count[k], want0[k]);
        assert_int_equal(e[1].count[k], want1[k]);
    }
    assert_int_equal(e[0].objects, 3); /* objects 1, 2, 4 (3 is a crowd, 5 is in image 4) */
    assert_int_equal(e[0].missed, 1);  /* object 2: nothing of category 2 on it */
    assert_int_equal(e[1].missed, 2);  /* and object 4, found only below 0.1 */
    assert_true(e[1].level == 0.1);
    assert_string_equal(yq_det_error_names[YQ_DE_LOCALISATION], "localisation");

    /* list order does not matter; a later, higher-scored duplicate takes the object instead */
    yq_coco_det rev[N];
    for (size_t i = 0; i < N; i++) rev[i] = DETS[N - 1 - i];
    rev[N - 2].score = 0.95; /* the shifted box (IoU 0.82) now comes first */
    assert_int_equal(yq_det_errors_compute(gt, ids, 3, rev, N, levels, 2, e), YQ_OK);
    for (int k = 0; k < YQ_DE_NKINDS; k++) assert_int_equal(e[1].count[k], want1[k]);

    /* the highest-IoU free object is taken: the first detection sits on object 2 (IoU 1; 70/130 = 0.54 with
     * object 1), the second overlaps object 1 at 0.54 and object 2 at 40/160 */
    static const char GT2[] =
        "{\"images\": [{\"id\": 7, \"file_name\": \"7.jpg\", \"width\": 64, \"height\": 64}],"
        " \"categories\": [{\"id\": 1, \"name\": \"a\"}], \"annotations\": ["
        "  {\"id\": 1, \"image_id\": 7, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [0, 0, 10, 10]},"
        "  {\"id\": 2, \"image_id\": 7, \"category_id\": 1, \"iscrowd\": 0, \"bbox\": [3, 0, 10, 10]}]}";
    yq_coco_gt *gt2 = NULL;
    if (yq_coco_gt_parse(GT2, strlen(GT2), "test-gt2", &gt2) != YQ_OK) fail_msg("%s", yq_last_error());
    const yq_coco_det two[2] = {{7, 1, {3, 0, 10, 10}, 0.9}, {7, 1, {-3, 0, 10, 10}, 0.8}};
    const int64_t id7 = 7;
    assert_int_equal(yq_det_errors_compute(gt2, &id7, 1, two, 2, levels, 1, e), YQ_OK);
    assert_int_equal(e[0].count[YQ_DE_TP], 2); /* taking the first object above 0.5 would leave the second detection a localisation error */
    assert_int_equal(e[0].missed, 0);

    /* an image that is not in the annotations */
    const int64_t bad[1] = {99};
    assert_int_equal(yq_det_errors_compute(gt, bad, 1, DETS, N, levels, 2, e), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "99"));
    yq_coco_gt_free(gt);
    yq_coco_gt_free(gt2);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hand_counts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
