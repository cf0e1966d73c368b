/* Models ntk and ntk_inf of a run: kernel gradient descent (or flow) in
 * closed form, docs/theory.md §6, with K = η1Θ1 + η2Θ2 at θ0 (ntk) or at
 * infinite width (ntk_inf), from the network's outputs at θ0. Nothing moves
 * between predictions: the model is a function of t. */
#include "run_internal.h"

typedef struct {
    ntk_kgd *kgd;
    double *Ktest;           /* (nt, n) test × train kernel, same weights */
    int inf;                 /* 1: the infinite-width kernel */
} kernel_state;

static ntk_status kernel_predict(run_model *m, double t, int test, double *f)
{
    const ntk_run *r = m->run;
    const kernel_state *s = m->state;
    if (!test) return ntk_kgd_predict_train(s->kgd, t, r->cfg.flow, f);
    if (!r->nt) return NTK_OK;
    return ntk_kgd_predict_test(s->kgd, t, r->cfg.flow, s->Ktest, r->nt, r->ft0, f);
}

/* f = f0 + K(X, X_train) h_t(K) r0, with the cross kernel made here */
static ntk_status kernel_predict_at(run_model *m, double t, const double *X, size_t n,
                                    const double *f0, double *f)
{
    const ntk_run *r = m->run;
    const kernel_state *s = m->state;
    double *Kx = ntk_alloc(ntk_size_mul(n, r->n, 1, 1), sizeof(double), "cross kernel");
    if (!Kx) return NTK_ERR_NOMEM;
    ntk_status st = run_kernel(r, s->inf, X, n, r->X, r->n, r->cfg.gd.lr1, r->cfg.gd.lr2, Kx);
    if (st == NTK_OK) st = ntk_kgd_predict_test(s->kgd, t, r->cfg.flow, Kx, n, f0, f);
    free(Kx);
    return st;
}

static void kernel_destroy(run_model *m)
{
    kernel_state *s = m->state;
    if (!s) return;
    ntk_kgd_free(s->kgd);
    free(s->Ktest);
    free(s);
}

static const run_model_ops kernel_ops = {NULL, NULL, NULL, NULL, kernel_predict,
                                         kernel_predict_at, kernel_destroy};

/* λ_min, λ_max of the model's K = η1Θ1 + η2Θ2 (src/kgd.c: exact with an
 * eigendecomposition, Ritz values with Krylov). */
ntk_status run_model_kernel_extremes(const run_model *m, double *lmin, double *lmax, int *exact)
{
    const kernel_state *s = m->state;
    return ntk_kgd_extremes(s->kgd, lmin, lmax, exact);
}

ntk_status run_model_kernel(ntk_run *r, run_model *m, int inf)
{
    m->ops = &kernel_ops;
    m->run = r;
    kernel_state *s = ntk_calloc(1, sizeof *s, "kernel model");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    s->inf = inf;
    size_t n = r->n, nt = r->nt;
    double *K = ntk_alloc(n * n, sizeof(double), "kernel matrix");
    if (!K) return NTK_ERR_NOMEM;
    /* the run shows the kernel models next to the network whatever the
     * rates; ntkit run warns when they are unstable */
    ntk_kgd_config kc = ntk_kgd_config_default();
    kc.loss = r->cfg.gd.loss;
    kc.t_max = r->cfg.t_max;
    kc.flow = r->cfg.flow;
    kc.allow_unstable = 1;
    ntk_status st = run_kernel(r, inf, r->X, n, NULL, 0, r->cfg.gd.lr1, r->cfg.gd.lr2, K);
    if (st == NTK_OK) st = ntk_kgd_create(K, n, r->y, r->f0, &kc, &s->kgd);
    free(K);
    if (st != NTK_OK || nt == 0) return st;
    s->Ktest = ntk_alloc(nt * n, sizeof(double), "test kernel");
    if (!s->Ktest) return NTK_ERR_NOMEM;
    return run_kernel(r, inf, r->Xt, nt, r->X, n, r->cfg.gd.lr1, r->cfg.gd.lr2, s->Ktest);
}
