/* Status messages, threads, memory estimates and the random number generator. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

static _Thread_local char g_errmsg[1024] = "";

const char *ntk_errmsg(void) { return g_errmsg[0] ? g_errmsg : "no error"; }

void ntk_clear_error(void) { g_errmsg[0] = '\0'; }

ntk_status ntk_set_error(ntk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *ntk_status_name(ntk_status st)
{
    switch (st) {
    case NTK_OK: return "NTK_OK";
    case NTK_ERR_ARG: return "NTK_ERR_ARG";
    case NTK_ERR_NOMEM: return "NTK_ERR_NOMEM";
    case NTK_ERR_IO: return "NTK_ERR_IO";
    case NTK_ERR_FORMAT: return "NTK_ERR_FORMAT";
    case NTK_ERR_NONFINITE: return "NTK_ERR_NONFINITE";
    case NTK_ERR_DIVERGED: return "NTK_ERR_DIVERGED";
    case NTK_ERR_LAPACK: return "NTK_ERR_LAPACK";
    case NTK_ERR_INTERRUPTED: return "NTK_ERR_INTERRUPTED";
    }
    return "NTK_ERR_UNKNOWN";
}

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

size_t ntk_mem_available(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    if (!fp) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = (size_t)v;
            break;
        }
    }
    fclose(fp);
    return kb * 1024;
}

ntk_status ntk_mem_check(size_t bytes, size_t limit, const char *what)
{
    if (limit == 0) {
        size_t avail = ntk_mem_available();
        if (avail == 0) return NTK_OK; /* unknown: let malloc decide */
        limit = avail / 10 * 9;
    }
    if (bytes == SIZE_MAX || bytes > limit) {
        return ntk_set_error(NTK_ERR_NOMEM,
                             "%s needs about %.2f GiB but only %.2f GiB may be used; "
                             "reduce the problem size",
                             what, bytes == SIZE_MAX ? INFINITY : (double)bytes / 1073741824.0,
                             (double)limit / 1073741824.0);
    }
    return NTK_OK;
}

size_t ntk_size_mul(size_t a, size_t b, size_t c, size_t elt)
{
    size_t r = a;
    size_t f[3] = {b, c, elt};
    for (int i = 0; i < 3; i++) {
        if (f[i] != 0 && r > SIZE_MAX / f[i]) return SIZE_MAX;
        r *= f[i];
    }
    return r;
}

ntk_status ntk_check_finite(const double *x, size_t count, const char *what)
{
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(x[i]))
            return ntk_set_error(NTK_ERR_NONFINITE,
                                 "%s contains %s at flat index %zu; clean the data first",
                                 what, isnan(x[i]) ? "NaN" : "Inf", i);
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * BLAS index limits
 * ------------------------------------------------------------------- */

size_t ntk_blas_int_max(void)
{
    return sizeof(blasint) >= sizeof(size_t) ? (size_t)INT64_MAX
                                              : ((size_t)1 << (8 * sizeof(blasint) - 1)) - 1;
}

static size_t blas_chunk(size_t count)
{
    size_t lim = ntk_blas_int_max();
    return count < lim ? count : lim;
}

double ntk_nrm2(size_t count, const double *x)
{
    if (count <= ntk_blas_int_max()) return cblas_dnrm2((blasint)count, x, 1);
    /* scaled sum of squares over chunks, as dnrm2 does within one */
    double scale = 0.0, ssq = 1.0;
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        double r = cblas_dnrm2((blasint)c, x + i, 1);
        if (r > scale) {
            ssq = 1.0 + ssq * (scale / r) * (scale / r);
            scale = r;
        } else if (r > 0) {
            ssq += (r / scale) * (r / scale);
        }
        i += c;
    }
    return scale * sqrt(ssq);
}

double ntk_dot(size_t count, const double *x, const double *y)
{
    double s = 0.0;
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        s += cblas_ddot((blasint)c, x + i, 1, y + i, 1);
        i += c;
    }
    return s;
}

void ntk_axpy(size_t count, double a, const double *x, double *y)
{
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        cblas_daxpy((blasint)c, a, x + i, 1, y + i, 1);
        i += c;
    }
}

void ntk_scal(size_t count, double a, double *x)
{
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        cblas_dscal((blasint)c, a, x + i, 1);
        i += c;
    }
}

ntk_status ntk_check_result(const double *x, size_t rows, size_t cols, const char *what,
                            const char *fix)
{
    size_t count = rows * cols;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return ntk_set_error(NTK_ERR_NONFINITE, "%s is %s at (%zu, %zu): %s", what,
                                 isnan(x[i]) ? "NaN" : "infinite", i / cols, i % cols, fix);
    return NTK_OK;
}

ntk_status ntk_check_input_scale(const double *X, size_t n, size_t d, double s, const char *what)
{
    /* ‖x‖/s by dnrm2 (which does not overflow), then its square */
    for (size_t i = 0; i < n; i++) {
        double r = ntk_nrm2(d, X + i * d) / s;
        if (!isfinite(r * r))
            return ntk_set_error(NTK_ERR_NONFINITE,
                                 "%s: row %zu has ||x||^2/s^2 = %g, beyond double precision; "
                                 "rescale the inputs (e.g. standardize them)",
                                 what, i, r * r);
    }
    return NTK_OK;
}

void *ntk_alloc(size_t count, size_t elt, const char *what)
{
    size_t bytes = ntk_size_mul(count, elt, 1, 1);
    if (bytes == SIZE_MAX) {
        ntk_set_error(NTK_ERR_NOMEM, "%s: size overflows", what);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        ntk_set_error(NTK_ERR_NOMEM, "%s: could not allocate %.2f MiB", what,
                      (double)bytes / 1048576.0);
    return p;
}

void *ntk_calloc(size_t count, size_t elt, const char *what)
{
    void *p = ntk_alloc(count, elt, what);
    if (p) memset(p, 0, count * elt);
    return p;
}

/* ---------------------------------------------------------------------
 * Parallel loops for elementwise work
 * ------------------------------------------------------------------- */

#define NTK_PAR_MIN_WORK 65536
#define NTK_PAR_MAX_THREADS 64

typedef struct {
    ntk_range_fn fn;
    void *ctx;
    size_t i0, i1;
} range_task;

static void *run_range(void *arg)
{
    range_task *t = arg;
    t->fn(t->ctx, t->i0, t->i1);
    return NULL;
}

void ntk_parallel_for_grain(size_t count, size_t grain, ntk_range_fn fn, void *ctx)
{
    int nt = ntk_get_threads();
    if (nt > NTK_PAR_MAX_THREADS) nt = NTK_PAR_MAX_THREADS;
    if ((size_t)nt > count) nt = (int)count;
    if (nt <= 1 || count * (grain ? grain : 1) < NTK_PAR_MIN_WORK) {
        if (count) fn(ctx, 0, count);
        return;
    }
    range_task tasks[NTK_PAR_MAX_THREADS];
    pthread_t tids[NTK_PAR_MAX_THREADS];
    int started[NTK_PAR_MAX_THREADS] = {0};
    for (int k = 0; k < nt; k++) {
        tasks[k] = (range_task){fn, ctx, count * (size_t)k / (size_t)nt,
                                count * (size_t)(k + 1) / (size_t)nt};
        if (k > 0) started[k] = pthread_create(&tids[k], NULL, run_range, &tasks[k]) == 0;
    }
    run_range(&tasks[0]);
    for (int k = 1; k < nt; k++) {
        if (started[k])
            pthread_join(tids[k], NULL);
        else
            run_range(&tasks[k]);   /* could not start a thread: do it here */
    }
}

void ntk_parallel_for(size_t count, ntk_range_fn fn, void *ctx)
{
    ntk_parallel_for_grain(count, 1, fn, ctx);
}

/* ---------------------------------------------------------------------
 * xoshiro256** (Blackman & Vigna), seeded through splitmix64.
 * ------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ntk_rng_seed(ntk_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
    rng->has_spare = 0;
    rng->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ntk_rng_u64(ntk_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ntk_rng_uniform(ntk_rng *rng) { return (double)(ntk_rng_u64(rng) >> 11) * 0x1.0p-53; }

double ntk_rng_normal(ntk_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1, u2;
    do {
        u1 = ntk_rng_uniform(rng);
    } while (u1 <= 0.0);
    u2 = ntk_rng_uniform(rng);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 2.0 * M_PI * u2;
    rng->spare = rad * sin(ang);
    rng->has_spare = 1;
    return rad * cos(ang);
}

void ntk_rng_normal_fill(ntk_rng *rng, double *x, size_t count)
{
    for (size_t i = 0; i < count; i++) x[i] = ntk_rng_normal(rng);
}
