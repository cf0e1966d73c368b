/* Kernel gradient descent in closed form (MATH.md §6) and kernel ridge
 * regression.
 *
 * The kernel model is trained by GD on the loss L = c/2·Σ (u_i − y_i)²
 * (c = ntk_loss_scale: 1/n mean, 1 sum) with rate η, so each step moves
 *   u      ← u      − cη K      (u − y)                         (train, n)
 *   f_test ← f_test − cη K_test (u − y)                         (test, nt)
 * With e(t) = u(t) − y and K = QΛQᵀ, e(t) = Q diag(ρ_k^t) Qᵀ e(0),
 * ρ_k = 1 − cηλ_k. Summing the test updates over steps 0..t−1:
 *   f_test(t) = f_test(0) − cη K_test Q diag(Σ_{τ<t} ρ_k^τ) Qᵀ e(0)
 *             = f_test(0) + K_test Q diag(h_k) Qᵀ (y − u(0)),
 *   h_k = cη (1 − ρ_k^t)/(1 − ρ_k) = (1 − (1 − cηλ_k)^t)/λ_k,
 * so the factor cη cancels for λ_k ≠ 0 and reappears in the limit
 * h_k → t·cη as λ_k → 0. Gradient flow, de/dt = −cηK e, gives
 * e(t) = Q diag(e^{−cηλ_k t}) Qᵀ e(0) and, integrating the test update,
 *   h_k = cη ∫_0^t e^{−cηλ_k τ} dτ = (1 − e^{−cηλ_k t})/λ_k  (→ t·cη).
 * Setting K_test = K recovers the training formula, so test and training
 * predictions are the same kernel model. */
#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Eigenvalues with |λ| below this fraction of max |λ| count as 0. */
#define KGD_ZERO_RTOL 1e-12

struct ntk_kgd {
    size_t n;
    double ceta;      /* c·η */
    double lam_tol;   /* |λ| <= lam_tol is treated as 0 */
    double *lam;      /* (n) ascending */
    double *Q;        /* (n,n), eigenvector k in column k */
    double *r0;       /* Qᵀ (y − u0) (n) */
    double *y;        /* (n) */
};

/* K (n,n), y (n), u0 (n) -> g; eigendecomposition and Qᵀ(y − u0) once. */
ntk_status ntk_kgd_create(const double *K, size_t n, const double *y, const double *u0,
                          double lr, ntk_loss_kind loss, ntk_kgd **out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_create: out must not be NULL");
    *out = NULL;
    if (!K || !y || !u0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_create: K, y and u0 must not be NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_create: n = 0; pass training points");
    if (!isfinite(lr) || lr < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_create: learning rate %g must be finite and "
                             ">= 0", lr);
    if (loss != NTK_LOSS_MEAN && loss != NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_create: unknown loss %d; use mean or sum",
                             (int)loss);
    NTK_TRY(ntk_check_finite(y, n, "y"));
    NTK_TRY(ntk_check_finite(u0, n, "u0"));

    ntk_kgd *g = ntk_calloc(1, sizeof *g, "kernel GD");
    if (!g) return NTK_ERR_NOMEM;
    g->n = n;
    g->ceta = ntk_loss_scale(loss, n) * lr;
    g->lam = ntk_alloc(n * (n + 3), sizeof(double), "kernel GD eigendecomposition");
    if (!g->lam) {
        free(g);
        return NTK_ERR_NOMEM;
    }
    g->Q = g->lam + n;
    g->r0 = g->Q + n * n;
    g->y = g->r0 + n;
    ntk_status st = ntk_eigh(K, n, g->lam, g->Q);
    if (st != NTK_OK) {
        ntk_kgd_free(g);
        return st;
    }
    g->lam_tol = KGD_ZERO_RTOL * fmax(fabs(g->lam[0]), fabs(g->lam[n - 1]));
    // r0 = Qᵀ (y − u0); g->y holds y − u0 for the moment
    memcpy(g->y, y, n * sizeof(double));
    cblas_daxpy((int)n, -1.0, u0, 1, g->y, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, g->Q, (int)n, g->y, 1, 0.0,
                g->r0, 1);
    memcpy(g->y, y, n * sizeof(double));
    *out = g;
    return NTK_OK;
}

void ntk_kgd_free(ntk_kgd *g)
{
    if (!g) return;
    free(g->lam);
    free(g);
}

const double *ntk_kgd_evals(const ntk_kgd *g) { return g ? g->lam : NULL; }

/* Mode k at time t -> *gk = residual factor ρ_k^t (or e^{−cηλ_k t}) and
 * *hk = (1 − *gk)/λ_k, with the λ_k → 0 limit t·cη. expm1/log1p keep
 * both accurate when cηλ_k is small. */
static ntk_status kgd_factors(const ntk_kgd *g, size_t k, double t, int flow, double *gk,
                              double *hk)
{
    double lam = g->lam[k], x = g->ceta * lam;
    if (fabs(lam) <= g->lam_tol) {
        *gk = 1.0;
        *hk = t * g->ceta;
        return NTK_OK;
    }
    if (flow || x < 1.0) {
        // MATH.md §6: ρ^t = exp(t·log(1 − cηλ)) for GD, exp(−cηλt) for flow
        double L = flow ? -x * t : t * log1p(-x);
        *gk = exp(L);
        *hk = -expm1(L) / lam;
        return NTK_OK;
    }
    if (t != floor(t))
        return ntk_set_error(NTK_ERR_ARG,
                             "kernel GD: non-integer t = %g with 1 - c*lr*lambda = %g <= 0 "
                             "(oscillating mode); pass an integer step count or a smaller lr",
                             t, 1.0 - x);
    *gk = pow(1.0 - x, t);
    *hk = (1.0 - *gk) / lam;
    return NTK_OK;
}

/* Shared validation of predict_train / predict_test. */
static ntk_status kgd_check_t(const ntk_kgd *g, double t, const char *fn)
{
    if (!g) return ntk_set_error(NTK_ERR_ARG, "%s: g must not be NULL", fn);
    if (!isfinite(t) || t < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: t = %g must be finite and >= 0", fn, t);
    return NTK_OK;
}

/* u (n) = y + Q diag(ρ^t) Qᵀ (u0 − y) = y − Q (ρ^t ⊙ r0). */
ntk_status ntk_kgd_predict_train(const ntk_kgd *g, double t, int flow, double *u)
{
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_train"));
    if (!u) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_train: u must not be NULL");
    size_t n = g->n;
    double *w = ntk_alloc(n, sizeof(double), "kernel GD coefficients");
    if (!w) return NTK_ERR_NOMEM;
    ntk_status st = NTK_OK;
    for (size_t k = 0; k < n && st == NTK_OK; k++) {
        double gk, hk;
        st = kgd_factors(g, k, t, flow, &gk, &hk);
        w[k] = gk * g->r0[k];
    }
    if (st == NTK_OK) {
        // MATH.md §6: u(t) − y = Q diag(ρ^t) Qᵀ (u(0) − y)
        memcpy(u, g->y, n * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, -1.0, g->Q, (int)n, w, 1, 1.0,
                    u, 1);
        if (ntk_check_finite(u, n, "kernel GD predictions") != NTK_OK)
            st = ntk_set_error(NTK_ERR_DIVERGED,
                               "kernel GD diverges at t = %g: c*lr*lambda_max = %g > 2; lower "
                               "the learning rate",
                               t, g->ceta * g->lam[n - 1]);
    }
    free(w);
    return st;
}

/* K_test (nt,n), f0_test (nt) or NULL (zeros) -> f_test (nt) =
 * f0_test + K_test Q diag(h) Qᵀ (y − u0). */
ntk_status ntk_kgd_predict_test(const ntk_kgd *g, double t, int flow, const double *K_test,
                                size_t nt, const double *f0_test, double *f_test)
{
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_test"));
    if (!K_test || !f_test)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kgd_predict_test: K_test and f_test must not be NULL");
    if (nt == 0) return NTK_OK;
    size_t n = g->n;
    NTK_TRY(ntk_check_finite(K_test, ntk_size_mul(nt, n, 1, 1), "K_test"));
    if (f0_test) NTK_TRY(ntk_check_finite(f0_test, nt, "f0_test"));
    double *w = ntk_alloc(2 * n, sizeof(double), "kernel GD coefficients");
    if (!w) return NTK_ERR_NOMEM;
    double *a = w + n;
    ntk_status st = NTK_OK;
    for (size_t k = 0; k < n && st == NTK_OK; k++) {
        double gk, hk;
        st = kgd_factors(g, k, t, flow, &gk, &hk);
        w[k] = hk * g->r0[k];
    }
    if (st == NTK_OK) {
        // a = Q diag(h) Qᵀ (y − u0);  f_test = f0_test + K_test a
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, g->Q, (int)n, w, 1, 0.0, a,
                    1);
        if (f0_test) memmove(f_test, f0_test, nt * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nt, (int)n, 1.0, K_test, (int)n, a, 1,
                    f0_test ? 1.0 : 0.0, f_test, 1);
        if (ntk_check_finite(f_test, nt, "kernel GD test predictions") != NTK_OK)
            st = ntk_set_error(NTK_ERR_DIVERGED,
                               "kernel GD diverges at t = %g: c*lr*lambda_max = %g > 2; lower "
                               "the learning rate",
                               t, g->ceta * g->lam[n - 1]);
    }
    free(w);
    return st;
}

/* K (n,n) symmetric, y (n) -> alpha_out (n) = (λI + K)^{-1} y (dposv). */
ntk_status ntk_kernel_ridge(const double *K, size_t n, const double *y, double ridge,
                            double *alpha_out)
{
    if (!K || !y || !alpha_out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: K, y and alpha_out must not be NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: n = 0; pass training points");
    if (!isfinite(ridge) || ridge < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: ridge %g must be finite and >= 0",
                             ridge);
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    NTK_TRY(ntk_check_finite(y, n, "y"));
    double *A = ntk_alloc(n * n, sizeof(double), "kernel ridge matrix");
    if (!A) return NTK_ERR_NOMEM;
    // seed 002: f(x) = K(x, X) (λI + K)^{-1} y
    memcpy(A, K, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) A[i * n + i] += ridge;
    memmove(alpha_out, y, n * sizeof(double));
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, 1, A, (lapack_int)n,
                                    alpha_out, 1);
    free(A);
    if (info > 0)
        return ntk_set_error(NTK_ERR_LAPACK,
                             "kernel ridge: ridge*I + K is not positive definite (leading minor "
                             "%d fails, ridge = %g); increase the ridge",
                             (int)info, ridge);
    if (info != 0)
        return ntk_set_error(info == LAPACK_TRANSPOSE_MEMORY_ERROR ? NTK_ERR_NOMEM
                                                                   : NTK_ERR_LAPACK,
                             "kernel ridge: dposv failed (info = %d) for n = %zu", (int)info, n);
    return NTK_OK;
}
