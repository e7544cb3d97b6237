#include "calib_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/atomic_file.h"
#include "vision/image.h"
#include "vision/letterbox.h"

void cli_calib_list_free(cli_calib_list *l) {
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

static int add_path(cli_calib_list *l, int *cap, const char *list_path, size_t dirlen, const char *s, size_t len) {
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        char **np = realloc(l->paths, (size_t)*cap * sizeof *np);
        if (!np) return cli_error("out of memory");
        l->paths = np;
    }
    size_t pre = s[0] == '/' ? 0 : dirlen;
    char *p = malloc(pre + len + 1);
    if (!p) return cli_error("out of memory");
    memcpy(p, list_path, pre);
    memcpy(p + pre, s, len);
    p[pre + len] = '\0';
    l->paths[l->n++] = p;
    return CLI_OK;
}

int cli_calib_list_open(const char *list_path, const yq_graph *g, const char *model, int *count, cli_calib_list *out) {
    memset(out, 0, sizeof *out);
    const yq_value *in = g->ninputs == 1 ? &g->values[g->inputs[0]] : NULL;
    if (!in || in->rank != 4 || in->dims[0] != 1 || in->dims[1] != 3 || in->dims[2] < 1 || in->dims[3] < 1)
        return cli_error("%s: expected one image input [1,3,H,W]", model);
    unsigned char *data = NULL;
    size_t len = 0;
    yq_status st = yq_read_file(list_path, &data, &len);
    if (st != YQ_OK) return cli_fail(st);
    const char *slash = strrchr(list_path, '/');
    size_t dirlen = slash ? (size_t)(slash - list_path) + 1 : 0;
    const char *text = (const char *)data;
    int cap = 0, rc = CLI_OK;
    if (memchr(text, '\0', len)) rc = cli_error("%s: not a text file", list_path);
    for (size_t i = 0; i < len && rc == CLI_OK;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t a = i, b = e;
        i = e + 1;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (a == b || text[a] == '#') continue;
        rc = add_path(out, &cap, list_path, dirlen, text + a, b - a);
    }
    free(data);
    if (rc == CLI_OK && out->n == 0) rc = cli_error("%s: the calibration list names no images", list_path);
    if (rc == CLI_OK) {
        if (*count <= 0 || *count > out->n) *count = out->n;
        /* fail fast on a missing image rather than after minutes of work */
        for (int i = 0; i < *count && rc == CLI_OK; i++) {
            FILE *fp = fopen(out->paths[i], "rb");
            if (!fp) rc = cli_error("%s: cannot open calibration image (listed in %s)", out->paths[i], list_path);
            else fclose(fp);
        }
    }
    out->h = (int)in->dims[2];
    out->w = (int)in->dims[3];
    if (rc != CLI_OK) cli_calib_list_free(out);
    return rc;
}

yq_status cli_calib_input(void *arg, int index, float *nchw) {
    cli_calib_list *l = arg;
    yq_image img = {0};
    YQ_TRY(yq_image_load(l->paths[index], &img));
    yq_letterbox lb;
    yq_status st = yq_letterbox_nchw(&img, l->w, l->h, nchw, &lb);
    yq_image_free(&img);
    if (st != YQ_OK) return yq_fail_prefix(st, "%s", l->paths[index]);
    return YQ_OK;
}
