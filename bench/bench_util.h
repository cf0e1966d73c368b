/* Helpers shared by the benchmarks in bench/: wall clock, peak memory, the
 * same run's dgemm rate that every speed is reported against, and a fatal
 * error with the library's message. Not part of the library. */
#ifndef NTK_BENCH_UTIL_H
#define NTK_BENCH_UTIL_H

#include "ntkit.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* peak resident memory of this process so far, GiB (ru_maxrss is KiB on Linux) */
static inline double peak_gib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / (1024.0 * 1024.0);
}

/* "PROG: WHAT: the library's message", exit 1 */
static inline void bench_die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, ntk_errmsg());
    exit(1);
}

/* best of 3 (after one warm-up call) GFLOP/s of C = A Bᵀ, A (M,K), B (N,K) */
static inline double dgemm_gflops(int M, int N, int K)
{
    double *A = malloc((size_t)M * K * sizeof(double)), *B = malloc((size_t)N * K * sizeof(double));
    double *C = malloc((size_t)M * N * sizeof(double));
    if (!A || !B || !C) {
        fprintf(stderr, "bench: out of memory for a %d x %d x %d dgemm\n", M, N, K);
        exit(1);
    }
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (double)(i % 7) - 3.0;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (double)(i % 5) - 2.0;
    double best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        double t = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, K, B, K, 0.0, C, N);
        t = now() - t;
        if (rep > 0 && t < best) best = t;
    }
    free(A), free(B), free(C);
    return 2.0 * M * N * K / best / 1e9;
}

#endif
