/* Side-by-side runs of networks with depth (L hidden layers, biases, the
 * standard parameterisation, one rate per layer): the Jacobian-free
 * linearized model against closed-form kernel GD with Σ_l η_l Θ_l, the
 * network against its linearization as the width grows (lazy training),
 * L = 1 networks that take the deep code paths against the two-layer run,
 * frozen layers, the theory's spectra against an explicit Jacobian, the
 * Lipschitz estimate, and the refusals (Hu et al.'s model at depth, a wrong
 * number of rates). */
#include "harness.h"
#include "kgd_spectrum.h"
#include "ntkit.h"

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
    ntk_dataset_spec sp = {"gaussian", "hermite:1=1,2=0.5", n, nt, d, seed, 0, NULL};
    if (ntk_dataset_make(&sp, &ds) != NTK_OK) {
        fprintf(stderr, "dataset: %s\n", ntk_errmsg());
        exit(1);
    }
    D.X = ds.X_train, D.y = ds.y_train, D.Xt = ds.X_test, D.yt = ds.y_test;
    return D;
}

static void free_data(data *D) { free(D->X), free(D->y), free(D->Xt), free(D->yt); }

static ntk_run_data run_data(const data *D)
{
    return (ntk_run_data){D->X, D->y, D->n, D->Xt, D->yt, D->nt};
}

static double norm_inf(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}


/* A deep configuration: L hidden layers of the given widths, σ_b, act. */
static ntk_net_config deep_cfg(size_t d, size_t L, const size_t *widths, double sb,
                               ntk_act_kind act, uint64_t seed)
{
    ntk_net_config c = ntk_net_config_default(d, widths[0]);
    c.depth = L;
    for (size_t l = 0; l < L; l++) c.widths[l] = widths[l];
    c.bias_std = sb;
    c.act.kind = act;
    c.seed = seed;
    return c;
}

static ntk_gd_config layer_rates(size_t L, const double *eta, ntk_loss_kind loss)
{
    ntk_gd_config g = {.lr1 = eta[0], .lr2 = eta[L], .loss = loss, .nlr = L + 1};
    for (size_t l = 0; l <= L; l++) g.lrs[l] = eta[l];
    return g;
}

/* ---- Tolerances ----------------------------------------------------------
 * Two float64 computations of one quantity (the linearized network stepped
 * through Jacobian products, closed-form kernel GD on the structured
 * kernel; a network through the deep passes and through the two-layer code)
 * agree in exact arithmetic and differ by rounding. Each product of length k
 * rounds by at most k·ε relative to the sum of its terms' sizes; a
 * prediction at time t collects that of every step taken (t_it) and of the
 * closed form's g_t(K), whose conditioning on K's spectrum is κ_t = 1 +
 * λmax·min(t·x, 1/λ⁺_min) for stable rates (x = c, the loss scale, K holding
 * Σ_l η_l Θ_l), so
 *   |Δf| ≤ C_ROUND·(n + P)·ε·(t_it + κ_t)·S,
 * S = max(1, ‖y‖∞, ‖f0‖∞) + ‖r0‖₂·(1 + h_t‖K_test‖_{2,∞}) the size of the
 * predictions and of the sums behind them (h_t ≤ min(t·x, 1/λ⁺_min)), with
 * C_ROUND = 4 for the two or three roundings a term sees (a product, a
 * scaling, an addition). The flow adds the integrator's error, estimated by
 * the same run at a tenth of its tolerance: twice the change. */
#define C_ROUND 4.0


/* C_ROUND·(n + P)·ε·(t_it + κ_t), and S into *S */
static double round_rel(const model_spec *s, size_t n, size_t P, double x, double t, double t_it,
                        double ymax, double r0, double *S)
{
    double ht = s->singular ? t * x : fmin(t * x, 1.0 / s->lpos);
    double kappa = 1.0 + (x * s->lmax <= 1.0 ? s->lmax * fmin(t * x, 1.0 / s->lpos)
                                               : t * x * s->lmax);
    *S = fmax(1.0, ymax) + r0 * (1.0 + ht * s->kt);
    return C_ROUND * (double)(n + P) * DBL_EPSILON * (t_it + kappa);
}

static double round_tol(const model_spec *s, size_t n, size_t P, double x, double t, double t_it,
                        double ymax, double r0)
{
    double S, rel = round_rel(s, n, P, x, t, t_it, ymax, r0, &S);
    return rel * S;
}

/* The explicit Jacobian J (n, P) of f(X; θ) by P products J·e_k. */
static void jacobian(const ntk_net_config *c, const double *theta, const double *X, size_t n,
                     double *J)
{
    size_t P = ntk_net_nparams(c);
    double *e = calloc(P, sizeof(double)), *col = malloc(n * sizeof(double));
    for (size_t k = 0; k < P; k++) {
        e[k] = 1.0;
        CHECK_OK(ntk_net_jvp(c, theta, X, n, e, col));
        for (size_t i = 0; i < n; i++) J[i * P + k] = col[i];
        e[k] = 0.0;
    }
    free(e), free(col);
}

/* K (n1, n2) = J1 diag(w_layer) J2ᵀ from explicit Jacobians */
static void kernel_from_jacobians(const ntk_net_config *c, const double *J1, size_t n1,
                                  const double *J2, size_t n2, const double *w, double *K)
{
    size_t P = ntk_net_nparams(c), L = ntk_net_depth(c);
    double *wp = malloc(P * sizeof(double));
    for (size_t l = 1; l <= L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(c, l, &nW, &nb);
        for (size_t k = off; k < off + nW + nb; k++) wp[k] = w[l - 1];
    }
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            double s = 0.0;
            for (size_t k = 0; k < P; k++) s += J1[i * P + k] * wp[k] * J2[j * P + k];
            K[i * n2 + j] = s;
        }
    free(wp);
}

/* ---- linearized (Jacobian products) = closed-form kernel GD --------------
 * GD on f_lin(θ) = f(θ0) + J0(θ − θ0) with layer l at rate η_l moves the
 * training predictions by −c·(Σ_l η_l J_l J_lᵀ)(u − y): kernel GD with
 * K = Σ_l η_l Θ_l, the ntk model. The two are computed independently (the
 * network's forward and backward passes each step; the structured kernel's
 * Grams and one eigendecomposition), so agreement to the rounding bound
 * checks both, layer weights and biases included. */
static void test_linearized_equals_kernel_gd(void)
{
    data D = make_data(50, 15, 4, 11);
    size_t w2[] = {24, 16}, w3[] = {20, 12, 16};
    double e2[] = {1.0, 0.5, 2.0}, e3[] = {0.7, 0.0, 1.0, 0.4}, e3b[] = {0.002, 0.0035, 0.0, 0.0012};
    struct {
        size_t L;
        const size_t *w;
        double sb;
        ntk_act_kind act;
        const double *eta;
        ntk_loss_kind loss;
        int flow, centered;
        ntk_param_kind param;
    } cases[] = {
        {2, w2, 0.3, NTK_ACT_TANH, e2, NTK_LOSS_MEAN, 0, 0, NTK_PARAM_NTK},
        {3, w3, 0.2, NTK_ACT_RELU, e3, NTK_LOSS_MEAN, 0, 1, NTK_PARAM_NTK},
        {3, w3, 0.5, NTK_ACT_ERF, e3b, NTK_LOSS_SUM, 0, 0, NTK_PARAM_STANDARD},
        {2, w2, 0.1, NTK_ACT_ERF, e2, NTK_LOSS_MEAN, 1, 0, NTK_PARAM_NTK},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        ntk_net_config nc = deep_cfg(D.d, cases[ci].L, cases[ci].w, cases[ci].sb, cases[ci].act, 20 + ci);
        nc.centered = cases[ci].centered;
        nc.parameterization = cases[ci].param;
        if (nc.parameterization == NTK_PARAM_STANDARD) nc.weight_std = 1.3;
        ntk_gd_config gd = layer_rates(cases[ci].L, cases[ci].eta, cases[ci].loss);
        ntk_run_config rc = ntk_run_config_default(nc, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK;
        rc.flow = cases[ci].flow;
        rc.flow_rtol = 1e-11;
        rc.kernel_every = 0;
        ntk_run_data rd = run_data(&D);
        ntk_run *r = NULL, *rf = NULL;
        CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &r));
        if (!r) continue;
        if (rc.flow) {
            ntk_run_config rc2 = rc;
            rc2.flow_rtol = rc.flow_rtol / 10;
            CHECK_OK(ntk_run_create(&rc2, &rd, NULL, NULL, &rf));
        }
        size_t P = ntk_net_nparams(&nc), L = cases[ci].L;
        double *theta0 = malloc(P * sizeof(double));
        CHECK_OK(ntk_init_theta(&nc, theta0));
        double u0[50], ft0[15];
        if (nc.centered) {
            memset(u0, 0, sizeof u0), memset(ft0, 0, sizeof ft0);
        } else {
            CHECK_OK(ntk_forward_theta(&nc, theta0, D.X, D.n, u0));
            CHECK_OK(ntk_forward_theta(&nc, theta0, D.Xt, D.nt, ft0));
        }
        /* K = Σ η_l Θ_l by the structured kernel, for the bound's spectrum */
        double *K = malloc(D.n * D.n * sizeof(double)), *Kt = malloc(D.nt * D.n * sizeof(double));
        ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &nc);
        kd.theta = theta0;
        kd.layer_weights = cases[ci].eta;
        CHECK_OK(ntk_kernel(&kd, D.X, D.n, NULL, 0, K));
        CHECK_OK(ntk_kernel(&kd, D.Xt, D.nt, D.X, D.n, Kt));
        model_spec si = model_spectrum(K, D.n, Kt, D.nt);
        double x = ntk_loss_scale(gd.loss, D.n);
        double ymax = fmax(norm_inf(D.y, D.n), norm_inf(ft0, D.nt)), r0 = 0.0;
        for (size_t i = 0; i < D.n; i++) r0 += (D.y[i] - u0[i]) * (D.y[i] - u0[i]);
        r0 = sqrt(r0);
        double tg[] = {0, 1, 3, 10, 30}, tf[] = {0, 0.4, 1.5, 5};
        const double *times = rc.flow ? tf : tg;
        int nts = rc.flow ? 4 : 5;
        double worst = 0.0;
        for (int k = 0; k < nts; k++) {
            double t = times[k], fa[65], fb[65], ff[65];
            CHECK_OK(ntk_run_advance(r, t));
            CHECK_OK(ntk_run_predictions(r, 1, fa, fa + 50));
            CHECK_OK(ntk_run_predictions(r, 3, fb, fb + 50));
            if (rf) {
                CHECK_OK(ntk_run_advance(rf, t));
                CHECK_OK(ntk_run_predictions(rf, 1, ff, ff + 50));
            }
            double tol = round_tol(&si, D.n, P, x, t, rc.flow ? 0.0 : t, ymax, r0);
            for (int i = 0; i < 65; i++) {
                double b = tol + (rf ? 2.0 * fabs(fa[i] - ff[i]) : 0.0), e = fabs(fa[i] - fb[i]);
                worst = fmax(worst, e == 0.0 ? 0.0 : e / b);
            }
        }
        CHECK_LE(worst, 1.0, "case %zu (L = %zu): linearized vs closed-form ntk, error / bound", ci, L);
        /* ntk_run_predict_at on the test inputs gives the test predictions */
        double fa[15], fb[15];
        CHECK_OK(ntk_run_predictions(r, 1, NULL, fa));
        CHECK_OK(ntk_run_predict_at(r, 1, D.Xt, D.nt, fb));
        CHECK_LE(t_max_rel_err(fb, fa, D.nt), C_ROUND * (double)(D.n + P) * DBL_EPSILON,
                 "case %zu: linearized predict_at = test predictions", ci);
        free(K), free(Kt), free(theta0);
        ntk_run_free(r);
        ntk_run_free(rf);
    }
    free_data(&D);
}

/* ---- lazy training: nn − linearized falls with the width ------------------
 * At a fixed training time, sup_t |f_nn − f_lin| = O(m^{-1/2}) in the NTK
 * parameterisation (Jacot et al. 2018; Lee et al. 2019), so gap_linearized,
 * a mean squared difference, is O(1/m): 16 times smaller at width 1024
 * than at 64. The check asks for a factor 4 (the constants of two random
 * draws differ) at depths 2 and 3 with biases. At t = 0 both models are
 * f(θ0), the gap 0 up to the rounding of two forward passes. */
static void test_lazy_ordering(void)
{
    data D = make_data(40, 10, 5, 12);
    for (size_t L = 2; L <= 3; L++) {
        double gap[2];
        size_t widths[2] = {64, 1024};
        for (int k = 0; k < 2; k++) {
            size_t w[3] = {widths[k], widths[k], widths[k]};
            ntk_net_config nc = deep_cfg(D.d, L, w, 0.2, NTK_ACT_TANH, 3);
            double eta[4] = {1.0, 1.0, 1.0, 1.0};
            ntk_run_config rc = ntk_run_config_default(nc, layer_rates(L, eta, NTK_LOSS_MEAN));
            rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
            rc.kernel_every = 0;
            rc.flips = 0;
            ntk_run_data rd = run_data(&D);
            ntk_run *r = NULL;
            CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &r));
            if (!r) return;
            double row[64];
            int gcol = -1;
            for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
                if (!strcmp(ntk_run_column(r, c), "gap_linearized_train")) gcol = (int)c;
            CHECK(gcol > 0, "gap column");
            CHECK_OK(ntk_run_metrics(r, 0, row));
            /* two forward passes of width w, each rounding by ≲ (d + L·w)ε
             * of max|f|-sized sums: the gap is below that squared */
            double fe = C_ROUND * (double)(D.d + L * widths[k]) * DBL_EPSILON * fmax(1.0, norm_inf(D.y, D.n));
            CHECK_LE(row[gcol], 4.0 * fe * fe, "L = %zu, m = %zu: gap at t = 0", L, widths[k]);
            CHECK_OK(ntk_run_advance(r, 20));
            CHECK_OK(ntk_run_metrics(r, 0, row));
            gap[k] = row[gcol];
            ntk_run_free(r);
        }
        CHECK(gap[1] > 0 && gap[1] * 4.0 < gap[0],
              "L = %zu: gap_linearized_train %.3g at m = 64, %.3g at m = 1024 (expected ratio ~16, "
              "at least 4)", L, gap[0], gap[1]);
    }
    free_data(&D);
}

/* ---- L = 1 through the deep code = the two-layer run -----------------------
 * (a) widths[0] = 24 with m = 7 is flagged deep (ntk_net_is_deep) but is
 * the two-layer network of width 24, drawn the same way; (b) the standard
 * parameterisation with σ_w = 1 is the same function at θ0 (W_std = c_l·W),
 * and GD on W_std at rate c_l²·η_l moves the function exactly as GD on W at
 * rate η_l (c_1 = 1/s, c_2 = 1/√m), so the kernels Σ η'_l Θ^std_l equal
 * Σ η_l Θ_l too. Every model's predictions and every shared metric agree
 * with the two-layer run to the rounding bound; the two runs share no code
 * for the network, its Jacobian or its kernels. */
/* e = rel·S bounds every prediction's difference (rel = C_ROUND(n + P)ε(t_it
 * + κ_t), S the predictions' size, as in round_tol). A loss column then
 * differs by at most max|r|·e + e² (mean squared residuals), a gap by
 * 4·max|f_nn − f_model|·e + 4e²; a column of parameter space (distances,
 * gradient norm, the drift ratio) by rel times its size, λ_min of the
 * drift kernel by rel·λ_max (Weyl), and the envelope L0(1 − cλ)^t, whose
 * rate cλ moves by rel·cλ_max (Weyl again), by its size times rel(1 +
 * t·cλ_max/(1 − cλ)). */
static void compare_runs(const char *what, ntk_run *ra, ntk_run *rb, const data *D, double rel,
                         double S, int function_space)
{
    /* columns of parameter space (distances, gradient, the unweighted NTK's
     * drift): another parameterisation has other values */
    static const char *const param_cols[] = {"theta_dist", "w_dist_fro", "v_dist", "w_dist_max_row",
                                             "grad_norm", "ntk_drift", "ntk_lambda_min"};
    double e = rel * S, fa[NTK_NMODELS][80], fb[80], rmax = 0.0, dmax = 0.0;
    size_t nn = D->n + D->nt;
    for (int k = 0; k < NTK_NMODELS; k++) {
        if (ntk_run_predictions(ra, k, fa[k], fa[k] + D->n) != NTK_OK) continue;
        CHECK_OK(ntk_run_predictions(rb, k, fb, fb + D->n));
        double ek = 0.0;
        for (size_t i = 0; i < nn; i++) {
            ek = fmax(ek, fabs(fa[k][i] - fb[i]));
            rmax = fmax(rmax, fabs(fb[i] - (i < D->n ? D->y[i] : D->yt[i - D->n])));
            dmax = fmax(dmax, fabs(fb[i] - fa[0][i]));
        }
        CHECK_LE(ek, e, "%s: model %s, max |difference|", what, ntk_model_name(k));
    }
    ntk_run_theory th, tha;
    CHECK_OK(ntk_run_theory_get(rb, &th));
    CHECK_OK(ntk_run_theory_get(ra, &tha));
    double rowa[64], rowb[64];
    CHECK_OK(ntk_run_metrics(ra, 1, rowa));
    CHECK_OK(ntk_run_metrics(rb, 1, rowb));
    for (size_t c = 1; c < ntk_run_ncolumns(ra); c++) {
        const char *name = ntk_run_column(ra, c);
        for (size_t j = 0; j < ntk_run_ncolumns(rb); j++) {
            if (strcmp(name, ntk_run_column(rb, j))) continue;
            if (isnan(rowa[c]) && isnan(rowb[j])) continue;
            int param = 0;
            for (size_t q = 0; q < sizeof param_cols / sizeof param_cols[0]; q++)
                param |= !strcmp(name, param_cols[q]);
            if (param && function_space) continue;
            double tol = strstr(name, "_loss") ? rmax * e + e * e
                         : !strncmp(name, "gap_", 4) ? 4.0 * dmax * e + 4.0 * e * e
                         : !strcmp(name, "ntk_lambda_min") ? rel * th.ntk_lmax
                         : !strcmp(name, "envelope") ? fabs(rowb[j]) * rel * (1.0 + rowb[0] * th.stability / (1.0 - fmin(th.envelope_rate, 0.5)))
                         : rel * fmax(1.0, fabs(rowb[j]));
            CHECK_LE(fabs(rowa[c] - rowb[j]), tol, "%s: column %s (%.17g vs %.17g)", what, name,
                     rowa[c], rowb[j]);
        }
    }
}

static void test_L1_deep_paths(void)
{
    data D = make_data(50, 20, 5, 13);
    ntk_net_config two = ntk_net_config_default(D.d, 24);
    two.act.kind = NTK_ACT_TANH;
    two.seed = 5;
    ntk_gd_config g2 = {.lr1 = 1.5, .lr2 = 0.8, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc2 = ntk_run_config_default(two, g2);
    rc2.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
    rc2.kernel_subsample = 30;
    ntk_run_data rd = run_data(&D);
    size_t P = 24 * (D.d + 1);
    for (int variant = 0; variant < 2; variant++) {
        ntk_net_config dc = two;
        ntk_gd_config gd = g2;
        if (variant == 0) {
            dc.m = 7;
            dc.widths[0] = 24;
        } else {
            dc.parameterization = NTK_PARAM_STANDARD;
            double s = sqrt((double)D.d);
            gd.lr1 = g2.lr1 / (s * s);
            gd.lr2 = g2.lr2 / 24.0;
        }
        CHECK(ntk_net_is_deep(&dc) == 1, "variant %d takes the deep code", variant);
        ntk_run_config rcd = rc2;
        rcd.net = dc;
        rcd.gd = gd;
        for (int flow = 0; flow <= 1; flow++) {
            ntk_run_config a = rcd, b = rc2;
            a.flow = b.flow = flow;
            a.flow_rtol = b.flow_rtol = 1e-12;
            ntk_run *ra = NULL, *rb = NULL;
            CHECK_OK(ntk_run_create(&a, &rd, NULL, NULL, &ra));
            CHECK_OK(ntk_run_create(&b, &rd, NULL, NULL, &rb));
            if (!ra || !rb) {
                ntk_run_free(ra), ntk_run_free(rb);
                continue;
            }
            /* the rates have one rounding each, the two codes' sums others:
             * the rounding bound above with its kernel's spectrum */
            double *K = malloc(D.n * D.n * sizeof(double)), *Kt = malloc(D.nt * D.n * sizeof(double));
            double *W0 = malloc(24 * D.d * sizeof(double)), *v0 = malloc(24 * sizeof(double));
            CHECK_OK(ntk_init_weights(&two, W0, v0));
            ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &two);
            kd.W = W0, kd.v = v0, kd.c1 = g2.lr1, kd.c2 = g2.lr2;
            CHECK_OK(ntk_kernel(&kd, D.X, D.n, NULL, 0, K));
            CHECK_OK(ntk_kernel(&kd, D.Xt, D.nt, D.X, D.n, Kt));
            model_spec si = model_spectrum(K, D.n, Kt, D.nt);
            double u0[50];
            CHECK_OK(ntk_forward(&two, W0, v0, D.X, D.n, u0));
            double r0 = 0.0;
            for (size_t i = 0; i < D.n; i++) r0 += (D.y[i] - u0[i]) * (D.y[i] - u0[i]);
            double t = flow ? 2.0 : 15.0, x = 1.0 / (double)D.n;
            CHECK_OK(ntk_run_advance(ra, t));
            CHECK_OK(ntk_run_advance(rb, t));
            double S = 0.0, rel = round_rel(&si, D.n, P, x, t, flow ? 0.0 : t, norm_inf(D.y, D.n),
                                            sqrt(r0), &S);
            /* the flow: both integrators at rtol 1e-12 on the same field,
             * each within about 1e-12 relative, added */
            if (flow) rel += 2e-12;
            char what[64];
            snprintf(what, sizeof what, "%s, %s", variant ? "standard parameterisation" : "widths[0] = m",
                     flow ? "flow" : "GD");
            compare_runs(what, ra, rb, &D, rel, S, variant == 1);
            if (variant == 0) {
                /* the same θ0, the same draw */
                const double *ta = ntk_net_theta0(ntk_run_net(ra));
                double e = 0.0;
                for (size_t k = 0; k < 24 * D.d; k++) e = fmax(e, fabs(ta[k] - W0[k]));
                for (size_t k = 0; k < 24; k++) e = fmax(e, fabs(ta[24 * D.d + k] - v0[k]));
                CHECK(e == 0.0, "widths[0] = m: theta0 is the two-layer draw (max diff %g)", e);
            }
            free(K), free(Kt), free(W0), free(v0);
            ntk_run_free(ra), ntk_run_free(rb);
        }
    }
    /* per-layer rates for the two-layer network (nlr = 2) run the same
     * code as lr1, lr2: bit for bit */
    ntk_run_config rl = rc2;
    rl.gd.nlr = 2;
    rl.gd.lrs[0] = g2.lr1, rl.gd.lrs[1] = g2.lr2;
    rl.gd.lr1 = 99, rl.gd.lr2 = 99;   /* ignored with nlr */
    ntk_run *ra = NULL, *rb = NULL;
    CHECK_OK(ntk_run_create(&rl, &rd, NULL, NULL, &ra));
    CHECK_OK(ntk_run_create(&rc2, &rd, NULL, NULL, &rb));
    if (ra && rb) {
        CHECK_OK(ntk_run_advance(ra, 7));
        CHECK_OK(ntk_run_advance(rb, 7));
        double fa[80], fb[80];
        for (int k = 0; k < NTK_NMODELS; k++) {
            if (ntk_run_predictions(rb, k, fb, fb + D.n) != NTK_OK) continue;
            CHECK_OK(ntk_run_predictions(ra, k, fa, fa + D.n));
            CHECK(!memcmp(fa, fb, (D.n + D.nt) * sizeof(double)), "nlr = 2 vs lr1, lr2: model %s bit for bit",
                  ntk_model_name(k));
        }
    }
    ntk_run_free(ra), ntk_run_free(rb);
    free_data(&D);
}

/* ---- frozen layers and θ0 --------------------------------------------------
 * A layer at rate 0 keeps its weights and biases bit for bit (GD and flow);
 * θ0 handed to ntk_run_create (v0 NULL) gives the run of the drawn θ0. */
static void test_frozen_and_theta0(void)
{
    data D = make_data(30, 8, 4, 14);
    size_t w[] = {12, 10, 8};
    ntk_net_config nc = deep_cfg(D.d, 3, w, 0.4, NTK_ACT_GELU, 9);
    double eta[] = {1.0, 0.0, 0.5, 0.0};
    ntk_run_data rd = run_data(&D);
    size_t P = ntk_net_nparams(&nc);
    for (int flow = 0; flow <= 1; flow++) {
        ntk_run_config rc = ntk_run_config_default(nc, layer_rates(3, eta, NTK_LOSS_MEAN));
        rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
        rc.flow = flow;
        rc.kernel_every = 0;
        ntk_run *r = NULL;
        CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &r));
        if (!r) continue;
        CHECK_OK(ntk_run_advance(r, flow ? 1.0 : 10.0));
        const double *th = ntk_net_theta(ntk_run_net(r)), *th0 = ntk_net_theta0(ntk_run_net(r));
        for (size_t l = 1; l <= 4; l++) {
            size_t nW, nb, off = ntk_net_layer_offset(&nc, l, &nW, &nb), moved = 0;
            for (size_t k = off; k < off + nW + nb; k++) moved += th[k] != th0[k];
            if (eta[l - 1] == 0)
                CHECK(moved == 0, "%s: frozen layer %zu moved in %zu of %zu parameters",
                      flow ? "flow" : "GD", l, moved, nW + nb);
            else
                CHECK(moved == nW + nb, "%s: trained layer %zu: %zu of %zu parameters moved",
                      flow ? "flow" : "GD", l, moved, nW + nb);
        }
        /* θ_dist counts the trained layers only: w_dist_fro² + v_dist² is
         * all of them, and v_dist (the frozen output layer) is 0 */
        double row[64];
        CHECK_OK(ntk_run_metrics(r, 0, row));
        for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
            if (!strcmp(ntk_run_column(r, c), "v_dist")) CHECK(row[c] == 0.0, "v_dist %g", row[c]);
        ntk_run_free(r);
    }
    /* θ0 given */
    double *theta0 = malloc(P * sizeof(double));
    CHECK_OK(ntk_init_theta(&nc, theta0));
    ntk_run_config rc = ntk_run_config_default(nc, layer_rates(3, eta, NTK_LOSS_MEAN));
    rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK;
    ntk_run *ra = NULL, *rb = NULL;
    CHECK_OK(ntk_run_create(&rc, &rd, theta0, NULL, &ra));
    CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &rb));
    if (ra && rb) {
        CHECK_OK(ntk_run_advance(ra, 5));
        CHECK_OK(ntk_run_advance(rb, 5));
        double fa[38], fb[38];
        for (int k = 0; k < NTK_NMODELS; k++) {
            if (ntk_run_predictions(rb, k, fb, fb + D.n) != NTK_OK) continue;
            CHECK_OK(ntk_run_predictions(ra, k, fa, fa + D.n));
            CHECK(!memcmp(fa, fb, sizeof fa), "theta0 given = drawn: model %s", ntk_model_name(k));
        }
    }
    ntk_run_free(ra), ntk_run_free(rb);
    free(theta0);
    free_data(&D);
}

/* ---- theory at depth ---------------------------------------------------------
 * λ_min, λ_max of the trained layers' Θ(0) and c·λ_max(Σ η_l Θ_l) against
 * the eigenvalues of J diag(w) Jᵀ from the explicit Jacobian (Weyl: the
 * eigenvalues move by at most the rounding of the two kernels, ≤
 * C_ROUND·(n + P)·ε·‖J‖²-sized sums); the two-layer bounds are NaN; the
 * Lipschitz estimate is a Rayleigh quotient of ΔJ ΔJᵀ, so at most its
 * λ_max, and by power iteration within a few percent of it here. */
static void test_theory_and_estimate(void)
{
    data D = make_data(25, 5, 3, 15);
    size_t w[] = {9, 7};
    ntk_net_config nc = deep_cfg(D.d, 2, w, 0.3, NTK_ACT_TANH, 4);
    double eta[] = {0.8, 0.0, 1.2};
    ntk_run_config rc = ntk_run_config_default(nc, layer_rates(2, eta, NTK_LOSS_MEAN));
    rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED | NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
    rc.kernel_subsample = 0;
    ntk_run_data rd = run_data(&D);
    ntk_run *r = NULL;
    CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &r));
    if (!r) return;
    size_t P = ntk_net_nparams(&nc), n = D.n;
    double *J = malloc(n * P * sizeof(double)), *K = malloc(n * n * sizeof(double)), ev[25];
    const double *th0 = ntk_net_theta0(ntk_run_net(r));
    jacobian(&nc, th0, D.X, n, J);
    double jmax = 0.0;
    for (size_t k = 0; k < n * P; k++) jmax = fmax(jmax, fabs(J[k]));
    double tol = C_ROUND * (double)(n + P) * DBL_EPSILON * (double)P * jmax * jmax * 2.0;
    ntk_run_theory th;
    CHECK_OK(ntk_run_theory_get(r, &th));
    double tw[] = {1.0, 0.0, 1.0};
    kernel_from_jacobians(&nc, J, n, J, n, tw, K);
    CHECK_OK(ntk_eigh(K, n, ev, NULL));
    CHECK_LE(fabs(th.ntk_lmin - ev[0]), tol, "lambda_min of the trained layers' Theta(0)");
    CHECK_LE(fabs(th.ntk_lmax - ev[n - 1]), tol * 3, "lambda_max of the trained layers' Theta(0)");
    kernel_from_jacobians(&nc, J, n, J, n, eta, K);
    CHECK_OK(ntk_eigh(K, n, ev, NULL));
    double c = 1.0 / (double)n;
    CHECK_LE(fabs(th.stability - c * ev[n - 1]), c * tol * 3, "c*lambda_max(sum eta_l Theta_l)");
    CHECK(th.spectra_exact == 1.0, "spectra exact on all points");
    CHECK(isnan(th.D_bound) && isnan(th.flip_bound_D) && isnan(th.beta_bound) &&
          isnan(th.horizon_T) && isnan(th.alpha_condition), "two-layer bounds are NaN at depth");
    CHECK(isfinite(th.weight_bound) && th.weight_bound > 0, "weight bound %g", th.weight_bound);
    /* the Lipschitz estimate after some training */
    CHECK_OK(ntk_run_advance(r, 30));
    double beta;
    CHECK_OK(ntk_run_beta_estimate(r, &beta));
    const double *th1 = ntk_net_theta(ntk_run_net(r));
    double *J1 = malloc(n * P * sizeof(double));
    jacobian(&nc, th1, D.X, n, J1);
    double dth = 0.0;
    for (size_t l = 1; l <= 3; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(&nc, l, &nW, &nb);
        for (size_t k = off; k < off + nW + nb; k++) {
            if (eta[l - 1] > 0) dth += (th1[k] - th0[k]) * (th1[k] - th0[k]);
            if (eta[l - 1] == 0)
                for (size_t i = 0; i < n; i++) J1[i * P + k] = J[i * P + k];   /* frozen: no ΔJ */
        }
    }
    for (size_t k = 0; k < n * P; k++) J1[k] -= J[k];
    double ones[] = {1.0, 1.0, 1.0};
    kernel_from_jacobians(&nc, J1, n, J1, n, ones, K);
    CHECK_OK(ntk_eigh(K, n, ev, NULL));
    double truth = sqrt(ev[n - 1]) / nc.alpha / sqrt(dth);
    CHECK(beta <= truth * (1.0 + 1e-8) && beta >= 0.95 * truth,
          "Lipschitz estimate %.10g against sigma_max(Delta J)/|Delta theta| = %.10g", beta, truth);
    free(J), free(J1), free(K);
    ntk_run_free(r);
    free_data(&D);
}

/* ---- the kernel models behind operators ------------------------------------------
 * The ntk and ntk_inf models at depth with K = Σ η_l Θ_l stored (dense,
 * eigendecomposition), matrix-free (Lanczos on J(Jᵀu) products, and on
 * Θ∞ tiles) and in float32: Lanczos stops at 1e-10·‖r0‖ (src/kgd.c), so
 * two runs differ by at most twice that, plus each product's error δ·‖K‖
 * (δ = C_ROUND(n + P)ε for the matrix-free products of P-parameter
 * Jacobians, 2^-24 for float32 storage) carried by t steps of c·K:
 * t·c·δ·λmax·‖r0‖ with λmax ≤ trace K, plus the rounding of the
 * predictions, C_ROUND·n·ε·(t + 1) times their size. */
static void test_kernel_operator_modes(void)
{
    enum { n = 240, nt = 30 };
    data D = make_data(n, nt, 4, 17);
    size_t w[] = {24, 16};
    ntk_net_config net = deep_cfg(D.d, 2, w, 0.3, NTK_ACT_ERF, 6);
    double eta[] = {0.7, 0.4, 0.9};
    ntk_op_mode modes[3] = {NTK_OP_DENSE, NTK_OP_MATRIX_FREE, NTK_OP_DENSE_F32};
    ntk_run *r[3] = {NULL, NULL, NULL};
    ntk_run_data rd = run_data(&D);
    for (int i = 0; i < 3; i++) {
        ntk_run_config rc = ntk_run_config_default(net, layer_rates(2, eta, NTK_LOSS_MEAN));
        rc.models = NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
        rc.kernel_operator = modes[i];
        rc.kernel_every = 0;
        rc.t_max = 150;
        CHECK_OK(ntk_run_create(&rc, &rd, NULL, NULL, &r[i]));
    }
    if (!r[0] || !r[1] || !r[2]) {
        for (int i = 0; i < 3; i++) ntk_run_free(r[i]);
        free_data(&D);
        return;
    }
    size_t P = ntk_net_nparams(&net);
    static double f[3][n], g[3][nt];
    double r0[2] = {0, 0}, trace[2] = {0, 0};
    for (int inf = 0; inf < 2; inf++) {
        ntk_kernel_desc kd = ntk_kernel_desc_default(inf ? NTK_KERNEL_INFINITE : NTK_KERNEL_EMPIRICAL, &net);
        kd.theta = ntk_net_theta0(ntk_run_net(r[0]));
        kd.layer_weights = eta;
        kd.diagonal = 1;
        double diag[n];
        CHECK_OK(ntk_kernel(&kd, D.X, n, NULL, 0, diag));
        for (size_t j = 0; j < n; j++) trace[inf] += diag[j];
    }
    int done = 0;
    for (int step = 0; step <= 150; step += 50) {
        if (step) for (int i = 0; i < 3; i++) CHECK_OK(ntk_run_advance(r[i], step));
        for (int k = 3; k <= 4; k++) {
            for (int i = 0; i < 3; i++) CHECK_OK(ntk_run_predictions(r[i], k, f[i], g[i]));
            if (step == 0) {
                for (size_t j = 0; j < n; j++) r0[k - 3] += (D.y[j] - f[0][j]) * (D.y[j] - f[0][j]);
                r0[k - 3] = sqrt(r0[k - 3]);
            }
            double scale = fmax(norm_inf(f[0], n), norm_inf(g[0], nt));
            for (int i = 1; i < 3; i++) {
                double delta = i == 1 ? C_ROUND * (double)(n + P) * DBL_EPSILON : 0x1p-24;
                double tol = 2.0 * 1e-10 * r0[k - 3] + (double)step / n * delta * trace[k - 3] * r0[k - 3] +
                             C_ROUND * (double)n * DBL_EPSILON * (double)(step + 1) * scale;
                double eu = 0, ef = 0;
                for (size_t j = 0; j < n; j++) eu = fmax(eu, fabs(f[i][j] - f[0][j]));
                for (size_t j = 0; j < nt; j++) ef = fmax(ef, fabs(g[i][j] - g[0][j]));
                CHECK_LE(eu, tol, "%s %s step %d: train", ntk_model_name(k), ntk_op_mode_name(modes[i]), step);
                CHECK_LE(ef, tol, "%s %s step %d: test", ntk_model_name(k), ntk_op_mode_name(modes[i]), step);
            }
            done++;
        }
    }
    CHECK(done == 8, "compared %d times", done);
    for (int i = 0; i < 3; i++) ntk_run_free(r[i]);
    free_data(&D);
}

/* ---- refusals ----------------------------------------------------------------- */
static void test_refusals(void)
{
    data D = make_data(20, 5, 3, 16);
    size_t w[] = {8, 8};
    ntk_net_config nc = deep_cfg(D.d, 2, w, 0.0, NTK_ACT_RELU, 1);
    double eta[] = {1, 1, 1};
    ntk_run_config rc = ntk_run_config_default(nc, layer_rates(2, eta, NTK_LOSS_MEAN));
    ntk_run_data rd = run_data(&D);
    ntk_run *r = NULL;
    /* the default models include lin: refused at depth, naming the fix */
    CHECK_ERR(ntk_run_create(&rc, &rd, NULL, NULL, &r), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "lin") && strstr(ntk_errmsg(), "--models"), "message: %s", ntk_errmsg());
    CHECK(r == NULL, "no run");
    /* and for every other way of leaving the two-layer network */
    ntk_net_config v[3] = {ntk_net_config_default(D.d, 8), ntk_net_config_default(D.d, 8),
                           ntk_net_config_default(D.d, 8)};
    v[0].bias_std = 0.1;
    v[1].parameterization = NTK_PARAM_STANDARD;
    v[2].weight_std = 2.0;
    for (int k = 0; k < 3; k++) {
        ntk_run_config rk = ntk_run_config_default(v[k], (ntk_gd_config){.lr1 = 1, .lr2 = 1});
        CHECK_ERR(ntk_run_create(&rk, &rd, NULL, NULL, &r), NTK_ERR_ARG);
        rk.models &= ~(unsigned)NTK_MODEL_LIN;
        rk.kernel_every = 0;
        CHECK_OK(ntk_run_create(&rk, &rd, NULL, NULL, &r));
        ntk_run_free(r);
        r = NULL;
    }
    rc.models = NTK_MODEL_NN | NTK_MODEL_NTK;
    /* a wrong number of rates, a negative one, all zero */
    ntk_run_config bad = rc;
    bad.gd.nlr = 2;
    CHECK_ERR(ntk_run_create(&bad, &rd, NULL, NULL, &r), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "give 3"), "message: %s", ntk_errmsg());
    bad = rc;
    bad.gd.lrs[1] = -1;
    CHECK_ERR(ntk_run_create(&bad, &rd, NULL, NULL, &r), NTK_ERR_ARG);
    bad = rc;
    bad.gd.lrs[0] = bad.gd.lrs[1] = bad.gd.lrs[2] = 0;
    CHECK_ERR(ntk_run_create(&bad, &rd, NULL, NULL, &r), NTK_ERR_ARG);
    bad = rc;
    bad.gd.lrs[2] = NAN;
    CHECK_ERR(ntk_run_create(&bad, &rd, NULL, NULL, &r), NTK_ERR_ARG);
    /* memory: the estimate holds θ, θ0 and grows with n and the width */
    size_t P = ntk_net_nparams(&nc), a = ntk_run_mem_bytes(&rc, 100, 10), b = ntk_run_mem_bytes(&rc, 1000, 10);
    ntk_run_config wide = rc;
    wide.net.widths[0] = wide.net.widths[1] = 64;
    size_t c = ntk_run_mem_bytes(&wide, 100, 10);
    CHECK(a >= 2 * P * sizeof(double) && b > a && c > a, "memory estimates %zu %zu %zu", a, b, c);
    free_data(&D);
}

int main(void)
{
    test_refusals();
    test_frozen_and_theta0();
    test_theory_and_estimate();
    test_linearized_equals_kernel_gd();
    test_L1_deep_paths();
    test_lazy_ordering();
    test_kernel_operator_modes();
    return t_finish();
}
