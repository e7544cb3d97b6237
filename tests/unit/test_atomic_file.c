/* Atomic writes: the temporary's name identifies its writer, and the stale
 * temporaries of a file (left by a killed writer: its PID no longer exists)
 * are swept before the file is written again, never touching anything else. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic_file.h"

static char path_buf[2048];
static const char *in_dir(const char *dir, const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static const char *fresh_dir(const char *name) {
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", yqt_tmpdir(), name);
    assert_int_equal(mkdir(dir, 0755), 0);
    return dir;
}

static void touch(const char *dir, const char *name) {
    FILE *fp = fopen(in_dir(dir, name), "wb");
    assert_non_null(fp);
    fputs("leftover", fp);
    fclose(fp);
}

static int exists(const char *dir, const char *name) {
    struct stat sb;
    return lstat(in_dir(dir, name), &sb) == 0;
}

/* A PID that certainly belonged to a process which has exited (and been reaped). */
static long dead_pid(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return (long)pid;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_temporary_names_its_writer(void **state) {
    (void)state;
    const char *dir = fresh_dir("naming");
    char path[2048], want_prefix[256];
    snprintf(path, sizeof path, "%s/out.onnx", dir);
    snprintf(want_prefix, sizeof want_prefix, ".out.onnx" YQ_ATOMIC_TMP_TAG "%ld.", (long)getpid());
    yq_atomic_file af;
    assert_int_equal(yq_atomic_open(&af, path), YQ_OK);
    const char *base = strrchr(af.tmp_path, '/') + 1;
    assert_memory_equal(base, want_prefix, strlen(want_prefix));
    assert_int_equal(strlen(base), strlen(want_prefix) + 6);
    fputs("new", af.fp);
    /* our own temporary is not stale while we write */
    assert_int_equal(yq_atomic_sweep_stale(path), 0);
    assert_true(exists(dir, base));
    assert_int_equal(yq_atomic_commit(&af), YQ_OK);
    assert_int_equal(count_entries(dir), 1);
    assert_true(exists(dir, "out.onnx"));
}

static void test_sweeps_only_stale_temporaries_of_the_file(void **state) {
    (void)state;
    const char *dir = fresh_dir("sweep");
    long dead = dead_pid(), alive = (long)getppid(); /* our parent outlives this test */
    char name[256];
    /* stale: ours to remove */
    snprintf(name, sizeof name, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.AbC123", dead);
    touch(dir, name);
    char stale[256];
    snprintf(stale, sizeof stale, "%s", name);
    /* a live writer's temporary: kept */
    char live[256];
    snprintf(live, sizeof live, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.XyZ789", alive);
    touch(dir, live);
    /* another file's stale temporary, and look-alikes: kept */
    char other[256], suffix5[256], suffix7[256], nopid[256], prefixed[256], old_style[256];
    snprintf(other, sizeof other, ".other.json" YQ_ATOMIC_TMP_TAG "%ld.AbC123", dead);
    snprintf(suffix5, sizeof suffix5, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.AbC12", dead);
    snprintf(suffix7, sizeof suffix7, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.AbC1234", dead);
    snprintf(nopid, sizeof nopid, ".out.json" YQ_ATOMIC_TMP_TAG "x%ld.AbC123", dead);
    snprintf(prefixed, sizeof prefixed, "x.out.json" YQ_ATOMIC_TMP_TAG "%ld.AbC123", dead);
    snprintf(old_style, sizeof old_style, ".out.json.tmpAbC123");
    const char *kept[] = {live, other, suffix5, suffix7, nopid, prefixed, old_style, "out.json.bak", "notes.txt"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) touch(dir, kept[i]);
    /* a stale-looking name that is a folder or a symlink is not a file we wrote: kept */
    char dirlike[256], linklike[256];
    snprintf(dirlike, sizeof dirlike, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.Dir000", dead);
    snprintf(linklike, sizeof linklike, ".out.json" YQ_ATOMIC_TMP_TAG "%ld.Lnk000", dead);
    assert_int_equal(mkdir(in_dir(dir, dirlike), 0755), 0);
    assert_int_equal(symlink("notes.txt", in_dir(dir, linklike)), 0);
    int before = count_entries(dir);

    char path[2048];
    snprintf(path, sizeof path, "%s/out.json", dir);
    assert_int_equal(yq_write_file_atomic(path, "{}\n", 3), YQ_OK);

    assert_false(exists(dir, stale));
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (!exists(dir, kept[i])) fail_msg("swept a file it must not touch: %s", kept[i]);
    assert_true(exists(dir, dirlike));
    assert_true(exists(dir, linklike));
    assert_true(exists(dir, "notes.txt")); /* the symlink's target */
    assert_int_equal(count_entries(dir), before - 1 + 1); /* the stale one gone, out.json new */

    /* a file name in the current folder (no '/') is swept there too */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(yq_atomic_sweep_stale("other.json"), 1);
    assert_int_equal(chdir(cwd), 0);
    assert_false(exists(dir, other));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temporary_names_its_writer),
        cmocka_unit_test(test_sweeps_only_stale_temporaries_of_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
