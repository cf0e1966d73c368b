/* mpirun -np P ntkit kernel --kind KIND --x X.npy [--x2 Z.npy] --out K.npy
 * [--spectrum FILE.csv] [--stats] [options]: the kernel of `ntkit kernel`
 * assembled in row blocks, each process computing the rows [r0, r0 + nloc)
 * it owns (ntk_mpi_split) against every column with the library's
 * ntk_kernel, and written into one .npy with MPI-IO: process 0 creates a
 * temporary file next to --out and writes the header, every process writes
 * its rows at their offset (MPI_File_write_at), and after an agreement on
 * every process's status process 0 renames the file onto --out, or removes
 * it: a failure anywhere leaves no file and one error line from process 0.
 *
 * Rows are computed in blocks of B rows (--mem-limit, default 512 MiB per
 * process, holds two B × n2 blocks; with --spectrum or --stats and no
 * --mem-limit, no more than the eigenproblem's share below). For K(X, X)
 * each block's rows against themselves are the library's symmetric block
 * (ntk_kernel with X2 NULL), so a point meets itself as in the ordinary
 * build; the rest of the block's row are cross blocks. Entries agree with
 * the ordinary build's to rounding (the library computes a symmetric
 * kernel by triangles: entry (i, j) below the diagonal is the mirror of
 * (j, i) there, here it is K(x_i, x_j)).
 *
 * --spectrum and --stats: every eigenvalue by ScaLAPACK
 * (ntk_dkernel_eigvals, src/mpi/mpi_dense.c) once the file's rows are
 * written: each process evaluates its share of the kernel once more, in
 * ScaLAPACK's 2-D block-cyclic layout (no n x n array on any process),
 * and pdsyev computes the eigenvalues. The per-process memory this takes
 * (ntk_deig_plan) is checked against --mem-limit, or else the node's
 * available memory shared among its processes, before anything is
 * allocated or written. The eigenvalues are those of a kernel that
 * differs from the file's by rounding in its entries, well inside the
 * eigensolvers' own backward error. --spectrum is written as by one
 * process ("index,eigenvalue", ascending, %.17g); the kernel and the
 * spectrum appear together or not at all. One process runs the ordinary
 * command (LAPACK). --diagonal (O(n) work) runs on one process only. */
#include "mpi_cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_flag flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "inputs (n1, d) (required)"},
    {"x2", 1, "Z.npy", "second inputs (n2, d): write the cross block K(X, Z) (default: K(X, X))"},
    {"out", 1, "K.npy", "kernel to write (required)"},
    {"spectrum", 1, "FILE.csv", "also write every eigenvalue, ascending (ScaLAPACK on several processes)"},
    {"stats", 0, NULL, "print lambda_min, lambda_max and the condition number (all eigenvalues)"},
    {"diagonal", 0, NULL, "one process only: the diagonal K(x_i, x_i)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds (default 0: library default)"},
    {"mem-limit", 1, "BYTES", "memory per process: its row blocks (default 512M) and, with --spectrum "
                              "or --stats, its share of the eigenproblem (default: the node's "
                              "available memory over its processes)"},
    {"dtype", 1, "TYPE", "float64 | float32 (default float64; float32 entries rounded to 2^-24 relative)"},
    {"threads", 1, "T", "OpenBLAS threads per process (default: the node's cores / its processes)"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

#define DEFAULT_BUDGET ((size_t)512 << 20)

/* the temporary file of process 0, removed by a signal that ends it (mpirun
 * sends SIGTERM to the others when one process dies) */
static char g_tmp[4096];

static void on_signal(int sig)
{
    if (g_tmp[0]) unlink(g_tmp);
    ntk_tmpfiles_remove();   /* the staged spectrum */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The .npy version 1.0 preamble of a (rows, cols) float64 or float32 array,
 * padded to 64 bytes, into pre (the library's own, src/npy.c, is not
 * exported). Returns its length. */
static size_t npy_preamble(size_t rows, size_t cols, int f32, char pre[256])
{
    char dict[160];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                        f32 ? "<f4" : "<f8", rows, cols);
    size_t total = (10 + (size_t)dlen + 1 + 63) / 64 * 64, hlen = total - 10;
    memcpy(pre, "\x93NUMPY\x01\x00", 8);
    pre[8] = (char)(hlen & 0xff), pre[9] = (char)(hlen >> 8);
    memcpy(pre + 10, dict, (size_t)dlen);
    memset(pre + 10 + dlen, ' ', hlen - (size_t)dlen - 1);
    pre[total - 1] = '\n';
    return total;
}

/* Rows [i0, i0 + b) of K against every column into K (b, n2). */
static ntk_status row_block(const ntk_kernel_desc *desc, const ntk_array *X, const ntk_array *X2,
                            size_t i0, size_t b, double *K, double *S)
{
    const size_t d = X->cols, n = X->rows;
    const double *Xi = X->data + i0 * d;
    if (X2) return ntk_kernel(desc, Xi, b, X2->data, X2->rows, K);
    /* [0, i0) and [i0 + b, n) as cross blocks, [i0, i0 + b) as a symmetric block */
    const size_t c0[3] = {0, i0, i0 + b}, w[3] = {i0, b, n - i0 - b};
    for (int p = 0; p < 3; p++) {
        if (!w[p]) continue;
        ntk_status st = ntk_kernel(desc, Xi, b, p == 1 ? NULL : X->data + c0[p] * d, p == 1 ? 0 : w[p], S);
        if (st != NTK_OK) return st;
        for (size_t i = 0; i < b; i++) memcpy(K + i * n + c0[p], S + i * w[p], w[p] * sizeof(double));
    }
    return NTK_OK;
}

/* MPI's message for code, after what. */
static int mpi_fail(const char *what, int code)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return cli_fail("%s (MPI-IO: %s)", what, msg);
}

/* This process's rows of K written at their offsets in fh. */
static int write_rows(const cli_kernel_opts *o, const ntk_kernel_desc *desc, const ntk_array *X,
                      const ntk_array *X2, int f32, MPI_File fh, size_t data_off, size_t budget)
{
    const size_t n1 = X->rows, n2 = X2 ? X2->rows : n1, esz = f32 ? 4 : 8;
    size_t r0, nloc;
    cli_mpi_split(n1, &r0, &nloc);
    size_t B = budget / (2 * n2 * sizeof(double));
    if (B > (size_t)INT_MAX / n2) B = (size_t)INT_MAX / n2;   /* MPI counts are int */
    if (B == 0) {
        char b1[32], b2[32];
        return cli_fail("--mem-limit %s holds no row block: one needs %s (two rows of %zu "
                        "numbers); raise --mem-limit", cli_fmt_bytes(budget, b1),
                        cli_fmt_bytes(2 * n2 * sizeof(double), b2), n2);
    }
    if (B > nloc) B = nloc;
    if (!nloc) return 0;
    double *K = malloc(2 * B * n2 * sizeof(double));
    if (!K) return cli_fail("out of memory for a row block of %zu x %zu; lower --mem-limit", B, n2);
    double *S = K + B * n2;
    int rc = 0;
    for (size_t i0 = r0; !rc && i0 < r0 + nloc; i0 += B) {
        size_t b = r0 + nloc - i0 < B ? r0 + nloc - i0 : B, cnt = b * n2;
        if (ntk_mpi_fault("apply")) {
            rc = cli_fail("a row block failed here (fault injected by NTKIT_MPI_FAULT)");
            break;
        }
        ntk_status st = row_block(desc, X, X2, i0, b, K, S);
        if (st != NTK_OK) {
            rc = cli_fail("%s kernel: %s", ntk_kernel_source_name(desc->source), ntk_errmsg());
            break;
        }
        if (f32) {
            float *F = (float *)S;
            for (size_t i = 0; i < cnt && !rc; i++) {
                if (!(fabs(K[i]) <= 3.4028234663852886e38))
                    rc = cli_fail("--dtype float32: entry %g of row %zu is beyond float32's range; "
                                  "use float64", K[i], i0 + i / n2);
                F[i] = (float)K[i];
            }
            if (rc) break;
        }
        MPI_Status ms;
        int done = 0;
        MPI_Offset off = (MPI_Offset)(data_off + i0 * n2 * esz);
        int code = MPI_File_write_at(fh, off, f32 ? (void *)S : (void *)K, (int)cnt,
                                     f32 ? MPI_FLOAT : MPI_DOUBLE, &ms);
        if (code == MPI_SUCCESS) MPI_Get_count(&ms, f32 ? MPI_FLOAT : MPI_DOUBLE, &done);
        if (code != MPI_SUCCESS) rc = mpi_fail("--out: writing the kernel's rows failed", code);
        else if ((size_t)done != cnt)
            rc = cli_fail("--out %s: only %d of %zu numbers of a row block were written (disk "
                          "full?)", o->out_path, done, cnt);
    }
    free(K);
    return rc;
}

/* Process 0: a temporary file next to path into g_tmp. */
static int make_temp(const char *path)
{
    int len = snprintf(g_tmp, sizeof g_tmp, "%s.ntkit-mpi-XXXXXX", path);
    if (len < 0 || (size_t)len >= sizeof g_tmp) return cli_fail("--out path is too long");
    int fd = mkstemp(g_tmp);
    if (fd < 0) {
        int e = errno;
        g_tmp[0] = '\0';
        return cli_fail("--out %s: cannot create a file there: %s; check that its directory "
                        "exists and is writable", path, strerror(e));
    }
    close(fd);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], on_signal);
    return 0;
}

/* --spectrum, --stats: this process's share of the eigenproblem
 * (ntk_deig_plan, its bytes into *share) against --mem-limit, or 90% of
 * the node's available memory over the node's processes, before anything
 * is allocated. With --mem-limit the empirical kinds' tiles get what the
 * share leaves, as in the ordinary build. */
static int eig_memory(const cli_kernel_opts *o, size_t n, size_t d, ntk_kernel_desc *desc,
                      size_t *share)
{
    cli_mpi *w = &cli_world;
    ntk_deig_plan p;
    ntk_deig_plan_make(n, d, w->rank, w->size, &p);
    *share = p.total_bytes;
    size_t limit = o->mem_limit;
    int local = 1;
    if (!limit) {
        MPI_Comm node;
        if (MPI_Comm_split_type(w->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
            MPI_Comm_size(node, &local);
            MPI_Comm_free(&node);
        }
        size_t avail = ntk_mem_available();
        if (!avail) return 0;   /* unknown: let the allocations decide */
        limit = avail / 10 * 9 / (size_t)(local > 0 ? local : 1);
    }
    if (p.total_bytes <= limit) {
        if (o->mem_limit) desc->mem_limit = limit > p.total_bytes ? limit - p.total_bytes : 1;
        return 0;
    }
    /* the fewest processes whose largest share (process 0's) fits */
    int more = 0;
    for (int q = w->size + 1; q <= (1 << 20) && !more; q++) {
        ntk_deig_plan pq;
        ntk_deig_plan_make(n, d, 0, q, &pq);
        if (pq.total_bytes <= limit) more = q;
    }
    char b[5][32], hint[96] = "";
    if (more) snprintf(hint, sizeof hint, " or run on %d processes or more", more);
    char lim[96];
    if (o->mem_limit)
        snprintf(lim, sizeof lim, "--mem-limit is %s", cli_fmt_bytes(limit, b[3]));
    else
        snprintf(lim, sizeof lim, "%d process%s on this node leave%s %s each", local,
                 local > 1 ? "es" : "", local > 1 ? "" : "s", cli_fmt_bytes(limit, b[3]));
    return cli_fail("every eigenvalue of the %zu x %zu kernel needs %s on this process (its "
                    "%zu x %zu block-cyclic share %s, ScaLAPACK's workspace %s, the share's points "
                    "%s) but %s; raise --mem-limit%s", n, n, cli_fmt_bytes(p.total_bytes, b[0]),
                    p.locr, p.locc, cli_fmt_bytes(p.matrix_bytes, b[1]),
                    cli_fmt_bytes(p.work_bytes, b[2]), cli_fmt_bytes(p.points_bytes, b[4]),
                    lim, hint);
}

/* Process 0: the kernel's temporary file onto --out and the spectrum (when
 * asked) into place, back to back; on any failure neither is left. */
static int put_in_place(const cli_kernel_opts *o, int rc, const double *evals, size_t n)
{
    ntk_outset *set = NULL;
    if (!rc && o->spec_path) {
        if (ntk_outset_create(&set) != NTK_OK) rc = cli_fail_lib("--spectrum");
        else rc = cli_stage_spectrum(set, o->spec_path, evals, n);
    }
    if (!rc && rename(g_tmp, o->out_path) != 0)
        rc = cli_fail("--out %s: cannot put the kernel in place: %s", o->out_path, strerror(errno));
    if (!rc && set && ntk_outset_commit(set) != NTK_OK) rc = cli_fail_lib("--spectrum");
    if (rc) unlink(g_tmp);
    ntk_outset_free(set);
    g_tmp[0] = '\0';
    return rc;
}

static void print_summary(const cli_kernel_opts *o, size_t n1, size_t n2, double secs,
                          double tf_used, const double *evals, const ntk_deig_info *ei)
{
    cli_mpi *w = &cli_world;
    printf("kernel %s: %zu x %zu%s, written in row blocks by %d process%s", o->kind->name, n1, n2,
           o->x2_path ? " (cross block)" : "", w->size, w->size > 1 ? "es" : "");
    if (evals) cli_print_extremes(evals, n1);
    printf(", %.3fs", secs);
    if (evals)
        printf(" (+ %.3fs eigenvalues by ScaLAPACK on a %d x %d grid: %.3fs the kernel's blocks, "
               "%.3fs pdsyev)", ei->t_kernel + ei->t_solve, ei->nprow, ei->npcol, ei->t_kernel,
               ei->t_solve);
    printf("\n");
    if (isfinite(tf_used))
        printf("trace factor %.6g (%s)\n", tf_used,
               o->trace_factor >= 0 ? "--trace-factor" : "estimated from X");
    printf("wrote %s%s%s\n", o->out_path, o->spec_path ? " and " : "", o->spec_path ? o->spec_path : "");
}

static int distributed(const cli_args *a, cli_kernel_opts *o, int f32, int eig)
{
    cli_mpi *w = &cli_world;
    ntk_array X = {0}, X2 = {0};
    int rc = ntk_mpi_fault("load") ? cli_fail("--x: loading failed here (fault injected by NTKIT_MPI_FAULT)") : 0;
    if (!rc) rc = cli_load_matrix("--x", o->x_path, &X) || (o->x2_path && cli_load_matrix("--x2", o->x2_path, &X2));
    if (!rc && o->x2_path && X2.cols != X.cols)
        rc = cli_fail("--x %s has d = %zu but --x2 %s has d = %zu; both need the same dimension",
                      o->x_path, X.cols, o->x2_path, X2.cols);
    cli_kernel_held h;
    double tf_used = NAN;
    memset(&h, 0, sizeof h);
    if (!rc) rc = cli_kernel_desc(o, a, &X, 0, &h, &tf_used);
    /* agreed before eig_memory, which is collective (the node's processes) */
    rc = cli_mpi_agree(rc);
    size_t share = 0;
    if (!rc && eig) rc = cli_mpi_agree(eig_memory(o, X.rows, X.cols, &h.desc, &share));
    const size_t n1 = X.rows, n2 = o->x2_path ? X2.rows : n1;
    /* the row blocks come and go before the eigenproblem's share exists;
     * without --mem-limit they take no more than the share (at least two
     * rows), so that the share sets the peak */
    size_t budget = o->mem_limit ? o->mem_limit : DEFAULT_BUDGET;
    if (eig && !o->mem_limit && share < budget)
        budget = share > 2 * n2 * sizeof(double) ? share : 2 * n2 * sizeof(double);
    char pre[256];
    size_t plen = rc ? 0 : npy_preamble(n1, n2, f32, pre);
    if (!rc && w->rank == 0) rc = make_temp(o->out_path);
    rc = cli_mpi_agree(rc);
    double t0 = cli_now(), secs = 0.0;
    MPI_File fh = MPI_FILE_NULL;
    if (!rc) {
        MPI_Bcast(g_tmp, sizeof g_tmp, MPI_CHAR, 0, w->comm);
        int code = MPI_File_open(w->comm, g_tmp, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
        if (code != MPI_SUCCESS) rc = mpi_fail("--out: opening the temporary file failed", code);
        rc = cli_mpi_agree(rc);
    }
    if (!rc) {
        /* the header, then the rows; the file is closed (collective) whatever happened */
        if (w->rank == 0) {
            int code = MPI_File_write_at(fh, 0, pre, (int)plen, MPI_CHAR, MPI_STATUS_IGNORE);
            if (code != MPI_SUCCESS) rc = mpi_fail("--out: writing the header failed", code);
        }
        if (!rc) rc = write_rows(o, &h.desc, &X, o->x2_path ? &X2 : NULL, f32, fh, plen, budget);
        if (!rc) {
            int code = MPI_File_sync(fh);   /* collective */
            if (code != MPI_SUCCESS) rc = mpi_fail("--out: flushing the file failed", code);
        } else {
            MPI_File_sync(fh);
        }
        MPI_File_close(&fh);
        rc = cli_mpi_agree(rc);
        secs = cli_now() - t0;
    }
    /* every eigenvalue, from the kernel evaluated once more in ScaLAPACK's layout */
    double *evals = NULL;
    ntk_deig_info ei;
    memset(&ei, 0, sizeof ei);
    if (!rc && eig) {
        evals = malloc(n1 * sizeof(double));
        rc = cli_mpi_agree(evals ? 0 : cli_fail("out of memory for %zu eigenvalues", n1));
        if (!rc) {
            ntk_status st = ntk_dkernel_eigvals(w->comm, &h.desc, X.data, n1, X.cols, evals, &ei);
            rc = cli_mpi_agree(st != NTK_OK ? cli_fail_lib("eigenvalues") : 0);
        }
    }
    if (w->rank == 0 && g_tmp[0]) rc = put_in_place(o, rc, evals, n1);
    MPI_Bcast(&rc, 1, MPI_INT, 0, w->comm);
    if (!rc && w->rank == 0) {
        if (ei.heterogeneous)
            cli_warn("ScaLAPACK found the processes' eigenvalues not identical in their last bits "
                     "(processors of different kinds?); process 0's are written");
        print_summary(o, n1, n2, secs, tf_used, evals, &ei);
    }
    free(evals);
    cli_kernel_held_free(&h);
    ntk_array_free(&X), ntk_array_free(&X2);
    return rc;
}

int cmd_mpi_kernel(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, flags, NFLAGS, argc, argv)) return 2;
    const int eig = cli_has(&a, "spectrum") || cli_has(&a, "stats"), diag = cli_has(&a, "diagonal");
    if (a.help) {
        int rc = cmd_kernel(argc, argv);
        if (cli_world.rank == 0)
            printf("\nUnder mpirun -np P (P > 1) each process computes its rows and writes them\n"
                   "into the one file with MPI-IO; --spectrum and --stats then compute every\n"
                   "eigenvalue with ScaLAPACK from the kernel in a 2-D block-cyclic layout (no\n"
                   "process holds it whole); --mem-limit is per process. --diagonal runs on one\n"
                   "process. 'ntkit spectrum' gives the extremes without any n x n storage.\n");
        return rc;
    }
    if ((eig || diag) && cli_world.size == 1) return cmd_kernel(argc, argv);
    if (a.npositional) return cli_mpi_agree(cli_fail("unexpected argument '%s'", a.positional[0]));
    if (diag)
        return cli_mpi_agree(cli_fail("--diagonal runs on one process (O(n) work and memory); run "
                                      "it without mpirun"));
    cli_kernel_opts o;
    int rc = cli_kernel_options(&a, &o, 1) || cli_mpi_threads(&a);
    if (!rc && o.x2_path && cli_has(&a, "stats"))
        rc = cli_fail("--stats needs a symmetric kernel but --x2 asks for a cross block; drop one");
    const char *dtype = cli_str(&a, "dtype", "float64");
    if (!rc && strcmp(dtype, "float64") != 0 && strcmp(dtype, "float32") != 0)
        rc = cli_fail("--dtype must be float64 or float32, got '%s'", dtype);
    if (cli_mpi_agree(rc)) return 1;
    return distributed(&a, &o, strcmp(dtype, "float32") == 0, eig);
}
