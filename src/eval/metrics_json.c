#include "eval/metrics_json.h"

#include <stdlib.h>

#include "eval/json_io.h"

/* Adds that report failure through a flag, so that building the tree reads straight. */
typedef struct {
    int failed;
} builder;

static void add_number(builder *bd, cJSON *obj, const char *key, double v) {
    /* exact digits; JSON has no NaN or infinity: such values become null */
    cJSON *item = yq_json_create_number(v);
    if (!item || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        bd->failed = 1;
    }
}

static void add_string(builder *bd, cJSON *obj, const char *key, const char *v) {
    if (v && !cJSON_AddStringToObject(obj, key, v)) bd->failed = 1;
}

static cJSON *add_object(builder *bd, cJSON *obj, const char *key) {
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    if (!o) bd->failed = 1;
    return o;
}

static void add_coco(builder *bd, cJSON *root, const yq_coco_result *res, const yq_coco_gt *gt) {
    cJSON *coco = add_object(bd, root, "coco");
    if (!coco) return;
    add_string(bd, coco, "protocol", "COCO bbox, pycocotools 2.x COCOeval defaults");
    add_number(bd, coco, "num_images", (double)res->nimages);
    cJSON *stats = add_object(bd, coco, "stats");
    if (!stats) return;
    for (int i = 0; i < YQ_COCO_NUM_STATS; i++) add_number(bd, stats, yq_coco_stat_name(i), res->stats[i]);
    cJSON *per_class = cJSON_AddArrayToObject(coco, "per_class");
    if (!per_class) {
        bd->failed = 1;
        return;
    }
    for (size_t k = 0; k < res->ncat && !bd->failed; k++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(per_class, c)) {
            cJSON_Delete(c);
            bd->failed = 1;
            return;
        }
        add_number(bd, c, "id", res->cat_ids[k]);
        if (gt) {
            ptrdiff_t idx = yq_coco_gt_find_category(gt, res->cat_ids[k]);
            if (idx >= 0) add_string(bd, c, "name", yq_coco_gt_category(gt, (size_t)idx)->name);
        }
        add_number(bd, c, "ap", res->ap_per_class[k]);
        add_number(bd, c, "ap50", res->ap50_per_class[k]);
        add_number(bd, c, "num_gt", (double)res->ngt_per_class[k]);
        add_number(bd, c, "num_det", (double)res->ndet_per_class[k]);
    }
}

static void add_latency(builder *bd, cJSON *root, const yq_latency_stats *lat) {
    cJSON *o = add_object(bd, root, "latency");
    if (!o) return;
    add_number(bd, o, "count", (double)lat->count);
    add_number(bd, o, "skipped", (double)lat->skipped);
    add_number(bd, o, "mean_ms", lat->mean_ms);
    add_number(bd, o, "median_ms", lat->median_ms);
    add_number(bd, o, "p90_ms", lat->p90_ms);
    add_number(bd, o, "p99_ms", lat->p99_ms);
    add_number(bd, o, "min_ms", lat->min_ms);
    add_number(bd, o, "max_ms", lat->max_ms);
    add_number(bd, o, "stddev_ms", lat->stddev_ms);
    add_number(bd, o, "total_ms", lat->total_ms);
    add_number(bd, o, "throughput_per_s", lat->throughput_per_s);
}

cJSON *yq_metrics_to_json(const yq_metrics_doc *doc) {
    builder bd = {0};
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        yq_fail(YQ_ERR_NOMEM, "metrics: out of memory building JSON");
        return NULL;
    }
    add_string(&bd, root, "format", "yoloq-metrics");
    add_number(&bd, root, "version", 1);
    add_string(&bd, root, "model", doc->model);
    add_string(&bd, root, "ground_truth", doc->gt_path);
    add_string(&bd, root, "detections", doc->dets_path);
    if (doc->coco) add_coco(&bd, root, doc->coco, doc->gt);
    if (doc->latency) add_latency(&bd, root, doc->latency);
    if (bd.failed) {
        cJSON_Delete(root);
        yq_fail(YQ_ERR_NOMEM, "metrics: out of memory building JSON");
        return NULL;
    }
    return root;
}

yq_status yq_metrics_json_write(const char *path, const yq_metrics_doc *doc) {
    cJSON *root = yq_metrics_to_json(doc);
    if (!root) return yq_fail_prefix(YQ_ERR_NOMEM, "%s", path);
    yq_status s = yq_json_write_atomic(path, root);
    cJSON_Delete(root);
    return s;
}

yq_status yq_metrics_json_read_stats(const char *path, double stats[YQ_COCO_NUM_STATS]) {
    cJSON *root = NULL;
    YQ_TRY(yq_json_load(path, (size_t)64 << 20, 64, &root));
    const cJSON *coco = cJSON_GetObjectItemCaseSensitive(root, "coco");
    const cJSON *st = coco ? cJSON_GetObjectItemCaseSensitive(coco, "stats") : NULL;
    yq_status s = YQ_OK;
    if (!cJSON_IsObject(st)) s = yq_fail(YQ_ERR_INVALID, "%s: no \"coco\": {\"stats\": {...}} object", path);
    for (int i = 0; i < YQ_COCO_NUM_STATS && s == YQ_OK; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, yq_coco_stat_name(i));
        if (!cJSON_IsNumber(v))
            s = yq_fail(YQ_ERR_INVALID, "%s: coco.stats.%s is missing or not a number", path, yq_coco_stat_name(i));
        else
            stats[i] = v->valuedouble;
    }
    cJSON_Delete(root);
    return s;
}
