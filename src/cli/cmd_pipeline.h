/* What `yoloq pipeline` and `yoloq demo` share: progress display and the final report. */
#ifndef YQ_CLI_CMD_PIPELINE_H
#define YQ_CLI_CMD_PIPELINE_H

#include <stddef.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline/pipeline.h"

typedef struct pipeline_ui {
    cli_progress bar;
    char label[160];
    int quiet, verbose;
} pipeline_ui;

void pipeline_ui_init(pipeline_ui *ui, int quiet);
void pipeline_ui_attach(pipeline_ui *ui, yq_pipeline_opts *o);
/* Print the outcome and where the summary is; the exit code. */
int pipeline_report(const yq_pipeline_result *res, yq_status st, pipeline_ui *ui);
void pipeline_default_run_dir(char *buf, size_t cap);

#endif
