/* yoloq finetune QUANT.onnx --teacher FLOAT.onnx --images LIST: quantization-aware
 * fine-tuning by distillation (quant/finetune.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "quant/finetune.h"
#include "quant/quantize_file.h"
#include "report/chart.h"
#include "vision/image.h"

void cmd_finetune_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq finetune QUANT_MODEL.onnx --teacher FLOAT.onnx --images LIST.txt -o OUT.onnx\n"
            "                      [--steps N] [--batch B] [--lr LR] [--lr-scale LR] [--lr-act-scale LR]\n"
            "                      [--lr-bias LR]\n"
            "                      [--seed S] [--checkpoint FILE] [--checkpoint-every K] [--resume]\n"
            "                      [--log OUT.csv] [--curve OUT.png] [--json OUT.json] [--threads N] [--quiet]\n"
            "\n"
            "Quantization-aware fine-tuning of a QCDQ model written by `yoloq quantize` (W4A8, W4A16,\n"
            "W8A8...), by distillation from its float model on unlabelled images. The quantized model\n"
            "is cut at the raw detection head (the tensor that feeds the DFL / class split: box-side\n"
            "distribution logits and class logits, before decoding); so is the teacher. Trainable:\n"
            "every weight chain (latent float weights, initialised at the dequantized PTQ weights, and\n"
            "per-channel scales, learned with LSQ; straight-through rounding), every activation\n"
            "QuantizeLinear/DequantizeLinear pair (per-tensor scale, zero point fixed) and the float\n"
            "conv biases. Loss: confidence-weighted KL of the DFL box-side distributions plus the\n"
            "binary KL of the class probabilities, student against teacher. Adam (weights in units\n"
            "of their quantization step), linear warm-up then cosine decay, gradient-norm clipping;\n"
            "the exponential moving average of the parameters is exported: integer codes and scales\n"
            "are written back into the same QCDQ initializers, so OUT has the structure of\n"
            "QUANT_MODEL and is evaluated like any other variant (`yoloq eval`).\n"
            "\n"
            "Images are letterboxed like evaluation, with random horizontal flips and scale jitter.\n"
            "A run is a function of its inputs, options and --seed: the same command gives a\n"
            "byte-identical OUT whatever --threads is, and a run resumed from a checkpoint ends where\n"
            "the uninterrupted run ends.\n"
            "\n"
            "Options:\n"
            "      --teacher FILE   the float model QUANT_MODEL was quantized from (required)\n"
            "      --images LIST    training images, one path a line, relative to LIST's folder\n"
            "                       (required; no labels needed)\n"
            "  -o, --output FILE    the fine-tuned QCDQ model (required; written only on success)\n"
            "  -n, --steps N        optimiser steps (default 200)\n"
            "  -b, --batch B        images per step (default 2)\n"
            "      --lr LR          weight learning rate, in quantization steps per update (1e-2)\n"
            "      --lr-scale LR    learning rate of the weights' log-scales (1e-4)\n"
            "      --lr-act-scale LR  learning rate of the activations' log-scales (1e-5)\n"
            "      --lr-bias LR     learning rate of the float biases (1e-4; 0 freezes them)\n"
            "      --warmup F       warm-up fraction of the steps (0.05)\n"
            "      --clip NORM      clip the global gradient norm (1.0; 0: off)\n"
            "      --ema D          EMA decay of the exported parameters (0.98; 0: last step)\n"
            "      --jitter F       scale jitter +-F (0.2; 0: off)\n"
            "      --no-flip        no horizontal flips\n"
            "      --box-weight W   weight of the box (DFL KL) term (1)\n"
            "      --cls-weight W   weight of the class (binary KL) term (1)\n"
            "      --feat-weight W  weight of the feature-map term: normalised squared error of the\n"
            "                       feature maps the head reads (P3-P5), averaged (0: off)\n"
            "      --fp-weight F    class term: weight factor where the student scores above the\n"
            "                       teacher (false positives, duplicates) (1)\n"
            "      --cls-anchors firing|all|logit  the class term: binary KL on anchors where\n"
            "                       either model fires, weighted by the larger score (default); on\n"
            "                       all anchors, normalised by the teacher's score mass (duplicates\n"
            "                       cost like misses); or a Huber loss of the logits where either\n"
            "                       score exceeds 0.005\n"
            "      --margin-weight M  weight of the ranking term (0: off): for each teacher object\n"
            "                       (an anchor above 0.1 that tops the anchors its box overlaps at\n"
            "                       IoU > 0.5), a squared hinge keeping each overlapping anchor below\n"
            "                       it by the teacher's logit margin, or below 0.01 - the order the\n"
            "                       NMS-free one-to-one head relies on to stay free of duplicates\n"
            "      --margin-cap C   margin term by order only: each overlapping anchor at least\n"
            "                       min(teacher's margin, C) logits below its object, whatever the\n"
            "                       score level (0, default: the floored form above, which a model can\n"
            "                       also satisfy by lowering every score)\n"
            "  -s, --seed S         seed of the image order and augmentation (default 0)\n"
            "      --checkpoint FILE  checkpoint file (default OUT.ckpt when --checkpoint-every or\n"
            "                       --resume is given); always written at the end\n"
            "      --checkpoint-every K  write the checkpoint every K steps\n"
            "      --resume         continue from the checkpoint if it exists (same model, images and\n"
            "                       options, else an error)\n"
            "      --log FILE       per-step CSV: step, loss, box, cls, feat, margin, lr factor,\n"
            "                       grad norm, seconds\n"
            "      --curve FILE     loss curve as PNG (trailing mean over 16 steps)\n"
            "      --json FILE      summary: options, seed, counts, first/last loss, per-step log\n"
            CLI_HELP_THREADS CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "Exit status: 0 on success, 1 on a bad input file (not a QCDQ model, no YOLO head,\n"
            "teacher not matching, unreadable image), 2 on bad options.\n"
            "\n"
            "Example:\n"
            "  yoloq quantize yolov10n.onnx --weights int4 --acts int8 --calib calib128.txt -o w4a8.onnx\n"
            "  yoloq finetune w4a8.onnx --teacher yolov10n.onnx --images calib128.txt --steps 200 \\\n"
            "      --threads 2 --log qat.csv --curve qat.png -o w4a8-qat.onnx\n");
}

typedef struct ft_progress {
    cli_progress bar;
    char label[96];
    int started, quiet;
} ft_progress;

static void on_progress(void *arg, int64_t step, int64_t steps, double loss, double seconds) {
    (void)seconds;
    ft_progress *p = arg;
    if (!p->started) {
        cli_progress_start(&p->bar, p->label, steps, p->quiet);
        p->started = 1;
    }
    snprintf(p->label, sizeof p->label, "finetune loss %.5f", loss);
    cli_progress_update(&p->bar, step);
}

static int write_csv(const char *path, const yq_finetune_result *r) {
    yq_atomic_file af;
    yq_status st = yq_atomic_open(&af, path);
    if (st != YQ_OK) return cli_fail(st);
    fprintf(af.fp, "step,loss,loss_box,loss_cls,loss_feat,loss_margin,lr_factor,grad_norm,seconds\n");
    for (int64_t i = 0; i < r->nlog; i++) {
        const yq_ft_log *l = &r->log[i];
        fprintf(af.fp, "%lld,%.8g,%.8g,%.8g,%.8g,%.8g,%.6g,%.6g,%.3f\n", (long long)l->step, l->loss, l->loss_box, l->loss_cls,
                l->loss_feat, l->loss_margin,
                l->lr_factor, l->grad_norm, l->seconds);
    }
    if ((st = yq_atomic_commit(&af)) != YQ_OK) return cli_fail(st);
    return CLI_OK;
}

static int write_curve(const char *path, const yq_finetune_result *r) {
    double *x = malloc((size_t)(r->nlog + 1) * sizeof(double)), *y = malloc((size_t)(r->nlog + 1) * sizeof(double));
    if (!x || !y) {
        free(x), free(y);
        return cli_error("out of memory");
    }
    /* per-image losses vary by 20x, so the curve is a trailing mean */
    enum { WINDOW = 16 };
    double acc = 0;
    for (int64_t i = 0; i < r->nlog; i++) {
        acc += r->log[i].loss;
        if (i >= WINDOW) acc -= r->log[i - WINDOW].loss;
        x[i] = (double)r->log[i].step;
        y[i] = acc / (double)(i + 1 < WINDOW ? i + 1 : WINDOW);
    }
    yq_image img = {0};
    yq_status st = yq_chart_line("QAT distillation loss (mean of the last 16 steps)", "step", "loss", x, y,
                                 (int)r->nlog, &img);
    if (st == YQ_OK) st = yq_image_save_png(path, &img);
    yq_image_free(&img);
    free(x), free(y);
    return st == YQ_OK ? CLI_OK : cli_fail(st);
}

static cJSON *summary_json(const yq_finetune_result *r, const yq_finetune_opts *o, const char *model,
                           const char *teacher, const char *images, int nimages, const char *out) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "model", model);
    cJSON_AddStringToObject(d, "teacher", teacher);
    cJSON_AddStringToObject(d, "images", images);
    cJSON_AddNumberToObject(d, "image_count", nimages);
    cJSON_AddStringToObject(d, "output", out);
    cJSON_AddItemToObject(d, "options", yq_finetune_opts_json(o));
    cJSON_AddStringToObject(d, "head_tensor", r->cut);
    cJSON_AddNumberToObject(d, "reg_max", r->reg_max);
    cJSON_AddNumberToObject(d, "classes", r->classes);
    cJSON_AddNumberToObject(d, "anchors", (double)r->anchors);
    cJSON_AddNumberToObject(d, "weight_chains", r->weights);
    cJSON_AddNumberToObject(d, "activation_quantizers", r->act_quantizers);
    cJSON_AddNumberToObject(d, "biases", r->biases);
    cJSON_AddNumberToObject(d, "parameters", (double)r->params);
    cJSON_AddStringToObject(d, "student_ops", r->ops);
    cJSON *fa = cJSON_AddArrayToObject(d, "feature_maps");
    for (int f = 0; f < r->nfeatures; f++) cJSON_AddItemToArray(fa, cJSON_CreateString(r->features[f]));
    cJSON_AddNumberToObject(d, "resumed_from", (double)r->resumed_from);
    cJSON_AddNumberToObject(d, "seconds", r->seconds);
    if (r->nlog > 0) {
        cJSON_AddNumberToObject(d, "loss_first", r->log[0].loss);
        cJSON_AddNumberToObject(d, "loss_last", r->log[r->nlog - 1].loss);
    }
    cJSON *arr = cJSON_AddArrayToObject(d, "log");
    for (int64_t i = 0; i < r->nlog; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "step", (double)r->log[i].step);
        cJSON_AddNumberToObject(e, "loss", r->log[i].loss);
        cJSON_AddNumberToObject(e, "loss_box", r->log[i].loss_box);
        cJSON_AddNumberToObject(e, "loss_cls", r->log[i].loss_cls);
        cJSON_AddNumberToObject(e, "loss_feat", r->log[i].loss_feat);
        cJSON_AddNumberToObject(e, "loss_margin", r->log[i].loss_margin);
        cJSON_AddItemToArray(arr, e);
    }
    return d;
}

static int is_qcdq(const yq_graph *g) {
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].op_type, "DequantizeLinear")) return 1;
    return 0;
}

int cmd_finetune(int argc, char **argv) {
    enum { OPT_TEACHER = 256, OPT_IMAGES, OPT_LR, OPT_LRS, OPT_LRA, OPT_LRB, OPT_WARM, OPT_CLIP, OPT_EMA, OPT_JIT, OPT_NOFLIP,
           OPT_CKPT, OPT_CKEVERY, OPT_RESUME, OPT_LOG, OPT_CURVE, OPT_JSON, OPT_BOXW, OPT_CLSW, OPT_CLSA, OPT_FEATW, OPT_FPW, OPT_MARGIN, OPT_MCAP };
    static const struct option longopts[] = {
        {"teacher", required_argument, 0, OPT_TEACHER}, {"images", required_argument, 0, OPT_IMAGES},
        {"output", required_argument, 0, 'o'},           {"steps", required_argument, 0, 'n'},
        {"batch", required_argument, 0, 'b'},            {"lr", required_argument, 0, OPT_LR},
        {"lr-scale", required_argument, 0, OPT_LRS},     {"lr-bias", required_argument, 0, OPT_LRB},
        {"lr-act-scale", required_argument, 0, OPT_LRA},
        {"warmup", required_argument, 0, OPT_WARM},      {"clip", required_argument, 0, OPT_CLIP},
        {"ema", required_argument, 0, OPT_EMA},          {"jitter", required_argument, 0, OPT_JIT},
        {"no-flip", no_argument, 0, OPT_NOFLIP},         {"box-weight", required_argument, 0, OPT_BOXW},
        {"cls-weight", required_argument, 0, OPT_CLSW},  {"seed", required_argument, 0, 's'},
        {"cls-anchors", required_argument, 0, OPT_CLSA}, {"feat-weight", required_argument, 0, OPT_FEATW},
        {"fp-weight", required_argument, 0, OPT_FPW},    {"margin-weight", required_argument, 0, OPT_MARGIN},
        {"margin-cap", required_argument, 0, OPT_MCAP},
        {"checkpoint", required_argument, 0, OPT_CKPT},  {"checkpoint-every", required_argument, 0, OPT_CKEVERY},
        {"resume", no_argument, 0, OPT_RESUME},          {"log", required_argument, 0, OPT_LOG},
        {"curve", required_argument, 0, OPT_CURVE},      {"json", required_argument, 0, OPT_JSON},
        {"threads", required_argument, 0, 't'},          {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                   {0, 0, 0, 0}};
    const char *teacher_path = NULL, *images = NULL, *out = NULL, *ckpt = NULL, *log_out = NULL, *curve_out = NULL,
               *json_out = NULL;
    int quiet = 0, c, steps = 0, every = 0;
    yq_finetune_opts o;
    yq_finetune_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:b:s:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TEACHER: teacher_path = optarg; break;
        case OPT_IMAGES: images = optarg; break;
        case 'o': out = optarg; break;
        case 'n':
            if (cli_parse_int("finetune", "--steps", optarg, 1, 100000000, &steps)) return CLI_USAGE;
            o.steps = steps;
            break;
        case 'b': if (cli_parse_int("finetune", "--batch", optarg, 1, 4096, &o.batch)) return CLI_USAGE; break;
        case OPT_LR: if (cli_parse_float("finetune", "--lr", optarg, 0, 10, &o.lr)) return CLI_USAGE; break;
        case OPT_LRS: if (cli_parse_float("finetune", "--lr-scale", optarg, 0, 10, &o.lr_scale)) return CLI_USAGE; break;
        case OPT_LRA: if (cli_parse_float("finetune", "--lr-act-scale", optarg, 0, 10, &o.lr_act_scale)) return CLI_USAGE; break;
        case OPT_LRB: if (cli_parse_float("finetune", "--lr-bias", optarg, 0, 10, &o.lr_bias)) return CLI_USAGE; break;
        case OPT_WARM: if (cli_parse_float("finetune", "--warmup", optarg, 0, 1, &o.warmup)) return CLI_USAGE; break;
        case OPT_CLIP: if (cli_parse_float("finetune", "--clip", optarg, 0, 1e9, &o.clip_norm)) return CLI_USAGE; break;
        case OPT_EMA: if (cli_parse_float("finetune", "--ema", optarg, 0, 0.999999, &o.ema_decay)) return CLI_USAGE; break;
        case OPT_JIT: if (cli_parse_float("finetune", "--jitter", optarg, 0, 0.9, &o.jitter)) return CLI_USAGE; break;
        case OPT_NOFLIP: o.flip = 0; break;
        case OPT_BOXW: if (cli_parse_float("finetune", "--box-weight", optarg, 0, 1e6, &o.box_weight)) return CLI_USAGE; break;
        case OPT_CLSW: if (cli_parse_float("finetune", "--cls-weight", optarg, 0, 1e6, &o.cls_weight)) return CLI_USAGE; break;
        case OPT_FEATW: if (cli_parse_float("finetune", "--feat-weight", optarg, 0, 1e6, &o.feat_weight)) return CLI_USAGE; break;
        case OPT_MARGIN: if (cli_parse_float("finetune", "--margin-weight", optarg, 0, 1e6, &o.margin_weight)) return CLI_USAGE; break;
        case OPT_MCAP: if (cli_parse_float("finetune", "--margin-cap", optarg, 0, 100, &o.margin_cap)) return CLI_USAGE; break;
        case OPT_FPW: if (cli_parse_float("finetune", "--fp-weight", optarg, 0, 1e6, &o.fp_weight)) return CLI_USAGE; break;
        case OPT_CLSA:
            if (!strcmp(optarg, "all")) o.cls_anchors = YQ_FT_CLS_ALL;
            else if (!strcmp(optarg, "firing")) o.cls_anchors = YQ_FT_CLS_FIRING;
            else if (!strcmp(optarg, "logit")) o.cls_anchors = YQ_FT_CLS_LOGIT;
            else return cli_usage("finetune", "--cls-anchors must be 'firing', 'all' or 'logit', got '%s'", optarg);
            break;
        case 's': {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || optarg[0] == '-') return cli_usage("finetune", "--seed must be a non-negative integer, got '%s'", optarg);
            o.seed = v;
            break;
        }
        case OPT_CKPT: ckpt = optarg; break;
        case OPT_CKEVERY: if (cli_parse_int("finetune", "--checkpoint-every", optarg, 1, 100000000, &every)) return CLI_USAGE; break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_LOG: log_out = optarg; break;
        case OPT_CURVE: curve_out = optarg; break;
        case OPT_JSON: json_out = optarg; break;
        case 't': if (cli_parse_int("finetune", "--threads", optarg, 1, 256, &o.nthreads)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': cmd_finetune_help(stdout); return CLI_OK;
        default: return cli_usage("finetune", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("finetune", "expects exactly one QUANT_MODEL.onnx");
    if (!teacher_path) return cli_usage("finetune", "--teacher FLOAT.onnx is required");
    if (!images) return cli_usage("finetune", "--images LIST.txt is required");
    if (!out) return cli_usage("finetune", "-o OUT.onnx is required");
    const char *model = argv[optind];
    if (!strcmp(out, model) || !strcmp(out, teacher_path)) return cli_usage("finetune", "-o would overwrite an input model");
    o.checkpoint_every = every;
    char *ckpt_default = NULL;
    if (!ckpt && (every > 0 || o.resume)) {
        size_t n = strlen(out) + 6;
        if (!(ckpt_default = malloc(n))) return cli_error("out of memory");
        snprintf(ckpt_default, n, "%s.ckpt", out);
        ckpt = ckpt_default;
    }
    o.checkpoint = ckpt;

    int rc = CLI_OK;
    yq_status st;
    yq_graph *student = NULL, *teacher = NULL, *export_to = NULL;
    yq_calib_list list = {0};
    yq_ft_files *files = NULL;
    yq_finetune_result res = {0};
    if ((st = yq_onnx_load(model, &student)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && !is_qcdq(student))
        rc = cli_error("%s: not a QCDQ model (no DequantizeLinear); quantize it with `yoloq quantize` first", model);
    if (rc == CLI_OK && (st = yq_onnx_load(teacher_path, &teacher)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && is_qcdq(teacher))
        rc = cli_error("%s: the teacher must be the float model, it has DequantizeLinear nodes", teacher_path);
    if (rc == CLI_OK && (st = yq_onnx_load(model, &export_to)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && (st = yq_calib_list_load(images, &list)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && list.n < 1) rc = cli_error("%s: no images listed", images);
    for (int i = 0; rc == CLI_OK && i < list.n; i++) {
        FILE *fp = fopen(list.paths[i], "rb");
        if (!fp) rc = cli_error("%s: cannot open image listed in %s", list.paths[i], images);
        else fclose(fp);
    }
    if (rc == CLI_OK && (st = yq_ft_files_new((const char *const *)list.paths, list.n, &files)) != YQ_OK) rc = cli_fail(st);
    ft_progress pr = {.quiet = quiet};
    snprintf(pr.label, sizeof pr.label, "finetune");
    o.progress = on_progress;
    o.progress_arg = &pr;
    if (rc == CLI_OK) {
        st = yq_finetune(student, teacher, list.n, yq_ft_files_image, files, &o, export_to, &res);
        if (pr.started) cli_progress_finish(&pr.bar);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    if (rc == CLI_OK && (st = yq_onnx_save(export_to, out)) != YQ_OK) rc = cli_fail(st);
    if (rc == CLI_OK && log_out) rc = write_csv(log_out, &res);
    if (rc == CLI_OK && curve_out) rc = write_curve(curve_out, &res);
    if (rc == CLI_OK && json_out) {
        cJSON *doc = summary_json(&res, &o, model, teacher_path, images, list.n, out);
        rc = cli_write_json(doc, json_out);
        cJSON_Delete(doc);
    }
    if (rc == CLI_OK && !quiet) {
        const double run_s = res.nlog > 0 ? res.log[res.nlog - 1].seconds : 0;
        const int64_t taken = res.nlog - res.resumed_from;
        fprintf(stderr,
                "finetune: head '%s' (R=%d, %d classes, %lld anchors); trained %d weight chains, %d activation "
                "quantizers, %d biases (%lld parameters)\n",
                res.cut, res.reg_max, res.classes, (long long)res.anchors, res.weights, res.act_quantizers, res.biases,
                (long long)res.params);
        for (int f = 0; f < res.nfeatures; f++) fprintf(stderr, "finetune: feature map %d '%s'\n", f, res.features[f]);
        if (res.nlog > 0)
            fprintf(stderr, "finetune: loss %.5f -> %.5f over %lld steps (%lld this run, %.1f s, %.3f steps/s)\n",
                    res.log[0].loss, res.log[res.nlog - 1].loss, (long long)res.nlog, (long long)taken, res.seconds,
                    taken > 0 && run_s > 0 ? (double)taken / run_s : 0.0);
    }
    if (rc == CLI_OK) printf("%s\n", out);
    yq_finetune_result_free(&res);
    yq_ft_files_free(files);
    yq_calib_list_free(&list);
    yq_graph_free(student);
    yq_graph_free(teacher);
    yq_graph_free(export_to);
    free(ckpt_default);
    return rc;
}
