/* The environment record of a run (see env.h). Everything here is read from
 * the running system or fixed at build time; nothing is guessed. */
#include "pipeline/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <protobuf-c/protobuf-c.h>
#include <spng.h>
#if __has_include(<jconfig.h>)
#include <jconfig.h>
#endif
#ifdef YOLOQ_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "core/pool.h"
#include "yq_build_info.h"

const char *yq_build_commit(void) { return YOLOQ_GIT_COMMIT; }

/* The value of the first "key : value" line of a /proc-style file (malloc'd), or NULL. */
static char *read_key(const char *path, const char *key) {
    FILE *fp = fopen(path, "r");
    if (!fp) return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0, klen = strlen(key);
    while (getline(&line, &cap, fp) > 0) {
        if (strncmp(line, key, klen) != 0) continue;
        char *p = line + klen;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != ':' && *p != '=') continue;
        p++;
        while (*p == ' ' || *p == '"') p++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == '\n' || p[n - 1] == '"' || p[n - 1] == ' ')) n--;
        out = strndup(p, n);
        break;
    }
    free(line);
    fclose(fp);
    return out;
}

/* The ISA flags that decide which kernels run. */
static cJSON *isa_flags(void) {
    static const char *const wanted[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                                         "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", NULL};
    cJSON *arr = cJSON_CreateArray();
    char *flags = read_key("/proc/cpuinfo", "flags");
    if (!arr || !flags) {
        free(flags);
        return arr;
    }
    for (int i = 0; wanted[i]; i++) {
        size_t n = strlen(wanted[i]);
        for (const char *p = flags; (p = strstr(p, wanted[i])) != NULL; p += n)
            if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                cJSON_AddItemToArray(arr, cJSON_CreateString(wanted[i]));
                break;
            }
    }
    free(flags);
    return arr;
}

cJSON *yq_env_json(int threads) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON *y = cJSON_AddObjectToObject(doc, "yoloq");
    cJSON_AddStringToObject(y, "version", YOLOQ_VERSION);
    cJSON_AddStringToObject(y, "git_commit", YOLOQ_GIT_COMMIT);
#if defined(__clang__)
    cJSON_AddStringToObject(doc, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    cJSON_AddStringToObject(doc, "compiler", "gcc " __VERSION__);
#else
    cJSON_AddStringToObject(doc, "compiler", "unknown");
#endif
#ifdef NDEBUG
    cJSON_AddStringToObject(doc, "build", "release");
#else
    cJSON_AddStringToObject(doc, "build", "debug");
#endif
    cJSON *deps = cJSON_AddObjectToObject(doc, "dependencies");
    cJSON_AddStringToObject(deps, "cjson", cJSON_Version());
    cJSON_AddStringToObject(deps, "protobuf-c", protobuf_c_version());
    cJSON_AddStringToObject(deps, "libspng", spng_version_string());
#ifdef LIBJPEG_TURBO_VERSION
#define YQ_STR2(x) #x
#define YQ_STR(x) YQ_STR2(x)
    cJSON_AddStringToObject(deps, "libjpeg-turbo", YQ_STR(LIBJPEG_TURBO_VERSION));
#endif
#ifdef YOLOQ_HAVE_DNNL
    {
        const dnnl_version_t *v = dnnl_version();
        char buf[64];
        snprintf(buf, sizeof buf, "%d.%d.%d (linked, not used by default)", v->major, v->minor, v->patch);
        cJSON_AddStringToObject(deps, "onednn", buf);
    }
#endif
    cJSON *cpu = cJSON_AddObjectToObject(doc, "cpu");
    char *model = read_key("/proc/cpuinfo", "model name");
    cJSON_AddStringToObject(cpu, "model", model ? model : "unknown");
    free(model);
    cJSON_AddNumberToObject(cpu, "cores_online", yq_cpu_count());
    cJSON_AddItemToObject(cpu, "isa_flags", isa_flags());
    cJSON_AddNumberToObject(doc, "threads", threads > 0 ? threads : yq_cpu_count());
    cJSON *os = cJSON_AddObjectToObject(doc, "os");
    struct utsname u;
    if (uname(&u) == 0) {
        cJSON_AddStringToObject(os, "kernel", u.sysname);
        cJSON_AddStringToObject(os, "release", u.release);
        cJSON_AddStringToObject(os, "machine", u.machine);
    }
    char *pretty = read_key("/etc/os-release", "PRETTY_NAME");
    if (pretty) cJSON_AddStringToObject(os, "distribution", pretty);
    free(pretty);
    return doc;
}
