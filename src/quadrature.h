/* Gauss–Hermite quadrature for Gaussian expectations (docs/theory.md §3, §4).
 * Private to the library: used by kernel_inf.c and constants.c. */
#ifndef NTK_QUADRATURE_H
#define NTK_QUADRATURE_H

#include "internal.h"

#define NTK_QUAD_DEFAULT_2D 64    /* ntk_kernel_infinite{,_quad}: order 0 */
#define NTK_QUAD_DEFAULT_1D 200   /* ntk_constants_compute: order 0 */
#define NTK_QUAD_MAX 4096         /* largest accepted order */

/* order 0 -> dflt; anything outside [2, NTK_QUAD_MAX] -> NTK_ERR_ARG. */
ntk_status ntk_quad_order(int order, int dflt, int *out);

/* x, w are (order): nodes ascending, weights summing to 1, so that
 * E[f(g)] ≈ Σ_i w_i f(x_i) for g ~ N(0,1). Golub–Welsch nodes; no caching,
 * so it is safe to call from any thread. */
ntk_status ntk_gauss_hermite(int order, double *x, double *w);

/* Tensor-product rule for the pair expectations of docs/theory.md §3,
 *   Σ = E[φ(u)φ(u')],  Σ' = E[φ'(u)φ'(u')],  (u,u') ~ N(0, [[q,c],[c,q']]),
 * with u = √q g1, u' = √q'(ρ g1 + √(1−ρ²) g2). One allocation holds every
 * array; set_row caches the g1 side so that a pair costs order² evaluations. */
typedef struct {
    ntk_act act;
    size_t N;                 /* nodes kept (negligible weights dropped) */
    double *x, *w;            /* (N) nodes and weights */
    double *row_phi, *row_dphi;   /* (N) w_a φ(√q x_a), w_a φ'(√q x_a) */
    double *z, *phi, *dphi;   /* (N) scratch for the g2 side */
    double *block;            /* the single allocation */
} ntk_gauss2;

ntk_status ntk_gauss2_init(ntk_gauss2 *g, ntk_act act, int order);
/* A second workspace with src's rule (one per thread). */
ntk_status ntk_gauss2_copy(ntk_gauss2 *dst, const ntk_gauss2 *src);
void ntk_gauss2_free(ntk_gauss2 *g);
/* Fix q = ‖x‖²/s² of the first argument. */
void ntk_gauss2_set_row(ntk_gauss2 *g, double q);
/* Σ and Σ' for the current row against q' = q2 at angle θ, given as
 * rho = cos θ and sin_t = sin θ ≥ 0. Either output may be NULL to skip it. */
void ntk_gauss2_pair(ntk_gauss2 *g, double q2, double rho, double sin_t, double *Sigma,
                     double *dSigma);

#endif
