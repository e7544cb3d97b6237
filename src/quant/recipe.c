#include "quant/recipe.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"

#define PATH_MAX_LEN 512

/* ---- defaults and conversions ----------------------------------------------------- */

static void weight_defaults(yq_weight_cfg *w) {
    memset(w, 0, sizeof *w);
    w->bits = 8;
    w->per_channel = 1;
    w->symmetric = 1;
    w->narrow = 0;
    yq_scale_opts_default(&w->scale);
    w->method = YQ_WMETHOD_RTN;
    w->gptq_damp = 0.01;
    w->gptq_act_order = 1;
    w->gptq_block_size = 128;
    w->gptq_group_size = 0;
    w->adaround_iters = 1000;
    w->adaround_lambda = 0.01;
    w->adaround_lr = 0.001;
    w->adaround_init = 1;
    w->adaround_cd_sweeps = 4;
    w->adaround_damp = 0.01;
}

static void act_defaults(yq_act_cfg *a) {
    memset(a, 0, sizeof *a);
    a->bits = 0;
    a->observer = YQ_OBS_MINMAX;
    a->percentile = 99.99;
    a->is_signed = 0;
    a->symmetric = 0;
}

void yq_weight_cfg_format(const yq_weight_cfg *w, yq_qformat *f) {
    f->bits = w->bits;
    f->is_signed = 1;
    f->narrow = w->narrow;
    f->symmetric = w->symmetric;
}

void yq_weight_cfg_gptq_opts(const yq_weight_cfg *w, yq_gptq_opts *o) {
    yq_gptq_opts_default(o, w->bits);
    yq_weight_cfg_format(w, &o->format);
    o->scale = w->scale;
    o->percdamp = w->gptq_damp;
    o->act_order = w->gptq_act_order;
    o->block_size = w->gptq_block_size;
    o->group_size = w->gptq_group_size;
}

void yq_act_cfg_format(const yq_act_cfg *a, yq_qformat *f) {
    f->bits = a->bits;
    f->is_signed = a->is_signed;
    f->narrow = 0;
    f->symmetric = a->symmetric;
}

void yq_act_cfg_observer_opts(const yq_act_cfg *a, yq_observer_opts *o) {
    yq_observer_opts_default(o, a->observer);
    o->percentile = a->percentile;
}

/* ---- JSON helpers: every error names the file and the key path ------------------ */

static yq_status perr(yq_status st, const char *file, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static yq_status perr(yq_status st, const char *file, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yq_fail(st, "%s: %s", file, msg);
}

/* parent.key into out[PATH_MAX_LEN] (a very long user key is truncated). */
static void child_path(char *out, const char *parent, const char *key) {
    int n = parent[0] ? snprintf(out, PATH_MAX_LEN, "%s.%s", parent, key) : snprintf(out, PATH_MAX_LEN, "%s", key);
    if (n < 0) out[0] = '\0';
}

static yq_status check_keys(const cJSON *obj, const char *const *allowed, const char *file, const char *path) {
    for (const cJSON *c = obj->child; c; c = c->next) {
        char p[PATH_MAX_LEN];
        child_path(p, path, c->string ? c->string : "");
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (c->string && strcmp(c->string, allowed[i]) == 0) ok = 1;
        if (!ok) return perr(YQ_ERR_PARSE, file, "unknown key '%s'", p);
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (d->string && strcmp(d->string, c->string) == 0) return perr(YQ_ERR_PARSE, file, "duplicate key '%s'", p);
    }
    return YQ_OK;
}

static yq_status want_object(const cJSON *it, const char *file, const char *path) {
    if (!cJSON_IsObject(it)) return perr(YQ_ERR_PARSE, file, "'%s' must be an object", path);
    return YQ_OK;
}

static yq_status want_bool(const cJSON *it, const char *file, const char *path, int *out) {
    if (!cJSON_IsBool(it)) return perr(YQ_ERR_PARSE, file, "'%s' must be true or false", path);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return YQ_OK;
}

static yq_status want_int(const cJSON *it, const char *file, const char *path, long lo, long hi, int *out) {
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
        return perr(YQ_ERR_PARSE, file, "'%s' must be an integer", path);
    if (it->valuedouble < (double)lo || it->valuedouble > (double)hi)
        return perr(YQ_ERR_PARSE, file, "'%s' is %g, outside [%ld, %ld]", path, it->valuedouble, lo, hi);
    *out = (int)it->valuedouble;
    return YQ_OK;
}

/* A number in (lo, hi]. */
static yq_status want_num(const cJSON *it, const char *file, const char *path, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(it)) return perr(YQ_ERR_PARSE, file, "'%s' must be a number", path);
    if (!(it->valuedouble > lo && it->valuedouble <= hi))
        return perr(YQ_ERR_PARSE, file, "'%s' is %g, outside (%g, %g]", path, it->valuedouble, lo, hi);
    *out = it->valuedouble;
    return YQ_OK;
}

static yq_status want_enum(const cJSON *it, const char *file, const char *path, const char *const *names, int *out) {
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, names[i]) == 0) {
            *out = i;
            return YQ_OK;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s\"%s\"", i ? ", " : "", names[i]);
    }
    if (!cJSON_IsString(it)) return perr(YQ_ERR_PARSE, file, "'%s' must be a string: one of %s", path, list);
    return perr(YQ_ERR_PARSE, file, "'%s' is \"%s\": use one of %s", path, it->valuestring, list);
}

/* Weight bit widths other than 4 and 8 are valid integers but not supported:
 * INT8 storage + Clip covers them, yet nothing downstream was validated. */
static yq_status want_bits(const cJSON *it, const char *file, const char *path, const int *allowed, int *out) {
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
        return perr(YQ_ERR_PARSE, file, "'%s' must be an integer", path);
    for (int i = 0; allowed[i]; i++)
        if (it->valuedouble == allowed[i]) {
            *out = allowed[i];
            return YQ_OK;
        }
    return perr(YQ_ERR_UNSUPPORTED, file, "'%s': %g-bit quantization is not supported (use %s)", path, it->valuedouble,
                allowed[1] ? "4 or 8" : "8 or null");
}

/* ---- sections ---------------------------------------------------------------------- */

static const char *const scale_names[] = {"max", "percentile", "mse", NULL}; /* yq_scale_method order */
static const char *const method_names[] = {"rtn", "gptq", "adaround", NULL}; /* yq_weight_method order */
static const char *const adaround_init_names[] = {"rtn", "gptq", NULL};       /* yq_adaround_init order */
static const char *const observer_names[] = {"minmax", "percentile", "mse", "entropy", NULL};
static const char *const granularity_names[] = {"tensor", "channel", NULL};
static const char *const bias_names[] = {"float", "int32", NULL}; /* yq_weight_cfg.int32_bias */

static yq_status apply_gptq(yq_weight_cfg *w, const cJSON *obj, const char *file, const char *path) {
    static const char *const keys[] = {"damp", "act_order", "block_size", "group_size", NULL};
    YQ_TRY(want_object(obj, file, path));
    YQ_TRY(check_keys(obj, keys, file, path));
    char p[PATH_MAX_LEN];
    for (const cJSON *c = obj->child; c; c = c->next) {
        child_path(p, path, c->string);
        if (!strcmp(c->string, "damp")) YQ_TRY(want_num(c, file, p, 0.0, 1.0, &w->gptq_damp));
        else if (!strcmp(c->string, "act_order")) YQ_TRY(want_bool(c, file, p, &w->gptq_act_order));
        else if (!strcmp(c->string, "block_size")) YQ_TRY(want_int(c, file, p, 1, 65536, &w->gptq_block_size));
        else if (!strcmp(c->string, "group_size")) YQ_TRY(want_int(c, file, p, 0, 65536, &w->gptq_group_size));
    }
    return YQ_OK;
}

static yq_status apply_adaround(yq_weight_cfg *w, const cJSON *obj, const char *file, const char *path) {
    static const char *const keys[] = {"iters", "lambda", "lr", "init", "cd_sweeps", "damp", NULL};
    YQ_TRY(want_object(obj, file, path));
    YQ_TRY(check_keys(obj, keys, file, path));
    char p[PATH_MAX_LEN];
    for (const cJSON *c = obj->child; c; c = c->next) {
        child_path(p, path, c->string);
        if (!strcmp(c->string, "iters")) YQ_TRY(want_int(c, file, p, 1, 1000000, &w->adaround_iters));
        else if (!strcmp(c->string, "lambda")) YQ_TRY(want_num(c, file, p, 0.0, 1e6, &w->adaround_lambda));
        else if (!strcmp(c->string, "lr")) YQ_TRY(want_num(c, file, p, 1e-9, 10.0, &w->adaround_lr));
        else if (!strcmp(c->string, "init")) YQ_TRY(want_enum(c, file, p, adaround_init_names, &w->adaround_init));
        else if (!strcmp(c->string, "damp")) YQ_TRY(want_num(c, file, p, 0.0, 10.0, &w->adaround_damp));
        else if (!strcmp(c->string, "cd_sweeps")) YQ_TRY(want_int(c, file, p, 0, 1000, &w->adaround_cd_sweeps));
    }
    return YQ_OK;
}

static yq_status apply_weights(yq_weight_cfg *w, const cJSON *obj, const char *file, const char *path) {
    static const char *const keys[] = {"bits", "granularity", "symmetric", "narrow", "scale", "percentile",
                                       "mse_norm", "method", "gptq", "adaround", "bias", NULL};
    static const int bits_ok[] = {4, 8, 0};
    YQ_TRY(want_object(obj, file, path));
    YQ_TRY(check_keys(obj, keys, file, path));
    char p[PATH_MAX_LEN];
    for (const cJSON *c = obj->child; c; c = c->next) {
        child_path(p, path, c->string);
        int e;
        if (!strcmp(c->string, "bits")) {
            YQ_TRY(want_bits(c, file, p, bits_ok, &w->bits));
        } else if (!strcmp(c->string, "granularity")) {
            YQ_TRY(want_enum(c, file, p, granularity_names, &w->per_channel));
        } else if (!strcmp(c->string, "symmetric")) {
            YQ_TRY(want_bool(c, file, p, &w->symmetric));
        } else if (!strcmp(c->string, "narrow")) {
            YQ_TRY(want_bool(c, file, p, &w->narrow));
        } else if (!strcmp(c->string, "scale")) {
            YQ_TRY(want_enum(c, file, p, scale_names, &e));
            w->scale.method = (yq_scale_method)e;
        } else if (!strcmp(c->string, "percentile")) {
            YQ_TRY(want_num(c, file, p, 50.0, 100.0, &w->scale.percentile));
        } else if (!strcmp(c->string, "mse_norm")) {
            YQ_TRY(want_num(c, file, p, 0.0, 10.0, &w->scale.mse_norm));
        } else if (!strcmp(c->string, "method")) {
            YQ_TRY(want_enum(c, file, p, method_names, &e));
            w->method = (yq_weight_method)e;
        } else if (!strcmp(c->string, "gptq")) {
            YQ_TRY(apply_gptq(w, c, file, p));
        } else if (!strcmp(c->string, "bias")) {
            YQ_TRY(want_enum(c, file, p, bias_names, &w->int32_bias));
        } else if (!strcmp(c->string, "adaround")) {
            YQ_TRY(apply_adaround(w, c, file, p));
        }
    }
    return YQ_OK;
}

static yq_status apply_acts(yq_act_cfg *a, const cJSON *obj, const char *file, const char *path) {
    static const char *const keys[] = {"bits", "observer", "percentile", "signed", "symmetric", NULL};
    static const int bits_ok[] = {8, 0};
    if (cJSON_IsNull(obj)) { /* "activations": null — float activations */
        a->bits = 0;
        return YQ_OK;
    }
    YQ_TRY(want_object(obj, file, path));
    YQ_TRY(check_keys(obj, keys, file, path));
    char p[PATH_MAX_LEN];
    for (const cJSON *c = obj->child; c; c = c->next) {
        child_path(p, path, c->string);
        int e;
        if (!strcmp(c->string, "bits")) {
            if (cJSON_IsNull(c))
                a->bits = 0;
            else
                YQ_TRY(want_bits(c, file, p, bits_ok, &a->bits));
        } else if (!strcmp(c->string, "observer")) {
            YQ_TRY(want_enum(c, file, p, observer_names, &e));
            a->observer = (yq_observer_kind)e;
        } else if (!strcmp(c->string, "percentile")) {
            YQ_TRY(want_num(c, file, p, 50.0, 100.0, &a->percentile));
        } else if (!strcmp(c->string, "signed")) {
            YQ_TRY(want_bool(c, file, p, &a->is_signed));
        } else if (!strcmp(c->string, "symmetric")) {
            YQ_TRY(want_bool(c, file, p, &a->symmetric));
        }
    }
    return YQ_OK;
}

/* Combinations that are each valid but not together. `where` names the node
 * (or is empty for the recipe's defaults). */
static yq_status check_cfg(const yq_weight_cfg *w, const yq_act_cfg *a, const char *file, const char *where) {
    if (!w->per_channel && w->gptq_group_size > 0)
        return perr(YQ_ERR_PARSE, file, "%s'weights.gptq.group_size' %d needs \"granularity\": \"channel\"", where,
                    w->gptq_group_size);
    if (w->int32_bias && w->gptq_group_size > 0)
        return perr(YQ_ERR_PARSE, file, "%s'weights.bias' \"int32\" needs one weight scale per output channel "
                    "(no 'weights.gptq.group_size')", where);
    if (w->method == YQ_WMETHOD_ADAROUND && w->gptq_group_size > 0)
        return perr(YQ_ERR_PARSE, file, "%s'weights.method' \"adaround\" needs one scale per channel or tensor "
                    "('weights.gptq.group_size' 0)", where);
    if (a->bits && a->symmetric && !a->is_signed)
        return perr(YQ_ERR_PARSE, file, "%s'activations.symmetric' needs \"signed\": true (an int8 grid with zero "
                    "point 0); unsigned activations are asymmetric", where);
    return YQ_OK;
}

/* ---- load / free -------------------------------------------------------------------- */

static yq_status recipe_new(const char *name, yq_recipe **out) {
    yq_recipe *r = yq_calloc(1, sizeof *r);
    if (!r) return YQ_ERR_NOMEM;
    r->name = yq_strdup(name ? name : "recipe");
    if (!r->name) {
        free(r);
        return YQ_ERR_NOMEM;
    }
    weight_defaults(&r->weights);
    act_defaults(&r->acts);
    r->calib_count = 128;
    r->gptq_stages = 8;
    r->gptq_stage_acts = 1;
    r->smooth_alpha = 0.5;
    r->recon_images = 32;
    r->recon_batch = 2;
    r->recon_block_convs = 4;
    r->recon_lr = 5e-2;
    *out = r;
    return YQ_OK;
}

yq_status yq_recipe_default(yq_recipe **out) { return recipe_new("(default recipe)", out); }

void yq_recipe_free(yq_recipe *r) {
    if (!r) return;
    for (int i = 0; i < r->noverrides; i++) free(r->overrides[i].match);
    free(r->overrides);
    for (int i = 0; i < r->nkeep; i++) free(r->keep_float[i]);
    free(r->keep_float);
    cJSON_Delete(r->json);
    free(r->name);
    free(r);
}

static yq_status parse_overrides(yq_recipe *r, const cJSON *arr) {
    static const char *const keys[] = {"match", "weights", "activations", "float", NULL};
    const char *file = r->name;
    if (!cJSON_IsArray(arr)) return perr(YQ_ERR_PARSE, file, "'overrides' must be an array");
    int n = cJSON_GetArraySize(arr);
    r->overrides = yq_calloc((size_t)(n ? n : 1), sizeof *r->overrides);
    if (!r->overrides) return YQ_ERR_NOMEM;
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        char path[PATH_MAX_LEN], p[PATH_MAX_LEN];
        snprintf(path, sizeof path, "overrides[%d]", i);
        YQ_TRY(want_object(o, file, path));
        YQ_TRY(check_keys(o, keys, file, path));
        yq_recipe_override *ov = &r->overrides[i];
        r->noverrides = i + 1;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "match");
        if (!m) return perr(YQ_ERR_PARSE, file, "'%s' needs a \"match\" pattern", path);
        child_path(p, path, "match");
        if (!cJSON_IsString(m) || !m->valuestring[0])
            return perr(YQ_ERR_PARSE, file, "'%s' must be a non-empty string", p);
        if (!(ov->match = yq_strdup(m->valuestring))) return YQ_ERR_NOMEM;
        /* Validate the patches now (types, values), on scratch copies. */
        yq_weight_cfg wtmp = r->weights;
        yq_act_cfg atmp = r->acts;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
        if (w) {
            child_path(p, path, "weights");
            YQ_TRY(apply_weights(&wtmp, w, file, p));
            ov->weights = w;
        }
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "activations");
        if (a) {
            child_path(p, path, "activations");
            YQ_TRY(apply_acts(&atmp, a, file, p));
            ov->acts = a;
        }
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "float");
        if (f) {
            child_path(p, path, "float");
            YQ_TRY(want_bool(f, file, p, &ov->is_float));
            ov->has_float = 1;
        }
    }
    return YQ_OK;
}

static yq_status parse_keep_float(yq_recipe *r, const cJSON *arr) {
    const char *file = r->name;
    if (!cJSON_IsArray(arr)) return perr(YQ_ERR_PARSE, file, "'keep_float' must be an array of patterns");
    int n = cJSON_GetArraySize(arr);
    r->keep_float = yq_calloc((size_t)(n ? n : 1), sizeof *r->keep_float);
    if (!r->keep_float) return YQ_ERR_NOMEM;
    int i = 0;
    for (const cJSON *s = arr->child; s; s = s->next, i++) {
        if (!cJSON_IsString(s) || !s->valuestring[0])
            return perr(YQ_ERR_PARSE, file, "'keep_float[%d]' must be a non-empty string", i);
        if (!(r->keep_float[i] = yq_strdup(s->valuestring))) return YQ_ERR_NOMEM;
        r->nkeep = i + 1;
    }
    return YQ_OK;
}

/* "mixed": the budget of mixed precision (quant/mixed.h does the choosing). */
static yq_status parse_mixed(yq_recipe *r, const cJSON *obj) {
    static const char *const keys[] = {"avg_bits", "weight_bytes", "metric_images", "criterion", "context",
                                       NULL};
    static const char *const criteria[] = {"noise", "proxy", NULL};
    static const char *const contexts[] = {"alone", "quantized", NULL};
    const char *file = r->name;
    YQ_TRY(want_object(obj, file, "mixed"));
    YQ_TRY(check_keys(obj, keys, file, "mixed"));
    const cJSON *avg = cJSON_GetObjectItemCaseSensitive(obj, "avg_bits");
    const cJSON *wb = cJSON_GetObjectItemCaseSensitive(obj, "weight_bytes");
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(obj, "metric_images");
    if (avg && wb) return perr(YQ_ERR_PARSE, file, "'mixed' takes \"avg_bits\" or \"weight_bytes\", not both");
    if (!avg && !wb) return perr(YQ_ERR_PARSE, file, "'mixed' needs \"avg_bits\" or \"weight_bytes\"");
    if (avg) {
        if (!cJSON_IsNumber(avg)) return perr(YQ_ERR_PARSE, file, "'mixed.avg_bits' must be a number");
        if (!(avg->valuedouble >= 4.0 && avg->valuedouble <= 8.0))
            return perr(YQ_ERR_PARSE, file, "'mixed.avg_bits' is %g: the average weight bits of 4- and 8-bit layers "
                        "must be in [4, 8]", avg->valuedouble);
        r->mixed_avg_bits = avg->valuedouble;
    }
    if (wb) {
        if (!cJSON_IsNumber(wb) || wb->valuedouble != floor(wb->valuedouble) || wb->valuedouble < 1 ||
            wb->valuedouble > 9007199254740992.0)
            return perr(YQ_ERR_PARSE, file, "'mixed.weight_bytes' must be a positive integer");
        r->mixed_weight_bytes = (int64_t)wb->valuedouble;
    }
    if (mi) YQ_TRY(want_int(mi, file, "mixed.metric_images", 1, 1000000, &r->mixed_metric_images));
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(obj, "criterion");
    if (cr) YQ_TRY(want_enum(cr, file, "mixed.criterion", criteria, &r->mixed_by_proxy));
    const cJSON *cx = cJSON_GetObjectItemCaseSensitive(obj, "context");
    if (cx) YQ_TRY(want_enum(cx, file, "mixed.context", contexts, &r->mixed_quantized_context));
    return YQ_OK;
}

/* "reconstruct": block reconstruction after PTQ (quant/reconstruct.h). */
static yq_status parse_reconstruct(yq_recipe *r, const cJSON *obj) {
    static const char *const keys[] = {"iters", "images", "batch", "block_convs", "lr", "lr_scale", "lr_bias", NULL};
    const char *file = r->name;
    YQ_TRY(want_object(obj, file, "reconstruct"));
    YQ_TRY(check_keys(obj, keys, file, "reconstruct"));
    const cJSON *c;
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "iters"))) YQ_TRY(want_int(c, file, "reconstruct.iters", 0, 1000000, &r->recon_iters));
    else r->recon_iters = 200; /* the section itself turns it on */
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "images"))) YQ_TRY(want_int(c, file, "reconstruct.images", 1, 100000, &r->recon_images));
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "batch"))) YQ_TRY(want_int(c, file, "reconstruct.batch", 1, 1024, &r->recon_batch));
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "block_convs")))
        YQ_TRY(want_int(c, file, "reconstruct.block_convs", 1, 100000, &r->recon_block_convs));
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "lr"))) YQ_TRY(want_num(c, file, "reconstruct.lr", 0.0, 10.0, &r->recon_lr));
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "lr_scale")))
        YQ_TRY(want_num(c, file, "reconstruct.lr_scale", 0.0, 10.0, &r->recon_lr_scale));
    if ((c = cJSON_GetObjectItemCaseSensitive(obj, "lr_bias")))
        YQ_TRY(want_num(c, file, "reconstruct.lr_bias", 0.0, 10.0, &r->recon_lr_bias));
    return YQ_OK;
}

static yq_status parse_root(yq_recipe *r, const cJSON *root) {
    static const char *const keys[] = {"weights",    "activations", "calibration",     "overrides", "keep_float",
                                       "gptq",       "bias_correction", "equalize", "mixed",     "act_ranges",
                                       "reconstruct", "act_outputs", NULL};
    static const char *const calib_keys[] = {"count", NULL};
    static const char *const gptq_keys[] = {"sequential", "stages", "input_correction", "stage_acts", NULL};
    const char *file = r->name;
    if (!cJSON_IsObject(root)) return perr(YQ_ERR_PARSE, file, "the recipe must be a JSON object");
    YQ_TRY(check_keys(root, keys, file, ""));
    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "weights"))) YQ_TRY(apply_weights(&r->weights, it, file, "weights"));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "activations")))
        YQ_TRY(apply_acts(&r->acts, it, file, "activations"));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "calibration"))) {
        YQ_TRY(want_object(it, file, "calibration"));
        YQ_TRY(check_keys(it, calib_keys, file, "calibration"));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "count");
        if (c) YQ_TRY(want_int(c, file, "calibration.count", 1, 1000000, &r->calib_count));
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "gptq"))) {
        YQ_TRY(want_object(it, file, "gptq"));
        YQ_TRY(check_keys(it, gptq_keys, file, "gptq"));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "sequential");
        if (c) YQ_TRY(want_bool(c, file, "gptq.sequential", &r->gptq_sequential));
        if ((c = cJSON_GetObjectItemCaseSensitive(it, "stages")))
            YQ_TRY(want_int(c, file, "gptq.stages", 1, 256, &r->gptq_stages));
        if ((c = cJSON_GetObjectItemCaseSensitive(it, "input_correction")))
            YQ_TRY(want_bool(c, file, "gptq.input_correction", &r->gptq_input_correction));
        if ((c = cJSON_GetObjectItemCaseSensitive(it, "stage_acts")))
            YQ_TRY(want_bool(c, file, "gptq.stage_acts", &r->gptq_stage_acts));
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "equalize"))) {
        static const char *const eq_keys[] = {"method", "alpha", NULL};
        static const char *const eq_names[] = {"none", "cle", "smoothquant", NULL};
        YQ_TRY(want_object(it, file, "equalize"));
        YQ_TRY(check_keys(it, eq_keys, file, "equalize"));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "method");
        if (c) YQ_TRY(want_enum(c, file, "equalize.method", eq_names, &r->equalize));
        if ((c = cJSON_GetObjectItemCaseSensitive(it, "alpha"))) {
            YQ_TRY(want_num(c, file, "equalize.alpha", 0.0, 1.0, &r->smooth_alpha));
            if (!(r->smooth_alpha > 0 && r->smooth_alpha < 1))
                return perr(YQ_ERR_PARSE, file, "'equalize.alpha' must be strictly between 0 and 1");
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "bias_correction")))
        YQ_TRY(want_bool(it, file, "bias_correction", &r->bias_correction));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "act_ranges"))) {
        static const char *const range_names[] = {"float", "quantized", NULL};
        YQ_TRY(want_enum(it, file, "act_ranges", range_names, &r->act_ranges_quantized));
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "act_outputs")))
        YQ_TRY(want_bool(it, file, "act_outputs", &r->act_outputs));
    YQ_TRY(check_cfg(&r->weights, &r->acts, file, ""));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "overrides"))) YQ_TRY(parse_overrides(r, it));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "keep_float"))) YQ_TRY(parse_keep_float(r, it));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "mixed"))) YQ_TRY(parse_mixed(r, it));
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "reconstruct"))) YQ_TRY(parse_reconstruct(r, it));
    return YQ_OK;
}

yq_status yq_recipe_parse(const char *text, size_t len, const char *name, yq_recipe **out) {
    yq_recipe *r;
    YQ_TRY(recipe_new(name, &r));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        /* Line and column of where parsing stopped. */
        int line = 1, col = 1;
        const char *stop = (end && end >= text && end <= text + len) ? end : text + len;
        for (const char *c = text; c < stop; c++) {
            if (*c == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        yq_status st = yq_fail(YQ_ERR_PARSE, "%s:%d:%d: invalid JSON", r->name, line, col);
        yq_recipe_free(r);
        return st;
    }
    r->json = root;
    for (const char *c = end ? end : text + len; c < text + len; c++) {
        if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n' || *c == '\0') continue;
        yq_status st = yq_fail(YQ_ERR_PARSE, "%s: unexpected text after the JSON object", r->name);
        yq_recipe_free(r);
        return st;
    }
    yq_status st = parse_root(r, root);
    if (st != YQ_OK) {
        yq_recipe_free(r);
        return st;
    }
    *out = r;
    return YQ_OK;
}

yq_status yq_recipe_load(const char *path, yq_recipe **out) {
    unsigned char *data;
    size_t len;
    YQ_TRY(yq_read_file(path, &data, &len));
    yq_status st = yq_recipe_parse((const char *)data, len, path, out);
    free(data);
    return st;
}

yq_status yq_recipe_clone(const yq_recipe *r, yq_recipe **out) {
    yq_recipe *c = NULL;
    if (r->json) {
        char *text = cJSON_PrintUnformatted(r->json);
        if (!text) return yq_fail(YQ_ERR_NOMEM, "recipe: out of memory");
        yq_status st = yq_recipe_parse(text, strlen(text), r->name, &c);
        free(text);
        YQ_TRY(st);
    } else {
        YQ_TRY(recipe_new(r->name, &c));
    }
    /* what the caller may have changed after parsing */
    c->weights = r->weights;
    c->acts = r->acts;
    c->calib_count = r->calib_count;
    c->mixed_avg_bits = r->mixed_avg_bits;
    c->mixed_weight_bytes = r->mixed_weight_bytes;
    c->mixed_metric_images = r->mixed_metric_images;
    c->mixed_by_proxy = r->mixed_by_proxy;
    c->mixed_quantized_context = r->mixed_quantized_context;
    c->gptq_sequential = r->gptq_sequential;
    c->gptq_stages = r->gptq_stages;
    c->gptq_input_correction = r->gptq_input_correction;
    c->gptq_stage_acts = r->gptq_stage_acts;
    c->bias_correction = r->bias_correction;
    c->equalize = r->equalize;
    c->smooth_alpha = r->smooth_alpha;
    c->act_ranges_quantized = r->act_ranges_quantized;
    c->act_outputs = r->act_outputs;
    c->recon_iters = r->recon_iters;
    c->recon_images = r->recon_images;
    c->recon_batch = r->recon_batch;
    c->recon_block_convs = r->recon_block_convs;
    c->recon_lr = r->recon_lr;
    c->recon_lr_scale = r->recon_lr_scale;
    c->recon_lr_bias = r->recon_lr_bias;
    *out = c;
    return YQ_OK;
}

/* A pattern that matches exactly `name` (see yq_recipe_match): glob
 * characters escaped, and a leading "op_type:" made literal. */
static char *exact_pattern(const char *name) {
    size_t n = strlen(name);
    char *p = yq_malloc(2 * n + 2);
    if (!p) return NULL;
    size_t k = 0;
    if (strncmp(name, "op_type:", 8) == 0) p[k++] = '\\';
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", name[i])) p[k++] = '\\';
        p[k++] = name[i];
    }
    p[k] = '\0';
    return p;
}

yq_status yq_recipe_add_bits_override(yq_recipe *r, const char *node_name, int bits) {
    if (bits != 4 && bits != 8) return yq_fail(YQ_ERR_ARG, "recipe: %d-bit overrides are not supported", bits);
    if (!node_name || !node_name[0]) return yq_fail(YQ_ERR_ARG, "recipe: an override needs a node name");
    if (!r->json && !(r->json = cJSON_CreateObject())) return yq_fail(YQ_ERR_NOMEM, "recipe: out of memory");
    cJSON *root = r->json;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "overrides");
    if (!arr && !(arr = cJSON_AddArrayToObject(root, "overrides"))) return yq_fail(YQ_ERR_NOMEM, "recipe: out of memory");
    yq_recipe_override *ovs = realloc(r->overrides, ((size_t)r->noverrides + 1) * sizeof *ovs);
    if (!ovs) return yq_fail(YQ_ERR_NOMEM, "recipe: out of memory");
    r->overrides = ovs;
    char *pat = exact_pattern(node_name);
    cJSON *o = cJSON_CreateObject(), *w = NULL;
    if (pat && o && cJSON_AddStringToObject(o, "match", pat) && (w = cJSON_AddObjectToObject(o, "weights")) &&
        cJSON_AddNumberToObject(w, "bits", bits) && cJSON_AddItemToArray(arr, o)) {
        r->overrides[r->noverrides++] = (yq_recipe_override){.match = pat, .weights = w};
        return YQ_OK;
    }
    free(pat);
    cJSON_Delete(o);
    return yq_fail(YQ_ERR_NOMEM, "recipe: out of memory");
}

/* ---- resolution ------------------------------------------------------------------------ */

int yq_recipe_match(const char *pattern, const char *node_name, const char *op_type) {
    if (strncmp(pattern, "op_type:", 8) == 0) return op_type && strcmp(pattern + 8, op_type) == 0;
    if (!node_name) return 0;
    if (strcmp(pattern, node_name) == 0) return 1;
    return fnmatch(pattern, node_name, 0) == 0;
}

yq_status yq_recipe_resolve(const yq_recipe *r, const char *node_name, const char *op_type, int default_quantize,
                            yq_node_qconfig *out, unsigned char *hits) {
    out->quantize = default_quantize ? 1 : 0;
    out->weights = r->weights;
    out->acts = r->acts;
    for (int i = 0; i < r->noverrides; i++) {
        const yq_recipe_override *ov = &r->overrides[i];
        if (!yq_recipe_match(ov->match, node_name, op_type)) continue;
        if (hits) hits[i] = 1;
        char p[PATH_MAX_LEN];
        if (ov->weights) {
            snprintf(p, sizeof p, "overrides[%d].weights", i);
            YQ_TRY(apply_weights(&out->weights, ov->weights, r->name, p));
        }
        if (ov->acts) {
            snprintf(p, sizeof p, "overrides[%d].activations", i);
            YQ_TRY(apply_acts(&out->acts, ov->acts, r->name, p));
        }
        if (ov->has_float) out->quantize = !ov->is_float;
    }
    for (int i = 0; i < r->nkeep; i++) {
        if (!yq_recipe_match(r->keep_float[i], node_name, op_type)) continue;
        if (hits) hits[r->noverrides + i] = 1;
        out->quantize = 0;
    }
    char where[PATH_MAX_LEN];
    snprintf(where, sizeof where, "node '%s': ", node_name ? node_name : "");
    return check_cfg(&out->weights, &out->acts, r->name, where);
}

yq_status yq_recipe_plan(const yq_recipe *r, const yq_graph *g, yq_node_qconfig *cfg) {
    unsigned *flags = yq_malloc(((size_t)g->nnodes + 1) * sizeof *flags);
    unsigned char *hits = yq_calloc((size_t)(r->noverrides + r->nkeep + 1), 1);
    yq_status st = YQ_OK;
    if (!flags || !hits) {
        st = YQ_ERR_NOMEM;
        goto out;
    }
    if ((st = yq_quant_default_placement(g, flags)) != YQ_OK) goto out;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead) {
            memset(&cfg[i], 0, sizeof cfg[i]);
            continue;
        }
        if ((st = yq_recipe_resolve(r, n->name, n->op_type, (flags[i] & YQ_PLACE_QUANTIZE) != 0, &cfg[i], hits)) !=
            YQ_OK)
            goto out;
        /* Only weighted ops carry quantization (an override cannot make a
         * Sigmoid "quantized"). */
        if (!(flags[i] & YQ_PLACE_WEIGHTED)) cfg[i].quantize = 0;
    }
    for (int i = 0; i < r->noverrides; i++)
        if (!hits[i]) {
            st = yq_fail(YQ_ERR_INVALID, "%s: overrides[%d].match '%s' matches no node of the graph", r->name, i,
                         r->overrides[i].match);
            goto out;
        }
    for (int i = 0; i < r->nkeep; i++)
        if (!hits[r->noverrides + i]) {
            st = yq_fail(YQ_ERR_INVALID, "%s: keep_float[%d] '%s' matches no node of the graph", r->name, i,
                         r->keep_float[i]);
            goto out;
        }
out:
    free(flags);
    free(hits);
    return st;
}
