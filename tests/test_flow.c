/* Gradient flow whose right-hand side jumps (src/flow.c): the relu network
 * of Du et al. 2019, small. Oracles: a piecewise-constant ODE solved in
 * closed form, gradient descent at small rates (the explicit Euler method
 * for the same flow, a separate code path: the run's trainer), and the same
 * flow at a 10x tighter tolerance. The cost of the two Runge–Kutta pairs of
 * src/flow.c on one relu flow is measured and printed ("cost" lines).
 *
 * Why the error scales with the tolerance when the right-hand side jumps:
 * a step that straddles a surface where f jumps has a local error (and an
 * error estimate) h·|jump|·O(1), so the controller accepts such a step only
 * once h = O(tol); between surfaces the flow is smooth and the pair's own
 * order applies (error ∝ tol^(q/(q+1)), q = 4: a factor 10^0.8 ≈ 6.3 per
 * decade). The global error then falls by 6 to 10 per decade of tol, times
 * a factor from where in its step each crossing falls (the fraction s of
 * the step before the surface weights the jump: error h·|jump|·|Σ_{stages
 * before} b_i − s|), which differs between two tolerances. The tests
 * below require a factor MIN_DECADE = 3 per decade: a factor 2 of room
 * below the smooth rate for the phases, and far above the factor 1 of an
 * integrator that does not control its error at the jumps. */
#include "harness.h"
#include "ntkit.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= m)) m = e;   /* NaN propagates */
    }
    return m;
}

/* ---- Du et al.'s setting ------------------------------------------------
 * n points uniform on the unit sphere in d, labels N(0, 1), relu, v_r = ±1
 * fixed, s = 1, sum loss, only W trained at unit rate: dW/dt = −∇_W L. */
typedef struct {
    ntk_dataset ds;
    ntk_net_config cfg;
    double *W0, *v0;
    size_t n, d, m;
    size_t nfev;   /* right-hand side evaluations */
} du_problem;

static du_problem du_make(size_t n, size_t d, size_t m, uint64_t seed)
{
    du_problem p;
    memset(&p, 0, sizeof p);
    p.n = n, p.d = d, p.m = m;
    if (ntk_dataset_make(&(ntk_dataset_spec){"unit-sphere", "noise", n, 0, d, seed, 0, NULL}, &p.ds) != NTK_OK) {
        fprintf(stderr, "dataset: %s\n", ntk_errmsg());
        exit(1);
    }
    p.cfg = ntk_net_config_default(d, m);
    p.cfg.init = NTK_INIT_SIGN;
    p.cfg.input_scale = NTK_SCALE_ONE;
    p.cfg.seed = seed;
    p.W0 = malloc(m * d * sizeof(double));
    p.v0 = malloc(m * sizeof(double));
    CHECK_OK(ntk_init_weights(&p.cfg, p.W0, p.v0));
    return p;
}

static void du_free(du_problem *p)
{
    ntk_dataset_free(&p->ds);
    free(p->W0), free(p->v0);
}

static ntk_status du_rhs(void *ctx, double t, const double *W, double *dW)
{
    (void)t;
    du_problem *p = ctx;
    p->nfev++;
    ntk_batch b = {p->ds.X_train, p->ds.y_train, p->n, NTK_LOSS_SUM, NULL};
    ntk_loss_out o = {0.0, dW, NULL, NULL};
    NTK_TRY(ntk_loss_grad(&p->cfg, W, p->v0, &b, &o));
    for (size_t k = 0; k < p->m * p->d; k++) dW[k] = -dW[k];
    return NTK_OK;
}

typedef struct {
    size_t steps, nfev;
    double seconds;
} flow_cost;

/* W (m·d) <- the flow from W0 at time T with tolerance tol and the pair for
 * a smooth (1) or jumping (0) right-hand side */
static flow_cost du_flow(du_problem *p, double T, double tol, int smooth, double *W)
{
    flow_cost c = {0, 0, 0.0};
    memcpy(W, p->W0, p->m * p->d * sizeof(double));
    ntk_ode *ode = NULL;
    CHECK_OK(ntk_ode_create(p->m * p->d, tol, smooth, du_rhs, p, &ode));
    if (!ode) return c;
    p->nfev = 0;
    double t = 0.0, t0 = now();
    CHECK_OK(ntk_ode_advance(ode, &t, T, W));
    c.seconds = now() - t0;
    c.steps = ntk_ode_nsteps(ode);
    c.nfev = p->nfev;
    ntk_ode_free(ode);
    return c;
}

/* ---- a closed-form oracle with jumps -------------------------------------
 * y_j' = −a_j − b_j·1{y_j > 0}: each component falls at rate a_j + b_j
 * until it crosses 0 at t_j = y_j(0)/(a_j + b_j), then at rate a_j, like a
 * pre-activation whose gradient loses a term when its pattern flips. */
#define JN 8
static const double ja[JN] = {0.3, 1.0, 0.5, 2.0, 0.7, 1.3, 0.2, 0.9};
static const double jb[JN] = {1.0, 0.5, 2.0, 1.5, 0.3, 1.1, 2.5, 0.6};
static const double jy0[JN] = {0.8, 0.35, 1.7, 0.9, 0.25, 1.2, 2.1, 0.6};

static ntk_status jump_rhs(void *ctx, double t, const double *y, double *dy)
{
    (void)t;
    size_t *nfev = ctx;
    (*nfev)++;
    for (int j = 0; j < JN; j++) dy[j] = -ja[j] - (y[j] > 0 ? jb[j] : 0.0);
    return NTK_OK;
}

static double jump_exact(int j, double t)
{
    double tj = jy0[j] / (ja[j] + jb[j]);
    return t <= tj ? jy0[j] - (ja[j] + jb[j]) * t : -ja[j] * (t - tj);
}

#define MIN_DECADE 3.0

/* rkf45 against the closed form: the error falls with the tolerance, and
 * twice the change at a 10x tighter tolerance bounds it (the estimate the
 * network tests below rely on: err(τ) ≤ err(τ/10) + change ≤ err(τ)/3 +
 * change, so err(τ) ≤ 1.5·change when the error falls by MIN_DECADE). */
static void test_jump_closed_form(void)
{
    double T = 3.0;   /* every component has crossed (t_j ≤ 1.2) */
    double tols[] = {1e-4, 1e-5, 1e-6, 1e-7};
    double err[4], y[4][JN];
    for (int i = 0; i < 4; i++) {
        memcpy(y[i], jy0, sizeof y[i]);
        size_t nfev = 0;
        ntk_ode *ode = NULL;
        CHECK_OK(ntk_ode_create(JN, tols[i], 0, jump_rhs, &nfev, &ode));
        if (!ode) return;
        double t = 0.0;
        CHECK_OK(ntk_ode_advance(ode, &t, T, y[i]));
        ntk_ode_free(ode);
        err[i] = 0.0;
        for (int j = 0; j < JN; j++) err[i] = fmax(err[i], fabs(y[i][j] - jump_exact(j, T)));
    }
    for (int i = 0; i < 3; i++) {
        CHECK_LE(MIN_DECADE * err[i + 1], err[i], "jump ODE: error %.3g at tol %.0e, %.3g at %.0e",
                 err[i], tols[i], err[i + 1], tols[i + 1]);
        double change = 0.0;
        for (int j = 0; j < JN; j++) change = fmax(change, fabs(y[i][j] - y[i + 1][j]));
        CHECK_LE(err[i], 2.0 * change, "jump ODE: error %.3g at tol %.0e, change %.3g at tol/10",
                 err[i], tols[i], change);
    }
}

/* The run's relu flow: the nn model of ntk_run (src/model_nn.c, which picks
 * the pair) in Du et al.'s setting: predictions u on the training points
 * and the weights W at time (flow) or step (GD) t. */
static void run_du(const du_problem *p, int flow, double rate, double rtol, double t, double *u, double *W)
{
    ntk_gd_config gd = {.lr1 = rate, .lr2 = 0.0, .loss = NTK_LOSS_SUM};
    ntk_run_config rc = ntk_run_config_default(p->cfg, gd);
    rc.models = NTK_MODEL_NN;
    rc.flow = flow;
    rc.flow_rtol = rtol;
    rc.kernel_every = 0;
    ntk_run *r = NULL;
    CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){p->ds.X_train, p->ds.y_train, p->n, NULL, NULL, 0},
                            p->W0, p->v0, &r));
    if (!r) return;
    CHECK_OK(ntk_run_advance(r, t));
    CHECK_OK(ntk_run_predictions(r, 0, u, NULL));
    memcpy(W, ntk_net_W(ntk_run_net(r)), p->m * p->d * sizeof(double));
    ntk_run_free(r);
}

/* max_r ‖a_r − b_r‖ over the rows of two (m, d) matrices */
static double max_row_diff(const double *a, const double *b, size_t m, size_t d)
{
    double mx = 0.0;
    for (size_t r = 0; r < m; r++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += (a[r * d + k] - b[r * d + k]) * (a[r * d + k] - b[r * d + k]);
        if (!(sqrt(s) <= mx)) mx = sqrt(s);
    }
    return mx;
}

/* Flow at tol 1e-5, 1e-6, 1e-7 and GD at rates ε = 4e-2, 2e-2, 1e-2 for
 * T/ε steps, all to T = 1.
 *
 * The flow meets its tolerance: on the weights (the integrator's state)
 * the changes c1 = |W(1e-5) − W(1e-6)|∞ and c2 = |W(1e-6) − W(1e-7)|∞ must
 * fall by MIN_DECADE (the header). The flow at 1e-7 is then the reference:
 * its error is at most c2/(MIN_DECADE − 1) per row-norm measure below, and
 * since |Δu_i| = |Σ_r v_r(relu(w_r·x_i) − relu(w'_r·x_i))|/√m ≤ √m·max_r
 * ‖w_r − w'_r‖ (‖x_i‖ = 1, |v_r| = 1, relu 1-Lipschitz), its predictions
 * are within E_ref = √m·max_r‖ΔW_r‖(1e-6, 1e-7)/(MIN_DECADE − 1).
 *
 * GD is the explicit Euler method for this flow (docs/theory.md §1.8): a
 * smooth flow gives e(ε) = |u_GD − u_flow|∞ = C1·ε + O(ε²); a step that
 * crosses a surface where ∇L jumps adds ε·|jump|·(1 − s), s the fraction
 * of the step before it, so here e(ε) = C(ε)·ε with C(ε) bounded but moved
 * by the phases s. The order fitted by least squares over the factor 4 of
 * rates (with three points equally spaced in log ε the fit is the slope
 * between the end points) must be within ORDER_BAND of 1: C(ε) may change
 * by 4^0.25 ≈ 1.4 across it; GD that does not approach the flow (order 0)
 * fails. E_ref ≤ e(ε_min)/10, checked, moves that slope by at most
 * log(1.1)/log(4) ≈ 0.07. */
#define ORDER_BAND 0.25
static void test_flow_against_gd(void)
{
    du_problem p = du_make(10, 5, 64, 2);
    size_t P = p.m * p.d;
    double T = 1.0, tols[3] = {1e-5, 1e-6, 1e-7}, uf[3][10], ug[10];
    double *Wf = malloc(3 * P * sizeof(double)), *Wg = malloc(P * sizeof(double));
    for (int i = 0; i < 3; i++) run_du(&p, 1, 1.0, tols[i], T, uf[i], Wf + i * P);
    double c1 = max_abs_diff(Wf, Wf + P, P), c2 = max_abs_diff(Wf + P, Wf + 2 * P, P);
    CHECK_LE(MIN_DECADE * c2, c1, "relu flow: W changes by %.3g from tol 1e-5 to 1e-6, by %.3g from 1e-6 "
             "to 1e-7", c1, c2);
    double e_ref = sqrt((double)p.m) * max_row_diff(Wf + P, Wf + 2 * P, p.m, p.d) / (MIN_DECADE - 1.0);
    double eps[3] = {4e-2, 2e-2, 1e-2}, lx[3], ly[3];
    for (int e = 0; e < 3; e++) {
        run_du(&p, 0, eps[e], 1e-6, round(T / eps[e]), ug, Wg);
        double err = max_abs_diff(ug, uf[2], p.n);
        lx[e] = log(eps[e]), ly[e] = log(err);
        printf("GD rate %.0e: |u_GD − u_flow|∞ = %.3g = %.3g·rate\n", eps[e], err, err / eps[e]);
    }
    printf("flow: W changes %.3g (tol 1e-5 to 1e-6), %.3g (1e-6 to 1e-7); reference error in u <= %.3g\n",
           c1, c2, e_ref);
    CHECK_LE(e_ref, exp(ly[2]) / 10, "relu flow: reference error %.3g against GD's difference at rate 1e-2 "
             "(%.3g)", e_ref, exp(ly[2]));
    double order = (ly[2] - ly[0]) / (lx[2] - lx[0]);
    CHECK_LE(fabs(order - 1.0), ORDER_BAND, "GD against the relu flow: fitted order %.3f, expected 1", order);
    free(Wf), free(Wg);
    du_free(&p);
}

/* The two pairs on one relu flow (T = 0.1, tol 1e-6): rk8pd, the pair for
 * smooth flows (and the only one before), against rkf45. Printed for the
 * record. Checks: rkf45 needs at least 10 times fewer evaluations of ∇L
 * (each costs two GEMMs) at the same tolerance, and fewer than rk8pd even
 * at a 10x tighter one. Evaluation counts, not seconds: they do not depend
 * on the machine's load. */
static void test_cost(void)
{
    du_problem p = du_make(10, 5, 64, 2);
    size_t P = p.m * p.d;
    double T = 0.1;
    double *W8 = malloc(P * sizeof(double)), *W4 = malloc(P * sizeof(double)), *W4t = malloc(P * sizeof(double));
    flow_cost c8 = du_flow(&p, T, 1e-6, 1, W8);
    flow_cost c4 = du_flow(&p, T, 1e-6, 0, W4);
    flow_cost c4t = du_flow(&p, T, 1e-7, 0, W4t);
    printf("cost relu flow n = 10, d = 5, m = 64 to t = %g, tol 1e-6: rk8pd %zu steps, %zu evaluations, "
           "%.3f s; rkf45 %zu steps, %zu evaluations, %.3f s (at tol 1e-7: %zu steps, %zu evaluations, "
           "%.3f s); |W_rk8pd − W_rkf45| = %.3g, |W_rk8pd − W_rkf45(1e-7)| = %.3g\n", T,
           c8.steps, c8.nfev, c8.seconds, c4.steps, c4.nfev, c4.seconds, c4t.steps, c4t.nfev, c4t.seconds,
           max_abs_diff(W8, W4, P), max_abs_diff(W8, W4t, P));
    CHECK_LE(10.0 * (double)c4.nfev, (double)c8.nfev, "evaluations at tol 1e-6: rkf45 %zu, rk8pd %zu",
             c4.nfev, c8.nfev);
    CHECK_LE((double)c4t.nfev, (double)c8.nfev, "evaluations: rkf45 at tol 1e-7 %zu, rk8pd at 1e-6 %zu",
             c4t.nfev, c8.nfev);
    free(W8), free(W4), free(W4t);
    du_free(&p);
}

int main(void)
{
    test_jump_closed_form();
    test_flow_against_gd();
    test_cost();
    return t_finish();
}
