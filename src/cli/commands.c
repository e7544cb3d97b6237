/* The verb table: one row per command, one file per verb (cmd_<name>.c). */
#include "cli.h"

int cmd_info(int argc, char **argv);
void cmd_info_help(FILE *fp);
int cmd_run(int argc, char **argv);
void cmd_run_help(FILE *fp);
int cmd_bench(int argc, char **argv);
void cmd_bench_help(FILE *fp);
int cmd_quantize(int argc, char **argv);
void cmd_quantize_help(FILE *fp);
int cmd_eval(int argc, char **argv);
void cmd_eval_help(FILE *fp);
int cmd_sensitivity(int argc, char **argv);
void cmd_sensitivity_help(FILE *fp);
int cmd_finetune(int argc, char **argv);
void cmd_finetune_help(FILE *fp);
int cmd_pipeline(int argc, char **argv);
void cmd_pipeline_help(FILE *fp);
int cmd_demo(int argc, char **argv);
void cmd_demo_help(FILE *fp);

const cli_command cli_commands[] = {
    {"info", "describe a model: inputs, outputs, operators, parameters, GFLOPs", cmd_info, cmd_info_help},
    {"run", "detect objects in one image and print, save or draw the detections", cmd_run, cmd_run_help},
    {"eval", "COCO mAP (pycocotools-exact) and inference latency of a detector on a COCO image set", cmd_eval,
     cmd_eval_help},
    {"bench", "measure inference latency (median/p90) on a synthetic input", cmd_bench, cmd_bench_help},
    {"quantize", "post-training quantization (W8/W4, A8) with calibration, exported as QCDQ ONNX", cmd_quantize,
     cmd_quantize_help},
    {"sensitivity", "rank layers by the accuracy cost of quantizing each one alone (table, JSON, PNG)",
     cmd_sensitivity, cmd_sensitivity_help},
    {"finetune", "quantization-aware fine-tuning of a QCDQ model by distillation from its float model",
     cmd_finetune, cmd_finetune_help},
    {"pipeline", "the whole workflow: baselines, PTQ variants, smoke/COCO/ORT checks, run bundle + summary",
     cmd_pipeline, cmd_pipeline_help},
    {"demo", "the pipeline on YOLOv10n + the COCO dev subset (or a built-in synthetic detector)", cmd_demo,
     cmd_demo_help},
};
const int cli_ncommands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
