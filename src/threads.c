/* Threads. OpenBLAS is the source of parallelism; its thread count is the
 * library's, set process-wide (ntk_set_threads) or for one call (the
 * `threads` field of a configuration, through ntk_threads_enter/leave).
 *
 * The elementwise maps (activations, scalings) are split over the same
 * number of threads by a persistent pool: workers started once, waiting on a
 * condition variable between jobs (so that they never spin against
 * OpenBLAS's own threads), each taking one contiguous chunk. */
#include "internal.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

void ntk_set_threads(int nthreads)
{
    if (nthreads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = nc > 0 ? (int)nc : 1;
    }
    openblas_set_num_threads(nthreads);
}

int ntk_get_threads(void) { return openblas_get_num_threads(); }

int ntk_threads_enter(int threads)
{
    if (threads <= 0) return 0;
    int now = ntk_get_threads();
    if (now == threads) return 0;
    ntk_set_threads(threads);
    return now;
}

void ntk_threads_leave(int saved)
{
    if (saved > 0) ntk_set_threads(saved);
}

ntk_defaults_t ntk_defaults(void)
{
    ntk_defaults_t d = {NTK_KGD_EIG_MAX_N, NTK_KGD_KRYLOV_KMAX, NTK_THEORY_MAX_POINTS,
                        NTK_KERNEL_SUBSAMPLE, NTK_LEAKY_SLOPE, NTK_QUAD_ORDER};
    return d;
}

/* ---- the pool ---------------------------------------------------------- */

#define NTK_PAR_MIN_WORK 65536
#define NTK_PAR_MAX_THREADS 64

typedef struct {
    pthread_mutex_t mu;          /* guards everything below */
    pthread_cond_t go, done;
    pthread_mutex_t owner;       /* held by the one caller using the pool */
    int nworkers;                /* workers started: chunks 1..nworkers */
    unsigned long gen;           /* job number; workers wait for it to change */
    unsigned long born[NTK_PAR_MAX_THREADS];   /* gen when worker k was started */
    int nchunks, pending;        /* this job's chunks, and workers not yet done */
    ntk_range_fn fn;
    void *ctx;
    size_t count;
} pool_t;

static pool_t g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                        PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, 0, 0,
                        NULL, NULL, 0};

static void chunk_range(size_t count, int k, int nchunks, size_t *i0, size_t *i1)
{
    *i0 = count * (size_t)k / (size_t)nchunks;
    *i1 = count * (size_t)(k + 1) / (size_t)nchunks;
}

static void *worker(void *arg)
{
    const int k = (int)(intptr_t)arg;   /* this worker's chunk */
    pool_t *p = &g_pool;
    pthread_mutex_lock(&p->mu);
    /* the job number when this worker was started: the job that started it
     * comes after, whenever this thread gets to run */
    unsigned long seen = p->born[k];
    for (;;) {
        while (p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        seen = p->gen;
        if (k >= p->nchunks) continue;
        size_t i0, i1;
        chunk_range(p->count, k, p->nchunks, &i0, &i1);
        ntk_range_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        if (i1 > i0) fn(ctx, i0, i1);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    return NULL;
}

/* After fork() only the calling thread exists in the child: forget the
 * workers, and make the locks usable again. */
static void pool_after_fork(void)
{
    pool_t fresh = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                    PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, 0, 0,
                    NULL, NULL, 0};
    g_pool = fresh;
}

static void pool_once(void) { pthread_atfork(NULL, NULL, pool_after_fork); }

/* Start workers up to chunk nchunks − 1; returns how many chunks can run. */
static int pool_grow(pool_t *p, int nchunks)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pool_once);
    while (p->nworkers < nchunks - 1) {
        pthread_t tid;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        p->born[p->nworkers + 1] = p->gen;
        int bad = pthread_create(&tid, &attr, worker, (void *)(intptr_t)(p->nworkers + 1));
        pthread_attr_destroy(&attr);
        if (bad) break;
        p->nworkers++;
    }
    return p->nworkers + 1 < nchunks ? p->nworkers + 1 : nchunks;
}

void ntk_parallel_for_grain(size_t count, size_t grain, ntk_range_fn fn, void *ctx)
{
    int nt = ntk_get_threads();
    if (nt > NTK_PAR_MAX_THREADS) nt = NTK_PAR_MAX_THREADS;
    if ((size_t)nt > count) nt = (int)count;
    pool_t *p = &g_pool;
    /* small work, one thread, or another caller using the pool: inline */
    if (nt <= 1 || count * (grain ? grain : 1) < NTK_PAR_MIN_WORK ||
        pthread_mutex_trylock(&p->owner) != 0) {
        if (count) fn(ctx, 0, count);
        return;
    }
    pthread_mutex_lock(&p->mu);
    nt = pool_grow(p, nt);
    p->fn = fn, p->ctx = ctx, p->count = count, p->nchunks = nt, p->pending = nt - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    size_t i0, i1;
    chunk_range(count, 0, nt, &i0, &i1);
    fn(ctx, i0, i1);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->owner);
}

void ntk_parallel_for(size_t count, ntk_range_fn fn, void *ctx)
{
    ntk_parallel_for_grain(count, 1, fn, ctx);
}
