/* Where ONNX Runtime is: yoloq contains no ONNX Runtime. Checks against it
 * (the pipeline's validation step) and evaluation on it (`yoloq eval
 * --engine ort`) run node with the npm package onnxruntime-node (CPU EP) as a
 * separate process.
 *
 * Where onnxruntime-node is looked for (first hit): $YOLOQ_ORT_NODE_PATH (a
 * node_modules folder); node_modules next to the yoloq executable; the
 * source tree's tests/parity/node_modules seen from the executable
 * (build/yoloq → ../tests/parity) and from the working directory. node is
 * $YOLOQ_NODE or `node` on PATH. */
#ifndef YQ_ORT_ORT_ENV_H
#define YQ_ORT_ORT_ENV_H

#include <stddef.h>

typedef struct yq_ort_env {
    char *node;         /* NULL when not found */
    char *node_modules; /* folder holding onnxruntime-node; NULL when not found */
    char why[256];      /* why ORT is not available */
} yq_ort_env;

/* Returns 1 when both were found; otherwise env->why says what is missing. */
int yq_ort_find(yq_ort_env *env);
void yq_ort_env_free(yq_ort_env *env);

/* The process environment with NODE_PATH set to env->node_modules, for
 * posix_spawn: a NULL-terminated array whose strings are borrowed from
 * `environ` except the last one. Free with yq_ort_envp_free. NULL when out of
 * memory. */
char **yq_ort_envp(const yq_ort_env *env);
void yq_ort_envp_free(char **envp);

/* The last non-empty line of node's output text[0..len) into buf (empty when
 * none): what ORT or node said last, for error messages. */
void yq_ort_last_line(const char *text, size_t len, char *buf, size_t cap);

#endif
