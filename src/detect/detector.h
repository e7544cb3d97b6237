/* A detector: an ONNX YOLO model prepared for the runtime, plus the
 * preprocessing (Ultralytics letterbox) and the output decoding its contract
 * needs. `yoloq run`, `yoloq eval`, calibration and the parity tools all go
 * through here, so every path sees identical pixels and identical boxes. */
#ifndef YQ_DETECT_DETECTOR_H
#define YQ_DETECT_DETECTOR_H

#include "core/status.h"
#include "ir/graph.h"
#include "rt/session.h"
#include "vision/image.h"
#include "vision/letterbox.h"
#include "vision/yolo_decode.h"

typedef struct yq_detector_opts {
    int nthreads;        /* <= 0: one per CPU */
    int verbose;
    int engine;          /* yq_engine (rt/session.h): integer QCDQ convs (default) or fake-quant */
    int ort;             /* 1: ONNX Runtime (node + onnxruntime-node, ort/ort_engine.h) runs the model
                          * instead; yoloq still reads it for its input, outputs and contract.
                          * Needs a model file (yq_detector_open). */
    yq_yolo_opts decode; /* conf, iou, max_det, contract... (input size is set from the model) */
} yq_detector_opts;

void yq_detector_opts_default(yq_detector_opts *o);

typedef struct yq_detect_timing {
    double preprocess_ms; /* letterbox + NCHW conversion */
    double infer_ms;      /* the model run */
    double decode_ms;     /* output decoding, NMS, mapping back */
} yq_detect_timing;

typedef struct yq_detector yq_detector;

/* Load and prepare a model. Errors name the file. */
yq_status yq_detector_open(const char *model_path, const yq_detector_opts *o, yq_detector **out);
/* Same from an in-memory graph (takes ownership). `name` is used in messages. */
yq_status yq_detector_open_graph(yq_graph *g, const char *name, const yq_detector_opts *o, yq_detector **out);
void yq_detector_free(yq_detector *d);

/* Detect in one decoded image; boxes in the image's pixels. *dets is malloc'd
 * (NULL when none). timing may be NULL. */
yq_status yq_detector_detect(yq_detector *d, const yq_image *img, yq_det **dets, int *n, yq_detect_timing *timing);

/* ONNX Runtime's version when it runs the model (opts.ort), else NULL. */
const char *yq_detector_ort_version(const yq_detector *d);
/* Model facts. */
int yq_detector_input_w(const yq_detector *d);
int yq_detector_input_h(const yq_detector *d);
yq_yolo_contract yq_detector_contract(const yq_detector *d);
int yq_detector_num_classes(const yq_detector *d);
yq_session *yq_detector_session(yq_detector *d);
/* The letterboxed float NCHW input of the last detect call ([1,3,H,W]). */
const float *yq_detector_last_input(const yq_detector *d);
const yq_letterbox *yq_detector_last_letterbox(const yq_detector *d);
/* Class names from the model's metadata ("names" as Ultralytics writes it),
 * else the 80 COCO names; index by class id, NULL past the end. */
const char *yq_detector_class_name(const yq_detector *d, int cls);

#endif
