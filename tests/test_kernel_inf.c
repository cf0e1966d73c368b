/* Infinite-width kernels (MATH.md §3) against independent oracles:
 *   - piecewise-linear closed forms vs a 1-D integral over g1 of the exact
 *     conditional expectations given g1 (Simpson), and vs the diagonal E[φ²];
 *   - every closed form vs 2-D Gauss–Hermite (ntk_kernel_infinite_quad);
 *   - smooth activations vs a 2-D trapezoid rule (spectrally accurate for
 *     analytic integrands with Gaussian tails);
 *   - Monte Carlo over a very wide random layer (plain loops, m = 2^16);
 *   - structure: general norms, zero inputs, s = 1 vs √d, α², (c1,c2)
 *     linearity, cross blocks vs the symmetric block, PSD, thread count. */
#include "harness.h"
#include "ntkit.h"

#include <lapacke.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double norm_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }
static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Five points in d = 4 with squared norms from 0.17·d to 3.1·d and assorted angles. */
enum { N5 = 5, D4 = 4 };
static const double X5[N5 * D4] = {
    1.0,  0.5, -1.0, 0.3,  //
    0.2,  2.0, 0.3,  -1.1, //
    -1.0, -0.4, 0.8, 0.1,  //
    0.6,  -0.1, 0.2, 0.4,  //
    2.5,  1.5, -1.0, 1.7,
};

static void pair_stats(const double *X, size_t i, size_t j, size_t d, double s, double *q1,
                       double *q2, double *c)
{
    double a = 0, b = 0, ab = 0;
    for (size_t k = 0; k < d; k++) {
        a += X[i * d + k] * X[i * d + k];
        b += X[j * d + k] * X[j * d + k];
        ab += X[i * d + k] * X[j * d + k];
    }
    *q1 = a / (s * s);
    *q2 = b / (s * s);
    *c = ab / (s * s);
}

/* ------------------------------------------------------------------
 * Oracle 1: leaky relu φ(u) = u (u>0), a·u (u<0), by conditioning on g1.
 * u = √q g1, u' = μ + σ h with μ = √q' ρ g1, σ = √q' √(1−ρ²), h ~ N(0,1):
 *   E[relu(μ + σh)] = μ Φ(μ/σ) + σ ϕ(μ/σ) =: r(μ)
 *   E[φ(u') | g1]   = r(μ) − a r(−μ),   E[φ'(u') | g1] = Φ(μ/σ) + a Φ(−μ/σ)
 * then ∫ ϕ(g1) φ(u) E[φ(u')|g1] dg1 by composite Simpson on [−12,0] and
 * [0,12] separately (the integrand is smooth on each half). |ρ| < 1.
 * ---------------------------------------------------------------- */
static void oracle_leaky(double a, double q1, double q2, double c, double *Sigma, double *dSigma)
{
    double rho = c / sqrt(q1 * q2);
    double sig = sqrt(q2) * sqrt(1.0 - rho * rho);
    const int M = 24000;   /* intervals per half, h = 5e-4 */
    const double L = 12.0, h = L / M;
    double S = 0, dS = 0;
    for (int half = 0; half < 2; half++) {
        double sgn = half ? -1.0 : 1.0, slope = half ? a : 1.0;
        for (int k = 0; k <= M; k++) {
            double g = sgn * k * h;
            double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
            double mu = sqrt(q2) * rho * g;
            double rp = mu * norm_cdf(mu / sig) + sig * norm_pdf(mu / sig);
            double rm = -mu * norm_cdf(-mu / sig) + sig * norm_pdf(mu / sig);
            double Ephi = rp - a * rm;
            double Edphi = norm_cdf(mu / sig) + a * norm_cdf(-mu / sig);
            S += wk * norm_pdf(g) * slope * sqrt(q1) * g * Ephi;
            dS += wk * norm_pdf(g) * slope * Edphi;
        }
    }
    *Sigma = S * h / 3.0;
    *dSigma = dS * h / 3.0;
}

/* ------------------------------------------------------------------
 * Oracle 2: 2-D trapezoid rule on [−L,L]², step hs, for smooth φ:
 *   E[F(u,u')] = ∫∫ ϕ(g1)ϕ(g2) F(√q g1, √q'(ρ g1 + √(1−ρ²) g2)).
 * The error of the trapezoid rule for integrands analytic in a strip of
 * half-width τ is O(exp(−2πτ/hs)); τ ≥ π/(2√q) here, so hs = 0.05 leaves
 * far less than 1e-14.
 * ---------------------------------------------------------------- */
static void oracle_trapezoid(ntk_act act, double q1, double q2, double c, double *Sigma,
                             double *dSigma)
{
    const double L = 11.0, hs = 0.05;
    const int M = (int)(L / hs + 0.5);
    double rho = c / sqrt(q1 * q2);
    if (rho > 1) rho = 1;
    if (rho < -1) rho = -1;
    double s0 = sqrt(1.0 - rho * rho);
    double S = 0, dS = 0;
    for (int k1 = -M; k1 <= M; k1++) {
        double g1 = k1 * hs, u = sqrt(q1) * g1;
        double p1 = ntk_act_phi(act, u), dp1 = ntk_act_dphi(act, u);
        double in = 0, din = 0;
        for (int k2 = -M; k2 <= M; k2++) {
            double g2 = k2 * hs, u2 = sqrt(q2) * (rho * g1 + s0 * g2);
            double wt = norm_pdf(g2);
            in += wt * ntk_act_phi(act, u2);
            din += wt * ntk_act_dphi(act, u2);
        }
        S += norm_pdf(g1) * p1 * in;
        dS += norm_pdf(g1) * dp1 * din;
    }
    *Sigma = S * hs * hs;
    *dSigma = dS * hs * hs;
}

/* K1 = Θ1∞, K2 = Θ2∞ (n1,n2) for cfg; X2 NULL = symmetric. */
static void kernels(const ntk_net_config *cfg, const double *X1, size_t n1, const double *X2,
                    size_t n2, int quad, int order, double *K1, double *K2)
{
    if (quad) {
        CHECK_OK(ntk_kernel_infinite_quad(cfg, X1, n1, X2, n2, 1.0, 0.0, order, K1));
        CHECK_OK(ntk_kernel_infinite_quad(cfg, X1, n1, X2, n2, 0.0, 1.0, order, K2));
    } else {
        CHECK_OK(ntk_kernel_infinite(cfg, X1, n1, X2, n2, 1.0, 0.0, order, K1));
        CHECK_OK(ntk_kernel_infinite(cfg, X1, n1, X2, n2, 0.0, 1.0, order, K2));
    }
}

static ntk_net_config make_cfg(ntk_act_kind kind, double param, ntk_input_scale sc, double alpha,
                               size_t d)
{
    ntk_net_config cfg = ntk_net_config_default(d, 1);
    cfg.act.kind = kind;
    cfg.act.param = param;
    cfg.input_scale = sc;
    cfg.alpha = alpha;
    return cfg;
}

/* relu / leaky relu / identity closed forms vs oracle 1 (off-diagonal) and
 * the diagonal Σ(x,x) = q(1+a²)/2, Σ'(x,x) = (1+a²)/2; tolerance 1e-10
 * (Simpson with h = 5e-4 is good to ~1e-13). */
static void test_piecewise_vs_conditional(void)
{
    const double slopes[] = {0.0, 0.2, -0.3, 1.0};
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_LEAKY_RELU,
                                  NTK_ACT_IDENTITY};
    const double alpha = 1.7;
    for (int t = 0; t < 4; t++) {
        double a = slopes[t];
        ntk_net_config cfg = make_cfg(kinds[t], a, NTK_SCALE_SQRT_D, alpha, D4);
        double K1[N5 * N5], K2[N5 * N5];
        kernels(&cfg, X5, N5, NULL, 0, 0, 0, K1, K2);
        double s = sqrt((double)D4);
        for (size_t i = 0; i < N5; i++)
            for (size_t j = 0; j < N5; j++) {
                double q1, q2, c, S, dS;
                pair_stats(X5, i, j, D4, s, &q1, &q2, &c);
                if (i == j) {
                    S = q1 * (1 + a * a) / 2;   /* E[φ(u)²] */
                    dS = (1 + a * a) / 2;       /* E[φ'(u)²] */
                } else {
                    oracle_leaky(a, q1, q2, c, &S, &dS);
                }
                CHECK_CLOSE(K1[i * N5 + j], alpha * alpha * c * dS, 1e-10, "%s a=%g Θ1 (%zu,%zu)",
                            ntk_act_name(kinds[t]), a, i, j);
                CHECK_CLOSE(K2[i * N5 + j], alpha * alpha * S, 1e-10, "%s a=%g Θ2 (%zu,%zu)",
                            ntk_act_name(kinds[t]), a, i, j);
            }
    }
}

/* Closed forms vs 2-D Gauss–Hermite. erf: smooth, order 200, 1e-10 relative
 * to the largest entry. identity: polynomial of degree 2, exact at any order
 * ≥ 2, 1e-13. relu/leaky: φ' jumps, so the rule converges slowly: for Θ2
 * (continuous φ, kink) the error falls like 1/order, for Θ1 (step φ') like
 * order^{-1/2} at worst with cancellation across g1 lines. At order 1024 we
 * measured ≤ 6e-5 (Θ2) and ≤ 1.5e-3 (Θ1, worst for a = −0.3, whose jump
 * 1 − a is largest); tolerances 2.5e-4 and 2.5e-3. */
static void test_closed_vs_quadrature(void)
{
    struct {
        ntk_act_kind kind;
        double a;
        int order;
        double tol1, tol2;
    } cases[] = {
        {NTK_ACT_ERF, 0, 200, 1e-10, 1e-10},        {NTK_ACT_IDENTITY, 0, 4, 1e-13, 1e-13},
        {NTK_ACT_RELU, 0, 1024, 2.5e-3, 2.5e-4},
        {NTK_ACT_LEAKY_RELU, 0.2, 1024, 2.5e-3, 2.5e-4},
        {NTK_ACT_LEAKY_RELU, -0.3, 1024, 2.5e-3, 2.5e-4},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        for (int sc = 0; sc < 2; sc++) {
            ntk_net_config cfg = make_cfg(cases[t].kind, cases[t].a,
                                          sc ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D, 1.3, D4);
            double X[N5 * D4];
            for (int k = 0; k < N5 * D4; k++) X[k] = sc ? 0.5 * X5[k] : X5[k];
            double K1[N5 * N5], K2[N5 * N5], Q1[N5 * N5], Q2[N5 * N5];
            kernels(&cfg, X, N5, NULL, 0, 0, 0, K1, K2);
            kernels(&cfg, X, N5, NULL, 0, 1, cases[t].order, Q1, Q2);
            double e1 = t_max_rel_err(Q1, K1, N5 * N5), e2 = t_max_rel_err(Q2, K2, N5 * N5);
            CHECK(e1 <= cases[t].tol1, "%s a=%g scale %d: Θ1 quadrature error %.3g > %.3g",
                  ntk_act_name(cases[t].kind), cases[t].a, sc, e1, cases[t].tol1);
            CHECK(e2 <= cases[t].tol2, "%s a=%g scale %d: Θ2 quadrature error %.3g > %.3g",
                  ntk_act_name(cases[t].kind), cases[t].a, sc, e2, cases[t].tol2);
        }
    }
}

/* Trapezoid references R1 = Θ1∞, R2 = Θ2∞ (n,n) for the points X (n,d), s = √d. */
static void trapezoid_kernels(ntk_act act, double alpha, const double *X, size_t n, size_t d,
                              double *R1, double *R2)
{
    double s = sqrt((double)d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            double q1, q2, c, S, dS;
            pair_stats(X, i, j, d, s, &q1, &q2, &c);
            oracle_trapezoid(act, q1, q2, c, &S, &dS);
            R1[i * n + j] = R1[j * n + i] = alpha * alpha * c * dS;
            R2[i * n + j] = R2[j * n + i] = alpha * alpha * S;
        }
}

/* Smooth activations vs oracle 2. Gauss–Hermite needs more nodes as q grows
 * (φ(√q g) varies on the scale 1/√q while the nodes near 0 are ~π/√(2·order)
 * apart; tanh's poles at ±iπ/(2√q) limit it most). On X5 (q up to 3.1),
 * order 512 agrees with the trapezoid rule to 1e-10. The default order 64
 * on points with ‖x‖² = d (q = 1, the usual normalisation) is checked to 1e-6
 * (measured worst: tanh Θ1, ~1e-7). */
static void test_smooth_vs_trapezoid(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_ERF, NTK_ACT_TANH, NTK_ACT_SIGMOID, NTK_ACT_SOFTPLUS,
                                  NTK_ACT_GELU};
    const double alpha = 0.8;
    double Xn[N5 * D4];   /* X5 rows rescaled to ‖x‖ = √d */
    for (size_t i = 0; i < N5; i++) {
        double nr = 0;
        for (size_t k = 0; k < D4; k++) nr += X5[i * D4 + k] * X5[i * D4 + k];
        for (size_t k = 0; k < D4; k++) Xn[i * D4 + k] = X5[i * D4 + k] * sqrt(D4 / nr);
    }
    for (int t = 0; t < 5; t++) {
        ntk_net_config cfg = make_cfg(kinds[t], 0, NTK_SCALE_SQRT_D, alpha, D4);
        const char *nm = ntk_act_name(kinds[t]);
        double Q1[N5 * N5], Q2[N5 * N5], R1[N5 * N5], R2[N5 * N5], e;
        kernels(&cfg, X5, N5, NULL, 0, 1, 512, Q1, Q2);
        trapezoid_kernels(cfg.act, alpha, X5, N5, D4, R1, R2);
        e = t_max_rel_err(Q1, R1, N5 * N5);
        CHECK(e <= 1e-10, "%s Θ1 order 512 vs trapezoid: %.3g", nm, e);
        e = t_max_rel_err(Q2, R2, N5 * N5);
        CHECK(e <= 1e-10, "%s Θ2 order 512 vs trapezoid: %.3g", nm, e);
        kernels(&cfg, Xn, N5, NULL, 0, 0, 0, Q1, Q2);
        trapezoid_kernels(cfg.act, alpha, Xn, N5, D4, R1, R2);
        e = t_max_rel_err(Q1, R1, N5 * N5);
        CHECK(e <= 1e-6, "%s Θ1 default order, q = 1, vs trapezoid: %.3g", nm, e);
        e = t_max_rel_err(Q2, R2, N5 * N5);
        CHECK(e <= 1e-6, "%s Θ2 default order, q = 1, vs trapezoid: %.3g", nm, e);
    }
}

/* Monte Carlo: m = 2^16 neurons w_r ~ N(0,I), v_r ~ N(0,1); per pair the
 * samples t1_r = α² c φ'(z_ir)φ'(z_jr) v_r² and t2_r = α² φ(z_ir)φ(z_jr)
 * have means Θ1∞, Θ2∞. Pass when |mean − Θ∞| ≤ 6·sd/√m (sd the sample
 * standard deviation): a false alarm has probability ~2e-9 per check.
 * ntk_kernel_empirical on the same weights computes the same means (MATH.md
 * §2), so it must meet the same bound. */
static void mc_check(ntk_act act, ntk_input_scale sc, const double *X, size_t n, size_t d,
                     uint64_t seed)
{
    const size_t m = (size_t)1 << 16;
    const double alpha = 1.25;
    ntk_net_config cfg = make_cfg(act.kind, act.param, sc, alpha, d);
    double s = ntk_net_config_s(&cfg);
    double *K1 = malloc(n * n * sizeof(double)), *K2 = malloc(n * n * sizeof(double));
    double *P = malloc(n * m * sizeof(double)), *DP = malloc(n * m * sizeof(double));
    double *v = malloc(m * sizeof(double)), *W = malloc(m * d * sizeof(double));
    double *E1 = malloc(n * n * sizeof(double)), *E2 = malloc(n * n * sizeof(double));
    kernels(&cfg, X, n, NULL, 0, 0, 0, K1, K2);
    cfg.m = m;
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    for (size_t r = 0; r < m; r++) {
        double *w = W + r * d;
        ntk_rng_normal_fill(&rng, w, d);
        v[r] = ntk_rng_normal(&rng);
        for (size_t i = 0; i < n; i++) {
            double z = 0;
            for (size_t k = 0; k < d; k++) z += w[k] * X[i * d + k];
            z /= s;
            P[i * m + r] = ntk_act_phi(act, z);
            DP[i * m + r] = ntk_act_dphi(act, z);
        }
    }
    CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 0, 0, E1));
    CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 0, 1, 0, E2));
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            double q1, q2, c;
            pair_stats(X, i, j, d, s, &q1, &q2, &c);
            double m1 = 0, ss1 = 0, m2 = 0, ss2 = 0;
            for (size_t r = 0; r < m; r++) {
                double t1 = alpha * alpha * c * DP[i * m + r] * DP[j * m + r] * v[r] * v[r];
                double t2 = alpha * alpha * P[i * m + r] * P[j * m + r];
                m1 += t1;
                ss1 += t1 * t1;
                m2 += t2;
                ss2 += t2 * t2;
            }
            m1 /= (double)m;
            m2 /= (double)m;
            double sd1 = sqrt(fmax(ss1 / (double)m - m1 * m1, 0.0));
            double sd2 = sqrt(fmax(ss2 / (double)m - m2 * m2, 0.0));
            double tol1 = 6 * sd1 / sqrt((double)m) + 1e-12;
            double tol2 = 6 * sd2 / sqrt((double)m) + 1e-12;
            CHECK(fabs(m1 - K1[i * n + j]) <= tol1,
                  "%s scale %d Θ1(%zu,%zu): MC %.6g vs %.6g (tol %.2g)", ntk_act_name(act.kind),
                  (int)sc, i, j, m1, K1[i * n + j], tol1);
            CHECK(fabs(m2 - K2[i * n + j]) <= tol2,
                  "%s scale %d Θ2(%zu,%zu): MC %.6g vs %.6g (tol %.2g)", ntk_act_name(act.kind),
                  (int)sc, i, j, m2, K2[i * n + j], tol2);
            CHECK(fabs(E1[i * n + j] - K1[i * n + j]) <= tol1,
                  "%s scale %d Θ1(%zu,%zu): empirical %.6g vs %.6g (tol %.2g)",
                  ntk_act_name(act.kind), (int)sc, i, j, E1[i * n + j], K1[i * n + j], tol1);
            CHECK(fabs(E2[i * n + j] - K2[i * n + j]) <= tol2,
                  "%s scale %d Θ2(%zu,%zu): empirical %.6g vs %.6g (tol %.2g)",
                  ntk_act_name(act.kind), (int)sc, i, j, E2[i * n + j], K2[i * n + j], tol2);
        }
    free(K1);
    free(K2);
    free(P);
    free(DP);
    free(v);
    free(W);
    free(E1);
    free(E2);
}

static void test_monte_carlo(void)
{
    const ntk_act acts[] = {{NTK_ACT_RELU, 0}, {NTK_ACT_LEAKY_RELU, 0.2}, {NTK_ACT_ERF, 0},
                            {NTK_ACT_TANH, 0}, {NTK_ACT_SOFTPLUS, 0}};
    double Xone[N5 * D4];
    for (int k = 0; k < N5 * D4; k++) Xone[k] = 0.4 * X5[k];   /* s = 1: keep q moderate */
    for (int t = 0; t < 5; t++) {
        mc_check(acts[t], NTK_SCALE_SQRT_D, X5, N5, D4, 100 + (uint64_t)t);
        mc_check(acts[t], NTK_SCALE_ONE, Xone, N5, D4, 200 + (uint64_t)t);
    }
}

/* A zero input: q = 0, so u ≡ 0. Θ1(0,·) = 0 (c = 0); Θ2(0,x') = α² φ(0) E[φ(√q' g)],
 * with E by Simpson on [−12,12] (h = 1e-3); Θ2(0,0) = α² φ(0)². No NaN anywhere.
 * relu: Θ(εx, x') → 0 as ε → 0 continuously (homogeneity of degree 1). */
static void test_zero_input(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_IDENTITY,
                                  NTK_ACT_TANH, NTK_ACT_SIGMOID, NTK_ACT_SOFTPLUS, NTK_ACT_GELU};
    double X[3 * D4] = {0, 0, 0, 0, 1.0, -0.5, 2.0, 0.3, 0.4, 0.4, -1.2, 0.9};
    const double alpha = 1.1, s = sqrt((double)D4);
    for (int t = 0; t < 8; t++) {
        for (int quad = 0; quad < 2; quad++) {
            ntk_net_config cfg = make_cfg(kinds[t], 0.1, NTK_SCALE_SQRT_D, alpha, D4);
            double K1[9], K2[9];
            kernels(&cfg, X, 3, NULL, 0, quad, 128, K1, K2);
            int finite = 1;
            for (int k = 0; k < 9; k++) finite &= isfinite(K1[k]) && isfinite(K2[k]);
            CHECK(finite, "%s quad=%d: non-finite entry with a zero input", ntk_act_name(kinds[t]),
                  quad);
            ntk_act act = cfg.act;
            double phi0 = ntk_act_phi(act, 0.0);
            CHECK_CLOSE(K2[0], alpha * alpha * phi0 * phi0, 1e-13, "%s quad=%d Θ2(0,0)",
                        ntk_act_name(kinds[t]), quad);
            for (int j = 0; j < 3; j++)
                CHECK(K1[j] == 0.0 && K1[3 * j] == 0.0, "%s quad=%d Θ1(0,%d) = %g, expected 0",
                      ntk_act_name(kinds[t]), quad, j, K1[j]);
            for (int j = 1; j < 3; j++) {
                double q2 = 0;
                for (int k = 0; k < D4; k++) q2 += X[j * D4 + k] * X[j * D4 + k];
                q2 /= s * s;
                const int M = 24000;
                double h = 24.0 / M, E = 0;
                for (int k = 0; k <= M; k++) {
                    double g = -12.0 + k * h;
                    double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
                    E += wk * norm_pdf(g) * ntk_act_phi(act, sqrt(q2) * g);
                }
                E *= h / 3.0;
                /* kinked φ: Simpson across 0 is exact only to O(h²) there. */
                CHECK_CLOSE(K2[j], alpha * alpha * phi0 * E, 1e-9, "%s quad=%d Θ2(0,x%d)",
                            ntk_act_name(kinds[t]), quad, j);
                CHECK(K2[j] == K2[3 * j], "%s: Θ2 not symmetric at a zero input",
                      ntk_act_name(kinds[t]));
            }
        }
    }
    /* relu: Θ(εx, x') = ε Θ(x, x') exactly in the closed form, so it tends to Θ(0, x') = 0 */
    ntk_net_config cfg = make_cfg(NTK_ACT_RELU, 0, NTK_SCALE_SQRT_D, 1.0, D4);
    double Xe[D4], K[2], K0[2];
    for (int k = 0; k < D4; k++) Xe[k] = 1e-9 * X[D4 + k];
    CHECK_OK(ntk_kernel_infinite(&cfg, Xe, 1, X + D4, 2, 1, 1, 0, K));
    CHECK_OK(ntk_kernel_infinite(&cfg, X + D4, 1, X + D4, 2, 1, 1, 0, K0));
    CHECK_CLOSE(K[0], 1e-9 * K0[0], 1e-15, "relu Θ(εx,x)");
    CHECK_CLOSE(K[1], 1e-9 * K0[1], 1e-15, "relu Θ(εx,x')");
}

/* General norms: relu Θ is positively homogeneous of degree 1 in each
 * argument (Σ ~ √(qq'), c Σ' ~ c); a cross block with rows scaled by t is
 * t times the unscaled one. */
static void test_homogeneity(void)
{
    for (int t = 0; t < 2; t++) {
        ntk_net_config cfg = make_cfg(t ? NTK_ACT_LEAKY_RELU : NTK_ACT_RELU, 0.3, NTK_SCALE_SQRT_D,
                                      1.0, D4);
        double Xt[N5 * D4], K[N5 * N5], Kt[N5 * N5], ref[N5 * N5];
        for (int k = 0; k < N5 * D4; k++) Xt[k] = 2.5 * X5[k];
        CHECK_OK(ntk_kernel_infinite(&cfg, X5, N5, X5, N5, 1, 1, 0, K));
        CHECK_OK(ntk_kernel_infinite(&cfg, Xt, N5, X5, N5, 1, 1, 0, Kt));
        for (int k = 0; k < N5 * N5; k++) ref[k] = 2.5 * K[k];
        double e = t_max_rel_err(Kt, ref, N5 * N5);
        CHECK(e <= 1e-14, "%s: Θ(2.5x,x') vs 2.5Θ(x,x'): %.3g", ntk_act_name(cfg.act.kind), e);
    }
}

/* s = 1 on X/√d equals s = √d on X; α scales by α²; K is linear in (c1,c2). */
static void test_scales(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_TANH, NTK_ACT_IDENTITY};
    for (int t = 0; t < 4; t++) {
        ntk_net_config a = make_cfg(kinds[t], 0, NTK_SCALE_SQRT_D, 1.0, D4);
        ntk_net_config b = make_cfg(kinds[t], 0, NTK_SCALE_ONE, 1.0, D4);
        double Xs[N5 * D4], K[N5 * N5], Kb[N5 * N5], K3[N5 * N5], K1[N5 * N5], K2[N5 * N5];
        for (int k = 0; k < N5 * D4; k++) Xs[k] = X5[k] / sqrt((double)D4);
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 1, 0, K));
        CHECK_OK(ntk_kernel_infinite(&b, Xs, N5, NULL, 0, 1, 1, 0, Kb));
        double e = t_max_rel_err(Kb, K, N5 * N5);
        CHECK(e <= 1e-13, "%s: s=1 on X/√d vs s=√d on X: %.3g", ntk_act_name(kinds[t]), e);
        a.alpha = 3.0;
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 1, 0, K3));
        for (int k = 0; k < N5 * N5; k++) Kb[k] = 9.0 * K[k];
        e = t_max_rel_err(K3, Kb, N5 * N5);
        CHECK(e <= 1e-14, "%s: α = 3 vs 9·(α = 1): %.3g", ntk_act_name(kinds[t]), e);
        a.alpha = 1.0;
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 0, 0, K1));
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 0, 1, 0, K2));
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 0.3, 1.7, 0, K3));
        for (int k = 0; k < N5 * N5; k++) Kb[k] = 0.3 * K1[k] + 1.7 * K2[k];
        e = t_max_rel_err(K3, Kb, N5 * N5);
        CHECK(e <= 1e-14, "%s: K(0.3,1.7) vs 0.3Θ1 + 1.7Θ2: %.3g", ntk_act_name(kinds[t]), e);
        for (int k = 0; k < N5 * N5; k++) Kb[k] = K1[k] + K2[k];
        e = t_max_rel_err(K, Kb, N5 * N5);
        CHECK(e <= 1e-14, "%s: ntk vs Θ1 + Θ2: %.3g", ntk_act_name(kinds[t]), e);
    }
}

static void random_points(ntk_rng *rng, double *X, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        double r = 0.3 + 2.0 * ntk_rng_uniform(rng);   /* row norms vary */
        for (size_t k = 0; k < d; k++) X[i * d + k] = r * ntk_rng_normal(rng);
    }
}

/* X2 == NULL gives an exactly symmetric K equal to the cross K(X,X); a cross
 * block K(X1,X2) is the off-diagonal block of the symmetric K([X1;X2]).
 * Quadrature is not exactly symmetric in (x, x') (the rule treats g1 and g2
 * differently), so gelu runs at order 256, where its error is ≪ 1e-13. */
static void test_symmetry_and_blocks(void)
{
    enum { A = 7, B = 4, D = 6, T = A + B };
    ntk_rng rng;
    ntk_rng_seed(&rng, 7);
    double X[T * D];
    random_points(&rng, X, T, D);
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_GELU};
    for (int t = 0; t < 4; t++) {
        ntk_net_config cfg = make_cfg(kinds[t], 0.1, NTK_SCALE_SQRT_D, 1.4, D);
        double Ks[T * T], Kc[T * T], Kab[A * B];
        CHECK_OK(ntk_kernel_infinite(&cfg, X, T, NULL, 0, 1, 0.5, 256, Ks));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, T, X, T, 1, 0.5, 256, Kc));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, A, X + A * D, B, 1, 0.5, 256, Kab));
        int sym = 1;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) sym &= Ks[i * T + j] == Ks[j * T + i];
        CHECK(sym, "%s: symmetric block not exactly symmetric", ntk_act_name(kinds[t]));
        double e = t_max_rel_err(Ks, Kc, T * T);
        CHECK(e <= 1e-13, "%s: K(X) vs K(X,X): %.3g", ntk_act_name(kinds[t]), e);
        double blk[A * B];
        for (int i = 0; i < A; i++)
            for (int j = 0; j < B; j++) blk[i * B + j] = Ks[i * T + A + j];
        e = t_max_rel_err(Kab, blk, A * B);
        CHECK(e <= 1e-13, "%s: cross block vs block of K([X1;X2]): %.3g", ntk_act_name(kinds[t]),
              e);
    }
}

/* λ_min(K) ≥ −1e-12·λ_max (dsyev) on 30 random points of varied norms. */
static void test_psd(void)
{
    enum { N = 30, D = 5 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    double X[N * D];
    random_points(&rng, X, N, D);
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_TANH,
                                  NTK_ACT_SIGMOID, NTK_ACT_IDENTITY};
    for (int t = 0; t < 6; t++)
        for (int part = 0; part < 3; part++) {
            ntk_net_config cfg = make_cfg(kinds[t], 0.25, NTK_SCALE_SQRT_D, 1.0, D);
            double c1 = part != 1, c2 = part != 0;
            double K[N * N], ev[N];
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, c1, c2, 0, K));
            int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', N, K, N, ev);
            CHECK(info == 0, "dsyev info %d", info);
            CHECK(ev[0] >= -1e-12 * ev[N - 1], "%s (c1,c2)=(%g,%g): λmin %.3g, λmax %.3g",
                  ntk_act_name(kinds[t]), c1, c2, ev[0], ev[N - 1]);
        }
}

/* Results do not depend on the thread count (entries are computed alone). */
static void test_threads(void)
{
    enum { N = 40, M = 9, D = 3 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    double X[N * D], Y[M * D];
    random_points(&rng, X, N, D);
    random_points(&rng, Y, M, D);
    const ntk_act_kind kinds[] = {NTK_ACT_TANH, NTK_ACT_RELU};
    int saved = ntk_get_threads();
    for (int t = 0; t < 2; t++) {
        ntk_net_config cfg = make_cfg(kinds[t], 0, NTK_SCALE_SQRT_D, 1.0, D);
        static double K1[N * N], K4[N * N], C1[N * M], C4[N * M];
        ntk_set_threads(1);
        CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, 1, 1, 0, K1));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, N, Y, M, 1, 1, 0, C1));
        ntk_set_threads(4);
        CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, 1, 1, 0, K4));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, N, Y, M, 1, 1, 0, C4));
        CHECK(memcmp(K1, K4, sizeof K1) == 0, "%s: symmetric K differs between 1 and 4 threads",
              ntk_act_name(kinds[t]));
        CHECK(memcmp(C1, C4, sizeof C1) == 0, "%s: cross K differs between 1 and 4 threads",
              ntk_act_name(kinds[t]));
    }
    ntk_set_threads(saved);
}

static void test_errors(void)
{
    ntk_net_config cfg = make_cfg(NTK_ACT_TANH, 0, NTK_SCALE_SQRT_D, 1.0, D4);
    double K[N5 * N5];
    CHECK_ERR(ntk_kernel_infinite(NULL, X5, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite(&cfg, NULL, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite(&cfg, X5, N5, NULL, 0, 1, 1, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite(&cfg, X5, N5, NULL, 0, 1, 1, 1, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite(&cfg, X5, N5, NULL, 0, 1, 1, -5, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite_quad(&cfg, X5, N5, NULL, 0, 1, 1, 100000, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_infinite(&cfg, X5, N5, NULL, 0, NAN, 1, 0, K), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "c1") != NULL, "message names the coefficients: %s", ntk_errmsg());
    double Xbad[N5 * D4];
    memcpy(Xbad, X5, sizeof Xbad);
    Xbad[7] = NAN;
    CHECK_ERR(ntk_kernel_infinite(&cfg, Xbad, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_kernel_infinite(&cfg, X5, N5, Xbad, N5, 1, 1, 0, K), NTK_ERR_NONFINITE);
    ntk_net_config bad = cfg;
    bad.alpha = 0.0;
    CHECK_ERR(ntk_kernel_infinite(&bad, X5, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    bad = cfg;
    bad.d = 0;
    CHECK_ERR(ntk_kernel_infinite(&bad, X5, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    bad = cfg;
    bad.act.kind = NTK_ACT_COUNT;
    CHECK_ERR(ntk_kernel_infinite(&bad, X5, N5, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    /* empty inputs are fine and write nothing; m plays no part */
    cfg.m = 0;
    K[0] = 42.0;
    CHECK_OK(ntk_kernel_infinite(&cfg, X5, 0, NULL, 0, 1, 1, 0, K));
    CHECK_OK(ntk_kernel_infinite(&cfg, X5, N5, X5, 0, 1, 1, 0, K));
    CHECK(K[0] == 42.0, "empty block wrote to K");
}

int main(void)
{
    ntk_set_threads(1);
    test_piecewise_vs_conditional();
    test_closed_vs_quadrature();
    test_smooth_vs_trapezoid();
    test_monte_carlo();
    test_zero_input();
    test_homogeneity();
    test_scales();
    test_symmetry_and_blocks();
    test_psd();
    test_threads();
    test_errors();
    return t_finish();
}
