/* Shared by the tests of kernel-GD models (tests/test_run.c,
 * tests/test_run_deep.c): the spectrum-dependent parts of their rounding
 * bounds, for K (n,n) with test block Kt (nt,n): λmax, the smallest nonzero
 * |λ| (λ⁺_min), whether K has a null space, ‖K_test‖_{2,∞}. Include after
 * harness.h. */
#ifndef NTK_TEST_KGD_SPECTRUM_H
#define NTK_TEST_KGD_SPECTRUM_H

#include "harness.h"
#include "ntkit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_RTOL 1e-12   /* kgd.c: |λ| ≤ this·λmax counts as 0 */

static inline double norm2(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

typedef struct {
    double lmax, lpos, kt;
    int singular;
} model_spec;

static inline model_spec model_spectrum(const double *K, size_t n, const double *Kt, size_t nt)
{
    model_spec s = {0, 0, 0, 0};
    double *A = malloc(n * n * sizeof(double)), *w = malloc(n * sizeof(double));
    memcpy(A, K, n * n * sizeof(double));
    CHECK_OK(ntk_eigh(A, n, w, NULL));
    s.lmax = fmax(fabs(w[0]), fabs(w[n - 1]));
    s.lpos = s.lmax;
    for (size_t k = 0; k < n; k++) {
        if (fabs(w[k]) <= ZERO_RTOL * s.lmax) s.singular = 1;
        else s.lpos = fmin(s.lpos, fabs(w[k]));
    }
    for (size_t i = 0; i < nt; i++) s.kt = fmax(s.kt, norm2(Kt + i * n, n));
    free(A), free(w);
    return s;
}

#endif
