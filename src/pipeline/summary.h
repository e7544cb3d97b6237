/* summary.md of a run bundle: one table row per artifact (variant ×
 * mAP50-95, mAP50, mAP50-95 with ONNX Runtime running the artifact, Δ vs
 * the float32 baseline, weight bytes, Q/DQ count, latency median/p90, ONNX
 * Runtime max diff), the dataset and image count,
 * links to the pictures, notes on what each variant keeps float, failures. */
#ifndef YQ_PIPELINE_SUMMARY_H
#define YQ_PIPELINE_SUMMARY_H

#include <stdint.h>

#include "core/status.h"

typedef struct yq_summary_row {
    const char *variant;  /* "baseline-fp32", "w4a8", ... */
    const char *artifact; /* path relative to the bundle; NULL when none was made */
    const char *error;    /* NULL: every step finished */
    double map, map50;    /* NAN: not measured */
    int64_t dets01, dups01; /* detections scoring above 0.1 and the duplicates among them (eval/det_stats.h); < 0: not measured */
    int64_t weight_bytes; /* < 0: unknown */
    int qdq;              /* QuantizeLinear + DequantizeLinear nodes; < 0: unknown */
    double lat_median_ms, lat_p90_ms; /* NAN: not measured */
    int ort_status;       /* YQ_ORT_* (ort_check.h) */
    double ort_max_diff;  /* when ort_status == YQ_ORT_RAN */
    int ort_inputs;
    int ort_end2end;      /* compared as matched detections: then box (px) and score differences */
    double ort_box_diff, ort_score_diff;
    const char *ort_message; /* why ORT did not run (unavailable / its error) */
    double ort_map;       /* COCO mAP50-95 with ONNX Runtime running the artifact; NAN: not measured */
    const char *ort_eval_message; /* why that evaluation failed; NULL: it ran or was not tried */
    const char *keeps_float; /* the note on what stays float */
    int convs_integer, convs_fakequant, convs_float; /* how yoloq's evaluation ran the convs (-1: unknown) */
} yq_summary_row;

typedef struct yq_summary_plot {
    const char *title, *path; /* path relative to the bundle */
} yq_summary_plot;

typedef struct yq_summary {
    const char *run_id, *model, *dataset, *images_dir;
    int nimages, ncalib, threads;
    const yq_summary_row *rows;
    int nrows;
    int reference_row; /* the row Δ is measured against (baseline-fp32); -1: none */
    const yq_summary_plot *plots;
    int nplots;
    double wall_s; /* < 0: omitted */
    const char *ort_note; /* one line on the ORT setup; may be NULL */
    const char *sensitivity; /* Markdown paragraph(s) on the most sensitive layers; may be NULL */
} yq_summary;

/* The Markdown text (malloc'd, NUL-terminated). Deterministic for equal input. */
yq_status yq_summary_markdown(const yq_summary *s, char **out);

#endif
