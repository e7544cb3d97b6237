/* Shared pieces of the command-line front end: the only layer that prints to
 * the user or decides exit codes. */
#ifndef YQ_CLI_H
#define YQ_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

/* Exit codes: 0 success, 1 runtime failure (bad input file, I/O), 2 usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *fp);
} cli_command;

extern const cli_command cli_commands[];
extern const int cli_ncommands;

/* "yoloq: error: <message>" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a library failure: the library's message (which names the file). */
int cli_fail(yq_status st);
/* Usage error for command `cmd`: message plus a hint to --help; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict numeric option parsing; returns 0 on success, else prints a usage error. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long min, long max, int *out);
int cli_parse_float(const char *cmd, const char *flag, const char *s, double min, double max, float *out);
/* --engine auto|fakequant|ort of the detector commands (eval, run): *engine a
 * yq_engine, *ort 1 for ONNX Runtime (detector.h). */
int cli_parse_detector_engine(const char *cmd, const char *s, int *engine, int *ort);

/* Progress bar on stderr, drawn only when stderr is a terminal and not quiet. */
typedef struct cli_progress {
    const char *label;
    int64_t total, done;
    double t_start, t_last;
    int enabled;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total, int quiet);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_finish(cli_progress *p);

double cli_now_ms(void);

/* Common option help lines, so every command words them the same way. */
#define CLI_HELP_THREADS "  -t, --threads N     worker threads (default: one per CPU core)\n"
#define CLI_HELP_QUIET   "  -q, --quiet         no progress or informational output on stderr\n"
#define CLI_HELP_ENGINE                                                                       \
    "      --engine E      how QCDQ convolutions (uint8 activations, int8/int4 weights) run:\n" \
    "                      auto (default): as integer convolutions, exact int32 sums with\n"  \
    "                      fused SiLU and requantization; fakequant: float kernels on the\n"  \
    "                      dequantized weights and activations (the reference path)\n"
/* eval and run also take "ort" (detector.h: opts.ort). */
#define CLI_HELP_ENGINE_ORT                                                                   \
    "                      ort: ONNX Runtime (CPU EP) runs the model, through node and the\n"  \
    "                      npm package onnxruntime-node (found as for the pipeline's ORT\n"   \
    "                      check: $YOLOQ_ORT_NODE_PATH, node_modules beside yoloq, or the\n"  \
    "                      source tree's tests/parity); letterbox, decoding and the rest\n"   \
    "                      stay yoloq's, so only the engine differs\n"
#define CLI_HELP_HELP    "  -h, --help          show this help\n"



/* Write a cJSON document to `path` atomically ("-" = stdout). Frees nothing. */
struct cJSON;
int cli_write_json(const struct cJSON *doc, const char *path);
#endif
