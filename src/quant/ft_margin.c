/* The ranking (margin) term of the distillation loss (see finetune.h).
 *
 * Why: YOLOv10's one-to-one head has no NMS; an object's neighbouring anchors
 * are silenced by learnt scores alone. Matching each anchor's probability to
 * the teacher's (the KL terms) does not keep that order: raising an object's
 * score raises its neighbours' too, and a duplicate at 0.2 costs the KL little
 * but ranks above other images' true positives in COCO's precision curve. This
 * term scores the order itself: for each teacher object m and each anchor n
 * whose teacher box overlaps m's at IoU > 0.5, the student must keep n below
 * m by at least the teacher's logit margin, or keep n below score 0.01:
 *
 *   h = s_n − max(s_m − (t_m − t_n), logit 0.01),   loss += max(0, h)²
 *
 * normalised by the number of objects. The floor lets a model satisfy the
 * term by lowering every score, which the KL terms must then resist; with a
 * cap C > 0 the term is instead shift-invariant (only the order counts) and
 * asks for at most C logits of margin:
 *
 *   h = (s_n − s_m) + min(t_m − t_n, C).
 *
 * Objects: anchors whose teacher score exceeds 0.1 and whose logit is the
 * largest (ties: the lower anchor index) among the anchors of the same class
 * their teacher box overlaps at IoU > 0.5. Only anchors where either model
 * scores above 0.01 take part (the rest can neither be a duplicate that
 * matters nor a neighbour that fires). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/finetune.h"

#define LOGIT_ACTIVE (-4.59512f) /* logit(0.01) */
#define LOGIT_OBJECT (-2.19722f) /* logit(0.1) */

yq_status yq_ft_grid_infer(int64_t A, int W, int H, yq_ft_grid *g) {
    memset(g, 0, sizeof *g);
    static const int strides[] = {8, 16, 32, 64};
    int64_t n = 0;
    for (int l = 0; l < 4; l++) {
        const int s = strides[l];
        if (W % s || H % s) break;
        g->stride[l] = s, g->gw[l] = W / s, g->gh[l] = H / s;
        n += (int64_t)g->gw[l] * g->gh[l];
        g->levels = l + 1;
        if (n == A && l >= 1) return YQ_OK;
    }
    memset(g, 0, sizeof *g);
    return yq_fail(YQ_ERR_UNSUPPORTED,
                   "finetune: the margin term needs the anchor grid; %lld anchors are not a grid of strides 8, 16, 32 "
                   "(64) over the %dx%d input",
                   (long long)A, W, H);
}

/* Teacher box of anchor a (x1, y1, x2, y2 in input pixels): DFL expectation
 * of each side (l, t, r, b) in strides from the anchor's cell centre. */
static void teacher_box(const float *t, int64_t A, int R, const yq_ft_grid *g, int64_t a, float box[4]) {
    int64_t base = 0;
    int l = 0;
    while (l < g->levels - 1 && a >= base + (int64_t)g->gw[l] * g->gh[l]) base += (int64_t)g->gw[l] * g->gh[l], l++;
    const int64_t cell = a - base;
    const float s = (float)g->stride[l];
    const float cx = ((float)(cell % g->gw[l]) + 0.5f) * s, cy = ((float)(cell / g->gw[l]) + 0.5f) * s;
    float dist[4];
    for (int j = 0; j < 4; j++) {
        float mx = -INFINITY;
        for (int k = 0; k < R; k++) mx = fmaxf(mx, t[((int64_t)j * R + k) * A + a]);
        double z = 0, e = 0;
        for (int k = 0; k < R; k++) {
            const double p = exp((double)(t[((int64_t)j * R + k) * A + a] - mx));
            z += p, e += p * k;
        }
        dist[j] = (float)(e / z) * s;
    }
    box[0] = cx - dist[0], box[1] = cy - dist[1], box[2] = cx + dist[2], box[3] = cy + dist[3];
}

static float iou(const float *a, const float *b) {
    const float w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (w <= 0 || h <= 0) return 0;
    const float inter = w * h;
    const float ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0;
}

/* One hinge that is active: entries of d (class plane offsets) and its value. */
typedef struct margin_pair {
    int64_t neighbour, object;
    float h;
    int floored; /* the target is the floor: no gradient to the object */
} margin_pair;

yq_status yq_ft_margin_loss(const float *s, const float *t, int64_t C, int64_t A, int R, const yq_ft_grid *g, float cap,
                            float scale, float *d, double *loss, int *objects) {
    *loss = 0;
    if (objects) *objects = 0;
    const int64_t nc = C - 4 * (int64_t)R;
    if (R < 1 || nc < 1) return YQ_OK;
    float *boxes = malloc((size_t)A * 4 * sizeof(float));
    unsigned char *have = calloc((size_t)A, 1);
    int64_t *act = malloc((size_t)A * sizeof(int64_t));
    margin_pair *pairs = NULL;
    size_t npairs = 0, cap_pairs = 0;
    yq_status st = YQ_OK;
    if (!boxes || !have || !act) {
        st = yq_fail(YQ_ERR_NOMEM, "finetune: out of memory");
        goto done;
    }
    /* The hinges are found in one pass; the normaliser (the object count) is
     * known only at its end, so they are kept and applied after it. */
    int nobj = 0;
    for (int64_t c = 0; c < nc; c++) {
        const int64_t plane = (4 * (int64_t)R + c) * A;
        const float *sc = s + plane, *tc = t + plane;
        int64_t n = 0;
        int any_obj = 0;
        for (int64_t a = 0; a < A; a++)
            if (sc[a] > LOGIT_ACTIVE || tc[a] > LOGIT_ACTIVE) {
                act[n++] = a;
                if (tc[a] > LOGIT_OBJECT) any_obj = 1;
            }
        if (!any_obj) continue;
        for (int64_t i = 0; i < n; i++)
            if (!have[act[i]]) teacher_box(t, A, R, g, act[i], boxes + act[i] * 4), have[act[i]] = 1;
        for (int64_t i = 0; i < n; i++) {
            const int64_t m = act[i];
            if (tc[m] <= LOGIT_OBJECT) continue;
            int top = 1;
            for (int64_t j = 0; j < n && top; j++) {
                const int64_t q = act[j];
                if (q == m || iou(boxes + m * 4, boxes + q * 4) <= 0.5f) continue;
                if (tc[q] > tc[m] || (tc[q] == tc[m] && q < m)) top = 0;
            }
            if (!top) continue;
            nobj++;
            for (int64_t j = 0; j < n; j++) {
                const int64_t q = act[j];
                if (q == m || iou(boxes + m * 4, boxes + q * 4) <= 0.5f) continue;
                const float want = tc[m] - tc[q]; /* the teacher's margin, >= 0 */
                const float rel = sc[m] - (cap > 0 && want > cap ? cap : want);
                const int floored = cap <= 0 && rel <= LOGIT_ACTIVE;
                const float h = sc[q] - (floored ? LOGIT_ACTIVE : rel);
                if (h <= 0) continue;
                if (npairs == cap_pairs) {
                    const size_t grown = cap_pairs ? 2 * cap_pairs : 256;
                    margin_pair *more = realloc(pairs, grown * sizeof *more);
                    if (!more) {
                        st = yq_fail(YQ_ERR_NOMEM, "finetune: out of memory");
                        goto done;
                    }
                    pairs = more, cap_pairs = grown;
                }
                pairs[npairs++] = (margin_pair){plane + q, plane + m, h, floored};
            }
        }
    }
    const double norm = nobj > 0 ? (double)nobj : 1.0;
    double sum = 0;
    for (size_t k = 0; k < npairs; k++) {
        const margin_pair *p = &pairs[k];
        sum += (double)p->h * p->h / norm;
        const float gq = (float)(scale * 2.0 * p->h / norm);
        d[p->neighbour] += gq;
        if (!p->floored) d[p->object] -= gq;
    }
    *loss = sum;
    if (objects) *objects = nobj;
done:
    free(boxes), free(have), free(act), free(pairs);
    return st;
}
