/* Model linearized of a run: the network's first-order Taylor model at θ0
 * (docs/theory.md §5), trained in parameter space with the network's rates.
 * For the two-layer network φ(Z0) and v0 ⊙ φ'(Z0) are computed once, so a
 * step costs the same two GEMMs as a step of the network; at depth the
 * Jacobian at θ0 acts through forward and backward passes (below). */
#include "run_internal.h"
#include "network_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct ntk_linz {
    ntk_net_config cfg;
    const double *X, *Xt;
    size_t n, nt;
    double *A0, *DV0;     /* (n,m): φ(Z0) and φ'(Z0) diag(v0) */
    double *A0t, *DV0t;   /* (nt,m): the same on the test inputs */
    double *f0, *ft0;     /* (n), (nt): outputs at θ0 */
    double *P;            /* (max(n,nt),m) scratch: X ΔWᵀ/s, then G */
    double *r;            /* (n) residuals */
    double *p;            /* (md + m) parameters ΔW, Δv */
    double c;             /* the loss scale (0: that of its own n rows; a data-parallel
                             run's: 1/n_all or 1, so that the sum over processes is
                             the whole set's) */
};

size_t ntk_linz_mem_bytes(size_t n, size_t nt, size_t d, size_t m)
{
    size_t big = n > nt ? n : nt;
    size_t count = 2 * n * m + 2 * nt * m + big * m + 2 * (n + nt) + m * d + 2 * m;
    if (count / m < 2 * n) return SIZE_MAX; /* overflow */
    return ntk_size_mul(count, sizeof(double), 1, 1);
}

/* A (rows,m) = φ(X W0ᵀ/s), DV (rows,m) = φ'(X W0ᵀ/s) diag(v0) */
static ntk_status features_at_init(const ntk_net_config *cfg, const double *W0,
                                   const double *v0, const double *X, size_t rows, double *A,
                                   double *DV)
{
    size_t m = cfg->m, d = cfg->d;
    if (rows == 0) return NTK_OK;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(cfg), X, (int)d, W0, (int)d, 0.0, DV, (int)m);
    ntk_act_apply(cfg->act, rows * m, DV, A, DV);
    double *ones = ntk_alloc(rows, sizeof(double), "ones");
    if (!ones) return NTK_ERR_NOMEM;
    for (size_t i = 0; i < rows; i++) ones[i] = 1.0;
    ntk_scale_rows_cols(DV, DV, rows, m, ones, v0);
    free(ones);
    return NTK_OK;
}

ntk_status ntk_linz_create(const ntk_net_config *cfg, const double *W0, const double *v0,
                           const double *X, size_t n, const double *Xt, size_t nt,
                           const double *f0, const double *ft0, ntk_linz **out)
{
    *out = NULL;
    NTK_TRY(ntk_net_config_check(cfg));
    size_t m = cfg->m, d = cfg->d, big = n > nt ? n : nt;
    NTK_TRY(ntk_mem_check(ntk_linz_mem_bytes(n, nt, d, m), 0, "the linearized model"));
    ntk_linz *lz = ntk_calloc(1, sizeof *lz, "linearized model");
    if (!lz) return NTK_ERR_NOMEM;
    size_t count = 2 * n * m + 2 * nt * m + big * m + 2 * n + nt + m * d + m;
    double *buf = ntk_calloc(count, sizeof(double), "linearized model buffers");
    if (!buf) {
        free(lz);
        return NTK_ERR_NOMEM;
    }
    lz->cfg = *cfg;
    lz->X = X;
    lz->Xt = Xt;
    lz->n = n;
    lz->nt = nt;
    lz->A0 = buf;
    lz->DV0 = lz->A0 + n * m;
    lz->A0t = lz->DV0 + n * m;
    lz->DV0t = lz->A0t + nt * m;
    lz->P = lz->DV0t + nt * m;
    lz->f0 = lz->P + big * m;
    lz->r = lz->f0 + n;
    lz->ft0 = lz->r + n;
    lz->p = lz->ft0 + nt;
    if (features_at_init(cfg, W0, v0, X, n, lz->A0, lz->DV0) != NTK_OK ||
        features_at_init(cfg, W0, v0, Xt, nt, lz->A0t, lz->DV0t) != NTK_OK) {
        ntk_linz_free(lz);
        return NTK_ERR_NOMEM;
    }
    memcpy(lz->f0, f0, n * sizeof(double));
    if (nt) memcpy(lz->ft0, ft0, nt * sizeof(double));
    *out = lz;
    return NTK_OK;
}

void ntk_linz_free(ntk_linz *lz)
{
    if (!lz) return;
    free(lz->A0);
    free(lz);
}

size_t ntk_linz_nparams(const ntk_linz *lz) { return lz->cfg.m * lz->cfg.d + lz->cfg.m; }
double *ntk_linz_params(ntk_linz *lz) { return lz->p; }

/* f = f0 + α/√m [A0 Δv + rowsum(DV0 ⊙ (X ΔWᵀ/s))] */
void ntk_linz_predict(ntk_linz *lz, const double *p, int test, double *f)
{
    size_t m = lz->cfg.m, d = lz->cfg.d;
    size_t rows = test ? lz->nt : lz->n;
    if (rows == 0) return;
    const double *X = test ? lz->Xt : lz->X;
    const double *A0 = test ? lz->A0t : lz->A0, *DV = test ? lz->DV0t : lz->DV0;
    const double *f0 = test ? lz->ft0 : lz->f0;
    const double *dW = p, *dv = p + m * d;
    double k = lz->cfg.alpha / sqrt((double)m);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(&lz->cfg), X, (int)d, dW, (int)d, 0.0, lz->P, (int)m);
    for (size_t i = 0; i < rows; i++) {
        const double *Pi = lz->P + i * m, *Di = DV + i * m;
        double acc = 0.0;
        for (size_t r = 0; r < m; r++) acc += Di[r] * Pi[r];
        f[i] = k * acc;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)m, k, A0, (int)m, dv, 1, 1.0, f, 1);
    cblas_daxpy((int)rows, 1.0, f0, 1, f, 1);
}

/* ∇_Δv L = c·α/√m A0ᵀ r,  ∇_ΔW L = c·α/(√m s) (DV0 ⊙ r 1ᵀ)ᵀ X */
double ntk_linz_loss_grad(ntk_linz *lz, const double *p, const double *y, ntk_loss_kind loss,
                          double *f, double *g)
{
    size_t m = lz->cfg.m, d = lz->cfg.d, n = lz->n;
    double c = lz->c > 0 ? lz->c : ntk_loss_scale(loss, n);
    double k = lz->cfg.alpha / sqrt((double)m);
    ntk_linz_predict(lz, p, 0, f);
    double sse = 0.0;
    for (size_t i = 0; i < n; i++) {
        lz->r[i] = f[i] - y[i];
        sse += lz->r[i] * lz->r[i];
    }
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)m, c * k, lz->A0, (int)m, lz->r, 1, 0.0,
                g + m * d, 1);
    ntk_scale_rows_cols(lz->P, lz->DV0, n, m, lz->r, NULL);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)d, (int)n,
                c * k / ntk_net_config_s(&lz->cfg), lz->P, (int)m, lz->X, (int)d, 0.0, g, (int)d);
    return 0.5 * c * sse;
}

/* ---- the model of a run ------------------------------------------------ */

typedef struct {
    ntk_linz *lz;
    double *g, *f;          /* gradient and loss (m·d + m + 1), train predictions (n) */
    ntk_ode *ode;
    double *save;           /* flow: parameters at the start of an advance */
} linz_state;

/* s->g = ∇L of this process's rows and s->g[P] = L (the loss scaled by all
 * rows' c), summed over the processes when the run has a reduce: then every
 * process holds the whole data set's gradient and loss. Returns that loss's
 * status: a loss that is not finite is a divergence. */
static ntk_status linz_grad(ntk_run *r, linz_state *s, const double *p)
{
    size_t P = r->m * r->d + r->m;
    s->lz->c = r->c;
    s->g[P] = ntk_linz_loss_grad(s->lz, p, r->y, r->cfg.gd.loss, s->f, s->g);
    if (r->reduce) NTK_TRY(r->reduce(r->reduce_ctx, s->g, P + 1));
    if (!isfinite(s->g[P]))
        return ntk_set_error(NTK_ERR_DIVERGED, "the linearized %s diverged%s; use smaller rates",
                             r->cfg.flow ? "flow" : "model", r->cfg.flow ? "" : " at this step");
    return NTK_OK;
}

static ntk_status linz_step(run_model *m)
{
    ntk_run *r = m->run;
    linz_state *s = m->state;
    size_t md = r->m * r->d;
    double *p = s->lz->p;
    ntk_status st = linz_grad(r, s, p);
    if (st == NTK_ERR_DIVERGED)
        return ntk_set_error(NTK_ERR_DIVERGED, "the linearized model diverged at step %g; use "
                             "smaller rates", r->t);
    NTK_TRY(st);
    ntk_axpy(md, -r->cfg.gd.lr1, s->g, p);
    ntk_axpy(r->m, -r->cfg.gd.lr2, s->g + md, p + md);
    return NTK_OK;
}

static ntk_status linz_rhs(void *ctx, double t, const double *p, double *dp)
{
    (void)t;
    run_model *m = ctx;
    ntk_run *r = m->run;
    linz_state *s = m->state;
    size_t md = r->m * r->d;
    NTK_TRY(run_check_cancel(r));
    NTK_TRY(linz_grad(r, s, p));
    memcpy(dp, s->g, (md + r->m) * sizeof(double));
    ntk_scal(md, -r->cfg.gd.lr1, dp);
    ntk_scal(r->m, -r->cfg.gd.lr2, dp + md);
    return NTK_OK;
}

static ntk_status linz_flow_to(run_model *m, double t)
{
    linz_state *s = m->state;
    double tl = m->run->t;
    return ntk_ode_advance(s->ode, &tl, t, s->lz->p);
}

static void linz_save(run_model *m)
{
    linz_state *s = m->state;
    memcpy(s->save, s->lz->p, ntk_linz_nparams(s->lz) * sizeof(double));
}

static void linz_restore(run_model *m)
{
    linz_state *s = m->state;
    memcpy(s->lz->p, s->save, ntk_linz_nparams(s->lz) * sizeof(double));
    ntk_ode_reset(s->ode);
}

static ntk_status linz_predict(run_model *m, double t, int test, double *f)
{
    (void)t;
    linz_state *s = m->state;
    ntk_linz_predict(s->lz, s->lz->p, test, f);
    return NTK_OK;
}

/* f = f0 + α/√m [φ(X W0ᵀ/s) Δv + rowsum(φ'(X W0ᵀ/s) diag(v0) ⊙ (X ΔWᵀ/s))] on
 * any X (n, d), in blocks of rows (3 (block, m) scratch arrays). */
static ntk_status linz_predict_at(run_model *m, double t, const double *X, size_t n,
                                  const double *f0, double *f)
{
    (void)t;
    const ntk_run *r = m->run;
    const ntk_linz *lz = ((linz_state *)m->state)->lz;
    size_t md = r->m * r->d, mm = r->m, d = r->d, B = (size_t)(1u << 18) / mm + 1;
    if (B > n) B = n;
    double *A = ntk_alloc(ntk_size_mul(3 * B, mm, 1, 1), sizeof(double), "linearized predictions");
    if (!A) return NTK_ERR_NOMEM;
    double *DV = A + B * mm, *P = DV + B * mm, k = r->cfg.net.alpha / sqrt((double)mm);
    ntk_status st = NTK_OK;
    for (size_t i0 = 0; i0 < n && st == NTK_OK; i0 += B) {
        size_t rows = n - i0 < B ? n - i0 : B;
        const double *Xb = X + i0 * d;
        st = features_at_init(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), Xb, rows, A, DV);
        if (st != NTK_OK) break;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)mm, (int)d,
                    1.0 / ntk_net_config_s(&r->cfg.net), Xb, (int)d, lz->p, (int)d, 0.0, P, (int)mm);
        for (size_t i = 0; i < rows; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < mm; j++) acc += DV[i * mm + j] * P[i * mm + j];
            f[i0 + i] = k * acc + (f0 ? f0[i0 + i] : 0.0);
        }
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)mm, k, A, (int)mm, lz->p + md, 1,
                    1.0, f + i0, 1);
    }
    free(A);
    return st;
}

static void linz_destroy(run_model *m)
{
    linz_state *s = m->state;
    if (!s) return;
    ntk_linz_free(s->lz);
    ntk_ode_free(s->ode);
    free(s->g);
    free(s);
}

static const run_model_ops linz_ops = {linz_step, linz_flow_to, linz_save, linz_restore,
                                       linz_predict, linz_predict_at, linz_destroy};

/* ---- at depth: Jacobian-free ---------------------------------------------
 * f_lin(x; θ) = f(x; θ0) + J(x; θ0)(θ − θ0), with J never formed: a
 * prediction is one product J·Δθ (ntk_net_jvp at θ0), a gradient
 * c·Jᵀ(f_lin − y) one product Jᵀ·r (ntk_net_vjp at θ0); GD and the flow move
 * layer l's Δθ_l at its rate η_l. */

typedef struct {
    double *p;              /* Δθ = θ − θ0 (P) */
    double *g, *f, *res;    /* gradient (P, and the loss's sum), train predictions and
                               residuals (n, k) */
    double *save;           /* flow: Δθ at the start of an advance (P) */
    ntk_ode *ode;
    deep_ws w;              /* the passes' tape, made once (train and test rows) */
} dlinz_state;

/* f (rows, k) = f0 + J(X; θ0) p on the training (test = 0) or test inputs */
static ntk_status dlinz_eval(const ntk_run *r, dlinz_state *s, const double *p, int test, double *f)
{
    size_t rows = test ? r->nt : r->n;
    if (rows == 0) return NTK_OK;
    deep_jvp_ws(&r->cfg.net, run_theta0(r), test ? r->Xt : r->X, rows, p, f, &s->w);
    ntk_axpy(rows * r->k, 1.0, test ? r->ft0 : r->f0, f);
    return NTK_OK;
}

/* g = −η ⊙ c J0ᵀ(f_lin(p) − y), layer by layer; the loss not finite is a
 * divergence. In a data-parallel run c J0ᵀ(f_lin − y) on this process's
 * rows (c of all rows) and Σ(f_lin − y)² are summed over the processes in
 * one reduce (s->g holds P + 1 values), before the check and the rates. */
static ntk_status dlinz_direction(run_model *m, const double *p, double *g)
{
    ntk_run *r = m->run;
    dlinz_state *s = m->state;
    NTK_TRY(dlinz_eval(r, s, p, 0, s->f));
    double sse = 0.0;
    for (size_t i = 0; i < r->n * r->k; i++) {
        s->res[i] = r->c * (s->f[i] - r->y[i]);
        sse += (s->f[i] - r->y[i]) * (s->f[i] - r->y[i]);
    }
    if (r->reduce) {
        deep_vjp_ws(&r->cfg.net, run_theta0(r), r->X, r->n, s->res, s->g, &s->w);
        s->g[r->P] = sse;
        NTK_TRY(r->reduce(r->reduce_ctx, s->g, r->P + 1));
        sse = s->g[r->P];
        if (g != s->g) memcpy(g, s->g, r->P * sizeof(double));
    }
    if (!isfinite(sse))
        return ntk_set_error(NTK_ERR_DIVERGED, "the linearized model diverged at %s %g; use "
                             "smaller rates", r->cfg.flow ? "time" : "step", r->t);
    if (!r->reduce) deep_vjp_ws(&r->cfg.net, run_theta0(r), r->X, r->n, s->res, g, &s->w);
    for (size_t l = 1; l <= r->L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(&r->cfg.net, l, &nW, &nb);
        double e = r->eta[l - 1];
        for (size_t k = off; k < off + nW + nb; k++) g[k] = e > 0 ? -e * g[k] : 0.0;
    }
    return NTK_OK;
}

static ntk_status dlinz_step(run_model *m)
{
    dlinz_state *s = m->state;
    NTK_TRY(dlinz_direction(m, s->p, s->g));
    ntk_axpy(m->run->P, 1.0, s->g, s->p);
    return NTK_OK;
}

static ntk_status dlinz_rhs(void *ctx, double t, const double *p, double *dp)
{
    (void)t;
    run_model *m = ctx;
    NTK_TRY(run_check_cancel(m->run));
    return dlinz_direction(m, p, dp);
}

static ntk_status dlinz_flow_to(run_model *m, double t)
{
    dlinz_state *s = m->state;
    double tl = m->run->t;
    return ntk_ode_advance(s->ode, &tl, t, s->p);
}

static void dlinz_save(run_model *m)
{
    dlinz_state *s = m->state;
    memcpy(s->save, s->p, m->run->P * sizeof(double));
}

static void dlinz_restore(run_model *m)
{
    dlinz_state *s = m->state;
    memcpy(s->p, s->save, m->run->P * sizeof(double));
    ntk_ode_reset(s->ode);
}

static ntk_status dlinz_predict(run_model *m, double t, int test, double *f)
{
    (void)t;
    dlinz_state *s = m->state;
    return dlinz_eval(m->run, s, s->p, test, f);
}

static ntk_status dlinz_predict_at(run_model *m, double t, const double *X, size_t n,
                                   const double *f0, double *f)
{
    (void)t;
    const ntk_run *r = m->run;
    NTK_TRY(deep_jvp_unchecked(&r->cfg.net, run_theta0(r), X, n, ((dlinz_state *)m->state)->p, f));
    if (f0) ntk_axpy(n * r->k, 1.0, f0, f);
    return NTK_OK;
}

static void dlinz_destroy(run_model *m)
{
    dlinz_state *s = m->state;
    if (!s) return;
    ntk_ode_free(s->ode);
    deep_ws_free(&s->w);
    free(s->p);
    free(s);
}

static const run_model_ops dlinz_ops = {dlinz_step, dlinz_flow_to, dlinz_save, dlinz_restore,
                                        dlinz_predict, dlinz_predict_at, dlinz_destroy};

static ntk_status run_model_linearized_deep(ntk_run *r, run_model *m)
{
    m->ops = &dlinz_ops;
    m->run = r;
    dlinz_state *s = ntk_calloc(1, sizeof *s, "linearized model");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    size_t P = r->P;
    s->p = ntk_calloc(ntk_size_mul(P, 3, 1, 1) + 1 + 2 * r->n * r->k, sizeof(double),
                      "linearized model");
    if (!s->p) return NTK_ERR_NOMEM;
    s->g = s->p + P;
    s->save = s->g + P + 1;
    s->f = s->save + P;
    s->res = s->f + r->n * r->k;
    NTK_TRY(deep_ws_init(&s->w, &r->cfg.net, r->n > r->nt ? r->n : r->nt));
    if (!r->cfg.flow) return NTK_OK;
    /* linear in Δθ: a smooth flow whatever φ */
    return ntk_ode_create(P, r->cfg.flow_rtol, 1, dlinz_rhs, m, &s->ode);
}

size_t run_model_linearized_bytes(const ntk_run_config *cfg, size_t n, size_t nt)
{
    if (ntk_net_is_deep(&cfg->net)) {
        size_t a = ntk_size_mul(3 * ntk_net_nparams(&cfg->net) + 1 + 2 * n * ntk_net_outputs(&cfg->net),
                                1, 1, sizeof(double));
        size_t b = deep_ws_bytes(&cfg->net, n > nt ? n : nt);
        return a == SIZE_MAX || b == SIZE_MAX || a > SIZE_MAX - b ? SIZE_MAX : a + b;
    }
    size_t P = cfg->net.m * cfg->net.d + cfg->net.m;
    size_t b = ntk_linz_mem_bytes(n, nt, cfg->net.d, cfg->net.m);
    size_t extra = ntk_size_mul(P + 1 + n + (cfg->flow ? P : 0), sizeof(double), 1, 1);
    return b == SIZE_MAX || extra == SIZE_MAX ? SIZE_MAX : b + extra;
}

ntk_status run_model_linearized(ntk_run *r, run_model *m)
{
    if (r->deep) return run_model_linearized_deep(r, m);
    m->ops = &linz_ops;
    m->run = r;
    linz_state *s = ntk_calloc(1, sizeof *s, "linearized model");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    NTK_TRY(ntk_linz_create(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), r->X, r->n,
                            r->Xt, r->nt, r->f0, r->ft0, &s->lz));
    size_t P = r->m * r->d + r->m;
    s->g = ntk_alloc(P + 1 + r->n + (r->cfg.flow ? P : 0), sizeof(double), "linearized gradient");
    if (!s->g) return NTK_ERR_NOMEM;
    s->f = s->g + P + 1;
    if (!r->cfg.flow) return NTK_OK;
    s->save = s->f + r->n;
    /* the Taylor model is linear in its parameters: a smooth (linear) flow
     * whatever φ */
    return ntk_ode_create(P, r->cfg.flow_rtol, 1, linz_rhs, m, &s->ode);
}
