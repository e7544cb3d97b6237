/* Charts as PNG-ready images, drawn with the vision layer's primitives and its
 * 5x7 font, so the run bundle needs no other tool: horizontal bar charts
 * (per-layer SQNR, sensitivity), scatter charts with labelled points
 * (accuracy vs model size) and line charts (loss curves). */
#ifndef YQ_REPORT_CHART_H
#define YQ_REPORT_CHART_H

#include "core/status.h"
#include "vision/image.h"

typedef struct yq_chart_point {
    double x, y;
    const char *label; /* may be NULL */
} yq_chart_point;

/* One bar per row, labelled on the left, value printed at the bar's end;
 * negative values extend left of the zero line. The image grows with n. */
yq_status yq_chart_bars(const char *title, const char *value_label, const char *const *labels,
                        const double *values, int n, yq_image *out);
/* Points with labels on linear axes with "nice" ticks. */
yq_status yq_chart_scatter(const char *title, const char *x_label, const char *y_label, const yq_chart_point *pts,
                           int n, yq_image *out);
/* A polyline through (x[i], y[i]) on linear axes. */
yq_status yq_chart_line(const char *title, const char *x_label, const char *y_label, const double *x,
                        const double *y, int n, yq_image *out);

/* Tick step for a range: 1, 2 or 5 times a power of ten giving about `target` ticks. */
double yq_chart_nice_step(double lo, double hi, int target);

#endif
