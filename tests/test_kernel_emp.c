/* Empirical NTK (MATH.md §2) against J Jᵀ from an explicit per-sample
 * Jacobian, against finite differences of ntk_forward, across tilings. */
#include "harness.h"
#include "ntkit.h"

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

/* X (n,d) -> JW (n, m·d), Jv (n, m): the per-sample gradient of
 * f(x) = α/√m Σ_r v_r φ(w_r·x/s), written out with plain loops:
 *   ∂f/∂w_rk = α/√m v_r φ'(z_r) x_k/s,  ∂f/∂v_r = α/√m φ(z_r). */
static void jacobian(const ntk_net_config *cfg, const double *W, const double *v,
                     const double *X, size_t n, double *JW, double *Jv)
{
    size_t m = cfg->m, d = cfg->d;
    double s = cfg->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)d);
    double a = cfg->alpha / sqrt((double)m);
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < m; r++) {
            double z = 0.0;
            for (size_t k = 0; k < d; k++) z += W[r * d + k] * X[i * d + k];
            z /= s;
            Jv[i * m + r] = a * ntk_act_phi(cfg->act, z);
            double g = a * v[r] * ntk_act_dphi(cfg->act, z) / s;
            for (size_t k = 0; k < d; k++) JW[i * m * d + r * d + k] = g * X[i * d + k];
        }
    }
}

/* K (n1,n2) = c1·JW1 JW2ᵀ + c2·Jv1 Jv2ᵀ, plain loops. */
static void jjt(const double *JW1, const double *Jv1, size_t n1, const double *JW2,
                const double *Jv2, size_t n2, size_t m, size_t d, double c1, double c2, double *K)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            double k1 = 0.0, k2 = 0.0;
            for (size_t p = 0; p < m * d; p++) k1 += JW1[i * m * d + p] * JW2[j * m * d + p];
            for (size_t p = 0; p < m; p++) k2 += Jv1[i * m + p] * Jv2[j * m + p];
            K[i * n2 + j] = c1 * k1 + c2 * k2;
        }
}

/* Oracle kernel for (X1, X2) (X2 NULL: X1 against itself). */
static void oracle(const ntk_net_config *cfg, const double *W, const double *v, const double *X1,
                   size_t n1, const double *X2, size_t n2, double c1, double c2, double *K)
{
    size_t m = cfg->m, d = cfg->d;
    if (!X2) {
        X2 = X1;
        n2 = n1;
    }
    double *JW1 = malloc(n1 * m * d * sizeof(double)), *Jv1 = malloc(n1 * m * sizeof(double));
    double *JW2 = malloc(n2 * m * d * sizeof(double)), *Jv2 = malloc(n2 * m * sizeof(double));
    jacobian(cfg, W, v, X1, n1, JW1, Jv1);
    jacobian(cfg, W, v, X2, n2, JW2, Jv2);
    jjt(JW1, Jv1, n1, JW2, Jv2, n2, m, d, c1, c2, K);
    free(JW1), free(Jv1), free(JW2), free(Jv2);
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
    double K[n1 * n1], R[n1 * n1];
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
                oracle(&cfg, W, v, X1, n1, NULL, 0, c1, c2, R);
                double e = t_max_rel_err(K, R, n1 * n1);
                CHECK(e < 1e-12, "%s scale=%d c=(%g,%g) symmetric: rel err %.3g",
                      ntk_act_name(ACTS[a].kind), sc, c1, c2, e);
                CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, X2, n2, c1, c2, 0, K));
                oracle(&cfg, W, v, X1, n1, X2, n2, c1, c2, R);
                e = t_max_rel_err(K, R, n1 * n2);
                CHECK(e < 1e-12, "%s scale=%d c=(%g,%g) cross: rel err %.3g",
                      ntk_act_name(ACTS[a].kind), sc, c1, c2, e);
            }
            free(W), free(v);
        }
    }
    free(X1), free(X2);
}

/* Θ against J_fd J_fdᵀ with J_fd the central-difference Jacobian of ntk_forward. */
static void test_vs_finite_differences(void)
{
    const size_t d = 4, m = 6, n = 5, P = m * d + m;
    const double h = 1e-6;
    ntk_rng rng;
    ntk_rng_seed(&rng, 12);
    double *X = randn(&rng, n * d);
    double *J = malloc(n * P * sizeof(double)), fp[n], fm[n], K[n * n], R[n * n];
    for (size_t a = 0; a < NACTS; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act = ACTS[a];
        cfg.alpha = 0.8;
        double *theta = randn(&rng, P);   /* W (m,d) then v (m) */
        for (size_t p = 0; p < P; p++) {
            double t0 = theta[p];
            theta[p] = t0 + h;
            CHECK_OK(ntk_forward(&cfg, theta, theta + m * d, X, n, fp));
            theta[p] = t0 - h;
            CHECK_OK(ntk_forward(&cfg, theta, theta + m * d, X, n, fm));
            theta[p] = t0;
            for (size_t i = 0; i < n; i++) J[i * P + p] = (fp[i] - fm[i]) / (2 * h);
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t p = 0; p < P; p++) acc += J[i * P + p] * J[j * P + p];
                R[i * n + j] = acc;
            }
        CHECK_OK(ntk_kernel_empirical(&cfg, theta, theta + m * d, X, n, NULL, 0, 1, 1, 0, K));
        double e = t_max_rel_err(K, R, n * n);
        CHECK(e < 1e-7, "%s: finite-difference rel err %.3g", ntk_act_name(ACTS[a].kind), e);
        free(theta);
    }
    free(X), free(J);
}

/* Small mem_limit values force plan B (many column blocks, row features
 * recomputed) and plan A with small row blocks; all must agree with the
 * default plan to 1e-13 and with the Jacobian oracle. */
static void test_tiling(void)
{
    const size_t d = 10, m = 50, n1 = 300, n2 = 130;
    ntk_rng rng;
    ntk_rng_seed(&rng, 13);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    double *W = randn(&rng, m * d), *v = randn(&rng, m);
    double *K0 = malloc(n1 * n1 * sizeof(double)), *K = malloc(n1 * n1 * sizeof(double));
    double *R = malloc(n1 * n1 * sizeof(double));
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
            oracle(&cfg, W, v, X1, n1, Xb, nb, c1, c2, R);
            double e = t_max_rel_err(K0, R, n1 * nb);
            CHECK(e < 1e-12, "default plan vs Jacobian (c=(%g,%g), cross=%d): %.3g", c1, c2,
                  cross, e);
            for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
                CHECK_OK(ntk_kernel_empirical(&cfg, W, v, X1, n1, Xb, nb, c1, c2, limits[l], K));
                e = t_max_rel_err(K, K0, n1 * nb);
                CHECK(e < 1e-13, "mem_limit %zu (c=(%g,%g), cross=%d): rel err %.3g", limits[l],
                      c1, c2, cross, e);
            }
        }
    }
    /* below one 64-point tile: refused, and the message names the need */
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X1, n1, NULL, 0, 1, 1, 100000, K), NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "smallest tile") != NULL, "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_kernel_empirical(&cfg, W, v, X1, n1, X2, n2, 1, 1, 1000, K), NTK_ERR_NOMEM);
    free(X1), free(X2), free(W), free(v), free(K0), free(K), free(R);
}

/* The symmetric block is exactly symmetric and positive semi-definite. */
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
        CHECK(lam[0] >= -1e-10 * lam[n - 1], "%s: lambda_min %.3g, lambda_max %.3g",
              ntk_act_name(ACTS[a].kind), lam[0], lam[n - 1]);
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
