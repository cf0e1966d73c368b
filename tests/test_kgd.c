/* Closed-form kernel GD (MATH.md §6) against explicit iteration of the
 * kernel model, gradient flow against its power series, the singular limit
 * against the minimum-norm interpolant, and kernel ridge against LU. */
#include "harness.h"
#include "ntkit.h"

#include <lapacke.h>

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

/* Explicit GD on the kernel model, u ← u − cη K (u − y) and
 * f_test ← f_test − cη K_test (u − y), checked at selected steps. */
static void check_vs_iteration(const problem *p, ntk_loss_kind loss, double ceta_lmax,
                               const char *what)
{
    const size_t n = p->n, nt = p->nt;
    double c = loss == NTK_LOSS_MEAN ? 1.0 / (double)n : 1.0;
    double lr = ceta_lmax / (c * lambda_max(p));
    ntk_kgd *g = NULL;
    CHECK_OK(ntk_kgd_create(p->K, n, p->y, p->u0, lr, loss, &g));
    if (!g) return;
    double u[n], ft[nt], r[n], Kr[nt > n ? nt : n], uc[n], fc[nt];
    memcpy(u, p->u0, sizeof u);
    memcpy(ft, p->f0, sizeof ft);
    for (int t = 0; t <= 50; t++) {
        if (t == 0 || t == 1 || t == 2 || t == 5 || t == 17 || t == 50) {
            CHECK_OK(ntk_kgd_predict_train(g, t, 0, uc));
            CHECK_OK(ntk_kgd_predict_test(g, t, 0, p->Kt, nt, p->f0, fc));
            double eu = t_max_rel_err(uc, u, n), ef = t_max_rel_err(fc, ft, nt);
            CHECK(eu < 1e-10, "%s t=%d train rel err %.3g", what, t, eu);
            CHECK(ef < 1e-10, "%s t=%d test rel err %.3g", what, t, ef);
        }
        for (size_t i = 0; i < n; i++) r[i] = u[i] - p->y[i];
        matvec(p->Kt, nt, n, r, Kr);
        for (size_t i = 0; i < nt; i++) ft[i] -= c * lr * Kr[i];
        matvec(p->K, n, n, r, Kr);
        for (size_t i = 0; i < n; i++) u[i] -= c * lr * Kr[i];
    }
    ntk_kgd_free(g);
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
    CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, &g));
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
    CHECK(t_max_rel_err(u1, u, n) < 1e-12, "t=3.5 train %.3g", t_max_rel_err(u1, u, n));
    CHECK(t_max_rel_err(f1, f, nt) < 1e-12, "t=3.5 test %.3g", t_max_rel_err(f1, f, nt));
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
    CHECK(t_max_rel_err(ut, u, n) < 1e-12, "K_test = K: %.3g", t_max_rel_err(ut, u, n));
    free(ut);
    CHECK_ERR(ntk_kgd_predict_train(g, -1.0, 0, u), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_predict_train(g, NAN, 1, u), NTK_ERR_ARG);
    ntk_kgd_free(g);
    /* oscillating modes admit integer t only */
    CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, 1.5 / (c * lambda_max(&p)), NTK_LOSS_MEAN, &g));
    CHECK_OK(ntk_kgd_predict_train(g, 3, 0, u));
    CHECK_ERR(ntk_kgd_predict_train(g, 2.5, 0, u), NTK_ERR_ARG);
    CHECK_OK(ntk_kgd_predict_train(g, 2.5, 1, u));   /* flow is fine */
    ntk_kgd_free(g);
    /* divergent rate: reported, not returned as Inf */
    CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, 2.5 / (c * lambda_max(&p)), NTK_LOSS_MEAN, &g));
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
            CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, lr, loss, &g));
            CHECK_OK(ntk_kgd_predict_train(g, T, 1, uc));
            CHECK_OK(ntk_kgd_predict_test(g, T, 1, p.Kt, nt, p.f0, fc));
            CHECK(t_max_rel_err(uc, u, n) < 1e-10, "flow train (singular=%d, loss=%d): %.3g",
                  singular, lf, t_max_rel_err(uc, u, n));
            CHECK(t_max_rel_err(fc, ft, nt) < 1e-10, "flow test (singular=%d, loss=%d): %.3g",
                  singular, lf, t_max_rel_err(fc, ft, nt));
            ntk_kgd_free(g);
            /* many tiny GD steps (η/N, N·T steps) approach the flow, error O(1/N) */
            if (singular || lf) continue;
            const int N = 1000;
            size_t steps = (size_t)llround(T * N);
            double Ts = (double)steps / N, ug[n], r[n];
            memcpy(ug, p.u0, sizeof ug);
            for (size_t s = 0; s < steps; s++) {
                for (size_t i = 0; i < n; i++) r[i] = ug[i] - p.y[i];
                matvec(p.K, n, n, r, tmp);
                for (size_t i = 0; i < n; i++) ug[i] -= c * lr / N * tmp[i];
            }
            CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, lr, loss, &g));
            CHECK_OK(ntk_kgd_predict_train(g, Ts, 1, uc));
            CHECK(t_max_rel_err(uc, ug, n) < 5e-3, "flow vs tiny steps: %.3g",
                  t_max_rel_err(uc, ug, n));
            ntk_kgd_free(g);
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
    CHECK_OK(ntk_kgd_create(p.K, n, p.y, p.u0, lr, NTK_LOSS_MEAN, &g));
    const double *w = ntk_kgd_evals(g);
    int asc = 1;
    for (size_t k = 1; k < n; k++) asc &= w[k] >= w[k - 1];
    CHECK(asc, "evals not ascending");
    CHECK(fabs(w[n - r - 1]) < 1e-12 * w[n - 1], "expected %zu zero eigenvalues", n - r);
    for (int flow = 0; flow < 2; flow++) {
        CHECK_OK(ntk_kgd_predict_train(g, 1e6, flow, uc));
        CHECK_OK(ntk_kgd_predict_test(g, 1e6, flow, p.Kt, nt, p.f0, fc));
        CHECK(t_max_rel_err(uc, u_inf, n) < 1e-9, "u(inf), flow=%d: %.3g", flow,
              t_max_rel_err(uc, u_inf, n));
        CHECK(t_max_rel_err(fc, f_inf, nt) < 1e-7, "f_test(inf), flow=%d: %.3g", flow,
              t_max_rel_err(fc, f_inf, nt));
    }
    ntk_kgd_free(g);
    free_problem(&p);
}

static void test_kgd_arguments(void)
{
    problem p = make_problem(5, 2, 7, 37);
    ntk_kgd *g = (ntk_kgd *)&p;   /* must be reset to NULL on failure */
    CHECK_ERR(ntk_kgd_create(NULL, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, &g), NTK_ERR_ARG);
    CHECK(g == NULL, "out not cleared");
    CHECK_ERR(ntk_kgd_create(p.K, 0, p.y, p.u0, 1, NTK_LOSS_MEAN, &g), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_create(p.K, 5, p.y, p.u0, -1, NTK_LOSS_MEAN, &g), NTK_ERR_ARG);
    CHECK_ERR(ntk_kgd_create(p.K, 5, p.y, p.u0, 1, (ntk_loss_kind)7, &g), NTK_ERR_ARG);
    p.y[2] = NAN;
    CHECK_ERR(ntk_kgd_create(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, &g), NTK_ERR_NONFINITE);
    p.y[2] = 0;
    p.K[1] += 1.0;
    CHECK_ERR(ntk_kgd_create(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, &g), NTK_ERR_ARG);
    p.K[1] -= 1.0;
    CHECK_OK(ntk_kgd_create(p.K, 5, p.y, p.u0, 1, NTK_LOSS_MEAN, &g));
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
    CHECK_OK(ntk_kernel_ridge(p.K, n, p.y, ridge, a));
    memcpy(A, p.K, sizeof A);
    for (size_t i = 0; i < n; i++) A[i * n + i] += ridge;
    memcpy(b, p.y, sizeof b);
    CHECK(LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)n, 1, A, (lapack_int)n, ipiv, b, 1) == 0,
          "dgesv");
    CHECK(t_max_rel_err(a, b, n) < 1e-10, "ridge vs LU: %.3g", t_max_rel_err(a, b, n));
    matvec(p.K, n, n, a, res);
    double rmax = 0.0;
    for (size_t i = 0; i < n; i++) rmax = fmax(rmax, fabs(res[i] + ridge * a[i] - p.y[i]));
    CHECK(rmax < 1e-10, "ridge residual %.3g", rmax);
    /* y may alias alpha_out */
    memcpy(b, p.y, sizeof b);
    CHECK_OK(ntk_kernel_ridge(p.K, n, b, ridge, b));
    CHECK(t_max_rel_err(b, a, n) < 1e-15, "aliased ridge differs");
    /* not positive definite: −I with no ridge */
    double N[9] = {-1, 0, 0, 0, -1, 0, 0, 0, -1}, yy[3] = {1, 2, 3}, out[3];
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, 0.0, out), NTK_ERR_LAPACK);
    CHECK(strstr(ntk_errmsg(), "increase the ridge") != NULL, "message: %s", ntk_errmsg());
    CHECK_OK(ntk_kernel_ridge(N, 3, yy, 2.0, out));
    CHECK_CLOSE(out[2], 3.0, 1e-15, "(2I - I)^{-1} y");
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, -1.0, out), NTK_ERR_ARG);
    N[1] = 0.5;
    CHECK_ERR(ntk_kernel_ridge(N, 3, yy, 2.0, out), NTK_ERR_ARG);
    free_problem(&p);
}

int main(void)
{
    test_gd();
    test_fractional();
    test_flow();
    test_singular_limit();
    test_kgd_arguments();
    test_ridge();
    return t_finish();
}
