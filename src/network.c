/* The network: the two-layer f(x) = α/√m · vᵀφ(Wx/s) (docs/theory.md §1)
 * and the deep one with L hidden layers and biases (docs/depth.md): its
 * configuration, the layout of its flat parameters θ, its initial weights
 * (the deep draw is ntk_init_theta in src/deep.c) and the object that holds
 * them. */
#include "network_internal.h"
#include "deep_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

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
    c.depth = 1;
    c.weight_std = 1.0;
    c.bias_std = 0.0;
    c.parameterization = NTK_PARAM_NTK;
    c.outputs = 1;
    return c;
}

/* ---------------------------------------------------------------------
 * Depth: widths, the layout of θ, the parameterisation's factors
 * (docs/depth.md)
 * ------------------------------------------------------------------- */

int ntk_net_is_deep(const ntk_net_config *cfg)
{
    return ntk_net_depth(cfg) != 1 || cfg->weight_std != 1.0 || cfg->bias_std != 0.0 ||
           cfg->parameterization != NTK_PARAM_NTK ||
           (cfg->widths[0] != 0 && cfg->widths[0] != cfg->m) || ntk_net_outputs(cfg) != 1;
}

size_t ntk_net_outputs(const ntk_net_config *cfg) { return cfg->outputs == 0 ? 1 : cfg->outputs; }

size_t ntk_net_depth(const ntk_net_config *cfg) { return cfg->depth == 0 ? 1 : cfg->depth; }

size_t ntk_net_width(const ntk_net_config *cfg, size_t l)
{
    size_t L = ntk_net_depth(cfg);
    if (l == 0) return cfg->d;
    if (l > L) return ntk_net_outputs(cfg);
    return cfg->widths[l - 1] ? cfg->widths[l - 1] : cfg->m;
}

size_t ntk_net_layer_offset(const ntk_net_config *cfg, size_t l, size_t *nW, size_t *nb)
{
    size_t off = 0, L = ntk_net_depth(cfg), has_b = cfg->bias_std > 0.0;
    for (size_t j = 1; j <= L + 1 && j <= l; j++) {
        size_t w = ntk_net_width(cfg, j) * ntk_net_width(cfg, j - 1), b = has_b ? ntk_net_width(cfg, j) : 0;
        if (j == l) {
            if (nW) *nW = w;
            if (nb) *nb = b;
            return off;
        }
        off += w + b;
    }
    if (nW) *nW = 0;
    if (nb) *nb = 0;
    return off;
}

size_t ntk_net_nparams(const ntk_net_config *cfg)
{
    return ntk_net_layer_offset(cfg, ntk_net_depth(cfg) + 2, NULL, NULL);
}

double ntk_net_weight_factor(const ntk_net_config *cfg, size_t l)
{
    if (cfg->parameterization == NTK_PARAM_STANDARD) return 1.0;
    double fan = l <= 1 ? ntk_net_config_s(cfg) : sqrt((double)ntk_net_width(cfg, l - 1));
    return cfg->weight_std / fan;
}

double ntk_net_bias_factor(const ntk_net_config *cfg)
{
    return cfg->parameterization == NTK_PARAM_STANDARD ? 1.0 : cfg->bias_std;
}

double ntk_gd_layer_rate(const ntk_gd_config *gd, const ntk_net_config *cfg, size_t l)
{
    size_t L = ntk_net_depth(cfg);
    if (gd->nlr) return l >= 1 && l <= gd->nlr && l <= NTK_MAX_DEPTH + 1 ? gd->lrs[l - 1] : 0.0;
    return l <= L ? gd->lr1 : gd->lr2;
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
    if (cfg->init == NTK_INIT_SYMMETRIC && cfg->m % 2 != 0 && !ntk_net_is_deep(cfg))
        return ntk_set_error(NTK_ERR_ARG,
                             "symmetric initialisation needs an even width, got m = %zu; "
                             "use m = %zu",
                             cfg->m, cfg->m + 1);
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return ntk_set_error(NTK_ERR_ARG, "output scale alpha must be positive and finite");
    if (cfg->depth > NTK_MAX_DEPTH)
        return ntk_set_error(NTK_ERR_ARG, "depth %zu is more than the %d hidden layers ntkit "
                             "supports; use --depth 1..%d", cfg->depth, NTK_MAX_DEPTH, NTK_MAX_DEPTH);
    if (!(cfg->weight_std > 0) || !isfinite(cfg->weight_std))
        return ntk_set_error(NTK_ERR_ARG, "weight standard deviation sigma_w = %g must be positive "
                             "and finite (the two-layer network has 1)", cfg->weight_std);
    if (!(cfg->bias_std >= 0) || !isfinite(cfg->bias_std))
        return ntk_set_error(NTK_ERR_ARG, "bias standard deviation sigma_b = %g must be finite and "
                             "at least 0 (0: no biases)", cfg->bias_std);
    if ((int)cfg->parameterization < 0 || cfg->parameterization > NTK_PARAM_STANDARD)
        return ntk_set_error(NTK_ERR_ARG, "unknown parameterisation; choose ntk|standard");
    for (size_t l = ntk_net_depth(cfg); l < NTK_MAX_DEPTH; l++)
        if (cfg->widths[l] != 0)
            return ntk_set_error(NTK_ERR_ARG, "%zu hidden widths given for depth %zu; give one "
                                 "width per hidden layer", l + 1, ntk_net_depth(cfg));
    if (ntk_net_is_deep(cfg)) {
        size_t lim = ntk_blas_int_max(), L = ntk_net_depth(cfg);
        double P = 0.0;
        for (size_t l = 1; l <= L + 1; l++) {
            size_t a = ntk_net_width(cfg, l), b = ntk_net_width(cfg, l - 1);
            if (a > lim || ntk_size_mul(a, b, 1, 1) > lim)
                return ntk_set_error(NTK_ERR_ARG, "layer %zu has %zu x %zu weights, more than the "
                                     "%zu the linked BLAS can index; reduce the widths", l, a, b, lim);
            P += (double)a * (double)b + (cfg->bias_std > 0 ? (double)a : 0.0);
        }
        if (P > (double)lim)
            return ntk_set_error(NTK_ERR_ARG, "the network has %.4g parameters, more than the %zu "
                                 "the linked BLAS can index as one vector; reduce the widths", P, lim);
        if (cfg->init == NTK_INIT_SYMMETRIC && ntk_net_width(cfg, L) % 2 != 0)
            return ntk_set_error(NTK_ERR_ARG, "symmetric initialisation needs an even last hidden "
                                 "width, got %zu", ntk_net_width(cfg, L));
        return NTK_OK;
    }
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
static const char *const param_names[] = {"ntk", "standard"};

ntk_status ntk_param_parse(const char *name, ntk_param_kind *out)
{
    ntk_clear_error();
    int k;
    NTK_TRY(parse_enum(name, param_names, 2, "parameterization", &k));
    *out = (ntk_param_kind)k;
    return NTK_OK;
}
const char *ntk_param_name(ntk_param_kind p) { return p <= NTK_PARAM_STANDARD ? param_names[p] : "?"; }

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
 * The network object: one allocation of θ and θ0 (network_internal.h).
 * ------------------------------------------------------------------- */

static ntk_status net_alloc(const ntk_net_config *cfg, ntk_net **out)
{
    NTK_TRY(ntk_net_config_check(cfg));
    size_t P = ntk_net_nparams(cfg);
    NTK_TRY(ntk_mem_check(ntk_size_mul(2, P, sizeof(double), 1), 0, "the network's weights"));
    ntk_net *net = ntk_calloc(1, sizeof *net, "network");
    if (!net) return NTK_ERR_NOMEM;
    double *p = ntk_alloc(2 * P, sizeof(double), "network weights");
    if (!p) {
        free(net);
        return NTK_ERR_NOMEM;
    }
    net->cfg = *cfg;
    net->P = P;
    net->theta = p;
    net->theta0 = p + P;
    net->W = net->theta;
    net->W0 = net->theta0;
    if (!ntk_net_is_deep(cfg)) {
        size_t md = cfg->m * cfg->d;
        net->v = net->theta + md;
        net->v0 = net->theta0 + md;
    }
    *out = net;
    return NTK_OK;
}

/* the error of a two-layer-only function called on a deep network */
static ntk_status two_layer_only(const ntk_net_config *cfg, const char *fn, const char *use)
{
    return ntk_set_error(NTK_ERR_ARG,
                         "%s takes the two-layer weights (W, v), but this network has depth %zu, "
                         "sigma_w = %g, sigma_b = %g, %s parameterisation; use %s on the flat "
                         "parameters theta",
                         fn, ntk_net_depth(cfg), cfg->weight_std, cfg->bias_std,
                         ntk_param_name(cfg->parameterization), use);
}

ntk_status ntk_net_create(const ntk_net_config *cfg, ntk_net **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "output pointer is NULL");
    *out = NULL;
    ntk_net *net;
    NTK_TRY(net_alloc(cfg, &net));
    if (ntk_net_is_deep(cfg))
        ntk_init_theta(cfg, net->theta0);
    else
        ntk_init_weights(cfg, net->W0, net->v0);
    memcpy(net->theta, net->theta0, net->P * sizeof(double));
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
    if (ntk_net_is_deep(cfg)) return two_layer_only(cfg, "ntk_net_create_from", "ntk_net_create_from_theta");
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

ntk_status ntk_net_create_from_theta(const ntk_net_config *cfg, const double *theta0,
                                     ntk_net **out)
{
    ntk_clear_error();
    if (!out || !theta0) return ntk_set_error(NTK_ERR_ARG, "parameters or output pointer is NULL");
    *out = NULL;
    NTK_TRY(ntk_net_config_check(cfg));
    NTK_TRY(ntk_check_finite(theta0, ntk_net_nparams(cfg), "initial parameters theta0"));
    ntk_net *net;
    NTK_TRY(net_alloc(cfg, &net));
    memcpy(net->theta0, theta0, net->P * sizeof(double));
    memcpy(net->theta, theta0, net->P * sizeof(double));
    *out = net;
    return NTK_OK;
}

void ntk_net_free(ntk_net *net)
{
    if (!net) return;
    free(net->theta);
    free(net);
}

const ntk_net_config *ntk_net_cfg(const ntk_net *net) { return &net->cfg; }
const double *ntk_net_W(const ntk_net *net) { return net->W; }
const double *ntk_net_v(const ntk_net *net) { return net->v; }
const double *ntk_net_W0(const ntk_net *net) { return net->W0; }
const double *ntk_net_v0(const ntk_net *net) { return net->v0; }
const double *ntk_net_theta(const ntk_net *net) { return net->theta; }
const double *ntk_net_theta0(const ntk_net *net) { return net->theta0; }

ntk_status ntk_net_set_weights(ntk_net *net, const double *W, const double *v)
{
    ntk_clear_error();
    if (!net || !W || !v) return ntk_set_error(NTK_ERR_ARG, "weights pointer is NULL");
    if (ntk_net_is_deep(&net->cfg)) return two_layer_only(&net->cfg, "ntk_net_set_weights", "ntk_net_set_theta");
    NTK_TRY(ntk_check_finite(W, net->cfg.m * net->cfg.d, "first-layer weights W"));
    NTK_TRY(ntk_check_finite(v, net->cfg.m, "second-layer weights v"));
    memcpy(net->W, W, net->cfg.m * net->cfg.d * sizeof(double));
    memcpy(net->v, v, net->cfg.m * sizeof(double));
    return NTK_OK;
}

ntk_status ntk_net_set_theta(ntk_net *net, const double *theta)
{
    ntk_clear_error();
    if (!net || !theta) return ntk_set_error(NTK_ERR_ARG, "parameters pointer is NULL");
    NTK_TRY(ntk_check_finite(theta, net->P, "network parameters theta"));
    memcpy(net->theta, theta, net->P * sizeof(double));
    return NTK_OK;
}

double net_layer_dist2(const ntk_net *net, double *lay2)
{
    const ntk_net_config *cfg = &net->cfg;
    size_t L = ntk_net_depth(cfg);
    double maxrow2 = 0.0;
    for (size_t l = 1; l <= L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
        size_t mo = ntk_net_width(cfg, l), mi = ntk_net_width(cfg, l - 1);
        lay2[l - 1] = 0.0;
        for (size_t j = 0; j < mo; j++) {
            double row2 = 0.0;
            for (size_t k = 0; k < mi; k++) {
                double e = net->theta[off + j * mi + k] - net->theta0[off + j * mi + k];
                row2 += e * e;
            }
            lay2[l - 1] += row2;
            if (l <= L && row2 > maxrow2) maxrow2 = row2;
        }
        for (size_t k = 0; k < nb; k++) {
            double e = net->theta[off + nW + k] - net->theta0[off + nW + k];
            lay2[l - 1] += e * e;
        }
    }
    return maxrow2;
}

/* At depth: w_fro over the hidden layers (W_l and b_l, l ≤ L), v_norm over
 * the output layer, w_max_row the largest move of a hidden unit's incoming
 * weights, theta = ‖θ − θ0‖. */
static void weight_dist_deep(const ntk_net *net, ntk_weight_dist *out)
{
    size_t L = ntk_net_depth(&net->cfg);
    double lay2[NTK_MAX_DEPTH + 1], hid2 = 0.0;
    double maxrow2 = net_layer_dist2(net, lay2);
    for (size_t l = 1; l <= L; l++) hid2 += lay2[l - 1];
    out->w_fro = sqrt(hid2);
    out->w_max_row = sqrt(maxrow2);
    out->v_norm = sqrt(lay2[L]);
    out->theta = sqrt(hid2 + lay2[L]);
}

void ntk_net_weight_dist(const ntk_net *net, ntk_weight_dist *out)
{
    if (ntk_net_is_deep(&net->cfg)) {
        weight_dist_deep(net, out);
        return;
    }
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


double kernel_layer_weight(const ntk_kernel_desc *k, size_t l)
{
    if (k->layer_weights) return k->layer_weights[l - 1];
    return l <= ntk_net_depth(k->net) ? k->c1 : k->c2;
}
