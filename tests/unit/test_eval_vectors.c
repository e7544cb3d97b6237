/* COCO bbox evaluation against pycocotools: every case of
 * shared/eval-vectors/expected.json (stats pycocotools 2.0 printed with
 * default parameters) must be reproduced. The implementation repeats numpy's
 * arithmetic step by step, so the stats agree to the last bit; the test
 * allows 1e-12 absolute per stat (the product needs 1e-4, the brief asked for
 * 1e-6): tight enough to catch a protocol slip that moves a single tie or
 * match, loose enough for a different but correct libm or compiler. The
 * largest difference seen is printed. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/json_io.h"

#define STAT_TOL 1e-12

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_expected_vectors(void **state) {
    (void)state;
    YQT_REQUIRE_SHARED();
    char dir[4096], path[4096];
    assert_true(snprintf(dir, sizeof dir, "%s", yqt_shared_path("eval-vectors")) < (int)sizeof dir);
    assert_true(snprintf(path, sizeof path, "%s/expected.json", dir) < (int)sizeof path);
    cJSON *expected = NULL;
    if (yq_json_load(path, (size_t)1 << 20, 16, &expected) != YQ_OK) fail_msg("%s", yq_last_error());
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(expected, "cases");
    assert_true(cJSON_IsArray(cases));
    assert_true(cJSON_GetArraySize(cases) >= 9);

    double worst = 0;
    int ncases = 0;
    char gt_loaded[4096] = "";
    yq_coco_gt *gt = NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *gt_rel = cJSON_GetObjectItemCaseSensitive(c, "gt")->valuestring;
        const char *dets_rel = cJSON_GetObjectItemCaseSensitive(c, "dets")->valuestring;
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(c, "stats");
        char gt_path[4096], dets_path[4096];
        assert_true(snprintf(gt_path, sizeof gt_path, "%s/%s", dir, gt_rel) < (int)sizeof gt_path);
        assert_true(snprintf(dets_path, sizeof dets_path, "%s/%s", dir, dets_rel) < (int)sizeof dets_path);
        double t0 = now_s();
        if (strcmp(gt_path, gt_loaded) != 0) {
            yq_coco_gt_free(gt);
            gt = NULL;
            if (yq_coco_gt_load(gt_path, &gt) != YQ_OK) fail_msg("%s", yq_last_error());
            snprintf(gt_loaded, sizeof gt_loaded, "%s", gt_path);
        }
        double t1 = now_s();
        yq_coco_det *dets = NULL;
        size_t ndets = 0;
        if (yq_coco_dets_load(dets_path, gt, &dets, &ndets) != YQ_OK) fail_msg("%s", yq_last_error());
        double t2 = now_s();
        yq_coco_result res;
        if (yq_coco_evaluate(gt, NULL, 0, dets, ndets, &res) != YQ_OK) fail_msg("%s", yq_last_error());
        double t3 = now_s();
        double case_worst = 0;
        for (int i = 0; i < YQ_COCO_NUM_STATS; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(stats, yq_coco_stat_name(i));
            assert_non_null(v);
            double diff = fabs(res.stats[i] - v->valuedouble);
            if (diff > case_worst) case_worst = diff;
            if (diff > STAT_TOL)
                fail_msg("%s: %s = %.17g, pycocotools %.17g (diff %.3g)", dets_rel, yq_coco_stat_name(i), res.stats[i],
                         v->valuedouble, diff);
        }
        print_message("%-28s %6zu dets: max |diff| %.3g; load gt %.0f ms, dets %.0f ms, evaluate %.0f ms\n", dets_rel,
                      ndets, case_worst, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3);
        if (case_worst > worst) worst = case_worst;
        ncases++;
        yq_coco_result_free(&res);
        free(dets);
    }
    print_message("%d cases, largest stat difference from pycocotools: %.3g\n", ncases, worst);
    yq_coco_gt_free(gt);
    cJSON_Delete(expected);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
