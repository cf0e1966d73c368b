/* Full-batch gradient descent on the network, one rate per layer
 * (docs/theory.md §1.7). */
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
    double *gW, *gv; /* (m,d), (m) */
    double loss, grad_norm;
    int evaluated;
};

size_t ntk_trainer_mem_bytes(size_t n, size_t d, size_t m)
{
    size_t B = net_block_rows(n, m);
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
    NTK_TRY(net_check_args(&net->cfg, net->W, net->v, X, n));
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
    if (!tr->f || net_scratch_init(&tr->s, n, m) != NTK_OK) {
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
    double L = net_loss_grad_ws(&net->cfg, net->W, net->v, X, y, n, gd.loss, tr->f0, &tr->s, tr->f,
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
    net_scratch_free(&tr->s);
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
    tr->loss = net_loss_grad_ws(cfg, tr->net->W, tr->net->v, tr->X, tr->y, tr->n, tr->gd.loss,
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

