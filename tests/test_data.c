/* Synthetic inputs, teachers, standardisation and ntk_dataset_make.
 *
 * Monte-Carlo checks use fixed seeds, so they are reproducible; each states
 * its tolerance. Where the variance of the estimator is not known in closed
 * form, the tolerance is 5 standard errors estimated from the same sample:
 * by the central limit theorem a correct implementation lands outside it with
 * probability below 1e-6, while the normalisation errors these checks guard
 * against (e.g. a missing √N(d,k) or √(k!)) move the mean by factors of 2 or
 * more. */
#include "harness.h"
#include "ntkit.h"
#include "tmpdir.h"

#include <unistd.h>

#define SQ(x) ((x) * (x))


static double *vec(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) exit(2);
    return p;
}

/* Sample mean of v (n) and its standard error. */
static double mean_se(const double *v, size_t n, double *se)
{
    double m = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) s2 += SQ(v[i] - m);
    *se = sqrt(s2 / (double)(n - 1) / (double)n);
    return m;
}

/* |mean(v) − expect| ≤ 5 standard errors; `what` names the check. */
static void check_mean(const double *v, size_t n, double expect, const char *what)
{
    double se, m = mean_se(v, n, &se);
    CHECK(fabs(m - expect) <= 5 * se, "%s: mean %.6g vs %.6g (5 SE = %.3g)", what, m, expect,
          5 * se);
}

/* X (n,d) from spec with an rng seeded seed. */
static double *inputs(const char *spec, size_t n, size_t d, uint64_t seed)
{
    double *X = vec(n * d);
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    CHECK_OK(ntk_inputs_generate(spec, n, d, &rng, X));
    return X;
}

/* y (n) of teacher spec (seed) on X (n,d); noise from an rng seeded 7. */
static double *labels(const char *spec, const double *X, size_t n, size_t d, uint64_t seed)
{
    double *y = vec(n);
    ntk_target *t = NULL;
    ntk_rng rng;
    ntk_rng_seed(&rng, 7);
    CHECK_OK(ntk_target_create(spec, d, seed, &t));
    if (t) CHECK_OK(ntk_target_eval(t, X, n, &rng, y));
    ntk_target_free(t);
    return y;
}

/* ---------------------------------------------------------------------
 * Inputs
 * ------------------------------------------------------------------- */

static void test_sphere(void)
{
    const size_t n = 20000, d = 12;
    double *X = inputs("sphere", n, d, 1), *U = inputs("unit-sphere", 50, d, 2);
    double worst = 0, worst_unit = 0;
    for (size_t i = 0; i < n; i++) {
        double r2 = 0;
        for (size_t k = 0; k < d; k++) r2 += SQ(X[i * d + k]);
        worst = fmax(worst, fabs(r2 - (double)d));
    }
    for (size_t i = 0; i < 50; i++) {
        double r2 = 0;
        for (size_t k = 0; k < d; k++) r2 += SQ(U[i * d + k]);
        worst_unit = fmax(worst_unit, fabs(r2 - 1));
    }
    CHECK(worst <= 1e-12 * (double)d, "sphere: max |‖x‖² − d| = %g", worst);
    CHECK(worst_unit <= 1e-13, "unit sphere: max |‖x‖² − 1| = %g", worst_unit);
    /* Isotropy: E x_1² = 1 on the sphere of radius √d, and Var x_1² =
     * 3d/(d+2) − 1 < 2, so 5·√(2/n) bounds 5 standard errors. */
    double m = 0;
    for (size_t i = 0; i < n; i++) m += SQ(X[i * d]) / (double)n;
    CHECK(fabs(m - 1) <= 5 * sqrt(2.0 / (double)n), "sphere E x_1² = %g", m);
    free(X);
    free(U);
}

/* Trace of the sample covariance (divisor n − 1) of X (n,d), and its diagonal. */
static double cov_trace(const double *X, size_t n, size_t d, double *diag)
{
    double tr = 0;
    for (size_t k = 0; k < d; k++) {
        double m = 0, s = 0;
        for (size_t i = 0; i < n; i++) m += X[i * d + k] / (double)n;
        for (size_t i = 0; i < n; i++) s += SQ(X[i * d + k] - m);
        diag[k] = s / (double)(n - 1);
        tr += diag[k];
    }
    return tr;
}

static void test_gaussian(void)
{
    const size_t n = 20000, d = 10;
    double diag[10];
    double *X = inputs("gaussian", n, d, 3);
    /* x ~ N(0, I): n·tr(Σ̂) is close to χ² with (n−1)d degrees of freedom, so
     * tr Σ̂ has mean d and standard deviation √(2d/(n−1)) = 0.032; tolerance
     * 5 standard deviations. */
    double tr = cov_trace(X, n, d, diag);
    CHECK(fabs(tr - (double)d) <= 5 * sqrt(2.0 * d / (n - 1)), "gaussian trace %g", tr);
    free(X);

    /* decay P = 1: Σ = diag(c/k), c = d/H_d. The sample variance of
     * coordinate k has standard deviation σ_k²√(2/(n−1)); tolerance 5 of them
     * per coordinate and √(2ΣΣ_k⁴/(n−1)) for the trace. */
    X = inputs("gaussian:decay=1", n, d, 4);
    double H = 0, sum_s4 = 0, s2[10];
    for (size_t k = 1; k <= d; k++) H += 1.0 / (double)k;
    for (size_t k = 0; k < d; k++) {
        s2[k] = (double)d / H / (double)(k + 1);
        sum_s4 += SQ(s2[k]);
    }
    tr = cov_trace(X, n, d, diag);
    CHECK(fabs(tr - (double)d) <= 5 * sqrt(2 * sum_s4 / (n - 1)), "decay trace %g", tr);
    for (size_t k = 0; k < d; k++)
        CHECK(fabs(diag[k] - s2[k]) <= 5 * s2[k] * sqrt(2.0 / (n - 1)),
              "decay variance %zu: %g vs %g", k, diag[k], s2[k]);
    free(X);

    double *A = inputs("gaussian:decay=2", 30, 5, 9), *B = inputs("gaussian:decay=2", 30, 5, 9);
    double *C = inputs("gaussian:decay=2", 30, 5, 10);
    CHECK(memcmp(A, B, 150 * sizeof(double)) == 0, "equal seeds give equal inputs");
    CHECK(memcmp(A, C, 150 * sizeof(double)) != 0, "different seeds differ");
    free(A);
    free(B);
    free(C);
}

static void test_inputs_errors(void)
{
    double X[4];
    ntk_rng rng;
    ntk_rng_seed(&rng, 1);
    CHECK_ERR(ntk_inputs_generate("cube", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "unit-sphere"), "lists the valid specs: %s", ntk_errmsg());
    CHECK_ERR(ntk_inputs_generate("gaussian:decay=-1", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("gaussian:decay=x", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("gaussian:rate=1", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("sphere:decay=1", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("gaussian:decay", 2, 2, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("sphere", 2, 0, &rng, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate("sphere", 2, 2, NULL, X), NTK_ERR_ARG);
    CHECK_ERR(ntk_inputs_generate(NULL, 2, 2, &rng, X), NTK_ERR_ARG);
}

/* ---------------------------------------------------------------------
 * Teachers: closed forms through the shared direction u
 * ------------------------------------------------------------------- */

/* The direction every single-index teacher of `seed` uses: u_k = f(e_k) for
 * poly:1=1 (f(x) = uᵀx). */
static void direction(size_t d, uint64_t seed, double *u)
{
    double *E = vec(d * d);
    for (size_t k = 0; k < d; k++) E[k * d + k] = 1;
    double *y = labels("poly:1=1", E, d, d, seed);
    memcpy(u, y, d * sizeof(double));
    free(y);
    free(E);
}

static double dot(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

static void test_linear_relu(void)
{
    const size_t d = 400, n = 50;
    double *u = vec(d), *E = vec(d * d), *X = inputs("gaussian", n, d, 5);
    direction(d, 11, u);
    CHECK(fabs(dot(u, u, d) - 1) < 1e-12, "u is a unit vector: ‖u‖² = %.15g", dot(u, u, d));
    for (size_t k = 0; k < d; k++) E[k * d + k] = 1;
    double *beta = labels("linear", E, d, d, 11);   /* f(e_k) = β_k/√d */
    for (size_t k = 0; k < d; k++) beta[k] *= sqrt((double)d);
    double nb = sqrt(dot(beta, beta, d));
    /* β ~ N(0, I): ‖β‖²/d has mean 1 and sd √(2/d) = 0.07; tolerance 5 sd. */
    CHECK(fabs(SQ(nb) / d - 1) < 5 * sqrt(2.0 / d), "‖β‖²/d = %g", SQ(nb) / d);
    double err = 0;
    for (size_t k = 0; k < d; k++) err = fmax(err, fabs(beta[k] / nb - u[k]));
    CHECK(err < 1e-12, "linear and poly share the direction: %g", err);

    double *y_lin = labels("linear", X, n, d, 11), *y_relu = labels("relu-neuron", X, n, d, 11);
    double e_lin = 0, e_relu = 0;
    for (size_t i = 0; i < n; i++) {
        double z = dot(u, X + i * d, d);
        e_lin = fmax(e_lin, fabs(y_lin[i] - dot(beta, X + i * d, d) / sqrt((double)d)));
        e_relu = fmax(e_relu, fabs(y_relu[i] - sqrt(2.0) * fmax(z, 0)));
    }
    CHECK(e_lin < 1e-11, "linear y = βᵀx/√d: %g", e_lin);
    CHECK(e_relu < 1e-11, "relu-neuron y = √2 relu(uᵀx): %g", e_relu);
    free(u);
    free(E);
    free(X);
    free(beta);
    free(y_lin);
    free(y_relu);
}

/* Hermite, poly and Gegenbauer series against closed forms in z = uᵀx. */
static void test_series_closed_forms(void)
{
    const size_t n = 40;
    for (size_t d = 2; d <= 4; d++) {
        double u[4], *X = inputs("sphere", n, d, 20 + d);
        direction(d, 31, u);
        double *yh = labels("hermite:0=0.3,1=0.5,2=0.7,3=-0.2,4=0.1", X, n, d, 31);
        double *yp = labels("poly:0=1,2=0.5,3=-1", X, n, d, 31);
        double *g2 = labels("gegenbauer:2=1", X, n, d, 31);
        double *g3 = labels("gegenbauer:3=1", X, n, d, 31);
        double eh = 0, ep = 0, e2 = 0, e3 = 0;
        for (size_t i = 0; i < n; i++) {
            double z = dot(u, X + i * d, d), t = z / sqrt((double)d), q2, q3;
            double h = 0.3 + 0.5 * z + 0.7 * (z * z - 1) / sqrt(2.0) -
                       0.2 * (z * z * z - 3 * z) / sqrt(6.0) +
                       0.1 * (SQ(z * z) - 6 * z * z + 3) / sqrt(24.0);
            if (d == 2) {        /* √2 T_k(t) */
                q2 = sqrt(2.0) * (2 * t * t - 1);
                q3 = sqrt(2.0) * (4 * t * t * t - 3 * t);
            } else if (d == 3) { /* √(2k+1) P_k(t), Legendre */
                q2 = sqrt(5.0) * (3 * t * t - 1) / 2;
                q3 = sqrt(7.0) * (5 * t * t * t - 3 * t) / 2;
            } else {             /* U_k(t), Chebyshev of the second kind */
                q2 = 4 * t * t - 1;
                q3 = 8 * t * t * t - 4 * t;
            }
            eh = fmax(eh, fabs(yh[i] - h));
            ep = fmax(ep, fabs(yp[i] - (1 + 0.5 * z * z - z * z * z)));
            e2 = fmax(e2, fabs(g2[i] - q2));
            e3 = fmax(e3, fabs(g3[i] - q3));
        }
        CHECK(eh < 1e-12, "d=%zu hermite closed form: %g", d, eh);
        CHECK(ep < 1e-12, "d=%zu poly closed form: %g", d, ep);
        CHECK(e2 < 1e-12 && e3 < 1e-12, "d=%zu gegenbauer closed forms: %g %g", d, e2, e3);
        free(X);
        free(yh);
        free(yp);
        free(g2);
        free(g3);
    }
}

/* d = 2: on N equally spaced points of the circle the mean of a trigonometric
 * polynomial of degree < N is exact, so E Q_j Q_k = δ_jk to rounding. */
static void test_gegenbauer_circle(void)
{
    const size_t N = 64, K = 10;
    double *X = vec(2 * N), *Q[11];
    for (size_t i = 0; i < N; i++) {
        X[2 * i] = sqrt(2.0) * cos(2 * M_PI * i / N);
        X[2 * i + 1] = sqrt(2.0) * sin(2 * M_PI * i / N);
    }
    char spec[32];
    for (size_t k = 0; k <= K; k++) {
        snprintf(spec, sizeof spec, "gegenbauer:%zu=1", k);
        Q[k] = labels(spec, X, N, 2, 3);
    }
    double worst = 0;
    for (size_t j = 0; j <= K; j++)
        for (size_t k = 0; k <= K; k++) {
            double m = 0;
            for (size_t i = 0; i < N; i++) m += Q[j][i] * Q[k][i] / (double)N;
            worst = fmax(worst, fabs(m - (j == k)));
        }
    CHECK(worst < 1e-12, "circle quadrature: max |E Q_j Q_k − δ_jk| = %g", worst);
    for (size_t k = 0; k <= K; k++) free(Q[k]);
    free(X);
}

/* E Q_j Q_k by Monte Carlo on the sphere of radius √d (5 standard errors). */
static void test_gegenbauer_mc(size_t d)
{
    const size_t n = 200000, K = 4;
    double *X = inputs("sphere", n, d, 40 + d), *Q[5], *prod = vec(n);
    char spec[32], what[64];
    for (size_t k = 1; k <= K; k++) {
        snprintf(spec, sizeof spec, "gegenbauer:%zu=1", k);
        Q[k] = labels(spec, X, n, d, 77);
    }
    for (size_t j = 1; j <= K; j++)
        for (size_t k = j; k <= K; k++) {
            for (size_t i = 0; i < n; i++) prod[i] = Q[j][i] * Q[k][i];
            snprintf(what, sizeof what, "d=%zu E Q_%zu Q_%zu", d, j, k);
            check_mean(prod, n, j == k ? 1.0 : 0.0, what);
        }
    /* ‖f*‖² = Σ c_k² and ‖P_{>1} f*‖² = Σ_{k>1} c_k² = 0.5 */
    double *y = labels("gegenbauer:1=0.6,2=0.5,3=0.4,4=0.3", X, n, d, 77);
    for (size_t i = 0; i < n; i++) prod[i] = SQ(y[i]);
    check_mean(prod, n, 0.86, d == 3 ? "d=3 ‖f*‖²" : "d=10 ‖f*‖²");
    for (size_t i = 0; i < n; i++) prod[i] = SQ(y[i] - 0.6 * Q[1][i]);
    check_mean(prod, n, 0.5, d == 3 ? "d=3 ‖P_{>1} f*‖²" : "d=10 ‖P_{>1} f*‖²");
    for (size_t k = 1; k <= K; k++) free(Q[k]);
    free(X);
    free(y);
    free(prod);
}

/* E h_j h_k = δ_jk for x ~ N(0, I) (5 standard errors). */
static void test_hermite_mc(void)
{
    const size_t n = 200000, d = 6, K = 4;
    double *X = inputs("gaussian", n, d, 50), *h[5], *prod = vec(n);
    char spec[32], what[64];
    for (size_t k = 1; k <= K; k++) {
        snprintf(spec, sizeof spec, "hermite:%zu=1", k);
        h[k] = labels(spec, X, n, d, 78);
    }
    for (size_t j = 1; j <= K; j++)
        for (size_t k = j; k <= K; k++) {
            for (size_t i = 0; i < n; i++) prod[i] = h[j][i] * h[k][i];
            snprintf(what, sizeof what, "E h_%zu h_%zu", j, k);
            check_mean(prod, n, j == k ? 1.0 : 0.0, what);
        }
    double *y = labels("hermite:1=0.6,3=0.8", X, n, d, 78);
    for (size_t i = 0; i < n; i++) prod[i] = SQ(y[i]);
    check_mean(prod, n, 1.0, "hermite ‖f*‖² = 0.36 + 0.64");
    for (size_t k = 1; k <= K; k++) free(h[k]);
    free(X);
    free(y);
    free(prod);
}

static void test_noise_and_determinism(void)
{
    const size_t n = 20000, d = 5;
    double *X = inputs("gaussian", n, d, 60);
    double *a = labels("linear", X, n, d, 5), *b = labels("linear,noise=0.5", X, n, d, 5);
    double *c = labels("linear:noise=0.5", X, n, d, 5), *e = vec(n);
    CHECK(memcmp(b, c, n * sizeof(double)) == 0, "',noise=' and ':noise=' are the same option");
    for (size_t i = 0; i < n; i++) e[i] = SQ(b[i] - a[i]);
    /* ε² with ε ~ N(0, 0.25): mean 0.25, standard error 0.25·√(2/n). */
    double se, m = mean_se(e, n, &se);
    CHECK(fabs(m - 0.25) <= 5 * 0.25 * sqrt(2.0 / n), "label noise variance %g", m);
    free(b);
    free(c);

    double *z = labels("noise", X, n, d, 5);
    check_mean(z, n, 0.0, "noise target mean");
    for (size_t i = 0; i < n; i++) e[i] = SQ(z[i]);
    CHECK(fabs(mean_se(e, n, &se) - 1) <= 5 * sqrt(2.0 / n), "noise target variance");
    free(z);

    const char *specs[] = {"linear", "relu-neuron", "two-layer:k=7", "hermite:2=1,noise=0.1",
                           "poly:3=1", "gegenbauer:1=1,2=1", "noise"};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        double *y1 = labels(specs[s], X, 100, d, 123), *y2 = labels(specs[s], X, 100, d, 123);
        double *y3 = labels(specs[s], X, 100, d, 124);
        CHECK(memcmp(y1, y2, 100 * sizeof(double)) == 0, "%s: equal seeds, equal labels", specs[s]);
        CHECK(strcmp(specs[s], "noise") == 0 || memcmp(y1, y3, 100 * sizeof(double)) != 0,
              "%s: the seed matters", specs[s]);
        free(y1);
        free(y2);
        free(y3);
    }

    /* two-layer: positively homogeneous of degree 1, f(2x) = 2 f(x). */
    double *X2 = vec(100 * d);
    for (size_t i = 0; i < 100 * d; i++) X2[i] = 2 * X[i];
    double *f1 = labels("two-layer:k=9", X, 100, d, 3), *f2 = labels("two-layer:k=9", X2, 100, d, 3);
    double err = 0, scale = 0;
    for (size_t i = 0; i < 100; i++) {
        err = fmax(err, fabs(f2[i] - 2 * f1[i]));
        scale = fmax(scale, fabs(f1[i]));
    }
    CHECK(err < 1e-12 && scale > 0.1, "two-layer homogeneity %g (scale %g)", err, scale);
    free(f1);
    free(f2);
    free(X2);
    free(a);
    free(e);
    free(X);
}

static void expect_target_err(const char *spec, size_t d, const char *needle)
{
    ntk_target *t = (ntk_target *)1;
    ntk_status st = ntk_target_create(spec, d, 1, &t);
    CHECK(st == NTK_ERR_ARG && t == NULL, "'%s' -> %s (%s)", spec, ntk_status_name(st),
          ntk_errmsg());
    CHECK(!needle || strstr(ntk_errmsg(), needle), "'%s': message '%s' lacks '%s'", spec,
          ntk_errmsg(), needle);
}

static void test_target_errors(void)
{
    expect_target_err("quadratic", 3, "gegenbauer");
    expect_target_err("linear:foo=1", 3, "only noise");
    expect_target_err("linear,noise=-1", 3, ">= 0");
    expect_target_err("linear:noise=abc", 3, "not a finite number");
    expect_target_err("linear:noise=inf", 3, NULL);
    expect_target_err("two-layer", 3, "k=8");
    expect_target_err("two-layer:k=2.5", 3, "integer");
    expect_target_err("two-layer:k=0", 3, NULL);
    expect_target_err("hermite", 3, "at least one coefficient");
    expect_target_err("hermite:x=1", 3, "DEGREE=COEF");
    expect_target_err("hermite:65=1", 3, NULL);
    expect_target_err("hermite:-1=1", 3, NULL);
    expect_target_err("poly:1=1,1=2", 3, "twice");
    expect_target_err("poly:1=1,", 3, NULL);
    expect_target_err("gegenbauer:1=1", 1, "d >= 2");
    expect_target_err("linear", 0, NULL);
    expect_target_err("", 3, NULL);

    ntk_target *t;
    double x[2] = {1, 2}, y;
    CHECK_OK(ntk_target_create("noise", 2, 1, &t));
    CHECK_ERR(ntk_target_eval(t, x, 1, NULL, &y), NTK_ERR_ARG);
    ntk_target_free(t);
    CHECK_OK(ntk_target_create("poly:1=1", 2, 1, &t));
    CHECK_OK(ntk_target_eval(t, x, 1, NULL, &y));
    x[1] = NAN;
    CHECK_ERR(ntk_target_eval(t, x, 1, NULL, &y), NTK_ERR_NONFINITE);
    ntk_target_free(t);
    ntk_target_free(NULL);
}

/* ---------------------------------------------------------------------
 * Standardisation and datasets
 * ------------------------------------------------------------------- */

/* Column means and the trace of Σ̂ (divisor n) of X (n,d). */
static double trace_n(const double *X, size_t n, size_t d, double *max_mean)
{
    double tr = 0;
    *max_mean = 0;
    for (size_t k = 0; k < d; k++) {
        double m = 0;
        for (size_t i = 0; i < n; i++) m += X[i * d + k] / (double)n;
        for (size_t i = 0; i < n; i++) tr += SQ(X[i * d + k] - m) / (double)n;
        *max_mean = fmax(*max_mean, fabs(m));
    }
    return tr;
}

static void test_standardize(void)
{
    const size_t n = 50, d = 6;
    double *X = inputs("gaussian", n, d, 70), mean[6], scale, mm;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) X[i * d + k] = 100.0 * k + (k + 1) * 30.0 * X[i * d + k];
    CHECK_OK(ntk_standardize_fit(X, n, d, mean, &scale));
    ntk_standardize_apply(X, n, d, mean, scale);
    double tr = trace_n(X, n, d, &mm);
    CHECK(fabs(tr - (double)d) <= 1e-10 * d, "Tr Σ̂ = %.15g", tr);
    CHECK(mm < 1e-12, "columns centred: %g", mm);
    double Z[6] = {1, 2, 3, 1, 2, 3};
    CHECK_ERR(ntk_standardize_fit(Z, 2, 3, mean, &scale), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "identical"), "msg: %s", ntk_errmsg());
    /* rows that differ by ~1e-160: n·Tr Σ̂ ~ 1e-320 (subnormal), and the
     * scale √(d·n/ss) overflows to Inf; it was returned as a success */
    double T[6] = {6e-154, 6e-154, 6e-154, 6.0000001e-154, 6e-154, 6e-154};
    CHECK_ERR(ntk_standardize_fit(T, 2, 3, mean, &scale), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "scale overflows"), "msg: %s", ntk_errmsg());
    double B[4] = {1e300, -1e300, -1e300, 1e300};   /* squares overflow */
    CHECK_ERR(ntk_standardize_fit(B, 2, 2, mean, &scale), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "overflow"), "msg: %s", ntk_errmsg());
    free(X);
}

static void test_dataset_synthetic(void)
{
    const size_t n = 40, nt = 15, d = 7;
    ntk_dataset ds;
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "linear,noise=0.1", n, nt, d, 9, 0, NULL}, &ds));
    CHECK(ds.n == n && ds.n_test == nt && ds.d == d, "sizes %zu %zu %zu", ds.n, ds.n_test, ds.d);
    /* The documented seeding: inputs of seed 9, train rows first, then test
     * rows; teacher of seed 10; label noise continuing the input stream. */
    ntk_rng rng;
    ntk_rng_seed(&rng, 9);
    double *X = vec((n + nt) * d), *y = vec(n + nt);
    CHECK_OK(ntk_inputs_generate("gaussian", n + nt, d, &rng, X));
    ntk_target *t;
    CHECK_OK(ntk_target_create("linear,noise=0.1", d, 10, &t));
    CHECK_OK(ntk_target_eval(t, X, n + nt, &rng, y));
    ntk_target_free(t);
    CHECK(ds.X_train && memcmp(ds.X_train, X, n * d * sizeof(double)) == 0 &&
              memcmp(ds.X_test, X + n * d, nt * d * sizeof(double)) == 0,
          "synthetic inputs split train-then-test");
    CHECK(ds.y_train && memcmp(ds.y_train, y, n * sizeof(double)) == 0 &&
              memcmp(ds.y_test, y + n, nt * sizeof(double)) == 0,
          "labels from seed + 1 with noise from the input stream");
    ntk_dataset_free(&ds);
    CHECK(ds.X_train == NULL && ds.n == 0, "ntk_dataset_free zeroes");
    ntk_dataset_free(NULL);

    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){"sphere", "relu-neuron", n, 0, d, 9, 1, NULL}, &ds));
    double mm, tr = trace_n(ds.X_train, n, d, &mm);
    CHECK(ds.X_test == NULL && fabs(tr - (double)d) < 1e-10 * d && mm < 1e-12,
          "standardised training inputs: Tr = %.15g", tr);
    ntk_dataset_free(&ds);

    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "linear", 0, 5, d, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "linear", 5, 5, 0, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", NULL, 5, 5, 3, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "no labels"), "msg: %s", ntk_errmsg());
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){"cube", "linear", 5, 5, 3, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "npy:X.npy"), "lists all data forms: %s", ntk_errmsg());
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "cubic", 5, 5, 3, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(ds.X_train == NULL && ds.y_train == NULL, "nothing left after failure");
    free(X);
    free(y);
}

static void test_dataset_npy(void)
{
    const size_t N = 30, d = 4;
    double X[120], y[30];
    for (size_t i = 0; i < N; i++) {
        y[i] = (double)i;
        for (size_t k = 0; k < d; k++) X[i * d + k] = (double)i + (double)k / 10 + SQ(k * i) / 50;
    }
    CHECK_OK(ntk_npy_write(in_dir("X.npy"), X, N, d, 2));
    CHECK_OK(ntk_npy_write(in_dir("y.npy"), y, N, 1, 1));
    CHECK_OK(ntk_npy_write(in_dir("y2.npy"), y, N, 1, 2));
    CHECK_OK(ntk_npy_write(in_dir("ys.npy"), y, N - 1, 1, 1));
    CHECK_OK(ntk_npy_write(in_dir("Y.npy"), X, N, d, 2));
    char spec[600], ypath[300];
    snprintf(spec, sizeof spec, "npy:%s:%s", in_dir("X.npy"), in_dir("y.npy"));
    ntk_dataset ds;
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, "", 20, 5, d, 0, 0, NULL}, &ds));
    CHECK(ds.n == 20 && ds.n_test == 5 && ds.d == d, "npy split sizes");
    CHECK(ds.X_train && memcmp(ds.X_train, X, 20 * d * sizeof(double)) == 0 &&
              memcmp(ds.X_test, X + 20 * d, 5 * d * sizeof(double)) == 0 &&
              memcmp(ds.y_train, y, 20 * sizeof(double)) == 0 &&
              memcmp(ds.y_test, y + 20, 5 * sizeof(double)) == 0,
          "first n rows train, next n_test test");
    ntk_dataset_free(&ds);

    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 0, 5, 0, 0, 1, NULL}, &ds));
    CHECK(ds.n == 25 && ds.d == d, "n = 0: all but n_test (%zu), d from the file", ds.n);
    double mean[4], scale, mm;
    CHECK_OK(ntk_standardize_fit(X, 25, d, mean, &scale));
    double expect = scale * (X[25 * d + 2] - mean[2]), tr = trace_n(ds.X_train, 25, d, &mm);
    CHECK(fabs(ds.X_test[2] - expect) < 1e-12, "test data use the training statistics");
    CHECK(fabs(tr - (double)d) < 1e-10 * d, "standardised train trace %.15g", tr);
    ntk_dataset_free(&ds);

    /* Training rows with a spread of ~1e-150 get a scale of ~1e150; a test
     * row of 1e200 then standardises to Inf, which was returned as data. */
    double Xs[4 * 2] = {0, 0, 1e-150, 0, 0, 1e-150, 1e200, 1};
    double ys[4] = {1, 2, 3, 4};
    CHECK_OK(ntk_npy_write(in_dir("Xs.npy"), Xs, 4, 2, 2));
    CHECK_OK(ntk_npy_write(in_dir("ys.npy"), ys, 4, 1, 1));
    char sspec[600];
    snprintf(sspec, sizeof sspec, "npy:%s:%s", in_dir("Xs.npy"), in_dir("ys.npy"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){sspec, NULL, 3, 1, 0, 0, 1, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "test row 3 leaves the double range"), "msg: %s", ntk_errmsg());
    CHECK(ds.X_train == NULL, "nothing left after failure");
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){sspec, NULL, 3, 1, 0, 0, 0, NULL}, &ds));   /* unstandardised: fine */
    ntk_dataset_free(&ds);
    unlink(in_dir("Xs.npy"));

    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 25, 10, 0, 0, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "30 rows") && strstr(ntk_errmsg(), "25 + 10"), "msg: %s",
          ntk_errmsg());
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 0, 30, 0, 0, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 10, 5, 3, 0, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "4 columns"), "msg: %s", ntk_errmsg());

    snprintf(spec, sizeof spec, "npy:%s", in_dir("X.npy"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 10, 5, 0, 0, 0, NULL}, &ds), NTK_ERR_ARG);
    snprintf(ypath, sizeof ypath, "npy:%s", in_dir("y2.npy"));
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, ypath, 10, 5, 0, 0, 0, NULL}, &ds));
    CHECK(ds.y_test && ds.y_test[0] == 10, "labels from npy:y.npy of shape (n, 1)");
    ntk_dataset_free(&ds);
    snprintf(ypath, sizeof ypath, "npy:%s", in_dir("ys.npy"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, ypath, 10, 5, 0, 0, 0, NULL}, &ds), NTK_ERR_ARG);
    /* an (N, d) target file: d outputs, rows split as the inputs (Y = X here) */
    snprintf(ypath, sizeof ypath, "npy:%s", in_dir("Y.npy"));
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, ypath, 10, 5, 0, 0, 0, NULL}, &ds));
    CHECK(ds.k == d && memcmp(ds.y_train, X, 10 * d * sizeof(double)) == 0 &&
              memcmp(ds.y_test, X + 10 * d, 5 * d * sizeof(double)) == 0,
          "(n, k) targets: k = %zu (want %zu), train and test rows in order", ds.k, (size_t)d);
    ntk_dataset_free(&ds);
    snprintf(ypath, sizeof ypath, "npy:%s", in_dir("missing.npy"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, ypath, 10, 5, 0, 0, 0, NULL}, &ds), NTK_ERR_IO);

    /* A teacher on file inputs: seed + 1, evaluated on the rows as used. */
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, "linear", 10, 5, 0, 41, 0, NULL}, &ds));
    double *yt = labels("linear", X, 15, d, 42);
    CHECK(ds.y_train && memcmp(ds.y_train, yt, 10 * sizeof(double)) == 0 &&
              memcmp(ds.y_test, yt + 10, 5 * sizeof(double)) == 0,
          "teacher labels on file inputs");
    free(yt);
    ntk_dataset_free(&ds);

    /* Inputs without columns or without rows are refused with the file named
     * (a (30, 0) array once reached realloc(p, 0) and a double free). */
    CHECK_OK(ntk_npy_write(in_dir("X0.npy"), NULL, N, 0, 2));
    CHECK_OK(ntk_npy_write(in_dir("Xr.npy"), NULL, 0, d, 2));
    CHECK_OK(ntk_npy_write(in_dir("Xv.npy"), NULL, 0, 1, 1));
    const char *empty[3] = {"X0.npy", "Xr.npy", "Xv.npy"};
    const char *shape[3] = {"(30, 0)", "(0, 4)", "(0,)"};
    for (int k = 0; k < 3; k++) {
        snprintf(spec, sizeof spec, "npy:%s:%s", in_dir(empty[k]), in_dir("y.npy"));
        for (int std = 0; std <= 1; std++) {
            CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, "", 0, 5, 0, 0, std, NULL}, &ds), NTK_ERR_ARG);
            CHECK(strstr(ntk_errmsg(), empty[k]) && strstr(ntk_errmsg(), shape[k]),
                  "message names the file and its shape: %s", ntk_errmsg());
            CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, "", 20, 5, 0, 0, std, NULL}, &ds), NTK_ERR_ARG);
        }
        snprintf(spec, sizeof spec, "npy:%s", in_dir(empty[k]));
        CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, "linear", 20, 5, 0, 0, 0, NULL}, &ds), NTK_ERR_ARG);
        CHECK(strstr(ntk_errmsg(), empty[k]), "file named: %s", ntk_errmsg());
        CHECK(ds.X_train == NULL && ds.y_train == NULL, "nothing left after failure");
        unlink(in_dir(empty[k]));
    }
    unlink(in_dir("X.npy"));
    unlink(in_dir("y.npy"));
    unlink(in_dir("y2.npy"));
    unlink(in_dir("ys.npy"));
    unlink(in_dir("Y.npy"));
}

/* ---------------------------------------------------------------------
 * The network of a run directory (config.json)
 * ------------------------------------------------------------------- */

static void expect_config_err(const char *json, ntk_status code, const char *needle)
{
    ntk_net_config cfg = ntk_net_config_default(99, 77);
    ntk_status st = ntk_net_config_from_json(json, "run/config.json", &cfg);
    CHECK(st == code, "'%s' -> %s (%s)", json, ntk_status_name(st), ntk_errmsg());
    CHECK(strstr(ntk_errmsg(), needle), "'%s': message '%s' lacks '%s'", json, ntk_errmsg(),
          needle);
    CHECK(cfg.d == 99 && cfg.m == 77, "output untouched after failure");
}

static void test_net_config_json(void)
{
    const char *ok = "{\"command\": \"train\", \"d\": 5, \"width\": 12, \"act\": \"leaky_relu\", "
                     "\"act_param\": 0.25, \"init\": \"symmetric\", \"input_scale\": \"one\", "
                     "\"alpha\": 2.5, \"centered\": true, \"seed\": 12345678901}";
    ntk_net_config cfg;
    CHECK_OK(ntk_net_config_from_json(ok, NULL, &cfg));
    CHECK(cfg.d == 5 && cfg.m == 12 && cfg.act.kind == NTK_ACT_LEAKY_RELU &&
              cfg.act.param == 0.25 && cfg.init == NTK_INIT_SYMMETRIC &&
              cfg.input_scale == NTK_SCALE_ONE && cfg.alpha == 2.5 && cfg.centered == 1 &&
              cfg.seed == 12345678901u,
          "every field read back");
    /* what ntkit train writes for its defaults: relu ignores act_param */
    CHECK_OK(ntk_net_config_from_json("{\"d\":3,\"width\":8,\"act\":\"relu\",\"act_param\":0.1,"
                                      "\"init\":\"gaussian\",\"input_scale\":\"sqrt_d\",\"alpha\":1,"
                                      "\"centered\":false,\"seed\":0}",
                                      "c", &cfg));
    CHECK(cfg.act.kind == NTK_ACT_RELU && cfg.act.param == 0 && cfg.centered == 0 &&
              cfg.input_scale == NTK_SCALE_SQRT_D,
          "defaults");

    expect_config_err("[1, 2]", NTK_ERR_FORMAT, "run/config.json is not a JSON object");
    expect_config_err("{\"d\": 3", NTK_ERR_FORMAT, "is not a JSON object");
    expect_config_err("", NTK_ERR_FORMAT, "is not a JSON object");
    expect_config_err("{}", NTK_ERR_FORMAT, "run/config.json: missing or non-numeric \"width\"");
    expect_config_err("{\"width\": 4, \"d\": 2, \"act\": 1}", NTK_ERR_FORMAT,
                      "missing or non-string \"act\"");
    const char *tail = "\"act\":\"relu\",\"act_param\":0,\"init\":\"gaussian\","
                       "\"input_scale\":\"sqrt_d\",\"alpha\":1";
    char json[512];
    const char *bad_sizes[] = {"\"width\":0,\"d\":3,\"seed\":0", "\"width\":2.5,\"d\":3,\"seed\":0",
                               "\"width\":4,\"d\":-1,\"seed\":0", "\"width\":4,\"d\":3,\"seed\":-1",
                               "\"width\":4,\"d\":3,\"seed\":2e19", "\"width\":1e16,\"d\":3,\"seed\":0"};
    for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++) {
        snprintf(json, sizeof json, "{%s,%s}", bad_sizes[k], tail);
        expect_config_err(json, NTK_ERR_FORMAT, "run/config.json: bad width");
    }
    snprintf(json, sizeof json, "{\"width\":5,\"d\":3,\"seed\":0,\"act\":\"relu\",\"act_param\":0,"
                                "\"init\":\"symmetric\",\"input_scale\":\"sqrt_d\",\"alpha\":1}");
    expect_config_err(json, NTK_ERR_ARG, "run/config.json: symmetric initialisation needs an even");
    snprintf(json, sizeof json, "{\"width\":4,\"d\":3,\"seed\":0,\"act\":\"cubic\",\"act_param\":0,"
                                "\"init\":\"sign\",\"input_scale\":\"sqrt_d\",\"alpha\":1}");
    expect_config_err(json, NTK_ERR_ARG, "run/config.json: unknown activation 'cubic'");
    snprintf(json, sizeof json, "{\"width\":4,\"d\":3,\"seed\":0,\"act\":\"re\\nlu\\u001b\","
                                "\"act_param\":0,\"init\":\"sign\",\"input_scale\":\"sqrt_d\",\"alpha\":1}");
    expect_config_err(json, NTK_ERR_ARG, "unknown activation 're?lu?'");
    snprintf(json, sizeof json, "{\"width\":4,\"d\":3,\"seed\":0,\"act\":\"relu\",\"act_param\":0,"
                                "\"init\":\"sign\",\"input_scale\":\"sqrt_d\",\"alpha\":1e999}");
    expect_config_err(json, NTK_ERR_ARG, "alpha must be positive and finite");
    CHECK_ERR(ntk_net_config_from_json(NULL, NULL, &cfg), NTK_ERR_ARG);
    CHECK_ERR(ntk_net_config_from_json(ok, NULL, NULL), NTK_ERR_ARG);
}

/* A success after a failure leaves no stale message behind. */
static void test_error_cleared(void)
{
    double X[12], mean[3], scale[3];
    ntk_rng rng;
    ntk_rng_seed(&rng, 1);
    CHECK_ERR(ntk_inputs_generate("nosuchkind", 4, 3, &rng, X), NTK_ERR_ARG);
    CHECK_OK(ntk_inputs_generate("gaussian", 4, 3, &rng, X));
    CHECK(strcmp(ntk_errmsg(), "no error") == 0, "message after a successful generate: '%s'", ntk_errmsg());
    CHECK_ERR(ntk_standardize_fit(NULL, 4, 3, mean, scale), NTK_ERR_ARG);
    CHECK_OK(ntk_standardize_fit(X, 4, 3, mean, scale));
    CHECK(strcmp(ntk_errmsg(), "no error") == 0, "message after a successful fit: '%s'", ntk_errmsg());
}

int main(void)
{
    test_error_cleared();
    tmpdir_make("ntk_data");
    test_sphere();
    test_gaussian();
    test_inputs_errors();
    test_linear_relu();
    test_series_closed_forms();
    test_gegenbauer_circle();
    test_gegenbauer_mc(3);
    test_gegenbauer_mc(10);
    test_hermite_mc();
    test_noise_and_determinism();
    test_target_errors();
    test_standardize();
    test_dataset_synthetic();
    test_dataset_npy();
    test_net_config_json();
    remove_tree(g_dir);
    return t_finish();
}
