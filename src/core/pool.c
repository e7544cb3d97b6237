#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct yq_pool {
    int nthreads; /* including the caller */
    pthread_t *workers;
    struct worker_arg {
        struct yq_pool *pool;
        int tid;
    } *wargs;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    /* current job */
    yq_range_fn fn;
    void *arg;
    int64_t n, chunk;
    int nchunks;
    uint64_t generation; /* bumped for each job */
    int pending;         /* workers that have not finished the job */
    int shutdown;
};

static _Thread_local int in_parallel_region;

int yq_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_chunk(yq_pool *p, int tid) {
    if (tid >= p->nchunks) return;
    int64_t b = (int64_t)tid * p->chunk;
    int64_t e = b + p->chunk;
    if (e > p->n) e = p->n;
    if (b < e) p->fn(p->arg, b, e, tid);
}

static void *worker_main(void *vp) {
    struct worker_arg *wa = vp;
    yq_pool *p = wa->pool;
    int tid = wa->tid; /* 0 is the calling thread */
    uint64_t seen = 0;
    in_parallel_region = 1;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->shutdown) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunk(p, tid);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

yq_status yq_pool_new(int nthreads, yq_pool **out) {
    *out = NULL;
    if (nthreads <= 0) nthreads = yq_cpu_count();
    if (nthreads > 256) return yq_fail(YQ_ERR_ARG, "thread count %d is above the limit of 256", nthreads);
    yq_pool *p = yq_calloc(1, sizeof *p);
    if (!p) return YQ_ERR_NOMEM;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (nthreads > 1) {
        p->workers = yq_calloc((size_t)nthreads - 1, sizeof *p->workers);
        p->wargs = yq_calloc((size_t)nthreads - 1, sizeof *p->wargs);
        if (!p->workers || !p->wargs) {
            free(p->workers);
            free(p->wargs);
            free(p);
            return YQ_ERR_NOMEM;
        }
        /* Hold the lock while creating so workers see the full workers[] array. */
        for (int i = 0; i < nthreads - 1; i++) {
            p->wargs[i].pool = p;
            p->wargs[i].tid = i + 1;
            if (pthread_create(&p->workers[i], NULL, worker_main, &p->wargs[i]) != 0) {
                p->nthreads = i + 1;
                break;
            }
        }
    }
    *out = p;
    return YQ_OK;
}

void yq_pool_free(yq_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->workers);
    free(p->wargs);
    free(p);
}

int yq_pool_size(const yq_pool *p) { return p ? p->nthreads : 1; }

void yq_parallel_for(yq_pool *p, int64_t n, int64_t grain, yq_range_fn fn, void *arg) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = p ? p->nthreads : 1;
    int64_t units = (n + grain - 1) / grain;
    if (nt <= 1 || units <= 1 || in_parallel_region) {
        fn(arg, 0, n, 0);
        return;
    }
    if (units < nt) nt = (int)units;
    int64_t chunk = ((units + nt - 1) / nt) * grain;
    int nchunks = (int)((n + chunk - 1) / chunk);

    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = chunk;
    p->nchunks = nchunks;
    p->pending = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);

    in_parallel_region = 1;
    run_chunk(p, 0);
    in_parallel_region = 0;

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
