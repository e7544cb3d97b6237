/* The synthetic detector and data set (see synthetic.h). */
#include "pipeline/synthetic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/atomic_file.h"
#include "eval/json_io.h"
#include "onnx/onnx.h"
#include "vision/image.h"

enum { CELLS = YQ_SYNTH_SIZE / YQ_SYNTH_STRIDE, ANCHORS = CELLS * CELLS, NCLS = 2, HIDDEN = 4 };

static yq_status add_init(yq_graph *g, const char *name, int rank, const int64_t *dims, const float *data, int *id) {
    return yq_graph_add_initializer(g, name, YQ_DT_FLOAT, rank, dims, data, id);
}

static yq_status add_act(yq_graph *g, const char *name, int rank, const int64_t *dims, int *id) {
    YQ_TRY(yq_graph_add_value(g, name, id));
    yq_value *v = &g->values[*id];
    v->dtype = YQ_DT_FLOAT;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
    return YQ_OK;
}

static yq_status node(yq_graph *g, const char *op, const char *name, const int *in, int nin, int out, int *nid) {
    return yq_graph_add_node(g, op, "", name, in, nin, &out, 1, nid);
}

static yq_status build(yq_graph *g) {
    YQ_TRY(yq_graph_set_opset(g, "", 17));
    g->producer_name = strdup("yoloq synthetic demo detector");
    /* class names the way Ultralytics stores them, for drawn labels */
    g->meta = calloc(1, sizeof *g->meta);
    if (!g->meta) return YQ_ERR_NOMEM;
    g->meta[0].key = strdup("names");
    g->meta[0].value = strdup("{0: 'red square', 1: 'green square'}");
    g->nmeta = 1;
    int x, c1, h1, r1, c2, sc, scr, boxes, out, n;
    const int64_t xdims[4] = {1, 3, YQ_SYNTH_SIZE, YQ_SYNTH_SIZE};
    YQ_TRY(add_act(g, "images", 4, xdims, &x));
    g->values[x].flags |= YQ_VAL_INPUT;
    g->inputs = malloc(sizeof(int));
    if (!g->inputs) return YQ_ERR_NOMEM;
    g->inputs[0] = x;
    g->ninputs = 1;

    /* colour contrast per cell: mean(R-G-B) and mean(G-R-B) over the 8x8 cell */
    float w1[NCLS * 3 * YQ_SYNTH_STRIDE * YQ_SYNTH_STRIDE];
    const float sign[NCLS][3] = {{1, -1, -1}, {-1, 1, -1}};
    const int kk = YQ_SYNTH_STRIDE * YQ_SYNTH_STRIDE;
    for (int o = 0; o < NCLS; o++)
        for (int ci = 0; ci < 3; ci++)
            for (int k = 0; k < kk; k++) w1[(o * 3 + ci) * kk + k] = sign[o][ci] / (float)kk;
    const int64_t w1d[4] = {NCLS, 3, YQ_SYNTH_STRIDE, YQ_SYNTH_STRIDE};
    int wid1, wid2, bid2, wid3, bid3;
    YQ_TRY(add_init(g, "cell_contrast.weight", 4, w1d, w1, &wid1));
    const int64_t c1d[4] = {1, NCLS, CELLS, CELLS};
    YQ_TRY(add_act(g, "cell_contrast", 4, c1d, &c1));
    YQ_TRY(node(g, "Conv", "cell_contrast", (int[]){x, wid1}, 2, c1, &n));
    const int64_t k8[2] = {YQ_SYNTH_STRIDE, YQ_SYNTH_STRIDE};
    YQ_TRY(yq_node_set_attr_ints(&g->nodes[n], "kernel_shape", k8, 2));
    YQ_TRY(yq_node_set_attr_ints(&g->nodes[n], "strides", k8, 2));

    /* hidden layer: for each class, "covered" = 40*(c - 0.475) and its mirror, through ReLU;
     * a fully covered cell has contrast 0.7, a half covered one 0.25, background -0.2 */
    float w2[HIDDEN * NCLS] = {0}, b2[HIDDEN];
    for (int o = 0; o < NCLS; o++) {
        w2[(2 * o) * NCLS + o] = 40.f;
        b2[2 * o] = -40.f * 0.475f;
        w2[(2 * o + 1) * NCLS + o] = -40.f;
        b2[2 * o + 1] = 40.f * 0.475f;
    }
    const int64_t w2d[4] = {HIDDEN, NCLS, 1, 1}, b2d[1] = {HIDDEN};
    YQ_TRY(add_init(g, "features.weight", 4, w2d, w2, &wid2));
    YQ_TRY(add_init(g, "features.bias", 1, b2d, b2, &bid2));
    const int64_t h1d[4] = {1, HIDDEN, CELLS, CELLS};
    YQ_TRY(add_act(g, "features", 4, h1d, &h1));
    YQ_TRY(node(g, "Conv", "features", (int[]){c1, wid2, bid2}, 3, h1, &n));
    YQ_TRY(add_act(g, "features_relu", 4, h1d, &r1));
    YQ_TRY(node(g, "Relu", "features_relu", (int[]){h1}, 1, r1, &n));
    /* logit = relu(a) - relu(-a) = a (kept as two ReLU units so the layer is a real MLP) */
    float w3[NCLS * HIDDEN] = {0}, b3[NCLS] = {0, 0};
    for (int o = 0; o < NCLS; o++) {
        w3[o * HIDDEN + 2 * o] = 1.f;
        w3[o * HIDDEN + 2 * o + 1] = -1.f;
    }
    const int64_t w3d[4] = {NCLS, HIDDEN, 1, 1}, b3d[1] = {NCLS};
    YQ_TRY(add_init(g, "classify.weight", 4, w3d, w3, &wid3));
    YQ_TRY(add_init(g, "classify.bias", 1, b3d, b3, &bid3));
    YQ_TRY(add_act(g, "class_logits", 4, c1d, &c2));
    YQ_TRY(node(g, "Conv", "classify", (int[]){r1, wid3, bid3}, 3, c2, &n));
    YQ_TRY(add_act(g, "class_scores", 4, c1d, &sc));
    YQ_TRY(node(g, "Sigmoid", "class_scores", (int[]){c2}, 1, sc, &n));
    const int64_t shape[3] = {1, NCLS, ANCHORS};
    int shp;
    YQ_TRY(yq_graph_add_initializer(g, "scores_shape", YQ_DT_INT64, 1, (const int64_t[]){3}, shape, &shp));
    YQ_TRY(add_act(g, "scores_flat", 3, shape, &scr));
    YQ_TRY(node(g, "Reshape", "scores_flat", (int[]){sc, shp}, 2, scr, &n));
    /* boxes: cell centres, fixed size */
    float bx[4 * ANCHORS];
    for (int a = 0; a < ANCHORS; a++) {
        bx[0 * ANCHORS + a] = (float)((a % CELLS) * YQ_SYNTH_STRIDE) + YQ_SYNTH_STRIDE / 2.f;
        bx[1 * ANCHORS + a] = (float)((a / CELLS) * YQ_SYNTH_STRIDE) + YQ_SYNTH_STRIDE / 2.f;
        bx[2 * ANCHORS + a] = YQ_SYNTH_BOX;
        bx[3 * ANCHORS + a] = YQ_SYNTH_BOX;
    }
    const int64_t bxd[3] = {1, 4, ANCHORS};
    YQ_TRY(add_init(g, "anchor_boxes", 3, bxd, bx, &boxes));
    const int64_t od[3] = {1, 4 + NCLS, ANCHORS};
    YQ_TRY(add_act(g, "output0", 3, od, &out));
    YQ_TRY(node(g, "Concat", "output0", (int[]){boxes, scr}, 2, out, &n));
    YQ_TRY(yq_node_set_attr_int(&g->nodes[n], "axis", 1));
    g->values[out].flags |= YQ_VAL_OUTPUT;
    g->outputs = malloc(sizeof(int));
    if (!g->outputs) return YQ_ERR_NOMEM;
    g->outputs[0] = out;
    g->noutputs = 1;
    return yq_graph_rebuild_producers(g);
}

yq_status yq_synthetic_model(yq_graph **out) {
    yq_graph *g = NULL;
    YQ_TRY(yq_graph_new(&g));
    yq_status st = build(g);
    if (st != YQ_OK) {
        yq_graph_free(g);
        return st;
    }
    *out = g;
    return YQ_OK;
}

static uint32_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

typedef struct square {
    int cx, cy, cls;
} square;

/* One image: 1–3 squares on distinct cells at least two cells apart, inside the image. */
static int make_image(uint64_t *seed, yq_image *img, square *sq) {
    int n = 1 + (int)(next_rand(seed) % 3), k = 0;
    for (int tries = 0; k < n && tries < 100; tries++) {
        int gx = 1 + (int)(next_rand(seed) % (CELLS - 2)), gy = 1 + (int)(next_rand(seed) % (CELLS - 2));
        int ok = 1;
        for (int j = 0; j < k; j++)
            if (abs(sq[j].cx - gx) < 2 && abs(sq[j].cy - gy) < 2) ok = 0;
        if (!ok) continue;
        sq[k++] = (square){gx, gy, (int)(next_rand(seed) % NCLS)};
    }
    for (int i = 0; i < img->w * img->h; i++) {
        uint8_t v = (uint8_t)(40 + next_rand(seed) % 25); /* dark gray, noisy */
        img->px[3 * i] = v;
        img->px[3 * i + 1] = (uint8_t)(v + next_rand(seed) % 5);
        img->px[3 * i + 2] = v;
    }
    for (int j = 0; j < k; j++) {
        int x0 = sq[j].cx * YQ_SYNTH_STRIDE + YQ_SYNTH_STRIDE / 2 - YQ_SYNTH_BOX / 2;
        int y0 = sq[j].cy * YQ_SYNTH_STRIDE + YQ_SYNTH_STRIDE / 2 - YQ_SYNTH_BOX / 2;
        for (int y = y0; y < y0 + YQ_SYNTH_BOX; y++)
            for (int x = x0; x < x0 + YQ_SYNTH_BOX; x++) {
                uint8_t *p = img->px + 3 * ((size_t)y * (size_t)img->w + (size_t)x);
                uint8_t hi = (uint8_t)(220 + next_rand(seed) % 30), lo = (uint8_t)(20 + next_rand(seed) % 20);
                p[0] = sq[j].cls == 0 ? hi : lo;
                p[1] = sq[j].cls == 1 ? hi : lo;
                p[2] = lo;
            }
    }
    return k;
}

static yq_status mkdir_ok(const char *p) {
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return yq_fail(YQ_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
    return YQ_OK;
}

void yq_synthetic_set_free(yq_synthetic_set *s) {
    free(s->dir);
    free(s->model);
    free(s->calib);
    free(s->ann);
    free(s->images);
    memset(s, 0, sizeof *s);
}

yq_status yq_synthetic_build(const char *dir, yq_synthetic_set *set) {
    memset(set, 0, sizeof *set);
    const int neval = 24, ncalib = 16;
    /* the parent (run dir) may not exist yet */
    char *parent = strdup(dir);
    if (!parent) return YQ_ERR_NOMEM;
    for (char *s = parent + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            yq_status st = mkdir_ok(parent);
            *s = '/';
            if (st != YQ_OK) {
                free(parent);
                return st;
            }
        }
    free(parent);
    YQ_TRY(mkdir_ok(dir));
    set->dir = strdup(dir);
    if (asprintf(&set->model, "%s/synthetic-squares.onnx", dir) < 0 || asprintf(&set->calib, "%s/calib.txt", dir) < 0 ||
        asprintf(&set->ann, "%s/instances_synthetic.json", dir) < 0 || asprintf(&set->images, "%s/images", dir) < 0) {
        yq_synthetic_set_free(set);
        return yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    yq_status st = mkdir_ok(set->images);
    yq_graph *g = NULL;
    if (st == YQ_OK) st = yq_synthetic_model(&g);
    if (st == YQ_OK) st = yq_onnx_save(g, set->model);
    yq_graph_free(g);
    cJSON *doc = cJSON_CreateObject(), *imgs = cJSON_AddArrayToObject(doc, "images");
    cJSON *anns = cJSON_AddArrayToObject(doc, "annotations"), *cats = cJSON_AddArrayToObject(doc, "categories");
    static const char *const names[NCLS] = {"red square", "green square"};
    for (int c = 0; c < NCLS; c++) {
        cJSON *cat = cJSON_CreateObject();
        cJSON_AddNumberToObject(cat, "id", c + 1);
        cJSON_AddStringToObject(cat, "name", names[c]);
        cJSON_AddItemToArray(cats, cat);
    }
    char *calib_text = NULL;
    size_t calib_len = 0;
    FILE *cl = open_memstream(&calib_text, &calib_len);
    uint64_t seed = 0x5eedf00dULL;
    int ann_id = 1;
    yq_image img = {0};
    if (st == YQ_OK) st = yq_image_alloc(&img, YQ_SYNTH_SIZE, YQ_SYNTH_SIZE, 3);
    for (int i = 0; st == YQ_OK && i < neval + ncalib; i++) {
        square sq[3];
        int k = make_image(&seed, &img, sq);
        char name[64], *path = NULL;
        snprintf(name, sizeof name, "%s%04d.png", i < neval ? "val_" : "calib_", i + 1);
        if (asprintf(&path, "%s/%s", set->images, name) < 0) {
            st = YQ_ERR_NOMEM;
            break;
        }
        st = yq_image_save_png(path, &img);
        free(path);
        if (i >= neval) {
            if (cl) fprintf(cl, "images/%s\n", name);
            continue;
        }
        cJSON *im = cJSON_CreateObject();
        cJSON_AddNumberToObject(im, "id", i + 1);
        cJSON_AddStringToObject(im, "file_name", name);
        cJSON_AddNumberToObject(im, "width", YQ_SYNTH_SIZE);
        cJSON_AddNumberToObject(im, "height", YQ_SYNTH_SIZE);
        cJSON_AddItemToArray(imgs, im);
        for (int j = 0; j < k; j++) {
            double x0 = sq[j].cx * YQ_SYNTH_STRIDE + YQ_SYNTH_STRIDE / 2.0 - YQ_SYNTH_BOX / 2.0;
            double y0 = sq[j].cy * YQ_SYNTH_STRIDE + YQ_SYNTH_STRIDE / 2.0 - YQ_SYNTH_BOX / 2.0;
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", ann_id++);
            cJSON_AddNumberToObject(a, "image_id", i + 1);
            cJSON_AddNumberToObject(a, "category_id", sq[j].cls + 1);
            const double bb[4] = {x0, y0, YQ_SYNTH_BOX, YQ_SYNTH_BOX};
            cJSON_AddItemToObject(a, "bbox", cJSON_CreateDoubleArray(bb, 4));
            cJSON_AddNumberToObject(a, "area", YQ_SYNTH_BOX * YQ_SYNTH_BOX);
            cJSON_AddNumberToObject(a, "iscrowd", 0);
            cJSON_AddItemToArray(anns, a);
        }
    }
    yq_image_free(&img);
    if (cl) fclose(cl);
    if (st == YQ_OK) st = yq_json_write_atomic(set->ann, doc);
    if (st == YQ_OK) st = calib_text ? yq_write_file_atomic(set->calib, calib_text, calib_len) : YQ_ERR_NOMEM;
    free(calib_text);
    cJSON_Delete(doc);
    set->nimages = neval;
    set->ncalib = ncalib;
    if (st != YQ_OK) yq_synthetic_set_free(set);
    return st;
}
