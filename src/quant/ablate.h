/* Ablation of a quantization recipe (`yoloq quantize --ablate`): how much
 * each algorithm contributes to the final model's mAP, in one table.
 *
 * The rows form a ladder from the final recipe down to plain rounding:
 *   float            the float model (the reference);
 *   rtn              round to nearest, same bits / grids / activations;
 *   gptq             GPTQ with every Hessian from the float model (one pass);
 *   gptq-seq         sequential GPTQ (Hessians from the partly quantized model);
 *   act-observer     the A8 range observer (rows above: min/max);
 *   act-ranges       A8 ranges observed on the weight-quantized model;
 *   bias-correction, equalize, input-correction
 *   mixed            the mixed-precision budget (layers moved to 8 bit);
 * each row adds one feature of the final recipe to the row above; features the
 * final recipe does not use have no row, and the last row is the final recipe
 * itself. Every row is quantized from the same prepared float graph with the
 * same calibration images and evaluated on the same COCO images (the eval
 * library, eval_run.h), reporting mAP50-95 and mAP50 on all of them and on the
 * two halves of the selection by image-id parity (even / odd), which shows
 * whether a gain holds on both halves. */
#ifndef YQ_QUANT_ABLATE_H
#define YQ_QUANT_ABLATE_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/ptq.h"
#include "quant/recipe.h"

typedef struct yq_ablate_row {
    char name[32];      /* "float", "rtn", "gptq", "gptq-seq", ... (above) */
    char what[160];     /* one line: what the row adds */
    int is_float;       /* the float model: nothing quantized */
    int mixed;          /* quantized under the recipe's mixed-precision budget */
    yq_recipe *recipe;  /* owned; NULL for the float row */
    /* results (NAN until measured) */
    double map, map50;          /* all selected images */
    double map_even, map_odd;   /* images with an even / odd id (NAN when a half is empty) */
    int n_even, n_odd;
    double avg_weight_bits;     /* over the quantized layers' params (NAN for float) */
    double output_sqnr_db;      /* of the PTQ report (NAN for float) */
    double quantize_ms, eval_ms;
} yq_ablate_row;

typedef struct yq_ablate_ladder {
    yq_ablate_row *rows;
    int n;
} yq_ablate_ladder;

/* The rows for the final recipe `final` (weights and activations already
 * resolved, e.g. by yq_recipe_apply_bits). A recipe with round-to-nearest
 * weights gives float + rtn only. */
yq_status yq_ablate_build(const yq_recipe *final, yq_ablate_ladder *out);
void yq_ablate_free(yq_ablate_ladder *l);

typedef struct yq_ablate_eval {
    const char *ann, *images_dir; /* COCO instances file and its images */
    const char *image_ids_path;   /* NULL: the first max_images images in id order */
    int max_images;               /* 0: all */
    int nthreads;
} yq_ablate_eval;

/* Progress: row index, and the phase ("quantize", "mixed", "eval"). */
typedef void (*yq_ablate_progress_fn)(void *arg, int row, const char *phase);

/* Measure row `k` of the ladder: quantize a copy of the prepared float graph
 * `g` under the row's recipe (with the mixed-precision analysis first for a
 * mixed row), write it to `tmp_path` (atomically), evaluate that file, and
 * fill the row's results. The float row evaluates `model_path` itself.
 * *out_graph (may be NULL) receives the quantized graph (caller frees);
 * tmp_path is removed before returning. */
yq_status yq_ablate_run_row(const yq_graph *g, const char *model_path, yq_ablate_ladder *l, int k, int ncalib,
                            yq_ptq_input_fn input, void *input_arg, const yq_ptq_opts *po,
                            const yq_ablate_eval *ev, const char *tmp_path, yq_ablate_progress_fn progress,
                            void *progress_arg, yq_graph **out_graph);

#endif
