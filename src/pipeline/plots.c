/* Pictures of a run bundle (see plots.h). */
#include "pipeline/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "vision/draw.h"

static yq_status save_and_free(const char *path, yq_image *img, yq_status st) {
    if (st == YQ_OK) st = yq_image_save_png(path, img);
    yq_image_free(img);
    return st;
}

yq_status yq_plot_accuracy_vs_size(const char *path, const char *const *labels, const double *mbytes,
                                   const double *map, int n) {
    yq_chart_point *pts = calloc((size_t)(n > 0 ? n : 1), sizeof *pts);
    if (!pts) return YQ_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(mbytes[i]) && isfinite(map[i])) pts[k++] = (yq_chart_point){mbytes[i], map[i], labels[i]};
    yq_image img = {0};
    yq_status st = yq_chart_scatter("Accuracy vs model size", "weights (MB)", "COCO mAP50-95", pts, k, &img);
    free(pts);
    return save_and_free(path, &img, st);
}

typedef struct layer_val {
    const char *name;
    double v;
    int index;
} layer_val;

static int collect_layers(const cJSON *report, layer_val **out) {
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(report, "layers");
    int n = cJSON_GetArraySize(layers), k = 0;
    layer_val *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    if (!v) return -1;
    const cJSON *l;
    cJSON_ArrayForEach(l, layers) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(l, "name");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(l, "output_sqnr_db");
        v[k].name = cJSON_IsString(name) ? name->valuestring : "?";
        v[k].v = cJSON_IsNumber(sq) ? sq->valuedouble : NAN;
        v[k].index = k;
        k++;
    }
    *out = v;
    return k;
}

static yq_status bars(const char *path, const char *title, const layer_val *v, int n) {
    const char **labels = calloc((size_t)(n > 0 ? n : 1), sizeof *labels);
    double *vals = calloc((size_t)(n > 0 ? n : 1), sizeof *vals);
    yq_status st = labels && vals ? YQ_OK : YQ_ERR_NOMEM;
    for (int i = 0; st == YQ_OK && i < n; i++) {
        labels[i] = v[i].name;
        vals[i] = v[i].v;
    }
    yq_image img = {0};
    if (st == YQ_OK) st = yq_chart_bars(title, "output SQNR (dB), higher is better", labels, vals, n, &img);
    free(labels);
    free(vals);
    return save_and_free(path, &img, st);
}

yq_status yq_plot_layer_sqnr(const char *path, const char *title, const cJSON *report) {
    layer_val *v = NULL;
    int n = collect_layers(report, &v);
    if (n < 0) return YQ_ERR_NOMEM;
    yq_status st = bars(path, title, v, n);
    free(v);
    return st;
}

/* Lowest SQNR first; n/a last; ties by layer order (deterministic). */
static int by_sqnr(const void *a, const void *b) {
    const layer_val *x = a, *y = b;
    int xn = isnan(x->v), yn = isnan(y->v);
    if (xn != yn) return xn - yn;
    if (!xn && x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->index - y->index;
}

yq_status yq_plot_sensitivity(const char *path, const char *title, const cJSON *report, int topn) {
    layer_val *v = NULL;
    int n = collect_layers(report, &v);
    if (n < 0) return YQ_ERR_NOMEM;
    qsort(v, (size_t)n, sizeof *v, by_sqnr);
    yq_status st = bars(path, title, v, n < topn ? n : topn);
    free(v);
    return st;
}

/* Copy src (1, 3 or 4 channels) into the RGB image dst at (x0, y0). */
static void blit(yq_image *dst, const yq_image *src, int x0, int y0) {
    for (int y = 0; y < src->h && y0 + y < dst->h; y++)
        for (int x = 0; x < src->w && x0 + x < dst->w; x++) {
            const uint8_t *s = src->px + ((size_t)y * (size_t)src->w + (size_t)x) * (size_t)src->c;
            uint8_t *d = dst->px + ((size_t)(y0 + y) * (size_t)dst->w + (size_t)(x0 + x)) * 3;
            d[0] = s[0];
            d[1] = src->c >= 3 ? s[1] : s[0];
            d[2] = src->c >= 3 ? s[2] : s[0];
        }
}

static yq_status drawn_copy(const yq_image *img, const yq_det *d, int n, const char *const *names, int nnames,
                            yq_image *out) {
    YQ_TRY(yq_image_alloc(out, img->w, img->h, 3));
    blit(out, img, 0, 0);
    return yq_draw_detections(out, d, n, names, nnames);
}

/* Nearest-neighbour enlargement by an integer factor, boxes scaled alike. */
static yq_status enlarge(const yq_image *src, int f, yq_image *dst) {
    YQ_TRY(yq_image_alloc(dst, src->w * f, src->h * f, 3));
    for (int y = 0; y < dst->h; y++)
        for (int x = 0; x < dst->w; x++) {
            const uint8_t *s = src->px + ((size_t)(y / f) * (size_t)src->w + (size_t)(x / f)) * (size_t)src->c;
            uint8_t *d = dst->px + ((size_t)y * (size_t)dst->w + (size_t)x) * 3;
            d[0] = s[0];
            d[1] = src->c >= 3 ? s[1] : s[0];
            d[2] = src->c >= 3 ? s[2] : s[0];
        }
    return YQ_OK;
}

static yq_det *scaled(const yq_det *d, int n, int f) {
    yq_det *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) return NULL;
    for (int i = 0; i < n; i++) {
        o[i] = d[i];
        o[i].x1 *= (float)f;
        o[i].y1 *= (float)f;
        o[i].x2 *= (float)f;
        o[i].y2 *= (float)f;
    }
    return o;
}

yq_status yq_plot_detections_pair(const char *path, const yq_image *src, const yq_det *da, int na, const char *label_a,
                                  const yq_det *db, int nb, const char *label_b, const char *const *names,
                                  int nnames) {
    /* small images are enlarged so that labels stay readable */
    const int f = src->w < 320 ? (320 + src->w - 1) / src->w : 1;
    yq_image big = {0};
    yq_det *a = scaled(da, na, f), *b = scaled(db, nb, f);
    yq_status st = a && b ? enlarge(src, f, &big) : YQ_ERR_NOMEM;
    const yq_image *img = &big;
    char cap_a[160], cap_b[160];
    snprintf(cap_a, sizeof cap_a, "%s: %d detections", label_a, na);
    snprintf(cap_b, sizeof cap_b, "%s: %d detections", label_b, nb);
    int scale = 2;
    if (st == YQ_OK && (yq_text_width(cap_a, 2) > img->w - 8 || yq_text_width(cap_b, 2) > img->w - 8)) scale = 1;
    const int gap = 8, head = yq_text_height(scale) + 12;
    yq_image left = {0}, right = {0}, out = {0};
    if (st == YQ_OK) st = drawn_copy(img, a, na, names, nnames, &left);
    if (st == YQ_OK) st = drawn_copy(img, b, nb, names, nnames, &right);
    if (st == YQ_OK) st = yq_image_alloc(&out, 2 * img->w + gap, img->h + head, 3);
    if (st == YQ_OK) {
        memset(out.px, 255, (size_t)out.w * (size_t)out.h * 3);
        blit(&out, &left, 0, head);
        blit(&out, &right, img->w + gap, head);
        const yq_rgb black = {0, 0, 0};
        yq_draw_text(&out, 4, 6, cap_a, scale, black);
        yq_draw_text(&out, img->w + gap + 4, 6, cap_b, scale, black);
    }
    yq_image_free(&left);
    yq_image_free(&right);
    yq_image_free(&big);
    free(a);
    free(b);
    return save_and_free(path, &out, st);
}
