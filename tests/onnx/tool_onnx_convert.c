/* Test helper: read an ONNX model with yoloq and write it back.
 *   tool_onnx_convert IN.onnx OUT.onnx    read IN, write OUT, print a one-line summary
 *   tool_onnx_convert IN.onnx             read IN only (exit 0 if it loads)
 * Exit status 0 on success, 1 with the error message on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "onnx/onnx.h"

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s IN.onnx [OUT.onnx]\n", argv[0]);
        return 2;
    }
    yq_graph *g;
    yq_status st = yq_onnx_load(argv[1], &g);
    if (st != YQ_OK) {
        fprintf(stderr, "error: %s\n", yq_last_error());
        return 1;
    }
    int inits = 0;
    for (int v = 0; v < g->nvalues; v++) inits += (g->values[v].flags & YQ_VAL_INIT) != 0;
    printf("ir %lld, %d nodes, %d values, %d initializers, %d inputs, %d outputs\n", (long long)g->ir_version,
           g->nnodes, g->nvalues, inits, g->ninputs, g->noutputs);
    if (argc == 3 && (st = yq_onnx_save(g, argv[2])) != YQ_OK) {
        fprintf(stderr, "error: %s\n", yq_last_error());
        yq_graph_free(g);
        return 1;
    }
    yq_graph_free(g);
    return 0;
}
