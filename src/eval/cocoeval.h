/* The COCO bounding-box evaluation protocol, as pycocotools 2.x
 * COCOeval(gt, dt, 'bbox') runs it with default parameters:
 *   - images: the ground truth's (or a chosen subset), categories: the ground truth's;
 *   - per image and category: detections by descending score (ties keep input
 *     order), at most 100; a ground truth box is ignored when it is a crowd
 *     region or its "area" lies outside the area range;
 *   - IoU of boxes in double precision; a crowd box's IoU is inter / detection area;
 *   - greedy matching at IoU thresholds .50:.05:.95, each detection taking the
 *     best still-free ground truth box, regular boxes before ignored ones, crowd
 *     boxes free for any number of detections; unmatched detections outside the
 *     area range are ignored;
 *   - precision at 101 recall points (envelope from the right), recall at the
 *     last detection, per category, area range (all, small, medium, large) and
 *     detection limit (1, 10, 100);
 *   - the 12 summary numbers average the entries that are not -1 (a category
 *     without ground truth in an area range has -1 there).
 * Every floating-point step is the one numpy performs, in the same order (down
 * to numpy's blocked pairwise summation in the final means), so the stats
 * agree with pycocotools to the last bit or so, not just to a tolerance. */
#ifndef YQ_EVAL_COCOEVAL_H
#define YQ_EVAL_COCOEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "eval/coco_json.h"

#define YQ_COCO_NUM_STATS 12
#define YQ_COCO_NUM_IOU_THRS 10  /* T */
#define YQ_COCO_NUM_REC_THRS 101 /* R */
#define YQ_COCO_NUM_AREAS 4      /* A: all, small, medium, large */
#define YQ_COCO_NUM_MAX_DETS 3   /* M: 1, 10, 100 */

enum yq_coco_stat {
    YQ_COCO_AP = 0, /* AP @[IoU=.50:.95, area all, maxDets 100] */
    YQ_COCO_AP50,
    YQ_COCO_AP75,
    YQ_COCO_AP_SMALL,
    YQ_COCO_AP_MEDIUM,
    YQ_COCO_AP_LARGE,
    YQ_COCO_AR1, /* AR @[IoU=.50:.95, area all, maxDets 1] */
    YQ_COCO_AR10,
    YQ_COCO_AR100,
    YQ_COCO_AR_SMALL,
    YQ_COCO_AR_MEDIUM,
    YQ_COCO_AR_LARGE,
};

/* "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl". */
const char *yq_coco_stat_name(int stat);
/* The line pycocotools prints for the stat, without the value, e.g.
 * "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]". */
const char *yq_coco_stat_description(int stat);

/* The protocol's parameters, bit-identical to pycocotools' np.linspace values. */
double yq_coco_iou_threshold(int t);    /* t < T: 0.5, 0.55, ..., 0.95 */
double yq_coco_recall_threshold(int r); /* r < R: 0, 0.01, ..., 1 */
int yq_coco_max_dets(int m);            /* m < M: 1, 10, 100 */
const char *yq_coco_area_name(int a);   /* "all", "small", "medium", "large" */

typedef struct yq_coco_result {
    double stats[YQ_COCO_NUM_STATS];
    size_t nimages; /* images evaluated */
    size_t ncat;    /* K: the ground truth's categories, ascending id */
    int *cat_ids;
    double *ap_per_class;   /* AP@[.50:.95], area all, maxDets 100; -1 when the class has no ground truth */
    double *ap50_per_class; /* AP@.50, same conventions */
    size_t *ngt_per_class;  /* non-crowd ground truth boxes in the evaluated images */
    size_t *ndet_per_class; /* detections evaluated (at most 100 per image) */
    /* pycocotools' eval['precision'] [T][R][K][A][M] and eval['recall'] [T][K][A][M], -1 where undefined */
    double *precision;
    double *recall;
} yq_coco_result;

/* Evaluate detections against the ground truth. image_ids selects the images
 * (duplicates allowed, each must be in gt); NULL means all of gt's images.
 * Detections of images outside the selection or of categories gt does not
 * list are not counted; a detection of an image gt does not have is an error,
 * as in pycocotools. Free the result with yq_coco_result_free. */
yq_status yq_coco_evaluate(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, const yq_coco_det *dets,
                           size_t ndets, yq_coco_result *out);
void yq_coco_result_free(yq_coco_result *res);

/* Index helpers for the result's arrays. */
static inline size_t yq_coco_precision_index(const yq_coco_result *res, int t, int r, int k, int a, int m) {
    return (((((size_t)t * YQ_COCO_NUM_REC_THRS + (size_t)r) * res->ncat + (size_t)k) * YQ_COCO_NUM_AREAS +
             (size_t)a) *
                YQ_COCO_NUM_MAX_DETS +
            (size_t)m);
}
static inline size_t yq_coco_recall_index(const yq_coco_result *res, int t, int k, int a, int m) {
    return ((((size_t)t * res->ncat + (size_t)k) * YQ_COCO_NUM_AREAS + (size_t)a) * YQ_COCO_NUM_MAX_DETS +
            (size_t)m);
}

/* numpy's float64 sum of a contiguous array: pairwise summation (8-way
 * unrolled leaves of at most 128) within blocks of 8192 elements, the blocks
 * added in order. Exposed for tests and for code that must match numpy means. */
double yq_numpy_sum(const double *x, size_t n);

#endif
