/* Networks with k outputs (docs/depth.md §1.7): f(x) = α h_{L+1} ∈ R^k,
 * W_{L+1} (k, m_L), b_{L+1} (k), predictions and targets (n, k) row-major,
 * against oracles written here from the formulas alone (plain loops, one
 * point and one output at a time; nothing from src/ but the public API and
 * the scalar activation maps, which tests/test_activation.c checks):
 *   1. ntk_forward_theta, ntk_net_jvp and ntk_net_vjp against an explicit
 *      Jacobian J (n·k, P), row i·k + c = ∂f_c(x_i)/∂θ, for k = 1, 3, 10,
 *      depths 1..3 with widths that differ, biases on and off, both
 *      parameterisations, relu, erf and tanh;
 *   2. ntk_loss_grad_theta: L = c/2 Σ_i Σ_c (f_ic − y_ic)² (c = 1/n or 1)
 *      and ∇L = Jᵀ(c·(f − y)) from the oracle, and central differences of
 *      the library's own loss, for both loss forms;
 *   3. the empirical kernel, the mean of the per-output kernels
 *      K = (1/k) Σ_c Σ_l w_l J_c,l(X1) J_c,l(X2)ᵀ (neural-tangents' trace
 *      over the output axis): symmetric, cross and diagonal blocks, one-hot
 *      layer weights, the c1/c2 rule and a mixture, and memory limits that
 *      force tiles;
 *   4. outputs = 1 is outputs = 0 bit for bit; the plain two-layer network
 *      keeps its own path with one output and takes the deep one with three;
 *   5. Monte Carlo: the per-output-pair blocks Θ_cc' of the two-layer
 *      network average to Θ∞ ⊗ I_k, with a negative control;
 *   6. the trainer's 20 steps against θ ← θ − η_l ∇_l L by hand with the
 *      oracle's gradient; the symmetric initialisation's f(X; θ0) = 0;
 *   7. targets and cotangents checked finite over all n·k values.
 *
 * ---- The oracle and its rounding model --------------------------------
 * The layout of θ, written from the header's description: layer l = 1..L+1
 * maps m_{l−1} to m_l values (m_0 = d, m_{L+1} = k), W_l (m_l, m_{l−1})
 * row-major, then b_l (m_l) when σ_b > 0. The passes:
 *   h_l = κ_l W_l a_{l−1} + β b_l,  a_0 = x,  a_l = φ(h_l),  f = α h_{L+1},
 *   output c: δ_{L+1} = α e_c,  δ_l = φ'(h_l) ⊙ κ_{l+1} W_{l+1}ᵀ δ_{l+1},
 *   ∂f_c/∂W_l[r,q] = κ_l δ_l[r] a_{l−1}[q],  ∂f_c/∂b_l[r] = β δ_l[r],
 * κ_1 = σ_w/s, κ_l = σ_w/√m_{l−1}, β = σ_b (NTK parameterisation), κ_l =
 * β = 1 (standard). Next to every value the oracle carries a first-order
 * bound on its rounding error (ε = DBL_EPSILON, γ_j = jε), valid for any
 * summation order and with or without FMA, so it bounds the library's BLAS
 * as well as the loops here:
 *   - h = κ Σ W a + β b: γ_{m+3}·(|κ| Σ|W a| + |β b|) + |κ| Σ|W| e(a);
 *   - φ(h): |φ'(h)| e(h) + ACT_ULP·ε·(1 + |h|); φ'(h): |φ''(h)| e(h) +
 *     ACT_ULP·ε (libm's and the library's vectorised erf, tanh, exp are
 *     within a few ulp; tests/test_activation.c holds them to that);
 *   - δ: with u = κ Σ_q W_q δ_q, e(u) = γ_{m+2}·|κ| Σ|W| δsup + |κ| Σ|W| e(δ),
 *     δsup = (|φ'| + e(φ'))·|κ| Σ|W| δsup_q the absolute path sum (≥ |δ|),
 *     e(δ) = |φ'| e(u) + e(φ') δsup + ε δsup;
 *   - J = κ δ a: E = |κ| (e(δ)|a| + δsup e(a) + 2ε δsup |a|); J = β δ:
 *     E = |β| (e(δ) + ε δsup); Js = |κ| δsup |a| (or |β| δsup) ≥ |J| is the
 *     absolute sum over the paths that make up J.
 * A product with J, in whatever order the library forms it (forward-mode
 * tangents summing 2m_{l−1} + 1 terms per layer, backward signals summing
 * m_{l+1} per layer, the P terms of J·dθ, the n·k rows of Jᵀr), is then
 * within Σ E|v| + γ_G Σ Js|v| of the exact product of the exact J, with G
 * the count of gcount() (every path passes at most one sum per layer).
 * The library and the oracle are each within such a bound of the exact
 * value, so they differ by at most twice it; C_ROUND = 4 (as in
 * tests/test_deep.c) in place of 2 covers the second-order terms the
 * bounds drop. Relu's φ' jumps at 0: every point is drawn with its hidden
 * pre-activations at least 0.05 from 0 (and the check asserts they are
 * more than 10 rounding bounds away), so both sides see the same φ'. */
#include "harness.h"
#include "ntkit.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#define EPS DBL_EPSILON
#define ACT_ULP 8.0
#define C_ROUND 4.0
#define REL_ISSUE 1e-12   /* issue 15: the kernel to 1e-12 of the block's scale */

#define ML 5    /* layers 0..L+1 with L <= 3 */
#define MW 64   /* the widest layer (d and k included) */

static double gam(double j) { return j * EPS; }

/* err / tol with 0/0 = 0, err > 0 over tol 0 = ∞, and NaN kept */
static double ratio(double err, double tol) { return err == 0.0 ? 0.0 : err / tol; }
/* the larger of two ratios, NaN winning (fmax would drop it) */
static double worse(double w, double r) { return (r > w || isnan(r)) ? r : w; }

static double *randn(ntk_rng *rng, size_t count)
{
    double *x = malloc(count * sizeof *x);
    ntk_rng_normal_fill(rng, x, count);
    return x;
}

/* ---- the layout, from the header's description --------------------------- */

typedef struct {
    size_t L, k, P, d;
    size_t m[ML];        /* m_0 = d .. m_{L+1} = k */
    size_t off[ML + 1];  /* W_l at off[l]; off[L+2] = P */
    int bias;
    double kap[ML], beta, alpha;
    ntk_act act;
} lay_t;

static lay_t layout(const ntk_net_config *c)
{
    lay_t R;
    memset(&R, 0, sizeof R);
    R.L = c->depth ? c->depth : 1;
    R.k = c->outputs ? c->outputs : 1;
    R.d = c->d;
    R.m[0] = c->d;
    for (size_t l = 1; l <= R.L; l++) R.m[l] = c->widths[l - 1] ? c->widths[l - 1] : c->m;
    R.m[R.L + 1] = R.k;
    R.bias = c->bias_std > 0.0;
    int std = c->parameterization == NTK_PARAM_STANDARD;
    double s = c->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)c->d);
    for (size_t l = 1; l <= R.L + 1; l++)
        R.kap[l] = std ? 1.0 : c->weight_std / (l == 1 ? s : sqrt((double)R.m[l - 1]));
    R.beta = std ? 1.0 : c->bias_std;
    R.alpha = c->alpha;
    R.act = c->act;
    R.off[1] = 0;
    for (size_t l = 1; l <= R.L + 1; l++)
        R.off[l + 1] = R.off[l] + R.m[l] * R.m[l - 1] + (R.bias ? R.m[l] : 0);
    R.P = R.off[R.L + 2];
    return R;
}

/* θ at a typical initialisation: N(0,1) (NTK parameterisation); W_l from
 * N(0, (σ_w c_l)²), b_l from N(0, σ_b²) (standard). */
static double *draw_theta(const lay_t *R, const ntk_net_config *c, ntk_rng *rng)
{
    double *th = randn(rng, R->P);
    if (c->parameterization != NTK_PARAM_STANDARD) return th;
    double s = c->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)c->d);
    for (size_t l = 1; l <= R->L + 1; l++) {
        double sd = c->weight_std / (l == 1 ? s : sqrt((double)R->m[l - 1]));
        size_t nW = R->m[l] * R->m[l - 1];
        for (size_t p = 0; p < nW; p++) th[R->off[l] + p] *= sd;
        if (R->bias)
            for (size_t r = 0; r < R->m[l]; r++) th[R->off[l] + nW + r] *= c->bias_std;
    }
    return th;
}

/* ---- the oracle ---------------------------------------------------------- */

typedef struct {
    double h[ML][MW], a[ML][MW], ea[ML][MW], dp[ML][MW], edp[ML][MW];
    double f[MW], ef[MW];
    double margin;   /* min over hidden units of |h| / e(h) */
    double hmin;     /* min over hidden units of |h| */
} fwd_t;

static void ref_forward(const lay_t *R, const double *th, const double *x, fwd_t *F)
{
    F->margin = F->hmin = INFINITY;
    for (size_t q = 0; q < R->m[0]; q++) F->a[0][q] = x[q], F->ea[0][q] = 0.0;
    for (size_t l = 1; l <= R->L + 1; l++) {
        const size_t mi = R->m[l - 1], mo = R->m[l];
        const double *W = th + R->off[l], *b = W + mo * mi, k = R->kap[l];
        for (size_t r = 0; r < mo; r++) {
            double z = 0.0, zab = 0.0, ez = 0.0;
            for (size_t q = 0; q < mi; q++) {
                z += W[r * mi + q] * F->a[l - 1][q];
                zab += fabs(W[r * mi + q] * F->a[l - 1][q]);
                ez += fabs(W[r * mi + q]) * F->ea[l - 1][q];
            }
            double h = k * z + (R->bias ? R->beta * b[r] : 0.0);
            double hab = fabs(k) * zab + (R->bias ? fabs(R->beta * b[r]) : 0.0);
            double eh = gam((double)mi + 3.0) * hab + fabs(k) * ez;
            F->h[l][r] = h;
            if (l <= R->L) {
                double p1 = ntk_act_dphi(R->act, h), p2 = ntk_act_d2phi(R->act, h);
                F->a[l][r] = ntk_act_phi(R->act, h);
                F->ea[l][r] = fabs(p1) * eh + ACT_ULP * EPS * (1.0 + fabs(h));
                F->dp[l][r] = p1;
                F->edp[l][r] = (isfinite(p2) ? fabs(p2) : 0.0) * eh + ACT_ULP * EPS;
                F->margin = fmin(F->margin, fabs(h) / eh);
                F->hmin = fmin(F->hmin, fabs(h));
            } else {
                F->f[r] = R->alpha * h;
                F->ef[r] = fabs(R->alpha) * eh + EPS * fabs(F->f[r]);
            }
        }
    }
}

/* The k Jacobian rows of one point: J, E, Js (k, P). */
static void ref_jac(const lay_t *R, const double *th, const fwd_t *F, double *J, double *E,
                    double *Js)
{
    static double del[ML][MW], dsup[ML][MW], edl[ML][MW];
    const size_t L = R->L, P = R->P;
    for (size_t c = 0; c < R->k; c++) {
        double *Jc = J + c * P, *Ec = E + c * P, *Sc = Js + c * P;
        for (size_t q = 0; q < R->k; q++) {
            del[L + 1][q] = q == c ? R->alpha : 0.0;
            dsup[L + 1][q] = q == c ? fabs(R->alpha) : 0.0;
            edl[L + 1][q] = 0.0;
        }
        for (size_t l = L; l >= 1; l--) {
            const size_t ml = R->m[l], mn = R->m[l + 1];
            const double *W = th + R->off[l + 1], k = R->kap[l + 1];
            for (size_t r = 0; r < ml; r++) {
                double u = 0.0, us = 0.0, ue = 0.0;
                for (size_t q = 0; q < mn; q++) {
                    u += W[q * ml + r] * del[l + 1][q];
                    us += fabs(W[q * ml + r]) * dsup[l + 1][q];
                    ue += fabs(W[q * ml + r]) * edl[l + 1][q];
                }
                u *= k, us *= fabs(k), ue *= fabs(k);
                double eu = gam((double)mn + 2.0) * us + ue;
                double g = F->dp[l][r], eg = F->edp[l][r];
                del[l][r] = g * u;
                dsup[l][r] = (fabs(g) + eg) * us;
                edl[l][r] = fabs(g) * eu + eg * us + EPS * dsup[l][r];
            }
        }
        for (size_t l = 1; l <= L + 1; l++) {
            const size_t mi = R->m[l - 1], mo = R->m[l];
            const double k = R->kap[l], ak = fabs(k);
            for (size_t r = 0; r < mo; r++) {
                for (size_t q = 0; q < mi; q++) {
                    size_t p = R->off[l] + r * mi + q;
                    double aa = fabs(F->a[l - 1][q]);
                    Jc[p] = k * del[l][r] * F->a[l - 1][q];
                    Ec[p] = ak * (edl[l][r] * aa + dsup[l][r] * F->ea[l - 1][q] +
                                  2.0 * EPS * dsup[l][r] * aa);
                    Sc[p] = ak * dsup[l][r] * aa;
                }
                if (R->bias) {
                    size_t p = R->off[l] + mo * mi + r;
                    Jc[p] = R->beta * del[l][r];
                    Ec[p] = fabs(R->beta) * (edl[l][r] + EPS * dsup[l][r]);
                    Sc[p] = fabs(R->beta) * dsup[l][r];
                }
            }
        }
    }
}

/* The oracle on n points: J, E, Js (n·k, P), f, ef (n·k). */
typedef struct {
    size_t n, k, P;
    double *J, *E, *Js, *f, *ef;
    double margin, hmin;
} ref_t;

static ref_t ref_all(const lay_t *R, const double *th, const double *X, size_t n)
{
    const size_t k = R->k, P = R->P;
    ref_t o = {n, k, P, malloc(n * k * P * sizeof(double)), malloc(n * k * P * sizeof(double)),
               malloc(n * k * P * sizeof(double)), malloc(n * k * sizeof(double)),
               malloc(n * k * sizeof(double)), INFINITY, INFINITY};
    fwd_t *F = malloc(sizeof *F);
    for (size_t i = 0; i < n; i++) {
        ref_forward(R, th, X + i * R->d, F);
        ref_jac(R, th, F, o.J + i * k * P, o.E + i * k * P, o.Js + i * k * P);
        for (size_t c = 0; c < k; c++) o.f[i * k + c] = F->f[c], o.ef[i * k + c] = F->ef[c];
        o.margin = fmin(o.margin, F->margin);
        o.hmin = fmin(o.hmin, F->hmin);
    }
    free(F);
    return o;
}

static void ref_free(ref_t *o) { free(o->J), free(o->E), free(o->Js), free(o->f), free(o->ef); }

/* G of the product bounds (header comment): P terms of J·dθ, n·k rows of
 * Jᵀr, and per layer the forward tangent's 2m_{l−1} + 1 terms and the
 * backward signal's m_l terms with their scalings, counted generously. */
static double gcount(const lay_t *R, size_t n)
{
    double g = (double)(R->P + n * R->k + 2);
    for (size_t l = 1; l <= R->L + 1; l++) g += 3.0 * (double)(R->m[l] + R->m[l - 1] + 3);
    return g;
}

/* Points X (n, d) ~ N(0, 1), each redrawn until every hidden pre-activation
 * is at least 0.05 from 0: relu's φ' is then the same on both sides of any
 * rounding, and the finite differences (steps up to 2e-3 on one parameter)
 * stay on one side of the kink (asserted where they are taken). */
static void draw_points(const lay_t *R, const double *th, size_t n, double *X, ntk_rng *rng)
{
    fwd_t *F = malloc(sizeof *F);
    for (size_t i = 0; i < n; i++)
        for (int tries = 0; tries < 1000; tries++) {
            ntk_rng_normal_fill(rng, X + i * R->d, R->d);
            ref_forward(R, th, X + i * R->d, F);
            if (F->hmin >= 0.05) break;
        }
    free(F);
}

/* ---- the grid ------------------------------------------------------------ */

static const ntk_act ACTS[3] = {{NTK_ACT_RELU, 0.0}, {NTK_ACT_ERF, 0.0}, {NTK_ACT_TANH, 0.0}};
static const size_t KS[3] = {1, 3, 10};
static const size_t WID[4][3] = {{0, 0, 0}, {5, 0, 0}, {5, 4, 0}, {4, 6, 3}};

/* d = 3, widths that differ; L = 1 without biases in the NTK
 * parameterisation has σ_w = 1: the plain two-layer network (its own code
 * for k = 1, the deep code for k > 1). */
static ntk_net_config grid_cfg(size_t k, size_t L, int param, int bias, size_t a, int variant)
{
    ntk_net_config c = ntk_net_config_default(3, WID[L][0]);
    c.depth = L;
    for (size_t l = 0; l < L; l++) c.widths[l] = WID[L][l];
    c.outputs = k;
    c.act = ACTS[a];
    c.weight_std = L == 1 && !bias && !param ? 1.0 : 1.25;
    c.bias_std = bias ? 0.4 : 0.0;
    c.parameterization = param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK;
    c.input_scale = variant % 2 ? NTK_SCALE_ONE : NTK_SCALE_SQRT_D;
    c.alpha = variant % 2 ? 1.7 : 0.8;
    return c;
}

static void grid_name(char *buf, size_t len, const ntk_net_config *c)
{
    snprintf(buf, len, "k=%zu L=%zu %s bias=%d %s", c->outputs, c->depth,
             ntk_param_name(c->parameterization), c->bias_std > 0, ntk_act_name(c->act.kind));
}

/* The layout of the header against the library's accessors. */
static void check_layout(const ntk_net_config *c, const lay_t *R, const char *what)
{
    int ok = ntk_net_nparams(c) == R->P && ntk_net_outputs(c) == R->k &&
             ntk_net_depth(c) == R->L && ntk_net_width(c, R->L + 1) == R->k;
    for (size_t l = 1; l <= R->L + 2; l++) {
        size_t nW = 0, nb = 0, off = ntk_net_layer_offset(c, l, &nW, &nb);
        ok &= off == R->off[l];
        if (l <= R->L + 1) ok &= nW == R->m[l] * R->m[l - 1] && nb == (R->bias ? R->m[l] : 0);
    }
    CHECK(ok, "%s: the layout of theta (P = %zu, outputs %zu)", what, ntk_net_nparams(c),
          ntk_net_outputs(c));
}

/* ---- 1. forward, J·dθ, Jᵀr --------------------------------------------- */

static void test_products(void)
{
    const size_t n = 4;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3101);
    char what[128];
    int variant = 0;
    double worst_f = 0.0, worst_j = 0.0, worst_v = 0.0, sharp = 0.0;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t L = 1; L <= 3; L++)
            for (int param = 0; param < 2; param++)
                for (int bias = 0; bias < 2; bias++)
                    for (size_t a = 0; a < 3; a++, variant++) {
                        const size_t k = KS[ki];
                        ntk_net_config c = grid_cfg(k, L, param, bias, a, variant);
                        grid_name(what, sizeof what, &c);
                        lay_t R = layout(&c);
                        check_layout(&c, &R, what);
                        int two = L == 1 && !bias && !param;
                        CHECK(ntk_net_is_deep(&c) == !(two && k == 1), "%s: is_deep %d", what,
                              ntk_net_is_deep(&c));
                        const size_t P = R.P, nk = n * k;
                        double *th = draw_theta(&R, &c, &rng), X[4 * 3];
                        draw_points(&R, th, n, X, &rng);
                        ref_t o = ref_all(&R, th, X, n);
                        CHECK(o.margin > 10.0, "%s: a pre-activation within 10 rounding bounds of 0 (%g)",
                              what, o.margin);
                        const double G = gcount(&R, n);
                        double *f = malloc(nk * sizeof(double)), *out = malloc(nk * sizeof(double));
                        double *g = malloc(P * sizeof(double));
                        double *dth = randn(&rng, P), *r = randn(&rng, nk);
                        /* f (n, k) */
                        CHECK_OK(ntk_forward_theta(&c, th, X, n, f));
                        double wf = 0.0, fmx = 0.0, tfx = 0.0;
                        for (size_t q = 0; q < nk; q++) {
                            wf = worse(wf, ratio(fabs(f[q] - o.f[q]), 2 * C_ROUND * o.ef[q]));
                            fmx = fmax(fmx, fabs(o.f[q]));
                            tfx = fmax(tfx, 2 * C_ROUND * o.ef[q]);
                        }
                        sharp = fmax(sharp, tfx / fmx);
                        CHECK_LE(wf, 1.0, "%s: f (n,k) against the oracle (ratio to the bound)", what);
                        /* out (n, k) = J dθ */
                        CHECK_OK(ntk_net_jvp(&c, th, X, n, dth, out));
                        double wj = 0.0, tmx = 0.0, vmx = 0.0;
                        for (size_t q = 0; q < nk; q++) {
                            const double *Jq = o.J + q * P, *Eq = o.E + q * P, *Sq = o.Js + q * P;
                            double s = 0.0, e = 0.0, sa = 0.0;
                            for (size_t p = 0; p < P; p++) {
                                s += Jq[p] * dth[p];
                                e += Eq[p] * fabs(dth[p]);
                                sa += Sq[p] * fabs(dth[p]);
                            }
                            double tol = 2 * C_ROUND * (e + gam(G) * sa);
                            wj = worse(wj, ratio(fabs(out[q] - s), tol));
                            tmx = fmax(tmx, tol), vmx = fmax(vmx, fabs(s));
                        }
                        sharp = fmax(sharp, tmx / vmx);
                        CHECK_LE(wj, 1.0, "%s: J dtheta (n,k) against the explicit Jacobian", what);
                        /* g (P) = Jᵀ r, r (n, k) */
                        CHECK_OK(ntk_net_vjp(&c, th, X, n, r, g));
                        double wv = 0.0;
                        tmx = vmx = 0.0;
                        for (size_t p = 0; p < P; p++) {
                            double s = 0.0, e = 0.0, sa = 0.0;
                            for (size_t q = 0; q < nk; q++) {
                                s += o.J[q * P + p] * r[q];
                                e += o.E[q * P + p] * fabs(r[q]);
                                sa += o.Js[q * P + p] * fabs(r[q]);
                            }
                            double tol = 2 * C_ROUND * (e + gam(G) * sa);
                            wv = worse(wv, ratio(fabs(g[p] - s), tol));
                            tmx = fmax(tmx, tol), vmx = fmax(vmx, fabs(s));
                        }
                        sharp = fmax(sharp, tmx / vmx);
                        CHECK_LE(wv, 1.0, "%s: J^T r against the explicit Jacobian", what);
                        worst_f = worse(worst_f, wf), worst_j = worse(worst_j, wj);
                        worst_v = worse(worst_v, wv);
                        ref_free(&o);
                        free(th), free(f), free(out), free(g), free(dth), free(r);
                    }
    /* the checks are sharp: every tolerance far below the size of the
     * result it bounds (max tolerance / max |value| of f, J dθ, Jᵀr) */
    CHECK_LE(sharp, 1e-9, "the products' tolerances relative to the results' scale");
    printf("products: worst ratio to the bound f %.3g, J dtheta %.3g, J^T r %.3g; "
           "largest relative tolerance %.3g\n", worst_f, worst_j, worst_v, sharp);
}

/* ---- 2. the loss and its gradient ----------------------------------------- */

typedef struct {
    const ntk_net_config *c;
    const lay_t *R;
    const double *X, *y, *f0;
    size_t n;
    ntk_loss_kind loss;
    signed char (*pat)[ML][MW];   /* relu's sign pattern at the base point */
    int have_pat, crossed;
} loss_ctx;

/* The oracle's loss c/2 Σ e² (e = f − f0 − y over n·k values) and its
 * rounding bound c Σ|e| e(e) + (nk + 3)ε L, e(e) = e(f) + 2ε(|f| + |f0| +
 * |y|) (the two subtractions). Records or compares relu's sign pattern. */
static double ref_loss(loss_ctx *x, const double *th, double *err)
{
    const lay_t *R = x->R;
    const size_t k = R->k;
    const double cs = x->loss == NTK_LOSS_MEAN ? 1.0 / (double)x->n : 1.0;
    double L = 0.0, e = 0.0;
    fwd_t *F = malloc(sizeof *F);
    for (size_t i = 0; i < x->n; i++) {
        ref_forward(R, th, x->X + i * R->d, F);
        for (size_t l = 1; l <= R->L; l++)
            for (size_t r = 0; r < R->m[l]; r++) {
                signed char s = F->h[l][r] > 0 ? 1 : -1;
                if (!x->have_pat)
                    x->pat[i][l][r] = s;
                else if (x->pat[i][l][r] != s)
                    x->crossed = 1;
            }
        for (size_t c = 0; c < k; c++) {
            double f0 = x->f0 ? x->f0[i * k + c] : 0.0, y = x->y[i * k + c];
            double ei = F->f[c] - f0 - y;
            L += 0.5 * cs * ei * ei;
            e += cs * fabs(ei) * (F->ef[c] + 2 * EPS * (fabs(F->f[c]) + fabs(f0) + fabs(y)));
        }
    }
    free(F);
    *err = e + gam((double)(x->n * k + 3)) * L;
    return L;
}

static double lib_loss(loss_ctx *x, const double *th)
{
    ntk_batch b = {x->X, x->y, x->n, x->loss, x->f0};
    double L = NAN;
    ntk_loss_grad_theta(x->c, th, &b, &L, NULL, NULL);
    return L;
}

/* Central differences D(h) = (L(θ + h e_p) − L(θ − h e_p)) / (the computed
 * step), against the library's gradient: |D(h) − ∂L| ≤ c₂h² + rounding/h,
 * and the truncation c₂h² is bounded a posteriori by step doubling,
 * |D(h) − D(2h)| ≥ 3c₂h² − rounding (to O(h⁴)); the tolerance
 * |D(h) − D(2h)| + 2(r_h + r_2h) + (the gradient's own bound) therefore
 * holds without knowing ∂L. r_h = C_ROUND (e_L(θ+) + e_L(θ−)) / (2h). At a
 * fixed relu pattern L is quadratic in one parameter and D(h) is exact up
 * to rounding; the pattern is asserted unchanged. */
static void test_loss_grad(void)
{
    const size_t n = 4;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3202);
    char what[160];
    int variant = 0;
    double worst_g = 0.0, worst_fd = 0.0, worst_sharp = 0.0;
    signed char pat[4][ML][MW];
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t L = 1; L <= 3; L++)
            for (int param = 0; param < 2; param++)
                for (int bias = 0; bias < 2; bias++)
                    for (size_t a = 0; a < 3; a++, variant++) {
                        const size_t k = KS[ki];
                        ntk_net_config c = grid_cfg(k, L, param, bias, a, variant + 1);
                        lay_t R = layout(&c);
                        const size_t P = R.P, nk = n * k;
                        double *th = draw_theta(&R, &c, &rng), X[4 * 3];
                        draw_points(&R, th, n, X, &rng);
                        double *y = randn(&rng, nk), *f0 = randn(&rng, nk);
                        for (size_t q = 0; q < nk; q++) f0[q] *= 0.3;
                        int centred = variant % 3 == 0;
                        ref_t o = ref_all(&R, th, X, n);
                        const double G = gcount(&R, n);
                        double *g = malloc(P * sizeof(double)), *gr = malloc(P * sizeof(double));
                        double *eg = malloc(P * sizeof(double)), *f = malloc(nk * sizeof(double));
                        double *tp = malloc(P * sizeof(double));
                        for (int lk = 0; lk < 2; lk++) {
                            ntk_loss_kind loss = lk ? NTK_LOSS_SUM : NTK_LOSS_MEAN;
                            char base[128];
                            grid_name(base, sizeof base, &c);
                            snprintf(what, sizeof what, "%s %s%s", base, lk ? "sum" : "mean",
                                     centred ? " centred" : "");
                            const double cs = lk ? 1.0 : 1.0 / (double)n;
                            ntk_batch b = {X, y, n, loss, centred ? f0 : NULL};
                            double Lv = NAN;
                            CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &Lv, g, f));
                            /* the oracle's gradient Jᵀ(c·e) and its bound */
                            double wf = 0.0;
                            for (size_t p = 0; p < P; p++) gr[p] = eg[p] = 0.0;
                            for (size_t q = 0; q < nk; q++) {
                                double fz = centred ? f0[q] : 0.0, e = o.f[q] - fz - y[q];
                                double ee = o.ef[q] + 2 * EPS * (fabs(o.f[q]) + fabs(fz) + fabs(y[q]));
                                wf = worse(wf, ratio(fabs(f[q] - (o.f[q] - fz)),
                                                     2 * C_ROUND * (o.ef[q] + EPS * fabs(o.f[q] - fz))));
                                for (size_t p = 0; p < P; p++) {
                                    gr[p] += cs * e * o.J[q * P + p];
                                    eg[p] += cs * (fabs(e) * o.E[q * P + p] + o.Js[q * P + p] * ee +
                                                   gam(G) * fabs(e) * o.Js[q * P + p]);
                                }
                            }
                            for (size_t p = 0; p < P; p++) eg[p] += 2 * EPS * fabs(gr[p]);
                            CHECK_LE(wf, 1.0, "%s: the outputs f (n,k) of the loss", what);
                            loss_ctx lc = {&c, &R, X, y, centred ? f0 : NULL, n, loss, pat, 0, 0};
                            double eL, Lr = ref_loss(&lc, th, &eL);
                            lc.have_pat = 1;
                            CHECK_LE(fabs(Lv - Lr), 2 * C_ROUND * eL,
                                     "%s: loss %.17g against the oracle's %.17g", what, Lv, Lr);
                            double wg = 0.0;
                            for (size_t p = 0; p < P; p++)
                                wg = worse(wg, ratio(fabs(g[p] - gr[p]), 2 * C_ROUND * eg[p]));
                            CHECK_LE(wg, 1.0, "%s: gradient against J^T(c (f - y))", what);
                            /* central differences of the library's own loss */
                            int pl = ntk_act_piecewise_linear(c.act);
                            double h = pl ? 1e-3 : 1e-4, wfd = 0.0, tmax = 0.0, gmax = 0.0;
                            for (size_t p = 0; p < P; p++) {
                                const double st[4] = {h, -h, 2 * h, -2 * h};
                                double v[4], e4[4], at[4];
                                memcpy(tp, th, P * sizeof(double));
                                for (int s = 0; s < 4; s++) {
                                    tp[p] = th[p] + st[s];
                                    at[s] = tp[p];
                                    v[s] = lib_loss(&lc, tp);
                                    ref_loss(&lc, tp, &e4[s]);
                                }
                                double D1 = (v[0] - v[1]) / (at[0] - at[1]);
                                double D2 = (v[2] - v[3]) / (at[2] - at[3]);
                                double r1 = C_ROUND * (e4[0] + e4[1]) / (at[0] - at[1]);
                                double r2 = C_ROUND * (e4[2] + e4[3]) / (at[2] - at[3]);
                                double tol = fabs(D1 - D2) + 2 * (r1 + r2) + 2 * C_ROUND * eg[p];
                                wfd = worse(wfd, ratio(fabs(g[p] - D1), tol));
                                tmax = fmax(tmax, tol);
                                gmax = fmax(gmax, fabs(g[p]));
                            }
                            CHECK(!lc.crossed, "%s: the differences crossed a relu kink", what);
                            CHECK_LE(wfd, 1.0, "%s: gradient against central differences", what);
                            /* sharp: the tolerance far below the gradient's scale */
                            CHECK_LE(tmax, 1e-5 * gmax, "%s: FD tolerance against max |g| = %g", what,
                                     gmax);
                            worst_g = worse(worst_g, wg), worst_fd = worse(worst_fd, wfd);
                            worst_sharp = fmax(worst_sharp, tmax / gmax);
                        }
                        ref_free(&o);
                        free(th), free(y), free(f0), free(g), free(gr), free(eg), free(f), free(tp);
                    }
    printf("loss gradient: worst ratio to the oracle bound %.3g, to the FD tolerance %.3g; "
           "FD tolerance / max|g| at most %.3g\n", worst_g, worst_fd, worst_sharp);
}

/* ---- 3. the traced empirical kernel ---------------------------------------- */

/* K (na, nb) = (1/k) Σ_c Σ_l w_l Σ_{p in layer l} J_(ic)p J_(jc)p; B bounds
 * |K_lib − K_exact| and |K_oracle − K_exact| each: the features' errors
 * Σ (|J| E' + E |J'| + E E') and the sum's rounding γ_{kP+L+8} S, S =
 * (1/k) Σ|w_l| Σ|J J'| (a Gram of δ's times a Gram of a's is a sum of
 * these products in another grouping; the division by k and the weights
 * add a few roundings). */
static void ref_kernel(const lay_t *R, const double *w, const ref_t *A, const ref_t *Bo, double *K,
                       double *B)
{
    const size_t k = R->k, P = R->P;
    for (size_t i = 0; i < A->n; i++)
        for (size_t j = 0; j < Bo->n; j++) {
            double kk = 0.0, e = 0.0, s = 0.0;
            for (size_t c = 0; c < k; c++) {
                const double *Ja = A->J + (i * k + c) * P, *Ea = A->E + (i * k + c) * P;
                const double *Jb = Bo->J + (j * k + c) * P, *Eb = Bo->E + (j * k + c) * P;
                for (size_t l = 1; l <= R->L + 1; l++) {
                    double wl = w[l - 1], kl = 0.0, el = 0.0, sl = 0.0;
                    if (wl == 0.0) continue;
                    for (size_t p = R->off[l]; p < R->off[l + 1]; p++) {
                        kl += Ja[p] * Jb[p];
                        el += fabs(Ja[p]) * Eb[p] + Ea[p] * fabs(Jb[p]) + Ea[p] * Eb[p];
                        sl += fabs(Ja[p] * Jb[p]);
                    }
                    kk += wl * kl, e += fabs(wl) * el, s += fabs(wl) * sl;
                }
            }
            K[i * Bo->n + j] = kk / (double)k;
            B[i * Bo->n + j] = e / (double)k + gam((double)(k * P + R->L + 8)) * s / (double)k;
        }
}

/* max |K − R| / B (0/0 counts 0, NaN returned) */
static double bound_ratio(const double *K, const double *Rk, const double *B, size_t count)
{
    double worst = 0.0;
    for (size_t q = 0; q < count; q++) {
        worst = worse(worst, ratio(fabs(K[q] - Rk[q]), B[q]));
    }
    return worst;
}

/* max |K − R| / (max_i √D1_i · max_j √D2_j): relative to the block's scale
 * (≥ max |K_ij| by Cauchy–Schwarz, the weights being nonnegative) */
static double scale_ratio(const double *K, const double *Rk, size_t n1, size_t n2, const double *D1,
                          const double *D2)
{
    double q1 = 0.0, q2 = 0.0, worst = 0.0;
    for (size_t i = 0; i < n1; i++) q1 = fmax(q1, sqrt(D1[i]));
    for (size_t j = 0; j < n2; j++) q2 = fmax(q2, sqrt(D2[j]));
    for (size_t q = 0; q < n1 * n2; q++) {
        worst = worse(worst, fabs(K[q] - Rk[q]));
    }
    return worst / (q1 * q2);
}

/* The description of weights w (L+1 values): the two-layer path reads c1,
 * c2, the deep one layer_weights. */
static void set_weights(ntk_kernel_desc *kd, const ntk_net_config *c, const double *w, size_t L)
{
    if (ntk_net_is_deep(c)) {
        kd->layer_weights = w;
    } else {
        kd->layer_weights = NULL;
        kd->c1 = w[0], kd->c2 = w[L];
    }
}

/* One description against the oracle: symmetric (exactly symmetric),
 * cross, diagonal; both the derived bound 2B and the issue's 1e-12 of the
 * block's scale. Returns the worst scale ratio. */
static double check_kernel(const ntk_kernel_desc *kd, const lay_t *R, const double *w,
                           const double *X1, size_t n1, const ref_t *o1, const double *X2, size_t n2,
                           const ref_t *o2, const char *what)
{
    double *K = malloc(n1 * (n1 > n2 ? n1 : n2) * sizeof(double));
    double *Rs = malloc(n1 * n1 * sizeof(double)), *Bs = malloc(n1 * n1 * sizeof(double));
    double *Rc = malloc(n1 * n2 * sizeof(double)), *Bc = malloc(n1 * n2 * sizeof(double));
    double *R2 = malloc(n2 * n2 * sizeof(double)), *B2 = malloc(n2 * n2 * sizeof(double));
    double *D1 = malloc(n1 * sizeof(double)), *D2 = malloc(n2 * sizeof(double));
    double *Dl = malloc(n1 * sizeof(double)), *Bd = malloc(n1 * sizeof(double));
    ref_kernel(R, w, o1, o1, Rs, Bs);
    ref_kernel(R, w, o1, o2, Rc, Bc);
    ref_kernel(R, w, o2, o2, R2, B2);
    for (size_t i = 0; i < n1; i++) D1[i] = Rs[i * n1 + i], Bd[i] = Bs[i * n1 + i];
    for (size_t j = 0; j < n2; j++) D2[j] = R2[j * n2 + j];
    double worst = 0.0, r;
    CHECK_OK(ntk_kernel(kd, X1, n1, NULL, 0, K));
    CHECK_LE(bound_ratio(K, Rs, Bs, n1 * n1), 2.0, "%s symmetric: |K - R| / B", what);
    CHECK_LE(r = scale_ratio(K, Rs, n1, n1, D1, D1), REL_ISSUE, "%s symmetric: |K - R| / scale", what);
    worst = worse(worst, r);
    int sym = 1;
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < i; j++) sym &= K[i * n1 + j] == K[j * n1 + i];
    CHECK(sym, "%s: the symmetric block is not exactly symmetric", what);
    CHECK_OK(ntk_kernel(kd, X1, n1, X2, n2, K));
    CHECK_LE(bound_ratio(K, Rc, Bc, n1 * n2), 2.0, "%s cross: |K - R| / B", what);
    CHECK_LE(r = scale_ratio(K, Rc, n1, n2, D1, D2), REL_ISSUE, "%s cross: |K - R| / scale", what);
    worst = worse(worst, r);
    ntk_kernel_desc kdg = *kd;
    kdg.diagonal = 1;
    CHECK_OK(ntk_kernel(&kdg, X1, n1, NULL, 0, Dl));
    CHECK_LE(bound_ratio(Dl, D1, Bd, n1), 2.0, "%s diagonal: |K_ii - R_ii| / B_ii", what);
    double dmax = 0.0, de = 0.0;
    for (size_t i = 0; i < n1; i++) dmax = fmax(dmax, D1[i]), de = worse(de, fabs(Dl[i] - D1[i]));
    CHECK_LE(de / dmax, REL_ISSUE, "%s diagonal: |K_ii - R_ii| / max R_ii", what);
    worst = worse(worst, de / dmax);
    free(K), free(Rs), free(Bs), free(Rc), free(Bc), free(R2), free(B2), free(D1), free(D2);
    free(Dl), free(Bd);
    return worst;
}

static void test_kernel(void)
{
    const size_t n1 = 5, n2 = 3;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3303);
    char what[192], base[128];
    int variant = 0;
    double worst = 0.0;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t L = 1; L <= 3; L++)
            for (int param = 0; param < 2; param++)
                for (int bias = 0; bias < 2; bias++)
                    for (size_t a = 0; a < 3; a++, variant++) {
                        ntk_net_config c = grid_cfg(KS[ki], L, param, bias, a, variant);
                        grid_name(base, sizeof base, &c);
                        lay_t R = layout(&c);
                        double *th = draw_theta(&R, &c, &rng), X1[5 * 3], X2[3 * 3];
                        draw_points(&R, th, n1, X1, &rng);
                        draw_points(&R, th, n2, X2, &rng);
                        ref_t o1 = ref_all(&R, th, X1, n1), o2 = ref_all(&R, th, X2, n2);
                        CHECK(fmin(o1.margin, o2.margin) > 10.0, "%s: kink margin", base);
                        ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &c);
                        kd.theta = th;
                        kd.W = th, kd.v = th + R.m[1] * R.m[0];   /* the two-layer path's view */
                        double w[NTK_MAX_DEPTH + 1];
                        for (size_t mode = 0; mode <= L + 2; mode++) {
                            const char *mn = "one-hot";
                            if (mode <= L) {   /* layer mode+1 alone */
                                for (size_t l = 0; l <= L; l++) w[l] = l == mode ? 1.0 : 0.0;
                                set_weights(&kd, &c, w, L);
                            } else if (mode == L + 1) {   /* the c1, c2 rule */
                                kd.layer_weights = NULL, kd.c1 = 0.6, kd.c2 = 1.4, mn = "c1,c2";
                                for (size_t l = 0; l <= L; l++) w[l] = l < L ? 0.6 : 1.4;
                            } else {
                                for (size_t l = 0; l <= L; l++) w[l] = 0.5 + 0.75 * (double)l;
                                set_weights(&kd, &c, w, L);
                                mn = "mixed";
                            }
                            snprintf(what, sizeof what, "%s %s (layer %zu)", base, mn, mode + 1);
                            worst = worse(worst, check_kernel(&kd, &R, w, X1, n1, &o1, X2, n2, &o2, what));
                        }
                        ref_free(&o1), ref_free(&o2);
                        free(th);
                    }
    printf("kernel grid: worst |K - R| / scale %.3g (issue: %g)\n", worst, REL_ISSUE);
}

/* Under memory limits from the smallest accepted one (bisection on the
 * NTK_ERR_NOMEM answer) upwards, every plan agrees with the oracle. A
 * layer's share is a Hadamard product of two Grams (of the signals δ and of
 * the activations a) for the points of a tile; at the smallest accepted
 * limit two n1 × n2 matrices of doubles do not fit, so the block is
 * computed in tiles (down to 64 points). */
static void test_tiles(void)
{
    const size_t n1 = 200, n2 = 120, d = 6;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3404);
    double *X1 = randn(&rng, n1 * d), *X2 = randn(&rng, n2 * d);
    for (int which = 0; which < 2; which++) {
        ntk_net_config c = ntk_net_config_default(d, 12);
        double lw[3];
        if (which == 0) {   /* k = 3, two hidden layers with biases, tanh */
            c.depth = 2, c.widths[0] = 12, c.widths[1] = 9;
            c.outputs = 3, c.act.kind = NTK_ACT_TANH, c.weight_std = 1.2, c.bias_std = 0.3;
            lw[0] = 0.5, lw[1] = 1.0, lw[2] = 2.0;
        } else {   /* k = 10 on the plain two-layer network, relu */
            c.m = 10, c.outputs = 10;
            lw[0] = 0.7, lw[1] = 1.3;
        }
        lay_t R = layout(&c);
        double *th = draw_theta(&R, &c, &rng);
        ref_t o1 = ref_all(&R, th, X1, n1), o2 = ref_all(&R, th, X2, n2);
        double *K = malloc(n1 * n1 * sizeof(double));
        double *Rk = malloc(n1 * n1 * sizeof(double)), *B = malloc(n1 * n1 * sizeof(double));
        double *Rd = malloc(n1 * sizeof(double)), *Bd = malloc(n1 * sizeof(double));
        double *D = malloc(n1 * sizeof(double));
        /* relu with random points (no margin): a rounding-level flip of φ'
         * has probability ~ n·Σm·ε; reported by the margin */
        CHECK(fmin(o1.margin, o2.margin) > 10.0, "tiles %d: kink margin %g", which,
              fmin(o1.margin, o2.margin));
        for (int cross = 0; cross < 2; cross++) {
            const double *Xb = cross ? X2 : NULL;
            size_t nb = cross ? n2 : n1;
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &c);
            kd.theta = th;
            kd.layer_weights = lw;
            ref_kernel(&R, lw, &o1, cross ? &o2 : &o1, Rk, B);
            size_t lo = 1024, hi = (size_t)64 << 20;
            kd.mem_limit = lo;
            CHECK_ERR(ntk_kernel(&kd, X1, n1, Xb, nb, K), NTK_ERR_NOMEM);
            CHECK(strstr(ntk_errmsg(), "mem_limit") != NULL, "the refusal names the fix: %s",
                  ntk_errmsg());
            kd.mem_limit = hi;
            CHECK_OK(ntk_kernel(&kd, X1, n1, Xb, nb, K));
            while (hi - lo > 64) {
                kd.mem_limit = lo + (hi - lo) / 2;
                if (ntk_kernel(&kd, X1, n1, Xb, nb, K) == NTK_OK) hi = kd.mem_limit;
                else lo = kd.mem_limit;
            }
            CHECK(hi < 2 * n1 * nb * sizeof(double),
                  "tiles %d cross=%d: the smallest accepted limit %zu holds two %zu x %zu "
                  "Grams: no tiling forced", which, cross, hi, n1, nb);
            const double mult[] = {1.0, 1.3, 2.0, 4.0, 0.0};
            for (size_t q = 0; q < sizeof mult / sizeof mult[0]; q++) {
                kd.mem_limit = (size_t)(mult[q] * (double)hi);
                CHECK_OK(ntk_kernel(&kd, X1, n1, Xb, nb, K));
                CHECK_LE(bound_ratio(K, Rk, B, n1 * nb), 2.0,
                         "tiles %d cross=%d mem_limit %zu (smallest accepted %zu): |K - R| / B",
                         which, cross, kd.mem_limit, hi);
            }
            if (!cross) {   /* the diagonal at the smallest limit of the block */
                for (size_t i = 0; i < n1; i++) Rd[i] = Rk[i * n1 + i], Bd[i] = B[i * n1 + i];
                kd.diagonal = 1, kd.mem_limit = hi;
                CHECK_OK(ntk_kernel(&kd, X1, n1, NULL, 0, D));
                CHECK_LE(bound_ratio(D, Rd, Bd, n1), 2.0, "tiles %d: diagonal under %zu bytes",
                         which, hi);
            }
            printf("tiles %d cross=%d: smallest accepted mem_limit %zu bytes\n", which, cross, hi);
        }
        ref_free(&o1), ref_free(&o2);
        free(th), free(K), free(Rk), free(B), free(Rd), free(Bd), free(D);
    }
    free(X1), free(X2);
}

/* ---- 4. outputs = 1 is outputs = 0 ----------------------------------------- */

static int same(const double *a, const double *b, size_t count)
{
    return memcmp(a, b, count * sizeof(double)) == 0;
}

static void test_one_output(void)
{
    const size_t n = 6, d = 4;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3505);
    double *X = randn(&rng, n * d), *X2 = randn(&rng, 3 * d), *y = randn(&rng, n);
    for (int deep = 0; deep < 2; deep++) {
        ntk_net_config c0 = ntk_net_config_default(d, 8);
        if (deep) {
            c0.depth = 2, c0.widths[0] = 8, c0.widths[1] = 5, c0.bias_std = 0.3;
            c0.act.kind = NTK_ACT_ERF, c0.parameterization = NTK_PARAM_STANDARD;
        }
        c0.seed = 17, c0.outputs = 0;
        ntk_net_config c1 = c0;
        c1.outputs = 1;
        const char *nm = deep ? "deep" : "two-layer";
        CHECK(ntk_net_is_deep(&c0) == deep && ntk_net_is_deep(&c1) == deep,
              "%s: is_deep with outputs 0 and 1", nm);
        CHECK(ntk_net_outputs(&c0) == 1 && ntk_net_outputs(&c1) == 1, "%s: outputs read as 1", nm);
        size_t P = ntk_net_nparams(&c0);
        CHECK(P == ntk_net_nparams(&c1), "%s: P", nm);
        double *t0 = malloc(P * sizeof(double)), *t1 = malloc(P * sizeof(double));
        double *g0 = malloc(P * sizeof(double)), *g1 = malloc(P * sizeof(double));
        double f0[6], f1[6], K0[36], K1[36], L0, L1, *dth = malloc(P * sizeof(double));
        CHECK_OK(ntk_init_theta(&c0, t0));
        CHECK_OK(ntk_init_theta(&c1, t1));
        CHECK(same(t0, t1, P), "%s: init_theta", nm);
        ntk_rng_normal_fill(&rng, dth, P);
        CHECK_OK(ntk_forward_theta(&c0, t0, X, n, f0));
        CHECK_OK(ntk_forward_theta(&c1, t0, X, n, f1));
        CHECK(same(f0, f1, n), "%s: forward", nm);
        CHECK_OK(ntk_net_jvp(&c0, t0, X, n, dth, f0));
        CHECK_OK(ntk_net_jvp(&c1, t0, X, n, dth, f1));
        CHECK(same(f0, f1, n), "%s: jvp", nm);
        CHECK_OK(ntk_net_vjp(&c0, t0, X, n, y, g0));
        CHECK_OK(ntk_net_vjp(&c1, t0, X, n, y, g1));
        CHECK(same(g0, g1, P), "%s: vjp", nm);
        ntk_batch b = {X, y, n, NTK_LOSS_MEAN, NULL};
        CHECK_OK(ntk_loss_grad_theta(&c0, t0, &b, &L0, g0, f0));
        CHECK_OK(ntk_loss_grad_theta(&c1, t0, &b, &L1, g1, f1));
        CHECK(L0 == L1 && same(g0, g1, P) && same(f0, f1, n), "%s: loss and gradient", nm);
        for (int src = 0; src < 2; src++) {
            ntk_kernel_source ks = src ? NTK_KERNEL_INFINITE : NTK_KERNEL_EMPIRICAL;
            ntk_kernel_desc k0 = ntk_kernel_desc_default(ks, &c0);
            ntk_kernel_desc k1 = ntk_kernel_desc_default(ks, &c1);
            k0.theta = k1.theta = t0;
            k0.W = k1.W = t0, k0.v = k1.v = t0 + 8 * d;
            k0.c1 = k1.c1 = 0.7;
            CHECK_OK(ntk_kernel(&k0, X, n, NULL, 0, K0));
            CHECK_OK(ntk_kernel(&k1, X, n, NULL, 0, K1));
            CHECK(same(K0, K1, n * n), "%s %s: symmetric kernel", nm, ntk_kernel_source_name(k0.source));
            CHECK_OK(ntk_kernel(&k0, X, n, X2, 3, K0));
            CHECK_OK(ntk_kernel(&k1, X, n, X2, 3, K1));
            CHECK(same(K0, K1, n * 3), "%s %s: cross kernel", nm, ntk_kernel_source_name(k0.source));
            k0.diagonal = k1.diagonal = 1;
            CHECK_OK(ntk_kernel(&k0, X, n, NULL, 0, K0));
            CHECK_OK(ntk_kernel(&k1, X, n, NULL, 0, K1));
            CHECK(same(K0, K1, n), "%s %s: diagonal", nm, ntk_kernel_source_name(k0.source));
        }
        /* the net object and 3 trainer steps */
        ntk_net *n0, *n1;
        CHECK_OK(ntk_net_create(&c0, &n0));
        CHECK_OK(ntk_net_create(&c1, &n1));
        ntk_gd_config gd = {.lr1 = 0.3, .lr2 = 0.2, .loss = NTK_LOSS_MEAN};
        ntk_trainer *r0, *r1;
        CHECK_OK(ntk_trainer_create(n0, X, y, n, gd, &r0));
        CHECK_OK(ntk_trainer_create(n1, X, y, n, gd, &r1));
        for (int it = 0; it < 3; it++) {
            CHECK_OK(ntk_trainer_step(r0));
            CHECK_OK(ntk_trainer_step(r1));
        }
        CHECK(same(ntk_net_theta(n0), ntk_net_theta(n1), P), "%s: 3 trainer steps", nm);
        CHECK_OK(ntk_net_predict(n0, X, n, f0));
        CHECK_OK(ntk_net_predict(n1, X, n, f1));
        CHECK(same(f0, f1, n), "%s: predict", nm);
        CHECK((ntk_net_v(n0) != NULL) == !deep && (ntk_net_v(n1) != NULL) == !deep,
              "%s: the two-layer accessors (v) exactly when not deep", nm);
        ntk_trainer_free(r0), ntk_trainer_free(r1);
        ntk_net_free(n0), ntk_net_free(n1);
        free(t0), free(t1), free(g0), free(g1), free(dth);
    }
    /* the plain two-layer network: its own path with one output, the deep
     * one with three (θ = [W (m,d), Vᵀ (k,m)]) */
    ntk_net_config c = ntk_net_config_default(d, 8);
    c.outputs = 1;
    CHECK(ntk_net_is_deep(&c) == 0, "two-layer, outputs = 1: its own path");
    c.outputs = 3;
    CHECK(ntk_net_is_deep(&c) == 1, "two-layer, outputs = 3: the deep path");
    CHECK(ntk_net_nparams(&c) == 8 * d + 3 * 8 && ntk_net_width(&c, 2) == 3,
          "two-layer, outputs = 3: P = md + km (%zu)", ntk_net_nparams(&c));
    ntk_net *net;
    CHECK_OK(ntk_net_create(&c, &net));
    if (net) CHECK(ntk_net_v(net) == NULL, "k = 3: no two-layer v");
    ntk_net_free(net);
    free(X), free(X2), free(y);
}

/* ---- 5. Monte Carlo: Θ = Θ∞ ⊗ I_k --------------------------------------- */

/* The two-layer network f_c = α/√m Σ_r V_rc φ(w_r·x/s), every weight
 * N(0,1) (ntk_init_theta, gaussian), k = 3. Its per-output-pair block is
 *   Θ_cc'(x, x') = α²/m Σ_r V_rc V_rc' φ'(w_r·x/s) φ'(w_r·x'/s) x·x'/s²
 *                  + δ_cc' α²/m Σ_r φ(w_r·x/s) φ(w_r·x'/s),
 * an average of m i.i.d. terms whose mean is δ_cc' (Θ1∞ + Θ2∞)(x, x'):
 * E[V_rc V_rc'] = δ_cc' and V is independent of W. So E[Θ_emp] = Θ∞ ⊗ I_k
 * exactly at every width (no finite-width bias at two layers), and the
 * average of S independent draws is within a few standard errors sd/√S
 * of it. 6 standard errors over the 9·n² entries: a false alarm has
 * probability below 9·25·2e-9 (central limit theorem over S = 200 draws,
 * each itself an average of 64 i.i.d. terms). The negative controls hold
 * the off-diagonal blocks to Θ∞ and the diagonal blocks to 0: they must
 * fail by far, and so must the library's traced kernel held to k·Θ∞
 * (what a sum over the outputs instead of their mean would give). */
static void test_monte_carlo(void)
{
    const size_t d = 4, m = 64, k = 3, n = 5, S = 200;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3606);
    double *X = randn(&rng, n * d);
    for (size_t a = 0; a < 2; a++) {
        ntk_net_config c = ntk_net_config_default(d, m);
        c.outputs = k;
        c.act = ACTS[a];   /* relu, erf */
        c.alpha = 1.3;
        lay_t R = layout(&c);
        const size_t P = R.P, NB = k * k * n * n;
        double *th = malloc(P * sizeof(double)), *Kl = malloc(n * n * sizeof(double));
        double *mean = calloc(NB, sizeof(double)), *m2 = calloc(NB, sizeof(double));
        double *lmean = calloc(n * n, sizeof(double)), *lm2 = calloc(n * n, sizeof(double));
        double Kinf[25], Kinf1[25];
        for (size_t s = 0; s < S; s++) {
            c.seed = 7000 + s;
            CHECK_OK(ntk_init_theta(&c, th));
            ref_t o = ref_all(&R, th, X, n);
            /* Θ_cc'(i, j) = Σ_p J_(ic)p J_(jc')p, Welford's running mean and M2 */
            for (size_t c1 = 0; c1 < k; c1++)
                for (size_t c2 = 0; c2 < k; c2++)
                    for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < n; j++) {
                            const double *Ji = o.J + (i * k + c1) * P, *Jj = o.J + (j * k + c2) * P;
                            double t = 0.0;
                            for (size_t p = 0; p < P; p++) t += Ji[p] * Jj[p];
                            size_t q = ((c1 * k + c2) * n + i) * n + j;
                            double dl = t - mean[q];
                            mean[q] += dl / (double)(s + 1);
                            m2[q] += dl * (t - mean[q]);
                        }
            /* the library's traced kernel on the same draw */
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &c);
            kd.theta = th;
            CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, Kl));
            for (size_t q = 0; q < n * n; q++) {
                double dl = Kl[q] - lmean[q];
                lmean[q] += dl / (double)(s + 1);
                lm2[q] += dl * (Kl[q] - lmean[q]);
            }
            ref_free(&o);
        }
        ntk_kernel_desc ki = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &c);
        CHECK_OK(ntk_kernel(&ki, X, n, NULL, 0, Kinf));
        ntk_net_config c1cfg = c;
        c1cfg.outputs = 1;
        ntk_kernel_desc ki1 = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &c1cfg);
        CHECK_OK(ntk_kernel(&ki1, X, n, NULL, 0, Kinf1));
        /* z-scores: |mean − target| / (sd/√S) */
        double zd = 0.0, zd1 = 0.0, zo = 0.0, zl = 0.0, neg_off = 0.0, neg_diag = 0.0, sdmin = INFINITY;
        double relse = 0.0, kscale = 0.0, neg_sum = 0.0;
        for (size_t q = 0; q < n * n; q++) kscale = fmax(kscale, fabs(Kinf[q]));
        for (size_t c1 = 0; c1 < k; c1++)
            for (size_t c2 = 0; c2 < k; c2++)
                for (size_t q = 0; q < n * n; q++) {
                    size_t b = (c1 * k + c2) * n * n + q;
                    double se = sqrt(m2[b] / (double)(S - 1)) / sqrt((double)S);
                    sdmin = fmin(sdmin, se);
                    if (c1 == c2) {
                        zd = worse(zd, fabs(mean[b] - Kinf[q]) / se);
                        zd1 = worse(zd1, fabs(mean[b] - Kinf1[q]) / se);
                        neg_diag = fmax(neg_diag, fabs(mean[b]) / se);
                        relse = fmax(relse, 6.0 * se / kscale);
                    } else {
                        zo = worse(zo, fabs(mean[b]) / se);
                        neg_off = fmax(neg_off, fabs(mean[b] - Kinf[q]) / se);
                    }
                }
        for (size_t q = 0; q < n * n; q++) {
            double se = sqrt(lm2[q] / (double)(S - 1)) / sqrt((double)S);
            zl = worse(zl, fabs(lmean[q] - Kinf[q]) / se);
            neg_sum = fmax(neg_sum, fabs(lmean[q] - (double)k * Kinf[q]) / se);
        }
        const char *nm = ntk_act_name(c.act.kind);
        CHECK(sdmin > 0.0, "%s: every entry varies over the draws", nm);
        CHECK_LE(zd, 6.0, "%s: diagonal blocks Theta_cc against Theta_inf (z-score)", nm);
        CHECK_LE(zd1, 6.0, "%s: diagonal blocks against the one-output Theta_inf (z-score)", nm);
        CHECK_LE(zo, 6.0, "%s: off-diagonal blocks Theta_cc' (c != c') against 0 (z-score)", nm);
        CHECK_LE(zl, 6.0, "%s: the library's traced kernel against Theta_inf (z-score)", nm);
        CHECK(neg_off > 6.0, "%s: negative control: off-diagonal blocks held to Theta_inf pass "
              "(z = %g)", nm, neg_off);
        CHECK(neg_diag > 6.0, "%s: negative control: diagonal blocks held to 0 pass (z = %g)", nm,
              neg_diag);
        CHECK(neg_sum > 6.0, "%s: negative control: the traced kernel held to k Theta_inf (a sum "
              "over the outputs, not the mean) passes (z = %g)", nm, neg_sum);
        printf("monte carlo %s (S = %zu, m = %zu, k = %zu): max z diagonal %.2f (one-output "
               "Theta_inf %.2f), off-diagonal %.2f, traced %.2f; controls %.1f, %.1f, %.1f; "
               "6 se / max|Theta_inf| at most %.3f\n",
               nm, S, m, k, zd, zd1, zo, zl, neg_off, neg_diag, neg_sum, relse);
        free(th), free(Kl), free(mean), free(m2), free(lmean), free(lm2);
    }
    free(X);
}

/* ---- 6. training and the symmetric initialisation -------------------------- */

/* Each of 20 steps from the trainer's own θ_t: its predictions (n, k) and
 * loss at θ_t against the oracle, its gradient against Jᵀ(c·e) (the bounds
 * of test_loss_grad), and θ_{t+1} against θ_t − η_l g by hand with the
 * oracle's gradient g: |θ_{t+1} − want| ≤ η_l·2C_ROUND e(g) (the library's
 * gradient against the oracle's) + 2ε(|want| + |η_l g|) (the product and
 * the difference). A frozen layer (η_l = 0) stays bit for bit. */
static void test_training(void)
{
    const size_t n = 8;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3707);
    for (int run = 0; run < 3; run++) {
        ntk_net_config c;
        ntk_gd_config gd = {.lr1 = 0.0, .lr2 = 0.0, .loss = NTK_LOSS_MEAN};
        if (run == 0) {   /* k = 3, L = 2 with biases, tanh; lr1 hidden, lr2 output */
            c = ntk_net_config_default(3, 6);
            c.depth = 2, c.widths[0] = 6, c.widths[1] = 4, c.bias_std = 0.3;
            c.act.kind = NTK_ACT_TANH, c.outputs = 3;
            gd.lr1 = 0.3, gd.lr2 = 0.2;
        } else if (run == 1) {   /* the plain two-layer head with k = 3, relu, sum loss */
            c = ntk_net_config_default(3, 8);
            c.outputs = 3;
            gd.loss = NTK_LOSS_SUM, gd.nlr = 2, gd.lrs[0] = 0.05, gd.lrs[1] = 0.04;
        } else {   /* k = 10, L = 3, erf, standard, centred, layer 3 frozen */
            c = ntk_net_config_default(3, 5);
            c.depth = 3, c.widths[0] = 5, c.widths[1] = 4, c.widths[2] = 6;
            c.act.kind = NTK_ACT_ERF, c.outputs = 10, c.parameterization = NTK_PARAM_STANDARD;
            c.centered = 1, c.bias_std = 0.2;
            gd.nlr = 4, gd.lrs[0] = 0.4, gd.lrs[1] = 0.3, gd.lrs[2] = 0.0, gd.lrs[3] = 0.5;
        }
        c.seed = 90 + (uint64_t)run;
        lay_t R = layout(&c);
        const size_t k = R.k, P = R.P, nk = n * k;
        double *X = malloc(n * 3 * sizeof(double)), *y = malloc(nk * sizeof(double));
        ntk_net *net;
        CHECK_OK(ntk_net_create(&c, &net));
        draw_points(&R, ntk_net_theta0(net), n, X, &rng);
        for (size_t i = 0; i < n; i++)
            for (size_t q = 0; q < k; q++)
                y[i * k + q] = sin(X[i * 3] + 0.3 * (double)q) + 0.2 * (double)q * X[i * 3 + 2];
        double eta[NTK_MAX_DEPTH + 1];
        for (size_t l = 1; l <= R.L + 1; l++)
            eta[l - 1] = gd.nlr ? gd.lrs[l - 1] : l <= R.L ? gd.lr1 : gd.lr2;
        ref_t o0 = ref_all(&R, ntk_net_theta0(net), X, n);
        double *f0 = c.centered ? o0.f : NULL;
        ntk_trainer *tr;
        CHECK_OK(ntk_trainer_create(net, X, y, n, gd, &tr));
        const double cs = gd.loss == NTK_LOSS_MEAN ? 1.0 / (double)n : 1.0, G = gcount(&R, n);
        double *th = malloc(P * sizeof(double)), *gr = malloc(P * sizeof(double));
        double *eg = malloc(P * sizeof(double));
        double wp = 0.0, wl = 0.0, wg = 0.0, ws = 0.0, margin = INFINITY, loss0 = NAN, lossT = NAN;
        int kept = 1, zero = 1;
        for (int t = 0; t < 20; t++) {
            memcpy(th, ntk_net_theta(net), P * sizeof(double));
            CHECK_OK(ntk_trainer_step(tr));
            ref_t o = ref_all(&R, th, X, n);
            margin = fmin(margin, o.margin);
            const double *pred = ntk_trainer_pred(tr), *g = ntk_trainer_grad(tr);
            double Lr = 0.0, eL = 0.0;
            for (size_t p = 0; p < P; p++) gr[p] = eg[p] = 0.0;
            for (size_t q = 0; q < nk; q++) {
                /* the centred model's f0 = f(X; θ0): the oracle's, within its
                 * own bound o0.ef of the library's cached one */
                double fz = f0 ? f0[q] : 0.0, efz = f0 ? o0.ef[q] : 0.0, e = o.f[q] - fz - y[q];
                double ee = o.ef[q] + efz + 2 * EPS * (fabs(o.f[q]) + fabs(fz) + fabs(y[q]));
                wp = worse(wp, ratio(fabs(pred[q] - (o.f[q] - fz)),
                                     2 * C_ROUND * (o.ef[q] + efz + EPS * fabs(o.f[q] - fz))));
                Lr += 0.5 * cs * e * e;
                eL += cs * fabs(e) * ee;
                for (size_t p = 0; p < P; p++) {
                    gr[p] += cs * e * o.J[q * P + p];
                    eg[p] += cs * (fabs(e) * o.E[q * P + p] + o.Js[q * P + p] * ee +
                                   gam(G) * fabs(e) * o.Js[q * P + p]);
                }
            }
            eL += gam((double)(nk + 3)) * Lr;
            wl = worse(wl, ratio(fabs(ntk_trainer_loss(tr) - Lr), 2 * C_ROUND * eL));
            if (t == 0) loss0 = Lr;
            lossT = Lr;
            const double *tn = ntk_net_theta(net);
            for (size_t l = 1; l <= R.L + 1; l++) {
                double h = eta[l - 1];
                for (size_t p = R.off[l]; p < R.off[l + 1]; p++) {
                    eg[p] += 2 * EPS * fabs(gr[p]);
                    if (h == 0.0) {
                        kept &= tn[p] == th[p];
                        zero &= g[p] == 0.0;
                        continue;
                    }
                    wg = worse(wg, ratio(fabs(g[p] - gr[p]), 2 * C_ROUND * eg[p]));
                    double want = th[p] - h * gr[p];
                    double tol = h * 2 * C_ROUND * eg[p] + 2 * EPS * (fabs(want) + fabs(h * gr[p]));
                    ws = worse(ws, ratio(fabs(tn[p] - want), tol));
                }
            }
            ref_free(&o);
        }
        CHECK(margin > 10.0, "run %d: kink margin %g", run, margin);
        CHECK_LE(wp, 1.0, "run %d: the trainer's predictions (n,k) against the oracle", run);
        CHECK_LE(wl, 1.0, "run %d: the trainer's loss against the oracle", run);
        CHECK_LE(wg, 1.0, "run %d: the trainer's gradient against J^T(c e)", run);
        CHECK_LE(ws, 1.0, "run %d: 20 steps against theta - eta_l g by hand", run);
        CHECK(kept && zero, "run %d: a frozen layer keeps its weights bit for bit, gradient 0", run);
        CHECK(lossT < loss0, "run %d: the loss decreases (%g -> %g)", run, loss0, lossT);
        if (c.centered) {
            /* the centred model at θ0: f − f0 of the same pass, exactly 0 */
            ntk_net *n0;
            ntk_trainer *t0;
            CHECK_OK(ntk_net_create(&c, &n0));
            CHECK_OK(ntk_trainer_create(n0, X, y, n, gd, &t0));
            CHECK_OK(ntk_trainer_eval(t0));
            int z = 1;
            for (size_t q = 0; q < nk; q++) z &= ntk_trainer_pred(t0)[q] == 0.0;
            CHECK(z, "run %d: the centred predictions (n,k) at theta0 are 0", run);
            ntk_trainer_free(t0);
            ntk_net_free(n0);
        }
        printf("training run %d (k = %zu, L = %zu): loss %.4g -> %.4g; worst ratios pred %.3g "
               "loss %.3g grad %.3g step %.3g\n", run, k, R.L, loss0, lossT, wp, wl, wg, ws);
        ref_free(&o0);
        ntk_trainer_free(tr);
        ntk_net_free(net);
        free(X), free(y), free(th), free(gr), free(eg);
    }
}

/* The symmetric initialisation with k = 3: layer L's units in identical
 * pairs (rows of W_L and entries of b_L copied), each output's row of
 * W_{L+1} with its second half the negation of its first, b_{L+1} = 0, all
 * bit for bit; the rows of different outputs drawn separately. Then
 * f(x; θ0) = 0 in exact arithmetic; computed, each output is a sum over
 * units whose pairs cancel only up to the rounding of the sum's order (a
 * BLAS need not add a pair's two terms next to each other), so |f| is held
 * to C_ROUND times the oracle's rounding bound of f, and the count of
 * outputs that came out exactly 0 is printed. */
static void test_symmetric(void)
{
    const size_t n = 6;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3808);
    for (int v = 0; v < 4; v++) {
        ntk_net_config c = ntk_net_config_default(3, 8);
        c.outputs = 3, c.init = NTK_INIT_SYMMETRIC, c.seed = 50 + (uint64_t)v;
        if (v >= 1) c.depth = 2, c.widths[0] = 5, c.widths[1] = 6, c.act.kind = NTK_ACT_TANH;
        if (v >= 2) c.bias_std = 0.4;
        if (v == 3) c.parameterization = NTK_PARAM_STANDARD;
        lay_t R = layout(&c);
        const size_t L = R.L, mL = R.m[L], mi = R.m[L - 1], h = mL / 2, nk = n * 3;
        double *th = malloc(R.P * sizeof(double)), X[6 * 3], f[18];
        CHECK_OK(ntk_init_theta(&c, th));
        const double *WL = th + R.off[L], *W1 = th + R.off[L + 1];
        int ok = memcmp(WL, WL + h * mi, h * mi * sizeof(double)) == 0;
        if (R.bias) ok &= memcmp(WL + mL * mi, WL + mL * mi + h, h * sizeof(double)) == 0;
        for (size_t q = 0; q < 3; q++)
            for (size_t r = 0; r < h; r++) ok &= W1[q * mL + h + r] == -W1[q * mL + r];
        if (R.bias)
            for (size_t q = 0; q < 3; q++) ok &= W1[3 * mL + q] == 0.0;
        CHECK(ok, "v=%d: symmetric pairs for every output", v);
        CHECK(memcmp(W1, W1 + mL, h * sizeof(double)) != 0 &&
                  memcmp(W1 + mL, W1 + 2 * mL, h * sizeof(double)) != 0,
              "v=%d: the outputs' rows are drawn separately", v);
        ntk_rng_normal_fill(&rng, X, n * 3);
        CHECK_OK(ntk_forward_theta(&c, th, X, n, f));
        ref_t o = ref_all(&R, th, X, n);
        double worst = 0.0;
        int exact = 0;
        for (size_t q = 0; q < nk; q++) {
            worst = worse(worst, ratio(fabs(f[q]), C_ROUND * o.ef[q]));
            exact += f[q] == 0.0;
        }
        CHECK_LE(worst, 1.0, "v=%d: symmetric init, |f(x; theta0)| / its rounding bound", v);
        printf("symmetric v=%d: %d of %zu outputs exactly 0, max |f| / bound %.3g\n", v, exact, nk,
               worst);
        ref_free(&o);
        free(th);
        /* an odd last hidden width is refused */
        if (v == 1) {
            ntk_net_config odd = c;
            odd.widths[1] = 7;
            double t2[256];
            CHECK_ERR(ntk_init_theta(&odd, t2), NTK_ERR_ARG);
            CHECK(strstr(ntk_errmsg(), "even") != NULL, "odd width: %s", ntk_errmsg());
        }
    }
}

/* ---- 7. argument errors ----------------------------------------------------- */

/* A non-finite value in an output column c > 0 (flat index ≥ n, past what a
 * check of n values would see) is refused by every function taking (n, k)
 * values, with the flat index in the message. */
static void test_errors(void)
{
    const size_t n = 4, k = 3, nk = n * k;
    ntk_rng rng;
    ntk_rng_seed(&rng, 3909);
    for (int deep = 0; deep < 2; deep++) {   /* L = 1 (the two-layer head) and L = 2 */
        ntk_net_config c = ntk_net_config_default(3, 6);
        c.outputs = k;
        if (deep) c.depth = 2, c.widths[0] = 6, c.widths[1] = 4, c.bias_std = 0.2;
        size_t P = ntk_net_nparams(&c);
        double *th = malloc(P * sizeof(double)), *g = malloc(P * sizeof(double));
        double X[4 * 3], y[12], f[12], L;
        CHECK_OK(ntk_init_theta(&c, th));
        ntk_rng_normal_fill(&rng, X, n * 3);
        const size_t bad[2] = {1 * k + 2, nk - 1};   /* (1, 2) and (n−1, k−1) */
        for (int b = 0; b < 2; b++) {
            ntk_rng_normal_fill(&rng, y, nk);
            y[bad[b]] = b ? INFINITY : NAN;
            char idx[48];
            snprintf(idx, sizeof idx, "flat index %zu", bad[b]);
            ntk_batch bt = {X, y, n, NTK_LOSS_MEAN, NULL};
            CHECK_ERR(ntk_loss_grad_theta(&c, th, &bt, &L, g, f), NTK_ERR_NONFINITE);
            CHECK(strstr(ntk_errmsg(), "targets y") && strstr(ntk_errmsg(), idx),
                  "deep=%d: the message names y and %s: %s", deep, idx, ntk_errmsg());
            ntk_net *net;
            ntk_trainer *tr = NULL;
            CHECK_OK(ntk_net_create(&c, &net));
            ntk_gd_config gd = {.lr1 = 0.1, .lr2 = 0.1, .loss = NTK_LOSS_MEAN};
            CHECK_ERR(ntk_trainer_create(net, X, y, n, gd, &tr), NTK_ERR_NONFINITE);
            CHECK(tr == NULL && strstr(ntk_errmsg(), idx), "deep=%d: trainer refuses y: %s", deep,
                  ntk_errmsg());
            ntk_trainer_free(tr);
            ntk_net_free(net);
            /* the cotangent r (n, k) of the VJP */
            CHECK_ERR(ntk_net_vjp(&c, th, X, n, y, g), NTK_ERR_NONFINITE);
            CHECK(strstr(ntk_errmsg(), idx) != NULL, "deep=%d: vjp names %s: %s", deep, idx,
                  ntk_errmsg());
        }
        /* all finite: accepted */
        ntk_rng_normal_fill(&rng, y, nk);
        ntk_batch bt = {X, y, n, NTK_LOSS_MEAN, NULL};
        CHECK_OK(ntk_loss_grad_theta(&c, th, &bt, &L, g, f));
        free(th), free(g);
    }
}

int main(void)
{
    test_products();
    test_loss_grad();
    test_kernel();
    test_tiles();
    test_one_output();
    test_monte_carlo();
    test_training();
    test_symmetric();
    test_errors();
    return t_finish();
}
