/* Side-by-side runs: exactness of the linearized model against closed-form
 * kernel GD, of lin against kernel GD under Θ_lin, flow against small-rate GD,
 * and the lazy-training rate of the centred model. */
#include "harness.h"
#include "ntkit.h"

#include <math.h>

typedef struct {
    size_t n, nt, d;
    double *X, *y, *Xt, *yt;
} data;

static data make_data(size_t n, size_t nt, size_t d, uint64_t seed)
{
    data D = {n, nt, d, NULL, NULL, NULL, NULL};
    ntk_dataset ds;
    if (ntk_dataset_make("gaussian", "hermite:1=1,2=0.5", n, nt, d, seed, 0, &ds) != NTK_OK) {
        fprintf(stderr, "dataset: %s\n", ntk_errmsg());
        exit(1);
    }
    D.X = ds.X_train, D.y = ds.y_train, D.Xt = ds.X_test, D.yt = ds.y_test;
    return D;
}

static void free_data(data *D) { free(D->X), free(D->y), free(D->Xt), free(D->yt); }

/* max_i |a_i − b_i| / max(max_i |b_i|, 1): relative once predictions are of
 * the targets' O(1) scale, absolute near t = 0 where a centred model is 0 */
static double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0, den = 1.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= num)) num = e;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

/* max over logged times of the relative difference between two models' train
 * and test predictions */
static double track(ntk_run *r, int a, int b, const double *times, int nt_)
{
    double worst = 0;
    double fa[400], fb[400], ta[400], tb[400];
    for (int k = 0; k < nt_; k++) {
        if (ntk_run_advance(r, times[k]) != NTK_OK) return INFINITY;
        if (ntk_run_predictions(r, a, fa, ta) != NTK_OK || ntk_run_predictions(r, b, fb, tb) != NTK_OK)
            return INFINITY;
        double e1 = rel_err(fa, fb, 60), e2 = rel_err(ta, tb, 20);
        if (e1 > worst) worst = e1;
        if (e2 > worst) worst = e2;
    }
    return worst;
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
        ntk_gd_config gd = {cases[ci].lr1, cases[ci].lr2, cases[ci].loss};
        ntk_run_config rc = ntk_run_config_default(nc, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK | NTK_MODEL_LIN;
        rc.flow = cases[ci].flow;
        rc.flow_rtol = 1e-11;
        ntk_run *r;
        CHECK_OK(ntk_run_create(&rc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &r));
        if (!r) continue;
        double times_gd[] = {0, 1, 2, 5, 17, 40, 100};
        double times_fl[] = {0, 0.5, 1.3, 4, 10};
        double err = rc.flow ? track(r, 1, 3, times_fl, 5) : track(r, 1, 3, times_gd, 7);
        /* float64 through an eigendecomposition and ~100 steps: 1e-9 */
        CHECK(err < (rc.flow ? 1e-8 : 1e-9), "case %zu: linearized vs closed-form ntk, max rel diff %.3g", ci, err);

        /* lin against kernel GD under Θ_lin: K = η1 Θlin1 + η2 Θlin2 */
        ntk_constants c;
        double tf;
        ntk_trace_factor(D.X, D.n, D.d, &tf);
        ntk_constants_compute(nc.act, tf, 0, &c);
        double *K = malloc(D.n * D.n * sizeof(double)), *Kt = malloc(D.nt * D.n * sizeof(double));
        double *Xr = malloc(D.n * D.d * sizeof(double)), *Xtr = malloc(D.nt * D.d * sizeof(double));
        memcpy(Xr, D.X, D.n * D.d * sizeof(double));
        memcpy(Xtr, D.Xt, D.nt * D.d * sizeof(double));
        CHECK_OK(ntk_kernel_lin(&c, nc.alpha, Xr, D.n, NULL, 0, D.d, gd.lr1, gd.lr2, K));
        CHECK_OK(ntk_kernel_lin(&c, nc.alpha, Xtr, D.nt, Xr, D.n, D.d, gd.lr1, gd.lr2, Kt));
        double u0[60], ft0[20];
        /* the outputs at θ0 */
        ntk_run *r0;
        ntk_run_config rc0 = rc;
        rc0.models = NTK_MODEL_NN;
        rc0.kernel_every = 0;
        ntk_run_create(&rc0, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &r0);
        ntk_run_predictions(r0, 0, u0, ft0);
        ntk_run_free(r0);
        ntk_kgd *g;
        CHECK_OK(ntk_kgd_create(K, D.n, D.y, u0, 1.0, gd.loss, &g));
        double t = rc.flow ? 10 : 100;
        double ul[60], tl[20], uk[60], tk[20];
        CHECK_OK(ntk_run_predictions(r, 2, ul, tl));
        CHECK_OK(ntk_kgd_predict_train(g, t, rc.flow, uk));
        CHECK_OK(ntk_kgd_predict_test(g, t, rc.flow, Kt, D.nt, ft0, tk));
        double e = fmax(t_max_rel_err(ul, uk, D.n), t_max_rel_err(tl, tk, D.nt));
        CHECK(e < 1e-9, "case %zu: lin vs closed form under Theta_lin, rel diff %.3g", ci, e);
        ntk_kgd_free(g);
        free(K), free(Kt), free(Xr), free(Xtr);
        ntk_run_free(r);
    }
    free_data(&D);
}

/* GD with rates ε(η1, η2) for k steps against the flow at t = εk. The
 * difference is O(ε) (one Euler step error per unit time). */
static void test_flow_vs_small_gd(void)
{
    data D = make_data(60, 20, 6, 5);
    ntk_net_config nc = ntk_net_config_default(D.d, 40);
    nc.act.kind = NTK_ACT_TANH;
    nc.seed = 3;
    ntk_gd_config gd = {1.0, 1.0, NTK_LOSS_MEAN};
    ntk_run_config fc = ntk_run_config_default(nc, gd);
    fc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
    fc.flow = 1;
    fc.flow_rtol = 1e-10;
    fc.kernel_every = 0;
    double prev = INFINITY;
    for (int e = 0; e < 2; e++) {
        double eps = e == 0 ? 1e-2 : 1e-3;
        ntk_gd_config g2 = {eps, eps, NTK_LOSS_MEAN};
        ntk_run_config gc = fc;
        gc.gd = g2;
        gc.flow = 0;
        ntk_run *rf, *rg;
        CHECK_OK(ntk_run_create(&fc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &rf));
        CHECK_OK(ntk_run_create(&gc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &rg));
        double T = 3.0;
        CHECK_OK(ntk_run_advance(rf, T));
        CHECK_OK(ntk_run_advance(rg, round(T / eps)));
        double a[60], b[60];
        ntk_run_predictions(rf, 0, a, NULL);
        ntk_run_predictions(rg, 0, b, NULL);
        double err = t_max_rel_err(a, b, D.n);
        CHECK(err < 20 * eps, "flow vs GD with rate %g: rel diff %.3g", eps, err);
        CHECK(err < prev, "error shrinks with the rate (%.3g after %.3g)", err, prev);
        prev = err;
        ntk_run_free(rf);
        ntk_run_free(rg);
    }
    free_data(&D);
}

/* Centred model with rates divided by α²: the nn–linearized gap in function
 * space shrinks like 1/α (MATH.md §5). */
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
        ntk_gd_config gd = {1.0 / (alphas[k] * alphas[k]), 1.0 / (alphas[k] * alphas[k]), NTK_LOSS_MEAN};
        ntk_run_config rc = ntk_run_config_default(nc, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
        rc.kernel_every = 0;
        ntk_run *r;
        CHECK_OK(ntk_run_create(&rc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &r));
        CHECK_OK(ntk_run_advance(r, 200));
        double row[64];
        CHECK_OK(ntk_run_metrics(r, 0, row));
        for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
            if (!strcmp(ntk_run_column(r, c), "gap_linearized_train")) gap[k] = sqrt(row[c]);
        ntk_run_free(r);
    }
    double slope = log(gap[2] / gap[0]) / log(alphas[2] / alphas[0]);
    CHECK(slope < -0.8 && slope > -1.2, "gap ~ alpha^slope with slope %.3f (expected -1); gaps %.3g %.3g %.3g", slope, gap[0], gap[1], gap[2]);
    free_data(&D);
}

static void test_metrics_and_theory(void)
{
    data D = make_data(80, 30, 5, 7);
    ntk_net_config nc = ntk_net_config_default(D.d, 50);
    nc.seed = 1;
    ntk_gd_config gd = {1.0, 0.0, NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(nc, gd);
    rc.kernel_subsample = 40;
    ntk_run *r;
    CHECK_OK(ntk_run_create(&rc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &r));
    if (!r) return;
    size_t nc_ = ntk_run_ncolumns(r);
    CHECK(nc_ == 1 + 10 + 8 + 9, "%zu columns", nc_);
    CHECK(!strcmp(ntk_run_column(r, 0), "step") && !strcmp(ntk_run_column(r, 1), "nn_train_loss"), "column names");
    double row0[64], row1[64];
    CHECK_OK(ntk_run_metrics(r, 1, row0));
    /* at t = 0 every model equals the network: gaps are exactly 0 */
    for (size_t c = 0; c < nc_; c++)
        if (!strncmp(ntk_run_column(r, c), "gap_", 4))
            CHECK(row0[c] < 1e-24, "%s at t=0 is %g", ntk_run_column(r, c), row0[c]);
    CHECK_OK(ntk_run_advance(r, 50));
    CHECK_OK(ntk_run_metrics(r, 1, row1));
    CHECK(row1[1] < row0[1], "nn loss decreased");
    ntk_run_theory th;
    CHECK_OK(ntk_run_theory_get(r, &th));
    CHECK(th.ntk_lmin > 0 && th.ntk_lmax >= th.ntk_lmin && th.inf_lmin > 0, "spectra %g %g %g", th.ntk_lmin, th.ntk_lmax, th.inf_lmin);
    CHECK_CLOSE(th.jac_smax * th.jac_smax, th.ntk_lmax, 1e-12, "sigma_max^2 = lambda_max");
    CHECK(isfinite(th.D_bound) && th.flip_bound_D > 0, "D bound");
    CHECK(isnan(th.beta_bound), "relu has no Lipschitz bound");
    double beta;
    CHECK_OK(ntk_run_beta_estimate(r, &beta));
    CHECK(isfinite(beta) && beta > 0, "beta estimate %g", beta);
    CHECK_CLOSE(th.horizon_T, 5 * log(5.0), 1e-12, "T = d log d / eta1");
    ntk_run_free(r);
    /* bad input */
    ntk_gd_config none = {0, 0, NTK_LOSS_MEAN};
    rc.gd = none;
    CHECK_ERR(ntk_run_create(&rc, D.X, D.y, D.n, D.Xt, D.yt, D.nt, NULL, NULL, &r), NTK_ERR_ARG);
    unsigned mask;
    CHECK_OK(ntk_models_parse("nn,ntk-inf", &mask));
    CHECK(mask == (NTK_MODEL_NN | NTK_MODEL_NTK_INF), "mask %u", mask);
    CHECK_ERR(ntk_models_parse("nn,rbf", &mask), NTK_ERR_ARG);
    free_data(&D);
}

/* Seed 000: the erf network of width 256, first layer trained, on Gaussian
 * data with n, m >= d^1.2, follows lin up to T = d log d / η1 and leaves it
 * afterwards. With E y² = 2 a gap of 0.05 is 2.5% of the target's power. */
static void test_early_linear(void)
{
    size_t d = 20, n = 500;   /* d^1.2 = 36, d^1.4 = 66 */
    ntk_dataset ds;
    CHECK_OK(ntk_dataset_make("gaussian", "hermite:1=1,2=1", n, 200, d, 1, 0, &ds));
    ntk_net_config nc = ntk_net_config_default(d, 256);
    nc.act.kind = NTK_ACT_ERF;
    nc.init = NTK_INIT_SYMMETRIC;
    ntk_gd_config gd = {5.0, 0.0, NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(nc, gd);
    rc.models = NTK_MODEL_NN | NTK_MODEL_LIN;
    rc.kernel_every = 0;
    ntk_run *r;
    CHECK_OK(ntk_run_create(&rc, ds.X_train, ds.y_train, n, ds.X_test, ds.y_test, 200, NULL, NULL, &r));
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
    CHECK(gapT < 0.05, "gap to lin at T = %.0f steps: %.3g", T, gapT);
    CHECK(gap30 > 3 * gapT, "the network leaves lin later: gap %.3g at 30T vs %.3g at T", gap30, gapT);
    ntk_run_free(r);
    ntk_dataset_free(&ds);
}

int main(void)
{
    test_early_linear();
    test_linearized_equals_kernel_gd();
    test_flow_vs_small_gd();
    test_lazy_rate();
    test_metrics_and_theory();
    return t_finish();
}
