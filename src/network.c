/* The two-layer network f(x) = α/√m · vᵀφ(Wx/s), its loss and gradients, and
 * full-batch gradient descent with one rate per layer (docs/theory.md §1). */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct ntk_net {
    ntk_net_config cfg;
    double *W, *v;     /* current weights (m,d), (m) */
    double *W0, *v0;   /* initial weights */
};

/* ---------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------- */

ntk_net_config ntk_net_config_default(size_t d, size_t m)
{
    ntk_net_config c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.m = m;
    c.act.kind = NTK_ACT_RELU;
    c.act.param = 0.0;
    c.init = NTK_INIT_GAUSSIAN;
    c.input_scale = NTK_SCALE_SQRT_D;
    c.alpha = 1.0;
    c.centered = 0;
    c.seed = 0;
    return c;
}

double ntk_net_config_s(const ntk_net_config *cfg)
{
    return cfg->input_scale == NTK_SCALE_ONE ? 1.0 : sqrt((double)cfg->d);
}

ntk_status ntk_net_config_check(const ntk_net_config *cfg)
{
    ntk_clear_error();
    if (!cfg) return ntk_set_error(NTK_ERR_ARG, "network configuration is missing");
    if (cfg->d == 0) return ntk_set_error(NTK_ERR_ARG, "input dimension d must be positive");
    if (cfg->m == 0) return ntk_set_error(NTK_ERR_ARG, "width m must be positive");
    if (cfg->act.kind < 0 || cfg->act.kind >= NTK_ACT_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "unknown activation");
    if (!isfinite(cfg->act.param))
        return ntk_set_error(NTK_ERR_ARG, "activation parameter must be finite");
    if ((int)cfg->init < 0 || cfg->init > NTK_INIT_SYMMETRIC)
        return ntk_set_error(NTK_ERR_ARG, "unknown initialisation");
    if (cfg->init == NTK_INIT_SYMMETRIC && cfg->m % 2 != 0)
        return ntk_set_error(NTK_ERR_ARG,
                             "symmetric initialisation needs an even width, got m = %zu; "
                             "use --width %zu",
                             cfg->m, cfg->m + 1);
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return ntk_set_error(NTK_ERR_ARG, "output scale alpha must be positive and finite");
    /* the weights are handed to the BLAS as matrices and as one flat vector
     * of m·(d+1) values (the parameters of the linearized model) */
    size_t lim = ntk_blas_int_max();
    if (cfg->m > lim || cfg->d > lim || ntk_size_mul(cfg->m, cfg->d + 1, 1, 1) > lim)
        return ntk_set_error(NTK_ERR_ARG,
                             "width m = %zu and input dimension d = %zu give m*(d+1) = %.4g "
                             "weights, more than the %zu the linked BLAS can index; reduce the "
                             "width or the dimension",
                             cfg->m, cfg->d, (double)cfg->m * ((double)cfg->d + 1.0), lim);
    return NTK_OK;
}

static ntk_status parse_enum(const char *name, const char *const *names, int count,
                             const char *what, int *out)
{
    for (int k = 0; k < count; k++)
        if (name && strcmp(name, names[k]) == 0) {
            *out = k;
            return NTK_OK;
        }
    char list[128] = "";
    for (int k = 0; k < count; k++) {
        strncat(list, names[k], sizeof list - strlen(list) - 1);
        if (k + 1 < count) strncat(list, "|", sizeof list - strlen(list) - 1);
    }
    return ntk_set_error(NTK_ERR_ARG, "unknown %s '%s'; choose %s", what, name ? name : "",
                         list);
}

static const char *const init_names[] = {"gaussian", "sign", "symmetric"};
static const char *const loss_names[] = {"mean", "sum"};
static const char *const scale_names[] = {"sqrt_d", "one"};

ntk_status ntk_init_parse(const char *name, ntk_init_kind *out)
{
    ntk_clear_error();
    int k;
    NTK_TRY(parse_enum(name, init_names, 3, "initialisation", &k));
    *out = (ntk_init_kind)k;
    return NTK_OK;
}
const char *ntk_init_name(ntk_init_kind k) { return k <= NTK_INIT_SYMMETRIC ? init_names[k] : "?"; }

ntk_status ntk_loss_parse(const char *name, ntk_loss_kind *out)
{
    ntk_clear_error();
    int k;
    NTK_TRY(parse_enum(name, loss_names, 2, "loss form", &k));
    *out = (ntk_loss_kind)k;
    return NTK_OK;
}
const char *ntk_loss_name(ntk_loss_kind k) { return k <= NTK_LOSS_SUM ? loss_names[k] : "?"; }

ntk_status ntk_input_scale_parse(const char *name, ntk_input_scale *out)
{
    ntk_clear_error();
    int k;
    NTK_TRY(parse_enum(name, scale_names, 2, "input scale", &k));
    *out = (ntk_input_scale)k;
    return NTK_OK;
}
const char *ntk_input_scale_name(ntk_input_scale s) { return s <= NTK_SCALE_ONE ? scale_names[s] : "?"; }

/* ---------------------------------------------------------------------
 * Initialisation (docs/theory.md §1). Draw order: W row by row, then v.
 * ------------------------------------------------------------------- */

/* W0 is (m,d), v0 is (m) */
ntk_status ntk_init_weights(const ntk_net_config *cfg, double *W0, double *v0)
{
    ntk_clear_error();
    NTK_TRY(ntk_net_config_check(cfg));
    size_t m = cfg->m, d = cfg->d;
    size_t mdraw = cfg->init == NTK_INIT_SYMMETRIC ? m / 2 : m;
    ntk_rng rng;
    ntk_rng_seed(&rng, cfg->seed);
    ntk_rng_normal_fill(&rng, W0, mdraw * d);
    if (cfg->init == NTK_INIT_SIGN) {
        for (size_t r = 0; r < m; r++) v0[r] = (ntk_rng_u64(&rng) >> 63) ? 1.0 : -1.0;
    } else {
        ntk_rng_normal_fill(&rng, v0, mdraw);
    }
    if (cfg->init == NTK_INIT_SYMMETRIC) {
        /* w_{r+m/2} = w_r, v_{r+m/2} = −v_r, so f(x; θ0) = 0 */
        memcpy(W0 + mdraw * d, W0, mdraw * d * sizeof(double));
        for (size_t r = 0; r < mdraw; r++) v0[mdraw + r] = -v0[r];
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * The network object: one allocation carved into W, v, W0, v0.
 * ------------------------------------------------------------------- */

static ntk_status net_alloc(const ntk_net_config *cfg, ntk_net **out)
{
    NTK_TRY(ntk_net_config_check(cfg));
    size_t md = cfg->m * cfg->d;
    size_t count = 2 * (md + cfg->m);
    NTK_TRY(ntk_mem_check(ntk_size_mul(count, sizeof(double), 1, 1), 0, "the network's weights"));
    ntk_net *net = ntk_calloc(1, sizeof *net, "network");
    if (!net) return NTK_ERR_NOMEM;
    double *p = ntk_alloc(count, sizeof(double), "network weights");
    if (!p) {
        free(net);
        return NTK_ERR_NOMEM;
    }
    net->cfg = *cfg;
    net->W = p;
    net->v = p + md;
    net->W0 = p + md + cfg->m;
    net->v0 = p + 2 * md + cfg->m;
    *out = net;
    return NTK_OK;
}

ntk_status ntk_net_create(const ntk_net_config *cfg, ntk_net **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    *out = NULL;
    ntk_net *net;
    NTK_TRY(net_alloc(cfg, &net));
    ntk_init_weights(cfg, net->W0, net->v0);
    memcpy(net->W, net->W0, cfg->m * cfg->d * sizeof(double));
    memcpy(net->v, net->v0, cfg->m * sizeof(double));
    *out = net;
    return NTK_OK;
}

ntk_status ntk_net_create_from(const ntk_net_config *cfg, const double *W0, const double *v0,
                               ntk_net **out)
{
    ntk_clear_error();
    if (!out || !W0 || !v0) return ntk_set_error(NTK_ERR_ARG, "weights or output pointer is NULL");
    *out = NULL;
    NTK_TRY(ntk_net_config_check(cfg));
    NTK_TRY(ntk_check_finite(W0, cfg->m * cfg->d, "initial first-layer weights W0"));
    NTK_TRY(ntk_check_finite(v0, cfg->m, "initial second-layer weights v0"));
    ntk_net *net;
    NTK_TRY(net_alloc(cfg, &net));
    size_t md = cfg->m * cfg->d;
    memcpy(net->W0, W0, md * sizeof(double));
    memcpy(net->v0, v0, cfg->m * sizeof(double));
    memcpy(net->W, W0, md * sizeof(double));
    memcpy(net->v, v0, cfg->m * sizeof(double));
    *out = net;
    return NTK_OK;
}

void ntk_net_free(ntk_net *net)
{
    if (!net) return;
    free(net->W);
    free(net);
}

const ntk_net_config *ntk_net_cfg(const ntk_net *net) { return &net->cfg; }
const double *ntk_net_W(const ntk_net *net) { return net->W; }
const double *ntk_net_v(const ntk_net *net) { return net->v; }
const double *ntk_net_W0(const ntk_net *net) { return net->W0; }
const double *ntk_net_v0(const ntk_net *net) { return net->v0; }

ntk_status ntk_net_set_weights(ntk_net *net, const double *W, const double *v)
{
    ntk_clear_error();
    if (!net || !W || !v) return ntk_set_error(NTK_ERR_ARG, "weights pointer is NULL");
    NTK_TRY(ntk_check_finite(W, net->cfg.m * net->cfg.d, "first-layer weights W"));
    NTK_TRY(ntk_check_finite(v, net->cfg.m, "second-layer weights v"));
    memcpy(net->W, W, net->cfg.m * net->cfg.d * sizeof(double));
    memcpy(net->v, v, net->cfg.m * sizeof(double));
    return NTK_OK;
}

void ntk_net_weight_dist(const ntk_net *net, ntk_weight_dist *out)
{
    size_t m = net->cfg.m, d = net->cfg.d;
    double fro2 = 0.0, maxrow2 = 0.0, v2 = 0.0;
    for (size_t r = 0; r < m; r++) {
        const double *w = net->W + r * d, *w0 = net->W0 + r * d;
        double row2 = 0.0;
        for (size_t j = 0; j < d; j++) {
            double e = w[j] - w0[j];
            row2 += e * e;
        }
        fro2 += row2;
        if (row2 > maxrow2) maxrow2 = row2;
        double e = net->v[r] - net->v0[r];
        v2 += e * e;
    }
    out->w_fro = sqrt(fro2);
    out->w_max_row = sqrt(maxrow2);
    out->v_norm = sqrt(v2);
    out->theta = sqrt(fro2 + v2);
}

/* ---------------------------------------------------------------------
 * Forward and backward passes, in row blocks of X so that the scratch
 * Z (B,m) and φ(Z) (B,m) stay in cache and memory stays O(B·m).
 * ------------------------------------------------------------------- */

/* rows per block: about 2 MiB of Z, at least 32 rows */
static size_t block_rows(size_t n, size_t m)
{
    size_t b = (size_t)(2u << 20) / (sizeof(double) * (m ? m : 1));
    if (b < 32) b = 32;
    return b < n ? b : n;
}

typedef struct {
    size_t rows;       /* block capacity B */
    double *Z;         /* (B,m): pre-activations, then φ'(Z), then G = φ'(Z) ⊙ r vᵀ */
    double *A;         /* (B,m): φ(Z) */
    double *r;         /* (B): residuals of the block */
} scratch;

static ntk_status scratch_init(scratch *s, size_t n, size_t m)
{
    s->rows = block_rows(n, m);
    s->Z = ntk_alloc(2 * s->rows * m + s->rows, sizeof(double), "forward scratch");
    s->A = s->Z ? s->Z + s->rows * m : NULL;
    s->r = s->Z ? s->A + s->rows * m : NULL;
    return s->Z ? NTK_OK : NTK_ERR_NOMEM;
}

static void scratch_free(scratch *s) { free(s->Z); }

static ntk_status check_net_args(const ntk_net_config *cfg, const double *W, const double *v,
                                 const double *X, size_t n)
{
    NTK_TRY(ntk_net_config_check(cfg));
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
    NTK_TRY(check_net_args(cfg, W, v, X, n));
    if (!f) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    scratch s;
    NTK_TRY(scratch_init(&s, n, cfg->m));
    for (size_t i0 = 0; i0 < n; i0 += s.rows) {
        size_t B = n - i0 < s.rows ? n - i0 : s.rows;
        forward_block(cfg, W, v, X + i0 * cfg->d, B, &s, f + i0, 0);
    }
    scratch_free(&s);
    return NTK_OK;
}

ntk_status ntk_net_predict(const ntk_net *net, const double *X, size_t n, double *f)
{
    ntk_clear_error();
    if (!net) return ntk_set_error(NTK_ERR_ARG, "network is NULL");
    NTK_TRY(ntk_forward(&net->cfg, net->W, net->v, X, n, f));
    if (net->cfg.centered) {
        double *f0 = ntk_alloc(n, sizeof(double), "centred predictions");
        if (!f0) return NTK_ERR_NOMEM;
        ntk_status st = ntk_forward(&net->cfg, net->W0, net->v0, X, n, f0);
        if (st == NTK_OK) ntk_axpy(n, -1.0, f0, f);
        free(f0);
        NTK_TRY(st);
    }
    return ntk_check_result(f, n, 1, "the network's output",
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
static double loss_grad_ws(const ntk_net_config *cfg, const double *W, const double *v,
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
    NTK_TRY(check_net_args(cfg, W, v, X, n));
    if (!y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    NTK_TRY(ntk_check_finite(y, n, "targets y"));
    scratch s;
    NTK_TRY(scratch_init(&s, n, cfg->m));
    double *f = f_out ? f_out : ntk_alloc(n, sizeof(double), "predictions");
    if (!f) {
        scratch_free(&s);
        return NTK_ERR_NOMEM;
    }
    double L = loss_grad_ws(cfg, W, v, X, y, n, loss, f0, &s, f, gW, gv);
    if (loss_out) *loss_out = L;
    if (!f_out) free(f);
    scratch_free(&s);
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * Full-batch gradient descent
 * ------------------------------------------------------------------- */

struct ntk_trainer {
    ntk_net *net;
    const double *X, *y;
    size_t n;
    ntk_gd_config gd;
    scratch s;
    double *f;       /* (n) predictions at the last evaluation */
    double *f0;      /* (n) f(X; θ0) for the centred model, else NULL */
    double *gW, *gv; /* (m,d), (m) */
    double loss, grad_norm;
    int evaluated;
};

size_t ntk_trainer_mem_bytes(size_t n, size_t d, size_t m)
{
    size_t B = block_rows(n, m);
    size_t count = 2 * n + m * d + m + 2 * B * m + B;
    return ntk_size_mul(count, sizeof(double), 1, 1);
}

ntk_status ntk_trainer_create(ntk_net *net, const double *X, const double *y, size_t n,
                              ntk_gd_config gd, ntk_trainer **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    *out = NULL;
    if (!net) return ntk_set_error(NTK_ERR_ARG, "network is NULL");
    NTK_TRY(check_net_args(&net->cfg, net->W, net->v, X, n));
    if (!y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    NTK_TRY(ntk_check_finite(y, n, "targets y"));
    if (!(gd.lr1 >= 0) || !(gd.lr2 >= 0) || !isfinite(gd.lr1) || !isfinite(gd.lr2))
        return ntk_set_error(NTK_ERR_ARG,
                             "learning rates must be finite and non-negative (lr1 = %g, lr2 = %g)",
                             gd.lr1, gd.lr2);
    if ((int)gd.loss < 0 || gd.loss > NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "unknown loss form");
    size_t m = net->cfg.m, d = net->cfg.d;
    NTK_TRY(ntk_mem_check(ntk_trainer_mem_bytes(n, d, m), 0, "gradient descent"));
    ntk_trainer *tr = ntk_calloc(1, sizeof *tr, "trainer");
    if (!tr) return NTK_ERR_NOMEM;
    tr->net = net;
    tr->X = X;
    tr->y = y;
    tr->n = n;
    tr->gd = gd;
    tr->f = ntk_alloc(2 * n + m * d + m, sizeof(double), "trainer buffers");
    if (!tr->f || scratch_init(&tr->s, n, m) != NTK_OK) {
        free(tr->f);
        free(tr);
        return NTK_ERR_NOMEM;
    }
    tr->gW = tr->f + n;
    tr->gv = tr->gW + m * d;
    if (net->cfg.centered) {
        tr->f0 = tr->gv + m;
        ntk_forward(&net->cfg, net->W0, net->v0, X, n, tr->f0);
    }
    /* a loss that is not finite before any step is not a divergence but an
     * overflow of the outputs: say so now, with its cause */
    double L = loss_grad_ws(&net->cfg, net->W, net->v, X, y, n, gd.loss, tr->f0, &tr->s, tr->f,
                            NULL, NULL);
    if (!isfinite(L)) {
        double qmax = 0.0, s_in = ntk_net_config_s(&net->cfg);
        for (size_t i = 0; i < n; i++) qmax = fmax(qmax, ntk_nrm2(d, X + i * d) / s_in);
        ntk_trainer_free(tr);
        return ntk_set_error(NTK_ERR_NONFINITE,
                             "the loss at the starting weights is %s: the network's outputs "
                             "overflow (alpha = %g, largest ||x||/s = %g); reduce alpha or "
                             "rescale the inputs",
                             isnan(L) ? "NaN" : "infinite", net->cfg.alpha, qmax);
    }
    *out = tr;
    return NTK_OK;
}

void ntk_trainer_free(ntk_trainer *tr)
{
    if (!tr) return;
    scratch_free(&tr->s);
    free(tr->f);
    free(tr);
}

ntk_status ntk_trainer_eval(ntk_trainer *tr)
{
    ntk_clear_error();
    const ntk_net_config *cfg = &tr->net->cfg;
    size_t m = cfg->m, d = cfg->d;
    double *gW = tr->gd.lr1 > 0 ? tr->gW : NULL;
    double *gv = tr->gd.lr2 > 0 ? tr->gv : NULL;
    tr->loss = loss_grad_ws(cfg, tr->net->W, tr->net->v, tr->X, tr->y, tr->n, tr->gd.loss,
                            tr->f0, &tr->s, tr->f, gW, gv);
    double g2 = 0.0;
    if (gW) {
        double a = ntk_nrm2(m * d, gW);
        g2 += a * a;
    }
    if (gv) {
        double b = ntk_nrm2(m, gv);
        g2 += b * b;
    }
    tr->grad_norm = sqrt(g2);
    tr->evaluated = 1;
    if (!isfinite(tr->loss) || !isfinite(tr->grad_norm))
        return ntk_set_error(NTK_ERR_DIVERGED,
                             "training diverged: the %s is %s; use a smaller learning rate",
                             isfinite(tr->loss) ? "gradient" : "loss",
                             isnan(isfinite(tr->loss) ? tr->grad_norm : tr->loss) ? "NaN" : "Inf");
    return NTK_OK;
}

ntk_status ntk_trainer_apply(ntk_trainer *tr)
{
    ntk_clear_error();
    if (!tr->evaluated)
        return ntk_set_error(NTK_ERR_ARG, "ntk_trainer_apply needs a prior ntk_trainer_eval");
    size_t m = tr->net->cfg.m, d = tr->net->cfg.d;
    /* W ← W − η1 ∇_W L,  v ← v − η2 ∇_v L */
    if (tr->gd.lr1 > 0) ntk_axpy(m * d, -tr->gd.lr1, tr->gW, tr->net->W);
    if (tr->gd.lr2 > 0) ntk_axpy(m, -tr->gd.lr2, tr->gv, tr->net->v);
    tr->evaluated = 0;
    return NTK_OK;
}

ntk_status ntk_trainer_step(ntk_trainer *tr)
{
    ntk_clear_error();
    NTK_TRY(ntk_trainer_eval(tr));
    return ntk_trainer_apply(tr);
}

double ntk_trainer_loss(const ntk_trainer *tr) { return tr->loss; }
double ntk_trainer_grad_norm(const ntk_trainer *tr) { return tr->grad_norm; }
const double *ntk_trainer_pred(const ntk_trainer *tr) { return tr->f; }
const double *ntk_trainer_gW(const ntk_trainer *tr) { return tr->gd.lr1 > 0 ? tr->gW : NULL; }
const double *ntk_trainer_gv(const ntk_trainer *tr) { return tr->gd.lr2 > 0 ? tr->gv : NULL; }
