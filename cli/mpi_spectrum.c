/* mpirun -np P ntkit spectrum --kind KIND --x X.npy [options]: the extremes
 * of a kernel's spectrum by SLEPc's Krylov–Schur on the distributed
 * matrix-free operator (src/mpi/mpi_petsc.c), with no n × n array anywhere:
 * the --nev largest and smallest eigenvalues, each to relative residual
 * --tol. `ntkit kernel --stats` gives the same two numbers from the full
 * eigendecomposition of the stored kernel: LAPACK on one process, or
 * ScaLAPACK on the kernel spread over P processes (cli/mpi_kernel.c),
 * which with --spectrum also writes every eigenvalue. */
#include "mpi_cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "inputs (n, d) (required)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds"},
    {"mem-limit", 1, "BYTES", "scratch per process for the operator's tiles"},
    {"nev", 1, "K", "eigenvalues at each end (default 1)"},
    {"which", 1, "END", "both | largest | smallest (default both)"},
    {"tol", 1, "TOL", "relative residual |K x - lambda x| <= TOL |lambda| of each (default 1e-10)"},
    {"max-it", 1, "N", "Krylov-Schur restarts allowed (default 1000)"},
    {"precond-rank", 1, "R", "smallest: rank of the Nystrom preconditioner of the inner CG solves "
                             "(default min(n, 200); 0: none)"},
    {"out", 1, "FILE.csv", "write end,position,eigenvalue,relative_residual"},
    {"json", 0, NULL, "print the eigenvalues as JSON"},
    {"threads", 1, "T", "OpenBLAS threads per process (default: the node's cores / its processes)"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

typedef struct {
    size_t nev;
    double *lo, *hi, *elo, *ehi;   /* smallest first; largest first; their residuals */
    int want_lo, want_hi;
} ends;

static int write_csv(const char *path, const ends *e)
{
    size_t cap = 64 + 96 * 2 * e->nev, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_fail("out of memory formatting %zu eigenvalues", 2 * e->nev);
    len += (size_t)snprintf(buf + len, cap - len, "end,position,eigenvalue,relative_residual\n");
    for (int side = 0; side < 2; side++) {
        if (!(side ? e->want_hi : e->want_lo)) continue;
        for (size_t i = 0; i < e->nev; i++)
            len += (size_t)snprintf(buf + len, cap - len, "%s,%zu,%.17g,%.3g\n",
                                    side ? "largest" : "smallest", i, side ? e->hi[i] : e->lo[i],
                                    side ? e->ehi[i] : e->elo[i]);
    }
    ntk_status st = ntk_write_file_atomic(path, buf, len);
    free(buf);
    return st == NTK_OK ? 0 : cli_fail_lib("--out");
}

/* --x: this process's rows (local) or all of them. */
static int read_x(const char *path, int local, ntk_array *A, size_t *n)
{
    if (ntk_mpi_read_x(cli_world.comm, path, local, A, n) != NTK_OK)
        return cli_fail("--x: %s", ntk_errmsg());
    return 0;
}

/* xall: per process the bytes of X held and received, tiles kept (0/1);
 * NULL when it could not be allocated */
static void report(const cli_kernel_opts *o, size_t n, const ends *e, double secs, size_t prods,
                   int json, const double *xall)
{
    if (json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "kind", o->kind->name);
        cJSON_AddNumberToObject(r, "n", (double)n);
        cJSON_AddNumberToObject(r, "processes", cli_world.size);
        if (e->want_lo) cJSON_AddItemToObject(r, "smallest", cJSON_CreateDoubleArray(e->lo, (int)e->nev));
        if (e->want_hi) cJSON_AddItemToObject(r, "largest", cJSON_CreateDoubleArray(e->hi, (int)e->nev));
        if (e->want_lo) cJSON_AddItemToObject(r, "smallest_residual", cJSON_CreateDoubleArray(e->elo, (int)e->nev));
        if (e->want_hi) cJSON_AddItemToObject(r, "largest_residual", cJSON_CreateDoubleArray(e->ehi, (int)e->nev));
        cJSON_AddNumberToObject(r, "seconds", secs);
        cJSON_AddNumberToObject(r, "products", (double)prods);
        if (xall) {
            cJSON *held = cJSON_AddArrayToObject(r, "x_bytes"),
                  *recv = cJSON_AddArrayToObject(r, "x_received_bytes"),
                  *kept = cJSON_AddArrayToObject(r, "tiles_kept");
            for (int q = 0; q < cli_world.size; q++) {
                cJSON_AddItemToArray(held, cJSON_CreateNumber(xall[3 * q]));
                cJSON_AddItemToArray(recv, cJSON_CreateNumber(xall[3 * q + 1]));
                cJSON_AddItemToArray(kept, cJSON_CreateBool(xall[3 * q + 2] != 0));
            }
        }
        char *text = cJSON_PrintUnformatted(r);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(r);
        return;
    }
    printf("kernel %s: %zu points on %d process%s", o->kind->name, n, cli_world.size,
           cli_world.size > 1 ? "es" : "");
    if (e->want_lo) printf(", lambda_min %.17g", e->lo[0]);
    if (e->want_hi) printf(", lambda_max %.17g", e->hi[0]);
    if (e->want_lo && e->want_hi)
        printf(", condition number %.6g", e->lo[0] > 0 ? e->hi[0] / e->lo[0] : INFINITY);
    printf(", %zu products, %.3fs\n", prods, secs);
}

int cmd_mpi_spectrum(int argc, char **argv)
{
    cli_args a;
    if (cli_mpi_agree(cli_parse(&a, flags, NFLAGS, argc, argv))) return 2;
    if (a.help) {
        if (cli_world.rank == 0)
            cli_usage("spectrum", "--kind KIND --x X.npy [options]",
                      "The largest and smallest eigenvalues of a kernel on n points by SLEPc's\n"
                      "Krylov-Schur on the matrix-free kernel operator distributed over the\n"
                      "processes (mpirun -np P): nothing of size n x n is stored. For every\n"
                      "eigenvalue, 'mpirun -np P ntkit kernel ... --spectrum FILE.csv' stores the\n"
                      "kernel spread over the processes and runs ScaLAPACK ('--stats' prints\n"
                      "lambda_min, lambda_max and the condition number from the same).",
                      flags, NFLAGS);
        return 0;
    }
    cli_kernel_opts o;
    size_t nev = 1, maxit = 1000, rank = 0;
    double tol = 1e-10;
    ends e = {0};
    int rc = a.npositional ? cli_fail("unexpected argument '%s'", a.positional[0]) : 0;
    if (!rc) rc = cli_kernel_options(&a, &o, 0) || cli_mpi_threads(&a) ||
                  cli_size(&a, "nev", 1, 1, &nev) || cli_size(&a, "max-it", 1000, 1, &maxit) ||
                  cli_double(&a, "tol", 1e-10, 0.0, &tol) ||
                  cli_size(&a, "precond-rank", 200, 0, &rank);
    const char *which = cli_str(&a, "which", "both");
    if (!rc && strcmp(which, "both") && strcmp(which, "largest") && strcmp(which, "smallest"))
        rc = cli_fail("--which '%s' is not one of both, largest, smallest", which);
    if (!rc && !(tol > 0.0 && tol < 1.0)) rc = cli_fail("--tol %g must be in (0, 1), e.g. 1e-10", tol);
    e.want_lo = strcmp(which, "largest") != 0, e.want_hi = strcmp(which, "smallest") != 0;
    if (cli_mpi_agree(rc)) return 1;
    ntk_array X = {0};
    cli_kernel_held held;
    memset(&held, 0, sizeof held);
    ntk_dop *op = NULL;
    ntk_dnystrom *pre = NULL;
    /* each process reads its own rows, unless the operator needs every one
     * (the lin kinds; the two-layer ntk kinds, found from the description) */
    size_t n = 0;
    int local = o.kind->src != NTK_KERNEL_LIN;
    rc = cli_mpi_agree(read_x(o.x_path, local, &X, &n));
    if (!rc && rank > n) rank = n;
    if (!rc && nev > n) rc = cli_mpi_agree(cli_fail("--nev %zu exceeds the %zu points", nev, n));
    if (!rc) rc = cli_mpi_agree(cli_kernel_desc(&o, &a, &X, 0, &held, NULL));
    if (!rc) {
        ntk_status st = local ? ntk_dop_create_local(cli_world.comm, &held.desc, X.data, n, o.mem_limit, &op)
                              : ntk_dop_create(cli_world.comm, &held.desc, X.data, n, o.mem_limit, &op);
        rc = cli_mpi_agree(st != NTK_OK ? cli_fail_lib("kernel operator") : 0);
    }
    if (!rc) {
        e.nev = nev;
        e.lo = calloc(4 * nev, sizeof(double));
        rc = cli_mpi_agree(e.lo ? 0 : cli_fail("out of memory"));
    }
    double t = MPI_Wtime();
    if (!rc) {
        e.hi = e.lo + nev, e.elo = e.hi + nev, e.ehi = e.elo + nev;
        ntk_status st = NTK_OK;
        if (e.want_hi) st = ntk_deig(op, nev, +1, tol, maxit, NULL, e.hi, e.ehi);
        if (st == NTK_OK && e.want_lo && rank)
            st = ntk_dnystrom_create(op, rank, 1, &pre);
        if (st == NTK_OK && e.want_lo) st = ntk_deig(op, nev, -1, tol, maxit, pre, e.lo, e.elo);
        rc = cli_mpi_agree(st != NTK_OK ? cli_fail_lib("spectrum") : 0);
    }
    t = MPI_Wtime() - t;
    double worst = 0.0;
    for (size_t i = 0; !rc && i < nev; i++) {
        if (e.want_lo && e.elo[i] > worst) worst = e.elo[i];
        if (e.want_hi && e.ehi[i] > worst) worst = e.ehi[i];
    }
    if (!rc && worst > tol && cli_world.rank == 0)
        cli_warn("an eigenpair's relative residual is %.2g, above --tol %g (see --out or --json); "
                 "raise --max-it or --precond-rank", worst, tol);
    const char *out = cli_str(&a, "out", NULL);
    if (!rc && out) rc = cli_mpi_agree(cli_world.rank == 0 ? write_csv(out, &e) : 0);
    double *xall = NULL;
    if (!rc && cli_world.rank == 0) xall = malloc(3 * (size_t)cli_world.size * sizeof(double));
    double dummy[3];
    if (!rc) ntk_dop_x_gather(op, xall ? xall : dummy);
    if (!rc && cli_world.rank == 0) report(&o, n, &e, t, ntk_dop_products(op), cli_has(&a, "json"), xall);
    free(xall);
    free(e.lo);
    ntk_dnystrom_free(pre);
    ntk_dop_free(op);
    cli_kernel_held_free(&held);
    ntk_array_free(&X);
    return rc ? 1 : 0;
}
