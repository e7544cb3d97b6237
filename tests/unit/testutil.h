/* Shared helpers for cmocka unit tests. */
#ifndef YQ_TESTUTIL_H
#define YQ_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of the shared models/data folder (YOLOQ_DATA, else YOLOQ_SHARED_DIR, else
 * ../shared relative to the source tree), or NULL when it does not exist. */
const char *yqt_shared_dir(void);
/* shared_dir + "/" + rel into a static buffer; NULL if shared is absent. */
const char *yqt_shared_path(const char *rel);
/* Skip the current test with a message when shared data is absent. */
#define YQT_REQUIRE_SHARED()                                                         \
    do {                                                                             \
        if (!yqt_shared_dir()) {                                                     \
            print_message("SKIP: ../shared not found (set YOLOQ_DATA to run this)\n"); \
            skip();                                                                  \
        }                                                                            \
    } while (0)
/* A fresh temporary directory for the test (removed by the OS eventually). */
const char *yqt_tmpdir(void);
/* Source tree root (YOLOQ_SRC_DIR). */
const char *yqt_src_dir(void);

#endif
