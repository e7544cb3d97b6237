/* yoloq quantize MODEL -o OUT.onnx: post-training quantization to QCDQ ONNX. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "quantize_mixed.h"
#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "quant/ptq.h"
#include "rt/prepare.h"
#include "vision/image.h"
#include "vision/letterbox.h"

void cmd_quantize_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq quantize MODEL.onnx -o OUT.onnx --calib LIST.txt [--weights int8|int4]\n"
            "                      [--acts float|int8] [--calib-count N] [--recipe RECIPE.json]\n"
            "                      [--format qcdq|int4] [--report REPORT.json] [--avg-bits B]\n"
            "                      [--threads N] [--quiet]\n"
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
            "                       it are calibrated in further passes over the images (same result)\n"
            CLI_HELP_MIXED CLI_HELP_THREADS
                CLI_HELP_QUIET CLI_HELP_HELP);
}

typedef struct calib_list {
    char **paths;
    int n;
    int w, h;
} calib_list;

static void calib_list_free(calib_list *l) {
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
}

/* Read LIST: one path a line (blank lines and '#' comments skipped), relative
 * paths resolved against the list's folder. */
static int read_calib_list(const char *path, calib_list *out) {
    memset(out, 0, sizeof *out);
    unsigned char *data = NULL;
    size_t len = 0;
    yq_status st = yq_read_file(path, &data, &len);
    if (st != YQ_OK) return cli_fail(st);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *text = (const char *)data;
    int cap = 0, rc = CLI_OK;
    size_t i = 0;
    while (i < len && rc == CLI_OK) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t a = i, b = e;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        i = e + 1;
        if (a == b || text[a] == '#') continue;
        if (memchr(text + a, '\0', b - a)) {
            rc = cli_error("%s: not a text file", path);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **np = realloc(out->paths, (size_t)cap * sizeof *np);
            if (!np) {
                rc = cli_error("out of memory");
                break;
            }
            out->paths = np;
        }
        int abs = text[a] == '/';
        size_t n = (abs ? 0 : dirlen) + (b - a);
        char *p = malloc(n + 1);
        if (!p) {
            rc = cli_error("out of memory");
            break;
        }
        if (!abs) memcpy(p, path, dirlen);
        memcpy(p + (abs ? 0 : dirlen), text + a, b - a);
        p[n] = '\0';
        out->paths[out->n++] = p;
    }
    free(data);
    if (rc == CLI_OK && out->n == 0) rc = cli_error("%s: the calibration list names no images", path);
    if (rc != CLI_OK) calib_list_free(out);
    return rc;
}

static yq_status calib_input(void *arg, int index, float *nchw) {
    calib_list *l = arg;
    yq_image img = {0};
    YQ_TRY(yq_image_load(l->paths[index], &img));
    yq_letterbox lb;
    yq_status st = yq_letterbox_nchw(&img, l->w, l->h, nchw, &lb);
    yq_image_free(&img);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s", l->paths[index]);
    return YQ_OK;
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

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *report_json(const yq_ptq_report *r, const char *model, const char *out, int ncalib) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "model", model);
    cJSON_AddStringToObject(doc, "output", out);
    cJSON_AddNumberToObject(doc, "calibration_images", ncalib);
    cJSON_AddNumberToObject(doc, "report_images", r->report_images);
    cJSON_AddNumberToObject(doc, "hessian_passes", r->hessian_passes);
    cJSON_AddNumberToObject(doc, "hessian_peak_bytes", (double)r->hessian_peak_bytes);
    cJSON_AddItemToObject(doc, "output_sqnr_db", num_or_null(r->output_sqnr_db));
    cJSON_AddNumberToObject(doc, "weight_bytes", (double)r->weight_bytes);
    cJSON_AddNumberToObject(doc, "float_weight_bytes", (double)r->float_weight_bytes);
    cJSON_AddNumberToObject(doc, "activation_quantizers", r->act_quantizers);
    cJSON *cnt = cJSON_AddObjectToObject(doc, "qdq_counts");
    cJSON_AddNumberToObject(cnt, "quantize_before", r->counts_before_finalize.quantize);
    cJSON_AddNumberToObject(cnt, "dequantize_before", r->counts_before_finalize.dequantize);
    cJSON_AddNumberToObject(cnt, "clip_before", r->counts_before_finalize.clip);
    cJSON_AddNumberToObject(cnt, "quantize", r->counts_after.quantize);
    cJSON_AddNumberToObject(cnt, "dequantize", r->counts_after.dequantize);
    cJSON_AddNumberToObject(cnt, "clip", r->counts_after.clip);
    cJSON *tm = cJSON_AddObjectToObject(doc, "time_ms");
    cJSON_AddNumberToObject(tm, "calibrate", r->calib_ms);
    cJSON_AddNumberToObject(tm, "quantize", r->quantize_ms);
    cJSON_AddNumberToObject(tm, "report", r->report_ms);
    cJSON *arr = cJSON_AddArrayToObject(doc, "layers");
    for (int i = 0; i < r->nlayers; i++) {
        const yq_ptq_layer *l = &r->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "op_type", l->op_type);
        cJSON_AddNumberToObject(o, "weight_bits", l->bits);
        cJSON_AddStringToObject(o, "method", l->gptq ? "gptq" : "rtn");
        cJSON_AddNumberToObject(o, "params", (double)l->params);
        cJSON_AddItemToObject(o, "weight_sqnr_db", num_or_null(l->weight_sqnr_db));
        cJSON_AddItemToObject(o, "output_sqnr_db", num_or_null(l->output_sqnr_db));
        if (l->act_bits) {
            cJSON_AddNumberToObject(o, "act_bits", l->act_bits);
            cJSON_AddNumberToObject(o, "act_scale", l->act_scale);
            cJSON_AddNumberToObject(o, "act_zero_point", l->act_zero_point);
        } else {
            cJSON_AddNullToObject(o, "act_bits");
        }
        cJSON_AddItemToArray(arr, o);
    }
    return doc;
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

static int recipe_has(const yq_recipe *r, const char *section, const char *key) {
    const cJSON *doc = r->json;
    const cJSON *s = doc ? cJSON_GetObjectItemCaseSensitive(doc, section) : NULL;
    return s && cJSON_GetObjectItemCaseSensitive(s, key) != NULL;
}

int cmd_quantize(int argc, char **argv) {
    enum { OPT_CALIB = 256, OPT_COUNT, OPT_REPORT, OPT_HPOS, OPT_HBUDGET, OPT_AVGBITS, OPT_METRIC, OPT_SENS };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"calib", required_argument, 0, OPT_CALIB},
        {"calib-count", required_argument, 0, OPT_COUNT}, {"weights", required_argument, 0, 'w'},
        {"acts", required_argument, 0, 'a'},        {"recipe", required_argument, 0, 'r'},
        {"format", required_argument, 0, 'f'},      {"report", required_argument, 0, OPT_REPORT},
        {"hessian-positions", required_argument, 0, OPT_HPOS},
        {"hessian-budget", required_argument, 0, OPT_HBUDGET},
        {"avg-bits", required_argument, 0, OPT_AVGBITS}, {"metric-images", required_argument, 0, OPT_METRIC},
        {"sensitivity", required_argument, 0, OPT_SENS},
        {"threads", required_argument, 0, 't'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *out = NULL, *calib = NULL, *recipe_path = NULL, *report_path = NULL, *sens_path = NULL;
    int wbits = 0, abits = -1, count = 0, quiet = 0, metric_images = 0, c;
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
        case OPT_AVGBITS: {
            float f;
            if (cli_parse_float("quantize", "--avg-bits", optarg, 4.0, 8.0, &f)) return CLI_USAGE;
            avg_bits = strtod(optarg, NULL);
            break;
        }
        case OPT_SENS: sens_path = optarg; break;
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

    yq_recipe *recipe = NULL;
    yq_status st = recipe_path ? yq_recipe_load(recipe_path, &recipe) : yq_recipe_default(&recipe);
    if (st != YQ_OK) return cli_fail(st);
    if (wbits) {
        recipe->weights.bits = wbits;
        if (!recipe_has(recipe, "weights", "method"))
            recipe->weights.method = wbits == 4 ? YQ_WMETHOD_GPTQ : YQ_WMETHOD_RTN;
        if (!recipe_has(recipe, "weights", "symmetric")) recipe->weights.symmetric = wbits != 4;
    }
    if (abits >= 0) recipe->acts.bits = abits;
    if (avg_bits > 0) {
        recipe->mixed_avg_bits = avg_bits;
        recipe->mixed_weight_bytes = 0;
    }
    if (sens_path && !(recipe->mixed_avg_bits > 0 || recipe->mixed_weight_bytes > 0)) {
        yq_recipe_free(recipe);
        return cli_usage("quantize", "--sensitivity needs a budget (--avg-bits or the recipe's \"mixed\")");
    }
    if (!count) count = recipe->calib_count;

    calib_list list;
    int rc = read_calib_list(calib, &list);
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
    if (rc == CLI_OK) {
        const yq_value *in = g->ninputs == 1 ? &g->values[g->inputs[0]] : NULL;
        if (!in || in->rank != 4 || in->dims[2] < 1 || in->dims[3] < 1)
            rc = cli_error("%s: expected one image input [1,3,H,W]", model);
        else {
            list.h = (int)in->dims[2];
            list.w = (int)in->dims[3];
        }
    }
    progress_state ps = {.quiet = quiet};
    po.progress = on_progress;
    po.progress_arg = &ps;
    yq_ptq_report rep = {0};
    cJSON *mixed = NULL;
    if (rc == CLI_OK && (recipe->mixed_avg_bits > 0 || recipe->mixed_weight_bytes > 0))
        rc = cli_quantize_mixed(g, recipe, count, calib_input, &list, &po, metric_images, sens_path, quiet, &mixed);
    if (rc == CLI_OK) {
        st = yq_ptq_quantize(g, recipe, count, calib_input, &list, &po, &rep);
        if (ps.stage) cli_progress_finish(&ps.bar);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    if (rc == CLI_OK && (st = yq_onnx_save(g, out)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && report_path) {
        cJSON *doc = report_json(&rep, model, out, count);
        if (mixed) cJSON_AddItemToObject(doc, "mixed", mixed);
        mixed = NULL;
        rc = cli_write_json(doc, report_path);
        cJSON_Delete(doc);
    }
    if (rc == CLI_OK && !quiet) print_table(&rep);
    cJSON_Delete(mixed);
    yq_ptq_report_free(&rep);
    yq_graph_free(g);
    calib_list_free(&list);
    yq_recipe_free(recipe);
    return rc;
}
