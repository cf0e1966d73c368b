/* Networks with L hidden layers and biases (docs/depth.md): the row-block
 * tape of a forward and backward pass (src/deep_internal.h), and on top of it
 * the network's functions of the flat parameters θ: the initial draw, the
 * forward pass, the Jacobian's products J·dθ and Jᵀ·r without forming J,
 * and the loss with its gradient.
 *
 * Every layer of a pass is one BLAS-3 product over the row block (a BLAS-2
 * one where the layer has one output) and one call of ntk_act_apply for φ
 * and φ' together; the passes allocate nothing, their callers allocate one
 * tape per call. */
#include "deep_internal.h"
#include "network_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Row blocks of the passes of this file: about this many bytes of tape. */
#define DEEP_PASS_BUDGET ((size_t)16 << 20)

/* ---------------------------------------------------------------------
 * The tape
 * ------------------------------------------------------------------- */

/* doubles per row: H, A, D, G of each hidden layer, H and G of the output */
static size_t tape_row_values(const ntk_net_config *cfg)
{
    size_t L = ntk_net_depth(cfg), c = 2;
    for (size_t l = 1; l <= L; l++) c += 4 * ntk_net_width(cfg, l);
    return c;
}

size_t deep_tape_bytes(const ntk_net_config *cfg, size_t cap)
{
    return ntk_size_mul(tape_row_values(cfg), cap, sizeof(double), 1);
}

ntk_status deep_tape_init(deep_tape *t, const ntk_net_config *cfg, size_t cap)
{
    memset(t, 0, sizeof *t);
    if (cap == 0) return ntk_set_error(NTK_ERR_ARG, "deep_tape_init: a tape needs at least one row");
    size_t L = ntk_net_depth(cfg);
    double *p = ntk_alloc(ntk_size_mul(tape_row_values(cfg), cap, 1, 1), sizeof(double),
                          "the deep network's forward and backward tape");
    if (!p) return NTK_ERR_NOMEM;
    t->cap = cap;
    t->L = L;
    t->mem = p;
    for (size_t l = 1; l <= L; l++) {
        size_t c = cap * ntk_net_width(cfg, l);
        t->H[l] = p, p += c;
        t->A[l] = p, p += c;
        t->D[l] = p, p += c;
        t->G[l] = p, p += c;
    }
    t->H[L + 1] = p, p += cap;
    t->G[L + 1] = p;
    return NTK_OK;
}

void deep_tape_free(deep_tape *t)
{
    if (!t) return;
    free(t->mem);
    memset(t, 0, sizeof *t);
}

/* Layer l's weights W_l (m_l, m_{l−1}) and biases b_l (m_l; NULL without) in θ. */
static const double *layer_params(const ntk_net_config *cfg, const double *theta, size_t l,
                                  const double **b)
{
    size_t nW, nb;
    const double *W = theta + ntk_net_layer_offset(cfg, l, &nW, &nb);
    *b = nb ? W + nW : NULL;
    return W;
}

/* Y (nb, mo) = κ Ain (nb, mi) Wᵀ + β 1 bᵀ (b NULL: no bias term) */
static void layer_affine(size_t nb, size_t mo, size_t mi, double kappa, const double *Ain,
                         const double *W, double beta, const double *b, double *Y)
{
    if (b)
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < mo; j++) Y[i * mo + j] = beta * b[j];
    if (mo == 1)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nb, (int)mi, kappa, Ain, (int)mi, W, 1,
                    b ? 1.0 : 0.0, Y, 1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)mo, (int)mi, kappa, Ain,
                    (int)mi, W, (int)mi, b ? 1.0 : 0.0, Y, (int)mo);
}

void deep_tape_forward(deep_tape *t, const ntk_net_config *cfg, const double *theta,
                       const double *X, size_t nb, double *f)
{
    size_t L = t->L;
    double beta = ntk_net_bias_factor(cfg);
    t->A0 = X;
    t->A[0] = (double *)X;   /* read only, never written through */
    for (size_t l = 1; l <= L + 1; l++) {
        size_t mo = ntk_net_width(cfg, l), mi = ntk_net_width(cfg, l - 1);
        const double *b, *W = layer_params(cfg, theta, l, &b);
        layer_affine(nb, mo, mi, ntk_net_weight_factor(cfg, l), l == 1 ? X : t->A[l - 1], W,
                     beta, b, t->H[l]);
        if (l <= L) ntk_act_apply(cfg->act, nb * mo, t->H[l], t->A[l], t->D[l]);
    }
    if (f)
        for (size_t i = 0; i < nb; i++) f[i] = cfg->alpha * t->H[L + 1][i];
}

void deep_tape_backward(deep_tape *t, const ntk_net_config *cfg, const double *theta, size_t nb,
                        const double *r)
{
    size_t L = t->L;
    double *g = t->G[L + 1];
    for (size_t i = 0; i < nb; i++) g[i] = cfg->alpha * (r ? r[i] : 1.0);
    for (size_t l = L; l >= 1; l--) {
        /* δ_l = φ'(h_l) ⊙ κ_{l+1} δ_{l+1} W_{l+1}, W_{l+1} (mo, mi) */
        size_t mo = ntk_net_width(cfg, l + 1), mi = ntk_net_width(cfg, l);
        const double *b, *W = layer_params(cfg, theta, l + 1, &b);
        double kappa = ntk_net_weight_factor(cfg, l + 1);
        const double *Gn = t->G[l + 1], *D = t->D[l];
        double *G = t->G[l];
        if (mo == 1) {
            for (size_t i = 0; i < nb; i++) {
                double gi = kappa * Gn[i];
                for (size_t j = 0; j < mi; j++) G[i * mi + j] = D[i * mi + j] * (gi * W[j]);
            }
            continue;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)mi, (int)mo, kappa, Gn,
                    (int)mo, W, (int)mi, 0.0, G, (int)mi);
        for (size_t k = 0; k < nb * mi; k++) G[k] *= D[k];
    }
}

size_t deep_block_rows(const ntk_net_config *cfg, size_t n, size_t budget)
{
    size_t per = tape_row_values(cfg) * sizeof(double);
    size_t rows = budget / per;
    if (rows > n) rows = n;
    return rows ? rows : 1;
}
