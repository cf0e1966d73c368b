/* The driver of a whole run: the log schedule, one metrics row per logged
 * time handed to the caller, divergence and interruption, the theory at
 * t = 0 and the checks of the theory against the run. Every front end (the
 * command line, the Python package) runs its training through it. */
#include "run_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *ntk_run_status_name(ntk_run_status s)
{
    switch (s) {
    case NTK_RUN_COMPLETED: return "completed";
    case NTK_RUN_DIVERGED: return "diverged";
    case NTK_RUN_INTERRUPTED: return "interrupted";
    case NTK_RUN_FAILED: return "failed";
    }
    return "unknown";
}

ntk_schedule ntk_schedule_default(double t_final, double t_every)
{
    ntk_schedule s;
    memset(&s, 0, sizeof s);
    s.t_final = t_final;
    s.t_every = t_every;
    s.theory = 1;
    return s;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int col_index(const ntk_run *r, const char *name)
{
    for (size_t k = 0; k < r->ncols; k++)
        if (strcmp(r->cols[k], name) == 0) return (int)k;
    return -1;
}

static ntk_status check_times(const ntk_run *r, const ntk_schedule *s)
{
    for (size_t i = 0; i < s->ntimes; i++) {
        double t = s->times[i];
        if (!isfinite(t) || t < r->t || (i && t < s->times[i - 1]))
            return ntk_set_error(NTK_ERR_ARG, "schedule: times must be finite, ascending and not "
                                 "before the run's time %g (times[%zu] = %g)", r->t, i, t);
        if (!r->cfg.flow && t != floor(t))
            return ntk_set_error(NTK_ERR_ARG, "schedule: with gradient descent the times count "
                                 "steps and must be whole numbers (times[%zu] = %g)", i, t);
        if (r->cfg.t_max > 0 && t > r->cfg.t_max)
            return ntk_set_error(NTK_ERR_ARG, "schedule: times[%zu] = %g is past the run's t_max "
                                 "= %g", i, t, r->cfg.t_max);
    }
    return NTK_OK;
}

static ntk_status check_schedule(const ntk_run *r, const ntk_schedule *s)
{
    if (s->times) {
        if (s->ntimes == 0) return ntk_set_error(NTK_ERR_ARG, "schedule: times given but ntimes = 0");
        return check_times(r, s);
    }
    if (!(s->t_final >= 0) || !isfinite(s->t_final) || !(s->t_every > 0) || !isfinite(s->t_every))
        return ntk_set_error(NTK_ERR_ARG, "schedule: t_final = %g must be >= 0 and t_every = %g "
                             "positive, both finite", s->t_final, s->t_every);
    if (!r->cfg.flow && (s->t_final != floor(s->t_final) || s->t_every != floor(s->t_every)))
        return ntk_set_error(NTK_ERR_ARG, "schedule: with gradient descent t_final and t_every "
                             "count steps and must be whole numbers (got %g, %g)",
                             s->t_final, s->t_every);
    if (r->cfg.t_max > 0 && s->t_final > r->cfg.t_max)
        return ntk_set_error(NTK_ERR_ARG, "schedule: t_final = %g is past the run's t_max = %g",
                             s->t_final, r->cfg.t_max);
    return NTK_OK;
}

/* The checks that follow the rows: maxima, the envelope ratio and the gap
 * to Hu et al.'s model at the horizon (docs/theory.md §7). */
static void track(const ntk_run *r, const double *row, ntk_run_report *rep, double *mx)
{
    for (size_t k = 0; k < r->ncols; k++)
        if (!isnan(row[k]) && !(row[k] <= mx[k])) mx[k] = row[k];
    int env = col_index(r, "envelope"), loss = col_index(r, "nn_train_loss");
    int gap = col_index(r, "gap_lin_train");
    if (isfinite(row[env]) && row[env] > 0)
        rep->envelope_max_ratio = fmax(isnan(rep->envelope_max_ratio) ? 0 : rep->envelope_max_ratio,
                                       row[loss] / row[env]);
    double T = rep->theory.horizon_T;
    if (gap >= 0 && isfinite(T) && isnan(rep->gap_lin_at_T) && r->t >= T) {
        rep->gap_lin_at_T = row[gap];
        rep->time_at_T = r->t;
    }
}

/* One logged row: measured, handed over, tracked. Nonzero when the run must
 * stop (the status is set). */
static int log_row(ntk_run *r, const ntk_schedule *s, int kern, double *row, double *mx,
                   ntk_run_report *rep, ntk_status *st)
{
    *st = ntk_run_metrics(r, kern, row);
    if (*st == NTK_OK && s->on_row && s->on_row(s->ctx, r, row) != 0) {
        *st = ntk_set_error(NTK_ERR_IO, "the caller stopped the run at %g", r->t);
        rep->status = NTK_RUN_FAILED;
        return 1;
    }
    if (*st == NTK_ERR_DIVERGED) {
        rep->status = NTK_RUN_DIVERGED;
        rep->diverged_at = r->t;
    } else if (*st != NTK_OK) {
        rep->status = NTK_RUN_FAILED;
    }
    if (*st != NTK_OK) return 1;
    rep->rows++;
    track(r, row, rep, mx);
    return 0;
}

/* The logged time after the k-th (k >= 0): the next of the times, or
 * t0 + (k + 1)·t_every (not a running sum, whose rounding would add a time
 * just short of t_final); *last when it is the final one. */
static double next_time(const ntk_schedule *s, double t0, size_t k, int *last)
{
    if (s->times) {
        *last = k + 2 >= s->ntimes;
        return s->times[k + 1 < s->ntimes ? k + 1 : s->ntimes - 1];
    }
    double tn = fmin(s->t_final, t0 + (double)(k + 1) * s->t_every);
    if (s->t_final - tn <= 1e-12 * fabs(s->t_final)) tn = s->t_final;
    *last = tn >= s->t_final;
    return tn;
}

/* Advance and log until the end, a divergence, a failure or a stop. */
static ntk_status loop(ntk_run *r, const ntk_schedule *s, double *row, double *mx,
                       ntk_run_report *rep)
{
    size_t every = r->cfg.kernel_every;
    double t0 = r->t;
    ntk_status st = NTK_OK;
    if (s->times && s->times[0] > r->t) {
        /* advance to the first time before logging anything */
        st = ntk_run_advance(r, s->times[0]);
        if (st != NTK_OK) {
            rep->status = st == NTK_ERR_DIVERGED ? NTK_RUN_DIVERGED
                          : st == NTK_ERR_INTERRUPTED ? NTK_RUN_INTERRUPTED : NTK_RUN_FAILED;
            if (st == NTK_ERR_DIVERGED) rep->diverged_at = r->t;
            return st;
        }
    }
    double t = r->t;
    int last = s->times ? s->ntimes == 1 : t >= s->t_final || s->t_final - t <= 1e-12 * fabs(s->t_final);
    for (size_t logk = 0;; logk++) {
        if (log_row(r, s, every && (logk % every == 0 || last), row, mx, rep, &st)) return st;
        if (last) return NTK_OK;
        if (s->cancel && *s->cancel) break;
        int next_last;
        double tn = next_time(s, t0, logk, &next_last);
        st = ntk_run_advance(r, tn);
        if (st == NTK_ERR_INTERRUPTED) {
            /* GD stops after a step: log where it is (flow went back to t) */
            if (r->t > t && !(s->hurry && *s->hurry)) log_row(r, s, 0, row, mx, rep, &st);
            break;
        }
        if (st == NTK_ERR_DIVERGED) {
            rep->status = NTK_RUN_DIVERGED;
            rep->diverged_at = r->cfg.flow ? tn : r->t;
            return st;
        }
        if (st != NTK_OK) {
            rep->status = NTK_RUN_FAILED;
            return st;
        }
        t = r->t;
        last = next_last;
    }
    if (rep->status == NTK_RUN_COMPLETED) rep->status = NTK_RUN_INTERRUPTED;
    return ntk_set_error(NTK_ERR_INTERRUPTED, "the run was stopped at %s %g",
                         r->cfg.flow ? "time" : "step", r->t);
}

/* After the loop: the Lipschitz estimate (unless told to hurry) and the
 * α condition with it for the activations the bound does not cover. */
static void finish(ntk_run *r, const ntk_schedule *s, const double *row, const double *mx,
                   ntk_run_report *rep)
{
    int loss = col_index(r, "nn_train_loss");
    rep->loss0 = r->loss0;
    rep->loss_growth = r->loss0 > 0 && isfinite(row[loss]) ? row[loss] / r->loss0 : NAN;
    int c = col_index(r, "w_dist_max_row");
    rep->R_max = mx[c];
    rep->flip_max = mx[col_index(r, "flip_frac")];
    rep->theta_max = mx[col_index(r, "theta_dist")];
    if (!s->theory) return;
    if (!(s->hurry && *s->hurry) && rep->status != NTK_RUN_DIVERGED) {
        ntk_status saved = ntk_run_beta_estimate(r, &rep->beta_estimate);
        if (saved != NTK_OK) rep->beta_estimate = NAN;
    }
    /* the bound needs a finite sup|φ''|: every activation but relu and leaky
     * relu; and the two-layer network (at depth: the estimate) */
    double L1, L2;
    ntk_act_sup(r->cfg.net.act, &L1, &L2);
    int smooth = rep->beta_from_bound = isfinite(L2) && !r->deep;
    rep->beta_used = smooth ? rep->theory.beta_bound : rep->beta_estimate;
    rep->alpha_condition = smooth ? rep->theory.alpha_condition
                                  : ntk_run_alpha_condition(r, &rep->theory, rep->beta_estimate);
}

static void report_init(ntk_run_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->status = NTK_RUN_COMPLETED;
    for (double *p = (double *)&rep->theory; p < (double *)(&rep->theory + 1); p++) *p = NAN;
    rep->diverged_at = rep->envelope_max_ratio = rep->gap_lin_at_T = rep->time_at_T = NAN;
    rep->loss0 = rep->loss_growth = rep->R_max = rep->flip_max = rep->theta_max = NAN;
    rep->beta_estimate = rep->beta_used = rep->alpha_condition = NAN;
}

ntk_status ntk_run_execute(ntk_run *r, const ntk_schedule *s, ntk_run_report *rep)
{
    ntk_clear_error();
    if (!r || !s || !rep) return ntk_set_error(NTK_ERR_ARG, "ntk_run_execute: NULL argument");
    report_init(rep);
    rep->status = NTK_RUN_FAILED;
    NTK_TRY(check_schedule(r, s));
    double *row = ntk_alloc(2 * r->ncols, sizeof(double), "metrics rows");
    if (!row) return NTK_ERR_NOMEM;
    free(r->rows);
    r->rows = row;
    double *mx = row + r->ncols;
    for (size_t k = 0; k < r->ncols; k++) row[k] = mx[k] = NAN;
    rep->final_row = row;
    rep->max_row = mx;
    const volatile int *prev = r->cancel;
    if (s->cancel) r->cancel = s->cancel;
    ntk_status st = NTK_OK;
    if (s->theory) st = ntk_run_theory_get(r, &rep->theory);
    if (st == NTK_OK) {
        rep->status = NTK_RUN_COMPLETED;
        double t0 = now_seconds();
        st = loop(r, s, row, mx, rep);
        rep->seconds = now_seconds() - t0;
    }
    rep->t = r->t;
    r->cancel = prev;
    /* the final computations must not replace the message of what stopped
     * the run */
    char why[1024];
    snprintf(why, sizeof why, "%s", ntk_errmsg());
    finish(r, s, row, mx, rep);
    if (st != NTK_OK) ntk_set_error(st, "%s", why);
    return st;
}
