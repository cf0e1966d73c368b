/* Side-by-side runs: the network, its linearization, Hu et al.'s linear model
 * and closed-form kernel gradient descent with the empirical and the
 * infinite-width NTK, from one θ0 on one dataset with one pair of rates
 * (MATH.md §1, §4–§7), plus the quantities the theorems name.
 *
 * Time: with GD, t counts steps. With gradient flow (cfg.flow), every model
 * follows dθ/dt = −(η1 ∇_W L, η2 ∇_v L), so GD with rates (εη1, εη2) for k
 * steps approximates the flow at t = εk; the kernel models then move by
 * u(t) − y = exp(−c t (η1Θ1 + η2Θ2)) (u(0) − y). */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static const char *const model_names[NTK_NMODELS] = {"nn", "linearized", "lin", "ntk", "ntk_inf"};

const char *ntk_model_name(int index)
{
    return index >= 0 && index < NTK_NMODELS ? model_names[index] : "unknown";
}

ntk_status ntk_models_parse(const char *list, unsigned *mask)
{
    if (!list || !*list) return ntk_set_error(NTK_ERR_ARG, "empty model list; name some of nn,linearized,lin,ntk,ntk-inf");
    unsigned out = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[32];
        if (len == 0 || len >= sizeof name)
            return ntk_set_error(NTK_ERR_ARG, "bad model list '%s'; use e.g. nn,linearized,ntk", list);
        for (size_t k = 0; k < len; k++) name[k] = p[k] == '-' ? '_' : p[k];
        name[len] = '\0';
        int found = -1;
        for (int k = 0; k < NTK_NMODELS; k++)
            if (strcmp(name, model_names[k]) == 0) found = k;
        if (strcmp(name, "all") == 0)
            out |= NTK_MODEL_ALL;
        else if (found < 0)
            return ntk_set_error(NTK_ERR_ARG,
                                 "unknown model '%s'; choose from nn,linearized,lin,ntk,ntk-inf", name);
        else
            out |= 1u << found;
        p += len;
        if (*p == ',') p++;
    }
    *mask = out | NTK_MODEL_NN;
    return NTK_OK;
}

ntk_run_config ntk_run_config_default(ntk_net_config net, ntk_gd_config gd)
{
    ntk_run_config c;
    memset(&c, 0, sizeof c);
    c.net = net;
    c.gd = gd;
    c.models = NTK_MODEL_ALL;
    c.flow = 0;
    c.flow_rtol = 1e-6;
    c.kernel_every = 10;
    c.kernel_subsample = 500;
    return c;
}

/* ---------------------------------------------------------------------- */

/* Columns of the metrics row, in order. Model-specific columns exist only
 * for models that are on. */
enum { COL_MAX = 64 };

typedef struct {
    int inf, exact;
    double c1, c2, lmin, lmax;
} spec_entry;

struct ntk_run {
    ntk_run_config cfg;
    const double *X, *y, *Xt, *yt;
    size_t n, nt, d, m;
    double c;                   /* loss scale: 1/n (mean) or 1 (sum) */
    double t;                   /* current time (steps or flow time) */
    const volatile int *cancel; /* set by the caller to stop (ntk_run_set_cancel) */
    /* outputs of the model at θ0 (0 for the centred model) */
    double *f0, *ft0;
    /* nn */
    ntk_net *net;
    ntk_trainer *tr;
    int nn_evaluated;           /* trainer holds the evaluation at the current t */
    ntk_ode *ode_nn;
    double *theta;              /* flow state [W ; v] */
    double *theta_save;         /* flow: the states at the start of an advance */
    /* linearized */
    ntk_linz *lz;
    double *lz_g, *lz_f;        /* gradient (P), train predictions (n) */
    ntk_ode *ode_lz;
    /* lin: f = f0 + Ψ β with Ψ = [√η1 ψ1, √η2 ψ2] (p columns) */
    double *Psi, *Psit, *beta, *lin_b, *lin_V, *lin_mu, *lin_tmp;
    size_t p;
    /* kernel models */
    ntk_kgd *kgd[2];            /* ntk, ntk_inf */
    double *Ktest[2];           /* (nt,n) */
    /* activation flips (piecewise-linear φ): signs of Z0 on the train set */
    unsigned char *sign0;
    double *zblock;             /* scratch (block,m) */
    size_t zrows;
    /* kernel drift on a subsample */
    size_t S;
    double *Xs, *K0s;           /* (S,d), Θ(0) on the subsample (S,S) */
    double *Ks;                 /* scratch (S,S) */
    double ktheta0_lmin;
    /* scratch predictions */
    double *fa, *fb, *fta, *ftb;
    /* columns */
    size_t ncols;
    const char *cols[COL_MAX];
    char names[COL_MAX][40];
    double env_rate, loss0;
    ntk_constants consts;
    int consts_ok;
    /* spectra already computed on the first points, keyed by (inf, c1, c2) */
    spec_entry spec[6];
    int nspec;
};

static int model_on(const ntk_run *r, int k) { return (r->cfg.models >> k) & 1u; }

/* the unweighted kernel of the trained layers: c1 = [η1 > 0], c2 = [η2 > 0] */
static double tc1(const ntk_run *r) { return r->cfg.gd.lr1 > 0 ? 1.0 : 0.0; }
static double tc2(const ntk_run *r) { return r->cfg.gd.lr2 > 0 ? 1.0 : 0.0; }

static void add_col(ntk_run *r, const char *fmt, const char *arg)
{
    snprintf(r->names[r->ncols], sizeof r->names[0], fmt, arg);
    r->cols[r->ncols] = r->names[r->ncols];
    r->ncols++;
}

static void build_columns(ntk_run *r)
{
    add_col(r, "%s", r->cfg.flow ? "time" : "step");
    for (int k = 0; k < NTK_NMODELS; k++)
        if (model_on(r, k)) {
            add_col(r, "%s_train_loss", model_names[k]);
            add_col(r, "%s_test_loss", model_names[k]);
        }
    for (int k = 1; k < NTK_NMODELS; k++)
        if (model_on(r, k)) {
            add_col(r, "gap_%s_train", model_names[k]);
            add_col(r, "gap_%s_test", model_names[k]);
        }
    const char *rest[] = {"theta_dist", "w_dist_fro", "v_dist", "w_dist_max_row", "grad_norm",
                          "flip_frac", "ntk_drift", "ntk_lambda_min", "envelope"};
    for (size_t k = 0; k < sizeof rest / sizeof rest[0]; k++) add_col(r, "%s", rest[k]);
}

size_t ntk_run_ncolumns(const ntk_run *run) { return run->ncols; }
const char *ntk_run_column(const ntk_run *run, size_t k) { return k < run->ncols ? run->cols[k] : NULL; }
double ntk_run_time(const ntk_run *run) { return run->t; }
const ntk_net *ntk_run_net(const ntk_run *run) { return run->net; }

/* Bytes of a run on n train and nt test points: what stays allocated during
 * the loop plus the largest of the temporary peaks (each model's set-up,
 * the theory spectra, a kernel-drift measurement, the Lipschitz estimate).
 * Counted in doubles as floating point so that no product overflows. */
size_t ntk_run_mem_bytes(const ntk_run_config *cfg, size_t n_, size_t nt_)
{
    const double n = (double)n_, nt = (double)nt_, m = (double)cfg->net.m, d = (double)cfg->net.d;
    const double md = m * d + m, D = 8.0;   /* doubles -> bytes */
    const unsigned mod = cfg->models | NTK_MODEL_NN;
    double keep = 3 * (n + nt) * D + 2 * md * D +
                  (double)ntk_trainer_mem_bytes(n_, cfg->net.d, cfg->net.m);
    if (mod & NTK_MODEL_LINEARIZED) {
        double lz = (double)ntk_linz_mem_bytes(n_, nt_, cfg->net.d, cfg->net.m);
        keep += lz + (md + n) * D;
    }
    double peak = 0.0;
    if (mod & NTK_MODEL_LIN) {
        /* setup_lin: Ψ, the small vectors, V, one feature block, Xr */
        double p = (cfg->gd.lr1 > 0 ? d + 1 : 0) + (cfg->gd.lr2 > 0 ? d + 2 : 0);
        double nf = fmax((n + nt) * (d + 2), p * p);
        keep += ((n + nt) * p + 4 * p + p * p + nf + (n + nt) * d) * D;
        peak = fmax(peak, 3 * p * p * D);   /* eigendecomposition of c·ΨᵀΨ */
    }
    int nk = !!(mod & NTK_MODEL_NTK) + !!(mod & NTK_MODEL_NTK_INF);
    if (nk) {
        /* kept per model: eigenvectors (n <= 2000) or a Krylov basis of at
         * most 600 vectors, and K_test. While one is set up: the kernel, its
         * tiles, and the eigensolver's copy and workspace (3n²) or the basis */
        int eig = n_ <= 2000;
        double kmax = 600;
        keep += nk * ((eig ? n * n + 2 * n : kmax * n + kmax * kmax + 2 * kmax) + nt * n) * D;
        double tiles = (mod & NTK_MODEL_NTK)
                           ? (double)ntk_kernel_empirical_scratch_bytes(cfg->net.m, n_, 0, 1, 1,
                                                                         cfg->mem_limit)
                           : 0.0;
        peak = fmax(peak, n * n * D + tiles + (eig ? 3 * n * n : kmax * n) * D);
    }
    /* theory: λ_min/λ_max on up to 3000 points: kernel, copy, transposed copy */
    double N = fmin(n, 3000);
    double tilesN = (double)ntk_kernel_empirical_scratch_bytes(cfg->net.m, (size_t)N, 0, 1, 1,
                                                               cfg->mem_limit);
    peak = fmax(peak, 3 * N * N * D + tilesN);
    if (ntk_act_piecewise_linear(cfg->net.act)) keep += n * m + 262144 * D;   /* signs, block */
    double S = cfg->kernel_subsample == 0 || cfg->kernel_subsample > n_ ? n
                                                                        : (double)cfg->kernel_subsample;
    if (cfg->kernel_every) {
        double tilesS = (double)ntk_kernel_empirical_scratch_bytes(cfg->net.m, (size_t)S, 0, 1, 1,
                                                                   cfg->mem_limit);
        keep += (S * d + 2 * S * S) * D;
        peak = fmax(peak, 2 * S * S * D + tilesS);
    }
    /* the Lipschitz estimate at the end: four (S, m) blocks, two S² and the
     * eigenvalue copies */
    double Sb = cfg->kernel_subsample == 0 ? fmin(n, 500) : S;
    peak = fmax(peak, (4 * Sb * m + 4 * Sb * Sb) * D);
    if (cfg->flow) {
        /* the state, its saved copy, and about 24 vectors of the rk8pd
         * stepper and driver, per integrated model */
        double odes = 1 + !!(mod & NTK_MODEL_LINEARIZED);
        keep += (3 * md + odes * 24 * md) * D;
    }
    double total = keep + peak;
    return total >= 4e18 ? SIZE_MAX : (size_t)total;
}

/* ---------------------------------------------------------------------- */

void ntk_run_free(ntk_run *r)
{
    if (!r) return;
    ntk_trainer_free(r->tr);
    ntk_net_free(r->net);
    ntk_ode_free(r->ode_nn);
    ntk_ode_free(r->ode_lz);
    ntk_linz_free(r->lz);
    for (int k = 0; k < 2; k++) {
        ntk_kgd_free(r->kgd[k]);
        free(r->Ktest[k]);
    }
    free(r->theta);
    free(r->lz_g);
    free(r->Psi);
    free(r->sign0);
    free(r->zblock);
    free(r->Xs);
    free(r->f0);
    free(r);
}

/* Θ of kind (empirical at θ0, or infinite) weighted (c1, c2) on X1 × X2 */
static ntk_status kernel_at_init(const ntk_run *r, int inf, const double *X1, size_t n1,
                                 const double *X2, size_t n2, double c1, double c2, double *K)
{
    if (inf) return ntk_kernel_infinite(&r->cfg.net, X1, n1, X2, n2, c1, c2, r->cfg.quad_order, K);
    return ntk_kernel_empirical(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), X1, n1, X2,
                                n2, c1, c2, r->cfg.mem_limit, K);
}

static ntk_status weighted_extremes(ntk_run *r, int inf, double c1, double c2, double *lmin,
                                    double *lmax, int *exact);

/* ntk / ntk_inf: K = η1Θ1 + η2Θ2 at θ0 (or ∞), eigendecomposed once */
static ntk_status setup_kernel_model(ntk_run *r, int inf)
{
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
    ntk_status st = kernel_at_init(r, inf, r->X, n, NULL, 0, r->cfg.gd.lr1, r->cfg.gd.lr2, K);
    if (st == NTK_OK) st = ntk_kgd_create_cfg(K, n, r->y, r->f0, &kc, &r->kgd[inf]);
    free(K);
    if (st != NTK_OK || nt == 0) return st;
    r->Ktest[inf] = ntk_alloc(nt * n, sizeof(double), "test kernel");
    if (!r->Ktest[inf]) return NTK_ERR_NOMEM;
    return kernel_at_init(r, inf, r->Xt, nt, r->X, n, r->cfg.gd.lr1, r->cfg.gd.lr2, r->Ktest[inf]);
}

/* lin: Ψ = [√η1 ψ1 | √η2 ψ2] on inputs rescaled to x·√d/s (the network sees
 * only x/s, and Hu et al.'s features are written for s = √d). */
static ntk_status setup_lin(ntk_run *r)
{
    size_t d = r->d, n = r->n, nt = r->nt;
    double e1 = r->cfg.gd.lr1, e2 = r->cfg.gd.lr2;
    size_t p1 = e1 > 0 ? d + 1 : 0, p2 = e2 > 0 ? d + 2 : 0;
    r->p = p1 + p2;
    if (r->p == 0) return NTK_OK;
    size_t p = r->p;
    /* kept: Ψ (n+nt, p), β, b, μ, scratch (p each), V (p,p); set-up only:
     * one feature block F (n+nt, d+2), which then holds c·ΨᵀΨ (p,p), and the
     * rescaled inputs Xr (n+nt, d) */
    size_t nf = (n + nt) * (d + 2) > p * p ? (n + nt) * (d + 2) : p * p;
    size_t count = (n + nt) * p + 4 * p + p * p + nf + (n + nt) * d;
    r->Psi = ntk_calloc(count, sizeof(double), "linear model features");
    if (!r->Psi) return NTK_ERR_NOMEM;
    r->Psit = r->Psi + n * p;
    r->beta = r->Psit + nt * p;
    r->lin_b = r->beta + p;
    r->lin_mu = r->lin_b + p;
    r->lin_tmp = r->lin_mu + p;
    r->lin_V = r->lin_tmp + p;
    double *F = r->lin_V + p * p;            /* (nf) one block of features, then c·ΨᵀΨ */
    double *Xr = F + nf;                     /* (n+nt, d) rescaled inputs */
    ntk_lin_inputs(&r->cfg.net, r->X, n, Xr);
    if (nt) ntk_lin_inputs(&r->cfg.net, r->Xt, nt, Xr + n * d);
    double alpha = r->cfg.net.alpha;
    for (int layer = 1; layer <= 2; layer++) {
        double eta = layer == 1 ? e1 : e2;
        if (eta <= 0) continue;
        size_t q = layer == 1 ? d + 1 : d + 2, off = layer == 1 ? 0 : p1;
        NTK_TRY(ntk_lin_features(&r->consts, alpha, layer, Xr, n + nt, d, F));
        for (size_t i = 0; i < n + nt; i++) {
            double *dst = i < n ? r->Psi + i * p : r->Psit + (i - n) * p;
            for (size_t j = 0; j < q; j++) dst[off + j] = sqrt(eta) * F[i * q + j];
        }
    }
    /* flow in feature space: M = c ΨᵀΨ = V diag(μ) Vᵀ, b = c Ψᵀ(y − f0) */
    double c = r->c;
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)p, (int)n, c, r->Psi, (int)p, 0.0,
                F, (int)p);
    for (size_t i = 0; i < p; i++)
        for (size_t j = i + 1; j < p; j++) F[i * p + j] = F[j * p + i];
    NTK_TRY(ntk_eigh(F, p, r->lin_mu, r->lin_V));
    double *res = r->fa;
    for (size_t i = 0; i < n; i++) res[i] = r->y[i] - r->f0[i];
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, c, r->Psi, (int)p, res, 1, 0.0, r->lin_b, 1);
    return NTK_OK;
}

/* f = f0 + Ψβ on train (n) or test (nt) */
static void lin_predict(const ntk_run *r, int test, double *f)
{
    size_t rows = test ? r->nt : r->n;
    if (rows == 0) return;
    const double *f0 = test ? r->ft0 : r->f0;
    memcpy(f, f0, rows * sizeof(double));
    if (r->p)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)r->p, 1.0, test ? r->Psit : r->Psi,
                    (int)r->p, r->beta, 1, 1.0, f, 1);
}

/* β(t) = V diag((1 − e^{−μt})/μ) Vᵀ b (flow; → t as μ → 0) */
static void lin_flow_to(ntk_run *r, double t)
{
    size_t p = r->p;
    if (!p) return;
    double *w = r->lin_tmp;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)p, (int)p, 1.0, r->lin_V, (int)p, r->lin_b, 1, 0.0, w, 1);
    double tol = 1e-12 * fabs(r->lin_mu[p - 1]);
    for (size_t k = 0; k < p; k++) {
        double mu = r->lin_mu[k];
        w[k] *= fabs(mu) <= tol ? t : -expm1(-mu * t) / mu;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)p, (int)p, 1.0, r->lin_V, (int)p, w, 1, 0.0, r->beta, 1);
}

/* one GD step of lin: β ← β − c Ψᵀ(f − y) */
static void lin_step(ntk_run *r)
{
    if (!r->p) return;
    double *f = r->fb;
    lin_predict(r, 0, f);
    cblas_daxpy((int)r->n, -1.0, r->y, 1, f, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)r->n, (int)r->p, -r->c, r->Psi, (int)r->p, f, 1,
                1.0, r->beta, 1);
}

/* signs of the pre-activations X Wᵀ/s, block by block: counts flips against
 * sign0 (or records sign0 when record = 1) */
static double flip_fraction(ntk_run *r, const double *W, int record)
{
    size_t n = r->n, m = r->m, d = r->d;
    double s = ntk_net_config_s(&r->cfg.net);
    size_t flips = 0;
    for (size_t i0 = 0; i0 < n; i0 += r->zrows) {
        size_t B = n - i0 < r->zrows ? n - i0 : r->zrows;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)m, (int)d, 1.0 / s,
                    r->X + i0 * d, (int)d, W, (int)d, 0.0, r->zblock, (int)m);
        unsigned char *s0 = r->sign0 + i0 * m;
        for (size_t k = 0; k < B * m; k++) {
            unsigned char sg = r->zblock[k] > 0;
            if (record)
                s0[k] = sg;
            else
                flips += sg != s0[k];
        }
    }
    return (double)flips / ((double)n * (double)m);
}

/* ---------------------------------------------------------------------- */

/* NTK_ERR_INTERRUPTED once the caller's cancel flag is set. */
static ntk_status check_cancel(const ntk_run *r)
{
    if (r->cancel && *r->cancel)
        return ntk_set_error(NTK_ERR_INTERRUPTED, "the run was stopped at %s %g", r->cfg.flow ? "time" : "step", r->t);
    return NTK_OK;
}

static ntk_status rhs_nn(void *ctx, double t, const double *th, double *dth)
{
    (void)t;
    ntk_run *r = ctx;
    size_t md = r->m * r->d;
    NTK_TRY(check_cancel(r));
    NTK_TRY(ntk_net_set_weights(r->net, th, th + md));
    NTK_TRY(ntk_trainer_eval(r->tr));
    const double *gW = ntk_trainer_gW(r->tr), *gv = ntk_trainer_gv(r->tr);
    for (size_t k = 0; k < md; k++) dth[k] = gW ? -r->cfg.gd.lr1 * gW[k] : 0.0;
    for (size_t k = 0; k < r->m; k++) dth[md + k] = gv ? -r->cfg.gd.lr2 * gv[k] : 0.0;
    return NTK_OK;
}

static ntk_status rhs_lz(void *ctx, double t, const double *p, double *dp)
{
    (void)t;
    ntk_run *r = ctx;
    size_t md = r->m * r->d;
    NTK_TRY(check_cancel(r));
    double L = ntk_linz_loss_grad(r->lz, p, r->y, r->cfg.gd.loss, r->lz_f, dp);
    if (!isfinite(L)) return ntk_set_error(NTK_ERR_DIVERGED, "linearized flow diverged; use smaller rates");
    ntk_scal(md, -r->cfg.gd.lr1, dp);
    ntk_scal(r->m, -r->cfg.gd.lr2, dp + md);
    return NTK_OK;
}

static ntk_status check_run_args(const ntk_run_config *cfg, const double *X, const double *y,
                                 size_t n, const double *Xt, const double *yt, size_t nt)
{
    NTK_TRY(ntk_net_config_check(&cfg->net));
    if (!X || !y || n == 0) return ntk_set_error(NTK_ERR_ARG, "a run needs training data (n > 0)");
    if (nt && (!Xt || !yt)) return ntk_set_error(NTK_ERR_ARG, "test data pointers are NULL");
    if (!(cfg->gd.lr1 >= 0 && cfg->gd.lr2 >= 0) || !isfinite(cfg->gd.lr1) || !isfinite(cfg->gd.lr2))
        return ntk_set_error(NTK_ERR_ARG, "rates must be finite and non-negative");
    if (cfg->gd.lr1 == 0 && cfg->gd.lr2 == 0)
        return ntk_set_error(NTK_ERR_ARG, "both rates are 0: nothing would train; set --lr1 or --lr2");
    if (cfg->flow && !(cfg->flow_rtol > 0 && cfg->flow_rtol < 1))
        return ntk_set_error(NTK_ERR_ARG, "flow tolerance must be in (0,1)");
    NTK_TRY(ntk_check_finite(X, n * cfg->net.d, "training inputs"));
    NTK_TRY(ntk_check_finite(y, n, "training targets"));
    if (nt) {
        NTK_TRY(ntk_check_finite(Xt, nt * cfg->net.d, "test inputs"));
        NTK_TRY(ntk_check_finite(yt, nt, "test targets"));
    }
    size_t need = ntk_run_mem_bytes(cfg, n, nt);
    ntk_status st = ntk_mem_check(need, 0, "this run");
    if (st != NTK_OK && (cfg->models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s; the n x n kernel eigendecomposition of the ntk/ntk-inf "
                 "models (n = %zu) dominates: drop them with --models nn,linearized,lin",
                 ntk_errmsg(), n);
        return ntk_set_error(NTK_ERR_NOMEM, "%s", msg);
    }
    return st;
}

ntk_status ntk_run_create(const ntk_run_config *cfg, const double *X, const double *y, size_t n,
                          const double *Xt, const double *yt, size_t nt, const double *W0,
                          const double *v0, ntk_run **out)
{
    if (!out || !cfg) return ntk_set_error(NTK_ERR_ARG, "ntk_run_create: NULL argument");
    *out = NULL;
    NTK_TRY(check_run_args(cfg, X, y, n, Xt, yt, nt));
    ntk_run *r = ntk_calloc(1, sizeof *r, "run");
    if (!r) return NTK_ERR_NOMEM;
    r->cfg = *cfg;
    r->cfg.models |= NTK_MODEL_NN;
    r->X = X, r->y = y, r->Xt = Xt, r->yt = yt;
    r->n = n, r->nt = nt, r->d = cfg->net.d, r->m = cfg->net.m;
    r->c = ntk_loss_scale(cfg->gd.loss, n);
    size_t m = r->m, d = r->d;
    ntk_status st;
#define FAIL(expr)              \
    do {                        \
        st = (expr);            \
        if (st != NTK_OK) {     \
            ntk_run_free(r);    \
            return st;          \
        }                       \
    } while (0)
    r->f0 = ntk_calloc(3 * (n + nt), sizeof(double), "run predictions");
    if (!r->f0) FAIL(NTK_ERR_NOMEM);
    r->ft0 = r->f0 + n;
    r->fa = r->ft0 + nt;
    r->fb = r->fa + n;
    r->fta = r->fb + n;
    r->ftb = r->fta + nt;
    FAIL(W0 ? ntk_net_create_from(&r->cfg.net, W0, v0, &r->net) : ntk_net_create(&r->cfg.net, &r->net));
    FAIL(ntk_trainer_create(r->net, X, y, n, cfg->gd, &r->tr));
    if (!r->cfg.net.centered) {
        FAIL(ntk_forward(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), X, n, r->f0));
        if (nt) FAIL(ntk_forward(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), Xt, nt, r->ft0));
    }
    if (model_on(r, 1)) {
        FAIL(ntk_linz_create(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), X, n, Xt, nt, r->f0,
                             r->ft0, &r->lz));
        r->lz_g = ntk_alloc(m * d + m + n, sizeof(double), "linearized gradient");
        if (!r->lz_g) FAIL(NTK_ERR_NOMEM);
        r->lz_f = r->lz_g + m * d + m;
    }
    double tf = cfg->trace_factor;
    if (tf <= 0) FAIL(ntk_trace_factor(X, n, d, &tf));
    FAIL(ntk_constants_compute(cfg->net.act, tf, cfg->quad_order, &r->consts));
    r->consts_ok = 1;
    if (model_on(r, 2)) FAIL(setup_lin(r));
    if (model_on(r, 3)) FAIL(setup_kernel_model(r, 0));
    if (model_on(r, 4)) FAIL(setup_kernel_model(r, 1));
    if (ntk_act_piecewise_linear(cfg->net.act)) {
        r->zrows = (size_t)(1u << 18) / m + 1;
        if (r->zrows > n) r->zrows = n;
        r->sign0 = ntk_alloc(n * m, 1, "activation signs");
        r->zblock = ntk_alloc(r->zrows * m, sizeof(double), "pre-activation block");
        if (!r->sign0 || !r->zblock) FAIL(NTK_ERR_NOMEM);
        flip_fraction(r, ntk_net_W0(r->net), 1);
    }
    /* kernel drift subsample: the first S training points */
    r->S = cfg->kernel_subsample == 0 || cfg->kernel_subsample > n ? n : cfg->kernel_subsample;
    if (cfg->kernel_every) {
        r->Xs = ntk_alloc(2 * r->S * r->S + r->S * d, sizeof(double), "kernel drift subsample");
        if (!r->Xs) FAIL(NTK_ERR_NOMEM);
        r->K0s = r->Xs + r->S * d;
        r->Ks = r->K0s + r->S * r->S;
        memcpy(r->Xs, X, r->S * d * sizeof(double));
        FAIL(kernel_at_init(r, 0, r->Xs, r->S, NULL, 0, tc1(r), tc2(r), r->K0s));
        ntk_spectrum_summary sp;
        FAIL(ntk_spectrum_summary_of(r->K0s, r->S, &sp));
        r->ktheta0_lmin = sp.lmin;
    }
    if (cfg->flow) {
        r->theta = ntk_alloc(3 * (m * d + m), sizeof(double), "flow state");
        if (!r->theta) FAIL(NTK_ERR_NOMEM);
        r->theta_save = r->theta + m * d + m;
        memcpy(r->theta, ntk_net_W0(r->net), m * d * sizeof(double));
        memcpy(r->theta + m * d, ntk_net_v0(r->net), m * sizeof(double));
        FAIL(ntk_ode_create(m * d + m, cfg->flow_rtol, rhs_nn, r, &r->ode_nn));
        if (r->lz) FAIL(ntk_ode_create(m * d + m, cfg->flow_rtol, rhs_lz, r, &r->ode_lz));
    }
    /* the loss envelope's rate: c·λ_min(η1Θ1 + η2Θ2) from the ntk model when
     * it is on, else from the subsample */
    FAIL(ntk_trainer_eval(r->tr));
    r->nn_evaluated = 1;
    r->loss0 = ntk_trainer_loss(r->tr);
    {
        double lmin, lmax;
        int exact;
        FAIL(weighted_extremes(r, 0, cfg->gd.lr1, cfg->gd.lr2, &lmin, &lmax, &exact));
        r->env_rate = lmin > 0 ? r->c * lmin : 0.0;
    }
    build_columns(r);
#undef FAIL
    *out = r;
    return NTK_OK;
}

/* ---------------------------------------------------------------------- */

static ntk_status advance_gd(ntk_run *r, double t)
{
    size_t md = r->m * r->d;
    while (r->t + 0.5 < t) {
        /* every step, so that a run stops within one step of being asked */
        NTK_TRY(check_cancel(r));
        if (!r->nn_evaluated) NTK_TRY(ntk_trainer_eval(r->tr));
        r->nn_evaluated = 0;
        NTK_TRY(ntk_trainer_apply(r->tr));
        if (r->lz) {
            double *p = ntk_linz_params(r->lz);
            double L = ntk_linz_loss_grad(r->lz, p, r->y, r->cfg.gd.loss, r->lz_f, r->lz_g);
            if (!isfinite(L))
                return ntk_set_error(NTK_ERR_DIVERGED, "the linearized model diverged; use smaller rates");
            ntk_axpy(md, -r->cfg.gd.lr1, r->lz_g, p);
            ntk_axpy(r->m, -r->cfg.gd.lr2, r->lz_g + md, p + md);
        }
        if (r->p) lin_step(r);
        r->t += 1.0;
    }
    return NTK_OK;
}

/* Every model to time t. The integrators may stop early (cancel, or a step
 * they cannot take): then every model goes back to the state at the start,
 * so that the run stays at one time for all of them. */
static ntk_status advance_flow(ntk_run *r, double t)
{
    size_t md = r->m * r->d, P = md + r->m;
    double *p_lz = r->lz ? ntk_linz_params(r->lz) : NULL;
    memcpy(r->theta_save, r->theta, P * sizeof(double));
    if (p_lz) memcpy(r->theta_save + P, p_lz, P * sizeof(double));
    double tn = r->t;
    r->nn_evaluated = 0;
    ntk_status st = ntk_ode_advance(r->ode_nn, &tn, t, r->theta);
    if (st == NTK_OK && r->ode_lz) {
        double tl = r->t;
        st = ntk_ode_advance(r->ode_lz, &tl, t, p_lz);
    }
    if (st != NTK_OK) {
        memcpy(r->theta, r->theta_save, P * sizeof(double));
        if (p_lz) memcpy(p_lz, r->theta_save + P, P * sizeof(double));
        ntk_ode_reset(r->ode_nn);
        if (r->ode_lz) ntk_ode_reset(r->ode_lz);
    }
    /* the net holds the last evaluated stage; put back the accepted state */
    ntk_status st2 = ntk_net_set_weights(r->net, r->theta, r->theta + md);
    NTK_TRY(st);
    NTK_TRY(st2);
    if (r->p) lin_flow_to(r, t);
    r->t = t;
    return NTK_OK;
}

void ntk_run_set_cancel(ntk_run *r, const volatile int *flag)
{
    if (r) r->cancel = flag;
}

ntk_status ntk_run_advance(ntk_run *r, double t)
{
    if (!r) return ntk_set_error(NTK_ERR_ARG, "run is NULL");
    if (!(t >= r->t)) return ntk_set_error(NTK_ERR_ARG, "time must not decrease (now %g, asked %g)", r->t, t);
    return r->cfg.flow ? advance_flow(r, t) : advance_gd(r, t);
}

ntk_status ntk_run_predictions(const ntk_run *rc, int model, double *f_train, double *f_test)
{
    ntk_run *r = (ntk_run *)rc;
    if (model < 0 || model >= NTK_NMODELS || !model_on(r, model))
        return ntk_set_error(NTK_ERR_ARG, "model %d is not part of this run", model);
    switch (model) {
    case 0:
        if (f_train) NTK_TRY(ntk_net_predict(r->net, r->X, r->n, f_train));
        if (f_test && r->nt) NTK_TRY(ntk_net_predict(r->net, r->Xt, r->nt, f_test));
        return NTK_OK;
    case 1:
        if (f_train) ntk_linz_predict(r->lz, ntk_linz_params(r->lz), 0, f_train);
        if (f_test) ntk_linz_predict(r->lz, ntk_linz_params(r->lz), 1, f_test);
        return NTK_OK;
    case 2:
        if (f_train) lin_predict(r, 0, f_train);
        if (f_test) lin_predict(r, 1, f_test);
        return NTK_OK;
    default: {
        int k = model - 3;
        if (f_train) NTK_TRY(ntk_kgd_predict_train(r->kgd[k], r->t, r->cfg.flow, f_train));
        if (f_test && r->nt)
            NTK_TRY(ntk_kgd_predict_test(r->kgd[k], r->t, r->cfg.flow, r->Ktest[k], r->nt, r->ft0, f_test));
        return NTK_OK;
    }
    }
}

static double mean_sq_diff(const double *a, const double *b, size_t n, int capped)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (a[i] - b[i]) * (a[i] - b[i]);
        s += capped && e > 1.0 ? 1.0 : e;
    }
    return n ? s / (double)n : NAN;
}

ntk_status ntk_run_metrics(ntk_run *r, int with_kernel, double *row)
{
    size_t col = 0;
    for (size_t k = 0; k < r->ncols; k++) row[k] = NAN;
    row[col++] = r->t;
    /* nn predictions: the trainer's evaluation gives the train side */
    if (!r->nn_evaluated) {
        NTK_TRY(ntk_trainer_eval(r->tr));
        r->nn_evaluated = !r->cfg.flow;
    }
    const double *fnn = ntk_trainer_pred(r->tr);
    memcpy(r->fa, fnn, r->n * sizeof(double));
    if (r->nt) NTK_TRY(ntk_net_predict(r->net, r->Xt, r->nt, r->fta));
    ntk_loss_kind lk = r->cfg.gd.loss;
    double gaps[NTK_NMODELS][2];
    for (int k = 0; k < NTK_NMODELS; k++) {
        if (!model_on(r, k)) continue;
        const double *ftr = r->fa, *fte = r->fta;
        if (k > 0) {
            NTK_TRY(ntk_run_predictions(r, k, r->fb, r->nt ? r->ftb : NULL));
            ftr = r->fb, fte = r->ftb;
            gaps[k][0] = mean_sq_diff(r->fa, r->fb, r->n, 0);
            gaps[k][1] = r->nt ? mean_sq_diff(r->fta, r->ftb, r->nt, 1) : NAN;
        }
        row[col++] = ntk_loss_value(lk, ftr, r->y, r->n);
        row[col++] = r->nt ? ntk_loss_value(lk, fte, r->yt, r->nt) : NAN;
    }
    for (int k = 1; k < NTK_NMODELS; k++)
        if (model_on(r, k)) {
            row[col++] = gaps[k][0];
            row[col++] = gaps[k][1];
        }
    ntk_weight_dist wd;
    ntk_net_weight_dist(r->net, &wd);
    row[col++] = sqrt((r->cfg.gd.lr1 > 0 ? wd.w_fro * wd.w_fro : 0) + (r->cfg.gd.lr2 > 0 ? wd.v_norm * wd.v_norm : 0));
    row[col++] = wd.w_fro;
    row[col++] = wd.v_norm;
    row[col++] = wd.w_max_row;
    row[col++] = ntk_trainer_grad_norm(r->tr);
    row[col++] = r->sign0 ? flip_fraction(r, ntk_net_W(r->net), 0) : NAN;
    if (with_kernel && r->K0s) {
        NTK_TRY(ntk_kernel_empirical(&r->cfg.net, ntk_net_W(r->net), ntk_net_v(r->net), r->Xs, r->S,
                                     NULL, 0, tc1(r), tc2(r), r->cfg.mem_limit, r->Ks));
        ntk_kernel_dist kd;
        ntk_spectrum_summary sp;
        NTK_TRY(ntk_kernel_distance(r->Ks, r->K0s, r->S, &kd));
        NTK_TRY(ntk_spectrum_summary_of(r->Ks, r->S, &sp));
        row[col] = kd.rel_op;
        row[col + 1] = sp.lmin;
    }
    col += 2;
    if (r->cfg.flow)
        row[col++] = r->loss0 * exp(-r->env_rate * r->t);
    else
        row[col++] = r->env_rate < 1 ? r->loss0 * pow(1.0 - r->env_rate, r->t) : NAN;
    return NTK_OK;
}

/* ---------------------------------------------------------------------- */

/* sup |φ'| and sup |φ''| over the real line (used by the Lipschitz bound);
 * φ'' is unbounded (a Dirac mass) for the piecewise-linear activations. */
static void act_sup(ntk_act act, double *L1, double *L2)
{
    const double sqrt_pi = 1.7724538509055160273;
    switch (act.kind) {
    case NTK_ACT_ERF:      /* φ' = 2/√π e^{−x²}; |φ''| peaks at x = 1/√2 */
        *L1 = 2.0 / sqrt_pi;
        *L2 = 4.0 / sqrt_pi * M_SQRT1_2 * exp(-0.5);
        return;
    case NTK_ACT_TANH:     /* |φ''| = 2|t|(1 − t²) peaks at t² = 1/3 */
        *L1 = 1.0;
        *L2 = 4.0 / (3.0 * sqrt(3.0));
        return;
    case NTK_ACT_SIGMOID:  /* φ' ≤ 1/4; |σ(1−σ)(1−2σ)| peaks at 1/(6√3) */
        *L1 = 0.25;
        *L2 = 1.0 / (6.0 * sqrt(3.0));
        return;
    case NTK_ACT_SOFTPLUS: /* φ' = σ < 1, φ'' = σ(1−σ) ≤ 1/4 */
        *L1 = 1.0;
        *L2 = 0.25;
        return;
    case NTK_ACT_GELU:     /* φ'' = ϕ(x)(2 − x²): φ' peaks at x = √2, |φ''| at 0 */
        *L1 = ntk_act_dphi(act, sqrt(2.0));
        *L2 = 2.0 / sqrt(2.0 * M_PI);
        return;
    case NTK_ACT_LEAKY_RELU:
        *L1 = fmax(1.0, fabs(act.param));
        *L2 = INFINITY;
        return;
    default:
        *L1 = 1.0;
        *L2 = act.kind == NTK_ACT_IDENTITY ? 0.0 : INFINITY;
        return;
    }
}

/* λ_min, λ_max of K = c1Θ1 + c2Θ2 (empirical at θ0 or ∞) on the first
 * min(n, 3000) training points; exact when that is all of them, else an
 * upper bound on λ_min and a lower bound on λ_max (Cauchy interlacing). */
static ntk_status spectrum_on_points(ntk_run *r, int inf, double c1, double c2, double *lmin,
                                     double *lmax, int *exact)
{
    for (int k = 0; k < r->nspec; k++)
        if (r->spec[k].inf == inf && r->spec[k].c1 == c1 && r->spec[k].c2 == c2) {
            *lmin = r->spec[k].lmin, *lmax = r->spec[k].lmax, *exact = r->spec[k].exact;
            return NTK_OK;
        }
    size_t N = r->n < 3000 ? r->n : 3000;
    double *K = ntk_alloc(N * N, sizeof(double), "theory kernel");
    if (!K) return NTK_ERR_NOMEM;
    ntk_spectrum_summary sp;
    ntk_status st = kernel_at_init(r, inf, r->X, N, NULL, 0, c1, c2, K);
    if (st == NTK_OK) st = ntk_spectrum_summary_of(K, N, &sp);
    free(K);
    NTK_TRY(st);
    *lmin = sp.lmin;
    *lmax = sp.lmax;
    *exact = N == r->n;
    if (r->nspec < 6)
        r->spec[r->nspec++] = (spec_entry){inf, *exact, c1, c2, sp.lmin, sp.lmax};
    return NTK_OK;
}

/* Extremes of c1Θ1 + c2Θ2 on the training set: from the kernel model's
 * solver when that kernel is a multiple of its η1Θ1 + η2Θ2 (exact with an
 * eigendecomposition; Ritz values with Krylov), else from the points; with
 * two upper bounds on λ_min the smaller is kept. */
static ntk_status weighted_extremes(ntk_run *r, int inf, double c1, double c2, double *lmin,
                                    double *lmax, int *exact)
{
    double e1 = r->cfg.gd.lr1, e2 = r->cfg.gd.lr2;
    /* (c1, c2) = f·(η1, η2)? */
    double f = e1 > 0 ? c1 / e1 : c2 / e2;
    int prop = fabs(c1 - f * e1) <= 1e-15 * fabs(c1) && fabs(c2 - f * e2) <= 1e-15 * fabs(c2) && f > 0;
    if (r->kgd[inf] && prop) {
        double a, b;
        NTK_TRY(ntk_kgd_extremes(r->kgd[inf], &a, &b, exact));
        *lmin = a * f;
        *lmax = b * f;
        if (*exact) return NTK_OK;
        double pa, pb;
        int pe;
        NTK_TRY(spectrum_on_points(r, inf, c1, c2, &pa, &pb, &pe));
        *lmin = fmin(*lmin, pa);
        *lmax = fmax(*lmax, pb);
        return NTK_OK;
    }
    return spectrum_on_points(r, inf, c1, c2, lmin, lmax, exact);
}

ntk_status ntk_run_theory_get(ntk_run *r, ntk_run_theory *o)
{
    for (double *p = (double *)o; p < (double *)(o + 1); p++) *p = NAN;
    double e1 = r->cfg.gd.lr1, e2 = r->cfg.gd.lr2;
    /* the trained-layer kernel Θ (unweighted) and the rate-weighted one */
    int ex[4];
    NTK_TRY(weighted_extremes(r, 0, tc1(r), tc2(r), &o->ntk_lmin, &o->ntk_lmax, &ex[0]));
    NTK_TRY(weighted_extremes(r, 1, tc1(r), tc2(r), &o->inf_lmin, &o->inf_lmax, &ex[1]));
    o->jac_smin = sqrt(fmax(o->ntk_lmin, 0.0));
    o->jac_smax = sqrt(fmax(o->ntk_lmax, 0.0));
    o->lr_max_stable = 2.0 / (r->c * o->ntk_lmax);
    double wmin, wmax;
    NTK_TRY(weighted_extremes(r, 0, e1, e2, &wmin, &wmax, &ex[2]));
    o->stability = r->c * wmax;
    o->envelope_rate = r->env_rate;
    o->loss0 = r->loss0;

    /* geometry of the data: q_i = ‖x_i‖²/s² */
    double s = ntk_net_config_s(&r->cfg.net), sumq = 0, sumq2 = 0, qmax = 0;
    for (size_t i = 0; i < r->n; i++) {
        double q = cblas_ddot((int)r->d, r->X + i * r->d, 1, r->X + i * r->d, 1) / (s * s);
        sumq += q, sumq2 += q * q;
        if (q > qmax) qmax = q;
    }
    const double *v0 = ntk_net_v0(r->net);
    double V = 0;
    for (size_t k = 0; k < r->m; k++) V = fmax(V, fabs(v0[k]));
    double L1, L2;
    act_sup(r->cfg.net.act, &L1, &L2);
    double alpha = r->cfg.net.alpha;
    double res0 = sqrt(2.0 * r->loss0 / r->c);   /* ‖y − u(0)‖ */

    /* seed 001 (MATH.md §7), generalised to α, s, |v_r| ≤ V and sup|φ'| = L1:
     * ‖w_r(t) − w_r(0)‖ ≤ ∫ η1‖∂L/∂w_r‖ ≤ 4 α V L1 √q_max √n ‖y − u(0)‖ / (√m λ),
     * λ = λ_min(Θ1∞); reduces to 4√n‖y − u(0)‖/(√m λ) in the seed's setting. */
    double l1inf, l1max;
    NTK_TRY(weighted_extremes(r, 1, 1.0, 0.0, &l1inf, &l1max, &ex[3]));
    o->spectra_exact = ex[0] && ex[1] && ex[2] && ex[3];
    if (l1inf > 0) {
        o->D_bound = 4.0 * alpha * V * L1 * sqrt(qmax) * sqrt((double)r->n) * res0 /
                     (sqrt((double)r->m) * l1inf);
        o->flip_bound_D = fmin(1.0, 2.0 * o->D_bound / sqrt(2.0 * M_PI));
    }

    /* seed 003 for h = f/α with the sum loss: σ(J_h) = σ(J_f)/α and
     * L0 = ½‖y − u(0)‖². */
    double smin = o->jac_smin / alpha, smax = o->jac_smax / alpha;
    double L0 = 0.5 * res0 * res0;
    o->weight_bound = 3.0 * sqrt(8.0 * smax * smax * L0) / (alpha * smin * smin);
    /* Lipschitz bound on J_h for smooth φ (README, "Lipschitz bound"):
     * ‖J(θ) − J(θ')‖_F² ≤ (1/m) Σ_i [3 L1² q_i + 2 V'² L2² q_i²] ‖θ − θ'‖²,
     * with V' ≥ max|v_r| on the path: max|v0| plus the weight bound when v
     * is trained. */
    if (isfinite(L2)) {
        double Vp = V + (e2 > 0 ? o->weight_bound : 0.0);
        o->beta_bound = sqrt((3.0 * L1 * L1 * sumq + 2.0 * Vp * Vp * L2 * L2 * sumq2) / (double)r->m);
        o->alpha_condition = 6.0 * o->beta_bound * sqrt(8.0 * smax * smax * L0) / (smin * smin * smin);
    }
    o->horizon_T = e1 > 0 ? (double)r->d * log((double)r->d) / e1 : NAN;
    return NTK_OK;
}

/* ‖ΔJ‖_op² = λ_max(α²/m [c1 (E Eᵀ ⊙ XXᵀ/s²) + c2 (ΔA ΔAᵀ)]) on the subsample,
 * with E = φ'(Z) diag(v) − φ'(Z0) diag(v0) and ΔA = φ(Z) − φ(Z0). */
ntk_status ntk_run_beta_estimate(ntk_run *r, double *beta)
{
    size_t S = r->S ? r->S : (r->n < 500 ? r->n : 500), m = r->m, d = r->d;
    double s = ntk_net_config_s(&r->cfg.net);
    ntk_weight_dist wd;
    ntk_net_weight_dist(r->net, &wd);
    double dth = sqrt((r->cfg.gd.lr1 > 0 ? wd.w_fro * wd.w_fro : 0) + (r->cfg.gd.lr2 > 0 ? wd.v_norm * wd.v_norm : 0));
    if (dth == 0) {
        *beta = NAN;
        return NTK_OK;
    }
    double *buf = ntk_alloc(4 * S * m + 2 * S * S, sizeof(double), "Lipschitz estimate");
    if (!buf) return NTK_ERR_NOMEM;
    double *E = buf, *dA = E + S * m, *E0 = dA + S * m, *A0 = E0 + S * m, *G = A0 + S * m, *K = G + S * S;
    const double *Xs = r->X;
    const double *W[2] = {ntk_net_W(r->net), ntk_net_W0(r->net)};
    const double *v[2] = {ntk_net_v(r->net), ntk_net_v0(r->net)};
    double *Eo[2] = {E, E0}, *Ao[2] = {dA, A0};
    for (int k = 0; k < 2; k++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)m, (int)d, 1.0 / s, Xs,
                    (int)d, W[k], (int)d, 0.0, Eo[k], (int)m);
        ntk_act_apply(r->cfg.net.act, S * m, Eo[k], Ao[k], Eo[k]);
        for (size_t i = 0; i < S; i++)
            for (size_t j = 0; j < m; j++) Eo[k][i * m + j] *= v[k][j];
    }
    ntk_axpy(S * m, -1.0, E0, E);
    ntk_axpy(S * m, -1.0, A0, dA);
    double a2m = r->cfg.net.alpha * r->cfg.net.alpha / (double)m;
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)d, 1.0 / (s * s), Xs, (int)d, 0.0, G, (int)S);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)m, a2m, E, (int)m, 0.0, K, (int)S);
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j <= i; j++) K[i * S + j] *= tc1(r) * G[i * S + j];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)m, tc2(r) * a2m, dA, (int)m, 1.0, K, (int)S);
    for (size_t i = 0; i < S; i++)
        for (size_t j = i + 1; j < S; j++) K[i * S + j] = K[j * S + i];
    ntk_spectrum_summary sp;
    ntk_status st = ntk_spectrum_summary_of(K, S, &sp);
    free(buf);
    NTK_TRY(st);
    *beta = sqrt(fmax(sp.lmax, 0.0)) / r->cfg.net.alpha / dth;
    return NTK_OK;
}
