/* Per-layer quantization sensitivity: how much the detector's raw head
 * outputs degrade when one layer alone is quantized.
 *
 *  1. The layers are those the recipe quantizes (yq_recipe_plan: by default
 *     every Conv / MatMul / Gemm with a weight except the DFL conv and the
 *     decode path).
 *  2. One yq_ptq_quantize run of the whole model, every layer at `bits`, with
 *     the recipe's method (4 bit: GPTQ by default), gives each layer's
 *     quantized weights: the Hessians are computed once, on one calibration
 *     pass, never per layer.
 *  3. The measured tensors are the head's raw outputs — the tensors of the
 *     Concats where the per-level box/class maps are merged before
 *     post-processing (YQ_PLACE_HEAD_CONCAT, e.g. yolov10n's three
 *     [1,144,h,w] maps: 64 box-distribution logits + 80 class logits); a
 *     graph without such Concats is measured on its float outputs.
 *  4. The float model runs once per metric image (the first metric_images
 *     calibration inputs) and its head tensors are kept. Then, per layer, a
 *     session with only that layer's weights replaced by the quantized ones
 *     runs the same images. With A8 (act_bits 8) the context of every run is
 *     the model with all activation quantizers of the recipe in place (and
 *     float weights), so a layer's gain is measured where it will be used;
 *     that context's own degradation is reported as the baseline.
 *
 * Metrics, against the float model's head tensors f (quantized q):
 *  - SQNR = 10·log10(Σ f² / Σ (q - f)²) over all head tensors and images;
 *  - proxy: for YOLO heads with DFL (box channels 4·reg_max next to class
 *    channels), per image
 *        cls = Σ_a w_a Σ_c (σ(q_ac) - σ(f_ac))² / Σ_a w_a
 *        box = Σ_a w_a Σ_side KL(softmax f_side || softmax q_side) / Σ_a w_a
 *    with w_a = max(max_c σ(f_ac), max_c σ(q_ac)) (confident anchors, in
 *    either model, dominate), proxy = cls + box, averaged over images;
 *    otherwise proxy = Σ (q - f)² / Σ f² per image, averaged.
 *  - gain = proxy - baseline proxy: what keeping the layer at 8 bit buys.
 *
 * Deterministic: the same inputs give the same numbers for any thread
 * count (sessions and the PTQ driver are thread-count independent; metrics
 * are summed serially in a fixed order). */
#ifndef YQ_QUANT_SENSITIVITY_H
#define YQ_QUANT_SENSITIVITY_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/ptq.h"
#include "quant/recipe.h"

typedef struct yq_sens_opts {
    int bits;          /* weight bits of the layer under test: 4 (default) or 8 */
    int act_bits;      /* -1: the recipe's (default); 0: float activations; 8: A8 context */
    int metric_images; /* first N calibration inputs the metrics use (16); capped at ncalib */
    const char *only;  /* recipe pattern: measure only the layers it matches (NULL: all) */
    yq_ptq_opts ptq;   /* the calibration run (threads, Hessian sampling, budget); its
                          report_images is ignored, its progress receives its stages */
    int nthreads;      /* sessions (<= 0: one per CPU) */
    /* 1: leave-one-out in the quantized context: every layer at `bits` (and
     * the recipe's activation quantizers), one layer at a time restored to
     * its float weights; gain = what restoring it buys (base metric minus
     * the layer's). 0 (default): the layer alone quantized in the float
     * (or float-weight A8) context. */
    int quantized_context;
} yq_sens_opts;

void yq_sens_opts_default(yq_sens_opts *o);

typedef struct yq_sens_layer {
    char *name;    /* node name (or its output's name when unnamed) */
    char *op_type;
    int64_t params; /* weight elements */
    int plan_bits;  /* bits the recipe itself gives the layer */
    int measured;   /* 0: skipped (`only`); the metrics below are then NAN */
    double weight_sqnr_db;
    double sqnr_db; /* head tensors, this layer alone at `bits` (in the A8 context with act_bits 8);
                       quantized context: every other layer at `bits`, this one float */
    double cls, box, proxy;
    double gain;    /* proxy - base_proxy */
    double ms;      /* session setup + runs */
} yq_sens_layer;

typedef struct yq_sens_result {
    yq_sens_layer *layers; /* in graph order */
    int nlayers;
    int bits, act_bits;
    int calib_images, metric_images;
    char **heads; /* names of the measured tensors */
    int nheads;
    int yolo_layout;          /* 1: class/box proxy (reg_max, box and class channels below) */
    int reg_max, box_channels, class_channels;
    double base_sqnr_db, base_proxy; /* the context without quantized weights (+inf / 0 for float);
                                        quantized context: every layer quantized */
    int quantized_context;           /* the analysis is leave-one-out (yq_sens_opts) */
    double calib_ms, measure_ms;
} yq_sens_result;

void yq_sens_result_free(yq_sens_result *r);

/* Progress of the per-layer stage ("reference", then "layers"). */
typedef void (*yq_sens_progress_fn)(void *arg, const char *stage, int64_t done, int64_t total);

/* g: a prepared float graph (yq_prepare_graph), one float [1,3,H,W] input;
 * not modified. `input` supplies ncalib >= 1 calibration inputs. */
yq_status yq_sensitivity(const yq_graph *g, const yq_recipe *r, int ncalib, yq_ptq_input_fn input,
                         void *input_arg, const yq_sens_opts *o, yq_sens_progress_fn progress, void *progress_arg,
                         yq_sens_result *res);

#endif
