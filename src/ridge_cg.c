/* Kernel ridge regression on a kernel operator by preconditioned conjugate
 * gradients (docs/theory.md §9): A (n,k) = (K + μI)⁻¹ Y with K never stored
 * when the operator is matrix-free.
 *
 * Preconditioner (Nyström, after Frangella, Tropp and Udell 2023;
 * ntk_nystrom, built once and reusable for every ridge). A randomly
 * pivoted Cholesky factor F (n, r) (src/rpchol.c) gives
 * K̂ = F Fᵀ = U Λ̂ Uᵀ (thin SVD of F, Λ̂ = Σ², λ̂_r its smallest kept value),
 * and
 *     P⁻¹ = (λ̂_r + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − U Uᵀ),
 * applied as v + U·diag((λ̂_r + μ)/(λ̂_i + μ) − 1)·Uᵀv in O(n·r). The top of
 * the spectrum, which K̂ captures, is mapped to about λ̂_r + μ; what K̂ misses
 * is at most its trace error. P is symmetric positive definite, so CG on
 * K + μI with it converges for any μ > 0 (and for μ = 0 when K is definite).
 *
 * Iteration. The k columns run as independent CG recurrences that share
 * one operator product per step (a block of k vectors: BLAS-3 for every
 * mode). A column stops when its recurred residual satisfies
 * ‖r_j‖₂ ≤ rtol·‖y_j‖₂. The recurred residual drifts from the true one by
 * rounding, so at the end the true residual Y − (K + μI)A is computed with
 * one more product; a column still above rtol restarts from it (at most
 * CG_RESTARTS times). The result's info.residual is the true relative
 * residual, max over columns. */
#include "internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#define CG_RESTARTS 3

ntk_cg_config ntk_cg_config_default(void)
{
    ntk_cg_config c = {.rtol = 1e-8, .max_iter = 1000, .precond_rank = 0, .seed = 1, .cancel = NULL};
    return c;
}

/* The preconditioner's basis: U (n, q) orthonormal in the first q columns
 * of an (n, ld) array, and Λ̂ (q), descending. The factors c_i depend on
 * μ and are made per solve. */
struct ntk_nystrom {
    size_t n, q, ld;
    double *U;        /* (n, ld) */
    double *lam;      /* (q) */
    double trace_err; /* of the factor it came from */
};

/* U Σ Vᵀ = F (n, r; leading dimension ld) in place: F becomes U (dgesdd,
 * jobz 'O'); keeps the directions whose σ² is above n·ε of the largest
 * (the rounding level of F Fᵀ). */
static ntk_status nystrom_svd(ntk_nystrom *p, double *F, size_t n, size_t r, size_t ld)
{
    p->n = n, p->q = 0, p->ld = ld, p->U = F;
    p->lam = ntk_alloc(ntk_size_mul(r, 1 + r, 1, 1), sizeof(double), "preconditioner");
    if (!p->lam) return NTK_ERR_NOMEM;
    double *s = p->lam, *vt = p->lam + r;   /* Vᵀ (r,r) is not used */
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'O', (lapack_int)n, (lapack_int)r, F,
                                     (lapack_int)ld, s, NULL, 1, vt, (lapack_int)r);
    if (info != 0)
        return ntk_set_error(info == LAPACK_TRANSPOSE_MEMORY_ERROR || info == LAPACK_WORK_MEMORY_ERROR
                                 ? NTK_ERR_NOMEM : NTK_ERR_LAPACK,
                             "preconditioner: SVD of the %zu x %zu factor failed (info = %d)", n, r,
                             (int)info);
    size_t q = 0;
    while (q < r && s[q] * s[q] > (double)n * DBL_EPSILON * s[0] * s[0]) q++;
    for (size_t i = 0; i < q; i++) s[i] *= s[i];
    p->q = q;
    return NTK_OK;
}

ntk_status ntk_nystrom_create(ntk_op *op, size_t rank, uint64_t seed, ntk_nystrom **out)
{
    ntk_clear_error();
    if (!op || !out) return ntk_set_error(NTK_ERR_ARG, "ntk_nystrom_create: op and out must not be NULL");
    *out = NULL;
    size_t n = ntk_op_size(op), got = 0;
    if (rank == 0 || rank > n)
        return ntk_set_error(NTK_ERR_ARG, "ntk_nystrom_create: rank %zu must be in 1..n = %zu", rank, n);
    ntk_nystrom *p = ntk_calloc(1, sizeof *p, "preconditioner");
    double *F = ntk_alloc(ntk_size_mul(n, rank, 1, 1), sizeof(double), "preconditioner factor");
    ntk_status st = p && F ? NTK_OK : NTK_ERR_NOMEM;
    if (st == NTK_OK) st = ntk_op_rpcholesky(op, rank, 0.0, seed, F, &got, &p->trace_err);
    if (st == NTK_OK) st = nystrom_svd(p, F, n, got, rank);
    if (st != NTK_OK) {
        if (p) p->U = F;
        ntk_nystrom_free(p);
        if (!p) free(F);
        return st;
    }
    *out = p;
    return NTK_OK;
}

void ntk_nystrom_free(ntk_nystrom *p)
{
    if (!p) return;
    free(p->U), free(p->lam), free(p);
}

size_t ntk_nystrom_rank(const ntk_nystrom *p) { return p ? p->q : 0; }

/* P⁻¹ for one μ: c_i = (λ̂_q + μ)/(λ̂_i + μ) − 1, and (q, k) scratch. */
typedef struct {
    const ntk_nystrom *p;
    size_t q;         /* 0: no preconditioning */
    double *c, *W;
} precond;

static ntk_status precond_make(precond *P, const ntk_nystrom *p, double mu, size_t k)
{
    memset(P, 0, sizeof *P);
    if (!p || p->q == 0 || !(p->lam[p->q - 1] + mu > 0.0)) return NTK_OK;   /* μ = 0 and K̂ = 0 */
    P->c = ntk_alloc(ntk_size_mul(p->q, 1 + k, 1, 1), sizeof(double), "preconditioner");
    if (!P->c) return NTK_ERR_NOMEM;
    P->W = P->c + p->q;
    double low = p->lam[p->q - 1];
    for (size_t i = 0; i < p->q; i++) P->c[i] = (low + mu) / (p->lam[i] + mu) - 1.0;
    P->p = p, P->q = p->q;
    return NTK_OK;
}

/* V (n,k) ← P⁻¹ V = V + U diag(c) Uᵀ V */
static void precond_apply(const precond *P, size_t n, size_t k, double *V)
{
    if (P->q == 0) return;
    int q = (int)P->q, ld = (int)P->p->ld;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, q, (int)k, (int)n, 1.0, P->p->U, ld, V,
                (int)k, 0.0, P->W, (int)k);
    for (int i = 0; i < q; i++) cblas_dscal((int)k, P->c[i], P->W + (size_t)i * k, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, q, 1.0, P->p->U, ld,
                P->W, (int)k, 1.0, V, (int)k);
}

typedef struct {
    ntk_op *op;
    size_t n, k;
    double mu, rtol;
    const precond *pre;
    double *A, *R, *Z, *P, *Q;   /* (n,k) each */
    double *ynorm, *rz;          /* (k) */
    unsigned char *active;       /* (k) */
} cg_state;

/* Q = (K + μI) V */
static ntk_status shifted_apply(cg_state *s, const double *V, double *Q)
{
    NTK_TRY(ntk_op_apply(s->op, V, s->k, Q));
    if (s->mu != 0.0) ntk_axpy(s->n * s->k, s->mu, V, Q);
    return NTK_OK;
}

static double col_dot(const cg_state *s, const double *a, const double *b, size_t j)
{
    return cblas_ddot((int)s->n, a + j, (int)s->k, b + j, (int)s->k);
}

/* Z = P⁻¹R, P = Z for the active columns (0 for the others), rz */
static size_t cg_begin(cg_state *s)
{
    size_t n = s->n, k = s->k, live = 0;
    memcpy(s->Z, s->R, n * k * sizeof(double));
    precond_apply(s->pre, n, k, s->Z);
    memcpy(s->P, s->Z, n * k * sizeof(double));
    for (size_t j = 0; j < k; j++) {
        double rn = sqrt(col_dot(s, s->R, s->R, j));
        s->active[j] = rn > s->rtol * s->ynorm[j];
        s->rz[j] = col_dot(s, s->R, s->Z, j);
        if (!s->active[j]) cblas_dscal((int)n, 0.0, s->P + j, (int)k);
        live += s->active[j];
    }
    return live;
}

/* One CG step for every active column; returns how many stay active. */
static ntk_status cg_step(cg_state *s, size_t *live)
{
    size_t n = s->n, k = s->k;
    NTK_TRY(shifted_apply(s, s->P, s->Q));
    for (size_t j = 0; j < k; j++) {
        if (!s->active[j]) continue;
        double pq = col_dot(s, s->P, s->Q, j);
        if (!(pq > 0.0))
            return ntk_set_error(NTK_ERR_ARG, "conjugate gradients: pᵀ(K + %gI)p = %g <= 0; the "
                                 "kernel plus ridge is not positive definite; increase the ridge",
                                 s->mu, pq);
        double alpha = s->rz[j] / pq;
        cblas_daxpy((int)n, alpha, s->P + j, (int)k, s->A + j, (int)k);
        cblas_daxpy((int)n, -alpha, s->Q + j, (int)k, s->R + j, (int)k);
        if (sqrt(col_dot(s, s->R, s->R, j)) <= s->rtol * s->ynorm[j]) s->active[j] = 0;
    }
    memcpy(s->Z, s->R, n * k * sizeof(double));
    precond_apply(s->pre, n, k, s->Z);
    *live = 0;
    for (size_t j = 0; j < k; j++) {
        if (!s->active[j]) {
            cblas_dscal((int)n, 0.0, s->P + j, (int)k);
            continue;
        }
        double rz = col_dot(s, s->R, s->Z, j), beta = rz / s->rz[j];
        s->rz[j] = rz;
        cblas_dscal((int)n, beta, s->P + j, (int)k);
        cblas_daxpy((int)n, 1.0, s->Z + j, (int)k, s->P + j, (int)k);
        ++*live;
    }
    return NTK_OK;
}

/* R = Y − (K + μI)A; the largest relative residual over the columns */
static ntk_status true_residual(cg_state *s, const double *Y, double *worst)
{
    NTK_TRY(shifted_apply(s, s->A, s->R));
    for (size_t i = 0; i < s->n * s->k; i++) s->R[i] = Y[i] - s->R[i];
    *worst = 0.0;
    for (size_t j = 0; j < s->k; j++) {
        double rn = sqrt(col_dot(s, s->R, s->R, j));
        double rel = s->ynorm[j] > 0.0 ? rn / s->ynorm[j] : rn;
        if (!(rel <= *worst)) *worst = rel;
    }
    return NTK_OK;
}

static ntk_status cg_solve(cg_state *s, const double *Y, const ntk_cg_config *cfg, ntk_cg_info *info)
{
    size_t n = s->n, k = s->k;
    memset(s->A, 0, n * k * sizeof(double));
    memcpy(s->R, Y, n * k * sizeof(double));
    for (size_t j = 0; j < k; j++) s->ynorm[j] = sqrt(col_dot(s, Y, Y, j));
    double worst = 1.0;
    for (int rs = 0; rs <= CG_RESTARTS; rs++) {
        size_t live = cg_begin(s);
        while (live && info->iterations < cfg->max_iter) {
            if (cfg->cancel && *cfg->cancel)
                return ntk_set_error(NTK_ERR_INTERRUPTED, "conjugate gradients: interrupted after "
                                     "%zu iterations", info->iterations);
            NTK_TRY(cg_step(s, &live));
            info->iterations++;
        }
        NTK_TRY(true_residual(s, Y, &worst));
        info->residual = worst;
        info->restarts = rs;
        if (!isfinite(worst))
            return ntk_set_error(NTK_ERR_NONFINITE, "conjugate gradients: the residual is not "
                                 "finite; the kernel or the targets overflow");
        if (worst <= s->rtol || info->iterations >= cfg->max_iter) break;
    }
    if (worst > s->rtol)
        return ntk_set_error(NTK_ERR_NOCONV, "conjugate gradients stopped at relative residual "
                             "%.3g > rtol %.3g after %zu iterations; raise the iteration limit, "
                             "the preconditioner's rank or the ridge", worst, s->rtol,
                             info->iterations);
    return NTK_OK;
}

static ntk_status cg_check(ntk_op *op, const double *Y, size_t k, double ridge,
                           const ntk_cg_config *cfg, const double *A)
{
    const char *fn = "ntk_kernel_ridge_op";
    if (!op || !Y || !A || !cfg)
        return ntk_set_error(NTK_ERR_ARG, "%s: op, Y, A and the configuration must not be NULL", fn);
    size_t n = ntk_op_size(op);
    if (k == 0) return ntk_set_error(NTK_ERR_ARG, "%s: k = 0 outputs; pass Y of shape (n, k >= 1)", fn);
    if (n > (size_t)ntk_blas_int_max() || k > (size_t)ntk_blas_int_max() / n)
        return ntk_set_error(NTK_ERR_ARG, "%s: n·k = %zu·%zu exceeds the BLAS integer range", fn, n, k);
    if (!isfinite(ridge) || ridge < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: ridge %g must be finite and >= 0", fn, ridge);
    if (!(cfg->rtol > 0.0 && cfg->rtol < 1.0))
        return ntk_set_error(NTK_ERR_ARG, "%s: rtol %g must be in (0, 1)", fn, cfg->rtol);
    if (cfg->max_iter == 0) return ntk_set_error(NTK_ERR_ARG, "%s: max_iter must be >= 1", fn);
    return ntk_check_finite(Y, n * k, "Y");
}

ntk_status ntk_kernel_ridge_op(ntk_op *op, const double *Y, size_t k, double ridge,
                               const ntk_cg_config *cfg, double *A, ntk_cg_info *info)
{
    ntk_clear_error();
    ntk_cg_info local = {0};
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    NTK_TRY(cg_check(op, Y, k, ridge, cfg, A));
    size_t n = ntk_op_size(op), r = cfg->precond_rank < n ? cfg->precond_rank : n;
    if (cfg->precond && cfg->precond->n != n)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge_op: the preconditioner is for %zu "
                             "points, the operator has %zu", cfg->precond->n, n);
    ntk_nystrom *own = NULL;
    if (!cfg->precond && r) NTK_TRY(ntk_nystrom_create(op, r, cfg->seed, &own));
    const ntk_nystrom *pn = cfg->precond ? cfg->precond : own;
    info->precond_rank = ntk_nystrom_rank(pn);
    info->precond_trace_err = pn ? pn->trace_err : 0.0;
    double *buf = ntk_alloc(ntk_size_mul(n, 4 * k, 1, 1), sizeof(double), "conjugate gradients");
    double *small = ntk_alloc(3 * k, sizeof(double), "conjugate gradients");
    precond P = {0};
    ntk_status st = !buf || !small ? NTK_ERR_NOMEM : precond_make(&P, pn, ridge, k);
    if (st == NTK_OK) {
        cg_state s = {.op = op, .n = n, .k = k, .mu = ridge, .rtol = cfg->rtol, .pre = &P,
                      .A = A, .R = buf, .Z = buf + n * k, .P = buf + 2 * n * k, .Q = buf + 3 * n * k,
                      .ynorm = small, .rz = small + k, .active = (unsigned char *)(small + 2 * k)};
        st = cg_solve(&s, Y, cfg, info);
    }
    free(buf), free(small), free(P.c);
    ntk_nystrom_free(own);
    return st;
}
