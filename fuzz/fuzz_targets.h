/* The bodies of the fuzz targets, shared by the libFuzzer executables
 * (fuzz/fuzz_<name>.c, built with YOLOQ_FUZZ=ON by fuzz/build.sh) and by the
 * regression replayer tests/fuzz/tool_fuzz_replay.c, which feeds saved inputs
 * through the same code in the normal (and sanitizer) build.
 *
 * What each target asserts besides "no crash, no leak, no sanitizer report":
 * every failure carries a message (yq_last_error non-empty), and none is
 * YQ_ERR_INTERNAL, which by definition is a yoloq bug. A violation aborts, so
 * libFuzzer saves the input. */
#ifndef YQ_FUZZ_TARGETS_H
#define YQ_FUZZ_TARGETS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tensor.h"
#include "eval/coco_json.h"
#include "eval/cocoeval.h"
#include "ir/graph.h"
#include "onnx/onnx.h"
#include "quant/recipe.h"
#include "rt/ops.h"
#include "rt/session.h"
#include "vision/image.h"
#include "vision/letterbox.h"

/* Bounds on what the ONNX target executes, so that a valid but merely huge
 * model does not read as a timeout or an out-of-memory: these are limits of
 * the harness, not of yoloq. */
#define YQ_FUZZ_MAX_NODES 256
#define YQ_FUZZ_MAX_INPUT_BYTES ((size_t)16 << 20)
#define YQ_FUZZ_MAX_ARENA_BYTES ((size_t)64 << 20)
#define YQ_FUZZ_MAX_ALLOC_BYTES ((size_t)256 << 20)
#define YQ_FUZZ_MAX_FLOPS 5e7 /* ASan + reference kernels: ~10^7 simple ops per second */

/* A failed call must explain itself and must not be an internal error. */
static inline void yq_fuzz_check(yq_status st, const char *what) {
    if (st == YQ_OK) return;
    const char *msg = yq_last_error();
    if (st == YQ_ERR_INTERNAL || st >= YQ_STATUS_COUNT || st < 0 || !msg || !msg[0]) {
        fprintf(stderr, "fuzz: %s returned %s with message '%s'\n", what, yq_status_name(st), msg ? msg : "(null)");
        abort();
    }
    yq_clear_error();
}

/* ---- ONNX: load -> session (infer, fold, plan, prepare) -> one run ---------- */

/* Graph inputs must be static and small enough to feed zeros. */
static inline int yq_fuzz_inputs_bounded(const yq_graph *g) {
    for (int i = 0; i < g->ninputs; i++) {
        const yq_value *v = &g->values[g->inputs[i]];
        if (v->rank < 0 || v->dtype == YQ_DT_UNDEFINED) return 1; /* the session refuses it cleanly */
        int64_t n = 1;
        for (int d = 0; d < v->rank; d++) {
            if (v->dims[d] < 0) return 1; /* dynamic: refused cleanly */
            if (v->dims[d] > 0 && n > (int64_t)YQ_FUZZ_MAX_INPUT_BYTES / v->dims[d]) return 0;
            n *= v->dims[d];
        }
        if ((size_t)n * 8 > YQ_FUZZ_MAX_INPUT_BYTES) return 0;
    }
    return 1;
}

static inline double yq_fuzz_session_flops(const yq_session *s) {
    const yq_graph *g = yq_session_graph(s);
    double total = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const yq_node *n = &g->nodes[i];
        if (n->dead || n->op < 0) continue;
        const yq_op_vtable *vt = yq_op_get(n->op);
        if (vt && vt->flops) total += vt->flops(g, n);
        /* Ops without a FLOP count still touch their output once per
         * kernel tap (pools), and every op touches its inputs once. */
        double taps = 1;
        const int64_t *ks = NULL;
        int nk = yq_attr_ints(n, "kernel_shape", &ks);
        for (int k = 0; k < nk; k++) taps *= ks[k] > 1 ? (double)ks[k] : 1;
        for (int k = 0; k < n->noutputs; k++)
            if (n->outputs[k] >= 0) {
                int64_t e = yq_value_numel(&g->values[n->outputs[k]]);
                if (e > 0) total += (double)e * taps;
            }
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) {
                int64_t e = yq_value_numel(&g->values[n->inputs[k]]);
                if (e > 0) total += (double)e;
            }
    }
    return total;
}

static inline int yq_fuzz_onnx_model(const uint8_t *data, size_t size) {
    /* Hostile shapes (Resize by 1000, ConstantOfShape of 10^9) must end in a
     * clean limit error, not a multi-GiB request that libFuzzer calls OOM. */
    yq_set_alloc_limit(YQ_FUZZ_MAX_ALLOC_BYTES);
    yq_graph *g = NULL;
    yq_status st = yq_onnx_load_buffer(data, size, "fuzz.onnx", NULL, &g);
    yq_fuzz_check(st, "yq_onnx_load_buffer");
    if (st != YQ_OK) return 0;
    if (g->nnodes > YQ_FUZZ_MAX_NODES || !yq_fuzz_inputs_bounded(g)) {
        yq_graph_free(g);
        return 0;
    }
    /* A model that loads must also serialize (or refuse cleanly). */
    uint8_t *buf = NULL;
    size_t len = 0;
    st = yq_onnx_serialize(g, &buf, &len);
    yq_fuzz_check(st, "yq_onnx_serialize");
    free(buf);

    yq_session_opts so = {.nthreads = 1};
    yq_session *s = NULL;
    st = yq_session_new(g, &so, &s); /* takes g, also on failure */
    yq_fuzz_check(st, "yq_session_new");
    if (st != YQ_OK) return 0;
    if (yq_session_arena_bytes(s) <= YQ_FUZZ_MAX_ARENA_BYTES && yq_fuzz_session_flops(s) <= YQ_FUZZ_MAX_FLOPS) {
        int nin = yq_session_ninputs(s);
        yq_tensor *in = calloc((size_t)nin + 1, sizeof *in);
        int ok = in != NULL;
        for (int i = 0; ok && i < nin; i++) {
            const yq_value *v = yq_session_input(s, i);
            size_t nb = 0;
            in[i].dtype = v->dtype;
            in[i].rank = v->rank;
            memcpy(in[i].dims, v->dims, sizeof v->dims[0] * (size_t)v->rank);
            if (yq_dtype_bytes(v->dtype, yq_tensor_numel(&in[i]), &nb) != YQ_OK || !(in[i].data = calloc(nb + 1, 1)))
                ok = 0;
        }
        yq_clear_error();
        if (ok) {
            st = yq_session_run(s, in, nin);
            yq_fuzz_check(st, "yq_session_run");
        }
        for (int i = 0; in && i < nin; i++) free(in[i].data);
        free(in);
    }
    yq_session_free(s);
    return 0;
}

/* ---- COCO JSON: ground truth and detections, evaluation when both parse ----- */

/* The input is split at the first NUL byte: before it the ground truth, after
 * it the detections; without a NUL both parsers read the whole input. */
static inline int yq_fuzz_coco_json(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t gt_len = nul ? (size_t)(nul - data) : size;
    const char *det_text = nul ? text + gt_len + 1 : text;
    size_t det_len = nul ? size - gt_len - 1 : size;

    yq_coco_gt *gt = NULL;
    yq_status st = yq_coco_gt_parse(text, gt_len, "fuzz_gt.json", &gt);
    yq_fuzz_check(st, "yq_coco_gt_parse");
    yq_coco_det *dets = NULL;
    size_t ndets = 0;
    /* Without ground truth, detections are parsed unchecked. */
    st = yq_coco_dets_parse(det_text, det_len, "fuzz_dets.json", gt, &dets, &ndets);
    yq_fuzz_check(st, "yq_coco_dets_parse");
    if (st == YQ_OK && gt && yq_coco_gt_num_images(gt) <= 64 && yq_coco_gt_num_annotations(gt) <= 4096 &&
        ndets <= 4096) {
        yq_coco_result res;
        memset(&res, 0, sizeof res);
        st = yq_coco_evaluate(gt, NULL, 0, dets, ndets, &res);
        yq_fuzz_check(st, "yq_coco_evaluate");
        if (st == YQ_OK) yq_coco_result_free(&res);
    }
    free(dets);
    yq_coco_gt_free(gt);
    return 0;
}

/* ---- images: decode (both orientation modes) -> letterbox 64x64 ------------- */

static inline int yq_fuzz_image(const uint8_t *data, size_t size) {
    /* The first byte picks the orientation flag so both paths are explored. */
    if (size < 1) return 0;
    int flags = (data[0] & 1) ? YQ_IMAGE_IGNORE_ORIENTATION : 0;
    yq_image img = {0};
    yq_status st = yq_image_decode(data + 1, size - 1, "fuzz.img", flags, &img);
    yq_fuzz_check(st, "yq_image_decode");
    if (st != YQ_OK) return 0;
    yq_image box = {0};
    yq_letterbox lb;
    st = yq_letterbox_image(&img, 64, 64, &box, &lb);
    yq_fuzz_check(st, "yq_letterbox_image");
    if (st == YQ_OK) {
        float *chw = malloc(sizeof(float) * 3 * 64 * 64);
        if (chw) {
            st = yq_image_to_nchw(&box, chw);
            yq_fuzz_check(st, "yq_image_to_nchw");
            free(chw);
        }
        yq_image_free(&box);
    }
    yq_image_free(&img);
    return 0;
}

/* ---- recipe: parse -> plan against a tiny Conv/Sigmoid/Mul/MatMul graph ------ */

static inline yq_status yq_fuzz_tiny_graph(yq_graph **out) {
    yq_graph *g = NULL;
    yq_status st = yq_graph_new(&g);
    if (st != YQ_OK) return st;
    int x, w, c, sg, m, w2, y;
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1}, w2d[2] = {4, 3};
    float wv[4] = {1, -1, 0.5f, 2}, w2v[12] = {0};
    int node;
    if ((st = yq_graph_set_opset(g, "", 17)) || (st = yq_graph_add_value(g, "images", &x)) ||
        (st = yq_graph_add_initializer(g, "model.0.conv.weight", YQ_DT_FLOAT, 4, wd, wv, &w)) ||
        (st = yq_graph_add_value(g, "conv_out", &c)) || (st = yq_graph_add_value(g, "sig_out", &sg)) ||
        (st = yq_graph_add_value(g, "mul_out", &m)) ||
        (st = yq_graph_add_initializer(g, "head.weight", YQ_DT_FLOAT, 2, w2d, w2v, &w2)) ||
        (st = yq_graph_add_value(g, "output0", &y)))
        goto fail;
    g->values[x].dtype = YQ_DT_FLOAT;
    g->values[x].rank = 4;
    memcpy(g->values[x].dims, xd, sizeof xd);
    if ((st = yq_graph_add_node(g, "Conv", "", "/model.0/conv/Conv", (int[]){x, w}, 2, &c, 1, &node)) ||
        (st = yq_graph_add_node(g, "Sigmoid", "", "/model.0/act/Sigmoid", (int[]){c}, 1, &sg, 1, &node)) ||
        (st = yq_graph_add_node(g, "Mul", "", "/model.0/act/Mul", (int[]){c, sg}, 2, &m, 1, &node)) ||
        (st = yq_graph_add_node(g, "MatMul", "", "/head/MatMul", (int[]){m, w2}, 2, &y, 1, &node)))
        goto fail;
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    if (!g->inputs || !g->outputs) {
        st = YQ_ERR_NOMEM;
        goto fail;
    }
    g->inputs[0] = x;
    g->ninputs = 1;
    g->outputs[0] = y;
    g->noutputs = 1;
    if ((st = yq_graph_rebuild_producers(g))) goto fail;
    *out = g;
    return YQ_OK;
fail:
    yq_graph_free(g);
    return st;
}

static inline int yq_fuzz_recipe(const uint8_t *data, size_t size) {
    static yq_graph *tiny;
    if (!tiny && yq_fuzz_tiny_graph(&tiny) != YQ_OK) {
        fprintf(stderr, "fuzz: cannot build the tiny graph: %s\n", yq_last_error());
        abort();
    }
    yq_recipe *r = NULL;
    yq_status st = yq_recipe_parse((const char *)data, size, "fuzz_recipe.json", &r);
    yq_fuzz_check(st, "yq_recipe_parse");
    if (st != YQ_OK) return 0;
    yq_node_qconfig cfg[8];
    memset(cfg, 0, sizeof cfg);
    st = yq_recipe_plan(r, tiny, cfg);
    yq_fuzz_check(st, "yq_recipe_plan");
    if (st == YQ_OK)
        for (int i = 0; i < tiny->nnodes; i++) {
            yq_qformat f;
            yq_gptq_opts go;
            yq_observer_opts oo;
            yq_weight_cfg_format(&cfg[i].weights, &f);
            yq_weight_cfg_gptq_opts(&cfg[i].weights, &go);
            yq_act_cfg_format(&cfg[i].acts, &f);
            yq_act_cfg_observer_opts(&cfg[i].acts, &oo);
        }
    yq_recipe_free(r);
    return 0;
}

#endif
