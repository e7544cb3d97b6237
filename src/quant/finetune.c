/* Quantization-aware fine-tuning by distillation (see finetune.h). */
#include "quant/finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/rng.h"
#include "grad/grad.h"
#include "grad/train_graph.h"
#include "rt/session.h"
#include "vision/image.h"
#include "vision/letterbox.h"

cJSON *yq_finetune_opts_json(const yq_finetune_opts *o) {
    cJSON *h = cJSON_CreateObject();
    if (!h) return NULL;
    cJSON_AddNumberToObject(h, "steps", (double)o->steps);
    cJSON_AddNumberToObject(h, "batch", o->batch);
    cJSON_AddNumberToObject(h, "lr", o->lr);
    cJSON_AddNumberToObject(h, "lr_scale", o->lr_scale);
    cJSON_AddNumberToObject(h, "lr_act_scale", o->lr_act_scale);
    cJSON_AddNumberToObject(h, "lr_bias", o->lr_bias);
    cJSON_AddNumberToObject(h, "warmup", o->warmup);
    cJSON_AddNumberToObject(h, "clip_norm", o->clip_norm);
    cJSON_AddNumberToObject(h, "ema_decay", o->ema_decay);
    cJSON_AddNumberToObject(h, "jitter", o->jitter);
    cJSON_AddBoolToObject(h, "flip", o->flip);
    cJSON_AddNumberToObject(h, "box_weight", o->box_weight);
    cJSON_AddNumberToObject(h, "cls_weight", o->cls_weight);
    cJSON_AddNumberToObject(h, "feat_weight", o->feat_weight);
    cJSON_AddNumberToObject(h, "fp_weight", o->fp_weight);
    cJSON_AddNumberToObject(h, "margin_weight", o->margin_weight);
    cJSON_AddNumberToObject(h, "margin_cap", o->margin_cap);
    cJSON_AddStringToObject(h, "cls_anchors", o->cls_anchors == YQ_FT_CLS_ALL ? "all" : o->cls_anchors == YQ_FT_CLS_LOGIT ? "logit" : "firing");
    cJSON_AddNumberToObject(h, "seed", (double)o->seed);
    return h;
}

void yq_finetune_opts_default(yq_finetune_opts *o) {
    *o = (yq_finetune_opts){.steps = 200, .batch = 2, .lr = 1e-2f, .lr_scale = 1e-4f, .lr_act_scale = 1e-5f,
                            .lr_bias = 1e-4f, .warmup = 0.05f, .clip_norm = 1.0f, .ema_decay = 0.98f, .jitter = 0.2f,
                            .flip = 1,
                            .box_weight = 1.0f, .cls_weight = 1.0f, .fp_weight = 1.0f};
}

void yq_finetune_result_free(yq_finetune_result *r) {
    if (!r) return;
    free(r->log);
    memset(r, 0, sizeof *r);
}

/* ---- the head ---------------------------------------------------------------- */

static int producer_is(const yq_graph *g, int v, const char *op) {
    if (v < 0) return -1;
    const int p = g->values[v].producer;
    return p >= 0 && !g->nodes[p].dead && strcmp(g->nodes[p].op_type, op) == 0 ? p : -1;
}

yq_status yq_finetune_find_head(const yq_graph *g, char **cut, int *reg_max) {
    *cut = NULL;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Conv") != 0 || n->ninputs < 2) continue;
        const yq_value *w = &g->values[n->inputs[1]];
        if (!w->data || w->rank != 4 || w->dims[0] != 1 || w->dims[2] != 1 || w->dims[3] != 1) continue;
        const int sm = producer_is(g, n->inputs[0], "Softmax");
        if (sm < 0) continue;
        int v = g->nodes[sm].inputs[0];
        for (int hops = 0; hops < 8 && v >= 0; hops++) {
            const int p = g->values[v].producer;
            if (p < 0) break;
            const yq_node *pn = &g->nodes[p];
            if (strcmp(pn->op_type, "Split") == 0 && pn->ninputs > 0) {
                *reg_max = (int)w->dims[1];
                if (!(*cut = yq_strdup(g->values[pn->inputs[0]].name))) return YQ_ERR_NOMEM;
                return YQ_OK;
            }
            if (strcmp(pn->op_type, "Transpose") != 0 && strcmp(pn->op_type, "Reshape") != 0) break;
            v = pn->inputs[0];
        }
    }
    return yq_fail(YQ_ERR_UNSUPPORTED, "%s: no YOLO DFL head found (Conv [1,R,1,1] after Softmax after a Split)",
                   g->path ? g->path : "model");
}

/* Values whose producer is reachable backwards from v (v included), through
 * computed values only; mark[] receives `tag`. */
static void mark_ancestors(const yq_graph *g, int v, int *mark, int tag, int *stack) {
    /* marked when pushed, so each value is pushed once: stack holds nvalues */
    int sp = 0;
    if (v < 0 || g->values[v].data) return;
    mark[v] = tag;
    stack[sp++] = v;
    while (sp > 0) {
        const int p = g->values[stack[--sp]].producer;
        if (p < 0 || g->nodes[p].dead) continue;
        for (int i = 0; i < g->nodes[p].ninputs; i++) {
            const int x = g->nodes[p].inputs[i];
            if (x < 0 || mark[x] == tag || g->values[x].data) continue;
            mark[x] = tag;
            stack[sp++] = x;
        }
    }
}

yq_status yq_finetune_find_features(const yq_graph *g, const char *cut, char ***names, int *count) {
    *names = NULL, *count = 0;
    const int cv = yq_graph_find_value(g, cut);
    const int cat = producer_is(g, cv, "Concat");
    if (cat < 0) return yq_fail(YQ_ERR_UNSUPPORTED, "finetune: head tensor '%s' is not a Concat of the levels", cut);
    const yq_node *cn = &g->nodes[cat];
    int *mark = malloc((size_t)g->nvalues * 2 * sizeof(int)), *stack = malloc((size_t)g->nvalues * sizeof(int));
    char **out = calloc((size_t)cn->ninputs, sizeof(char *));
    yq_status st = YQ_OK;
    if (!mark || !stack || !out) { st = yq_fail(YQ_ERR_NOMEM, "finetune: out of memory"); goto done; }
    for (int l = 0; l < cn->ninputs; l++) {
        /* the level's box and class branches meet in a Concat, maybe behind a Reshape */
        int v = cn->inputs[l], q = -1;
        for (int hops = 0; hops < 4 && v >= 0 && q < 0; hops++) {
            const int p = g->values[v].producer;
            if (p < 0) break;
            const yq_node *pn = &g->nodes[p];
            if (strcmp(pn->op_type, "Concat") == 0 && pn->ninputs >= 2) q = p;
            else if (strcmp(pn->op_type, "Reshape") == 0 || strcmp(pn->op_type, "Flatten") == 0) v = pn->inputs[0];
            else break;
        }
        if (q < 0) { st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: level %d of head '%s' is not a Concat of branches", l, cut); goto done; }
        /* the level's feature map: the latest value both branches derive from */
        for (int i = 0; i < 2 * g->nvalues; i++) mark[i] = 0;
        mark_ancestors(g, g->nodes[q].inputs[0], mark, 1, stack);
        mark_ancestors(g, g->nodes[q].inputs[1], mark + g->nvalues, 1, stack);
        int best = -1, best_node = -1;
        for (int x = 0; x < g->nvalues; x++)
            if (mark[x] && mark[g->nvalues + x] && g->values[x].producer > best_node)
                best = x, best_node = g->values[x].producer;
        if (best < 0) {
            st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: no feature map shared by the branches of head level %d", l);
            goto done;
        }
        if (!(out[l] = yq_strdup(g->values[best].name))) { st = YQ_ERR_NOMEM; goto done; }
    }
    *names = out, *count = cn->ninputs, out = NULL;
done:
    if (out)
        for (int l = 0; l < cn->ninputs; l++) free(out[l]);
    free(out), free(mark), free(stack);
    return st;
}

/* ---- deterministic randomness ----------------------------------------------------- */

static double unit(uint64_t h) { return (double)(h >> 11) * (1.0 / 9007199254740992.0); }

/* Image for sample `k` (= step·batch + slot): epoch k / n, a seeded permutation per epoch. */
static int sample_index(uint64_t seed, int64_t k, int n, int *perm, int64_t *perm_epoch) {
    const int64_t epoch = k / n;
    if (*perm_epoch != epoch) {
        for (int i = 0; i < n; i++) perm[i] = i;
        uint64_t s = yq_mix64(seed ^ yq_mix64((uint64_t)epoch + 1));
        for (int i = n - 1; i > 0; i--) {
            s = yq_mix64(s);
            const int j = (int)(s % (uint64_t)(i + 1));
            const int t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        *perm_epoch = epoch;
    }
    return perm[k % n];
}

static yq_ft_aug sample_aug(const yq_finetune_opts *o, int64_t k) {
    const uint64_t h = yq_mix64(o->seed * 0x2545f4914f6cdd1dull ^ yq_mix64((uint64_t)k));
    yq_ft_aug a = {.flip = o->flip ? (int)(yq_mix64(h ^ 1) & 1) : 0, .scale = 1.0f, .ox = 0.5f, .oy = 0.5f};
    if (o->jitter > 0) {
        a.scale = (float)(1.0 - o->jitter + 2.0 * o->jitter * unit(yq_mix64(h ^ 2)));
        a.ox = (float)unit(yq_mix64(h ^ 3));
        a.oy = (float)unit(yq_mix64(h ^ 4));
    }
    return a;
}

/* ---- loss ---------------------------------------------------------------------------- */

void yq_ft_distill_loss(const float *s, const float *t, int64_t C, int64_t A, int R, const yq_finetune_opts *o,
                         float scale, float *d, double *lbox, double *lcls) {
    const int64_t nc = C - 4 * (int64_t)R;
    memset(d, 0, (size_t)(C * A) * sizeof(float));
    double cls = 0, box = 0, wsum = 0, csum = 0;
    float *wa = malloc((size_t)A * 2 * sizeof(float));
    float *wc = wa ? wa + A : NULL;
    for (int64_t a = 0; a < A; a++) {
        float mt = 0, ms = 0;
        for (int64_t c = 0; c < nc; c++) {
            const int64_t i = (4 * R + c) * A + a;
            const float pt = 1.0f / (1.0f + expf(-t[i])), ps = 1.0f / (1.0f + expf(-s[i]));
            if (pt > mt) mt = pt;
            if (ps > ms) ms = ps;
        }
        if (wa) wa[a] = mt, wc[a] = mt > ms ? mt : ms;
        wsum += mt;
        csum += mt > ms ? mt : ms;
    }
    /* class term. ALL: every anchor with weight 1, normalised by the teacher's
     * mass sum_a max_c σ(t) (a constant of the teacher): σ(s) − σ(t) vanishes
     * where both see background, so nothing chases background logits, and a
     * student anchor firing beside an object — a duplicate that an NMS-free
     * head never suppresses — costs as much as a missed score of the same
     * size. FIRING: anchors weighted by the larger top score of either model
     * (held constant), normalised by those weights' sum. LOGIT: Huber loss
     * (δ = 4) of the logits where either score exceeds 0.005, normalised like
     * ALL — log-odds ratios are what orders detections, so a duplicate at
     * 0.05 beside a teacher's 0.005 weighs like a positive at 0.5 against 0.9. */
    const int all = o->cls_anchors != YQ_FT_CLS_FIRING, logit = o->cls_anchors == YQ_FT_CLS_LOGIT;
    const double cnorm = all ? (wsum > 1.0 ? wsum : 1.0) : (csum > 1e-6 ? csum : 1e-6);
    for (int64_t c = 0; c < nc && wa; c++)
        for (int64_t a = 0; a < A; a++) {
            const int64_t i = (4 * R + c) * A + a;
            const float ps = 1.0f / (1.0f + expf(-s[i])), pt = 1.0f / (1.0f + expf(-t[i]));
            const double e = 1e-7, w = (all ? 1.0 : wc[a]) / cnorm * (ps > pt ? o->fp_weight : 1.0f);
            if (logit) {
                if (ps <= 0.005f && pt <= 0.005f) continue;
                const double r = (double)s[i] - t[i], ar = fabs(r);
                cls += w * (ar <= 4.0 ? 0.5 * r * r : 4.0 * (ar - 2.0));
                d[i] = (float)(scale * o->cls_weight * w * fmax(-4.0, fmin(4.0, r)));
                continue;
            }
            cls += w * (pt * log((pt + e) / (ps + e)) + (1 - pt) * log((1 - pt + e) / (1 - ps + e)));
            d[i] = (float)(scale * o->cls_weight * w * (ps - pt));
        }
    if (R > 0 && wa && wsum > 0) {
        float p[64], q[64];
        for (int64_t a = 0; a < A; a++) {
            if (wa[a] <= 0) continue;
            const float wgt = (float)(wa[a] / wsum);
            for (int j = 0; j < 4; j++) {
                float mt = -INFINITY, ms = -INFINITY;
                for (int k = 0; k < R; k++) {
                    const int64_t i = ((int64_t)j * R + k) * A + a;
                    if (t[i] > mt) mt = t[i];
                    if (s[i] > ms) ms = s[i];
                }
                double zt = 0, zs = 0;
                for (int k = 0; k < R; k++) {
                    const int64_t i = ((int64_t)j * R + k) * A + a;
                    p[k] = expf(t[i] - mt), q[k] = expf(s[i] - ms);
                    zt += p[k], zs += q[k];
                }
                double kl = 0;
                for (int k = 0; k < R; k++) {
                    p[k] = (float)(p[k] / zt), q[k] = (float)(q[k] / zs);
                    if (p[k] > 0) kl += p[k] * log((double)p[k] / ((double)q[k] + 1e-30));
                    d[((int64_t)j * R + k) * A + a] = scale * o->box_weight * wgt * (q[k] - p[k]);
                }
                box += wgt * kl;
            }
        }
    }
    free(wa);
    *lbox = box;
    *lcls = cls;
}

/* Normalised squared error of one feature map, ||s − t||² / ||t||², and its
 * gradient times `scale` into d. */
static double feature_loss(const float *s, const float *t, int64_t n, float scale, float *d) {
    double tt = 0, e = 0;
    for (int64_t i = 0; i < n; i++) tt += (double)t[i] * t[i];
    const double norm = tt > 1e-12 ? tt : 1e-12;
    for (int64_t i = 0; i < n; i++) {
        const double r = (double)s[i] - t[i];
        e += r * r;
        d[i] = (float)(scale * 2.0 * r / norm);
    }
    return e / norm;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

#define CKPT_MAGIC "YQQATCK1"

typedef struct ckpt_header {
    char magic[8];
    uint64_t config;
    int64_t step, nparams, nlog, adam_t[YQ_TG_NKINDS];
} ckpt_header;

static uint64_t config_hash(const yq_finetune_opts *o, int64_t nparams, int nimages) {
    uint64_t h = yq_mix64((uint64_t)nparams) ^ yq_mix64((uint64_t)nimages * 31u);
    const double vals[] = {(double)o->steps, o->batch, o->lr, o->lr_scale, o->lr_act_scale, o->lr_bias, o->warmup, o->clip_norm,
                           o->ema_decay, o->jitter, o->flip, o->box_weight, o->cls_weight, (double)o->seed,
                           (double)o->cls_anchors, o->feat_weight, o->fp_weight, o->margin_weight, o->margin_cap};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t b;
        memcpy(&b, &vals[i], sizeof b);
        h = yq_mix64(h ^ b);
    }
    return h;
}

typedef struct train_state {
    float *params, *ema;
    yq_adam adam[YQ_TG_NKINDS];
    int64_t range[YQ_TG_NKINDS][2];
    yq_ft_log *log;
    int64_t nlog;
} train_state;

static yq_status ckpt_save(const char *path, uint64_t config, int64_t step, int64_t np, const train_state *ts) {
    ckpt_header h = {.config = config, .step = step, .nparams = np, .nlog = ts->nlog};
    memcpy(h.magic, CKPT_MAGIC, 8);
    for (int k = 0; k < YQ_TG_NKINDS; k++) h.adam_t[k] = ts->adam[k].t;
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    int ok = fwrite(&h, sizeof h, 1, af.fp) == 1;
    ok = ok && fwrite(ts->params, sizeof(float), (size_t)np, af.fp) == (size_t)np;
    ok = ok && fwrite(ts->ema, sizeof(float), (size_t)np, af.fp) == (size_t)np;
    for (int k = 0; k < YQ_TG_NKINDS && ok; k++) {
        const size_t n = (size_t)ts->adam[k].n;
        ok = fwrite(ts->adam[k].m, sizeof(float), n, af.fp) == n && fwrite(ts->adam[k].v, sizeof(float), n, af.fp) == n;
    }
    ok = ok && fwrite(ts->log, sizeof(yq_ft_log), (size_t)ts->nlog, af.fp) == (size_t)ts->nlog;
    if (!ok) {
        yq_atomic_abort(&af);
        return yq_fail(YQ_ERR_IO, "%s: cannot write the checkpoint", path);
    }
    return yq_atomic_commit(&af);
}

/* Returns the step to continue from (0 when there is no file). */
static yq_status ckpt_load(const char *path, uint64_t config, int64_t np, train_state *ts, int64_t *step) {
    *step = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) return YQ_OK;
    fclose(probe);
    YQ_TRY(yq_read_file(path, &buf, &len));
    ckpt_header h;
    yq_status st = YQ_OK;
    if (len < sizeof h) st = yq_fail(YQ_ERR_PARSE, "%s: truncated checkpoint", path);
    if (st == YQ_OK) {
        memcpy(&h, buf, sizeof h);
        if (memcmp(h.magic, CKPT_MAGIC, 8) != 0) st = yq_fail(YQ_ERR_PARSE, "%s: not a yoloq finetune checkpoint", path);
        else if (h.config != config || h.nparams != np)
            st = yq_fail(YQ_ERR_INVALID, "%s: checkpoint of a different model, image list or options", path);
        else if (h.nlog != h.step || h.step < 0)
            st = yq_fail(YQ_ERR_PARSE, "%s: inconsistent checkpoint", path);
    }
    size_t need = sizeof h + 2 * (size_t)np * sizeof(float) + (size_t)h.nlog * sizeof(yq_ft_log);
    for (int k = 0; k < YQ_TG_NKINDS && st == YQ_OK; k++) need += 2 * (size_t)ts->adam[k].n * sizeof(float);
    if (st == YQ_OK && len != need) st = yq_fail(YQ_ERR_PARSE, "%s: checkpoint size does not match", path);
    if (st == YQ_OK) {
        const unsigned char *p = buf + sizeof h;
        memcpy(ts->params, p, (size_t)np * sizeof(float)), p += (size_t)np * sizeof(float);
        memcpy(ts->ema, p, (size_t)np * sizeof(float)), p += (size_t)np * sizeof(float);
        for (int k = 0; k < YQ_TG_NKINDS; k++) {
            const size_t n = (size_t)ts->adam[k].n * sizeof(float);
            memcpy(ts->adam[k].m, p, n), p += n;
            memcpy(ts->adam[k].v, p, n), p += n;
            ts->adam[k].t = h.adam_t[k];
        }
        memcpy(ts->log, p, (size_t)h.nlog * sizeof(yq_ft_log));
        ts->nlog = h.nlog;
        *step = h.step;
    }
    free(buf);
    return st;
}

/* ---- the loop ----------------------------------------------------------------------------- */

static double lr_factor(const yq_finetune_opts *o, int64_t step) {
    const int64_t w = (int64_t)llround((double)o->warmup * (double)o->steps);
    if (step < w) return (double)(step + 1) / (double)(w + 1);
    /* t reaches 1 one step after the last: every step learns something */
    const double t = o->steps - w > 0 ? (double)(step - w) / (double)(o->steps - w) : 0.0;
    return 0.5 * (1.0 + cos(M_PI * t));
}

yq_status yq_finetune(const yq_graph *student, const yq_graph *teacher, int nimages, yq_ft_image_fn image,
                      void *image_arg, const yq_finetune_opts *o, yq_graph *export_to, yq_finetune_result *res) {
    memset(res, 0, sizeof *res);
    if (nimages < 1) return yq_fail(YQ_ERR_ARG, "finetune: no images");
    if (o->steps < 1 || o->batch < 1) return yq_fail(YQ_ERR_ARG, "finetune: steps and batch must be positive");
    const double t0 = yq_seconds();
    char *cut = NULL;
    int R = o->reg_max;
    if (o->cut) {
        if (!(cut = yq_strdup(o->cut))) return YQ_ERR_NOMEM;
    } else {
        YQ_TRY(yq_finetune_find_head(student, &cut, &R));
    }
    snprintf(res->cut, sizeof res->cut, "%s", cut);
    res->reg_max = R;
    char **feats = NULL;
    int nf = 0;
    if (o->feat_weight > 0) {
        yq_status fs = yq_finetune_find_features(teacher, cut, &feats, &nf);
        if (fs != YQ_OK) { free(cut); return fs; }
        for (int f = 0; f < nf && f < YQ_FT_MAX_FEATURES; f++) snprintf(res->features[f], sizeof res->features[f], "%s", feats[f]);
        res->nfeatures = nf < YQ_FT_MAX_FEATURES ? nf : YQ_FT_MAX_FEATURES;
    }

    yq_tg *tg = NULL;
    yq_session *teach = NULL;
    yq_graph *tgraph = NULL;
    float *in = NULL, *tout = NULL, *dout = NULL, *tfeat = NULL, *dfeat = NULL;
    int *perm = NULL, *tids = NULL;
    const char **outs = NULL;
    const float **douts = NULL;
    int64_t *foff = NULL;
    train_state ts = {0};
    yq_status st;
    outs = malloc((size_t)(1 + nf) * sizeof(char *));
    douts = malloc((size_t)(1 + nf) * sizeof(float *));
    tids = malloc((size_t)(1 + nf) * sizeof(int));
    foff = calloc((size_t)(nf + 1), sizeof(int64_t));
    if (!outs || !douts || !tids || !foff) { st = yq_fail(YQ_ERR_NOMEM, "finetune: out of memory"); goto done; }
    outs[0] = cut;
    for (int f = 0; f < nf; f++) outs[1 + f] = feats[f];
    yq_tg_opts to = {.outputs = outs, .noutputs = 1 + nf, .nthreads = o->nthreads, .train_bias = o->lr_bias > 0};
    if ((st = yq_tg_new(student, &to, &tg)) != YQ_OK) goto done;
    int64_t dims[YQ_MAX_RANK];
    const int rank = yq_tg_output_shape(tg, 0, dims);
    if (rank != 3 || dims[0] != 1 || dims[1] <= 4 * (int64_t)R) {
        st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: head tensor '%s' is not [1, 4R + classes, anchors]", cut);
        goto done;
    }
    const int64_t C = dims[1], A = dims[2], nout = C * A;
    res->classes = (int)(C - 4 * R);
    res->anchors = A;
    yq_tg_counts(tg, &res->weights, &res->act_quantizers, &res->biases);
    snprintf(res->ops, sizeof res->ops, "%s", yq_tg_op_summary(tg));
    res->params = yq_tg_nparams(tg);
    if (yq_tg_ninputs(tg) != 1) { st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: the model must have one image input"); goto done; }
    const int64_t nin = yq_tg_input_numel(tg, 0);
    const yq_value *iv = &student->values[student->inputs[0]];
    if (iv->rank != 4 || iv->dims[1] != 3 || iv->dims[2] < 1 || iv->dims[3] < 1 || iv->dims[0] != 1 ||
        nin != 3 * iv->dims[2] * iv->dims[3]) {
        st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: the input must be [1,3,H,W]");
        goto done;
    }
    const int W = (int)iv->dims[3], H = (int)iv->dims[2];
    yq_ft_grid grid = {0};
    if (o->margin_weight > 0) {
        if (R < 1) { st = yq_fail(YQ_ERR_UNSUPPORTED, "finetune: the margin term needs the DFL box head"); goto done; }
        if ((st = yq_ft_grid_infer(A, W, H, &grid)) != YQ_OK) goto done;
    }

    /* teacher, cut at the same tensor */
    if ((st = yq_graph_clone(teacher, &tgraph)) != YQ_OK) goto done;
    for (int f = 0; f <= nf; f++) {
        const int id = yq_graph_find_value(tgraph, outs[f]);
        if (id < 0) { st = yq_fail(YQ_ERR_INVALID, "finetune: the teacher has no tensor '%s' (not the student's float model?)", outs[f]); goto done; }
        tids[f] = id;
    }
    if ((st = yq_graph_set_outputs(tgraph, tids, 1 + nf)) != YQ_OK) goto done;
    yq_session_opts so = {.nthreads = o->nthreads};
    st = yq_session_new(tgraph, &so, &teach);
    tgraph = NULL; /* owned by the session (freed on failure too) */
    if (st != YQ_OK) goto done;
    {
        const yq_value *ov = yq_session_output_info(teach, 0);
        int64_t n = 1;
        for (int i = 0; i < ov->rank; i++) n *= ov->dims[i];
        const yq_value *tin = yq_session_input(teach, 0);
        if (n != nout || yq_session_ninputs(teach) != 1 || tin->rank != 4 || tin->dims[2] != H || tin->dims[3] != W) {
            st = yq_fail(YQ_ERR_INVALID, "finetune: teacher and student differ at '%s' or at the input", cut);
            goto done;
        }
        for (int f = 0; f < nf; f++) {
            const yq_value *fv = yq_session_output_info(teach, 1 + f);
            int64_t m = 1;
            for (int i = 0; i < fv->rank; i++) m *= fv->dims[i];
            if (m != yq_tg_output_numel(tg, 1 + f)) {
                st = yq_fail(YQ_ERR_INVALID, "finetune: teacher and student differ at feature '%s'", feats[f]);
                goto done;
            }
            foff[f + 1] = foff[f] + m;
        }
    }

    const int64_t np = yq_tg_nparams(tg);
    in = malloc((size_t)nin * sizeof(float));
    tout = malloc((size_t)nout * sizeof(float));
    dout = malloc((size_t)nout * sizeof(float));
    perm = malloc((size_t)nimages * sizeof(int));
    tfeat = malloc((size_t)(foff[nf] + 1) * sizeof(float));
    dfeat = malloc((size_t)(foff[nf] + 1) * sizeof(float));
    ts.params = yq_tg_params(tg);
    ts.ema = malloc((size_t)(np ? np : 1) * sizeof(float));
    ts.log = calloc((size_t)o->steps, sizeof(yq_ft_log));
    if (!in || !tout || !dout || !perm || !tfeat || !dfeat || !ts.ema || !ts.log) { st = yq_fail(YQ_ERR_NOMEM, "finetune: out of memory"); goto done; }
    memcpy(ts.ema, ts.params, (size_t)np * sizeof(float));
    const float lrs[YQ_TG_NKINDS] = {o->lr, o->lr_scale, o->lr_act_scale, o->lr_bias};
    for (int k = 0; k < YQ_TG_NKINDS; k++) {
        yq_tg_kind_range(tg, (yq_tg_kind)k, &ts.range[k][0], &ts.range[k][1]);
        if ((st = yq_adam_init(&ts.adam[k], ts.range[k][1] - ts.range[k][0], lrs[k])) != YQ_OK) goto done;
    }
    const uint64_t config = config_hash(o, np, nimages);
    int64_t start = 0;
    if (o->checkpoint && o->resume) {
        if ((st = ckpt_load(o->checkpoint, config, np, &ts, &start)) != YQ_OK) goto done;
        res->resumed_from = start;
    }
    int64_t perm_epoch = -1;
    float *grads = yq_tg_grads(tg);
    const double t_run = yq_seconds();
    for (int64_t step = start; step < o->steps; step++) {
        yq_tg_zero_grad(tg);
        double loss = 0, lbox_sum = 0, lcls_sum = 0, lfeat_sum = 0, lmargin_sum = 0;
        for (int b = 0; b < o->batch; b++) {
            const int64_t k = step * o->batch + b;
            const int idx = sample_index(o->seed, k, nimages, perm, &perm_epoch);
            const yq_ft_aug aug = sample_aug(o, k);
            if ((st = image(image_arg, idx, &aug, W, H, in)) != YQ_OK) goto done;
            yq_tensor x = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, H, W}, .data = in};
            if ((st = yq_session_run(teach, &x, 1)) != YQ_OK) goto done;
            memcpy(tout, yq_session_output(teach, 0)->data, (size_t)nout * sizeof(float));
            for (int f = 0; f < nf; f++)
                memcpy(tfeat + foff[f], yq_session_output(teach, 1 + f)->data, (size_t)(foff[f + 1] - foff[f]) * sizeof(float));
            const float *xin[1] = {in};
            if ((st = yq_tg_forward(tg, xin)) != YQ_OK) goto done;
            double lb, lc, lm = 0;
            yq_ft_distill_loss(yq_tg_output(tg, 0), tout, C, A, R, o, 1.0f / (float)o->batch, dout, &lb, &lc);
            if (o->margin_weight > 0 &&
                (st = yq_ft_margin_loss(yq_tg_output(tg, 0), tout, C, A, R, &grid, o->margin_cap, o->margin_weight / (float)o->batch, dout,
                                        &lm, NULL)) != YQ_OK)
                goto done;
            /* feature maps: mean normalised error over the levels */
            double lf = 0;
            for (int f = 0; f < nf; f++) {
                lf += feature_loss(yq_tg_output(tg, 1 + f), tfeat + foff[f], foff[f + 1] - foff[f],
                                   o->feat_weight / ((float)nf * (float)o->batch), dfeat + foff[f]) / nf;
                douts[1 + f] = dfeat + foff[f];
            }
            lbox_sum += lb, lcls_sum += lc, lfeat_sum += lf, lmargin_sum += lm;
            loss += o->box_weight * lb + o->cls_weight * lc + o->feat_weight * lf + o->margin_weight * lm;
            douts[0] = dout;
            if ((st = yq_tg_backward(tg, douts)) != YQ_OK) goto done;
        }
        double gn = 0;
        for (int64_t i = 0; i < np; i++) gn += (double)grads[i] * grads[i];
        gn = sqrt(gn);
        if (o->clip_norm > 0 && gn > o->clip_norm) {
            const float f = (float)(o->clip_norm / gn);
            for (int64_t i = 0; i < np; i++) grads[i] *= f;
        }
        const double f = lr_factor(o, step);
        for (int k = 0; k < YQ_TG_NKINDS; k++) {
            if (ts.adam[k].n == 0 || lrs[k] <= 0) continue;
            ts.adam[k].lr = (float)(lrs[k] * f);
            yq_adam_step(&ts.adam[k], ts.params + ts.range[k][0], grads + ts.range[k][0]);
        }
        if (o->ema_decay > 0) {
            const double d = fmin(o->ema_decay, (1.0 + (double)step) / (10.0 + (double)step));
            for (int64_t i = 0; i < np; i++) ts.ema[i] = (float)(d * ts.ema[i] + (1.0 - d) * ts.params[i]);
        } else {
            memcpy(ts.ema, ts.params, (size_t)np * sizeof(float));
        }
        ts.log[step] = (yq_ft_log){.step = step + 1, .loss = loss / o->batch, .loss_box = lbox_sum / o->batch,
                                   .loss_cls = lcls_sum / o->batch, .loss_feat = lfeat_sum / o->batch,
                                   .loss_margin = lmargin_sum / o->batch, .lr_factor = f, .grad_norm = gn,
                                   .seconds = yq_seconds() - t_run};
        ts.nlog = step + 1;
        if (o->checkpoint && ((o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0) || step + 1 == o->steps))
            if ((st = ckpt_save(o->checkpoint, config, step + 1, np, &ts)) != YQ_OK) goto done;
        if (o->progress) o->progress(o->progress_arg, step + 1, o->steps, loss / o->batch, yq_seconds() - t_run);
    }
    st = yq_tg_export(tg, ts.ema, export_to);
    if (st == YQ_OK) {
        res->log = ts.log;
        res->nlog = ts.nlog;
        ts.log = NULL;
    }
done:
    res->seconds = yq_seconds() - t0;
    for (int k = 0; k < YQ_TG_NKINDS; k++) yq_adam_free(&ts.adam[k]);
    free(ts.ema), free(ts.log), free(in), free(tout), free(dout), free(perm), free(cut);
    free(tfeat), free(dfeat), free(outs), free(douts), free(tids), free(foff);
    for (int f = 0; f < nf; f++) free(feats[f]);
    free(feats);
    yq_session_free(teach);
    yq_graph_free(tgraph);
    yq_tg_free(tg);
    return st;
}

/* ---- image files ------------------------------------------------------------------------------ */

struct yq_ft_files {
    char **paths;
    yq_image *img; /* decoded lazily, kept */
    int n;
};

yq_status yq_ft_files_new(const char *const *paths, int n, yq_ft_files **out) {
    yq_ft_files *f = yq_calloc(1, sizeof *f);
    if (!f) return YQ_ERR_NOMEM;
    f->n = n;
    if (!(f->paths = yq_calloc((size_t)(n ? n : 1), sizeof(char *))) || !(f->img = yq_calloc((size_t)(n ? n : 1), sizeof(yq_image)))) {
        yq_ft_files_free(f);
        return YQ_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        if (!(f->paths[i] = yq_strdup(paths[i]))) {
            yq_ft_files_free(f);
            return YQ_ERR_NOMEM;
        }
    *out = f;
    return YQ_OK;
}

void yq_ft_files_free(yq_ft_files *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) {
        if (f->paths) free(f->paths[i]);
        if (f->img) yq_image_free(&f->img[i]);
    }
    free(f->paths), free(f->img), free(f);
}

yq_status yq_ft_files_image(void *arg, int index, const yq_ft_aug *aug, int w, int h, float *nchw) {
    yq_ft_files *f = arg;
    if (index < 0 || index >= f->n) return yq_fail(YQ_ERR_ARG, "finetune: image index out of range");
    yq_image *src = &f->img[index];
    if (!src->px) {
        yq_status st = yq_image_load(f->paths[index], src);
        if (st != YQ_OK) return yq_fail_prefix(st, "%s", f->paths[index]);
        if (src->c != 3) {
            yq_image_free(src);
            return yq_fail(YQ_ERR_UNSUPPORTED, "%s: not an RGB image", f->paths[index]);
        }
    }
    /* letterbox into a (scale·w) × (scale·h) box, then place it in the canvas */
    int bw = (int)lround(aug->scale * (float)w), bh = (int)lround(aug->scale * (float)h);
    if (bw < 8) bw = 8;
    if (bh < 8) bh = 8;
    yq_image box = {0};
    yq_letterbox lb;
    YQ_TRY(yq_letterbox_image(src, bw, bh, &box, &lb));
    const int ox = (int)lround(aug->ox * (float)(w - bw)), oy = (int)lround(aug->oy * (float)(h - bh));
    const int64_t plane = (int64_t)w * h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const int sx = x - ox, sy = y - oy;
            const int dx = aug->flip ? w - 1 - x : x;
            for (int c = 0; c < 3; c++) {
                const uint8_t v = (sx >= 0 && sx < bw && sy >= 0 && sy < bh) ? box.px[((int64_t)sy * bw + sx) * 3 + c]
                                                                              : YQ_LETTERBOX_PAD;
                nchw[c * plane + (int64_t)y * w + dx] = (float)v / 255.0f;
            }
        }
    yq_image_free(&box);
    return YQ_OK;
}
