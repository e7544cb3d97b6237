#include "quantize_mixed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "core/atomic_file.h"
#include "quant/mixed.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static double num_field(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* The JSON `yoloq sensitivity --json` writes. */
static int load_sensitivity(const char *path, yq_sens_result *out) {
    unsigned char *data = NULL;
    size_t len = 0;
    yq_status st = yq_read_file(path, &data, &len);
    if (st != YQ_OK) return cli_fail(st);
    cJSON *doc = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *layers = doc ? cJSON_GetObjectItemCaseSensitive(doc, "layers") : NULL;
    const cJSON *acts = doc ? cJSON_GetObjectItemCaseSensitive(doc, "acts") : NULL;
    int rc = CLI_OK;
    if (!doc || !cJSON_IsArray(layers) || !cJSON_IsString(acts) || !isfinite(num_field(doc, "bits")))
        rc = cli_error("%s: not a sensitivity analysis (the JSON of yoloq sensitivity --json)", path);
    int n = rc == CLI_OK ? cJSON_GetArraySize(layers) : 0;
    if (rc == CLI_OK) {
        out->bits = (int)num_field(doc, "bits");
        out->act_bits = strcmp(acts->valuestring, "float") ? 8 : 0;
        out->metric_images = (int)num_field(doc, "metric_images");
        out->calib_images = (int)num_field(doc, "calibration_images");
        /* the context's own degradation (null: none, the float model) */
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(doc, "baseline");
        out->base_sqnr_db = num_field(base, "sqnr_db");
        out->base_proxy = num_field(base, "proxy");
        if (isnan(out->base_sqnr_db)) out->base_sqnr_db = INFINITY;
        if (isnan(out->base_proxy)) out->base_proxy = 0;
        out->layers = calloc((size_t)n + 1, sizeof *out->layers);
        if (!out->layers) rc = cli_error("out of memory");
    }
    for (int k = 0; k < n && rc == CLI_OK; k++) {
        const cJSON *l = cJSON_GetArrayItem(layers, k);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(l, "name");
        double params = num_field(l, "params");
        if (!cJSON_IsString(name) || !(params >= 1)) {
            rc = cli_error("%s: layers[%d] needs a name and params", path, k);
            break;
        }
        yq_sens_layer *d = &out->layers[k];
        out->nlayers = k + 1;
        d->name = strdup(name->valuestring);
        d->params = (int64_t)params;
        d->measured = 1;
        d->gain = num_field(l, "gain");
        d->proxy = num_field(l, "proxy");
        d->sqnr_db = num_field(l, "sqnr_db");
        if (!d->name) rc = cli_error("out of memory");
    }
    cJSON_Delete(doc);
    if (rc != CLI_OK) yq_sens_result_free(out);
    return rc;
}

int cli_quantize_mixed(const yq_graph *g, yq_recipe *recipe, int ncalib, yq_ptq_input_fn input, void *input_arg,
                       const yq_ptq_opts *po, int metric_images, const char *sens_path, int quiet, cJSON **report_out) {
    *report_out = NULL;
    yq_mixed_budget b = {.avg_bits = recipe->mixed_avg_bits, .weight_bytes = recipe->mixed_weight_bytes,
                         .criterion = recipe->mixed_by_proxy ? YQ_MIXED_PROXY : YQ_MIXED_NOISE};
    yq_sens_opts so;
    yq_sens_opts_default(&so);
    so.ptq = *po;
    so.nthreads = po->nthreads;
    if (metric_images > 0) so.metric_images = metric_images;
    else if (recipe->mixed_metric_images > 0) so.metric_images = recipe->mixed_metric_images;
    yq_sens_result given = {0};
    if (sens_path) {
        int rc = load_sensitivity(sens_path, &given);
        if (rc != CLI_OK) return rc;
    }
    yq_mixed_result res;
    yq_status st = yq_mixed_apply(g, recipe, &b, ncalib, input, input_arg, &so, sens_path ? &given : NULL,
                                  po->progress, po->progress_arg, &res);
    yq_sens_result_free(&given);
    if (st != YQ_OK) {
        if (sens_path) yq_fail_prefix(st, "%s", sens_path);
        return cli_fail(st);
    }
    const yq_mixed_summary *s = &res.sum;
    if (!quiet) {
        char budget[64];
        if (b.avg_bits > 0) snprintf(budget, sizeof budget, "%g average bits", b.avg_bits);
        else snprintf(budget, sizeof budget, "%lld weight bytes", (long long)b.weight_bytes);
        char source[600];
        if (sens_path) snprintf(source, sizeof source, "analysis from %s", sens_path);
        else snprintf(source, sizeof source, "analysis on %d image(s), %.1f s", res.sens.metric_images,
                      (res.sens.calib_ms + res.sens.measure_ms) / 1000.0);
        printf("mixed precision (budget %s): %d layer(s) moved to 8 bit, average weight bits %.4f over %lld "
               "params (%.0f bytes), %.1f%% of the total %s gain; %s\n",
               budget, s->nhigh, s->avg_bits, (long long)s->params, (double)s->bits / 8.0,
               s->gain_total > 0 ? 100.0 * s->gain / s->gain_total : 0.0,
               b.criterion == YQ_MIXED_PROXY ? "proxy" : "noise", source);
        for (int k = 0; k < res.sens.nlayers; k++)
            if (res.high[k])
                printf("  8 bit: %-48s %8lld params  gain %.4e\n", res.sens.layers[k].name,
                       (long long)res.sens.layers[k].params, yq_mixed_gain(&res.sens, &res.sens.layers[k], b.criterion));
    }
    cJSON *o = cJSON_CreateObject();
    if (b.avg_bits > 0) cJSON_AddNumberToObject(o, "budget_avg_bits", b.avg_bits);
    else cJSON_AddNumberToObject(o, "budget_weight_bytes", (double)b.weight_bytes);
    cJSON_AddNumberToObject(o, "avg_bits", s->avg_bits);
    cJSON_AddNumberToObject(o, "params", (double)s->params);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)s->bits / 8.0);
    cJSON_AddNumberToObject(o, "layers_8bit", s->nhigh);
    cJSON_AddNumberToObject(o, "metric_images", res.sens.metric_images);
    cJSON_AddStringToObject(o, "analysis_acts", res.sens.act_bits ? "int8" : "float");
    cJSON_AddStringToObject(o, "criterion", b.criterion == YQ_MIXED_PROXY ? "proxy" : "noise");
    cJSON_AddStringToObject(o, "context", res.sens.quantized_context ? "quantized" : "alone");
    if (sens_path) cJSON_AddStringToObject(o, "analysis", sens_path);
    cJSON_AddNumberToObject(o, "sensitivity_ms", res.sens.calib_ms + res.sens.measure_ms);
    cJSON *arr = cJSON_AddArrayToObject(o, "layers");
    for (int k = 0; k < res.sens.nlayers; k++) {
        const yq_sens_layer *l = &res.sens.layers[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", l->name);
        cJSON_AddNumberToObject(e, "params", (double)l->params);
        cJSON_AddNumberToObject(e, "bits", res.bits[k]);
        cJSON_AddItemToObject(e, "gain", num_or_null(yq_mixed_gain(&res.sens, l, b.criterion)));
        cJSON_AddItemToObject(e, "proxy_gain", num_or_null(l->gain));
        cJSON_AddItemToObject(e, "sqnr_db", num_or_null(l->sqnr_db));
        cJSON_AddItemToArray(arr, e);
    }
    *report_out = o;
    yq_mixed_result_free(&res);
    return CLI_OK;
}
