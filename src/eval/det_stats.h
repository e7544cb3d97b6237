/* How a detector's scores are spread, and how many of its detections are
 * duplicates: the diagnostic for NMS-free (one-to-one) heads such as
 * YOLOv10's, whose learnt suppression of an object's neighbouring anchors is
 * what quantization and fine-tuning disturb first. A duplicate is a detection
 * with an IoU above 0.5 with a higher-scored detection of the same image and
 * category (equal scores: the earlier one in the list is the higher), the
 * boxes a class-wise NMS at 0.5 would remove. */
#ifndef YQ_EVAL_DET_STATS_H
#define YQ_EVAL_DET_STATS_H

#include <stddef.h>

#include "core/status.h"
#include "eval/coco_json.h"

#define YQ_DET_STATS_LEVELS 5
/* The score levels of a report: 0.05, 0.1, 0.25, 0.5, 0.8. */
extern const double yq_det_stats_levels[YQ_DET_STATS_LEVELS];

typedef struct yq_det_stats {
    size_t above[YQ_DET_STATS_LEVELS];      /* detections with score > level */
    size_t duplicates[YQ_DET_STATS_LEVELS]; /* of those, duplicates */
} yq_det_stats;

yq_status yq_det_stats_compute(const yq_coco_det *dets, size_t n, yq_det_stats *out);

#endif
