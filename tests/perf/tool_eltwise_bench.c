/* Throughput of the elementwise kernels on YOLO-sized tensors with 1 and 2
 * threads: `build/tool_eltwise_bench`. Each node runs through its vtable on
 * preallocated buffers (no allocation in the timed loop) for about half a
 * second; the figure is wall time per call and per output element. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/graph.h"
#include "rt/node_eval.h"
#include "rt/ops.h"

static void check(yq_status st) {
    if (st != YQ_OK) {
        fprintf(stderr, "tool_eltwise_bench: %s\n", yq_last_error());
        exit(1);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void bench(const char *label, yq_graph *g, int node, yq_pool *pool) {
    check(yq_node_infer(g, node));
    const yq_node *nd = &g->nodes[node];
    const yq_op_vtable *vt = yq_op_get(nd->op);
    yq_tensor in[3];
    memset(in, 0, sizeof in);
    for (int i = 0; i < nd->ninputs; i++)
        if (nd->inputs[i] >= 0) in[i] = yq_value_tensor(&g->values[nd->inputs[i]]);
    yq_tensor out = yq_value_tensor(&g->values[nd->outputs[0]]);
    const int64_t n = yq_tensor_numel(&out);
    size_t nb;
    check(yq_dtype_bytes(out.dtype, n, &nb));
    out.data = yq_calloc(1, nb);
    if (!out.data) check(YQ_ERR_NOMEM);
    yq_run_ctx rc = {.g = g, .node = nd, .opset = yq_graph_opset(g, ""), .nin = nd->ninputs, .nout = 1, .in = in,
                     .out = &out, .pool = pool};
    check(vt->run(&rc)); /* warm-up */
    int iters = 0;
    double t0 = now(), t;
    do {
        check(vt->run(&rc));
        iters++;
        t = now() - t0;
    } while (t < 0.5);
    printf("%-40s threads=%d %9.1f us %6.2f ns/elem\n", label, yq_pool_size(pool), t / iters * 1e6,
           t / iters / (double)n * 1e9);
    free(out.data);
}

/* A constant of deterministic values spread over [lo, hi). */
static int constant(yq_graph *g, yq_dtype dt, int rank, const int64_t *dims, float lo, float hi) {
    const int64_t n = yq_numel(rank, dims);
    size_t nb;
    check(yq_dtype_bytes(dt, n, &nb));
    unsigned char *buf = yq_malloc(nb);
    if (!buf) check(YQ_ERR_NOMEM);
    for (int64_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * (float)((uint64_t)i * 2654435761u % 1000) / 1000.0f;
        if (dt == YQ_DT_FLOAT) memcpy(buf + i * 4, &v, 4);
        else ((int8_t *)buf)[i] = (int8_t)v;
    }
    int id;
    check(yq_graph_add_initializer(g, "c", dt, rank, dims, buf, &id));
    free(buf);
    return id;
}

static int add_node(yq_graph *g, const char *op, const int *inputs, int ninputs) {
    char name[32];
    snprintf(name, sizeof name, "out%d", g->nvalues);
    int out, node;
    check(yq_graph_add_value(g, name, &out));
    check(yq_graph_add_node(g, op, "", op, inputs, ninputs, &out, 1, &node));
    return node;
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++) {
        yq_pool *pool;
        yq_graph *g;
        check(yq_pool_new(threads, &pool));
        check(yq_graph_new(&g));
        check(yq_graph_set_opset(g, "", 17));
        const int64_t act[4] = {1, 64, 160, 160}, chan[4] = {1, 64, 1, 1}, head[3] = {1, 4, 8400},
                      anchors[3] = {1, 1, 8400}, dfl[4] = {1, 16, 4, 8400}, attn[3] = {2, 400, 400};
        int x = constant(g, YQ_DT_FLOAT, 4, act, -8, 8), y = constant(g, YQ_DT_FLOAT, 4, act, -8, 8);
        int c = constant(g, YQ_DT_FLOAT, 4, chan, 0.5f, 2);
        int scale = constant(g, YQ_DT_FLOAT, 0, NULL, 0.05f, 0.05f), zp = constant(g, YQ_DT_INT8, 0, NULL, 0, 0);
        int xq = constant(g, YQ_DT_INT8, 4, act, -100, 100);
        int h = constant(g, YQ_DT_FLOAT, 3, head, -8, 8), s = constant(g, YQ_DT_FLOAT, 3, anchors, 1, 2);
        int d = constant(g, YQ_DT_FLOAT, 4, dfl, -8, 8), a = constant(g, YQ_DT_FLOAT, 3, attn, -8, 8);

        bench("Add [1,64,160,160] same shape", g, add_node(g, "Add", (const int[]){x, y}, 2), pool);
        bench("Mul [1,64,160,160] x [1,64,1,1]", g, add_node(g, "Mul", (const int[]){x, c}, 2), pool);
        bench("Mul [1,4,8400] x [1,1,8400]", g, add_node(g, "Mul", (const int[]){h, s}, 2), pool);
        bench("Sigmoid [1,64,160,160]", g, add_node(g, "Sigmoid", &x, 1), pool);
        bench("QuantizeLinear f32->int8 per-tensor", g, add_node(g, "QuantizeLinear", (const int[]){x, scale, zp}, 3),
              pool);
        bench("DequantizeLinear int8->f32 per-tensor", g,
              add_node(g, "DequantizeLinear", (const int[]){xq, scale, zp}, 3), pool);
        bench("Clip int8 (min only)", g, add_node(g, "Clip", (const int[]){xq, zp}, 2), pool);
        int sd = add_node(g, "Softmax", &d, 1);
        check(yq_node_set_attr_int(&g->nodes[sd], "axis", 1));
        bench("Softmax [1,16,4,8400] axis 1 (DFL)", g, sd, pool);
        bench("Softmax [2,400,400] axis -1", g, add_node(g, "Softmax", &a, 1), pool);
        yq_graph_free(g);
        yq_pool_free(pool);
    }
    return 0;
}
