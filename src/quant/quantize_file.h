/* Quantizing a model file into a QCDQ model file: the body of `yoloq quantize`
 * as a library call (the pipeline runs it in-process for every PTQ variant).
 * Recipe + bit-width overrides, calibration list, model preparation, the PTQ
 * driver (ptq.h), the export, and the report as JSON. */
#ifndef YQ_QUANT_QUANTIZE_FILE_H
#define YQ_QUANT_QUANTIZE_FILE_H

#include <cjson/cJSON.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/ptq.h"
#include "quant/recipe.h"

/* Calibration images: one path a line (blank lines and '#' comments skipped),
 * relative paths resolved against the list's folder. w/h: the letterbox size. */
typedef struct yq_calib_list {
    char **paths;
    int n;
    int w, h;
} yq_calib_list;

yq_status yq_calib_list_load(const char *path, yq_calib_list *out);
void yq_calib_list_free(yq_calib_list *l);
/* Set the letterbox size to the model's one image input [1,3,H,W] (g prepared);
 * YQ_ERR_INVALID naming `model` for any other input. */
yq_status yq_calib_list_fit(yq_calib_list *l, const yq_graph *g, const char *model);
/* yq_ptq_input_fn over a yq_calib_list (arg): image `index`, letterboxed to w x h. */
yq_status yq_calib_list_input(void *arg, int index, float *nchw);

/* Apply the command-line overrides to a recipe: wbits 8|4 (0: keep) also picks
 * the method and symmetry unless the recipe names them (4: GPTQ, asymmetric,
 * and, without a "gptq" section, sequential in 8 stages whose Hessian passes run
 * the quantized weights only ("stage_acts": false), and A8 ranges by the MSE
 * observer unless the recipe names "activations.observer"; 8: round to nearest,
 * symmetric); abits 0|8 (-1: keep). */
void yq_recipe_apply_bits(yq_recipe *r, int wbits, int abits);

/* The same for measuring one layer at a time with the rest float (sensitivity):
 * the defaults of `yoloq quantize` except that GPTQ runs one pass on the float
 * model, since sequential Hessians need the earlier layers quantized. */
void yq_recipe_apply_bits_one_layer(yq_recipe *r, int wbits, int abits);

/* yq_ptq_quantize, then the recipe's block reconstruction (reconstruct.h)
 * when it has one, against a copy of g taken before quantization. */
yq_status yq_quantize_graph(yq_graph *g, const yq_recipe *recipe, int count, yq_ptq_input_fn input, void *input_arg,
                            const yq_ptq_opts *ptq, yq_ptq_report *rep);

typedef struct yq_quantize_job {
    const char *model, *out;
    const char *calib;       /* calibration list */
    const char *recipe_path; /* NULL: the default recipe */
    int wbits;               /* 8, 4 or 0 (the recipe's) */
    int abits;               /* 0, 8 or -1 (the recipe's) */
    int calib_count;         /* 0: the recipe's; capped at the list's length */
    yq_ptq_opts ptq;
} yq_quantize_job;

/* Load, prepare, calibrate, quantize and save job->out (atomically). On
 * success *rep holds the report (free with yq_ptq_report_free) and
 * *ncalib_used the number of calibration images. Errors name the file. */
yq_status yq_quantize_model_file(const yq_quantize_job *job, yq_ptq_report *rep, int *ncalib_used);

/* The report as the JSON `yoloq quantize --report` writes (NULL: out of memory). */
cJSON *yq_ptq_report_json(const yq_ptq_report *r, const char *model, const char *out, int ncalib);

#endif
