/* Infinite-width kernels (docs/theory.md §3) against independent oracles:
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
#include "internal.h"
#include "quadrature.h"   /* private: the Gauss–Hermite rule, for its error bounds */

#include <float.h>
#include <lapacke.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double norm_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }
static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* ---- Tolerances --------------------------------------------------------
 * Rounding. A closed form evaluates a few elementary functions of q, q', c
 * (each computed from d products) and the angle θ; arccos loses accuracy as
 * sin θ → 0, which kernel_inf.c avoids below sin θ ≈ √(2·1e-4) by taking θ
 * from the unit vectors. With κ = α²·M²·(√(qq') + Σ_k|x_k x'_k|/(s² sin θ_e)),
 * M = max(1, |a|), sin θ_e = max(sin θ, √(2e-4)) (round_scale below), an
 * entry is within C_ROUND·(d + ACT_ULP)·ε·κ of the exact kernel of its
 * rounded inputs; a quadrature adds 2N·ε of Σ|terms| ≤ √(K_ii K_jj) for N
 * nodes (each inner and outer sum; Cauchy–Schwarz). ACT_ULP covers libm's
 * erf, erfc, tanh, exp, acos, asin (a few ulp each).
 *
 * Quadrature of kinked activations. For a Gauss rule (nodes x_i, weights
 * w_i) the Chebyshev–Markov–Stieltjes inequalities bound its error on a
 * step, K0(t) = Q[H(g − t)] − P(g > t), by the weights next to t; and by
 * the Peano kernel theorem (the rule is exact on linear functions)
 *   Q[f] − E[f] = ∫ K1(t) df'(t),   K1(t) = Q[(g − t)₊] − E[(g − t)₊].
 * gh_peano computes k0 = max|K0|, k1 = max|K1|, k1i0 = ∫|K1|, k1i1 = ∫|K1||t|
 * from the rule itself; kink_bounds turns them into bounds for leaky relu's
 * Σ' (φ' has a jump) and Σ (φ has a kink), inner and outer sums of the
 * tensor rule. */
#define C_ROUND 4.0
#define ACT_ULP 8.0
#define SIN_NEAR_PARALLEL 0.0141421356   /* √(2·1e-4): kernel_inf.c NEAR_PARALLEL */

/* κ for the pair (x, y) (d), s the input scale: see above */
static double round_scale(const double *x, const double *y, size_t d, double s, double alpha,
                          double M)
{
    double a = 0, b = 0, ab = 0, abs_ab = 0;
    for (size_t k = 0; k < d; k++) {
        a += x[k] * x[k];
        b += y[k] * y[k];
        ab += x[k] * y[k];
        abs_ab += fabs(x[k] * y[k]);
    }
    double k = sqrt(a * b), rho = k > 0 ? ab / k : 0.0;
    double sin_t = fmax(sqrt(fmax(0.0, 1.0 - rho * rho)), SIN_NEAR_PARALLEL);
    return alpha * alpha * M * M * (k + abs_ab / sin_t) / (s * s);
}

/* tolerance from κ: rounding of a closed form with N quadrature nodes (0: none) */
static double round_tol(double kappa, size_t d, int N)
{
    return C_ROUND * ((double)d + ACT_ULP + 2.0 * N) * DBL_EPSILON * kappa;
}

typedef struct {
    double k0, k1, k1i0, k1i1;
} gh_consts;

static gh_consts gh_peano(int N)
{
    gh_consts c = {0, 0, 0, 0};
    double *x = malloc(N * sizeof(double)), *w = malloc(N * sizeof(double));
    double *S0 = malloc((N + 1) * sizeof(double)), *S1 = malloc((N + 1) * sizeof(double));
    CHECK_OK(ntk_gauss_hermite(N, x, w));
    S0[N] = S1[N] = 0.0;   /* suffix sums: Σ_{i≥k} w_i, Σ_{i≥k} w_i x_i */
    for (int k = N - 1; k >= 0; k--) {
        S0[k] = S0[k + 1] + w[k];
        S1[k] = S1[k + 1] + w[k] * x[k];
    }
    for (int k = 0; k < N; k++) {   /* K0 is monotone between nodes: its ends */
        double tail = norm_cdf(-x[k]);
        c.k0 = fmax(c.k0, fmax(fabs(S0[k] - tail), fabs(S0[k + 1] - tail)));
    }
    /* K1 on 64 points per gap (and 10 beyond the outer nodes), trapezoid */
    const int P = 64;
    double tprev = 0, fprev = 0;
    for (int k = 0; k <= N; k++) {
        double lo = k ? x[k - 1] : x[0] - 10.0, hi = k < N ? x[k] : x[N - 1] + 10.0;
        for (int j = (k ? 1 : 0); j <= P; j++) {
            double t = lo + (hi - lo) * j / P;
            /* nodes above t are i ≥ k (t = x_k itself: (x_k − t)₊ = 0 either way) */
            double K1 = S1[k] - t * S0[k] - (norm_pdf(t) - t * norm_cdf(-t));
            double f = fabs(K1);
            c.k1 = fmax(c.k1, f);
            if (k || j) {
                c.k1i0 += 0.5 * (f + fprev) * (t - tprev);
                c.k1i1 += 0.5 * (f * fabs(t) + fprev * fabs(tprev)) * (t - tprev);
            }
            tprev = t, fprev = f;
        }
    }
    c.k1 *= 1.01;   /* sampling may miss the top of a gap's bump by O(1/P²) */
    free(x), free(w), free(S0), free(S1);
    return c;
}

/* Bounds on the N-node tensor rule's error for leaky relu with slope a at
 * (q, q', c), α² included: *b1 for Θ1 = α²cΣ', *b2 for Θ2 = α²Σ. With
 * u = √q g1, u' = μ + σ g2 (μ = √q' ρ g1, σ = √q' sin θ):
 *   Σ': inner steps in g2, |1 − a|·k0 each; outer F = φ'(u)·E[φ'(u')|g1] of
 *       total variation ≤ |1 − a|(1 + |a| + |1 + a|/2), times k0;
 *   Σ:  inner kinks, |1 − a|σ·K1 each, weighted by Q[|φ(u)|] ≤ M√q; outer
 *       F = φ(u)·G, G = E[φ(u')|g1]: F' jumps by √q(1 − a)²σ/√(2π) at 0,
 *       and |F''| ≤ 2√(qq')|ρ|M² + M√q|t|·q'ρ²|1 − a|/(σ√(2π)) elsewhere;
 *   the same point (q = q', θ = 0, a one-dimensional rule): φ'² is a step
 *       of height |1 − a²|, φ² has |f''| ≤ 2qM². */
static void kink_bounds(double a, double alpha, double q1, double q2, double c,
                        const gh_consts *g, double *b1, double *b2)
{
    double M = fmax(1.0, fabs(a)), ja = fabs(1.0 - a), a2 = alpha * alpha;
    double k = sqrt(q1 * q2), rho = k > 0 ? c / k : 0.0;
    double sin_t = sqrt(fmax(0.0, 1.0 - rho * rho)), sig = sqrt(q2) * sin_t;
    if (sig < SIN_NEAR_PARALLEL * sqrt(q2)) {   /* the diagonal: one-dimensional */
        *b1 = a2 * fabs(c) * fabs(1.0 - a * a) * g->k0;
        *b2 = a2 * 2.0 * q1 * M * M * g->k1i0;
        return;
    }
    double s2pi = sqrt(2.0 * M_PI);
    *b1 = a2 * fabs(c) * ja * g->k0 * (M + 1.0 + fabs(a) + fabs(1.0 + a) / 2.0);
    *b2 = a2 * (ja * sig * g->k1 * M * sqrt(q1) + sqrt(q1) * ja * ja * sig / s2pi * g->k1 +
                2.0 * k * fabs(rho) * M * M * g->k1i0 +
                M * sqrt(q1) * q2 * rho * rho * ja / (sig * s2pi) * g->k1i1);
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
 * Error bound *eS, *edS: |S_h − S_2h| (Simpson's error is (S_h − S_2h)/15
 * for smooth integrands; no /15 here) plus the rounding of the 2M-term
 * sums, 2M·ε·Σ|terms|; the tails beyond 12 weigh < 1e-32.
 * ---------------------------------------------------------------- */
static void oracle_leaky(double a, double q1, double q2, double c, double *Sigma, double *dSigma,
                         double *eS, double *edS)
{
    double rho = c / sqrt(q1 * q2);
    double sig = sqrt(q2) * sqrt(1.0 - rho * rho);
    const int M = 24000;   /* intervals per half, h = 5e-4 */
    const double L = 12.0, h = L / M;
    double S = 0, dS = 0, S2 = 0, dS2 = 0, Sa = 0, dSa = 0;
    for (int half = 0; half < 2; half++) {
        double sgn = half ? -1.0 : 1.0, slope = half ? a : 1.0;
        for (int k = 0; k <= M; k++) {
            double g = sgn * k * h;
            double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
            int kk = k / 2;   /* the rule with step 2h on the even points */
            double w2 = k % 2 ? 0.0 : (kk == 0 || kk == M / 2) ? 2.0 : (kk % 2 ? 8.0 : 4.0);
            double mu = sqrt(q2) * rho * g;
            double rp = mu * norm_cdf(mu / sig) + sig * norm_pdf(mu / sig);
            double rm = -mu * norm_cdf(-mu / sig) + sig * norm_pdf(mu / sig);
            double Ephi = rp - a * rm;
            double Edphi = norm_cdf(mu / sig) + a * norm_cdf(-mu / sig);
            double f = norm_pdf(g) * slope * sqrt(q1) * g * Ephi, df = norm_pdf(g) * slope * Edphi;
            S += wk * f, dS += wk * df, S2 += w2 * f, dS2 += w2 * df;
            Sa += wk * fabs(f), dSa += wk * fabs(df);
        }
    }
    *Sigma = S * h / 3.0;
    *dSigma = dS * h / 3.0;
    *eS = fabs(S - S2) * h / 3.0 + 2.0 * M * DBL_EPSILON * Sa * h / 3.0;
    *edS = fabs(dS - dS2) * h / 3.0 + 2.0 * M * DBL_EPSILON * dSa * h / 3.0;
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
 * the diagonal Σ(x,x) = q(1+a²)/2, Σ'(x,x) = (1+a²)/2; tolerance: the
 * oracle's error bound plus the closed form's rounding (Tolerances). */
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
        double s = sqrt((double)D4), a2 = alpha * alpha;
        for (size_t i = 0; i < N5; i++)
            for (size_t j = 0; j < N5; j++) {
                double q1, q2, c, S, dS, eS = 0, edS = 0;
                pair_stats(X5, i, j, D4, s, &q1, &q2, &c);
                if (i == j) {
                    S = q1 * (1 + a * a) / 2;   /* E[φ(u)²] */
                    dS = (1 + a * a) / 2;       /* E[φ'(u)²] */
                } else {
                    oracle_leaky(a, q1, q2, c, &S, &dS, &eS, &edS);
                }
                double rt = round_tol(
                    round_scale(X5 + i * D4, X5 + j * D4, D4, s, alpha, fmax(1.0, fabs(a))), D4, 0);
                CHECK_LE(fabs(K1[i * N5 + j] - a2 * c * dS), a2 * fabs(c) * edS + rt,
                         "%s a=%g Θ1 (%zu,%zu)", ntk_act_name(kinds[t]), a, i, j);
                CHECK_LE(fabs(K2[i * N5 + j] - a2 * S), a2 * eS + rt, "%s a=%g Θ2 (%zu,%zu)",
                         ntk_act_name(kinds[t]), a, i, j);
            }
    }
}

/* Closed forms vs 2-D Gauss–Hermite, entry by entry. identity: polynomial
 * of degree 2, exact at any order ≥ 2: rounding only. erf: analytic, the
 * rule converges faster than geometrically, so the change from order N to
 * 2N bounds the error at N (twice it, for safety). relu/leaky: φ' jumps,
 * and the rule's error is bounded through the Chebyshev–Markov–Stieltjes
 * inequalities and the Peano kernel (kink_bounds; about 1/√order for Θ1
 * and 1/order for Θ2). Each plus the rounding bound. */
static void test_closed_vs_quadrature(void)
{
    struct {
        ntk_act_kind kind;
        double a;
        int order;
    } cases[] = {
        {NTK_ACT_ERF, 0, 200},         {NTK_ACT_IDENTITY, 0, 4},
        {NTK_ACT_RELU, 0, 1024},       {NTK_ACT_LEAKY_RELU, 0.2, 1024},
        {NTK_ACT_LEAKY_RELU, -0.3, 1024},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int N = cases[t].order, kinked = cases[t].kind != NTK_ACT_ERF &&
                                          cases[t].kind != NTK_ACT_IDENTITY;
        gh_consts gc = {0, 0, 0, 0};
        if (kinked) gc = gh_peano(N);
        for (int sc = 0; sc < 2; sc++) {
            const double alpha = 1.3, a = cases[t].a;
            ntk_net_config cfg = make_cfg(cases[t].kind, a, sc ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D,
                                          alpha, D4);
            double X[N5 * D4], s = sc ? 1.0 : sqrt((double)D4);
            for (int k = 0; k < N5 * D4; k++) X[k] = sc ? 0.5 * X5[k] : X5[k];
            double K1[N5 * N5], K2[N5 * N5], Q1[N5 * N5], Q2[N5 * N5], R1[N5 * N5], R2[N5 * N5];
            double B1[N5 * N5], B2[N5 * N5];
            kernels(&cfg, X, N5, NULL, 0, 0, 0, K1, K2);
            kernels(&cfg, X, N5, NULL, 0, 1, N, Q1, Q2);
            if (cases[t].kind == NTK_ACT_ERF) kernels(&cfg, X, N5, NULL, 0, 1, 2 * N, R1, R2);
            for (size_t i = 0; i < N5; i++)
                for (size_t j = 0; j < N5; j++) {
                    size_t e = i * N5 + j;
                    double q1, q2, c, rt = round_tol(round_scale(X + i * D4, X + j * D4, D4, s,
                                                                 alpha, fmax(1.0, fabs(a))),
                                                     D4, N);
                    pair_stats(X, i, j, D4, s, &q1, &q2, &c);
                    B1[e] = B2[e] = rt;
                    if (cases[t].kind == NTK_ACT_ERF) {
                        B1[e] += 2.0 * fabs(Q1[e] - R1[e]);
                        B2[e] += 2.0 * fabs(Q2[e] - R2[e]);
                    } else if (kinked) {
                        double b1, b2;
                        kink_bounds(a, alpha, q1, q2, c, &gc, &b1, &b2);
                        B1[e] += b1, B2[e] += b2;
                    }
                }
            CHECK_LE(bound_ratio(Q1, K1, B1, N5 * N5), 1.0,
                     "%s a=%g scale %d: Θ1 quadrature error / bound", ntk_act_name(cases[t].kind),
                     a, sc);
            CHECK_LE(bound_ratio(Q2, K2, B2, N5 * N5), 1.0,
                     "%s a=%g scale %d: Θ2 quadrature error / bound", ntk_act_name(cases[t].kind),
                     a, sc);
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
 * apart; tanh's poles at ±iπ/(2√q) limit it most). For analytic integrands
 * the rule converges faster than geometrically, so the change from order N
 * to 2N bounds the error at order 2N (checked: order 512 on X5, q up to 3.1)
 * and, doubled, at order N (checked: the default order 64 on points with
 * ‖x‖² = d, q = 1, the usual normalisation; tanh is the slowest, ~1e-7). The
 * trapezoid rule's own error exp(−2πτ/hs) is < 1e-40 for every activation
 * here (τ ≥ π/(2√q), the half-width of the strip where the integrand is
 * analytic), so beyond that only the roundings (Tolerances) count. */
static void test_smooth_vs_trapezoid(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_ERF, NTK_ACT_TANH, NTK_ACT_SIGMOID, NTK_ACT_SOFTPLUS,
                                  NTK_ACT_GELU};
    const double alpha = 0.8, s = sqrt((double)D4);
    const int NT = 2 * 220 + 1;   /* trapezoid nodes per axis: 2·L/hs + 1 */
    double Xn[N5 * D4];   /* X5 rows rescaled to ‖x‖ = √d */
    for (size_t i = 0; i < N5; i++) {
        double nr = 0;
        for (size_t k = 0; k < D4; k++) nr += X5[i * D4 + k] * X5[i * D4 + k];
        for (size_t k = 0; k < D4; k++) Xn[i * D4 + k] = X5[i * D4 + k] * sqrt(D4 / nr);
    }
    for (int t = 0; t < 5; t++) {
        ntk_net_config cfg = make_cfg(kinds[t], 0, NTK_SCALE_SQRT_D, alpha, D4);
        const char *nm = ntk_act_name(kinds[t]);
        for (int def = 0; def < 2; def++) {
            const double *X = def ? Xn : X5;
            int N = def ? 64 : 512, N2 = def ? 128 : 256;
            double Q1[N5 * N5], Q2[N5 * N5], P1[N5 * N5], P2[N5 * N5], R1[N5 * N5], R2[N5 * N5];
            double B1[N5 * N5], B2[N5 * N5];
            kernels(&cfg, X, N5, NULL, 0, 1, def ? 0 : N, Q1, Q2);
            kernels(&cfg, X, N5, NULL, 0, 1, N2, P1, P2);
            trapezoid_kernels(cfg.act, alpha, X, N5, D4, R1, R2);
            for (size_t i = 0; i < N5; i++)
                for (size_t j = 0; j < N5; j++) {
                    size_t e = i * N5 + j;
                    double kap = round_scale(X + i * D4, X + j * D4, D4, s, alpha, 1.0);
                    double rt = round_tol(kap, D4, N) + round_tol(kap, D4, NT);
                    double f = def ? 2.0 : 1.0;
                    B1[e] = rt + f * fabs(Q1[e] - P1[e]);
                    B2[e] = rt + f * fabs(Q2[e] - P2[e]);
                }
            CHECK_LE(bound_ratio(Q1, R1, B1, N5 * N5), 1.0, "%s Θ1 order %d vs trapezoid", nm, N);
            CHECK_LE(bound_ratio(Q2, R2, B2, N5 * N5), 1.0, "%s Θ2 order %d vs trapezoid", nm, N);
        }
    }
}

/* Monte Carlo: m = 2^16 neurons w_r ~ N(0,I), v_r ~ N(0,1); per pair the
 * samples t1_r = α² c φ'(z_ir)φ'(z_jr) v_r² and t2_r = α² φ(z_ir)φ(z_jr)
 * have means Θ1∞, Θ2∞. Pass when |mean − Θ∞| ≤ 6·sd/√m (sd the sample
 * standard deviation): a false alarm has probability ~2e-9 per check, ~1e-6
 * over the ~600 checks (the seeds are fixed, so the draw, and the outcome,
 * do not change between runs or machines). Added: the rounding of the mean
 * of m terms, m·ε·mean|t| (twice: the empirical kernel sums in another
 * order), the closed form's rounding, and for the quadrature-based tanh and
 * softplus twice the change from the default order 64 to 128 (Tolerances).
 * ntk_kernel_empirical on the same weights computes the same means (docs/theory.md
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
    int quad = !(act.kind == NTK_ACT_RELU || act.kind == NTK_ACT_LEAKY_RELU ||
                 act.kind == NTK_ACT_ERF || act.kind == NTK_ACT_IDENTITY);
    double *G1 = malloc(n * n * sizeof(double)), *G2 = malloc(n * n * sizeof(double));
    if (quad) kernels(&cfg, X, n, NULL, 0, 1, 128, G1, G2);
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
            double m1 = 0, ss1 = 0, m2 = 0, ss2 = 0, a1 = 0, a2 = 0;
            for (size_t r = 0; r < m; r++) {
                double t1 = alpha * alpha * c * DP[i * m + r] * DP[j * m + r] * v[r] * v[r];
                double t2 = alpha * alpha * P[i * m + r] * P[j * m + r];
                m1 += t1;
                ss1 += t1 * t1;
                a1 += fabs(t1);
                m2 += t2;
                ss2 += t2 * t2;
                a2 += fabs(t2);
            }
            m1 /= (double)m;
            m2 /= (double)m;
            double sd1 = sqrt(fmax(ss1 / (double)m - m1 * m1, 0.0));
            double sd2 = sqrt(fmax(ss2 / (double)m - m2 * m2, 0.0));
            double M = fmax(1.0, fabs(act.param));
            double rt = round_tol(round_scale(X + i * d, X + j * d, d, s, alpha, M), d, 0);
            double ge = (double)(m + d) * DBL_EPSILON / (double)m;   /* per Σ|t| */
            double tol1 = 6 * sd1 / sqrt((double)m) + 2 * ge * a1 + rt;
            double tol2 = 6 * sd2 / sqrt((double)m) + 2 * ge * a2 + rt;
            if (quad) {
                tol1 += 2 * fabs(K1[i * n + j] - G1[i * n + j]);
                tol2 += 2 * fabs(K2[i * n + j] - G2[i * n + j]);
            }
            CHECK_LE(fabs(m1 - K1[i * n + j]), tol1,
                  "%s scale %d Θ1(%zu,%zu): MC %.6g vs %.6g (tol %.2g)", ntk_act_name(act.kind),
                  (int)sc, i, j, m1, K1[i * n + j], tol1);
            CHECK_LE(fabs(m2 - K2[i * n + j]), tol2,
                  "%s scale %d Θ2(%zu,%zu): MC %.6g vs %.6g (tol %.2g)", ntk_act_name(act.kind),
                  (int)sc, i, j, m2, K2[i * n + j], tol2);
            CHECK_LE(fabs(E1[i * n + j] - K1[i * n + j]), tol1,
                  "%s scale %d Θ1(%zu,%zu): empirical %.6g vs %.6g (tol %.2g)",
                  ntk_act_name(act.kind), (int)sc, i, j, E1[i * n + j], K1[i * n + j], tol1);
            CHECK_LE(fabs(E2[i * n + j] - K2[i * n + j]), tol2,
                  "%s scale %d Θ2(%zu,%zu): empirical %.6g vs %.6g (tol %.2g)",
                  ntk_act_name(act.kind), (int)sc, i, j, E2[i * n + j], K2[i * n + j], tol2);
        }
    free(K1);
    free(K2);
    free(G1);
    free(G2);
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
 * with E by Simpson on [−12,12] (h = 1e-3; g = 0, where relu-like φ have
 * their kink, is a panel boundary, so each panel is smooth: the error is
 * below |S_h − S_2h|, plus 2M·ε·Σ|terms| of rounding); Θ2(0,0) = α² φ(0)².
 * The library's side: rounding (Tolerances), and for the activations
 * without a closed form twice the change of the rule from order 128 to 256.
 * No NaN anywhere. relu: Θ(εx, x') → 0 as ε → 0 continuously (homogeneity
 * of degree 1). */
static void test_zero_input(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_IDENTITY,
                                  NTK_ACT_TANH, NTK_ACT_SIGMOID, NTK_ACT_SOFTPLUS, NTK_ACT_GELU};
    double X[3 * D4] = {0, 0, 0, 0, 1.0, -0.5, 2.0, 0.3, 0.4, 0.4, -1.2, 0.9};
    const double alpha = 1.1, s = sqrt((double)D4);
    for (int t = 0; t < 8; t++) {
        int closed = t < 4;   /* relu, leaky relu, erf, identity */
        for (int quad = 0; quad < 2; quad++) {
            ntk_net_config cfg = make_cfg(kinds[t], 0.1, NTK_SCALE_SQRT_D, alpha, D4);
            double K1[9], K2[9], G1[9], G2[9];
            kernels(&cfg, X, 3, NULL, 0, quad, 128, K1, K2);
            int N = quad || !closed ? 128 : 0;
            if (N) kernels(&cfg, X, 3, NULL, 0, quad, 256, G1, G2);
            int finite = 1;
            for (int k = 0; k < 9; k++) finite &= isfinite(K1[k]) && isfinite(K2[k]);
            CHECK(finite, "%s quad=%d: non-finite entry with a zero input", ntk_act_name(kinds[t]),
                  quad);
            ntk_act act = cfg.act;
            double phi0 = ntk_act_phi(act, 0.0), a2 = alpha * alpha;
            CHECK_LE(fabs(K2[0] - a2 * phi0 * phi0), round_tol(a2 * phi0 * phi0, D4, N),
                     "%s quad=%d Θ2(0,0)", ntk_act_name(kinds[t]), quad);
            for (int j = 0; j < 3; j++)
                CHECK(K1[j] == 0.0 && K1[3 * j] == 0.0, "%s quad=%d Θ1(0,%d) = %g, expected 0",
                      ntk_act_name(kinds[t]), quad, j, K1[j]);
            for (int j = 1; j < 3; j++) {
                double q2 = 0;
                for (int k = 0; k < D4; k++) q2 += X[j * D4 + k] * X[j * D4 + k];
                q2 /= s * s;
                const int M = 24000;
                double h = 24.0 / M, E = 0, E2 = 0, Ea = 0;
                for (int k = 0; k <= M; k++) {
                    double g = -12.0 + k * h;
                    double wk = (k == 0 || k == M) ? 1.0 : (k % 2 ? 4.0 : 2.0);
                    int kk = k / 2;
                    double w2 = k % 2 ? 0.0 : (kk == 0 || kk == M / 2) ? 2.0 : (kk % 2 ? 8.0 : 4.0);
                    double f = norm_pdf(g) * ntk_act_phi(act, sqrt(q2) * g);
                    E += wk * f, E2 += w2 * f, Ea += wk * fabs(f);
                }
                double eE = (fabs(E - E2) + 2.0 * M * DBL_EPSILON * Ea) * h / 3.0;
                E *= h / 3.0;
                double tol = a2 * fabs(phi0) * eE +
                             round_tol(a2 * fabs(phi0) * Ea * h / 3.0, D4, N) +
                             (N ? 2.0 * fabs(K2[j] - G2[j]) : 0.0);
                CHECK_LE(fabs(K2[j] - a2 * phi0 * E), tol, "%s quad=%d Θ2(0,x%d)",
                         ntk_act_name(kinds[t]), quad, j);
                CHECK(K2[j] == K2[3 * j], "%s: Θ2 not symmetric at a zero input",
                      ntk_act_name(kinds[t]));
            }
        }
    }
    /* relu: Θ(εx, x') = ε Θ(x, x') in the closed form, up to rounding (εx
     * is rounded), so it tends to Θ(0, x') = 0 */
    ntk_net_config cfg = make_cfg(NTK_ACT_RELU, 0, NTK_SCALE_SQRT_D, 1.0, D4);
    double Xe[D4], K[2], K0[2];
    for (int k = 0; k < D4; k++) Xe[k] = 1e-9 * X[D4 + k];
    CHECK_OK(ntk_kernel_infinite(&cfg, Xe, 1, X + D4, 2, 1, 1, 0, K));
    CHECK_OK(ntk_kernel_infinite(&cfg, X + D4, 1, X + D4, 2, 1, 1, 0, K0));
    for (int j = 0; j < 2; j++)
        CHECK_LE(fabs(K[j] - 1e-9 * K0[j]),
                 2.0 * round_tol(1e-9 * round_scale(X + D4, X + D4 + j * D4, D4, s, 1.0, 1.0), D4,
                                 0),
                 "relu Θ(εx,x%d)", j + 1);
}

/* General norms: relu Θ is positively homogeneous of degree 1 in each
 * argument (Σ ~ √(qq'), c Σ' ~ c); a cross block with rows scaled by t is
 * t times the unscaled one, up to the rounding of both (2.5x is rounded). */
static void test_homogeneity(void)
{
    const double s = sqrt((double)D4);
    for (int t = 0; t < 2; t++) {
        ntk_net_config cfg = make_cfg(t ? NTK_ACT_LEAKY_RELU : NTK_ACT_RELU, 0.3, NTK_SCALE_SQRT_D,
                                      1.0, D4);
        double Xt[N5 * D4], K[N5 * N5], Kt[N5 * N5], ref[N5 * N5], B[N5 * N5];
        for (int k = 0; k < N5 * D4; k++) Xt[k] = 2.5 * X5[k];
        CHECK_OK(ntk_kernel_infinite(&cfg, X5, N5, X5, N5, 1, 1, 0, K));
        CHECK_OK(ntk_kernel_infinite(&cfg, Xt, N5, X5, N5, 1, 1, 0, Kt));
        for (int i = 0; i < N5; i++)
            for (int j = 0; j < N5; j++) {
                ref[i * N5 + j] = 2.5 * K[i * N5 + j];
                B[i * N5 + j] =
                    2.0 * round_tol(2.5 * round_scale(X5 + i * D4, X5 + j * D4, D4, s, 1.0, 1.0),
                                    D4, 0);
            }
        CHECK_LE(bound_ratio(Kt, ref, B, N5 * N5), 1.0, "%s: Θ(2.5x,x') vs 2.5Θ(x,x') / bound",
                 ntk_act_name(cfg.act.kind));
    }
}

/* s = 1 on X/√d equals s = √d on X (the inputs' rounding apart; tanh: the
 * same order-64 rule); α scales by α² and K is linear in (c1,c2): the same
 * Σ, Σ' combined, K = α²(c1·c·Σ' + c2·Σ) in kernel_inf.c, five roundings of
 * u = ε/2 on each side at most, so 8ε(|c1Θ1| + |c2Θ2|) bounds the gap. */
static void test_scales(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_TANH, NTK_ACT_IDENTITY};
    const double s = sqrt((double)D4), e8 = 8.0 * DBL_EPSILON;
    for (int t = 0; t < 4; t++) {
        ntk_net_config a = make_cfg(kinds[t], 0, NTK_SCALE_SQRT_D, 1.0, D4);
        ntk_net_config b = make_cfg(kinds[t], 0, NTK_SCALE_ONE, 1.0, D4);
        double Xs[N5 * D4], K[N5 * N5], Kb[N5 * N5], K3[N5 * N5], K1[N5 * N5], K2[N5 * N5];
        double B[N5 * N5];
        int N = kinds[t] == NTK_ACT_TANH ? 64 : 0;
        for (int k = 0; k < N5 * D4; k++) Xs[k] = X5[k] / sqrt((double)D4);
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 0, 0, K1));
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 0, 1, 0, K2));
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 1, 0, K));
        CHECK_OK(ntk_kernel_infinite(&b, Xs, N5, NULL, 0, 1, 1, 0, Kb));
        for (int i = 0; i < N5; i++)
            for (int j = 0; j < N5; j++)
                B[i * N5 + j] =
                    2.0 * round_tol(round_scale(X5 + i * D4, X5 + j * D4, D4, s, 1.0, 1.0), D4, N);
        CHECK_LE(bound_ratio(Kb, K, B, N5 * N5), 1.0, "%s: s=1 on X/√d vs s=√d on X / bound",
                 ntk_act_name(kinds[t]));
        a.alpha = 3.0;
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 1, 1, 0, K3));
        for (int k = 0; k < N5 * N5; k++) {
            Kb[k] = 9.0 * K[k];
            B[k] = e8 * 9.0 * (fabs(K1[k]) + fabs(K2[k]));
        }
        CHECK_LE(bound_ratio(K3, Kb, B, N5 * N5), 1.0, "%s: α = 3 vs 9·(α = 1) / bound",
                 ntk_act_name(kinds[t]));
        a.alpha = 1.0;
        CHECK_OK(ntk_kernel_infinite(&a, X5, N5, NULL, 0, 0.3, 1.7, 0, K3));
        for (int k = 0; k < N5 * N5; k++) {
            Kb[k] = 0.3 * K1[k] + 1.7 * K2[k];
            B[k] = e8 * (0.3 * fabs(K1[k]) + 1.7 * fabs(K2[k]));
        }
        CHECK_LE(bound_ratio(K3, Kb, B, N5 * N5), 1.0, "%s: K(0.3,1.7) vs 0.3Θ1 + 1.7Θ2 / bound",
                 ntk_act_name(kinds[t]));
        for (int k = 0; k < N5 * N5; k++) {
            Kb[k] = K1[k] + K2[k];
            B[k] = e8 * (fabs(K1[k]) + fabs(K2[k]));
        }
        CHECK_LE(bound_ratio(K, Kb, B, N5 * N5), 1.0, "%s: ntk vs Θ1 + Θ2 / bound",
                 ntk_act_name(kinds[t]));
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
 * block K(X1,X2) is the off-diagonal block of the symmetric K([X1;X2]). Both
 * up to the rounding of each side; quadrature (gelu, order 256) is not
 * symmetric in (x, x') (the rule treats g1 and g2 differently), so there
 * twice the rule's error, estimated by the change from order 128, is added. */
static void test_symmetry_and_blocks(void)
{
    enum { A = 7, B = 4, D = 6, T = A + B };
    ntk_rng rng;
    ntk_rng_seed(&rng, 7);
    double X[T * D];
    const double s = sqrt((double)D);
    random_points(&rng, X, T, D);
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_GELU};
    for (int t = 0; t < 4; t++) {
        ntk_net_config cfg = make_cfg(kinds[t], 0.1, NTK_SCALE_SQRT_D, 1.4, D);
        double Ks[T * T], Kc[T * T], Kab[A * B], Kh[T * T], Bs[T * T];
        int N = kinds[t] == NTK_ACT_GELU ? 256 : 0;
        CHECK_OK(ntk_kernel_infinite(&cfg, X, T, NULL, 0, 1, 0.5, 256, Ks));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, T, X, T, 1, 0.5, 256, Kc));
        CHECK_OK(ntk_kernel_infinite(&cfg, X, A, X + A * D, B, 1, 0.5, 256, Kab));
        if (N) CHECK_OK(ntk_kernel_infinite(&cfg, X, T, NULL, 0, 1, 0.5, 128, Kh));
        int sym = 1;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                sym &= Ks[i * T + j] == Ks[j * T + i];
                double M = fmax(1.0, 0.1);
                Bs[i * T + j] = 2.0 * round_tol(round_scale(X + i * D, X + j * D, D, s, 1.4, M) *
                                                    1.5 /* c1 + c2 */,
                                                D, N) +
                                (N ? 2.0 * fabs(Ks[i * T + j] - Kh[i * T + j]) : 0.0);
            }
        CHECK(sym, "%s: symmetric block not exactly symmetric", ntk_act_name(kinds[t]));
        CHECK_LE(bound_ratio(Ks, Kc, Bs, T * T), 1.0, "%s: K(X) vs K(X,X) / bound",
                 ntk_act_name(kinds[t]));
        double blk[A * B], bb[A * B];
        for (int i = 0; i < A; i++)
            for (int j = 0; j < B; j++) {
                blk[i * B + j] = Ks[i * T + A + j];
                bb[i * B + j] = Bs[i * T + A + j];
            }
        CHECK_LE(bound_ratio(Kab, blk, bb, A * B), 1.0,
                 "%s: cross block vs block of K([X1;X2]) / bound", ntk_act_name(kinds[t]));
    }
}

/* The exact kernels are positive semi-definite; the computed K is within
 * ΔK of one, |ΔK_ij| ≤ B_ij (rounding; for the quadrature-based tanh and
 * sigmoid twice the change from the default order 64 to 128), so
 * λ_min ≥ −‖ΔK‖_F, less dsyev's own error 4N·ε·λ_max. */
static void test_psd(void)
{
    enum { N = 30, D = 5 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    double X[N * D];
    const double s = sqrt((double)D);
    random_points(&rng, X, N, D);
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_TANH,
                                  NTK_ACT_SIGMOID, NTK_ACT_IDENTITY};
    for (int t = 0; t < 6; t++)
        for (int part = 0; part < 3; part++) {
            ntk_net_config cfg = make_cfg(kinds[t], 0.25, NTK_SCALE_SQRT_D, 1.0, D);
            double c1 = part != 1, c2 = part != 0;
            double K[N * N], Kh[N * N], ev[N];
            int Nq = kinds[t] == NTK_ACT_TANH || kinds[t] == NTK_ACT_SIGMOID ? 64 : 0;
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, c1, c2, 0, K));
            if (Nq) CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, c1, c2, 128, Kh));
            double dk2 = 0.0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) {
                    double b = round_tol(round_scale(X + i * D, X + j * D, D, s, 1.0, 1.0) *
                                             (c1 + c2),
                                         D, Nq) +
                               (Nq ? 2.0 * fabs(K[i * N + j] - Kh[i * N + j]) : 0.0);
                    dk2 += b * b;
                }
            int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', N, K, N, ev);
            CHECK(info == 0, "dsyev info %d", info);
            CHECK_LE(-ev[0], sqrt(dk2) + 4.0 * N * DBL_EPSILON * ev[N - 1],
                     "%s (c1,c2)=(%g,%g): λmin %.3g, λmax %.3g", ntk_act_name(kinds[t]), c1, c2,
                     ev[0], ev[N - 1]);
        }
}

/* ------------------------------------------------------------------
 * Vector widths (kernel_inf.c, "vector widths" and "accuracy"). The
 * closed forms of relu, leaky relu and erf are mapped a block at a time
 * with SLEEF's arccos/arcsin at the widths this CPU runs; width 0 is the
 * libm path entry by entry. Every step but arccos/arcsin is the same IEEE
 * operation in both, so, entry by entry (u = 2^−53, U_v = 3.5 for SLEEF's
 * u35 functions, U_l = 1 for libm; kernel_inf.c derives these):
 *   relu, leaky: |K_vec − K_libm| ≤ u·α²(|c1|+|c2|)√(qq')
 *                                     ·[(1 − a)²(U_v + U_l) + 9(1 + |a|)²]
 *   erf:         |K_vec − K_libm| ≤ u·α²[2(U_v + U_l)|c2|
 *                                       + 8(|c1|√(qq')·Σ'max + |c2|)],
 *                Σ'max = (4/π)/√(1 + 2q + 2q') (the denominator only grows).
 * These are first-order bounds; the factor 1.01 covers the second-order
 * terms (relative u) and q recomputed here in another order (relative
 * (d + 2)u): both far below 1%. The entries kernel_inf.c sends to the
 * libm path (a zero input, |ρ| > 1 − 1e-4) must agree bit for bit: checked
 * for the pairs whose ρ is beyond 1 − 5e-5 here (ρ is known to ~1e-15).
 * ------------------------------------------------------------------ */
#define U_SLEEF 3.5
#define U_LIBM 1.0
#define NLEVELS 4   /* scalar, SSE2, AVX2, AVX-512F (ntk_act_simd_get) */

static double vec_bound(ntk_act act, double alpha, double c1, double c2, double q1, double q2)
{
    const double u = DBL_EPSILON / 2, a2 = alpha * alpha, k = sqrt(q1) * sqrt(q2);
    double b;
    if (act.kind == NTK_ACT_ERF) {
        double dS = 4.0 / M_PI / sqrt(1.0 + 2.0 * q1 + 2.0 * q2);
        b = u * a2 * (2.0 * (U_SLEEF + U_LIBM) * fabs(c2) + 8.0 * (fabs(c1) * k * dS + fabs(c2)));
    } else {
        double a = act.kind == NTK_ACT_LEAKY_RELU ? act.param : 0.0;
        b = u * a2 * (fabs(c1) + fabs(c2)) * k *
            ((1 - a) * (1 - a) * (U_SLEEF + U_LIBM) + 9.0 * (1 + fabs(a)) * (1 + fabs(a)));
    }
    return 1.01 * b;
}

/* n rows of dimension d: mixed scales 1e-3..1e3, zero rows, norms near
 * 1e-150 and 1e150, and (when ref is given) rows nearly parallel or
 * antiparallel to rows of ref at relative offsets from 1e-9 to 1.5e-2
 * (1 − ρ from 5e-19 to ~1e-4, across the library's 1e-4 threshold). */
static void mixed_points(ntk_rng *rng, double *X, size_t n, size_t d, const double *ref,
                         size_t nref)
{
    static const double eps[] = {1e-9, 1e-6, 1e-3, 1.2e-2, 1.4e-2, 1.5e-2};
    for (size_t i = 0; i < n; i++) {
        double *x = X + i * d;
        int type = (int)(i % 10);
        double scale = pow(10.0, -3.0 + 6.0 * ntk_rng_uniform(rng));
        ntk_rng_normal_fill(rng, x, d);
        if ((type == 5 || type == 6) && ref) {
            const double *r = ref + (i % nref) * d;
            double e = eps[(i / 10) % 6], sgn = type == 5 ? 1.0 : -1.0;
            for (size_t k = 0; k < d; k++) x[k] = sgn * scale * (r[k] + e * x[k]);
        } else if (type == 7) {
            for (size_t k = 0; k < d; k++) x[k] = 0.0;
        } else {
            double sc = type == 8 ? 1e-150 : type == 9 ? 1e150 : scale;
            for (size_t k = 0; k < d; k++) x[k] *= sc;
        }
    }
}

/* Width `level` against width 0 for K (n1,n2) of points X1, X2 (X2 == X1
 * with sym: the symmetric block). */
static void vec_compare(int level, ntk_act act, double c1, double c2, const double *X1, size_t n1,
                        const double *X2, size_t n2, size_t d, int sym)
{
    const double alpha = 1.3, s = sqrt((double)d);
    ntk_net_config cfg = make_cfg(act.kind, act.param, NTK_SCALE_SQRT_D, alpha, d);
    double *Kv = malloc(n1 * n2 * sizeof(double)), *Ks = malloc(n1 * n2 * sizeof(double));
    CHECK(ntk_act_simd_set(level) == 0, "width %d", level);
    CHECK_OK(ntk_kernel_infinite(&cfg, X1, n1, sym ? NULL : X2, n2, c1, c2, 0, Kv));
    CHECK(ntk_act_simd_set(0) == 0, "scalar width");
    CHECK_OK(ntk_kernel_infinite(&cfg, X1, n1, sym ? NULL : X2, n2, c1, c2, 0, Ks));
    CHECK(ntk_act_simd_set(level) == 0, "width %d", level);
    double worst = 0.0;
    size_t ndiff = 0, nexact = 0, exact_bad = 0;
    for (size_t i = 0; i < n1; i++)
        for (size_t k = 0; k < n2; k++) {
            const double *x = X1 + i * d, *y = X2 + k * d;
            double q1 = 0, q2 = 0, c = 0;
            for (size_t t = 0; t < d; t++) q1 += x[t] * x[t], q2 += y[t] * y[t], c += x[t] * y[t];
            q1 /= s * s, q2 /= s * s, c /= s * s;
            double kv = Kv[i * n2 + k], ks = Ks[i * n2 + k], e = fabs(kv - ks);
            double r = e == 0.0 ? 0.0 : e / vec_bound(act, alpha, c1, c2, q1, q2);
            if (!(r <= worst)) worst = r;   /* NaN too */
            ndiff += kv != ks;
            double rho = q1 > 0 && q2 > 0 ? c / (sqrt(q1) * sqrt(q2)) : 0.0;
            if (q1 == 0 || q2 == 0 || fabs(rho) > 1 - 5e-5) {
                nexact++;
                exact_bad += kv != ks;
            }
        }
    const char *nm = ntk_act_name(act.kind), *w = ntk_act_simd_name(level);
    CHECK_LE(worst, 1.0, "%s a=%g (c1,c2)=(%g,%g) %s at %s: |K_vec − K_libm| / bound", nm,
             act.param, c1, c2, sym ? "symmetric" : "cross", w);
    CHECK(exact_bad == 0, "%s %s at %s: %zu of %zu zero-input or near-parallel entries differ "
          "from the libm path", nm, sym ? "symmetric" : "cross", w, exact_bad, nexact);
    CHECK(nexact >= n1, "%s: the inputs have only %zu zero-input or near-parallel pairs", nm,
          nexact);
    /* the vector path did run: SLEEF's arccos/arcsin and libm's differ somewhere */
    if (level > 0 && c2 != 0.0)
        CHECK(ndiff > 0, "%s at %s: every entry equals the libm path's", nm, w);
    free(Kv);
    free(Ks);
}

static void test_vector_vs_libm(void)
{
    enum { N1 = 37, N2 = 300, D = 6, NZ = N1 + N2 };   /* N2: two blocks of 128 and a tail */
    ntk_rng rng;
    ntk_rng_seed(&rng, 1414);
    static double Z[NZ * D];
    double *X = Z, *Y = Z + N1 * D;
    mixed_points(&rng, X, N1, D, NULL, 0);
    mixed_points(&rng, Y, N2, D, X, N1);
    const ntk_act acts[] = {{NTK_ACT_RELU, 0}, {NTK_ACT_LEAKY_RELU, 0.2},
                            {NTK_ACT_LEAKY_RELU, -0.7}, {NTK_ACT_ERF, 0}};
    const double cc[3][2] = {{1, 0}, {0, 1}, {0.7, 1.3}};
    for (int level = 1; level < NLEVELS; level++) {
        if (ntk_act_simd_set(level) != 0) continue;
        for (int t = 0; t < 4; t++)
            for (int p = 0; p < 3; p++) {
                vec_compare(level, acts[t], cc[p][0], cc[p][1], X, N1, Y, N2, D, 0);
                vec_compare(level, acts[t], cc[p][0], cc[p][1], Z, NZ, Z, NZ, D, 1);
            }
    }
    ntk_act_simd_set(-1);
}

/* Position: an entry's value does not depend on where its row starts
 * (the symmetric block's row i starts at column i) or on its lane in a
 * vector block. Inputs are multiples of 1/4 with s = 1, so that every
 * c = x·x' and q is exact whatever order the BLAS sums in; then K(X, Y)
 * restricted to columns j0.. equals K(X, Y[j0:]) bit for bit, and the
 * symmetric K(Z) equals K(Z, Z) on and above the diagonal. At every
 * width this CPU runs, for each closed form. */
static void test_position(void)
{
    enum { N1 = 9, N2 = 150, D = 5 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 99);
    static double X[N1 * D], Y[N2 * D], K[N1 * N2], Kj[N1 * N2], S[N2 * N2], C[N2 * N2];
    for (int k = 0; k < N1 * D; k++) X[k] = floor(16.0 * ntk_rng_uniform(&rng) - 8.0) / 4.0;
    for (int k = 0; k < N2 * D; k++) Y[k] = floor(16.0 * ntk_rng_uniform(&rng) - 8.0) / 4.0;
    const ntk_act acts[] = {{NTK_ACT_RELU, 0}, {NTK_ACT_LEAKY_RELU, 0.3}, {NTK_ACT_ERF, 0},
                            {NTK_ACT_IDENTITY, 0}};
    for (int level = 0; level < NLEVELS; level++) {
        if (ntk_act_simd_set(level) != 0) continue;
        for (int t = 0; t < 4; t++) {
            ntk_net_config cfg = make_cfg(acts[t].kind, acts[t].param, NTK_SCALE_ONE, 1.1, D);
            const char *nm = ntk_act_name(acts[t].kind), *w = ntk_act_simd_name(level);
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N1, Y, N2, 1, 0.5, 0, K));
            int same = 1;
            for (int j0 = 1; j0 < 8; j0++) {
                CHECK_OK(ntk_kernel_infinite(&cfg, X, N1, Y + j0 * D, N2 - j0, 1, 0.5, 0, Kj));
                for (int i = 0; i < N1; i++)
                    for (int k = j0; k < N2; k++)
                        same &= K[i * N2 + k] == Kj[i * (N2 - j0) + (k - j0)];
            }
            CHECK(same, "%s at %s: K(X, Y[j0:]) differs from columns j0.. of K(X, Y)", nm, w);
            CHECK_OK(ntk_kernel_infinite(&cfg, Y, N2, NULL, 0, 1, 0.5, 0, S));
            CHECK_OK(ntk_kernel_infinite(&cfg, Y, N2, Y, N2, 1, 0.5, 0, C));
            same = 1;
            for (int i = 0; i < N2; i++)
                for (int k = i; k < N2; k++) same &= S[i * N2 + k] == C[i * N2 + k];
            CHECK(same, "%s at %s: symmetric K(Z) differs from K(Z, Z) above the diagonal", nm, w);
        }
    }
    ntk_act_simd_set(-1);
}

/* Results do not depend on the thread count (entries are computed alone),
 * at every vector width this CPU runs; the cross block (N, M) has rows
 * longer than one map block of kernel_inf.c (128 entries). */
static void test_threads(void)
{
    enum { N = 40, M = 140, D = 3 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    static double X[N * D], Y[M * D];
    random_points(&rng, X, N, D);
    random_points(&rng, Y, M, D);
    const ntk_act acts[] = {{NTK_ACT_TANH, 0}, {NTK_ACT_RELU, 0}, {NTK_ACT_LEAKY_RELU, 0.2},
                            {NTK_ACT_ERF, 0}};
    int saved = ntk_get_threads();
    for (int level = 0; level < NLEVELS; level++) {
        if (ntk_act_simd_set(level) != 0) continue;
        for (int t = 0; t < 4; t++) {
            ntk_net_config cfg = make_cfg(acts[t].kind, acts[t].param, NTK_SCALE_SQRT_D, 1.0, D);
            static double K1[N * N], K4[N * N], C1[N * M], C4[N * M];
            ntk_set_threads(1);
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, 1, 1, 0, K1));
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, Y, M, 1, 1, 0, C1));
            ntk_set_threads(4);
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, NULL, 0, 1, 1, 0, K4));
            CHECK_OK(ntk_kernel_infinite(&cfg, X, N, Y, M, 1, 1, 0, C4));
            CHECK(memcmp(K1, K4, sizeof K1) == 0,
                  "%s at %s: symmetric K differs between 1 and 4 threads",
                  ntk_act_name(acts[t].kind), ntk_act_simd_name(level));
            CHECK(memcmp(C1, C4, sizeof C1) == 0, "%s at %s: cross K differs between 1 and 4 threads",
                  ntk_act_name(acts[t].kind), ntk_act_simd_name(level));
        }
    }
    ntk_act_simd_set(-1);
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

/* The oracle tests of the closed forms at every vector width this CPU runs
 * (the Monte Carlo and trapezoid ones, dominated by their own sampling, at
 * the default width only). */
static void at_every_width(void)
{
    int widest = ntk_act_simd_get();
    printf("widths: default %s\n", ntk_act_simd_name(widest));
    for (int level = 0; level < NLEVELS; level++) {
        if (ntk_act_simd_set(level) != 0) continue;
        int failed = t_failed;
        test_piecewise_vs_conditional();
        test_closed_vs_quadrature();
        test_zero_input();
        test_homogeneity();
        test_scales();
        test_symmetry_and_blocks();
        test_psd();
        if (t_failed > failed)
            fprintf(stderr, "  (the failures above are at width %s)\n", ntk_act_simd_name(level));
        printf("width %s: oracle tests run\n", ntk_act_simd_name(level));
    }
    CHECK(ntk_act_simd_set(-1) == 0 && ntk_act_simd_get() == widest, "back to the widest width");
}

int main(void)
{
    ntk_set_threads(1);
    at_every_width();
    test_smooth_vs_trapezoid();
    test_monte_carlo();
    test_vector_vs_libm();
    test_position();
    test_threads();
    test_errors();
    return t_finish();
}
