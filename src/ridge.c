/* Kernel ridge regression, docs/theory.md §6.7. */
#include "internal.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

/* K (n,n) symmetric, Y (n,k) -> alpha_out (n,k) = (λI + K)^{-1} Y (dposv,
 * one factorisation for the k right-hand sides). */
ntk_status ntk_kernel_ridge(const double *K, size_t n, const double *y, size_t k, double ridge,
                            double *alpha_out)
{
    ntk_clear_error();
    if (!K || !y || !alpha_out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: K, y and alpha_out must not be NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: n = 0; pass training points");
    if (k == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: k = 0 outputs; pass y of shape (n, k >= 1)");
    if (!isfinite(ridge) || ridge < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: ridge %g must be finite and >= 0",
                             ridge);
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    NTK_TRY(ntk_check_finite(y, ntk_size_mul(n, k, 1, 1), "y"));
    double *A = ntk_alloc(n * n, sizeof(double), "kernel ridge matrix");
    if (!A) return NTK_ERR_NOMEM;
    // docs/theory.md §6.7: f(x) = K(x, X) (λI + K)^{-1} y
    memcpy(A, K, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) A[i * n + i] += ridge;
    memmove(alpha_out, y, n * k * sizeof(double));
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, (lapack_int)k, A,
                                    (lapack_int)n, alpha_out, (lapack_int)k);
    free(A);
    if (info > 0)
        return ntk_set_error(NTK_ERR_LAPACK,
                             "kernel ridge: ridge*I + K is not positive definite (leading minor "
                             "%d fails, ridge = %g); increase the ridge",
                             (int)info, ridge);
    if (info != 0)
        return ntk_set_error(info == LAPACK_TRANSPOSE_MEMORY_ERROR ? NTK_ERR_NOMEM
                                                                   : NTK_ERR_LAPACK,
                             "kernel ridge: dposv failed (info = %d) for n = %zu", (int)info, n);
    return NTK_OK;
}
