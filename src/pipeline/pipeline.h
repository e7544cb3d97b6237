/* `yoloq pipeline` as a library call: from a float YOLO ONNX model to a run
 * bundle comparing its float32 / float16 baselines and PTQ variants.
 *
 * For every variant the artifacts are made in-process (clean float32 export,
 * float16 conversion, yq_quantize_model_file), then each artifact gets a
 * random-input smoke run, a COCO evaluation (yq_eval_*) and, where node +
 * onnxruntime-node are present, an ONNX Runtime cross-check and the same COCO
 * evaluation with ONNX Runtime running the model. Bundle layout
 * under run_dir:
 *   config.json  every option, the recipe, sha256 of every input file
 *   env.json     build (version, git commit, compiler, dependencies) and machine
 *   onnx/        <name>-baseline-fp32.onnx, -baseline-fp16.onnx, -w8a16-qcdq-ptq.onnx, ...
 *   logs/        <step>.log, one per step
 *   steps/       <step>.json: the key of the step's inputs and its result (for --resume)
 *   metrics/     <variant>.json: export/quantize report, smoke, evaluation, ORT check, ORT evaluation
 *   plots/       accuracy vs size, per-layer SQNR per variant, sensitivity, detections
 *   summary.md   the table and notes
 * Every file is written atomically. A failing variant is recorded (summary,
 * metrics, result.nfailed) and the others still run. With `resume`, a step
 * whose key (sha256 of its options, input file hashes and the yoloq build)
 * matches its steps/ record and whose outputs are unchanged is skipped. */
#ifndef YQ_PIPELINE_PIPELINE_H
#define YQ_PIPELINE_PIPELINE_H

#include <stdint.h>

#include "core/status.h"

/* state: "run", "skip" (resumed), "done", "fail"; detail: the error on "fail". */
typedef void (*yq_pipeline_step_fn)(void *arg, const char *step, const char *state, const char *detail);
/* Progress inside a step (images evaluated, calibration stages). */
typedef void (*yq_pipeline_progress_fn)(void *arg, const char *label, int64_t done, int64_t total);

typedef struct yq_pipeline_opts {
    const char *model;      /* float YOLO ONNX */
    const char *calib;      /* calibration list (yoloq quantize --calib) */
    const char *ann;        /* COCO instances JSON */
    const char *images;     /* folder of the annotation file's images */
    const char *run_dir;    /* created when missing */
    const char *run_id;     /* shown in the summary; NULL: run_dir's last component */
    const char *recipe;     /* applied to every PTQ variant; NULL: the default recipe */
    const char *variants;   /* comma list; NULL: yq_pipeline_default_variants */
    int max_images;         /* 0: every image of the annotation file */
    int calib_count;        /* 0: the recipe's */
    int threads;            /* <= 0: one per core */
    int resume;
    int ort_images;         /* images for the ORT check besides the random input (5) */
    int ort_eval;           /* 1 (default): every artifact the ORT check ran is also evaluated on the
                               COCO images with ONNX Runtime running it (yoloq eval --engine ort) */
    int sample_images;      /* pictures of detections, baseline vs lowest-bit variant (4) */
    int qat_steps;          /* optimiser steps of the -qat variants (0: yoloq finetune's default, 200) */
    int sensitivity_images; /* per-layer sensitivity (yq_sensitivity) of the lowest-bit PTQ variant's
                               setting, measured on the first N calibration images (16); 0: off, the
                               chart then ranks layers by their output SQNR in the quantize report */
    yq_pipeline_step_fn on_step;
    yq_pipeline_progress_fn on_progress;
    void *arg;
} yq_pipeline_opts;

extern const char yq_pipeline_default_variants[]; /* "baseline,w8a16,w8a8,w4a16,w4a8" */

void yq_pipeline_opts_default(yq_pipeline_opts *o);

/* Checks a variant list; the message names the bad entry. */
yq_status yq_pipeline_parse_variants(const char *list, int *count);

typedef struct yq_pipeline_result {
    int nrows;      /* artifacts (baseline counts twice: fp32 and fp16) */
    int nfailed;    /* artifacts with a failed step */
    int nfailed_steps; /* run-wide steps that failed (sensitivity); reported in summary.md */
    int nskipped;   /* steps skipped by resume */
    int nsteps;     /* steps run or skipped */
    int ort_ran;    /* artifacts checked against ORT */
    double wall_s;
    char summary_path[4096];
} yq_pipeline_result;

/* Fails (nothing written) on bad inputs: a missing model, calibration list,
 * annotation file or image, a bad variant list or recipe. Variant failures
 * are not errors: they are counted in res->nfailed. */
yq_status yq_pipeline_run(const yq_pipeline_opts *o, yq_pipeline_result *res);

#endif
