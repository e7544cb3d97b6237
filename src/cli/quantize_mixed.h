/* `yoloq quantize --avg-bits` / a recipe's "mixed" budget: sensitivity
 * analysis, the choice of 8-bit layers (appended to the recipe as
 * overrides), and what to print and report about it. */
#ifndef YQ_CLI_QUANTIZE_MIXED_H
#define YQ_CLI_QUANTIZE_MIXED_H

#include "ir/graph.h"
#include "quant/ptq.h"
#include "quant/recipe.h"

struct cJSON;

/* Help lines for the options, in quantize's --help. */
#define CLI_HELP_MIXED                                                                                     \
    "      --avg-bits B     mixed precision: start from every 4-bit layer at 4 bit and move the layers\n"  \
    "                       whose quantization costs most accuracy per byte to 8 bit (greedy, by the\n"    \
    "                       head-output noise each adds alone at 4 bit, 10^(-SQNR/10) of `yoloq\n"        \
    "                       sensitivity` on the calibration images; recipe \"mixed\": {\"criterion\":\n"  \
    "                       \"proxy\"} ranks by its class/box proxy instead) while\n"                      \
    "                       sum(bits * params) / sum(params) <= B, B in [4, 8]. params counts the\n"        \
    "                       weight elements of every quantized Conv/MatMul/Gemm (not biases, scales,\n"     \
    "                       zero points, nor layers kept float such as the DFL conv); layers the\n"         \
    "                       recipe sets to 8 bit stay at 8 and count. A budget below what the\n"            \
    "                       layers need at 4 bit is an error. Recipe: \"mixed\": {\"avg_bits\": B} or\n"    \
    "                       {\"weight_bytes\": N} (sum(bits * params) / 8 <= N)\n"                          \
    "      --metric-images N  calibration images the sensitivity is measured on (16)\n"              \
    "      --mixed-context alone|quantized  how the layers are ranked: each quantized alone in the\n"  \
    "                       float model (alone), or every layer quantized and each restored to\n"    \
    "                       float alone, what its 8 bits buy in the final model (quantized;\n"      \
    "                       recipe \"mixed\": {\"context\"})\n"                                      \
    "      --sensitivity FILE  use a saved analysis (yoloq sensitivity --json at 4 bit, same model\n"  \
    "                       and recipe; float activations may serve --acts int8) instead of\n"     \
    "                       measuring it again\n"

/* When the recipe (or --avg-bits) asks for a budget: analyse (or load the
 * analysis from sens_path, when not NULL), choose and add
 * the overrides to `recipe`; print the choice unless quiet. *report_out
 * receives a JSON object for the report. Returns a CLI exit code. */
int cli_quantize_mixed(const yq_graph *g, yq_recipe *recipe, int ncalib, yq_ptq_input_fn input, void *input_arg,
                       const yq_ptq_opts *po, int metric_images, const char *sens_path, int quiet,
                       struct cJSON **report_out);

#endif
