/* Image-id list files, which choose the images an evaluation runs on:
 * one COCO image id per line; '#' starts a comment (whole line or after an
 * id); blank lines and spaces around an id are ignored. */
#ifndef YQ_EVAL_IMAGE_IDS_H
#define YQ_EVAL_IMAGE_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* List files larger than this are refused (a COCO id line is < 16 bytes). */
#define YQ_IMAGE_IDS_MAX_BYTES ((size_t)64 << 20)

/* Parse a list held in memory; ids keep the file's order. An id is a decimal
 * integer from 0 to 2^53 (what a JSON reader holds exactly). Errors name
 * `name` and the line: a token that is not such an id, an id listed twice,
 * a list without any id. *ids is malloc'd (free()). */
yq_status yq_image_ids_parse(const char *text, size_t len, const char *name, int64_t **ids, size_t *n);
/* Read and parse a list file. */
yq_status yq_image_ids_load(const char *path, int64_t **ids, size_t *n);

#endif
