/* Where a detector's precision goes: each detection above a score level is
 * assigned one kind against the ground truth at IoU 0.5, in the spirit of
 * TIDE's error types (Bolya et al., 2020), so that two models with the same
 * mAP gap can be told apart (a quantized NMS-free head may lose it to
 * duplicates, a fine-tuned one to background firing or class confusion).
 *
 * Per image, detections in descending score order (equal scores: list order),
 * the first rule that applies:
 *  - TP: a non-crowd object of the same category at IoU >= 0.5 that no
 *    earlier detection took (the one with the highest IoU is taken);
 *  - DUPLICATE: such objects exist but all are taken;
 *  - CROWD: inside a crowd region of the same category (intersection over
 *    the detection's area >= 0.5) — COCO ignores these;
 *  - CLASS: a non-crowd object of another category at IoU >= 0.5;
 *  - LOCALISATION: a non-crowd object of the same category at 0.1 <= IoU < 0.5;
 *  - BACKGROUND: none of these.
 * Objects: the non-crowd annotations of the evaluated images; missed: those
 * no TP took. A diagnostic beside mAP, not a replacement: COCO matches per
 * IoU threshold and ranks across images. */
#ifndef YQ_EVAL_DET_ERRORS_H
#define YQ_EVAL_DET_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "eval/coco_json.h"

typedef enum yq_det_error_kind {
    YQ_DE_TP = 0,
    YQ_DE_DUPLICATE,
    YQ_DE_CROWD,
    YQ_DE_CLASS,
    YQ_DE_LOCALISATION,
    YQ_DE_BACKGROUND,
    YQ_DE_NKINDS
} yq_det_error_kind;

/* "tp", "duplicate", "crowd", "class", "localisation", "background" */
extern const char *const yq_det_error_names[YQ_DE_NKINDS];

typedef struct yq_det_errors {
    double level;                 /* detections with score > level */
    size_t count[YQ_DE_NKINDS];   /* by kind */
    size_t objects, missed;       /* non-crowd annotations; of those, not found */
} yq_det_errors;

/* The breakdown of dets (any order; image ids among image_ids) over the
 * nimages images image_ids, at each of nlevels score levels. */
yq_status yq_det_errors_compute(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, const yq_coco_det *dets,
                                size_t n, const double *levels, int nlevels, yq_det_errors *out);

#endif
