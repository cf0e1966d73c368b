/* ntkit run: the network, its linearization, Hu et al.'s linear model and
 * closed-form kernel GD (empirical and infinite-width NTK) trained side by
 * side through the library's driver, written as a run directory. */
#include "cli.h"
#ifdef NTK_MPI
/* mpirun -np P ntkit run --models nn,linearized,ntk,ntk-inf
 * (cli/mpi_train.c, docs/scaling.md §6.4; the kernel models by gradient
 * descent, one distributed product a step): while the command runs
 * data-parallel (DP; not in a sweep's member, which runs on one process)
 * every process sets up the
 * whole data set, trains on its block of rows with the sums taken over the
 * processes and holds the same rows; process 0 alone writes (ON_WRITER),
 * every step that may fail on one process alone is agreed (AGREED) */
#include "mpi_cli.h"
#define DP cli_mpi_dp_active()
#define NOTES (DP ? cli_mpi_writes() : 1)   /* process 0 alone prints a note */
#define ON_WRITER(expr) (DP ? cli_mpi_agree(cli_mpi_writes() ? (expr) : 0) : (expr))
#define AGREED(expr) (DP ? cli_mpi_agree(expr) : (expr))
#define RUN_SETUP(a, s) (DP ? cli_mpi_train_setup(a, s) : cli_setup_from_args(a, s))
#define RUN_CREATE(s, rc, r) (DP ? cli_mpi_train_create(s, rc, r) : cli_run_create(s, rc, r))
#define RUN_EXECUTE(r, s, w, rep) \
    (DP ? cli_mpi_run_execute(r, s, 1, w, rep) : cli_execute(r, s, 1, w, rep))
#else
#define DP 0
#define NOTES 1
#define ON_WRITER(expr) (expr)
#define AGREED(expr) (expr)
#define RUN_SETUP cli_setup_from_args
#define RUN_CREATE cli_run_create
#define RUN_EXECUTE(r, s, w, rep) cli_execute(r, s, 1, w, rep)
#endif

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cli_flag run_flags[] = {CLI_RUN_FLAGS};
#define NRUN (sizeof run_flags / sizeof run_flags[0])
#define RUN_MAX_COLS 64

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* Keys of summary.json's theory and checks that hold for the two-layer
 * network only (Du et al.'s bounds, Chizat et al.'s bound on Lip(J), Hu et
 * al.'s horizon): at depth they are left out and listed under
 * "two_layer_only". */
static const char *const two_layer_keys[] = {
    "du_D_bound", "du_flip_bound_D", "chizat_beta_bound", "hu_horizon_T", "du_R_below_D",
    "du_flip_bound_measured_R", "hu_gap_lin_at_T", "hu_logged_time_at_T",
};

static int two_layer_only(const char *key)
{
    for (size_t k = 0; k < sizeof two_layer_keys / sizeof two_layer_keys[0]; k++)
        if (!strcmp(key, two_layer_keys[k])) return 1;
    return 0;
}

/* Every key of o that is two-layer only removed and named in the list
 * "two_layer_only" (a network with depth). In the theory (theory = 1) the α
 * condition goes too: it is computed from the two-layer bound on Lip(J);
 * the checks' one uses the empirical estimate. */
static void drop_two_layer_keys(cJSON *o, int theory)
{
    cJSON *list = cJSON_CreateArray();
    for (cJSON *it = o->child; it;) {
        cJSON *next = it->next;
        if (two_layer_only(it->string) || (theory && !strcmp(it->string, "chizat_alpha_condition"))) {
            cJSON_AddItemToArray(list, cJSON_CreateString(it->string));
            cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
        }
        it = next;
    }
    cJSON_AddItemToObject(o, "two_layer_only", list);
}

/* The theory at t = 0, under the names of summary.json (docs/theory.md §7). */
static void add_theory(cJSON *o, const ntk_run_theory *th)
{
    struct { const char *k; double v; } f[] = {
        {"ntk_lambda_min", th->ntk_lmin},       {"ntk_lambda_max", th->ntk_lmax},
        {"ntk_inf_lambda_min", th->inf_lmin},   {"ntk_inf_lambda_max", th->inf_lmax},
        {"jacobian_sigma_min", th->jac_smin},   {"jacobian_sigma_max", th->jac_smax},
        {"lr_max_stable", th->lr_max_stable},   {"stability_c_eta_lambda_max", th->stability},
        {"envelope_rate", th->envelope_rate},   {"initial_loss", th->loss0},
        {"du_D_bound", th->D_bound},            {"du_flip_bound_D", th->flip_bound_D},
        {"chizat_beta_bound", th->beta_bound},  {"chizat_alpha_condition", th->alpha_condition},
        {"chizat_weight_bound", th->weight_bound}, {"hu_horizon_T", th->horizon_T},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) add_num(o, f[k].k, f[k].v);
    cJSON_AddBoolToObject(o, "spectra_exact", th->spectra_exact == 1.0);
}

/* The checks of the theory against the run. */
static void add_checks(cJSON *chk, const cli_setup *s, const ntk_run_report *rep)
{
    const ntk_run_theory *th = &rep->theory;
    add_num(chk, "envelope_max_ratio", rep->envelope_max_ratio);
    if (rep->envelope_max_ratio > 0)
        cJSON_AddBoolToObject(chk, "envelope_held", rep->envelope_max_ratio <= 1.0 + 1e-9);
    add_num(chk, "du_R_measured", rep->R_max);
    add_num(chk, "du_D_bound", th->D_bound);
    if (isfinite(th->D_bound)) cJSON_AddBoolToObject(chk, "du_R_below_D", rep->R_max <= th->D_bound);
    add_num(chk, "du_flip_bound_measured_R", fmin(1.0, 2.0 * rep->R_max / sqrt(2.0 * M_PI)));
    add_num(chk, "du_flip_measured_max", rep->flip_max);
    add_num(chk, "chizat_beta_estimate", rep->beta_estimate);
    cJSON_AddStringToObject(chk, "chizat_beta_source",
                            rep->beta_from_bound ? "bound (docs/theory.md §7.4)"
                            : ntk_net_is_deep(&s->cfg) ? "empirical estimate (the bound is the two-layer network's)"
                                   : "assumption fails for piecewise-linear activations (J is discontinuous); empirical estimate used");
    add_num(chk, "chizat_beta_used", rep->beta_used);
    add_num(chk, "chizat_alpha_condition", rep->alpha_condition);
    add_num(chk, "alpha", s->cfg.alpha);
    if (isfinite(rep->alpha_condition))
        cJSON_AddBoolToObject(chk, "chizat_condition_holds", s->cfg.alpha >= rep->alpha_condition);
    add_num(chk, "chizat_weight_bound", th->weight_bound);
    add_num(chk, "chizat_weight_measured_max", rep->theta_max);
    add_num(chk, "hu_horizon_T", th->horizon_T);
    add_num(chk, "hu_gap_lin_at_T", rep->gap_lin_at_T);
    add_num(chk, "hu_logged_time_at_T", rep->time_at_T);
}

static cJSON *run_summary(const ntk_run *r, const cli_setup *s, const ntk_run_report *rep,
                          double t_setup)
{
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "status", ntk_run_status_name(rep->status));
    add_num(sum, s->flow ? "time_reached" : "steps_run", rep->t);
    if (rep->status == NTK_RUN_DIVERGED) add_num(sum, "diverged_at", rep->diverged_at);
    add_num(sum, "setup_seconds", t_setup);
    add_num(sum, "loop_seconds", rep->seconds);
    cli_loss_growth(sum, rep->loss_growth);
    cJSON *fin = cJSON_AddObjectToObject(sum, "final");
    cJSON *mxo = cJSON_AddObjectToObject(sum, "max");
    for (size_t k = 1; k < ntk_run_ncolumns(r); k++) {
        add_num(fin, ntk_run_column(r, k), rep->final_row[k]);
        add_num(mxo, ntk_run_column(r, k), rep->max_row[k]);
    }
    cJSON *th = cJSON_AddObjectToObject(sum, "theory"), *chk = cJSON_AddObjectToObject(sum, "checks");
    add_theory(th, &rep->theory);
    add_checks(chk, s, rep);
    if (ntk_net_is_deep(&s->cfg)) {
        drop_two_layer_keys(th, 1);
        drop_two_layer_keys(chk, 0);
    }
    return sum;
}

/* The run's own flags -> rc (after cli_setup_from_args). */
/* 1 when the comma-separated list names the model `name` itself ('-' and
 * '_' alike), not through "all". */
static int names_model(const char *list, const char *name)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ","), k = 0;
        while (k < len && name[k] && (p[k] == name[k] || (p[k] == '-' && name[k] == '_'))) k++;
        if (k == len && name[k] == '\0') return 1;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

/* Hu et al.'s linear model is the two-layer network's (ntk_net_is_deep
 * == 0: one hidden layer, sigma_w = 1, no biases, NTK parameterisation).
 * Named in --models for another network it is refused; the default (all)
 * leaves it out with a note. */
static int models_for_network(const cli_args *a, const ntk_net_config *cfg, unsigned *models,
                              int note)
{
    const char *list = cli_str(a, "models", "all");
    if (!ntk_net_is_deep(cfg) || !(*models & NTK_MODEL_LIN)) return 0;
    if (names_model(list, "lin"))
        return cli_fail("--models: Hu et al.'s linear model 'lin' is the two-layer network's "
                        "(--depth 1, --weight-std 1, --bias-std 0, --parameterization ntk); "
                        "use --models nn,linearized,ntk,ntk-inf");
    *models &= ~(unsigned)NTK_MODEL_LIN;
    if (note)
        fprintf(stderr, "ntkit: note: model lin (Hu et al.'s linear model) is for the two-layer "
                "network only; running nn,linearized,ntk,ntk-inf%s\n",
                cli_has(a, "models") ? " of --models all" : "");
    return 0;
}

/* Under mpirun (P > 1): what --models all (the default, or named "all")
 * cannot run on several processes is left out with a note, lin always and
 * the kernel models under --flow; a model named by itself is kept, and
 * refused by models_precheck with the reason. */
static int models_distributed(const cli_args *a, unsigned *models, int note)
{
    if (!DP) return 0;
    const char *list = cli_str(a, "models", "all");
    if (!names_model(list, "all")) return 0;
    unsigned drop = NTK_MODEL_LIN;
    if (cli_has(a, "flow")) drop |= NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
    if (!(*models & drop)) return 0;
    *models &= ~drop;
    if (note)
        fprintf(stderr, "ntkit: note: on several processes --models all runs %s (%s on one "
                "process%s)\n", cli_has(a, "flow") ? "nn,linearized" : "nn,linearized,ntk,ntk-inf",
                cli_has(a, "flow") ? "Hu et al.'s lin and the kernel models' flow run only"
                                   : "Hu et al.'s lin runs only",
                cli_has(a, "flow") ? "; 'mpirun ntkit kgd --times' gives the kernel flow" : "");
    return 0;
}

/* --models against the network's flags, before the set-up makes the run
 * directory: a refused model leaves nothing behind. */
static int models_precheck(const cli_args *a)
{
    size_t d;
    ntk_net_config cfg;
    unsigned models;
    if (cli_size(a, "d", 20, 1, &d) || cli_net_config(a, d, &cfg)) return 1;
    if (ntk_models_parse(cli_str(a, "models", "all"), &models) != NTK_OK)
        return cli_fail_lib("--models");
    /* data-parallel: the network, its linearization and, under gradient
     * descent, the kernel models through the distributed operator (each
     * process decides the same from the same flags); named models that
     * cannot run are refused here, those of --models all left out */
    if (models_distributed(a, &models, 0)) return 1;
    if (models_for_network(a, &cfg, &models, 0)) return 1;
    if (DP && (models & NTK_MODEL_LIN))
        return cli_fail("'run' does not run on several processes with Hu et al.'s model lin "
                        "(%s%s): pass --models nn,linearized,ntk,ntk-inf, or run lin on one "
                        "process", cli_has(a, "models") ? "--models " : "the default ",
                        cli_str(a, "models", "--models all"));
    if (DP && cli_has(a, "flow") && (models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF)))
        return cli_fail("'run' on several processes runs the kernel models ntk and ntk-inf by "
                        "gradient descent only, not --flow: pass --models nn,linearized with "
                        "--flow, or drop --flow (kernel gradient flow: 'mpirun ntkit kgd "
                        "--times')");
    return 0;
}

static int run_options(const cli_args *a, const cli_setup *s, ntk_run_config *rc)
{
    *rc = ntk_run_config_default(s->cfg, s->gd);
    if (ntk_models_parse(cli_str(a, "models", "all"), &rc->models) != NTK_OK)
        return cli_fail_lib("--models");
    if (models_distributed(a, &rc->models, NOTES)) return 1;
    if (models_for_network(a, &s->cfg, &rc->models, NOTES)) return 1;
    rc->flow = s->flow;
    rc->t_max = s->t_final;
    if (cli_double(a, "flow-tol", 1e-6, 1e-14, &rc->flow_rtol) ||
        cli_size(a, "kernel-every", 10, 0, &rc->kernel_every) ||
        cli_size(a, "kernel-subsample", NTK_KERNEL_SUBSAMPLE, 0, &rc->kernel_subsample) ||
        cli_int(a, "quad-order", 0, 0, 4096, &rc->quad_order))
        return 1;
    if (cli_has(a, "mem-limit") && cli_bytes("mem-limit", cli_str(a, "mem-limit", ""), &rc->mem_limit))
        return 1;
    if (cli_has(a, "operator") &&
        ntk_op_mode_parse(cli_str(a, "operator", "auto"), &rc->kernel_operator) != NTK_OK)
        return cli_fail_lib("--operator");
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
    cJSON_AddNumberToObject(cfg, "quad_order", rc->quad_order ? rc->quad_order : NTK_QUAD_ORDER);
    int bad = cli_write_json(s->out_dir, "config.json", cfg) || cli_write_inputs(s);
    cJSON_Delete(cfg);
    return bad;
}

static void print_theory(const cli_setup *s, const ntk_run_report *rep)
{
    const ntk_run_theory *th = &rep->theory;
    double cond = rep->alpha_condition;
    printf("\n%-36s %14s\n", "theory (t = 0)", "value");
    printf("%-36s %14.6g\n", "lambda_min / lambda_max  Theta(0)", th->ntk_lmin);
    printf("%-36s %14.6g\n", "", th->ntk_lmax);
    printf("%-36s %14.6g\n", "lambda_min / lambda_max  Theta_inf", th->inf_lmin);
    printf("%-36s %14.6g\n", "", th->inf_lmax);
    if (ntk_net_outputs(&s->cfg) > 1)
        printf("%-36s %14s  (%zu outputs: the spectra above are of the mean per-output kernel)\n",
               "sigma_min / sigma_max of J0", "n/a", ntk_net_outputs(&s->cfg));
    else
        printf("%-36s %14.6g / %.6g\n", "sigma_min / sigma_max of J0", th->jac_smin, th->jac_smax);
    printf("%-36s %14.6g\n", "largest stable common rate", th->lr_max_stable);
    printf("%-36s %14.6g  (observed/envelope max %.3g: %s)\n", "loss envelope rate",
           th->envelope_rate, rep->envelope_max_ratio,
           rep->envelope_max_ratio <= 1 + 1e-9 ? "held" : "exceeded");
    if (ntk_net_is_deep(&s->cfg)) {
        /* Du et al.'s and Hu et al.'s statements are about the two-layer
         * network; Chizat et al.'s hold for any smooth model (with the
         * estimated Lipschitz constant of J) */
        printf("%-36s %14s  (two-layer only; measured max row move R = %.4g)\n", "Du et al. 2019: D",
               "n/a", rep->R_max);
        printf("%-36s %14s  (two-layer only; measured max flip fraction %.4g)\n",
               "Du et al. 2019: flip bound", "n/a", rep->flip_max);
        printf("%-36s %14.6g  (alpha = %g: %s; beta estimate %.4g)\n",
               "Chizat et al. 2019: alpha condition", cond, s->cfg.alpha,
               isfinite(cond) ? (s->cfg.alpha >= cond ? "holds" : "fails") : "n/a", rep->beta_used);
        printf("%-36s %14.6g  (measured max %.4g)\n", "Chizat et al. 2019: weight bound",
               th->weight_bound, rep->theta_max);
        printf("%-36s %14s  (two-layer only)\n", "Hu et al. 2020: horizon T", "n/a");
        return;
    }
    printf("%-36s %14.6g  (measured max row move R = %.4g)\n", "Du et al. 2019: D", th->D_bound,
           rep->R_max);
    printf("%-36s %14.6g  (measured max flip fraction %.4g)\n", "Du et al. 2019: flip bound",
           th->flip_bound_D, rep->flip_max);
    printf("%-36s %14.6g  (alpha = %g: %s; beta %s %.4g)\n", "Chizat et al. 2019: alpha condition",
           cond, s->cfg.alpha, isfinite(cond) ? (s->cfg.alpha >= cond ? "holds" : "fails") : "n/a",
           rep->beta_from_bound ? "bound" : "estimate", rep->beta_used);
    printf("%-36s %14.6g  (measured max %.4g)\n", "Chizat et al. 2019: weight bound",
           th->weight_bound, rep->theta_max);
    printf("%-36s %14.6g  (gap_lin_train there: %.4g)\n", "Hu et al. 2020: horizon T", th->horizon_T,
           rep->gap_lin_at_T);
}

/* k outputs: each model's final accuracy (argmax against the targets' argmax). */
static void print_accuracy(const ntk_run *r, const ntk_run_report *rep)
{
    if (ntk_net_outputs(ntk_net_cfg(ntk_run_net(r))) < 2 || !rep->final_row) return;
    printf("\n%-14s %10s %10s\n", "accuracy", "train", "test");
    for (int m = 0; m < NTK_NMODELS; m++) {
        char tr[64], te[64];
        snprintf(tr, sizeof tr, "%s_train_acc", ntk_model_name(m));
        snprintf(te, sizeof te, "%s_test_acc", ntk_model_name(m));
        double a = NAN, b = NAN;
        for (size_t c = 0; c < ntk_run_ncolumns(r); c++) {
            if (!strcmp(ntk_run_column(r, c), tr)) a = rep->final_row[c];
            if (!strcmp(ntk_run_column(r, c), te)) b = rep->final_row[c];
        }
        if (!isnan(a)) printf("%-14s %10.4f %10.4f\n", ntk_model_name(m), a, b);
    }
}

/* The end of a run: the theory table, and the status as exit code and message. */
static int run_report(const cli_setup *s, const ntk_run_report *rep, double t_setup,
                      const char *why, int quiet_summary)
{
    if (!quiet_summary) {
        print_theory(s, rep);
        printf("\n%s: setup %.2fs, %s %.2fs; run directory %s\n", ntk_run_status_name(rep->status),
               t_setup, s->flow ? "integration" : "training", rep->seconds, s->out_dir);
    }
    if (rep->status == NTK_RUN_DIVERGED)
        return cli_fail("training diverged at %s %g (%s); use smaller rates (largest stable common "
                        "rate about %.4g); metrics so far kept in %s/metrics.csv",
                        s->flow ? "time" : "step", rep->diverged_at, why,
                        rep->theory.lr_max_stable, s->out_dir);
    if (rep->status == NTK_RUN_INTERRUPTED) {
        fprintf(stderr, "ntkit: interrupted at %g; metrics and summary (status interrupted) written to %s\n",
                rep->t, s->out_dir);
        return 130;
    }
    if (rep->loss_growth > CLI_GROWTH_WARN)
        cli_warn("the network's training loss grew %.3g-fold: the rates are too large for stable "
                 "descent (largest stable common rate about %.4g; noted in summary.json)",
                 rep->loss_growth, rep->theory.lr_max_stable);
    return 0;
}

static void fill_result(const ntk_run *r, const ntk_run_report *rep, cli_run_result *res)
{
    res->ncols = ntk_run_ncolumns(r) < 64 ? ntk_run_ncolumns(r) : 64;
    for (size_t k = 0; k < res->ncols; k++) {
        snprintf(res->names[k], sizeof res->names[k], "%s", ntk_run_column(r, k));
        res->final[k] = rep->final_row[k];
        res->max[k] = rep->max_row[k];
    }
    res->status = ntk_run_status_name(rep->status);
}

/* The theory at t = 0 (for the warning before training; the driver reuses
 * its spectra). */
static int stability_warning(ntk_run *r, const ntk_run_config *rc)
{
    ntk_run_theory th;
    if (ntk_run_theory_get(r, &th) != NTK_OK) return cli_fail_lib("theory");
    if (th.stability > 2.0 && (rc->models & (NTK_MODEL_NTK | NTK_MODEL_NTK_INF)) && !rc->flow)
        cli_warn("the rates are above the stability limit of the closed-form kernel models: "
                 "c*lambda_max(%s) = %.3g > 2; the largest stable common rate is %.4g",
                 ntk_net_is_deep(&rc->net) ? "sum_l eta_l*Theta_l" : "eta1*Theta1 + eta2*Theta2",
                 th.stability, th.lr_max_stable);
    return 0;
}

/* Train every model, write the rows, then the weights and the summary. */
static int run_models(ntk_run *r, const cli_setup *s, const ntk_array *predict, double t_start,
                      int quiet_summary, cli_run_result *res)
{
    size_t nc = ntk_run_ncolumns(r);
    const char *names[RUN_MAX_COLS + 1];
    for (size_t k = 0; k < nc && k < RUN_MAX_COLS; k++) names[k] = ntk_run_column(r, k);
    names[nc] = "seconds";
    cli_rows w = {0};
    if (ON_WRITER(cli_rows_open(&w, s, r, names, names, nc + 1))) return 1;
    if (w.map) w.map[nc] = -1;   /* "seconds" is the wall clock, not a run column */
    double t_setup = cli_now() - t_start;
    ntk_run_report rep;
    RUN_EXECUTE(r, s, &w, &rep);
    char why[1024];
    snprintf(why, sizeof why, "%s", ntk_errmsg());
    int rc;
    if (rep.status == NTK_RUN_FAILED) {
        rc = w.failed ? 1 : cli_fail_lib(NULL);
    } else {
        cJSON *sum = run_summary(r, s, &rep, t_setup);
        /* data-parallel: the kernel models' --predict outputs are
         * collective, made by every process before process 0 writes */
        double *pred = NULL;
        rc = DP && predict->data && rep.status != NTK_RUN_DIVERGED
                 ? AGREED(cli_predict_models(s, r, predict, &pred))
                 : 0;
        if (!rc)
            rc = ON_WRITER(cli_csv_close(&w.csv) ||
                           cli_write_results_pred(s, r, rep.status, sum,
                                                  predict->data ? predict : NULL, pred));
        free(pred);
        cJSON_Delete(sum);
        if (!rc && !quiet_summary) print_accuracy(r, &rep);
        if (!rc) rc = run_report(s, &rep, t_setup, why, quiet_summary);
        if (res) fill_result(r, &rep, res);
    }
    cli_rows_free(&w);
    return rc;
}

/* --predict X.npy: inputs of the run's dimension, loaded before training. */
static int predict_inputs(const cli_args *a, const cli_setup *s, ntk_array *X)
{
    const char *path = cli_str(a, "predict", NULL);
    if (!path) return 0;
    if (cli_load_matrix("--predict", path, X)) return 1;
    if (X->cols != s->cfg.d) {
        int rc = cli_fail("--predict %s has d = %zu but the run's inputs have d = %zu", path,
                          X->cols, s->cfg.d);
        ntk_array_free(X);
        return rc;
    }
    return 0;
}

/* The whole run, given parsed flags; fills res when non-NULL (sweeps). */
int cli_run_with_args(const cli_args *a, int quiet_summary, cli_run_result *res)
{
    double t_start = cli_now();
    cli_setup s;
    if (models_precheck(a) || RUN_SETUP(a, &s)) return 1;
    ntk_run_config rc;
    ntk_run *r = NULL;
    if (!s.quiet && cli_isatty_stderr())
        fprintf(stderr, "  setting up models (kernels and eigendecompositions for n = %zu)...\n", s.ds.n);
    ntk_array predict = {0};
    /* (the theory is collective in a data-parallel run: stability_warning
     * runs on every process) */
    int code = run_options(a, &s, &rc) || AGREED(predict_inputs(a, &s, &predict)) ||
               ON_WRITER(write_run_config(a, &s, &rc)) || RUN_CREATE(&s, &rc, &r) ||
               AGREED(stability_warning(r, &rc));
    if (!code) code = run_models(r, &s, &predict, t_start, quiet_summary, res);
    ntk_array_free(&predict);
    ntk_run_free(r);
    cli_setup_free(&s);
    return code;
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
                  "and summary.json the theory next to the measured values. With --depth L > 1 (or\n"
                  "biases, --weight-std, --parameterization standard) the kernels weigh layer l by\n"
                  "its rate eta_l (--lrs), lin is left out (two-layer only) and the two-layer bounds\n"
                  "are reported as n/a.",
                  run_flags, NRUN);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    return cli_run_with_args(&a, 0, NULL);
}

