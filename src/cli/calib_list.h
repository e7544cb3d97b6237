/* Calibration image lists for the CLI commands that calibrate (sensitivity,
 * mixed precision): one path a line, relative to the list's folder, each
 * image letterboxed exactly like evaluation. */
#ifndef YQ_CLI_CALIB_LIST_H
#define YQ_CLI_CALIB_LIST_H

#include "core/status.h"
#include "ir/graph.h"

typedef struct cli_calib_list {
    char **paths;
    int n;
    int w, h; /* model input size, set by cli_calib_list_open */
} cli_calib_list;

/* Read LIST (blank lines and '#' comments skipped), keep the first *count
 * images (0: all; *count is capped to the list's length), check that each
 * can be opened, and take the input size from g (one [1,3,H,W] input).
 * Prints the error and returns a CLI exit code. */
int cli_calib_list_open(const char *list_path, const yq_graph *g, const char *model, int *count, cli_calib_list *out);
void cli_calib_list_free(cli_calib_list *l);
/* yq_ptq_input_fn: decode and letterbox image `index` into nchw. */
yq_status cli_calib_input(void *arg, int index, float *nchw);

#endif
