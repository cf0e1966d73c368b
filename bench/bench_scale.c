/* Kernels without storing them (docs/scaling.md), next to this machine's
 * dgemm rate measured in the same run:
 *
 *   bench_scale agree [n]      the ntk and ntk_inf kernel GD predictions of
 *                              the stored and the matrix-free operators on
 *                              the same problem (default n = 5000, d = 100,
 *                              m = 1024): largest difference relative to the
 *                              largest prediction, train and test;
 *   bench_scale emp [n] [m]    empirical-NTK kernel GD through the
 *                              matrix-free operator (default n = 10^6,
 *                              d = 100, m = 1024, 10^4 test points): the
 *                              set-up (Lanczos), predictions at 5 times on
 *                              the training and test sets, the time of one
 *                              operator product against its 4·n·m·d flops,
 *                              and the peak resident memory;
 *   bench_scale tiles [n] [d]  one tile of Θ∞ (relu and erf): the XXᵀ GEMM
 *                              against the elementwise maps that follow it;
 *   bench_scale dgemm          this machine's dgemm rate alone.
 *
 * Flops are counted as 2·rows·cols·inner per GEMM; rates are best of 3
 * after a warm-up, except the long runs, which are timed once. */
#include "bench_util.h"
#include "ntkit.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>





static double *normal(size_t count, uint64_t seed)
{
    double *x = malloc(count * sizeof(double));
    if (!x) {
        fprintf(stderr, "bench_scale: out of memory for %zu values\n", count);
        exit(1);
    }
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ntk_rng_normal_fill(&rng, x, count);
    return x;
}

typedef struct {
    size_t n, nt, d;
    double *X, *Xt, *y;
} problem;

/* inputs N(0, I_d), a smooth target of two coordinates */
static problem make_problem(size_t n, size_t nt, size_t d)
{
    problem p = {n, nt, d, normal(n * d, 1), normal(nt * d, 2), malloc(n * sizeof(double))};
    if (!p.y) exit(1);
    for (size_t i = 0; i < n; i++) p.y[i] = tanh(p.X[i * d]) + 0.5 * p.X[i * d + 1] * p.X[i * d + 2];
    return p;
}

/* kernel GD on op from f0 = 0; predictions (train, test) at the given times */
static ntk_kgd *kgd_on(ntk_op *op, const problem *p, double t_max, size_t kmax, double *secs)
{
    double *u0 = calloc(p->n, sizeof(double));
    ntk_kgd_config c = ntk_kgd_config_default();
    c.lr = 1.0, c.method = NTK_KGD_KRYLOV, c.t_max = t_max, c.krylov_kmax = kmax;
    ntk_kgd *g = NULL;
    double t0 = now();
    if (!u0 || ntk_kgd_create_op(op, p->y, u0, &c, &g) != NTK_OK) bench_die("bench_scale", "kernel GD");
    *secs = now() - t0;
    free(u0);
    return g;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static int bench_agree(size_t n)
{
    const size_t d = 100, m = 1024, nt = 1000;
    static const double times[5] = {1, 10, 100, 1000, 10000};
    problem p = make_problem(n, nt, d);
    ntk_net_config cfg = ntk_net_config_default(d, m);
    ntk_net *net = NULL;
    if (ntk_net_create(&cfg, &net) != NTK_OK) bench_die("bench_scale", "network");
    double *u[2], *f[2];
    for (int i = 0; i < 2; i++) u[i] = malloc(n * sizeof(double)), f[i] = malloc(nt * sizeof(double));
    printf("dense vs matrix-free kernel GD, n = %zu, d = %zu, m = %zu, %zu test points\n", n, d, m, nt);
    for (int inf = 0; inf < 2; inf++) {
        ntk_kernel_desc kd = ntk_kernel_desc_default(inf ? NTK_KERNEL_INFINITE : NTK_KERNEL_EMPIRICAL, &cfg);
        kd.W = ntk_net_W0(net), kd.v = ntk_net_v0(net);
        ntk_op *op[2] = {NULL, NULL};
        ntk_kgd *g[2];
        double setup[2], worst_u = 0.0, worst_f = 0.0;
        ntk_op_mode modes[2] = {NTK_OP_DENSE, NTK_OP_MATRIX_FREE};
        for (int k = 0; k < 2; k++) {
            double t0 = now();
            if (ntk_op_create(&kd, p.X, n, modes[k], 0, &op[k]) != NTK_OK) bench_die("bench_scale", "operator");
            double tc = now() - t0;
            g[k] = kgd_on(op[k], &p, times[4], 0, &setup[k]);
            size_t kk;
            ntk_kgd_info(g[k], NULL, &kk, NULL);
            printf("  %-7s %-11s operator %.2fs, Lanczos %.2fs (k = %zu)\n", inf ? "ntk_inf" : "ntk",
                   ntk_op_mode_name(modes[k]), tc, setup[k], kk);
        }
        for (int ti = 0; ti < 5; ti++) {
            for (int k = 0; k < 2; k++)
                if (ntk_kgd_predict_train(g[k], times[ti], 0, u[k]) != NTK_OK ||
                    ntk_kgd_predict_cross(g[k], times[ti], 0, op[k], p.Xt, nt, NULL, f[k]) != NTK_OK)
                    bench_die("bench_scale", "predictions");
            double su = max_abs(u[0], n), sf = max_abs(f[0], nt), eu = 0, ef = 0;
            for (size_t i = 0; i < n; i++) eu = fmax(eu, fabs(u[1][i] - u[0][i]));
            for (size_t i = 0; i < nt; i++) ef = fmax(ef, fabs(f[1][i] - f[0][i]));
            worst_u = fmax(worst_u, eu / su), worst_f = fmax(worst_f, ef / sf);
        }
        printf("  %-7s max relative difference over t = 1..10^4: train %.2e, test %.2e (%s 1e-8)\n",
               inf ? "ntk_inf" : "ntk", worst_u, worst_f,
               worst_u <= 1e-8 && worst_f <= 1e-8 ? "within" : "OUTSIDE");
        for (int k = 0; k < 2; k++) ntk_kgd_free(g[k]), ntk_op_free(op[k]);
    }
    printf("  peak resident memory %.2f GiB\n", peak_gib());
    ntk_net_free(net);
    free(p.X), free(p.Xt), free(p.y);
    for (int i = 0; i < 2; i++) free(u[i]), free(f[i]);
    return 0;
}

static int bench_emp(size_t n, size_t m, int products_only)
{
    const size_t d = 100, nt = 10000;
    static const double times[5] = {1, 10, 100, 1000, 10000};
    problem p = make_problem(n, nt, d);
    ntk_net_config cfg = ntk_net_config_default(d, m);
    ntk_net *net = NULL;
    if (ntk_net_create(&cfg, &net) != NTK_OK) bench_die("bench_scale", "network");
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    kd.W = ntk_net_W0(net), kd.v = ntk_net_v0(net);
    ntk_op *op = NULL;
    /* 512 MiB for the operator's tiles; the basis capped at 250 vectors
     * (n·250 doubles: 1.9 GiB at n = 10^6) */
    if (ntk_op_create(&kd, p.X, n, NTK_OP_MATRIX_FREE, (size_t)512 << 20, &op) != NTK_OK) bench_die("bench_scale", "operator");
    double *U = malloc(n * sizeof(double)), *V = malloc(n * sizeof(double));
    if (!U || !V) exit(1);
    memcpy(U, p.y, n * sizeof(double));
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        if (ntk_op_apply(op, U, 1, V) != NTK_OK) bench_die("bench_scale", "product");
        best = fmin(best, now() - t0);
    }
    double flops = 4.0 * (double)n * (double)m * (double)d;
    double rate = dgemm_gflops(2000, 2000, 2000);
    printf("empirical NTK, matrix-free, n = %zu, d = %zu, m = %zu\n", n, d, m);
    printf("  one product Θu: %.3fs = %.1f GFLOP/s of 4nmd = %.3g flops (%.0f%% of dgemm %.1f GFLOP/s)\n",
           best, flops / best / 1e9, flops, 100.0 * flops / best / 1e9 / rate, rate);
    if (products_only) {   /* the products' time and memory without the Lanczos run */
        printf("  peak resident memory %.2f GiB (inputs %.2f GiB)\n", peak_gib(),
               (double)(n + nt) * (double)d * 8.0 / (1 << 30));
        ntk_op_free(op);
        ntk_net_free(net);
        free(U), free(V), free(p.X), free(p.Xt), free(p.y);
        return 0;
    }
    double setup;
    ntk_kgd *g = kgd_on(op, &p, times[4], 250, &setup);
    size_t k;
    double est;
    ntk_kgd_info(g, NULL, &k, &est);
    printf("  Lanczos to t = %g: %.1fs, k = %zu products, error estimate %.2g\n", times[4], setup, k, est);
    double *f = malloc(nt * sizeof(double));
    for (int ti = 0; ti < 5; ti++) {
        double t0 = now();
        if (ntk_kgd_predict_train(g, times[ti], 0, V) != NTK_OK) bench_die("bench_scale", "train predictions");
        double t1 = now();
        if (ntk_kgd_predict_cross(g, times[ti], 0, op, p.Xt, nt, NULL, f) != NTK_OK) bench_die("bench_scale", "test predictions");
        double t2 = now(), mse = 0.0;
        for (size_t i = 0; i < n; i++) mse += (V[i] - p.y[i]) * (V[i] - p.y[i]);
        printf("  t = %-6g train mse %.4f (%.2fs), %zu test predictions (%.2fs)\n", times[ti],
               mse / (double)n, t1 - t0, nt, t2 - t1);
    }
    printf("  peak resident memory %.2f GiB (inputs %.2f GiB)\n", peak_gib(),
           (double)(n + nt) * (double)d * 8.0 / (1 << 30));
    ntk_kgd_free(g);
    ntk_op_free(op);
    ntk_net_free(net);
    free(U), free(V), free(f), free(p.X), free(p.Xt), free(p.y);
    return 0;
}

static int bench_tiles(size_t n, size_t d)
{
    double *X = normal(n * d, 3), *K = malloc(n * n * sizeof(double));
    if (!K) exit(1);
    double best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)d, 1.0, X, (int)d,
                    X, (int)d, 0.0, K, (int)n);
        if (rep) best = fmin(best, now() - t0);
    }
    printf("Θ∞ tile %zu x %zu, d = %zu: the XXᵀ GEMM %.3fs (%.1f GFLOP/s)\n", n, n, d, best,
           2.0 * (double)n * (double)n * (double)d / best / 1e9);
    ntk_act_kind acts[2] = {NTK_ACT_RELU, NTK_ACT_ERF};
    for (int a = 0; a < 2; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, 8);
        cfg.act.kind = acts[a];
        ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
        double tk = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            if (ntk_kernel(&kd, X, n, X, n, K) != NTK_OK) bench_die("bench_scale", "kernel");
            tk = fmin(tk, now() - t0);
        }
        printf("  %-4s whole tile %.3fs: GEMM %.0f%%, maps and the rest %.0f%% (%.1f ns per entry)\n",
               ntk_act_name(acts[a]), tk, 100.0 * best / tk, 100.0 * (tk - best) / tk,
               1e9 * (tk - best) / ((double)n * (double)n));
    }
    free(X), free(K);
    return 0;
}

/* The symmetric Θ∞ (relu) kernel of n points in dimension d through
 * ntk_kernel alone, in process: what `ntkit kernel --kind ntk-inf` computes,
 * without reading X or writing K (bench/scale.sh times the command too). */
static int bench_kernel(size_t n, size_t d)
{
    double *X = normal(n * d, 5), *K = malloc(n * n * sizeof(double));
    if (!K) exit(1);
    ntk_net_config cfg = ntk_net_config_default(d, 8);
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
    double tk = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        if (ntk_kernel(&kd, X, n, NULL, 0, K) != NTK_OK) bench_die("bench_scale", "kernel");
        tk = fmin(tk, now() - t0);
    }
    printf("   the kernel alone (ntk_kernel, symmetric, relu), n = %zu, d = %zu: %.3fs (best of 3)\n", n,
           d, tk);
    free(X), free(K);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "agree";
    size_t a1 = argc > 2 ? strtoull(argv[2], NULL, 10) : 0, a2 = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    if (!strcmp(what, "agree")) return bench_agree(a1 ? a1 : 5000);
    if (!strcmp(what, "emp")) return bench_emp(a1 ? a1 : 1000000, a2 ? a2 : 1024, 0);
    if (!strcmp(what, "emp-products")) return bench_emp(a1 ? a1 : 1000000, a2 ? a2 : 1024, 1);
    if (!strcmp(what, "tiles")) return bench_tiles(a1 ? a1 : 4000, a2 ? a2 : 784);
    if (!strcmp(what, "kernel")) return bench_kernel(a1 ? a1 : 4000, a2 ? a2 : 784);
    if (!strcmp(what, "dgemm")) {
        printf("   dgemm 4000 x 4000 x 4000: %.1f GFLOP/s\n", dgemm_gflops(4000, 4000, 4000));
        return 0;
    }
    fprintf(stderr, "usage: bench_scale agree [n] | emp [n] [m] | emp-products [n] [m] | tiles [n] [d] | kernel [n] [d] | dgemm\n");
    return 2;
}
