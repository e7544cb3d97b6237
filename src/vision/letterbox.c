/* Letterbox and OpenCV-exact bilinear resize (see letterbox.h for the contract).
 *
 * How OpenCV 4.x resizes an 8-bit image with INTER_LINEAR (what we reproduce):
 *  - same size: plain copy.
 *  - inv_scale = dst/src (double), scale = 1/inv_scale. When both scales are
 *    exactly 2, INTER_LINEAR is switched to the INTER_AREA fast path, a 2x2 box
 *    filter computing (a + b + c + d + 2) >> 2.
 *  - otherwise, per output column dx: fx = (float)((dx + 0.5) * scale_x - 0.5),
 *    sx = floor(fx), fx -= sx; columns left of the image clamp to (sx=0, fx=0),
 *    columns whose right tap falls outside use the last tap alone. The weights
 *    (1-fx, fx) become int16 by rounding w * 2048 (INTER_RESIZE_COEF_BITS = 11).
 *    Rows: the same with fy, without clamping the weights; the two source rows
 *    are clamped into the image instead.
 *  - horizontal pass: r = S[sx]*a0 + S[sx+cn]*a1 in int32 (exact).
 *  - vertical pass: every value (SIMD body and scalar tail alike) is
 *        ((((r0 >> 4) * b0) >> 16) + (((r1 >> 4) * b1) >> 16) + 2) >> 2
 *    i.e. 16-bit high multiplies that truncate, NOT the exactly rounded
 *    (r0*b0 + r1*b1 + 2^21) >> 22; the two differ by 1 on ~10% of values. */
#include "vision/letterbox.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COEF_BITS 11
#define COEF_SCALE (1 << COEF_BITS)

/* Python's round() for the non-negative doubles used here: nearest, ties to even.
 * nearbyint() does exactly that in the default rounding mode. */
static double py_round(double v) { return nearbyint(v); }

yq_status yq_letterbox_plan(int src_w, int src_h, int dst_w, int dst_h, yq_letterbox *lb) {
    memset(lb, 0, sizeof *lb);
    if (src_w <= 0 || src_h <= 0) return yq_fail(YQ_ERR_ARG, "letterbox: empty source image %dx%d", src_w, src_h);
    if (dst_w <= 0 || dst_h <= 0 || dst_w > YQ_IMAGE_MAX_SIDE || dst_h > YQ_IMAGE_MAX_SIDE)
        return yq_fail(YQ_ERR_ARG, "letterbox: invalid target size %dx%d", dst_w, dst_h);
    /* r = min(new_shape[0] / shape[0], new_shape[1] / shape[1]) with shape = (h, w) */
    double r = fmin((double)dst_h / src_h, (double)dst_w / src_w);
    int new_w = (int)py_round(src_w * r), new_h = (int)py_round(src_h * r);
    if (new_w < 1 || new_h < 1)
        return yq_fail(YQ_ERR_ARG, "letterbox: %dx%d image shrinks to nothing at %dx%d", src_w, src_h, dst_w, dst_h);
    double dw = (dst_w - new_w) / 2.0, dh = (dst_h - new_h) / 2.0;
    lb->src_w = src_w;
    lb->src_h = src_h;
    lb->dst_w = dst_w;
    lb->dst_h = dst_h;
    lb->new_w = new_w;
    lb->new_h = new_h;
    lb->ratio = r;
    lb->pad_top = (int)py_round(dh - 0.1);
    lb->pad_bottom = (int)py_round(dh + 0.1);
    lb->pad_left = (int)py_round(dw - 0.1);
    lb->pad_right = (int)py_round(dw + 0.1);
    if (lb->pad_left + new_w + lb->pad_right != dst_w || lb->pad_top + new_h + lb->pad_bottom != dst_h)
        return yq_fail(YQ_ERR_INTERNAL, "letterbox: pads do not add up for %dx%d -> %dx%d", src_w, src_h, dst_w, dst_h);
    return YQ_OK;
}

/* ---- OpenCV INTER_LINEAR coefficient tables -------------------------------- */

static int16_t coef_to_fixed(float w) {
    /* saturate_cast<short>(w * INTER_RESIZE_COEF_SCALE): float product, round half to even */
    long v = lrintf(w * (float)COEF_SCALE);
    return (int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
}

typedef struct linear_plan {
    int sw, sh, dw, dh, cn;
    int *xofs;        /* per output column: source column of the left tap (pixels) */
    int16_t *alpha;   /* per output column: 2 weights */
    int xmax;         /* columns >= xmax use the left tap alone (x 2048) */
    int *yofs;        /* per output row: source row of the top tap, unclamped */
    int16_t *beta;    /* per output row: 2 weights */
} linear_plan;

static void linear_plan_free(linear_plan *p) {
    free(p->xofs);
    free(p->alpha);
    free(p->yofs);
    free(p->beta);
    memset(p, 0, sizeof *p);
}

static yq_status linear_plan_make(int sw, int sh, int dw, int dh, int cn, linear_plan *p) {
    memset(p, 0, sizeof *p);
    p->sw = sw, p->sh = sh, p->dw = dw, p->dh = dh, p->cn = cn;
    p->xofs = yq_malloc(sizeof(int) * (size_t)dw);
    p->alpha = yq_malloc(sizeof(int16_t) * 2 * (size_t)dw);
    p->yofs = yq_malloc(sizeof(int) * (size_t)dh);
    p->beta = yq_malloc(sizeof(int16_t) * 2 * (size_t)dh);
    if (!p->xofs || !p->alpha || !p->yofs || !p->beta) {
        linear_plan_free(p);
        return YQ_ERR_NOMEM;
    }
    const double scale_x = 1.0 / ((double)dw / sw), scale_y = 1.0 / ((double)dh / sh);
    p->xmax = dw;
    for (int dx = 0; dx < dw; dx++) {
        float fx = (float)((dx + 0.5) * scale_x - 0.5);
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 0) fx = 0.f, sx = 0;
        if (sx + 1 >= sw) {
            if (dx < p->xmax) p->xmax = dx;
            if (sx >= sw - 1) fx = 0.f, sx = sw - 1;
        }
        p->xofs[dx] = sx;
        p->alpha[2 * dx] = coef_to_fixed(1.f - fx);
        p->alpha[2 * dx + 1] = coef_to_fixed(fx);
    }
    for (int dy = 0; dy < dh; dy++) {
        float fy = (float)((dy + 0.5) * scale_y - 0.5);
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        p->yofs[dy] = sy;
        p->beta[2 * dy] = coef_to_fixed(1.f - fy);
        p->beta[2 * dy + 1] = coef_to_fixed(fy);
    }
    return YQ_OK;
}

static inline int clamp_row(int y, int h) { return y < 0 ? 0 : y >= h ? h - 1 : y; }

/* One output value, OpenCV's VResizeLinear for 8-bit: the horizontal results r
 * enter as q = r >> 4 (int16; at most 32655, so OpenCV's saturating pack never
 * clips), then the high halves of the 16x16-bit products, then +2 >> 2.
 * Written in int16 steps so that the compiler can use pmulhw like OpenCV does. */
static inline uint8_t vertical_lerp(int q0, int q1, int b0, int b1) {
    const int16_t m0 = (int16_t)((q0 * b0) >> 16), m1 = (int16_t)((q1 * b1) >> 16);
    const int16_t v = (int16_t)((int16_t)(m0 + m1 + 2) >> 2);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* A whole output row, in fixed blocks of 16 that -O2 vectorises without an
 * epilogue, then the tail. */
static void vertical_row(const int16_t *restrict q0, const int16_t *restrict q1, uint8_t *restrict d, int width,
                         int b0, int b1) {
    int x = 0;
    for (; x + 16 <= width; x += 16)
        for (int i = 0; i < 16; i++) d[x + i] = vertical_lerp(q0[x + i], q1[x + i], b0, b1);
    for (; x < width; x++) d[x] = vertical_lerp(q0[x], q1[x], b0, b1);
}

/* Horizontal pass of one source row into `out` (dw*cn values, stored >> 4 as
 * the vertical pass consumes them). */
static void hresize_row(const linear_plan *p, const uint8_t *src_row, int16_t *out) {
    const int cn = p->cn;
    int dx = 0;
    if (cn == 3) {
        for (; dx < p->xmax; dx++) {
            const uint8_t *s = src_row + 3 * p->xofs[dx];
            const int a0 = p->alpha[2 * dx], a1 = p->alpha[2 * dx + 1];
            out[3 * dx + 0] = (int16_t)((s[0] * a0 + s[3] * a1) >> 4);
            out[3 * dx + 1] = (int16_t)((s[1] * a0 + s[4] * a1) >> 4);
            out[3 * dx + 2] = (int16_t)((s[2] * a0 + s[5] * a1) >> 4);
        }
    } else {
        for (; dx < p->xmax; dx++) {
            const uint8_t *s = src_row + cn * p->xofs[dx];
            const int a0 = p->alpha[2 * dx], a1 = p->alpha[2 * dx + 1];
            for (int k = 0; k < cn; k++) out[cn * dx + k] = (int16_t)((s[k] * a0 + s[k + cn] * a1) >> 4);
        }
    }
    for (; dx < p->dw; dx++) {
        const uint8_t *s = src_row + cn * p->xofs[dx];
        for (int k = 0; k < cn; k++) out[cn * dx + k] = (int16_t)((s[k] * COEF_SCALE) >> 4);
    }
}

/* Resize src (sw x sh x cn, tightly packed) into dst rows of dst_stride bytes. */
static yq_status resize_linear_fast(const uint8_t *src, int sw, int sh, int cn, uint8_t *dst, size_t dst_stride,
                                    int dw, int dh) {
    const size_t src_stride = (size_t)sw * cn;
    if (dw == sw && dh == sh) {
        for (int y = 0; y < dh; y++) memcpy(dst + y * dst_stride, src + y * src_stride, src_stride);
        return YQ_OK;
    }
    if (2 * dw == sw && 2 * dh == sh) {
        /* INTER_LINEAR at exactly 1/2 is OpenCV's INTER_AREA fast path. */
        for (int y = 0; y < dh; y++) {
            const uint8_t *s0 = src + (size_t)(2 * y) * src_stride, *s1 = s0 + src_stride;
            uint8_t *d = dst + y * dst_stride;
            for (int x = 0; x < dw; x++)
                for (int k = 0; k < cn; k++) {
                    const int i = 2 * x * cn + k;
                    d[x * cn + k] = (uint8_t)((s0[i] + s0[i + cn] + s1[i] + s1[i + cn] + 2) >> 2);
                }
        }
        return YQ_OK;
    }
    linear_plan p;
    YQ_TRY(linear_plan_make(sw, sh, dw, dh, cn, &p));
    const int width = dw * cn;
    int16_t *rows = yq_malloc(sizeof(int16_t) * 2 * (size_t)width);
    if (!rows) {
        linear_plan_free(&p);
        return YQ_ERR_NOMEM;
    }
    /* Two horizontal-pass buffers for the top and bottom tap. Source rows only
     * move down as dy grows, so the old bottom row is often the new top one. */
    int16_t *buf[2] = {rows, rows + width};
    int buf_row[2] = {-1, -1};
    for (int dy = 0; dy < dh; dy++) {
        for (int k = 0; k < 2; k++) {
            const int want = clamp_row(p.yofs[dy] + k, sh);
            if (buf_row[k] == want) continue;
            if (k == 0 && buf_row[1] == want) {
                int16_t *t = buf[0];
                buf[0] = buf[1], buf[1] = t;
                buf_row[1] = buf_row[0], buf_row[0] = want;
                continue;
            }
            hresize_row(&p, src + (size_t)want * src_stride, buf[k]);
            buf_row[k] = want;
        }
        const int b0 = p.beta[2 * dy], b1 = p.beta[2 * dy + 1];
        vertical_row(buf[0], buf[1], dst + dy * dst_stride, width, b0, b1);
    }
    free(rows);
    linear_plan_free(&p);
    return YQ_OK;
}

static yq_status check_resize_args(const yq_image *src, int dw, int dh) {
    if (!src || !src->px || src->w <= 0 || src->h <= 0) return yq_fail(YQ_ERR_ARG, "resize: empty source image");
    if (src->c != 1 && src->c != 3 && src->c != 4)
        return yq_fail(YQ_ERR_UNSUPPORTED, "resize: %d-channel images are not supported (1, 3 or 4)", src->c);
    if (dw <= 0 || dh <= 0) return yq_fail(YQ_ERR_ARG, "resize: invalid target size %dx%d", dw, dh);
    return YQ_OK;
}

yq_status yq_resize_linear(const yq_image *src, int dw, int dh, yq_image *dst) {
    memset(dst, 0, sizeof *dst);
    YQ_TRY(check_resize_args(src, dw, dh));
    YQ_TRY(yq_image_alloc(dst, dw, dh, src->c));
    yq_status st = resize_linear_fast(src->px, src->w, src->h, src->c, dst->px, (size_t)dw * src->c, dw, dh);
    if (st != YQ_OK) yq_image_free(dst);
    return st;
}

/* The reference: every output value computed on its own straight from the
 * OpenCV formulas, no tables shared between pixels, no row cache. */
yq_status yq_resize_linear_ref(const yq_image *src, int dw, int dh, yq_image *dst) {
    memset(dst, 0, sizeof *dst);
    YQ_TRY(check_resize_args(src, dw, dh));
    YQ_TRY(yq_image_alloc(dst, dw, dh, src->c));
    const int sw = src->w, sh = src->h, cn = src->c;
    const double inv_x = (double)dw / sw, inv_y = (double)dh / sh;
    const double scale_x = 1.0 / inv_x, scale_y = 1.0 / inv_y;
    const int area2 = fabs(scale_x - 2.0) < DBL_EPSILON && fabs(scale_y - 2.0) < DBL_EPSILON;
    const int same = dw == sw && dh == sh;
    for (int dy = 0; dy < dh; dy++) {
        for (int dx = 0; dx < dw; dx++) {
            for (int k = 0; k < cn; k++) {
                uint8_t *out = &dst->px[((size_t)dy * dw + dx) * cn + k];
#define SRC(x, y) ((int)src->px[((size_t)(y) * sw + (x)) * cn + k])
                if (same) {
                    *out = (uint8_t)SRC(dx, dy);
                    continue;
                }
                if (area2) {
                    *out = (uint8_t)((SRC(2 * dx, 2 * dy) + SRC(2 * dx + 1, 2 * dy) + SRC(2 * dx, 2 * dy + 1) +
                                      SRC(2 * dx + 1, 2 * dy + 1) + 2) >> 2);
                    continue;
                }
                /* column taps */
                float fx = (float)((dx + 0.5) * scale_x - 0.5);
                int sx = (int)floorf(fx);
                fx -= (float)sx;
                int right_clamped = 0;
                if (sx < 0) fx = 0.f, sx = 0;
                if (sx + 1 >= sw) {
                    right_clamped = 1;
                    if (sx >= sw - 1) fx = 0.f, sx = sw - 1;
                }
                /* right_clamped: OpenCV's xmax is the first such column; all later ones are clamped too */
                const int a0 = coef_to_fixed(1.f - fx), a1 = coef_to_fixed(fx);
                /* row taps */
                float fy = (float)((dy + 0.5) * scale_y - 0.5);
                int sy = (int)floorf(fy);
                fy -= (float)sy;
                const int b0 = coef_to_fixed(1.f - fy), b1 = coef_to_fixed(fy);
                const int y0 = clamp_row(sy, sh), y1 = clamp_row(sy + 1, sh);
                int h0, h1;
                if (right_clamped) {
                    h0 = SRC(sx, y0) * COEF_SCALE;
                    h1 = SRC(sx, y1) * COEF_SCALE;
                } else {
                    h0 = SRC(sx, y0) * a0 + SRC(sx + 1, y0) * a1;
                    h1 = SRC(sx, y1) * a0 + SRC(sx + 1, y1) * a1;
                }
#undef SRC
                *out = vertical_lerp(h0 >> 4, h1 >> 4, b0, b1);
            }
        }
    }
    return YQ_OK;
}

/* ---- letterbox ------------------------------------------------------------- */

yq_status yq_letterbox_image(const yq_image *src, int dst_w, int dst_h, yq_image *dst, yq_letterbox *lb) {
    memset(dst, 0, sizeof *dst);
    if (!src || !src->px) return yq_fail(YQ_ERR_ARG, "letterbox: empty source image");
    if (src->c != 1 && src->c != 3 && src->c != 4)
        return yq_fail(YQ_ERR_UNSUPPORTED, "letterbox: %d-channel images are not supported", src->c);
    YQ_TRY(yq_letterbox_plan(src->w, src->h, dst_w, dst_h, lb));
    YQ_TRY(yq_image_alloc(dst, dst_w, dst_h, src->c));
    memset(dst->px, YQ_LETTERBOX_PAD, (size_t)dst_w * dst_h * src->c);
    const size_t stride = (size_t)dst_w * src->c;
    uint8_t *origin = dst->px + (size_t)lb->pad_top * stride + (size_t)lb->pad_left * src->c;
    yq_status st = resize_linear_fast(src->px, src->w, src->h, src->c, origin, stride, lb->new_w, lb->new_h);
    if (st != YQ_OK) yq_image_free(dst);
    return st;
}

static void u8_to_unit_lut(float lut[256]) {
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.0f; /* float32 division, as im /= 255 in torch */
}

yq_status yq_image_to_nchw(const yq_image *img, float *out) {
    if (!img || !img->px || img->c != 3) return yq_fail(YQ_ERR_ARG, "to_nchw: expected an RGB image");
    float lut[256];
    u8_to_unit_lut(lut);
    const size_t plane = (size_t)img->w * img->h;
    const uint8_t *p = img->px;
    for (size_t i = 0; i < plane; i++) {
        out[i] = lut[p[3 * i]];
        out[plane + i] = lut[p[3 * i + 1]];
        out[2 * plane + i] = lut[p[3 * i + 2]];
    }
    return YQ_OK;
}

yq_status yq_letterbox_nchw(const yq_image *src, int dst_w, int dst_h, float *out, yq_letterbox *lb) {
    if (!src || src->c != 3) return yq_fail(YQ_ERR_ARG, "letterbox: the model input needs an RGB image");
    yq_image boxed;
    YQ_TRY(yq_letterbox_image(src, dst_w, dst_h, &boxed, lb));
    yq_status st = yq_image_to_nchw(&boxed, out);
    yq_image_free(&boxed);
    return st;
}
