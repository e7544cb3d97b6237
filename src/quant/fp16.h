/* Float32 → float16 model conversion with float32 graph inputs and outputs
 * (the keep_io_types convention of ONNX's float16 converters): float
 * initializers become float16, the float activations of converted nodes
 * become float16, and Cast nodes are inserted wherever a float16 value meets a
 * node that stays float32 (graph inputs/outputs included).
 *
 * Which nodes compute in float16 (decided per op, see fp16.c):
 *  - converted: the backbone/neck/head ops whose values stay small and whose
 *    float16 kernels are standard (Conv, MatMul, Gemm, elementwise arithmetic,
 *    activations, Softmax, pooling, Resize's data input, layout ops);
 *  - kept float32: the YOLO decode path and DFL conv (placement.h): box
 *    coordinates reach 640 px and more, where float16's spacing is 0.5 px, and
 *    TopK / GatherElements rank scores that float16 would tie; every op not on
 *    the list (ONNX's converters keep TopK, Resize-like, Range, CumSum, Min, Max,
 *    NonMaxSuppression float as well). */
#ifndef YQ_QUANT_FP16_H
#define YQ_QUANT_FP16_H

#include "core/status.h"
#include "ir/graph.h"

typedef struct yq_fp16_report {
    int nodes_half;        /* nodes computing in float16 */
    int nodes_float;       /* nodes left in float32 (including the decode path) */
    int nodes_decode;      /* of those, on the decode path or the DFL conv */
    int casts_added;       /* Cast nodes inserted at float16/float32 borders */
    int initializers_half; /* initializers converted to float16 */
    int64_t weight_bytes;  /* all initializers after conversion */
} yq_fp16_report;

/* Is op_type converted to float16 by yq_convert_fp16 (when not on the decode path)? */
int yq_fp16_op_supported(const char *op_type);

/* Convert g in place. g must be prepared (yq_prepare_graph without the
 * runtime-only fusions): sorted, every dtype and shape known. rep may be NULL. */
yq_status yq_convert_fp16(yq_graph *g, yq_fp16_report *rep);

#endif
