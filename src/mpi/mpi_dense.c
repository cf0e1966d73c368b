/* Every eigenvalue of a dense kernel on many processes: ScaLAPACK's pdsyev
 * on the kernel laid out 2-D block cyclically (src/mpi/ntk_petsc.h).
 *
 * Why ScaLAPACK directly rather than SLEPc's EPSSCALAPACK: that solver
 * always calls pdsyev with JOBZ = 'V', so it computes and stores every
 * eigenvector (the matrix, its converted copy, the eigenvectors and
 * SLEPc's basis: four or five n²/P shares per process) and took 5-6 times
 * as long as the eigenvalues alone at n = 3000 on this machine; PETSc 3.18
 * also converts a MATDENSE into MATSCALAPACK in a way that marks the
 * original modified, which EPSSolve then refuses. With JOBZ = 'N' a
 * process holds its n²/P share and O(n·nb) workspace.
 *
 * Linking: `make mpi` links ScaLAPACK (with BLACS) itself (pkg-config
 * scalapack-openmpi, Debian's libscalapack-openmpi-dev). The routines are
 * declared weak so that a build linked without it (another MPI_PKGS) still
 * links, and then reports their absence in one line instead of crashing. */
#include "internal.h"
#include "ntk_petsc.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* BLACS (C interface) and ScaLAPACK (Fortran, 32-bit integers; pdsyev's
 * two CHARACTER arguments take gfortran's hidden lengths at the end) */
extern int Csys2blacs_handle(MPI_Comm comm) __attribute__((weak));
extern void Cfree_blacs_system_handle(int handle) __attribute__((weak));
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol) __attribute__((weak));
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol)
    __attribute__((weak));
extern void Cblacs_gridexit(int ctxt) __attribute__((weak));
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
                      const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
                      int *info) __attribute__((weak));
extern void pdsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
                    const int *ja, const int *desca, double *w, double *z, const int *iz,
                    const int *jz, const int *descz, double *work, const int *lwork, int *info,
                    size_t jobz_len, size_t uplo_len) __attribute__((weak));

/* ScaLAPACK's customary block: large enough for level-3 BLAS in the
 * tridiagonalisation's panels, small enough to balance the grid */
#define BLOCK 64
/* columns of the local share evaluated by one ntk_kernel call */
#define FILL_COLS 1024

/* Rows (or columns) of n in blocks of nb that grid coordinate p of np
 * holds, the first block on coordinate 0 (ScaLAPACK's NUMROC). */
static size_t local_count(size_t n, size_t nb, size_t p, size_t np)
{
    size_t blocks = n / nb, count = blocks / np * nb, extra = blocks % np;
    if (p < extra) count += nb;
    else if (p == extra) count += n % nb;
    return count;
}

/* The global index of local index i at grid coordinate p of np. */
static size_t global_index(size_t i, size_t nb, size_t p, size_t np)
{
    return (i / nb * np + p) * nb + i % nb;
}

static size_t add_sat(size_t a, size_t b)
{
    return a == SIZE_MAX || b == SIZE_MAX || a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

void ntk_deig_plan_make(size_t n, size_t d, int rank, int size, ntk_deig_plan *p)
{
    memset(p, 0, sizeof *p);
    int r = 1;
    for (int q = 1; (long)q * q <= size; q++)
        if (size % q == 0) r = q;
    p->nprow = r, p->npcol = size / r;
    p->myrow = rank / p->npcol, p->mycol = rank % p->npcol;
    p->nb = BLOCK;
    p->locr = local_count(n, p->nb, (size_t)p->myrow, (size_t)p->nprow);
    p->locc = local_count(n, p->nb, (size_t)p->mycol, (size_t)p->npcol);
    /* pdsyev, JOBZ = 'N': 5n + max(nb·(NP + 1), 3·nb) + 1, NP = locr */
    size_t sytrd = p->nb * (p->locr + 1) > 3 * p->nb ? p->nb * (p->locr + 1) : 3 * p->nb;
    p->lwork = add_sat(ntk_size_mul(5, n, 1, 1), add_sat(sytrd, 1));
    p->matrix_bytes = ntk_size_mul(p->locr ? p->locr : 1, p->locc, 1, sizeof(double));
    p->points_bytes = ntk_size_mul(add_sat(p->locr, p->locc), d, 1, sizeof(double));
    p->work_bytes = ntk_size_mul(p->lwork, 1, 1, sizeof(double));
    p->total_bytes = add_sat(p->matrix_bytes, add_sat(p->points_bytes, p->work_bytes));
}

/* The points of the local rows (or columns): X[global_index(i)] for i < cnt. */
static void gather_points(const double *X, size_t d, size_t cnt, size_t nb, size_t p, size_t np,
                          double *out)
{
    for (size_t i = 0; i < cnt; i++)
        memcpy(out + i * d, X + global_index(i, nb, p, np) * d, d * sizeof(double));
}

/* A (lld, locc), column-major = this process's share of K: column j of the
 * share is K(x_c(j), rows), which is row j of ntk_kernel(X_cols, X_rows),
 * so each call writes its columns in place. */
static ntk_status fill(const ntk_kernel_desc *desc, const double *Xr, size_t locr,
                       const double *Xc, size_t locc, size_t d, double *A)
{
    if (!locr || !locc) return NTK_OK;
    for (size_t j0 = 0; j0 < locc; j0 += FILL_COLS) {
        size_t cb = locc - j0 < FILL_COLS ? locc - j0 : FILL_COLS;
        if (ntk_mpi_fault("apply"))
            return ntk_set_error(NTK_ERR_ARG, "a block of the kernel failed here (fault injected "
                                 "by NTKIT_MPI_FAULT)");
        NTK_TRY(ntk_kernel(desc, Xc + j0 * d, cb, Xr, locr, A + j0 * locr));
    }
    return NTK_OK;
}

static int scalapack_linked(void)
{
    return Csys2blacs_handle && Cfree_blacs_system_handle && Cblacs_gridinit && Cblacs_gridinfo &&
           Cblacs_gridexit && descinit_ && pdsyev_;
}

ntk_status ntk_dkernel_eigvals(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X,
                               size_t n, size_t d, double *evals, ntk_deig_info *info)
{
    ntk_clear_error();
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ntk_deig_plan pl;
    ntk_deig_plan_make(n, d, rank, size, &pl);
    memset(info, 0, sizeof *info);
    info->nprow = pl.nprow, info->npcol = pl.npcol;
    ntk_status st = NTK_OK;
    if (!scalapack_linked())
        st = ntk_set_error(NTK_ERR_ARG, "the full spectrum needs ScaLAPACK, and this build was "
                           "linked without it; install libscalapack-openmpi-dev and rebuild with "
                           "'make mpi' (MPI_PKGS names scalapack-openmpi), or use 'ntkit "
                           "spectrum' for the extremes");
    else if (n == 0 || n > INT_MAX || pl.lwork > INT_MAX || pl.total_bytes == SIZE_MAX)
        st = ntk_set_error(NTK_ERR_ARG, "the full spectrum of %zu points: ScaLAPACK takes at "
                           "most %d rows and a workspace of %d numbers a process", n, INT_MAX,
                           INT_MAX);
    st = ntk_mpi_agree(comm, st);   /* the workspace differs by process */
    if (st != NTK_OK) return st;
    double *A = NULL, *P = NULL, *work = NULL;
    int handle = -1, ctxt = -1;

    /* the grid first (collective), checked against the plan */
    handle = Csys2blacs_handle(comm);
    ctxt = handle;
    Cblacs_gridinit(&ctxt, "R", pl.nprow, pl.npcol);
    int gr, gc, myr, myc;
    Cblacs_gridinfo(ctxt, &gr, &gc, &myr, &myc);
    if (gr != pl.nprow || gc != pl.npcol || myr != pl.myrow || myc != pl.mycol)
        st = ntk_set_error(NTK_ERR_ARG, "BLACS placed this process at (%d, %d) of a %d x %d grid, "
                           "not at (%d, %d) of %d x %d", myr, myc, gr, gc, pl.myrow, pl.mycol,
                           pl.nprow, pl.npcol);
    st = ntk_mpi_agree(comm, st);
    if (st != NTK_OK) goto done;

    /* this process's share, evaluated in place */
    double t0 = MPI_Wtime();
    A = ntk_alloc(pl.matrix_bytes / sizeof(double), sizeof(double), "the kernel's block-cyclic share");
    P = ntk_alloc((pl.locr + pl.locc) * d + 1, sizeof(double), "the share's points");
    st = ntk_mpi_agree(comm, A && P ? NTK_OK : NTK_ERR_NOMEM);
    if (st != NTK_OK) goto done;
    double *Xr = P, *Xc = P + pl.locr * d;
    gather_points(X, d, pl.locr, pl.nb, (size_t)pl.myrow, (size_t)pl.nprow, Xr);
    gather_points(X, d, pl.locc, pl.nb, (size_t)pl.mycol, (size_t)pl.npcol, Xc);
    st = ntk_mpi_agree(comm, fill(desc, Xr, pl.locr, Xc, pl.locc, d, A));
    free(P);
    P = NULL;
    info->t_kernel = MPI_Wtime() - t0;
    if (st != NTK_OK) goto done;

    /* pdsyev: the workspace it asks for (at least the plan's), then the solve */
    t0 = MPI_Wtime();
    const int N = (int)n, nb = (int)pl.nb, zero = 0, one = 1, lld = pl.locr ? (int)pl.locr : 1;
    int desc_a[9], dinfo = 0;
    descinit_(desc_a, &N, &N, &nb, &nb, &zero, &zero, &ctxt, &lld, &dinfo);
    if (dinfo != 0)
        st = ntk_set_error(NTK_ERR_ARG, "ScaLAPACK refused the kernel's layout (descinit info "
                           "%d)", dinfo);
    st = ntk_mpi_agree(comm, st);
    if (st != NTK_OK) goto done;
    double query = 0.0;
    int lwork = -1, sinfo = 0;
    pdsyev_("N", "L", &N, A, &one, &one, desc_a, evals, A, &one, &one, desc_a, &query, &lwork,
            &sinfo, 1, 1);
    size_t lw = pl.lwork;
    if (sinfo == 0 && query > (double)lw) lw = query < (double)INT_MAX ? (size_t)query : SIZE_MAX;
    if (sinfo != 0 || lw > INT_MAX)
        st = ntk_set_error(NTK_ERR_ARG, "ScaLAPACK's workspace query failed (info %d, %.0f "
                           "numbers)", sinfo, query);
    else
        work = ntk_alloc(lw, sizeof(double), "ScaLAPACK's workspace");
    st = ntk_mpi_agree(comm, st != NTK_OK ? st : work ? NTK_OK : NTK_ERR_NOMEM);
    if (st != NTK_OK) goto done;
    lwork = (int)lw;
    pdsyev_("N", "L", &N, A, &one, &one, desc_a, evals, A, &one, &one, desc_a, work, &lwork,
            &sinfo, 1, 1);
    info->t_solve = MPI_Wtime() - t0;
    if (sinfo == N + 1) {
        /* the grid's copies of the eigenvalues differ in their last bits
         * (processes of different CPUs): process 0's stand for all */
        info->heterogeneous = 1;
        MPI_Bcast(evals, N, MPI_DOUBLE, 0, comm);
    } else if (sinfo > 0) {
        st = ntk_set_error(NTK_ERR_NOCONV, "ScaLAPACK's QL/QR iteration on the tridiagonal "
                           "matrix did not converge (pdsyev info %d of n = %zu)", sinfo, n);
    } else if (sinfo < 0) {
        st = ntk_set_error(NTK_ERR_ARG, "ScaLAPACK's pdsyev refused argument %d", -sinfo);
    }
    for (size_t i = 0; st == NTK_OK && i < n; i++)
        if (!isfinite(evals[i]))
            st = ntk_set_error(NTK_ERR_NONFINITE, "eigenvalue %zu is not finite; the kernel "
                               "overflows", i);
    st = ntk_mpi_agree(comm, st);
done:
    free(work);
    free(P);
    free(A);
    if (ctxt >= 0) Cblacs_gridexit(ctxt);
    if (handle >= 0) Cfree_blacs_system_handle(handle);
    return st;
}
