/* Ablation ladder of a recipe (see ablate.h). */
#include "quant/ablate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/cocoeval.h"
#include "eval/eval_run.h"
#include "onnx/onnx.h"
#include "quant/mixed.h"

void yq_ablate_free(yq_ablate_ladder *l) {
    if (!l) return;
    for (int k = 0; k < l->n; k++) yq_recipe_free(l->rows[k].recipe);
    free(l->rows);
    l->rows = NULL;
    l->n = 0;
}

static void row_init(yq_ablate_row *row, const char *name, const char *what) {
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->what, sizeof row->what, "%s", what);
    row->map = row->map50 = row->map_even = row->map_odd = NAN;
    row->avg_weight_bits = row->output_sqnr_db = NAN;
}

/* Append a row whose recipe is a copy of `cur` (the ladder so far). */
static yq_status push(yq_ablate_ladder *l, const yq_recipe *cur, const char *name, const char *what) {
    yq_ablate_row *row = &l->rows[l->n];
    row_init(row, name, what);
    if (cur) YQ_TRY(yq_recipe_clone(cur, &row->recipe));
    l->n++;
    return YQ_OK;
}

yq_status yq_ablate_build(const yq_recipe *f, yq_ablate_ladder *out) {
    memset(out, 0, sizeof *out);
    enum { MAX_ROWS = 12 };
    out->rows = calloc(MAX_ROWS, sizeof *out->rows);
    if (!out->rows) return yq_fail(YQ_ERR_NOMEM, "ablation: out of memory");
    yq_recipe *cur = NULL;
    yq_status st = yq_recipe_clone(f, &cur);
    if (st != YQ_OK) {
        yq_ablate_free(out);
        return st;
    }
    /* the bottom of the ladder: round to nearest, nothing else */
    cur->weights.method = YQ_WMETHOD_RTN;
    cur->gptq_sequential = 0;
    cur->gptq_input_correction = 0;
    cur->bias_correction = 0;
    cur->equalize = 0;
    cur->act_ranges_quantized = 0;
    cur->mixed_avg_bits = 0;
    cur->mixed_weight_bytes = 0;
    cur->acts.observer = YQ_OBS_MINMAX;
    char what[160];
    snprintf(what, sizeof what, "float model (reference)");
    if (st == YQ_OK) st = push(out, NULL, "float", what);
    out->rows[0].is_float = 1;
    snprintf(what, sizeof what, "round to nearest, W%d%s", f->weights.bits, f->acts.bits ? "A8" : "A16");
    if (st == YQ_OK) st = push(out, cur, "rtn", what);
    if (st == YQ_OK && f->weights.method != YQ_WMETHOD_RTN) {
        const int ada = f->weights.method == YQ_WMETHOD_ADAROUND;
        cur->weights.method = f->weights.method;
        st = push(out, cur, ada ? "adaround" : "gptq",
                  ada ? "AdaRound, Hessians from the float model (one pass)"
                      : "GPTQ, Hessians from the float model (one pass)");
        if (st == YQ_OK && f->gptq_sequential) {
            cur->gptq_sequential = 1;
            cur->gptq_stages = f->gptq_stages;
            snprintf(what, sizeof what, "sequential: Hessians from the partly quantized model, %d stages%s",
                     f->gptq_stages, !f->acts.bits ? "" : f->gptq_stage_acts ? " (A8 in the passes)"
                                                                             : " (weights only in the passes)");
            st = push(out, cur, "gptq-seq", what);
        }
        if (st == YQ_OK && f->gptq_sequential && f->gptq_input_correction) {
            cur->gptq_input_correction = 1;
            st = push(out, cur, "input-correction", "GPTQ target from the float inputs (X_f^T X_q)");
        }
        if (st == YQ_OK && f->bias_correction) {
            cur->bias_correction = 1;
            st = push(out, cur, "bias-correction", "empirical bias correction");
        }
    }
    if (st == YQ_OK && f->equalize) {
        cur->equalize = f->equalize;
        cur->smooth_alpha = f->smooth_alpha;
        st = push(out, cur, "equalize", f->equalize == 2 ? "SmoothQuant on Conv->Conv pairs" : "CLE on Conv->Conv pairs");
    }
    if (st == YQ_OK && f->acts.bits && f->acts.observer != YQ_OBS_MINMAX) {
        cur->acts.observer = f->acts.observer;
        cur->acts.percentile = f->acts.percentile;
        snprintf(what, sizeof what, "A8 ranges by the %s observer (instead of min/max)",
                 yq_observer_kind_name(f->acts.observer));
        st = push(out, cur, "act-observer", what);
    }
    if (st == YQ_OK && f->act_ranges_quantized && f->acts.bits) {
        cur->act_ranges_quantized = 1;
        st = push(out, cur, "act-ranges", "A8 ranges observed on the weight-quantized model");
    }
    if (st == YQ_OK && (f->mixed_avg_bits > 0 || f->mixed_weight_bytes > 0)) {
        cur->mixed_avg_bits = f->mixed_avg_bits;
        cur->mixed_weight_bytes = f->mixed_weight_bytes;
        if (f->mixed_avg_bits > 0)
            snprintf(what, sizeof what, "mixed precision, <= %g average weight bits", f->mixed_avg_bits);
        else
            snprintf(what, sizeof what, "mixed precision, <= %lld weight bytes", (long long)f->mixed_weight_bytes);
        st = push(out, cur, "mixed", what);
        if (st == YQ_OK) out->rows[out->n - 1].mixed = 1;
    }
    yq_recipe_free(cur);
    if (st != YQ_OK) yq_ablate_free(out);
    return st;
}

/* mAP of the run's detections on the images of one id parity. */
static yq_status half_map(const yq_eval_run *run, int parity, double *map, int *n) {
    int64_t *ids = malloc((run->n + 1) * sizeof *ids);
    if (!ids) return yq_fail(YQ_ERR_NOMEM, "ablation: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < run->n; i++)
        if ((run->ids[i] & 1) == parity) ids[k++] = run->ids[i];
    *n = (int)k;
    *map = NAN;
    yq_status st = YQ_OK;
    if (k > 0) {
        yq_coco_result res;
        st = yq_coco_evaluate(run->gt, ids, k, run->dets, run->ndets, &res);
        if (st == YQ_OK) {
            *map = res.stats[YQ_COCO_AP];
            yq_coco_result_free(&res);
        }
    }
    free(ids);
    return st;
}

static double now_ms(void) { return yq_eval_now_ms(); }

static yq_status eval_file(const char *path, const yq_ablate_eval *ev, yq_ablate_row *row) {
    yq_eval_opts o;
    yq_eval_opts_default(&o);
    o.model = path;
    o.ann = ev->ann;
    o.images_dir = ev->images_dir;
    o.image_ids_path = ev->image_ids_path;
    o.max_images = ev->max_images;
    o.warmup = 0; /* no latency is reported */
    o.det.nthreads = ev->nthreads;
    yq_eval_run run;
    double t0 = now_ms();
    yq_status st = yq_eval_setup(&o, &run); /* run is freed whatever the outcome, as yoloq eval does */
    if (st == YQ_OK) st = yq_eval_execute(&run);
    if (st == YQ_OK) {
        row->map = run.res.stats[YQ_COCO_AP];
        row->map50 = run.res.stats[YQ_COCO_AP50];
        st = half_map(&run, 0, &row->map_even, &row->n_even);
    }
    if (st == YQ_OK) st = half_map(&run, 1, &row->map_odd, &row->n_odd);
    row->eval_ms = now_ms() - t0;
    yq_eval_run_free(&run);
    return st;
}

yq_status yq_ablate_run_row(const yq_graph *g, const char *model_path, yq_ablate_ladder *l, int k, int ncalib,
                            yq_ptq_input_fn input, void *input_arg, const yq_ptq_opts *po,
                            const yq_ablate_eval *ev, const char *tmp_path, yq_ablate_progress_fn progress,
                            void *progress_arg, yq_graph **out_graph) {
    if (out_graph) *out_graph = NULL;
    if (k < 0 || k >= l->n) return yq_fail(YQ_ERR_ARG, "ablation: no row %d", k);
    yq_ablate_row *row = &l->rows[k];
    if (row->is_float) {
        if (progress) progress(progress_arg, k, "eval");
        yq_status st = eval_file(model_path, ev, row);
        return st == YQ_OK ? YQ_OK : yq_fail_prefix(st, "ablation row '%s'", row->name);
    }
    yq_graph *qg = NULL;
    yq_recipe *rr = NULL;
    yq_ptq_report rep = {0};
    yq_status st = yq_graph_clone(g, &qg);
    if (st == YQ_OK) st = yq_recipe_clone(row->recipe, &rr);
    double t0 = now_ms();
    if (st == YQ_OK && row->mixed) {
        if (progress) progress(progress_arg, k, "mixed");
        yq_mixed_budget b = {.avg_bits = rr->mixed_avg_bits, .weight_bytes = rr->mixed_weight_bytes,
                             .criterion = rr->mixed_by_proxy ? YQ_MIXED_PROXY : YQ_MIXED_NOISE};
        yq_sens_opts so;
        yq_sens_opts_default(&so);
        so.ptq = *po;
        so.ptq.progress = NULL;
        so.nthreads = po->nthreads;
        if (rr->mixed_metric_images > 0) so.metric_images = rr->mixed_metric_images;
        yq_mixed_result mres;
        st = yq_mixed_apply(qg, rr, &b, ncalib, input, input_arg, &so, NULL, NULL, NULL, &mres);
        if (st == YQ_OK) yq_mixed_result_free(&mres);
    }
    if (st == YQ_OK) {
        if (progress) progress(progress_arg, k, "quantize");
        yq_ptq_opts o = *po;
        o.progress = NULL;
        st = yq_ptq_quantize(qg, rr, ncalib, input, input_arg, &o, &rep);
    }
    row->quantize_ms = now_ms() - t0;
    if (st == YQ_OK) {
        int64_t p = 0, bits = 0;
        for (int i = 0; i < rep.nlayers; i++) {
            p += rep.layers[i].params;
            bits += rep.layers[i].params * rep.layers[i].bits;
        }
        row->avg_weight_bits = p > 0 ? (double)bits / (double)p : NAN;
        row->output_sqnr_db = rep.output_sqnr_db;
        st = yq_onnx_save(qg, tmp_path);
    }
    if (st == YQ_OK) {
        if (progress) progress(progress_arg, k, "eval");
        st = eval_file(tmp_path, ev, row);
        remove(tmp_path);
    }
    yq_ptq_report_free(&rep);
    yq_recipe_free(rr);
    if (st == YQ_OK && out_graph) *out_graph = qg;
    else yq_graph_free(qg);
    return st == YQ_OK ? YQ_OK : yq_fail_prefix(st, "ablation row '%s'", row->name);
}
