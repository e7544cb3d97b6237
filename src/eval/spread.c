/* Half-sampling standard errors of mAP (see spread.h). */
#include "eval/spread.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/cocoeval.h"

static yq_status ap_pair(const yq_coco_gt *gt, const int64_t *ids, size_t n, const yq_coco_det *d, size_t nd, double *ap,
                         double *ap50) {
    yq_coco_result r;
    YQ_TRY(yq_coco_evaluate(gt, ids, n, d, nd, &r));
    *ap = r.stats[YQ_COCO_AP], *ap50 = r.stats[YQ_COCO_AP50];
    yq_coco_result_free(&r);
    return YQ_OK;
}

static int by_id(const void *x, const void *y) {
    const int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

yq_status yq_map_spread_compute(const yq_coco_gt *gt, const int64_t *ids, size_t n, const yq_coco_det *a, size_t na,
                                const yq_coco_det *b, size_t nb, int draws, uint64_t seed, yq_map_spread *out) {
    memset(out, 0, sizeof *out);
    out->draws = draws, out->seed = seed, out->paired = b != NULL;
    if (n < 2 || draws < 1) return yq_fail(YQ_ERR_ARG, "mAP spread: needs at least 2 images and 1 draw (%zu, %d)", n, draws);
    double bap = 0, bap50 = 0;
    YQ_TRY(ap_pair(gt, ids, n, a, na, &out->ap, &out->ap50));
    if (b) {
        YQ_TRY(ap_pair(gt, ids, n, b, nb, &bap, &bap50));
        out->diff_ap = out->ap - bap, out->diff_ap50 = out->ap50 - bap50;
    }
    int64_t *pick = malloc(n * sizeof(int64_t));
    if (!pick) return yq_fail(YQ_ERR_NOMEM, "mAP spread: out of memory");
    const size_t half = n / 2;
    /* sums and sums of squares of the half-sample values (differences for the paired form) */
    double m[4] = {0}, q[4] = {0};
    yq_status st = YQ_OK;
    for (int k = 0; k < draws && st == YQ_OK; k++) {
        /* the first `half` slots of a seeded Fisher-Yates shuffle */
        memcpy(pick, ids, n * sizeof(int64_t));
        for (size_t i = 0; i < half; i++) {
            const uint64_t h = yq_mix64(seed ^ yq_mix64(((uint64_t)k << 32) ^ (uint64_t)i));
            const size_t j = i + (size_t)(h % (uint64_t)(n - i));
            const int64_t t = pick[i];
            pick[i] = pick[j], pick[j] = t;
        }
        qsort(pick, half, sizeof(int64_t), by_id); /* as pycocotools orders imgIds: ties between images follow it */
        double xa, xa50, xb = 0, xb50 = 0;
        if ((st = ap_pair(gt, pick, half, a, na, &xa, &xa50)) != YQ_OK) break;
        if (b && (st = ap_pair(gt, pick, half, b, nb, &xb, &xb50)) != YQ_OK) break;
        const double v[4] = {xa, xa50, xa - xb, xa50 - xb50};
        for (int i = 0; i < 4; i++) m[i] += v[i], q[i] += v[i] * v[i];
    }
    free(pick);
    if (st != YQ_OK) return st;
    double sd[4];
    for (int i = 0; i < 4; i++) {
        const double mean = m[i] / draws, var = q[i] / draws - mean * mean;
        sd[i] = var > 0 ? sqrt(var) : 0;
    }
    out->se_ap = sd[0], out->se_ap50 = sd[1];
    if (b) out->se_diff_ap = sd[2], out->se_diff_ap50 = sd[3];
    return YQ_OK;
}
