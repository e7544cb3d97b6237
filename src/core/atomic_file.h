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

/* Temporaries are named `.NAME.yoloq-tmp.PID.XXXXXX` (PID: the writing
 * process) so that one left behind by a killed writer can be recognised. */
#define YQ_ATOMIC_TMP_TAG ".yoloq-tmp."

/* Open a temporary sibling of `path` for writing. First sweeps the stale
 * temporaries of `path` (see yq_atomic_sweep_stale). */
yq_status yq_atomic_open(yq_atomic_file *af, const char *path);
/* Remove the temporaries of `path` (exactly `.NAME.yoloq-tmp.PID.XXXXXX` in
 * its folder) whose writer PID no longer exists on this machine (kill(PID, 0)
 * fails with ESRCH). Any other file, and temporaries of live processes, are
 * never touched. Best effort: failures are ignored. Returns how many were
 * removed. Note: PIDs are per machine (and PID namespace); a folder written
 * concurrently from several machines may see a live remote writer's temporary
 * as stale. */
int yq_atomic_sweep_stale(const char *path);
/* Flush, fsync, close and rename into place. On failure the temporary is removed. */
yq_status yq_atomic_commit(yq_atomic_file *af);
/* Close and remove the temporary; the final path is untouched. Safe to call twice. */
void yq_atomic_abort(yq_atomic_file *af);
/* Whole-buffer convenience. */
yq_status yq_write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole file (adds a NUL after the data for text convenience). */
yq_status yq_read_file(const char *path, unsigned char **data, size_t *len);

#endif
