/* Kernel ridge regression on a kernel operator by preconditioned conjugate
 * gradients (docs/theory.md §9): A (n,k) = (K + μI)⁻¹ Y with K never stored
 * when the operator is matrix-free.
 *
 * Preconditioner (Nyström, after Frangella, Tropp and Udell 2023). A
 * randomly pivoted Cholesky factor F (n, r) (src/rpchol.c) gives
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

/* The preconditioner: U (n, q) orthonormal, in the first q columns of an
 * (n, ld) array, and the factors c_i. */
typedef struct {
    size_t q, ld;
    double *U;      /* (n, ld) */
    double *c;      /* (q) (λ̂_q + μ)/(λ̂_i + μ) − 1 */
    double *W;      /* (q, k) scratch */
} nystrom;

/* U Σ Vᵀ = F (n, r; leading dimension ld) in place: F becomes U (dgesdd, jobz 'O'); keeps the
 * singular values whose square is above n·ε of the largest (the rounding
 * level of F Fᵀ). */
static ntk_status nystrom_build(nystrom *p, double *F, size_t n, size_t r, size_t ld, double mu,
                                size_t k)
{
    p->q = 0, p->ld = ld, p->U = F;
    /* c (r), W (r,k) and dgesdd's Vᵀ (r,r), which is not used */
    p->c = ntk_alloc(ntk_size_mul(r, 1 + k + r, 1, 1), sizeof(double), "preconditioner");
    if (!p->c) return NTK_ERR_NOMEM;
    p->W = p->c + r;
    double *s = p->c, *vt = p->W + r * k;
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'O', (lapack_int)n, (lapack_int)r, F,
                                     (lapack_int)ld, s, NULL, 1, vt, (lapack_int)r);
    if (info != 0)
        return ntk_set_error(info == LAPACK_TRANSPOSE_MEMORY_ERROR || info == LAPACK_WORK_MEMORY_ERROR
                                 ? NTK_ERR_NOMEM : NTK_ERR_LAPACK,
                             "preconditioner: SVD of the %zu x %zu factor failed (info = %d)", n, r,
                             (int)info);
    size_t q = 0;
    while (q < r && s[q] * s[q] > (double)n * DBL_EPSILON * s[0] * s[0]) q++;
    double low = q ? s[q - 1] * s[q - 1] : 0.0;
    if (!(low + mu > 0.0)) return NTK_OK;   /* μ = 0 and nothing kept: none */
    for (size_t i = 0; i < q; i++) s[i] = (low + mu) / (s[i] * s[i] + mu) - 1.0;
    p->q = q;
    return NTK_OK;
}

/* V (n,k) ← P⁻¹ V = V + U diag(c) Uᵀ V */
static void nystrom_apply(const nystrom *p, size_t n, size_t k, double *V)
{
    if (p->q == 0) return;
    int q = (int)p->q, ld = (int)p->ld;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, q, (int)k, (int)n, 1.0, p->U, ld, V,
                (int)k, 0.0, p->W, (int)k);
    for (int i = 0; i < q; i++) cblas_dscal((int)k, p->c[i], p->W + (size_t)i * k, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, q, 1.0, p->U, ld, p->W,
                (int)k, 1.0, V, (int)k);
}

typedef struct {
    ntk_op *op;
    size_t n, k;
    double mu, rtol;
    const nystrom *pre;
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
    nystrom_apply(s->pre, n, k, s->Z);
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
    nystrom_apply(s->pre, n, k, s->Z);
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
    double *F = r ? ntk_alloc(ntk_size_mul(n, r, 1, 1), sizeof(double), "preconditioner factor")
                  : NULL;
    double *buf = ntk_alloc(ntk_size_mul(n, 4 * k, 1, 1), sizeof(double), "conjugate gradients");
    double *small = ntk_alloc(2 * k + k, sizeof(double), "conjugate gradients");
    nystrom pre = {0};
    ntk_status st = (r && !F) || !buf || !small ? NTK_ERR_NOMEM : NTK_OK;
    if (st == NTK_OK && r) {
        st = ntk_op_rpcholesky(op, r, 0.0, cfg->seed, F, &info->precond_rank, &info->precond_trace_err);
        if (st == NTK_OK && info->precond_rank)
            st = nystrom_build(&pre, F, n, info->precond_rank, r, ridge, k);
    }
    if (st == NTK_OK) {
        cg_state s = {.op = op, .n = n, .k = k, .mu = ridge, .rtol = cfg->rtol, .pre = &pre,
                      .A = A, .R = buf, .Z = buf + n * k, .P = buf + 2 * n * k, .Q = buf + 3 * n * k,
                      .ynorm = small, .rz = small + k, .active = (unsigned char *)(small + 2 * k)};
        st = cg_solve(&s, Y, cfg, info);
    }
    free(F), free(buf), free(small), free(pre.c);
    return st;
}
