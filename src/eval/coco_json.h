/* COCO files: instance annotations (ground truth) and results (detections).
 *
 * The loaders keep every number as the double the JSON text denotes, exactly
 * as Python's json module (and so pycocotools) does; the evaluation in
 * eval/cocoeval.h relies on that to agree with pycocotools to the last bit.
 *
 * Ground truth: "images" [{id, file_name?, width?, height?}], "categories"
 * [{id, name?, supercategory?}] and "annotations" [{id, image_id, category_id,
 * bbox [x,y,w,h], area?, iscrowd?}] are read; anything else (segmentation,
 * info, licenses, ...) is skipped. A missing "area" defaults to w*h and a
 * missing "iscrowd" to 0 (pycocotools would fail on both). Annotations whose
 * image or category is not listed are kept in the file order view but never
 * evaluated, as in pycocotools.
 *
 * Results: a JSON list of {image_id, category_id, bbox [x,y,w,h], score}
 * (other keys are skipped). Like COCO.loadRes, a detection whose image is not
 * in the ground truth is an error; one whose category is unknown is kept and
 * simply not evaluated. */
#ifndef YQ_EVAL_COCO_JSON_H
#define YQ_EVAL_COCO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Sanity limits on input files: the full COCO train2017 annotation file is
 * about 450 MiB; nesting in COCO files is at most 5 levels. */
#define YQ_COCO_JSON_MAX_BYTES ((size_t)1 << 30)
#define YQ_COCO_JSON_MAX_DEPTH 64

typedef struct yq_coco_image {
    int64_t id;
    const char *file_name; /* "" when absent */
    int width, height;     /* 0 when absent */
} yq_coco_image;

typedef struct yq_coco_category {
    int id;
    const char *name;          /* "" when absent */
    const char *supercategory; /* "" when absent */
} yq_coco_category;

typedef struct yq_coco_annotation {
    int64_t id;
    int64_t image_id;
    int category_id;
    int iscrowd;    /* 0 or 1 */
    double bbox[4]; /* x, y, w, h */
    double area;    /* the file's "area" (used for the small/medium/large ranges) */
} yq_coco_annotation;

typedef struct yq_coco_gt yq_coco_gt;

/* Load a COCO instances file. Errors name the file and the offending element. */
yq_status yq_coco_gt_load(const char *path, yq_coco_gt **out);
/* The same from memory; `name` is used in error messages. */
yq_status yq_coco_gt_parse(const char *json, size_t len, const char *name, yq_coco_gt **out);
void yq_coco_gt_free(yq_coco_gt *gt);

/* Images in ascending id order. */
size_t yq_coco_gt_num_images(const yq_coco_gt *gt);
const yq_coco_image *yq_coco_gt_image(const yq_coco_gt *gt, size_t i);
/* Index (in ascending id order) of the image with this id, or -1. */
ptrdiff_t yq_coco_gt_find_image(const yq_coco_gt *gt, int64_t image_id);

/* Categories in ascending id order (for COCO: the order of the 80 YOLO classes). */
size_t yq_coco_gt_num_categories(const yq_coco_gt *gt);
const yq_coco_category *yq_coco_gt_category(const yq_coco_gt *gt, size_t k);
ptrdiff_t yq_coco_gt_find_category(const yq_coco_gt *gt, int category_id);

/* Annotations in file order. */
size_t yq_coco_gt_num_annotations(const yq_coco_gt *gt);
const yq_coco_annotation *yq_coco_gt_annotation(const yq_coco_gt *gt, size_t j);

/* One detection, as in a COCO results file. Doubles, so that a results file
 * written by yq_coco_dets_save and read back by pycocotools holds exactly the
 * values that were evaluated here (float model outputs convert exactly). */
typedef struct yq_coco_det {
    int64_t image_id;
    int category_id;
    double bbox[4]; /* x, y, w, h */
    double score;
} yq_coco_det;

/* Load a COCO results file. When gt is not NULL every image_id must be one of
 * its images (pycocotools asserts the same). *dets is malloc'd (free()). */
yq_status yq_coco_dets_load(const char *path, const yq_coco_gt *gt, yq_coco_det **dets, size_t *n);
yq_status yq_coco_dets_parse(const char *json, size_t len, const char *name, const yq_coco_gt *gt,
                             yq_coco_det **dets, size_t *n);
/* Write a COCO results file atomically; numbers are written in the shortest
 * form that reads back to the same double. */
yq_status yq_coco_dets_save(const char *path, const yq_coco_det *dets, size_t n);

#endif
