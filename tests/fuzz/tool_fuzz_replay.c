/* Replays saved fuzz inputs (crash reproducers and seeds) through the fuzz
 * targets' code in the normal build, so every past finding stays a test:
 *   tool_fuzz_replay TARGET PATH...
 * TARGET is onnx_model, coco_json, image or recipe; a PATH may be a file or a
 * folder (every regular file in it, sorted). A crash, sanitizer report or an
 * internal error aborts; otherwise it prints how many inputs ran and exits 0. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../fuzz/fuzz_targets.h"
#include "core/atomic_file.h"

typedef int (*target_fn)(const uint8_t *, size_t);

static int run_file(target_fn fn, const char *path) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if (yq_read_file(path, &buf, &len) != YQ_OK) {
        fprintf(stderr, "tool_fuzz_replay: %s\n", yq_last_error());
        return -1;
    }
    fn(buf, len);
    free(buf);
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_path(target_fn fn, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "tool_fuzz_replay: %s: no such file or folder\n", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) return run_file(fn, path);
    DIR *d = opendir(path);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) abort();
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode)) {
            int r = run_file(fn, full);
            if (r < 0) count = -1;
            else if (count >= 0) count += r;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tool_fuzz_replay onnx_model|coco_json|image|recipe PATH...\n");
        return 2;
    }
    target_fn fn = !strcmp(argv[1], "onnx_model") ? yq_fuzz_onnx_model
                   : !strcmp(argv[1], "coco_json") ? yq_fuzz_coco_json
                   : !strcmp(argv[1], "image")     ? yq_fuzz_image
                   : !strcmp(argv[1], "recipe")    ? yq_fuzz_recipe
                                                   : NULL;
    if (!fn) {
        fprintf(stderr, "tool_fuzz_replay: unknown target '%s'\n", argv[1]);
        return 2;
    }
    int total = 0;
    for (int i = 2; i < argc; i++) {
        int r = run_path(fn, argv[i]);
        if (r < 0) return 1;
        total += r;
    }
    printf("%s: %d input(s) replayed cleanly\n", argv[1], total);
    return 0;
}
