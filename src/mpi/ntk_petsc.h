/* What PETSc and SLEPc run on the distributed kernel operator
 * (src/mpi/mpi_petsc.c): the operator is a MATSHELL whose MatMult is
 * ntk_dop_apply on the local rows (PETSc's vector layout is the
 * operator's), conjugate gradients are KSPCG, the spectrum's extremes
 * SLEPc's Krylov–Schur (EPS), and kernel gradient flow SLEPc's MFN. The
 * caller has initialised PETSc and SLEPc (SlepcInitialize) on the
 * operator's communicator. Every function is collective and returns the
 * same status on every process. */
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

#endif
