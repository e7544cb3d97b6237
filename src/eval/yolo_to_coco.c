#include "eval/yolo_to_coco.h"

#include <stdlib.h>

yq_status yq_coco_class_map(const yq_coco_gt *gt, int **cat_ids, size_t *ncat) {
    *cat_ids = NULL;
    *ncat = 0;
    size_t k = yq_coco_gt_num_categories(gt);
    if (k == 0) return yq_fail(YQ_ERR_INVALID, "the ground truth lists no categories");
    int *ids = yq_malloc(k * sizeof *ids);
    if (!ids) return YQ_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) ids[i] = yq_coco_gt_category(gt, i)->id; /* ascending id order */
    *cat_ids = ids;
    *ncat = k;
    return YQ_OK;
}

yq_status yq_coco_dets_from_yolo(const yq_det *dets, int n, int64_t image_id, const int *cat_ids, size_t ncat,
                                 yq_coco_det *out) {
    for (int i = 0; i < n; i++) {
        const yq_det *d = &dets[i];
        if (d->cls < 0 || (size_t)d->cls >= ncat)
            return yq_fail(YQ_ERR_INVALID,
                           "image %lld: the model predicted class %d, but the ground truth has only %zu categories",
                           (long long)image_id, d->cls, ncat);
        /* float subtraction on purpose: see the header */
        const float w = d->x2 - d->x1, h = d->y2 - d->y1;
        out[i].image_id = image_id;
        out[i].category_id = cat_ids[d->cls];
        out[i].bbox[0] = d->x1;
        out[i].bbox[1] = d->y1;
        out[i].bbox[2] = w;
        out[i].bbox[3] = h;
        out[i].score = d->score;
    }
    return YQ_OK;
}
