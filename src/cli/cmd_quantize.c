/* yoloq quantize MODEL -o OUT.onnx: post-training quantization to QCDQ ONNX.
 * Options and printing; the work is yq_quantize_model_file (quant/quantize_file.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "quant/ptq.h"
#include "quant/quantize_file.h"

void cmd_quantize_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq quantize MODEL.onnx -o OUT.onnx --calib LIST.txt [--weights int8|int4]\n"
            "                      [--acts float|int8] [--calib-count N] [--recipe RECIPE.json]\n"
            "                      [--format qcdq|int4] [--report REPORT.json] [--threads N] [--quiet]\n"
            "\n"
            "Post-training quantization. Conv/MatMul/Gemm weights are quantized per output channel\n"
            "(8-bit: round to nearest with max scales; 4-bit: GPTQ, asymmetric, act-order, damping\n"
            "0.01, Hessians from the calibration images); with --acts int8 the float inputs of the\n"
            "quantized layers get per-tensor uint8 QuantizeLinear/DequantizeLinear pairs (min/max\n"
            "observer; tensors meeting at a Concat share one scale). The DFL conv and the decode path\n"
            "stay float. Biases stay float. The output is deterministic for the same inputs.\n"
            "\n"
            "Options:\n"
            "  -o, --output OUT     the quantized model (required)\n"
            "      --calib LIST     calibration images, one path a line, relative to LIST's folder\n"
            "                       (required); letterboxed exactly like evaluation\n"
            "      --calib-count N  use the first N images of LIST (default: the recipe's count, 128)\n"
            "  -w, --weights W      int8 or int4 (default: the recipe's, else int8); sets the bit width,\n"
            "                       and unless the recipe says otherwise the method (int4: GPTQ,\n"
            "                       asymmetric; int8: round to nearest, symmetric)\n"
            "  -a, --acts A         float (W8A16/W4A16) or int8 (default: the recipe's, else float)\n"
            "  -r, --recipe FILE    JSON recipe: per-layer overrides, observers, GPTQ options\n"
            "  -f, --format F       qcdq: INT8 + Clip + DequantizeLinear, opset 13 (default);\n"
            "                       int4: native INT4 initializers, opset 21\n"
            "      --report FILE    write the per-layer report as JSON (weight and output SQNR in dB,\n"
            "                       bits, activation scales, model weight bytes)\n"
            "      --hessian-positions N  im2col rows sampled per image and layer for GPTQ (256)\n"
            "      --hessian-budget MB    memory for GPTQ Hessians held at once (2048); layers beyond\n"
            "                       it are calibrated in further passes over the images (same result)\n" CLI_HELP_THREADS
                CLI_HELP_QUIET CLI_HELP_HELP);
}

typedef struct progress_state {
    cli_progress bar;
    const char *stage;
    int quiet;
} progress_state;

static void on_progress(void *arg, const char *stage, int64_t done, int64_t total) {
    progress_state *p = arg;
    if (p->stage != stage && (!p->stage || strcmp(p->stage, stage))) {
        if (p->stage) cli_progress_finish(&p->bar);
        cli_progress_start(&p->bar, stage, total, p->quiet);
        p->stage = stage;
    }
    cli_progress_update(&p->bar, done);
}

static void print_table(const yq_ptq_report *r) {
    printf("%-40s %-5s %4s %2s %5s %9s %9s %9s\n", "layer", "op", "bits", "A", "meth", "params", "w SQNR", "out SQNR");
    for (int i = 0; i < r->nlayers; i++) {
        const yq_ptq_layer *l = &r->layers[i];
        const char *name = l->name;
        size_t n = strlen(name);
        if (n > 40) name += n - 40;
        char a[8];
        snprintf(a, sizeof a, "%d", l->act_bits ? l->act_bits : 32);
        printf("%-40s %-5s %4d %2s %5s %9lld %9.2f %9.2f\n", name, l->op_type, l->bits, l->act_bits ? a : "f",
               l->gptq ? "gptq" : "rtn", (long long)l->params, l->weight_sqnr_db, l->output_sqnr_db);
    }
    printf("model output SQNR %.2f dB on %d calibration image(s); weights %.2f MB (float %.2f MB); "
           "%d activation quantizer(s); Q/DQ/Clip %d/%d/%d; calibration %.1f s\n",
           r->output_sqnr_db, r->report_images, (double)r->weight_bytes / 1e6, (double)r->float_weight_bytes / 1e6,
           r->act_quantizers, r->counts_after.quantize, r->counts_after.dequantize, r->counts_after.clip,
           r->calib_ms / 1000.0);
}

int cmd_quantize(int argc, char **argv) {
    enum { OPT_CALIB = 256, OPT_COUNT, OPT_REPORT, OPT_HPOS, OPT_HBUDGET };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"calib", required_argument, 0, OPT_CALIB},
        {"calib-count", required_argument, 0, OPT_COUNT}, {"weights", required_argument, 0, 'w'},
        {"acts", required_argument, 0, 'a'},        {"recipe", required_argument, 0, 'r'},
        {"format", required_argument, 0, 'f'},      {"report", required_argument, 0, OPT_REPORT},
        {"hessian-positions", required_argument, 0, OPT_HPOS},
        {"hessian-budget", required_argument, 0, OPT_HBUDGET},
        {"threads", required_argument, 0, 't'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *out = NULL, *calib = NULL, *recipe_path = NULL, *report_path = NULL;
    int wbits = 0, abits = -1, count = 0, quiet = 0, c;
    yq_ptq_opts po;
    yq_ptq_opts_default(&po);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:w:a:r:f:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_CALIB: calib = optarg; break;
        case OPT_COUNT: if (cli_parse_int("quantize", "--calib-count", optarg, 1, 1000000, &count)) return CLI_USAGE; break;
        case 'w':
            if (!strcmp(optarg, "int8")) wbits = 8;
            else if (!strcmp(optarg, "int4")) wbits = 4;
            else return cli_usage("quantize", "--weights must be int8 or int4, got '%s'", optarg);
            break;
        case 'a':
            if (!strcmp(optarg, "float")) abits = 0;
            else if (!strcmp(optarg, "int8")) abits = 8;
            else return cli_usage("quantize", "--acts must be float or int8, got '%s'", optarg);
            break;
        case 'r': recipe_path = optarg; break;
        case 'f':
            if (!strcmp(optarg, "qcdq")) po.format = YQ_QCDQ_CLIP;
            else if (!strcmp(optarg, "int4")) po.format = YQ_QCDQ_NATIVE;
            else return cli_usage("quantize", "--format must be qcdq or int4, got '%s'", optarg);
            break;
        case OPT_REPORT: report_path = optarg; break;
        case OPT_HPOS:
            if (cli_parse_int("quantize", "--hessian-positions", optarg, 1, 1 << 20, &po.hessian_positions))
                return CLI_USAGE;
            break;
        case OPT_HBUDGET: {
            int mb;
            if (cli_parse_int("quantize", "--hessian-budget", optarg, 1, 1 << 20, &mb)) return CLI_USAGE;
            po.hessian_budget = (size_t)mb << 20;
            break;
        }
        case 't': if (cli_parse_int("quantize", "--threads", optarg, 1, 256, &po.nthreads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_quantize_help(stdout); return CLI_OK;
        default: return cli_usage("quantize", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("quantize", "expects exactly one MODEL.onnx");
    if (!out) return cli_usage("quantize", "-o OUT.onnx is required");
    if (!calib) return cli_usage("quantize", "--calib LIST.txt is required");

    yq_quantize_job job = {.model = argv[optind], .out = out, .calib = calib, .recipe_path = recipe_path,
                           .wbits = wbits, .abits = abits, .calib_count = count, .ptq = po};
    progress_state ps = {.quiet = quiet};
    job.ptq.progress = on_progress;
    job.ptq.progress_arg = &ps;
    yq_ptq_report rep = {0};
    int rc = CLI_OK;
    yq_status st = yq_quantize_model_file(&job, &rep, &count);
    if (ps.stage) cli_progress_finish(&ps.bar);
    if (st != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && report_path) {
        cJSON *doc = yq_ptq_report_json(&rep, job.model, out, count);
        rc = doc ? cli_write_json(doc, report_path) : cli_error("out of memory");
        cJSON_Delete(doc);
    }
    if (rc == CLI_OK && !quiet) print_table(&rep);
    yq_ptq_report_free(&rep);
    return rc;
}
