#include "report/chart.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vision/draw.h"

static const yq_rgb WHITE = {255, 255, 255}, BLACK = {20, 20, 20}, GRID = {225, 225, 225}, AXIS = {90, 90, 90},
                    BAR_POS = {52, 120, 190}, BAR_NEG = {200, 70, 60}, POINT = {200, 70, 60};
enum { SCALE = 2, MARGIN = 16 };

static void fill_image(yq_image *img, yq_rgb c) { yq_fill_rect(img, 0, 0, img->w - 1, img->h - 1, c); }

/* Bresenham line, `t` pixels thick (square brush). */
static void draw_line(yq_image *img, int x0, int y0, int x1, int y1, int t, yq_rgb c) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        yq_fill_rect(img, x0 - t / 2, y0 - t / 2, x0 - t / 2 + t - 1, y0 - t / 2 + t - 1, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

double yq_chart_nice_step(double lo, double hi, int target) {
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span)) return 1.0;
    double raw = span / (target > 0 ? target : 5);
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1.0 ? 1.0 : m <= 2.0 ? 2.0 : m <= 5.0 ? 5.0 : 10.0) * p;
}

static void format_value(char *buf, size_t n, double v) {
    double a = fabs(v);
    if (a != 0 && (a >= 1e5 || a < 1e-3))
        snprintf(buf, n, "%.2e", v);
    else if (a >= 100)
        snprintf(buf, n, "%.0f", v);
    else if (a >= 10)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.3g", v);
}

yq_status yq_chart_bars(const char *title, const char *value_label, const char *const *labels, const double *values,
                        int n, yq_image *out) {
    if (n < 1) return yq_fail(YQ_ERR_ARG, "bar chart '%s' has no bars", title ? title : "");
    int label_w = 0;
    for (int i = 0; i < n; i++) {
        int w = yq_text_width(labels[i] ? labels[i] : "", SCALE);
        if (w > label_w) label_w = w;
    }
    if (label_w > 420) label_w = 420; /* long names are clipped at the plot's edge */
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i])) {
            if (values[i] < lo) lo = values[i];
            if (values[i] > hi) hi = values[i];
        }
    if (hi == lo) hi = lo + 1;
    const int row = 8 * SCALE + 6, plot_w = 520;
    int value_w = 0; /* the widest printed value, so none runs off the right edge */
    for (int i = 0; i < n; i++) {
        char buf[32];
        if (isfinite(values[i])) format_value(buf, sizeof buf, values[i]);
        else snprintf(buf, sizeof buf, "n/a");
        int vw = yq_text_width(buf, SCALE) + 8;
        if (vw > value_w) value_w = vw;
    }
    const int top = MARGIN + 2 * (yq_text_height(SCALE) + 8);
    int w = MARGIN + label_w + 10 + plot_w + value_w + MARGIN;
    const int title_w = 2 * MARGIN + yq_text_width(title ? title : "", SCALE);
    if (w < title_w) w = title_w; /* the title is never clipped */
    int h = top + n * row + MARGIN + yq_text_height(SCALE);
    YQ_TRY(yq_image_alloc(out, w, h, 3));
    fill_image(out, WHITE);
    yq_draw_text(out, MARGIN, MARGIN, title ? title : "", SCALE, BLACK);
    if (value_label) yq_draw_text(out, MARGIN, MARGIN + yq_text_height(SCALE) + 8, value_label, SCALE, AXIS);
    int x0 = MARGIN + label_w + 10;
    int zero = x0 + (int)lround((0 - lo) / (hi - lo) * plot_w);
    for (int i = 0; i < n; i++) {
        int y = top + i * row;
        if (labels[i]) { /* long labels keep their end: layer names differ at the end */
            char text[256];
            size_t len = strlen(labels[i]), fit = (size_t)(label_w / (6 * SCALE));
            if (yq_text_width(labels[i], SCALE) > label_w && len > fit && fit > 2)
                snprintf(text, sizeof text, "..%s", labels[i] + len - (fit - 2));
            else
                snprintf(text, sizeof text, "%s", labels[i]);
            yq_draw_text(out, MARGIN, y + 2, text, SCALE, BLACK);
        }
        char buf[32];
        if (!isfinite(values[i])) {
            yq_draw_text(out, zero + 4, y + 2, "n/a", SCALE, AXIS);
            continue;
        }
        int end = x0 + (int)lround((values[i] - lo) / (hi - lo) * plot_w);
        if (end >= zero)
            yq_fill_rect(out, zero, y, end, y + row - 5, BAR_POS);
        else
            yq_fill_rect(out, end, y, zero, y + row - 5, BAR_NEG);
        format_value(buf, sizeof buf, values[i]);
        yq_draw_text(out, (end > zero ? end : zero) + 4, y + 2, buf, SCALE, BLACK);
    }
    yq_fill_rect(out, zero, top - 2, zero, top + n * row, AXIS);
    return YQ_OK;
}

typedef struct box {
    int x0, y0, x1, y1; /* inclusive pixel rectangle */
} box;

static int boxes_overlap(const box *p, const box *q) {
    return p->x0 <= q->x1 && q->x0 <= p->x1 && p->y0 <= q->y1 && q->y0 <= p->y1;
}

typedef struct axes {
    int x0, y0, x1, y1; /* plot rectangle in pixels: (x0,y1) bottom-left */
    double xlo, xhi, ylo, yhi;
} axes;

static int px_x(const axes *a, double x) { return a->x0 + (int)lround((x - a->xlo) / (a->xhi - a->xlo) * (a->x1 - a->x0)); }
static int px_y(const axes *a, double y) { return a->y1 - (int)lround((y - a->ylo) / (a->yhi - a->ylo) * (a->y1 - a->y0)); }

static void range_of(const double *v, int n, int stride, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double x = v[(size_t)i * (size_t)stride];
        if (!isfinite(x)) continue;
        if (x < *lo) *lo = x;
        if (x > *hi) *hi = x;
    }
    if (!isfinite(*lo)) *lo = 0, *hi = 1;
    double pad = (*hi - *lo) * 0.08;
    if (pad == 0) pad = fabs(*lo) * 0.1 + 1e-3;
    *lo -= pad, *hi += pad;
}

/* Axes with grid, ticks and labels on a fresh white image. */
static yq_status draw_axes(const char *title, const char *xl, const char *yl, double xlo, double xhi, double ylo,
                           double yhi, yq_image *out, axes *a) {
    const int w = 760, h = 520;
    YQ_TRY(yq_image_alloc(out, w, h, 3));
    fill_image(out, WHITE);
    *a = (axes){.x0 = 90, .y0 = 72, .x1 = w - 30, .y1 = h - 60, .xlo = xlo, .xhi = xhi, .ylo = ylo, .yhi = yhi};
    yq_draw_text(out, MARGIN, MARGIN, title ? title : "", SCALE, BLACK);
    double sx = yq_chart_nice_step(xlo, xhi, 6), sy = yq_chart_nice_step(ylo, yhi, 6);
    char buf[32];
    for (double t = ceil(xlo / sx) * sx; t <= xhi + 1e-12; t += sx) {
        int x = px_x(a, t);
        yq_fill_rect(out, x, a->y0, x, a->y1, GRID);
        format_value(buf, sizeof buf, fabs(t) < sx * 1e-9 ? 0.0 : t);
        yq_draw_text(out, x - yq_text_width(buf, SCALE) / 2, a->y1 + 8, buf, SCALE, AXIS);
    }
    for (double t = ceil(ylo / sy) * sy; t <= yhi + 1e-12; t += sy) {
        int y = px_y(a, t);
        yq_fill_rect(out, a->x0, y, a->x1, y, GRID);
        format_value(buf, sizeof buf, fabs(t) < sy * 1e-9 ? 0.0 : t);
        yq_draw_text(out, a->x0 - 6 - yq_text_width(buf, SCALE), y - 7, buf, SCALE, AXIS);
    }
    yq_draw_rect(out, a->x0, a->y0, a->x1, a->y1, 1, AXIS);
    if (xl) yq_draw_text(out, (a->x0 + a->x1 - yq_text_width(xl, SCALE)) / 2, h - 24, xl, SCALE, BLACK);
    if (yl) yq_draw_text(out, MARGIN, a->y0 - 22, yl, SCALE, BLACK);
    return YQ_OK;
}

yq_status yq_chart_scatter(const char *title, const char *x_label, const char *y_label, const yq_chart_point *pts,
                           int n, yq_image *out) {
    if (n < 1) return yq_fail(YQ_ERR_ARG, "scatter chart '%s' has no points", title ? title : "");
    double xlo, xhi, ylo, yhi;
    range_of(&pts[0].x, n, (int)(sizeof *pts / sizeof(double)), &xlo, &xhi);
    range_of(&pts[0].y, n, (int)(sizeof *pts / sizeof(double)), &ylo, &yhi);
    axes a;
    YQ_TRY(draw_axes(title, x_label, y_label, xlo, xhi, ylo, yhi, out, &a));
    /* Markers first, then labels, each at the first of eight places around its point that
     * stays inside the plot and clears every marker and every label placed before it
     * (points of similar size and accuracy sit close together: fp16/fp32, w8a16/w8a8). */
    box *taken = calloc((size_t)2 * (size_t)n, sizeof *taken);
    if (!taken) return yq_fail(YQ_ERR_NOMEM, "out of memory");
    int ntaken = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].y)) continue;
        int x = px_x(&a, pts[i].x), y = px_y(&a, pts[i].y);
        yq_fill_rect(out, x - 4, y - 4, x + 4, y + 4, POINT);
        taken[ntaken++] = (box){x - 5, y - 5, x + 5, y + 5};
    }
    const int th = yq_text_height(SCALE);
    for (int i = 0; i < n; i++) {
        if (!pts[i].label || !isfinite(pts[i].x) || !isfinite(pts[i].y)) continue;
        int x = px_x(&a, pts[i].x), y = px_y(&a, pts[i].y), tw = yq_text_width(pts[i].label, SCALE);
        const int cand[8][2] = {{x + 8, y - th - 2}, {x + 8, y + 2},          {x - 8 - tw, y - th - 2},
                                {x - 8 - tw, y + 2}, {x - tw / 2, y - th - 8}, {x - tw / 2, y + 8},
                                {x + 8, y - th / 2}, {x - 8 - tw, y - th / 2}};
        int pick = -1, fallback = -1;
        for (int c = 0; c < 8 && pick < 0; c++) {
            box b = {cand[c][0] - 1, cand[c][1] - 1, cand[c][0] + tw + 1, cand[c][1] + th + 1};
            if (b.x0 < a.x0 + 2 || b.x1 > a.x1 - 2 || b.y0 < a.y0 + 2 || b.y1 > a.y1 - 2) continue;
            if (fallback < 0) fallback = c;
            int clear = 1;
            for (int k = 0; k < ntaken && clear; k++) clear = !boxes_overlap(&b, &taken[k]);
            if (clear) pick = c;
        }
        if (pick < 0) pick = fallback >= 0 ? fallback : 0; /* crowded: the first place inside */
        yq_draw_text(out, cand[pick][0], cand[pick][1], pts[i].label, SCALE, BLACK);
        taken[ntaken++] = (box){cand[pick][0] - 1, cand[pick][1] - 1, cand[pick][0] + tw + 1, cand[pick][1] + th + 1};
    }
    free(taken);
    return YQ_OK;
}

yq_status yq_chart_line(const char *title, const char *x_label, const char *y_label, const double *x, const double *y,
                        int n, yq_image *out) {
    if (n < 1) return yq_fail(YQ_ERR_ARG, "line chart '%s' has no points", title ? title : "");
    double xlo, xhi, ylo, yhi;
    range_of(x, n, 1, &xlo, &xhi);
    range_of(y, n, 1, &ylo, &yhi);
    axes a;
    YQ_TRY(draw_axes(title, x_label, y_label, xlo, xhi, ylo, yhi, out, &a));
    int have = 0, px = 0, py = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            have = 0;
            continue;
        }
        int cx = px_x(&a, x[i]), cy = px_y(&a, y[i]);
        if (have) draw_line(out, px, py, cx, cy, 2, BAR_POS);
        px = cx, py = cy, have = 1;
    }
    return YQ_OK;
}
