/* Network, activations and gradient descent against independent oracles:
 * central finite differences, a plain-loop reference implementation written
 * here, and the symmetric initialisation's f ≡ 0. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"

#include <float.h>
#include <math.h>

static const ntk_act_kind all_acts[] = {NTK_ACT_RELU,    NTK_ACT_LEAKY_RELU, NTK_ACT_ERF,
                                        NTK_ACT_TANH,    NTK_ACT_SIGMOID,    NTK_ACT_SOFTPLUS,
                                        NTK_ACT_GELU,    NTK_ACT_IDENTITY};
#define NACTS (sizeof all_acts / sizeof all_acts[0])

static ntk_act mk_act(ntk_act_kind k)
{
    ntk_act a = {k, k == NTK_ACT_LEAKY_RELU ? 0.2 : 0.0};
    return a;
}

/* ---- Tolerances --------------------------------------------------------
 * f(x) = α/√m Σ_r v_r φ(z_r), z_r = w_r·x/s. Either evaluation (the
 * library's BLAS blocks, the plain loops below) is within
 *   B_f(x) = C_ROUND·ε·|α/√m|·Σ_r |v_r|·((m + 2)|φ(z_r)| + ACT_ULP(1 + |z_r|)
 *            + |φ'(z_r)|(d + 1)Σ_k|w_rk x_k|/s)
 * of the exact value: the m-term sum, the activation's own error (libm's
 * erf, erfc, tanh, exp within a few ulp; ACT_ULP·ε absolutely, relative to
 * 1 + |z| for φ), and the rounding of z. Derivatives of the activations
 * used by the finite-difference bounds: |φ'''| ≤ M3 = 4/√π and
 * |φ''''| ≤ M4 = 4.5 for every activation here (erf's are the largest: 4/√π
 * at 0 and ≈ 4.40). */
#define C_ROUND 4.0
#define ACT_ULP 8.0
#define M3 2.2567583341910251   /* 4/√π */
#define M4 4.5

static double norm_inf(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static double forward_bound(const ntk_net_config *c, const double *W, const double *v,
                            const double *x)
{
    size_t m = c->m, d = c->d;
    double s = ntk_net_config_s(c), acc = 0.0;
    for (size_t r = 0; r < m; r++) {
        double z = 0.0, za = 0.0;
        for (size_t j = 0; j < d; j++) {
            z += W[r * d + j] * x[j];
            za += fabs(W[r * d + j] * x[j]);
        }
        z /= s;
        acc += fabs(v[r]) * ((double)(m + 2) * fabs(ntk_act_phi(c->act, z)) +
                             ACT_ULP * (1.0 + fabs(z)) +
                             fabs(ntk_act_dphi(c->act, z)) * (double)(d + 1) * za / s);
    }
    return C_ROUND * DBL_EPSILON * fabs(c->alpha / sqrt((double)m)) * acc;
}

/* φ' and φ'' against central differences of φ and φ', h = 1e-5: truncation
 * h²/6·|φ'''| (resp. |φ''''|), rounding ACT_ULP·ε·max(1, |φ|)/h of the
 * difference quotient plus ε|x|/h·|φ'| for x ± h, plus the library's
 * ACT_ULP·ε (points avoid the kinks). */
static void test_activation_derivatives(void)
{
    const double pts[] = {-2.3, -0.7, -0.1, 0.3, 1.1, 2.9};
    const double h = 1e-5, eps = DBL_EPSILON;
    for (size_t a = 0; a < NACTS; a++) {
        ntk_act act = mk_act(all_acts[a]);
        for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
            double x = pts[i];
            double fd1 = (ntk_act_phi(act, x + h) - ntk_act_phi(act, x - h)) / (2 * h);
            double fd2 = (ntk_act_dphi(act, x + h) - ntk_act_dphi(act, x - h)) / (2 * h);
            double p = ntk_act_phi(act, x), dp = ntk_act_dphi(act, x), d2p = ntk_act_d2phi(act, x);
            double t1 = h * h / 6.0 * M3 + (ACT_ULP * fmax(1.0, fabs(p)) + fabs(x * dp)) * eps / h +
                        ACT_ULP * eps;
            double t2 = h * h / 6.0 * M4 + (ACT_ULP * fmax(1.0, fabs(dp)) + fabs(x * d2p)) * eps / h +
                        ACT_ULP * eps;
            CHECK_LE(fabs(dp - fd1), t1, "%s phi' at %g", ntk_act_name(act.kind), x);
            CHECK_LE(fabs(d2p - fd2), t2, "%s phi'' at %g", ntk_act_name(act.kind), x);
            double z[1] = {x}, pp[1], dpp[1];
            ntk_act_apply(act, 1, z, pp, dpp);
            CHECK(pp[0] == p && dpp[0] == dp,
                  "%s: ntk_act_apply disagrees with the scalar functions", ntk_act_name(act.kind));
        }
        ntk_act back;
        CHECK_OK(ntk_act_parse(ntk_act_name(act.kind), act.param, &back));
        CHECK(back.kind == act.kind, "parse(name(%d))", (int)act.kind);
    }
    ntk_act bad;
    CHECK_ERR(ntk_act_parse("swish", 0, &bad), NTK_ERR_ARG);
    /* known values, to libm's accuracy (ACT_ULP) */
    ntk_act gelu = mk_act(NTK_ACT_GELU), sp = mk_act(NTK_ACT_SOFTPLUS);
    CHECK_LE(fabs(ntk_act_phi(gelu, 1.0) - 0.8413447460685429), ACT_ULP * eps * 0.85,
             "gelu(1) = Φ(1)");
    CHECK_LE(fabs(ntk_act_phi(sp, 0.0) - log(2.0)), ACT_ULP * eps * log(2.0), "softplus(0)");
    CHECK(ntk_act_phi(sp, 800.0) == 800.0, "softplus(800) = %.17g does not overflow",
          ntk_act_phi(sp, 800.0));
}

/* Independent plain-loop forward: f_i = α/√m Σ_r v_r φ(Σ_j W_rj x_ij / s) */
static void ref_forward(const ntk_net_config *c, const double *W, const double *v,
                        const double *X, size_t n, double *f)
{
    double s = c->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)c->d);
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (size_t r = 0; r < c->m; r++) {
            double z = 0.0;
            for (size_t j = 0; j < c->d; j++) z += W[r * c->d + j] * X[i * c->d + j];
            acc += v[r] * ntk_act_phi(c->act, z / s);
        }
        f[i] = c->alpha / sqrt((double)c->m) * acc;
    }
}

static double loss_at(const ntk_net_config *c, const double *W, const double *v,
                      const double *X, const double *y, size_t n, ntk_loss_kind loss,
                      const double *f0)
{
    double L;
    ntk_loss_grad_args(c, W, v, X, y, n, loss, f0, &L, NULL, NULL, NULL);
    return L;
}

/* Every gradient against central differences, for every activation × init ×
 * loss × input scale × α × centred combination, h = 1e-6. For each weight
 * θ_p the difference quotient is within
 *   h²/6·|∂³L/∂θ_p³| + ε_L/h + ε|θ_p||g_p|/h
 * of the gradient (truncation, the loss's rounding ε_L, the rounding of
 * θ ± h), with L = c/2 Σ r_i², r_i = f_i − y_i:
 *   ∂³L/∂w³ = c Σ_i (3 ∂f_i ∂²f_i + r_i ∂³f_i), ∂^j f/∂w_rk^j = a v_r φ^(j)(z)(x_k/s)^j
 *   (|φ'''| ≤ M3), 0 in v (f is linear in v);
 *   ε_L = c Σ_i |r_i|·B_f(x_i) + C_ROUND·n·ε·L (f0, when centred, is an input);
 * and the library's gradient adds c Σ_i |∂f_i|·(B_f(x_i) + C_ROUND(n + 2)ε|r_i|).
 * The forward pass against ref_forward: within B_f of each side. (A relu argument within h·|x/s| of its kink would
 * break the difference quotient; with Gaussian data that has probability
 * ~m·n·h.) */
static void test_gradients_fd(void)
{
    const size_t n = 5, d = 4, m = 6;
    double X[5 * 4], y[5];
    ntk_rng rng;
    ntk_rng_seed(&rng, 42);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, y, n);
    const double alphas[] = {1.0, 2.5}, h = 1e-6, eps = DBL_EPSILON;
    int combos = 0, bad = 0;
    double worst = 0.0;
    for (size_t a = 0; a < NACTS; a++)
        for (int init = 0; init < 3; init++)
            for (int loss = 0; loss < 2; loss++)
                for (int sc = 0; sc < 2; sc++)
                    for (int ai = 0; ai < 2; ai++)
                        for (int cen = 0; cen < 2; cen++) {
                            ntk_net_config c = ntk_net_config_default(d, m);
                            c.act = mk_act(all_acts[a]);
                            c.init = (ntk_init_kind)init;
                            c.input_scale = (ntk_input_scale)sc;
                            c.alpha = alphas[ai];
                            c.centered = cen;
                            c.seed = 7 + (uint64_t)combos;
                            double W0[6 * 4], v0[6], W[6 * 4], v[6], f0[5];
                            ntk_init_weights(&c, W0, v0);
                            /* move away from θ0 so that the centred residual is not trivial */
                            for (size_t k = 0; k < m * d; k++) W[k] = W0[k] + 0.3 * ntk_rng_normal(&rng);
                            for (size_t k = 0; k < m; k++) v[k] = v0[k] + 0.3 * ntk_rng_normal(&rng);
                            const double *pf0 = NULL;
                            if (cen) {
                                ntk_forward(&c, W0, v0, X, n, f0);
                                pf0 = f0;
                            }
                            double gW[6 * 4], gv[6], L, f[5], fref[5];
                            ntk_status st = ntk_loss_grad_args(&c, W, v, X, y, n, (ntk_loss_kind)loss,
                                                          pf0, &L, gW, gv, f);
                            ref_forward(&c, W, v, X, n, fref);
                            if (cen)
                                for (size_t i = 0; i < n; i++) fref[i] -= f0[i];
                            /* per sample: residual, forward bounds; the loss's ε_L */
                            double s = ntk_net_config_s(&c), ak = c.alpha / sqrt((double)m);
                            double cl = loss ? 1.0 : 1.0 / (double)n, res[5], Bf[5], eL = 0.0;
                            double fratio = 0.0;
                            for (size_t i = 0; i < n; i++) {
                                res[i] = fref[i] - y[i];
                                Bf[i] = forward_bound(&c, W, v, X + i * d);   /* f0 is an input */
                                eL += cl * fabs(res[i]) * Bf[i];
                                double e = fabs(f[i] - fref[i]);
                                fratio = fmax(fratio, e == 0.0 ? 0.0 : e / (2.0 * Bf[i]));
                            }
                            eL += C_ROUND * (double)n * eps * L;
                            double gratio = 0.0;
                            for (size_t k = 0; k < m * d + m; k++) {
                                double *p = k < m * d ? &W[k] : &v[k - m * d];
                                double g = k < m * d ? gW[k] : gv[k - m * d];
                                size_t r = k < m * d ? k / d : k - m * d, j = k % d;
                                double T3 = 0.0, lib = 0.0;
                                for (size_t i = 0; i < n; i++) {
                                    double z = 0.0;
                                    for (size_t q = 0; q < d; q++) z += W[r * d + q] * X[i * d + q];
                                    z /= s;
                                    double df;
                                    if (k < m * d) {
                                        double xs = X[i * d + j] / s, av = ak * v[r];
                                        df = av * ntk_act_dphi(c.act, z) * xs;
                                        double d2f = av * ntk_act_d2phi(c.act, z) * xs * xs;
                                        T3 += cl * (3.0 * fabs(df * d2f) +
                                                    fabs(res[i] * av) * M3 * fabs(xs * xs * xs));
                                    } else {
                                        df = ak * ntk_act_phi(c.act, z);
                                    }
                                    lib += cl * fabs(df) *
                                           (Bf[i] + C_ROUND * (double)(n + 2) * eps * fabs(res[i]));
                                }
                                double old = *p;
                                *p = old + h;
                                double Lp = loss_at(&c, W, v, X, y, n, (ntk_loss_kind)loss, pf0);
                                *p = old - h;
                                double Lm = loss_at(&c, W, v, X, y, n, (ntk_loss_kind)loss, pf0);
                                *p = old;
                                double fd = (Lp - Lm) / (2 * h);
                                double tol = h * h / 6.0 * T3 + eL / h + eps * fabs(old * g) / h + lib;
                                double e = fabs(fd - g);
                                gratio = fmax(gratio, e == 0.0 ? 0.0 : e / tol);
                            }
                            combos++;
                            worst = fmax(worst, fmax(gratio, fratio));
                            if (st != NTK_OK || !(gratio <= 1.0) || !(fratio <= 1.0)) {
                                bad++;
                                fprintf(stderr,
                                        "  %s init=%d loss=%d scale=%d alpha=%g centred=%d: "
                                        "grad error / bound %.3g, forward error / bound %.3g\n",
                                        ntk_act_name(c.act.kind), init, loss, sc, c.alpha, cen,
                                        gratio, fratio);
                            }
                        }
    CHECK(bad == 0, "%d of %d gradient/forward combinations disagree with the oracle", bad, combos);
    CHECK_LE(worst, 1.0, "worst gradient/forward error over its bound");
    CHECK(combos == (int)NACTS * 48, "all %d combinations ran", combos);
}

static void test_symmetric_init(void)
{
    for (size_t a = 0; a < NACTS; a++) {
        ntk_net_config c = ntk_net_config_default(7, 10);
        c.act = mk_act(all_acts[a]);
        c.init = NTK_INIT_SYMMETRIC;
        c.seed = 3;
        ntk_net *net;
        CHECK_OK(ntk_net_create(&c, &net));
        double X[20 * 7], f[20];
        ntk_rng rng;
        ntk_rng_seed(&rng, 11);
        ntk_rng_normal_fill(&rng, X, sizeof X / sizeof X[0]);
        CHECK_OK(ntk_net_predict(net, X, 20, f));
        /* exactly 0; computed, the pairs' terms cancel up to the rounding of
         * the sum and of each pair's z (BLAS lanes), i.e. within B_f */
        double ratio = 0.0;
        for (int i = 0; i < 20; i++) {
            double b = forward_bound(&c, ntk_net_W0(net), ntk_net_v0(net), X + 7 * i);
            ratio = fmax(ratio, f[i] == 0.0 ? 0.0 : fabs(f[i]) / b);
        }
        CHECK_LE(ratio, 1.0, "%s: symmetric init, max |f| / B_f", ntk_act_name(c.act.kind));
        const double *W0 = ntk_net_W0(net), *v0 = ntk_net_v0(net);
        CHECK(memcmp(W0, W0 + 5 * 7, 5 * 7 * sizeof(double)) == 0 && v0[0] == -v0[5],
              "symmetric pairs");
        ntk_net_free(net);
    }
    ntk_net_config c = ntk_net_config_default(3, 5);
    c.init = NTK_INIT_SYMMETRIC;
    ntk_net *net = NULL;
    CHECK_ERR(ntk_net_create(&c, &net), NTK_ERR_ARG);
    CHECK(net == NULL && strstr(ntk_errmsg(), "even") != NULL, "odd width message: %s", ntk_errmsg());
    c = ntk_net_config_default(3, 0);
    CHECK_ERR(ntk_net_create(&c, &net), NTK_ERR_ARG);
    c = ntk_net_config_default(3, 4);
    c.alpha = -1;
    CHECK_ERR(ntk_net_create(&c, &net), NTK_ERR_ARG);
}

static void test_init_kinds_and_seeds(void)
{
    ntk_net_config c = ntk_net_config_default(5, 400);
    c.init = NTK_INIT_SIGN;
    c.seed = 9;
    double W0[400 * 5], v0[400], W1[400 * 5], v1[400];
    CHECK_OK(ntk_init_weights(&c, W0, v0));
    CHECK_OK(ntk_init_weights(&c, W1, v1));
    CHECK(memcmp(W0, W1, sizeof W0) == 0 && memcmp(v0, v1, sizeof v0) == 0, "same seed, same draw");
    int npos = 0, pm = 1;
    for (int r = 0; r < 400; r++) {
        pm &= v0[r] == 1.0 || v0[r] == -1.0;
        npos += v0[r] > 0;
    }
    CHECK(pm, "sign init draws v = ±1");
    /* binomial(400, 1/2): sd 10, so 6 sd is 60 */
    CHECK(abs(npos - 200) < 60, "sign init balanced: %d positive of 400", npos);
    c.seed = 10;
    CHECK_OK(ntk_init_weights(&c, W1, v1));
    CHECK(memcmp(W0, W1, sizeof W0) != 0, "different seed, different draw");
    /* gaussian: sample mean/variance of 2000 draws, 6 standard errors */
    double mean = 0, var = 0;
    for (int k = 0; k < 2000; k++) mean += W0[k];
    mean /= 2000;
    for (int k = 0; k < 2000; k++) var += (W0[k] - mean) * (W0[k] - mean);
    var /= 1999;
    CHECK(fabs(mean) < 6 / sqrt(2000.0) && fabs(var - 1) < 6 * sqrt(2.0 / 2000), "N(0,1): mean %g var %g", mean, var);
}

/* Per-step quantities of ref_gd for the error bound of a trajectory. */
typedef struct {
    double *upd;    /* (steps) max over weights of the rounding of that step's update */
    double *g1;     /* (steps+1) ‖∇L‖₁ */
    double *lerr;   /* (steps+1) the rounding of the loss's evaluation */
} gd_trace;

/* Reference gradient descent in plain loops, written independently of the
 * library's block/BLAS formulation; tr (or NULL) receives the per-step
 * bounds: a gradient entry is an n-sample sum of products built from an
 * m-term f and a d-term z, so its rounding is C_ROUND(n + m + d + ACT_ULP)ε
 * times the sum of its terms' magnitudes; an update adds ε|θ|. */
static void ref_gd(const ntk_net_config *c, double *W, double *v, const double *W0,
                   const double *v0, const double *X, const double *y, size_t n, double lr1,
                   double lr2, int sum_loss, int steps, double *loss_hist, gd_trace *tr)
{
    size_t m = c->m, d = c->d;
    double s = c->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)d);
    double k = c->alpha / sqrt((double)m);
    double cl = sum_loss ? 1.0 : 1.0 / n;
    double gr = C_ROUND * (double)(n + m + d) * DBL_EPSILON + C_ROUND * ACT_ULP * DBL_EPSILON;
    double *gW = calloc(m * d, sizeof(double)), *gv = calloc(m, sizeof(double));
    double *aW = calloc(m * d, sizeof(double)), *av = calloc(m, sizeof(double));
    for (int t = 0; t <= steps; t++) {
        for (size_t q = 0; q < m * d; q++) gW[q] = aW[q] = 0;
        for (size_t r = 0; r < m; r++) gv[r] = av[r] = 0;
        double L = 0, le = 0;
        for (size_t i = 0; i < n; i++) {
            const double *x = X + i * d;
            double f = 0, f0 = 0;
            for (size_t r = 0; r < m; r++) {
                double z = 0, z0 = 0;
                for (size_t j = 0; j < d; j++) {
                    z += W[r * d + j] * x[j] / s;
                    z0 += W0[r * d + j] * x[j] / s;
                }
                f += k * v[r] * ntk_act_phi(c->act, z);
                f0 += k * v0[r] * ntk_act_phi(c->act, z0);
            }
            double bf = forward_bound(c, W, v, x) + (c->centered ? forward_bound(c, W0, v0, x) : 0);
            if (c->centered) f -= f0;
            double res = f - y[i];
            L += 0.5 * cl * res * res;
            le += cl * fabs(res) * bf;
            for (size_t r = 0; r < m; r++) {
                double z = 0;
                for (size_t j = 0; j < d; j++) z += W[r * d + j] * x[j] / s;
                double p = ntk_act_phi(c->act, z), dp = ntk_act_dphi(c->act, z);
                gv[r] += cl * res * k * p;
                av[r] += cl * (fabs(res) + bf) * fabs(k * p);
                for (size_t j = 0; j < d; j++) {
                    gW[r * d + j] += cl * res * k * v[r] * dp * x[j] / s;
                    aW[r * d + j] += cl * (fabs(res) + bf) * fabs(k * v[r] * dp * x[j] / s);
                }
            }
        }
        loss_hist[t] = L;
        if (tr) {
            double g1 = 0;
            for (size_t q = 0; q < m * d; q++) g1 += fabs(gW[q]);
            for (size_t r = 0; r < m; r++) g1 += fabs(gv[r]);
            tr->g1[t] = g1;
            tr->lerr[t] = le + C_ROUND * (double)n * DBL_EPSILON * L;
        }
        if (t == steps) break;
        double u = 0;
        for (size_t q = 0; q < m * d; q++) {
            W[q] -= lr1 * gW[q];
            u = fmax(u, lr1 * gr * aW[q] + DBL_EPSILON * fabs(W[q]));
        }
        for (size_t r = 0; r < m; r++) {
            v[r] -= lr2 * gv[r];
            u = fmax(u, lr2 * gr * av[r] + DBL_EPSILON * fabs(v[r]));
        }
        if (tr) tr->upd[t] = u;
    }
    free(gW), free(gv), free(aW), free(av);
}

/* The library's trainer against ref_gd over 25 steps. Both follow the same
 * map θ ← θ − η∇L(θ) with their own roundings, which later steps carry
 * forward: the weights differ by at most G·Σ_t upd_t, with G the
 * trajectory's amplification of a perturbation of the weights, estimated by
 * running ref_gd again from θ0(1 + 1e-7·ξ), ξ = ±1 (G = max_t ‖Δθ_t‖∞/‖Δθ_0‖∞,
 * at least 1), doubled for the two sides; the loss at step t by
 * ‖∇L‖₁·(weights' bound at t) plus the rounding of its evaluation. */
static void test_gd_trajectory(void)
{
    const size_t n = 9, d = 3, m = 8;
    enum { steps = 25 };
    double X[9 * 3], y[9];
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, y, n);
    struct { ntk_act_kind act; double lr1, lr2; int sum, cen; ntk_input_scale sc; double alpha; } cases[] = {
        {NTK_ACT_ERF, 0.5, 0.2, 0, 0, NTK_SCALE_SQRT_D, 1.0},
        {NTK_ACT_RELU, 0.05, 0.0, 1, 0, NTK_SCALE_ONE, 1.0},
        {NTK_ACT_TANH, 0.0, 0.3, 0, 1, NTK_SCALE_SQRT_D, 2.0},
        {NTK_ACT_GELU, 0.1, 0.1, 1, 1, NTK_SCALE_ONE, 0.5},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        ntk_net_config c = ntk_net_config_default(d, m);
        c.act = mk_act(cases[ci].act);
        c.centered = cases[ci].cen;
        c.input_scale = cases[ci].sc;
        c.alpha = cases[ci].alpha;
        c.seed = 100 + ci;
        ntk_net *net;
        CHECK_OK(ntk_net_create(&c, &net));
        ntk_gd_config gd = {.lr1 = cases[ci].lr1, .lr2 = cases[ci].lr2, .loss = cases[ci].sum ? NTK_LOSS_SUM : NTK_LOSS_MEAN};
        ntk_trainer *tr;
        CHECK_OK(ntk_trainer_create(net, X, y, n, gd, &tr));
        double lib_loss[steps + 1], ref_loss[steps + 1], pert_loss[steps + 1];
        for (int t = 0; t <= steps; t++) {
            CHECK_OK(ntk_trainer_eval(tr));
            lib_loss[t] = ntk_trainer_loss(tr);
            if (t < steps) CHECK_OK(ntk_trainer_apply(tr));
        }
        const double *W0 = ntk_net_W0(net), *v0 = ntk_net_v0(net);
        double W[8 * 3], v[8], Wp[8 * 3], vp[8], upd[steps], g1[steps + 1], lerr[steps + 1];
        gd_trace trace = {upd, g1, lerr};
        memcpy(W, W0, sizeof W);
        memcpy(v, v0, sizeof v);
        ref_gd(&c, W, v, W0, v0, X, y, n, gd.lr1, gd.lr2, cases[ci].sum, steps, ref_loss, &trace);
        /* amplification: the same run from perturbed weights, step by step */
        double G = 1.0, d0 = 0.0;
        memcpy(Wp, W0, sizeof Wp);
        memcpy(vp, v0, sizeof vp);
        for (size_t q = 0; q < m * d; q++) Wp[q] *= 1.0 + ((q & 1) ? 1e-7 : -1e-7);
        for (size_t r = 0; r < m; r++) vp[r] *= 1.0 + ((r & 1) ? -1e-7 : 1e-7);
        for (size_t q = 0; q < m * d; q++) d0 = fmax(d0, fabs(Wp[q] - W0[q]));
        for (size_t r = 0; r < m; r++) d0 = fmax(d0, fabs(vp[r] - v0[r]));
        double Wa[8 * 3], va[8];
        memcpy(Wa, W0, sizeof Wa);
        memcpy(va, v0, sizeof va);
        for (int t = 0; t < steps; t++) {   /* one step at a time, both runs */
            ref_gd(&c, Wa, va, W0, v0, X, y, n, gd.lr1, gd.lr2, cases[ci].sum, 1, pert_loss, NULL);
            ref_gd(&c, Wp, vp, W0, v0, X, y, n, gd.lr1, gd.lr2, cases[ci].sum, 1, pert_loss, NULL);
            double dt = 0.0;
            for (size_t q = 0; q < m * d; q++) dt = fmax(dt, fabs(Wp[q] - Wa[q]));
            for (size_t r = 0; r < m; r++) dt = fmax(dt, fabs(vp[r] - va[r]));
            G = fmax(G, dt / d0);
        }
        double wb = 0.0, lt = 0.0;   /* weights' bound so far; the loss's worst ratio */
        for (int t = 0; t <= steps; t++) {
            double e = fabs(lib_loss[t] - ref_loss[t]), b = g1[t] * wb + 2.0 * lerr[t];
            lt = fmax(lt, e == 0.0 ? 0.0 : e / b);
            if (t < steps) wb += 2.0 * G * upd[t];
        }
        CHECK_LE(lt, 1.0, "case %zu: loss trajectory error / bound (G = %.3g)", ci, G);
        CHECK_LE(t_max_rel_err(ntk_net_W(net), W, m * d), wb / norm_inf(W, m * d),
                 "case %zu: final W (G = %.3g)", ci, G);
        CHECK_LE(t_max_rel_err(ntk_net_v(net), v, m), wb / norm_inf(v, m),
                 "case %zu: final v (G = %.3g)", ci, G);
        CHECK(ref_loss[steps] < ref_loss[0], "case %zu: loss decreased (%g -> %g)", ci, ref_loss[0], ref_loss[steps]);
        if (gd.lr1 == 0) CHECK(memcmp(ntk_net_W(net), ntk_net_W0(net), sizeof W) == 0, "lr1 = 0 freezes W");
        if (gd.lr2 == 0) CHECK(memcmp(ntk_net_v(net), ntk_net_v0(net), sizeof v) == 0, "lr2 = 0 freezes v");
        ntk_trainer_free(tr);
        ntk_net_free(net);
    }
}

/* Many rows: the block loop must give the same result as one block, i.e.
 * the plain loops, within B_f of each side per row; the gradient in v,
 * g_r = Σ_i r_i tanh(z_ir)/(n√m), within the rounding of its n-term sum plus
 * the residuals' bound 2B_f(x_i), weighted by |tanh|/(n√m). */
static void test_blocking(void)
{
    const size_t n = 3000, d = 5, m = 700;  /* blocks of 374 rows */
    double *X = malloc(n * d * sizeof(double)), *y = malloc(n * sizeof(double));
    double *f = malloc(n * sizeof(double)), *fref = malloc(n * sizeof(double));
    double *Bf = malloc(n * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 1);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, y, n);
    ntk_net_config c = ntk_net_config_default(d, m);
    c.act = mk_act(NTK_ACT_TANH);
    ntk_net *net;
    CHECK_OK(ntk_net_create(&c, &net));
    CHECK_OK(ntk_net_predict(net, X, n, f));
    ref_forward(&c, ntk_net_W(net), ntk_net_v(net), X, n, fref);
    double fr = 0.0;
    for (size_t i = 0; i < n; i++) {
        Bf[i] = 2.0 * forward_bound(&c, ntk_net_W(net), ntk_net_v(net), X + i * d);
        double e = fabs(f[i] - fref[i]);
        fr = fmax(fr, e == 0.0 ? 0.0 : e / Bf[i]);
    }
    CHECK_LE(fr, 1.0, "blocked forward error / bound");
    double *gv = malloc(m * sizeof(double)), *gvref = calloc(m, sizeof(double)), L;
    double *gb = calloc(m, sizeof(double));
    CHECK_OK(ntk_loss_grad_args(&c, ntk_net_W(net), ntk_net_v(net), X, y, n, NTK_LOSS_MEAN, NULL, &L, NULL, gv, NULL));
    double s = sqrt((double)d), sc = 1.0 / n / sqrt((double)m);
    double gr = C_ROUND * (double)(n + m + d) * DBL_EPSILON + C_ROUND * ACT_ULP * DBL_EPSILON;
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < m; r++) {
            double z = 0;
            for (size_t j = 0; j < d; j++) z += ntk_net_W(net)[r * d + j] * X[i * d + j] / s;
            double th = tanh(z);
            gvref[r] += (fref[i] - y[i]) * sc * th;
            gb[r] += (gr * fabs(fref[i] - y[i]) + Bf[i]) * sc * fabs(th);
        }
    double gr_ = 0.0;
    for (size_t r = 0; r < m; r++) {
        double e = fabs(gv[r] - gvref[r]);
        gr_ = fmax(gr_, e == 0.0 ? 0.0 : e / gb[r]);
    }
    CHECK_LE(gr_, 1.0, "blocked gradient in v error / bound");
    ntk_net_free(net);
    free(X), free(y), free(f), free(fref), free(gv), free(gvref), free(gb), free(Bf);
}

static void test_bad_input_and_divergence(void)
{
    const size_t n = 6, d = 2, m = 4;
    double X[12], y[6];
    ntk_rng rng;
    ntk_rng_seed(&rng, 2);
    ntk_rng_normal_fill(&rng, X, 12);
    ntk_rng_normal_fill(&rng, y, 6);
    ntk_net_config c = ntk_net_config_default(d, m);
    ntk_net *net;
    CHECK_OK(ntk_net_create(&c, &net));
    ntk_trainer *tr = NULL;
    ntk_gd_config neg = {.lr1 = -0.1, .lr2 = 0.1, .loss = NTK_LOSS_MEAN};
    CHECK_ERR(ntk_trainer_create(net, X, y, n, neg, &tr), NTK_ERR_ARG);
    CHECK(tr == NULL, "no trainer on error");
    ntk_gd_config huge = {.lr1 = 1e6, .lr2 = 1e6, .loss = NTK_LOSS_SUM};
    CHECK_OK(ntk_trainer_create(net, X, y, n, huge, &tr));
    ntk_status st = NTK_OK;
    int k;
    for (k = 0; k < 200 && st == NTK_OK; k++) st = ntk_trainer_step(tr);
    CHECK(st == NTK_ERR_DIVERGED, "huge rate diverges (status %s after %d steps)", ntk_status_name(st), k);
    CHECK(strstr(ntk_errmsg(), "smaller") != NULL, "divergence message suggests a smaller rate: %s", ntk_errmsg());
    ntk_trainer_free(tr);
    double Wbad[8];
    memcpy(Wbad, ntk_net_W(net), sizeof Wbad);
    Wbad[3] = NAN;
    CHECK_ERR(ntk_net_set_weights(net, Wbad, ntk_net_v(net)), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_net_create_from(&c, Wbad, ntk_net_v0(net), &(ntk_net *){NULL}), NTK_ERR_NONFINITE);
    ntk_net_free(net);
    ntk_net_free(NULL);
    ntk_trainer_free(NULL);
    ntk_loss_kind lk;
    CHECK_ERR(ntk_loss_parse("median", &lk), NTK_ERR_ARG);
    ntk_input_scale sc;
    CHECK_ERR(ntk_input_scale_parse("two", &sc), NTK_ERR_ARG);
    CHECK_OK(ntk_input_scale_parse("one", &sc));
    CHECK(sc == NTK_SCALE_ONE, "parse one");
    /* an absurd width is refused before allocating: m·(d+1) past what the
     * BLAS can index is a configuration error */
    ntk_net_config big = ntk_net_config_default(100000, 100000000);
    CHECK_ERR(ntk_net_create(&big, &net), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "BLAS") != NULL, "the message names the BLAS limit");
}

int main(void)
{
    test_activation_derivatives();
    test_gradients_fd();
    test_symmetric_init();
    test_init_kinds_and_seeds();
    test_gd_trajectory();
    test_blocking();
    test_bad_input_and_divergence();
    return t_finish();
}
