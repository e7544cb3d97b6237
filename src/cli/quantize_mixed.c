#include "quantize_mixed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "quant/mixed.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int cli_quantize_mixed(const yq_graph *g, yq_recipe *recipe, int ncalib, yq_ptq_input_fn input, void *input_arg,
                       const yq_ptq_opts *po, int metric_images, int quiet, cJSON **report_out) {
    *report_out = NULL;
    yq_mixed_budget b = {.avg_bits = recipe->mixed_avg_bits, .weight_bytes = recipe->mixed_weight_bytes};
    yq_sens_opts so;
    yq_sens_opts_default(&so);
    so.ptq = *po;
    so.nthreads = po->nthreads;
    if (metric_images > 0) so.metric_images = metric_images;
    else if (recipe->mixed_metric_images > 0) so.metric_images = recipe->mixed_metric_images;
    yq_mixed_result res;
    yq_status st = yq_mixed_apply(g, recipe, &b, ncalib, input, input_arg, &so, po->progress, po->progress_arg, &res);
    if (st != YQ_OK) return cli_fail(st);
    const yq_mixed_summary *s = &res.sum;
    if (!quiet) {
        char budget[64];
        if (b.avg_bits > 0) snprintf(budget, sizeof budget, "%g average bits", b.avg_bits);
        else snprintf(budget, sizeof budget, "%lld weight bytes", (long long)b.weight_bytes);
        printf("mixed precision (budget %s): %d layer(s) moved to 8 bit, average weight bits %.4f over %lld "
               "params (%.0f bytes), %.1f%% of the total sensitivity gain; sensitivity on %d image(s), %.1f s\n",
               budget, s->nhigh, s->avg_bits, (long long)s->params, (double)s->bits / 8.0,
               s->gain_total > 0 ? 100.0 * s->gain / s->gain_total : 0.0, res.sens.metric_images,
               (res.sens.calib_ms + res.sens.measure_ms) / 1000.0);
        for (int k = 0; k < res.sens.nlayers; k++)
            if (res.high[k])
                printf("  8 bit: %-48s %8lld params  gain %.4e\n", res.sens.layers[k].name,
                       (long long)res.sens.layers[k].params, res.sens.layers[k].gain);
    }
    cJSON *o = cJSON_CreateObject();
    if (b.avg_bits > 0) cJSON_AddNumberToObject(o, "budget_avg_bits", b.avg_bits);
    else cJSON_AddNumberToObject(o, "budget_weight_bytes", (double)b.weight_bytes);
    cJSON_AddNumberToObject(o, "avg_bits", s->avg_bits);
    cJSON_AddNumberToObject(o, "params", (double)s->params);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)s->bits / 8.0);
    cJSON_AddNumberToObject(o, "layers_8bit", s->nhigh);
    cJSON_AddNumberToObject(o, "metric_images", res.sens.metric_images);
    cJSON_AddNumberToObject(o, "sensitivity_ms", res.sens.calib_ms + res.sens.measure_ms);
    cJSON *arr = cJSON_AddArrayToObject(o, "layers");
    for (int k = 0; k < res.sens.nlayers; k++) {
        const yq_sens_layer *l = &res.sens.layers[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", l->name);
        cJSON_AddNumberToObject(e, "params", (double)l->params);
        cJSON_AddNumberToObject(e, "bits", res.bits[k]);
        cJSON_AddItemToObject(e, "gain", num_or_null(l->gain));
        cJSON_AddItemToObject(e, "sqnr_db", num_or_null(l->sqnr_db));
        cJSON_AddItemToArray(arr, e);
    }
    *report_out = o;
    yq_mixed_result_free(&res);
    return CLI_OK;
}
