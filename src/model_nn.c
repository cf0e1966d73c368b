/* Model nn of a run: the network itself, docs/theory.md §1. Gradient descent
 * steps its trainer; gradient flow integrates dθ/dt = −(η1 ∇_W L, η2 ∇_v L)
 * (at depth −η_l ∇_{θ_l} L, layer by layer) with an adaptive Runge–Kutta
 * pair of src/flow.c (a low-order one when φ′ jumps). */
#include "run_internal.h"

#include <string.h>

typedef struct {
    ntk_ode *ode;
    double *theta, *save;   /* flow state [W ; v] and its copy (m·d + m each) */
} nn_state;

static ntk_status nn_step(run_model *m)
{
    ntk_run *r = m->run;
    if (!r->nn_evaluated) NTK_TRY(ntk_trainer_eval(r->tr));
    r->nn_evaluated = 0;
    return ntk_trainer_apply(r->tr);
}

/* θ (P values) into the network, at any depth */
static ntk_status nn_set(ntk_run *r, const double *th)
{
    return r->deep ? ntk_net_set_theta(r->net, th) : ntk_net_set_weights(r->net, th, th + r->m * r->d);
}

/* At depth: dθ/dt = −η_l ∇_{θ_l} L on each layer l (0 on a frozen one). */
static ntk_status nn_rhs_deep(ntk_run *r, const double *th, double *dth)
{
    NTK_TRY(run_check_cancel(r));
    NTK_TRY(ntk_net_set_theta(r->net, th));
    NTK_TRY(ntk_trainer_eval(r->tr));
    const double *g = ntk_trainer_grad(r->tr);
    for (size_t l = 1; l <= r->L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(&r->cfg.net, l, &nW, &nb);
        double e = r->eta[l - 1];
        for (size_t k = off; k < off + nW + nb; k++) dth[k] = e > 0 ? -e * g[k] : 0.0;
    }
    return NTK_OK;
}

/* dθ/dt at θ = th: −η ⊙ ∇L, through the trainer's evaluation */
static ntk_status nn_rhs(void *ctx, double t, const double *th, double *dth)
{
    (void)t;
    ntk_run *r = ctx;
    if (r->deep) return nn_rhs_deep(r, th, dth);
    size_t md = r->m * r->d;
    NTK_TRY(run_check_cancel(r));
    NTK_TRY(ntk_net_set_weights(r->net, th, th + md));
    NTK_TRY(ntk_trainer_eval(r->tr));
    const double *gW = ntk_trainer_gW(r->tr), *gv = ntk_trainer_gv(r->tr);
    for (size_t k = 0; k < md; k++) dth[k] = gW ? -r->cfg.gd.lr1 * gW[k] : 0.0;
    for (size_t k = 0; k < r->m; k++) dth[md + k] = gv ? -r->cfg.gd.lr2 * gv[k] : 0.0;
    return NTK_OK;
}

static ntk_status nn_flow_to(run_model *m, double t)
{
    ntk_run *r = m->run;
    nn_state *s = m->state;
    double tn = r->t;
    r->nn_evaluated = 0;
    NTK_TRY(ntk_ode_advance(s->ode, &tn, t, s->theta));
    /* the net holds the last evaluated stage; put back the accepted state
     * (after a failure the run's restore does) */
    return nn_set(r, s->theta);
}

static void nn_save(run_model *m)
{
    nn_state *s = m->state;
    memcpy(s->save, s->theta, m->run->P * sizeof(double));
}

static void nn_restore(run_model *m)
{
    ntk_run *r = m->run;
    nn_state *s = m->state;
    memcpy(s->theta, s->save, r->P * sizeof(double));
    ntk_ode_reset(s->ode);
    r->nn_evaluated = 0;
    (void)nn_set(r, s->theta);
}

static ntk_status nn_predict(run_model *m, double t, int test, double *f)
{
    (void)t;
    ntk_run *r = m->run;
    if (test) return r->nt ? ntk_net_predict(r->net, r->Xt, r->nt, f) : NTK_OK;
    return ntk_net_predict(r->net, r->X, r->n, f);
}

static ntk_status nn_predict_at(run_model *m, double t, const double *X, size_t n,
                                const double *f0, double *f)
{
    (void)t, (void)f0;
    return ntk_net_predict(m->run->net, X, n, f);
}

static void nn_destroy(run_model *m)
{
    nn_state *s = m->state;
    if (!s) return;
    ntk_ode_free(s->ode);
    free(s->theta);
    free(s);
}

static const run_model_ops nn_ops = {nn_step, nn_flow_to, nn_save, nn_restore, nn_predict,
                                     nn_predict_at, nn_destroy};

/* The network and its trainer are made by ntk_run_create (every model
 * compares with them); this adds the flow integrator when there is one. */
ntk_status run_model_nn(ntk_run *r, run_model *m)
{
    m->ops = &nn_ops;
    m->run = r;
    if (!r->cfg.flow) return NTK_OK;
    size_t P = r->P;
    nn_state *s = ntk_calloc(1, sizeof *s, "network flow");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    s->theta = ntk_alloc(2 * P, sizeof(double), "network flow state");
    if (!s->theta) return NTK_ERR_NOMEM;
    s->save = s->theta + P;
    if (r->deep) {
        memcpy(s->theta, run_theta0(r), P * sizeof(double));
    } else {
        memcpy(s->theta, ntk_net_W0(r->net), r->m * r->d * sizeof(double));
        memcpy(s->theta + r->m * r->d, ntk_net_v0(r->net), r->m * sizeof(double));
    }
    /* φ′ of relu and leaky relu jumps at 0, so does ∇_W L when a pattern
     * flips: src/flow.c integrates such a flow with a low-order pair */
    ntk_act a = r->cfg.net.act;
    int jumps = a.kind == NTK_ACT_RELU || (a.kind == NTK_ACT_LEAKY_RELU && a.param != 1.0);
    return ntk_ode_create(P, r->cfg.flow_rtol, !jumps, nn_rhs, r, &s->ode);
}
