/* The empirical NTK of deep networks (docs/depth.md) against an explicit
 * Jacobian: every layer's block (one-hot layer weights) and mixtures, with and
 * without biases, both parameterisations, several activations, widths that
 * differ, depths 1..3, symmetric, cross and diagonal blocks, under memory
 * limits that force small tiles; the two-layer kernel reproduced by the deep
 * code; the matrix-free operator's products against the dense kernel; the
 * refusals (no θ, Hu et al.'s models at depth, no tile under the limit).
 *
 * The oracle is written here with plain loops, one sample at a time, and
 * shares nothing with src/deep.c or src/kernel_deep_emp.c: the forward pass
 * h_1 = κ_1 W_1 x + β b_1, a_l = φ(h_l), h_{l+1} = κ_{l+1} W_{l+1} a_l + β b_{l+1},
 * f = α h_{L+1}, the backward pass δ_{L+1} = α, δ_l = φ'(h_l) ⊙ κ_{l+1} W_{l+1}ᵀ δ_{l+1},
 * the Jacobian row ∂f/∂W_l = κ_l δ_l a_{l−1}ᵀ, ∂f/∂b_l = β δ_l (κ_l = σ_w/s,
 * σ_w/√m_{l−1} and β = σ_b in the NTK parameterisation, κ_l = β = 1 in the
 * standard one), and K_ij = Σ_l w_l Σ_{p in layer l} J_ip J_jp. */
#include "harness.h"
#include "deep_internal.h"
#include "internal.h"
#include "ntkit.h"

#include <cblas.h>
#include <float.h>

/* src/kernel_deep_emp.c: the scratch of a plan (repeated here until
 * src/deep_internal.h declares it; a compatible redeclaration is harmless) */
size_t kernel_deep_empirical_scratch_bytes(const ntk_kernel_desc *k, size_t n1, size_t n2,
                                           size_t mem_limit);

static double *randn(ntk_rng *rng, size_t count)
{
    double *x = malloc(count * sizeof *x);
    ntk_rng_normal_fill(rng, x, count);
    return x;
}

/* ---- The oracle's layout of θ (written from the spec, not network.c) ---- */

typedef struct {
    size_t L, P;
    size_t m[NTK_MAX_DEPTH + 2];     /* m_0 = d .. m_{L+1} = 1 */
    size_t off[NTK_MAX_DEPTH + 3];   /* W_l at off[l]; off[L+2] = P */
    int bias;
    double kappa[NTK_MAX_DEPTH + 2], beta;
} ref_net;

static ref_net ref_layout(const ntk_net_config *cfg)
{
    ref_net R;
    memset(&R, 0, sizeof R);
    R.L = cfg->depth ? cfg->depth : 1;
    R.m[0] = cfg->d;
    for (size_t l = 1; l <= R.L; l++) R.m[l] = cfg->widths[l - 1] ? cfg->widths[l - 1] : cfg->m;
    R.m[R.L + 1] = 1;
    R.bias = cfg->bias_std > 0;
    int std = cfg->parameterization == NTK_PARAM_STANDARD;
    double s = cfg->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)cfg->d);
    for (size_t l = 1; l <= R.L + 1; l++)
        R.kappa[l] = std ? 1.0 : cfg->weight_std / (l == 1 ? s : sqrt((double)R.m[l - 1]));
    R.beta = std ? 1.0 : cfg->bias_std;
    R.off[1] = 0;
    for (size_t l = 1; l <= R.L + 1; l++)
        R.off[l + 1] = R.off[l] + R.m[l] * R.m[l - 1] + (R.bias ? R.m[l] : 0);
    R.P = R.off[R.L + 2];
    return R;
}

/* θ drawn so that the network is at a typical initialisation: N(0,1) in the
 * NTK parameterisation, N(0, (σ_w c_l)²) and N(0, σ_b²) in the standard one. */
static double *draw_theta(const ntk_net_config *cfg, ntk_rng *rng)
{
    ref_net R = ref_layout(cfg);
    double *th = randn(rng, R.P);
    if (cfg->parameterization != NTK_PARAM_STANDARD) return th;
    double s = cfg->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)cfg->d);
    for (size_t l = 1; l <= R.L + 1; l++) {
        double sd = cfg->weight_std / (l == 1 ? s : sqrt((double)R.m[l - 1]));
        size_t nW = R.m[l] * R.m[l - 1];
        for (size_t p = 0; p < nW; p++) th[R.off[l] + p] *= sd;
        if (R.bias)
            for (size_t r = 0; r < R.m[l]; r++) th[R.off[l] + nW + r] *= cfg->bias_std;
    }
    return th;
}

/* ---- Tolerances ----------------------------------------------------------
 * Error model of a Jacobian entry, carried through the oracle's passes (to
 * first order; γ_k = k·ε):
 *  - a pre-activation h = κ Σ_c W_c a_c + β b, summed in any order, is within
 *    γ_{m+3}·(κ Σ|W_c a_c| + |β b|) of the exact sum of its computed inputs,
 *    plus κ Σ |W_c|·e(a_c) carried from the layer below (X is exact);
 *  - φ(h) within ACT_ULP·ε·(1 + |h|) plus |φ'(h)|·e(h), φ'(h) within
 *    ACT_ULP·ε plus |φ''(h)|·e(h) (libm's erf, tanh and exp are within a few
 *    ulp; the library's vectorised maps are held to the same in
 *    tests/test_activation.c);
 *  - δ_l = φ'(h_l) t, t = κ Σ_q W_q δ_{l+1,q}: e(t) = γ_{m+3}·κ Σ|W_q δ_q| +
 *    κ Σ|W_q| e(δ_q), e(δ) = |φ'| e(t) + e(φ')|t| + e(φ') e(t) + ε|δ|;
 *  - J = κ δ a: κ(e(δ)|a| + |δ| e(a) + e(δ) e(a)) + 3ε|J|; J = β δ: β e(δ) + 2ε|J|.
 * Both the library and the oracle compute their features within these bounds
 * (any summation order, with or without FMA). A kernel entry then sums at
 * most P products of two entries, grouped by the library as a Hadamard
 * product of two Grams of lengths m_l and m_{l−1} + 1, scaled and summed over
 * L + 1 layers: within
 *   B_ij = Σ_l |w_l| Σ_p (|J_ip| E_jp + E_ip |J_jp| + E_ip E_jp) + γ_{P+L+6}·S_ij,
 *   S_ij = Σ_l |w_l| Σ_p |J_ip J_jp|,
 * of the exact sum, so library and oracle are at most 2·B_ij apart.
 * (A relu argument within rounding of 0 could flip φ'; with Gaussian data
 * that has probability ~ n·Σm_l·ε.)
 * Issue 15 asks for agreement to 1e-12, read here relative to the block's
 * scale max_i √K_ii · max_j √K_jj (≥ max |K_ij| for nonnegative weights).
 * The kernel's own rounding, γ_{P+L+6}·S_ij ≤ 108ε·scale < 3e-14·scale here
 * (P ≤ 99), is far below it; the feature terms of B are worst cases (every
 * rounding at its maximum, with one sign, through every layer) and reach
 * about 2e-12 of the scale for the deepest erf networks here, while the
 * measured differences stay at a few times 1e-15. So both are checked: the derived
 * bound 2B entry by entry, and the issue's 1e-12 of the scale, a hundred
 * times the rounding actually seen; a failure of the second alone would mean
 * features computed far less accurately than the rounding model's typical
 * case, worth a look on that CPU. */
#define ACT_ULP 8.0
#define REL_ISSUE 1e-12

static double gam(double k) { return k * DBL_EPSILON; }

/* X (n,d) -> J (n,P) and the error bounds E (n,P) (above). */
static void ref_jacobian(const ntk_net_config *cfg, const double *theta, const double *X, size_t n,
                         double *J, double *E)
{
    const ref_net R = ref_layout(cfg);
    const size_t L = R.L, P = R.P;
    const double eps = DBL_EPSILON;
    size_t mo[NTK_MAX_DEPTH + 3], tot = 0;
    for (size_t l = 0; l <= L + 1; l++) mo[l] = tot, tot += R.m[l];
    double *a = calloc(tot, sizeof(double)), *ea = calloc(tot, sizeof(double));
    double *dp = calloc(tot, sizeof(double)), *edp = calloc(tot, sizeof(double));
    double *del = calloc(tot, sizeof(double)), *edel = calloc(tot, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < R.m[0]; c++) a[c] = X[i * R.m[0] + c], ea[c] = 0.0;
        for (size_t l = 1; l <= L; l++) {   /* forward, hidden layers */
            const size_t mp = R.m[l - 1], ml = R.m[l];
            const double *W = theta + R.off[l], *b = W + ml * mp, k = R.kappa[l];
            for (size_t r = 0; r < ml; r++) {
                double z = 0.0, zab = 0.0, ez = 0.0;
                for (size_t c = 0; c < mp; c++) {
                    z += W[r * mp + c] * a[mo[l - 1] + c];
                    zab += fabs(W[r * mp + c] * a[mo[l - 1] + c]);
                    ez += fabs(W[r * mp + c]) * ea[mo[l - 1] + c];
                }
                double h = k * z + (R.bias ? R.beta * b[r] : 0.0);
                double hab = k * zab + (R.bias ? fabs(R.beta * b[r]) : 0.0);
                double eh = gam((double)mp + 3.0) * hab + k * ez;
                double p1 = ntk_act_dphi(cfg->act, h), p2 = ntk_act_d2phi(cfg->act, h);
                a[mo[l] + r] = ntk_act_phi(cfg->act, h);
                ea[mo[l] + r] = fabs(p1) * eh + ACT_ULP * eps * (1.0 + fabs(h));
                dp[mo[l] + r] = p1;
                edp[mo[l] + r] = (isfinite(p2) ? fabs(p2) : 0.0) * eh + ACT_ULP * eps;
            }
        }
        del[mo[L + 1]] = cfg->alpha, edel[mo[L + 1]] = 0.0;
        for (size_t l = L; l >= 1; l--) {   /* backward */
            const size_t ml = R.m[l], mn = R.m[l + 1];
            const double *W = theta + R.off[l + 1], k = R.kappa[l + 1];
            for (size_t r = 0; r < ml; r++) {
                double t = 0.0, tab = 0.0, et = 0.0;
                for (size_t q = 0; q < mn; q++) {
                    t += W[q * ml + r] * del[mo[l + 1] + q];
                    tab += fabs(W[q * ml + r] * del[mo[l + 1] + q]);
                    et += fabs(W[q * ml + r]) * edel[mo[l + 1] + q];
                }
                t *= k;
                et = gam((double)mn + 3.0) * k * tab + k * et;
                double g = dp[mo[l] + r], eg = edp[mo[l] + r];
                del[mo[l] + r] = g * t;
                edel[mo[l] + r] = fabs(g) * et + eg * fabs(t) + eg * et + eps * fabs(g * t);
            }
        }
        double *Ji = J + i * P, *Ei = E + i * P;
        for (size_t l = 1; l <= L + 1; l++) {   /* the Jacobian row */
            const size_t mp = R.m[l - 1], ml = R.m[l];
            const double k = R.kappa[l];
            for (size_t r = 0; r < ml; r++) {
                double dr = del[mo[l] + r], er = edel[mo[l] + r];
                for (size_t c = 0; c < mp; c++) {
                    double ac = a[mo[l - 1] + c], ec = ea[mo[l - 1] + c];
                    size_t p = R.off[l] + r * mp + c;
                    Ji[p] = k * dr * ac;
                    Ei[p] = k * (er * fabs(ac) + fabs(dr) * ec + er * ec) + 3.0 * eps * fabs(Ji[p]);
                }
                if (R.bias) {
                    size_t p = R.off[l] + ml * mp + r;
                    Ji[p] = R.beta * dr;
                    Ei[p] = R.beta * er + 2.0 * eps * fabs(Ji[p]);
                }
            }
        }
    }
    free(a), free(ea), free(dp), free(edp), free(del), free(edel);
}

/* K (n1,n2) = Σ_l w_l J1_l J2_lᵀ, its bound B and its scale S (above);
 * w[l−1] is layer l's weight. */
static void ref_kernel(const ref_net *R, const double *w, const double *J1, const double *E1,
                       size_t n1, const double *J2, const double *E2, size_t n2, double *K,
                       double *B, double *S)
{
    const size_t P = R->P;
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            const double *a = J1 + i * P, *ea = E1 + i * P, *b = J2 + j * P, *eb = E2 + j * P;
            double k = 0.0, e = 0.0, s = 0.0;
            for (size_t l = 1; l <= R->L + 1; l++) {
                double wl = w[l - 1], kl = 0.0, el = 0.0, sl = 0.0;
                if (wl == 0.0) continue;
                for (size_t p = R->off[l]; p < R->off[l + 1]; p++) {
                    kl += a[p] * b[p];
                    el += fabs(a[p]) * eb[p] + ea[p] * fabs(b[p]) + ea[p] * eb[p];
                    sl += fabs(a[p] * b[p]);
                }
                k += wl * kl, e += fabs(wl) * el, s += fabs(wl) * sl;
            }
            K[i * n2 + j] = k;
            S[i * n2 + j] = s;
            B[i * n2 + j] = e + gam((double)(P + R->L + 6)) * s;
        }
}

/* The weights w_l of a description (the layer_weights rule, written out). */
static void desc_weights(const ntk_kernel_desc *k, size_t L, double *w)
{
    for (size_t l = 1; l <= L + 1; l++)
        w[l - 1] = k->layer_weights ? k->layer_weights[l - 1] : l <= L ? k->c1 : k->c2;
}

/* The oracle's kernel of a description: K, B, S (n1,n2) and the self terms
 * Q1 (n1) = K(x_i, x_i), Q2 (n2) (X2 NULL: X1). */
typedef struct {
    double *K, *B, *S, *Q1, *Q2;
} ref_out;

static ref_out ref_compute(const ntk_kernel_desc *kd, const double *X1, size_t n1, const double *X2,
                           size_t n2)
{
    const ref_net R = ref_layout(kd->net);
    if (!X2) X2 = X1, n2 = n1;
    double w[NTK_MAX_DEPTH + 1];
    desc_weights(kd, R.L, w);
    double *J1 = malloc(n1 * R.P * sizeof(double)), *E1 = malloc(n1 * R.P * sizeof(double));
    double *J2 = malloc(n2 * R.P * sizeof(double)), *E2 = malloc(n2 * R.P * sizeof(double));
    ref_jacobian(kd->net, kd->theta, X1, n1, J1, E1);
    ref_jacobian(kd->net, kd->theta, X2, n2, J2, E2);
    ref_out o = {malloc(n1 * n2 * sizeof(double)), malloc(n1 * n2 * sizeof(double)),
                 malloc(n1 * n2 * sizeof(double)), malloc(n1 * sizeof(double)),
                 malloc(n2 * sizeof(double))};
    ref_kernel(&R, w, J1, E1, n1, J2, E2, n2, o.K, o.B, o.S);
    double b, s;
    for (size_t i = 0; i < n1; i++) ref_kernel(&R, w, J1 + i * R.P, E1, 1, J1 + i * R.P, E1, 1, o.Q1 + i, &b, &s);
    for (size_t j = 0; j < n2; j++) ref_kernel(&R, w, J2 + j * R.P, E2, 1, J2 + j * R.P, E2, 1, o.Q2 + j, &b, &s);
    free(J1), free(E1), free(J2), free(E2);
    return o;
}

static void ref_free(ref_out *o) { free(o->K), free(o->B), free(o->S), free(o->Q1), free(o->Q2); }

/* max_ij |K − R| / B_ij (0/0 counts as 0; a NaN is returned as NaN) */
static double bound_ratio(const double *K, const double *R, const double *B, size_t count)
{
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs(K[i] - R[i]), r = e == 0.0 ? 0.0 : e / B[i];
        if (isnan(r)) return r;
        if (r > worst) worst = r;
    }
    return worst;
}

/* max_ij |K − R| / (max_i √Q1_i · max_j √Q2_j): the difference relative to
 * the block's scale (≥ max |K_ij| by Cauchy–Schwarz) */
static double issue_ratio(const double *K, const ref_out *o, size_t n1, size_t n2)
{
    double q1 = 0.0, q2 = 0.0, worst = 0.0;
    for (size_t i = 0; i < n1; i++) q1 = fmax(q1, sqrt(o->Q1[i]));
    for (size_t j = 0; j < n2; j++) q2 = fmax(q2, sqrt(o->Q2[j]));
    for (size_t e = 0; e < n1 * n2; e++) {
        double r = fabs(K[e] - o->K[e]);
        if (isnan(r)) return r;
        if (r > worst) worst = r;
    }
    return worst / (q1 * q2);
}

static ntk_net_config deep_cfg(size_t d, size_t L, const size_t *widths, double sw, double sb,
                               ntk_param_kind param, ntk_act act)
{
    ntk_net_config c = ntk_net_config_default(d, widths[0]);
    c.depth = L;
    for (size_t l = 0; l < L; l++) c.widths[l] = widths[l];
    c.weight_std = sw;
    c.bias_std = sb;
    c.parameterization = param;
    c.act = act;
    return c;
}

static const ntk_act ACTS[] = {
    {NTK_ACT_RELU, 0.0}, {NTK_ACT_ERF, 0.0}, {NTK_ACT_TANH, 0.0}, {NTK_ACT_GELU, 0.0},
    {NTK_ACT_LEAKY_RELU, 0.2},
};
#define NACTS (sizeof ACTS / sizeof ACTS[0])
static const size_t WIDTHS[3] = {7, 5, 6};

/* One description against the oracle: symmetric, cross and diagonal. */
static void check_desc(const ntk_kernel_desc *kd, const double *X1, size_t n1, const double *X2,
                       size_t n2, const char *what)
{
    double *K = malloc(n1 * (n1 > n2 ? n1 : n2) * sizeof(double));
    ref_out o = ref_compute(kd, X1, n1, NULL, 0);
    CHECK_OK(ntk_kernel(kd, X1, n1, NULL, 0, K));
    CHECK_LE(bound_ratio(K, o.K, o.B, n1 * n1), 2.0, "%s symmetric: |K - R| / B", what);
    CHECK_LE(issue_ratio(K, &o, n1, n1), REL_ISSUE, "%s symmetric: |K - R| / the block's scale", what);
    int sym = 1;
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < i; j++) sym &= K[i * n1 + j] == K[j * n1 + i];
    CHECK(sym, "%s: the symmetric block is not exactly symmetric", what);
    /* diagonal mode: K_ii alone, against the oracle's diagonal */
    ntk_kernel_desc kdiag = *kd;
    kdiag.diagonal = 1;
    double *D = malloc(n1 * sizeof(double)), *Rd = malloc(n1 * sizeof(double));
    double *Bd = malloc(n1 * sizeof(double));
    CHECK_OK(ntk_kernel(&kdiag, X1, n1, NULL, 0, D));
    for (size_t i = 0; i < n1; i++) Rd[i] = o.K[i * n1 + i], Bd[i] = o.B[i * n1 + i];
    CHECK_LE(bound_ratio(D, Rd, Bd, n1), 2.0, "%s diagonal: |K_ii - R_ii| / B_ii", what);
    ref_free(&o);
    o = ref_compute(kd, X1, n1, X2, n2);
    CHECK_OK(ntk_kernel(kd, X1, n1, X2, n2, K));
    CHECK_LE(bound_ratio(K, o.K, o.B, n1 * n2), 2.0, "%s cross: |K - R| / B", what);
    CHECK_LE(issue_ratio(K, &o, n1, n2), REL_ISSUE, "%s cross: |K - R| / the block's scale", what);
    ref_free(&o);
    free(K), free(D), free(Rd), free(Bd);
}

/* Every layer's block alone (one-hot weights), the default weights (c1 on
 * the hidden layers, c2 on the output layer) and a mixture, at depths 1..3,
 * with and without biases, both parameterisations, five activations, both
 * input scales, α ≠ 1. */
static void test_vs_jacobian(void)
{
    const size_t d = 4, n1 = 6, n2 = 4;
    ntk_rng rng;
    ntk_rng_seed(&rng, 151);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    char what[160];
    int variant = 0;
    for (size_t L = 1; L <= 3; L++)
        for (int param = 0; param < 2; param++)
            for (int bias = 0; bias < 2; bias++)
                for (size_t a = 0; a < NACTS; a++, variant++) {
                    double sw = L == 1 && !bias && !param ? 1.3 : 1.0 + 0.25 * (double)(variant % 3);
                    ntk_net_config cfg = deep_cfg(d, L, WIDTHS, sw, bias ? 0.4 : 0.0,
                                                  param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, ACTS[a]);
                    cfg.input_scale = variant % 2 ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D;
                    cfg.alpha = variant % 2 ? 1.7 : 0.8;
                    CHECK(ntk_net_is_deep(&cfg), "the configuration must take the deep path");
                    double *theta = draw_theta(&cfg, &rng);
                    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
                    kd.theta = theta;
                    double lw[NTK_MAX_DEPTH + 1];
                    for (size_t hot = 0; hot <= L + 2; hot++) {
                        const char *mode = "one-hot";
                        kd.layer_weights = lw;
                        if (hot <= L) {   /* layer hot+1 alone */
                            for (size_t l = 0; l <= L; l++) lw[l] = l == hot ? 1.0 : 0.0;
                        } else if (hot == L + 1) {   /* the default rule */
                            kd.layer_weights = NULL, kd.c1 = 0.6, kd.c2 = 1.4, mode = "c1,c2";
                        } else {
                            for (size_t l = 0; l <= L; l++) lw[l] = 0.5 + 0.75 * (double)l;
                            mode = "mixed";
                        }
                        snprintf(what, sizeof what, "L=%zu %s bias=%d %s %s (layer %zu)", L,
                                 param ? "standard" : "ntk", bias, ntk_act_name(ACTS[a].kind), mode,
                                 hot + 1);
                        check_desc(&kd, X1, n1, X2, n2, what);
                    }
                    free(theta);
                }
    free(X1), free(X2);
}

/* The two-layer network (L = 1, σ_w = 1, σ_b = 0, NTK parameterisation)
 * runs the two-layer code in ntk_kernel; the deep code called directly on
 * θ = [W, v] gives the same kernel: both within the oracle's bound of the
 * exact sums, so within 2B of each other, for Θ1, Θ2 and a mixture. */
static void test_two_layer(void)
{
    const size_t d = 5, m = 9, n1 = 7, n2 = 3;
    ntk_rng rng;
    ntk_rng_seed(&rng, 152);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    double K2[n1 * n1], Kd[n1 * n1], D[n1];
    const double cw[3][2] = {{1, 0}, {0, 1}, {0.7, 1.6}};
    for (size_t a = 0; a < NACTS; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act = ACTS[a];
        cfg.alpha = 1.3;
        cfg.input_scale = a % 2 ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D;
        CHECK(!ntk_net_is_deep(&cfg), "the two-layer configuration");
        double *theta = randn(&rng, m * d + m);
        for (int w = 0; w < 3; w++) {
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
            kd.W = theta, kd.v = theta + m * d, kd.theta = theta;
            kd.c1 = cw[w][0], kd.c2 = cw[w][1];
            for (int cross = 0; cross < 2; cross++) {
                const double *Xb = cross ? X2 : NULL;
                size_t nb = cross ? n2 : n1;
                ref_out o = ref_compute(&kd, X1, n1, Xb, nb);
                CHECK_OK(ntk_kernel(&kd, X1, n1, Xb, nb, K2));
                CHECK_OK(kernel_deep_empirical(&kd, X1, n1, Xb, nb, Kd));
                CHECK_LE(bound_ratio(Kd, K2, o.B, n1 * nb), 2.0,
                         "%s c=(%g,%g) cross=%d: |K_deep - K_two-layer| / B",
                         ntk_act_name(ACTS[a].kind), cw[w][0], cw[w][1], cross);
                CHECK_LE(bound_ratio(K2, o.K, o.B, n1 * nb), 2.0,
                         "%s c=(%g,%g) cross=%d: the oracle's layout is the two-layer θ = [W, v]",
                         ntk_act_name(ACTS[a].kind), cw[w][0], cw[w][1], cross);
                if (!cross) {
                    kd.diagonal = 1;
                    CHECK_OK(kernel_deep_empirical(&kd, X1, n1, NULL, 0, D));
                    kd.diagonal = 0;
                    double e = 0.0;
                    for (size_t i = 0; i < n1; i++)
                        e = fmax(e, fabs(D[i] - K2[i * n1 + i]) / o.B[i * n1 + i]);
                    CHECK_LE(e, 2.0, "%s: deep diagonal against the two-layer kernel's",
                             ntk_act_name(ACTS[a].kind));
                }
                ref_free(&o);
            }
        }
        free(theta);
    }
    free(X1), free(X2);
}

/* Under memory limits from the smallest that is accepted (found by
 * bisection on the NTK_ERR_NOMEM answer) upwards, the tiles shrink to 64
 * points and the column features are recomputed per block; every plan
 * agrees with the oracle within 2B, and a limit under the smallest tile is
 * refused with the estimate in the message before any allocation. */
static void test_tiling(void)
{
    const size_t d = 6, n1 = 150, n2 = 70, L = 3, widths[3] = {12, 9, 10};
    ntk_rng rng;
    ntk_rng_seed(&rng, 153);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    ntk_net_config cfg = deep_cfg(d, L, widths, 1.2, 0.3, NTK_PARAM_NTK, (ntk_act){NTK_ACT_TANH, 0});
    double *theta = draw_theta(&cfg, &rng);
    double *K = malloc(n1 * n1 * sizeof(double));
    double lw[4] = {0.5, 1.0, 2.0, 1.5};
    for (int cross = 0; cross < 2; cross++) {
        const double *Xb = cross ? X2 : NULL;
        size_t nb = cross ? n2 : n1;
        ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
        kd.theta = theta;
        kd.layer_weights = lw;
        ref_out o = ref_compute(&kd, X1, n1, Xb, nb);
        size_t lo = 1024, hi = (size_t)64 << 20;   /* lo refused, hi accepted */
        kd.mem_limit = lo;
        CHECK_ERR(ntk_kernel(&kd, X1, n1, Xb, nb, K), NTK_ERR_NOMEM);
        CHECK(strstr(ntk_errmsg(), "MiB") && strstr(ntk_errmsg(), "mem_limit"),
              "the refusal names the estimate and the fix: %s", ntk_errmsg());
        kd.mem_limit = hi;
        CHECK_OK(ntk_kernel(&kd, X1, n1, Xb, nb, K));
        while (hi - lo > 64) {
            kd.mem_limit = lo + (hi - lo) / 2;
            if (ntk_kernel(&kd, X1, n1, Xb, nb, K) == NTK_OK) hi = kd.mem_limit;
            else lo = kd.mem_limit;
        }
        /* the planner's estimate: within the limit where the kernel runs,
         * SIZE_MAX where it refuses */
        size_t est = kernel_deep_empirical_scratch_bytes(&kd, n1, cross ? n2 : 0, hi);
        CHECK(est <= hi, "cross=%d: scratch estimate %zu above the accepted limit %zu", cross, est, hi);
        CHECK(kernel_deep_empirical_scratch_bytes(&kd, n1, cross ? n2 : 0, lo) == SIZE_MAX,
              "cross=%d: a refused limit %zu has an estimate", cross, lo);
        const double mult[] = {1.0, 1.3, 2.0, 4.0, 10.0, 0.0};
        for (size_t q = 0; q < sizeof mult / sizeof mult[0]; q++) {
            kd.mem_limit = (size_t)(mult[q] * (double)hi);
            CHECK_OK(ntk_kernel(&kd, X1, n1, Xb, nb, K));
            CHECK_LE(bound_ratio(K, o.K, o.B, n1 * nb), 2.0,
                     "cross=%d mem_limit %zu (smallest accepted %zu): |K - R| / B", cross,
                     kd.mem_limit, hi);
        }
        ref_free(&o);
    }
    free(X1), free(X2), free(theta), free(K);
}

/* A layer so wide that one 64-point tile's features exceed the limit: refused
 * with NTK_ERR_NOMEM before anything of that size is allocated (under ASan an
 * allocation of that size would be reported; the kernel buffer here is tiny). */
static void test_impossible(void)
{
    const size_t d = 2, n = 64, widths[2] = {(size_t)1 << 20, 2};
    ntk_net_config cfg = deep_cfg(d, 2, widths, 1.0, 0.0, NTK_PARAM_NTK, (ntk_act){NTK_ACT_RELU, 0});
    ref_net R = ref_layout(&cfg);
    double *theta = calloc(R.P, sizeof(double)), X[128] = {0}, K[1];
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    kd.theta = theta;
    kd.mem_limit = (size_t)256 << 20;
    /* 64 points x 2 x 2^20 doubles of features alone are 1 GiB */
    CHECK_ERR(ntk_kernel(&kd, X, n, NULL, 0, K), NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "MiB") != NULL, "message: %s", ntk_errmsg());
    free(theta);
}

/* The refusals: θ missing, Hu et al.'s models at depth, non-finite layer
 * weights or θ, X2 with the diagonal. */
static void test_arguments(void)
{
    const size_t d = 3, n = 4;
    ntk_net_config cfg = deep_cfg(d, 2, WIDTHS, 1.0, 0.1, NTK_PARAM_NTK, (ntk_act){NTK_ACT_ERF, 0});
    ref_net R = ref_layout(&cfg);
    ntk_rng rng;
    ntk_rng_seed(&rng, 154);
    double *theta = randn(&rng, R.P), *X = randn(&rng, n * d), K[16];
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    CHECK_ERR(ntk_kernel(&kd, X, n, NULL, 0, K), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "theta") != NULL, "message: %s", ntk_errmsg());
    kd.theta = theta;
    CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
    double lw[3] = {1.0, NAN, 1.0};
    kd.layer_weights = lw;
    CHECK_ERR(ntk_kernel(&kd, X, n, NULL, 0, K), NTK_ERR_ARG);
    kd.layer_weights = NULL;
    theta[R.P - 1] = INFINITY;
    CHECK_ERR(ntk_kernel(&kd, X, n, NULL, 0, K), NTK_ERR_NONFINITE);
    theta[R.P - 1] = 0.5;
    kd.diagonal = 1;
    CHECK_ERR(ntk_kernel(&kd, X, n, X, n, K), NTK_ERR_ARG);
    kd.diagonal = 0;
    CHECK_ERR(ntk_kernel(&kd, X, 0, NULL, 0, K), NTK_ERR_ARG);
    /* INFINITE at depth goes to the layer recursion of src/kernel_deep_inf.c
     * (tested there): the same numbers through ntk_kernel, bit for bit */
    ntk_kernel_desc ki = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
    double Ki[16], Kr[16];
    CHECK_OK(ntk_kernel(&ki, X, n, NULL, 0, Ki));
    CHECK_OK(kernel_deep_infinite(&ki, X, n, NULL, 0, Kr));
    CHECK(memcmp(Ki, Kr, sizeof Ki) == 0, "ntk_kernel(INFINITE) at depth is kernel_deep_infinite");
    ntk_kernel_desc kl = ntk_kernel_desc_default(NTK_KERNEL_LIN, &cfg);
    CHECK_ERR(ntk_kernel(&kl, X, n, NULL, 0, K), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "--depth 1") != NULL, "message: %s", ntk_errmsg());
    /* the weights all zero: zeros, no work */
    double zero[3] = {0, 0, 0};
    kd.layer_weights = zero;
    for (size_t i = 0; i < n * n; i++) K[i] = 1.0;
    CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
    double mx = 0.0;
    for (size_t i = 0; i < n * n; i++) mx = fmax(mx, fabs(K[i]));
    CHECK(mx == 0.0, "all layer weights 0 must give zeros, got max %g", mx);
    free(theta), free(X);
}

/* ---- The matrix-free operator ---------------------------------------------
 * V = Θ U computed as Σ_l w_l J_l (J_lᵀ U) and F = Θ(Xt, X) U against the
 * dense kernel from ntk_kernel times U. Both are the trilinear sums
 * Σ_j Σ_p J_ip J_jp U_jc in two orders, from features within the oracle's
 * error model: each within Σ_j B_ij |U_jc| + γ_{n+P+L+6} Σ_j S_ij |U_jc| of
 * the exact product, so at most twice that apart. */
static double product_ratio(const double *V, const double *Kd, const ref_out *o, const double *U,
                            size_t rows, size_t n, size_t k, size_t P, size_t L)
{
    double worst = 0.0;
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < k; c++) {
            double ku = 0.0, bu = 0.0, su = 0.0;
            for (size_t j = 0; j < n; j++) {
                ku += Kd[i * n + j] * U[j * k + c];
                bu += o->B[i * n + j] * fabs(U[j * k + c]);
                su += o->S[i * n + j] * fabs(U[j * k + c]);
            }
            double tol = 2.0 * (bu + gam((double)(n + P + L + 6)) * su);
            double r = fabs(V[i * k + c] - ku) / tol;
            if (!(r <= worst)) worst = r;
        }
    return worst;
}

static void test_operator(void)
{
    const size_t d = 5, n = 90, nt = 23, k = 3;
    const size_t widths[3] = {8, 6, 7};
    ntk_rng rng;
    ntk_rng_seed(&rng, 155);
    double *X = randn(&rng, n * d), *Xt = randn(&rng, nt * d), *U = randn(&rng, n * k);
    double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
    double *V = malloc(n * k * sizeof(double)), *F = malloc(nt * k * sizeof(double));
    double *D = malloc(n * sizeof(double)), *C = malloc(n * sizeof(double));
    for (size_t L = 1; L <= 3; L++)
        for (int param = 0; param < 2; param++) {
            ntk_act act = ACTS[(L + (size_t)param) % NACTS];
            ntk_net_config cfg = deep_cfg(d, L, widths, 1.1, param ? 0.0 : 0.2,
                                          param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, act);
            cfg.alpha = 1.5;
            ref_net R = ref_layout(&cfg);
            double *theta = draw_theta(&cfg, &rng), lw[4] = {0.3, 1.7, 0.0, 1.1};
            for (int mix = 0; mix < 2; mix++) {
                ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
                kd.theta = theta;
                if (mix) {
                    lw[L] = 0.9;   /* the output layer's weight */
                    kd.layer_weights = lw;
                }
                ref_out o = ref_compute(&kd, X, n, NULL, 0), ot = ref_compute(&kd, Xt, nt, X, n);
                CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
                CHECK_OK(ntk_kernel(&kd, Xt, nt, X, n, Kt));
                /* default memory (features cached) and a limit that keeps
                 * only a few rows' features (recomputed every pass) */
                const size_t limits[2] = {0, 24000};
                for (int q = 0; q < 2; q++) {
                    ntk_op *op = NULL;
                    CHECK_OK(ntk_op_create(&kd, X, n, NTK_OP_MATRIX_FREE, limits[q], &op));
                    if (!op) continue;
                    CHECK_OK(ntk_op_apply(op, U, k, V));
                    CHECK_LE(product_ratio(V, K, &o, U, n, n, k, R.P, L), 1.0,
                             "L=%zu param=%d mix=%d limit=%zu: |op U - K U| / bound", L, param, mix,
                             limits[q]);
                    CHECK_OK(ntk_op_cross_apply(op, Xt, nt, U, k, F));
                    CHECK_LE(product_ratio(F, Kt, &ot, U, nt, n, k, R.P, L), 1.0,
                             "L=%zu param=%d mix=%d limit=%zu: |op(Xt) U - K(Xt,X) U| / bound", L,
                             param, mix, limits[q]);
                    CHECK_OK(ntk_op_diag(op, D));
                    double e = 0.0;
                    for (size_t i = 0; i < n; i++)
                        e = fmax(e, fabs(D[i] - o.K[i * n + i]) / o.B[i * n + i]);
                    CHECK_LE(e, 2.0, "L=%zu param=%d mix=%d: operator diagonal / B", L, param, mix);
                    /* one column through the product with a unit vector */
                    size_t idx[1] = {n / 2};
                    CHECK_OK(ntk_op_columns(op, idx, 1, C));
                    e = 0.0;
                    for (size_t i = 0; i < n; i++)
                        e = fmax(e, fabs(C[i] - K[i * n + idx[0]]) /
                                        (2.0 * o.B[i * n + idx[0]] +
                                         2.0 * gam((double)(n + R.P + L + 6)) * o.S[i * n + idx[0]]));
                    CHECK_LE(e, 1.0, "L=%zu param=%d mix=%d: a column / bound", L, param, mix);
                    ntk_op_free(op);
                }
                ref_free(&o), ref_free(&ot);
            }
            free(theta);
        }
    /* the operator refuses a description without θ */
    ntk_net_config cfg = deep_cfg(d, 2, widths, 1.0, 0.0, NTK_PARAM_STANDARD, ACTS[0]);
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    ntk_op *op = NULL;
    CHECK_ERR(ntk_op_create(&kd, X, n, NTK_OP_MATRIX_FREE, 0, &op), NTK_ERR_ARG);
    CHECK(op == NULL, "no operator on failure");
    free(X), free(Xt), free(U), free(K), free(Kt), free(V), free(F), free(D), free(C);
}

/* The operator of a k-output network (docs/depth.md §1.7) against the dense
 * mean per-output kernel (itself checked against an explicit Jacobian in
 * tests/test_outputs.c). Both sum the same products J_ip J_jp u_j in other
 * orders, so they differ by at most γ_{n+P}·Σ_j Σ_p |J_ip J_jp u_j| ≤
 * γ_{n+P}·Σ_j √(K_ii K_jj)|u_j| (Cauchy–Schwarz on the mean of the outputs'
 * rows); the features themselves come from the same passes in tiles of other
 * heights, whose GEMMs may round differently: each feature within (m+3)ε of
 * its size per layer (the error model above), so a factor 64 over the
 * summation bound covers L ≤ 2 layers of width ≤ 8. */
static void test_operator_outputs(void)
{
    const size_t d = 4, n = 70, nt = 9, k = 2;
    const size_t widths[2] = {8, 6};
    ntk_rng rng;
    ntk_rng_seed(&rng, 4242);
    double *X = randn(&rng, n * d), *Xt = randn(&rng, nt * d), *U = randn(&rng, n * k);
    double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
    double *V = malloc(n * k * sizeof(double)), *F = malloc(nt * k * sizeof(double));
    double *Dg = malloc(n * sizeof(double)), *Dt = malloc(nt * sizeof(double));
    for (size_t L = 1; L <= 2; L++)
        for (int bias = 0; bias < 2; bias++) {
            ntk_net_config cfg = deep_cfg(d, L, widths, 1.2, bias ? 0.3 : 0.0, NTK_PARAM_NTK, ACTS[L % NACTS]);
            cfg.outputs = 3;
            double *theta = malloc(ntk_net_nparams(&cfg) * sizeof(double));
            CHECK_OK(ntk_init_theta(&cfg, theta));
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
            kd.theta = theta;
            CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
            CHECK_OK(ntk_kernel(&kd, Xt, nt, X, n, Kt));
            kd.diagonal = 1;
            CHECK_OK(ntk_kernel(&kd, Xt, nt, NULL, 0, Dt));
            kd.diagonal = 0;
            const double g = 64.0 * gam((double)(n + ntk_net_nparams(&cfg)));
            const size_t limits[2] = {0, 30000};
            for (int q = 0; q < 2; q++) {
                ntk_op *op = NULL;
                CHECK_OK(ntk_op_create(&kd, X, n, NTK_OP_MATRIX_FREE, limits[q], &op));
                if (!op) continue;
                CHECK_OK(ntk_op_apply(op, U, k, V));
                CHECK_OK(ntk_op_cross_apply(op, Xt, nt, U, k, F));
                CHECK_OK(ntk_op_diag(op, Dg));
                double worst = 0.0, worst_t = 0.0, worst_d = 0.0;
                for (size_t c = 0; c < k; c++) {
                    for (size_t i = 0; i < n; i++) {
                        double ref = 0.0, b = 0.0;
                        for (size_t j = 0; j < n; j++) {
                            ref += K[i * n + j] * U[j * k + c];
                            b += sqrt(K[i * n + i] * K[j * n + j]) * fabs(U[j * k + c]);
                        }
                        worst = fmax(worst, fabs(V[i * k + c] - ref) / (g * b));
                    }
                    for (size_t i = 0; i < nt; i++) {
                        double ref = 0.0, b = 0.0;
                        for (size_t j = 0; j < n; j++) {
                            ref += Kt[i * n + j] * U[j * k + c];
                            b += sqrt(Dt[i] * K[j * n + j]) * fabs(U[j * k + c]);
                        }
                        worst_t = fmax(worst_t, fabs(F[i * k + c] - ref) / (g * b));
                    }
                }
                for (size_t i = 0; i < n; i++)
                    worst_d = fmax(worst_d, fabs(Dg[i] - K[i * n + i]) / (g * K[i * n + i]));
                CHECK_LE(worst, 1.0, "3 outputs L=%zu bias=%d limit=%zu: |op U - K U| / bound", L,
                         bias, limits[q]);
                CHECK_LE(worst_t, 1.0, "3 outputs L=%zu bias=%d limit=%zu: cross block / bound", L,
                         bias, limits[q]);
                CHECK_LE(worst_d, 1.0, "3 outputs L=%zu bias=%d: diagonal / bound", L, bias);
                ntk_op_free(op);
            }
            /* the control: a product off by 1e-8 relative (far below any
             * modelling error) must already break the bound */
            double ctl = 0.0;
            for (size_t i = 0; i < n; i++) {
                double ref = 0.0, b = 0.0;
                for (size_t j = 0; j < n; j++) {
                    ref += K[i * n + j] * U[j * k];
                    b += sqrt(K[i * n + i] * K[j * n + j]) * fabs(U[j * k]);
                }
                ctl = fmax(ctl, fabs(ref * (1.0 + 1e-8) - ref) / (g * b));
            }
            CHECK(ctl > 1.0, "control: a 1e-8 relative error exceeds the bound (ratio %g)", ctl);
            free(theta);
        }
    free(X), free(Xt), free(U), free(K), free(Kt), free(V), free(F), free(Dg), free(Dt);
}

int main(void)
{
    test_vs_jacobian();
    test_operator_outputs();
    test_two_layer();
    test_tiling();
    test_impossible();
    test_arguments();
    test_operator();
    return t_finish();
}
