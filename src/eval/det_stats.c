/* Score levels and duplicates of a detection list (see det_stats.h). */
#include "eval/det_stats.h"

#include <stdlib.h>

#include "eval/box_iou.h"

const double yq_det_stats_levels[YQ_DET_STATS_LEVELS] = {0.05, 0.1, 0.25, 0.5, 0.8};


typedef struct det_key {
    int64_t image;
    int category;
    double score;
    size_t index;
} det_key;

/* image, category, score descending, then list position */
static int by_group_score(const void *pa, const void *pb) {
    const det_key *x = pa, *y = pb;
    if (x->image != y->image) return x->image < y->image ? -1 : 1;
    if (x->category != y->category) return x->category < y->category ? -1 : 1;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

yq_status yq_det_stats_compute(const yq_coco_det *dets, size_t n, yq_det_stats *out) {
    *out = (yq_det_stats){0};
    if (n == 0) return YQ_OK;
    det_key *key = malloc(n * sizeof(det_key));
    if (!key) return yq_fail(YQ_ERR_NOMEM, "detection statistics: out of memory");
    for (size_t i = 0; i < n; i++) key[i] = (det_key){dets[i].image_id, dets[i].category_id, dets[i].score, i};
    qsort(key, n, sizeof(det_key), by_group_score);
    size_t g0 = 0;
    for (size_t k = 0; k < n; k++) {
        const yq_coco_det *d = &dets[key[k].index];
        if (k > 0 && (key[k].image != key[k - 1].image || key[k].category != key[k - 1].category)) g0 = k;
        int dup = 0;
        for (size_t j = g0; j < k && !dup; j++) dup = yq_xywh_iou(dets[key[j].index].bbox, d->bbox) > 0.5;
        for (int l = 0; l < YQ_DET_STATS_LEVELS; l++)
            if (d->score > yq_det_stats_levels[l]) out->above[l]++, out->duplicates[l] += (size_t)dup;
    }
    free(key);
    return YQ_OK;
}
