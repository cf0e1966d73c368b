/* How well Hu et al.'s linear kernel Θ_lin1 approximates the first-layer NTK
 * at initialisation, docs/theory.md §2 and §4 (Hu et al. 2020).
 *
 * For Gaussian inputs X (n,d) ~ N(0, I), n = m = ceil(d^1.4), weights W0 ~
 * N(0, I), v0 ~ N(0, 1), s = √d, α = 1, it prints
 *   lin1        ‖Θ1(W0) − Θ_lin1‖_op / ‖Θ1(W0)‖_op,   Θ_lin1 = (ζ² XXᵀ + ν² 11ᵀ)/d;
 *   lin1+diag   the same with Θ_lin1 + D, D = (E[φ'(g)²] − ζ²)·diag(‖x_i‖²/d):
 *               Θ1(x,x) ≈ E[φ'²]‖x‖²/d while Θ_lin1(x,x) = ζ²‖x‖²/d + ν²/d, so
 *               Θ_lin1 misses a multiple of the identity that is O(1) and does
 *               not shrink with d (a well-known refinement, not part of Θ_lin1);
 *   inf+diag    ‖Θ1∞ − (Θ_lin1 + D)‖_op / ‖Θ1∞‖_op, the part of the gap that
 *               survives m → ∞ (so lin1+diag minus this is finite-width noise).
 * ν uses trace factor 1 (the population value for isotropic inputs).
 * Each row averages independent draws of X and W0 (fixed seeds, so the table
 * is the same on every run up to BLAS rounding). */
#include "ntkit.h"
#include "internal.h"   /* the kernels by source, under ntk_kernel */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(ntk_status st, const char *what)
{
    if (st == NTK_OK) return;
    fprintf(stderr, "lin_approx: %s: %s\n", what, ntk_errmsg());
    exit(1);
}

static double *alloc_or_die(size_t count)
{
    double *p = malloc(count * sizeof(double));
    if (!p) {
        fprintf(stderr, "lin_approx: out of memory\n");
        exit(1);
    }
    return p;
}

/* One draw (seed `rep`) of the three ratios at dimension d for activation act. */
static void draw(ntk_act_kind act, size_t d, uint64_t rep, double ratio[3])
{
    const size_t n = (size_t)ceil(pow((double)d, 1.4)), m = n;
    ntk_net_config cfg = ntk_net_config_default(d, m);
    cfg.act.kind = act;
    cfg.seed = 1000 + 7919 * rep + d;
    ntk_rng rng;
    ntk_rng_seed(&rng, 104729 * rep + 7 * d + 1);
    double *X = alloc_or_die(n * d), *W0 = alloc_or_die(m * d), *v0 = alloc_or_die(m);
    double *T1 = alloc_or_die(n * n), *L = alloc_or_die(n * n), *Tinf = alloc_or_die(n * n);
    check(ntk_inputs_generate("gaussian", n, d, &rng, X), "inputs");
    check(ntk_init_weights(&cfg, W0, v0), "weights");

    // docs/theory.md §2: Θ1(W0) = 1/m (φ'(Z) diag(v0²) φ'(Z)ᵀ) ⊙ (XXᵀ/d)
    check(ntk_kernel_empirical(&cfg, W0, v0, X, n, NULL, 0, 1.0, 0.0, 0, T1), "Θ1(W0)");
    check(ntk_kernel_infinite(&cfg, X, n, NULL, 0, 1.0, 0.0, 0, Tinf), "Θ1∞");
    // docs/theory.md §4: Θ_lin1 = (ζ² XXᵀ + ν² 11ᵀ)/d
    ntk_constants c;
    check(ntk_constants_compute(cfg.act, 1.0, 0, &c), "constants");
    check(ntk_kernel_lin(&c, 1.0, X, n, NULL, 0, d, 1.0, 0.0, L), "Θ_lin1");

    ntk_kernel_dist dist;
    check(ntk_kernel_distance(L, T1, n, &dist), "distance");
    ratio[0] = dist.rel_op;
    for (size_t i = 0; i < n; i++) {   // + (E[φ'²] − ζ²) ‖x_i‖²/d on the diagonal
        double nrm2 = 0.0;
        for (size_t k = 0; k < d; k++) nrm2 += X[i * d + k] * X[i * d + k];
        L[i * n + i] += (c.e_dphi2 - c.zeta * c.zeta) * nrm2 / (double)d;
    }
    check(ntk_kernel_distance(L, T1, n, &dist), "distance");
    ratio[1] = dist.rel_op;
    check(ntk_kernel_distance(L, Tinf, n, &dist), "distance");
    ratio[2] = dist.rel_op;
    free(X), free(W0), free(v0), free(T1), free(L), free(Tinf);
}

/* One row of the table: mean ± sd of the ratios over `reps` draws. */
static void row(ntk_act_kind act, size_t d, int reps)
{
    double t0 = wall(), sum[3] = {0, 0, 0}, sum2[3] = {0, 0, 0};
    for (int r = 0; r < reps; r++) {
        double ratio[3];
        draw(act, d, (uint64_t)r, ratio);
        for (int k = 0; k < 3; k++) {
            sum[k] += ratio[k];
            sum2[k] += ratio[k] * ratio[k];
        }
    }
    printf("%-5s %4zu %5zu %4d", ntk_act_name(act), d, (size_t)ceil(pow((double)d, 1.4)), reps);
    for (int k = 0; k < 3; k++) {
        double mean = sum[k] / reps, var = reps > 1 ? (sum2[k] - reps * mean * mean) / (reps - 1) : 0;
        if (reps > 1)
            printf("   %6.4f ± %6.4f", mean, sqrt(var > 0 ? var : 0));
        else
            printf("   %6.4f         ", mean);
    }
    printf(" %7.2f\n", wall() - t0);
    fflush(stdout);
}

int main(void)
{
    ntk_set_threads(0);
    /* draws per size: the small sizes are noisy and cheap, d = 320 costs seconds */
    static const struct { size_t d; int reps; } sizes[] = {
        {10, 10}, {20, 10}, {40, 10}, {80, 8}, {160, 4}, {320, 1}};
    static const ntk_act_kind acts[] = {NTK_ACT_ERF, NTK_ACT_RELU};
    printf("Theta_lin1 vs the first-layer NTK at init; gaussian X, n = m = ceil(d^1.4), "
           "%d threads\n",
           ntk_get_threads());
    printf("columns (mean ± sd over the draws):\n"
           "  lin1      = |Theta1(W0) - Theta_lin1|_op / |Theta1(W0)|_op\n"
           "  lin1+diag = the same with (E[phi'^2] - zeta^2) |x|^2/d added on the diagonal\n"
           "  inf+diag  = |Theta1_inf - (Theta_lin1 + diag)|_op / |Theta1_inf|_op  (m -> inf)\n");
    printf("%-5s %4s %5s %4s   %-15s   %-15s   %-15s %7s\n", "act", "d", "n=m", "reps", "lin1",
           "lin1+diag", "inf+diag", "seconds");
    double t = wall();
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            row(acts[a], sizes[k].d, sizes[k].reps);
    printf("total %.1f s\n", wall() - t);
    return 0;
}
