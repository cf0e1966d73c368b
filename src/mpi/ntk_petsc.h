/* What PETSc and SLEPc run on the distributed kernel operator
 * (src/mpi/mpi_petsc.c): the operator is a MATSHELL whose MatMult is
 * ntk_dop_apply on the local rows (PETSc's vector layout is the
 * operator's), conjugate gradients are KSPCG, the spectrum's extremes
 * SLEPc's Krylov–Schur (EPS), and kernel gradient flow SLEPc's MFN. The
 * whole spectrum of a dense kernel is ScaLAPACK's (src/mpi/mpi_dense.c;
 * `make mpi` links libscalapack-openmpi). The caller has initialised PETSc and
 * SLEPc (SlepcInitialize) on the operator's communicator. Every function
 * is collective and returns the same status on every process. */
#ifndef NTK_PETSC_H
#define NTK_PETSC_H

#include "ntk_mpi.h"

typedef enum { NTK_DPC_NONE = 0, NTK_DPC_JACOBI, NTK_DPC_NYSTROM } ntk_dpc_kind;
const char *ntk_dpc_name(ntk_dpc_kind pc);

typedef struct {
    double rtol;          /* true relative residual ‖y − (K + λI)a‖₂/‖y‖₂ to reach per column */
    size_t max_iter;      /* CG iterations allowed per column, restarts included */
    ntk_dpc_kind pc;
    const ntk_dnystrom *nystrom;   /* pc = NYSTROM: built once (ntk_dnystrom_create) */
} ntk_dcg_config;

typedef struct {
    size_t iterations;    /* the most CG iterations of a column (restarts included) */
    size_t products;      /* operator products of the whole solve, every column */
    double residual;      /* the true relative residual at the end, max over columns */
    int restarts;         /* the most restarts of a column */
} ntk_dcg_info;

/* A_loc (nloc, k) = local rows of (K + ridge·I)⁻¹ Y, Y by its local rows
 * Y_loc (nloc, k): one KSPCG solve per column with the unpreconditioned
 * residual norm, stopped by PETSc at ‖r‖₂ ≤ rtol·‖y‖₂ on its recurred
 * residual; the true residual is then computed with one more product and
 * a column still above rtol restarts from it (at most 3 times), as
 * src/ridge_cg.c. NTK_ERR_NOCONV when a column stays above rtol (A holds
 * the last iterate). */
ntk_status ntk_dkrr(ntk_dop *op, const double *Y_loc, size_t k, double ridge,
                    const ntk_dcg_config *cfg, double *A_loc, ntk_dcg_info *info);

/* The nev largest (which = +1) or smallest (which = −1) eigenvalues of K by
 * SLEPc's Krylov–Schur for a symmetric operator (EPS_HEP), each to relative
 * residual tol (‖K x − λ x‖₂ ≤ tol·|λ|, unit x); vals (nev) in the order
 * found (largest first, or smallest first), err (nev, may be NULL) their
 * relative residuals. The smallest come by shift and invert at 0, K⁻¹
 * applied by CG preconditioned with pre (a Nyström preconditioner, ridge 0;
 * NULL: none), so K must be positive definite. SLEPc's own test is on the
 * transformed operator (K⁻¹ there), so the solve is repeated with a smaller
 * tolerance (at most 3 times, not below 1e-15) until the residuals on K
 * meet tol; err has the residuals reached, which may stay above tol when
 * even that does not suffice. NTK_ERR_NOCONV when fewer than nev converge within
 * max_it restarts. */
ntk_status ntk_deig(ntk_dop *op, size_t nev, int which, double tol, size_t max_it,
                    const ntk_dnystrom *pre, double *vals, double *err);

/* G_loc (nloc) = h(K) r with h(λ) = (1 − e^{−τλ})/λ = τ·φ1(−τλ), φ1(z) =
 * (e^z − 1)/z (h(0) = τ), r by its local rows: kernel gradient flow's
 * coefficients, so that u(t) = u0 + K·G and f_test(t) = f0_test + K(Xt, X)·G
 * with τ = c·η·t (docs/theory.md §6). SLEPc's MFN (Krylov, FNPHI of index 1
 * scaled to τ·φ1(−τ·)) to tolerance tol. */
ntk_status ntk_dflow(ntk_dop *op, const double *r_loc, double tau, double tol, size_t max_it,
                     double *G_loc, size_t *its);

/* ---- every eigenvalue of a dense kernel (src/mpi/mpi_dense.c) ---------- */

/* What one process holds for ntk_dkernel_eigvals: the P processes form an
 * nprow × npcol grid (nprow the largest divisor of P not above √P, process
 * r at row r / npcol, column r % npcol), the kernel is stored 2-D block
 * cyclically in nb × nb blocks (ScaLAPACK's layout), and ScaLAPACK's
 * pdsyev (eigenvalues only) works in lwork doubles. Arithmetic only: the
 * same numbers on every process for a given rank, before any allocation. */
typedef struct {
    int nprow, npcol, myrow, mycol;
    size_t nb;
    size_t locr, locc;          /* this process's rows and columns of the n × n kernel */
    size_t lwork;               /* pdsyev's workspace, doubles */
    size_t matrix_bytes;        /* max(1, locr) · locc doubles: its share of the kernel */
    size_t points_bytes;        /* its rows' and columns' points, (locr + locc) · d doubles */
    size_t work_bytes;          /* lwork doubles */
    size_t total_bytes;         /* the three (SIZE_MAX on overflow); the kernel's own
                                   scratch while it is evaluated (the empirical kinds'
                                   tiles, desc->mem_limit) comes on top */
} ntk_deig_plan;

void ntk_deig_plan_make(size_t n, size_t d, int rank, int size, ntk_deig_plan *p);

typedef struct {
    int nprow, npcol;           /* the process grid */
    double t_kernel, t_solve;   /* seconds: the kernel's blocks, pdsyev */
    int heterogeneous;          /* pdsyev found processes' eigenvalues not identical
                                   (INFO = n + 1): the values of process 0 are in evals */
} ntk_deig_info;

/* evals (n, on every process) = every eigenvalue of the symmetric kernel
 * desc on the points X (n, d, the same on every process), ascending. Each
 * process evaluates its own blocks of the block-cyclic layout directly
 * (ntk_kernel of its columns' points against its rows' points; no
 * redistribution), then ScaLAPACK's pdsyev with JOBZ = 'N' (Householder
 * tridiagonalisation, implicit QL/QR on the tridiagonal matrix) computes
 * the eigenvalues from the lower triangle. Backward stable: the values
 * are the exact eigenvalues of K + E with ‖E‖₂ a modest multiple of
 * n·ε·‖K‖₂. Memory: ntk_deig_plan. NTK_ERR_NOCONV when the QL/QR
 * iteration fails (pdsyev's INFO in 1..n), NTK_ERR_ARG when this build's
 * PETSc came without ScaLAPACK or n exceeds its 32-bit integers. */
ntk_status ntk_dkernel_eigvals(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X,
                               size_t n, size_t d, double *evals, ntk_deig_info *info);

#endif
