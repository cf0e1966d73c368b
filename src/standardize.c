/* Standardisation of the inputs to mean 0 and Tr Σ = d. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* X (n,d) -> mean (d) and scale with Tr Σ̂ = d after x ↦ scale·(x − mean),
 * where Σ̂ = 1/n Σ_i (x_i − mean)(x_i − mean)ᵀ (divisor n). */
ntk_status ntk_standardize_fit(const double *X, size_t n, size_t d, double *mean,
                               double *scale)
{
    ntk_clear_error();
    if (!X || !mean || !scale || n == 0 || d == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_standardize_fit: empty data or NULL output");
    memset(mean, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += X[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    double ss = 0.0;   /* n·Tr Σ̂ */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double r = X[i * d + j] - mean[j];
            ss += r * r;
        }
    if (!isfinite(ss))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows %s", n,
                             ntk_check_finite(X, n * d, "X") == NTK_OK
                                 ? "are so large that their squares overflow; rescale the data"
                                 : "contain NaN or Inf");
    if (!(ss > 0))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows are all identical",
                             n);
    *scale = sqrt((double)d * (double)n / ss);
    if (!isfinite(*scale))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows differ by so little "
                             "(n·Tr Σ̂ = %.3g) that the scale overflows; rescale the data or "
                             "drop standardisation", n, ss);
    return NTK_OK;
}

/* X (n,d) ← scale·(X − 1 meanᵀ). */
void ntk_standardize_apply(double *X, size_t n, size_t d, const double *mean, double scale)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) X[i * d + j] = scale * (X[i * d + j] - mean[j]);
}

