/* The linearized network: the first-order Taylor model at θ0 (MATH.md §5),
 * trained in parameter space. φ(Z0) and v0 ⊙ φ'(Z0) are computed once, so a
 * step costs the same two GEMMs as a step of the network. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct ntk_linz {
    ntk_net_config cfg;
    const double *X, *Xt;
    size_t n, nt;
    double *A0, *DV0;     /* (n,m): φ(Z0) and φ'(Z0) diag(v0) */
    double *A0t, *DV0t;   /* (nt,m): the same on the test inputs */
    double *f0, *ft0;     /* (n), (nt): outputs at θ0 */
    double *P;            /* (max(n,nt),m) scratch: X ΔWᵀ/s, then G */
    double *r;            /* (n) residuals */
    double *p;            /* (md + m) parameters ΔW, Δv */
};

size_t ntk_linz_mem_bytes(size_t n, size_t nt, size_t d, size_t m)
{
    size_t big = n > nt ? n : nt;
    size_t count = 2 * n * m + 2 * nt * m + big * m + 2 * (n + nt) + m * d + 2 * m;
    if (count / m < 2 * n) return SIZE_MAX; /* overflow */
    return ntk_size_mul(count, sizeof(double), 1, 1);
}

/* A (rows,m) = φ(X W0ᵀ/s), DV (rows,m) = φ'(X W0ᵀ/s) diag(v0) */
static ntk_status features_at_init(const ntk_net_config *cfg, const double *W0,
                                   const double *v0, const double *X, size_t rows, double *A,
                                   double *DV)
{
    size_t m = cfg->m, d = cfg->d;
    if (rows == 0) return NTK_OK;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(cfg), X, (int)d, W0, (int)d, 0.0, DV, (int)m);
    ntk_act_apply(cfg->act, rows * m, DV, A, DV);
    double *ones = ntk_alloc(rows, sizeof(double), "ones");
    if (!ones) return NTK_ERR_NOMEM;
    for (size_t i = 0; i < rows; i++) ones[i] = 1.0;
    ntk_scale_rows_cols(DV, DV, rows, m, ones, v0);
    free(ones);
    return NTK_OK;
}

ntk_status ntk_linz_create(const ntk_net_config *cfg, const double *W0, const double *v0,
                           const double *X, size_t n, const double *Xt, size_t nt,
                           const double *f0, const double *ft0, ntk_linz **out)
{
    *out = NULL;
    NTK_TRY(ntk_net_config_check(cfg));
    size_t m = cfg->m, d = cfg->d, big = n > nt ? n : nt;
    NTK_TRY(ntk_mem_check(ntk_linz_mem_bytes(n, nt, d, m), 0, "the linearized model"));
    ntk_linz *lz = ntk_calloc(1, sizeof *lz, "linearized model");
    if (!lz) return NTK_ERR_NOMEM;
    size_t count = 2 * n * m + 2 * nt * m + big * m + 2 * n + nt + m * d + m;
    double *buf = ntk_calloc(count, sizeof(double), "linearized model buffers");
    if (!buf) {
        free(lz);
        return NTK_ERR_NOMEM;
    }
    lz->cfg = *cfg;
    lz->X = X;
    lz->Xt = Xt;
    lz->n = n;
    lz->nt = nt;
    lz->A0 = buf;
    lz->DV0 = lz->A0 + n * m;
    lz->A0t = lz->DV0 + n * m;
    lz->DV0t = lz->A0t + nt * m;
    lz->P = lz->DV0t + nt * m;
    lz->f0 = lz->P + big * m;
    lz->r = lz->f0 + n;
    lz->ft0 = lz->r + n;
    lz->p = lz->ft0 + nt;
    if (features_at_init(cfg, W0, v0, X, n, lz->A0, lz->DV0) != NTK_OK ||
        features_at_init(cfg, W0, v0, Xt, nt, lz->A0t, lz->DV0t) != NTK_OK) {
        ntk_linz_free(lz);
        return NTK_ERR_NOMEM;
    }
    memcpy(lz->f0, f0, n * sizeof(double));
    if (nt) memcpy(lz->ft0, ft0, nt * sizeof(double));
    *out = lz;
    return NTK_OK;
}

void ntk_linz_free(ntk_linz *lz)
{
    if (!lz) return;
    free(lz->A0);
    free(lz);
}

size_t ntk_linz_nparams(const ntk_linz *lz) { return lz->cfg.m * lz->cfg.d + lz->cfg.m; }
double *ntk_linz_params(ntk_linz *lz) { return lz->p; }

/* f = f0 + α/√m [A0 Δv + rowsum(DV0 ⊙ (X ΔWᵀ/s))] */
void ntk_linz_predict(ntk_linz *lz, const double *p, int test, double *f)
{
    size_t m = lz->cfg.m, d = lz->cfg.d;
    size_t rows = test ? lz->nt : lz->n;
    if (rows == 0) return;
    const double *X = test ? lz->Xt : lz->X;
    const double *A0 = test ? lz->A0t : lz->A0, *DV = test ? lz->DV0t : lz->DV0;
    const double *f0 = test ? lz->ft0 : lz->f0;
    const double *dW = p, *dv = p + m * d;
    double k = lz->cfg.alpha / sqrt((double)m);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(&lz->cfg), X, (int)d, dW, (int)d, 0.0, lz->P, (int)m);
    for (size_t i = 0; i < rows; i++) {
        const double *Pi = lz->P + i * m, *Di = DV + i * m;
        double acc = 0.0;
        for (size_t r = 0; r < m; r++) acc += Di[r] * Pi[r];
        f[i] = k * acc;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)m, k, A0, (int)m, dv, 1, 1.0, f, 1);
    cblas_daxpy((int)rows, 1.0, f0, 1, f, 1);
}

/* ∇_Δv L = c·α/√m A0ᵀ r,  ∇_ΔW L = c·α/(√m s) (DV0 ⊙ r 1ᵀ)ᵀ X */
double ntk_linz_loss_grad(ntk_linz *lz, const double *p, const double *y, ntk_loss_kind loss,
                          double *f, double *g)
{
    size_t m = lz->cfg.m, d = lz->cfg.d, n = lz->n;
    double c = ntk_loss_scale(loss, n);
    double k = lz->cfg.alpha / sqrt((double)m);
    ntk_linz_predict(lz, p, 0, f);
    double sse = 0.0;
    for (size_t i = 0; i < n; i++) {
        lz->r[i] = f[i] - y[i];
        sse += lz->r[i] * lz->r[i];
    }
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)m, c * k, lz->A0, (int)m, lz->r, 1, 0.0,
                g + m * d, 1);
    ntk_scale_rows_cols(lz->P, lz->DV0, n, m, lz->r, NULL);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)d, (int)n,
                c * k / ntk_net_config_s(&lz->cfg), lz->P, (int)m, lz->X, (int)d, 0.0, g, (int)d);
    return 0.5 * c * sse;
}
