/* Eigen-decompositions of kernels and distances between kernels. */
#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#define SYM_RTOL 1e-8

/* K (n,n): NTK_OK when max |K_ij − K_ji| <= 1e-8 · max |K_ij| (and finite).
 * Shared with kgd.c (ntk_kernel_ridge). */
ntk_status ntk_check_symmetric(const double *K, size_t n, const char *what)
{
    NTK_TRY(ntk_check_finite(K, ntk_size_mul(n, n, 1, 1), what));
    double asym = 0.0, scale = 0.0;
    size_t ai = 0, aj = 0;
    /* 64×64 tiles, so that the transposed reads K[j][i] stay in cache */
    const size_t T = 64;
    for (size_t i0 = 0; i0 < n; i0 += T)
        for (size_t j0 = 0; j0 <= i0; j0 += T)
            for (size_t i = i0; i < n && i < i0 + T; i++)
                for (size_t j = j0; j < j0 + T && j <= i; j++) {
                    double a = K[i * n + j], b = K[j * n + i];
                    double e = fabs(a - b);
                    if (e > asym) {
                        asym = e;
                        ai = i;
                        aj = j;
                    }
                    if (fabs(a) > scale) scale = fabs(a);
                    if (fabs(b) > scale) scale = fabs(b);
                }
    if (asym > SYM_RTOL * scale)
        return ntk_set_error(NTK_ERR_ARG,
                             "%s is not symmetric: max |K_ij - K_ji| = %.3g at (%zu,%zu), "
                             "%.3g relative to max |K_ij| (tolerance %g); symmetrise it with "
                             "(K + K^T)/2",
                             what, asym, ai, aj, asym / scale, SYM_RTOL);
    return NTK_OK;
}

/* A (n,n) overwritten -> w (n) ascending; with vectors, A's column k holds
 * eigenvector k. Only the lower triangle of A is read (dsyevd, uplo 'L'). */
static ntk_status eigh_lower(double *A, size_t n, double *w, int vectors)
{
    // dsyevd needs 1 + 6n + 2n² doubles of work with vectors (2n + 1 without),
    // LAPACKE's row-major wrapper one transposed copy of A, plus A itself
    size_t nn = ntk_size_mul(n, n, 1, 1);
    size_t work = vectors ? 2 * nn + 6 * n + 1 : 2 * n + 1;
    size_t bytes = nn >= SIZE_MAX / 8 ? SIZE_MAX
                                      : ntk_size_mul(2 * nn + work, sizeof(double), 1, 1);
    NTK_TRY(ntk_mem_check(bytes, 0, "the eigendecomposition's workspace"));
    if (n > (size_t)INT32_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "eigendecomposition: n = %zu is too large for LAPACK",
                             n);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'L',
                                     (lapack_int)n, A, (lapack_int)n, w);
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return ntk_set_error(NTK_ERR_NOMEM,
                             "eigendecomposition: LAPACKE could not allocate its workspace "
                             "for n = %zu; reduce n",
                             n);
    if (info != 0)
        return ntk_set_error(NTK_ERR_LAPACK,
                             "dsyevd failed (info = %d) on an %zu x %zu matrix; check the "
                             "kernel for extreme values",
                             (int)info, n, n);
    return NTK_OK;
}

/* K (n,n) symmetric -> evals (n) ascending, evecs (n,n) column k = vector k, or NULL. */
ntk_status ntk_eigh(const double *K, size_t n, double *evals, double *evecs)
{
    ntk_clear_error();
    if (!K || !evals)
        return ntk_set_error(NTK_ERR_ARG, "ntk_eigh: K and evals must not be NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_eigh: n = 0; pass a non-empty matrix");
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    double *A = evecs ? evecs : ntk_alloc(n * n, sizeof(double), "eigendecomposition copy");
    if (!A) return NTK_ERR_NOMEM;
    if (A != K) memcpy(A, K, n * n * sizeof(double));
    ntk_status st = eigh_lower(A, n, evals, evecs != NULL);
    if (!evecs) free(A);
    return st;
}

/* K (n,n) symmetric -> extreme eigenvalues and their ratio. */
ntk_status ntk_spectrum_summary_of(const double *K, size_t n, ntk_spectrum_summary *out)
{
    ntk_clear_error();
    if (!K || !out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_spectrum_summary_of: K and out must not be NULL");
    if (n == 0)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_spectrum_summary_of: n = 0; pass a non-empty matrix");
    double *w = ntk_alloc(n, sizeof(double), "eigenvalues");
    if (!w) return NTK_ERR_NOMEM;
    ntk_status st = ntk_eigh(K, n, w, NULL);
    if (st == NTK_OK) {
        out->lmin = w[0];
        out->lmax = w[n - 1];
        out->cond = w[0] > 0.0 ? w[n - 1] / w[0] : INFINITY;
    }
    free(w);
    return st;
}

/* A (n,n) -> ‖A‖_F, summed row by row (BLAS counts are int). */
static double fro_norm(const double *A, size_t n)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = cblas_dnrm2((int)n, A + i * n, 1);
        ss += r * r;
    }
    return sqrt(ss);
}

/* S (n,n) symmetric, overwritten -> ‖S‖_op = max |λ| (w: n scratch). */
static ntk_status op_norm_sym(double *S, size_t n, double *w, double *out)
{
    NTK_TRY(eigh_lower(S, n, w, 0));
    *out = fmax(fabs(w[0]), fabs(w[n - 1]));
    return NTK_OK;
}

/* A, B (n,n) symmetric -> ‖A − B‖_op, ‖A − B‖_F and both relative to B. */
ntk_status ntk_kernel_distance(const double *A, const double *B, size_t n, ntk_kernel_dist *out)
{
    ntk_clear_error();
    if (!A || !B || !out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_distance: A, B and out must not be NULL");
    if (n == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_distance: n = 0; pass non-empty matrices");
    NTK_TRY(ntk_check_symmetric(A, n, "kernel A"));
    NTK_TRY(ntk_check_symmetric(B, n, "reference kernel B"));
    double *D = ntk_alloc(n * n + n, sizeof(double), "kernel difference");
    if (!D) return NTK_ERR_NOMEM;
    double *w = D + n * n;
    // D = A − B, row by row (BLAS counts are int)
    memcpy(D, A, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) cblas_daxpy((int)n, -1.0, B + i * n, 1, D + i * n, 1);
    double bop = 0.0;
    out->fro = fro_norm(D, n);
    ntk_status st = op_norm_sym(D, n, w, &out->op);
    if (st == NTK_OK) {
        memcpy(D, B, n * n * sizeof(double));
        st = op_norm_sym(D, n, w, &bop);
    }
    double bfro = fro_norm(B, n);
    free(D);
    NTK_TRY(st);
    out->rel_op = bop > 0.0 ? out->op / bop : (out->op > 0.0 ? INFINITY : 0.0);
    out->rel_fro = bfro > 0.0 ? out->fro / bfro : (out->fro > 0.0 ? INFINITY : 0.0);
    return NTK_OK;
}

/* K, KN (n,n) symmetric, K positive definite -> ‖K^{-1/2} KN K^{-1/2} − I‖_op.
 * With K = QΛQᵀ, K^{-1/2} = Q Λ^{-1/2} Qᵀ and, Q being orthogonal,
 *   ‖K^{-1/2} KN K^{-1/2} − I‖_op = ‖Mᵀ KN M − I‖_op,  M = Q Λ^{-1/2},
 * which saves the two outer products with Q. */
ntk_status ntk_normalized_distance(const double *K, const double *KN, size_t n, double *out)
{
    ntk_clear_error();
    if (!K || !KN || !out)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_normalized_distance: K, KN and out must not be NULL");
    if (n == 0)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_normalized_distance: n = 0; pass non-empty matrices");
    NTK_TRY(ntk_check_symmetric(KN, n, "KN"));
    double *M = ntk_alloc(3 * n * n + n, sizeof(double), "normalized distance scratch");
    if (!M) return NTK_ERR_NOMEM;
    double *T = M + n * n, *C = T + n * n, *lam = C + n * n;
    ntk_status st = ntk_eigh(K, n, lam, M);
    if (st == NTK_OK && !(lam[0] > 0.0))
        st = ntk_set_error(NTK_ERR_ARG,
                           "ntk_normalized_distance: K is not positive definite (smallest "
                           "eigenvalue %.3g); K^{-1/2} needs lambda_min > 0, add a ridge to K",
                           lam[0]);
    if (st == NTK_OK) {
        // M = Q Λ^{-1/2}: scale column k by λ_k^{-1/2}
        for (size_t k = 0; k < n; k++) lam[k] = 1.0 / sqrt(lam[k]);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++) M[i * n + k] *= lam[k];
        // T = KN M (dsymm), C = Mᵀ T (dgemm), C − I
        cblas_dsymm(CblasRowMajor, CblasLeft, CblasLower, (int)n, (int)n, 1.0, KN, (int)n, M,
                    (int)n, 0.0, T, (int)n);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, M,
                    (int)n, T, (int)n, 0.0, C, (int)n);
        for (size_t i = 0; i < n; i++) C[i * n + i] -= 1.0;
        st = op_norm_sym(C, n, lam, out);
    }
    free(M);
    return st;
}
