/* Kernel GD's state and the pieces its two methods share (src/kgd.c,
 * src/kgd_krylov.c). */
#ifndef NTK_KGD_INTERNAL_H
#define NTK_KGD_INTERNAL_H

#include "internal.h"

/* Eigenvalues with |λ| below this fraction of max |λ| count as 0. */
#define KGD_ZERO_RTOL 1e-12
/* AUTO picks EIG for n up to this size, KRYLOV above. */
/* Krylov: dimension cap, target of the error estimate, top Ritz residual,
 * invariant-subspace threshold and the stride between convergence checks. */
#define KGD_KRYLOV_KMAX NTK_KGD_KRYLOV_KMAX
#define KGD_KRYLOV_RTOL 1e-10
#define KGD_LMAX_RTOL 1e-8
#define KGD_INVARIANT_RTOL 1e-14
#define KGD_CHECK_EVERY 10
/* Geometric time grid of the stopping rule: first exponent, last one, and
 * the decay cη θ_min⁺ t at which it ends. */
#define KGD_GRID_J0 (-2)
#define KGD_GRID_JMAX 60
#define KGD_GRID_DECAY 40.0

/* One factorisation of K serving output columns [j0, j0 + nc): with EIG one
 * part serves every column (the eigenvectors are shared); with KRYLOV each
 * column has its own Lanczos basis, from its own residual. */
typedef struct {
    size_t k;                /* modes: n (EIG) or the Krylov dimension */
    size_t j0, nc;           /* the output columns served */
    double lam_tol;          /* |λ| <= lam_tol is treated as 0 */
    double err_est;          /* KRYLOV: last error estimate (0: exact) */
    double *lam;             /* (k) ascending: eigenvalues or Ritz values */
    double *B;               /* EIG: Q (n,n), eigenvector j in column j;
                                KRYLOV: V_kᵀ (k,n), Lanczos vector j in row j */
    double *U;               /* KRYLOV: (k,k), row i = eigenvector i of T_k (column
                                i of S); NULL for EIG */
    double *c;               /* (k, nc): Qᵀ R0, or ‖r0‖ Sᵀ e_1 */
    double *mem;             /* the block holding lam, c (and U) */
} kgd_part;

struct ntk_kgd {
    ntk_kgd_method method;   /* EIG or KRYLOV, never AUTO */
    size_t n, kout;          /* points, output columns */
    double ceta;             /* c·η */
    double t_max;            /* KRYLOV: predictions allowed for t <= t_max */
    size_t kmax;             /* KRYLOV: most basis vectors (0: KGD_KRYLOV_KMAX) */
    double *y;               /* (n, kout) */
    size_t nparts;
    kgd_part *parts;
    int allow_unstable;      /* GD predictions with cη λ_max > 2 allowed */
};

/* Mode λ at time t -> *gk = residual factor (1 − cηλ)^t (or e^{−cηλt}) and
 * *hk = (1 − *gk)/λ (src/kgd.c). */
ntk_status kgd_factor(double lam, double lam_tol, double ceta, double t, int flow, double *gk,
                      double *hk);
/* The products a Lanczos recurrence needs: w (n) = K v (n), and max_i K_ii
 * (for the test-prediction error bound of the stopping rule). */
typedef struct {
    ntk_status (*apply)(void *ctx, const double *v, double *w);
    void *ctx;
    double maxdiag;
} kgd_product;

/* KRYLOV: the Lanczos basis, Ritz values and coefficients of one residual
 * r0 (n) into part p (src/kgd_krylov.c); ceta and t_max as in ntk_kgd. */
ntk_status kgd_krylov_part(kgd_part *p, const kgd_product *K, size_t n, const double *r0,
                           double ceta, double t_max, size_t kmax);

#endif
