/* One entry point for every kernel: a description (which kernel, which
 * layers, the network's settings) and the points. The kernels themselves are
 * in src/kernel_emp.c (empirical NTK, docs/theory.md §2), src/kernel_inf.c
 * (infinite width, §3) and src/constants.c (Hu et al.'s linear models, §4);
 * at depth (ntk_net_is_deep) in src/kernel_deep_emp.c and
 * src/kernel_deep_inf.c (docs/depth.md). */
#include "deep_internal.h"

#include <math.h>
#include <string.h>

ntk_kernel_desc ntk_kernel_desc_default(ntk_kernel_source source, const ntk_net_config *net)
{
    ntk_kernel_desc k;
    memset(&k, 0, sizeof k);
    k.source = source;
    k.net = net;
    k.c1 = 1.0;
    k.c2 = 1.0;
    return k;
}

const char *ntk_kernel_source_name(ntk_kernel_source s)
{
    switch (s) {
    case NTK_KERNEL_EMPIRICAL: return "empirical";
    case NTK_KERNEL_INFINITE: return "infinite-width";
    case NTK_KERNEL_LIN: return "linear-model";
    }
    return "unknown";
}

/* Hu et al.'s kernels: the constants (given, or for the trace factor given
 * or estimated from X1), on the inputs rescaled to x·√d/s. */
static ntk_status kernel_lin(const ntk_kernel_desc *k, const double *X1, size_t n1,
                             const double *X2, size_t n2, double *K)
{
    const ntk_net_config *net = k->net;
    size_t d = net->d;
    ntk_constants c;
    if (k->consts) {
        c = *k->consts;
    } else {
        double tf = k->trace_factor;
        if (tf <= 0) NTK_TRY(ntk_trace_factor(X1, n1, d, &tf));
        NTK_TRY(ntk_constants_compute(net->act, tf, k->quad_order, &c));
    }
    if (net->input_scale == NTK_SCALE_SQRT_D)
        return ntk_kernel_lin(&c, net->alpha, X1, n1, X2, n2, d, k->c1, k->c2, K);
    size_t rows = n1 + (X2 ? n2 : 0);
    double *Xr = ntk_alloc(ntk_size_mul(rows, d, 1, 1), sizeof(double), "rescaled inputs");
    if (!Xr) return NTK_ERR_NOMEM;
    ntk_lin_inputs(net, X1, n1, Xr);
    if (X2) ntk_lin_inputs(net, X2, n2, Xr + n1 * d);
    ntk_status st = ntk_kernel_lin(&c, net->alpha, Xr, n1, X2 ? Xr + n1 * d : NULL, n2, d, k->c1,
                                   k->c2, K);
    free(Xr);
    return st;
}

/* K_ii (n1): the empirical kernel in one pass over the points, the others
 * as 1 × 1 kernels of each point. */
static ntk_status kernel_diag(const ntk_kernel_desc *k, const double *X1, size_t n1, double *K)
{
    if (k->source == NTK_KERNEL_EMPIRICAL)
        return ntk_kernel_empirical_diag(k->net, k->W, k->v, X1, n1, k->c1, k->c2, K);
    ntk_kernel_desc one = *k;
    one.diagonal = 0;
    if (k->source == NTK_KERNEL_LIN && !k->consts && k->trace_factor <= 0)
        NTK_TRY(ntk_trace_factor(X1, n1, k->net->d, &one.trace_factor));
    for (size_t i = 0; i < n1; i++) NTK_TRY(ntk_kernel(&one, X1 + i * k->net->d, 1, NULL, 0, K + i));
    return NTK_OK;
}

/* The kernels of a deep network (L hidden layers, biases, σ_w, the standard
 * parameterisation): each handles k->diagonal itself. */
static ntk_status kernel_deep(const ntk_kernel_desc *k, const double *X1, size_t n1,
                              const double *X2, size_t n2, double *K)
{
    switch (k->source) {
    case NTK_KERNEL_EMPIRICAL: return kernel_deep_empirical(k, X1, n1, X2, n2, K);
    case NTK_KERNEL_INFINITE: return kernel_deep_infinite(k, X1, n1, X2, n2, K);
    case NTK_KERNEL_LIN:
        return ntk_set_error(NTK_ERR_ARG, "Hu et al.'s linear models are two-layer only; use "
                             "--depth 1 (and sigma_w = 1, sigma_b = 0, the ntk parameterisation)");
    }
    return ntk_set_error(NTK_ERR_ARG, "kernel: unknown source %d", (int)k->source);
}

ntk_status ntk_kernel(const ntk_kernel_desc *k, const double *X1, size_t n1, const double *X2,
                      size_t n2, double *K)
{
    ntk_clear_error();
    if (!k || !k->net) return ntk_set_error(NTK_ERR_ARG, "kernel: the description or its network settings are NULL");
    NTK_TRY(ntk_net_config_check(k->net));
    if (k->diagonal && X2)
        return ntk_set_error(NTK_ERR_ARG, "kernel: the diagonal is of a symmetric kernel; pass X2 = NULL");
    if (ntk_net_is_deep(k->net)) {
        int saved = ntk_threads_enter(k->threads);
        ntk_status st = kernel_deep(k, X1, n1, X2, n2, K);
        ntk_threads_leave(saved);
        return st;
    }
    if (k->source == NTK_KERNEL_EMPIRICAL && (!k->W || !k->v))
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel: the weights W and v are NULL");
    int saved = ntk_threads_enter(k->threads);
    ntk_status st;
    if (k->diagonal) {
        st = kernel_diag(k, X1, n1, K);
        ntk_threads_leave(saved);
        return st;
    }
    switch (k->source) {
    case NTK_KERNEL_EMPIRICAL:
        st = ntk_kernel_empirical(k->net, k->W, k->v, X1, n1, X2, n2, k->c1, k->c2,
                                      k->mem_limit, K);
        break;
    case NTK_KERNEL_INFINITE:
        st = (k->quadrature ? ntk_kernel_infinite_quad : ntk_kernel_infinite)(
            k->net, X1, n1, X2, n2, k->c1, k->c2, k->quad_order, K);
        break;
    case NTK_KERNEL_LIN:
        st = kernel_lin(k, X1, n1, X2, n2, K);
        break;
    default:
        st = ntk_set_error(NTK_ERR_ARG, "kernel: unknown source %d", (int)k->source);
    }
    ntk_threads_leave(saved);
    return st;
}
