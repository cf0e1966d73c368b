/* Network, activations and gradient descent against independent oracles:
 * central finite differences, a plain-loop reference implementation written
 * here, and the symmetric initialisation's f ≡ 0. */
#include "harness.h"
#include "ntkit.h"

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

/* φ' and φ'' against central differences of φ and φ' (h = 1e-5: truncation
 * ~h²·φ''' ≈ 1e-10, rounding ~1e-16/h ≈ 1e-11; points avoid the kinks). */
static void test_activation_derivatives(void)
{
    const double pts[] = {-2.3, -0.7, -0.1, 0.3, 1.1, 2.9};
    const double h = 1e-5;
    for (size_t a = 0; a < NACTS; a++) {
        ntk_act act = mk_act(all_acts[a]);
        for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
            double x = pts[i];
            double fd1 = (ntk_act_phi(act, x + h) - ntk_act_phi(act, x - h)) / (2 * h);
            double fd2 = (ntk_act_dphi(act, x + h) - ntk_act_dphi(act, x - h)) / (2 * h);
            CHECK_CLOSE(ntk_act_dphi(act, x), fd1, 1e-8, "%s phi' at %g", ntk_act_name(act.kind), x);
            CHECK_CLOSE(ntk_act_d2phi(act, x), fd2, 1e-8, "%s phi'' at %g", ntk_act_name(act.kind), x);
            double z[1] = {x}, p[1], dp[1];
            ntk_act_apply(act, 1, z, p, dp);
            CHECK(p[0] == ntk_act_phi(act, x) && dp[0] == ntk_act_dphi(act, x),
                  "%s: ntk_act_apply disagrees with the scalar functions", ntk_act_name(act.kind));
        }
        ntk_act back;
        CHECK_OK(ntk_act_parse(ntk_act_name(act.kind), act.param, &back));
        CHECK(back.kind == act.kind, "parse(name(%d))", (int)act.kind);
    }
    ntk_act bad;
    CHECK_ERR(ntk_act_parse("swish", 0, &bad), NTK_ERR_ARG);
    /* known values */
    ntk_act gelu = mk_act(NTK_ACT_GELU), sp = mk_act(NTK_ACT_SOFTPLUS);
    CHECK_CLOSE(ntk_act_phi(gelu, 1.0), 0.8413447460685429, 1e-15, "gelu(1) = Φ(1)");
    CHECK_CLOSE(ntk_act_phi(sp, 0.0), log(2.0), 1e-15, "softplus(0)");
    CHECK_CLOSE(ntk_act_phi(sp, 800.0), 800.0, 1e-15, "softplus does not overflow");
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
    ntk_loss_grad(c, W, v, X, y, n, loss, f0, &L, NULL, NULL, NULL);
    return L;
}

/* Every gradient against central differences, for every activation × init ×
 * loss × input scale × α × centred combination. h = 1e-6 on weights of O(1):
 * truncation ~1e-12·L''' and rounding ~1e-16·L/h ≈ 1e-10, so a relative
 * tolerance of 1e-6 on the max-norm leaves ample room yet catches any wrong
 * factor (α, √m, s, 1/n). */
static void test_gradients_fd(void)
{
    const size_t n = 5, d = 4, m = 6;
    double X[5 * 4], y[5];
    ntk_rng rng;
    ntk_rng_seed(&rng, 42);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, y, n);
    const double alphas[] = {1.0, 2.5};
    int combos = 0, bad = 0;
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
                            ntk_status st = ntk_loss_grad(&c, W, v, X, y, n, (ntk_loss_kind)loss,
                                                          pf0, &L, gW, gv, f);
                            ref_forward(&c, W, v, X, n, fref);
                            if (cen)
                                for (size_t i = 0; i < n; i++) fref[i] -= f0[i];
                            double h = 1e-6, maxerr = 0.0, maxg = 1e-300;
                            for (size_t k = 0; k < m * d + m; k++) {
                                double *p = k < m * d ? &W[k] : &v[k - m * d];
                                double g = k < m * d ? gW[k] : gv[k - m * d];
                                double old = *p;
                                *p = old + h;
                                double Lp = loss_at(&c, W, v, X, y, n, (ntk_loss_kind)loss, pf0);
                                *p = old - h;
                                double Lm = loss_at(&c, W, v, X, y, n, (ntk_loss_kind)loss, pf0);
                                *p = old;
                                double fd = (Lp - Lm) / (2 * h);
                                if (fabs(fd - g) > maxerr) maxerr = fabs(fd - g);
                                if (fabs(g) > maxg) maxg = fabs(g);
                            }
                            double ferr = t_max_rel_err(f, fref, n);
                            combos++;
                            if (st != NTK_OK || maxerr / maxg > 1e-6 || ferr > 1e-12) {
                                bad++;
                                fprintf(stderr,
                                        "  %s init=%d loss=%d scale=%d alpha=%g centred=%d: "
                                        "grad rel err %.3g, forward rel err %.3g\n",
                                        ntk_act_name(c.act.kind), init, loss, sc, c.alpha, cen,
                                        maxerr / maxg, ferr);
                            }
                        }
    CHECK(bad == 0, "%d of %d gradient/forward combinations disagree with the oracle", bad, combos);
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
        double mx = 0, fref[20], scale = 0;
        for (int i = 0; i < 20; i++) mx = fmax(mx, fabs(f[i]));
        /* scale of one half: the sum over the first m/2 neurons alone */
        ntk_net_config half = c;
        half.m = 5;
        ref_forward(&half, ntk_net_W0(net), ntk_net_v0(net), X, 20, fref);
        for (int i = 0; i < 20; i++) scale = fmax(scale, fabs(fref[i]));
        CHECK(mx <= 1e-14 * fmax(scale, 1.0), "%s: symmetric init gives max|f| = %g",
              ntk_act_name(c.act.kind), mx);
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

/* Reference gradient descent in plain loops, written independently of the
 * library's block/BLAS formulation. */
static void ref_gd(const ntk_net_config *c, double *W, double *v, const double *W0,
                   const double *v0, const double *X, const double *y, size_t n, double lr1,
                   double lr2, int sum_loss, int steps, double *loss_hist)
{
    size_t m = c->m, d = c->d;
    double s = c->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)d);
    double k = c->alpha / sqrt((double)m);
    double cl = sum_loss ? 1.0 : 1.0 / n;
    double *gW = calloc(m * d, sizeof(double)), *gv = calloc(m, sizeof(double));
    for (int t = 0; t <= steps; t++) {
        for (size_t q = 0; q < m * d; q++) gW[q] = 0;
        for (size_t r = 0; r < m; r++) gv[r] = 0;
        double L = 0;
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
            if (c->centered) f -= f0;
            double res = f - y[i];
            L += 0.5 * cl * res * res;
            for (size_t r = 0; r < m; r++) {
                double z = 0;
                for (size_t j = 0; j < d; j++) z += W[r * d + j] * x[j] / s;
                gv[r] += cl * res * k * ntk_act_phi(c->act, z);
                for (size_t j = 0; j < d; j++)
                    gW[r * d + j] += cl * res * k * v[r] * ntk_act_dphi(c->act, z) * x[j] / s;
            }
        }
        loss_hist[t] = L;
        if (t == steps) break;
        for (size_t q = 0; q < m * d; q++) W[q] -= lr1 * gW[q];
        for (size_t r = 0; r < m; r++) v[r] -= lr2 * gv[r];
    }
    free(gW);
    free(gv);
}

static void test_gd_trajectory(void)
{
    const size_t n = 9, d = 3, m = 8;
    const int steps = 25;
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
        ntk_gd_config gd = {cases[ci].lr1, cases[ci].lr2, cases[ci].sum ? NTK_LOSS_SUM : NTK_LOSS_MEAN};
        ntk_trainer *tr;
        CHECK_OK(ntk_trainer_create(net, X, y, n, gd, &tr));
        double lib_loss[26], ref_loss[26];
        for (int t = 0; t <= steps; t++) {
            CHECK_OK(ntk_trainer_eval(tr));
            lib_loss[t] = ntk_trainer_loss(tr);
            if (t < steps) CHECK_OK(ntk_trainer_apply(tr));
        }
        double W[8 * 3], v[8];
        memcpy(W, ntk_net_W0(net), sizeof W);
        memcpy(v, ntk_net_v0(net), sizeof v);
        ref_gd(&c, W, v, ntk_net_W0(net), ntk_net_v0(net), X, y, n, gd.lr1, gd.lr2, cases[ci].sum,
               steps, ref_loss);
        CHECK(t_max_rel_err(lib_loss, ref_loss, steps + 1) < 1e-12, "case %zu: loss trajectory", ci);
        CHECK(t_max_rel_err(ntk_net_W(net), W, m * d) < 1e-12, "case %zu: final W", ci);
        CHECK(t_max_rel_err(ntk_net_v(net), v, m) < 1e-12, "case %zu: final v", ci);
        CHECK(ref_loss[steps] < ref_loss[0], "case %zu: loss decreased (%g -> %g)", ci, ref_loss[0], ref_loss[steps]);
        if (gd.lr1 == 0) CHECK(memcmp(ntk_net_W(net), ntk_net_W0(net), sizeof W) == 0, "lr1 = 0 freezes W");
        if (gd.lr2 == 0) CHECK(memcmp(ntk_net_v(net), ntk_net_v0(net), sizeof v) == 0, "lr2 = 0 freezes v");
        ntk_trainer_free(tr);
        ntk_net_free(net);
    }
}

/* Many rows: the block loop must give the same result as one block. */
static void test_blocking(void)
{
    const size_t n = 3000, d = 5, m = 700;  /* blocks of 374 rows */
    double *X = malloc(n * d * sizeof(double)), *y = malloc(n * sizeof(double));
    double *f = malloc(n * sizeof(double)), *fref = malloc(n * sizeof(double));
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
    CHECK(t_max_rel_err(f, fref, n) < 1e-12, "blocked forward");
    double *gv = malloc(m * sizeof(double)), *gvref = calloc(m, sizeof(double)), L;
    CHECK_OK(ntk_loss_grad(&c, ntk_net_W(net), ntk_net_v(net), X, y, n, NTK_LOSS_MEAN, NULL, &L, NULL, gv, NULL));
    double s = sqrt((double)d);
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < m; r++) {
            double z = 0;
            for (size_t j = 0; j < d; j++) z += ntk_net_W(net)[r * d + j] * X[i * d + j] / s;
            gvref[r] += (fref[i] - y[i]) / n / sqrt((double)m) * tanh(z);
        }
    CHECK(t_max_rel_err(gv, gvref, m) < 1e-11, "blocked gradient in v");
    ntk_net_free(net);
    free(X), free(y), free(f), free(fref), free(gv), free(gvref);
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
    ntk_gd_config neg = {-0.1, 0.1, NTK_LOSS_MEAN};
    CHECK_ERR(ntk_trainer_create(net, X, y, n, neg, &tr), NTK_ERR_ARG);
    CHECK(tr == NULL, "no trainer on error");
    ntk_gd_config huge = {1e6, 1e6, NTK_LOSS_SUM};
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
    /* an absurd width is refused before allocating */
    ntk_net_config big = ntk_net_config_default(100000, 100000000);
    CHECK_ERR(ntk_net_create(&big, &net), NTK_ERR_NOMEM);
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
