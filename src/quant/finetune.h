/* Quantization-aware fine-tuning (QAT) of a QCDQ model by distillation from
 * its float teacher, on unlabelled images.
 *
 * Student: the QCDQ model cut at the raw detection head (train_graph.h:
 * latent weights + LSQ scales for weights and activations, optional biases).
 * Teacher: the float model on the runtime engine, cut at the same tensor.
 *
 * The cut, found by structure (yq_finetune_find_head): the DFL convolution
 * is a Conv with a constant [1, R, 1, 1] weight whose input comes from a
 * Softmax; walking back from that Softmax through Transpose / Reshape reaches
 * a Split whose input is the concatenated raw head [1, 4R + classes, anchors]
 * (box-distribution logits in the first 4R channels, class logits after).
 * That Split's input is the cut; R is the DFL bin count (16 for YOLOv8-v11).
 *
 * Loss (per image, then averaged over the batch):
 *  - box: KL(teacher ‖ student) of each of the 4 side distributions
 *    (softmax over R bins), anchors weighted by the teacher's confidence
 *    max_c σ(t_c) and normalised by the weights' sum — the DFL distribution is
 *    what decides the box, and background anchors' boxes are never used;
 *  - class: binary KL of σ(student) against σ(teacher) per class, summed over
 *    classes, gradient σ(s) − σ(t) (bounded, and zero where both models see
 *    background, unlike an MSE on logits, which would chase the very negative
 *    logits of background). Anchors (cls_anchors): ALL — every anchor with
 *    weight 1, normalised by the teacher's score mass sum_a max_c σ(t), so a
 *    student anchor firing beside an object (a duplicate, which an NMS-free
 *    head never suppresses) costs as much as a missed score of the same size;
 *    FIRING (default) — anchors weighted by max(top score of the teacher, of
 *    the student) (constant in the gradient), normalised by the weights' sum;
 *    LOGIT — instead of the KL, a Huber loss (δ 4) of the logits wherever
 *    either score exceeds 0.005, normalised like ALL (log-odds ratios order
 *    detections). Entries where the student scores above the teacher are
 *    weighted by fp_weight in every mode;
 *  - feature maps (feat_weight > 0): ||S − T||² / ||T||² of each feature map
 *    the head reads (yq_finetune_find_features), averaged over the levels — a
 *    dense signal on the whole trunk.
 *  - margin (margin_weight > 0; ft_margin.c): for each teacher object (an
 *    anchor above 0.1 that tops the anchors its teacher box overlaps at IoU >
 *    0.5) and each such neighbour, a squared hinge keeping the student's
 *    neighbour below its object by the teacher's logit margin (or below
 *    0.01; with margin_cap C > 0: by min(teacher's margin, C), whatever
 *    the level) — the order the NMS-free one-to-one head relies on, which
 *    the per-anchor KL does not see;
 *  total = box_weight · box + cls_weight · class + feat_weight · features
 *          + margin_weight · margin.
 *
 * Optimisation: Adam per parameter kind (weights in units of their initial
 * quantization step, log-scales, biases), linear warm-up then cosine decay to
 * zero, global gradient-norm clipping, EMA of the parameters (exported),
 * deterministic for a seed: the image order (a seeded permutation per epoch)
 * and augmentation (horizontal flip, scale jitter with a random placement)
 * are functions of (seed, step, slot), so a resumed run is the same run, and
 * every kernel is thread-count independent. Checkpoints hold parameters, EMA,
 * Adam moments and the log. */
#ifndef YQ_QUANT_FINETUNE_H
#define YQ_QUANT_FINETUNE_H

#include <stdint.h>

#include "core/status.h"
#include "ir/graph.h"

/* Augmentation of one sample: flip horizontally; letterbox into a square of
 * scale·S pixels placed at (ox, oy)·(S − scale·S) inside the S×S input
 * (negative room crops); pad 114. */
typedef struct yq_ft_aug {
    int flip;
    float scale, ox, oy;
} yq_ft_aug;

/* Fill the model input (float32 [1, 3, H, W]) with image `index` augmented. */
typedef yq_status (*yq_ft_image_fn)(void *arg, int index, const yq_ft_aug *aug, int w, int h, float *nchw);
/* Progress after each step (after that step's checkpoint is written). */
typedef void (*yq_ft_progress_fn)(void *arg, int64_t step, int64_t steps, double loss, double seconds);

/* Which anchors the class term weighs (see the loss above). */
typedef enum yq_ft_cls_anchors { YQ_FT_CLS_FIRING = 0, YQ_FT_CLS_ALL, YQ_FT_CLS_LOGIT } yq_ft_cls_anchors;

typedef struct yq_finetune_opts {
    int64_t steps;     /* optimiser steps (200) */
    int batch;         /* images per step (2) */
    float lr;          /* weights, in quantization steps per update (1e-2) */
    float lr_scale;    /* log of the weight scales (1e-4) */
    float lr_act_scale; /* log of the activation scales (1e-5): a relative change
                        * of 1e-3 already moves uint8 codes near 255 by a
                        * quarter step, and yolov10n at A8 reacts to single
                        * code flips, so these learn slowly */
    float lr_bias;     /* biases (1e-4); 0 keeps biases fixed */
    float warmup;      /* fraction of the steps (0.05) */
    float clip_norm;   /* global gradient norm (1.0; 0: none) */
    float ema_decay;   /* (0.98; 0: export the raw parameters) */
    float jitter;      /* scale jitter ± (0.2) */
    int flip;          /* random horizontal flips (1) */
    float box_weight, cls_weight; /* (1, 1) */
    yq_ft_cls_anchors cls_anchors; /* anchors of the class term (FIRING) */
    float feat_weight; /* weight of the feature-map term (0: off) */
    float fp_weight;   /* class term: weight factor where the student scores above the teacher (1) */
    float margin_weight; /* weight of the margin term (0: off) */
    float margin_cap;    /* 0: neighbours below the teacher's margin or below 0.01; C > 0: order only, margin capped at C logits */
    uint64_t seed;     /* (0) */
    int nthreads;      /* <= 0: one per CPU */
    const char *cut;   /* head tensor; NULL: yq_finetune_find_head */
    int reg_max;       /* DFL bins with an explicit cut (0: no box term) */
    const char *checkpoint; /* file, or NULL */
    int64_t checkpoint_every; /* steps (0: only at the end when checkpoint is set) */
    int resume;        /* continue from `checkpoint` when it exists */
    yq_ft_progress_fn progress;
    void *progress_arg;
} yq_finetune_opts;

void yq_finetune_opts_default(yq_finetune_opts *o);
/* Every hyperparameter and the seed, as the run's records keep them (NULL: out of memory). */
struct cJSON *yq_finetune_opts_json(const yq_finetune_opts *o);

typedef struct yq_ft_log {
    int64_t step;
    double loss, loss_box, loss_cls, loss_feat, loss_margin, lr_factor, grad_norm, seconds;
} yq_ft_log;

#define YQ_FT_MAX_FEATURES 8

typedef struct yq_finetune_result {
    yq_ft_log *log; /* one entry per step taken (including resumed ones) */
    int64_t nlog;
    int64_t resumed_from; /* step the run continued from (0: fresh) */
    int weights, act_quantizers, biases;
    int64_t params;
    char cut[256];
    int reg_max, classes;
    int64_t anchors;
    char ops[512]; /* executed ops of the student */
    char features[YQ_FT_MAX_FEATURES][256]; /* feature maps of the feature term */
    int nfeatures;
    double seconds; /* this run's wall time */
} yq_finetune_result;

void yq_finetune_result_free(yq_finetune_result *r);

/* The distillation loss of one image (see above): student s and teacher t
 * raw heads [C = 4R + classes, A]; d receives dL/ds (overwritten) times
 * `scale`; *lbox and *lcls the two terms before their weights. */
void yq_ft_distill_loss(const float *s, const float *t, int64_t C, int64_t A, int R, const yq_finetune_opts *o,
                        float scale, float *d, double *lbox, double *lcls);

/* The anchor grid of a raw head: levels of strides 8, 16, 32 (and 64), each
 * (W / stride) x (H / stride) cells in row-major order, as Ultralytics'
 * make_anchors lays them out. */
typedef struct yq_ft_grid {
    int levels;
    int stride[4], gw[4], gh[4];
} yq_ft_grid;
/* The grid whose cells number A for a W x H input; fails when none does. */
yq_status yq_ft_grid_infer(int64_t A, int W, int H, yq_ft_grid *g);

/* The margin term of one image (ft_margin.c): student s and teacher t raw
 * heads [C = 4R + classes, A] on grid g; cap: 0 for the floored form, C > 0
 * for the shift-invariant form capped at C logits; adds dL/ds times `scale` to d;
 * *loss the term before its weight, *objects (may be NULL) the teacher
 * objects it ranked against their neighbours. */
yq_status yq_ft_margin_loss(const float *s, const float *t, int64_t C, int64_t A, int R, const yq_ft_grid *g, float cap,
                            float scale, float *d, double *loss, int *objects);

/* The raw head tensor and R (see above); fails when g has no DFL head. */
yq_status yq_finetune_find_head(const yq_graph *g, char **cut, int *reg_max);

/* The feature maps the head reads, one per level: for each input of the
 * head's Concat (behind a Reshape), the Concat of the level's box and class
 * branches; the level's feature is the latest value both branches are
 * computed from (on YOLOv8/v10: the neck's P3, P4, P5 outputs). Names are
 * those of g (the float teacher: a QCDQ student keeps them). */
yq_status yq_finetune_find_features(const yq_graph *g, const char *cut, char ***names, int *count);

/* Train the student (a QCDQ graph as read from its file) against the float
 * teacher graph on nimages images, then write the EMA parameters into
 * `export_to` (a graph with the student's initializer names, e.g. a second
 * load of the same file; only initializer contents change). */
yq_status yq_finetune(const yq_graph *student, const yq_graph *teacher, int nimages, yq_ft_image_fn image,
                      void *image_arg, const yq_finetune_opts *o, yq_graph *export_to, yq_finetune_result *res);

/* An image source over files: decoded once and kept, letterboxed like eval
 * (Ultralytics LetterBox) with the augmentation applied. */
typedef struct yq_ft_files yq_ft_files;
yq_status yq_ft_files_new(const char *const *paths, int n, yq_ft_files **out);
void yq_ft_files_free(yq_ft_files *f);
yq_status yq_ft_files_image(void *arg, int index, const yq_ft_aug *aug, int w, int h, float *nchw);

#endif
