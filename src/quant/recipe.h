/* Quantization recipe: a JSON file that says what to quantize and how.
 *
 *   {
 *     "weights": {
 *       "bits": 8,                  4 or 8
 *       "granularity": "channel",   "channel" (one scale per output channel) or "tensor"
 *       "symmetric": true,          zero point 0; false: int8 zero point per channel
 *       "narrow": false,            true: [-127,127] / [-7,7], so that -q is always
 *                                   representable and int8·int8 products fit int16
 *                                   pairs (what TensorRT-style kernels assume)
 *       "scale": "max",             "max", "mse" (Lp search over clipping ratios) or
 *                                   "percentile"
 *       "percentile": 99.99,        for "scale": "percentile", in (50, 100]
 *       "mse_norm": 2.0,            p of the Lp error for "scale": "mse", in (0, 10]
 *       "bias": "float",            "float" or "int32": INT32 bias + DequantizeLinear with
 *                                   per-channel scale s_in·s_w[c], zero point 0 (what an
 *                                   integer engine adds to its int32 accumulator). Needs a
 *                                   quantized input: a layer whose input stays float keeps
 *                                   its float bias (reported per layer); the CLI refuses
 *                                   --bias int32 when activations are float everywhere
 *       "method": "rtn",            "rtn" (round to nearest), "gptq" or "adaround"
 *       "gptq": {"damp": 0.01, "act_order": true, "block_size": 128, "group_size": 0},
 *       "adaround": {"iters": 1000, "lambda": 0.01, "lr": 0.001, "init": "gptq", "cd_sweeps": 4,
 *                    "damp": 0.01}
 *                                   "adaround" learns up/down rounding on the layer's
 *                                   Hessian, starting from "rtn" or "gptq" codes (the
 *                                   "gptq" options apply to that start), then polishes
 *                                   the codes by exact coordinate descent (cd_sweeps)
 *     },
 *     "activations": {
 *       "bits": null,               8, or null: activations stay float (W8A16 / W4A16)
 *       "observer": "minmax",       "minmax", "percentile", "mse" or "entropy"
 *       "percentile": 99.99,        for "observer": "percentile", in (50, 100]
 *       "signed": false,            false: uint8 (asymmetric; post-SiLU tensors reach
 *                                   only about -0.28, so uint8 wastes nothing)
 *       "symmetric": false          true needs "signed": true (int8, zero point 0)
 *     },
 *     "calibration": {"count": 128},   images used for calibration, >= 1
 *     "overrides": [                   applied in order, later ones win, key by key
 *       {"match": "/model.0/conv/Conv", "weights": {"bits": 8}, "activations": {...}, "float": false}
 *     ],
 *     "keep_float": ["pattern", ...],  nodes kept float whatever else says (applied last)
 *     "gptq": {                        how the GPTQ layers get their Hessians (whole model)
 *       "sequential": false,           true: from the partly quantized model, stage by stage
 *       "stages": 8,                   stages of the sequential mode (layers split in
 *                                      topological order), 1..256
 *       "input_correction": false,     sequential only: target the float layer on the
 *                                      float inputs, min ||Ŵ·x_q - W·x_f||² (ptq.h)
 *       "stage_acts": true             sequential with A8: the passes that build the Hessians
 *                                      run the activation quantizers too (false: weights only,
 *                                      the Hessians of W4A16)
 *     },
 *     "bias_correction": false,        subtract each GPTQ conv's expected output shift
 *     "act_ranges": "float",           where the A8 activation ranges are observed: "float"
 *                                      (the float model, first pass) or "quantized" (a last
 *                                      pass through the model with every weight quantized, so
 *                                      the ranges are those the quantized layers produce;
 *                                      `--weights int4` default, ptq.h)
 *     "act_outputs": false,            true: with A8, every quantized Conv's output (before its
 *                                      activation function) gets a QuantizeLinear ->
 *                                      DequantizeLinear pair too, ranges observed like the
 *                                      inputs': the QDQ form in which ONNX Runtime fuses
 *                                      DQ -> Conv -> Q into QLinearConv (ptq.h)
 *     "equalize": {"method": "none", "alpha": 0.5}
 *                                      "cle" or "smoothquant" on the Conv->Conv pairs
 *                                      with nothing in between (equalize.h); alpha:
 *                                      SmoothQuant's migration strength, in (0, 1),
 *     "mixed": {"avg_bits": 4.5}       mixed precision under a budget (quant/mixed.h): the 4-bit
 *                                      layers most sensitive per byte move to 8 bit while the
 *                                      average weight bits stay <= avg_bits (in [4, 8]); or
 *                                      {"weight_bytes": N}: Σ params·bits/8 <= N; optional
 *                                      "metric_images": calibration images the sensitivity
 *                                      is measured on (16); "criterion": "noise" (default) or
 *                                      "proxy", what ranks the layers (quant/mixed.h);
 *                                      "context": "alone" (default: each layer quantized alone)
 *                                      or "quantized" (every layer quantized, each restored
 *                                      alone: what 8 bits buy in the final model)
 *     "reconstruct": {"iters": 200, "images": 32, "batch": 2, "block_convs": 4, "lr": 0.05,
 *                     "lr_scale": 0, "lr_bias": 0}
 *                                      block reconstruction after PTQ (quant/reconstruct.h):
 *                                      blocks of block_convs convolutions fitted in turn to
 *                                      the float model's block outputs, iters Adam steps of
 *                                      batch images each, on the first `images` calibration
 *                                      images; lr in quantization steps; lr_scale > 0 also
 *                                      learns the weight scales, lr_bias > 0 float biases.
 *                                      Absent or "iters": 0: off
 *   }
 *
 * Every key is optional; the values above are the defaults (an empty object
 * is W8A16, per-channel, symmetric, max scales, round to nearest). Unknown
 * keys, duplicate keys, wrong types and unsupported values are errors naming
 * the file and the key path ("recipe.json: unknown key 'weights.bitz'").
 *
 * Patterns ("match", "keep_float"): "op_type:Conv" matches by op type; any
 * other string matches node names, exactly or as a glob (*, ?, [...]). A
 * pattern that matches no node of the graph is an error (a typo would
 * otherwise silently do nothing).
 *
 * Where the defaults apply: yq_quant_default_placement (placement.h) — Conv /
 * MatMul / Gemm with constant weights, not the DFL conv nor post-processing.
 * "float": false in an override forces quantization of a weighted node the
 * default placement keeps float; nodes without a weight are never quantized. */
#ifndef YQ_QUANT_RECIPE_H
#define YQ_QUANT_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/gptq.h"
#include "quant/observer.h"
#include "quant/placement.h"
#include "quant/quantizer.h"

typedef enum yq_weight_method {
    YQ_WMETHOD_RTN = 0,
    YQ_WMETHOD_GPTQ,
    YQ_WMETHOD_ADAROUND, /* quant/adaround.h: learned rounding on top of RTN or GPTQ */
} yq_weight_method;

typedef struct yq_weight_cfg {
    int bits;        /* 4 or 8 */
    int per_channel; /* granularity */
    int symmetric;
    int narrow;
    yq_scale_opts scale; /* method, percentile, mse_norm */
    yq_weight_method method;
    double gptq_damp;
    int gptq_act_order;
    int gptq_block_size;
    int gptq_group_size;
    int int32_bias; /* "bias": "int32" (only where the input is quantized) */
    int adaround_iters;
    double adaround_lambda;
    double adaround_lr;
    int adaround_init; /* yq_adaround_init: 0 rtn, 1 gptq */
    int adaround_cd_sweeps;
    double adaround_damp;
} yq_weight_cfg;

typedef struct yq_act_cfg {
    int bits; /* 8, or 0 for float activations */
    yq_observer_kind observer;
    double percentile;
    int is_signed;
    int symmetric;
} yq_act_cfg;

/* Effective settings for one node. */
typedef struct yq_node_qconfig {
    int quantize; /* 0: the node stays float (weights and inputs) */
    yq_weight_cfg weights;
    yq_act_cfg acts;
} yq_node_qconfig;

typedef struct yq_recipe_override {
    char *match;
    const void *weights; /* cJSON object (owned by the recipe's tree) or NULL */
    const void *acts;    /* cJSON object, cJSON null, or NULL when absent */
    int has_float, is_float;
} yq_recipe_override;

typedef struct yq_recipe {
    char *name; /* file name used in messages */
    yq_weight_cfg weights;
    yq_act_cfg acts;
    int calib_count;
    yq_recipe_override *overrides;
    int noverrides;
    char **keep_float;
    int nkeep;
    int gptq_sequential;  /* Hessians from the partly quantized model (ptq.h) */
    int gptq_stages;      /* stages of the sequential mode (8) */
    int gptq_input_correction; /* sequential: min ||Ŵ x_q - W x_f||² (ptq.h) */
    int gptq_stage_acts;  /* sequential A8: activation quantizers in the Hessian passes (1) */
    int bias_correction;  /* empirical bias correction of GPTQ convs (ptq.h) */
    int act_ranges_quantized; /* "act_ranges": "quantized": A8 ranges from the weight-quantized model */
    int act_outputs;          /* "act_outputs": Q/DQ on A8 conv outputs too (ORT's QLinearConv form) */
    int equalize;         /* 0 none, 1 CLE, 2 SmoothQuant (equalize.h) */
    double smooth_alpha;  /* 0.5 */
    /* "mixed" (0 when absent): at most one of avg_bits / weight_bytes is set */
    double mixed_avg_bits;
    int64_t mixed_weight_bytes;
    int mixed_metric_images;
    int mixed_by_proxy; /* "criterion": "proxy" (default "noise") */
    int mixed_quantized_context; /* "context": "quantized" (leave-one-out; default "alone") */
    /* "reconstruct" (recon_iters 0: off) */
    int recon_iters, recon_images, recon_batch, recon_block_convs;
    double recon_lr, recon_lr_scale, recon_lr_bias;
    void *json; /* the parsed document (cJSON), owned */
} yq_recipe;

/* The built-in defaults (the empty recipe). */
yq_status yq_recipe_default(yq_recipe **out);
/* Parse text[0..len) (need not be NUL-terminated); `name` names it in messages. */
yq_status yq_recipe_parse(const char *text, size_t len, const char *name, yq_recipe **out);
yq_status yq_recipe_load(const char *path, yq_recipe **out);
void yq_recipe_free(yq_recipe *r);
/* A deep copy of r, including settings changed in the struct after parsing
 * (what the command line sets). */
yq_status yq_recipe_clone(const yq_recipe *r, yq_recipe **out);
/* Append an override that sets the weight bits of the node named node_name
 * (matched exactly: glob characters in the name are escaped) after the
 * recipe's own overrides, so that it wins. */
yq_status yq_recipe_add_bits_override(yq_recipe *r, const char *node_name, int bits);

/* Pattern semantics described above. */
int yq_recipe_match(const char *pattern, const char *node_name, const char *op_type);

/* Effective settings for a node named node_name of type op_type, starting
 * from `default_quantize` (the placement's verdict). hits (may be NULL) has
 * noverrides + nkeep entries, set to 1 for every pattern that matched. */
yq_status yq_recipe_resolve(const yq_recipe *r, const char *node_name, const char *op_type, int default_quantize,
                            yq_node_qconfig *out, unsigned char *hits);

/* Settings for every node of g (cfg[g->nnodes]): default placement, then the
 * recipe. Fails if an override or keep_float pattern matches no node. */
yq_status yq_recipe_plan(const yq_recipe *r, const yq_graph *g, yq_node_qconfig *cfg);

/* Conversions to the algorithm options. */
void yq_weight_cfg_format(const yq_weight_cfg *w, yq_qformat *f);   /* signed grid */
void yq_weight_cfg_gptq_opts(const yq_weight_cfg *w, yq_gptq_opts *o);
void yq_act_cfg_format(const yq_act_cfg *a, yq_qformat *f);
void yq_act_cfg_observer_opts(const yq_act_cfg *a, yq_observer_opts *o);

#endif
