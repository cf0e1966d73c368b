/* Kernel gradient descent in closed form (docs/theory.md §6) and kernel ridge
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
 *   h_k = cη ∫_0^t e^{−cηλ_k t'} dt' = (1 − e^{−cηλ_k t})/λ_k  (→ t·cη).
 * Setting K_test = K recovers the training formula, so test and training
 * predictions are the same kernel model.
 *
 * Both predictions are functions of K applied to the one vector
 * r0 = y − u(0):  u(t) = y − g_t(K) r0 and f_test(t) = f_test(0) +
 * K_test h_t(K) r0, with g_t(λ) = (1 − cηλ)^t or e^{−cηλt} and
 * h_t(λ) = (1 − g_t(λ))/λ. Two ways to apply them:
 *
 * EIG: K = QΛQᵀ once (dsyevd, O(n³), memory-bound beyond a few thousand),
 *   then f(K) r0 = Q (f(Λ) ⊙ Qᵀ r0), O(n²) per time.
 *
 *
 * KRYLOV: Lanczos on K from r0, in src/kgd_krylov.c (its file comment has
 * the method and its stopping rule). */
#include "kgd_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* AUTO picks EIG for n up to this size, KRYLOV above. */
#define KGD_EIG_MAX_N NTK_KGD_EIG_MAX_N

/* Argument checks shared by both methods; fn names the caller. */
static ntk_status kgd_check_args(const double *K, size_t n, const double *y, const double *u0,
                                 double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                 const char *fn)
{
    if (!K || !y || !u0)
        return ntk_set_error(NTK_ERR_ARG, "%s: K, y and u0 must not be NULL", fn);
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "%s: n = 0; pass training points", fn);
    if (n > (size_t)INT32_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "%s: n = %zu is too large for BLAS", fn, n);
    if (!isfinite(lr) || lr < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: learning rate %g must be finite and >= 0", fn,
                             lr);
    if (loss != NTK_LOSS_MEAN && loss != NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown loss %d; use mean or sum", fn,
                             (int)loss);
    if (method != NTK_KGD_AUTO && method != NTK_KGD_EIG && method != NTK_KGD_KRYLOV)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown method %d; use auto, eig or krylov", fn,
                             (int)method);
    NTK_TRY(ntk_check_finite(y, n, "y"));
    NTK_TRY(ntk_check_finite(u0, n, "u0"));
    return NTK_OK;
}

/* EIG: K = QΛQᵀ (dsyevd) and c = Qᵀ (y − u0); g->y holds y. */
static ntk_status kgd_create_eig(ntk_kgd *g, const double *K, const double *u0)
{
    size_t n = g->n;
    NTK_TRY(ntk_mem_check(ntk_size_mul(n, n + 3, 1, sizeof(double)), 0,
                          "kernel GD eigendecomposition"));
    g->mem = ntk_alloc(2 * n, sizeof(double), "kernel GD eigenvalues");
    g->B = ntk_alloc(n * n, sizeof(double), "kernel GD eigenvectors");
    double *r0 = ntk_alloc(n, sizeof(double), "kernel GD residual");
    if (!g->mem || !g->B || !r0) {
        free(r0);
        return NTK_ERR_NOMEM;
    }
    g->lam = g->mem;
    g->c = g->mem + n;
    g->k = n;
    ntk_status st = ntk_eigh(K, n, g->lam, g->B);
    if (st == NTK_OK) {
        // c = Qᵀ r0, r0 = y − u0
        memcpy(r0, g->y, n * sizeof(double));
        cblas_daxpy((int)n, -1.0, u0, 1, r0, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, g->B, (int)n, r0, 1, 0.0,
                    g->c, 1);
    }
    free(r0);
    return st;
}

/* Mode λ at time t -> *gk = residual factor (1 − cηλ)^t (or e^{−cηλt}) and
 * *hk = (1 − *gk)/λ, with the λ → 0 limit t·cη (|λ| <= lam_tol). expm1 and
 * log1p keep both accurate when cηλ is small. */
ntk_status kgd_factor(double lam, double lam_tol, double ceta, double t, int flow, double *gk,
                      double *hk)
{
    double x = ceta * lam;
    if (fabs(lam) <= lam_tol) {
        *gk = 1.0;
        *hk = t * ceta;
        return NTK_OK;
    }
    if (flow || x < 1.0) {
        // docs/theory.md §6.1: ρ^t = exp(t·log(1 − cηλ)) for GD, exp(−cηλt) for flow
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

/* The refusal of GD with an unstable rate: the modes with cηλ > 2 grow as
 * |1 − cηλ|^t, so the predictions blow up instead of converging. */
static ntk_status kgd_unstable(const ntk_kgd *g)
{
    double lmax = g->lam[g->k - 1];
    return ntk_set_error(NTK_ERR_ARG,
                         "kernel GD with this rate is unstable: c*lr*lambda_max = %.4g > 2, so "
                         "the modes above lambda = 2/(c*lr) grow without bound; use a learning "
                         "rate below %.4g times the current one, or allow the unstable "
                         "dynamics explicitly",
                         g->ceta * lmax, 2.0 / (g->ceta * lmax));
}

ntk_kgd_config ntk_kgd_config_default(void)
{
    ntk_kgd_config c;
    memset(&c, 0, sizeof c);
    c.lr = 1.0;
    c.loss = NTK_LOSS_MEAN;
    c.method = NTK_KGD_AUTO;
    return c;
}

ntk_status ntk_kgd_create(const double *K, size_t n, const double *y, const double *u0,
                          const ntk_kgd_config *cfg, ntk_kgd **out)
{
    const char *fn = "ntk_kgd_create";
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (!cfg) return ntk_set_error(NTK_ERR_ARG, "%s: the configuration is NULL", fn);
    ntk_kgd_method method = cfg->method;
    double t_max = cfg->t_max;
    NTK_TRY(kgd_check_args(K, n, y, u0, cfg->lr, cfg->loss, method, fn));
    if (!(t_max >= 0.0))
        return ntk_set_error(NTK_ERR_ARG, "%s: t_max = %g must be >= 0 (0: every t)", fn, t_max);
    if (method == NTK_KGD_AUTO) method = n <= KGD_EIG_MAX_N ? NTK_KGD_EIG : NTK_KGD_KRYLOV;

    ntk_kgd *g = ntk_calloc(1, sizeof *g, "kernel GD");
    if (!g) return NTK_ERR_NOMEM;
    g->method = method;
    g->n = n;
    g->ceta = ntk_loss_scale(cfg->loss, n) * cfg->lr;
    g->allow_unstable = cfg->allow_unstable;
    g->t_max = t_max > 0.0 && method == NTK_KGD_KRYLOV ? t_max : INFINITY;
    g->y = ntk_alloc(n, sizeof(double), "kernel GD targets");
    ntk_status st = g->y ? NTK_OK : NTK_ERR_NOMEM;
    if (st == NTK_OK) {
        memcpy(g->y, y, n * sizeof(double));
        st = method == NTK_KGD_EIG ? kgd_create_eig(g, K, u0) : kgd_create_krylov(g, K, u0);
    }
    if (st == NTK_OK && !cfg->flow && !cfg->allow_unstable &&
        g->ceta * g->lam[g->k - 1] > 2.0)
        st = kgd_unstable(g);
    if (st != NTK_OK) {
        ntk_kgd_free(g);
        return st;
    }
    g->lam_tol = KGD_ZERO_RTOL * fmax(fabs(g->lam[0]), fabs(g->lam[g->k - 1]));
    *out = g;
    return NTK_OK;
}

ntk_status ntk_kgd_create_method(const double *K, size_t n, const double *y, const double *u0,
                                 double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                 double t_max, ntk_kgd **out)
{
    /* the dynamics are not known yet: an unstable GD rate is refused at the
     * first GD prediction instead */
    ntk_kgd_config c = ntk_kgd_config_default();
    c.lr = lr;
    c.loss = loss;
    c.method = method;
    c.t_max = t_max;
    c.flow = 1;
    return ntk_kgd_create(K, n, y, u0, &c, out);
}

void ntk_kgd_free(ntk_kgd *g)
{
    if (!g) return;
    free(g->mem);
    free(g->B);
    free(g->y);
    free(g);
}

const double *ntk_kgd_evals(const ntk_kgd *g)
{
    return g && g->method == NTK_KGD_EIG ? g->lam : NULL;
}

ntk_status ntk_kgd_extremes(const ntk_kgd *g, double *lmin, double *lmax, int *exact)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_extremes: g must not be NULL");
    if (lmin) *lmin = g->lam[0];
    if (lmax) *lmax = g->lam[g->k - 1];
    // k = n Lanczos vectors span R^n: the Ritz values are the eigenvalues
    if (exact) *exact = g->method == NTK_KGD_EIG || g->k == g->n;
    return NTK_OK;
}

ntk_status ntk_kgd_info(const ntk_kgd *g, ntk_kgd_method *method, size_t *k, double *err_est)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_info: g must not be NULL");
    if (method) *method = g->method;
    if (k) *k = g->k;
    if (err_est) *err_est = g->method == NTK_KGD_EIG ? 0.0 : g->err_est;
    return NTK_OK;
}

/* Shared validation of predict_train / predict_test. */
static ntk_status kgd_check_t(const ntk_kgd *g, double t, const char *fn)
{
    if (!g) return ntk_set_error(NTK_ERR_ARG, "%s: g must not be NULL", fn);
    if (!isfinite(t) || t < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: t = %g must be finite and >= 0", fn, t);
    if (t > g->t_max)
        return ntk_set_error(NTK_ERR_ARG,
                             "%s: t = %g is beyond t_max = %g the Krylov basis was built for; "
                             "create it with a larger t_max (0: every t)",
                             fn, t, g->t_max);
    return NTK_OK;
}

/* a (n) ← alpha·f(K) r0 + beta·a with f = g_t (which = 0) or h_t (1):
 *   EIG     f(K) r0 = Q (f(Λ) ⊙ Qᵀr0),
 *   KRYLOV  f(K) r0 ≈ V_k S (f(Θ) ⊙ ‖r0‖ Sᵀe_1). */
static ntk_status kgd_apply(const ntk_kgd *g, double t, int flow, int which, double alpha,
                            double beta, double *a)
{
    size_t n = g->n, k = g->k;
    double *w = ntk_alloc(2 * k, sizeof(double), "kernel GD coefficients");
    if (!w) return NTK_ERR_NOMEM;
    double *z = w + k;
    ntk_status st = NTK_OK;
    if (!flow && !g->allow_unstable && g->ceta * g->lam[k - 1] > 2.0) st = kgd_unstable(g);
    for (size_t i = 0; i < k && st == NTK_OK; i++) {
        double gk, hk;
        st = kgd_factor(g->lam[i], g->lam_tol, g->ceta, t, flow, &gk, &hk);
        w[i] = (which ? hk : gk) * g->c[i];
    }
    if (st == NTK_OK && g->method == NTK_KGD_EIG) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, alpha, g->B, (int)n, w, 1,
                    beta, a, 1);
    } else if (st == NTK_OK) {
        // z = S w (S = Uᵀ), then V_k z with V_kᵀ stored (k,n)
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)k, 1.0, g->U, (int)k, w, 1, 0.0, z,
                    1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, g->B, (int)n, z, 1, beta,
                    a, 1);
    }
    free(w);
    return st;
}

static ntk_status kgd_diverged(const ntk_kgd *g, double t)
{
    return ntk_set_error(NTK_ERR_DIVERGED,
                         "kernel GD diverges at t = %g: c*lr*lambda_max = %g > 2; lower the "
                         "learning rate",
                         t, g->ceta * g->lam[g->k - 1]);
}

/* u (n) = y − g_t(K) r0  (docs/theory.md §6.1: u(t) − y = (I − cηK)^t (u(0) − y)). */
ntk_status ntk_kgd_predict_train(const ntk_kgd *g, double t, int flow, double *u)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_train"));
    if (!u) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_train: u must not be NULL");
    size_t n = g->n;
    double *tmp = ntk_alloc(n, sizeof(double), "kernel GD predictions");
    if (!tmp) return NTK_ERR_NOMEM;
    memcpy(tmp, g->y, n * sizeof(double));
    ntk_status st = kgd_apply(g, t, flow, 0, -1.0, 1.0, tmp);
    if (st == NTK_OK && ntk_check_finite(tmp, n, "kernel GD predictions") != NTK_OK)
        st = kgd_diverged(g, t);
    if (st == NTK_OK) memcpy(u, tmp, n * sizeof(double));
    free(tmp);
    return st;
}

/* K_test (nt,n), f0_test (nt) or NULL (zeros) -> f_test (nt) =
 * f0_test + K_test h_t(K) r0. */
ntk_status ntk_kgd_predict_test(const ntk_kgd *g, double t, int flow, const double *K_test,
                                size_t nt, const double *f0_test, double *f_test)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_test"));
    if (!K_test || !f_test)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kgd_predict_test: K_test and f_test must not be NULL");
    if (nt == 0) return NTK_OK;
    size_t n = g->n;
    NTK_TRY(ntk_check_finite(K_test, ntk_size_mul(nt, n, 1, 1), "K_test"));
    if (f0_test) NTK_TRY(ntk_check_finite(f0_test, nt, "f0_test"));
    double *a = ntk_alloc(n, sizeof(double), "kernel GD coefficients");
    if (!a) return NTK_ERR_NOMEM;
    // a = h_t(K) r0;  f_test = f0_test + K_test a
    ntk_status st = kgd_apply(g, t, flow, 1, 1.0, 0.0, a);
    if (st == NTK_OK) {
        if (f0_test) memmove(f_test, f0_test, nt * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nt, (int)n, 1.0, K_test, (int)n, a, 1,
                    f0_test ? 1.0 : 0.0, f_test, 1);
        if (ntk_check_finite(f_test, nt, "kernel GD test predictions") != NTK_OK)
            st = kgd_diverged(g, t);
    }
    free(a);
    return st;
}
