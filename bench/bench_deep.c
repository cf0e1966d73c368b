/* The deep empirical NTK (docs/depth.md) next to this machine's dgemm rate
 * measured in the same run:
 *
 *   bench_deep [n] [d] [width] [depth]   (default 4000 100 1024 3)
 *
 * A relu network with `depth` hidden layers of `width` units, σ_w = 1,
 * σ_b = 0.1 (biases on), NTK parameterisation, θ from ntk_init_theta; n
 * points N(0, I_d). Timed: the symmetric kernel K (n, n), the cross kernel
 * between two sets of n/2 points, the diagonal, and one matrix-free product
 * Θu. Flops counted:
 *   Grams     per layer l = 1..L+1 the activations Gram (inner m_{l−1}) and,
 *             for l ≤ L, the signals Gram (inner m_l): n1·n2·k·2 for a cross
 *             block, n²·k for the symmetric one (dsyrk fills one triangle),
 *             k = d + 2 Σ_l m_l;
 *   passes    the tape's forward pass 2·n·Σ_{l=1}^{L+1} m_l m_{l−1} and
 *             backward pass 2·n·Σ_{l=1}^{L} m_{l+1} m_l per point set;
 *   product   Θu: 2·n·Σ_l m_l m_{l−1} for JᵀU and again for J(JᵀU), plus
 *             the passes (the features are cached when they fit).
 * The kernels (seconds each at the default size) are timed once; the
 * product best of 2 after a warm-up; dgemm (2000³) and dsyrk of the Gram's
 * own shape (n × width) best of 3 after a warm-up. */
#include "bench_util.h"
#include "ntkit.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>




static double *filled(size_t count, int mod)
{
    double *x = malloc(count * sizeof(double));
    if (!x) {
        fprintf(stderr, "bench_deep: out of memory for %zu values\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) x[i] = (double)(i % (size_t)mod) - (double)(mod / 2);
    return x;
}


/* best-of-3 GFLOP/s of the lower triangle of A Aᵀ, A (N,K): N²·K flops */
static double dsyrk_gflops(int N, int K)
{
    double *A = filled((size_t)N * K, 7), *C = filled((size_t)N * N, 3);
    double best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        double t = now();
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, N, K, 1.0, A, K, 0.0, C, N);
        t = now() - t;
        if (rep > 0 && t < best) best = t;
    }
    free(A), free(C);
    return (double)N * N * K / best / 1e9;
}

/* one timed call */
static double time_kernel(const ntk_kernel_desc *kd, const double *X1, size_t n1, const double *X2,
                          size_t n2, double *K)
{
    double t0 = now();
    if (ntk_kernel(kd, X1, n1, X2, n2, K) != NTK_OK) bench_die("bench_deep", "kernel");
    return now() - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000;
    size_t d = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    size_t m = argc > 3 ? strtoull(argv[3], NULL, 10) : 1024;
    size_t L = argc > 4 ? strtoull(argv[4], NULL, 10) : 3;
    if (n < 2 || d == 0 || m == 0 || L == 0 || L > NTK_MAX_DEPTH) {
        fprintf(stderr, "usage: bench_deep [n >= 2] [d] [width] [depth 1..%d]\n", NTK_MAX_DEPTH);
        return 2;
    }
    ntk_net_config cfg = ntk_net_config_default(d, m);
    cfg.depth = L;
    cfg.bias_std = 0.1;
    size_t P = ntk_net_nparams(&cfg);
    double *theta = malloc(P * sizeof(double));
    if (!theta || ntk_init_theta(&cfg, theta) != NTK_OK) bench_die("bench_deep", "initial parameters");
    ntk_rng rng;
    ntk_rng_seed(&rng, 1);
    double *X = malloc(n * d * sizeof(double)), *K = malloc(n * n * sizeof(double));
    if (!X || !K) bench_die("bench_deep", "inputs");
    ntk_rng_normal_fill(&rng, X, n * d);

    double gram_k = (double)d, pass = 0.0, jac = 0.0;
    for (size_t l = 1; l <= L; l++) gram_k += 2.0 * (double)ntk_net_width(&cfg, l);
    for (size_t l = 1; l <= L + 1; l++) {
        double ml = (double)ntk_net_width(&cfg, l), mp = (double)ntk_net_width(&cfg, l - 1);
        pass += 2.0 * ml * mp + (l <= L ? 2.0 * (double)ntk_net_width(&cfg, l + 1) * ml : 0.0);
        jac += 2.0 * ml * mp;
    }
    const double dn = (double)n;
    double rate = dgemm_gflops(2000, 2000, 2000), srate = dsyrk_gflops((int)n, (int)m);
    printf("deep empirical NTK: depth %zu, width %zu, n = %zu, d = %zu, relu, sigma_b = 0.1, P = %zu\n",
           L, m, n, d, P);
    printf("  this run: dgemm 2000^3 %.1f GFLOP/s, dsyrk %zu x %zu %.1f GFLOP/s\n", rate, n, m, srate);

    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    kd.theta = theta;
    double t = time_kernel(&kd, X, n, NULL, 0, K);
    double fg = dn * dn * gram_k, fp = dn * pass;
    printf("  symmetric K (%zu x %zu): %.3fs = %.1f GFLOP/s of %.3g flops (Grams %.3g, passes %.3g); "
           "%.0f%% of dgemm\n", n, n, t, (fg + fp) / t / 1e9, fg + fp, fg, fp,
           100.0 * (fg + fp) / t / 1e9 / rate);
    size_t h = n / 2;
    t = time_kernel(&kd, X, h, X + h * d, n - h, K);
    fg = 2.0 * (double)h * (double)(n - h) * gram_k, fp = dn * pass;
    printf("  cross K (%zu x %zu):     %.3fs = %.1f GFLOP/s of %.3g flops (Grams %.3g, passes %.3g); "
           "%.0f%% of dgemm\n", h, n - h, t, (fg + fp) / t / 1e9, fg + fp, fg, fp,
           100.0 * (fg + fp) / t / 1e9 / rate);
    kd.diagonal = 1;
    t = time_kernel(&kd, X, n, NULL, 0, K);
    printf("  diagonal K_ii (%zu):      %.3fs = %.1f GFLOP/s of the passes' %.3g flops\n", n, t,
           fp / t / 1e9, fp);
    kd.diagonal = 0;

    ntk_op *op = NULL;
    if (ntk_op_create(&kd, X, n, NTK_OP_MATRIX_FREE, 0, &op) != NTK_OK) bench_die("bench_deep", "operator");
    double *U = K, *V = K + n, best = 1e30;
    for (size_t i = 0; i < n; i++) U[i] = sin((double)i);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        if (ntk_op_apply(op, U, 1, V) != NTK_OK) bench_die("bench_deep", "product");
        if (rep > 0) best = fmin(best, now() - t0);
    }
    double fo = 2.0 * dn * jac;
    printf("  matrix-free product Θu:  %.3fs = %.1f GFLOP/s of 2 x 2n·Σ m_l m_(l-1) = %.3g flops; "
           "%.0f%% of dgemm\n", best, fo / best / 1e9, fo,
           100.0 * fo / best / 1e9 / rate);
    ntk_op_free(op);
    printf("  peak resident memory %.2f GiB (K alone %.2f GiB)\n", peak_gib(),
           dn * dn * 8.0 / (1 << 30));
    free(theta), free(X), free(K);
    return 0;
}
