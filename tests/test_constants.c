/* Gaussian constants, trace factor and linear-model kernels (docs/theory.md §4)
 * against independent oracles: published and hand-derived values, composite
 * Simpson integration, Monte Carlo, plain loops. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"
#include "quadrature.h"   /* private: the Gauss–Hermite rule itself */

#include <float.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double norm_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

/* ---- Tolerances --------------------------------------------------------
 * Each check allows the error bounds of both sides:
 *   - Simpson (the oracle below): |S_h − S_2h| (its error is (S_h − S_2h)/15
 *     for integrands smooth on each panel; no /15 here) plus the rounding of
 *     its 2M-term sum, 2M·ε·∫|f|;
 *   - a closed form or a hand-derived value: a few roundings, 8ε·max(1, |v|);
 *   - the library's Gauss–Hermite rule of order N (smooth φ): twice the
 *     change from order N to 2N (the rule converges faster than
 *     geometrically on these analytic integrands, so the change bounds the
 *     error at N by a factor ≤ 1/(1 − err(2N)/err(N)) < 2), plus the rounding
 *     of its N-term sums, C_ROUND·(N + ACT_ULP)·ε·∫|f| (ACT_ULP: libm's erf,
 *     erfc, tanh, exp are within a few ulp). */
#define C_ROUND 4.0
#define ACT_ULP 8.0

/* E[f(g)] by composite Simpson on [−12,0] and [0,12] (h = 5e-4): a kink or
 * jump at 0 falls on a panel boundary (g = 0 is evaluated as ±DBL_MIN, the
 * one-sided limit), so each panel integrates a smooth function and the
 * error is O(h⁴) ≈ 1e-14; the tails beyond 12 weigh < 1e-32. */
typedef double (*gfun)(ntk_act act, double g);
typedef struct {
    double v, err, abs;   /* value, error bound, ∫|f| */
} integral;

static integral simpson(ntk_act act, gfun f)
{
    const int M = 24000;
    const double h = 12.0 / M;
    double S = 0, S2 = 0, Sa = 0;
    for (int half = 0; half < 2; half++)
        for (int k = 0; k <= M; k++) {
            double g = (half ? -1.0 : 1.0) * (k ? k * h : DBL_MIN);
            double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
            int kk = k / 2;   /* step 2h on the even points */
            double w2 = k % 2 ? 0.0 : (kk == 0 || kk == M / 2) ? 2.0 : (kk % 2 ? 8.0 : 4.0);
            double v = norm_pdf(g) * f(act, g);
            S += wk * v, S2 += w2 * v, Sa += wk * fabs(v);
        }
    integral r = {S * h / 3.0, (fabs(S - S2) + 2.0 * M * DBL_EPSILON * Sa) * h / 3.0,
                  Sa * h / 3.0};
    return r;
}

static double f_dphi(ntk_act a, double g) { return ntk_act_dphi(a, g); }
static double f_phi(ntk_act a, double g) { return ntk_act_phi(a, g); }
static double f_gdphi(ntk_act a, double g) { return g * ntk_act_dphi(a, g); }
static double f_h3dphi(ntk_act a, double g) { return (0.5 * g * g * g - g) * ntk_act_dphi(a, g); }
static double f_phi2(ntk_act a, double g) { return ntk_act_phi(a, g) * ntk_act_phi(a, g); }
static double f_dphi2(ntk_act a, double g) { return ntk_act_dphi(a, g) * ntk_act_dphi(a, g); }
static const gfun FUNS[6] = {f_dphi, f_phi, f_gdphi, f_h3dphi, f_phi2, f_dphi2};
static const char *const NAMES[6] = {"ζ", "ϑ0", "ϑ1", "ϑ2", "E[φ²]", "E[φ'²]"};

static ntk_act act_of(ntk_act_kind kind, double param)
{
    ntk_act a = {kind, param};
    return a;
}

/* the six constants in FUNS order */
static void values(const ntk_constants *c, double v[6])
{
    v[0] = c->zeta, v[1] = c->theta0, v[2] = c->theta1, v[3] = c->theta2, v[4] = c->e_phi2,
    v[5] = c->e_dphi2;
}

/* Error bounds b (6) of ntk_constants_compute(a, 1, order, ·), order 0 = the
 * default 200 (Tolerances); Simpson's integrals s (6) give ∫|f|. */
static void library_bounds(ntk_act a, int order, const integral s[6], double b[6])
{
    ntk_constants c, c2;
    double v[6], v2[6];
    int N = order ? order : 200;
    CHECK_OK(ntk_constants_compute(a, 1.0, order, &c));
    values(&c, v);
    if (ntk_act_piecewise_linear(a)) {   /* closed forms in constants.c */
        for (int k = 0; k < 6; k++) b[k] = 8.0 * DBL_EPSILON * fmax(1.0, fabs(v[k]));
        return;
    }
    CHECK_OK(ntk_constants_compute(a, 1.0, 2 * N, &c2));
    values(&c2, v2);
    for (int k = 0; k < 6; k++)
        b[k] = 2.0 * fabs(v[k] - v2[k]) + C_ROUND * (N + ACT_ULP) * DBL_EPSILON * s[k].abs;
}

/* |c_k − ref_k| ≤ tol_k for the six constants */
static void check_values(const char *nm, const ntk_constants *c, const double ref[6],
                         const double tol[6])
{
    double v[6];
    values(c, v);
    for (int k = 0; k < 6; k++)
        CHECK_LE(fabs(v[k] - ref[k]), tol[k], "%s %s = %.17g vs %.17g", nm, NAMES[k], v[k], ref[k]);
}

/* Published values (docs/theory.md §4) and ones derived by hand:
 *   relu: ζ = 1/2, ϑ0 = ϑ1 = 1/√(2π), ϑ2 = 0, E[φ²] = E[φ'²] = 1/2;
 *   erf:  ζ = 2/√(3π), ϑ0 = ϑ1 = ϑ2 = 0 (odd φ, even φ'),
 *         E[φ²] = (2/π) arcsin(2/3), E[φ'²] = (4/π)/√5;
 *   identity: ζ = 1, ϑ = 0, E[φ²] = E[φ'²] = 1;
 *   leaky a: ζ = (1+a)/2, ϑ0 = ϑ1 = (1−a)/√(2π), ϑ2 = 0, E[φ²] = E[φ'²] = (1+a²)/2;
 *   gelu: ζ = 1/2 + E[gϕ(g)] = 1/2, ϑ0 = E[gΦ(g)] = E[ϕ(g)] = 1/(2√π),
 *         ϑ1 = E[ϕ(g)] + E[g²ϕ(g)] = 1/(2√π) + 1/(4√π) = 3/(4√π);
 *   sigmoid: ϑ0 = 1/2 (σ − 1/2 is odd); softplus: ζ = E[σ(g)] = 1/2,
 *         ϑ1 = E[gσ(g)] = E[σ'(g)] (Stein) = sigmoid's ζ; tanh: ϑ0 = ϑ1 = ϑ2 = 0.
 * Tolerance: the library's bound (library_bounds) plus 8ε·max(1, |v|) for
 * the reference value's own rounding. */
static void check_known(const char *nm, ntk_act a, int k, double ref)
{
    integral s[6];
    double b[6], v[6];
    ntk_constants c;
    for (int j = 0; j < 6; j++) s[j] = simpson(a, FUNS[j]);
    library_bounds(a, 0, s, b);
    CHECK_OK(ntk_constants_compute(a, 1.0, 0, &c));
    values(&c, v);
    CHECK_LE(fabs(v[k] - ref), b[k] + 8.0 * DBL_EPSILON * fmax(1.0, fabs(ref)),
             "%s %s = %.17g, expected %.17g", nm, NAMES[k], v[k], ref);
}

static void test_known_values(void)
{
    const double r2pi = 1.0 / sqrt(2.0 * M_PI);
    ntk_constants c;
    const ntk_act relu = act_of(NTK_ACT_RELU, 0), erf_ = act_of(NTK_ACT_ERF, 0);
    const double relu_v[6] = {0.5, r2pi, r2pi, 0.0, 0.5, 0.5};
    const double erf_v[6] = {2.0 / sqrt(3.0 * M_PI), 0, 0, 0, (2.0 / M_PI) * asin(2.0 / 3.0),
                             (4.0 / M_PI) / sqrt(5.0)};
    for (int k = 0; k < 6; k++) {
        check_known("relu", relu, k, relu_v[k]);
        check_known("erf", erf_, k, erf_v[k]);
        check_known("identity", act_of(NTK_ACT_IDENTITY, 0), k, k == 0 || k >= 4 ? 1.0 : 0.0);
    }
    CHECK_OK(ntk_constants_compute(relu, 1.0, 0, &c));
    CHECK_LE(fabs(c.nu - r2pi), 8.0 * DBL_EPSILON, "relu ν (trace factor 1)");
    {   /* ν = ϑ1 (trace factor 1): 0 for erf, up to the rule's bound on ϑ1 */
        integral s[6];
        double b[6];
        for (int j = 0; j < 6; j++) s[j] = simpson(erf_, FUNS[j]);
        library_bounds(erf_, 0, s, b);
        CHECK_OK(ntk_constants_compute(erf_, 1.0, 0, &c));
        CHECK_LE(fabs(c.nu), b[2], "erf ν");
    }
    const double slopes[] = {0.2, -0.3, 1.5};
    for (int t = 0; t < 3; t++) {
        double a = slopes[t];
        const double v[6] = {(1 + a) / 2, (1 - a) * r2pi, (1 - a) * r2pi, 0,
                             (1 + a * a) / 2, (1 + a * a) / 2};
        for (int k = 0; k < 6; k++) check_known("leaky_relu", act_of(NTK_ACT_LEAKY_RELU, a), k, v[k]);
    }
    const ntk_act gelu = act_of(NTK_ACT_GELU, 0), sig = act_of(NTK_ACT_SIGMOID, 0);
    const ntk_act sp = act_of(NTK_ACT_SOFTPLUS, 0), th = act_of(NTK_ACT_TANH, 0);
    check_known("gelu", gelu, 0, 0.5);
    check_known("gelu", gelu, 1, 0.5 / sqrt(M_PI));
    check_known("gelu", gelu, 2, 0.75 / sqrt(M_PI));
    check_known("sigmoid", sig, 1, 0.5);
    check_known("softplus", sp, 0, 0.5);
    for (int k = 1; k <= 3; k++) check_known("tanh", th, k, 0.0);
    /* softplus ϑ1 = sigmoid ζ (Stein): both from the rule, both bounds */
    ntk_constants sg;
    integral s1[6], s2[6];
    double b1[6], b2[6];
    for (int j = 0; j < 6; j++) s1[j] = simpson(sp, FUNS[j]), s2[j] = simpson(sig, FUNS[j]);
    library_bounds(sp, 0, s1, b1);
    library_bounds(sig, 0, s2, b2);
    CHECK_OK(ntk_constants_compute(sp, 1.0, 0, &c));
    CHECK_OK(ntk_constants_compute(sig, 1.0, 0, &sg));
    CHECK_LE(fabs(c.theta1 - sg.zeta), b1[2] + b2[0], "softplus ϑ1 = sigmoid ζ (Stein)");
}

/* Every activation against Simpson (library bound + Simpson's bound), and
 * the rule's convergence for smooth φ: with e_N the error of order N
 * against Simpson, e_2N ≤ e_N/4 + floor (any rule converging at least like
 * N⁻², which Gauss–Hermite on analytic integrands beats by far; floor:
 * Simpson's bound plus the rounding of order 2N), for N = 100 and 200; and
 * order 0 is the default 200. */
static void test_vs_simpson_and_convergence(void)
{
    for (int k = 0; k < NTK_ACT_COUNT; k++) {
        ntk_act a = act_of((ntk_act_kind)k, k == NTK_ACT_LEAKY_RELU ? 0.15 : 0.0);
        const char *nm = ntk_act_name(a.kind);
        ntk_constants c;
        integral s[6];
        double ref[6], tol[6], b[6];
        for (int j = 0; j < 6; j++) s[j] = simpson(a, FUNS[j]), ref[j] = s[j].v;
        library_bounds(a, 0, s, b);
        for (int j = 0; j < 6; j++) tol[j] = b[j] + s[j].err;
        CHECK_OK(ntk_constants_compute(a, 1.0, 0, &c));
        check_values(nm, &c, ref, tol);
        if (ntk_act_piecewise_linear(a)) continue;
        ntk_constants c100, c200, c400;
        double v1[6], v2[6], v4[6];
        CHECK_OK(ntk_constants_compute(a, 1.0, 100, &c100));
        CHECK_OK(ntk_constants_compute(a, 1.0, 200, &c200));
        CHECK_OK(ntk_constants_compute(a, 1.0, 400, &c400));
        values(&c100, v1), values(&c200, v2), values(&c400, v4);
        for (int j = 0; j < 6; j++) {
            double e1 = fabs(v1[j] - ref[j]), e2 = fabs(v2[j] - ref[j]), e4 = fabs(v4[j] - ref[j]);
            double fl2 = s[j].err + C_ROUND * (200 + ACT_ULP) * DBL_EPSILON * s[j].abs;
            double fl4 = s[j].err + C_ROUND * (400 + ACT_ULP) * DBL_EPSILON * s[j].abs;
            CHECK_LE(e2, e1 / 4.0 + fl2, "%s %s: order 200 error vs order 100's (%.3g)", nm,
                     NAMES[j], e1);
            CHECK_LE(e4, e2 / 4.0 + fl4, "%s %s: order 400 error vs order 200's (%.3g)", nm,
                     NAMES[j], e2);
        }
        CHECK(memcmp(&c, &c200, sizeof c) == 0, "%s: order 0 is not the default 200", nm);
    }
}

/* Monte Carlo for tanh: N = 2^20 draws of g; each mean within 6·sd/√N (a
 * false alarm has probability ~2e-9 per check; the seed is fixed), plus the
 * library's bound and the rounding of the N-term sums, N·ε·mean|x|. */
static void test_monte_carlo(void)
{
    const size_t N = (size_t)1 << 20;
    ntk_act a = act_of(NTK_ACT_TANH, 0);
    ntk_constants c;
    integral s[6];
    double ref[6], b[6];
    for (int k = 0; k < 6; k++) s[k] = simpson(a, FUNS[k]);
    library_bounds(a, 0, s, b);
    CHECK_OK(ntk_constants_compute(a, 1.0, 0, &c));
    values(&c, ref);
    double sum[6] = {0}, sum2[6] = {0}, sabs[6] = {0};
    ntk_rng rng;
    ntk_rng_seed(&rng, 99);
    for (size_t i = 0; i < N; i++) {
        double g = ntk_rng_normal(&rng), p = ntk_act_phi(a, g), dp = ntk_act_dphi(a, g);
        double x[6] = {dp, p, g * dp, (0.5 * g * g * g - g) * dp, p * p, dp * dp};
        for (int k = 0; k < 6; k++) {
            sum[k] += x[k];
            sum2[k] += x[k] * x[k];
            sabs[k] += fabs(x[k]);
        }
    }
    for (int k = 0; k < 6; k++) {
        double mean = sum[k] / (double)N, sd = sqrt(fmax(sum2[k] / (double)N - mean * mean, 0));
        double tol = 6 * sd / sqrt((double)N) + b[k] + DBL_EPSILON * sabs[k];
        CHECK_LE(fabs(mean - ref[k]), tol, "tanh %s: MC %.8g vs %.8g", NAMES[k], mean, ref[k]);
    }
}

static void test_nu_and_errors(void)
{
    ntk_constants c;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_SOFTPLUS, 0), 1.3, 0, &c));
    /* one multiplication on either side */
    CHECK_LE(fabs(c.nu - 1.3 * c.theta1), DBL_EPSILON * fabs(c.nu), "ν = ϑ1 · trace factor");
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

/* Rounding of the trace factor: Tr Σ̂ is a sum of nd positive terms and
 * ‖Σ̂‖_F ≥ Tr Σ̂/√d, whose entries are n-term sums (after an n-term mean),
 * so either side is within (n + d + 4)ε·√d of the exact value, relatively;
 * 4× for the two sides and the few operations. */
static double trace_factor_tol(size_t n, size_t d, double tf)
{
    return C_ROUND * (double)(n + d + 4) * DBL_EPSILON * sqrt((double)d) * tf;
}

/* Handcrafted: rows ±a_k e_k (+ a common shift, removed by centring) give
 * Σ̂ ∝ diag(a_k²), so √(Tr Σ̃²/d) = √d √(Σ a_k⁴) / Σ a_k² = √30/5 for
 * a² = (1,2,3,4). Isotropic Gaussian data, W = Σ̂/n = I + E: tf² = d·Tr W²/
 * (Tr W)² = 1 + Tr E²/d − (Tr E/d)² + O(E³), so E[tf²] = 1 + (d+1)/n − 2/(dn)
 * (Wishart), and Tr E² has standard deviation 2√(d(d+1))/n (E_kl ~ N(0, 1/n),
 * E_kk ~ N(0, 2/n)): tf is within 6·√(d(d+1))/(dn) + 2/(dn) of
 * √(1 + (d+1)/n) but for a ~2e-9 chance (d = 10, n = 20000: 3.4e-4). Both
 * BLAS branches (n < d and n ≥ d) against loops, to the rounding of both. */
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
    CHECK_LE(fabs(tf - sqrt(30.0) / 5.0), trace_factor_tol(2 * DD, DD, tf),
             "handcrafted diagonal Σ");

    const size_t n = 20000, d = 10;
    double *G = malloc(n * d * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 3);
    ntk_rng_normal_fill(&rng, G, n * d);
    CHECK_OK(ntk_trace_factor(G, n, d, &tf));
    double expect = sqrt(1.0 + (double)(d + 1) / (double)n);
    double stat = (6.0 * sqrt((double)(d * (d + 1))) + 2.0) / ((double)d * (double)n);
    CHECK_LE(fabs(tf - expect), stat, "isotropic: %.8f vs %.8f", tf, expect);
    CHECK_LE(fabs(tf - trace_factor_loops(G, n, d)), trace_factor_tol(n, d, tf),
             "n >= d branch vs loops");
    /* n < d: the (n,n) Gram; anisotropic columns */
    const size_t n2 = 12, d2 = 30;
    for (size_t i = 0; i < n2; i++)
        for (size_t k = 0; k < d2; k++) G[i * d2 + k] *= 1.0 + (double)k / 5.0;
    CHECK_OK(ntk_trace_factor(G, n2, d2, &tf));
    CHECK_LE(fabs(tf - trace_factor_loops(G, n2, d2)), trace_factor_tol(n2, d2, tf),
             "n < d branch vs loops");
    free(G);

    CHECK_ERR(ntk_trace_factor(X, 1, DD, &tf), NTK_ERR_ARG);
    double same[3 * 2] = {1, 2, 1, 2, 1, 2};
    CHECK_ERR(ntk_trace_factor(same, 3, 2, &tf), NTK_ERR_ARG);
    same[3] = NAN;
    CHECK_ERR(ntk_trace_factor(same, 3, 2, &tf), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_trace_factor(NULL, 3, 2, &tf), NTK_ERR_ARG);
}

/* The linear models' features by loops, F (n, D+1) for ψ1 = α(ζx/√d, ν/√d),
 * (n, D+2) for ψ2 = α(ζx/√d, ν/√(2d), ϑ0 + ϑ1δ + ϑ2δ²), δ = ‖x‖/√d − 1, and
 * bounds E on the error of either computation of them: 4ε relative for the
 * products, and for the last coordinate the rounding of δ, (D + 3)ε‖x‖/√d,
 * times |ϑ1 + 2ϑ2δ|, plus 4ε per term. */
static void lin_features_ref(const ntk_constants *c, double alpha, int which, const double *X,
                             size_t n, size_t D, double *F, double *E)
{
    const double e4 = C_ROUND * DBL_EPSILON, sd = sqrt((double)D);
    size_t w = D + (size_t)which;
    for (size_t i = 0; i < n; i++) {
        double n2 = 0;
        for (size_t k = 0; k < D; k++) {
            F[i * w + k] = alpha * c->zeta * X[i * D + k] / sd;
            E[i * w + k] = e4 * fabs(F[i * w + k]);
            n2 += X[i * D + k] * X[i * D + k];
        }
        F[i * w + D] = alpha * c->nu / (which == 1 ? sd : sqrt(2.0 * D));
        E[i * w + D] = e4 * fabs(F[i * w + D]);
        if (which == 2) {
            double delta = sqrt(n2) / sd - 1.0;
            double t = c->theta0 + c->theta1 * delta + c->theta2 * delta * delta;
            double dd = (double)(D + 3) * DBL_EPSILON * sqrt(n2) / sd;
            F[i * w + D + 1] = alpha * t;
            E[i * w + D + 1] = fabs(alpha) * (fabs(c->theta1 + 2.0 * c->theta2 * delta) * dd +
                                              e4 * (fabs(c->theta0) + fabs(c->theta1 * delta) +
                                                    fabs(c->theta2 * delta * delta)));
        }
    }
}

/* K_ij = Σ_p F_ip G_jp and its bound: Σ_p (|F||E_G| + |E_F||G|) + (P + 2)ε Σ|F G| */
static void gram_ref(const double *F, const double *EF, size_t n1, const double *G,
                     const double *EG, size_t n2, size_t P, double *K, double *B)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            double s = 0, b = 0, a = 0;
            for (size_t p = 0; p < P; p++) {
                double f = F[i * P + p], g = G[j * P + p];
                s += f * g;
                a += fabs(f * g);
                b += fabs(f) * EG[j * P + p] + EF[i * P + p] * fabs(g);
            }
            K[i * n2 + j] = s;
            B[i * n2 + j] = b + (double)(P + 2) * DBL_EPSILON * a;
        }
}

/* max_i |a_i − b_i| / bound_i (0/0 counts as 0; NaN fails) */
static double bound_ratio(const double *a, const double *b, const double *bound, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        double r = e == 0.0 ? 0.0 : e / bound[i];
        if (!(r <= worst)) worst = r;
    }
    return worst;
}

/* Θ_lin1 = α²(ζ² XXᵀ + ν² 11ᵀ)/d and Θ_lin2 = α²(ζ² XXᵀ/d + ν²/(2d) + t tᵀ)
 * (docs/theory.md §4) as Gram matrices of features formed by loops; each entry
 * within the sum of both sides' bounds (gram_ref; the library's products
 * are BLAS, in another order); the features themselves entry by entry. */
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
    const double alpha = 1.7;

    double P1[N * (D + 1)], P2[N * (D + 2)], F1[N * (D + 1)], F2[N * (D + 2)];
    double E1[N * (D + 1)], E2[N * (D + 2)], G1[M * (D + 1)], G2[M * (D + 2)];
    double H1[M * (D + 1)], H2[M * (D + 2)];
    CHECK_OK(ntk_lin_features(&c, alpha, 1, X, N, D, P1));
    CHECK_OK(ntk_lin_features(&c, alpha, 2, X, N, D, P2));
    lin_features_ref(&c, alpha, 1, X, N, D, F1, E1);
    lin_features_ref(&c, alpha, 2, X, N, D, F2, E2);
    lin_features_ref(&c, alpha, 1, Y, M, D, G1, H1);
    lin_features_ref(&c, alpha, 2, Y, M, D, G2, H2);
    double B1[N * (D + 2)];
    for (int i = 0; i < N * (D + 1); i++) B1[i] = 2.0 * E1[i];
    CHECK_LE(bound_ratio(P1, F1, B1, N * (D + 1)), 1.0, "ψ1 features / bound");
    for (int i = 0; i < N * (D + 2); i++) B1[i] = 2.0 * E2[i];
    CHECK_LE(bound_ratio(P2, F2, B1, N * (D + 2)), 1.0, "ψ2 features / bound");

    const double c1 = 0.7, c2 = 1.3;
    double Ks[N * N], Kc[N * M], R1[N * N], R2[N * N], Rc[N * M], S1[N * N], S2[N * N];
    double Rc2[N * M], Sc[N * M], Sc2[N * M], Bs[N * N];
    gram_ref(F1, E1, N, F1, E1, N, D + 1, R1, S1);
    gram_ref(F2, E2, N, F2, E2, N, D + 2, R2, S2);
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, 1, 0, Ks));
    for (int i = 0; i < N * N; i++) Bs[i] = 2.0 * S1[i];
    CHECK_LE(bound_ratio(Ks, R1, Bs, N * N), 1.0, "Θ_lin1 vs loops / bound");
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, 0, 1, Ks));
    for (int i = 0; i < N * N; i++) Bs[i] = 2.0 * S2[i];
    CHECK_LE(bound_ratio(Ks, R2, Bs, N * N), 1.0, "Θ_lin2 vs loops / bound");
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, NULL, 0, D, c1, c2, Ks));
    for (int i = 0; i < N * N; i++) {
        R1[i] = c1 * R1[i] + c2 * R2[i];
        Bs[i] = 2.0 * (c1 * S1[i] + c2 * S2[i]) + 2.0 * DBL_EPSILON * fabs(R1[i]);
    }
    CHECK_LE(bound_ratio(Ks, R1, Bs, N * N), 1.0, "c1Θ_lin1 + c2Θ_lin2 vs loops / bound");
    int sym = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) sym &= Ks[i * N + j] == Ks[j * N + i];
    CHECK(sym, "symmetric Θ_lin not exactly symmetric");
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, Y, M, D, c1, c2, Kc));
    gram_ref(F1, E1, N, G1, H1, M, D + 1, Rc, Sc);
    gram_ref(F2, E2, N, G2, H2, M, D + 2, Rc2, Sc2);
    for (int i = 0; i < N * M; i++) {
        Rc[i] = c1 * Rc[i] + c2 * Rc2[i];
        Sc[i] = 2.0 * (c1 * Sc[i] + c2 * Sc2[i]) + 2.0 * DBL_EPSILON * fabs(Rc[i]);
    }
    CHECK_LE(bound_ratio(Kc, Rc, Sc, N * M), 1.0, "cross Θ_lin vs loops / bound");
    CHECK_OK(ntk_kernel_lin(&c, alpha, X, N, Y, M, D, 0, 0, Kc));
    int zero = 1;
    for (int i = 0; i < N * M; i++) zero &= Kc[i] == 0.0;
    CHECK(zero, "c1 = c2 = 0 gives K = 0");

    /* relu, isotropic: ν = 1/√(2π) and the ψ1 kernel is (XXᵀ/4 + 1/(2π))/d;
     * the library's bound (gram_ref's, twice) plus the rounding of this form */
    ntk_constants r;
    CHECK_OK(ntk_constants_compute(act_of(NTK_ACT_RELU, 0), 1.0, 0, &r));
    CHECK_OK(ntk_kernel_lin(&r, 1.0, X, N, NULL, 0, D, 1, 0, Ks));
    double xx01 = 0, xa = 0;
    for (int k = 0; k < D; k++) xx01 += X[k] * X[D + k], xa += fabs(X[k] * X[D + k]);
    CHECK_LE(fabs(Ks[1] - (xx01 / 4 + 1 / (2 * M_PI)) / D),
             2.0 * C_ROUND * (D + 4) * DBL_EPSILON * (xa / 4 + 1 / (2 * M_PI)) / D,
             "relu Θ_lin1(x0,x1)");

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
 * (2k−1)!! up to degree 16, odd moments 0; weights positive and summing to
 * 1, nodes ascending and symmetric. Tolerances: rounding only. The weights
 * (Christoffel numbers, n-term sums at Newton-polished nodes) are within
 * nε relatively, g^j adds jε, and the sums nε of Σ|terms|, so
 * C_ROUND·(2n + 2j)ε·Σ|terms|; an odd moment's terms cancel in exact pairs
 * (the nodes are exactly symmetric, hence the weights too). */
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
        CHECK_LE(fabs(sum - 1.0), C_ROUND * 2.0 * n * DBL_EPSILON, "order %d: Σw", n);
        double dfact = 1.0;   /* (2k−1)!! */
        for (int k = 1; 2 * k <= 16 && 2 * k <= 2 * n - 1; k++) {
            dfact *= 2 * k - 1;
            double even = 0, odd = 0, odd_abs = 0;
            for (int i = 0; i < n; i++) {
                even += w[i] * pow(x[i], 2 * k);
                odd += w[i] * pow(x[i], 2 * k - 1);
                odd_abs += w[i] * fabs(pow(x[i], 2 * k - 1));
            }
            double r = C_ROUND * (2.0 * n + 4.0 * k) * DBL_EPSILON;
            CHECK_LE(fabs(even / dfact - 1.0), r, "order %d: E[g^%d]", n, 2 * k);
            CHECK_LE(fabs(odd), r * odd_abs, "order %d: E[g^%d] = %.3g (Σ|terms| %.3g)", n,
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
