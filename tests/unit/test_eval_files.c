/* Results files, metrics files and latency statistics. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/json_io.h"
#include "eval/latency.h"
#include "eval/metrics_json.h"

/* A fresh folder per test so "no temporary left behind" can be checked. */
static const char *fresh_dir(const char *name) {
    static char buf[1024];
    assert_true(snprintf(buf, sizeof buf, "%s/%s", yqt_tmpdir(), name) < (int)sizeof buf);
    assert_int_equal(mkdir(buf, 0755), 0);
    return buf;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Doubles written by yq_coco_dets_save read back bit for bit, including
 * float model outputs (which print long as doubles) and awkward values. */
static void test_dets_round_trip(void **state) {
    (void)state;
    const char *dir = fresh_dir("roundtrip");
    char path[1100];
    assert_true(snprintf(path, sizeof path, "%s/dets.json", dir) < (int)sizeof path);
    const double values[] = {0.1, (double)0.1f, 1.0 / 3.0, 1e-300, 4.9e-324, 123456.789f, -0.0, 0.0,
                             1e22, 0.30000000000000004, 2.5, (double)0.897089481f};
    enum { NV = sizeof values / sizeof values[0] };
    yq_coco_det dets[NV];
    for (int i = 0; i < NV; i++) {
        dets[i].image_id = 9007199254740992LL - i; /* up to 2^53 */
        dets[i].category_id = -5 + i;
        for (int c = 0; c < 4; c++) dets[i].bbox[c] = values[(i + c) % NV];
        dets[i].score = values[(i + 4) % NV];
    }
    assert_int_equal(yq_coco_dets_save(path, dets, NV), YQ_OK);
    assert_int_equal(count_entries(dir), 1); /* the temporary was renamed, nothing else left */
    yq_coco_det *back = NULL;
    size_t n = 0;
    if (yq_coco_dets_load(path, NULL, &back, &n) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_int_equal(n, NV);
    for (int i = 0; i < NV; i++) {
        assert_int_equal(back[i].image_id, dets[i].image_id);
        assert_int_equal(back[i].category_id, dets[i].category_id);
        assert_memory_equal(back[i].bbox, dets[i].bbox, sizeof dets[i].bbox);
        assert_memory_equal(&back[i].score, &dets[i].score, sizeof dets[i].score);
    }
    free(back);
    /* an empty list is a valid file */
    assert_int_equal(yq_coco_dets_save(path, NULL, 0), YQ_OK);
    assert_int_equal(yq_coco_dets_load(path, NULL, &back, &n), YQ_OK);
    assert_int_equal(n, 0);
    free(back);
}

static void test_format_double(void **state) {
    (void)state;
    char buf[YQ_JSON_NUM_BUF];
    yq_json_format_double(buf, 0.1);
    assert_string_equal(buf, "0.1");
    yq_json_format_double(buf, 0.30000000000000004);
    assert_string_equal(buf, "0.30000000000000004");
    yq_json_format_double(buf, (double)0.1f);
    assert_string_equal(buf, "0.10000000149011612");
    yq_json_format_double(buf, 250);
    assert_string_equal(buf, "250");
    yq_json_format_double(buf, NAN);
    assert_string_equal(buf, "null");
}

/* Latency samples 100 (warm-up), 5, 1, 3, NaN (skipped), 2, 4, -1 (skipped):
 * used 1..5: mean 3, median 3, p90 = 4 + .6 = 4.6, p99 = 4.96, population
 * std sqrt(2), total 15 ms -> 5 runs x 2 images / 0.015 s = 666.67 images/s. */
static void test_latency_stats(void **state) {
    (void)state;
    const double samples[] = {100, 5, 1, 3, NAN, 2, 4, -1};
    yq_latency_stats st;
    assert_int_equal(yq_latency_compute(samples, 8, 1, 2.0, &st), YQ_OK);
    assert_int_equal(st.count, 5);
    assert_int_equal(st.skipped, 3);
    assert_true(fabs(st.mean_ms - 3) < 1e-12);
    assert_true(fabs(st.median_ms - 3) < 1e-12);
    assert_true(fabs(st.p90_ms - 4.6) < 1e-12);
    assert_true(fabs(st.p99_ms - 4.96) < 1e-12);
    assert_true(st.min_ms == 1 && st.max_ms == 5);
    assert_true(fabs(st.stddev_ms - sqrt(2.0)) < 1e-12);
    assert_true(fabs(st.total_ms - 15) < 1e-12);
    assert_true(fabs(st.throughput_per_s - 10 / 0.015) < 1e-9);
    /* even count: the median is the mean of the middle two */
    const double even[] = {4, 1, 3, 2};
    assert_int_equal(yq_latency_compute(even, 4, 0, 1.0, &st), YQ_OK);
    assert_true(fabs(st.median_ms - 2.5) < 1e-12);
    assert_true(fabs(st.p90_ms - 3.7) < 1e-12);
    /* nothing left: an error, not a division by zero */
    assert_int_equal(yq_latency_compute(samples, 8, 8, 1.0, &st), YQ_ERR_ARG);
    assert_int_equal(yq_latency_compute(samples, 8, 20, 1.0, &st), YQ_ERR_ARG);
    const double bad[] = {NAN, -2};
    assert_int_equal(yq_latency_compute(bad, 2, 0, 1.0, &st), YQ_ERR_ARG);
    assert_int_equal(yq_latency_compute(even, 4, 0, 0.0, &st), YQ_ERR_ARG);
}

static void test_metrics_file(void **state) {
    (void)state;
    const char *js =
        "{\"images\": [{\"id\": 1}],"
        " \"categories\": [{\"id\": 1, \"name\": \"person\"}, {\"id\": 2, \"name\": \"bike\"}],"
        " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 100, 100],"
        " \"area\": 10000}]}";
    yq_coco_gt *gt = NULL;
    assert_int_equal(yq_coco_gt_parse(js, strlen(js), "gt", &gt), YQ_OK);
    /* a miss then a hit: AP .5 for person; bike has no ground truth (-1) */
    const yq_coco_det dets[] = {
        {.image_id = 1, .category_id = 1, .bbox = {300, 300, 50, 50}, .score = 0.9},
        {.image_id = 1, .category_id = 1, .bbox = {0, 0, 100, 100}, .score = 0.8},
    };
    yq_coco_result res;
    assert_int_equal(yq_coco_evaluate(gt, NULL, 0, dets, 2, &res), YQ_OK);
    const double samples[] = {9, 10, 12};
    yq_latency_stats lat;
    assert_int_equal(yq_latency_compute(samples, 3, 1, 1.0, &lat), YQ_OK);

    const char *dir = fresh_dir("metrics");
    char path[1100];
    assert_true(snprintf(path, sizeof path, "%s/metrics.json", dir) < (int)sizeof path);
    yq_metrics_doc doc = {.model = "yolov10n.onnx", .gt_path = "gt.json", .coco = &res, .gt = gt, .latency = &lat};
    assert_int_equal(yq_metrics_json_write(path, &doc), YQ_OK);
    assert_int_equal(count_entries(dir), 1);

    double stats[YQ_COCO_NUM_STATS];
    if (yq_metrics_json_read_stats(path, stats) != YQ_OK) fail_msg("%s", yq_last_error());
    assert_memory_equal(stats, res.stats, sizeof stats); /* bit-exact through JSON */
    assert_true(fabs(stats[YQ_COCO_AP] - 0.5) < 1e-12);

    cJSON *root = NULL;
    assert_int_equal(yq_json_load(path, 1 << 20, 16, &root), YQ_OK);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring, "yolov10n.onnx");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "detections"));
    const cJSON *coco = cJSON_GetObjectItemCaseSensitive(root, "coco");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(coco, "num_images")->valuedouble, 1);
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(coco, "per_class");
    assert_int_equal(cJSON_GetArraySize(pc), 2);
    const cJSON *bike = cJSON_GetArrayItem(pc, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(bike, "name")->valuestring, "bike");
    assert_true(cJSON_GetObjectItemCaseSensitive(bike, "ap")->valuedouble == -1.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pc, 0), "num_gt")->valuedouble == 1.0);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "latency");
    assert_true(cJSON_GetObjectItemCaseSensitive(l, "median_ms")->valuedouble == 11.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(l, "skipped")->valuedouble == 1.0);
    cJSON_Delete(root);

    /* a file without coco.stats is refused with a clear message */
    char other[1100];
    assert_true(snprintf(other, sizeof other, "%s/other.json", dir) < (int)sizeof other);
    yq_metrics_doc only_latency = {.latency = &lat};
    assert_int_equal(yq_metrics_json_write(other, &only_latency), YQ_OK);
    assert_int_equal(yq_metrics_json_read_stats(other, stats), YQ_ERR_INVALID);
    assert_non_null(strstr(yq_last_error(), "other.json"));

    yq_coco_result_free(&res);
    yq_coco_gt_free(gt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dets_round_trip),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_latency_stats),
        cmocka_unit_test(test_metrics_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
