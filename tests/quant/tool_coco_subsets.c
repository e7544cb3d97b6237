/* mAP50-95 of a COCO results file on the whole ground truth and on image-id
 * subsets, without re-running a model: how docs/STATUS.md reports the dev set
 * and its two halves (ids even / odd) from one evaluation's detections
 * (`yoloq eval ... --detections-out DETS.json`). The same numbers as
 * `yoloq eval --image-ids FILE` on each subset.
 *
 *   tool_coco_subsets INSTANCES.json DETS.json [IDS.txt ...]
 *
 * Prints "all <AP> <AP50>" then "<IDS.txt> <AP> <AP50>" per list. */
#include <stdio.h>
#include <stdlib.h>

#include "eval/cocoeval.h"
#include "eval/coco_json.h"
#include "eval/image_ids.h"

static int eval_print(const char *label, const yq_coco_gt *gt, const int64_t *ids, size_t nids,
                      const yq_coco_det *dets, size_t ndets) {
    yq_coco_result res;
    if (yq_coco_evaluate(gt, ids, nids, dets, ndets, &res) != YQ_OK) {
        fprintf(stderr, "tool_coco_subsets: %s\n", yq_last_error());
        return 1;
    }
    printf("%s %.4f %.4f (%zu images)\n", label, res.stats[YQ_COCO_AP], res.stats[YQ_COCO_AP50], res.nimages);
    yq_coco_result_free(&res);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s INSTANCES.json DETS.json [IDS.txt ...]\n", argv[0]);
        return 2;
    }
    yq_coco_gt *gt = NULL;
    yq_coco_det *dets = NULL;
    size_t ndets = 0;
    if (yq_coco_gt_load(argv[1], &gt) != YQ_OK || yq_coco_dets_load(argv[2], gt, &dets, &ndets) != YQ_OK) {
        fprintf(stderr, "tool_coco_subsets: %s\n", yq_last_error());
        yq_coco_gt_free(gt);
        return 1;
    }
    int rc = eval_print("all", gt, NULL, 0, dets, ndets);
    for (int a = 3; a < argc && !rc; a++) {
        int64_t *ids = NULL;
        size_t n = 0;
        if (yq_image_ids_load(argv[a], &ids, &n) != YQ_OK) {
            fprintf(stderr, "tool_coco_subsets: %s\n", yq_last_error());
            rc = 1;
            break;
        }
        rc = eval_print(argv[a], gt, ids, n, dets, ndets);
        free(ids);
    }
    free(dets);
    yq_coco_gt_free(gt);
    return rc;
}
