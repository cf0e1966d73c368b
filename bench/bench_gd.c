/* Gradient-descent throughput: steps per second and GFLOP/s of one full-batch
 * step (counted as 4·n·m·d flops: Z = XWᵀ and ∇W = GᵀX, 2nmd each; the
 * O(nm) elementwise work and gemv are not counted), next to this machine's
 * dgemm rate measured in the same run; and the elementwise maps φ, φ' alone,
 * in ns per value at each vector width this CPU has (src/activation.c). */
#include "bench_util.h"
#include "ntkit.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* defined in src/activation.c for the tests and this benchmark */
int ntk_act_simd_get(void);
int ntk_act_simd_set(int level);
const char *ntk_act_simd_name(int level);



static void bench(size_t n, size_t d, size_t m, ntk_act_kind act, int steps, double ref,
                  double same)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, 1);
    double *X = malloc(n * d * sizeof(double)), *y = malloc(n * sizeof(double));
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, y, n);
    ntk_net_config c = ntk_net_config_default(d, m);
    c.act.kind = act;
    ntk_net *net;
    ntk_trainer *tr;
    ntk_gd_config gd = {.lr1 = 0.1, .lr2 = 0.1, .loss = NTK_LOSS_MEAN};
    if (ntk_net_create(&c, &net) != NTK_OK || ntk_trainer_create(net, X, y, n, gd, &tr) != NTK_OK) {
        fprintf(stderr, "bench_gd: %s\n", ntk_errmsg());
        exit(1);
    }
    ntk_trainer_step(tr);   /* warm-up */
    double t = now();
    for (int k = 0; k < steps; k++) ntk_trainer_step(tr);
    t = (now() - t) / steps;
    double gf = 4.0 * n * m * d / t / 1e9;
    printf("gd step  n=%zu d=%zu m=%zu %-8s %8.2f steps/s  %7.1f GFLOP/s  = %5.1f%% of peak dgemm, "
           "%5.1f%% of same-shape dgemm%s%s\n",
           n, d, m, ntk_act_name(act), 1.0 / t, gf, 100.0 * gf / ref, 100.0 * gf / same,
           ntk_act_piecewise_linear(c.act) ? "" : "  width ",
           ntk_act_piecewise_linear(c.act) ? "" : ntk_act_simd_name(ntk_act_simd_get()));
    ntk_trainer_free(tr);
    ntk_net_free(net);
    free(X), free(y);
}

/* ns per value of φ and φ' together (best of 5), count values of N(0,1) at
 * the process's thread count */
static double act_ns(ntk_act_kind kind, size_t count, const double *z, double *p, double *dp)
{
    ntk_act a = {kind, 0.0};
    double best = 1e30;
    for (int rep = 0; rep < 6; rep++) {
        double t = now();
        ntk_act_apply(a, count, z, p, dp);
        t = now() - t;
        if (rep > 0 && t < best) best = t;   /* first call warms up */
    }
    return best / (double)count * 1e9;
}

static void bench_maps(size_t count)
{
    static const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_TANH,
                                         NTK_ACT_SIGMOID, NTK_ACT_SOFTPLUS, NTK_ACT_GELU};
    double *z = malloc(3 * count * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 2);
    ntk_rng_normal_fill(&rng, z, count);
    printf("phi+phi' %zu values, ns/value   ", count);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) printf(" %8s", ntk_act_name(kinds[k]));
    printf("\n");
    int dflt = ntk_act_simd_get();
    for (int level = 3; level >= 0; level--) {
        if (ntk_act_simd_set(level) != 0) continue;
        printf("  width %-8s%s", ntk_act_simd_name(level), level == dflt ? " (default)    " : "              ");
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            printf(" %8.2f", act_ns(kinds[k], count, z, z + count, z + 2 * count));
        printf("\n");
    }
    ntk_act_simd_set(-1);
    free(z);
}

int main(void)
{
    ntk_set_threads(0);
    printf("threads: %d\n", ntk_get_threads());
    double peak = dgemm_gflops(2048, 2048, 2048);
    double same = dgemm_gflops(20000, 1024, 100);
    printf("dgemm    2048x2048x2048         %7.1f GFLOP/s\n", peak);
    printf("dgemm    20000x1024x100 (Z=XW^T) %6.1f GFLOP/s\n", same);
    double same50 = dgemm_gflops(20000, 256, 50);
    printf("dgemm    20000x256x50            %6.1f GFLOP/s\n", same50);
    bench(20000, 100, 1024, NTK_ACT_RELU, 10, peak, same);
    bench(20000, 100, 1024, NTK_ACT_ERF, 5, peak, same);
    /* the erf step at the narrower widths another CPU would use */
    for (int level = ntk_act_simd_get() - 1; level >= 2; level--) {
        ntk_act_simd_set(level);
        bench(20000, 100, 1024, NTK_ACT_ERF, 5, peak, same);
    }
    ntk_act_simd_set(-1);
    bench(20000, 50, 256, NTK_ACT_RELU, 20, peak, same50);
    bench(20000, 50, 256, NTK_ACT_ERF, 20, peak, same50);
    bench_maps((size_t)1 << 20);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak memory: %.1f MiB\n", ru.ru_maxrss / 1024.0);
    return 0;
}
