/* yoloq eval MODEL --ann INSTANCES.json --images DIR: COCO mAP (pycocotools'
 * protocol) and inference latency of a detector on a COCO image set. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "eval/eval_run.h"
#include "eval/json_io.h"
#include "eval/spread.h"

void cmd_eval_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq eval MODEL.onnx --ann INSTANCES.json --images DIR\n"
            "                  [--max-images N | --image-ids FILE] [--imgsz N] [--conf T] [--iou T]\n"
            "                  [--max-det N] [--pre-nms-topk N] [--contract auto|end2end|xywh|dfl]\n"
            "                  [--warmup N] [--skip-latency N] [--threads N] [--out METRICS.json]\n"
            "                  [--detections-out DETS.json] [--spread N] [--compare DETS.json]\n"
            "                  [--verbose] [--quiet]\n"
            "\n"
            "Measure a detector's COCO box accuracy and its inference latency. Each selected image\n"
            "(DIR/file_name from the annotation file) is letterboxed as Ultralytics does, the model\n"
            "runs on yoloq's engine, and its detections (class k -> the k-th category of the\n"
            "annotation file in ascending id order, Ultralytics' convention: COCO's 80 classes ->\n"
            "ids 1..90) are scored with the COCO bbox protocol exactly as pycocotools' COCOeval\n"
            "computes it. Prints the 12 standard stats the way pycocotools' summarize() does and a\n"
            "one-line summary on stdout.\n"
            "\n"
            "Options:\n"
            "  -a, --ann FILE          COCO instances JSON: images, categories, annotations (required)\n"
            "  -i, --images DIR        folder holding the images' file_name entries (required)\n"
            "  -n, --max-images N      evaluate only the first N images in ascending id order\n"
            "                          (default: all images of the annotation file)\n"
            "      --image-ids FILE    evaluate exactly these images: one id a line, '#' comments,\n"
            "                          blank lines allowed; every id must be in the annotation file\n"
            "      --imgsz N           the input size the model must have; the size is fixed by the\n"
            "                          model (yoloq does not resize models), so a different N is an\n"
            "                          error (default: the model's own)\n"
            "  -c, --conf T            keep detections with score > T (default 0.001, as for mAP)\n"
            "      --iou T             NMS IoU threshold for raw-output models (default 0.7)\n"
            "      --max-det N         at most N detections per image (default 300)\n"
            "      --pre-nms-topk N    raw outputs: at most N candidates enter NMS (default 30000)\n"
            "      --contract C        output contract; default: told from the output shape\n"
            "      --warmup N          run the model N extra times on the first image before the\n"
            "                          timed pass; not part of the results or timings (default 1)\n"
            "      --skip-latency N    leave the first N images out of the latency statistics\n"
            "                          (they still count for accuracy; default 0)\n"
            CLI_HELP_THREADS CLI_HELP_ENGINE CLI_HELP_ENGINE_ORT
            "  -o, --out FILE          write metrics JSON: the 12 stats, per-class AP50-95 and AP50,\n"
            "                          counts, model path and sha256, options, runtime, latency\n"
            "                          (mean, median, p90, throughput) and the time split (image\n"
            "                          decode, letterbox, inference, decode+NMS, COCO matching)\n"
            "  -d, --detections-out FILE\n"
            "                          write the detections as a COCO results JSON file\n"
            "      --spread N          how much the choice of images decides: evaluate N random\n"
            "                          halves of the images (seeded, the same every run) and print\n"
            "                          the standard error of mAP50-95 and mAP50 (standard deviation\n"
            "                          of the halves' values; default 0: off)\n"
            "      --compare DETS.json another model's detections on the same images (a file written\n"
            "                          by -d): print this model's mAP minus that one's, with the\n"
            "                          standard error of the difference over the same halves (paired:\n"
            "                          what both models find hard cancels); implies --spread 100\n"
            "  -v, --verbose           also print per-class AP, the time split, and the detections\n"
            "                          above five score levels with their duplicates (IoU > 0.5\n"
            "                          with a higher-scored detection of the same class: what an\n"
            "                          NMS-free head's quantization disturbs), and where those above\n"
            "                          0.1 and 0.25 land against the ground truth at IoU 0.5: true\n"
            "                          positive, duplicate, crowd, wrong class, poor localisation,\n"
            "                          background, with the objects missed; all levels in --out\n"
            CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "Errors (missing or malformed annotation file, an image missing on disk, an id not in\n"
            "the annotation file, a model output that matches no contract) print one line and exit\n"
            "with status 1 before any output file is written.\n");
}

typedef struct eval_args {
    yq_eval_opts o;
    int verbose, quiet;
    int spread;          /* half-sample draws (0: none) */
    const char *compare; /* detections file of another model, or NULL */
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    yq_eval_opts *o = &a->o;
    enum { OPT_IDS = 256, OPT_IMGSZ, OPT_IOU, OPT_MAXDET, OPT_TOPK, OPT_CONTRACT, OPT_WARMUP, OPT_SKIP, OPT_ENGINE, OPT_SPREAD, OPT_COMPARE };
    static const struct option longopts[] = {
        {"ann", required_argument, 0, 'a'},
        {"images", required_argument, 0, 'i'},
        {"max-images", required_argument, 0, 'n'},
        {"image-ids", required_argument, 0, OPT_IDS},
        {"imgsz", required_argument, 0, OPT_IMGSZ},
        {"conf", required_argument, 0, 'c'},
        {"iou", required_argument, 0, OPT_IOU},
        {"max-det", required_argument, 0, OPT_MAXDET},
        {"pre-nms-topk", required_argument, 0, OPT_TOPK},
        {"contract", required_argument, 0, OPT_CONTRACT},
        {"warmup", required_argument, 0, OPT_WARMUP},
        {"skip-latency", required_argument, 0, OPT_SKIP},
        {"threads", required_argument, 0, 't'},
        {"engine", required_argument, 0, OPT_ENGINE},
        {"out", required_argument, 0, 'o'},
        {"detections-out", required_argument, 0, 'd'},
        {"verbose", no_argument, 0, 'v'},
        {"spread", required_argument, 0, OPT_SPREAD},
        {"compare", required_argument, 0, OPT_COMPARE},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->spread = -1;
    yq_eval_opts_default(o);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:i:n:c:t:o:d:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': o->ann = optarg; break;
        case 'i': o->images_dir = optarg; break;
        case 'n': if (cli_parse_int("eval", "--max-images", optarg, 1, 100000000, &o->max_images)) return CLI_USAGE; break;
        case OPT_IDS: o->image_ids_path = optarg; break;
        case OPT_IMGSZ: if (cli_parse_int("eval", "--imgsz", optarg, 1, 16384, &o->imgsz)) return CLI_USAGE; break;
        case 'c': if (cli_parse_float("eval", "--conf", optarg, 0.0, 1.0, &o->det.decode.conf)) return CLI_USAGE; break;
        case OPT_IOU: if (cli_parse_float("eval", "--iou", optarg, 0.0, 1.0, &o->det.decode.iou)) return CLI_USAGE; break;
        case OPT_MAXDET:
            if (cli_parse_int("eval", "--max-det", optarg, 1, 100000, &o->det.decode.max_det)) return CLI_USAGE;
            break;
        case OPT_TOPK:
            if (cli_parse_int("eval", "--pre-nms-topk", optarg, 1, 100000000, &o->det.decode.max_nms)) return CLI_USAGE;
            break;
        case OPT_CONTRACT: {
            int k = yq_yolo_contract_parse(optarg);
            if (k < 0) return cli_usage("eval", "--contract must be auto, end2end, xywh or dfl, got '%s'", optarg);
            o->det.decode.contract = (yq_yolo_contract)k;
            break;
        }
        case OPT_WARMUP: if (cli_parse_int("eval", "--warmup", optarg, 0, 1000, &o->warmup)) return CLI_USAGE; break;
        case OPT_SKIP:
            if (cli_parse_int("eval", "--skip-latency", optarg, 0, 100000000, &o->skip_latency)) return CLI_USAGE;
            break;
        case OPT_ENGINE:
            if (cli_parse_detector_engine("eval", optarg, &o->det.engine, &o->det.ort)) return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("eval", "--threads", optarg, 1, 256, &o->det.nthreads)) return CLI_USAGE; break;
        case 'o': o->out = optarg; break;
        case 'd': o->dets_out = optarg; break;
        case 'v': a->verbose = 1; break;
        case OPT_SPREAD: if (cli_parse_int("eval", "--spread", optarg, 0, 100000, &a->spread)) return CLI_USAGE; break;
        case OPT_COMPARE: a->compare = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': cmd_eval_help(stdout); return -1;
        default: return cli_usage("eval", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("eval", "expects exactly one MODEL.onnx");
    o->model = argv[optind];
    if (!o->ann) return cli_usage("eval", "--ann INSTANCES.json is required");
    if (!o->images_dir) return cli_usage("eval", "--images DIR is required");
    if (a->compare && a->spread == 0) return cli_usage("eval", "--compare needs --spread N with N > 0 (default 100)");
    if (a->spread < 0) a->spread = a->compare ? 100 : 0;
    if (o->max_images && o->image_ids_path) return cli_usage("eval", "--max-images and --image-ids exclude each other");
    if (o->out && o->dets_out && !strcmp(o->out, o->dets_out))
        return cli_usage("eval", "--out and --detections-out name the same file '%s'", o->out);
    if ((o->out && !strcmp(o->out, "-")) || (o->dets_out && !strcmp(o->dets_out, "-")))
        return cli_usage("eval", "--out and --detections-out need file names ('-' is not supported)");
    return CLI_OK;
}

static void print_stats(const yq_coco_result *res) {
    for (int s = 0; s < YQ_COCO_NUM_STATS; s++)
        printf(" %s = %0.3f\n", yq_coco_stat_description(s), res->stats[s]);
}

static void print_per_class(const yq_coco_result *res, const yq_coco_gt *gt) {
    printf("\n%6s  %-16s %8s %8s %7s %7s\n", "id", "class", "AP50-95", "AP50", "gt", "dets");
    for (size_t k = 0; k < res->ncat; k++) {
        ptrdiff_t c = yq_coco_gt_find_category(gt, res->cat_ids[k]);
        const char *name = c >= 0 ? yq_coco_gt_category(gt, (size_t)c)->name : "";
        if (res->ap_per_class[k] < 0)
            printf("%6d  %-16s %8s %8s %7zu %7zu\n", res->cat_ids[k], name, "-", "-", res->ngt_per_class[k],
                   res->ndet_per_class[k]);
        else
            printf("%6d  %-16s %8.4f %8.4f %7zu %7zu\n", res->cat_ids[k], name, res->ap_per_class[k],
                   res->ap50_per_class[k], res->ngt_per_class[k], res->ndet_per_class[k]);
    }
}

static void on_progress(void *arg, int64_t done, int64_t total) {
    cli_progress *p = arg;
    (void)total;
    cli_progress_update(p, done);
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == -1) return CLI_OK; /* --help */
    if (rc != CLI_OK) return rc;
    yq_eval_run run;
    cJSON *metrics = NULL;
    cli_progress prog = {0};
    a.o.progress = on_progress;
    a.o.progress_arg = &prog;
    yq_coco_det *other = NULL; /* --compare's detections, read before the run so a bad file costs nothing */
    size_t nother = 0;
    yq_status st = yq_eval_setup(&a.o, &run);
    if (st == YQ_OK && a.compare) st = yq_coco_dets_load(a.compare, run.gt, &other, &nother);
    if (st == YQ_OK && a.spread > 0 && run.n < 2) {
        rc = cli_usage("eval", "--spread needs at least 2 images, %zu selected", run.n);
        goto done;
    }
    if (st == YQ_OK && (size_t)a.o.skip_latency >= run.n) {
        rc = cli_usage("eval", "--skip-latency %d leaves no latency samples of the %zu selected images",
                       a.o.skip_latency, run.n);
        goto done;
    }
    if (st == YQ_OK) st = yq_eval_open_model(&run);
    if (st == YQ_OK) {
        cli_progress_start(&prog, "eval", (int64_t)run.n, a.quiet);
        st = yq_eval_execute(&run);
        if (st == YQ_OK) cli_progress_finish(&prog);
        else if (prog.enabled) fputc('\n', stderr); /* end the bar's line before the error */
    }
    if (st != YQ_OK) {
        rc = cli_fail(st);
        goto done;
    }
    yq_map_spread spread = {0};
    if (a.spread > 0) {
        st = yq_map_spread_compute(run.gt, run.ids, run.n, run.dets, run.ndets, other, nother, a.spread, 0, &spread);
        if (st != YQ_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    const yq_coco_result *res = &run.res;
    const yq_eval_timing *tm = &run.timing;
    print_stats(res);
    printf("yoloq eval: %s on %zu images, %zu detections: mAP50-95 %.4f  mAP50 %.4f  | inference %.1f ms/img "
           "median (%.1f img/s), wall %.1f s\n",
           a.o.model, run.n, run.ndets, res->stats[YQ_COCO_AP], res->stats[YQ_COCO_AP50], run.latency.median_ms,
           run.latency.throughput_per_s, tm->wall / 1000.0);
    if (a.spread > 0) {
        printf("sampling spread over %d random halves of the %zu images: mAP50-95 %.4f +- %.4f, mAP50 %.4f +- %.4f "
               "(standard errors)\n",
               spread.draws, run.n, spread.ap, spread.se_ap, spread.ap50, spread.se_ap50);
        if (spread.paired)
            printf("against %s on the same halves: mAP50-95 %+.4f +- %.4f, mAP50 %+.4f +- %.4f (this model minus "
                   "that one)\n",
                   a.compare, spread.diff_ap, spread.se_diff_ap, spread.diff_ap50, spread.se_diff_ap50);
    }
    if (a.verbose) {
        double w = tm->wall > 0 ? tm->wall / 100.0 : 1;
        printf("time split: setup %.1f%%, warm-up %.1f%%, image decode %.1f%%%s, letterbox %.1f%%, "
               "inference %.1f%%, decode+NMS %.1f%%, COCO matching %.1f%% of %.1f s\n",
               tm->setup / w, tm->warmup / w, tm->image_wait / w, tm->prefetch ? " (waited for; prefetched)" : "",
               tm->preprocess / w, tm->inference / w, tm->decode_nms / w, tm->coco_eval / w, tm->wall / 1000.0);
        printf("detections by score (duplicates: IoU > 0.5 with a higher-scored one of the same class):");
        for (int l = 0; l < YQ_DET_STATS_LEVELS; l++)
            printf("%s > %.2g: %zu (%zu dup.)", l ? "," : "", yq_det_stats_levels[l], run.det_stats.above[l],
                   run.det_stats.duplicates[l]);
        printf("\n");
        for (int l = 1; l <= 2; l++) { /* 0.1 and 0.25 */
            const yq_det_errors *de = &run.det_errors[l];
            printf("detections > %.2g against the ground truth (IoU 0.5):", de->level);
            for (int k = 0; k < YQ_DE_NKINDS; k++) printf("%s %s %zu", k ? "," : "", yq_det_error_names[k], de->count[k]);
            printf("; objects missed %zu of %zu\n", de->missed, de->objects);
        }
        print_per_class(res, run.gt);
    }
    fflush(stdout);

    /* Outputs last: the detections, then the metrics that name them. */
    if (a.o.dets_out) {
        st = yq_coco_dets_save(a.o.dets_out, run.dets, run.ndets);
        if (st != YQ_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    if (a.o.out) {
        metrics = yq_eval_metrics_json(&run);
        if (metrics && a.spread > 0) {
            cJSON *sp = cJSON_AddObjectToObject(metrics, "spread");
            if (!sp || !cJSON_AddNumberToObject(sp, "draws", spread.draws) || !cJSON_AddNumberToObject(sp, "seed", (double)spread.seed) ||
                !cJSON_AddNumberToObject(sp, "se_ap", spread.se_ap) || !cJSON_AddNumberToObject(sp, "se_ap50", spread.se_ap50) ||
                (spread.paired && (!cJSON_AddStringToObject(sp, "compare", a.compare) ||
                                   !cJSON_AddNumberToObject(sp, "diff_ap", spread.diff_ap) ||
                                   !cJSON_AddNumberToObject(sp, "se_diff_ap", spread.se_diff_ap) ||
                                   !cJSON_AddNumberToObject(sp, "diff_ap50", spread.diff_ap50) ||
                                   !cJSON_AddNumberToObject(sp, "se_diff_ap50", spread.se_diff_ap50)))) {
                cJSON_Delete(metrics);
                metrics = NULL;
            }
        }
        st = metrics ? yq_json_write_atomic(a.o.out, metrics) : YQ_ERR_NOMEM;
        if (st != YQ_OK) {
            if (a.o.dets_out) remove(a.o.dets_out); /* all outputs or none */
            rc = cli_fail(st);
            goto done;
        }
    }
    rc = CLI_OK;
done:
    free(other);
    cJSON_Delete(metrics);
    yq_eval_run_free(&run);
    return rc;
}
