/* Overlap of COCO boxes [x, y, w, h] in doubles, as the diagnostics beside
 * mAP use it (det_stats, det_errors). cocoeval.c keeps its own: its IoU has
 * pycocotools' crowd semantics and operand order, bit for bit. */
#ifndef YQ_EVAL_BOX_IOU_H
#define YQ_EVAL_BOX_IOU_H

static inline double yq_xywh_intersection(const double *a, const double *b) {
    const double iw = (a[0] + a[2] < b[0] + b[2] ? a[0] + a[2] : b[0] + b[2]) - (a[0] > b[0] ? a[0] : b[0]);
    const double ih = (a[1] + a[3] < b[1] + b[3] ? a[1] + a[3] : b[1] + b[3]) - (a[1] > b[1] ? a[1] : b[1]);
    return iw > 0 && ih > 0 ? iw * ih : 0;
}

static inline double yq_xywh_iou(const double *a, const double *b) {
    const double inter = yq_xywh_intersection(a, b), uni = a[2] * a[3] + b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0;
}

#endif
