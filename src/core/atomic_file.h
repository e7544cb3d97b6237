/* Every file yoloq writes goes through here: data goes to a temporary file in
 * the destination's folder, is fsync'd, then renamed over the final name, so a
 * reader (or a crash) sees either the previous file or the complete new one. */
#ifndef YQ_CORE_ATOMIC_FILE_H
#define YQ_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

typedef struct yq_atomic_file {
    FILE *fp;        /* write through this */
    char *final_path;
    char *tmp_path;
} yq_atomic_file;

/* Open a temporary sibling of `path` for writing. */
yq_status yq_atomic_open(yq_atomic_file *af, const char *path);
/* Flush, fsync, close and rename into place. On failure the temporary is removed. */
yq_status yq_atomic_commit(yq_atomic_file *af);
/* Close and remove the temporary; the final path is untouched. Safe to call twice. */
void yq_atomic_abort(yq_atomic_file *af);
/* Whole-buffer convenience. */
yq_status yq_write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole file (adds a NUL after the data for text convenience). */
yq_status yq_read_file(const char *path, unsigned char **data, size_t *len);

#endif
