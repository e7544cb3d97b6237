/* Quantizing a model file (see quantize_file.h). */
#include "quant/quantize_file.h"
#include "quant/reconstruct.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "onnx/onnx.h"
#include "rt/prepare.h"
#include "vision/image.h"
#include "vision/letterbox.h"

void yq_calib_list_free(yq_calib_list *l) {
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = 0;
}

/* Read LIST: one path a line (blank lines and '#' comments skipped), relative
 * paths resolved against the list's folder. */
yq_status yq_calib_list_load(const char *path, yq_calib_list *out) {
    memset(out, 0, sizeof *out);
    unsigned char *data = NULL;
    size_t len = 0;
    yq_status st = yq_read_file(path, &data, &len);
    if (st != YQ_OK) return st;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *text = (const char *)data;
    int cap = 0;
    yq_status rc = YQ_OK;
    size_t i = 0;
    while (i < len && rc == YQ_OK) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t a = i, b = e;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        i = e + 1;
        if (a == b || text[a] == '#') continue;
        if (memchr(text + a, '\0', b - a)) {
            rc = yq_fail(YQ_ERR_INVALID, "%s: not a text file", path);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **np = realloc(out->paths, (size_t)cap * sizeof *np);
            if (!np) {
                rc = yq_fail(YQ_ERR_NOMEM, "out of memory");
                break;
            }
            out->paths = np;
        }
        int abs = text[a] == '/';
        size_t n = (abs ? 0 : dirlen) + (b - a);
        char *p = malloc(n + 1);
        if (!p) {
            rc = yq_fail(YQ_ERR_NOMEM, "out of memory");
            break;
        }
        if (!abs) memcpy(p, path, dirlen);
        memcpy(p + (abs ? 0 : dirlen), text + a, b - a);
        p[n] = '\0';
        out->paths[out->n++] = p;
    }
    free(data);
    if (rc == YQ_OK && out->n == 0) rc = yq_fail(YQ_ERR_INVALID, "%s: the calibration list names no images", path);
    if (rc != YQ_OK) yq_calib_list_free(out);
    return rc;
}

yq_status yq_calib_list_input(void *arg, int index, float *nchw) {
    yq_calib_list *l = arg;
    yq_image img = {0};
    YQ_TRY(yq_image_load(l->paths[index], &img));
    yq_letterbox lb;
    yq_status st = yq_letterbox_nchw(&img, l->w, l->h, nchw, &lb);
    yq_image_free(&img);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s", l->paths[index]);
    return YQ_OK;
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static void add_counts(cJSON *parent, const char *key, const yq_qcdq_counts *c) {
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    cJSON_AddNumberToObject(o, "quantize", c->quantize);
    cJSON_AddNumberToObject(o, "dequantize", c->dequantize);
    cJSON_AddNumberToObject(o, "clip", c->clip);
    cJSON_AddNumberToObject(o, "nodes", c->nodes);
}

cJSON *yq_ptq_report_json(const yq_ptq_report *r, const char *model, const char *out, int ncalib) {
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
    cJSON_AddNumberToObject(doc, "activation_output_quantizers", r->act_output_quantizers);
    cJSON_AddNumberToObject(doc, "int32_biases", r->int32_biases);
    cJSON_AddNumberToObject(doc, "equalized_pairs", r->equalized_pairs);
    /* Q/DQ/Clip and node counts of the graph before and after the clean-up
     * passes; the flat keys are those of the written file */
    cJSON *cnt = cJSON_AddObjectToObject(doc, "qdq_counts");
    cJSON_AddNumberToObject(cnt, "quantize", r->counts_after.quantize);
    cJSON_AddNumberToObject(cnt, "dequantize", r->counts_after.dequantize);
    cJSON_AddNumberToObject(cnt, "clip", r->counts_after.clip);
    cJSON_AddNumberToObject(cnt, "nodes", r->counts_after.nodes);
    add_counts(cnt, "before_cleanup", &r->counts_before_cleanup);
    add_counts(cnt, "after_cleanup", &r->counts_after);
    cJSON *cl = cJSON_AddObjectToObject(doc, "cleanup");
    cJSON_AddNumberToObject(cl, "identity_removed", r->cleanup.identity);
    cJSON_AddNumberToObject(cl, "cast_removed", r->cleanup.cast);
    cJSON_AddNumberToObject(cl, "transpose_removed", r->cleanup.transpose);
    cJSON_AddNumberToObject(cl, "reshape_removed", r->cleanup.reshape);
    cJSON_AddNumberToObject(cl, "transposes_fused", r->cleanup.transpose_fused);
    cJSON_AddNumberToObject(cl, "reshapes_fused", r->cleanup.reshape_fused);
    cJSON_AddNumberToObject(cl, "shape_pairs_removed", r->cleanup.shape_pairs);
    cJSON_AddNumberToObject(cl, "constants_folded", r->cleanup.folded);
    cJSON_AddNumberToObject(cl, "dead_removed", r->cleanup.dead);
    cJSON *op = cJSON_AddObjectToObject(doc, "opset");
    cJSON_AddNumberToObject(op, "model", (double)r->opset.model_opset);
    cJSON_AddNumberToObject(op, "written", (double)r->opset.opset);
    cJSON_AddStringToObject(op, "reason", r->opset.reason);
    cJSON *tm = cJSON_AddObjectToObject(doc, "time_ms");
    cJSON_AddNumberToObject(tm, "calibrate", r->calib_ms);
    cJSON_AddNumberToObject(tm, "quantize", r->quantize_ms);
    cJSON_AddNumberToObject(tm, "report", r->report_ms);
    if (r->recon_blocks > 0) {
        cJSON_AddNumberToObject(tm, "reconstruct", r->recon_ms);
        cJSON *rc = cJSON_AddObjectToObject(doc, "reconstruct");
        cJSON_AddNumberToObject(rc, "blocks", r->recon_blocks);
        cJSON_AddNumberToObject(rc, "blocks_kept", r->recon_kept);
        cJSON_AddNumberToObject(rc, "images", r->recon_images);
        cJSON_AddNumberToObject(rc, "mean_block_error_before", r->recon_err_before);
        cJSON_AddNumberToObject(rc, "mean_block_error_after", r->recon_err_after);
        cJSON *ba = cJSON_AddArrayToObject(rc, "block_list");
        for (int i = 0; i < r->recon_blocks; i++) {
            const yq_recon_block *b = &r->recon[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "first", b->first);
            cJSON_AddStringToObject(o, "last", b->last);
            cJSON_AddNumberToObject(o, "convs", b->convs);
            cJSON_AddNumberToObject(o, "inputs", b->ninputs);
            cJSON_AddNumberToObject(o, "outputs", b->noutputs);
            cJSON_AddItemToObject(o, "error_before", num_or_null(b->err_before));
            cJSON_AddItemToObject(o, "error_after", num_or_null(b->err_after));
            cJSON_AddBoolToObject(o, "kept", b->kept);
            if (b->skipped[0]) cJSON_AddStringToObject(o, "skipped", b->skipped);
            cJSON_AddItemToArray(ba, o);
        }
    }
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
        cJSON_AddStringToObject(o, "bias", l->int32_bias ? "int32" : "float");
        if (l->gptq) {
            cJSON_AddNumberToObject(o, "gptq_stage", l->gptq_stage);
            cJSON_AddNumberToObject(o, "dead_columns", (double)l->dead_columns);
            cJSON_AddNumberToObject(o, "damp_retries", l->damp_retries);
            cJSON_AddNumberToObject(o, "bias_shift", l->bias_shift);
        }
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

static int recipe_has(const yq_recipe *r, const char *section, const char *key) {
    const cJSON *doc = r->json;
    const cJSON *s = doc ? cJSON_GetObjectItemCaseSensitive(doc, section) : NULL;
    return s && cJSON_GetObjectItemCaseSensitive(s, key) != NULL;
}

yq_status yq_calib_list_fit(yq_calib_list *l, const yq_graph *g, const char *model) {
    const yq_value *in = g->ninputs == 1 ? &g->values[g->inputs[0]] : NULL;
    if (!in || in->rank != 4 || in->dims[0] != 1 || in->dims[1] != 3 || in->dims[2] < 1 || in->dims[3] < 1)
        return yq_fail(YQ_ERR_INVALID, "%s: expected one image input [1,3,H,W]", model);
    l->h = (int)in->dims[2];
    l->w = (int)in->dims[3];
    return YQ_OK;
}

void yq_recipe_apply_bits(yq_recipe *recipe, int wbits, int abits) {
    if (wbits) {
        recipe->weights.bits = wbits;
        if (!recipe_has(recipe, "weights", "method"))
            recipe->weights.method = wbits == 4 ? YQ_WMETHOD_GPTQ : YQ_WMETHOD_RTN;
        if (!recipe_has(recipe, "weights", "symmetric")) recipe->weights.symmetric = wbits != 4;
        /* int4 default: sequential GPTQ in 8 stages (yolov10n W4A16 +0.9 mAP points), whose
         * Hessian passes run the quantized weights only (W4A8 0.3636 -> 0.3748; docs/STATUS.md
         * issue 5) */
        const cJSON *root = recipe->json;
        const cJSON *gq = root ? cJSON_GetObjectItemCaseSensitive(root, "gptq") : NULL;
        if (wbits == 4 && !gq) {
            recipe->gptq_sequential = 1;
            recipe->gptq_stage_acts = 0;
        }
        /* and the MSE observer for the A8 ranges, observed on the float model (W4A8 0.3751;
         * ranges from the weight-quantized model, "act_ranges": "quantized", 0.3737) */
        if (wbits == 4 && !recipe_has(recipe, "activations", "observer")) recipe->acts.observer = YQ_OBS_MSE;
    }
    if (abits >= 0) recipe->acts.bits = abits;
}

void yq_recipe_apply_bits_one_layer(yq_recipe *recipe, int wbits, int abits) {
    yq_recipe_apply_bits(recipe, wbits, abits);
    recipe->gptq_sequential = 0;
}

typedef struct recon_progress {
    const yq_ptq_opts *ptq;
} recon_progress;

static void on_recon_block(void *arg, int block, int nblocks, double before, double after, int kept) {
    (void)before, (void)after, (void)kept;
    const recon_progress *p = arg;
    if (p->ptq->progress) p->ptq->progress(p->ptq->progress_arg, "reconstruct", block + 1, nblocks);
}

/* Block reconstruction of the PTQ result g against its float original. */
static yq_status quantize_reconstruct(yq_graph *g, const yq_graph *teacher, const yq_recipe *recipe, int count,
                                      yq_ptq_input_fn input, void *input_arg, const yq_ptq_opts *ptq,
                                      yq_ptq_report *rep) {
    yq_recon_opts ro;
    yq_recon_opts_default(&ro);
    ro.iters = recipe->recon_iters;
    ro.images = recipe->recon_images;
    ro.batch = recipe->recon_batch;
    ro.convs_per_block = recipe->recon_block_convs;
    ro.lr = (float)recipe->recon_lr;
    ro.lr_scale = (float)recipe->recon_lr_scale;
    ro.lr_bias = (float)recipe->recon_lr_bias;
    ro.nthreads = ptq->nthreads;
    recon_progress pr = {ptq};
    ro.progress = on_recon_block;
    ro.progress_arg = &pr;
    yq_recon_result res;
    yq_status st = yq_reconstruct(g, teacher, count, input, input_arg, &ro, &res);
    if (st == YQ_OK) {
        rep->recon_blocks = res.nblocks;
        rep->recon_images = res.images;
        int tried = 0;
        for (int i = 0; i < res.nblocks; i++) tried += !res.blocks[i].skipped[0];
        for (int i = 0; i < res.nblocks; i++) {
            rep->recon_kept += res.blocks[i].kept;
            if (res.blocks[i].skipped[0]) continue;
            rep->recon_err_before += res.blocks[i].err_before / tried;
            rep->recon_err_after += (res.blocks[i].kept ? res.blocks[i].err_after : res.blocks[i].err_before) / tried;
        }
        rep->recon_ms = 1e3 * res.seconds;
        rep->recon = res.blocks; /* the report owns them now */
        res.blocks = NULL;
        res.nblocks = 0;
    }
    yq_recon_result_free(&res);
    return st;
}

yq_status yq_quantize_graph(yq_graph *g, const yq_recipe *recipe, int count, yq_ptq_input_fn input, void *input_arg,
                            const yq_ptq_opts *ptq, yq_ptq_report *rep) {
    yq_graph *teacher = NULL;
    yq_status st = YQ_OK;
    if (recipe->recon_iters > 0) YQ_TRY(yq_graph_clone(g, &teacher));
    st = yq_ptq_quantize(g, recipe, count, input, input_arg, ptq, rep);
    if (st == YQ_OK && teacher) st = quantize_reconstruct(g, teacher, recipe, count, input, input_arg, ptq, rep);
    yq_graph_free(teacher);
    return st;
}

yq_status yq_quantize_model_file(const yq_quantize_job *job, yq_ptq_report *rep, int *ncalib_used) {
    memset(rep, 0, sizeof *rep);
    yq_recipe *recipe = NULL;
    yq_status st = job->recipe_path ? yq_recipe_load(job->recipe_path, &recipe) : yq_recipe_default(&recipe);
    if (st != YQ_OK) return st;
    yq_recipe_apply_bits(recipe, job->wbits, job->abits);
    int count = job->calib_count ? job->calib_count : recipe->calib_count;

    yq_calib_list list;
    st = yq_calib_list_load(job->calib, &list);
    if (st != YQ_OK) {
        yq_recipe_free(recipe);
        return st;
    }
    if (count > list.n) count = list.n;
    /* fail fast on a missing image rather than after minutes of calibration */
    for (int i = 0; i < count && st == YQ_OK; i++) {
        FILE *fp = fopen(list.paths[i], "rb");
        if (!fp)
            st = yq_fail(YQ_ERR_IO, "%s: cannot open calibration image '%s' (listed in %s)", list.paths[i],
                         list.paths[i], job->calib);
        else
            fclose(fp);
    }
    yq_graph *g = NULL;
    if (st == YQ_OK) st = yq_onnx_load(job->model, &g);
    if (st == YQ_OK) {
        yq_prepare_opts popt = yq_prepare_defaults();
        st = yq_prepare_graph(g, NULL, &popt);
    }
    if (st == YQ_OK) {
        st = yq_calib_list_fit(&list, g, job->model);
    }
    if (st == YQ_OK) st = yq_quantize_graph(g, recipe, count, yq_calib_list_input, &list, &job->ptq, rep);
    if (st == YQ_OK) st = yq_onnx_save(g, job->out);
    if (st != YQ_OK) yq_ptq_report_free(rep);
    else if (ncalib_used) *ncalib_used = count;
    yq_graph_free(g);
    yq_calib_list_free(&list);
    yq_recipe_free(recipe);
    return st;
}
