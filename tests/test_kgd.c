/* Closed-form kernel GD (docs/theory.md §6) against explicit iteration of the
 * kernel model, gradient flow against its power series, the singular limit
 * against the minimum-norm interpolant, and kernel ridge against LU; each
 * for both methods (eigendecomposition and Lanczos). The Krylov method
 * against the eigendecomposition on larger kernels with spread, near-zero
 * and repeated eigenvalues, its exact termination and its extreme Ritz
 * values. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>

/* Method used by the formula tests (run once per method). */
static ntk_kgd_method g_method = NTK_KGD_AUTO;

static ntk_status kgd_new(const double *K, size_t n, const double *y, const double *u0, double lr,
                          ntk_loss_kind loss, ntk_kgd **g)
{
    return ntk_kgd_create_method(K, n, y, u0, lr, loss, g_method, 0.0, g);
}

/* The same with GD at a rate the caller knows to be unstable (c·lr·λ_max > 2). */
static ntk_status kgd_new_unstable(const double *K, size_t n, const double *y, const double *u0,
                                   double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                   ntk_kgd **g)
{
    ntk_kgd_config c = ntk_kgd_config_default();
    c.lr = lr;
    c.loss = loss;
    c.method = method;
    c.allow_unstable = 1;
    return ntk_kgd_create(K, n, y, u0, &c, g);
}

/* An unstable GD rate is refused unless asked for: at creation when the
 * configuration says GD, at the first GD prediction when it does not say. */
static void check_unstable_refused(const double *K, size_t n, const double *y, const double *u0,
                                   double lr, ntk_kgd_method method, double *u)
{
    ntk_kgd_config c = ntk_kgd_config_default();
    c.lr = lr;
    c.method = method;
    ntk_kgd *g = NULL;
    CHECK_ERR(ntk_kgd_create(K, n, y, u0, &c, &g), NTK_ERR_ARG);
    CHECK(g == NULL && strstr(ntk_errmsg(), "unstable") != NULL, "unstable GD refused: %s",
          ntk_errmsg());
    CHECK_OK(ntk_kgd_create_method(K, n, y, u0, lr, NTK_LOSS_MEAN, method, 0.0, &g));
    CHECK_ERR(ntk_kgd_predict_train(g, 10, 0, u), NTK_ERR_ARG);
    CHECK_OK(ntk_kgd_predict_train(g, 10, 1, u));   /* flow is stable at any rate */
    ntk_kgd_free(g);
}

/* A kernel problem: features F (n+nt, r) give K = F Fᵀ/r on the first n
 * rows (train) and K_test on the remaining nt rows; rank K = min(n, r). */
typedef struct {
    size_t n, nt, r;
    double *F, *K, *Kt, *y, *u0, *f0;
} problem;

static problem make_problem(size_t n, size_t nt, size_t r, uint64_t seed)
{
    problem p = {n, nt, r, NULL, NULL, NULL, NULL, NULL, NULL};
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    p.F = malloc((n + nt) * r * sizeof(double));
    p.K = malloc(n * n * sizeof(double));
    p.Kt = malloc(nt * n * sizeof(double));
    p.y = malloc(n * sizeof(double));
    p.u0 = malloc(n * sizeof(double));
    p.f0 = malloc(nt * sizeof(double));
    ntk_rng_normal_fill(&rng, p.F, (n + nt) * r);
    ntk_rng_normal_fill(&rng, p.y, n);
    ntk_rng_normal_fill(&rng, p.u0, n);
    ntk_rng_normal_fill(&rng, p.f0, nt);
    for (size_t i = 0; i < n + nt; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < r; k++) acc += p.F[i * r + k] * p.F[j * r + k];
            if (i < n)
                p.K[i * n + j] = acc / (double)r;
            else
                p.Kt[(i - n) * n + j] = acc / (double)r;
        }
    return p;
}

static void free_problem(problem *p)
{
    free(p->F), free(p->K), free(p->Kt), free(p->y), free(p->u0), free(p->f0);
}

/* out (rows) = A (rows,n) x (n), plain loops. */
static void matvec(const double *A, size_t rows, size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < rows; i++) {
        double acc = 0.0;
        for (size_t j = 0; j < n; j++) acc += A[i * n + j] * x[j];
        out[i] = acc;
    }
}

static double lambda_max(const problem *p)
{
    double *w = malloc(p->n * sizeof(double));
    ntk_eigh(p->K, p->n, w, NULL);
    double l = w[p->n - 1];
    free(w);
    return l;
}

/* ---- Tolerances --------------------------------------------------------
 * Every comparison here is between two computations that agree in exact
 * arithmetic (closed form, explicit iteration, power series, normal
 * equations); what separates them is rounding and, for KRYLOV, the Lanczos
 * truncation. Each tolerance is the sum of the error bounds of both sides,
 * computed from the problem, as absolute bounds on max_i |·| (tests divide
 * by the reference's max |·|, as t_max_rel_err does). Notation: r0 = y − u0,
 * x = cη, R_n = C_ROUND·n·ε (n·ε = γ_n, Higham's bound for one length-n dot
 * product; C_ROUND = 4 covers the few products in a chain).
 *
 * Closed form from K = QΛQᵀ: dsyevd is backward stable (the computed Q, Λ
 * are exact for K + E with ‖E‖ ≲ R_n·λmax), and u = y − Q(g_t(Λ)Qᵀr0),
 * f = f0 + K_test·a with a = h_t(K) r0 add rounding of the terms summed:
 *   |Δu_i| ≤ R_n (‖y‖∞ + ‖r0‖₂ + λmax·D[g_t]·‖r0‖₂)
 *   |Δf_i| ≤ R_n (‖f0‖∞ + ‖|K_test|·|a|‖∞ + ‖K_test‖_{2,∞}·λmax·D[h_t]·‖r0‖₂)
 * where D[f] = max_{i,j} |f[λ_i, λ_j]|, the largest divided difference of f
 * over pairs of eigenvalues, bounds the derivative of f(K) (Daleckii–Krein:
 * ‖f(K + E) − f(K)‖_F ≤ D[f]·‖E‖_F). λmax·D is the condition number of the
 * prediction: up to t·x·λmax for modes that have not decayed, ~λmax/λ for
 * those that have, 0 for the eigenvalues kgd.c treats as zero (|λ| ≤
 * ZERO_RTOL·λmax, where g ≡ 1 and h ≡ t·x).
 *
 * KRYLOV adds its truncation error, which kgd.c keeps at KRYLOV_RTOL·‖r0‖₂
 * for u (ntk_kgd_info: the target of its error estimate) and at
 * KRYLOV_RTOL·‖r0‖₂·√(k(x,x)/max K_ii) for a test point x (the estimate
 * measures the kernel norm; Cauchy–Schwarz in the RKHS), unless the Krylov
 * space is exact (estimate 0: invariant subspace or k = n), when only the
 * rounding above remains. */
#define C_ROUND 4.0
#define KRYLOV_RTOL 1e-10   /* ntk_kgd_info: KRYLOV targets 1e-10 relative to ‖r0‖₂ */
#define ZERO_RTOL 1e-12     /* kgd.c: |λ| below this fraction of λmax counts as 0 */
#define LMAX_RTOL 1e-8      /* kgd.c: the top Ritz pair's residual at the stop */

static double R_n(size_t n) { return C_ROUND * (double)n * DBL_EPSILON; }

static double norm_inf(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static double norm2(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

/* ‖A‖_{2,∞}: the largest 2-norm of a row of A (rows,n) */
static double row_norm_max(const double *A, size_t rows, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < rows; i++) m = fmax(m, norm2(A + i * n, n));
    return m;
}

/* ‖r0‖₂ for r0 = y − u0 */
static double resid_norm(const double *y, const double *u0, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (y[i] - u0[i]) * (y[i] - u0[i]);
    return sqrt(s);
}

/* f = g_t (which = 0) or h_t (1) at λ and its derivative, x = cη:
 *   g_t(λ) = (1 − xλ)^t (GD) or e^{−xλt} (flow),  h_t(λ) = (1 − g_t(λ))/λ. */
static void kgd_fun(double lam, double x, double t, int flow, int which, double *f, double *df)
{
    if (t == 0.0) {   // g ≡ 1, h ≡ 0
        *f = which ? 0.0 : 1.0, *df = 0.0;
        return;
    }
    double z = x * lam;
    double g = flow ? exp(-z * t) : pow(1.0 - z, t);
    double dg = flow ? -x * t * g : -x * t * pow(1.0 - z, t - 1.0);
    if (!which) {
        *f = g, *df = dg;
        return;
    }
    if (fabs(z * t) < 1e-4) {   // series: the closed forms cancel here
        *f = x * t;
        *df = -x * x * (flow ? t * t : t * (t - 1.0)) / 2.0;
        return;
    }
    *f = (1.0 - g) / lam;
    *df = (-lam * dg - (1.0 - g)) / (lam * lam);
}

/* D[f] = max_{i,j} |f[λ_i, λ_j]| over the ascending eigenvalues lam (n),
 * with |λ| ≤ ZERO_RTOL·λmax mapped to f(0) as kgd.c does. Any divided
 * difference is a weighted mean of those of neighbouring eigenvalues, so
 * neighbours and the derivatives at each eigenvalue suffice. */
static double dk_max(const double *lam, size_t n, double x, double t, int flow, int which)
{
    double lmax = fmax(fabs(lam[0]), fabs(lam[n - 1])), tol0 = ZERO_RTOL * lmax;
    double worst = 0.0, fprev = 0.0, dprev = 0.0;
    for (size_t k = 0; k < n; k++) {
        int zero = fabs(lam[k]) <= tol0;
        double f, df;
        kgd_fun(zero ? 0.0 : lam[k], x, t, flow, which, &f, &df);
        if (zero) df = 0.0;   // g, h are constant on the zero band
        worst = fmax(worst, fabs(df));
        if (k > 0) {
            double gap = lam[k] - lam[k - 1];
            // close neighbours: the mean value theorem, endpoints of a tiny interval
            double dd = gap > 1e-8 * lmax ? (f - fprev) / gap : fmax(fabs(df), fabs(dprev));
            worst = fmax(worst, fabs(dd));
        }
        fprev = f, dprev = df;
    }
    return worst;
}

/* Absolute error bounds of the closed-form predictions at time t (file
 * comment above), from an EIG kernel GD object ge of the same problem. */
typedef struct {
    double u, f;
} pred_tol;

static pred_tol closed_form_tol(const ntk_kgd *ge, const double *Kt, size_t nt, const double *y,
                                const double *u0, const double *f0, double x, double t,
                                int flow)
{
    size_t n = 0;
    CHECK_OK(ntk_kgd_info(ge, NULL, &n, NULL));
    const double *lam = ntk_kgd_evals(ge);
    double lmax = fmax(fabs(lam[0]), fabs(lam[n - 1])), r0 = resid_norm(y, u0, n);
    pred_tol b;
    b.u = R_n(n) * (norm_inf(y, n) + r0 + lmax * dk_max(lam, n, x, t, flow, 0) * r0);
    // a = h_t(K) r0 is the test prediction with K_test = I and f0 = 0
    double *Id = calloc(n * n, sizeof(double)), *a = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) Id[i * n + i] = 1.0;
    CHECK_OK(ntk_kgd_predict_test(ge, t, flow, Id, n, NULL, a));
    double ka = 0.0;
    for (size_t i = 0; i < nt; i++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++) s += fabs(Kt[i * n + j] * a[j]);
        ka = fmax(ka, s);
    }
    b.f = R_n(n) * ((f0 ? norm_inf(f0, nt) : 0.0) + ka +
                    row_norm_max(Kt, nt, n) * lmax * dk_max(lam, n, x, t, flow, 1) * r0);
    free(Id), free(a);
    return b;
}

/* The KRYLOV truncation allowance for u (scale 1) or for test points with
 * k(x,x) ≤ kxx_max (scale √(kxx_max / max K_ii)); 0 for an exact space. */
static double krylov_allow(const ntk_kgd *g, double r0, double scale)
{
    ntk_kgd_method m = NTK_KGD_EIG;
    double est = 0.0;
    CHECK_OK(ntk_kgd_info(g, &m, NULL, &est));
    return m == NTK_KGD_KRYLOV && est > 0.0 ? KRYLOV_RTOL * r0 * scale : 0.0;
}

static double diag_max(const double *K, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, K[i * n + i]);
    return m;
}

/* max k(x,x) = ‖F_i‖²/r over the problem's test points */
static double test_kxx_max(const problem *p)
{
    double m = 0.0;
    for (size_t i = p->n; i < p->n + p->nt; i++) {
        double s = norm2(p->F + i * p->r, p->r);
        m = fmax(m, s * s / (double)p->r);
    }
    return m;
}

/* Error bounds of t steps of the explicit iteration below (plain loops,
 * |1 − xλ| ≤ 1 so that (I − xK)^τ does not amplify earlier errors): each
 * step adds U1 = R_n (x‖K‖_F‖r0‖₂ + ‖y‖₂ + ‖r0‖₂) to u, and to f its own
 * rounding R_n (x‖K_test‖_{2,∞}‖r0‖₂ + max_τ ‖f_τ‖∞) plus x‖K_test‖_{2,∞}
 * times the residual error of that step, τ·U1. */
static pred_tol iteration_tol(const problem *p, double x, double t)
{
    const size_t n = p->n, nt = p->nt;
    double r0 = resid_norm(p->y, p->u0, n), kt = row_norm_max(p->Kt, nt, n);
    double U1 = R_n(n) * (x * norm2(p->K, n * n) * r0 + norm2(p->y, n) + r0);
    double fmax_ = norm_inf(p->f0, nt) + t * x * kt * r0;
    pred_tol b = {t * U1, t * R_n(n) * (x * kt * r0 + fmax_) + x * kt * t * (t - 1.0) / 2.0 * U1};
    return b;
}

/* Explicit GD on the kernel model, u ← u − cη K (u − y) and
 * f_test ← f_test − cη K_test (u − y), checked at selected steps; tolerance:
 * the closed form's and the iteration's error bounds (above). */
static void check_vs_iteration(const problem *p, ntk_loss_kind loss, double ceta_lmax,
                               const char *what)
{
    const size_t n = p->n, nt = p->nt;
    double c = loss == NTK_LOSS_MEAN ? 1.0 / (double)n : 1.0;
    double lr = ceta_lmax / (c * lambda_max(p));
    ntk_kgd *g = NULL, *ge = NULL;
    CHECK_OK(kgd_new(p->K, n, p->y, p->u0, lr, loss, &g));
    CHECK_OK(ntk_kgd_create_method(p->K, n, p->y, p->u0, lr, loss, NTK_KGD_EIG, 0.0, &ge));
    if (!g || !ge) {
        ntk_kgd_free(g), ntk_kgd_free(ge);
        return;
    }
    double r0 = resid_norm(p->y, p->u0, n);
    double kscale = sqrt(test_kxx_max(p) / diag_max(p->K, n));
    double u[n], ft[nt], r[n], Kr[nt > n ? nt : n], uc[n], fc[nt];
    memcpy(u, p->u0, sizeof u);
    memcpy(ft, p->f0, sizeof ft);
    for (int t = 0; t <= 50; t++) {
        if (t == 0 || t == 1 || t == 2 || t == 5 || t == 17 || t == 50) {
            CHECK_OK(ntk_kgd_predict_train(g, t, 0, uc));
            CHECK_OK(ntk_kgd_predict_test(g, t, 0, p->Kt, nt, p->f0, fc));
            pred_tol cf = closed_form_tol(ge, p->Kt, nt, p->y, p->u0, p->f0, c * lr, t, 0);
            pred_tol it = iteration_tol(p, c * lr, t);
            double tu = (cf.u + it.u + krylov_allow(g, r0, 1.0)) / norm_inf(u, n);
            double tf = (cf.f + it.f + krylov_allow(g, r0, kscale)) / norm_inf(ft, nt);
            double eu = t_max_rel_err(uc, u, n), ef = t_max_rel_err(fc, ft, nt);
            CHECK_LE(eu, tu, "%s t=%d train rel err", what, t);
            CHECK_LE(ef, tf, "%s t=%d test rel err", what, t);
        }
        for (size_t i = 0; i < n; i++) r[i] = u[i] - p->y[i];
        matvec(p->Kt, nt, n, r, Kr);
        for (size_t i = 0; i < nt; i++) ft[i] -= c * lr * Kr[i];
        matvec(p->K, n, n, r, Kr);
        for (size_t i = 0; i < n; i++) u[i] -= c * lr * Kr[i];
    }
    ntk_kgd_free(g), ntk_kgd_free(ge);
}

static void test_gd(void)
{
    problem p = make_problem(20, 7, 30, 31);
    check_vs_iteration(&p, NTK_LOSS_MEAN, 0.9, "mean, stable");
    check_vs_iteration(&p, NTK_LOSS_SUM, 0.9, "sum, stable");
    /* 1 < cηλ_max < 2: the top modes oscillate, still convergent */
    check_vs_iteration(&p, NTK_LOSS_MEAN, 1.7, "mean, oscillating");
    check_vs_iteration(&p, NTK_LOSS_SUM, 1.7, "sum, oscillating");
    free_problem(&p);
    /* singular K (rank 8 < n = 20) */
    problem q = make_problem(20, 7, 8, 32);
    check_vs_iteration(&q, NTK_LOSS_MEAN, 0.9, "mean, singular");
    check_vs_iteration(&q, NTK_LOSS_SUM, 1.5, "sum, singular");
    free_problem(&q);
}

/* Non-integer t: one explicit step from t = 2.5 gives t = 3.5. */
static void test_fractional(void)
{
    enum { n = 15, nt = 4 };
    problem p = make_problem(n, nt, 25, 33);
    double c = 1.0 / (double)n, lr = 0.8 / (c * lambda_max(&p));
    ntk_kgd *g = NULL;
    CHECK_OK(kgd_new(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, &g));
    double u[n], u1[n], f[nt], f1[nt], r[n], Kr[n];
    CHECK_OK(ntk_kgd_predict_train(g, 2.5, 0, u));
    CHECK_OK(ntk_kgd_predict_test(g, 2.5, 0, p.Kt, nt, p.f0, f));
    for (size_t i = 0; i < n; i++) r[i] = u[i] - p.y[i];
    matvec(p.Kt, nt, n, r, Kr);
    for (size_t i = 0; i < nt; i++) f[i] -= c * lr * Kr[i];
    matvec(p.K, n, n, r, Kr);
    for (size_t i = 0; i < n; i++) u[i] -= c * lr * Kr[i];
    CHECK_OK(ntk_kgd_predict_train(g, 3.5, 0, u1));
    CHECK_OK(ntk_kgd_predict_test(g, 3.5, 0, p.Kt, nt, p.f0, f1));
    /* both closed forms' bounds, plus one step of the iteration (started
     * from the computed u(2.5), which it does not amplify) */
    {
        ntk_kgd *ge = NULL;
        CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, NTK_KGD_EIG, 0.0,
                                       &ge));
        double r0 = resid_norm(p.y, p.u0, n), kscale = sqrt(test_kxx_max(&p) / diag_max(p.K, n));
        pred_tol a = closed_form_tol(ge, p.Kt, nt, p.y, p.u0, p.f0, c * lr, 2.5, 0);
        pred_tol b = closed_form_tol(ge, p.Kt, nt, p.y, p.u0, p.f0, c * lr, 3.5, 0);
        pred_tol s = iteration_tol(&p, c * lr, 1.0);
        double kt = row_norm_max(p.Kt, nt, n), ku = 2.0 * krylov_allow(g, r0, 1.0);
        double tu = a.u + b.u + s.u + ku;
        double tf = a.f + b.f + s.f + c * lr * kt * sqrt((double)n) * a.u +
                    2.0 * krylov_allow(g, r0, kscale) + c * lr * kt * ku;
        CHECK_LE(t_max_rel_err(u1, u, n), tu / norm_inf(u, n), "t=3.5 train");
        CHECK_LE(t_max_rel_err(f1, f, nt), tf / norm_inf(f, nt), "t=3.5 test");
        ntk_kgd_free(ge);
    }
    /* f0_test = NULL means zeros */
    double z[nt], fz[nt], fw[nt];
    memset(z, 0, sizeof z);
    CHECK_OK(ntk_kgd_predict_test(g, 4, 0, p.Kt, nt, NULL, fz));
    CHECK_OK(ntk_kgd_predict_test(g, 4, 0, p.Kt, nt, z, fw));
    CHECK(t_max_rel_err(fz, fw, nt) == 0.0, "NULL f0_test differs from zeros");
    /* K_test = K gives the training predictions */
    CHECK_OK(ntk_kgd_predict_train(g, 7, 0, u));
    double *ut = malloc(n * sizeof(double));
    CHECK_OK(ntk_kgd_predict_test(g, 7, 0, p.K, n, p.u0, ut));
    {   /* two closed forms of the same quantity: the sum of their bounds */
        ntk_kgd *ge = NULL;
        CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, NTK_KGD_EIG, 0.0,
                                       &ge));
        double r0 = resid_norm(p.y, p.u0, n);
        pred_tol b = closed_form_tol(ge, p.K, n, p.y, p.u0, p.u0, c * lr, 7.0, 0);
        double tol = b.u + b.f + 2.0 * krylov_allow(g, r0, 1.0);
        CHECK_LE(t_max_rel_err(ut, u, n), tol / norm_inf(u, n), "K_test = K");
        ntk_kgd_free(ge);
    }
    free(ut);
    CHECK_ERR(ntk_kgd_predict_train(g, -1.0, 0, u), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_predict_train(g, NAN, 1, u), NTK_ERR_ARG);
    ntk_kgd_free(g);
    /* oscillating modes admit integer t only */
    CHECK_OK(kgd_new(p.K, n, p.y, p.u0, 1.5 / (c * lambda_max(&p)), NTK_LOSS_MEAN, &g));
    CHECK_OK(ntk_kgd_predict_train(g, 3, 0, u));
    CHECK_ERR(ntk_kgd_predict_train(g, 2.5, 0, u), NTK_ERR_ARG);
    CHECK_OK(ntk_kgd_predict_train(g, 2.5, 1, u));   /* flow is fine */
    ntk_kgd_free(g);
    /* divergent rate: refused by default; when asked for, the blow-up is
     * reported, not returned as Inf */
    check_unstable_refused(p.K, n, p.y, p.u0, 2.5 / (c * lambda_max(&p)), g_method, u);
    CHECK_OK(kgd_new_unstable(p.K, n, p.y, p.u0, 2.5 / (c * lambda_max(&p)), NTK_LOSS_MEAN,
                              g_method, &g));
    CHECK_ERR(ntk_kgd_predict_train(g, 5000, 0, u), NTK_ERR_DIVERGED);
    CHECK_ERR(ntk_kgd_predict_test(g, 5000, 0, p.Kt, nt, p.f0, f), NTK_ERR_DIVERGED);
    ntk_kgd_free(g);
    free_problem(&p);
}

/* Flow: u(T) − y = exp(−cηTK)(u0 − y) and
 * f_test(T) = f0 − cη K_test ∫_0^T exp(−cητK) dτ (u0 − y), both summed as
 * power series in A = −cηTK (‖A‖ = 3 here, 80 terms):
 *   exp(A) e = Σ A^k e/k!,  ∫_0^T exp(τA/T) dτ e = T Σ A^k e/(k+1)!. */
static void test_flow(void)
{
    for (int singular = 0; singular < 2; singular++) {
        problem p = make_problem(18, 5, singular ? 6 : 30, 34 + (uint64_t)singular);
        const size_t n = p.n, nt = p.nt;
        for (int lf = 0; lf < 2; lf++) {
            ntk_loss_kind loss = lf ? NTK_LOSS_SUM : NTK_LOSS_MEAN;
            double c = lf ? 1.0 : 1.0 / (double)n, lr = 0.37, T = 3.0 / (c * lr * lambda_max(&p));
            double vk[n], Ev[n], Iv[n], tmp[n], u[n], ft[nt], uc[n], fc[nt];
            for (size_t i = 0; i < n; i++) {
                vk[i] = p.u0[i] - p.y[i];
                Ev[i] = vk[i];
                Iv[i] = T * vk[i];
            }
            for (int k = 1; k <= 80; k++) {
                matvec(p.K, n, n, vk, tmp);
                for (size_t i = 0; i < n; i++) {
                    vk[i] = -c * lr * T * tmp[i] / k;   /* A^k e / k! */
                    Ev[i] += vk[i];
                    Iv[i] += T * vk[i] / (k + 1);
                }
            }
            for (size_t i = 0; i < n; i++) u[i] = p.y[i] + Ev[i];
            matvec(p.Kt, nt, n, Iv, ft);
            for (size_t i = 0; i < nt; i++) ft[i] = p.f0[i] - c * lr * ft[i];
            ntk_kgd *g = NULL;
            CHECK_OK(kgd_new(p.K, n, p.y, p.u0, lr, loss, &g));
            CHECK_OK(ntk_kgd_predict_train(g, T, 1, uc));
            CHECK_OK(ntk_kgd_predict_test(g, T, 1, p.Kt, nt, p.f0, fc));
            /* the series' rounding: the k-th term carries k products with
             * |A| (‖|A|‖ ≤ a_F = cηT‖K‖_F), so Σ k·R_n·a_F‖A‖^{k−1}/k! =
             * R_n·a_F·e^{‖A‖}, ‖A‖ = 3; its truncation 3^81/81! is nil */
            ntk_kgd *ge = NULL;
            CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, lr, loss, NTK_KGD_EIG, 0.0, &ge));
            double r0 = resid_norm(p.y, p.u0, n), aF = c * lr * T * norm2(p.K, n * n);
            double kt = row_norm_max(p.Kt, nt, n);
            pred_tol cf = closed_form_tol(ge, p.Kt, nt, p.y, p.u0, p.f0, c * lr, T, 1);
            double ou = R_n(n) * (norm_inf(p.y, n) + aF * exp(3.0) * r0);
            double of = R_n(n) * (norm_inf(p.f0, nt) + c * lr * T * kt * r0 * (1 + aF * exp(3.0)));
            double kscale = sqrt(test_kxx_max(&p) / diag_max(p.K, n));
            CHECK_LE(t_max_rel_err(uc, u, n),
                     (cf.u + ou + krylov_allow(g, r0, 1.0)) / norm_inf(u, n),
                     "flow train (singular=%d, loss=%d)", singular, lf);
            CHECK_LE(t_max_rel_err(fc, ft, nt),
                     (cf.f + of + krylov_allow(g, r0, kscale)) / norm_inf(ft, nt),
                     "flow test (singular=%d, loss=%d)", singular, lf);
            ntk_kgd_free(g);
            /* many tiny GD steps (η/N, N·T steps) approach the flow, error O(1/N) */
            if (singular || lf) {
                ntk_kgd_free(ge);
                continue;
            }
            const int N = 1000;
            size_t steps = (size_t)llround(T * N);
            double Ts = (double)steps / N, ug[n], r[n];
            memcpy(ug, p.u0, sizeof ug);
            for (size_t s = 0; s < steps; s++) {
                for (size_t i = 0; i < n; i++) r[i] = ug[i] - p.y[i];
                matvec(p.K, n, n, r, tmp);
                for (size_t i = 0; i < n; i++) ug[i] -= c * lr / N * tmp[i];
            }
            CHECK_OK(kgd_new(p.K, n, p.y, p.u0, lr, loss, &g));
            CHECK_OK(ntk_kgd_predict_train(g, Ts, 1, uc));
            /* exactly, u − y = Q diag(d) Qᵀ (u0 − y) with d_k the difference of
             * the mode factors (1 − xλ_k/N)^steps and e^{−xλ_k Ts} (~ (xλ)²Ts/2N
             * e^{−xλTs}), so |Δu_i| ≤ max_k |d_k|·‖r0‖₂; plus the roundings */
            const double *lam = ntk_kgd_evals(ge);
            double x = c * lr, dmax = 0.0;
            for (size_t k = 0; k < n; k++)
                dmax = fmax(dmax, fabs(pow(1.0 - x * lam[k] / N, (double)steps) -
                                       exp(-x * lam[k] * Ts)));
            pred_tol cs = closed_form_tol(ge, p.Kt, nt, p.y, p.u0, p.f0, x, Ts, 1);
            pred_tol is = iteration_tol(&p, x / N, (double)steps);
            CHECK_LE(t_max_rel_err(uc, ug, n),
                     (dmax * r0 + cs.u + is.u + krylov_allow(g, r0, 1.0)) / norm_inf(ug, n),
                     "flow vs %zu tiny steps", steps);
            ntk_kgd_free(g);
            ntk_kgd_free(ge);
        }
        free_problem(&p);
    }
}

/* Singular K = F Fᵀ/r: as t → ∞ the training residual keeps its null-space
 * part and the test predictions tend to the minimum-norm interpolant,
 *   f_test(∞) = f0 + F_t (FᵀF)^{-1} Fᵀ (y − u0),   u(∞) − y = (I − P)(u0 − y),
 * P = F (FᵀF)^{-1} Fᵀ (solved here with dgesv). */
static void test_singular_limit(void)
{
    problem p = make_problem(16, 5, 6, 36);
    const size_t n = p.n, nt = p.nt, r = p.r;
    double G[r * r], b[r], e[n];
    for (size_t a = 0; a < r; a++) {
        for (size_t c = 0; c < r; c++) {
            double acc = 0.0;
            for (size_t i = 0; i < n; i++) acc += p.F[i * r + a] * p.F[i * r + c];
            G[a * r + c] = acc;
        }
        double acc = 0.0;
        for (size_t i = 0; i < n; i++) acc += p.F[i * r + a] * (p.y[i] - p.u0[i]);
        b[a] = acc;
    }
    lapack_int ipiv[r];
    CHECK(LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)r, 1, G, (lapack_int)r, ipiv, b, 1) == 0,
          "dgesv");
    double u_inf[n], f_inf[nt];
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (size_t a = 0; a < r; a++) acc += p.F[i * r + a] * b[a];
        e[i] = acc;   /* P (y − u0) */
        u_inf[i] = p.u0[i] + e[i];
    }
    for (size_t i = 0; i < nt; i++) {
        double acc = 0.0;
        for (size_t a = 0; a < r; a++) acc += p.F[(n + i) * r + a] * b[a];
        f_inf[i] = p.f0[i] + acc;
    }
    double c = 1.0 / (double)n, lr = 1.0 / (c * lambda_max(&p)), uc[n], fc[nt];
    ntk_kgd *g = NULL;
    CHECK_OK(kgd_new(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, &g));
    const double *w = ntk_kgd_evals(g);
    if (g_method == NTK_KGD_KRYLOV) {
        CHECK(w == NULL, "Krylov mode has no full spectrum");
    } else if (w) {
        int asc = 1;
        for (size_t k = 1; k < n; k++) asc &= w[k] >= w[k - 1];
        CHECK(asc, "evals not ascending");
        /* rank r: the rest are the rounding of K = F Fᵀ/r and of dsyevd */
        CHECK_LE(fabs(w[n - r - 1]), R_n(n) * w[n - 1], "expected %zu zero eigenvalues", n - r);
    }
    /* at t = 1e6 every nonzero mode has decayed (cηλ⁺_min·t ≫ 40), so the
     * closed form is the limit up to its rounding (D[h] ~ t·cη/λ⁺_min: the
     * null modes carry h = t·cη). The oracle: LU of the Gram matrix FᵀF
     * (condition κ = λmax/λ⁺_min), b = (FᵀF)⁻¹Fᵀr0 with ‖b‖₂ ≤ ‖r0‖₂/σ_min(F),
     * σ_min(F)² = r·λ⁺_min, then rows of F of norm √(r·k(x,x)):
     * |Δ| ≤ R_n·κ·√(k(x,x)/λ⁺_min)·‖r0‖₂. */
    ntk_kgd *ge = NULL;
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, NTK_KGD_EIG, 0.0, &ge));
    const double *lam = ntk_kgd_evals(ge);
    double lpos = lam[n - r], kappa = lam[n - 1] / lpos, r0 = resid_norm(p.y, p.u0, n);
    double ou = R_n(n) * kappa * sqrt(diag_max(p.K, n) / lpos) * r0;
    double of = R_n(n) * kappa * sqrt(test_kxx_max(&p) / lpos) * r0;
    double kscale = sqrt(test_kxx_max(&p) / diag_max(p.K, n));
    for (int flow = 0; flow < 2; flow++) {
        CHECK_OK(ntk_kgd_predict_train(g, 1e6, flow, uc));
        CHECK_OK(ntk_kgd_predict_test(g, 1e6, flow, p.Kt, nt, p.f0, fc));
        pred_tol cf = closed_form_tol(ge, p.Kt, nt, p.y, p.u0, p.f0, c * lr, 1e6, flow);
        CHECK_LE(t_max_rel_err(uc, u_inf, n),
                 (cf.u + ou + krylov_allow(g, r0, 1.0)) / norm_inf(u_inf, n), "u(inf), flow=%d",
                 flow);
        CHECK_LE(t_max_rel_err(fc, f_inf, nt),
                 (cf.f + of + krylov_allow(g, r0, kscale)) / norm_inf(f_inf, nt),
                 "f_test(inf), flow=%d", flow);
    }
    ntk_kgd_free(ge);
    ntk_kgd_free(g);
    free_problem(&p);
}

static void test_kgd_arguments(void)
{
    problem p = make_problem(5, 2, 7, 37);
    ntk_kgd *g = (ntk_kgd *)&p;   /* must be reset to NULL on failure */
    CHECK_ERR(ntk_kgd_create_method(NULL, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_ARG);
    CHECK(g == NULL, "out not cleared");
    CHECK_ERR(ntk_kgd_create_method(p.K, 0, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_create_method(p.K, 5, p.y, p.u0, -1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_create_method(p.K, 5, p.y, p.u0, 1, (ntk_loss_kind)7, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_ARG);
    p.y[2] = NAN;
    CHECK_ERR(ntk_kgd_create_method(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_NONFINITE);
    p.y[2] = 0;
    p.K[1] += 1.0;
    CHECK_ERR(ntk_kgd_create_method(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g), NTK_ERR_ARG);
    p.K[1] -= 1.0;
    CHECK_OK(ntk_kgd_create_method(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g));
    double f[2];
    CHECK_ERR(ntk_kgd_predict_test(g, 1, 0, NULL, 2, NULL, f), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_predict_train(NULL, 1, 0, f), NTK_ERR_ARG);
    ntk_kgd_free(g);
    ntk_kgd_free(NULL);
    free_problem(&p);
}

/* (λI + K)^{-1} y by Cholesky against LU (dgesv) on the same matrix. */
static void test_ridge(void)
{
    problem p = make_problem(25, 1, 40, 38);
    const size_t n = p.n;
    const double ridge = 0.05;
    double a[n], b[n], A[n * n], res[n];
    lapack_int ipiv[n];
    CHECK_OK(ntk_kernel_ridge(p.K, n, p.y, 1, ridge, a));
    memcpy(A, p.K, sizeof A);
    for (size_t i = 0; i < n; i++) A[i * n + i] += ridge;
    memcpy(b, p.y, sizeof b);
    CHECK(LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)n, 1, A, (lapack_int)n, ipiv, b, 1) == 0,
          "dgesv");
    /* Cholesky and LU are backward stable: each solution is within
     * R_n·κ(A) of the true one in the 2-norm, κ(A) = (λmax + ridge)/(λmin +
     * ridge); the residual needs no κ: |r_i| ≤ R_n(‖A‖_F‖a‖₂ + ‖y‖∞), the
     * backward error plus the rounding of forming r */
    double lam[n], Kc[n * n];
    memcpy(Kc, p.K, sizeof Kc);
    CHECK_OK(ntk_eigh(Kc, n, lam, NULL));
    double kappa = (lam[n - 1] + ridge) / (lam[0] + ridge);
    double sol_tol = 2.0 * R_n(n) * kappa * norm2(b, n) / norm_inf(b, n);
    CHECK_LE(t_max_rel_err(a, b, n), sol_tol, "ridge vs LU");
    matvec(p.K, n, n, a, res);
    double rmax = 0.0, aF = 0.0;
    for (size_t i = 0; i < n; i++) rmax = fmax(rmax, fabs(res[i] + ridge * a[i] - p.y[i]));
    for (size_t i = 0; i < n * n; i++) aF += p.K[i] * p.K[i];
    aF = sqrt(aF) + ridge * sqrt((double)n);
    CHECK_LE(rmax, R_n(n) * (aF * norm2(a, n) + norm_inf(p.y, n)), "ridge residual");
    /* y may alias alpha_out: the same solve, so within the same bound */
    memcpy(b, p.y, sizeof b);
    CHECK_OK(ntk_kernel_ridge(p.K, n, b, 1, ridge, b));
    CHECK_LE(t_max_rel_err(b, a, n), sol_tol, "aliased ridge differs");
    /* not positive definite: −I with no ridge */
    double N[9] = {-1, 0, 0, 0, -1, 0, 0, 0, -1}, yy[3] = {1, 2, 3}, out[3];
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, 1, 0.0, out), NTK_ERR_LAPACK);
    CHECK(strstr(ntk_errmsg(), "increase the ridge") != NULL, "message: %s", ntk_errmsg());
    CHECK_OK(ntk_kernel_ridge(N, 3, yy, 1, 2.0, out));
    /* Cholesky of I: √1 and divisions by 1, every operation exact */
    CHECK(out[2] == 3.0, "(2I - I)^{-1} y = %.17g, expected 3", out[2]);
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, 1, -1.0, out), NTK_ERR_ARG);
    N[1] = 0.5;
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, 1, 2.0, out), NTK_ERR_ARG);
    free_problem(&p);
}

/* ---- Krylov (Lanczos) against the eigendecomposition ------------------ */

/* A kernel with prescribed spectrum: K = Q diag(lam) Qᵀ (n,n) and the
 * consistent test block K_test = G diag(lam) Qᵀ (nt,n), i.e. features
 * Q Λ^{1/2} for training points and G Λ^{1/2} for test points (G Gaussian,
 * Q a random orthogonal matrix). */
typedef struct {
    size_t n, nt;
    double *Q, *lam, *K, *Kt;
    double kxx;   /* max k(x,x) = Σ_k G_ik² λ_k / n over the test points */
} spec_kernel;

static spec_kernel make_spec_kernel(size_t n, size_t nt, const double *lam, uint64_t seed)
{
    spec_kernel s = {n, nt, malloc(n * n * sizeof(double)), malloc(n * sizeof(double)),
                     malloc(n * n * sizeof(double)), malloc(nt * n * sizeof(double)), 0.0};
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    memcpy(s.lam, lam, n * sizeof(double));
    double *tau = malloc(n * sizeof(double)), *QL = malloc(n * n * sizeof(double));
    double *G = malloc(nt * n * sizeof(double));
    ntk_rng_normal_fill(&rng, s.Q, n * n);
    ntk_rng_normal_fill(&rng, G, nt * n);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, s.Q, (lapack_int)n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, (lapack_int)n, s.Q,
                   (lapack_int)n, tau);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) QL[i * n + k] = s.Q[i * n + k] * lam[k];
    for (size_t i = 0; i < nt; i++) {
        double kxx = 0.0;
        for (size_t k = 0; k < n; k++) {
            kxx += G[i * n + k] * G[i * n + k] * lam[k] / (double)n;
            G[i * n + k] *= lam[k] / sqrt((double)n);
        }
        s.kxx = fmax(s.kxx, kxx);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, QL, (int)n,
                s.Q, (int)n, 0.0, s.K, (int)n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)n, (int)n, 1.0, G, (int)n,
                s.Q, (int)n, 0.0, s.Kt, (int)n);
    for (size_t i = 0; i < n; i++)   /* exact symmetry */
        for (size_t j = 0; j < i; j++) s.K[j * n + i] = s.K[i * n + j];
    free(tau), free(QL), free(G);
    return s;
}

static void free_spec_kernel(spec_kernel *s) { free(s->Q), free(s->lam), free(s->K), free(s->Kt); }

/* KRYLOV (horizon t_max, 0: every t) against EIG on one kernel: GD (stable
 * and oscillating) and flow, mean and sum loss, t from 0 to 5000, train and
 * test; kxx_max bounds k(x,x) over the test points. Tolerance: twice the
 * closed form's rounding bound (both methods apply f(K) through an
 * orthonormal basis) plus the Krylov truncation allowance (see Tolerances).
 * Returns the worst error seen relative to max(‖y‖∞, 1) and the largest
 * Krylov dimension. */
static double krylov_vs_eig(const double *K, size_t n, const double *Kt, size_t nt,
                            const double *y, const double *u0, const double *f0, double lmax,
                            double kxx_max, double t_max, const char *what, size_t *k_out)
{
    static const double ts[] = {0, 1, 2, 5, 17, 100, 333, 1000, 2500, 5000};
    double *ue = malloc(n * sizeof(double)), *uk = malloc(n * sizeof(double));
    double *fe = malloc(nt * sizeof(double)), *fk = malloc(nt * sizeof(double));
    double ymax = 1.0, worst = 0.0, r0 = resid_norm(y, u0, n);
    double kscale = sqrt(kxx_max / diag_max(K, n));
    for (size_t i = 0; i < n; i++) ymax = fmax(ymax, fabs(y[i]));
    *k_out = 0;
    for (int lf = 0; lf < 2; lf++) {
        ntk_loss_kind loss = lf ? NTK_LOSS_SUM : NTK_LOSS_MEAN;
        double c = lf ? 1.0 : 1.0 / (double)n;
        for (int osc = 0; osc < 2; osc++) {
            double lr = (osc ? 1.7 : 0.9) / (c * lmax);
            ntk_kgd *ge = NULL, *gk = NULL;
            CHECK_OK(ntk_kgd_create_method(K, n, y, u0, lr, loss, NTK_KGD_EIG, 0.0, &ge));
            CHECK_OK(ntk_kgd_create_method(K, n, y, u0, lr, loss, NTK_KGD_KRYLOV, t_max, &gk));
            if (!ge || !gk) {
                ntk_kgd_free(ge), ntk_kgd_free(gk);
                continue;
            }
            size_t k = 0;
            ntk_kgd_method m = NTK_KGD_AUTO;
            CHECK_OK(ntk_kgd_info(gk, &m, &k, NULL));
            CHECK(m == NTK_KGD_KRYLOV, "%s: method %d", what, (int)m);
            if (k > *k_out) *k_out = k;
            double ku = krylov_allow(gk, r0, 1.0), kf = krylov_allow(gk, r0, kscale);
            for (int flow = 0; flow < 2; flow++) {
                if (osc && flow) continue;   /* the same flow as osc = 0 up to scale */
                for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
                    CHECK_OK(ntk_kgd_predict_train(ge, ts[i], flow, ue));
                    CHECK_OK(ntk_kgd_predict_train(gk, ts[i], flow, uk));
                    CHECK_OK(ntk_kgd_predict_test(ge, ts[i], flow, Kt, nt, f0, fe));
                    CHECK_OK(ntk_kgd_predict_test(gk, ts[i], flow, Kt, nt, f0, fk));
                    pred_tol cf = closed_form_tol(ge, Kt, nt, y, u0, f0, c * lr, ts[i], flow);
                    double eu = 0.0, ef = 0.0;
                    for (size_t j = 0; j < n; j++) eu = fmax(eu, fabs(uk[j] - ue[j]));
                    for (size_t j = 0; j < nt; j++) ef = fmax(ef, fabs(fk[j] - fe[j]));
                    CHECK_LE(eu, 2.0 * cf.u + ku, "%s loss=%d osc=%d flow=%d t=%g: train (k=%zu)",
                             what, lf, osc, flow, ts[i], k);
                    CHECK_LE(ef, 2.0 * cf.f + kf, "%s loss=%d osc=%d flow=%d t=%g: test (k=%zu)",
                             what, lf, osc, flow, ts[i], k);
                    worst = fmax(worst, fmax(eu, ef) / ymax);
                }
            }
            /* λ_max from the top Ritz value: kgd.c stops only once its residual
             * ρ ≤ LMAX_RTOL·θ_max, and then |θ_max − λ_max| ≤ min(ρ, ρ²/gap)
             * (gap: to the next eigenvalue), plus rounding. θ_min ≥ λ_min
             * (Cauchy interlacing) up to rounding. */
            double lo, hi, elo, ehi;
            int ex = -1;
            CHECK_OK(ntk_kgd_extremes(gk, &lo, &hi, &ex));
            CHECK_OK(ntk_kgd_extremes(ge, &elo, &ehi, NULL));
            const double *lam = ntk_kgd_evals(ge);
            double rho = LMAX_RTOL * hi, gap = lam[n - 1] - lam[n - 2];
            CHECK_LE(fabs(hi - ehi), fmin(rho, rho * rho / gap) + R_n(n) * ehi,
                     "%s: Ritz lambda_max %.17g vs %.17g", what, hi, ehi);
            CHECK_LE(elo - lo, R_n(n) * ehi, "%s: Ritz lambda_min %.17g below %.17g", what, lo,
                     elo);
            CHECK(ex == (k == n), "%s: exact = %d with k = %zu", what, ex, k);
            ntk_kgd_free(ge), ntk_kgd_free(gk);
        }
    }
    free(ue), free(uk), free(fe), free(fk);
    return worst;
}

static void test_krylov(void)
{
    enum { n = 600, nt = 40 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 41);
    double *y = malloc(n * sizeof(double)), *u0 = malloc(n * sizeof(double));
    double *f0 = malloc(nt * sizeof(double)), *lam = malloc(n * sizeof(double));
    ntk_rng_normal_fill(&rng, y, n);
    ntk_rng_normal_fill(&rng, u0, n);
    ntk_rng_normal_fill(&rng, f0, nt);
    size_t k;

    /* NTK-like: relu NTK of Gaussian inputs (a large outlier, a bulk) */
    {
        const size_t d = 10;
        double *X = malloc((n + nt) * d * sizeof(double));
        double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
        ntk_rng_normal_fill(&rng, X, (n + nt) * d);
        ntk_net_config cfg = ntk_net_config_default(d, 256);
        CHECK_OK(ntk_kernel_infinite(&cfg, X, n, NULL, 0, 1.0, 1.0, 0, K));
        CHECK_OK(ntk_kernel_infinite(&cfg, X + n * d, nt, X, n, 1.0, 1.0, 0, Kt));
        ntk_spectrum_summary sp;
        CHECK_OK(ntk_spectrum_summary_of(K, n, &sp));
        double *Ktt = malloc(nt * nt * sizeof(double)), kxx = 0.0;   /* k(x,x), test points */
        CHECK_OK(ntk_kernel_infinite(&cfg, X + n * d, nt, NULL, 0, 1.0, 1.0, 0, Ktt));
        for (size_t i = 0; i < nt; i++) kxx = fmax(kxx, Ktt[i * nt + i]);
        free(Ktt);
        for (int h = 0; h < 2; h++) {
            double e = krylov_vs_eig(K, n, Kt, nt, y, u0, f0, sp.lmax, kxx, h ? 5000.0 : 0.0,
                                     "relu NTK", &k);
            CHECK(k < n / 2, "relu NTK: the stopping rule should stop early, k = %zu", k);
            printf("krylov vs eig, relu NTK n=%d, t_max=%s: k=%zu, worst %.2g\n", n,
                   h ? "5000" : "inf", k, e);
        }
        free(X), free(K), free(Kt);
    }
    /* A Aᵀ/m, m = 400 < n: 200 zero eigenvalues, plus a rank-one outlier */
    {
        const size_t m = 400;
        double *A = malloc((n + nt) * m * sizeof(double));
        double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
        ntk_rng_normal_fill(&rng, A, (n + nt) * m);
        for (size_t i = 0; i < n + nt; i++) A[i * m] = 3.0;   /* mean feature: outlier */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)m, 1.0 / m, A,
                    (int)m, A, (int)m, 0.0, K, (int)n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)n, (int)m, 1.0 / m,
                    A + n * m, (int)m, A, (int)m, 0.0, Kt, (int)n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) K[j * n + i] = K[i * n + j];
        ntk_spectrum_summary sp;
        CHECK_OK(ntk_spectrum_summary_of(K, n, &sp));
        double kxx = 0.0;   /* k(x,x) = ‖a_x‖²/m over the test points */
        for (size_t i = n; i < n + nt; i++) {
            double a2 = norm2(A + i * m, m);
            kxx = fmax(kxx, a2 * a2 / (double)m);
        }
        for (int h = 0; h < 2; h++) {
            double e = krylov_vs_eig(K, n, Kt, nt, y, u0, f0, sp.lmax, kxx, h ? 5000.0 : 0.0,
                                     "A A^T/m", &k);
            printf("krylov vs eig, A A^T/m (rank %zu), t_max=%s: k=%zu, worst %.2g\n", m,
                   h ? "5000" : "inf", k, e);
        }
        free(A), free(K), free(Kt);
    }
    /* prescribed spectrum: log-spread 1e-9..1, 20 exact zeros, a cluster
     * of 60 equal eigenvalues 0.3, a cluster 2 ± 1e-9 and an outlier 40 */
    {
        for (size_t i = 0; i < n; i++) lam[i] = pow(10.0, -9.0 + 9.0 * (double)i / (double)n);
        for (size_t i = 0; i < 20; i++) lam[i] = 0.0;
        for (size_t i = 100; i < 160; i++) lam[i] = 0.3;
        for (size_t i = 300; i < 340; i++) lam[i] = 2.0 + 1e-9 * (double)(i - 300);
        lam[n - 1] = 40.0;
        spec_kernel s = make_spec_kernel(n, nt, lam, 42);
        for (int h = 0; h < 2; h++) {
            double e = krylov_vs_eig(s.K, n, s.Kt, nt, y, u0, f0, 40.0, s.kxx,
                                     h ? 5000.0 : 0.0, "clusters", &k);
            printf("krylov vs eig, clustered spectrum, t_max=%s: k=%zu, worst %.2g\n",
                   h ? "5000" : "inf", k, e);
        }
        free_spec_kernel(&s);
    }
    free(y), free(u0), free(f0), free(lam);
}

/* KRYLOV against EIG on K with r0 = y − u0 in an invariant subspace, to
 * the tolerance of krylov_vs_eig: rounding only when the Krylov space is
 * exact; returns the Krylov dimension and error estimate. */
static void invariant_case(const double *K, size_t n, const double *Kt, size_t nt,
                           const double *y, const double *u0, const double *f0, double lmax,
                           double kxx_max, int flow, size_t *k, double *err)
{
    double *ue = malloc(n * sizeof(double)), *uk = malloc(n * sizeof(double));
    double *fe = malloc(nt * sizeof(double)), *fk = malloc(nt * sizeof(double));
    ntk_kgd *ge = NULL, *gk = NULL;
    double lr = 0.8 * (double)n / lmax, r0 = resid_norm(y, u0, n);
    CHECK_OK(ntk_kgd_create_method(K, n, y, u0, lr, NTK_LOSS_MEAN, NTK_KGD_EIG, 0.0, &ge));
    CHECK_OK(ntk_kgd_create_method(K, n, y, u0, lr, NTK_LOSS_MEAN, NTK_KGD_KRYLOV, 0.0, &gk));
    *k = 0;
    *err = -1.0;
    if (ge && gk) {
        CHECK_OK(ntk_kgd_info(gk, NULL, k, err));
        double ku = krylov_allow(gk, r0, 1.0);
        double kf = krylov_allow(gk, r0, sqrt(kxx_max / diag_max(K, n)));
        for (double t = 0; t <= 1e4; t = t ? t * 10 : 1) {
            CHECK_OK(ntk_kgd_predict_train(ge, t, flow, ue));
            CHECK_OK(ntk_kgd_predict_train(gk, t, flow, uk));
            CHECK_OK(ntk_kgd_predict_test(ge, t, flow, Kt, nt, f0, fe));
            CHECK_OK(ntk_kgd_predict_test(gk, t, flow, Kt, nt, f0, fk));
            pred_tol cf = closed_form_tol(ge, Kt, nt, y, u0, f0, 0.8 / lmax, t, flow);
            CHECK_LE(t_max_rel_err(uk, ue, n), (2.0 * cf.u + ku) / norm_inf(ue, n),
                     "invariant train t=%g (k=%zu)", t, *k);
            CHECK_LE(t_max_rel_err(fk, fe, nt), (2.0 * cf.f + kf) / norm_inf(fe, nt),
                     "invariant test t=%g (k=%zu)", t, *k);
        }
    }
    ntk_kgd_free(ge), ntk_kgd_free(gk);
    free(ue), free(uk), free(fe), free(fk);
}

/* r0 = y − u0 in a 5-dimensional invariant subspace of a rank-deficient K.
 * Exactly (K = F Fᵀ with r0 on 5 coordinates whose features are disjoint
 * from the others', rank 4 there): Lanczos stops at k = 5, exact. Up to
 * rounding (K = QΛQᵀ, r0 a combination of 5 eigenvectors, two of them
 * close): the rounding noise of r0 grows by 1/Π β_j, so Lanczos goes on
 * until the estimate is met, and stays accurate. */
static void test_krylov_invariant(void)
{
    enum { n = 200, nt = 9, r = 5, p1 = 4, p2 = 50, p = p1 + p2 };
    static const size_t rows[r] = {7, 50, 51, 120, 199};
    double *F = calloc((n + nt) * p, sizeof(double)), *K = malloc(n * n * sizeof(double));
    double *Kt = malloc(nt * n * sizeof(double)), y[n], u0[n], f0[nt];
    int on[n];
    ntk_rng rng;
    ntk_rng_seed(&rng, 44);
    memset(on, 0, sizeof on);
    for (size_t j = 0; j < r; j++) on[rows[j]] = 1;
    for (size_t i = 0; i < n + nt; i++)
        for (size_t a = 0; a < p; a++)
            if (i >= n || (on[i] ? a < p1 : a >= p1)) F[i * p + a] = ntk_rng_normal(&rng);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)p, 1.0 / p, F,
                (int)p, F, (int)p, 0.0, K, (int)n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)n, (int)p, 1.0 / p,
                F + n * p, (int)p, F, (int)p, 0.0, Kt, (int)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) K[j * n + i] = K[i * n + j];
    ntk_rng_normal_fill(&rng, u0, n);
    ntk_rng_normal_fill(&rng, f0, nt);
    for (size_t i = 0; i < n; i++) y[i] = u0[i] + (on[i] ? ntk_rng_normal(&rng) : 0.0);
    ntk_spectrum_summary sp;
    CHECK_OK(ntk_spectrum_summary_of(K, n, &sp));
    double kxx = 0.0;   /* k(x,x) = ‖F_x‖²/p over the test points */
    for (size_t i = n; i < n + nt; i++) {
        double f2 = norm2(F + i * p, p);
        kxx = fmax(kxx, f2 * f2 / p);
    }
    for (int flow = 0; flow < 2; flow++) {
        size_t k;
        double err;
        invariant_case(K, n, Kt, nt, y, u0, f0, sp.lmax, kxx, flow, &k, &err);
        CHECK(k == r, "invariant subspace of dimension %d, k = %zu", r, k);
        CHECK(err == 0.0, "exact termination reports err %.3g", err);
    }
    /* the extreme Ritz values are those of the 5×5 block: one is 0 */
    ntk_kgd *g = NULL;
    double lo, hi, blk[r * r], w[r];
    for (size_t a = 0; a < r; a++)
        for (size_t b = 0; b < r; b++) blk[a * r + b] = K[rows[a] * n + rows[b]];
    CHECK_OK(ntk_eigh(blk, r, w, NULL));
    CHECK_OK(ntk_kgd_create_method(K, n, y, u0, 1.0, NTK_LOSS_SUM, NTK_KGD_KRYLOV, 0.0, &g));
    CHECK_OK(ntk_kgd_extremes(g, &lo, &hi, NULL));
    /* exact termination: the Ritz values are eigenvalues of the block, up to
     * the rounding of K, of the Lanczos recurrence and of the two eigensolvers */
    CHECK_LE(fabs(hi - w[r - 1]), R_n(n) * w[r - 1], "Ritz lambda_max of the subspace");
    CHECK_LE(fabs(lo), R_n(n) * hi, "Ritz lambda_min %.3g (null vector in r0)", lo);
    ntk_kgd_free(g);
    free(F), free(K), free(Kt);

    double lam[n];
    for (size_t i = 0; i < n; i++) lam[i] = i < n / 2 ? 0.0 : 1.0 + (double)i / n;
    spec_kernel s = make_spec_kernel(n, nt, lam, 43);
    static const size_t cols[r] = {3, 120, 150, 151, n - 1};   /* a null vector, 4 others */
    static const double coef[r] = {0.7, -1.2, 0.4, 2.0, -0.9};
    for (size_t i = 0; i < n; i++) {
        y[i] = u0[i];
        for (size_t j = 0; j < r; j++) y[i] += coef[j] * s.Q[i * n + cols[j]];
    }
    for (int flow = 0; flow < 2; flow++) {
        size_t k;
        double err;
        invariant_case(s.K, n, s.Kt, nt, y, u0, f0, lam[n - 1], s.kxx, flow, &k, &err);
        /* the estimate is first available at k = 20 (checks every 10 steps,
         * against the previous one); 40 leaves two more checks for noise */
        CHECK(k >= r && k <= 40, "near-invariant subspace: k = %zu", k);
        /* the stopping rule: err_est ≤ KRYLOV_RTOL, or 0 if exact (k = n is
         * excluded above). How far below the estimate falls depends on the
         * rounding noise in r0, which Lanczos amplifies by 1/Π β_j. */
        CHECK_LE(err, KRYLOV_RTOL, "near-invariant subspace: err_est");
    }
    free_spec_kernel(&s);
}

/* Krylov specifics: no full spectrum, r0 = 0, oscillating/divergent
 * rates, symmetry check, AUTO's choice. */
static void test_krylov_modes(void)
{
    problem p = make_problem(30, 4, 12, 45);
    const size_t n = p.n, nt = p.nt;
    double c = 1.0 / (double)n, lmax = lambda_max(&p), u[30], f[4];
    ntk_kgd *g = NULL;
    ntk_kgd_method m = NTK_KGD_KRYLOV;
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.0, NTK_LOSS_MEAN, NTK_KGD_AUTO, 0.0, &g));
    CHECK_OK(ntk_kgd_info(g, &m, NULL, NULL));
    CHECK(m == NTK_KGD_EIG, "AUTO at n = %zu picks EIG, got %d", n, (int)m);
    int ex = 0;
    double lo, hi;
    CHECK_OK(ntk_kgd_extremes(g, &lo, &hi, &ex));
    CHECK(ex == 1 && hi == ntk_kgd_evals(g)[n - 1] && lo == ntk_kgd_evals(g)[0], "EIG extremes");
    ntk_kgd_free(g);
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.0, NTK_LOSS_MEAN, NTK_KGD_KRYLOV, 0.0,
                                   &g));
    CHECK(ntk_kgd_evals(g) == NULL, "KRYLOV has no evals");
    ntk_kgd_free(g);
    /* a horizon: later t are refused, EIG ignores it */
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.0, NTK_LOSS_MEAN, NTK_KGD_KRYLOV, 100.0,
                                   &g));
    CHECK_OK(ntk_kgd_predict_train(g, 100.0, 0, u));
    CHECK_ERR(ntk_kgd_predict_train(g, 101.0, 0, u), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_predict_test(g, 1e9, 1, p.Kt, nt, p.f0, f), NTK_ERR_ARG);
    ntk_kgd_free(g);
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.0, NTK_LOSS_MEAN, NTK_KGD_EIG, 100.0, &g));
    CHECK_OK(ntk_kgd_predict_train(g, 1e9, 0, u));
    ntk_kgd_free(g);
    CHECK_ERR(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.0, NTK_LOSS_MEAN, NTK_KGD_KRYLOV, -1.0,
                                    &g),
              NTK_ERR_ARG);
    /* r0 = 0: predictions stay at u0 / f0 (even at this unstable rate) */
    CHECK_OK(kgd_new_unstable(p.K, n, p.y, p.y, 1.0, NTK_LOSS_SUM, NTK_KGD_KRYLOV, &g));
    CHECK_OK(ntk_kgd_predict_train(g, 50, 0, u));
    CHECK(t_max_rel_err(u, p.y, n) == 0.0, "r0 = 0 train moved");
    CHECK_OK(ntk_kgd_predict_test(g, 50, 1, p.Kt, nt, p.f0, f));
    CHECK(t_max_rel_err(f, p.f0, nt) == 0.0, "r0 = 0 test moved");
    CHECK_OK(ntk_kgd_extremes(g, &lo, &hi, NULL));
    {   /* as in krylov_vs_eig: min(ρ, ρ²/gap) at the stop, plus rounding */
        double w[30];
        CHECK_OK(ntk_eigh(p.K, n, w, NULL));
        double rho = LMAX_RTOL * hi;
        CHECK_LE(fabs(hi - lmax), fmin(rho, rho * rho / (w[n - 1] - w[n - 2])) + R_n(n) * lmax,
                 "r0 = 0: lambda_max %.17g vs %.17g", hi, lmax);
    }
    ntk_kgd_free(g);
    /* oscillating modes admit integer t only; divergence is reported */
    CHECK_OK(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1.5 / (c * lmax), NTK_LOSS_MEAN,
                                   NTK_KGD_KRYLOV, 0.0, &g));
    CHECK_OK(ntk_kgd_predict_train(g, 3, 0, u));
    CHECK_ERR(ntk_kgd_predict_train(g, 2.5, 0, u), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_predict_test(g, 2.5, 0, p.Kt, nt, p.f0, f), NTK_ERR_ARG);
    CHECK_OK(ntk_kgd_predict_train(g, 2.5, 1, u));
    ntk_kgd_free(g);
    check_unstable_refused(p.K, n, p.y, p.u0, 2.5 / (c * lmax), NTK_KGD_KRYLOV, u);
    CHECK_OK(kgd_new_unstable(p.K, n, p.y, p.u0, 2.5 / (c * lmax), NTK_LOSS_MEAN, NTK_KGD_KRYLOV,
                              &g));
    CHECK_ERR(ntk_kgd_predict_train(g, 5000, 0, u), NTK_ERR_DIVERGED);
    CHECK_ERR(ntk_kgd_predict_test(g, 5000, 0, p.Kt, nt, p.f0, f), NTK_ERR_DIVERGED);
    ntk_kgd_free(g);
    /* arguments */
    CHECK_ERR(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1, NTK_LOSS_MEAN, (ntk_kgd_method)9, 0.0,
                                    &g),
              NTK_ERR_ARG);
    p.K[1] += 1.0;
    CHECK_ERR(ntk_kgd_create_method(p.K, n, p.y, p.u0, 1, NTK_LOSS_MEAN, NTK_KGD_KRYLOV, 0.0,
                                    &g),
              NTK_ERR_ARG);
    CHECK(g == NULL, "out not cleared");
    p.K[1] -= 1.0;
    CHECK_ERR(ntk_kgd_extremes(NULL, &lo, &hi, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_info(NULL, NULL, NULL, NULL), NTK_ERR_ARG);
    free_problem(&p);
}

/* k outputs at once equal k single-output problems, column by column: the
 * same eigendecomposition (EIG), or each column's own Lanczos basis
 * (KRYLOV, built from that column's residual exactly as for one output).
 * The products differ only in blocking (dgemm against dgemv):
 * C_ROUND·n·ε relative to the largest prediction; on the test side the n
 * terms of K_test·A may be up to ten times the prediction they sum to (this
 * problem's K_test rows against h_t(K) R0 at t = 3.5), hence the factor 10. */
static void test_multi_output(void)
{
    const size_t n = 70, nt = 9, kout = 3;
    problem p = make_problem(n, nt, 20, 77);
    double *Y = malloc(n * kout * sizeof(double)), *U0 = malloc(n * kout * sizeof(double));
    double *F0 = malloc(nt * kout * sizeof(double)), *col = malloc((2 * n + nt) * sizeof(double));
    double *u = malloc(n * kout * sizeof(double)), *f = malloc(nt * kout * sizeof(double));
    double *u1 = malloc(n * sizeof(double)), *f1 = malloc(nt * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < kout; j++) {
            Y[i * kout + j] = p.y[i] * (1.0 + (double)j) + 0.1 * (double)j;
            U0[i * kout + j] = p.u0[i] - 0.2 * (double)j;
        }
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < kout; j++) F0[i * kout + j] = p.f0[i] + (double)j;
    ntk_kgd_method methods[2] = {NTK_KGD_EIG, NTK_KGD_KRYLOV};
    for (int mi = 0; mi < 2; mi++) {
        ntk_kgd_config c = ntk_kgd_config_default();
        c.method = methods[mi];
        c.outputs = kout;
        c.flow = 1;
        ntk_kgd *g = NULL, *g1 = NULL;
        CHECK_OK(ntk_kgd_create(p.K, n, Y, U0, &c, &g));
        CHECK_OK(ntk_kgd_predict_train(g, 3.5, 1, u));
        CHECK_OK(ntk_kgd_predict_test(g, 3.5, 1, p.Kt, nt, F0, f));
        c.outputs = 1;
        for (size_t j = 0; j < kout; j++) {
            double *yj = col, *uj = col + n, *fj = col + 2 * n;
            for (size_t i = 0; i < n; i++) yj[i] = Y[i * kout + j], uj[i] = U0[i * kout + j];
            for (size_t i = 0; i < nt; i++) fj[i] = F0[i * kout + j];
            CHECK_OK(ntk_kgd_create(p.K, n, yj, uj, &c, &g1));
            CHECK_OK(ntk_kgd_predict_train(g1, 3.5, 1, u1));
            CHECK_OK(ntk_kgd_predict_test(g1, 3.5, 1, p.Kt, nt, fj, f1));
            double eu = 0, ef = 0, su = 0, sf = 0;
            for (size_t i = 0; i < n; i++)
                eu = fmax(eu, fabs(u[i * kout + j] - u1[i])), su = fmax(su, fabs(u1[i]));
            for (size_t i = 0; i < nt; i++)
                ef = fmax(ef, fabs(f[i * kout + j] - f1[i])), sf = fmax(sf, fabs(f1[i]));
            CHECK_LE(eu, C_ROUND * (double)n * DBL_EPSILON * su, "method %d column %zu train", mi, j);
            CHECK_LE(ef, C_ROUND * (double)n * DBL_EPSILON * sf * 10, "method %d column %zu test", mi, j);
            ntk_kgd_free(g1);
            g1 = NULL;
        }
        ntk_kgd_free(g);
    }
    free(Y), free(U0), free(F0), free(col), free(u), free(f), free(u1), free(f1);
    free_problem(&p);
}

/* Kernel GD on a kernel operator (ntk_kgd_create_op, ntk_kgd_predict_cross)
 * against EIG on the stored kernel and its stored cross block, for the
 * infinite-width and empirical ReLU kernels, stored and matrix-free (a
 * memory limit that forces several tiles). The operator's products carry
 * R_len = C_ROUND·(n + m + d)·ε relative rounding instead of R_n (the bound
 * of tests/test_operator.c; these kernels have nonnegative entries, so
 * ‖|K|‖ = ‖K‖ and the backward error stays R_len·λmax): the closed form's
 * rounding bound scaled by len/n, doubled for the two sides, plus the
 * Krylov truncation allowance. */
static void test_kgd_operator(void)
{
    const size_t n = 240, nt = 17, d = 5, m = 60, kout = 2, len = n + m + d;
    double *X = malloc(n * d * sizeof(double)), *Xt = malloc(nt * d * sizeof(double));
    double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
    double *Y = malloc(n * kout * sizeof(double)), *U0 = calloc(n * kout, sizeof(double));
    double *F0 = malloc(nt * kout * sizeof(double));
    double *ue = malloc(n * kout * sizeof(double)), *uo = malloc(n * kout * sizeof(double));
    double *fe = malloc(nt * kout * sizeof(double)), *fo = malloc(nt * kout * sizeof(double));
    double *col = malloc((2 * n + nt) * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 29);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, Xt, nt * d);
    for (size_t i = 0; i < n; i++) Y[i * kout] = sin(X[i * d]), Y[i * kout + 1] = X[i * d + 1] * X[i * d + 2];
    ntk_rng_normal_fill(&rng, F0, nt * kout);
    ntk_net_config cfg = ntk_net_config_default(d, m);
    ntk_net *net = NULL;
    CHECK_OK(ntk_net_create(&cfg, &net));
    ntk_kernel_source srcs[2] = {NTK_KERNEL_INFINITE, NTK_KERNEL_EMPIRICAL};
    ntk_op_mode modes[2] = {NTK_OP_DENSE, NTK_OP_MATRIX_FREE};
    for (size_t si = 0; si < 2 && net; si++) {
        ntk_kernel_desc kd = ntk_kernel_desc_default(srcs[si], &cfg);
        kd.W = ntk_net_W0(net), kd.v = ntk_net_v0(net);
        CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
        CHECK_OK(ntk_kernel(&kd, Xt, nt, X, n, Kt));
        for (size_t mi = 0; mi < 2; mi++) {
            ntk_op *op = NULL;
            CHECK_OK(ntk_op_create(&kd, X, n, modes[mi], mi ? 60000 : 0, &op));
            if (!op) continue;
            for (int flow = 0; flow < 2; flow++) {
                ntk_kgd_config c = ntk_kgd_config_default();
                c.lr = 0.5, c.outputs = kout, c.flow = flow, c.method = NTK_KGD_KRYLOV;
                c.t_max = 400.0;
                ntk_kgd *go = NULL;
                CHECK_OK(ntk_kgd_create_op(op, Y, U0, &c, &go));
                c.method = NTK_KGD_EIG, c.outputs = 1;
                for (size_t j = 0; go && j < kout; j++) {
                    double *yj = col, *uj = col + n, *fj = col + 2 * n;
                    for (size_t i = 0; i < n; i++) yj[i] = Y[i * kout + j], uj[i] = 0.0;
                    for (size_t i = 0; i < nt; i++) fj[i] = F0[i * kout + j];
                    ntk_kgd *ge = NULL;
                    CHECK_OK(ntk_kgd_create(K, n, yj, uj, &c, &ge));
                    if (!ge) continue;
                    double r0 = norm2(yj, n), kscale = 1.0;
                    for (size_t i = 0; i < nt; i++) {
                        double kxx = 0.0;
                        CHECK_OK(ntk_kernel(&kd, Xt + i * d, 1, NULL, 0, &kxx));
                        kscale = fmax(kscale, sqrt(kxx / diag_max(K, n)));
                    }
                    static const double ts[] = {0, 1, 7, 50, 400};
                    for (size_t ti = 0; ti < 5; ti++) {
                        CHECK_OK(ntk_kgd_predict_train(go, ts[ti], flow, uo));
                        CHECK_OK(ntk_kgd_predict_cross(go, ts[ti], flow, op, Xt, nt, F0, fo));
                        CHECK_OK(ntk_kgd_predict_train(ge, ts[ti], flow, ue));
                        CHECK_OK(ntk_kgd_predict_test(ge, ts[ti], flow, Kt, nt, fj, fe));
                        pred_tol cf = closed_form_tol(ge, Kt, nt, yj, uj, fj, 0.5 / (double)n, ts[ti], flow);
                        double s = (double)len / (double)n, eu = 0.0, ef = 0.0;
                        for (size_t i = 0; i < n; i++) eu = fmax(eu, fabs(uo[i * kout + j] - ue[i]));
                        for (size_t i = 0; i < nt; i++) ef = fmax(ef, fabs(fo[i * kout + j] - fe[i]));
                        CHECK_LE(eu, 2.0 * s * cf.u + krylov_allow(go, r0, 1.0),
                                 "%s %s flow=%d t=%g column %zu: train",
                                 ntk_kernel_source_name(srcs[si]), ntk_op_mode_name(modes[mi]),
                                 flow, ts[ti], j);
                        CHECK_LE(ef, 2.0 * s * cf.f + krylov_allow(go, r0, kscale),
                                 "%s %s flow=%d t=%g column %zu: test",
                                 ntk_kernel_source_name(srcs[si]), ntk_op_mode_name(modes[mi]),
                                 flow, ts[ti], j);
                    }
                    ntk_kgd_free(ge);
                }
                ntk_kgd_free(go);
            }
            /* a basis capped at 5 vectors stops there, with its estimate */
            {
                ntk_kgd_config c5 = ntk_kgd_config_default();
                c5.method = NTK_KGD_KRYLOV, c5.krylov_kmax = 5, c5.outputs = kout;
                ntk_kgd *g5 = NULL;
                size_t k5 = 0;
                double est = 0.0;
                CHECK_OK(ntk_kgd_create_op(op, Y, U0, &c5, &g5));
                CHECK_OK(ntk_kgd_info(g5, NULL, &k5, &est));
                CHECK(k5 == 5 && est > 0.0, "capped basis: k = %zu, estimate %g", k5, est);
                ntk_kgd_free(g5);
            }
            /* EIG needs the stored kernel; AUTO picks it when there is one */
            ntk_kgd_config c = ntk_kgd_config_default();
            ntk_kgd *g = NULL;
            ntk_kgd_method used = NTK_KGD_AUTO;
            c.method = NTK_KGD_EIG;
            if (mi) {
                CHECK_ERR(ntk_kgd_create_op(op, Y, U0, &c, &g), NTK_ERR_ARG);
            } else {
                CHECK_OK(ntk_kgd_create_op(op, Y, U0, &c, &g));
                ntk_kgd_free(g), g = NULL;
            }
            c.method = NTK_KGD_AUTO;
            CHECK_OK(ntk_kgd_create_op(op, Y, U0, &c, &g));
            CHECK_OK(ntk_kgd_info(g, &used, NULL, NULL));
            CHECK(used == (mi ? NTK_KGD_KRYLOV : NTK_KGD_EIG), "AUTO on %s: method %d",
                  ntk_op_mode_name(modes[mi]), (int)used);
            ntk_kgd_free(g);
            ntk_op_free(op);
        }
    }
    ntk_net_free(net);
    free(X), free(Xt), free(K), free(Kt), free(Y), free(U0), free(F0);
    free(ue), free(uo), free(fe), free(fo), free(col);
}

int main(void)
{
    test_multi_output();
    test_kgd_operator();
    for (int m = 0; m < 2; m++) {
        g_method = m ? NTK_KGD_KRYLOV : NTK_KGD_EIG;
        test_gd();
        test_fractional();
        test_flow();
        test_singular_limit();
    }
    test_kgd_arguments();
    test_ridge();
    test_krylov();
    test_krylov_invariant();
    test_krylov_modes();
    return t_finish();
}
