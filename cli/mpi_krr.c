/* mpirun -np P ntkit krr ...: kernel ridge regression on P processes
 * (docs/scaling.md §3, §6). The flags are those of `ntkit krr`; the
 * solver is always conjugate gradients (PETSc's KSPCG) on the distributed
 * matrix-free kernel operator (src/mpi/mpi_op.c), the training points split
 * by rows, with the Nyström preconditioner of a distributed randomly
 * pivoted Cholesky factor (--pc nystrom, the default, rank --precond-rank)
 * or Jacobi (--pc jacobi). Test predictions go through the cross operator,
 * the test points split by rows. Process 0 gathers the predictions and
 * writes every file, all together or none (the library's output sets). */
#include "mpi_cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "training inputs (n, d) (required)"},
    {"y", 1, "y.npy", "training targets (n) or (n, k) for k outputs (required)"},
    {"x-test", 1, "Xt.npy", "test inputs (nt, d) (required)"},
    {"y-test", 1, "yt.npy", "test targets (nt) or (nt, k) (required)"},
    {"ridge", 1, "LIST", "ridge values lambda, comma-separated (default 1e-6)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds"},
    {"mem-limit", 1, "BYTES", "scratch per process for the operator's tiles (default: half of the "
                              "available memory shared by the processes of a node)"},
    {"solver", 1, "S", "auto | cg (distributed: always conjugate gradients; cholesky is refused)"},
    {"operator", 1, "MODE", "auto | matrix-free (distributed: always matrix-free)"},
    {"cg-rtol", 1, "R", "stop at true relative residual R for every output (default 1e-8)"},
    {"cg-max-iter", 1, "N", "CG iterations allowed per output and ridge (default 1000)"},
    {"precond-rank", 1, "R", "rank of the Nystrom preconditioner (default min(n, 1000); 0: Jacobi)"},
    {"pc", 1, "PC", "nystrom | jacobi | none (default nystrom; jacobi with --precond-rank 0)"},
    {"threads", 1, "T", "OpenBLAS threads per process (default: the node's cores / its processes)"},
    {"json", 0, NULL, "print a JSON list of {ridge, train_mse, test_mse[, accuracy]}"},
    {"out", 1, "DIR", "write pred_train_I.npy, pred_test_I.npy (ridge I) and results.json into DIR"},
    {"force", 0, NULL, "write into a non-empty --out, replacing the files ntkit wrote there"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

typedef struct {
    ntk_array X, y, Xt, yt;
    size_t n, nt, k, r0, nloc, t0, tloc;
    int local;                        /* X and Xt hold this process's rows (else X all) */
    cli_kernel_held held;
    ntk_dop *op;
    ntk_dnystrom *nys;
    ntk_dcg_config cg;
    double *coef, *f, *ft;            /* local (nloc, k), (nloc, k), (tloc, k) */
    double *f_all, *ft_all;           /* process 0: (n, k), (nt, k) */
} problem;

/* --x or --x-test of flag: this process's rows (local) or all of them. */
static int read_x(const char *flag, const char *path, int local, ntk_array *A, size_t *n)
{
    if (ntk_mpi_read_x(cli_world.comm, path, local, A, n) != NTK_OK)
        return cli_fail("%s: %s", flag, ntk_errmsg());
    return 0;
}

/* Collective: on process 0, the bytes of X each process holds and has
 * received, and whether it keeps its tiles (NULL elsewhere). */
static cJSON *x_report(const ntk_dop *op)
{
    int P = cli_world.size, root = cli_world.rank == 0;
    double *all = root ? malloc(3 * (size_t)P * sizeof(double)) : NULL;
    double dummy[3];
    ntk_dop_x_gather(op, all ? all : dummy);
    if (!root || !all) {
        free(all);
        return NULL;
    }
    cJSON *r = cJSON_CreateObject(), *held = cJSON_AddArrayToObject(r, "x_bytes"),
          *recv = cJSON_AddArrayToObject(r, "x_received_bytes"), *kept = cJSON_AddArrayToObject(r, "tiles_kept");
    for (int q = 0; q < P; q++) {
        cJSON_AddItemToArray(held, cJSON_CreateNumber(all[3 * q]));
        cJSON_AddItemToArray(recv, cJSON_CreateNumber(all[3 * q + 1]));
        cJSON_AddItemToArray(kept, cJSON_CreateBool(all[3 * q + 2] != 0));
    }
    free(all);
    return r;
}

static void problem_free(problem *p)
{
    ntk_dnystrom_free(p->nys);
    ntk_dop_free(p->op);
    cli_kernel_held_free(&p->held);
    free(p->coef), free(p->f), free(p->ft), free(p->f_all), free(p->ft_all);
    ntk_array_free(&p->X), ntk_array_free(&p->y), ntk_array_free(&p->Xt), ntk_array_free(&p->yt);
}

/* Inputs, checked against each other: each process reads its own rows of
 * --x (all of them, memory-mapped, for the lin kinds, whose features need
 * every row, and for the two-layer ntk kinds, see setup) and of --x-test;
 * the targets whole. */
static int load(const cli_args *a, const cli_kernel_opts *o, problem *p)
{
    const char *yp = cli_str(a, "y", NULL), *xtp = cli_str(a, "x-test", NULL),
               *ytp = cli_str(a, "y-test", NULL);
    if (!yp || !xtp || !ytp) return cli_fail("krr needs --y, --x-test and --y-test");
    p->local = o->kind->src != NTK_KERNEL_LIN;
    int rc = read_x("--x", o->x_path, p->local, &p->X, &p->n) ||
             cli_load_targets("--y", yp, p->n, 0, &p->y) || read_x("--x-test", xtp, 1, &p->Xt, &p->nt);
    if (!rc) rc = cli_load_targets("--y-test", ytp, p->nt, p->y.cols, &p->yt);
    if (!rc && p->Xt.cols != p->X.cols)
        rc = cli_fail("--x has d = %zu but --x-test has d = %zu", p->X.cols, p->Xt.cols);
    p->k = p->y.cols;
    if (!rc && ntk_mpi_fault("load"))
        rc = cli_fail("--x %s: this process could not read its inputs (fault injected by "
                      "NTKIT_MPI_FAULT)", o->x_path);
    return rc;
}

/* Solver settings: cg only, matrix-free only, the preconditioner. */
static int settings(const cli_args *a, problem *p, size_t *rank)
{
    const char *solver = cli_str(a, "solver", "auto"), *opm = cli_str(a, "operator", "auto");
    if (strcmp(solver, "auto") && strcmp(solver, "cg"))
        return cli_fail("--solver %s: the distributed build solves by conjugate gradients only "
                        "(--solver cg or auto); run the ordinary build for cholesky", solver);
    if (strcmp(opm, "auto") && strcmp(opm, "matrix-free"))
        return cli_fail("--operator %s: the distributed build's operator is matrix-free (--operator "
                        "auto or matrix-free); a stored kernel runs in the ordinary build", opm);
    p->cg.rtol = 1e-8;
    if (cli_double(a, "cg-rtol", 1e-8, 0.0, &p->cg.rtol) ||
        cli_size(a, "cg-max-iter", 1000, 1, &p->cg.max_iter) ||
        cli_size(a, "precond-rank", p->n < 1000 ? p->n : 1000, 0, rank))
        return 1;
    if (!(p->cg.rtol > 0.0 && p->cg.rtol < 1.0))
        return cli_fail("--cg-rtol %g must be in (0, 1), e.g. 1e-8", p->cg.rtol);
    if (*rank > p->n) return cli_fail("--precond-rank %zu exceeds the %zu training points", *rank, p->n);
    const char *pc = cli_str(a, "pc", *rank ? "nystrom" : "jacobi");
    if (!strcmp(pc, "nystrom")) p->cg.pc = NTK_DPC_NYSTROM;
    else if (!strcmp(pc, "jacobi")) p->cg.pc = NTK_DPC_JACOBI;
    else if (!strcmp(pc, "none")) p->cg.pc = NTK_DPC_NONE;
    else return cli_fail("--pc '%s' is not one of nystrom, jacobi, none", pc);
    if (p->cg.pc == NTK_DPC_NYSTROM && *rank == 0)
        return cli_fail("--pc nystrom needs --precond-rank >= 1");
    return 0;
}

static int setup(const cli_args *a, const cli_kernel_opts *o, problem *p)
{
    size_t rank = 0;
    int rc = cli_mpi_agree(load(a, o, p));
    if (!rc) rc = cli_mpi_agree(settings(a, p, &rank));
    if (!rc) rc = cli_mpi_agree(cli_kernel_desc(o, a, &p->X, 0, &p->held, NULL));
    if (rc) return rc;
    size_t n = p->n, k = p->k;
    ntk_mpi_split(n, cli_world.rank, cli_world.size, &p->r0, &p->nloc);
    cli_mpi_split(p->nt, &p->t0, &p->tloc);
    p->coef = malloc((p->nloc ? p->nloc : 1) * k * sizeof(double));
    p->f = malloc((p->nloc ? p->nloc : 1) * k * sizeof(double));
    p->ft = malloc((p->tloc ? p->tloc : 1) * k * sizeof(double));
    if (cli_world.rank == 0) {
        p->f_all = malloc(ntk_size_mul(n, k, 1, sizeof(double)));
        p->ft_all = malloc(ntk_size_mul(p->nt, k, 1, sizeof(double)));
    }
    rc = !p->coef || !p->f || !p->ft || (cli_world.rank == 0 && (!p->f_all || !p->ft_all))
             ? cli_fail("out of memory for %zu x %zu predictions", n, k)
             : 0;
    if (cli_mpi_agree(rc)) return 1;
    ntk_status st = p->local ? ntk_dop_create_local(cli_world.comm, &p->held.desc, p->X.data, n,
                                                    o->mem_limit, &p->op)
                             : ntk_dop_create(cli_world.comm, &p->held.desc, p->X.data, n,
                                              o->mem_limit, &p->op);
    if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("kernel operator") : 0)) return 1;
    if (p->cg.pc == NTK_DPC_NYSTROM) {
        st = ntk_dnystrom_create(p->op, rank, 1, &p->nys);
        if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("preconditioner") : 0)) return 1;
        p->cg.nystrom = p->nys;
    }
    if (cli_world.rank == 0) {
        char pcs[64];
        if (p->nys)
            snprintf(pcs, sizeof pcs, "nystrom of rank %zu", ntk_dnystrom_rank(p->nys));
        else
            snprintf(pcs, sizeof pcs, "%s", ntk_dpc_name(p->cg.pc));
        fprintf(stderr, "ntkit krr: %zu points on %d process%s, distributed matrix-free operator "
                "(%s), preconditioner %s\n", n, cli_world.size, cli_world.size > 1 ? "es" : "",
                ntk_dop_kind_name(ntk_dop_get_kind(p->op)), pcs);
    }
    return 0;
}

/* The products' time of one ridge, max over the processes: CPU seconds of
 * the local work, its wall seconds, the exchanges' wall seconds. */
typedef struct {
    double cpu, local, comm;
} prod_times;

static void times_max(const ntk_dop *op, const prod_times *before, prod_times *out)
{
    double t[3];
    ntk_dop_times(op, &t[0], &t[1], &t[2]);
    t[0] -= before->cpu, t[1] -= before->local, t[2] -= before->comm;
    MPI_Allreduce(MPI_IN_PLACE, t, 3, MPI_DOUBLE, MPI_MAX, cli_world.comm);
    out->cpu = t[0], out->local = t[1], out->comm = t[2];
}

/* coef for one ridge, the predictions on every process's rows, gathered */
static int solve(problem *p, double ridge, ntk_dcg_info *info)
{
    const double *Y_loc = p->y.data + p->r0 * p->k;
    ntk_status st = ntk_dkrr(p->op, Y_loc, p->k, ridge, &p->cg, p->coef, info);
    if (st == NTK_ERR_NOCONV)
        return cli_mpi_agree(cli_fail("ridge %g: %s (--cg-max-iter, --precond-rank, --ridge)", ridge,
                                      ntk_errmsg()));
    if (st != NTK_OK) return cli_mpi_agree(cli_fail_lib("--ridge"));
    st = ntk_dop_apply(p->op, p->coef, p->k, p->f);
    if (st == NTK_OK)
        st = ntk_dop_cross(p->op, p->Xt.data, p->tloc, p->coef, p->k, p->ft);
    if (cli_mpi_agree(st != NTK_OK ? cli_fail_lib("predictions") : 0)) return 1;
    cli_mpi_gather_rows(p->f, p->nloc, p->n, p->k, p->f_all);
    cli_mpi_gather_rows(p->ft, p->tloc, p->nt, p->k, p->ft_all);
    return 0;
}

static int stage(ntk_outset *set, const char *dir, const problem *p, int i)
{
    char name[64], path[4096];
    int nd = p->y.ndim;
    snprintf(name, sizeof name, "pred_train_%d.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->f_all, p->n, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    snprintf(name, sizeof name, "pred_test_%d.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->ft_all, p->nt, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    return 0;
}

static int ridges_run(const cli_args *a, const cli_kernel_opts *o, problem *p, const double *ridges,
                      int nr)
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
    for (int i = 0; i < nr && !rc; i++) {
        ntk_dcg_info info;
        prod_times before, pt;
        ntk_dop_times(p->op, &before.cpu, &before.local, &before.comm);
        double t = MPI_Wtime();
        rc = solve(p, ridges[i], &info);
        t = MPI_Wtime() - t;
        if (rc) break;
        times_max(p->op, &before, &pt);
        cJSON *xr = x_report(p->op);
        rc = cli_mpi_agree(root && set ? stage(set, out, p, i) : 0);
        if (rc || !root) {
            cJSON_Delete(xr);
            continue;
        }
        double tr = cli_mse(p->f_all, p->y.data, p->n, p->k), te = cli_mse(p->ft_all, p->yt.data, p->nt, p->k);
        double acc = p->k >= 2 ? cli_accuracy(p->ft_all, p->yt.data, p->nt, p->k) : NAN;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "ridge", ridges[i]);
        cJSON_AddNumberToObject(e, "train_mse", tr);
        cJSON_AddNumberToObject(e, "test_mse", te);
        if (p->k >= 2) cJSON_AddNumberToObject(e, "test_accuracy", acc);
        cJSON_AddStringToObject(e, "solver", "cg");
        cJSON_AddStringToObject(e, "operator", "matrix-free");
        cJSON_AddNumberToObject(e, "processes", cli_world.size);
        cJSON_AddStringToObject(e, "preconditioner", ntk_dpc_name(p->cg.pc));
        cJSON_AddNumberToObject(e, "cg_iterations", (double)info.iterations);
        cJSON_AddNumberToObject(e, "cg_products", (double)info.products);
        cJSON_AddNumberToObject(e, "cg_residual", info.residual);
        cJSON_AddNumberToObject(e, "precond_rank", (double)ntk_dnystrom_rank(p->nys));
        cJSON_AddNumberToObject(e, "seconds", t);
        /* max over the processes; cpu: this process's own CPU time in its
         * local products (a loaded machine's other work not counted) */
        cJSON_AddNumberToObject(e, "product_cpu_seconds", pt.cpu);
        cJSON_AddNumberToObject(e, "product_local_seconds", pt.local);
        cJSON_AddNumberToObject(e, "exchange_seconds", pt.comm);
        cJSON_AddItemToObject(e, "memory", xr);
        cJSON_AddItemToArray(res, e);
        if (!json) {
            printf("kernel %s ridge %-10.4g train mse %-12.6g test mse %.6g", o->kind->name,
                   ridges[i], tr, te);
            if (p->k >= 2) printf(" test accuracy %.4f", acc);
            printf(" (cg: %zu iterations, residual %.2g, %.3g s on %d process%s)\n", info.iterations,
                   info.residual, t, cli_world.size, cli_world.size > 1 ? "es" : "");
        }
    }
    return cli_mpi_finish(rc, root, set, out, res, json);
}

int cmd_mpi_krr(int argc, char **argv)
{
    cli_args a;
    if (cli_mpi_agree(cli_parse(&a, flags, NFLAGS, argc, argv))) return 2;
    if (a.help) {
        if (cli_world.rank == 0)
            cli_usage("krr", "--kind KIND --x X.npy --y y.npy --x-test Xt.npy --y-test yt.npy [options]",
                      "Kernel ridge regression f(x) = K(x, X)(lambda I + K)^-1 Y for each --ridge value,\n"
                      "distributed (mpirun -np P): the training points split by rows over the processes,\n"
                      "a matrix-free kernel operator (the empirical NTK as J(J^T U) with one all-reduce\n"
                      "per product; the infinite-width kernels by tiles), PETSc's conjugate gradients\n"
                      "with a distributed Nystrom (randomly pivoted Cholesky) or Jacobi preconditioner.\n"
                      "Prints the train and test mean squared errors, as the ordinary build's krr.",
                      flags, NFLAGS);
        return 0;
    }
    int rc = a.npositional ? cli_fail("unexpected argument '%s'", a.positional[0]) : 0;
    cli_kernel_opts o;
    if (!rc) rc = cli_kernel_options(&a, &o, 0) || cli_mpi_threads(&a);
    double *ridges = NULL;
    int nr = 0;
    if (!rc) rc = cli_ridge_list(cli_str(&a, "ridge", "1e-6"), &ridges, &nr);
    if (cli_mpi_agree(rc)) {
        free(ridges);
        return 1;
    }
    problem p;
    memset(&p, 0, sizeof p);
    rc = setup(&a, &o, &p);
    if (!rc) rc = ridges_run(&a, &o, &p, ridges, nr);
    problem_free(&p);
    free(ridges);
    return rc ? 1 : 0;
}
