/* ONNX Runtime cross-check through node (see ort_check.h). */
#include "pipeline/ort_check.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic_file.h"

const char yq_ort_script[] =
    "// Written by yoloq pipeline: runs a model in ONNX Runtime (CPU EP) on raw float32 inputs.\n"
    "//   node ort_validate.js MODEL THREADS OUT_DIR INPUT_NAME D0xD1x... IN0.bin [IN1.bin ...]\n"
    "// Writes OUT_DIR/out<k>_<j>.bin: output j of input k, raw float32.\n"
    "'use strict';\n"
    "const fs = require('fs');\n"
    "let ort;\n"
    "try { ort = require('onnxruntime-node'); } catch (e) {\n"
    "  console.error('onnxruntime-node not found: ' + e.message); process.exit(3);\n"
    "}\n"
    "async function main() {\n"
    "  const [model, threads, outDir, inName, dimStr, ...files] = process.argv.slice(2);\n"
    "  const dims = dimStr.split('x').map(Number);\n"
    "  const s = await ort.InferenceSession.create(model, {\n"
    "    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionProviders: ['cpu']});\n"
    "  for (let k = 0; k < files.length; k++) {\n"
    "    const b = fs.readFileSync(files[k]);\n"
    "    const d = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));\n"
    "    const r = await s.run({[inName]: new ort.Tensor('float32', d, dims)});\n"
    "    s.outputNames.forEach((n, j) => {\n"
    "      const t = r[n];\n"
    "      if (t.type !== 'float32') throw new Error(`output ${n} is ${t.type}, not float32`);\n"
    "      fs.writeFileSync(`${outDir}/out${k}_${j}.bin`, Buffer.from(t.data.buffer, t.data.byteOffset, "
    "t.data.byteLength));\n"
    "    });\n"
    "  }\n"
    "  console.log('onnxruntime-node ran ' + files.length + ' input(s)');\n"
    "}\n"
    "main().catch((e) => { console.error('ORT: ' + e.message); process.exit(1); });\n";

/* Run node with NODE_PATH set; stdout+stderr to out_path. Returns the exit
 * status (-1 when it could not start). */
static int run_node(const yq_ort_env *env, char *const argv[], const char *out_path) {
    char **envp = yq_ort_envp(env);
    if (!envp) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, env->node, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    yq_ort_envp_free(envp);
    if (rc != 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The last non-empty line of a text file, into buf. */
static void last_line(const char *path, char *buf, size_t cap) {
    unsigned char *data = NULL;
    size_t len = 0;
    buf[0] = '\0';
    if (yq_read_file(path, &data, &len) != YQ_OK) return;
    yq_ort_last_line((const char *)data, len, buf, cap);
    free(data);
}

static void append_file(FILE *log, const char *path) {
    unsigned char *data = NULL;
    size_t len = 0;
    if (!log || yq_read_file(path, &data, &len) != YQ_OK) return;
    fwrite(data, 1, len, log);
    free(data);
}

/* For every yoloq detection scoring above YQ_ORT_MATCH_SCORE, the ORT row of
 * the same class whose box is nearest (largest coordinate difference
 * smallest); records the largest box and score differences over them. */
static void compare_end2end(const float *a, const float *b, int64_t k, yq_ort_result *res) {
    for (int64_t i = 0; i < k; i++) {
        const float *r = a + 6 * i;
        if (!(r[4] > YQ_ORT_MATCH_SCORE)) continue;
        res->matched++;
        double best = INFINITY, best_score = INFINITY;
        for (int64_t j = 0; j < k; j++) {
            const float *q = b + 6 * j;
            if (q[5] != r[5]) continue;
            double d = 0;
            for (int c = 0; c < 4; c++) d = fmax(d, fabs((double)r[c] - (double)q[c]));
            if (d < best) {
                best = d;
                best_score = fabs((double)r[4] - (double)q[4]);
            }
        }
        if (!(best <= res->max_box_diff)) res->max_box_diff = best;
        if (!(best_score <= res->max_score_diff)) res->max_score_diff = best_score;
        for (int c = 0; c < 4; c++)
            if (fabs((double)r[c]) > res->max_abs_out) res->max_abs_out = fabs((double)r[c]);
    }
    res->max_abs_diff = fmax(res->max_abs_diff, fmax(res->max_box_diff, res->max_score_diff));
}

yq_status yq_ort_compare(const yq_ort_env *env, const char *model, yq_session *session, const float *const *inputs,
                         int ninputs, int h, int w, int threads, const char *work_dir, FILE *log, yq_ort_result *res) {
    memset(res, 0, sizeof *res);
    if (!env->node || !env->node_modules) {
        res->status = YQ_ORT_UNAVAILABLE;
        snprintf(res->message, sizeof res->message, "%s", env->why[0] ? env->why : "ORT not available");
        return YQ_OK;
    }
    if (mkdir(work_dir, 0755) != 0 && errno != EEXIST)
        return yq_fail(YQ_ERR_IO, "%s: cannot create folder: %s", work_dir, strerror(errno));
    const size_t numel = (size_t)3 * (size_t)h * (size_t)w;
    char *script = NULL, *out_txt = NULL, *model_abs = NULL, dims[64], thr[16];
    char **in_paths = calloc((size_t)ninputs, sizeof *in_paths);
    char **argv = calloc((size_t)ninputs + 8, sizeof *argv);
    yq_status st = YQ_OK;
    if (!in_paths || !argv || asprintf(&script, "%s/ort_validate.js", work_dir) < 0 ||
        asprintf(&out_txt, "%s/node.out", work_dir) < 0) {
        st = yq_fail(YQ_ERR_NOMEM, "out of memory");
        goto done;
    }
    model_abs = realpath(model, NULL);
    if (!model_abs) {
        st = yq_fail(YQ_ERR_IO, "%s: %s", model, strerror(errno));
        goto done;
    }
    if ((st = yq_write_file_atomic(script, yq_ort_script, strlen(yq_ort_script))) != YQ_OK) goto done;
    for (int k = 0; k < ninputs && st == YQ_OK; k++) {
        if (asprintf(&in_paths[k], "%s/in%d.bin", work_dir, k) < 0) {
            in_paths[k] = NULL;
            st = yq_fail(YQ_ERR_NOMEM, "out of memory");
            break;
        }
        st = yq_write_file_atomic(in_paths[k], inputs[k], numel * sizeof(float));
    }
    if (st != YQ_OK) goto done;
    const yq_value *in0 = yq_session_input(session, 0);
    snprintf(dims, sizeof dims, "1x3x%dx%d", h, w);
    snprintf(thr, sizeof thr, "%d", threads > 0 ? threads : 1);
    int a = 0;
    argv[a++] = (char *)env->node;
    argv[a++] = script;
    argv[a++] = model_abs;
    argv[a++] = thr;
    argv[a++] = (char *)work_dir;
    argv[a++] = in0->name;
    argv[a++] = dims;
    for (int k = 0; k < ninputs; k++) argv[a++] = in_paths[k];
    argv[a] = NULL;
    int rc = run_node(env, argv, out_txt);
    append_file(log, out_txt);
    if (rc != 0) {
        char line[400];
        last_line(out_txt, line, sizeof line);
        res->status = rc == 3 ? YQ_ORT_UNAVAILABLE : YQ_ORT_FAILED;
        if (rc < 0) snprintf(res->message, sizeof res->message, "could not start %s", env->node);
        else snprintf(res->message, sizeof res->message, "%s", line[0] ? line : "node failed without a message");
        goto done;
    }
    /* yoloq on the same inputs, output by output */
    const int nout = yq_session_noutputs(session);
    for (int k = 0; k < ninputs && st == YQ_OK; k++) {
        yq_tensor t = {.dtype = YQ_DT_FLOAT, .rank = 4, .dims = {1, 3, h, w}, .data = (void *)inputs[k]};
        if ((st = yq_session_run(session, &t, 1)) != YQ_OK) break;
        for (int j = 0; j < nout && st == YQ_OK; j++) {
            const yq_tensor *o = yq_session_output(session, j);
            char *p = NULL;
            unsigned char *data = NULL;
            size_t len = 0;
            if (asprintf(&p, "%s/out%d_%d.bin", work_dir, k, j) < 0) {
                st = yq_fail(YQ_ERR_NOMEM, "out of memory");
                break;
            }
            yq_status rs = yq_read_file(p, &data, &len);
            remove(p);
            free(p);
            int64_t n = yq_tensor_numel(o);
            if (rs != YQ_OK || o->dtype != YQ_DT_FLOAT || len != (size_t)n * sizeof(float)) {
                res->status = YQ_ORT_FAILED;
                snprintf(res->message, sizeof res->message, "output %d: ORT gave %zu bytes, yoloq %lld floats", j,
                         rs == YQ_OK ? len : 0, (long long)n);
                free(data);
                goto done;
            }
            const float *x = o->data, *y = (const float *)data;
            if (o->rank == 3 && o->dims[0] == 1 && o->dims[2] == 6) {
                /* end2end rows (x1,y1,x2,y2,score,class) come out in score order, and near-equal
                 * scores swap between engines: compare matched detections instead of rows */
                compare_end2end(x, y, o->dims[1], res);
                res->end2end = 1;
            } else {
                for (int64_t e = 0; e < n; e++) {
                    double d = fabs((double)x[e] - (double)y[e]);
                    if (!(d <= res->max_abs_diff)) res->max_abs_diff = isnan(d) ? INFINITY : d;
                    if (fabs((double)x[e]) > res->max_abs_out) res->max_abs_out = fabs((double)x[e]);
                }
            }
            free(data);
        }
        res->ninputs = k + 1;
    }
    if (st == YQ_OK) res->status = YQ_ORT_RAN;
done:
    for (int k = 0; k < ninputs && in_paths; k++)
        if (in_paths[k]) {
            remove(in_paths[k]);
            free(in_paths[k]);
        }
    if (out_txt) remove(out_txt);
    free(in_paths);
    free(argv);
    free(script);
    free(out_txt);
    free(model_abs);
    return st;
}
