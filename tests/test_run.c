/* Side-by-side runs: exactness of the linearized model against closed-form
 * kernel GD, of lin against kernel GD under Θ_lin, flow against small-rate GD,
 * and the lazy-training rate of the centred model. */
#include "harness.h"
#include "kgd_spectrum.h"
#include "ntkit.h"
#include "internal.h"

#include <float.h>
#include <math.h>

typedef struct {
    size_t n, nt, d;
    double *X, *y, *Xt, *yt;
} data;

static data make_data(size_t n, size_t nt, size_t d, uint64_t seed)
{
    data D = {n, nt, d, NULL, NULL, NULL, NULL};
    ntk_dataset ds;
    if (ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "hermite:1=1,2=0.5", n, nt, d, seed, 0, NULL}, &ds) != NTK_OK) {
        fprintf(stderr, "dataset: %s\n", ntk_errmsg());
        exit(1);
    }
    D.X = ds.X_train, D.y = ds.y_train, D.Xt = ds.X_test, D.yt = ds.y_test;
    return D;
}

static void free_data(data *D) { free(D->X), free(D->y), free(D->Xt), free(D->yt); }

/* ---- Tolerances --------------------------------------------------------
 * Two float64 computations of one kernel model (the linearized network
 * trained step by step, lin in its feature space, closed-form kernel GD)
 * agree in exact arithmetic; they differ by rounding, bounded by
 *   C_ROUND·(n + P)·ε·(t_it + κ_t)·S:
 * n + P the length of the products (n points, P parameters or features),
 * t_it the number of explicit steps taken (each adds its rounding; GD on
 * the linearized model; 0 for closed forms), κ_t = 1 + λmax·h_t the
 * conditioning of g_t, h_t on K's spectrum (|g_t'(λ)| ≤ min(t·x, 1/λ) for
 * stable rates, x = c (K already holds η1Θ1 + η2Θ2), λ ≥ λ⁺_min the smallest
 * eigenvalue kgd.c does not treat as 0; t·x·λmax for oscillating rates),
 * S = max(1, ‖y‖∞, ‖f0_test‖∞) + ‖r0‖₂·(1 + h_t‖K_test‖_{2,∞}) the size of
 * the predictions and of the sums behind them, h_t = max h_t(λ) ≤ t·x (and
 * ≤ 1/λ⁺_min without a null space). Flow through the ODE integrator adds its
 * error, estimated by a second run at a tenth of its tolerance: twice the
 * change (an integrator's global error scales with its tolerance). */
#define C_ROUND 4.0
#define ACT_ULP 8.0

static double norm_inf(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}


/* The spectrum-dependent parts of the bound above, for K (n,n) with test
 * block Kt (nt,n) at rate x: λmax, λ⁺_min, whether K has a null space,
 * ‖K_test‖_{2,∞}. */

/* C_ROUND·(n + P)·ε·(t_it + κ_t)·S for the predictions at time t */
static double model_tol(const model_spec *s, size_t n, size_t P, double x, double t, double t_it,
                        double ymax, double r0)
{
    double ht = s->singular ? t * x : fmin(t * x, 1.0 / s->lpos);
    double kappa = 1.0 + (x * s->lmax <= 1.0 ? s->lmax * fmin(t * x, 1.0 / s->lpos)
                                               : t * x * s->lmax);
    double S = fmax(1.0, ymax) + r0 * (1.0 + ht * s->kt);
    return C_ROUND * (double)(n + P) * DBL_EPSILON * (t_it + kappa) * S;
}

static void test_linearized_equals_kernel_gd(void)
{
    data D = make_data(60, 20, 6, 4);
    struct { double lr1, lr2; ntk_loss_kind loss; int flow; ntk_act_kind act; int centered; double alpha; } cases[] = {
        {1.0, 1.0, NTK_LOSS_MEAN, 0, NTK_ACT_ERF, 0, 1.0},
        {2.0, 0.5, NTK_LOSS_MEAN, 0, NTK_ACT_RELU, 0, 1.0},
        {0.05, 0.0, NTK_LOSS_SUM, 0, NTK_ACT_TANH, 1, 2.0},
        {0.0, 0.03, NTK_LOSS_SUM, 0, NTK_ACT_GELU, 0, 1.0},
        {1.5, 0.7, NTK_LOSS_MEAN, 1, NTK_ACT_ERF, 1, 1.0},
        {0.0, 1.0, NTK_LOSS_MEAN, 1, NTK_ACT_RELU, 0, 3.0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        ntk_net_config nc = ntk_net_config_default(D.d, 40);
        nc.act.kind = cases[ci].act;
        nc.centered = cases[ci].centered;
        nc.alpha = cases[ci].alpha;
        nc.seed = 10 + ci;
        ntk_gd_config gd = {.lr1 = cases[ci].lr1, .lr2 = cases[ci].lr2, .loss = cases[ci].loss};
        ntk_run_config rc = ntk_run_config_default(nc, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK | NTK_MODEL_LIN;
        rc.flow = cases[ci].flow;
        rc.flow_rtol = 1e-11;
        ntk_run *r, *rf = NULL;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r));
        if (!r) continue;
        if (rc.flow) {   /* the ODE's error estimate: the same run at rtol/10 */
            ntk_run_config rc2 = rc;
            rc2.flow_rtol = rc.flow_rtol / 10;
            CHECK_OK(ntk_run_create(&rc2, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &rf));
        }
        /* the outputs at θ0 */
        double u0[60], ft0[20];
        ntk_run *r0;
        ntk_run_config rc0 = rc;
        rc0.models = NTK_MODEL_NN;
        rc0.kernel_every = 0;
        ntk_run_create(&rc0, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r0);
        ntk_run_predictions(r0, 0, u0, ft0);
        ntk_run_free(r0);
        double x = cases[ci].loss == NTK_LOSS_MEAN ? 1.0 / (double)D.n : 1.0;
        double ymax = fmax(norm_inf(D.y, D.n), norm_inf(ft0, D.nt)), r0n = 0.0;
        for (size_t i = 0; i < D.n; i++) r0n += (D.y[i] - u0[i]) * (D.y[i] - u0[i]);
        r0n = sqrt(r0n);

        /* linearized (GD steps or the ODE) against the closed-form ntk model,
         * K = η1Θ1 + η2Θ2 at θ0 of P = m(d + 1) parameters */
        double *K = malloc(D.n * D.n * sizeof(double)), *Kt = malloc(D.nt * D.n * sizeof(double));
        double *W0 = malloc(nc.m * D.d * sizeof(double)), *v0 = malloc(nc.m * sizeof(double));
        CHECK_OK(ntk_init_weights(&nc, W0, v0));
        CHECK_OK(ntk_kernel_empirical(&nc, W0, v0, D.X, D.n, NULL, 0, gd.lr1, gd.lr2, 0, K));
        CHECK_OK(ntk_kernel_empirical(&nc, W0, v0, D.Xt, D.nt, D.X, D.n, gd.lr1, gd.lr2, 0, Kt));
        model_spec ms = model_spectrum(K, D.n, Kt, D.nt);
        size_t P = nc.m * (D.d + 1);
        double times_gd[] = {0, 1, 2, 5, 17, 40, 100};
        double times_fl[] = {0, 0.5, 1.3, 4, 10};
        const double *times = rc.flow ? times_fl : times_gd;
        int ntimes = rc.flow ? 5 : 7;
        double worst = 0.0;
        for (int k = 0; k < ntimes; k++) {
            double t = times[k], fa[80], fb[80], ff[80];
            CHECK_OK(ntk_run_advance(r, t));
            CHECK_OK(ntk_run_predictions(r, 1, fa, fa + 60));
            CHECK_OK(ntk_run_predictions(r, 3, fb, fb + 60));
            if (rf) {
                CHECK_OK(ntk_run_advance(rf, t));
                CHECK_OK(ntk_run_predictions(rf, 1, ff, ff + 60));
            }
            double tol = model_tol(&ms, D.n, P, x, t, rc.flow ? 0.0 : t, ymax, r0n);
            for (int i = 0; i < 80; i++) {
                double b = tol + (rf ? 2.0 * fabs(fa[i] - ff[i]) : 0.0), e = fabs(fa[i] - fb[i]);
                worst = fmax(worst, e == 0.0 ? 0.0 : e / b);
            }
        }
        CHECK_LE(worst, 1.0, "case %zu: linearized vs closed-form ntk, error / bound", ci);
        free(W0), free(v0);

        /* lin (closed form in its p ≤ 2d + 3 features) against kernel GD
         * under Θ_lin: K = η1 Θlin1 + η2 Θlin2, of rank ≤ p */
        ntk_constants c;
        double tf;
        ntk_trace_factor(D.X, D.n, D.d, &tf);
        ntk_constants_compute(nc.act, tf, 0, &c);
        double *Xr = malloc(D.n * D.d * sizeof(double)), *Xtr = malloc(D.nt * D.d * sizeof(double));
        memcpy(Xr, D.X, D.n * D.d * sizeof(double));
        memcpy(Xtr, D.Xt, D.nt * D.d * sizeof(double));
        CHECK_OK(ntk_kernel_lin(&c, nc.alpha, Xr, D.n, NULL, 0, D.d, gd.lr1, gd.lr2, K));
        CHECK_OK(ntk_kernel_lin(&c, nc.alpha, Xtr, D.nt, Xr, D.n, D.d, gd.lr1, gd.lr2, Kt));
        ms = model_spectrum(K, D.n, Kt, D.nt);
        ntk_kgd *g;
        CHECK_OK(ntk_kgd_create_method(K, D.n, D.y, u0, 1.0, gd.loss, NTK_KGD_AUTO, 0.0, &g));
        double t = rc.flow ? 10 : 100;
        double ul[60], tl[20], uk[60], tk[20];
        CHECK_OK(ntk_run_predictions(r, 2, ul, tl));
        CHECK_OK(ntk_kgd_predict_train(g, t, rc.flow, uk));
        CHECK_OK(ntk_kgd_predict_test(g, t, rc.flow, Kt, D.nt, ft0, tk));
        double tol = model_tol(&ms, D.n, 2 * D.d + 3, x, t, 0.0, ymax, r0n);
        double e = 0.0;
        for (size_t i = 0; i < D.n; i++) e = fmax(e, fabs(ul[i] - uk[i]));
        for (size_t i = 0; i < D.nt; i++) e = fmax(e, fabs(tl[i] - tk[i]));
        CHECK_LE(e, tol, "case %zu: lin vs closed form under Theta_lin", ci);
        ntk_kgd_free(g);
        free(K), free(Kt), free(Xr), free(Xtr);
        ntk_run_free(r);
        ntk_run_free(rf);
    }
    free_data(&D);
}

/* GD with rates ε(η1, η2) for k steps against the flow at t = εk: GD is
 * the explicit Euler method for the flow, so the difference is
 * e(ε) = C1·ε + C2·ε² + … (first order). From ε = 1e-2 to 1e-3 the
 * observed order p = log10(e(1e-2)/e(1e-3)) is then 1 + log10((1 +
 * C2/C1·1e-2)/(1 + C2/C1·1e-3)), within 0.1 of 1 for |C2/C1| ≤ 25; the
 * flow's own error (rtol 1e-10) and rounding (k·P·ε ≲ 1e-11) are far
 * below e(1e-3) ~ 1e-5. */
static void test_flow_vs_small_gd(void)
{
    data D = make_data(60, 20, 6, 5);
    ntk_net_config nc = ntk_net_config_default(D.d, 40);
    nc.act.kind = NTK_ACT_TANH;
    nc.seed = 3;
    ntk_gd_config gd = {.lr1 = 1.0, .lr2 = 1.0, .loss = NTK_LOSS_MEAN};
    ntk_run_config fc = ntk_run_config_default(nc, gd);
    fc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
    fc.flow = 1;
    fc.flow_rtol = 1e-10;
    fc.kernel_every = 0;
    double errs[2];
    for (int e = 0; e < 2; e++) {
        double eps = e == 0 ? 1e-2 : 1e-3;
        ntk_gd_config g2 = {.lr1 = eps, .lr2 = eps, .loss = NTK_LOSS_MEAN};
        ntk_run_config gc = fc;
        gc.gd = g2;
        gc.flow = 0;
        ntk_run *rf, *rg;
        CHECK_OK(ntk_run_create(&fc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &rf));
        CHECK_OK(ntk_run_create(&gc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &rg));
        double T = 3.0;
        CHECK_OK(ntk_run_advance(rf, T));
        CHECK_OK(ntk_run_advance(rg, round(T / eps)));
        double a[60], b[60];
        ntk_run_predictions(rf, 0, a, NULL);
        ntk_run_predictions(rg, 0, b, NULL);
        errs[e] = t_max_rel_err(a, b, D.n);
        ntk_run_free(rf);
        ntk_run_free(rg);
    }
    double p = log10(errs[0] / errs[1]);
    CHECK_LE(fabs(p - 1.0), 0.1, "flow vs GD: observed order %.4f (differences %.3g at rate 1e-2, "
             "%.3g at 1e-3), expected 1", p, errs[0], errs[1]);
    free_data(&D);
}

/* Centred model with rates divided by α²: the nn–linearized gap in function
 * space shrinks like 1/α (docs/theory.md §5): gap = C1/α + C2/α² + …, and the
 * slope fitted between α = 2 and 32 is −1 + log((1 + r/32)/(1 + r/2))/log 16,
 * r = C2/C1, within 0.2 of −1 for −0.95 ≤ r ≤ 1.6 (a correction below the
 * leading term at α = 1). Rounding (~1e-13) is far below the gaps (≥ 1e-4). */
static void test_lazy_rate(void)
{
    data D = make_data(60, 20, 6, 6);
    double alphas[] = {2, 8, 32}, gap[3];
    for (int k = 0; k < 3; k++) {
        ntk_net_config nc = ntk_net_config_default(D.d, 64);
        nc.act.kind = NTK_ACT_TANH;
        nc.centered = 1;
        nc.alpha = alphas[k];
        nc.seed = 2;
        ntk_gd_config gd = {.lr1 = 1.0 / (alphas[k] * alphas[k]), .lr2 = 1.0 / (alphas[k] * alphas[k]), .loss = NTK_LOSS_MEAN};
        ntk_run_config rc = ntk_run_config_default(nc, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
        rc.kernel_every = 0;
        ntk_run *r;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r));
        CHECK_OK(ntk_run_advance(r, 200));
        double row[64];
        CHECK_OK(ntk_run_metrics(r, 0, row));
        for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
            if (!strcmp(ntk_run_column(r, c), "gap_linearized_train")) gap[k] = sqrt(row[c]);
        ntk_run_free(r);
    }
    double slope = log(gap[2] / gap[0]) / log(alphas[2] / alphas[0]);
    CHECK_LE(fabs(slope + 1.0), 0.2, "gap ~ alpha^slope with slope %.3f (expected -1); gaps %.3g %.3g %.3g", slope, gap[0], gap[1], gap[2]);
    free_data(&D);
}

static void test_metrics_and_theory(void)
{
    data D = make_data(80, 30, 5, 7);
    ntk_net_config nc = ntk_net_config_default(D.d, 50);
    nc.seed = 1;
    ntk_gd_config gd = {.lr1 = 1.0, .lr2 = 0.0, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(nc, gd);
    rc.kernel_subsample = 40;
    ntk_run *r;
    CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r));
    if (!r) return;
    size_t nc_ = ntk_run_ncolumns(r);
    CHECK(nc_ == 1 + 10 + 8 + 9, "%zu columns", nc_);
    CHECK(!strcmp(ntk_run_column(r, 0), "step") && !strcmp(ntk_run_column(r, 1), "nn_train_loss"), "column names");
    double row0[64], row1[64];
    CHECK_OK(ntk_run_metrics(r, 1, row0));
    /* at t = 0 every model equals the network: the gaps (mean squared
     * differences) are 0 up to the rounding of each model's f(θ0) — a
     * forward pass, within C_ROUND(m + d + ACT_ULP)ε·|α/√m|Σ_r|v_r|(|φ(z_r)| +
     * 1 + |z_r|), or the kernel models' y − (y − f0), within 4ε(|y| + |f0|)
     * — so below (2·max_i Δ_i)² */
    double dmax = 0.0;
    {
        double W0[50 * 5], v0[50], a = nc.alpha / sqrt((double)nc.m), s = sqrt((double)D.d);
        CHECK_OK(ntk_init_weights(&nc, W0, v0));
        for (size_t i = 0; i < D.n + D.nt; i++) {
            const double *x = i < D.n ? D.X + i * D.d : D.Xt + (i - D.n) * D.d;
            double fa = 0.0, f = 0.0;
            for (size_t k = 0; k < nc.m; k++) {
                double z = 0.0;
                for (size_t j = 0; j < D.d; j++) z += W0[k * D.d + j] * x[j];
                z /= s;
                double p = ntk_act_phi(nc.act, z);
                f += a * v0[k] * p;
                fa += fabs(a * v0[k]) * (fabs(p) + 1.0 + fabs(z));
            }
            double y = i < D.n ? D.y[i] : D.yt[i - D.n];
            double di = C_ROUND * (double)(nc.m + D.d) * DBL_EPSILON * fa +
                        C_ROUND * ACT_ULP * DBL_EPSILON * fa + 4.0 * DBL_EPSILON * (fabs(y) + fabs(f));
            dmax = fmax(dmax, di);
        }
    }
    for (size_t c = 0; c < nc_; c++)
        if (!strncmp(ntk_run_column(r, c), "gap_", 4))
            CHECK_LE(row0[c], 4.0 * dmax * dmax, "%s at t=0", ntk_run_column(r, c));
    CHECK_OK(ntk_run_advance(r, 50));
    CHECK_OK(ntk_run_metrics(r, 1, row1));
    CHECK(row1[1] < row0[1], "nn loss decreased");
    ntk_run_theory th;
    CHECK_OK(ntk_run_theory_get(r, &th));
    CHECK(th.ntk_lmin > 0 && th.ntk_lmax >= th.ntk_lmin && th.inf_lmin > 0, "spectra %g %g %g", th.ntk_lmin, th.ntk_lmax, th.inf_lmin);
    /* σ_max = √λ_max in run.c: a square root and a square, two roundings */
    CHECK_LE(fabs(th.jac_smax * th.jac_smax - th.ntk_lmax), 2.0 * DBL_EPSILON * th.ntk_lmax,
             "sigma_max^2 = lambda_max");
    CHECK(isfinite(th.D_bound) && th.flip_bound_D > 0, "D bound");
    CHECK(isnan(th.beta_bound), "relu has no Lipschitz bound");
    double beta;
    CHECK_OK(ntk_run_beta_estimate(r, &beta));
    CHECK(isfinite(beta) && beta > 0, "beta estimate %g", beta);
    /* d·log d/η1 with η1 = 1: a few roundings */
    CHECK_LE(fabs(th.horizon_T - 5 * log(5.0)), 4.0 * DBL_EPSILON * 5 * log(5.0),
             "T = d log d / eta1");
    ntk_run_free(r);
    /* bad input */
    ntk_gd_config none = {.lr1 = 0, .lr2 = 0, .loss = NTK_LOSS_MEAN};
    rc.gd = none;
    CHECK_ERR(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r), NTK_ERR_ARG);
    unsigned mask;
    CHECK_OK(ntk_models_parse("nn,ntk-inf", &mask));
    CHECK(mask == (NTK_MODEL_NN | NTK_MODEL_NTK_INF), "mask %u", mask);
    CHECK_ERR(ntk_models_parse("nn,rbf", &mask), NTK_ERR_ARG);
    free_data(&D);
}

/* Hu et al. 2020: the erf network of width 256, first layer trained, on
 * Gaussian data with n, m >= d^1.2, follows lin up to T = d log d / η1 and
 * leaves it afterwards. The thresholds state the claim, not a rounding
 * bound: with E y² = 2 a gap (mean squared difference) of 0.05 is 2.5% of
 * the target's power ("follows"), and a gap growing more than threefold by
 * 30T "leaves". The gaps are ~1e-2 and rounding moves them by ~1e-13, so
 * the outcome is the same on every CPU and thread count. */
static void test_early_linear(void)
{
    size_t d = 20, n = 500;   /* d^1.2 = 36, d^1.4 = 66 */
    ntk_dataset ds;
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){"gaussian", "hermite:1=1,2=1", n, 200, d, 1, 0, NULL}, &ds));
    ntk_net_config nc = ntk_net_config_default(d, 256);
    nc.act.kind = NTK_ACT_ERF;
    nc.init = NTK_INIT_SYMMETRIC;
    ntk_gd_config gd = {.lr1 = 5.0, .lr2 = 0.0, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(nc, gd);
    rc.models = NTK_MODEL_NN | NTK_MODEL_LIN;
    rc.kernel_every = 0;
    ntk_run *r;
    CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){ds.X_train, ds.y_train, n, ds.X_test, ds.y_test, 200}, NULL, NULL, &r));
    if (!r) return;
    size_t gl = 0;
    for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
        if (!strcmp(ntk_run_column(r, c), "gap_lin_train")) gl = c;
    double T = d * log((double)d) / gd.lr1, row[64], gapT, gap30;
    CHECK_OK(ntk_run_advance(r, round(T)));
    CHECK_OK(ntk_run_metrics(r, 0, row));
    gapT = row[gl];
    CHECK_OK(ntk_run_advance(r, round(30 * T)));
    CHECK_OK(ntk_run_metrics(r, 0, row));
    gap30 = row[gl];
    CHECK_LE(gapT, 0.05, "gap to lin at T = %.0f steps: %.3g", T, gapT);
    CHECK(gap30 > 3 * gapT, "the network leaves lin later: gap %.3g at 30T vs %.3g at T", gap30, gapT);
    ntk_run_free(r);
    ntk_dataset_free(&ds);
}

/* ntk_run_predict_at recomputes each model on the inputs it is given (the
 * network's forward pass, the linearization's features at θ0, Hu et al.'s
 * features, the cross kernel): on the run's own training and test inputs
 * it must give ntk_run_predictions. Both are sums of the same O(m·d) or
 * O(n·p) terms in other blockings: C_ROUND·(m·d + n)·ε relative to the
 * largest prediction. */
static void test_predict_anywhere(void)
{
    data D = make_data(40, 12, 6, 21);
    ntk_net_config net = ntk_net_config_default(D.d, 48);
    /* erf: smooth, with a closed-form Θ∞ (quadrature would differ between
     * the symmetric block and a cross block at coinciding points, ρ = 1) */
    net.act.kind = NTK_ACT_ERF;
    ntk_gd_config gd = {.lr1 = 0.8, .lr2 = 0.4, .loss = NTK_LOSS_MEAN};
    for (int centered = 0; centered <= 1; centered++) {
        net.centered = centered;
        ntk_run_config rc = ntk_run_config_default(net, gd);
        rc.trace_factor = 1.0;
        ntk_run *r = NULL;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r));
        if (!r) continue;
        CHECK_OK(ntk_run_advance(r, 7));
        double ftr[40], fte[12], gtr[40], gte[12];
        for (int k = 0; k < NTK_NMODELS; k++) {
            CHECK_OK(ntk_run_predictions(r, k, ftr, fte));
            CHECK_OK(ntk_run_predict_at(r, k, D.X, D.n, gtr));
            CHECK_OK(ntk_run_predict_at(r, k, D.Xt, D.nt, gte));
            double tol = C_ROUND * (double)(48 * 6 + D.n) * DBL_EPSILON;
            CHECK_LE(t_max_rel_err(gtr, ftr, D.n), tol, "%s on the training inputs (centred %d)",
                     ntk_model_name(k), centered);
            CHECK_LE(t_max_rel_err(gte, fte, D.nt), tol, "%s on the test inputs (centred %d)",
                     ntk_model_name(k), centered);
        }
        CHECK_ERR(ntk_run_predict_at(r, 0, D.X, 0, gtr), NTK_ERR_ARG);
        ntk_run_free(r);
    }
    free_data(&D);
}

/* The driver logs at given times as it does on its own schedule: the rows
 * at 0, 3, 7 of times {0, 3, 7} equal those of t_every = 1 at those steps,
 * bit for bit (the same steps in the same order); a time given twice is
 * logged twice; descending times are refused. */
static int keep_rows(void *ctx, const ntk_run *r, const double *row)
{
    double *rows = ctx;
    size_t nc = ntk_run_ncolumns(r), k = (size_t)rows[0]++;
    memcpy(rows + 1 + k * nc, row, nc * sizeof(double));
    return 0;
}

static void test_schedule_times(void)
{
    data D = make_data(30, 6, 4, 33);
    ntk_net_config net = ntk_net_config_default(D.d, 16);
    ntk_gd_config gd = {.lr1 = 0.5, .lr2 = 0.5, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(net, gd);
    rc.kernel_every = 0;
    ntk_run_data dat = {D.X, D.y, D.n, D.Xt, D.yt, D.nt};
    ntk_run *a = NULL, *b = NULL;
    CHECK_OK(ntk_run_create(&rc, &dat, NULL, NULL, &a));
    CHECK_OK(ntk_run_create(&rc, &dat, NULL, NULL, &b));
    size_t nc = a ? ntk_run_ncolumns(a) : 1;
    double *ra = calloc(1 + 16 * nc, sizeof(double)), *rb = calloc(1 + 16 * nc, sizeof(double));
    ntk_run_report rep;
    ntk_schedule sa = ntk_schedule_default(7, 1);
    sa.theory = 0, sa.on_row = keep_rows, sa.ctx = ra;
    CHECK_OK(ntk_run_execute(a, &sa, &rep));
    const double times[4] = {0, 3, 7, 7};
    ntk_schedule sb = ntk_schedule_default(0, 1);
    sb.theory = 0, sb.on_row = keep_rows, sb.ctx = rb, sb.times = times, sb.ntimes = 4;
    CHECK_OK(ntk_run_execute(b, &sb, &rep));
    CHECK(ra[0] == 8 && rb[0] == 4, "rows %g and %g", ra[0], rb[0]);
    const size_t at[4] = {0, 3, 7, 7};
    for (size_t k = 0; k < 4; k++)
        for (size_t c = 1; c + 1 < nc; c++) {   /* the last column, seconds-free: all are state */
            double x = ra[1 + at[k] * nc + c], y = rb[1 + k * nc + c];
            CHECK(x == y || (isnan(x) && isnan(y)), "time %zu column %s: %g vs %g", at[k],
                  ntk_run_column(a, c), x, y);
        }
    const double bad[2] = {3, 1};
    sb.times = bad, sb.ntimes = 2;
    CHECK_ERR(ntk_run_execute(b, &sb, &rep), NTK_ERR_ARG);
    free(ra), free(rb);
    ntk_run_free(a), ntk_run_free(b);
    free_data(&D);
}

/* The kernel models with K behind an operator (matrix-free, float32
 * storage) against K stored, on the same run: Lanczos through products
 * against an eigendecomposition. What separates them: the Krylov
 * truncation, held at 1e-10·‖r0‖₂ (src/kgd.c; scaled by √(k(x,x)/max K_ii)
 * at a test point), and the operator's products, which perturb K by
 * E with ‖E‖ ≤ δ·‖|K|‖ (δ = C_ROUND·(n + m + d)·ε for matrix-free products,
 * 2^-24 for float32 entries; these kernels are nonnegative, ‖|K|‖ = λmax ≤
 * n·max K_ii): t GD steps move the prediction by at most t·cη‖E‖‖r0‖₂
 * (each step is a contraction). With float64 products the bound is far
 * below the 1e-8 relative agreement asked of the matrix-free path, which is
 * checked too. */
static void test_kernel_operator_modes(void)
{
    enum { n = 300, nt = 40, d = 5, m = 64 };
    data D = make_data(n, nt, d, 33);
    ntk_net_config net = ntk_net_config_default(D.d, m);
    ntk_gd_config gd = {.lr1 = 0.7, .lr2 = 0.7, .loss = NTK_LOSS_MEAN};
    ntk_op_mode modes[3] = {NTK_OP_DENSE, NTK_OP_MATRIX_FREE, NTK_OP_DENSE_F32};
    ntk_run *r[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        ntk_run_config rc = ntk_run_config_default(net, gd);
        rc.models = NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
        rc.kernel_operator = modes[i];
        rc.t_max = 200;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){D.X, D.y, D.n, D.Xt, D.yt, D.nt}, NULL, NULL, &r[i]));
    }
    static double f[3][n], g[3][nt];
    double r0[2] = {0, 0}, trace[2] = {0, 0};
    for (int inf = 0; r[0] && inf < 2; inf++) {   /* λmax ≤ trace K */
        ntk_kernel_desc kd = ntk_kernel_desc_default(inf ? NTK_KERNEL_INFINITE : NTK_KERNEL_EMPIRICAL, &net);
        kd.c1 = kd.c2 = 0.7, kd.diagonal = 1;
        kd.W = ntk_net_W0(ntk_run_net(r[0])), kd.v = ntk_net_v0(ntk_run_net(r[0]));
        double diag[n];
        CHECK_OK(ntk_kernel(&kd, D.X, n, NULL, 0, diag));
        for (size_t j = 0; j < n; j++) trace[inf] += diag[j];
    }
    int done = 0;
    for (int step = 0; r[0] && r[1] && r[2] && step <= 200; step += 50) {
        /* ntk_run_advance goes to an absolute time (steps for GD) */
        if (step) for (int i = 0; i < 3; i++) CHECK_OK(ntk_run_advance(r[i], step));
        for (int k = 3; k <= 4; k++) {
            for (int i = 0; i < 3; i++) CHECK_OK(ntk_run_predictions(r[i], k, f[i], g[i]));
            if (step == 0) {
                for (size_t j = 0; j < n; j++) r0[k - 3] += (D.y[j] - f[0][j]) * (D.y[j] - f[0][j]);
                r0[k - 3] = sqrt(r0[k - 3]);
            }
            double lmax = trace[k - 3];
            double scale = fmax(norm_inf(f[0], n), norm_inf(g[0], nt));
            for (int i = 1; i < 3; i++) {
                double delta = i == 1 ? C_ROUND * (double)(n + m + d) * DBL_EPSILON : 0x1p-24;
                /* test points: k(x,x) of these unit-scale inputs is within 4x of the
                 * training diagonal (generous), hence √4 on the truncation */
                double tol = 2.0 * 1e-10 * r0[k - 3] + (double)step * (0.7 / n) * delta * lmax * r0[k - 3] +
                             C_ROUND * (double)n * DBL_EPSILON * (double)(step + 1) * scale;
                double eu = 0, ef = 0;
                for (size_t j = 0; j < n; j++) eu = fmax(eu, fabs(f[i][j] - f[0][j]));
                for (size_t j = 0; j < nt; j++) ef = fmax(ef, fabs(g[i][j] - g[0][j]));
                CHECK_LE(eu, tol, "%s %s step %d: train", ntk_model_name(k), ntk_op_mode_name(modes[i]), step);
                CHECK_LE(ef, tol, "%s %s step %d: test", ntk_model_name(k), ntk_op_mode_name(modes[i]), step);
                if (i == 1) CHECK_LE(tol / scale, 1e-8, "the matrix-free bound certifies 1e-8 relative");
            }
            done++;
        }
    }
    CHECK(done == 10, "compared %d times", done);
    for (int i = 0; i < 3; i++) ntk_run_free(r[i]);
    free_data(&D);
}

int main(void)
{
    test_kernel_operator_modes();
    test_schedule_times();
    test_predict_anywhere();
    test_early_linear();
    test_linearized_equals_kernel_gd();
    test_flow_vs_small_gd();
    test_lazy_rate();
    test_metrics_and_theory();
    return t_finish();
}
