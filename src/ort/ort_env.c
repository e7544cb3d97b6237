/* Finding node and onnxruntime-node (see ort_env.h). */
#include "ort/ort_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static char *find_node(void) {
    const char *env = getenv("YOLOQ_NODE");
    if (env && *env) return access(env, X_OK) == 0 ? strdup(env) : NULL;
    const char *path = getenv("PATH");
    if (!path) return NULL;
    char *copy = strdup(path), *save = NULL, *out = NULL;
    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !out; dir = strtok_r(NULL, ":", &save)) {
        char *cand = NULL;
        if (asprintf(&cand, "%s/node", *dir ? dir : ".") < 0) break;
        if (access(cand, X_OK) == 0) out = cand;
        else free(cand);
    }
    free(copy);
    return out;
}

static char *modules_if_present(const char *dir) {
    char *p = NULL;
    if (asprintf(&p, "%s/onnxruntime-node", dir) < 0) return NULL;
    int ok = is_dir(p);
    free(p);
    return ok ? realpath(dir, NULL) : NULL;
}

static char *find_modules(void) {
    const char *env = getenv("YOLOQ_ORT_NODE_PATH");
    if (env && *env) return modules_if_present(env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *found = NULL;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const rel[] = {"node_modules", "../tests/parity/node_modules",
                                          "../../tests/parity/node_modules", "../share/yoloq/node_modules", NULL};
        for (int i = 0; rel[i] && !found; i++) {
            char *cand = NULL;
            if (asprintf(&cand, "%s/%s", exe, rel[i]) < 0) return NULL;
            found = modules_if_present(cand);
            free(cand);
        }
    }
    if (!found) found = modules_if_present("tests/parity/node_modules");
    return found;
}

int yq_ort_find(yq_ort_env *env) {
    memset(env, 0, sizeof *env);
    env->node = find_node();
    env->node_modules = find_modules();
    if (!env->node) snprintf(env->why, sizeof env->why, "ORT not available: node not found on PATH");
    else if (!env->node_modules)
        snprintf(env->why, sizeof env->why,
                 "ORT not available: onnxruntime-node not found (set YOLOQ_ORT_NODE_PATH to its node_modules)");
    return env->node && env->node_modules;
}

void yq_ort_env_free(yq_ort_env *env) {
    free(env->node);
    free(env->node_modules);
    memset(env, 0, sizeof *env);
}

char **yq_ort_envp(const yq_ort_env *env) {
    size_t nenv = 0;
    while (environ[nenv]) nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp);
    char *node_path = NULL;
    if (!envp || asprintf(&node_path, "NODE_PATH=%s", env->node_modules ? env->node_modules : "") < 0) {
        free(envp);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "NODE_PATH=", 10) != 0) envp[k++] = environ[i];
    envp[k++] = node_path;
    envp[k] = NULL;
    return envp;
}

void yq_ort_envp_free(char **envp) {
    if (!envp) return;
    size_t k = 0;
    while (envp[k]) k++;
    if (k) free(envp[k - 1]); /* NODE_PATH=..., the only string we own */
    free(envp);
}

void yq_ort_last_line(const char *text, size_t len, char *buf, size_t cap) {
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    size_t start = len;
    while (start && text[start - 1] != '\n') start--;
    snprintf(buf, cap, "%.*s", (int)(len - start), text + start);
}
