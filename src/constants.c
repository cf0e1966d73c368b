/* The Gaussian constants of an activation and the trace factor of the inputs,
 * which Hu et al. (2020)'s linear models are built from (docs/theory.md §4.1, §4.2). */
#include "quadrature.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define INV_SQRT_2PI 0.39894228040143267794   /* 1/√(2π) */

/* Piecewise-linear φ(g) = g (g > 0), a·g (g < 0): exact values, because
 * Gauss–Hermite converges slowly across the kink at 0. With
 * E[g; g>0] = 1/√(2π), E[g³; g>0] = 2/√(2π), E[g²; g>0] = 1/2:
 *   ζ = (1 + a)/2,  ϑ0 = ϑ1 = (1 − a)/√(2π),  E[φ²] = E[φ'²] = (1 + a²)/2,
 *   ϑ2 = 0, since E[g³/2 − g; g>0] = 1/√(2π) − 1/√(2π) = 0 and likewise for g < 0.
 * relu is a = 0, identity a = 1. */
static void constants_piecewise(double a, ntk_constants *c)
{
    c->zeta = 0.5 * (1.0 + a);
    c->theta0 = (1.0 - a) * INV_SQRT_2PI;
    c->theta1 = (1.0 - a) * INV_SQRT_2PI;
    c->theta2 = 0.0;
    c->e_phi2 = 0.5 * (1.0 + a * a);
    c->e_dphi2 = 0.5 * (1.0 + a * a);
}

/* docs/theory.md §4 by a Gauss–Hermite rule of the given order (smooth φ). */
static ntk_status constants_quadrature(ntk_act act, int order, ntk_constants *c)
{
    size_t N = (size_t)order;
    double *x = ntk_alloc(4 * N, sizeof(double), "Gauss-Hermite nodes");
    if (!x) return NTK_ERR_NOMEM;
    double *w = x + N, *phi = x + 2 * N, *dphi = x + 3 * N;
    ntk_status st = ntk_gauss_hermite(order, x, w);
    if (st != NTK_OK) {
        free(x);
        return st;
    }
    ntk_act_apply(act, N, x, phi, dphi);
    double zeta = 0, th0 = 0, th1 = 0, th2 = 0, e2 = 0, de2 = 0;
    for (size_t i = 0; i < N; i++) {
        double g = x[i];
        zeta += w[i] * dphi[i];                               // ζ  = E[φ'(g)]
        th0 += w[i] * phi[i];                                 // ϑ0 = E[φ(g)]
        th1 += w[i] * g * dphi[i];                            // ϑ1 = E[g φ'(g)]
        th2 += w[i] * (0.5 * g * g * g - g) * dphi[i];        // ϑ2 = E[(g³/2 − g) φ'(g)]
        e2 += w[i] * phi[i] * phi[i];
        de2 += w[i] * dphi[i] * dphi[i];
    }
    c->zeta = zeta;
    c->theta0 = th0;
    c->theta1 = th1;
    c->theta2 = th2;
    c->e_phi2 = e2;
    c->e_dphi2 = de2;
    free(x);
    return NTK_OK;
}

/* act, trace factor -> out. Piecewise-linear φ: exact values (quad_order is
 * only validated); the rest: Gauss–Hermite of quad_order (0: 200). */
ntk_status ntk_constants_compute(ntk_act act, double trace_factor, int quad_order,
                                 ntk_constants *out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "constants: output is NULL");
    if ((int)act.kind < 0 || act.kind >= NTK_ACT_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "constants: unknown activation %d", (int)act.kind);
    if (!isfinite(act.param))
        return ntk_set_error(NTK_ERR_ARG, "constants: activation parameter must be finite");
    if (!(trace_factor >= 0) || !isfinite(trace_factor))
        return ntk_set_error(NTK_ERR_ARG,
                             "constants: trace factor must be finite and >= 0 (1 for isotropic "
                             "data), got %g",
                             trace_factor);
    int order;
    NTK_TRY(ntk_quad_order(quad_order, NTK_QUAD_DEFAULT_1D, &order));
    ntk_constants c;
    memset(&c, 0, sizeof c);
    if (act.kind == NTK_ACT_RELU)
        constants_piecewise(0.0, &c);
    else if (act.kind == NTK_ACT_LEAKY_RELU)
        constants_piecewise(act.param, &c);
    else if (act.kind == NTK_ACT_IDENTITY)
        constants_piecewise(1.0, &c);
    else
        NTK_TRY(constants_quadrature(act, order, &c));
    // docs/theory.md §4.2: ν = E[g φ'(g)] · √(Tr Σ²/d)
    c.trace_factor = trace_factor;
    c.nu = c.theta1 * trace_factor;
    const double vals[] = {c.zeta, c.nu, c.theta0, c.theta1, c.theta2, c.e_phi2, c.e_dphi2};
    const char *names[] = {"zeta", "nu", "theta0", "theta1", "theta2", "E[phi(g)^2]",
                           "E[phi'(g)^2]"};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
        if (!isfinite(vals[k]))
            return ntk_set_error(NTK_ERR_NONFINITE,
                                 "constants of %s with parameter %g: %s overflows double "
                                 "precision; use a parameter of smaller magnitude",
                                 ntk_act_name(act.kind), act.param, names[k]);
    *out = c;
    return NTK_OK;
}

#ifndef TF_BLOCK_ELEMS   /* (overridable to exercise the blocking) */
#define TF_BLOCK_ELEMS ((size_t)1 << 22)   /* scratch for one centred block: 32 MiB */
#endif

/* X (n,d). Σ̂ ∝ Xcᵀ Xc with Xc the centred data; rescaled to Tr Σ̂ = d,
 *   √(Tr Σ̂²/d) = √d · ‖Xcᵀ Xc‖_F / ‖Xc‖_F²,
 * so the 1/n or 1/(n−1) normalisation cancels. ‖Xcᵀ Xc‖_F = ‖Xc Xcᵀ‖_F, so
 * the smaller Gram matrix G is formed by dsyrk: (d,d) summed over blocks of
 * centred rows when n ≥ d, (n,n) summed over blocks of centred columns when
 * n < d; X is never copied whole. */
ntk_status ntk_trace_factor(const double *X, size_t n, size_t d, double *out)
{
    ntk_clear_error();
    if (!X || !out) return ntk_set_error(NTK_ERR_ARG, "trace factor: X or output is NULL");
    if (n < 2 || d == 0)
        return ntk_set_error(NTK_ERR_ARG,
                             "trace factor needs at least 2 points and d >= 1 (got n = %zu, "
                             "d = %zu)",
                             n, d);
    if (n > INT_MAX || d > INT_MAX)
        return ntk_set_error(NTK_ERR_ARG, "trace factor: sizes above %d are not supported",
                             INT_MAX);
    NTK_TRY(ntk_check_finite(X, n * d, "X"));
    int rows_first = n >= d;
    size_t p = rows_first ? d : n;                  /* G is (p,p) */
    size_t other = rows_first ? d : n;              /* block = B rows of d, or n × B columns */
    size_t B = TF_BLOCK_ELEMS / other;
    size_t len = rows_first ? n : d;
    if (B < 1) B = 1;
    if (B > len) B = len;
    double *mean = ntk_alloc(d + p * p + B * other, sizeof(double), "trace factor workspace");
    if (!mean) return NTK_ERR_NOMEM;
    double *G = mean + d, *blk = G + p * p;
    for (size_t k = 0; k < d; k++) mean[k] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) mean[k] += X[i * d + k];
    for (size_t k = 0; k < d; k++) mean[k] /= (double)n;
    for (size_t b0 = 0; b0 < len; b0 += B) {
        size_t nb = len - b0 < B ? len - b0 : B;
        double beta = b0 == 0 ? 0.0 : 1.0;
        if (rows_first) {   /* G += Xc[b0:b0+nb, :]ᵀ Xc[b0:b0+nb, :] */
            for (size_t i = 0; i < nb; i++)
                for (size_t k = 0; k < d; k++) blk[i * d + k] = X[(b0 + i) * d + k] - mean[k];
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nb, 1.0, blk, (int)d,
                        beta, G, (int)p);
        } else {            /* G += Xc[:, b0:b0+nb] Xc[:, b0:b0+nb]ᵀ */
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < nb; k++)
                    blk[i * nb + k] = X[i * d + b0 + k] - mean[b0 + k];
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)nb, 1.0, blk,
                        (int)nb, beta, G, (int)p);
        }
    }
    double tr = 0.0, fro2 = 0.0;
    for (size_t i = 0; i < p; i++) {
        tr += G[i * p + i];
        fro2 += G[i * p + i] * G[i * p + i];
        for (size_t j = i + 1; j < p; j++) fro2 += 2.0 * G[i * p + j] * G[i * p + j];
    }
    free(mean);
    if (!isfinite(tr) || !isfinite(fro2))
        return ntk_set_error(NTK_ERR_NONFINITE,
                             "trace factor: the covariance of X overflows double precision; "
                             "rescale the inputs (e.g. standardize them)");
    if (!(tr > 0))
        return ntk_set_error(NTK_ERR_ARG,
                             "trace factor: X has zero variance (all rows equal); use varied data");
    // docs/theory.md §4.2: √(Tr Σ²/d) with Tr Σ = d
    *out = sqrt((double)d) * sqrt(fro2) / tr;
    return NTK_OK;
}
