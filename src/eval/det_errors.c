/* Error kinds of the detections above a score level (see det_errors.h). */
#include "eval/det_errors.h"

#include <stdlib.h>
#include <string.h>

#include "eval/box_iou.h"

const char *const yq_det_error_names[YQ_DE_NKINDS] = {"tp", "duplicate", "crowd", "class", "localisation", "background"};

typedef struct det_ref {
    size_t slot; /* evaluated image */
    double score;
    size_t index; /* in dets */
} det_ref;

/* image, score descending, then list position */
static int by_slot_score(const void *pa, const void *pb) {
    const det_ref *x = pa, *y = pb;
    if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static yq_det_error_kind classify(const yq_coco_det *d, const yq_coco_annotation *const *ann, size_t na, unsigned char *taken) {
    double best = -1;
    size_t bi = 0;
    int same_hit = 0, crowd = 0, other = 0;
    double same_best = 0;
    for (size_t k = 0; k < na; k++) {
        const yq_coco_annotation *a = ann[k];
        if (a->iscrowd) {
            const double area = d->bbox[2] * d->bbox[3];
            if (a->category_id == d->category_id && area > 0 && yq_xywh_intersection(d->bbox, a->bbox) / area >= 0.5) crowd = 1;
            continue;
        }
        const double v = yq_xywh_iou(d->bbox, a->bbox);
        if (a->category_id != d->category_id) {
            other |= v >= 0.5;
            continue;
        }
        if (v > same_best) same_best = v;
        if (v >= 0.5) {
            same_hit = 1;
            if (!taken[k] && v > best) best = v, bi = k;
        }
    }
    if (best >= 0.5) {
        taken[bi] = 1;
        return YQ_DE_TP;
    }
    if (same_hit) return YQ_DE_DUPLICATE;
    if (crowd) return YQ_DE_CROWD;
    if (other) return YQ_DE_CLASS;
    if (same_best >= 0.1) return YQ_DE_LOCALISATION;
    return YQ_DE_BACKGROUND;
}

yq_status yq_det_errors_compute(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, const yq_coco_det *dets,
                                size_t n, const double *levels, int nlevels, yq_det_errors *out) {
    for (int l = 0; l < nlevels; l++) out[l] = (yq_det_errors){.level = levels[l]};
    const size_t ngt_img = yq_coco_gt_num_images(gt), nann = yq_coco_gt_num_annotations(gt);
    size_t *slot_of = malloc((ngt_img + 1) * sizeof(size_t)); /* gt image index -> slot + 1 (0: not evaluated) */
    size_t *start = calloc(nimages + 1, sizeof(size_t));
    const yq_coco_annotation **ann = malloc((nann + 1) * sizeof(*ann));
    unsigned char *taken = malloc(nann + 1);
    det_ref *ref = malloc((n + 1) * sizeof(det_ref));
    yq_status st = YQ_OK;
    if (!slot_of || !start || !ann || !taken || !ref) {
        st = yq_fail(YQ_ERR_NOMEM, "detection error breakdown: out of memory");
        goto done;
    }
    memset(slot_of, 0, (ngt_img + 1) * sizeof(size_t));
    for (size_t i = 0; i < nimages; i++) {
        const ptrdiff_t g = yq_coco_gt_find_image(gt, image_ids[i]);
        if (g < 0) { st = yq_fail(YQ_ERR_INVALID, "detection error breakdown: image %lld is not in the annotations", (long long)image_ids[i]); goto done; }
        slot_of[g] = i + 1;
    }
    /* annotations grouped by evaluated image (counting sort, file order kept);
     * aslot: each annotation's slot + 1 (0: image not evaluated) */
    size_t *aslot = malloc((nann + 1) * sizeof(size_t)), *fill = calloc(nimages + 1, sizeof(size_t));
    if (!aslot || !fill) {
        free(aslot), free(fill);
        st = yq_fail(YQ_ERR_NOMEM, "detection error breakdown: out of memory");
        goto done;
    }
    size_t objects = 0;
    for (size_t j = 0; j < nann; j++) {
        const yq_coco_annotation *a = yq_coco_gt_annotation(gt, j);
        const ptrdiff_t g = yq_coco_gt_find_image(gt, a->image_id);
        aslot[j] = g >= 0 ? slot_of[g] : 0;
        if (aslot[j]) start[aslot[j]]++, objects += !a->iscrowd;
    }
    for (size_t i = 0; i < nimages; i++) start[i + 1] += start[i];
    for (size_t j = 0; j < nann; j++)
        if (aslot[j]) {
            const size_t sl = aslot[j] - 1;
            ann[start[sl] + fill[sl]++] = yq_coco_gt_annotation(gt, j);
        }
    free(aslot), free(fill);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const ptrdiff_t g = yq_coco_gt_find_image(gt, dets[i].image_id);
        if (g < 0 || !slot_of[g]) continue; /* not an evaluated image: outside the breakdown, as outside mAP */
        ref[m++] = (det_ref){slot_of[g] - 1, dets[i].score, i};
    }
    qsort(ref, m, sizeof(det_ref), by_slot_score);
    for (int l = 0; l < nlevels; l++) {
        size_t found = 0;
        memset(taken, 0, nann + 1);
        for (size_t k = 0; k < m; k++) {
            if (dets[ref[k].index].score <= levels[l]) continue;
            const size_t s = ref[k].slot;
            const yq_det_error_kind kind = classify(&dets[ref[k].index], ann + start[s], start[s + 1] - start[s], taken + start[s]);
            out[l].count[kind]++;
            found += kind == YQ_DE_TP;
        }
        out[l].objects = objects;
        out[l].missed = objects - found;
    }
done:
    free(slot_of), free(start), free(ann), free(taken), free(ref);
    return st;
}
