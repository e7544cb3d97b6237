#include "core/status.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YQ_ERRMSG_MAX 1024
static _Thread_local char errmsg[YQ_ERRMSG_MAX];

static const char *const status_names[] = {
    [YQ_OK] = "ok",
    [YQ_ERR_IO] = "I/O error",
    [YQ_ERR_PARSE] = "parse error",
    [YQ_ERR_INVALID] = "invalid input",
    [YQ_ERR_UNSUPPORTED] = "unsupported",
    [YQ_ERR_ARG] = "bad argument",
    [YQ_ERR_NOMEM] = "out of memory",
    [YQ_ERR_LIMIT] = "limit exceeded",
    [YQ_ERR_INTERNAL] = "internal error",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == YQ_STATUS_COUNT,
               "status name table out of sync with yq_status");

const char *yq_status_name(yq_status st) {
    return (st >= 0 && st < YQ_STATUS_COUNT) ? status_names[st] : "unknown status";
}

yq_status yq_fail(yq_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return st;
}

yq_status yq_fail_prefix(yq_status st, const char *fmt, ...) {
    char prefix[YQ_ERRMSG_MAX], old[YQ_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    if (old[0])
        snprintf(errmsg, sizeof errmsg, "%.400s: %.600s", prefix, old);
    else
        snprintf(errmsg, sizeof errmsg, "%.1000s", prefix);
    return st;
}

const char *yq_last_error(void) { return errmsg[0] ? errmsg : "no error message"; }
void yq_clear_error(void) { errmsg[0] = 0; }

/* The ceiling is process-wide (one setting for every thread) and atomic so a
 * worker thread's allocation reads a consistent value. */
static _Atomic size_t alloc_limit;

void yq_set_alloc_limit(size_t bytes) { alloc_limit = bytes; }
size_t yq_alloc_limit(void) { return alloc_limit; }

/* Nonzero (and the error set) when an n-byte request is over the ceiling. */
static int over_limit(size_t n) {
    size_t lim = alloc_limit;
    if (lim == 0 || n <= lim) return 0;
    yq_fail(YQ_ERR_LIMIT, "an allocation of %zu bytes (%.1f MiB) is over the %.1f MiB limit (YOLOQ_MAX_MEMORY)", n,
            (double)n / 1048576.0, (double)lim / 1048576.0);
    return 1;
}

void *yq_malloc(size_t n) {
    if (over_limit(n)) return NULL;
    void *p = malloc(n ? n : 1);
    if (!p) yq_fail(YQ_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *yq_calloc(size_t count, size_t size) {
    size_t total;
    if (yq_mul_overflow(count ? count : 1, size ? size : 1, &total) != 0) {
        yq_fail(YQ_ERR_NOMEM, "out of memory allocating %zu x %zu bytes (overflows)", count, size);
        return NULL;
    }
    if (over_limit(total)) return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) yq_fail(YQ_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *yq_realloc(void *p, size_t n) {
    if (over_limit(n)) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (!q) yq_fail(YQ_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

void *yq_aligned_alloc(size_t align, size_t n) {
    size_t rounded = (n ? n : 1) + align - 1;
    if (rounded < n) {
        yq_fail(YQ_ERR_NOMEM, "out of memory allocating %zu aligned bytes (overflows)", n);
        return NULL;
    }
    rounded -= rounded % align;
    if (over_limit(rounded)) return NULL;
    void *p = aligned_alloc(align, rounded);
    if (!p) yq_fail(YQ_ERR_NOMEM, "out of memory allocating %zu bytes", rounded);
    return p;
}

char *yq_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = yq_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int yq_mul_overflow(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
