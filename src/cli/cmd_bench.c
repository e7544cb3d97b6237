/* yoloq bench MODEL: latency of the engine on a synthetic input. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "onnx/onnx.h"
#include "rt/session.h"

void cmd_bench_help(FILE *fp) {
    fprintf(fp,
            "Usage: yoloq bench MODEL.onnx [--threads N] [--runs R] [--warmup W] [--json OUT] [--profile]\n"
            "                   [--engine auto|fakequant]\n"
            "\n"
            "Time inference on a synthetic input (uniform random in [0,1), fixed seed) and print\n"
            "one line: 'median X ms  p90 Y ms  mean Z ms  min W ms' over R timed runs after W\n"
            "warm-up runs. Model loading and preparation are not timed.\n"
            "To compare with ONNX Runtime on the same thread count, use bench/compare_ort.sh.\n"
            "\n"
            "Options:\n" CLI_HELP_THREADS
            "  -r, --runs R        timed runs (default 20)\n"
            "  -w, --warmup W      untimed warm-up runs (default 3)\n"
            "  -j, --json OUT      also write the timings as JSON to OUT ('-' for stdout)\n"
            "  -p, --profile       print time per operator type\n" CLI_HELP_ENGINE
            "  -v, --verbose       print the execution plan\n" CLI_HELP_HELP);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile by linear interpolation between closest ranks (numpy's default). */
static double percentile(const double *sorted, int n, double q) {
    if (n == 0) return 0;
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/* Deterministic synthetic data (xorshift64*), uniform [0,1). */
static void fill_random(yq_tensor *t, uint64_t seed) {
    uint64_t s = seed * 2654435761u + 1;
    int64_t n = yq_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        double u = (double)((s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
        switch (t->dtype) {
        case YQ_DT_FLOAT: ((float *)t->data)[i] = (float)u; break;
        case YQ_DT_FLOAT16: ((uint16_t *)t->data)[i] = yq_f32_to_f16((float)u); break;
        case YQ_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(u * 256); break;
        case YQ_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)(u * 256 - 128); break;
        case YQ_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)(u * 16); break;
        case YQ_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)(u * 16); break;
        default: ((uint8_t *)t->data)[i * (int64_t)yq_dtype_size(t->dtype)] = 0; break;
        }
    }
}

int cmd_bench(int argc, char **argv) {
    static const struct option longopts[] = {
        {"threads", required_argument, 0, 't'}, {"runs", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'},  {"json", required_argument, 0, 'j'},
        {"profile", no_argument, 0, 'p'},       {"verbose", no_argument, 0, 'v'},
        {"engine", required_argument, 0, 256},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int threads = 0, runs = 20, warmup = 3, profile = 0, verbose = 0, engine = YQ_ENGINE_AUTO, c;
    const char *json_out = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:r:w:j:pvh", longopts, NULL)) != -1) {
        switch (c) {
        case 't': if (cli_parse_int("bench", "--threads", optarg, 1, 256, &threads)) return CLI_USAGE; break;
        case 'r': if (cli_parse_int("bench", "--runs", optarg, 1, 100000, &runs)) return CLI_USAGE; break;
        case 'w': if (cli_parse_int("bench", "--warmup", optarg, 0, 100000, &warmup)) return CLI_USAGE; break;
        case 'j': json_out = optarg; break;
        case 'p': profile = 1; break;
        case 256:
            if ((engine = yq_engine_parse(optarg)) < 0)
                return cli_usage("bench", "--engine must be auto or fakequant, got '%s'", optarg);
            break;
        case 'v': verbose = 1; break;
        case 'h': cmd_bench_help(stdout); return CLI_OK;
        default: return cli_usage("bench", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage("bench", "expects exactly one MODEL.onnx");
    const char *path = argv[optind];

    yq_graph *g;
    yq_status st = yq_onnx_load(path, &g);
    if (st != YQ_OK) return cli_fail(st);
    yq_session *s;
    yq_session_opts so = {.nthreads = threads, .verbose = profile ? 2 : verbose, .engine = engine};
    st = yq_session_new(g, &so, &s);
    if (st != YQ_OK) return cli_fail(st);

    int nin = yq_session_ninputs(s);
    yq_tensor *inputs = calloc((size_t)nin + 1, sizeof *inputs);
    int rc = CLI_OK;
    for (int i = 0; i < nin && rc == CLI_OK; i++) {
        const yq_value *v = yq_session_input(s, i);
        inputs[i] = yq_value_tensor(v);
        size_t nb;
        if (yq_dtype_bytes(v->dtype, yq_value_numel(v), &nb) != YQ_OK || !(inputs[i].data = malloc(nb ? nb : 1)))
            rc = cli_error("%s: cannot allocate input '%s'", path, v->name);
        else
            fill_random(&inputs[i], (uint64_t)i + 1);
    }
    double *ms = calloc((size_t)runs, sizeof *ms);
    for (int r = 0; r < warmup && rc == CLI_OK; r++)
        if ((st = yq_session_run(s, inputs, nin)) != YQ_OK) rc = cli_fail(st);
    yq_session_reset_profile(s); /* the per-op clock counts timed runs only */
    for (int r = 0; r < runs && rc == CLI_OK; r++) {
        double t0 = cli_now_ms();
        if ((st = yq_session_run(s, inputs, nin)) != YQ_OK) rc = cli_fail(st);
        ms[r] = cli_now_ms() - t0;
    }
    if (rc == CLI_OK) {
        double *sorted = malloc((size_t)runs * sizeof *sorted);
        memcpy(sorted, ms, (size_t)runs * sizeof *sorted);
        qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
        double sum = 0;
        for (int r = 0; r < runs; r++) sum += ms[r];
        double med = percentile(sorted, runs, 0.5), p90 = percentile(sorted, runs, 0.9);
        int json_stdout = json_out && !strcmp(json_out, "-");
        struct rusage ru;
        double rss_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
        if (!json_stdout)
            printf("%s: median %.2f ms  p90 %.2f ms  mean %.2f ms  min %.2f ms  peak RSS %.0f MB  (%d runs, %d warm-up, "
                   "%d threads)\n",
                   path, med, p90, sum / runs, sorted[0], rss_mb, runs, warmup, yq_session_nthreads(s));
        if (profile) yq_session_print_profile(s, stdout, runs);
        if (json_out) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "model", path);
            cJSON_AddNumberToObject(doc, "threads", yq_session_nthreads(s));
            cJSON_AddNumberToObject(doc, "runs", runs);
            cJSON_AddNumberToObject(doc, "warmup", warmup);
            cJSON_AddNumberToObject(doc, "median_ms", med);
            cJSON_AddNumberToObject(doc, "p90_ms", p90);
            cJSON_AddNumberToObject(doc, "mean_ms", sum / runs);
            cJSON_AddNumberToObject(doc, "min_ms", sorted[0]);
            cJSON_AddNumberToObject(doc, "arena_bytes", (double)yq_session_arena_bytes(s));
            struct rusage ru;
            if (getrusage(RUSAGE_SELF, &ru) == 0) cJSON_AddNumberToObject(doc, "peak_rss_mb", (double)ru.ru_maxrss / 1024.0);
            cJSON *arr = cJSON_AddArrayToObject(doc, "samples_ms");
            for (int r = 0; r < runs; r++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ms[r]));
            rc = cli_write_json(doc, json_out);
            cJSON_Delete(doc);
        }
        free(sorted);
    }
    for (int i = 0; i < nin; i++) free(inputs[i].data);
    free(inputs);
    free(ms);
    yq_session_free(s);
    return rc;
}
