/* ONNX Runtime through a persistent node process (see ort_engine.h). */
#include "ort/ort_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

enum { MAX_OUTPUTS = 16 };

struct yq_ort_engine {
    pid_t pid;
    FILE *to, *from; /* node's stdin, node's stdout */
    int err_fd;      /* node's stderr: an unlinked temporary file */
    char *model;
    char version[32];
    int nout;
    yq_tensor out[MAX_OUTPUTS];
    size_t out_cap[MAX_OUTPUTS];
    char *line;
    size_t line_cap;
};

static const char server_js[] =
    "'use strict';\n"
    "const reply = (h, bufs) => { process.stdout.write(JSON.stringify(h) + '\\n');\n"
    "  for (const b of bufs || []) process.stdout.write(b); };\n"
    "let ort;\n"
    "try { ort = require('onnxruntime-node'); } catch (e) {\n"
    "  reply({error: 'onnxruntime-node not found: ' + e.message}); process.exit(3); }\n"
    "let version = '?';\n"
    "try { version = require('onnxruntime-node/package.json').version; } catch (e) {}\n"
    "const [model, threads] = process.argv.slice(1);\n"
    "let session = null, hdr = null, chunks = [], have = 0, queue = Promise.resolve();\n"
    "async function run(h, data) {\n"
    "  try {\n"
    "    const x = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));\n"
    "    const r = await session.run({[h.name]: new ort.Tensor('float32', x, h.dims)});\n"
    "    const outs = [], bufs = [];\n"
    "    for (const n of session.outputNames) {\n"
    "      const t = r[n];\n"
    "      if (t.type !== 'float32') throw new Error(`output ${n} is ${t.type}; yoloq reads float32 outputs`);\n"
    "      const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);\n"
    "      outs.push({name: n, dims: t.dims, bytes: b.length}); bufs.push(b);\n"
    "    }\n"
    "    reply({outputs: outs}, bufs);\n"
    "  } catch (e) { reply({error: String(e.message || e)}); }\n"
    "}\n"
    "function pump() {\n"
    "  for (;;) {\n"
    "    if (!hdr) {\n"
    "      const b = Buffer.concat(chunks); const i = b.indexOf(10);\n"
    "      chunks = [b]; if (i < 0) return;\n"
    "      hdr = JSON.parse(b.subarray(0, i).toString()); chunks = [b.subarray(i + 1)]; have = b.length - i - 1;\n"
    "    }\n"
    "    if (have < hdr.bytes) return;\n"
    "    const b = Buffer.concat(chunks), h = hdr, data = Buffer.from(b.subarray(0, h.bytes));\n"
    "    chunks = [b.subarray(h.bytes)]; have = b.length - h.bytes; hdr = null;\n"
    "    queue = queue.then(() => run(h, data));\n"
    "  }\n"
    "}\n"
    "ort.InferenceSession.create(model, {intraOpNumThreads: Number(threads), interOpNumThreads: 1,\n"
    "    executionProviders: ['cpu']}).then((s) => {\n"
    "  session = s;\n"
    "  reply({ready: true, version, inputs: s.inputNames, outputs: s.outputNames});\n"
    "  process.stdin.on('data', (c) => { chunks.push(c); have += c.length; pump(); });\n"
    "  process.stdin.on('end', () => { queue.then(() => process.exit(0)); });\n"
    "}).catch((e) => { reply({error: String(e.message || e)}); process.exit(1); });\n";

/* The last non-empty line node wrote to stderr, into buf (empty when none). */
static void stderr_tail(const yq_ort_engine *e, char *buf, size_t cap) {
    buf[0] = '\0';
    if (e->err_fd < 0) return;
    off_t end = lseek(e->err_fd, 0, SEEK_END);
    if (end <= 0) return;
    char tail[1024];
    off_t start = end > (off_t)sizeof tail - 1 ? end - (off_t)sizeof tail + 1 : 0;
    ssize_t n = pread(e->err_fd, tail, (size_t)(end - start), start);
    if (n > 0) yq_ort_last_line(tail, (size_t)n, buf, cap);
}

/* Reap node if it exits within ms milliseconds (e->pid = 0 then). */
static int wait_exit(yq_ort_engine *e, int ms, int *status) {
    for (int waited = 0; e->pid > 0; waited += 20) {
        pid_t r = waitpid(e->pid, status, WNOHANG);
        if (r == e->pid) e->pid = 0;
        else if ((r < 0 && errno != EINTR) || waited >= ms) break;
        else nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return e->pid == 0;
}

/* Why node stopped answering: its exit status and last stderr line. */
static yq_status node_died(yq_ort_engine *e, const char *when) {
    char tail[400];
    int status = 0;
    const int reaped = e->pid > 0 && wait_exit(e, 1000, &status);
    stderr_tail(e, tail, sizeof tail);
    char how[64] = "";
    if (reaped && WIFEXITED(status)) snprintf(how, sizeof how, " (exit status %d)", WEXITSTATUS(status));
    else if (reaped && WIFSIGNALED(status)) snprintf(how, sizeof how, " (killed by signal %d)", WTERMSIG(status));
    return yq_fail(YQ_ERR_IO, "%s: ONNX Runtime (node) stopped %s%s%s%s", e->model, when, how, tail[0] ? ": " : "",
                   tail);
}

/* Read one JSON header line. */
static yq_status read_header(yq_ort_engine *e, const char *when, cJSON **out) {
    *out = NULL;
    ssize_t n = getline(&e->line, &e->line_cap, e->from);
    if (n <= 0) return node_died(e, when);
    cJSON *j = cJSON_Parse(e->line);
    if (!j) return yq_fail(YQ_ERR_IO, "%s: ONNX Runtime (node) answered %s with unreadable text: %.80s", e->model,
                           when, e->line);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(err)) {
        yq_status st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: ONNX Runtime: %s", e->model, err->valuestring);
        cJSON_Delete(j);
        return st;
    }
    *out = j;
    return YQ_OK;
}

/* fwrite + fflush with SIGPIPE held back in this thread, so that a node that
 * died makes the write fail with EPIPE instead of killing yoloq. */
static int write_all(FILE *fp, const void *a, size_t na, const void *b, size_t nb) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int ok = fwrite(a, 1, na, fp) == na && (nb == 0 || fwrite(b, 1, nb, fp) == nb) && fflush(fp) == 0;
    if (!ok && errno == EPIPE) { /* consume the pending SIGPIPE before unblocking */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static yq_status parse_dims(const cJSON *dims, yq_tensor *t) {
    int rank = cJSON_GetArraySize(dims);
    if (!cJSON_IsArray(dims) || rank > YQ_MAX_RANK) return YQ_ERR_INVALID;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        const cJSON *d = cJSON_GetArrayItem(dims, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12) return YQ_ERR_INVALID;
        t->dims[i] = (int64_t)d->valuedouble;
    }
    return YQ_OK;
}

static void engine_free(yq_ort_engine *e) {
    if (e->to) fclose(e->to); /* node sees the end of its input and exits */
    if (e->from) fclose(e->from);
    int status;
    if (e->pid > 0 && !wait_exit(e, 5000, &status)) { /* 5 s to exit on its own */
        kill(e->pid, SIGKILL);
        while (waitpid(e->pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (e->err_fd >= 0) close(e->err_fd);
    for (int k = 0; k < MAX_OUTPUTS; k++) free(e->out[k].data);
    free(e->line);
    free(e->model);
    free(e);
}

void yq_ort_engine_close(yq_ort_engine *e) {
    if (e) engine_free(e);
}

static int temp_fd(void) {
    const char *dir = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/yoloq-ort-XXXXXX", dir && *dir ? dir : "/tmp") < 0) return -1;
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path); /* anonymous: gone when closed */
    free(path);
    return fd;
}

yq_status yq_ort_engine_open(const yq_ort_env *env, const char *model_path, int threads, yq_ort_engine **out) {
    *out = NULL;
    if (!env->node || !env->node_modules)
        return yq_fail(YQ_ERR_UNSUPPORTED, "%s: %s", model_path, env->why[0] ? env->why : "ORT not available");
    yq_ort_engine *e = calloc(1, sizeof *e);
    if (!e) return yq_fail(YQ_ERR_NOMEM, "out of memory");
    e->err_fd = -1;
    e->model = strdup(model_path);
    char *abs = realpath(model_path, NULL);
    if (!e->model || !abs) {
        yq_status st = !e->model ? yq_fail(YQ_ERR_NOMEM, "out of memory")
                                 : yq_fail(YQ_ERR_IO, "%s: %s", model_path, strerror(errno));
        free(abs);
        engine_free(e);
        return st;
    }
    int to_node[2] = {-1, -1}, from_node[2] = {-1, -1};
    char thr[16];
    snprintf(thr, sizeof thr, "%d", threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    char **envp = yq_ort_envp(env);
    e->err_fd = temp_fd();
    yq_status st = YQ_OK;
    if (!envp || e->err_fd < 0 || pipe2(to_node, O_CLOEXEC) != 0 || pipe2(from_node, O_CLOEXEC) != 0) {
        st = yq_fail(YQ_ERR_IO, "%s: cannot start ONNX Runtime (node): %s", model_path,
                     envp ? strerror(errno) : "out of memory");
    } else {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, to_node[0], 0);
        posix_spawn_file_actions_adddup2(&fa, from_node[1], 1);
        posix_spawn_file_actions_adddup2(&fa, e->err_fd, 2);
        char *argv[] = {env->node, "-e", (char *)server_js, abs, thr, NULL};
        int rc = posix_spawn(&e->pid, env->node, &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            e->pid = 0;
            st = yq_fail(YQ_ERR_IO, "%s: cannot start %s: %s", model_path, env->node, strerror(rc));
        }
    }
    yq_ort_envp_free(envp);
    free(abs);
    if (to_node[0] >= 0) close(to_node[0]);
    if (from_node[1] >= 0) close(from_node[1]);
    if (st == YQ_OK) {
        e->to = fdopen(to_node[1], "w");
        e->from = fdopen(from_node[0], "r");
        if (!e->to || !e->from) st = yq_fail(YQ_ERR_NOMEM, "out of memory");
    }
    if (!e->to && to_node[1] >= 0) close(to_node[1]);
    if (!e->from && from_node[0] >= 0) close(from_node[0]);
    cJSON *j = NULL;
    if (st == YQ_OK) st = read_header(e, "while loading the model", &j);
    if (st == YQ_OK) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
        snprintf(e->version, sizeof e->version, "%s", cJSON_IsString(v) ? v->valuestring : "?");
        int nout = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "outputs"));
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ready")) || nout < 1 || nout > MAX_OUTPUTS)
            st = yq_fail(YQ_ERR_UNSUPPORTED, "%s: ONNX Runtime session has %d outputs (yoloq reads 1 to %d)",
                         model_path, nout, MAX_OUTPUTS);
        e->nout = nout;
    }
    cJSON_Delete(j);
    if (st != YQ_OK) {
        engine_free(e);
        return st;
    }
    *out = e;
    return YQ_OK;
}

yq_status yq_ort_engine_run(yq_ort_engine *e, const char *input_name, const yq_tensor *input) {
    if (input->dtype != YQ_DT_FLOAT) return yq_fail(YQ_ERR_ARG, "%s: ORT engine inputs are float32", e->model);
    size_t bytes = (size_t)yq_tensor_numel(input) * sizeof(float);
    cJSON *req = cJSON_CreateObject();
    cJSON *dims = req ? cJSON_AddArrayToObject(req, "dims") : NULL;
    for (int i = 0; dims && i < input->rank; i++)
        cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)input->dims[i]));
    cJSON_AddStringToObject(req, "name", input_name);
    cJSON_AddNumberToObject(req, "bytes", (double)bytes);
    char *text = dims ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!text) return yq_fail(YQ_ERR_NOMEM, "out of memory");
    int ok = write_all(e->to, text, strlen(text), "\n", 1) && write_all(e->to, input->data, bytes, NULL, 0);
    free(text);
    if (!ok) return node_died(e, "before taking an input");
    cJSON *j = NULL;
    YQ_TRY(read_header(e, "while running the model", &j));
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(j, "outputs");
    yq_status st = YQ_OK;
    if (cJSON_GetArraySize(outs) != e->nout)
        st = yq_fail(YQ_ERR_IO, "%s: ONNX Runtime returned %d outputs, expected %d", e->model,
                     cJSON_GetArraySize(outs), e->nout);
    /* read every announced payload even after a bad one, so the stream stays in step */
    for (int k = 0; k < e->nout && st == YQ_OK; k++) {
        const cJSON *o = cJSON_GetArrayItem(outs, k);
        const cJSON *nb = cJSON_GetObjectItemCaseSensitive(o, "bytes");
        yq_tensor *t = &e->out[k];
        t->dtype = YQ_DT_FLOAT;
        if (!cJSON_IsNumber(nb) || parse_dims(cJSON_GetObjectItemCaseSensitive(o, "dims"), t) != YQ_OK ||
            (double)yq_tensor_numel(t) * sizeof(float) != nb->valuedouble) {
            st = yq_fail(YQ_ERR_IO, "%s: ONNX Runtime output %d has an inconsistent header", e->model, k);
            break;
        }
        size_t n = (size_t)nb->valuedouble;
        if (n > e->out_cap[k]) {
            void *p = realloc(t->data, n);
            if (!p) {
                st = yq_fail(YQ_ERR_NOMEM, "out of memory");
                break;
            }
            t->data = p;
            e->out_cap[k] = n;
        }
        if (n && fread(t->data, 1, n, e->from) != n) st = node_died(e, "while sending outputs");
    }
    cJSON_Delete(j);
    return st;
}

int yq_ort_engine_noutputs(const yq_ort_engine *e) { return e->nout; }
const yq_tensor *yq_ort_engine_output(const yq_ort_engine *e, int k) {
    return k >= 0 && k < e->nout ? &e->out[k] : NULL;
}
const char *yq_ort_engine_version(const yq_ort_engine *e) { return e->version; }
