#include "vision/yolo_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Ultralytics' class offset for class-aware NMS (max_wh): boxes of different
 * classes are moved this far apart so one NMS pass never compares them. */
#define YQ_NMS_CLASS_OFFSET 7680.0f
#define DFL_BINS 16

static const int k_strides[3] = {8, 16, 32};

const char *yq_yolo_contract_name(yq_yolo_contract c) {
    switch (c) {
    case YQ_YOLO_AUTO: return "auto";
    case YQ_YOLO_END2END: return "end2end";
    case YQ_YOLO_RAW_XYWH: return "xywh";
    case YQ_YOLO_RAW_DFL: return "dfl";
    }
    return "?";
}

int yq_yolo_contract_parse(const char *s) {
    if (!s) return -1;
    for (int c = YQ_YOLO_AUTO; c <= YQ_YOLO_RAW_DFL; c++)
        if (strcasecmp(s, yq_yolo_contract_name((yq_yolo_contract)c)) == 0) return c;
    if (strcasecmp(s, "e2e") == 0 || strcasecmp(s, "nms-free") == 0) return YQ_YOLO_END2END;
    if (strcasecmp(s, "raw") == 0 || strcasecmp(s, "raw-xywh") == 0) return YQ_YOLO_RAW_XYWH;
    if (strcasecmp(s, "raw-dfl") == 0) return YQ_YOLO_RAW_DFL;
    return -1;
}

void yq_yolo_opts_default(yq_yolo_opts *o) {
    memset(o, 0, sizeof *o);
    o->contract = YQ_YOLO_AUTO;
    o->conf = 0.25f;
    o->iou = 0.7f;
    o->max_det = 300;
    o->max_nms = 30000;
}

/* Number of anchors of the stride 8/16/32 maps for an input (feature maps are
 * ceil(side / stride), as stride-2 convolutions with padding produce). */
static int64_t anchor_count(int w, int h) {
    int64_t a = 0;
    for (int i = 0; i < 3; i++) {
        const int s = k_strides[i];
        a += (int64_t)((h + s - 1) / s) * ((w + s - 1) / s);
    }
    return a;
}

/* Square input side S (a multiple of 32) with A anchors: A = 21 * (S/32)^2; 0 if none. */
static int square_side_for_anchors(int64_t a) {
    if (a <= 0 || a % 21) return 0;
    int64_t k = (int64_t)llround(sqrt((double)(a / 21)));
    return k > 0 && k * k == a / 21 && k <= YQ_IMAGE_MAX_SIDE / 32 ? (int)(32 * k) : 0;
}

/* The DFL input size for A anchors: the given one (checked) or the inferred square. */
static yq_status dfl_input_size(const yq_yolo_opts *o, int64_t a, int *w, int *h, const char *shape) {
    if (o->input_w > 0 || o->input_h > 0) {
        int iw = o->input_w > 0 ? o->input_w : o->input_h, ih = o->input_h > 0 ? o->input_h : o->input_w;
        if (anchor_count(iw, ih) != a)
            return yq_fail(YQ_ERR_INVALID,
                           "YOLO output %s: %lld anchors, but a %dx%d input has %lld at strides 8/16/32", shape,
                           (long long)a, iw, ih, (long long)anchor_count(iw, ih));
        *w = iw, *h = ih;
        return YQ_OK;
    }
    int s = square_side_for_anchors(a);
    if (!s)
        return yq_fail(YQ_ERR_INVALID,
                       "YOLO output %s: %lld anchors is no square input at strides 8/16/32; give the input size",
                       shape, (long long)a);
    *w = *h = s;
    return YQ_OK;
}

yq_status yq_yolo_resolve(const yq_tensor *out, const yq_yolo_opts *o, yq_yolo_contract *contract, int *num_classes) {
    char shape[128];
    yq_dims_str(out->rank, out->dims, shape, sizeof shape);
    if (out->rank != 3 || out->dims[0] != 1)
        return yq_fail(YQ_ERR_UNSUPPORTED, "YOLO output %s: expected [1,K,6], [1,4+nc,A] or [1,64+nc,A]", shape);
    const int64_t d1 = out->dims[1], d2 = out->dims[2];
    const int want_nc = o->num_classes;
    yq_yolo_contract c = o->contract;
    if (c == YQ_YOLO_AUTO) {
        if (d2 == 6) c = YQ_YOLO_END2END;
        else if (want_nc > 0 && d1 == 4 + want_nc) c = YQ_YOLO_RAW_XYWH;
        else if (want_nc > 0 && d1 == 64 + want_nc) c = YQ_YOLO_RAW_DFL;
        else if (want_nc > 0)
            return yq_fail(YQ_ERR_INVALID, "YOLO output %s: %d classes need 4+%d or 64+%d channels", shape, want_nc,
                           want_nc, want_nc);
        else if (d1 == 84) c = YQ_YOLO_RAW_XYWH; /* the COCO readings first */
        else if (d1 == 144) c = YQ_YOLO_RAW_DFL;
        else if (d1 > 4 && d1 <= 64) c = YQ_YOLO_RAW_XYWH;
        else if (d1 > 64) {
            int dfl_ok = o->input_w > 0 || o->input_h > 0
                             ? anchor_count(o->input_w > 0 ? o->input_w : o->input_h,
                                            o->input_h > 0 ? o->input_h : o->input_w) == d2
                             : square_side_for_anchors(d2) > 0;
            if (!dfl_ok) c = YQ_YOLO_RAW_XYWH;
            else
                return yq_fail(YQ_ERR_INVALID,
                               "YOLO output %s: could be %lld classes with xywh boxes or %lld with DFL logits; "
                               "give the contract or the class count",
                               shape, (long long)(d1 - 4), (long long)(d1 - 64));
        } else
            return yq_fail(YQ_ERR_UNSUPPORTED, "YOLO output %s: not a YOLO detection output", shape);
    }
    int64_t nc;
    switch (c) {
    case YQ_YOLO_END2END:
        if (d2 != 6)
            return yq_fail(YQ_ERR_INVALID, "YOLO output %s: the end-to-end contract needs [1,K,6]", shape);
        nc = want_nc > 0 ? want_nc : 0; /* not encoded in the shape */
        break;
    case YQ_YOLO_RAW_XYWH: nc = d1 - 4; break;
    case YQ_YOLO_RAW_DFL: nc = d1 - 64; break;
    default: return yq_fail(YQ_ERR_ARG, "YOLO output %s: unknown contract %d", shape, (int)c);
    }
    if (c != YQ_YOLO_END2END) {
        if (nc < 1) return yq_fail(YQ_ERR_INVALID, "YOLO output %s: no class channels for the %s contract", shape,
                                   yq_yolo_contract_name(c));
        if (want_nc > 0 && nc != want_nc)
            return yq_fail(YQ_ERR_INVALID, "YOLO output %s: %lld class channels, expected %d", shape, (long long)nc,
                           want_nc);
        if (d2 < 1) return yq_fail(YQ_ERR_INVALID, "YOLO output %s: no anchors", shape);
        if (nc > 1000000 || d2 > 100000000) return yq_fail(YQ_ERR_LIMIT, "YOLO output %s: too large", shape);
    }
    *contract = c;
    *num_classes = (int)nc;
    return YQ_OK;
}

/* ---- NMS ------------------------------------------------------------------- */

typedef struct score_idx {
    float score;
    int idx;
} score_idx;

/* score descending, then index ascending: a total order, so qsort gives what a
 * stable descending sort gives (NaN sorts last). */
static int cmp_score_desc(const void *a, const void *b) {
    const score_idx *x = a, *y = b;
    const int xn = isnan(x->score), yn = isnan(y->score);
    if (xn != yn) return xn - yn;
    if (!xn && x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int yq_nms(const float *boxes, const float *scores, int n, float iou_thr, int max_keep, int *keep) {
    if (n <= 0 || max_keep <= 0) return 0;
    score_idx *order = yq_malloc(sizeof *order * (size_t)n);
    float *areas = yq_malloc(sizeof(float) * (size_t)n);
    unsigned char *suppressed = yq_calloc((size_t)n, 1);
    if (!order || !areas || !suppressed) {
        free(order);
        free(areas);
        free(suppressed);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        order[i].score = scores[i];
        order[i].idx = i;
        const float *b = boxes + 4 * (size_t)i;
        areas[i] = (b[2] - b[0]) * (b[3] - b[1]);
    }
    qsort(order, (size_t)n, sizeof *order, cmp_score_desc);
    int kept = 0;
    for (int oi = 0; oi < n && kept < max_keep; oi++) {
        const int i = order[oi].idx;
        if (suppressed[i]) continue;
        keep[kept++] = i;
        const float *bi = boxes + 4 * (size_t)i;
        const float ix1 = bi[0], iy1 = bi[1], ix2 = bi[2], iy2 = bi[3], iarea = areas[i];
        for (int oj = oi + 1; oj < n; oj++) {
            const int j = order[oj].idx;
            if (suppressed[j]) continue;
            const float *bj = boxes + 4 * (size_t)j;
            const float xx1 = fmaxf(ix1, bj[0]), yy1 = fmaxf(iy1, bj[1]);
            const float xx2 = fminf(ix2, bj[2]), yy2 = fminf(iy2, bj[3]);
            const float w = fmaxf(0.f, xx2 - xx1), h = fmaxf(0.f, yy2 - yy1);
            const float inter = w * h;
            const float iou = inter / (iarea + areas[j] - inter);
            if (iou > iou_thr) suppressed[j] = 1;
        }
    }
    free(order);
    free(areas);
    free(suppressed);
    return kept;
}

/* ---- decoding ---------------------------------------------------------------- */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static yq_status decode_end2end(const float *data, int64_t k, const yq_yolo_opts *o, yq_det **dets, int *n_dets) {
    int cap = (int)(k < o->max_det ? k : o->max_det), n = 0;
    yq_det *d = cap > 0 ? yq_malloc(sizeof *d * (size_t)cap) : NULL;
    if (cap > 0 && !d) return YQ_ERR_NOMEM;
    for (int64_t r = 0; r < k && n < cap; r++) {
        const float *row = data + 6 * r;
        if (!(row[4] > o->conf)) continue;
        const float cls = row[5];
        if (!isfinite(cls) || cls < 0.f || cls > 1e6f) {
            free(d);
            return yq_fail(YQ_ERR_INVALID, "end-to-end YOLO output row %lld: class %g is not a class index",
                           (long long)r, (double)cls);
        }
        d[n].x1 = row[0];
        d[n].y1 = row[1];
        d[n].x2 = row[2];
        d[n].y2 = row[3];
        d[n].score = row[4];
        d[n].cls = (int)lrintf(cls);
        n++;
    }
    if (n == 0) {
        free(d);
        d = NULL;
    }
    *dets = d;
    *n_dets = n;
    return YQ_OK;
}

/* Softmax expectation over 16 DFL bins whose logits are `stride` floats apart. */
static float dfl_expectation(const float *logits, int64_t stride) {
    float mx = logits[0];
    for (int i = 1; i < DFL_BINS; i++) mx = fmaxf(mx, logits[i * stride]);
    float sum = 0.f, acc = 0.f;
    for (int i = 0; i < DFL_BINS; i++) {
        const float e = expf(logits[i * stride] - mx);
        sum += e;
        acc += e * (float)i;
    }
    return acc / sum;
}

/* Anchor point and stride of anchor index a for a w x h input. */
static void anchor_of(int64_t a, int w, int h, float *ax, float *ay, float *stride) {
    for (int i = 0; i < 3; i++) {
        const int s = k_strides[i], gw = (w + s - 1) / s, gh = (h + s - 1) / s;
        const int64_t cells = (int64_t)gw * gh;
        if (a < cells || i == 2) {
            *ax = (float)(a % gw) + 0.5f;
            *ay = (float)(a / gw) + 0.5f;
            *stride = (float)s;
            return;
        }
        a -= cells;
    }
}

typedef struct candidate {
    float score;
    int cls;
    int64_t anchor;
} candidate;

static int cmp_candidate(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->anchor > y->anchor) - (x->anchor < y->anchor);
}

static yq_status decode_raw(const float *data, int64_t a_count, int nc, yq_yolo_contract contract,
                            const yq_yolo_opts *o, const char *shape, yq_det **dets, int *n_dets) {
    const int box_ch = contract == YQ_YOLO_RAW_DFL ? 4 * DFL_BINS : 4;
    int in_w = 0, in_h = 0;
    if (contract == YQ_YOLO_RAW_DFL) YQ_TRY(dfl_input_size(o, a_count, &in_w, &in_h, shape));

    /* Best class per anchor, scanning channel-major for sequential memory access;
     * the first maximum wins ties, as torch.max does. */
    float *best = yq_malloc(sizeof(float) * (size_t)a_count);
    int *best_cls = yq_calloc((size_t)a_count, sizeof(int));
    candidate *cand = NULL;
    float *boxes = NULL, *off_boxes = NULL, *scores = NULL;
    int *keep = NULL;
    yq_det *d = NULL;
    yq_status st = YQ_OK;
    if (!best || !best_cls) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    memcpy(best, data + (int64_t)box_ch * a_count, sizeof(float) * (size_t)a_count);
    for (int c = 1; c < nc; c++) {
        const float *ch = data + (int64_t)(box_ch + c) * a_count;
        for (int64_t a = 0; a < a_count; a++)
            if (ch[a] > best[a]) {
                best[a] = ch[a];
                best_cls[a] = c;
            }
    }
    /* DFL heads give logits; sigmoid is monotonic, so the best logit is the best score. */
    if (contract == YQ_YOLO_RAW_DFL)
        for (int64_t a = 0; a < a_count; a++) best[a] = sigmoidf(best[a]);
    int64_t n = 0;
    for (int64_t a = 0; a < a_count; a++) n += best[a] > o->conf;
    if (n == 0) goto done;
    cand = yq_malloc(sizeof *cand * (size_t)n);
    if (!cand) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    n = 0;
    for (int64_t a = 0; a < a_count; a++)
        if (best[a] > o->conf) cand[n++] = (candidate){best[a], best_cls[a], a};
    /* Pre-NMS top-k only when there are too many (Ultralytics sorts only then). */
    if (n > o->max_nms) {
        qsort(cand, (size_t)n, sizeof *cand, cmp_candidate);
        n = o->max_nms;
    }
    boxes = yq_malloc(sizeof(float) * 4 * (size_t)n);
    off_boxes = yq_malloc(sizeof(float) * 4 * (size_t)n);
    scores = yq_malloc(sizeof(float) * (size_t)n);
    keep = yq_malloc(sizeof(int) * (size_t)n);
    if (!boxes || !off_boxes || !scores || !keep) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t a = cand[i].anchor;
        float *b = boxes + 4 * i;
        if (contract == YQ_YOLO_RAW_XYWH) {
            const float cx = data[a], cy = data[a_count + a];
            const float hw = data[2 * a_count + a] / 2, hh = data[3 * a_count + a] / 2;
            b[0] = cx - hw;
            b[1] = cy - hh;
            b[2] = cx + hw;
            b[3] = cy + hh;
        } else {
            float ax, ay, stride, dist[4];
            anchor_of(a, in_w, in_h, &ax, &ay, &stride);
            for (int side = 0; side < 4; side++)
                dist[side] = dfl_expectation(data + (int64_t)side * DFL_BINS * a_count + a, a_count);
            b[0] = (ax - dist[0]) * stride;
            b[1] = (ay - dist[1]) * stride;
            b[2] = (ax + dist[2]) * stride;
            b[3] = (ay + dist[3]) * stride;
        }
        const float off = o->agnostic ? 0.f : (float)cand[i].cls * YQ_NMS_CLASS_OFFSET;
        for (int k = 0; k < 4; k++) off_boxes[4 * i + k] = b[k] + off;
        scores[i] = cand[i].score;
    }
    int kept = yq_nms(off_boxes, scores, (int)n, o->iou, o->max_det, keep);
    if (kept < 0) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    if (kept > 0 && !(d = yq_malloc(sizeof *d * (size_t)kept))) {
        st = YQ_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < kept; i++) {
        const int k = keep[i];
        d[i] = (yq_det){boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3], scores[k], cand[k].cls};
    }
    *n_dets = kept;
done:
    *dets = d;
    if (st != YQ_OK) {
        free(d);
        *dets = NULL;
        *n_dets = 0;
    }
    free(best);
    free(best_cls);
    free(cand);
    free(boxes);
    free(off_boxes);
    free(scores);
    free(keep);
    return st;
}

yq_status yq_yolo_decode(const yq_tensor *out, const yq_yolo_opts *opts, yq_det **dets, int *n_dets) {
    *dets = NULL;
    *n_dets = 0;
    yq_yolo_opts o;
    if (opts) o = *opts;
    else yq_yolo_opts_default(&o);
    if (o.max_det < 1) return yq_fail(YQ_ERR_ARG, "YOLO decode: max_det must be >= 1 (got %d)", o.max_det);
    if (o.max_nms < 1) return yq_fail(YQ_ERR_ARG, "YOLO decode: max_nms must be >= 1 (got %d)", o.max_nms);
    if (!(o.iou >= 0.f && o.iou <= 1.f)) return yq_fail(YQ_ERR_ARG, "YOLO decode: IoU threshold %g not in [0,1]", o.iou);
    if (isnan(o.conf)) return yq_fail(YQ_ERR_ARG, "YOLO decode: confidence threshold is NaN");
    if (out->dtype != YQ_DT_FLOAT && out->dtype != YQ_DT_FLOAT16)
        return yq_fail(YQ_ERR_UNSUPPORTED, "YOLO output: %s data (float or float16 expected)", yq_dtype_name(out->dtype));
    if (!out->data) return yq_fail(YQ_ERR_ARG, "YOLO output: no data");
    yq_yolo_contract contract;
    int nc;
    YQ_TRY(yq_yolo_resolve(out, &o, &contract, &nc));
    char shape[128];
    yq_dims_str(out->rank, out->dims, shape, sizeof shape);

    const int64_t numel = yq_tensor_numel(out);
    const float *data = out->data;
    float *converted = NULL;
    if (out->dtype == YQ_DT_FLOAT16) {
        converted = yq_malloc(sizeof(float) * (size_t)numel);
        if (!converted) return YQ_ERR_NOMEM;
        const uint16_t *h = out->data;
        for (int64_t i = 0; i < numel; i++) converted[i] = yq_f16_to_f32(h[i]);
        data = converted;
    }
    yq_status st;
    if (contract == YQ_YOLO_END2END) st = decode_end2end(data, out->dims[1], &o, dets, n_dets);
    else st = decode_raw(data, out->dims[2], nc, contract, &o, shape, dets, n_dets);
    free(converted);
    return st;
}

void yq_dets_unletterbox(yq_det *dets, int n, const yq_letterbox *lb) {
    const float w = (float)lb->src_w, h = (float)lb->src_h;
    for (int i = 0; i < n; i++) {
        yq_det *d = &dets[i];
        d->x1 = fminf(fmaxf(yq_letterbox_unmap_x(lb, d->x1), 0.f), w);
        d->x2 = fminf(fmaxf(yq_letterbox_unmap_x(lb, d->x2), 0.f), w);
        d->y1 = fminf(fmaxf(yq_letterbox_unmap_y(lb, d->y1), 0.f), h);
        d->y2 = fminf(fmaxf(yq_letterbox_unmap_y(lb, d->y2), 0.f), h);
    }
}
