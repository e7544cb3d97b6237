/* Test helper for ONNX Runtime parity: runs a model on yoloq's engine and
 * writes the exact input and the outputs as raw little-endian files, so that
 * ort_run.js can feed ORT the same bytes.
 *
 *   tool_parity image  MODEL IMAGE OUTDIR   letterboxed COCO image as input
 *   tool_parity random MODEL SEED  OUTDIR   uniform [0,1) input, fixed seed
 *
 * YOLOQ_ENGINE=fakequant runs QCDQ convs as fake-quant (the literal QCDQ
 * semantics) instead of the default integer convolutions.
 *
 * Writes OUTDIR/input.bin, OUTDIR/yq<k>.bin and prints
 * "<input name> <d0>x<d1>x..." then one line per output "<k> <dtype> <dims>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"
#include "onnx/onnx.h"

static int write_raw(const char *dir, const char *name, const void *data, size_t n) {
    char p[4096];
    snprintf(p, sizeof p, "%.3000s/%.100s", dir, name);
    FILE *fp = fopen(p, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n) {
        fprintf(stderr, "%s: cannot write\n", p);
        if (fp) fclose(fp);
        return -1;
    }
    return fclose(fp);
}

static void print_dims(const yq_tensor *t) {
    for (int d = 0; d < t->rank; d++) printf(d ? "x%lld" : "%lld", (long long)t->dims[d]);
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "image") && strcmp(argv[1], "random"))) {
        fprintf(stderr, "usage: tool_parity image|random MODEL IMAGE|SEED OUTDIR\n");
        return 2;
    }
    const char *model = argv[2], *outdir = argv[4];
    yq_detector_opts o;
    yq_detector_opts_default(&o);
    o.nthreads = 2;
    const char *engine = getenv("YOLOQ_ENGINE");
    if (engine && (o.engine = yq_engine_parse(engine)) < 0) {
        fprintf(stderr, "YOLOQ_ENGINE must be auto or fakequant, got '%s'\n", engine);
        return 2;
    }
    yq_session *s;
    yq_tensor in;
    yq_detector *det = NULL;
    float *buf = NULL;
    if (!strcmp(argv[1], "image")) {
        yq_image img;
        if (yq_image_load(argv[3], &img) != YQ_OK || yq_detector_open(model, &o, &det) != YQ_OK) {
            fprintf(stderr, "%s\n", yq_last_error());
            return 1;
        }
        yq_det *dets;
        int n;
        if (yq_detector_detect(det, &img, &dets, &n, NULL) != YQ_OK) {
            fprintf(stderr, "%s\n", yq_last_error());
            return 1;
        }
        free(dets);
        yq_image_free(&img);
        s = yq_detector_session(det);
        in = yq_value_tensor(yq_session_input(s, 0));
        in.data = (void *)yq_detector_last_input(det);
    } else {
        yq_graph *g;
        yq_session_opts so = {.nthreads = 2, .engine = o.engine};
        if (yq_onnx_load(model, &g) != YQ_OK || yq_session_new(g, &so, &s) != YQ_OK) {
            fprintf(stderr, "%s\n", yq_last_error());
            return 1;
        }
        in = yq_value_tensor(yq_session_input(s, 0));
        int64_t n = yq_tensor_numel(&in);
        buf = malloc((size_t)n * sizeof(float));
        uint64_t x = strtoull(argv[3], NULL, 10) * 2654435761u + 88172645463325252ull;
        for (int64_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (float)((x >> 40) / 16777216.0);
        }
        in.data = buf;
        if (yq_session_run(s, &in, 1) != YQ_OK) {
            fprintf(stderr, "%s\n", yq_last_error());
            return 1;
        }
    }
    if (write_raw(outdir, "input.bin", in.data, (size_t)yq_tensor_numel(&in) * sizeof(float))) return 1;
    printf("%s ", yq_session_input(s, 0)->name);
    print_dims(&in);
    printf("\n");
    for (int k = 0; k < yq_session_noutputs(s); k++) {
        const yq_tensor *t = yq_session_output(s, k);
        char name[32];
        snprintf(name, sizeof name, "yq%d.bin", k);
        if (write_raw(outdir, name, t->data, (size_t)yq_tensor_numel(t) * yq_dtype_size(t->dtype))) return 1;
        printf("%d %s ", k, yq_dtype_name(t->dtype));
        print_dims(t);
        printf("\n");
    }
    if (det)
        yq_detector_free(det);
    else
        yq_session_free(s);
    free(buf);
    return 0;
}
