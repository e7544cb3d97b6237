/* Block reconstruction (BRECQ-style) of a QCDQ model against its float model.
 *
 * After PTQ every weight has its codes and scales. Layer-wise methods (GPTQ,
 * AdaRound) choose the codes to reproduce each layer's own output; a block of
 * a few convolutions with its nonlinearities, concatenations and residuals is
 * a better unit (Li et al., "BRECQ", ICLR 2021): errors of one layer can be
 * compensated by the next inside the block, and the objective sees the
 * SiLU's non-linearity and the activation quantizers (QDrop's point: the
 * rounding should be learnt with the activation noise present).
 *
 * The model is cut into blocks along its topological order (about
 * `convs_per_block` weighted convolutions each), only at places where every
 * tensor that crosses the cut is an ordinary float tensor that the float
 * model has too (never between a QuantizeLinear and its DequantizeLinear).
 * Only the part of the model that feeds the raw detection head
 * (yq_finetune_find_head) is reconstructed; post-processing stays as is.
 * Then, block by block in order:
 *   1. the block's inputs are computed by the *current* quantized model (the
 *      earlier blocks already reconstructed), so each block learns to absorb
 *      the error that reaches it; its targets are the float model's tensors
 *      at the block's outputs, on the same images;
 *   2. the block's rounding is learnt as in AdaRound (Nagel et al. 2020), but
 *      per block and starting from the PTQ (GPTQ) codes: every weight
 *      chooses between its code and the neighbouring code towards its float
 *      value, through AdaRound's rectified sigmoid h(V) (train_graph.h, soft
 *      rounding), fitted with Adam to the normalised squared error
 *      Σ_outputs ‖ŷ − y‖² / ‖y‖² over the calibration images in mini-batches,
 *      with AdaRound's regulariser Σ 1 − |2h − 1|^β annealed (β 20 → 2 after a
 *      warm-up) so that every h ends at 0 or 1, and a cosine learning rate;
 *      the activation quantizers are active throughout (QDrop's point);
 *   3. the block's error on all its images is measured before and after; the
 *      new codes are kept only when the error fell (so a block is never made
 *      worse on the calibration data), and written into the model.
 * Weight scales, activation scales and zero points stay as PTQ chose them by
 * default: the grid an integer engine sees (and int32 bias scales s_in·s_w)
 * stays consistent, and Concat inputs keep their shared ranges.
 *
 * Deterministic: the mini-batch order is a function of (seed, block, step),
 * and every kernel is independent of the thread count. */
#ifndef YQ_QUANT_RECONSTRUCT_H
#define YQ_QUANT_RECONSTRUCT_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/ptq.h"

typedef struct yq_recon_opts {
    int convs_per_block; /* weighted convolutions per block (4) */
    int iters;           /* Adam steps per block (200) */
    int batch;           /* images per step (2) */
    int images;          /* calibration images held per block (32; capped by what is given) */
    float lr;            /* soft rounding: Adam on AdaRound's V (5e-2); straight-through: latent
                          * weights in quantization steps per update */
    int ste;             /* 1: straight-through latent weights instead of soft rounding (0) */
    float reg;           /* soft rounding: AdaRound regulariser weight, relative to the block's
                          * starting error, per weight (1.0) */
    float warmup;        /* fraction of the steps without the regulariser (0.2) */
    float lr_scale;      /* log weight scales (0: fixed grid) */
    float lr_bias;       /* float conv biases (0: fixed) */
    uint64_t seed;
    const char *cut; /* the last tensor reconstructed; NULL: the raw YOLO head (yq_finetune_find_head) */
    int nthreads; /* <= 0: one per CPU */
    /* after each block: block index (0-based), blocks, error before, after, kept */
    void (*progress)(void *arg, int block, int nblocks, double err_before, double err_after, int kept);
    void *progress_arg;
} yq_recon_opts;

void yq_recon_opts_default(yq_recon_opts *o);

typedef struct yq_recon_block {
    char *first, *last;  /* names of its first and last convolution */
    int convs;           /* weighted convolutions in it */
    int ninputs, noutputs;
    double err_before, err_after; /* normalised squared error on its images */
    int kept;            /* 1: the reconstructed weights were written */
    char skipped[200];   /* why the block kept its PTQ codes untried (an operator the
                          * differentiable executor lacks), or "" */
} yq_recon_block;

typedef struct yq_recon_result {
    yq_recon_block *blocks;
    int nblocks;
    int images;
    double seconds;
} yq_recon_result;

void yq_recon_result_free(yq_recon_result *r);

/* Reconstruct `model` (a QCDQ graph as yq_ptq_quantize leaves it; modified in
 * place: only initializer contents change) against `teacher`, the prepared
 * float graph it was quantized from, on calibration images 0..nimages-1 given
 * by `input` (as for yq_ptq_quantize). */
yq_status yq_reconstruct(yq_graph *model, const yq_graph *teacher, int nimages, yq_ptq_input_fn input,
                         void *input_arg, const yq_recon_opts *o, yq_recon_result *res);

#endif
