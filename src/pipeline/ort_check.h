/* Optional validation of an artifact against ONNX Runtime (CPU EP), run as an
 * external process (ort/ort_env.h says where node and onnxruntime-node are
 * looked for). When they are missing the check is recorded as "not
 * available", and when ORT cannot run a model (e.g. a float16 kernel its CPU
 * EP lacks) ORT's own message is recorded — neither fails a pipeline. */
#ifndef YQ_PIPELINE_ORT_CHECK_H
#define YQ_PIPELINE_ORT_CHECK_H

#include <stdio.h>

#include "core/status.h"
#include "ort/ort_env.h"
#include "rt/session.h"


enum { YQ_ORT_UNAVAILABLE = 0, YQ_ORT_RAN = 1, YQ_ORT_FAILED = 2 };

/* End2end outputs [1,K,6] are compared detection by detection: each yoloq
 * detection scoring above this is matched to the ORT detection of the same
 * class with the nearest box. */
#define YQ_ORT_MATCH_SCORE 0.25f

typedef struct yq_ort_result {
    int status;          /* YQ_ORT_* */
    int ninputs;         /* inputs compared */
    double max_abs_diff; /* over all outputs and inputs (end2end: max of the two below) */
    double max_abs_out;  /* largest |yoloq output|, for scale (end2end: of the matched boxes) */
    int end2end;         /* an output was compared as matched detections */
    int matched;         /* detections matched (end2end) */
    double max_box_diff, max_score_diff; /* end2end: pixels, score units */
    char message[512];   /* ORT's error, or why it is not available */
} yq_ort_result;

/* Run `model` in ORT and in `session` (the same model, prepared by yoloq) on
 * ninputs float inputs of shape [1,3,h,w] and compare every output.
 * Temporaries go to work_dir (created; its files are removed afterwards).
 * The node process's output is appended to `log` (may be NULL). Fails only on
 * yoloq-side errors (I/O, the yoloq run); ORT problems land in res. */
yq_status yq_ort_compare(const yq_ort_env *env, const char *model, yq_session *session, const float *const *inputs,
                         int ninputs, int h, int w, int threads, const char *work_dir, FILE *log, yq_ort_result *res);

/* The JavaScript that runs ORT (written into work_dir for each check). */
extern const char yq_ort_script[];

#endif
