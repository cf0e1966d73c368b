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

int main(void)
{
    test_tape();
    return t_finish();
}
