/* Status codes and the per-thread error message.
 * Library code returns yq_status and never prints or exits; the message set by
 * yq_fail() names the file, node and reason, and the CLI prints it as one line. */
#ifndef YQ_CORE_STATUS_H
#define YQ_CORE_STATUS_H

#include <stddef.h>

typedef enum yq_status {
    YQ_OK = 0,
    YQ_ERR_IO,          /* cannot open/read/write a file */
    YQ_ERR_PARSE,       /* malformed input file (protobuf, JSON, image) */
    YQ_ERR_INVALID,     /* well-formed but inconsistent (shapes, missing values) */
    YQ_ERR_UNSUPPORTED, /* valid, but beyond what yoloq implements */
    YQ_ERR_ARG,         /* bad option or argument from the caller */
    YQ_ERR_NOMEM,       /* allocation failed */
    YQ_ERR_LIMIT,       /* a hard resource limit was exceeded */
    YQ_ERR_INTERNAL,    /* an invariant broke: a bug in yoloq */
    YQ_STATUS_COUNT
} yq_status;

const char *yq_status_name(yq_status st);

/* Set the thread's error message (printf-style) and return st, so that
 * `return yq_fail(YQ_ERR_IO, "%s: cannot open", path);` reads naturally. */
yq_status yq_fail(yq_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context: "ctx: old message". */
yq_status yq_fail_prefix(yq_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *yq_last_error(void);
void yq_clear_error(void);

/* Propagate a failing status. */
#define YQ_TRY(expr)                         \
    do {                                     \
        yq_status yq_try_st_ = (expr);       \
        if (yq_try_st_ != YQ_OK) return yq_try_st_; \
    } while (0)

/* Checked allocation helpers: on failure they set the error message. */
void *yq_malloc(size_t n);
void *yq_calloc(size_t count, size_t size);
void *yq_realloc(void *p, size_t n);
char *yq_strdup(const char *s);
/* aligned_alloc with the size rounded up to a multiple of align (C17 needs it). */
void *yq_aligned_alloc(size_t align, size_t n);
/* A ceiling on any single allocation made through these helpers (0: none, the
 * default). Over it they return NULL with YQ_ERR_LIMIT's message, so a hostile
 * or mistaken shape (a Resize by 1000, a ConstantOfShape of 10^9) fails with a
 * clear line instead of a multi-GiB request. The CLI sets it from
 * YOLOQ_MAX_MEMORY; the fuzz targets set 256 MiB. */
void yq_set_alloc_limit(size_t bytes);
size_t yq_alloc_limit(void);
/* Overflow-checked a*b; returns 0 and sets *out on success, -1 on overflow. */
int yq_mul_overflow(size_t a, size_t b, size_t *out);

#endif
