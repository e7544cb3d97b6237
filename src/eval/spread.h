/* How much of an mAP, or of a difference between two models' mAPs, the choice
 * of images decides: on a dev set of a few hundred images, classes with a
 * handful of objects move mAP by a point when one detection changes rank, so
 * a difference of that size between two variants may be noise.
 *
 * Half-sampling: each draw evaluates a seeded random half of the images
 * (without replacement). For a mean over n images, a half-sample's deviation
 * from the full-set value has variance σ²(2/n − 1/n) = σ²/n, the full-set
 * value's own sampling variance; the standard error reported is the standard
 * deviation of the half-sample values over the draws. mAP is not a mean: a
 * half lacks some rare classes, which shifts every half's mAP the same way
 * (a bias of the halves, not a spread of the full set), so the deviations are
 * taken from the halves' own mean, not from the full-set value. The paired form
 * evaluates both detection lists on the same halves, so what the images share
 * (hard images, rare classes) cancels from the difference. */
#ifndef YQ_EVAL_SPREAD_H
#define YQ_EVAL_SPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "eval/coco_json.h"

typedef struct yq_map_spread {
    int draws;
    uint64_t seed;
    double ap, ap50;       /* full-set values of list a */
    double se_ap, se_ap50; /* their half-sampling standard errors */
    int paired;            /* list b given: */
    double diff_ap, diff_ap50;       /* full-set a − b */
    double se_diff_ap, se_diff_ap50; /* paired standard errors of the differences */
} yq_map_spread;

/* Over the n images `ids` (at least 2): list a alone, or a against b when b is
 * not NULL. Deterministic for (ids, lists, draws, seed). */
yq_status yq_map_spread_compute(const yq_coco_gt *gt, const int64_t *ids, size_t n, const yq_coco_det *a, size_t na,
                                const yq_coco_det *b, size_t nb, int draws, uint64_t seed, yq_map_spread *out);

#endif
