/* yoloq info MODEL: what a model is made of — inputs, outputs, opsets, op
 * histogram, parameters, FLOPs and initializer bytes by element type. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "onnx/onnx.h"
#include "rt/ops.h"
#include "rt/prepare.h"

void cmd_info_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq info MODEL.onnx [--json OUT] [--threads N]\n"
            "\n"
            "Describe an ONNX model: graph inputs and outputs with shapes, IR version and opsets,\n"
            "a histogram of operators, the parameter count, GFLOPs (2 x multiply-accumulates of\n"
            "Conv, MatMul and Gemm, with every shape inferred statically) and initializer bytes\n"
            "by element type.\n"
            "\n"
            "Options:\n"
            "  -j, --json OUT      also write the description as JSON to OUT ('-' for stdout,\n"
            "                      which then replaces the table)\n" CLI_HELP_THREADS CLI_HELP_HELP);
}

typedef struct op_count {
    const char *name;
    int count;
} op_count;

static int cmp_op_count(const void *a, const void *b) {
    const op_count *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->name, y->name);
}

static cJSON *value_json(const yq_value *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "dtype", yq_dtype_name(v->dtype));
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] < 0 && v->dim_params[d])
            cJSON_AddItemToArray(shape, cJSON_CreateString(v->dim_params[d]));
        else
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)v->dims[d]));
    }
    return o;
}

static void print_value(const char *label, const yq_value *v) {
    char dims[256];
    size_t n = 0;
    dims[0] = 0;
    n += (size_t)snprintf(dims, sizeof dims, "[");
    for (int d = 0; d < v->rank && n < sizeof dims; d++) {
        if (v->dims[d] < 0)
            n += (size_t)snprintf(dims + n, sizeof dims - n, "%s%s", d ? "," : "", v->dim_params[d] ? v->dim_params[d] : "?");
        else
            n += (size_t)snprintf(dims + n, sizeof dims - n, "%s%lld", d ? "," : "", (long long)v->dims[d]);
    }
    if (n < sizeof dims) snprintf(dims + n, sizeof dims - n, "]");
    printf("%-13s %s %s %s\n", label, v->name, yq_dtype_name(v->dtype), v->rank < 0 ? "(unknown shape)" : dims);
}

int cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {{"json", required_argument, 0, 'j'},
                                             {"threads", required_argument, 0, 't'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *json_out = NULL;
    int threads = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json_out = optarg; break;
        case 't':
            if (cli_parse_int("info", "--threads", optarg, 1, 256, &threads)) return CLI_USAGE;
            break;
        case 'h': cmd_info_help(stdout); return CLI_OK;
        default: return cli_usage("info", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("info", "expects exactly one MODEL.onnx");
    const char *path = argv[optind];

    yq_graph *g;
    yq_status st = yq_onnx_load(path, &g);
    if (st != YQ_OK) return cli_fail(st);

    /* The file as written: op histogram and initializers, before any rewriting. */
    op_count *ops = calloc((size_t)g->nnodes + 1, sizeof *ops);
    int nops = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int k;
        for (k = 0; k < nops; k++)
            if (!strcmp(ops[k].name, g->nodes[i].op_type)) break;
        if (k == nops) ops[nops++].name = g->nodes[i].op_type;
        ops[k].count++;
    }
    qsort(ops, (size_t)nops, sizeof *ops, cmp_op_count);
    double bytes_by_dt[YQ_DT_COUNT] = {0};
    int tensors_by_dt[YQ_DT_COUNT] = {0};
    int64_t params = 0;
    for (int v = 0; v < g->nvalues; v++) {
        const yq_value *val = &g->values[v];
        if (!(val->flags & YQ_VAL_INIT)) continue;
        int64_t n = yq_value_numel(val);
        bytes_by_dt[val->dtype] += (double)n * yq_dtype_file_bits(val->dtype) / 8.0;
        tensors_by_dt[val->dtype]++;
        /* parameters: numeric weights, not shape/index constants */
        if (val->dtype != YQ_DT_INT64 && val->dtype != YQ_DT_INT32 && val->dtype != YQ_DT_BOOL) params += n;
    }
    int64_t ir = g->ir_version;
    int64_t opset = yq_graph_opset(g, "");
    char *producer = g->producer_name ? strdup(g->producer_name) : NULL;

    /* Static shapes for FLOPs: the graph is prepared without fusions. */
    yq_graph *shaped = NULL;
    st = yq_graph_clone(g, &shaped);
    yq_prepare_opts po = yq_prepare_defaults();
    po.fuse = 0;
    yq_pool *pool = NULL;
    if (st == YQ_OK) st = yq_pool_new(threads, &pool);
    if (st == YQ_OK && (st = yq_prepare_graph(shaped, pool, &po)) != YQ_OK) yq_fail_prefix(st, "%s", path);
    yq_pool_free(pool);
    if (st != YQ_OK) {
        free(ops);
        free(producer);
        yq_graph_free(shaped);
        yq_graph_free(g);
        return cli_fail(st);
    }
    double flops = 0;
    for (int i = 0; i < shaped->nnodes; i++) {
        const yq_op_vtable *vt = yq_op_get(shaped->nodes[i].op);
        if (vt && vt->flops) flops += vt->flops(shaped, &shaped->nodes[i]);
    }
    struct stat sb;
    double file_mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;

    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "model", path);
    cJSON_AddNumberToObject(doc, "file_bytes", file_mb * 1e6);
    cJSON_AddNumberToObject(doc, "ir_version", (double)ir);
    cJSON *opsets = cJSON_AddObjectToObject(doc, "opsets");
    for (int i = 0; i < g->nopsets; i++)
        cJSON_AddNumberToObject(opsets, g->opsets[i].domain[0] ? g->opsets[i].domain : "ai.onnx",
                                (double)g->opsets[i].version);
    cJSON_AddStringToObject(doc, "producer", producer ? producer : "");
    cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
    for (int i = 0; i < g->ninputs; i++) cJSON_AddItemToArray(ins, value_json(&g->values[g->inputs[i]]));
    cJSON *outs = cJSON_AddArrayToObject(doc, "outputs");
    for (int i = 0; i < shaped->noutputs; i++)
        cJSON_AddItemToArray(outs, value_json(&shaped->values[shaped->outputs[i]]));
    cJSON_AddNumberToObject(doc, "nodes", g->nnodes);
    cJSON *hist = cJSON_AddObjectToObject(doc, "ops");
    for (int k = 0; k < nops; k++) cJSON_AddNumberToObject(hist, ops[k].name, ops[k].count);
    cJSON_AddNumberToObject(doc, "parameters", (double)params);
    cJSON_AddNumberToObject(doc, "gflops", flops / 1e9);
    cJSON *bydt = cJSON_AddObjectToObject(doc, "initializer_bytes");
    for (int dt = 0; dt < YQ_DT_COUNT; dt++)
        if (tensors_by_dt[dt]) cJSON_AddNumberToObject(bydt, yq_dtype_name((yq_dtype)dt), bytes_by_dt[dt]);

    int rc = CLI_OK;
    if (!json_out || strcmp(json_out, "-") != 0) {
        printf("%-13s %s (%.1f MB)\n", "model", path, file_mb);
        printf("%-13s IR %lld, opset %lld", "format", (long long)ir, (long long)opset);
        for (int i = 0; i < g->nopsets; i++)
            if (g->opsets[i].domain[0]) printf(", %s %lld", g->opsets[i].domain, (long long)g->opsets[i].version);
        printf("%s%s\n", producer ? ", producer " : "", producer ? producer : "");
        for (int i = 0; i < g->ninputs; i++) print_value(i ? "" : "inputs", &g->values[g->inputs[i]]);
        for (int i = 0; i < shaped->noutputs; i++)
            print_value(i ? "" : "outputs", &shaped->values[shaped->outputs[i]]);
        printf("%-13s %lld\n", "parameters", (long long)params);
        printf("%-13s %.2f  (2 x MACs of Conv/MatMul/Gemm)\n", "GFLOPs", flops / 1e9);
        printf("%-13s %d nodes:", "operators", g->nnodes);
        for (int k = 0; k < nops; k++) printf("%s %s %d", k ? "," : "", ops[k].name, ops[k].count);
        printf("\n");
        int first = 1;
        for (int dt = 0; dt < YQ_DT_COUNT; dt++) {
            if (!tensors_by_dt[dt]) continue;
            printf("%-13s %-8s %4d tensors %12.0f bytes\n", first ? "initializers" : "", yq_dtype_name((yq_dtype)dt),
                   tensors_by_dt[dt], bytes_by_dt[dt]);
            first = 0;
        }
    }
    if (json_out) rc = cli_write_json(doc, json_out);
    cJSON_Delete(doc);
    free(ops);
    free(producer);
    yq_graph_free(shaped);
    yq_graph_free(g);
    return rc;
}
