/* Helper for tests/cli/test_eval_cli.sh: reads what `yoloq eval` wrote.
 *
 *   tool_evalcli_check get METRICS.json KEY.PATH
 *       print a member (numbers as %.17g, strings as is); exit 1 when absent.
 *   tool_evalcli_check recheck GT.json DETS.json METRICS.json [--first N | --ids FILE]
 *       evaluate the detections file again over the same images (all of GT, its
 *       first N in ascending id order, or an id list) and require the 12 stats
 *       in the metrics file to be exactly the ones the re-evaluation gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/image_ids.h"
#include "eval/json_io.h"
#include "eval/metrics_json.h"

static int get(const char *path, const char *key) {
    cJSON *root = NULL;
    if (yq_json_load(path, (size_t)256 << 20, 64, &root) != YQ_OK) {
        fprintf(stderr, "%s\n", yq_last_error());
        return 2;
    }
    char *keys = strdup(key);
    const cJSON *node = root;
    for (char *save = NULL, *tok = strtok_r(keys, ".", &save); tok && node; tok = strtok_r(NULL, ".", &save))
        node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, atoi(tok)) : cJSON_GetObjectItemCaseSensitive(node, tok);
    int rc = 0;
    if (!node) {
        fprintf(stderr, "%s: no member %s\n", path, key);
        rc = 1;
    } else if (cJSON_IsNumber(node)) printf("%.17g\n", node->valuedouble);
    else if (cJSON_IsString(node)) printf("%s\n", node->valuestring);
    else if (cJSON_IsArray(node)) printf("%d\n", cJSON_GetArraySize(node)); /* arrays: their length */
    else printf("%s\n", cJSON_IsNull(node) ? "null" : cJSON_IsBool(node) ? (cJSON_IsTrue(node) ? "true" : "false")
                                                                           : "object");
    free(keys);
    cJSON_Delete(root);
    return rc;
}

static int recheck(int argc, char **argv) {
    const char *gt_path = argv[0], *dets_path = argv[1], *metrics_path = argv[2];
    yq_coco_gt *gt = NULL;
    yq_coco_det *dets = NULL;
    size_t ndets = 0, nids = 0;
    int64_t *ids = NULL;
    double want[YQ_COCO_NUM_STATS];
    if (yq_coco_gt_load(gt_path, &gt) != YQ_OK || yq_coco_dets_load(dets_path, gt, &dets, &ndets) != YQ_OK ||
        yq_metrics_json_read_stats(metrics_path, want) != YQ_OK) {
        fprintf(stderr, "%s\n", yq_last_error());
        return 2;
    }
    if (argc >= 5 && !strcmp(argv[3], "--first")) {
        nids = (size_t)atol(argv[4]);
        if (nids > yq_coco_gt_num_images(gt)) nids = yq_coco_gt_num_images(gt);
        ids = malloc(nids * sizeof *ids);
        for (size_t i = 0; i < nids; i++) ids[i] = yq_coco_gt_image(gt, i)->id;
    } else if (argc >= 5 && !strcmp(argv[3], "--ids")) {
        if (yq_image_ids_load(argv[4], &ids, &nids) != YQ_OK) {
            fprintf(stderr, "%s\n", yq_last_error());
            return 2;
        }
    }
    yq_coco_result res;
    if (yq_coco_evaluate(gt, ids, ids ? nids : 0, dets, ndets, &res) != YQ_OK) {
        fprintf(stderr, "%s\n", yq_last_error());
        return 2;
    }
    int bad = 0;
    for (int i = 0; i < YQ_COCO_NUM_STATS; i++)
        if (res.stats[i] != want[i]) {
            fprintf(stderr, "%s: %.17g in %s, %.17g re-evaluated from %s\n", yq_coco_stat_name(i), want[i],
                    metrics_path, res.stats[i], dets_path);
            bad = 1;
        }
    printf("re-evaluated %zu detections on %zu images: AP %.6f AP50 %.6f%s\n", ndets, res.nimages,
           res.stats[YQ_COCO_AP], res.stats[YQ_COCO_AP50], bad ? " (MISMATCH)" : " (identical)");
    yq_coco_result_free(&res);
    free(ids);
    free(dets);
    yq_coco_gt_free(gt);
    return bad;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "get")) return get(argv[2], argv[3]);
    if ((argc == 5 || argc == 7) && !strcmp(argv[1], "recheck")) return recheck(argc - 2, argv + 2);
    fprintf(stderr, "usage: tool_evalcli_check get METRICS KEY.PATH\n"
                    "       tool_evalcli_check recheck GT DETS METRICS [--first N | --ids FILE]\n");
    return 2;
}
