/* The public API (include/yoloq.h): thin, handle-based wrappers over the
 * detector. */
#include "yoloq.h"

#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"

struct yoloq_detector {
    yq_detector *det;
};

const char *yoloq_version(void) { return YOLOQ_VERSION; }
const char *yoloq_last_error(void) { return yq_last_error(); }

yoloq_status yoloq_detector_open(const char *model_path, int threads, float conf, yoloq_detector **out) {
    *out = NULL;
    if (!(conf >= 0.0f && conf <= 1.0f)) return yq_fail(YQ_ERR_ARG, "conf must be in [0,1], got %g", conf);
    yoloq_detector *d = yq_calloc(1, sizeof *d);
    if (!d) return YQ_ERR_NOMEM;
    yq_detector_opts o;
    yq_detector_opts_default(&o);
    o.nthreads = threads;
    o.decode.conf = conf;
    yq_status st = yq_detector_open(model_path, &o, &d->det);
    if (st != YQ_OK) {
        free(d);
        return st;
    }
    *out = d;
    return YOLOQ_OK;
}

void yoloq_detector_close(yoloq_detector *d) {
    if (!d) return;
    yq_detector_free(d->det);
    free(d);
}

static yoloq_status detect(yoloq_detector *d, const yq_image *img, yoloq_detection **dets, int *n) {
    yq_det *raw;
    int k;
    *dets = NULL;
    *n = 0;
    YQ_TRY(yq_detector_detect(d->det, img, &raw, &k, NULL));
    if (k > 0) {
        *dets = yq_malloc((size_t)k * sizeof **dets);
        if (!*dets) {
            free(raw);
            return YQ_ERR_NOMEM;
        }
        for (int i = 0; i < k; i++)
            (*dets)[i] = (yoloq_detection){raw[i].x1, raw[i].y1, raw[i].x2, raw[i].y2, raw[i].score, raw[i].cls};
    }
    *n = k;
    free(raw);
    return YOLOQ_OK;
}

yoloq_status yoloq_detect_file(yoloq_detector *d, const char *image_path, yoloq_detection **dets, int *n) {
    yq_image img;
    YQ_TRY(yq_image_load(image_path, &img));
    yoloq_status st = detect(d, &img, dets, n);
    yq_image_free(&img);
    return st;
}

yoloq_status yoloq_detect_rgb(yoloq_detector *d, const uint8_t *rgb, int w, int h, yoloq_detection **dets, int *n) {
    if (!rgb || w <= 0 || h <= 0 || w > YQ_IMAGE_MAX_SIDE || h > YQ_IMAGE_MAX_SIDE)
        return yq_fail(YQ_ERR_ARG, "image of %dx%d pixels is outside 1..%d per side", w, h, YQ_IMAGE_MAX_SIDE);
    yq_image img = {.w = w, .h = h, .c = 3, .px = (uint8_t *)rgb}; /* read only */
    return detect(d, &img, dets, n);
}

const char *yoloq_class_name(const yoloq_detector *d, int class_id) {
    return yq_detector_class_name(d->det, class_id);
}
