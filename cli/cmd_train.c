/* ntkit train: gradient descent on the two-layer network, written to a run
 * directory (config.json, data, weights, metrics.csv, summary.json). */
#include "cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cli_flag train_flags[] = {CLI_TRAIN_FLAGS};
#define NFLAGS (sizeof train_flags / sizeof train_flags[0])

typedef struct {
    const char *status;
    size_t k;                              /* steps taken */
    double loss0, loss, test_loss, seconds;
} train_end;

/* W.npy, v.npy and summary.json, together or not at all. */
static int write_results(const cli_setup *s, const train_end *e)
{
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "status", e->status);
    cJSON_AddNumberToObject(sum, "steps_run", (double)e->k);
    cJSON_AddNumberToObject(sum, "initial_train_loss", e->loss0);
    if (isfinite(e->loss)) cJSON_AddNumberToObject(sum, "final_train_loss", e->loss);
    if (isfinite(e->test_loss)) cJSON_AddNumberToObject(sum, "final_test_loss", e->test_loss);
    ntk_weight_dist wd;
    ntk_net_weight_dist(s->net, &wd);
    cJSON_AddNumberToObject(sum, "w_dist_fro", wd.w_fro);
    cJSON_AddNumberToObject(sum, "v_dist", wd.v_norm);
    cJSON_AddNumberToObject(sum, "w_dist_max_row", wd.w_max_row);
    cJSON_AddNumberToObject(sum, "seconds", e->seconds);
    cJSON_AddNumberToObject(sum, "steps_per_second", e->seconds > 0 ? (double)e->k / e->seconds : 0.0);
    if (!strcmp(e->status, "diverged")) cJSON_AddNumberToObject(sum, "diverged_at_step", (double)e->k);
    cli_loss_growth(sum, e->loss0, e->loss);
    ntk_outset *o = NULL;
    char p[4096];
    int rc = ntk_outset_create(&o) != NTK_OK;
    if (!rc && strcmp(e->status, "diverged") != 0) {
        /* the weights of a diverged run are not finite: not written */
        cli_path(p, sizeof p, s->out_dir, "W.npy");
        rc = ntk_outset_add_npy(o, p, ntk_net_W(s->net), s->cfg.m, s->cfg.d, 2) != NTK_OK;
        cli_path(p, sizeof p, s->out_dir, "v.npy");
        if (!rc) rc = ntk_outset_add_npy(o, p, ntk_net_v(s->net), s->cfg.m, 1, 1) != NTK_OK;
        if (rc) cli_fail_lib(NULL);
    } else if (rc) {
        cli_fail_lib(NULL);
    }
    if (!rc) rc = cli_outset_json(o, s->out_dir, "summary.json", sum);
    if (!rc && ntk_outset_commit(o) != NTK_OK) rc = cli_fail_lib(NULL);
    ntk_outset_free(o);
    cJSON_Delete(sum);
    return rc;
}

/* The last lines: success, divergence or interruption. */
static int report(const cli_setup *s, const train_end *e)
{
    if (!strcmp(e->status, "diverged"))
        return cli_fail("training diverged at step %zu (loss %g); try smaller rates than --lr1 %g "
                        "--lr2 %g (metrics up to that step kept in %s/metrics.csv)",
                        e->k, e->loss, s->gd.lr1, s->gd.lr2, s->out_dir);
    if (!strcmp(e->status, "interrupted")) {
        fprintf(stderr, "ntkit: interrupted at step %zu; metrics and summary written to %s\n", e->k,
                s->out_dir);
        return 130;
    }
    printf("trained %zu steps in %.2fs: train loss %.6g -> %.6g", e->k, e->seconds, e->loss0,
           e->loss);
    if (isfinite(e->test_loss)) printf(", test loss %.6g", e->test_loss);
    printf("\nrun directory: %s\n", s->out_dir);
    if (e->loss > CLI_GROWTH_WARN * e->loss0)
        cli_warn("the training loss grew %.3g-fold (%.6g -> %.6g): the rates are too large for "
                 "stable descent; try smaller --lr1/--lr2 (noted in summary.json)",
                 e->loss / e->loss0, e->loss0, e->loss);
    return 0;
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
                  "metrics.csv row k holds the state after k updates; row 0 is the initial state.",
                  train_flags, NFLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    cli_setup s;
    if (cli_setup_from_args(&a, &s)) return 1;
    cJSON *cfg = cli_setup_config_json(&s, "train");
    if (cli_write_json(s.out_dir, "config.json", cfg) || cli_write_inputs(&s)) {
        cJSON_Delete(cfg);
        cli_setup_free(&s);
        return 1;
    }
    cJSON_Delete(cfg);

    ntk_trainer *tr = NULL;
    if (ntk_trainer_create(s.net, s.ds.X_train, s.ds.y_train, s.ds.n, s.gd, &tr) != NTK_OK) {
        cli_setup_free(&s);
        return cli_fail_lib(NULL);
    }
    double *ftest = s.ds.n_test ? malloc(s.ds.n_test * sizeof(double)) : NULL;
    cli_csv csv;
    if ((s.ds.n_test && !ftest) ||
        cli_csv_open(&csv, s.out_dir, "metrics.csv",
                     "step,train_loss,test_loss,w_dist_fro,v_dist,w_dist_max_row,grad_norm,seconds")) {
        if (s.ds.n_test && !ftest) cli_fail("out of memory for %zu test predictions", s.ds.n_test);
        ntk_trainer_free(tr);
        free(ftest);
        cli_setup_free(&s);
        return 1;
    }
    const char *status = "completed";
    size_t k = 0;
    double t0 = cli_now(), loss0 = NAN, loss = NAN, test_loss = NAN;
    for (k = 0;; k++) {
        ntk_status st = ntk_trainer_eval(tr);
        loss = ntk_trainer_loss(tr);
        if (k == 0) loss0 = loss;
        int last = k == s.steps;
        if (st == NTK_OK && (k % s.log_every == 0 || last || cli_interrupted)) {
            if (s.ds.n_test && ntk_net_predict(s.net, s.ds.X_test, s.ds.n_test, ftest) == NTK_OK)
                test_loss = ntk_loss_value(s.gd.loss, ftest, s.ds.y_test, s.ds.n_test);
            ntk_weight_dist wd;
            ntk_net_weight_dist(s.net, &wd);
            double row[8] = {(double)k, loss, test_loss, wd.w_fro, wd.v_norm, wd.w_max_row,
                             ntk_trainer_grad_norm(tr), cli_now() - t0};
            if (cli_csv_row(&csv, row)) {
                status = "failed";
                break;
            }
        }
        if (st == NTK_ERR_DIVERGED) {
            status = "diverged";
            break;
        }
        if (st != NTK_OK) {
            cli_fail_lib(NULL);
            status = "failed";
            break;
        }
        if (!s.quiet) cli_progress(k, s.steps, loss, cli_now() - t0, last);
        if (last) break;
        if (cli_interrupted) {
            status = "interrupted";
            break;
        }
        ntk_trainer_apply(tr);
    }
    double elapsed = cli_now() - t0;
    int rc = 0;
    if (!strcmp(status, "failed")) {
        /* one message was printed; nothing more is written */
        cli_csv_discard(&csv);
        rc = 1;
    } else {
        train_end e = {status, k, loss0, loss, test_loss, elapsed};
        rc = cli_csv_close(&csv) || write_results(&s, &e);
        if (!rc) rc = report(&s, &e);
    }
    free(ftest);
    ntk_trainer_free(tr);
    cli_setup_free(&s);
    return rc;
}
