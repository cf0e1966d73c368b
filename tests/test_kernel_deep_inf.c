/* The deep infinite-width kernels (src/kernel_deep_inf.c, docs/depth.md)
 * against independent oracles:
 *   (a) depth 1, σ_w = 1, σ_b = 0: the two-layer kernel of src/kernel_inf.c;
 *   (b) the closed forms against forced Gauss–Hermite quadrature at depth 3
 *       with biases;
 *   (c) Monte Carlo: one hidden layer of width 2^16 (units i.i.d., the
 *       issue's 6·sd/√m), and ensembles of deep networks (a plain forward
 *       and backward pass written here, every layer's share from the
 *       explicit gradient entries) for each layer's share, the NTK and the
 *       NNGP, with a negative control;
 *   (d) the standard parameterisation: the empirical NTK over its limit → 1
 *       as the widths grow, at the rate m^(-1/2);
 *   (e) the layer shares sum to the NTK;
 *   (f) the identity activation (a linear network) and relu's diagonal by
 *       hand;
 * and structure: the diagonal mode, cross blocks, threads, vector widths,
 * nearly parallel pairs against a long double recursion, errors. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"
#include "deep_internal.h"
#include "quadrature.h"   /* private: the Gauss–Hermite rule, for its error bounds */

#include <float.h>
#include <limits.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define EPS DBL_EPSILON

/* ---- configurations and the kernel under test ----------------------- */

static ntk_net_config cfg_make(ntk_act_kind kind, double param, size_t L, size_t m, double sw,
                               double sb, ntk_param_kind par, double alpha, size_t d)
{
    ntk_net_config c = ntk_net_config_default(d, m);
    c.act.kind = kind;
    c.act.param = param;
    c.depth = L;
    c.weight_std = sw;
    c.bias_std = sb;
    c.parameterization = par;
    c.alpha = alpha;
    return c;
}

/* kernel_deep_infinite with layer weights lw (NULL: c1 = c2 = 1, the NTK),
 * quadrature forced (quad) at order, diagonal mode */
static ntk_status dk(const ntk_net_config *cfg, const double *lw, int quad, int order, int diag,
                     const double *X1, size_t n1, const double *X2, size_t n2, double *K)
{
    ntk_kernel_desc k = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, cfg);
    k.layer_weights = lw;
    k.quadrature = quad;
    k.quad_order = order;
    k.diagonal = diag;
    return kernel_deep_infinite(&k, X1, n1, X2, n2, K);
}

/* the NNGP: only the last layer's share, α² Σ_{L+1} (NTK parameterisation) */
static ntk_status nngp(const ntk_net_config *cfg, const double *X, size_t n, double *K)
{
    double lw[NTK_MAX_DEPTH + 1] = {0};
    lw[ntk_net_depth(cfg)] = 1.0;
    return dk(cfg, lw, 0, 0, 0, X, n, NULL, 0, K);
}

/* Six points in d = 4: assorted norms (‖x‖²/d from 0.2 to 2.6) and angles,
 * point 5 nearly parallel to point 0 (angle ≈ 1e-3). */
#define N6 6
#define D4 4
static const double X6[N6 * D4] = {
    1.2,  -0.4, 0.9,  0.3,  -0.7, 1.5, 0.2,  -1.1, 0.5, 0.5, -1.6, 0.8,
    2.1,  0.9,  -0.3, -1.8, 0.3,  -0.2, 0.6, 0.1,  1.2005, -0.399, 0.9004, 0.2996,
};

/* max |K_ij − K_ji| over a square K (n,n): must be exactly 0 */
static double asym(const double *K, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) w = fmax(w, fabs(K[i * n + j] - K[j * n + i]));
    return w;
}

/* ---- rounding ----------------------------------------------------------
 * One layer's map, as tests/test_kernel_inf.c derives it for the two-layer
 * kernel: an entry is within C_ROUND·(d + ACT_ULP + 2N)·ε·κ of the exact
 * value for its rounded inputs, κ = √(Σ(x,x)Σ(x',x'))/sin θ_e scaled to the
 * kernel (θ_e = max(θ, the near-parallel cut-off): the arccos's
 * conditioning; N quadrature nodes, 0 for closed forms). At depth the
 * layers' errors add: a relative error in Σ_l reaches Σ_{l+1} multiplied by
 * ∂ log Σ_{l+1}/∂ log Σ_l, which is 1 for the positively homogeneous relu
 * (Σ_{l+1} = σ_w²|x||x'|J(θ) + σ_b² scales with Σ_l) and below 1 for the
 * saturating erf and tanh, and reaches Θ_{l+1} = Θ_l Σ̇ + Σ_{l+1} with the
 * same factor. So L + 1 layers give at most L + 1 times one layer's
 * relative bound, against the scale √(K(x,x) K(x',x')) (Cauchy–Schwarz:
 * |K(x,x')| is at most that for every kernel here, a positive combination
 * of positive semi-definite ones). */
#define C_ROUND 4.0
#define ACT_ULP 8.0
#define SIN_CUT 0.0141421356   /* √(2·1e-4): kernel_inf.c's NEAR_PARALLEL */

static double sin_angle(const double *x, const double *y, size_t d)
{
    double a = 0, b = 0, ab = 0;
    for (size_t k = 0; k < d; k++) a += x[k] * x[k], b += y[k] * y[k], ab += x[k] * y[k];
    double rho = a > 0 && b > 0 ? ab / sqrt(a * b) : 0.0;
    return fmax(sqrt(fmax(0.0, 1.0 - rho * rho)), SIN_CUT);
}

/* the bound above for entry (i,j), given the diagonals Kii, Kjj */
static double deep_round_tol(double Kii, double Kjj, double sin_e, size_t d, size_t L, int N)
{
    return C_ROUND * ((double)d + ACT_ULP + 2.0 * N) * (double)(L + 1) * EPS * sqrt(Kii * Kjj) /
           sin_e;
}

/* The rounding of a mean of m terms, m·ε·mean|t| (twice: either summation
 * order), for the Monte Carlo tolerances. */
static double mean_round(double mean_abs, size_t m) { return 2.0 * (double)m * EPS * mean_abs; }

/* ---- (a) depth 1 is the two-layer kernel ------------------------------ */

/* With L = 1, σ_w = 1, σ_b = 0 the recursion is T = c1·c, T = T·Σ' + c2·Σ,
 * K = α²T: the two-layer kernel's α²(c1·c·Σ' + c2·Σ) operation for
 * operation, on the same Σ, Σ' (the same pair map). The inputs differ only
 * in c = x·x'/s²: a GEMM with α = 1 scaled by 1/s² here, a SYRK or GEMM with
 * α = 1/s² there, each within d·ε·Σ|x_k x'_k|/s² of the exact product (any
 * summation order, FMA or not). Both are therefore within one layer's
 * bound (Tolerances, with the same κ, L = 0) of the exact kernel, and of
 * each other within twice that. widths[0] = 2m makes the configuration a
 * deep one (ntk_net_is_deep) without changing the kernel (the NTK
 * parameterisation's limit does not depend on the widths). */
static void test_depth_one(void)
{
    const struct {
        ntk_act_kind kind;
        double a;
    } acts[] = {{NTK_ACT_RELU, 0}, {NTK_ACT_ERF, 0}, {NTK_ACT_TANH, 0},
                {NTK_ACT_LEAKY_RELU, 0.2}, {NTK_ACT_IDENTITY, 0}};
    const double cc[3][2] = {{1, 1}, {0.7, 0}, {0, 1.3}};
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++)
        for (int sc = 0; sc < 2; sc++)
            for (int w = 0; w < 3; w++) {
                ntk_net_config cfg = cfg_make(acts[t].kind, acts[t].a, 1, 10, 1.0, 0.0,
                                              NTK_PARAM_NTK, 1.3, D4);
                cfg.input_scale = sc ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D;
                cfg.widths[0] = 20;
                CHECK(ntk_net_is_deep(&cfg), "widths[0] = 2m is a deep configuration");
                double X[N6 * D4], lw[2] = {cc[w][0], cc[w][1]};
                for (int k = 0; k < N6 * D4; k++) X[k] = sc ? 0.5 * X6[k] : X6[k];
                double K[N6 * N6], R[N6 * N6], Kc[3 * N6], Rc[3 * N6];
                CHECK_OK(dk(&cfg, lw, 0, 0, 0, X, N6, NULL, 0, K));
                CHECK_OK(ntk_kernel_infinite(&cfg, X, N6, NULL, 0, lw[0], lw[1], 0, R));
                CHECK_OK(dk(&cfg, lw, 0, 0, 0, X + D4, 3, X, N6, Kc));
                CHECK_OK(ntk_kernel_infinite(&cfg, X + D4, 3, X, N6, lw[0], lw[1], 0, Rc));
                /* the bound's scale: the full kernel's diagonal (|c1|, |c2| ≤ 1.3 ≤ its
                 * own weights' sum, so the NTK's diagonal bounds each share) */
                ntk_net_config c1 = cfg;
                double Kf[N6 * N6];
                CHECK_OK(dk(&c1, NULL, 0, 0, 0, X, N6, NULL, 0, Kf));
                double worst = 0, worst_c = 0;
                int N = acts[t].kind == NTK_ACT_TANH ? 64 : 0;
                for (size_t i = 0; i < N6; i++)
                    for (size_t j = 0; j < N6; j++) {
                        double tol = 2.0 * 1.3 *
                                     deep_round_tol(Kf[i * N6 + i], Kf[j * N6 + j],
                                                    sin_angle(X + i * D4, X + j * D4, D4), D4,
                                                    0, N);
                        worst = fmax(worst, fabs(K[i * N6 + j] - R[i * N6 + j]) / tol);
                        if (i >= 1 && i <= 3) {
                            size_t e = (i - 1) * N6 + j;
                            worst_c = fmax(worst_c, fabs(Kc[e] - Rc[e]) / tol);
                        }
                    }
                CHECK_LE(worst, 1.0, "%s scale %d weights (%g,%g): depth 1 vs two-layer",
                         ntk_act_name(acts[t].kind), sc, lw[0], lw[1]);
                CHECK_LE(worst_c, 1.0, "%s scale %d weights (%g,%g): cross block vs two-layer",
                         ntk_act_name(acts[t].kind), sc, lw[0], lw[1]);
            }
}

/* ---- (e) layer shares ------------------------------------------------ */

/* Θ^{(l)} from the one-hot weights e_l; their sum against the NTK (all
 * weights 1) and Σ w_l Θ^{(l)} against the kernel with weights w. Both
 * sides use the same Σ_l, Σ̇_l (the same maps on the same numbers); they
 * differ in the accumulation T_{l+1} = T_l Σ̇ + w P: each share is a product
 * of at most L + 1 factors and a weight (L + 2 roundings), the sums add L
 * more, and α² one, so |Σ_l w_l Θ^{(l)} − K| ≤ (2L + 4)·ε·Σ_l |w_l Θ^{(l)}|
 * (twice: both sides round). */
static void test_shares(void)
{
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_TANH};
    for (int t = 0; t < 3; t++)
        for (int par = 0; par < 2; par++) {
            enum { L = 3 };
            ntk_net_config cfg = cfg_make(kinds[t], 0, L, 50, 1.4, 0.3, (ntk_param_kind)par,
                                          0.9, D4);
            cfg.widths[0] = 30, cfg.widths[1] = 70, cfg.widths[2] = 50;
            double sh[L + 1][N6 * N6], K[N6 * N6], Kw[N6 * N6];
            double w[L + 1] = {0.5, -1.25, 2.0, 0.75};
            for (size_t l = 0; l <= L; l++) {
                double e[L + 1] = {0};
                e[l] = 1.0;
                CHECK_OK(dk(&cfg, e, 0, 0, 0, X6, N6, NULL, 0, sh[l]));
            }
            double ones[L + 1] = {1, 1, 1, 1};
            CHECK_OK(dk(&cfg, ones, 0, 0, 0, X6, N6, NULL, 0, K));
            CHECK_OK(dk(&cfg, w, 0, 0, 0, X6, N6, NULL, 0, Kw));
            double worst = 0, worst_w = 0;
            for (size_t e = 0; e < N6 * N6; e++) {
                double sum = 0, abs1 = 0, sumw = 0, absw = 0;
                for (size_t l = 0; l <= L; l++) {
                    sum += sh[l][e], abs1 += fabs(sh[l][e]);
                    sumw += w[l] * sh[l][e], absw += fabs(w[l] * sh[l][e]);
                }
                worst = fmax(worst, fabs(sum - K[e]) / (2.0 * (2 * L + 4) * EPS * abs1));
                worst_w = fmax(worst_w, fabs(sumw - Kw[e]) / (2.0 * (2 * L + 4) * EPS * absw));
            }
            CHECK_LE(worst, 1.0, "%s param %d: Σ shares vs the NTK", ntk_act_name(kinds[t]), par);
            CHECK_LE(worst_w, 1.0, "%s param %d: Σ w_l shares vs weighted kernel",
                     ntk_act_name(kinds[t]), par);
            /* c1, c2 (layer_weights NULL): c1 on layers 1..L, c2 on L+1 */
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
            kd.c1 = 0.3, kd.c2 = -2.0;
            double Kc[N6 * N6], wc[L + 1] = {0.3, 0.3, 0.3, -2.0}, Kl[N6 * N6];
            CHECK_OK(kernel_deep_infinite(&kd, X6, N6, NULL, 0, Kc));
            CHECK_OK(dk(&cfg, wc, 0, 0, 0, X6, N6, NULL, 0, Kl));
            CHECK(memcmp(Kc, Kl, sizeof Kc) == 0, "c1, c2 are the layer weights (c1,..,c1,c2)");
            CHECK(asym(K, N6) == 0.0, "the symmetric kernel is exactly symmetric");
        }
}

/* ---- (f) by hand ------------------------------------------------------ */

/* Identity activation, a linear network. With a = σ_w², b = σ_b²,
 * c0 = x·x'/s²: Σ_l = a^l c0 + b(a^l − 1)/(a − 1), Σ̇ = a, so the NTK
 * parameterisation's shares are α² a^{L+1−l} Σ_l and the NTK is
 *   α²[(L+1) a^{L+1} c0 + b/(a−1)·((L+1) a^{L+1} − (a^{L+1} − 1)/(a − 1))];
 * the standard one's shares α² a^{L+1−l} P_l with P_1 = x·x' + 1,
 * P_{l+1} = m_l Σ_l + 1. Rounding: the library's x·x' is within d·ε·Σ|x x'|
 * of the exact one; every other step of both sides (≤ 4 per layer, pow
 * within a few ulp) is relative, on terms that are all nonnegative when c0
 * is replaced by Σ|x_k x'_k|/s² (hand_abs): (2d + 10(L + 2))·ε·hand_abs. */
static double identity_hand(double c0, double xx, double a, double b, double alpha, size_t L,
                            const size_t *m, int par, int share)
{
    double sig[NTK_MAX_DEPTH + 2], K = 0;
    for (size_t l = 1; l <= L + 1; l++)
        sig[l] = pow(a, (double)l) * c0 + b * (pow(a, (double)l) - 1.0) / (a - 1.0);
    if (!par && !share) {   /* the closed form of the NTK */
        double A = pow(a, (double)(L + 1));
        return alpha * alpha *
               ((double)(L + 1) * A * c0 + b / (a - 1.0) * ((double)(L + 1) * A - (A - 1.0) / (a - 1.0)));
    }
    for (size_t l = 1; l <= L + 1; l++) {
        if (share && (size_t)share != l) continue;
        double P = !par ? sig[l] : l == 1 ? xx + 1.0 : (double)m[l - 1] * sig[l - 1] + 1.0;
        K += pow(a, (double)(L + 1 - l)) * P;
    }
    return alpha * alpha * K;
}

static void test_identity(void)
{
    enum { L = 4 };
    const double sw = 1.2, sb = 0.5, alpha = 0.7, a = sw * sw, b = sb * sb;
    for (int par = 0; par < 2; par++) {
        ntk_net_config cfg = cfg_make(NTK_ACT_IDENTITY, 0, L, 40, sw, sb, (ntk_param_kind)par,
                                      alpha, D4);
        size_t m[NTK_MAX_DEPTH + 1] = {D4, 40, 10, 25, 40};
        cfg.widths[1] = 10, cfg.widths[2] = 25;
        double s2 = (double)D4;
        for (size_t share = 0; share <= L + 1; share++) {
            double e[L + 1], K[N6 * N6];
            for (size_t l = 0; l <= L; l++) e[l] = share == 0 || share == l + 1 ? 1.0 : 0.0;
            CHECK_OK(dk(&cfg, e, 0, 0, 0, X6, N6, NULL, 0, K));
            double worst = 0;
            for (size_t i = 0; i < N6; i++)
                for (size_t j = 0; j < N6; j++) {
                    double xx = 0, xa = 0;
                    for (size_t k = 0; k < D4; k++) {
                        xx += X6[i * D4 + k] * X6[j * D4 + k];
                        xa += fabs(X6[i * D4 + k] * X6[j * D4 + k]);
                    }
                    double h = identity_hand(xx / s2, xx, a, b, alpha, L, m, par, (int)share);
                    double ha = identity_hand(xa / s2, xa, a, b, alpha, L, m, par, (int)share);
                    double tol = (2.0 * D4 + 10.0 * (L + 2)) * EPS * ha;
                    worst = fmax(worst, fabs(K[i * N6 + j] - h) / tol);
                }
            CHECK_LE(worst, 1.0, "identity param %d share %zu (0: NTK) by hand", par, share);
        }
    }
}

/* Leaky relu (relu: slope 0) on the diagonal, by hand: E[φ(u)²] =
 * (1 + s²)q/2 and E[φ'(u)²] = (1 + s²)/2 for u ~ N(0, q), so with
 * r = σ_w²(1 + s²)/2: Σ_1 = σ_w² q0 + b, Σ_{l+1} = r Σ_l + b, i.e.
 *   Σ_l = r^{l−1} Σ_1 + b (1 − r^{l−1})/(1 − r),
 * Σ̇ = r and K(x,x) = α² Σ_l r^{L+1−l} Σ_l. All terms positive: each
 * side is within (d + 16(L + 2))·ε relative (the library's maps at ρ = 1
 * take a few roundings per layer, tests/test_kernel_inf.c; the hand
 * formula's pow within a few ulp per term). Standard: P_1 = ‖x‖² + 1,
 * P_{l+1} = m_l E[φ²] + 1 = m_l (1 + s²)/2·Σ_l + 1. */
static void test_relu_diagonal(void)
{
    const double slopes[] = {0.0, 0.2, -0.3};
    const size_t L = 5;
    const double sw = 1.3, sb = 0.4, alpha = 1.1, b = sb * sb;
    for (int t = 0; t < 3; t++)
        for (int par = 0; par < 2; par++) {
            double sl = slopes[t];
            ntk_net_config cfg = cfg_make(t ? NTK_ACT_LEAKY_RELU : NTK_ACT_RELU, sl, L, 64, sw,
                                          sb, (ntk_param_kind)par, alpha, D4);
            double Kd[N6];
            CHECK_OK(dk(&cfg, NULL, 0, 0, 1, X6, N6, NULL, 0, Kd));
            double h1 = (1 + sl * sl) / 2, r = sw * sw * h1, worst = 0;
            for (size_t i = 0; i < N6; i++) {
                double xx = 0;
                for (size_t k = 0; k < D4; k++) xx += X6[i * D4 + k] * X6[i * D4 + k];
                double S1 = sw * sw * xx / D4 + b, K = 0;
                for (size_t l = 1; l <= L + 1; l++) {
                    double Sl = pow(r, (double)(l - 1)) * S1 +
                                b * (1.0 - pow(r, (double)(l - 1))) / (1.0 - r);
                    double Sm = pow(r, (double)(l - 2)) * S1 +
                                b * (1.0 - pow(r, (double)(l - 2))) / (1.0 - r);
                    double P = !par ? Sl : l == 1 ? xx + 1.0 : 64.0 * h1 * Sm + 1.0;
                    K += pow(r, (double)(L + 1 - l)) * P;
                }
                K *= alpha * alpha;
                worst = fmax(worst, fabs(Kd[i] - K) / ((D4 + 16.0 * (L + 2)) * EPS * K));
            }
            CHECK_LE(worst, 1.0, "%s slope %g param %d: K(x,x) by hand", ntk_act_name(cfg.act.kind),
                     sl, par);
        }
}

/* ---- diagonal mode, cross blocks, threads, widths --------------------- */

static void random_points(ntk_rng *rng, double *X, size_t n, size_t d)
{
    for (size_t i = 0; i < n * d; i++) X[i] = ntk_rng_normal(rng);
}

/* The diagonal mode has the bits of the full kernel's diagonal (the same
 * operations on the same numbers, src/kernel_deep_inf.c); a cross block
 * K(X1, X) equals the matching rows of the symmetric kernel K(X) within
 * twice the rounding bound (their x·x' come from different GEMM calls); the
 * symmetric kernel is exactly symmetric. Compared where i ≤ j: the
 * tensor quadrature rule puts x_i on its outer axis, so the two orders of a
 * pair differ by the rule's error (tanh), and the symmetric kernel computes
 * i ≤ j only. Row blocks of 37 rows (forced; the sizes here would make
 * one block) split 341 points into trapezoids that end mid-row-pair, and
 * rows are longer than one map block of kernel_inf.c (128 entries);
 * tanh's quadrature runs at order 16 to keep the time down (the modes, not
 * the rule, are under test). */
static void test_modes(void)
{
    enum { N = 300, NT = 341, D = 5 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    static double X[NT * D], K[NT * NT], C[N * NT], Kd[NT];
    random_points(&rng, X, NT, D);
    for (size_t k = 0; k < D; k++) {   /* a repeated point and a nearly parallel one */
        X[(N + 3) * D + k] = X[7 * D + k];
        X[(N + 5) * D + k] = X[9 * D + k] * (1.0 + 1e-7 * (double)k);
    }
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_TANH,
                                  NTK_ACT_IDENTITY};
    static double K1[NT * NT];   /* one block: the same kernel */
    for (int t = 0; t < 5; t++)
        for (int par = 0; par < 2; par++) {
            ntk_net_config cfg = cfg_make(kinds[t], 0.1, 3, 64, 1.3, 0.2, (ntk_param_kind)par, 1.2,
                                          D);
            int Nq0 = kinds[t] == NTK_ACT_TANH ? 16 : 0;
            CHECK_OK(dk(&cfg, NULL, 0, Nq0, 0, X, NT, NULL, 0, K1));
            kernel_deep_inf_block_rows(37);
            int Nq = kinds[t] == NTK_ACT_TANH ? 16 : 0;
            CHECK_OK(dk(&cfg, NULL, 0, Nq, 0, X, NT, NULL, 0, K));
            CHECK_OK(dk(&cfg, NULL, 0, Nq, 1, X, NT, NULL, 0, Kd));
            int same = 1;
            for (size_t i = 0; i < NT; i++) same &= memcmp(&Kd[i], &K[i * NT + i], sizeof(double)) == 0;
            CHECK(same, "%s param %d: the diagonal mode has the full kernel's bits",
                  ntk_act_name(kinds[t]), par);
            CHECK(asym(K, NT) == 0.0, "%s: exactly symmetric", ntk_act_name(kinds[t]));
            CHECK_OK(dk(&cfg, NULL, 0, Nq, 0, X, N, X, NT, C));
            double worst = 0;
            for (size_t i = 0; i < N; i++)
                for (size_t j = i; j < NT; j++) {
                    double tol = 2.0 * deep_round_tol(K[i * NT + i], K[j * NT + j],
                                                      sin_angle(X + i * D, X + j * D, D), D, 3,
                                                      Nq);
                    worst = fmax(worst, fabs(C[i * NT + j] - K[i * NT + j]) / tol);
                }
            CHECK_LE(worst, 1.0, "%s param %d: cross block vs the symmetric kernel",
                     ntk_act_name(kinds[t]), par);
            kernel_deep_inf_block_rows(0);
            /* the blocking changes no entry's operations (x·x' aside: the GEMM
             * of a block of 37 rows may round otherwise than one of 341) */
            double wb = 0;
            for (size_t i = 0; i < NT; i++)
                for (size_t j = i; j < NT; j++)
                    wb = fmax(wb, fabs(K1[i * NT + j] - K[i * NT + j]) /
                                      (2.0 * deep_round_tol(K[i * NT + i], K[j * NT + j],
                                                            sin_angle(X + i * D, X + j * D, D), D,
                                                            3, Nq)));
            CHECK_LE(wb, 1.0, "%s param %d: 37-row blocks vs one block", ntk_act_name(kinds[t]),
                     par);
        }
}

/* The thread count does not change a bit (every entry is computed alone,
 * rows split between threads); at every vector width the kernel is within
 * twice the rounding bound of the libm path's (both are instances of it).
 * tanh's quadrature at order 16 (time; the threads are under test). */
static void test_threads_widths(void)
{
    enum { N = 70, D = 3 };
    ntk_rng rng;
    ntk_rng_seed(&rng, 12);
    static double X[N * D], K1[N * N], K3[N * N], K0[N * N];
    random_points(&rng, X, N, D);
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF, NTK_ACT_TANH};
    int saved = ntk_get_threads();
    for (int t = 0; t < 4; t++) {
        ntk_net_config cfg = cfg_make(kinds[t], -0.2, 4, 64, 1.2, 0.1, NTK_PARAM_NTK, 1.0, D);
        ntk_act_simd_set(0);
        CHECK_OK(dk(&cfg, NULL, 0, 16, 0, X, N, NULL, 0, K0));
        /* tanh (quadrature, no vector path): the threads at one width only */
        int nlevels = kinds[t] == NTK_ACT_TANH ? 1 : 4;
        for (int level = 0; level < nlevels; level++) {
            if (ntk_act_simd_set(level) != 0) continue;
            ntk_set_threads(1);
            CHECK_OK(dk(&cfg, NULL, 0, 16, 0, X, N, NULL, 0, K1));
            ntk_set_threads(3);
            CHECK_OK(dk(&cfg, NULL, 0, 16, 0, X, N, NULL, 0, K3));
            CHECK(memcmp(K1, K3, sizeof K1) == 0, "%s at %s: 1 and 3 threads differ",
                  ntk_act_name(kinds[t]), ntk_act_simd_name(level));
            double worst = 0;
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++)
                    worst = fmax(worst, fabs(K1[i * N + j] - K0[i * N + j]) /
                                            (2.0 * deep_round_tol(K0[i * N + i], K0[j * N + j],
                                                                  sin_angle(X + i * D, X + j * D, D),
                                                                  D, 4, 16)));
            CHECK_LE(worst, 1.0, "%s at %s vs libm", ntk_act_name(kinds[t]),
                     ntk_act_simd_name(level));
        }
    }
    ntk_act_simd_set(-1);
    ntk_set_threads(saved);
}

/* ---- a long double recursion (the leaky relu family) ------------------------
 * An independent implementation of the recursion in long double (64-bit
 * significand: ρ to ~1e-19, so the arccos's √ conditioning costs ~3e-10,
 * not ~1e-8), for relu (a = 0) and leaky relu, both parameterisations,
 * all layer weights 1: the angle of the first layer from the vectors
 * x̃ = (x, σ_b s/σ_w) by θ = 2 arcsin(‖x̂ − ŷ‖/2) (π − 2 arcsin(‖x̂ + ŷ‖/2)
 * past π/2), deeper ones by arccos ρ. Per layer l = 1..L: Σ_l's entries
 * q[l], q2[l], c[l], Σ̇_{l+1} in sd[l] and T_l (the NTK before α², up to
 * layer l) in Tl[l]; the NTK returned. */
typedef struct {
    size_t L, d;
    double a, sw, sb, alpha, s;
    int std;
    double m[NTK_MAX_DEPTH + 1];
} ld_cfg;

static long double ld_ntk(const ld_cfg *g, const double *x, const double *y, double *q, double *q2,
                          double *cc, double *sd, double *Tl)
{
    const long double PI = acosl(-1.0L), a = g->a, sw2 = (long double)g->sw * g->sw,
                      sb2 = (long double)g->sb * g->sb, bias = g->sb > 0 ? 1.0L : 0.0L;
    long double xx = 0, yy = 0, xy = 0, nx = 0, ny = 0, diff = 0, sum = 0;
    long double ex = g->sb > 0 ? (long double)g->sb * g->s / g->sw : 0.0L;
    for (size_t k = 0; k < g->d; k++) xx += (long double)x[k] * x[k], yy += (long double)y[k] * y[k],
                                      xy += (long double)x[k] * y[k];
    nx = sqrtl(xx + ex * ex), ny = sqrtl(yy + ex * ex);
    for (size_t k = 0; k <= g->d; k++) {
        long double u = k < g->d ? x[k] : ex, v = k < g->d ? y[k] : ex;
        diff += (u / nx - v / ny) * (u / nx - v / ny);
        sum += (u / nx + v / ny) * (u / nx + v / ny);
    }
    long double theta = diff <= sum ? 2.0L * asinl(sqrtl(diff) / 2.0L)
                                    : PI - 2.0L * asinl(sqrtl(sum) / 2.0L);
    long double s2 = (long double)g->s * g->s;
    long double Q1 = sw2 * xx / s2 + sb2, Q2 = sw2 * yy / s2 + sb2, C = sw2 * xy / s2 + sb2;
    long double T = g->std ? xy + bias : C;
    for (size_t l = 1; l <= g->L; l++) {
        q[l] = (double)Q1, q2[l] = (double)Q2, cc[l] = (double)C, Tl[l] = (double)T;
        long double k = sqrtl(Q1 * Q2);
        if (l > 1) {
            long double rho = k > 0 ? C / k : 0.0L;
            rho = rho > 1 ? 1 : rho < -1 ? -1 : rho;
            theta = acosl(rho);
        }
        long double st = sinl(theta), ct = cosl(theta);
        long double J = (st + (PI - theta) * ct) / (2 * PI), Jm = (st - theta * ct) / (2 * PI);
        long double S = k * ((1 + a * a) * J - 2 * a * Jm);
        long double D = (1 + a * a) * (PI - theta) / (2 * PI) + a * theta / PI;
        long double h1 = (1 + a * a) / 2;   /* E[φ²]/q */
        long double P = g->std ? g->m[l] * S + bias : sw2 * S + sb2;
        T = T * sw2 * D + P;
        sd[l] = (double)(sw2 * D);
        C = sw2 * S + sb2, Q1 = sw2 * h1 * Q1 + sb2, Q2 = sw2 * h1 * Q2 + sb2;
    }
    return (long double)g->alpha * g->alpha * T;
}

/* ---- (b) closed forms against forced quadrature at depth ---------------- */

/* Gauss–Hermite error constants of an N-node rule (tests/test_kernel_inf.c
 * derives them): k0 = max over t of |Q[H(g − t)] − P(g > t)| (the
 * Chebyshev–Markov–Stieltjes inequalities: by the weights next to t), and
 * for K1(t) = Q[(g − t)₊] − E[(g − t)₊] (the Peano kernel of a rule exact
 * on linear functions) k1 = max|K1|, k1i0 = ∫|K1|, k1i1 = ∫|K1||t|. */
typedef struct {
    double k0, k1, k1i0, k1i1;
} gh_consts;

static double norm_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }
static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static gh_consts gh_peano(int N)
{
    gh_consts c = {0, 0, 0, 0};
    double *x = malloc(N * sizeof(double)), *w = malloc(N * sizeof(double));
    double *S0 = malloc((N + 1) * sizeof(double)), *S1 = malloc((N + 1) * sizeof(double));
    CHECK_OK(ntk_gauss_hermite(N, x, w));
    S0[N] = S1[N] = 0.0;   /* Σ_{i≥k} w_i, Σ_{i≥k} w_i x_i */
    for (int k = N - 1; k >= 0; k--) S0[k] = S0[k + 1] + w[k], S1[k] = S1[k + 1] + w[k] * x[k];
    for (int k = 0; k < N; k++) {   /* K0 is monotone between nodes: its ends */
        double tail = norm_cdf(-x[k]);
        c.k0 = fmax(c.k0, fmax(fabs(S0[k] - tail), fabs(S0[k + 1] - tail)));
    }
    const int P = 64;   /* K1 on 64 points per gap and 10 beyond the outer nodes */
    double tprev = 0, fprev = 0;
    for (int k = 0; k <= N; k++) {
        double lo = k ? x[k - 1] : x[0] - 10.0, hi = k < N ? x[k] : x[N - 1] + 10.0;
        for (int j = (k ? 1 : 0); j <= P; j++) {
            double t = lo + (hi - lo) * j / P;
            double f = fabs(S1[k] - t * S0[k] - (norm_pdf(t) - t * norm_cdf(-t)));
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

/* The N-node tensor rule's error for leaky relu (slope a) at one pair
 * (q, q', c) off the diagonal (tests/test_kernel_inf.c, kink_bounds): bD
 * for Σ' (the inner sums see a step of height |1 − a|, the outer function
 * has total variation ≤ |1 − a|(1 + |a| + |1 + a|/2)), bS for Σ (inner
 * kinks, the outer function's jump in slope and its curvature). */
static void kink_bounds(double a, double q1, double q2, double c, const gh_consts *g, double *bS,
                        double *bD)
{
    double M = fmax(1.0, fabs(a)), ja = fabs(1.0 - a);
    double k = sqrt(q1 * q2), rho = c / k, sin_t = sqrt(fmax(0.0, 1.0 - rho * rho));
    double sig = sqrt(q2) * sin_t, s2pi = sqrt(2.0 * M_PI);
    *bD = ja * g->k0 * (M + 1.0 + fabs(a) + fabs(1.0 + a) / 2.0);
    *bS = ja * sig * g->k1 * M * sqrt(q1) + sqrt(q1) * ja * ja * sig / s2pi * g->k1 +
          2.0 * k * fabs(rho) * M * M * g->k1i0 +
          M * sqrt(q1) * q2 * rho * rho * ja / (sig * s2pi) * g->k1i1;
}

/* Depth 3 with biases (σ_w = 1.4, σ_b = 0.3), both parameterisations: the
 * closed forms against the tensor Gauss–Hermite rule forced on them.
 *
 * erf: analytic, the rule converges faster than geometrically, and the
 * deep kernel at order 2N carries the same propagation through the layers
 * as at N, so twice |Q_N − Q_2N| bounds the error at N (as for the
 * two-layer kernel). identity: a polynomial of degree 2, exact at order 4.
 *
 * relu, leaky relu: the rule's error does not fall monotonically with the
 * order (a step inside the inner sums), so it is bounded layer by layer
 * and carried up: at layer l the fresh errors bS, bD of S = E[φφ] and
 * D = E[φ'φ'] at that layer's (q, q', c) (kink_bounds; the long double
 * recursion gives the layer's values); the diagonal is exact (the rule is
 * symmetric, so Q[g²1{g>0}] = ½ and Q[1{g>0}] = ½, even N), so only c
 * carries an error eS from below, which moves S by at most
 * sup φ'²·eS = max(1, a²)·eS (∂S/∂c = D, Price's theorem) and D by
 * (1 − a)²/(2π)·δθ with δθ ≤ eS/√(qq' − (|c| + eS)²) (∂θ/∂c = −1/√(qq' − c²)),
 * at most π. Then eS ← σ_w²(bS + max(1,a²)·eS), δΣ̇ = σ_w²(bD + …), and
 * the NTK's T_{l+1} = T_l Σ̇ + P_{l+1} moves by eT Σ̇ + (T + eT) δΣ̇ + δP
 * (δP = eS in the NTK parameterisation, m_l·(S's error) in the standard
 * one). Plus the rounding bound of both sides. */
static void test_closed_vs_quadrature(void)
{
    enum { L = 3, N5 = 5 };
    const double sw = 1.4, sb = 0.3, alpha = 1.1, s = 2.0;
    for (int par = 0; par < 2; par++) {
        /* erf and identity */
        const struct {
            ntk_act_kind kind;
            int N;
            double f;
        } smooth[] = {{NTK_ACT_ERF, 64, 2.0}, {NTK_ACT_IDENTITY, 4, 0.0}};
        for (int t = 0; t < 2; t++) {
            ntk_net_config cfg = cfg_make(smooth[t].kind, 0, L, 100, sw, sb, (ntk_param_kind)par,
                                          alpha, D4);
            double K[N5 * N5], Q[N5 * N5], Q2[N5 * N5], worst = 0;
            CHECK_OK(dk(&cfg, NULL, 0, 0, 0, X6, N5, NULL, 0, K));
            CHECK_OK(dk(&cfg, NULL, 1, smooth[t].N, 0, X6, N5, NULL, 0, Q));
            CHECK_OK(dk(&cfg, NULL, 1, 2 * smooth[t].N, 0, X6, N5, NULL, 0, Q2));
            for (size_t i = 0; i < N5; i++)
                for (size_t j = 0; j < N5; j++) {
                    size_t e = i * N5 + j;
                    double sn = sin_angle(X6 + i * D4, X6 + j * D4, D4);
                    double tol = smooth[t].f * fabs(Q[e] - Q2[e]) +
                                 2.0 * deep_round_tol(K[i * N5 + i], K[j * N5 + j], sn, D4, L,
                                                      2 * smooth[t].N);
                    worst = fmax(worst, fabs(K[e] - Q[e]) / tol);
                }
            CHECK_LE(worst, 1.0, "%s param %d: closed forms vs quadrature order %d at depth %d",
                     ntk_act_name(smooth[t].kind), par, smooth[t].N, L);
        }
        /* relu and leaky relu, order 256 */
        const int N = 256;
        gh_consts gc = gh_peano(N);
        const double slopes[] = {0.0, 0.2};
        for (int t = 0; t < 2; t++) {
            double a = slopes[t], Dmax = fmax(1.0, a * a);
            ntk_net_config cfg = cfg_make(t ? NTK_ACT_LEAKY_RELU : NTK_ACT_RELU, a, L, 100, sw, sb,
                                          (ntk_param_kind)par, alpha, D4);
            ld_cfg lc = {L, D4, a, sw, sb, alpha, s, par, {0, 100, 100, 100}};
            double K[N5 * N5], Q[N5 * N5], worst = 0, rel = 0;
            CHECK_OK(dk(&cfg, NULL, 0, 0, 0, X6, N5, NULL, 0, K));
            CHECK_OK(dk(&cfg, NULL, 1, N, 0, X6, N5, NULL, 0, Q));
            for (size_t i = 0; i < N5; i++)
                for (size_t j = 0; j < N5; j++) {
                    size_t e = i * N5 + j;
                    double sn = sin_angle(X6 + i * D4, X6 + j * D4, D4);
                    double tol = 2.0 * deep_round_tol(K[i * N5 + i], K[j * N5 + j], sn, D4, L, N);
                    if (i != j) {
                        double q[L + 2], q2[L + 2], c[L + 2], sd[L + 2], Tl[L + 2];
                        ld_ntk(&lc, X6 + i * D4, X6 + j * D4, q, q2, c, sd, Tl);
                        double eS = 0, eT = 0;   /* errors of Σ_l(x,x') and T_l */
                        for (size_t l = 1; l <= L; l++) {
                            double bS, bD;
                            kink_bounds(a, q[l], q2[l], c[l], &gc, &bS, &bD);
                            double gap2 = q[l] * q2[l] - (fabs(c[l]) + eS) * (fabs(c[l]) + eS);
                            double dth = gap2 > 0 ? fmin(eS / sqrt(gap2), M_PI) : M_PI;
                            double dS = bS + Dmax * eS;
                            double dSd = sw * sw * (bD + (1.0 - a) * (1.0 - a) / (2.0 * M_PI) * dth);
                            double dP = par ? lc.m[l] * dS : sw * sw * dS;
                            eT = eT * sd[l] + (fabs(Tl[l]) + eT) * dSd + dP;
                            eS = sw * sw * dS;
                        }
                        tol += alpha * alpha * eT;
                    }
                    worst = fmax(worst, fabs(K[e] - Q[e]) / tol);
                    rel = fmax(rel, fabs(tol / K[e]));
                }
            CHECK_LE(worst, 1.0, "%s param %d: closed forms vs quadrature order %d at depth %d",
                     ntk_act_name(cfg.act.kind), par, N, L);
            printf("%s param %d depth %d: quadrature order %d error bound up to %.2g relative\n",
                   ntk_act_name(cfg.act.kind), par, L, N, rel);
        }
    }
}

/* ---- a plain network, its forward and backward pass ------------------------
 * Written here from docs/depth.md §1, independent of src/deep.c: W_l
 * (m_l, m_{l−1}) and b_l (m_l) drawn N(0, 1) and scaled by σ_w c_l and σ_b
 * in the standard parameterisation (c_1 = 1/s, c_l = 1/√m_{l−1}), the
 * forward factors κ_l = σ_w c_l and β = σ_b in the NTK one (1 in the
 * standard). For n points: H[l] = h_l, A[l] = φ(h_l) (A[0] = X), G[l] = δ_l
 * with δ_{L+1} = α, δ_l = φ'(h_l) ⊙ κ_{l+1} W_{l+1}ᵀ δ_{l+1}; f = α h_{L+1}. */
typedef struct {
    size_t L, n, m[NTK_MAX_DEPTH + 2];
    double kap[NTK_MAX_DEPTH + 2], beta, alpha, wscale[NTK_MAX_DEPTH + 2], bscale;
    int bias;
    ntk_act act;
    double *W[NTK_MAX_DEPTH + 2], *b[NTK_MAX_DEPTH + 2];
    double *H[NTK_MAX_DEPTH + 2], *A[NTK_MAX_DEPTH + 2], *G[NTK_MAX_DEPTH + 2], *f;
} tnet;

static void tnet_init(tnet *t, const ntk_net_config *cfg, size_t n)
{
    memset(t, 0, sizeof *t);
    t->L = ntk_net_depth(cfg), t->n = n, t->act = cfg->act, t->alpha = cfg->alpha;
    t->bias = cfg->bias_std > 0;
    int std = cfg->parameterization == NTK_PARAM_STANDARD;
    double s = ntk_net_config_s(cfg);
    for (size_t l = 0; l <= t->L + 1; l++) t->m[l] = ntk_net_width(cfg, l);
    for (size_t l = 1; l <= t->L + 1; l++) {
        double c = l == 1 ? 1.0 / s : 1.0 / sqrt((double)t->m[l - 1]);
        t->kap[l] = std ? 1.0 : cfg->weight_std * c;
        t->wscale[l] = std ? cfg->weight_std * c : 1.0;
        t->W[l] = malloc(t->m[l] * t->m[l - 1] * sizeof(double));
        t->b[l] = malloc(t->m[l] * sizeof(double));
        t->H[l] = malloc(n * t->m[l] * sizeof(double));
        t->A[l] = malloc(n * t->m[l] * sizeof(double));
        t->G[l] = malloc(n * t->m[l] * sizeof(double));
    }
    t->beta = std ? 1.0 : cfg->bias_std;
    t->bscale = std ? cfg->bias_std : 1.0;
    t->f = malloc(n * sizeof(double));
}

static void tnet_free(tnet *t)
{
    for (size_t l = 1; l <= t->L + 1; l++)
        free(t->W[l]), free(t->b[l]), free(t->H[l]), free(t->A[l]), free(t->G[l]);
    free(t->f);
}

/* draw the parameters, then the forward and backward passes of X (n, d) */
static void tnet_run(tnet *t, ntk_rng *rng, const double *X)
{
    for (size_t l = 1; l <= t->L + 1; l++) {
        size_t nw = t->m[l] * t->m[l - 1];
        ntk_rng_normal_fill(rng, t->W[l], nw);
        for (size_t e = 0; e < nw; e++) t->W[l][e] *= t->wscale[l];
        if (t->bias) {
            ntk_rng_normal_fill(rng, t->b[l], t->m[l]);
            for (size_t r = 0; r < t->m[l]; r++) t->b[l][r] *= t->bscale;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        const double *a = X + i * t->m[0];
        for (size_t l = 1; l <= t->L + 1; l++) {
            double *h = t->H[l] + i * t->m[l], *an = t->A[l] + i * t->m[l];
            for (size_t r = 0; r < t->m[l]; r++) {
                const double *w = t->W[l] + r * t->m[l - 1];
                double z = 0;
                for (size_t k = 0; k < t->m[l - 1]; k++) z += w[k] * a[k];
                h[r] = t->kap[l] * z + (t->bias ? t->beta * t->b[l][r] : 0.0);
                if (l <= t->L) an[r] = ntk_act_phi(t->act, h[r]);
            }
            a = an;
        }
        t->f[i] = t->alpha * t->H[t->L + 1][i];
        t->G[t->L + 1][i] = t->alpha;
        for (size_t l = t->L; l >= 1; l--) {
            double *g = t->G[l] + i * t->m[l];
            const double *gn = t->G[l + 1] + i * t->m[l + 1], *h = t->H[l] + i * t->m[l];
            for (size_t r = 0; r < t->m[l]; r++) g[r] = 0;
            for (size_t q = 0; q < t->m[l + 1]; q++) {
                const double *w = t->W[l + 1] + q * t->m[l];
                for (size_t r = 0; r < t->m[l]; r++) g[r] += w[r] * gn[q];
            }
            for (size_t r = 0; r < t->m[l]; r++) g[r] *= t->kap[l + 1] * ntk_act_dphi(t->act, h[r]);
        }
    }
}

/* Layer l's share of the empirical NTK at (i, j): the sum over layer l's
 * parameters of the products of the explicit gradient entries,
 * ∂f/∂W_l[r][k] = κ_l δ_l[r] a_{l−1}[k] and ∂f/∂b_l[r] = β δ_l[r]. */
static double tnet_share(const tnet *t, const double *X, size_t l, size_t i, size_t j)
{
    size_t ml = t->m[l], mp = t->m[l - 1];
    const double *gi = t->G[l] + i * ml, *gj = t->G[l] + j * ml;
    const double *ai = l == 1 ? X + i * mp : t->A[l - 1] + i * mp;
    const double *aj = l == 1 ? X + j * mp : t->A[l - 1] + j * mp;
    double sum = 0;
    for (size_t r = 0; r < ml; r++)
        for (size_t k = 0; k < mp; k++) sum += (t->kap[l] * gi[r] * ai[k]) * (t->kap[l] * gj[r] * aj[k]);
    if (t->bias)
        for (size_t r = 0; r < ml; r++) sum += (t->beta * gi[r]) * (t->beta * gj[r]);
    return sum;
}

/* Deep networks, NTK parameterisation, with biases and widths that differ
 * per layer: N independent networks, each giving for every pair (i ≤ j)
 * every layer's share of its empirical NTK from the explicit gradient
 * entries (tnet_share), their sum (the NTK), and f(x_i)f(x_j). The
 * infinite-width kernel must equal the mean over networks:
 *   - each share Θ^{(l)} (one-hot layer weights) and the NTK;
 *   - the NNGP α²Σ_{L+1}: the last layer's share is E[f(x)f(x') | the
 *     layers below] (the output layer's weights and bias integrated out),
 *     so its mean estimates E[f f']; and f(x)f(x') itself, with its far
 *     larger spread.
 * The estimates of one network are not i.i.d. sums (the units of a layer
 * share the layer below), so the spread is taken over networks: pass when
 * |mean − K| ≤ 6·sd/√N (sd over the N networks; with N = 24, Student's t
 * exceeds 6 with probability ~4e-6 per check), plus the finite-width bias
 * of the mean, of relative order Σ_l 1/m_l (the kernel at width m differs
 * from its limit by O(1/m) in mean and O(1/√m) in spread; Hanin & Nica
 * 2020), allowed as |K|·Σ_l 1/m_l, plus the mean's rounding and the
 * kernel's rounding bound; tanh (quadrature) adds twice the change from
 * order 64 to 128. Widths of about 1000 keep each configuration near a
 * second (a hidden layer of 2^16 would have 2^32 weights). The library's
 * empirical NTK (ntk_kernel EMPIRICAL on the same θ, src/kernel_deep_emp.c)
 * computes the same per-network values, so its mean must meet the same
 * bound. Negative control: the same means must be out of tolerance against
 * the kernel one layer shallower. */
static void test_mc_deep(void)
{
    enum { NN = 24, NPT = 5 };
    const struct {
        ntk_act_kind kind;
        size_t L, w[3];
        double sw, sb;
    } cases[] = {{NTK_ACT_RELU, 3, {768, 1024, 512}, 1.3, 0.2},
                 {NTK_ACT_ERF, 2, {1024, 512, 0}, 1.6, 0.1},
                 {NTK_ACT_TANH, 3, {512, 768, 1024}, 1.2, 0.3}};
    const double alpha = 1.1;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        size_t L = cases[t].L;
        ntk_net_config cfg = cfg_make(cases[t].kind, 0, L, 100, cases[t].sw, cases[t].sb,
                                      NTK_PARAM_NTK, alpha, D4);
        double inv_m = 0;
        for (size_t l = 0; l < L; l++) cfg.widths[l] = cases[t].w[l], inv_m += 1.0 / cases[t].w[l];
        /* the kernels: shares l = 1..L+1, the NTK (index 0), NNGP, quadrature at 128 */
        double K[NTK_MAX_DEPTH + 2][NPT * NPT], Kq[NTK_MAX_DEPTH + 2][NPT * NPT];
        double NG[NPT * NPT], Kwrong[NPT * NPT];
        for (size_t l = 0; l <= L + 1; l++) {
            double e[NTK_MAX_DEPTH + 1];
            for (size_t k = 0; k <= L; k++) e[k] = l == 0 || l == k + 1 ? 1.0 : 0.0;
            CHECK_OK(dk(&cfg, e, 0, 0, 0, X6, NPT, NULL, 0, K[l]));
            CHECK_OK(dk(&cfg, e, 1, 128, 0, X6, NPT, NULL, 0, Kq[l]));
        }
        CHECK_OK(nngp(&cfg, X6, NPT, NG));
        CHECK(memcmp(NG, K[L + 1], sizeof NG) == 0, "the NNGP is the last layer's share");
        ntk_net_config shallow = cfg;
        shallow.depth = L - 1;
        shallow.widths[L - 1] = 0;
        CHECK_OK(dk(&shallow, NULL, 0, 0, 0, X6, NPT, NULL, 0, Kwrong));
        /* the ensemble */
        double sum[NTK_MAX_DEPTH + 4][NPT * NPT] = {{0}}, ssq[NTK_MAX_DEPTH + 4][NPT * NPT] = {{0}};
        tnet net;
        tnet_init(&net, &cfg, NPT);
        size_t P = ntk_net_nparams(&cfg);
        double *theta = malloc(P * sizeof(double)), E[NPT * NPT];
        ntk_kernel_desc ke = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
        ke.theta = theta;
        ntk_rng rng;
        ntk_rng_seed(&rng, 500 + t);
        for (int k = 0; k < NN; k++) {
            tnet_run(&net, &rng, X6);
            for (size_t l = 1; l <= L + 1; l++) {   /* θ: W_l then b_l, layer by layer */
                size_t nW, nb, off = ntk_net_layer_offset(&cfg, l, &nW, &nb);
                memcpy(theta + off, net.W[l], nW * sizeof(double));
                if (nb) memcpy(theta + off + nW, net.b[l], nb * sizeof(double));
            }
            CHECK_OK(ntk_kernel(&ke, X6, NPT, NULL, 0, E));
            for (size_t i = 0; i < NPT; i++)
                for (size_t j = i; j < NPT; j++) {
                    size_t e = i * NPT + j;
                    sum[L + 3][e] += E[e], ssq[L + 3][e] += E[e] * E[e];
                    double ntk = 0;
                    for (size_t l = 1; l <= L + 1; l++) {
                        double v = tnet_share(&net, X6, l, i, j);
                        ntk += v;
                        sum[l][e] += v, ssq[l][e] += v * v;
                    }
                    sum[0][e] += ntk, ssq[0][e] += ntk * ntk;
                    double ff = net.f[i] * net.f[j];
                    sum[L + 2][e] += ff, ssq[L + 2][e] += ff * ff;
                }
        }
        tnet_free(&net);
        free(theta);
        double worst[NTK_MAX_DEPTH + 4] = {0}, control = 0;
        for (size_t i = 0; i < NPT; i++)
            for (size_t j = i; j < NPT; j++) {
                size_t e = i * NPT + j;
                for (size_t l = 0; l <= L + 3; l++) {
                    double mean = sum[l][e] / NN;
                    double sd = sqrt(fmax(ssq[l][e] / NN - mean * mean, 0) * NN / (NN - 1));
                    /* f f' estimates the NNGP, the library's empirical NTK the NTK */
                    size_t kl = l == L + 2 ? L + 1 : l == L + 3 ? 0 : l;
                    double Kl = K[kl][e];
                    double tol = 6.0 * sd / sqrt((double)NN) + fabs(Kl) * inv_m +
                                 mean_round(fabs(mean), NN) +
                                 deep_round_tol(K[0][i * NPT + i], K[0][j * NPT + j], 1.0, D4, L, 0);
                    if (cases[t].kind == NTK_ACT_TANH) tol += 2.0 * fabs(Kl - Kq[kl][e]);
                    worst[l] = fmax(worst[l], fabs(mean - Kl) / tol);
                    if (l == 0) control = fmax(control, fabs(mean - Kwrong[e]) / tol);
                }
            }
        const char *nm = ntk_act_name(cases[t].kind);
        CHECK_LE(worst[0], 1.0, "%s depth %zu: the NTK vs %d networks", nm, L, NN);
        for (size_t l = 1; l <= L + 1; l++)
            CHECK_LE(worst[l], 1.0, "%s depth %zu: layer %zu's share vs %d networks", nm, L, l, NN);
        CHECK_LE(worst[L + 2], 1.0, "%s depth %zu: the NNGP vs mean f(x)f(x')", nm, L);
        CHECK_LE(worst[L + 3], 1.0, "%s depth %zu: the NTK vs the library's empirical NTK's mean",
                 nm, L);
        CHECK(control > 1.0, "%s depth %zu: negative control (depth %zu kernel) not detected: %.3g",
              nm, L, L - 1, control);
        printf("%s depth %zu: worst |mean - K|/tol: NTK %.3g, NNGP %.3g; depth %zu kernel %.3g\n", nm,
               L, worst[0], worst[L + 1], L - 1, control);
    }
}

/* ---- (d) the standard parameterisation ----------------------------------- */

/* The standard network's empirical NTK (explicit gradient entries, the
 * plain network) over the standard infinite-width kernel at its widths,
 * r = Θ̂/Θ − 1 for every pair, at widths m = 64 (N = 128 networks) and
 * m = 1024 (N = 32), depth 2 with biases. (1) At each width the mean of r
 * is 0 within 6·sd/√N plus the finite-width bias Σ_l 1/m_l (as above).
 * (2) Its root mean square e(m) falls like m^(-1/2): the exponent
 * log(e(1024)/e(64))/log 16 lies in [−0.85, −0.15]. e(m)² is a mean over N
 * networks of r² (a network's pairs counted as one draw: they may be fully
 * correlated), r about Gaussian, so e² has relative sd ≤ √(2/N) and e half
 * that: 0.0625 at N = 128, 0.125 at N = 32; the log of the ratio has sd
 * ≤ 0.14, and ±0.35 in the exponent is ±0.97 in the log, 6.9 sd. */
static void test_standard_convergence(void)
{
    enum { NPT = 5 };
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF};
    const size_t widths[2] = {64, 1024};
    const int nets[2] = {128, 32};
    for (int t = 0; t < 2; t++) {
        double e_rms[2];
        for (int w = 0; w < 2; w++) {
            size_t m = widths[w];
            int N = nets[w];
            ntk_net_config cfg = cfg_make(kinds[t], 0, 2, m, 1.3, 0.2, NTK_PARAM_STANDARD, 0.8, D4);
            double K[NPT * NPT];
            CHECK_OK(dk(&cfg, NULL, 0, 0, 0, X6, NPT, NULL, 0, K));
            tnet net;
            tnet_init(&net, &cfg, NPT);
            ntk_rng rng;
            ntk_rng_seed(&rng, 700 + 10 * t + w);
            double rs[NPT * NPT] = {0}, rss[NPT * NPT] = {0}, all = 0;
            for (int k = 0; k < N; k++) {
                tnet_run(&net, &rng, X6);
                for (size_t i = 0; i < NPT; i++)
                    for (size_t j = i; j < NPT; j++) {
                        double th = 0;
                        for (size_t l = 1; l <= 3; l++) th += tnet_share(&net, X6, l, i, j);
                        double r = th / K[i * NPT + j] - 1.0;
                        rs[i * NPT + j] += r, rss[i * NPT + j] += r * r, all += r * r;
                    }
            }
            tnet_free(&net);
            double worst = 0, bias = 2.0 / (double)m;
            for (size_t i = 0; i < NPT; i++)
                for (size_t j = i; j < NPT; j++) {
                    double mean = rs[i * NPT + j] / N;
                    double sd = sqrt(fmax(rss[i * NPT + j] / N - mean * mean, 0) * N / (N - 1));
                    worst = fmax(worst, fabs(mean) / (6.0 * sd / sqrt((double)N) + bias));
                }
            CHECK_LE(worst, 1.0, "%s standard m = %zu: mean of Θ̂/Θ − 1", ntk_act_name(kinds[t]), m);
            e_rms[w] = sqrt(all / (N * NPT * (NPT + 1) / 2));
        }
        double slope = log(e_rms[1] / e_rms[0]) / log((double)widths[1] / widths[0]);
        CHECK(slope >= -0.85 && slope <= -0.15,
              "%s standard: relative error %.3g at m = 64, %.3g at 1024: exponent %.3f",
              ntk_act_name(kinds[t]), e_rms[0], e_rms[1], slope);
        printf("%s standard: rms relative error %.3g (m = 64), %.3g (m = 1024): exponent %.3f\n",
               ntk_act_name(kinds[t]), e_rms[0], e_rms[1], slope);
    }
}

/* ---- nearly parallel pairs: the long double recursion ------------------ */

/* relu and leaky relu at depth 4 against ld_ntk on pairs at angles from
 * 1e-8 to 1 rad, exactly parallel (x' = 2x), the same point, and nearly
 * antiparallel, both parameterisations, with and without biases. The
 * first layer takes the angle from the vectors; deeper layers whose ρ is
 * within 1e-4 of ±1 take arccos ρ and their Σ̇ may be off by
 * (1 − a)²/(2√2)·√|δρ| (src/kernel_inf.c, "no vectors"), with |δρ| ≤ 64u:
 * ρ's own 4u, 8u where it is read as ±1, and the error that c brings from
 * the layers below relative to √(qq'), ≤ 8u per layer (each map's rounding
 * at ρ → 1, tests/test_kernel_inf.c; relu carries relative errors with
 * gain 1), ≤ 32u at L = 4. That error of Σ̇_{l+1} reaches the NTK
 * multiplied by α² T_l Π_{j>l+1} Σ̇_j (taken from ld_ntk). Plus the rounding
 * bound with the smallest sin θ over the layers (deeper layers bring the
 * pair closer). The long double recursion's own error, ~3e-10 in θ at
 * ρ → 1, is below 2% of that allowance. */
static void test_near_parallel(void)
{
    enum { L = 4, NP = 9 };
    const double u = EPS / 2;
    const double angles[] = {1e-8, 1e-6, 1e-4, 1e-2, 1.0};
    ntk_rng rng;
    ntk_rng_seed(&rng, 21);
    double X[NP * D4], Y[NP * D4];
    for (int p = 0; p < NP; p++) {
        double x[D4], e[D4], nx = 0, dot = 0, ne = 0;
        ntk_rng_normal_fill(&rng, x, D4);
        ntk_rng_normal_fill(&rng, e, D4);
        for (int k = 0; k < D4; k++) nx += x[k] * x[k], dot += x[k] * e[k];
        for (int k = 0; k < D4; k++) e[k] -= dot / nx * x[k], ne += e[k] * e[k];
        for (int k = 0; k < D4; k++) {   /* y at the angle, of another norm */
            double th = p < 5 ? angles[p] : 0.0, r = 1.0 + 0.1 * p;
            X[p * D4 + k] = x[k];
            Y[p * D4 + k] = r * (cos(th) * x[k] + sin(th) * sqrt(nx / ne) * e[k]);
            if (p == 5) Y[p * D4 + k] = 2.0 * x[k];                       /* parallel */
            if (p == 6) Y[p * D4 + k] = x[k];                             /* the same point */
            if (p == 7) Y[p * D4 + k] = -0.5 * x[k] + 1e-7 * e[k];        /* antiparallel */
            if (p == 8) Y[p * D4 + k] = -x[k];
        }
    }
    const double slopes[] = {0.0, 0.2, -0.3};
    double worst_all = 0;
    for (int t = 0; t < 3; t++)
        for (int par = 0; par < 2; par++)
            for (int b = 0; b < 2; b++) {
                double a = slopes[t], sw = 1.3, sb = b ? 0.2 : 0.0, alpha = 0.9;
                ntk_net_config cfg = cfg_make(t ? NTK_ACT_LEAKY_RELU : NTK_ACT_RELU, a, L, 80, sw,
                                              sb, (ntk_param_kind)par, alpha, D4);
                ld_cfg lc = {L, D4, a, sw, sb, alpha, 2.0, par, {0, 80, 80, 80, 80}};
                double worst = 0;
                for (int p = 0; p < NP; p++) {
                    double XY[2 * D4], K[4], Kc;
                    memcpy(XY, X + p * D4, sizeof XY / 2);
                    memcpy(XY + D4, Y + p * D4, sizeof XY / 2);
                    CHECK_OK(dk(&cfg, NULL, 0, 0, 0, XY, 2, NULL, 0, K));
                    CHECK_OK(dk(&cfg, NULL, 0, 0, 0, XY, 1, XY + D4, 1, &Kc));
                    double q[L + 2], q2[L + 2], c[L + 2], sd[L + 2], Tl[L + 2];
                    long double ref = ld_ntk(&lc, XY, XY + D4, q, q2, c, sd, Tl);
                    double sin_e = 1.0, allow = 0.0;
                    for (size_t l = 1; l <= L; l++) {
                        double rho = c[l] / sqrt(q[l] * q2[l]);
                        sin_e = fmin(sin_e, fmax(sqrt(fmax(0.0, 1.0 - rho * rho)), SIN_CUT));
                        if (l == 1 || fabs(rho) <= 1.0 - 1e-4) continue;
                        double prod = 1.0;   /* Π_{j>l} Σ̇_j: sd[j] = Σ̇_{j+1} */
                        for (size_t j = l + 1; j <= L; j++) prod *= sd[j];
                        allow += alpha * alpha * fabs(Tl[l]) * sw * sw * (1 - a) * (1 - a) /
                                 (2.0 * sqrt(2.0)) * sqrt(64.0 * u) * prod;
                    }
                    double tol = deep_round_tol(K[0], K[3], sin_e, D4, L, 0) + allow;
                    double e1 = fabs(K[1] - (double)ref), e2 = fabs(Kc - (double)ref);
                    worst = fmax(worst, fmax(e1, e2) / tol);
                }
                worst_all = fmax(worst_all, worst);
                CHECK_LE(worst, 1.0, "%s slope %g param %d bias %g: nearly parallel pairs vs long double",
                         ntk_act_name(cfg.act.kind), a, par, sb);
            }
    printf("nearly parallel pairs at depth %d: worst error / allowance %.3g\n", L, worst_all);
}

/* ---- (c) Monte Carlo ------------------------------------------------------ */

/* One hidden layer of width 2^16, σ_w = 1.4, σ_b = 0.3, both
 * parameterisations: the units are independent, so every layer's share is
 * the mean of m i.i.d. per-unit terms, the products of the explicit
 * gradient entries of unit r at x and x' (NTK parameterisation,
 * f = α(κ_2 vᵀφ(h) + β b_2), h = κ_1 W x + β b_1, κ_1 = σ_w/s,
 * κ_2 = σ_w/√m, β = σ_b):
 *   layer 2 (v, b_2):  α²(σ_w² φ_r φ'_r + σ_b²)            [κ_2² = σ_w²/m]
 *   layer 1 (W, b_1):  α² σ_w² v_r² φ'(h_r)φ'(h'_r)(σ_w² x·x'/s² + σ_b²),
 * and in the standard one (W ~ N(0, σ_w²/s²), v ~ N(0, σ_w²/m), b ~ N(0,
 * σ_b²), no factors) the m-fold sums α²(Σ_r φφ' + 1) and
 * α² Σ_r v_r² φ'φ'(x·x' + 1), i.e. m times the mean of
 * α²(φφ' + 1/m) and α² σ_w² z_r² φ'φ'(x·x' + 1) (v_r = σ_w z_r/√m). Pass
 * when |mean − K^{(l)}| ≤ 6·sd/√m (a false alarm ~2e-9 per check), plus
 * the mean's rounding, the kernel's rounding bound, and for tanh (quadrature)
 * twice the change from the default order 64 to 128. */
static void test_mc_one_layer(void)
{
    const size_t m = (size_t)1 << 16, n = 5, d = D4;
    const double sw = 1.4, sb = 0.3, alpha = 1.2, s = 2.0 /* √d */;
    const ntk_act_kind kinds[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_TANH};
    double *P = malloc(n * m * sizeof(double)), *DP = malloc(n * m * sizeof(double));
    double *z = malloc(m * sizeof(double));
    for (int t = 0; t < 3; t++)
        for (int par = 0; par < 2; par++) {
            ntk_net_config cfg = cfg_make(kinds[t], 0, 1, m, sw, sb, (ntk_param_kind)par, alpha, d);
            double sh[2][N6 * N6], shq[2][N6 * N6];
            for (int l = 0; l < 2; l++) {
                double e[2] = {l == 0, l == 1};
                CHECK_OK(dk(&cfg, e, 0, 0, 0, X6, n, NULL, 0, sh[l]));
                CHECK_OK(dk(&cfg, e, 1, 128, 0, X6, n, NULL, 0, shq[l]));
            }
            ntk_rng rng;
            ntk_rng_seed(&rng, 300 + (uint64_t)(10 * t + par));
            for (size_t r = 0; r < m; r++) {
                double w[D4], b1;
                ntk_rng_normal_fill(&rng, w, d);
                b1 = ntk_rng_normal(&rng);
                z[r] = ntk_rng_normal(&rng);   /* v_r (NTK) or √m v_r/σ_w (standard) */
                for (size_t i = 0; i < n; i++) {
                    double h = 0;
                    for (size_t k = 0; k < d; k++) h += w[k] * X6[i * d + k];
                    h = sw / s * h + sb * b1;   /* the same in both parameterisations */
                    P[i * m + r] = ntk_act_phi(cfg.act, h);
                    DP[i * m + r] = ntk_act_dphi(cfg.act, h);
                }
            }
            double worst[2] = {0, 0};
            for (size_t i = 0; i < n; i++)
                for (size_t j = i; j < n; j++) {
                    double xx = 0;
                    for (size_t k = 0; k < d; k++) xx += X6[i * d + k] * X6[j * d + k];
                    double in1 = par ? xx + 1.0 : sw * sw * xx / (s * s) + sb * sb;
                    double mu[2] = {0, 0}, ss[2] = {0, 0}, ab[2] = {0, 0};
                    for (size_t r = 0; r < m; r++) {
                        double pp = P[i * m + r] * P[j * m + r];
                        double dd = DP[i * m + r] * DP[j * m + r];
                        double tt[2];
                        tt[0] = alpha * alpha * sw * sw * z[r] * z[r] * dd * in1;
                        tt[1] = par ? alpha * alpha * (pp + 1.0 / (double)m)
                                    : alpha * alpha * (sw * sw * pp + sb * sb);
                        for (int l = 0; l < 2; l++)
                            mu[l] += tt[l], ss[l] += tt[l] * tt[l], ab[l] += fabs(tt[l]);
                    }
                    for (int l = 0; l < 2; l++) {
                        double scale = par && l == 1 ? (double)m : 1.0;   /* standard: m-fold sum */
                        double mean = mu[l] / (double)m, sd = sqrt(fmax(ss[l] / (double)m - mean * mean, 0));
                        double Kl = sh[l][i * n + j];
                        double tol = scale * (6.0 * sd / sqrt((double)m) + mean_round(ab[l] / (double)m, m)) +
                                     deep_round_tol(sh[l][i * n + i], sh[l][j * n + j], 1.0, d, 1, 0);
                        if (kinds[t] == NTK_ACT_TANH) tol += 2.0 * fabs(Kl - shq[l][i * n + j]);
                        worst[l] = fmax(worst[l], fabs(scale * mean - Kl) / tol);
                    }
                }
            for (int l = 0; l < 2; l++)
                CHECK_LE(worst[l], 1.0, "%s param %d: layer %d share vs 2^16 units",
                         ntk_act_name(kinds[t]), par, l + 1);
        }
    free(P), free(DP), free(z);
}

/* ---- errors ------------------------------------------------------------ */

static void test_errors(void)
{
    ntk_net_config cfg = cfg_make(NTK_ACT_RELU, 0, 3, 50, 1.2, 0.1, NTK_PARAM_NTK, 1.0, D4);
    double K[N6 * N6];
    ntk_kernel_desc k = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
    CHECK_ERR(kernel_deep_infinite(NULL, X6, N6, NULL, 0, K), NTK_ERR_ARG);
    CHECK_ERR(kernel_deep_infinite(&k, NULL, N6, NULL, 0, K), NTK_ERR_ARG);
    CHECK_ERR(kernel_deep_infinite(&k, X6, N6, NULL, 0, NULL), NTK_ERR_ARG);
    double lw[4] = {1, NAN, 1, 1};
    CHECK_ERR(dk(&cfg, lw, 0, 0, 0, X6, N6, NULL, 0, K), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "layer 2") != NULL, "the message names the layer: %s", ntk_errmsg());
    CHECK_ERR(dk(&cfg, NULL, 0, 1, 0, X6, N6, NULL, 0, K), NTK_ERR_ARG);      /* order 1 */
    CHECK_ERR(dk(&cfg, NULL, 1, 100000, 0, X6, N6, NULL, 0, K), NTK_ERR_ARG);
    CHECK_ERR(dk(&cfg, NULL, 0, 0, 1, X6, N6, X6, N6, K), NTK_ERR_ARG);       /* diagonal, X2 */
    double Xbad[N6 * D4];
    memcpy(Xbad, X6, sizeof Xbad);
    Xbad[9] = NAN;
    CHECK_ERR(dk(&cfg, NULL, 0, 0, 0, Xbad, N6, NULL, 0, K), NTK_ERR_NONFINITE);
    CHECK_ERR(dk(&cfg, NULL, 0, 0, 0, X6, N6, Xbad, N6, K), NTK_ERR_NONFINITE);
    CHECK_ERR(dk(&cfg, NULL, 0, 0, 1, Xbad, N6, NULL, 0, K), NTK_ERR_NONFINITE);
    ntk_net_config bad = cfg;
    bad.weight_std = -1.0;
    CHECK_ERR(dk(&bad, NULL, 0, 0, 0, X6, N6, NULL, 0, K), NTK_ERR_ARG);
    bad = cfg;
    bad.depth = NTK_MAX_DEPTH + 1;
    CHECK_ERR(dk(&bad, NULL, 0, 0, 0, X6, N6, NULL, 0, K), NTK_ERR_ARG);
    /* an overflowing kernel is refused, not returned: σ_w = 1e100 over 16 layers */
    bad = cfg;
    bad.weight_std = 1e100;
    bad.depth = 3;
    CHECK_ERR(dk(&bad, NULL, 0, 0, 0, X6, N6, NULL, 0, K), NTK_ERR_NONFINITE);
    CHECK_ERR(dk(&bad, NULL, 0, 0, 1, X6, N6, NULL, 0, K), NTK_ERR_NONFINITE);
    /* the scratch for 2^31 − 1 points at depth 16 (about 1 TB a point set:
     * 2^31 points × (1 + 3·16 + d + 1) doubles) is refused before anything is
     * read or allocated (X1 is a short array: nothing may touch it) */
    ntk_net_config big = cfg;
    big.depth = NTK_MAX_DEPTH;
    CHECK_ERR(dk(&big, NULL, 0, 0, 0, X6, (size_t)INT_MAX, NULL, 0, K), NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "deep infinite") != NULL, "the message names the kernel: %s",
          ntk_errmsg());
    CHECK_ERR(dk(&big, NULL, 0, 0, 0, X6, (size_t)INT_MAX, X6, (size_t)INT_MAX, K), NTK_ERR_NOMEM);
    CHECK_ERR(dk(&cfg, NULL, 0, 0, 0, X6, (size_t)INT_MAX + 1, NULL, 0, K), NTK_ERR_ARG);
    /* the planners' estimate: 8·(n1 + n2)(1 + 3L + [σ_b > 0](d + 1)) for the
     * point sets, 24·max(n1, n2) for the diagonal recursion, 16·R·n2 for a
     * block of R rows (R = n1 here: 2^18/n2 ≥ n1), nothing of order n1·n2 in
     * diagonal mode */
    {
        ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
        size_t L = 3, per = 1 + 3 * L + D4 + 1;
        CHECK(kernel_deep_infinite_scratch_bytes(&kd, 100, 0) ==
                  8 * (100 * per + 300) + 16 * 100 * 100,
              "symmetric scratch %zu", kernel_deep_infinite_scratch_bytes(&kd, 100, 0));
        CHECK(kernel_deep_infinite_scratch_bytes(&kd, 100, 50) ==
                  8 * (150 * per + 300) + 16 * 100 * 50,
              "cross scratch %zu", kernel_deep_infinite_scratch_bytes(&kd, 100, 50));
        kd.diagonal = 1;
        CHECK(kernel_deep_infinite_scratch_bytes(&kd, 100000, 0) == 8 * (100000 * per + 300000),
              "diagonal scratch %zu", kernel_deep_infinite_scratch_bytes(&kd, 100000, 0));
    }
    /* empty inputs write nothing */
    K[0] = 42.0;
    CHECK_OK(dk(&cfg, NULL, 0, 0, 0, X6, 0, NULL, 0, K));
    CHECK_OK(dk(&cfg, NULL, 0, 0, 0, X6, N6, X6, 0, K));
    CHECK_OK(dk(&cfg, NULL, 0, 0, 1, X6, 0, NULL, 0, K));
    CHECK(K[0] == 42.0, "an empty block wrote to K");
}

int main(void)
{
    /* the thread count OpenBLAS starts with (OPENBLAS_NUM_THREADS): the
     * kernels' rows are split over ntk_get_threads() threads */
    printf("threads: %d\n", ntk_get_threads());
    test_depth_one();
    test_shares();
    test_identity();
    test_relu_diagonal();
    test_modes();
    test_threads_widths();
    test_closed_vs_quadrature();
    test_mc_one_layer();
    test_near_parallel();
    test_mc_deep();
    test_standard_convergence();
    test_errors();
    return t_finish();
}
