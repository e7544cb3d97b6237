/* yoloq public C API: a small surface with opaque handles over the library.
 * Everything returns a yoloq_status; on failure yoloq_last_error() holds one
 * line naming the file and the problem (per thread). Nothing here prints or
 * exits. Internal headers (src/...) offer the full toolkit. */
#ifndef YOLOQ_H
#define YOLOQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int yoloq_status; /* 0 = ok; otherwise a yq_status code */
#define YOLOQ_OK 0

const char *yoloq_version(void);
const char *yoloq_last_error(void);

/* A detector: ONNX model + Ultralytics letterbox + YOLO output decoding. */
typedef struct yoloq_detector yoloq_detector;

typedef struct yoloq_detection {
    float x1, y1, x2, y2; /* original-image pixels */
    float score;
    int class_id;
} yoloq_detection;

/* threads <= 0: one per CPU core. conf: keep detections with score > conf. */
yoloq_status yoloq_detector_open(const char *model_path, int threads, float conf, yoloq_detector **out);
void yoloq_detector_close(yoloq_detector *d);
/* Detect in a JPEG or PNG file. *dets is malloc'd (free() it; NULL when *n == 0). */
yoloq_status yoloq_detect_file(yoloq_detector *d, const char *image_path, yoloq_detection **dets, int *n);
/* Detect in interleaved 8-bit RGB pixels (w*h*3 bytes, no row padding). */
yoloq_status yoloq_detect_rgb(yoloq_detector *d, const uint8_t *rgb, int w, int h, yoloq_detection **dets, int *n);
/* Class name for a class id (from the model's metadata, else COCO), or NULL. */
const char *yoloq_class_name(const yoloq_detector *d, int class_id);

#ifdef __cplusplus
}
#endif
#endif
