/* yoloq pipeline MODEL --calib LIST --ann INSTANCES.json --images DIR: the
 * whole quantization workflow into one run bundle (src/pipeline/). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_pipeline.h"
#include "pipeline/pipeline.h"

void cmd_pipeline_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq pipeline MODEL.onnx --calib LIST.txt --ann INSTANCES.json --images DIR\n"
            "                      [--variants baseline,w8a16,w8a8,w4a16,w4a8] [--max-images N]\n"
            "                      [--run-dir DIR] [--recipe RECIPE.json] [--calib-count N] [--resume]\n"
            "                      [--ort-images N] [--ort-eval on|off] [--sensitivity-images N]\n"
            "                      [--qat-steps N]\n"
            "                      [--threads N] [--quiet]\n"
            "\n"
            "Run the quantization workflow end to end and write a reproducible run bundle: the\n"
            "float32 baseline (cleaned) and its float16 version (float16 weights and compute,\n"
            "float32 inputs/outputs with Casts at the boundary), the PTQ variants as QCDQ ONNX\n"
            "(made exactly as 'yoloq quantize' makes them), and for every artifact a random-input\n"
            "smoke run (finite outputs, declared shapes), a COCO evaluation as 'yoloq eval' does it,\n"
            "and, where node and onnxruntime-node are installed, an ONNX Runtime check (max\n"
            "difference of the outputs on the random input and the first 5 evaluation images)\n"
            "and the same COCO evaluation with ONNX Runtime running the artifact.\n"
            "\n"
            "The bundle (DIR):\n"
            "  summary.md          table: variant x mAP50-95, mAP50, mAP50-95 on ORT, delta vs\n"
            "                      baseline, weight bytes, Q/DQ nodes, latency median/p90, ORT max\n"
            "                      diff; what each variant keeps float; links to the pictures;\n"
            "                      failures\n"
            "  config.json         every option, the recipe, sha256 of the input files\n"
            "  env.json            yoloq version and git commit, compiler, dependency versions, CPU\n"
            "                      model and ISA flags, threads, OS\n"
            "  onnx/               NAME-baseline-fp32.onnx, NAME-baseline-fp16.onnx,\n"
            "                      NAME-w8a16-qcdq-ptq.onnx, ... (NAME: the model file's name)\n"
            "  metrics/VARIANT.json  quantize report, smoke run, evaluation metrics, ORT check,\n"
            "                      ORT evaluation metrics\n"
            "  logs/STEP.log       one log per step; steps/STEP.json: what --resume compares\n"
            "  metrics/sensitivity.json  per-layer sensitivity of the lowest-precision setting (each\n"
            "                      layer alone quantized; as 'yoloq sensitivity --json' writes it)\n"
            "  plots/              accuracy vs size, per-layer SQNR per variant, sensitivity, and\n"
            "                      detections of baseline-fp32 vs the lowest-precision variant\n"
            "\n"
            "Options:\n"
            "      --calib LIST        calibration images, one path a line (as for 'yoloq quantize')\n"
            "  -a, --ann FILE          COCO instances JSON of the evaluation images\n"
            "  -i, --images DIR        folder of the annotation file's images\n"
            "      --variants LIST     comma-separated, from baseline, w8a16, w8a8, w4a16, w4a8,\n"
            "                          w4a16-qat, w4a8-qat (default: the first five); baseline =\n"
            "                          float32 + float16 artifacts; a -qat variant fine-tunes its PTQ\n"
            "                          variant's model (added when not listed) as 'yoloq finetune' does,\n"
            "                          by distillation from MODEL on the calibration images, into\n"
            "                          onnx/NAME-w4a8-qcdq-qat.onnx, with a loss-curve picture\n"
            "      --qat-steps N       optimiser steps of the -qat variants (default 200, batch 2)\n"
            "  -n, --max-images N      evaluate the first N images in id order (default: all)\n"
            "  -o, --run-dir DIR       the bundle folder (default: runs/<UTC timestamp>)\n"
            "  -r, --recipe FILE       quantization recipe for every PTQ variant; each variant still\n"
            "                          sets its own weight and activation bits\n"
            "      --calib-count N     calibration images (default: the recipe's, 128)\n"
            "      --ort-images N      evaluation images for the ONNX Runtime check besides the\n"
            "                          random input (default 5, at most 64)\n"
            "      --ort-eval on|off   also evaluate every artifact that ORT ran on the COCO images\n"
            "                          with ORT running it, as 'yoloq eval --engine ort' (default on)\n"
            "      --sensitivity-images N  rank layers by the cost of quantizing each alone at the\n"
            "                          lowest-precision variant's setting (e.g. W4 in the A8 context),\n"
            "                          measured on the first N calibration images (default 16; 0: off,\n"
            "                          the chart then ranks layers by the quantize report's SQNR)\n"
            "      --resume            skip the steps of an earlier run in DIR whose inputs, options\n"
            "                          and yoloq build are unchanged and whose outputs are intact\n"
            CLI_HELP_THREADS CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "Environment: YOLOQ_ORT_NODE_PATH names the node_modules folder holding\n"
            "onnxruntime-node; YOLOQ_NODE the node executable (default: node on PATH).\n"
            "\n"
            "Exit status: 0 when every variant finished, 1 when any failed (the others still run\n"
            "and the summary names the failure) or an input is bad, 2 on usage errors.\n");
}

static void on_step(void *arg, const char *step, const char *state, const char *detail) {
    pipeline_ui *ui = arg;
    if (ui->bar.enabled && ui->label[0]) {
        cli_progress_finish(&ui->bar);
        ui->label[0] = '\0';
    }
    if (!ui->verbose) return;
    if (!strcmp(state, "run")) fprintf(stderr, "yoloq pipeline: %-24s ...\n", step);
    else if (!strcmp(state, "skip")) fprintf(stderr, "yoloq pipeline: %-24s done earlier (resume)\n", step);
    else if (!strcmp(state, "fail")) fprintf(stderr, "yoloq pipeline: %-24s FAILED: %s\n", step, detail ? detail : "");
}

static void on_progress(void *arg, const char *label, int64_t done, int64_t total) {
    pipeline_ui *ui = arg;
    if (strcmp(ui->label, label) != 0) {
        if (ui->label[0]) cli_progress_finish(&ui->bar);
        snprintf(ui->label, sizeof ui->label, "%s", label);
        cli_progress_start(&ui->bar, ui->label, total, ui->quiet);
    }
    cli_progress_update(&ui->bar, done);
}

void pipeline_ui_init(pipeline_ui *ui, int quiet) {
    memset(ui, 0, sizeof *ui);
    ui->quiet = quiet;
    ui->verbose = !quiet && isatty(2);
}

void pipeline_ui_attach(pipeline_ui *ui, yq_pipeline_opts *o) {
    o->on_step = on_step;
    o->on_progress = on_progress;
    o->arg = ui;
}

int pipeline_report(const yq_pipeline_result *res, yq_status st, pipeline_ui *ui) {
    if (ui->label[0]) cli_progress_finish(&ui->bar);
    if (st != YQ_OK) return cli_fail(st);
    printf("yoloq pipeline: %d artifact(s), %d failed, %d of %d step(s) resumed, ORT checked %d; %.1f s\n", res->nrows,
           res->nfailed, res->nskipped, res->nsteps, res->ort_ran, res->wall_s);
    printf("summary: %s\n", res->summary_path);
    if (res->nfailed) return cli_error("%d of %d artifact(s) failed; see %s", res->nfailed, res->nrows, res->summary_path);
    if (res->nfailed_steps) return cli_error("the sensitivity step failed; see %s", res->summary_path);
    return CLI_OK;
}

/* runs/<UTC timestamp> */
void pipeline_default_run_dir(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, cap, "runs/%s", ts);
}

int cmd_pipeline(int argc, char **argv) {
    enum { OPT_CALIB = 256, OPT_VARIANTS, OPT_COUNT, OPT_RESUME, OPT_ORT, OPT_SENS, OPT_QAT_STEPS, OPT_ORT_EVAL };
    static const struct option longopts[] = {
        {"calib", required_argument, 0, OPT_CALIB},  {"ann", required_argument, 0, 'a'},
        {"images", required_argument, 0, 'i'},       {"variants", required_argument, 0, OPT_VARIANTS},
        {"max-images", required_argument, 0, 'n'},   {"run-dir", required_argument, 0, 'o'},
        {"recipe", required_argument, 0, 'r'},       {"calib-count", required_argument, 0, OPT_COUNT},
        {"resume", no_argument, 0, OPT_RESUME},      {"threads", required_argument, 0, 't'},
        {"ort-images", required_argument, 0, OPT_ORT}, {"sensitivity-images", required_argument, 0, OPT_SENS},
        {"qat-steps", required_argument, 0, OPT_QAT_STEPS}, {"ort-eval", required_argument, 0, OPT_ORT_EVAL},
        {"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    yq_pipeline_opts o;
    yq_pipeline_opts_default(&o);
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:i:n:o:r:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CALIB: o.calib = optarg; break;
        case 'a': o.ann = optarg; break;
        case 'i': o.images = optarg; break;
        case OPT_VARIANTS: o.variants = optarg; break;
        case 'n': if (cli_parse_int("pipeline", "--max-images", optarg, 1, 100000000, &o.max_images)) return CLI_USAGE; break;
        case 'o': o.run_dir = optarg; break;
        case 'r': o.recipe = optarg; break;
        case OPT_COUNT: if (cli_parse_int("pipeline", "--calib-count", optarg, 1, 1000000, &o.calib_count)) return CLI_USAGE; break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_ORT: if (cli_parse_int("pipeline", "--ort-images", optarg, 0, 64, &o.ort_images)) return CLI_USAGE; break;
        case OPT_ORT_EVAL:
            if (!strcmp(optarg, "on")) o.ort_eval = 1;
            else if (!strcmp(optarg, "off")) o.ort_eval = 0;
            else return cli_usage("pipeline", "--ort-eval must be on or off, got '%s'", optarg);
            break;
        case OPT_QAT_STEPS:
            if (cli_parse_int("pipeline", "--qat-steps", optarg, 1, 10000000, &o.qat_steps)) return CLI_USAGE;
            break;
        case OPT_SENS:
            if (cli_parse_int("pipeline", "--sensitivity-images", optarg, 0, 100000, &o.sensitivity_images))
                return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("pipeline", "--threads", optarg, 1, 256, &o.threads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_pipeline_help(stdout); return CLI_OK;
        default: return cli_usage("pipeline", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("pipeline", "expects exactly one MODEL.onnx");
    o.model = argv[optind];
    if (!o.calib) return cli_usage("pipeline", "--calib LIST.txt is required");
    if (!o.ann) return cli_usage("pipeline", "--ann INSTANCES.json is required");
    if (!o.images) return cli_usage("pipeline", "--images DIR is required");
    if (o.variants && yq_pipeline_parse_variants(o.variants, NULL) != YQ_OK)
        return cli_usage("pipeline", "--variants: %s", yq_last_error());
    char dir[256];
    if (!o.run_dir) {
        if (o.resume) return cli_usage("pipeline", "--resume needs the --run-dir of the run to resume");
        pipeline_default_run_dir(dir, sizeof dir);
        o.run_dir = dir;
    }
    const char *slash = strrchr(o.run_dir, '/');
    o.run_id = slash && slash[1] ? slash + 1 : o.run_dir;
    pipeline_ui ui;
    pipeline_ui_init(&ui, quiet);
    pipeline_ui_attach(&ui, &o);
    yq_pipeline_result res;
    yq_status st = yq_pipeline_run(&o, &res);
    return pipeline_report(&res, st, &ui);
}
