/* Conv micro-benchmark on the real YOLOv10m layer shapes.
 *
 * Usage: tool_conv_bench [--threads 1,2] [--reps N] [--rounds R] [--silu] [--isa scalar|avx2|avx512] [--verbose]
 *                        [--check] [--layer I] [--cpu] [--algo gemm1x1|im2col|depthwise|direct|winograd]
 *                        [--no-winograd] [--shape CIN,H,W,COUT,K,STRIDE,PAD[,GROUP]]
 *
 * Times yq_conv2d_run (the fast path behind the Conv op) with random weights
 * for every distinct conv shape of YOLOv10m at 640x640, weighted by how often
 * the shape occurs, and prints ms and GFLOP/s per layer class and in total for
 * each thread count: the median and the best of the rounds x reps samples of
 * each layer (--rounds repeats the whole list, so that on a shared machine a
 * burst of load spoils only some samples). --check also compares each shape once against
 * yq_conv2d_ref (slow: minutes for the whole list). --algo forces one algorithm
 * where it applies; --no-winograd keeps the automatic choice off Winograd;
 * --shape times one custom shape instead of the list.
 *
 * The shape list was extracted from ../shared/models/yolov10m-random.onnx with
 * python3 + onnx (shape inference over the graph, every Conv node's X and W
 * shapes, strides, pads and group; all have square kernels, equal pads and no
 * dilation). 117 convs, 58.96 GFLOPs (2 x MACs) in total. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "rt/kernels/conv.h"
#include "rt/kernels/gemm.h"

typedef struct conv_layer {
    int cin, h, w, cout, k, stride, pad, group, count;
} conv_layer;

/* (Cin, H, W, Cout, k, stride, pad, group, occurrences) from yolov10m-random.onnx, in graph order. */
static const conv_layer yolov10m_convs[] = {
    {3, 640, 640, 48, 3, 2, 1, 1, 1},       {48, 320, 320, 96, 3, 2, 1, 1, 1},
    {96, 160, 160, 96, 1, 1, 0, 1, 1},      {48, 160, 160, 48, 3, 1, 1, 1, 4},
    {192, 160, 160, 96, 1, 1, 0, 1, 1},     {96, 160, 160, 192, 3, 2, 1, 1, 1},
    {192, 80, 80, 192, 1, 1, 0, 1, 3},      {96, 80, 80, 96, 3, 1, 1, 1, 12},
    {576, 80, 80, 192, 1, 1, 0, 1, 2},      {192, 80, 80, 384, 1, 1, 0, 1, 1},
    {384, 80, 80, 384, 3, 2, 1, 384, 1},    {384, 40, 40, 384, 1, 1, 0, 1, 2},
    {192, 40, 40, 192, 3, 1, 1, 1, 12},     {1152, 40, 40, 384, 1, 1, 0, 1, 1},
    {384, 40, 40, 576, 1, 1, 0, 1, 1},      {576, 40, 40, 576, 3, 2, 1, 576, 1},
    {576, 20, 20, 576, 1, 1, 0, 1, 3},      {288, 20, 20, 288, 3, 1, 1, 288, 9},
    {288, 20, 20, 576, 1, 1, 0, 1, 6},      {576, 20, 20, 576, 3, 1, 1, 576, 5},
    {576, 20, 20, 288, 1, 1, 0, 1, 6},      {1152, 20, 20, 576, 1, 1, 0, 1, 3},
    {288, 20, 20, 288, 1, 1, 0, 1, 1},      {960, 40, 40, 384, 1, 1, 0, 1, 1},
    {768, 40, 40, 384, 1, 1, 0, 1, 2},      {384, 80, 80, 192, 1, 1, 0, 1, 1},
    {192, 80, 80, 192, 3, 2, 1, 1, 1},      {576, 40, 40, 384, 1, 1, 0, 1, 1},
    {192, 40, 40, 192, 3, 1, 1, 192, 5},    {192, 40, 40, 384, 1, 1, 0, 1, 2},
    {384, 40, 40, 384, 3, 1, 1, 384, 3},    {384, 40, 40, 192, 1, 1, 0, 1, 3},
    {384, 40, 40, 384, 3, 2, 1, 384, 1},    {960, 20, 20, 576, 1, 1, 0, 1, 1},
    {192, 80, 80, 64, 3, 1, 1, 1, 1},       {64, 80, 80, 64, 3, 1, 1, 1, 1},
    {64, 80, 80, 64, 1, 1, 0, 1, 1},        {192, 80, 80, 192, 3, 1, 1, 192, 2},
    {192, 80, 80, 80, 1, 1, 0, 1, 1},       {384, 40, 40, 64, 3, 1, 1, 1, 1},
    {64, 40, 40, 64, 3, 1, 1, 1, 1},        {64, 40, 40, 64, 1, 1, 0, 1, 1},
    {192, 40, 40, 192, 1, 1, 0, 1, 1},      {192, 40, 40, 80, 1, 1, 0, 1, 1},
    {576, 20, 20, 64, 3, 1, 1, 1, 1},       {64, 20, 20, 64, 3, 1, 1, 1, 1},
    {64, 20, 20, 64, 1, 1, 0, 1, 1},        {576, 20, 20, 192, 1, 1, 0, 1, 1},
    {192, 20, 20, 192, 3, 1, 1, 192, 1},    {192, 20, 20, 192, 1, 1, 0, 1, 1},
    {192, 20, 20, 80, 1, 1, 0, 1, 1},
};
#define NLAYERS ((int)(sizeof yolov10m_convs / sizeof yolov10m_convs[0]))

enum { CLS_1X1, CLS_3X3_S1, CLS_3X3_S2, CLS_DW_S1, CLS_DW_S2, CLS_COUNT };
static const char *const class_names[CLS_COUNT] = {"1x1", "3x3 s1", "3x3 s2", "depthwise s1", "depthwise s2"};

static int layer_class(const conv_layer *l) {
    if (l->group > 1) return l->stride == 1 ? CLS_DW_S1 : CLS_DW_S2;
    if (l->k == 1) return CLS_1X1;
    return l->stride == 1 ? CLS_3X3_S1 : CLS_3X3_S2;
}

/* Wall time, or with --cpu the process CPU time (all threads): on a shared
 * machine the latter is not inflated by time slices lost to other processes,
 * which makes single-thread A/B comparisons steadier. */
static int use_cpu_time;
static double now_s(void) {
    struct timespec t;
    clock_gettime(use_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static yq_conv2d_shape layer_shape(const conv_layer *l) {
    yq_conv2d_shape s = {.N = 1, .C = l->cin, .H = l->h, .W = l->w, .M = l->cout, .kh = l->k, .kw = l->k,
                         .group = l->group, .stride_h = l->stride, .stride_w = l->stride, .dil_h = 1, .dil_w = 1,
                         .pad_t = l->pad, .pad_l = l->pad, .pad_b = l->pad, .pad_r = l->pad};
    return s;
}

static void usage(void) {
    fprintf(stderr, "usage: tool_conv_bench [--threads 1,2] [--reps N] [--silu] [--isa scalar|avx2|avx512] "
                    "[--rounds R] [--verbose] [--check] [--layer I] [--cpu]\n                [--algo gemm1x1|im2col|depthwise|direct|winograd] [--no-winograd]\n                [--shape CIN,H,W,COUT,K,STRIDE,PAD[,GROUP]]\n");
}

int main(int argc, char **argv) {
    static conv_layer custom;
    const conv_layer *layers = yolov10m_convs;
    int nlayers = NLAYERS;
    int threads[8] = {1, 2}, nthread_cfg = 2, reps = 5, rounds = 1, verbose = 0, check = 0, only = -1, algo = -1;
    yq_act act = YQ_ACT_NONE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthread_cfg = 0;
            for (char *tok = strtok(argv[++i], ","); tok && nthread_cfg < 8; tok = strtok(NULL, ","))
                threads[nthread_cfg++] = atoi(tok);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--layer") && i + 1 < argc) {
            only = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--silu")) {
            act = YQ_ACT_SILU;
        } else if (!strcmp(argv[i], "--algo") && i + 1 < argc) {
            /* Force one algorithm where it applies (others keep the automatic choice). */
            const char *v = argv[++i];
            for (int a = 0; a < YQ_CONV_ALGO_COUNT; a++)
                if (!strcmp(v, yq_conv_algo_name((yq_conv_algo)a))) algo = a;
            if (algo < 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            /* One custom shape instead of the YOLOv10m list. */
            conv_layer *c = &custom;
            c->count = 1;
            c->group = 1;
            if (sscanf(argv[++i], "%d,%d,%d,%d,%d,%d,%d,%d", &c->cin, &c->h, &c->w, &c->cout, &c->k, &c->stride,
                       &c->pad, &c->group) < 7) {
                usage();
                return 2;
            }
            layers = c;
            nlayers = 1;
        } else if (!strcmp(argv[i], "--no-winograd")) {
            yq_conv_set_winograd(0); /* the automatic choice as it was before Winograd */
        } else if (!strcmp(argv[i], "--cpu")) {
            use_cpu_time = 1;
        } else if (!strcmp(argv[i], "--verbose")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "--check")) {
            check = 1;
        } else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            const char *v = argv[++i];
            yq_gemm_set_isa(!strcmp(v, "scalar") ? YQ_GEMM_ISA_SCALAR
                            : !strcmp(v, "avx2") ? YQ_GEMM_ISA_AVX2
                                                 : YQ_GEMM_ISA_AVX512);
        } else {
            usage();
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (rounds < 1) rounds = 1;
    printf("conv bench: %d YOLOv10m conv shapes, isa %s, epilogue %s, %d rounds x %d runs per layer, %s time\n",
           nlayers, yq_gemm_isa_name(yq_gemm_isa_current()), act == YQ_ACT_SILU ? "bias+silu" : "bias", rounds, reps,
           use_cpu_time ? "CPU" : "wall");
    int failures = 0;
    for (int tc = 0; tc < nthread_cfg; tc++) {
        int nt = threads[tc] > 0 ? threads[tc] : 1;
        yq_pool *pool = NULL;
        if (yq_pool_new(nt, &pool) != YQ_OK) {
            fprintf(stderr, "cannot create a pool of %d threads: %s\n", nt, yq_last_error());
            return 1;
        }
        /* samples[li][round * reps + r]: the whole layer list is run `rounds`
         * times so that a burst of load from other processes spoils only some
         * samples of each layer. */
        double *samples = calloc((size_t)nlayers * (size_t)(rounds * reps), sizeof *samples);
        const char *algo_used[NLAYERS] = {0};
        if (!samples) return 1;
        for (int round = 0; round < rounds; round++)
            for (int li = 0; li < nlayers; li++) {
                const conv_layer *l = &layers[li];
                if (only >= 0 && li != only) continue;
                yq_conv2d_shape s = layer_shape(l);
                if (yq_conv2d_shape_check(&s) != YQ_OK) {
                    fprintf(stderr, "layer %d: %s\n", li, yq_last_error());
                    return 1;
                }
                size_t nx = (size_t)(s.C * s.H * s.W), nw = (size_t)(s.M * (s.C / s.group) * s.kh * s.kw),
                       ny = (size_t)(s.M * s.OH * s.OW);
                float *X = malloc(nx * sizeof *X), *Wt = malloc(nw * sizeof *Wt),
                      *B = malloc((size_t)s.M * sizeof *B), *Y = malloc(ny * sizeof *Y);
                if (!X || !Wt || !B || !Y) return 1;
                float wscale = 1.0f / sqrtf((float)((s.C / s.group) * s.kh * s.kw));
                for (size_t i = 0; i < nx; i++) X[i] = frand();
                for (size_t i = 0; i < nw; i++) Wt[i] = frand() * wscale;
                for (int64_t i = 0; i < s.M; i++) B[i] = frand() * 0.1f;
                yq_conv2d_plan *plan = NULL;
                if (algo < 0 || yq_conv2d_plan_new_algo(&s, Wt, B, act, nt, algo, &plan) != YQ_OK) plan = NULL;
                if (!plan && yq_conv2d_plan_new(&s, Wt, B, act, nt, &plan) != YQ_OK) {
                    fprintf(stderr, "layer %d: %s\n", li, yq_last_error());
                    return 1;
                }
                algo_used[li] = yq_conv_algo_name(yq_conv2d_plan_algo(plan));
                size_t sb = yq_conv2d_plan_scratch(plan);
                void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
                yq_conv2d_run(plan, pool, X, Y, scratch); /* warm-up */
                for (int r = 0; r < reps; r++) {
                    double t0 = now_s();
                    yq_conv2d_run(plan, pool, X, Y, scratch);
                    samples[(size_t)li * (size_t)(rounds * reps) + (size_t)(round * reps + r)] = now_s() - t0;
                }
                if (check && tc == 0 && round == 0) {
                    float *R = malloc(ny * sizeof *R);
                    yq_conv2d_ref(&s, X, Wt, B, act, R);
                    double maxref = 0, maxdiff = 0;
                    for (size_t i = 0; i < ny; i++) {
                        maxref = fmax(maxref, fabs(R[i]));
                        maxdiff = fmax(maxdiff, fabs(R[i] - Y[i]));
                    }
                    int ok = maxdiff <= 1e-4 * maxref + 1e-5;
                    failures += !ok;
                    printf("  [%2d] check: max|diff| %.3g (max|ref| %.3g) %s\n", li, maxdiff, maxref,
                           ok ? "ok" : "FAIL");
                    free(R);
                }
                free(scratch);
                yq_conv2d_plan_free(plan);
                free(X);
                free(Wt);
                free(B);
                free(Y);
            }
        double cls_ms[CLS_COUNT] = {0}, cls_min[CLS_COUNT] = {0}, cls_gf[CLS_COUNT] = {0};
        int cls_n[CLS_COUNT] = {0};
        for (int li = 0; li < nlayers; li++) {
            const conv_layer *l = &layers[li];
            if (only >= 0 && li != only) continue;
            yq_conv2d_shape s = layer_shape(l);
            yq_conv2d_shape_check(&s);
            double *t = samples + (size_t)li * (size_t)(rounds * reps);
            qsort(t, (size_t)(rounds * reps), sizeof *t, cmp_double);
            const double ms = t[rounds * reps / 2] * 1e3, ms_min = t[0] * 1e3;
            const double gflop = 2.0 * (double)(s.M * s.OH * s.OW) * (double)((s.C / s.group) * s.kh * s.kw) * 1e-9;
            const int cls = layer_class(l);
            cls_ms[cls] += ms * l->count;
            cls_min[cls] += ms_min * l->count;
            cls_gf[cls] += gflop * l->count;
            cls_n[cls] += l->count;
            if (verbose)
                printf("  [%2d] %4lldx%3lldx%3lld -> %4lld k%d s%d g%-3d x%-2d %-9s %8.3f ms %7.1f GFLOP/s  best %8.3f ms "
                       "%7.1f GFLOP/s\n",
                       li, (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.M, l->k, l->stride, l->group,
                       l->count, algo_used[li], ms, gflop / ms * 1e3, ms_min, gflop / ms_min * 1e3);
        }
        free(samples);
        double tot_ms = 0, tot_min = 0, tot_gf = 0;
        int tot_n = 0;
        printf("threads %d:                                 median                  best\n", nt);
        for (int c = 0; c < CLS_COUNT; c++) {
            printf("  %-13s %3d convs %7.2f GFLOP %8.2f ms %7.1f GFLOP/s %8.2f ms %7.1f GFLOP/s\n", class_names[c],
                   cls_n[c], cls_gf[c], cls_ms[c], cls_ms[c] > 0 ? cls_gf[c] / cls_ms[c] * 1e3 : 0.0, cls_min[c],
                   cls_min[c] > 0 ? cls_gf[c] / cls_min[c] * 1e3 : 0.0);
            tot_ms += cls_ms[c];
            tot_min += cls_min[c];
            tot_gf += cls_gf[c];
            tot_n += cls_n[c];
        }
        printf("  %-13s %3d convs %7.2f GFLOP %8.2f ms %7.1f GFLOP/s %8.2f ms %7.1f GFLOP/s\n", "total", tot_n, tot_gf,
               tot_ms, tot_ms > 0 ? tot_gf / tot_ms * 1e3 : 0.0, tot_min, tot_min > 0 ? tot_gf / tot_min * 1e3 : 0.0);
        yq_pool_free(pool);
    }
    return failures ? 1 : 0;
}
