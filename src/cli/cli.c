#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt/session.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("yoloq: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_fail(yq_status st) {
    (void)st;
    return cli_error("%s", yq_last_error());
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "yoloq %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'yoloq %s --help'.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_parse_int(const char *cmd, const char *flag, const char *s, long min, long max, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max) {
        cli_usage(cmd, "%s expects an integer from %ld to %ld, got '%s'", flag, min, max, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *flag, const char *s, double min, double max, float *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < min || v > max) {
        cli_usage(cmd, "%s expects a number from %g to %g, got '%s'", flag, min, max, s ? s : "");
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_parse_detector_engine(const char *cmd, const char *s, int *engine, int *ort) {
    *ort = !strcmp(s, "ort");
    *engine = *ort ? YQ_ENGINE_AUTO : yq_engine_parse(s);
    if (*engine >= 0) return 0;
    cli_usage(cmd, "--engine must be auto, fakequant or ort, got '%s'", s);
    return -1;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total, int quiet) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->t_start = cli_now_ms();
}

static void progress_draw(cli_progress *p) {
    const int width = 30;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    int fill = (int)(frac * width + 0.5);
    double el = (cli_now_ms() - p->t_start) / 1000.0;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%-10s [", p->label);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  %.1f/s  ETA %02d:%02d ", (long long)p->done, (long long)p->total, rate,
            (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double t = cli_now_ms();
    if (t - p->t_last < 100 && done < p->total) return; /* at most 10 redraws a second */
    p->t_last = t;
    progress_draw(p);
}

void cli_progress_finish(cli_progress *p) {
    if (!p->enabled) return;
    progress_draw(p);
    fputc('\n', stderr);
}

#include <cjson/cJSON.h>

#include "core/atomic_file.h"

int cli_write_json(const cJSON *doc, const char *path) {
    char *text = cJSON_Print(doc);
    if (!text) return cli_error("out of memory formatting JSON");
    int rc = CLI_OK;
    if (!strcmp(path, "-")) {
        fputs(text, stdout);
        fputc('\n', stdout);
    } else {
        size_t n = strlen(text);
        text[n] = '\n'; /* replace the terminator: write n+1 bytes ending in a newline */
        yq_status st = yq_write_file_atomic(path, text, n + 1);
        if (st != YQ_OK) rc = cli_fail(st);
    }
    free(text);
    return rc;
}
