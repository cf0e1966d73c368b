/* Empirical NTK (docs/theory.md §2) against J Jᵀ from an explicit per-sample
 * Jacobian, against finite differences of ntk_forward, across tilings. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"

#include <float.h>

static const ntk_act ACTS[] = {
    {NTK_ACT_RELU, 0.0},     {NTK_ACT_LEAKY_RELU, 0.2}, {NTK_ACT_ERF, 0.0},
    {NTK_ACT_TANH, 0.0},     {NTK_ACT_SIGMOID, 0.0},    {NTK_ACT_SOFTPLUS, 0.0},
    {NTK_ACT_GELU, 0.0},     {NTK_ACT_IDENTITY, 0.0},
};
#define NACTS (sizeof ACTS / sizeof ACTS[0])

static double *randn(ntk_rng *rng, size_t count)
{
    double *x = malloc(count * sizeof *x);
    ntk_rng_normal_fill(rng, x, count);
    return x;
}

/* ---- Tolerances --------------------------------------------------------
 * The library and the oracle evaluate the same sums of products of
 * Jacobian entries in different orders (BLAS blocks against plain loops),
 * with the activations evaluated at arguments z = w·x/s that differ by
 * rounding. Entry by entry, the error of either is at most
 *   Σ_p (|J1_p|·e2_p + e1_p·|J2_p|) + γ_N Σ_p |J1_p J2_p|,
 * e_p the error bound of a Jacobian entry: the activation's own evaluation
 * error (ACT_ULP·ε, absolute for φ' and relative to 1 + |z| for φ: libm's
 * erf, tanh, exp, erfc are within a few ulp, and 1 − tanh², σ(1 − σ) lose
 * at most a few ε absolutely), plus |φ'(z)| (resp. |φ''(z)|) times the
 * rounding of z, (d + 1)·ε·Σ_k |w_k x_k|/s; γ_N = (N + 2)·ε for the N = m·d
 * + m terms summed. The tolerance is twice that (library and oracle).
 * (A relu argument within rounding of 0 could flip φ'; with Gaussian data
 * that has probability ~m·n·ε.) */
#define ACT_ULP 8.0

/* X (n,d) -> JW (n, m·d), Jv (n, m): the per-sample gradient of
 * f(x) = α/√m Σ_r v_r φ(w_r·x/s), written out with plain loops:
 *   ∂f/∂w_rk = α/√m v_r φ'(z_r) x_k/s,  ∂f/∂v_r = α/√m φ(z_r),
 * and the entries' error bounds EW, Ev (above). */
static void jacobian(const ntk_net_config *cfg, const double *W, const double *v,
                     const double *X, size_t n, double *JW, double *Jv, double *EW, double *Ev)
{
    size_t m = cfg->m, d = cfg->d;
    double s = cfg->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)d);
    double a = cfg->alpha / sqrt((double)m), eps = DBL_EPSILON;
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < m; r++) {
            double z = 0.0, zabs = 0.0;
            for (size_t k = 0; k < d; k++) {
                z += W[r * d + k] * X[i * d + k];
                zabs += fabs(W[r * d + k] * X[i * d + k]);
            }
            z /= s;
            double dz = (double)(d + 1) * eps * zabs / s;   /* rounding of z */
            double p = ntk_act_phi(cfg->act, z), dp = ntk_act_dphi(cfg->act, z);
            double d2p = ntk_act_d2phi(cfg->act, z);
            Jv[i * m + r] = a * p;
            Ev[i * m + r] = fabs(a) * (ACT_ULP * eps * (1.0 + fabs(z)) + fabs(dp) * dz);
            double g = a * v[r] * dp / s;
            double eg = fabs(a * v[r] / s) * (ACT_ULP * eps + fabs(d2p) * dz);
            for (size_t k = 0; k < d; k++) {
                JW[i * m * d + r * d + k] = g * X[i * d + k];
                EW[i * m * d + r * d + k] = (eg + 3.0 * eps * fabs(g)) * fabs(X[i * d + k]);
            }
        }
    }
}

/* Σ_p (|a_p| e2_p + e1_p |b_p|) + (N + 2)ε Σ_p |a_p b_p| over N entries */
static double pair_bound(const double *a, const double *ea, const double *b, const double *eb,
                         size_t N)
{
    double s = 0.0, sabs = 0.0;
    for (size_t p = 0; p < N; p++) {
        s += fabs(a[p]) * eb[p] + ea[p] * fabs(b[p]);
        sabs += fabs(a[p] * b[p]);
    }
    return s + (double)(N + 2) * DBL_EPSILON * sabs;
}

/* K (n1,n2) = c1·JW1 JW2ᵀ + c2·Jv1 Jv2ᵀ, plain loops, and B (n1,n2) its
 * error bound (above). */
static void jjt(const double *JW1, const double *Jv1, const double *EW1, const double *Ev1,
                size_t n1, const double *JW2, const double *Jv2, const double *EW2,
                const double *Ev2, size_t n2, size_t m, size_t d, double c1, double c2, double *K,
                double *B)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            double k1 = 0.0, k2 = 0.0;
            for (size_t p = 0; p < m * d; p++) k1 += JW1[i * m * d + p] * JW2[j * m * d + p];
            for (size_t p = 0; p < m; p++) k2 += Jv1[i * m + p] * Jv2[j * m + p];
            K[i * n2 + j] = c1 * k1 + c2 * k2;
            B[i * n2 + j] = fabs(c1) * pair_bound(JW1 + i * m * d, EW1 + i * m * d,
                                                  JW2 + j * m * d, EW2 + j * m * d, m * d) +
                            fabs(c2) * pair_bound(Jv1 + i * m, Ev1 + i * m, Jv2 + j * m,
                                                  Ev2 + j * m, m);
        }
}

/* Oracle kernel for (X1, X2) (X2 NULL: X1 against itself) and its error
 * bound B. */
static void oracle(const ntk_net_config *cfg, const double *W, const double *v, const double *X1,
                   size_t n1, const double *X2, size_t n2, double c1, double c2, double *K,
                   double *B)
{
    size_t m = cfg->m, d = cfg->d;
    if (!X2) {
        X2 = X1;
        n2 = n1;
    }
    double *JW1 = malloc(n1 * m * d * sizeof(double)), *Jv1 = malloc(n1 * m * sizeof(double));
    double *JW2 = malloc(n2 * m * d * sizeof(double)), *Jv2 = malloc(n2 * m * sizeof(double));
    double *EW1 = malloc(n1 * m * d * sizeof(double)), *Ev1 = malloc(n1 * m * sizeof(double));
    double *EW2 = malloc(n2 * m * d * sizeof(double)), *Ev2 = malloc(n2 * m * sizeof(double));
    jacobian(cfg, W, v, X1, n1, JW1, Jv1, EW1, Ev1);
    jacobian(cfg, W, v, X2, n2, JW2, Jv2, EW2, Ev2);
    jjt(JW1, Jv1, EW1, Ev1, n1, JW2, Jv2, EW2, Ev2, n2, m, d, c1, c2, K, B);
    free(JW1), free(Jv1), free(JW2), free(Jv2), free(EW1), free(Ev1), free(EW2), free(Ev2);
}

/* max_i |a_i − b_i| / bound_i: 1 means at the bound (0/0 counts as 0) */
static double bound_ratio(const double *a, const double *b, const double *bound, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        double r = e == 0.0 ? 0.0 : e / bound[i];
        if (!(r <= worst)) worst = r;   /* also catches NaN */
    }
    return worst;
}

/* Every activation, both input scales, α ≠ 1, Θ1/Θ2/Θ and a mixed weighting,
 * symmetric and cross blocks, centred or not. */
static void test_vs_jacobian(void)
{
    const size_t d = 5, m = 7, n1 = 6, n2 = 4;
    const double cw[4][2] = {{1, 0}, {0, 1}, {1, 1}, {0.3, 1.9}};
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    double K[n1 * n1], R[n1 * n1], B[n1 * n1];
    for (size_t a = 0; a < NACTS; a++) {
        for (int sc = 0; sc < 2; sc++) {
            ntk_net_config cfg = ntk_net_config_default(d, m);
            cfg.act = ACTS[a];
            cfg.input_scale = sc ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D;
            cfg.alpha = 1.7;
            cfg.centered = sc;   /* the centred model has the same gradient */
            double *W = randn(&rng, m * d), *v = randn(&rng, m);
            for (int w = 0; w < 4; w++) {
                double c1 = cw[w][0], c2 = cw[w][1];
                CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, NULL, 0, c1, c2, 0, K));
                oracle(&cfg, W, v, X1, n1, NULL, 0, c1, c2, R, B);
                /* each side within B of the exact sums: 2B apart at most */
                CHECK_LE(bound_ratio(K, R, B, n1 * n1), 2.0,
                         "%s scale=%d c=(%g,%g) symmetric: |K - R| / B", ntk_act_name(ACTS[a].kind),
                         sc, c1, c2);
                CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, X2, n2, c1, c2, 0, K));
                oracle(&cfg, W, v, X1, n1, X2, n2, c1, c2, R, B);
                CHECK_LE(bound_ratio(K, R, B, n1 * n2), 2.0,
                         "%s scale=%d c=(%g,%g) cross: |K - R| / B", ntk_act_name(ACTS[a].kind), sc,
                         c1, c2);
            }
            free(W), free(v);
        }
    }
    free(X1), free(X2);
}

/* Θ against J_fd J_fdᵀ with J_fd the central-difference Jacobian of
 * ntk_forward, step h. Error of a J_fd entry: truncation h²/6·|∂³f/∂θ³|
 * (a·v·φ‴(z)(x_k/s)³ in w, with |φ‴| ≤ 4/√π for every activation here,
 * erf's the largest; 0 in v, where f is linear) plus rounding 2ε_F/2h, ε_F
 * the forward's error bound (as the oracle's, per neuron, and (m + 2)ε for
 * the sum), plus ε|θ|/h·|J| for the rounding of θ ± h. With E that bound,
 * |ΔK_fd| ≤ Σ_p (|J_ip| E_jp + E_ip |J_jp| + E_ip E_jp) + (P + 2)ε Σ_p |J_ip J_jp|,
 * and the library's own error is the oracle's B. */
static void test_vs_finite_differences(void)
{
    const size_t d = 4, m = 6, n = 5, P = m * d + m;
    const double h = 1e-6, eps = DBL_EPSILON, M3 = 4.0 / sqrt(M_PI);
    ntk_rng rng;
    ntk_rng_seed(&rng, 12);
    double *X = randn(&rng, n * d);
    double *J = malloc(n * P * sizeof(double)), *E = malloc(n * P * sizeof(double));
    double fp[n], fm[n], K[n * n], R[n * n], Rj[n * n], B[n * n], T[n * n], ef[n];
    for (size_t a = 0; a < NACTS; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act = ACTS[a];
        cfg.alpha = 0.8;
        double *theta = randn(&rng, P);   /* W (m,d) then v (m) */
        double s = sqrt((double)d), am = cfg.alpha / sqrt((double)m);
        for (size_t i = 0; i < n; i++) {   /* ε_F per sample */
            double e = 0.0, fabs_ = 0.0;
            for (size_t r = 0; r < m; r++) {
                double z = 0.0, zabs = 0.0;
                for (size_t k = 0; k < d; k++) {
                    z += theta[r * d + k] * X[i * d + k];
                    zabs += fabs(theta[r * d + k] * X[i * d + k]);
                }
                z /= s;
                double vr = fabs(theta[m * d + r]);
                e += vr * (ACT_ULP * eps * (1.0 + fabs(z)) +
                           fabs(ntk_act_dphi(cfg.act, z)) * (double)(d + 1) * eps * zabs / s);
                fabs_ += vr * fabs(ntk_act_phi(cfg.act, z));
            }
            ef[i] = fabs(am) * (e + (double)(m + 2) * eps * fabs_);
        }
        for (size_t p = 0; p < P; p++) {
            double t0 = theta[p];
            theta[p] = t0 + h;
            CHECK_OK(ntk_forward(&cfg, theta, theta + m * d, X, n, fp));
            theta[p] = t0 - h;
            CHECK_OK(ntk_forward(&cfg, theta, theta + m * d, X, n, fm));
            theta[p] = t0;
            for (size_t i = 0; i < n; i++) {
                J[i * P + p] = (fp[i] - fm[i]) / (2 * h);
                double trunc = 0.0;
                if (p < m * d) {
                    double xs = fabs(X[i * d + p % d]) / s;
                    trunc = h * h / 6.0 * fabs(am * theta[m * d + p / d]) * M3 * xs * xs * xs;
                }
                E[i * P + p] = trunc + ef[i] / h + eps * fabs(t0) / h * fabs(J[i * P + p]);
            }
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t p = 0; p < P; p++) acc += J[i * P + p] * J[j * P + p];
                R[i * n + j] = acc;
                T[i * n + j] = pair_bound(J + i * P, E + i * P, J + j * P, E + j * P, P);
                for (size_t p = 0; p < P; p++) T[i * n + j] += E[i * P + p] * E[j * P + p];
            }
        CHECK_OK(ntk_kernel_empirical(&cfg, theta, theta + m * d, X, n, NULL, 0, 1, 1, 0, K));
        oracle(&cfg, theta, theta + m * d, X, n, NULL, 0, 1, 1, Rj, B);
        for (size_t i = 0; i < n * n; i++) T[i] += B[i];
        CHECK_LE(bound_ratio(K, R, T, n * n), 1.0, "%s: |K - K_fd| / bound",
                 ntk_act_name(ACTS[a].kind));
        free(theta);
    }
    free(X), free(J), free(E);
}

/* Small mem_limit values force plan B (many column blocks, row features
 * recomputed) and plan A with small row blocks; all must agree with the
 * Jacobian oracle, and so with each other, within the bound B above (the
 * plans group the same BLAS products differently). */
static void test_tiling(void)
{
    const size_t d = 10, m = 50, n1 = 300, n2 = 130;
    ntk_rng rng;
    ntk_rng_seed(&rng, 13);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    double *W = randn(&rng, m * d), *v = randn(&rng, m);
    double *K0 = malloc(n1 * n1 * sizeof(double)), *K = malloc(n1 * n1 * sizeof(double));
    double *R = malloc(n1 * n1 * sizeof(double)), *B = malloc(n1 * n1 * sizeof(double));
    ntk_net_config cfg = ntk_net_config_default(d, m);
    cfg.act.kind = NTK_ACT_TANH;
    cfg.alpha = 2.0;
    const double cw[3][2] = {{1, 1}, {1, 0}, {0, 1}};
    const size_t limits[] = {170000, 250000, 400000, 600000, 1100000, 2000000};
    for (int w = 0; w < 3; w++) {
        double c1 = cw[w][0], c2 = cw[w][1];
        for (int cross = 0; cross < 2; cross++) {
            const double *Xb = cross ? X2 : NULL;
            size_t nb = cross ? n2 : n1;
            CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, Xb, nb, c1, c2, 0, K0));
            oracle(&cfg, W, v, X1, n1, Xb, nb, c1, c2, R, B);
            CHECK_LE(bound_ratio(K0, R, B, n1 * nb), 2.0,
                     "default plan vs Jacobian (c=(%g,%g), cross=%d): |K - R| / B", c1, c2, cross);
            for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
                CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, Xb, nb, c1, c2, limits[l], K));
                CHECK_LE(bound_ratio(K, K0, B, n1 * nb), 2.0,
                         "mem_limit %zu (c=(%g,%g), cross=%d): |K - K_default| / B", limits[l], c1,
                         c2, cross);
            }
        }
    }
    /* below one 64-point tile: refused, and the message names the need */
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X1, n1, NULL, 0, 1, 1, 100000, K), NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "smallest tile") != NULL, "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X1, n1, X2, n2, 1, 1, 1000, K), NTK_ERR_NOMEM);
    free(X1), free(X2), free(W), free(v), free(K0), free(K), free(R), free(B);
}

/* The symmetric block is exactly symmetric and positive semi-definite:
 * K = c1Θ1 + c2Θ2 with Θ1 = (A Aᵀ) ⊙ (X Xᵀ)·α²/(m s²), Θ2 = P Pᵀ·α²/m, each
 * PSD for the computed features, so only the products' rounding counts:
 * |ΔK_ij| ≤ (m + d + 3)ε·Σ|terms| ≤ (m + d + 3)ε·√(K_ii K_jj) (Cauchy–Schwarz),
 * ‖ΔK‖₂ ≤ ‖ΔK‖_F ≤ (m + d + 3)ε·tr K; dsyevd adds n·ε·λmax. Factor 4 for
 * the few operations per entry. */
static void test_symmetric_psd(void)
{
    const size_t d = 8, m = 30, n = 200;   /* 4 mirroring blocks of 64 */
    ntk_rng rng;
    ntk_rng_seed(&rng, 14);
    double *X = randn(&rng, n * d), *W = randn(&rng, m * d), *v = randn(&rng, m);
    double *K = malloc(n * n * sizeof(double)), lam[n];
    for (size_t a = 0; a < NACTS; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act = ACTS[a];
        CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 1, 0, K));
        int sym = 1;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) sym &= K[i * n + j] == K[j * n + i];
        CHECK(sym, "%s: K not exactly symmetric", ntk_act_name(ACTS[a].kind));
        CHECK_OK(ntk_eigh(K, n, lam, NULL));
        double tr = 0.0;
        for (size_t i = 0; i < n; i++) tr += K[i * n + i];
        double tol = 4.0 * DBL_EPSILON * ((double)(m + d + 3) * tr + (double)n * lam[n - 1]);
        CHECK_LE(-lam[0], tol, "%s: lambda_min %.3g, lambda_max %.3g", ntk_act_name(ACTS[a].kind),
                 lam[0], lam[n - 1]);
    }
    free(X), free(W), free(v), free(K);
}

static void test_arguments(void)
{
    const size_t d = 3, m = 4, n = 5;
    ntk_net_config cfg = ntk_net_config_default(d, m);
    double W[12] = {0}, v[4] = {1, 1, 1, 1}, X[15] = {0}, K[25];
    CHECK_ERR(ntk_kernel_empirical(NULL, W, v, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, NULL, v, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 1, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, 0, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, X, 0, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 3, 1, 1, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, NAN, 1, 0, K), NTK_ERR_ARG);
    X[7] = NAN;
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_NONFINITE);
    CHECK(strstr(ntk_errmsg(), "X1") != NULL, "message: %s", ntk_errmsg());
    X[7] = 0;
    v[2] = INFINITY;
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_NONFINITE);
    v[2] = 1;
    cfg.m = 0;
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_ARG);
    cfg.m = m;
    for (size_t i = 0; i < 25; i++) K[i] = 1.0;
    CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X, n, NULL, n, 0, 0, 0, K));
    double mx = 0;
    for (size_t i = 0; i < 25; i++) mx = fmax(mx, fabs(K[i]));
    CHECK(mx == 0.0, "c1 = c2 = 0 must give zeros");
}

int main(void)
{
    test_vs_jacobian();
    test_vs_finite_differences();
    test_tiling();
    test_symmetric_psd();
    test_arguments();
    return t_finish();
}
