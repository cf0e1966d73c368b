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
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Row blocks of the passes of this file: about this many bytes of tape. */
#define DEEP_PASS_BUDGET ((size_t)16 << 20)

/* ---------------------------------------------------------------------
 * The tape
 * ------------------------------------------------------------------- */

/* doubles per row: H, A, D, G of each hidden layer, H and G of the k outputs */
static size_t tape_row_values(const ntk_net_config *cfg)
{
    size_t L = ntk_net_depth(cfg), c = 2 * ntk_net_outputs(cfg);
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
    t->H[L + 1] = p, p += cap * ntk_net_outputs(cfg);
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

/* Y (nb, mo) = [Y +] κ Ain (nb, mi) Wᵀ + β 1 bᵀ (acc: add to Y; b NULL: no
 * bias term) */
static void layer_affine(size_t nb, size_t mo, size_t mi, double kappa, const double *Ain,
                         const double *W, double beta, const double *b, double *Y, int acc)
{
    if (b)
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < mo; j++) Y[i * mo + j] = (acc ? Y[i * mo + j] : 0.0) + beta * b[j];
    double keep = b || acc ? 1.0 : 0.0;
    if (mo == 1)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nb, (int)mi, kappa, Ain, (int)mi, W, 1, keep,
                    Y, 1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)mo, (int)mi, kappa, Ain,
                    (int)mi, W, (int)mi, keep, Y, (int)mo);
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
                     beta, b, t->H[l], 0);
        if (l <= L) ntk_act_apply(cfg->act, nb * mo, t->H[l], t->A[l], t->D[l]);
    }
    if (f)
        for (size_t i = 0; i < nb * ntk_net_outputs(cfg); i++) f[i] = cfg->alpha * t->H[L + 1][i];
}

void deep_tape_backward(deep_tape *t, const ntk_net_config *cfg, const double *theta, size_t nb,
                        const double *r)
{
    size_t L = t->L;
    double *g = t->G[L + 1];
    for (size_t i = 0; i < nb * ntk_net_outputs(cfg); i++) g[i] = cfg->alpha * (r ? r[i] : 1.0);
    for (size_t l = L; l >= 1; l--) {
        /* δ_l = φ'(h_l) ⊙ κ_{l+1} δ_{l+1} W_{l+1}, W_{l+1} (mo, mi) */
        size_t mo = ntk_net_width(cfg, l + 1), mi = ntk_net_width(cfg, l);
        const double *b, *W = layer_params(cfg, theta, l + 1, &b);
        double kappa = ntk_net_weight_factor(cfg, l + 1);
        const double *Gn = t->G[l + 1], *D = t->D[l];
        double *G = t->G[l];
        /* (one output: a rank-one product) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)mi, (int)mo, kappa, Gn,
                    (int)mo, W, (int)mi, 0.0, G, (int)mi);
        for (size_t k = 0; k < nb * mi; k++) G[k] *= D[k];
    }
}

void deep_tape_signals(deep_tape *t, const ntk_net_config *cfg, const double *theta, size_t nb,
                       double *seed, double *const *Gs)
{
    const size_t k = ntk_net_outputs(cfg);
    for (size_t o = 0; o < k; o++) {
        memset(seed, 0, nb * k * sizeof(double));
        for (size_t i = 0; i < nb; i++) seed[i * k + o] = 1.0;
        deep_tape_backward(t, cfg, theta, nb, seed);
        for (size_t l = 1; l <= t->L; l++) {
            size_t ml = ntk_net_width(cfg, l);
            if (Gs[l])
                LAPACKE_dlacpy(LAPACK_ROW_MAJOR, 'A', (lapack_int)nb, (lapack_int)ml, t->G[l],
                               (lapack_int)ml, Gs[l] + o * ml, (lapack_int)(k * ml));
        }
    }
}

size_t deep_block_rows(const ntk_net_config *cfg, size_t n, size_t budget)
{
    size_t per = tape_row_values(cfg) * sizeof(double);
    size_t rows = budget / per;
    if (rows > n) rows = n;
    return rows ? rows : 1;
}

/* ---------------------------------------------------------------------
 * Workspace of the passes over n points: a tape of deep_block_rows rows,
 * the block's residuals and outputs, a column of ones (bias gradients).
 * ------------------------------------------------------------------- */

size_t deep_ws_bytes(const ntk_net_config *cfg, size_t n)
{
    size_t cap = deep_block_rows(cfg, n, DEEP_PASS_BUDGET);
    size_t t = deep_tape_bytes(cfg, cap);
    size_t extra = ntk_size_mul(1 + 2 * ntk_net_outputs(cfg), cap, sizeof(double), 1);
    return t == SIZE_MAX || extra == SIZE_MAX || t > SIZE_MAX - extra ? SIZE_MAX : t + extra;
}

ntk_status deep_ws_init(deep_ws *w, const ntk_net_config *cfg, size_t n)
{
    memset(w, 0, sizeof *w);
    size_t cap = deep_block_rows(cfg, n, DEEP_PASS_BUDGET);
    NTK_TRY(deep_tape_init(&w->t, cfg, cap));
    size_t k = ntk_net_outputs(cfg);
    w->r = ntk_alloc((1 + 2 * k) * cap, sizeof(double), "the deep network's block buffers");
    if (!w->r) {
        deep_tape_free(&w->t);
        return NTK_ERR_NOMEM;
    }
    w->ones = w->r + k * cap;
    w->fb = w->ones + cap;
    for (size_t i = 0; i < cap; i++) w->ones[i] = 1.0;
    return NTK_OK;
}

void deep_ws_free(deep_ws *w)
{
    if (!w) return;
    deep_tape_free(&w->t);
    free(w->r);
    w->r = w->ones = w->fb = NULL;
}

/* g (P) [+]= Σ_rows of the block: ∂/∂W_l = κ_l G_lᵀ A_{l−1}, ∂/∂b_l = β G_lᵀ 1,
 * after deep_tape_backward; first: overwrite instead of adding. Layers with
 * train[l−1] == 0 are left alone (train NULL: every layer). */
static void accum_grad(const deep_tape *t, const ntk_net_config *cfg, size_t nb,
                       const double *ones, int first, const int *train, double *g)
{
    double beta = ntk_net_bias_factor(cfg), keep = first ? 0.0 : 1.0;
    for (size_t l = 1; l <= t->L + 1; l++) {
        if (train && !train[l - 1]) continue;
        size_t nW, nbias, off = ntk_net_layer_offset(cfg, l, &nW, &nbias);
        size_t mo = ntk_net_width(cfg, l), mi = ntk_net_width(cfg, l - 1);
        double kappa = ntk_net_weight_factor(cfg, l);
        const double *Ain = l == 1 ? t->A0 : t->A[l - 1], *G = t->G[l];
        if (mo == 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)nb, (int)mi, kappa, Ain, (int)mi, G, 1, keep,
                        g + off, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mo, (int)mi, (int)nb, kappa, G,
                        (int)mo, Ain, (int)mi, keep, g + off, (int)mi);
        if (nbias)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)nb, (int)mo, beta, G, (int)mo, ones, 1, keep,
                        g + off + nW, 1);
    }
}

double deep_loss_grad_ws(const ntk_net_config *cfg, const double *theta, const double *X,
                         const double *y, size_t n, ntk_loss_kind loss, const double *f0,
                         deep_ws *w, double *f, double *g, const int *train)
{
    size_t d = cfg->d, L = ntk_net_depth(cfg), cap = w->t.cap, k = ntk_net_outputs(cfg);
    double c = ntk_loss_scale(loss, n), sse = 0.0;
    int any = 0;
    if (g)
        for (size_t l = 1; l <= L + 1; l++) {
            if (!train || train[l - 1]) {
                any = 1;
                continue;
            }
            size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
            memset(g + off, 0, (nW + nb) * sizeof(double));
        }
    for (size_t i0 = 0; i0 < n; i0 += cap) {
        size_t nb = n - i0 < cap ? n - i0 : cap;
        double *fb = f ? f + i0 * k : w->fb;
        deep_tape_forward(&w->t, cfg, theta, X + i0 * d, nb, fb);
        if (f0) cblas_daxpy((int)(nb * k), -1.0, f0 + i0 * k, 1, fb, 1);
        for (size_t i = 0; i < nb * k; i++) {
            double e = fb[i] - y[i0 * k + i];
            sse += e * e;
            w->r[i] = c * e;
        }
        if (g && any) {
            deep_tape_backward(&w->t, cfg, theta, nb, w->r);
            accum_grad(&w->t, cfg, nb, w->ones, i0 == 0, train, g);
        }
    }
    return 0.5 * c * sse;
}

/* ---------------------------------------------------------------------
 * The network on θ
 * ------------------------------------------------------------------- */

static ntk_status theta_args(const ntk_net_config *cfg, const double *theta, const double *X,
                             size_t n)
{
    NTK_TRY(ntk_net_config_check(cfg));
    if (!theta || !X) return ntk_set_error(NTK_ERR_ARG, "parameters theta or inputs pointer is NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "no input points (n = 0)");
    NTK_TRY(ntk_check_finite(theta, ntk_net_nparams(cfg), "network parameters theta"));
    return ntk_check_finite(X, ntk_size_mul(n, cfg->d, 1, 1), "inputs X");
}

/* Draw order (docs/depth.md): layer by layer, W_l row by row, then b_l.
 * Symmetric: the first half of layer L's units (rows of W_L, entries of b_L)
 * is drawn and copied to the second, the first half of W_{L+1} drawn and
 * negated into the second, b_{L+1} = 0 (not drawn), so f(x; θ0) = 0. Sign:
 * W_{L+1} = ±1 (one bit each, as the two-layer v). The standard
 * parameterisation draws the same numbers and scales W_l by σ_w c_l, b_l by
 * σ_b: the same function at initialisation. With σ_b = 0 and L = 1 this is
 * ntk_init_weights' sequence. */
ntk_status ntk_init_theta(const ntk_net_config *cfg, double *theta0)
{
    ntk_clear_error();
    NTK_TRY(ntk_net_config_check(cfg));
    if (!theta0) return ntk_set_error(NTK_ERR_ARG, "ntk_init_theta: output pointer is NULL");
    if (!ntk_net_is_deep(cfg)) return ntk_init_weights(cfg, theta0, theta0 + cfg->m * cfg->d);
    size_t L = ntk_net_depth(cfg);
    int sym = cfg->init == NTK_INIT_SYMMETRIC;
    ntk_net_config ntk = *cfg;
    ntk.parameterization = NTK_PARAM_NTK;
    ntk_rng rng;
    ntk_rng_seed(&rng, cfg->seed);
    for (size_t l = 1; l <= L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
        size_t mo = ntk_net_width(cfg, l), mi = ntk_net_width(cfg, l - 1);
        double *W = theta0 + off, *b = W + nW;
        if (sym && l == L) {
            size_t h = mo / 2;
            ntk_rng_normal_fill(&rng, W, h * mi);
            memcpy(W + h * mi, W, h * mi * sizeof(double));
            if (nb) {
                ntk_rng_normal_fill(&rng, b, h);
                memcpy(b + h, b, h * sizeof(double));
            }
        } else if (sym && l == L + 1) {
            /* each output's row: the first half drawn, negated into the second */
            size_t h = mi / 2;
            for (size_t o = 0; o < mo; o++) {
                double *Wo = W + o * mi;
                ntk_rng_normal_fill(&rng, Wo, h);
                for (size_t k = 0; k < h; k++) Wo[h + k] = -Wo[k];
            }
            if (nb) memset(b, 0, mo * sizeof(double));
        } else {
            if (cfg->init == NTK_INIT_SIGN && l == L + 1)
                for (size_t k = 0; k < nW; k++) W[k] = (ntk_rng_u64(&rng) >> 63) ? 1.0 : -1.0;
            else
                ntk_rng_normal_fill(&rng, W, nW);
            if (nb) ntk_rng_normal_fill(&rng, b, nb);
        }
        if (cfg->parameterization == NTK_PARAM_STANDARD) {
            ntk_scal(nW, ntk_net_weight_factor(&ntk, l), W);
            if (nb) ntk_scal(nb, cfg->bias_std, b);
        }
    }
    return NTK_OK;
}

ntk_status ntk_forward_theta(const ntk_net_config *cfg, const double *theta, const double *X,
                             size_t n, double *f)
{
    ntk_clear_error();
    NTK_TRY(ntk_net_config_check(cfg));
    if (!theta) return ntk_set_error(NTK_ERR_ARG, "parameters theta pointer is NULL");
    if (!ntk_net_is_deep(cfg)) return ntk_forward(cfg, theta, theta + cfg->m * cfg->d, X, n, f);
    NTK_TRY(theta_args(cfg, theta, X, n));
    if (!f) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    deep_tape t;
    size_t cap = deep_block_rows(cfg, n, DEEP_PASS_BUDGET);
    NTK_TRY(deep_tape_init(&t, cfg, cap));
    for (size_t i0 = 0; i0 < n; i0 += cap) {
        size_t nb = n - i0 < cap ? n - i0 : cap;
        deep_tape_forward(&t, cfg, theta, X + i0 * cfg->d, nb, f + i0 * ntk_net_outputs(cfg));
    }
    deep_tape_free(&t);
    return ntk_check_result(f, n, ntk_net_outputs(cfg), "the network's output",
                            "the outputs overflow double precision; the weights, alpha or the "
                            "inputs are too large");
}

/* After deep_tape_forward: out (nb) = J·dθ by forward-mode differentiation,
 *   dh_1 = κ_1 dW_1 x + β db_1,
 *   dh_{l+1} = κ_{l+1} (dW_{l+1} a_l + W_{l+1} (φ'(h_l) ⊙ dh_l)) + β db_{l+1},
 *   out = α dh_{L+1};
 * the tangents go where the tape keeps its signals G (G[l] holds
 * φ'(h_l) ⊙ dh_l for l ≤ L). */
static void tape_tangent(deep_tape *t, const ntk_net_config *cfg, const double *theta,
                         const double *dtheta, size_t nb, double *out)
{
    size_t L = t->L;
    double beta = ntk_net_bias_factor(cfg);
    for (size_t l = 1; l <= L + 1; l++) {
        size_t mo = ntk_net_width(cfg, l), mi = ntk_net_width(cfg, l - 1);
        double kappa = ntk_net_weight_factor(cfg, l);
        const double *b, *W = layer_params(cfg, theta, l, &b);
        const double *db, *dW = layer_params(cfg, dtheta, l, &db);
        double *T = t->G[l];
        layer_affine(nb, mo, mi, kappa, l == 1 ? t->A0 : t->A[l - 1], dW, beta, db, T, 0);
        if (l >= 2) layer_affine(nb, mo, mi, kappa, t->G[l - 1], W, 0.0, NULL, T, 1);
        if (l <= L)
            for (size_t k = 0; k < nb * mo; k++) T[k] *= t->D[l][k];
    }
    for (size_t i = 0; i < nb * ntk_net_outputs(cfg); i++) out[i] = cfg->alpha * t->G[L + 1][i];
}

void deep_jvp_ws(const ntk_net_config *cfg, const double *theta, const double *X, size_t n,
                 const double *dtheta, double *out, deep_ws *w)
{
    const size_t cap = w->t.cap, k = ntk_net_outputs(cfg);
    for (size_t i0 = 0; i0 < n; i0 += cap) {
        size_t nb = n - i0 < cap ? n - i0 : cap;
        deep_tape_forward(&w->t, cfg, theta, X + i0 * cfg->d, nb, NULL);
        tape_tangent(&w->t, cfg, theta, dtheta, nb, out + i0 * k);
    }
}

ntk_status deep_jvp_unchecked(const ntk_net_config *cfg, const double *theta, const double *X,
                              size_t n, const double *dtheta, double *out)
{
    NTK_TRY(theta_args(cfg, theta, X, n));
    if (!dtheta || !out) return ntk_set_error(NTK_ERR_ARG, "ntk_net_jvp: dtheta or output pointer is NULL");
    NTK_TRY(ntk_check_finite(dtheta, ntk_net_nparams(cfg), "the tangent dtheta"));
    deep_ws w;
    NTK_TRY(deep_ws_init(&w, cfg, n));
    deep_jvp_ws(cfg, theta, X, n, dtheta, out, &w);
    deep_ws_free(&w);
    return NTK_OK;
}

ntk_status ntk_net_jvp(const ntk_net_config *cfg, const double *theta, const double *X,
                       size_t n, const double *dtheta, double *out)
{
    ntk_clear_error();
    NTK_TRY(deep_jvp_unchecked(cfg, theta, X, n, dtheta, out));
    return ntk_check_result(out, n, ntk_net_outputs(cfg), "the Jacobian-vector product J·dtheta",
                            "it overflows double precision; dtheta, the weights or alpha are too "
                            "large");
}

void deep_vjp_ws(const ntk_net_config *cfg, const double *theta, const double *X, size_t n,
                 const double *r, double *g, deep_ws *w)
{
    const size_t cap = w->t.cap, k = ntk_net_outputs(cfg);
    for (size_t i0 = 0; i0 < n; i0 += cap) {
        size_t nb = n - i0 < cap ? n - i0 : cap;
        deep_tape_forward(&w->t, cfg, theta, X + i0 * cfg->d, nb, NULL);
        deep_tape_backward(&w->t, cfg, theta, nb, r + i0 * k);
        accum_grad(&w->t, cfg, nb, w->ones, i0 == 0, NULL, g);
    }
}

ntk_status deep_vjp_unchecked(const ntk_net_config *cfg, const double *theta, const double *X,
                              size_t n, const double *r, double *g)
{
    NTK_TRY(theta_args(cfg, theta, X, n));
    if (!r || !g) return ntk_set_error(NTK_ERR_ARG, "ntk_net_vjp: r or output pointer is NULL");
    NTK_TRY(ntk_check_finite(r, ntk_size_mul(n, ntk_net_outputs(cfg), 1, 1), "the cotangent r"));
    deep_ws w;
    NTK_TRY(deep_ws_init(&w, cfg, n));
    deep_vjp_ws(cfg, theta, X, n, r, g, &w);
    deep_ws_free(&w);
    return NTK_OK;
}

ntk_status ntk_net_vjp(const ntk_net_config *cfg, const double *theta, const double *X,
                       size_t n, const double *r, double *g)
{
    ntk_clear_error();
    NTK_TRY(deep_vjp_unchecked(cfg, theta, X, n, r, g));
    return ntk_check_result(g, ntk_net_nparams(cfg), 1, "the vector-Jacobian product J^T·r",
                            "it overflows double precision; r, the weights or alpha are too large");
}

ntk_status ntk_loss_grad_theta(const ntk_net_config *cfg, const double *theta,
                               const ntk_batch *b, double *loss, double *g, double *f)
{
    ntk_clear_error();
    if (!b) return ntk_set_error(NTK_ERR_ARG, "ntk_loss_grad_theta: batch is NULL");
    NTK_TRY(ntk_net_config_check(cfg));
    if (!theta) return ntk_set_error(NTK_ERR_ARG, "parameters theta pointer is NULL");
    if (!ntk_net_is_deep(cfg)) {
        size_t md = cfg->m * cfg->d;
        return ntk_loss_grad_args(cfg, theta, theta + md, b->X, b->y, b->n, b->loss, b->f0, loss,
                                  g, g ? g + md : NULL, f);
    }
    NTK_TRY(theta_args(cfg, theta, b->X, b->n));
    if (!b->y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    NTK_TRY(ntk_check_finite(b->y, ntk_size_mul(b->n, ntk_net_outputs(cfg), 1, 1), "targets y"));
    deep_ws w;
    NTK_TRY(deep_ws_init(&w, cfg, b->n));
    double L = deep_loss_grad_ws(cfg, theta, b->X, b->y, b->n, b->loss, b->f0, &w, f, g, NULL);
    deep_ws_free(&w);
    if (loss) *loss = L;
    const char *fix = "it overflows double precision; the weights, alpha or the inputs are too large";
    if (!isfinite(L)) return ntk_set_error(NTK_ERR_NONFINITE, "the loss is %g: %s", L, fix);
    if (g) NTK_TRY(ntk_check_result(g, ntk_net_nparams(cfg), 1, "the gradient", fix));
    if (f) NTK_TRY(ntk_check_result(f, b->n, ntk_net_outputs(cfg), "the network's output", fix));
    return NTK_OK;
}
