/* Models ntk and ntk_inf of a run: kernel gradient descent (or flow) in
 * closed form, docs/theory.md §6, with K = η1Θ1 + η2Θ2 at θ0 (ntk) or at
 * infinite width (ntk_inf), from the network's outputs at θ0; at depth
 * K = Σ_l η_l Θ_l, the layers weighted by their rates (the kernel
 * description's layer_weights). Nothing moves between predictions: the
 * model is a function of t.
 *
 * Storage (docs/theory.md §9). When K (n,n) fits, it is computed once and
 * kernel GD factors it (an eigendecomposition up to NTK_KGD_EIG_MAX_N
 * points, Lanczos above), with the test block K(X_test, X) stored too.
 * Otherwise K stays a kernel operator (float32 storage or matrix-free, as
 * the run's kernel_operator says): Lanczos reads it through products, and
 * test predictions go through the operator's cross block, never stored. */
#include "run_internal.h"

#include <math.h>
#include <string.h>

typedef struct {
    ntk_kgd *kgd;
    double *Ktest;           /* (nt, n) test × train kernel, same weights; stored mode */
    int inf;                 /* 1: the infinite-width kernel */
    ntk_op *op;              /* operator mode: K behind products; NULL when stored */
    ntk_kernel_desc desc;    /* the operator's kernel (points into the run) */
} kernel_state;

static ntk_status kernel_predict(run_model *m, double t, int test, double *f)
{
    const ntk_run *r = m->run;
    const kernel_state *s = m->state;
    if (!test) return ntk_kgd_predict_train(s->kgd, t, r->cfg.flow, f);
    if (!r->nt) return NTK_OK;
    if (s->op) return ntk_kgd_predict_cross(s->kgd, t, r->cfg.flow, s->op, r->Xt, r->nt, r->ft0, f);
    return ntk_kgd_predict_test(s->kgd, t, r->cfg.flow, s->Ktest, r->nt, r->ft0, f);
}

/* f = f0 + K(X, X_train) h_t(K) r0, with the cross kernel made here */
static ntk_status kernel_predict_at(run_model *m, double t, const double *X, size_t n,
                                    const double *f0, double *f)
{
    const ntk_run *r = m->run;
    const kernel_state *s = m->state;
    if (s->op) return ntk_kgd_predict_cross(s->kgd, t, r->cfg.flow, s->op, X, n, f0, f);
    double *Kx = ntk_alloc(ntk_size_mul(n, r->n, 1, 1), sizeof(double), "cross kernel");
    if (!Kx) return NTK_ERR_NOMEM;
    ntk_status st = run_kernel(r, s->inf, X, n, r->X, r->n, r->eta, Kx);
    if (st == NTK_OK) st = ntk_kgd_predict_test(s->kgd, t, r->cfg.flow, Kx, n, f0, f);
    free(Kx);
    return st;
}

static void kernel_destroy(run_model *m)
{
    kernel_state *s = m->state;
    if (!s) return;
    ntk_kgd_free(s->kgd);
    ntk_op_free(s->op);
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

/* Bytes the stored mode keeps and peaks at for one model: K (and the
 * eigensolver's 3n² up to NTK_KGD_EIG_MAX_N with its coefficients, 2n per
 * output, or a Lanczos basis per output: src/kgd.c keeps one for each of
 * the k columns), K_test. */
static double stored_bytes(size_t n_, size_t nt_, size_t k_out)
{
    double n = (double)n_, nt = (double)nt_, k = NTK_KGD_KRYLOV_KMAX, ko = (double)k_out;
    int eig = n_ <= NTK_KGD_EIG_MAX_N;
    return (n * n + (eig ? 3 * n * n + 2 * n * ko : ko * (k * n + k * k)) + nt * n) * 8.0;
}

ntk_op_mode run_kernel_mode(const ntk_run_config *cfg, size_t n, size_t nt)
{
    if (cfg->kernel_operator != NTK_OP_AUTO) return cfg->kernel_operator;
    double need = stored_bytes(n, nt, ntk_net_outputs(&cfg->net));
    size_t avail = ntk_mem_available();
    double room = cfg->mem_limit ? (double)cfg->mem_limit : avail ? 0.5 * (double)avail : 4e9;
    return need <= room ? NTK_OP_DENSE : NTK_OP_MATRIX_FREE;
}

size_t run_model_kernel_bytes(const ntk_run_config *cfg, size_t n_, size_t nt_, size_t *peak)
{
    const size_t k_out = ntk_net_outputs(&cfg->net);
    double n = (double)n_, k = NTK_KGD_KRYLOV_KMAX, ko = (double)k_out;
    ntk_op_mode mode = run_kernel_mode(cfg, n_, nt_);
    if (mode == NTK_OP_DENSE) {
        *peak = (size_t)fmin(stored_bytes(n_, nt_, k_out), 1.8e19);
        return (size_t)fmin(((n_ <= NTK_KGD_EIG_MAX_N ? n * n + 2 * n * ko : ko * (k * n + k * k)) +
                             (double)nt_ * n) * 8.0, 1.8e19);
    }
    /* the operator (its storage or its caches), and a Lanczos basis per output */
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg->net);
    double op = (double)ntk_op_mem_bytes(&kd, n_, mode, cfg->mem_limit);
    *peak = 0;
    return (size_t)fmin(op + ko * (k * n + k * k) * 8.0, 1.8e19);
}

/* The operator mode: K = c1Θ1 + c2Θ2 behind an operator, Lanczos on it. */
static ntk_status kernel_on_operator(ntk_run *r, kernel_state *s, ntk_op_mode mode,
                                     const ntk_kgd_config *kc)
{
    s->desc = run_kernel_desc(r, s->inf, r->eta);
    s->desc.mem_limit = 0;   /* the operator's own limit bounds its tiles */
    NTK_TRY(ntk_op_create(&s->desc, r->X, r->n, mode, r->cfg.mem_limit, &s->op));
    ntk_kgd_config c = *kc;
    c.method = NTK_KGD_KRYLOV;
    return ntk_kgd_create_op(s->op, r->y, r->f0, &c, &s->kgd);
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
    /* the run shows the kernel models next to the network whatever the
     * rates; ntkit run warns when they are unstable */
    ntk_kgd_config kc = ntk_kgd_config_default();
    kc.loss = r->cfg.gd.loss;
    kc.t_max = r->cfg.t_max;
    kc.flow = r->cfg.flow;
    kc.allow_unstable = 1;
    /* a k-output network: K (the mean of the per-output kernels at θ0, or
     * Θ∞) acts on each output's column, the Θ ⊗ I_k of docs/depth.md §1.7 */
    kc.outputs = r->k;
    ntk_op_mode mode = run_kernel_mode(&r->cfg, n, nt);
    if (mode != NTK_OP_DENSE) return kernel_on_operator(r, s, mode, &kc);
    double *K = ntk_alloc(ntk_size_mul(n, n, 1, 1), sizeof(double), "kernel matrix");
    if (!K) return NTK_ERR_NOMEM;
    ntk_status st = run_kernel(r, inf, r->X, n, NULL, 0, r->eta, K);
    if (st == NTK_OK) st = ntk_kgd_create(K, n, r->y, r->f0, &kc, &s->kgd);
    free(K);
    if (st != NTK_OK || nt == 0) return st;
    s->Ktest = ntk_alloc(ntk_size_mul(nt, n, 1, 1), sizeof(double), "test kernel");
    if (!s->Ktest) return NTK_ERR_NOMEM;
    return run_kernel(r, inf, r->Xt, nt, r->X, n, r->eta, s->Ktest);
}

/* ---- data-parallel: kernel GD step by step through the caller's operator
 * (ntk_run_set_kernel_ops; docs/scaling.md §6.4). On this process's rows
 * (nloc, k): R = Y − u, G += cR, u += c·K R from u = f0, G = 0, so that
 * u = f0 + K G at every step, the closed form's (I − (I − cK)^t)(Y − f0)
 * step by step, and the test predictions f0_test + K(X_test, X) G. */
typedef struct {
    double *u, *G, *R, *V;   /* (nloc, k) each */
    ntk_kernel_ops ops;      /* apply == NULL until set */
    int inf;
} kstep_state;

static ntk_status kstep_ready(const run_model *m)
{
    const kstep_state *s = m->state;
    if (s->ops.apply && s->ops.cross) return NTK_OK;
    return ntk_set_error(NTK_ERR_ARG, "the %s model of a run on part of the rows needs its "
                         "kernel operator: call ntk_run_set_kernel_ops before the run moves",
                         ntk_model_name(s->inf ? 4 : 3));
}

static ntk_status kstep_step(run_model *m)
{
    const ntk_run *r = m->run;
    kstep_state *s = m->state;
    NTK_TRY(kstep_ready(m));
    size_t nk = r->n * r->k;
    for (size_t i = 0; i < nk; i++) s->R[i] = r->y[i] - s->u[i];
    ntk_axpy(nk, r->c, s->R, s->G);
    NTK_TRY(s->ops.apply(s->ops.ctx, s->R, r->k, s->V));
    ntk_axpy(nk, r->c, s->V, s->u);
    return NTK_OK;
}

/* F = f0 + K(X, X_train) G (f0 NULL: 0) */
static ntk_status kstep_cross(run_model *m, const double *X, size_t n, const double *f0, double *F)
{
    const ntk_run *r = m->run;
    kstep_state *s = m->state;
    NTK_TRY(kstep_ready(m));
    NTK_TRY(s->ops.cross(s->ops.ctx, X, n, s->G, r->k, F));
    if (f0) ntk_axpy(n * r->k, 1.0, f0, F);
    return NTK_OK;
}

static ntk_status kstep_predict(run_model *m, double t, int test, double *f)
{
    (void)t;
    const ntk_run *r = m->run;
    const kstep_state *s = m->state;
    NTK_TRY(kstep_ready(m));
    if (!test) {
        memcpy(f, s->u, r->n * r->k * sizeof(double));
        return NTK_OK;
    }
    return r->nt ? kstep_cross(m, r->Xt, r->nt, r->ft0, f) : NTK_OK;
}

static ntk_status kstep_predict_at(run_model *m, double t, const double *X, size_t n,
                                   const double *f0, double *f)
{
    (void)t;
    return kstep_cross(m, X, n, f0, f);
}

static void kstep_destroy(run_model *m)
{
    kstep_state *s = m->state;
    if (!s) return;
    free(s->u);
    free(s);
}

static const run_model_ops kstep_ops = {kstep_step, NULL, NULL, NULL, kstep_predict,
                                        kstep_predict_at, kstep_destroy};

int run_model_kernel_stepped(const run_model *m) { return m->ops == &kstep_ops; }

ntk_status run_model_kernel_stepped_create(ntk_run *r, run_model *m, int inf)
{
    m->ops = &kstep_ops;
    m->run = r;
    kstep_state *s = ntk_calloc(1, sizeof *s, "kernel model");
    if (!s) return NTK_ERR_NOMEM;
    m->state = s;
    s->inf = inf;
    size_t nk = r->n * r->k;
    s->u = ntk_calloc(ntk_size_mul(nk, 4, 1, 1), sizeof(double), "kernel model state");
    if (!s->u) return NTK_ERR_NOMEM;
    s->G = s->u + nk, s->R = s->G + nk, s->V = s->R + nk;
    memcpy(s->u, r->f0, nk * sizeof(double));
    return NTK_OK;
}

ntk_status run_model_kernel_set_ops(run_model *m, const ntk_kernel_ops *ops)
{
    kstep_state *s = m->state;
    s->ops = *ops;
    return NTK_OK;
}
