/* ntkit run: the network, its linearization, Hu et al.'s linear model and
 * closed-form kernel GD (empirical and infinite-width NTK) trained side by
 * side; ntkit sweep: the same over a list of values of one setting. */
#include "cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUN_FLAGS                                                                              \
    CLI_TRAIN_FLAGS,                                                                           \
    {"models", 1, "LIST", "models trained side by side: nn,linearized,lin,ntk,ntk-inf (default all)"}, \
    {"flow", 0, NULL, "gradient flow: --steps is the final time and --log-every the time grid"}, \
    {"flow-tol", 1, "TOL", "ODE error tolerance for --flow (default 1e-6; the kinks of relu make tighter ones slow)"},                   \
    {"kernel-every", 1, "K", "measure NTK drift and lambda_min every K log points, 0 never (default 10)"}, \
    {"kernel-subsample", 1, "N", "training points used for the NTK drift, 0 all (default 500)"}, \
    {"lr-scale", 1, "MODE", "none | alpha2: divide both rates by alpha^2 (default none)"},     \
    {"quad-order", 1, "Q", "Gauss-Hermite order for infinite-width kernels (default 64)"},      \
    {"mem-limit", 1, "BYTES", "memory for kernel tiles, e.g. 512M or 2G (default 1G)"}

static const cli_flag run_flags[] = {RUN_FLAGS};
#define NRUN (sizeof run_flags / sizeof run_flags[0])

/* Summary of one run, for sweeps: final and max of every metric column. */
typedef struct {
    size_t ncols;
    char names[64][40];
    double final[64], max[64];
    const char *status;
} run_result;

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_theory(cJSON *o, const ntk_run_theory *th)
{
    struct { const char *k; double v; } f[] = {
        {"ntk_lambda_min", th->ntk_lmin},       {"ntk_lambda_max", th->ntk_lmax},
        {"ntk_inf_lambda_min", th->inf_lmin},   {"ntk_inf_lambda_max", th->inf_lmax},
        {"jacobian_sigma_min", th->jac_smin},   {"jacobian_sigma_max", th->jac_smax},
        {"lr_max_stable", th->lr_max_stable},   {"stability_c_eta_lambda_max", th->stability},
        {"envelope_rate", th->envelope_rate},   {"initial_loss", th->loss0},
        {"seed001_D", th->D_bound},             {"seed001_flip_bound_D", th->flip_bound_D},
        {"seed003_beta_bound", th->beta_bound}, {"seed003_alpha_condition", th->alpha_condition},
        {"seed003_weight_bound", th->weight_bound}, {"seed000_horizon_T", th->horizon_T},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) add_num(o, f[k].k, f[k].v);
}

static int col_index(const ntk_run *r, const char *name)
{
    for (size_t k = 0; k < ntk_run_ncolumns(r); k++)
        if (strcmp(ntk_run_column(r, k), name) == 0) return (int)k;
    return -1;
}

/* The run's own flags -> rc (after cli_setup_from_args). */
static int run_options(const cli_args *a, const cli_setup *s, ntk_run_config *rc)
{
    *rc = ntk_run_config_default(s->cfg, s->gd);
    if (ntk_models_parse(cli_str(a, "models", "all"), &rc->models) != NTK_OK)
        return cli_fail_lib("--models");
    rc->flow = s->flow;
    rc->t_max = s->t_final;
    if (cli_double(a, "flow-tol", 1e-6, 1e-14, &rc->flow_rtol) ||
        cli_size(a, "kernel-every", 10, 0, &rc->kernel_every) ||
        cli_size(a, "kernel-subsample", 500, 0, &rc->kernel_subsample) ||
        cli_int(a, "quad-order", 0, 0, 4096, &rc->quad_order))
        return 1;
    if (cli_has(a, "mem-limit") && cli_bytes("mem-limit", cli_str(a, "mem-limit", ""), &rc->mem_limit))
        return 1;
    if (rc->flow_rtol >= 1) return cli_fail("--flow-tol must be below 1");
    return 0;
}

static int write_run_config(const cli_args *a, const cli_setup *s, const ntk_run_config *rc)
{
    cJSON *cfg = cli_setup_config_json(s, "run");
    char models[128] = "";
    for (int k = 0; k < NTK_NMODELS; k++)
        if (rc->models & (1u << k)) {
            if (*models) strcat(models, ",");
            strcat(models, ntk_model_name(k));
        }
    cJSON_AddStringToObject(cfg, "models", models);
    cJSON_AddStringToObject(cfg, "lr_scale", cli_str(a, "lr-scale", "none"));
    cJSON_AddNumberToObject(cfg, "flow_tol", rc->flow_rtol);
    cJSON_AddNumberToObject(cfg, "kernel_every", (double)rc->kernel_every);
    cJSON_AddNumberToObject(cfg, "kernel_subsample", (double)rc->kernel_subsample);
    cJSON_AddNumberToObject(cfg, "quad_order", rc->quad_order ? rc->quad_order : 64);
    int bad = cli_write_json(s->out_dir, "config.json", cfg) || cli_write_inputs(s);
    cJSON_Delete(cfg);
    return bad;
}

/* What the loop saw: status, the last row, the maxima, the checks. */
typedef struct {
    const char *status;        /* completed | diverged | interrupted | failed */
    size_t nc;
    double *row, *mx;          /* (nc + 1), (nc) */
    double diverged_at, env_ratio, gap_at_T, t_at_T, loss0, seconds;
} run_trace;

/* Log row at the current time: write it, update the maxima and the checks.
 * Nonzero when the row cannot be measured or written (status set). */
static int log_row(ntk_run *r, const cli_setup *s, const ntk_run_config *rc,
                   const ntk_run_theory *th, cli_csv *csv, int kern, run_trace *tr, double t_loop)
{
    ntk_status st = ntk_run_metrics(r, kern, tr->row);
    if (st == NTK_ERR_DIVERGED) {
        tr->status = "diverged";
        tr->diverged_at = ntk_run_time(r);
        return 1;
    }
    if (st != NTK_OK) {
        cli_fail_lib("metrics");
        tr->status = "failed";
        return 1;
    }
    tr->row[tr->nc] = cli_now() - t_loop;
    if (cli_csv_row(csv, tr->row)) {
        tr->status = "failed";
        return 1;
    }
    for (size_t k = 0; k < tr->nc; k++)
        if (!isnan(tr->row[k]) && !(tr->row[k] <= tr->mx[k])) tr->mx[k] = tr->row[k];
    int env = col_index(r, "envelope"), loss = col_index(r, "nn_train_loss");
    int gap = col_index(r, "gap_lin_train");
    if (env >= 0 && isfinite(tr->row[env]) && tr->row[env] > 0)
        tr->env_ratio = fmax(tr->env_ratio, tr->row[loss] / tr->row[env]);
    double t = ntk_run_time(r);
    if (gap >= 0 && isfinite(th->horizon_T) && isnan(tr->gap_at_T) && t >= th->horizon_T) {
        tr->gap_at_T = tr->row[gap];
        tr->t_at_T = t;
    }
    if (isnan(tr->loss0)) tr->loss0 = tr->row[loss];
    (void)rc;
    if (!s->quiet)
        cli_progress((size_t)t, (size_t)s->t_final, tr->row[loss], cli_now() - t_loop,
                     t >= s->t_final);
    return 0;
}

/* Advance and log until the end, a divergence, a failure or a signal. */
static void run_loop(ntk_run *r, const cli_setup *s, const ntk_run_config *rc,
                     const ntk_run_theory *th, cli_csv *csv, run_trace *tr)
{
    double t_loop = cli_now(), t = 0;
    for (size_t logk = 0;; logk++) {
        int last = t >= s->t_final;
        int kern = rc->kernel_every && (logk % rc->kernel_every == 0 || last);
        if (log_row(r, s, rc, th, csv, kern, tr, t_loop)) break;
        if (last) break;
        if (cli_interrupted) {
            tr->status = "interrupted";
            break;
        }
        double tn = fmin(s->t_final, t + s->t_every);
        ntk_status st = ntk_run_advance(r, tn);
        if (st == NTK_ERR_INTERRUPTED) {
            tr->status = "interrupted";
            /* GD stops after a step: log where it is (flow went back to t) */
            if (ntk_run_time(r) > t && !cli_hurry) log_row(r, s, rc, th, csv, 0, tr, t_loop);
            break;
        }
        if (st == NTK_ERR_DIVERGED) {
            tr->status = "diverged";
            tr->diverged_at = tn;
            break;
        }
        if (st != NTK_OK) {
            cli_fail_lib(NULL);
            tr->status = "failed";
            break;
        }
        t = ntk_run_time(r);
    }
    if (!strcmp(tr->status, "interrupted") && !s->quiet && cli_isatty_stderr()) fputc('\n', stderr);
    tr->seconds = cli_now() - t_loop;
}

/* summary.json: theory next to the measured values (and W.npy, v.npy),
 * written together. */
static int write_run_results(ntk_run *r, const cli_setup *s, const ntk_run_theory *th,
                             const run_trace *tr, double t_setup, double beta_est,
                             double alpha_cond)
{
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "status", tr->status);
    add_num(sum, s->flow ? "time_reached" : "steps_run", ntk_run_time(r));
    if (!strcmp(tr->status, "diverged")) add_num(sum, "diverged_at", tr->diverged_at);
    add_num(sum, "setup_seconds", t_setup);
    add_num(sum, "loop_seconds", tr->seconds);
    cli_loss_growth(sum, tr->loss0, tr->row[col_index(r, "nn_train_loss")]);
    cJSON *fin = cJSON_AddObjectToObject(sum, "final");
    cJSON *mxo = cJSON_AddObjectToObject(sum, "max");
    for (size_t k = 1; k < tr->nc; k++) {
        add_num(fin, ntk_run_column(r, k), tr->row[k]);
        add_num(mxo, ntk_run_column(r, k), tr->mx[k]);
    }
    add_theory(cJSON_AddObjectToObject(sum, "theory"), th);
    cJSON *chk = cJSON_AddObjectToObject(sum, "checks");
    int rowcol = col_index(r, "w_dist_max_row"), theta_col = col_index(r, "theta_dist");
    int flip_col = col_index(r, "flip_frac");
    add_num(chk, "envelope_max_ratio", tr->env_ratio);
    if (tr->env_ratio > 0) cJSON_AddBoolToObject(chk, "envelope_held", tr->env_ratio <= 1.0 + 1e-9);
    double R = rowcol >= 0 ? tr->mx[rowcol] : NAN;
    add_num(chk, "seed001_R_measured", R);
    add_num(chk, "seed001_D_bound", th->D_bound);
    if (isfinite(th->D_bound)) cJSON_AddBoolToObject(chk, "seed001_R_below_D", R <= th->D_bound);
    add_num(chk, "seed001_flip_bound_measured_R", fmin(1.0, 2.0 * R / sqrt(2.0 * M_PI)));
    add_num(chk, "seed001_flip_measured_max", flip_col >= 0 ? tr->mx[flip_col] : NAN);
    add_num(chk, "seed003_beta_estimate", beta_est);
    int smooth = !ntk_act_piecewise_linear(s->cfg.act);
    cJSON_AddStringToObject(chk, "seed003_beta_source",
                            smooth ? "bound (README: Lipschitz bound)"
                                   : "assumption fails for piecewise-linear activations (J is discontinuous); empirical estimate used");
    add_num(chk, "seed003_beta_used", smooth ? th->beta_bound : beta_est);
    add_num(chk, "seed003_alpha_condition", alpha_cond);
    add_num(chk, "alpha", s->cfg.alpha);
    if (isfinite(alpha_cond)) cJSON_AddBoolToObject(chk, "seed003_condition_holds", s->cfg.alpha >= alpha_cond);
    add_num(chk, "seed003_weight_bound", th->weight_bound);
    add_num(chk, "seed003_weight_measured_max", theta_col >= 0 ? tr->mx[theta_col] : NAN);
    add_num(chk, "seed000_horizon_T", th->horizon_T);
    add_num(chk, "seed000_gap_lin_at_T", tr->gap_at_T);
    add_num(chk, "seed000_logged_time_at_T", tr->t_at_T);

    ntk_outset *o = NULL;
    char p[4096];
    const ntk_net *net = ntk_run_net(r);
    int rc = ntk_outset_create(&o) != NTK_OK;
    if (!rc && strcmp(tr->status, "diverged") != 0) {
        cli_path(p, sizeof p, s->out_dir, "W.npy");
        rc = ntk_outset_add_npy(o, p, ntk_net_W((ntk_net *)net), s->cfg.m, s->cfg.d, 2) != NTK_OK;
        cli_path(p, sizeof p, s->out_dir, "v.npy");
        if (!rc) rc = ntk_outset_add_npy(o, p, ntk_net_v((ntk_net *)net), s->cfg.m, 1, 1) != NTK_OK;
    }
    if (rc) cli_fail_lib(NULL);
    if (!rc) rc = cli_outset_json(o, s->out_dir, "summary.json", sum);
    if (!rc && ntk_outset_commit(o) != NTK_OK) rc = cli_fail_lib(NULL);
    ntk_outset_free(o);
    cJSON_Delete(sum);
    return rc;
}

/* The α condition of Chizat et al. with the empirical Lipschitz estimate
 * when φ is not smooth (the bound needs φ''). */
static double alpha_condition(const cli_setup *s, const ntk_run_theory *th, double beta_est)
{
    if (!ntk_act_piecewise_linear(s->cfg.act)) return th->alpha_condition;
    if (!isfinite(beta_est) || !(th->jac_smin > 0)) return NAN;
    double smin = th->jac_smin / s->cfg.alpha, smax = th->jac_smax / s->cfg.alpha;
    double L0 = th->loss0 / (s->gd.loss == NTK_LOSS_MEAN ? 1.0 / (double)s->ds.n : 1.0);
    return 6.0 * beta_est * sqrt(8.0 * smax * smax * L0) / (smin * smin * smin);
}

static void print_theory(const cli_setup *s, const ntk_run_theory *th, const run_trace *tr,
                         double R, double flips, double theta_max, double cond, double beta)
{
    int smooth = !ntk_act_piecewise_linear(s->cfg.act);
    printf("\n%-34s %14s\n", "theory (t = 0)", "value");
    printf("%-34s %14.6g\n", "lambda_min / lambda_max  Theta(0)", th->ntk_lmin);
    printf("%-34s %14.6g\n", "", th->ntk_lmax);
    printf("%-34s %14.6g\n", "lambda_min / lambda_max  Theta_inf", th->inf_lmin);
    printf("%-34s %14.6g\n", "", th->inf_lmax);
    printf("%-34s %14.6g / %.6g\n", "sigma_min / sigma_max of J0", th->jac_smin, th->jac_smax);
    printf("%-34s %14.6g\n", "largest stable common rate", th->lr_max_stable);
    printf("%-34s %14.6g  (observed/envelope max %.3g: %s)\n", "loss envelope rate", th->envelope_rate,
           tr->env_ratio, tr->env_ratio <= 1 + 1e-9 ? "held" : "exceeded");
    printf("%-34s %14.6g  (measured max row move R = %.4g)\n", "seed 001 D", th->D_bound, R);
    printf("%-34s %14.6g  (measured max flip fraction %.4g)\n", "seed 001 flip bound 2D/sqrt(2pi)",
           th->flip_bound_D, flips);
    printf("%-34s %14.6g  (alpha = %g: %s; beta %s %.4g)\n", "seed 003 alpha condition", cond,
           s->cfg.alpha, isfinite(cond) ? (s->cfg.alpha >= cond ? "holds" : "fails") : "n/a",
           smooth ? "bound" : "estimate", beta);
    printf("%-34s %14.6g  (measured max %.4g)\n", "seed 003 weight bound", th->weight_bound, theta_max);
    printf("%-34s %14.6g  (gap_lin_train there: %.4g)\n", "seed 000 horizon T", th->horizon_T, tr->gap_at_T);
}

/* The end of a run: theory table, and the status as exit code and message. */
static int run_report(ntk_run *r, const cli_setup *s, const ntk_run_config *rc,
                      const ntk_run_theory *th, const run_trace *tr, double t_setup,
                      double cond, double beta, int quiet_summary)
{
    if (!quiet_summary) {
        int rowcol = col_index(r, "w_dist_max_row"), theta_col = col_index(r, "theta_dist");
        int flip_col = col_index(r, "flip_frac");
        print_theory(s, th, tr, tr->mx[rowcol], flip_col >= 0 ? tr->mx[flip_col] : NAN,
                     theta_col >= 0 ? tr->mx[theta_col] : NAN, cond, beta);
        printf("\n%s: setup %.2fs, %s %.2fs; run directory %s\n", tr->status, t_setup,
               rc->flow ? "integration" : "training", tr->seconds, s->out_dir);
    }
    if (!strcmp(tr->status, "diverged"))
        return cli_fail("training diverged at %s %g; use smaller rates (largest stable common rate "
                        "about %.4g); metrics so far kept in %s/metrics.csv",
                        rc->flow ? "time" : "step", tr->diverged_at, th->lr_max_stable, s->out_dir);
    if (!strcmp(tr->status, "interrupted")) {
        fprintf(stderr, "ntkit: interrupted at %g; metrics and summary (status interrupted) written to %s\n",
                ntk_run_time(r), s->out_dir);
        return 130;
    }
    double g = tr->row[col_index(r, "nn_train_loss")] / tr->loss0;
    if (g > CLI_GROWTH_WARN)
        cli_warn("the network's training loss grew %.3g-fold: the rates are too large for stable "
                 "descent (largest stable common rate about %.4g; noted in summary.json)",
                 g, th->lr_max_stable);
    return 0;
}

static void fill_result(const ntk_run *r, const run_trace *tr, run_result *res)
{
    res->ncols = tr->nc < 64 ? tr->nc : 64;
    for (size_t k = 0; k < res->ncols; k++) {
        snprintf(res->names[k], sizeof res->names[k], "%s", ntk_run_column(r, k));
        res->final[k] = tr->row[k];
        res->max[k] = tr->mx[k];
    }
    res->status = tr->status;
}

/* Models set up, theory at t = 0, stability warning. */
static int run_setup(const cli_setup *s, const ntk_run_config *rc, ntk_run **r, ntk_run_theory *th)
{
    const ntk_dataset *ds = &s->ds;
    if (!s->quiet && cli_isatty_stderr())
        fprintf(stderr, "  setting up models (kernels and eigendecompositions for n = %zu)...\n", ds->n);
    if (ntk_run_create(rc, ds->X_train, ds->y_train, ds->n, ds->X_test, ds->y_test, ds->n_test,
                       ntk_net_W0(s->net), ntk_net_v0(s->net), r) != NTK_OK)
        return cli_fail_lib(NULL);
    ntk_run_set_cancel(*r, &cli_interrupted);
    if (ntk_run_theory_get(*r, th) != NTK_OK) {
        ntk_run_free(*r);
        *r = NULL;
        return cli_fail_lib("theory");
    }
    if (th->stability > 2.0 && (rc->models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF)) && !rc->flow)
        cli_warn("the rates are above the stability limit of the closed-form kernel models: "
                 "c*lambda_max(eta1*Theta1 + eta2*Theta2) = %.3g > 2; the largest stable common rate is %.4g",
                 th->stability, th->lr_max_stable);
    return 0;
}

/* The whole run, given parsed flags; fills res when non-NULL (sweeps). */
static int run_with_args(const cli_args *a, int quiet_summary, run_result *res)
{
    double t_start = cli_now();
    cli_setup s;
    if (cli_setup_from_args(a, &s)) return 1;
    ntk_run_config rc;
    ntk_run *r = NULL;
    ntk_run_theory th;
    if (run_options(a, &s, &rc) || write_run_config(a, &s, &rc) || run_setup(&s, &rc, &r, &th)) {
        cli_setup_free(&s);
        return 1;
    }
    double t_setup = cli_now() - t_start;
    size_t nc = ntk_run_ncolumns(r);
    char header[4096] = "";
    for (size_t k = 0; k < nc; k++) {
        strcat(header, ntk_run_column(r, k));
        strcat(header, ",");
    }
    strcat(header, "seconds");
    run_trace tr = {.status = "completed", .nc = nc, .diverged_at = NAN, .gap_at_T = NAN,
                    .t_at_T = NAN, .loss0 = NAN};
    tr.row = calloc(nc + 1, sizeof(double));
    tr.mx = calloc(nc, sizeof(double));
    cli_csv csv;
    int rcode = 0;
    if (!tr.row || !tr.mx) rcode = cli_fail("out of memory");
    if (!rcode) rcode = cli_csv_open(&csv, s.out_dir, "metrics.csv", header);
    if (!rcode) {
        for (size_t k = 0; k < nc; k++) tr.mx[k] = NAN;
        run_loop(r, &s, &rc, &th, &csv, &tr);
        if (!strcmp(tr.status, "failed")) {
            cli_csv_discard(&csv);   /* one message was printed; nothing more is written */
            rcode = 1;
        } else {
            /* the second signal skips the Lipschitz estimate, not the files */
            double beta = NAN;
            if (!cli_hurry) ntk_run_beta_estimate(r, &beta);
            double cond = alpha_condition(&s, &th, beta);
            rcode = cli_csv_close(&csv) ||
                    write_run_results(r, &s, &th, &tr, t_setup, beta, cond);
            if (!rcode) rcode = run_report(r, &s, &rc, &th, &tr, t_setup, cond,
                                           ntk_act_piecewise_linear(s.cfg.act) ? beta : th.beta_bound,
                                           quiet_summary);
            if (res) fill_result(r, &tr, res);
        }
    }
    free(tr.row);
    free(tr.mx);
    ntk_run_free(r);
    cli_setup_free(&s);
    return rcode;
}

int cmd_run(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, run_flags, NRUN, argc, argv)) return 2;
    if (a.help) {
        cli_usage("run", "--out DIR [options]",
                  "Train the network and its surrogates side by side from one theta0 with the same\n"
                  "rates: nn, linearized (Taylor model at theta0), lin (Hu et al.), ntk (closed-form\n"
                  "kernel GD with eta1*Theta1 + eta2*Theta2 at theta0) and ntk-inf (same with the\n"
                  "infinite-width kernel). Writes the files of 'ntkit train', with metrics.csv holding\n"
                  "every model's losses, the gaps to nn, distances, flips and NTK drift (see README),\n"
                  "and summary.json the theory next to the measured values.",
                  run_flags, NRUN);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    return run_with_args(&a, 0, NULL);
}

/* ---------------------------------------------------------------------- */

static const cli_flag sweep_flags[] = {
    {"param", 1, "NAME", "setting to vary: width|alpha|n|d|lr1|lr2|seed"},
    {"values", 1, "LIST", "comma-separated values, e.g. 1,2,4,8"},
    RUN_FLAGS,
};
#define NSWEEP (sizeof sweep_flags / sizeof sweep_flags[0])

/* "8,32,128" -> values (caller frees *list and *vals); every item must be a
 * finite number. */
static int sweep_values(const char *text, char **list, char ***vals, int *nv)
{
    *list = NULL;
    *vals = NULL;
    *nv = 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    *list = strdup(text);
    *vals = calloc(cap, sizeof **vals);
    if (!*list || !*vals) return cli_fail("out of memory reading --values");
    char *p = *list;
    for (size_t k = 0; k < cap; k++) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *end;
        double v = strtod(p, &end);
        if (end == p || *end || !isfinite(v))
            return cli_fail("--values: item %zu, '%s', is not a number; give numbers separated by "
                            "commas, e.g. 8,32,128", k + 1, p);
        (*vals)[(*nv)++] = p;
        if (comma) p = comma + 1;
    }
    return 0;
}

/* sweep.csv header: the parameter, the status, and every column's final and
 * maximum (the columns of the first member run). */
static int sweep_open(cli_csv *csv, const char *out, const char *param, const run_result *res)
{
    size_t cap = 64 + res->ncols * 96, len;
    char *header = malloc(cap);
    if (!header) return cli_fail("out of memory");
    len = (size_t)snprintf(header, cap, "%s,status", param);
    for (size_t c = 1; c < res->ncols; c++)
        len += (size_t)snprintf(header + len, cap - len, ",%s_final,%s_max", res->names[c], res->names[c]);
    int rc = cli_csv_open(csv, out, "sweep.csv", header);
    free(header);
    return rc;
}

/* status as a number: 0 completed, 1 diverged, 2 interrupted, 3 failed */
static double status_code(const char *st)
{
    return !strcmp(st, "completed") ? 0 : !strcmp(st, "diverged") ? 1 : !strcmp(st, "interrupted") ? 2 : 3;
}

int cmd_sweep(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, sweep_flags, NSWEEP, argc, argv)) return 2;
    if (a.help) {
        cli_usage("sweep", "--param NAME --values LIST --out DIR [run options]",
                  "Repeat 'ntkit run' for each value of one setting. Writes DIR/<param>=<value>/ (a run\n"
                  "directory each) and DIR/sweep.csv with the final and maximum of every metric.",
                  sweep_flags, NSWEEP);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    const char *param = cli_str(&a, "param", NULL), *values = cli_str(&a, "values", NULL);
    const char *out = cli_str(&a, "out", NULL);
    if (!param || !values || !out) return cli_fail("sweep needs --param, --values and --out");
    const char *allowed[] = {"width", "alpha", "n", "d", "lr1", "lr2", "seed"};
    int pk = -1;
    for (int k = 0; k < 7; k++)
        if (!strcmp(param, allowed[k])) pk = k;
    if (pk < 0) return cli_fail("--param must be one of width|alpha|n|d|lr1|lr2|seed, got '%s'", param);
    /* indices of the flags to override */
    int fi = -1, fo = -1;
    for (size_t k = 0; k < NSWEEP; k++) {
        if (!strcmp(sweep_flags[k].name, param)) fi = (int)k;
        if (!strcmp(sweep_flags[k].name, "out")) fo = (int)k;
    }
    /* check the values first, so that a typo fails before any run */
    char *list, **vals;
    int nv, rc = sweep_values(values, &list, &vals, &nv);
    if (!rc) rc = cli_prepare_outdir(out, cli_has(&a, "force"));
    cli_csv csv = {0};
    int opened = 0;
    run_result res;
    for (int k = 0; !rc && k < nv && !cli_interrupted; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s=%s", out, param, vals[k]);
        cli_args b = a;
        b.values[fi] = vals[k];
        b.present[fi] = 1;
        b.values[fo] = dir;
        printf("[%d/%d] %s = %s\n", k + 1, nv, param, vals[k]);
        fflush(stdout);
        memset(&res, 0, sizeof res);
        int r = run_with_args(&b, 1, &res);
        if (!res.status) {
            rc = r ? r : 1;
            break;   /* set-up failed: the next values would fail the same way */
        }
        if (!opened && sweep_open(&csv, out, param, &res)) {
            rc = 1;
            break;
        }
        opened = 1;
        double rowv[2 + 2 * 64];
        rowv[0] = strtod(vals[k], NULL);
        rowv[1] = status_code(res.status);
        for (size_t c = 1; c < res.ncols; c++) {
            rowv[2 * c] = res.final[c];
            rowv[2 * c + 1] = res.max[c];
        }
        if (cli_csv_row(&csv, rowv)) {
            cli_csv_discard(&csv);
            opened = 0;
            rc = 1;
            break;
        }
        if (r && strcmp(res.status, "diverged") != 0 && strcmp(res.status, "interrupted") != 0) rc = r;
    }
    if (opened && cli_csv_close(&csv)) rc = 1;
    free(list);
    free(vals);
    if (!rc) printf("sweep table: %s/sweep.csv\n", out);
    if (!rc && cli_interrupted) {
        fprintf(stderr, "ntkit: sweep interrupted; the runs so far are in %s/sweep.csv\n", out);
        rc = 130;
    }
    return rc;
}
