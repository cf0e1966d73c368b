/* Side-by-side runs: the network and its surrogates from one θ0 on one
 * dataset with one pair of rates (docs/theory.md §1, §4–§6). This file holds
 * the run's life: its configuration, set-up, advance and predictions. The
 * models are in src/model_*.c, the metrics in src/run_metrics.c, the theory
 * in src/theory.c and the driver of a whole run in src/driver.c.
 *
 * Time: with GD, t counts steps. With gradient flow (cfg.flow), every model
 * follows dθ/dt = −(η1 ∇_W L, η2 ∇_v L), so GD with rates (εη1, εη2) for k
 * steps approximates the flow at t = εk; the kernel models then move by
 * u(t) − y = exp(−c t (η1Θ1 + η2Θ2)) (u(0) − y). */
#include "run_internal.h"
#include "deep_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const model_names[NTK_NMODELS] = {"nn", "linearized", "lin", "ntk", "ntk_inf"};

const char *ntk_model_name(int index)
{
    return index >= 0 && index < NTK_NMODELS ? model_names[index] : "unknown";
}

/* one name of a comma-separated list -> its bit (all: every bit), or 0 */
static unsigned model_bit(const char *p, size_t len)
{
    char name[32];
    if (len == 0 || len >= sizeof name) return 0;
    for (size_t k = 0; k < len; k++) name[k] = p[k] == '-' ? '_' : p[k];
    name[len] = '\0';
    if (strcmp(name, "all") == 0) return NTK_MODEL_ALL;
    for (int k = 0; k < NTK_NMODELS; k++)
        if (strcmp(name, model_names[k]) == 0) return 1u << k;
    return 0;
}

ntk_status ntk_models_parse(const char *list, unsigned *mask)
{
    ntk_clear_error();
    if (!list || !*list || !mask)
        return ntk_set_error(NTK_ERR_ARG, "empty model list; name some of nn,linearized,lin,ntk,ntk-inf");
    unsigned out = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        unsigned bit = model_bit(p, len);
        if (!bit)
            return ntk_set_error(NTK_ERR_ARG,
                                 "unknown model '%.*s' in '%s'; choose from nn,linearized,lin,ntk,"
                                 "ntk-inf or all", (int)(len < 32 ? len : 32), p, list);
        out |= bit;
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
    c.flow_rtol = 1e-6;
    c.kernel_every = 10;
    c.kernel_subsample = NTK_KERNEL_SUBSAMPLE;
    c.flips = 1;
    return c;
}

size_t ntk_run_ncolumns(const ntk_run *run) { return run->ncols; }
const char *ntk_run_column(const ntk_run *run, size_t k) { return k < run->ncols ? run->cols[k] : NULL; }
double ntk_run_time(const ntk_run *run) { return run->t; }
const ntk_net *ntk_run_net(const ntk_run *run) { return run->net; }

void ntk_run_set_cancel(ntk_run *r, const volatile int *flag)
{
    if (r) r->cancel = flag;
}

ntk_status run_check_cancel(const ntk_run *r)
{
    if (r->cancel && *r->cancel)
        return ntk_set_error(NTK_ERR_INTERRUPTED, "the run was stopped at %s %g",
                             r->cfg.flow ? "time" : "step", r->t);
    return NTK_OK;
}

double run_tc1(const ntk_run *r) { return r->cfg.gd.lr1 > 0 ? 1.0 : 0.0; }
double run_tc2(const ntk_run *r) { return r->cfg.gd.lr2 > 0 ? 1.0 : 0.0; }

const double *run_theta0(const ntk_run *r) { return ntk_net_theta0(r->net); }
const double *run_theta(const ntk_run *r) { return ntk_net_theta(r->net); }

ntk_kernel_desc run_kernel_desc(const ntk_run *r, int inf, const double *w)
{
    ntk_kernel_desc k = ntk_kernel_desc_default(inf ? NTK_KERNEL_INFINITE : NTK_KERNEL_EMPIRICAL,
                                                &r->cfg.net);
    if (r->deep) {
        k.layer_weights = w;
        k.theta = run_theta0(r);
    } else {
        k.c1 = w[0];
        k.c2 = w[1];
        k.W = ntk_net_W0(r->net);
        k.v = ntk_net_v0(r->net);
    }
    k.quad_order = r->cfg.quad_order;
    k.mem_limit = r->cfg.mem_limit;
    return k;
}

ntk_status run_kernel(const ntk_run *r, int inf, const double *X1, size_t n1, const double *X2,
                      size_t n2, const double *w, double *K)
{
    ntk_kernel_desc k = run_kernel_desc(r, inf, w);
    return ntk_kernel(&k, X1, n1, X2, n2, K);
}

size_t run_deep_pass_bytes(const ntk_net_config *cfg, size_t n)
{
    return deep_tape_bytes(cfg, deep_block_rows(cfg, n ? n : 1, (size_t)16 << 20));
}

/* The rates as the run uses them: a two-layer network given per-layer
 * rates (nlr = 2) runs on lr1, lr2 (its own code), so that both ways of
 * giving them train the same. */
static ntk_run_config run_config_normalized(const ntk_run_config *cfg)
{
    ntk_run_config c = *cfg;
    if (!ntk_net_is_deep(&c.net) && c.gd.nlr == 2) {
        c.gd.lr1 = c.gd.lrs[0];
        c.gd.lr2 = c.gd.lrs[1];
        c.gd.nlr = 0;
    }
    return c;
}

/* ---- memory ------------------------------------------------------------ */

/* Bytes of a run on n train and nt test points: what stays allocated during
 * the loop plus the largest of the temporary peaks (a kernel model's set-up,
 * the theory's spectra, a kernel-drift measurement, the Lipschitz estimate),
 * counted in floating point so that no product overflows. */
/* At depth: θ and θ0, the trainer, the flow's state, copy and stepper, the
 * linearized model's parameters, gradient and copy, a pass's row blocks, the
 * flips' signs of every hidden layer, the drift subsample's kernels and the
 * kernel models (their tiles bounded by mem_limit). */
static size_t run_mem_bytes_deep(const ntk_run_config *cfg, size_t n_, size_t nt_)
{
    const ntk_net_config *net = &cfg->net;
    const double n = (double)n_, nt = (double)nt_, P = (double)ntk_net_nparams(net), D = 8.0;
    const unsigned mod = cfg->models | NTK_MODEL_NN;
    double hidden = 0.0;
    for (size_t l = 1; l <= ntk_net_depth(net); l++) hidden += (double)ntk_net_width(net, l);
    double pass = (double)run_deep_pass_bytes(net, n_ > nt_ ? n_ : nt_);
    const double k = (double)ntk_net_outputs(net);
    double keep = 3 * (n + nt) * k * D + 2 * P * D + (double)ntk_trainer_mem_bytes_cfg(net, n_) + pass;
    if (cfg->flow) keep += 26 * P * D;   /* state, copy, the rk8pd stepper */
    if (mod & NTK_MODEL_LINEARIZED)
        keep += (double)run_model_linearized_bytes(cfg, n_, nt_) + (cfg->flow ? 24 * P * D : 0);
    if (cfg->flips && ntk_act_piecewise_linear(net->act)) keep += n * hidden;
    if (cfg->kernel_every) {
        double S = (double)(cfg->kernel_subsample == 0 || cfg->kernel_subsample > n_
                                ? n_ : cfg->kernel_subsample);
        keep += (S * (double)net->d + 4 * S * S) * D;
    }
    double peak = 0.0;
    /* the deep empirical kernel's tiles (src/kernel_deep_emp.c), for the ntk
     * model's set-up and for each drift measurement on S points */
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, net);
    double tiles = (mod & NTK_MODEL_NTK)
                       ? (double)kernel_deep_empirical_scratch_bytes(&kd, n_, 0, cfg->mem_limit)
                       : 0.0;
    if (cfg->kernel_every) {
        size_t S = cfg->kernel_subsample == 0 || cfg->kernel_subsample > n_ ? n_
                                                                              : cfg->kernel_subsample;
        peak = fmax(peak, (double)kernel_deep_empirical_scratch_bytes(&kd, S, 0, cfg->mem_limit));
    }
    int nk = !!(mod & NTK_MODEL_NTK) + !!(mod & NTK_MODEL_NTK_INF);
    if (nk) {
        size_t kpeak = 0;
        keep += nk * (double)run_model_kernel_bytes(cfg, n_, nt_, &kpeak);
        peak = fmax(peak, (double)kpeak + tiles);
    }
    double total = keep + peak;
    return total >= 4e18 ? SIZE_MAX : (size_t)total;
}

size_t ntk_run_mem_bytes(const ntk_run_config *cfg_in, size_t n_, size_t nt_)
{
    const ntk_run_config norm = run_config_normalized(cfg_in), *cfg = &norm;
    if (ntk_net_is_deep(&cfg->net)) return run_mem_bytes_deep(cfg, n_, nt_);
    const double n = (double)n_, nt = (double)nt_, m = (double)cfg->net.m, D = 8.0;
    const double md = m * (double)cfg->net.d + m;
    const unsigned mod = cfg->models | NTK_MODEL_NN;
    double keep = 3 * (n + nt) * D + 2 * md * D +
                  (double)ntk_trainer_mem_bytes(n_, cfg->net.d, cfg->net.m) +
                  (double)run_metrics_bytes(cfg, n_);
    if (cfg->flow) keep += (2 * md + 24 * md) * D;   /* state, copy, the rk8pd stepper */
    if (mod & NTK_MODEL_LINEARIZED)
        keep += (double)run_model_linearized_bytes(cfg, n_, nt_) + (cfg->flow ? 24 * md * D : 0);
    double peak = 0.0;
    if (mod & NTK_MODEL_LIN) {
        keep += (double)run_model_lin_bytes(cfg, n_, nt_);
        double p = 2 * (double)cfg->net.d + 3;
        peak = fmax(peak, 3 * p * p * D);   /* eigendecomposition of c·ΨᵀΨ */
    }
    int nk = !!(mod & NTK_MODEL_NTK) + !!(mod & NTK_MODEL_NTK_INF);
    if (nk) {
        /* kept per model (src/model_kernel.c): eigenvectors, a Krylov basis
         * or an operator, and K_test when stored; while one is set up: the
         * kernel's tiles and the eigensolver's copies */
        size_t kpeak = 0;
        keep += nk * (double)run_model_kernel_bytes(cfg, n_, nt_, &kpeak);
        double tiles = (mod & NTK_MODEL_NTK)
                           ? (double)ntk_kernel_empirical_scratch_bytes(cfg->net.m, n_, 0, 1, 1,
                                                                         cfg->mem_limit)
                           : 0.0;
        peak = fmax(peak, (double)kpeak + tiles);
    }
    /* (the theory's spectra are checked when they are asked for:
     * ntk_run_theory_get) */
    double total = keep + peak;
    return total >= 4e18 ? SIZE_MAX : (size_t)total;
}

/* ---- life ------------------------------------------------------------- */

void ntk_run_free(ntk_run *r)
{
    if (!r) return;
    for (int k = 0; k < NTK_NMODELS; k++)
        if (r->model[k].ops && r->model[k].ops->destroy) r->model[k].ops->destroy(&r->model[k]);
    run_metrics_free(r);
    ntk_trainer_free(r->tr);
    ntk_net_free(r->net);
    free(r->f0);
    free(r->rows);
    free(r);
}

/* One rate per layer (nlr = L+1) or the lr1/lr2 rule (nlr = 0): finite,
 * non-negative, not all 0. */
static ntk_status check_layer_rates(const ntk_run_config *cfg)
{
    size_t L = ntk_net_depth(&cfg->net);
    if (cfg->gd.nlr && cfg->gd.nlr != L + 1)
        return ntk_set_error(NTK_ERR_ARG, "%zu per-layer rates given for a network of depth %zu; "
                             "give %zu (one per layer, --lrs), or none", cfg->gd.nlr, L, L + 1);
    int any = 0;
    for (size_t l = 1; l <= L + 1; l++) {
        double e = ntk_gd_layer_rate(&cfg->gd, &cfg->net, l);
        if (!(e >= 0) || !isfinite(e))
            return ntk_set_error(NTK_ERR_ARG, "the rate of layer %zu is %g; rates must be finite "
                                 "and non-negative (0 freezes a layer)", l, e);
        any |= e > 0;
    }
    if (!any) return ntk_set_error(NTK_ERR_ARG, "every layer's rate is 0: nothing would train");
    return NTK_OK;
}

static ntk_status check_run_args(const ntk_run_config *cfg, const ntk_run_data *D)
{
    NTK_TRY(ntk_net_config_check(&cfg->net));
    if (!D || !D->X || !D->y || D->n == 0)
        return ntk_set_error(NTK_ERR_ARG, "a run needs training data X, y with n > 0 points");
    if (D->n_test && (!D->X_test || !D->y_test))
        return ntk_set_error(NTK_ERR_ARG, "n_test = %zu but X_test or y_test is NULL", D->n_test);
    if (D->n > ntk_blas_int_max() || D->n_test > ntk_blas_int_max())
        return ntk_set_error(NTK_ERR_ARG, "n = %zu or n_test = %zu is more than the %zu points "
                             "the linked BLAS can index", D->n, D->n_test, ntk_blas_int_max());
    if (cfg->gd.nlr || ntk_net_is_deep(&cfg->net)) {
        NTK_TRY(check_layer_rates(cfg));
    } else {
        if (!(cfg->gd.lr1 >= 0 && cfg->gd.lr2 >= 0) || !isfinite(cfg->gd.lr1) || !isfinite(cfg->gd.lr2))
            return ntk_set_error(NTK_ERR_ARG, "rates lr1 = %g, lr2 = %g must be finite and non-negative",
                                 cfg->gd.lr1, cfg->gd.lr2);
        if (cfg->gd.lr1 == 0 && cfg->gd.lr2 == 0)
            return ntk_set_error(NTK_ERR_ARG, "both rates lr1 and lr2 are 0: nothing would train");
    }
    if (ntk_net_is_deep(&cfg->net) && (cfg->models & NTK_MODEL_LIN))
        return ntk_set_error(NTK_ERR_ARG, "Hu et al.'s linear model 'lin' is the two-layer network's "
                             "(depth 1, sigma_w 1, no biases, ntk parameterization); leave it out "
                             "of the models (--models nn,linearized,ntk,ntk-inf)");
    if (cfg->flow && !(cfg->flow_rtol > 0 && cfg->flow_rtol < 1))
        return ntk_set_error(NTK_ERR_ARG, "flow tolerance flow_rtol = %g must be in (0, 1)",
                             cfg->flow_rtol);
    NTK_TRY(ntk_check_finite(D->X, D->n * cfg->net.d, "training inputs X"));
    size_t k = ntk_net_outputs(&cfg->net);
    NTK_TRY(ntk_check_finite(D->y, ntk_size_mul(D->n, k, 1, 1), "training targets y"));
    if (D->n_test) {
        NTK_TRY(ntk_check_finite(D->X_test, D->n_test * cfg->net.d, "test inputs X_test"));
        NTK_TRY(ntk_check_finite(D->y_test, ntk_size_mul(D->n_test, k, 1, 1), "test targets y_test"));
    }
    ntk_status st = ntk_mem_check(ntk_run_mem_bytes(cfg, D->n, D->n_test), 0, "this run");
    if (st != NTK_OK && (cfg->models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s; the n x n kernels of the ntk and ntk_inf models (n = %zu) "
                 "dominate: leave those models out", ntk_errmsg(), D->n);
        return ntk_set_error(NTK_ERR_NOMEM, "%s", msg);
    }
    return st;
}

/* The network at θ0, its trainer and its outputs f0 at θ0 (0 when centred). */
static ntk_status setup_network(ntk_run *r, const double *W0, const double *v0)
{
    size_t n = r->n, nt = r->nt, nk = n * r->k, ntk = nt * r->k;
    r->f0 = ntk_calloc(3 * (nk + ntk), sizeof(double), "run predictions");
    if (!r->f0) return NTK_ERR_NOMEM;
    r->ft0 = r->f0 + nk;
    r->fa = r->ft0 + ntk;
    r->fb = r->fa + nk;
    r->fta = r->fb + nk;
    r->ftb = r->fta + ntk;
    /* W0 without v0 is θ0, the flat parameters (at depth, the only way) */
    if (r->deep)
        NTK_TRY(W0 ? ntk_net_create_from_theta(&r->cfg.net, W0, &r->net)
                   : ntk_net_create(&r->cfg.net, &r->net));
    else
        NTK_TRY(W0 ? ntk_net_create_from(&r->cfg.net, W0, v0 ? v0 : W0 + r->m * r->d, &r->net)
                   : ntk_net_create(&r->cfg.net, &r->net));
    NTK_TRY(ntk_trainer_create(r->net, r->X, r->y, n, r->cfg.gd, &r->tr));
    if (r->cfg.net.centered) return NTK_OK;
    if (r->deep) {
        NTK_TRY(ntk_forward_theta(&r->cfg.net, run_theta0(r), r->X, n, r->f0));
        if (nt) NTK_TRY(ntk_forward_theta(&r->cfg.net, run_theta0(r), r->Xt, nt, r->ft0));
        return NTK_OK;
    }
    NTK_TRY(ntk_forward(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), r->X, n, r->f0));
    if (nt) NTK_TRY(ntk_forward(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), r->Xt, nt, r->ft0));
    return NTK_OK;
}

/* part: a run on part of the rows (ntk_run_create_part), whose kernel
 * models descend step by step through the caller's operator. */
static ntk_status setup_models(ntk_run *r, int part)
{
    const unsigned on = r->cfg.models;
    NTK_TRY(run_model_nn(r, &r->model[0]));
    if (on & NTK_MODEL_LINEARIZED) NTK_TRY(run_model_linearized(r, &r->model[1]));
    if (on & NTK_MODEL_LIN) {
        double tf = r->cfg.trace_factor;
        if (tf <= 0) NTK_TRY(ntk_trace_factor(r->X, r->n, r->d, &tf));
        NTK_TRY(ntk_constants_compute(r->cfg.net.act, tf, r->cfg.quad_order, &r->consts));
        NTK_TRY(run_model_lin(r, &r->model[2]));
    }
    for (int inf = 0; inf <= 1; inf++)
        if (on & (inf ? NTK_MODEL_NTK_INF : NTK_MODEL_NTK))
            NTK_TRY(part ? run_model_kernel_stepped_create(r, &r->model[3 + inf], inf)
                         : run_model_kernel(r, &r->model[3 + inf], inf));
    return NTK_OK;
}

/* A run on the training rows [row0, row0 + nrows) of data (all of them
 * for ntk_run_create); the test set whole. part: made by
 * ntk_run_create_part (its kernel models step through the caller's
 * operator, whatever its rows). */
static ntk_status run_create(const ntk_run_config *cfg_in, const ntk_run_data *data, size_t row0,
                             size_t nrows, const double *W0, const double *v0, int part,
                             ntk_run **out)
{
    ntk_clear_error();
    if (!out || !cfg_in) return ntk_set_error(NTK_ERR_ARG, "ntk_run_create: NULL argument");
    *out = NULL;
    const ntk_run_config norm = run_config_normalized(cfg_in), *cfg = &norm;
    if (!data || !data->X || !data->y)
        return ntk_set_error(NTK_ERR_ARG, "a run needs training data X, y with n > 0 points");
    if (nrows == 0 || row0 > data->n || nrows > data->n - row0)
        return ntk_set_error(NTK_ERR_ARG, "this process's rows [%zu, %zu) are not a non-empty part "
                             "of the %zu training rows", row0, row0 + nrows, data->n);
    size_t k = ntk_net_outputs(&cfg->net);
    ntk_run_data loc = *data;
    loc.X = data->X + row0 * cfg->net.d;
    loc.y = data->y + row0 * k;
    loc.n = nrows;
    NTK_TRY(check_run_args(cfg, &loc));
    ntk_run *r = ntk_calloc(1, sizeof *r, "run");
    if (!r) return NTK_ERR_NOMEM;
    r->cfg = *cfg;
    r->cfg.models |= NTK_MODEL_NN;
    r->X = loc.X, r->y = loc.y, r->Xt = data->X_test, r->yt = data->y_test;
    r->n = nrows, r->nt = data->n_test, r->d = cfg->net.d, r->m = cfg->net.m;
    r->Xall = data->X, r->yall = data->y, r->n_all = data->n, r->row0 = row0;
    r->first = row0 == 0;
    r->k = k;
    r->deep = ntk_net_is_deep(&cfg->net);
    r->L = ntk_net_depth(&cfg->net);
    r->P = ntk_net_nparams(&cfg->net);
    for (size_t l = 1; l <= r->L + 1; l++) {
        r->eta[l - 1] = ntk_gd_layer_rate(&cfg->gd, &cfg->net, l);
        r->tw[l - 1] = r->eta[l - 1] > 0 ? 1.0 : 0.0;
    }
    r->c = ntk_loss_scale(cfg->gd.loss, r->n_all);
    r->env_rate = NAN;
    ntk_status st = setup_network(r, W0, v0);
    if (st == NTK_OK) st = setup_models(r, part);
    if (st == NTK_OK) st = run_metrics_setup(r);
    if (st == NTK_OK) st = ntk_trainer_eval(r->tr);
    if (st != NTK_OK) {
        ntk_run_free(r);
        return st;
    }
    r->nn_evaluated = 1;
    r->loss0 = ntk_trainer_loss(r->tr);
    *out = r;
    return NTK_OK;
}

ntk_status ntk_run_create(const ntk_run_config *cfg, const ntk_run_data *data, const double *W0,
                          const double *v0, ntk_run **out)
{
    return run_create(cfg, data, 0, data ? data->n : 0, W0, v0, 0, out);
}

ntk_status ntk_run_create_part(const ntk_run_config *cfg, const ntk_run_data *data, size_t row0,
                               size_t nrows, const double *W0, const double *v0, ntk_run **out)
{
    ntk_clear_error();
    if (cfg && (cfg->models & NTK_MODEL_LIN))
        return ntk_set_error(NTK_ERR_ARG, "a run on part of the rows has the models nn, "
                             "linearized, ntk and ntk-inf (Hu et al.'s model lin solves on all "
                             "rows at once): leave lin out");
    if (cfg && cfg->flow && (cfg->models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF)))
        return ntk_set_error(NTK_ERR_ARG, "a run on part of the rows has the kernel models ntk "
                             "and ntk-inf under gradient descent only (they step through a "
                             "distributed product); leave them out of a gradient-flow run");
    return run_create(cfg, data, row0, nrows, W0, v0, 1, out);
}

ntk_status ntk_run_set_kernel_ops(ntk_run *r, int model, const ntk_kernel_ops *ops)
{
    ntk_clear_error();
    if (!r || !ops || !ops->apply || !ops->cross)
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_kernel_ops: NULL run, ops or callback");
    if ((model != 3 && model != 4) || !run_model_on(r, model) ||
        !run_model_kernel_stepped(&r->model[model]))
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_kernel_ops: model %d is not a kernel model "
                             "of a run made by ntk_run_create_part (ntk is 3, ntk_inf 4)", model);
    if (r->t != 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_kernel_ops: the run has moved (t = %g); "
                             "set the operator right after ntk_run_create_part", r->t);
    return run_model_kernel_set_ops(&r->model[model], ops);
}

ntk_status ntk_run_kernel_desc(const ntk_run *r, int inf, ntk_kernel_desc *desc)
{
    ntk_clear_error();
    if (!r || !desc) return ntk_set_error(NTK_ERR_ARG, "ntk_run_kernel_desc: NULL argument");
    *desc = run_kernel_desc(r, inf != 0, r->eta);
    return NTK_OK;
}

ntk_status ntk_run_set_reduce(ntk_run *r, ntk_reduce_fn reduce, void *ctx, size_t n_total)
{
    ntk_clear_error();
    if (!r) return ntk_set_error(NTK_ERR_ARG, "run is NULL");
    if (r->t != 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_reduce: the run has moved (t = %g); set "
                             "the reduce right after ntk_run_create", r->t);
    int part = r->Xall && r->n_all != r->n;   /* made by ntk_run_create_part */
    if (part && (!reduce || n_total != r->n_all))
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_reduce: this run holds rows [%zu, %zu) of "
                             "%zu: give a reduce and n_total = %zu", r->row0, r->row0 + r->n,
                             r->n_all, r->n_all);
    if (!part && n_total < r->n && reduce)
        return ntk_set_error(NTK_ERR_ARG, "the data set has %zu rows in all but this process holds "
                             "%zu; give the total over all processes", n_total, r->n);
    int stepped = (run_model_on(r, 3) && run_model_kernel_stepped(&r->model[3])) ||
                  (run_model_on(r, 4) && run_model_kernel_stepped(&r->model[4]));
    if (reduce && n_total > r->n && !part && !stepped &&
        (r->cfg.kernel_every || (r->cfg.models & ~(unsigned)(NTK_MODEL_NN | NTK_MODEL_LINEARIZED))))
        return ntk_set_error(NTK_ERR_ARG, "ntk_run_set_reduce: this run holds only its own %zu "
                             "rows, but its kernel drift or kernel models need the whole data "
                             "set: make it with ntk_run_create_part", r->n);
    NTK_TRY(ntk_trainer_set_reduce(r->tr, reduce, ctx, n_total));
    r->reduce = reduce;
    r->reduce_ctx = ctx;
    if (!part) {
        /* given its own rows alone: the whole set is not held (the theory
         * and the Lipschitz estimate are refused) */
        r->n_all = reduce ? n_total : r->n;
        r->Xall = reduce && n_total > r->n ? NULL : r->X;
        r->yall = r->Xall ? r->y : NULL;
        r->c = ntk_loss_scale(r->cfg.gd.loss, r->n_all);
    }
    /* evaluated again at θ0, now summed: the first step and the initial
     * loss are the whole data set's */
    r->nn_evaluated = 0;
    NTK_TRY(ntk_trainer_eval(r->tr));
    r->nn_evaluated = !r->cfg.flow;
    r->loss0 = ntk_trainer_loss(r->tr);
    return NTK_OK;
}

ntk_status run_reduce(ntk_run *r, ntk_status local, double *v, size_t count)
{
    if (!r->reduce) return local;
    char why[1024] = "";
    if (local != NTK_OK) snprintf(why, sizeof why, "%s", ntk_errmsg());
    v[count] = local != NTK_OK;
    /* the reduce returns the same status on every process (ntkit.h) */
    NTK_TRY(r->reduce(r->reduce_ctx, v, count + 1));
    if (!(v[count] > 0)) return NTK_OK;
    if (local != NTK_OK) return ntk_set_error(local, "%s", why);
    return ntk_set_error(NTK_ERR_IO, "another process of the run failed (its message is the "
                         "one reported)");
}

/* ---- advancing -------------------------------------------------------- */

/* Every model one step at a time, so that a stop or a divergence leaves them
 * all at the same step. */
static ntk_status advance_gd(ntk_run *r, double t)
{
    while (r->t + 0.5 < t) {
        NTK_TRY(run_check_cancel(r));
        for (int k = 0; k < NTK_NMODELS; k++)
            if (r->model[k].ops && r->model[k].ops->step) NTK_TRY(r->model[k].ops->step(&r->model[k]));
        r->t += 1.0;
    }
    return NTK_OK;
}

/* Every model to time t. An integrator may stop early (a cancel, or a step
 * it cannot take): then every model goes back to where this call started,
 * so that the run stays at one time for all of them. */
static ntk_status advance_flow(ntk_run *r, double t)
{
    for (int k = 0; k < NTK_NMODELS; k++)
        if (r->model[k].ops && r->model[k].ops->save) r->model[k].ops->save(&r->model[k]);
    ntk_status st = NTK_OK;
    for (int k = 0; k < NTK_NMODELS && st == NTK_OK; k++)
        if (r->model[k].ops && r->model[k].ops->flow_to) st = r->model[k].ops->flow_to(&r->model[k], t);
    if (st != NTK_OK) {
        char why[1024];   /* the restores must not replace the reason */
        snprintf(why, sizeof why, "%s", ntk_errmsg());
        for (int k = 0; k < NTK_NMODELS; k++)
            if (r->model[k].ops && r->model[k].ops->restore) r->model[k].ops->restore(&r->model[k]);
        return ntk_set_error(st, "%s", why);
    }
    r->t = t;
    return NTK_OK;
}

ntk_status ntk_run_advance(ntk_run *r, double t)
{
    ntk_clear_error();
    if (!r) return ntk_set_error(NTK_ERR_ARG, "run is NULL");
    if (!(t >= r->t)) return ntk_set_error(NTK_ERR_ARG, "time must not decrease (now %g, asked %g)", r->t, t);
    if (!isfinite(t)) return ntk_set_error(NTK_ERR_ARG, "time t = %g must be finite", t);
    return r->cfg.flow ? advance_flow(r, t) : advance_gd(r, t);
}

ntk_status ntk_run_predictions(ntk_run *r, int model, double *f_train, double *f_test)
{
    ntk_clear_error();
    if (!r || model < 0 || model >= NTK_NMODELS || !run_model_on(r, model))
        return ntk_set_error(NTK_ERR_ARG, "model %d is not part of this run", model);
    run_model *m = &r->model[model];
    if (f_train) NTK_TRY(m->ops->predict(m, r->t, 0, f_train));
    if (f_test && r->nt) NTK_TRY(m->ops->predict(m, r->t, 1, f_test));
    return NTK_OK;
}

ntk_status ntk_run_predict_at(ntk_run *r, int model, const double *X, size_t n, double *f)
{
    ntk_clear_error();
    if (!r || model < 0 || model >= NTK_NMODELS || !run_model_on(r, model))
        return ntk_set_error(NTK_ERR_ARG, "model %d is not part of this run", model);
    if (!X || !f || n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_run_predict_at: X and f must be given, n > 0");
    NTK_TRY(ntk_check_finite(X, ntk_size_mul(n, r->d, 1, 1), "X"));
    NTK_TRY(ntk_check_input_scale(X, n, r->d, ntk_net_config_s(&r->cfg.net), "X"));
    run_model *m = &r->model[model];
    if (model == 0) return m->ops->predict_at(m, r->t, X, n, NULL, f);
    /* every surrogate starts from the network's outputs at θ0 (0 when centred) */
    double *f0 = ntk_calloc(ntk_size_mul(n, r->k, 1, 1), sizeof(double), "outputs at theta0");
    if (!f0) return NTK_ERR_NOMEM;
    ntk_status st = r->cfg.net.centered ? NTK_OK
                    : r->deep ? ntk_forward_theta(&r->cfg.net, run_theta0(r), X, n, f0)
                              : ntk_forward(&r->cfg.net, ntk_net_W0(r->net), ntk_net_v0(r->net), X, n, f0);
    if (st == NTK_OK) st = m->ops->predict_at(m, r->t, X, n, f0, f);
    free(f0);
    return st == NTK_OK ? ntk_check_result(f, n, r->k, "the predictions", "a model overflowed") : st;
}
