/* The differentiable executor against the runtime on a real model:
 *
 *   tool_train_graph_check MODEL.onnx IMAGE [threads]
 *
 * Cuts MODEL at its YOLO head (yq_finetune_find_head), runs one letterboxed
 * image through the executor and through a runtime session cut at the same
 * tensor, prints the largest absolute difference and the output's largest
 * magnitude, then times forward and backward (a unit upstream gradient). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "grad/train_graph.h"
#include "onnx/onnx.h"
#include "quant/finetune.h"
#include "rt/session.h"
#include "vision/image.h"
#include "vision/letterbox.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK(x)                                                        \
    do {                                                                \
        if ((x) != YQ_OK) {                                             \
            fprintf(stderr, "tool_train_graph_check: %s\n", yq_last_error()); \
            return 1;                                                   \
        }                                                               \
    } while (0)

/* First node (in run order) whose output differs from the executor's. */
static int traced;
static void trace_hook(void *arg, const yq_graph *g, int node, const yq_tensor *in, int nin, const yq_tensor *out,
                       int nout) {
    (void)in, (void)nin;
    const yq_tg *tg = arg;
    for (int k = 0; k < nout && traced < 5; k++) {
        const char *name = g->values[g->nodes[node].outputs[k]].name;
        int64_t n = 0;
        const float *v = yq_tg_tensor(tg, name, &n);
        if (!v || out[k].dtype != YQ_DT_FLOAT || n != yq_tensor_numel(&out[k])) continue;
        double m = 0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < n; i++) {
            const double d = fabs((double)v[i] - ((const float *)out[k].data)[i]);
            m = fmax(m, d);
            cnt += d > 1e-4;
        }
        if (m > 1e-4) {
            printf("differs: %s (%s) max %.3g at %lld of %lld values\n", name, g->nodes[node].op_type, m,
                   (long long)cnt, (long long)n);
            traced++;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.onnx IMAGE [threads]\n", argv[0]);
        return 2;
    }
    const int threads = argc > 3 ? atoi(argv[3]) : 2;
    yq_graph *g = NULL, *g2 = NULL;
    CHECK(yq_onnx_load(argv[1], &g));
    char *cut = NULL;
    int R = 0;
    CHECK(yq_finetune_find_head(g, &cut, &R));
    const char *outs[1] = {cut};
    yq_tg_opts o = {.outputs = outs, .noutputs = 1, .nthreads = threads, .train_bias = 1};
    yq_tg *tg = NULL;
    double t0 = now_s();
    CHECK(yq_tg_new(g, &o, &tg));
    printf("build %.2f s; ops: %s\n", now_s() - t0, yq_tg_op_summary(tg));
    const yq_value *iv = &g->values[g->inputs[0]];
    const int H = (int)iv->dims[2], W = (int)iv->dims[3];
    float *x = malloc((size_t)(3 * H * W) * sizeof(float));
    yq_image img = {0};
    yq_letterbox lb;
    CHECK(yq_image_load(argv[2], &img));
    CHECK(yq_letterbox_nchw(&img, W, H, x, &lb));
    /* runtime, cut at the same tensor */
    CHECK(yq_graph_clone(g, &g2));
    const int id = yq_graph_find_value(g2, cut);
    for (int i = 0; i < g2->noutputs; i++) g2->values[g2->outputs[i]].flags &= ~(unsigned)YQ_VAL_OUTPUT;
    g2->outputs[0] = id, g2->noutputs = 1;
    g2->values[id].flags |= YQ_VAL_OUTPUT;
    yq_session *s = NULL;
    yq_session_opts so = {.nthreads = threads, .no_fusion = 1};
    CHECK(yq_session_new(g2, &so, &s));
    if (getenv("TG_TRACE")) yq_session_set_hook(s, trace_hook, tg);
    yq_tensor in = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, H, W}, .data = x};
    const float *xs0[1] = {x};
    if (getenv("TG_TRACE")) CHECK(yq_tg_forward(tg, xs0));
    t0 = now_s();
    CHECK(yq_session_run(s, &in, 1));
    const double t_rt = now_s() - t0;
    const float *xs[1] = {x};
    t0 = now_s();
    CHECK(yq_tg_forward(tg, xs));
    const double t_fwd = now_s() - t0;
    const int64_t n = yq_tg_output_numel(tg, 0);
    const float *a = yq_tg_output(tg, 0), *b = yq_session_output(s, 0)->data;
    double maxd = 0, maxv = 0;
    int64_t big = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (d > maxd) maxd = d;
        if (d > 1e-3 * (1 + fabs(b[i]))) big++;
        if (fabs(b[i]) > maxv) maxv = fabs(b[i]);
    }
    float *dy = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) dy[i] = 1.0f / (float)n;
    const float *ds[1] = {dy};
    t0 = now_s();
    CHECK(yq_tg_backward(tg, ds));
    const double t_bwd = now_s() - t0;
    printf("head '%s' R=%d numel %lld: max |executor - runtime| %.3g (max |value| %.3g, %lld values off by > 1e-3 rel)\n",
           cut, R, (long long)n, maxd, maxv, (long long)big);
    printf("threads %d: runtime forward %.3f s, executor forward %.3f s, backward %.3f s\n", threads, t_rt, t_fwd, t_bwd);
    yq_image_free(&img);
    yq_session_free(s);
    yq_tg_free(tg);
    yq_graph_free(g);
    free(x), free(dy), free(cut);
    return 0;
}
