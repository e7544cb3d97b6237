/* Sum the FLOPs (2 x MACs) the op table reports for a list of Conv / MatMul /
 * Gemm nodes, each run through the op's infer first (so output shapes come
 * from our shape inference, not from the list).
 *
 * Usage: tool_flops_check SHAPES.txt [EXPECTED_GFLOPS TOLERANCE_GFLOPS]
 * SHAPES.txt is written by dump_op_shapes.py (one node per line). Prints the
 * per-op and total GFLOPs; with EXPECTED given, exits 1 when the total is off
 * by more than TOLERANCE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"

/* "1,3,640,640" -> dims; returns the count. */
static int parse_ints(const char *s, int64_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtoll(s, &end, 10);
        if (*end != ',') break;
        s = end + 1;
    }
    return n;
}

/* A float value with a known shape and no data (infer and flops need no more). */
static int shaped_value(yq_graph *g, const char *base, const int64_t *dims, int rank) {
    char *name;
    int id;
    if (yq_graph_unique_name(g, base, &name) != YQ_OK || yq_graph_add_value(g, name, &id) != YQ_OK) exit(1);
    free(name);
    g->values[id].dtype = YQ_DT_FLOAT;
    g->values[id].rank = rank;
    for (int i = 0; i < rank; i++) g->values[id].dims[i] = dims[i];
    return id;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: tool_flops_check SHAPES.txt [EXPECTED_GFLOPS TOLERANCE_GFLOPS]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    yq_graph *g;
    if (yq_graph_new(&g) != YQ_OK || yq_graph_set_opset(g, "", 17) != YQ_OK) return 1;
    double by_op[YQ_OP_COUNT] = {0};
    int count[YQ_OP_COUNT] = {0};
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *save, *op = strtok_r(line, " \n", &save);
        if (!op) continue;
        int64_t d0[YQ_MAX_RANK], d1[YQ_MAX_RANK];
        int r0 = 0, r1 = 0;
        struct {
            const char *key;
            int64_t v[YQ_MAX_RANK * 2];
            int n;
        } ints[8];
        int nints = 0;
        const char *auto_pad = NULL;
        for (char *tok = strtok_r(NULL, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq) continue;
            *eq = 0;
            const char *val = eq + 1;
            if (!strcmp(tok, "x") || !strcmp(tok, "a"))
                r0 = parse_ints(val, d0, YQ_MAX_RANK);
            else if (!strcmp(tok, "w") || !strcmp(tok, "b"))
                r1 = parse_ints(val, d1, YQ_MAX_RANK);
            else if (!strcmp(tok, "auto_pad"))
                auto_pad = val;
            else if (nints < 8) {
                ints[nints].key = tok;
                ints[nints].n = parse_ints(val, ints[nints].v, YQ_MAX_RANK * 2);
                nints++;
            }
        }
        int ins[2] = {shaped_value(g, "in0", d0, r0), shaped_value(g, "in1", d1, r1)};
        int out = shaped_value(g, "out", d0, 0), node;
        g->values[out].rank = -1;
        if (yq_graph_add_node(g, op, "", "n", ins, 2, &out, 1, &node) != YQ_OK) return 1;
        yq_node *n = &g->nodes[node];
        for (int i = 0; i < nints; i++) {
            /* group / transA / transB are scalars; the rest are lists. */
            if (!strcmp(ints[i].key, "group") || !strcmp(ints[i].key, "transA") || !strcmp(ints[i].key, "transB"))
                yq_node_set_attr_int(n, ints[i].key, ints[i].v[0]);
            else
                yq_node_set_attr_ints(n, ints[i].key, ints[i].v, ints[i].n);
        }
        if (auto_pad) yq_node_set_attr_string(n, "auto_pad", auto_pad);
        if (yq_node_infer(g, node) != YQ_OK) {
            fprintf(stderr, "%s:%d: %s\n", argv[1], lineno, yq_last_error());
            return 1;
        }
        const yq_op_vtable *vt = yq_op_get(g->nodes[node].op);
        by_op[g->nodes[node].op] += vt->flops ? vt->flops(g, &g->nodes[node]) : 0;
        count[g->nodes[node].op]++;
    }
    fclose(f);
    double total = 0;
    for (int i = 0; i < YQ_OP_COUNT; i++) {
        if (!count[i]) continue;
        printf("%-8s %4d nodes %9.4f GFLOPs\n", yq_op_names[i], count[i], by_op[i] * 1e-9);
        total += by_op[i];
    }
    printf("total          %9.4f GFLOPs\n", total * 1e-9);
    yq_graph_free(g);
    if (argc == 4) {
        double want = atof(argv[2]), tol = atof(argv[3]);
        if (fabs(total * 1e-9 - want) > tol) {
            fprintf(stderr, "total %.4f GFLOPs is not within %.3f of %.3f\n", total * 1e-9, tol, want);
            return 1;
        }
    }
    return 0;
}
