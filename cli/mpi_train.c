/* mpirun -np P ntkit train ... and mpirun -np P ntkit run --models
 * nn,linearized,ntk,ntk-inf ...: the network (and its linearization)
 * trained data-parallel, the kernel models by gradient descent with one
 * distributed product a step (kernel_models below; docs/scaling.md §6.3,
 * §6.4). cli/cmd_train.c and
 * cli/cmd_run.c run as they are on every process but for their hooks under
 * NTK_MPI, which are these (shared by the two commands):
 *
 *   cli_mpi_train_setup    every process makes the whole data set and θ0
 *                          as the ordinary command does (cli_setup_from_args,
 *                          from the same flags, seed and files), checks that
 *                          they are process 0's, and once all of them have
 *                          succeeded process 0 alone prepares --out;
 *   cli_mpi_train_create   the run on this process's contiguous block of
 *                          training rows (ntk_mpi_split, the split of the
 *                          other distributed commands) of the whole data set
 *                          it holds (ntk_run_create_part), summing over the
 *                          processes through one reduce (dp_sum, one
 *                          MPI_Allreduce): the trainer's loss and gradient at
 *                          every evaluation, the linearized model's gradient
 *                          and loss at every step, and each logged row's
 *                          sums; the first points' quantities (kernel drift,
 *                          theory, Lipschitz estimate) come from process 0
 *                          through the same sum. So every process takes the
 *                          same step and holds the same row;
 *   cli_mpi_train_execute  the library's driver with cli_execute's schedule,
 *                          but with the stop flags agreed among the processes
 *                          and each row written by process 0; then a check
 *                          that every process holds process 0's weights bit
 *                          for bit;
 *   cli_mpi_writes         1 on process 0, which alone writes config.json,
 *                          the data, metrics.csv, the weights and
 *                          summary.json (each atomically, as on one process).
 *
 * The test set is whole on every process (its loss is the same everywhere,
 * so it needs no sum). Stops: a signal reaches cli_interrupted on one
 * process; the run reads only the agreed flag, which each sum carries, so
 * every process stops after the same step and process 0 writes what the
 * ordinary command writes when interrupted. */
#include "mpi_cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the flags that ride on every gradient sum, after its values */
enum { SUM_FAILED = 0, SUM_STOP, SUM_HURRY, SUM_FLAGS };

/* The distributed product of one kernel model (ntk, ntk_inf) of the run:
 * the operator on the whole training set, and the split of the inputs of a
 * cross product over the processes. */
typedef struct {
    ntk_dop *op;
    size_t d;
    int *counts, *displs;       /* MPI_Allgatherv's, one per process */
} kernel_dp;

typedef struct {
    double *buf;                /* one sum: its values, then SUM_FLAGS flags */
    size_t cap;
    volatile int stop, hurry;   /* the agreed stop flags the run reads */
    cli_rows *w;                /* process 0's metrics.csv */
    int active;                 /* inside mpirun ntkit train or run */
    kernel_dp kern[2];          /* the kernel models ntk, ntk_inf (op NULL: off) */
} train_dp;
static train_dp g_dp;

int cli_mpi_writes(void) { return cli_world.rank == 0; }

int cli_mpi_dp_active(void) { return g_dp.active; }

static int flag_at(const cli_args *a, const char *name)
{
    for (size_t k = 0; k < a->nflags; k++)
        if (strcmp(a->flags[k].name, name) == 0) return (int)k;
    return -1;
}

/* A 64-bit digest of bytes (multiply and shift over 8-byte words): equal
 * data give equal digests; a difference anywhere changes it but for a
 * chance of 2^-64. */
static uint64_t digest(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < bytes; i += 8) {
        uint64_t v = 0;
        memcpy(&v, c + i, bytes - i < 8 ? bytes - i : 8);
        h = (h ^ v) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

/* Collective: 0 when this process made process 0's data set and θ0; else
 * one error line (the caller agrees). */
static int same_setup(const cli_setup *s)
{
    const ntk_dataset *ds = &s->ds;
    size_t k = ds->k ? ds->k : 1, P = ntk_net_nparams(&s->cfg);
    size_t sizes[6] = {ds->n, ds->n_test, ds->d, k, s->cfg.m, P};
    uint64_t h = digest(0x243F6A8885A308D3ull, sizes, sizeof sizes);
    h = digest(h, ds->X_train, ds->n * ds->d * sizeof(double));
    h = digest(h, ds->y_train, ds->n * k * sizeof(double));
    if (ds->n_test) {
        h = digest(h, ds->X_test, ds->n_test * ds->d * sizeof(double));
        h = digest(h, ds->y_test, ds->n_test * k * sizeof(double));
    }
    h = digest(h, ntk_net_theta0(s->net), P * sizeof(double));
    uint64_t root = h;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, cli_world.comm);
    if (root == h) return 0;
    return cli_fail("this process made other training data or initial weights than process 0 "
                    "(a --data, --test, --W0 or --v0 file that differs between machines?); every "
                    "process must read the same files");
}

int cli_mpi_train_setup(const cli_args *a, cli_setup *s)
{
    cli_mpi *w = &cli_world;
    int root = w->rank == 0, force = cli_has(a, "force");
    const char *out = cli_str(a, "out", NULL);
    memset(s, 0, sizeof *s);
    /* process 0 looks at --out first (only looks), so that a directory in
     * the way fails before any data are made */
    if (cli_mpi_agree(root && out ? cli_check_outdir(out, force) : 0)) return 1;
    /* cli_setup_from_args also prepares the directory it is given: each
     * process gives it a private empty one instead (removed right after),
     * so that --out is prepared by process 0 alone and only once every
     * process has set up; no process writes elsewhere */
    cli_args b = *a;
    char scratch[4096] = "";
    int rc = 0, fo = flag_at(a, "out"), ff = flag_at(a, "force");
    if (out && fo >= 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/ntkit-dp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            rc = cli_fail("cannot make a scratch directory %s: %s; set TMPDIR to a writable "
                          "directory", scratch, strerror(errno));
            scratch[0] = '\0';
        }
        b.values[fo] = scratch;
        if (ff >= 0) b.present[ff] = 0;
    }
    if (!rc) rc = cli_setup_from_args(&b, s);   /* frees s when it fails */
    if (scratch[0]) rmdir(scratch);
    if (!rc) s->out_dir = out;
    if (!rc && ntk_mpi_fault("load")) {
        cli_setup_free(s);
        rc = cli_fail("--data %s: this process could not make its data set (fault injected by "
                      "NTKIT_MPI_FAULT)", cli_str(a, "data", "gaussian"));
    }
    if (cli_mpi_agree(rc)) {
        if (!rc) cli_setup_free(s);
        return 1;
    }
    /* OpenBLAS threads: the node's cores shared among its processes unless
     * --threads or OPENBLAS_NUM_THREADS says otherwise (collective) */
    rc = cli_mpi_threads(a);
    int other = same_setup(s);
    if (cli_mpi_agree(rc || other)) {
        cli_setup_free(s);
        return 1;
    }
    /* the same on every process: process 0 prints it */
    if (s->ds.n < (size_t)w->size) {
        rc = cli_fail("%zu training rows cannot be split over %d processes: each process trains on "
                      "a block of at least one row; run with -np %zu or fewer, or give more rows "
                      "(--n)", s->ds.n, w->size, s->ds.n);
        cli_setup_free(s);
        return rc;
    }
    if (cli_mpi_agree(root ? cli_prepare_outdir(out, force) : 0)) {
        cli_setup_free(s);
        return 1;
    }
    return 0;
}

/* An ntk_reduce_fn: v (count numbers) summed over the processes in one
 * MPI_Allreduce that also carries this process's failure and stop flags,
 * so that every process leaves the sum with the same values, the same
 * status and the same stop flags. */
static ntk_status dp_sum(void *ctx, double *v, size_t count)
{
    train_dp *d = ctx;
    /* every process has the same count and capacity: the same answer */
    if (count + SUM_FLAGS > d->cap)
        return ntk_set_error(NTK_ERR_ARG, "a sum of %zu numbers is larger than the %zu planned",
                             count, d->cap - SUM_FLAGS);
    int fault = ntk_mpi_fault("apply");
    if (ntk_mpi_fault("stop")) cli_interrupted = 1;   /* as if a signal came here alone */
    memcpy(d->buf, v, count * sizeof *v);
    d->buf[count + SUM_FAILED] = fault;
    d->buf[count + SUM_STOP] = cli_interrupted;
    d->buf[count + SUM_HURRY] = cli_hurry;
    MPI_Allreduce(MPI_IN_PLACE, d->buf, (int)(count + SUM_FLAGS), MPI_DOUBLE, MPI_SUM,
                  cli_world.comm);
    if (d->buf[count + SUM_FAILED] > 0) {
        ntk_status st = fault ? ntk_set_error(NTK_ERR_IO, "the sum of the gradients failed here "
                                              "(fault injected by NTKIT_MPI_FAULT)")
                              : NTK_OK;
        return ntk_mpi_agree(cli_world.comm, st);
    }
    memcpy(v, d->buf, count * sizeof *v);
    if (d->buf[count + SUM_STOP] > 0) d->stop = 1;
    if (d->buf[count + SUM_HURRY] > 0) d->hurry = 1;
    return NTK_OK;
}

/* ntk_kernel_ops.apply: this process's rows of K·U (ntk_dop_apply, collective) */
static ntk_status kernel_apply(void *ctx, const double *U_loc, size_t k, double *V_loc)
{
    kernel_dp *kd = ctx;
    return ntk_dop_apply(kd->op, U_loc, k, V_loc);
}

/* ntk_kernel_ops.cross: F (n, k) = K(X, X_train)·U on inputs X every
 * process holds whole: each process computes its block of rows of X
 * (cli_mpi_split) by ntk_dop_cross, then every process gathers all of
 * them, so that each holds the same F bit for bit. */
static ntk_status kernel_cross(void *ctx, const double *X, size_t n, const double *U_loc,
                               size_t k, double *F)
{
    kernel_dp *kd = ctx;
    size_t t0, tloc;
    cli_mpi_split(n, &t0, &tloc);
    int bad = n * k > (size_t)INT_MAX;
    ntk_status st = ntk_mpi_agree(cli_world.comm,
                                  bad ? ntk_set_error(NTK_ERR_ARG, "%zu x %zu predictions are more "
                                                      "than one MPI message holds", n, k)
                                      : NTK_OK);
    if (st == NTK_OK) st = ntk_dop_cross(kd->op, X + t0 * kd->d, tloc, U_loc, k, F + t0 * k);
    if (st != NTK_OK) return st;
    for (int q = 0; q < cli_world.size; q++) {
        size_t a, b;
        ntk_mpi_split(n, q, cli_world.size, &a, &b);
        kd->counts[q] = (int)(b * k);
        kd->displs[q] = (int)(a * k);
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, F, kd->counts, kd->displs, MPI_DOUBLE,
                   cli_world.comm);
    return NTK_OK;
}

/* The kernel models of the run: each its distributed operator on the whole
 * training set (every process holds it), the run's own kernel
 * (ntk_run_kernel_desc: η-weighted, at θ0 or infinite width), given to the
 * run as its product. Collective. */
static int kernel_models(const cli_setup *s, const ntk_run_config *rc, ntk_run *r)
{
    for (int inf = 0; inf <= 1; inf++) {
        if (!(rc->models & (inf ? NTK_MODEL_NTK_INF : NTK_MODEL_NTK))) continue;
        kernel_dp *kd = &g_dp.kern[inf];
        ntk_kernel_desc desc;
        int code = ntk_run_kernel_desc(r, inf, &desc) != NTK_OK ? cli_fail_lib(NULL) : 0;
        kd->d = s->ds.d;
        kd->counts = malloc(2 * (size_t)cli_world.size * sizeof(int));
        kd->displs = kd->counts ? kd->counts + cli_world.size : NULL;
        if (!code && !kd->counts) code = cli_fail("out of memory for the kernel model's exchange");
        if (cli_mpi_agree(code)) return 1;
        desc.mem_limit = 0;   /* the operator's own limit bounds its tiles */
        if (ntk_dop_create(cli_world.comm, &desc, s->ds.X_train, s->ds.n, rc->mem_limit,
                           &kd->op) != NTK_OK)
            return cli_fail_lib("the kernel operator");
        ntk_kernel_ops ops = {kernel_apply, kernel_cross, kd};
        if (cli_mpi_agree(ntk_run_set_kernel_ops(r, 3 + inf, &ops) != NTK_OK ? cli_fail_lib(NULL) : 0))
            return 1;
    }
    return 0;
}

/* The sums of a run: the gradient and loss of the linearized model (P + 1)
 * are the largest, a logged row's or the theory's fewer than 64 numbers */
#define SUM_SMALL 64

int cli_mpi_train_create(const cli_setup *s, const ntk_run_config *rc, ntk_run **r)
{
    cli_mpi *w = &cli_world;
    train_dp *d = &g_dp;
    const ntk_dataset *ds = &s->ds;
    size_t n = ds->n, r0, nloc;
    ntk_mpi_split(n, w->rank, w->size, &r0, &nloc);
    /* the whole data set (every process holds it); this process's rows
     * [r0, r0 + nloc) */
    ntk_run_data data = {ds->X_train, ds->y_train, n, ds->X_test, ds->y_test, ds->n_test};
    int deep = ntk_net_is_deep(&s->cfg);
    *r = NULL;
    int code = 0;
    if (ntk_run_create_part(rc, &data, r0, nloc, deep ? ntk_net_theta0(s->net) : ntk_net_W0(s->net),
                            deep ? NULL : ntk_net_v0(s->net), r) != NTK_OK)
        code = cli_fail_lib(NULL);
    size_t P = ntk_net_nparams(&s->cfg);
    if (!code && P + 1 > (size_t)INT_MAX - SUM_FLAGS) {
        code = cli_fail("the network has %zu parameters, more than one MPI message of doubles "
                        "holds; use smaller widths", P);
    } else if (!code) {
        d->cap = (P + 1 > SUM_SMALL ? P + 1 : SUM_SMALL) + SUM_FLAGS;
        d->buf = malloc(d->cap * sizeof(double));
        if (!d->buf) code = cli_fail("out of memory for the sums of %zu gradients", P);
        ntk_run_set_cancel(*r, &d->stop);
    }
    if (cli_mpi_agree(code)) return 1;
    if (ntk_mpi_run_set_reduce(w->comm, *r, dp_sum, d, n) != NTK_OK) return cli_fail_lib(NULL);
    return kernel_models(s, rc, *r);
}

/* The row callback: every process holds the same row (the library summed
 * it); process 0 writes it and shares its success, so that every process
 * goes on or stops together. */
static int dp_row(void *ctx, const ntk_run *r, const double *row)
{
    train_dp *d = ctx;
    int failed = cli_world.rank == 0 ? cli_rows_write(d->w, r, row) : 0;
    MPI_Bcast(&failed, 1, MPI_INT, 0, cli_world.comm);
    return failed;
}

/* Collective: NTK_OK when every process holds process 0's weights bit for
 * bit, as it must when every process applied the same summed gradient
 * (MPI_Allreduce gives each the same sum); else the lowest differing
 * process's message. */
static ntk_status same_weights(const ntk_run *r)
{
    const ntk_net *net = ntk_run_net(r);
    size_t P = ntk_net_nparams(ntk_net_cfg(net));
    const double *th = ntk_net_theta(net);
    double *root = g_dp.buf, worst = 0.0;
    if (cli_world.rank == 0) memcpy(root, th, P * sizeof *th);
    MPI_Bcast(root, (int)P, MPI_DOUBLE, 0, cli_world.comm);
    int differs = 0, moved = ntk_mpi_fault("perturb");
    for (size_t k = 0; k < P; k++) {
        /* the test's fault: this process's first weight seen one rounding away */
        double v = moved && k == 0 ? nextafter(th[k], INFINITY) : th[k];
        if (memcmp(&v, &root[k], sizeof v) != 0) {
            differs = 1;
            worst = fmax(worst, fabs(v - root[k]));
        }
    }
    ntk_status st = NTK_OK;
    if (differs)
        st = ntk_set_error(NTK_ERR_IO, "after training its weights differ from process 0's (by up "
                           "to %.3g): the processes' gradient sums were not the same bit for bit, "
                           "so the run is not written", worst);
    return ntk_mpi_agree(cli_world.comm, st);
}

ntk_status cli_mpi_run_execute(ntk_run *r, const cli_setup *s, int theory, cli_rows *w,
                               ntk_run_report *rep)
{
    train_dp *d = &g_dp;
    d->w = w;
    /* cli_execute's schedule (cli/runloop.c), with the agreed stop flags and
     * the row callback of process 0 */
    ntk_schedule sch = ntk_schedule_default(s->t_final, s->t_every);
    sch.theory = theory;
    sch.cancel = &d->stop;
    sch.hurry = &d->hurry;
    sch.on_row = dp_row;
    sch.ctx = d;
    ntk_status st = ntk_run_execute(r, &sch, rep);
    if (rep->status == NTK_RUN_INTERRUPTED && !s->quiet && cli_isatty_stderr()) fputc('\n', stderr);
    char why[1024];
    snprintf(why, sizeof why, "%s", ntk_errmsg());
    if (same_weights(r) != NTK_OK) {
        rep->status = NTK_RUN_FAILED;
        return NTK_ERR_IO;
    }
    if (st != NTK_OK) ntk_set_error(st, "%s", why);
    return st;
}

ntk_status cli_mpi_train_execute(ntk_run *r, const cli_setup *s, cli_rows *w, ntk_run_report *rep)
{
    return cli_mpi_run_execute(r, s, 0, w, rep);
}

/* one of the data-parallel commands on every process, its status agreed */
static int dp_command(int (*cmd)(int, char **), int argc, char **argv)
{
    g_dp.active = 1;
    int rc = cli_mpi_agree(cmd(argc, argv));
    for (int inf = 0; inf <= 1; inf++) {
        ntk_dop_free(g_dp.kern[inf].op);
        free(g_dp.kern[inf].counts);
    }
    free(g_dp.buf);
    memset(&g_dp, 0, sizeof g_dp);
    return rc;
}

int cmd_mpi_train(int argc, char **argv) { return dp_command(cmd_train, argc, argv); }
int cmd_mpi_run(int argc, char **argv) { return dp_command(cmd_run, argc, argv); }
