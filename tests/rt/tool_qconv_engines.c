/* Integer path vs fake-quant on a whole QCDQ model.
 *   tool_qconv_engines MODEL.onnx [THREADS] [MAX_LAYERS]
 * Runs the model once with each engine on the same deterministic input
 * (a smooth pattern in [0, 1]), records every uint8 tensor a node writes (by
 * value name: the integer convs write their QuantizeLinear's codes under the
 * same name) and prints one JSON line:
 *   {"integer": N, "fakequant": N, "float": N,        convs per engine (integer session)
 *    "codes": N, "codes_differ": N, "max_code_diff": N, uint8 activations compared
 *    "outputs": [{"name", "max_abs", "max_diff"}...],  graph outputs (float)
 *    "per_layer": {...}}  each integer conv with uint8 output (at most
 *    MAX_LAYERS, default all) recomputed as fake-quant from its own input codes:
 *    layers, codes, differ, max_code_diff, worst_layer_rate
 * Code differences come from float summation order in fake-quant (a value on a
 * rounding tie), and propagate downstream. QCONV_TRACE=1 also prints, per
 * uint8 tensor in execution order, how many codes differ (stderr). Exit 1 on
 * any error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.h"
#include "rt/kernels/conv.h"
#include "rt/ops.h"
#include "rt/session.h"

/* Per-layer check, free of cascades: every integer conv with a uint8 output is
 * recomputed as fake-quant from the very input codes it read (dequantize,
 * float reference conv, SiLU, QuantizeLinear) and its codes compared. */
typedef struct layer_check {
    int layers, max_layers;
    int64_t codes, differ;
    int maxd;
    double worst_rate;
    int float_layers;      /* integer convs with float output, compared too */
    double float_worst;    /* their largest |diff| / max|y| */
} layer_check;
static layer_check LC;

static void check_layer(const yq_graph *g, const yq_node *n, const yq_tensor *in, const yq_tensor *out) {
    if (n->op != YQ_OP_QConvU8 || LC.layers >= LC.max_layers) return;
    const int u8 = out[0].dtype == YQ_DT_UINT8;
    const yq_tensor *x = &in[0], *w = &in[1];
    const int64_t st2[2] = {1, 1};
    const int64_t *st = st2, *dl = st2, *pd = NULL;
    const int64_t zero4[4] = {0, 0, 0, 0};
    if (yq_attr_ints(n, "strides", &st) != 2) st = st2;
    if (yq_attr_ints(n, "dilations", &dl) != 2) dl = st2;
    if (yq_attr_ints(n, "pads", &pd) != 4) pd = zero4;
    yq_conv2d_shape s = {.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .M = w->dims[0],
                         .kh = w->dims[2], .kw = w->dims[3], .group = yq_attr_int(n, "group", 1),
                         .stride_h = st[0], .stride_w = st[1], .dil_h = dl[0], .dil_w = dl[1],
                         .pad_t = pd[0], .pad_l = pd[1], .pad_b = pd[2], .pad_r = pd[3]};
    if (yq_conv2d_shape_check(&s) != YQ_OK) return;
    const float xs = *(const float *)in[3].data, ys = u8 ? *(const float *)in[6].data : 1.0f;
    const int xz = *(const uint8_t *)in[4].data, yz = u8 ? *(const uint8_t *)in[7].data : 0;
    const int64_t nx = yq_tensor_numel(x), nw = yq_tensor_numel(w), per = nw / s.M, ny = yq_tensor_numel(&out[0]);
    float *xf = malloc((size_t)nx * sizeof(float)), *wf = malloc((size_t)nw * sizeof(float));
    float *yf = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < nx; i++) xf[i] = (float)(((const uint8_t *)x->data)[i] - xz) * xs;
    for (int64_t i = 0; i < nw; i++) wf[i] = (float)((const int16_t *)w->data)[i] * ((const float *)in[5].data)[i / per];
    yq_conv2d_ref(&s, xf, wf, n->inputs[2] >= 0 ? in[2].data : NULL,
                  n->fused_act == YQ_FUSED_SILU ? YQ_ACT_SILU : YQ_ACT_NONE, yf);
    int64_t differ = 0;
    if (!u8) { /* float output: relative to the layer's largest value */
        float ma = 0, md = 0;
        for (int64_t i = 0; i < ny; i++) {
            ma = fmaxf(ma, fabsf(yf[i]));
            md = fmaxf(md, fabsf(yf[i] - ((const float *)out[0].data)[i]));
        }
        LC.float_layers++;
        if (ma > 0 && md / ma > LC.float_worst) LC.float_worst = md / ma;
        free(xf), free(wf), free(yf);
        return;
    }
    for (int64_t i = 0; i < ny; i++) {
        float q = nearbyintf(yf[i] / ys) + (float)yz;
        int r = q < 0 ? 0 : q > 255 ? 255 : (int)q;
        int d = abs(r - (int)((const uint8_t *)out[0].data)[i]);
        differ += d != 0;
        LC.maxd = d > LC.maxd ? d : LC.maxd;
    }
    LC.layers++;
    LC.codes += ny;
    LC.differ += differ;
    if ((double)differ / (double)ny > LC.worst_rate) LC.worst_rate = (double)differ / (double)ny;
    free(xf), free(wf), free(yf);
    (void)g;
}

typedef struct rec {
    char *name;
    uint8_t *codes;
    int64_t n;
} rec;

typedef struct recs {
    rec *r;
    int n, cap;
} recs;

static void hook(void *arg, const yq_graph *g, int node, const yq_tensor *in, int nin, const yq_tensor *out,
                 int nout) {
    (void)in, (void)nin;
    recs *R = arg;
    const yq_node *n = &g->nodes[node];
    check_layer(g, n, in, out);
    for (int k = 0; k < nout; k++) {
        if (n->outputs[k] < 0 || out[k].dtype != YQ_DT_UINT8 || !out[k].data) continue;
        if (R->n == R->cap) {
            R->cap = R->cap ? 2 * R->cap : 64;
            R->r = realloc(R->r, (size_t)R->cap * sizeof *R->r);
        }
        rec *e = &R->r[R->n++];
        e->name = strdup(g->values[n->outputs[k]].name);
        e->n = yq_tensor_numel(&out[k]);
        e->codes = malloc((size_t)e->n);
        memcpy(e->codes, out[k].data, (size_t)e->n);
    }
}

static int run(const char *path, int threads, int engine, recs *R, float ***outs, int64_t **counts, int *nout,
               char ***names, yq_conv_engines *eng) {
    yq_graph *g;
    yq_session *s;
    if (yq_onnx_load(path, &g) != YQ_OK) return fprintf(stderr, "%s\n", yq_last_error()), 1;
    yq_session_opts so = {.nthreads = threads, .engine = engine};
    if (yq_session_new(g, &so, &s) != YQ_OK) return fprintf(stderr, "%s\n", yq_last_error()), 1;
    *eng = yq_session_conv_engines(s);
    const yq_value *iv = yq_session_input(s, 0);
    yq_tensor in = yq_value_tensor(iv);
    const int64_t nx = yq_tensor_numel(&in);
    float *x = malloc((size_t)nx * sizeof(float));
    for (int64_t i = 0; i < nx; i++) x[i] = 0.5f + 0.45f * sinf((float)i * 0.0007f) * cosf((float)i * 0.013f);
    in.data = x;
    yq_session_set_hook(s, hook, R);
    if (yq_session_run(s, &in, 1) != YQ_OK) return fprintf(stderr, "%s\n", yq_last_error()), 1;
    *nout = yq_session_noutputs(s);
    *outs = calloc((size_t)*nout, sizeof **outs);
    *counts = calloc((size_t)*nout, sizeof **counts);
    *names = calloc((size_t)*nout, sizeof **names);
    for (int k = 0; k < *nout; k++) {
        const yq_tensor *o = yq_session_output(s, k);
        (*names)[k] = strdup(yq_session_output_info(s, k)->name);
        if (o->dtype != YQ_DT_FLOAT) continue;
        (*counts)[k] = yq_tensor_numel(o);
        (*outs)[k] = malloc((size_t)(*counts)[k] * sizeof(float));
        memcpy((*outs)[k], o->data, (size_t)(*counts)[k] * sizeof(float));
    }
    yq_session_free(s);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: tool_qconv_engines MODEL.onnx [THREADS]\n"), 2;
    const int threads = argc > 2 ? atoi(argv[2]) : 2;
    LC.max_layers = argc > 3 ? atoi(argv[3]) : 1000;
    recs R[2] = {{0}};
    float **outs[2];
    int64_t *counts[2];
    char **names[2];
    int nout[2];
    yq_conv_engines eng[2];
    for (int e = 0; e < 2; e++)
        if (run(argv[1], threads, e ? YQ_ENGINE_FAKEQUANT : YQ_ENGINE_AUTO, &R[e], &outs[e], &counts[e], &nout[e],
                &names[e], &eng[e]))
            return 1;
    int64_t codes = 0, differ = 0;
    int maxd = 0;
    for (int i = 0; i < R[0].n; i++)
        for (int j = 0; j < R[1].n; j++) {
            if (strcmp(R[0].r[i].name, R[1].r[j].name) || R[0].r[i].n != R[1].r[j].n) continue;
            for (int64_t k = 0; k < R[0].r[i].n; k++) {
                int d = abs((int)R[0].r[i].codes[k] - (int)R[1].r[j].codes[k]);
                differ += d != 0;
                maxd = d > maxd ? d : maxd;
            }
            codes += R[0].r[i].n;
            if (getenv("QCONV_TRACE")) {
                int64_t dd = 0; int mx = 0;
                for (int64_t k = 0; k < R[0].r[i].n; k++) { int d = abs((int)R[0].r[i].codes[k] - (int)R[1].r[j].codes[k]); dd += d != 0; mx = d > mx ? d : mx; }
                fprintf(stderr, "%-60s n=%lld differ=%lld max=%d\n", R[0].r[i].name, (long long)R[0].r[i].n, (long long)dd, mx);
            }
            break;
        }
    printf("{\"integer\": %d, \"fakequant\": %d, \"float\": %d, \"codes\": %lld, \"codes_differ\": %lld, "
           "\"max_code_diff\": %d, \"outputs\": [",
           eng[0].integer, eng[0].fakequant, eng[0].floating, (long long)codes, (long long)differ, maxd);
    for (int k = 0; k < nout[0]; k++) {
        float ma = 0, md = 0;
        for (int64_t i = 0; i < counts[0][k]; i++) {
            ma = fmaxf(ma, fabsf(outs[1][k][i]));
            md = fmaxf(md, fabsf(outs[0][k][i] - outs[1][k][i]));
        }
        printf("%s{\"name\": \"%s\", \"max_abs\": %g, \"max_diff\": %g}", k ? ", " : "", names[0][k], ma, md);
    }
    printf("], \"fakequant_session\": {\"integer\": %d, \"fakequant\": %d}, ", eng[1].integer, eng[1].fakequant);
    printf("\"per_layer\": {\"layers\": %d, \"codes\": %lld, \"differ\": %lld, \"max_code_diff\": %d, "
           "\"worst_layer_rate\": %g, \"float_layers\": %d, \"float_worst_rel\": %g}}\n",
           LC.layers, (long long)LC.codes, (long long)LC.differ, LC.maxd, LC.worst_rate, LC.float_layers,
           LC.float_worst);
    for (int e = 0; e < 2; e++) {
        for (int i = 0; i < R[e].n; i++) free(R[e].r[i].name), free(R[e].r[i].codes);
        free(R[e].r);
        for (int k = 0; k < nout[e]; k++) free(outs[e][k]), free(names[e][k]);
        free(outs[e]), free(counts[e]), free(names[e]);
    }
    return 0;
}
