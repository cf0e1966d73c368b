/* mpirun -np P ntkit kgd --kind KIND --x X.npy --y y.npy [options]: kernel
 * gradient flow (--times) or descent (--steps) from u(0) = 0 on the
 * distributed matrix-free operator (docs/theory.md §6). Flow:
 *   u(t) = (I − e^{−τK}) Y = K·G(t),  f_test(t) = K(Xt, X)·G(t),
 *   G(t) = h(K) Y,  h(λ) = (1 − e^{−τλ})/λ,  τ = c·η·t,
 * c = 1/n for the mean loss and 1 for the sum, η = --lr. G(t) comes from
 * SLEPc's MFN (Krylov) with φ1 scaled to τ·φ1(−τ·) (src/mpi/mpi_petsc.c),
 * one solve per output column and time; the predictions are one product
 * and one cross product. Process 0 writes pred_train_I.npy,
 * pred_test_I.npy (time I) and results.json together. The ordinary build
 * has no kgd command: its kernel models run inside `ntkit run`. */
#include "mpi_cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "training inputs (n, d) (required)"},
    {"y", 1, "y.npy", "training targets (n) or (n, k) (required)"},
    {"x-test", 1, "Xt.npy", "test inputs (nt, d)"},
    {"y-test", 1, "yt.npy", "test targets (nt) or (nt, k) (with --x-test)"},
    {"times", 1, "LIST", "flow times t, comma-separated, ascending (default 1,10,100)"},
    {"steps", 1, "LIST", "instead of --times: gradient descent, predictions after these whole numbers of steps (ascending), one distributed product a step"},
    {"lr", 1, "ETA", "learning rate eta multiplying K (default 1)"},
    {"loss", 1, "FORM", "mean (c = 1/n) | sum (c = 1) (default mean)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds"},
    {"mem-limit", 1, "BYTES", "scratch per process for the operator's tiles"},
    {"mfn-tol", 1, "TOL", "tolerance of SLEPc's MFN for each h(K) y (default 1e-10)"},
    {"max-it", 1, "N", "MFN iterations allowed (default 1000)"},
    {"threads", 1, "T", "OpenBLAS threads per process (default: the node's cores / its processes)"},
    {"json", 0, NULL, "print a JSON list of {t, train_mse[, test_mse]}"},
    {"out", 1, "DIR", "write pred_train_I.npy[, pred_test_I.npy] (time I) and results.json into DIR"},
    {"force", 0, NULL, "write into a non-empty --out, replacing the files ntkit wrote there"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static int time_list(const char *list, double **t, size_t *nt)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    *nt = 0;
    *t = malloc(cap * sizeof **t);
    if (!*t) return cli_fail("out of memory reading --times");
    const char *p = list;
    for (size_t k = 0; k < cap; k++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0) || !isfinite(v) || (*end && *end != ',') ||
            (k && v < (*t)[k - 1]))
            return cli_fail("--times expects non-negative ascending numbers separated by commas "
                            "(e.g. 1,10,100), got '%s'", list);
        (*t)[(*nt)++] = v;
        p = end + (*end == ',');
    }
    return 0;
}

/* --steps: whole numbers of steps, ascending, at most 10^9 */
static int step_list(const char *list, double **t, size_t *nt)
{
    if (time_list(list, t, nt)) return 1;
    for (size_t i = 0; i < *nt; i++)
        if ((*t)[i] != floor((*t)[i]) || (*t)[i] > 1e9)
            return cli_fail("--steps expects whole numbers of steps up to 10^9, ascending and "
                            "separated by commas (e.g. 1,10,100), got '%s'", list);
    return 0;
}

typedef struct {
    ntk_array X, y, Xt, yt;
    size_t n, nt, k, r0, nloc, t0, tloc;
    int local;       /* X and Xt hold this process's rows (else X all) */
    cli_kernel_held held;
    ntk_dop *op;
    double *r, *g, *G, *f, *ft, *f_all, *ft_all;
    double *R, *V;   /* --steps: the residuals Y − u and K·R (nloc, k) */
} flow_problem;

static void problem_free(flow_problem *p)
{
    ntk_dop_free(p->op);
    cli_kernel_held_free(&p->held);
    free(p->r), free(p->g), free(p->G), free(p->f), free(p->ft), free(p->f_all), free(p->ft_all);
    free(p->R), free(p->V);
    ntk_array_free(&p->X), ntk_array_free(&p->y), ntk_array_free(&p->Xt), ntk_array_free(&p->yt);
}

/* --x or --x-test of flag: this process's rows (local) or all of them. */
static int read_x(const char *flag, const char *path, int local, ntk_array *A, size_t *n)
{
    if (ntk_mpi_read_x(cli_world.comm, path, local, A, n) != NTK_OK)
        return cli_fail("%s: %s", flag, ntk_errmsg());
    return 0;
}

/* Each process reads its own rows of --x (all of them for the lin kinds
 * and, see setup, the two-layer ntk kinds) and of --x-test; the targets
 * whole. */
static int load(const cli_args *a, const cli_kernel_opts *o, flow_problem *p)
{
    const char *yp = cli_str(a, "y", NULL), *xtp = cli_str(a, "x-test", NULL),
               *ytp = cli_str(a, "y-test", NULL);
    if (!yp) return cli_fail("kgd needs --y, the training targets");
    if (!xtp != !ytp) return cli_fail("--x-test and --y-test go together");
    p->local = o->kind->src != NTK_KERNEL_LIN;
    if (read_x("--x", o->x_path, p->local, &p->X, &p->n)) return 1;
    if (ntk_npy_read(yp, &p->y) != NTK_OK) return cli_fail("--y: %s", ntk_errmsg());
    if (p->y.rows != p->n)
        return cli_fail("--y %s has %zu rows but the inputs have %zu", yp, p->y.rows, p->n);
    p->k = p->y.cols;
    if (xtp) {
        if (read_x("--x-test", xtp, 1, &p->Xt, &p->nt)) return 1;
        if (p->Xt.cols != p->X.cols)
            return cli_fail("--x has d = %zu but --x-test has d = %zu", p->X.cols, p->Xt.cols);
        if (ntk_npy_read(ytp, &p->yt) != NTK_OK) return cli_fail("--y-test: %s", ntk_errmsg());
        if (p->yt.rows != p->nt || p->yt.cols != p->k)
            return cli_fail("--y-test %s has shape (%zu, %zu) but (%zu, %zu) is needed", ytp,
                            p->yt.rows, p->yt.cols, p->nt, p->k);
    }
    if (ntk_mpi_fault("load"))
        return cli_fail("--x %s: this process could not read its inputs (fault injected by "
                        "NTKIT_MPI_FAULT)", o->x_path);
    return 0;
}

static int setup(const cli_args *a, const cli_kernel_opts *o, flow_problem *p)
{
    if (cli_mpi_agree(load(a, o, p))) return 1;
    if (cli_mpi_agree(cli_kernel_desc(o, a, &p->X, 0, &p->held, NULL))) return 1;
    size_t n = p->n, k = p->k;
    ntk_mpi_split(n, cli_world.rank, cli_world.size, &p->r0, &p->nloc);
    cli_mpi_split(p->nt, &p->t0, &p->tloc);
    size_t nl = p->nloc ? p->nloc : 1, tl = p->tloc ? p->tloc : 1;
    p->r = malloc(nl * sizeof(double));
    p->g = malloc(nl * sizeof(double));
    p->G = calloc(nl * k, sizeof(double));   /* u(0) = 0: G = 0, f = 0 (--steps starts there) */
    p->f = calloc(nl * k, sizeof(double));
    p->ft = malloc(tl * k * sizeof(double));
    p->R = malloc(nl * k * sizeof(double));
    p->V = malloc(nl * k * sizeof(double));
    if (cli_world.rank == 0) {
        p->f_all = malloc(ntk_size_mul(n, k, 1, sizeof(double)));
        p->ft_all = malloc(ntk_size_mul(p->nt ? p->nt : 1, k, 1, sizeof(double)));
    }
    int rc = !p->r || !p->g || !p->G || !p->f || !p->ft || !p->R || !p->V ||
                     (cli_world.rank == 0 && (!p->f_all || !p->ft_all))
                 ? cli_fail("out of memory for %zu x %zu predictions", n, k)
                 : 0;
    if (cli_mpi_agree(rc)) return 1;
    ntk_status st = p->local ? ntk_dop_create_local(cli_world.comm, &p->held.desc, p->X.data, n,
                                                    o->mem_limit, &p->op)
                             : ntk_dop_create(cli_world.comm, &p->held.desc, p->X.data, n,
                                              o->mem_limit, &p->op);
    return cli_mpi_agree(st != NTK_OK ? cli_fail_lib("kernel operator") : 0);
}

static int gather(flow_problem *p);

/* G = h(K) Y column by column, then the predictions, gathered */
static int predict(flow_problem *p, double tau, double tol, size_t maxit, size_t *its)
{
    size_t k = p->k;
    *its = 0;
    for (size_t c = 0; c < k; c++) {
        for (size_t i = 0; i < p->nloc; i++) p->r[i] = p->y.data[(p->r0 + i) * k + c];
        size_t it;
        ntk_status st = ntk_dflow(p->op, p->r, tau, tol, maxit, p->g, &it);
        if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("--times") : 0)) return 1;
        for (size_t i = 0; i < p->nloc; i++) p->G[i * k + c] = p->g[i];
        if (it > *its) *its = it;
    }
    ntk_status st = ntk_dop_apply(p->op, p->G, k, p->f);
    if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("predictions") : 0)) return 1;
    return gather(p);
}

/* The test predictions K(Xt, X)·G (when there is a test set) and both
 * prediction sets gathered on process 0. */
static int gather(flow_problem *p)
{
    ntk_status st = NTK_OK;
    if (p->nt) st = ntk_dop_cross(p->op, p->Xt.data, p->tloc, p->G, p->k, p->ft);
    if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("predictions") : 0)) return 1;
    cli_mpi_gather_rows(p->f, p->nloc, p->n, p->k, p->f_all);
    if (p->nt) cli_mpi_gather_rows(p->ft, p->tloc, p->nt, p->k, p->ft_all);
    return 0;
}

/* Gradient descent from step `from` to step `to`, from u(0) = 0 (u held in
 * f, K·R in V):
 *   R = Y − u,  G += cη R,  u += cη K R,
 * so that u = K G and f_test = K(Xt, X) G at every step; one distributed
 * product a step (docs/theory.md §6: u(t) = (I − (I − cηK)^t) Y). */
static int descend(flow_problem *p, double c_eta, size_t from, size_t to)
{
    const size_t k = p->k, nk = p->nloc * k;
    const double *Y = p->y.data + p->r0 * k;
    for (size_t t = from; t < to; t++) {
        for (size_t i = 0; i < nk; i++) p->R[i] = Y[i] - p->f[i];
        cblas_daxpy((int)nk, c_eta, p->R, 1, p->G, 1);
        ntk_status st = ntk_dop_apply(p->op, p->R, k, p->V);
        if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("a gradient step") : 0)) return 1;
        cblas_daxpy((int)nk, c_eta, p->V, 1, p->f, 1);
        int bad = ntk_check_finite(p->f, nk, "predictions") != NTK_OK;
        if (cli_mpi_agree(bad ? cli_fail("kernel gradient descent diverged at step %zu: the "
                                         "predictions are not finite; use a smaller --lr (stable "
                                         "below 2/(c lambda_max))", t + 1) : 0))
            return 1;
    }
    return 0;
}

static int stage(ntk_outset *set, const char *dir, const flow_problem *p, size_t i)
{
    char name[64], path[4096];
    int nd = p->y.ndim;
    snprintf(name, sizeof name, "pred_train_%zu.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->f_all, p->n, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    if (!p->nt) return 0;
    snprintf(name, sizeof name, "pred_test_%zu.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->ft_all, p->nt, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    return 0;
}

/* steps: the times are whole numbers of gradient steps (--steps), reached
 * one after the other by descend; else flow times, each solved by MFN. */
static int run_times(const cli_args *a, flow_problem *p, const double *times, size_t ntimes,
                     double c_eta, double tol, size_t maxit, int steps)
{
    const char *out = cli_str(a, "out", NULL);
    int json = cli_has(a, "json"), rc = 0, root = cli_world.rank == 0;
    ntk_outset *set = NULL;
    if (root && out) {
        rc = cli_prepare_outdir(out, cli_has(a, "force"));
        if (!rc && ntk_outset_create(&set) != NTK_OK) rc = cli_fail_lib(NULL);
    }
    if (cli_mpi_agree(rc)) {
        ntk_outset_free(set);
        return 1;
    }
    cJSON *res = root ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; i < ntimes && !rc; i++) {
        size_t its = 0;
        double t0 = MPI_Wtime();
        if (steps) {
            rc = descend(p, c_eta, i ? (size_t)times[i - 1] : 0, (size_t)times[i]);
            if (!rc) rc = gather(p);
            its = (size_t)times[i] - (i ? (size_t)times[i - 1] : 0);
        } else {
            rc = predict(p, c_eta * times[i], tol, maxit, &its);
        }
        double secs = MPI_Wtime() - t0;
        if (rc) break;
        rc = cli_mpi_agree(root && set ? stage(set, out, p, i) : 0);
        if (rc || !root) continue;
        double tr = cli_mse(p->f_all, p->y.data, p->n, p->k);
        double te = p->nt ? cli_mse(p->ft_all, p->yt.data, p->nt, p->k) : NAN;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, steps ? "step" : "t", times[i]);
        cJSON_AddNumberToObject(e, "train_mse", tr);
        if (p->nt) cJSON_AddNumberToObject(e, "test_mse", te);
        cJSON_AddNumberToObject(e, steps ? "products" : "mfn_iterations", (double)its);
        cJSON_AddNumberToObject(e, "processes", cli_world.size);
        cJSON_AddNumberToObject(e, "seconds", secs);
        cJSON_AddItemToArray(res, e);
        if (!json) {
            printf("%s %-10.4g train mse %-12.6g", steps ? "step" : "t", times[i], tr);
            if (p->nt) printf(" test mse %-12.6g", te);
            printf(" (%s: %zu %s, %.3g s on %d process%s)\n", steps ? "descent" : "mfn", its,
                   steps ? "products" : "iterations", secs, cli_world.size,
                   cli_world.size > 1 ? "es" : "");
        }
    }
    return cli_mpi_finish(rc, root, set, out, res, json);
}

int cmd_mpi_kgd(int argc, char **argv)
{
    cli_args a;
    if (cli_mpi_agree(cli_parse(&a, flags, NFLAGS, argc, argv))) return 2;
    if (a.help) {
        if (cli_world.rank == 0)
            cli_usage("kgd", "--kind KIND --x X.npy --y y.npy [--x-test Xt.npy --y-test yt.npy] [options]",
                      "Kernel gradient flow from u(0) = 0: u(t) = (I - exp(-c eta t K)) y on the training\n"
                      "points and K(Xt, X) K^-1 (I - exp(-c eta t K)) y on the test points, at each\n"
                      "--times value, by SLEPc's MFN on the matrix-free kernel operator distributed\n"
                      "over the processes (mpirun -np P). c = 1/n (--loss mean) or 1 (--loss sum).\n"
                      "--steps instead: gradient descent, u(t) = (I - (I - c eta K)^t) y after t steps,\n"
                      "one distributed product K.r a step.",
                      flags, NFLAGS);
        return 0;
    }
    cli_kernel_opts o;
    double *times = NULL, lr = 1.0, tol = 1e-10;
    size_t ntimes = 0, maxit = 1000;
    int steps = cli_has(&a, "steps");
    int rc = a.npositional ? cli_fail("unexpected argument '%s'", a.positional[0]) : 0;
    if (!rc && steps && cli_has(&a, "times"))
        rc = cli_fail("--times (gradient flow) and --steps (gradient descent) exclude each other; "
                      "give one");
    if (!rc && steps) rc = step_list(cli_str(&a, "steps", ""), &times, &ntimes);
    if (!rc) rc = cli_kernel_options(&a, &o, 0) || cli_mpi_threads(&a) ||
                  (!steps && time_list(cli_str(&a, "times", "1,10,100"), &times, &ntimes)) ||
                  cli_double(&a, "lr", 1.0, 0.0, &lr) || cli_double(&a, "mfn-tol", 1e-10, 0.0, &tol) ||
                  cli_size(&a, "max-it", 1000, 1, &maxit);
    ntk_loss_kind loss = NTK_LOSS_MEAN;
    if (!rc && ntk_loss_parse(cli_str(&a, "loss", "mean"), &loss) != NTK_OK) rc = cli_fail_lib("--loss");
    if (!rc && !(tol > 0.0 && tol < 1.0)) rc = cli_fail("--mfn-tol %g must be in (0, 1), e.g. 1e-10", tol);
    if (cli_mpi_agree(rc)) {
        free(times);
        return 1;
    }
    flow_problem p;
    memset(&p, 0, sizeof p);
    rc = setup(&a, &o, &p);
    if (!rc) {
        double c = ntk_loss_scale(loss, p.n);
        rc = run_times(&a, &p, times, ntimes, c * lr, tol, maxit, steps);
    }
    problem_free(&p);
    free(times);
    return rc ? 1 : 0;
}
