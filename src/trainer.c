/* Full-batch gradient descent on the network, one rate per layer
 * (docs/theory.md §1.7): the two-layer code for the two-layer network, the
 * passes of src/deep.c on θ at depth (docs/depth.md). */
#include "network_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct ntk_trainer {
    ntk_net *net;
    const double *X, *y;
    size_t n;
    ntk_gd_config gd;
    scratch s;
    double *f;       /* (n) predictions at the last evaluation */
    double *f0;      /* (n) f(X; θ0) for the centred model, else NULL */
    double *gW, *gv; /* (m,d), (m): together ∇_θ L of the two-layer network */
    double loss, grad_norm;
    int evaluated;
    /* at depth */
    int deep;
    deep_ws dw;
    double *g;                        /* (P) ∇_θ L, 0 on frozen layers */
    double rate[NTK_MAX_DEPTH + 1];   /* η_l */
    int train[NTK_MAX_DEPTH + 1];     /* η_l > 0 */
    /* data-parallel: the sum over processes (ntk_trainer_set_reduce) */
    ntk_reduce_fn reduce;
    void *reduce_ctx;
    size_t n_total;
};

size_t ntk_trainer_mem_bytes(size_t n, size_t d, size_t m)
{
    size_t B = net_block_rows(n, m);
    size_t count = 2 * n + m * d + m + 1 + 2 * B * m + B;
    return ntk_size_mul(count, sizeof(double), 1, 1);
}

size_t ntk_trainer_mem_bytes_cfg(const ntk_net_config *cfg, size_t n)
{
    if (!ntk_net_is_deep(cfg)) return ntk_trainer_mem_bytes(n, cfg->d, cfg->m);
    size_t nk = ntk_size_mul(n, ntk_net_outputs(cfg), 1, 1);
    size_t a = nk > SIZE_MAX / 4 ? SIZE_MAX : ntk_size_mul(2 * nk + ntk_net_nparams(cfg) + 1, sizeof(double), 1, 1);
    size_t b = deep_ws_bytes(cfg, n);
    return a == SIZE_MAX || b == SIZE_MAX || a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The rates of gd for cfg (the nlr rule of ntk_gd_config), checked. */
static ntk_status layer_rates(const ntk_gd_config *gd, const ntk_net_config *cfg, double *rate)
{
    size_t L = ntk_net_depth(cfg);
    if (gd->nlr != 0 && gd->nlr != L + 1)
        return ntk_set_error(NTK_ERR_ARG,
                             "%zu per-layer learning rates given for a network of %zu layers; give "
                             "one rate per layer (%zu) or none",
                             gd->nlr, L + 1, L + 1);
    for (size_t l = 1; l <= L + 1; l++) {
        rate[l - 1] = ntk_gd_layer_rate(gd, cfg, l);
        if (!(rate[l - 1] >= 0) || !isfinite(rate[l - 1]))
            return ntk_set_error(NTK_ERR_ARG,
                                 "the learning rate of layer %zu is %g; learning rates must be "
                                 "finite and non-negative (0 freezes the layer)",
                                 l, rate[l - 1]);
    }
    return NTK_OK;
}

/* the loss at the starting weights is not finite: the outputs overflow */
static ntk_status overflow_error(const ntk_net_config *cfg, const double *X, size_t n, double L)
{
    double qmax = 0.0, s_in = ntk_net_config_s(cfg);
    for (size_t i = 0; i < n; i++) qmax = fmax(qmax, ntk_nrm2(cfg->d, X + i * cfg->d) / s_in);
    return ntk_set_error(NTK_ERR_NONFINITE,
                         "the loss at the starting weights is %s: the network's outputs "
                         "overflow (alpha = %g, largest ||x||/s = %g); reduce alpha or "
                         "rescale the inputs",
                         isnan(L) ? "NaN" : "infinite", cfg->alpha, qmax);
}

static ntk_status trainer_create_deep(ntk_net *net, const double *X, const double *y, size_t n,
                                      ntk_gd_config gd, ntk_trainer **out)
{
    const ntk_net_config *cfg = &net->cfg;
    NTK_TRY(ntk_net_config_check(cfg));
    if (!X) return ntk_set_error(NTK_ERR_ARG, "inputs pointer is NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "no input points (n = 0)");
    NTK_TRY(ntk_check_finite(X, ntk_size_mul(n, cfg->d, 1, 1), "inputs X"));
    if (!y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    size_t nk = ntk_size_mul(n, ntk_net_outputs(cfg), 1, 1);
    NTK_TRY(ntk_check_finite(y, nk, "targets y"));
    double rate[NTK_MAX_DEPTH + 1];
    NTK_TRY(layer_rates(&gd, cfg, rate));
    if ((int)gd.loss < 0 || gd.loss > NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "unknown loss form");
    NTK_TRY(ntk_mem_check(ntk_trainer_mem_bytes_cfg(cfg, n), 0, "gradient descent"));
    ntk_trainer *tr = ntk_calloc(1, sizeof *tr, "trainer");
    if (!tr) return NTK_ERR_NOMEM;
    size_t L = ntk_net_depth(cfg), P = net->P;
    tr->net = net;
    tr->X = X;
    tr->y = y;
    tr->n = n;
    tr->gd = gd;
    tr->deep = 1;
    for (size_t l = 0; l <= L; l++) tr->rate[l] = rate[l], tr->train[l] = rate[l] > 0;
    tr->f = ntk_calloc(2 * nk + P + 1, sizeof(double), "trainer buffers");
    if (!tr->f || deep_ws_init(&tr->dw, cfg, n) != NTK_OK) {
        free(tr->f);
        free(tr);
        return NTK_ERR_NOMEM;
    }
    tr->g = tr->f + nk;
    if (cfg->centered) {
        tr->f0 = tr->g + P + 1;
        ntk_status st = ntk_forward_theta(cfg, net->theta0, X, n, tr->f0);
        if (st != NTK_OK) {
            ntk_trainer_free(tr);
            return st;
        }
    }
    double Lo = deep_loss_grad_ws(cfg, net->theta, X, y, n, gd.loss, tr->f0, &tr->dw, tr->f, NULL,
                                  NULL);
    if (!isfinite(Lo)) {
        ntk_trainer_free(tr);
        return overflow_error(cfg, X, n, Lo);
    }
    *out = tr;
    return NTK_OK;
}

ntk_status ntk_trainer_create(ntk_net *net, const double *X, const double *y, size_t n,
                              ntk_gd_config gd, ntk_trainer **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    *out = NULL;
    if (!net) return ntk_set_error(NTK_ERR_ARG, "network is NULL");
    if (ntk_net_is_deep(&net->cfg)) return trainer_create_deep(net, X, y, n, gd, out);
    NTK_TRY(net_check_args(&net->cfg, net->W, net->v, X, n));
    if (!y) return ntk_set_error(NTK_ERR_ARG, "targets pointer is NULL");
    NTK_TRY(ntk_check_finite(y, n, "targets y"));
    if (!(gd.lr1 >= 0) || !(gd.lr2 >= 0) || !isfinite(gd.lr1) || !isfinite(gd.lr2))
        return ntk_set_error(NTK_ERR_ARG,
                             "learning rates must be finite and non-negative (lr1 = %g, lr2 = %g)",
                             gd.lr1, gd.lr2);
    if (gd.nlr) {
        /* per-layer rates for the two-layer network: the same as lr1, lr2 */
        double rate[2];
        NTK_TRY(layer_rates(&gd, &net->cfg, rate));
        gd.lr1 = rate[0], gd.lr2 = rate[1];
    }
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
    tr->f = ntk_alloc(2 * n + m * d + m + 1, sizeof(double), "trainer buffers");
    if (!tr->f || net_scratch_init(&tr->s, n, m) != NTK_OK) {
        free(tr->f);
        free(tr);
        return NTK_ERR_NOMEM;
    }
    tr->gW = tr->f + n;
    tr->gv = tr->gW + m * d;
    /* a frozen layer's gradient is never written: ntk_trainer_grad reads 0 */
    memset(tr->gW, 0, (m * d + m) * sizeof(double));
    if (net->cfg.centered) {
        tr->f0 = tr->gv + m + 1;
        ntk_forward(&net->cfg, net->W0, net->v0, X, n, tr->f0);
    }
    /* a loss that is not finite before any step is not a divergence but an
     * overflow of the outputs: say so now, with its cause */
    double L = net_loss_grad_ws(&net->cfg, net->W, net->v, X, y, n, gd.loss, tr->f0, &tr->s, tr->f,
                            NULL, NULL);
    if (!isfinite(L)) {
        ntk_trainer_free(tr);
        return overflow_error(&net->cfg, X, n, L);
    }
    *out = tr;
    return NTK_OK;
}

void ntk_trainer_free(ntk_trainer *tr)
{
    if (!tr) return;
    if (tr->deep)
        deep_ws_free(&tr->dw);
    else
        net_scratch_free(&tr->s);
    free(tr->f);
    free(tr);
}

ntk_status ntk_trainer_set_reduce(ntk_trainer *tr, ntk_reduce_fn reduce, void *ctx,
                                  size_t n_total)
{
    ntk_clear_error();
    if (!tr) return ntk_set_error(NTK_ERR_ARG, "trainer is NULL");
    if (reduce && n_total < tr->n)
        return ntk_set_error(NTK_ERR_ARG,
                             "the data set has %zu rows in all but this process holds %zu; give "
                             "the total over all processes",
                             n_total, tr->n);
    tr->reduce = reduce;
    tr->reduce_ctx = ctx;
    tr->n_total = n_total;
    tr->evaluated = 0;
    return NTK_OK;
}

/* The loss and the gradient g (count values) summed over the processes of
 * a data-parallel trainer in one call, the local ones first weighted by
 * their share of the rows under the mean loss: the loss travels in g[count],
 * a slot the trainer's buffers keep after the gradient. */
static ntk_status trainer_reduce(ntk_trainer *tr, double *g, size_t count)
{
    if (tr->gd.loss == NTK_LOSS_MEAN) {
        double w = (double)tr->n / (double)tr->n_total;
        tr->loss *= w;
        ntk_scal(count, w, g);
    }
    g[count] = tr->loss;
    NTK_TRY(tr->reduce(tr->reduce_ctx, g, count + 1));
    tr->loss = g[count];
    return NTK_OK;
}

ntk_status ntk_trainer_eval(ntk_trainer *tr)
{
    ntk_clear_error();
    const ntk_net_config *cfg = &tr->net->cfg;
    if (tr->deep) {
        /* frozen layers hold 0, so the norm of g is the norm over trained layers */
        tr->loss = deep_loss_grad_ws(cfg, tr->net->theta, tr->X, tr->y, tr->n, tr->gd.loss, tr->f0,
                                     &tr->dw, tr->f, tr->g, tr->train);
        if (tr->reduce) NTK_TRY(trainer_reduce(tr, tr->g, tr->net->P));
        tr->grad_norm = ntk_nrm2(tr->net->P, tr->g);
    } else {
        size_t m = cfg->m, d = cfg->d;
        double *gW = tr->gd.lr1 > 0 ? tr->gW : NULL;
        double *gv = tr->gd.lr2 > 0 ? tr->gv : NULL;
        tr->loss = net_loss_grad_ws(cfg, tr->net->W, tr->net->v, tr->X, tr->y, tr->n, tr->gd.loss,
                                    tr->f0, &tr->s, tr->f, gW, gv);
        /* [gW, gv] is contiguous; a frozen layer's part stays 0 */
        if (tr->reduce) NTK_TRY(trainer_reduce(tr, tr->gW, m * d + m));
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
    }
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
    if (tr->deep) {
        /* θ_l ← θ_l − η_l ∇_{θ_l} L on each trained layer (W_l and b_l) */
        const ntk_net_config *cfg = &tr->net->cfg;
        for (size_t l = 1; l <= ntk_net_depth(cfg) + 1; l++) {
            if (!tr->train[l - 1]) continue;
            size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
            ntk_axpy(nW + nb, -tr->rate[l - 1], tr->g + off, tr->net->theta + off);
        }
        tr->evaluated = 0;
        return NTK_OK;
    }
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
const double *ntk_trainer_gW(const ntk_trainer *tr)
{
    return !tr->deep && tr->gd.lr1 > 0 ? tr->gW : NULL;
}
const double *ntk_trainer_gv(const ntk_trainer *tr)
{
    return !tr->deep && tr->gd.lr2 > 0 ? tr->gv : NULL;
}
/* two-layer: gW and gv are adjacent, [gW, gv] is ∇_θ L */
const double *ntk_trainer_grad(const ntk_trainer *tr) { return tr->deep ? tr->g : tr->gW; }

