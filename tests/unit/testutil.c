#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *yqt_src_dir(void) {
    const char *s = getenv("YOLOQ_SRC_DIR");
    return s ? s : ".";
}

const char *yqt_shared_dir(void) {
    static char buf[4096];
    const char *d = getenv("YOLOQ_DATA");
    if (is_dir(d)) return d;
    d = getenv("YOLOQ_SHARED_DIR");
    if (is_dir(d)) return d;
    snprintf(buf, sizeof buf, "%s/../shared", yqt_src_dir());
    return is_dir(buf) ? buf : NULL;
}

const char *yqt_shared_path(const char *rel) {
    static char buf[4096];
    const char *d = yqt_shared_dir();
    if (!d) return NULL;
    snprintf(buf, sizeof buf, "%s/%s", d, rel);
    return buf;
}

const char *yqt_tmpdir(void) {
    static char buf[256];
    if (!buf[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(buf, sizeof buf, "%s/yoloq-test-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(buf)) abort();
    }
    return buf;
}
