#include "core/atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder part of `path` (with its trailing '/') and the file name. */
static void split_path(const char *path, size_t *dirlen, const char **name) {
    const char *slash = strrchr(path, '/');
    *dirlen = slash ? (size_t)(slash - path + 1) : 0;
    *name = slash ? slash + 1 : path;
}

/* If `entry` is `.NAME.yoloq-tmp.PID.XXXXXX` for this NAME, its PID; else 0. */
static long tmp_writer_pid(const char *entry, const char *name) {
    size_t nlen = strlen(name), tlen = strlen(YQ_ATOMIC_TMP_TAG);
    if (entry[0] != '.' || strncmp(entry + 1, name, nlen) != 0) return 0;
    const char *p = entry + 1 + nlen;
    if (strncmp(p, YQ_ATOMIC_TMP_TAG, tlen) != 0) return 0;
    p += tlen;
    long pid = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (digits >= 10) return 0;
        pid = pid * 10 + (*p - '0');
    }
    if (digits == 0 || pid <= 0 || pid > 0x7fffffffL || *p != '.') return 0;
    p++;
    /* mkstemp's suffix: exactly six letters/digits */
    for (int k = 0; k < 6; k++)
        if (!isalnum((unsigned char)p[k])) return 0;
    return p[6] == 0 ? pid : 0;
}

int yq_atomic_sweep_stale(const char *path) {
    size_t dirlen;
    const char *name;
    split_path(path, &dirlen, &name);
    if (!*name) return 0;
    char *dir = yq_malloc(dirlen + 2);
    if (!dir) return 0;
    if (dirlen) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = 0;
    } else {
        strcpy(dir, ".");
    }
    int removed = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0) close(dfd);
    if (d) {
        long self = (long)getpid();
        for (struct dirent *e; (e = readdir(d));) {
            long pid = tmp_writer_pid(e->d_name, name);
            if (pid == 0 || pid == self) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
            struct stat sb;
            /* only regular files, never what a symlink points to */
            if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) continue;
            if (unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
        }
        closedir(d);
    }
    free(dir);
    return removed;
}

yq_status yq_atomic_open(yq_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + sizeof YQ_ATOMIC_TMP_TAG + 32;
    af->final_path = yq_strdup(path);
    af->tmp_path = yq_malloc(n);
    if (!af->final_path || !af->tmp_path) {
        yq_atomic_abort(af);
        return YQ_ERR_NOMEM;
    }
    /* what earlier, killed writers of this file left behind */
    yq_atomic_sweep_stale(path);
    /* hidden sibling in the same folder so rename() stays on one filesystem;
     * the PID in its name tells a later writer whether it is stale */
    size_t dirlen;
    const char *name;
    split_path(path, &dirlen, &name);
    snprintf(af->tmp_path, n, "%.*s.%s" YQ_ATOMIC_TMP_TAG "%ld.XXXXXX", (int)dirlen, path, name, (long)getpid());
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        yq_status st = yq_fail(YQ_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        yq_atomic_abort(af);
        return st;
    }
    fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        yq_status st = yq_fail(YQ_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        yq_atomic_abort(af);
        return st;
    }
    return YQ_OK;
}

yq_status yq_atomic_commit(yq_atomic_file *af) {
    if (!af->fp) return yq_fail(YQ_ERR_INTERNAL, "atomic file not open");
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int err = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    af->fp = NULL;
    if (bad || rename(af->tmp_path, af->final_path) != 0) {
        if (!bad) err = errno;
        yq_status st = yq_fail(YQ_ERR_IO, "%s: write failed: %s", af->final_path, strerror(err));
        yq_atomic_abort(af);
        return st;
    }
    /* make the rename durable */
    char *dir = yq_strdup(af->final_path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return YQ_OK;
}

void yq_atomic_abort(yq_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
}

yq_status yq_write_file_atomic(const char *path, const void *data, size_t len) {
    yq_atomic_file af;
    YQ_TRY(yq_atomic_open(&af, path));
    if (len && fwrite(data, 1, len, af.fp) != len) {
        yq_status st = yq_fail(YQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        yq_atomic_abort(&af);
        return st;
    }
    return yq_atomic_commit(&af);
}

yq_status yq_read_file(const char *path, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return yq_fail(YQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return yq_fail(YQ_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = yq_malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return YQ_ERR_NOMEM;
    }
    if (n && fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        return yq_fail(YQ_ERR_IO, "%s: read failed", path);
    }
    fclose(fp);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return YQ_OK;
}
