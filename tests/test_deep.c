/* Deep networks (src/deep.c, docs/depth.md) against independent oracles: a
 * plain-loop forward and backward pass written here (one point at a time,
 * carrying a first-order rounding bound), central finite differences, the
 * two-layer code at L = 1, and exact identities (the adjoint relation of J
 * and Jᵀ, the symmetric initialisation).
 *
 * ---- Tolerances ---------------------------------------------------------
 * ε = DBL_EPSILON. The reference (ref_run) computes, next to every value, a
 * bound on its rounding error to first order in ε, for any summation order
 * (so it bounds the library's BLAS as well as the loops here):
 *   a dot product of k terms plus a scaling and a bias: (k + 3)ε·Σ|terms|,
 *   plus the propagated error of its inputs through |κ||W|;
 *   φ, φ' of libm-based activations: ACT_ULP·ε absolutely (relative to 1 + |h|),
 *   plus sup|φ'|·e_h (φ), sup|φ''|·e_h (φ') for the error e_h of h.
 * Relu and leaky relu have φ'' = ∞ at the kink: every check with them first
 * asserts that each pre-activation is farther than 10·e_h from 0 (then φ'
 * is exact on both sides and contributes nothing). Two computations of the
 * same quantity then differ by at most C_ROUND·(e_1 + e_2); C_ROUND = 4
 * covers the second-order terms the bound drops.
 *
 * Finite differences D(h) = (F(θ + h e_k) − F(θ − h e_k))/2h: with F's own
 * rounding bound e_F, |D(h) − ∂F| ≤ c₂h² + (e_F(θ+) + e_F(θ−))/2h + O(h⁴).
 * The truncation c₂h² is bounded a posteriori by the step-doubling
 * difference: |D(h) − D(2h)| ≥ 3c₂h² − (rounding of both), so the tolerance
 * |D(h) − D(2h)| + 2(r_h + r_2h) is 3× the truncation term plus the
 * rounding, and does not involve the derivative under test. For the
 * piecewise-linear activations at a fixed activation pattern (checked at
 * every evaluation) f is affine in each single parameter, so D(h) is exact
 * up to rounding (the tolerance keeps only the rounding terms). Each FD
 * check also asserts that the tolerance is far below the derivative's scale
 * (the check is sharp). */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"
#include "deep_internal.h"

#include <float.h>
#include <math.h>

#define C_ROUND 4.0
#define ACT_ULP 8.0
#define EPS DBL_EPSILON

static const ntk_act_kind all_acts[] = {NTK_ACT_RELU, NTK_ACT_LEAKY_RELU, NTK_ACT_ERF,
                                        NTK_ACT_TANH, NTK_ACT_SIGMOID,    NTK_ACT_SOFTPLUS,
                                        NTK_ACT_GELU, NTK_ACT_IDENTITY};
#define NACTS (sizeof all_acts / sizeof all_acts[0])

static ntk_act mk_act(ntk_act_kind k)
{
    ntk_act a = {k, k == NTK_ACT_LEAKY_RELU ? 0.2 : 0.0};
    return a;
}

/* A deep configuration with widths that differ: depth 1 {5}, 2 {5, 3},
 * 3 {4, 6, 3}; d = 3, σ_w = 1.3, α = 1.7. */
static ntk_net_config mk_cfg(size_t L, ntk_act_kind act, ntk_param_kind par, double bias_std)
{
    static const size_t W[4][3] = {{0, 0, 0}, {5, 0, 0}, {5, 3, 0}, {4, 6, 3}};
    ntk_net_config c = ntk_net_config_default(3, 5);
    c.act = mk_act(act);
    c.alpha = 1.7;
    c.depth = L;
    for (size_t l = 0; l < L; l++) c.widths[l] = W[L][l];
    c.weight_std = 1.3;
    c.bias_std = bias_std;
    c.parameterization = par;
    c.seed = 5 + L;
    return c;
}

/* ---- the reference pass ------------------------------------------------- */

#define MW 8   /* widest layer of the tests (d included) */
#define ML 6   /* layers 0..L+1, L <= 4 */

typedef struct {
    size_t L, m[ML];
    double h[ML][MW], a[ML][MW], dp[ML][MW];   /* h_l, a_l = φ(h_l) (a_0 = x), φ'(h_l) */
    double eh[ML][MW], ea[ML][MW];             /* rounding bounds of h_l, a_l */
    double dl[ML][MW], dsup[ML][MW], edl[ML][MW]; /* δ_l (seed 1), |δ_l| via |W|, its bound */
    double f, ef;
    double hmargin;                            /* min over hidden units of |h| / e_h */
} ref_t;

static const double *layer_of(const ntk_net_config *c, const double *th, size_t l,
                              const double **b)
{
    size_t nW, nb;
    const double *W = th + ntk_net_layer_offset(c, l, &nW, &nb);
    *b = nb ? W + nW : NULL;
    return W;
}

static void ref_run(const ntk_net_config *c, const double *th, const double *x, ref_t *r)
{
    double L1, L2;
    ntk_act_sup(c->act, &L1, &L2);
    int pl = ntk_act_piecewise_linear(c->act);
    size_t L = ntk_net_depth(c);
    double beta = ntk_net_bias_factor(c);
    r->L = L;
    r->hmargin = INFINITY;
    for (size_t l = 0; l <= L + 1; l++) r->m[l] = ntk_net_width(c, l);
    for (size_t k = 0; k < r->m[0]; k++) r->a[0][k] = x[k], r->ea[0][k] = 0.0;
    for (size_t l = 1; l <= L + 1; l++) {
        const double *b, *W = layer_of(c, th, l, &b);
        double kap = ntk_net_weight_factor(c, l);
        size_t mi = r->m[l - 1];
        for (size_t j = 0; j < r->m[l]; j++) {
            double s = 0.0, sa = 0.0, se = 0.0;
            for (size_t k = 0; k < mi; k++) {
                s += W[j * mi + k] * r->a[l - 1][k];
                sa += fabs(W[j * mi + k] * r->a[l - 1][k]);
                se += fabs(W[j * mi + k]) * r->ea[l - 1][k];
            }
            double h = kap * s + (b ? beta * b[j] : 0.0);
            double hsup = fabs(kap) * sa + (b ? beta * fabs(b[j]) : 0.0);
            r->h[l][j] = h;
            r->eh[l][j] = (double)(mi + 3) * EPS * hsup + fabs(kap) * se;
            if (l <= L) {
                r->a[l][j] = ntk_act_phi(c->act, h);
                r->dp[l][j] = ntk_act_dphi(c->act, h);
                r->ea[l][j] = L1 * r->eh[l][j] + ACT_ULP * EPS * (1.0 + fabs(h));
                r->hmargin = fmin(r->hmargin, fabs(h) / r->eh[l][j]);
            }
        }
    }
    r->f = c->alpha * r->h[L + 1][0];
    r->ef = c->alpha * r->eh[L + 1][0] + EPS * fabs(r->f);
    /* backward, seed 1 */
    r->dl[L + 1][0] = c->alpha, r->dsup[L + 1][0] = c->alpha, r->edl[L + 1][0] = 0.0;
    for (size_t l = L; l >= 1; l--) {
        const double *b, *W = layer_of(c, th, l + 1, &b);
        double kap = ntk_net_weight_factor(c, l + 1);
        size_t mo = r->m[l + 1], mi = r->m[l];
        for (size_t j = 0; j < mi; j++) {
            double u = 0.0, us = 0.0, ue = 0.0;
            for (size_t i = 0; i < mo; i++) {
                u += W[i * mi + j] * r->dl[l + 1][i];
                us += fabs(W[i * mi + j]) * r->dsup[l + 1][i];
                ue += fabs(W[i * mi + j]) * r->edl[l + 1][i];
            }
            u *= kap, us *= fabs(kap), ue *= fabs(kap);
            double eu = (double)(mo + 2) * EPS * us + ue;
            double dpe = (pl ? 0.0 : L2 * r->eh[l][j]) + ACT_ULP * EPS;
            r->dl[l][j] = r->dp[l][j] * u;
            r->dsup[l][j] = (fabs(r->dp[l][j]) + dpe) * us;
            r->edl[l][j] = fabs(r->dp[l][j]) * eu + dpe * us + EPS * r->dsup[l][j];
        }
    }
}

/* The reference Jacobian row ∂f/∂θ (P) at x and its rounding bound. */
static void ref_jac(const ntk_net_config *c, const ref_t *r, double *J, double *eJ)
{
    double beta = ntk_net_bias_factor(c);
    for (size_t l = 1; l <= r->L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(c, l, &nW, &nb), mi = r->m[l - 1];
        double kap = fabs(ntk_net_weight_factor(c, l));
        for (size_t j = 0; j < r->m[l]; j++) {
            for (size_t k = 0; k < mi; k++) {
                double aa = fabs(r->a[l - 1][k]);
                J[off + j * mi + k] = ntk_net_weight_factor(c, l) * r->dl[l][j] * r->a[l - 1][k];
                eJ[off + j * mi + k] = kap * (r->edl[l][j] * aa + r->dsup[l][j] * r->ea[l - 1][k] +
                                              2.0 * EPS * r->dsup[l][j] * aa);
            }
            if (nb) {
                J[off + nW + j] = beta * r->dl[l][j];
                eJ[off + nW + j] = beta * (r->edl[l][j] + EPS * r->dsup[l][j]);
            }
        }
    }
}

/* Points X (n, d) ~ N(0, 1), each redrawn until its hidden pre-activations
 * are at least `margin` from 0 (relative to the rounding bound, ref_t.hmargin,
 * and absolutely), so that finite differences never cross a relu kink. */
static void draw_points(const ntk_net_config *c, const double *th, size_t n, double *X,
                        uint64_t seed, double abs_margin)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ref_t r;
    for (size_t i = 0; i < n; i++) {
        for (int tries = 0; tries < 1000; tries++) {
            ntk_rng_normal_fill(&rng, X + i * c->d, c->d);
            ref_run(c, th, X + i * c->d, &r);
            double mn = INFINITY;
            for (size_t l = 1; l <= r.L; l++)
                for (size_t j = 0; j < r.m[l]; j++) mn = fmin(mn, fabs(r.h[l][j]));
            if (mn >= abs_margin) break;
        }
    }
}

static void draw_theta(const ntk_net_config *c, double *th, uint64_t seed)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    size_t P = ntk_net_nparams(c);
    ntk_rng_normal_fill(&rng, th, P);
    /* standard parameterisation: entries at the scale σ_w c_l of its init */
    if (c->parameterization == NTK_PARAM_STANDARD) {
        ntk_net_config n = *c;
        n.parameterization = NTK_PARAM_NTK;
        for (size_t l = 1; l <= ntk_net_depth(c) + 1; l++) {
            size_t nW, nb, off = ntk_net_layer_offset(c, l, &nW, &nb);
            for (size_t k = 0; k < nW; k++) th[off + k] *= ntk_net_weight_factor(&n, l);
            for (size_t k = 0; k < nb; k++) th[off + nW + k] *= c->bias_std;
        }
    }
}

/* ---- finite differences ------------------------------------------------- */

/* F(θ) with its rounding bound *err; sets *crossed when a piecewise-linear
 * activation's pattern differs from the one at the base point. */
typedef double (*scalar_fn)(void *ctx, const double *th, double *err);

typedef struct {
    double D, tol;
} fd_result;

static fd_result fd_coord(scalar_fn F, void *ctx, double *th, size_t k, double h, int pl)
{
    double t0 = th[k], e[4], v[4];
    const double steps[4] = {h, -h, 2 * h, -2 * h};
    double at[4];
    for (int s = 0; s < 4; s++) {
        th[k] = t0 + steps[s];
        at[s] = th[k];
        v[s] = F(ctx, th, &e[s]);
    }
    th[k] = t0;
    double D1 = (v[0] - v[1]) / (at[0] - at[1]), D2 = (v[2] - v[3]) / (at[2] - at[3]);
    double r1 = C_ROUND * (e[0] + e[1]) / (at[0] - at[1]);
    double r2 = C_ROUND * (e[2] + e[3]) / (at[2] - at[3]);
    fd_result out = {D1, pl ? r1 : fabs(D1 - D2) + 2.0 * (r1 + r2)};
    return out;
}

/* base sign pattern of the hidden pre-activations, for pl activations */
typedef struct {
    const ntk_net_config *c;
    const double *X;
    size_t n, i;        /* point i for per-point functions */
    signed char pat[16][ML][MW];
    int have_pat, crossed;
} fd_ctx;

static void pattern_check(fd_ctx *x, size_t i, const ref_t *r)
{
    for (size_t l = 1; l <= r->L; l++)
        for (size_t j = 0; j < r->m[l]; j++) {
            signed char s = r->h[l][j] > 0 ? 1 : r->h[l][j] < 0 ? -1 : 0;
            if (!x->have_pat)
                x->pat[i][l][j] = s;
            else if (x->pat[i][l][j] != s)
                x->crossed = 1;
        }
}

/* ---- the tape ----------------------------------------------------------- */

/* f_i through the tape (one block of all n points) */
static double tape_f(void *vctx, const double *th, double *err)
{
    fd_ctx *x = vctx;
    deep_tape t;
    double f[16];
    deep_tape_init(&t, x->c, x->n);
    deep_tape_forward(&t, x->c, th, x->X, x->n, f);
    deep_tape_free(&t);
    ref_t r;
    ref_run(x->c, th, x->X + x->i * x->c->d, &r);
    pattern_check(x, x->i, &r);
    *err = r.ef;
    return f[x->i];
}

/* deep_tape_forward's H, A, D and f and deep_tape_backward's G against the
 * reference; the tape's per-row gradient κ_l δ_l a_{l−1}ᵀ, β δ_l against
 * finite differences of its own f. */
static void test_tape(void)
{
    const size_t n = 5;
    for (size_t a = 0; a < NACTS; a++)
        for (int par = 0; par < 2; par++)
            for (int bias = 0; bias < 2; bias++)
                for (size_t L = 1; L <= 3; L++) {
                    ntk_net_config c = mk_cfg(L, all_acts[a], (ntk_param_kind)par, bias ? 0.4 : 0.0);
                    const char *nm = ntk_act_name(c.act.kind);
                    int pl = ntk_act_piecewise_linear(c.act);
                    size_t P = ntk_net_nparams(&c);
                    double th[256], X[16 * 3], f[16], r[16], J[256], eJ[256];
                    CHECK(P <= 256, "P = %zu", P);
                    draw_theta(&c, th, 100 + L);
                    draw_points(&c, th, n, X, 200 + L, 0.05);
                    ntk_rng rng;
                    ntk_rng_seed(&rng, 300);
                    for (size_t i = 0; i < n; i++) r[i] = ntk_rng_normal(&rng);
                    deep_tape t;
                    CHECK_OK(deep_tape_init(&t, &c, 8));
                    CHECK(deep_tape_bytes(&c, 8) >= 8 * sizeof(double), "bytes");
                    deep_tape_forward(&t, &c, th, X, n, f);
                    deep_tape_backward(&t, &c, th, n, r);
                    double worst = 0.0, worst_g = 0.0, margin = INFINITY;
                    for (size_t i = 0; i < n; i++) {
                        ref_t R;
                        ref_run(&c, th, X + i * c.d, &R);
                        margin = fmin(margin, R.hmargin);
                        worst = fmax(worst, fabs(f[i] - R.f) / (2 * C_ROUND * R.ef));
                        worst = fmax(worst, fabs(f[i] - c.alpha * t.H[L + 1][i]) / (EPS * fabs(f[i]) + 1e-300));
                        for (size_t l = 1; l <= L; l++)
                            for (size_t j = 0; j < R.m[l]; j++) {
                                size_t q = i * R.m[l] + j;
                                worst = fmax(worst, fabs(t.H[l][q] - R.h[l][j]) / (2 * C_ROUND * R.eh[l][j] + 1e-300));
                                CHECK(t.A[l][q] == ntk_act_phi(c.act, t.H[l][q]) &&
                                          t.D[l][q] == ntk_act_dphi(c.act, t.H[l][q]),
                                      "%s L=%zu: A, D are phi, phi' of H", nm, L);
                            }
                        for (size_t l = 1; l <= L + 1; l++)
                            for (size_t j = 0; j < R.m[l]; j++) {
                                double g = t.G[l][i * R.m[l] + j];
                                worst_g = fmax(worst_g, fabs(g - r[i] * R.dl[l][j]) /
                                                            (2 * C_ROUND * fabs(r[i]) * R.edl[l][j] + 1e-300));
                            }
                    }
                    CHECK(!pl || margin > 10.0, "%s L=%zu: a pre-activation within 10 rounding "
                          "bounds of the kink (%g)", nm, L, margin);
                    CHECK_LE(worst, 1.0, "%s %s bias=%d L=%zu: tape H and f against the reference "
                             "(ratio to the bound)", nm, ntk_param_name(c.parameterization), bias, L);
                    CHECK_LE(worst_g, 1.0, "%s %s bias=%d L=%zu: tape G against the reference",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    /* the tape's per-row Jacobian (seed 1) against FD of f_i */
                    deep_tape_backward(&t, &c, th, n, NULL);
                    fd_ctx x = {.c = &c, .X = X, .n = n};
                    double e0, sharp = 0.0, gmax = 0.0;
                    for (size_t i = 0; i < n; i++) {
                        x.i = i;
                        x.have_pat = 0;
                        tape_f(&x, th, &e0);
                        x.have_pat = 1;
                        ref_t R;
                        ref_run(&c, th, X + i * c.d, &R);
                        ref_jac(&c, &R, J, eJ);
                        double ratio = 0.0;
                        for (size_t l = 1; l <= L + 1; l++) {
                            size_t nW, nb, off = ntk_net_layer_offset(&c, l, &nW, &nb);
                            size_t mo = R.m[l], mi = R.m[l - 1];
                            double kap = ntk_net_weight_factor(&c, l);
                            const double *Ain = l == 1 ? X + i * c.d : t.A[l - 1] + i * mi;
                            for (size_t j = 0; j < mo; j++) {
                                double g = t.G[l][i * mo + j];
                                for (size_t k = 0; k <= mi; k++) {
                                    if (k == mi && !nb) break;
                                    size_t p = k < mi ? off + j * mi + k : off + nW + j;
                                    double tg = k < mi ? kap * g * Ain[k] : ntk_net_bias_factor(&c) * g;
                                    fd_result fd = fd_coord(tape_f, &x, th, p, pl ? 1e-3 : 1e-4, pl);
                                    double tol = fd.tol + 2 * C_ROUND * eJ[p];
                                    ratio = fmax(ratio, fabs(tg - fd.D) / tol);
                                    sharp = fmax(sharp, tol);
                                    gmax = fmax(gmax, fabs(J[p]));
                                }
                            }
                        }
                        CHECK(!x.crossed, "%s L=%zu: FD crossed a kink", nm, L);
                        CHECK_LE(ratio, 1.0, "%s %s bias=%d L=%zu row %zu: tape gradient against FD",
                                 nm, ntk_param_name(c.parameterization), bias, L, i);
                    }
                    CHECK_LE(sharp, 1e-5 * gmax, "%s L=%zu: FD tolerance sharp", nm, L);
                    deep_tape_free(&t);
                }
    ntk_net_config c = mk_cfg(3, NTK_ACT_TANH, NTK_PARAM_NTK, 0.0);
    CHECK(deep_block_rows(&c, 1000, 1) == 1, "at least one row");
    size_t rows = deep_block_rows(&c, 1000, 100 * deep_tape_bytes(&c, 1));
    CHECK(rows == 100, "100 rows in a budget of 100 rows' bytes (%zu)", rows);
    CHECK(deep_block_rows(&c, 7, (size_t)1 << 30) == 7, "never more rows than points");
}

/* ---- the loss and its gradient ------------------------------------------- */

typedef struct {
    const ntk_net_config *c;
    const double *X, *y, *f0;
    size_t n;
    ntk_loss_kind loss;
    fd_ctx *pat;
} loss_ctx;

/* L = c/2 Σ e_i², e_i = f_i − f0_i − y_i; rounding: c Σ|e_i|·e_f(x_i) (the
 * outputs) + (n + 3)ε·L (the sum of squares) */
static double loss_bound(const loss_ctx *x, const double *th, double *Lref)
{
    double c = ntk_loss_scale(x->loss, x->n), L = 0.0, e = 0.0;
    for (size_t i = 0; i < x->n; i++) {
        ref_t r;
        ref_run(x->c, th, x->X + i * x->c->d, &r);
        if (x->pat) pattern_check(x->pat, i, &r);
        double ei = r.f - (x->f0 ? x->f0[i] : 0.0) - x->y[i];
        L += 0.5 * c * ei * ei;
        e += c * fabs(ei) * r.ef;
    }
    if (Lref) *Lref = L;
    return e + (double)(x->n + 3) * EPS * L;
}

static double loss_fn(void *vctx, const double *th, double *err)
{
    loss_ctx *x = vctx;
    ntk_batch b = {x->X, x->y, x->n, x->loss, x->f0};
    double L = NAN;
    ntk_loss_grad_theta(x->c, th, &b, &L, NULL, NULL);
    *err = loss_bound(x, th, NULL);
    return L;
}

/* ntk_loss_grad_theta: the loss and outputs against the reference, the
 * gradient against the reference c Σ_i e_i J_i (rounding: c Σ_i (|e_i| eJ_i +
 * |J_i| e_f,i) + (n + 2)ε c Σ|e_i J_i|) and against central differences of
 * the library's own loss, for every activation × parameterisation × bias on
 * and off × depth 1..3 × loss form, centred (f0 given) or not. */
static void test_loss_grad(void)
{
    const size_t n = 6;
    for (size_t a = 0; a < NACTS; a++)
        for (int par = 0; par < 2; par++)
            for (int bias = 0; bias < 2; bias++)
                for (size_t L = 1; L <= 3; L++) {
                    ntk_net_config c = mk_cfg(L, all_acts[a], (ntk_param_kind)par, bias ? 0.4 : 0.0);
                    const char *nm = ntk_act_name(c.act.kind);
                    int pl = ntk_act_piecewise_linear(c.act);
                    size_t P = ntk_net_nparams(&c);
                    double th[256], X[16 * 3], y[16], f0[16], f[16], g[256], gr[256];
                    double J[256], eJ[256], eg[256];
                    draw_theta(&c, th, 400 + L + 10 * a);
                    draw_points(&c, th, n, X, 500 + L, 0.05);
                    ntk_rng rng;
                    ntk_rng_seed(&rng, 600 + a);
                    for (size_t i = 0; i < n; i++) y[i] = ntk_rng_normal(&rng), f0[i] = 0.3 * ntk_rng_normal(&rng);
                    int centred = (a + L + (size_t)bias) % 2;
                    ntk_loss_kind lk = par ? NTK_LOSS_SUM : NTK_LOSS_MEAN;
                    ntk_batch b = {X, y, n, lk, centred ? f0 : NULL};
                    double Lv;
                    CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &Lv, g, f));
                    double cs = ntk_loss_scale(lk, n);
                    memset(gr, 0, sizeof gr);
                    memset(eg, 0, sizeof eg);
                    double worst_f = 0.0, margin = INFINITY;
                    for (size_t i = 0; i < n; i++) {
                        ref_t R;
                        ref_run(&c, th, X + i * c.d, &R);
                        margin = fmin(margin, R.hmargin);
                        double ei = R.f - (centred ? f0[i] : 0.0) - y[i];
                        worst_f = fmax(worst_f, fabs(f[i] - (R.f - (centred ? f0[i] : 0.0))) /
                                                    (2 * C_ROUND * (R.ef + EPS * fabs(f[i]))));
                        ref_jac(&c, &R, J, eJ);
                        for (size_t k = 0; k < P; k++) {
                            gr[k] += cs * ei * J[k];
                            eg[k] += cs * (fabs(ei) * eJ[k] + fabs(J[k]) * R.ef +
                                           (double)(n + 2) * EPS * fabs(ei * J[k]));
                        }
                    }
                    loss_ctx lc = {&c, X, y, centred ? f0 : NULL, n, lk, NULL};
                    double Lref, eL = loss_bound(&lc, th, &Lref);
                    CHECK(!pl || margin > 10.0, "%s L=%zu: kink margin %g", nm, L, margin);
                    CHECK_LE(worst_f, 1.0, "%s %s bias=%d L=%zu: outputs f against the reference",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    CHECK_LE(fabs(Lv - Lref), 2 * C_ROUND * eL, "%s %s bias=%d L=%zu: loss", nm,
                             ntk_param_name(c.parameterization), bias, L);
                    double worst = 0.0;
                    for (size_t k = 0; k < P; k++)
                        worst = fmax(worst, fabs(g[k] - gr[k]) / (2 * C_ROUND * eg[k] + 1e-300));
                    CHECK_LE(worst, 1.0, "%s %s bias=%d L=%zu: gradient against the reference",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    /* central differences of the loss */
                    fd_ctx pc = {.c = &c, .X = X, .n = n};
                    lc.pat = &pc;
                    loss_bound(&lc, th, NULL);
                    pc.have_pat = 1;
                    double ratio = 0.0, sharp = 0.0, gmax = 0.0;
                    for (size_t k = 0; k < P; k++) {
                        fd_result fd = fd_coord(loss_fn, &lc, th, k, pl ? 1e-3 : 1e-4, pl);
                        double tol = fd.tol + 2 * C_ROUND * eg[k];
                        ratio = fmax(ratio, fabs(g[k] - fd.D) / tol);
                        sharp = fmax(sharp, tol);
                        gmax = fmax(gmax, fabs(g[k]));
                    }
                    CHECK(!pc.crossed, "%s L=%zu: FD crossed a kink", nm, L);
                    CHECK_LE(ratio, 1.0, "%s %s bias=%d L=%zu: gradient against central differences",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    CHECK_LE(sharp, 1e-5 * gmax, "%s L=%zu: FD tolerance sharp", nm, L);
                    /* NULL outputs: the same loss, bit for bit */
                    double L2v, g2[256];
                    CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &L2v, g2, NULL));
                    CHECK(L2v == Lv && memcmp(g2, g, P * sizeof(double)) == 0,
                          "%s L=%zu: f NULL changes nothing", nm, L);
                }
}

/* ---- the Jacobian's products ------------------------------------------- */

/* ntk_net_jvp and ntk_net_vjp against the explicit reference Jacobian (rows
 * from ref_jac), against each other through ⟨J dθ, r⟩ = ⟨dθ, Jᵀ r⟩, and
 * J dθ against a central difference of ntk_forward_theta along dθ. The
 * rounding of J dθ: Σ_k (eJ_k|dθ_k| + (P + 2)ε|J_k dθ_k|) per row; of Jᵀr:
 * Σ_i (eJ_i|r_i| + (n + 2)ε|J_i r_i|) per entry; the adjoint identity holds
 * to the sum of both sides' bounds weighted by |r| and |dθ| plus (n + P)ε
 * times Σ|r_i J_ik dθ_k|. */
static void test_jvp_vjp(void)
{
    const size_t n = 7;
    for (size_t a = 0; a < NACTS; a++)
        for (int par = 0; par < 2; par++)
            for (int bias = 0; bias < 2; bias++)
                for (size_t L = 1; L <= 3; L++) {
                    ntk_net_config c = mk_cfg(L, all_acts[a], (ntk_param_kind)par, bias ? 0.25 : 0.0);
                    const char *nm = ntk_act_name(c.act.kind);
                    int pl = ntk_act_piecewise_linear(c.act);
                    size_t P = ntk_net_nparams(&c);
                    double th[256], dth[256], X[16 * 3], r[16], jv[16], vj[256];
                    double J[16][256], eJ[16][256];
                    draw_theta(&c, th, 700 + L);
                    draw_points(&c, th, n, X, 800 + L + a, 0.05);
                    ntk_rng rng;
                    ntk_rng_seed(&rng, 900 + a);
                    ntk_rng_normal_fill(&rng, dth, P);
                    ntk_rng_normal_fill(&rng, r, n);
                    CHECK_OK(ntk_net_jvp(&c, th, X, n, dth, jv));
                    CHECK_OK(ntk_net_vjp(&c, th, X, n, r, vj));
                    double wj = 0.0, wv = 0.0, lhs = 0.0, rhs = 0.0, eadj = 0.0, margin = INFINITY;
                    for (size_t i = 0; i < n; i++) {
                        ref_t R;
                        ref_run(&c, th, X + i * c.d, &R);
                        margin = fmin(margin, R.hmargin);
                        ref_jac(&c, &R, J[i], eJ[i]);
                        double s = 0.0, e = 0.0, sa = 0.0;
                        for (size_t k = 0; k < P; k++) {
                            s += J[i][k] * dth[k];
                            sa += fabs(J[i][k] * dth[k]);
                            e += eJ[i][k] * fabs(dth[k]);
                        }
                        e += (double)(P + 2) * EPS * sa;
                        wj = fmax(wj, fabs(jv[i] - s) / (2 * C_ROUND * e));
                        lhs += jv[i] * r[i];
                        eadj += fabs(r[i]) * (C_ROUND * e + (double)(n + P) * EPS * sa);
                    }
                    for (size_t k = 0; k < P; k++) {
                        double s = 0.0, e = 0.0, sa = 0.0;
                        for (size_t i = 0; i < n; i++) {
                            s += J[i][k] * r[i];
                            sa += fabs(J[i][k] * r[i]);
                            e += eJ[i][k] * fabs(r[i]);
                        }
                        e += (double)(n + 2) * EPS * sa;
                        wv = fmax(wv, fabs(vj[k] - s) / (2 * C_ROUND * e + 1e-300));
                        rhs += vj[k] * dth[k];
                        eadj += fabs(dth[k]) * C_ROUND * e;
                    }
                    CHECK(!pl || margin > 10.0, "%s L=%zu: kink margin %g", nm, L, margin);
                    CHECK_LE(wj, 1.0, "%s %s bias=%d L=%zu: J dtheta against the explicit Jacobian",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    CHECK_LE(wv, 1.0, "%s %s bias=%d L=%zu: J^T r against the explicit Jacobian",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    CHECK_LE(fabs(lhs - rhs), eadj, "%s %s bias=%d L=%zu: <J dtheta, r> = <dtheta, J^T r>",
                             nm, ntk_param_name(c.parameterization), bias, L);
                    /* J dθ against central differences of f along dθ: step
                     * t and 2t, the same tolerance rule as fd_coord */
                    double t = 1e-4, tp[256], fs[4][16], ef[4][16];
                    const double mult[4] = {1, -1, 2, -2};
                    int crossed = 0;
                    for (int q = 0; q < 4; q++) {
                        for (size_t k = 0; k < P; k++) tp[k] = th[k] + mult[q] * t * dth[k];
                        CHECK_OK(ntk_forward_theta(&c, tp, X, n, fs[q]));
                        for (size_t i = 0; i < n; i++) {
                            ref_t R;
                            ref_run(&c, tp, X + i * c.d, &R);
                            ef[q][i] = R.ef;
                            ref_t R0;
                            ref_run(&c, th, X + i * c.d, &R0);
                            for (size_t l = 1; l <= L; l++)
                                for (size_t j = 0; j < R.m[l]; j++)
                                    if ((R.h[l][j] > 0) != (R0.h[l][j] > 0)) crossed = 1;
                        }
                    }
                    double ratio = 0.0;
                    for (size_t i = 0; i < n; i++) {
                        /* θ ± t dθ are rounded: their difference is 2t dθ to (2ε|θ|) */
                        double D1 = (fs[0][i] - fs[1][i]) / (2 * t), D2 = (fs[2][i] - fs[3][i]) / (4 * t);
                        double r1 = C_ROUND * (ef[0][i] + ef[1][i]) / (2 * t);
                        double r2 = C_ROUND * (ef[2][i] + ef[3][i]) / (4 * t);
                        double sth = 0.0;
                        for (size_t k = 0; k < P; k++) sth += fabs(J[i][k]) * 2 * EPS * fabs(th[k]);
                        /* f is a polynomial of degree L + 1 in t at a fixed
                         * pattern, not affine: the step-doubling rule throughout */
                        double tol = fabs(D1 - D2) + 2 * (r1 + r2) + sth / t +
                                     2 * C_ROUND * EPS * (double)(P + 2) * fabs(jv[i]) + 1e-300;
                        for (size_t k = 0; k < P; k++) tol += 2 * C_ROUND * eJ[i][k] * fabs(dth[k]);
                        ratio = fmax(ratio, fabs(jv[i] - D1) / tol);
                    }
                    CHECK(!pl || !crossed, "%s L=%zu: FD along dtheta crossed a kink", nm, L);
                    CHECK_LE(ratio, 1.0, "%s %s bias=%d L=%zu: J dtheta against central differences",
                             nm, ntk_param_name(c.parameterization), bias, L);
                }
}

/* Many points (more than one row block of src/deep.c's 16 MiB tapes): the
 * blocks' sums against the reference, for the VJP, the loss gradient and the
 * JVP, with the bounds of test_jvp_vjp. */
static void test_many_blocks(void)
{
    ntk_net_config c = mk_cfg(3, NTK_ACT_TANH, NTK_PARAM_NTK, 0.3);
    size_t n = 100000, P = ntk_net_nparams(&c);
    CHECK(deep_block_rows(&c, n, (size_t)16 << 20) < n, "more than one block (%zu rows)",
          deep_block_rows(&c, n, (size_t)16 << 20));
    double *X = malloc(n * c.d * sizeof(double)), *r = malloc(n * sizeof(double));
    double *jv = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double th[256], dth[256], vj[256], gr[256], eg[256], g[256], J[256], eJ[256];
    draw_theta(&c, th, 31);
    ntk_rng rng;
    ntk_rng_seed(&rng, 32);
    ntk_rng_normal_fill(&rng, X, n * c.d);
    ntk_rng_normal_fill(&rng, r, n);
    ntk_rng_normal_fill(&rng, dth, P);
    for (size_t i = 0; i < n; i++) y[i] = r[i];
    CHECK_OK(ntk_net_vjp(&c, th, X, n, r, vj));
    CHECK_OK(ntk_net_jvp(&c, th, X, n, dth, jv));
    ntk_batch b = {X, y, n, NTK_LOSS_MEAN, NULL};
    double Lv;
    CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &Lv, g, NULL));
    memset(gr, 0, sizeof gr);
    memset(eg, 0, sizeof eg);
    double wj = 0.0, cs = 1.0 / (double)n, gl[256] = {0}, egl[256] = {0};
    for (size_t i = 0; i < n; i++) {
        ref_t R;
        ref_run(&c, th, X + i * c.d, &R);
        ref_jac(&c, &R, J, eJ);
        double s = 0.0, e = 0.0, sa = 0.0, ei = R.f - y[i];
        for (size_t k = 0; k < P; k++) {
            s += J[k] * dth[k], sa += fabs(J[k] * dth[k]), e += eJ[k] * fabs(dth[k]);
            gr[k] += J[k] * r[i];
            eg[k] += eJ[k] * fabs(r[i]) + (double)(n + 2) * EPS * fabs(J[k] * r[i]);
            gl[k] += cs * ei * J[k];
            egl[k] += cs * (fabs(ei) * eJ[k] + fabs(J[k]) * R.ef + (double)(n + 2) * EPS * fabs(ei * J[k]));
        }
        wj = fmax(wj, fabs(jv[i] - s) / (2 * C_ROUND * (e + (double)(P + 2) * EPS * sa)));
    }
    double wv = 0.0, wg = 0.0;
    for (size_t k = 0; k < P; k++) {
        wv = fmax(wv, fabs(vj[k] - gr[k]) / (2 * C_ROUND * eg[k]));
        wg = fmax(wg, fabs(g[k] - gl[k]) / (2 * C_ROUND * egl[k]));
    }
    CHECK_LE(wj, 1.0, "many blocks: J dtheta");
    CHECK_LE(wv, 1.0, "many blocks: J^T r");
    CHECK_LE(wg, 1.0, "many blocks: loss gradient");
    free(X), free(r), free(jv), free(y);
}

/* ---- the two-layer network as the case L = 1 ----------------------------- */

/* |f_a − f_b| within C_ROUND(e_a + e_b) at every point, the reference's
 * rounding bounds of the two computations (each configuration's own). */
static double f_gap(const ntk_net_config *ca, const double *tha, const double *fa,
                    const ntk_net_config *cb, const double *thb, const double *fb,
                    const double *X, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        ref_t ra, rb;
        ref_run(ca, tha, X + i * ca->d, &ra);
        ref_run(cb, thb, X + i * cb->d, &rb);
        worst = fmax(worst, fabs(fa[i] - fb[i]) / (C_ROUND * (ra.ef + rb.ef)));
    }
    return worst;
}

/* The two-layer configuration through the θ functions is ntk_init_weights,
 * ntk_forward and ntk_loss_grad bit for bit; the same network in a deep
 * configuration (the standard parameterisation, or a width given in
 * widths[0] that differs from m) draws the same numbers (scaled by σ_w c_l
 * in the standard one, exactly one multiplication) and gives ntk_forward's
 * outputs to rounding; JVP and VJP of the two-layer configuration against
 * the explicit Jacobian. */
static void test_two_layer(void)
{
    const size_t n = 9, d = 4, m = 6, md = d * m, P = md + m;
    for (size_t a = 0; a < NACTS; a++)
        for (int init = 0; init <= NTK_INIT_SYMMETRIC; init++) {
            ntk_net_config c = ntk_net_config_default(d, m);
            c.act = mk_act(all_acts[a]);
            c.init = (ntk_init_kind)init;
            c.alpha = 1.3;
            c.seed = 9 + a;
            const char *nm = ntk_act_name(c.act.kind);
            CHECK(!ntk_net_is_deep(&c) && ntk_net_nparams(&c) == P, "two-layer P");
            double W0[64], v0[8], th[64], X[9 * 4], y[9], f1[9], f2[9], f3[9];
            CHECK_OK(ntk_init_weights(&c, W0, v0));
            CHECK_OK(ntk_init_theta(&c, th));
            CHECK(memcmp(th, W0, md * sizeof(double)) == 0 &&
                      memcmp(th + md, v0, m * sizeof(double)) == 0,
                  "%s init %d: ntk_init_theta = [W0, v0]", nm, init);
            ntk_rng rng;
            ntk_rng_seed(&rng, 77);
            ntk_rng_normal_fill(&rng, X, n * d);
            ntk_rng_normal_fill(&rng, y, n);
            CHECK_OK(ntk_forward(&c, W0, v0, X, n, f1));
            CHECK_OK(ntk_forward_theta(&c, th, X, n, f2));
            CHECK(memcmp(f1, f2, sizeof f1) == 0, "%s: ntk_forward_theta = ntk_forward bit for bit", nm);
            double gW[64], gv[8], g[64], La, Lb, fa[9], fb[9];
            CHECK_OK(ntk_loss_grad_args(&c, W0, v0, X, y, n, NTK_LOSS_MEAN, f1, &La, gW, gv, fa));
            ntk_batch b = {X, y, n, NTK_LOSS_MEAN, f1};
            CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &Lb, g, fb));
            CHECK(La == Lb && memcmp(g, gW, md * sizeof(double)) == 0 &&
                      memcmp(g + md, gv, m * sizeof(double)) == 0 && memcmp(fa, fb, sizeof fa) == 0,
                  "%s: ntk_loss_grad_theta = ntk_loss_grad bit for bit", nm);
            /* widths[0] = m is still the two-layer network */
            ntk_net_config w = c;
            w.widths[0] = m;
            CHECK(!ntk_net_is_deep(&w), "widths[0] = m is two-layer");
            CHECK_OK(ntk_forward_theta(&w, th, X, n, f3));
            CHECK(memcmp(f1, f3, sizeof f1) == 0, "%s: widths[0] = m bit for bit", nm);
            /* the standard parameterisation at L = 1, σ_w = 1: a deep configuration */
            ntk_net_config st = c;
            st.parameterization = NTK_PARAM_STANDARD;
            CHECK(ntk_net_is_deep(&st), "standard is deep");
            double ths[64];
            CHECK_OK(ntk_init_theta(&st, ths));
            int same = 1;
            for (size_t k = 0; k < P; k++)
                same &= ths[k] == th[k] * ntk_net_weight_factor(&c, k < md ? 1 : 2);
            CHECK(same, "%s init %d: standard init = the two-layer draw times sigma_w c_l", nm, init);
            CHECK_OK(ntk_forward_theta(&st, ths, X, n, f3));
            CHECK_LE(f_gap(&c, th, f1, &st, ths, f3, X, n), 1.0,
                     "%s init %d: standard L = 1 against ntk_forward", nm, init);
            /* widths[0] ≠ m: a deep configuration of width widths[0] */
            ntk_net_config wide = c, narrow = c;
            wide.m = m + 3;
            wide.widths[0] = m;
            CHECK(ntk_net_is_deep(&wide) && ntk_net_nparams(&wide) == P, "widths[0] != m is deep");
            CHECK_OK(ntk_init_theta(&wide, ths));
            CHECK(memcmp(ths, th, P * sizeof(double)) == 0, "%s init %d: deep L = 1 draw", nm, init);
            CHECK_OK(ntk_forward_theta(&wide, ths, X, n, f3));
            CHECK_LE(f_gap(&narrow, th, f1, &wide, ths, f3, X, n), 1.0,
                     "%s init %d: deep L = 1 against ntk_forward", nm, init);
            /* JVP, VJP of the two-layer configuration against the reference */
            if (init != NTK_INIT_GAUSSIAN) continue;
            double dth[64], jv[9], vj[64], J[64], eJ[64], gr[64] = {0}, eg[64] = {0}, wj = 0.0, wv = 0.0;
            ntk_rng_normal_fill(&rng, dth, P);
            CHECK_OK(ntk_net_jvp(&c, th, X, n, dth, jv));
            CHECK_OK(ntk_net_vjp(&c, th, X, n, y, vj));
            int pl = ntk_act_piecewise_linear(c.act);
            double margin = INFINITY;
            for (size_t i = 0; i < n; i++) {
                ref_t R;
                ref_run(&c, th, X + i * d, &R);
                margin = fmin(margin, R.hmargin);
                ref_jac(&c, &R, J, eJ);
                double s = 0.0, e = 0.0, sa = 0.0;
                for (size_t k = 0; k < P; k++) {
                    s += J[k] * dth[k], sa += fabs(J[k] * dth[k]), e += eJ[k] * fabs(dth[k]);
                    gr[k] += J[k] * y[i];
                    eg[k] += eJ[k] * fabs(y[i]) + (double)(n + 2) * EPS * fabs(J[k] * y[i]);
                }
                wj = fmax(wj, fabs(jv[i] - s) / (2 * C_ROUND * (e + (double)(P + 2) * EPS * sa)));
            }
            for (size_t k = 0; k < P; k++) wv = fmax(wv, fabs(vj[k] - gr[k]) / (2 * C_ROUND * eg[k]));
            if (!pl || margin > 10.0) {
                CHECK_LE(wj, 1.0, "%s: two-layer J dtheta", nm);
                CHECK_LE(wv, 1.0, "%s: two-layer J^T r", nm);
            }
        }
}

/* ntk_init_theta at depth: the draw order (gaussian: θ0 is one normal
 * stream in θ's layout), sign and symmetric initialisations, the standard
 * parameterisation's θ0 = the NTK one times σ_w c_l (σ_b for biases)
 * exactly and the same function at initialisation (to rounding: the bounds
 * of both computations, which include the one rounding of each scaled
 * weight), the symmetric network's f(x; θ0) = 0. */
static void test_init(void)
{
    const size_t n = 8;
    for (size_t L = 1; L <= 3; L++)
        for (int bias = 0; bias < 2; bias++)
            for (int init = 0; init <= NTK_INIT_SYMMETRIC; init++)
                for (size_t a = 0; a < NACTS; a += 2) {
                    ntk_net_config c = mk_cfg(L, all_acts[a], NTK_PARAM_NTK, bias ? 0.5 : 0.0);
                    c.init = (ntk_init_kind)init;
                    if (init == NTK_INIT_SYMMETRIC && c.widths[L - 1] % 2) {
                        ntk_net_config odd = c;
                        CHECK_ERR(ntk_init_theta(&odd, NULL), NTK_ERR_ARG);
                        CHECK(strstr(ntk_errmsg(), "even") != NULL, "odd width: %s", ntk_errmsg());
                        c.widths[L - 1] += 1;
                    }
                    ntk_net_config s = c;
                    s.parameterization = NTK_PARAM_STANDARD;
                    size_t P = ntk_net_nparams(&c), oL1 = ntk_net_layer_offset(&c, L + 1, NULL, NULL);
                    double th[256], ths[256], z[256], X[8 * 3], f[8], fs[8];
                    CHECK_OK(ntk_init_theta(&c, th));
                    CHECK_OK(ntk_init_theta(&s, ths));
                    ntk_rng rng;
                    ntk_rng_seed(&rng, c.seed);
                    ntk_rng_normal_fill(&rng, z, P);
                    if (init == NTK_INIT_GAUSSIAN)
                        CHECK(memcmp(z, th, P * sizeof(double)) == 0, "L=%zu: gaussian draw order", L);
                    if (init == NTK_INIT_SIGN) {
                        int ok = memcmp(z, th, oL1 * sizeof(double)) == 0;
                        size_t mL = ntk_net_width(&c, L);
                        for (size_t k = 0; k < mL; k++) ok &= fabs(th[oL1 + k]) == 1.0;
                        CHECK(ok, "L=%zu bias=%d: sign init (hidden layers drawn as gaussian, W_{L+1} = +-1)", L, bias);
                    }
                    if (init == NTK_INIT_SYMMETRIC) {
                        size_t nW, nb, off = ntk_net_layer_offset(&c, L, &nW, &nb);
                        size_t mL = ntk_net_width(&c, L), mi = ntk_net_width(&c, L - 1), h = mL / 2;
                        int ok = memcmp(th + off, th + off + h * mi, h * mi * sizeof(double)) == 0;
                        if (nb) ok &= memcmp(th + off + nW, th + off + nW + h, h * sizeof(double)) == 0;
                        for (size_t k = 0; k < h; k++) ok &= th[oL1 + k] == -th[oL1 + h + k];
                        if (bias) ok &= th[P - 1] == 0.0;
                        CHECK(ok, "L=%zu bias=%d: symmetric pairs", L, bias);
                    }
                    int exact = 1;
                    for (size_t l = 1; l <= L + 1; l++) {
                        size_t nW, nb, off = ntk_net_layer_offset(&c, l, &nW, &nb);
                        double kap = ntk_net_weight_factor(&c, l);
                        for (size_t k = 0; k < nW; k++) exact &= ths[off + k] == th[off + k] * kap;
                        for (size_t k = 0; k < nb; k++) exact &= ths[off + nW + k] == th[off + nW + k] * c.bias_std;
                    }
                    CHECK(exact, "L=%zu bias=%d init=%d: standard theta0 = sigma_w c_l times the NTK one", L, bias, init);
                    ntk_rng_seed(&rng, 40 + L);
                    ntk_rng_normal_fill(&rng, X, n * c.d);
                    CHECK_OK(ntk_forward_theta(&c, th, X, n, f));
                    CHECK_OK(ntk_forward_theta(&s, ths, X, n, fs));
                    CHECK_LE(f_gap(&c, th, f, &s, ths, fs, X, n), 1.0,
                             "%s L=%zu bias=%d init=%d: standard and NTK f at init",
                             ntk_act_name(c.act.kind), L, bias, init);
                    if (init == NTK_INIT_SYMMETRIC) {
                        /* 0 in exact arithmetic; computed, the pairs cancel up
                         * to the rounding of the sums (BLAS lanes need not
                         * pair them) */
                        double worst = 0.0;
                        for (size_t i = 0; i < n; i++) {
                            ref_t R;
                            ref_run(&c, th, X + i * c.d, &R);
                            worst = fmax(worst, fabs(f[i]) / (C_ROUND * R.ef));
                        }
                        CHECK_LE(worst, 1.0, "L=%zu bias=%d: symmetric init f(x; theta0) = 0", L, bias);
                    }
                }
    ntk_net_config c = mk_cfg(2, NTK_ACT_RELU, NTK_PARAM_NTK, 0.0);
    CHECK_ERR(ntk_init_theta(&c, NULL), NTK_ERR_ARG);
    c.seed = 1;
    double t1[256], t2[256];
    CHECK_OK(ntk_init_theta(&c, t1));
    c.seed = 2;
    CHECK_OK(ntk_init_theta(&c, t2));
    CHECK(memcmp(t1, t2, ntk_net_nparams(&c) * sizeof(double)) != 0, "seeds differ");
}

/* The network object at depth: θ, θ0 and the two-layer accessors, predict
 * (centred and not) against ntk_forward_theta, the distances from init
 * against sums written here, and every two-layer-only function refusing a
 * deep network with a message naming its θ counterpart. */
static void test_net_object(void)
{
    ntk_net_config c = mk_cfg(2, NTK_ACT_ERF, NTK_PARAM_NTK, 0.2);
    c.centered = 1;
    size_t P = ntk_net_nparams(&c), n = 10;
    ntk_net *net;
    CHECK_OK(ntk_net_create(&c, &net));
    double th0[256], th[256], X[10 * 3], f[10], fa[10], fb[10];
    CHECK_OK(ntk_init_theta(&c, th0));
    CHECK(memcmp(ntk_net_theta0(net), th0, P * sizeof(double)) == 0 &&
              memcmp(ntk_net_theta(net), th0, P * sizeof(double)) == 0,
          "create: theta = theta0 = ntk_init_theta");
    CHECK(ntk_net_W(net) == ntk_net_theta(net) && ntk_net_W0(net) == ntk_net_theta0(net) &&
              ntk_net_v(net) == NULL && ntk_net_v0(net) == NULL,
          "deep: W, W0 point at theta, theta0; v, v0 NULL");
    ntk_rng rng;
    ntk_rng_seed(&rng, 12);
    ntk_rng_normal_fill(&rng, X, n * c.d);
    CHECK_OK(ntk_net_predict(net, X, n, f));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= f[i] == 0.0;
    CHECK(zero, "centred predictions at init are exactly 0 (the same computation twice)");
    for (size_t k = 0; k < P; k++) th[k] = th0[k] + 0.1 * ntk_rng_normal(&rng);
    CHECK_OK(ntk_net_set_theta(net, th));
    CHECK_OK(ntk_net_predict(net, X, n, f));
    CHECK_OK(ntk_forward_theta(&c, th, X, n, fa));
    CHECK_OK(ntk_forward_theta(&c, th0, X, n, fb));
    int same = 1;
    for (size_t i = 0; i < n; i++) same &= f[i] == fa[i] - fb[i];
    CHECK(same, "centred predict = f(theta) - f(theta0)");
    /* distances from init */
    ntk_weight_dist wd;
    ntk_net_weight_dist(net, &wd);
    double hid = 0.0, out = 0.0, row = 0.0;
    size_t oL1 = ntk_net_layer_offset(&c, 3, NULL, NULL);
    for (size_t k = 0; k < P; k++) {
        double e = th[k] - th0[k];
        if (k < oL1) hid += e * e;
        else out += e * e;
    }
    for (size_t l = 1; l <= 2; l++) {
        size_t off = ntk_net_layer_offset(&c, l, NULL, NULL), mi = ntk_net_width(&c, l - 1);
        for (size_t j = 0; j < ntk_net_width(&c, l); j++) {
            double r2 = 0.0;
            for (size_t k = 0; k < mi; k++) r2 += pow(th[off + j * mi + k] - th0[off + j * mi + k], 2);
            row = fmax(row, r2);
        }
    }
    /* sums of P squares: (P + 2)ε relative */
    double tol = (double)(P + 2) * EPS;
    CHECK_LE(fabs(wd.w_fro - sqrt(hid)), tol * sqrt(hid), "w_fro over the hidden layers");
    CHECK_LE(fabs(wd.v_norm - sqrt(out)), tol * sqrt(out), "v_norm over the output layer");
    CHECK_LE(fabs(wd.theta - sqrt(hid + out)), tol * sqrt(hid + out), "theta");
    CHECK_LE(fabs(wd.w_max_row - sqrt(row)), tol * sqrt(row), "w_max_row over hidden units");
    /* two-layer-only functions refuse */
    CHECK_ERR(ntk_net_set_weights(net, th, th), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "ntk_net_set_theta") != NULL, "message: %s", ntk_errmsg());
    ntk_net *bad = NULL;
    CHECK_ERR(ntk_net_create_from(&c, th, th, &bad), NTK_ERR_ARG);
    CHECK(bad == NULL && strstr(ntk_errmsg(), "ntk_net_create_from_theta") != NULL, "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_forward(&c, th, th, X, n, f), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "ntk_forward_theta") != NULL, "message: %s", ntk_errmsg());
    ntk_batch b = {X, fa, n, NTK_LOSS_MEAN, NULL};
    ntk_loss_out lo = {0, NULL, NULL, NULL};
    CHECK_ERR(ntk_loss_grad(&c, th, th, &b, &lo), NTK_ERR_ARG);
    /* bad θ */
    double nan_th[256];
    memcpy(nan_th, th, P * sizeof(double));
    nan_th[P / 2] = NAN;
    CHECK_ERR(ntk_net_set_theta(net, nan_th), NTK_ERR_NONFINITE);
    CHECK(memcmp(ntk_net_theta(net), th, P * sizeof(double)) == 0, "theta unchanged after a refusal");
    CHECK_ERR(ntk_forward_theta(&c, nan_th, X, n, f), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_net_create_from_theta(&c, nan_th, &bad), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_net_create_from_theta(&c, NULL, &bad), NTK_ERR_ARG);
    CHECK_ERR(ntk_net_jvp(&c, th, X, n, NULL, f), NTK_ERR_ARG);
    CHECK_ERR(ntk_net_vjp(&c, th, X, 0, fa, nan_th), NTK_ERR_ARG);
    CHECK_ERR(ntk_loss_grad_theta(&c, th, NULL, NULL, NULL, NULL), NTK_ERR_ARG);
    ntk_net_free(net);
    /* create_from_theta, uncentred */
    c.centered = 0;
    CHECK_OK(ntk_net_create_from_theta(&c, th0, &net));
    CHECK_OK(ntk_net_set_theta(net, th));
    CHECK_OK(ntk_net_predict(net, X, n, f));
    CHECK(memcmp(f, fa, n * sizeof(double)) == 0, "uncentred predict = ntk_forward_theta");
    CHECK(memcmp(ntk_net_theta0(net), th0, P * sizeof(double)) == 0, "theta0 copied");
    ntk_net_free(net);
    /* the two-layer network: θ = [W, v] in place */
    ntk_net_config t = ntk_net_config_default(3, 4);
    CHECK_OK(ntk_net_create(&t, &net));
    CHECK(ntk_net_theta(net) == ntk_net_W(net) && ntk_net_theta(net) + 12 == ntk_net_v(net) &&
              ntk_net_theta0(net) == ntk_net_W0(net) && ntk_net_theta0(net) + 12 == ntk_net_v0(net),
          "two-layer: theta = [W, v]");
    for (size_t k = 0; k < 16; k++) th[k] = (double)k;
    CHECK_OK(ntk_net_set_theta(net, th));
    CHECK(ntk_net_W(net)[5] == 5.0 && ntk_net_v(net)[1] == 13.0, "set_theta sets W and v");
    ntk_net_free(net);
}

/* ---- the trainer at depth ---------------------------------------------- */

static void test_trainer(void)
{
    ntk_net_config c = mk_cfg(3, NTK_ACT_TANH, NTK_PARAM_NTK, 0.3);
    const size_t n = 24;
    size_t P = ntk_net_nparams(&c);
    double X[24 * 3], y[24];
    ntk_rng rng;
    ntk_rng_seed(&rng, 55);
    ntk_rng_normal_fill(&rng, X, n * c.d);
    for (size_t i = 0; i < n; i++) y[i] = sin(X[i * 3]) + 0.5 * X[i * 3 + 1];
    for (int frozen = 0; frozen <= 4; frozen++) {   /* layer `frozen` at rate 0 (0: none) */
        ntk_net *net;
        CHECK_OK(ntk_net_create(&c, &net));
        ntk_gd_config gd = {.lr1 = 0, .lr2 = 0, .loss = NTK_LOSS_MEAN, .nlr = 4,
                            .lrs = {0.4, 0.3, 0.5, 0.2}};
        if (frozen) gd.lrs[frozen - 1] = 0.0;
        ntk_trainer *tr;
        CHECK_OK(ntk_trainer_create(net, X, y, n, gd, &tr));
        CHECK(ntk_trainer_gW(tr) == NULL && ntk_trainer_gv(tr) == NULL, "gW, gv NULL at depth");
        double th[256], g[256], Lr;
        memcpy(th, ntk_net_theta(net), P * sizeof(double));
        CHECK_OK(ntk_trainer_eval(tr));
        ntk_batch b = {X, y, n, NTK_LOSS_MEAN, NULL};
        CHECK_OK(ntk_loss_grad_theta(&c, th, &b, &Lr, g, NULL));
        const double *tg = ntk_trainer_grad(tr);
        int same = ntk_trainer_loss(tr) == Lr, zero = 1;
        double g2 = 0.0;
        for (size_t l = 1; l <= 4; l++) {
            size_t nW, nb, off = ntk_net_layer_offset(&c, l, &nW, &nb);
            for (size_t k = off; k < off + nW + nb; k++) {
                if ((int)l == frozen)
                    zero &= tg[k] == 0.0;
                else
                    same &= tg[k] == g[k], g2 += g[k] * g[k];
            }
        }
        CHECK(same, "frozen %d: trainer loss and gradient = ntk_loss_grad_theta", frozen);
        CHECK(zero, "frozen %d: the frozen layer's gradient is 0", frozen);
        CHECK_LE(fabs(ntk_trainer_grad_norm(tr) - sqrt(g2)), (double)(P + 2) * EPS * sqrt(g2),
                 "frozen %d: grad_norm over the trained layers", frozen);
        CHECK_OK(ntk_trainer_apply(tr));
        /* one step: θ − η_l ∇L, one rounding of the product and one of the sum */
        const double *tn = ntk_net_theta(net);
        double worst = 0.0;
        int kept = 1;
        for (size_t l = 1; l <= 4; l++) {
            size_t nW, nb, off = ntk_net_layer_offset(&c, l, &nW, &nb);
            double eta = gd.lrs[l - 1];
            for (size_t k = off; k < off + nW + nb; k++) {
                if (eta == 0.0) {
                    kept &= tn[k] == th[k];
                    continue;
                }
                double want = th[k] - eta * g[k];
                worst = fmax(worst, fabs(tn[k] - want) / (2 * EPS * (fabs(want) + fabs(eta * g[k])) + 1e-300));
            }
        }
        CHECK(kept, "frozen %d: the frozen layer unchanged bit for bit", frozen);
        CHECK_LE(worst, 1.0, "frozen %d: one step = theta - eta grad", frozen);
        /* the loss decreases along the run */
        double prev = ntk_trainer_loss(tr), first = prev;
        int mono = 1;
        for (int it = 0; it < 300; it++) {
            CHECK_OK(ntk_trainer_step(tr));
            mono &= ntk_trainer_loss(tr) <= prev;
            prev = ntk_trainer_loss(tr);
        }
        CHECK(mono, "frozen %d: the loss decreases at every step", frozen);
        CHECK(prev < 0.5 * first, "frozen %d: loss %g -> %g", frozen, first, prev);
        if (frozen) {
            size_t nW, nb, off = ntk_net_layer_offset(&c, (size_t)frozen, &nW, &nb);
            CHECK(memcmp(ntk_net_theta(net) + off, ntk_net_theta0(net) + off, (nW + nb) * sizeof(double)) == 0,
                  "frozen %d: unchanged after 300 steps", frozen);
        }
        ntk_trainer_free(tr);
        ntk_net_free(net);
    }
    /* centred: the predictions at θ0 are 0 */
    ntk_net_config cc = c;
    cc.centered = 1;
    ntk_net *net;
    ntk_trainer *tr;
    CHECK_OK(ntk_net_create(&cc, &net));
    ntk_gd_config gd = {.lr1 = 0.3, .lr2 = 0.2, .loss = NTK_LOSS_SUM};
    CHECK_OK(ntk_trainer_create(net, X, y, n, gd, &tr));
    CHECK_OK(ntk_trainer_eval(tr));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= ntk_trainer_pred(tr)[i] == 0.0;
    CHECK(zero, "centred trainer: predictions at init are 0");
    CHECK_LE(fabs(ntk_trainer_loss(tr) - ntk_loss_value(NTK_LOSS_SUM, ntk_trainer_pred(tr), y, n)),
             (double)(n + 3) * EPS * ntk_trainer_loss(tr), "centred loss");
    ntk_trainer_free(tr);
    /* bad rates */
    ntk_gd_config bad = {.lr1 = 0.1, .lr2 = 0.1, .nlr = 3, .lrs = {0.1, 0.1, 0.1}};
    CHECK_ERR(ntk_trainer_create(net, X, y, n, bad, &tr), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "one rate per layer") != NULL, "message: %s", ntk_errmsg());
    bad.nlr = 4, bad.lrs[3] = -1.0;
    CHECK_ERR(ntk_trainer_create(net, X, y, n, bad, &tr), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "layer 4") != NULL, "message: %s", ntk_errmsg());
    CHECK(ntk_trainer_mem_bytes_cfg(&c, n) > P * sizeof(double), "deep memory estimate");
    ntk_net_free(net);
    /* the two-layer network: nlr = 2 is lr1, lr2 bit for bit; ntk_trainer_grad = [gW, gv] */
    ntk_net_config t = ntk_net_config_default(3, 8);
    CHECK(ntk_trainer_mem_bytes_cfg(&t, n) == ntk_trainer_mem_bytes(n, 3, 8), "two-layer memory");
    ntk_net *na, *nb2;
    CHECK_OK(ntk_net_create(&t, &na));
    CHECK_OK(ntk_net_create(&t, &nb2));
    ntk_gd_config ga = {.lr1 = 0.5, .lr2 = 0.0, .loss = NTK_LOSS_MEAN};
    ntk_gd_config gb = {.lr1 = 9.0, .lr2 = 9.0, .loss = NTK_LOSS_MEAN, .nlr = 2, .lrs = {0.5, 0.0}};
    ntk_trainer *ta, *tb;
    CHECK_OK(ntk_trainer_create(na, X, y, n, ga, &ta));
    CHECK_OK(ntk_trainer_create(nb2, X, y, n, gb, &tb));
    for (int it = 0; it < 5; it++) {
        CHECK_OK(ntk_trainer_step(ta));
        CHECK_OK(ntk_trainer_step(tb));
    }
    CHECK(memcmp(ntk_net_theta(na), ntk_net_theta(nb2), 32 * sizeof(double)) == 0,
          "two-layer: per-layer rates = lr1, lr2 bit for bit");
    CHECK_OK(ntk_trainer_eval(ta));
    const double *tg = ntk_trainer_grad(ta);
    int ok = memcmp(tg, ntk_trainer_gW(ta), 24 * sizeof(double)) == 0;
    for (size_t k = 24; k < 32; k++) ok &= tg[k] == 0.0;
    CHECK(ok && ntk_trainer_gv(ta) == NULL, "two-layer: grad = [gW, 0] with v frozen");
    ntk_trainer_free(ta), ntk_trainer_free(tb);
    ntk_net_free(na), ntk_net_free(nb2);
}

/* Outputs that overflow come back as NTK_ERR_NONFINITE, never as Inf with
 * NTK_OK: α = 1e300 and inputs of 1e10 through an identity network. */
static void test_overflow_refused(void)
{
    ntk_net_config cfg = ntk_net_config_default(3, 4);
    cfg.depth = 2;
    cfg.act.kind = NTK_ACT_IDENTITY;
    cfg.alpha = 1e300;
    size_t P = ntk_net_nparams(&cfg);
    double *th = malloc(P * sizeof(double)), *g = malloc(P * sizeof(double));
    double X[6] = {1e10, 1e10, 1e10, -1e10, 1e10, 1e10}, y[2] = {0, 0}, f[2], r[2] = {1, 1};
    CHECK_OK(ntk_init_theta(&cfg, th));
    CHECK_ERR(ntk_forward_theta(&cfg, th, X, 2, f), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_net_jvp(&cfg, th, X, 2, th, f), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_net_vjp(&cfg, th, X, 2, r, g), NTK_ERR_NONFINITE);
    double loss;
    ntk_batch b = {X, y, 2, NTK_LOSS_MEAN, NULL};
    CHECK_ERR(ntk_loss_grad_theta(&cfg, th, &b, &loss, g, f), NTK_ERR_NONFINITE);
    cfg.alpha = 1.0;   /* the same inputs at α = 1 are finite */
    CHECK_OK(ntk_forward_theta(&cfg, th, X, 2, f));
    free(th), free(g);
}

int main(void)
{
    test_overflow_refused();
    test_tape();
    test_loss_grad();
    test_jvp_vjp();
    test_many_blocks();
    test_two_layer();
    test_init();
    test_net_object();
    test_trainer();
    return t_finish();
}
