/* One COCO evaluation (see eval_run.h); the body of `yoloq eval`. */
#include "eval/eval_run.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/atomic_file.h"
#include "core/pool.h"
#include "eval/image_ids.h"
#include "eval/json_io.h"
#include "eval/metrics_json.h"
#include "eval/yolo_to_coco.h"

double yq_eval_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void yq_eval_opts_default(yq_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->warmup = 1;
    yq_detector_opts_default(&o->det);
    o->det.decode.conf = 0.001f; /* the mAP convention: keep nearly everything, let the protocol rank it */
    o->det.decode.iou = 0.7f;
    o->det.decode.max_det = 300;
    o->det.decode.max_nms = 30000;
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

static void selection_free(yq_eval_run *s) {
    for (size_t i = 0; s->paths && i < s->n; i++) free(s->paths[i]);
    free(s->paths);
    free(s->ids);
    s->paths = NULL;
    s->ids = NULL;
    s->n = 0;
}

static yq_status select_images(const yq_eval_opts *a, const yq_coco_gt *gt, yq_eval_run *sel) {
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
static yq_status det_list_reserve(yq_eval_run *l, size_t more) {
    if (l->ndets + more <= l->dets_cap) return YQ_OK;
    size_t cap = l->dets_cap ? l->dets_cap : 4096;
    while (cap < l->ndets + more) cap *= 2;
    yq_coco_det *v = yq_realloc(l->dets, cap * sizeof *v);
    if (!v) return YQ_ERR_NOMEM;
    l->dets = v;
    l->dets_cap = cap;
    return YQ_OK;
}

/* Room for every image's max_det detections at once (at most 1 GiB): pages are
 * touched only as detections arrive, so the resident memory grows by the
 * detections themselves, not also by the copies that doubling leaves in the
 * heap. Best effort: when that much address space is refused, grow as needed. */
static void det_list_presize(yq_eval_run *l, size_t nimages, int max_det) {
    size_t per = max_det > 0 ? (size_t)max_det : 1, most = ((size_t)1 << 30) / sizeof(yq_coco_det);
    size_t want = nimages > most / per ? most : nimages * per;
    if (want <= l->dets_cap) return;
    yq_coco_det *v = yq_realloc(l->dets, want * sizeof *v);
    if (!v) return;
    l->dets = v;
    l->dets_cap = want;
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
    double t0 = yq_eval_now_ms();
    j->st = yq_image_load(j->path, &j->img);
    j->ms = yq_eval_now_ms() - t0;
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
static yq_status run_images(yq_eval_run *sel) {
    const yq_eval_opts *a = &sel->opts;
    yq_detector *det = sel->det;
    const int *cat_ids = sel->cat_ids;
    size_t ncat = sel->ncat;
    int prefetch = sel->timing.prefetch;
    yq_eval_run *out = sel;
    double *infer_samples = sel->infer_samples;
    yq_eval_timing *tm = &sel->timing;
    yq_status st = YQ_OK;
    image_job job[2];
    memset(job, 0, sizeof job);
    for (size_t i = 0; i < sel->n; i++) {
        image_job *cur = &job[i % 2], *next = &job[(i + 1) % 2];
        double t0 = yq_eval_now_ms();
        if (!cur->started) image_job_start(cur, sel->paths[i], 0);
        st = image_job_finish(cur);
        double t1 = yq_eval_now_ms();
        if (st != YQ_OK) break;
        tm->image_decode += cur->ms;
        tm->image_wait += t1 - t0; /* what the run waited for: all of it, unless prefetched */
        if (prefetch && i + 1 < sel->n) image_job_start(next, sel->paths[i + 1], 1);
        yq_det *dets = NULL;
        int n = 0;
        yq_detect_timing dt;
        st = yq_detector_detect(det, &cur->img, &dets, &n, &dt);
        yq_image_free(&cur->img);
        double t2 = yq_eval_now_ms();
        if (st == YQ_OK) st = det_list_reserve(out, (size_t)n);
        if (st == YQ_OK) st = yq_coco_dets_from_yolo(dets, n, sel->ids[i], cat_ids, ncat, out->dets + out->ndets);
        if (st == YQ_OK) out->ndets += (size_t)n;
        free(dets);
        double t3 = yq_eval_now_ms();
        if (st != YQ_OK) break;
        tm->preprocess += dt.preprocess_ms;
        tm->inference += dt.infer_ms;
        /* whatever detect spent beyond its three parts (little) counts with decoding */
        tm->decode_nms += (t2 - t1) - dt.preprocess_ms - dt.infer_ms + (t3 - t2);
        infer_samples[i] = dt.infer_ms;
        if (a->progress) a->progress(a->progress_arg, (int64_t)i + 1, (int64_t)sel->n);
    }
    for (int k = 0; k < 2; k++) { /* after a failure: leave no thread or image behind */
        if (job[k].running) pthread_join(job[k].thread, NULL);
        yq_image_free(&job[k].img);
    }
    return st;
}

static yq_status warm_up(const yq_eval_opts *a, yq_detector *det, const char *path) {
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

static size_t count_annotations(const yq_coco_gt *gt, const yq_eval_run *sel, size_t *ncrowd) {
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

cJSON *yq_eval_metrics_json(const yq_eval_run *sel) {
    const yq_eval_opts *a = &sel->opts;
    yq_detector *det = sel->det;
    const char *sha = sel->model_sha256;
    const yq_coco_gt *gt = sel->gt;
    const yq_coco_result *res = &sel->res;
    size_t ndets = sel->ndets;
    const yq_latency_stats *lat = &sel->latency;
    const yq_eval_timing *tm = &sel->timing;
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
    /* score spread and duplicates (det_stats.h): what an NMS-free head's quantization disturbs */
    cJSON *levels = cJSON_AddArrayToObject(root, "detections_by_score");
    if (!levels) j.failed = 1;
    for (int l = 0; l < YQ_DET_STATS_LEVELS && levels; l++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(levels, e)) {
            cJSON_Delete(e);
            j.failed = 1;
            break;
        }
        put_num(&j, e, "score_above", yq_det_stats_levels[l]);
        put_num(&j, e, "detections", (double)sel->det_stats.above[l]);
        put_num(&j, e, "duplicates", (double)sel->det_stats.duplicates[l]);
        /* against the ground truth (det_errors.h) */
        const yq_det_errors *de = &sel->det_errors[l];
        cJSON *kinds = put_obj(&j, e, "kinds");
        for (int k = 0; k < YQ_DE_NKINDS && kinds; k++) put_num(&j, kinds, yq_det_error_names[k], (double)de->count[k]);
        put_num(&j, e, "objects_missed", (double)de->missed);
    }

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
    const char *ort_version = yq_detector_ort_version(det);
    if (ort_version) {
        /* the model ran in ONNX Runtime: yoloq's conv engines did not run */
        put_str(&j, rt, "engine", "ort");
        put_str(&j, rt, "onnxruntime", ort_version);
    } else {
        put_str(&j, rt, "engine", a->det.engine == YQ_ENGINE_FAKEQUANT ? "fakequant" : "auto");
        const yq_conv_engines ce = yq_session_conv_engines(yq_detector_session(det));
        cJSON *convs = put_obj(&j, rt, "convs");
        put_num(&j, convs, "integer", ce.integer);
        put_num(&j, convs, "weight_only", ce.weight_only);
        put_num(&j, convs, "fakequant", ce.fakequant);
        put_num(&j, convs, "float", ce.floating);
    }
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

yq_status yq_eval_setup(const yq_eval_opts *o, yq_eval_run *run) {
    memset(run, 0, sizeof *run);
    run->opts = *o;
    run->t_start = yq_eval_now_ms();
    const yq_eval_opts *a = &run->opts;
    /* Everything that can be wrong with the inputs is found here, before the
     * long part, and nothing has been written yet. */
    yq_status st = probe_writable(a->out);
    if (st == YQ_OK) st = probe_writable(a->dets_out);
    if (st == YQ_OK) st = yq_coco_gt_load(a->ann, &run->gt);
    if (st == YQ_OK) st = select_images(a, run->gt, run);
    if (st == YQ_OK && (st = yq_coco_class_map(run->gt, &run->cat_ids, &run->ncat)) != YQ_OK)
        st = yq_fail_prefix(st, "%s", a->ann);
    /* the caller's checks on the selection (yoloq eval: --skip-latency) come
     * before the model is read, as they always did */
    return st;
}

yq_status yq_eval_open_model(yq_eval_run *run) {
    const yq_eval_opts *a = &run->opts;
    yq_status st = yq_sha256_file(a->model, run->model_sha256);
    if (st == YQ_OK) st = yq_detector_open(a->model, &a->det, &run->det);
    yq_detector *det = run->det;
    if (st == YQ_OK && a->imgsz &&
        (a->imgsz != yq_detector_input_w(det) || a->imgsz != yq_detector_input_h(det)))
        st = yq_fail(YQ_ERR_ARG,
                     "%s: the model's input is %dx%d (fixed when it was exported); --imgsz %d would need a model "
                     "exported at that size",
                     a->model, yq_detector_input_w(det), yq_detector_input_h(det), a->imgsz);
    if (st == YQ_OK && yq_detector_num_classes(det) > (int)run->ncat)
        st = yq_fail(YQ_ERR_INVALID, "%s: the model has %d classes but %s lists only %zu categories", a->model,
                     yq_detector_num_classes(det), a->ann, run->ncat);
    if (st == YQ_OK) {
        run->opts.det.decode.contract = yq_detector_contract(det); /* as resolved, for the metrics file */
        run->infer_samples = yq_calloc(run->n, sizeof *run->infer_samples);
        if (!run->infer_samples) st = YQ_ERR_NOMEM;
    }
#ifdef __GLIBC__
    /* The annotation file's JSON tree (about 6x the file) is freed by now, but
     * glibc keeps freed heap pages resident: hand them back, so the long run's
     * resident memory is what it uses (and growth per image shows). */
    malloc_trim(0);
#endif
    run->timing.setup = yq_eval_now_ms() - run->t_start;
    return st;
}

yq_status yq_eval_execute(yq_eval_run *run) {
    const yq_eval_opts *a = &run->opts;
    yq_eval_timing *tm = &run->timing;
    if (!run->det) YQ_TRY(yq_eval_open_model(run));
    if ((size_t)a->skip_latency >= run->n)
        return yq_fail(YQ_ERR_ARG, "skip_latency %d leaves no latency samples of the %zu selected images",
                       a->skip_latency, run->n);
    double t0 = yq_eval_now_ms();
    yq_status st = warm_up(a, run->det, run->paths[0]);
    tm->warmup = yq_eval_now_ms() - t0;
    if (st == YQ_OK) {
        tm->prefetch = yq_session_nthreads(yq_detector_session(run->det)) < yq_cpu_count() && run->n > 1;
        det_list_presize(run, run->n, a->det.decode.max_det);
        st = run_images(run);
    }
    if (st == YQ_OK) {
        t0 = yq_eval_now_ms();
        st = yq_coco_evaluate(run->gt, run->ids, run->n, run->dets, run->ndets, &run->res);
        tm->coco_eval = yq_eval_now_ms() - t0;
        run->have_res = st == YQ_OK;
    }
    if (st == YQ_OK) st = yq_det_stats_compute(run->dets, run->ndets, &run->det_stats);
    if (st == YQ_OK)
        st = yq_det_errors_compute(run->gt, run->ids, run->n, run->dets, run->ndets, yq_det_stats_levels, YQ_DET_STATS_LEVELS,
                                   run->det_errors);
    if (st == YQ_OK) st = yq_latency_compute(run->infer_samples, run->n, (size_t)a->skip_latency, 1.0, &run->latency);
    tm->wall = yq_eval_now_ms() - run->t_start;
    return st;
}

void yq_eval_run_free(yq_eval_run *run) {
    if (run->have_res) yq_coco_result_free(&run->res);
    free(run->infer_samples);
    free(run->dets);
    yq_detector_free(run->det);
    free(run->cat_ids);
    selection_free(run);
    yq_coco_gt_free(run->gt);
    memset(run, 0, sizeof *run);
}
