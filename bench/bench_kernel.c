/* Empirical NTK throughput (docs/theory.md §2) next to this machine's dgemm rate,
 * measured in the same run.
 *
 * Flops counted for the symmetric block K (n,n) with both layers:
 *   Z = X Wᵀ                      2·n·m·d
 *   φ(Z) φ(Z)ᵀ   (Θ2, one half)   n²·m      (dsyrk: n(n+1)/2 entries × 2m)
 *   A Aᵀ         (Θ1, one half)   n²·m      (A = φ'(Z) diag|v|)
 *   X Xᵀ         (Θ1, one half)   n²·d
 * total 2nmd + 2n²m + n²d. For a cross block (n1,n2) the products are full:
 * 2(n1+n2)md + 4·n1·n2·m + 2·n1·n2·d. Not counted: φ, φ', the |v| scaling,
 * the Hadamard product and the mirroring (all O(nm) or O(n²)). */
#include "ntkit.h"
#include "internal.h"   /* the kernels by source, under ntk_kernel */

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *normal_array(size_t count, uint64_t seed)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    double *x = malloc(count * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_kernel: out of memory\n");
        exit(1);
    }
    ntk_rng_normal_fill(&rng, x, count);
    return x;
}

/* GFLOP/s of C (M,N) = A Bᵀ with A (M,K), B (N,K); best of `reps` after a warm-up. */
static double dgemm_rate(size_t M, size_t N, size_t K, int reps)
{
    double *A = normal_array(M * K, 1), *B = normal_array(N * K, 2);
    double *C = malloc(M * N * sizeof(double));
    double best = 1e300;
    for (int r = 0; r <= reps; r++) {
        double t = wall();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0, A,
                    (int)K, B, (int)K, 0.0, C, (int)N);
        t = wall() - t;
        if (r > 0 && t < best) best = t;
    }
    free(A), free(B), free(C);
    return 2.0 * (double)M * (double)N * (double)K / best / 1e9;
}

/* Times ntk_kernel_empirical (Θ = Θ1 + Θ2) for X1 (n1,d) against X2 (n2,d),
 * or the symmetric block when n2 = 0; prints GFLOP/s and the ratio to ref
 * for the first call ("cold": K is fresh memory, so its page faults count)
 * and the best of `reps` further calls into the same K ("warm"). */
static void bench_ntk(size_t n1, size_t n2, size_t d, size_t m, ntk_act_kind act, int reps,
                      double ref)
{
    ntk_net_config cfg = ntk_net_config_default(d, m);
    cfg.act.kind = act;
    double *W = normal_array(m * d, 3), *v = normal_array(m, 4);
    double *X1 = normal_array(n1 * d, 5), *X2 = n2 ? normal_array(n2 * d, 6) : NULL;
    size_t cols = n2 ? n2 : n1;
    double *K = malloc(n1 * cols * sizeof(double));
    if (!K) {
        fprintf(stderr, "bench_kernel: out of memory for K\n");
        exit(1);
    }
    double a = (double)n1, b = (double)n2, M = (double)m, D = (double)d;
    double flops = n2 ? 2.0 * (a + b) * M * D + 4.0 * a * b * M + 2.0 * a * b * D
                      : 2.0 * a * M * D + 2.0 * a * a * M + a * a * D;
    double cold = 0.0, best = 1e300;
    for (int r = 0; r <= reps; r++) {
        double t = wall();
        if (ntk_kernel_empirical(&cfg, W, v, X1, n1, X2, n2, 1.0, 1.0, 0, K) != NTK_OK) {
            fprintf(stderr, "bench_kernel: %s\n", ntk_errmsg());
            exit(1);
        }
        t = wall() - t;
        if (r == 0)
            cold = t;
        else if (t < best)
            best = t;
    }
    for (int warm = 0; warm < 2; warm++) {
        double t = warm ? best : cold, gf = flops / t / 1e9;
        printf("NTK %-5s %5zu x %-5zu d=%-4zu m=%-5zu %-5s %-4s %6.2f s %6.1f GFLOP %6.1f GFLOP/s "
               "%5.1f%% of dgemm\n",
               n2 ? "cross" : "sym", n1, cols, d, m, ntk_act_name(act), warm ? "warm" : "cold", t,
               flops / 1e9, gf, 100.0 * gf / ref);
    }
    free(W), free(v), free(X1), free(X2), free(K);
}

int main(void)
{
    ntk_set_threads(0);
    printf("threads: %d\n", ntk_get_threads());
    /* reference: the shape of the dominant products, C (n,n) = P Pᵀ with P (n,m) */
    double ref = dgemm_rate(3000, 3000, 4096, 2);
    printf("dgemm 3000 x 3000 x 4096 (reference, best of 2)         %6.1f GFLOP/s\n", ref);
    bench_ntk(2000, 0, 100, 1024, NTK_ACT_RELU, 3, ref);       /* quick */
    bench_ntk(2000, 0, 100, 1024, NTK_ACT_ERF, 3, ref);
    bench_ntk(1000, 4000, 100, 1024, NTK_ACT_RELU, 3, ref);    /* test x train */
    double t = wall();
    bench_ntk(8000, 0, 100, 4096, NTK_ACT_RELU, 2, ref);       /* the headline size */
    t = wall() - t;
    if (t > 40.0)
        printf("  note: n=8000, m=4096 (3 calls) took %.0f s on %d threads; this machine is slow "
               "for the 1-minute target\n",
               t, ntk_get_threads());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak memory (ru_maxrss): %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    return 0;
}
