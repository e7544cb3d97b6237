/* The metrics file: COCO accuracy and latency of one run, as JSON, written
 * atomically. Layout (every part optional):
 *   { "format": "yoloq-metrics", "version": 1, "model": ..., "ground_truth": ..., "detections": ...,
 *     "coco": { "protocol": "COCO bbox, pycocotools 2.x COCOeval defaults", "num_images": N,
 *               "stats": { "AP": .., "AP50": .., ..., "ARl": .. },
 *               "per_class": [ { "id": 1, "name": "person", "ap": .., "ap50": .., "num_gt": .., "num_det": .. } ] },
 *     "latency": { "count": .., "skipped": .., "mean_ms": .., "median_ms": .., "p90_ms": .., "p99_ms": ..,
 *                  "min_ms": .., "max_ms": .., "stddev_ms": .., "throughput_per_s": .. } }
 * Numbers are written so that they read back to the same double; -1 marks an
 * undefined stat (no ground truth), as in pycocotools. */
#ifndef YQ_EVAL_METRICS_JSON_H
#define YQ_EVAL_METRICS_JSON_H

#include <cjson/cJSON.h>

#include "core/status.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/latency.h"

typedef struct yq_metrics_doc {
    const char *model;                /* NULL: omitted */
    const char *gt_path;              /* NULL: omitted */
    const char *dets_path;            /* NULL: omitted */
    const yq_coco_result *coco;       /* NULL: no "coco" section */
    const yq_coco_gt *gt;             /* category names for per_class; NULL: names omitted */
    const yq_latency_stats *latency;  /* NULL: no "latency" section */
} yq_metrics_doc;

/* The document as a cJSON tree (free with cJSON_Delete), for callers that add
 * their own members before writing it with yq_json_write_atomic. NULL when
 * out of memory (message set). */
cJSON *yq_metrics_to_json(const yq_metrics_doc *doc);
yq_status yq_metrics_json_write(const char *path, const yq_metrics_doc *doc);
/* Read back coco.stats of a metrics file (all 12 must be present). */
yq_status yq_metrics_json_read_stats(const char *path, double stats[YQ_COCO_NUM_STATS]);

#endif
