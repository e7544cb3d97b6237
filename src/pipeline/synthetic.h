/* A detector and a data set yoloq builds itself, for `yoloq demo` without
 * downloaded data: 64x64 images of red and green 16x16 squares centred on an
 * 8-px grid over a dark noisy background, a COCO annotation file with their
 * true boxes, a calibration list, and a small convolutional detector whose
 * weights are set by hand (not trained) to find exactly such squares.
 *
 * The model (ONNX, opset 17) follows the raw-xywh YOLO contract [1, 4+2, 64]:
 *   Conv 8x8/8 (3→2: the mean of R−G−B and of G−R−B per 8x8 cell)
 *   → Conv 1x1 (2→4 hidden, a ReLU feature layer) → Relu → Conv 1x1 (4→2)
 *   → Sigmoid: per-cell class scores; a cell scores high only when a square
 *   covers all of it, which happens only at the square's own cell;
 *   boxes: the cell centre and 16x16 (constants, Concat'ed with the scores).
 * Float32 mAP50-95 is 1.0 by construction; quantization moves the scores. */
#ifndef YQ_PIPELINE_SYNTHETIC_H
#define YQ_PIPELINE_SYNTHETIC_H

#include "core/status.h"
#include "ir/graph.h"

typedef struct yq_synthetic_set {
    char *dir, *model, *calib, *ann, *images; /* paths under dir */
    int nimages, ncalib;
} yq_synthetic_set;

enum { YQ_SYNTH_SIZE = 64, YQ_SYNTH_STRIDE = 8, YQ_SYNTH_BOX = 16 };

/* The detector graph (caller frees). */
yq_status yq_synthetic_model(yq_graph **out);
/* Write everything under dir (created); deterministic (fixed seed). */
yq_status yq_synthetic_build(const char *dir, yq_synthetic_set *set);
void yq_synthetic_set_free(yq_synthetic_set *set);

#endif
