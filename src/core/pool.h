/* A fixed thread pool for data-parallel loops.
 * The calling thread takes part in the work, so a pool of n threads starts n-1
 * workers. Loops are split into contiguous chunks in a fixed way that depends
 * only on (n, grain, thread count), never on timing, so results that depend on
 * the split (reductions) stay deterministic for a given thread count.
 * Between loops, workers (and the caller, for the end of a loop) spin for up
 * to 100 us before sleeping on a condition variable (pool.c says why). */
#ifndef YQ_CORE_POOL_H
#define YQ_CORE_POOL_H

#include <stdint.h>

#include "core/status.h"

typedef struct yq_pool yq_pool;

/* nthreads <= 0 means one per online CPU. */
yq_status yq_pool_new(int nthreads, yq_pool **out);
void yq_pool_free(yq_pool *pool);
/* Number of threads taking part in a loop (>= 1). A NULL pool counts as 1. */
int yq_pool_size(const yq_pool *pool);

/* fn(arg, begin, end, tid) over [0, n) split into at most `size` chunks whose
 * length is a multiple of grain (except the last). Returns when all are done.
 * Nested calls from inside fn run serially on the calling thread. */
typedef void (*yq_range_fn)(void *arg, int64_t begin, int64_t end, int tid);
void yq_parallel_for(yq_pool *pool, int64_t n, int64_t grain, yq_range_fn fn, void *arg);

/* Number of online CPUs (>= 1). */
int yq_cpu_count(void);

#endif
