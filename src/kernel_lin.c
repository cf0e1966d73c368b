/* Hu et al. (2020)'s linear models: the feature maps ψ1, ψ2 and their
 * kernels Θ_lin1, Θ_lin2, on the inputs rescaled to x·√d/s
 * (docs/theory.md §4.3, §4.4). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

// validates the constants, α and d shared by the linear-model functions
static ntk_status check_lin(const ntk_constants *c, double alpha, size_t d)
{
    if (!c) return ntk_set_error(NTK_ERR_ARG, "linear model: constants are NULL");
    if (!isfinite(c->zeta) || !isfinite(c->nu) || !isfinite(c->theta0) ||
        !isfinite(c->theta1) || !isfinite(c->theta2))
        return ntk_set_error(NTK_ERR_ARG,
                             "linear model: constants are not finite; recompute them with "
                             "ntk_constants_compute");
    if (!(alpha > 0) || !isfinite(alpha))
        return ntk_set_error(NTK_ERR_ARG, "linear model: alpha must be positive and finite");
    if (d == 0 || d > INT_MAX - 2)
        return ntk_set_error(NTK_ERR_ARG,
                             "linear model: input dimension d = %zu is out of range", d);
    return NTK_OK;
}

/* X (n,d) -> Psi (n,d+1) for layer 1, (n,d+2) for layer 2; arguments checked. */
static void lin_features(const ntk_constants *c, double alpha, int layer, const double *X,
                         size_t n, size_t d, double *Psi)
{
    double sqrt_d = sqrt((double)d);
    size_t cols = d + (size_t)layer;
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * d;
        double *psi = Psi + i * cols;
        double nrm2 = 0.0;
        for (size_t k = 0; k < d; k++) {
            psi[k] = alpha * c->zeta * x[k] / sqrt_d;   /* α ζ x/√d, both layers */
            nrm2 += x[k] * x[k];
        }
        if (layer == 1) {
            // docs/theory.md §4.3: ψ1(x) = (1/√d)[ζx ; ν]
            psi[d] = alpha * c->nu / sqrt_d;
        } else {
            // docs/theory.md §4.3: ψ2(x) = [ζx/√d ; ν/√(2d) ; ϑ0 + ϑ1 δ + ϑ2 δ²], δ = ‖x‖/√d − 1
            double delta = sqrt(nrm2) / sqrt_d - 1.0;
            psi[d] = alpha * c->nu / sqrt(2.0 * (double)d);
            psi[d + 1] = alpha * (c->theta0 + c->theta1 * delta + c->theta2 * delta * delta);
        }
    }
}

// X (n,d) -> Psi (n,d+layer), checked
ntk_status ntk_lin_features(const ntk_constants *c, double alpha, int layer, const double *X,
                            size_t n, size_t d, double *Psi)
{
    ntk_clear_error();
    NTK_TRY(check_lin(c, alpha, d));
    if (layer != 1 && layer != 2)
        return ntk_set_error(NTK_ERR_ARG, "linear features: layer must be 1 or 2, got %d",
                             layer);
    if (n == 0) return NTK_OK;
    if (!X || !Psi) return ntk_set_error(NTK_ERR_ARG, "linear features: X or Psi is NULL");
    NTK_TRY(ntk_check_finite(X, n * d, "X"));
    lin_features(c, alpha, layer, X, n, d, Psi);
    return NTK_OK;
}

/* X1 (n1,d), X2 (n2,d) or NULL, K (n1,n2) or (n1,n1):
 * K = c1·ψ1(X1)ψ1(X2)ᵀ + c2·ψ2(X1)ψ2(X2)ᵀ (docs/theory.md §4.3: Θ_lin1 = (ζ²XXᵀ + ν²11ᵀ)/d). */
ntk_status ntk_kernel_lin(const ntk_constants *c, double alpha, const double *X1, size_t n1,
                          const double *X2, size_t n2, size_t d, double c1, double c2,
                          double *K)
{
    NTK_TRY(check_lin(c, alpha, d));
    if (!X1 || !K) return ntk_set_error(NTK_ERR_ARG, "linear kernel: X1 or K is NULL");
    if (!isfinite(c1) || !isfinite(c2))
        return ntk_set_error(NTK_ERR_ARG, "linear kernel: coefficients c1, c2 must be finite");
    int sym = X2 == NULL;
    if (sym) n2 = n1;
    if (n1 > INT_MAX || n2 > INT_MAX)
        return ntk_set_error(NTK_ERR_ARG, "linear kernel: sizes above %d are not supported",
                             INT_MAX);
    if (n1 == 0 || n2 == 0) return NTK_OK;
    NTK_TRY(ntk_check_finite(X1, n1 * d, "X1"));
    if (!sym) NTK_TRY(ntk_check_finite(X2, n2 * d, "X2"));
    /* the features are written for inputs on the √d scale */
    NTK_TRY(ntk_check_input_scale(X1, n1, d, sqrt((double)d), "X1"));
    if (!sym) NTK_TRY(ntk_check_input_scale(X2, n2, d, sqrt((double)d), "X2"));

    size_t rows = sym ? n1 : n1 + n2, cols_max = d + 2;
    double *Psi = ntk_alloc(ntk_size_mul(rows, cols_max, 1, 1), sizeof(double),
                            "linear kernel features");
    if (!Psi) return NTK_ERR_NOMEM;
    double beta = 0.0;   /* 0 until the first layer has written K */
    for (int layer = 1; layer <= 2; layer++) {
        double coef = layer == 1 ? c1 : c2;
        if (coef == 0.0) continue;
        int cols = (int)d + layer;
        double *P1 = Psi, *P2 = Psi + n1 * (size_t)cols;
        lin_features(c, alpha, layer, X1, n1, d, P1);
        if (sym) {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n1, cols, coef, P1, cols,
                        beta, K, (int)n1);
        } else {
            lin_features(c, alpha, layer, X2, n2, d, P2);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n1, (int)n2, cols, coef,
                        P1, cols, P2, cols, beta, K, (int)n2);
        }
        beta = 1.0;
    }
    free(Psi);
    if (beta == 0.0) {   /* c1 = c2 = 0 */
        for (size_t i = 0; i < n1 * n2; i++) K[i] = 0.0;
        return NTK_OK;
    }
    if (sym)
        for (size_t i = 1; i < n1; i++)
            for (size_t j = 0; j < i; j++) K[i * n1 + j] = K[j * n1 + i];
    return ntk_check_result(K, n1, n2, "the linear-model kernel",
                            "an entry overflows double precision; rescale the inputs or alpha");
}

/* Xr (n,d) = X·√d/s */
void ntk_lin_inputs(const ntk_net_config *cfg, const double *X, size_t n, double *Xr)
{
    size_t count = n * cfg->d;
    if (Xr != X) memcpy(Xr, X, count * sizeof(double));
    double sc = sqrt((double)cfg->d) / ntk_net_config_s(cfg);
    if (sc != 1.0) ntk_scal(count, sc, Xr);
}
