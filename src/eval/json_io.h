/* JSON input/output shared by the eval layer: bounded loading with parse
 * errors located by line and column, atomic writing, exact number formatting. */
#ifndef YQ_EVAL_JSON_IO_H
#define YQ_EVAL_JSON_IO_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "core/status.h"

/* Parse `len` bytes of JSON. Nesting deeper than max_depth is refused before
 * cJSON sees the text (cJSON recurses per level). Errors name `name` and the
 * line:column of the problem. */
yq_status yq_json_parse(const char *text, size_t len, const char *name, size_t max_depth, cJSON **out);
/* Read a whole file (NUL added after the data); files larger than max_bytes
 * are refused unread. *data is malloc'd. */
yq_status yq_json_read_text(const char *path, size_t max_bytes, unsigned char **data, size_t *len);
/* Read and parse a whole file; files larger than max_bytes are refused unread. */
yq_status yq_json_load(const char *path, size_t max_bytes, size_t max_depth, cJSON **out);
/* Print `root` (indented) to `path` through the atomic-file helper. */
yq_status yq_json_write_atomic(const char *path, const cJSON *root);

/* Shortest "%.{15,16,17}g" text that reads back to exactly v; non-finite
 * values (not representable in JSON) are written as null. buf >= 32 bytes. */
#define YQ_JSON_NUM_BUF 32
void yq_json_format_double(char *buf, double v);

/* A number node that prints as yq_json_format_double does. cJSON's own
 * number printing settles for 15 digits when they read back "close enough",
 * which loses the last bits; metrics must read back exactly. NULL when out of memory. */
cJSON *yq_json_create_number(double v);

/* Integer value of a JSON number that holds an exact integer with magnitude
 * at most 2^53 (the doubles JSON readers agree on). Returns 0 on success. */
int yq_json_get_int64(const cJSON *item, long long *out);

#endif
