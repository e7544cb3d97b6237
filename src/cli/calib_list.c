#include "calib_list.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_calib_list_open(const char *list_path, const yq_graph *g, const char *model, int *count, yq_calib_list *out) {
    memset(out, 0, sizeof *out);
    yq_calib_list probe = {0};
    yq_status st = yq_calib_list_fit(&probe, g, model);
    if (st != YQ_OK) return cli_fail(st);
    st = yq_calib_list_load(list_path, out);
    if (st != YQ_OK) return cli_fail(st);
    int rc = CLI_OK;
    if (*count <= 0 || *count > out->n) *count = out->n;
    /* fail fast on a missing image rather than after minutes of work */
    for (int i = 0; i < *count && rc == CLI_OK; i++) {
        FILE *fp = fopen(out->paths[i], "rb");
        if (!fp) rc = cli_error("%s: cannot open calibration image (listed in %s)", out->paths[i], list_path);
        else fclose(fp);
    }
    out->h = probe.h;
    out->w = probe.w;
    if (rc != CLI_OK) yq_calib_list_free(out);
    return rc;
}
