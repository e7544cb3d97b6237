#include "quant/sensitivity_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "report/chart.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* Insertion sort by gain (stable, so equal gains keep graph order): the layer
 * count is at most a few hundred, and qsort would need a global for r. */
int yq_sens_rank(const yq_sens_result *r, int *order) {
    int n = 0;
    for (int k = 0; k < r->nlayers; k++)
        if (r->layers[k].measured) order[n++] = k;
    for (int i = 1; i < n; i++) {
        const int cur = order[i];
        const double g = isnan(r->layers[cur].gain) ? -INFINITY : r->layers[cur].gain;
        int j = i - 1;
        for (; j >= 0; j--) {
            const double h = isnan(r->layers[order[j]].gain) ? -INFINITY : r->layers[order[j]].gain;
            if (h >= g) break;
            order[j + 1] = order[j];
        }
        order[j + 1] = cur;
    }
    return n;
}

int64_t yq_sens_bytes_saved(const yq_sens_result *r, const yq_sens_layer *l) {
    return r->bits < 8 ? l->params * (8 - r->bits) / 8 : l->params * (32 - 8) / 8;
}

cJSON *yq_sens_result_json(const yq_sens_result *r, const int *order, int n, const char *model, const char *calib) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON_AddStringToObject(doc, "model", model ? model : "");
    cJSON_AddStringToObject(doc, "calib", calib ? calib : "");
    cJSON_AddNumberToObject(doc, "calibration_images", r->calib_images);
    cJSON_AddNumberToObject(doc, "metric_images", r->metric_images);
    cJSON_AddNumberToObject(doc, "bits", r->bits);
    cJSON_AddStringToObject(doc, "acts", r->act_bits ? "int8" : "float");
    cJSON *heads = cJSON_AddArrayToObject(doc, "heads");
    for (int h = 0; heads && h < r->nheads; h++) cJSON_AddItemToArray(heads, cJSON_CreateString(r->heads[h]));
    if (r->yolo_layout) {
        cJSON *y = cJSON_AddObjectToObject(doc, "head_layout");
        cJSON_AddNumberToObject(y, "reg_max", r->reg_max);
        cJSON_AddNumberToObject(y, "box_channels", r->box_channels);
        cJSON_AddNumberToObject(y, "class_channels", r->class_channels);
    } else {
        cJSON_AddNullToObject(doc, "head_layout");
    }
    cJSON *base = cJSON_AddObjectToObject(doc, "baseline");
    cJSON_AddItemToObject(base, "sqnr_db", num_or_null(r->base_sqnr_db));
    cJSON_AddItemToObject(base, "proxy", num_or_null(r->base_proxy));
    cJSON_AddStringToObject(doc, "bytes_saved_against", r->bits < 8 ? "int8" : "float");
    cJSON *arr = cJSON_AddArrayToObject(doc, "layers");
    for (int k = 0; arr && k < n; k++) {
        const yq_sens_layer *l = &r->layers[order[k]];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "rank", k + 1);
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "op_type", l->op_type);
        cJSON_AddNumberToObject(o, "params", (double)l->params);
        cJSON_AddNumberToObject(o, "recipe_bits", l->plan_bits);
        cJSON_AddItemToObject(o, "weight_sqnr_db", num_or_null(l->weight_sqnr_db));
        cJSON_AddItemToObject(o, "sqnr_db", num_or_null(l->sqnr_db));
        cJSON_AddItemToObject(o, "proxy", num_or_null(l->proxy));
        cJSON_AddItemToObject(o, "cls", num_or_null(l->cls));
        cJSON_AddItemToObject(o, "box", num_or_null(l->box));
        cJSON_AddItemToObject(o, "gain", num_or_null(l->gain));
        cJSON_AddNumberToObject(o, "bytes_saved", (double)yq_sens_bytes_saved(r, l));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *tm = cJSON_AddObjectToObject(doc, "time_ms");
    cJSON_AddNumberToObject(tm, "calibrate", r->calib_ms);
    cJSON_AddNumberToObject(tm, "measure", r->measure_ms);
    if (!heads || !base || !arr || !tm || cJSON_GetArraySize(arr) != n) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static double num_of(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

yq_status yq_sens_chart(const cJSON *doc, int topn, yq_image *out) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "layers");
    if (!cJSON_IsArray(arr)) return yq_fail(YQ_ERR_INVALID, "sensitivity document without a layers array");
    int n = cJSON_GetArraySize(arr);
    if (topn > 0 && n > topn) n = topn;
    const char **labels = calloc((size_t)n + 1, sizeof *labels);
    double *values = calloc((size_t)n + 1, sizeof *values);
    if (!labels || !values) {
        free(labels);
        free(values);
        return yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    int k = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, arr) {
        if (k >= n) break;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(l, "name");
        labels[k] = cJSON_IsString(name) ? name->valuestring : "?";
        double g = num_of(l, "gain", 0.0);
        values[k++] = isfinite(g) ? g : 0.0;
    }
    const cJSON *acts = cJSON_GetObjectItemCaseSensitive(doc, "acts");
    const int a8 = cJSON_IsString(acts) && acts->valuestring[0] == 'i';
    const int total = cJSON_GetArraySize(arr);
    char title[200];
    snprintf(title, sizeof title, "Sensitivity: one layer at W%d%s, the rest float (%d images)%s",
             (int)num_of(doc, "bits", 4), a8 ? " (A8 context)" : "", (int)num_of(doc, "metric_images", 0),
             n < total ? ", most sensitive first" : "");
    const int yolo = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "head_layout"));
    yq_status st = yq_chart_bars(title, yolo ? "proxy gain (cls MSE + box KL)" : "proxy gain (rel. MSE)", labels,
                                 values, n, out);
    free(labels);
    free(values);
    return st;
}
