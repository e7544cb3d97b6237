/* A sensitivity result (sensitivity.h) as the ranked JSON document and bar
 * chart that `yoloq sensitivity --json/--png` and the pipeline's run bundle
 * (metrics/sensitivity.json, plots/sensitivity.png) share: one format, one
 * picture, whichever command made it. */
#ifndef YQ_QUANT_SENSITIVITY_JSON_H
#define YQ_QUANT_SENSITIVITY_JSON_H

#include <cjson/cJSON.h>

#include "core/status.h"
#include "quant/sensitivity.h"
#include "vision/image.h"

/* The measured layers, most sensitive (largest gain) first; ties and NaN
 * gains keep graph order (NaN last). order: nlayers ints; returns the count. */
int yq_sens_rank(const yq_sens_result *r, int *order);

/* Weight bytes a layer saves at the result's bits: against int8 for 4 bit,
 * against float for 8 bit. */
int64_t yq_sens_bytes_saved(const yq_sens_result *r, const yq_sens_layer *l);

/* The document: model, calib, bits, acts, heads, head layout, baseline,
 * layers[] in `order` (rank, name, op_type, params, recipe_bits, SQNR, proxy,
 * cls, box, gain, bytes_saved), time_ms. NULL when out of memory. */
cJSON *yq_sens_result_json(const yq_sens_result *r, const int *order, int n, const char *model, const char *calib);

/* Bar chart of the first `topn` layers of such a document (all when topn <= 0),
 * in its order: the proxy gain per layer, titled with bits, context and image
 * count. YQ_ERR_INVALID when the document has no layers array. */
yq_status yq_sens_chart(const cJSON *doc, int topn, yq_image *out);

#endif
