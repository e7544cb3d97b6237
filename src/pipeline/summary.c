/* summary.md (see summary.h). Plain Markdown: readable as text and rendered. */
#include "pipeline/summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ort_check.h"

static void fmt_bytes(char *buf, size_t cap, int64_t b) {
    if (b < 0) snprintf(buf, cap, "–");
    else if (b >= 1000000) snprintf(buf, cap, "%.2f MB", (double)b / 1e6);
    else snprintf(buf, cap, "%.1f kB", (double)b / 1e3);
}

/* Markdown table cells must not contain '|' or newlines. */
static void cell(FILE *fp, const char *s) {
    for (; s && *s; s++) fputc(*s == '|' ? '/' : (*s == '\n' ? ' ' : *s), fp);
}

yq_status yq_summary_markdown(const yq_summary *s, char **out) {
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) return yq_fail(YQ_ERR_NOMEM, "out of memory");
    const yq_summary_row *ref = s->reference_row >= 0 && s->reference_row < s->nrows ? &s->rows[s->reference_row] : NULL;
    int failed = 0;
    for (int i = 0; i < s->nrows; i++) failed += s->rows[i].error != NULL;

    fprintf(fp, "# yoloq pipeline: %s\n\n", s->model ? s->model : "model");
    if (s->run_id) fprintf(fp, "Run `%s`", s->run_id);
    fprintf(fp, "%sCOCO evaluation on **%d images** of `%s`", s->run_id ? ": " : "", s->nimages,
            s->dataset ? s->dataset : "?");
    if (s->images_dir) fprintf(fp, " (images in `%s`)", s->images_dir);
    fprintf(fp, "; calibration on %d images; %d thread(s).", s->ncalib, s->threads);
    if (s->wall_s >= 0) fprintf(fp, " Wall time %.1f s.", s->wall_s);
    fprintf(fp, "\n\n");
    if (failed) fprintf(fp, "**%d of %d artifact(s) failed** — see the Failures section.\n\n", failed, s->nrows);

    fprintf(fp, "| variant | mAP50-95 | mAP50 | mAP50-95 on ORT | Δ mAP50-95 vs %s | weight bytes | Q/DQ nodes | "
                "latency median / p90 (ms/img) | ORT max \\|diff\\| | detections > 0.1 (duplicates) |\n",
            ref ? ref->variant : "baseline");
    fprintf(fp, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for (int i = 0; i < s->nrows; i++) {
        const yq_summary_row *r = &s->rows[i];
        char b[32];
        fprintf(fp, "| ");
        cell(fp, r->variant);
        if (r->error) fprintf(fp, " (failed)");
        if (isnan(r->map)) fprintf(fp, " | – | –");
        else fprintf(fp, " | %.4f | %.4f", r->map, r->map50);
        if (!isnan(r->ort_map)) fprintf(fp, " | %.4f", r->ort_map);
        else fprintf(fp, " | %s", r->ort_eval_message ? "failed²" : "–");
        if (isnan(r->map) || !ref || isnan(ref->map)) fprintf(fp, " | –");
        else if (r == ref) fprintf(fp, " | (reference)");
        else fprintf(fp, " | %+.4f", r->map - ref->map);
        fmt_bytes(b, sizeof b, r->weight_bytes);
        fprintf(fp, " | %s", b);
        if (r->qdq < 0) fprintf(fp, " | –");
        else fprintf(fp, " | %d", r->qdq);
        if (isnan(r->lat_median_ms)) fprintf(fp, " | –");
        else if (r->lat_median_ms < 10) fprintf(fp, " | %.3f / %.3f", r->lat_median_ms, r->lat_p90_ms);
        else fprintf(fp, " | %.1f / %.1f", r->lat_median_ms, r->lat_p90_ms);
        if (r->ort_status == YQ_ORT_RAN && r->ort_end2end)
            fprintf(fp, " | box %.3g px, score %.3g (%d inputs)", r->ort_box_diff, r->ort_score_diff, r->ort_inputs);
        else if (r->ort_status == YQ_ORT_RAN) fprintf(fp, " | %.3g (%d inputs)", r->ort_max_diff, r->ort_inputs);
        else if (r->ort_status == YQ_ORT_FAILED) fprintf(fp, " | ORT could not run it¹");
        else fprintf(fp, " | not available");
        if (r->dets01 < 0) fprintf(fp, " | –");
        else fprintf(fp, " | %lld (%lld)", (long long)r->dets01, (long long)r->dups01);
        fprintf(fp, " |\n");
    }
    fprintf(fp, "\nΔ is in mAP points (0.01 = one point). Weight bytes: initializers at stored precision "
                "(n-bit weights as n/8 bytes, plus scales and float tensors). Latency: inference only, per image, "
                "from the evaluation pass. ORT max |diff|: largest absolute difference between ONNX Runtime's and "
                "yoloq's raw model outputs over the random smoke input and the first evaluation images; for end2end outputs "
                "(x1,y1,x2,y2,score,class rows in score order) each yoloq detection scoring above 0.25 is matched to "
                "ORT's detection of the same class with the nearest box, and the largest box (pixels) and score "
                "differences are shown. Detections > 0.1 (duplicates): detections of the evaluation scoring above 0.1, "
                "and those among them with an IoU above 0.5 with a higher-scored detection of the same class — boxes "
                "an NMS-free head (YOLOv10's) was trained to suppress and that quantization lets through. "
                "mAP50-95 on ORT: the same COCO evaluation (yoloq's letterbox, decoding and "
                "matching) with ONNX Runtime running the artifact instead of yoloq's engine (`yoloq eval --engine "
                "ort`); for A8 variants it differs from yoloq's by uint8 codes that flip where the engines' float "
                "sums straddle a rounding tie.\n");
    int ort_fail_note = 0;
    for (int i = 0; i < s->nrows; i++)
        if (s->rows[i].ort_status == YQ_ORT_FAILED) {
            if (!ort_fail_note++) fprintf(fp, "\n¹ ONNX Runtime's message:\n\n");
            fprintf(fp, "- %s: ", s->rows[i].variant);
            cell(fp, s->rows[i].ort_message ? s->rows[i].ort_message : "(none)");
            fprintf(fp, "\n");
        }
    int ort_eval_note = 0;
    for (int i = 0; i < s->nrows; i++)
        if (isnan(s->rows[i].ort_map) && s->rows[i].ort_eval_message) {
            if (!ort_eval_note++) fprintf(fp, "\n² The evaluation with ONNX Runtime running the artifact failed:\n\n");
            fprintf(fp, "- %s: ", s->rows[i].variant);
            cell(fp, s->rows[i].ort_eval_message);
            fprintf(fp, "\n");
        }
    if (s->ort_note) fprintf(fp, "\n%s\n", s->ort_note);

    fprintf(fp, "\n## What each variant keeps float\n\n");
    for (int i = 0; i < s->nrows; i++) {
        const yq_summary_row *r = &s->rows[i];
        fprintf(fp, "- **%s**", r->variant);
        if (r->artifact) fprintf(fp, " ([`%s`](%s))", r->artifact, r->artifact);
        fprintf(fp, ": %s", r->keeps_float ? r->keeps_float : "–");
        if (r->convs_integer > 0)
            fprintf(fp, " yoloq's evaluation ran %d convolutions as integer convolutions (uint8 × int8 codes, exact "
                        "int32 sums, requantization fused), %d as fake-quant and %d in float.",
                    r->convs_integer, r->convs_fakequant > 0 ? r->convs_fakequant : 0,
                    r->convs_float > 0 ? r->convs_float : 0);
        fprintf(fp, "\n");
    }
    if (s->sensitivity) fprintf(fp, "\n## Layer sensitivity\n\n%s\n", s->sensitivity);
    if (s->nplots > 0) {
        fprintf(fp, "\n## Pictures\n\n");
        for (int i = 0; i < s->nplots; i++)
            fprintf(fp, "### %s\n\n![%s](%s)\n\n", s->plots[i].title, s->plots[i].title, s->plots[i].path);
    }
    if (failed) {
        fprintf(fp, "\n## Failures\n\n");
        for (int i = 0; i < s->nrows; i++)
            if (s->rows[i].error) fprintf(fp, "- **%s**: %s\n", s->rows[i].variant, s->rows[i].error);
    }
    fprintf(fp, "\nFiles: `config.json` (options, recipe, input hashes), `env.json` (build and machine), "
                "`metrics/<variant>.json`, `logs/<step>.log`.\n");
    if (fclose(fp) != 0) {
        free(text);
        return yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    *out = text;
    return YQ_OK;
}
