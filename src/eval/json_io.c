#include "eval/json_io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"

/* 1-based line and column of byte `offset` in text. */
static void locate(const char *text, size_t len, size_t offset, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    if (offset > len) offset = len;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Depth of [ and { outside strings; stops at the first place deeper than max.
 * Malformed text is left for cJSON to report. */
static int depth_exceeds(const char *text, size_t len, size_t max_depth, size_t *where) {
    size_t depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) {
                *where = i;
                return 1;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

yq_status yq_json_parse(const char *text, size_t len, const char *name, size_t max_depth, cJSON **out) {
    *out = NULL;
    size_t where = 0, line, col;
    if (depth_exceeds(text, len, max_depth, &where)) {
        locate(text, len, where, &line, &col);
        return yq_fail(YQ_ERR_LIMIT, "%s:%zu:%zu: JSON nested deeper than %zu levels", name, line, col,
                       max_depth);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= text) ? (size_t)(end - text) : 0;
        locate(text, len, off, &line, &col);
        /* cJSON reports a failure at the end of the text at its last byte */
        if (off + 1 >= len)
            return yq_fail(YQ_ERR_PARSE, "%s:%zu:%zu: malformed JSON at the end of the input (truncated?)", name,
                           line, col);
        /* a short printable excerpt of where cJSON stopped */
        char near[17];
        size_t n = 0;
        for (; n < 16 && off + n < len; n++) {
            unsigned char ch = (unsigned char)text[off + n];
            near[n] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        near[n] = 0;
        return yq_fail(YQ_ERR_PARSE, "%s:%zu:%zu: malformed JSON near '%s'", name, line, col, near);
    }
    /* cJSON stops after the first value; anything but whitespace after it is an error */
    size_t off = (size_t)(end - text);
    while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r')) off++;
    if (off < len && text[off] != 0) {
        cJSON_Delete(root);
        locate(text, len, off, &line, &col);
        return yq_fail(YQ_ERR_PARSE, "%s:%zu:%zu: malformed JSON: text after the end of the document", name,
                       line, col);
    }
    *out = root;
    return YQ_OK;
}

yq_status yq_json_read_text(const char *path, size_t max_bytes, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0) return yq_fail(YQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > (unsigned long long)max_bytes)
        return yq_fail(YQ_ERR_LIMIT, "%s: file is %lld bytes, more than the %zu allowed for a JSON input", path,
                       (long long)st.st_size, max_bytes);
    YQ_TRY(yq_read_file(path, data, len));
    if (*len > max_bytes) { /* grew between stat and read */
        free(*data);
        *data = NULL;
        *len = 0;
        return yq_fail(YQ_ERR_LIMIT, "%s: file is more than the %zu bytes allowed for a JSON input", path,
                       max_bytes);
    }
    return YQ_OK;
}

yq_status yq_json_load(const char *path, size_t max_bytes, size_t max_depth, cJSON **out) {
    *out = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    YQ_TRY(yq_json_read_text(path, max_bytes, &data, &len));
    yq_status s = yq_json_parse((const char *)data, len, path, max_depth, out);
    free(data);
    return s;
}

yq_status yq_json_write_atomic(const char *path, const cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) return yq_fail(YQ_ERR_NOMEM, "%s: cannot format JSON (out of memory)", path);
    size_t n = strlen(text);
    /* end with a newline, as text files do */
    yq_atomic_file af;
    yq_status s = yq_atomic_open(&af, path);
    if (s == YQ_OK) {
        if (fwrite(text, 1, n, af.fp) != n || fputc('\n', af.fp) == EOF) {
            s = yq_fail(YQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            yq_atomic_abort(&af);
        } else {
            s = yq_atomic_commit(&af);
        }
    }
    cJSON_free(text);
    return s;
}

void yq_json_format_double(char *buf, double v) {
    if (!isfinite(v)) {
        strcpy(buf, "null");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, YQ_JSON_NUM_BUF, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v) break;
    }
}

cJSON *yq_json_create_number(double v) {
    char buf[YQ_JSON_NUM_BUF];
    yq_json_format_double(buf, v);
    return cJSON_CreateRaw(buf);
}

int yq_json_get_int64(const cJSON *item, long long *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double v = item->valuedouble;
    const double lim = 9007199254740992.0; /* 2^53 */
    if (!(v >= -lim && v <= lim) || v != floor(v)) return -1;
    *out = (long long)v;
    return 0;
}
