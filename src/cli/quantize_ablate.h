/* `yoloq quantize --ablate`: the recipe's ablation ladder (quant/ablate.h),
 * each row quantized and evaluated on COCO images, printed as one table and
 * written as JSON; the last row (the final recipe) is the written model. */
#ifndef YQ_CLI_QUANTIZE_ABLATE_H
#define YQ_CLI_QUANTIZE_ABLATE_H

#include "ir/graph.h"
#include "quant/ptq.h"
#include "quant/recipe.h"

#define CLI_HELP_ABLATE                                                                                  \
    "      --ablate         ablation: quantize and evaluate the ladder float -> round to nearest ->\n"   \
    "                       GPTQ one pass -> sequential GPTQ -> each further feature the recipe uses\n"  \
    "                       (input/bias correction, equalization, A8 observer, A8 ranges on the\n"       \
    "                       quantized weights, mixed precision), each row adding one; prints mAP50-95 and\n" \
    "                       mAP50 of every row, on all evaluated images and on the halves with even\n"   \
    "                       and odd image ids, and the change from the row above. The last row is\n"     \
    "                       the final recipe and is written to -o. Needs --ann and --images\n"           \
    "      --ann FILE       COCO instances JSON of the evaluation images (--ablate)\n"                   \
    "      --images DIR     folder of their images (--ablate)\n"                                         \
    "      --ablate-images N  evaluate the first N images of FILE in id order (default: all)\n"         \
    "      --ablate-ids FILE  evaluate exactly these image ids (one a line; as yoloq eval --image-ids)\n" \
    "      --ablate-json FILE  write the table as JSON\n"

typedef struct cli_ablate_opts {
    const char *ann, *images, *ids, *json;
    int max_images;
} cli_ablate_opts;

/* Runs every row on the prepared float graph g (model: its file), writes the
 * final row's graph to out. Returns a CLI exit code. */
int cli_quantize_ablate(const yq_graph *g, const char *model, const char *out, const yq_recipe *recipe, int ncalib,
                        yq_ptq_input_fn input, void *input_arg, const yq_ptq_opts *po, const cli_ablate_opts *ao,
                        int quiet);

#endif
