/* The pipeline driver (see pipeline.h): steps, resume records, the bundle. */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "detect/detector.h"
#include "eval/coco_json.h"
#include "eval/eval_run.h"
#include "eval/json_io.h"
#include "onnx/onnx.h"
#include "pipeline/env.h"
#include "pipeline/ort_check.h"
#include "pipeline/plots.h"
#include "pipeline/summary.h"
#include "quant/finetune.h"
#include "quant/fp16.h"
#include "quant/quantize_file.h"
#include "quant/sensitivity.h"
#include "quant/sensitivity_json.h"
#include "report/chart.h"
#include "rt/prepare.h"
#include "vision/letterbox.h"
#include "yq_build_info.h"

const char yq_pipeline_default_variants[] = "baseline,w8a16,w8a8,w4a16,w4a8";

void yq_pipeline_opts_default(yq_pipeline_opts *o) {
    memset(o, 0, sizeof *o);
    o->ort_images = 5;
    o->ort_eval = 1;
    o->sample_images = 4;
    o->sensitivity_images = 16;
}

/* ---- variants ------------------------------------------------------------------------------------ */

typedef struct variant_def {
    const char *name;
    int wbits, abits; /* 0 bits: the baseline */
    int qat;          /* fine-tuned from the PTQ variant of the same bits (yoloq finetune) */
} variant_def;

static const variant_def known_variants[] = {
    {"baseline", 0, 0, 0}, {"w8a16", 8, 0, 0},     {"w8a8", 8, 8, 0},    {"w4a16", 4, 0, 0},
    {"w4a8", 4, 8, 0},     {"w4a16-qat", 4, 0, 1}, {"w4a8-qat", 4, 8, 1}};
#define NKNOWN ((int)(sizeof known_variants / sizeof known_variants[0]))

/* Parse the list into indices of known_variants (each at most once). */
static yq_status parse_variants(const char *list, int *idx, int *n) {
    *n = 0;
    if (!list || !*list) return yq_fail(YQ_ERR_ARG, "the variant list is empty");
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int k = 0; k < NKNOWN; k++)
            if (strlen(known_variants[k].name) == len && !strncmp(p, known_variants[k].name, len)) found = k;
        if (found < 0) {
            if (len > 4 && !strncmp(p + len - 4, "-qat", 4))
                return yq_fail(YQ_ERR_ARG, "variant '%.*s': quantization-aware training exists for w4a16-qat and "
                                           "w4a8-qat", (int)len, p);
            return yq_fail(YQ_ERR_ARG, "unknown variant '%.*s' (known: %s)", (int)len, p,
                           yq_pipeline_default_variants);
        }
        for (int i = 0; i < *n; i++)
            if (idx[i] == found) return yq_fail(YQ_ERR_ARG, "variant '%.*s' is listed twice", (int)len, p);
        idx[(*n)++] = found;
        p += len;
        if (*p == ',') p++;
    }
    return YQ_OK;
}

yq_status yq_pipeline_parse_variants(const char *list, int *count) {
    int idx[NKNOWN * 4], n = 0;
    if (list && strlen(list) > 256) return yq_fail(YQ_ERR_ARG, "the variant list is too long");
    YQ_TRY(parse_variants(list, idx, &n));
    if (count) *count = n;
    return YQ_OK;
}

/* ---- the run ------------------------------------------------------------------------------------- */

enum { ROW_FP32, ROW_FP16, ROW_PTQ, ROW_QAT };

typedef struct row {
    char variant[32];
    int kind, wbits, abits;
    char artifact[64 + 4096]; /* relative to the run dir */
    char *error;
    char sha[YQ_SHA256_HEX_BYTES];
    cJSON *export_res, *smoke_res, *eval_res, *ort_res, *ort_eval_res; /* step results (owned) */
    char *keeps_float;
    int base; /* ROW_QAT: index of the PTQ row it starts from */
} row;

typedef struct pipe_run {
    const yq_pipeline_opts *o;
    yq_pipeline_result *res;
    char *dir;
    char name[256];
    char model_sha[YQ_SHA256_HEX_BYTES], calib_sha[YQ_SHA256_HEX_BYTES], ann_sha[YQ_SHA256_HEX_BYTES];
    char recipe_sha[YQ_SHA256_HEX_BYTES];
    yq_coco_gt *gt;
    char **image_paths; /* the evaluated images, in order */
    int64_t *image_ids;
    size_t nimages;
    int ncalib;
    yq_ort_env ort;
    row rows[2 * NKNOWN];
    int nrows;
    cJSON *sens;      /* the sensitivity step's document (owned); NULL: off or failed */
    char *sens_error; /* why the sensitivity step failed */
} pipe_run;

static char *path_in(const pipe_run *p, const char *rel) {
    char *s = NULL;
    if (asprintf(&s, "%s/%s", p->dir, rel) < 0) return NULL;
    return s;
}

static yq_status make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return yq_fail(YQ_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return yq_fail(YQ_ERR_IO, "%s: is not a folder", path);
    return YQ_OK;
}

/* mkdir -p */
static yq_status make_dirs(const char *path) {
    char *copy = strdup(path);
    if (!copy) return YQ_ERR_NOMEM;
    yq_status st = YQ_OK;
    for (char *s = copy + 1; *s && st == YQ_OK; s++)
        if (*s == '/') {
            *s = '\0';
            st = make_dir(copy);
            *s = '/';
        }
    if (st == YQ_OK) st = make_dir(copy);
    free(copy);
    return st;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- steps --------------------------------------------------------------------------------------- */

typedef struct step {
    char id[96];
    char key[YQ_SHA256_HEX_BYTES];
    FILE *log;
    char *logbuf;
    size_t loglen;
    double t0;
    cJSON *result; /* owned until handed to the row */
} step;

static void key_of(const char *text, char key[YQ_SHA256_HEX_BYTES]) {
    uint8_t d[YQ_SHA256_DIGEST_BYTES];
    yq_sha256(text, strlen(text), d);
    yq_sha256_hex(d, key);
}

/* Start a step. Returns 1 when resume finds it done (s->result loaded), 0 when it must run. */
static int step_begin(pipe_run *p, step *s, const char *id, const char *keytext, const char *output) {
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    char *full = NULL;
    if (asprintf(&full, "%s|yoloq %s %s", keytext, YOLOQ_VERSION, YOLOQ_GIT_COMMIT) >= 0) {
        key_of(full, s->key);
        free(full);
    }
    p->res->nsteps++;
    if (p->o->resume) {
        char rel[160];
        snprintf(rel, sizeof rel, "steps/%s.json", id);
        char *path = path_in(p, rel);
        cJSON *doc = NULL;
        int done = 0;
        if (path && file_exists(path) && yq_json_load(path, 1 << 28, 64, &doc) == YQ_OK) {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "key");
            const cJSON *out = cJSON_GetObjectItemCaseSensitive(doc, "output");
            const cJSON *osha = cJSON_GetObjectItemCaseSensitive(doc, "output_sha256");
            done = cJSON_IsString(k) && !strcmp(k->valuestring, s->key);
            if (done && output) { /* the output must still be the file the step wrote */
                char *op = path_in(p, output);
                char sha[YQ_SHA256_HEX_BYTES];
                done = op && cJSON_IsString(out) && !strcmp(out->valuestring, output) && cJSON_IsString(osha) &&
                       yq_sha256_file(op, sha) == YQ_OK && !strcmp(sha, osha->valuestring);
                free(op);
            }
            if (done) s->result = cJSON_DetachItemFromObjectCaseSensitive(doc, "result");
            done = done && s->result;
        }
        cJSON_Delete(doc);
        free(path);
        if (done) {
            p->res->nskipped++;
            if (p->o->on_step) p->o->on_step(p->o->arg, id, "skip", NULL);
            return 1;
        }
    }
    s->log = open_memstream(&s->logbuf, &s->loglen);
    s->t0 = yq_eval_now_ms();
    if (s->log) fprintf(s->log, "step %s\nkey %s (%s)\n", id, s->key, keytext);
    if (p->o->on_step) p->o->on_step(p->o->arg, id, "run", NULL);
    return 0;
}

/* Finish a step that ran: its log, and on success its record. The step's
 * status st is returned (write failures replace a success). */
static yq_status step_end(pipe_run *p, step *s, yq_status st, const char *output) {
    double ms = yq_eval_now_ms() - s->t0;
    const char *err = st != YQ_OK ? yq_last_error() : NULL;
    char errcopy[1024] = "";
    if (err) snprintf(errcopy, sizeof errcopy, "%s", err);
    if (s->log) {
        if (st == YQ_OK) fprintf(s->log, "done in %.1f s\n", ms / 1000.0);
        else fprintf(s->log, "FAILED after %.1f s: %s\n", ms / 1000.0, errcopy);
        fclose(s->log);
        s->log = NULL;
    }
    char rel[160];
    snprintf(rel, sizeof rel, "logs/%s.log", s->id);
    char *lp = path_in(p, rel);
    yq_status wst = lp ? yq_write_file_atomic(lp, s->logbuf ? s->logbuf : "", s->loglen) : YQ_ERR_NOMEM;
    free(lp);
    free(s->logbuf);
    s->logbuf = NULL;
    snprintf(rel, sizeof rel, "steps/%s.json", s->id);
    char *sp = path_in(p, rel);
    if (st == YQ_OK && wst == YQ_OK && sp) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "step", s->id);
        cJSON_AddStringToObject(doc, "key", s->key);
        if (output) {
            char *op = path_in(p, output);
            char sha[YQ_SHA256_HEX_BYTES] = "";
            if (op) wst = yq_sha256_file(op, sha);
            free(op);
            cJSON_AddStringToObject(doc, "output", output);
            cJSON_AddStringToObject(doc, "output_sha256", sha);
        }
        if (s->result) cJSON_AddItemReferenceToObject(doc, "result", s->result);
        if (wst == YQ_OK) wst = yq_json_write_atomic(sp, doc);
        cJSON_Delete(doc);
    } else if (sp) {
        remove(sp); /* a failed step is never "done" */
    }
    free(sp);
    if (st == YQ_OK && wst != YQ_OK) st = wst;
    if (p->o->on_step) p->o->on_step(p->o->arg, s->id, st == YQ_OK ? "done" : "fail", st == YQ_OK ? NULL : errcopy);
    if (st != YQ_OK && err) yq_fail(st, "%s", errcopy);
    return st;
}

/* Fail before the work, not after it, when the artifact cannot be written. */
static yq_status probe_writable(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return yq_fail(YQ_ERR_IO, "%s: is a folder, not a file", path);
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    yq_atomic_abort(&af);
    return YQ_OK;
}

static void row_fail(row *r, const char *step_id) {
    if (r->error) return;
    if (asprintf(&r->error, "%s: %s", step_id, yq_last_error()) < 0) r->error = NULL;
}

static void logf_(step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(step *s, const char *fmt, ...) {
    if (!s->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
}

/* ---- progress adapters --------------------------------------------------------------------------- */

typedef struct progress_ctx {
    const yq_pipeline_opts *o;
    const char *prefix;
    char label[160];
} progress_ctx;

static void on_ptq_progress(void *arg, const char *stage, int64_t done, int64_t total) {
    progress_ctx *c = arg;
    if (!c->o->on_progress) return;
    snprintf(c->label, sizeof c->label, "%s %s", c->prefix, stage);
    c->o->on_progress(c->o->arg, c->label, done, total);
}

static void on_eval_progress(void *arg, int64_t done, int64_t total) {
    progress_ctx *c = arg;
    if (!c->o->on_progress) return;
    snprintf(c->label, sizeof c->label, "%s eval", c->prefix);
    c->o->on_progress(c->o->arg, c->label, done, total);
}

/* ---- artifact steps ------------------------------------------------------------------------------ */

static int64_t initializer_bytes(const yq_graph *g) {
    int64_t b = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].data && (g->values[v].flags & YQ_VAL_INIT)) b += (int64_t)g->values[v].nbytes;
    return b;
}

static int live_nodes(const yq_graph *g) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += !g->nodes[i].dead;
    return n;
}

static void do_export_fp32(pipe_run *p, row *r) {
    char key[512], id[96];
    snprintf(id, sizeof id, "%s.export", r->variant);
    snprintf(key, sizeof key, "export-fp32|model=%s", p->model_sha);
    step s;
    if (!step_begin(p, &s, id, key, r->artifact)) {
        yq_graph *g = NULL;
        char *out = path_in(p, r->artifact);
        yq_status st = out ? probe_writable(out) : YQ_ERR_NOMEM;
        if (st == YQ_OK) st = yq_onnx_load(p->o->model, &g);
        int before = st == YQ_OK ? g->nnodes : 0;
        if (st == YQ_OK) {
            yq_prepare_opts po = yq_prepare_defaults();
            st = yq_prepare_graph(g, NULL, &po);
        }
        if (st == YQ_OK) st = yq_onnx_save(g, out);
        if (st == YQ_OK) {
            s.result = cJSON_CreateObject();
            cJSON_AddNumberToObject(s.result, "nodes_in_model", before);
            cJSON_AddNumberToObject(s.result, "nodes", live_nodes(g));
            cJSON_AddNumberToObject(s.result, "weight_bytes", (double)initializer_bytes(g));
            logf_(&s, "cleaned %s: %d -> %d nodes (constants folded, Conv+BN/Add fused, dead nodes removed)\n",
                  p->o->model, before, live_nodes(g));
        }
        yq_graph_free(g);
        free(out);
        st = step_end(p, &s, st, r->artifact);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->export_res = s.result;
}

static void do_export_fp16(pipe_run *p, row *r, const row *fp32) {
    char key[512], id[96];
    snprintf(id, sizeof id, "%s.export", r->variant);
    snprintf(key, sizeof key, "export-fp16|model=%s", p->model_sha);
    step s;
    if (fp32->error) {
        yq_fail(YQ_ERR_INVALID, "needs the float32 export, which failed");
        row_fail(r, id);
        return;
    }
    if (!step_begin(p, &s, id, key, r->artifact)) {
        yq_graph *g = NULL;
        char *in = path_in(p, fp32->artifact), *out = path_in(p, r->artifact);
        yq_status st = in && out ? probe_writable(out) : YQ_ERR_NOMEM;
        if (st == YQ_OK) st = yq_onnx_load(in, &g);
        if (st == YQ_OK) {
            yq_prepare_opts po = yq_prepare_defaults();
            st = yq_prepare_graph(g, NULL, &po);
        }
        yq_fp16_report fr = {0};
        if (st == YQ_OK) st = yq_convert_fp16(g, &fr);
        if (st == YQ_OK) st = yq_onnx_save(g, out);
        if (st == YQ_OK) {
            s.result = cJSON_CreateObject();
            cJSON_AddNumberToObject(s.result, "nodes_half", fr.nodes_half);
            cJSON_AddNumberToObject(s.result, "nodes_float", fr.nodes_float);
            cJSON_AddNumberToObject(s.result, "nodes_decode_path", fr.nodes_decode);
            cJSON_AddNumberToObject(s.result, "casts_added", fr.casts_added);
            cJSON_AddNumberToObject(s.result, "initializers_half", fr.initializers_half);
            cJSON_AddNumberToObject(s.result, "weight_bytes", (double)fr.weight_bytes);
            logf_(&s, "float16: %d nodes half, %d float32 (%d on the decode path), %d Casts, %d initializers "
                      "converted, %lld weight bytes\n",
                  fr.nodes_half, fr.nodes_float, fr.nodes_decode, fr.casts_added, fr.initializers_half,
                  (long long)fr.weight_bytes);
        }
        yq_graph_free(g);
        free(in);
        free(out);
        st = step_end(p, &s, st, r->artifact);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->export_res = s.result;
}

static void do_quantize(pipe_run *p, row *r) {
    char key[1024], id[96];
    snprintf(id, sizeof id, "%s.quantize", r->variant);
    snprintf(key, sizeof key, "quantize|model=%s|calib=%s|count=%d|recipe=%s|w=%d|a=%d", p->model_sha, p->calib_sha,
             p->ncalib, p->recipe_sha, r->wbits, r->abits);
    step s;
    if (!step_begin(p, &s, id, key, r->artifact)) {
        char *out = path_in(p, r->artifact);
        progress_ctx pc = {.o = p->o, .prefix = r->variant};
        yq_quantize_job job = {.model = p->o->model, .out = out, .calib = p->o->calib, .recipe_path = p->o->recipe,
                               .wbits = r->wbits, .abits = r->abits, .calib_count = p->ncalib};
        yq_ptq_opts_default(&job.ptq);
        job.ptq.nthreads = p->o->threads;
        job.ptq.progress = on_ptq_progress;
        job.ptq.progress_arg = &pc;
        yq_ptq_report rep;
        int used = 0;
        yq_status st = out ? probe_writable(out) : YQ_ERR_NOMEM;
        if (st == YQ_OK) st = yq_quantize_model_file(&job, &rep, &used);
        if (st == YQ_OK) {
            s.result = yq_ptq_report_json(&rep, p->o->model, r->artifact, used);
            if (!s.result) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
            else {
                cJSON_AddStringToObject(s.result, "weights", r->wbits == 4 ? "int4" : "int8");
                cJSON_AddStringToObject(s.result, "acts", r->abits ? "int8" : "float");
            }
            logf_(&s, "%d layers quantized, %d activation quantizers, Q/DQ/Clip %d/%d/%d, weights %lld bytes (float "
                      "%lld); calibration %.1f s on %d images\n",
                  rep.nlayers, rep.act_quantizers, rep.counts_after.quantize, rep.counts_after.dequantize,
                  rep.counts_after.clip, (long long)rep.weight_bytes, (long long)rep.float_weight_bytes,
                  rep.calib_ms / 1000.0, used);
            for (int i = 0; i < rep.nlayers; i++)
                logf_(&s, "  %-50s W%d%s %s weight SQNR %.2f dB, output SQNR %.2f dB\n", rep.layers[i].name,
                      rep.layers[i].bits, rep.layers[i].act_bits ? " A8" : "", rep.layers[i].gptq ? "gptq" : "rtn",
                      rep.layers[i].weight_sqnr_db, rep.layers[i].output_sqnr_db);
            yq_ptq_report_free(&rep);
        }
        free(out);
        st = step_end(p, &s, st, r->artifact);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->export_res = s.result;
}

/* ---- quantization-aware fine-tuning ---------------------------------------------------------------- */

typedef struct ft_progress_ctx {
    const yq_pipeline_opts *o;
    char label[96];
} ft_progress_ctx;

static void on_ft_progress(void *arg, int64_t step, int64_t steps, double loss, double seconds) {
    (void)loss, (void)seconds;
    ft_progress_ctx *c = arg;
    if (c->o->on_progress) c->o->on_progress(c->o->arg, c->label, step, steps);
}

/* Copy key `k` of `from` (if any) into `to`. */
static void copy_item(cJSON *to, const cJSON *from, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, k);
    if (v) cJSON_AddItemToObject(to, k, cJSON_Duplicate(v, 1));
}

static yq_status run_finetune(pipe_run *p, row *r, const row *base, step *s) {
    char *student_path = path_in(p, base->artifact), *out = path_in(p, r->artifact);
    char ckrel[160];
    snprintf(ckrel, sizeof ckrel, "checkpoints/%s.ckpt", r->variant);
    char *ckpt = path_in(p, ckrel), *ckdir = path_in(p, "checkpoints");
    yq_graph *student = NULL, *teacher = NULL, *export_to = NULL;
    yq_calib_list list = {0};
    yq_ft_files *files = NULL;
    yq_finetune_result res = {0};
    yq_status st = student_path && out && ckpt && ckdir ? probe_writable(out) : yq_fail(YQ_ERR_NOMEM, "out of memory");
    if (st == YQ_OK) st = make_dir(ckdir);
    if (st == YQ_OK) st = yq_onnx_load(student_path, &student);
    if (st == YQ_OK) st = yq_onnx_load(p->o->model, &teacher);
    if (st == YQ_OK) st = yq_onnx_load(student_path, &export_to);
    if (st == YQ_OK) st = yq_calib_list_load(p->o->calib, &list);
    const int n = p->ncalib < list.n ? p->ncalib : list.n;
    if (st == YQ_OK && n < 1) st = yq_fail(YQ_ERR_INVALID, "%s: no images listed", p->o->calib);
    if (st == YQ_OK) st = yq_ft_files_new((const char *const *)list.paths, n, &files);
    yq_finetune_opts o;
    yq_finetune_opts_default(&o);
    if (p->o->qat_steps > 0) o.steps = p->o->qat_steps;
    o.nthreads = p->o->threads;
    o.checkpoint = ckpt;
    o.checkpoint_every = 25;
    o.resume = p->o->resume; /* a fresh run never continues an old checkpoint */
    if (!o.resume) remove(ckpt);
    ft_progress_ctx pc = {.o = p->o};
    snprintf(pc.label, sizeof pc.label, "%s finetune", r->variant);
    o.progress = on_ft_progress;
    o.progress_arg = &pc;
    if (st == YQ_OK) st = yq_finetune(student, teacher, n, yq_ft_files_image, files, &o, export_to, &res);
    if (st == YQ_OK) st = yq_onnx_save(export_to, out);
    if (st == YQ_OK) {
        cJSON *d = s->result = cJSON_CreateObject();
        cJSON *loss = d ? cJSON_AddArrayToObject(d, "loss") : NULL;
        if (!d || !loss) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; st == YQ_OK && k < res.nlog; k++)
            cJSON_AddItemToArray(loss, cJSON_CreateNumber(res.log[k].loss));
        if (st == YQ_OK) {
            cJSON_AddStringToObject(d, "from", base->artifact);
            cJSON_AddStringToObject(d, "head", res.cut);
            cJSON_AddNumberToObject(d, "steps", (double)o.steps);
            cJSON_AddNumberToObject(d, "batch", o.batch);
            cJSON_AddNumberToObject(d, "seed", (double)o.seed);
            cJSON_AddNumberToObject(d, "images", n);
            cJSON_AddItemToObject(d, "options", yq_finetune_opts_json(&o));
            cJSON_AddNumberToObject(d, "trained_weights", res.weights);
            cJSON_AddNumberToObject(d, "trained_act_quantizers", res.act_quantizers);
            cJSON_AddNumberToObject(d, "seconds", res.seconds);
            cJSON_AddNumberToObject(d, "loss_first", res.nlog ? res.log[0].loss : NAN);
            cJSON_AddNumberToObject(d, "loss_last", res.nlog ? res.log[res.nlog - 1].loss : NAN);
            /* structure and sizes are the PTQ model's: only initializer values change */
            static const char *const same[] = {"weight_bytes", "float_weight_bytes", "qdq_counts",
                                               "activation_quantizers", "layers", "weights", "acts"};
            for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) copy_item(d, base->export_res, same[k]);
            logf_(s, "%s from %s: %lld steps x batch %d on %d images, seed %llu; loss %.5f -> %.5f; %.1f s\n",
                  r->variant, base->artifact, (long long)o.steps, o.batch, n, (unsigned long long)o.seed,
                  res.nlog ? res.log[0].loss : NAN, res.nlog ? res.log[res.nlog - 1].loss : NAN, res.seconds);
        }
        remove(ckpt); /* the step is done: its key, not the checkpoint, now says so */
    }
    yq_finetune_result_free(&res);
    yq_ft_files_free(files);
    yq_calib_list_free(&list);
    yq_graph_free(student);
    yq_graph_free(teacher);
    yq_graph_free(export_to);
    if (ckdir) rmdir(ckdir); /* only when empty */
    free(student_path);
    free(out);
    free(ckpt);
    free(ckdir);
    return st;
}

/* A QAT row: `yoloq finetune` of its PTQ row's artifact (distillation from the
 * float model on the calibration images), resumable from its checkpoint. */
static void do_finetune(pipe_run *p, row *r, const row *base) {
    char id[96];
    snprintf(id, sizeof id, "%s.finetune", r->variant);
    if (base->error) {
        char *e = NULL;
        if (asprintf(&e, "%s: its starting model (%s) failed", id, base->variant) < 0) e = NULL;
        r->error = e;
        return;
    }
    char key[1024];
    snprintf(key, sizeof key, "finetune|from=%s|teacher=%s|calib=%s|count=%d|steps=%d", base->sha, p->model_sha,
             p->calib_sha, p->ncalib, p->o->qat_steps);
    step s;
    if (!step_begin(p, &s, id, key, r->artifact)) {
        yq_status st = run_finetune(p, r, base, &s);
        if (st != YQ_OK) {
            cJSON_Delete(s.result);
            s.result = NULL;
        }
        st = step_end(p, &s, st, r->artifact);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->export_res = s.result;
}

/* ---- sensitivity ---------------------------------------------------------------------------------- */

/* The per-layer sensitivity of the lowest-precision PTQ setting in the run
 * (yq_sensitivity: each layer alone at that weight width, in that activation
 * context), saved as metrics/sensitivity.json and drawn as the bundle's
 * sensitivity chart. GPTQ runs one pass on the float model here, as `yoloq
 * sensitivity` does: every layer is measured with the others float, so
 * sequential Hessians (which need the earlier layers quantized) do not apply. */
static yq_status run_sensitivity(pipe_run *p, int wbits, int abits, step *s) {
    yq_recipe *recipe = NULL;
    yq_status st = p->o->recipe ? yq_recipe_load(p->o->recipe, &recipe) : yq_recipe_default(&recipe);
    if (st != YQ_OK) return st;
    yq_recipe_apply_bits_one_layer(recipe, wbits, abits);
    yq_calib_list list = {0};
    yq_graph *g = NULL;
    st = yq_calib_list_load(p->o->calib, &list);
    if (st == YQ_OK) st = yq_onnx_load(p->o->model, &g);
    if (st == YQ_OK) {
        yq_prepare_opts popt = yq_prepare_defaults();
        st = yq_prepare_graph(g, NULL, &popt);
    }
    if (st == YQ_OK) st = yq_calib_list_fit(&list, g, p->o->model);
    const int count = p->ncalib < list.n ? p->ncalib : list.n;
    yq_sens_opts so;
    yq_sens_opts_default(&so);
    so.bits = wbits;
    so.act_bits = abits ? 8 : 0;
    so.metric_images = p->o->sensitivity_images;
    so.nthreads = so.ptq.nthreads = p->o->threads;
    progress_ctx pc = {.o = p->o, .prefix = "sensitivity"};
    so.ptq.progress = on_ptq_progress;
    so.ptq.progress_arg = &pc;
    yq_sens_result res = {0};
    if (st == YQ_OK && count < 1) st = yq_fail(YQ_ERR_INVALID, "%s: no calibration images", p->o->calib);
    if (st == YQ_OK)
        st = yq_sensitivity(g, recipe, count, yq_calib_list_input, &list, &so, on_ptq_progress, &pc, &res);
    int *order = NULL, n = 0;
    if (st == YQ_OK) {
        order = malloc(((size_t)res.nlayers + 1) * sizeof *order);
        if (!order) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        else n = yq_sens_rank(&res, order);
    }
    if (st == YQ_OK && !(s->result = yq_sens_result_json(&res, order, n, p->o->model, p->o->calib)))
        st = yq_fail(YQ_ERR_NOMEM, "out of memory");
    if (st == YQ_OK) {
        logf_(s, "W%d%s, %d layers on %d image(s) (calibration %d); baseline SQNR %.2f dB, proxy %.4e; calibration "
                 "%.1f s, measurement %.1f s\n",
              res.bits, res.act_bits ? " in the A8 context" : ", float activations", n, res.metric_images,
              res.calib_images, res.base_sqnr_db, res.base_proxy, res.calib_ms / 1000.0, res.measure_ms / 1000.0);
        for (int k = 0; k < n; k++) {
            const yq_sens_layer *l = &res.layers[order[k]];
            logf_(s, "  %3d %-50s SQNR %7.2f dB  proxy %.4e  gain %.4e\n", k + 1, l->name, l->sqnr_db, l->proxy,
                  l->gain);
        }
        char *path = path_in(p, "metrics/sensitivity.json");
        st = path ? yq_json_write_atomic(path, s->result) : YQ_ERR_NOMEM;
        free(path);
    }
    free(order);
    yq_sens_result_free(&res);
    yq_graph_free(g);
    yq_calib_list_free(&list);
    yq_recipe_free(recipe);
    return st;
}

static void do_sensitivity(pipe_run *p) {
    const row *lowest = NULL;
    for (int i = 0; i < p->nrows; i++) {
        const row *r = &p->rows[i];
        if (r->kind != ROW_PTQ) continue;
        if (!lowest || r->wbits < lowest->wbits || (r->wbits == lowest->wbits && r->abits && !lowest->abits))
            lowest = r;
    }
    if (!lowest || p->o->sensitivity_images <= 0) return;
    char key[1024];
    snprintf(key, sizeof key, "sensitivity|model=%s|calib=%s|count=%d|recipe=%s|w=%d|a=%d|images=%d", p->model_sha,
             p->calib_sha, p->ncalib, p->recipe_sha, lowest->wbits, lowest->abits, p->o->sensitivity_images);
    step s;
    if (!step_begin(p, &s, "sensitivity", key, "metrics/sensitivity.json")) {
        yq_status st = run_sensitivity(p, lowest->wbits, lowest->abits, &s);
        if (st != YQ_OK) {
            cJSON_Delete(s.result);
            s.result = NULL;
        }
        st = step_end(p, &s, st, "metrics/sensitivity.json");
        if (st != YQ_OK) {
            p->sens_error = strdup(yq_last_error());
            p->res->nfailed_steps++;
            return;
        }
    }
    p->sens = s.result;
}

/* ---- checks on an artifact ----------------------------------------------------------------------- */

/* The smoke input: uniform [0,1) from a fixed xorshift seed. */
static void random_input(float *x, size_t n) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

static yq_status open_artifact(pipe_run *p, const row *r, yq_detector **det) {
    char *path = path_in(p, r->artifact);
    if (!path) return YQ_ERR_NOMEM;
    yq_detector_opts dop;
    yq_detector_opts_default(&dop);
    dop.nthreads = p->o->threads;
    yq_status st = yq_detector_open(path, &dop, det);
    free(path);
    return st;
}

static void do_smoke(pipe_run *p, row *r) {
    char key[512], id[96];
    snprintf(id, sizeof id, "%s.smoke", r->variant);
    snprintf(key, sizeof key, "smoke|artifact=%s", r->sha);
    step s;
    if (!step_begin(p, &s, id, key, NULL)) {
        yq_detector *det = NULL;
        float *x = NULL;
        yq_status st = open_artifact(p, r, &det);
        int h = 0, w = 0;
        if (st == YQ_OK) {
            h = yq_detector_input_h(det);
            w = yq_detector_input_w(det);
            x = malloc((size_t)3 * (size_t)h * (size_t)w * sizeof *x);
            if (!x) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        }
        yq_session *ses = det ? yq_detector_session(det) : NULL;
        if (st == YQ_OK) {
            random_input(x, (size_t)3 * (size_t)h * (size_t)w);
            yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, h, w}, .data = x};
            st = yq_session_run(ses, &t, 1);
        }
        cJSON *outs = NULL;
        if (st == YQ_OK) {
            s.result = cJSON_CreateObject();
            cJSON_AddStringToObject(s.result, "input", "uniform [0,1), xorshift64 seed 0x9e3779b97f4a7c15");
            outs = cJSON_AddArrayToObject(s.result, "outputs");
        }
        for (int j = 0; st == YQ_OK && j < yq_session_noutputs(ses); j++) {
            const yq_tensor *o = yq_session_output(ses, j);
            const yq_value *info = yq_session_output_info(ses, j);
            int64_t n = yq_tensor_numel(o), nonfinite = 0;
            double maxabs = 0;
            if (o->dtype == YQ_DT_FLOAT)
                for (int64_t e = 0; e < n; e++) {
                    float v = ((const float *)o->data)[e];
                    if (!isfinite(v)) nonfinite++;
                    else if (fabs(v) > maxabs) maxabs = fabs(v);
                }
            int shape_ok = o->rank == info->rank;
            for (int d = 0; shape_ok && d < o->rank; d++) shape_ok = o->dims[d] == info->dims[d];
            char dims[128];
            yq_dims_str(o->rank, o->dims, dims, sizeof dims);
            cJSON *oj = cJSON_CreateObject();
            cJSON_AddStringToObject(oj, "name", info->name);
            cJSON_AddStringToObject(oj, "dims", dims);
            cJSON_AddStringToObject(oj, "dtype", yq_dtype_name(o->dtype));
            cJSON_AddNumberToObject(oj, "non_finite", (double)nonfinite);
            cJSON_AddNumberToObject(oj, "max_abs", maxabs);
            cJSON_AddItemToArray(outs, oj);
            logf_(&s, "output %s %s %s: %lld non-finite, max |x| %g\n", info->name, yq_dtype_name(o->dtype), dims,
                  (long long)nonfinite, maxabs);
            if (o->dtype != YQ_DT_FLOAT)
                st = yq_fail(YQ_ERR_INVALID, "%s: output '%s' is %s, not float", r->artifact, info->name,
                             yq_dtype_name(o->dtype));
            else if (nonfinite)
                st = yq_fail(YQ_ERR_INVALID, "%s: output '%s' has %lld non-finite values on the random input",
                             r->artifact, info->name, (long long)nonfinite);
            else if (!shape_ok)
                st = yq_fail(YQ_ERR_INVALID, "%s: output '%s' has shape %s, not the declared one", r->artifact,
                             info->name, dims);
        }
        free(x);
        yq_detector_free(det);
        st = step_end(p, &s, st, NULL);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->smoke_res = s.result;
}

/* One COCO evaluation of the row's artifact on the run's images: on yoloq's
 * engine, or (ort) on ONNX Runtime through node. */
static yq_status eval_artifact(pipe_run *p, row *r, step *s, int ort) {
    char *model = path_in(p, r->artifact);
    char label[64];
    snprintf(label, sizeof label, "%s%s", r->variant, ort ? " (ORT)" : "");
    progress_ctx pc = {.o = p->o, .prefix = label};
    yq_eval_opts eo;
    yq_eval_opts_default(&eo);
    eo.model = model;
    eo.ann = p->o->ann;
    eo.images_dir = p->o->images;
    eo.max_images = p->o->max_images;
    eo.det.nthreads = p->o->threads;
    eo.det.ort = ort;
    eo.progress = on_eval_progress;
    eo.progress_arg = &pc;
    yq_eval_run run;
    yq_status st = model ? yq_eval_setup(&eo, &run) : YQ_ERR_NOMEM;
    if (st == YQ_OK) st = yq_eval_execute(&run);
    if (st == YQ_OK) {
        s->result = yq_eval_metrics_json(&run);
        if (!s->result) st = YQ_ERR_NOMEM;
        logf_(s, "%s: %zu images, %zu detections: mAP50-95 %.4f mAP50 %.4f; inference median %.1f ms, p90 %.1f ms; "
                 "wall %.1f s\n",
              ort ? "ONNX Runtime" : "yoloq", run.n, run.ndets, run.res.stats[YQ_COCO_AP],
              run.res.stats[YQ_COCO_AP50], run.latency.median_ms, run.latency.p90_ms, run.timing.wall / 1000.0);
    }
    if (model) yq_eval_run_free(&run);
    free(model);
    return st;
}

static void do_eval(pipe_run *p, row *r) {
    char key[1024], id[96];
    snprintf(id, sizeof id, "%s.eval", r->variant);
    snprintf(key, sizeof key, "eval|artifact=%s|ann=%s|images=%s|max_images=%d", r->sha, p->ann_sha, p->o->images,
             p->o->max_images);
    step s;
    if (!step_begin(p, &s, id, key, NULL)) {
        yq_status st = eval_artifact(p, r, &s, 0);
        st = step_end(p, &s, st, NULL);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->eval_res = s.result;
}

/* The same evaluation with ONNX Runtime running the model, for artifacts the
 * ORT check ran. Like the check, an ORT failure is recorded ({"status":
 * "failed", "message"}) and does not fail the row. */
static void do_ort_eval(pipe_run *p, row *r) {
    const cJSON *os = r->ort_res ? cJSON_GetObjectItemCaseSensitive(r->ort_res, "status") : NULL;
    if (!p->o->ort_eval || !cJSON_IsString(os) || strcmp(os->valuestring, "ran") != 0) return;
    char key[8192], id[96];
    snprintf(id, sizeof id, "%s.ort-eval", r->variant);
    snprintf(key, sizeof key, "ort-eval|artifact=%s|ann=%s|images=%s|max_images=%d|node=%s|modules=%s", r->sha,
             p->ann_sha, p->o->images, p->o->max_images, p->ort.node, p->ort.node_modules);
    step s;
    if (!step_begin(p, &s, id, key, NULL)) {
        yq_status st = eval_artifact(p, r, &s, 1);
        if (st != YQ_OK && st != YQ_ERR_NOMEM) {
            logf_(&s, "ONNX Runtime evaluation failed: %s\n", yq_last_error());
            s.result = cJSON_CreateObject();
            cJSON_AddStringToObject(s.result, "status", "failed");
            cJSON_AddStringToObject(s.result, "message", yq_last_error());
            st = YQ_OK;
        }
        st = step_end(p, &s, st, NULL);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->ort_eval_res = s.result;
}

static void do_ort(pipe_run *p, row *r) {
    char key[8192], id[96];
    int nimg = (int)(p->nimages < (size_t)p->o->ort_images ? p->nimages : (size_t)p->o->ort_images);
    snprintf(id, sizeof id, "%s.ort", r->variant);
    snprintf(key, sizeof key, "ort|compare=end2end-matched|artifact=%s|ann=%s|images=%s|n=%d|node=%s|modules=%s", r->sha, p->ann_sha,
             p->o->images, nimg, p->ort.node ? p->ort.node : "-", p->ort.node_modules ? p->ort.node_modules : "-");
    step s;
    if (!step_begin(p, &s, id, key, NULL)) {
        yq_detector *det = NULL;
        yq_status st = open_artifact(p, r, &det);
        int h = det ? yq_detector_input_h(det) : 0, w = det ? yq_detector_input_w(det) : 0;
        size_t numel = (size_t)3 * (size_t)h * (size_t)w;
        float *bufs[65] = {0};
        int n = 0;
        if (st == YQ_OK && (bufs[n] = malloc(numel * sizeof(float))) != NULL) random_input(bufs[n++], numel);
        for (int k = 0; st == YQ_OK && k < nimg && n < 65; k++) {
            yq_image img = {0};
            yq_letterbox lb;
            if (!(bufs[n] = malloc(numel * sizeof(float)))) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
            if (st == YQ_OK) st = yq_image_load(p->image_paths[k], &img);
            if (st == YQ_OK) st = yq_letterbox_nchw(&img, w, h, bufs[n], &lb);
            yq_image_free(&img);
            if (st == YQ_OK) n++;
        }
        char rel[160];
        snprintf(rel, sizeof rel, "ort/%s", r->variant);
        char *work = path_in(p, rel), *model = path_in(p, r->artifact);
        yq_ort_result orr;
        if (st == YQ_OK)
            st = yq_ort_compare(&p->ort, model, yq_detector_session(det), (const float *const *)bufs, n, h, w,
                                p->o->threads, work, s.log, &orr);
        if (st == YQ_OK) {
            s.result = cJSON_CreateObject();
            const char *status = orr.status == YQ_ORT_RAN ? "ran" : orr.status == YQ_ORT_FAILED ? "failed" : "unavailable";
            cJSON_AddStringToObject(s.result, "status", status);
            cJSON_AddNumberToObject(s.result, "inputs", orr.ninputs);
            cJSON_AddStringToObject(s.result, "inputs_are", "the smoke run's random input, then the first evaluation images");
            if (orr.status == YQ_ORT_RAN) {
                cJSON_AddNumberToObject(s.result, "max_abs_diff", orr.max_abs_diff);
                cJSON_AddNumberToObject(s.result, "max_abs_output", orr.max_abs_out);
                if (orr.end2end) {
                    cJSON_AddStringToObject(s.result, "compared",
                                            "end2end detections scoring > 0.25 in yoloq, each matched to ORT's "
                                            "detection of the same class with the nearest box");
                    cJSON_AddNumberToObject(s.result, "detections_matched", orr.matched);
                    cJSON_AddNumberToObject(s.result, "max_box_diff_px", orr.max_box_diff);
                    cJSON_AddNumberToObject(s.result, "max_score_diff", orr.max_score_diff);
                } else {
                    cJSON_AddStringToObject(s.result, "compared", "raw outputs, element by element");
                }
            }
            if (orr.message[0]) cJSON_AddStringToObject(s.result, "message", orr.message);
            logf_(&s, "ORT %s: %d inputs, max |diff| %g (max |out| %g) %s\n", status, orr.ninputs, orr.max_abs_diff,
                  orr.max_abs_out, orr.message);
        }
        if (work) {
            char *script = NULL;
            if (asprintf(&script, "%s/ort_validate.js", work) >= 0) {
                remove(script);
                free(script);
            }
            rmdir(work);
        }
        free(work);
        free(model);
        for (int k = 0; k < 65; k++) free(bufs[k]);
        yq_detector_free(det);
        st = step_end(p, &s, st, NULL);
        if (st != YQ_OK) row_fail(r, id);
    }
    r->ort_res = s.result;
}

/* ---- reading results back ------------------------------------------------------------------------ */

static double num_at(const cJSON *o, const char *a, const char *b, const char *c) {
    const cJSON *x = o;
    if (x && a) x = cJSON_GetObjectItemCaseSensitive(x, a);
    if (x && b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    if (x && c) x = cJSON_GetObjectItemCaseSensitive(x, c);
    if (cJSON_IsRaw(x) && x->valuestring) { /* exact-digit numbers (yq_json_create_number) */
        char *end = NULL;
        double v = strtod(x->valuestring, &end);
        return end && end != x->valuestring ? v : NAN;
    }
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *str_at(const cJSON *o, const char *a) {
    const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void make_note(row *r) {
    char *s = NULL;
    int rc = -1;
    if (r->kind == ROW_FP32) {
        rc = asprintf(&s, "everything (float32 reference; cleaned: constants folded, Conv+BatchNorm and Conv+Add "
                          "fused, dead nodes removed).");
    } else if (r->kind == ROW_FP16) {
        const cJSON *e = r->export_res;
        double nf = num_at(e, "nodes_float", NULL, NULL), nd = num_at(e, "nodes_decode_path", NULL, NULL);
        char kept[600];
        if (nf > 0)
            snprintf(kept, sizeof kept,
                     "%.0f stay float32: %.0f on the decode path after the head's final Concat and the DFL conv (box "
                     "coordinates reach 640 px, where float16's spacing is 0.5 px; TopK ranks scores that float16 "
                     "would tie), %.0f without a standard float16 kernel (or with no float output)",
                     nf, nd, nf - nd);
        else
            snprintf(kept, sizeof kept, "no node stays float32");
        rc = asprintf(&s,
                      "%.0f nodes compute in float16; %s. Graph inputs/outputs stay float32 with %.0f Casts at the "
                      "float16/float32 borders (keep_io_types). yoloq runs float16 graphs in float32 arithmetic on "
                      "the float16 weights.",
                      num_at(e, "nodes_half", NULL, NULL), kept, num_at(e, "casts_added", NULL, NULL));
    } else {
        const cJSON *e = r->export_res;
        char qat[200] = "";
        if (r->kind == ROW_QAT)
            snprintf(qat, sizeof qat, "fine-tuned %.0f steps by distillation from the float model (LSQ scales, STE) "
                     "from %s; as there: ", num_at(e, "steps", NULL, NULL), str_at(e, "from") ? str_at(e, "from") : "?");
        int nl = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "layers"));
        int gptq = 0;
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(e, "layers")) {
            const char *m = str_at(l, "method");
            gptq += m && !strcmp(m, "gptq");
        }
        if (r->abits)
            rc = asprintf(&s,
                          "%sweights of %d Conv/MatMul layers in %d bits (%d by GPTQ, %d round-to-nearest, per output "
                          "channel); their float inputs quantized to uint8 per tensor (%.0f activation quantizers). "
                          "Float: biases, the DFL conv, the decode path after the head's final Concat, and every "
                          "tensor that is not the input of a quantized layer.",
                          qat, nl, r->wbits, gptq, nl - gptq, num_at(e, "activation_quantizers", NULL, NULL));
        else
            rc = asprintf(&s,
                          "%sweights of %d Conv/MatMul layers in %d bits (%d by GPTQ, %d round-to-nearest, per output "
                          "channel). Float: all activations (A16 = not quantized, float32 here), biases, the DFL "
                          "conv and the decode path after the head's final Concat.",
                          qat, nl, r->wbits, gptq, nl - gptq);
    }
    r->keeps_float = rc < 0 ? NULL : s;
}

static cJSON *metrics_doc(const row *r) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "format", "yoloq-pipeline-metrics");
    cJSON_AddNumberToObject(d, "version", 1);
    cJSON_AddStringToObject(d, "variant", r->variant);
    cJSON_AddStringToObject(d, "artifact", r->artifact);
    if (r->sha[0]) cJSON_AddStringToObject(d, "artifact_sha256", r->sha);
    cJSON_AddStringToObject(d, "status", r->error ? "failed" : "ok");
    if (r->error) cJSON_AddStringToObject(d, "error", r->error);
    if (r->keeps_float) cJSON_AddStringToObject(d, "keeps_float", r->keeps_float);
    if (r->export_res) cJSON_AddItemReferenceToObject(d, r->kind == ROW_PTQ ? "quantize" : r->kind == ROW_QAT ? "finetune" : "export",
                                    r->export_res);
    if (r->smoke_res) cJSON_AddItemReferenceToObject(d, "smoke", r->smoke_res);
    if (r->eval_res) cJSON_AddItemReferenceToObject(d, "eval", r->eval_res);
    if (r->ort_res) cJSON_AddItemReferenceToObject(d, "ort", r->ort_res);
    if (r->ort_eval_res) cJSON_AddItemReferenceToObject(d, "ort_eval", r->ort_eval_res);
    return d;
}

/* ---- pictures ------------------------------------------------------------------------------------ */

static yq_status detections_of(yq_detector *det, const yq_image *img, yq_det **d, int *n) {
    return yq_detector_detect(det, img, d, n, NULL);
}

/* Detections of baseline-fp32 and the lowest-precision variant on sample images. */
static yq_status sample_pictures(pipe_run *p, const row *a, const row *b, yq_summary_plot *plots, int *nplots,
                                 char paths[][64], char titles[][160]) {
    yq_detector *da = NULL, *db = NULL;
    yq_status st = open_artifact(p, a, &da);
    if (st == YQ_OK) st = open_artifact(p, b, &db);
    const char *names[1024];
    int nn = 0;
    while (st == YQ_OK && nn < 1024 && yq_detector_class_name(da, nn)) {
        names[nn] = yq_detector_class_name(da, nn);
        nn++;
    }
    int nsamp = p->o->sample_images < (int)p->nimages ? p->o->sample_images : (int)p->nimages;
    for (int k = 0; st == YQ_OK && k < nsamp; k++) {
        size_t idx = (size_t)k * p->nimages / (size_t)nsamp; /* spread over the evaluated images */
        yq_image img = {0};
        yq_det *xa = NULL, *xb = NULL;
        int na = 0, nb = 0;
        st = yq_image_load(p->image_paths[idx], &img);
        if (st == YQ_OK) st = detections_of(da, &img, &xa, &na);
        if (st == YQ_OK) st = detections_of(db, &img, &xb, &nb);
        snprintf(paths[*nplots], 64, "plots/detections_%d.png", k + 1);
        char *full = path_in(p, paths[*nplots]);
        if (st == YQ_OK && full)
            st = yq_plot_detections_pair(full, &img, xa, na, a->variant, xb, nb, b->variant, names, nn);
        snprintf(titles[*nplots], 160, "Detections (score > 0.25) on image %lld: %s (left) vs %s (right)",
                 (long long)p->image_ids[idx], a->variant, b->variant);
        if (st == YQ_OK) {
            plots[*nplots] = (yq_summary_plot){titles[*nplots], paths[*nplots]};
            (*nplots)++;
        }
        free(full);
        free(xa);
        free(xb);
        yq_image_free(&img);
    }
    yq_detector_free(da);
    yq_detector_free(db);
    return st;
}

/* ---- inputs, config, env ------------------------------------------------------------------------- */

static yq_status check_inputs(pipe_run *p) {
    const yq_pipeline_opts *o = p->o;
    if (!o->model || !o->calib || !o->ann || !o->images || !o->run_dir)
        return yq_fail(YQ_ERR_ARG, "the pipeline needs a model, a calibration list, an annotation file, an image "
                                   "folder and a run folder");
    YQ_TRY(yq_sha256_file(o->model, p->model_sha));
    { /* the model must load and prepare: one clear error instead of every variant failing */
        yq_graph *g = NULL;
        yq_status st = yq_onnx_load(o->model, &g);
        if (st == YQ_OK) {
            yq_prepare_opts po = yq_prepare_defaults();
            st = yq_prepare_graph(g, NULL, &po);
            if (st != YQ_OK) st = yq_fail_prefix(st, "%s", o->model);
        }
        yq_graph_free(g);
        YQ_TRY(st);
    }
    yq_recipe *recipe = NULL;
    YQ_TRY(o->recipe ? yq_recipe_load(o->recipe, &recipe) : yq_recipe_default(&recipe));
    int count = o->calib_count ? o->calib_count : recipe->calib_count;
    yq_recipe_free(recipe);
    if (o->recipe) YQ_TRY(yq_sha256_file(o->recipe, p->recipe_sha));
    else snprintf(p->recipe_sha, sizeof p->recipe_sha, "default");
    yq_calib_list list;
    YQ_TRY(yq_calib_list_load(o->calib, &list));
    p->ncalib = count < list.n ? count : list.n;
    yq_status st = YQ_OK;
    for (int i = 0; i < p->ncalib && st == YQ_OK; i++)
        if (!file_exists(list.paths[i]))
            st = yq_fail(YQ_ERR_IO, "%s: cannot open calibration image '%s' (listed in %s)", list.paths[i],
                         list.paths[i], o->calib);
    yq_calib_list_free(&list);
    YQ_TRY(st);
    YQ_TRY(yq_sha256_file(o->calib, p->calib_sha));
    YQ_TRY(yq_sha256_file(o->ann, p->ann_sha));
    YQ_TRY(yq_coco_gt_load(o->ann, &p->gt));
    size_t nall = yq_coco_gt_num_images(p->gt);
    if (nall == 0) return yq_fail(YQ_ERR_INVALID, "%s: lists no images", o->ann);
    p->nimages = o->max_images > 0 && (size_t)o->max_images < nall ? (size_t)o->max_images : nall;
    p->image_paths = calloc(p->nimages, sizeof *p->image_paths);
    p->image_ids = calloc(p->nimages, sizeof *p->image_ids);
    if (!p->image_paths || !p->image_ids) return YQ_ERR_NOMEM;
    for (size_t i = 0; i < p->nimages; i++) {
        const yq_coco_image *im = yq_coco_gt_image(p->gt, i);
        p->image_ids[i] = im->id;
        if (asprintf(&p->image_paths[i], "%s/%s", o->images, im->file_name) < 0) {
            p->image_paths[i] = NULL;
            return YQ_ERR_NOMEM;
        }
        if (!file_exists(p->image_paths[i]))
            return yq_fail(YQ_ERR_IO, "%s: image %lld of %s is missing", p->image_paths[i], (long long)im->id, o->ann);
    }
    return YQ_OK;
}

static cJSON *file_entry(const char *path, const char *sha) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", path);
    char *abs = realpath(path, NULL);
    if (abs) cJSON_AddStringToObject(f, "absolute_path", abs);
    free(abs);
    cJSON_AddStringToObject(f, "sha256", sha);
    return f;
}

static yq_status write_config(pipe_run *p, const int *vidx, int nv) {
    const yq_pipeline_opts *o = p->o;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "format", "yoloq-pipeline-config");
    cJSON_AddNumberToObject(c, "version", 1);
    if (o->run_id) cJSON_AddStringToObject(c, "run_id", o->run_id);
    cJSON_AddItemToObject(c, "model", file_entry(o->model, p->model_sha));
    cJSON *cal = file_entry(o->calib, p->calib_sha);
    cJSON_AddNumberToObject(cal, "count", p->ncalib);
    cJSON_AddItemToObject(c, "calib", cal);
    cJSON_AddItemToObject(c, "annotations", file_entry(o->ann, p->ann_sha));
    cJSON_AddStringToObject(c, "images", o->images);
    cJSON_AddNumberToObject(c, "images_evaluated", (double)p->nimages);
    if (o->max_images) cJSON_AddNumberToObject(c, "max_images", o->max_images);
    cJSON *vars = cJSON_AddArrayToObject(c, "variants");
    for (int i = 0; i < nv; i++) {
        const variant_def *v = &known_variants[vidx[i]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", v->name);
        if (v->wbits) {
            cJSON_AddStringToObject(e, "weights", v->wbits == 4 ? "int4" : "int8");
            cJSON_AddStringToObject(e, "acts", v->abits ? "int8" : "float");
            cJSON_AddStringToObject(e, "format", "qcdq");
        } else {
            cJSON_AddStringToObject(e, "artifacts", "float32 (cleaned) and float16 (keep_io_types)");
        }
        cJSON_AddItemToArray(vars, e);
    }
    cJSON *rec = cJSON_AddObjectToObject(c, "recipe");
    if (o->recipe) {
        cJSON_AddStringToObject(rec, "path", o->recipe);
        cJSON_AddStringToObject(rec, "sha256", p->recipe_sha);
        cJSON *doc = NULL;
        if (yq_json_load(o->recipe, 1 << 24, 64, &doc) == YQ_OK) cJSON_AddItemToObject(rec, "content", doc);
    } else {
        cJSON_AddStringToObject(rec, "path", "(built-in default: int4 sequential GPTQ in 8 stages, asymmetric, "
                                             "act-order, damp 0.01, A8 uint8 per tensor with the MSE observer; int8 "
                                             "per-channel max RTN, A8 min/max)");
    }
    cJSON_AddNumberToObject(c, "threads", o->threads);
    cJSON_AddBoolToObject(c, "resume", o->resume);
    cJSON_AddNumberToObject(c, "ort_images", o->ort_images);
    cJSON_AddBoolToObject(c, "ort_eval", o->ort_eval);
    cJSON_AddNumberToObject(c, "sample_images", o->sample_images);
    cJSON_AddNumberToObject(c, "sensitivity_images", o->sensitivity_images);
    cJSON_AddNumberToObject(c, "qat_steps", o->qat_steps);
    cJSON *ev = cJSON_AddObjectToObject(c, "eval");
    cJSON_AddNumberToObject(ev, "conf", 0.001);
    cJSON_AddNumberToObject(ev, "iou", 0.7);
    cJSON_AddNumberToObject(ev, "max_det", 300);
    char *path = path_in(p, "config.json");
    yq_status st = path ? yq_json_write_atomic(path, c) : YQ_ERR_NOMEM;
    free(path);
    cJSON_Delete(c);
    if (st != YQ_OK) return st;
    cJSON *env = yq_env_json(o->threads);
    if (env && p->ort.node) cJSON_AddStringToObject(env, "node", p->ort.node);
    if (env && p->ort.node_modules) cJSON_AddStringToObject(env, "onnxruntime_node_modules", p->ort.node_modules);
    if (env && !p->ort.node_modules) cJSON_AddStringToObject(env, "onnxruntime", p->ort.why);
    path = path_in(p, "env.json");
    st = env && path ? yq_json_write_atomic(path, env) : YQ_ERR_NOMEM;
    free(path);
    cJSON_Delete(env);
    return st;
}

static void base_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".onnx")) n -= 5;
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* ---- the whole run ------------------------------------------------------------------------------- */

/* The summary's sensitivity paragraph: the five most sensitive layers and
 * where the full ranking is, or why there is none. */
static yq_status sensitivity_markdown(const pipe_run *p, char **out) {
    *out = NULL;
    if (!p->sens && !p->sens_error) return YQ_OK;
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) return yq_fail(YQ_ERR_NOMEM, "out of memory");
    if (p->sens_error) {
        fprintf(fp, "The sensitivity step failed (`logs/sensitivity.log`): %s\n", p->sens_error);
    } else {
        const cJSON *acts = cJSON_GetObjectItemCaseSensitive(p->sens, "acts");
        fprintf(fp,
                "Each layer quantized alone to W%d%s, the rest float, measured on the head outputs of the first %d "
                "calibration images (`metrics/sensitivity.json`, `yoloq sensitivity` gives the same ranking). "
                "The most sensitive layers — the first candidates to keep at 8 bit with `yoloq quantize --avg-bits`:\n\n",
                (int)num_at(p->sens, "bits", NULL, NULL),
                cJSON_IsString(acts) && acts->valuestring[0] == 'i' ? " in the A8 context" : "",
                (int)num_at(p->sens, "metric_images", NULL, NULL));
        fprintf(fp, "| rank | layer | params | head SQNR (dB) | proxy gain |\n|---:|---|---:|---:|---:|\n");
        const cJSON *l;
        int k = 0;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(p->sens, "layers")) {
            if (k++ >= 5) break;
            const char *name = str_at(l, "name");
            fprintf(fp, "| %d | `%s` | %.0f | %.2f | %.3e |\n", k, name ? name : "?", num_at(l, "params", NULL, NULL),
                    num_at(l, "sqnr_db", NULL, NULL), num_at(l, "gain", NULL, NULL));
        }
    }
    if (fclose(fp) != 0) {
        free(text);
        return yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    *out = text;
    return YQ_OK;
}

static yq_status write_outputs(pipe_run *p, double t0) {
    yq_status st = YQ_OK;
    /* metrics/<variant>.json */
    for (int i = 0; i < p->nrows && st == YQ_OK; i++) {
        row *r = &p->rows[i];
        make_note(r);
        char rel[128];
        snprintf(rel, sizeof rel, "metrics/%s.json", r->variant);
        char *path = path_in(p, rel);
        cJSON *d = metrics_doc(r);
        st = path && d ? yq_json_write_atomic(path, d) : YQ_ERR_NOMEM;
        cJSON_Delete(d);
        free(path);
    }
    /* pictures */
    yq_summary_plot plots[64];
    char ppaths[64][64], ptitles[64][160];
    int np = 0;
    const char *labels[2 * NKNOWN];
    double mb[2 * NKNOWN], map[2 * NKNOWN];
    int ok_rows = 0;
    for (int i = 0; i < p->nrows; i++) {
        labels[i] = p->rows[i].variant;
        mb[i] = num_at(p->rows[i].export_res, "weight_bytes", NULL, NULL) / 1e6;
        map[i] = num_at(p->rows[i].eval_res, "coco", "stats", "AP");
        ok_rows += isfinite(mb[i]) && isfinite(map[i]);
    }
    if (st == YQ_OK && ok_rows > 0) {
        snprintf(ppaths[np], 64, "plots/accuracy_vs_size.png");
        snprintf(ptitles[np], 160, "Accuracy vs model size");
        char *full = path_in(p, ppaths[np]);
        st = full ? yq_plot_accuracy_vs_size(full, labels, mb, map, p->nrows) : YQ_ERR_NOMEM;
        free(full);
        if (st == YQ_OK) plots[np] = (yq_summary_plot){ptitles[np], ppaths[np]}, np++;
    }
    const row *lowest = NULL; /* the lowest-precision PTQ variant with a report */
    for (int i = 0; st == YQ_OK && i < p->nrows; i++) {
        const row *r = &p->rows[i];
        if (r->kind != ROW_PTQ || !r->export_res) continue;
        if (!lowest || r->wbits < lowest->wbits || (r->wbits == lowest->wbits && r->abits && !lowest->abits))
            lowest = r;
        snprintf(ppaths[np], 64, "plots/sqnr_%s.png", r->variant);
        snprintf(ptitles[np], 160, "Per-layer output SQNR, %s", r->variant);
        char *full = path_in(p, ppaths[np]);
        st = full ? yq_plot_layer_sqnr(full, ptitles[np], r->export_res) : YQ_ERR_NOMEM;
        free(full);
        if (st == YQ_OK) plots[np] = (yq_summary_plot){ptitles[np], ppaths[np]}, np++;
    }
    for (int i = 0; st == YQ_OK && i < p->nrows; i++) { /* QAT loss curves */
        const row *r = &p->rows[i];
        const cJSON *loss = r->kind == ROW_QAT ? cJSON_GetObjectItemCaseSensitive(r->export_res, "loss") : NULL;
        const int nl = cJSON_GetArraySize(loss);
        if (nl < 2) continue;
        double *x = malloc((size_t)nl * sizeof *x), *y = malloc((size_t)nl * sizeof *y);
        int k = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, loss) if (x && y) x[k] = k + 1, y[k] = cJSON_IsNumber(v) ? v->valuedouble : NAN, k++;
        snprintf(ppaths[np], 64, "plots/qat_loss_%s.png", r->variant);
        snprintf(ptitles[np], 160, "QAT distillation loss per step, %s", r->variant);
        char *full = path_in(p, ppaths[np]);
        yq_image img = {0};
        st = full && x && y ? yq_chart_line(ptitles[np], "step", "loss (box KL + class KL)", x, y, nl, &img)
                            : yq_fail(YQ_ERR_NOMEM, "out of memory");
        if (st == YQ_OK) st = yq_image_save_png(full, &img);
        yq_image_free(&img);
        free(full);
        free(x);
        free(y);
        if (st == YQ_OK) plots[np] = (yq_summary_plot){ptitles[np], ppaths[np]}, np++;
    }
    if (st == YQ_OK && p->sens) {
        snprintf(ppaths[np], 64, "plots/sensitivity.png");
        snprintf(ptitles[np], 160, "Sensitivity: the 20 layers that cost most when quantized alone");
        char *full = path_in(p, ppaths[np]);
        yq_image img = {0};
        st = full ? yq_sens_chart(p->sens, 20, &img) : YQ_ERR_NOMEM;
        if (st == YQ_OK) st = yq_image_save_png(full, &img);
        yq_image_free(&img);
        free(full);
        if (st == YQ_OK) plots[np] = (yq_summary_plot){ptitles[np], ppaths[np]}, np++;
    } else if (st == YQ_OK && lowest) { /* sensitivity off or failed: the quantize report's proxy */
        snprintf(ppaths[np], 64, "plots/sensitivity.png");
        snprintf(ptitles[np], 160, "Sensitivity proxy: the 20 layers with the lowest output SQNR under %s", lowest->variant);
        char *full = path_in(p, ppaths[np]);
        st = full ? yq_plot_sensitivity(full, ptitles[np], lowest->export_res, 20) : YQ_ERR_NOMEM;
        free(full);
        if (st == YQ_OK) plots[np] = (yq_summary_plot){ptitles[np], ppaths[np]}, np++;
    }
    char *sens_md = NULL;
    if (st == YQ_OK) st = sensitivity_markdown(p, &sens_md);
    const row *fp32 = p->nrows > 0 && p->rows[0].kind == ROW_FP32 && !p->rows[0].error ? &p->rows[0] : NULL;
    if (st == YQ_OK && fp32 && lowest && !lowest->error)
        st = sample_pictures(p, fp32, lowest, plots, &np, ppaths, ptitles);
    /* summary.md */
    yq_summary_row srows[2 * NKNOWN];
    for (int i = 0; i < p->nrows; i++) {
        const row *r = &p->rows[i];
        yq_summary_row *s = &srows[i];
        memset(s, 0, sizeof *s);
        s->variant = r->variant;
        s->artifact = r->export_res ? r->artifact : NULL;
        s->error = r->error;
        s->map = num_at(r->eval_res, "coco", "stats", "AP");
        s->map50 = num_at(r->eval_res, "coco", "stats", "AP50");
        s->dets01 = s->dups01 = -1;
        const cJSON *lv, *levels = r->eval_res ? cJSON_GetObjectItemCaseSensitive(r->eval_res, "detections_by_score") : NULL;
        cJSON_ArrayForEach(lv, levels) {
            const double at = num_at(lv, "score_above", NULL, NULL), nd = num_at(lv, "detections", NULL, NULL),
                         nu = num_at(lv, "duplicates", NULL, NULL);
            if (at == 0.1 && isfinite(nd) && isfinite(nu)) s->dets01 = (int64_t)nd, s->dups01 = (int64_t)nu;
        }
        double wb = num_at(r->export_res, "weight_bytes", NULL, NULL);
        s->weight_bytes = isfinite(wb) ? (int64_t)wb : -1;
        if (r->kind == ROW_PTQ || r->kind == ROW_QAT) {
            double q = num_at(r->export_res, "qdq_counts", "quantize", NULL);
            double dq = num_at(r->export_res, "qdq_counts", "dequantize", NULL);
            s->qdq = isfinite(q) && isfinite(dq) ? (int)(q + dq) : -1;
        } else {
            s->qdq = r->export_res ? 0 : -1;
        }
        s->lat_median_ms = num_at(r->eval_res, "latency", "median_ms", NULL);
        s->lat_p90_ms = num_at(r->eval_res, "latency", "p90_ms", NULL);
        const char *os = str_at(r->ort_res, "status");
        s->ort_status = os && !strcmp(os, "ran") ? YQ_ORT_RAN : os && !strcmp(os, "failed") ? YQ_ORT_FAILED
                                                                                          : YQ_ORT_UNAVAILABLE;
        if (s->ort_status == YQ_ORT_RAN) p->res->ort_ran++;
        s->ort_max_diff = num_at(r->ort_res, "max_abs_diff", NULL, NULL);
        double ni = num_at(r->ort_res, "inputs", NULL, NULL);
        s->ort_inputs = isfinite(ni) ? (int)ni : 0;
        s->ort_box_diff = num_at(r->ort_res, "max_box_diff_px", NULL, NULL);
        s->ort_score_diff = num_at(r->ort_res, "max_score_diff", NULL, NULL);
        s->ort_end2end = isfinite(s->ort_box_diff);
        s->ort_message = str_at(r->ort_res, "message");
        s->ort_map = num_at(r->ort_eval_res, "coco", "stats", "AP");
        s->ort_eval_message = str_at(r->ort_eval_res, "message");
        s->keeps_float = r->keeps_float;
        const double ci = num_at(r->eval_res, "runtime", "convs", "integer");
        s->convs_integer = isfinite(ci) ? (int)ci : -1;
        const double cq = num_at(r->eval_res, "runtime", "convs", "fakequant");
        s->convs_fakequant = isfinite(cq) ? (int)cq : -1;
        const double cf = num_at(r->eval_res, "runtime", "convs", "float");
        s->convs_float = isfinite(cf) ? (int)cf : -1;
    }
    char ortnote[600];
    if (p->ort.node && p->ort.node_modules)
        snprintf(ortnote, sizeof ortnote, "ONNX Runtime: onnxruntime-node from `%s`, CPU execution provider, run by `%s`.",
                 p->ort.node_modules, p->ort.node);
    else
        snprintf(ortnote, sizeof ortnote, "%s.", p->ort.why);
    const char *ann_base = strrchr(p->o->ann, '/');
    yq_summary sum = {.run_id = p->o->run_id, .model = p->name, .dataset = ann_base ? ann_base + 1 : p->o->ann,
                      .images_dir = p->o->images, .nimages = (int)p->nimages, .ncalib = p->ncalib,
                      .threads = p->o->threads, .rows = srows, .nrows = p->nrows,
                      .reference_row = p->nrows && p->rows[0].kind == ROW_FP32 ? 0 : -1, .plots = plots,
                      .nplots = np, .wall_s = (yq_eval_now_ms() - t0) / 1000.0, .ort_note = ortnote,
                      .sensitivity = sens_md};
    char *md = NULL;
    if (st == YQ_OK) st = yq_summary_markdown(&sum, &md);
    char *path = path_in(p, "summary.md");
    if (st == YQ_OK) st = path ? yq_write_file_atomic(path, md, strlen(md)) : YQ_ERR_NOMEM;
    if (st == YQ_OK) snprintf(p->res->summary_path, sizeof p->res->summary_path, "%s", path);
    free(path);
    free(md);
    free(sens_md);
    return st;
}

static void pipe_free(pipe_run *p) {
    for (int i = 0; i < p->nrows; i++) {
        row *r = &p->rows[i];
        free(r->error);
        free(r->keeps_float);
        cJSON_Delete(r->export_res);
        cJSON_Delete(r->smoke_res);
        cJSON_Delete(r->eval_res);
        cJSON_Delete(r->ort_res);
        cJSON_Delete(r->ort_eval_res);
    }
    cJSON_Delete(p->sens);
    free(p->sens_error);
    for (size_t i = 0; p->image_paths && i < p->nimages; i++) free(p->image_paths[i]);
    free(p->image_paths);
    free(p->image_ids);
    yq_coco_gt_free(p->gt);
    yq_ort_env_free(&p->ort);
    free(p->dir);
}

yq_status yq_pipeline_run(const yq_pipeline_opts *o, yq_pipeline_result *res) {
    memset(res, 0, sizeof *res);
    const double t0 = yq_eval_now_ms();
    pipe_run p;
    memset(&p, 0, sizeof p);
    p.o = o;
    p.res = res;
    int vidx[NKNOWN], nv = 0;
    yq_status st = parse_variants(o->variants ? o->variants : yq_pipeline_default_variants, vidx, &nv);
    if (st == YQ_OK) st = check_inputs(&p);
    if (st == YQ_OK) {
        base_name(o->model, p.name, sizeof p.name);
        p.dir = strdup(o->run_dir);
        if (!p.dir) st = YQ_ERR_NOMEM;
    }
    static const char *const subdirs[] = {"onnx", "logs", "steps", "metrics", "plots", "ort", NULL};
    if (st == YQ_OK) st = make_dirs(p.dir);
    for (int i = 0; st == YQ_OK && subdirs[i]; i++) {
        char *d = path_in(&p, subdirs[i]);
        st = d ? make_dir(d) : YQ_ERR_NOMEM;
        free(d);
    }
    if (st == YQ_OK) {
        yq_ort_find(&p.ort);
        st = write_config(&p, vidx, nv);
    }
    /* the rows: baseline gives two artifacts */
    for (int i = 0; st == YQ_OK && i < nv; i++) {
        const variant_def *v = &known_variants[vidx[i]];
        if (!v->wbits) {
            row *a = &p.rows[p.nrows++], *b = &p.rows[p.nrows++];
            snprintf(a->variant, sizeof a->variant, "baseline-fp32");
            snprintf(a->artifact, sizeof a->artifact, "onnx/%s-baseline-fp32.onnx", p.name);
            a->kind = ROW_FP32;
            snprintf(b->variant, sizeof b->variant, "baseline-fp16");
            snprintf(b->artifact, sizeof b->artifact, "onnx/%s-baseline-fp16.onnx", p.name);
            b->kind = ROW_FP16;
        } else if (!v->qat) {
            row *r = &p.rows[p.nrows++];
            snprintf(r->variant, sizeof r->variant, "%s", v->name);
            snprintf(r->artifact, sizeof r->artifact, "onnx/%s-%s-qcdq-ptq.onnx", p.name, v->name);
            r->kind = ROW_PTQ;
            r->wbits = v->wbits;
            r->abits = v->abits;
        }
    }
    /* QAT rows last, each after the PTQ row it starts from (added when not listed) */
    for (int i = 0; st == YQ_OK && i < nv; i++) {
        const variant_def *v = &known_variants[vidx[i]];
        if (!v->qat) continue;
        char bname[32]; /* "w4a8" for "w4a8-qat" */
        snprintf(bname, sizeof bname, "%.*s", (int)(strlen(v->name) - 4), v->name);
        int base = -1;
        for (int k = 0; k < p.nrows; k++)
            if (p.rows[k].kind == ROW_PTQ && p.rows[k].wbits == v->wbits && p.rows[k].abits == v->abits) base = k;
        if (base < 0) {
            row *b = &p.rows[p.nrows++];
            snprintf(b->variant, sizeof b->variant, "%s", bname);
            snprintf(b->artifact, sizeof b->artifact, "onnx/%s-%s-qcdq-ptq.onnx", p.name, bname);
            b->kind = ROW_PTQ;
            b->wbits = v->wbits;
            b->abits = v->abits;
            base = p.nrows - 1;
        }
        row *r = &p.rows[p.nrows++];
        snprintf(r->variant, sizeof r->variant, "%s", v->name);
        snprintf(r->artifact, sizeof r->artifact, "onnx/%s-%s-qcdq-qat.onnx", p.name, bname);
        r->kind = ROW_QAT;
        r->wbits = v->wbits;
        r->abits = v->abits;
        r->base = base;
    }
    /* keep the float32 row first when the baseline is listed later */
    for (int i = 1; st == YQ_OK && i < p.nrows; i++)
        if (p.rows[i].kind == ROW_FP32) {
            row a = p.rows[i], b = p.rows[i + 1];
            memmove(&p.rows[2], &p.rows[0], (size_t)i * sizeof(row));
            p.rows[0] = a;
            p.rows[1] = b;
            for (int k = 2; k < p.nrows; k++)
                if (p.rows[k].kind == ROW_QAT && p.rows[k].base < i) p.rows[k].base += 2;
            break;
        }
    for (int i = 0; st == YQ_OK && i < p.nrows; i++) {
        row *r = &p.rows[i];
        if (r->kind == ROW_FP32) do_export_fp32(&p, r);
        else if (r->kind == ROW_FP16) do_export_fp16(&p, r, &p.rows[i - 1]);
        else if (r->kind == ROW_PTQ) do_quantize(&p, r);
        else do_finetune(&p, r, &p.rows[r->base]);
        if (!r->error) {
            char *a = path_in(&p, r->artifact);
            if (!a || yq_sha256_file(a, r->sha) != YQ_OK) row_fail(r, "hash");
            free(a);
        }
        if (!r->error) do_smoke(&p, r);
        if (!r->error) do_eval(&p, r);
        if (!r->error) do_ort(&p, r);
        if (!r->error) do_ort_eval(&p, r);
    }
    if (st == YQ_OK) do_sensitivity(&p);
    if (st == YQ_OK) {
        char *d = path_in(&p, "ort");
        if (d) rmdir(d); /* only temporaries went there */
        free(d);
        st = write_outputs(&p, t0);
    }
    res->nrows = p.nrows;
    for (int i = 0; i < p.nrows; i++) res->nfailed += p.rows[i].error != NULL;
    res->wall_s = (yq_eval_now_ms() - t0) / 1000.0;
    pipe_free(&p);
    return st;
}
