/* Runs the ONNX backend node tests (Debian libonnx-testdata: <case>/model.onnx +
 * test_data_set_N/{input,output}_K.pb) through yoloq's loader and runtime.
 *
 *   tool_node_tests DATA_DIR EXCLUSIONS_FILE [--verbose] [CASE_SUBSTRING]
 *
 * A case is in scope when every operator of its model is in yoloq's op table.
 * In-scope cases must pass (outputs within rtol 1e-3, atol 1e-7 — the ONNX
 * backend test tolerances — integers and bools exactly) unless listed in the
 * exclusions file with a reason. Exit status 1 if any in-scope case that is
 * not excluded fails, or if an excluded case now passes (so the list stays
 * honest). Prints one line per failure and the counts. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx/onnx.h"
#include "rt/ops.h"
#include "rt/session.h"

#define MAX_IO 64

typedef struct exclusion {
    char name[256];
    char reason[512];
    int seen;
} exclusion;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static exclusion *load_exclusions(const char *path, int *n) {
    *n = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) return NULL;
    exclusion *ex = NULL;
    char line[1024];
    while (fgets(line, sizeof line, fp)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || !*p) continue;
        ex = realloc(ex, (size_t)(*n + 1) * sizeof *ex);
        exclusion *e = &ex[(*n)++];
        memset(e, 0, sizeof *e);
        char *sp = strpbrk(p, " \t\n");
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        snprintf(e->name, sizeof e->name, "%.*s", (int)len, p);
        if (sp) {
            while (*sp == ' ' || *sp == '\t') sp++;
            snprintf(e->reason, sizeof e->reason, "%s", sp);
            e->reason[strcspn(e->reason, "\n")] = 0;
        }
    }
    fclose(fp);
    return ex;
}

/* 1 if all ops of the model are known to yoloq; else sets *missing. */
static int in_scope(const yq_graph *g, const char **missing) {
    for (int i = 0; i < g->nnodes; i++) {
        int op = yq_op_lookup(g->nodes[i].domain, g->nodes[i].op_type);
        const yq_op_vtable *vt = op >= 0 ? yq_op_get(op) : NULL;
        if (!vt || !vt->run) {
            *missing = g->nodes[i].op_type;
            return 0;
        }
    }
    return 1;
}

static int compare(const yq_tensor *exp, const yq_tensor *got, char *why, size_t whylen) {
    if (exp->dtype != got->dtype) {
        snprintf(why, whylen, "dtype %s, expected %s", yq_dtype_name(got->dtype), yq_dtype_name(exp->dtype));
        return 0;
    }
    if (exp->rank != got->rank) {
        snprintf(why, whylen, "rank %d, expected %d", got->rank, exp->rank);
        return 0;
    }
    for (int d = 0; d < exp->rank; d++)
        if (exp->dims[d] != got->dims[d]) {
            snprintf(why, whylen, "dim %d is %lld, expected %lld", d, (long long)got->dims[d],
                     (long long)exp->dims[d]);
            return 0;
        }
    int64_t n = yq_tensor_numel(exp);
    for (int64_t i = 0; i < n; i++) {
        if (yq_dtype_is_float(exp->dtype)) {
            double e = yq_elem_as_double(exp->dtype, exp->data, i), a = yq_elem_as_double(got->dtype, got->data, i);
            if (isnan(e) && isnan(a)) continue;
            if (isinf(e) && e == a) continue;
            if (!(fabs(a - e) <= 1e-7 + 1e-3 * fabs(e))) {
                snprintf(why, whylen, "element %lld is %.9g, expected %.9g", (long long)i, a, e);
                return 0;
            }
        } else {
            size_t es = yq_dtype_size(exp->dtype);
            if (memcmp((const char *)exp->data + i * (int64_t)es, (const char *)got->data + i * (int64_t)es, es)) {
                snprintf(why, whylen, "element %lld is %lld, expected %lld", (long long)i,
                         (long long)yq_elem_as_int64(got->dtype, got->data, i),
                         (long long)yq_elem_as_int64(exp->dtype, exp->data, i));
                return 0;
            }
        }
    }
    return 1;
}

/* Load numbered tensors prefix_0.pb, prefix_1.pb, ... from dir. */
static int load_set(const char *dir, const char *prefix, yq_tensor *ts, int *n) {
    *n = 0;
    for (int k = 0; k < MAX_IO; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%.3900s/%.20s_%d.pb", dir, prefix, k);
        if (!file_exists(p)) break;
        if (yq_onnx_load_tensor_file(p, &ts[k], NULL) != YQ_OK) return -1;
        (*n)++;
    }
    return 0;
}

/* ONNX 1.12's test data stores bfloat16 tensors as uint16: relabel them after
 * the type the model declares. */
static void relabel_bf16(yq_tensor *t, yq_dtype declared) {
    if (t->dtype == YQ_DT_UINT16 && declared == YQ_DT_BFLOAT16) t->dtype = YQ_DT_BFLOAT16;
}

/* Build a session for one data set. yoloq plans memory statically, so where a
 * shape-like input (integer: Reshape's shape, Slice's starts, ...) is fed by
 * the test, the second attempt binds the shape-like inputs (integer, or of
 * rank <= 1: scales, roi, Range's scalars) as constants — the model
 * specialised to this data, as a user would with static shapes. */
static int make_session(const char *model, yq_tensor *in, int nin, int bind_ints, yq_session **s, yq_tensor *feed,
                        int *nfeed, char *why, size_t whylen) {
    yq_graph *g;
    *s = NULL;
    if (yq_onnx_load(model, &g) != YQ_OK) {
        snprintf(why, whylen, "load: %s", yq_last_error());
        return 0;
    }
    if (g->ninputs != nin) {
        snprintf(why, whylen, "model has %d inputs, test data %d", g->ninputs, nin);
        yq_graph_free(g);
        return 0;
    }
    int kept = 0;
    *nfeed = 0;
    for (int k = 0; k < nin; k++) {
        yq_value *v = &g->values[g->inputs[k]];
        relabel_bf16(&in[k], v->dtype);
        if (bind_ints && (yq_dtype_is_integer(in[k].dtype) || in[k].rank <= 1)) {
            size_t nb;
            void *copy = NULL;
            if (yq_dtype_bytes(in[k].dtype, yq_tensor_numel(&in[k]), &nb) == YQ_OK && (copy = malloc(nb ? nb : 1)))
                memcpy(copy, in[k].data, nb);
            yq_value_set_data(v, in[k].dtype, in[k].rank, in[k].dims, copy, nb);
            v->flags &= ~(unsigned)YQ_VAL_INPUT;
            continue;
        }
        v->dtype = in[k].dtype;
        v->rank = in[k].rank;
        for (int dd = 0; dd < in[k].rank; dd++) v->dims[dd] = in[k].dims[dd];
        g->inputs[kept++] = g->inputs[k];
        feed[(*nfeed)++] = in[k];
    }
    g->ninputs = kept;
    yq_session_opts so = {.nthreads = 2};
    if (yq_session_new(g, &so, s) != YQ_OK) {
        snprintf(why, whylen, "prepare: %s", yq_last_error());
        *s = NULL;
        return 0;
    }
    return 1;
}

/* Returns 1 pass, 0 fail (why set). */
static int run_case(const char *casedir, char *why, size_t whylen) {
    char model[4096];
    snprintf(model, sizeof model, "%.4000s/model.onnx", casedir);
    DIR *d = opendir(casedir);
    if (!d) {
        snprintf(why, whylen, "cannot open");
        return 0;
    }
    char *sets[64];
    int nsets = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nsets < 64)
        if (!strncmp(de->d_name, "test_data_set_", 14)) sets[nsets++] = strdup(de->d_name);
    closedir(d);
    qsort(sets, (size_t)nsets, sizeof *sets, cmp_str);
    int ok = 1;
    for (int si = 0; si < nsets && ok; si++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%.3800s/%.200s", casedir, sets[si]);
        yq_tensor in[MAX_IO], exp[MAX_IO], feed[MAX_IO];
        int nin = 0, nexp = 0, nfeed = 0;
        memset(in, 0, sizeof in);
        memset(exp, 0, sizeof exp);
        yq_session *s = NULL;
        if (load_set(sdir, "input", in, &nin) || load_set(sdir, "output", exp, &nexp)) {
            snprintf(why, whylen, "%s: cannot read test data: %s", sets[si], yq_last_error());
            ok = 0;
        } else if (!make_session(model, in, nin, 0, &s, feed, &nfeed, why, whylen) &&
                   (!strstr(why, "must be a constant") ||
                    !make_session(model, in, nin, 1, &s, feed, &nfeed, why, whylen))) {
            ok = 0;
        } else if (yq_session_run(s, feed, nfeed) != YQ_OK) {
            snprintf(why, whylen, "run: %s", yq_last_error());
            ok = 0;
        } else if (yq_session_noutputs(s) != nexp) {
            snprintf(why, whylen, "%d outputs, expected %d", yq_session_noutputs(s), nexp);
            ok = 0;
        } else {
            for (int k = 0; k < nexp && ok; k++) {
                char w[512];
                relabel_bf16(&exp[k], yq_session_output(s, k)->dtype);
                if (!compare(&exp[k], yq_session_output(s, k), w, sizeof w)) {
                    snprintf(why, whylen, "%s output %d: %s", sets[si], k, w);
                    ok = 0;
                }
            }
        }
        yq_session_free(s);
        for (int k = 0; k < nin; k++) free(in[k].data);
        for (int k = 0; k < nexp; k++) free(exp[k].data);
    }
    for (int si = 0; si < nsets; si++) free(sets[si]);
    if (nsets == 0 && ok) {
        snprintf(why, whylen, "no test data sets");
        return 0;
    }
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATA_DIR EXCLUSIONS_FILE [--verbose] [CASE_SUBSTRING]\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    int verbose = 0;
    const char *filter = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else
            filter = argv[i];
    }
    int nex;
    exclusion *ex = load_exclusions(argv[2], &nex);
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "%s: cannot open the node test folder\n", root);
        return 2;
    }
    char **cases = NULL;
    int ncases = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "test_", 5)) continue;
        if (filter && !strstr(de->d_name, filter)) continue;
        cases = realloc(cases, (size_t)(ncases + 1) * sizeof *cases);
        cases[ncases++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(cases, (size_t)ncases, sizeof *cases, cmp_str);

    int pass = 0, fail = 0, excluded = 0, out_of_scope = 0, unexpected_pass = 0;
    for (int c = 0; c < ncases; c++) {
        char casedir[4096], model[4096];
        snprintf(casedir, sizeof casedir, "%.3800s/%.200s", root, cases[c]);
        snprintf(model, sizeof model, "%.4000s/model.onnx", casedir);
        exclusion *e = NULL;
        for (int k = 0; k < nex; k++)
            if (!strcmp(ex[k].name, cases[c])) e = &ex[k];
        yq_graph *g = NULL;
        const char *missing = NULL;
        int scope = 1;
        char missing_buf[128] = "";
        if (yq_onnx_load(model, &g) == YQ_OK) {
            scope = in_scope(g, &missing);
            if (!scope) snprintf(missing_buf, sizeof missing_buf, "%s", missing);
            yq_graph_free(g);
        }
        if (!scope) {
            out_of_scope++;
            if (verbose) printf("SKIP  %s (operator %s not in yoloq's op table)\n", cases[c], missing_buf);
            if (e) e->seen = 1;
            continue;
        }
        char why[1024] = "";
        int ok = run_case(casedir, why, sizeof why);
        if (e) {
            e->seen = 1;
            if (ok) {
                unexpected_pass++;
                printf("XPASS %s (listed as excluded: %s) — remove it from the exclusions\n", cases[c], e->reason);
            } else {
                excluded++;
                if (verbose) printf("XFAIL %s: %s [excluded: %s]\n", cases[c], why, e->reason);
            }
            continue;
        }
        if (ok) {
            pass++;
            if (verbose) printf("PASS  %s\n", cases[c]);
        } else {
            fail++;
            printf("FAIL  %s: %s\n", cases[c], why);
        }
    }
    printf("ONNX node tests: %d in scope passed, %d failed, %d excluded (listed with reasons), %d out of scope "
           "(operators yoloq does not implement), %d total\n",
           pass, fail, excluded, out_of_scope, ncases);
    printf("%d passed, %d failed\n", pass, fail + unexpected_pass);
    for (int c = 0; c < ncases; c++) free(cases[c]);
    free(cases);
    free(ex);
    return (fail || unexpected_pass) ? 1 : 0;
}
