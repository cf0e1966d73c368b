/* The command line's side of a run: the library's driver trains and logs;
 * this writes each row to metrics.csv (with the wall-clock seconds), shows
 * the progress line, and hands the driver the signal flags. */
#include "cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_rows_open(cli_rows *w, const cli_setup *s, const ntk_run *r, const char *const *names,
                  const char *const *from, size_t ncols)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->ncols = ncols;
    w->loss_col = -1;
    w->map = malloc(ncols * sizeof *w->map);
    w->buf = malloc(ncols * sizeof *w->buf);
    size_t len = 0;
    for (size_t k = 0; k < ncols; k++) len += strlen(names[k]) + 1;
    char *header = malloc(len + 1);
    if (!w->map || !w->buf || !header) {
        free(header);
        cli_rows_free(w);
        return cli_fail("out of memory for the metrics rows");
    }
    header[0] = '\0';
    for (size_t k = 0; k < ncols; k++) {
        w->map[k] = -1;   /* -1: the seconds since the first row */
        for (size_t c = 0; from[k] && c < ntk_run_ncolumns(r); c++)
            if (strcmp(ntk_run_column(r, c), from[k]) == 0) w->map[k] = (int)c;
        if (k) strcat(header, ",");
        strcat(header, names[k]);
    }
    for (size_t c = 0; c < ntk_run_ncolumns(r); c++)
        if (strcmp(ntk_run_column(r, c), "nn_train_loss") == 0) w->loss_col = (int)c;
    int rc = cli_csv_open(&w->csv, s->out_dir, "metrics.csv", header);
    free(header);
    if (rc) cli_rows_free(w);
    return rc;
}

int cli_rows_write(void *ctx, const ntk_run *r, const double *row)
{
    cli_rows *w = ctx;
    double now = cli_now();
    if (w->rows == 0) w->t0 = now;
    for (size_t k = 0; k < w->ncols; k++) w->buf[k] = w->map[k] >= 0 ? row[w->map[k]] : now - w->t0;
    w->rows++;
    if (cli_csv_row(&w->csv, w->buf)) {
        w->failed = 1;
        return 1;
    }
    double t = ntk_run_time(r);
    if (!w->s->quiet)
        cli_progress((size_t)t, (size_t)w->s->t_final, row[w->loss_col], now - w->t0,
                     t >= w->s->t_final);
    return 0;
}

void cli_rows_free(cli_rows *w)
{
    cli_csv_discard(&w->csv);
    free(w->map);
    free(w->buf);
    w->map = NULL;
    w->buf = NULL;
}

ntk_status cli_execute(ntk_run *r, const cli_setup *s, int theory, cli_rows *w,
                       ntk_run_report *rep)
{
    ntk_schedule sch = ntk_schedule_default(s->t_final, s->t_every);
    sch.theory = theory;
    sch.cancel = &cli_interrupted;
    sch.hurry = &cli_hurry;
    sch.on_row = cli_rows_write;
    sch.ctx = w;
    ntk_status st = ntk_run_execute(r, &sch, rep);
    if (rep->status == NTK_RUN_INTERRUPTED && !s->quiet && cli_isatty_stderr()) fputc('\n', stderr);
    return st;
}

int cli_run_create(const cli_setup *s, const ntk_run_config *rc, ntk_run **r)
{
    const ntk_dataset *ds = &s->ds;
    ntk_run_data data = {ds->X_train, ds->y_train, ds->n, ds->X_test, ds->y_test, ds->n_test};
    /* at depth the run takes θ0 as one flat vector (v0 NULL) */
    int deep = ntk_net_is_deep(&s->cfg);
    if (ntk_run_create(rc, &data, deep ? ntk_net_theta0(s->net) : ntk_net_W0(s->net),
                       deep ? NULL : ntk_net_v0(s->net), r) != NTK_OK)
        return cli_fail_lib(NULL);
    ntk_run_set_cancel(*r, &cli_interrupted);
    return 0;
}

int cli_predict_models(const cli_setup *s, ntk_run *r, const ntk_array *X, double **out)
{
    size_t ny = ntk_net_outputs(&s->cfg), nf = X->rows * ny;
    *out = malloc(NTK_NMODELS * nf * sizeof(double));
    if (!*out) return cli_fail("out of memory for %zu predictions", NTK_NMODELS * nf);
    for (int k = 0; k < NTK_NMODELS; k++)
        if (ntk_run_predictions(r, k, NULL, NULL) == NTK_OK &&
            ntk_run_predict_at(r, k, X->data, X->rows, *out + k * nf) != NTK_OK) {
            free(*out);
            *out = NULL;
            return cli_fail_lib("--predict");
        }
    return 0;
}

/* predict_<model>.npy for every model of the run, on X (n, d): from pred
 * (cli_predict_models) when given, else made here */
static int stage_predictions(ntk_outset *o, const cli_setup *s, ntk_run *r, const ntk_array *X,
                             const double *pred)
{
    size_t ny = ntk_net_outputs(&s->cfg);
    double *f = malloc(X->rows * ny * sizeof(double));
    if (!f) return cli_fail("out of memory for %zu predictions", X->rows * ny);
    int rc = 0;
    for (int k = 0; k < NTK_NMODELS && !rc; k++) {
        if (pred) {
            if (ntk_run_predictions(r, k, NULL, NULL) != NTK_OK) continue;
            memcpy(f, pred + k * X->rows * ny, X->rows * ny * sizeof(double));
        } else if (ntk_run_predict_at(r, k, X->data, X->rows, f) != NTK_OK) {
            if (strstr(ntk_errmsg(), "not part of this run")) continue;
            rc = cli_fail_lib("--predict");
            break;
        }
        char name[64], p[4096];
        snprintf(name, sizeof name, "predict_%s.npy", ntk_model_name(k));
        cli_path(p, sizeof p, s->out_dir, name);
        if (ntk_outset_add_npy(o, p, f, X->rows, ny, ny > 1 ? 2 : 1) != NTK_OK) rc = cli_fail_lib(NULL);
    }
    free(f);
    return rc;
}

/* The weights of a run that did not diverge (W.npy, v.npy; at depth
 * W{l}_final.npy, b{l}_final.npy), the predictions
 * on --predict inputs (when predict is not NULL) and its summary, committed
 * together. */
int cli_write_results(const cli_setup *s, ntk_run *r, ntk_run_status status,
                      const struct cJSON *summary, const ntk_array *predict)
{
    return cli_write_results_pred(s, r, status, summary, predict, NULL);
}

int cli_write_results_pred(const cli_setup *s, ntk_run *r, ntk_run_status status,
                           const struct cJSON *summary, const ntk_array *predict,
                           const double *pred)
{
    ntk_outset *o = NULL;
    char p[4096];
    const ntk_net *net = ntk_run_net(r);
    int rc = ntk_outset_create(&o) != NTK_OK;
    if (!rc && status != NTK_RUN_DIVERGED && ntk_net_is_deep(&s->cfg)) {
        /* at depth: W{l}_final.npy, b{l}_final.npy */
        rc = cli_stage_layers(o, s->out_dir, &s->cfg, ntk_net_theta(net), "final");
        if (rc) cli_fail_lib(NULL);
        if (!rc && predict) rc = stage_predictions(o, s, r, predict, pred);
    } else if (!rc && status != NTK_RUN_DIVERGED) {
        /* the weights of a diverged run are not finite: not written */
        cli_path(p, sizeof p, s->out_dir, "W.npy");
        rc = ntk_outset_add_npy(o, p, ntk_net_W(net), s->cfg.m, s->cfg.d, 2) != NTK_OK;
        cli_path(p, sizeof p, s->out_dir, "v.npy");
        if (!rc) rc = ntk_outset_add_npy(o, p, ntk_net_v(net), s->cfg.m, 1, 1) != NTK_OK;
        if (rc) cli_fail_lib(NULL);
        if (!rc && predict) rc = stage_predictions(o, s, r, predict, pred);
    } else if (rc) {
        cli_fail_lib(NULL);
    }
    if (!rc) rc = cli_outset_json(o, s->out_dir, "summary.json", summary);
    if (!rc && ntk_outset_commit(o) != NTK_OK) rc = cli_fail_lib(NULL);
    ntk_outset_free(o);
    return rc;
}

void cli_loss_growth(struct cJSON *sum, double g)
{
    if (!isfinite(g)) return;
    cJSON_AddNumberToObject(sum, "loss_growth", g);
    if (g > CLI_GROWTH_WARN) {
        char msg[256];
        snprintf(msg, sizeof msg, "the training loss grew %.3g-fold: the rates are too large for "
                 "stable descent", g);
        cJSON *w = cJSON_AddArrayToObject(sum, "warnings");
        cJSON_AddItemToArray(w, cJSON_CreateString(msg));
    }
}
