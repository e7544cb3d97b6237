/* yoloq quantize MODEL -o OUT.onnx: post-training quantization to QCDQ ONNX. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "quantize_ablate.h"
#include "quantize_mixed.h"
#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "quant/ptq.h"
#include "quant/quantize_file.h"
#include "rt/prepare.h"
#include "vision/image.h"
#include "vision/letterbox.h"

void cmd_quantize_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq quantize MODEL.onnx -o OUT.onnx --calib LIST.txt [--weights int8|int4]\n"
            "                      [--acts float|int8] [--calib-count N] [--recipe RECIPE.json]\n"
            "                      [--format qcdq|int4] [--bias float|int32] [--report REPORT.json]\n"
            "                      [--avg-bits B] [--act-ranges float|quantized] [--reconstruct N]\n"
            "                      [--ablate --ann INSTANCES.json --images DIR [--ablate-images N]\n"
            "                       [--ablate-ids FILE] [--ablate-json FILE]]\n"
            "                      [--threads N] [--quiet]\n"
            "\n"
            "Post-training quantization. Conv/MatMul/Gemm weights are quantized per output channel\n"
            "(8-bit: round to nearest with max scales; 4-bit: GPTQ, asymmetric, act-order, damping\n"
            "0.01, Hessians from the calibration images); with --acts int8 the float inputs of the\n"
            "quantized layers get per-tensor uint8 QuantizeLinear/DequantizeLinear pairs (min/max\n"
            "observer, MSE with 4-bit weights; tensors meeting at a Concat share one scale). The DFL conv and the decode path\n"
            "stay float. Biases stay float unless --bias int32. The written graph is cleaned up\n"
            "(Identity, no-op Cast/Reshape/Transpose, merged Reshape/Transpose chains, constant\n"
            "folding, dead nodes) without ever folding a QuantizeLinear/DequantizeLinear or a weight\n"
            "Clip; Q/DQ/Clip and node counts before and after are reported. The output is\n"
            "deterministic for the same inputs.\n"
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
            "  -f, --format F       qcdq: INT8 + Clip + DequantizeLinear, opset 13 (default) when\n"
            "                       every node means the same at 13, else the model's opset (the\n"
            "                       report and the summary say which node prevented it);\n"
            "                       int4: native INT4 initializers, opset 21\n"
            "      --bias B         float (default) or int32: Conv/Gemm biases as INT32 initializers +\n"
            "                       DequantizeLinear with per-channel scale s_in*s_w (zero point 0), the\n"
            "                       value an integer engine adds to its accumulator. Needs quantized\n"
            "                       inputs (--acts int8, or recipe \"activations\"); a layer whose\n"
            "                       input a recipe keeps float keeps a float bias (shown per layer in\n"
            "                       the report). Recipe key: \"weights\": {\"bias\": \"int32\"}\n"
            "      --report FILE    write the per-layer report as JSON (weight and output SQNR in dB,\n"
            "                       bits, activation scales, model weight bytes)\n"
            "      --hessian-positions N  im2col rows sampled per image and layer for GPTQ (256)\n"
            "      --hessian-budget MB    memory for GPTQ Hessians held at once (2048); layers beyond\n"
            "                       it are calibrated in further passes over the images (same result)\n"
            "      --gptq-stages N  sequential GPTQ: the GPTQ layers, in graph order, form N stages and\n"
            "                       the Hessians of stage s come from the model whose earlier stages\n"
            "                       are already quantized (with --acts int8, activations too), so each\n"
            "                       layer compensates the error before it; one calibration pass per\n"
            "                       stage. 0: every Hessian from the float model in one pass (recipe:\n"
            "                       \"gptq\": {\"sequential\", \"stages\"}; int4 default: 8)\n"
            "      --input-correction on|off  with --gptq-stages: GPTQ targets the float layer on the\n"
            "                       float inputs, min ||Wq*x_q - W*x_f||^2 (costs a float run per image\n"
            "                       and stage; recipe \"gptq\": {\"input_correction\"})\n"
            "      --bias-correction on|off  after GPTQ, subtract each conv's mean output error\n"
            "                       (Wq - W)*E[x] on the calibration inputs it sees (recipe\n"
            "                       \"bias_correction\")\n"
            "      --equalize none|cle|smoothquant  rescale Conv->Conv pairs with nothing in between\n"
            "                       (the float function is unchanged): cross-layer equalization of\n"
            "                       weight ranges, or SmoothQuant's activation-to-weight migration\n"
            "                       (alpha 0.5); yolov10n has 2 such pairs (recipe \"equalize\")\n"
            "      --stage-acts on|off  with --gptq-stages and --acts int8: the calibration passes that\n"
            "                       build the Hessians run the activation quantizers (on, default) or\n"
            "                       only the quantized weights (off: the Hessians of W4A16; recipe\n"
            "                       \"gptq\": {\"stage_acts\"})\n"
            "      --act-ranges float|quantized  with --acts int8: observe the activation ranges on\n"
            "                       the float model (float), or in one more calibration pass through\n"
            "                       the model whose weights are all quantized (quantized), so the A8\n"
            "                       ranges fit what the quantized layers produce (recipe \"act_ranges\")\n"
            "      --act-outputs on|off  with --acts int8: also quantize every quantized conv's output\n"
            "                       (before its activation function; a QuantizeLinear/DequantizeLinear\n"
            "                       pair, range observed like the inputs'). This is the QDQ form in\n"
            "                       which ONNX Runtime fuses DequantizeLinear -> Conv -> QuantizeLinear\n"
            "                       into QLinearConv: with --bias int32 and symmetric weights (zero\n"
            "                       points 0; recipe \"weights\": {\"symmetric\": true}) its int8\n"
            "                       kernels run the model, about 2x faster than the default form\n"
            "                       (docs/STATUS.md). Off (default): pairs on conv inputs only, the\n"
            "                       fewest roundings, what yoloq's integer engine needs (recipe\n"
            "                       \"act_outputs\")\n"
            "      --reconstruct N  after PTQ, block reconstruction: the model is cut into blocks of\n"
            "                       about 4 convolutions (up to the raw detection head) and, block by\n"
            "                       block, each weight's rounding (its code or the neighbour towards its\n"
            "                       float value) is learnt as in AdaRound, in N Adam steps of 2 images,\n"
            "                       to match the float model's block outputs given the inputs the\n"
            "                       quantized model produces, with the activation quantizers active;\n"
            "                       a block keeps the new codes only when its error on the 32 images\n"
            "                       fell. 0: off (default). Recipe \"reconstruct\": {\"iters\", \"images\",\n"
            "                       \"batch\", \"block_convs\", \"lr\"}; the report lists each block\n"
 CLI_HELP_MIXED CLI_HELP_ABLATE CLI_HELP_THREADS
                CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "DEFAULTS for --weights int4 (unless the recipe sets them): GPTQ, asymmetric per-channel\n"
            "max scales, act-order, damping 0.01, 256 Hessian positions per image, sequential in 8\n"
            "stages (--gptq-stages 0: one pass on the float model, about 4x less CPU) whose passes run\n"
            "the quantized weights only (--stage-acts off); with --acts int8, activation ranges by\n"
            "the MSE observer (recipe \"activations\": {\"observer\"}) on the float model; no input or\n"
            "bias correction, no equalization (measured no better on yolov10n; docs/STATUS.md).\n"
            "\n"
            "Warnings (stderr): layers whose Hessian was singular (inputs that are zero on every\n"
            "calibration image get zero weights; damping raised). NaN/Inf in calibration activations\n"
            "and layers that never run on the calibration images are errors.\n");
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
           "%d activation quantizer(s); %d INT32 bias(es); calibration %.1f s\n",
           r->output_sqnr_db, r->report_images, (double)r->weight_bytes / 1e6, (double)r->float_weight_bytes / 1e6,
           r->act_quantizers + r->act_output_quantizers, r->int32_biases, r->calib_ms / 1000.0);
    if (r->act_output_quantizers)
        printf("%d of them on conv outputs (--act-outputs: ONNX Runtime's QLinearConv form)\n",
               r->act_output_quantizers);
    if (r->opset.opset != r->opset.model_opset)
        printf("opset %lld -> %lld (%s)\n", (long long)r->opset.model_opset, (long long)r->opset.opset, r->opset.reason);
    else
        printf("opset %lld kept (%s)\n", (long long)r->opset.opset, r->opset.reason);
    const yq_qcdq_counts *b = &r->counts_before_cleanup, *a = &r->counts_after;
    printf("clean-up: Q/DQ/Clip %d/%d/%d -> %d/%d/%d, nodes %d -> %d (%d folded, %d no-op, %d merged, %d dead)\n",
           b->quantize, b->dequantize, b->clip, a->quantize, a->dequantize, a->clip, b->nodes, a->nodes,
           r->cleanup.folded, r->cleanup.identity + r->cleanup.cast + r->cleanup.transpose + r->cleanup.reshape,
           r->cleanup.transpose_fused + r->cleanup.reshape_fused + r->cleanup.shape_pairs, r->cleanup.dead);
    if (r->recon_blocks > 0)
        printf("reconstruction: %d blocks on %d images, %d kept their learnt rounding; mean block error %.5f -> "
               "%.5f; %.1f s (the output SQNR above is before it)\n",
               r->recon_blocks, r->recon_images, r->recon_kept, r->recon_err_before, r->recon_err_after,
               r->recon_ms / 1e3);
}

int cmd_quantize(int argc, char **argv) {
    enum { OPT_CALIB = 256, OPT_COUNT, OPT_REPORT, OPT_HPOS, OPT_HBUDGET, OPT_BIAS, OPT_STAGES, OPT_BIASCORR,
           OPT_INCORR, OPT_EQ, OPT_AVGBITS, OPT_METRIC, OPT_SENS, OPT_ACTRANGES, OPT_RECON,
           OPT_ABLATE, OPT_ANN, OPT_IMAGES, OPT_ABL_N, OPT_ABL_IDS, OPT_ABL_JSON, OPT_STAGEACTS, OPT_MIXCTX, OPT_ACTOUT };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"calib", required_argument, 0, OPT_CALIB},
        {"calib-count", required_argument, 0, OPT_COUNT}, {"weights", required_argument, 0, 'w'},
        {"acts", required_argument, 0, 'a'},        {"recipe", required_argument, 0, 'r'},
        {"format", required_argument, 0, 'f'},      {"report", required_argument, 0, OPT_REPORT},
        {"hessian-positions", required_argument, 0, OPT_HPOS},
        {"hessian-budget", required_argument, 0, OPT_HBUDGET}, {"bias", required_argument, 0, OPT_BIAS},
        {"gptq-stages", required_argument, 0, OPT_STAGES}, {"bias-correction", required_argument, 0, OPT_BIASCORR},
        {"input-correction", required_argument, 0, OPT_INCORR},
        {"equalize", required_argument, 0, OPT_EQ},        {"act-ranges", required_argument, 0, OPT_ACTRANGES},
        {"act-outputs", required_argument, 0, OPT_ACTOUT},
        {"reconstruct", required_argument, 0, OPT_RECON},
        {"avg-bits", required_argument, 0, OPT_AVGBITS}, {"metric-images", required_argument, 0, OPT_METRIC},
        {"sensitivity", required_argument, 0, OPT_SENS},
        {"stage-acts", required_argument, 0, OPT_STAGEACTS}, {"mixed-context", required_argument, 0, OPT_MIXCTX},
        {"ablate", no_argument, 0, OPT_ABLATE},     {"ann", required_argument, 0, OPT_ANN},
        {"images", required_argument, 0, OPT_IMAGES}, {"ablate-images", required_argument, 0, OPT_ABL_N},
        {"ablate-ids", required_argument, 0, OPT_ABL_IDS}, {"ablate-json", required_argument, 0, OPT_ABL_JSON},
        {"threads", required_argument, 0, 't'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *out = NULL, *calib = NULL, *recipe_path = NULL, *report_path = NULL, *sens_path = NULL;
    int wbits = 0, abits = -1, count = 0, quiet = 0, bias32 = -1, c, stages = -1, biascorr = -1, incorr = -1, eq = -1;
    int act_ranges = -1, ablate = 0, stage_acts = -1, mixed_ctx = -1, recon = -1, act_out = -1;
    cli_ablate_opts ao = {0};
    int metric_images = 0;
    double avg_bits = 0;
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
        case OPT_BIAS:
            if (!strcmp(optarg, "float")) bias32 = 0;
            else if (!strcmp(optarg, "int32")) bias32 = 1;
            else return cli_usage("quantize", "--bias must be float or int32, got '%s'", optarg);
            break;
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
        case OPT_STAGES:
            if (cli_parse_int("quantize", "--gptq-stages", optarg, 0, 256, &stages)) return CLI_USAGE;
            break;
        case OPT_BIASCORR:
        case OPT_INCORR:
        case OPT_STAGEACTS:
        case OPT_ACTOUT: {
            int *dst = c == OPT_BIASCORR ? &biascorr : c == OPT_INCORR ? &incorr : c == OPT_STAGEACTS ? &stage_acts
                                                                                                    : &act_out;
            if (!strcmp(optarg, "on")) *dst = 1;
            else if (!strcmp(optarg, "off")) *dst = 0;
            else return cli_usage("quantize", "--%s must be on or off, got '%s'",
                                  c == OPT_BIASCORR ? "bias-correction" : c == OPT_INCORR ? "input-correction"
                                  : c == OPT_STAGEACTS ? "stage-acts" : "act-outputs", optarg);
            break;
        }
        case OPT_EQ:
            if (!strcmp(optarg, "none")) eq = 0;
            else if (!strcmp(optarg, "cle")) eq = 1;
            else if (!strcmp(optarg, "smoothquant")) eq = 2;
            else return cli_usage("quantize", "--equalize must be none, cle or smoothquant, got '%s'", optarg);
            break;
        case OPT_MIXCTX:
            if (!strcmp(optarg, "alone")) mixed_ctx = 0;
            else if (!strcmp(optarg, "quantized")) mixed_ctx = 1;
            else return cli_usage("quantize", "--mixed-context must be alone or quantized, got '%s'", optarg);
            break;
        case OPT_RECON:
            if (cli_parse_int("quantize", "--reconstruct", optarg, 0, 1000000, &recon)) return CLI_USAGE;
            break;
        case OPT_ACTRANGES:
            if (!strcmp(optarg, "float")) act_ranges = 0;
            else if (!strcmp(optarg, "quantized")) act_ranges = 1;
            else return cli_usage("quantize", "--act-ranges must be float or quantized, got '%s'", optarg);
            break;
        case OPT_AVGBITS: {
            float f;
            if (cli_parse_float("quantize", "--avg-bits", optarg, 4.0, 8.0, &f)) return CLI_USAGE;
            avg_bits = strtod(optarg, NULL);
            break;
        }
        case OPT_SENS: sens_path = optarg; break;
        case OPT_ABLATE: ablate = 1; break;
        case OPT_ANN: ao.ann = optarg; break;
        case OPT_IMAGES: ao.images = optarg; break;
        case OPT_ABL_IDS: ao.ids = optarg; break;
        case OPT_ABL_JSON: ao.json = optarg; break;
        case OPT_ABL_N:
            if (cli_parse_int("quantize", "--ablate-images", optarg, 1, 100000000, &ao.max_images)) return CLI_USAGE;
            break;
        case OPT_METRIC:
            if (cli_parse_int("quantize", "--metric-images", optarg, 1, 100000, &metric_images)) return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("quantize", "--threads", optarg, 1, 256, &po.nthreads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_quantize_help(stdout); return CLI_OK;
        default: return cli_usage("quantize", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("quantize", "expects exactly one MODEL.onnx");
    if (!out) return cli_usage("quantize", "-o OUT.onnx is required");
    if (!calib) return cli_usage("quantize", "--calib LIST.txt is required");
    const char *model = argv[optind];
    if (ablate && (!ao.ann || !ao.images))
        return cli_usage("quantize", "--ablate needs --ann INSTANCES.json and --images DIR (the evaluation set)");
    if (!ablate && (ao.ann || ao.images || ao.ids || ao.json || ao.max_images))
        return cli_usage("quantize", "--ann, --images, --ablate-images, --ablate-ids and --ablate-json go with --ablate");
    if (ao.ids && ao.max_images)
        return cli_usage("quantize", "--ablate-images and --ablate-ids are exclusive");
    if (ablate && (report_path || sens_path))
        return cli_usage("quantize", "--ablate writes its own table: --report and --sensitivity are not supported "
                         "with it");

    yq_recipe *recipe = NULL;
    yq_status st = recipe_path ? yq_recipe_load(recipe_path, &recipe) : yq_recipe_default(&recipe);
    if (st != YQ_OK) return cli_fail(st);
    yq_recipe_apply_bits(recipe, wbits, abits); /* int4: GPTQ, asymmetric, sequential (quantize_file.h) */
    if (bias32 >= 0) recipe->weights.int32_bias = bias32;
    /* an INT32 bias is scaled by the input's scale: with float inputs
     * everywhere there is none, and silently keeping float biases would hide
     * a mistake */
    if (recipe->weights.int32_bias && !recipe->acts.bits) {
        int from_flag = bias32 == 1;
        yq_recipe_free(recipe);
        if (from_flag)
            return cli_usage("quantize", "--bias int32 needs quantized activations (--acts int8): the bias scale "
                             "is s_in*s_w");
        return cli_error("%s: 'weights.bias' \"int32\" needs quantized activations (--acts int8 or "
                         "\"activations\": {\"bits\": 8}): the bias scale is s_in*s_w", recipe_path);
    }
    if (act_out >= 0) recipe->act_outputs = act_out;
    /* like --bias int32: conv outputs are quantized only where the inputs are */
    if (recipe->act_outputs && !recipe->acts.bits) {
        int from_flag = act_out == 1;
        yq_recipe_free(recipe);
        if (from_flag)
            return cli_usage("quantize", "--act-outputs on needs quantized activations (--acts int8)");
        return cli_error("%s: 'act_outputs' needs quantized activations (--acts int8 or \"activations\": "
                         "{\"bits\": 8})", recipe_path);
    }
    if (stages >= 0) {
        recipe->gptq_sequential = stages > 0;
        if (stages > 0) recipe->gptq_stages = stages;
    }
    if (biascorr >= 0) recipe->bias_correction = biascorr;
    if (incorr >= 0) recipe->gptq_input_correction = incorr;
    if (stage_acts >= 0) recipe->gptq_stage_acts = stage_acts;
    if (mixed_ctx >= 0) recipe->mixed_quantized_context = mixed_ctx;
    if (sens_path && recipe->mixed_quantized_context) {
        yq_recipe_free(recipe);
        return cli_usage("quantize", "--sensitivity holds an analysis of each layer alone: it cannot serve the "
                         "quantized context (--mixed-context quantized)");
    }
    if (eq >= 0) recipe->equalize = eq;
    if (act_ranges >= 0) recipe->act_ranges_quantized = act_ranges;
    if (recon >= 0) recipe->recon_iters = recon;
    if (avg_bits > 0) {
        recipe->mixed_avg_bits = avg_bits;
        recipe->mixed_weight_bytes = 0;
    }
    if (sens_path && !(recipe->mixed_avg_bits > 0 || recipe->mixed_weight_bytes > 0)) {
        yq_recipe_free(recipe);
        return cli_usage("quantize", "--sensitivity needs a budget (--avg-bits or the recipe's \"mixed\")");
    }
    if (!count) count = recipe->calib_count;

    yq_calib_list list;
    int rc = (st = yq_calib_list_load(calib, &list)) == YQ_OK ? CLI_OK : cli_fail(st);
    if (rc != CLI_OK) {
        yq_recipe_free(recipe);
        return rc;
    }
    if (count > list.n) count = list.n;
    /* fail fast on a missing image rather than after minutes of calibration */
    for (int i = 0; i < count && rc == CLI_OK; i++) {
        FILE *fp = fopen(list.paths[i], "rb");
        if (!fp)
            rc = cli_error("%s: cannot open calibration image '%s' (listed in %s)", list.paths[i], list.paths[i],
                           calib);
        else
            fclose(fp);
    }
    yq_graph *g = NULL;
    if (rc == CLI_OK && (st = yq_onnx_load(model, &g)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK) {
        yq_prepare_opts popt = yq_prepare_defaults();
        if ((st = yq_prepare_graph(g, NULL, &popt)) != YQ_OK) rc = cli_fail(st);
    }
    if (rc == CLI_OK && (st = yq_calib_list_fit(&list, g, model)) != YQ_OK) rc = cli_fail(st);
    progress_state ps = {.quiet = quiet};
    po.progress = on_progress;
    po.progress_arg = &ps;
    yq_ptq_report rep = {0};
    cJSON *mixed = NULL;
    if (rc == CLI_OK && ablate) {
        if (metric_images > 0) recipe->mixed_metric_images = metric_images;
        rc = cli_quantize_ablate(g, model, out, recipe, count, yq_calib_list_input, &list, &po, &ao, quiet);
        yq_graph_free(g);
        yq_calib_list_free(&list);
        yq_recipe_free(recipe);
        return rc;
    }
    if (rc == CLI_OK && (recipe->mixed_avg_bits > 0 || recipe->mixed_weight_bytes > 0))
        rc = cli_quantize_mixed(g, recipe, count, yq_calib_list_input, &list, &po, metric_images, sens_path, quiet, &mixed);
    if (rc == CLI_OK) {
        st = yq_quantize_graph(g, recipe, count, yq_calib_list_input, &list, &po, &rep);
        if (ps.stage) cli_progress_finish(&ps.bar);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    /* singular Hessians were handled (dead inputs zeroed, damping raised): say so */
    for (int i = 0; rc == CLI_OK && !quiet && i < rep.nlayers; i++) {
        const yq_ptq_layer *l = &rep.layers[i];
        if (l->dead_columns > 0)
            fprintf(stderr, "yoloq quantize: warning: %s: %lld input(s) are zero on every calibration image; their "
                    "weights were set to 0\n", l->name, (long long)l->dead_columns);
        if (l->damp_retries > 0)
            fprintf(stderr, "yoloq quantize: warning: %s: singular Hessian, damping raised %d time(s)\n", l->name,
                    l->damp_retries);
    }
    if (rc == CLI_OK && (st = yq_onnx_save(g, out)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && report_path) {
        cJSON *doc = yq_ptq_report_json(&rep, model, out, count);
        if (mixed) cJSON_AddItemToObject(doc, "mixed", mixed);
        mixed = NULL;
        rc = cli_write_json(doc, report_path);
        cJSON_Delete(doc);
    }
    if (rc == CLI_OK && !quiet) print_table(&rep);
    cJSON_Delete(mixed);
    yq_ptq_report_free(&rep);
    yq_graph_free(g);
    yq_calib_list_free(&list);
    yq_recipe_free(recipe);
    return rc;
}
