/* Monotonic wall-clock seconds, for the time fields of reports and logs. */
#ifndef YQ_CORE_CLOCK_H
#define YQ_CORE_CLOCK_H

#include <time.h>

static inline double yq_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
