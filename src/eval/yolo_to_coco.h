/* Detections of a YOLO model -> COCO results entries. */
#ifndef YQ_EVAL_YOLO_TO_COCO_H
#define YQ_EVAL_YOLO_TO_COCO_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "eval/coco_json.h"
#include "vision/yolo_decode.h"

/* Category ids for the model's class indices, the Ultralytics convention:
 * class k is the k-th category of the ground truth in ascending id order
 * (COCO: classes 0..79 -> ids 1..90 with gaps). *cat_ids is malloc'd and has
 * yq_coco_gt_num_categories(gt) entries. */
yq_status yq_coco_class_map(const yq_coco_gt *gt, int **cat_ids, size_t *ncat);

/* Convert n detections of one image (boxes x1,y1,x2,y2 in image pixels) to
 * COCO entries in out[0..n): bbox [x1, y1, x2 - x1, y2 - y1] with the width
 * and height computed in float as Ultralytics does (so a results file matches
 * an ONNX Runtime + Ultralytics pipeline bit for bit), score as is, category
 * cat_ids[cls]. A class outside [0, ncat) fails, naming it. */
yq_status yq_coco_dets_from_yolo(const yq_det *dets, int n, int64_t image_id, const int *cat_ids, size_t ncat,
                                 yq_coco_det *out);

#endif
