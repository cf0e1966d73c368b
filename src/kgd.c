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
#include "operator_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* AUTO picks EIG for n up to this size, KRYLOV above. */
#define KGD_EIG_MAX_N NTK_KGD_EIG_MAX_N

/* Argument checks shared by both methods; fn names the caller. */
static ntk_status kgd_check_args(const double *K, size_t n, const double *y, const double *u0,
                                 const ntk_kgd_config *cfg, size_t kout, const char *fn)
{
    if (!K || !y || !u0)
        return ntk_set_error(NTK_ERR_ARG, "%s: K, y and u0 must not be NULL", fn);
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "%s: n = 0; pass training points", fn);
    if (n > (size_t)INT32_MAX / 2 || kout > (size_t)INT32_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "%s: n = %zu or %zu outputs are too many for BLAS",
                             fn, n, kout);
    if (!isfinite(cfg->lr) || cfg->lr < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: learning rate %g must be finite and >= 0", fn,
                             cfg->lr);
    if (cfg->loss != NTK_LOSS_MEAN && cfg->loss != NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown loss %d; use mean or sum", fn,
                             (int)cfg->loss);
    if (cfg->method != NTK_KGD_AUTO && cfg->method != NTK_KGD_EIG && cfg->method != NTK_KGD_KRYLOV)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown method %d; use auto, eig or krylov", fn,
                             (int)cfg->method);
    if (!(cfg->t_max >= 0.0))
        return ntk_set_error(NTK_ERR_ARG, "%s: t_max = %g must be >= 0 (0: every t)", fn,
                             cfg->t_max);
    NTK_TRY(ntk_check_finite(y, n * kout, "y"));
    return ntk_check_finite(u0, n * kout, "u0");
}

/* EIG: K = QΛQᵀ (dsyevd) and C = Qᵀ (Y − U0), one part for every column. */
static ntk_status kgd_create_eig(ntk_kgd *g, const double *K, const double *R0)
{
    size_t n = g->n, kout = g->kout;
    NTK_TRY(ntk_mem_check(ntk_size_mul(n, n + 3 + kout, 1, sizeof(double)), 0,
                          "kernel GD eigendecomposition"));
    kgd_part *p = &g->parts[0];
    p->j0 = 0, p->nc = kout, p->k = n;
    p->mem = ntk_alloc(n + n * kout, sizeof(double), "kernel GD eigenvalues");
    p->B = ntk_alloc(n * n, sizeof(double), "kernel GD eigenvectors");
    if (!p->mem || !p->B) return NTK_ERR_NOMEM;
    p->lam = p->mem;
    p->c = p->mem + n;
    NTK_TRY(ntk_eigh(K, n, p->lam, p->B));
    // C = Qᵀ R0
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)kout, (int)n, 1.0, p->B,
                (int)n, R0, (int)kout, 0.0, p->c, (int)kout);
    return NTK_OK;
}

/* w = K v for a stored K (n,n) */
typedef struct {
    const double *K;
    size_t n;
} dense_product;

static ntk_status apply_dense(void *ctx, const double *v, double *w)
{
    const dense_product *d = ctx;
    cblas_dsymv(CblasRowMajor, CblasLower, (int)d->n, 1.0, d->K, (int)d->n, v, 1, 0.0, w, 1);
    return NTK_OK;
}

static ntk_status apply_op(void *ctx, const double *v, double *w)
{
    return ntk_op_apply(ctx, v, 1, w);
}

/* KRYLOV: one Lanczos basis per column, from its own residual. */
static ntk_status kgd_create_krylov(ntk_kgd *g, const kgd_product *K, const double *R0)
{
    size_t n = g->n, kout = g->kout;
    double *r = ntk_alloc(n, sizeof(double), "kernel GD residual");
    if (!r) return NTK_ERR_NOMEM;
    ntk_status st = NTK_OK;
    for (size_t j = 0; j < kout && st == NTK_OK; j++) {
        for (size_t i = 0; i < n; i++) r[i] = R0[i * kout + j];
        g->parts[j].j0 = j, g->parts[j].nc = 1;
        st = kgd_krylov_part(&g->parts[j], K, n, r, g->ceta, g->t_max, g->kmax);
    }
    free(r);
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
static double kgd_lmax(const ntk_kgd *g);

static ntk_status kgd_unstable(const ntk_kgd *g)
{
    double lmax = kgd_lmax(g);
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

/* λ_max over the parts (Ritz values with KRYLOV) */
static double kgd_lmax(const ntk_kgd *g)
{
    double m = -INFINITY;
    for (size_t j = 0; j < g->nparts; j++) m = fmax(m, g->parts[j].lam[g->parts[j].k - 1]);
    return m;
}

/* R0 = Y − U0 (n, kout), then the parts of the method, from the stored K
 * (when not NULL) or the operator's products. */
static ntk_status kgd_build(ntk_kgd *g, const double *K, ntk_op *op, const double *y,
                            const double *u0)
{
    size_t count = g->n * g->kout;
    g->y = ntk_alloc(2 * count, sizeof(double), "kernel GD targets");
    g->parts = ntk_calloc(g->method == NTK_KGD_EIG ? 1 : g->kout, sizeof(kgd_part), "kernel GD");
    if (!g->y || !g->parts) return NTK_ERR_NOMEM;
    g->nparts = g->method == NTK_KGD_EIG ? 1 : g->kout;
    double *R0 = g->y + count;
    memcpy(g->y, y, count * sizeof(double));
    memcpy(R0, y, count * sizeof(double));
    ntk_axpy(count, -1.0, u0, R0);
    if (g->method == NTK_KGD_EIG) {
        NTK_TRY(kgd_create_eig(g, K, R0));
    } else {
        dense_product dp = {K, g->n};
        kgd_product prod = {K ? apply_dense : apply_op, K ? (void *)&dp : (void *)op, 0.0};
        if (K) {
            for (size_t i = 0; i < g->n; i++) prod.maxdiag = fmax(prod.maxdiag, fabs(K[i * g->n + i]));
        } else {
            double *D = ntk_alloc(g->n, sizeof(double), "kernel diagonal");
            if (!D) return NTK_ERR_NOMEM;
            ntk_status st = ntk_op_diag(op, D);
            for (size_t i = 0; st == NTK_OK && i < g->n; i++) prod.maxdiag = fmax(prod.maxdiag, fabs(D[i]));
            free(D);
            NTK_TRY(st);
        }
        NTK_TRY(kgd_create_krylov(g, &prod, R0));
    }
    for (size_t j = 0; j < g->nparts; j++) {
        kgd_part *p = &g->parts[j];
        p->lam_tol = KGD_ZERO_RTOL * fmax(fabs(p->lam[0]), fabs(p->lam[p->k - 1]));
    }
    return NTK_OK;
}

/* The shared creation: K stored (may be NULL with op) or op's products. */
static ntk_status kgd_create_from(const double *K, ntk_op *op, size_t n, const double *y,
                                  const double *u0, const ntk_kgd_config *cfg, ntk_kgd **out)
{
    size_t kout = cfg->outputs ? cfg->outputs : 1;
    ntk_kgd *g = ntk_calloc(1, sizeof *g, "kernel GD");
    if (!g) return NTK_ERR_NOMEM;
    g->method = cfg->method != NTK_KGD_AUTO ? cfg->method
                : n <= KGD_EIG_MAX_N && K ? NTK_KGD_EIG : NTK_KGD_KRYLOV;
    g->n = n;
    g->kout = kout;
    g->ceta = ntk_loss_scale(cfg->loss, n) * cfg->lr;
    g->allow_unstable = cfg->allow_unstable;
    g->kmax = cfg->krylov_kmax;
    g->t_max = cfg->t_max > 0.0 && g->method == NTK_KGD_KRYLOV ? cfg->t_max : INFINITY;
    ntk_status st = g->method == NTK_KGD_EIG && !K
                        ? ntk_set_error(NTK_ERR_ARG, "kernel GD: the eig method needs a stored "
                                        "kernel; use krylov, or a dense operator")
                        : kgd_build(g, K, op, y, u0);
    if (st == NTK_OK && !cfg->flow && !cfg->allow_unstable && g->ceta * kgd_lmax(g) > 2.0)
        st = kgd_unstable(g);
    if (st != NTK_OK) {
        ntk_kgd_free(g);
        return st;
    }
    *out = g;
    return NTK_OK;
}

ntk_status ntk_kgd_create(const double *K, size_t n, const double *y, const double *u0,
                          const ntk_kgd_config *cfg, ntk_kgd **out)
{
    const char *fn = "ntk_kgd_create";
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (!cfg) return ntk_set_error(NTK_ERR_ARG, "%s: the configuration is NULL", fn);
    NTK_TRY(kgd_check_args(K, n, y, u0, cfg, cfg->outputs ? cfg->outputs : 1, fn));
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    return kgd_create_from(K, NULL, n, y, u0, cfg, out);
}

ntk_status ntk_kgd_create_op(ntk_op *op, const double *y, const double *u0,
                             const ntk_kgd_config *cfg, ntk_kgd **out)
{
    const char *fn = "ntk_kgd_create_op";
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (!cfg || !op) return ntk_set_error(NTK_ERR_ARG, "%s: the operator or the configuration is NULL", fn);
    size_t n = op->n;
    /* a stored kernel is checked like a given one; the others are
     * symmetric by construction */
    NTK_TRY(kgd_check_args(op->K ? op->K : y, n, y, u0, cfg, cfg->outputs ? cfg->outputs : 1, fn));
    return kgd_create_from(op->K, op, n, y, u0, cfg, out);
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
    for (size_t j = 0; g->parts && j < g->nparts; j++) {
        free(g->parts[j].mem);
        free(g->parts[j].B);
    }
    free(g->parts);
    free(g->y);
    free(g);
}

const double *ntk_kgd_evals(const ntk_kgd *g)
{
    return g && g->method == NTK_KGD_EIG ? g->parts[0].lam : NULL;
}

ntk_status ntk_kgd_extremes(const ntk_kgd *g, double *lmin, double *lmax, int *exact)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_extremes: g must not be NULL");
    // over the parts: the smallest upper bound on λ_min, the largest lower bound on λ_max;
    // k = n Lanczos vectors span R^n: the Ritz values are the eigenvalues
    double lo = INFINITY, hi = -INFINITY;
    int ex = g->method == NTK_KGD_EIG;
    for (size_t j = 0; j < g->nparts; j++) {
        const kgd_part *p = &g->parts[j];
        lo = fmin(lo, p->lam[0]);
        hi = fmax(hi, p->lam[p->k - 1]);
        ex = ex || p->k == g->n;
    }
    if (lmin) *lmin = lo;
    if (lmax) *lmax = hi;
    if (exact) *exact = ex;
    return NTK_OK;
}

ntk_status ntk_kgd_info(const ntk_kgd *g, ntk_kgd_method *method, size_t *k, double *err_est)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_info: g must not be NULL");
    size_t kmax = 0;
    double err = 0.0;
    for (size_t j = 0; j < g->nparts; j++) {
        kmax = g->parts[j].k > kmax ? g->parts[j].k : kmax;
        if (g->method == NTK_KGD_KRYLOV) err = fmax(err, g->parts[j].err_est);
    }
    if (method) *method = g->method;
    if (k) *k = kmax;
    if (err_est) *err_est = err;
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

/* A (n, kout) ← alpha·f(K) R0 + beta·A with f = g_t (which = 0) or h_t (1),
 * part by part:
 *   EIG     f(K) R0 = Q (f(Λ) C),             C = Qᵀ R0,
 *   KRYLOV  f(K) r0 ≈ V_k S (f(Θ) ⊙ ‖r0‖ Sᵀe_1) for each column. */
static ntk_status kgd_apply(const ntk_kgd *g, double t, int flow, int which, double alpha,
                            double beta, double *A)
{
    size_t n = g->n, kout = g->kout, kmax = 0;
    if (!flow && !g->allow_unstable && g->ceta * kgd_lmax(g) > 2.0) return kgd_unstable(g);
    for (size_t j = 0; j < g->nparts; j++) kmax = g->parts[j].k > kmax ? g->parts[j].k : kmax;
    double *W = ntk_alloc(2 * kmax * kout, sizeof(double), "kernel GD coefficients");
    if (!W) return NTK_ERR_NOMEM;
    ntk_status st = NTK_OK;
    for (size_t j = 0; j < g->nparts && st == NTK_OK; j++) {
        const kgd_part *p = &g->parts[j];
        size_t k = p->k, nc = p->nc;
        double *Z = W + kmax * kout;
        for (size_t i = 0; i < k && st == NTK_OK; i++) {
            double gk, hk;
            st = kgd_factor(p->lam[i], p->lam_tol, g->ceta, t, flow, &gk, &hk);
            for (size_t c = 0; c < nc; c++) W[i * nc + c] = (which ? hk : gk) * p->c[i * nc + c];
        }
        if (st != NTK_OK) break;
        double *Aj = A + p->j0;
        if (g->method == NTK_KGD_EIG) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)nc, (int)n, alpha,
                        p->B, (int)n, W, (int)nc, beta, Aj, (int)kout);
        } else {
            // Z = S W (S = Uᵀ), then V_k Z with V_kᵀ stored (k,n)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)nc, (int)k, 1.0,
                        p->U, (int)k, W, (int)nc, 0.0, Z, (int)nc);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)nc, (int)k, alpha,
                        p->B, (int)n, Z, (int)nc, beta, Aj, (int)kout);
        }
    }
    free(W);
    return st;
}

static ntk_status kgd_diverged(const ntk_kgd *g, double t)
{
    return ntk_set_error(NTK_ERR_DIVERGED,
                         "kernel GD diverges at t = %g: c*lr*lambda_max = %g > 2; lower the "
                         "learning rate",
                         t, g->ceta * kgd_lmax(g));
}

/* U (n, kout) = Y − g_t(K) R0  (docs/theory.md §6.1: u(t) − y = (I − cηK)^t (u(0) − y)). */
ntk_status ntk_kgd_predict_train(const ntk_kgd *g, double t, int flow, double *u)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_train"));
    if (!u) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_train: u must not be NULL");
    size_t count = g->n * g->kout;
    double *tmp = ntk_alloc(count, sizeof(double), "kernel GD predictions");
    if (!tmp) return NTK_ERR_NOMEM;
    memcpy(tmp, g->y, count * sizeof(double));
    ntk_status st = kgd_apply(g, t, flow, 0, -1.0, 1.0, tmp);
    if (st == NTK_OK && ntk_check_finite(tmp, count, "kernel GD predictions") != NTK_OK)
        st = kgd_diverged(g, t);
    if (st == NTK_OK) memcpy(u, tmp, count * sizeof(double));
    free(tmp);
    return st;
}

/* K_test (nt,n), F0_test (nt, kout) or NULL (zeros) -> F_test (nt, kout) =
 * F0_test + K_test h_t(K) R0. */
ntk_status ntk_kgd_predict_test(const ntk_kgd *g, double t, int flow, const double *K_test,
                                size_t nt, const double *f0_test, double *f_test)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_test"));
    if (!K_test || !f_test)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kgd_predict_test: K_test and f_test must not be NULL");
    if (nt == 0) return NTK_OK;
    size_t n = g->n, kout = g->kout;
    NTK_TRY(ntk_check_finite(K_test, ntk_size_mul(nt, n, 1, 1), "K_test"));
    if (f0_test) NTK_TRY(ntk_check_finite(f0_test, nt * kout, "f0_test"));
    double *a = ntk_alloc(n * kout, sizeof(double), "kernel GD coefficients");
    if (!a) return NTK_ERR_NOMEM;
    // A = h_t(K) R0;  F_test = F0_test + K_test A
    ntk_status st = kgd_apply(g, t, flow, 1, 1.0, 0.0, a);
    if (st == NTK_OK) {
        if (f0_test) memmove(f_test, f0_test, nt * kout * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nt, (int)kout, (int)n, 1.0,
                    K_test, (int)n, a, (int)kout, f0_test ? 1.0 : 0.0, f_test, (int)kout);
        if (ntk_check_finite(f_test, nt * kout, "kernel GD test predictions") != NTK_OK)
            st = kgd_diverged(g, t);
    }
    free(a);
    return st;
}

/* F_test = F0_test + K(Xt, X) h_t(K) R0, with the cross block applied by the
 * operator (never stored). */
ntk_status ntk_kgd_predict_cross(const ntk_kgd *g, double t, int flow, ntk_op *op,
                                 const double *Xt, size_t nt, const double *f0_test,
                                 double *f_test)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_cross"));
    if (!op || !Xt || !f_test)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_cross: op, Xt and f_test must not be NULL");
    if (op->n != g->n)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_cross: the operator has %zu points, "
                             "kernel GD %zu", op->n, g->n);
    if (nt == 0) return NTK_OK;
    size_t n = g->n, kout = g->kout;
    if (f0_test) NTK_TRY(ntk_check_finite(f0_test, nt * kout, "f0_test"));
    double *a = ntk_alloc(n * kout, sizeof(double), "kernel GD coefficients");
    if (!a) return NTK_ERR_NOMEM;
    ntk_status st = kgd_apply(g, t, flow, 1, 1.0, 0.0, a);
    if (st == NTK_OK) st = ntk_op_cross_apply(op, Xt, nt, a, kout, f_test);
    if (st == NTK_OK && f0_test) ntk_axpy(nt * kout, 1.0, f0_test, f_test);
    if (st == NTK_OK && ntk_check_finite(f_test, nt * kout, "kernel GD test predictions") != NTK_OK)
        st = kgd_diverged(g, t);
    free(a);
    return st;
}
