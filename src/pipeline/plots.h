/* The run bundle's pictures (PNG via the chart and drawing layers). */
#ifndef YQ_PIPELINE_PLOTS_H
#define YQ_PIPELINE_PLOTS_H

#include <cjson/cJSON.h>

#include "core/status.h"
#include "vision/image.h"
#include "vision/yolo_decode.h"

/* mAP50-95 against weight megabytes, one labelled point per artifact. */
yq_status yq_plot_accuracy_vs_size(const char *path, const char *const *labels, const double *mbytes,
                                   const double *map, int n);
/* One bar per quantized layer: its output SQNR (dB) from a quantize report
 * (report["layers"][i].output_sqnr_db); null values are drawn as n/a. */
yq_status yq_plot_layer_sqnr(const char *path, const char *title, const cJSON *report);
/* The `topn` layers with the lowest output SQNR of a report, lowest first:
 * where quantization hurts most (a proxy for sensitivity). */
yq_status yq_plot_sensitivity(const char *path, const char *title, const cJSON *report, int topn);
/* Two copies of img side by side with their detections drawn and a caption above each. */
yq_status yq_plot_detections_pair(const char *path, const yq_image *img, const yq_det *a, int na, const char *label_a,
                                  const yq_det *b, int nb, const char *label_b, const char *const *names,
                                  int nnames);

#endif
