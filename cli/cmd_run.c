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
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        if (isfinite(f[k].v))
            cJSON_AddNumberToObject(o, f[k].k, f[k].v);
        else
            cJSON_AddNullToObject(o, f[k].k);
    }
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static int col_index(const ntk_run *r, const char *name)
{
    for (size_t k = 0; k < ntk_run_ncolumns(r); k++)
        if (strcmp(ntk_run_column(r, k), name) == 0) return (int)k;
    return -1;
}

/* The whole run, given parsed flags; fills res when non-NULL (sweeps). */
static int run_with_args(const cli_args *a, int quiet_summary, run_result *res)
{
    double t_start = cli_now();
    cli_setup s;
    if (cli_setup_from_args(a, &s)) return 1;
    ntk_run_config rc = ntk_run_config_default(s.cfg, s.gd);
    int rcode = 0;
    if (ntk_models_parse(cli_str(a, "models", "all"), &rc.models) != NTK_OK) rcode = cli_fail_lib("--models");
    rc.flow = s.flow;
    rc.t_max = s.t_final;
    if (!rcode && (cli_double(a, "flow-tol", 1e-6, 1e-14, &rc.flow_rtol) ||
                   cli_size(a, "kernel-every", 10, 0, &rc.kernel_every) ||
                   cli_size(a, "kernel-subsample", 500, 0, &rc.kernel_subsample) ||
                   cli_int(a, "quad-order", 0, 0, 4096, &rc.quad_order)))
        rcode = 1;
    if (!rcode && cli_has(a, "mem-limit") && cli_bytes("mem-limit", cli_str(a, "mem-limit", ""), &rc.mem_limit)) rcode = 1;
    if (!rcode && rc.flow_rtol >= 1) rcode = cli_fail("--flow-tol must be below 1");
    if (rcode) {
        cli_setup_free(&s);
        return rcode;
    }
    cJSON *cfg = cli_setup_config_json(&s, "run");
    char models[128] = "";
    for (int k = 0; k < NTK_NMODELS; k++)
        if (rc.models & (1u << k)) {
            if (*models) strcat(models, ",");
            strcat(models, ntk_model_name(k));
        }
    cJSON_AddStringToObject(cfg, "models", models);
    cJSON_AddStringToObject(cfg, "lr_scale", cli_str(a, "lr-scale", "none"));
    cJSON_AddNumberToObject(cfg, "flow_tol", rc.flow_rtol);
    cJSON_AddNumberToObject(cfg, "kernel_every", (double)rc.kernel_every);
    cJSON_AddNumberToObject(cfg, "kernel_subsample", (double)rc.kernel_subsample);
    cJSON_AddNumberToObject(cfg, "quad_order", rc.quad_order ? rc.quad_order : 64);
    int bad = cli_write_json(s.out_dir, "config.json", cfg) || cli_write_inputs(&s);
    cJSON_Delete(cfg);
    if (bad) {
        cli_setup_free(&s);
        return 1;
    }
    const ntk_dataset *ds = &s.ds;
    ntk_run *r = NULL;
    if (!s.quiet && cli_isatty_stderr())
        fprintf(stderr, "  setting up models (kernels and eigendecompositions for n = %zu)...\n", ds->n);
    if (ntk_run_create(&rc, ds->X_train, ds->y_train, ds->n, ds->X_test, ds->y_test, ds->n_test,
                       ntk_net_W0(s.net), ntk_net_v0(s.net), &r) != NTK_OK) {
        int e = cli_fail_lib(NULL);
        cli_setup_free(&s);
        return e;
    }
    double t_setup = cli_now() - t_start;
    ntk_run_theory th;
    if (ntk_run_theory_get(r, &th) != NTK_OK) {
        int e = cli_fail_lib("theory");
        ntk_run_free(r);
        cli_setup_free(&s);
        return e;
    }
    if (th.stability > 2.0 && (rc.models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF)) && !rc.flow)
        cli_warn("the rates are above the stability limit of the closed-form kernel models: "
                 "c*lambda_max(eta1*Theta1 + eta2*Theta2) = %.3g > 2; the largest stable common rate is %.4g",
                 th.stability, th.lr_max_stable);

    size_t nc = ntk_run_ncolumns(r);
    char header[4096] = "";
    for (size_t k = 0; k < nc; k++) {
        strcat(header, ntk_run_column(r, k));
        strcat(header, ",");
    }
    strcat(header, "seconds");
    cli_csv csv;
    if (cli_csv_open(&csv, s.out_dir, "metrics.csv", header)) {
        ntk_run_free(r);
        cli_setup_free(&s);
        return 1;
    }
    double *row = calloc(nc + 1, sizeof(double)), *mx = calloc(nc, sizeof(double));
    for (size_t k = 0; k < nc; k++) mx[k] = NAN;
    const char *status = "completed";
    double t_loop = cli_now(), t = 0, diverged_at = NAN;
    int env_col = col_index(r, "envelope"), loss_col = col_index(r, "nn_train_loss");
    int gap_lin = col_index(r, "gap_lin_train"), rowcol = col_index(r, "w_dist_max_row");
    int theta_col = col_index(r, "theta_dist"), flip_col = col_index(r, "flip_frac");
    double env_ratio = 0, gap_at_T = NAN, t_at_T = NAN;
    size_t logk = 0;
    for (;;) {
        int last = t >= s.t_final;
        int kern = rc.kernel_every && (logk % rc.kernel_every == 0 || last);
        ntk_status st = ntk_run_metrics(r, kern, row);
        if (st != NTK_OK) {
            if (st == NTK_ERR_DIVERGED) {
                status = "diverged";
                diverged_at = t;
                break;
            }
            rcode = cli_fail_lib("metrics");
            status = "failed";
            break;
        }
        row[nc] = cli_now() - t_loop;
        cli_csv_row(&csv, row);
        for (size_t k = 0; k < nc; k++)
            if (!isnan(row[k]) && !(row[k] <= mx[k])) mx[k] = row[k];
        if (env_col >= 0 && isfinite(row[env_col]) && row[env_col] > 0)
            env_ratio = fmax(env_ratio, row[loss_col] / row[env_col]);
        if (gap_lin >= 0 && isfinite(th.horizon_T) && isnan(gap_at_T) && t >= th.horizon_T) {
            gap_at_T = row[gap_lin];
            t_at_T = t;
        }
        if (!s.quiet) cli_progress((size_t)t, (size_t)s.t_final, row[loss_col], cli_now() - t_loop, last);
        if (last) break;
        if (cli_interrupted) {
            status = "interrupted";
            break;
        }
        double tn = fmin(s.t_final, t + s.t_every);
        st = ntk_run_advance(r, tn);
        if (st == NTK_ERR_DIVERGED) {
            status = "diverged";
            diverged_at = tn;
            break;
        } else if (st != NTK_OK) {
            rcode = cli_fail_lib(NULL);
            status = "failed";
            break;
        }
        t = ntk_run_time(r);
        logk++;
    }
    double loop_seconds = cli_now() - t_loop;
    if (cli_csv_close(&csv)) rcode = 1;
    char p[4200];
    cli_path(p, sizeof p, s.out_dir, "W.npy");
    const ntk_net *net = ntk_run_net(r);
    if (strcmp(status, "diverged") != 0) {
        if (ntk_npy_write(p, ntk_net_W((ntk_net *)net), s.cfg.m, s.cfg.d, 2) != NTK_OK) rcode = cli_fail_lib(NULL);
        cli_path(p, sizeof p, s.out_dir, "v.npy");
        if (ntk_npy_write(p, ntk_net_v((ntk_net *)net), s.cfg.m, 1, 1) != NTK_OK) rcode = cli_fail_lib(NULL);
    }
    double beta_est = NAN;
    ntk_run_beta_estimate(r, &beta_est);

    /* summary.json: theory next to the measured values */
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "status", status);
    add_num(sum, rc.flow ? "time_reached" : "steps_run", ntk_run_time(r));
    if (!strcmp(status, "diverged")) add_num(sum, "diverged_at", diverged_at);
    add_num(sum, "setup_seconds", t_setup);
    add_num(sum, "loop_seconds", loop_seconds);
    cJSON *fin = cJSON_AddObjectToObject(sum, "final");
    cJSON *mxo = cJSON_AddObjectToObject(sum, "max");
    for (size_t k = 1; k < nc; k++) {
        add_num(fin, ntk_run_column(r, k), row[k]);
        add_num(mxo, ntk_run_column(r, k), mx[k]);
    }
    cJSON *theo = cJSON_AddObjectToObject(sum, "theory");
    add_theory(theo, &th);
    cJSON *chk = cJSON_AddObjectToObject(sum, "checks");
    add_num(chk, "envelope_max_ratio", env_ratio);
    if (env_ratio > 0) cJSON_AddBoolToObject(chk, "envelope_held", env_ratio <= 1.0 + 1e-9);
    double R = rowcol >= 0 ? mx[rowcol] : NAN;
    add_num(chk, "seed001_R_measured", R);
    add_num(chk, "seed001_D_bound", th.D_bound);
    if (isfinite(th.D_bound)) cJSON_AddBoolToObject(chk, "seed001_R_below_D", R <= th.D_bound);
    add_num(chk, "seed001_flip_bound_measured_R", fmin(1.0, 2.0 * R / sqrt(2.0 * M_PI)));
    add_num(chk, "seed001_flip_measured_max", flip_col >= 0 ? mx[flip_col] : NAN);
    add_num(chk, "seed003_beta_estimate", beta_est);
    int smooth = !ntk_act_piecewise_linear(s.cfg.act);
    cJSON_AddStringToObject(chk, "seed003_beta_source",
                            smooth ? "bound (README: Lipschitz bound)"
                                   : "assumption fails for piecewise-linear activations (J is discontinuous); empirical estimate used");
    double beta_use = smooth ? th.beta_bound : beta_est;
    double cond = th.alpha_condition;   /* NaN unless φ is smooth */
    if (!smooth && isfinite(beta_est) && th.jac_smin > 0) {
        double smin = th.jac_smin / s.cfg.alpha, smax = th.jac_smax / s.cfg.alpha;
        double L0 = th.loss0 / (s.gd.loss == NTK_LOSS_MEAN ? 1.0 / (double)ds->n : 1.0);
        cond = 6.0 * beta_est * sqrt(8.0 * smax * smax * L0) / (smin * smin * smin);
    }
    add_num(chk, "seed003_beta_used", beta_use);
    add_num(chk, "seed003_alpha_condition", cond);
    add_num(chk, "alpha", s.cfg.alpha);
    if (isfinite(cond)) cJSON_AddBoolToObject(chk, "seed003_condition_holds", s.cfg.alpha >= cond);
    add_num(chk, "seed003_weight_bound", th.weight_bound);
    add_num(chk, "seed003_weight_measured_max", theta_col >= 0 ? mx[theta_col] : NAN);
    add_num(chk, "seed000_horizon_T", th.horizon_T);
    add_num(chk, "seed000_gap_lin_at_T", gap_at_T);
    add_num(chk, "seed000_logged_time_at_T", t_at_T);
    if (cli_write_json(s.out_dir, "summary.json", sum)) rcode = 1;
    cJSON_Delete(sum);

    if (!quiet_summary && !rcode) {
        printf("\n%-34s %14s\n", "theory (t = 0)", "value");
        printf("%-34s %14.6g\n", "lambda_min / lambda_max  Theta(0)", th.ntk_lmin);
        printf("%-34s %14.6g\n", "", th.ntk_lmax);
        printf("%-34s %14.6g\n", "lambda_min / lambda_max  Theta_inf", th.inf_lmin);
        printf("%-34s %14.6g\n", "", th.inf_lmax);
        printf("%-34s %14.6g / %.6g\n", "sigma_min / sigma_max of J0", th.jac_smin, th.jac_smax);
        printf("%-34s %14.6g\n", "largest stable common rate", th.lr_max_stable);
        printf("%-34s %14.6g  (observed/envelope max %.3g: %s)\n", "loss envelope rate", th.envelope_rate,
               env_ratio, env_ratio <= 1 + 1e-9 ? "held" : "exceeded");
        printf("%-34s %14.6g  (measured max row move R = %.4g)\n", "seed 001 D", th.D_bound, R);
        printf("%-34s %14.6g  (measured max flip fraction %.4g)\n", "seed 001 flip bound 2D/sqrt(2pi)",
               th.flip_bound_D, flip_col >= 0 ? mx[flip_col] : NAN);
        printf("%-34s %14.6g  (alpha = %g: %s; beta %s %.4g)\n", "seed 003 alpha condition", cond,
               s.cfg.alpha, isfinite(cond) ? (s.cfg.alpha >= cond ? "holds" : "fails") : "n/a",
               smooth ? "bound" : "estimate", beta_use);
        printf("%-34s %14.6g  (measured max %.4g)\n", "seed 003 weight bound", th.weight_bound,
               theta_col >= 0 ? mx[theta_col] : NAN);
        printf("%-34s %14.6g  (gap_lin_train there: %.4g)\n", "seed 000 horizon T", th.horizon_T, gap_at_T);
        printf("\n%s: setup %.2fs, %s %.2fs; run directory %s\n", status, t_setup,
               rc.flow ? "integration" : "training", loop_seconds, s.out_dir);
    }
    if (!strcmp(status, "diverged"))
        rcode = cli_fail("training diverged at %s %g; use smaller rates (largest stable common rate "
                         "about %.4g); metrics so far kept in %s/metrics.csv",
                         rc.flow ? "time" : "step", diverged_at, th.lr_max_stable, s.out_dir);
    else if (!strcmp(status, "interrupted")) {
        fprintf(stderr, "ntkit: interrupted at %g; metrics and summary (status interrupted) written to %s\n",
                ntk_run_time(r), s.out_dir);
        rcode = 130;
    }
    if (res) {
        res->ncols = nc < 64 ? nc : 64;
        for (size_t k = 0; k < res->ncols; k++) {
            snprintf(res->names[k], sizeof res->names[k], "%s", ntk_run_column(r, k));
            res->final[k] = row[k];
            res->max[k] = mx[k];
        }
        res->status = status;
    }
    free(row);
    free(mx);
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
    /* split and check the values first, so that a typo fails before any run */
    char *list = strdup(values);
    char *vals[256];
    int nv = 0;
    for (char *tok = strtok(list, ","); tok && nv < 256; tok = strtok(NULL, ",")) {
        char *end;
        double v = strtod(tok, &end);
        if (end == tok || *end || !isfinite(v)) {
            free(list);
            return cli_fail("--values: '%s' is not a number", tok);
        }
        vals[nv++] = tok;
    }
    if (nv == 0) {
        free(list);
        return cli_fail("--values is empty");
    }
    if (cli_mkdirs(out)) {
        free(list);
        return 1;
    }
    cli_csv csv = {0};
    int rc = 0, opened = 0;
    run_result res;
    for (int k = 0; k < nv && !cli_interrupted; k++) {
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
        if (!opened) {
            char header[8192];
            snprintf(header, sizeof header, "%s,status", param);
            for (size_t c = 1; c < res.ncols; c++) {
                size_t len = strlen(header);
                snprintf(header + len, sizeof header - len, ",%s_final,%s_max", res.names[c], res.names[c]);
            }
            if (cli_csv_open(&csv, out, "sweep.csv", header)) {
                rc = 1;
                break;
            }
            opened = 1;
        }
        /* status is written as a code: 0 completed, 1 diverged, 2 interrupted, 3 failed */
        double rowv[2 + 2 * 64];
        rowv[0] = strtod(vals[k], NULL);
        rowv[1] = !strcmp(res.status, "completed") ? 0 : !strcmp(res.status, "diverged") ? 1
                  : !strcmp(res.status, "interrupted") ? 2 : 3;
        for (size_t c = 1; c < res.ncols; c++) {
            rowv[2 * c] = res.final[c];
            rowv[2 * c + 1] = res.max[c];
        }
        cli_csv_row(&csv, rowv);
        if (r && strcmp(res.status, "diverged") != 0) rc = r;
    }
    if (opened && cli_csv_close(&csv)) rc = 1;
    free(list);
    if (!rc) printf("sweep table: %s/sweep.csv\n", out);
    return rc;
}
