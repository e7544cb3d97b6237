/* One COCO evaluation of a detector, as a library call: `yoloq eval` and the
 * pipeline both run it. Two phases so that a caller can check its own
 * conditions on the selection before the long part:
 *   yq_eval_setup   — every input check (annotation file, image ids, images on
 *                     disk, output paths, model, contract); nothing written;
 *   yq_eval_execute — warm-up, inference on every image, COCO matching,
 *                     latency statistics.
 * The caller writes the outputs (yq_eval_metrics_json, yq_coco_dets_save). */
#ifndef YQ_EVAL_EVAL_RUN_H
#define YQ_EVAL_EVAL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/sha256.h"
#include "detect/detector.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/det_errors.h"
#include "eval/det_stats.h"
#include "eval/latency.h"

typedef void (*yq_eval_progress_fn)(void *arg, int64_t done, int64_t total);

typedef struct yq_eval_opts {
    const char *model, *ann, *images_dir;
    const char *image_ids_path; /* NULL: the first max_images images in id order */
    const char *out, *dets_out; /* probed for writability at setup; recorded in the metrics; may be NULL */
    int max_images;             /* 0: all */
    int imgsz;                  /* 0: the model's */
    int warmup, skip_latency;
    yq_detector_opts det;
    yq_eval_progress_fn progress; /* per image; may be NULL */
    void *progress_arg;
} yq_eval_opts;

/* The mAP convention: conf 0.001, iou 0.7, max_det 300, pre-NMS top-k 30000, warm-up 1. */
void yq_eval_opts_default(yq_eval_opts *o);

/* Where the time of a run went, in milliseconds. */
typedef struct yq_eval_timing {
    double setup, warmup;
    double image_decode; /* decoding work, wherever it ran */
    double image_wait;   /* the part of it the run waited for (all of it without prefetching) */
    double preprocess, inference, decode_nms, coco_eval, wall;
    int prefetch;        /* images decoded on a spare core during inference */
} yq_eval_timing;

typedef struct yq_eval_run {
    yq_eval_opts opts; /* as resolved (contract) */
    yq_coco_gt *gt;
    int64_t *ids;  /* evaluated images, in order */
    char **paths;
    size_t n;
    int *cat_ids;
    size_t ncat;
    yq_detector *det;
    char model_sha256[YQ_SHA256_HEX_BYTES];
    yq_coco_det *dets;
    size_t ndets, dets_cap;
    double *infer_samples;
    yq_coco_result res;
    int have_res;
    yq_det_stats det_stats; /* score levels and duplicates of dets */
    yq_det_errors det_errors[YQ_DET_STATS_LEVELS]; /* their kinds against the ground truth, per level */
    yq_latency_stats latency;
    yq_eval_timing timing;
    double t_start;
} yq_eval_run;

yq_status yq_eval_setup(const yq_eval_opts *o, yq_eval_run *run);
/* Reads the model (sha256, detector, contract); yq_eval_execute calls it when the caller did not. */
yq_status yq_eval_open_model(yq_eval_run *run);
yq_status yq_eval_execute(yq_eval_run *run);
void yq_eval_run_free(yq_eval_run *run);

/* The metrics document of an executed run (NULL when out of memory, message set). */
cJSON *yq_eval_metrics_json(const yq_eval_run *run);

/* Monotonic clock in milliseconds. */
double yq_eval_now_ms(void);

#endif
