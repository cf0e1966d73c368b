/* Model lin of a run: Hu et al. (2020)'s linear model of the early phase,
 * docs/theory.md §4. f = f0 + Ψβ with Ψ = [√η1 ψ1 | √η2 ψ2] (p columns, the
 * blocks of the trained layers), trained from β = 0 by GD on the run's loss,
 * or in closed form under gradient flow. The features are evaluated on
 * x·√d/s: the network sees only x/s, and ψ is written for s = √d. */
#include "run_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef struct {
    size_t p;
    double *Psi, *Psit;      /* (n,p), (nt,p) */
    double *beta, *b, *mu, *tmp, *V;   /* (p) each, V (p,p): c ΨᵀΨ = V diag(μ) Vᵀ */
    double *f;               /* (n) scratch predictions */
} lin_state;

/* f = f0 + Ψβ on the training (n) or test (nt) inputs */
static ntk_status lin_predict(run_model *m, double t, int test, double *f)
{
    (void)t;
    const ntk_run *r = m->run;
    const lin_state *s = m->state;
    size_t rows = test ? r->nt : r->n;
    if (rows == 0) return NTK_OK;
    memcpy(f, test ? r->ft0 : r->f0, rows * sizeof(double));
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)s->p, 1.0, test ? s->Psit : s->Psi,
                (int)s->p, s->beta, 1, 1.0, f, 1);
    return NTK_OK;
}

/* one GD step: β ← β − c Ψᵀ(f − y) */
static ntk_status lin_step(run_model *m)
{
    const ntk_run *r = m->run;
    lin_state *s = m->state;
    NTK_TRY(lin_predict(m, r->t, 0, s->f));
    cblas_daxpy((int)r->n, -1.0, r->y, 1, s->f, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)r->n, (int)s->p, -r->c, s->Psi, (int)s->p, s->f,
                1, 1.0, s->beta, 1);
    return NTK_OK;
}

/* flow: β(t) = V diag((1 − e^{−μt})/μ) Vᵀ b, b = c Ψᵀ(y − f0) (→ t·b as μ → 0) */
static ntk_status lin_flow_to(run_model *m, double t)
{
    lin_state *s = m->state;
    size_t p = s->p;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)p, (int)p, 1.0, s->V, (int)p, s->b, 1, 0.0,
                s->tmp, 1);
    double tol = 1e-12 * fabs(s->mu[p - 1]);
    for (size_t k = 0; k < p; k++) {
        double mu = s->mu[k];
        s->tmp[k] *= fabs(mu) <= tol ? t : -expm1(-mu * t) / mu;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)p, (int)p, 1.0, s->V, (int)p, s->tmp, 1, 0.0,
                s->beta, 1);
    return NTK_OK;
}

static ntk_status lin_features(const ntk_run *r, size_t p, const double *Xr, size_t rows,
                               double *F, double *Psi);

/* f = f0 + Ψ(X) β on any X (n, d): the features of the rescaled inputs */
static ntk_status lin_predict_at(run_model *m, double t, const double *X, size_t n,
                                 const double *f0, double *f)
{
    (void)t;
    const ntk_run *r = m->run;
    const lin_state *s = m->state;
    size_t d = r->d, p = s->p;
    size_t count = ntk_size_mul(n, p + 2 * d + 2, 1, 1);
    double *Psi = ntk_alloc(count, sizeof(double), "linear model features");
    if (!Psi) return NTK_ERR_NOMEM;
    double *F = Psi + n * p, *Xr = F + n * (d + 2);
    ntk_lin_inputs(&r->cfg.net, X, n, Xr);
    ntk_status st = lin_features(r, p, Xr, n, F, Psi);
    if (st == NTK_OK) {
        for (size_t i = 0; i < n; i++) f[i] = f0 ? f0[i] : 0.0;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, Psi, (int)p, s->beta, 1, 1.0,
                    f, 1);
    }
    free(Psi);
    return st;
}

static void lin_destroy(run_model *m)
{
    lin_state *s = m->state;
    if (!s) return;
    free(s->Psi);
    free(s);
}

static const run_model_ops lin_ops = {lin_step, lin_flow_to, NULL, NULL, lin_predict,
                                      lin_predict_at, lin_destroy};

/* Kept: Ψ (n+nt, p), β, b, μ, scratch (p each), V (p,p), f (n); during set-up
 * also one feature block (n+nt, d+2), which then holds c·ΨᵀΨ (p,p), and the
 * rescaled inputs (n+nt, d). */
static size_t lin_doubles(size_t n, size_t nt, size_t d, size_t p, size_t *nf)
{
    *nf = (n + nt) * (d + 2) > p * p ? (n + nt) * (d + 2) : p * p;
    return (n + nt) * p + 4 * p + p * p + n + *nf + (n + nt) * d;
}

static size_t lin_p(const ntk_run_config *cfg)
{
    return (cfg->gd.lr1 > 0 ? cfg->net.d + 1 : 0) + (cfg->gd.lr2 > 0 ? cfg->net.d + 2 : 0);
}

size_t run_model_lin_bytes(const ntk_run_config *cfg, size_t n, size_t nt)
{
    size_t nf;
    return ntk_size_mul(lin_doubles(n, nt, cfg->net.d, lin_p(cfg), &nf), sizeof(double), 1, 1);
}

/* Ψ (rows, p) = [√η1 ψ1 | √η2 ψ2] of the rescaled inputs Xr (rows, d), using
 * F (rows, d+2) for one block at a time */
static ntk_status lin_features(const ntk_run *r, size_t p, const double *Xr, size_t rows,
                               double *F, double *Psi)
{
    size_t d = r->d;
    double e1 = r->cfg.gd.lr1, e2 = r->cfg.gd.lr2;
    size_t p1 = e1 > 0 ? d + 1 : 0;
    for (int layer = 1; layer <= 2; layer++) {
        double eta = layer == 1 ? e1 : e2;
        if (eta <= 0) continue;
        size_t q = layer == 1 ? d + 1 : d + 2, off = layer == 1 ? 0 : p1;
        NTK_TRY(ntk_lin_features(&r->consts, r->cfg.net.alpha, layer, Xr, rows, d, F));
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < q; j++) Psi[i * p + off + j] = sqrt(eta) * F[i * q + j];
    }
    return NTK_OK;
}

ntk_status run_model_lin(ntk_run *r, run_model *m)
{
    m->ops = &lin_ops;
    m->run = r;
    lin_state *s = ntk_calloc(1, sizeof *s, "linear model");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    size_t d = r->d, n = r->n, nt = r->nt, nf;
    size_t p = s->p = lin_p(&r->cfg);
    s->Psi = ntk_calloc(lin_doubles(n, nt, d, p, &nf), sizeof(double), "linear model features");
    if (!s->Psi) return NTK_ERR_NOMEM;
    s->Psit = s->Psi + n * p;
    s->beta = s->Psit + nt * p;
    s->b = s->beta + p;
    s->mu = s->b + p;
    s->tmp = s->mu + p;
    s->V = s->tmp + p;
    s->f = s->V + p * p;
    double *F = s->f + n;                /* (nf): a feature block, then c·ΨᵀΨ */
    double *Xr = F + nf;                 /* (n+nt, d) rescaled inputs */
    ntk_lin_inputs(&r->cfg.net, r->X, n, Xr);
    if (nt) ntk_lin_inputs(&r->cfg.net, r->Xt, nt, Xr + n * d);
    /* Ψ and Ψ_test are contiguous: (n + nt, p) */
    NTK_TRY(lin_features(r, p, Xr, n + nt, F, s->Psi));
    /* flow in feature space: c ΨᵀΨ = V diag(μ) Vᵀ, b = c Ψᵀ(y − f0) */
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)p, (int)n, r->c, s->Psi, (int)p, 0.0,
                F, (int)p);
    for (size_t i = 0; i < p; i++)
        for (size_t j = i + 1; j < p; j++) F[i * p + j] = F[j * p + i];
    NTK_TRY(ntk_eigh(F, p, s->mu, s->V));
    for (size_t i = 0; i < n; i++) s->f[i] = r->y[i] - r->f0[i];
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, r->c, s->Psi, (int)p, s->f, 1, 0.0,
                s->b, 1);
    return NTK_OK;
}
