/* yoloq sensitivity MODEL --calib LIST: per-layer quantization sensitivity. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "calib_list.h"
#include "cli.h"
#include "onnx/onnx.h"
#include "quant/sensitivity.h"
#include "quant/sensitivity_json.h"
#include "rt/prepare.h"
#include "vision/image.h"

void cmd_sensitivity_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq sensitivity MODEL.onnx --calib LIST.txt [--calib-count N]\n"
            "                         [--images-for-metric N] [--bits 4|8] [--acts float|int8]\n"
            "                         [--recipe RECIPE.json] [--only PATTERN] [--json OUT.json]\n"
            "                         [--png OUT.png] [--threads N] [--quiet]\n"
            "\n"
            "Rank the layers by how much quantizing each one alone hurts the detector. Every layer\n"
            "`yoloq quantize` would quantize (Conv/MatMul/Gemm weights except the DFL conv and the\n"
            "decode path, or as the recipe says) is quantized at --bits with the method the full\n"
            "recipe uses (4 bit: GPTQ, asymmetric, per channel; 8 bit: round to nearest) in one\n"
            "calibration run, so each layer's Hessian is computed once. Then, for each layer, the\n"
            "model runs with only that layer's weights quantized and the rest float, and its head\n"
            "outputs (the per-level box/class maps merged before post-processing; the model\n"
            "outputs if there are none) are compared with the float model's on the first\n"
            "--images-for-metric calibration images:\n"
            "  SQNR   10*log10(sum f^2 / sum (q - f)^2) over all head values, in dB;\n"
            "  proxy  cls + box per image, averaged: cls = confidence-weighted squared error of\n"
            "         the class sigmoids, box = confidence-weighted KL divergence of the box-side\n"
            "         distributions (DFL bins); weights max(max class score of either model) per\n"
            "         anchor. Models without a DFL head: relative squared error.\n"
            "With --acts int8 every run has the recipe's activation quantizers in place, and the\n"
            "proxy of that context without quantized weights is the baseline the gain is taken\n"
            "from. The table on stdout is sorted by gain, most sensitive first; 'saved' is the\n"
            "bytes the layer's weights save at --bits (against 8 bit for 4, float for 8). The\n"
            "results do not depend on --threads.\n"
            "\n"
            "Options:\n"
            "      --calib LIST     calibration images, one path a line, relative to LIST's folder\n"
            "                       (required); letterboxed exactly like evaluation\n"
            "      --calib-count N  images for the calibration run (default: the recipe's, 128)\n"
            "      --images-for-metric N  images the metrics are measured on: the first N of the\n"
            "                       calibration images (default 16)\n"
            "  -b, --bits B         weight bits of the layer under test, 4 or 8 (default 4)\n"
            "  -a, --acts A         float or int8 (default: the recipe's, else float)\n"
            "  -r, --recipe FILE    JSON recipe as for `yoloq quantize` (method, GPTQ options,\n"
            "                       placement); its per-layer bit widths are replaced by --bits\n"
            "      --only PATTERN   measure only the layers PATTERN matches (node name or glob,\n"
            "                       or op_type:Conv); the calibration run still covers all\n"
            "  -j, --json FILE      write the ranking as JSON (layers most sensitive first)\n"
            "  -p, --png FILE       write a bar chart of the proxy per layer, ranked, as PNG\n"
            "      --hessian-positions N  im2col rows sampled per image and layer for GPTQ (256)\n"
            CLI_HELP_THREADS CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "Errors (unreadable model, list or image, bad recipe, a pattern matching nothing)\n"
            "print one line and exit with status 1 before any output file is written.\n");
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

static int write_png(const cJSON *doc, const char *path) {
    yq_image img = {0};
    yq_status st = yq_sens_chart(doc, 0, &img);
    if (st == YQ_OK) st = yq_image_save_png(path, &img);
    yq_image_free(&img);
    return st == YQ_OK ? CLI_OK : cli_fail(st);
}

int cmd_sensitivity(int argc, char **argv) {
    enum { OPT_CALIB = 256, OPT_COUNT, OPT_METRIC, OPT_ONLY, OPT_HPOS };
    static const struct option longopts[] = {
        {"calib", required_argument, 0, OPT_CALIB},    {"calib-count", required_argument, 0, OPT_COUNT},
        {"images-for-metric", required_argument, 0, OPT_METRIC},
        {"bits", required_argument, 0, 'b'},           {"acts", required_argument, 0, 'a'},
        {"recipe", required_argument, 0, 'r'},         {"only", required_argument, 0, OPT_ONLY},
        {"json", required_argument, 0, 'j'},           {"png", required_argument, 0, 'p'},
        {"hessian-positions", required_argument, 0, OPT_HPOS},
        {"threads", required_argument, 0, 't'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    const char *calib = NULL, *recipe_path = NULL, *json_out = NULL, *png_out = NULL;
    int bits = 4, abits = -1, count = 0, quiet = 0, threads = 0, c;
    yq_sens_opts so;
    yq_sens_opts_default(&so);
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:a:r:j:p:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CALIB: calib = optarg; break;
        case OPT_COUNT:
            if (cli_parse_int("sensitivity", "--calib-count", optarg, 1, 1000000, &count)) return CLI_USAGE;
            break;
        case OPT_METRIC:
            if (cli_parse_int("sensitivity", "--images-for-metric", optarg, 1, 100000, &so.metric_images))
                return CLI_USAGE;
            break;
        case 'b':
            if (!strcmp(optarg, "4")) bits = 4;
            else if (!strcmp(optarg, "8")) bits = 8;
            else return cli_usage("sensitivity", "--bits must be 4 or 8, got '%s'", optarg);
            break;
        case 'a':
            if (!strcmp(optarg, "float")) abits = 0;
            else if (!strcmp(optarg, "int8")) abits = 8;
            else return cli_usage("sensitivity", "--acts must be float or int8, got '%s'", optarg);
            break;
        case 'r': recipe_path = optarg; break;
        case OPT_ONLY: so.only = optarg; break;
        case 'j': json_out = optarg; break;
        case 'p': png_out = optarg; break;
        case OPT_HPOS:
            if (cli_parse_int("sensitivity", "--hessian-positions", optarg, 1, 1 << 20, &so.ptq.hessian_positions))
                return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("sensitivity", "--threads", optarg, 1, 256, &threads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_sensitivity_help(stdout); return CLI_OK;
        default: return cli_usage("sensitivity", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("sensitivity", "expects exactly one MODEL.onnx");
    if (!calib) return cli_usage("sensitivity", "--calib LIST.txt is required");
    const char *model = argv[optind];
    so.nthreads = so.ptq.nthreads = threads;

    yq_recipe *recipe = NULL;
    yq_status st = recipe_path ? yq_recipe_load(recipe_path, &recipe) : yq_recipe_default(&recipe);
    if (st != YQ_OK) return cli_fail(st);
    /* as `yoloq quantize --weights int4|int8` sets them, GPTQ in one pass */
    yq_recipe_apply_bits_one_layer(recipe, bits, abits);
    if (!count) count = recipe->calib_count;
    so.bits = bits;

    int rc = CLI_OK;
    yq_graph *g = NULL;
    yq_calib_list list = {0};
    if ((st = yq_onnx_load(model, &g)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK) {
        yq_prepare_opts popt = yq_prepare_defaults();
        if ((st = yq_prepare_graph(g, NULL, &popt)) != YQ_OK) rc = cli_fail(st);
    }
    if (rc == CLI_OK) rc = cli_calib_list_open(calib, g, model, &count, &list);
    progress_state ps = {.quiet = quiet};
    so.ptq.progress = on_progress;
    so.ptq.progress_arg = &ps;
    yq_sens_result res = {0};
    int *order = NULL, n = 0;
    if (rc == CLI_OK) {
        st = yq_sensitivity(g, recipe, count, yq_calib_list_input, &list, &so, on_progress, &ps, &res);
        if (ps.stage) cli_progress_finish(&ps.bar);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    if (rc == CLI_OK) {
        order = malloc(((size_t)res.nlayers + 1) * sizeof *order);
        if (!order) rc = cli_error("out of memory");
        else n = yq_sens_rank(&res, order);
    }
    cJSON *doc = NULL;
    if (rc == CLI_OK && (json_out || png_out) && !(doc = yq_sens_result_json(&res, order, n, model, calib)))
        rc = cli_error("out of memory");
    if (rc == CLI_OK && json_out) rc = cli_write_json(doc, json_out);
    if (rc == CLI_OK && png_out) rc = write_png(doc, png_out);
    cJSON_Delete(doc);
    if (rc == CLI_OK) {
        printf("%4s %-48s %-6s %9s %9s %11s %11s %11s %9s\n", "rank", "layer", "op", "params", "SQNR dB", "proxy", "cls",
               "box", "saved");
        for (int k = 0; k < n; k++) {
            const yq_sens_layer *l = &res.layers[order[k]];
            const char *name = l->name;
            size_t len = strlen(name);
            if (len > 48) name += len - 48;
            printf("%4d %-48s %-6s %9lld %9.2f %11.4e %11.4e %11.4e %9lld\n", k + 1, name, l->op_type,
                   (long long)l->params, l->sqnr_db, l->proxy, l->cls, l->box, (long long)yq_sens_bytes_saved(&res, l));
        }
        printf("W%d%s, one layer at a time: %d layer(s) on %d image(s) (calibration: %d image(s)); baseline SQNR "
               "%.2f dB, proxy %.4e; calibration %.1f s, measurement %.1f s\n",
               res.bits, res.act_bits ? "A8 context" : ", float activations", n, res.metric_images, res.calib_images,
               res.base_sqnr_db, res.base_proxy, res.calib_ms / 1000.0, res.measure_ms / 1000.0);
    }
    free(order);
    yq_sens_result_free(&res);
    yq_calib_list_free(&list);
    yq_graph_free(g);
    yq_recipe_free(recipe);
    return rc;
}
