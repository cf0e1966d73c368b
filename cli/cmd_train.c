/* ntkit train: 'ntkit run' with the network alone, written as a training
 * directory (config.json, data, weights, metrics.csv, summary.json). */
#include "cli.h"
#ifdef NTK_MPI
/* mpirun -np P ntkit train (cli/mpi_train.c): this command on every
 * process, set up from the whole data set, trained on the process's block
 * of rows with the loss and gradient summed over the processes; process 0
 * alone writes (ON_WRITER), the others' status agreed with its own */
#include "mpi_cli.h"
#define ON_WRITER(expr) cli_mpi_agree(cli_mpi_writes() ? (expr) : 0)
#else
#define cli_mpi_train_setup cli_setup_from_args
#define cli_mpi_train_create cli_run_create
#define cli_mpi_train_execute(r, s, w, rep) cli_execute(r, s, 0, w, rep)
#define ON_WRITER(expr) (expr)
#endif

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag train_flags[] = {CLI_TRAIN_FLAGS};
#define NFLAGS (sizeof train_flags / sizeof train_flags[0])

/* metrics.csv of train: these columns, from these columns of the run */
static const char *const col_names[] = {"step", "train_loss", "test_loss", "w_dist_fro",
                                        "v_dist", "w_dist_max_row", "grad_norm", "seconds"};
static const char *const col_from[] = {"step", "nn_train_loss", "nn_test_loss", "w_dist_fro",
                                       "v_dist", "w_dist_max_row", "grad_norm", NULL};
#define NCOLS (sizeof col_names / sizeof col_names[0])

static cJSON *train_summary(const ntk_run *r, const ntk_run_report *rep)
{
    const double *row = rep->final_row;   /* nn_train_loss and nn_test_loss are columns 1, 2 */
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "status", ntk_run_status_name(rep->status));
    cJSON_AddNumberToObject(sum, "steps_run", rep->t);
    cJSON_AddNumberToObject(sum, "initial_train_loss", rep->loss0);
    if (isfinite(row[1])) cJSON_AddNumberToObject(sum, "final_train_loss", row[1]);
    if (isfinite(row[2])) cJSON_AddNumberToObject(sum, "final_test_loss", row[2]);
    if (ntk_net_is_deep(ntk_net_cfg(ntk_run_net(r)))) {
        /* at depth the run's own distances (hidden layers, output layer,
         * largest row move of a hidden layer: README, metrics.csv) */
        static const char *const dist[] = {"w_dist_fro", "v_dist", "w_dist_max_row"};
        for (size_t k = 0; k < 3; k++)
            for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
                if (!strcmp(ntk_run_column(r, c), dist[k]) && isfinite(row[c]))
                    cJSON_AddNumberToObject(sum, dist[k], row[c]);
    } else {
        ntk_weight_dist wd;
        ntk_net_weight_dist(ntk_run_net(r), &wd);
        cJSON_AddNumberToObject(sum, "w_dist_fro", wd.w_fro);
        cJSON_AddNumberToObject(sum, "v_dist", wd.v_norm);
        cJSON_AddNumberToObject(sum, "w_dist_max_row", wd.w_max_row);
    }
    cJSON_AddNumberToObject(sum, "seconds", rep->seconds);
    cJSON_AddNumberToObject(sum, "steps_per_second", rep->seconds > 0 ? rep->t / rep->seconds : 0.0);
    if (rep->status == NTK_RUN_DIVERGED) cJSON_AddNumberToObject(sum, "diverged_at_step", rep->diverged_at);
    cli_loss_growth(sum, rep->loss_growth);
    return sum;
}

/* The last lines: success, divergence or interruption. */
static int train_report(const cli_setup *s, const ntk_run_report *rep)
{
    double loss = rep->final_row[1], test_loss = rep->final_row[2];
    if (rep->status == NTK_RUN_DIVERGED && s->gd.nlr)
        return cli_fail("training diverged at step %g; try smaller rates than --lrs (metrics up to "
                        "that step kept in %s/metrics.csv)", rep->diverged_at, s->out_dir);
    if (rep->status == NTK_RUN_DIVERGED)
        return cli_fail("training diverged at step %g; try smaller rates than --lr1 %g --lr2 %g "
                        "(metrics up to that step kept in %s/metrics.csv)",
                        rep->diverged_at, s->gd.lr1, s->gd.lr2, s->out_dir);
    if (rep->status == NTK_RUN_INTERRUPTED) {
        fprintf(stderr, "ntkit: interrupted at step %g; metrics and summary written to %s\n",
                rep->t, s->out_dir);
        return 130;
    }
    printf("trained %g steps in %.2fs: train loss %.6g -> %.6g", rep->t, rep->seconds, rep->loss0,
           loss);
    if (isfinite(test_loss)) printf(", test loss %.6g", test_loss);
    printf("\nrun directory: %s\n", s->out_dir);
    if (rep->loss_growth > CLI_GROWTH_WARN)
        cli_warn("the training loss grew %.3g-fold (%.6g -> %.6g): the rates are too large for "
                 "stable descent; try smaller --lr1/--lr2 (noted in summary.json)",
                 rep->loss_growth, rep->loss0, loss);
    return 0;
}

/* Train, write the rows, then the weights and the summary. */
static int train(const cli_setup *s, ntk_run *r)
{
    cli_rows w = {0};
    if (ON_WRITER(cli_rows_open(&w, s, r, col_names, col_from, NCOLS))) return 1;
    ntk_run_report rep;
    cli_mpi_train_execute(r, s, &w, &rep);
    int rc;
    if (rep.status == NTK_RUN_FAILED) {
        /* one message was printed (a failed write), or the library has one */
        rc = w.failed ? 1 : cli_fail_lib(NULL);
    } else {
        cJSON *sum = train_summary(r, &rep);
        rc = ON_WRITER(cli_csv_close(&w.csv) || cli_write_results(s, r, rep.status, sum, NULL));
        cJSON_Delete(sum);
        if (!rc) rc = train_report(s, &rep);
    }
    cli_rows_free(&w);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, train_flags, NFLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("train", "--out DIR [options]",
                  "Train f(x) = alpha/sqrt(m) v^T phi(W x / s) by full-batch gradient descent with\n"
                  "rates eta1 (W) and eta2 (v). Writes DIR/config.json, X_train.npy, y_train.npy,\n"
                  "X_test.npy, y_test.npy, W0.npy, v0.npy, W.npy, v.npy, metrics.csv and summary.json.\n"
                  "metrics.csv row k holds the state after k updates; row 0 is the initial state.\n"
                  "With --depth L (or --widths, --weight-std, --bias-std, --parameterization standard)\n"
                  "the network has L hidden layers, trained with one rate per layer (--lrs), and the\n"
                  "weights are written per layer: W{l}_init.npy, W{l}_final.npy (m_l, m_{l-1}) and,\n"
                  "with biases, b{l}_init.npy, b{l}_final.npy (m_l), l = 1..L+1.",
                  train_flags, NFLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    cli_setup s;
    if (cli_mpi_train_setup(&a, &s)) return 1;
    /* the network alone: no surrogate, no kernel drift, no flips, no theory */
    ntk_run_config rc = ntk_run_config_default(s.cfg, s.gd);
    rc.models = NTK_MODEL_NN;
    rc.kernel_every = 0;
    rc.flips = 0;
    cJSON *cfg = cli_setup_config_json(&s, "train");
    ntk_run *r = NULL;
    int code = ON_WRITER(cli_write_json(s.out_dir, "config.json", cfg) || cli_write_inputs(&s)) ||
               cli_mpi_train_create(&s, &rc, &r);
    cJSON_Delete(cfg);
    if (!code) code = train(&s, r);
    ntk_run_free(r);
    cli_setup_free(&s);
    return code;
}
