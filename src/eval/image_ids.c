#include "eval/image_ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"

#define MAX_ID ((int64_t)1 << 53)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

typedef struct id_line {
    int64_t id;
    size_t line;
} id_line;

static int cmp_id_line(const void *a, const void *b) {
    const id_line *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Reports the first id (by value) that appears twice, naming both lines. */
static yq_status check_duplicates(const id_line *entries, size_t count, const char *name) {
    id_line *sorted = yq_malloc(count * sizeof *sorted);
    if (!sorted) return YQ_ERR_NOMEM;
    memcpy(sorted, entries, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_id_line);
    yq_status st = YQ_OK;
    for (size_t i = 1; i < count; i++)
        if (sorted[i].id == sorted[i - 1].id) {
            st = yq_fail(YQ_ERR_INVALID, "%s:%zu: image id %lld is listed twice (first on line %zu)", name,
                         sorted[i].line, (long long)sorted[i].id, sorted[i - 1].line);
            break;
        }
    free(sorted);
    return st;
}

yq_status yq_image_ids_parse(const char *text, size_t len, const char *name, int64_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    id_line *entries = NULL;
    size_t count = 0, cap = 0, line = 0;
    yq_status st = YQ_OK;
    const char *p = text, *end = text + len;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *hash = memchr(p, '#', (size_t)(eol - p));
        const char *a = p, *b = hash ? hash : eol;
        p = eol < end ? eol + 1 : end;
        while (a < b && is_space(*a)) a++;
        while (b > a && is_space(b[-1])) b--;
        if (a == b) continue; /* blank or comment-only line */
        int64_t v = 0;
        int ok = 1;
        for (const char *q = a; q < b && ok; q++) {
            if (*q < '0' || *q > '9') ok = 0;
            else if ((v = v * 10 + (*q - '0')) > MAX_ID) ok = 0;
        }
        if (!ok) {
            int width = (int)(b - a), shown = width > 40 ? 40 : width;
            st = yq_fail(YQ_ERR_PARSE, "%s:%zu: '%.*s%s' is not an image id (a non-negative integer)", name, line,
                         shown, a, width > shown ? "..." : "");
            break;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            id_line *grown = yq_realloc(entries, cap * sizeof *grown);
            if (!grown) {
                st = YQ_ERR_NOMEM;
                break;
            }
            entries = grown;
        }
        entries[count].id = v;
        entries[count].line = line;
        count++;
    }
    if (st == YQ_OK && count == 0) st = yq_fail(YQ_ERR_INVALID, "%s: lists no image ids", name);
    if (st == YQ_OK) st = check_duplicates(entries, count, name);
    int64_t *out = st == YQ_OK ? yq_malloc(count * sizeof *out) : NULL;
    if (st == YQ_OK && !out) st = YQ_ERR_NOMEM;
    if (st == YQ_OK) {
        for (size_t i = 0; i < count; i++) out[i] = entries[i].id;
        *ids = out;
        *n = count;
    }
    free(entries);
    return st;
}

yq_status yq_image_ids_load(const char *path, int64_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    unsigned char *text = NULL;
    size_t len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return yq_fail(YQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size > (unsigned long long)YQ_IMAGE_IDS_MAX_BYTES)
        return yq_fail(YQ_ERR_LIMIT, "%s: file is %lld bytes, more than the %zu allowed for an image-id list", path,
                       (long long)sb.st_size, YQ_IMAGE_IDS_MAX_BYTES);
    YQ_TRY(yq_read_file(path, &text, &len));
    yq_status st = yq_image_ids_parse((const char *)text, len, path, ids, n);
    free(text);
    return st;
}
