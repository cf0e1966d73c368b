/* Gaussian constants, trace factor and linear-model kernels (MATH.md §4)
 * against independent oracles: published and hand-derived values, composite
 * Simpson integration, Monte Carlo, plain loops. */
#include "harness.h"
#include "ntkit.h"
#include "quadrature.h"   /* private: the Gauss–Hermite rule itself */

#include <float.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double norm_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

/* E[f(g)] by composite Simpson on [−12,0] and [0,12] (h = 5e-4): a kink or
 * jump at 0 falls on a panel boundary (g = 0 is evaluated as ±DBL_MIN, the
 * one-sided limit), so each panel integrates a smooth function and the
 * error is O(h⁴) ≈ 1e-14; the tails beyond 12 weigh < 1e-32. */
typedef double (*gfun)(ntk_act act, double g);
static double simpson(ntk_act act, gfun f)
{
    const int M = 24000;
    const double h = 12.0 / M;
    double S = 0;
    for (int half = 0; half < 2; half++)
        for (int k = 0; k <= M; k++) {
            double g = (half ? -1.0 : 1.0) * (k ? k * h : DBL_MIN);
            double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
            S += wk * norm_pdf(g) * f(act, g);
        }
    return S * h / 3.0;
}
static double f_dphi(ntk_act a, double g) { return ntk_act_dphi(a, g); }
static double f_phi(ntk_act a, double g) { return ntk_act_phi(a, g); }
static double f_gdphi(ntk_act a, double g) { return g * ntk_act_dphi(a, g); }
static double f_h3dphi(ntk_act a, double g) { return (0.5 * g * g * g - g) * ntk_act_dphi(a, g); }
static double f_phi2(ntk_act a, double g) { return ntk_act_phi(a, g) * ntk_act_phi(a, g); }
static double f_dphi2(ntk_act a, double g) { return ntk_act_dphi(a, g) * ntk_act_dphi(a, g); }

static ntk_act act_of(ntk_act_kind kind, double param)
{
    ntk_act a = {kind, param};
    return a;
}

static void check_values(const char *nm, const ntk_constants *c, double zeta, double th0,
                         double th1, double th2, double e2, double de2, double tol)
{
    CHECK_CLOSE(c->zeta, zeta, tol, "%s ζ", nm);
    CHECK_CLOSE(c->theta0, th0, tol, "%s ϑ0", nm);
    CHECK_CLOSE(c->theta1, th1, tol, "%s ϑ1", nm);
    CHECK_CLOSE(c->theta2, th2, tol, "%s ϑ2", nm);
    CHECK_CLOSE(c->e_phi2, e2, tol, "%s E[φ²]", nm);
    CHECK_CLOSE(c->e_dphi2, de2, tol, "%s E[φ'²]", nm);
}

/* Published values (MATH.md §4, seed 000) and ones derived by hand:
 *   relu: ζ = 1/2, ϑ0 = ϑ1 = 1/√(2π), ϑ2 = 0, E[φ²] = E[φ'²] = 1/2;
 *   erf:  ζ = 2/√(3π), ϑ0 = ϑ1 = ϑ2 = 0 (odd φ, even φ'),
 *         E[φ²] = (2/π) arcsin(2/3), E[φ'²] = (4/π)/√5;
 *   identity: ζ = 1, ϑ = 0, E[φ²] = E[φ'²] = 1;
 *   leaky a: ζ = (1+a)/2, ϑ0 = ϑ1 = (1−a)/√(2π), ϑ2 = 0, E[φ²] = E[φ'²] = (1+a²)/2;
 *   gelu: ζ = 1/2 + E[gϕ(g)] = 1/2, ϑ0 = E[gΦ(g)] = E[ϕ(g)] = 1/(2√π),
 *         ϑ1 = E[ϕ(g)] + E[g²ϕ(g)] = 1/(2√π) + 1/(4√π) = 3/(4√π);
 *   sigmoid: ϑ0 = 1/2 (σ − 1/2 is odd); softplus: ζ = E[σ(g)] = 1/2,
 *         ϑ1 = E[gσ(g)] = E[σ'(g)] (Stein) = sigmoid's ζ; tanh: ϑ0 = ϑ1 = ϑ2 = 0.
 * All to 1e-12. */
static void test_known_values(void)
{
    ntk_constants c;
    const double r2pi = 1.0 / sqrt(2.0 * M_PI);
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), 1.0, 0, &c));
    check_values("relu", &c, 0.5, r2pi, r2pi, 0.0, 0.5, 0.5, 1e-12);
    CHECK_CLOSE(c.nu, r2pi, 1e-12, "relu ν (trace factor 1)");
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_ERF, 0), 1.0, 0, &c));
    check_values("erf", &c, 2.0 / sqrt(3.0 * M_PI), 0, 0, 0, (2.0 / M_PI) * asin(2.0 / 3.0),
                 (4.0 / M_PI) / sqrt(5.0), 1e-12);
    CHECK_CLOSE(c.nu, 0.0, 1e-12, "erf ν");
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_IDENTITY, 0), 1.0, 0, &c));
    check_values("identity", &c, 1, 0, 0, 0, 1, 1, 1e-12);
    const double slopes[] = {0.2, -0.3, 1.5};
    for (int t = 0; t < 3; t++) {
        double a = slopes[t];
        CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_LEAKY_RELU, a), 1.0, 0, &c));
        check_values("leaky_relu", &c, (1 + a) / 2, (1 - a) * r2pi, (1 - a) * r2pi, 0,
                     (1 + a * a) / 2, (1 + a * a) / 2, 1e-12);
    }
    ntk_constants sg;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_GELU, 0), 1.0, 0, &c));
    CHECK_CLOSE(c.zeta, 0.5, 1e-12, "gelu ζ");
    CHECK_CLOSE(c.theta0, 0.5 / sqrt(M_PI), 1e-12, "gelu ϑ0");
    CHECK_CLOSE(c.theta1, 0.75 / sqrt(M_PI), 1e-12, "gelu ϑ1");
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_SIGMOID, 0), 1.0, 0, &sg));
    CHECK_CLOSE(sg.theta0, 0.5, 1e-12, "sigmoid ϑ0");
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_SOFTPLUS, 0), 1.0, 0, &c));
    CHECK_CLOSE(c.zeta, 0.5, 1e-12, "softplus ζ");
    CHECK_CLOSE(c.theta1, sg.zeta, 1e-12, "softplus ϑ1 = sigmoid ζ (Stein)");
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_TANH, 0), 1.0, 0, &c));
    CHECK_CLOSE(c.theta0, 0.0, 1e-12, "tanh ϑ0");
    CHECK_CLOSE(c.theta1, 0.0, 1e-12, "tanh ϑ1");
    CHECK_CLOSE(c.theta2, 0.0, 1e-12, "tanh ϑ2");
}

/* Every activation against Simpson (1e-12; measured ≤ 3e-14). Smooth ones: Gauss–Hermite of
 * order 200 against 400 (1e-13), and 100 against 200 (1e-12, except tanh:
 * its poles at ±iπ/2 slow Gauss–Hermite down, measured 4e-10 at order 100,
 * tolerance 1e-9). */
static void test_vs_simpson_and_convergence(void)
{
    for (int k = 0; k < NTK_ACT_COUNT; k++) {
        ntk_act a = act_of((ntk_act_kind)k, k == NTK_ACT_LEAKY_RELU ? 0.15 : 0.0);
        const char *nm = ntk_act_name(a.kind);
        ntk_constants c;
        CHECK_OK(ntk_constants_compute(a, 1.0, 0, &c));
        check_values(nm, &c, simpson(a, f_dphi), simpson(a, f_phi), simpson(a, f_gdphi),
                     simpson(a, f_h3dphi), simpson(a, f_phi2), simpson(a, f_dphi2), 1e-12);
        if (ntk_act_piecewise_linear(a)) continue;
        ntk_constants c100, c200, c400;
        CHECK_OK(ntk_constants_compute(a, 1.0, 100, &c100));
        CHECK_OK(ntk_constants_compute(a, 1.0, 200, &c200));
        CHECK_OK(ntk_constants_compute(a, 1.0, 400, &c400));
        check_values(nm, &c100, c200.zeta, c200.theta0, c200.theta1, c200.theta2, c200.e_phi2,
                     c200.e_dphi2, a.kind == NTK_ACT_TANH ? 1e-9 : 1e-12);
        check_values(nm, &c400, c200.zeta, c200.theta0, c200.theta1, c200.theta2, c200.e_phi2,
                     c200.e_dphi2, 1e-13);
        CHECK(memcmp(&c, &c200, sizeof c) == 0, "%s: order 0 is not the default 200", nm);
    }
}

/* Monte Carlo for tanh: N = 2^20 draws of g; each mean within 6·sd/√N. */
static void test_monte_carlo(void)
{
    const size_t N = (size_t)1 << 20;
    ntk_act a = act_of(NTK_ACT_TANH, 0);
    ntk_constants c;
    CHECK_OK(ntk_constants_compute(a, 1.0, 0, &c));
    double ref[6] = {c.zeta, c.theta0, c.theta1, c.theta2, c.e_phi2, c.e_dphi2};
    const char *names[6] = {"ζ", "ϑ0", "ϑ1", "ϑ2", "E[φ²]", "E[φ'²]"};
    double sum[6] = {0}, sum2[6] = {0};
    ntk_rng rng;
    ntk_rng_seed(&rng, 99);
    for (size_t i = 0; i < N; i++) {
        double g = ntk_rng_normal(&rng), p = ntk_act_phi(a, g), dp = ntk_act_dphi(a, g);
        double x[6] = {dp, p, g * dp, (0.5 * g * g * g - g) * dp, p * p, dp * dp};
        for (int k = 0; k < 6; k++) {
            sum[k] += x[k];
            sum2[k] += x[k] * x[k];
        }
    }
    for (int k = 0; k < 6; k++) {
        double mean = sum[k] / (double)N, sd = sqrt(fmax(sum2[k] / (double)N - mean * mean, 0));
        double tol = 6 * sd / sqrt((double)N);
        CHECK(fabs(mean - ref[k]) <= tol, "tanh %s: MC %.8g vs %.8g (tol %.2g)", names[k], mean,
              ref[k], tol);
    }
}

static void test_nu_and_errors(void)
{
    ntk_constants c;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_SOFTPLUS, 0), 1.3, 0, &c));
    CHECK_CLOSE(c.nu, 1.3 * c.theta1, 1e-15, "ν = ϑ1 · trace factor");
    CHECK(c.trace_factor == 1.3, "trace factor recorded");
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), 1.0, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), -1.0, 0, &c), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), NAN, 0, &c), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_TANH, 0), 1.0, 1, &c), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_TANH, 0), 1.0, -2, &c), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_COUNT, 0), 1.0, 0, &c), NTK_ERR_ARG);
    CHECK_ERR(ntk_constants_compute(act_of(NTK_ACT_LEAKY_RELU, INFINITY), 1.0, 0, &c),
              NTK_ERR_ARG);
}

/* √(Tr Σ̂²/d) after Tr Σ̂ = d, by loops: Σ̂ = Xcᵀ Xc formed entry by entry. */
static double trace_factor_loops(const double *X, size_t n, size_t d)
{
    double *mean = calloc(d, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) mean[k] += X[i * d + k] / (double)n;
    double tr = 0, fro2 = 0;
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double S = 0;
            for (size_t i = 0; i < n; i++) S += (X[i * d + a] - mean[a]) * (X[i * d + b] - mean[b]);
            fro2 += S * S;
            if (a == b) tr += S;
        }
    free(mean);
    return sqrt((double)d) * sqrt(fro2) / tr;
}

/* Handcrafted: rows ±a_k e_k (+ a common shift, removed by centring) give
 * Σ̂ ∝ diag(a_k²), so √(Tr Σ̃²/d) = √d √(Σ a_k⁴) / Σ a_k² = √30/5 for
 * a² = (1,2,3,4). Isotropic Gaussian data: Tr Σ̂²/d ≈ 1 + (d+1)/n (Wishart
 * bias) with fluctuations O(√d/n); checked against that to 2e-3 at d = 10,
 * n = 20000. Both BLAS branches (n < d and n ≥ d) against loops to 1e-12. */
static void test_trace_factor(void)
{
    enum { DD = 4 };
    double X[2 * DD * DD];
    const double a2[DD] = {1, 2, 3, 4};
    for (int k = 0; k < DD; k++)
        for (int sgn = 0; sgn < 2; sgn++)
            for (int j = 0; j < DD; j++)
                X[(2 * k + sgn) * DD + j] = (j == k ? (sgn ? -1 : 1) * sqrt(a2[k]) : 0.0) + 0.7 * j;
    double tf;
    CHECK_OK(ntk_trace_factor(X, 2 * DD, DD, &tf));
    CHECK_CLOSE(tf, sqrt(30.0) / 5.0, 1e-14, "handcrafted diagonal Σ");

    const size_t n = 20000, d = 10;
    double *G = malloc(n * d * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 3);
    ntk_rng_normal_fill(&rng, G, n * d);
    CHECK_OK(ntk_trace_factor(G, n, d, &tf));
    double expect = sqrt(1.0 + (double)(d + 1) / (double)n);
    CHECK(fabs(tf - expect) <= 2e-3, "isotropic: %.6f vs %.6f", tf, expect);
    CHECK_CLOSE(tf, trace_factor_loops(G, n, d), 1e-12, "n >= d branch vs loops");
    /* n < d: the (n,n) Gram; anisotropic columns */
    const size_t n2 = 12, d2 = 30;
    for (size_t i = 0; i < n2; i++)
        for (size_t k = 0; k < d2; k++) G[i * d2 + k] *= 1.0 + (double)k / 5.0;
    CHECK_OK(ntk_trace_factor(G, n2, d2, &tf));
    CHECK_CLOSE(tf, trace_factor_loops(G, n2, d2), 1e-12, "n < d branch vs loops");
    free(G);

    CHECK_ERR(ntk_trace_factor(X, 1, DD, &tf), NTK_ERR_ARG);
    double same[3 * 2] = {1, 2, 1, 2, 1, 2};
    CHECK_ERR(ntk_trace_factor(same, 3, 2, &tf), NTK_ERR_ARG);
    same[3] = NAN;
    CHECK_ERR(ntk_trace_factor(same, 3, 2, &tf), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_trace_factor(NULL, 3, 2, &tf), NTK_ERR_ARG);
}

/* ψ2's last coordinate ϑ0 + ϑ1 δ + ϑ2 δ², δ = ‖x‖/√d − 1. */
static double psi2_tail(const ntk_constants *c, const double *x, size_t d)
{
    double n2 = 0;
    for (size_t k = 0; k < d; k++) n2 += x[k] * x[k];
    double delta = sqrt(n2) / sqrt((double)d) - 1.0;
    return c->theta0 + c->theta1 * delta + c->theta2 * delta * delta;
}

/* Θ_lin1 = α²(ζ² XXᵀ + ν² 11ᵀ)/d and Θ_lin2 = α²(ζ² XXᵀ/d + ν²/(2d) + t tᵀ) by
 * loops, to 1e-13; the features themselves column by column. */
static void test_linear_models(void)
{
    enum { N = 9, M = 5, D = 7 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 21);
    double X[N * D], Y[M * D];
    for (int i = 0; i < N * D; i++) X[i] = (1.0 + 0.1 * (i % 5)) * ntk_rng_normal(&rng);
    for (int i = 0; i < M * D; i++) Y[i] = ntk_rng_normal(&rng);
    ntk_constants c;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_SOFTPLUS, 0), 1.2, 0, &c));   /* all ϑ ≠ 0 */
    const double alpha = 1.7, a2 = alpha * alpha;

    double P1[N * (D + 1)], P2[N * (D + 2)];
    CHECK_OK(ntk_lin_features(&c, alpha, 1, X, N, D, P1));
    CHECK_OK(ntk_lin_features(&c, alpha, 2, X, N, D, P2));
    double e1 = 0, e2 = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < D; k++) {
            e1 = fmax(e1, fabs(P1[i * (D + 1) + k] - alpha * c.zeta * X[i * D + k] / sqrt(D)));
            e2 = fmax(e2, fabs(P2[i * (D + 2) + k] - alpha * c.zeta * X[i * D + k] / sqrt(D)));
        }
        e1 = fmax(e1, fabs(P1[i * (D + 1) + D] - alpha * c.nu / sqrt(D)));
        e2 = fmax(e2, fabs(P2[i * (D + 2) + D] - alpha * c.nu / sqrt(2.0 * D)));
        e2 = fmax(e2, fabs(P2[i * (D + 2) + D + 1] - alpha * psi2_tail(&c, X + i * D, D)));
    }
    CHECK(e1 <= 1e-15, "ψ1 features: max error %.3g", e1);
    CHECK(e2 <= 1e-15, "ψ2 features: max error %.3g", e2);

    const double c1 = 0.7, c2 = 1.3;
    double Ks[N * N], Kc[N * M], R1[N * N], R2[N * N], Rc[N * M];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double xx = 0;
            for (int k = 0; k < D; k++) xx += X[i * D + k] * X[j * D + k];
            // MATH.md §4: Θ_lin1 = (ζ² XXᵀ + ν² 11ᵀ)/d
            R1[i * N + j] = a2 * (c.zeta * c.zeta * xx + c.nu * c.nu) / D;
            R2[i * N + j] = a2 * (c.zeta * c.zeta * xx / D + c.nu * c.nu / (2.0 * D) +
                                  psi2_tail(&c, X + i * D, D) * psi2_tail(&c, X + j * D, D));
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double xy = 0;
            for (int k = 0; k < D; k++) xy += X[i * D + k] * Y[j * D + k];
            Rc[i * M + j] = c1 * a2 * (c.zeta * c.zeta * xy + c.nu * c.nu) / D +
                            c2 * a2 * (c.zeta * c.zeta * xy / D + c.nu * c.nu / (2.0 * D) +
                                       psi2_tail(&c, X + i * D, D) * psi2_tail(&c, Y + j * D, D));
        }
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, 1, 0, Ks));
    double e = t_max_rel_err(Ks, R1, N * N);
    CHECK(e <= 1e-13, "Θ_lin1 vs loops: %.3g", e);
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, 0, 1, Ks));
    e = t_max_rel_err(Ks, R2, N * N);
    CHECK(e <= 1e-13, "Θ_lin2 vs loops: %.3g", e);
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, c1, c2, Ks));
    for (int i = 0; i < N * N; i++) R1[i] = c1 * R1[i] + c2 * R2[i];
    e = t_max_rel_err(Ks, R1, N * N);
    CHECK(e <= 1e-13, "c1Θ_lin1 + c2Θ_lin2 vs loops: %.3g", e);
    int sym = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) sym &= Ks[i * N + j] == Ks[j * N + i];
    CHECK(sym, "symmetric Θ_lin not exactly symmetric");
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, Y, M, D, c1, c2, Kc));
    e = t_max_rel_err(Kc, Rc, N * M);
    CHECK(e <= 1e-13, "cross Θ_lin vs loops: %.3g", e);
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, Y, M, D, 0, 0, Kc));
    int zero = 1;
    for (int i = 0; i < N * M; i++) zero &= Kc[i] == 0.0;
    CHECK(zero, "c1 = c2 = 0 gives K = 0");

    /* relu, isotropic: ν = 1/√(2π) and the ψ1 kernel is (XXᵀ/4 + 1/(2π))/d */
    ntk_constants r;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), 1.0, 0, &r));
    CHECK_OK(ntk_kernel_lin(&r, 1.0, X, N, NULL, 0, D, 1, 0, Ks));
    double xx01 = 0;
    for (int k = 0; k < D; k++) xx01 += X[k] * X[D + k];
    CHECK_CLOSE(Ks[1], (xx01 / 4 + 1 / (2 * M_PI)) / D, 1e-14, "relu Θ_lin1(x0,x1)");

    CHECK_ERR(ntk_lin_features(&c, alpha, 3, X, N, D, P2), NTK_ERR_ARG);
    CHECK_ERR(ntk_lin_features(&c, 0.0, 1, X, N, D, P2), NTK_ERR_ARG);
    CHECK_ERR(ntk_lin_features(NULL, alpha, 1, X, N, D, P2), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, 0, 1, 1, Ks), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, NAN, 1, Ks), NTK_ERR_ARG);
    double Xbad[N * D];
    memcpy(Xbad, X, sizeof Xbad);
    Xbad[3] = INFINITY;
    CHECK_ERR(ntk_kernel_lin(&c, alpha, Xbad, N, NULL, 0, D, 1, 1, Ks), NTK_ERR_NONFINITE);
}

/* The rule is exact for polynomials of degree ≤ 2·order − 1: E[g^{2k}] =
 * (2k−1)!! up to degree 16 (1e-13 relative), odd moments 0 (to 1e-14 of
 * Σ w|x|^{2k−1}), weights
 * positive and summing to 1, nodes ascending and symmetric. */
static void test_gauss_hermite(void)
{
    const int orders[] = {2, 3, 5, 10, 64, 200, 1000, NTK_QUAD_MAX};
    static double x[NTK_QUAD_MAX], w[NTK_QUAD_MAX];
    for (int t = 0; t < 8; t++) {
        int n = orders[t];
        CHECK_OK(ntk_gauss_hermite(n, x, w));
        double sum = 0;
        int ok = 1;
        for (int i = 0; i < n; i++) {
            sum += w[i];
            ok &= w[i] >= 0 && (i == 0 || x[i] > x[i - 1]) && x[i] == -x[n - 1 - i];
        }
        CHECK(ok, "order %d: weights negative or nodes not ascending/symmetric", n);
        CHECK_CLOSE(sum, 1.0, 1e-14, "order %d: Σw", n);
        double dfact = 1.0;   /* (2k−1)!! */
        for (int k = 1; 2 * k <= 16 && 2 * k <= 2 * n - 1; k++) {
            dfact *= 2 * k - 1;
            double even = 0, odd = 0, odd_abs = 0;
            for (int i = 0; i < n; i++) {
                even += w[i] * pow(x[i], 2 * k);
                odd += w[i] * pow(x[i], 2 * k - 1);
                odd_abs += w[i] * fabs(pow(x[i], 2 * k - 1));
            }
            CHECK_CLOSE(even / dfact, 1.0, 1e-13, "order %d: E[g^%d]", n, 2 * k);
            /* odd: zero up to the rounding of a sum of terms of both signs */
            CHECK(fabs(odd) <= 1e-14 * odd_abs, "order %d: E[g^%d] = %.3g (Σ|terms| %.3g)", n,
                  2 * k - 1, odd, odd_abs);
        }
    }
    CHECK_ERR(ntk_gauss_hermite(0, x, w), NTK_ERR_ARG);
    CHECK_ERR(ntk_gauss_hermite(NTK_QUAD_MAX + 1, x, w), NTK_ERR_ARG);
}

int main(void)
{
    ntk_set_threads(1);
    test_gauss_hermite();
    test_known_values();
    test_vs_simpson_and_convergence();
    test_monte_carlo();
    test_nu_and_errors();
    test_trace_factor();
    test_linear_models();
    return t_finish();
}
