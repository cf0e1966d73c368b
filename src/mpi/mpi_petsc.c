/* PETSc and SLEPc on the distributed kernel operator (src/mpi/ntk_petsc.h). */
#include "internal.h"
#include "ntk_petsc.h"

#include <math.h>
#include <petscksp.h>
#include <slepceps.h>
#include <slepcmfn.h>
#include <string.h>

#define CG_RESTARTS 3

const char *ntk_dpc_name(ntk_dpc_kind pc)
{
    return pc == NTK_DPC_NYSTROM ? "nystrom" : pc == NTK_DPC_JACOBI ? "jacobi" : "none";
}

/* The shell matrix K + shift·I and its preconditioner's state. st records
 * the status of a failed product (agreed on every process), so that the
 * caller reports it rather than PETSc's "user error". */
typedef struct {
    ntk_dop *op;
    double shift;
    Vec diag;                 /* K_ii of the local rows, for Jacobi (NULL otherwise) */
    const ntk_dnystrom *nys;
    ntk_status st;
} shell_ctx;

static PetscErrorCode shell_mult(Mat A, Vec x, Vec y)
{
    shell_ctx *c;
    const PetscScalar *xa;
    PetscScalar *ya;
    PetscCall(MatShellGetContext(A, &c));
    PetscCall(VecGetArrayRead(x, &xa));
    PetscCall(VecGetArray(y, &ya));
    ntk_status st = ntk_dop_apply(c->op, xa, 1, ya);
    if (st == NTK_OK && c->shift != 0.0) {
        size_t r0, nloc;
        ntk_dop_range(c->op, &r0, &nloc);
        for (size_t i = 0; i < nloc; i++) ya[i] += c->shift * xa[i];
    }
    PetscCall(VecRestoreArray(y, &ya));
    PetscCall(VecRestoreArrayRead(x, &xa));
    if (st != NTK_OK) {
        c->st = st;
        SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER, "kernel product failed");
    }
    return 0;
}

static PetscErrorCode shell_diag(Mat A, Vec d)
{
    shell_ctx *c;
    PetscCall(MatShellGetContext(A, &c));
    PetscCall(VecCopy(c->diag, d));
    PetscCall(VecShift(d, c->shift));
    return 0;
}

static PetscErrorCode pc_nystrom(PC pc, Vec x, Vec y)
{
    shell_ctx *c;
    PetscScalar *ya;
    PetscCall(PCShellGetContext(pc, &c));
    PetscCall(VecCopy(x, y));
    PetscCall(VecGetArray(y, &ya));
    ntk_dnystrom_apply(c->nys, c->shift, ya);
    PetscCall(VecRestoreArray(y, &ya));
    return 0;
}

/* A failed PETSc call: the operator's own status when a product failed,
 * else PETSc's message. */
static ntk_status petsc_status(PetscErrorCode e, const shell_ctx *c, const char *what)
{
    if (c && c->st != NTK_OK) return c->st;
    const char *text = NULL;
    PetscErrorMessage(e, &text, NULL);
    return ntk_set_error(e == PETSC_ERR_MEM ? NTK_ERR_NOMEM : NTK_ERR_ARG, "%s: PETSc error %d (%s)",
                         what, (int)e, text ? text : "no message");
}

#define PTRY(call, what)                                          \
    do {                                                          \
        PetscErrorCode e_ = (call);                               \
        if (e_) {                                                 \
            st = petsc_status(e_, &ctx, what);                    \
            goto done;                                            \
        }                                                         \
    } while (0)

static PetscErrorCode make_shell(shell_ctx *ctx, Mat *A)
{
    size_t r0, nloc;
    ntk_dop_range(ctx->op, &r0, &nloc);
    PetscInt n = (PetscInt)ntk_dop_size(ctx->op);
    PetscCall(MatCreateShell(ntk_dop_comm(ctx->op), (PetscInt)nloc, (PetscInt)nloc, n, n, ctx, A));
    PetscCall(MatShellSetOperation(*A, MATOP_MULT, (void (*)(void))shell_mult));
    PetscCall(MatShellSetOperation(*A, MATOP_MULT_TRANSPOSE, (void (*)(void))shell_mult));
    if (ctx->diag) PetscCall(MatShellSetOperation(*A, MATOP_GET_DIAGONAL, (void (*)(void))shell_diag));
    PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
    return 0;
}

/* ---- kernel ridge regression ------------------------------------------ */

static double col_norm(MPI_Comm comm, const double *a, size_t nloc, size_t k, size_t j)
{
    double s = 0.0;
    for (size_t i = 0; i < nloc; i++) s += a[i * k + j] * a[i * k + j];
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, comm);
    return sqrt(s);
}

ntk_status ntk_dkrr(ntk_dop *op, const double *Y_loc, size_t k, double ridge,
                    const ntk_dcg_config *cfg, double *A_loc, ntk_dcg_info *info)
{
    ntk_clear_error();
    memset(info, 0, sizeof *info);
    MPI_Comm comm = ntk_dop_comm(op);
    size_t r0, nloc, prod0 = ntk_dop_products(op);
    ntk_dop_range(op, &r0, &nloc);
    shell_ctx ctx = {.op = op, .shift = ridge, .nys = cfg->nystrom, .st = NTK_OK};
    Mat A = NULL;
    KSP ksp = NULL;
    Vec b = NULL, x = NULL, r = NULL;
    ntk_status st = NTK_OK;
    if (!(cfg->rtol > 0.0 && cfg->rtol < 1.0) || cfg->max_iter == 0 || !(ridge >= 0.0) ||
        !isfinite(ridge))
        return ntk_set_error(NTK_ERR_ARG, "distributed kernel ridge regression: rtol %g must be in "
                             "(0, 1), max_iter >= 1 and the ridge %g finite and >= 0", cfg->rtol, ridge);
    if (cfg->pc == NTK_DPC_JACOBI) {
        double *D = ntk_alloc(nloc ? nloc : 1, sizeof(double), "diagonal");
        st = ntk_mpi_agree(comm, D ? NTK_OK : NTK_ERR_NOMEM);
        if (st == NTK_OK) st = ntk_dop_diag(op, D);
        if (st == NTK_OK && VecCreateMPI(comm, (PetscInt)nloc, (PetscInt)ntk_dop_size(op), &ctx.diag) == 0) {
            PetscScalar *da;
            VecGetArray(ctx.diag, &da);
            memcpy(da, D, nloc * sizeof(double));
            VecRestoreArray(ctx.diag, &da);
        }
        free(D);
        if (st != NTK_OK) return st;
    }
    PTRY(make_shell(&ctx, &A), "the kernel operator");
    PTRY(MatCreateVecs(A, &x, &b), "vectors");
    PTRY(VecDuplicate(b, &r), "vectors");
    PTRY(KSPCreate(comm, &ksp), "conjugate gradients");
    PTRY(KSPSetOperators(ksp, A, A), "conjugate gradients");
    PTRY(KSPSetType(ksp, KSPCG), "conjugate gradients");
    PTRY(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED), "conjugate gradients");
    PC pc;
    PTRY(KSPGetPC(ksp, &pc), "preconditioner");
    if (cfg->pc == NTK_DPC_JACOBI) {
        PTRY(PCSetType(pc, PCJACOBI), "preconditioner");
    } else if (cfg->pc == NTK_DPC_NYSTROM && cfg->nystrom) {
        PTRY(PCSetType(pc, PCSHELL), "preconditioner");
        PTRY(PCShellSetContext(pc, &ctx), "preconditioner");
        PTRY(PCShellSetApply(pc, pc_nystrom), "preconditioner");
        PTRY(PCShellSetName(pc, "Nystrom (randomly pivoted Cholesky)"), "preconditioner");
    } else {
        PTRY(PCSetType(pc, PCNONE), "preconditioner");
    }
    PTRY(KSPSetFromOptions(ksp), "conjugate gradients");
    for (size_t j = 0; j < k; j++) {
        double ynorm = col_norm(comm, Y_loc, nloc, k, j), rel = 0.0;
        PetscScalar *ba, *xa;
        PTRY(VecGetArray(b, &ba), "vectors");
        for (size_t i = 0; i < nloc; i++) ba[i] = Y_loc[i * k + j];
        PTRY(VecRestoreArray(b, &ba), "vectors");
        PTRY(VecSet(x, 0.0), "vectors");
        size_t its = 0;
        int rs = 0;
        if (ynorm > 0.0) {
            for (rs = 0; rs <= CG_RESTARTS; rs++) {
                PetscInt left = (PetscInt)(cfg->max_iter - its), got;
                PTRY(KSPSetTolerances(ksp, cfg->rtol, 0.0, PETSC_DEFAULT, left), "conjugate gradients");
                PTRY(KSPSetInitialGuessNonzero(ksp, rs > 0 ? PETSC_TRUE : PETSC_FALSE), "conjugate gradients");
                PTRY(KSPSolve(ksp, b, x), "conjugate gradients");
                KSPConvergedReason reason;
                PTRY(KSPGetConvergedReason(ksp, &reason), "conjugate gradients");
                PTRY(KSPGetIterationNumber(ksp, &got), "conjugate gradients");
                its += (size_t)got;
                if (reason == KSP_DIVERGED_INDEFINITE_MAT || reason == KSP_DIVERGED_INDEFINITE_PC ||
                    reason == KSP_DIVERGED_BREAKDOWN) {
                    st = ntk_set_error(NTK_ERR_ARG, "conjugate gradients: the kernel plus ridge %g "
                                       "is not positive definite (PETSc: %s); increase the ridge",
                                       ridge, KSPConvergedReasons[reason]);
                    goto done;
                }
                /* the true residual b − (K + λI)x */
                PTRY(MatMult(A, x, r), "conjugate gradients");
                PTRY(VecAYPX(r, -1.0, b), "conjugate gradients");
                PetscReal rn;
                PTRY(VecNorm(r, NORM_2, &rn), "conjugate gradients");
                rel = rn / ynorm;
                if (!isfinite(rel)) {
                    st = ntk_set_error(NTK_ERR_NONFINITE, "conjugate gradients: the residual is not "
                                       "finite; the kernel or the targets overflow");
                    goto done;
                }
                if (rel <= cfg->rtol || its >= cfg->max_iter) break;
            }
        }
        PTRY(VecGetArray(x, &xa), "vectors");
        for (size_t i = 0; i < nloc; i++) A_loc[i * k + j] = xa[i];
        PTRY(VecRestoreArray(x, &xa), "vectors");
        if (its > info->iterations) info->iterations = its;
        if (rel > info->residual) info->residual = rel;
        if (rs > info->restarts) info->restarts = rs > CG_RESTARTS ? CG_RESTARTS : rs;
    }
    if (info->residual > cfg->rtol)
        st = ntk_set_error(NTK_ERR_NOCONV, "conjugate gradients stopped at relative residual %.3g "
                           "> rtol %.3g after %zu iterations; raise the iteration limit, the "
                           "preconditioner's rank or the ridge", info->residual, cfg->rtol,
                           info->iterations);
done:
    info->products = ntk_dop_products(op) - prod0;
    KSPDestroy(&ksp);
    VecDestroy(&b), VecDestroy(&x), VecDestroy(&r), VecDestroy(&ctx.diag);
    MatDestroy(&A);
    return ntk_mpi_agree(comm, st);
}

/* ---- the spectrum's extremes ------------------------------------------ */

/* One Krylov–Schur solve at tolerance tol (and, for the smallest, inner
 * CG solves at tol/100): vals, err and the largest err. */
static ntk_status eig_once(shell_ctx *c, Mat A, size_t nev, int which, double tol, size_t max_it,
                           const ntk_dnystrom *pre, double *vals, double *err, double *worst)
{
    EPS eps = NULL;
    ntk_status st = NTK_OK;
#define ctx (*c)   /* PTRY reports through the caller's shell context */
    PTRY(EPSCreate(ntk_dop_comm(c->op), &eps), "eigensolver");
    PTRY(EPSSetOperators(eps, A, NULL), "eigensolver");
    PTRY(EPSSetProblemType(eps, EPS_HEP), "eigensolver");
    PTRY(EPSSetType(eps, EPSKRYLOVSCHUR), "eigensolver");
    if (which > 0) {
        PTRY(EPSSetWhichEigenpairs(eps, EPS_LARGEST_REAL), "eigensolver");
    } else {
        /* the small end of a kernel's spectrum is clustered relative to its
         * width, where Krylov–Schur on K alone stalls: shift and invert at
         * 0, K⁻¹ applied by preconditioned CG to a relative residual 100
         * times below tol */
        ST stx;
        KSP inner;
        PC ipc;
        PTRY(EPSSetWhichEigenpairs(eps, EPS_TARGET_MAGNITUDE), "eigensolver");
        PTRY(EPSSetTarget(eps, 0.0), "eigensolver");
        PTRY(EPSGetST(eps, &stx), "eigensolver");
        PTRY(STSetType(stx, STSINVERT), "eigensolver");
        PTRY(STGetKSP(stx, &inner), "eigensolver");
        PTRY(KSPSetType(inner, KSPCG), "eigensolver");
        PTRY(KSPSetNormType(inner, KSP_NORM_UNPRECONDITIONED), "eigensolver");
        PTRY(KSPSetTolerances(inner, tol / 100 > 1e-15 ? tol / 100 : 1e-15, 0.0, PETSC_DEFAULT,
                              100000), "eigensolver");
        PTRY(KSPGetPC(inner, &ipc), "eigensolver");
        if (pre) {
            c->nys = pre;
            PTRY(PCSetType(ipc, PCSHELL), "eigensolver");
            PTRY(PCShellSetContext(ipc, c), "eigensolver");
            PTRY(PCShellSetApply(ipc, pc_nystrom), "eigensolver");
        } else {
            PTRY(PCSetType(ipc, PCNONE), "eigensolver");
        }
    }
    PTRY(EPSSetDimensions(eps, (PetscInt)nev, PETSC_DEFAULT, PETSC_DEFAULT), "eigensolver");
    PTRY(EPSSetTolerances(eps, tol, (PetscInt)max_it), "eigensolver");
    PTRY(EPSSetConvergenceTest(eps, EPS_CONV_REL), "eigensolver");
    PTRY(EPSSetFromOptions(eps), "eigensolver");
    PTRY(EPSSolve(eps), "eigensolver");
    PetscInt nconv;
    PTRY(EPSGetConverged(eps, &nconv), "eigensolver");
    if ((size_t)nconv < nev) {
        PetscInt its;
        EPSGetIterationNumber(eps, &its);
        st = ntk_set_error(NTK_ERR_NOCONV, "the spectrum: %d of the %zu %s eigenvalues converged "
                           "to relative residual %g in %d restarts; raise the iteration limit or "
                           "the tolerance", (int)nconv, nev, which > 0 ? "largest" : "smallest", tol,
                           (int)its);
        goto done;
    }
    *worst = 0.0;
    for (size_t i = 0; i < nev; i++) {
        PetscScalar kr, ki;
        PetscReal e;
        PTRY(EPSGetEigenvalue(eps, (PetscInt)i, &kr, &ki), "eigensolver");
        PTRY(EPSComputeError(eps, (PetscInt)i, EPS_ERROR_RELATIVE, &e), "eigensolver");
        vals[i] = kr;
        err[i] = e;
        if (!(e <= *worst)) *worst = e;
    }
done:
    EPSDestroy(&eps);
    return st;
#undef ctx
}

ntk_status ntk_deig(ntk_dop *op, size_t nev, int which, double tol, size_t max_it,
                    const ntk_dnystrom *pre, double *vals, double *err)
{
    ntk_clear_error();
    MPI_Comm comm = ntk_dop_comm(op);
    shell_ctx ctx = {.op = op, .st = NTK_OK};
    Mat A = NULL;
    ntk_status st = NTK_OK;
    double *e = NULL;
    if (nev == 0 || nev > ntk_dop_size(op) || !(tol > 0.0))
        return ntk_set_error(NTK_ERR_ARG, "the spectrum: %zu eigenvalues of %zu points at tolerance "
                             "%g; ask for 1..n and a tolerance > 0", nev, ntk_dop_size(op), tol);
    e = ntk_alloc(nev, sizeof(double), "residuals");
    st = ntk_mpi_agree(comm, e ? NTK_OK : NTK_ERR_NOMEM);
    if (st != NTK_OK) goto done;
    PTRY(make_shell(&ctx, &A), "the kernel operator");
    /* SLEPc tests its own residual, which under shift and invert is K⁻¹'s:
     * the residual on K itself can be larger (by up to the condition
     * number). Solve again with a tolerance scaled down by the excess, at
     * most 3 times and not below 1e-15, until every pair meets tol on K. */
    double cur = tol, worst = 0.0;
    for (int attempt = 0;; attempt++) {
        st = eig_once(&ctx, A, nev, which, cur, max_it, pre, vals, e, &worst);
        if (st != NTK_OK || worst <= tol || attempt == 3 || cur <= 1e-15) break;
        cur = cur * tol / worst / 2 > 1e-15 ? cur * tol / worst / 2 : 1e-15;
    }
    if (err && st == NTK_OK) memcpy(err, e, nev * sizeof(double));
done:
    free(e);
    MatDestroy(&A);
    return ntk_mpi_agree(comm, st);
}

/* ---- kernel gradient flow ------------------------------------------- */

ntk_status ntk_dflow(ntk_dop *op, const double *r_loc, double tau, double tol, size_t max_it,
                     double *G_loc, size_t *its_out)
{
    ntk_clear_error();
    MPI_Comm comm = ntk_dop_comm(op);
    size_t r0, nloc;
    ntk_dop_range(op, &r0, &nloc);
    shell_ctx ctx = {.op = op, .st = NTK_OK};
    Mat A = NULL;
    MFN mfn = NULL;
    FN fn;
    Vec b = NULL, x = NULL;
    ntk_status st = NTK_OK;
    *its_out = 0;
    if (!(tau >= 0.0) || !isfinite(tau) || !(tol > 0.0))
        return ntk_set_error(NTK_ERR_ARG, "kernel gradient flow: the time scale %g must be finite "
                             "and >= 0 and the tolerance %g > 0", tau, tol);
    if (tau == 0.0) {   /* h = 0: nothing has moved */
        memset(G_loc, 0, nloc * sizeof(double));
        return NTK_OK;
    }
    PTRY(make_shell(&ctx, &A), "the kernel operator");
    PTRY(MatCreateVecs(A, &x, &b), "vectors");
    PetscScalar *ba;
    PTRY(VecGetArray(b, &ba), "vectors");
    memcpy(ba, r_loc, nloc * sizeof(double));
    PTRY(VecRestoreArray(b, &ba), "vectors");
    PTRY(MFNCreate(comm, &mfn), "MFN");
    PTRY(MFNSetOperator(mfn, A), "MFN");
    PTRY(MFNSetType(mfn, MFNKRYLOV), "MFN");
    PTRY(MFNGetFN(mfn, &fn), "MFN");
    PTRY(FNSetType(fn, FNPHI), "MFN");
    PTRY(FNPhiSetIndex(fn, 1), "MFN");
    PTRY(FNSetScale(fn, -tau, tau), "MFN");
    PTRY(MFNSetTolerances(mfn, tol, (PetscInt)max_it), "MFN");
    PTRY(MFNSetErrorIfNotConverged(mfn, PETSC_FALSE), "MFN");
    PTRY(MFNSetFromOptions(mfn), "MFN");
    PTRY(MFNSolve(mfn, b, x), "MFN");
    MFNConvergedReason reason;
    PTRY(MFNGetConvergedReason(mfn, &reason), "MFN");
    PetscInt its;
    PTRY(MFNGetIterationNumber(mfn, &its), "MFN");
    *its_out = (size_t)its;
    if (reason < 0) {
        st = ntk_set_error(NTK_ERR_NOCONV, "kernel gradient flow: SLEPc's MFN did not reach "
                           "tolerance %g in %d iterations (%s); raise the iteration limit",
                           tol, (int)its, MFNConvergedReasons[reason]);
        goto done;
    }
    const PetscScalar *xa;
    PTRY(VecGetArrayRead(x, &xa), "vectors");
    memcpy(G_loc, xa, nloc * sizeof(double));
    PTRY(VecRestoreArrayRead(x, &xa), "vectors");
done:
    MFNDestroy(&mfn);
    VecDestroy(&b), VecDestroy(&x);
    MatDestroy(&A);
    return ntk_mpi_agree(comm, st);
}
