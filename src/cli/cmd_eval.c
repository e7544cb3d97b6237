/* yoloq eval MODEL --ann INSTANCES.json --images DIR: COCO mAP (pycocotools'
 * protocol) and inference latency of a detector on a COCO image set. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "core/atomic_file.h"
#include "core/pool.h"
#include "core/sha256.h"
#include "detect/detector.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "eval/image_ids.h"
#include "eval/json_io.h"
#include "eval/latency.h"
#include "eval/metrics_json.h"
#include "eval/yolo_to_coco.h"

void cmd_eval_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq eval MODEL.onnx --ann INSTANCES.json --images DIR\n"
            "                  [--max-images N | --image-ids FILE] [--imgsz N] [--conf T] [--iou T]\n"
            "                  [--max-det N] [--pre-nms-topk N] [--contract auto|end2end|xywh|dfl]\n"
            "                  [--warmup N] [--skip-latency N] [--threads N] [--out METRICS.json]\n"
            "                  [--detections-out DETS.json] [--verbose] [--quiet]\n"
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
            CLI_HELP_THREADS
            "  -o, --out FILE          write metrics JSON: the 12 stats, per-class AP50-95 and AP50,\n"
            "                          counts, model path and sha256, options, runtime, latency\n"
            "                          (mean, median, p90, throughput) and the time split (image\n"
            "                          decode, letterbox, inference, decode+NMS, COCO matching)\n"
            "  -d, --detections-out FILE\n"
            "                          write the detections as a COCO results JSON file\n"
            "  -v, --verbose           also print per-class AP and the time split\n"
            CLI_HELP_QUIET CLI_HELP_HELP
            "\n"
            "Errors (missing or malformed annotation file, an image missing on disk, an id not in\n"
            "the annotation file, a model output that matches no contract) print one line and exit\n"
            "with status 1 before any output file is written.\n");
}

typedef struct eval_args {
    const char *model, *ann, *images_dir, *image_ids_path, *out, *dets_out;
    int max_images; /* 0: all */
    int imgsz;      /* 0: the model's */
    int warmup, skip_latency, verbose, quiet;
    yq_detector_opts det;
} eval_args;

/* Where the time of a run went, in milliseconds. */
typedef struct eval_timing {
    double setup, warmup;
    double image_decode; /* decoding work, wherever it ran */
    double image_wait;   /* the part of it the run waited for (all of it without prefetching) */
    double preprocess, inference, decode_nms, coco_eval, wall;
    int prefetch;        /* images decoded on a spare core during inference */
} eval_timing;

static int parse_args(int argc, char **argv, eval_args *a) {
    enum { OPT_IDS = 256, OPT_IMGSZ, OPT_IOU, OPT_MAXDET, OPT_TOPK, OPT_CONTRACT, OPT_WARMUP, OPT_SKIP };
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
        {"out", required_argument, 0, 'o'},
        {"detections-out", required_argument, 0, 'd'},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->warmup = 1;
    yq_detector_opts_default(&a->det);
    a->det.decode.conf = 0.001f; /* the mAP convention: keep nearly everything, let the protocol rank it */
    a->det.decode.iou = 0.7f;
    a->det.decode.max_det = 300;
    a->det.decode.max_nms = 30000;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:i:n:c:t:o:d:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': a->ann = optarg; break;
        case 'i': a->images_dir = optarg; break;
        case 'n': if (cli_parse_int("eval", "--max-images", optarg, 1, 100000000, &a->max_images)) return CLI_USAGE; break;
        case OPT_IDS: a->image_ids_path = optarg; break;
        case OPT_IMGSZ: if (cli_parse_int("eval", "--imgsz", optarg, 1, 16384, &a->imgsz)) return CLI_USAGE; break;
        case 'c': if (cli_parse_float("eval", "--conf", optarg, 0.0, 1.0, &a->det.decode.conf)) return CLI_USAGE; break;
        case OPT_IOU: if (cli_parse_float("eval", "--iou", optarg, 0.0, 1.0, &a->det.decode.iou)) return CLI_USAGE; break;
        case OPT_MAXDET:
            if (cli_parse_int("eval", "--max-det", optarg, 1, 100000, &a->det.decode.max_det)) return CLI_USAGE;
            break;
        case OPT_TOPK:
            if (cli_parse_int("eval", "--pre-nms-topk", optarg, 1, 100000000, &a->det.decode.max_nms)) return CLI_USAGE;
            break;
        case OPT_CONTRACT: {
            int k = yq_yolo_contract_parse(optarg);
            if (k < 0) return cli_usage("eval", "--contract must be auto, end2end, xywh or dfl, got '%s'", optarg);
            a->det.decode.contract = (yq_yolo_contract)k;
            break;
        }
        case OPT_WARMUP: if (cli_parse_int("eval", "--warmup", optarg, 0, 1000, &a->warmup)) return CLI_USAGE; break;
        case OPT_SKIP:
            if (cli_parse_int("eval", "--skip-latency", optarg, 0, 100000000, &a->skip_latency)) return CLI_USAGE;
            break;
        case 't': if (cli_parse_int("eval", "--threads", optarg, 1, 256, &a->det.nthreads)) return CLI_USAGE; break;
        case 'o': a->out = optarg; break;
        case 'd': a->dets_out = optarg; break;
        case 'v': a->verbose = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': cmd_eval_help(stdout); return -1;
        default: return cli_usage("eval", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("eval", "expects exactly one MODEL.onnx");
    a->model = argv[optind];
    if (!a->ann) return cli_usage("eval", "--ann INSTANCES.json is required");
    if (!a->images_dir) return cli_usage("eval", "--images DIR is required");
    if (a->max_images && a->image_ids_path) return cli_usage("eval", "--max-images and --image-ids exclude each other");
    if (a->out && a->dets_out && !strcmp(a->out, a->dets_out))
        return cli_usage("eval", "--out and --detections-out name the same file '%s'", a->out);
    if ((a->out && !strcmp(a->out, "-")) || (a->dets_out && !strcmp(a->dets_out, "-")))
        return cli_usage("eval", "--out and --detections-out need file names ('-' is not supported)");
    return CLI_OK;
}

/* Fail now, not after an hour of inference, when an output cannot be created. */
static yq_status probe_writable(const char *path) {
    if (!path) return YQ_OK;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return yq_fail(YQ_ERR_IO, "%s: is a folder, not a file", path);
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    yq_atomic_abort(&af);
    return YQ_OK;
}

/* The evaluated images: ids in evaluation order and their files. */
typedef struct selection {
    int64_t *ids;
    char **paths;
    size_t n;
} selection;

static void selection_free(selection *s) {
    for (size_t i = 0; s->paths && i < s->n; i++) free(s->paths[i]);
    free(s->paths);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static yq_status select_images(const eval_args *a, const yq_coco_gt *gt, selection *sel) {
    memset(sel, 0, sizeof *sel);
    size_t nall = yq_coco_gt_num_images(gt);
    if (nall == 0) return yq_fail(YQ_ERR_INVALID, "%s: lists no images", a->ann);
    if (a->image_ids_path) {
        YQ_TRY(yq_image_ids_load(a->image_ids_path, &sel->ids, &sel->n));
        for (size_t i = 0; i < sel->n; i++)
            if (yq_coco_gt_find_image(gt, sel->ids[i]) < 0) {
                yq_status st = yq_fail(YQ_ERR_INVALID, "%s: image id %lld is not an image of %s", a->image_ids_path,
                                       (long long)sel->ids[i], a->ann);
                selection_free(sel);
                return st;
            }
    } else {
        sel->n = a->max_images > 0 && (size_t)a->max_images < nall ? (size_t)a->max_images : nall;
        sel->ids = yq_malloc(sel->n * sizeof *sel->ids);
        if (!sel->ids) return YQ_ERR_NOMEM;
        for (size_t i = 0; i < sel->n; i++) sel->ids[i] = yq_coco_gt_image(gt, i)->id; /* ascending id order */
    }
    sel->paths = yq_calloc(sel->n, sizeof *sel->paths);
    if (!sel->paths) {
        selection_free(sel);
        return YQ_ERR_NOMEM;
    }
    /* Every file must be there before the model starts: a missing image found after
     * most of a long run would waste it. */
    for (size_t i = 0; i < sel->n; i++) {
        const yq_coco_image *im = yq_coco_gt_image(gt, (size_t)yq_coco_gt_find_image(gt, sel->ids[i]));
        yq_status st = YQ_OK;
        if (!im->file_name[0])
            st = yq_fail(YQ_ERR_INVALID, "%s: image %lld has no file_name", a->ann, (long long)im->id);
        else if (asprintf(&sel->paths[i], "%s/%s", a->images_dir, im->file_name) < 0) {
            sel->paths[i] = NULL;
            st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        } else {
            struct stat sb;
            if (stat(sel->paths[i], &sb) != 0)
                st = yq_fail(YQ_ERR_IO, "%s: image %lld of %s is missing: %s", sel->paths[i], (long long)im->id,
                             a->ann, strerror(errno));
            else if (!S_ISREG(sb.st_mode))
                st = yq_fail(YQ_ERR_IO, "%s: image %lld of %s is not a regular file", sel->paths[i],
                             (long long)im->id, a->ann);
        }
        if (st != YQ_OK) {
            selection_free(sel);
            return st;
        }
    }
    return YQ_OK;
}

/* Growable array of COCO results. */
typedef struct det_list {
    yq_coco_det *v;
    size_t n, cap;
} det_list;

static yq_status det_list_reserve(det_list *l, size_t more) {
    if (l->n + more <= l->cap) return YQ_OK;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < l->n + more) cap *= 2;
    yq_coco_det *v = yq_realloc(l->v, cap * sizeof *v);
    if (!v) return YQ_ERR_NOMEM;
    l->v = v;
    l->cap = cap;
    return YQ_OK;
}

/* Room for every image's max_det detections at once (at most 1 GiB): pages are
 * touched only as detections arrive, so the resident memory grows by the
 * detections themselves, not also by the copies that doubling leaves in the
 * heap. Best effort: when that much address space is refused, grow as needed. */
static void det_list_presize(det_list *l, size_t nimages, int max_det) {
    size_t per = max_det > 0 ? (size_t)max_det : 1, most = ((size_t)1 << 30) / sizeof(yq_coco_det);
    size_t want = nimages > most / per ? most : nimages * per;
    if (want <= l->cap) return;
    yq_coco_det *v = realloc(l->v, want * sizeof *v);
    if (!v) return;
    l->v = v;
    l->cap = want;
}

/* Image decoding of the next image, on a spare core while the model runs on
 * the current one. Used only when the model's threads leave a core idle: with
 * every core busy it would only move the decoding time into the inference time
 * (and blur the latency figures). */
typedef struct image_job {
    const char *path;
    yq_image img;
    yq_status st;
    char err[1024]; /* the loader's message: error messages are per thread */
    double ms;      /* decoding time, on whichever thread did it */
    pthread_t thread;
    int started, running;
} image_job;

static void image_job_load(image_job *j) {
    double t0 = cli_now_ms();
    j->st = yq_image_load(j->path, &j->img);
    j->ms = cli_now_ms() - t0;
    if (j->st != YQ_OK) snprintf(j->err, sizeof j->err, "%s", yq_last_error());
}

static void *image_job_main(void *arg) {
    image_job_load(arg);
    return NULL;
}

/* Load `path` on a new thread, or right here when background is 0 or no thread can be had. */
static void image_job_start(image_job *j, const char *path, int background) {
    memset(j, 0, sizeof *j);
    j->path = path;
    j->started = 1;
    if (background && pthread_create(&j->thread, NULL, image_job_main, j) == 0) j->running = 1;
    else image_job_load(j);
}

/* Wait for the job; its status comes back with its message set on this thread. */
static yq_status image_job_finish(image_job *j) {
    if (j->running) pthread_join(j->thread, NULL);
    j->running = 0;
    j->started = 0;
    if (j->st != YQ_OK) {
        yq_image_free(&j->img);
        return yq_fail(j->st, "%s", j->err);
    }
    return YQ_OK;
}

/* Run the detector on every selected image and collect COCO results. */
static yq_status run_images(const eval_args *a, yq_detector *det, const selection *sel, const int *cat_ids,
                            size_t ncat, int prefetch, det_list *out, double *infer_samples, eval_timing *tm) {
    cli_progress prog;
    cli_progress_start(&prog, "eval", (int64_t)sel->n, a->quiet);
    yq_status st = YQ_OK;
    image_job job[2];
    memset(job, 0, sizeof job);
    for (size_t i = 0; i < sel->n; i++) {
        image_job *cur = &job[i % 2], *next = &job[(i + 1) % 2];
        double t0 = cli_now_ms();
        if (!cur->started) image_job_start(cur, sel->paths[i], 0);
        st = image_job_finish(cur);
        double t1 = cli_now_ms();
        if (st != YQ_OK) break;
        tm->image_decode += cur->ms;
        tm->image_wait += t1 - t0; /* what the run waited for: all of it, unless prefetched */
        if (prefetch && i + 1 < sel->n) image_job_start(next, sel->paths[i + 1], 1);
        yq_det *dets = NULL;
        int n = 0;
        yq_detect_timing dt;
        st = yq_detector_detect(det, &cur->img, &dets, &n, &dt);
        yq_image_free(&cur->img);
        double t2 = cli_now_ms();
        if (st == YQ_OK) st = det_list_reserve(out, (size_t)n);
        if (st == YQ_OK) st = yq_coco_dets_from_yolo(dets, n, sel->ids[i], cat_ids, ncat, out->v + out->n);
        if (st == YQ_OK) out->n += (size_t)n;
        free(dets);
        double t3 = cli_now_ms();
        if (st != YQ_OK) break;
        tm->preprocess += dt.preprocess_ms;
        tm->inference += dt.infer_ms;
        /* whatever detect spent beyond its three parts (little) counts with decoding */
        tm->decode_nms += (t2 - t1) - dt.preprocess_ms - dt.infer_ms + (t3 - t2);
        infer_samples[i] = dt.infer_ms;
        cli_progress_update(&prog, (int64_t)i + 1);
    }
    for (int k = 0; k < 2; k++) { /* after a failure: leave no thread or image behind */
        if (job[k].running) pthread_join(job[k].thread, NULL);
        yq_image_free(&job[k].img);
    }
    if (st == YQ_OK) cli_progress_finish(&prog);
    else if (prog.enabled) fputc('\n', stderr); /* end the bar's line before the error */
    return st;
}

static yq_status warm_up(const eval_args *a, yq_detector *det, const char *path) {
    if (a->warmup <= 0) return YQ_OK;
    yq_image img = {0};
    YQ_TRY(yq_image_load(path, &img));
    yq_status st = YQ_OK;
    for (int r = 0; r < a->warmup && st == YQ_OK; r++) {
        yq_det *dets = NULL;
        int n = 0;
        st = yq_detector_detect(det, &img, &dets, &n, NULL);
        free(dets);
    }
    yq_image_free(&img);
    return st;
}

static size_t count_annotations(const yq_coco_gt *gt, const selection *sel, size_t *ncrowd) {
    /* membership by sorted ids: annotations are in file order */
    size_t nimg = yq_coco_gt_num_images(gt), total = 0;
    unsigned char *chosen = calloc(nimg ? nimg : 1, 1);
    *ncrowd = 0;
    if (!chosen) return 0;
    for (size_t i = 0; i < sel->n; i++) chosen[yq_coco_gt_find_image(gt, sel->ids[i])] = 1;
    for (size_t j = 0; j < yq_coco_gt_num_annotations(gt); j++) {
        const yq_coco_annotation *an = yq_coco_gt_annotation(gt, j);
        ptrdiff_t k = yq_coco_gt_find_image(gt, an->image_id);
        if (k >= 0 && chosen[k]) {
            total++;
            *ncrowd += an->iscrowd != 0;
        }
    }
    free(chosen);
    return total;
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

/* Members added to the eval-layer metrics document; a NULL return of any add
 * is caught by the single check at the end (cJSON_Add* return NULL on failure). */
typedef struct json_adder {
    int failed;
} json_adder;

static void put_num(json_adder *j, cJSON *obj, const char *key, double v) {
    cJSON *item = obj ? yq_json_create_number(v) : NULL;
    if (!item || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        j->failed = 1;
    }
}
static void put_str(json_adder *j, cJSON *obj, const char *key, const char *v) {
    if (!obj || !cJSON_AddStringToObject(obj, key, v)) j->failed = 1;
}
static cJSON *put_obj(json_adder *j, cJSON *obj, const char *key) {
    cJSON *o = obj ? cJSON_AddObjectToObject(obj, key) : NULL;
    if (!o) j->failed = 1;
    return o;
}

/* The shortest decimal that reads back to this float: options are recorded as
 * given (0.001), not as the float's exact binary value (0.0010000000474974513). */
static double float_as_decimal(float f) {
    char buf[32];
    for (int digits = 1; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

static cJSON *build_metrics(const eval_args *a, yq_detector *det, const char *sha, const yq_coco_gt *gt,
                            const selection *sel, const yq_coco_result *res, size_t ndets,
                            const yq_latency_stats *lat, const eval_timing *tm) {
    yq_metrics_doc doc = {.model = a->model, .gt_path = a->ann, .dets_path = a->dets_out,
                          .coco = res, .gt = gt, .latency = lat};
    cJSON *root = yq_metrics_to_json(&doc);
    if (!root) return NULL;
    json_adder j = {0};
    put_str(&j, root, "model_sha256", sha);
    put_str(&j, root, "images_dir", a->images_dir);
    if (a->image_ids_path) put_str(&j, root, "image_ids", a->image_ids_path);

    cJSON *counts = put_obj(&j, root, "counts");
    size_t ncrowd = 0, nann = count_annotations(gt, sel, &ncrowd);
    put_num(&j, counts, "images", (double)sel->n);
    put_num(&j, counts, "annotations", (double)nann);
    put_num(&j, counts, "crowd_annotations", (double)ncrowd);
    put_num(&j, counts, "detections", (double)ndets);

    const yq_yolo_opts *d = &a->det.decode;
    cJSON *opts = put_obj(&j, root, "options");
    put_num(&j, opts, "imgsz", yq_detector_input_w(det));
    put_num(&j, opts, "conf", float_as_decimal(d->conf));
    put_num(&j, opts, "iou", float_as_decimal(d->iou));
    put_num(&j, opts, "max_det", d->max_det);
    put_num(&j, opts, "pre_nms_topk", d->max_nms);
    put_str(&j, opts, "contract", yq_yolo_contract_name(d->contract));
    if (a->max_images) put_num(&j, opts, "max_images", a->max_images);
    put_num(&j, opts, "warmup", a->warmup);
    put_num(&j, opts, "skip_latency", a->skip_latency);

    cJSON *rt = put_obj(&j, root, "runtime");
    put_str(&j, rt, "yoloq", "yoloq " YOLOQ_VERSION);
    put_num(&j, rt, "threads", yq_session_nthreads(yq_detector_session(det)));
    put_str(&j, rt, "contract", yq_yolo_contract_name(yq_detector_contract(det)));
    const double hw[2] = {yq_detector_input_h(det), yq_detector_input_w(det)};
    cJSON *input = cJSON_CreateDoubleArray(hw, 2);
    if (!input || !rt || !cJSON_AddItemToObject(rt, "input_hw", input)) {
        cJSON_Delete(input);
        j.failed = 1;
    }

    /* The time split of the run's wall time. Image decoding may overlap inference
     * (prefetched on a spare core): image_decode_ms is the decoding work,
     * image_wait_ms the part the run waited for. "non_inference_fraction" is
     * what the per-image work other than the model (image decoding waited for,
     * letterbox, output decoding + NMS, COCO matching) costs as a share of the
     * wall time; setup and warm-up are one-off costs, reported apart. */
    cJSON *t = put_obj(&j, root, "timing");
    put_num(&j, t, "wall_ms", tm->wall);
    put_num(&j, t, "setup_ms", tm->setup);
    put_num(&j, t, "warmup_ms", tm->warmup);
    put_num(&j, t, "image_decode_ms", tm->image_decode);
    put_num(&j, t, "image_wait_ms", tm->image_wait);
    if (!t || !cJSON_AddBoolToObject(t, "image_prefetch", tm->prefetch)) j.failed = 1;
    put_num(&j, t, "preprocess_ms", tm->preprocess);
    put_num(&j, t, "inference_ms", tm->inference);
    put_num(&j, t, "decode_nms_ms", tm->decode_nms);
    put_num(&j, t, "coco_eval_ms", tm->coco_eval);
    double non_inf = tm->image_wait + tm->preprocess + tm->decode_nms + tm->coco_eval;
    put_num(&j, t, "other_ms", tm->wall - (tm->setup + tm->warmup + tm->inference + non_inf));
    put_num(&j, t, "non_inference_fraction", tm->wall > 0 ? non_inf / tm->wall : 0);
    put_num(&j, t, "inference_fraction", tm->wall > 0 ? tm->inference / tm->wall : 0);
    if (j.failed) {
        cJSON_Delete(root);
        yq_fail(YQ_ERR_NOMEM, "out of memory building the metrics JSON");
        return NULL;
    }
    return root;
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == -1) return CLI_OK; /* --help */
    if (rc != CLI_OK) return rc;
    eval_timing tm = {0};
    const double t_start = cli_now_ms();

    yq_coco_gt *gt = NULL;
    selection sel = {0};
    int *cat_ids = NULL;
    size_t ncat = 0;
    yq_detector *det = NULL;
    det_list dets = {0};
    double *infer_samples = NULL;
    yq_coco_result res = {0};
    int have_res = 0;
    cJSON *metrics = NULL;
    char sha[YQ_SHA256_HEX_BYTES] = "";

    /* Setup: everything that can be wrong with the inputs is found here, before
     * the long part, and nothing has been written yet. */
    yq_status st = probe_writable(a.out);
    if (st == YQ_OK) st = probe_writable(a.dets_out);
    if (st == YQ_OK) st = yq_coco_gt_load(a.ann, &gt);
    if (st == YQ_OK) st = select_images(&a, gt, &sel);
    if (st == YQ_OK && (st = yq_coco_class_map(gt, &cat_ids, &ncat)) != YQ_OK) st = yq_fail_prefix(st, "%s", a.ann);
    if (st == YQ_OK && (size_t)a.skip_latency >= sel.n) {
        rc = cli_usage("eval", "--skip-latency %d leaves no latency samples of the %zu selected images",
                       a.skip_latency, sel.n);
        goto done;
    }
    if (st == YQ_OK) st = yq_sha256_file(a.model, sha);
    if (st == YQ_OK) st = yq_detector_open(a.model, &a.det, &det);
    if (st == YQ_OK && a.imgsz &&
        (a.imgsz != yq_detector_input_w(det) || a.imgsz != yq_detector_input_h(det)))
        st = yq_fail(YQ_ERR_ARG,
                     "%s: the model's input is %dx%d (fixed when it was exported); --imgsz %d would need a model "
                     "exported at that size",
                     a.model, yq_detector_input_w(det), yq_detector_input_h(det), a.imgsz);
    if (st == YQ_OK && yq_detector_num_classes(det) > (int)ncat)
        st = yq_fail(YQ_ERR_INVALID, "%s: the model has %d classes but %s lists only %zu categories", a.model,
                     yq_detector_num_classes(det), a.ann, ncat);
    if (st == YQ_OK) {
        a.det.decode.contract = yq_detector_contract(det); /* as resolved, for the metrics file */
        infer_samples = yq_calloc(sel.n, sizeof *infer_samples);
        if (!infer_samples) st = YQ_ERR_NOMEM;
    }
#ifdef __GLIBC__
    /* The annotation file's JSON tree (about 6x the file) is freed by now, but
     * glibc keeps freed heap pages resident: hand them back, so the long run's
     * resident memory is what it uses (and growth per image shows). */
    malloc_trim(0);
#endif
    tm.setup = cli_now_ms() - t_start;

    if (st == YQ_OK) {
        double t0 = cli_now_ms();
        st = warm_up(&a, det, sel.paths[0]);
        tm.warmup = cli_now_ms() - t0;
    }
    if (st == YQ_OK) {
        tm.prefetch = yq_session_nthreads(yq_detector_session(det)) < yq_cpu_count() && sel.n > 1;
        det_list_presize(&dets, sel.n, a.det.decode.max_det);
        st = run_images(&a, det, &sel, cat_ids, ncat, tm.prefetch, &dets, infer_samples, &tm);
    }
    if (st == YQ_OK) {
        double t0 = cli_now_ms();
        st = yq_coco_evaluate(gt, sel.ids, sel.n, dets.v, dets.n, &res);
        tm.coco_eval = cli_now_ms() - t0;
        have_res = st == YQ_OK;
    }
    yq_latency_stats lat = {0};
    if (st == YQ_OK) st = yq_latency_compute(infer_samples, sel.n, (size_t)a.skip_latency, 1.0, &lat);
    tm.wall = cli_now_ms() - t_start;
    if (st != YQ_OK) {
        rc = cli_fail(st);
        goto done;
    }

    print_stats(&res);
    printf("yoloq eval: %s on %zu images, %zu detections: mAP50-95 %.4f  mAP50 %.4f  | inference %.1f ms/img "
           "median (%.1f img/s), wall %.1f s\n",
           a.model, sel.n, dets.n, res.stats[YQ_COCO_AP], res.stats[YQ_COCO_AP50], lat.median_ms,
           lat.throughput_per_s, tm.wall / 1000.0);
    if (a.verbose) {
        double w = tm.wall > 0 ? tm.wall / 100.0 : 1;
        printf("time split: setup %.1f%%, warm-up %.1f%%, image decode %.1f%%%s, letterbox %.1f%%, "
               "inference %.1f%%, decode+NMS %.1f%%, COCO matching %.1f%% of %.1f s\n",
               tm.setup / w, tm.warmup / w, tm.image_wait / w, tm.prefetch ? " (waited for; prefetched)" : "",
               tm.preprocess / w, tm.inference / w, tm.decode_nms / w, tm.coco_eval / w, tm.wall / 1000.0);
        print_per_class(&res, gt);
    }
    fflush(stdout);

    /* Outputs last: the detections, then the metrics that name them. */
    if (a.dets_out) {
        st = yq_coco_dets_save(a.dets_out, dets.v, dets.n);
        if (st != YQ_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    if (a.out) {
        metrics = build_metrics(&a, det, sha, gt, &sel, &res, dets.n, &lat, &tm);
        st = metrics ? yq_json_write_atomic(a.out, metrics) : YQ_ERR_NOMEM;
        if (st != YQ_OK) {
            if (a.dets_out) remove(a.dets_out); /* all outputs or none */
            rc = cli_fail(st);
            goto done;
        }
    }
    rc = CLI_OK;
done:
    cJSON_Delete(metrics);
    if (have_res) yq_coco_result_free(&res);
    free(infer_samples);
    free(dets.v);
    yq_detector_free(det);
    free(cat_ids);
    selection_free(&sel);
    yq_coco_gt_free(gt);
    return rc;
}
