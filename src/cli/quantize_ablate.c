#include "quantize_ablate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "onnx/onnx.h"
#include "quant/ablate.h"

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

typedef struct ablate_progress {
    const yq_ablate_ladder *l;
    int enabled;
    double t0;
} ablate_progress;

static void on_row(void *arg, int row, const char *phase) {
    ablate_progress *p = arg;
    if (!p->enabled) return;
    fprintf(stderr, "\rablate: row %d/%d %-16s %-8s (%.0f s)   ", row + 1, p->l->n, p->l->rows[row].name, phase,
            (cli_now_ms() - p->t0) / 1000.0);
    fflush(stderr);
}

static void fmt(char *buf, size_t n, double v) {
    if (isfinite(v)) snprintf(buf, n, "%.4f", v);
    else snprintf(buf, n, "-");
}

static void print_table(const yq_ablate_ladder *l) {
    printf("%-18s %8s %8s %8s %8s %8s %6s %9s  %s\n", "row", "mAP", "delta", "mAP50", "even", "odd", "bits",
           "quant s", "what");
    for (int k = 0; k < l->n; k++) {
        const yq_ablate_row *r = &l->rows[k];
        char m[16], d[16], m50[16], e[16], o[16], b[16], q[16];
        fmt(m, sizeof m, r->map);
        fmt(m50, sizeof m50, r->map50);
        fmt(e, sizeof e, r->map_even);
        fmt(o, sizeof o, r->map_odd);
        if (k > 0 && isfinite(r->map) && isfinite(l->rows[k - 1].map))
            snprintf(d, sizeof d, "%+.4f", r->map - l->rows[k - 1].map);
        else
            snprintf(d, sizeof d, "-");
        if (isfinite(r->avg_weight_bits)) snprintf(b, sizeof b, "%.3f", r->avg_weight_bits);
        else snprintf(b, sizeof b, "32");
        if (r->is_float) snprintf(q, sizeof q, "-");
        else snprintf(q, sizeof q, "%.1f", r->quantize_ms / 1000.0);
        printf("%-18s %8s %8s %8s %8s %8s %6s %9s  %s\n", r->name, m, d, m50, e, o, b, q, r->what);
    }
    const yq_ablate_row *f = &l->rows[0], *z = &l->rows[l->n - 1];
    if (l->n > 1 && isfinite(f->map) && isfinite(z->map))
        printf("final recipe: mAP50-95 %.4f, %+.4f from float (%d even-id + %d odd-id images)\n", z->map,
               z->map - f->map, z->n_even, z->n_odd);
}

static cJSON *ladder_json(const yq_ablate_ladder *l, const char *model, const cli_ablate_opts *ao, int ncalib) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "model", model);
    cJSON_AddStringToObject(doc, "ground_truth", ao->ann);
    cJSON_AddStringToObject(doc, "images_dir", ao->images);
    if (ao->ids) cJSON_AddStringToObject(doc, "image_ids", ao->ids);
    else cJSON_AddNumberToObject(doc, "max_images", ao->max_images);
    cJSON_AddNumberToObject(doc, "calibration_images", ncalib);
    cJSON *arr = cJSON_AddArrayToObject(doc, "rows");
    for (int k = 0; k < l->n; k++) {
        const yq_ablate_row *r = &l->rows[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddStringToObject(o, "what", r->what);
        cJSON_AddItemToObject(o, "map50_95", num_or_null(r->map));
        cJSON_AddItemToObject(o, "map50", num_or_null(r->map50));
        cJSON_AddItemToObject(o, "delta", num_or_null(k > 0 ? r->map - l->rows[k - 1].map : NAN));
        cJSON_AddItemToObject(o, "map50_95_even", num_or_null(r->map_even));
        cJSON_AddItemToObject(o, "map50_95_odd", num_or_null(r->map_odd));
        cJSON_AddNumberToObject(o, "images_even", r->n_even);
        cJSON_AddNumberToObject(o, "images_odd", r->n_odd);
        cJSON_AddItemToObject(o, "avg_weight_bits", num_or_null(r->avg_weight_bits));
        cJSON_AddItemToObject(o, "output_sqnr_db", num_or_null(r->output_sqnr_db));
        cJSON_AddItemToObject(o, "quantize_ms", num_or_null(r->is_float ? NAN : r->quantize_ms));
        cJSON_AddNumberToObject(o, "eval_ms", r->eval_ms);
        cJSON_AddItemToArray(arr, o);
    }
    return doc;
}

int cli_quantize_ablate(const yq_graph *g, const char *model, const char *out, const yq_recipe *recipe, int ncalib,
                        yq_ptq_input_fn input, void *input_arg, const yq_ptq_opts *po, const cli_ablate_opts *ao,
                        int quiet) {
    yq_ablate_ladder l;
    yq_status st = yq_ablate_build(recipe, &l);
    if (st != YQ_OK) return cli_fail(st);
    size_t n = strlen(out) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        yq_ablate_free(&l);
        return cli_error("out of memory");
    }
    snprintf(tmp, n, "%s.ablate-row.onnx", out);
    yq_ablate_eval ev = {.ann = ao->ann, .images_dir = ao->images, .image_ids_path = ao->ids,
                         .max_images = ao->max_images, .nthreads = po->nthreads};
    ablate_progress pr = {.l = &l, .enabled = !quiet && isatty(2), .t0 = cli_now_ms()};
    yq_graph *final = NULL;
    int rc = CLI_OK;
    for (int k = 0; k < l.n && rc == CLI_OK; k++) {
        yq_graph **keep = k == l.n - 1 ? &final : NULL;
        st = yq_ablate_run_row(g, model, &l, k, ncalib, input, input_arg, po, &ev, tmp, on_row, &pr, keep);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    if (pr.enabled) fputc('\n', stderr);
    if (rc == CLI_OK && final && (st = yq_onnx_save(final, out)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK) print_table(&l);
    if (rc == CLI_OK && ao->json) {
        cJSON *doc = ladder_json(&l, model, ao, ncalib);
        rc = doc ? cli_write_json(doc, ao->json) : cli_error("out of memory");
        cJSON_Delete(doc);
        if (rc != CLI_OK) remove(out); /* all outputs or none */
    }
    yq_graph_free(final);
    free(tmp);
    yq_ablate_free(&l);
    return rc;
}
