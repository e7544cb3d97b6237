#include "detect/detector.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnx/onnx.h"
#include "ort/ort_engine.h"
#include "vision/coco_names.h"

struct yq_detector {
    yq_session *session;
    yq_ort_engine *ort; /* opts.ort: runs the model instead of session */
    char *name;
    int in_w, in_h;
    yq_detector_opts opts;
    yq_yolo_contract contract;
    int num_classes;
    float *input; /* [1,3,H,W] */
    yq_letterbox lb;
    char **class_names; /* from metadata, or NULL */
    int n_class_names;
};

void yq_detector_opts_default(yq_detector_opts *o) {
    memset(o, 0, sizeof *o);
    yq_yolo_opts_default(&o->decode);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Ultralytics writes names as a Python dict literal: {0: 'person', 1: 'bicycle', ...}.
 * Parse that leniently; on any surprise keep the COCO defaults. */
static void parse_names(yq_detector *d, const char *s) {
    int cap = 0, n = 0;
    char **names = NULL;
    const char *p = strchr(s, '{');
    if (!p) return;
    p++;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == '}' || !*p) break;
        char *end;
        long idx = strtol(p, &end, 10);
        if (end == p || idx != n) goto bad; /* keys must be 0,1,2,... in order */
        p = end;
        while (*p == ' ' || *p == ':') p++;
        char q = *p;
        if (q != '\'' && q != '"') goto bad;
        const char *start = ++p;
        while (*p && *p != q) p++;
        if (!*p) goto bad;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) goto bad;
            names = nn;
        }
        names[n] = strndup(start, (size_t)(p - start));
        if (!names[n]) goto bad;
        n++;
        p++;
    }
    d->class_names = names;
    d->n_class_names = n;
    return;
bad:
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

yq_status yq_detector_open_graph(yq_graph *g, const char *name, const yq_detector_opts *o, yq_detector **out) {
    *out = NULL;
    yq_detector *d = calloc(1, sizeof *d);
    if (!d) {
        yq_graph_free(g);
        return yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    if (o)
        d->opts = *o;
    else
        yq_detector_opts_default(&d->opts);
    d->name = strdup(name ? name : "model");
    for (int i = 0; i < g->nmeta; i++)
        if (!strcmp(g->meta[i].key, "names")) parse_names(d, g->meta[i].value);
    yq_status st;
    if (g->ninputs != 1) {
        st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: a detector has one image input, this model has %d", d->name,
                     g->ninputs);
        yq_graph_free(g);
        goto fail;
    }
    /* with ORT running the model, yoloq's plan is not what runs: not printed */
    yq_session_opts so = {
        .nthreads = d->opts.nthreads, .verbose = d->opts.verbose && !d->opts.ort, .engine = d->opts.engine};
    st = yq_session_new(g, &so, &d->session); /* its errors name the model file */
    if (st != YQ_OK) goto fail;
    const yq_value *in = yq_session_input(d->session, 0);
    if (in->dtype != YQ_DT_FLOAT || in->rank != 4 || in->dims[0] != 1 || in->dims[1] != 3) {
        char b[128];
        st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: input '%s' is %s %s; a detector needs float [1,3,H,W]", d->name,
                     in->name, yq_dtype_name(in->dtype), yq_dims_str(in->rank, in->dims, b, sizeof b));
        goto fail;
    }
    d->in_h = (int)in->dims[2];
    d->in_w = (int)in->dims[3];
    d->opts.decode.input_w = d->in_w;
    d->opts.decode.input_h = d->in_h;
    if (yq_session_noutputs(d->session) < 1) {
        st = yq_fail(YQ_ERR_INVALID, "%s: the model has no outputs", d->name);
        goto fail;
    }
    const yq_value *ov = yq_session_output_info(d->session, 0);
    yq_tensor ot = yq_value_tensor(ov);
    st = yq_yolo_resolve(&ot, &d->opts.decode, &d->contract, &d->num_classes);
    if (st != YQ_OK) {
        yq_fail_prefix(st, "%s: output '%s'", d->name, ov->name);
        goto fail;
    }
    d->opts.decode.contract = d->contract;
    d->opts.decode.num_classes = d->num_classes;
    d->input = malloc((size_t)3 * (size_t)d->in_w * (size_t)d->in_h * sizeof(float));
    if (!d->input) {
        st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = d;
    return YQ_OK;
fail:
    yq_detector_free(d);
    return st;
}

yq_status yq_detector_open(const char *model_path, const yq_detector_opts *o, yq_detector **out) {
    yq_graph *g;
    YQ_TRY(yq_onnx_load(model_path, &g));
    YQ_TRY(yq_detector_open_graph(g, model_path, o, out));
    yq_detector *d = *out;
    if (!d->opts.ort) return YQ_OK;
    yq_ort_env env;
    yq_ort_find(&env);
    yq_status st = yq_ort_engine_open(&env, model_path, d->opts.nthreads, &d->ort);
    yq_ort_env_free(&env);
    if (st != YQ_OK) {
        yq_detector_free(d);
        *out = NULL;
    }
    return st;
}

/* ONNX Runtime's output 0, checked against the shape yoloq's contract was resolved from. */
static yq_status run_ort(yq_detector *d, const yq_tensor *in, const yq_tensor **out) {
    YQ_TRY(yq_ort_engine_run(d->ort, yq_session_input(d->session, 0)->name, in));
    const yq_tensor *t = yq_ort_engine_output(d->ort, 0);
    const yq_value *want = yq_session_output_info(d->session, 0);
    int same = t->rank == want->rank;
    for (int i = 0; same && i < t->rank; i++) same = t->dims[i] == want->dims[i];
    if (!same) {
        char a[96], b[96];
        return yq_fail(YQ_ERR_INVALID, "%s: ONNX Runtime's output '%s' is %s, yoloq's %s", d->name, want->name,
                       yq_dims_str(t->rank, t->dims, a, sizeof a), yq_dims_str(want->rank, want->dims, b, sizeof b));
    }
    *out = t;
    return YQ_OK;
}

void yq_detector_free(yq_detector *d) {
    if (!d) return;
    yq_ort_engine_close(d->ort);
    yq_session_free(d->session);
    for (int i = 0; i < d->n_class_names; i++) free(d->class_names[i]);
    free(d->class_names);
    free(d->input);
    free(d->name);
    free(d);
}

yq_status yq_detector_detect(yq_detector *d, const yq_image *img, yq_det **dets, int *n, yq_detect_timing *timing) {
    *dets = NULL;
    *n = 0;
    double t0 = now_ms();
    YQ_TRY(yq_letterbox_nchw(img, d->in_w, d->in_h, d->input, &d->lb));
    double t1 = now_ms();
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, d->in_h, d->in_w}, .data = d->input};
    const yq_tensor *out = NULL;
    yq_status st;
    if (d->ort) {
        YQ_TRY(run_ort(d, &in, &out)); /* its messages name the model */
    } else {
        st = yq_session_run(d->session, &in, 1);
        if (st != YQ_OK) return yq_fail_prefix(st, "%s", d->name);
        out = yq_session_output(d->session, 0);
    }
    double t2 = now_ms();
    st = yq_yolo_decode(out, &d->opts.decode, dets, n);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s", d->name);
    yq_dets_unletterbox(*dets, *n, &d->lb);
    double t3 = now_ms();
    if (timing) {
        timing->preprocess_ms = t1 - t0;
        timing->infer_ms = t2 - t1;
        timing->decode_ms = t3 - t2;
    }
    return YQ_OK;
}

const char *yq_detector_ort_version(const yq_detector *d) { return d->ort ? yq_ort_engine_version(d->ort) : NULL; }
int yq_detector_input_w(const yq_detector *d) { return d->in_w; }
int yq_detector_input_h(const yq_detector *d) { return d->in_h; }
yq_yolo_contract yq_detector_contract(const yq_detector *d) { return d->contract; }
int yq_detector_num_classes(const yq_detector *d) { return d->num_classes; }
yq_session *yq_detector_session(yq_detector *d) { return d->session; }
const float *yq_detector_last_input(const yq_detector *d) { return d->input; }
const yq_letterbox *yq_detector_last_letterbox(const yq_detector *d) { return &d->lb; }

const char *yq_detector_class_name(const yq_detector *d, int cls) {
    if (d->class_names) return (cls >= 0 && cls < d->n_class_names) ? d->class_names[cls] : NULL;
    return yq_coco_name(cls);
}
