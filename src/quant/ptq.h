/* Post-training quantization driver: from a prepared float graph to a QCDQ
 * graph, with calibration on images the caller supplies.
 *
 *  1. plan: default placement + recipe (yq_recipe_plan) says which Conv /
 *     MatMul / Gemm nodes are quantized and how;
 *  2. calibrate: the float graph runs on the calibration inputs; a session
 *     hook feeds (a) one activation observer per float tensor read by a
 *     quantized node (A8) and (b) the GPTQ Hessian XᵀX of every GPTQ layer
 *     from its im2col rows at a seeded, stratified random subset of output
 *     positions per image. Hessians are accumulated in parallel over
 *     (layer, row block) once per image, in a fixed order: the result does
 *     not depend on the thread count. When the Hessians of all GPTQ layers
 *     exceed the memory budget, the layers are split into groups and the
 *     calibration images run once per group (observers on the first pass);
 *  3. weights: GPTQ or round-to-nearest per layer (layers in parallel,
 *     each one deterministic), written as QCDQ weights;
 *  4. activations: per-tensor qparams from the observers; tensors that meet
 *     at a Concat (its inputs and its output) share one range, so that an
 *     integer engine concatenates without requantizing;
 *  5. yq_qcdq_finalize (topological order, unused float weights dropped,
 *     opset chosen), then yq_qcdq_cleanup (no-op nodes, merged chains,
 *     constant folding, dead code); Q/DQ pairs are never folded;
 *     Sequential GPTQ (recipe "gptq": {"sequential": true, "stages": S}):
 *     the GPTQ layers, in topological order, form S stages; the Hessians
 *     of stage s come from a pass over the calibration images through the
 *     model whose stages < s are already quantized (QCDQ weights, and with
 *     A8 every activation quantizer, ranges from a first float pass), so a
 *     layer compensates for the error of the layers before it. S passes
 *     (S + 1 with A8);
 *     Empirical bias correction (recipe "bias_correction": true): after
 *     GPTQ of a conv, bias -= (Ŵ - W)·E[x_q], with E[x_q] the mean of its
 *     im2col inputs in the pass that built its Hessian (the partly
 *     quantized model when sequential);
 *     Equalization (recipe "equalize"): before all of this, CLE or
 *     SmoothQuant scales the Conv->Conv pairs of quantized layers with
 *     nothing in between (equalize.h); the float function is unchanged;
 *     Conv outputs (recipe "act_outputs": true, A8 only): each quantized
 *     conv's output gets its own observer in the same passes as the inputs
 *     and, in the written graph only, a Q/DQ pair after the conv (before
 *     its activation function): ONNX Runtime then fuses DQ -> Conv -> Q
 *     into QLinearConv;
 *  6. report: per-layer weight SQNR, per-layer output SQNR and model output
 *     SQNR against the float graph on the first `report_images` inputs. */
#ifndef YQ_QUANT_PTQ_H
#define YQ_QUANT_PTQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/qcdq.h"
#include "quant/recipe.h"

/* Fill the model input (float32 [1, 3, H, W], H/W those of the graph input)
 * for calibration image `index`. */
typedef yq_status (*yq_ptq_input_fn)(void *arg, int index, float *nchw);
/* Progress: stage is "calibrate" (images), "quantize" (layers whose weights
 * are solved: GPTQ / rounding, counted over all passes) or "report" (images).
 * "quantize" is reported from worker threads, never from two at once. */
typedef void (*yq_ptq_progress_fn)(void *arg, const char *stage, int64_t done, int64_t total);

typedef struct yq_ptq_opts {
    yq_qcdq_format format;
    int nthreads;               /* <= 0: one per CPU */
    int hessian_positions;      /* im2col rows sampled per image and layer (256) */
    uint64_t seed;              /* position sampling (0x5eed) */
    size_t hessian_budget;      /* bytes of Hessians held at once (2 GiB) */
    int report_images;          /* inputs for the output SQNR (8; 0: none) */
    yq_ptq_progress_fn progress; /* may be NULL */
    void *progress_arg;
} yq_ptq_opts;

void yq_ptq_opts_default(yq_ptq_opts *o);

typedef struct yq_ptq_layer {
    char *name;     /* node name (or its output's name when unnamed) */
    char *op_type;
    int bits;       /* weight bits */
    int act_bits;   /* 0: float inputs */
    int gptq;       /* weights from GPTQ (else round to nearest) */
    int64_t rows, cols, params;
    double weight_sqnr_db; /* 10·log10(Σw² / Σ(w - ŵ)²); +inf when exact */
    double output_sqnr_db; /* the node's output, quantized model vs float; NAN without report images */
    double gptq_loss;
    int int32_bias;  /* bias stored as INT32 + DequantizeLinear (scale s_in·s_w) */
    int gptq_stage;         /* sequential GPTQ stage (0 otherwise) */
    int damp_retries;       /* GPTQ: damping raised because H was not positive definite */
    int64_t dead_columns;   /* GPTQ: inputs never non-zero on calibration data (weights set to 0) */
    double bias_shift;      /* bias correction: RMS of the correction (0: none) */
    float act_scale; /* of input 0 when act_bits */
    int32_t act_zero_point;
} yq_ptq_layer;

typedef struct yq_ptq_report {
    yq_ptq_layer *layers;
    int nlayers;
    int calib_images;
    int equalized_pairs;    /* Conv->Conv pairs scaled by CLE / SmoothQuant */
    int hessian_passes;     /* calibration passes (1 unless the budget split the layers) */
    size_t hessian_peak_bytes;
    int report_images;
    double output_sqnr_db;  /* model outputs (all of them together) */
    int64_t weight_bytes;   /* initializers at stored precision: n-bit weights as n/8 bytes, scales, float rest */
    int64_t float_weight_bytes; /* the float graph's initializers */
    int act_quantizers;     /* distinct activation tensors quantized */
    int act_output_quantizers; /* "act_outputs": conv outputs quantized (ORT's QLinearConv form) */
    int int32_biases;       /* layers whose bias became INT32 + DequantizeLinear */
    /* Q/DQ/Clip/node counts: right after the rewrite, after finalize (= before
     * the clean-up), and of the written graph (after the clean-up) */
    yq_qcdq_counts counts_before_finalize, counts_before_cleanup, counts_after;
    yq_cleanup_stats cleanup;
    yq_qcdq_opset_note opset; /* the model's opset, the written one, and why */
    double calib_ms, quantize_ms, report_ms;
    /* block reconstruction (recipe "reconstruct"; 0 blocks: not run). The
     * output SQNRs above are measured before it. */
    int recon_blocks, recon_kept, recon_images;
    double recon_err_before, recon_err_after; /* mean over blocks of the normalised block error */
    double recon_ms;
    struct yq_recon_block *recon; /* recon_blocks entries (reconstruct.h), owned */
} yq_ptq_report;

void yq_ptq_report_free(yq_ptq_report *r);

/* Quantize g (a float graph prepared with yq_prepare_graph: sorted, shapes
 * inferred, constants folded, one float [1,3,H,W] input) in place into QCDQ.
 * `input` supplies ncalib >= 1 calibration inputs. On failure g may be
 * partly rewritten: the caller discards it. rep (may be NULL) receives the
 * report. */
yq_status yq_ptq_quantize(yq_graph *g, const yq_recipe *r, int ncalib, yq_ptq_input_fn input, void *input_arg,
                          const yq_ptq_opts *o, yq_ptq_report *rep);

#endif
