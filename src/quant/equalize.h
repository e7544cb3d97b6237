/* Cross-layer equalization (Nagel et al., "Data-Free Quantization Through
 * Weight Equalization and Bias Correction", 2019) and SmoothQuant-style
 * activation-to-weight migration (Xiao et al., 2022), on the pairs of a graph
 * where they preserve the float function exactly.
 *
 * A pair is a producer Conv P whose output feeds only Conv consumers C (no
 * other reader, not a graph output), with nothing in between. Scaling output
 * channel i of P by 1/s_i (its weight row and bias) and input channel i of
 * every C by s_i leaves the output of C unchanged: C is linear in its input
 * and P's output reaches it untouched. An activation between them (SiLU,
 * ReLU6, Sigmoid...) breaks this: SiLU(x/s) ≠ SiLU(x)/s (not positively
 * homogeneous), and even ReLU would need s_i > 0 only. So Conv→SiLU→Conv is
 * never a pair. Consumers must have group 1 (input channel i is weight column
 * block i); the producer may be grouped (depthwise: its row i is channel i).
 *
 * The scale per channel:
 *  - CLE: s_i = sqrt(r1_i / r2_i), r1_i = max|P row i|, r2_i = max over the
 *    consumers of max|C[:, i]|: afterwards both ranges equal sqrt(r1·r2).
 *  - SmoothQuant (α in (0, 1)): s_i = a_i^α / r2_i^(1-α), a_i = max|x_i| of
 *    P's output on calibration data: the activation's channel ranges move
 *    into C's weights, so a per-tensor 8-bit activation grid fits better.
 * s_i is clamped to [1e-4, 1e4] and 1 where a range is 0.
 *
 * In yolov10n (every Conv followed by SiLU except SCDown's depthwise cv2, the
 * attention convs and the head's last convs) exactly two pairs qualify:
 * /model.5/cv2 -> /model.6/cv1 and /model.7/cv2 -> /model.8/cv1. */
#ifndef YQ_QUANT_EQUALIZE_H
#define YQ_QUANT_EQUALIZE_H

#include "core/status.h"
#include "ir/graph.h"

typedef struct yq_eq_pair {
    int producer;   /* Conv node */
    int value;      /* its output: the tensor between */
    int *consumers; /* Conv nodes (owned) */
    int nconsumers;
    int64_t channels;
} yq_eq_pair;

/* The valid pairs of g (constant float weights, producer bias absent or a
 * constant float vector used by P alone). `allow[node]` (may be NULL): only
 * nodes with allow[node] != 0 take part (e.g. the quantized ones). */
yq_status yq_eq_find_pairs(const yq_graph *g, const unsigned char *allow, yq_eq_pair **pairs, int *npairs);
void yq_eq_pairs_free(yq_eq_pair *pairs, int npairs);

/* Scale pair p in place by s[channels] (P's row i and bias / s_i, C's input
 * channel i · s_i). */
yq_status yq_eq_scale_pair(yq_graph *g, const yq_eq_pair *p, const double *s);

/* s[channels] for CLE (act_absmax NULL) or SmoothQuant (act_absmax[channels],
 * alpha in (0, 1)). */
yq_status yq_eq_pair_scales(const yq_graph *g, const yq_eq_pair *p, const float *act_absmax, double alpha,
                            double *s);

#endif
