/* YOLO detector outputs -> detections, following Ultralytics' conventions.
 *
 * Output contracts (batch 1):
 *  END2END   [1,K,6]      x1,y1,x2,y2,score,class per row (YOLOv10, NMS-free):
 *                         keep rows with score > conf in model order, at most max_det.
 *  RAW_XYWH  [1,4+nc,A]   cx,cy,w,h then nc class scores (already sigmoided) per anchor.
 *  RAW_DFL   [1,64+nc,A]  4 sides x 16 DFL logits (side-major: l,t,r,b) then nc class
 *                         logits per anchor; anchors are the cells of the stride 8/16/32
 *                         feature maps of the S x S input, row-major, map after map
 *                         (A = sum (S/s)^2, 8400 at 640). Side distance = softmax
 *                         expectation over 0..15; box = (anchor -/+ dist) * stride with
 *                         anchor = (x + 0.5, y + 0.5); class score = sigmoid(logit).
 * Raw contracts then go through Ultralytics' non_max_suppression (multi_label=False):
 * best class per anchor, score > conf, pre-NMS top-k by score, class-aware (boxes of
 * class c offset by c * 7680) torchvision-style greedy NMS at IoU > iou suppressing,
 * at most max_det kept, ordered by score descending (ties: anchor order).
 * Boxes come out in the model-input (letterboxed) frame; yq_dets_unletterbox maps them
 * back to the original image. */
#ifndef YQ_VISION_YOLO_DECODE_H
#define YQ_VISION_YOLO_DECODE_H

#include "core/status.h"
#include "core/tensor.h"
#include "vision/letterbox.h"

typedef struct yq_det {
    float x1, y1, x2, y2, score;
    int cls;
} yq_det;

typedef enum yq_yolo_contract {
    YQ_YOLO_AUTO = 0,  /* tell from the output shape */
    YQ_YOLO_END2END,
    YQ_YOLO_RAW_XYWH,
    YQ_YOLO_RAW_DFL,
} yq_yolo_contract;

const char *yq_yolo_contract_name(yq_yolo_contract c);
/* "auto", "end2end", "xywh", "dfl" (also the names above); -1 if unknown. */
int yq_yolo_contract_parse(const char *s);

typedef struct yq_yolo_opts {
    yq_yolo_contract contract; /* default AUTO */
    float conf;                /* keep score > conf (default 0.25) */
    float iou;                 /* NMS suppresses IoU > iou (default 0.7) */
    int max_det;               /* default 300 */
    int max_nms;               /* pre-NMS top-k (default 30000) */
    int num_classes;           /* 0: infer (80 when the shape allows both readings) */
    int agnostic;              /* class-agnostic NMS (default 0) */
    int input_w, input_h;      /* model input size for DFL anchors; 0: infer from A (square) */
} yq_yolo_opts;

void yq_yolo_opts_default(yq_yolo_opts *o);

/* Decide the contract and class count for an output shape; with opts->contract set
 * it is checked against the shape instead. Fails naming the shape when unclear. */
yq_status yq_yolo_resolve(const yq_tensor *out, const yq_yolo_opts *opts, yq_yolo_contract *contract,
                          int *num_classes);

/* Decode one output tensor (FLOAT or FLOAT16, batch 1). *dets is malloc'd (free() it;
 * NULL when *n_dets == 0). */
yq_status yq_yolo_decode(const yq_tensor *out, const yq_yolo_opts *opts, yq_det **dets, int *n_dets);

/* torchvision.ops.nms semantics: indices of kept boxes (into boxes[]) by score
 * descending, stable for ties; a box is dropped when its IoU with a kept,
 * higher-ranked box is > iou_thr. Stops after max_keep kept boxes (the same first
 * max_keep torchvision would return). keep[] holds min(n, max_keep) entries.
 * Boxes are x1,y1,x2,y2 (4 floats each). Returns the number kept, or -1 when
 * out of memory (message set). */
int yq_nms(const float *boxes, const float *scores, int n, float iou_thr, int max_keep, int *keep);

/* Map boxes from the letterboxed frame to the original image:
 * (x - pad_left) / ratio, (y - pad_top) / ratio, clipped to [0, src_w] x [0, src_h]. */
void yq_dets_unletterbox(yq_det *dets, int n, const yq_letterbox *lb);

#endif
