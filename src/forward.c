/* The network's forward and backward passes, in row blocks of X so that the
 * scratch Z (B,m) and φ(Z) (B,m) stay in cache and memory stays O(B·m), and
 * the loss and its gradients (docs/theory.md §1.6, §1.7). */
#include "network_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* rows per block: about 2 MiB of Z, at least 32 rows */
size_t net_block_rows(size_t n, size_t m)
{
    size_t b = (size_t)(2u << 20) / (sizeof(double) * (m ? m : 1));
    if (b < 32) b = 32;
    return b < n ? b : n;
}

ntk_status net_scratch_init(scratch *s, size_t n, size_t m)
{
    s->rows = net_block_rows(n, m);
    s->Z = ntk_alloc(2 * s->rows * m + s->rows, sizeof(double), "forward scratch");
    s->A = s->Z ? s->Z + s->rows * m : NULL;
    s->r = s->Z ? s->A + s->rows * m : NULL;
    return s->Z ? NTK_OK : NTK_ERR_NOMEM;
}

void net_scratch_free(scratch *s) { free(s->Z); }

ntk_status net_check_args(const ntk_net_config *cfg, const double *W, const double *v,
                          const double *X, size_t n)
{
    NTK_TRY(ntk_net_config_check(cfg));
    if (ntk_net_is_deep(cfg))
        return ntk_set_error(NTK_ERR_ARG,
                             "the weights (W, v) describe only the two-layer network, but this one "
                             "has depth %zu, sigma_w = %g, sigma_b = %g, %s parameterisation; use "
                             "the functions of the flat parameters theta (ntk_forward_theta, "
                             "ntk_loss_grad_theta)",
                             ntk_net_depth(cfg), cfg->weight_std, cfg->bias_std,
                             ntk_param_name(cfg->parameterization));
    if (!W || !v || !X) return ntk_set_error(NTK_ERR_ARG, "weights or inputs pointer is NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "no input points (n = 0)");
    return ntk_check_finite(X, n * cfg->d, "inputs X");
}

/* One block of B rows Xb (B,d): Z = Xb Wᵀ/s, A = φ(Z), fb (B) = α/√m A v.
 * With want_dphi, Z is overwritten by φ'(Z). */
static void forward_block(const ntk_net_config *cfg, const double *W, const double *v,
                          const double *Xb, size_t B, scratch *s, double *fb, int want_dphi)
{
    size_t m = cfg->m, d = cfg->d;
    double s_in = ntk_net_config_s(cfg);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)m, (int)d, 1.0 / s_in, Xb,
                (int)d, W, (int)d, 0.0, s->Z, (int)m);
    ntk_act_apply(cfg->act, B * m, s->Z, s->A, want_dphi ? s->Z : NULL);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)B, (int)m, cfg->alpha / sqrt((double)m), s->A,
                (int)m, v, 1, 0.0, fb, 1);
}

ntk_status ntk_forward(const ntk_net_config *cfg, const double *W, const double *v,
                       const double *X, size_t n, double *f)
{
    ntk_clear_error();
    NTK_TRY(net_check_args(cfg, W, v, X, n));
    if (!f) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    scratch s;
    NTK_TRY(net_scratch_init(&s, n, cfg->m));
    for (size_t i0 = 0; i0 < n; i0 += s.rows) {
        size_t B = n - i0 < s.rows ? n - i0 : s.rows;
        forward_block(cfg, W, v, X + i0 * cfg->d, B, &s, f + i0, 0);
    }
    net_scratch_free(&s);
    return NTK_OK;
}

ntk_status ntk_net_predict(const ntk_net *net, const double *X, size_t n, double *f)
{
    ntk_clear_error();
    if (!net) return ntk_set_error(NTK_ERR_ARG, "network is NULL");
    NTK_TRY(ntk_forward_theta(&net->cfg, net->theta, X, n, f));
    size_t k = ntk_net_outputs(&net->cfg), nk = ntk_size_mul(n, k, 1, 1);
    if (net->cfg.centered) {
        double *f0 = ntk_alloc(nk, sizeof(double), "centred predictions");
        if (!f0) return NTK_ERR_NOMEM;
        ntk_status st = ntk_forward_theta(&net->cfg, net->theta0, X, n, f0);
        if (st == NTK_OK) ntk_axpy(nk, -1.0, f0, f);
        free(f0);
        NTK_TRY(st);
    }
    return ntk_check_result(f, n, k, "the network's output",
                            "the outputs overflow double precision; the weights, alpha or the "
                            "inputs are too large");
}

double ntk_loss_scale(ntk_loss_kind loss, size_t n)
{
    return loss == NTK_LOSS_SUM ? 1.0 : 1.0 / (double)n;
}

double ntk_loss_value(ntk_loss_kind loss, const double *f, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = f[i] - y[i];
        s += r * r;
    }
    return 0.5 * ntk_loss_scale(loss, n) * s;
}

/* Loss and gradients with caller scratch, docs/theory.md §1 (c = 1/n mean, 1 sum):
 *   ∇_v L = c·α/√m φ(Z)ᵀ r,   ∇_W L = c·α/(√m s) (φ'(Z) ⊙ r vᵀ)ᵀ X.
 * gW (m,d) and gv (m) are overwritten when non-NULL; f (n) receives the
 * model's predictions (f0 subtracted when non-NULL). Returns the loss. */
double net_loss_grad_ws(const ntk_net_config *cfg, const double *W, const double *v,
                        const double *X, const double *y, size_t n, ntk_loss_kind loss,
                        const double *f0, scratch *s, double *f, double *gW, double *gv)
{
    size_t m = cfg->m, d = cfg->d;
    double c = ntk_loss_scale(loss, n);
    double a_sqm = cfg->alpha / sqrt((double)m);
    double s_in = ntk_net_config_s(cfg);
    double sse = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += s->rows) {
        size_t B = n - i0 < s->rows ? n - i0 : s->rows;
        const double *Xb = X + i0 * d;
        double *fb = f + i0;
        double beta = i0 == 0 ? 0.0 : 1.0;
        forward_block(cfg, W, v, Xb, B, s, fb, gW != NULL);
        if (f0) cblas_daxpy((int)B, -1.0, f0 + i0, 1, fb, 1);
        for (size_t i = 0; i < B; i++) {
            s->r[i] = fb[i] - y[i0 + i];
            sse += s->r[i] * s->r[i];
        }
        if (gv)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)B, (int)m, c * a_sqm, s->A, (int)m, s->r,
                        1, beta, gv, 1);
        if (gW) {
            ntk_scale_rows_cols(s->Z, s->Z, B, m, s->r, v);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)d, (int)B,
                        c * a_sqm / s_in, s->Z, (int)m, Xb, (int)d, beta, gW, (int)d);
        }
    }
    return 0.5 * c * sse;
}

ntk_status ntk_loss_grad(const ntk_net_config *cfg, const double *W, const double *v,
                         const ntk_batch *b, ntk_loss_out *out)
{
    ntk_clear_error();
    if (!b || !out) return ntk_set_error(NTK_ERR_ARG, "ntk_loss_grad: batch or output is NULL");
    return ntk_loss_grad_args(cfg, W, v, b->X, b->y, b->n, b->loss, b->f0, &out->loss, out->gW,
                              out->gv, out->f);
}

ntk_status ntk_loss_grad_args(const ntk_net_config *cfg, const double *W, const double *v,
                              const double *X, const double *y, size_t n, ntk_loss_kind loss,
                              const double *f0, double *loss_out, double *gW, double *gv,
                              double *f_out)
{
    NTK_TRY(net_check_args(cfg, W, v, X, n));
    if (!y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    NTK_TRY(ntk_check_finite(y, n, "targets y"));
    scratch s;
    NTK_TRY(net_scratch_init(&s, n, cfg->m));
    double *f = f_out ? f_out : ntk_alloc(n, sizeof(double), "predictions");
    if (!f) {
        net_scratch_free(&s);
        return NTK_ERR_NOMEM;
    }
    double L = net_loss_grad_ws(cfg, W, v, X, y, n, loss, f0, &s, f, gW, gv);
    if (loss_out) *loss_out = L;
    if (!f_out) free(f);
    net_scratch_free(&s);
    return NTK_OK;
}

