/* Calibration image lists for the CLI commands that calibrate on a prepared
 * graph (sensitivity): the list reader of quant/quantize_file.h plus the
 * checks a command wants before minutes of work. */
#ifndef YQ_CLI_CALIB_LIST_H
#define YQ_CLI_CALIB_LIST_H

#include "core/status.h"
#include "ir/graph.h"
#include "quant/quantize_file.h"

/* Read LIST (yq_calib_list_load), keep the first *count images (0: all;
 * *count is capped to the list's length), check that each can be opened,
 * and take the letterbox size from g (one [1,3,H,W] input). Prints the
 * error and returns a CLI exit code; the images are then read by
 * yq_calib_list_input. */
int cli_calib_list_open(const char *list_path, const yq_graph *g, const char *model, int *count, yq_calib_list *out);

#endif
