#include "eval/cocoeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = YQ_COCO_NUM_IOU_THRS, R = YQ_COCO_NUM_REC_THRS, A = YQ_COCO_NUM_AREAS, M = YQ_COCO_NUM_MAX_DETS };

/* Per detection, image, category, area range and IoU threshold. */
enum { DET_FP = 0, DET_TP = 1, DET_IGNORED = 2 };

static const char *const stat_names[YQ_COCO_NUM_STATS] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                          "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
static const char *const stat_descriptions[YQ_COCO_NUM_STATS] = {
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
};
static const char *const area_names[A] = {"all", "small", "medium", "large"};
/* pycocotools: [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]], both ends inclusive */
static const double area_ranges[A][2] = {{0.0, 1e10}, {0.0, 1024.0}, {1024.0, 9216.0}, {9216.0, 1e10}};
static const int max_dets[M] = {1, 10, 100};
#define MAX_DET 100 /* the largest of max_dets: detections kept per image and category */

const char *yq_coco_stat_name(int stat) {
    return (stat >= 0 && stat < YQ_COCO_NUM_STATS) ? stat_names[stat] : "?";
}
const char *yq_coco_stat_description(int stat) {
    return (stat >= 0 && stat < YQ_COCO_NUM_STATS) ? stat_descriptions[stat] : "?";
}
const char *yq_coco_area_name(int a) { return (a >= 0 && a < A) ? area_names[a] : "?"; }
int yq_coco_max_dets(int m) { return (m >= 0 && m < M) ? max_dets[m] : 0; }

/* np.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start, the
 * last one exactly stop. numpy multiplies and adds in two passes, so the
 * product is rounded before the sum: separate statements keep a compiler from
 * fusing them into one fma (numbers below rely on unfused arithmetic throughout;
 * GCC in ISO C mode, as this project builds, never contracts across statements
 * or within them). */
static double linspace(double start, double stop, int num, int i) {
    if (i == num - 1) return stop;
    double step = (stop - start) / (double)(num - 1);
    double scaled = (double)i * step;
    return scaled + start;
}
double yq_coco_iou_threshold(int t) { return linspace(0.5, 0.95, T, t); }
double yq_coco_recall_threshold(int r) { return linspace(0.0, 1.0, R, r); }

/* ---- numpy's summation --------------------------------------------------------------------------- */

static double pairwise_sum(const double *x, size_t n) {
    if (n < 8) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += x[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = x[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += x[i + j];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) s += x[i];
        return s;
    }
    size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(x, half) + pairwise_sum(x + half, n - half);
}

double yq_numpy_sum(const double *x, size_t n) {
    /* the reduction starts from the identity and adds each buffer-sized block */
    const size_t block = 8192;
    double s = 0.0;
    for (size_t i = 0; i < n; i += block) s += pairwise_sum(x + i, n - i < block ? n - i : block);
    return s;
}

/* ---- evaluation ------------------------------------------------------------------------------------ */

typedef struct {
    double score;
    size_t seq; /* position before sorting: equal scores keep it (numpy's stable mergesort) */
} scored;

static int cmp_scored_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* maskUtils.iou for boxes (bbIou): intersection over union, or over the
 * detection's own area when the ground truth box is a crowd region. */
static double box_iou(const double *d, const double *g, int crowd) {
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0) return 0.0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0) return 0.0;
    double inter = w * h;
    double da = d[2] * d[3];
    if (crowd) return inter / da;
    double ga = g[2] * g[3]; /* its own statement: (da + ga) - inter unfused, as compiled in pycocotools */
    double u = da + ga;
    u -= inter;
    return inter / u;
}

/* Everything evaluateImg produces for the buckets (category k, image i),
 * k-major, images in ascending id order. */
typedef struct {
    size_t nk, ni;
    size_t *gt_start;      /* [nk*ni+1] into gt_ann */
    size_t *gt_ann;        /* annotation indices, file order within a bucket */
    size_t *det_start;     /* [nk*ni+1] into det_idx (all detections of the bucket) */
    size_t *det_idx;       /* detection indices, input order within a bucket */
    size_t *kept_start;    /* [nk*ni+1] into kept_score / status: the first <= 100 by score */
    double *kept_score;    /* scores of kept detections, descending */
    unsigned char *status; /* per kept detection: [A][T] DET_* */
    size_t *npig;          /* [nk*ni][A] ground truth boxes not ignored */
} buckets;

static void buckets_free(buckets *b) {
    free(b->gt_start);
    free(b->gt_ann);
    free(b->det_start);
    free(b->det_idx);
    free(b->kept_start);
    free(b->kept_score);
    free(b->status);
    free(b->npig);
    memset(b, 0, sizeof *b);
}

/* Counting sort of items into buckets (stable: file order kept within a bucket). */
static yq_status bucket_items(const ptrdiff_t *bucket_of, size_t n, size_t nb, size_t **start_out,
                              size_t **items_out) {
    size_t *start = yq_calloc(nb + 1, sizeof *start);
    size_t *items = yq_malloc((n ? n : 1) * sizeof *items);
    if (!start || !items) {
        free(start);
        free(items);
        return YQ_ERR_NOMEM;
    }
    for (size_t j = 0; j < n; j++)
        if (bucket_of[j] >= 0) start[bucket_of[j] + 1]++;
    for (size_t b = 0; b < nb; b++) start[b + 1] += start[b];
    size_t *fill = yq_malloc((nb ? nb : 1) * sizeof *fill);
    if (!fill) {
        free(start);
        free(items);
        return YQ_ERR_NOMEM;
    }
    memcpy(fill, start, nb * sizeof *fill);
    for (size_t j = 0; j < n; j++)
        if (bucket_of[j] >= 0) items[fill[bucket_of[j]]++] = j;
    free(fill);
    *start_out = start;
    *items_out = items;
    return YQ_OK;
}

/* Match the kept detections of one bucket to its ground truth at every area
 * range and IoU threshold (pycocotools' evaluateImg). */
static void match_bucket(const yq_coco_gt *gt, const yq_coco_det *dets, const buckets *bk, size_t b,
                         const size_t *kept_det, double *ious, size_t *order, unsigned char *ign,
                         unsigned char *taken, unsigned char *crowd, const double *iou_thr) {
    const size_t g0 = bk->gt_start[b], ng = bk->gt_start[b + 1] - g0;
    const size_t k0 = bk->kept_start[b], nd = bk->kept_start[b + 1] - k0;
    for (size_t g = 0; g < ng; g++) crowd[g] = (unsigned char)yq_coco_gt_annotation(gt, bk->gt_ann[g0 + g])->iscrowd;
    /* IoU [nd][ng], ground truth in file order */
    for (size_t d = 0; d < nd; d++)
        for (size_t g = 0; g < ng; g++) {
            const yq_coco_annotation *ann = yq_coco_gt_annotation(gt, bk->gt_ann[g0 + g]);
            ious[d * ng + g] = box_iou(dets[kept_det[d]].bbox, ann->bbox, ann->iscrowd);
        }
    for (int a = 0; a < A; a++) {
        const double lo = area_ranges[a][0], hi = area_ranges[a][1];
        /* regular boxes first, then ignored ones, each group in file order */
        size_t npig = 0;
        for (size_t g = 0; g < ng; g++) {
            const yq_coco_annotation *ann = yq_coco_gt_annotation(gt, bk->gt_ann[g0 + g]);
            ign[g] = ann->iscrowd || ann->area < lo || ann->area > hi;
            if (!ign[g]) order[npig++] = g;
        }
        for (size_t g = 0, j = npig; g < ng; g++)
            if (ign[g]) order[j++] = g;
        bk->npig[b * A + (size_t)a] = npig;
        for (int t = 0; t < T; t++) {
            memset(taken, 0, ng);
            for (size_t d = 0; d < nd; d++) {
                const yq_coco_det *det = &dets[kept_det[d]];
                double best = iou_thr[t] < 1 - 1e-10 ? iou_thr[t] : 1 - 1e-10;
                ptrdiff_t m = -1; /* position in `order` of the best match so far */
                for (size_t j = 0; j < ng; j++) {
                    size_t g = order[j];
                    if (taken[j] && !crowd[g]) continue;
                    /* a match to a regular box beats any ignored one: stop at the first ignored */
                    if (m > -1 && !ign[order[m]] && ign[g]) break;
                    if (ious[d * ng + g] < best) continue;
                    best = ious[d * ng + g];
                    m = (ptrdiff_t)j;
                }
                int det_ignored = 0, det_matched = 0;
                if (m >= 0) {
                    size_t g = order[m];
                    taken[m] = 1;
                    det_ignored = ign[g];
                    /* pycocotools records the match as the ground truth's id and
                     * tests it for non-zero: a box with id 0 is taken but its
                     * detection counts as unmatched. Reproduced for agreement. */
                    det_matched = yq_coco_gt_annotation(gt, bk->gt_ann[g0 + g])->id != 0;
                }
                double det_area = det->bbox[2] * det->bbox[3];
                if (!det_matched && (det_area < lo || det_area > hi)) det_ignored = 1;
                bk->status[(k0 + d) * (A * T) + (size_t)a * T + (size_t)t] =
                    det_ignored ? DET_IGNORED : (det_matched ? DET_TP : DET_FP);
            }
        }
    }
}

/* Precision and recall of one category (pycocotools' accumulate). */
static void accumulate_category(const buckets *bk, size_t k, scored *entries, size_t *entry_pos, double *rc,
                                double *pr, yq_coco_result *res) {
    const size_t ni = bk->ni;
    for (int m = 0; m < M; m++) {
        /* the first maxDet detections of every image, concatenated by image,
         * then stably sorted by descending score */
        size_t ne = 0;
        for (size_t i = 0; i < ni; i++) {
            size_t b = k * ni + i, k0 = bk->kept_start[b], nd = bk->kept_start[b + 1] - k0;
            if (nd > (size_t)max_dets[m]) nd = (size_t)max_dets[m];
            for (size_t d = 0; d < nd; d++) {
                entries[ne].score = bk->kept_score[k0 + d];
                entries[ne].seq = ne;
                entry_pos[ne] = k0 + d;
                ne++;
            }
        }
        qsort(entries, ne, sizeof *entries, cmp_scored_desc);
        for (int a = 0; a < A; a++) {
            size_t npig = 0;
            for (size_t i = 0; i < ni; i++) npig += bk->npig[(k * ni + i) * A + (size_t)a];
            if (npig == 0) continue; /* stays -1 */
            for (int t = 0; t < T; t++) {
                size_t tp = 0, fp = 0;
                for (size_t e = 0; e < ne; e++) {
                    unsigned char st = bk->status[entry_pos[entries[e].seq] * (A * T) + (size_t)a * T + (size_t)t];
                    tp += st == DET_TP;
                    fp += st == DET_FP;
                    rc[e] = (double)tp / (double)npig;
                    pr[e] = (double)tp / ((double)fp + (double)tp + 2.220446049250313e-16); /* np.spacing(1) */
                }
                res->recall[yq_coco_recall_index(res, t, (int)k, a, m)] = ne ? rc[ne - 1] : 0.0;
                for (size_t e = ne; e-- > 1;)
                    if (pr[e] > pr[e - 1]) pr[e - 1] = pr[e];
                /* precision at each recall threshold: at the first detection
                 * reaching it (searchsorted 'left'), 0 where it is never reached */
                size_t e = 0;
                for (int r = 0; r < R; r++) {
                    double thr = yq_coco_recall_threshold(r);
                    while (e < ne && rc[e] < thr) e++;
                    res->precision[yq_coco_precision_index(res, t, r, (int)k, a, m)] = e < ne ? pr[e] : 0.0;
                }
            }
        }
    }
}

/* pycocotools' _summarize: the mean of the selected entries that are > -1, or -1. */
static double summarize(const yq_coco_result *res, int ap, int t_only, int a, int m, double *scratch) {
    size_t n = 0;
    int t_begin = t_only >= 0 ? t_only : 0, t_end = t_only >= 0 ? t_only + 1 : T;
    for (int t = t_begin; t < t_end; t++) {
        if (ap) {
            for (int r = 0; r < R; r++)
                for (size_t k = 0; k < res->ncat; k++) {
                    double v = res->precision[yq_coco_precision_index(res, t, r, (int)k, a, m)];
                    if (v > -1) scratch[n++] = v;
                }
        } else {
            for (size_t k = 0; k < res->ncat; k++) {
                double v = res->recall[yq_coco_recall_index(res, t, (int)k, a, m)];
                if (v > -1) scratch[n++] = v;
            }
        }
    }
    return n ? yq_numpy_sum(scratch, n) / (double)n : -1.0;
}

void yq_coco_result_free(yq_coco_result *res) {
    if (!res) return;
    free(res->cat_ids);
    free(res->ap_per_class);
    free(res->ap50_per_class);
    free(res->ngt_per_class);
    free(res->ndet_per_class);
    free(res->precision);
    free(res->recall);
    memset(res, 0, sizeof *res);
}

/* Which of gt's images are evaluated: eval_index[i] for gt image i, or -1. */
static yq_status select_images(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, ptrdiff_t *eval_index,
                               size_t *ni) {
    size_t n = yq_coco_gt_num_images(gt);
    if (!image_ids) {
        for (size_t i = 0; i < n; i++) eval_index[i] = (ptrdiff_t)i;
        *ni = n;
        return YQ_OK;
    }
    for (size_t i = 0; i < n; i++) eval_index[i] = -1;
    for (size_t j = 0; j < nimages; j++) {
        ptrdiff_t i = yq_coco_gt_find_image(gt, image_ids[j]);
        if (i < 0)
            return yq_fail(YQ_ERR_ARG, "COCO evaluation: image id %lld is not in the ground truth",
                           (long long)image_ids[j]);
        eval_index[i] = 0;
    }
    /* ascending id order, duplicates counted once (np.unique) */
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (eval_index[i] == 0) eval_index[i] = (ptrdiff_t)count++ + 1;
    for (size_t i = 0; i < n; i++)
        if (eval_index[i] > 0) eval_index[i]--;
    *ni = count;
    return YQ_OK;
}

/* Scratch buffers go into scratch[0..11] so the caller frees them on every path. */
static yq_status evaluate(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, const yq_coco_det *dets,
                          size_t ndets, yq_coco_result *res, buckets *bk, void **scratch) {
    const size_t ngt_images = yq_coco_gt_num_images(gt), nk = yq_coco_gt_num_categories(gt);
    const size_t nanns = yq_coco_gt_num_annotations(gt);
    ptrdiff_t *eval_index = yq_malloc((ngt_images ? ngt_images : 1) * sizeof *eval_index);
    scratch[0] = eval_index;
    if (!eval_index) return YQ_ERR_NOMEM;
    size_t ni = 0;
    YQ_TRY(select_images(gt, image_ids, nimages, eval_index, &ni));
    res->nimages = ni;
    res->ncat = nk;
    bk->nk = nk;
    bk->ni = ni;
    size_t nb;
    if (yq_mul_overflow(nk, ni, &nb) || nb > ((size_t)1 << 40))
        return yq_fail(YQ_ERR_LIMIT, "COCO evaluation: %zu categories x %zu images is too many", nk, ni);

    /* which bucket each annotation and detection belongs to (-1: not evaluated) */
    size_t nitems = nanns > ndets ? nanns : ndets;
    ptrdiff_t *bucket_of = yq_malloc((nitems ? nitems : 1) * sizeof *bucket_of);
    scratch[1] = bucket_of;
    if (!bucket_of) return YQ_ERR_NOMEM;
    for (size_t j = 0; j < nanns; j++) {
        const yq_coco_annotation *ann = yq_coco_gt_annotation(gt, j);
        ptrdiff_t i = yq_coco_gt_find_image(gt, ann->image_id);
        ptrdiff_t k = yq_coco_gt_find_category(gt, ann->category_id);
        bucket_of[j] = (i >= 0 && eval_index[i] >= 0 && k >= 0) ? k * (ptrdiff_t)ni + eval_index[i] : -1;
    }
    YQ_TRY(bucket_items(bucket_of, nanns, nb, &bk->gt_start, &bk->gt_ann));
    for (size_t j = 0; j < ndets; j++) {
        const yq_coco_det *d = &dets[j];
        ptrdiff_t i = yq_coco_gt_find_image(gt, d->image_id);
        if (i < 0)
            return yq_fail(YQ_ERR_INVALID,
                           "COCO evaluation: detection %zu is for image id %lld, which is not in the ground truth", j,
                           (long long)d->image_id);
        int finite = isfinite(d->score);
        for (int c = 0; c < 4; c++) finite = finite && isfinite(d->bbox[c]);
        if (!finite)
            return yq_fail(YQ_ERR_INVALID, "COCO evaluation: detection %zu has a non-finite box or score", j);
        ptrdiff_t k = yq_coco_gt_find_category(gt, d->category_id);
        bucket_of[j] = (eval_index[i] >= 0 && k >= 0) ? k * (ptrdiff_t)ni + eval_index[i] : -1;
    }
    YQ_TRY(bucket_items(bucket_of, ndets, nb, &bk->det_start, &bk->det_idx));

    /* kept detections: the best 100 of each bucket, by descending score */
    bk->kept_start = yq_calloc(nb + 1, sizeof *bk->kept_start);
    bk->npig = yq_calloc(nb * A, sizeof *bk->npig);
    if (!bk->kept_start || !bk->npig) return YQ_ERR_NOMEM;
    size_t max_ng = 0, max_nd = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t nd = bk->det_start[b + 1] - bk->det_start[b], ng = bk->gt_start[b + 1] - bk->gt_start[b];
        if (nd > max_nd) max_nd = nd;
        if (ng > max_ng) max_ng = ng;
        bk->kept_start[b + 1] = bk->kept_start[b] + (nd < MAX_DET ? nd : MAX_DET);
    }
    size_t nkept = bk->kept_start[nb];
    bk->kept_score = yq_malloc((nkept ? nkept : 1) * sizeof *bk->kept_score);
    bk->status = yq_malloc((nkept ? nkept : 1) * A * T);
    size_t *kept_det = yq_malloc((nkept ? nkept : 1) * sizeof *kept_det);
    scored *sorted = yq_malloc((max_nd ? max_nd : 1) * sizeof *sorted);
    double *ious = yq_malloc((max_ng ? max_ng : 1) * MAX_DET * sizeof *ious);
    size_t *order = yq_malloc((max_ng ? max_ng : 1) * sizeof *order);
    unsigned char *flags = yq_malloc((max_ng ? max_ng : 1) * 3);
    scratch[2] = kept_det;
    scratch[3] = sorted;
    scratch[4] = ious;
    scratch[5] = order;
    scratch[6] = flags;
    if (!bk->kept_score || !bk->status || !kept_det || !sorted || !ious || !order || !flags) return YQ_ERR_NOMEM;

    double iou_thr[T];
    for (int t = 0; t < T; t++) iou_thr[t] = yq_coco_iou_threshold(t);
    for (size_t b = 0; b < nb; b++) {
        size_t d0 = bk->det_start[b], nd = bk->det_start[b + 1] - d0;
        if (nd == 0 && bk->gt_start[b + 1] == bk->gt_start[b]) continue;
        for (size_t d = 0; d < nd; d++) {
            sorted[d].score = dets[bk->det_idx[d0 + d]].score;
            sorted[d].seq = bk->det_idx[d0 + d];
        }
        qsort(sorted, nd, sizeof *sorted, cmp_scored_desc);
        size_t k0 = bk->kept_start[b], nkeep = bk->kept_start[b + 1] - k0;
        for (size_t d = 0; d < nkeep; d++) {
            kept_det[k0 + d] = sorted[d].seq;
            bk->kept_score[k0 + d] = sorted[d].score;
        }
        match_bucket(gt, dets, bk, b, kept_det + k0, ious, order, flags, flags + max_ng, flags + 2 * max_ng, iou_thr);
    }

    /* per category: precision [T][R][K][A][M] and recall [T][K][A][M] */
    size_t nprec = (size_t)T * R * nk * A * M, nrec = (size_t)T * nk * A * M;
    res->precision = yq_malloc((nprec ? nprec : 1) * sizeof *res->precision);
    res->recall = yq_malloc((nrec ? nrec : 1) * sizeof *res->recall);
    if (!res->precision || !res->recall) return YQ_ERR_NOMEM;
    for (size_t j = 0; j < nprec; j++) res->precision[j] = -1.0;
    for (size_t j = 0; j < nrec; j++) res->recall[j] = -1.0;
    size_t max_entries = 0;
    for (size_t k = 0; k < nk; k++) {
        size_t ne = bk->kept_start[(k + 1) * ni] - bk->kept_start[k * ni];
        if (ne > max_entries) max_entries = ne;
    }
    scored *entries = yq_malloc((max_entries ? max_entries : 1) * sizeof *entries);
    size_t *entry_pos = yq_malloc((max_entries ? max_entries : 1) * sizeof *entry_pos);
    double *rc = yq_malloc((max_entries ? max_entries : 1) * sizeof *rc);
    double *pr = yq_malloc((max_entries ? max_entries : 1) * sizeof *pr);
    scratch[7] = entries;
    scratch[8] = entry_pos;
    scratch[9] = rc;
    scratch[10] = pr;
    if (!entries || !entry_pos || !rc || !pr) return YQ_ERR_NOMEM;
    for (size_t k = 0; k < nk; k++) accumulate_category(bk, k, entries, entry_pos, rc, pr, res);

    /* summaries, as pycocotools' _summarizeDets */
    size_t nsum = (size_t)T * R * (nk ? nk : 1);
    double *sum_buf = yq_malloc(nsum * sizeof *sum_buf);
    scratch[11] = sum_buf;
    if (!sum_buf) return YQ_ERR_NOMEM;
    res->stats[YQ_COCO_AP] = summarize(res, 1, -1, 0, 2, sum_buf);
    res->stats[YQ_COCO_AP50] = summarize(res, 1, 0, 0, 2, sum_buf);
    res->stats[YQ_COCO_AP75] = summarize(res, 1, 5, 0, 2, sum_buf); /* iouThrs[5] == .75 exactly */
    res->stats[YQ_COCO_AP_SMALL] = summarize(res, 1, -1, 1, 2, sum_buf);
    res->stats[YQ_COCO_AP_MEDIUM] = summarize(res, 1, -1, 2, 2, sum_buf);
    res->stats[YQ_COCO_AP_LARGE] = summarize(res, 1, -1, 3, 2, sum_buf);
    res->stats[YQ_COCO_AR1] = summarize(res, 0, -1, 0, 0, sum_buf);
    res->stats[YQ_COCO_AR10] = summarize(res, 0, -1, 0, 1, sum_buf);
    res->stats[YQ_COCO_AR100] = summarize(res, 0, -1, 0, 2, sum_buf);
    res->stats[YQ_COCO_AR_SMALL] = summarize(res, 0, -1, 1, 2, sum_buf);
    res->stats[YQ_COCO_AR_MEDIUM] = summarize(res, 0, -1, 2, 2, sum_buf);
    res->stats[YQ_COCO_AR_LARGE] = summarize(res, 0, -1, 3, 2, sum_buf);

    /* per class: AP@[.50:.95] and AP@.50 at area all, maxDets 100 */
    res->cat_ids = yq_malloc((nk ? nk : 1) * sizeof *res->cat_ids);
    res->ap_per_class = yq_malloc((nk ? nk : 1) * sizeof *res->ap_per_class);
    res->ap50_per_class = yq_malloc((nk ? nk : 1) * sizeof *res->ap50_per_class);
    res->ngt_per_class = yq_calloc(nk ? nk : 1, sizeof *res->ngt_per_class);
    res->ndet_per_class = yq_calloc(nk ? nk : 1, sizeof *res->ndet_per_class);
    if (!res->cat_ids || !res->ap_per_class || !res->ap50_per_class || !res->ngt_per_class || !res->ndet_per_class)
        return YQ_ERR_NOMEM;
    for (size_t k = 0; k < nk; k++) {
        res->cat_ids[k] = yq_coco_gt_category(gt, k)->id;
        for (size_t i = 0; i < ni; i++) res->ngt_per_class[k] += bk->npig[(k * ni + i) * A + 0];
        res->ndet_per_class[k] = bk->kept_start[(k + 1) * ni] - bk->kept_start[k * ni];
        for (int pass = 0; pass < 2; pass++) {
            size_t n = 0;
            for (int t = 0; t < (pass ? 1 : T); t++)
                for (int r = 0; r < R; r++) {
                    double v = res->precision[yq_coco_precision_index(res, t, r, (int)k, 0, 2)];
                    if (v > -1) sum_buf[n++] = v;
                }
            double mean = n ? yq_numpy_sum(sum_buf, n) / (double)n : -1.0;
            if (pass)
                res->ap50_per_class[k] = mean;
            else
                res->ap_per_class[k] = mean;
        }
    }
    return YQ_OK;
}

yq_status yq_coco_evaluate(const yq_coco_gt *gt, const int64_t *image_ids, size_t nimages, const yq_coco_det *dets,
                           size_t ndets, yq_coco_result *out) {
    memset(out, 0, sizeof *out);
    if (!gt || (ndets && !dets)) return yq_fail(YQ_ERR_ARG, "COCO evaluation: no ground truth or detections given");
    buckets bk = {0};
    enum { NSCRATCH = 12 };
    void *scratch[NSCRATCH] = {0};
    yq_status s = evaluate(gt, image_ids, nimages, dets, ndets, out, &bk, scratch);
    for (int j = 0; j < NSCRATCH; j++) free(scratch[j]);
    buckets_free(&bk);
    if (s != YQ_OK) yq_coco_result_free(out);
    return s;
}
